/* Unit tests of retention: the policy table against restic's own
 * decisions (the expected keep sets were produced by restic 0.14 `forget
 * --dry-run --json` on snapshots at exactly these times; none of these
 * cases meets restic 0.16's "keep the oldest" rule, which imdr follows and
 * which is tested on its own below), month, year and
 * ISO-week boundaries, zones, tags, holds; forget over a repository with
 * several sources (grouping, holds, the audit record, check accepting the
 * gaps it leaves); holds placed and released; moved maps and prune plans
 * as stored; par_for's errors. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "engine/backup.h"
#include "engine/check.h"
#include "engine/forget.h"
#include "lib/err.h"
#include "lib/par.h"
#include "lib/timefmt.h"
#include "repo/audit.h"
#include "repo/hold.h"
#include "repo/lock.h"
#include "repo/moved.h"
#include "repo/plan.h"
#include "repo/snapshot.h"
#include "tests/unit/test.h"

static char tmpdir[256];
static const char pass[] = "correct horse";

/* 88 snapshot times: daily at drifting hours across a year's end, a burst
 * every 3 hours over new year's eve, a leap day, an ISO week 1 that begins
 * in December */
static const char *const policy_times[] = {
	"2023-01-01T00:00:01Z",
	"2024-02-29T12:00:00Z",
	"2024-12-30T23:59:59Z",
	"2025-11-20T10:00:00Z",
	"2025-11-21T17:00:00Z",
	"2025-11-23T00:00:00Z",
	"2025-11-24T07:00:00Z",
	"2025-11-24T14:00:00Z",
	"2025-11-25T21:00:00Z",
	"2025-11-27T04:00:00Z",
	"2025-11-27T11:00:00Z",
	"2025-11-28T18:00:00Z",
	"2025-11-30T01:00:00Z",
	"2025-12-01T08:00:00Z",
	"2025-12-01T15:00:00Z",
	"2025-12-02T22:00:00Z",
	"2025-12-04T05:00:00Z",
	"2025-12-04T12:00:00Z",
	"2025-12-05T19:00:00Z",
	"2025-12-07T02:00:00Z",
	"2025-12-08T09:00:00Z",
	"2025-12-08T16:00:00Z",
	"2025-12-09T23:00:00Z",
	"2025-12-11T06:00:00Z",
	"2025-12-11T13:00:00Z",
	"2025-12-12T20:00:00Z",
	"2025-12-14T03:00:00Z",
	"2025-12-14T10:00:00Z",
	"2025-12-15T17:00:00Z",
	"2025-12-17T00:00:00Z",
	"2025-12-18T07:00:00Z",
	"2025-12-18T14:00:00Z",
	"2025-12-19T21:00:00Z",
	"2025-12-21T04:00:00Z",
	"2025-12-21T11:00:00Z",
	"2025-12-22T18:00:00Z",
	"2025-12-24T01:00:00Z",
	"2025-12-25T08:00:00Z",
	"2025-12-25T15:00:00Z",
	"2025-12-26T22:00:00Z",
	"2025-12-28T05:00:00Z",
	"2025-12-28T12:00:00Z",
	"2025-12-29T19:00:00Z",
	"2025-12-31T00:17:00Z",
	"2025-12-31T02:00:00Z",
	"2025-12-31T03:17:00Z",
	"2025-12-31T06:17:00Z",
	"2025-12-31T09:17:00Z",
	"2025-12-31T12:17:00Z",
	"2025-12-31T15:17:00Z",
	"2025-12-31T18:17:00Z",
	"2025-12-31T21:17:00Z",
	"2026-01-01T00:17:00Z",
	"2026-01-01T03:17:00Z",
	"2026-01-01T09:00:00Z",
	"2026-01-01T16:00:00Z",
	"2026-01-02T23:00:00Z",
	"2026-01-04T06:00:00Z",
	"2026-01-04T13:00:00Z",
	"2026-01-05T20:00:00Z",
	"2026-01-07T03:00:00Z",
	"2026-01-07T10:00:00Z",
	"2026-01-08T17:00:00Z",
	"2026-01-10T00:00:00Z",
	"2026-01-11T07:00:00Z",
	"2026-01-11T14:00:00Z",
	"2026-01-12T21:00:00Z",
	"2026-01-14T04:00:00Z",
	"2026-01-14T11:00:00Z",
	"2026-01-15T18:00:00Z",
	"2026-01-17T01:00:00Z",
	"2026-01-18T08:00:00Z",
	"2026-01-18T15:00:00Z",
	"2026-01-19T22:00:00Z",
	"2026-01-21T05:00:00Z",
	"2026-01-21T12:00:00Z",
	"2026-01-22T19:00:00Z",
	"2026-01-24T02:00:00Z",
	"2026-01-25T09:00:00Z",
	"2026-01-25T16:00:00Z",
	"2026-01-26T23:00:00Z",
	"2026-01-28T06:00:00Z",
	"2026-01-28T13:00:00Z",
	"2026-01-29T20:00:00Z",
	"2026-01-31T03:00:00Z",
	"2026-01-31T10:00:00Z",
	"2026-02-01T17:00:00Z",
	"2026-02-03T00:00:00Z",
};
#define NTIMES (sizeof(policy_times) / sizeof(policy_times[0]))

