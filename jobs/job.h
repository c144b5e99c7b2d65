/* job — one backup job as an operator writes it by hand: an INI file
 * (parsed by libinih, the only place it is used) naming what to back up
 * and how to produce it, the repository and its passphrase's source, the
 * schedule, the RPO and RTO targets, retention, check and drill cadence,
 * hooks and where the metrics go. docs/FORMAT.md "Job files" lists every
 * key; `imdr run --check-config` reports every mistake as FILE:LINE.
 *
 * The passphrase never stands in the job file: `password-file` (a file
 * only its owner may read: mode 0600 or 0400, owned by the user running
 * the job) or `password-command` (its standard output). */
#ifndef IMDR_JOBS_JOB_H
#define IMDR_JOBS_JOB_H

#include <stddef.h>
#include <stdint.h>

#define JOB_NAME_MAX 64
#define JOB_MAX_LIST 32
#define JOB_MAX_KEYS 64		/* tags, OnCalendar lines, copy-to targets */
#define JOB_DEFAULT_DIR "/etc/imdr/jobs"
#define JOB_DEFAULT_STATE_DIR "/var/lib/imdr"

/* retention counts not set are 0; unlimited is -1 (as restic's) */
enum {
	JOB_KEEP_LAST, JOB_KEEP_HOURLY, JOB_KEEP_DAILY, JOB_KEEP_WEEKLY,
	JOB_KEEP_MONTHLY, JOB_KEEP_YEARLY, JOB_NKEEP
};

struct job {
	char name[JOB_NAME_MAX + 1];	/* the file's name without ".conf" */
	char *file;			/* the job file, absolute */

	/* [job] */
	char *repository;
	char *password_file, *password_command;
	char *state_dir;		/* this job's own: <state root>/<name> */
	char *metrics_dir;		/* NULL: no metrics file */
	char *before, *after, *on_failure;	/* shell commands, or NULL */
	int64_t hook_timeout;		/* seconds; 0: none */
	char *copy_to[JOB_MAX_LIST];
	size_t ncopy_to;
	int min_replicas;		/* 0: the default */

	/* [source] */
	char *source_path;
	char *source_command;		/* produces the export at source_path */
	char *source_name;		/* NULL: the export's own */
	char *format;			/* NULL: detect */
	char *attachments;
	char *tags[JOB_MAX_LIST];
	size_t ntags;

	/* [schedule] */
	char *on_calendar[JOB_MAX_LIST];
	size_t non_calendar;
	int64_t randomized_delay;	/* seconds */
	int64_t full_every;		/* seconds; 0: never read every file */

	/* [targets] */
	int64_t rpo, rto;		/* seconds; 0: none */

	/* [retention] */
	int keep[JOB_NKEEP];
	char *keep_within;		/* restic form "1y2m3d4h", or NULL */
	char *retention_tz;
	int64_t retention_every;	/* forget + prune; default 1 day */
	double max_unused;		/* prune; -1: its default */
	int has_retention;

	/* [check] */
	int64_t check_every;		/* 0: never */
	int check_read_data;
	int64_t read_data_every;	/* 0: never (unless check_read_data) */

	/* [drill] */
	int64_t drill_every;		/* 0: never */
	double drill_sample;		/* percent; 0: every file */
	char *drill_scratch;		/* NULL: $TMPDIR or /var/tmp */

	/* where each key was set (job_line), for messages */
	int key_line[JOB_MAX_KEYS];
	int on_calendar_line[JOB_MAX_LIST];
};

/* One mistake in a job file: where and what. */
struct job_problem {
	char *file;
	int line;			/* 0: the file as a whole */
	char *msg;
};

struct job_problems {
	struct job_problem *v;
	size_t n, cap;
};

/* job_path: where job spec lives: spec itself when it holds a '/' or ends
 * in ".conf", else <dir>/<spec>.conf (dir NULL: $IMDR_JOBS_DIR or
 * JOB_DEFAULT_DIR). Caller frees. */
char *job_path(const char *spec, const char *dir);

/* job_load: parse and check the job file at path. Every problem found is
 * added to probs (file, line, what is wrong and what would be right);
 * IMDR_OK only when there is none (then *ret is the job, freed with
 * job_free), IMDR_EINVAL otherwise. state_root (NULL: $IMDR_STATE_DIR or
 * JOB_DEFAULT_STATE_DIR) is where a job without its own state-dir keeps
 * its state. Checks that touch the system (the passphrase file's owner
 * and mode, the source's presence) are job_check_system's. */
int job_load(const char *path, const char *state_root, struct job **ret,
    struct job_problems *probs);
void job_free(struct job *j);

/* job_line: the line key name of [section] was set on, or 0. */
int job_line(const struct job *j, const char *section, const char *name);

/* job_check_system: what --check-config and every run look at beyond the
 * file's syntax: the password file is there, a regular file and only its
 * owner's (mode 0600 or 0400, owned by this user); the source exists
 * unless a command produces it; the state and metrics folders can be made;
 * with calendar set (--check-config), each on-calendar expression is one
 * `systemd-analyze calendar` accepts (when that program is here).
 * Problems are added to probs; IMDR_OK when there were none. */
int job_check_system(const struct job *j, int calendar, struct job_problems *probs);

void job_problems_free(struct job_problems *p);

#endif
