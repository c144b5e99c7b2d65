/* Unit tests of the pure helpers of ingest/: slugs, Slack ts, RFC 3339. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ingest/ingest_impl.h"
#include "lib/timefmt.h"
#include "tests/unit/test.h"

static void
test_slug(void)
{
	char s[64];

	slug_of("General", s, sizeof(s));
	EXPECT(strcmp(s, "general") == 0);
	slug_of("Water Cooler!!", s, sizeof(s));
	EXPECT(strcmp(s, "water-cooler") == 0);
	slug_of("../../etc/passwd", s, sizeof(s));
	EXPECT(strchr(s, '/') == NULL && strcmp(s, "..") != 0 && s[0] != '.');
	slug_of("", s, sizeof(s));
	EXPECT(strcmp(s, "conversation") == 0);
	slug_of("...", s, sizeof(s));
	EXPECT(strcmp(s, "conversation") == 0);
	slug_of("Bob Müller", s, sizeof(s));
	EXPECT(strcmp(s, "bob-müller") == 0);
	/* 60 two-byte letters: cut at 48 bytes without splitting one */
	slug_of("ééééééééééééééééééééééééééééééééééééééééééééééééééééééééééé", s, sizeof(s));
	EXPECT(strlen(s) == 48);
	slug_of("aéééééééééééééééééééééééééééééééééééééééééééééééééééééééé", s, sizeof(s));
	EXPECT(strlen(s) == 47);
	/* bytes that are not UTF-8, and controls, become '-': a slug is
	 * always valid UTF-8 and one line */
	slug_of("caf\xe9 \xff\xfe bar", s, sizeof(s));
	EXPECT(strcmp(s, "caf-bar") == 0);
	slug_of("a\xc2\x9b\xe2\x80\xae" "b\nc", s, sizeof(s));
	EXPECT(strcmp(s, "a-b-c") == 0);
	slug_of("\xe2\x82", s, sizeof(s));		/* a sequence cut short */
	EXPECT(strcmp(s, "conversation") == 0);
}

static void
test_file_name(void)
{
	char s[200], small[8];
	char long_name[400];

	canon_file_name("report.pdf", s, sizeof(s));
	EXPECT(strcmp(s, "report.pdf") == 0);
	canon_file_name("../../etc/passwd", s, sizeof(s));
	EXPECT(strcmp(s, ".._.._etc_passwd") == 0);
	canon_file_name("..", s, sizeof(s));
	EXPECT(strcmp(s, "unnamed") == 0);
	canon_file_name("", s, sizeof(s));
	EXPECT(strcmp(s, "unnamed") == 0);
	canon_file_name("a\nb\x1b[31m\xff.txt", s, sizeof(s));
	EXPECT(strcmp(s, "a_b_[31m_.txt") == 0);
	/* 150 two-byte letters into 199 bytes: cut between characters */
	long_name[0] = '\0';
	for (int i = 0; i < 150; i++)
		strcat(long_name, "\xc3\xa9");
	canon_file_name(long_name, s, sizeof(s));
	EXPECT(strlen(s) == 198);
	canon_file_name("ab\xf0\x9f\x8e\x82", small, sizeof(small));	/* 2 + 4 bytes fit in 7 */
	EXPECT(strcmp(small, "ab\xf0\x9f\x8e\x82") == 0);
	canon_file_name("abcd\xf0\x9f\x8e\x82", small, sizeof(small));
	EXPECT(strcmp(small, "abcd") == 0);
}

static void
test_clean_path(void)
{
	char *p;

	p = ingest_clean_path("./a//b/./c");
	EXPECT(p && strcmp(p, "a/b/c") == 0);
	free(p);
	EXPECT(ingest_clean_path("/etc/passwd") == NULL);
	EXPECT(ingest_clean_path("a/../../b") == NULL);
	EXPECT(ingest_clean_path("..") == NULL);
	EXPECT(ingest_clean_path("./") == NULL);
	p = ingest_clean_path("a..b/..c");
	EXPECT(p && strcmp(p, "a..b/..c") == 0);
	free(p);
}

