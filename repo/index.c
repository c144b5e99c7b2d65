/* index — see index.h.
 *
 * Memory: one open-addressing table of fixed 48-byte entries (blob id,
 * location, type, state), grown at 70 % load, plus a table of packs. About
 * 70 bytes per blob: a repository of 1 M blobs (1 TB at 1 MiB chunks) needs
 * some 70 MB. One mutex guards both tables; callers hold it for a few
 * hundred nanoseconds per chunk, so contention stays low. */
#include "repo/index.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/array.h"
#include "lib/err.h"
#include "lib/hex.h"
#include "lib/idset.h"
#include "lib/log.h"
#include "lib/varint.h"
#include "repo/plan.h"
#include "repo/repo_impl.h"

#define INDEX_VERSION 1

enum { E_EMPTY = 0, E_CLAIMED = 1, E_LOCATED = 2 };

struct ientry {
	uint8_t id[CRYPTO_ID_LEN];
	uint32_t pack;		/* index into packs[] */
	uint32_t offset;
	uint32_t length;
	uint32_t raw;
	uint8_t type;
	uint8_t state;
};

struct ipack {
	uint8_t id[CRYPTO_ID_LEN];
	uint64_t size;		/* 0 while only in memory */
	int dropped;		/* index_drop_pack: its blobs are forgotten */
};

struct index {
	pthread_mutex_t mu;
	struct ientry *tab;
	size_t cap, used;	/* cap is a power of 2 */
	struct ipack *packs;
	size_t npacks, packs_cap;
	uint32_t *ptab;		/* pack hash: index+1, 0 empty */
	size_t pcap;
};

struct index *
index_new(void)
{
	struct index *idx = xcalloc(1, sizeof(*idx));

	pthread_mutex_init(&idx->mu, NULL);
	idx->cap = 1024;
	idx->tab = xcalloc(idx->cap, sizeof(*idx->tab));
	idx->pcap = 256;
	idx->ptab = xcalloc(idx->pcap, sizeof(*idx->ptab));
	return idx;
}

void
index_free(struct index *idx)
{
	if (idx == NULL)
		return;
	pthread_mutex_destroy(&idx->mu);
	free(idx->tab);
	free(idx->packs);
	free(idx->ptab);
	free(idx);
}

static uint64_t
hash_id(const uint8_t *id)
{
	uint64_t h;

	/* Ids are HMAC output or random: any 8 bytes are uniform. */
	memcpy(&h, id, sizeof(h));
	return h;
}

static struct ientry *
slot_for(struct ientry *tab, size_t cap, const uint8_t *id)
{
	size_t i = hash_id(id) & (cap - 1);

	while (tab[i].state != E_EMPTY && memcmp(tab[i].id, id, CRYPTO_ID_LEN) != 0)
		i = (i + 1) & (cap - 1);
	return &tab[i];
}

static void
grow(struct index *idx)
{
	size_t ncap = idx->cap * 2;
	struct ientry *nt = xcalloc(ncap, sizeof(*nt));

	for (size_t i = 0; i < idx->cap; i++)
		if (idx->tab[i].state != E_EMPTY)
			*slot_for(nt, ncap, idx->tab[i].id) = idx->tab[i];
	free(idx->tab);
	idx->tab = nt;
	idx->cap = ncap;
}

static struct ientry *
insert_slot(struct index *idx, const uint8_t *id)
{
	struct ientry *e;

	if ((idx->used + 1) * 10 > idx->cap * 7)
		grow(idx);
	e = slot_for(idx->tab, idx->cap, id);
	if (e->state == E_EMPTY) {
		memcpy(e->id, id, CRYPTO_ID_LEN);
		idx->used++;
	}
	return e;
}

static uint32_t *
pslot_for(uint32_t *ptab, size_t pcap, const struct ipack *packs,
    const uint8_t *id)
{
	size_t i = hash_id(id) & (pcap - 1);

	while (ptab[i] != 0 && memcmp(packs[ptab[i] - 1].id, id, CRYPTO_ID_LEN) != 0)
		i = (i + 1) & (pcap - 1);
	return &ptab[i];
}

