/* restore — see restore.h.
 *
 * Folders. One descriptor is open: the folder the last entry went into.
 * The next entry's folder is reached from there, up through ".." (checked
 * against the device and inode recorded when the folder was entered, so a
 * folder moved meanwhile is an error, never a way out of the target) and
 * down one component at a time with O_NOFOLLOW. Entries arrive depth-first
 * by name, so a restore opens each folder about twice, however deep the
 * tree: a path 50,000 folders deep costs 100,000 opens, not a billion.
 * Every folder passed or made is a record (its name, its parent's index),
 * so memory grows with the number of folders, not with their depth
 * squared; modes and mtimes are set at the end, children before parents,
 * walking the records the same way.
 *
 * A file of several chunks is fetched by up to FETCHERS threads, each
 * writing its chunks at their offsets: over a 50 ms link one chunk at a
 * time is one round trip per MiB. */
#include "engine/restore.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "catalog/catalog.h"
#include "lib/array.h"
#include "lib/err.h"

#define FETCHERS 8

#define TARGET (-1L)		/* the record index of the target itself */

/* A folder below the target that the restore made or went through. */
struct rdir {
	char *name;
	long parent;		/* index in dirs, or TARGET */
	long last_kid;		/* the child entered last (a hint), or -1 */
	size_t plen;		/* length of its path below the target */
	dev_t dev;
	ino_t ino;
	uint32_t depth;		/* 1 for the target's children */
	uint32_t mode;
	int64_t mtime_ns;
	int has_meta;		/* a folder of the snapshot: mode and mtime to set */
};

struct restore {
	struct repo *r;
	const struct restore_opts *o;
	const struct engine_events *ev;
	int tfd;		/* the target folder */
	dev_t tdev;
	ino_t tino;
	long t_last_kid;	/* the target's child entered last, or -1 */
	int cur_fd;		/* the folder at cur, always open */
	long cur;		/* its record, or TARGET */
	struct buf curpath;	/* its path below the target ("" = target) */
	struct rdir *dirs;	/* in the order made: parents before children */
	size_t ndirs, dirs_cap;
	long *chain;		/* scratch for nav_to_dir */
	size_t chain_cap;
	struct buf b;
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

static uint32_t
mode_of(const struct restore *rs, uint32_t mode)
{
	mode &= 07777;
	if (!rs->o->keep_setuid)
		mode &= ~(uint32_t)06000;
	return mode;
}

static int
fail_at(const struct restore *rs, int e, const char *what, const char *rel)
{
	return err_set(err_from_errno(e), "cannot %s %s/%s: %s", what, rs->o->target, rel,
	    strerror(e));
}

/* ---- folders, never through symlinks ---- */

/* rel_of: the path below the target of name in the current folder. Made
 * for messages only: at 50,000 levels a path is 100 KB, too much to build
 * for every folder entered. */
static char *
rel_of(const struct restore *rs, const char *name, size_t len)
{
	struct buf b = BUF_INIT;

	buf_append(&b, rs->curpath.data, rs->curpath.len);
	if (b.len)
		buf_putc(&b, '/');
	buf_append(&b, name, len);
	return buf_cstr(&b);
}

/* In clear_way and open_dir_at, rel NULL means "name in the current
 * folder": the path is made only when there is something to say. */
static int
fail_rel(const struct restore *rs, int e, const char *what, const char *rel,
    const char *name)
{
	char *w = rel ? NULL : rel_of(rs, name, strlen(name));
	int rc = fail_at(rs, e, what, rel ? rel : w);

	free(w);
	return rc;
}

static int
exists_rel(const struct restore *rs, int code, const char *fmt, const char *rel,
    const char *name)
{
	char *w = rel ? NULL : rel_of(rs, name, strlen(name));
	int rc = err_set(code, fmt, rs->o->target, rel ? rel : w);

	free(w);
	return rc;
}

/* clear_way: something that is not a folder stands at name in dfd where a
 * folder or file goes. A symlink is removed (replaced, never followed);
 * anything else only with force. */
static int
clear_way(struct restore *rs, int dfd, const char *name, const char *rel, int want_dir)
{
	struct stat st;

	if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0)
		return fail_rel(rs, errno, "inspect", rel, name);
	if (S_ISDIR(st.st_mode))
		return want_dir ? IMDR_OK :
		    exists_rel(rs, IMDR_EEXIST, "%s/%s exists and is a folder", rel, name);
	if (!S_ISLNK(st.st_mode) && !rs->o->force)
		return exists_rel(rs, IMDR_EEXIST, "%s/%s exists (use --force to overwrite)", rel, name);
	if (unlinkat(dfd, name, 0) != 0)
		return fail_rel(rs, errno, "remove", rel, name);
	return IMDR_OK;
}

