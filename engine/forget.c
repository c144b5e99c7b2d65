/* forget — see forget.h. The rules are restic's ApplyPolicy, item by item:
 * newest first, each counting rule keeps an item when its period differs
 * from the last one it kept (and, while counts are left, the oldest item
 * too), until its count is used up. Holds only add to what the rules
 * keep; they never change the rules' own choice. */
#include "engine/forget.h"

#include <ctype.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <jansson.h>

#include "lib/array.h"
#include "lib/err.h"
#include "lib/par.h"
#include "lib/timefmt.h"
#include "repo/audit.h"
#include "repo/hold.h"
#include "repo/lock.h"

static const char *const count_names[FORGET_NCOUNT] = {
	"last", "hourly", "daily", "weekly", "monthly", "yearly"
};
static const char *const count_reasons[FORGET_NCOUNT] = {
	"last snapshot", "hourly snapshot", "daily snapshot", "weekly snapshot",
	"monthly snapshot", "yearly snapshot"
};
static const char *const within_reasons[FORGET_NWITHIN] = {
	"hourly within", "daily within", "weekly within", "monthly within", "yearly within"
};

/* ---- durations ---- */

int
forget_parse_duration(const char *s, struct forget_duration *ret)
{
	struct forget_duration d = { 0, 0, 0, 0 };
	const char *p = s;

	while (isspace((unsigned char)*p))
		p++;
	if (*p == '\0')
		return err_set(IMDR_EINVAL, "empty duration (want e.g. 90d, 1y6m, 36h)");
	while (*p && !isspace((unsigned char)*p)) {
		char *end;
		long v;

		if (!isdigit((unsigned char)*p))
			return err_set(IMDR_EINVAL, "duration %s: a number must come before each unit", s);
		v = strtol(p, &end, 10);
		if (v > 100000)
			return err_set(IMDR_EINVAL, "duration %s: %ld is too large", s, v);
		switch (*end) {
		case 'y': d.years = (int)v; break;
		case 'm': d.months = (int)v; break;
		case 'd': d.days = (int)v; break;
		case 'h': d.hours = (int)v; break;
		case '\0':
			return err_set(IMDR_EINVAL, "duration %s: no unit after %ld (y, m, d or h)", s, v);
		default:
			return err_set(IMDR_EINVAL, "duration %s: unknown unit '%c' (y, m, d or h)", s, *end);
		}
		p = end + 1;
	}
	while (isspace((unsigned char)*p))
		p++;
	if (*p)
		return err_set(IMDR_EINVAL, "duration %s: unexpected text", s);
	*ret = d;
	return IMDR_OK;
}

static int
duration_zero(const struct forget_duration *d)
{
	return d->years == 0 && d->months == 0 && d->days == 0 && d->hours == 0;
}

void
forget_duration_text(const struct forget_duration *d, char *out)
{
	int n = 0;

	out[0] = '\0';
	if (d->years)
		n += snprintf(out + n, 64 - (size_t)n, "%dy", d->years);
	if (d->months)
		n += snprintf(out + n, 64 - (size_t)n, "%dm", d->months);
	if (d->days)
		n += snprintf(out + n, 64 - (size_t)n, "%dd", d->days);
	if (d->hours)
		snprintf(out + n, 64 - (size_t)n, "%dh", d->hours);
}

/* ---- zones ----
 *
 * UTC and fixed offsets need no help; a named zone, or the machine's own,
 * goes through the C library, which reads only $TZ: that is process state,
 * so named zones are used under one lock, with $TZ put back afterwards. */

enum { ZONE_UTC, ZONE_OFFSET, ZONE_NAMED, ZONE_LOCAL };
#define ZONE_LOCAL_NAME "local"	/* --tz local: the machine's zone */

struct zone {
	int kind;
	long offset;		/* seconds east of UTC */
	const char *name;
	char *saved_tz;		/* $TZ while a named zone is in use */
	int had_tz;
};

static pthread_mutex_t tz_mu = PTHREAD_MUTEX_INITIALIZER;