/* restic's decisions: kept indices into policy_times, -1 ends */
static const struct {
	const char *policy;
	int keep[96];
} restic_cases[] = {
	{ "--keep-last 5", { 83, 84, 85, 86, 87, -1 } },
	{ "--keep-hourly 10", { 78, 79, 80, 81, 82, 83, 84, 85, 86, 87, -1 } },
	{ "--keep-daily 7", { 79, 80, 82, 83, 85, 86, 87, -1 } },
	{ "--keep-weekly 4", { 72, 79, 86, 87, -1 } },
	{ "--keep-monthly 3", { 51, 85, 87, -1 } },
	{ "--keep-yearly 3", { 2, 51, 87, -1 } },
	{ "--keep-daily 5 --keep-weekly 3 --keep-monthly 2 --keep-yearly 2", { 51, 79, 82, 83, 85, 86, 87, -1 } },
	{ "--keep-within 1m", { 57, 58, 59, 60, 61, 62, 63, 64, 65, 66, 67, 68, 69, 70, 71, 72, 73, 74, 75, 76, 77, 78, 79, 80, 81, 82, 83, 84, 85, 86, 87, -1 } },
	{ "--keep-within 10d5h", { 77, 78, 79, 80, 81, 82, 83, 84, 85, 86, 87, -1 } },
	{ "--keep-within-daily 7d", { 82, 83, 85, 86, 87, -1 } },
	{ "--keep-within-weekly 1m --keep-last 2", { 58, 65, 72, 79, 86, 87, -1 } },
	{ "--keep-hourly 30 --keep-monthly 24", { 0, 1, 2, 12, 51, 58, 59, 60, 61, 62, 63, 64, 65, 66, 67, 68, 69, 70, 71, 72, 73, 74, 75, 76, 77, 78, 79, 80, 81, 82, 83, 84, 85, 86, 87, -1 } },
	{ "--keep-daily 200", { 0, 1, 2, 3, 4, 5, 7, 8, 10, 11, 12, 14, 15, 17, 18, 19, 21, 22, 24, 25, 27, 28, 29, 31, 32, 34, 35, 36, 38, 39, 41, 42, 51, 55, 56, 58, 59, 61, 62, 63, 65, 66, 68, 69, 70, 72, 73, 75, 76, 77, 79, 80, 82, 83, 85, 86, 87, -1 } },
};

/* set_policy: restic's flags into a policy (the subset the table uses). */
static int
set_policy(const char *spec, struct forget_policy *p)
{
	char *s = xstrdup(spec), *save = NULL, *opt, *val;
	int ok = 1;

	memset(p, 0, sizeof(*p));
	for (opt = strtok_r(s, " ", &save); opt && ok; opt = strtok_r(NULL, " ", &save)) {
		static const char *const counts[] = { "--keep-last", "--keep-hourly", "--keep-daily",
		    "--keep-weekly", "--keep-monthly", "--keep-yearly" };
		static const char *const within[] = { "--keep-within-hourly", "--keep-within-daily",
		    "--keep-within-weekly", "--keep-within-monthly", "--keep-within-yearly" };
		int done = 0;

		val = strtok_r(NULL, " ", &save);
		if (val == NULL)
			break;
		for (int i = 0; i < FORGET_NCOUNT; i++)
			if (strcmp(opt, counts[i]) == 0)
				p->keep[i] = atoi(val), done = 1;
		for (int i = 0; i < FORGET_NWITHIN; i++)
			if (strcmp(opt, within[i]) == 0)
				ok = forget_parse_duration(val, &p->within_period[i]) == IMDR_OK, done = 1;
		if (strcmp(opt, "--keep-within") == 0)
			ok = forget_parse_duration(val, &p->within) == IMDR_OK, done = 1;
		ok = ok && done;
	}
	free(s);
	return ok;
}

static int64_t
t_of(const char *s)
{
	int64_t t;

	if (time_parse(s, &t, NULL) != 0)
		abort();
	return t;
}