/* open_dir_at: open folder name in dfd without following a symlink; with
 * create, make it (0700) when missing and replace a symlink standing
 * there. *ret_fd is a new descriptor. */
static int
open_dir_at(struct restore *rs, int dfd, const char *name, const char *rel,
    int create, int *ret_fd)
{
	int fd, rc;

	for (int tries = 0; tries < 3; tries++) {
		fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd >= 0) {
			*ret_fd = fd;
			return IMDR_OK;
		}
		if (!create)
			return fail_rel(rs, errno, "open", rel, name);
		if (errno == ENOENT) {
			if (mkdirat(dfd, name, 0700) != 0 && errno != EEXIST)
				return fail_rel(rs, errno, "create", rel, name);
		} else if (errno == ELOOP || errno == ENOTDIR) {
			rc = clear_way(rs, dfd, name, rel, 1);
			if (rc)
				return rc;
		} else {
			return fail_rel(rs, errno, "open", rel, name);
		}
	}
	return exists_rel(rs, IMDR_EIO, "%s/%s keeps changing while it is restored", rel, name);
}

/* ---- moving between folders ---- */

static long *
last_kid_of(struct restore *rs, long d)
{
	return d == TARGET ? &rs->t_last_kid : &rs->dirs[d].last_kid;
}

/* nav_up: from the current folder to its parent, through "..", which must
 * be the folder recorded (a moved folder would lead elsewhere). */
static int
nav_up(struct restore *rs)
{
	struct rdir *d = &rs->dirs[rs->cur];
	dev_t pdev = d->parent == TARGET ? rs->tdev : rs->dirs[d->parent].dev;
	ino_t pino = d->parent == TARGET ? rs->tino : rs->dirs[d->parent].ino;
	struct stat st;
	int fd;

	fd = openat(rs->cur_fd, "..", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) != 0 || st.st_dev != pdev || st.st_ino != pino) {
		char *rel = xstrndup((const char *)rs->curpath.data, rs->curpath.len);
		int rc = err_set(IMDR_EIO, "%s/%s was moved while it was restored", rs->o->target, rel);

		free(rel);
		if (fd >= 0)
			close(fd);
		return rc;
	}
	close(rs->cur_fd);
	rs->cur_fd = fd;
	rs->cur = d->parent;
	rs->curpath.len = d->parent == TARGET ? 0 : rs->dirs[d->parent].plen;
	return IMDR_OK;
}

/* nav_down: into folder name of the current folder (made when missing with
 * create, a symlink there replaced). Its record: want when given (the
 * folder must be the one recorded), else the one entered last under this
 * folder when the name matches, else a new one. */
