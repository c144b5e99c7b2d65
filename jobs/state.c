/* state — see state.h. */
#include "jobs/state.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "jobs/job.h"
#include "lib/buf.h"
#include "lib/err.h"
#include "lib/fsutil.h"
#include "lib/timefmt.h"

const char *
state_root(const char *root)
{
	if (root == NULL && (root = getenv("IMDR_STATE_DIR")) == NULL)
		root = JOB_DEFAULT_STATE_DIR;
	return root;
}

void
state_init(struct job_state *s, const char *job)
{
	memset(s, 0, sizeof(*s));
	snprintf(s->job, sizeof(s->job), "%s", job);
	s->run_ok = -1;
	s->check_ok = -1;
	s->drill_ok = -1;
	s->drill_rto_met = -1;
}

void
state_free(struct job_state *s)
{
	free(s->job_file);
	free(s->metrics_dir);
	free(s->repository);
	free(s->source);
	free(s->run_error);
	free(s->run_step);
	free(s->drill_report);
	free(s->drill_error);
	memset(s, 0, sizeof(*s));
}

int
state_mkdir(const char *dir)
{
	char *p = xstrdup(dir);
	int e;

	/* what is made is 0755 whatever the umask: a monitoring agent running
	 * as another user reads the state */
	for (char *s = p + 1; *s; s++) {
		if (*s != '/')
			continue;
		*s = '\0';
		if (mkdir(p, 0755) == 0)
			chmod(p, 0755);
		*s = '/';
	}
	if (mkdir(p, 0755) == 0) {
		chmod(p, 0755);
	} else if (errno != EEXIST) {
		e = errno;
		free(p);
		return err_set(err_from_errno(e), "cannot make the state folder %s: %s", dir, strerror(e));
	}
	free(p);
	return IMDR_OK;
}

/* ---- JSON ---- */

static void
set_str(json_t *o, const char *k, const char *v)
{
	if (v)
		json_object_set_new(o, k, json_string(v));
}

static void
set_int(json_t *o, const char *k, int64_t v)
{
	json_object_set_new(o, k, json_integer((json_int_t)v));
}

/* times as nanoseconds and, for people reading the file, RFC 3339 */
static void
set_time(json_t *o, const char *k, int64_t ns)
{
	char t[40], *kt;

	if (ns == 0)
		return;
	set_int(o, k, ns);
	time_format(ns, 0, t);
	kt = xasprintf("%s_text", k);
	json_object_set_new(o, kt, json_string(t));
	free(kt);
}

