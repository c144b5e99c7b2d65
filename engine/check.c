/* check — see check.h. */
#include "engine/check.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "catalog/catalog.h"
#include "lib/array.h"
#include "lib/err.h"
#include "lib/hex.h"
#include "lib/idset.h"
#include "repo/audit.h"
#include "repo/index.h"
#include "repo/moved.h"
#include "repo/pack.h"
#include "repo/plan.h"
#include "repo/snapshot.h"

struct check {
	struct repo *r;
	const struct engine_events *ev;
	struct index *idx;
	struct idset *packs;	/* listed in data/: id -> size */
	struct idset *trees;	/* tree nodes already walked */
	struct check_result *res;
	int read_data;
	struct listed_index {
		char *name;
		uint64_t size;		/* as listed: bounds the read */
	} *index_names;
	size_t nindex, index_cap;
	/* lifecycle (check_lifecycle_* below): */
	struct idset *forgotten;	/* snapshot ids forget records name */
	struct idset *planned;		/* packs prune plans hold */
};

static void problem(struct check *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int lifecycle_gap_ok(struct check *c, const char *prev);
static int lifecycle_chunk_ok(struct check *c, const struct blob_ref *ref);
static void lifecycle_load(struct check *c);
static void lifecycle_free(struct check *c);

/* report: one problem (an error) or oddity (a warning), counted and sent
 * to the caller's events. */
static void
vreport(struct check *c, int error, const char *fmt, va_list ap)
{
	char *msg;

	if (vasprintf(&msg, fmt, ap) < 0)
		msg = NULL;
	if (error) {
		c->res->errors++;
		ev_error(c->ev, NULL, msg ? msg : fmt);
	} else {
		c->res->warnings++;
		ev_warn(c->ev, NULL, msg ? msg : fmt);
	}
	free(msg);
}

static void problem(struct check *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void oddity(struct check *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
problem(struct check *c, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vreport(c, 1, fmt, ap);
	va_end(ap);
}

static void
oddity(struct check *c, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vreport(c, 0, fmt, ap);
	va_end(ap);
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

	*ARRAY_PUSH(c->index_names, c->nindex, c->index_cap) =
	    (struct listed_index){ xstrdup(name), size };
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
	if (!index_has_pack(c->idx, id) && !idset_get(c->planned, id, NULL))
		oddity(c, "pack %s is in no index (left by an interrupted backup; the next backup indexes it)",
		    name);
	if (c->read_data) {
		rc = repo_pack_read_sized(c->r, id, size, &whole);
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
		c->res->tree_bytes += e->subtree.length;
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
		if (!idset_get(c->packs, ref.pack, NULL) && !lifecycle_chunk_ok(c, &ref)) {
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
		/* a reference's lengths must be its blob's: a reader trusting a
		 * longer one would return bytes past the chunk */
		if (index_lookup(c->idx, ref.id, NULL, &known) == IMDR_OK &&
		    (known.length != ref.length || known.raw_length != ref.raw_length)) {
			problem(c, "snapshot %.8s: %s: chunk %u claims %u bytes (%u sealed); its blob has %u (%u sealed)",
			    w->snap, path, i, ref.raw_length, ref.length, known.raw_length, known.length);
			break;
		}
		if (repo_blob_ref_check(c->r, BLOB_DATA, &ref) != IMDR_OK) {
			problem(c, "snapshot %.8s: %s: %s", w->snap, path, err_msg(IMDR_EFORMAT));
			err_clear();
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

		rc = snapshot_load_listed(c->r, &names[i], &s);
		if (rc) {
			problem(c, "%s", err_msg(rc));
			err_clear();
			continue;
		}
		if (s->prev[0]) {
			uint8_t pid[32];

			if ((!hex_valid(s->prev, 64) || hex_decode(s->prev, pid, 32) != 0 ||
			    !idset_get(ids, pid, NULL)) && !lifecycle_gap_ok(c, s->prev))
				problem(c, "snapshot %.8s names %.8s as the one before it, which is missing (deleted or never written)",
				    s->id, s->prev);
		}
		if (idset_put(c->trees, s->root.id, 0)) {
			c->res->nodes++;
			c->res->tree_bytes += s->root.length;
			rc = cat_walk(c->r, &s->root, "", check_entry, &w);
			if (rc) {
				problem(c, "snapshot %.8s: %s", s->id, err_msg(rc));
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

/* check_audit: the audit log, and what the checkpoint knew (trail.c);
 * every snapshot was read above, so only their presence is left to it. */
static int
check_audit(struct check *c, const struct check_opts *o)
{
	struct trail_verify_opts to = { o->since_checkpoint, 0, o->ev };
	int rc;

	to.ev.total = NULL;	/* the progress is the packs' */
	to.ev.advance = NULL;
	rc = trail_verify(c->r, &to, &c->res->audit);
	c->res->errors += c->res->audit.errors;
	c->res->warnings += c->res->audit.warnings;
	return rc;
}

static int
sum_pack(void *ctx, const uint8_t id[32], uint64_t size)
{
	(void)id;
	*(uint64_t *)ctx += size;
	return 0;
}

/* check_one: one replica's objects (with_audit: and the audit log). */
static int
check_one(struct repo *r, const struct check_opts *o, struct check_result *ret,
    int with_audit)
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
		int irc = index_load_listed(r, c.idx, c.index_names[i].name,
		    c.index_names[i].size);

		if (irc) {
			problem(&c, "%s", err_msg(irc));
			err_clear();
		}
	}
	if (rc == IMDR_OK)
		rc = repo_list(r, "data/", list_pack, &c);
	if (rc == IMDR_OK)
		lifecycle_load(&c);
	if (rc == IMDR_OK) {
		index_each_pack(c.idx, missing_pack, &c);
		idset_each(c.packs, sum_pack, &total);
		ev_total(c.ev, idset_count(c.packs), total);
		idset_each(c.packs, check_pack, &c);
		check_snapshots(&c);
	}
	if (rc == IMDR_OK && with_audit)
		rc = check_audit(&c, o);
	for (size_t i = 0; i < c.nindex; i++)
		free(c.index_names[i].name);
	free(c.index_names);
	idset_free(c.packs);
	idset_free(c.trees);
	index_free(c.idx);
	lifecycle_free(&c);
	return rc;
}

/* ---- several replicas ---- */

/* Events of one replica's check, passed on with the replica named. */
struct replica_events {
	const struct engine_events *up;
	char name[600];
};

static void
re_total(void *ctx, uint64_t files, uint64_t bytes)
{
	struct replica_events *re = ctx;

	ev_total(re->up, files, bytes);
}

static void
re_advance(void *ctx, uint64_t files, uint64_t bytes)
{
	struct replica_events *re = ctx;

	ev_advance(re->up, files, bytes);
}

static void
re_warn(void *ctx, const char *what, const char *msg)
{
	struct replica_events *re = ctx;
	char *m = xasprintf("%s: %s", re->name, msg);

	ev_warn(re->up, what, m);
	free(m);
}

static void
re_error(void *ctx, const char *what, const char *msg)
{
	struct replica_events *re = ctx;
	char *m = xasprintf("%s: %s", re->name, msg);

	ev_error(re->up, what, m);
	free(m);
}

static const char *const content[] = { "keys/", "data/", "index/", "holds/", "moved/", "snapshots/" };
#define NCONTENT (sizeof(content) / sizeof(content[0]))

struct holders {
	struct idset *who;	/* SHA-256 of the name -> replicas holding it (bits) */
	char **names;
	size_t n, cap;
	uint64_t bit;
};

static int
note_holder(void *ctx, const char *name, uint64_t size)
{
	struct holders *h = ctx;
	uint8_t key[32];
	uint64_t have = 0;

	(void)size;
	crypto_sha256(name, strlen(name), key);
	if (!idset_get(h->who, key, &have))
		*ARRAY_PUSH(h->names, h->n, h->cap) = xstrdup(name);
	idset_put(h->who, key, have | h->bit);
	return 0;
}

/* check_lacks: what each listed replica lacks of what the others hold. */
static void
check_lacks(struct check *c, struct repo **views, int n)
{
	struct holders h = { idset_new(), NULL, 0, 0, 0 };
	uint64_t listed = 0, all;
	uint64_t lacking[REPO_MAX_REPLICAS] = { 0 };

	for (int i = 0; i < n; i++) {
		int rc = IMDR_OK;

		if (views[i] == NULL)
			continue;
		h.bit = 1ull << i;
		for (size_t f = 0; f < NCONTENT && rc == IMDR_OK; f++)
			rc = repo_list(views[i], content[f], note_holder, &h);
		if (rc) {
			problem(c, "replica %d (%s): cannot be listed: %s", i + 1,
			    repo_url(views[i]), err_msg(rc));
			err_clear();
			continue;
		}
		listed |= h.bit;
	}
	all = listed;
	for (size_t k = 0; k < h.n; k++) {
		uint8_t key[32];
		uint64_t have = 0;

		crypto_sha256(h.names[k], strlen(h.names[k]), key);
		idset_get(h.who, key, &have);
		for (int i = 0; i < n; i++) {
			if (!((all >> i) & 1) || ((have >> i) & 1))
				continue;
			c->res->objects_lacking++;
			if (lacking[i]++ < CHECK_LACKS_NAMED)
				problem(c, "replica %d (%s) lacks %s, which another replica holds",
				    i + 1, repo_url(views[i]), h.names[k]);
		}
	}
	for (int i = 0; i < n; i++) {
		if (lacking[i] > CHECK_LACKS_NAMED)
			problem(c, "replica %d (%s) lacks %llu more objects that other replicas hold",
			    i + 1, repo_url(views[i]),
			    (unsigned long long)(lacking[i] - CHECK_LACKS_NAMED));
		if (lacking[i])
			oddity(c, "replica %d (%s) is behind: imdr copy GOOD_REPLICA %s brings it up to date",
			    i + 1, repo_url(views[i]), repo_url(views[i]));
	}
	for (size_t k = 0; k < h.n; k++)
		free(h.names[k]);
	free(h.names);
	idset_free(h.who);
}

static int
check_replicas(struct repo *r, const struct check_opts *o, struct check_result *ret)
{
	struct repo *views[REPO_MAX_REPLICAS] = { NULL };
	struct check c;
	int n = repo_replica_count(r), checked = 0;

	memset(&c, 0, sizeof(c));
	memset(ret, 0, sizeof(*ret));
	c.r = r;
	c.ev = &o->ev;
	c.res = ret;
	for (int i = 0; i < n; i++) {
		struct replica_events re = { &o->ev, "" };
		struct check_opts so = *o;
		struct check_result sr;
		struct repo_replica ri;
		int rc;

		repo_replica_info(r, i, &ri);
		if (ri.state != REPO_REPLICA_OK) {
			/* unreachable when opened: not waited for again */
			problem(&c, "replica %d (%s) cannot be checked: %s", i + 1, ri.url, ri.why);
			continue;
		}
		rc = repo_replica_open(r, i, &views[i]);
		if (rc) {
			problem(&c, "%s", err_msg(rc));
			err_clear();
			views[i] = NULL;
			continue;
		}
		snprintf(re.name, sizeof(re.name), "replica %d (%s)", i + 1, repo_url(views[i]));
		so.ev = (struct engine_events){ re_total, re_advance, re_warn, re_error, &re,
		    o->ev.cancel };
		rc = check_one(views[i], &so, &sr, 0);
		if (rc) {
			problem(&c, "%s: cannot be checked: %s", re.name, err_msg(rc));
			err_clear();
			repo_free(views[i]);
			views[i] = NULL;
			continue;
		}
		checked++;
		ret->errors += sr.errors;
		ret->warnings += sr.warnings;
		ret->packs += sr.packs;
		ret->blobs += sr.blobs;
		ret->snapshots += sr.snapshots;
		ret->nodes += sr.nodes;
		ret->chunk_refs += sr.chunk_refs;
	}
	ret->replicas = checked;
	if (checked > 1)
		check_lacks(&c, views, n);
	/* the audit log once, through every replica (a record one lacks is
	 * lag, named above; one no replica holds, or one altered, is not) */
	if (checked > 0 && check_audit(&c, o) != IMDR_OK) {
		problem(&c, "the audit log cannot be checked: %s", err_msg(IMDR_EIO));
		err_clear();
	}
	for (int i = 0; i < n; i++)
		repo_free(views[i]);
	if (checked == 0)
		return err_set(IMDR_ENET, "no replica of %s could be checked", repo_url(r));
	return IMDR_OK;
}

int
check_run(struct repo *r, const struct check_opts *o, struct check_result *ret)
{
	int rc;

	if (repo_replica_count(r) > 1)
		return check_replicas(r, o, ret);
	rc = check_one(r, o, ret, 1);
	ret->replicas = 1;
	return rc;
}

/* ---- lifecycle: what forget and prune leave, which is not damage ----
 *
 * forget makes gaps in the snapshots' chain: one is accepted only when an
 * audit `forget` record names the snapshot removed (records are listed by
 * name; only forget records are read). prune moves blobs out of packs it
 * deletes: a chunk whose pack is gone is found through the moved maps.
 * Packs a prune plan holds await deletion and are in no index on purpose.
 * Plans and maps are authenticated like every object. */

static int
collect_forgotten(struct check *c, const char *name)
{
	struct audit_record *a = NULL;
	json_error_t jerr;
	json_t *j, *rm, *v;
	size_t i;
	int rc;

	rc = audit_load(c->r, name, &a);
	if (rc) {
		problem(c, "%s", err_msg(rc));
		err_clear();
		return 0;
	}
	j = json_loads(a->scope_json, 0, &jerr);
	rm = j ? json_object_get(j, "removed") : NULL;
	json_array_foreach(rm, i, v) {
		uint8_t id[32];
		const char *s = json_string_value(v);

		if (s && hex_valid(s, 64) && hex_decode(s, id, sizeof(id)) == 0)
			idset_put(c->forgotten, id, 1);
	}
	json_decref(j);
	audit_record_free(a);
	return 0;
}

static void
lifecycle_load(struct check *c)
{
	struct audit_name *an = NULL;
	struct plan_name *pn = NULL;
	size_t n = 0, np = 0;
	int rc;

	c->forgotten = idset_new();
	c->planned = idset_new();
	rc = audit_list(c->r, &an, &n);
	for (size_t i = 0; rc == IMDR_OK && i < n; i++)
		if (strcmp(an[i].command, "forget") == 0)
			collect_forgotten(c, an[i].name);
	if (rc) {
		problem(c, "%s", err_msg(rc));
		err_clear();
	}
	free(an);
	rc = plan_list(c->r, &pn, &np);
	for (size_t i = 0; rc == IMDR_OK && i < np; i++) {
		struct plan *pl = NULL;

		if (!pn[i].body)
			continue;
		if (plan_load(c->r, &pn[i], &pl) != IMDR_OK) {
			problem(c, "%s", err_msg(IMDR_EFORMAT));
			err_clear();
			continue;
		}
		for (size_t k = 0; k < pl->npacks; k++)
			idset_put(c->planned, pl->packs[k].id, 1);
		plan_free(pl);
	}
	if (rc) {
		problem(c, "%s", err_msg(rc));
		err_clear();
	}
	free(pn);
}

static void
lifecycle_free(struct check *c)
{
	idset_free(c->forgotten);
	idset_free(c->planned);
}

static int
lifecycle_gap_ok(struct check *c, const char *prev)
{
	uint8_t id[32];

	return hex_valid(prev, 64) && hex_decode(prev, id, sizeof(id)) == 0 &&
	    idset_get(c->forgotten, id, NULL);
}

/* lifecycle_chunk_ok: ref's pack is gone; its blob is where moved maps
 * lead, in a pack that exists and holds it at that place. */
static int
lifecycle_chunk_ok(struct check *c, const struct blob_ref *ref)
{
	struct blob_ref cur = *ref, next;

	for (int hop = 0; hop < REPO_MOVED_HOPS; hop++) {
		if (repo_blob_relocate(c->r, BLOB_DATA, &cur, &next) != IMDR_OK) {
			err_clear();
			return 0;
		}
		cur = next;
		if (idset_get(c->packs, cur.pack, NULL))
			return 1;
	}
	return 0;
}
