/* repair — see repair.h. */
#include "engine/repair.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "catalog/catalog.h"
#include "engine/forget.h"
#include "lib/array.h"
#include "lib/err.h"
#include "lib/hex.h"
#include "lib/idset.h"
#include "lib/par.h"
#include "repo/audit.h"
#include "repo/index.h"
#include "repo/lock.h"
#include "repo/pack.h"
#include "repo/plan.h"
#include "repo/store.h"

#define INDEX_OBJ_ENTRIES 65536
#define MAX_DEPTH 4096

/* ---- data/ ---- */

static int
list_pack(void *ctx, const char *name, uint64_t size)
{
	const char *base = strrchr(name, '/');
	uint8_t id[CRYPTO_ID_LEN];

	base = base ? base + 1 : name;
	if (hex_valid(base, 64) && hex_decode(base, id, sizeof(id)) == 0)
		idset_put(ctx, id, size);
	return 0;
}

/* ---- repair index ---- */

struct rpk {
	uint8_t id[CRYPTO_ID_LEN];
	uint64_t size;
	struct pack_entry *e;
	size_t n;
	int ok;			/* goes into the new index */
};

struct ri {
	struct repo *r;
	const struct repair_opts *o;
	struct rpk *v;
	size_t n, cap;
	struct idset *map;	/* pack id -> index in v */
	char **names;		/* index objects */
	size_t nnames, names_cap;
};

static int
list_name(void *ctx, const char *name, uint64_t size)
{
	struct ri *ri = ctx;

	(void)size;
	*ARRAY_PUSH(ri->names, ri->nnames, ri->names_cap) = xstrdup(name);
	return 0;
}

static int
add_listed(void *ctx, const uint8_t pack[CRYPTO_ID_LEN], uint64_t size,
    const struct pack_entry *e, size_t n)
{
	struct ri *ri = ctx;
	struct rpk *k;

	if (idset_get(ri->map, pack, NULL))
		return IMDR_OK;
	k = ARRAY_PUSH(ri->v, ri->n, ri->cap);
	memset(k, 0, sizeof(*k));
	memcpy(k->id, pack, CRYPTO_ID_LEN);
	k->size = size;
	k->n = n;
	k->e = xcalloc(n ? n : 1, sizeof(*e));
	if (n)
		memcpy(k->e, e, n * sizeof(*e));
	idset_put(ri->map, pack, ri->n - 1);
	return IMDR_OK;
}

struct hdr {
	struct repo *r;
	uint8_t (*ids)[CRYPTO_ID_LEN];
	uint64_t *sizes;
	struct pack_entry **e;
	size_t *n;
	int *ok;
	const struct engine_events *ev;
};

static int
read_hdr(void *ctx, size_t k)
{
	struct hdr *h = ctx;
	int rc = pack_read_header(h->r, h->ids[k], h->sizes[k], &h->e[k], &h->n[k]);

	if (rc) {
		char name[80];

		repo_pack_name(h->ids[k], name);
		ev_warn(h->ev, name, err_msg(rc));
		err_clear();
		return IMDR_OK;
	}
	h->ok[k] = 1;
	return IMDR_OK;
}

struct orphans {
	struct ri *ri;
	struct idset *planned;
	struct hdr *h;
	size_t n, cap;
};

static int
find_orphan(void *ctx, const uint8_t id[32], uint64_t size)
{
	struct orphans *o = ctx;

	if (idset_get(o->ri->map, id, NULL) || idset_get(o->planned, id, NULL))
		return 0;
	if (o->n == o->cap) {
		o->cap = o->cap ? o->cap * 2 : 16;
		o->h->ids = xrealloc(o->h->ids, o->cap * sizeof(*o->h->ids));
		o->h->sizes = xrealloc(o->h->sizes, o->cap * sizeof(*o->h->sizes));
	}
	memcpy(o->h->ids[o->n], id, CRYPTO_ID_LEN);
	o->h->sizes[o->n++] = size;
	return 0;
}

static int
del_name(void *ctx, size_t k)
{
	struct ri *ri = ctx;

	return repo_delete(ri->r, ri->names[k]);
}

