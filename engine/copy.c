/* copy — see copy.h.
 *
 * Both sides are listed first, folder by folder, all at once (a run with
 * nothing to copy costs those listings and nothing else). What a
 * destination replica lacks becomes a task: read the object once from the
 * source (authenticated; damaged bytes are read again from another
 * replica of the source), then write it to every destination replica that
 * lacks it. Tasks run on `threads` workers, their bytes in flight bounded
 * by INFLIGHT_BYTES.
 *
 * Phases, each finished before the next starts: key slots, packs, audit
 * records and legal holds; index objects and moved maps (where prune put
 * the blobs of packs it deleted, which older trees still name); snapshots. The destination's lock is
 * taken while the first phase runs (a no-op copy takes none). When every
 * pack was copied and
 * all snapshots are wanted, index objects and snapshots go as they are.
 * Otherwise (some pack failed, or --snapshot/--source chose some) an index
 * object goes only to a replica that holds every pack it lists, and a
 * snapshot only to one that holds every pack its tree references (found
 * by walking the tree). */
#include "engine/copy.h"

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
#include "lib/timefmt.h"
#include "repo/audit.h"
#include "repo/index.h"
#include "repo/lock.h"
#include "repo/snapshot.h"

#define INFLIGHT_BYTES (128u << 20)
#define MAX_THREADS 16

/* The folders copied, in the order of the phases. Locks are the writer's
 * own; the config is the same on both sides by construction. */
enum { F_KEYS, F_DATA, F_INDEX, F_AUDIT, F_HOLDS, F_MOVED, F_SNAPS, NFOLDERS };
static const char *const folders[NFOLDERS] = {
	"keys/", "data/", "index/", "audit/", "holds/", "moved/", "snapshots/",
};

struct objs {
	char **names;
	uint64_t *sizes;
	size_t n, cap;
	struct idset *set;	/* SHA-256 of the name -> position */
};

struct view {
	struct repo *r;		/* one destination replica */
	struct objs have[NFOLDERS];
	struct idset *packs;	/* pack ids it holds (listed or copied) */
	int listed;		/* its listings all succeeded */
};

struct task {
	const char *name;
	uint64_t size;
	int folder;
	uint32_t lacking;	/* views that lack it (bit i) */
	struct idset *needs;	/* snapshot: the packs it references, or NULL */
};

struct copy {
	struct repo *src, *dst;
	const struct copy_opts *o;
	const struct engine_events *ev;
	struct copy_result *res;
	struct objs src_objs[NFOLDERS];
	struct view v[REPO_MAX_REPLICAS];
	int nv;
	int exact;		/* copy index objects and snapshots as they are */
	int threads;

	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct task *tasks;
	size_t ntasks, next;
	uint64_t inflight;
	uint64_t phase_failed;
	json_t *copied_snaps;
};

/* ---- listings ---- */

static void
name_key(const char *name, uint8_t key[32])
{
	crypto_sha256(name, strlen(name), key);
}

static int
collect(void *ctx, const char *name, uint64_t size)
{
	struct objs *l = ctx;
	uint8_t key[32];

	if (l->n == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 64;
		l->names = xrealloc(l->names, l->cap * sizeof(*l->names));
		l->sizes = xrealloc(l->sizes, l->cap * sizeof(*l->sizes));
	}
	name_key(name, key);
	if (!idset_put(l->set, key, l->n))
		return 0;	/* listed twice */
	l->names[l->n] = xstrdup(name);
	l->sizes[l->n++] = size;
	return 0;
}

static int
objs_has(const struct objs *l, const char *name)
{
	uint8_t key[32];

	name_key(name, key);
	return idset_get(l->set, key, NULL);
}

static void
objs_free(struct objs *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->names[i]);
	free(l->names);
	free(l->sizes);
	idset_free(l->set);
}

struct lister {
	pthread_t th;
	struct repo *r;
	const char *prefix;
	struct objs *out;
	int rc;
	char *err;
};

