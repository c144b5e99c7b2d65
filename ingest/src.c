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
#include "ingest/archive_dl.h"
#include "lib/array.h"
#include "lib/err.h"
#include "lib/smap.h"

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
	size_t pos;
};

static int
cmp_ns(const void *a, const void *b)
{
	const struct ns *x = a, *y = b;
	int c = strcmp(x->name, y->name);

	if (c)
		return c;
	return x->pos < y->pos ? -1 : x->pos > y->pos;
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

/* Every folder is opened from its parent's descriptor and every file from
 * its folder's, all with O_NOFOLLOW: a symlink in the export (to a host
 * file, or to a folder outside) is never followed, even when it replaces a
 * file or folder between listing and reading. Symlinks are not listed: the
 * readers see regular files only (source/ keeps the links as links). */
typedef int (*dir_fn)(void *ctx, int dfd, const char *name, const char *rel,
    const char *abs, const struct stat *st);

static int
walk(int dfd, const char *abs, const char *rel, dir_fn fn, void *ctx)
{
	DIR *d = fdopendir(dfd);
	struct dirent *de;
	char **names = NULL;
	size_t n = 0, cap = 0;
	int rc = IMDR_OK;

	if (d == NULL) {
		rc = err_set(IMDR_ESOURCE, "cannot read folder %s: %s", abs, strerror(errno));
		close(dfd);
		return rc;
	}
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 64;
			names = xrealloc(names, cap * sizeof(*names));
		}
		names[n++] = xstrdup(de->d_name);
	}
	if (n)
		qsort(names, n, sizeof(*names), cmp_str);
	for (size_t i = 0; i < n; i++) {
		char *a = xasprintf("%s/%s", abs, names[i]);
		char *r = rel[0] ? xasprintf("%s/%s", rel, names[i]) : xstrdup(names[i]);
		struct stat st;

		if (rc == IMDR_OK && fstatat(dirfd(d), names[i], &st, AT_SYMLINK_NOFOLLOW) == 0) {
			if (S_ISDIR(st.st_mode)) {
				int sub = openat(dirfd(d), names[i],
				    O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

				rc = sub < 0 ? err_set(IMDR_ESOURCE, "cannot read folder %s: %s", a,
				    strerror(errno)) : walk(sub, a, r, fn, ctx);
			} else if (S_ISREG(st.st_mode))
				rc = fn(ctx, dirfd(d), names[i], r, a, &st);
		}
		free(a);
		free(r);
		free(names[i]);
	}
	free(names);
	closedir(d);
	return rc;
}

static int
walk_root(const char *path, dir_fn fn, void *ctx)
{
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0)
		return err_set(IMDR_ESOURCE, "cannot read folder %s: %s", path, strerror(errno));
	return walk(fd, path, "", fn, ctx);
}

static int
list_one(void *ctx, int dfd, const char *name, const char *rel, const char *abs,
    const struct stat *st)
{
	struct { struct src *s; size_t cap; } *c = ctx;

	(void)dfd;
	(void)name;
	(void)abs;
	add_name(c->s, &c->cap, rel, (uint64_t)st->st_size);
	return IMDR_OK;
}

struct scan_ctx {
	struct src *s;
	src_fn fn;
	void *ctx;
};

/* open_file: a regular file in dfd, not through a symlink; O_NONBLOCK so
 * that a fifo put in its place cannot hang the backup. */
static int
open_file(int dfd, const char *name, const char *abs, struct stat *ret_st, int *ret_fd)
{
	int fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC), rc;

	if (fd < 0)
		return err_set(IMDR_ESOURCE, "cannot open %s: %s", abs,
		    errno == ELOOP ? "it became a symlink (not followed)" : strerror(errno));
	if (fstat(fd, ret_st) < 0 || !S_ISREG(ret_st->st_mode)) {
		rc = err_set(IMDR_ESOURCE, "%s is no longer a regular file", abs);
		close(fd);
		return rc;
	}
	*ret_fd = fd;
	return IMDR_OK;
}

static int
scan_one(void *ctx, int dfd, const char *name, const char *rel, const char *abs,
    const struct stat *listed)
{
	struct scan_ctx *c = ctx;
	struct fd_rd fr;
	struct ingest_reader rd = { fdrd_read, &fr };
	struct stat st;
	int rc;

	(void)listed;
	rc = open_file(dfd, name, abs, &st, &fr.fd);
	if (rc)
		return rc;
	fr.path = abs;
	rc = c->fn(c->ctx, rel, (uint64_t)st.st_size,
	    ts_scale(st.st_mtim.tv_sec, 1000000000, st.st_mtim.tv_nsec), &rd);
	close(fr.fd);
	return rc;
}

/* ---- archives ---- */

