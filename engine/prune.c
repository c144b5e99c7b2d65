/* prune — see prune.h; the protocol and why it is safe are in
 * docs/FORMAT.md "Prune". The order of the steps below is the protocol:
 *
 *   1. take the prune lock; list the live locks (their sessions)
 *   2. finish plans a killed prune left without .ready; find which plans
 *      are due (grace over, none of their sessions live)
 *   3. read every index object (each pack's full blob list), list data/,
 *      read the headers of packs no index or plan names
 *   4. walk every snapshot's trees: the blobs in use, the packs trees name
 *   5. sweep due plans: a pack an index lists again, or holding a used
 *      blob found nowhere else, is taken back; the rest leave a moved map
 *      when trees name them, and are deleted; then the plan
 *   6. mark: plan packs with no used blob, repack those over max_unused
 *      (used blobs copied, sealed bytes as they are, into new packs)
 *   7. write the new index, the plan, delete the index objects read in 3,
 *      list the live locks: the plan's .ready
 *   8. with grace 0 and no backup live in 7: sweep that plan at once,
 *      after walking the snapshots and reading the index objects that
 *      appeared meanwhile
 *   9. drop moved maps no tree needs; an audit record
 *
 * Steps 1-2 come before 3-4: whatever a due plan waited for has ended
 * before the index and the snapshots are read. */
#include "engine/prune.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "catalog/catalog.h"
#include "lib/array.h"
#include "lib/err.h"
#include "lib/hex.h"
#include "lib/idset.h"
#include "lib/log.h"
#include "lib/par.h"
#include "lib/timefmt.h"
#include "repo/audit.h"
#include "repo/index.h"
#include "repo/lock.h"
#include "repo/moved.h"
#include "repo/pack.h"
#include "repo/plan.h"
#include "repo/snapshot.h"

/* an index object holds at most this many blob entries (~3.5 MiB) */
#define INDEX_OBJ_ENTRIES 65536
/* repack: live blobs closer than this are read in one request, up to
 * READ_SPAN a request (what a repacking thread holds) */
#define READ_GAP (256u << 10)
#define READ_SPAN (8u << 20)
/* repack: packs read at once; more over a remote link, where round trips
 * and not the disk bound it */
#define REPACK_THREADS 4
#define REPACK_THREADS_REMOTE 8

enum {
	PK_INDEXED = 1,		/* an index object lists it */
	PK_LISTED = 2,		/* in data/ */
	PK_ORPHAN = 4,		/* in no index and no plan; its header was read */
	PK_NEW = 8,		/* written by this run */
	PK_PLANNED = 16,	/* in a plan still to be swept */
	PK_GONE = 32,		/* deleted by this run */
	PK_CONDEMN = 64,	/* in this run's plan */
	PK_REPACK = 128,	/* its used blobs are copied out */
};

struct pk {
	uint8_t id[CRYPTO_ID_LEN];
	uint64_t size;
	struct pack_entry *e;	/* every blob in the pack */
	size_t n;
	unsigned flags;
	uint64_t live_bytes, dead_bytes;
	uint32_t live_n;
};

struct prune {
	struct repo *r;
	const struct prune_opts *o;
	struct prune_result *res;
	struct lock *lk;
	int conc, remote;
	int64_t t0, t0_mono;

	struct pk *pk;
	size_t npk, pkcap;
	struct idset *pkmap;		/* pack id -> index in pk */

	char **iobj;			/* index objects read: deleted in step 7 */
	uint64_t *iobj_size;
	size_t niobj, iobjcap;
	char **mine;			/* index objects this run wrote */
	size_t nmine, minecap;

	struct idset *loc;		/* blob id -> pk index << 32 | entry: a copy that stays */
	struct idset *used;		/* blob ids the snapshots use -> type */
	struct idset *refpacks;		/* packs tree nodes and snapshots name */
	struct idset *trees;		/* tree nodes walked */
	struct idset *walked;		/* snapshots walked */
	pthread_mutex_t mu;		/* the sets above, during walks and repacks */

	struct lock_info *live;
	size_t nlive;
	struct plan **plans;
	size_t nplans, plans_cap;
	int *due;

	/* repack output */
	struct pack_writer *pw[2];
	uint64_t repack_read;
};

static void step(struct prune *p, const char *what);

/* ---- packs ---- */

static struct pk *
pk_get(struct prune *p, const uint8_t id[CRYPTO_ID_LEN])
{
	uint64_t i;

	return idset_get(p->pkmap, id, &i) ? &p->pk[i] : NULL;
}

/* pk_add: the pack, made known with its entries (copied) unless known. */
static struct pk *
pk_add(struct prune *p, const uint8_t id[CRYPTO_ID_LEN], uint64_t size,
    const struct pack_entry *e, size_t n, unsigned flags)
{
	struct pk *k = pk_get(p, id);

	if (k) {
		k->flags |= flags;
		if (size && !k->size)
			k->size = size;
		return k;
	}
	k = ARRAY_PUSH(p->pk, p->npk, p->pkcap);
	memset(k, 0, sizeof(*k));
	memcpy(k->id, id, CRYPTO_ID_LEN);
	k->size = size;
	k->flags = flags;
	k->n = n;
	k->e = xcalloc(n ? n : 1, sizeof(*k->e));
	if (n)
		memcpy(k->e, e, n * sizeof(*e));
	idset_put(p->pkmap, id, p->npk - 1);
	return k;
}

static int
staying(const struct pk *k)
{
	return (k->flags & (PK_INDEXED | PK_ORPHAN | PK_NEW)) &&
	    !(k->flags & (PK_CONDEMN | PK_GONE));
}

/* build_loc: every blob of a staying pack, first copy wins; new packs
 * first, so what a repack just copied is where its blobs are found. */
static void
build_loc(struct prune *p)
{
	idset_free(p->loc);
	p->loc = idset_new();
	for (int pass = 0; pass < 2; pass++) {
		for (size_t i = 0; i < p->npk; i++) {
			struct pk *k = &p->pk[i];

			if (!staying(k) || !!(k->flags & PK_NEW) != (pass == 0))
				continue;
			for (size_t j = 0; j < k->n; j++)
				if (!idset_get(p->loc, k->e[j].ref.id, NULL))
					idset_put(p->loc, k->e[j].ref.id, (uint64_t)i << 32 | j);
		}
	}
}

static const struct pack_entry *
loc_entry(const struct prune *p, const uint8_t id[CRYPTO_ID_LEN], size_t *ret_pk)
{
	uint64_t v;

	if (!idset_get(p->loc, id, &v))
		return NULL;
	if (ret_pk)
		*ret_pk = (size_t)(v >> 32);
	return &p->pk[v >> 32].e[v & 0xffffffffu];
}

/* ---- step 3: index objects, data/, headers ---- */

static int
has_name(char **v, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(v[i], name) == 0)
			return 1;
	return 0;
}

struct iobj_list {
	char **v;
	uint64_t *size;
	size_t n, cap;
};

static int
list_iobj(void *ctx, const char *name, uint64_t size)
{
	struct iobj_list *l = ctx;
	size_t cap = l->cap;

	*ARRAY_PUSH(l->v, l->n, l->cap) = xstrdup(name);
	if (l->cap != cap)
		l->size = xrealloc(l->size, l->cap * sizeof(*l->size));
	l->size[l->n - 1] = size;
	return 0;
}