/* pack_index: the pack's number, adding it when new. Caller holds mu. */
static uint32_t
pack_index(struct index *idx, const uint8_t *id, uint64_t size)
{
	uint32_t *ps = pslot_for(idx->ptab, idx->pcap, idx->packs, id);

	if (*ps != 0) {
		if (size)
			idx->packs[*ps - 1].size = size;
		return *ps - 1;
	}
	if ((idx->npacks + 1) * 10 > idx->pcap * 7) {
		size_t ncap = idx->pcap * 2;
		uint32_t *nt = xcalloc(ncap, sizeof(*nt));

		for (size_t i = 0; i < idx->npacks; i++)
			*pslot_for(nt, ncap, idx->packs, idx->packs[i].id) = (uint32_t)i + 1;
		free(idx->ptab);
		idx->ptab = nt;
		idx->pcap = ncap;
		ps = pslot_for(idx->ptab, idx->pcap, idx->packs, id);
	}
	if (idx->npacks == idx->packs_cap) {
		idx->packs_cap = idx->packs_cap ? idx->packs_cap * 2 : 256;
		idx->packs = xrealloc(idx->packs, idx->packs_cap * sizeof(*idx->packs));
	}
	memcpy(idx->packs[idx->npacks].id, id, CRYPTO_ID_LEN);
	idx->packs[idx->npacks].size = size;
	idx->packs[idx->npacks].dropped = 0;
	*ps = (uint32_t)idx->npacks + 1;
	return (uint32_t)idx->npacks++;
}

static void
locate(struct index *idx, uint8_t type, const struct blob_ref *ref)
{
	struct ientry *e = insert_slot(idx, ref->id);

	e->pack = pack_index(idx, ref->pack, 0);
	e->offset = (uint32_t)ref->offset;
	e->length = ref->length;
	e->raw = ref->raw_length;
	e->type = type;
	e->state = E_LOCATED;
}

void
index_add_pack(struct index *idx, const uint8_t pack[CRYPTO_ID_LEN],
    uint64_t pack_size, const struct pack_entry *e, size_t n)
{
	pthread_mutex_lock(&idx->mu);
	pack_index(idx, pack, pack_size);
	for (size_t i = 0; i < n; i++)
		locate(idx, e[i].type, &e[i].ref);
	pthread_mutex_unlock(&idx->mu);
}

void
index_set_location(struct index *idx, uint8_t type, const struct blob_ref *ref)
{
	pthread_mutex_lock(&idx->mu);
	locate(idx, type, ref);
	pthread_mutex_unlock(&idx->mu);
}

int
index_lookup(struct index *idx, const uint8_t id[CRYPTO_ID_LEN],
    uint8_t *ret_type, struct blob_ref *ret_ref)
{
	struct ientry *e;
	int rc = IMDR_ENOENT;

	pthread_mutex_lock(&idx->mu);
	e = slot_for(idx->tab, idx->cap, id);
	if (e->state == E_LOCATED) {
		if (ret_type)
			*ret_type = e->type;
		if (ret_ref) {
			memcpy(ret_ref->id, e->id, CRYPTO_ID_LEN);
			memcpy(ret_ref->pack, idx->packs[e->pack].id, CRYPTO_ID_LEN);
			ret_ref->offset = e->offset;
			ret_ref->length = e->length;
			ret_ref->raw_length = e->raw;
		}
		rc = IMDR_OK;
	}
	pthread_mutex_unlock(&idx->mu);
	return rc;
}

int
index_claim(struct index *idx, const uint8_t id[CRYPTO_ID_LEN])
{
	struct ientry *e;
	int mine = 0;

	pthread_mutex_lock(&idx->mu);
	e = insert_slot(idx, id);
	if (e->state == E_EMPTY) {
		e->state = E_CLAIMED;
		mine = 1;
	}
	pthread_mutex_unlock(&idx->mu);
	return mine;
}

