/* imdrfs — see imdrfs.h.
 *
 * Inodes. Fixed numbers for the top: 1 the root, 2 snapshots/, 3 latest,
 * 4 at/, 5 .imdr/, 6 .imdr/stats. Everything else gets a number hashed from
 * (parent inode, name), probing on collision, so a path keeps its inode
 * number across lookups and remounts. An inode remembers where its entry
 * lives (the node holding it and its index there), not the entry itself;
 * nodes come from the node cache. Inodes are counted per kernel lookup and
 * dropped when the kernel forgets them, so the table stays bounded by what
 * the kernel holds.
 *
 * Caches (fs/lru.h): decoded tree nodes, and decrypted chunks, each with a
 * byte limit; both single-flight. A reader whose reads follow each other
 * gets the next chunks fetched in the background by a small pool; opening
 * the next file of a folder in name order prefetches the files after it.
 *
 * All content is immutable: entries and attributes are cached by the kernel
 * for a day, pages are kept across opens. Only the top (snapshots/, latest,
 * at/) changes as backups come, within refresh_secs. */
#include "fs/imdrfs.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <fuse_lowlevel.h>

#include "catalog/catalog.h"
#include "fs/diskcache.h"
#include "fs/lru.h"
#include "lib/err.h"
#include "lib/hex.h"
#include "lib/idset.h"
#include "lib/log.h"
#include "lib/timefmt.h"
#include "repo/snapshot.h"

#define INO_ROOT 1
#define INO_SNAPS 2
#define INO_LATEST 3
#define INO_AT 4
#define INO_META 5
#define INO_STATS 6
#define INO_FIRST_DYNAMIC 16

#define CONTENT_TIMEOUT 86400.0
#define FILE_PREFETCH_BYTES (4u << 20)
#define FILE_PREFETCH_COUNT 16

enum ikind {
	K_SNAPROOT = 1,	/* the root folder of one snapshot */
	K_ENTRY,	/* a file, folder or symlink inside a snapshot */
	K_ATLINK,	/* at/<TIME>: a symlink to ../snapshots/<name> */
};

struct inode {
	uint64_t ino;
	uint64_t parent;
	char *name;
	uint64_t nlookup;
	enum ikind kind;
	uint8_t type;		/* CAT_FILE, CAT_DIR, CAT_SYMLINK */
	uint32_t mode;
	uint32_t nlink;
	int64_t mtime_ns;
	uint64_t size;
	struct blob_ref node;	/* dir: its own node; file/symlink: the node holding it */
	uint32_t index;		/* file/symlink: entry index in node */
	char *target;		/* K_ATLINK */
	struct inode *hnext;	/* by ino */
	struct inode *knext;	/* by (parent, name) */
};

struct snap {
	struct snapshot_name sn;
	char display[64];
	struct snapshot *loaded;	/* NULL until looked at */
};

struct job {
	struct job *next;
	struct blob_ref ref;
	int tree;		/* a folder's node, not a file's chunk */
};

/* A window of a pack read around a tree node: folders of one snapshot are
 * written bottom-up into the same packs, a parent after its children, so
 * the bytes before a node hold the nodes a reader goes to next. One ranged
 * read then serves many folders (each still authenticated on its own). */
#define TWIN_N 4
#define TWIN_BYTES (512u << 10)

struct twin {
	uint8_t pack[32];
	uint64_t start;
	struct buf data;
	uint64_t used;
};

/* An open file. Reads of one handle may run in parallel, and the kernel
 * can send RELEASE while a read is still being answered (a reader killed
 * mid-read): fields are guarded by fs->fhmu, and the last of release and
 * the reads frees it. */
struct fh {
	uint64_t next_off;	/* where a sequential reader reads next */
	uint32_t prefetched_to;	/* chunks below this index were scheduled */
	int sequential;
	int refs;		/* reads in progress */
	int released;
	char *text;		/* .imdr/stats: the text made at open */
};

struct fs {
	struct repo *r;
	pthread_mutex_t wmu;
	struct twin twin[TWIN_N];
	uint64_t twin_clock;
	uint64_t twin_hits, twin_reads;
	struct fs_config cfg;
	struct fuse_session *se;
	int no_opendir;
	pthread_t warm;
	int warm_started;
	int inval_running;	/* detached notifier threads still using se */
	pthread_mutex_t fhmu;
	uid_t uid;
	gid_t gid;
	int64_t mount_time;

	pthread_mutex_t imu;
	struct inode **itab, **ktab;
	size_t icap, n_inodes;

	pthread_mutex_t smu;
	struct snap *snaps;
	size_t nsnaps;
	int64_t listed_at;
	long single;		/* index in snaps of the single snapshot, or -1 */

	struct lru *nodes, *chunks;
	struct diskcache *dc;

	pthread_mutex_t pmu;
	pthread_cond_t pcv;
	struct job *phead, *ptail;
	size_t pqueued;
	int pstop;
	pthread_t *pthreads;
	int npthreads;
	/* the last file opened, for folder-order prefetch */
	struct blob_ref last_open_node;
	uint32_t last_open_index;

	pthread_mutex_t emu;
	struct idset *logged;	/* blob ids whose failure was logged */
	uint64_t eio_count;
	uint64_t fetches, fetch_bytes, fetch_ns, fetch_ns_max;
	uint64_t prefetch_jobs;
};

/* ---- inode table ---- */

static uint64_t
key_hash(uint64_t parent, const char *name)
{
	uint64_t h = 1469598103934665603ULL ^ parent * 0x9E3779B97F4A7C15ULL;

	while (*name)
		h = (h ^ (uint8_t)*name++) * 1099511628211ULL;
	return h;
}

static struct inode *
ino_find(struct fs *fs, uint64_t ino)
{
	for (struct inode *i = fs->itab[ino & (fs->icap - 1)]; i; i = i->hnext)
		if (i->ino == ino)
			return i;
	return NULL;
}

static struct inode *
key_find(struct fs *fs, uint64_t parent, const char *name)
{
	for (struct inode *i = fs->ktab[key_hash(parent, name) & (fs->icap - 1)]; i;
	    i = i->knext)
		if (i->parent == parent && strcmp(i->name, name) == 0)
			return i;
	return NULL;
}

static void
table_grow(struct fs *fs)
{
	size_t ncap = fs->icap * 2;
	struct inode **it = xcalloc(ncap, sizeof(*it)), **kt = xcalloc(ncap, sizeof(*kt));

	for (size_t b = 0; b < fs->icap; b++) {
		struct inode *i = fs->itab[b];

		while (i) {
			struct inode *next = i->hnext;

			i->hnext = it[i->ino & (ncap - 1)];
			it[i->ino & (ncap - 1)] = i;
			i = next;
		}
		i = fs->ktab[b];
		while (i) {
			struct inode *next = i->knext;
			size_t k = key_hash(i->parent, i->name) & (ncap - 1);

			i->knext = kt[k];
			kt[k] = i;
			i = next;
		}
	}
	free(fs->itab);
	free(fs->ktab);
	fs->itab = it;
	fs->ktab = kt;
	fs->icap = ncap;
}

/* inode_get: the inode for (parent, name), made from proto when new; its
 * lookup count goes up by one. Caller holds imu. */
static struct inode *
inode_get(struct fs *fs, uint64_t parent, const char *name,
    const struct inode *proto)
{
	struct inode *i = key_find(fs, parent, name);
	uint64_t ino;

	if (i) {
		i->nlookup++;
		return i;
	}
	if (fs->n_inodes * 2 >= fs->icap)
		table_grow(fs);
	ino = key_hash(parent, name) >> 1;
	if (ino < INO_FIRST_DYNAMIC)
		ino += INO_FIRST_DYNAMIC;
	while (ino_find(fs, ino) != NULL)
		ino++;
	i = xmalloc(sizeof(*i));
	*i = *proto;
	i->ino = ino;
	i->parent = parent;
	i->name = xstrdup(name);
	i->nlookup = 1;
	i->target = proto->target ? xstrdup(proto->target) : NULL;
	i->hnext = fs->itab[ino & (fs->icap - 1)];
	fs->itab[ino & (fs->icap - 1)] = i;
	i->knext = fs->ktab[key_hash(parent, name) & (fs->icap - 1)];
	fs->ktab[key_hash(parent, name) & (fs->icap - 1)] = i;
	fs->n_inodes++;
	return i;
}

