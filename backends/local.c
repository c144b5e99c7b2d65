/* local — a repository in a directory. put writes a temporary file in the
 * target folder, fsyncs it, and link()s it into place: link fails when the
 * name exists, which gives write-once for free, and a crash leaves at most a
 * ".tmp-" file that list() ignores. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "backends/backend_impl.h"
#include "lib/err.h"
#include "lib/fsutil.h"
#include "lib/log.h"

#define DIRECT_ALIGN 4096u	/* file offsets and memory, for O_DIRECT */

struct local {
	struct backend base;
	char *root;
	int no_direct;		/* the file system refused O_DIRECT */
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

/* open_object: name for reading (flags added), its range checked against
 * its size (*len BACKEND_WHOLE: to its end); the descriptor, or -1 with
 * *rc set. */
static int
open_object(struct local *l, const char *name, const char *path, int flags,
    uint64_t off, uint64_t *len, int *rc)
{
	struct stat st;
	int fd = open(path, O_RDONLY | O_CLOEXEC | flags);

	if (fd < 0) {
		if (errno == ENOENT)
			*rc = err_set(IMDR_ENOENT, "object %s not found in %s", name, l->root);
		else
			*rc = local_errno("cannot read", path, errno);
		return -1;
	}
	if (fstat(fd, &st) < 0) {
		*rc = local_errno("cannot stat", path, errno);
		goto fail;
	}
	if (*len == BACKEND_WHOLE) {
		if (off > (uint64_t)st.st_size) {
			*rc = err_set(IMDR_EFORMAT, "object %s: offset %llu past its end (%llu bytes)",
			    name, (unsigned long long)off, (unsigned long long)st.st_size);
			goto fail;
		}
		*len = (uint64_t)st.st_size - off;
	} else if (off + *len > (uint64_t)st.st_size || off + *len < off) {
		*rc = err_set(IMDR_EFORMAT, "object %s: range %llu+%llu past its end (%llu bytes; truncated?)",
		    name, (unsigned long long)off, (unsigned long long)*len,
		    (unsigned long long)st.st_size);
		goto fail;
	}
	return fd;
fail:
	close(fd);
	return -1;
}

/* read_range: up to want bytes of fd (object name at path) from off into
 * p, until at least need are in; the file's end stops it sooner (with
 * block set, so does a short read that leaves the count off a multiple of
 * block: direct reads end that way). *ret_got: the bytes read. An error
 * names the object; an end before need is the object shrinking. */
static int
read_range(int fd, const char *name, const char *path, uint8_t *p, uint64_t off,
    uint64_t want, uint64_t need, uint64_t block, uint64_t *ret_got)
{
	uint64_t got = 0;
	int rc = IMDR_OK;

	while (got < need) {
		ssize_t n = pread(fd, p + got, want - got, (off_t)(off + got));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = local_errno("cannot read", path, errno);
			break;
		}
		got += (uint64_t)n;
		if (n == 0 || (block && got % block != 0))
			break;
	}
	if (rc == IMDR_OK && got < need)
		rc = err_set(IMDR_EFORMAT, "object %s shrank while being read", name);
	*ret_got = got;
	return rc;
}

static int
local_get(struct backend *be, const char *name, uint64_t off, uint64_t len,
    struct buf *out)
{
	struct local *l = (struct local *)be;
	char *path = local_path(l, name);
	int fd, rc = IMDR_OK;
	uint64_t got;

	out->len = 0;
	fd = open_object(l, name, path, 0, off, &len, &rc);
	if (fd < 0)
		goto out;
	buf_reserve(out, len);
	rc = read_range(fd, name, path, out->data, off, len, len, 0, &got);
	if (rc == IMDR_OK)
		out->len = len;
out:
	if (fd >= 0)
		close(fd);
	free(path);
	return rc;
}

/* Reads of at least DIRECT_READ_MIN bytes for a reader that takes a head
 * (local_get_direct: the mount's chunks) go around the page cache: the
 * aligned blocks that hold the range are read with O_DIRECT straight into
 * out, whose bytes then start head bytes in (lib/buf.h). Why: a cold
 * 512 MiB file through the mount spent 39 % of the daemon's CPU in the
 * kernel copying pack bytes out of the page cache and managing its pages,
 * for bytes the mount decrypts once and keeps in its own cache; the
 * kernel keeps the file's own pages. Each read waits for the disk, so the
 * mount's read-ahead (several fetchers) is what keeps it busy. A file
 * system that refuses O_DIRECT (tmpfs), or a read it refuses, goes
 * through the page cache as local_get does. */
#define DIRECT_READ_MIN (256u << 10)

static int
local_get_direct(struct backend *be, const char *name, uint64_t off, uint64_t len,
    struct buf *out)
{
	struct local *l = (struct local *)be;
	char *path;
	uint64_t start, need, want, got;
	size_t room;
	int fd, rc = IMDR_OK;