static void
test_ts(void)
{
	char out[32];
	int64_t ms;

	EXPECT(ts_parse_slack("1795424460.000200") == 1795424460000LL);
	EXPECT(ts_parse_slack("1795424460.123456") == 1795424460123LL);
	EXPECT(ts_parse_slack("1795424460") == 1795424460000LL);
	EXPECT(ts_parse_slack("17954x") == -1);
	EXPECT(ts_parse_slack("") == -1);
	/* a ts becomes a file name: no blanks, newlines or signs before it */
	EXPECT(ts_parse_slack("\n1795424460.000200") == -1);
	EXPECT(ts_parse_slack(" 1795424460") == -1);
	EXPECT(ts_parse_slack("+1795424460") == -1);
	/* a ts whose milliseconds overflow int64 (found by fuzz_slack) */
	EXPECT(ts_parse_slack("17955072005000100.5") == -1);
	EXPECT(ts_parse_slack("99999999999999999999") == -1);
	/* any number of milliseconds prints as a time of years 1..9999 */
	time_format_ms(INT64_MIN, out);
	EXPECT(strcmp(out, "0001-01-01T00:00:00.000Z") == 0);
	time_format_ms(INT64_MAX, out);
	EXPECT(strcmp(out, "9999-12-31T23:59:59.999Z") == 0);
	EXPECT(ts_scale(INT64_MAX / 1000, 1000000, 5) == INT64_MAX);
	EXPECT(ts_scale(INT64_MIN / 1000, 1000000, -5) == INT64_MIN);
	EXPECT(ts_scale(-2, 1000000000, 999999999) == -1000000001);
	time_format_ms(1795424460123LL, out);
	EXPECT(strcmp(out, "2026-11-23T09:01:00.123Z") == 0);
	EXPECT(time_parse_rfc3339_ms("2026-11-23T09:01:00.123Z", &ms) == 0 && ms == 1795424460123LL);
	EXPECT(time_parse_rfc3339_ms("2026-11-23T09:01:00Z", &ms) == 0 && ms == 1795424460000LL);
	EXPECT(time_parse_rfc3339_ms("2026-11-23T10:01:00+01:00", &ms) == 0 && ms == 1795424460000LL);
	EXPECT(time_parse_rfc3339_ms("2026-11-23 09:01:00", &ms) == -1);
	EXPECT(time_parse_rfc3339_ms("yesterday", &ms) == -1);
	EXPECT(time_parse_rfc3339_ms("2026-13-01T00:00:00Z", &ms) == -1);
	/* a millisecond before the epoch is a time, not an error; years past
	 * what nanoseconds hold still parse in milliseconds */
	EXPECT(time_parse_rfc3339_ms("1969-12-31T23:59:59.999Z", &ms) == 0 && ms == -1);
	EXPECT(time_parse_rfc3339_ms("9999-12-31T23:59:59.999Z", &ms) == 0 && ms == TIME_MS_MAX);
	EXPECT(time_parse_rfc3339("9999-12-31T23:59:59.999Z", &ms) == -1);
}

static void
test_strmap(void)
{
	struct strmap *m = strmap_new();
	char k[32], v[32];

	for (int i = 0; i < 5000; i++) {
		snprintf(k, sizeof(k), "F%07d", i);
		snprintf(v, sizeof(v), "path/%d", i);
		EXPECT(strmap_put(m, k, v) == 1);
	}
	EXPECT(strmap_put(m, "F0000007", "other") == 0);
	EXPECT(strcmp(strmap_get(m, "F0000007"), "path/7") == 0);
	EXPECT(strcmp(strmap_get(m, "F0004999"), "path/4999") == 0);
	EXPECT(strmap_get(m, "F9999999") == NULL);
	strmap_free(m);
}

int
main(void)
{
	RUN(test_slug);
	RUN(test_file_name);
	RUN(test_clean_path);
	RUN(test_ts);
	RUN(test_strmap);
	TEST_EXIT();
}
