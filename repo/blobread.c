/* blobread — the one blob reader (repo.h, "the blob reader").
 *
 * Data blobs: a ranged read of exactly the blob (through the sealed disk
 * cache when one is configured), into a buffer from a small pool, and
 * decrypted in place.
 *
 * Tree blobs: read through a cache of aligned segments of their packs.
 * Tree nodes have packs of their own, written bottom-up: a folder's
 * subfolders just before it, siblings in name order. A walk (find, ls -R,
 * restore, check) goes from a folder to its subfolders and from one
 * sibling to the next, so what it wants next lies in the same or the next
 * segment: each segment is read once, whatever the number of folders, and
 * a walk reads about the bytes of the nodes it needs. (Windows that ended
 * at the node asked for served a parent's children, but every next
 * sibling missed them: 2,000 conversations read 0.9 GB for a 3 MB tree.)
 * A node larger than SEG_SPAN segments is read alone. The pack's length is
 * not asked for: a segment is read up to the furthest tree blob the
 * reader has heard of in that pack (repo_tree_hint: folders name their
 * subfolders' places as they are decoded), so a read never runs past the
 * end; a segment read short, and later found not to cover a blob, serves
 * that blob by a read of its own.
 *
 * Bytes that fail authentication are read again from another replica
 * (repo_read_verified): a data blob at once; a tree blob, or a blob of a
 * run, alone, once its segment or run gave bad bytes (the replica that
 * gave them is told, and the bytes of a good replica are authenticated
 * like any others).
 *
 * Moved blobs: when a pack is gone (ENOENT), the map prune left for it
 * (moved/<pack>, repo/moved.h) names where each blob went; the reader
 * follows up to REPO_MOVED_HOPS maps (a run whose pack is gone fails, and
 * its caller reads its blobs one by one).
 *
 * Policy of the segment cache: byte-limited (tree_cache_bytes), least
 * recently used out, single-flight (lib/lru.h). Policy of the buffer pool:
 * at most POOL_MAX buffers of 64 KiB or more, POOL_BYTES in all; what does
 * not fit is freed; a taker gets the smallest that fits (the first that
 * fit gave 1.4 MiB buffers to 64 KiB blobs and the next large chunk a new
 * one: a page fault for every 4 KiB of a cold 512 MiB read, 80,000 of
 * them, against 27,000 now). Policy of the map cache: MOVED_N maps (each a sorted
 * array of entries, under MOVED_MAX_BYTES each, bigger ones are not kept),
 * the least recently used replaced. All are bounded in bytes whatever the
 * repository's
 * size. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "lib/err.h"
#include "lib/hex.h"
#include "lib/idset.h"
#include "lib/log.h"
#include "lib/lru.h"
#include "repo/diskcache.h"
#include "repo/moved.h"
#include "repo/repo_impl.h"

#define SEG_LOCAL (256u << 10)
#define SEG_REMOTE (1u << 20)
#define SEG_SPAN 4
#define TREE_CACHE_LOCAL (8u << 20)
#define TREE_CACHE_REMOTE (16u << 20)
#define POOL_MAX 16
#define DIRECT_SLACK (8u << 10)	/* a direct read's alignment, both ends */
#define POOL_BYTES (6u << 20)
#define MOVED_N 8
#define MOVED_MAX_BYTES (1u << 20)

struct moved_map {
	uint8_t pack[CRYPTO_ID_LEN];
	struct pack_entry *e;	/* NULL: slot empty */
	size_t n;
	uint64_t used;
};

struct blobread {
	struct repo *r;
	struct diskcache *dc;
	int direct;		/* repo_reader_config.direct */

	struct lru *segs;	/* key: see seg_key; value: struct seg * */
	uint64_t seg_bytes;
	pthread_mutex_t xmu;
	struct idset *extent;	/* pack id -> furthest tree blob end known */
	uint64_t seg_reads, seg_read_bytes, tree_alone;

	pthread_mutex_t pmu;
	struct buf pool[POOL_MAX];
	size_t npool, pool_bytes;

	pthread_mutex_t mmu;
	struct moved_map moved[MOVED_N];
	uint64_t mclock;
};

/* A segment of a tree pack, and the replica it was read from. */
struct seg {
	struct buf b;
	int replica;
};

static void
seg_dispose(void *v)
{
	struct seg *g = v;

	buf_free(&g->b);
	free(g);
}