/* apply: items newest first from times (ascending); kept[] by time index */
static int
apply(const struct forget_policy *p, const char *const *times, size_t n, int *kept,
    const int *held)
{
	struct forget_item *it = xcalloc(n, sizeof(*it));
	int rc;

	for (size_t k = 0; k < n; k++) {
		it[k].time_ns = t_of(times[n - 1 - k]);
		it[k].held = held ? held[n - 1 - k] : 0;
	}
	rc = forget_apply(p, it, n, t_of("2030-01-01"));
	for (size_t k = 0; k < n; k++)
		kept[n - 1 - k] = it[k].keep;
	free(it);
	return rc;
}

static void
test_policy_matches_restic(void)
{
	for (size_t c = 0; c < sizeof(restic_cases) / sizeof(restic_cases[0]); c++) {
		struct forget_policy p;
		int kept[NTIMES], want[NTIMES] = { 0 }, same = 1;

		EXPECT(set_policy(restic_cases[c].policy, &p));
		for (size_t k = 0; restic_cases[c].keep[k] >= 0; k++)
			want[restic_cases[c].keep[k]] = 1;
		EXPECT(apply(&p, policy_times, NTIMES, kept, NULL) == IMDR_OK);
		for (size_t i = 0; i < NTIMES; i++)
			same &= kept[i] == want[i];
		if (!same)
			fprintf(stderr, "policy %s differs from restic's\n", restic_cases[c].policy);
		EXPECT(same);
	}
}

static void
test_policy_boundaries(void)
{
	struct forget_policy p;
	int kept[8];
	/* 2026-12-31 (Thursday) and 2027-01-01 are both ISO week 2026-W53 */
	const char *iso[] = { "2026-12-27T12:00Z", "2026-12-31T12:00Z", "2027-01-01T12:00Z",
		"2027-01-04T12:00Z" };
	/* months: the last second of January, the first of February */
	const char *months[] = { "2026-01-15T00:00Z", "2026-01-31T23:59:59Z",
		"2026-02-01T00:00:00Z", "2026-02-10T00:00Z" };
	/* within 1m of March 31 reaches back to "February 31" = March 3 (Go's
	 * and restic's calendar arithmetic) */
	const char *within[] = { "2026-03-02T10:00Z", "2026-03-03T10:00:00Z",
		"2026-03-03T10:00:00.000000001Z", "2026-03-31T10:00Z" };

	memset(&p, 0, sizeof(p));
	p.keep[FORGET_RULE_WEEKLY] = 2;
	EXPECT(apply(&p, iso, 4, kept, NULL) == IMDR_OK);
	/* W01 2027 (Jan 4), then W53 2026: its newest (Jan 1); Dec 27 is W52
	 * and the count is used up */
	EXPECT(kept[3] && kept[2] && !kept[1] && !kept[0]);
	memset(&p, 0, sizeof(p));
	p.keep[FORGET_RULE_MONTHLY] = 2;
	EXPECT(apply(&p, months, 4, kept, NULL) == IMDR_OK);
	EXPECT(kept[3] && !kept[2] && kept[1] && !kept[0]);
	memset(&p, 0, sizeof(p));
	p.keep[FORGET_RULE_YEARLY] = -1;	/* unlimited: one a year, and the oldest */
	EXPECT(apply(&p, iso, 4, kept, NULL) == IMDR_OK);
	EXPECT(kept[3] && !kept[2] && kept[1] && kept[0]);
	memset(&p, 0, sizeof(p));
	EXPECT(forget_parse_duration("1m", &p.within) == IMDR_OK);
	EXPECT(apply(&p, within, 4, kept, NULL) == IMDR_OK);
	EXPECT(!kept[0] && !kept[1] && kept[2] && kept[3]);
}