static int
nav_down(struct restore *rs, const char *name, size_t len, int create, long want)
{
	long k = want >= 0 ? want : *last_kid_of(rs, rs->cur);
	char *part = xstrndup(name, len);
	struct stat st;
	int fd = -1, rc;

	rc = open_dir_at(rs, rs->cur_fd, part, NULL, create, &fd);
	if (rc == IMDR_OK && fstat(fd, &st) != 0) {
		rc = fail_rel(rs, errno, "inspect", NULL, part);
		close(fd);
	}
	if (rc == IMDR_OK && want >= 0 && (rs->dirs[want].dev != st.st_dev ||
	    rs->dirs[want].ino != st.st_ino)) {
		rc = exists_rel(rs, IMDR_EIO, "%s/%s was replaced while it was restored", NULL, part);
		close(fd);
	}
	if (rc) {
		free(part);
		return rc;
	}
	if (k >= 0 && strcmp(rs->dirs[k].name, part) == 0 &&
	    rs->dirs[k].dev == st.st_dev && rs->dirs[k].ino == st.st_ino) {
		free(part);
	} else {
		struct rdir *d = ARRAY_PUSH(rs->dirs, rs->ndirs, rs->dirs_cap);

		memset(d, 0, sizeof(*d));
		d->name = part;
		d->parent = rs->cur;
		d->last_kid = -1;
		d->dev = st.st_dev;
		d->ino = st.st_ino;
		d->depth = rs->cur == TARGET ? 1 : rs->dirs[rs->cur].depth + 1;
		d->plen = rs->curpath.len + (rs->curpath.len > 0) + len;
		k = (long)rs->ndirs - 1;
		*last_kid_of(rs, rs->cur) = k;
	}
	close(rs->cur_fd);
	rs->cur_fd = fd;
	rs->cur = k;
	if (rs->curpath.len)
		buf_putc(&rs->curpath, '/');
	buf_append(&rs->curpath, name, len);
	return IMDR_OK;
}

/* nav_to_path: to the folder at p (plen bytes, below the target): up to
 * what it shares with the current folder, then down; with create, missing
 * folders are made. */
static int
nav_to_path(struct restore *rs, const char *p, size_t plen, int create)
{
	const char *cur = (const char *)rs->curpath.data;
	size_t clen = rs->curpath.len, n = clen < plen ? clen : plen, i = 0, k;
	int rc = IMDR_OK;

	/* the common prefix, a block at a time by memcmp (paths can be
	 * 100 KB long, and every entry compares its folder's path) */
	while (i + 256 <= n && memcmp(cur + i, p + i, 256) == 0)
		i += 256;
	while (i < n && cur[i] == p[i])
		i++;
	if (i == clen && (i == plen || p[i] == '/'))
		k = i;
	else if (i == plen && cur[i] == '/')
		k = i;
	else {
		while (i > 0 && p[i - 1] != '/')
			i--;
		k = i ? i - 1 : 0;
	}
	while (rc == IMDR_OK && rs->curpath.len > k)
		rc = nav_up(rs);
	while (rc == IMDR_OK && k < plen) {
		size_t len;

		k += p[k] == '/';
		len = strcspn(p + k, "/");
		if (len > plen - k)
			len = plen - k;
		rc = nav_down(rs, p + k, len, create, -1);
		k += len;
	}
	return rc;
}

/* nav_to_dir: to the folder of record i, by the records: up to the nearest
 * common ancestor, then down by name, each folder checked to be the one
 * recorded. */
static int
nav_to_dir(struct restore *rs, long i)
{
	size_t n = 0;
	long x = i;
	int rc = IMDR_OK;

#define DEPTH(j) ((j) == TARGET ? 0u : rs->dirs[(j)].depth)
	while (DEPTH(x) > DEPTH(rs->cur)) {
		*ARRAY_PUSH(rs->chain, n, rs->chain_cap) = x;
		x = rs->dirs[x].parent;
	}
	while (rc == IMDR_OK && DEPTH(rs->cur) > DEPTH(x))
		rc = nav_up(rs);
	while (rc == IMDR_OK && rs->cur != x) {
		*ARRAY_PUSH(rs->chain, n, rs->chain_cap) = x;
		x = rs->dirs[x].parent;
		rc = nav_up(rs);
	}
#undef DEPTH
	while (rc == IMDR_OK && n > 0) {
		long j = rs->chain[--n];

		rc = nav_down(rs, rs->dirs[j].name, strlen(rs->dirs[j].name), 0, j);
	}
	return rc;
}