struct iobj_read {
	struct prune *p;
	char **names;
	struct {
		uint8_t id[CRYPTO_ID_LEN];
		uint64_t size;
		struct pack_entry *e;
		size_t n;
	} **got;			/* per object: its packs */
	size_t *ngot;
};

static int
collect_pack(void *ctx, const uint8_t pack[CRYPTO_ID_LEN], uint64_t size,
    const struct pack_entry *e, size_t n)
{
	void **c = ctx;
	struct iobj_read *rd = c[0];
	size_t k = (size_t)(uintptr_t)c[1], cap = rd->ngot[k];

	/* grow by one; index objects list few packs */
	rd->got[k] = xrealloc(rd->got[k], (cap + 1) * sizeof(**rd->got));
	memcpy(rd->got[k][cap].id, pack, CRYPTO_ID_LEN);
	rd->got[k][cap].size = size;
	rd->got[k][cap].n = n;
	rd->got[k][cap].e = xcalloc(n ? n : 1, sizeof(*e));
	if (n)
		memcpy(rd->got[k][cap].e, e, n * sizeof(*e));
	rd->ngot[k]++;
	return IMDR_OK;
}

static int
read_iobj(void *ctx, size_t k)
{
	struct iobj_read *rd = ctx;
	void *c[2] = { rd, (void *)(uintptr_t)k };

	return index_read_object(rd->p->r, rd->names[k], collect_pack, c);
}

/* read_index: read the index objects not read yet (and not this run's),
 * adding their packs as indexed. */
static int
read_index(struct prune *p)
{
	struct iobj_list l = { NULL, NULL, 0, 0 };
	struct iobj_read rd;
	size_t nnew = 0;
	int rc;

	rc = repo_list(p->r, "index/", list_iobj, &l);
	if (rc)
		goto out;
	for (size_t i = 0; i < l.n; i++) {
		char *name = l.v[i];

		l.v[i] = NULL;
		if (has_name(p->iobj, p->niobj, name) || has_name(p->mine, p->nmine, name)) {
			free(name);
			continue;
		}
		l.v[nnew] = name;
		l.size[nnew++] = l.size[i];
	}
	l.n = nnew;
	memset(&rd, 0, sizeof(rd));
	rd.p = p;
	rd.names = l.v;
	rd.got = xcalloc(nnew ? nnew : 1, sizeof(*rd.got));
	rd.ngot = xcalloc(nnew ? nnew : 1, sizeof(*rd.ngot));
	rc = par_for(nnew, p->conc, read_iobj, &rd);
	for (size_t k = 0; k < nnew; k++) {
		for (size_t j = 0; j < rd.ngot[k]; j++) {
			if (rc == IMDR_OK) {
				struct pk *pk = pk_add(p, rd.got[k][j].id, rd.got[k][j].size,
				    rd.got[k][j].e, rd.got[k][j].n, PK_INDEXED);

				pk->flags &= ~PK_ORPHAN;
			}
			free(rd.got[k][j].e);
		}
		free(rd.got[k]);
		if (rc == IMDR_OK) {
			size_t cap = p->iobjcap;

			*ARRAY_PUSH(p->iobj, p->niobj, p->iobjcap) = l.v[k];
			if (p->iobjcap != cap)
				p->iobj_size = xrealloc(p->iobj_size, p->iobjcap * sizeof(*p->iobj_size));
			p->iobj_size[p->niobj - 1] = l.size[k];
			p->res->index_bytes_before += l.size[k];
			l.v[k] = NULL;
		}
	}
	free(rd.got);
	free(rd.ngot);
out:
	for (size_t i = 0; i < l.n; i++)
		free(l.v[i]);
	free(l.v);
	free(l.size);
	return rc;
}

static int
list_data(void *ctx, const char *name, uint64_t size)
{
	struct prune *p = ctx;
	const char *base = strrchr(name, '/');
	uint8_t id[CRYPTO_ID_LEN];
	struct pk *k;

	base = base ? base + 1 : name;
	if (!hex_valid(base, 64) || hex_decode(base, id, sizeof(id)) != 0)
		return 0;	/* not a pack: check reports it */
	k = pk_get(p, id);
	if (k == NULL)
		k = pk_add(p, id, size, NULL, 0, 0);
	k->flags |= PK_LISTED;
	k->size = size;
	return 0;
}

static int
read_header(void *ctx, size_t k)
{
	void **c = ctx;
	struct prune *p = c[0];
	size_t *which = c[1];
	struct pk *pk = &p->pk[which[k]];
	struct pack_entry *e = NULL;
	size_t n = 0;
	int rc;

	rc = pack_read_header(p->r, pk->id, pk->size, &e, &n);
	if (rc) {
		char name[80];

		/* left alone, never deleted: check reports it */
		repo_pack_name(pk->id, name);
		ev_warn(&p->o->ev, name, err_msg(rc));
		err_clear();
		return IMDR_OK;
	}
	free(pk->e);
	pk->e = e;
	pk->n = n;
	pk->flags |= PK_ORPHAN;
	return IMDR_OK;
}

/* read_orphans: the headers of listed packs no index and no plan names
 * (left by an interrupted backup or prune, or a backup still running). */
static int
read_orphans(struct prune *p)
{
	size_t *which = NULL, n = 0, cap = 0;
	void *c[2];
	int rc;

	for (size_t i = 0; i < p->npk; i++) {
		unsigned f = p->pk[i].flags;

		if ((f & PK_LISTED) && !(f & (PK_INDEXED | PK_PLANNED | PK_ORPHAN | PK_NEW)))
			*ARRAY_PUSH(which, n, cap) = i;
	}
	c[0] = p;
	c[1] = which;
	rc = par_for(n, p->conc, read_header, c);
	free(which);
	return rc;
}

/* ---- step 4: the walk ----
 *
 * Level by level across all snapshots at once: the roots, then every
 * folder they name that was not seen yet, and so on, each level's nodes
 * read in parallel. Over a remote link the walk then costs about one
 * round trip a level of depth, not one a folder. */

/* nodes of a level this close in a pack are read with one request, up to
 * this span: the gaps are nodes of forgotten snapshots, read for nothing */
#define TREE_GAP (16u << 10)
#define TREE_SPAN (4u << 20)

struct wgroup {
	size_t first, n;		/* level[first .. first+n), one pack */
	uint64_t start, end;		/* the range that holds them */
};

struct walk {
	struct prune *p;
	struct snapshot_name *names;
	size_t *todo;
	struct blob_ref *level, *next;	/* this level's nodes, the next's */
	size_t nnext, next_cap;
	struct wgroup *groups;
};

static void
use(struct prune *p, const struct blob_ref *ref, enum blob_type type)
{
	idset_put(p->used, ref->id, type);
	idset_put(p->refpacks, ref->pack, 1);
}

/* walk_later: a folder for the next level, once */
static void
walk_later(struct walk *w, const struct blob_ref *ref)
{
	use(w->p, ref, BLOB_TREE);
	if (idset_put(w->p->trees, ref->id, 1))
		*ARRAY_PUSH(w->next, w->nnext, w->next_cap) = *ref;
}