/* write_all: the new index, in objects of at most INDEX_OBJ_ENTRIES. */
static int
write_all(struct ri *ri, size_t *ret_objects)
{
	uint8_t (*ids)[CRYPTO_ID_LEN] = xcalloc(ri->n + 1, sizeof(*ids));
	uint64_t *sizes = xcalloc(ri->n + 1, sizeof(*sizes));
	struct pack_entry **e = xcalloc(ri->n + 1, sizeof(*e));
	size_t *counts = xcalloc(ri->n + 1, sizeof(*counts)), n = 0, entries = 0;
	int rc = IMDR_OK;

	*ret_objects = 0;
	for (size_t i = 0; i <= ri->n && rc == IMDR_OK; i++) {
		if (i < ri->n && !ri->v[i].ok)
			continue;
		if (n && (i == ri->n || entries + ri->v[i].n > INDEX_OBJ_ENTRIES)) {
			rc = index_write(ri->r, (const uint8_t (*)[CRYPTO_ID_LEN])ids, sizes, e,
			    counts, n);
			(*ret_objects)++;
			n = entries = 0;
		}
		if (i == ri->n)
			break;
		memcpy(ids[n], ri->v[i].id, CRYPTO_ID_LEN);
		sizes[n] = ri->v[i].size;
		e[n] = ri->v[i].e;
		counts[n++] = ri->v[i].n;
		entries += ri->v[i].n;
	}
	free(ids);
	free(sizes);
	free(e);
	free(counts);
	return rc;
}

int
repair_index(struct repo *r, const struct repair_opts *o, struct repair_index_result *ret)
{
	struct ri ri;
	struct hdr h;
	struct orphans orph;
	struct idset *listed = idset_new(), *planned = idset_new();
	struct lock *lk = NULL;
	struct repo_traits tr;
	json_t *missing = json_array();
	int rc;

	memset(ret, 0, sizeof(*ret));
	memset(&ri, 0, sizeof(ri));
	memset(&h, 0, sizeof(h));
	ri.r = r;
	ri.o = o;
	ri.map = idset_new();
	h.r = r;
	h.ev = &o->ev;
	orph = (struct orphans){ &ri, planned, &h, 0, 0 };
	repo_traits(r, &tr);
	if (!o->dry_run && (rc = lock_acquire(r, LOCK_PRUNE, &lk)) != IMDR_OK)
		goto out;
	rc = repo_list(r, "index/", list_name, &ri);
	for (size_t i = 0; rc == IMDR_OK && i < ri.nnames; i++) {
		rc = index_read_object(r, ri.names[i], add_listed, &ri);
		if (rc == IMDR_EAUTH || rc == IMDR_EFORMAT) {
			/* its packs are read from their headers below */
			ev_warn(&o->ev, ri.names[i], err_msg(rc));
			err_clear();
			rc = IMDR_OK;
		}
	}
	ret->index_before = ri.nnames;
	if (rc == IMDR_OK)
		rc = repo_list(r, "data/", list_pack, listed);
	if (rc == IMDR_OK)
		rc = plan_pack_set(r, planned, NULL);
	if (rc)
		goto out;
	for (size_t i = 0; i < ri.n; i++) {
		char name[80];

		ri.v[i].ok = idset_get(listed, ri.v[i].id, NULL);
		if (ri.v[i].ok) {
			ret->packs++;
			continue;
		}
		repo_pack_name(ri.v[i].id, name);
		if (ret->packs_missing++ == 0)
			snprintf(ret->first_missing, sizeof(ret->first_missing), "%s", name);
		ret->blobs_dropped += ri.v[i].n;
		json_array_append_new(missing, json_string(name));
		ev_warn(&o->ev, name, "listed in the index, missing from the repository: dropped from the index");
	}
	idset_each(listed, find_orphan, &orph);
	h.e = xcalloc(orph.n + 1, sizeof(*h.e));
	h.n = xcalloc(orph.n + 1, sizeof(*h.n));
	h.ok = xcalloc(orph.n + 1, sizeof(*h.ok));
	rc = par_for(orph.n, tr.concurrency, read_hdr, &h);
	for (size_t k = 0; rc == IMDR_OK && k < orph.n; k++) {
		if (!h.ok[k])
			continue;
		add_listed(&ri, h.ids[k], h.sizes[k], h.e[k], h.n[k]);
		ri.v[ri.n - 1].ok = 1;
		ret->packs_added++;
		ret->packs++;
	}
	if (rc || o->dry_run || (ret->packs_missing == 0 && ret->packs_added == 0))
		goto out;
	rc = write_all(&ri, &ret->index_after);
	if (rc == IMDR_OK)
		rc = par_for(ri.nnames, tr.concurrency, del_name, &ri);
	if (rc == IMDR_OK) {
		json_t *j = json_pack("{s:s, s:o, s:I, s:I}", "what", "index", "packs_missing",
		    missing, "packs_indexed", (json_int_t)ret->packs_added,
		    "blobs_dropped", (json_int_t)ret->blobs_dropped);
		char *js = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);

		missing = NULL;
		json_decref(j);
		rc = audit_append(r, &(struct audit_event){ "repair", js, "ok" }, ret->audit_id);
		free(js);
	}
