/* timefmt — RFC 3339 formatting and the time forms users type. All times are
 * nanoseconds since the Unix epoch, UTC. */
#ifndef IMDR_TIMEFMT_H
#define IMDR_TIMEFMT_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* time_clock_ns: clock (CLOCK_THREAD_CPUTIME_ID, ...) in nanoseconds; 0
 * when it cannot be read. */
int64_t time_clock_ns(clockid_t clock);
int64_t time_now_ns(void);
/* monotonic clock in nanoseconds, for rates and timeouts. */
int64_t time_mono_ns(void);

/* time_format: "2026-11-24T10:01:02Z" (frac_digits 0), or with 3/6/9
 * fractional digits. out must hold 40 bytes. */
void time_format(int64_t ns, int frac_digits, char *out);

/* time_format_compact: "20261124T100102.123456789Z", sortable as text; used
 * in object names. out must hold 32 bytes. */
void time_format_compact(int64_t ns, char *out);
int time_parse_compact(const char *s, int64_t *ret_ns);

/* time_parse: what a user types or an export holds: "2026-11-24",
 * "2026-11-24T10:00", "2026-11-24 10:00:05", "2026-11-24T10:00:05.25Z",
 * "...+02:00". Without a zone the time is UTC. *ret_ns is the start of the
 * given time; *ret_end_ns (may be NULL) is the last nanosecond the given
 * precision covers ("10:00" covers up to 10:00:59.999999999), which is what
 * "the newest snapshot at or before TIME" compares against.
 * Returns 0, or -1 if s is not such a time. */
int time_parse(const char *s, int64_t *ret_ns, int64_t *ret_end_ns);

/* time_parse_rfc3339: exactly an RFC 3339 date-time as exports and the
 * canonical layout hold it ("2026-11-24T10:01:02Z", a fraction and a
 * +hh:mm offset allowed; the date, 'T', seconds and the zone required).
 * 0, or -1 if s is anything else. */
int time_parse_rfc3339(const char *s, int64_t *ret_ns);

/* Milliseconds, for times in exports: any year RFC 3339 can write.
 * time_parse_rfc3339_ms: as time_parse_rfc3339, in ms; 0 or -1.
 * time_clamp_ms: ms clamped to years 1..9999 (TIME_MS_MIN..TIME_MS_MAX).
 * time_format_ms: "2026-11-24T10:01:02.123Z", clamped; out holds 32. */
#define TIME_MS_MIN (-62135596800000LL)	/* 0001-01-01T00:00:00.000Z */
#define TIME_MS_MAX 253402300799999LL	/* 9999-12-31T23:59:59.999Z */
int time_parse_rfc3339_ms(const char *s, int64_t *ret_ms);
int64_t time_clamp_ms(int64_t ms);
void time_format_ms(int64_t ms, char *out);

/* duration_parse: a span as people write it in job files and options:
 * "90" or "90s", "15m", "1h", "1h30m", "2d", "1w" (s, m, h, d, w; parts
 * largest first, each once). 0, or -1 if s is not such a span. */
int duration_parse(const char *s, int64_t *ret_secs);
/* duration_format: the same form, largest units first ("1h30m", "2d",
 * "0s"); out must hold 32 bytes. */
void duration_format(int64_t secs, char *out);

#endif
