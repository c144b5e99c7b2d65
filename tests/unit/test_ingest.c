/* Unit tests of the pure helpers of ingest/: slugs, Slack ts, RFC 3339. */
#include <string.h>

#include "ingest/ingest_impl.h"
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
}

static void
test_ts(void)
{
	char out[32];

	EXPECT(ts_parse_slack("1795424460.000200") == 1795424460000LL);
	EXPECT(ts_parse_slack("1795424460.123456") == 1795424460123LL);
	EXPECT(ts_parse_slack("1795424460") == 1795424460000LL);
	EXPECT(ts_parse_slack("17954x") == -1);
	EXPECT(ts_parse_slack("") == -1);
	ts_rfc3339(1795424460123LL, out);
	EXPECT(strcmp(out, "2026-11-23T09:01:00.123Z") == 0);
	EXPECT(ts_parse_rfc3339("2026-11-23T09:01:00.123Z") == 1795424460123LL);
	EXPECT(ts_parse_rfc3339("2026-11-23T09:01:00Z") == 1795424460000LL);
	EXPECT(ts_parse_rfc3339("2026-11-23T10:01:00+01:00") == 1795424460000LL);
	EXPECT(ts_parse_rfc3339("2026-11-23 09:01:00") == -1);
	EXPECT(ts_parse_rfc3339("yesterday") == -1);
	EXPECT(ts_parse_rfc3339("2026-13-01T00:00:00Z") == -1);
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
	RUN(test_ts);
	RUN(test_strmap);
	TEST_EXIT();
}