struct blobread *
blobread_new(struct repo *r)
{
	struct blobread *rd = xcalloc(1, sizeof(*rd));

	rd->r = r;
	pthread_mutex_init(&rd->xmu, NULL);
	pthread_mutex_init(&rd->pmu, NULL);
	rd->extent = idset_new();
	pthread_mutex_init(&rd->mmu, NULL);
	return rd;
}

void
blobread_free(struct blobread *rd)
{
	if (rd == NULL)
		return;
	lru_free(rd->segs);
	idset_free(rd->extent);
	for (size_t i = 0; i < rd->npool; i++)
		buf_free(&rd->pool[i]);
	for (int k = 0; k < MOVED_N; k++)
		free(rd->moved[k].e);
	diskcache_free(rd->dc);
	pthread_mutex_destroy(&rd->xmu);
	pthread_mutex_destroy(&rd->pmu);
	pthread_mutex_destroy(&rd->mmu);
	free(rd);
}

/* segments: the segment cache, made on first use: its sizes follow the
 * backend's traits, known only once the repository is open. */
static struct lru *
segments(struct blobread *rd)
{
	struct lru *c = __atomic_load_n(&rd->segs, __ATOMIC_ACQUIRE);
	struct repo_traits tr;

	if (c)
		return c;
	repo_traits(rd->r, &tr);
	pthread_mutex_lock(&rd->xmu);
	if (rd->segs == NULL) {
		if (rd->seg_bytes == 0)
			rd->seg_bytes = tr.remote ? SEG_REMOTE : SEG_LOCAL;
		__atomic_store_n(&rd->segs, lru_new(tr.remote ? TREE_CACHE_REMOTE :
		    TREE_CACHE_LOCAL, seg_dispose), __ATOMIC_RELEASE);
	}
	c = rd->segs;
	pthread_mutex_unlock(&rd->xmu);
	return c;
}

int
repo_reader_configure(struct repo *r, const struct repo_reader_config *c)
{
	struct blobread *rd = repo_reader(r);
	int rc;

	if (c->tree_cache_bytes && rd->segs == NULL) {
		struct repo_traits tr;

		/* the segments' size too: segments() sets it only when it
		 * makes the cache (a configured one divided by zero) */
		repo_traits(r, &tr);
		if (rd->seg_bytes == 0)
			rd->seg_bytes = tr.remote ? SEG_REMOTE : SEG_LOCAL;
		rd->segs = lru_new(c->tree_cache_bytes, seg_dispose);
	}
	rd->direct = c->direct;
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
	size_t best = SIZE_MAX;

	if (b->cap >= want)
		return;
	pthread_mutex_lock(&rd->pmu);
	for (size_t i = 0; i < rd->npool; i++)	/* the smallest that fits */
		if (rd->pool[i].cap >= want && (best == SIZE_MAX || rd->pool[i].cap < rd->pool[best].cap))
			best = i;
	if (best != SIZE_MAX) {
		buf_free(b);
		*b = rd->pool[best];
		rd->pool[best] = rd->pool[--rd->npool];
		rd->pool_bytes -= b->cap;
	}
	pthread_mutex_unlock(&rd->pmu);
	b->len = 0;
}

