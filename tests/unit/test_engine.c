/* Unit tests of the engine as a library: backup -> restore -> check called
 * directly, with events counted; cancellation; a damaged pack found by
 * check and skipped by restore; restore never writing through symlinks in
 * its target; sources scoping snapshots; the drill's index of a
 * manifest.json. */
#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "engine/backup.h"
#include "engine/check.h"
#include "engine/manifest.h"
#include "engine/restore.h"
#include "engine/trail.h"
#include "lib/err.h"
#include "repo/snapshot.h"
#include "tests/unit/test.h"

static char tmpdir[256];
static const char pass[] = "correct horse";

struct counts {
	uint64_t total_files, total_bytes, files, bytes, warns, errors;
	char last_error[512];
};

static void
c_total(void *ctx, uint64_t files, uint64_t bytes)
{
	struct counts *c = ctx;

	c->total_files = files;
	c->total_bytes = bytes;
}

static void
c_advance(void *ctx, uint64_t files, uint64_t bytes)
{
	struct counts *c = ctx;

	__atomic_add_fetch(&c->files, files, __ATOMIC_RELAXED);
	__atomic_add_fetch(&c->bytes, bytes, __ATOMIC_RELAXED);
}

static void
c_warn(void *ctx, const char *what, const char *msg)
{
	(void)what;
	(void)msg;
	((struct counts *)ctx)->warns++;
}

static void
c_error(void *ctx, const char *what, const char *msg)
{
	struct counts *c = ctx;

	c->errors++;
	snprintf(c->last_error, sizeof(c->last_error), "%s: %s", what ? what : "", msg);
}

static void
bind(struct engine_events *ev, struct counts *c)
{
	memset(c, 0, sizeof(*c));
	memset(ev, 0, sizeof(*ev));
	ev->total = c_total;
	ev->advance = c_advance;
	ev->warn = c_warn;
	ev->error = c_error;
	ev->ctx = c;
}

static char *
path_in(const char *name)
{
	return xasprintf("%s/%s", tmpdir, name);
}

static void
write_file(const char *path, const void *data, size_t n, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);

	if (fd < 0 || write(fd, data, n) != (ssize_t)n)
		fprintf(stderr, "cannot write %s\n", path);
	close(fd);
	chmod(path, mode);
}

static int
same_file(const char *a, const char *b)
{
	struct stat sa, sb;
	FILE *fa, *fb;
	int same, ca, cb;

	if (lstat(a, &sa) != 0 || lstat(b, &sb) != 0 || sa.st_size != sb.st_size ||
	    (sa.st_mode & 0777) != (sb.st_mode & 0777) || sa.st_mtim.tv_sec != sb.st_mtim.tv_sec ||
	    sa.st_mtim.tv_nsec != sb.st_mtim.tv_nsec)
		return 0;
	fa = fopen(a, "rb");
	fb = fopen(b, "rb");
	same = fa && fb;
	while (same && (ca = fgetc(fa)) != EOF) {
		cb = fgetc(fb);
		same = ca == cb;
	}
	if (fa)
		fclose(fa);
	if (fb)
		fclose(fb);
	return same;
}

/* make_source: a small tree with a multi-chunk file, a folder, a symlink,
 * an empty file, and a setuid file. */
static char *
make_source(void)
{
	char *src = path_in("src"), *p;
	uint8_t *big = xmalloc(3u << 20);

	mkdir(src, 0755);
	p = xasprintf("%s/conversations", src);
	mkdir(p, 0750);
	free(p);
	for (size_t i = 0; i < (3u << 20); i++)
		big[i] = (uint8_t)(i * 2654435761u >> 13);
	p = xasprintf("%s/conversations/big.bin", src);
	write_file(p, big, 3u << 20, 0640);
	free(p);
	p = xasprintf("%s/hello.txt", src);
	write_file(p, "hello\n", 6, 0644);
	free(p);
	p = xasprintf("%s/empty", src);
	write_file(p, "", 0, 0600);
	free(p);
	p = xasprintf("%s/suid", src);
	write_file(p, "#!/bin/sh\n", 10, 04755);
	free(p);
	p = xasprintf("%s/link", src);
	symlink("hello.txt", p);
	free(p);
	free(big);
	return src;
}

