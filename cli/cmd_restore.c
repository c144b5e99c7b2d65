/* imdr restore — write a snapshot (or parts of it) back to disk: contents
 * byte for byte, modes and mtimes (directories' after their contents, since
 * writing into a directory changes its mtime). */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "catalog/catalog.h"
#include "cli/common.h"
#include "cli/progress.h"
#include "lib/err.h"
#include "lib/log.h"
#include "repo/snapshot.h"

struct dir_meta {
	char *path;
	uint32_t mode;
	int64_t mtime_ns;
};

struct restore {
	struct repo *r;
	const char *target;
	int force;
	struct progress *pg;
	struct buf b;
	struct dir_meta *dirs;
	size_t ndirs, cap;
	uint64_t files, bytes, failed;
};

static struct timespec
ts_of(int64_t ns)
{
	struct timespec t;

	t.tv_sec = ns / 1000000000;
	t.tv_nsec = ns % 1000000000;
	if (t.tv_nsec < 0) {
		t.tv_nsec += 1000000000;
		t.tv_sec--;
	}
	return t;
}

static int
mkdirs_for(const char *path)
{
	char *p = xstrdup(path);

	for (char *s = p + 1; *s; s++) {
		if (*s != '/')
			continue;
		*s = '\0';
		if (mkdir(p, 0700) < 0 && errno != EEXIST) {
			int e = errno;

			free(p);
			errno = e;
			return -1;
		}
		*s = '/';
	}
	free(p);
	return 0;
}

static int
remember_dir(struct restore *rs, const char *path, uint32_t mode, int64_t mtime)
{
	if (rs->ndirs == rs->cap) {
		rs->cap = rs->cap ? rs->cap * 2 : 64;
		rs->dirs = xrealloc(rs->dirs, rs->cap * sizeof(*rs->dirs));
	}
	rs->dirs[rs->ndirs].path = xstrdup(path);
	rs->dirs[rs->ndirs].mode = mode;
	rs->dirs[rs->ndirs].mtime_ns = mtime;
	rs->ndirs++;
	return IMDR_OK;
}

/* A file of several chunks is fetched by up to FETCHERS threads, each
 * writing its chunks at their offsets: over a 50 ms link one chunk at a time
 * is one round trip per MiB (~18 MB/s); the repository and the backends are
 * safe to call from several threads (the mount's prefetch does too). */
#define FETCHERS 8

struct fetch {
	struct restore *rs;
	const struct cat_node *node;
	const struct cat_entry *e;
	const char *dst;
	int fd;
	uint32_t next;		/* next chunk to fetch; under mu */
	int rc;			/* first failure */
	char *msg;		/* its message (err_set is per thread) */
	pthread_mutex_t mu;
};

static int
write_at(int fd, const uint8_t *p, size_t n, uint64_t off)
{
	while (n > 0) {
		ssize_t w = pwrite(fd, p, n, (off_t)off);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += w;
		n -= (size_t)w;
		off += (uint64_t)w;
	}
	return 0;
}

static void *
fetcher(void *arg)
{
	struct fetch *f = arg;
	struct buf b = BUF_INIT;

	for (;;) {
		struct blob_ref ref;
		uint64_t off;
		uint32_t i;
		int rc;

		pthread_mutex_lock(&f->mu);
		i = f->next++;
		if (f->rc || i >= f->e->nchunks) {
			pthread_mutex_unlock(&f->mu);
			break;
		}
		pthread_mutex_unlock(&f->mu);
		cat_chunk(f->node, f->e, i, &ref, &off);
		rc = repo_blob_read(f->rs->r, BLOB_DATA, &ref, &b);
		if (rc == IMDR_OK && write_at(f->fd, b.data, b.len, off) < 0)
			rc = err_set(err_from_errno(errno), "cannot write %s: %s", f->dst,
			    strerror(errno));
		if (rc) {
			pthread_mutex_lock(&f->mu);
			if (f->rc == 0) {
				f->rc = rc;
				f->msg = xstrdup(err_msg(rc));
			}
			pthread_mutex_unlock(&f->mu);
			break;
		}
		progress_add(f->rs->pg, 0, b.len);
		__atomic_add_fetch(&f->rs->bytes, b.len, __ATOMIC_RELAXED);
	}
	buf_free(&b);
	return NULL;
}

static int
fetch_parallel(struct restore *rs, const char *dst, int fd,
    const struct cat_node *node, const struct cat_entry *e)
{
	struct fetch f = { rs, node, e, dst, fd, 0, IMDR_OK, NULL,
		PTHREAD_MUTEX_INITIALIZER };
	pthread_t th[FETCHERS];
	int n = e->nchunks < FETCHERS ? (int)e->nchunks : FETCHERS, started = 0;

	for (int i = 0; i < n; i++)
		if (pthread_create(&th[i], NULL, fetcher, &f) == 0)
			started++;
	if (started == 0)
		fetcher(&f);	/* no threads to be had: do it here */
	for (int i = 0; i < started; i++)
		pthread_join(th[i], NULL);
	if (f.rc) {
		err_set(f.rc, "%s", f.msg);
		free(f.msg);
	}
	return f.rc;
}

