/* restore — see restore.h.
 *
 * Paths are resolved below the target's descriptor, one component at a
 * time, with O_NOFOLLOW: the folder of the entry before is kept open, so a
 * walk (entries arrive depth-first, by name) opens each folder about once.
 * A file of several chunks is fetched by up to FETCHERS threads, each
 * writing its chunks at their offsets: over a 50 ms link one chunk at a
 * time is one round trip per MiB. */
#include "engine/restore.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "catalog/catalog.h"
#include "engine/trail.h"
#include "lib/array.h"
#include "lib/err.h"

#define FETCHERS 8

struct dir_meta {
	char *rel;
	uint32_t mode;
	int64_t mtime_ns;
};

struct restore {
	struct repo *r;
	const struct restore_opts *o;
	const struct engine_events *ev;
	int tfd;		/* the target folder */
	int cur_fd;		/* the folder of the last entry, or -1 */
	char *cur;		/* its path below the target ("" = target) */
	struct dir_meta *dirs;	/* folders restored, in order made */
	size_t ndirs, dirs_cap;
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

/* clear_way: something that is not a folder stands at name in dfd where a
 * folder or file goes. A symlink is removed (replaced, never followed);
 * anything else only with force. */
static int
clear_way(struct restore *rs, int dfd, const char *name, const char *rel, int want_dir)
{
	struct stat st;

	if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0)
		return fail_at(rs, errno, "inspect", rel);
	if (S_ISDIR(st.st_mode))
		return want_dir ? IMDR_OK : err_set(IMDR_EEXIST, "%s/%s exists and is a folder",
		    rs->o->target, rel);
	if (!S_ISLNK(st.st_mode) && !rs->o->force)
		return err_set(IMDR_EEXIST, "%s/%s exists (use --force to overwrite)",
		    rs->o->target, rel);
	if (unlinkat(dfd, name, 0) != 0)
		return fail_at(rs, errno, "remove", rel);
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
			return fail_at(rs, errno, "open", rel);
		if (errno == ENOENT) {
			if (mkdirat(dfd, name, 0700) != 0 && errno != EEXIST)
				return fail_at(rs, errno, "create", rel);
		} else if (errno == ELOOP || errno == ENOTDIR) {
			rc = clear_way(rs, dfd, name, rel, 1);
			if (rc)
				return rc;
		} else {
			return fail_at(rs, errno, "open", rel);
		}
	}
	return err_set(IMDR_EIO, "%s/%s keeps changing while it is restored", rs->o->target, rel);
}

/* open_path: the folder at rel (below the target), each component opened
 * with O_NOFOLLOW; with create, missing ones are made. */
static int
open_path(struct restore *rs, const char *rel, int create, int *ret_fd)
{
	int fd = dup(rs->tfd), rc = IMDR_OK;
	const char *p = rel;
	char *part = NULL;

	if (fd < 0)
		return fail_at(rs, errno, "open", "");
	while (*p) {
		size_t len = strcspn(p, "/");
		int next;

		free(part);
		part = xstrndup(p, len);
		rc = open_dir_at(rs, fd, part, rel, create, &next);
		close(fd);
		fd = -1;
		if (rc)
			break;
		fd = next;
		p += len;
		p += *p == '/';
	}
	free(part);
	if (rc)
		return rc;
	*ret_fd = fd;
	return IMDR_OK;
}

/* parent_fd: the folder holding rel's last component, opened (and made)
 * safely; kept open for the entries that follow. */
