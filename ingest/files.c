/* files — the `files` reader: a directory walked in name order, or an
 * archive streamed entry by entry through libarchive (zip, tar, tar.gz,
 * tar.zst, ...), or a single plain file. Nothing is extracted to disk. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <locale.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <archive.h>
#include <archive_entry.h>

#include "ingest/archive_dl.h"
#include "ingest/ingest.h"
#include "ingest/ingest_impl.h"
#include "lib/buf.h"
#include "lib/err.h"
#include "lib/log.h"

static int64_t
ts_ns(struct timespec ts)
{
	return ts_scale(ts.tv_sec, 1000000000, ts.tv_nsec);
}

static char *
join(const char *a, const char *b)
{
	if (a == NULL || *a == '\0')
		return xstrdup(b);
	return xasprintf("%s/%s", a, b);
}

/* ---- directories ---- */

/* A file is opened only when its bytes are first read: a backup that takes
 * an unchanged file from the files cache never opens it. The open file must
 * be the one that was stat'ed (same device and inode). */
struct fd_reader {
	int fd;			/* -1 until the first read */
	int dfd;
	const char *name;
	const char *path;
	dev_t dev;
	ino_t ino;
};

static int
fd_open(struct fd_reader *r)
{
	struct stat st;

	r->fd = openat(r->dfd, r->name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOATIME);
	if (r->fd < 0 && errno == EPERM)
		r->fd = openat(r->dfd, r->name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (r->fd < 0)
		return err_set(IMDR_ESOURCE, "cannot open %s: %s", r->path,
		    errno == ENOENT ? "vanished during backup" : strerror(errno));
	if (fstat(r->fd, &st) < 0)
		return err_set(IMDR_ESOURCE, "cannot stat %s: %s", r->path, strerror(errno));
	if (!S_ISREG(st.st_mode) || st.st_dev != r->dev || st.st_ino != r->ino)
		return err_set(IMDR_ESOURCE, "%s was replaced during backup", r->path);
#ifdef POSIX_FADV_SEQUENTIAL
	posix_fadvise(r->fd, 0, 0, POSIX_FADV_SEQUENTIAL);
#endif
	return IMDR_OK;
}

static int
fd_read(void *rs, void *buf, size_t cap, size_t *ret_got)
{
	struct fd_reader *r = rs;
	ssize_t n;
	int rc;

	if (r->fd < 0 && (rc = fd_open(r)) != IMDR_OK)
		return rc;
	for (;;) {
		n = read(r->fd, buf, cap);
		if (n >= 0)
			break;
		if (errno != EINTR)
			return err_set(IMDR_ESOURCE, "cannot read %s: %s", r->path, strerror(errno));
	}
	*ret_got = (size_t)n;
	return IMDR_OK;
}

static int
cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void
fill_identity(struct ingest_entry *e, const struct stat *st, const char *abs)
{
	e->mode = st->st_mode & 07777;
	e->mtime_ns = ts_ns(st->st_mtim);
	e->disk_path = abs;
	e->dev = (uint64_t)st->st_dev;
	e->ino = (uint64_t)st->st_ino;
	e->ctime_ns = ts_ns(st->st_ctim);
}

static int walk_dir(int dfd, const char *abs, const char *rel,
    const struct ingest_sink *sink);

/* walk_entry: one entry of a folder; pre is its lstat when read-ahead
 * already made it (NULL otherwise). */
static int
walk_entry(int dfd, const char *abs_dir, const char *rel_dir, const char *name,
    const struct stat *pre, const struct ingest_sink *sink)
{
	char *abs = xasprintf("%s/%s", abs_dir, name);
	char *rel = join(rel_dir, name);
	struct ingest_entry e;
	struct stat st;
	int rc = IMDR_OK, fd = -1;

	memset(&e, 0, sizeof(e));
	e.path = rel;
	if (pre)
		st = *pre;
	else if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
		sink->warn(sink->ctx, rel, errno == ENOENT ? "vanished during backup" : strerror(errno));
		goto out;
	}
	if (S_ISDIR(st.st_mode)) {
		fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0) {
			sink->warn(sink->ctx, rel, errno == ENOENT ? "vanished during backup" : strerror(errno));
			goto out;
		}
		e.type = INGEST_DIR;
		fill_identity(&e, &st, abs);
		e.disk_path = NULL;
		rc = sink->entry(sink->ctx, &e, NULL);
		if (rc == IMDR_OK)
			rc = walk_dir(fd, abs, rel, sink);
		fd = -1;	/* walk_dir took it */
	} else if (S_ISLNK(st.st_mode)) {
		char target[PATH_MAX + 1];
		ssize_t n = readlinkat(dfd, name, target, PATH_MAX);

		if (n < 0) {
			sink->warn(sink->ctx, rel, strerror(errno));
			goto out;
		}
		target[n] = '\0';
		e.type = INGEST_SYMLINK;
		e.link_target = target;
		e.size = (uint64_t)n;
		fill_identity(&e, &st, abs);
		e.disk_path = NULL;
		rc = sink->entry(sink->ctx, &e, NULL);
	} else if (S_ISREG(st.st_mode)) {
		struct fd_reader fr = { -1, dfd, name, abs, st.st_dev, st.st_ino };
		struct ingest_reader rd = { fd_read, &fr };

		e.type = INGEST_FILE;
		e.size = (uint64_t)st.st_size;
		fill_identity(&e, &st, abs);
		rc = sink->entry(sink->ctx, &e, &rd);
		fd = fr.fd;
		if (rc == IMDR_ESOURCE) {
			/* Read error in this file only: report, skip, go on. */
			sink->warn(sink->ctx, rel, err_msg(rc));
			err_clear();
			rc = IMDR_OK;
		}
	} else {
		sink->warn(sink->ctx, rel, "not a regular file, directory or symlink (device, fifo or socket): skipped");
	}
