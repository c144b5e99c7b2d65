/* cache — what the mount keeps in memory, over the repository's blob
 * reader (which owns ranged reads, tree windows, the disk cache and the
 * buffer pool):
 *
 * Node cache: decoded tree nodes by blob id, charged their decoded size,
 * bounded by node_cache_bytes. Chunk cache: decrypted chunks by blob id,
 * charged their buffer's size, bounded by chunk_cache_bytes; a chunk
 * whose bytes have all gone to readers is the first to leave when room is
 * needed (chunk_release: the kernel keeps the file's pages, and a chunk
 * read once is rarely read again from here; but kept while nothing else
 * wants the room, it still serves a file read just now when the kernel
 * has let the pages go and the repository is gone, issue #11), else the
 * least recently used first, and its buffer goes back to the reader's
 * pool. So what is read ahead and what is half read never make room for
 * what was read in full: reading every file of a workspace kept the cache
 * full of those, and a new buffer for every chunk was a page fault and a
 * zeroed page for every 4 KiB. Both single-flight
 * (lib/lru.h): however many readers miss at once, one fetch. A cached chunk
 * is used only for a reference whose raw length matches its plaintext
 * (two references to one id must agree, or the read fails).
 *
 * Prefetch: a small pool of threads fetches, into those caches, chunks a
 * sequential reader will want next and folders a walker will open next,
 * from a queue of at most PREFETCH_QUEUE jobs. */
#include <stdlib.h>
#include <string.h>

#include "fs/fs_impl.h"
#include "lib/err.h"
#include "lib/hex.h"
#include "lib/log.h"
#include "lib/timefmt.h"

#define PREFETCH_QUEUE 256
#define FILE_PREFETCH_BYTES (4u << 20)
#define FILE_PREFETCH_COUNT 16
#define SUBDIR_PREFETCH 64
#define SPENT_SLOTS 1024	/* chunks remembered as read in full */

static void
node_dispose(void *v)
{
	cat_node_free(v);
}

static void
chunk_dispose(void *v)
{
	struct chunk *c = v;

	repo_buf_recycle(c->r, &c->b);
	free(c);
}

/* stream_bytes: the chunk cache's bound while a large file is read
 * sequentially (fs/ops.c keep_coming): room for prefetch_chunks chunks of
 * the average size in 3/4 of it, as window() allows, never less than the
 * cache's own bound nor more than four times it; the room goes back when
 * the file is closed. A cold 512 MiB file from a local repository (5 runs
 * each, medians): 5 chunks ahead in 8 MiB 958 MiB/s, 12 ahead in 16 MiB
 * 1,132 MiB/s (the cache grown by hand); with direct reads 5 ahead 1,050,
 * 8 ahead (10.7 MiB) 1,228, 10 ahead (13.3 MiB) 1,322 MiB/s, but the
 * latter raised the daemon's peak on a 20,000-conversation workspace
 * past 64 MB (mount.imdr defaults to 8 for a local repository). */
static size_t
stream_bytes(const struct fs *fs)
{
	size_t base = fs->cfg.chunk_cache_bytes;
	uint64_t want = (uint64_t)fs->cfg.prefetch_chunks * repo_config(fs->r)->chunk_avg / 3 * 4;

	if (want > (uint64_t)base * 4)
		want = (uint64_t)base * 4;
	return want > base ? (size_t)want : base;
}

void
caches_init(struct fs *fs)
{
	fs->logged = idset_new();
	fs->nodes = lru_new(fs->cfg.node_cache_bytes, node_dispose);
	fs->chunks = lru_new(fs->cfg.chunk_cache_bytes, chunk_dispose);
	/* what is read ahead may use 3/4 of the cache (fs/ops.c window()):
	 * what was read in full keeps no more than the rest */
	lru_set_spent_limit(fs->chunks, fs->cfg.chunk_cache_bytes / 4);
	fs->stream_cache_bytes = stream_bytes(fs);
	fs->spent = xcalloc(SPENT_SLOTS, sizeof(*fs->spent));
}

void
caches_free(struct fs *fs)
{
	lru_free(fs->chunks);
	lru_free(fs->nodes);
	idset_free(fs->logged);
	free(fs->spent);
}

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

struct load_ctx {
	struct fs *fs;
	const struct blob_ref *ref;
};

static int
node_load(void *ctx, const uint8_t key[32], void **ret, size_t *ret_size)
{
	struct load_ctx *c = ctx;
	struct cat_node *node;
	int rc;

	(void)key;
	rc = cat_node_load(c->fs->r, c->ref, &node);
	if (rc)
		return rc;
	*ret = node;
	*ret_size = cat_node_mem(node);
	return IMDR_OK;
}