	if (len == BACKEND_WHOLE || len < DIRECT_READ_MIN ||
	    __atomic_load_n(&l->no_direct, __ATOMIC_RELAXED))
		return local_get(be, name, off, len, out);
	path = local_path(l, name);
	fd = open_object(l, name, path, O_DIRECT, off, &len, &rc);
	if (fd < 0 && rc == IMDR_EINVAL) {
		/* the file system has no direct I/O */
		err_clear();
		__atomic_store_n(&l->no_direct, 1, __ATOMIC_RELAXED);
		free(path);
		return local_get(be, name, off, len, out);
	}
	if (fd < 0)
		goto out;
	start = off & ~(uint64_t)(DIRECT_ALIGN - 1);
	need = off + len - start;
	want = (need + DIRECT_ALIGN - 1) & ~(uint64_t)(DIRECT_ALIGN - 1);
	/* room for any range of len bytes: a buffer taken again for a blob
	 * of the same size fits whatever its alignment */
	room = (size_t)((len + 2 * DIRECT_ALIGN + DIRECT_ALIGN - 1) & ~(uint64_t)(DIRECT_ALIGN - 1));
	buf_rewind(out);
	if (out->cap < want || (uintptr_t)out->data % DIRECT_ALIGN != 0) {
		void *p;

		if (posix_memalign(&p, DIRECT_ALIGN, room) != 0)
			goto buffered;
		buf_free(out);
		out->data = p;
		out->cap = room;
	}
	rc = read_range(fd, name, path, out->data, start, want, need, DIRECT_ALIGN, &got);
	if (rc == IMDR_EINVAL && got == 0) {
		err_clear();
		goto buffered;	/* refused: the page cache serves it */
	}
	if (rc)
		goto out;
	out->head = (size_t)(off - start);
	out->data += out->head;
	out->cap -= out->head;
	out->len = len;
out:
	if (fd >= 0)
		close(fd);
	free(path);
	return rc;
buffered:
	close(fd);
	free(path);
	return local_get(be, name, off, len, out);
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

/* Objects of at least DIRECT_MIN bytes (packs) are written with O_DIRECT,
 * through a per-thread aligned buffer of DIRECT_BUF bytes, all but the
 * last partial block; the rest, and any file system that refuses it
 * (tmpfs), through the page cache. Why: on this project's reference
 * machine a buffered write costs the kernel ~2.4 s of CPU for 1.7 GB
 * (copying into fresh page-cache pages, 350 MB/s) and a direct one 0.3 s
 * (1.4 GB/s): a backup's own writes were 29 % of its CPU. A backup never
 * reads a pack it has just written, so nothing is lost by keeping packs
 * out of the page cache. The fsync after it is kept: it covers the
 * buffered tail and the file's metadata. A caller's page-aligned buffer
 * (a pack's, repo/pack.c) is written from directly; another is copied
 * through the aligned one first. */
#define DIRECT_MIN (1u << 20)
#define DIRECT_BUF (4u << 20)

static pthread_key_t direct_key;
static pthread_once_t direct_once = PTHREAD_ONCE_INIT;

static void
direct_init(void)
{
	if (pthread_key_create(&direct_key, free) != 0)
		direct_key = (pthread_key_t)-1;
}

static uint8_t *
direct_buf(void)
{
	void *p;

	pthread_once(&direct_once, direct_init);
	if (direct_key == (pthread_key_t)-1)
		return NULL;
	p = pthread_getspecific(direct_key);
	if (p == NULL && posix_memalign(&p, DIRECT_ALIGN, DIRECT_BUF) == 0 &&
	    pthread_setspecific(direct_key, p) != 0) {
		free(p);
		p = NULL;
	}
	return p;
}

/* write_object: data into the new file fd, directly where it can be;
 * 0, or -1 with errno. */
static int
write_object(int fd, const uint8_t *data, size_t len)
{
	size_t done = 0, bulk = len & ~(size_t)(DIRECT_ALIGN - 1);
	int fl = fcntl(fd, F_GETFL);
	uint8_t *bounce;

	if (len < DIRECT_MIN || fl < 0 || (bounce = direct_buf()) == NULL ||
	    fcntl(fd, F_SETFL, fl | O_DIRECT) < 0)
		return write_full(fd, data, len);
	while (done < bulk) {
		size_t n = bulk - done < DIRECT_BUF ? bulk - done : DIRECT_BUF;
		const uint8_t *from = data + done;
		ssize_t w;

		/* a pack's buffer is page-aligned (repo/pack.c): no copy */
		if ((uintptr_t)from % DIRECT_ALIGN != 0) {
			memcpy(bounce, from, n);
			from = bounce;
		}
		w = pwrite(fd, from, n, (off_t)done);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && errno == EINVAL)
			break;	/* accepted by fcntl, refused by the write: the
				 * page cache takes the rest */
		if (w < 0)
			return -1;
		/* a short direct write leaves an aligned offset or not:
		 * whatever remains goes through the page cache */
		done += (size_t)w;
		if ((size_t)w < n)
			break;
	}
	if (fcntl(fd, F_SETFL, fl) < 0)
		return -1;
	if (done < len && (lseek(fd, (off_t)done, SEEK_SET) < 0 ||
	    write_full(fd, data + done, len - done) < 0))
		return -1;
	return 0;
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
	if (write_object(fd, data, len) < 0 || fsync(fd) < 0) {
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
	.get_direct = local_get_direct,
	.put = local_put,
	.stat = local_stat,
	.list = local_list,
	.del = local_del,
	.close = local_close,
};
