/* Unit tests of lib/text (UTF-8, terminal escaping, base64),
 * lib/beneath (opening untrusted paths inside a folder), lib/hash (keyed
 * hashing) and lib/smap (string maps). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/beneath.h"
#include "lib/buf.h"
#include "lib/hash.h"
#include "lib/smap.h"
#include "lib/text.h"
#include "tests/unit/test.h"

static void
test_utf8(void)
{
	const unsigned char ok2[] = "\xc3\xa9", ok4[] = "\xf0\x9f\x8e\x82";

	EXPECT(text_utf8_len(ok2, 2) == 2);
	EXPECT(text_utf8_len(ok4, 4) == 4);
	EXPECT(text_utf8_len(ok4, 3) == 0);			/* cut short */
	EXPECT(text_utf8_len((const unsigned char *)"\xc0\xaf", 2) == 0);	/* overlong '/' */
	EXPECT(text_utf8_len((const unsigned char *)"\xed\xa0\x80", 3) == 0);	/* surrogate */
	EXPECT(text_utf8_len((const unsigned char *)"\xf4\x90\x80\x80", 4) == 0);	/* > U+10FFFF */
	EXPECT(text_utf8_len((const unsigned char *)"\x80", 1) == 0);
	EXPECT(text_utf8_valid("Bob M\xc3\xbcller", 11));
	EXPECT(!text_utf8_valid("caf\xe9", 4));
	EXPECT(!text_utf8_valid("\xff\xfe", 2));
	/* cuts never split a character */
	EXPECT(text_utf8_cut("\xc3\xa9\xc3\xa9", 3) == 2);
	EXPECT(text_utf8_cut("a\xf0\x9f\x8e\x82", 4) == 1);
	EXPECT(text_utf8_cut("abc", 10) == 3);
	EXPECT(text_utf8_cut("ab\xff\xff", 3) == 3);
	{
		char *l = text_utf8_lossy("a\xffz\xc3");

		EXPECT(strcmp(l, "a\xef\xbf\xbdz\xef\xbf\xbd") == 0);
		free(l);
	}
}

static void
test_term(void)
{
	struct buf b = BUF_INIT;

	text_escape_term(&b, "evil\n[2026-11-24 10:00:00Z] CEO\x1b[31m\r\t\x7f");
	EXPECT(strcmp(buf_cstr(&b), "evil\\n[2026-11-24 10:00:00Z] CEO\\x1b[31m\\r\\t\\x7f") == 0);
	b.len = 0;
	/* C1 CSI, line separator, right-to-left override, a bad byte */
	text_escape_term(&b, "a\xc2\x9b" "b\xe2\x80\xa8" "c\xe2\x80\xae" "d\xff");
	EXPECT(strcmp(buf_cstr(&b), "a\\u009bb\\u2028c\\u202ed\\xff") == 0);
	b.len = 0;
	text_escape_term(&b, "Chlo\xc3\xa9 \xf0\x9f\x8e\x82 a\\b");
	EXPECT(strcmp(buf_cstr(&b), "Chlo\xc3\xa9 \xf0\x9f\x8e\x82 a\\b") == 0);
	EXPECT(!text_needs_term_escape("Chlo\xc3\xa9 ok"));
	EXPECT(text_needs_term_escape("x\x1b"));
	buf_free(&b);
}