static int
parent_fd(struct restore *rs, const char *rel, int *ret_fd, const char **ret_name)
{
	const char *slash = strrchr(rel, '/');
	size_t plen = slash ? (size_t)(slash - rel) : 0;
	size_t clen = rs->cur ? strlen(rs->cur) : 0;
	int fd, rc;

	*ret_name = slash ? slash + 1 : rel;
	if (rs->cur_fd >= 0 && plen == clen && strncmp(rel, rs->cur, plen) == 0) {
		*ret_fd = rs->cur_fd;
		return IMDR_OK;
	}
	if (rs->cur_fd >= 0 && plen > clen && strncmp(rel, rs->cur, clen) == 0 &&
	    (clen == 0 || rel[clen] == '/') &&
	    memchr(rel + clen + (clen > 0), '/', plen - clen - (clen > 0)) == NULL) {
		/* one level down from the folder before: the usual step */
		char *part = xstrndup(rel + clen + (clen > 0), plen - clen - (clen > 0));
		char *prel = xstrndup(rel, plen);

		rc = open_dir_at(rs, rs->cur_fd, part, prel, 1, &fd);
		free(part);
		free(prel);
	} else {
		char *prel = xstrndup(rel, plen);

		rc = open_path(rs, prel, 1, &fd);
		free(prel);
	}
	if (rc)
		return rc;
	if (rs->cur_fd >= 0)
		close(rs->cur_fd);
	free(rs->cur);
	rs->cur_fd = fd;
	rs->cur = xstrndup(rel, plen);
	*ret_fd = fd;
	return IMDR_OK;
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

/* create_file: name in dfd, new, never through a symlink; an existing one
 * is replaced only with force. */
static int
create_file(struct restore *rs, int dfd, const char *name, const char *rel, int *ret_fd)
{
	for (int tries = 0; tries < 3; tries++) {
		int fd = openat(dfd, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW,
		    0600);

		if (fd >= 0) {
			*ret_fd = fd;
			return IMDR_OK;
		}
		if (errno != EEXIST)
			return fail_at(rs, errno, "create", rel);
		if (!rs->o->force)
			return err_set(IMDR_EEXIST, "%s/%s exists (use --force to overwrite)",
			    rs->o->target, rel);
		if (unlinkat(dfd, name, 0) != 0)
			return errno == EISDIR || errno == EPERM ?
			    err_set(IMDR_EEXIST, "%s/%s exists and is a folder", rs->o->target, rel) :
			    fail_at(rs, errno, "remove", rel);
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

static int
restore_dir(struct restore *rs, int dfd, const char *name, const char *rel,
    const struct cat_entry *e)
{
	struct dir_meta *d;
	int fd, rc = open_dir_at(rs, dfd, name, rel, 1, &fd);

	if (rc)
		return rc;
	close(fd);
	d = ARRAY_PUSH(rs->dirs, rs->ndirs, rs->dirs_cap);
	d->rel = xstrdup(rel);
	d->mode = e->mode;
	d->mtime_ns = e->mtime_ns;
	return IMDR_OK;
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
		return restore_dir(rs, dfd, name, rel, e);
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

/* set_dir_meta: mode and mtime of the folder at rel, opened safely. */
static int
set_dir_meta(struct restore *rs, const char *rel, uint32_t mode, int64_t mtime_ns)
{
	struct timespec times[2];
	int fd, rc;

	rc = open_path(rs, rel, 0, &fd);
	if (rc)
		return rc;
	times[0] = times[1] = ts_of(mtime_ns);
	if (fchmod(fd, mode_of(rs, mode)) < 0 || futimens(fd, times) < 0)
		rc = fail_at(rs, errno, "set the mode or mtime of", rel);
	close(fd);
	return rc;
}

/* finish_dirs: modes and mtimes of the folders restored, the last made
 * first, so a parent's mtime is set after every change inside it. */
static int
finish_dirs(struct restore *rs)
{
	int rc = IMDR_OK;

	for (size_t i = rs->ndirs; i-- > 0 && rc == IMDR_OK;)
		rc = set_dir_meta(rs, rs->dirs[i].rel, rs->dirs[i].mode, rs->dirs[i].mtime_ns);
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

static int
restore_do(struct repo *r, const struct snapshot *s, const struct restore_opts *o,
    struct restore_result *ret)
{
	struct restore rs;
	int rc = IMDR_OK;

	memset(&rs, 0, sizeof(rs));
	memset(ret, 0, sizeof(*ret));
	rs.r = r;
	rs.o = o;
	rs.ev = &o->ev;
	rs.cur_fd = -1;
	if (mkdir(o->target, 0700) < 0 && errno != EEXIST)
		return err_set(err_from_errno(errno), "cannot create %s: %s", o->target, strerror(errno));
	rs.tfd = open(o->target, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (rs.tfd < 0)
		return err_set(err_from_errno(errno), "cannot open %s: %s", o->target, strerror(errno));
	if (o->ninclude == 0) {
		ev_total(rs.ev, s->files, s->bytes);
		rc = cat_walk(r, &s->root, "", walk_cb, &rs);
	}
	for (size_t i = 0; rc == IMDR_OK && i < o->ninclude; i++)
		rc = restore_include(&rs, s, o->include[i]);
	if (rs.cur_fd >= 0)
		close(rs.cur_fd);
	if (rc == IMDR_OK)
		rc = finish_dirs(&rs);
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
		free(rs.dirs[i].rel);
	free(rs.dirs);
	free(rs.cur);
	buf_free(&rs.b);
	return rc;
}

/* restore_run: the restore, then its record in the audit log, whether it
 * succeeded or not (engine/trail.h), so that every caller records it. */
int
restore_run(struct repo *r, const struct snapshot *s, const struct restore_opts *o,
    struct restore_result *ret)
{
	int rc = restore_do(r, s, o, ret);
	json_t *scope = json_object(), *inc = json_array();
	char abs[PATH_MAX], *t;

	trail_scope_snapshot(scope, s);
	t = audit_text(realpath(o->target, abs) ? abs : o->target);
	json_object_set_new(scope, "target", json_string(t));
	free(t);
	for (size_t i = 0; i < o->ninclude; i++) {
		t = audit_text(o->include[i]);
		json_array_append_new(inc, json_string(t));
		free(t);
	}
	json_object_set_new(scope, "include", inc);
	json_object_set_new(scope, "files", json_integer((json_int_t)ret->files));
	json_object_set_new(scope, "bytes", json_integer((json_int_t)ret->bytes));
	json_object_set_new(scope, "failed", json_integer((json_int_t)ret->failed));
	ret->audit_rc = trail_record(r, &o->ev, "restore", scope, rc, ret->audit_id);
	return rc;
}