static void
test_roundtrip(void)
{
	char *repo = path_in("repo"), *src = make_source(), *out = path_in("out");
	struct backup_opts bo;
	struct backup_result br;
	struct restore_opts ro;
	struct restore_result rr;
	struct check_opts co;
	struct check_result cr;
	struct snapshot *s = NULL;
	struct counts c;
	struct repo *r = NULL;
	const char *names[] = { "hello.txt", "empty", "conversations/big.bin", "link" };

	EXPECT(repo_init(repo, pass, strlen(pass), NULL, &r) == IMDR_OK);
	memset(&bo, 0, sizeof(bo));
	bo.source = src;
	bo.source_name = "acme";
	bind(&bo.ev, &c);
	EXPECT(backup_run(r, &bo, &br) == IMDR_OK);
	EXPECT(br.files == 4 && br.bytes == (3u << 20) + 6 + 10);
	EXPECT(strcmp(br.source, "acme") == 0 && strcmp(br.format, "files") == 0);
	EXPECT(c.files == 4 && c.bytes == br.bytes);	/* progress saw every byte */
	EXPECT(c.total_files == 4 && c.total_bytes == br.bytes);

	EXPECT(snapshot_resolve(r, "acme", "latest", &s) == IMDR_OK);
	EXPECT(s && strcmp(s->id, br.id) == 0 && strcmp(s->source, "acme") == 0);
	memset(&ro, 0, sizeof(ro));
	ro.target = out;
	bind(&ro.ev, &c);
	EXPECT(s && restore_run(r, s, &ro, &rr) == IMDR_OK);
	EXPECT(rr.files == 4 && rr.bytes == br.bytes && rr.failed == 0);
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		char *a = xasprintf("%s/%s", src, names[i]), *b = xasprintf("%s/%s", out, names[i]);

		EXPECT(same_file(a, b));
		free(a);
		free(b);
	}
	{
		struct stat st;
		char *p = xasprintf("%s/suid", out);

		/* setuid is not restored unless asked for */
		EXPECT(lstat(p, &st) == 0 && (st.st_mode & 07777) == 0755);
		free(p);
		p = xasprintf("%s/conversations", out);
		EXPECT(lstat(p, &st) == 0 && (st.st_mode & 07777) == 0750);
		free(p);
	}
	/* again into the same target: refused without force */
	EXPECT(restore_run(r, s, &ro, &rr) == IMDR_EEXIST);

	memset(&co, 0, sizeof(co));
	co.read_data = 1;
	bind(&co.ev, &c);
	EXPECT(check_run(r, &co, &cr) == IMDR_OK);
	EXPECT(cr.errors == 0 && cr.snapshots == 1 && cr.blobs >= 5 && c.errors == 0);
	snapshot_free(s);
	repo_free(r);
	free(repo);
	free(src);
	free(out);
}

static void
test_cancel(void)
{
	char *repo = path_in("repo"), *src = path_in("src");
	volatile sig_atomic_t stop = 1;
	struct snapshot_name *names = NULL;
	struct backup_opts bo;
	struct backup_result br;
	struct counts c;
	struct repo *r = NULL;
	size_t n0 = 0, n1 = 0;

	EXPECT(repo_open(repo, pass, strlen(pass), &r) == IMDR_OK);
	EXPECT(snapshot_list(r, &names, &n0) == IMDR_OK);
	free(names);
	memset(&bo, 0, sizeof(bo));
	bo.source = src;
	bo.no_cache = 1;
	bind(&bo.ev, &c);
	bo.ev.cancel = &stop;
	EXPECT(backup_run(r, &bo, &br) == IMDR_EINTR);
	EXPECT(snapshot_list(r, &names, &n1) == IMDR_OK && n1 == n0);
	free(names);
	repo_free(r);
	free(repo);
	free(src);
}

