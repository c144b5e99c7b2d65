/* catalog — snapshot trees. A directory is one node: a tree blob holding its
 * entries sorted by name (bytewise), each file entry carrying its chunks'
 * locations (pack, offset, length) so that readers need no index. Nodes are
 * content-addressed and written bottom-up; an unchanged subtree encodes to the
 * same bytes, so its blob is reused. Knows nothing of FUSE.
 * The byte layout is in docs/FORMAT.md ("Tree node"). */
#ifndef IMDR_CATALOG_H
#define IMDR_CATALOG_H

#include <stddef.h>
#include <stdint.h>

#include "repo/repo.h"

enum cat_type { CAT_FILE = 1, CAT_DIR = 2, CAT_SYMLINK = 3 };

struct cat_entry {
	const char *name;	/* NUL-terminated; owned by the node */
	uint32_t name_len;
	uint8_t type;		/* enum cat_type */
	uint32_t mode;		/* permission bits (07777) */
	int64_t mtime_ns;
	uint64_t size;		/* file: bytes; symlink: target length; dir: 0 */
	const char *target;	/* symlink target, owned by the node */
	uint32_t nchunks;	/* file: number of chunks */
	uint32_t first_chunk;	/* file: index of its first chunk in the node */
	uint32_t nsubdirs;	/* dir: child directories (for nlink) */
	uint32_t nentries;	/* dir: child entries */
	struct blob_ref subtree;	/* dir: its node */
};

struct cat_node;

/* cat_node_decode: parse an encoded node (copied; data may be freed). */
int cat_node_decode(const uint8_t *data, size_t n, struct cat_node **ret);
/* cat_node_load: read the tree blob at ref (through the repository's blob
 * reader) and decode it. */
int cat_node_load(struct repo *r, const struct blob_ref *ref,
    struct cat_node **ret);
void cat_node_free(struct cat_node *node);
/* cat_node_mem: bytes held by the node, for cache accounting. */
size_t cat_node_mem(const struct cat_node *node);

uint32_t cat_node_count(const struct cat_node *node);
const struct cat_entry *cat_node_entry(const struct cat_node *node, uint32_t i);
/* cat_node_find: binary search by exact name; NULL if absent. */
const struct cat_entry *cat_node_find(const struct cat_node *node,
    const char *name, size_t name_len);

/* cat_chunk: the i-th chunk (0 <= i < e->nchunks) of file entry e, with the
 * offset in the file where it starts. */
void cat_chunk(const struct cat_node *node, const struct cat_entry *e,
    uint32_t i, struct blob_ref *ret_ref, uint64_t *ret_file_offset);
/* cat_content_id: a file entry's content identity, the SHA-256 of its
 * chunk ids in order (e NULL: of nothing): equal ids, equal bytes. The
 * message index stores it per conversation (`mj`) to carry a conversation
 * over unread. */
void cat_content_id(const struct cat_node *node, const struct cat_entry *e, uint8_t out[32]);

/* cat_chunk_at: the chunk of file entry e that holds byte offset off
 * (off < e->size), by binary search. Returns the chunk index. */
uint32_t cat_chunk_at(const struct cat_node *node, const struct cat_entry *e,
    uint64_t off, struct blob_ref *ret_ref, uint64_t *ret_chunk_start);

/* cat_resolve: walk path ("a/b/c", "" for the root) from root. On success
 * *ret_node is the node holding the entry (caller frees) and *ret_entry
 * points into it; for "" both are NULL and IMDR_OK is returned.
 * IMDR_ENOENT (with a message naming the path) when absent. */
int cat_resolve(struct repo *r, const struct blob_ref *root, const char *path,
    struct cat_node **ret_node, const struct cat_entry **ret_entry);

/* cat_walk: depth-first, pre-order, entries by name, below dir_ref; path is
 * the entry's full path (prefix + "/" + name). fn returns non-zero to stop
 * (returned by cat_walk); CAT_WALK_SKIP from a directory skips its contents. */
#define CAT_WALK_SKIP (-1)
typedef int (*cat_walk_fn)(void *ctx, const char *path,
    const struct cat_node *node, const struct cat_entry *e);
int cat_walk(struct repo *r, const struct blob_ref *dir_ref,
    const char *prefix, cat_walk_fn fn, void *ctx);

