/* run — see run.h. */
#include "jobs/run.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "engine/check.h"
#include "engine/copy.h"
#include "engine/forget.h"
#include "engine/prune.h"
#include "jobs/status.h"
#include "lib/buf.h"
#include "lib/err.h"
#include "lib/fsutil.h"
#include "lib/log.h"
#include "lib/timefmt.h"

#define HOOK_TAIL 600		/* bytes of a failing hook's stderr kept */

struct run {
	const struct job *j;
	const struct job_run_opts *o;
	struct job_run_result *ret;
	struct job_state st;
	json_t *line;		/* the run log's line */
	int rc;			/* the first failure */
	int64_t now_ns;
};

static void
step(struct run *rn, const char *name, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
step(struct run *rn, const char *name, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	if (rn->o->step == NULL)
		return;
	msg[0] = '\0';
	if (fmt) {
		va_start(ap, fmt);
		vsnprintf(msg, sizeof(msg), fmt, ap);
		va_end(ap);
	}
	rn->o->step(rn->o->ev.ctx, name, fmt ? msg : NULL);
}

/* failed: the first failure is the run's; later ones are told as errors. */
static void
failed(struct run *rn, const char *name, int rc, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void
failed(struct run *rn, const char *name, int rc, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (rn->rc == IMDR_OK) {
		rn->rc = rc ? rc : IMDR_EIO;
		snprintf(rn->ret->step, sizeof(rn->ret->step), "%s", name);
		snprintf(rn->ret->error, sizeof(rn->ret->error), "%s", msg);
	}
	ev_error(&rn->o->ev, name, msg);
}

static int
due(int64_t every, int64_t last_ns, int64_t now_ns)
{
	return every > 0 && (last_ns == 0 || now_ns - last_ns >= every * 1000000000LL -
	    60 * 1000000000LL);	/* a minute early is on time: timers drift */
}

/* ---- hooks ---- */

extern char **environ;

/* hook_env: our environment with the job's variables set, made before
 * fork (the child of a threaded process may only exec). Caller frees
 * the array and the strings from index *ret_own on. */
static char **
hook_env(const struct job *j, const char *step_name, const char *error, size_t *ret_own)
{
	const char *names[] = { "IMDR_JOB", "IMDR_JOB_FILE", "IMDR_REPOSITORY",
	    "IMDR_SOURCE_PATH", "IMDR_STATE_DIR", "IMDR_ERROR", "IMDR_STEP" };
	const char *values[] = { j->name, j->file, j->repository, j->source_path, j->state_dir,
	    error, step_name };
	size_t n = 0, k = 0;
	char **env;

	while (environ && environ[n])
		n++;
	env = xcalloc(n + 8, sizeof(*env));
	for (size_t i = 0; i < n; i++) {
		size_t m;

		for (m = 0; m < 7; m++) {
			size_t l = strlen(names[m]);

			if (strncmp(environ[i], names[m], l) == 0 && environ[i][l] == '=')
				break;
		}
		if (m == 7)
			env[k++] = environ[i];
	}
	*ret_own = k;
	for (size_t m = 0; m < 7; m++)
		if (values[m] && (m < 5 || error))
			env[k++] = xasprintf("%s=%s", names[m], values[m]);
	env[k] = NULL;
	return env;
}

/* run_hook: cmd under /bin/sh in its own process group; IMDR_OK, or an
 * error whose message says how it ended and the last of its stderr. */
static int
run_hook(struct run *rn, const char *what, const char *cmd, const char *error_for_env,
    const char *failed_step)
{
	const struct job *j = rn->j;
	int pfd[2], status = 0, killed = 0, timed_out = 0;
	char tail[HOOK_TAIL + 1];
	size_t tlen = 0;
	int64_t deadline = j->hook_timeout ? time_mono_ns() + j->hook_timeout * 1000000000LL : 0;
	int64_t kill_at = 0;
	char *const argv[] = { "sh", "-c", (char *)cmd, NULL };
	size_t own;
	char **env;
	pid_t pid;

	if (pipe2(pfd, O_CLOEXEC) < 0)
		return err_set(IMDR_EIO, "%s: pipe: %s", what, strerror(errno));
	env = hook_env(j, failed_step, error_for_env, &own);
	fflush(stdout);
	fflush(stderr);
	pid = fork();
	if (pid < 0) {
		close(pfd[0]);
		close(pfd[1]);
		for (size_t i = own; env[i]; i++)
			free(env[i]);
		free(env);
		return err_set(IMDR_EIO, "%s: fork: %s", what, strerror(errno));
	}
	if (pid == 0) {
		int devnull = open("/dev/null", O_RDONLY);
		sigset_t none;

		setpgid(0, 0);
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		signal(SIGINT, SIG_DFL);
		signal(SIGTERM, SIG_DFL);
		signal(SIGHUP, SIG_DFL);
		signal(SIGPIPE, SIG_DFL);
		if (devnull >= 0)
			dup2(devnull, 0);
		dup2(pfd[1], 2);
		execve("/bin/sh", argv, env);
		_exit(127);
	}
	for (size_t i = own; env[i]; i++)
		free(env[i]);
	free(env);
	setpgid(pid, pid);
	close(pfd[1]);
	for (;;) {
		struct pollfd p = { pfd[0], POLLIN, 0 };
		int n = poll(&p, 1, 200);

		if (n > 0) {
			char b[4096];
			ssize_t k = read(pfd[0], b, sizeof(b));

			if (k <= 0)
				break;
			if (write_full(2, b, (size_t)k) < 0)
				errno = 0;	/* our stderr is gone: keep the tail */
			if ((size_t)k >= HOOK_TAIL) {
				memcpy(tail, b + k - HOOK_TAIL, HOOK_TAIL);
				tlen = HOOK_TAIL;
			} else {
				if (tlen + (size_t)k > HOOK_TAIL) {
					size_t drop = tlen + (size_t)k - HOOK_TAIL;

					memmove(tail, tail + drop, tlen - drop);
					tlen -= drop;
				}
				memcpy(tail + tlen, b, (size_t)k);
				tlen += (size_t)k;
			}
		}
		if (!killed && ((deadline && time_mono_ns() > deadline) || ev_cancelled(&rn->o->ev))) {
			timed_out = !ev_cancelled(&rn->o->ev);
			kill(-pid, SIGTERM);
			killed = 1;
			kill_at = time_mono_ns() + 5000000000LL;
		}
		if (killed && time_mono_ns() > kill_at) {
			kill(-pid, SIGKILL);
			kill_at = INT64_MAX;
		}
	}
	close(pfd[0]);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	tail[tlen] = '\0';
	while (tlen > 0 && (tail[tlen - 1] == '\n' || tail[tlen - 1] == '\r'))
		tail[--tlen] = '\0';
	{
		/* the last line only, for a one-line error */
		char *last = strrchr(tail, '\n');
		const char *t = last ? last + 1 : tail;
		char how[128];

		if (timed_out) {
			char d[32];

			duration_format(j->hook_timeout, d);
			snprintf(how, sizeof(how), "was stopped after hook-timeout %s", d);
		} else if (killed) {
			snprintf(how, sizeof(how), "was stopped: the run was interrupted");
		} else if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
			return IMDR_OK;
		} else if (WIFEXITED(status)) {
			snprintf(how, sizeof(how), "exited with status %d", WEXITSTATUS(status));
		} else {
			snprintf(how, sizeof(how), "was killed by signal %d", WTERMSIG(status));
		}
		return err_set(killed && !timed_out ? IMDR_EINTR : IMDR_ESOURCE, "%s `%s` %s%s%s", what,
		    cmd, how, *t ? ": " : "", t);
	}
}

/* ---- steps ---- */

static int
do_backup(struct run *rn, struct repo *r)
{
	const struct job *j = rn->j;
	struct backup_opts bo;
	struct backup_result *br = &rn->ret->backup;
	int full = rn->o->force_full || due(j->full_every, rn->st.last_full_ns, rn->now_ns);
	int rc;

	memset(&bo, 0, sizeof(bo));
	bo.source = j->source_path;
	bo.source_name = j->source_name;
	if (j->format)
		bo.ingest.format = ingest_format_find(j->format);
	bo.ingest.attachments_dir = j->attachments;
	bo.tags = j->tags;
	bo.ntags = j->ntags;
	bo.no_cache = full;
	bo.ev = rn->o->ev;
	step(rn, "backup", full ? "reading every file (a full backup is due)" : NULL);
	rc = backup_run(r, &bo, br);
	if (rc) {
		failed(rn, "backup", rc, "%s", err_msg(rc));
		json_object_set_new(rn->line, "backup", json_pack("{s:s}", "error", err_msg(rc)));
		return rc;
	}
	rn->ret->backed_up = 1;
	rn->ret->full = full;
	/* a replica left behind is for the copy step to mend; a record not
	 * written stays something to put right (exit status 3) */
	if (br->audit_rc != IMDR_OK && br->audit_rc != IMDR_EUNSUP)
		rn->ret->exit_hint = 3;
	rn->st.backup_ns = br->time_ns;
	snprintf(rn->st.snapshot, sizeof(rn->st.snapshot), "%s", br->id);
	rn->st.backup_seconds = (double)br->duration_ms / 1000.0;
	rn->st.backup_files = br->files;
	rn->st.backup_bytes = br->bytes;
	rn->st.backup_added_bytes = br->added_bytes;
	rn->st.backup_full = full;
	if (full)
		rn->st.last_full_ns = br->time_ns;
	if (br->time_ns > rn->st.newest_ns)
		rn->st.newest_ns = br->time_ns;
	free(rn->st.source);
	rn->st.source = xstrdup(br->source);
	json_object_set_new(rn->line, "backup", json_pack("{s:s,s:s,s:s,s:I,s:I,s:I,s:I,s:I,s:f,s:b}",
	    "snapshot", br->id, "source", br->source, "format", br->format,
	    "files", (json_int_t)br->files, "bytes", (json_int_t)br->bytes,
	    "added_bytes", (json_int_t)br->added_bytes,
	    "files_unchanged", (json_int_t)br->files_unchanged,
	    "files_read", (json_int_t)br->files_read,
	    "seconds", (double)br->duration_ms / 1000.0, "full", full));
	step(rn, "backup", "snapshot %.8s: %llu files, %llu bytes, %llu bytes added, %.2f s", br->id,
	    (unsigned long long)br->files, (unsigned long long)br->bytes,
	    (unsigned long long)br->added_bytes, (double)br->duration_ms / 1000.0);
	return IMDR_OK;
}

static int
do_retention(struct run *rn, struct repo *r)
{
	const struct job *j = rn->j;
	struct forget_opts fo;
	struct forget_result fr;
	struct prune_opts po;
	struct prune_result pr;
	char *policy;
	int rc;

	memset(&fo, 0, sizeof(fo));
	for (int i = 0; i < JOB_NKEEP && i < FORGET_NCOUNT; i++)
		fo.policy.keep[i] = j->keep[i];
	if (j->keep_within && (rc = forget_parse_duration(j->keep_within, &fo.policy.within)) != IMDR_OK) {
		failed(rn, "retention", rc, "keep-within = %s: %s", j->keep_within, err_msg(rc));
		return rc;
	}
	fo.policy.tz = j->retention_tz;
	fo.source = rn->st.source;
	fo.group_by = FORGET_GROUP_SOURCE | FORGET_GROUP_HOST;
	fo.ev = rn->o->ev;
	fo.ev.total = NULL;
	fo.ev.advance = NULL;
	policy = forget_policy_text(&fo.policy);
	step(rn, "retention", "forget: %s", policy);
	free(policy);
	rc = forget_run(r, &fo, &fr);
	rn->ret->retention = 1;
	if (rc == IMDR_OK) {
		rn->st.forget_ns = time_now_ns();
		rn->st.forget_removed = fr.removed;
		step(rn, "retention", "forget: %zu removed, %zu kept (%zu by a hold)", fr.removed, fr.kept, fr.held);
	}
	json_object_set_new(rn->line, "forget", rc ? json_pack("{s:s}", "error", err_msg(rc)) :
	    json_pack("{s:I,s:I,s:I}", "removed", (json_int_t)fr.removed, "kept", (json_int_t)fr.kept,
	    "held", (json_int_t)fr.held));
	forget_result_free(&fr);
	if (rc) {
		failed(rn, "retention", rc, "forget: %s", err_msg(rc));
		return rc;
	}
	memset(&po, 0, sizeof(po));
	po.max_unused = j->max_unused >= 0 ? j->max_unused / 100.0 : 0.05;
	po.grace_ns = (int64_t)PRUNE_GRACE_DEFAULT_SECS * 1000000000;
	po.ev = fo.ev;
	step(rn, "retention", "prune");
	rc = prune_run(r, &po, &pr);
	if (rc == IMDR_OK) {
		rn->st.prune_ns = time_now_ns();
		rn->st.prune_freed_bytes = pr.bytes_deleted;
		step(rn, "retention", "prune: %llu packs deleted (%llu bytes), %llu planned, %llu waiting",
		    (unsigned long long)pr.packs_deleted, (unsigned long long)pr.bytes_deleted,
		    (unsigned long long)pr.packs_planned, (unsigned long long)pr.packs_waiting);
	}
	json_object_set_new(rn->line, "prune", rc ? json_pack("{s:s}", "error", err_msg(rc)) :
	    json_pack("{s:I,s:I,s:I,s:I}", "packs_deleted", (json_int_t)pr.packs_deleted,
	    "bytes_deleted", (json_int_t)pr.bytes_deleted, "packs_planned", (json_int_t)pr.packs_planned,
	    "packs_waiting", (json_int_t)pr.packs_waiting));
	if (rc)
		failed(rn, "retention", rc, "prune: %s", err_msg(rc));
	return rc;
}

/* replica_slot: the state's entry for url (made when new). */
static struct state_replica *
replica_slot(struct job_state *st, const char *url, const char *role)
{
	for (size_t i = 0; i < st->nreplicas; i++)
		if (strcmp(st->replicas[i].url, url) == 0)
			return &st->replicas[i];
	if (st->nreplicas == STATE_MAX_REPLICAS)
		return NULL;
	memset(&st->replicas[st->nreplicas], 0, sizeof(st->replicas[0]));
	snprintf(st->replicas[st->nreplicas].url, sizeof(st->replicas[0].url), "%s", url);
	snprintf(st->replicas[st->nreplicas].role, sizeof(st->replicas[0].role), "%s", role);
	return &st->replicas[st->nreplicas++];
}

static void
copy_into(struct run *rn, struct repo *src, struct repo *dst, struct state_replica *sr,
    json_t *out)
{
	struct copy_opts co;
	struct copy_result cr;
	int rc;

	memset(&co, 0, sizeof(co));
	co.ev = rn->o->ev;
	co.ev.total = NULL;
	co.ev.advance = NULL;
	rc = copy_run(src, dst, &co, &cr);
	if (rc == IMDR_OK && (cr.failed || cr.held_back || cr.replicas_left_out))
		rc = err_set(IMDR_EIO, "%llu object%s not copied, %llu snapshot%s held back, %d "
		    "replica%s unreachable", (unsigned long long)cr.failed, cr.failed == 1 ? "" : "s",
		    (unsigned long long)cr.held_back, cr.held_back == 1 ? "" : "s",
		    cr.replicas_left_out, cr.replicas_left_out == 1 ? "" : "s");
	if (rc) {
		if (sr) {
			sr->ok = 0;
			snprintf(sr->why, sizeof(sr->why), "%s", err_msg(rc));
			sr->lag_bytes = cr.to_copy_bytes > cr.copied_bytes ? cr.to_copy_bytes - cr.copied_bytes : 0;
		}
		failed(rn, "copy", rc, "copy to %s: %s", repo_url(dst), err_msg(rc));
		json_array_append_new(out, json_pack("{s:s,s:s}", "to", repo_url(dst), "error",
		    err_msg(rc)));
		return;
	}
	rn->ret->copied++;
	if (sr) {
		sr->ok = 1;
		sr->why[0] = '\0';
		sr->lag_snapshots = 0;
		sr->lag_bytes = 0;
		sr->newest_ns = rn->st.newest_ns;
		sr->last_success_ns = time_now_ns();
	}
	json_array_append_new(out, json_pack("{s:s,s:I,s:I,s:I,s:f}", "to", repo_url(dst),
	    "copied", (json_int_t)cr.copied, "copied_bytes", (json_int_t)cr.copied_bytes,
	    "snapshots", (json_int_t)cr.snapshots_copied, "seconds", (double)cr.duration_ms / 1000.0));
	step(rn, "copy", "%s: %llu objects copied (%llu bytes), %llu snapshots", repo_url(dst),
	    (unsigned long long)cr.copied, (unsigned long long)cr.copied_bytes,
	    (unsigned long long)cr.snapshots_copied);
}

/* do_copies: the replicas of a multi: repository the backup left behind
 * (or that were behind after the last run), then every copy-to target. */
static void
do_copies(struct run *rn, struct repo *r)
{
	const struct job *j = rn->j;
	int n = repo_replica_count(r);
	json_t *out = json_array();

	for (int i = 0; n > 1 && i < n; i++) {
		struct repo_replica info;
		struct state_replica *sr;
		struct repo *dst = NULL;
		int rc;

		repo_replica_info(r, i, &info);
		sr = replica_slot(&rn->st, info.url, "replica");
		if (sr == NULL)
			continue;
		if (!info.lagging && info.state == REPO_REPLICA_OK && sr->ok) {
			if (rn->ret->backed_up) {
				sr->newest_ns = rn->st.newest_ns;
				sr->last_success_ns = time_now_ns();
			}
			continue;
		}
		step(rn, "copy", "replica %s %s: bringing it up to date", info.url,
		    info.lagging ? info.why : sr->last_success_ns == 0 ? "is new to this job" :
		    "was behind after the last run");
		if (info.state != REPO_REPLICA_OK) {
			sr->ok = 0;
			snprintf(sr->why, sizeof(sr->why), "%.255s", info.why);
			failed(rn, "copy", IMDR_ENET, "replica %s: %s", info.url, info.why);
			continue;
		}
		rc = repo_replica_open(r, i, &dst);
		if (rc) {
			sr->ok = 0;
			snprintf(sr->why, sizeof(sr->why), "%s", err_msg(rc));
			failed(rn, "copy", rc, "replica %s: %s", info.url, err_msg(rc));
			continue;
		}
		copy_into(rn, r, dst, sr, out);
		repo_free(dst);
	}
	for (size_t k = 0; k < j->ncopy_to; k++) {
		struct repo *dst = NULL;
		struct state_replica *sr = replica_slot(&rn->st, j->copy_to[k], "copy");
		int rc;

		step(rn, "copy", "to %s", j->copy_to[k]);
		rc = repo_open_replica(r, j->copy_to[k], &dst);
		if (rc) {
			if (sr) {
				sr->ok = 0;
				snprintf(sr->why, sizeof(sr->why), "%s", err_msg(rc));
			}
			failed(rn, "copy", rc, "copy-to %s: %s", j->copy_to[k], err_msg(rc));
			json_array_append_new(out, json_pack("{s:s,s:s}", "to", j->copy_to[k], "error",
			    err_msg(rc)));
			continue;
		}
		copy_into(rn, r, dst, sr, out);
		repo_free(dst);
	}
	/* the state keeps only the places the job has now */
	for (size_t i = 0; i < rn->st.nreplicas;) {
		struct state_replica *sr = &rn->st.replicas[i];
		int keep = 0;

		for (int k = 0; n > 1 && k < n && !keep; k++) {
			struct repo_replica info;

			repo_replica_info(r, k, &info);
			keep = strcmp(info.url, sr->url) == 0;
		}
		for (size_t k = 0; k < j->ncopy_to && !keep; k++)
			keep = strcmp(j->copy_to[k], sr->url) == 0;
		if (keep) {
			i++;
			continue;
		}
		memmove(sr, sr + 1, (rn->st.nreplicas - i - 1) * sizeof(*sr));
		rn->st.nreplicas--;
	}
	if (json_array_size(out))
		json_object_set_new(rn->line, "copy", out);
	else
		json_decref(out);
}

static void
do_check(struct run *rn, struct repo *r)
{
	const struct job *j = rn->j;
	struct check_opts co;
	struct check_result cr;
	int read_data = j->check_read_data ||
	    (j->read_data_every && due(j->read_data_every, rn->st.read_data_ns, rn->now_ns));
	int rc;

	memset(&co, 0, sizeof(co));
	co.read_data = read_data;
	co.ev = rn->o->ev;
	co.ev.total = NULL;
	co.ev.advance = NULL;
	step(rn, "check", read_data ? "reading every blob too" : NULL);
	rc = check_run(r, &co, &cr);
	rn->ret->checked = 1;
	rn->st.check_ns = time_now_ns();
	if (read_data && rc == IMDR_OK)
		rn->st.read_data_ns = rn->st.check_ns;
	rn->st.check_ok = rc == IMDR_OK && cr.errors == 0;
	rn->st.check_errors = rc == IMDR_OK ? cr.errors : 1;
	rn->ret->check_errors = rn->st.check_errors;
	if (rc)
		failed(rn, "check", rc, "%s", err_msg(rc));
	else if (cr.errors)
		failed(rn, "check", IMDR_EAUTH, "the check found %llu problem%s (named above)",
		    (unsigned long long)cr.errors, cr.errors == 1 ? "" : "s");
	json_object_set_new(rn->line, "check", json_pack("{s:b,s:I,s:I,s:I}", "read_data", read_data,
	    "errors", (json_int_t)rn->st.check_errors, "warnings", (json_int_t)(rc ? 0 : cr.warnings),
	    "packs", (json_int_t)(rc ? 0 : cr.packs)));
	if (rc == IMDR_OK)
		step(rn, "check", "%llu problems, %llu warnings", (unsigned long long)cr.errors,
		    (unsigned long long)cr.warnings);
}

static void
note_drill(struct job_state *st, const struct drill_opts *o, const struct drill_result *res,
    int rc, const char *report)
{
	uint64_t m = 0;

	for (int i = 0; i < res->n; i++)
		m += res->v[i].mismatches;
	st->drill_ns = res->time_ns ? res->time_ns : time_now_ns();
	st->drill_ok = res->ok && (rc == IMDR_OK || rc == IMDR_ETIMEDOUT);
	st->drill_rto_met = o->rto_secs ? res->rto_met : -1;
	st->drill_rto_estimate = res->worst_estimate_secs;
	st->drill_seconds = res->seconds;
	st->drill_files = 0;
	for (int i = 0; i < res->n; i++)
		st->drill_files += res->v[i].files;
	st->drill_mismatches = m;
	free(st->drill_report);
	st->drill_report = report ? xstrdup(report) : NULL;
	free(st->drill_error);
	st->drill_error = st->drill_ok ? NULL : xstrdup(err_msg(rc));
	if (o->rto_secs)
		st->rto = o->rto_secs;
}

static void
do_drill(struct run *rn, struct repo *r)
{
	const struct job *j = rn->j;
	struct drill_opts o;
	struct drill_result res;
	char *report = xasprintf("%s/drill.json", j->state_dir);
	int rc;

	memset(&o, 0, sizeof(o));
	o.source = rn->st.source;
	o.replica = -1;
	o.scratch = j->drill_scratch;
	o.sample_pct = j->drill_sample;
	o.rto_secs = j->rto;
	o.ev = rn->o->ev;
	o.ev.total = NULL;
	o.ev.advance = NULL;
	if (o.sample_pct > 0)
		step(rn, "drill", "restoring a sample of %g%% of the bytes", o.sample_pct);
	else
		step(rn, "drill", "restoring every file");
	rc = drill_run(r, &o, &res);
	rn->ret->drilled = 1;
	if (res.n > 0) {
		json_t *rep = drill_report_json(&o, &res);
		char *text = json_dumps(rep, JSON_INDENT(2) | JSON_SORT_KEYS);

		if (write_file_atomic(report, text, strlen(text), 0644) < 0)
			ev_warn(&rn->o->ev, report, strerror(errno));
		free(text);
		json_decref(rep);
	}
	note_drill(&rn->st, &o, &res, rc, report);
	rn->ret->drill_mismatches = rn->st.drill_mismatches;
	if (rc)
		failed(rn, "drill", rc, "%s", err_msg(rc));
	json_object_set_new(rn->line, "drill", json_pack("{s:b,s:I,s:f,s:o,s:s}", "ok",
	    rn->st.drill_ok, "mismatches", (json_int_t)rn->st.drill_mismatches,
	    "estimate_seconds", res.worst_estimate_secs,
	    "rto_met", res.rto_met < 0 ? json_null() : json_boolean(res.rto_met), "report", report));
	if (rc == IMDR_OK)
		step(rn, "drill", "verified %llu files; full restore estimate %.1f s",
		    (unsigned long long)rn->st.drill_files, res.worst_estimate_secs);
	drill_result_free(&res);
	free(report);
}

/* ---- metrics ---- */

int
job_write_metrics(const char *metrics_dir, const struct job_state *s)
{
	struct status_result res;
	struct status_source row;
	char *path, *text = NULL;
	size_t len = 0;
	FILE *f;
	int rc = IMDR_OK;

	if (metrics_dir == NULL)
		return IMDR_OK;
	memset(&res, 0, sizeof(res));
	memset(&row, 0, sizeof(row));
	row.st = *s;		/* borrowed: not freed here */
	row.has_state = 1;
	res.now_ns = time_now_ns();
	status_judge(&row, res.now_ns, 0);
	res.v = &row;
	res.n = 1;
	res.level = row.level;
	f = open_memstream(&text, &len);
	if (f == NULL)
		return err_set(IMDR_ENOMEM, "open_memstream: %s", strerror(errno));
	status_prometheus(&res, f);
	fclose(f);
	for (size_t k = 0; k < row.nreasons; k++)
		free(row.reasons[k]);
	if ((rc = state_mkdir(metrics_dir)) == IMDR_OK) {
		path = xasprintf("%s/imdr-%s.prom", metrics_dir, s->job);
		if (write_file_atomic(path, text, len, 0644) < 0)
			rc = err_set(err_from_errno(errno), "cannot write %s: %s", path, strerror(errno));
		free(path);
	}
	free(text);
	return rc;
}

/* ---- the run ---- */

static void
fill_state_targets(struct run *rn)
{
	const struct job *j = rn->j;

	free(rn->st.job_file);
	rn->st.job_file = xstrdup(j->file);
	free(rn->st.repository);
	rn->st.repository = xstrdup(j->repository);
	free(rn->st.metrics_dir);
	rn->st.metrics_dir = j->metrics_dir ? xstrdup(j->metrics_dir) : NULL;
	rn->st.rpo = j->rpo;
	rn->st.rto = j->rto;
	rn->st.check_every = j->check_every;
	rn->st.drill_every = j->drill_every;
	if (rn->st.source == NULL && j->source_name)
		rn->st.source = xstrdup(j->source_name);
}

static void
run_steps(struct run *rn)
{
	const struct job *j = rn->j;
	struct repo *r = NULL;
	int rc;

	if (j->before) {
		step(rn, "before", "%s", j->before);
		if ((rc = run_hook(rn, "before command", j->before, NULL, NULL)) != IMDR_OK) {
			failed(rn, "before", rc, "%s", err_msg(rc));
			return;
		}
	}
	if (j->source_command) {
		step(rn, "source", "%s", j->source_command);
		if ((rc = run_hook(rn, "source command", j->source_command, NULL, NULL)) != IMDR_OK) {
			failed(rn, "source", rc, "%s", err_msg(rc));
			return;
		}
		if (access(j->source_path, R_OK) != 0) {
			failed(rn, "source", IMDR_ESOURCE, "the source command succeeded but %s is not "
			    "there: %s", j->source_path, strerror(errno));
			return;
		}
	}
	step(rn, "open", "%s", j->repository);
	if ((rc = rn->o->open_repo(rn->o->open_ctx, j, &r)) != IMDR_OK) {
		failed(rn, "open", rc, "%s", err_msg(rc));
		return;
	}
	if (do_backup(rn, r) != IMDR_OK) {
		repo_free(r);
		return;
	}
	if (!rn->o->skip_due && j->has_retention &&
	    (rn->o->force_retention || due(j->retention_every, rn->st.forget_ns, rn->now_ns)))
		do_retention(rn, r);
	if (!ev_cancelled(&rn->o->ev))
		do_copies(rn, r);
	if (!rn->o->skip_due && !ev_cancelled(&rn->o->ev) &&
	    (rn->o->force_check || due(j->check_every, rn->st.check_ns, rn->now_ns)))
		do_check(rn, r);
	if (!rn->o->skip_due && !ev_cancelled(&rn->o->ev) &&
	    (rn->o->force_drill || due(j->drill_every, rn->st.drill_ns, rn->now_ns)))
		do_drill(rn, r);
	repo_free(r);
	if (ev_cancelled(&rn->o->ev) && rn->rc == IMDR_OK)
		failed(rn, "run", IMDR_EINTR, "interrupted");
	if (rn->rc == IMDR_OK && j->after) {
		step(rn, "after", "%s", j->after);
		if ((rc = run_hook(rn, "after command", j->after, NULL, NULL)) != IMDR_OK)
			failed(rn, "after", rc, "%s", err_msg(rc));
	}
}

int
job_run(const struct job *j, const struct job_run_opts *o, struct job_run_result *ret)
{
	struct run rn;
	int lock_fd = -1, rc, src;
	int64_t t0 = time_mono_ns();
	char when[40];

	memset(ret, 0, sizeof(*ret));
	memset(&rn, 0, sizeof(rn));
	rn.j = j;
	rn.o = o;
	rn.ret = ret;
	rn.now_ns = time_now_ns();
	rc = state_lock(j->state_dir, j->name, &lock_fd);
	if (rc == IMDR_ELOCKED) {
		char msg[1024];

		ret->refused = 1;
		snprintf(ret->step, sizeof(ret->step), "lock");
		snprintf(ret->error, sizeof(ret->error), "%s", err_msg(rc));
		snprintf(msg, sizeof(msg), "%s", err_msg(rc));
		time_format(rn.now_ns, 3, when);
		state_log_append(j->state_dir, json_pack("{s:s,s:s,s:s,s:s}", "job", j->name, "start",
		    when, "result", "refused", "error", msg));
		return err_set(IMDR_ELOCKED, "%s", msg);
	}
	if (rc) {
		snprintf(ret->step, sizeof(ret->step), "lock");
		snprintf(ret->error, sizeof(ret->error), "%s", err_msg(rc));
		return rc;
	}
	src = state_load(j->state_dir, &rn.st);
	if (src == IMDR_EFORMAT)
		ev_warn(&o->ev, "state", err_msg(src));
	if (src != IMDR_OK)
		state_init(&rn.st, j->name);
	fill_state_targets(&rn);
	rn.st.run_start_ns = rn.now_ns;
	rn.line = json_object();
	time_format(rn.now_ns, 3, when);
	json_object_set_new(rn.line, "job", json_string(j->name));
	json_object_set_new(rn.line, "start", json_string(when));

	run_steps(&rn);

	if (rn.rc != IMDR_OK && j->on_failure) {
		int frc;

		step(&rn, "on-failure", "%s", j->on_failure);
		frc = run_hook(&rn, "on-failure command", j->on_failure, ret->error, ret->step);
		if (frc)
			ev_error(&o->ev, "on-failure", err_msg(frc));
		json_object_set_new(rn.line, "on_failure", json_string(frc ? err_msg(frc) : "ok"));
	}
	ret->ok = rn.rc == IMDR_OK;
	for (size_t i = 0; i < rn.st.nreplicas; i++)
		if (!rn.st.replicas[i].ok)
			ret->exit_hint = 3;	/* still behind (a failed copy also fails the run) */
	ret->seconds = (double)(time_mono_ns() - t0) / 1e9;
	rn.st.run_end_ns = time_now_ns();
	rn.st.run_ok = ret->ok;
	free(rn.st.run_error);
	free(rn.st.run_step);
	rn.st.run_error = ret->ok ? NULL : xstrdup(ret->error);
	rn.st.run_step = ret->ok ? NULL : xstrdup(ret->step);
	if (ret->ok)
		rn.st.last_success_ns = rn.st.run_end_ns;
	time_format(rn.st.run_end_ns, 3, when);
	json_object_set_new(rn.line, "end", json_string(when));
	json_object_set_new(rn.line, "seconds", json_real(ret->seconds));
	json_object_set_new(rn.line, "result", json_string(ret->ok ? "ok" : "failed"));
	if (!ret->ok) {
		json_object_set_new(rn.line, "step", json_string(ret->step));
		json_object_set_new(rn.line, "error", json_string(ret->error));
	}
	if (rn.st.source)
		json_object_set_new(rn.line, "source", json_string(rn.st.source));

	/* what the run knows, written last: state, log line, metrics */
	if ((src = state_save(j->state_dir, &rn.st)) != IMDR_OK)
		ev_error(&o->ev, "state", err_msg(src));
	if ((src = state_log_append(j->state_dir, rn.line)) != IMDR_OK)
		ev_error(&o->ev, "log", err_msg(src));
	if ((src = job_write_metrics(j->metrics_dir, &rn.st)) != IMDR_OK)
		ev_error(&o->ev, "metrics", err_msg(src));
	state_free(&rn.st);
	close(lock_fd);
	if (rn.rc)
		return err_set(rn.rc, "%s: %s", ret->step, ret->error);
	return IMDR_OK;
}

int
job_note_drill(const char *root, const char *job, const struct drill_opts *o,
    const struct drill_result *res, int drill_rc, const char *report)
{
	char *dir = xasprintf("%s/%s", state_root(root), job);
	struct job_state st;
	int fd, rc;

	rc = state_lock(dir, job, &fd);
	if (rc) {
		free(dir);
		return rc;
	}
	if (state_load(dir, &st) != IMDR_OK)
		state_init(&st, job);
	note_drill(&st, o, res, drill_rc, report);
	if (st.source == NULL && res->n && res->v[0].source[0])
		st.source = xstrdup(res->v[0].source);
	rc = state_save(dir, &st);
	if (rc == IMDR_OK)
		rc = job_write_metrics(st.metrics_dir, &st);
	state_free(&st);
	close(fd);
	free(dir);
	return rc;
}