/* ar_each: every regular member, name cleaned (members whose name is
 * absolute, has a ".." part or cannot be decoded are skipped here; source/
 * warns about them). A name the archive holds twice is seen once, the
 * first time, in every pass: the listing keeps one, and what was read in
 * one pass is what is read in the next. */
static int
ar_each(struct src *s, int with_data, src_fn fn, void *ctx)
{
	struct archive_entry *ae;
	struct archive *a;
	struct strmap *dup_seen = NULL;
	locale_t old = ingest_locale_enter();
	int rc, r;

	a = ingest_archive_open(s->path, &rc);
	if (a == NULL)
		goto done;
	if (s->dups)
		dup_seen = strmap_new();
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
		if (dup_seen && strmap_get(s->dups, name) && !strmap_put(dup_seen, name, "")) {
			free(clean);
			continue;	/* a later copy of a name given twice */
		}
		if (with_data) {
			struct ar_rd ar = { a, s->path, clean };
			struct ingest_reader rd = { arrd_read, &ar };

			rc = fn(ctx, name, archive_entry_size_is_set(ae) ?
			    (uint64_t)archive_entry_size(ae) : 0,
			    ts_scale(archive_entry_mtime(ae), 1000000000,
			    archive_entry_mtime_nsec(ae)), &rd);
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
done:
	strmap_free(dup_seen);
	ingest_locale_leave(old);
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

	*ret = NULL;
	s->path = xstrdup(path);
	if (stat(path, &st) < 0) {
		rc = err_set(IMDR_ESOURCE, "cannot read source %s: %s", path, strerror(errno));
		goto out;
	}
	if (S_ISDIR(st.st_mode)) {
		s->kind = SRC_DIR;
		rc = walk_root(path, list_one, &c);
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
		/* sorted by name, and among equal names (an archive may hold one
		 * twice) by position, so the first stays and the rest go */
		struct ns *v = xmalloc(s->n * sizeof(*v));
		size_t k = 0;

		for (size_t i = 0; i < s->n; i++) {
			v[i].name = s->names[i];
			v[i].size = s->sizes[i];
			v[i].pos = i;
		}
		qsort(v, s->n, sizeof(*v), cmp_ns);
		for (size_t i = 0; i < s->n; i++) {
			if (k > 0 && strcmp(s->names[k - 1], v[i].name) == 0) {
				if (s->dups == NULL)
					s->dups = strmap_new();
				strmap_put(s->dups, v[i].name, "");
				free(v[i].name);
				continue;
			}
			s->names[k] = v[i].name;
			s->sizes[k] = v[i].size;
			k++;
		}
		s->n = k;
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
	strmap_free(s->dups);
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
		return walk_root(s->path, scan_one, &c);
	case SRC_ARCHIVE:
		return ar_each(s, 1, fn, ctx);
	default: {
		struct fd_rd fr;
		struct ingest_reader rd = { fdrd_read, &fr };
		struct stat st;
		int rc;

		/* the source itself, named by the user: followed if a link */
		fr.fd = open(s->path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
		fr.path = s->path;
		if (fr.fd < 0)
			return err_set(IMDR_ESOURCE, "cannot open %s: %s", s->path, strerror(errno));
		if (fstat(fr.fd, &st) < 0 || !S_ISREG(st.st_mode)) {
			close(fr.fd);
			return err_set(IMDR_ESOURCE, "%s is not a regular file", s->path);
		}
		rc = fn(ctx, s->names[0], (uint64_t)st.st_size,
		    ts_scale(st.st_mtim.tv_sec, 1000000000, st.st_mtim.tv_nsec), &rd);
		close(fr.fd);
		return rc;
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

/* Keys index values through an smap (keyed hash: an export cannot make
 * the table slow with names chosen to collide). */
struct strmap {
	struct smap idx;
	char **v;
	size_t n, cap;
};

struct strmap *
strmap_new(void)
{
	return xcalloc(1, sizeof(struct strmap));
}

void
strmap_free(struct strmap *m)
{
	if (m == NULL)
		return;
	for (size_t i = 0; i < m->n; i++)
		free(m->v[i]);
	free(m->v);
	smap_free(&m->idx);
	free(m);
}

int
strmap_put(struct strmap *m, const char *key, const char *val)
{
	if (smap_get(&m->idx, key, NULL))
		return 0;
	*ARRAY_PUSH(m->v, m->n, m->cap) = xstrdup(val);
	smap_put(&m->idx, key, m->n - 1);
	return 1;
}

void
strmap_set(struct strmap *m, const char *key, const char *val)
{
	size_t i;

	if (smap_get(&m->idx, key, &i)) {
		free(m->v[i]);
		m->v[i] = xstrdup(val);
	} else {
		strmap_put(m, key, val);
	}
}

const char *
strmap_get(const struct strmap *m, const char *key)
{
	size_t i;

	return smap_get(&m->idx, key, &i) ? m->v[i] : NULL;
}
