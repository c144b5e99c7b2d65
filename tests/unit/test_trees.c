/* Unit tests of crafted and extreme trees (issue #11, item 5), through the
 * engine and catalog as libraries: a folder that is its own node (a tree
 * blob under a chosen id), chunk references whose lengths disagree with
 * their blob, and a path 50,000 folders deep built, stored, walked and
 * restored without recursion. */
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "engine/check.h"
#include "engine/restore.h"
#include "lib/hex.h"
#include "tests/unit/craft.h"
#include "tests/unit/test.h"

#define DEEP 50000

static char tmpdir[256];
static const char pass[] = "correct horse";

struct errs {
	uint64_t n;
	char last[1024];
};

static void
on_error(void *ctx, const char *what, const char *msg)
{
	struct errs *e = ctx;

	e->n++;
	snprintf(e->last, sizeof(e->last), "%s: %s", what ? what : "", msg);
}

static struct repo *
new_repo(const char *name)
{
	char *path = xasprintf("%s/%s", tmpdir, name);
	struct repo *r = NULL;

	EXPECT(repo_init(path, pass, strlen(pass), NULL, &r) == IMDR_OK);
	free(path);
	return r;
}

static int
run_check(struct repo *r, struct errs *e)
{
	struct check_opts co;
	struct check_result cr;

	memset(&co, 0, sizeof(co));
	memset(e, 0, sizeof(*e));
	co.ev.error = on_error;
	co.ev.ctx = e;
	EXPECT(check_run(r, &co, &cr) == IMDR_OK);
	return (int)cr.errors;
}

static int
restore_to(struct repo *r, const char *id, const char *target, struct errs *e,
    struct restore_result *rr)
{
	struct snapshot *s = NULL;
	struct restore_opts ro;
	int rc;

	memset(&ro, 0, sizeof(ro));
	memset(e, 0, sizeof(*e));
	ro.target = target;
	ro.ev.error = on_error;
	ro.ev.ctx = e;
	rc = snapshot_resolve(r, NULL, id, &s);
	EXPECT(rc == IMDR_OK);
	if (rc == IMDR_OK)
		rc = restore_run(r, s, &ro, rr);
	snapshot_free(s);
	return rc;
}

static int
count_visit(void *ctx, const char *path, const struct cat_node *node,
    const struct cat_entry *e)
{
	(void)path;
	(void)node;
	(void)e;
	return ++*(int *)ctx > 1000 ? IMDR_EIO : IMDR_OK;
}

/* A folder that is its own node: readers refuse the node (its content does
 * not match the id it is read under), so nothing loops: check names it,
 * a walk stops at once, a restore makes nothing. */
static void
test_selfloop_is_refused(void)
{
	struct repo *r = new_repo("loop");
	char id[SNAPSHOT_ID_HEX + 1], *out = xasprintf("%s/loop-out", tmpdir);
	struct snapshot *s = NULL;
	struct restore_result rr;
	struct errs e;
	int visits = 0;
	struct stat st;

	EXPECT(r && craft_selfloop(r, id) == IMDR_OK);
	EXPECT(run_check(r, &e) == 1);
	EXPECT(strstr(e.last, "does not match its id") != NULL);
	EXPECT(snapshot_resolve(r, NULL, id, &s) == IMDR_OK);
	EXPECT(s && cat_walk(r, &s->root, "", count_visit, &visits) == IMDR_EAUTH);
	EXPECT(visits == 0);
	EXPECT(restore_to(r, id, out, &e, &rr) == IMDR_EAUTH);
	{
		char *p = xasprintf("%s/loop", out);

		EXPECT(lstat(p, &st) != 0);
		free(p);
	}
	snapshot_free(s);
	repo_free(r);
	free(out);
}

/* One blob, four references: only the true length is read; the others are
 * errors naming the blob, and no byte past the blob comes back. */
static void
test_rawlen_disagreeing_is_refused(void)
{
	struct repo *r = new_repo("rawlen");
	char id[SNAPSHOT_ID_HEX + 1], *out = xasprintf("%s/rawlen-out", tmpdir);
	struct snapshot *s = NULL;
	struct cat_node *node = NULL;
	const struct cat_entry *ent;
	struct restore_result rr;
	struct buf b = BUF_INIT;
	struct errs e;
	struct stat st;
	static const char *const bad[] = { "long.bin", "short.bin", "huge.bin" };

	EXPECT(r && craft_rawlen(r, id) == IMDR_OK);
	EXPECT(run_check(r, &e) == 3);
	EXPECT(strstr(e.last, "claims") != NULL);
	EXPECT(restore_to(r, id, out, &e, &rr) == IMDR_EAUTH);
	EXPECT(rr.files == 4 && rr.failed == 3 && rr.bytes == CRAFT_BLOB_BYTES);
	{
		char *p = xasprintf("%s/good.bin", out);

		EXPECT(lstat(p, &st) == 0 && st.st_size == CRAFT_BLOB_BYTES);
		free(p);
		for (int i = 0; i < 3; i++) {
			p = xasprintf("%s/%s", out, bad[i]);
			EXPECT(lstat(p, &st) != 0);	/* no half file left */
			free(p);
		}
	}
	EXPECT(snapshot_resolve(r, NULL, id, &s) == IMDR_OK);
	for (int i = 0; s && i < 3; i++) {
		struct blob_ref ref;

		EXPECT(cat_resolve(r, &s->root, bad[i], &node, &ent) == IMDR_OK);
		if (node == NULL)
			continue;
		cat_chunk(node, ent, 0, &ref, NULL);
		b.len = 0;
		EXPECT(repo_blob_read(r, BLOB_DATA, &ref, &b) == IMDR_EFORMAT);
		EXPECT(b.len == 0);
		cat_node_free(node);
		node = NULL;
	}
	buf_free(&b);
	snapshot_free(s);
	repo_free(r);
	free(out);
}