static int
walk_root(void *ctx, size_t k)
{
	struct walk *w = ctx;
	struct prune *p = w->p;
	struct snapshot_name *sn = &w->names[w->todo[k]];
	struct snapshot *s = NULL;
	int rc;

	if (ev_cancelled(&p->o->ev))
		return err_set(IMDR_EINTR, "interrupted");
	rc = snapshot_load(p->r, sn->name, &s);
	if (rc == IMDR_ENOENT) {
		/* forgotten meanwhile: nothing of it to keep */
		err_clear();
		return IMDR_OK;
	}
	if (rc)
		return rc;
	pthread_mutex_lock(&p->mu);
	walk_later(w, &s->root);
	if (s->has_search)
		walk_later(w, &s->search);	/* the message index: its blobs are used too */
	pthread_mutex_unlock(&p->mu);
	snapshot_free(s);
	ev_advance(&p->o->ev, 1, 0);
	return IMDR_OK;
}

/* scan_node: what one folder uses; its subfolders for the next level */
static void
scan_node(struct walk *w, const struct cat_node *node)
{
	struct prune *p = w->p;

	pthread_mutex_lock(&p->mu);
	for (uint32_t i = 0; i < cat_node_count(node); i++) {
		const struct cat_entry *e = cat_node_entry(node, i);

		if (e->type == CAT_DIR) {
			walk_later(w, &e->subtree);
		} else if (e->type == CAT_FILE) {
			for (uint32_t c = 0; c < e->nchunks; c++) {
				struct blob_ref ref;
				uint64_t off;

				cat_chunk(node, e, c, &ref, &off);
				use(p, &ref, BLOB_DATA);
			}
		}
	}
	pthread_mutex_unlock(&p->mu);
}

/* walk_one: load one node on its own (through moved maps if need be) */
static int
walk_one(struct walk *w, const struct blob_ref *ref)
{
	struct cat_node *node = NULL;
	char hex[65], pname[80];
	int rc;

	rc = cat_node_load(w->p->r, ref, &node);
	if (rc) {
		hex_encode(ref->id, CRYPTO_ID_LEN, hex);
		repo_pack_name(ref->pack, pname);
		return err_set(rc, "tree node %.16s (in %s): %s; prune cannot tell what the snapshots use "
		    "(imdr check, imdr repair snapshots)", hex, pname, err_msg(rc));
	}
	scan_node(w, node);
	cat_node_free(node);
	return IMDR_OK;
}

/* walk_group: the nodes of one level that lie close together in one pack,
 * read with one request; each still authenticated on its own */
static int
walk_group(void *ctx, size_t k)
{
	struct walk *w = ctx;
	const struct wgroup *g = &w->groups[k];
	const struct blob_ref *v = &w->level[g->first];
	struct buf b = BUF_INIT, pt = BUF_INIT;
	int rc = IMDR_OK;

	if (ev_cancelled(&w->p->o->ev))
		return err_set(IMDR_EINTR, "interrupted");
	/* exactly the group's range, a lone node too: through the reader's
	 * tree segments a lone node would cost a whole segment, mostly nodes
	 * of forgotten snapshots (half of what prune read, in the bench's
	 * history of 200 days) */
	rc = repo_pack_read_range(w->p->r, v[0].pack, g->start, g->end - g->start, &b);
	if (rc == IMDR_OK && b.len != g->end - g->start)
		rc = IMDR_EFORMAT;
	if (rc != IMDR_OK) {
		/* the pack is gone (moved) or short: one by one, through the
		 * reader, which follows moved maps */
		err_clear();
		rc = IMDR_OK;
		for (size_t i = 0; i < g->n && rc == IMDR_OK; i++)
			rc = walk_one(w, &v[i]);
		buf_free(&b);
		return rc;
	}
	for (size_t i = 0; i < g->n && rc == IMDR_OK; i++) {
		struct cat_node *node = NULL;

		rc = repo_blob_unseal(w->p->r, BLOB_TREE, &v[i], b.data + (v[i].offset - g->start),
		    v[i].length, &pt);
		if (rc == IMDR_OK)
			rc = cat_node_decode(pt.data, pt.len, &node);
		if (rc) {
			char hex[65], pname[80];

			hex_encode(v[i].id, CRYPTO_ID_LEN, hex);
			repo_pack_name(v[i].pack, pname);
			rc = err_set(rc, "tree node %.16s (in %s): %s; prune cannot tell what the snapshots use "
			    "(imdr check, imdr repair snapshots)", hex, pname, err_msg(rc));
			break;
		}
		scan_node(w, node);
		cat_node_free(node);
	}
	__atomic_add_fetch(&w->p->res->tree_bytes_read, g->end - g->start, __ATOMIC_RELAXED);
	buf_free(&b);
	buf_free(&pt);
	return rc;
}

static int
cmp_place(const void *a, const void *b)
{
	const struct blob_ref *x = a, *y = b;
	int c = memcmp(x->pack, y->pack, CRYPTO_ID_LEN);

	if (c)
		return c;
	return x->offset < y->offset ? -1 : x->offset > y->offset;
}

/* group_level: sort the level by place, and cut it into groups a read each */
static size_t
group_level(struct walk *w, size_t n)
{
	size_t ng = 0;

	qsort(w->level, n, sizeof(*w->level), cmp_place);
	free(w->groups);
	w->groups = xcalloc(n ? n : 1, sizeof(*w->groups));
	for (size_t i = 0; i < n; i++) {
		const struct blob_ref *r = &w->level[i];
		struct wgroup *g = ng ? &w->groups[ng - 1] : NULL;
		uint64_t end = r->offset + r->length;

		if (g && memcmp(w->level[g->first].pack, r->pack, CRYPTO_ID_LEN) == 0 &&
		    r->offset <= g->end + TREE_GAP && end - g->start <= TREE_SPAN) {
			if (end > g->end)
				g->end = end;
			g->n++;
			continue;
		}
		w->groups[ng++] = (struct wgroup){ i, 1, r->offset, end };
	}
	return ng;
}

/* walk_snapshots: walk the snapshots not walked yet. */
static int
walk_snapshots(struct prune *p)
{
	struct walk w;
	size_t n = 0, ntodo = 0;
	int rc;

	memset(&w, 0, sizeof(w));
	w.p = p;
	rc = snapshot_list(p->r, &w.names, &n);
	if (rc)
		return rc;
	w.todo = xcalloc(n ? n : 1, sizeof(*w.todo));
	for (size_t i = 0; i < n; i++) {
		uint8_t id[32];

		if (hex_decode(w.names[i].id, id, sizeof(id)) == 0 && idset_put(p->walked, id, 1))
			w.todo[ntodo++] = i;
	}
	ev_total(&p->o->ev, p->res->snapshots + ntodo, 0);
	rc = par_for(ntodo, p->conc, walk_root, &w);
	while (rc == IMDR_OK && w.nnext) {
		size_t nlevel = w.nnext, ngroups;

		free(w.level);
		w.level = w.next;
		w.next = NULL;
		w.nnext = w.next_cap = 0;
		ngroups = group_level(&w, nlevel);
		rc = par_for(ngroups, p->conc, walk_group, &w);
	}
	repo_reader_configure(p->r, &(struct repo_reader_config){ 0, NULL, 0, 0 });
	p->res->snapshots += ntodo;
	p->res->trees = idset_count(p->trees);
	free(w.level);
	free(w.next);
	free(w.groups);
	free(w.todo);
	free(w.names);
	return rc;
}

struct walk_thread {
	struct prune *p;
	int rc;
	char *msg;
};

static void *
walk_main(void *arg)
{
	struct walk_thread *wt = arg;

	wt->rc = walk_snapshots(wt->p);
	if (wt->rc)
		wt->msg = xstrdup(err_msg(wt->rc));
	return NULL;
}

/* ---- step 5: sweep ---- */

