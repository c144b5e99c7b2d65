#include "lib/timefmt.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

int64_t
time_clock_ns(clockid_t clock)
{
	struct timespec ts;

	if (clock_gettime(clock, &ts) != 0)
		return 0;
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int64_t
time_now_ns(void)
{
	return time_clock_ns(CLOCK_REALTIME);
}

int64_t
time_mono_ns(void)
{
	return time_clock_ns(CLOCK_MONOTONIC);
}

static void
split(int64_t ns, struct tm *tm, long *frac)
{
	int64_t sec = ns / 1000000000;
	long f = (long)(ns % 1000000000);
	time_t t;

	if (f < 0) {
		f += 1000000000;
		sec--;
	}
	t = (time_t)sec;
	gmtime_r(&t, tm);
	*frac = f;
}

void
time_format(int64_t ns, int frac_digits, char *out)
{
	struct tm tm;
	long frac;
	size_t n;

	split(ns, &tm, &frac);
	n = strftime(out, 40, "%Y-%m-%dT%H:%M:%S", &tm);
	if (frac_digits == 3)
		n += (size_t)snprintf(out + n, 40 - n, ".%03ld", frac / 1000000);
	else if (frac_digits == 6)
		n += (size_t)snprintf(out + n, 40 - n, ".%06ld", frac / 1000);
	else if (frac_digits == 9)
		n += (size_t)snprintf(out + n, 40 - n, ".%09ld", frac);
	snprintf(out + n, 40 - n, "Z");
}

void
time_format_compact(int64_t ns, char *out)
{
	struct tm tm;
	long frac;
	size_t n;

	split(ns, &tm, &frac);
	n = strftime(out, 32, "%Y%m%dT%H%M%S", &tm);
	snprintf(out + n, 32 - n, ".%09ldZ", frac);
}

static int
digits(const char **p, int n, int *ret)
{
	int v = 0;

	for (int i = 0; i < n; i++) {
		if (!isdigit((unsigned char)(*p)[i]))
			return -1;
		v = v * 10 + ((*p)[i] - '0');
	}
	*p += n;
	*ret = v;
	return 0;
}

static int64_t
days_from_civil(int y, int m, int d)
{
	/* Howard Hinnant's algorithm: no timezone state, no mktime. */
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	int64_t yoe = y - era * 400;
	int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;

	return era * 146097 + doe - 719468;
}

int
time_parse_compact(const char *s, int64_t *ret_ns)
{
	int Y, M, D, h, m, sec;
	long frac = 0;
	const char *p = s;

	if (digits(&p, 4, &Y) || digits(&p, 2, &M) || digits(&p, 2, &D) ||
	    *p++ != 'T' || digits(&p, 2, &h) || digits(&p, 2, &m) ||
	    digits(&p, 2, &sec))
		return -1;
	if (*p == '.') {
		int n = 0;

		p++;
		while (isdigit((unsigned char)*p) && n < 9) {
			frac = frac * 10 + (*p++ - '0');
			n++;
		}
		while (n++ < 9)
			frac *= 10;
	}
	if (*p != 'Z')
		return -1;
	*ret_ns = (days_from_civil(Y, M, D) * 86400 + h * 3600 + m * 60 + sec) *
	    (int64_t)1000000000 + frac;
	return 0;
}

/* A parsed time: seconds since the epoch with the zone applied, the
 * fraction in nanoseconds, and the nanoseconds the precision given covers.
 * Years 0..9999: seconds never overflow, nanoseconds may (time_ns_of). */
struct tparts {
	int64_t sec, frac, span;
};

static int
parse_parts(const char *s, struct tparts *ret)
{
	const char *p = s;
	int Y, M, D, h = 0, m = 0, sec = 0;
	int64_t frac = 0, span = 86400LL * 1000000000, off = 0;

	while (isspace((unsigned char)*p))
		p++;
	if (digits(&p, 4, &Y) || *p++ != '-' || digits(&p, 2, &M) ||
	    *p++ != '-' || digits(&p, 2, &D))
		return -1;
	if (M < 1 || M > 12 || D < 1 || D > 31)
		return -1;
	if (*p == 'T' || *p == 't' || (*p == ' ' && isdigit((unsigned char)p[1]))) {
		p++;
		if (digits(&p, 2, &h) || *p++ != ':' || digits(&p, 2, &m))
			return -1;
		span = 60LL * 1000000000;
		if (*p == ':') {
			p++;
			if (digits(&p, 2, &sec))
				return -1;
			span = 1000000000;
			if (*p == '.' || *p == ',') {
				int n = 0;

				p++;
				if (!isdigit((unsigned char)*p))
					return -1;
				while (isdigit((unsigned char)*p)) {
					if (n < 9) {
						frac = frac * 10 + (*p - '0');
						n++;
					}
					p++;
				}
				span = 1;
				for (int i = n; i < 9; i++) {
					frac *= 10;
					span *= 10;
				}
			}
		}
		if (h > 23 || m > 59 || sec > 60)
			return -1;
	}
	if (*p == 'Z' || *p == 'z') {
		p++;
	} else if (*p == '+' || *p == '-') {
		int sign = *p++ == '-' ? -1 : 1, oh, om = 0;

		if (digits(&p, 2, &oh))
			return -1;
		if (*p == ':')
			p++;
		if (isdigit((unsigned char)*p) && digits(&p, 2, &om))
			return -1;
		off = sign * (oh * 3600 + om * 60);
	}
	while (isspace((unsigned char)*p))
		p++;
	if (*p != '\0')
		return -1;
	ret->sec = days_from_civil(Y, M, D) * 86400 + h * 3600 + m * 60 + sec - off;
	ret->frac = frac;
	ret->span = span;
	return 0;
}

/* time_ns_of: the parts as nanoseconds; -1 outside what int64 holds
 * (years 1678 to 2262). */
static int
time_ns_of(const struct tparts *t, int64_t *ret)
{
	if (t->sec > INT64_MAX / 1000000000 - 1 || t->sec < INT64_MIN / 1000000000 + 1)
		return -1;
	*ret = t->sec * 1000000000 + t->frac;
	return 0;
}

int
time_parse(const char *s, int64_t *ret_ns, int64_t *ret_end_ns)
{
	struct tparts t;
	int64_t ns;

	if (parse_parts(s, &t) || time_ns_of(&t, &ns))
		return -1;
	*ret_ns = ns;
	if (ret_end_ns)
		*ret_end_ns = ns + t.span - 1;
	return 0;
}

/* rfc3339_shape: exactly an RFC 3339 date-time: the date, 'T', seconds and
 * the zone required, a fraction allowed. */
static int
rfc3339_shape(const char *s)
{
	const char *p = s;
	size_t n = strlen(s);

	if (n < 20 || p[4] != '-' || p[7] != '-' || (p[10] != 'T' && p[10] != 't') ||
	    p[13] != ':' || p[16] != ':')
		return -1;
	p += 19;
	if (*p == '.') {
		p++;
		if (!isdigit((unsigned char)*p))
			return -1;
		while (isdigit((unsigned char)*p))
			p++;
	}
	if (*p == 'Z' || *p == 'z')
		return p[1] == '\0' ? 0 : -1;
	if (*p == '+' || *p == '-')
		return isdigit((unsigned char)p[1]) && isdigit((unsigned char)p[2]) &&
		    p[3] == ':' && isdigit((unsigned char)p[4]) &&
		    isdigit((unsigned char)p[5]) && p[6] == '\0' ? 0 : -1;
	return -1;
}

int
time_parse_rfc3339(const char *s, int64_t *ret_ns)
{
	struct tparts t;

	if (rfc3339_shape(s) || parse_parts(s, &t))
		return -1;
	return time_ns_of(&t, ret_ns);
}

int
time_parse_rfc3339_ms(const char *s, int64_t *ret_ms)
{
	struct tparts t;

	if (rfc3339_shape(s) || parse_parts(s, &t))
		return -1;
	*ret_ms = t.sec * 1000 + t.frac / 1000000;
	return 0;
}

int64_t
time_clamp_ms(int64_t ms)
{
	return ms < TIME_MS_MIN ? TIME_MS_MIN : ms > TIME_MS_MAX ? TIME_MS_MAX : ms;
}

void
time_format_ms(int64_t ms, char *out)
{
	struct tm tm;
	time_t t;
	int frac;

	ms = time_clamp_ms(ms);
	t = (time_t)(ms >= 0 ? ms / 1000 : (ms - 999) / 1000);
	frac = (int)(ms - (int64_t)t * 1000);
	gmtime_r(&t, &tm);
	snprintf(out, 32, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", (tm.tm_year + 1900) % 10000,
	    (tm.tm_mon + 1) % 100, tm.tm_mday % 100, tm.tm_hour % 100, tm.tm_min % 100,
	    tm.tm_sec % 100, frac % 1000);
}

static const struct { char unit; int64_t secs; } duration_units[] = {
	{ 'w', 604800 }, { 'd', 86400 }, { 'h', 3600 }, { 'm', 60 }, { 's', 1 },
};
#define NDURATION_UNITS (sizeof(duration_units) / sizeof(duration_units[0]))

int
duration_parse(const char *s, int64_t *ret_secs)
{
	int64_t total = 0;
	size_t next_unit = 0;

	if (s == NULL || *s == '\0')
		return -1;
	while (*s) {
		int64_t v = 0;
		size_t u;

		if (!isdigit((unsigned char)*s))
			return -1;
		while (isdigit((unsigned char)*s)) {
			if (v > (INT64_MAX - 9) / 10)
				return -1;
			v = v * 10 + (*s++ - '0');
		}
		if (*s == '\0' && next_unit == 0) {	/* bare seconds */
			*ret_secs = v;
			return 0;
		}
		for (u = next_unit; u < NDURATION_UNITS; u++)
			if (duration_units[u].unit == *s)
				break;
		if (u == NDURATION_UNITS || v > (INT64_MAX - total) / duration_units[u].secs)
			return -1;
		total += v * duration_units[u].secs;
		next_unit = u + 1;
		s++;
	}
	*ret_secs = total;
	return 0;
}

void
duration_format(int64_t secs, char *out)
{
	size_t n = 0;

	if (secs == 0) {
		snprintf(out, 32, "0s");
		return;
	}
	out[0] = '\0';
	if (secs < 0) {
		out[n++] = '-';
		out[n] = '\0';
		secs = secs == INT64_MIN ? INT64_MAX : -secs;
	}
	for (size_t u = 0; u < NDURATION_UNITS && n < 28; u++) {
		int64_t v = secs / duration_units[u].secs;

		if (v == 0)
			continue;
		n += (size_t)snprintf(out + n, 32 - n, "%lld%c", (long long)v, duration_units[u].unit);
		secs -= v * duration_units[u].secs;
	}
}
