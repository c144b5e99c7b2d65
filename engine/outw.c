/* outw — an export's files out, hashed as they are written (export_impl.h).
 * libarchive's zip writer makes the zips (CRC-32, deflate, zip64); its
 * entries get a fixed time and owner so that the same files give the same
 * bytes. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <dirent.h>

#include <archive.h>
#include <archive_entry.h>

#include "engine/export_impl.h"
#include "ingest/archive_dl.h"
#include "lib/array.h"
#include "lib/err.h"
#include "repo/crypto.h"

/* 1980-01-01T12:00:00Z: the zip format's first day, at noon so that the
 * DOS time libarchive derives in local time stays in that day */
#define ZIP_TIME 315576000

struct outw {
	/* folder */
	int dirfd;
	char *root;
	int fd;
	/* zip */
	struct archive *a;
	int zfd;
	outw_sink sink;
	void *sink_ctx;
	int sink_rc;
	/* the file being written */
	char *path;
	struct crypto_sha256_ctx *h;
	uint64_t size;
	int64_t want;
	struct outw_file *files;
	size_t nfiles, capfiles;
};

static struct outw *
outw_new(void)
{
	struct outw *w = xcalloc(1, sizeof(*w));

	w->dirfd = w->fd = w->zfd = -1;
	return w;
}

int
outw_dir(const char *dir, struct outw **ret)
{
	struct outw *w;
	struct stat st;
	DIR *d;

	if (mkdir(dir, 0700) != 0) {
		struct dirent *de;
		int empty = 1;

		if (errno != EEXIST)
			return err_set(err_from_errno(errno), "cannot create %s: %s", dir, strerror(errno));
		if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
			return err_set(IMDR_EEXIST, "%s exists and is not a folder", dir);
		if ((d = opendir(dir)) == NULL)
			return err_set(err_from_errno(errno), "cannot read %s: %s", dir, strerror(errno));
		while ((de = readdir(d)) != NULL)
			if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
				empty = 0;
		closedir(d);
		if (!empty)
			return err_set(IMDR_EEXIST, "%s is not empty: an export goes into a new or"
			    " empty folder", dir);
	}
	w = outw_new();
	w->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (w->dirfd < 0) {
		int e = errno;

		free(w);
		return err_set(err_from_errno(e), "cannot open %s: %s", dir, strerror(e));
	}
	w->root = xstrdup(dir);
	*ret = w;
	return IMDR_OK;
}

static int
zip_new(struct outw *w)
{
	int rc = archive_dl_load();

	if (rc)
		return rc;
	w->a = archive_write_new();
	/* deflate at level 1: manifests and message lines shrink about as
	 * well, at a third of the time (exports are written often, once) */
	if (w->a == NULL || archive_write_set_format_zip(w->a) != ARCHIVE_OK ||
	    archive_write_set_options(w->a, "zip:compression-level=1") != ARCHIVE_OK ||
	    archive_write_set_bytes_in_last_block(w->a, 1) != ARCHIVE_OK)
		return err_set(IMDR_ENOMEM, "cannot set up the zip writer");
	return IMDR_OK;
}

int
outw_zip(const char *path, struct outw **ret)
{
	struct outw *w = outw_new();
	int rc;

	w->zfd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (w->zfd < 0) {
		int e = errno;

		free(w);
		if (e == EEXIST)
			return err_set(IMDR_EEXIST, "%s exists: an export is written to a new file", path);
		return err_set(err_from_errno(e), "cannot create %s: %s", path, strerror(e));
	}
	w->root = xstrdup(path);
	rc = zip_new(w);
	if (rc == IMDR_OK && archive_write_open_fd(w->a, w->zfd) != ARCHIVE_OK)
		rc = err_set(IMDR_EIO, "%s: %s", path, archive_error_string(w->a));
	if (rc) {
		outw_abort(w);
		return rc;
	}
	*ret = w;
	return IMDR_OK;
}