static void
test_policy_zones(void)
{
	struct forget_policy p;
	int kept[4];
	/* Tokyo (+9): 13:30Z is the 24th there, the rest the 25th */
	const char *t[] = { "2026-11-24T13:30Z", "2026-11-24T14:30Z", "2026-11-24T15:30Z",
		"2026-11-24T16:30Z" };
	struct stat st;

	memset(&p, 0, sizeof(p));
	p.keep[FORGET_RULE_DAILY] = 2;
	EXPECT(apply(&p, t, 4, kept, NULL) == IMDR_OK);
	/* UTC: one day; the newest, then the oldest while a count is left
	 * (restic >= 0.16; labelled "oldest", as restic >= 0.17 does) */
	EXPECT(kept[3] && !kept[2] && !kept[1] && kept[0]);
	{
		struct forget_item it[4];
		char *why;

		memset(it, 0, sizeof(it));
		for (int k = 0; k < 4; k++)
			it[k].time_ns = t_of(t[3 - k]);
		p.tz = NULL;
		EXPECT(forget_apply(&p, it, 4, t_of("2030-01-01")) == IMDR_OK);
		why = forget_why_text(&p, &it[3], NULL);
		EXPECT(strcmp(why, "oldest daily snapshot") == 0);
		free(why);
		why = forget_why_text(&p, &it[0], NULL);
		EXPECT(strcmp(why, "daily snapshot") == 0);
		free(why);
	}
	p.tz = "+09:00";
	EXPECT(apply(&p, t, 4, kept, NULL) == IMDR_OK);
	/* 14:30Z = 23:30 local on the 24th, 15:30Z = 00:30 on the 25th */
	EXPECT(kept[3] && !kept[2] && kept[1] && !kept[0]);
	if (stat("/usr/share/zoneinfo/Asia/Tokyo", &st) == 0) {
		p.tz = "Asia/Tokyo";
		EXPECT(apply(&p, t, 4, kept, NULL) == IMDR_OK);
		EXPECT(kept[3] && !kept[2] && kept[1] && !kept[0]);
		EXPECT(getenv("TZ") == NULL || strcmp(getenv("TZ"), "Asia/Tokyo") != 0);
	}
	p.tz = "Mars/Olympus_Mons";
	EXPECT(apply(&p, t, 4, kept, NULL) == IMDR_EINVAL);
	p.tz = "../../etc/passwd";
	EXPECT(forget_tz_check(p.tz) == IMDR_EINVAL);
}

static void
test_policy_tags_and_holds(void)
{
	struct forget_policy p;
	char *ab[] = { "a", "b" }, *a[] = { "a" }, *c[] = { "c" };
	const char *lists[] = { "a,b", "c" };
	struct forget_item it[5];
	int kept[NTIMES], held[NTIMES] = { 0 }, base[NTIMES];

	memset(&p, 0, sizeof(p));
	memset(it, 0, sizeof(it));
	p.tag_lists = lists;
	p.ntag_lists = 2;
	for (int i = 0; i < 5; i++)
		it[i].time_ns = t_of("2026-11-24") - i * 1000000000LL;
	it[0].tags = a; it[0].ntags = 1;	/* only a: not the list a,b */
	it[1].tags = ab; it[1].ntags = 2;
	it[2].tags = c; it[2].ntags = 1;
	EXPECT(forget_apply(&p, it, 5, t_of("2030-01-01")) == IMDR_OK);
	EXPECT(!it[0].keep && it[1].keep && it[2].keep && !it[3].keep && !it[4].keep);
	EXPECT(it[1].tag_list == 0 && it[2].tag_list == 1);

	/* a hold keeps what it covers and changes nothing else */
	EXPECT(set_policy("--keep-daily 5 --keep-weekly 3", &p));
	EXPECT(apply(&p, policy_times, NTIMES, base, NULL) == IMDR_OK);
	held[3] = held[40] = 1;
	EXPECT(apply(&p, policy_times, NTIMES, kept, held) == IMDR_OK);
	for (size_t i = 0; i < NTIMES; i++)
		EXPECT(kept[i] == (base[i] || held[i]));
	{
		struct forget_item h = { 0 };
		char *why;

		h.time_ns = 1;
		h.held = 1;
		EXPECT(forget_apply(&p, &h, 1, 2) == IMDR_OK && h.keep);
		why = forget_why_text(&p, &h, "Smith v. Acme (hold 1a2b3c4d)");
		EXPECT(strstr(why, "held: Smith v. Acme") != NULL);
		free(why);
	}
}

static void
test_durations(void)
{
	struct forget_duration d;
	char txt[64];

	EXPECT(forget_parse_duration("1y2m3d4h", &d) == IMDR_OK);
	EXPECT(d.years == 1 && d.months == 2 && d.days == 3 && d.hours == 4);
	forget_duration_text(&d, txt);
	EXPECT(strcmp(txt, "1y2m3d4h") == 0);
	EXPECT(forget_parse_duration("90d", &d) == IMDR_OK && d.days == 90 && d.years == 0);
	EXPECT(forget_parse_duration("2w", &d) == IMDR_EINVAL);
	EXPECT(forget_parse_duration("5", &d) == IMDR_EINVAL);
	EXPECT(forget_parse_duration("", &d) == IMDR_EINVAL);
	EXPECT(forget_parse_duration("d", &d) == IMDR_EINVAL);
	EXPECT(forget_parse_duration("-3d", &d) == IMDR_EINVAL);
}

