/* trail — see trail.h.
 *
 * One pass serves reading, checkpointing and verifying: list the log, fetch
 * its records in parallel batches (oldest first), authenticate each, and
 * resolve each of its parents to the listed record of that id; a parent
 * that is not there is a missing link. What stays in memory is the listing
 * and, per record, its parents' indices and a few state bits: the records'
 * contents are dropped batch by batch. */
#include "engine/trail.h"

#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/array.h"
#include "lib/err.h"
#include "lib/hex.h"
#include "lib/idset.h"
#include "lib/timefmt.h"
#include "repo/snapshot.h"

#define BATCH 512
#define MAX_FETCHERS 16
#define NO_INDEX UINT32_MAX		/* a parent not in the listing */
#define UNLISTED UINT32_MAX - 1		/* a parent before the range read, present */
#define WINDOW_NS ((int64_t)AUDIT_WINDOW_SECS * 1000000000)

/* ---- the hook ---- */

int
trail_record(struct repo *r, const struct engine_events *ev,
    const char *command, json_t *scope, int op_rc,
    char ret_id[AUDIT_ID_HEX + 1])
{
	char *saved = op_rc ? xstrdup(err_msg(op_rc)) : NULL;
	char *js = scope ? json_dumps(scope, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	struct audit_event ae = { command, js, saved ? saved : "ok" };
	char id[AUDIT_ID_HEX + 1] = "";
	int rc;

	json_decref(scope);
	rc = audit_append(r, &ae, id);
	if (rc) {
		char *msg = xasprintf("this %s is not recorded in the repository's audit log: %s",
		    command, err_msg(rc));

		/* a log that cannot be written to by design is no fault */
		if (rc == IMDR_EUNSUP)
			ev_warn(ev, "audit log", msg);
		else
			ev_error(ev, "audit log", msg);
		free(msg);
	}
	if (ret_id)
		memcpy(ret_id, id, sizeof(id));
	if (saved)
		err_set(op_rc, "%s", saved);
	free(saved);
	free(js);
	return rc;
}

/* str: s as a JSON string, lossy where it is not UTF-8. */
static json_t *
str(const char *s)
{
	json_t *j = json_string(s ? s : "");
	char *t;

	if (j)
		return j;
	t = audit_text(s);
	j = json_string(t);
	free(t);
	return j;
}

void
trail_scope_snapshot(json_t *scope, const struct snapshot *s)
{
	char when[40];

	time_format(s->time_ns, 0, when);
	json_object_set_new(scope, "snapshot", str(s->id));
	json_object_set_new(scope, "source", str(s->source));
	json_object_set_new(scope, "snapshot_time", str(when));
}

/* ---- parallel fetching ---- */

struct pfor {
	size_t n, next;
	void (*fn)(void *ctx, size_t i);
	void *ctx;
};

static void *
pfor_main(void *arg)
{
	struct pfor *p = arg;
	size_t i;

	while ((i = __atomic_fetch_add(&p->next, 1, __ATOMIC_RELAXED)) < p->n)
		p->fn(p->ctx, i);
	return NULL;
}

/* parallel_for: fn(ctx, i) for i < n from up to threads threads (the
 * caller's among them). */
static void
parallel_for(int threads, size_t n, void (*fn)(void *, size_t), void *ctx)
{
	struct pfor p = { n, 0, fn, ctx };
	pthread_t th[MAX_FETCHERS];
	int started = 0;

	for (int t = 1; t < threads && (size_t)t < n; t++)
		if (pthread_create(&th[started], NULL, pfor_main, &p) == 0)
			started++;
	pfor_main(&p);
	for (int t = 0; t < started; t++)
		pthread_join(th[t], NULL);
}

static int
fetchers(struct repo *r)
{
	struct repo_traits tr;

	repo_traits(r, &tr);
	return tr.concurrency < 1 ? 1 : tr.concurrency > MAX_FETCHERS ? MAX_FETCHERS : tr.concurrency;
}

/* ---- the graph of the log ---- */

enum {
	ST_OK = 1,		/* read, authenticated, parents resolved */
	ST_BAD = 2,		/* could not be read or failed authentication */
	ST_NAMED = 4,		/* some record names it */
	ST_KNOWN = 8,		/* the checkpoint or one it descends from */
	ST_LATER = 16,		/* descends from the checkpoint */
	ST_UNSURE = 32,		/* descends from a record unread or with a
				 * broken link: its place is not known */
};

struct link {
	size_t child;
	char parent[AUDIT_BASE_MAX];
	char *why;		/* NULL: missing; else what is wrong with it */
};

struct graph {
	struct repo *r;
	const struct engine_events *ev;
	struct audit_name *names;
	size_t n, first;	/* records [first, n) are read */
	int64_t since;
	struct idset *ids;	/* id -> index */
	uint32_t **par;
	uint32_t *npar;
	uint8_t *st;
	char **bad;		/* why a record could not be read */
	struct link *links;	/* broken links */
	size_t nlinks, links_cap;
	uint64_t errors, warnings, verified;
	int threads;
	/* called with each record that was read, in order */
	int (*each)(void *ctx, size_t i, const struct audit_record *rec);
	void *ctx;
};

/* note: an error (the log is not what it should be) or, when error is 0,
 * an oddity worth a warning; counted in g. */
static void
note(struct graph *g, int error, const char *fmt, va_list ap)
{
	char *msg;

	if (vasprintf(&msg, fmt, ap) < 0)
		msg = NULL;
	if (error) {
		g->errors++;
		ev_error(g->ev, NULL, msg ? msg : fmt);
	} else {
		g->warnings++;
		ev_warn(g->ev, NULL, msg ? msg : fmt);
	}
	free(msg);
}

static void problem(struct graph *g, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void oddity(struct graph *g, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
problem(struct graph *g, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	note(g, 1, fmt, ap);
	va_end(ap);
}

static void
oddity(struct graph *g, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	note(g, 0, fmt, ap);
	va_end(ap);
}

/* describe: "the backup record of 2026-11-24T10:00:00Z (audit/…)". */
static void
describe(const struct audit_name *an, char *out, size_t cap)
{
	char when[40];

	time_format(an->time_ns, 3, when);
	snprintf(out, cap, "the %s record of %s (%s)", an->command, when, an->name);
}

static void
graph_free(struct graph *g)
{
	for (size_t i = 0; i < g->n; i++) {
		if (g->par)
			free(g->par[i]);
		if (g->bad)
			free(g->bad[i]);
	}
	for (size_t i = 0; i < g->nlinks; i++)
		free(g->links[i].why);
	free(g->links);
	free(g->par);
	free(g->npar);
	free(g->st);
	free(g->bad);
	free(g->names);
	idset_free(g->ids);
}

/* graph_index: names, ids and state for the listing in g->names. */
static void
graph_index(struct graph *g)
{
	g->ids = idset_new();
	g->par = xcalloc(g->n + 1, sizeof(*g->par));
	g->npar = xcalloc(g->n + 1, sizeof(*g->npar));
	g->st = xcalloc(g->n + 1, 1);
	g->bad = xcalloc(g->n + 1, sizeof(*g->bad));
	g->threads = fetchers(g->r);
	for (size_t i = 0; i < g->n; i++) {
		uint8_t id[32];

		hex_decode(g->names[i].id, id, sizeof(id));
		idset_put(g->ids, id, i);
	}
}

static int
find(const struct graph *g, const char *hexid, size_t *ret)
{
	uint8_t id[32];
	uint64_t v;

	if (hex_decode(hexid, id, sizeof(id)) != 0 || !idset_get(g->ids, id, &v))
		return 0;
	*ret = (size_t)v;
	return 1;
}

static void
broken_link(struct graph *g, size_t child, const char *parent, char *why)
{
	struct link *l = ARRAY_PUSH(g->links, g->nlinks, g->links_cap);

	l->child = child;
	snprintf(l->parent, sizeof(l->parent), "%s", parent);
	l->why = why;
}

/* resolve: the parents of record i to indices; a parent missing from the
 * listing is a broken link, unless it lies before the range read (then
 * its presence is asked of the repository). */
static void
resolve(struct graph *g, size_t i, const struct audit_record *rec)
{
	g->par[i] = xcalloc(rec->nparents + 1, sizeof(**g->par));
	g->npar[i] = (uint32_t)rec->nparents;
	for (size_t k = 0; k < rec->nparents; k++) {
		const char *base = rec->parents[k];
		struct audit_name pn;
		size_t j;

		g->par[i][k] = NO_INDEX;
		audit_name_parse(base, &pn);	/* audit_parse checked it */
		if (find(g, pn.id, &j)) {
			if (strcmp(audit_base(&g->names[j]), base) != 0) {
				broken_link(g, i, base, xasprintf("the record with that id is %s",
				    g->names[j].name));
				continue;
			}
			g->par[i][k] = (uint32_t)j;
			g->st[j] |= ST_NAMED;
		} else if (g->since && pn.time_ns < g->since) {
			if (repo_stat(g->r, pn.name, NULL) == IMDR_OK)
				g->par[i][k] = UNLISTED;
			else
				broken_link(g, i, base, NULL);
			err_clear();
		} else {
			broken_link(g, i, base, NULL);
		}
	}
}

struct batch {
	struct graph *g;
	size_t from;
	struct audit_record **rec;
	char **err;
};

static void
fetch_one(void *ctx, size_t k)
{
	struct batch *b = ctx;
	const struct audit_name *an = &b->g->names[b->from + k];
	int rc;

	if (an->size > AUDIT_RECORD_MAX) {
		b->err[k] = xasprintf("audit record %s has %llu bytes (at most %u); not read",
		    an->name, (unsigned long long)an->size, AUDIT_RECORD_MAX);
		return;
	}
	rc = audit_load(b->g->r, an->name, &b->rec[k]);
	if (rc) {
		b->rec[k] = NULL;
		b->err[k] = xstrdup(err_msg(rc));
		err_clear();
	}
}

/* graph_read: read records [first, n) in parallel batches, oldest first,
 * resolving their links and handing each to g->each. */
static int
graph_read(struct graph *g)
{
	struct audit_record **rec = xcalloc(BATCH, sizeof(*rec));
	char **err = xcalloc(BATCH, sizeof(*err));
	int rc = IMDR_OK;

	ev_total(g->ev, g->n - g->first, 0);
	for (size_t from = g->first; from < g->n && rc == IMDR_OK; from += BATCH) {
		size_t m = g->n - from < BATCH ? g->n - from : BATCH;
		struct batch b = { g, from, rec, err };

		if (ev_cancelled(g->ev)) {
			rc = err_set(IMDR_EINTR, "interrupted");
			break;
		}
		memset(rec, 0, m * sizeof(*rec));
		memset(err, 0, m * sizeof(*err));
		parallel_for(g->threads, m, fetch_one, &b);
		for (size_t k = 0; k < m; k++) {
			size_t i = from + k;

			if (rec[k] == NULL) {
				g->st[i] |= ST_BAD;
				g->bad[i] = err[k];
				continue;
			}
			g->st[i] |= ST_OK;
			g->verified++;
			resolve(g, i, rec[k]);
			if (rc == IMDR_OK && g->each)
				rc = g->each(g->ctx, i, rec[k]);
			audit_record_free(rec[k]);
		}
		ev_advance(g->ev, m, 0);
	}
	free(rec);
	free(err);
	return rc;
}

/* report: records that could not be read and broken links, each named,
 * with what the checkpoint knew of them when there is one. */
static void
report(struct graph *g, int with_checkpoint)
{
	char d[512], pd[512];

	for (size_t i = g->first; i < g->n; i++) {
		if (!(g->st[i] & ST_BAD))
			continue;
		problem(g, "%s%s", g->bad[i],
		    with_checkpoint && (g->st[i] & ST_KNOWN) ? " (a record the checkpoint knew)" : "");
	}
	for (size_t k = 0; k < g->nlinks; k++) {
		struct link *l = &g->links[k];
		struct audit_name pn;

		describe(&g->names[l->child], d, sizeof(d));
		audit_name_parse(l->parent, &pn);
		describe(&pn, pd, sizeof(pd));
		if (l->why)
			problem(g, "%s names %s as its parent, but %s", d, pd, l->why);
		else
			problem(g, "%s names %s as its parent, which is missing (deleted)%s", d, pd,
			    with_checkpoint && (g->st[l->child] & ST_KNOWN) ?
			    " (a record the checkpoint knew)" : "");
	}
}

/* heads: records no other names; the oldest-but-not-recent ones are odd
 * (a writer's clock behind, or records never joined). */
static uint64_t
heads(struct graph *g, int warn_old)
{
	int64_t newest = g->n ? g->names[g->n - 1].time_ns : 0;
	uint64_t nh = 0;
	char d[512];

	for (size_t i = g->first; i < g->n; i++) {
		if (g->st[i] & ST_NAMED)
			continue;
		nh++;
		if (warn_old && g->names[i].time_ns < newest - WINDOW_NS) {
			describe(&g->names[i], d, sizeof(d));
			oddity(g, "%s is named by no later record (never joined: a writer's clock behind by more than %d minutes?)",
			    d, AUDIT_WINDOW_SECS / 60);
		}
	}
	return nh;
}

static void
report_strays(struct graph *g, char **strays, size_t nstrays)
{
	size_t kept = nstrays < 100 ? nstrays : 100;

	for (size_t i = 0; i < kept; i++)
		oddity(g, "%s is not an audit record's name; ignored", strays[i]);
	if (nstrays > kept)
		oddity(g, "%zu more objects under audit/ are not audit records' names", nstrays - kept);
	for (size_t i = 0; i < kept; i++)
		free(strays[i]);
	free(strays);
}

/* ---- reading ---- */

struct read_ctx {
	const struct trail_opts *o;
	trail_show_fn show;
	void *ctx;
	uint64_t shown;
};

static int
read_each(void *ctx, size_t i, const struct audit_record *rec)
{
	struct read_ctx *rc = ctx;

	(void)i;
	if (rc->o->command && strcmp(rc->o->command, rec->command) != 0)
		return 0;
	if (rec->time_ns < rc->o->since)
		return 0;
	rc->shown++;
	return rc->show ? rc->show(rc->ctx, rec) : 0;
}

int
trail_read(struct repo *r, const struct trail_opts *o, trail_show_fn show,
    void *ctx, struct trail_result *ret)
{
	struct graph g;
	struct read_ctx rctx = { o, show, ctx, 0 };
	char **strays = NULL;
	size_t nstrays = 0;
	int rc;

	memset(&g, 0, sizeof(g));
	memset(ret, 0, sizeof(*ret));
	g.r = r;
	g.ev = &o->ev;
	g.since = o->since;
	if (o->since)
		rc = audit_list_since(r, o->since, &g.names, &g.n);
	else
		rc = audit_list_strays(r, &g.names, &g.n, &strays, &nstrays);
	if (rc)
		return rc;
	report_strays(&g, strays, nstrays);
	graph_index(&g);
	while (g.first < g.n && g.names[g.first].time_ns < o->since)
		g.first++;
	g.each = read_each;
	g.ctx = &rctx;
	rc = graph_read(&g);
	if (rc == IMDR_OK) {
		report(&g, 0);
		ret->heads = heads(&g, 1);
	}
	ret->records = g.n - g.first;
	ret->verified = g.verified;
	ret->shown = rctx.shown;
	ret->errors = g.errors;
	ret->warnings = g.warnings;
	graph_free(&g);
	return rc;
}

/* ---- checkpoints ---- */

int
trail_digest_parse(const char *digest, char repo8[9], struct audit_name *ret)
{
	char base[AUDIT_BASE_MAX];
	size_t n = strlen(digest);

	if (n != TRAIL_DIGEST_MAX - 1 || digest[8] != '-' ||
	    strspn(digest, "0123456789abcdef") != 8)
		goto bad;
	memcpy(repo8, digest, 8);
	repo8[8] = '\0';
	snprintf(base, sizeof(base), "%.26s-checkpoint-%s", digest + 9, digest + 9 + 27);
	if (digest[9 + 26] != '-' || audit_name_parse(base, ret) != 0)
		goto bad;
	return 0;
bad:
	return err_set(IMDR_EINVAL, "%s is not a checkpoint digest (it looks like "
	    "a1b2c3d4-20261124T100000.123456789Z-<64 hex digits>)", digest);
}

int
trail_checkpoint(struct repo *r, const struct trail_checkpoint_opts *o,
    struct trail_checkpoint_result *ret)
{
	struct graph g;
	struct snapshot_name *snaps = NULL;
	char (*parents)[AUDIT_BASE_MAX] = NULL;
	char **strays = NULL, base[AUDIT_BASE_MAX];
	struct audit_name cn;
	size_t nsnaps = 0, nstrays = 0, np = 0;
	json_t *scope = NULL, *list;
	char *js = NULL;
	int rc;

	memset(&g, 0, sizeof(g));
	memset(ret, 0, sizeof(*ret));
	g.r = r;
	g.ev = &o->ev;
	rc = audit_list_strays(r, &g.names, &g.n, &strays, &nstrays);
	if (rc)
		return rc;
	report_strays(&g, strays, nstrays);
	graph_index(&g);
	rc = graph_read(&g);
	if (rc)
		goto out;
	report(&g, 0);
	ret->records = g.n;
	ret->errors = g.errors;
	ret->warnings = g.warnings;
	if (g.errors && !o->force) {
		rc = err_set(IMDR_EAUTH, "the audit log has %llu problem%s (above); no checkpoint written "
		    "(--force writes one all the same, committing to the log as it is now)",
		    (unsigned long long)g.errors, g.errors == 1 ? "" : "s");
		goto out;
	}
	/* every head of the whole log, not just the recent ones */
	parents = xcalloc(g.n + 1, sizeof(*parents));
	for (size_t i = 0; i < g.n; i++)
		if (!(g.st[i] & ST_NAMED))
			snprintf(parents[np++], AUDIT_BASE_MAX, "%s", audit_base(&g.names[i]));
	rc = snapshot_list(r, &snaps, &nsnaps);
	if (rc)
		goto out;
	list = json_array();
	for (size_t i = 0; i < nsnaps; i++)
		json_array_append_new(list, json_string(snaps[i].name + 10));
	scope = json_pack("{s:o, s:I, s:I, s:I}", "snapshots", list,
	    "records", (json_int_t)g.n, "heads", (json_int_t)np,
	    "problems", (json_int_t)g.errors);
	js = json_dumps(scope, JSON_COMPACT | JSON_SORT_KEYS);
	rc = audit_append_linked(r, &(struct audit_event){ "checkpoint", js, "ok" }, parents, np,
	    0, base);
	if (rc)
		goto out;
	audit_name_parse(base, &cn);
	snprintf(ret->digest, sizeof(ret->digest), "%.8s-%.26s-%s", repo_config(r)->id, base,
	    cn.id);
	ret->time_ns = cn.time_ns;
	ret->snapshots = nsnaps;
	ret->heads = np;
out:
	json_decref(scope);
	free(js);
	free(snaps);
	free(parents);
	graph_free(&g);
	return rc;
}

/* ---- verifying ---- */

struct verify {
	struct graph g;
	const struct trail_verify_opts *o;
	struct trail_verify_result *res;
	size_t cp;			/* the checkpoint's index, or SIZE_MAX */
	char cp_label[160];		/* "checkpoint <digest>" or "the checkpoint of <time>" */
	struct idset *forgets;		/* snapshot id -> the forget record's index */
	char **known;			/* the checkpoint's snapshot names (base) */
	size_t nknown, known_cap;
	const char *cp_problem;		/* why the checkpoint's scope is unusable */
};

static int
verify_each(void *ctx, size_t i, const struct audit_record *rec)
{
	struct verify *v = ctx;
	json_error_t jerr;
	json_t *scope, *arr, *e;
	size_t k;

	if (strcmp(rec->command, "forget") != 0 && i != v->cp)
		return 0;
	scope = json_loads(rec->scope_json, 0, &jerr);
	if (strcmp(rec->command, "forget") == 0) {
		arr = json_object_get(scope, "removed");
		json_array_foreach(arr, k, e) {
			uint8_t id[32];
			const char *s = json_string_value(e);

			if (s && hex_valid(s, 64) && hex_decode(s, id, sizeof(id)) == 0 &&
			    !idset_get(v->forgets, id, NULL))
				idset_put(v->forgets, id, i);
		}
	}
	if (i == v->cp) {
		arr = json_object_get(scope, "snapshots");
		if (!json_is_array(arr))
			v->cp_problem = "it names no snapshot list";
		json_array_foreach(arr, k, e) {
			const char *s = json_string_value(e);

			if (s == NULL || strlen(s) < 1 + SNAPSHOT_ID_HEX ||
			    !hex_valid(s + strlen(s) - SNAPSHOT_ID_HEX, SNAPSHOT_ID_HEX)) {
				v->cp_problem = "its snapshot list holds something that is not a snapshot's name";
				continue;
			}
			*ARRAY_PUSH(v->known, v->nknown, v->known_cap) = xstrdup(s);
		}
	}
	json_decref(scope);
	return 0;
}

/* mark: set bit on every record reachable from start (start included)
 * through next(i) edges. Iterative: a log can be long. */
static void
mark(struct graph *g, size_t start, uint8_t bit, const uint32_t *off, const uint32_t *adj)
{
	size_t *stack = xmalloc((g->n + 1) * sizeof(*stack)), sp = 0;

	g->st[start] |= bit;
	stack[sp++] = start;
	while (sp) {
		size_t i = stack[--sp];
		const uint32_t *e = off ? adj + off[i] : g->par[i];
		uint32_t ne = off ? off[i + 1] - off[i] : g->npar[i];

		for (uint32_t k = 0; e && k < ne; k++) {
			uint32_t j = e[k];

			if (j >= g->n || (g->st[j] & bit))
				continue;
			g->st[j] |= bit;
			stack[sp++] = j;
		}
	}
	free(stack);
}

/* mark_later: ST_LATER on what descends from the checkpoint, ST_UNSURE
 * on what descends from a damaged record or a broken link. */
static void
mark_later(struct graph *g, size_t cp)
{
	uint32_t *off = xcalloc(g->n + 2, sizeof(*off)), *fill, *adj;
	size_t edges = 0;

	for (size_t i = 0; i < g->n; i++)
		for (uint32_t k = 0; k < g->npar[i]; k++)
			if (g->par[i][k] < g->n) {
				off[g->par[i][k] + 1]++;
				edges++;
			}
	for (size_t i = 0; i < g->n; i++)
		off[i + 1] += off[i];
	adj = xmalloc((edges + 1) * sizeof(*adj));
	fill = xmalloc((g->n + 1) * sizeof(*fill));
	memcpy(fill, off, (g->n + 1) * sizeof(*fill));
	for (size_t i = 0; i < g->n; i++)
		for (uint32_t k = 0; k < g->npar[i]; k++)
			if (g->par[i][k] < g->n)
				adj[fill[g->par[i][k]]++] = (uint32_t)i;
	mark(g, cp, ST_LATER, off, adj);
	g->st[cp] &= (uint8_t)~ST_LATER;
	/* below a damaged record or a broken link, who descends from whom is
	 * not known: those are reported already, and not again as forks */
	for (size_t i = 0; i < g->n; i++)
		if ((g->st[i] & ST_BAD) && !(g->st[i] & ST_UNSURE))
			mark(g, i, ST_UNSURE, off, adj);
	for (size_t k = 0; k < g->nlinks; k++)
		if (!(g->st[g->links[k].child] & ST_UNSURE))
			mark(g, g->links[k].child, ST_UNSURE, off, adj);
	free(off);
	free(adj);
	free(fill);
}

/* known_intact: whether every record the checkpoint descends from was read
 * and has all its links: only then is a record dated before it that it
 * does not know of news. */
static int
known_intact(struct graph *g)
{
	for (size_t i = 0; i < g->n; i++)
		if ((g->st[i] & ST_KNOWN) && !(g->st[i] & ST_OK))
			return 0;
	for (size_t k = 0; k < g->nlinks; k++)
		if (g->st[g->links[k].child] & ST_KNOWN)
			return 0;
	return 1;
}

/* forks: a record neither before nor after the checkpoint is a concurrent
 * writer's only when written within the window of it; later than that it
 * is a branch that leaves the checkpoint out (the log rolled back to
 * before it and written to again), earlier than that a record the
 * checkpoint did not know of (added since, dated back). */
static void
forks(struct verify *v)
{
	struct graph *g = &v->g;
	int64_t t = g->names[v->cp].time_ns;
	int intact = known_intact(g);
	char d[512];

	for (size_t i = 0; i < g->n; i++) {
		if (i == v->cp || (g->st[i] & (ST_KNOWN | ST_LATER | ST_UNSURE)))
			continue;
		if (g->names[i].time_ns > t + WINDOW_NS) {
			describe(&g->names[i], d, sizeof(d));
			problem(g, "%s is on a branch of the log without %s: the log was rolled back to before it and written to again (or a writer's clock is more than %d minutes ahead)",
			    d, v->cp_label, AUDIT_WINDOW_SECS / 60);
		} else if (g->names[i].time_ns < t - WINDOW_NS && intact) {
			describe(&g->names[i], d, sizeof(d));
			problem(g, "%s is dated before %s but not known to it: added later with an earlier time",
			    d, v->cp_label);
		}
	}
}

struct snapcheck {
	struct verify *v;
	struct snapshot_name *list;
	size_t *which;			/* indices into list to read */
	char **err;
};

static void
snap_read_one(void *ctx, size_t k)
{
	struct snapcheck *sc = ctx;
	struct snapshot *s = NULL;
	int rc = snapshot_load(sc->v->g.r, sc->list[sc->which[k]].name, &s);

	if (rc) {
		sc->err[k] = xstrdup(err_msg(rc));
		err_clear();
	}
	snapshot_free(s);
}

/* snapshots: every one the checkpoint names is still there (and, with
 * read_snapshots, intact), or a forget record written after the checkpoint
 * names it. */
static int
snapshots(struct verify *v)
{
	struct graph *g = &v->g;
	struct snapshot_name *list = NULL;
	struct idset *present = idset_new();
	struct snapcheck sc = { v, NULL, NULL, NULL };
	size_t n = 0, nread = 0;
	int rc = snapshot_list(g->r, &list, &n);

	if (rc) {
		idset_free(present);
		return rc;
	}
	for (size_t i = 0; i < n; i++) {
		uint8_t id[32];

		hex_decode(list[i].id, id, sizeof(id));
		idset_put(present, id, i);
	}
	sc.list = list;
	sc.which = xcalloc(v->nknown + 1, sizeof(*sc.which));
	for (size_t k = 0; k < v->nknown; k++) {
		const char *base = v->known[k];
		const char *hid = base + strlen(base) - SNAPSHOT_ID_HEX;
		uint8_t id[32];
		uint64_t at;
		char when[40] = "";
		struct snapshot_name sn;

		hex_decode(hid, id, sizeof(id));
		if (idset_get(present, id, &at)) {
			if (strcmp(list[at].name + 10, base) != 0)
				problem(g, "snapshot snapshots/%s, known to %s, is now named %s",
				    base, v->cp_label, list[at].name);
			else
				sc.which[nread++] = (size_t)at;
			continue;
		}
		if (idset_get(v->forgets, id, &at) && !(g->st[at] & ST_KNOWN) &&
		    (size_t)at != v->cp) {
			v->res->forgotten++;
			continue;
		}
		/* the time is in the name: say when it was from */
		if (strlen(base) > 26 && base[26] == '-') {
			char t[27];

			memcpy(t, base, 26);
			t[26] = '\0';
			if (time_parse_compact(t, &sn.time_ns) == 0)
				time_format(sn.time_ns, 0, when);
		}
		problem(g, "snapshot %.12s%s%s (snapshots/%s), known to %s, is missing and no later forget record names it (deleted)",
		    hid, when[0] ? " of " : "", when, base, v->cp_label);
	}
	if (v->o->read_snapshots && nread) {
		sc.err = xcalloc(nread, sizeof(*sc.err));
		parallel_for(g->threads, nread, snap_read_one, &sc);
		for (size_t k = 0; k < nread; k++) {
			if (sc.err[k])
				problem(g, "%s (known to %s: altered since)", sc.err[k], v->cp_label);
			free(sc.err[k]);
		}
		free(sc.err);
	}
	free(sc.which);
	free(list);
	idset_free(present);
	return IMDR_OK;
}

int
trail_verify(struct repo *r, const struct trail_verify_opts *o,
    struct trail_verify_result *ret)
{
	struct verify v;
	struct graph *g = &v.g;
	struct audit_name cn;
	char **strays = NULL, repo8[9], when[40];
	size_t nstrays = 0;
	int rc, have_cp = 0;

	memset(&v, 0, sizeof(v));
	memset(ret, 0, sizeof(*ret));
	v.o = o;
	v.res = ret;
	v.cp = SIZE_MAX;
	g->r = r;
	g->ev = &o->ev;
	if (o->digest) {
		rc = trail_digest_parse(o->digest, repo8, &cn);
		if (rc)
			return rc;
		if (strncmp(repo8, repo_config(r)->id, 8) != 0)
			return err_set(IMDR_EINVAL, "checkpoint %s is of repository %s, not of %s (%.8s)",
			    o->digest, repo8, repo_url(r), repo_config(r)->id);
		time_format(cn.time_ns, 3, when);
		snprintf(v.cp_label, sizeof(v.cp_label), "the checkpoint of %s", when);
	}
	rc = audit_list_strays(r, &g->names, &g->n, &strays, &nstrays);
	if (rc)
		return rc;
	report_strays(g, strays, nstrays);
	graph_index(g);
	if (o->digest) {
		size_t i;

		if (find(g, cn.id, &i) && strcmp(g->names[i].name, cn.name) == 0) {
			v.cp = i;
		} else {
			char newest[40] = "none";

			if (g->n)
				time_format(g->names[g->n - 1].time_ns, 3, newest);
			problem(g, "checkpoint %s (%s) is not in the audit log: the log was rolled back to before %s%s, or the record deleted (the newest record is of %s)",
			    o->digest, cn.name, when,
			    g->n && g->names[g->n - 1].time_ns < cn.time_ns ?
			    " (an older copy of the repository?)" : "", newest);
		}
	} else {
		/* no digest: the newest checkpoint in the log is held to what it
		 * says (a rollback to before it cannot show without its digest) */
		for (size_t i = g->n; i-- > 0;) {
			if (strcmp(g->names[i].command, "checkpoint") == 0) {
				v.cp = i;
				time_format(g->names[i].time_ns, 3, when);
				snprintf(v.cp_label, sizeof(v.cp_label),
				    "the checkpoint of %s (the newest in the log)", when);
				break;
			}
		}
	}
	v.forgets = idset_new();
	g->each = verify_each;
	g->ctx = &v;
	rc = graph_read(g);
	if (rc)
		goto out;
	if (v.cp != SIZE_MAX && (g->st[v.cp] & ST_OK)) {
		have_cp = 1;
		mark(g, v.cp, ST_KNOWN, NULL, NULL);
		mark_later(g, v.cp);
	}
	report(g, have_cp);
	ret->heads = heads(g, 1);
	if (have_cp && v.cp_problem) {
		problem(g, "%s (%s) cannot be used: %s", v.cp_label, g->names[v.cp].name, v.cp_problem);
	} else if (have_cp) {
		ret->with_checkpoint = 1;
		forks(&v);
		rc = snapshots(&v);
		for (size_t i = 0; i < g->n; i++) {
			if ((g->st[i] & ST_KNOWN) && i != v.cp)
				ret->known_records++;
			if (g->st[i] & ST_LATER)
				ret->later_records++;
		}
		ret->known_snapshots = v.nknown;
	} else if (v.cp != SIZE_MAX) {
		problem(g, "%s (%s) cannot be read, so nothing can be verified against it", v.cp_label,
		    g->names[v.cp].name);
	}
out:
	ret->records = g->n;
	ret->verified = g->verified;
	ret->errors = g->errors;
	ret->warnings = g->warnings;
	for (size_t k = 0; k < v.nknown; k++)
		free(v.known[k]);
	free(v.known);
	idset_free(v.forgets);
	graph_free(g);
	return rc;
}