struct sweep {
	struct prune *p;
	struct plan *pl;
	int *rcs;
	char *skip;		/* packs also in a plan that is not due */
};

/* sweep_pack: delete one planned pack, or take it back. */
static int
sweep_pack(void *ctx, size_t k)
{
	struct sweep *sw = ctx;
	struct prune *p = sw->p;
	struct plan_pack *pp = &sw->pl->packs[k];
	struct pk *pk = pk_get(p, pp->id);
	struct pack_entry *moved = NULL;
	size_t nmoved = 0, capm = 0;
	char name[80];
	int rc = IMDR_OK, back = 0;

	repo_pack_name(pp->id, name);
	if (sw->skip[k] || pk == NULL || !(pk->flags & PK_LISTED) || (pk->flags & PK_GONE))
		return IMDR_OK;		/* waits for another plan, or deleted already */
	if (pk->flags & PK_INDEXED) {
		/* an index lists it again: it lives on */
		__atomic_add_fetch(&p->res->packs_taken_back, 1, __ATOMIC_RELAXED);
		return IMDR_OK;
	}
	for (size_t j = 0; j < pp->n && !back; j++) {
		const struct pack_entry *at;
		size_t where;

		if (!idset_get(p->used, pp->e[j].ref.id, NULL))
			continue;
		at = loc_entry(p, pp->e[j].ref.id, &where);
		if (at == NULL || &p->pk[where] == pk) {
			back = 1;	/* used, and this is the only copy */
			break;
		}
		*ARRAY_PUSH(moved, nmoved, capm) = *at;
	}
	if (back) {
		/* a backup deduplicated against it after the plan was made:
		 * index it again */
		if (!p->o->dry_run)
			rc = index_write(p->r, (const uint8_t (*)[CRYPTO_ID_LEN])pp->id, &pp->size,
			    &pp->e, &pp->n, 1);
		if (rc == IMDR_OK) {
			pk->flags |= PK_INDEXED;
			pk->flags &= ~PK_PLANNED;
			__atomic_add_fetch(&p->res->packs_taken_back, 1, __ATOMIC_RELAXED);
		}
		free(moved);
		sw->rcs[k] = rc;
		return IMDR_OK;
	}
	if (!p->o->dry_run) {
		if (!lock_fresh(p->lk))
			rc = err_set(IMDR_ELOCKED, "the prune lock went stale (was this process suspended?); stopping before deleting %s",
			    name);
		/* readers of trees that name it, or name a pack whose map
		 * leads here, will look for its blobs: where they went */
		if (rc == IMDR_OK && nmoved) {
			rc = moved_write(p->r, pp->id, moved, nmoved);
			if (rc == IMDR_OK)
				__atomic_add_fetch(&p->res->moved_written, 1, __ATOMIC_RELAXED);
		}
		if (rc == IMDR_OK)
			rc = repo_delete(p->r, name);
	}
	if (rc == IMDR_OK) {
		pk->flags |= PK_GONE;
		__atomic_add_fetch(&p->res->packs_deleted, 1, __ATOMIC_RELAXED);
		__atomic_add_fetch(&p->res->bytes_deleted, pk->size, __ATOMIC_RELAXED);
	} else {
		rc = err_set(rc, "%s: %s", name, err_msg(rc));
		ev_error(&p->o->ev, name, err_msg(rc));
	}
	free(moved);
	sw->rcs[k] = rc;
	return IMDR_OK;
}

/* sweep_plan: every pack of a due plan, then the plan itself. */
static int
sweep_plan(struct prune *p, struct plan *pl)
{
	struct sweep sw = { p, pl, NULL, NULL };
	int rc = IMDR_OK;

	sw.rcs = xcalloc(pl->npacks ? pl->npacks : 1, sizeof(*sw.rcs));
	sw.skip = xcalloc(pl->npacks ? pl->npacks : 1, 1);
	for (size_t k = 0; k < pl->npacks; k++)
		for (size_t q = 0; q < p->nplans && !sw.skip[k]; q++)
			for (size_t j = 0; !p->due[q] && j < p->plans[q]->npacks && !sw.skip[k]; j++)
				sw.skip[k] = memcmp(p->plans[q]->packs[j].id, pl->packs[k].id,
				    CRYPTO_ID_LEN) == 0;
	par_for(pl->npacks, p->conc, sweep_pack, &sw);
	for (size_t k = 0; k < pl->npacks && rc == IMDR_OK; k++)
		if (sw.rcs[k] != IMDR_OK)
			rc = err_set(sw.rcs[k], "prune plan %.8s: a pack could not be deleted; the next prune goes on",
			    pl->pn.id);
	free(sw.rcs);
	free(sw.skip);
	if (rc == IMDR_OK && !p->o->dry_run)
		rc = plan_delete(p->r, &pl->pn);
	if (rc == IMDR_OK)
		p->res->plans_swept++;
	return rc;
}

/* ---- step 6: mark ---- */

/* evaluable: a pack whose fate this run decides (not one a plan that is
 * not due still holds, not one already gone). */
static int
evaluable(const struct pk *k)
{
	return (k->flags & PK_LISTED) && (k->flags & (PK_INDEXED | PK_ORPHAN)) &&
	    !(k->flags & (PK_GONE | PK_NEW)) && !((k->flags & PK_PLANNED) && !(k->flags & PK_INDEXED));
}

/* live: entry j of pack i is the copy of a used blob that stays. */
static int
live(const struct prune *p, size_t i, size_t j)
{
	uint64_t v;

	return idset_get(p->used, p->pk[i].e[j].ref.id, NULL) &&
	    idset_get(p->loc, p->pk[i].e[j].ref.id, &v) && v == ((uint64_t)i << 32 | j);
}

static int
count_lost(void *ctx, const uint8_t id[32], uint64_t type)
{
	void **c = ctx;
	struct prune *p = c[0];
	struct idset *planned = c[1];

	(void)type;
	if (!idset_get(p->loc, id, NULL) && !idset_get(planned, id, NULL))
		p->res->lost_blobs++;
	return 0;
}

static void
account(struct prune *p)
{
	struct idset *planned = idset_new();
	void *c[2] = { p, planned };

	build_loc(p);
	p->res->packs = p->res->pack_bytes = 0;
	p->res->used_blobs = p->res->used_bytes = 0;
	p->res->unused_blobs = p->res->unused_bytes = 0;
	for (size_t i = 0; i < p->npk; i++) {
		struct pk *k = &p->pk[i];

		if ((k->flags & PK_PLANNED) && !(k->flags & PK_INDEXED))
			for (size_t j = 0; j < k->n; j++)
				idset_put(planned, k->e[j].ref.id, 1);
		if ((k->flags & PK_LISTED) && !(k->flags & PK_GONE)) {
			p->res->packs++;
			p->res->pack_bytes += k->size;
		}
		if (!evaluable(k))
			continue;
		k->live_bytes = k->dead_bytes = 0;
		k->live_n = 0;
		for (size_t j = 0; j < k->n; j++) {
			if (live(p, i, j)) {
				k->live_bytes += k->e[j].ref.length;
				k->live_n++;
			} else {
				k->dead_bytes += k->e[j].ref.length;
			}
		}
		p->res->used_blobs += k->live_n;
		p->res->used_bytes += k->live_bytes;
		p->res->unused_blobs += k->n - k->live_n;
		p->res->unused_bytes += k->dead_bytes;
	}
	p->res->lost_blobs = 0;
	idset_each(p->used, count_lost, c);
	idset_free(planned);
}

