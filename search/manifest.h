/* manifest — a snapshot's message index as a tree (docs/FORMAT.md,
 * "Message index"): which conversations the snapshot holds, which
 * segments hold their messages, and which rows of each segment are not
 * live in this snapshot. Private to search/. */
#ifndef IMDR_SEARCH_MANIFEST_H
#define IMDR_SEARCH_MANIFEST_H

#include <stddef.h>
#include <stdint.h>

#include "repo/repo.h"
#include "repo/store.h"

struct sx_conv {
	char *key;		/* stable: meta.json's id, else the folder */
	char *folder;		/* "<slug>--<id>" in this snapshot */
	uint8_t mj[32];		/* SHA-256 of its messages.jsonl's chunk ids */
	uint64_t messages;
};

struct sx_seg {
	struct blob_ref *pieces;
	size_t npieces;
	uint64_t size;		/* of the database */
	uint64_t rows;
	int64_t *dead;		/* rowids not live here, ascending */
	size_t ndead;
	uint8_t ident[32];	/* SHA-256 of its pieces' ids: the same segment
				 * in several snapshots has the same ident */
	int shared;		/* pieces belong to an sx_cache */
};

struct sx_manifest {
	struct sx_conv *conv;	/* sorted by folder */
	size_t nconv;
	struct sx_seg *seg;	/* oldest first */
	size_t nseg;
};

/* sx_cache: the segments' piece lists by the id of the tree node holding
 * them, shared by the manifests of many snapshots (--all): a segment
 * unchanged across snapshots is one node, read and decoded once. Its
 * memory: each distinct segment's piece list (88 bytes a piece), freed
 * with the cache, which must outlive the manifests loaded through it.
 * Thread-safe. */
struct sx_cache;
struct sx_cache *sx_cache_new(void);
void sx_cache_free(struct sx_cache *c);

/* sx_load: read the index tree at ref (authenticated, checked); cache may
 * be NULL. */
int sx_load(struct repo *r, const struct blob_ref *ref, struct sx_cache *cache,
    struct sx_manifest **ret);
/* sx_store: write m's files and its tree through st; *ret its location.
 * Conversations must be sorted by folder and dead lists sorted. */
int sx_store(struct store *st, const struct sx_manifest *m, struct blob_ref *ret);
void sx_free(struct sx_manifest *m);

/* sx_dead: rowid is not live in this snapshot. */
int sx_dead(const struct sx_seg *s, int64_t rowid);
/* sx_sort_dead: sort and deduplicate s's dead list. */
void sx_sort_dead(struct sx_seg *s);
/* sx_seg_ident: set s->ident from its pieces. */
void sx_seg_ident(struct sx_seg *s);
/* sx_conv_by_folder: binary search, or NULL. */
const struct sx_conv *sx_conv_by_folder(const struct sx_manifest *m,
    const char *folder);

#endif