/* parent_fd: the folder holding rel's last component, reached (and made)
 * safely; it stays current for the entries that follow. */
static int
parent_fd(struct restore *rs, const char *rel, int *ret_fd, const char **ret_name)
{
	const char *slash = strrchr(rel, '/');
	int rc;

	*ret_name = slash ? slash + 1 : rel;
	rc = nav_to_path(rs, rel, slash ? (size_t)(slash - rel) : 0, 1);
	*ret_fd = rs->cur_fd;
	return rc;
}

/* ---- file contents ---- */

struct fetch {
	struct restore *rs;
	const struct cat_node *node;
	const struct cat_entry *e;
	const char *rel;
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

/* fetch_one: chunk i of the file into buffer b and onto the file. */
static int
fetch_one(struct fetch *f, uint32_t i, struct buf *b)
{
	struct blob_ref ref;
	uint64_t off;
	int rc;

	cat_chunk(f->node, f->e, i, &ref, &off);
	rc = repo_blob_read(f->rs->r, BLOB_DATA, &ref, b);
	if (rc == IMDR_OK && write_at(f->fd, b->data, b->len, off) < 0)
		rc = fail_at(f->rs, errno, "write", f->rel);
	if (rc == IMDR_OK) {
		ev_advance(f->rs->ev, 0, b->len);
		__atomic_add_fetch(&f->rs->bytes, b->len, __ATOMIC_RELAXED);
	}
	return rc;
}

static void *
fetcher(void *arg)
{
	struct fetch *f = arg;
	struct buf b = BUF_INIT;

	for (;;) {
		uint32_t i;
		int rc;

		pthread_mutex_lock(&f->mu);
		i = f->next++;
		if (f->rc || i >= f->e->nchunks) {
			pthread_mutex_unlock(&f->mu);
			break;
		}
		pthread_mutex_unlock(&f->mu);
		rc = fetch_one(f, i, &b);
		if (rc) {
			pthread_mutex_lock(&f->mu);
			if (f->rc == 0) {
				f->rc = rc;
				f->msg = xstrdup(err_msg(rc));
			}
			pthread_mutex_unlock(&f->mu);
			break;
		}
	}
	buf_free(&b);
	repo_thread_cleanup();
	return NULL;
}

/* fetch_file: every chunk of e into fd; several threads for several. */
static int
fetch_file(struct restore *rs, const char *rel, int fd, const struct cat_node *node,
    const struct cat_entry *e)
{
	struct fetch f = { rs, node, e, rel, fd, 0, IMDR_OK, NULL,
		PTHREAD_MUTEX_INITIALIZER };
	pthread_t th[FETCHERS];
	int n = e->nchunks < FETCHERS ? (int)e->nchunks : FETCHERS, started = 0;

	if (e->nchunks <= 1) {
		int rc = e->nchunks ? fetch_one(&f, 0, &rs->b) : IMDR_OK;

		return rc;
	}
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

/* create_file: name in dfd, new, never through a symlink: a symlink in
 * the way is replaced (as where a folder goes), an existing file only with
 * force, a folder never. */
static int
create_file(struct restore *rs, int dfd, const char *name, const char *rel, int *ret_fd)
{
	for (int tries = 0; tries < 3; tries++) {
		int fd = openat(dfd, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW,
		    0600), rc;

		if (fd >= 0) {
			*ret_fd = fd;
			return IMDR_OK;
		}
		if (errno != EEXIST)
			return fail_at(rs, errno, "create", rel);
		if ((rc = clear_way(rs, dfd, name, rel, 0)) != IMDR_OK)
			return rc;
	}
	return err_set(IMDR_EIO, "%s/%s keeps changing while it is restored", rs->o->target, rel);
}

static int
restore_file(struct restore *rs, int dfd, const char *name, const char *rel,
    const struct cat_node *node, const struct cat_entry *e)
{
	struct timespec times[2];
	int fd = -1, rc;

	rc = create_file(rs, dfd, name, rel, &fd);
	if (rc)
		return rc;
	rc = fetch_file(rs, rel, fd, node, e);
	if (rc == IMDR_OK && fchmod(fd, mode_of(rs, e->mode)) < 0)
		rc = fail_at(rs, errno, "chmod", rel);
	times[0] = times[1] = ts_of(e->mtime_ns);
	if (rc == IMDR_OK && futimens(fd, times) < 0)
		rc = fail_at(rs, errno, "set the mtime of", rel);
	if (close(fd) < 0 && rc == IMDR_OK)
		rc = fail_at(rs, errno, "write", rel);
	if (rc)
		unlinkat(dfd, name, 0);	/* never leave a half file that looks whole */
	rs->files++;
	ev_advance(rs->ev, 1, 0);
	return rc;
}

static int
restore_symlink(struct restore *rs, int dfd, const char *name, const char *rel,
    const struct cat_entry *e)
{
	struct timespec times[2];
	int rc;

	while (symlinkat(e->target, dfd, name) != 0) {
		if (errno != EEXIST)
			return fail_at(rs, errno, "create symlink", rel);
		rc = clear_way(rs, dfd, name, rel, 0);
		if (rc)
			return rc;
	}
	times[0] = times[1] = ts_of(e->mtime_ns);
	utimensat(dfd, name, times, AT_SYMLINK_NOFOLLOW);
	return IMDR_OK;
}

/* restore_dir: make folder name in the current folder (entering it and
 * coming back is what records it) and note its mode and mtime for the
 * end. */
static int
restore_dir(struct restore *rs, const char *name, const struct cat_entry *e)
{
	struct rdir *d;
	int rc = nav_down(rs, name, strlen(name), 1, -1);

	if (rc)
		return rc;
	d = &rs->dirs[rs->cur];
	d->has_meta = 1;
	d->mode = e->mode;
	d->mtime_ns = e->mtime_ns;
	return nav_up(rs);
}

static int
restore_entry(struct restore *rs, const char *rel, const struct cat_node *node,
    const struct cat_entry *e)
{
	const char *name;
	int dfd, rc;

	rc = parent_fd(rs, rel, &dfd, &name);
	if (rc)
		return rc;
	switch (e->type) {
	case CAT_DIR:
		return restore_dir(rs, name, e);
	case CAT_SYMLINK:
		return restore_symlink(rs, dfd, name, rel, e);
	default:
		return restore_file(rs, dfd, name, rel, node, e);
	}
}

/* walk_cb: a file whose data cannot be read (damaged or missing blob) is
 * reported and left out, and the restore goes on with the rest; anything
 * else (the target is full, unwritable, or exists) stops it. */
static int
walk_cb(void *ctx, const char *path, const struct cat_node *node,
    const struct cat_entry *e)
{
	struct restore *rs = ctx;
	int rc;

	if (ev_cancelled(rs->ev))
		return err_set(IMDR_EINTR, "interrupted");
	rc = restore_entry(rs, path, node, e);
	if (rc == IMDR_EAUTH || rc == IMDR_EFORMAT || rc == IMDR_ENET ||
	    rc == IMDR_ETIMEDOUT || (rc == IMDR_ENOENT && e->type == CAT_FILE)) {
		ev_error(rs->ev, path, err_msg(rc));
		err_clear();
		rs->failed++;
		rc = IMDR_OK;
	}
	return rc;
}

/* finish_dirs: modes and mtimes of the folders restored, the last made
 * first (children were made after their parents), so a parent's mtime is
 * set after every change inside it. */
static int
finish_dirs(struct restore *rs)
{
	struct timespec times[2];
	int rc = IMDR_OK;

	for (size_t i = rs->ndirs; i-- > 0 && rc == IMDR_OK;) {
		const struct rdir *d = &rs->dirs[i];

		if (!d->has_meta)
			continue;
		rc = nav_to_dir(rs, (long)i);
		times[0] = times[1] = ts_of(d->mtime_ns);
		if (rc == IMDR_OK && (fchmod(rs->cur_fd, mode_of(rs, d->mode)) < 0 ||
		    futimens(rs->cur_fd, times) < 0)) {
			char *rel = xstrndup((const char *)rs->curpath.data, rs->curpath.len);

			rc = fail_at(rs, errno, "set the mode or mtime of", rel);
			free(rel);
		}
	}
	return rc;
}

static int
restore_include(struct restore *rs, const struct snapshot *s, const char *inc)
{
	struct cat_node *node = NULL;
	const struct cat_entry *e = NULL;
	char *p;
	int rc;

	while (*inc == '/')
		inc++;
	p = xstrdup(inc);
	while (*p && p[strlen(p) - 1] == '/')
		p[strlen(p) - 1] = '\0';
	rc = cat_resolve(rs->r, &s->root, p, &node, &e);
	if (rc == IMDR_OK && e == NULL)
		rc = cat_walk(rs->r, &s->root, "", walk_cb, rs);
	else if (rc == IMDR_OK) {
		rc = walk_cb(rs, p, node, e);
		if (rc == IMDR_OK && e->type == CAT_DIR)
			rc = cat_walk(rs->r, &e->subtree, p, walk_cb, rs);
	}
	cat_node_free(node);
	free(p);
	return rc;
}

int
restore_run(struct repo *r, const struct snapshot *s, const struct restore_opts *o,
    struct restore_result *ret)
{
	struct restore rs;
	struct stat tst;
	int rc = IMDR_OK;

	memset(&rs, 0, sizeof(rs));
	memset(ret, 0, sizeof(*ret));
	rs.r = r;
	rs.o = o;
	rs.ev = &o->ev;
	rs.cur = TARGET;
	rs.t_last_kid = -1;
	if (mkdir(o->target, 0700) < 0 && errno != EEXIST)
		return err_set(err_from_errno(errno), "cannot create %s: %s", o->target, strerror(errno));
	rs.tfd = open(o->target, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (rs.tfd < 0 || fstat(rs.tfd, &tst) != 0 || (rs.cur_fd = dup(rs.tfd)) < 0) {
		rc = err_set(err_from_errno(errno), "cannot open %s: %s", o->target, strerror(errno));
		if (rs.tfd >= 0)
			close(rs.tfd);
		return rc;
	}
	rs.tdev = tst.st_dev;
	rs.tino = tst.st_ino;
	if (o->ninclude == 0) {
		ev_total(rs.ev, s->files, s->bytes);
		rc = cat_walk(r, &s->root, "", walk_cb, &rs);
	}
	for (size_t i = 0; rc == IMDR_OK && i < o->ninclude; i++)
		rc = restore_include(&rs, s, o->include[i]);
	if (rc == IMDR_OK)
		rc = finish_dirs(&rs);
	close(rs.cur_fd);
	if (rc == IMDR_OK && o->ninclude == 0) {
		struct timespec times[2];

		times[0] = times[1] = ts_of(s->root_mtime_ns);
		if (fchmod(rs.tfd, mode_of(&rs, s->root_mode)) < 0 || futimens(rs.tfd, times) < 0)
			rc = err_set(err_from_errno(errno), "cannot set the mode or mtime of %s: %s",
			    o->target, strerror(errno));
	}
	if (rc == IMDR_OK && rs.failed)
		rc = err_set(IMDR_EAUTH, "%llu file%s could not be restored (see the errors above); the rest were",
		    (unsigned long long)rs.failed, rs.failed == 1 ? "" : "s");
	ret->files = rs.files;
	ret->bytes = rs.bytes;
	ret->failed = rs.failed;
	close(rs.tfd);
	for (size_t i = 0; i < rs.ndirs; i++)
		free(rs.dirs[i].name);
	free(rs.dirs);
	free(rs.chain);
	buf_free(&rs.curpath);
	buf_free(&rs.b);
	return rc;
}