/* fetch_serial: the chunks one after the other, through rs->b. */
static int
fetch_serial(struct restore *rs, const char *dst, int fd,
    const struct cat_node *node, const struct cat_entry *e)
{
	int rc;

	for (uint32_t i = 0; i < e->nchunks; i++) {
		struct blob_ref ref;
		uint64_t off;
		size_t done = 0;

		cat_chunk(node, e, i, &ref, &off);
		rc = repo_blob_read(rs->r, BLOB_DATA, &ref, &rs->b);
		if (rc)
			return rc;
		while (done < rs->b.len) {
			ssize_t w = write(fd, rs->b.data + done, rs->b.len - done);

			if (w < 0) {
				if (errno == EINTR)
					continue;
				rc = err_set(err_from_errno(errno), "cannot write %s: %s", dst,
				    strerror(errno));
				return rc;
			}
			done += (size_t)w;
		}
		progress_add(rs->pg, 0, rs->b.len);
		rs->bytes += rs->b.len;
	}
	return IMDR_OK;
}

static int
restore_file(struct restore *rs, const char *dst, const struct cat_node *node,
    const struct cat_entry *e)
{
	struct timespec times[2];
	int fd, rc = IMDR_OK;

	if (rs->force)
		unlink(dst);
	fd = open(dst, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0) {
		if (errno == EEXIST)
			return err_set(IMDR_EEXIST, "%s exists (use --force to overwrite)", dst);
		return err_set(err_from_errno(errno), "cannot create %s: %s", dst, strerror(errno));
	}
	rc = e->nchunks > 1 ? fetch_parallel(rs, dst, fd, node, e) :
	    fetch_serial(rs, dst, fd, node, e);
	if (rc)
		goto out;
	if (fchmod(fd, e->mode & 07777) < 0) {
		rc = err_set(err_from_errno(errno), "cannot chmod %s: %s", dst, strerror(errno));
		goto out;
	}
	times[0] = times[1] = ts_of(e->mtime_ns);
	if (futimens(fd, times) < 0)
		rc = err_set(err_from_errno(errno), "cannot set mtime of %s: %s", dst, strerror(errno));
out:
	if (close(fd) < 0 && rc == IMDR_OK)
		rc = err_set(err_from_errno(errno), "cannot write %s: %s", dst, strerror(errno));
	if (rc)
		unlink(dst);	/* never leave a half file that looks whole */
	rs->files++;
	progress_add(rs->pg, 1, 0);
	return rc;
}

static int
restore_entry(struct restore *rs, const char *rel, const struct cat_node *node,
    const struct cat_entry *e)
{
	char *dst = xasprintf("%s/%s", rs->target, rel);
	struct timespec times[2];
	int rc = IMDR_OK;

	if (mkdirs_for(dst) < 0) {
		rc = err_set(err_from_errno(errno), "cannot create folders for %s: %s", dst,
		    strerror(errno));
		goto out;
	}
	switch (e->type) {
	case CAT_DIR:
		if (mkdir(dst, 0700) < 0 && errno != EEXIST) {
			rc = err_set(err_from_errno(errno), "cannot create %s: %s", dst, strerror(errno));
			break;
		}
		rc = remember_dir(rs, dst, e->mode, e->mtime_ns);
		break;
	case CAT_SYMLINK:
		if (rs->force)
			unlink(dst);
		if (symlink(e->target, dst) < 0) {
			rc = err_set(err_from_errno(errno), "cannot create symlink %s: %s", dst,
			    strerror(errno));
			break;
		}
		times[0] = times[1] = ts_of(e->mtime_ns);
		utimensat(AT_FDCWD, dst, times, AT_SYMLINK_NOFOLLOW);
		break;
	default:
		rc = restore_file(rs, dst, node, e);
	}
out:
	free(dst);
	return rc;
}

/* walk_cb: a file whose data cannot be read (damaged or missing blob) is
 * reported and left out, and the restore goes on with the rest; anything
 * else (the target is full, unwritable, or exists) stops it. */
static int
walk_cb(void *ctx, const char *path, const struct cat_node *node,
    const struct cat_entry *e)
{
	struct restore *rs = ctx;
	int rc = restore_entry(rs, path, node, e);

	if (rc == IMDR_EAUTH || rc == IMDR_EFORMAT || rc == IMDR_ENET ||
	    rc == IMDR_ETIMEDOUT || (rc == IMDR_ENOENT && e->type == CAT_FILE)) {
		warn0("error: %s: %s", path, err_msg(rc));
		err_clear();
		rs->failed++;
		rc = IMDR_OK;
	}
	return rc;
}

