/* Unit tests of the repository core: crypto, key slots, sealed objects,
 * blobs, packs, index, snapshots, store, chunker. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "backends/backend.h"
#include "lib/err.h"
#include "lib/hex.h"
#include "lib/timefmt.h"
#include "repo/audit.h"
#include "repo/chunker.h"
#include "repo/index.h"
#include "repo/keycache.h"
#include "repo/pack.h"
#include "repo/repo.h"
#include "repo/repo_impl.h"
#include "repo/snapshot.h"
#include "repo/store.h"
#include "tests/unit/test.h"

static char tmpdir[256];
static const char pass[] = "correct horse";

static void
fill_random(uint8_t *p, size_t n, uint64_t seed)
{
	uint64_t x = seed * 0x9E3779B97F4A7C15ULL + 1;

	for (size_t i = 0; i < n; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		p[i] = (uint8_t)(x >> 24);
	}
}

static char *
new_repo_dir(const char *name)
{
	return xasprintf("%s/%s", tmpdir, name);
}

static void
flip_byte(const char *path, long off)
{
	int fd = open(path, O_RDWR);
	uint8_t b;
	struct stat st;

	fstat(fd, &st);
	if (off < 0)
		off += st.st_size;
	pread(fd, &b, 1, off);
	b ^= 0x01;
	pwrite(fd, &b, 1, off);
	close(fd);
}

static void
test_crypto_roundtrip(void)
{
	uint8_t key[32], pt[1000], ct[1000 + CRYPTO_OVERHEAD], out[1000];

	crypto_random(key, sizeof(key));
	fill_random(pt, sizeof(pt), 1);
	crypto_seal(key, "aad", 3, pt, sizeof(pt), ct);
	EXPECT(crypto_open(key, "aad", 3, ct, sizeof(ct), out) == IMDR_OK);
	EXPECT(memcmp(pt, out, sizeof(pt)) == 0);
	/* wrong associated data, flipped bit anywhere, wrong key: rejected */
	EXPECT(crypto_open(key, "aae", 3, ct, sizeof(ct), out) == IMDR_EAUTH);
	for (size_t i = 0; i < sizeof(ct); i += 97) {
		ct[i] ^= 0x80;
		EXPECT(crypto_open(key, "aad", 3, ct, sizeof(ct), out) == IMDR_EAUTH);
		ct[i] ^= 0x80;
	}
	key[0] ^= 1;
	EXPECT(crypto_open(key, "aad", 3, ct, sizeof(ct), out) == IMDR_EAUTH);
	/* fresh nonce every time */
	{
		uint8_t ct2[1000 + CRYPTO_OVERHEAD];

		key[0] ^= 1;
		crypto_seal(key, "aad", 3, pt, sizeof(pt), ct2);
		EXPECT(memcmp(ct, ct2, CRYPTO_NONCE_LEN) != 0);
	}
}

static void
test_init_open_wrong_pass(void)
{
	char *dir = new_repo_dir("r1");
	struct repo *r = NULL, *r2 = NULL;
	struct buf b = BUF_INIT;

	EXPECT(repo_init(dir, pass, strlen(pass), NULL, &r) == IMDR_OK);
	EXPECT(r != NULL);
	EXPECT(repo_put_sealed(r, OBJ_INDEX, "index/abc", "hello", 5) == IMDR_OK);
	EXPECT(repo_put_sealed(r, OBJ_INDEX, "index/abc", "again", 5) == IMDR_EEXIST);
	repo_free(r);
	EXPECT(repo_init(dir, pass, strlen(pass), NULL, &r) == IMDR_EEXIST);
	EXPECT(repo_open(dir, "wrong", 5, &r2) == IMDR_EPASS);
	EXPECT(strstr(err_msg(IMDR_EPASS), "wrong passphrase") != NULL);
	EXPECT(repo_open(dir, pass, strlen(pass), &r2) == IMDR_OK);
	EXPECT(repo_get_sealed(r2, OBJ_INDEX, "index/abc", &b) == IMDR_OK);
	EXPECT(b.len == 5 && memcmp(b.data, "hello", 5) == 0);
	/* kind is bound: the same object read as a snapshot fails */
	EXPECT(repo_get_sealed(r2, OBJ_SNAPSHOT, "index/abc", &b) == IMDR_EAUTH);
	repo_free(r2);
	{
		char *missing = new_repo_dir("nonexistent");

		EXPECT(repo_open(missing, pass, strlen(pass), &r2) == IMDR_ENOENT);
		free(missing);
	}
	buf_free(&b);
	free(dir);
}