static void *
lister_main(void *arg)
{
	struct lister *l = arg;

	l->rc = repo_list(l->r, l->prefix, collect, l->out);
	if (l->rc) {
		l->err = xstrdup(err_msg(l->rc));
		err_clear();
	}
	return NULL;
}

/* list_all: every folder of the source and of each destination replica,
 * all at once. A destination replica that cannot be listed is reported
 * and left out; the source must list. */
static int
list_all(struct copy *c)
{
	struct lister *ls;
	size_t n = (size_t)(1 + c->nv) * NFOLDERS, k = 0;
	int rc = IMDR_OK;

	ls = xcalloc(n, sizeof(*ls));
	for (int f = 0; f < NFOLDERS; f++) {
		c->src_objs[f].set = idset_new();
		ls[k++] = (struct lister){ .r = c->src, .prefix = folders[f], .out = &c->src_objs[f] };
		for (int i = 0; i < c->nv; i++) {
			c->v[i].have[f].set = idset_new();
			ls[k++] = (struct lister){ .r = c->v[i].r, .prefix = folders[f],
			    .out = &c->v[i].have[f] };
		}
	}
	for (k = 0; k < n; k++)
		if (pthread_create(&ls[k].th, NULL, lister_main, &ls[k]) != 0)
			lister_main(&ls[k]), ls[k].th = 0;
	for (k = 0; k < n; k++)
		if (ls[k].th)
			pthread_join(ls[k].th, NULL);
	for (int i = 0; i < c->nv; i++)
		c->v[i].listed = 1;
	for (k = 0; k < n; k++) {
		if (ls[k].rc == IMDR_OK)
			continue;
		if (ls[k].r == c->src) {
			if (rc == IMDR_OK)
				rc = err_set(ls[k].rc, "%s", ls[k].err);
			continue;
		}
		for (int i = 0; i < c->nv; i++) {
			if (c->v[i].r == ls[k].r && c->v[i].listed) {
				c->v[i].listed = 0;
				ev_error(c->ev, repo_url(c->v[i].r), ls[k].err);
			}
		}
	}
	for (k = 0; k < n; k++)
		free(ls[k].err);
	free(ls);
	/* the packs each replica holds, by id */
	for (int i = 0; i < c->nv; i++) {
		struct objs *d = &c->v[i].have[F_DATA];

		c->v[i].packs = idset_new();
		for (size_t j = 0; j < d->n; j++) {
			const char *hex = strrchr(d->names[j], '/');
			uint8_t id[32];

			if (hex && hex_valid(hex + 1, 64) && hex_decode(hex + 1, id, 32) == 0)
				idset_put(c->v[i].packs, id, 0);
		}
	}
	return rc;
}

/* ---- what the chosen snapshots reference ---- */

struct walk_packs {
	struct idset *packs;
};


static int
walk_entry(void *ctx, const char *path, const struct cat_node *node,
    const struct cat_entry *e)
{
	struct walk_packs *w = ctx;

	(void)path;
	if (e->type == CAT_DIR) {
		idset_put(w->packs, e->subtree.pack, 0);
	} else if (e->type == CAT_FILE) {
		for (uint32_t i = 0; i < e->nchunks; i++) {
			struct blob_ref ref;
			uint64_t off;

			cat_chunk(node, e, i, &ref, &off);
			idset_put(w->packs, ref.pack, 0);
		}
	}
	return 0;
}

/* snapshot_packs: every pack snapshot name references (its tree's and its
 * chunks'), into a new set. */
static int
snapshot_packs(struct repo *r, const char *name, struct idset **ret)
{
	struct snapshot *s = NULL;
	struct walk_packs w = { idset_new() };
	int rc;

	rc = snapshot_load(r, name, &s);
	if (rc == IMDR_OK) {
		idset_put(w.packs, s->root.pack, 0);
		rc = cat_walk(r, &s->root, "", walk_entry, &w);
	}
	snapshot_free(s);
	if (rc) {
		idset_free(w.packs);
		return rc;
	}
	*ret = w.packs;
	return IMDR_OK;
}

