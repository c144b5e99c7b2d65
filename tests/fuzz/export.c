/* export — see export.h. */
#include "tests/fuzz/export.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <archive.h>
#include <archive_entry.h>
#include <jansson.h>

#include "ingest/archive_dl.h"
#include "lib/buf.h"
#include "lib/err.h"
#include "lib/hex.h"
#include "repo/crypto.h"

#define MAX_RECORDS 64

static int memfd = -1;
static char memfd_path[64];
static char top[64];		/* holds secret.txt and att/ */
static char att[96];
/* The host file's content is random per process and compared by SHA-256
 * of whole files: a memmem for a fixed marker let libFuzzer learn the
 * marker from the comparison and plant it in an export of its own. */
static uint8_t secret_sha[32];

static void
remove_top(void)
{
	char cmd[128];

	if (top[0] == '\0')
		return;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", top);
	if (system(cmd) != 0)
		fprintf(stderr, "fuzz: could not remove %s\n", top);
}

static void
put_file(const char *path, const char *data)
{
	FILE *f = fopen(path, "w");

	if (f == NULL || fputs(data, f) < 0 || fclose(f) != 0)
		abort();
}

static void
setup(void)
{
	char p[160];

	if (memfd >= 0)
		return;
	memfd = memfd_create("imdr-fuzz-export", MFD_CLOEXEC);
	if (memfd < 0)
		abort();
	snprintf(memfd_path, sizeof(memfd_path), "/proc/self/fd/%d", memfd);
	snprintf(top, sizeof(top), "/tmp/imdr-fuzz.XXXXXX");
	if (mkdtemp(top) == NULL)
		abort();
	atexit(remove_top);
	{
		uint8_t rnd[32];
		char hex[80];

		if (getrandom(rnd, sizeof(rnd), 0) != sizeof(rnd))
			abort();
		hex_encode(rnd, sizeof(rnd), hex);
		strcat(hex, "\n");
		crypto_sha256(hex, strlen(hex), secret_sha);
		snprintf(p, sizeof(p), "%s/secret.txt", top);
		put_file(p, hex);
	}
	snprintf(att, sizeof(att), "%s/att", top);
	mkdir(att, 0755);
	snprintf(p, sizeof(p), "%s/sub", att);
	mkdir(p, 0755);
	snprintf(p, sizeof(p), "%s/a.txt", att);
	put_file(p, "attachment a\n");
	snprintf(p, sizeof(p), "%s/sub/b.txt", att);
	put_file(p, "attachment b\n");
	snprintf(p, sizeof(p), "%s/link", att);
	if (symlink("../secret.txt", p) != 0)
		abort();
	snprintf(p, sizeof(p), "%s/abslink", att);
	{
		char target[160];

		snprintf(target, sizeof(target), "%s/secret.txt", top);
		if (symlink(target, p) != 0)
			abort();
	}
	snprintf(p, sizeof(p), "%s/up", att);
	if (symlink("..", p) != 0)
		abort();
}

const char *
fuzz_attachments_dir(void)
{
	setup();
	return att;
}

/* ---- the export ---- */

static void
add_member(struct archive *a, const uint8_t *name, size_t nlen, const uint8_t *data,
    size_t dlen)
{
	struct archive_entry *e = archive_entry_new();
	char *nm;
	int type = AE_IFREG;

	if (nlen > 0 && (name[0] == 2 || name[0] == 3)) {
		type = name[0] == 2 ? AE_IFLNK : AE_IFDIR;
		name++;
		nlen--;
	}
	nm = xstrndup((const char *)name, nlen);
	if (*nm == '\0') {
		free(nm);
		nm = xstrdup("empty");
	}
	archive_entry_copy_pathname(e, nm);
	archive_entry_set_filetype(e, (unsigned)type);
	archive_entry_set_perm(e, type == AE_IFDIR ? 0755 : 0644);
	archive_entry_set_mtime(e, 1795424460, 0);
	if (type == AE_IFLNK) {
		char *target = xstrndup((const char *)data, dlen);

		archive_entry_copy_symlink(e, target);
		free(target);
	}
	if (type == AE_IFREG)
		archive_entry_set_size(e, (la_int64_t)dlen);
	if (archive_write_header(a, e) == ARCHIVE_OK && type == AE_IFREG && dlen > 0)
		archive_write_data(a, data, dlen);
	archive_entry_free(e);
	free(nm);
}

/* build_tar: the records as a tar in out; 0 or -1. */
static int
build_tar(const uint8_t *data, size_t n, const char *const *defaults, struct buf *out)
{
	struct archive *a = archive_dl_load() == 0 ? archive_write_new() : NULL;
	size_t cap = n * 3 + 1024 * (MAX_RECORDS + 4) + 65536, used = 0;
	size_t start = 0, rec = 0, ndefaults = 0;

	while (defaults[ndefaults] != NULL)
		ndefaults++;
	if (a == NULL)
		return -1;
	buf_reserve(out, cap);
	archive_write_set_format_gnutar(a);
	archive_write_set_bytes_in_last_block(a, 1);
	if (archive_write_open_memory(a, out->data, cap, &used) != ARCHIVE_OK) {
		archive_write_free(a);
		return -1;
	}
	while (start <= n && rec < MAX_RECORDS) {
		const uint8_t *r = data + start, *z = memchr(r, 0, n - start), *sep;
		size_t len = z ? (size_t)(z - r) : n - start;

		sep = memchr(r, 1, len);
		if (sep)
			add_member(a, r, (size_t)(sep - r), sep + 1, len - (size_t)(sep - r) - 1);
		else if (rec < ndefaults)
			add_member(a, (const uint8_t *)defaults[rec], strlen(defaults[rec]), r, len);
		rec++;
		/* defaults not given by a record at all are left out */
		if (z == NULL)
			break;
		start += len + 1;
	}
	archive_write_close(a);
	archive_write_free(a);
	out->len = used;
	return 0;
}