static void
test_tamper_key_slot_and_index(void)
{
	char *dir = new_repo_dir("r2"), *path;
	struct repo *r = NULL;
	struct dirent *de;
	DIR *d;
	int rc;

	EXPECT(repo_init(dir, pass, strlen(pass), NULL, &r) == IMDR_OK);
	EXPECT(repo_put_sealed(r, OBJ_INDEX, "index/00ff", "x", 1) == IMDR_OK);
	repo_free(r);
	path = xasprintf("%s/keys", dir);
	d = opendir(path);
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] != '.') {
			char *slot = xasprintf("%s/%s", path, de->d_name);

			flip_byte(slot, 40);
			free(slot);
		}
	}
	closedir(d);
	rc = repo_open(dir, pass, strlen(pass), &r);
	EXPECT(rc == IMDR_EAUTH);
	EXPECT(strstr(err_msg(rc), "keys/") != NULL);
	free(path);
	free(dir);
}

static void
test_blob_seal(void)
{
	char *dir = new_repo_dir("r3");
	struct repo *r = NULL;
	struct buf sealed = BUF_INIT, out = BUF_INIT;
	struct blob_ref ref;
	uint8_t rnd[100000], txt[100000];

	EXPECT(repo_init(dir, pass, strlen(pass), NULL, &r) == IMDR_OK);
	fill_random(rnd, sizeof(rnd), 7);
	for (size_t i = 0; i < sizeof(txt); i++)
		txt[i] = "hello chat world "[i % 17];
	memset(&ref, 0, sizeof(ref));
	repo_blob_id(r, rnd, sizeof(rnd), ref.id);
	ref.raw_length = sizeof(rnd);
	repo_blob_seal(r, BLOB_DATA, ref.id, rnd, sizeof(rnd), &sealed);
	EXPECT(sealed.len == sizeof(rnd) + 1 + CRYPTO_OVERHEAD);	/* not compressed */
	EXPECT(repo_blob_unseal(r, BLOB_DATA, &ref, sealed.data, sealed.len, &out) == IMDR_OK);
	EXPECT(out.len == sizeof(rnd) && memcmp(out.data, rnd, sizeof(rnd)) == 0);
	/* type is bound */
	EXPECT(repo_blob_unseal(r, BLOB_TREE, &ref, sealed.data, sealed.len, &out) == IMDR_EAUTH);
	sealed.data[50] ^= 4;
	EXPECT(repo_blob_unseal(r, BLOB_DATA, &ref, sealed.data, sealed.len, &out) == IMDR_EAUTH);
	sealed.len = 0;
	repo_blob_id(r, txt, sizeof(txt), ref.id);
	ref.raw_length = sizeof(txt);
	repo_blob_seal(r, BLOB_DATA, ref.id, txt, sizeof(txt), &sealed);
	EXPECT(sealed.len < sizeof(txt) / 10);	/* compressed */
	EXPECT(repo_blob_unseal(r, BLOB_DATA, &ref, sealed.data, sealed.len, &out) == IMDR_OK);
	EXPECT(out.len == sizeof(txt) && memcmp(out.data, txt, sizeof(txt)) == 0);
	buf_free(&sealed);
	buf_free(&out);
	repo_free(r);
	free(dir);
}

static void
test_pack_roundtrip_and_tamper(void)
{
	char *dir = new_repo_dir("r4"), name[80], *path;
	struct repo *r = NULL;
	struct pack_writer *pw = pack_writer_new(BLOB_DATA);
	struct pack_entry *e = NULL, *e2 = NULL;
	struct buf data = BUF_INIT, sealed = BUF_INIT, out = BUF_INIT;
	struct blob_ref refs[5];
	uint8_t pid[32];
	size_t n = 0, n2 = 0;
	uint8_t blob[3000];
	int rc;

	EXPECT(repo_init(dir, pass, strlen(pass), NULL, &r) == IMDR_OK);
	for (int i = 0; i < 5; i++) {
		uint8_t id[32];

		fill_random(blob, sizeof(blob), (uint64_t)i + 100);
		repo_blob_id(r, blob, sizeof(blob), id);
		sealed.len = 0;
		repo_blob_seal(r, BLOB_DATA, id, blob, sizeof(blob), &sealed);
		pack_writer_add(pw, id, sealed.data, sealed.len, sizeof(blob), &refs[i]);
	}
	memcpy(pid, pack_writer_id(pw), 32);
	pack_writer_finish(pw, r, &data, &e, &n);
	pack_writer_free(pw);
	EXPECT(n == 5);
	repo_pack_name(pid, name);
	EXPECT(backend_put(repo_be(r), name, data.data, data.len) == IMDR_OK);
	EXPECT(pack_read_header(r, pid, 0, &e2, &n2) == IMDR_OK);
	EXPECT(n2 == 5);
	for (size_t i = 0; i < n2 && i < 5; i++)
		EXPECT(memcmp(&e2[i].ref, &refs[i], sizeof(refs[i])) == 0);
	EXPECT(repo_blob_read(r, BLOB_DATA, &refs[3], &out) == IMDR_OK);
	fill_random(blob, sizeof(blob), 103);
	EXPECT(out.len == sizeof(blob) && memcmp(out.data, blob, sizeof(blob)) == 0);
	free(e2);
	/* flip one bit in blob 2: that blob fails, naming the pack; others read */
	path = xasprintf("%s/%s", dir, name);
	flip_byte(path, (long)refs[2].offset + 30);
	rc = repo_blob_read(r, BLOB_DATA, &refs[2], &out);
	EXPECT(rc == IMDR_EAUTH);
	{
		char hex[65];

		hex_encode(pid, 32, hex);
		hex[16] = '\0';
		EXPECT(strstr(err_msg(rc), hex) != NULL);
	}
	EXPECT(repo_blob_read(r, BLOB_DATA, &refs[1], &out) == IMDR_OK);
	/* flip one bit in the header: reading the header fails */
	flip_byte(path, -10);
	EXPECT(pack_read_header(r, pid, 0, &e2, &n2) == IMDR_EAUTH);
	/* truncation */
	truncate(path, (off_t)(data.len - 100));
	EXPECT(pack_read_header(r, pid, 0, &e2, &n2) != IMDR_OK);
	free(path);
	free(e);
	buf_free(&data);
	buf_free(&sealed);
	buf_free(&out);
	repo_free(r);
	free(dir);
}