static int
par_item(void *ctx, size_t i)
{
	int *seen = ctx;

	__atomic_add_fetch(&seen[i], 1, __ATOMIC_RELAXED);
	if (i == 57)
		return err_set(IMDR_EIO, "item %zu failed", i);
	return IMDR_OK;
}

static void
test_par(void)
{
	int seen[200] = { 0 }, twice = 0;

	err_clear();
	EXPECT(par_for(200, 8, par_item, seen) == IMDR_EIO);
	EXPECT(strcmp(err_msg(IMDR_EIO), "item 57 failed") == 0);
	for (int i = 0; i < 200; i++)
		twice |= seen[i] > 1;
	EXPECT(!twice && seen[57] == 1);
	memset(seen, 0, sizeof(seen));
	EXPECT(par_for(57, 8, par_item, seen) == IMDR_OK);
	for (int i = 0; i < 57; i++)
		EXPECT(seen[i] == 1);
}

/* ---- over a repository ---- */

static struct repo *
new_repo(const char *name)
{
	char *path = xasprintf("%s/%s", tmpdir, name);
	struct repo *r = NULL;

	EXPECT(repo_init(path, pass, strlen(pass), NULL, &r) == IMDR_OK);
	free(path);
	return r;
}

static void
backup_at(struct repo *r, const char *source, const char *host, const char *when,
    const char *content)
{
	char *src = xasprintf("%s/src-%s", tmpdir, source), *f = xasprintf("%s/f", src);
	struct backup_opts bo;
	struct backup_result br;
	FILE *fp;

	mkdir(src, 0755);
	fp = fopen(f, "w");
	if (fp) {
		fputs(content, fp);
		fclose(fp);
	}
	memset(&bo, 0, sizeof(bo));
	bo.source = src;
	bo.source_name = source;
	bo.host = host;
	bo.time_ns = t_of(when);
	bo.no_cache = 1;
	EXPECT(backup_run(r, &bo, &br) == IMDR_OK);
	free(f);
	free(src);
}

static size_t
count_audit(struct repo *r, const char *command)
{
	struct audit_name *v = NULL;
	size_t n = 0, k = 0;

	EXPECT(audit_list(r, &v, &n) == IMDR_OK);
	for (size_t i = 0; i < n; i++)
		k += strcmp(v[i].command, command) == 0;
	free(v);
	return k;
}