static void
inode_forget(struct fs *fs, uint64_t ino, uint64_t n)
{
	struct inode *i, **pp;

	if (ino < INO_FIRST_DYNAMIC)
		return;
	i = ino_find(fs, ino);
	if (i == NULL)
		return;
	if (i->nlookup > n) {
		i->nlookup -= n;
		return;
	}
	for (pp = &fs->itab[ino & (fs->icap - 1)]; *pp != i; pp = &(*pp)->hnext)
		;
	*pp = i->hnext;
	for (pp = &fs->ktab[key_hash(i->parent, i->name) & (fs->icap - 1)]; *pp != i;
	    pp = &(*pp)->knext)
		;
	*pp = i->knext;
	fs->n_inodes--;
	free(i->name);
	free(i->target);
	free(i);
}

/* ---- snapshots ---- */

static void
snaps_free(struct snap *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		snapshot_free(v[i].loaded);
	free(v);
}

/* refresh_snapshots: list again when the list is older than refresh_secs
 * (or force). Loaded snapshots carry over. Caller holds smu. */
static int snaproot_proto(struct fs *fs, size_t i, struct inode *p);

/* warm_main: right after mounting, load the newest snapshot's root folder
 * (and with it the window of its pack that holds most of its folders), so
 * the first look into latest/ costs no fetch. A fixed amount of work,
 * whatever the repository's size. */
static void *
warm_main(void *arg)
{
	struct fs *fs = arg;
	struct inode p;

	pthread_mutex_lock(&fs->smu);
	if (fs->nsnaps > 0)
		(void)snaproot_proto(fs, fs->single >= 0 ? (size_t)fs->single : fs->nsnaps - 1, &p);
	pthread_mutex_unlock(&fs->smu);
	err_clear();
	repo_thread_cleanup();
	return NULL;
}

static void *
inval_latest_main(void *arg)
{
	struct fs *fs = arg;

	fuse_lowlevel_notify_inval_inode(fs->se, INO_LATEST, 0, 0);
	__atomic_sub_fetch(&fs->inval_running, 1, __ATOMIC_RELEASE);
	return NULL;
}

static int
refresh_snapshots(struct fs *fs, int force)
{
	struct snapshot_name *names = NULL;
	struct snap *nv;
	size_t n = 0;
	int64_t now = time_mono_ns();
	int rc;

	if (!force && fs->snaps && now - fs->listed_at <
	    (int64_t)fs->cfg.refresh_secs * 1000000000)
		return IMDR_OK;
	rc = snapshot_list(fs->r, &names, &n);
	if (rc) {
		warn0("cannot list snapshots: %s", err_msg(rc));
		return rc;
	}
	nv = xcalloc(n ? n : 1, sizeof(*nv));
	for (size_t i = 0; i < n; i++) {
		nv[i].sn = names[i];
		time_format(names[i].time_ns, 0, nv[i].display);
	}
	/* Two snapshots in one second: both get their short id appended. */
	for (size_t i = 0; i < n; i++) {
		char base[40];

		time_format(names[i].time_ns, 0, base);
		if ((i > 0 && names[i - 1].time_ns / 1000000000 == names[i].time_ns / 1000000000) ||
		    (i + 1 < n && names[i + 1].time_ns / 1000000000 == names[i].time_ns / 1000000000))
			snprintf(nv[i].display, sizeof(nv[i].display), "%s-%.8s", base, names[i].id);
	}
	for (size_t i = 0; i < n; i++) {
		for (size_t j = 0; j < fs->nsnaps; j++) {
			if (strcmp(fs->snaps[j].sn.id, names[i].id) == 0) {
				nv[i].loaded = fs->snaps[j].loaded;
				fs->snaps[j].loaded = NULL;
				break;
			}
		}
	}
	/* A new newest snapshot: the kernel may hold the old text of `latest`
	 * (symlinks are cached); drop it, from another thread, since this one
	 * may be inside a request on that very inode. */
	if (fs->se && fs->nsnaps && n &&
	    strcmp(fs->snaps[fs->nsnaps - 1].sn.id, names[n - 1].id) != 0) {
		pthread_t t;

		__atomic_add_fetch(&fs->inval_running, 1, __ATOMIC_ACQUIRE);
		if (pthread_create(&t, NULL, inval_latest_main, fs) == 0)
			pthread_detach(t);
		else
			__atomic_sub_fetch(&fs->inval_running, 1, __ATOMIC_RELEASE);
	}
	snaps_free(fs->snaps, fs->nsnaps);
	fs->snaps = nv;
	fs->nsnaps = n;
	fs->listed_at = now;
	free(names);
	return IMDR_OK;
}

static long
snap_by_display(struct fs *fs, const char *name)
{
	for (size_t i = 0; i < fs->nsnaps; i++)
		if (strcmp(fs->snaps[i].display, name) == 0)
			return (long)i;
	return -1;
}

/* snap_loaded: the snapshot object of snaps[i], fetched once. Caller holds
 * smu. */
static struct snapshot *
snap_loaded(struct fs *fs, size_t i)
{
	if (fs->snaps[i].loaded == NULL) {
		int rc = snapshot_load(fs->r, fs->snaps[i].sn.name, &fs->snaps[i].loaded);

		if (rc) {
			warn0("%s", err_msg(rc));
			return NULL;
		}
	}
	return fs->snaps[i].loaded;
}

/* ---- blob errors ---- */

static void
log_blob_error(struct fs *fs, const uint8_t *id, int rc)
{
	int first;

	pthread_mutex_lock(&fs->emu);
	first = idset_put(fs->logged, id, 1);
	fs->eio_count++;
	pthread_mutex_unlock(&fs->emu);
	if (first)
		warn0("%s", err_msg(rc));
}

/* ---- node cache ---- */

static void
node_dispose(void *v)
{
	cat_node_free(v);
}

/* twin_find: copy the sealed bytes of ref out of a window; 1 if found. */
static int
twin_find(struct fs *fs, const struct blob_ref *ref, struct buf *out)
{
	int found = 0;

	pthread_mutex_lock(&fs->wmu);
	for (int k = 0; k < TWIN_N; k++) {
		struct twin *w = &fs->twin[k];

		if (w->data.len && memcmp(w->pack, ref->pack, 32) == 0 &&
		    ref->offset >= w->start &&
		    ref->offset + ref->length <= w->start + w->data.len) {
			buf_append(out, w->data.data + (ref->offset - w->start), ref->length);
			w->used = ++fs->twin_clock;
			fs->twin_hits++;
			found = 1;
			break;
		}
	}
	pthread_mutex_unlock(&fs->wmu);
	return found;
}

/* twin_fetch: read the window ending at ref's end into the least recently
 * used slot and copy ref's bytes out. */
static int
twin_fetch(struct fs *fs, const struct blob_ref *ref, struct buf *out)
{
	uint64_t end = ref->offset + ref->length;
	uint64_t start = end > TWIN_BYTES ? end - TWIN_BYTES : 0;
	struct buf win = BUF_INIT;
	char name[80];
	struct twin *w;
	int rc;

	if (start > ref->offset)
		start = ref->offset;
	repo_pack_name(ref->pack, name);
	rc = backend_get(repo_backend(fs->r), name, start, end - start, &win);
	if (rc) {
		buf_free(&win);
		return rc;
	}
	buf_append(out, win.data + (ref->offset - start), ref->length);
	pthread_mutex_lock(&fs->wmu);
	w = &fs->twin[0];
	for (int k = 1; k < TWIN_N; k++)
		if (fs->twin[k].used < w->used)
			w = &fs->twin[k];
	buf_free(&w->data);
	memcpy(w->pack, ref->pack, 32);
	w->start = start;
	w->data = win;
	w->used = ++fs->twin_clock;
	fs->twin_reads++;
	pthread_mutex_unlock(&fs->wmu);
	return IMDR_OK;
}

