/* fs_impl — the filesystem's state and what its modules share; private to
 * fs/ (only the .c files of fs/ include it).
 *
 *   inode.c   the inode table: numbers, lookup counts, forgetting
 *   snaps.c   the snapshot list and the sources, refreshed from listings
 *   top.c     the virtual top tree (snapshots/, latest, at/, sources/,
 *             .imdr/) as one table of kinds and their handlers
 *   cache.c   the node and chunk caches over the repository's blob
 *             reader, blob errors, background prefetch
 *   ops.c     the FUSE operations, thin: find the inode, ask its kind
 *   stats.c   .imdr/stats
 *   run.c     fs_run: session, threads, teardown
 *
 * Inodes. Every inode is in the table, the fixed top ones (INO_*) pinned.
 * The others get a number from their parent's and their position in the
 * parent's listing (or, without one, from their name), probing on
 * collision, so a path keeps its number across lookups and remounts, and
 * a folder's entries have numbers in listing order: walkers that sort a
 * large folder by inode number (fts does, above 10,000 entries) then go
 * through it in the order its nodes lie in their packs. They
 * are counted per kernel lookup and dropped when the kernel forgets them,
 * so the table stays bounded by what the kernel holds. An inode inside a
 * snapshot remembers where its entry lives (the node holding it and its
 * index there), not the entry itself; nodes come from the node cache.
 * A file's record does not even keep that node's reference: it is its
 * folder's own, and the folder's record stays while a file in it does
 * (inode.c: about 110 bytes a file, 190 a folder, against 240 and 270). */
#ifndef IMDR_FS_IMPL_H
#define IMDR_FS_IMPL_H

#include <pthread.h>
#include <stdint.h>
#include <sys/stat.h>

#include <fuse_lowlevel.h>

#include "catalog/catalog.h"
#include "fs/imdrfs.h"
#include "lib/lru.h"
#include "lib/idset.h"
#include "repo/snapshot.h"

#define INO_ROOT 1
#define INO_SNAPS 2
#define INO_AT 4
#define INO_META 5
#define INO_STATS 6
#define INO_SOURCES 7
#define INO_FIRST_DYNAMIC 16

#define CONTENT_TIMEOUT 86400.0

/* What an inode is; top.c has a table with each kind's handlers. */
enum ikind {
	K_ROOT = 1,	/* the mount's root (unless one snapshot is mounted) */
	K_SNAPS,	/* snapshots/: one folder per snapshot of the view */
	K_LATEST,	/* latest -> snapshots/<newest of the view> */
	K_AT,		/* at/: any time can be looked up, none is listed */
	K_ATLINK,	/* at/<TIME> -> ../snapshots/<newest at or before> */
	K_SOURCES,	/* sources/: one folder per source */
	K_VIEW,		/* sources/<name>/: snapshots/, latest, at/ of one source */
	K_META,		/* .imdr/ */
	K_STATS,	/* .imdr/stats */
	K_SNAPROOT,	/* the root folder of one snapshot */
	K_ENTRY,	/* a file, folder or symlink inside a snapshot */
	K_NKINDS
};

/* An inode as the rest of fs/ sees it: a prototype to make one from, or a
 * copy taken under imu (inode_copy). The table keeps a compact record of
 * its own (inode.c), not this. */
struct inode {
	uint64_t ino;
	uint64_t parent;
	enum ikind kind;
	char view[SNAPSHOT_TAG_HEX + 1];	/* source tag of a view; "": all */
	uint8_t type;		/* CAT_FILE, CAT_DIR, CAT_SYMLINK */
	uint32_t mode;
	uint32_t nlink;
	int64_t mtime_ns;
	uint64_t size;
	struct blob_ref node;	/* dir: its own node; file/symlink: the node holding it */
	uint32_t index;		/* file/symlink: entry index in node */
	uint32_t order;		/* 1 + its position in its folder's listing; 0: none */
	char *target;		/* K_ATLINK, K_LATEST: fixed for the inode's life */
};

struct snap {
	struct snapshot_name sn;
	char display[64];		/* its folder name: UTC time [-short id] */
	struct snapshot *loaded;	/* NULL until looked at */
	int load_logged;		/* a failure to load it was logged */
};

struct source {
	char tag[SNAPSHOT_TAG_HEX + 1];
	char *name;
	char *dirname;		/* name as a folder name (see snaps.c) */
};