static int
cmp_offset(const void *a, const void *b)
{
	const struct pack_entry *x = a, *y = b;

	return x->ref.offset < y->ref.offset ? -1 : x->ref.offset > y->ref.offset;
}

/* flush_writer: finish a repack pack, store it, make it known. */
static int
flush_writer(struct prune *p, struct pack_writer *pw)
{
	struct buf data = BUF_INIT;
	struct pack_entry *e = NULL;
	uint8_t id[CRYPTO_ID_LEN];
	size_t n = 0;
	int rc;

	memcpy(id, pack_writer_id(pw), CRYPTO_ID_LEN);
	pack_writer_finish(pw, p->r, &data, &e, &n);
	pack_writer_free(pw);
	rc = repo_pack_write(p->r, id, data.data, data.len);
	if (rc == IMDR_OK) {
		pthread_mutex_lock(&p->mu);
		pk_add(p, id, data.len, e, n, PK_NEW | PK_LISTED);
		p->res->packs_written++;
		p->res->bytes_written += data.len;
		pthread_mutex_unlock(&p->mu);
	}
	buf_free(&data);
	free(e);
	return rc;
}

struct repack {
	struct prune *p;
	size_t *which;
	int *failed;
};

/* repack_one: copy the live blobs of one pack, sealed bytes as they are
 * (a blob's seal names its id, not its pack), each authenticated first. */
static int
repack_one(void *ctx, size_t k)
{
	struct repack *rp = ctx;
	struct prune *p = rp->p;
	struct pack_entry *v = NULL;
	uint8_t id[CRYPTO_ID_LEN];
	struct buf b = BUF_INIT, scratch = BUF_INIT;
	size_t n = 0, cap = 0, i = rp->which[k];
	uint32_t pack_size = repo_config(p->r)->pack_size;
	int rc = IMDR_OK;

	pthread_mutex_lock(&p->mu);
	memcpy(id, p->pk[i].id, CRYPTO_ID_LEN);
	for (size_t j = 0; j < p->pk[i].n; j++)
		if (live(p, i, j))
			*ARRAY_PUSH(v, n, cap) = p->pk[i].e[j];
	pthread_mutex_unlock(&p->mu);
	qsort(v, n, sizeof(*v), cmp_offset);
	for (size_t a = 0; a < n && rc == IMDR_OK;) {
		uint64_t start = v[a].ref.offset, end = start + v[a].ref.length;
		size_t z = a + 1;

		while (z < n && v[z].ref.offset <= end + READ_GAP &&
		    v[z].ref.offset + v[z].ref.length - start <= READ_SPAN) {
			if (v[z].ref.offset + v[z].ref.length > end)
				end = v[z].ref.offset + v[z].ref.length;
			z++;
		}
		if (ev_cancelled(&p->o->ev))
			rc = err_set(IMDR_EINTR, "interrupted");
		if (rc == IMDR_OK)
			rc = repo_pack_read_range(p->r, id, start, end - start, &b);
		if (rc == IMDR_OK && b.len != end - start)
			rc = err_set(IMDR_EFORMAT, "short read of a pack");
		__atomic_add_fetch(&p->repack_read, end - start, __ATOMIC_RELAXED);
		for (size_t q = a; q < z && rc == IMDR_OK; q++) {
			const uint8_t *sealed = b.data + (v[q].ref.offset - start);
			struct pack_writer *full = NULL;
			int t = v[q].type == BLOB_TREE;

			rc = repo_blob_unseal(p->r, v[q].type, &v[q].ref, sealed, v[q].ref.length,
			    &scratch);
			if (rc)
				break;
			pthread_mutex_lock(&p->mu);
			if (p->pw[t] == NULL)
				p->pw[t] = pack_writer_new(v[q].type);
			pack_writer_add(p->pw[t], v[q].ref.id, sealed, v[q].ref.length,
			    v[q].ref.raw_length, NULL);
			p->res->blobs_repacked++;
			p->res->bytes_repacked += v[q].ref.length;
			if (pack_writer_size(p->pw[t]) >= pack_size) {
				full = p->pw[t];
				p->pw[t] = NULL;
			}
			pthread_mutex_unlock(&p->mu);
			if (full)
				rc = flush_writer(p, full);
		}
		ev_advance(&p->o->ev, 0, end - start);
		a = z;
	}
	if (rc) {
		char name[80];

		/* keep the pack as it is: nothing of it is planned */
		repo_pack_name(id, name);
		rc = err_set(rc, "repacking %s: %s", name, err_msg(rc));
		rp->failed[k] = 1;
	}
	free(v);
	buf_free(&b);
	buf_free(&scratch);
	return rc == IMDR_EINTR ? rc : IMDR_OK;
}

/* cmp_emptiest: the larger unused share first (dead/live, compared
 * without dividing) */
static int
cmp_emptiest(const void *a, const void *b, void *ctx)
{
	const struct prune *p = ctx;
	const struct pk *x = &p->pk[*(const size_t *)a], *y = &p->pk[*(const size_t *)b];
	double l = (double)x->dead_bytes * (double)y->live_bytes;
	double r = (double)y->dead_bytes * (double)x->live_bytes;

	return l > r ? -1 : l < r;
}

/* mark: decide each pack's fate; copy the live blobs of those to repack. */
static int
mark(struct prune *p)
{
	struct repack rp = { p, NULL, NULL };
	size_t nrep = 0, cap = 0;
	uint64_t live_total = 0, dead_total = 0;
	double limit;
	int rc = IMDR_OK, threads;

	account(p);
	for (size_t i = 0; i < p->npk; i++) {
		struct pk *k = &p->pk[i];

		if (!evaluable(k))
			continue;
		live_total += k->live_bytes;
		if (k->live_n == 0) {
			k->flags |= PK_CONDEMN;
			p->res->packs_unused++;
		} else if (k->dead_bytes) {
			dead_total += k->dead_bytes;
			*ARRAY_PUSH(rp.which, nrep, cap) = i;
		}
	}
	/* restic's --max-unused: what stays unused may be that share of the
	 * repository's blob bytes; repack the emptiest packs first until it
	 * is (copying a pack that is nearly all used frees little) */
	if (nrep > 1)
		qsort_r(rp.which, nrep, sizeof(*rp.which), cmp_emptiest, p);
	limit = p->o->max_unused >= 1 ? (double)UINT64_MAX :
	    p->o->max_unused / (1 - p->o->max_unused) * (double)live_total;
	for (size_t k = 0; k < nrep; k++) {
		struct pk *pk = &p->pk[rp.which[k]];

		if ((double)dead_total <= limit) {
			nrep = k;
			break;
		}
		pk->flags |= PK_CONDEMN | PK_REPACK;
		dead_total -= pk->dead_bytes;
	}
	p->res->unused_bytes_after = dead_total;
	if (nrep == 0)
		goto out;
	if (p->o->dry_run) {
		/* what the copy would read and write */
		for (size_t k = 0; k < nrep; k++) {
			struct pk *pk = &p->pk[rp.which[k]];

			p->res->packs_repacked++;
			p->res->blobs_repacked += pk->live_n;
			p->res->bytes_repacked += pk->live_bytes;
			p->res->bytes_read_planned += pk->live_bytes;
		}
		goto out;
	}
	rp.failed = xcalloc(nrep, sizeof(*rp.failed));
	threads = p->remote ? REPACK_THREADS_REMOTE : REPACK_THREADS;
	if (threads > p->conc)
		threads = p->conc;
	ev_total(&p->o->ev, 0, 0);
	rc = par_for(nrep, threads, repack_one, &rp);
	for (int t = 0; t < 2 && rc == IMDR_OK; t++) {
		if (p->pw[t] && pack_writer_count(p->pw[t]))
			rc = flush_writer(p, p->pw[t]);
		else
			pack_writer_free(p->pw[t]);
		p->pw[t] = NULL;
	}
	for (size_t k = 0; k < nrep; k++) {
		if (rp.failed[k] || rc) {
			p->pk[rp.which[k]].flags &= ~(PK_CONDEMN | PK_REPACK);
			if (rp.failed[k])
				ev_error(&p->o->ev, NULL, "a pack could not be repacked and is kept as it is");
		} else {
			p->res->packs_repacked++;
		}
	}
	build_loc(p);
	p->res->bytes_read_repack = p->repack_read;
out:
	for (size_t i = 0; i < p->npk; i++) {
		if (p->pk[i].flags & PK_CONDEMN) {
			p->res->packs_planned++;
			p->res->bytes_planned += p->pk[i].size;
		}
	}
	free(rp.which);
	free(rp.failed);
	return rc;
}