out:
	json_decref(missing);
	for (size_t i = 0; i < ri.n; i++)
		free(ri.v[i].e);
	free(ri.v);
	for (size_t i = 0; i < ri.nnames; i++)
		free(ri.names[i]);
	free(ri.names);
	for (size_t k = 0; k < orph.n; k++)
		free(h.e ? h.e[k] : NULL);
	free(h.e);
	free(h.n);
	free(h.ok);
	free(h.ids);
	free(h.sizes);
	idset_free(ri.map);
	idset_free(listed);
	idset_free(planned);
	lock_release(lk);
	return rc;
}

/* ---- repair snapshots ---- */

struct counts {
	uint64_t files, dirs, symlinks, bytes;
};

struct rs {
	struct repo *r;
	const struct repair_opts *o;
	struct idset *listed;		/* packs in data/ */
	struct index *idx;		/* without the lost packs */
	struct store *st;		/* for mended tree nodes (rewrite) */
	struct idset *intact;		/* tree ids found whole -> index in memo */
	struct counts *memo;
	size_t nmemo, memo_cap;
	struct repair_snapshot *cur;
	size_t lost_cap;
};

/* chunk_at: where ref's blob can be read: its pack, through moved maps,
 * or a copy the index knows (stored again later). 0 ok as it is, 1 found
 * elsewhere (*ret), -1 lost (*why says what is missing). */
static int
chunk_at(struct rs *rs, enum blob_type type, const struct blob_ref *ref,
    struct blob_ref *ret, char *why, size_t cap)
{
	struct blob_ref cur = *ref, next;
	char pname[80];

	for (int hop = 0; hop <= REPO_MOVED_HOPS; hop++) {
		if (idset_get(rs->listed, cur.pack, NULL))
			return 0;
		if (repo_blob_relocate(rs->r, type, &cur, &next) != IMDR_OK) {
			err_clear();
			break;
		}
		cur = next;
	}
	if (index_lookup(rs->idx, ref->id, NULL, ret) == IMDR_OK &&
	    idset_get(rs->listed, ret->pack, NULL))
		return 1;
	repo_pack_name(ref->pack, pname);
	snprintf(why, cap, "pack %s is missing", pname);
	return -1;
}

static void
lose(struct rs *rs, const char *path, const char *what, const char *why)
{
	struct repair_loss *l = ARRAY_PUSH(rs->cur->lost, rs->cur->nlost, rs->lost_cap);

	l->path = xstrdup(*path ? path : "/");
	l->reason = xasprintf("%s lost in repair: %s", what, why);
}

struct dir_out {
	int changed;
	struct blob_ref ref;
	uint32_t nentries, nsubdirs;
	struct counts c;
};

/* scan_dir: check (and with rewrite, mend) the folder at ref; IMDR_ENOENT
 * when its own node is lost. */
static int
scan_dir(struct rs *rs, const struct blob_ref *ref, const char *path, int depth,
    struct dir_out *out)
{
	struct cat_node *node = NULL;
	struct cat_entry *ne = NULL;
	struct blob_ref *chunks = NULL;
	size_t nne = 0, nch = 0, chcap = 0;
	uint64_t mi;
	int rc;