static void
test_forget_sources_holds_and_check(void)
{
	struct repo *r = new_repo("forget");
	struct forget_opts fo;
	struct forget_result fr;
	struct check_opts co;
	struct check_result cr;
	struct hold_spec hs;
	struct hold *h = NULL;
	struct snapshot_name *names = NULL;
	size_t n = 0;
	int removed_held = 0;

	/* acme on two hosts, globex on one: 4 + 2 + 3 snapshots */
	backup_at(r, "acme", "h1", "2026-11-01T10:00Z", "a1");
	backup_at(r, "acme", "h1", "2026-11-02T10:00Z", "a2");
	backup_at(r, "globex", "h1", "2026-11-02T11:00Z", "g1");
	backup_at(r, "acme", "h2", "2026-11-03T10:00Z", "a3");
	backup_at(r, "acme", "h1", "2026-11-04T10:00Z", "a4");
	backup_at(r, "globex", "h1", "2026-11-05T11:00Z", "g2");
	backup_at(r, "acme", "h2", "2026-11-06T10:00Z", "a5");
	backup_at(r, "acme", "h1", "2026-11-07T10:00Z", "a6");
	backup_at(r, "globex", "h1", "2026-11-08T11:00Z", "g3");
	/* hold acme from the 2nd to the 3rd */
	memset(&hs, 0, sizeof(hs));
	hs.case_name = "Smith v. Acme";
	hs.reason = "litigation notice";
	hs.source = "acme";
	hs.has_from = hs.has_to = 1;
	hs.from_ns = t_of("2026-11-02");
	{
		int64_t start;

		time_parse("2026-11-03", &start, &hs.to_ns);
	}
	EXPECT(hold_add(r, &hs, &h) == IMDR_OK);

	memset(&fo, 0, sizeof(fo));
	fo.policy.keep[FORGET_RULE_LAST] = 1;
	fo.group_by = FORGET_GROUP_SOURCE | FORGET_GROUP_HOST;
	fo.dry_run = 1;
	EXPECT(forget_run(r, &fo, &fr) == IMDR_OK);
	EXPECT(fr.ngroups == 3 && fr.kept == 5 && fr.removed == 4 && fr.held == 2);
	EXPECT(fr.audit_id[0] == '\0');
	forget_result_free(&fr);
	EXPECT(snapshot_list(r, &names, &n) == IMDR_OK && n == 9);	/* dry run */
	free(names);

	fo.group_by = FORGET_GROUP_SOURCE;
	fo.source = "acme";
	fo.dry_run = 0;
	EXPECT(forget_run(r, &fo, &fr) == IMDR_OK);
	/* acme only: 6, the newest kept and the two held */
	EXPECT(fr.ngroups == 1 && fr.n == 6 && fr.kept == 3 && fr.removed == 3);
	for (size_t i = 0; i < fr.n; i++) {
		if (fr.v[i].held_by)
			EXPECT(fr.v[i].keep && strstr(fr.v[i].held_by, "Smith v. Acme") != NULL &&
			    strstr(fr.v[i].why, "held") != NULL);
		removed_held |= fr.v[i].held_by && !fr.v[i].keep;
	}
	EXPECT(!removed_held);
	EXPECT(fr.audit_id[0] != '\0' && count_audit(r, "forget") == 1);
	forget_result_free(&fr);
	EXPECT(snapshot_list(r, &names, &n) == IMDR_OK && n == 6);
	free(names);

	/* naming a held snapshot does not remove it */
	memset(&fo, 0, sizeof(fo));
	{
		const char *spec[] = { "2026-11-02T10:00" };

		fo.specs = spec;
		fo.nspecs = 1;
		fo.source = "acme";
		EXPECT(forget_run(r, &fo, &fr) == IMDR_OK);
		EXPECT(fr.refused == 1 && fr.removed == 0);
		forget_result_free(&fr);
	}
	/* no policy: refused, nothing removed */
	memset(&fo, 0, sizeof(fo));
	EXPECT(forget_run(r, &fo, &fr) == IMDR_EINVAL);

	/* the chain has gaps now; the forget record explains each */
	memset(&co, 0, sizeof(co));
	EXPECT(check_run(r, &co, &cr) == IMDR_OK);
	EXPECT(cr.errors == 0);
	/* a snapshot deleted behind forget's back is a gap check reports */
	EXPECT(snapshot_list(r, &names, &n) == IMDR_OK && n == 6);
	/* the 7th: the 8th names it as the one before */
	EXPECT(repo_delete(r, names[4].name) == IMDR_OK);
	free(names);
	EXPECT(check_run(r, &co, &cr) == IMDR_OK);
	EXPECT(cr.errors == 1);

	/* released, the hold no longer keeps them */
	EXPECT(hold_release(r, h, "case settled") == IMDR_OK);
	EXPECT(hold_release(r, h, "again") == IMDR_EINVAL);
	memset(&fo, 0, sizeof(fo));
	fo.policy.keep[FORGET_RULE_LAST] = 1;
	fo.group_by = FORGET_GROUP_SOURCE;
	fo.source = "acme";
	EXPECT(forget_run(r, &fo, &fr) == IMDR_OK);
	EXPECT(fr.held == 0 && fr.kept == 1);
	forget_result_free(&fr);
	hold_free(h);
	repo_free(r);
}

static void
test_holds(void)
{
	struct repo *r = new_repo("holds");
	struct hold_spec hs;
	struct hold **v = NULL, *h = NULL;
	struct snapshot_name sn;
	char ids[1][SNAPSHOT_ID_HEX + 1];
	size_t n = 0, at;

	memset(&hs, 0, sizeof(hs));
	hs.reason = "r";
	hs.all_sources = 1;
	EXPECT(hold_add(r, &hs, NULL) == IMDR_EINVAL);		/* no case */
	hs.case_name = "c";
	hs.all_sources = 0;
	EXPECT(hold_add(r, &hs, NULL) == IMDR_EINVAL);		/* no scope */
	hs.source = "acme";
	hs.all_sources = 1;
	EXPECT(hold_add(r, &hs, NULL) == IMDR_EINVAL);		/* both */
	hs.all_sources = 0;
	hs.has_from = hs.has_to = 1;
	hs.from_ns = 10;
	hs.to_ns = 5;
	EXPECT(hold_add(r, &hs, NULL) == IMDR_EINVAL);		/* backwards */
	hs.has_to = 0;
	EXPECT(hold_add(r, &hs, &h) == IMDR_OK);		/* acme from 10 ns, open */
	hold_free(h);
	memset(&hs, 0, sizeof(hs));
	hs.case_name = "d";
	hs.reason = "r";
	memset(ids[0], 'a', SNAPSHOT_ID_HEX);
	ids[0][SNAPSHOT_ID_HEX] = '\0';
	hs.snapshots = ids;
	hs.nsnapshots = 1;
	EXPECT(hold_add(r, &hs, NULL) == IMDR_OK);
	EXPECT(count_audit(r, "hold-add") == 2);

	EXPECT(hold_list(r, &v, &n) == IMDR_OK && n == 2);
	memset(&sn, 0, sizeof(sn));
	snapshot_source_tag(r, "acme", sn.tag);
	sn.time_ns = t_of("2031-01-01");	/* open end: the future is held */
	memset(sn.id, 'b', SNAPSHOT_ID_HEX);
	EXPECT(hold_covering(v, n, &sn) == v[0]);
	sn.time_ns = 5;
	EXPECT(hold_covering(v, n, &sn) == NULL);
	snapshot_source_tag(r, "globex", sn.tag);
	sn.time_ns = t_of("2031-01-01");
	EXPECT(hold_covering(v, n, &sn) == NULL);
	memset(sn.id, 'a', SNAPSHOT_ID_HEX);
	EXPECT(hold_covering(v, n, &sn) == v[1]);
	EXPECT(hold_find(v, n, "zz", &at) == IMDR_EINVAL);
	EXPECT(hold_find(v, n, v[1]->id, &at) == IMDR_OK && at == 1);
	EXPECT(hold_release(r, v[1], "done") == IMDR_OK);
	EXPECT(count_audit(r, "hold-release") == 1);
	hold_list_free(v, n);
	/* the release is stored: a fresh list shows it, the hold stays listed */
	EXPECT(hold_list(r, &v, &n) == IMDR_OK && n == 2);
	EXPECT(!v[0]->released && v[1]->released && strcmp(v[1]->release_reason, "done") == 0);
	EXPECT(hold_covering(v, n, &sn) == NULL);
	hold_list_free(v, n);
	repo_free(r);
}