void
repo_buf_recycle(struct repo *r, struct buf *b)
{
	struct blobread *rd = repo_reader(r);

	buf_rewind(b);	/* a direct read's head is room again */
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

/* get_range: bytes of a pack, from whichever replica answers (which one:
 * *ret_replica); the caller authenticates them. */
static int
get_range(struct repo *r, const uint8_t pack[CRYPTO_ID_LEN], uint64_t off,
    uint64_t len, struct buf *out, int *ret_replica)
{
	struct backend_read rd = { 0, 0, 0 };
	char name[80];
	int rc;

	repo_pack_name(pack, name);
	out->len = 0;
	rc = backend_get_ex(repo_be(r), name, off, len, out, &rd);
	*ret_replica = rd.replica;
	return rc;
}

/* bad_bytes: the bytes of ref that replica gave failed authentication
 * (rc); with other replicas to ask, tell it and say so (1), else 0. */
static int
bad_bytes(struct repo *r, int replica, const struct blob_ref *ref, int rc)
{
	char name[80];

	if (rc != IMDR_EAUTH || repo_replica_count(r) < 2)
		return 0;
	repo_pack_name(ref->pack, name);
	backend_bad_object(repo_be(r), replica, name, err_msg(rc));
	err_clear();
	return 1;
}

void
repo_tree_hint(struct repo *r, const struct blob_ref *ref)
{
	struct blobread *rd = repo_reader(r);
	uint64_t end = ref->offset + ref->length, known = 0;

	pthread_mutex_lock(&rd->xmu);
	if (!idset_get(rd->extent, ref->pack, &known) || known < end)
		idset_put(rd->extent, ref->pack, end);
	pthread_mutex_unlock(&rd->xmu);
}

static uint64_t
extent_of(struct blobread *rd, const uint8_t pack[CRYPTO_ID_LEN])
{
	uint64_t known = 0;

	pthread_mutex_lock(&rd->xmu);
	idset_get(rd->extent, pack, &known);
	pthread_mutex_unlock(&rd->xmu);
	return known;
}

/* seg_key: unique for (pack, segment index): the index and 16 bytes of
 * the (random) pack id; the first 8 bytes mix both, for the hash. */
static void
seg_key(const uint8_t pack[CRYPTO_ID_LEN], uint64_t index, uint8_t key[32])
{
	uint64_t mix;

	memcpy(&mix, pack, 8);
	mix ^= (index + 1) * 0x9E3779B97F4A7C15ULL;
	memcpy(key, &mix, 8);
	memcpy(key + 8, &index, 8);
	memcpy(key + 16, pack, 16);
}

struct seg_ctx {
	struct blobread *rd;
	const struct blob_ref *ref;
	uint64_t index;
};

/* seg_load: segment index of ref's pack, as far as the pack is known to
 * reach (at least to ref's end when ref ends in it). */
static int
seg_load(void *vctx, const uint8_t key[32], void **ret, size_t *ret_size)
{
	struct seg_ctx *c = vctx;
	struct blobread *rd = c->rd;
	uint64_t start = c->index * rd->seg_bytes, end = start + rd->seg_bytes;
	uint64_t reach = extent_of(rd, c->ref->pack), ref_end = c->ref->offset + c->ref->length;
	struct seg *g;
	int rc;

	(void)key;
	if (ref_end > reach)
		reach = ref_end;
	if (end > reach)
		end = reach;
	if (end <= start)
		end = ref_end;	/* cannot happen: ref overlaps the segment */
	g = xcalloc(1, sizeof(*g));
	rc = get_range(rd->r, c->ref->pack, start, end - start, &g->b, &g->replica);
	if (rc) {
		seg_dispose(g);
		return rc;
	}
	debugf("tree segment %02x%02x.. #%llu: %zu bytes (for blob at %llu+%u)", c->ref->pack[0],
	    c->ref->pack[1], (unsigned long long)c->index, g->b.len,
	    (unsigned long long)c->ref->offset, c->ref->length);
	pthread_mutex_lock(&rd->xmu);
	rd->seg_reads++;
	rd->seg_read_bytes += g->b.len;
	pthread_mutex_unlock(&rd->xmu);
	*ret = g;
	*ret_size = g->b.cap + sizeof(*g);
	return IMDR_OK;
}

/* tree_sealed: the sealed bytes of tree blob ref into out, from the
 * segments that hold it (*ret_replica: the replica they came from; -1
 * when the blob was read alone, through repo_read_verified). */
static int
tree_sealed(struct blobread *rd, const struct blob_ref *ref, struct buf *out,
    int *ret_replica)
{
	struct lru *c = segments(rd);
	uint64_t seg = rd->seg_bytes, first = ref->offset / seg;
	uint64_t last = (ref->offset + ref->length - (ref->length > 0)) / seg;
	int rc = IMDR_OK;

	repo_tree_hint(rd->r, ref);
	*ret_replica = -1;
	if (last - first + 1 > SEG_SPAN) {
		__atomic_add_fetch(&rd->tree_alone, 1, __ATOMIC_RELAXED);
		return get_range(rd->r, ref->pack, ref->offset, ref->length, out, ret_replica);
	}
	out->len = 0;
	for (uint64_t i = first; i <= last && rc == IMDR_OK; i++) {
		struct seg_ctx ctx = { rd, ref, i };
		struct lru_entry *e;
		struct seg *g;
		uint64_t start = i * seg, from, to;
		uint8_t key[32];

		seg_key(ref->pack, i, key);
		rc = lru_get(c, key, seg_load, &ctx, &e);
		if (rc)
			break;
		g = lru_value(e);
		from = ref->offset > start ? ref->offset - start : 0;
		to = ref->offset + ref->length - start;
		if (to > seg)
			to = seg;
		if (to > g->b.len) {
			/* read short before this blob's pack was known to
			 * reach so far: read the blob alone */
			lru_release(c, e);
			__atomic_add_fetch(&rd->tree_alone, 1, __ATOMIC_RELAXED);
			return get_range(rd->r, ref->pack, ref->offset, ref->length, out,
			    ret_replica);
		}
		buf_append(out, g->b.data + from, (size_t)(to - from));
		*ret_replica = g->replica;
		lru_release(c, e);
	}
	return rc;
}

struct blob_check {
	struct repo *r;
	enum blob_type type;
	const struct blob_ref *ref;
	size_t *ret_off;
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

/* read_alone: ref with a ranged read of its own, failing over to other
 * replicas while its bytes fail authentication; into the disk cache when
 * there is one (data blobs). */
static int
read_alone(struct blobread *rd, enum blob_type type, const struct blob_ref *ref,
    struct buf *b, size_t *ret_off)
{
	struct buf copy = BUF_INIT;
	struct blob_check c = { rd->r, type, ref, ret_off, NULL };
	int rc, caching = rd->dc && type == BLOB_DATA, direct;
	char name[80];

	/* the disk cache keeps sealed bytes: check_blob copies them before
	 * they are decrypted in place, and they are kept once they verify */
	if (caching)
		c.copy = &copy;
	b->len = 0;
	/* a data blob may be read around the page cache (a local repository,
	 * backends/local.c): room for the aligned blocks around it */
	direct = rd->direct && type == BLOB_DATA;
	pool_take(rd, b, ref->length + (direct ? DIRECT_SLACK : 0));
	repo_pack_name(ref->pack, name);
	if (direct)
		rc = repo_read_verified_direct(rd->r, name, ref->offset, ref->length, b,
		    check_blob, &c);
	else
		rc = repo_read_verified(rd->r, name, ref->offset, ref->length, b, check_blob, &c);
	if (rc == IMDR_OK && caching)
		diskcache_put(rd->dc, ref, &copy);
	buf_free(&copy);
	return rc;
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

static int read_at(struct blobread *rd, enum blob_type type, const struct blob_ref *ref,
    struct buf *b, size_t *ret_off);

int
repo_blob_read_buf(struct repo *r, enum blob_type type, const struct blob_ref *oref,
    struct buf *b, size_t *ret_off)
{
	struct blobread *rd = repo_reader(r);
	struct blob_ref cur = *oref, next;
	char *first = NULL;
	int rc;

	/* a reference is believed only as far as its type allows: no read,
	 * no buffer larger than the biggest blob of that type */
	rc = repo_blob_ref_check(r, type, oref);
	if (rc == IMDR_OK)
		rc = read_at(rd, type, &cur, b, ret_off);
	for (int hop = 0; rc == IMDR_ENOENT && hop < REPO_MOVED_HOPS; hop++) {
		if (first == NULL)
			first = xstrdup(err_msg(rc));
		if (repo_blob_relocate(r, type, &cur, &next) != IMDR_OK)
			break;
		cur = next;
		rc = repo_blob_ref_check(r, type, &cur);
		if (rc == IMDR_OK)
			rc = read_at(rd, type, &cur, b, ret_off);
	}
	if (rc == IMDR_ENOENT && first)
		rc = err_set(IMDR_ENOENT, "%s", first);	/* the pack itself is what is missing */
	free(first);
	return rc;
}

/* read_at: blob ref from where ref says: a tree blob from the segments
 * that hold it, a data blob from the disk cache or alone. */
static int
read_at(struct blobread *rd, enum blob_type type, const struct blob_ref *ref,
    struct buf *b, size_t *ret_off)
{
	struct repo *r = rd->r;
	int rc, replica;

	if (type == BLOB_TREE) {
		rc = tree_sealed(rd, ref, b, &replica);
		if (rc == IMDR_OK)
			rc = repo_blob_open_buf(r, type, ref, b, ret_off);
		if (rc == IMDR_EAUTH && replica >= 0 && bad_bytes(r, replica, ref, rc))
			rc = read_alone(rd, type, ref, b, ret_off);
		return rc;
	}
	if (rd->dc && diskcache_get(rd->dc, ref, b)) {
		rc = repo_blob_open_buf(r, type, ref, b, ret_off);
		if (rc == IMDR_OK)
			return rc;
		/* damaged on disk: drop it and read the repository */
		diskcache_drop(rd->dc, ref);
		err_clear();
	}
	return read_alone(rd, type, ref, b, ret_off);
}

int
repo_blobs_adjacent(const struct blob_ref *a, const struct blob_ref *b)
{
	return memcmp(a->pack, b->pack, CRYPTO_ID_LEN) == 0 &&
	    a->offset + a->length == b->offset;
}

/* open_one: authenticate and decrypt blob i of a run from its sealed
 * bytes, hand it to fn; a blob read from the repository goes into the
 * disk cache once it authenticates. */
static int
open_one(struct repo *r, enum blob_type type, const struct blob_ref *ref,
    const uint8_t *sealed, int replica, struct buf *scratch, size_t i,
    repo_blob_fn fn, void *ctx)
{
	struct blobread *rd = repo_reader(r);
	int from_repo = replica >= 0;
	size_t off;
	int rc;

	scratch->len = 0;
	buf_append(scratch, sealed, ref->length);
	rc = repo_blob_open_buf(r, type, ref, scratch, &off);
	if (rc == IMDR_EAUTH && from_repo && bad_bytes(r, replica, ref, rc)) {
		/* this replica's copy is bad: this blob from another */
		rc = read_alone(rd, type, ref, scratch, &off);
		from_repo = 0;	/* read_alone kept it */
	}
	if (rc == IMDR_OK && from_repo && rd->dc && type == BLOB_DATA) {
		struct buf view = { (uint8_t *)sealed, ref->length, ref->length, 0 };

		diskcache_put(rd->dc, ref, &view);
	}
	return fn(ctx, i, rc, rc == IMDR_OK ? scratch->data + off : NULL,
	    rc == IMDR_OK ? scratch->len - off : 0);
}

int
repo_blobs_read(struct repo *r, enum blob_type type, const struct blob_ref *refs,
    size_t n, repo_blob_fn fn, void *ctx)
{
	struct blobread *rd = repo_reader(r);
	struct buf run = BUF_INIT, scratch = BUF_INIT, one = BUF_INIT;
	size_t first = 0, last = n;
	int rc = IMDR_OK;

	for (size_t i = 1; i < n; i++)
		if (!repo_blobs_adjacent(&refs[i - 1], &refs[i]))
			return err_set(IMDR_EINVAL, "internal error: a run of blobs that do not lie one after the other");
	/* each reference believed only as far as its type allows */
	for (size_t i = 0; i < n; i++)
		if ((rc = repo_blob_ref_check(r, type, &refs[i])) != IMDR_OK)
			return rc;
	/* what the disk cache holds at the front needs no read */
	while (rd->dc && type == BLOB_DATA && rc == IMDR_OK && first < last &&
	    diskcache_get(rd->dc, &refs[first], &one)) {
		rc = open_one(r, type, &refs[first], one.data, -1, &scratch, first, fn, ctx);
		first++;
	}
	if (rc == IMDR_OK && first < last) {
		uint64_t start = refs[first].offset;
		int replica;

		pool_take(rd, &run, refs[last - 1].offset + refs[last - 1].length - start);
		rc = get_range(r, refs[first].pack, start,
		    refs[last - 1].offset + refs[last - 1].length - start, &run, &replica);
		for (size_t i = first; i < last && rc == IMDR_OK; i++)
			rc = open_one(r, type, &refs[i], run.data + (refs[i].offset - start),
			    replica, &scratch, i, fn, ctx);
	}
	repo_buf_recycle(r, &run);
	repo_buf_recycle(r, &scratch);
	buf_free(&one);
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
		int replica;

		rc = get_range(f->r, fr->pack, fr->start, fr->end - fr->start, &b, &replica);
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

		/* a ref the range already holds (the same blob asked for twice:
		 * a segment's empty pages all dedupe to one piece) joins it too;
		 * it used to end the range, and every piece after it went in a
		 * request of its own (136 instead of 10 for a cold search) */
		if (last && memcmp(last->pack, ref->pack, CRYPTO_ID_LEN) == 0 &&
		    ref->offset < last->end + (64u << 10) &&
		    ref->offset + ref->length - last->start <= max_range) {
			if (ref->offset + ref->length > last->end)
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
	pthread_mutex_lock(&rd->xmu);
	ret->tree_segment_reads = rd->seg_reads;
	ret->tree_segment_bytes = rd->seg_read_bytes;
	pthread_mutex_unlock(&rd->xmu);
	ret->tree_alone_reads = __atomic_load_n(&rd->tree_alone, __ATOMIC_RELAXED);
	if (rd->segs) {
		struct lru_stats ls;

		lru_get_stats(rd->segs, &ls);
		ret->tree_cache_hits = ls.hits;
		ret->tree_cache_bytes = ls.bytes;
		ret->tree_cache_limit = ls.limit;
		ret->tree_cache_evictions = ls.evictions;
	}
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
