/* check — see check.h. */
#include "engine/check.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "catalog/catalog.h"
#include "lib/array.h"
#include "lib/err.h"
#include "lib/hex.h"
#include "lib/idset.h"
#include "repo/index.h"
#include "repo/pack.h"
#include "repo/snapshot.h"

struct check {
	struct repo *r;
	const struct engine_events *ev;
	struct index *idx;
	struct idset *packs;	/* listed in data/: id -> size */
	struct idset *trees;	/* tree nodes already walked */
	struct check_result *res;
	int read_data;
	char **index_names;
	size_t nindex, index_cap;
};

static void
problem(struct check *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
problem(struct check *c, const char *fmt, ...)
{
	char *msg;
	va_list ap;

	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) < 0)
		msg = NULL;
	va_end(ap);
	c->res->errors++;
	ev_error(c->ev, NULL, msg ? msg : fmt);
	free(msg);
}

static void
oddity(struct check *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
oddity(struct check *c, const char *fmt, ...)
{
	char *msg;
	va_list ap;

	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) < 0)
		msg = NULL;
	va_end(ap);
	c->res->warnings++;
	ev_warn(c->ev, NULL, msg ? msg : fmt);
	free(msg);
}

static int
list_pack(void *ctx, const char *name, uint64_t size)
{
	struct check *c = ctx;
	const char *base = strrchr(name, '/');
	uint8_t id[CRYPTO_ID_LEN];

	base = base ? base + 1 : name;
	if (!hex_valid(base, 64) || hex_decode(base, id, sizeof(id)) != 0 ||
	    strncmp(name + 5, base, 2) != 0) {
		oddity(c, "%s is not a pack name; ignored", name);
		return 0;
	}
	idset_put(c->packs, id, size);
	return 0;
}

static int
list_index(void *ctx, const char *name, uint64_t size)
{
	struct check *c = ctx;

	(void)size;
	*ARRAY_PUSH(c->index_names, c->nindex, c->index_cap) = xstrdup(name);
	return 0;
}

static void
check_blobs(struct check *c, const char *name, const struct buf *pack,
    const struct pack_entry *e, size_t n)
{
	struct buf out = BUF_INIT;

	for (size_t i = 0; i < n; i++) {
		uint8_t id[CRYPTO_ID_LEN];
		char hex[65];
		int rc;

		hex_encode(e[i].ref.id, CRYPTO_ID_LEN, hex);
		if (e[i].ref.offset + e[i].ref.length > pack->len) {
			problem(c, "pack %s: blob %.16s lies outside the pack", name, hex);
			continue;
		}
		rc = repo_blob_unseal(c->r, e[i].type, &e[i].ref,
		    pack->data + e[i].ref.offset, e[i].ref.length, &out);
		if (rc) {
			problem(c, "pack %s: %s", name, err_msg(rc));
			err_clear();
			continue;
		}
		repo_blob_id(c->r, out.data, out.len, id);
		if (!crypto_memeq(id, e[i].ref.id, CRYPTO_ID_LEN))
			problem(c, "pack %s: blob %.16s content does not match its id", name, hex);
		c->res->blobs++;
	}
	buf_free(&out);
}

static int
check_pack(void *ctx, const uint8_t id[32], uint64_t size)
{
	struct check *c = ctx;
	struct pack_entry *e = NULL;
	struct buf whole = BUF_INIT;
	size_t n = 0;
	char name[80];
	int rc;

	repo_pack_name(id, name);
	if (!index_has_pack(c->idx, id))
		oddity(c, "pack %s is in no index (left by an interrupted backup; the next backup indexes it)",
		    name);
	if (c->read_data) {
		rc = repo_pack_read(c->r, id, &whole);
		if (rc == IMDR_OK && whole.len != size)
			rc = err_set(IMDR_EFORMAT, "pack %s changed size while being read", name);
		if (rc == IMDR_OK)
			rc = pack_parse_header(c->r, id, whole.data, whole.len, &e, &n);
		if (rc == IMDR_OK)
			check_blobs(c, name, &whole, e, n);
	} else {
		rc = pack_read_header(c->r, id, size, &e, &n);
	}
	if (rc) {
		problem(c, "%s", err_msg(rc));
		err_clear();
	} else {
		for (size_t i = 0; i < n; i++) {
			struct blob_ref ref;

			if (index_lookup(c->idx, e[i].ref.id, NULL, &ref) == IMDR_OK &&
			    memcmp(ref.pack, id, CRYPTO_ID_LEN) == 0 &&
			    (ref.offset != e[i].ref.offset || ref.length != e[i].ref.length))
				problem(c, "pack %s: index and header disagree on a blob's place", name);
		}
	}
	c->res->packs++;
	ev_advance(c->ev, 1, size);
	free(e);
	buf_free(&whole);
	return 0;
}

static int
missing_pack(void *ctx, const uint8_t id[32], uint64_t size)
{
	struct check *c = ctx;
	char name[80];
	uint64_t have;

	repo_pack_name(id, name);
	if (!idset_get(c->packs, id, &have))
		problem(c, "pack %s is listed in the index but missing from the repository", name);
	else if (size && have != size)
		problem(c, "pack %s has %llu bytes; the index says %llu (truncated?)", name,
		    (unsigned long long)have, (unsigned long long)size);
	return 0;
}