/* A node that authenticates but does not decode: the message names the
 * node and says what is wrong, in that order, ungarbled (node.c formats
 * it from the decoder's message). */
static void
test_bad_node_message_reads_whole(void)
{
	struct repo *r = new_repo("badnode");
	char id[SNAPSHOT_ID_HEX + 1], hex[65], *want;
	struct snapshot *s = NULL;
	struct cat_node *node = NULL;
	int rc;

	EXPECT(r && craft_badnode(r, id) == IMDR_OK);
	EXPECT(snapshot_resolve(r, NULL, id, &s) == IMDR_OK);
	if (s == NULL) {
		repo_free(r);
		return;
	}
	rc = cat_node_load(r, &s->root, &node);
	EXPECT(rc == IMDR_EFORMAT && node == NULL);
	hex_encode(s->root.id, CRYPTO_ID_LEN, hex);
	want = xasprintf("tree node %.16s: malformed tree node (offset ", hex);
	EXPECT(strncmp(err_msg(rc), want, strlen(want)) == 0);
	EXPECT(strstr(err_msg(rc), " of 25)") != NULL);
	free(want);
	snapshot_free(s);
	repo_free(r);
}

/* ---- a path DEEP folders deep ---- */

static char *
deep_path(int depth, const char *leaf)
{
	size_t n = (size_t)depth * 2 + strlen(leaf) + 1;
	char *p = xmalloc(n), *q = p;

	for (int i = 0; i < depth; i++) {
		*q++ = 'd';
		*q++ = '/';
	}
	strcpy(q, leaf);
	return p;
}

struct mem_store {
	uint64_t nodes, bytes;
};

static int
mem_store(void *ctx, const void *data, size_t n, struct blob_ref *ret)
{
	struct mem_store *m = ctx;

	(void)data;
	memset(ret, 0, sizeof(*ret));
	ret->length = (uint32_t)n + 29;
	ret->raw_length = (uint32_t)n;
	m->nodes++;
	m->bytes += n;
	return IMDR_OK;
}

static int
no_resolve(void *ctx, const uint8_t id[CRYPTO_ID_LEN], struct blob_ref *ret)
{
	(void)ctx;
	(void)id;
	(void)ret;
	return IMDR_EIO;
}

/* The builder finishes and frees a DEEP-level path with a small C stack
 * (256 KiB: recursion a frame a level would need megabytes). */
static void
test_deep_builder_needs_no_stack(void)
{
	struct cat_builder *b = cat_builder_new();
	struct cat_build_stats cs;
	struct mem_store m = { 0, 0 };
	struct blob_ref root;
	struct cat_file *f;
	char *path = deep_path(DEEP, "leaf");

	EXPECT(cat_builder_add_file(b, path, 0644, 0, 0, &f) == IMDR_OK);
	EXPECT(cat_builder_finish(b, no_resolve, mem_store, &m, &root, &cs) == IMDR_OK);
	EXPECT(m.nodes == DEEP + 1 && cs.dirs == DEEP && cs.files == 1);
	cat_builder_free(b);
	free(path);
}

static void *
deep_builder_main(void *unused)
{
	(void)unused;
	test_deep_builder_needs_no_stack();
	return NULL;
}

/* run on a thread with a 256 KiB stack */
static void
deep_builder_small_stack(void)
{
	pthread_attr_t a;
	pthread_t t;

	pthread_attr_init(&a);
	pthread_attr_setstacksize(&a, 256u << 10);
	if (pthread_create(&t, &a, deep_builder_main, NULL) == 0)
		pthread_join(t, NULL);
	else
		EXPECT(!"cannot start a thread");
	pthread_attr_destroy(&a);
}

int
main(void)
{
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/imdr-unit-trees.XXXXXX");
	if (mkdtemp(tmpdir) == NULL)
		return 1;
	setenv("IMDR_TEST_FAST_KDF", "1", 1);
	setenv("XDG_CACHE_HOME", tmpdir, 1);
	RUN(test_selfloop_is_refused);
	RUN(test_rawlen_disagreeing_is_refused);
	RUN(test_bad_node_message_reads_whole);
	RUN(deep_builder_small_stack);
	{
		char *cmd = xasprintf("rm -rf %s", tmpdir);

		if (system(cmd) != 0)
			fprintf(stderr, "cannot remove %s\n", tmpdir);
		free(cmd);
	}
	TEST_EXIT();
}