out:
	if (fd >= 0)
		close(fd);
	free(abs);
	free(rel);
	return rc;
}

/* Small files read one after another wait for the disk one at a time
 * (about 0.2 ms each, cold). Asking the kernel for the next few files'
 * bytes before they are needed overlaps those waits: a cold backup of
 * 19 000 small files reads them at several times the rate. Files the sink
 * will not read (unchanged, per the files cache) are not asked for. */
#define READ_AHEAD_FILES 16
#define READ_AHEAD_MAX (4u << 20)	/* of each file: the start is enough */

static int
read_ahead(int dfd, const char *abs_dir, const char *rel_dir, const char *name,
    const struct ingest_sink *sink, struct stat *ret_st)
{
	struct ingest_entry e;
	struct stat st;
	char *abs, *rel;
	int fd;

	if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return 0;	/* walk_entry will stat again and say why */
	*ret_st = st;
	if (!S_ISREG(st.st_mode) || st.st_size == 0)
		return 1;
	if (sink->wants) {
		abs = xasprintf("%s/%s", abs_dir, name);
		rel = join(rel_dir, name);
		memset(&e, 0, sizeof(e));
		e.path = rel;
		e.type = INGEST_FILE;
		e.size = (uint64_t)st.st_size;
		fill_identity(&e, &st, abs);
		fd = sink->wants(sink->ctx, &e);
		free(abs);
		free(rel);
		if (!fd)
			return 1;
	}
	fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOATIME);
	if (fd < 0 && errno == EPERM)
		fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return 1;
	posix_fadvise(fd, 0, st.st_size < (off_t)READ_AHEAD_MAX ? st.st_size : (off_t)READ_AHEAD_MAX,
	    POSIX_FADV_WILLNEED);
	close(fd);
	return 1;
}