static la_ssize_t
sink_write(struct archive *a, void *ctx, const void *p, size_t n)
{
	struct outw *w = ctx;

	(void)a;
	if (w->sink_rc == IMDR_OK)
		w->sink_rc = w->sink(w->sink_ctx, p, n);
	if (w->sink_rc) {
		archive_set_error(a, EIO, "%s", err_msg(w->sink_rc));
		return -1;
	}
	return (la_ssize_t)n;
}

int
outw_zip_stream(outw_sink fn, void *ctx, struct outw **ret)
{
	struct outw *w = outw_new();
	int rc;

	w->sink = fn;
	w->sink_ctx = ctx;
	w->root = xstrdup("rsmf.zip");
	rc = zip_new(w);
	if (rc == IMDR_OK && archive_write_open(w->a, w, NULL, sink_write, NULL) != ARCHIVE_OK)
		rc = w->sink_rc ? w->sink_rc : err_set(IMDR_EIO, "zip: %s", archive_error_string(w->a));
	if (rc) {
		outw_abort(w);
		return rc;
	}
	*ret = w;
	return IMDR_OK;
}

/* valid_part: a path component we create */
static int
valid_part(const char *p, size_t n)
{
	return n > 0 && !(n == 1 && p[0] == '.') && !(n == 2 && p[0] == '.' && p[1] == '.') &&
	    memchr(p, '\0', n) == NULL;
}

