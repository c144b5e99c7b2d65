/* schedule — a job's systemd units: imdr-<job>.service (Type=oneshot,
 * `imdr run <job file>`) and imdr-<job>.timer (each on-calendar line as
 * OnCalendar=, Persistent=true so a run missed while the machine was off
 * happens at boot, RandomizedDelaySec= from the job). Written into a unit
 * folder (/etc/systemd/system by default) atomically; what `systemd-analyze
 * verify` accepts. Starting and stopping them (systemctl) is the caller's. */
#ifndef IMDR_JOBS_SCHEDULE_H
#define IMDR_JOBS_SCHEDULE_H

#include <stddef.h>

#include "jobs/job.h"
#include "lib/buf.h"

#define SCHEDULE_UNIT_DIR "/etc/systemd/system"

/* schedule_units: the text of both units for j, run by the imdr binary at
 * imdr_path (absolute); state_root (may be NULL) is passed on as
 * IMDR_STATE_DIR. IMDR_EINVAL (naming the file) when the job has no
 * [schedule] on-calendar. */
int schedule_units(const struct job *j, const char *imdr_path, const char *state_root,
    struct buf *service, struct buf *timer);

/* schedule_install: write both units into unit_dir (NULL: the default);
 * ret_service and ret_timer (may be NULL; caller frees) get their paths. */
int schedule_install(const struct job *j, const char *unit_dir, const char *imdr_path,
    const char *state_root, char **ret_service, char **ret_timer);

/* schedule_remove: delete job's units from unit_dir (and the timer's
 * timers.target.wants link). IMDR_ENOENT when neither was there. */
int schedule_remove(const char *job, const char *unit_dir);

/* One installed job, as schedule_list reads it back from its units. */
struct schedule_entry {
	char job[JOB_NAME_MAX + 1];
	char *on_calendar;		/* its OnCalendar= values, "; "-joined */
	char *exec;			/* the service's ExecStart= */
	int enabled;			/* linked from timers.target.wants/ */
};

/* schedule_list: the imdr-*.timer units in unit_dir, by job name; caller
 * frees with schedule_list_free. */
int schedule_list(const char *unit_dir, struct schedule_entry **ret, size_t *ret_n);
void schedule_list_free(struct schedule_entry *v, size_t n);

#endif
