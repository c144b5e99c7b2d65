/* src — an export read in passes; see ingest_impl.h. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <archive.h>
#include <archive_entry.h>

#include "ingest/ingest_impl.h"
#include "lib/err.h"

struct fd_rd {
	int fd;
	const char *path;
};

static int
fdrd_read(void *rs, void *buf, size_t cap, size_t *ret_got)
{
	struct fd_rd *r = rs;
	ssize_t n;

	do
		n = read(r->fd, buf, cap);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return err_set(IMDR_ESOURCE, "cannot read %s: %s", r->path, strerror(errno));
	*ret_got = (size_t)n;
	return IMDR_OK;
}

struct ar_rd {
	struct archive *a;
	const char *archive, *entry;
};

static int
arrd_read(void *rs, void *buf, size_t cap, size_t *ret_got)
{
	struct ar_rd *r = rs;
	la_ssize_t n = archive_read_data(r->a, buf, cap);

	if (n < 0)
		return err_set(IMDR_ESOURCE, "%s: cannot read %s: %s (corrupt or truncated archive)",
		    r->archive, r->entry, archive_error_string(r->a));
	*ret_got = (size_t)n;
	return IMDR_OK;
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

struct ns {
	char *name;
	uint64_t size;
};

static int
cmp_ns(const void *a, const void *b)
{
	return strcmp(((const struct ns *)a)->name, ((const struct ns *)b)->name);
}

static void
add_name(struct src *s, size_t *cap, const char *name, uint64_t size)
{
	if (s->n == *cap) {
		*cap = *cap ? *cap * 2 : 256;
		s->names = xrealloc(s->names, *cap * sizeof(*s->names));
		s->sizes = xrealloc(s->sizes, *cap * sizeof(*s->sizes));
	}
	s->names[s->n] = xstrdup(name);
	s->sizes[s->n] = size;
	s->n++;
}

/* ---- folders ---- */

typedef int (*dir_fn)(void *ctx, const char *rel, const char *abs,
    const struct stat *st);

static int
walk(const char *abs, const char *rel, dir_fn fn, void *ctx)
{
	DIR *d = opendir(abs);
	struct dirent *de;
	char **names = NULL;
	size_t n = 0, cap = 0;
	int rc = IMDR_OK;

	if (d == NULL)
		return err_set(IMDR_ESOURCE, "cannot read folder %s: %s", abs, strerror(errno));
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 64;
			names = xrealloc(names, cap * sizeof(*names));
		}
		names[n++] = xstrdup(de->d_name);
	}
	closedir(d);
	if (n)
		qsort(names, n, sizeof(*names), cmp_str);
	for (size_t i = 0; i < n; i++) {
		char *a = xasprintf("%s/%s", abs, names[i]);
		char *r = rel[0] ? xasprintf("%s/%s", rel, names[i]) : xstrdup(names[i]);
		struct stat st;

		if (rc == IMDR_OK && lstat(a, &st) == 0) {
			if (S_ISDIR(st.st_mode))
				rc = walk(a, r, fn, ctx);
			else if (S_ISREG(st.st_mode))
				rc = fn(ctx, r, a, &st);
		}
		free(a);
		free(r);
		free(names[i]);
	}
	free(names);
	return rc;
}

static int
list_one(void *ctx, const char *rel, const char *abs, const struct stat *st)
{
	struct { struct src *s; size_t cap; } *c = ctx;

	(void)abs;
	add_name(c->s, &c->cap, rel, (uint64_t)st->st_size);
	return IMDR_OK;
}

struct scan_ctx {
	struct src *s;
	src_fn fn;
	void *ctx;
};

static int
scan_one(void *ctx, const char *rel, const char *abs, const struct stat *st)
{
	struct scan_ctx *c = ctx;
	struct fd_rd fr;
	struct ingest_reader rd = { fdrd_read, &fr };
	int rc;

	fr.fd = open(abs, O_RDONLY | O_CLOEXEC);
	fr.path = abs;
	if (fr.fd < 0)
		return err_set(IMDR_ESOURCE, "cannot open %s: %s", abs, strerror(errno));
	rc = c->fn(c->ctx, rel, (uint64_t)st->st_size,
	    (int64_t)st->st_mtim.tv_sec * 1000000000 + st->st_mtim.tv_nsec, &rd);
	close(fr.fd);
	return rc;
}

