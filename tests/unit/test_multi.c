/* Unit tests of the replicated backend (backends/multi.c) over local
 * folders: another repository is refused, writes reach every replica,
 * reads exclude replicas on request and move on from one that lacks the
 * object or gave bad bytes, listings are the union, a snapshot goes only
 * to replicas that lack nothing, the minimum of replicas holds; and
 * repo/ reads a sealed object damaged on one replica from another. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "backends/backend.h"
#include "lib/err.h"
#include "repo/repo.h"
#include "tests/unit/test.h"

static char tmpdir[256];

static char *
dir(const char *name)
{
	char *p = xasprintf("%s/%s", tmpdir, name);

	mkdir(p, 0700);
	return p;
}

/* put_local: an object straight into one replica's folder */
static void
put_local(const char *d, const char *name, const char *text)
{
	struct backend *be;

	if (backend_open(d, 0, &be) != IMDR_OK)
		return;
	EXPECT(backend_put(be, name, text, strlen(text)) == IMDR_OK);
	backend_close(be);
}

static int
count(void *ctx, const char *name, uint64_t size)
{
	(void)name;
	(void)size;
	(*(int *)ctx)++;
	return 0;
}

static int
exists(const char *d, const char *name)
{
	char *p = xasprintf("%s/%s", d, name);
	int ok = access(p, F_OK) == 0;

	free(p);
	return ok;
}

static struct backend *
open_multi(const char *a, const char *b)
{
	char *url = xasprintf("multi:%s|%s", a, b);
	struct backend *be = NULL;
	int rc = backend_open(url, 0, &be);

	EXPECT(rc == IMDR_OK);
	if (rc)
		fprintf(stderr, "  %s\n", err_msg(rc));
	free(url);
	return be;
}

static void
another_repository_is_refused(void)
{
	char *a = dir("r1a"), *b = dir("r1b");
	char *url = xasprintf("multi:%s|%s", a, b);
	struct backend *be = NULL;
	int rc;

	put_local(a, "config", "one repository");
	put_local(b, "config", "another repository");
	rc = backend_open(url, 0, &be);
	EXPECT(rc == IMDR_EINVAL);
	EXPECT(strstr(err_msg(rc), "replica 2") != NULL);
	EXPECT(strstr(err_msg(rc), "different repository") != NULL);
	err_clear();
	free(url);
	free(a);
	free(b);
}

static void
writes_reach_all_and_reads_exclude(void)
{
	char *a = dir("r2a"), *b = dir("r2b");
	struct backend *be;
	struct backend_read rd = { 0, -1, 0 };
	struct buf out = BUF_INIT;

	put_local(a, "config", "same");
	put_local(b, "config", "same");
	be = open_multi(a, b);
	if (be == NULL)
		return;
	EXPECT(backend_replicas(be) == 2);
	EXPECT(backend_put(be, "data/00/x", "payload", 7) == IMDR_OK);
	EXPECT(exists(a, "data/00/x") && exists(b, "data/00/x"));
	EXPECT(backend_put(be, "data/00/x", "payload", 7) == IMDR_EEXIST);
	err_clear();
	/* a tie between two local disks: the order given */
	EXPECT(backend_get_ex(be, "data/00/x", 0, BACKEND_WHOLE, &out, &rd) == IMDR_OK);
	EXPECT(rd.replica == 0 && out.len == 7 && memcmp(out.data, "payload", 7) == 0);
	rd.exclude = 1;
	EXPECT(backend_get_ex(be, "data/00/x", 1, 3, &out, &rd) == IMDR_OK);
	EXPECT(rd.replica == 1 && out.len == 3 && memcmp(out.data, "ayl", 3) == 0);
	rd.exclude = 3;
	EXPECT(backend_get_ex(be, "data/00/x", 0, BACKEND_WHOLE, &out, &rd) == IMDR_ENOENT);
	err_clear();
	/* bytes reported bad: that replica is asked last for that object */
	backend_bad_object(be, 0, "data/00/x", "test: failed authentication");
	rd.exclude = 0;
	EXPECT(backend_get_ex(be, "data/00/x", 0, BACKEND_WHOLE, &out, &rd) == IMDR_OK);
	EXPECT(rd.replica == 1);
	{
		struct backend_replica_info ri;

		backend_replica_info(be, 0, &ri);
		EXPECT(ri.bad_objects == 1 && strcmp(ri.last_bad, "data/00/x") == 0);
	}
	backend_close(be);
	buf_free(&out);
	free(a);
	free(b);
}

static void
reads_and_listings_find_what_one_replica_has(void)
{
	char *a = dir("r3a"), *b = dir("r3b");
	struct backend *be;
	struct buf out = BUF_INIT;
	uint64_t size = 0;
	int n = 0;

	put_local(a, "config", "same");
	put_local(b, "config", "same");
	put_local(a, "index/1", "in a");
	put_local(b, "index/2", "only in b");
	be = open_multi(a, b);
	if (be == NULL)
		return;
	EXPECT(backend_list(be, "index/", count, &n) == IMDR_OK);
	EXPECT(n == 2);
	EXPECT(backend_get(be, "index/2", 0, BACKEND_WHOLE, &out) == IMDR_OK);
	EXPECT(out.len == 9);
	EXPECT(backend_stat(be, "index/2", &size) == IMDR_OK && size == 9);
	EXPECT(backend_get(be, "index/3", 0, BACKEND_WHOLE, &out) == IMDR_ENOENT);
	err_clear();
	backend_close(be);
	buf_free(&out);
	free(a);
	free(b);
}