static int
node_load(void *ctx, const uint8_t key[32], void **ret, size_t *ret_size)
{
	struct { struct fs *fs; const struct blob_ref *ref; } *c = ctx;
	struct buf sealed = BUF_INIT;
	struct cat_node *node;
	int rc = IMDR_OK;

	(void)key;
	if (c->ref->length > TWIN_BYTES / 4)	/* a huge folder: alone */
		rc = cat_node_load(c->fs->r, c->ref, &node);
	else {
		if (!twin_find(c->fs, c->ref, &sealed))
			rc = twin_fetch(c->fs, c->ref, &sealed);
		if (rc == IMDR_OK)
			rc = cat_node_open(c->fs->r, c->ref, sealed.data, sealed.len, &node);
		buf_free(&sealed);
	}
	if (rc)
		return rc;
	*ret = node;
	*ret_size = cat_node_mem(node);
	return IMDR_OK;
}

/* cache_get: ref's value from cache c, loaded by load on a miss; a failure
 * is logged once per blob and becomes EIO for the caller. */
static int
cache_get(struct fs *fs, struct lru *c, lru_load_fn load,
    const struct blob_ref *ref, struct lru_entry **ret)
{
	struct { struct fs *fs; const struct blob_ref *ref; } ctx = { fs, ref };
	int rc = lru_get(c, ref->id, load, &ctx, ret);

	if (rc) {
		log_blob_error(fs, ref->id, rc);
		err_clear();
	}
	return rc;
}

static int
node_get(struct fs *fs, const struct blob_ref *ref, struct lru_entry **ret)
{
	return cache_get(fs, fs->nodes, node_load, ref, ret);
}

/* ---- chunk cache ---- */

/* A cached chunk: its plaintext is b.data + off up to b.len (decrypted in
 * place in the buffer it was fetched into). */
struct chunk {
	struct buf b;
	size_t off;
};

/* Chunk buffers are recycled: a fresh 1-4 MiB buffer costs a page fault
 * (and the kernel zeroing a page) every 4 KiB, which is a large part of a
 * sequential read's CPU time. The pool holds at most POOL_BYTES. */
#define POOL_MAX 16
#define POOL_BYTES (4u << 20)

static struct {
	pthread_mutex_t mu;
	struct buf b[POOL_MAX];
	size_t n, bytes;
} pool = { .mu = PTHREAD_MUTEX_INITIALIZER };

static void
pool_take(struct buf *b, size_t want)
{
	pthread_mutex_lock(&pool.mu);
	for (size_t i = pool.n; i-- > 0;) {
		if (pool.b[i].cap >= want) {
			*b = pool.b[i];
			pool.b[i] = pool.b[--pool.n];
			pool.bytes -= b->cap;
			break;
		}
	}
	pthread_mutex_unlock(&pool.mu);
	b->len = 0;
}

static void
pool_give(struct buf *b)
{
	pthread_mutex_lock(&pool.mu);
	if (b->cap >= (64u << 10) && pool.n < POOL_MAX &&
	    pool.bytes + b->cap <= POOL_BYTES) {
		pool.b[pool.n++] = *b;
		pool.bytes += b->cap;
		*b = (struct buf)BUF_INIT;
	}
	pthread_mutex_unlock(&pool.mu);
	buf_free(b);
}

static void
pool_drain(void)
{
	pthread_mutex_lock(&pool.mu);
	while (pool.n > 0)
		buf_free(&pool.b[--pool.n]);
	pool.bytes = 0;
	pthread_mutex_unlock(&pool.mu);
}

static void
chunk_dispose(void *v)
{
	struct chunk *c = v;

	pool_give(&c->b);
	free(c);
}

static int
chunk_load(void *ctx, const uint8_t key[32], void **ret, size_t *ret_size)
{
	struct { struct fs *fs; const struct blob_ref *ref; } *c = ctx;
	struct chunk *ch = xcalloc(1, sizeof(*ch));
	int64_t t0 = time_mono_ns();
	uint64_t dt;
	int rc;

	(void)key;
	if (c->fs->dc)
		rc = diskcache_read(c->fs->dc, c->fs->r, c->ref, &ch->b);
	else {
		pool_take(&ch->b, c->ref->length);
		rc = repo_blob_read_buf(c->fs->r, BLOB_DATA, c->ref, &ch->b, &ch->off);
	}
	dt = (uint64_t)(time_mono_ns() - t0);
	pthread_mutex_lock(&c->fs->emu);
	c->fs->fetches++;
	c->fs->fetch_bytes += c->ref->length;
	c->fs->fetch_ns += dt;
	if (dt > c->fs->fetch_ns_max)
		c->fs->fetch_ns_max = dt;
	pthread_mutex_unlock(&c->fs->emu);
	if (rc) {
		chunk_dispose(ch);
		return rc;
	}
	*ret = ch;
	*ret_size = ch->b.cap + sizeof(*ch);
	return IMDR_OK;
}

static int
chunk_get(struct fs *fs, const struct blob_ref *ref, struct lru_entry **ret)
{
	return cache_get(fs, fs->chunks, chunk_load, ref, ret);
}

/* ---- prefetch ---- */

static void
prefetch_job(struct fs *fs, const struct blob_ref *ref, int tree)
{
	struct job *j;

	if (fs->npthreads == 0 ||
	    lru_contains(tree ? fs->nodes : fs->chunks, ref->id))
		return;
	pthread_mutex_lock(&fs->pmu);
	if (fs->pqueued >= 256) {	/* a bound, not a target */
		pthread_mutex_unlock(&fs->pmu);
		return;
	}
	j = xmalloc(sizeof(*j));
	j->next = NULL;
	j->ref = *ref;
	j->tree = tree;
	if (fs->ptail)
		fs->ptail->next = j;
	else
		fs->phead = j;
	fs->ptail = j;
	fs->pqueued++;
	fs->prefetch_jobs++;
	pthread_cond_signal(&fs->pcv);
	pthread_mutex_unlock(&fs->pmu);
}

static void
prefetch(struct fs *fs, const struct blob_ref *ref)
{
	prefetch_job(fs, ref, 0);
}

static void *
prefetch_main(void *arg)
{
	struct fs *fs = arg;

	for (;;) {
		struct lru_entry *e;
		struct job *j;

		pthread_mutex_lock(&fs->pmu);
		while (fs->phead == NULL && !fs->pstop)
			pthread_cond_wait(&fs->pcv, &fs->pmu);
		if (fs->pstop) {
			pthread_mutex_unlock(&fs->pmu);
			break;
		}
		j = fs->phead;
		fs->phead = j->next;
		if (fs->phead == NULL)
			fs->ptail = NULL;
		fs->pqueued--;
		pthread_mutex_unlock(&fs->pmu);
		if (j->tree) {
			if (node_get(fs, &j->ref, &e) == IMDR_OK)
				lru_release(fs->nodes, e);
		} else if (chunk_get(fs, &j->ref, &e) == IMDR_OK)
			lru_release(fs->chunks, e);
		free(j);
	}
	repo_thread_cleanup();
	return NULL;
}

/* ---- attributes ---- */

static void
fill_attr(struct fs *fs, const struct inode *i, struct stat *st)
{
	memset(st, 0, sizeof(*st));
	st->st_ino = i->ino;
	st->st_uid = fs->uid;
	st->st_gid = fs->gid;
	st->st_nlink = i->nlink ? i->nlink : 1;
	st->st_size = (off_t)i->size;
	st->st_blksize = 128 * 1024;
	st->st_blocks = (blkcnt_t)((i->size + 511) / 512);
	st->st_mtim.tv_sec = i->mtime_ns / 1000000000;
	st->st_mtim.tv_nsec = i->mtime_ns % 1000000000;
	if (st->st_mtim.tv_nsec < 0) {
		st->st_mtim.tv_nsec += 1000000000;
		st->st_mtim.tv_sec--;
	}
	st->st_atim = st->st_ctim = st->st_mtim;
	switch (i->type) {
	case CAT_DIR: st->st_mode = S_IFDIR | (i->mode & 07777); break;
	case CAT_SYMLINK: st->st_mode = S_IFLNK | (i->mode & 07777); break;
	default: st->st_mode = S_IFREG | (i->mode & 07777);
	}
	if (i->kind == K_ATLINK)
		st->st_mode = S_IFLNK | 0777;
}

