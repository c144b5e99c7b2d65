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
 * Bytes that fail authentication are read again from another replica
 * (repo_read_verified), and a window that held them is dropped.
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
	int replica;		/* the replica it was read from */
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

/* window_find: the sealed bytes of ref from a window into out; 1 if held,
 * with the replica the window came from. */
static int
window_find(struct blobread *rd, const struct blob_ref *ref, struct buf *out,
    int *ret_replica)
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
			*ret_replica = w->replica;
			found = 1;
			break;
		}
	}
	pthread_mutex_unlock(&rd->wmu);
	return found;
}

/* window_drop: forget the windows of ref's pack (they gave bad bytes). */
static void
window_drop(struct blobread *rd, const struct blob_ref *ref)
{
	pthread_mutex_lock(&rd->wmu);
	for (int k = 0; k < WIN_N; k++)
		if (memcmp(rd->win[k].pack, ref->pack, CRYPTO_ID_LEN) == 0)
			buf_free(&rd->win[k].data);
	pthread_mutex_unlock(&rd->wmu);
}

struct blob_check {
	struct repo *r;
	enum blob_type type;
	const struct blob_ref *ref;
	size_t *ret_off;
	uint64_t start;		/* window: where it starts in the pack */
	struct buf *b;		/* window: where the blob's bytes go */
	struct buf *copy;	/* disk cache: the sealed bytes, kept */
};

/* check_blob: authenticate the blob in bytes (decrypting it in place). */
static int
check_blob(void *ctx, struct buf *bytes)
{
	struct blob_check *c = ctx;

	if (c->copy) {
		c->copy->len = 0;
		buf_append(c->copy, bytes->data, bytes->len);
	}
	return repo_blob_open_buf(c->r, c->type, c->ref, bytes, c->ret_off);
}

/* check_window: cut the blob out of a window and authenticate it. */
static int
check_window(void *ctx, struct buf *win)
{
	struct blob_check *c = ctx;

	c->b->len = 0;
	buf_append(c->b, win->data + (c->ref->offset - c->start), c->ref->length);
	return repo_blob_open_buf(c->r, c->type, c->ref, c->b, c->ret_off);
}

/* read_tree: a tree blob through the windows: from a window that holds
 * it, else by reading the window that ends where it ends into the least
 * recently used slot. */
static int
read_tree(struct blobread *rd, const struct blob_ref *ref, struct buf *b,
    size_t *ret_off)
{
	struct blob_check c = { rd->r, BLOB_TREE, ref, ret_off, 0, b, NULL };
	uint64_t end = ref->offset + ref->length;
	struct buf win = BUF_INIT;
	struct window *w;
	char name[80];
	int rc, replica;

	if (window_find(rd, ref, b, &replica)) {
		rc = repo_blob_open_buf(rd->r, BLOB_TREE, ref, b, ret_off);
		if (rc != IMDR_EAUTH || repo_replica_count(rd->r) < 2)
			return rc;
		repo_pack_name(ref->pack, name);
		backend_bad_object(repo_be(rd->r), replica, name, err_msg(rc));
		window_drop(rd, ref);
		err_clear();
	}
	c.start = end > rd->win_bytes ? end - rd->win_bytes : 0;
	if (c.start > ref->offset)
		c.start = ref->offset;
	repo_pack_name(ref->pack, name);
	rc = repo_read_verified_from(rd->r, name, c.start, end - c.start, &win, check_window, &c,
	    &replica);
	if (rc) {
		buf_free(&win);
		return rc;
	}
	pthread_mutex_lock(&rd->wmu);
	w = &rd->win[0];
	for (int k = 1; k < WIN_N; k++)
		if (rd->win[k].used < w->used)
			w = &rd->win[k];
	buf_free(&w->data);
	memcpy(w->pack, ref->pack, CRYPTO_ID_LEN);
	w->start = c.start;
	w->data = win;
	w->used = ++rd->clock;
	w->replica = replica;
	rd->win_reads++;
	pthread_mutex_unlock(&rd->wmu);
	return IMDR_OK;
}

int
repo_blob_read_buf(struct repo *r, enum blob_type type, const struct blob_ref *ref,
    struct buf *b, size_t *ret_off)
{
	struct blobread *rd = repo_reader(r);
	struct buf copy = BUF_INIT;
	struct blob_check c = { r, type, ref, ret_off, 0, NULL, NULL };
	int rc, caching = rd->dc && type == BLOB_DATA;
	char name[80];

	if (type == BLOB_TREE && ref->length <= rd->win_bytes / 4)
		return read_tree(rd, ref, b, ret_off);
	if (caching && diskcache_get(rd->dc, ref, b)) {
		rc = repo_blob_open_buf(r, type, ref, b, ret_off);
		if (rc == IMDR_OK)
			return rc;
		/* damaged on disk: drop it and read the repository */
		diskcache_drop(rd->dc, ref);
		err_clear();
	}
	/* the disk cache keeps sealed bytes: check_blob copies them before
	 * they are decrypted in place, and they are kept once they verify */
	if (caching)
		c.copy = &copy;
	b->len = 0;
	pool_take(rd, b, ref->length);
	repo_pack_name(ref->pack, name);
	rc = repo_read_verified(r, name, ref->offset, ref->length, b, check_blob, &c);
	if (rc == IMDR_OK && caching)
		diskcache_put(rd->dc, ref, &copy);
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
