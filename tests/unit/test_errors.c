/* Unit tests of error messages (issue #11, item 10): a message longer than
 * the old 1,024-byte cut keeps its reason at the end; one longer than the
 * 4 KiB kept keeps its start and its end, cut at character boundaries; a
 * message formatted from the previous one (node.c's "tree node %s: %s") is
 * not garbled. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/buf.h"
#include "lib/err.h"
#include "tests/unit/test.h"

static int
ends_with(const char *s, const char *end)
{
	size_t n = strlen(s), m = strlen(end);

	return n >= m && strcmp(s + n - m, end) == 0;
}

/* valid_utf8: every multi-byte sequence whole (what a cut must keep). */
static int
valid_utf8(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;

	while (*p) {
		int len = *p < 0x80 ? 1 : (*p & 0xE0) == 0xC0 ? 2 : (*p & 0xF0) == 0xE0 ? 3 :
		    (*p & 0xF8) == 0xF0 ? 4 : 0;

		if (len == 0)
			return 0;
		for (int k = 1; k < len; k++)
			if ((p[k] & 0xC0) != 0x80)
				return 0;
		p += len;
	}
	return 1;
}

static char *
long_path(size_t bytes, const char *part)
{
	struct buf b = BUF_INIT;

	while (b.len < bytes) {
		buf_putc(&b, '/');
		buf_puts(&b, part);
	}
	return buf_cstr(&b);
}

static void
test_reason_survives_a_3000_byte_path(void)
{
	char *path = long_path(3100, "folder");
	const char *m;

	err_set(IMDR_EIO, "cannot write %s: %s", path, "No space left on device");
	m = err_msg(IMDR_EIO);
	EXPECT(strlen(m) > 3100);
	EXPECT(strncmp(m, "cannot write /folder/", 21) == 0);
	EXPECT(ends_with(m, ": No space left on device"));
	free(path);
	err_clear();
}

static void
test_longer_than_kept_keeps_both_ends(void)
{
	/* two-byte characters, so a cut in the wrong place would split one */
	char *path = long_path(10000, "\xc3\xa9t\xc3\xa9");
	const char *m;

	err_set(IMDR_ENOENT, "cannot open %s: %s", path, "No such file or directory");
	m = err_msg(IMDR_ENOENT);
	EXPECT(strlen(m) < 4096);
	EXPECT(strncmp(m, "cannot open /\xc3\xa9t\xc3\xa9/", 17) == 0);
	EXPECT(strstr(m, "...") != NULL);
	EXPECT(ends_with(m, ": No such file or directory"));
	EXPECT(valid_utf8(m));
	free(path);
	err_clear();
}

static void
test_message_from_the_one_before(void)
{
	int rc = err_set(IMDR_EFORMAT, "malformed tree node (offset %d of %d)", 3, 9);

	err_set(rc, "tree node %.16s: %s", "0123456789abcdef0123", err_msg(rc));
	EXPECT(strcmp(err_msg(rc), "tree node 0123456789abcdef: malformed tree node (offset 3 of 9)") == 0);
	/* and again, with a long one: still the same text, in front */
	{
		char *path = long_path(5000, "x");

		err_set(rc, "%s", path);
		err_set(rc, "wrapped: %s", err_msg(rc));
		EXPECT(strncmp(err_msg(rc), "wrapped: /x/x", 13) == 0);
		EXPECT(ends_with(err_msg(rc), "/x") && strlen(err_msg(rc)) < 4096);
		free(path);
	}
	err_clear();
	EXPECT(strcmp(err_msg(IMDR_EPASS), "wrong passphrase") == 0);
}

int
main(void)
{
	RUN(test_reason_survives_a_3000_byte_path);
	RUN(test_longer_than_kept_keeps_both_ends);
	RUN(test_message_from_the_one_before);
	TEST_EXIT();
}