static void
test_base64(void)
{
	struct buf b = BUF_INIT;
	const char *v[] = { "", "f", "fo", "foo", "foob", "fooba", "foobar" };
	const char *e[] = { "", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy" };

	for (int i = 0; i < 7; i++) {
		char *s = text_base64(v[i], strlen(v[i]));

		EXPECT(strcmp(s, e[i]) == 0);
		EXPECT(text_unbase64(s, &b) == 0 && b.len == strlen(v[i]) &&
		    memcmp(b.data, v[i], b.len) == 0);
		free(s);
	}
	EXPECT(text_unbase64("Zm9", &b) != 0);
	EXPECT(text_unbase64("Z===", &b) != 0);
	EXPECT(text_unbase64("Zm=v", &b) != 0);
	EXPECT(text_unbase64("Zm9!", &b) != 0);
	buf_free(&b);
}

/* a folder: root/{in.txt, sub/in2.txt, up -> ../secret, abs -> /<secret>,
 * inlink -> in.txt, subl -> sub}, secret beside root */
static void
beneath_case(const char *top)
{
	char root[512], p[600];
	int rfd, fd;

	snprintf(root, sizeof(root), "%s/root", top);
	rfd = open(root, O_RDONLY | O_DIRECTORY);
	EXPECT(rfd >= 0);
	fd = beneath_open(rfd, "in.txt", O_RDONLY);
	EXPECT(fd >= 0);
	close(fd);
	fd = beneath_open(rfd, "sub//in2.txt", O_RDONLY);
	EXPECT(fd >= 0);
	close(fd);
	errno = 0;
	EXPECT(beneath_open(rfd, "../secret", O_RDONLY) < 0 && errno == EXDEV);
	EXPECT(beneath_open(rfd, "sub/../../secret", O_RDONLY) < 0 && errno == EXDEV);
	snprintf(p, sizeof(p), "%s/secret", top);
	EXPECT(beneath_open(rfd, p, O_RDONLY) < 0 && errno == EXDEV);
	EXPECT(beneath_open(rfd, "up", O_RDONLY) < 0 && (errno == EXDEV || errno == ELOOP));
	EXPECT(beneath_open(rfd, "abs", O_RDONLY) < 0 && (errno == EXDEV || errno == ELOOP));
	EXPECT(beneath_open(rfd, "subl/../../secret", O_RDONLY) < 0);
	EXPECT(beneath_open(rfd, "missing", O_RDONLY) < 0 && errno == ENOENT);
	EXPECT(beneath_open(rfd, "", O_RDONLY) < 0);
	close(rfd);
}

static void
test_beneath(void)
{
	char top[] = "/tmp/imdr-beneath.XXXXXX", p[600], q[600];

	EXPECT(mkdtemp(top) != NULL);
	snprintf(p, sizeof(p), "%s/root", top);
	mkdir(p, 0755);
	snprintf(p, sizeof(p), "%s/root/sub", top);
	mkdir(p, 0755);
#define PUT(name) do { \
	snprintf(p, sizeof(p), "%s/%s", top, name); \
	FILE *f = fopen(p, "w"); \
	EXPECT(f != NULL); \
	if (f) { fputs("x", f); fclose(f); } \
} while (0)
	PUT("secret");
	PUT("root/in.txt");
	PUT("root/sub/in2.txt");
	snprintf(p, sizeof(p), "%s/root/up", top);
	EXPECT(symlink("../secret", p) == 0);
	snprintf(p, sizeof(p), "%s/root/abs", top);
	snprintf(q, sizeof(q), "%s/secret", top);
	EXPECT(symlink(q, p) == 0);
	snprintf(p, sizeof(p), "%s/root/subl", top);
	EXPECT(symlink("sub", p) == 0);

	beneath_case(top);		/* openat2, where the kernel has it */
	setenv("IMDR_TEST_NO_OPENAT2", "1", 1);
	beneath_case(top);		/* the per-component fallback */
	{
		/* the fallback refuses even symlinks that stay inside */
		int rfd;

		snprintf(p, sizeof(p), "%s/root", top);
		rfd = open(p, O_RDONLY | O_DIRECTORY);
		errno = 0;
		EXPECT(beneath_open(rfd, "subl/in2.txt", O_RDONLY) < 0 && errno == ELOOP);
		close(rfd);
	}
	snprintf(p, sizeof(p), "rm -rf '%s'", top);
	EXPECT(system(p) == 0);
}

/* SipHash-1-3 against published vectors (all-zero key), and a keyed table
 * that still finds every key among many that share an FNV-1a hash. */
static void
test_hash(void)
{
	static const uint8_t zero[16];
	struct smap m = SMAP_INIT;
	char k[32];
	size_t v, found = 0;

	EXPECT(hash_siphash13(zero, "", 0) == 0xd1fba762150c532cULL);
	EXPECT(hash_siphash13(zero, "siphash", 7) == 0x8264ceeccb16bcbeULL);
	EXPECT(hash_keyed_str("a") != hash_keyed_str("b"));
	EXPECT(hash_keyed("abc", 3) == hash_keyed_str("abc"));
	for (size_t i = 0; i < 5000; i++) {
		snprintf(k, sizeof(k), "user%zu", i);
		smap_put(&m, k, i);
	}
	for (size_t i = 0; i < 5000; i++) {
		snprintf(k, sizeof(k), "user%zu", i);
		found += smap_get(&m, k, &v) && v == i;
	}
	EXPECT(found == 5000);
	EXPECT(!smap_get(&m, "user5000", NULL));
	smap_put(&m, "user7", 70);
	EXPECT(smap_get(&m, "user7", &v) && v == 70);
	EXPECT(m.n == 5000);
	smap_free(&m);
}

int
main(void)
{
	RUN(test_utf8);
	RUN(test_term);
	RUN(test_base64);
	RUN(test_beneath);
	RUN(test_hash);
	TEST_EXIT();
}