struct has_all {
	struct idset *have;
	uint8_t missing[32];
};

static int
check_pack(void *ctx, const uint8_t id[32], uint64_t value)
{
	struct has_all *h = ctx;

	(void)value;
	if (idset_get(h->have, id, NULL))
		return 0;
	memcpy(h->missing, id, 32);
	return 1;
}

/* ---- tasks ---- */

struct verify_ctx {
	struct repo *r;
	const char *name;
};

static int
verify(void *ctx, struct buf *b)
{
	struct verify_ctx *v = ctx;

	return repo_object_verify(v->r, v->name, b->data, b->len);
}

static void
failed(struct copy *c, const char *what, const char *msg)
{
	pthread_mutex_lock(&c->mu);
	c->res->failed++;
	c->phase_failed++;
	pthread_mutex_unlock(&c->mu);
	ev_error(c->ev, what, msg);
}

struct index_packs {
	struct idset *have;
	int ok;
};

static int
index_pack_there(void *ctx, const uint8_t pack[32], uint64_t size)
{
	struct index_packs *ip = ctx;

	(void)size;
	if (!idset_get(ip->have, pack, NULL)) {
		ip->ok = 0;
		return 1;
	}
	return 0;
}

/* narrow: the replicas an index object or a snapshot may go to: those
 * that hold every pack it names. */
static uint32_t
narrow(struct copy *c, struct task *t, const struct buf *b)
{
	uint32_t mask = t->lacking;
	struct index *idx = NULL;
	char hex[65];

	if (c->exact)
		return mask;
	if (t->folder == F_INDEX) {
		idx = index_new();
		if (index_load_bytes(c->src, idx, t->name, b->data, b->len) != IMDR_OK) {
			failed(c, t->name, err_msg(IMDR_EFORMAT));
			err_clear();
			index_free(idx);
			return 0;
		}
	}
	for (int i = 0; i < c->nv; i++) {
		if (!((mask >> i) & 1))
			continue;
		pthread_mutex_lock(&c->mu);
		if (t->folder == F_INDEX) {
			struct index_packs ip = { c->v[i].packs, 1 };

			index_each_pack(idx, index_pack_there, &ip);
			if (!ip.ok)
				mask &= ~(1u << i);	/* the next backup indexes its packs */
		} else if (t->needs) {
			struct has_all h = { c->v[i].packs, { 0 } };

			if (idset_each(t->needs, check_pack, &h)) {
				char msg[256];

				mask &= ~(1u << i);
				c->res->held_back++;
				hex_encode(h.missing, 32, hex);
				snprintf(msg, sizeof(msg), "not copied to %s: it needs pack %.16s, which is not there",
				    repo_url(c->v[i].r), hex);
				pthread_mutex_unlock(&c->mu);
				ev_error(c->ev, t->name, msg);
				pthread_mutex_lock(&c->mu);
			}
		}
		pthread_mutex_unlock(&c->mu);
	}
	index_free(idx);
	return mask;
}

static void
run_task(struct copy *c, struct task *t, struct buf *b)
{
	struct verify_ctx vc = { c->src, t->name };
	uint32_t mask;
	int rc;

	if (t->folder == F_SNAPS && !c->exact && t->needs == NULL) {
		rc = snapshot_packs(c->src, t->name, &t->needs);
		if (rc) {
			failed(c, t->name, err_msg(rc));
			err_clear();
			return;
		}
	}
	rc = repo_object_read(c->src, t->name, b, verify, &vc);
	if (rc) {
		failed(c, t->name, err_msg(rc));
		err_clear();
		return;
	}
	mask = t->folder == F_INDEX || t->folder == F_SNAPS ? narrow(c, t, b) : t->lacking;
	for (int i = 0; i < c->nv; i++) {
		if (!((mask >> i) & 1))
			continue;
		rc = repo_object_write(c->v[i].r, t->name, b->data, b->len);
		if (rc == IMDR_EEXIST) {
			err_clear();
			rc = IMDR_OK;	/* another writer was first: same bytes */
		}
		if (rc) {
			char msg[1200];

			snprintf(msg, sizeof(msg), "%s: %s", repo_url(c->v[i].r), err_msg(rc));
			err_clear();
			failed(c, t->name, msg);
			continue;
		}
		pthread_mutex_lock(&c->mu);
		c->res->copied++;
		c->res->copied_bytes += b->len;
		if (t->folder == F_DATA) {
			const char *hex = strrchr(t->name, '/') + 1;
			uint8_t id[32];

			if (hex_decode(hex, id, 32) == 0)
				idset_put(c->v[i].packs, id, 0);
		}
		if (t->folder == F_SNAPS) {
			c->res->snapshots_copied++;
			if (json_array_size(c->copied_snaps) < 64)
				json_array_append_new(c->copied_snaps,
				    json_string(t->name + strlen(t->name) - SNAPSHOT_ID_HEX));
		}
		pthread_mutex_unlock(&c->mu);
	}
}