	memset(out, 0, sizeof(*out));
	out->ref = *ref;
	if (idset_get(rs->intact, ref->id, &mi)) {
		out->c = rs->memo[mi];
		return IMDR_OK;
	}
	if (depth > MAX_DEPTH)
		return err_set(IMDR_EFORMAT, "%s: folders nested deeper than %d", path, MAX_DEPTH);
	rc = cat_node_load(rs->r, ref, &node);
	if (rc) {
		char why[300];

		snprintf(why, sizeof(why), "%s", err_msg(rc));
		err_clear();
		lose(rs, path, "folder", why);
		return IMDR_ENOENT;
	}
	ne = xcalloc(cat_node_count(node) + 1, sizeof(*ne));
	for (uint32_t i = 0; i < cat_node_count(node) && rc == IMDR_OK; i++) {
		const struct cat_entry *e = cat_node_entry(node, i);
		char *sub = *path ? xasprintf("%s/%s", path, e->name) : xstrdup(e->name);
		struct cat_entry c = *e;

		if (e->type == CAT_DIR) {
			struct dir_out d;

			rc = scan_dir(rs, &e->subtree, sub, depth + 1, &d);
			if (rc == IMDR_ENOENT) {
				rc = IMDR_OK;
				out->changed = 1;
				free(sub);
				continue;
			}
			if (d.changed) {
				out->changed = 1;
				c.subtree = d.ref;
				c.nentries = d.nentries;
				c.nsubdirs = d.nsubdirs;
			}
			out->c.dirs += d.c.dirs + 1;
			out->c.files += d.c.files;
			out->c.symlinks += d.c.symlinks;
			out->c.bytes += d.c.bytes;
			out->nsubdirs++;
		} else if (e->type == CAT_FILE) {
			size_t first = nch;
			int lost = 0;

			for (uint32_t k = 0; k < e->nchunks && !lost; k++) {
				struct blob_ref cr, fixed;
				uint64_t off;
				char why[160];
				int at;

				cat_chunk(node, e, k, &cr, &off);
				at = chunk_at(rs, BLOB_DATA, &cr, &fixed, why, sizeof(why));
				if (at < 0) {
					lose(rs, sub, "file", why);
					lost = 1;
					break;
				}
				if (at > 0) {
					cr = fixed;
					rs->cur->chunks_healed++;
					out->changed = 1;
				}
				*ARRAY_PUSH(chunks, nch, chcap) = cr;
			}
			if (lost) {
				nch = first;
				out->changed = 1;
				free(sub);
				continue;
			}
			out->c.files++;
			out->c.bytes += e->size;
		} else {
			out->c.symlinks++;
		}
		ne[nne++] = c;
		free(sub);
	}
	out->nentries = (uint32_t)nne;
	if (rc == IMDR_OK && !out->changed) {
		struct counts *m = ARRAY_PUSH(rs->memo, rs->nmemo, rs->memo_cap);

		*m = out->c;
		idset_put(rs->intact, ref->id, rs->nmemo - 1);
	} else if (rc == IMDR_OK && rs->st) {
		struct buf b = BUF_INIT;

		cat_encode_node(ne, (uint32_t)nne, chunks, &b);
		rc = store_put_sync(rs->st, BLOB_TREE, b.data, b.len, &out->ref);
		buf_free(&b);
	}
	free(ne);
	free(chunks);
	cat_node_free(node);
	return rc;
}

static int
drop_missing(void *ctx, const uint8_t pack[CRYPTO_ID_LEN], uint64_t size)
{
	void **c = ctx;

	(void)size;
	if (!idset_get(c[0], pack, NULL))
		memcpy(*ARRAY_PUSH(*(uint8_t (**)[CRYPTO_ID_LEN])c[1], *(size_t *)c[2],
		    *(size_t *)c[3]), pack, CRYPTO_ID_LEN);
	return 0;
}

void
repair_snapshots_result_free(struct repair_snapshots_result *ret)
{
	for (size_t i = 0; i < ret->n; i++) {
		for (size_t k = 0; k < ret->v[i].nlost; k++) {
			free(ret->v[i].lost[k].path);
			free(ret->v[i].lost[k].reason);
		}
		free(ret->v[i].lost);
		free(ret->v[i].source);
		free(ret->v[i].held_by);
	}
	free(ret->v);
	memset(ret, 0, sizeof(*ret));
}

/* mended: the snapshot that replaces s, with root and counts from the scan. */
/* scan_index: the snapshot's message index checked like a folder: chunks
 * stored again elsewhere are healed (*ret_ref the mended tree); a lost
 * piece loses the whole index (*ret_lost: the snapshot is then searched by
 * reading its messages.jsonl), recorded as one loss. */