static int
zone_parse(const char *tz, struct zone *z)
{
	memset(z, 0, sizeof(*z));
	if (tz == NULL || strcmp(tz, "UTC") == 0 || strcmp(tz, "Z") == 0 ||
	    strcmp(tz, "utc") == 0)
		return IMDR_OK;
	if (strcmp(tz, ZONE_LOCAL_NAME) == 0) {
		z->kind = ZONE_LOCAL;
		return IMDR_OK;
	}
	if ((tz[0] == '+' || tz[0] == '-') && strlen(tz) == 6 && isdigit((unsigned char)tz[1]) &&
	    isdigit((unsigned char)tz[2]) && tz[3] == ':' && isdigit((unsigned char)tz[4]) &&
	    isdigit((unsigned char)tz[5])) {
		int h = (tz[1] - '0') * 10 + tz[2] - '0', m = (tz[4] - '0') * 10 + tz[5] - '0';

		if (h > 23 || m > 59)
			return err_set(IMDR_EINVAL, "zone %s: not an offset", tz);
		z->kind = ZONE_OFFSET;
		z->offset = (tz[0] == '-' ? -1 : 1) * (h * 3600L + m * 60L);
		return IMDR_OK;
	}
	{
		/* the C library takes an unknown name for UTC without a word:
		 * ask the zone database first */
		const char *dir = getenv("TZDIR");
		struct stat st;
		char *path;
		int ok;

		if (strstr(tz, "..") || tz[0] == '/' || strspn(tz, "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
		    "abcdefghijklmnopqrstuvwxyz0123456789/_+-") != strlen(tz))
			return err_set(IMDR_EINVAL, "zone %s: not a zone name (e.g. Europe/Berlin, +02:00, UTC, local)",
			    tz);
		path = xasprintf("%s/%s", dir && *dir ? dir : "/usr/share/zoneinfo", tz);
		ok = stat(path, &st) == 0 && S_ISREG(st.st_mode);
		free(path);
		if (!ok)
			return err_set(IMDR_EINVAL, "zone %s: unknown to this machine's zone database",
			    tz);
	}
	z->kind = ZONE_NAMED;
	z->name = tz;
	return IMDR_OK;
}

int
forget_tz_check(const char *tz)
{
	struct zone z;

	return zone_parse(tz, &z);
}

static void
zone_enter(struct zone *z)
{
	const char *old;

	if (z->kind != ZONE_NAMED && z->kind != ZONE_LOCAL)
		return;
	pthread_mutex_lock(&tz_mu);
	if (z->kind == ZONE_NAMED) {
		old = getenv("TZ");
		z->had_tz = old != NULL;
		z->saved_tz = old ? xstrdup(old) : NULL;
		setenv("TZ", z->name, 1);
	}
	tzset();
}

static void
zone_leave(struct zone *z)
{
	if (z->kind != ZONE_NAMED && z->kind != ZONE_LOCAL)
		return;
	if (z->kind == ZONE_NAMED) {
		if (z->had_tz)
			setenv("TZ", z->saved_tz, 1);
		else
			unsetenv("TZ");
		free(z->saved_tz);
		z->saved_tz = NULL;
	}
	tzset();
	pthread_mutex_unlock(&tz_mu);
}

/* floor division: times before 1970 must round down, not toward zero */
static int64_t
secs_of(int64_t ns)
{
	return ns >= 0 ? ns / 1000000000 : -((-ns + 999999999) / 1000000000);
}

static void
to_tm(const struct zone *z, int64_t ns, struct tm *tm)
{
	time_t t = (time_t)secs_of(ns);

	if (z->kind == ZONE_NAMED || z->kind == ZONE_LOCAL) {
		localtime_r(&t, tm);
		return;
	}
	t += z->kind == ZONE_OFFSET ? z->offset : 0;
	gmtime_r(&t, tm);
}

/* from_tm: tm (fields may be out of range: normalized, like Go's
 * time.Date) back to seconds. */
static int64_t
from_tm(const struct zone *z, struct tm *tm)
{
	if (z->kind == ZONE_NAMED || z->kind == ZONE_LOCAL) {
		tm->tm_isdst = -1;
		return (int64_t)mktime(tm);
	}
	return (int64_t)timegm(tm) - (z->kind == ZONE_OFFSET ? z->offset : 0);
}

/* past: newest minus d, calendar-wise in zone z (restic: AddDate, then
 * hours). */
static int64_t
past(const struct zone *z, int64_t newest_ns, const struct forget_duration *d)
{
	int64_t s = secs_of(newest_ns), frac = newest_ns - s * 1000000000;
	struct tm tm;

	to_tm(z, newest_ns, &tm);
	tm.tm_year -= d->years;
	tm.tm_mon -= d->months;
	tm.tm_mday -= d->days;
	s = from_tm(z, &tm) - (int64_t)d->hours * 3600;
	return s * 1000000000 + frac;
}