/* ---- diff ---- */

enum cat_diff_kind { CAT_DIFF_ADDED = 1, CAT_DIFF_REMOVED, CAT_DIFF_CHANGED };

/* what changed about an entry on both sides (CAT_DIFF_CHANGED) */
enum {
	CAT_CHANGED_CONTENT = 1,	/* a file's bytes, a symlink's target */
	CAT_CHANGED_MODE = 2,
	CAT_CHANGED_MTIME = 4,
};

struct cat_diff_entry {
	enum cat_diff_kind kind;
	const char *path;
	const struct cat_entry *a, *b;	/* NULL on the side without it */
	const struct cat_node *na, *nb;	/* the nodes holding a and b */
	unsigned what;			/* CHANGED: CAT_CHANGED_* bits */
};

/* return non-zero to stop (returned by cat_diff) */
typedef int (*cat_diff_fn)(void *ctx, const struct cat_diff_entry *d);

struct cat_diff_stats {
	uint64_t nodes_loaded;		/* tree nodes read */
	uint64_t subtrees_skipped;	/* folders equal on both sides, not read */
};

/* cat_diff: walk the trees at a and b together, in path order. A folder
 * whose node id is the same on both sides is skipped unread, so the cost
 * follows what changed. Added and removed folders are reported, then each
 * entry below them; an entry whose type changed is removed, then added.
 * Folders are reported as changed only for their mode (their mtime
 * follows their contents). *st (may be NULL) gets counts. */
int cat_diff(struct repo *r, const struct blob_ref *a, const struct blob_ref *b,
    cat_diff_fn fn, void *ctx, struct cat_diff_stats *st);

/* ---- building (backup) ---- */

struct cat_builder;
struct cat_file;

struct cat_builder *cat_builder_new(void);
void cat_builder_free(struct cat_builder *b);

/* Paths are relative, '/'-separated, without "." or ".." parts. Parents not
 * added explicitly are created as directories (0755, mtime 0). Adding a path
 * twice, or below a file, is IMDR_EEXIST (a clash of names, not a bad path). */
int cat_builder_add_dir(struct cat_builder *b, const char *path, uint32_t mode,
    int64_t mtime_ns);
int cat_builder_add_symlink(struct cat_builder *b, const char *path,
    const char *target, uint32_t mode, int64_t mtime_ns);
/* cat_builder_add_file: size may be corrected later with cat_file_set_size. */
int cat_builder_add_file(struct cat_builder *b, const char *path, uint32_t mode,
    int64_t mtime_ns, uint64_t size, struct cat_file **ret_file);
void cat_file_set_size(struct cat_file *f, uint64_t size);
/* cat_file_drop: leave a file added earlier out of the tree after all (its
 * bytes could not be read); its slots stay valid. */
void cat_file_drop(struct cat_file *f);
/* cat_file_add_chunk: append a chunk of raw_length bytes; returns a 32-byte
 * slot for its blob id that stays valid until cat_builder_free (another
 * thread may fill it later). */
uint8_t *cat_file_add_chunk(struct cat_file *f, uint32_t raw_length);

/* Callbacks for finishing: resolve a data blob id to its location; store a
 * tree blob and return its location. */
typedef int (*cat_resolve_fn)(void *ctx, const uint8_t id[CRYPTO_ID_LEN],
    struct blob_ref *ret_ref);
typedef int (*cat_store_fn)(void *ctx, const void *data, size_t n,
    struct blob_ref *ret_ref);

struct cat_build_stats {
	uint64_t files, dirs, symlinks, bytes, nodes;
};

/* cat_builder_finish: encode every directory bottom-up and store it;
 * *ret_root gets the root node's location. */
int cat_builder_finish(struct cat_builder *b, cat_resolve_fn resolve,
    cat_store_fn store, void *ctx, struct blob_ref *ret_root,
    struct cat_build_stats *ret_stats);

/* cat_encode_node: encoding used by finish, exposed for tests: entries must be
 * sorted by name; chunk refs for files are in chunks[], in entry order. */
void cat_encode_node(const struct cat_entry *entries, uint32_t n,
    const struct blob_ref *chunks, struct buf *out);

#endif