static void
test_moved_and_plans(void)
{
	struct repo *r = new_repo("objects");
	struct pack_entry e[3], *got = NULL;
	struct plan_pack pp[2];
	struct plan_name pn, *names = NULL;
	struct plan *pl = NULL;
	struct idset *set = idset_new();
	uint8_t old[32], np[32];
	char sess[2][LOCK_SESSION_HEX + 1] = { "0123456789abcdef0123456789abcdef",
		"fedcba9876543210fedcba9876543210" };
	size_t n = 0;

	memset(e, 0, sizeof(e));
	memset(old, 7, sizeof(old));
	memset(np, 9, sizeof(np));
	for (int i = 0; i < 3; i++) {
		memset(e[i].ref.id, 3 - i, 32);	/* written unsorted */
		memcpy(e[i].ref.pack, np, 32);
		e[i].ref.offset = (uint64_t)i * 100;
		e[i].ref.length = 90;
		e[i].ref.raw_length = 50;
		e[i].type = i == 2;
	}
	EXPECT(moved_write(r, old, e, 3) == IMDR_OK);
	EXPECT(moved_write(r, old, e, 2) == IMDR_OK);		/* replaced */
	EXPECT(moved_load(r, old, &got, &n) == IMDR_OK && n == 2);
	EXPECT(memcmp(got[0].ref.id, e[1].ref.id, 32) == 0);	/* sorted by id */
	EXPECT(moved_find(got, n, e[0].ref.id) && moved_find(got, n, e[0].ref.id)->ref.offset == 0);
	EXPECT(moved_find(got, n, e[2].ref.id) == NULL);
	free(got);
	EXPECT(moved_load(r, np, &got, &n) == IMDR_ENOENT);

	pp[0] = (struct plan_pack){ { 0 }, 1000, e, 3 };
	memset(pp[0].id, 1, 32);
	pp[1] = (struct plan_pack){ { 0 }, 2000, e, 1 };
	memset(pp[1].id, 2, 32);
	EXPECT(plan_write(r, t_of("2026-11-24"), pp, 2, &pn) == IMDR_OK);
	EXPECT(plan_list(r, &names, &n) == IMDR_OK && n == 1 && names[0].body && !names[0].ready);
	free(names);
	EXPECT(plan_write_ready(r, &pn, 42, sess, 2) == IMDR_OK);
	EXPECT(plan_list(r, &names, &n) == IMDR_OK && n == 1 && names[0].ready);
	EXPECT(plan_load(r, &names[0], &pl) == IMDR_OK);
	EXPECT(pl && pl->npacks == 2 && pl->packs[0].n == 3 && pl->packs[1].size == 2000);
	EXPECT(pl && pl->nsessions == 2 && pl->ready_ns == 42 && strcmp(pl->sessions[1], sess[1]) == 0);
	EXPECT(pl && memcmp(pl->packs[0].e[2].ref.pack, pp[0].id, 32) == 0);	/* located in it */
	plan_free(pl);
	EXPECT(plan_pack_set(r, set, NULL) == IMDR_OK && idset_count(set) == 2);
	EXPECT(plan_delete(r, &names[0]) == IMDR_OK);
	free(names);
	EXPECT(plan_list(r, &names, &n) == IMDR_OK && n == 0);
	free(names);
	idset_free(set);
	repo_free(r);
}

