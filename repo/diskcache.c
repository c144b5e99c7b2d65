/* diskcache — see diskcache.h. */
#include "repo/diskcache.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/err.h"
#include "lib/fsutil.h"
#include "lib/hex.h"
#include "lib/log.h"

struct diskcache {
	char *root;
	pthread_mutex_t mu;
	struct diskcache_stats st;
	int evicting;
};

struct file_age {
	char *path;
	int64_t mtime;
	uint64_t size;
};

/* scan: every cached file with its age and size. */
static void
scan(const char *root, struct file_age **ret, size_t *ret_n, uint64_t *ret_bytes)
{
	struct file_age *v = NULL;
	size_t n = 0, cap = 0;
	uint64_t total = 0;
	DIR *d = opendir(root);
	struct dirent *de;

	while (d && (de = readdir(d)) != NULL) {
		char *sub;
		DIR *sd;
		struct dirent *fe;

		if (de->d_name[0] == '.')
			continue;
		sub = xasprintf("%s/%s", root, de->d_name);
		sd = opendir(sub);
		while (sd && (fe = readdir(sd)) != NULL) {
			struct stat st;
			char *path;

			if (fe->d_name[0] == '.')
				continue;
			path = xasprintf("%s/%s", sub, fe->d_name);
			if (stat(path, &st) == 0 && S_ISREG(st.st_mode)) {
				if (n == cap) {
					cap = cap ? cap * 2 : 256;
					v = xrealloc(v, cap * sizeof(*v));
				}
				v[n].path = path;
				v[n].mtime = (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec;
				v[n].size = (uint64_t)st.st_size;
				total += v[n].size;
				n++;
			} else {
				free(path);
			}
		}
		if (sd)
			closedir(sd);
		free(sub);
	}
	if (d)
		closedir(d);
	*ret = v;
	*ret_n = n;
	*ret_bytes = total;
}

static int
cmp_age(const void *a, const void *b)
{
	const struct file_age *x = a, *y = b;

	return x->mtime < y->mtime ? -1 : x->mtime > y->mtime;
}

static void
evict(struct diskcache *dc)
{
	struct file_age *v;
	size_t n;
	uint64_t total;

	scan(dc->root, &v, &n, &total);
	if (n)
		qsort(v, n, sizeof(*v), cmp_age);
	for (size_t i = 0; i < n; i++) {
		if (total > dc->st.limit / 10 * 9 && unlink(v[i].path) == 0)
			total -= v[i].size;
		free(v[i].path);
	}
	free(v);
	pthread_mutex_lock(&dc->mu);
	dc->st.bytes = total;
	dc->evicting = 0;
	pthread_mutex_unlock(&dc->mu);
}

int
diskcache_open(const char *dir, uint64_t limit, const char *repo_id,
    struct diskcache **ret)
{
	struct diskcache *dc = xcalloc(1, sizeof(*dc));
	struct file_age *v;
	size_t n;

	dc->root = xasprintf("%s/%s", dir, repo_id);
	if (mkdir_p(dc->root) < 0) {
		int rc = err_set(IMDR_EIO, "cannot create cache folder %s: %s", dc->root,
		    strerror(errno));

		free(dc->root);
		free(dc);
		return rc;
	}
	pthread_mutex_init(&dc->mu, NULL);
	dc->st.limit = limit;
	scan(dc->root, &v, &n, &dc->st.bytes);
	for (size_t i = 0; i < n; i++)
		free(v[i].path);
	free(v);
	*ret = dc;
	return IMDR_OK;
}

void
diskcache_free(struct diskcache *dc)
{
	if (dc == NULL)
		return;
	pthread_mutex_destroy(&dc->mu);
	free(dc->root);
	free(dc);
}

static char *
path_of(struct diskcache *dc, const uint8_t *id)
{
	char hex[65];

	hex_encode(id, CRYPTO_ID_LEN, hex);
	return xasprintf("%s/%.2s/%s", dc->root, hex, hex);
}

/* read_file: the file into out, when it holds exactly want bytes (a file
 * of another size is no entry: it is not read at all). */
static int
read_file(const char *path, uint64_t want, struct buf *out)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	ssize_t n;

	if (fd < 0)
		return -1;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || (uint64_t)st.st_size != want) {
		close(fd);
		return -1;
	}
	out->len = 0;
	buf_reserve(out, (size_t)st.st_size);
	n = pread(fd, out->data, (size_t)st.st_size, 0);
	close(fd);
	if (n != st.st_size)
		return -1;
	out->len = (size_t)n;
	return 0;
}

static void
write_file(struct diskcache *dc, const char *path, const struct buf *b)
{
	char *tmp = xasprintf("%s.tmp-%d-%lu", path, (int)getpid(), (unsigned long)pthread_self());
	int fd, over;

	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0 && errno == ENOENT) {
		char *dir = xstrdup(path);

		*strrchr(dir, '/') = '\0';
		mkdir(dir, 0700);
		free(dir);
		fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	}
	if (fd < 0) {
		free(tmp);
		return;
	}
	if (write(fd, b->data, b->len) != (ssize_t)b->len) {
		close(fd);	/* a full disk: the cache simply keeps less */
		unlink(tmp);
		free(tmp);
		return;
	}
	if (close(fd) < 0 || rename(tmp, path) < 0) {
		unlink(tmp);
		free(tmp);
		return;
	}
	free(tmp);
	pthread_mutex_lock(&dc->mu);
	dc->st.bytes += b->len;
	over = dc->st.bytes > dc->st.limit && !dc->evicting;
	if (over)
		dc->evicting = 1;
	pthread_mutex_unlock(&dc->mu);
	if (over)
		evict(dc);
}

int
diskcache_get(struct diskcache *dc, const struct blob_ref *ref, struct buf *out)
{
	char *path = path_of(dc, ref->id);
	int hit = read_file(path, ref->length, out) == 0;

	if (hit)
		utimensat(AT_FDCWD, path, NULL, 0);	/* recently used */
	pthread_mutex_lock(&dc->mu);
	if (hit)
		dc->st.hits++;
	else
		dc->st.misses++;
	pthread_mutex_unlock(&dc->mu);
	free(path);
	return hit;
}

void
diskcache_put(struct diskcache *dc, const struct blob_ref *ref,
    const struct buf *sealed)
{
	char *path = path_of(dc, ref->id);

	write_file(dc, path, sealed);
	free(path);
}

void
diskcache_drop(struct diskcache *dc, const struct blob_ref *ref)
{
	char *path = path_of(dc, ref->id);

	unlink(path);
	pthread_mutex_lock(&dc->mu);
	dc->st.hits--;		/* it was no hit after all */
	dc->st.misses++;
	pthread_mutex_unlock(&dc->mu);
	free(path);
}

void
diskcache_get_stats(struct diskcache *dc, struct diskcache_stats *ret)
{
	pthread_mutex_lock(&dc->mu);
	*ret = dc->st;
	pthread_mutex_unlock(&dc->mu);
}