static void
snapshot_only_where_nothing_lacks(void)
{
	char *a = dir("r4a"), *b = dir("r4b");
	struct backend *be;
	struct backend_replica_info ri;
	int n = 0;

	put_local(a, "config", "same");
	put_local(b, "config", "same");
	put_local(a, "data/aa/p1", "a pack only a holds");
	be = open_multi(a, b);
	if (be == NULL)
		return;
	EXPECT(backend_list(be, "data/", count, &n) == IMDR_OK && n == 1);
	EXPECT(backend_put(be, "data/bb/p2", "new", 3) == IMDR_OK);
	EXPECT(backend_put(be, "snapshots/s1", "snap", 4) == IMDR_OK);
	EXPECT(exists(a, "snapshots/s1"));
	EXPECT(!exists(b, "snapshots/s1"));
	EXPECT(exists(b, "data/bb/p2"));
	backend_replica_info(be, 1, &ri);
	EXPECT(ri.lagging && strstr(ri.why, "lacks 1 ") != NULL);
	backend_replica_info(be, 0, &ri);
	EXPECT(!ri.lagging);
	/* at least two replicas must take every write: refused now */
	backend_set_policy(be, &(struct backend_policy){ 2, 1 });
	EXPECT(backend_put(be, "snapshots/s2", "snap", 4) != IMDR_OK);
	EXPECT(strstr(err_msg(IMDR_ENET), "at least 2") != NULL);
	EXPECT(!exists(a, "snapshots/s2"));
	err_clear();
	backend_close(be);
	free(a);
	free(b);
}

static void
missing_replica_is_left_out(void)
{
	char *a = dir("r5a"), *gone = xasprintf("%s/not-there", tmpdir);
	struct backend *be;
	struct backend_replica_info ri;

	put_local(a, "config", "same");
	be = open_multi(a, gone);
	if (be == NULL)
		return;
	backend_replica_info(be, 1, &ri);
	EXPECT(ri.state == BACKEND_REPLICA_ABSENT);
	EXPECT(strstr(ri.why, "does not exist") != NULL);
	EXPECT(backend_put(be, "keys/k", "slot", 4) == IMDR_OK);
	backend_replica_info(be, 1, &ri);
	EXPECT(ri.lagging);
	backend_close(be);
	free(a);
	free(gone);
}

static void
sealed_object_damaged_on_one_replica(void)
{
	char *a = xasprintf("%s/r6a", tmpdir), *b = xasprintf("%s/r6b", tmpdir);
	char *url = xasprintf("multi:%s|%s", a, b), *path;
	struct repo *r = NULL, *rb = NULL, *m = NULL;
	struct buf out = BUF_INIT;
	int already = 0;
	FILE *f;

	EXPECT(repo_init(a, "pw", 2, NULL, &r) == IMDR_OK);
	if (r == NULL)
		return;
	EXPECT(repo_init_replica(r, b, &rb, &already) == IMDR_OK && !already);
	repo_free(rb);
	EXPECT(repo_open(url, "pw", 2, &m) == IMDR_OK);
	if (m == NULL)
		return;
	EXPECT(repo_replica_count(m) == 2);
	EXPECT(repo_put_sealed(m, OBJ_INDEX, "index/abc", "plaintext", 9) == IMDR_OK);
	/* damage replica 1's copy */
	path = xasprintf("%s/index/abc", a);
	f = fopen(path, "r+b");
	if (f) {
		fseek(f, 14, SEEK_SET);
		fputc(0x55, f);
		fclose(f);
	}
	EXPECT(repo_get_sealed(r, OBJ_INDEX, "index/abc", &out) == IMDR_EAUTH);
	err_clear();
	EXPECT(repo_get_sealed(m, OBJ_INDEX, "index/abc", &out) == IMDR_OK);
	EXPECT(out.len == 9 && memcmp(out.data, "plaintext", 9) == 0);
	{
		struct repo_replica ri;

		repo_replica_info(m, 0, &ri);
		EXPECT(ri.bad_objects == 1);
	}
	repo_free(m);
	repo_free(r);
	buf_free(&out);
	free(path);
	free(url);
	free(a);
	free(b);
}

int
main(void)
{
	char cmd[300];

	snprintf(tmpdir, sizeof(tmpdir), "/tmp/imdr-multi-test.XXXXXX");
	if (mkdtemp(tmpdir) == NULL)
		return 1;
	setenv("IMDR_TEST_FAST_KDF", "1", 1);
	RUN(another_repository_is_refused);
	RUN(writes_reach_all_and_reads_exclude);
	RUN(reads_and_listings_find_what_one_replica_has);
	RUN(snapshot_only_where_nothing_lacks);
	RUN(missing_replica_is_left_out);
	RUN(sealed_object_damaged_on_one_replica);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
	if (system(cmd) != 0)
		return 1;
	TEST_EXIT();
}