static int
scan_index(struct rs *rs, const struct snapshot *s, struct blob_ref *ret_ref, int *ret_changed,
    int *ret_lost)
{
	struct dir_out di;
	size_t before = rs->cur->nlost;
	int rc = scan_dir(rs, &s->search, "(message index)", 0, &di);

	*ret_changed = 0;
	*ret_lost = 0;
	if (rc != IMDR_OK && rc != IMDR_ENOENT)
		return rc;
	if (rc == IMDR_ENOENT || rs->cur->nlost > before) {
		const char *first = rs->cur->nlost > before ? rs->cur->lost[before].reason : NULL;
		const char *tail = first ? strstr(first, "lost in repair: ") : NULL;
		char *why = xstrdup(tail ? tail + 16 : first ? first : "its tree is lost");

		while (rs->cur->nlost > before) {
			rs->cur->nlost--;
			free(rs->cur->lost[rs->cur->nlost].path);
			free(rs->cur->lost[rs->cur->nlost].reason);
		}
		lose(rs, "(message index)", "message index (searches read messages.jsonl instead)",
		    why);
		free(why);
		*ret_lost = 1;
		*ret_changed = 1;
		return IMDR_OK;
	}
	*ret_ref = di.ref;
	*ret_changed = di.changed;
	return IMDR_OK;
}

static struct snapshot *
mended(const struct snapshot *s, const struct repair_snapshot *rsn, const struct dir_out *d,
    const struct blob_ref *search, int search_lost)
{
	struct snapshot *m = xcalloc(1, sizeof(*m));

	*m = *s;
	m->root = d->ref;
	if (search_lost)
		m->has_search = 0;
	else if (s->has_search)
		m->search = *search;
	m->files = d->c.files;
	m->dirs = d->c.dirs;
	m->symlinks = d->c.symlinks;
	m->bytes = d->c.bytes;
	m->added_bytes = 0;
	m->added_blobs = 0;
	m->tags = xcalloc(s->ntags + 1, sizeof(*m->tags));
	if (s->ntags)
		memcpy(m->tags, s->tags, s->ntags * sizeof(*m->tags));
	m->tags[m->ntags++] = "repaired";
	m->skipped = xcalloc(s->nskipped + rsn->nlost + 1, sizeof(*m->skipped));
	if (s->nskipped)
		memcpy(m->skipped, s->skipped, s->nskipped * sizeof(*m->skipped));
	for (size_t k = 0; k < rsn->nlost; k++) {
		m->skipped[m->nskipped].path = rsn->lost[k].path;
		m->skipped[m->nskipped++].reason = rsn->lost[k].reason;
	}
	m->skipped_total = s->skipped_total + rsn->nlost;
	return m;
}

int
repair_snapshots(struct repo *r, const struct repair_opts *o,
    struct repair_snapshots_result *ret)
{
	struct rs rs;
	struct snapshot_name *names = NULL;
	struct snapshot **old = NULL, **mend = NULL;
	struct lock *lk = NULL;
	uint8_t (*gone)[CRYPTO_ID_LEN] = NULL;
	size_t n = 0, ngone = 0, gcap = 0, cap = 0;
	int writing = o->rewrite && !o->dry_run, rc;

