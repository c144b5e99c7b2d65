/* blobread — the one blob reader (repo.h, "the blob reader").
 *
 * Data blobs: a ranged read of exactly the blob (through the sealed disk
 * cache when one is configured), into a buffer from a small pool, and
 * decrypted in place.
 *
 * Tree blobs: read through windows of their pack. Folders of a snapshot
 * are written bottom-up into the same packs, a parent after its children,
 * so the bytes before a node hold the nodes a reader goes to next; one
 * ranged read of the window that ends at the node serves many folders,
 * each still authenticated on its own. A node larger than a quarter of a
 * window is read alone.
 *
 * Policy of the windows: WIN_N slots of window_bytes / WIN_N each; a miss
 * replaces the least recently used slot. Policy of the buffer pool: at most
 * POOL_MAX buffers of 64 KiB or more, POOL_BYTES in all; what does not fit
 * is freed. Both are bounded in bytes whatever the repository's size. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "lib/err.h"
#include "repo/diskcache.h"
#include "repo/repo_impl.h"

#define WIN_N 4
#define WIN_BYTES_DEFAULT (2u << 20)
#define POOL_MAX 16
#define POOL_BYTES (4u << 20)

struct window {
	uint8_t pack[CRYPTO_ID_LEN];
	uint64_t start;
	struct buf data;
	uint64_t used;		/* clock of the last use */
};

struct blobread {
	struct repo *r;
	struct diskcache *dc;

	pthread_mutex_t wmu;
	struct window win[WIN_N];
	size_t win_bytes;	/* of one window */
	uint64_t clock, win_reads, win_hits;

	pthread_mutex_t pmu;
	struct buf pool[POOL_MAX];
	size_t npool, pool_bytes;
};

struct blobread *
blobread_new(struct repo *r)
{
	struct blobread *rd = xcalloc(1, sizeof(*rd));

	rd->r = r;
	rd->win_bytes = WIN_BYTES_DEFAULT / WIN_N;
	pthread_mutex_init(&rd->wmu, NULL);
	pthread_mutex_init(&rd->pmu, NULL);
	return rd;
}

void
blobread_free(struct blobread *rd)
{
	if (rd == NULL)
		return;
	for (int k = 0; k < WIN_N; k++)
		buf_free(&rd->win[k].data);
	for (size_t i = 0; i < rd->npool; i++)
		buf_free(&rd->pool[i]);
	diskcache_free(rd->dc);
	pthread_mutex_destroy(&rd->wmu);
	pthread_mutex_destroy(&rd->pmu);
	free(rd);
}

int
repo_reader_configure(struct repo *r, const struct repo_reader_config *c)
{
	struct blobread *rd = repo_reader(r);
	int rc;

	if (c->window_bytes)
		rd->win_bytes = c->window_bytes / WIN_N;
	if (c->cache_dir && rd->dc == NULL) {
		rc = diskcache_open(c->cache_dir, c->cache_dir_bytes, repo_config(r)->id, &rd->dc);
		if (rc)
			return rc;
	}
	return IMDR_OK;
}

/* ---- buffer pool ---- */

/* pool_take: a pooled buffer of at least want bytes into an empty b, if
 * the pool has one. */
static void
pool_take(struct blobread *rd, struct buf *b, size_t want)
{
	if (b->cap >= want)
		return;
	pthread_mutex_lock(&rd->pmu);
	for (size_t i = rd->npool; i-- > 0;) {
		if (rd->pool[i].cap >= want) {
			buf_free(b);
			*b = rd->pool[i];
			rd->pool[i] = rd->pool[--rd->npool];
			rd->pool_bytes -= b->cap;
			break;
		}
	}
	pthread_mutex_unlock(&rd->pmu);
	b->len = 0;
}

void
repo_buf_recycle(struct repo *r, struct buf *b)
{
	struct blobread *rd = repo_reader(r);

	pthread_mutex_lock(&rd->pmu);
	if (b->cap >= (64u << 10) && rd->npool < POOL_MAX &&
	    rd->pool_bytes + b->cap <= POOL_BYTES) {
		rd->pool[rd->npool++] = *b;
		rd->pool_bytes += b->cap;
		*b = (struct buf)BUF_INIT;
	}
	pthread_mutex_unlock(&rd->pmu);
	buf_free(b);
}

/* ---- sealed bytes ---- */

static int
get_range(struct repo *r, const uint8_t pack[CRYPTO_ID_LEN], uint64_t off,
    uint64_t len, struct buf *out)
{
	char name[80];

	repo_pack_name(pack, name);
	out->len = 0;
	return backend_get(repo_be(r), name, off, len, out);
}

/* window_find: the sealed bytes of ref from a window into out; 1 if held. */
static int
window_find(struct blobread *rd, const struct blob_ref *ref, struct buf *out)
{
	int found = 0;

	pthread_mutex_lock(&rd->wmu);
	for (int k = 0; k < WIN_N; k++) {
		struct window *w = &rd->win[k];

		if (w->data.len && memcmp(w->pack, ref->pack, CRYPTO_ID_LEN) == 0 &&
		    ref->offset >= w->start &&
		    ref->offset + ref->length <= w->start + w->data.len) {
			out->len = 0;
			buf_append(out, w->data.data + (ref->offset - w->start), ref->length);
			w->used = ++rd->clock;
			rd->win_hits++;
			found = 1;
			break;
		}
	}
	pthread_mutex_unlock(&rd->wmu);
	return found;
}