json_t *
state_json(const struct job_state *s)
{
	json_t *o = json_object(), *b, *reps = json_array();

	set_int(o, "version", 1);
	set_str(o, "job", s->job);
	set_str(o, "job_file", s->job_file);
	set_str(o, "metrics_dir", s->metrics_dir);
	set_str(o, "repository", s->repository);
	set_str(o, "source", s->source);
	set_int(o, "rpo_seconds", s->rpo);
	set_int(o, "rto_seconds", s->rto);
	set_int(o, "check_every_seconds", s->check_every);
	set_int(o, "drill_every_seconds", s->drill_every);

	b = json_object();
	set_time(b, "start_ns", s->run_start_ns);
	set_time(b, "end_ns", s->run_end_ns);
	set_int(b, "ok", s->run_ok);
	set_str(b, "error", s->run_error);
	set_str(b, "step", s->run_step);
	json_object_set_new(o, "last_run", b);
	set_time(o, "last_success_ns", s->last_success_ns);

	b = json_object();
	set_time(b, "time_ns", s->backup_ns);
	set_str(b, "snapshot", s->snapshot[0] ? s->snapshot : NULL);
	json_object_set_new(b, "seconds", json_real(s->backup_seconds));
	set_int(b, "files", (int64_t)s->backup_files);
	set_int(b, "bytes", (int64_t)s->backup_bytes);
	set_int(b, "added_bytes", (int64_t)s->backup_added_bytes);
	json_object_set_new(b, "full", json_boolean(s->backup_full));
	json_object_set_new(o, "last_backup", b);
	set_time(o, "last_full_ns", s->last_full_ns);
	set_time(o, "newest_snapshot_ns", s->newest_ns);

	b = json_object();
	set_time(b, "forget_ns", s->forget_ns);
	set_time(b, "prune_ns", s->prune_ns);
	set_int(b, "forget_removed", (int64_t)s->forget_removed);
	set_int(b, "prune_freed_bytes", (int64_t)s->prune_freed_bytes);
	json_object_set_new(o, "retention", b);

	b = json_object();
	set_time(b, "time_ns", s->check_ns);
	set_time(b, "read_data_ns", s->read_data_ns);
	set_int(b, "ok", s->check_ok);
	set_int(b, "errors", (int64_t)s->check_errors);
	json_object_set_new(o, "last_check", b);

	b = json_object();
	set_time(b, "time_ns", s->drill_ns);
	set_int(b, "ok", s->drill_ok);
	set_int(b, "rto_met", s->drill_rto_met);
	json_object_set_new(b, "rto_estimate_seconds", json_real(s->drill_rto_estimate));
	json_object_set_new(b, "seconds", json_real(s->drill_seconds));
	set_int(b, "files", (int64_t)s->drill_files);
	set_int(b, "mismatches", (int64_t)s->drill_mismatches);
	set_str(b, "report", s->drill_report);
	set_str(b, "error", s->drill_error);
	json_object_set_new(o, "last_drill", b);

	for (size_t i = 0; i < s->nreplicas; i++) {
		const struct state_replica *r = &s->replicas[i];
		json_t *ro = json_object();

		set_str(ro, "url", r->url);
		set_str(ro, "role", r->role);
		json_object_set_new(ro, "ok", json_boolean(r->ok));
		set_str(ro, "why", r->why[0] ? r->why : NULL);
		set_time(ro, "newest_snapshot_ns", r->newest_ns);
		set_time(ro, "last_success_ns", r->last_success_ns);
		set_int(ro, "lag_snapshots", (int64_t)r->lag_snapshots);
		set_int(ro, "lag_bytes", (int64_t)r->lag_bytes);
		json_array_append_new(reps, ro);
	}
	json_object_set_new(o, "replicas", reps);
	return o;
}

static char *
get_str(json_t *o, const char *k)
{
	json_t *v = json_object_get(o, k);

	return json_is_string(v) ? xstrdup(json_string_value(v)) : NULL;
}

static int64_t
get_int(json_t *o, const char *k, int64_t dflt)
{
	json_t *v = json_object_get(o, k);

	return json_is_integer(v) ? (int64_t)json_integer_value(v) : dflt;
}

static double
get_real(json_t *o, const char *k)
{
	json_t *v = json_object_get(o, k);

	return json_is_number(v) ? json_number_value(v) : 0;
}

static void
copy_str(char *dst, size_t n, json_t *o, const char *k)
{
	json_t *v = json_object_get(o, k);

	snprintf(dst, n, "%s", json_is_string(v) ? json_string_value(v) : "");
}