static int
walk_dir(int dfd, const char *abs, const char *rel, const struct ingest_sink *sink)
{
	DIR *d = fdopendir(dfd);
	struct dirent *de;
	struct stat *sts;
	char *have;
	char **names = NULL;
	size_t n = 0, cap = 0;
	int rc = IMDR_OK;

	if (d == NULL) {
		close(dfd);
		sink->warn(sink->ctx, rel[0] ? rel : ".", strerror(errno));
		return IMDR_OK;
	}
	errno = 0;
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 64;
			names = xrealloc(names, cap * sizeof(*names));
		}
		names[n++] = xstrdup(de->d_name);
	}
	if (errno != 0)
		sink->warn(sink->ctx, rel[0] ? rel : ".", strerror(errno));
	if (n)
		qsort(names, n, sizeof(*names), cmp_names);
	sts = xcalloc(n ? n : 1, sizeof(*sts));
	have = xcalloc(n ? n : 1, 1);
	for (size_t i = 0, ahead = 0; i < n; i++) {
		if (rc == IMDR_OK) {
			if (ahead <= i)
				ahead = i;
			for (; ahead < n && ahead <= i + READ_AHEAD_FILES; ahead++)
				have[ahead] = (char)read_ahead(dirfd(d), abs, rel, names[ahead], sink, &sts[ahead]);
			rc = walk_entry(dirfd(d), abs, rel, names[i], have[i] ? &sts[i] : NULL, sink);
		}
		free(names[i]);
	}
	free(names);
	free(sts);
	free(have);
	closedir(d);
	return rc;
}

/* ---- archives ---- */

struct ar_reader {
	struct archive *a;
	const char *archive;
	const char *entry;
};

static int
ar_read(void *rs, void *buf, size_t cap, size_t *ret_got)
{
	struct ar_reader *r = rs;
	la_ssize_t n = archive_read_data(r->a, buf, cap);

	if (n < 0)
		return err_set(IMDR_ESOURCE, "%s: cannot read %s: %s", r->archive,
		    r->entry, archive_error_string(r->a));
	*ret_got = (size_t)n;
	return IMDR_OK;
}

/* clean_path: archive member names as snapshot paths: no "./" or empty
 * parts. NULL when nothing is left, or the name is absolute or has a ".."
 * part: such a member is refused, never relocated, since a path outside
 * the tree is exactly what a hostile archive wants an extractor to write. */
char *
ingest_clean_path(const char *p)
{
	struct buf b = BUF_INIT;

	if (*p == '/')
		return NULL;
	while (*p) {
		const char *s = strchr(p, '/');
		size_t len = s ? (size_t)(s - p) : strlen(p);

		if (len == 2 && p[0] == '.' && p[1] == '.') {
			buf_free(&b);
			return NULL;
		}
		if (len > 0 && !(len == 1 && p[0] == '.')) {
			if (b.len)
				buf_putc(&b, '/');
			buf_append(&b, p, len);
		}
		p += len;
		if (*p == '/')
			p++;
	}
	if (b.len == 0) {
		buf_free(&b);
		return NULL;
	}
	return buf_cstr(&b);
}

/* Member names: libarchive converts them to the thread's locale, and in
 * the C locale a zip's UTF-8 names (any non-ASCII one) fail to convert and
 * come back NULL, so the member would be lost. Under C.UTF-8 the UTF-8
 * names convert and other names (tar's raw bytes) pass as they are; the
 * readers switch this thread's LC_CTYPE to it while they read an archive. */
static pthread_once_t utf8_once = PTHREAD_ONCE_INIT;
static locale_t utf8_locale;

static void
utf8_init(void)
{
	utf8_locale = newlocale(LC_CTYPE_MASK, "C.UTF-8", (locale_t)0);
}

locale_t
ingest_locale_enter(void)
{
	pthread_once(&utf8_once, utf8_init);
	return utf8_locale ? uselocale(utf8_locale) : (locale_t)0;
}

void
ingest_locale_leave(locale_t old)
{
	if (old)
		uselocale(old);
}

/* Formats a chat export arrives in. Not format_all: its mtree and raw
 * readers would take plain text files (a Mattermost .jsonl) for archives. */
static void
support_formats(struct archive *a)
{
	archive_read_support_filter_all(a);
	archive_read_support_format_zip(a);
	archive_read_support_format_tar(a);
	archive_read_support_format_gnutar(a);
	archive_read_support_format_7zip(a);
	archive_read_support_format_cpio(a);
}

struct archive *
ingest_archive_open(const char *path, int *ret_rc)
{
	struct archive *a;

	if ((*ret_rc = archive_dl_load()) != IMDR_OK)
		return NULL;
	a = archive_read_new();
	support_formats(a);
	if (archive_read_open_filename(a, path, 1 << 20) != ARCHIVE_OK) {
		*ret_rc = err_set(IMDR_ESOURCE, "%s: cannot open as an archive: %s", path,
		    archive_error_string(a));
		archive_read_free(a);
		return NULL;
	}
	*ret_rc = IMDR_OK;
	return a;
}