/* ---- step 7: the new index, the plan ---- */

static size_t
index_objects_needed(const struct prune *p)
{
	uint64_t entries = 0;

	for (size_t i = 0; i < p->npk; i++)
		if (staying(&p->pk[i]))
			entries += p->pk[i].n;
	return (size_t)((entries + INDEX_OBJ_ENTRIES - 1) / INDEX_OBJ_ENTRIES);
}

static int
write_index(struct prune *p)
{
	uint8_t (*ids)[CRYPTO_ID_LEN] = NULL;
	uint64_t *sizes = NULL;
	struct pack_entry **e = NULL;
	size_t *counts = NULL, n = 0, cap = 0, entries = 0;
	int rc = IMDR_OK;

	for (size_t i = 0; i <= p->npk && rc == IMDR_OK; i++) {
		struct pk *k = i < p->npk ? &p->pk[i] : NULL;

		if (k && !staying(k))
			continue;
		if (n && (k == NULL || entries + k->n > INDEX_OBJ_ENTRIES)) {
			char name[80];

			rc = index_write_named(p->r, (const uint8_t (*)[CRYPTO_ID_LEN])ids, sizes,
			    e, counts, n, name);
			if (rc == IMDR_OK)
				*ARRAY_PUSH(p->mine, p->nmine, p->minecap) = xstrdup(name);
			n = entries = 0;
		}
		if (k == NULL)
			break;
		if (n == cap) {
			cap = cap ? cap * 2 : 64;
			ids = xrealloc(ids, cap * sizeof(*ids));
			sizes = xrealloc(sizes, cap * sizeof(*sizes));
			e = xrealloc(e, cap * sizeof(*e));
			counts = xrealloc(counts, cap * sizeof(*counts));
		}
		memcpy(ids[n], k->id, CRYPTO_ID_LEN);
		sizes[n] = k->size;
		e[n] = k->e;
		counts[n] = k->n;
		entries += k->n;
		n++;
	}
	free(ids);
	free(sizes);
	free(e);
	free(counts);
	return rc;
}

static int
delete_iobj(void *ctx, size_t k)
{
	struct prune *p = ctx;

	return repo_delete(p->r, p->iobj[k]);
}

/* commit: the new index, the plan, the old index gone, the plan's .ready. */
static int
commit(struct prune *p, struct plan_name *ret_plan, size_t *ret_sessions)
{
	struct plan_pack *pp = NULL;
	size_t npp = 0, cap = 0;
	char (*sess)[LOCK_SESSION_HEX + 1] = NULL;
	struct lock_info *live = NULL;
	size_t nlive = 0, nsess = 0;
	int rc = IMDR_OK;

	memset(ret_plan, 0, sizeof(*ret_plan));
	*ret_sessions = 0;
	for (size_t i = 0; i < p->npk; i++) {
		struct pk *k = &p->pk[i];

		if (!(k->flags & PK_CONDEMN))
			continue;
		*ARRAY_PUSH(pp, npp, cap) = (struct plan_pack){ { 0 }, k->size, k->e, k->n };
		memcpy(pp[npp - 1].id, k->id, CRYPTO_ID_LEN);
	}
	/* the index stays as it is when nothing changed and it is compact */
	if (npp == 0 && p->res->packs_taken_back == 0 && p->niobj <= index_objects_needed(p) + 4)
		goto out;
	rc = write_index(p);
	/* the plan exists before the index objects naming its packs go, so
	 * that no backup takes them back in between (index_recover) */
	if (rc == IMDR_OK && npp)
		rc = plan_write(p->r, p->t0, pp, npp, ret_plan);
	if (rc == IMDR_OK && !lock_fresh(p->lk))
		rc = err_set(IMDR_ELOCKED, "the prune lock went stale (was this process suspended?); stopping before deleting index objects");
	if (rc == IMDR_OK)
		rc = par_for(p->niobj, p->conc, delete_iobj, p);
	if (rc)
		goto out;
	for (size_t i = 0; i < p->npk; i++)
		if (p->pk[i].flags & PK_CONDEMN)
			p->pk[i].flags &= ~PK_INDEXED;
	p->res->index_after = p->nmine;
	/* whoever was running until now may hold the planned packs' blobs in
	 * an index read before: the plan waits for each of them */
	if (npp) {
		rc = lock_list_live(p->r, p->lk, &live, &nlive);
		if (rc)
			goto out;
		sess = xcalloc(nlive + 1, sizeof(*sess));
		for (size_t i = 0; i < nlive; i++) {
			/* a lock without a session (older imdr) is waited for
			 * under a name made from its object */
			if (live[i].session[0])
				memcpy(sess[nsess++], live[i].session, LOCK_SESSION_HEX + 1);
			else
				snprintf(sess[nsess++], LOCK_SESSION_HEX + 1, "%.32s", live[i].name + 6);
		}
		rc = plan_write_ready(p->r, ret_plan, time_now_ns(), sess, nsess);
		*ret_sessions = nsess;
	}
out:
	free(pp);
	free(sess);
	free(live);
	return rc;
}

/* ---- step 9: moved maps ---- */

struct moved_list {
	uint8_t (*v)[CRYPTO_ID_LEN];
	size_t n, cap;
};

static int
list_moved(void *ctx, const char *name, uint64_t size)
{
	struct moved_list *l = ctx;
	uint8_t id[CRYPTO_ID_LEN];

	(void)size;
	if (strlen(name) == 6 + 64 && hex_decode(name + 6, id, sizeof(id)) == 0)
		memcpy(*ARRAY_PUSH(l->v, l->n, l->cap), id, CRYPTO_ID_LEN);
	return 0;
}

static int
pack_gone(const struct prune *p, const uint8_t id[CRYPTO_ID_LEN])
{
	const struct pk *k = pk_get((struct prune *)p, id);

	return k == NULL || (k->flags & PK_GONE) || !(k->flags & (PK_LISTED | PK_NEW | PK_INDEXED));
}

static int
in_waiting_plan(const struct prune *p, const uint8_t id[CRYPTO_ID_LEN])
{
	const struct pk *k = pk_get((struct prune *)p, id);

	return k && (k->flags & (PK_PLANNED | PK_CONDEMN)) && !(k->flags & PK_GONE);
}