/* ---- the checking sink ---- */

struct check {
	int chat;
};

static void
check_path(const char *p)
{
	if (p == NULL || *p == '\0' || *p == '/')
		__builtin_trap();
	while (*p) {
		size_t len = strcspn(p, "/");

		if (len == 0 || (len == 1 && p[0] == '.') || (len == 2 && p[0] == '.' && p[1] == '.'))
			__builtin_trap();
		p += len;
		if (*p == '/' && *++p == '\0')
			__builtin_trap();
	}
}

static const char *
base_of(const char *p)
{
	const char *s = strrchr(p, '/');

	return s ? s + 1 : p;
}

static void
check_json(const uint8_t *p, size_t n)
{
	json_error_t je;
	json_t *j = json_loadb((const char *)p, n, JSON_ALLOW_NUL, &je);

	if (j == NULL)
		__builtin_trap();
	json_decref(j);
}

static void
check_jsonl(const uint8_t *p, size_t n)
{
	size_t start = 0;

	while (start < n) {
		const uint8_t *nl = memchr(p + start, '\n', n - start);
		size_t len = nl ? (size_t)(nl - (p + start)) : n - start;

		if (len > 0)
			check_json(p + start, len);
		start += len + 1;
	}
}

static void
check_transcript(const uint8_t *p, size_t n)
{
	size_t start = 0;

	for (size_t i = 0; i < n; i++)
		if (p[i] == 0x1b || p[i] == '\r' || (p[i] == 0xc2 && i + 1 < n &&
		    p[i + 1] >= 0x80 && p[i + 1] <= 0x9f))
			__builtin_trap();
	while (start < n) {
		const uint8_t *l = p + start, *nl = memchr(l, '\n', n - start);
		size_t len = nl ? (size_t)(nl - l) : n - start;

		if (!(len >= 1 && l[0] == '[') && !(len >= 5 && memcmp(l, "    [", 5) == 0) &&
		    !(len >= 8 && memcmp(l, "        ", 8) == 0))
			__builtin_trap();	/* a line that is neither a message nor part of one */
		start += len + 1;
	}
}

static int
check_entry(void *ctx, const struct ingest_entry *e, const struct ingest_reader *rd)
{
	struct check *c = ctx;
	struct buf b = BUF_INIT;
	const char *base;
	int rc = IMDR_OK;

	check_path(e->path);
	if (e->type == INGEST_SYMLINK && e->link_target == NULL)
		__builtin_trap();
	if (e->type != INGEST_FILE)
		return IMDR_OK;
	for (;;) {
		size_t got;

		buf_reserve(&b, 65536);
		rc = rd->read(rd->rs, b.data + b.len, b.cap - b.len, &got);
		if (rc || got == 0)
			break;
		b.len += got;
	}
	if (rc == IMDR_OK) {
		uint8_t sum[32];

		crypto_sha256(b.data ? b.data : (uint8_t *)"", b.len, sum);
		if (memcmp(sum, secret_sha, 32) == 0)
			__builtin_trap();	/* the host file reached the backup */
		base = base_of(e->path);
		if (c->chat && (strcmp(e->path, "manifest.json") == 0 || strcmp(base, "meta.json") == 0) &&
		    strncmp(e->path, "source/", 7) != 0)
			check_json(b.data, b.len);
		if (c->chat && (strcmp(base, "messages.jsonl") == 0 || strcmp(e->path, "users.jsonl") == 0) &&
		    strncmp(e->path, "source/", 7) != 0)
			check_jsonl(b.data, b.len);
		if (c->chat && strcmp(base, "transcript.txt") == 0 && strncmp(e->path, "source/", 7) != 0)
			check_transcript(b.data, b.len);
	}
	buf_free(&b);
	return rc;
}

static void
check_warn(void *ctx, const char *path, const char *msg)
{
	(void)ctx;
	if (path == NULL || msg == NULL)
		__builtin_trap();
}

void
fuzz_export_run(const uint8_t *data, size_t n, const char *const *defaults,
    const char *format, const char *attachments_dir, int chat)
{
	struct check c = { chat };
	struct ingest_sink sink = { check_entry, check_warn, &c, NULL, NULL };
	struct ingest_opts o;
	struct ingest_result res;
	struct buf tar = BUF_INIT;

	setup();
	if (build_tar(data, n, defaults, &tar) != 0 || tar.len == 0) {
		buf_free(&tar);
		return;
	}
	if (ftruncate(memfd, 0) != 0 || pwrite(memfd, tar.data, tar.len, 0) != (ssize_t)tar.len)
		abort();
	buf_free(&tar);
	memset(&o, 0, sizeof(o));
	if ((o.format = ingest_format_find(format)) == NULL)
		abort();
	o.attachments_dir = attachments_dir;
	memset(&res, 0, sizeof(res));
	ingest_run(memfd_path, &o, &sink, &res);
	free(res.summary_json);
	free(res.source_name);
	err_clear();
}