struct fetch_count {
	int n, bad;
	struct repo *r;
	const struct blob_ref *refs;
};

/* count_fetched: repo_blob_fetch's callback: the sealed bytes of refs[i],
 * which must open to blob i % 100 of the test below */
static int
count_fetched(void *ctx, size_t i, const uint8_t *sealed, size_t n)
{
	struct fetch_count *fc = ctx;
	struct buf pt = BUF_INIT;
	static uint8_t want[50000];

	fc->n++;
	fill_random(want, sizeof(want), (uint64_t)(i % 100));
	if (sealed == NULL || n != fc->refs[i].length ||
	    repo_blob_unseal(fc->r, BLOB_DATA, &fc->refs[i], sealed, n, &pt) != IMDR_OK ||
	    pt.len != sizeof(want) || memcmp(pt.data, want, sizeof(want)) != 0)
		fc->bad++;
	buf_free(&pt);
	return IMDR_OK;
}

static void
test_store_index_recover(void)
{
	char *dir = new_repo_dir("r5");
	struct repo *r = NULL;
	struct index *idx = index_new(), *idx2, *idx3;
	struct store *st = NULL;
	struct store_opts so = { 2, 2, 1 << 20 };
	struct store_stats ss;
	static uint8_t slots[200][32];
	struct index_recover_info rec;

	EXPECT(repo_init(dir, pass, strlen(pass), NULL, &r) == IMDR_OK);
	EXPECT(store_new(r, idx, &so, &st) == IMDR_OK);
	for (int i = 0; i < 200; i++) {
		uint8_t *d = store_alloc(st, 50000);

		/* 100 distinct blobs, each twice */
		fill_random(d, 50000, (uint64_t)(i % 100));
		EXPECT(store_add(st, BLOB_DATA, d, 50000, slots[i]) == IMDR_OK);
	}
	EXPECT(store_flush(st) == IMDR_OK);
	store_get_stats(st, &ss);
	EXPECT(ss.blobs_new == 100);
	EXPECT(ss.blobs_dup == 100);
	for (int i = 0; i < 200; i++) {
		struct blob_ref ref;
		struct buf out = BUF_INIT;
		uint8_t want[50000];

		EXPECT(memcmp(slots[i], slots[(i + 100) % 200], 32) == 0);
		EXPECT(index_lookup(idx, slots[i], NULL, &ref) == IMDR_OK);
		if (i % 37 == 0) {
			EXPECT(repo_blob_read(r, BLOB_DATA, &ref, &out) == IMDR_OK);
			fill_random(want, sizeof(want), (uint64_t)(i % 100));
			EXPECT(out.len == sizeof(want) && memcmp(out.data, want, sizeof(want)) == 0);
		}
		buf_free(&out);
	}
	/* a fetch of every slot, each blob asked for twice: one ranged read
	 * (a blob asked for again used to end the range it was in) */
	{
		struct blob_ref refs[200];
		struct repo_io_stats a, b;
		struct fetch_count fc = { 0, 0, r, refs };

		for (int i = 0; i < 200; i++)
			EXPECT(index_lookup(idx, slots[i], NULL, &refs[i]) == IMDR_OK);
		repo_io_stats(r, &a);
		EXPECT(repo_blob_fetch(r, refs, 200, 8u << 20, count_fetched, &fc) == IMDR_OK);
		repo_io_stats(r, &b);
		EXPECT(fc.n == 200 && fc.bad == 0);
		EXPECT(b.gets - a.gets == 1);
	}
	store_free(st);
	/* a fresh index loaded from the repository knows every blob */
	idx2 = index_new();
	EXPECT(index_load(r, idx2) == IMDR_OK);
	EXPECT(index_blob_count(idx2) == 100);
	EXPECT(index_recover(r, idx2, &rec) == IMDR_OK);
	EXPECT(rec.recovered == 0 && rec.missing == 0);
	/* remove the index objects: recover rebuilds from pack headers */
	{
		char *cmd = xasprintf("rm -rf %s/index", dir);

		EXPECT(system(cmd) == 0);
		free(cmd);
	}
	idx3 = index_new();
	EXPECT(index_load(r, idx3) == IMDR_OK);
	EXPECT(index_blob_count(idx3) == 0);
	EXPECT(index_recover(r, idx3, &rec) == IMDR_OK);
	EXPECT(rec.recovered >= 1);
	EXPECT(index_blob_count(idx3) == 100);
	index_free(idx);
	index_free(idx2);
	index_free(idx3);
	repo_free(r);
	free(dir);
}