/* window_fetch: read the window of ref's pack that ends where ref ends into
 * the least recently used slot, and copy ref's bytes out. */
static int
window_fetch(struct blobread *rd, const struct blob_ref *ref, struct buf *out)
{
	uint64_t end = ref->offset + ref->length;
	uint64_t start = end > rd->win_bytes ? end - rd->win_bytes : 0;
	struct buf win = BUF_INIT;
	struct window *w;
	int rc;

	if (start > ref->offset)
		start = ref->offset;
	rc = get_range(rd->r, ref->pack, start, end - start, &win);
	if (rc) {
		buf_free(&win);
		return rc;
	}
	out->len = 0;
	buf_append(out, win.data + (ref->offset - start), ref->length);
	pthread_mutex_lock(&rd->wmu);
	w = &rd->win[0];
	for (int k = 1; k < WIN_N; k++)
		if (rd->win[k].used < w->used)
			w = &rd->win[k];
	buf_free(&w->data);
	memcpy(w->pack, ref->pack, CRYPTO_ID_LEN);
	w->start = start;
	w->data = win;
	w->used = ++rd->clock;
	rd->win_reads++;
	pthread_mutex_unlock(&rd->wmu);
	return IMDR_OK;
}

/* read_sealed: the sealed bytes of ref into b, from wherever they are
 * cheapest; *ret_cached tells the caller they came from the disk cache. */
static int
read_sealed(struct blobread *rd, enum blob_type type, const struct blob_ref *ref,
    struct buf *b, int *ret_cached)
{
	*ret_cached = 0;
	if (type == BLOB_TREE && ref->length <= rd->win_bytes / 4) {
		if (window_find(rd, ref, b))
			return IMDR_OK;
		return window_fetch(rd, ref, b);
	}
	if (rd->dc && type == BLOB_DATA && diskcache_get(rd->dc, ref, b)) {
		*ret_cached = 1;
		return IMDR_OK;
	}
	pool_take(rd, b, ref->length);
	return get_range(rd->r, ref->pack, ref->offset, ref->length, b);
}

int
repo_blob_read_buf(struct repo *r, enum blob_type type, const struct blob_ref *ref,
    struct buf *b, size_t *ret_off)
{
	struct blobread *rd = repo_reader(r);
	struct buf copy = BUF_INIT;
	int rc, cached;

	rc = read_sealed(rd, type, ref, b, &cached);
	if (rc)
		return rc;
	/* the disk cache keeps sealed bytes: copy them before they are
	 * decrypted in place, and keep them only once they authenticate */
	if (rd->dc && type == BLOB_DATA && !cached)
		buf_append(&copy, b->data, b->len);
	rc = repo_blob_open_buf(r, type, ref, b, ret_off);
	if (rd->dc && type == BLOB_DATA) {
		if (rc == IMDR_OK && !cached)
			diskcache_put(rd->dc, ref, &copy);
		else if (rc != IMDR_OK && cached) {
			/* damaged on disk: drop it and read the repository */
			diskcache_drop(rd->dc, ref);
			err_clear();
			b->len = 0;
			pool_take(rd, b, ref->length);
			rc = get_range(r, ref->pack, ref->offset, ref->length, b);
			if (rc == IMDR_OK)
				buf_append(&copy, b->data, b->len);
			if (rc == IMDR_OK)
				rc = repo_blob_open_buf(r, type, ref, b, ret_off);
			if (rc == IMDR_OK)
				diskcache_put(rd->dc, ref, &copy);
		}
	}
	buf_free(&copy);
	return rc;
}

int
repo_blob_read(struct repo *r, enum blob_type type, const struct blob_ref *ref,
    struct buf *out)
{
	struct buf b = BUF_INIT;
	size_t off;
	int rc;

	rc = repo_blob_read_buf(r, type, ref, &b, &off);
	out->len = 0;
	if (rc == IMDR_OK)
		buf_append(out, b.data + off, b.len - off);
	repo_buf_recycle(r, &b);
	return rc;
}

/* ---- many blobs at once ---- */

struct frange {
	uint8_t pack[CRYPTO_ID_LEN];
	uint64_t start, end;
	size_t first, n;	/* into the sorted order */
};

struct fetch {
	struct repo *r;
	const struct blob_ref *refs;
	size_t *order;
	struct frange *ranges;
	size_t nranges;
	repo_fetch_fn fn;
	void *ctx;
	pthread_mutex_t mu;
	size_t next;
	int rc;
	char *msg;
};