static void
flip_in_biggest_pack(const char *repo)
{
	char *cmd = xasprintf("f=$(find %s/data -type f -printf '%%s %%p\\n' | sort -n | tail -1 | cut -d' ' -f2);"
	    " printf '\\377' | dd of=\"$f\" bs=1 seek=100 conv=notrunc status=none", repo);

	EXPECT(system(cmd) == 0);
	free(cmd);
}

static void
test_damage(void)
{
	char *repo = path_in("repo"), *out = path_in("out-damaged");
	struct restore_opts ro;
	struct restore_result rr;
	struct check_opts co;
	struct check_result cr;
	struct snapshot *s = NULL;
	struct counts c;
	struct repo *r = NULL;

	flip_in_biggest_pack(repo);
	EXPECT(repo_open(repo, pass, strlen(pass), &r) == IMDR_OK);
	memset(&co, 0, sizeof(co));
	co.read_data = 1;
	bind(&co.ev, &c);
	EXPECT(check_run(r, &co, &cr) == IMDR_OK);
	EXPECT(cr.errors >= 1 && c.errors == cr.errors);
	EXPECT(strstr(c.last_error, "data/") != NULL);	/* names the pack */
	EXPECT(snapshot_resolve(r, NULL, "latest", &s) == IMDR_OK);
	memset(&ro, 0, sizeof(ro));
	ro.target = out;
	bind(&ro.ev, &c);
	/* the big file is lost, the others are restored */
	EXPECT(s && restore_run(r, s, &ro, &rr) == IMDR_EAUTH);
	EXPECT(rr.failed == 1 && c.errors == 1 && strstr(c.last_error, "big.bin") != NULL);
	EXPECT(rr.files == 4);
	{
		char *a = path_in("src/hello.txt"), *b = xasprintf("%s/hello.txt", out);
		char *gone = xasprintf("%s/conversations/big.bin", out);

		EXPECT(same_file(a, b));
		EXPECT(access(gone, F_OK) != 0);	/* no half file that looks whole */
		free(a);
		free(b);
		free(gone);
	}
	snapshot_free(s);
	repo_free(r);
	free(repo);
	free(out);
}

/* Restoring over a target that holds symlinks (left by an earlier restore
 * of a snapshot that had them, or planted): nothing is written outside. */
static void
test_restore_symlinks_in_target(void)
{
	char *repo = path_in("repo2"), *src = path_in("src2"), *out = path_in("out2");
	char *elsewhere = path_in("elsewhere"), *p;
	struct backup_opts bo;
	struct backup_result br;
	struct restore_opts ro;
	struct restore_result rr;
	struct snapshot *s = NULL;
	struct counts c;
	struct repo *r = NULL;
	struct stat st;

	mkdir(src, 0755);
	p = xasprintf("%s/dir", src);
	mkdir(p, 0755);
	free(p);
	p = xasprintf("%s/dir/f", src);
	write_file(p, "inside\n", 7, 0644);
	free(p);
	p = xasprintf("%s/top", src);
	write_file(p, "top\n", 4, 0644);
	free(p);
	mkdir(elsewhere, 0755);
	p = xasprintf("%s/victim", elsewhere);
	write_file(p, "precious\n", 9, 0600);
	free(p);
	/* the target: dir -> elsewhere, top -> elsewhere/victim */
	mkdir(out, 0755);
	p = xasprintf("%s/dir", out);
	EXPECT(symlink(elsewhere, p) == 0);
	free(p);
	p = xasprintf("%s/victim", elsewhere);
	{
		char *q = xasprintf("%s/top", out);

		EXPECT(symlink(p, q) == 0);
		free(q);
	}
	free(p);

	EXPECT(repo_init(repo, pass, strlen(pass), NULL, &r) == IMDR_OK);
	memset(&bo, 0, sizeof(bo));
	bo.source = src;
	bind(&bo.ev, &c);
	EXPECT(backup_run(r, &bo, &br) == IMDR_OK);
	EXPECT(snapshot_resolve(r, NULL, "latest", &s) == IMDR_OK);
	memset(&ro, 0, sizeof(ro));
	ro.target = out;
	ro.force = 1;
	bind(&ro.ev, &c);
	EXPECT(s && restore_run(r, s, &ro, &rr) == IMDR_OK);
	p = xasprintf("%s/f", elsewhere);
	EXPECT(access(p, F_OK) != 0);		/* nothing made through dir -> */
	free(p);
	p = xasprintf("%s/victim", elsewhere);
	EXPECT(stat(p, &st) == 0 && st.st_size == 9 && (st.st_mode & 0777) == 0600);
	free(p);
	p = xasprintf("%s/dir", out);
	EXPECT(lstat(p, &st) == 0 && S_ISDIR(st.st_mode));	/* replaced */
	free(p);
	p = xasprintf("%s/top", out);
	EXPECT(lstat(p, &st) == 0 && S_ISREG(st.st_mode) && st.st_size == 4);
	free(p);
	snapshot_free(s);
	repo_free(r);
	free(repo);
	free(src);
	free(out);
	free(elsewhere);
}