int
index_has_pack(struct index *idx, const uint8_t pack[CRYPTO_ID_LEN])
{
	uint32_t ps;
	int has;

	pthread_mutex_lock(&idx->mu);
	ps = *pslot_for(idx->ptab, idx->pcap, idx->packs, pack);
	has = ps != 0 && !idx->packs[ps - 1].dropped;
	pthread_mutex_unlock(&idx->mu);
	return has;
}

void
index_drop_pack(struct index *idx, const uint8_t pack[CRYPTO_ID_LEN])
{
	struct ientry *nt;
	uint32_t ps, pi;

	pthread_mutex_lock(&idx->mu);
	ps = *pslot_for(idx->ptab, idx->pcap, idx->packs, pack);
	if (ps == 0 || idx->packs[ps - 1].dropped) {
		pthread_mutex_unlock(&idx->mu);
		return;
	}
	pi = ps - 1;
	idx->packs[pi].dropped = 1;
	/* open addressing: rebuild rather than leave holes in probe chains */
	nt = xcalloc(idx->cap, sizeof(*nt));
	idx->used = 0;
	for (size_t i = 0; i < idx->cap; i++) {
		struct ientry *e = &idx->tab[i];

		if (e->state == E_EMPTY || (e->state == E_LOCATED && e->pack == pi))
			continue;
		*slot_for(nt, idx->cap, e->id) = *e;
		idx->used++;
	}
	free(idx->tab);
	idx->tab = nt;
	pthread_mutex_unlock(&idx->mu);
}

size_t
index_blob_count(struct index *idx)
{
	size_t n;

	pthread_mutex_lock(&idx->mu);
	n = idx->used;
	pthread_mutex_unlock(&idx->mu);
	return n;
}

size_t
index_pack_count(struct index *idx)
{
	size_t n;

	pthread_mutex_lock(&idx->mu);
	n = idx->npacks;
	pthread_mutex_unlock(&idx->mu);
	return n;
}

int
index_each_pack(struct index *idx, index_pack_fn fn, void *ctx)
{
	int rc = IMDR_OK;
	size_t n;

	/* Packs are only ever appended, so walking by number is safe without
	 * holding the lock across callbacks. */
	pthread_mutex_lock(&idx->mu);
	n = idx->npacks;
	pthread_mutex_unlock(&idx->mu);
	for (size_t i = 0; i < n && rc == IMDR_OK; i++) {
		struct ipack p;

		pthread_mutex_lock(&idx->mu);
		p = idx->packs[i];
		pthread_mutex_unlock(&idx->mu);
		if (!p.dropped)
			rc = fn(ctx, p.id, p.size);
	}
	return rc;
}

/* ---- index objects ---- */

int
index_write(struct repo *r, const uint8_t (*packs)[CRYPTO_ID_LEN],
    const uint64_t *sizes, struct pack_entry *const *entries,
    const size_t *counts, size_t npacks)
{
	return index_write_named(r, packs, sizes, entries, counts, npacks, NULL);
}