#define PREFETCH_RUN 8	/* chunks one job reads with one request, at most */
#define PREFETCH_RUN_BYTES (1u << 20)	/* and bytes, unless configured */

struct job {
	struct job *next;
	struct blob_ref refs[PREFETCH_RUN];	/* one after the other in a pack */
	uint32_t n;
	int tree;		/* a folder's node, not a file's chunk */
};

/* An open file. Reads of one handle may run in parallel, and the kernel
 * can send RELEASE while a read is still being answered (a reader killed
 * mid-read): fields are guarded by fs->fhmu, and the last of release and
 * the reads frees it. */
struct fh {
	uint64_t next_off;	/* where a sequential reader reads next */
	uint32_t prefetched_to;	/* chunks below this index were scheduled */
	int sequential;
	int streaming;		/* counted in fs->streams */
	int refs;		/* reads in progress */
	int released;
	char *text;		/* .imdr/stats: the text made at open */
};

struct fs {
	struct repo *r;
	struct fs_config cfg;
	struct fuse_session *se;
	int no_opendir;
	pthread_t warm;
	int warm_started;
	pthread_mutex_t fhmu;
	int streams;		/* open files read sequentially (fhmu) */
	size_t stream_cache_bytes;	/* the chunk cache's bound while any is */
	uid_t uid;
	gid_t gid;
	int64_t mount_time;

	/* inode.c; guarded by imu */
	pthread_mutex_t imu;
	struct irec **itab, **ktab;
	struct islab *islab;	/* where the records live */
	size_t icap, n_inodes;

	/* snaps.c; guarded by smu */
	pthread_mutex_t smu;
	struct snap *snaps;
	size_t nsnaps;
	int64_t listed_at;
	int list_failed;	/* the last listing failed (logged once) */
	long single;		/* index in snaps of the single snapshot, or -1 */
	char single_id[SNAPSHOT_ID_HEX + 1];
	struct source *sources;
	size_t nsources, sources_cap;

	/* cache.c */
	struct lru *nodes, *chunks;
	pthread_mutex_t pmu;
	pthread_cond_t pcv;
	struct job *phead, *ptail;
	size_t pqueued;
	int pstop;
	pthread_t *pthreads;
	int npthreads;
	struct blob_ref last_open_node;	/* for folder-order prefetch */
	uint32_t last_open_index;

	pthread_mutex_t emu;
	struct idset *logged;	/* blob ids whose failure was logged */
	uint64_t eio_count;
	uint64_t fetches, fetch_bytes, fetch_ns, fetch_ns_max;
	uint64_t prefetch_jobs;

	/* chunks lately read in full (and so out of the cache): a prefetch
	 * job queued before its reader got there skips them, instead of
	 * reading them again for nobody. Direct-mapped by id; under pmu. */
	uint8_t (*spent)[CRYPTO_ID_LEN];
	uint64_t prefetch_skipped;
};

/* ---- inode.c (caller holds imu, unless said otherwise) ---- */
struct irec;
struct islab;
void inode_table_init(struct fs *fs);
void inode_table_free(struct fs *fs);
/* inode_ref: the number of the inode for (parent, name), made from proto
 * when new, or at number fixed_ino when that is non-zero; its lookup
 * count goes up. */
uint64_t inode_ref(struct fs *fs, uint64_t parent, const char *name,
    const struct inode *proto, uint64_t fixed_ino);
void inode_forget(struct fs *fs, uint64_t ino, uint64_t n);
/* inode_copy: a copy of inode ino taken under imu (target NULL); 0, or
 * ENOENT. Takes imu itself. */
int inode_copy(struct fs *fs, uint64_t ino, struct inode *ret);
/* inode_target: a copy of a link inode's fixed target (caller frees), or
 * NULL. Takes imu itself. */
char *inode_target(struct fs *fs, uint64_t ino);

/* ---- snaps.c (caller holds smu) ---- */
int snaps_refresh(struct fs *fs, int force);
struct snapshot *snaps_loaded(struct fs *fs, size_t i);
long snaps_by_display(struct fs *fs, const char *display);
/* snaps_nth: the index in snaps of the k-th snapshot (oldest first) of
 * view tag ("" all), or -1. snaps_newest / snaps_at: of that view. */