/* fixed_attr: the synthetic top of the mount. */
static int
fixed_attr(struct fs *fs, fuse_ino_t ino, struct stat *st)
{
	struct inode i;

	memset(&i, 0, sizeof(i));
	i.ino = ino;
	i.mtime_ns = fs->mount_time;
	switch (ino) {
	case INO_ROOT:
		i.type = CAT_DIR;
		i.mode = 0555;
		i.nlink = 5;
		break;
	case INO_SNAPS:
		i.type = CAT_DIR;
		i.mode = 0555;
		pthread_mutex_lock(&fs->smu);
		refresh_snapshots(fs, 0);
		i.nlink = 2 + (uint32_t)fs->nsnaps;
		if (fs->nsnaps)
			i.mtime_ns = fs->snaps[fs->nsnaps - 1].sn.time_ns;
		pthread_mutex_unlock(&fs->smu);
		break;
	case INO_AT:
	case INO_META:
		i.type = CAT_DIR;
		i.mode = 0555;
		i.nlink = 2;
		break;
	case INO_LATEST:
		i.type = CAT_SYMLINK;
		i.mode = 0777;
		pthread_mutex_lock(&fs->smu);
		refresh_snapshots(fs, 0);
		if (fs->nsnaps == 0) {
			pthread_mutex_unlock(&fs->smu);
			return ENOENT;
		}
		i.size = strlen("snapshots/") + strlen(fs->snaps[fs->nsnaps - 1].display);
		i.mtime_ns = fs->snaps[fs->nsnaps - 1].sn.time_ns;
		pthread_mutex_unlock(&fs->smu);
		break;
	case INO_STATS:
		i.type = CAT_FILE;
		i.mode = 0444;
		i.size = 0;	/* made at open; read with direct I/O */
		i.mtime_ns = time_now_ns();
		break;
	default:
		return ENOENT;
	}
	fill_attr(fs, &i, st);
	return 0;
}

static double
timeout_for(struct fs *fs, fuse_ino_t ino)
{
	if (ino < INO_FIRST_DYNAMIC)
		return fs->cfg.refresh_secs;
	return CONTENT_TIMEOUT;
}

/* ---- building inodes ---- */

static void
proto_from_entry(struct inode *p, const struct blob_ref *node_ref,
    const struct cat_entry *e, uint32_t index)
{
	memset(p, 0, sizeof(*p));
	p->kind = K_ENTRY;
	p->type = e->type;
	p->mode = e->mode;
	p->mtime_ns = e->mtime_ns;
	p->size = e->size;
	if (e->type == CAT_DIR) {
		p->node = e->subtree;
		p->nlink = 2 + e->nsubdirs;
	} else {
		p->node = *node_ref;
		p->index = index;
		p->nlink = 1;
	}
}

/* snaproot_proto: the root folder of snapshot i. Caller holds smu. */
static int
snaproot_proto(struct fs *fs, size_t i, struct inode *p)
{
	struct snapshot *s = snap_loaded(fs, i);
	struct lru_entry *ne;
	uint32_t nsub = 0;

	if (s == NULL)
		return EIO;
	memset(p, 0, sizeof(*p));
	p->kind = K_SNAPROOT;
	p->type = CAT_DIR;
	p->mode = s->root_mode ? s->root_mode : 0755;
	p->mtime_ns = s->root_mtime_ns;
	p->node = s->root;
	/* nlink needs the root's subfolder count, which only its node has */
	if (node_get(fs, &s->root, &ne) == IMDR_OK) {
		struct cat_node *n = lru_value(ne);

		for (uint32_t k = 0; k < cat_node_count(n); k++)
			if (cat_node_entry(n, k)->type == CAT_DIR)
				nsub++;
		lru_release(fs->nodes, ne);
	}
	p->nlink = 2 + nsub;
	return 0;
}

static struct fs *
fs_of(fuse_req_t req)
{
	return fuse_req_userdata(req);
}

/* dir_node_of: the node ref of folder ino (a snapshot root or entry). */
static int
dir_ref_of(struct fs *fs, fuse_ino_t ino, struct blob_ref *ret)
{
	struct inode *i;
	int err = 0;

	pthread_mutex_lock(&fs->imu);
	i = ino_find(fs, ino);
	if (i == NULL || i->kind == K_ATLINK)
		err = ENOENT;
	else if (i->type != CAT_DIR)
		err = ENOTDIR;
	else
		*ret = i->node;
	pthread_mutex_unlock(&fs->imu);
	return err;
}

/* single-snapshot mode: the root is the snapshot's root folder */
static int
single_root(struct fs *fs, struct blob_ref *ret, struct inode *proto)
{
	struct inode p;
	int err;

	pthread_mutex_lock(&fs->smu);
	err = snaproot_proto(fs, (size_t)fs->single, &p);
	pthread_mutex_unlock(&fs->smu);
	if (err)
		return err;
	if (ret)
		*ret = p.node;
	if (proto)
		*proto = p;
	return 0;
}

/* ---- operations ---- */

static void
fs_op_init(void *userdata, struct fuse_conn_info *conn)
{
	struct fs *fs = userdata;

	conn->want |= FUSE_CAP_READDIRPLUS | FUSE_CAP_ASYNC_READ;
	conn->want &= ~FUSE_CAP_READDIRPLUS_AUTO;
	if (conn->capable & FUSE_CAP_CACHE_SYMLINKS)
		conn->want |= FUSE_CAP_CACHE_SYMLINKS;
	if (conn->capable & FUSE_CAP_NO_OPENDIR_SUPPORT) {
		conn->want |= FUSE_CAP_NO_OPENDIR_SUPPORT;
		fs->no_opendir = 1;
	}
	if (conn->capable & FUSE_CAP_PARALLEL_DIROPS)
		conn->want |= FUSE_CAP_PARALLEL_DIROPS;
	if (conn->capable & FUSE_CAP_SPLICE_WRITE)
		conn->want |= FUSE_CAP_SPLICE_WRITE;
	conn->max_readahead = 4u << 20;
	conn->max_write = 1u << 20;	/* also sets the largest read request */
	conn->max_background = 64;
	conn->congestion_threshold = 48;
	(void)fs;
}

static void
reply_entry(fuse_req_t req, struct fs *fs, const struct inode *i)
{
	struct fuse_entry_param ep;

	memset(&ep, 0, sizeof(ep));
	ep.ino = i->ino;
	ep.generation = 1;
	fill_attr(fs, i, &ep.attr);
	ep.attr_timeout = i->kind == K_ATLINK ? fs->cfg.refresh_secs : CONTENT_TIMEOUT;
	ep.entry_timeout = ep.attr_timeout;
	fuse_reply_entry(req, &ep);
}

static void
reply_fixed_entry(fuse_req_t req, struct fs *fs, fuse_ino_t ino)
{
	struct fuse_entry_param ep;
	int err;

	memset(&ep, 0, sizeof(ep));
	err = fixed_attr(fs, ino, &ep.attr);
	if (err) {
		fuse_reply_err(req, err);
		return;
	}
	ep.ino = ino;
	ep.generation = 1;
	ep.attr_timeout = ep.entry_timeout = timeout_for(fs, ino);
	fuse_reply_entry(req, &ep);
}

/* lookup_in_node: name inside the folder whose node is ref. */
static int
lookup_in_node(struct fs *fs, fuse_ino_t parent, const struct blob_ref *ref,
    const char *name, struct inode *out)
{
	struct lru_entry *ne;
	const struct cat_entry *e;
	struct cat_node *n;
	struct inode p, *i;

	if (node_get(fs, ref, &ne) != IMDR_OK)
		return EIO;
	n = lru_value(ne);
	e = cat_node_find(n, name, strlen(name));
	if (e == NULL) {
		lru_release(fs->nodes, ne);
		return ENOENT;
	}
	proto_from_entry(&p, ref, e, (uint32_t)(e - cat_node_entry(n, 0)));
	lru_release(fs->nodes, ne);
	pthread_mutex_lock(&fs->imu);
	i = inode_get(fs, parent, name, &p);
	*out = *i;
	pthread_mutex_unlock(&fs->imu);
	return 0;
}