int
index_write_named(struct repo *r, const uint8_t (*packs)[CRYPTO_ID_LEN],
    const uint64_t *sizes, struct pack_entry *const *entries,
    const size_t *counts, size_t npacks, char *ret_name)
{
	struct buf b = BUF_INIT;
	uint8_t rid[CRYPTO_ID_LEN];
	char hex[65], name[80];
	size_t take = 0, body = 0;
	int rc;

	if (npacks == 0)
		return IMDR_OK;
	/* as many packs as fit REPO_INDEX_SPLIT (at least one), so that
	 * readers can bound what they read; the rest in further objects */
	for (; take < npacks && (take == 0 || body < REPO_INDEX_SPLIT); take++)
		body += CRYPTO_ID_LEN + 20 + counts[take] * (1 + CRYPTO_ID_LEN + 20);
	buf_putc(&b, INDEX_VERSION);
	varint_put(&b, take);
	for (size_t i = 0; i < take; i++) {
		buf_append(&b, packs[i], CRYPTO_ID_LEN);
		varint_put(&b, sizes[i]);
		varint_put(&b, counts[i]);
		for (size_t j = 0; j < counts[i]; j++) {
			const struct pack_entry *e = &entries[i][j];

			buf_putc(&b, e->type);
			buf_append(&b, e->ref.id, CRYPTO_ID_LEN);
			varint_put(&b, e->ref.offset);
			varint_put(&b, e->ref.length);
			varint_put(&b, e->ref.raw_length);
		}
	}
	crypto_random(rid, sizeof(rid));
	hex_encode(rid, sizeof(rid), hex);
	snprintf(name, sizeof(name), "index/%s", hex);
	rc = repo_put_sealed(r, OBJ_INDEX, name, b.data, b.len);
	if (rc == IMDR_OK && ret_name)
		memcpy(ret_name, name, strlen(name) + 1);
	buf_free(&b);
	if (rc == IMDR_OK && take < npacks)
		rc = index_write(r, packs + take, sizes + take, entries + take, counts + take,
		    npacks - take);
	return rc;
}

/* parse_object: decode an index object, calling fn once per pack. */
static int
parse_object(const char *name, const uint8_t *p, size_t n, index_object_fn fn,
    void *ctx)
{
	const uint8_t *end = p + n;
	uint64_t npacks, size, count, off, len, raw;
	struct pack_entry *e = NULL;
	size_t ecap = 0;
	uint8_t pack[CRYPTO_ID_LEN];
	int rc = IMDR_OK;

	if (n < 1 || *p++ != INDEX_VERSION || varint_get(&p, end, &npacks))
		goto bad;
	for (uint64_t i = 0; i < npacks && rc == IMDR_OK; i++) {
		if (end - p < CRYPTO_ID_LEN)
			goto bad;
		memcpy(pack, p, CRYPTO_ID_LEN);
		p += CRYPTO_ID_LEN;
		if (varint_get(&p, end, &size) || varint_get(&p, end, &count) ||
		    count > (uint64_t)(end - p) / (1 + CRYPTO_ID_LEN))
			goto bad;
		if (count > ecap) {
			ecap = count;
			e = xrealloc(e, ecap * sizeof(*e));
		}
		for (uint64_t j = 0; j < count; j++) {
			if (end - p < 1 + CRYPTO_ID_LEN)
				goto bad;
			e[j].type = *p++;
			memcpy(e[j].ref.id, p, CRYPTO_ID_LEN);
			p += CRYPTO_ID_LEN;
			memcpy(e[j].ref.pack, pack, CRYPTO_ID_LEN);
			if (varint_get(&p, end, &off) || varint_get(&p, end, &len) ||
			    varint_get(&p, end, &raw) || off > UINT32_MAX ||
			    len > UINT32_MAX || raw > UINT32_MAX || e[j].type > BLOB_TREE)
				goto bad;
			e[j].ref.offset = off;
			e[j].ref.length = (uint32_t)len;
			e[j].ref.raw_length = (uint32_t)raw;
		}
		rc = fn(ctx, pack, size, e, (size_t)count);
	}
	if (rc == IMDR_OK && p != end)
		goto bad;
	free(e);
	return rc;
bad:
	free(e);
	return err_set(IMDR_EFORMAT, "index object %s is malformed", name);
}

static int
add_to_index(void *ctx, const uint8_t pack[CRYPTO_ID_LEN], uint64_t size,
    const struct pack_entry *e, size_t n)
{
	index_add_pack(ctx, pack, size, e, n);
	return IMDR_OK;
}

static int
parse_index(struct index *idx, const char *name, const uint8_t *p, size_t n)
{
	return parse_object(name, p, n, add_to_index, idx);
}