static void
test_sources(void)
{
	char *repo = path_in("repo3"), *src = path_in("src2");
	struct snapshot_name *names = NULL;
	struct backup_opts bo;
	struct backup_result br;
	struct snapshot *s = NULL;
	char tag[SNAPSHOT_TAG_HEX + 1];
	struct counts c;
	struct repo *r = NULL;
	size_t n = 0;

	EXPECT(repo_init(repo, pass, strlen(pass), NULL, &r) == IMDR_OK);
	memset(&bo, 0, sizeof(bo));
	bo.source = src;
	bind(&bo.ev, &c);
	bo.source_name = "acme";
	bo.time_ns = 1000000000LL * 1764000000;
	EXPECT(backup_run(r, &bo, &br) == IMDR_OK);
	bo.source_name = "globex";
	bo.time_ns += 3600000000000LL;
	EXPECT(backup_run(r, &bo, &br) == IMDR_OK);
	bo.source_name = NULL;	/* default: the path */
	bo.time_ns += 3600000000000LL;
	EXPECT(backup_run(r, &bo, &br) == IMDR_OK);
	EXPECT(strcmp(br.source, src) == 0);
	bo.source_name = "bad\nname";
	EXPECT(backup_run(r, &bo, &br) == IMDR_EINVAL);
	/* names carry the tag: a source's snapshots without reading any */
	EXPECT(snapshot_list(r, &names, &n) == IMDR_OK && n == 3);
	snapshot_source_tag(r, "acme", tag);
	EXPECT(snapshot_filter_source(names, n, tag) == 1);
	EXPECT(strstr(names[0].name, tag) != NULL);
	free(names);
	EXPECT(snapshot_resolve(r, "acme", "latest", &s) == IMDR_OK);
	EXPECT(s && strcmp(s->source, "acme") == 0 && strcmp(s->path, src) == 0);
	snapshot_free(s);
	s = NULL;
	EXPECT(snapshot_resolve(r, NULL, "latest", &s) == IMDR_OK);
	EXPECT(s && strcmp(s->source, src) == 0);	/* newest of any source */
	snapshot_free(s);
	s = NULL;
	EXPECT(snapshot_resolve(r, "nosuch", "latest", &s) == IMDR_ENOENT);
	repo_free(r);
	free(repo);
	free(src);
}

static int
count_failed(void *ctx, const struct audit_record *a)
{
	if (strcmp(a->result, "ok") != 0)
		(*(int *)ctx)++;
	return 0;
}

static void *
append_many(void *arg)
{
	struct repo *r = arg;

	for (int i = 0; i < 8; i++)
		audit_append(r, &(struct audit_event){ "cat", NULL, "ok" }, NULL);
	return NULL;
}

static int
verify(struct repo *r, const char *digest, struct counts *c, struct trail_verify_result *res)
{
	struct trail_verify_opts vo = { digest, 1, { 0 } };

	bind(&vo.ev, c);
	return trail_verify(r, &vo, res);
}

/* The trail over the engine: backups recorded (failed ones too), a
 * checkpoint that holds after legitimate work and fails, naming what
 * changed, on a deleted snapshot, a branch without it, a record dated
 * back; concurrent writers joined. */