static void
fs_op_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct fs *fs = fs_of(req);
	struct blob_ref ref;
	struct inode p, got, *i;
	int err;

	if (fs->single < 0 && parent == INO_ROOT) {
		if (strcmp(name, "snapshots") == 0)
			reply_fixed_entry(req, fs, INO_SNAPS);
		else if (strcmp(name, "latest") == 0)
			reply_fixed_entry(req, fs, INO_LATEST);
		else if (strcmp(name, "at") == 0)
			reply_fixed_entry(req, fs, INO_AT);
		else if (strcmp(name, ".imdr") == 0)
			reply_fixed_entry(req, fs, INO_META);
		else
			fuse_reply_err(req, ENOENT);
		return;
	}
	if (fs->single < 0 && parent == INO_META) {
		if (strcmp(name, "stats") == 0)
			reply_fixed_entry(req, fs, INO_STATS);
		else
			fuse_reply_err(req, ENOENT);
		return;
	}
	if (fs->single < 0 && parent == INO_SNAPS) {
		long k;

		pthread_mutex_lock(&fs->smu);
		k = snap_by_display(fs, name);
		if (k < 0) {
			refresh_snapshots(fs, 1);	/* maybe a new one */
			k = snap_by_display(fs, name);
		}
		err = k < 0 ? ENOENT : snaproot_proto(fs, (size_t)k, &p);
		pthread_mutex_unlock(&fs->smu);
		if (err) {
			fuse_reply_err(req, err);
			return;
		}
		pthread_mutex_lock(&fs->imu);
		i = inode_get(fs, parent, name, &p);
		got = *i;
		pthread_mutex_unlock(&fs->imu);
		reply_entry(req, fs, &got);
		return;
	}
	if (fs->single < 0 && parent == INO_AT) {
		int64_t t, tend;
		long k;

		if (time_parse(name, &t, &tend) != 0) {
			fuse_reply_err(req, ENOENT);
			return;
		}
		memset(&p, 0, sizeof(p));
		pthread_mutex_lock(&fs->smu);
		refresh_snapshots(fs, 0);
		k = -1;
		for (size_t s = 0; s < fs->nsnaps; s++)
			if (fs->snaps[s].sn.time_ns <= tend)
				k = (long)s;
		if (k >= 0)
			p.target = xasprintf("../snapshots/%s", fs->snaps[k].display);
		pthread_mutex_unlock(&fs->smu);
		if (k < 0) {
			fuse_reply_err(req, ENOENT);
			return;
		}
		p.kind = K_ATLINK;
		p.type = CAT_SYMLINK;
		p.mode = 0777;
		p.size = strlen(p.target);
		p.mtime_ns = fs->mount_time;
		p.nlink = 1;
		pthread_mutex_lock(&fs->imu);
		i = inode_get(fs, parent, name, &p);
		if (strcmp(i->target, p.target) != 0) {	/* a newer snapshot came */
			free(i->target);
			i->target = xstrdup(p.target);
			i->size = p.size;
		}
		got = *i;
		pthread_mutex_unlock(&fs->imu);
		free(p.target);
		reply_entry(req, fs, &got);
		return;
	}
	if (fs->single >= 0 && parent == INO_ROOT)
		err = single_root(fs, &ref, NULL);
	else
		err = dir_ref_of(fs, parent, &ref);
	if (err == 0)
		err = lookup_in_node(fs, parent, &ref, name, &got);
	if (err)
		fuse_reply_err(req, err);
	else
		reply_entry(req, fs, &got);
}

static void
fs_op_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup)
{
	struct fs *fs = fs_of(req);

	pthread_mutex_lock(&fs->imu);
	inode_forget(fs, ino, nlookup);
	pthread_mutex_unlock(&fs->imu);
	fuse_reply_none(req);
}

static void
fs_op_forget_multi(fuse_req_t req, size_t count, struct fuse_forget_data *forgets)
{
	struct fs *fs = fs_of(req);

	pthread_mutex_lock(&fs->imu);
	for (size_t k = 0; k < count; k++)
		inode_forget(fs, forgets[k].ino, forgets[k].nlookup);
	pthread_mutex_unlock(&fs->imu);
	fuse_reply_none(req);
}

static void
fs_op_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct fs *fs = fs_of(req);
	struct stat st;
	struct inode *i, copy;
	int err;

	(void)fi;
	if (fs->single >= 0 && ino == INO_ROOT) {
		err = single_root(fs, NULL, &copy);
		if (err) {
			fuse_reply_err(req, err);
			return;
		}
		copy.ino = INO_ROOT;
		fill_attr(fs, &copy, &st);
		fuse_reply_attr(req, &st, CONTENT_TIMEOUT);
		return;
	}
	if (ino < INO_FIRST_DYNAMIC) {
		err = fixed_attr(fs, ino, &st);
		if (err)
			fuse_reply_err(req, err);
		else
			fuse_reply_attr(req, &st, timeout_for(fs, ino));
		return;
	}
	pthread_mutex_lock(&fs->imu);
	i = ino_find(fs, ino);
	if (i)
		copy = *i;
	pthread_mutex_unlock(&fs->imu);
	if (i == NULL) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	fill_attr(fs, &copy, &st);
	fuse_reply_attr(req, &st, copy.kind == K_ATLINK ? fs->cfg.refresh_secs : CONTENT_TIMEOUT);
}

static void
fs_op_readlink(fuse_req_t req, fuse_ino_t ino)
{
	struct fs *fs = fs_of(req);
	struct inode copy, *i;
	struct lru_entry *ne;
	char *target = NULL;

	if (fs->single < 0 && ino == INO_LATEST) {
		pthread_mutex_lock(&fs->smu);
		refresh_snapshots(fs, 0);
		if (fs->nsnaps)
			target = xasprintf("snapshots/%s", fs->snaps[fs->nsnaps - 1].display);
		pthread_mutex_unlock(&fs->smu);
		if (target == NULL)
			fuse_reply_err(req, ENOENT);
		else
			fuse_reply_readlink(req, target);
		free(target);
		return;
	}
	pthread_mutex_lock(&fs->imu);
	i = ino_find(fs, ino);
	if (i) {
		copy = *i;
		if (i->target)
			target = xstrdup(i->target);
	}
	pthread_mutex_unlock(&fs->imu);
	if (i == NULL || copy.type != CAT_SYMLINK) {
		fuse_reply_err(req, i == NULL ? ENOENT : EINVAL);
		return;
	}
	if (target == NULL) {
		if (node_get(fs, &copy.node, &ne) != IMDR_OK) {
			fuse_reply_err(req, EIO);
			return;
		}
		target = xstrdup(cat_node_entry(lru_value(ne), copy.index)->target);
		lru_release(fs->nodes, ne);
	}
	fuse_reply_readlink(req, target);
	free(target);
}

/* ---- directories ---- */

struct dirbuf {
	char *p;
	size_t size, used;
};

/* add_dirent: returns 0 when the entry did not fit. */
static int
add_dirent(fuse_req_t req, struct dirbuf *b, int plus, const char *name,
    const struct fuse_entry_param *ep, off_t next)
{
	size_t need;

	if (plus)
		need = fuse_add_direntry_plus(req, b->p + b->used, b->size - b->used,
		    name, ep, next);
	else
		need = fuse_add_direntry(req, b->p + b->used, b->size - b->used, name,
		    &ep->attr, next);
	if (need > b->size - b->used)
		return 0;
	b->used += need;
	return 1;
}

static void
fixed_entry_param(struct fs *fs, fuse_ino_t ino, struct fuse_entry_param *ep)
{
	memset(ep, 0, sizeof(*ep));
	ep->ino = ino;
	ep->generation = 1;
	fixed_attr(fs, ino, &ep->attr);
	ep->attr_timeout = ep->entry_timeout = timeout_for(fs, ino);
}