/* bucket: the period of a time for a counting rule (restic's ymdh, ymd,
 * yw (ISO week), ym, y; "last" gives every item its own). */
static long
bucket(int rule, const struct tm *tm, size_t nr)
{
	long y = tm->tm_year + 1900L, m = tm->tm_mon + 1L;
	char buf[16];

	switch (rule) {
	case FORGET_RULE_LAST: return (long)nr;
	case FORGET_RULE_HOURLY: return y * 1000000 + m * 10000 + tm->tm_mday * 100 + tm->tm_hour;
	case FORGET_RULE_DAILY: return y * 10000 + m * 100 + tm->tm_mday;
	case FORGET_RULE_WEEKLY:
		strftime(buf, sizeof(buf), "%G%V", tm);
		return strtol(buf, NULL, 10);
	case FORGET_RULE_MONTHLY: return y * 100 + m;
	default: return y;
	}
}

/* ---- the policy ---- */

int
forget_policy_empty(const struct forget_policy *p)
{
	for (int i = 0; i < FORGET_NCOUNT; i++)
		if (p->keep[i])
			return 0;
	for (int i = 0; i < FORGET_NWITHIN; i++)
		if (!duration_zero(&p->within_period[i]))
			return 0;
	return duration_zero(&p->within) && p->ntag_lists == 0;
}

/* has_tags: the item carries every tag of the comma-separated list. */
static int
has_tags(const struct forget_item *it, const char *list)
{
	const char *p = list;

	while (*p) {
		size_t len = strcspn(p, ",");
		int found = 0;

		for (size_t i = 0; i < it->ntags && !found; i++)
			found = strlen(it->tags[i]) == len && memcmp(it->tags[i], p, len) == 0;
		if (len > 0 && !found)
			return 0;
		p += len;
		if (*p == ',')
			p++;
	}
	return 1;
}

int
forget_apply(const struct forget_policy *p, struct forget_item *items, size_t n,
    int64_t now_ns)
{
	long last[FORGET_NCOUNT], wlast[FORGET_NWITHIN];
	int count[FORGET_NCOUNT];
	int64_t newest = 0, within_t = 0, wt[FORGET_NWITHIN];
	struct zone z;
	struct tm *tms;
	int rc, have_newest = 0;

	rc = zone_parse(p->tz, &z);
	if (rc)
		return rc;
	for (int i = 0; i < FORGET_NCOUNT; i++) {
		last[i] = LONG_MIN;
		count[i] = p->keep[i];
	}
	for (int i = 0; i < FORGET_NWITHIN; i++)
		wlast[i] = LONG_MIN;
	if (n == 0)
		return IMDR_OK;
	/* the newest that is not in the future (restic's findLatestTimestamp) */
	for (size_t i = 0; i < n; i++) {
		if (items[i].time_ns < now_ns && (!have_newest || items[i].time_ns > newest)) {
			newest = items[i].time_ns;
			have_newest = 1;
		}
	}
	tms = xcalloc(n, sizeof(*tms));
	zone_enter(&z);
	for (size_t i = 0; i < n; i++)
		to_tm(&z, items[i].time_ns, &tms[i]);
	if (!duration_zero(&p->within))
		within_t = past(&z, newest, &p->within);
	for (int w = 0; w < FORGET_NWITHIN; w++)
		if (!duration_zero(&p->within_period[w]))
			wt[w] = past(&z, newest, &p->within_period[w]);
	zone_leave(&z);

	for (size_t nr = 0; nr < n; nr++) {
		struct forget_item *it = &items[nr];

		it->keep = 0;
		it->why = 0;
		for (size_t k = 0; k < p->ntag_lists; k++) {
			if (has_tags(it, p->tag_lists[k])) {
				if (!(it->why & FORGET_WHY_TAG))
					it->tag_list = k;
				it->why |= FORGET_WHY_TAG;
			}
		}
		if (!duration_zero(&p->within) && it->time_ns > within_t)
			it->why |= FORGET_WHY_WITHIN;
		for (int r = 0; r < FORGET_NCOUNT; r++) {
			long v;

			if (count[r] == 0)
				continue;
			v = bucket(r, &tms[nr], nr);
			/* also the oldest while counts are left: the longest
			 * history the counts allow */
			if (v != last[r] || nr == n - 1) {
				it->why |= FORGET_WHY_COUNT(r);
				if (v == last[r])
					it->why |= FORGET_WHY_OLDEST(r);
				last[r] = v;
				if (count[r] > 0)
					count[r]--;
			}
		}
		for (int w = 0; w < FORGET_NWITHIN; w++) {
			long v;

			if (duration_zero(&p->within_period[w]) || it->time_ns <= wt[w])
				continue;
			v = bucket(w + 1, &tms[nr], nr);
			if (v != wlast[w]) {
				it->why |= FORGET_WHY_WITHIN_PERIOD(w);
				wlast[w] = v;
			}
		}
		if (it->held)
			it->why |= FORGET_WHY_HELD;
		it->keep = it->why != 0;
	}
	free(tms);
	return IMDR_OK;
}

