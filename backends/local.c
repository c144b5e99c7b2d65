/* local — a repository in a directory. put writes a temporary file in the
 * target folder, fsyncs it, and link()s it into place: link fails when the
 * name exists, which gives write-once for free, and a crash leaves at most a
 * ".tmp-" file that list() ignores. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "backends/backend_impl.h"
#include "lib/err.h"
#include "lib/fsutil.h"
#include "lib/log.h"

struct local {
	struct backend base;
	char *root;
};

static int
local_errno(const char *what, const char *path, int e)
{
	int code = err_from_errno(e);

	return err_set(code, "%s %s: %s", what, path, strerror(e));
}

static char *
local_path(struct local *l, const char *name)
{
	return xasprintf("%s/%s", l->root, name);
}

static int
mkdirs(char *path, mode_t mode)
{
	/* Create every parent of path (path itself is a file name). */
	for (char *p = path + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(path, mode) < 0 && errno != EEXIST) {
			int e = errno;

			*p = '/';
			errno = e;
			return -1;
		}
		*p = '/';
	}
	return 0;
}

static int
local_open(const char *url, int create, struct backend **ret)
{
	const char *path = url;
	struct local *l;
	struct stat st;
	char abs[PATH_MAX];

	if (strncmp(path, "file://", 7) == 0)
		path += 7;
	if (*path == '\0')
		return err_set(IMDR_EINVAL, "empty repository path");
	if (create && mkdir(path, 0700) < 0 && errno != EEXIST)
		return local_errno("cannot create repository", path, errno);
	if (stat(path, &st) < 0) {
		if (errno == ENOENT)
			return err_set(IMDR_ENOENT, "repository %s does not exist", path);
		return local_errno("cannot open repository", path, errno);
	}
	if (!S_ISDIR(st.st_mode))
		return err_set(IMDR_ENOENT, "repository %s is not a directory", path);
	if (realpath(path, abs) == NULL)
		return local_errno("cannot resolve", path, errno);
	l = xcalloc(1, sizeof(*l));
	backend_base_init(&l->base, &backend_local, abs);
	l->root = xstrdup(abs);
	*ret = &l->base;
	return IMDR_OK;
}

static int
local_get(struct backend *be, const char *name, uint64_t off, uint64_t len,
    struct buf *out)
{
	struct local *l = (struct local *)be;
	char *path = local_path(l, name);
	struct stat st;
	int fd, rc = IMDR_OK;
	uint64_t got = 0;

	out->len = 0;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOENT)
			rc = err_set(IMDR_ENOENT, "object %s not found in %s", name, l->root);
		else
			rc = local_errno("cannot read", path, errno);
		goto out;
	}
	if (fstat(fd, &st) < 0) {
		rc = local_errno("cannot stat", path, errno);
		goto out;
	}
	if (len == BACKEND_WHOLE) {
		if (off > (uint64_t)st.st_size) {
			rc = err_set(IMDR_EFORMAT, "object %s: offset %llu past its end (%llu bytes)",
			    name, (unsigned long long)off, (unsigned long long)st.st_size);
			goto out;
		}
		len = (uint64_t)st.st_size - off;
	} else if (off + len > (uint64_t)st.st_size || off + len < off) {
		rc = err_set(IMDR_EFORMAT, "object %s: range %llu+%llu past its end (%llu bytes; truncated?)",
		    name, (unsigned long long)off, (unsigned long long)len,
		    (unsigned long long)st.st_size);
		goto out;
	}
	buf_reserve(out, len);
	while (got < len) {
		ssize_t n = pread(fd, out->data + got, len - got, (off_t)(off + got));

		if (n < 0) {
			if (errno == EINTR)
				continue;
			rc = local_errno("cannot read", path, errno);
			goto out;
		}
		if (n == 0) {
			rc = err_set(IMDR_EFORMAT, "object %s shrank while being read", name);
			goto out;
		}
		got += (uint64_t)n;
	}
	out->len = len;
out:
	if (fd >= 0)
		close(fd);
	free(path);
	return rc;
}

static void
fsync_dir_of(const char *path)
{
	char *dir = xstrdup(path), *slash = strrchr(dir, '/');
	int fd;

	if (slash)
		*slash = '\0';
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0) {
		fsync(fd);
		close(fd);
	}
	free(dir);
}