static void
test_snapshots(void)
{
	char *dir = new_repo_dir("r6");
	struct repo *r = NULL;
	struct snapshot s, *got = NULL;
	struct snapshot_name *names = NULL;
	char ids[3][65];
	size_t n = 0, at;
	int64_t t;
	char *tags[] = { "daily" };

	EXPECT(repo_init(dir, pass, strlen(pass), NULL, &r) == IMDR_OK);
	for (int i = 0; i < 3; i++) {
		memset(&s, 0, sizeof(s));
		time_parse("2026-11-24T10:00:00Z", &t, NULL);
		s.time_ns = t + (int64_t)i * 3600 * 1000000000LL;
		s.host = "h";
		s.source = "/src";
		s.format = "files";
		s.tags = tags;
		s.ntags = 1;
		s.files = (uint64_t)i;
		if (i)
			strcpy(s.prev, ids[i - 1]);
		EXPECT(snapshot_save(r, &s) == IMDR_OK);
		strcpy(ids[i], s.id);
	}
	EXPECT(snapshot_list(r, &names, &n) == IMDR_OK);
	EXPECT(n == 3);
	EXPECT(n == 3 && strcmp(names[0].id, ids[0]) == 0 && strcmp(names[2].id, ids[2]) == 0);
	EXPECT(snapshot_resolve_name(names, n, "latest", &at) == IMDR_OK && at == 2);
	EXPECT(snapshot_resolve_name(names, n, "2026-11-24T11:30", &at) == IMDR_OK && at == 1);
	EXPECT(snapshot_resolve_name(names, n, "2026-11-24T11:00", &at) == IMDR_OK && at == 1);
	EXPECT(snapshot_resolve_name(names, n, "2026-11-24T09:59", &at) == IMDR_ENOENT);
	EXPECT(snapshot_resolve_name(names, n, "2026-11-25", &at) == IMDR_OK && at == 2);
	{
		char pre[9];

		memcpy(pre, ids[1], 8);
		pre[8] = '\0';
		EXPECT(snapshot_resolve_name(names, n, pre, &at) == IMDR_OK && at == 1);
	}
	EXPECT(snapshot_resolve_name(names, n, "zzzz", &at) == IMDR_EINVAL);
	EXPECT(snapshot_load(r, names[1].name, &got) == IMDR_OK);
	EXPECT(got && got->files == 1 && strcmp(got->prev, ids[0]) == 0 && got->ntags == 1);
	snapshot_free(got);
	/* tamper with a snapshot: named in the error */
	{
		char *path = xasprintf("%s/%s", dir, names[1].name);
		int rc;

		flip_byte(path, 20);
		rc = snapshot_load(r, names[1].name, &got);
		EXPECT(rc == IMDR_EAUTH);
		EXPECT(strstr(err_msg(rc), names[1].id) != NULL);
		free(path);
	}
	free(names);
	repo_free(r);
	free(dir);
}

static size_t
chunk_all(struct chunker *c, const uint8_t *p, size_t n, uint8_t (*ids)[32],
    size_t max_ids, const uint8_t key[32])
{
	size_t pos = 0, k = 0;

	while (pos < n && k < max_ids) {
		size_t cut = chunker_cut(c, p + pos, n - pos, 1);

		crypto_hmac(key, p + pos, cut, ids[k++]);
		pos += cut;
	}
	return k;
}