int
state_load(const char *dir, struct job_state *s)
{
	char *path = xasprintf("%s/state.json", dir);
	json_error_t je;
	json_t *o, *b, *reps;
	const char *job;
	int rc = IMDR_OK;

	o = json_load_file(path, 0, &je);
	if (o == NULL) {
		if (access(path, F_OK) != 0 && errno == ENOENT)
			rc = err_set(IMDR_ENOENT, "%s: no state (the job never ran with this state folder)",
			    path);
		else
			rc = err_set(IMDR_EFORMAT, "%s: not a job state: %s (line %d)", path, je.text,
			    je.line);
		free(path);
		return rc;
	}
	job = json_string_value(json_object_get(o, "job"));
	if (!json_is_object(o) || get_int(o, "version", 0) != 1 || job == NULL) {
		rc = err_set(IMDR_EFORMAT, "%s: not a job state of this version (version %lld)", path,
		    (long long)get_int(o, "version", 0));
		json_decref(o);
		free(path);
		return rc;
	}
	free(path);
	state_init(s, job);
	s->job_file = get_str(o, "job_file");
	s->metrics_dir = get_str(o, "metrics_dir");
	s->repository = get_str(o, "repository");
	s->source = get_str(o, "source");
	s->rpo = get_int(o, "rpo_seconds", 0);
	s->rto = get_int(o, "rto_seconds", 0);
	s->check_every = get_int(o, "check_every_seconds", 0);
	s->drill_every = get_int(o, "drill_every_seconds", 0);
	b = json_object_get(o, "last_run");
	s->run_start_ns = get_int(b, "start_ns", 0);
	s->run_end_ns = get_int(b, "end_ns", 0);
	s->run_ok = (int)get_int(b, "ok", -1);
	s->run_error = get_str(b, "error");
	s->run_step = get_str(b, "step");
	s->last_success_ns = get_int(o, "last_success_ns", 0);
	b = json_object_get(o, "last_backup");
	s->backup_ns = get_int(b, "time_ns", 0);
	copy_str(s->snapshot, sizeof(s->snapshot), b, "snapshot");
	s->backup_seconds = get_real(b, "seconds");
	s->backup_files = (uint64_t)get_int(b, "files", 0);
	s->backup_bytes = (uint64_t)get_int(b, "bytes", 0);
	s->backup_added_bytes = (uint64_t)get_int(b, "added_bytes", 0);
	s->backup_full = json_is_true(json_object_get(b, "full"));
	s->last_full_ns = get_int(o, "last_full_ns", 0);
	s->newest_ns = get_int(o, "newest_snapshot_ns", 0);
	b = json_object_get(o, "retention");
	s->forget_ns = get_int(b, "forget_ns", 0);
	s->prune_ns = get_int(b, "prune_ns", 0);
	s->forget_removed = (uint64_t)get_int(b, "forget_removed", 0);
	s->prune_freed_bytes = (uint64_t)get_int(b, "prune_freed_bytes", 0);
	b = json_object_get(o, "last_check");
	s->check_ns = get_int(b, "time_ns", 0);
	s->read_data_ns = get_int(b, "read_data_ns", 0);
	s->check_ok = (int)get_int(b, "ok", -1);
	s->check_errors = (uint64_t)get_int(b, "errors", 0);
	b = json_object_get(o, "last_drill");
	s->drill_ns = get_int(b, "time_ns", 0);
	s->drill_ok = (int)get_int(b, "ok", -1);
	s->drill_rto_met = (int)get_int(b, "rto_met", -1);
	s->drill_rto_estimate = get_real(b, "rto_estimate_seconds");
	s->drill_seconds = get_real(b, "seconds");
	s->drill_files = (uint64_t)get_int(b, "files", 0);
	s->drill_mismatches = (uint64_t)get_int(b, "mismatches", 0);
	s->drill_report = get_str(b, "report");
	s->drill_error = get_str(b, "error");
	reps = json_object_get(o, "replicas");
	for (size_t i = 0; i < json_array_size(reps) && s->nreplicas < STATE_MAX_REPLICAS; i++) {
		json_t *ro = json_array_get(reps, i);
		struct state_replica *r = &s->replicas[s->nreplicas++];

		copy_str(r->url, sizeof(r->url), ro, "url");
		copy_str(r->role, sizeof(r->role), ro, "role");
		copy_str(r->why, sizeof(r->why), ro, "why");
		r->ok = json_is_true(json_object_get(ro, "ok"));
		r->newest_ns = get_int(ro, "newest_snapshot_ns", 0);
		r->last_success_ns = get_int(ro, "last_success_ns", 0);
		r->lag_snapshots = (uint64_t)get_int(ro, "lag_snapshots", 0);
		r->lag_bytes = (uint64_t)get_int(ro, "lag_bytes", 0);
	}
	json_decref(o);
	return rc;
}