/* ingest_is_archive: by signature (or, failing that, by name), not by a
 * trial read, so that a truncated or corrupt archive is reported as such
 * instead of being backed up as one opaque file. */
int
ingest_is_archive(const char *path)
{
	static const char *const exts[] = { ".zip", ".tar", ".tgz", ".tar.gz",
	    ".tar.zst", ".tzst", ".tar.xz", ".txz", ".tar.bz2", ".tbz2", ".7z", NULL };
	uint8_t m[512];
	size_t len = strlen(path);
	ssize_t n;
	int fd;

	for (int i = 0; exts[i]; i++) {
		size_t el = strlen(exts[i]);

		if (len > el && strcasecmp(path + len - el, exts[i]) == 0)
			return 1;
	}
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	n = read(fd, m, sizeof(m));
	close(fd);
	if (n >= 4 && m[0] == 'P' && m[1] == 'K' && (m[2] == 3 || m[2] == 5 || m[2] == 7))
		return 1;				/* zip */
	if (n >= 2 && m[0] == 0x1f && m[1] == 0x8b)
		return 1;				/* gzip */
	if (n >= 4 && m[0] == 0x28 && m[1] == 0xb5 && m[2] == 0x2f && m[3] == 0xfd)
		return 1;				/* zstd */
	if (n >= 6 && memcmp(m, "\xfd" "7zXZ", 5) == 0)
		return 1;				/* xz */
	if (n >= 3 && memcmp(m, "BZh", 3) == 0)
		return 1;				/* bzip2 */
	if (n >= 6 && memcmp(m, "7z\xbc\xaf\x27\x1c", 6) == 0)
		return 1;				/* 7z */
	if (n >= 262 && memcmp(m + 257, "ustar", 5) == 0)
		return 1;				/* tar */
	return 0;
}

/* What walk_archive has given the sink, so a member named twice, or one
 * below a member that is a file or a symlink, is caught here (it would
 * otherwise end the backup in the tree builder). Each path component is
 * kept once, under its parent folder's number ("<parent>/<name>" ->
 * "<kind><number>", kind f file, l symlink, d folder, i folder implied by
 * a member below it), so memory grows with the names, not with the square
 * of a path's depth (a member 50,000 folders deep has 50,000 prefixes). */
struct seen {
	struct strmap *m;
	unsigned long long next;	/* numbers of folders; 0 is the top */
};

/* seen_get: the value of name (n bytes) in folder parent, or NULL. */
static const char *
seen_get(struct seen *sn, unsigned long long parent, const char *name, size_t n)
{
	char *key = xasprintf("%llx/%.*s", parent, (int)n, name);
	const char *v = strmap_get(sn->m, key);

	free(key);
	return v;
}

static void
seen_set(struct seen *sn, unsigned long long parent, const char *name, size_t n,
    char kind, unsigned long long num)
{
	char *key = xasprintf("%llx/%.*s", parent, (int)n, name), val[24];

	snprintf(val, sizeof(val), "%c%llx", kind, num);
	strmap_set(sn->m, key, val);
	free(key);
}

/* seen_conflict: NULL when path may be added; else *ret_msg (caller frees)
 * says what is wrong and the return value what is done about it. */
static const char *
seen_conflict(struct seen *sn, const char *path, enum ingest_type type,
    char **ret_msg)
{
	unsigned long long parent = 0;
	const char *p = path, *sl, *v;

	while ((sl = strchr(p, '/')) != NULL) {
		v = seen_get(sn, parent, p, (size_t)(sl - p));
		if (v == NULL)
			return NULL;	/* a new folder: nothing below it yet */
		if (v[0] == 'f' || v[0] == 'l') {
			*ret_msg = xasprintf("inside %.*s, which is a %s in the archive",
			    (int)(sl - path), path, v[0] == 'f' ? "file" : "symlink");
			return "skipped";
		}
		parent = strtoull(v + 1, NULL, 16);
		p = sl + 1;
	}
	v = seen_get(sn, parent, p, strlen(p));
	if (v == NULL || (type == INGEST_DIR && v[0] == 'i'))
		return NULL;
	*ret_msg = xstrdup("appears twice in the archive");
	return "the first is kept";
}