static void *
worker_main(void *arg)
{
	struct copy *c = arg;
	struct buf b = BUF_INIT;

	for (;;) {
		struct task *t;

		pthread_mutex_lock(&c->mu);
		if (c->next >= c->ntasks || ev_cancelled(c->ev)) {
			pthread_mutex_unlock(&c->mu);
			break;
		}
		t = &c->tasks[c->next];
		/* bytes in flight stay bounded; one task always may run */
		while (c->inflight > 0 && c->inflight + t->size > INFLIGHT_BYTES)
			pthread_cond_wait(&c->cv, &c->mu);
		if (t != &c->tasks[c->next]) {
			pthread_mutex_unlock(&c->mu);
			continue;	/* another worker took it meanwhile */
		}
		c->next++;
		c->inflight += t->size;
		pthread_mutex_unlock(&c->mu);

		run_task(c, t, &b);
		ev_advance(c->ev, 1, t->size);
		if (b.cap > (32u << 20))
			buf_free(&b);

		pthread_mutex_lock(&c->mu);
		c->inflight -= t->size;
		pthread_cond_broadcast(&c->cv);
		pthread_mutex_unlock(&c->mu);
	}
	buf_free(&b);
	repo_thread_cleanup();
	return NULL;
}

/* run_phase: every task, on the workers; waits for all. */
static int
run_phase(struct copy *c, struct task *tasks, size_t n)
{
	pthread_t th[MAX_THREADS];
	int nth = 0;

	if (n == 0)
		return IMDR_OK;
	c->tasks = tasks;
	c->ntasks = n;
	c->next = 0;
	c->phase_failed = 0;
	for (int i = 0; i < c->threads && (size_t)i < n; i++)
		if (pthread_create(&th[nth], NULL, worker_main, c) == 0)
			nth++;
	if (nth == 0)
		worker_main(c);
	for (int i = 0; i < nth; i++)
		pthread_join(th[i], NULL);
	return ev_cancelled(c->ev) ?
	    err_set(IMDR_EINTR, "interrupted; what was copied stays, and the next copy goes on from there") :
	    IMDR_OK;
}

/* ---- choosing what to copy ---- */

/* choose_snapshots: the snapshot names wanted (indexes into the source's
 * list), oldest first. */
static int
choose_snapshots(struct copy *c, size_t **ret, size_t *ret_n)
{
	struct objs *s = &c->src_objs[F_SNAPS];
	struct snapshot_name *names = NULL;
	size_t n = 0, nw = 0, cap = 0, *want = NULL;
	int rc;

	rc = snapshot_list(c->src, &names, &n);
	if (rc)
		return rc;
	if (c->o->source) {
		char tag[SNAPSHOT_TAG_HEX + 1];

		snapshot_source_tag(c->src, c->o->source, tag);
		n = snapshot_filter_source(names, n, tag);
		if (n == 0) {
			free(names);
			return err_set(IMDR_ENOENT, "no snapshot of source %s in %s", c->o->source,
			    repo_url(c->src));
		}
	}
	for (size_t k = 0; k < (c->o->nsnapshots ? c->o->nsnapshots : n); k++) {
		size_t at = k;
		uint8_t key[32];
		uint64_t pos;

		if (c->o->nsnapshots) {
			rc = snapshot_resolve_name(names, n, c->o->snapshots[k], &at);
			if (rc)
				break;
		}
		name_key(names[at].name, key);
		if (idset_get(s->set, key, &pos))
			*ARRAY_PUSH(want, nw, cap) = (size_t)pos;
	}
	free(names);
	if (rc) {
		free(want);
		return rc;
	}
	*ret = want;
	*ret_n = nw;
	return IMDR_OK;
}