static void
test_chunker_bounds_and_shift(void)
{
	size_t n = 64u << 20, k1, k2, reused = 0;
	uint8_t *a = xmalloc(n + 1000), seed[32], key[32];
	static uint8_t ids1[1024][32], ids2[1024][32];
	struct chunker *c;

	memset(seed, 7, sizeof(seed));
	memset(key, 9, sizeof(key));
	c = chunker_new(seed, 256 << 10, 1 << 20, 4 << 20);
	fill_random(a + 1000, n, 42);
	/* sizes within bounds; 0 = "need more" only before max bytes */
	EXPECT(chunker_cut(c, a, 100, 0) == 0);
	EXPECT(chunker_cut(c, a, 100, 1) == 100);
	{
		size_t pos = 0, cuts = 0;

		while (pos < n) {
			size_t cut = chunker_cut(c, a + 1000 + pos, n - pos, 1);

			EXPECT(cut > 0 && cut <= (4u << 20));
			if (pos + cut < n)
				EXPECT(cut >= (256u << 10));
			pos += cut;
			cuts++;
		}
		EXPECT(cuts > 20 && cuts < 200);	/* avg 1 MiB over 64 MiB */
	}
	k1 = chunk_all(c, a + 1000, n, ids1, 1024, key);
	/* insert 1000 bytes at the front */
	fill_random(a, 1000, 99);
	k2 = chunk_all(c, a, n + 1000, ids2, 1024, key);
	for (size_t i = 0; i < k2; i++)
		for (size_t j = 0; j < k1; j++)
			if (memcmp(ids2[i], ids1[j], 32) == 0) {
				reused++;
				break;
			}
	printf("chunker: %zu chunks, %zu of %zu reused after a 1000-byte insert\n", k1, reused, k2);
	EXPECT(reused * 10 >= k2 * 9);
	/* a different key gives different boundaries */
	{
		struct chunker *c2;
		uint8_t seed2[32];

		memset(seed2, 8, sizeof(seed2));
		c2 = chunker_new(seed2, 256 << 10, 1 << 20, 4 << 20);
		EXPECT(chunker_cut(c2, a + 1000, n, 1) != chunker_cut(c, a + 1000, n, 1));
		chunker_free(c2);
	}
	chunker_free(c);
	free(a);
}

static void
test_audit(void)
{
	char *dir = new_repo_dir("audit");
	struct audit_event ev = { "backup", "{\"snapshot\":\"ab\"}", "ok" };
	struct audit_name *v = NULL;
	struct audit_record *a = NULL, *b = NULL;
	char id1[65], id2[65], id3[65];
	struct repo *r = NULL;
	size_t n = 0;

	EXPECT(repo_init(dir, pass, strlen(pass), NULL, &r) == IMDR_OK);
	EXPECT(audit_append(r, &ev, id1) == IMDR_OK);
	ev.command = "forget";
	ev.scope_json = "{\"removed\":[\"cd\"]}";
	EXPECT(audit_append(r, &ev, id2) == IMDR_OK);
	EXPECT(audit_list(r, &v, &n) == IMDR_OK && n == 2);
	EXPECT(n == 2 && strcmp(v[1].command, "forget") == 0 && strcmp(v[1].id, id2) == 0);
	EXPECT(n == 2 && audit_load(r, v[1].name, &a) == IMDR_OK);
	/* linked to the one before; scope and who kept */
	EXPECT(a && a->nparents == 1 && strcmp(a->parents[0] + strlen(a->parents[0]) - 64, id1) == 0);
	EXPECT(a && strcmp(a->parents[0], v[0].name + AUDIT_DIR_LEN) == 0);
	EXPECT(a && strstr(a->scope_json, "removed") && strcmp(a->result, "ok") == 0 && a->user[0]);
	audit_record_free(a);
	a = NULL;
	/* a third joins the head: one parent, the second */
	ev.command = "restore";
	ev.scope_json = NULL;
	EXPECT(audit_append(r, &ev, id3) == IMDR_OK);
	free(v);
	EXPECT(audit_list(r, &v, &n) == IMDR_OK && n == 3);
	EXPECT(n == 3 && audit_load(r, v[2].name, &b) == IMDR_OK);
	EXPECT(b && b->nparents == 1 && strcmp(b->parents[0] + strlen(b->parents[0]) - 64, id2) == 0);
	audit_record_free(b);
	/* bad commands and scopes are refused */
	ev.command = "Bad Cmd";
	EXPECT(audit_append(r, &ev, NULL) == IMDR_EINVAL);
	ev.command = "x";
	ev.scope_json = "[1]";
	EXPECT(audit_append(r, &ev, NULL) == IMDR_EINVAL);
	/* a record put under another's name fails its id */
	{
		char *from = xasprintf("%s/%s", dir, v[0].name), *to = xasprintf("%s/%s", dir, v[1].name);

		EXPECT(rename(from, to) == 0);
		EXPECT(audit_load(r, v[1].name, &a) == IMDR_EAUTH);
		free(from);
		free(to);
	}
	free(v);
	repo_free(r);
	free(dir);
}

/* heads_of: the parents of the record audit_append writes next. */
static size_t
heads_of(struct repo *r, char (*out)[AUDIT_BASE_MAX], size_t cap)
{
	struct audit_name *v = NULL;
	struct audit_record *a = NULL;
	size_t n = 0, k = 0;
	char id[65];

	if (audit_append(r, &(struct audit_event){ "probe", NULL, "ok" }, id) != IMDR_OK ||
	    audit_list(r, &v, &n) != IMDR_OK)
		return SIZE_MAX;
	for (size_t i = 0; i < n; i++)
		if (strcmp(v[i].id, id) == 0 && audit_load(r, v[i].name, &a) == IMDR_OK)
			break;
	for (; a && k < a->nparents && k < cap; k++)
		snprintf(out[k], AUDIT_BASE_MAX, "%s", a->parents[k]);
	audit_record_free(a);
	free(v);
	return k;
}