static int
finish_dirs(struct restore *rs)
{
	int rc = IMDR_OK;

	/* Deepest last-created first, so a parent's mtime is set after every
	 * change inside it. */
	for (size_t i = rs->ndirs; i-- > 0;) {
		struct dir_meta *d = &rs->dirs[i];
		struct timespec times[2];

		times[0] = times[1] = ts_of(d->mtime_ns);
		if (rc == IMDR_OK && (chmod(d->path, d->mode & 07777) < 0 ||
		    utimensat(AT_FDCWD, d->path, times, 0) < 0))
			rc = err_set(err_from_errno(errno), "cannot set mode or mtime of %s: %s",
			    d->path, strerror(errno));
		free(d->path);
	}
	rs->ndirs = 0;
	return rc;
}

static void
usage(FILE *f)
{
	fprintf(f,
"usage: imdr restore REPO SNAPSHOT TARGET [--include PATH]... [--force]\n"
"\n"
"Restore SNAPSHOT (an id prefix, `latest`, or a time) into the folder TARGET,\n"
"byte for byte, with modes and mtimes. --include restores only PATH (a file or\n"
"folder of the snapshot, repeatable), at the same place below TARGET.\n"
"Existing files are not overwritten unless --force.\n"
"\n"
"options:\n"
"  --include PATH      restore only this path (repeatable)\n"
"  --force             overwrite existing files\n"
"  --password-file F   read the passphrase from F\n"
"  --progress          show progress even when stderr is not a terminal\n"
"  --quiet             print nothing but errors\n");
}

int
cmd_restore(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "password-file", required_argument, NULL, 'p' },
		{ "include", required_argument, NULL, 'i' },
		{ "force", no_argument, NULL, 'f' },
		{ "progress", no_argument, NULL, 'P' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct restore rs;
	struct snapshot *s = NULL;
	const char *passfile = NULL;
	char **inc = NULL;
	size_t ninc = 0;
	int c, rc, force_pg = 0, quiet = 0;

	memset(&rs, 0, sizeof(rs));
	optind = 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'p': passfile = optarg; break;
		case 'i':
			inc = xrealloc(inc, (ninc + 1) * sizeof(*inc));
			inc[ninc] = optarg;
			while (*inc[ninc] == '/')
				inc[ninc]++;
			ninc++;
			break;
		case 'f': rs.force = 1; break;
		case 'P': force_pg = 1; break;
		case 'q': quiet = 1; break;
		case 'h': usage(stdout); free(inc); return 0;
		default: usage(stderr); free(inc); return 2;
		}
	}
	if (argc - optind != 3) {
		usage(stderr);
		free(inc);
		return 2;
	}
	rs.target = argv[optind + 2];
	rc = cli_open_repo(argv[optind], passfile, &rs.r);
	if (rc == IMDR_OK)
		rc = snapshot_resolve(rs.r, argv[optind + 1], &s);
	if (rc)
		goto out;
	if (mkdir(rs.target, 0700) < 0 && errno != EEXIST) {
		rc = err_set(err_from_errno(errno), "cannot create %s: %s", rs.target, strerror(errno));
		goto out;
	}
	rs.pg = progress_start("restore", force_pg, quiet);
	if (ninc == 0) {
		progress_total(rs.pg, s->files, s->bytes);
		rc = cat_walk(rs.r, &s->root, "", walk_cb, &rs);
		if (rc == IMDR_OK)
			rc = remember_dir(&rs, rs.target, s->root_mode, s->root_mtime_ns);
	}
	for (size_t i = 0; rc == IMDR_OK && i < ninc; i++) {
		struct cat_node *node = NULL;
		const struct cat_entry *e = NULL;
		char *p = xstrdup(inc[i]);

		while (*p && p[strlen(p) - 1] == '/')
			p[strlen(p) - 1] = '\0';
		rc = cat_resolve(rs.r, &s->root, p, &node, &e);
		if (rc == IMDR_OK && e == NULL)
			rc = cat_walk(rs.r, &s->root, "", walk_cb, &rs);
		else if (rc == IMDR_OK) {
			rc = walk_cb(&rs, p, node, e);
			if (rc == IMDR_OK && e->type == CAT_DIR)
				rc = cat_walk(rs.r, &e->subtree, p, walk_cb, &rs);
		}
		cat_node_free(node);
		free(p);
	}
	if (rc == IMDR_OK)
		rc = finish_dirs(&rs);
	if (rc == IMDR_OK && rs.failed)
		rc = err_set(IMDR_EAUTH, "%llu file%s could not be restored (see the errors above); the rest were",
		    (unsigned long long)rs.failed, rs.failed == 1 ? "" : "s");
	progress_stop(rs.pg);
	if (rc == IMDR_OK && !quiet) {
		char sz[32];

		fmt_size(rs.bytes, sz);
		printf("restored %llu files, %s (%llu bytes) from snapshot %.8s to %s\n",
		    (unsigned long long)rs.files, sz, (unsigned long long)rs.bytes, s->id, rs.target);
	}
out:
	for (size_t i = 0; i < rs.ndirs; i++)
		free(rs.dirs[i].path);
	free(rs.dirs);
	buf_free(&rs.b);
	snapshot_free(s);
	repo_free(rs.r);
	free(inc);
	return rc ? cli_fail(rc) : 0;
}