/* add_task: a task for src object j of folder f, if some replica lacks it */
static void
add_task(struct copy *c, struct task **v, size_t *n, size_t *cap, int f, size_t j,
    struct idset *needs)
{
	const char *name = c->src_objs[f].names[j];
	uint64_t size = c->src_objs[f].sizes[j];
	uint32_t lacking = 0;

	for (int i = 0; i < c->nv; i++) {
		if (!c->v[i].listed || objs_has(&c->v[i].have[f], name))
			continue;
		lacking |= 1u << i;
		c->res->to_copy++;
		c->res->to_copy_bytes += size;
	}
	if (lacking == 0) {
		c->res->present++;
		idset_free(needs);
		return;
	}
	*ARRAY_PUSH(*v, *n, *cap) = (struct task){ name, size, f, lacking, needs };
}

static int
union_into(void *ctx, const uint8_t id[32], uint64_t value)
{
	(void)value;
	idset_put(ctx, id, 0);
	return 0;
}

static int
cmp_task_name(const void *a, const void *b)
{
	return strcmp(((const struct task *)a)->name, ((const struct task *)b)->name);
}

static void
tasks_free(struct task *t, size_t n)
{
	for (size_t i = 0; i < n; i++)
		idset_free(t[i].needs);
	free(t);
}

/* ---- the operation ---- */

struct locker {
	struct repo *r;
	struct lock *lk;
	int rc;
	char *err;
	int started;
	pthread_t th;
};

static void *
locker_main(void *arg)
{
	struct locker *l = arg;

	l->rc = lock_acquire(l->r, 0, &l->lk);
	if (l->rc) {
		l->err = xstrdup(err_msg(l->rc));
		err_clear();
	}
	return NULL;
}

static int
same_repository(struct repo *src, struct repo *dst)
{
	if (strcmp(repo_config(src)->id, repo_config(dst)->id) != 0)
		return err_set(IMDR_EINVAL, "%s (repository %.8s) and %s (repository %.8s) are different repositories; "
		    "make the destination with imdr init DST --replica-of SRC", repo_url(src),
		    repo_config(src)->id, repo_url(dst), repo_config(dst)->id);
	if (!crypto_memeq(repo_keys(src), repo_keys(dst), sizeof(struct master_key)))
		return err_set(IMDR_EINVAL, "%s and %s have the same id but different keys: not replicas of each other",
		    repo_url(src), repo_url(dst));
	return IMDR_OK;
}

static void
audit(struct copy *c, int rc)
{
	json_t *scope = json_pack("{s:s, s:I, s:I, s:I, s:O}", "from", repo_url(c->src),
	    "objects", (json_int_t)c->res->copied, "bytes", (json_int_t)c->res->copied_bytes,
	    "failed", (json_int_t)c->res->failed, "snapshots", c->copied_snaps);
	char *js = json_dumps(scope, JSON_COMPACT | JSON_SORT_KEYS);
	char result[256];
	int arc;

	if (rc)
		snprintf(result, sizeof(result), "%s", err_msg(rc));
	else if (c->res->failed || c->res->held_back)
		snprintf(result, sizeof(result), "%llu objects could not be copied, %llu snapshots held back",
		    (unsigned long long)c->res->failed, (unsigned long long)c->res->held_back);
	else
		snprintf(result, sizeof(result), "ok");
	/* replicas of one repository hold one log: the record goes to the
	 * source and is put on the destination as it is (a read-only source:
	 * the destination's alone) */
	{
		int64_t t0 = time_now_ns();

		arc = audit_append(c->src, &(struct audit_event){ "copy", js, result }, NULL);
		if (arc == IMDR_OK)
			arc = audit_spread(c->src, c->dst, t0 - 60 * (int64_t)1000000000, NULL);
		else if (arc == IMDR_EUNSUP) {
			err_clear();
			arc = audit_append(c->dst, &(struct audit_event){ "copy", js, result }, NULL);
		}
	}
	if (arc) {
		ev_warn(c->ev, repo_url(c->dst), err_msg(arc));
		err_clear();
	}
	free(js);
	json_decref(scope);
}