static void *
fetch_worker(void *arg)
{
	struct fetch *f = arg;
	struct buf b = BUF_INIT;

	for (;;) {
		struct frange *fr;
		int rc;

		pthread_mutex_lock(&f->mu);
		if (f->rc || f->next == f->nranges) {
			pthread_mutex_unlock(&f->mu);
			break;
		}
		fr = &f->ranges[f->next++];
		pthread_mutex_unlock(&f->mu);
		rc = get_range(f->r, fr->pack, fr->start, fr->end - fr->start, &b);
		if (rc == IMDR_OK && b.len != fr->end - fr->start)
			rc = err_set(IMDR_EFORMAT, "pack read short: %zu of %llu bytes", b.len,
			    (unsigned long long)(fr->end - fr->start));
		for (size_t k = 0; rc == IMDR_OK && k < fr->n; k++) {
			size_t i = f->order[fr->first + k];
			const struct blob_ref *ref = &f->refs[i];

			rc = f->fn(f->ctx, i, b.data + (ref->offset - fr->start), ref->length);
		}
		if (rc) {
			pthread_mutex_lock(&f->mu);
			if (f->rc == IMDR_OK) {
				f->rc = rc;
				f->msg = xstrdup(err_msg(rc));
			}
			pthread_mutex_unlock(&f->mu);
			break;
		}
	}
	buf_free(&b);
	return NULL;
}

static int
cmp_place(const void *a, const void *b, void *ctx)
{
	const struct blob_ref *refs = ctx;
	const struct blob_ref *x = &refs[*(const size_t *)a], *y = &refs[*(const size_t *)b];
	int c = memcmp(x->pack, y->pack, CRYPTO_ID_LEN);

	if (c)
		return c;
	return x->offset < y->offset ? -1 : x->offset > y->offset;
}

int
repo_blob_fetch(struct repo *r, const struct blob_ref *refs, size_t n, uint64_t max_range,
    repo_fetch_fn fn, void *ctx)
{
	struct fetch f;
	struct repo_traits tr;
	pthread_t th[32];
	int nth, started = 0;

	if (n == 0)
		return IMDR_OK;
	memset(&f, 0, sizeof(f));
	f.r = r;
	f.refs = refs;
	f.fn = fn;
	f.ctx = ctx;
	f.order = xmalloc(n * sizeof(*f.order));
	for (size_t i = 0; i < n; i++)
		f.order[i] = i;
	qsort_r(f.order, n, sizeof(*f.order), cmp_place, (void *)refs);
	f.ranges = xmalloc(n * sizeof(*f.ranges));
	for (size_t k = 0; k < n; k++) {
		const struct blob_ref *ref = &refs[f.order[k]];
		struct frange *last = f.nranges ? &f.ranges[f.nranges - 1] : NULL;

		if (last && memcmp(last->pack, ref->pack, CRYPTO_ID_LEN) == 0 &&
		    ref->offset >= last->end && ref->offset - last->end < (64u << 10) &&
		    ref->offset + ref->length - last->start <= max_range) {
			last->end = ref->offset + ref->length;
			last->n++;
			continue;
		}
		last = &f.ranges[f.nranges++];
		memcpy(last->pack, ref->pack, CRYPTO_ID_LEN);
		last->start = ref->offset;
		last->end = ref->offset + ref->length;
		last->first = k;
		last->n = 1;
	}
	pthread_mutex_init(&f.mu, NULL);
	repo_traits(r, &tr);
	nth = tr.concurrency < (int)(sizeof(th) / sizeof(th[0])) ? tr.concurrency : 32;
	if ((size_t)nth > f.nranges)
		nth = (int)f.nranges;
	for (int i = 1; i < nth; i++)
		if (pthread_create(&th[started], NULL, fetch_worker, &f) == 0)
			started++;
	fetch_worker(&f);
	for (int i = 0; i < started; i++)
		pthread_join(th[i], NULL);
	pthread_mutex_destroy(&f.mu);
	free(f.order);
	free(f.ranges);
	if (f.rc) {
		int rc = err_set(f.rc, "%s", f.msg);

		free(f.msg);
		return rc;
	}
	return IMDR_OK;
}

void
repo_io_stats(struct repo *r, struct repo_io_stats *ret)
{
	struct blobread *rd = repo_reader(r);
	struct backend_stats bs;

	memset(ret, 0, sizeof(*ret));
	backend_get_stats(repo_be(r), &bs);
	ret->gets = bs.gets;
	ret->puts = bs.puts;
	ret->lists = bs.lists;
	ret->dels = bs.dels;
	ret->bytes_in = bs.bytes_in;
	ret->bytes_out = bs.bytes_out;
	ret->errors = bs.errors;
	ret->get_ns_total = bs.get_ns_total;
	ret->get_ns_max = bs.get_ns_max;
	pthread_mutex_lock(&rd->wmu);
	ret->window_reads = rd->win_reads;
	ret->window_hits = rd->win_hits;
	pthread_mutex_unlock(&rd->wmu);
	if (rd->dc) {
		struct diskcache_stats ds;

		diskcache_get_stats(rd->dc, &ds);
		ret->disk_cache = 1;
		ret->disk_hits = ds.hits;
		ret->disk_misses = ds.misses;
		ret->disk_bytes = ds.bytes;
		ret->disk_limit = ds.limit;
	}
}