static int
open_in_dir(struct outw *w, const char *path)
{
	const char *p = path;
	int dfd = dup(w->dirfd);

	if (dfd < 0)
		return err_set(err_from_errno(errno), "%s: %s", w->root, strerror(errno));
	for (;;) {
		const char *slash = strchr(p, '/');
		size_t n = slash ? (size_t)(slash - p) : strlen(p);
		char *part = xstrndup(p, n);
		int nfd;

		if (!valid_part(p, n)) {
			free(part);
			close(dfd);
			return err_set(IMDR_EINVAL, "%s: not a path an export writes", path);
		}
		if (slash == NULL) {
			w->fd = openat(dfd, part, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
			    0600);
			free(part);
			close(dfd);
			if (w->fd < 0)
				return err_set(err_from_errno(errno), "cannot create %s/%s: %s", w->root,
				    path, strerror(errno));
			return IMDR_OK;
		}
		if (mkdirat(dfd, part, 0700) != 0 && errno != EEXIST) {
			int e = errno;

			free(part);
			close(dfd);
			return err_set(err_from_errno(e), "cannot create %s/%.*s: %s", w->root,
			    (int)(slash - path), path, strerror(e));
		}
		nfd = openat(dfd, part, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		free(part);
		close(dfd);
		if (nfd < 0)
			return err_set(err_from_errno(errno), "cannot open %s/%.*s: %s", w->root,
			    (int)(slash - path), path, strerror(errno));
		dfd = nfd;
		p = slash + 1;
	}
}

int
outw_begin(struct outw *w, const char *path, int64_t size, int compress)
{
	int rc = IMDR_OK;

	w->path = xstrdup(path);
	w->size = 0;
	w->want = size;
	w->h = crypto_sha256_begin();
	if (w->a) {
		struct archive_entry *e = archive_entry_new();

		if (size < 0) {
			archive_entry_free(e);
			return err_set(IMDR_EINVAL, "internal error: %s: a zip entry of unknown size", path);
		}
		archive_entry_set_pathname(e, path);
		archive_entry_set_filetype(e, AE_IFREG);
		archive_entry_set_perm(e, 0644);
		archive_entry_set_size(e, size);
		archive_entry_set_mtime(e, ZIP_TIME, 0);
		archive_entry_set_uid(e, 0);
		archive_entry_set_gid(e, 0);
		if (compress)
			archive_write_zip_set_compression_deflate(w->a);
		else
			archive_write_zip_set_compression_store(w->a);
		if (archive_write_header(w->a, e) != ARCHIVE_OK)
			rc = w->sink_rc ? w->sink_rc : err_set(IMDR_EIO, "%s: %s: %s", w->root, path,
			    archive_error_string(w->a));
		archive_entry_free(e);
		return rc;
	}
	return open_in_dir(w, path);
}

int
outw_write(struct outw *w, const void *p, size_t n)
{
	const uint8_t *b = p;

	crypto_sha256_update(w->h, p, n);
	w->size += n;
	if (w->a) {
		if (n > 0 && archive_write_data(w->a, p, n) != (la_ssize_t)n)
			return w->sink_rc ? w->sink_rc : err_set(IMDR_EIO, "%s: %s: %s", w->root, w->path,
			    archive_error_string(w->a));
		return IMDR_OK;
	}
	while (n > 0) {
		ssize_t k = write(w->fd, b, n);

		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			return err_set(err_from_errno(errno), "cannot write %s/%s: %s", w->root, w->path,
			    strerror(errno));
		b += k;
		n -= (size_t)k;
	}
	return IMDR_OK;
}

int
outw_end(struct outw *w)
{
	struct outw_file *f;
	int rc = IMDR_OK;

	if (w->want >= 0 && (uint64_t)w->want != w->size)
		rc = err_set(IMDR_EIO, "%s: %llu bytes written, %lld expected", w->path,
		    (unsigned long long)w->size, (long long)w->want);
	if (w->a) {
		if (rc == IMDR_OK && archive_write_finish_entry(w->a) != ARCHIVE_OK)
			rc = w->sink_rc ? w->sink_rc : err_set(IMDR_EIO, "%s: %s: %s", w->root, w->path,
			    archive_error_string(w->a));
	} else if (w->fd >= 0) {
		if (close(w->fd) != 0 && rc == IMDR_OK)
			rc = err_set(err_from_errno(errno), "cannot write %s/%s: %s", w->root, w->path,
			    strerror(errno));
		w->fd = -1;
	}
	f = ARRAY_PUSH(w->files, w->nfiles, w->capfiles);
	f->path = w->path;
	f->size = w->size;
	crypto_sha256_end(w->h, f->sha256);
	w->h = NULL;
	w->path = NULL;
	return rc;
}

int
outw_put(struct outw *w, const char *path, const void *p, size_t n, int compress)
{
	int rc = outw_begin(w, path, (int64_t)n, compress);

	if (rc == IMDR_OK)
		rc = outw_write(w, p, n);
	if (rc == IMDR_OK)
		rc = outw_end(w);
	return rc;
}

const struct outw_file *
outw_files(const struct outw *w, size_t *ret_n)
{
	*ret_n = w->nfiles;
	return w->files;
}

static void
outw_free(struct outw *w)
{
	if (w->h) {
		uint8_t x[32];

		crypto_sha256_end(w->h, x);
	}
	if (w->fd >= 0)
		close(w->fd);
	if (w->dirfd >= 0)
		close(w->dirfd);
	if (w->zfd >= 0)
		close(w->zfd);
	for (size_t i = 0; i < w->nfiles; i++)
		free(w->files[i].path);
	free(w->files);
	free(w->path);
	free(w->root);
	free(w);
}

int
outw_close(struct outw *w)
{
	int rc = IMDR_OK;

	if (w->a) {
		if (archive_write_close(w->a) != ARCHIVE_OK)
			rc = w->sink_rc ? w->sink_rc : err_set(IMDR_EIO, "%s: %s", w->root,
			    archive_error_string(w->a));
		archive_write_free(w->a);
		w->a = NULL;
	}
	if (w->zfd >= 0) {
		if (fsync(w->zfd) != 0 && rc == IMDR_OK)
			rc = err_set(err_from_errno(errno), "cannot write %s: %s", w->root, strerror(errno));
	}
	outw_free(w);
	return rc;
}

void
outw_abort(struct outw *w)
{
	if (w == NULL)
		return;
	if (w->a)
		archive_write_free(w->a);
	w->a = NULL;
	outw_free(w);
}