static int
chunk_load(void *ctx, const uint8_t key[32], void **ret, size_t *ret_size)
{
	struct load_ctx *c = ctx;
	struct fs *fs = c->fs;
	struct chunk *ch = xcalloc(1, sizeof(*ch));
	int64_t t0 = time_mono_ns();
	uint64_t dt;
	int rc;

	(void)key;
	ch->r = fs->r;
	rc = repo_blob_read_buf(fs->r, BLOB_DATA, c->ref, &ch->b, &ch->off);
	dt = (uint64_t)(time_mono_ns() - t0);
	pthread_mutex_lock(&fs->emu);
	fs->fetches++;
	fs->fetch_bytes += c->ref->length;
	fs->fetch_ns += dt;
	if (dt > fs->fetch_ns_max)
		fs->fetch_ns_max = dt;
	pthread_mutex_unlock(&fs->emu);
	if (rc) {
		chunk_dispose(ch);
		return rc;
	}
	*ret = ch;
	*ret_size = ch->b.cap + sizeof(*ch);
	return IMDR_OK;
}

/* cache_get: ref's value from cache c, loaded by load on a miss; a failure
 * is logged once per blob and becomes EIO for the caller. */
static int
cache_get(struct fs *fs, struct lru *c, lru_load_fn load, const struct blob_ref *ref,
    struct lru_entry **ret)
{
	struct load_ctx ctx = { fs, ref };
	int rc = lru_get(c, ref->id, load, &ctx, ret);

	if (rc) {
		log_blob_error(fs, ref->id, rc);
		err_clear();
	}
	return rc;
}

int
node_get(struct fs *fs, const struct blob_ref *ref, struct lru_entry **ret)
{
	return cache_get(fs, fs->nodes, node_load, ref, ret);
}

int
chunk_get(struct fs *fs, const struct blob_ref *ref, struct lru_entry **ret)
{
	struct chunk *ch;
	int rc = cache_get(fs, fs->chunks, chunk_load, ref, ret);

	if (rc)
		return rc;
	ch = lru_value(*ret);
	if (ch->b.len - ch->off != ref->raw_length) {
		char hex[65];

		lru_release(fs->chunks, *ret);
		hex_encode(ref->id, CRYPTO_ID_LEN, hex);
		rc = err_set(IMDR_EFORMAT, "blob %.16s: a tree names it with %u bytes, it holds %zu",
		    hex, ref->raw_length, ch->b.len - ch->off);
		log_blob_error(fs, ref->id, rc);
		err_clear();
		return rc;
	}
	return IMDR_OK;
}

static size_t
spent_slot(const uint8_t *id)
{
	return ((size_t)id[0] | (size_t)id[1] << 8) % SPENT_SLOTS;
}

/* spent: id was read in full lately. Caller holds pmu. */
static int
spent(struct fs *fs, const uint8_t *id)
{
	return memcmp(fs->spent[spent_slot(id)], id, CRYPTO_ID_LEN) == 0;
}

void
chunk_release(struct fs *fs, struct lru_entry *e, size_t n, const uint8_t *id)
{
	struct chunk *ch = lru_value(e);

	if (__atomic_add_fetch(&ch->served, n, __ATOMIC_RELAXED) >= ch->b.len - ch->off) {
		pthread_mutex_lock(&fs->pmu);
		memcpy(fs->spent[spent_slot(id)], id, CRYPTO_ID_LEN);
		pthread_mutex_unlock(&fs->pmu);
		lru_release_demote(fs->chunks, e);
	} else {
		lru_release(fs->chunks, e);
	}
}

/* ---- prefetch ---- */

