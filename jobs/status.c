/* status — see status.h. */
#include "jobs/status.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "lib/buf.h"
#include "lib/err.h"
#include "lib/hex.h"
#include "lib/idset.h"
#include "lib/timefmt.h"
#include "repo/snapshot.h"

const char *
status_level_name(int level)
{
	static const char *const names[] = { "OK", "WARNING", "CRITICAL", "UNKNOWN" };

	return level >= 0 && level <= 3 ? names[level] : "UNKNOWN";
}

static void
reason(struct status_source *row, int level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
reason(struct status_source *row, int level, const char *fmt, ...)
{
	char msg[768];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (level > row->level)
		row->level = level;
	if (row->nreasons < STATUS_REASONS)
		row->reasons[row->nreasons++] = xstrdup(msg);
}

/* overdue: a cadence's run is late by more than a quarter of it plus an
 * hour (runs are hourly at best, and "when due" waits for the next). */
static int
overdue(int64_t every, int64_t last_ns, int64_t now_ns)
{
	return every > 0 && last_ns > 0 && (now_ns - last_ns) / 1000000000 > every + every / 4 + 3600;
}

void
status_judge(struct status_source *row, int64_t now_ns, int64_t rpo_override)
{
	const struct job_state *s = &row->st;
	char a[32], b[32], t[40];

	for (size_t i = 0; i < row->nreasons; i++)
		free(row->reasons[i]);
	row->nreasons = 0;
	row->level = STATUS_OK;
	row->rpo = rpo_override ? rpo_override : s->rpo;
	row->age = s->newest_ns ? (now_ns - s->newest_ns) / 1000000000 : -1;
	row->rpo_met = -1;
	row->replicas_behind = 0;
	if (!row->has_state && !row->live) {
		reason(row, STATUS_UNKNOWN, "nothing known: no state and no listing");
		return;
	}
	if (s->newest_ns == 0) {
		reason(row, STATUS_CRITICAL, "no snapshot of source %s", s->source ? s->source : "?");
	} else if (row->rpo > 0) {
		row->rpo_met = row->age <= row->rpo;
		if (!row->rpo_met) {
			duration_format(row->age, a);
			duration_format(row->rpo, b);
			reason(row, STATUS_CRITICAL, "the newest snapshot is %s old, more than the RPO of %s",
			    a, b);
		}
	}
	if (s->run_ok == 0) {
		time_format(s->run_start_ns, 0, t);
		reason(row, STATUS_WARNING, "the last run (%s) failed in step %s: %s", t,
		    s->run_step ? s->run_step : "?", s->run_error ? s->run_error : "?");
	}
	for (size_t i = 0; i < s->nreplicas; i++) {
		const struct state_replica *r = &s->replicas[i];

		if (r->ok && r->lag_snapshots == 0)
			continue;
		row->replicas_behind++;
		if (r->lag_snapshots)
			reason(row, STATUS_WARNING, "%s %s lacks %llu snapshot%s%s%s", r->role, r->url,
			    (unsigned long long)r->lag_snapshots, r->lag_snapshots == 1 ? "" : "s",
			    r->why[0] ? ": " : "", r->why);
		else
			reason(row, STATUS_WARNING, "%s %s is behind%s%s", r->role, r->url,
			    r->why[0] ? ": " : "", r->why);
	}
	if (s->check_ok == 0)
		reason(row, STATUS_CRITICAL, "the last check found %llu problem%s",
		    (unsigned long long)s->check_errors, s->check_errors == 1 ? "" : "s");
	else if (overdue(s->check_every, s->check_ns, now_ns))
		reason(row, STATUS_WARNING, "the check is overdue (last %s)",
		    (time_format(s->check_ns, 0, t), t));
	if (s->drill_ok == 0 && s->drill_mismatches)
		reason(row, STATUS_CRITICAL, "the last drill found %llu file%s damaged, missing or different",
		    (unsigned long long)s->drill_mismatches, s->drill_mismatches == 1 ? "" : "s");
	else if (s->drill_ok == 0)
		reason(row, STATUS_WARNING, "the last drill could not run: %s",
		    s->drill_error ? s->drill_error : "?");
	else if (s->drill_rto_met == 0) {
		duration_format(s->rto, b);
		reason(row, STATUS_WARNING, "the last drill estimates a full restore at %.0f s, more than "
		    "the RTO of %s", s->drill_rto_estimate, b);
	}
	if (s->drill_ok != 0 && overdue(s->drill_every, s->drill_ns, now_ns))
		reason(row, STATUS_WARNING, "the drill is overdue (last %s)",
		    (time_format(s->drill_ns, 0, t), t));
}

/* ---- collecting ---- */

static int
wanted(const char *const *list, size_t n, const char *s)
{
	if (n == 0)
		return 1;
	for (size_t i = 0; s && i < n; i++)
		if (strcmp(list[i], s) == 0)
			return 1;
	return 0;
}

/* same_repo: the URLs name one repository, written alike up to a
 * file:// prefix and trailing slashes. */
static int
same_repo(const char *a, const char *b)
{
	size_t la, lb;

	if (a == NULL || b == NULL)
		return 0;
	if (strncmp(a, "file://", 7) == 0)
		a += 7;
	if (strncmp(b, "file://", 7) == 0)
		b += 7;
	la = strlen(a);
	lb = strlen(b);
	while (la > 1 && a[la - 1] == '/')
		la--;
	while (lb > 1 && b[lb - 1] == '/')
		lb--;
	return la == lb && memcmp(a, b, la) == 0;
}

static struct status_source *
add_row(struct status_result *res, size_t *cap)
{
	struct status_source *row;

	if (res->n == *cap) {
		*cap = *cap ? *cap * 2 : 8;
		res->v = xrealloc(res->v, *cap * sizeof(*res->v));
	}
	row = &res->v[res->n++];
	memset(row, 0, sizeof(*row));
	return row;
}

/* One replica's listing, folded into the rows. */
struct seen_tag {
	char tag[17];
	int64_t newest_ns;
	uint64_t count;
	int64_t newest_on[REPO_MAX_REPLICAS];	/* per replica */
	uint64_t count_on[REPO_MAX_REPLICAS];
};

static struct seen_tag *
tag_slot(struct seen_tag **v, size_t *n, size_t *cap, const char *tag)
{
	for (size_t i = 0; i < *n; i++)
		if (strcmp((*v)[i].tag, tag) == 0)
			return &(*v)[i];
	if (*n == *cap) {
		*cap = *cap ? *cap * 2 : 8;
		*v = xrealloc(*v, *cap * sizeof(**v));
	}
	memset(&(*v)[*n], 0, sizeof(**v));
	snprintf((*v)[*n].tag, sizeof((*v)[*n].tag), "%s", tag);
	return &(*v)[(*n)++];
}

static int
live_listing(const struct status_opts *o, struct status_result *res, size_t *cap)
{
	struct repo *r = o->live;
	int nrep = repo_replica_count(r), rc = IMDR_OK;
	struct seen_tag *tags = NULL;
	size_t ntags = 0, tcap = 0;
	struct repo_io_stats io0, io1;
	int listed[REPO_MAX_REPLICAS] = { 0 };
	char why[REPO_MAX_REPLICAS][256];
	struct repo_replica info[REPO_MAX_REPLICAS];
	/* the union of every replica's names: a snapshot is counted once */
	struct idset *all = idset_new();

	memset(why, 0, sizeof(why));
	for (int i = 0; i < nrep; i++) {
		struct repo *rr = r;
		struct snapshot_name *names = NULL;
		size_t n = 0;
		int lrc;

		repo_replica_info(r, i, &info[i]);
		if (nrep > 1 && (lrc = repo_replica_open(r, i, &rr)) != IMDR_OK) {
			snprintf(why[i], sizeof(why[i]), "%s", err_msg(lrc));
			continue;
		}
		repo_io_stats(rr, &io0);
		lrc = snapshot_list(rr, &names, &n);
		repo_io_stats(rr, &io1);
		res->listings += io1.lists - io0.lists;
		res->live_reads += io1.gets - io0.gets;
		if (rr != r)
			repo_free(rr);
		if (lrc) {
			snprintf(why[i], sizeof(why[i]), "%s", err_msg(lrc));
			continue;
		}
		listed[i] = 1;
		for (size_t k = 0; k < n; k++) {
			struct seen_tag *t = tag_slot(&tags, &ntags, &tcap, names[k].tag);
			uint8_t id[32];

			t->count_on[i]++;
			if (names[k].time_ns > t->newest_on[i])
				t->newest_on[i] = names[k].time_ns;
			if (hex_decode(names[k].id, id, 32) != 0)
				continue;
			if (idset_put(all, id, 0)) {
				t->count++;
				if (names[k].time_ns > t->newest_ns)
					t->newest_ns = names[k].time_ns;
			}
		}
		free(names);
	}
	{
		int any = 0;

		for (int i = 0; i < nrep; i++)
			any |= listed[i];
		if (!any)
			rc = err_set(IMDR_ENET, "%s: no replica could be listed: %s", repo_url(r), why[0]);
	}
	for (size_t k = 0; rc == IMDR_OK && k < ntags; k++) {
		struct seen_tag *t = &tags[k];
		struct status_source *row = NULL;

		for (size_t i = 0; i < res->n; i++) {
			char mine[SNAPSHOT_TAG_HEX + 1];

			if (res->v[i].st.source == NULL)
				continue;
			snapshot_source_tag(r, res->v[i].st.source, mine);
			if (strcmp(mine, t->tag) == 0) {
				row = &res->v[i];
				break;
			}
		}
		if (row == NULL) {
			if (o->njobs)
				continue;	/* only the jobs asked for */
			row = add_row(res, cap);
			state_init(&row->st, "");
			row->st.repository = xstrdup(repo_url(r));
			row->st.source = t->tag[0] ? xasprintf("tag:%s", t->tag) : xstrdup("(no source tag)");
		}
		row->live = 1;
		snprintf(row->tag, sizeof(row->tag), "%s", t->tag);
		row->snapshots = t->count;
		row->st.newest_ns = t->newest_ns;	/* the listing is the truth */
		if (nrep > 1) {
			/* each replica as the listing shows it */
			row->st.nreplicas = 0;
			for (int i = 0; i < nrep && i < STATE_MAX_REPLICAS; i++) {
				struct state_replica *sr = &row->st.replicas[row->st.nreplicas++];

				memset(sr, 0, sizeof(*sr));
				snprintf(sr->url, sizeof(sr->url), "%.511s", info[i].url);
				snprintf(sr->role, sizeof(sr->role), "replica");
				sr->ok = listed[i] && t->count_on[i] == t->count;
				sr->newest_ns = t->newest_on[i];
				sr->lag_snapshots = t->count - (listed[i] ? t->count_on[i] : 0);
				if (!listed[i])
					snprintf(sr->why, sizeof(sr->why), "cannot be listed: %s", why[i]);
			}
		}
	}
	/* sources a job names that the listing lacks: none left */
	for (size_t i = 0; rc == IMDR_OK && i < res->n; i++)
		if (!res->v[i].live && res->v[i].has_state) {
			res->v[i].live = 1;
			res->v[i].st.newest_ns = 0;
			res->v[i].snapshots = 0;
		}
	idset_free(all);
	free(tags);
	return rc;
}

int
status_collect(const struct status_opts *o, struct status_result *ret)
{
	const char *root = state_root(o->state_root);
	char **jobs = NULL;
	size_t njobs = 0, cap = 0;
	int64_t t0 = time_mono_ns();
	int rc;

	memset(ret, 0, sizeof(*ret));
	ret->now_ns = o->now_ns ? o->now_ns : time_now_ns();
	rc = state_list_jobs(root, &jobs, &njobs);
	if (rc)
		return rc;
	for (size_t i = 0; i < njobs; i++) {
		char *dir = xasprintf("%s/%s", root, jobs[i]);
		struct job_state st;
		struct status_source *row;
		int src;

		if (!wanted(o->jobs, o->njobs, jobs[i])) {
			free(dir);
			continue;
		}
		src = state_load(dir, &st);
		free(dir);
		if (src == IMDR_OK && ((o->repository && !same_repo(o->repository, st.repository)) ||
		    !wanted(o->sources, o->nsources, st.source))) {
			state_free(&st);
			continue;
		}
		row = add_row(ret, &cap);
		if (src) {
			state_init(&row->st, jobs[i]);
			row->level = STATUS_UNKNOWN;
			row->reasons[row->nreasons++] = xstrdup(err_msg(src));
			continue;
		}
		row->st = st;
		row->has_state = 1;
	}
	for (size_t i = 0; i < njobs; i++)
		free(jobs[i]);
	free(jobs);
	/* sources asked for by name that no job state names (live) */
	for (size_t k = 0; o->live && k < o->nsources; k++) {
		size_t i;

		for (i = 0; i < ret->n; i++)
			if (ret->v[i].st.source && strcmp(ret->v[i].st.source, o->sources[k]) == 0)
				break;
		if (i == ret->n) {
			struct status_source *row = add_row(ret, &cap);

			state_init(&row->st, "");
			row->st.source = xstrdup(o->sources[k]);
			row->st.repository = xstrdup(repo_url(o->live));
			row->has_state = 0;
			row->live = 1;
		}
	}
	if (o->live) {
		rc = live_listing(o, ret, &cap);
		if (rc)
			return rc;
		/* a listing names only sources asked for */
		if (o->nsources) {
			size_t w = 0;

			for (size_t i = 0; i < ret->n; i++) {
				if (wanted(o->sources, o->nsources, ret->v[i].st.source)) {
					ret->v[w++] = ret->v[i];
				} else {
					state_free(&ret->v[i].st);
					for (size_t k = 0; k < ret->v[i].nreasons; k++)
						free(ret->v[i].reasons[k]);
				}
			}
			ret->n = w;
		}
	}
	for (size_t i = 0; i < ret->n; i++) {
		struct status_source *row = &ret->v[i];

		if (row->has_state || row->live)
			status_judge(row, ret->now_ns, o->rpo);
		if (row->level > ret->level)
			ret->level = row->level;
	}
	if (ret->n == 0)
		ret->level = STATUS_UNKNOWN;
	ret->seconds = (double)(time_mono_ns() - t0) / 1e9;
	return IMDR_OK;
}

void
status_result_free(struct status_result *ret)
{
	for (size_t i = 0; i < ret->n; i++) {
		state_free(&ret->v[i].st);
		for (size_t k = 0; k < ret->v[i].nreasons; k++)
			free(ret->v[i].reasons[k]);
	}
	free(ret->v);
	memset(ret, 0, sizeof(*ret));
}

/* ---- Prometheus ---- */

static void
label_value(FILE *f, const char *s)
{
	for (; s && *s; s++) {
		if (*s == '\\')
			fputs("\\\\", f);
		else if (*s == '"')
			fputs("\\\"", f);
		else if (*s == '\n')
			fputs("\\n", f);
		else
			fputc(*s, f);
	}
}

static void
labels(FILE *f, const struct status_source *row, const char *replica)
{
	fputs("{job=\"", f);
	label_value(f, row->st.job);
	fputs("\",source=\"", f);
	label_value(f, row->st.source ? row->st.source : "");
	fputs("\",repository=\"", f);
	label_value(f, row->st.repository ? row->st.repository : "");
	if (replica) {
		fputs("\",replica=\"", f);
		label_value(f, replica);
	}
	fputs("\"}", f);
}

enum mkind { M_ROW, M_REPLICA };

struct metric {
	const char *name, *help;
	enum mkind kind;
	/* the value, or 0 when there is none to give */
	int (*get)(const struct status_source *row, const struct state_replica *r, double *v);
};

#define NS(x) ((double)(x) / 1e9)
static int g_status(const struct status_source *w, const struct state_replica *r, double *v)
{ (void)r; *v = w->level; return 1; }
static int g_last_run(const struct status_source *w, const struct state_replica *r, double *v)
{ (void)r; *v = NS(w->st.run_start_ns); return w->st.run_start_ns != 0; }
static int g_last_run_ok(const struct status_source *w, const struct state_replica *r, double *v)
{ (void)r; *v = w->st.run_ok; return w->st.run_ok >= 0; }
static int g_last_success(const struct status_source *w, const struct state_replica *r, double *v)
{ (void)r; *v = NS(w->st.last_success_ns); return w->st.last_success_ns != 0; }
static int g_newest(const struct status_source *w, const struct state_replica *r, double *v)
{ (void)r; *v = NS(w->st.newest_ns); return w->st.newest_ns != 0; }
static int g_age(const struct status_source *w, const struct state_replica *r, double *v)
{ (void)r; *v = (double)w->age; return w->age >= 0; }
static int g_rpo(const struct status_source *w, const struct state_replica *r, double *v)
{ (void)r; *v = (double)w->rpo; return w->rpo > 0; }
static int g_rpo_met(const struct status_source *w, const struct state_replica *r, double *v)
{ (void)r; *v = w->rpo_met; return w->rpo > 0 && w->rpo_met >= 0; }
static int g_snapshots(const struct status_source *w, const struct state_replica *r, double *v)
{ (void)r; *v = (double)w->snapshots; return w->live; }
static int g_duration(const struct status_source *w, const struct state_replica *r, double *v)
{ (void)r; *v = w->st.backup_seconds; return w->st.backup_ns != 0; }
static int g_added(const struct status_source *w, const struct state_replica *r, double *v)
{ (void)r; *v = (double)w->st.backup_added_bytes; return w->st.backup_ns != 0; }
static int g_files(const struct status_source *w, const struct state_replica *r, double *v)
{ (void)r; *v = (double)w->st.backup_files; return w->st.backup_ns != 0; }
static int g_bytes(const struct status_source *w, const struct state_replica *r, double *v)
{ (void)r; *v = (double)w->st.backup_bytes; return w->st.backup_ns != 0; }
static int g_full(const struct status_source *w, const struct state_replica *r, double *v)
{ (void)r; *v = NS(w->st.last_full_ns); return w->st.last_full_ns != 0; }
static int g_check(const struct status_source *w, const struct state_replica *r, double *v)
{ (void)r; *v = NS(w->st.check_ns); return w->st.check_ns != 0; }
static int g_check_ok(const struct status_source *w, const struct state_replica *r, double *v)
{ (void)r; *v = w->st.check_ok; return w->st.check_ok >= 0; }
static int g_check_errors(const struct status_source *w, const struct state_replica *r, double *v)
{ (void)r; *v = (double)w->st.check_errors; return w->st.check_ok >= 0; }
static int g_drill(const struct status_source *w, const struct state_replica *r, double *v)
{ (void)r; *v = NS(w->st.drill_ns); return w->st.drill_ns != 0; }
static int g_drill_ok(const struct status_source *w, const struct state_replica *r, double *v)
{ (void)r; *v = w->st.drill_ok; return w->st.drill_ok >= 0; }
static int g_drill_rto(const struct status_source *w, const struct state_replica *r, double *v)
{ (void)r; *v = w->st.drill_rto_estimate; return w->st.drill_ok >= 0 && w->st.drill_rto_estimate > 0; }
static int g_drill_rto_met(const struct status_source *w, const struct state_replica *r, double *v)
{ (void)r; *v = w->st.drill_rto_met; return w->st.drill_rto_met >= 0; }
static int g_rto(const struct status_source *w, const struct state_replica *r, double *v)
{ (void)r; *v = (double)w->st.rto; return w->st.rto > 0; }
static int g_rep_up(const struct status_source *w, const struct state_replica *r, double *v)
{ (void)w; *v = r->ok && r->lag_snapshots == 0; return 1; }
static int g_rep_success(const struct status_source *w, const struct state_replica *r, double *v)
{ (void)w; *v = NS(r->last_success_ns); return r->last_success_ns != 0; }
static int g_rep_newest(const struct status_source *w, const struct state_replica *r, double *v)
{ (void)w; *v = NS(r->newest_ns); return r->newest_ns != 0; }
static int g_rep_lag(const struct status_source *w, const struct state_replica *r, double *v)
{ (void)w; *v = (double)r->lag_snapshots; return 1; }
static int g_rep_lag_bytes(const struct status_source *w, const struct state_replica *r, double *v)
{ (void)w; *v = (double)r->lag_bytes; return 1; }
#undef NS

static const struct metric metrics[] = {
	{ "imdr_status", "Nagios-style level of the source: 0 OK, 1 warning, 2 critical, 3 unknown.", M_ROW, g_status },
	{ "imdr_last_run_timestamp_seconds", "When the job's last run started.", M_ROW, g_last_run },
	{ "imdr_last_run_success", "Whether the job's last run succeeded (1) or failed (0).", M_ROW, g_last_run_ok },
	{ "imdr_last_success_timestamp_seconds", "When the job's last successful run ended.", M_ROW, g_last_success },
	{ "imdr_newest_snapshot_timestamp_seconds", "Time of the newest snapshot of the source.", M_ROW, g_newest },
	{ "imdr_newest_snapshot_age_seconds", "Age of the newest snapshot when this was written (compare imdr_metrics_timestamp_seconds).", M_ROW, g_age },
	{ "imdr_rpo_seconds", "The recovery point objective of the source.", M_ROW, g_rpo },
	{ "imdr_rpo_met", "Whether the newest snapshot is within the RPO (1) or not (0).", M_ROW, g_rpo_met },
	{ "imdr_snapshots", "Snapshots of the source in the repository (live listing only).", M_ROW, g_snapshots },
	{ "imdr_backup_duration_seconds", "Duration of the last backup.", M_ROW, g_duration },
	{ "imdr_backup_added_bytes", "Bytes the last backup added to the repository (after deduplication and compression).", M_ROW, g_added },
	{ "imdr_backup_files", "Files in the last backup's snapshot.", M_ROW, g_files },
	{ "imdr_backup_bytes", "Bytes of the files in the last backup's snapshot.", M_ROW, g_bytes },
	{ "imdr_last_full_timestamp_seconds", "When the last backup that read every file ran.", M_ROW, g_full },
	{ "imdr_last_check_timestamp_seconds", "When the last check ran.", M_ROW, g_check },
	{ "imdr_last_check_success", "Whether the last check found no problem (1) or some (0).", M_ROW, g_check_ok },
	{ "imdr_last_check_errors", "Problems the last check found.", M_ROW, g_check_errors },
	{ "imdr_last_drill_timestamp_seconds", "When the last restore drill ran.", M_ROW, g_drill },
	{ "imdr_last_drill_success", "Whether the last drill verified every file (1) or not (0).", M_ROW, g_drill_ok },
	{ "imdr_drill_rto_seconds", "The last drill's estimate of a full restore, in seconds.", M_ROW, g_drill_rto },
	{ "imdr_drill_rto_met", "Whether the last drill's estimate is within the RTO (1) or not (0).", M_ROW, g_drill_rto_met },
	{ "imdr_rto_seconds", "The recovery time objective of the source.", M_ROW, g_rto },
	{ "imdr_replica_up_to_date", "Whether the replica or copy holds every snapshot of the source (1) or not (0).", M_REPLICA, g_rep_up },
	{ "imdr_replica_last_success_timestamp_seconds", "When a run last brought the replica or copy up to date.", M_REPLICA, g_rep_success },
	{ "imdr_replica_newest_snapshot_timestamp_seconds", "Time of the newest snapshot of the source the replica or copy holds.", M_REPLICA, g_rep_newest },
	{ "imdr_replica_lag_snapshots", "Snapshots of the source the replica or copy lacks.", M_REPLICA, g_rep_lag },
	{ "imdr_replica_lag_bytes", "Bytes the replica or copy lacks, as the last copy counted them.", M_REPLICA, g_rep_lag_bytes },
};
#define NMETRICS (sizeof(metrics) / sizeof(metrics[0]))

void
status_prometheus(const struct status_result *res, FILE *f)
{
	for (size_t m = 0; m < NMETRICS; m++) {
		const struct metric *me = &metrics[m];
		int head = 0;
		double v;

		for (size_t i = 0; i < res->n; i++) {
			const struct status_source *row = &res->v[i];
			size_t nr = me->kind == M_REPLICA ? row->st.nreplicas : 1;

			for (size_t k = 0; k < nr; k++) {
				const struct state_replica *rep = me->kind == M_REPLICA ? &row->st.replicas[k] : NULL;

				if (!me->get(row, rep, &v))
					continue;
				if (!head) {
					fprintf(f, "# HELP %s %s\n# TYPE %s gauge\n", me->name, me->help, me->name);
					head = 1;
				}
				fputs(me->name, f);
				labels(f, row, rep ? rep->url : NULL);
				fprintf(f, " %.17g\n", v);
			}
		}
	}
	fprintf(f, "# HELP imdr_metrics_timestamp_seconds When these metrics were written.\n"
	    "# TYPE imdr_metrics_timestamp_seconds gauge\nimdr_metrics_timestamp_seconds %.3f\n",
	    (double)res->now_ns / 1e9);
}

/* ---- JSON ---- */

static json_t *
jtime(int64_t ns)
{
	char t[40];

	if (ns == 0)
		return json_null();
	time_format(ns, 0, t);
	return json_string(t);
}

json_t *
status_json(const struct status_result *res)
{
	json_t *o = json_object(), *rows = json_array();

	json_object_set_new(o, "level", json_integer(res->level));
	json_object_set_new(o, "status", json_string(status_level_name(res->level)));
	json_object_set_new(o, "time", jtime(res->now_ns));
	for (size_t i = 0; i < res->n; i++) {
		const struct status_source *row = &res->v[i];
		const struct job_state *s = &row->st;
		json_t *r = json_object(), *reasons = json_array(), *reps = json_array();

		json_object_set_new(r, "job", json_string(s->job));
		json_object_set_new(r, "source", s->source ? json_string(s->source) : json_null());
		json_object_set_new(r, "repository", s->repository ? json_string(s->repository) : json_null());
		json_object_set_new(r, "level", json_integer(row->level));
		json_object_set_new(r, "status", json_string(status_level_name(row->level)));
		json_object_set_new(r, "newest_snapshot_time", jtime(s->newest_ns));
		json_object_set_new(r, "newest_snapshot_age_seconds",
		    row->age >= 0 ? json_integer(row->age) : json_null());
		json_object_set_new(r, "rpo_seconds", json_integer(row->rpo));
		json_object_set_new(r, "rpo_met", row->rpo_met < 0 ? json_null() : json_integer(row->rpo_met));
		if (row->live) {
			json_object_set_new(r, "snapshots", json_integer((json_int_t)row->snapshots));
			json_object_set_new(r, "source_tag", json_string(row->tag));
		}
		json_object_set_new(r, "last_run_time", jtime(s->run_start_ns));
		json_object_set_new(r, "last_run_ok", s->run_ok < 0 ? json_null() : json_integer(s->run_ok));
		if (s->run_ok == 0) {
			json_object_set_new(r, "last_run_step", json_string(s->run_step ? s->run_step : ""));
			json_object_set_new(r, "last_run_error", json_string(s->run_error ? s->run_error : ""));
		}
		json_object_set_new(r, "last_success_time", jtime(s->last_success_ns));
		json_object_set_new(r, "last_snapshot", s->snapshot[0] ? json_string(s->snapshot) : json_null());
		json_object_set_new(r, "backup_duration_seconds", json_real(s->backup_seconds));
		json_object_set_new(r, "backup_added_bytes", json_integer((json_int_t)s->backup_added_bytes));
		json_object_set_new(r, "backup_files", json_integer((json_int_t)s->backup_files));
		json_object_set_new(r, "backup_bytes", json_integer((json_int_t)s->backup_bytes));
		json_object_set_new(r, "last_check_time", jtime(s->check_ns));
		json_object_set_new(r, "last_check_ok", s->check_ok < 0 ? json_null() : json_integer(s->check_ok));
		json_object_set_new(r, "last_drill_time", jtime(s->drill_ns));
		json_object_set_new(r, "last_drill_ok", s->drill_ok < 0 ? json_null() : json_integer(s->drill_ok));
		json_object_set_new(r, "drill_rto_seconds", s->drill_ok < 0 ? json_null() :
		    json_real(s->drill_rto_estimate));
		json_object_set_new(r, "rto_seconds", json_integer(s->rto));
		json_object_set_new(r, "drill_rto_met", s->drill_rto_met < 0 ? json_null() :
		    json_integer(s->drill_rto_met));
		json_object_set_new(r, "replicas_behind", json_integer(row->replicas_behind));
		for (size_t k = 0; k < s->nreplicas; k++) {
			const struct state_replica *sr = &s->replicas[k];

			json_array_append_new(reps, json_pack("{s:s,s:s,s:b,s:o,s:o,s:I,s:I,s:s}",
			    "url", sr->url, "role", sr->role, "up_to_date", sr->ok && sr->lag_snapshots == 0,
			    "newest_snapshot_time", jtime(sr->newest_ns),
			    "last_success_time", jtime(sr->last_success_ns),
			    "lag_snapshots", (json_int_t)sr->lag_snapshots,
			    "lag_bytes", (json_int_t)sr->lag_bytes, "why", sr->why));
		}
		json_object_set_new(r, "replicas", reps);
		for (size_t k = 0; k < row->nreasons; k++)
			json_array_append_new(reasons, json_string(row->reasons[k]));
		json_object_set_new(r, "reasons", reasons);
		json_array_append_new(rows, r);
	}
	json_object_set_new(o, "sources", rows);
	return o;
}

json_t *
status_zabbix_discovery(const struct status_result *res)
{
	json_t *data = json_array();

	for (size_t i = 0; i < res->n; i++) {
		const struct job_state *s = &res->v[i].st;

		json_array_append_new(data, json_pack("{s:s,s:s,s:s}", "{#JOB}", s->job,
		    "{#SOURCE}", s->source ? s->source : "", "{#REPOSITORY}",
		    s->repository ? s->repository : ""));
	}
	return json_pack("{s:o}", "data", data);
}