char *
forget_why_text(const struct forget_policy *p, const struct forget_item *it,
    const char *held_by)
{
	struct buf b = BUF_INIT;
	char d[64];

#define SEP() do { if (b.len) buf_puts(&b, ", "); } while (0)
	if (it->why & FORGET_WHY_HELD) {
		SEP();
		buf_puts(&b, "held: ");
		buf_puts(&b, held_by ? held_by : "a legal hold");
	}
	for (int r = 0; r < FORGET_NCOUNT; r++) {
		if (it->why & FORGET_WHY_COUNT(r)) {
			SEP();
			if (it->why & FORGET_WHY_OLDEST(r))
				buf_puts(&b, "oldest ");
			buf_puts(&b, count_reasons[r]);
		}
	}
	if (it->why & FORGET_WHY_WITHIN) {
		SEP();
		forget_duration_text(&p->within, d);
		buf_puts(&b, "within ");
		buf_puts(&b, d);
	}
	for (int w = 0; w < FORGET_NWITHIN; w++) {
		if (it->why & FORGET_WHY_WITHIN_PERIOD(w)) {
			SEP();
			forget_duration_text(&p->within_period[w], d);
			buf_puts(&b, within_reasons[w]);
			buf_putc(&b, ' ');
			buf_puts(&b, d);
		}
	}
	if ((it->why & FORGET_WHY_TAG) && it->tag_list < p->ntag_lists) {
		SEP();
		buf_puts(&b, "has tags [");
		buf_puts(&b, p->tag_lists[it->tag_list]);
		buf_putc(&b, ']');
	}
#undef SEP
	buf_putc(&b, '\0');
	return (char *)b.data;
}

char *
forget_policy_text(const struct forget_policy *p)
{
	struct buf b = BUF_INIT;
	char d[64];

	buf_puts(&b, "keep");
	for (int r = 0; r < FORGET_NCOUNT; r++) {
		char part[64];

		if (p->keep[r] == 0)
			continue;
		if (p->keep[r] < 0)
			snprintf(part, sizeof(part), " all %s,", count_names[r]);
		else
			snprintf(part, sizeof(part), " %d %s,", p->keep[r], count_names[r]);
		buf_puts(&b, part);
	}
	for (int w = 0; w < FORGET_NWITHIN; w++) {
		if (duration_zero(&p->within_period[w]))
			continue;
		forget_duration_text(&p->within_period[w], d);
		buf_puts(&b, " ");
		buf_puts(&b, count_names[w + 1]);
		buf_puts(&b, " within ");
		buf_puts(&b, d);
		buf_puts(&b, ",");
	}
	if (!duration_zero(&p->within)) {
		forget_duration_text(&p->within, d);
		buf_puts(&b, " all within ");
		buf_puts(&b, d);
		buf_puts(&b, " of the newest,");
	}
	for (size_t k = 0; k < p->ntag_lists; k++) {
		buf_puts(&b, " tagged [");
		buf_puts(&b, p->tag_lists[k]);
		buf_puts(&b, "],");
	}
	if (b.len > 4 && b.data[b.len - 1] == ',')
		b.len--;
	if (p->tz) {
		buf_puts(&b, " (periods in ");
		buf_puts(&b, p->tz);
		buf_puts(&b, ")");
	}
	buf_putc(&b, '\0');
	return (char *)b.data;
}

/* ---- the run ---- */

struct run {
	struct repo *r;
	const struct forget_opts *o;
	struct snapshot_name *names;	/* listed, oldest first */
	size_t n;
	struct snapshot **snaps;	/* loaded, or NULL */
	size_t *want;			/* which to load */
	size_t nwant;
	uint64_t loaded;
	struct forget_snapshot **gone;	/* to remove */
	size_t ngone;
	int *gone_rc;
};

