/* state — what a job knows between runs, kept outside the repository in
 * its state folder (<state root>/<job>/, docs/FORMAT.md "Job state"):
 *
 *   state.json   the last run and the newest facts of every step (the last
 *                backup, full read, forget, prune, copy, check and drill),
 *                rewritten atomically at the end of each run; what
 *                `imdr status` reads without touching the repository;
 *   runs.jsonl   one JSON line per run, appended (kept under 16 MiB: the
 *                older half moves to runs.jsonl.1);
 *   lock         flock()ed by a running job, naming its pid: runs never
 *                overlap, and a killed run's lock goes with its process.
 *
 * Nothing here is secret (URLs are kept without credentials, which imdr
 * refuses in URLs anyway), so the folder and files are world-readable:
 * a monitoring agent running as another user reads them. */
#ifndef IMDR_JOBS_STATE_H
#define IMDR_JOBS_STATE_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#define STATE_MAX_REPLICAS 32	/* replicas of a multi: and copy-to targets */
#define STATE_LOG_MAX (16u << 20)

/* One place the job's snapshots are kept besides the repository's first:
 * a replica of a multi: repository, or a copy-to target. */
struct state_replica {
	char url[512];
	char role[16];			/* "replica" or "copy" */
	int ok;				/* holds what the job's last run wrote */
	char why[256];			/* why not */
	int64_t newest_ns;		/* newest snapshot of the source it holds */
	int64_t last_success_ns;	/* last run that brought it up to date */
	uint64_t lag_snapshots, lag_bytes;
};

struct job_state {
	char job[65];
	char *job_file, *repository, *source;	/* source: its name */
	char *metrics_dir;			/* where its metrics file goes, or NULL */
	int64_t rpo, rto;			/* targets, seconds (0: none) */
	int64_t check_every, drill_every;	/* cadences, seconds (0: none) */

	/* the last run */
	int64_t run_start_ns, run_end_ns;
	int run_ok;				/* -1: never ran */
	char *run_error, *run_step;		/* what failed, in which step */
	int64_t last_success_ns;		/* end of the last run that succeeded */

	/* the last backup */
	int64_t backup_ns;			/* its snapshot's time */
	char snapshot[65];
	double backup_seconds;
	uint64_t backup_files, backup_bytes, backup_added_bytes;
	int backup_full;
	int64_t last_full_ns;
	int64_t newest_ns;			/* newest snapshot of the source known */

	/* retention */
	int64_t forget_ns, prune_ns;
	uint64_t forget_removed, prune_freed_bytes;

	/* check: ok -1 never */
	int64_t check_ns, read_data_ns;
	int check_ok;
	uint64_t check_errors;

	/* drill: ok -1 never */
	int64_t drill_ns;
	int drill_ok, drill_rto_met;		/* rto_met -1: no RTO to meet */
	double drill_rto_estimate;		/* seconds for a full restore */
	double drill_seconds;
	uint64_t drill_files, drill_mismatches;
	char *drill_report;			/* the JSON report's path */
	char *drill_error;

	struct state_replica replicas[STATE_MAX_REPLICAS];
	size_t nreplicas;
};

/* state_init: an empty state for job (nothing ran). */
void state_init(struct job_state *s, const char *job);
void state_free(struct job_state *s);

/* state_load: dir/state.json into s. IMDR_ENOENT when the job never ran
 * there; IMDR_EFORMAT naming the file when it is not a state. */
int state_load(const char *dir, struct job_state *s);
/* state_save: s to dir/state.json, atomically (temporary file, fsync,
 * rename), mode 0644. */
int state_save(const char *dir, const struct job_state *s);
/* state_json: s as a JSON object (new reference). */
json_t *state_json(const struct job_state *s);

/* state_mkdir: make dir and missing parents, 0755. */
int state_mkdir(const char *dir);

/* state_lock: take dir/lock for this process (made as needed). IMDR_OK
 * and *ret_fd (close it to release); IMDR_ELOCKED with a message naming
 * the running job's pid and start time when another run holds it. */
int state_lock(const char *dir, const char *job, int *ret_fd);

/* state_log_append: one line (a JSON object, stolen) to dir/runs.jsonl,
 * fsynced; the log moves to runs.jsonl.1 past STATE_LOG_MAX. */
int state_log_append(const char *dir, json_t *line);

/* state_list_jobs: the names of the jobs that have a state under root,
 * sorted; caller frees each and the array. */
int state_list_jobs(const char *root, char ***ret, size_t *ret_n);

/* state_root: root, else $IMDR_STATE_DIR, else JOB_DEFAULT_STATE_DIR. */
const char *state_root(const char *root);

#endif