static void
readdir_common(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, int plus)
{
	struct fs *fs = fs_of(req);
	struct dirbuf b = { xmalloc(size), size, 0 };
	struct fuse_entry_param ep;
	struct blob_ref ref;
	int err = 0;

	/* "." and ".." come first (offsets 1 and 2); they are no lookups */
	if (off < 1) {
		memset(&ep, 0, sizeof(ep));
		ep.attr.st_ino = ino;
		ep.attr.st_mode = S_IFDIR;
		if (!add_dirent(req, &b, plus, ".", &ep, 1))
			goto done;
		off = 1;
	}
	if (off < 2) {
		struct inode *i;

		memset(&ep, 0, sizeof(ep));
		ep.attr.st_mode = S_IFDIR;
		ep.attr.st_ino = INO_ROOT;	/* readdir(3) hides d_ino 0 */
		pthread_mutex_lock(&fs->imu);
		if (ino > INO_STATS && (i = ino_find(fs, ino)) != NULL)
			ep.attr.st_ino = i->parent;
		else if (ino == INO_STATS)
			ep.attr.st_ino = INO_META;
		pthread_mutex_unlock(&fs->imu);
		if (!add_dirent(req, &b, plus, "..", &ep, 2))
			goto done;
		off = 2;
	}
	if (fs->single < 0 && ino == INO_ROOT) {
		static const struct { const char *name; fuse_ino_t ino; } top[] = {
			{ "snapshots", INO_SNAPS }, { "latest", INO_LATEST },
			{ "at", INO_AT }, { ".imdr", INO_META },
		};

		for (off_t k = off - 2; k < 4; k++) {
			if (top[k].ino == INO_LATEST && fixed_attr(fs, INO_LATEST, &ep.attr) != 0)
				continue;	/* no snapshots yet */
			fixed_entry_param(fs, top[k].ino, &ep);
			if (!add_dirent(req, &b, plus, top[k].name, &ep, k + 3))
				break;
		}
		goto done;
	}
	if (fs->single < 0 && ino == INO_META) {
		if (off - 2 < 1) {
			fixed_entry_param(fs, INO_STATS, &ep);
			add_dirent(req, &b, plus, "stats", &ep, 3);
		}
		goto done;
	}
	if (fs->single < 0 && ino == INO_AT)
		goto done;	/* any time can be looked up; none are listed */
	if (fs->single < 0 && ino == INO_SNAPS) {
		pthread_mutex_lock(&fs->smu);
		if (off == 2)
			refresh_snapshots(fs, 0);
		for (size_t k = (size_t)off - 2; k < fs->nsnaps; k++) {
			struct inode p, *i;

			if (plus) {
				if (snaproot_proto(fs, k, &p) != 0)
					continue;
				pthread_mutex_lock(&fs->imu);
				i = inode_get(fs, INO_SNAPS, fs->snaps[k].display, &p);
				memset(&ep, 0, sizeof(ep));
				ep.ino = i->ino;
				ep.generation = 1;
				fill_attr(fs, i, &ep.attr);
				pthread_mutex_unlock(&fs->imu);
				ep.attr_timeout = ep.entry_timeout = CONTENT_TIMEOUT;
			} else {
				memset(&ep, 0, sizeof(ep));
				ep.attr.st_mode = S_IFDIR;
				ep.attr.st_ino = (ino_t)-1;
			}
			if (!add_dirent(req, &b, plus, fs->snaps[k].display, &ep, (off_t)k + 3)) {
				if (plus) {	/* not sent: undo the lookup */
					pthread_mutex_lock(&fs->imu);
					inode_forget(fs, ep.ino, 1);
					pthread_mutex_unlock(&fs->imu);
				}
				break;
			}
		}
		pthread_mutex_unlock(&fs->smu);
		goto done;
	}
	if (fs->single >= 0 && ino == INO_ROOT)
		err = single_root(fs, &ref, NULL);
	else
		err = dir_ref_of(fs, ino, &ref);
	if (err == 0) {
		struct lru_entry *ne;
		struct cat_node *n;

		if (node_get(fs, &ref, &ne) != IMDR_OK) {
			err = EIO;
			goto done;
		}
		n = lru_value(ne);
		/* a reader of a folder often goes into its subfolders next
		 * (find, ls -R, cp -r, diff -r): fetch them in the background */
		if (off == 2 && fs->npthreads > 0) {
			int queued = 0;

			for (uint32_t k = 0; k < cat_node_count(n) && queued < 64; k++) {
				const struct cat_entry *e = cat_node_entry(n, k);

				if (e->type == CAT_DIR) {
					prefetch_job(fs, &e->subtree, 1);
					queued++;
				}
			}
		}
		for (uint32_t k = (uint32_t)off - 2; k < cat_node_count(n); k++) {
			const struct cat_entry *e = cat_node_entry(n, k);
			struct inode p;

			proto_from_entry(&p, &ref, e, k);
			memset(&ep, 0, sizeof(ep));
			if (plus) {
				struct inode *i;

				pthread_mutex_lock(&fs->imu);
				i = inode_get(fs, ino, e->name, &p);
				ep.ino = i->ino;
				fill_attr(fs, i, &ep.attr);
				pthread_mutex_unlock(&fs->imu);
				ep.generation = 1;
				ep.attr_timeout = ep.entry_timeout = CONTENT_TIMEOUT;
			} else {
				fill_attr(fs, &p, &ep.attr);
				ep.attr.st_ino = (ino_t)-1;	/* unknown until looked up */
			}
			if (!add_dirent(req, &b, plus, e->name, &ep, (off_t)k + 3)) {
				if (plus && ep.ino) {
					pthread_mutex_lock(&fs->imu);
					inode_forget(fs, ep.ino, 1);
					pthread_mutex_unlock(&fs->imu);
				}
				break;
			}
		}
		lru_release(fs->nodes, ne);
	}
done:
	if (err)
		fuse_reply_err(req, err);
	else
		fuse_reply_buf(req, b.p, b.used);
	free(b.p);
}

/* Opening a folder needs no state here. Answering ENOSYS (where the kernel
 * supports it) tells the kernel to stop sending OPENDIR and RELEASEDIR:
 * two round trips fewer per folder, which is a quarter of a cold `find`. */
static void
fs_op_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	(void)ino;
	if (fs_of(req)->no_opendir)
		fuse_reply_err(req, ENOSYS);
	else
		fuse_reply_open(req, fi);
}

static void
fs_op_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
    struct fuse_file_info *fi)
{
	(void)fi;
	readdir_common(req, ino, size, off, 0);
}

static void
fs_op_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
    struct fuse_file_info *fi)
{
	(void)fi;
	readdir_common(req, ino, size, off, 1);
}

/* ---- files ---- */

static char *
stats_text(struct fs *fs)
{
	struct lru_stats cs, ns;
	struct backend_stats bs;
	struct buf b = BUF_INIT;
	char rss[256] = "?";
	FILE *f;

	lru_get_stats(fs->chunks, &cs);
	lru_get_stats(fs->nodes, &ns);
	backend_get_stats(repo_backend(fs->r), &bs);
	f = fopen("/proc/self/status", "r");
	if (f) {
		char line[256];

		while (fgets(line, sizeof(line), f))
			if (strncmp(line, "VmRSS:", 6) == 0) {
				snprintf(rss, sizeof(rss), "%s", line + 6 + strspn(line + 6, " \t"));
				rss[strcspn(rss, "\n")] = '\0';
			}
		fclose(f);
	}
	pthread_mutex_lock(&fs->emu);
	buf_printf(&b, "repository      %s (%s)\n", backend_url(repo_backend(fs->r)),
	    backend_name(repo_backend(fs->r)));
	buf_printf(&b, "snapshots       %zu\n", fs->nsnaps);
	buf_printf(&b, "inodes          %zu\n", fs->n_inodes);
	buf_printf(&b, "chunk cache     %llu hits, %llu misses, %llu waits, %llu evictions, %zu entries, %zu of %zu bytes\n",
	    (unsigned long long)cs.hits, (unsigned long long)cs.misses,
	    (unsigned long long)cs.waits, (unsigned long long)cs.evictions, cs.entries,
	    cs.bytes, cs.limit);
	buf_printf(&b, "node cache      %llu hits, %llu misses, %zu entries, %zu of %zu bytes\n",
	    (unsigned long long)ns.hits, (unsigned long long)ns.misses, ns.entries,
	    ns.bytes, ns.limit);
	buf_printf(&b, "chunk fetches   %llu, %llu bytes, latency avg %.2f ms, max %.2f ms\n",
	    (unsigned long long)fs->fetches, (unsigned long long)fs->fetch_bytes,
	    fs->fetches ? (double)fs->fetch_ns / (double)fs->fetches / 1e6 : 0.0,
	    (double)fs->fetch_ns_max / 1e6);
	buf_printf(&b, "tree windows    %llu reads, %llu folders served from them\n",
	    (unsigned long long)fs->twin_reads, (unsigned long long)fs->twin_hits);
	buf_printf(&b, "prefetch        %llu jobs scheduled, %d threads\n",
	    (unsigned long long)fs->prefetch_jobs, fs->npthreads);
	buf_printf(&b, "read errors     %llu (EIO returned)\n", (unsigned long long)fs->eio_count);
	pthread_mutex_unlock(&fs->emu);
	buf_printf(&b, "backend %-7s gets %llu, bytes in %llu, errors %llu, get latency avg %.2f ms, max %.2f ms, lists %llu\n",
	    backend_name(repo_backend(fs->r)), (unsigned long long)bs.gets,
	    (unsigned long long)bs.bytes_in, (unsigned long long)bs.errors,
	    bs.gets ? (double)bs.get_ns_total / (double)bs.gets / 1e6 : 0.0,
	    (double)bs.get_ns_max / 1e6, (unsigned long long)bs.lists);
	if (fs->dc) {
		struct diskcache_stats ds;

		diskcache_get_stats(fs->dc, &ds);
		buf_printf(&b, "disk cache      %llu hits, %llu misses, %llu of %llu bytes\n",
		    (unsigned long long)ds.hits, (unsigned long long)ds.misses,
		    (unsigned long long)ds.bytes, (unsigned long long)ds.limit);
	}
	buf_printf(&b, "memory (RSS)    %s\n", rss);
	buf_cstr(&b);
	return (char *)buf_steal(&b, NULL);
}