struct gc {
	struct prune *p;
	struct idset *have, *need;
	uint8_t (*level)[CRYPTO_ID_LEN], (*next)[CRYPTO_ID_LEN];
	size_t nnext, next_cap;
};

/* gc_follow: load one needed map; the maps its used blobs lead to are
 * needed too (a blob may have moved more than once) */
static int
gc_follow(void *ctx, size_t k)
{
	struct gc *g = ctx;
	struct pack_entry *e = NULL;
	size_t n = 0;
	int rc;

	rc = moved_load(g->p->r, g->level[k], &e, &n);
	pthread_mutex_lock(&g->p->mu);
	for (size_t j = 0; rc == IMDR_OK && j < n; j++) {
		if (idset_get(g->p->used, e[j].ref.id, NULL) && pack_gone(g->p, e[j].ref.pack) &&
		    idset_get(g->have, e[j].ref.pack, NULL) && idset_put(g->need, e[j].ref.pack, 1))
			memcpy(*ARRAY_PUSH(g->next, g->nnext, g->next_cap), e[j].ref.pack, CRYPTO_ID_LEN);
	}
	pthread_mutex_unlock(&g->p->mu);
	free(e);
	return rc;
}

struct gc_del {
	struct prune *p;
	uint8_t (*v)[CRYPTO_ID_LEN];
};

static int
gc_delete(void *ctx, size_t k)
{
	struct gc_del *d = ctx;
	char name[80];
	int rc;

	moved_name(d->v[k], name);
	rc = repo_delete(d->p->r, name);
	if (rc == IMDR_OK)
		__atomic_add_fetch(&d->p->res->moved_deleted, 1, __ATOMIC_RELAXED);
	return rc;
}

/* gc_moved: delete the maps no tree needs: a map is needed when trees
 * name its pack (gone), or a needed map leads to it. Loaded level by
 * level, in parallel. */
static int
gc_moved(struct prune *p)
{
	struct moved_list l = { NULL, 0, 0 };
	struct gc g;
	struct gc_del d = { p, NULL };
	size_t ndel = 0, dcap = 0;
	int rc;

	memset(&g, 0, sizeof(g));
	g.p = p;
	g.have = idset_new();
	g.need = idset_new();
	rc = repo_list(p->r, "moved/", list_moved, &l);
	for (size_t i = 0; rc == IMDR_OK && i < l.n; i++) {
		idset_put(g.have, l.v[i], 1);
		if (idset_get(p->refpacks, l.v[i], NULL) && pack_gone(p, l.v[i]) &&
		    idset_put(g.need, l.v[i], 1))
			memcpy(*ARRAY_PUSH(g.next, g.nnext, g.next_cap), l.v[i], CRYPTO_ID_LEN);
	}
	while (rc == IMDR_OK && g.nnext) {
		size_t nlevel = g.nnext;

		free(g.level);
		g.level = g.next;
		g.next = NULL;
		g.nnext = g.next_cap = 0;
		rc = par_for(nlevel, p->conc, gc_follow, &g);
	}
	for (size_t i = 0; rc == IMDR_OK && i < l.n; i++)
		if (!idset_get(g.need, l.v[i], NULL) && !in_waiting_plan(p, l.v[i]))
			memcpy(*ARRAY_PUSH(d.v, ndel, dcap), l.v[i], CRYPTO_ID_LEN);
	if (rc == IMDR_OK && p->o->dry_run)
		p->res->moved_deleted = ndel;
	else if (rc == IMDR_OK)
		rc = par_for(ndel, p->conc, gc_delete, &d);
	free(l.v);
	free(g.level);
	free(g.next);
	free(d.v);
	idset_free(g.have);
	idset_free(g.need);
	return rc;
}

/* ---- the run ---- */

/* plans_load: every plan; finish those a killed prune left without .ready
 * (with the sessions live now: whoever could still hold their packs'
 * blobs is among them); say which are due. */
static int
plans_load(struct prune *p)
{
	struct plan_name *v = NULL;
	size_t n = 0;
	int64_t now = time_now_ns();
	int rc;

	rc = plan_list(p->r, &v, &n);
	for (size_t i = 0; rc == IMDR_OK && i < n; i++) {
		struct plan *pl = NULL;

		if (!v[i].body) {
			/* a .ready whose plan was swept: the rest of a delete */
			if (!p->o->dry_run)
				rc = plan_delete(p->r, &v[i]);
			continue;
		}
		if (!v[i].ready && !p->o->dry_run) {
			char (*sess)[LOCK_SESSION_HEX + 1] = xcalloc(p->nlive + 1, sizeof(*sess));
			size_t ns = 0;

			for (size_t k = 0; k < p->nlive; k++)
				if (p->live[k].session[0])
					memcpy(sess[ns++], p->live[k].session, LOCK_SESSION_HEX + 1);
			rc = plan_write_ready(p->r, &v[i], now, sess, ns);
			free(sess);
			if (rc)
				break;
		}
		rc = plan_load(p->r, &v[i], &pl);
		if (rc)
			break;
		if (!v[i].ready && p->o->dry_run)
			pl->ready_ns = now;
		*ARRAY_PUSH(p->plans, p->nplans, p->plans_cap) = pl;
		p->due = xrealloc(p->due, p->nplans * sizeof(*p->due));
		p->due[p->nplans - 1] = 0;
	}
	free(v);
	if (rc)
		return rc;
	for (size_t q = 0; q < p->nplans; q++) {
		struct plan *pl = p->plans[q];
		size_t waiting = 0;

		for (size_t s = 0; s < pl->nsessions; s++)
			for (size_t k = 0; k < p->nlive; k++)
				if (strcmp(pl->sessions[s], p->live[k].session) == 0)
					waiting++;
		p->due[q] = waiting == 0 && now - pl->ready_ns >= p->o->grace_ns;
		for (size_t j = 0; j < pl->npacks; j++)
			pk_add(p, pl->packs[j].id, pl->packs[j].size, pl->packs[j].e, pl->packs[j].n,
			    PK_PLANNED);
		if (!p->due[q]) {
			int64_t until = pl->ready_ns + p->o->grace_ns;

			p->res->plans_waiting++;
			p->res->packs_waiting += pl->npacks;
			for (size_t j = 0; j < pl->npacks; j++)
				p->res->bytes_waiting += pl->packs[j].size;
			if (until > p->res->waiting_until_ns)
				p->res->waiting_until_ns = until;
			p->res->sessions_waiting += waiting;
		}
	}
	return IMDR_OK;
}

static char *
audit_scope(const struct prune *p)
{
	const struct prune_result *r = p->res;
	json_t *j = json_pack("{s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}",
	    "plan", r->plan_id, "packs_planned", (json_int_t)r->packs_planned,
	    "bytes_planned", (json_int_t)r->bytes_planned,
	    "packs_repacked", (json_int_t)r->packs_repacked,
	    "plans_swept", (json_int_t)r->plans_swept,
	    "packs_deleted", (json_int_t)r->packs_deleted,
	    "bytes_deleted", (json_int_t)r->bytes_deleted,
	    "packs_taken_back", (json_int_t)r->packs_taken_back,
	    "index_objects_before", (json_int_t)r->index_before,
	    "index_objects_after", (json_int_t)r->index_after);
	char *s = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);

	json_decref(j);
	return s;
}