long snaps_nth(struct fs *fs, const char *tag, size_t k);
long snaps_newest(struct fs *fs, const char *tag);
long snaps_at(struct fs *fs, const char *tag, int64_t t);
/* snaps_learn_sources: know the name of every source tag listed (one
 * snapshot object read for each source not yet known). */
void snaps_learn_sources(struct fs *fs);
long sources_by_dirname(struct fs *fs, const char *dirname);
void snaps_free(struct fs *fs);

/* ---- top.c ---- */
struct dirbuf {
	char *p;
	size_t size, used;	/* size: what the kernel asked for */
	size_t cap;		/* allocated, grown as entries come */
};
/* top_init: the fixed inodes (root, snapshots/, ...), or in single mode
 * the one snapshot at the root. */
void top_init(struct fs *fs);
int top_is_virtual(enum ikind k);
/* top_attr: refresh what changes as backups come (size, mtime, nlink) of
 * a virtual inode; 0 or an errno. */
int top_attr(struct fs *fs, struct inode *i);
int top_lookup(struct fs *fs, const struct inode *dir, const char *name,
    struct inode *ret_proto, uint64_t *ret_fixed_ino);
/* top_readdir: entries of a virtual folder from offset off (3 is the
 * first after "." and ".."); 0 or an errno. */
int top_readdir(struct fs *fs, fuse_req_t req, const struct inode *dir,
    off_t off, int plus, struct dirbuf *b);
/* snaproot_proto: the root folder of snapshot i. Caller holds smu. */
int snaproot_proto(struct fs *fs, size_t i, struct inode *p);

/* ---- ops.c ---- */
extern const struct fuse_lowlevel_ops fs_ops;
void fill_attr(struct fs *fs, const struct inode *i, struct stat *st);
double timeout_of(struct fs *fs, const struct inode *i);
/* add_dirent: 0 when the entry did not fit. */
int add_dirent(fuse_req_t req, struct dirbuf *b, int plus, const char *name,
    const struct fuse_entry_param *ep, off_t next);
/* emit_child: one entry of a readdir, its inode made (plus) from proto;
 * 0 when it did not fit (the lookup then undone). */
int emit_child(struct fs *fs, fuse_req_t req, struct dirbuf *b, int plus,
    uint64_t parent, const char *name, const struct inode *proto,
    uint64_t fixed_ino, off_t next);

/* ---- cache.c ---- */
void caches_init(struct fs *fs);
void caches_free(struct fs *fs);
/* A cached chunk: its plaintext is b.data + off up to b.len. */
struct chunk {
	struct buf b;
	size_t off;
	struct repo *r;		/* its buffer goes back to r's pool */
	size_t served;		/* bytes handed to readers (atomic) */
};
/* node_get / chunk_get: held entries (lru_release when done); a failure
 * is logged once per blob and is EIO for the caller. A chunk whose
 * plaintext length differs from ref's raw length is a failure too. */
int node_get(struct fs *fs, const struct blob_ref *ref, struct lru_entry **ret);
int chunk_get(struct fs *fs, const struct blob_ref *ref, struct lru_entry **ret);
/* chunk_release: release held chunk id of which n bytes went to a reader;
 * once all of it has (the kernel keeps the pages), it leaves the cache,
 * and prefetch jobs still queued for it are not run. */
void chunk_release(struct fs *fs, struct lru_entry *e, size_t n, const uint8_t *id);
void prefetch_job(struct fs *fs, const struct blob_ref *ref, int tree);
/* prefetch_run: chunks that lie one after the other in one pack, fetched
 * with one request (n <= PREFETCH_RUN). */
void prefetch_run(struct fs *fs, const struct blob_ref *refs, uint32_t n);
void prefetch_start(struct fs *fs, int nthreads);
void prefetch_stop(struct fs *fs);
/* prefetch_following_files: opening entries k-1 then k of one folder
 * suggests a reader going through it: fetch what follows. */
void prefetch_following_files(struct fs *fs, const struct blob_ref *node_ref,
    uint32_t index);
/* prefetch_subdirs: a reader of a folder often goes into its subfolders
 * next (find, ls -R, cp -r, diff -r). */
void prefetch_subdirs(struct fs *fs, const struct cat_node *n);

/* ---- stats.c ---- */
char *stats_text(struct fs *fs);

#endif