/* folder-order prefetch: opening entries k-1 then k of one folder suggests
 * a reader going through it (cp -r, diff -r, cat *): fetch what follows. */
static void
prefetch_following_files(struct fs *fs, const struct blob_ref *node_ref,
    uint32_t index)
{
	struct lru_entry *ne;
	struct cat_node *n;
	uint64_t bytes = 0;
	int sequential;

	pthread_mutex_lock(&fs->pmu);
	sequential = memcmp(fs->last_open_node.id, node_ref->id, CRYPTO_ID_LEN) == 0 &&
	    fs->last_open_index + 1 == index;
	fs->last_open_node = *node_ref;
	fs->last_open_index = index;
	pthread_mutex_unlock(&fs->pmu);
	if (!sequential || fs->npthreads == 0)
		return;
	if (node_get(fs, node_ref, &ne) != IMDR_OK)
		return;
	n = lru_value(ne);
	for (uint32_t k = index + 1; k < cat_node_count(n) && k <= index + FILE_PREFETCH_COUNT &&
	    bytes < FILE_PREFETCH_BYTES; k++) {
		const struct cat_entry *e = cat_node_entry(n, k);

		if (e->type != CAT_FILE)
			continue;
		for (uint32_t c = 0; c < e->nchunks && bytes < FILE_PREFETCH_BYTES; c++) {
			struct blob_ref r;

			cat_chunk(n, e, c, &r, NULL);
			prefetch(fs, &r);
			bytes += r.raw_length;
		}
	}
	lru_release(fs->nodes, ne);
}

static void
fs_op_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct fs *fs = fs_of(req);
	struct inode copy, *i;

	if ((fi->flags & O_ACCMODE) != O_RDONLY) {
		fuse_reply_err(req, EROFS);
		return;
	}
	if (fs->single < 0 && ino == INO_STATS) {
		struct fh *fh = xcalloc(1, sizeof(*fh));

		fh->text = stats_text(fs);
		fi->fh = (uint64_t)(uintptr_t)fh;
		fi->direct_io = 1;
		fuse_reply_open(req, fi);
		return;
	}
	pthread_mutex_lock(&fs->imu);
	i = ino_find(fs, ino);
	if (i)
		copy = *i;
	pthread_mutex_unlock(&fs->imu);
	if (i == NULL || copy.type != CAT_FILE) {
		fuse_reply_err(req, i == NULL ? ENOENT : EISDIR);
		return;
	}
	fi->fh = (uint64_t)(uintptr_t)xcalloc(1, sizeof(struct fh));
	fi->keep_cache = 1;
	fuse_reply_open(req, fi);
	prefetch_following_files(fs, &copy.node, copy.index);
}

static struct fh *
fh_hold(struct fs *fs, struct fuse_file_info *fi)
{
	struct fh *fh = (struct fh *)(uintptr_t)fi->fh;

	pthread_mutex_lock(&fs->fhmu);
	fh->refs++;
	pthread_mutex_unlock(&fs->fhmu);
	return fh;
}

static void
fh_drop(struct fs *fs, struct fh *fh, int release)
{
	int dead;

	pthread_mutex_lock(&fs->fhmu);
	if (release)
		fh->released = 1;
	else
		fh->refs--;
	dead = fh->released && fh->refs == 0;
	pthread_mutex_unlock(&fs->fhmu);
	if (dead) {
		free(fh->text);
		free(fh);
	}
}

static void
fs_op_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	(void)ino;
	fh_drop(fs_of(req), (struct fh *)(uintptr_t)fi->fh, 1);
	fuse_reply_err(req, 0);
}

static void
read_held(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fh *fh)
{
	struct fs *fs = fs_of(req);
	struct lru_entry *held[16], *ne = NULL;
	struct iovec iov[16];
	const struct cat_entry *e;
	struct cat_node *n;
	struct inode copy, *i;
	uint64_t pos, end;
	int nheld = 0, err = 0;

	if (fs->single < 0 && ino == INO_STATS) {
		const char *text = fh->text;
		size_t len = strlen(text);

		if ((size_t)off >= len)
			fuse_reply_buf(req, NULL, 0);
		else
			fuse_reply_buf(req, text + off, len - (size_t)off < size ? len - (size_t)off : size);
		return;
	}
	pthread_mutex_lock(&fs->imu);
	i = ino_find(fs, ino);
	if (i)
		copy = *i;
	pthread_mutex_unlock(&fs->imu);
	if (i == NULL) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	if ((uint64_t)off >= copy.size || size == 0) {
		fuse_reply_buf(req, NULL, 0);
		return;
	}
	end = (uint64_t)off + size;
	if (end > copy.size)
		end = copy.size;
	if (node_get(fs, &copy.node, &ne) != IMDR_OK) {
		fuse_reply_err(req, EIO);
		return;
	}
	n = lru_value(ne);
	e = cat_node_entry(n, copy.index);
	pos = (uint64_t)off;
	while (pos < end && nheld < 16) {
		struct blob_ref r;
		uint64_t start;
		uint32_t k = cat_chunk_at(n, e, pos, &r, &start);
		struct chunk *ch;
		size_t from, len;

		if (chunk_get(fs, &r, &held[nheld]) != IMDR_OK) {
			err = EIO;
			break;
		}
		ch = lru_value(held[nheld]);
		from = ch->off + (size_t)(pos - start);
		len = ch->b.len - from;
		if (len > end - pos)
			len = (size_t)(end - pos);
		iov[nheld].iov_base = ch->b.data + from;
		iov[nheld].iov_len = len;
		nheld++;
		pos += len;
		/* sequential reader: keep the next chunks coming */
		pthread_mutex_lock(&fs->fhmu);
		if (fs->cfg.prefetch_chunks > 0 && (fh->sequential || off == 0 ||
		    (uint64_t)off == fh->next_off)) {
			uint32_t last = k + (uint32_t)fs->cfg.prefetch_chunks;

			fh->sequential = 1;
			if (fh->prefetched_to < k + 1)
				fh->prefetched_to = k + 1;
			for (; fh->prefetched_to <= last && fh->prefetched_to < e->nchunks;
			    fh->prefetched_to++) {
				struct blob_ref pr;

				cat_chunk(n, e, fh->prefetched_to, &pr, NULL);
				prefetch(fs, &pr);
			}
		}
		pthread_mutex_unlock(&fs->fhmu);
	}
	pthread_mutex_lock(&fs->fhmu);
	if ((uint64_t)off != fh->next_off && off != 0)
		fh->sequential = 0;
	fh->next_off = pos;
	pthread_mutex_unlock(&fs->fhmu);
	if (err)
		fuse_reply_err(req, err);
	else
		fuse_reply_iov(req, iov, nheld);
	for (int k = 0; k < nheld; k++)
		lru_release(fs->chunks, held[k]);
	lru_release(fs->nodes, ne);
}