int
index_read_object(struct repo *r, const char *name, index_object_fn fn, void *ctx)
{
	struct buf b = BUF_INIT;
	int rc;

	rc = repo_get_sealed(r, OBJ_INDEX, name, &b);
	if (rc == IMDR_OK)
		rc = parse_object(name, b.data, b.len, fn, ctx);
	buf_free(&b);
	return rc;
}

struct load_ctx {
	struct repo *r;
	struct index *idx;
	struct buf b;
};

int
index_load_one(struct repo *r, struct index *idx, const char *name)
{
	return index_load_listed(r, idx, name, REPO_SIZE_UNKNOWN);
}

int
index_load_listed(struct repo *r, struct index *idx, const char *name,
    uint64_t size)
{
	struct buf b = BUF_INIT;
	int rc;

	rc = repo_get_sealed_sized(r, OBJ_INDEX, name, size, &b);
	if (rc == IMDR_OK)
		rc = parse_index(idx, name, b.data, b.len);
	buf_free(&b);
	return rc;
}

int
index_load_bytes(struct repo *r, struct index *idx, const char *name,
    const uint8_t *data, size_t n)
{
	struct buf b = BUF_INIT;
	int rc;

	rc = repo_open_sealed(r, OBJ_INDEX, name, data, n, &b);
	if (rc == IMDR_OK)
		rc = parse_index(idx, name, b.data, b.len);
	buf_free(&b);
	return rc;
}

static int
load_one(void *vctx, const char *name, uint64_t size)
{
	struct load_ctx *c = vctx;
	int rc;

	rc = index_load_listed(c->r, c->idx, name, size);
	if (rc == IMDR_EAUTH || rc == IMDR_EFORMAT) {
		/* The index is a cache of pack headers: skip a damaged
		 * object; its packs look unindexed and index_recover reads
		 * their headers again. `check` reports the damage. */
		warn0("%s; ignoring it", err_msg(rc));
		err_clear();
		rc = IMDR_OK;
	}
	return rc;
}

int
index_load(struct repo *r, struct index *idx)
{
	struct load_ctx c = { r, idx, BUF_INIT };
	int rc;

	rc = backend_list(repo_be(r), "index/", load_one, &c);
	buf_free(&c.b);
	return rc;
}

struct orphan_ctx {
	struct index *idx;
	struct idset *listed;	/* every pack in data/ */
	uint8_t (*ids)[CRYPTO_ID_LEN];
	uint64_t *sizes;
	size_t n, cap;
};

static int
find_orphan(void *vctx, const char *name, uint64_t size)
{
	struct orphan_ctx *c = vctx;
	const char *base = strrchr(name, '/');
	uint8_t id[CRYPTO_ID_LEN];

	base = base ? base + 1 : name;
	if (!hex_valid(base, 64) || hex_decode(base, id, sizeof(id)) != 0)
		return 0;	/* not a pack: leave it to check */
	idset_put(c->listed, id, size);
	if (index_has_pack(c->idx, id))
		return 0;
	if (c->n == c->cap) {
		c->cap = c->cap ? c->cap * 2 : 16;
		c->ids = xrealloc(c->ids, c->cap * sizeof(*c->ids));
		c->sizes = xrealloc(c->sizes, c->cap * sizeof(*c->sizes));
	}
	memcpy(c->ids[c->n], id, CRYPTO_ID_LEN);
	c->sizes[c->n++] = size;
	return 0;
}

struct missing_ctx {
	struct idset *listed;
	uint8_t (*ids)[CRYPTO_ID_LEN];
	size_t n, cap;
};

static int
find_missing(void *vctx, const uint8_t pack[CRYPTO_ID_LEN], uint64_t size)
{
	struct missing_ctx *m = vctx;

	(void)size;
	if (!idset_get(m->listed, pack, NULL))
		memcpy(*ARRAY_PUSH(m->ids, m->n, m->cap), pack, CRYPTO_ID_LEN);
	return 0;
}

