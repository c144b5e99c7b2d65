/* forget — remove snapshots by a retention policy, restic's rules exactly:
 * keep the newest N (last), one a hour, day, ISO week, month or year for
 * the newest N such periods, everything within a duration of the newest
 * snapshot (and one a period within durations), and whatever carries given
 * tags. Snapshots are grouped (by source and host unless told otherwise)
 * and the policy applies to each group alone; periods are in UTC unless a
 * zone is given. A snapshot a legal hold covers (repo/hold.h) is never
 * removed, whatever the policy, and says which hold kept it.
 *
 * Only snapshot objects go; the data they alone used stays until prune.
 * An audit record naming every removed and kept snapshot and the policy is
 * written before the first removal, so `check` accepts the gaps in the
 * snapshots' chain that forget leaves (and a kill -9 half way leaves the
 * record of the intent). */
#ifndef IMDR_ENGINE_FORGET_H
#define IMDR_ENGINE_FORGET_H

#include <stddef.h>
#include <stdint.h>

#include "engine/engine.h"
#include "repo/repo.h"
#include "repo/snapshot.h"

/* restic's durations: "1y2m3d4h" (years, months, days, hours, any of them,
 * calendar arithmetic from the newest snapshot's time). */
struct forget_duration {
	int years, months, days, hours;
};

/* forget_parse_duration: IMDR_OK, or IMDR_EINVAL with a message. */
int forget_parse_duration(const char *s, struct forget_duration *ret);
/* forget_duration_text: "1y2m3d4h" form into out (64 bytes). */
void forget_duration_text(const struct forget_duration *d, char *out);

enum {
	FORGET_RULE_LAST, FORGET_RULE_HOURLY, FORGET_RULE_DAILY, FORGET_RULE_WEEKLY,
	FORGET_RULE_MONTHLY, FORGET_RULE_YEARLY, FORGET_NCOUNT
};
enum {
	FORGET_WITHIN_HOURLY, FORGET_WITHIN_DAILY, FORGET_WITHIN_WEEKLY,
	FORGET_WITHIN_MONTHLY, FORGET_WITHIN_YEARLY, FORGET_NWITHIN
};

struct forget_policy {
	int keep[FORGET_NCOUNT];	/* 0: rule off; -1: unlimited */
	struct forget_duration within;	/* all within this of the newest */
	struct forget_duration within_period[FORGET_NWITHIN];
	/* keep-tag: each list is a comma-separated set of tags that must
	 * all be present */
	const char *const *tag_lists;
	size_t ntag_lists;
	/* periods in this zone: NULL or "UTC", "local", "+02:00", or a zone
	 * name such as "Europe/Berlin" */
	const char *tz;
};

/* forget_policy_empty: no rule set (forget_run refuses such a policy). */
int forget_policy_empty(const struct forget_policy *p);
/* forget_policy_text: the policy in restic's words; caller frees. */
char *forget_policy_text(const struct forget_policy *p);
/* forget_tz_check: IMDR_OK when tz names a zone this machine knows. */
int forget_tz_check(const char *tz);

/* Why a snapshot is kept: a bit per rule, and for tags which list. */
#define FORGET_WHY_COUNT(rule) (1u << (rule))
#define FORGET_WHY_WITHIN (1u << 6)
#define FORGET_WHY_WITHIN_PERIOD(w) (1u << (7 + (w)))
#define FORGET_WHY_TAG (1u << 12)
#define FORGET_WHY_HELD (1u << 13)
/* kept by a counting rule only as the oldest while its count was left */
#define FORGET_WHY_OLDEST(rule) (1u << (14 + (rule)))

/* One snapshot as the policy sees it. */
struct forget_item {
	int64_t time_ns;
	char *const *tags;
	size_t ntags;
	int held;			/* in: a hold covers it */
	int keep;			/* out */
	unsigned why;			/* out: FORGET_WHY_* */
	size_t tag_list;		/* out: the first tag list that matched */
};

/* forget_apply: decide keep/remove for items, which must all be one group
 * sorted newest first, as restic does (a held item is kept whatever the
 * rules say, and does not use up their counts); now_ns bounds the
 * "newest" that durations count from (future snapshots are skipped).
 * IMDR_EINVAL for a bad zone. */
int forget_apply(const struct forget_policy *p, struct forget_item *items, size_t n,
    int64_t now_ns);

/* forget_why_text: the reasons of a kept item in words ("daily snapshot,
 * within 90d"); caller frees. held_by names the hold, if any. */
char *forget_why_text(const struct forget_policy *p, const struct forget_item *it,
    const char *held_by);

enum { FORGET_GROUP_SOURCE = 1, FORGET_GROUP_HOST = 2 };

struct forget_opts {
	struct forget_policy policy;
	/* or: exactly these snapshots (ids, id prefixes, times, "latest") */
	const char *const *specs;
	size_t nspecs;
	const char *source;		/* only this source's snapshots */
	const char *host;		/* only this host's */
	unsigned group_by;		/* FORGET_GROUP_*; 0: all one group */
	int dry_run;			/* decide and report, remove nothing */
	struct engine_events ev;
};

struct forget_snapshot {
	struct snapshot_name sn;
	char *source, *host;		/* "" when not loaded (not needed) */
	int keep;
	char *why;			/* kept: the reasons, in words */
	char *held_by;			/* kept by a hold: "case (hold 1a2b3c4d)" */
	int refused;			/* named for removal but held */
	int removed;			/* removal done (not in dry runs) */
};

struct forget_group {
	char *source, *host;		/* NULL when not grouped by it */
	size_t first, n;		/* its snapshots: v[first .. first+n) */
};

struct forget_result {
	struct forget_snapshot *v;	/* by group, newest first in each */
	size_t n;
	struct forget_group *groups;
	size_t ngroups;
	size_t kept, removed, held, refused;
	uint64_t loaded;		/* snapshot objects read */
	char audit_id[65];		/* the record written ("" in dry runs) */
};

/* forget_run: apply o to r's snapshots. IMDR_OK when every removal it
 * decided was done (ret->refused counts named snapshots a hold kept);
 * the first removal error otherwise (ret says what was removed).
 * ret must be freed with forget_result_free. */
int forget_run(struct repo *r, const struct forget_opts *o,
    struct forget_result *ret);
void forget_result_free(struct forget_result *ret);

#endif
