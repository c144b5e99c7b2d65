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
 * Moved blobs: when a pack is gone (ENOENT), the map prune left for it
 * (moved/<pack>, repo/moved.h) names where each blob went; the reader
 * follows up to REPO_MOVED_HOPS maps.
 *
 * Policy of the windows: WIN_N slots of window_bytes / WIN_N each; a miss
 * replaces the least recently used slot. Policy of the buffer pool: at most
 * POOL_MAX buffers of 64 KiB or more, POOL_BYTES in all; what does not fit
 * is freed. Policy of the map cache: MOVED_N maps (each a sorted array of
 * entries, under MOVED_MAX_BYTES each, bigger ones are not kept), the least
 * recently used replaced. All bounded in bytes whatever the repository's
 * size. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "lib/hex.h"

#include "lib/err.h"
#include "repo/diskcache.h"
#include "repo/moved.h"
#include "repo/repo_impl.h"

#define WIN_N 4
#define WIN_BYTES_DEFAULT (2u << 20)
#define POOL_MAX 16
#define POOL_BYTES (4u << 20)
#define MOVED_N 8
#define MOVED_MAX_BYTES (1u << 20)

struct moved_map {
	uint8_t pack[CRYPTO_ID_LEN];
	struct pack_entry *e;	/* NULL: slot empty */
	size_t n;
	uint64_t used;
};

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

	pthread_mutex_t mmu;
	struct moved_map moved[MOVED_N];
	uint64_t mclock;
};

struct blobread *
blobread_new(struct repo *r)
{
	struct blobread *rd = xcalloc(1, sizeof(*rd));

	rd->r = r;
	rd->win_bytes = WIN_BYTES_DEFAULT / WIN_N;
	pthread_mutex_init(&rd->wmu, NULL);
	pthread_mutex_init(&rd->pmu, NULL);
	pthread_mutex_init(&rd->mmu, NULL);
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
	for (int k = 0; k < MOVED_N; k++)
		free(rd->moved[k].e);
	diskcache_free(rd->dc);
	pthread_mutex_destroy(&rd->wmu);
	pthread_mutex_destroy(&rd->pmu);
	pthread_mutex_destroy(&rd->mmu);
	free(rd);
}

int
repo_reader_configure(struct repo *r, const struct repo_reader_config *c)
{
	struct blobread *rd = repo_reader(r);
	int rc;

	pthread_mutex_lock(&rd->wmu);
	rd->win_bytes = c->window_bytes == REPO_WINDOW_NONE ? 0 :
	    (c->window_bytes ? c->window_bytes : WIN_BYTES_DEFAULT) / WIN_N;
	pthread_mutex_unlock(&rd->wmu);
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

/* ---- moved blobs ---- */

/* moved_cached: look id up in the cached map of pack; 1 if the map is
 * cached (*ret_found says whether it names the blob). */
static int
moved_cached(struct blobread *rd, const struct blob_ref *ref, struct pack_entry *ret,
    int *ret_found)
{
	int hit = 0;

	pthread_mutex_lock(&rd->mmu);
	for (int k = 0; k < MOVED_N; k++) {
		struct moved_map *m = &rd->moved[k];
		const struct pack_entry *e;

		if (m->e == NULL || memcmp(m->pack, ref->pack, CRYPTO_ID_LEN) != 0)
			continue;
		m->used = ++rd->mclock;
		e = moved_find(m->e, m->n, ref->id);
		*ret_found = e != NULL;
		if (e)
			*ret = *e;
		hit = 1;
		break;
	}
	pthread_mutex_unlock(&rd->mmu);
	return hit;
}

static void
moved_keep(struct blobread *rd, const uint8_t pack[CRYPTO_ID_LEN], struct pack_entry *e,
    size_t n)
{
	struct moved_map *m;

	if (n * sizeof(*e) > MOVED_MAX_BYTES) {
		free(e);
		return;
	}
	pthread_mutex_lock(&rd->mmu);
	m = &rd->moved[0];
	for (int k = 1; k < MOVED_N; k++)
		if (rd->moved[k].used < m->used)
			m = &rd->moved[k];
	free(m->e);
	memcpy(m->pack, pack, CRYPTO_ID_LEN);
	m->e = e;
	m->n = n;
	m->used = ++rd->mclock;
	pthread_mutex_unlock(&rd->mmu);
}

int
repo_blob_relocate(struct repo *r, enum blob_type type, const struct blob_ref *ref,
    struct blob_ref *ret)
{
	struct blobread *rd = repo_reader(r);
	struct pack_entry found, *e = NULL;
	const struct pack_entry *f;
	char hex[65], pname[80];
	size_t n = 0;
	int rc, have = 0;

	if (!moved_cached(rd, ref, &found, &have)) {
		rc = moved_load(r, ref->pack, &e, &n);
		if (rc)
			return rc;
		f = moved_find(e, n, ref->id);
		if ((have = f != NULL))
			found = *f;
		moved_keep(rd, ref->pack, e, n);
	}
	repo_pack_name(ref->pack, pname);
	hex_encode(ref->id, CRYPTO_ID_LEN, hex);
	if (!have)
		return err_set(IMDR_ENOENT, "blob %.16s: pack %s is gone and its moved map does not name the blob",
		    hex, pname);
	if (found.type != type)
		return err_set(IMDR_EFORMAT, "blob %.16s: the moved map of pack %s gives it another type",
		    hex, pname);
	*ret = found.ref;
	return IMDR_OK;
}

/* read_located: the sealed bytes of ref's blob into b, following moved
 * maps when its pack is gone; *ret_ref gets where they were found. */
static int
read_located(struct blobread *rd, enum blob_type type, const struct blob_ref *ref,
    struct buf *b, int *ret_cached, struct blob_ref *ret_ref)
{
	char *first = NULL;
	int rc;

	*ret_ref = *ref;
	rc = read_sealed(rd, type, ref, b, ret_cached);
	for (int hop = 0; rc == IMDR_ENOENT && hop < REPO_MOVED_HOPS; hop++) {
		struct blob_ref next;

		if (first == NULL)
			first = xstrdup(err_msg(rc));
		if (repo_blob_relocate(rd->r, type, ret_ref, &next) != IMDR_OK)
			break;
		*ret_ref = next;
		b->len = 0;
		rc = read_sealed(rd, type, ret_ref, b, ret_cached);
	}
	if (rc == IMDR_ENOENT && first)
		rc = err_set(IMDR_ENOENT, "%s", first);	/* the pack itself is what is missing */
	free(first);
	return rc;
}

int
repo_blob_read_buf(struct repo *r, enum blob_type type, const struct blob_ref *oref,
    struct buf *b, size_t *ret_off)
{
	struct blobread *rd = repo_reader(r);
	struct buf copy = BUF_INIT;
	struct blob_ref at;
	const struct blob_ref *ref = &at;
	int rc, cached;

	rc = read_located(rd, type, oref, b, &cached, &at);
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