static int
load_one(void *ctx, size_t k)
{
	struct run *run = ctx;
	size_t i = run->want[k];
	int rc;

	rc = snapshot_load(run->r, run->names[i].name, &run->snaps[i]);
	__atomic_add_fetch(&run->loaded, 1, __ATOMIC_RELAXED);
	ev_advance(&run->o->ev, 1, 0);
	return rc;
}

static int
delete_one(void *ctx, size_t k)
{
	struct run *run = ctx;
	struct forget_snapshot *fs = run->gone[k];

	/* a failure is reported and counted, the others still go */
	run->gone_rc[k] = repo_delete(run->r, fs->sn.name);
	if (run->gone_rc[k] == IMDR_OK)
		fs->removed = 1;
	else
		ev_error(&run->o->ev, fs->sn.name, err_msg(run->gone_rc[k]));
	return IMDR_OK;
}

/* group_key: what puts snapshot i in a group. */
static char *
group_key(const struct run *run, size_t i)
{
	const struct snapshot *s = run->snaps[i];
	unsigned g = run->o->group_by;

	return xasprintf("%s\n%s", g & FORGET_GROUP_SOURCE ? run->names[i].tag : "",
	    g & FORGET_GROUP_HOST && s ? s->host : "");
}

struct sortable {
	char *key;
	size_t i;
	int64_t t;
};

static int
cmp_sortable(const void *a, const void *b)
{
	const struct sortable *x = a, *y = b;
	int c = strcmp(x->key, y->key);

	if (c)
		return c;
	if (x->t != y->t)
		return x->t > y->t ? -1 : 1;	/* newest first */
	return x->i > y->i ? -1 : x->i < y->i;
}

static char *
source_of_tag(const struct run *run, const char *tag)
{
	for (size_t i = run->n; i-- > 0;)
		if (run->snaps[i] && strcmp(run->names[i].tag, tag) == 0)
			return xstrdup(run->snaps[i]->source);
	return xstrdup("");
}

static char *
audit_scope(const struct run *run, const struct forget_result *ret, const char *policy)
{
	json_t *j = json_object(), *rm = json_array(), *kept = json_array(), *held = json_array();
	char *js;

	for (size_t i = 0; i < ret->n; i++) {
		const struct forget_snapshot *fs = &ret->v[i];

		if (!fs->keep)
			json_array_append_new(rm, json_string(fs->sn.id));
		else
			json_array_append_new(kept, json_string(fs->sn.id));
		if (fs->held_by)
			json_array_append_new(held, json_pack("{s:s, s:s}", "id", fs->sn.id,
			    "hold", fs->held_by));
	}
	json_object_set_new(j, "removed", rm);
	json_object_set_new(j, "kept", kept);
	json_object_set_new(j, "held", held);
	if (policy)
		json_object_set_new(j, "policy", json_string(policy));
	else
		json_object_set_new(j, "policy", json_string("the snapshots named"));
	if (run->o->source)
		json_object_set_new(j, "source", json_string(run->o->source));
	if (run->o->host)
		json_object_set_new(j, "host", json_string(run->o->host));
	json_object_set_new(j, "group_by", json_string(
	    run->o->group_by == (FORGET_GROUP_SOURCE | FORGET_GROUP_HOST) ? "source,host" :
	    run->o->group_by == FORGET_GROUP_SOURCE ? "source" :
	    run->o->group_by == FORGET_GROUP_HOST ? "host" : "none"));
	js = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(j);
	return js;
}

/* decide: fill ret->v and ret->groups from the run's snapshots. */
static int
decide(struct run *run, struct hold **holds, size_t nholds, const int *named,
    struct forget_result *ret)
{
	const struct forget_opts *o = run->o;
	struct sortable *v = xcalloc(run->n ? run->n : 1, sizeof(*v));
	struct forget_item *items = NULL;
	size_t m = 0, gcap = 0;
	int rc = IMDR_OK;