/* drop_planned: remove from c's orphans those a prune plan holds; 1 if
 * the plans could be read. */
static int
drop_planned(struct repo *r, struct orphan_ctx *c)
{
	struct idset *planned = idset_new();
	size_t k = 0;
	int rc;

	rc = plan_pack_set(r, planned, NULL);
	if (rc) {
		warn0("cannot read the prune plans (%s): not reusing packs no index lists",
		    err_msg(rc));
		err_clear();
		idset_free(planned);
		c->n = 0;
		return 0;
	}
	for (size_t i = 0; i < c->n; i++) {
		if (idset_get(planned, c->ids[i], NULL))
			continue;
		memmove(c->ids[k], c->ids[i], CRYPTO_ID_LEN);
		c->sizes[k++] = c->sizes[i];
	}
	c->n = k;
	idset_free(planned);
	return 1;
}

int
index_recover(struct repo *r, struct index *idx, struct index_recover_info *ret)
{
	struct orphan_ctx c = { idx, idset_new(), NULL, NULL, 0, 0 };
	struct missing_ctx m = { c.listed, NULL, 0, 0 };
	struct pack_entry **entries = NULL;
	struct index_recover_info info;
	size_t *counts = NULL, good = 0;
	int rc;

	memset(&info, 0, sizeof(info));
	rc = backend_list(repo_be(r), "data/", find_orphan, &c);
	if (rc)
		goto out;
	/* lost packs: their blobs must be stored again, not deduplicated
	 * against (a snapshot naming them would be damaged) */
	index_each_pack(idx, find_missing, &m);
	for (size_t i = 0; i < m.n; i++) {
		size_t before = index_blob_count(idx);

		index_drop_pack(idx, m.ids[i]);
		info.missing_blobs += before - index_blob_count(idx);
		if (i == 0)
			repo_pack_name(m.ids[i], info.first_missing);
	}
	info.missing = m.n;
	/* packs a prune plan holds are on their way out: never take them
	 * back (FORMAT.md "Prune") */
	if (c.n == 0 || !drop_planned(r, &c) || c.n == 0)
		goto out;
	entries = xcalloc(c.n, sizeof(*entries));
	counts = xcalloc(c.n, sizeof(*counts));
	for (size_t i = 0; i < c.n; i++) {
		rc = pack_read_header(r, c.ids[i], c.sizes[i], &entries[good],
		    &counts[good]);
		if (rc) {
			/* A damaged stray pack is not this backup's problem:
			 * skip it; `check` reports it. */
			char name[80];

			repo_pack_name(c.ids[i], name);
			warn0("ignoring unindexed pack %s: %s", name, err_msg(rc));
			err_clear();
			rc = IMDR_OK;
			continue;
		}
		if (good != i) {
			memcpy(c.ids[good], c.ids[i], CRYPTO_ID_LEN);
			c.sizes[good] = c.sizes[i];
		}
		good++;
	}
	if (good == 0)
		goto out;
	rc = index_write(r, (const uint8_t (*)[CRYPTO_ID_LEN])c.ids, c.sizes,
	    entries, counts, good);
	if (rc)
		goto out;
	/* A prune may have planned some of them while we read: the index
	 * object just written keeps such a pack from deletion only if the
	 * prune's sweep reads it, so use none the plans now hold. */
	{
		struct idset *planned = idset_new();

		rc = plan_pack_set(r, planned, NULL);
		for (size_t i = 0; rc == IMDR_OK && i < good; i++) {
			if (idset_get(planned, c.ids[i], NULL))
				continue;
			index_add_pack(idx, c.ids[i], c.sizes[i], entries[i], counts[i]);
			info.recovered++;
		}
		idset_free(planned);
	}
out:
	if (ret)
		*ret = info;
	for (size_t i = 0; entries && i < c.n; i++)
		free(entries[i]);
	free(entries);
	free(counts);
	free(c.ids);
	free(c.sizes);
	free(m.ids);
	idset_free(c.listed);
	return rc;
}