int
state_save(const char *dir, const struct job_state *s)
{
	json_t *o = state_json(s);
	char *text = json_dumps(o, JSON_INDENT(1) | JSON_SORT_KEYS);
	char *path = xasprintf("%s/state.json", dir);
	int rc = IMDR_OK;

	json_decref(o);
	if ((rc = state_mkdir(dir)) == IMDR_OK && write_file_atomic(path, text, strlen(text), 0644) < 0)
		rc = err_set(err_from_errno(errno), "cannot write %s: %s", path, strerror(errno));
	free(text);
	free(path);
	return rc;
}

/* ---- the lock ---- */

int
state_lock(const char *dir, const char *job, int *ret_fd)
{
	char *path, info[128];
	int fd, rc;
	ssize_t n;

	*ret_fd = -1;
	if ((rc = state_mkdir(dir)) != IMDR_OK)
		return rc;
	path = xasprintf("%s/lock", dir);
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (fd < 0) {
		rc = err_set(err_from_errno(errno), "cannot open the job lock %s: %s", path, strerror(errno));
		free(path);
		return rc;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		int e = errno;

		n = pread(fd, info, sizeof(info) - 1, 0);
		info[n > 0 ? n : 0] = '\0';
		info[strcspn(info, "\n")] = '\0';
		close(fd);
		if (e == EWOULDBLOCK)
			rc = err_set(IMDR_ELOCKED, "job %s is already running (%s; lock %s): runs never overlap",
			    job, info[0] ? info : "pid unknown", path);
		else
			rc = err_set(err_from_errno(e), "cannot lock %s: %s", path, strerror(e));
		free(path);
		return rc;
	}
	{
		char t[40];

		time_format(time_now_ns(), 0, t);
		n = snprintf(info, sizeof(info), "pid %ld since %s\n", (long)getpid(), t);
		/* the lock holds without its note, should writing it fail */
		if (ftruncate(fd, 0) == 0 && pwrite(fd, info, (size_t)n, 0) < 0)
			errno = 0;
	}
	free(path);
	*ret_fd = fd;
	return IMDR_OK;
}

/* ---- the run log ---- */

int
state_log_append(const char *dir, json_t *line)
{
	char *path = xasprintf("%s/runs.jsonl", dir), *text;
	struct stat st;
	int fd, rc = IMDR_OK;

	text = json_dumps(line, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(line);
	if ((rc = state_mkdir(dir)) != IMDR_OK)
		goto out;
	if (stat(path, &st) == 0 && (uint64_t)st.st_size > STATE_LOG_MAX) {
		char *old = xasprintf("%s.1", path);

		rename(path, old);	/* the older runs stay one generation */
		free(old);
	}
	fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (fd >= 0)
		fchmod(fd, 0644);	/* whatever the umask, as state.json */
	if (fd < 0 || write_full(fd, text, strlen(text)) < 0 || write_full(fd, "\n", 1) < 0 ||
	    fsync(fd) < 0)
		rc = err_set(err_from_errno(errno), "cannot append to %s: %s", path, strerror(errno));
	if (fd >= 0)
		close(fd);
out:
	free(text);
	free(path);
	return rc;
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int
state_list_jobs(const char *root, char ***ret, size_t *ret_n)
{
	DIR *d = opendir(root);
	struct dirent *de;
	char **v = NULL;
	size_t n = 0, cap = 0;

	*ret = NULL;
	*ret_n = 0;
	if (d == NULL) {
		if (errno == ENOENT)
			return IMDR_OK;
		return err_set(err_from_errno(errno), "cannot read the state folder %s: %s", root,
		    strerror(errno));
	}
	while ((de = readdir(d)) != NULL) {
		char *p;

		if (de->d_name[0] == '.')
			continue;
		p = xasprintf("%s/%s/state.json", root, de->d_name);
		if (access(p, F_OK) == 0) {
			if (n == cap) {
				cap = cap ? cap * 2 : 16;
				v = xrealloc(v, cap * sizeof(*v));
			}
			v[n++] = xstrdup(de->d_name);
		}
		free(p);
	}
	closedir(d);
	if (n)
		qsort(v, n, sizeof(*v), cmp_str);
	*ret = v;
	*ret_n = n;
	return IMDR_OK;
}