/* The log's shape: month folders, one canonical name a record, two
 * writers at once joined by the next, the window reaching into last
 * month, and a log idle for months still found. */
static void
test_audit_heads(void)
{
	char *dir = new_repo_dir("audit-heads");
	char (*none)[AUDIT_BASE_MAX] = NULL, hd[8][AUDIT_BASE_MAX], a[AUDIT_BASE_MAX],
	    b[AUDIT_BASE_MAX], c[AUDIT_BASE_MAX];
	struct audit_event ev = { "backup", NULL, "ok" };
	struct audit_name an;
	struct repo *r = NULL;
	int64_t now = time_now_ns(), t;
	char tb[32];
	size_t n;

	/* names: canonical time, folder of its month, [a-z-] command */
	EXPECT(audit_name_parse("20261124T100102.123456789Z-backup-"
	    "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", &an) == 0);
	EXPECT(strncmp(an.name, "audit/202611/20261124T100102.123456789Z-backup-", 47) == 0);
	EXPECT(audit_name_parse("20261124T100102.12345678Z-backup-"
	    "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", &an) != 0);
	EXPECT(audit_name_parse("20261124T100102.123456789Z-Backup-"
	    "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", &an) != 0);
	EXPECT(audit_name_parse("20261124T100102.123456789Z-backup-"
	    "0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef", &an) != 0);
	{
		char *t = audit_text("ok \xff\xc3\xa9 \xed\xa0\x80");

		EXPECT(strcmp(t, "ok \xef\xbf\xbd\xc3\xa9 \xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd") == 0);
		free(t);
	}

	EXPECT(repo_init(dir, pass, strlen(pass), NULL, &r) == IMDR_OK);
	/* an empty log: no parents */
	EXPECT(heads_of(r, hd, 8) == 0);
	/* a log idle for months: its one record is found all the same */
	{
		char *cmd = xasprintf("rm -rf %s/audit", dir);

		EXPECT(system(cmd) == 0);
		free(cmd);
	}
	t = now - (int64_t)100 * 86400 * 1000000000;
	EXPECT(audit_append_linked(r, &ev, none, 0, t, a) == IMDR_OK);
	EXPECT(heads_of(r, hd, 8) == 1 && strcmp(hd[0], a) == 0);
	/* two writers at once (the same parents) make two heads; the next
	 * record names both */
	{
		char p[1][AUDIT_BASE_MAX];
		struct audit_name *v = NULL;

		EXPECT(audit_list(r, &v, &n) == IMDR_OK && n == 2);
		snprintf(p[0], sizeof(p[0]), "%s", n == 2 ? audit_base(&v[1]) : "");
		free(v);
		now = time_now_ns();
		EXPECT(audit_append_linked(r, &ev, p, 1, now + 1000000000, b) == IMDR_OK);
		EXPECT(audit_append_linked(r, &ev, p, 1, now + 2000000000, c) == IMDR_OK);
		n = heads_of(r, hd, 8);
		EXPECT(n == 2 && ((strcmp(hd[0], b) == 0 && strcmp(hd[1], c) == 0) ||
		    (strcmp(hd[0], c) == 0 && strcmp(hd[1], b) == 0)));
	}
	repo_free(r);
	r = NULL;
	/* writers one after another: each append reads the newest record
	 * alone (its seen names the rest of the window), yet a record written
	 * beside the newest, which the newest does not know, is still found */
	{
		char *dir3 = new_repo_dir("audit-seen");
		struct repo_io_stats s0, s1;
		struct audit_name *v = NULL;
		char p[1][AUDIT_BASE_MAX];

		EXPECT(repo_init(dir3, pass, strlen(pass), NULL, &r) == IMDR_OK);
		for (int i = 0; i < 6; i++)
			EXPECT(audit_append(r, &ev, NULL) == IMDR_OK);
		repo_io_stats(r, &s0);
		EXPECT(heads_of(r, hd, 8) == 1);
		repo_io_stats(r, &s1);
		/* the append: one record read; heads_of then reads the probe */
		EXPECT(s1.gets - s0.gets == 2);
		EXPECT(audit_list(r, &v, &n) == IMDR_OK && n == 7);
		snprintf(p[0], sizeof(p[0]), "%s", n == 7 ? audit_base(&v[3]) : "");
		t = n == 7 ? v[6].time_ns - 1000 : 0;	/* just before the newest */
		free(v);
		EXPECT(audit_append_linked(r, &ev, p, 1, t, a) == IMDR_OK);
		n = heads_of(r, hd, 8);
		EXPECT(n == 2 && (strcmp(hd[0], a) == 0 || strcmp(hd[1], a) == 0));
		repo_free(r);
		r = NULL;
		free(dir3);
	}
	/* the window reaches back into last month: a record 5 minutes before
	 * this month began is still a head beside one just after it (a
	 * listing of this month alone would miss it) */
	{
		char *dir2 = new_repo_dir("audit-months");
		int64_t start;

		time_format_compact(now, tb);
		memcpy(tb + 6, "01T000000Z", 11);
		EXPECT(time_parse_compact(tb, &start) == 0);
		EXPECT(repo_init(dir2, pass, strlen(pass), NULL, &r) == IMDR_OK);
		EXPECT(audit_append_linked(r, &ev, none, 0, start - 300 * (int64_t)1000000000, a) == IMDR_OK);
		EXPECT(audit_append_linked(r, &ev, none, 0, start + 1, b) == IMDR_OK);
		EXPECT(strncmp(a, b, 6) != 0);	/* two month folders */
		/* the window is the newest record's, wherever now is */
		n = heads_of(r, hd, 8);
		EXPECT(n == 2);
		repo_free(r);
		r = NULL;
		free(dir2);
	}
	free(dir);
}