static void
seen_add(struct seen *sn, const char *path, enum ingest_type type)
{
	unsigned long long parent = 0, num;
	const char *p = path, *sl, *v;

	while ((sl = strchr(p, '/')) != NULL) {
		v = seen_get(sn, parent, p, (size_t)(sl - p));
		if (v == NULL) {
			num = ++sn->next;
			seen_set(sn, parent, p, (size_t)(sl - p), 'i', num);
		} else
			num = strtoull(v + 1, NULL, 16);
		parent = num;
		p = sl + 1;
	}
	/* a folder keeps its number: what was seen below it stays found */
	v = seen_get(sn, parent, p, strlen(p));
	num = v ? strtoull(v + 1, NULL, 16) : ++sn->next;
	seen_set(sn, parent, p, strlen(p),
	    type == INGEST_DIR ? 'd' : type == INGEST_SYMLINK ? 'l' : 'f', num);
}

static int
walk_archive(const char *path, const char *prefix, int strict,
    const struct ingest_sink *sink)
{
	struct archive_entry *ae;
	struct archive *a;
	struct seen seen = { strmap_new(), 0 };
	locale_t old = ingest_locale_enter();
	size_t nmember = 0;
	int rc, r;

	a = ingest_archive_open(path, &rc);
	if (a == NULL)
		goto done;
	while ((r = archive_read_next_header(a, &ae)) == ARCHIVE_OK ||
	    r == ARCHIVE_WARN) {
		const char *raw = archive_entry_pathname(ae);
		char *clean = raw ? ingest_clean_path(raw) : NULL, *full, *msg = NULL;
		struct ingest_entry e;
		mode_t ft = archive_entry_filetype(ae);

		nmember++;
		if (clean == NULL) {
			if (raw == NULL) {
				char *where = xasprintf("%s: member %zu", path, nmember);

				sink->warn(sink->ctx, where, "a member name that cannot be decoded: skipped");
				free(where);
			} else if (strcmp(raw, ".") != 0 && strcmp(raw, "./") != 0 && *raw != '\0')
				sink->warn(sink->ctx, raw, *raw == '/' ?
				    "absolute member name in the archive: skipped, never written outside the tree" :
				    "member name with a \"..\" part in the archive: skipped, never written outside the tree");
			continue;
		}
		full = join(prefix, clean);
		free(clean);
		memset(&e, 0, sizeof(e));
		e.path = full;
		e.mode = archive_entry_perm(ae) & 07777;
		e.mtime_ns = ts_scale(archive_entry_mtime(ae), 1000000000,
		    archive_entry_mtime_nsec(ae));
		if (archive_entry_hardlink(ae) != NULL) {
			msg = xasprintf("hard link to %s in the archive: not stored",
			    archive_entry_hardlink(ae));
			sink->warn(sink->ctx, full, msg);
		} else if (ft != AE_IFDIR && ft != AE_IFLNK && ft != AE_IFREG && ft != 0) {
			sink->warn(sink->ctx, full, "special file in the archive: skipped");
		} else {
			const char *done;

			e.type = ft == AE_IFDIR ? INGEST_DIR : ft == AE_IFLNK ? INGEST_SYMLINK : INGEST_FILE;
			if ((done = seen_conflict(&seen, full, e.type, &msg)) != NULL) {
				char *why;

				if (strict) {
					rc = err_set(IMDR_ESOURCE, "%s: %s %s", path, full, msg);
					free(msg);
					free(full);
					goto out;
				}
				why = xasprintf("%s: %s", msg, done);
				sink->warn(sink->ctx, full, why);
				free(why);
			} else if (e.type == INGEST_DIR) {
				seen_add(&seen, full, e.type);
				if (e.mode == 0)
					e.mode = 0755;
				rc = sink->entry(sink->ctx, &e, NULL);
			} else if (e.type == INGEST_SYMLINK) {
				/* stored as a link, never followed: nothing is read
				 * through it */
				seen_add(&seen, full, e.type);
				e.link_target = archive_entry_symlink(ae) ? archive_entry_symlink(ae) : "";
				e.size = strlen(e.link_target);
				rc = sink->entry(sink->ctx, &e, NULL);
			} else {
				struct ar_reader ar = { a, path, full };
				struct ingest_reader rd = { ar_read, &ar };

				seen_add(&seen, full, e.type);
				if (e.mode == 0)
					e.mode = 0644;
				e.size = archive_entry_size_is_set(ae) ?
				    (uint64_t)archive_entry_size(ae) : 0;
				rc = sink->entry(sink->ctx, &e, &rd);
			}
		}
		free(msg);
		free(full);
		if (rc)
			goto out;
	}
	if (r != ARCHIVE_EOF)
		rc = err_set(IMDR_ESOURCE, "%s: corrupt or truncated archive: %s", path,
		    archive_error_string(a));
out:
	archive_read_free(a);
done:
	strmap_free(seen.m);
	ingest_locale_leave(old);
	return rc;
}