int
copy_run(struct repo *src, struct repo *dst, const struct copy_opts *o,
    struct copy_result *ret)
{
	struct copy c;
	struct task *ph[3] = { NULL };
	size_t nph[3] = { 0 }, cap[3] = { 0 }, *snaps = NULL, nsnaps = 0;
	struct idset *wanted_packs = NULL;
	struct lock *lk = NULL;
	struct repo_traits ts, td;
	int64_t t0 = time_mono_ns();
	int rc, filtered = o->nsnapshots > 0 || o->source != NULL;

	memset(&c, 0, sizeof(c));
	memset(ret, 0, sizeof(*ret));
	c.src = src;
	c.dst = dst;
	c.o = o;
	c.ev = &o->ev;
	c.res = ret;
	pthread_mutex_init(&c.mu, NULL);
	pthread_cond_init(&c.cv, NULL);
	c.copied_snaps = json_array();
	rc = same_repository(src, dst);
	if (rc)
		goto out;
	c.nv = repo_replica_count(dst);
	for (int i = 0; i < c.nv; i++) {
		struct repo_replica ri;

		repo_replica_info(dst, i, &ri);
		if (ri.state != REPO_REPLICA_OK) {
			char msg[700];

			/* unreachable when opened: not waited for again */
			snprintf(msg, sizeof(msg), "replica %d is left out: %s", i + 1, ri.why);
			ev_error(c.ev, ri.url, msg);
			c.v[i].r = NULL;
			ret->replicas_left_out++;
			continue;
		}
		rc = repo_replica_open(dst, i, &c.v[i].r);
		if (rc) {
			ev_error(c.ev, NULL, err_msg(rc));
			err_clear();
			c.v[i].r = NULL;
			ret->replicas_left_out++;
		}
	}
	/* replicas that could not be opened are left out (reported) */
	for (int i = 0, k = 0; i < c.nv; i++)
		if (c.v[i].r)
			c.v[k++] = c.v[i];
	{
		int k = 0;

		for (int i = 0; i < c.nv; i++)
			k += c.v[i].r != NULL;
		c.nv = k;
	}
	if (c.nv == 0) {
		rc = err_set(IMDR_ENOENT, "no replica of %s can be written", repo_url(dst));
		goto out;
	}
	repo_traits(src, &ts);
	repo_traits(dst, &td);
	c.threads = o->threads > 0 ? o->threads : ts.concurrency > td.concurrency ?
	    ts.concurrency : td.concurrency;
	if (c.threads < 2)
		c.threads = 2;
	if (c.threads > MAX_THREADS)
		c.threads = MAX_THREADS;

	rc = list_all(&c);
	if (rc)
		goto out;
	for (int f = 0; f < NFOLDERS; f++)
		ret->listed += c.src_objs[f].n;