	memset(ret, 0, sizeof(*ret));
	memset(&rs, 0, sizeof(rs));
	rs.r = r;
	rs.o = o;
	rs.listed = idset_new();
	rs.intact = idset_new();
	rs.idx = index_new();
	/* the prune lock: no prune may drop a moved map the mended trees
	 * still name while they are written */
	if (writing && (rc = lock_acquire(r, LOCK_PRUNE, &lk)) != IMDR_OK)
		goto out;
	rc = repo_list(r, "data/", list_pack, rs.listed);
	if (rc == IMDR_OK)
		rc = index_load(r, rs.idx);
	if (rc == IMDR_OK) {
		void *c[4] = { rs.listed, &gone, &ngone, &gcap };

		index_each_pack(rs.idx, drop_missing, c);
		for (size_t i = 0; i < ngone; i++)
			index_drop_pack(rs.idx, gone[i]);
	}
	if (rc == IMDR_OK && writing)
		rc = store_new(r, rs.idx, NULL, &rs.st);
	if (rc == IMDR_OK)
		rc = snapshot_list(r, &names, &n);
	if (rc)
		goto out;
	ev_total(&o->ev, n, 0);
	old = xcalloc(n + 1, sizeof(*old));
	mend = xcalloc(n + 1, sizeof(*mend));
	for (size_t i = 0; i < n && rc == IMDR_OK; i++) {
		struct repair_snapshot *cur;
		struct snapshot *s = NULL;
		struct dir_out d;
		struct blob_ref search;
		int search_lost = 0;
		size_t lost_before;

		if (ev_cancelled(&o->ev)) {
			rc = err_set(IMDR_EINTR, "interrupted; nothing was written");
			break;
		}
		rc = snapshot_load(r, names[i].name, &s);
		if (rc)
			break;
		search = s->search;
		ret->snapshots++;
		cur = ARRAY_PUSH(ret->v, ret->n, cap);
		memset(cur, 0, sizeof(*cur));
		cur->sn = names[i];
		cur->source = xstrdup(s->source);
		rs.cur = cur;
		rs.lost_cap = 0;
		lost_before = 0;
		rc = scan_dir(&rs, &s->root, "", 0, &d);
		if (rc == IMDR_ENOENT) {
			/* the root itself is lost: nothing left to keep */
			rc = IMDR_OK;
			d.changed = 1;
			memset(&d.c, 0, sizeof(d.c));
			if (rs.st) {
				struct buf b = BUF_INIT;

				cat_encode_node(NULL, 0, NULL, &b);
				rc = store_put_sync(rs.st, BLOB_TREE, b.data, b.len, &d.ref);
				buf_free(&b);
			}
		}
		(void)lost_before;
		if (rc == IMDR_OK && s->has_search) {
			int ichanged;

			rc = scan_index(&rs, s, &search, &ichanged, &search_lost);
			if (ichanged)
				d.changed = 1;
		}
		ev_advance(&o->ev, 1, 0);
		if (rc == IMDR_OK && !d.changed) {
			/* whole: not listed */
			free(cur->source);
			ret->n--;
			snapshot_free(s);
			continue;
		}
		ret->files_lost += cur->nlost;
		old[ret->n - 1] = s;
		if (rc == IMDR_OK && writing)
			mend[ret->n - 1] = mended(s, cur, &d, &search, search_lost);
	}
	if (rc || !writing || ret->n == 0)
		goto out;
	/* the mended trees are stored before any snapshot names them */
	rc = store_flush(rs.st);
	for (size_t k = 0; k < ret->n && rc == IMDR_OK; k++) {
		rc = snapshot_save(r, mend[k]);
		if (rc == IMDR_OK) {
			memcpy(ret->v[k].new_id, mend[k]->id, sizeof(ret->v[k].new_id));
			ret->rewritten++;
		}
	}
	if (rc == IMDR_OK) {
		json_t *j = json_pack("{s:s, s:[]}", "what", "snapshots", "rewritten");
		json_t *a = json_object_get(j, "rewritten");
		char *js;

		for (size_t k = 0; k < ret->n; k++)
			json_array_append_new(a, json_pack("{s:s, s:s, s:I}", "from", ret->v[k].sn.id,
			    "to", ret->v[k].new_id, "lost", (json_int_t)ret->v[k].nlost));
		js = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
		json_decref(j);
		rc = audit_append(r, &(struct audit_event){ "repair", js, "ok" }, ret->audit_id);
		free(js);
	}
	if (rc == IMDR_OK) {
		/* the damaged ones go the way forget takes: recorded, holds kept */
		struct forget_opts fo;
		struct forget_result fr;
		const char **specs = xcalloc(ret->n, sizeof(*specs));

		memset(&fo, 0, sizeof(fo));
		for (size_t k = 0; k < ret->n; k++)
			specs[k] = ret->v[k].sn.id;
		fo.specs = specs;
		fo.nspecs = ret->n;
		fo.ev = o->ev;
		fo.ev.total = NULL;
		fo.ev.advance = NULL;
		rc = forget_run(r, &fo, &fr);
		for (size_t i = 0; i < fr.n; i++) {
			for (size_t k = 0; k < ret->n; k++) {
				if (strcmp(fr.v[i].sn.id, ret->v[k].sn.id) != 0)
					continue;
				ret->v[k].forgotten = fr.v[i].removed;
				ret->forgotten += fr.v[i].removed;
				if (fr.v[i].held_by)
					ret->v[k].held_by = xstrdup(fr.v[i].held_by);
			}
		}
		forget_result_free(&fr);
		free(specs);
	}
out:
	for (size_t k = 0; old && k < ret->n; k++) {
		if (mend[k]) {
			free(mend[k]->tags);
			free(mend[k]->skipped);
			free(mend[k]);
		}
		snapshot_free(old[k]);
	}
	free(old);
	free(mend);
	free(names);
	free(gone);
	store_free(rs.st);
	index_free(rs.idx);
	idset_free(rs.listed);
	idset_free(rs.intact);
	free(rs.memo);
	lock_release(lk);
	return rc;
}