/* put_lock: a lock object as another process would have written it. */
static void
put_lock(struct repo *r, const char *name, const char *mode, int64_t time_ns, long pid,
    const char *host)
{
	char *js = xasprintf("{\"exclusive\":%s,\"mode\":\"%s\",\"session\":"
	    "\"00112233445566778899aabbccddeeff\",\"time_ns\":%lld,\"started_ns\":%lld,"
	    "\"host\":\"%s\",\"pid\":%ld}", strcmp(mode, "exclusive") == 0 ? "true" : "false",
	    mode, (long long)time_ns, (long long)time_ns, host, pid);

	EXPECT(repo_put_sealed(r, OBJ_LOCK, name, js, strlen(js)) == IMDR_OK);
	free(js);
}

static void
test_locks(void)
{
	struct repo *r = new_repo("locks");
	struct lock *a = NULL, *b = NULL, *c = NULL;
	struct lock_info *live = NULL;
	char host[128] = "";
	size_t n = 0;

	gethostname(host, sizeof(host) - 1);
	/* prune beside backups; not beside another prune */
	EXPECT(lock_acquire(r, LOCK_SHARED, &a) == IMDR_OK);
	EXPECT(lock_acquire(r, LOCK_PRUNE, &b) == IMDR_OK);
	EXPECT(lock_acquire(r, LOCK_PRUNE, &c) == IMDR_ELOCKED);
	EXPECT(lock_acquire(r, LOCK_SHARED, &c) == IMDR_OK);
	EXPECT(lock_list_live(r, b, &live, &n) == IMDR_OK && n == 2);
	EXPECT(n == 2 && strcmp(live[0].session, live[1].session) != 0 &&
	    strlen(live[0].session) == LOCK_SESSION_HEX);
	free(live);
	EXPECT(lock_fresh(a));
	lock_release(c);
	lock_release(b);
	lock_release(a);
	/* an exclusive lock of a live process blocks a backup ... */
	put_lock(r, "locks/00000000000000000000000000000001", "exclusive", time_now_ns(),
	    (long)getpid(), host);
	EXPECT(lock_acquire(r, LOCK_SHARED, &a) == IMDR_ELOCKED);
	EXPECT(strstr(err_msg(IMDR_ELOCKED), "exclusive") != NULL);
	EXPECT(repo_delete(r, "locks/00000000000000000000000000000001") == IMDR_OK);
	/* ... not when its process on this host is gone, nor when it was not
	 * refreshed for 30 minutes (on another host) */
	put_lock(r, "locks/00000000000000000000000000000002", "exclusive", time_now_ns(),
	    999999999L, host);
	put_lock(r, "locks/00000000000000000000000000000003", "exclusive",
	    time_now_ns() - (int64_t)(LOCK_STALE_SECS + 60) * 1000000000, 1, "elsewhere");
	EXPECT(lock_acquire(r, LOCK_SHARED, &a) == IMDR_OK);
	lock_release(a);
	/* a prune takes them for stale and removes them */
	EXPECT(lock_acquire(r, LOCK_PRUNE, &b) == IMDR_OK);
	EXPECT(repo_stat(r, "locks/00000000000000000000000000000002", NULL) == IMDR_ENOENT);
	EXPECT(repo_stat(r, "locks/00000000000000000000000000000003", NULL) == IMDR_ENOENT);
	lock_release(b);
	repo_free(r);
}

int
main(void)
{
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/imdr-unit-lifecycle.XXXXXX");
	if (mkdtemp(tmpdir) == NULL)
		return 1;
	setenv("IMDR_TEST_FAST_KDF", "1", 1);
	setenv("XDG_CACHE_HOME", tmpdir, 1);
	RUN(test_policy_matches_restic);
	RUN(test_policy_boundaries);
	RUN(test_policy_zones);
	RUN(test_policy_tags_and_holds);
	RUN(test_durations);
	RUN(test_par);
	RUN(test_forget_sources_holds_and_check);
	RUN(test_holds);
	RUN(test_moved_and_plans);
	RUN(test_locks);
	{
		char *cmd = xasprintf("rm -rf %s", tmpdir);

		if (system(cmd) != 0)
			fprintf(stderr, "cannot remove %s\n", tmpdir);
		free(cmd);
	}
	TEST_EXIT();
}
