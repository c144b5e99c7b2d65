/* status — is the RPO met, per source? Answered from the jobs' states
 * (jobs/state.h) alone, touching no repository (a monitor may ask every
 * minute: restic-exporter#56 is a scrape that downloaded 52 GB), or with
 * `live`, from one listing of snapshots/ per replica as well: names carry
 * the time and the keyed source tag, so no snapshot, index, pack or tree
 * is read.
 *
 * Levels are Nagios's: 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN, and the
 * worst of the sources is the exit status of `imdr status`.
 *   CRITICAL  no snapshot of the source; the newest is older than the RPO;
 *             the last check or drill found damaged data
 *   WARNING   the last run failed (the RPO still met); a replica or copy
 *             is behind; a check or drill is overdue; the last drill's
 *             full-restore estimate missed the RTO
 *   UNKNOWN   nothing is known: no state and no live answer
 * The same facts go out as Prometheus textfile metrics and as Zabbix
 * low-level discovery (docs/FORMAT.md "Metrics"). */
#ifndef IMDR_JOBS_STATUS_H
#define IMDR_JOBS_STATUS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

#include "jobs/state.h"
#include "repo/repo.h"

enum { STATUS_OK, STATUS_WARNING, STATUS_CRITICAL, STATUS_UNKNOWN };

#define STATUS_REASONS 8

struct status_source {
	struct job_state st;		/* the job's state (or what live found) */
	int has_state;
	int level;
	char *reasons[STATUS_REASONS];	/* why not OK, in words */
	size_t nreasons;
	int64_t age;			/* of the newest snapshot, seconds; -1: none */
	int64_t rpo;			/* the one judged by (option or job) */
	int rpo_met;			/* -1: no RPO, or no snapshot */
	int live;			/* newest and counts come from a listing */
	uint64_t snapshots;		/* live: how many the source has */
	char tag[17];			/* live: its source tag */
	int replicas_behind;
};

struct status_opts {
	const char *state_root;		/* NULL: $IMDR_STATE_DIR or /var/lib/imdr */
	const char *repository;		/* only jobs into this repository (NULL: all) */
	const char *const *jobs;	/* only these jobs (none: all) */
	size_t njobs;
	const char *const *sources;	/* only these sources (none: all) */
	size_t nsources;
	int64_t rpo;			/* judge by this RPO instead of the jobs' (0) */
	struct repo *live;		/* list its snapshots too, or NULL */
	int64_t now_ns;			/* 0: now */
};

struct status_result {
	struct status_source *v;
	size_t n;
	int level;			/* the worst */
	int64_t now_ns;
	uint64_t listings;		/* live: listings made */
	uint64_t live_reads;		/* live: objects read meanwhile (0) */
	double seconds;
};

/* status_collect: every job state under the state root that matches o,
 * judged; with o->live, the repository's snapshot names listed (one
 * listing of snapshots/ per replica) to give each source its newest
 * snapshot and count, each replica what it lacks, and a row to any source
 * tag no job names. IMDR_OK, or an error when the state root cannot be
 * read or the live listing fails; a state file that cannot be read is a
 * row of level UNKNOWN naming it. */
int status_collect(const struct status_opts *o, struct status_result *ret);
void status_result_free(struct status_result *ret);

/* status_from_state: one row from one state (status_collect's judging). */
void status_judge(struct status_source *row, int64_t now_ns, int64_t rpo_override);

/* status_level_name: "OK", "WARNING", "CRITICAL", "UNKNOWN". */
const char *status_level_name(int level);

/* status_prometheus: the rows as Prometheus text exposition format (for
 * node-exporter's textfile collector): HELP and TYPE once per metric,
 * labels job, source, repository (and replica), escaped. */
void status_prometheus(const struct status_result *res, FILE *f);
/* status_json: the rows as `imdr status --json` prints them (new ref). */
json_t *status_json(const struct status_result *res);
/* status_zabbix_discovery: low-level discovery JSON, {"data":[{"{#JOB}",
 * "{#SOURCE}", "{#REPOSITORY}"}, ...]} (new ref). */
json_t *status_zabbix_discovery(const struct status_result *res);

#endif