/* step: with IMDR_DEBUG, how long each step took and its requests. */
static void
step(struct prune *p, const char *what)
{
	struct repo_io_stats io;

	if (!log_debug_enabled())
		return;
	repo_io_stats(p->r, &io);
	debugf("prune: %s at %.3f s (%llu GET, %llu PUT, %llu LIST, %llu DELETE so far)", what,
	    (double)(time_mono_ns() - p->t0_mono) / 1e9, (unsigned long long)io.gets,
	    (unsigned long long)io.puts, (unsigned long long)io.lists, (unsigned long long)io.dels);
}

static int
sum_index(void *ctx, const char *name, uint64_t size)
{
	struct prune_result *ret = ctx;

	(void)name;
	ret->index_bytes_after += size;
	return 0;
}

static void
prune_free(struct prune *p)
{
	for (size_t i = 0; i < p->npk; i++)
		free(p->pk[i].e);
	free(p->pk);
	idset_free(p->pkmap);
	for (size_t i = 0; i < p->niobj; i++)
		free(p->iobj[i]);
	free(p->iobj);
	free(p->iobj_size);
	for (size_t i = 0; i < p->nmine; i++)
		free(p->mine[i]);
	free(p->mine);
	idset_free(p->loc);
	idset_free(p->used);
	idset_free(p->refpacks);
	idset_free(p->trees);
	idset_free(p->walked);
	for (size_t q = 0; q < p->nplans; q++)
		plan_free(p->plans[q]);
	free(p->plans);
	free(p->due);
	free(p->live);
	pack_writer_free(p->pw[0]);
	pack_writer_free(p->pw[1]);
	pthread_mutex_destroy(&p->mu);
}

/* lost_packs: packs an index lists that data/ lacks: prune stops (the
 * snapshots that use them need repair first). */
static int
lost_packs(struct prune *p)
{
	size_t lost = 0;
	char first[80] = "";

	for (size_t i = 0; i < p->npk; i++) {
		if ((p->pk[i].flags & PK_INDEXED) && !(p->pk[i].flags & PK_LISTED)) {
			if (lost++ == 0)
				repo_pack_name(p->pk[i].id, first);
		}
	}
	if (lost == 0)
		return IMDR_OK;
	return err_set(IMDR_EFORMAT, "the index lists %zu pack%s missing from the repository (%s%s); "
	    "nothing was changed: run `imdr repair index` and `imdr repair snapshots` first",
	    lost, lost == 1 ? "" : "s", first, lost > 1 ? ", ..." : "");
}

int
prune_run(struct repo *r, const struct prune_opts *o, struct prune_result *ret)
{
	struct prune p;
	struct repo_traits tr;
	struct repo_io_stats io0, io1;
	struct plan_name pn;
	size_t nsess = 0;
	int rc;

	memset(ret, 0, sizeof(*ret));
	memset(&p, 0, sizeof(p));
	if (o->max_unused < 0 || o->max_unused > 1)
		return err_set(IMDR_EINVAL, "max-unused must be between 0 and 100 %%");
	if (o->grace_ns < 0)
		return err_set(IMDR_EINVAL, "the grace period cannot be negative");
	p.r = r;
	p.o = o;
	p.res = ret;
	p.t0 = time_now_ns();
	p.t0_mono = time_mono_ns();
	p.pkmap = idset_new();
	p.used = idset_new();
	p.refpacks = idset_new();
	p.trees = idset_new();
	p.walked = idset_new();
	pthread_mutex_init(&p.mu, NULL);
	repo_traits(r, &tr);
	p.conc = tr.concurrency;
	p.remote = tr.remote;
	repo_io_stats(r, &io0);

	/* 1-2 */
	if (!o->dry_run && (rc = lock_acquire(r, LOCK_PRUNE, &p.lk)) != IMDR_OK)
		goto done;
	step(&p, "locked");
	rc = lock_list_live(r, p.lk, &p.live, &p.nlive);
	if (rc == IMDR_OK)
		rc = plans_load(&p);
	step(&p, "locks and plans read");
	/* 3 and 4 at once: the walk touches only the sets of used blobs,
	 * the index reading only the packs */
	if (rc == IMDR_OK) {
		struct walk_thread wt = { &p, IMDR_OK, NULL };
		pthread_t th;
		int started = pthread_create(&th, NULL, walk_main, &wt) == 0;

		if (!started)
			walk_main(&wt);
		rc = read_index(&p);
		ret->index_before = p.niobj;
		if (rc == IMDR_OK)
			rc = repo_list(r, "data/", list_data, &p);
		if (rc == IMDR_OK)
			rc = lost_packs(&p);
		if (rc == IMDR_OK)
			rc = read_orphans(&p);
		step(&p, "index and data/ read");
		if (started)
			pthread_join(th, NULL);
		if (rc == IMDR_OK && wt.rc != IMDR_OK)
			rc = err_set(wt.rc, "%s", wt.msg);
		free(wt.msg);
		step(&p, "snapshots walked");
	}
	if (rc)
		goto out;
	/* 5 */
	build_loc(&p);
	for (size_t q = 0; q < p.nplans && rc == IMDR_OK; q++)
		if (p.due[q])
			rc = sweep_plan(&p, p.plans[q]);
	step(&p, "due plans swept");
	/* 6 */
	if (rc == IMDR_OK)
		rc = mark(&p);
	step(&p, "marked and repacked");
	if (rc || o->dry_run)
		goto out;
	/* 7 */
	rc = commit(&p, &pn, &nsess);
	step(&p, "index and plan written");
	if (rc)
		goto out;
	snprintf(ret->plan_id, sizeof(ret->plan_id), "%s", pn.id);
	/* 8 */
	if (pn.body && o->grace_ns == 0 && nsess == 0) {
		struct plan *pl = NULL;

		rc = walk_snapshots(&p);
		if (rc == IMDR_OK)
			rc = read_index(&p);
		if (rc == IMDR_OK)
			rc = plan_load(r, &pn, &pl);
		if (rc == IMDR_OK) {
			build_loc(&p);
			rc = sweep_plan(&p, pl);
		}
		plan_free(pl);
	} else if (pn.body) {
		int64_t until = time_now_ns() + o->grace_ns;

		ret->plans_waiting++;
		ret->packs_waiting += ret->packs_planned;
		ret->bytes_waiting += ret->bytes_planned;
		if (until > ret->waiting_until_ns)
			ret->waiting_until_ns = until;
		ret->sessions_waiting += nsess;
	}
	step(&p, "swept at once");
	/* 9 */
	if (rc == IMDR_OK)
		rc = gc_moved(&p);
	step(&p, "moved maps collected");
	if (rc == IMDR_OK)
		rc = repo_list(r, "index/", sum_index, ret);
out:
	if (!o->dry_run && p.lk) {
		char *scope = audit_scope(&p), *msg = rc ? xstrdup(err_msg(rc)) : NULL;
		int arc = audit_append(r, &(struct audit_event){ "prune", scope,
		    rc ? msg : "ok" }, ret->audit_id);

		if (rc)
			err_set(rc, "%s", msg);
		else
			rc = arc;
		free(scope);
		free(msg);
		step(&p, "audit record written");
	}
done:
	repo_io_stats(r, &io1);
	ret->gets = io1.gets - io0.gets;
	ret->puts = io1.puts - io0.puts;
	ret->lists = io1.lists - io0.lists;
	ret->dels = io1.dels - io0.dels;
	ret->requests = ret->gets + ret->puts + ret->lists + ret->dels;
	ret->bytes_read = io1.bytes_in - io0.bytes_in;
	ret->bytes_sent = io1.bytes_out - io0.bytes_out;
	lock_release(p.lk);
	prune_free(&p);
	return rc;
}