static void
test_audit_trail(void)
{
	char *repo = path_in("repo3"), *src = path_in("src2");
	struct trail_checkpoint_opts co;
	struct trail_checkpoint_result cr;
	struct trail_verify_result vr;
	struct trail_opts to;
	struct trail_result tr;
	struct backup_opts bo;
	struct backup_result br;
	struct snapshot_name *names = NULL;
	struct audit_name *an = NULL, cn;
	struct counts c;
	struct repo *r = NULL;
	char repo8[9], first[1][AUDIT_BASE_MAX], base[AUDIT_BASE_MAX], *from, *to_;
	size_t n = 0, nn = 0;
	int failed = 0;

	EXPECT(repo_open(repo, pass, strlen(pass), &r) == IMDR_OK);
	/* test_sources' three backups and its refused one, all recorded */
	memset(&to, 0, sizeof(to));
	bind(&to.ev, &c);
	EXPECT(trail_read(r, &to, count_failed, &failed, &tr) == IMDR_OK);
	EXPECT(tr.records == 4 && tr.verified == 4 && tr.errors == 0 && tr.heads == 1 && failed == 1);

	memset(&co, 0, sizeof(co));
	bind(&co.ev, &c);
	EXPECT(trail_checkpoint(r, &co, &cr) == IMDR_OK);
	EXPECT(cr.snapshots == 3 && cr.records == 4 && cr.heads == 1);
	EXPECT(trail_digest_parse(cr.digest, repo8, &cn) == 0 && strcmp(cn.command, "checkpoint") == 0);
	EXPECT(trail_digest_parse("0123abcd-nonsense", repo8, &cn) != 0);

	/* legitimate work after it */
	memset(&bo, 0, sizeof(bo));
	bo.source = src;
	bo.source_name = "initech";
	bind(&bo.ev, &c);
	EXPECT(backup_run(r, &bo, &br) == IMDR_OK && br.audit_rc == IMDR_OK && br.audit_id[0]);
	EXPECT(verify(r, cr.digest, &c, &vr) == IMDR_OK);
	EXPECT(vr.errors == 0 && vr.known_snapshots == 3 && vr.known_records == 4 &&
	    vr.later_records == 1 && c.errors == 0);

	/* a snapshot the checkpoint knew, deleted: named */
	EXPECT(snapshot_list(r, &names, &nn) == IMDR_OK && nn == 4);
	from = xasprintf("%s/%s", repo, names[0].name);
	to_ = xasprintf("%s/aside", repo);
	EXPECT(rename(from, to_) == 0);
	EXPECT(verify(r, cr.digest, &c, &vr) == IMDR_OK);
	EXPECT(vr.errors == 1 && strstr(c.last_error, names[0].id) && strstr(c.last_error, "missing"));
	/* ... unless a forget record written since names it */
	{
		char *scope = xasprintf("{\"removed\":[\"%s\"]}", names[0].id);

		EXPECT(audit_append(r, &(struct audit_event){ "forget", scope, "ok" }, NULL) == IMDR_OK);
		free(scope);
	}
	EXPECT(verify(r, cr.digest, &c, &vr) == IMDR_OK);
	EXPECT(vr.errors == 0 && vr.forgotten == 1);
	EXPECT(rename(to_, from) == 0);
	free(from);
	free(to_);

	/* two writers at once: the log stays whole, the next record joins */
	{
		pthread_t th;

		EXPECT(pthread_create(&th, NULL, append_many, r) == 0);
		append_many(r);
		pthread_join(th, NULL);
		EXPECT(audit_append(r, &(struct audit_event){ "cat", NULL, "ok" }, NULL) == IMDR_OK);
		bind(&to.ev, &c);
		EXPECT(trail_read(r, &to, NULL, NULL, &tr) == IMDR_OK);
		EXPECT(tr.errors == 0 && tr.heads == 1 && tr.verified == tr.records);
		EXPECT(verify(r, cr.digest, &c, &vr) == IMDR_OK && vr.errors == 0);
	}

	/* a branch without the checkpoint, an hour after it (a rollback
	 * written over): named */
	EXPECT(audit_list(r, &an, &n) == IMDR_OK && n > 4);
	snprintf(first[0], sizeof(first[0]), "%s", audit_base(&an[0]));
	EXPECT(audit_append_linked(r, &(struct audit_event){ "backup", NULL, "ok" }, first, 1,
	    cn.time_ns + 3600 * (int64_t)1000000000, base) == IMDR_OK);
	EXPECT(verify(r, cr.digest, &c, &vr) == IMDR_OK);
	EXPECT(vr.errors == 1 && strstr(c.last_error, "branch") && strstr(c.last_error, base));
	from = xasprintf("%s/audit/%.6s/%s", repo, base, base);
	EXPECT(unlink(from) == 0);
	free(from);
	/* a record dated an hour before it that it did not know: named */
	EXPECT(audit_append_linked(r, &(struct audit_event){ "restore", NULL, "ok" }, NULL, 0,
	    cn.time_ns - 3600 * (int64_t)1000000000, base) == IMDR_OK);
	EXPECT(verify(r, cr.digest, &c, &vr) == IMDR_OK);
	EXPECT(vr.errors == 1 && strstr(c.last_error, "dated before") && strstr(c.last_error, base));
	from = xasprintf("%s/audit/%.6s/%s", repo, base, base);
	EXPECT(unlink(from) == 0);
	free(from);
	EXPECT(verify(r, cr.digest, &c, &vr) == IMDR_OK && vr.errors == 0);

	free(an);
	free(names);
	repo_free(r);
	free(repo);
	free(src);
}