static void
fs_op_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
    struct fuse_file_info *fi)
{
	struct fs *fs = fs_of(req);
	struct fh *fh = fh_hold(fs, fi);

	read_held(req, ino, size, off, fh);
	fh_drop(fs, fh, 0);
}

static void
fs_op_statfs(fuse_req_t req, fuse_ino_t ino)
{
	struct fs *fs = fs_of(req);
	struct statvfs sv;
	uint64_t bytes = 0;

	(void)ino;
	memset(&sv, 0, sizeof(sv));
	pthread_mutex_lock(&fs->smu);
	for (size_t k = 0; k < fs->nsnaps; k++)
		if (fs->snaps[k].loaded)
			bytes += fs->snaps[k].loaded->bytes;
	pthread_mutex_unlock(&fs->smu);
	sv.f_bsize = 4096;
	sv.f_frsize = 4096;
	sv.f_blocks = bytes / 4096;
	sv.f_files = fs->n_inodes + 6;
	sv.f_namemax = 255;
	sv.f_flag = ST_RDONLY;
	fuse_reply_statfs(req, &sv);
}

static void
fs_op_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name, size_t size)
{
	(void)ino;
	(void)name;
	(void)size;
	fuse_reply_err(req, ENODATA);
}

static void
fs_op_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size)
{
	(void)ino;
	if (size == 0)
		fuse_reply_xattr(req, 0);
	else
		fuse_reply_buf(req, NULL, 0);
}

static const struct fuse_lowlevel_ops fs_ops = {
	.init = fs_op_init,
	.lookup = fs_op_lookup,
	.forget = fs_op_forget,
	.forget_multi = fs_op_forget_multi,
	.getattr = fs_op_getattr,
	.readlink = fs_op_readlink,
	.open = fs_op_open,
	.read = fs_op_read,
	.release = fs_op_release,
	.opendir = fs_op_opendir,
	.readdir = fs_op_readdir,
	.readdirplus = fs_op_readdirplus,
	.statfs = fs_op_statfs,
	.getxattr = fs_op_getxattr,
	.listxattr = fs_op_listxattr,
};

/* ---- running ---- */

static void
fs_free(struct fs *fs)
{
	if (fs->warm_started)
		pthread_join(fs->warm, NULL);
	if (fs->pthreads) {
		pthread_mutex_lock(&fs->pmu);
		fs->pstop = 1;
		pthread_cond_broadcast(&fs->pcv);
		pthread_mutex_unlock(&fs->pmu);
		for (int k = 0; k < fs->npthreads; k++)
			pthread_join(fs->pthreads[k], NULL);
		free(fs->pthreads);
	}
	while (fs->phead) {
		struct job *j = fs->phead;

		fs->phead = j->next;
		free(j);
	}
	for (size_t b = 0; b < fs->icap; b++) {
		struct inode *i = fs->itab[b];

		while (i) {
			struct inode *next = i->hnext;

			free(i->name);
			free(i->target);
			free(i);
			i = next;
		}
	}
	free(fs->itab);
	free(fs->ktab);
	snaps_free(fs->snaps, fs->nsnaps);
	lru_free(fs->chunks);
	lru_free(fs->nodes);
	for (int k = 0; k < TWIN_N; k++)
		buf_free(&fs->twin[k].data);
	diskcache_free(fs->dc);
	idset_free(fs->logged);
	repo_free(fs->r);
	free(fs);
	pool_drain();
}

int
fs_run(struct repo *r, const struct fs_config *cfg, int argc, char **argv,
    const char *mountpoint, int foreground)
{
	struct fuse_args args = FUSE_ARGS_INIT(argc, argv);
	struct fs *fs = xcalloc(1, sizeof(*fs));
	int rc = 1;

	fs->r = r;
	fs->cfg = *cfg;
	fs->uid = getuid();
	fs->gid = getgid();
	fs->mount_time = time_now_ns();
	fs->single = -1;
	fs->icap = 4096;
	fs->itab = xcalloc(fs->icap, sizeof(*fs->itab));
	fs->ktab = xcalloc(fs->icap, sizeof(*fs->ktab));
	pthread_mutex_init(&fs->imu, NULL);
	pthread_mutex_init(&fs->smu, NULL);
	pthread_mutex_init(&fs->pmu, NULL);
	pthread_mutex_init(&fs->emu, NULL);
	pthread_mutex_init(&fs->wmu, NULL);
	pthread_mutex_init(&fs->fhmu, NULL);
	pthread_cond_init(&fs->pcv, NULL);
	fs->logged = idset_new();
	fs->nodes = lru_new(cfg->node_cache_bytes, node_dispose);
	fs->chunks = lru_new(cfg->chunk_cache_bytes, chunk_dispose);

	/* Everything that can fail for a reason the user should see happens
	 * before mounting, so a failed mount leaves nothing behind. */
	pthread_mutex_lock(&fs->smu);
	rc = refresh_snapshots(fs, 1);
	if (rc == IMDR_OK && cfg->single) {
		size_t k;

		struct snapshot_name *names = xcalloc(fs->nsnaps ? fs->nsnaps : 1, sizeof(*names));

		for (size_t s = 0; s < fs->nsnaps; s++)
			names[s] = fs->snaps[s].sn;
		rc = snapshot_resolve_name(names, fs->nsnaps, cfg->single, &k);
		free(names);
		if (rc == IMDR_OK) {
			fs->single = (long)k;
			if (snap_loaded(fs, k) == NULL)
				rc = IMDR_EIO;
		}
	}
	pthread_mutex_unlock(&fs->smu);
	if (rc) {
		warn0("%s", err_msg(rc));
		rc = 1;
		goto out;
	}
	if (cfg->cache_dir) {
		rc = diskcache_open(cfg->cache_dir, cfg->cache_dir_bytes, repo_config(r)->id, &fs->dc);
		if (rc) {
			warn0("%s", err_msg(rc));
			rc = 1;
			goto out;
		}
	}
	rc = 1;
	fs->se = fuse_session_new(&args, &fs_ops, sizeof(fs_ops), fs);
	if (fs->se == NULL)
		goto out;
	if (fuse_set_signal_handlers(fs->se) != 0)
		goto out_session;
	if (fuse_session_mount(fs->se, mountpoint) != 0)
		goto out_signals;
	if (fuse_daemonize(foreground) != 0)
		goto out_unmount;
	if (!foreground)
		log_use_syslog();
	/* threads only after daemonizing: fork keeps just the caller */
	fs->warm_started = pthread_create(&fs->warm, NULL, warm_main, fs) == 0;
	fs->npthreads = cfg->prefetch_threads;
	if (fs->npthreads > 0) {
		fs->pthreads = xcalloc((size_t)fs->npthreads, sizeof(pthread_t));
		for (int k = 0; k < fs->npthreads; k++)
			pthread_create(&fs->pthreads[k], NULL, prefetch_main, fs);
	}
	{
		struct fuse_loop_config *lc = fuse_loop_cfg_create();

		/* each worker holds a 1 MiB request buffer: bound them */
		fuse_loop_cfg_set_max_threads(lc, 10);
		fuse_loop_cfg_set_idle_threads(lc, 8);
		rc = fuse_session_loop_mt(fs->se, lc);
		fuse_loop_cfg_destroy(lc);
	}
	/* a signal that asked us to stop is a clean exit */
	rc = !(rc == 0 || rc == SIGTERM || rc == SIGINT || rc == SIGHUP);
out_unmount:
	while (__atomic_load_n(&fs->inval_running, __ATOMIC_ACQUIRE) > 0)
		usleep(1000);
	fuse_session_unmount(fs->se);
out_signals:
	fuse_remove_signal_handlers(fs->se);
out_session:
	fuse_session_destroy(fs->se);
out:
	fuse_opt_free_args(&args);
	fs_free(fs);
	return rc;
}