/* --key-cache durations: what repo/keycache.h accepts and what it refuses */
static void
test_key_cache_durations(void)
{
	int64_t s = -1;

	EXPECT(keycache_parse_duration("15m", &s) == IMDR_OK && s == 900);
	EXPECT(keycache_parse_duration("90s", &s) == IMDR_OK && s == 90);
	EXPECT(keycache_parse_duration("90", &s) == IMDR_OK && s == 90);
	EXPECT(keycache_parse_duration("1.5h", &s) == IMDR_OK && s == 5400);
	EXPECT(keycache_parse_duration("1d", &s) == IMDR_OK && s == 86400);
	EXPECT(keycache_parse_duration("off", &s) == IMDR_OK && s == 0);
	EXPECT(keycache_parse_duration("0", &s) == IMDR_OK && s == 0);
	EXPECT(keycache_parse_duration("31d", &s) == IMDR_EINVAL);
	EXPECT(keycache_parse_duration("5x", &s) == IMDR_EINVAL);
	EXPECT(keycache_parse_duration("-5m", &s) == IMDR_EINVAL);
	EXPECT(keycache_parse_duration("m", &s) == IMDR_EINVAL);
	EXPECT(keycache_parse_duration("", &s) == IMDR_EINVAL);
	err_clear();
}

/* A local repository writes large objects (packs) with O_DIRECT, from
 * the caller's memory when it is page-aligned and through an aligned copy
 * when not, the last partial block through the page cache: every size
 * around those edges, from either kind of memory, reads back byte for
 * byte (/tmp is a real file system here, as in CI: the direct path is
 * the one taken). */
static void
test_local_large_objects(void)
{
	static const size_t sizes[] = { (1u << 20) - 1, 1u << 20, (1u << 20) + 1,
	    (4u << 20) + 4095, (4u << 20) + 4096, (9u << 20) + 17, 16u << 20 };
	char *root = xasprintf("%s/large", tmpdir);
	struct backend *be;
	uint8_t *aligned = NULL, *raw = malloc((16u << 20) + 64);
	struct buf out = BUF_INIT;

	EXPECT(raw != NULL && posix_memalign((void **)&aligned, 4096, (16u << 20) + 4096) == 0);
	EXPECT(backend_open(root, 1, &be) == IMDR_OK);
	if (raw == NULL || aligned == NULL || be == NULL)
		return;
	fill_random(aligned, (16u << 20) + 4096, 41);
	memcpy(raw + 3, aligned, 16u << 20);	/* the same bytes, off any page */
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		for (int from_raw = 0; from_raw < 2; from_raw++) {
			char name[64];
			const uint8_t *src = from_raw ? raw + 3 : aligned;

			snprintf(name, sizeof(name), "data/ab/obj-%zu-%d", sizes[i], from_raw);
			EXPECT(backend_put(be, name, src, sizes[i]) == IMDR_OK);
			EXPECT(backend_get(be, name, 0, BACKEND_WHOLE, &out) == IMDR_OK);
			EXPECT(out.len == sizes[i] && memcmp(out.data, aligned, sizes[i]) == 0);
			/* write-once holds on the direct path too */
			EXPECT(backend_put(be, name, src, sizes[i]) == IMDR_EEXIST);
			err_clear();
		}
	}
	buf_free(&out);
	backend_close(be);
	free(aligned);
	free(raw);
	free(root);
}

/* direct_reads: every range around the direct-read edges of an object of
 * size bytes in a local repository at root reads back byte for byte into
 * one reused buffer; *ret_heads counts the reads that came back with a
 * head (read around the page cache). */
