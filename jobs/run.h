/* run — a whole job as one library call (`imdr run`): under the job's
 * lock, the `before` hook, the source command that produces the export,
 * the backup (reading every file when a full one is due), retention
 * (forget + prune) when due, bringing lagging replicas and copy-to
 * targets up to date, a check and a restore drill when due, the `after`
 * hook; on any failure the `on-failure` command with the error. Then the
 * job's state, one JSON line in its run log and its metrics file, each
 * written atomically. The steps after the backup run even when one of
 * them fails; the run's result is the first failure.
 *
 * Hooks run with /bin/sh -c, standard input from /dev/null, standard
 * output as ours, standard error passed through (its last lines go into
 * the error), in a process group of their own that is killed when the
 * hook outlives hook-timeout or the run is cancelled. Their environment
 * has IMDR_JOB, IMDR_JOB_FILE, IMDR_REPOSITORY, IMDR_SOURCE_PATH,
 * IMDR_STATE_DIR, and for on-failure IMDR_ERROR and IMDR_STEP. */
#ifndef IMDR_JOBS_RUN_H
#define IMDR_JOBS_RUN_H

#include <stdint.h>

#include "engine/backup.h"
#include "engine/drill.h"
#include "engine/engine.h"
#include "jobs/job.h"
#include "jobs/state.h"
#include "repo/repo.h"

struct job_run_opts {
	int force_full;			/* read every file, whatever full-every says */
	int force_check, force_drill, force_retention;
	int skip_due;			/* only the backup (and copies): nothing "when due" */
	/* open the job's repository (the passphrase from the job's
	 * password-file or password-command); the caller owns how */
	int (*open_repo)(void *ctx, const struct job *j, struct repo **ret);
	void *open_ctx;
	/* step: a step begins (name) or says what it did (msg); may be NULL */
	void (*step)(void *ctx, const char *name, const char *msg);
	struct engine_events ev;	/* every engine operation's events */
};

struct job_run_result {
	int ok;
	int refused;			/* another run holds the lock: nothing done */
	char step[32];			/* the step that failed first */
	char error[1024];
	int exit_hint;			/* 3: done, but a replica is behind or a
					 * record was not written */
	int backed_up, full;
	struct backup_result backup;
	int retention, checked, drilled, copied;
	uint64_t check_errors, drill_mismatches;
	double seconds;
};

/* job_run: run job j. IMDR_OK when every step succeeded; the first
 * failure's code otherwise (ret->step and ret->error say which and why);
 * IMDR_ELOCKED when another run of the job holds its lock (nothing was
 * done). The state, log line and metrics are written in every case but
 * the last. */
int job_run(const struct job *j, const struct job_run_opts *o, struct job_run_result *ret);

/* job_note_drill: record a drill's result (and report path, may be NULL)
 * in job's state under state_root (NULL: the default), under the job's
 * lock, and rewrite its metrics file when the job file says where. */
int job_note_drill(const char *state_root, const char *job, const struct drill_opts *o,
    const struct drill_result *res, int drill_rc, const char *report);

/* job_write_metrics: the job's metrics file (<metrics dir>/imdr-<job>.prom)
 * from its state, atomically. */
int job_write_metrics(const char *metrics_dir, const struct job_state *s);

#endif