/* ---- archives ---- */

/* ar_each: every regular member, name cleaned (NULL names skipped). */
static int
ar_each(struct src *s, int with_data, src_fn fn, void *ctx)
{
	struct archive_entry *ae;
	struct archive *a;
	int rc, r;

	a = ingest_archive_open(s->path, &rc);
	if (a == NULL)
		return rc;
	while ((r = archive_read_next_header(a, &ae)) == ARCHIVE_OK || r == ARCHIVE_WARN) {
		const char *raw = archive_entry_pathname(ae);
		mode_t ft = archive_entry_filetype(ae);
		char *clean;
		const char *name;

		if (ft != AE_IFREG && ft != 0)
			continue;
		if (archive_entry_hardlink(ae) != NULL)
			continue;
		clean = raw ? ingest_clean_path(raw) : NULL;
		if (clean == NULL)
			continue;
		name = clean;
		if (s->strip) {
			size_t sl = strlen(s->strip);

			if (strncmp(name, s->strip, sl) == 0)
				name += sl;
		}
		if (with_data) {
			struct ar_rd ar = { a, s->path, clean };
			struct ingest_reader rd = { arrd_read, &ar };

			rc = fn(ctx, name, archive_entry_size_is_set(ae) ?
			    (uint64_t)archive_entry_size(ae) : 0,
			    (int64_t)archive_entry_mtime(ae) * 1000000000 +
			    archive_entry_mtime_nsec(ae), &rd);
		} else
			rc = fn(ctx, name, archive_entry_size_is_set(ae) ?
			    (uint64_t)archive_entry_size(ae) : 0, 0, NULL);
		free(clean);
		if (rc)
			goto out;
	}
	if (r != ARCHIVE_EOF)
		rc = err_set(IMDR_ESOURCE, "%s: corrupt or truncated archive: %s", s->path,
		    archive_error_string(a));
out:
	archive_read_free(a);
	return rc;
}

static int
ar_list_one(void *ctx, const char *name, uint64_t size, int64_t mtime,
    const struct ingest_reader *rd)
{
	struct { struct src *s; size_t cap; } *c = ctx;

	(void)mtime;
	(void)rd;
	add_name(c->s, &c->cap, name, size);
	return IMDR_OK;
}

/* ---- the interface ---- */

int
src_open(const char *path, struct src **ret)
{
	struct src *s = xcalloc(1, sizeof(*s));
	struct { struct src *s; size_t cap; } c = { s, 0 };
	struct stat st;
	int rc = IMDR_OK;

	s->path = xstrdup(path);
	if (stat(path, &st) < 0) {
		rc = err_set(IMDR_ESOURCE, "cannot read source %s: %s", path, strerror(errno));
		goto out;
	}
	if (S_ISDIR(st.st_mode)) {
		s->kind = SRC_DIR;
		rc = walk(path, "", list_one, &c);
	} else if (ingest_is_archive(path)) {
		s->kind = SRC_ARCHIVE;
		rc = ar_each(s, 0, ar_list_one, &c);
		/* one top-level folder holding everything: that is the root */
		if (rc == IMDR_OK && s->n > 0) {
			const char *slash = strchr(s->names[0], '/');
			size_t pl = slash ? (size_t)(slash - s->names[0]) + 1 : 0;
			int common = pl > 0;

			for (size_t i = 1; i < s->n && common; i++)
				common = strncmp(s->names[i], s->names[0], pl) == 0;
			if (common) {
				s->strip = xstrndup(s->names[0], pl);
				for (size_t i = 0; i < s->n; i++)
					memmove(s->names[i], s->names[i] + pl, strlen(s->names[i]) - pl + 1);
			}
		}
	} else if (S_ISREG(st.st_mode)) {
		const char *base = strrchr(path, '/');

		s->kind = SRC_FILE;
		add_name(s, &c.cap, base ? base + 1 : path, (uint64_t)st.st_size);
	} else
		rc = err_set(IMDR_ESOURCE, "%s: not a folder, an archive or a file", path);
	if (rc == IMDR_OK && s->n > 1) {
		struct ns *v = xmalloc(s->n * sizeof(*v));

		for (size_t i = 0; i < s->n; i++) {
			v[i].name = s->names[i];
			v[i].size = s->sizes[i];
		}
		qsort(v, s->n, sizeof(*v), cmp_ns);
		for (size_t i = 0; i < s->n; i++) {
			s->names[i] = v[i].name;
			s->sizes[i] = v[i].size;
		}
		free(v);
	}
out:
	if (rc) {
		src_free(s);
		return rc;
	}
	*ret = s;
	return IMDR_OK;
}