static int
local_put(struct backend *be, const char *name, const void *data, size_t len)
{
	struct local *l = (struct local *)be;
	char *path = local_path(l, name), *tmp = NULL, *slash;
	int fd = -1, rc = IMDR_OK;

	slash = strrchr(path, '/');
	*slash = '\0';
	tmp = xasprintf("%s/.tmp-%d-XXXXXX", path, (int)getpid());
	*slash = '/';
	fd = mkstemp(tmp);
	if (fd < 0 && errno == ENOENT) {
		if (mkdirs(tmp, 0700) < 0) {
			rc = local_errno("cannot create folder for", path, errno);
			goto out;
		}
		/* mkstemp may have scribbled on the template: make it anew. */
		free(tmp);
		*slash = '\0';
		tmp = xasprintf("%s/.tmp-%d-XXXXXX", path, (int)getpid());
		*slash = '/';
		fd = mkstemp(tmp);
	}
	if (fd < 0) {
		rc = local_errno("cannot create", tmp, errno);
		free(tmp);
		tmp = NULL;
		goto out;
	}
	if (write_full(fd, data, len) < 0 || fsync(fd) < 0) {
		rc = local_errno("cannot write", path, errno);
		goto out;
	}
	if (close(fd) < 0) {
		fd = -1;
		rc = local_errno("cannot write", path, errno);
		goto out;
	}
	fd = -1;
	if (link(tmp, path) < 0) {
		if (errno == EEXIST)
			rc = err_set(IMDR_EEXIST, "object %s already exists", name);
		else
			rc = local_errno("cannot create", path, errno);
		goto out;
	}
	fsync_dir_of(path);
out:
	if (fd >= 0)
		close(fd);
	if (tmp) {
		unlink(tmp);
		free(tmp);
	}
	free(path);
	return rc;
}

static int
local_stat(struct backend *be, const char *name, uint64_t *ret_size)
{
	struct local *l = (struct local *)be;
	char *path = local_path(l, name);
	struct stat st;
	int rc = IMDR_OK;

	if (stat(path, &st) < 0) {
		if (errno == ENOENT)
			rc = err_set(IMDR_ENOENT, "object %s not found", name);
		else
			rc = local_errno("cannot stat", path, errno);
	} else if (ret_size) {
		*ret_size = (uint64_t)st.st_size;
	}
	free(path);
	return rc;
}

static int
list_dir(struct local *l, const char *rel, backend_list_cb cb, void *ctx)
{
	char *path = rel[0] ? xasprintf("%s/%s", l->root, rel) : xstrdup(l->root);
	DIR *d = opendir(path);
	struct dirent *de;
	int rc = IMDR_OK;

	if (d == NULL) {
		rc = errno == ENOENT ? IMDR_OK : local_errno("cannot list", path, errno);
		free(path);
		return rc;
	}
	while (rc == IMDR_OK && (de = readdir(d)) != NULL) {
		char *child;
		struct stat st;

		if (de->d_name[0] == '.')
			continue;	/* ".", "..", and ".tmp-" leftovers */
		child = rel[0] ? xasprintf("%s/%s", rel, de->d_name) : xstrdup(de->d_name);
		if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0) {
			if (S_ISDIR(st.st_mode))
				rc = list_dir(l, child, cb, ctx);
			else if (S_ISREG(st.st_mode))
				rc = cb(ctx, child, (uint64_t)st.st_size);
		}
		free(child);
	}
	closedir(d);
	free(path);
	return rc;
}

static int
local_list(struct backend *be, const char *prefix, backend_list_cb cb, void *ctx)
{
	struct local *l = (struct local *)be;
	/* Prefixes are folder names ("snapshots/"); list that folder. */
	char *dir = xstrdup(prefix);
	size_t n = strlen(dir);
	int rc;

	while (n > 0 && dir[n - 1] == '/')
		dir[--n] = '\0';
	rc = list_dir(l, dir, cb, ctx);
	free(dir);
	return rc;
}

static int
local_del(struct backend *be, const char *name)
{
	struct local *l = (struct local *)be;
	char *path = local_path(l, name);
	int rc = IMDR_OK;

	if (unlink(path) < 0 && errno != ENOENT)
		rc = local_errno("cannot delete", path, errno);
	free(path);
	return rc;
}

static void
local_close(struct backend *be)
{
	struct local *l = (struct local *)be;

	backend_base_free(be);
	free(l->root);
	free(l);
}

const struct backend_ops backend_local = {
	.name = "local",
	.open = local_open,
	.get = local_get,
	.put = local_put,
	.stat = local_stat,
	.list = local_list,
	.del = local_del,
	.close = local_close,
};