static void
direct_reads(const char *root, size_t size, int *ret_heads)
{
	static const size_t lens[] = { (256u << 10) - 1, 256u << 10, (256u << 10) + 1,
	    (1u << 20) + 4095, 2u << 20 };
	static const size_t offs[] = { 0, 1, 511, 512, 4095, 4096, 4097, 65537 };
	struct backend *be;
	uint8_t *data = malloc(size);
	struct buf out = BUF_INIT;

	*ret_heads = 0;
	EXPECT(data != NULL && backend_open(root, 1, &be) == IMDR_OK);
	if (data == NULL || be == NULL)
		return;
	fill_random(data, size, 43);
	EXPECT(backend_put(be, "data/cd/obj", data, size) == IMDR_OK);
	for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		for (size_t j = 0; j < sizeof(offs) / sizeof(offs[0]) + 2; j++) {
			struct backend_read rd = { 0, 0, 1 };
			size_t len = lens[i], off;

			/* the last two: ending at the object's end, and one before */
			off = j < sizeof(offs) / sizeof(offs[0]) ? offs[j] :
			    size - len - (j - sizeof(offs) / sizeof(offs[0]));
			EXPECT(backend_get_ex(be, "data/cd/obj", off, len, &out, &rd) == IMDR_OK);
			EXPECT(out.len == len && memcmp(out.data, data + off, len) == 0);
			if (out.head) {
				(*ret_heads)++;
				EXPECT(out.head == off % 4096);
			}
		}
	}
	/* a buffer with a head grows, and is handed over, whole */
	{
		struct backend_read rd = { 0, 0, 1 };
		size_t n;
		uint8_t *p;

		EXPECT(backend_get_ex(be, "data/cd/obj", 4097, 300000, &out, &rd) == IMDR_OK);
		buf_append(&out, data, 3u << 20);	/* past its room */
		EXPECT(out.len == 300000 + (3u << 20) && out.head == 0 &&
		    memcmp(out.data, data + 4097, 300000) == 0 &&
		    memcmp(out.data + 300000, data, 3u << 20) == 0);
		EXPECT(backend_get_ex(be, "data/cd/obj", 4097, 300000, &out, &rd) == IMDR_OK);
		p = buf_steal(&out, &n);
		EXPECT(n == 300000 && memcmp(p, data + 4097, n) == 0);
		free(p);
		/* past the end: an error that says so */
		EXPECT(backend_get_ex(be, "data/cd/obj", size - 300000 + 1, 300000, &out, &rd) ==
		    IMDR_EFORMAT);
		err_clear();
	}
	buf_free(&out);
	backend_close(be);
	free(data);
}

/* A reader that takes a buffer with a head (the mount's chunks) gets large
 * ranges of a local repository read around the page cache, straight into
 * its buffer; on a file system without O_DIRECT (tmpfs), through the page
 * cache. Both give every byte. */
static void
test_local_direct_reads(void)
{
	char *root = xasprintf("%s/direct", tmpdir);
	char shm[] = "/dev/shm/imdr-unit-direct.XXXXXX";
	int heads;

	direct_reads(root, (3u << 20) + 1234, &heads);
	{
		/* where the file system takes O_DIRECT (ext4 here and in CI),
		 * the direct path must be the one taken */
		char *probe = xasprintf("%s/direct/probe", tmpdir);
		int fd = open(probe, O_RDWR | O_CREAT | O_DIRECT, 0600);

		if (fd >= 0) {
			EXPECT(heads > 0);
			close(fd);
			unlink(probe);
		} else {
			printf("%s: no O_DIRECT (%s): the page cache path only\n", tmpdir,
			    strerror(errno));
		}
		free(probe);
	}
	free(root);
	if (mkdtemp(shm) != NULL) {
		char *cmd = xasprintf("rm -rf %s", shm);

		root = xasprintf("%s/repo", shm);
		direct_reads(root, (3u << 20) + 1234, &heads);
		free(root);
		if (system(cmd) != 0)
			fprintf(stderr, "cannot remove %s\n", shm);
		free(cmd);
	}
}

int
main(void)
{
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/imdr-unit-repo.XXXXXX");
	if (mkdtemp(tmpdir) == NULL)
		return 1;
	setenv("IMDR_TEST_FAST_KDF", "1", 1);
	RUN(test_crypto_roundtrip);
	RUN(test_init_open_wrong_pass);
	RUN(test_tamper_key_slot_and_index);
	RUN(test_blob_seal);
	RUN(test_pack_roundtrip_and_tamper);
	RUN(test_store_index_recover);
	RUN(test_snapshots);
	RUN(test_chunker_bounds_and_shift);
	RUN(test_audit);
	RUN(test_audit_heads);
	RUN(test_key_cache_durations);
	RUN(test_local_large_objects);
	RUN(test_local_direct_reads);
	{
		char *cmd = xasprintf("rm -rf %s", tmpdir);

		if (system(cmd) != 0)
			fprintf(stderr, "cannot remove %s\n", tmpdir);
		free(cmd);
	}
	TEST_EXIT();
}