void
src_free(struct src *s)
{
	if (s == NULL)
		return;
	for (size_t i = 0; i < s->n; i++)
		free(s->names[i]);
	free(s->names);
	free(s->sizes);
	free(s->strip);
	free(s->path);
	free(s);
}

size_t
src_has(const struct src *s, const char *name)
{
	size_t lo = 0, hi = s->n;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		int c = strcmp(s->names[mid], name);

		if (c == 0)
			return mid + 1;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return 0;
}

int
src_scan(struct src *s, src_fn fn, void *ctx)
{
	struct scan_ctx c = { s, fn, ctx };

	switch (s->kind) {
	case SRC_DIR:
		return walk(s->path, "", scan_one, &c);
	case SRC_ARCHIVE:
		return ar_each(s, 1, fn, ctx);
	default: {
		struct stat st;

		if (stat(s->path, &st) < 0)
			return err_set(IMDR_ESOURCE, "cannot read %s: %s", s->path, strerror(errno));
		return scan_one(&c, s->names[0], s->path, &st);
	}
	}
}

int
src_read_all(const struct ingest_reader *rd, const char *what, size_t max,
    struct buf *out)
{
	out->len = 0;
	for (;;) {
		size_t got;
		int rc;

		buf_reserve(out, 65536);
		rc = rd->read(rd->rs, out->data + out->len, out->cap - out->len - 1, &got);
		if (rc)
			return rc;
		if (got == 0)
			break;
		out->len += got;
		if (out->len > max)
			return err_set(IMDR_ESOURCE, "%s: larger than %zu MiB, not a JSON document this reader takes whole",
			    what, max >> 20);
	}
	buf_cstr(out);
	return IMDR_OK;
}

/* ---- strmap ---- */

struct strmap {
	char **k, **v;
	size_t n, cap;		/* cap: a power of two */
};

static uint64_t
fnv(const char *s)
{
	uint64_t h = 1469598103934665603ULL;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return h;
}

struct strmap *
strmap_new(void)
{
	struct strmap *m = xcalloc(1, sizeof(*m));

	m->cap = 64;
	m->k = xcalloc(m->cap, sizeof(char *));
	m->v = xcalloc(m->cap, sizeof(char *));
	return m;
}

void
strmap_free(struct strmap *m)
{
	if (m == NULL)
		return;
	for (size_t i = 0; i < m->cap; i++) {
		free(m->k[i]);
		free(m->v[i]);
	}
	free(m->k);
	free(m->v);
	free(m);
}

static size_t
slot_of(const struct strmap *m, const char *key)
{
	size_t i = fnv(key) & (m->cap - 1);

	while (m->k[i] && strcmp(m->k[i], key) != 0)
		i = (i + 1) & (m->cap - 1);
	return i;
}

int
strmap_put(struct strmap *m, const char *key, const char *val)
{
	size_t i;

	if ((m->n + 1) * 2 > m->cap) {
		struct strmap big = { xcalloc(m->cap * 2, sizeof(char *)),
		    xcalloc(m->cap * 2, sizeof(char *)), m->n, m->cap * 2 };

		for (size_t j = 0; j < m->cap; j++) {
			if (m->k[j] == NULL)
				continue;
			i = slot_of(&big, m->k[j]);
			big.k[i] = m->k[j];
			big.v[i] = m->v[j];
		}
		free(m->k);
		free(m->v);
		*m = big;
	}
	i = slot_of(m, key);
	if (m->k[i])
		return 0;
	m->k[i] = xstrdup(key);
	m->v[i] = xstrdup(val);
	m->n++;
	return 1;
}

const char *
strmap_get(const struct strmap *m, const char *key)
{
	size_t i = slot_of(m, key);

	return m->k[i] ? m->v[i] : NULL;
}
