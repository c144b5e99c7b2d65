/* test.h — the unit-test harness: EXPECT(cond) names file and line; each
 * TEST is reported as "PASS: name" or "FAIL: name" for tests/run.sh. */
#ifndef IMDR_TEST_H
#define IMDR_TEST_H

#include <stdio.h>
#include <stdlib.h>

static int test_failures;
static int test_total_failed;

#define EXPECT(cond) do { \
	if (!(cond)) { \
		fprintf(stderr, "%s:%d: EXPECT(%s) failed\n", __FILE__, __LINE__, #cond); \
		test_failures++; \
	} \
} while (0)

#define RUN(fn) do { \
	test_failures = 0; \
	fn(); \
	printf("%s: %s\n", test_failures ? "FAIL" : "PASS", #fn); \
	fflush(stdout); \
	if (test_failures) test_total_failed++; \
} while (0)

#define TEST_EXIT() return test_total_failed ? 1 : 0

#endif