	for (size_t i = 0; i < run->n; i++) {
		if (o->host && (run->snaps[i] == NULL || strcmp(run->snaps[i]->host, o->host) != 0))
			continue;
		v[m].key = group_key(run, i);
		v[m].i = i;
		v[m].t = run->names[i].time_ns;
		m++;
	}
	qsort(v, m, sizeof(*v), cmp_sortable);
	ret->v = xcalloc(m ? m : 1, sizeof(*ret->v));
	items = xcalloc(m ? m : 1, sizeof(*items));
	for (size_t a = 0; a < m && rc == IMDR_OK;) {
		size_t b = a;
		struct forget_group *g;

		while (b < m && strcmp(v[b].key, v[a].key) == 0)
			b++;
		g = ARRAY_PUSH(ret->groups, ret->ngroups, gcap);
		memset(g, 0, sizeof(*g));
		g->first = a;
		g->n = b - a;
		if (o->group_by & FORGET_GROUP_SOURCE)
			g->source = source_of_tag(run, run->names[v[a].i].tag);
		if ((o->group_by & FORGET_GROUP_HOST) && run->snaps[v[a].i])
			g->host = xstrdup(run->snaps[v[a].i]->host);
		for (size_t k = a; k < b; k++) {
			size_t i = v[k].i;
			const struct hold *h = hold_covering(holds, nholds, &run->names[i]);
			struct forget_snapshot *fs = &ret->v[k];

			fs->sn = run->names[i];
			fs->source = xstrdup(run->snaps[i] ? run->snaps[i]->source : "");
			fs->host = xstrdup(run->snaps[i] ? run->snaps[i]->host : "");
			if (h)
				fs->held_by = xasprintf("%s (hold %.8s)", h->case_name, h->id);
			items[k].time_ns = run->names[i].time_ns;
			items[k].tags = run->snaps[i] ? run->snaps[i]->tags : NULL;
			items[k].ntags = run->snaps[i] ? run->snaps[i]->ntags : 0;
			items[k].held = h != NULL;
		}
		if (o->nspecs == 0) {
			rc = forget_apply(&o->policy, items + a, b - a, time_now_ns());
		} else {
			for (size_t k = a; k < b; k++) {
				items[k].why = items[k].held ? FORGET_WHY_HELD : 0;
				items[k].keep = items[k].held || !named[v[k].i];
				ret->v[k].refused = items[k].held && named[v[k].i];
			}
		}
		for (size_t k = a; k < b && rc == IMDR_OK; k++) {
			struct forget_snapshot *fs = &ret->v[k];

			fs->keep = items[k].keep;
			if (fs->keep && o->nspecs == 0)
				fs->why = forget_why_text(&o->policy, &items[k], fs->held_by);
			else if (fs->keep && items[k].held)
				fs->why = xasprintf("held: %s", fs->held_by);
			else if (fs->keep)
				fs->why = xstrdup("not named");
			ret->kept += fs->keep;
			ret->removed += !fs->keep;
			ret->held += items[k].held;
			ret->refused += fs->refused;
		}
		ret->n = b;
		a = b;
	}
	for (size_t k = 0; k < m; k++)
		free(v[k].key);
	free(v);
	free(items);
	return rc;
}