struct walk_ctx {
	struct check *c;
	const char *snap;
};

static int
check_entry(void *ctx, const char *path, const struct cat_node *node,
    const struct cat_entry *e)
{
	struct walk_ctx *w = ctx;
	struct check *c = w->c;

	if (e->type == CAT_DIR) {
		if (!idset_put(c->trees, e->subtree.id, 0))
			return CAT_WALK_SKIP;	/* seen in this or another snapshot */
		c->res->nodes++;
		return 0;
	}
	if (e->type != CAT_FILE)
		return 0;
	for (uint32_t i = 0; i < e->nchunks; i++) {
		struct blob_ref ref, known;
		uint64_t off;
		char pname[80];

		cat_chunk(node, e, i, &ref, &off);
		c->res->chunk_refs++;
		if (!idset_get(c->packs, ref.pack, NULL)) {
			repo_pack_name(ref.pack, pname);
			problem(c, "snapshot %.8s: %s: chunk %u is in pack %s, which is missing",
			    w->snap, path, i, pname);
			break;
		}
		if (index_lookup(c->idx, ref.id, NULL, &known) == IMDR_OK &&
		    memcmp(known.pack, ref.pack, CRYPTO_ID_LEN) == 0 &&
		    known.offset != ref.offset) {
			problem(c, "snapshot %.8s: %s: chunk %u's place disagrees with the index",
			    w->snap, path, i);
			break;
		}
	}
	return 0;
}

static void
check_snapshots(struct check *c)
{
	struct snapshot_name *names = NULL;
	struct idset *ids = idset_new();
	size_t n = 0;
	int rc;

	rc = snapshot_list(c->r, &names, &n);
	if (rc) {
		problem(c, "%s", err_msg(rc));
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		uint8_t id[32];

		hex_decode(names[i].id, id, sizeof(id));
		idset_put(ids, id, i);
	}
	for (size_t i = 0; i < n; i++) {
		struct snapshot *s = NULL;
		struct walk_ctx w = { c, names[i].id };

		rc = snapshot_load(c->r, names[i].name, &s);
		if (rc) {
			problem(c, "%s", err_msg(rc));
			err_clear();
			continue;
		}
		if (s->prev[0]) {
			uint8_t pid[32];

			if (!hex_valid(s->prev, 64) || hex_decode(s->prev, pid, 32) != 0 ||
			    !idset_get(ids, pid, NULL))
				problem(c, "snapshot %.8s names %.8s as the one before it, which is missing (deleted or never written)",
				    s->id, s->prev);
		}
		if (idset_put(c->trees, s->root.id, 0)) {
			c->res->nodes++;
			rc = cat_walk(c->r, &s->root, "", check_entry, &w);
			if (rc) {
				problem(c, "snapshot %.8s: %s", s->id, err_msg(rc));
				err_clear();
			}
		}
		/* the message index is a second tree of the snapshot */
		if (s->has_search && idset_put(c->trees, s->search.id, 0)) {
			c->res->nodes++;
			rc = cat_walk(c->r, &s->search, "(message index)", check_entry, &w);
			if (rc) {
				problem(c, "snapshot %.8s: message index: %s", s->id, err_msg(rc));
				err_clear();
			}
		}
		snapshot_free(s);
	}
	c->res->snapshots = n;
out:
	idset_free(ids);
	free(names);
}

static int
sum_pack(void *ctx, const uint8_t id[32], uint64_t size)
{
	(void)id;
	*(uint64_t *)ctx += size;
	return 0;
}

int
check_run(struct repo *r, const struct check_opts *o, struct check_result *ret)
{
	struct check c;
	uint64_t total = 0;
	int rc;

	memset(&c, 0, sizeof(c));
	memset(ret, 0, sizeof(*ret));
	c.r = r;
	c.ev = &o->ev;
	c.res = ret;
	c.read_data = o->read_data;
	c.idx = index_new();
	c.packs = idset_new();
	c.trees = idset_new();

	rc = repo_list(r, "index/", list_index, &c);
	for (size_t i = 0; rc == IMDR_OK && i < c.nindex; i++) {
		int irc = index_load_one(r, c.idx, c.index_names[i]);

		if (irc) {
			problem(&c, "%s", err_msg(irc));
			err_clear();
		}
	}
	if (rc == IMDR_OK)
		rc = repo_list(r, "data/", list_pack, &c);
	if (rc == IMDR_OK) {
		index_each_pack(c.idx, missing_pack, &c);
		idset_each(c.packs, sum_pack, &total);
		ev_total(c.ev, idset_count(c.packs), total);
		idset_each(c.packs, check_pack, &c);
		check_snapshots(&c);
	}
	for (size_t i = 0; i < c.nindex; i++)
		free(c.index_names[i]);
	free(c.index_names);
	idset_free(c.packs);
	idset_free(c.trees);
	index_free(c.idx);
	return rc;
}