static int
single_file(const char *path, const char *prefix, const struct ingest_sink *sink)
{
	const char *base = strrchr(path, '/');
	char *rel, abs[PATH_MAX];
	struct ingest_entry e;
	struct fd_reader fr;
	struct ingest_reader rd = { fd_read, &fr };
	struct stat st;
	int fd, rc;

	base = base ? base + 1 : path;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return err_set(IMDR_ESOURCE, "cannot open %s: %s", path, strerror(errno));
	if (fstat(fd, &st) < 0 || realpath(path, abs) == NULL) {
		rc = err_set(IMDR_ESOURCE, "cannot stat %s: %s", path, strerror(errno));
		close(fd);
		return rc;
	}
	rel = join(prefix, base);
	memset(&e, 0, sizeof(e));
	e.path = rel;
	e.type = INGEST_FILE;
	e.size = (uint64_t)st.st_size;
	fill_identity(&e, &st, abs);
	fr.fd = fd;
	fr.path = path;
	rc = sink->entry(sink->ctx, &e, &rd);
	close(fd);
	free(rel);
	return rc;
}

int
ingest_files(const char *source, const char *prefix, const struct ingest_sink *sink)
{
	return ingest_files_opts(source, prefix, NULL, sink);
}

int
ingest_files_opts(const char *source, const char *prefix,
    const struct ingest_opts *opts, const struct ingest_sink *sink)
{
	char abs[PATH_MAX];
	struct stat st;
	int fd, rc;

	if (stat(source, &st) < 0)
		return err_set(IMDR_ESOURCE, "cannot read source %s: %s", source, strerror(errno));
	if (S_ISDIR(st.st_mode)) {
		if (realpath(source, abs) == NULL)
			return err_set(IMDR_ESOURCE, "cannot resolve %s: %s", source, strerror(errno));
		fd = open(abs, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (fd < 0)
			return err_set(IMDR_ESOURCE, "cannot open %s: %s", source, strerror(errno));
		if (prefix && *prefix) {
			struct ingest_entry e;

			memset(&e, 0, sizeof(e));
			e.path = prefix;
			e.type = INGEST_DIR;
			e.mode = st.st_mode & 07777;
			e.mtime_ns = ts_ns(st.st_mtim);
			rc = sink->entry(sink->ctx, &e, NULL);
			if (rc) {
				close(fd);
				return rc;
			}
		}
		return walk_dir(fd, abs, prefix ? prefix : "", sink);
	}
	if (!S_ISREG(st.st_mode))
		return err_set(IMDR_ESOURCE, "%s is not a directory, archive or regular file", source);
	if (ingest_is_archive(source))
		return walk_archive(source, prefix, opts && opts->strict, sink);
	return single_file(source, prefix, sink);
}

/* ---- the format ---- */

/* files_probe: anything can be backed up as it is: the lowest bid. */
static int
files_probe(struct ingest_probe *p)
{
	(void)p;
	return 1;
}

static int
files_run(const char *source, const struct ingest_opts *o,
    const struct ingest_sink *sink, struct ingest_result *ret)
{
	(void)ret;
	return ingest_files_opts(source, NULL, o, sink);
}

const struct ingest_format ingest_fmt_files = {
	.name = "files",
	.what = "the source as it is: a folder or an archive's contents",
	.probe = files_probe,
	.run = files_run,
};