static void
queue_job(struct fs *fs, const struct blob_ref *refs, uint32_t n, int tree)
{
	struct job *j;

	pthread_mutex_lock(&fs->pmu);
	if (fs->pqueued >= PREFETCH_QUEUE) {	/* a bound, not a target */
		pthread_mutex_unlock(&fs->pmu);
		return;
	}
	j = xmalloc(sizeof(*j));
	j->next = NULL;
	memcpy(j->refs, refs, n * sizeof(*refs));
	j->n = n;
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

void
prefetch_job(struct fs *fs, const struct blob_ref *ref, int tree)
{
	if (fs->npthreads == 0 || lru_contains(tree ? fs->nodes : fs->chunks, ref->id))
		return;
	queue_job(fs, ref, 1, tree);
}

void
prefetch_run(struct fs *fs, const struct blob_ref *refs, uint32_t n)
{
	/* what the cache holds (or loads) at either end is left out */
	while (n > 0 && lru_contains(fs->chunks, refs[0].id)) {
		refs++;
		n--;
	}
	while (n > 0 && lru_contains(fs->chunks, refs[n - 1].id))
		n--;
	if (fs->npthreads > 0 && n > 0)
		queue_job(fs, refs, n, 0);
}

struct adopt {
	struct fs *fs;
	const uint8_t *pt;
	size_t n;
};

/* adopt_load: a chunk the run read, into the cache. */
static int
adopt_load(void *ctx, const uint8_t key[32], void **ret, size_t *ret_size)
{
	struct adopt *a = ctx;
	struct chunk *ch = xcalloc(1, sizeof(*ch));

	(void)key;
	ch->r = a->fs->r;
	buf_append(&ch->b, a->pt, a->n);
	*ret = ch;
	*ret_size = ch->b.cap + sizeof(*ch);
	return IMDR_OK;
}

struct run_ctx {
	struct fs *fs;
	const struct job *j;
};

static int
run_blob(void *ctx, size_t i, int rc, const uint8_t *pt, size_t n)
{
	struct run_ctx *c = ctx;
	struct fs *fs = c->fs;
	const struct job *j = c->j;
	struct adopt a = { fs, pt, n };
	struct lru_entry *e;

	if (rc) {
		log_blob_error(fs, j->refs[i].id, rc);
		err_clear();
		return IMDR_OK;
	}
	if (lru_get(fs->chunks, j->refs[i].id, adopt_load, &a, &e) == IMDR_OK)
		lru_release(fs->chunks, e);
	return IMDR_OK;
}

/* run_fetch: a run of chunks with one request. */
static void
run_fetch(struct fs *fs, struct job *j)
{
	struct run_ctx c = { fs, j };
	int64_t t0 = time_mono_ns();
	uint64_t dt, bytes = 0;
	int rc;

	rc = repo_blobs_read(fs->r, BLOB_DATA, j->refs, j->n, run_blob, &c);
	if (rc) {
		err_clear();	/* readers will fetch what is missing, and say why */
		return;
	}
	dt = (uint64_t)(time_mono_ns() - t0);
	for (uint32_t i = 0; i < j->n; i++)
		bytes += j->refs[i].length;
	pthread_mutex_lock(&fs->emu);
	fs->fetches++;
	fs->fetch_bytes += bytes;
	fs->fetch_ns += dt;
	if (dt > fs->fetch_ns_max)
		fs->fetch_ns_max = dt;
	pthread_mutex_unlock(&fs->emu);
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
		/* what a reader has read meanwhile is not read again: at
		 * either end of a run (a run is one request) */
		while (!j->tree && j->n > 0 && spent(fs, j->refs[0].id)) {
			memmove(j->refs, j->refs + 1, --j->n * sizeof(j->refs[0]));
			fs->prefetch_skipped++;
		}
		while (!j->tree && j->n > 0 && spent(fs, j->refs[j->n - 1].id)) {
			j->n--;
			fs->prefetch_skipped++;
		}
		pthread_mutex_unlock(&fs->pmu);
		if (j->tree) {
			if (node_get(fs, &j->refs[0], &e) == IMDR_OK)
				lru_release(fs->nodes, e);
		} else if (j->n == 0) {
			;	/* all read meanwhile */
		} else if (j->n > 1) {
			run_fetch(fs, j);
		} else if (chunk_get(fs, &j->refs[0], &e) == IMDR_OK)
			lru_release(fs->chunks, e);
		free(j);
	}
	repo_thread_cleanup();
	return NULL;
}

void
prefetch_start(struct fs *fs, int nthreads)
{
	fs->npthreads = nthreads;
	if (nthreads <= 0)
		return;
	fs->pthreads = xcalloc((size_t)nthreads, sizeof(pthread_t));
	for (int k = 0; k < nthreads; k++)
		pthread_create(&fs->pthreads[k], NULL, prefetch_main, fs);
}

void
prefetch_stop(struct fs *fs)
{
	if (fs->pthreads) {
		pthread_mutex_lock(&fs->pmu);
		fs->pstop = 1;
		pthread_cond_broadcast(&fs->pcv);
		pthread_mutex_unlock(&fs->pmu);
		for (int k = 0; k < fs->npthreads; k++)
			pthread_join(fs->pthreads[k], NULL);
		free(fs->pthreads);
		fs->pthreads = NULL;
	}
	while (fs->phead) {
		struct job *j = fs->phead;

		fs->phead = j->next;
		free(j);
	}
}

void
prefetch_subdirs(struct fs *fs, const struct cat_node *n)
{
	int queued = 0;

	if (fs->npthreads == 0)
		return;
	for (uint32_t k = 0; k < cat_node_count(n) && queued < SUBDIR_PREFETCH; k++) {
		const struct cat_entry *e = cat_node_entry(n, k);

		if (e->type == CAT_DIR) {
			prefetch_job(fs, &e->subtree, 1);
			queued++;
		}
	}
}

void
prefetch_following_files(struct fs *fs, const struct blob_ref *node_ref, uint32_t index)
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
			prefetch_job(fs, &r, 0);
			bytes += r.raw_length;
		}
	}
	lru_release(fs->nodes, ne);
}