/* The manifest index: what jansson reads, found by a scan of the
 * structure; escapes decoded; bad entries counted, not indexed; an entry
 * parsed in full only when looked up; malformed documents refused. */
static void
test_manifest_index(void)
{
	static const char good[] =
	    "{\"source\": \"x\", \"span\": {\"from\": [1, {\"}\": \"]\"}], \"to\": null},\n"
	    " \"files\": [\n"
	    "  {\"path\": \"b/\\u00e9t\\u00e9.txt\", \"size\": 3, \"sha256\": \"" "aa" "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"},\n"
	    "  {\"size\": 1, \"path\": \"a \\\"q\\\" \\\\.txt\", \"sha256\": \"" "bb" "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb\"},\n"
	    "  {\"path\": \"c\", \"size\": -1e3, \"sha256\": \"cc\"},\n"
	    "  {\"path\": 7}, [\"path\"], \"d\",\n"
	    "  {\"path\": \"e\", \"size\": 0, \"sha256\": \"" "ee" "eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee\", \"extra\": {\"path\": \"no\"}}\n"
	    " ],\n \"counts\": {\"files\": 4}}\n";
	static const char *const bad[] = {
		"", "[]", "{\"files\": {}}", "{\"source\": 1}", "{\"files\": [} ",
		"{\"files\": [{\"path\": \"a\"]}", "{\"files\": [\"a\\\"]}", "{\"files\": []} x",
		"{\"files\": [\"a\nb\"]}", "{\"files\": [], }",
	};
	struct manifest *m = NULL;
	char sha[65];
	uint64_t size = 0;
	size_t nbad = 0, first_bad = 0;
	char deep[300];

	EXPECT(manifest_index(good, strlen(good), &m, &nbad, &first_bad) == IMDR_OK);
	EXPECT(m && manifest_count(m) == 4 && nbad == 3 && first_bad == 3);
	if (m) {
		EXPECT(manifest_lookup(m, "b/\xc3\xa9t\xc3\xa9.txt", &size, sha) == IMDR_OK);
		EXPECT(size == 3 && sha[0] == 'a' && strlen(sha) == 64);
		EXPECT(manifest_lookup(m, "a \"q\" \\.txt", &size, sha) == IMDR_OK);
		EXPECT(size == 1 && sha[0] == 'b');
		EXPECT(manifest_lookup(m, "e", &size, sha) == IMDR_OK && size == 0 && sha[63] == 'e');
		EXPECT(manifest_lookup(m, "c", &size, sha) == IMDR_EFORMAT);
		EXPECT(manifest_lookup(m, "no", &size, sha) == IMDR_ENOENT);
		EXPECT(manifest_lookup(m, "d", &size, sha) == IMDR_ENOENT);
		EXPECT(manifest_lookup(m, "", &size, sha) == IMDR_ENOENT);
	}
	manifest_free(m);
	m = NULL;
	EXPECT(manifest_index("{\"files\": []}", 13, &m, &nbad, &first_bad) == IMDR_OK);
	EXPECT(m && manifest_count(m) == 0 && manifest_lookup(m, "a", &size, sha) == IMDR_ENOENT);
	manifest_free(m);
	/* in path order and out of it (paths that share a prefix): every
	 * entry found either way */
	for (int swapped = 0; swapped < 2; swapped++) {
		static const char *const paths[] = { "a", "a-b", "a/b", "a/b/c", "ab", "b" };
		struct buf doc = BUF_INIT;

		buf_puts(&doc, "{\"files\": [");
		for (size_t i = 0; i < 6; i++) {
			size_t k = swapped && i == 2 ? 3 : swapped && i == 3 ? 2 : i;

			buf_printf(&doc, "%s{\"path\": \"%s\", \"size\": %zu, \"sha256\": \"%064zu\"}",
			    i ? ", " : "", paths[k], k, k);
		}
		buf_puts(&doc, "]}");
		m = NULL;
		EXPECT(manifest_index((const char *)doc.data, doc.len, &m, &nbad, &first_bad) == IMDR_OK);
		EXPECT(m && manifest_count(m) == 6 && nbad == 0);
		for (size_t k = 0; m && k < 6; k++) {
			EXPECT(manifest_lookup(m, paths[k], &size, sha) == IMDR_OK && size == k);
			EXPECT(sha[63] == (char)('0' + k));
		}
		EXPECT(m && manifest_lookup(m, "a/", &size, sha) == IMDR_ENOENT);
		manifest_free(m);
		buf_free(&doc);
	}
	/* a path listed twice: its first entry */
	{
		static const char twice[] = "{\"files\": [{\"path\": \"x\", \"size\": 1, \"sha256\": \"%064d\"}, "
		    "{\"path\": \"x\", \"size\": 2, \"sha256\": \"%064d\"}]}";
		struct buf doc = BUF_INIT;

		buf_printf(&doc, twice, 1, 2);
		m = NULL;
		EXPECT(manifest_index((const char *)doc.data, doc.len, &m, &nbad, &first_bad) == IMDR_OK);
		EXPECT(m && manifest_lookup(m, "x", &size, sha) == IMDR_OK && size == 1 && sha[63] == '1');
		manifest_free(m);
		buf_free(&doc);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		m = NULL;
		EXPECT(manifest_index(bad[i], strlen(bad[i]), &m, &nbad, &first_bad) == IMDR_EFORMAT);
		EXPECT(m == NULL);
		err_clear();
	}
	/* nesting is bounded, not a way to exhaust the stack */
	memset(deep, '[', sizeof(deep));
	memcpy(deep, "{\"x\": ", 6);
	EXPECT(manifest_index(deep, sizeof(deep), &m, &nbad, &first_bad) == IMDR_EFORMAT);
	err_clear();
	manifest_free(NULL);
}

int
main(void)
{
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/imdr-unit-engine.XXXXXX");
	if (mkdtemp(tmpdir) == NULL)
		return 1;
	setenv("IMDR_TEST_FAST_KDF", "1", 1);
	setenv("XDG_CACHE_HOME", tmpdir, 1);
	RUN(test_roundtrip);
	RUN(test_cancel);
	RUN(test_damage);
	RUN(test_restore_symlinks_in_target);
	RUN(test_sources);
	RUN(test_audit_trail);
	RUN(test_manifest_index);
	{
		char *cmd = xasprintf("rm -rf %s", tmpdir);

		if (system(cmd) != 0)
			fprintf(stderr, "cannot remove %s\n", tmpdir);
		free(cmd);
	}
	TEST_EXIT();
}