	/* what the chosen snapshots need */
	if (filtered) {
		rc = choose_snapshots(&c, &snaps, &nsnaps);
		if (rc)
			goto out;
		wanted_packs = idset_new();
	}
	for (size_t k = 0; k < nsnaps; k++) {
		struct idset *needs = NULL;

		rc = snapshot_packs(src, c.src_objs[F_SNAPS].names[snaps[k]], &needs);
		if (rc)
			goto out;
		idset_each(needs, union_into, wanted_packs);
		add_task(&c, &ph[2], &nph[2], &cap[2], F_SNAPS, snaps[k], needs);
	}
	if (!filtered)
		for (size_t j = 0; j < c.src_objs[F_SNAPS].n; j++)
			add_task(&c, &ph[2], &nph[2], &cap[2], F_SNAPS, j, NULL);
	for (size_t j = 0; j < c.src_objs[F_KEYS].n; j++)
		add_task(&c, &ph[0], &nph[0], &cap[0], F_KEYS, j, NULL);
	for (size_t j = 0; j < c.src_objs[F_DATA].n; j++) {
		const char *hex = strrchr(c.src_objs[F_DATA].names[j], '/');
		uint8_t id[32];

		if (filtered && (hex == NULL || hex_decode(hex + 1, id, 32) != 0 ||
		    !idset_get(wanted_packs, id, NULL)))
			continue;
		add_task(&c, &ph[0], &nph[0], &cap[0], F_DATA, j, NULL);
	}
	for (size_t j = 0; j < c.src_objs[F_INDEX].n; j++)
		add_task(&c, &ph[1], &nph[1], &cap[1], F_INDEX, j, NULL);
	for (size_t j = 0; j < c.src_objs[F_AUDIT].n; j++)
		add_task(&c, &ph[0], &nph[0], &cap[0], F_AUDIT, j, NULL);
	for (size_t j = 0; j < c.src_objs[F_HOLDS].n; j++)
		add_task(&c, &ph[0], &nph[0], &cap[0], F_HOLDS, j, NULL);
	for (size_t j = 0; j < c.src_objs[F_MOVED].n; j++)
		add_task(&c, &ph[1], &nph[1], &cap[1], F_MOVED, j, NULL);
	/* snapshots oldest first: their names begin with the time */
	if (nph[2])
		qsort(ph[2], nph[2], sizeof(*ph[2]), cmp_task_name);
	{
		uint64_t nt = 0, bytes = 0;

		for (int p = 0; p < 3; p++) {
			nt += nph[p];
			for (size_t k = 0; k < nph[p]; k++)
				bytes += ph[p][k].size;
		}
		if (o->dry_run || nt == 0)
			goto out;	/* nothing to copy: only listed */
		ev_total(c.ev, nt, bytes);
	}
	/* the lock (a few round trips) is taken while packs go: it must be
	 * held before anything references them */
	{
		struct locker lt = { .r = dst, .rc = IMDR_OK };

		if (pthread_create(&lt.th, NULL, locker_main, &lt) == 0)
			lt.started = 1;
		else
			locker_main(&lt);
		ret->replicas = c.nv;
		rc = run_phase(&c, ph[0], nph[0]);
		if (lt.started)
			pthread_join(lt.th, NULL);
		lk = lt.lk;
		if (rc == IMDR_OK && lt.rc)
			rc = err_set(lt.rc, "%s", lt.err);
		free(lt.err);
	}
	c.exact = !filtered && ret->failed == 0;
	for (int p = 1; p < 3 && rc == IMDR_OK; p++)
		rc = run_phase(&c, ph[p], nph[p]);
	if (ret->copied)
		audit(&c, rc);
out:
	lock_release(lk);
	for (int p = 0; p < 3; p++)
		tasks_free(ph[p], nph[p]);
	free(snaps);
	idset_free(wanted_packs);
	for (int f = 0; f < NFOLDERS; f++)
		objs_free(&c.src_objs[f]);
	for (int i = 0; i < c.nv; i++) {
		for (int f = 0; f < NFOLDERS; f++)
			objs_free(&c.v[i].have[f]);
		idset_free(c.v[i].packs);
		repo_free(c.v[i].r);
	}
	json_decref(c.copied_snaps);
	pthread_mutex_destroy(&c.mu);
	pthread_cond_destroy(&c.cv);
	ret->duration_ms = (uint64_t)((time_mono_ns() - t0) / 1000000);
	return rc;
}