int
forget_run(struct repo *r, const struct forget_opts *o, struct forget_result *ret)
{
	struct run run;
	struct lock *lk = NULL;
	struct hold **holds = NULL;
	struct repo_traits tr;
	size_t nholds = 0;
	int *named = NULL, need_all, rc;
	char *policy = NULL, *scope = NULL;

	memset(ret, 0, sizeof(*ret));
	memset(&run, 0, sizeof(run));
	run.r = r;
	run.o = o;
	if (o->nspecs == 0 && forget_policy_empty(&o->policy))
		return err_set(IMDR_EINVAL, "no policy given: name --keep-* rules or snapshots to forget (nothing was removed)");
	if (o->nspecs && !forget_policy_empty(&o->policy))
		return err_set(IMDR_EINVAL, "give either a policy or snapshots to forget, not both");
	if ((rc = forget_tz_check(o->policy.tz)) != IMDR_OK)
		return rc;
	if (o->source && (rc = snapshot_source_check(o->source)) != IMDR_OK)
		return rc;
	if (!o->dry_run && (rc = lock_acquire(r, LOCK_SHARED, &lk)) != IMDR_OK)
		return rc;
	rc = snapshot_list(r, &run.names, &run.n);
	if (rc == IMDR_OK && o->source) {
		char tag[SNAPSHOT_TAG_HEX + 1];

		snapshot_source_tag(r, o->source, tag);
		run.n = snapshot_filter_source(run.names, run.n, tag);
		if (run.n == 0)
			rc = err_set(IMDR_ENOENT, "no snapshot of source %s", o->source);
	}
	if (rc == IMDR_OK)
		rc = hold_list(r, &holds, &nholds);
	if (rc)
		goto out;

	/* What must be read: host and tags live in the snapshot objects, the
	 * source's tag and the time in their names. Read only what the
	 * grouping and the rules need, many at once; otherwise the newest of
	 * each source, to name it. */
	run.snaps = xcalloc(run.n ? run.n : 1, sizeof(*run.snaps));
	run.want = xcalloc(run.n ? run.n : 1, sizeof(*run.want));
	need_all = (o->group_by & FORGET_GROUP_HOST) || o->host || o->policy.ntag_lists;
	for (size_t i = run.n; i-- > 0;) {
		int first_of_tag = 1;

		for (size_t k = 0; k < run.nwant && !need_all && first_of_tag; k++)
			first_of_tag = strcmp(run.names[run.want[k]].tag, run.names[i].tag) != 0;
		if (need_all || first_of_tag)
			run.want[run.nwant++] = i;
	}
	repo_traits(r, &tr);
	ev_total(&o->ev, run.nwant, 0);
	rc = par_for(run.nwant, tr.concurrency, load_one, &run);
	ret->loaded = run.loaded;
	if (rc)
		goto out;

	named = xcalloc(run.n ? run.n : 1, sizeof(*named));
	for (size_t k = 0; k < o->nspecs; k++) {
		size_t i;

		rc = snapshot_resolve_name(run.names, run.n, o->specs[k], &i);
		if (rc)
			goto out;
		named[i] = 1;
	}
	rc = decide(&run, holds, nholds, named, ret);
	if (rc || o->dry_run || ret->removed == 0)
		goto out;

	/* the record first: a crash after it leaves gaps that check accepts,
	 * never gaps nothing explains */
	policy = o->nspecs ? NULL : forget_policy_text(&o->policy);
	scope = audit_scope(&run, ret, policy);
	rc = audit_append(r, &(struct audit_event){ "forget", scope, "ok" }, ret->audit_id);
	if (rc)
		goto out;
	run.gone = xcalloc(ret->removed, sizeof(*run.gone));
	run.gone_rc = xcalloc(ret->removed, sizeof(*run.gone_rc));
	for (size_t i = 0; i < ret->n; i++)
		if (!ret->v[i].keep)
			run.gone[run.ngone++] = &ret->v[i];
	par_for(run.ngone, tr.concurrency, delete_one, &run);
	for (size_t k = 0; k < run.ngone && rc == IMDR_OK; k++) {
		if (run.gone_rc[k] != IMDR_OK) {
			size_t failed = 0;

			for (size_t q = 0; q < run.ngone; q++)
				failed += run.gone_rc[q] != IMDR_OK;
			rc = err_set(run.gone_rc[k], "%zu of %zu snapshots could not be removed (%s ...)",
			    failed, run.ngone, run.gone[k]->sn.name);
		}
	}
	if (rc) {
		/* say so in the log too: the first record named them all */
		json_t *j = json_object(), *a = json_array();
		char *js, *msg = xstrdup(err_msg(rc));

		for (size_t k = 0; k < run.ngone; k++)
			if (run.gone_rc[k] != IMDR_OK)
				json_array_append_new(a, json_string(run.gone[k]->sn.id));
		json_object_set_new(j, "not_removed", a);
		js = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
		json_decref(j);
		audit_append(r, &(struct audit_event){ "forget", js, msg }, NULL);
		err_set(rc, "%s", msg);
		free(js);
		free(msg);
	}
out:
	for (size_t i = 0; run.snaps && i < run.n; i++)
		snapshot_free(run.snaps[i]);
	free(run.snaps);
	free(run.want);
	free(run.names);
	free(run.gone);
	free(run.gone_rc);
	free(named);
	free(policy);
	free(scope);
	hold_list_free(holds, nholds);
	lock_release(lk);
	return rc;
}

void
forget_result_free(struct forget_result *ret)
{
	for (size_t i = 0; i < ret->n; i++) {
		free(ret->v[i].source);
		free(ret->v[i].host);
		free(ret->v[i].why);
		free(ret->v[i].held_by);
	}
	free(ret->v);
	for (size_t g = 0; g < ret->ngroups; g++) {
		free(ret->groups[g].source);
		free(ret->groups[g].host);
	}
	free(ret->groups);
	memset(ret, 0, sizeof(*ret));
}
