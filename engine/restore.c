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
 * File contents come from a pool of workers (below). */
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
#include "lib/fsutil.h"

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
	struct pool *pool;
	uint64_t files, bytes, failed;	/* updated by the workers too */
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

/* ---- file contents: a pool of workers ----
 *
 * The walker creates each file (in order, so folders exist first) and
 * queues one job per chunk; workers fetch, decrypt and write chunks at
 * their offsets, many files at once (a folder of small attachments is
 * as parallel as one large file). Whoever writes a file's last chunk
 * finishes it: mode, mtime, close — or, when a chunk could not be read,
 * removes it (never a half file that looks whole) and reports it. The
 * queue and the files open at once are bounded. */

#define POOL_QUEUE 1024
#define RUN_MAX 64		/* chunks read with one request, at most */
#define RUN_BYTES (4u << 20)	/* and bytes */
#define POOL_OPEN_FILES 256
#define POOL_MAX_THREADS 32

struct rfile {
	int fd, dfd;		/* the file, and its folder (to remove it) */
	char *name, *rel;
	void *cookie;		/* what pick gave, for landed */
	uint32_t mode;
	int64_t mtime_ns;
	uint32_t left;		/* chunks not yet written; under pool.mu */
	int rc;			/* first failure; under pool.mu */
	char *msg;
};

struct chunk_job {
	struct rfile *f;
	struct blob_ref ref;
	uint64_t off;
};

struct pool {
	struct restore *rs;
	pthread_mutex_t mu;
	pthread_cond_t cv_job, cv_space, cv_idle;
	struct chunk_job q[POOL_QUEUE];
	size_t head, count, busy, open_files;
	int stop;
	int fatal;		/* a write failed: stop everything */
	char *fatal_msg;
	pthread_t th[POOL_MAX_THREADS];
	int nthreads;
};

/* unreadable: a failure of the data, not of the target: the file is left
 * out and the restore goes on. */
static int
unreadable(int rc)
{
	return rc == IMDR_EAUTH || rc == IMDR_EFORMAT || rc == IMDR_ENET ||
	    rc == IMDR_ETIMEDOUT || rc == IMDR_ENOENT;
}

static void
set_fatal(struct pool *p, int rc, const char *msg)
{
	pthread_mutex_lock(&p->mu);
	if (!p->fatal) {
		p->fatal = rc;
		p->fatal_msg = xstrdup(msg);
	}
	pthread_cond_broadcast(&p->cv_space);
	pthread_mutex_unlock(&p->mu);
}

/* finish_file: the last chunk is in (or a chunk failed): set mode and
 * mtime and close, or remove the file and report it. */
static void
finish_file(struct pool *p, struct rfile *f)
{
	struct restore *rs = p->rs;
	struct timespec times[2];
	int rc = f->rc;

	if (rc == IMDR_OK && fchmod(f->fd, mode_of(rs, f->mode)) < 0)
		rc = fail_at(rs, errno, "chmod", f->rel);
	times[0] = times[1] = ts_of(f->mtime_ns);
	if (rc == IMDR_OK && futimens(f->fd, times) < 0)
		rc = fail_at(rs, errno, "set the mtime of", f->rel);
	if (rc == IMDR_OK && rs->o->landed)
		rs->o->landed(rs->o->landed_ctx, f->cookie, f->fd, f->dfd, f->name);
	if (close(f->fd) < 0 && rc == IMDR_OK)
		rc = fail_at(rs, errno, "write", f->rel);
	if (rc)
		unlinkat(f->dfd, f->name, 0);	/* never a half file that looks whole */
	if (rc && f->rc && unreadable(f->rc)) {
		ev_error(rs->ev, f->rel, f->msg ? f->msg : imdr_strerror(f->rc));
		__atomic_add_fetch(&rs->failed, 1, __ATOMIC_RELAXED);
	} else if (rc) {
		set_fatal(p, rc, f->msg ? f->msg : err_msg(rc));
	}
	__atomic_add_fetch(&rs->files, 1, __ATOMIC_RELAXED);
	ev_advance(rs->ev, 1, 0);
	close(f->dfd);
	pthread_mutex_lock(&p->mu);
	p->open_files--;
	pthread_cond_broadcast(&p->cv_space);
	pthread_mutex_unlock(&p->mu);
	free(f->name);
	free(f->rel);
	free(f->msg);
	free(f);
}

/* chunk_done: chunk j's plaintext (or the failure to read it) onto its
 * file; the file is finished when it was its last. */
static void
chunk_done(struct pool *p, const struct chunk_job *j, int rc, const uint8_t *pt,
    size_t n)
{
	struct rfile *f = j->f;
	int skip, last;

	pthread_mutex_lock(&p->mu);
	skip = f->rc != IMDR_OK || p->fatal;
	pthread_mutex_unlock(&p->mu);
	if (!skip && rc == IMDR_OK) {
		if (pwrite_full(f->fd, pt, n, j->off) < 0)
			rc = fail_at(p->rs, errno, "write", f->rel);
		else {
			ev_advance(p->rs->ev, 0, n);
			__atomic_add_fetch(&p->rs->bytes, n, __ATOMIC_RELAXED);
		}
	}
	pthread_mutex_lock(&p->mu);
	if (!skip && rc != IMDR_OK && f->rc == IMDR_OK) {
		f->rc = rc;
		f->msg = xstrdup(err_msg(rc));
	}
	if (skip && f->rc == IMDR_OK)
		f->rc = p->fatal;	/* stopping: the file is not whole */
	last = --f->left == 0;
	pthread_mutex_unlock(&p->mu);
	if (last)
		finish_file(p, f);
}

struct run_ctx {
	struct pool *p;
	const struct chunk_job *jobs;
	size_t handed;		/* chunks passed to chunk_done so far */
};

static int
run_blob(void *vctx, size_t i, int rc, const uint8_t *pt, size_t n)
{
	struct run_ctx *c = vctx;

	chunk_done(c->p, &c->jobs[i], rc, pt, n);
	c->handed = i + 1;
	return IMDR_OK;
}

/* run_jobs: n chunks that lie one after the other in one pack (often of
 * several small files), read with one request. A read that fails as a
 * whole fails each of its chunks. */
static void
run_jobs(struct pool *p, const struct chunk_job *jobs, size_t n)
{
	struct blob_ref refs[RUN_MAX] = { { { 0 }, { 0 }, 0, 0, 0 } };
	struct run_ctx c = { p, jobs, 0 };
	int rc;

	for (size_t i = 0; i < n; i++)
		refs[i] = jobs[i].ref;
	rc = repo_blobs_read(p->rs->r, BLOB_DATA, refs, n, run_blob, &c);
	if (rc) {
		/* the run's read failed before some chunks were handed out:
		 * read those one by one, so one bad range fails only its own */
		for (size_t i = c.handed; i < n; i++) {
			struct buf b = BUF_INIT;
			int one = repo_blob_read(p->rs->r, BLOB_DATA, &jobs[i].ref, &b);

			chunk_done(p, &jobs[i], one, b.data, b.len);
			buf_free(&b);
		}
	}
}

/* take_run: chunks from the queue's head, as long as each lies right after
 * the one before in its pack (up to RUN_MAX of them, RUN_BYTES). Caller
 * holds mu. */
static size_t
take_run(struct pool *p, struct chunk_job *out)
{
	size_t n = 0;
	uint64_t bytes = 0;

	while (p->count > 0 && n < RUN_MAX) {
		const struct chunk_job *j = &p->q[p->head];

		if (n > 0 && (!repo_blobs_adjacent(&out[n - 1].ref, &j->ref) ||
		    bytes + j->ref.length > RUN_BYTES))
			break;
		out[n++] = *j;
		bytes += j->ref.length;
		p->head = (p->head + 1) % POOL_QUEUE;
		p->count--;
	}
	return n;
}

static void *
worker(void *arg)
{
	struct pool *p = arg;
	struct chunk_job *run = xmalloc(RUN_MAX * sizeof(*run));

	pthread_mutex_lock(&p->mu);
	for (;;) {
		size_t n;

		while (p->count == 0 && !p->stop)
			pthread_cond_wait(&p->cv_job, &p->mu);
		if (p->count == 0)
			break;
		n = take_run(p, run);
		p->busy++;
		pthread_cond_broadcast(&p->cv_space);
		pthread_mutex_unlock(&p->mu);
		run_jobs(p, run, n);
		pthread_mutex_lock(&p->mu);
		if (--p->busy == 0 && p->count == 0)
			pthread_cond_broadcast(&p->cv_idle);
	}
	pthread_mutex_unlock(&p->mu);
	free(run);
	repo_thread_cleanup();
	return NULL;
}

static void
pool_start(struct pool *p, struct restore *rs)
{
	struct repo_traits tr;
	int n;

	memset(p, 0, sizeof(*p));
	p->rs = rs;
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->cv_job, NULL);
	pthread_cond_init(&p->cv_space, NULL);
	pthread_cond_init(&p->cv_idle, NULL);
	/* enough requests in flight to hide a disk's or a link's latency */
	repo_traits(rs->r, &tr);
	n = tr.remote ? tr.concurrency : 8;
	if (n > POOL_MAX_THREADS)
		n = POOL_MAX_THREADS;
	for (int i = 0; i < n; i++)
		if (pthread_create(&p->th[p->nthreads], NULL, worker, p) == 0)
			p->nthreads++;
}

/* pool_stop: wait for every queued chunk, then stop the workers; the
 * first write failure, if any. */
static int
pool_stop(struct pool *p)
{
	int rc;

	pthread_mutex_lock(&p->mu);
	while (p->count > 0 || p->busy > 0)
		pthread_cond_wait(&p->cv_idle, &p->mu);
	p->stop = 1;
	pthread_cond_broadcast(&p->cv_job);
	pthread_mutex_unlock(&p->mu);
	for (int i = 0; i < p->nthreads; i++)
		pthread_join(p->th[i], NULL);
	rc = p->fatal ? err_set(p->fatal, "%s", p->fatal_msg) : IMDR_OK;
	free(p->fatal_msg);
	pthread_mutex_destroy(&p->mu);
	pthread_cond_destroy(&p->cv_job);
	pthread_cond_destroy(&p->cv_space);
	pthread_cond_destroy(&p->cv_idle);
	return rc;
}

/* pool_add: queue chunk i of file f, blocking while the queue is full
 * (without threads, write it here). */
static void
pool_add(struct pool *p, struct rfile *f, const struct cat_node *node,
    const struct cat_entry *e, uint32_t i)
{
	struct chunk_job *j;

	if (p->nthreads == 0) {
		struct chunk_job one;

		one.f = f;
		cat_chunk(node, e, i, &one.ref, &one.off);
		run_jobs(p, &one, 1);
		return;
	}
	pthread_mutex_lock(&p->mu);
	while (p->count == POOL_QUEUE)
		pthread_cond_wait(&p->cv_space, &p->mu);
	j = &p->q[(p->head + p->count) % POOL_QUEUE];
	j->f = f;
	cat_chunk(node, e, i, &j->ref, &j->off);
	p->count++;
	pthread_cond_signal(&p->cv_job);
	pthread_mutex_unlock(&p->mu);
}

/* create_file: name in dfd, new, never through a symlink: a symlink in
 * the way is replaced (as where a folder goes), an existing file only with
 * force, a folder never. Open for reading too when it is to be landed. */
static int
create_file(struct restore *rs, int dfd, const char *name, const char *rel, int *ret_fd)
{
	int how = (rs->o->landed ? O_RDWR : O_WRONLY) | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW;

	for (int tries = 0; tries < 3; tries++) {
		int fd = openat(dfd, name, how, 0600), rc;

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

/* restore_file: create the file and hand its chunks to the pool. */
static int
restore_file(struct restore *rs, int dfd, const char *name, const char *rel,
    const struct cat_node *node, const struct cat_entry *e, void *cookie)
{
	struct pool *p = rs->pool;
	struct rfile *f;
	int fd = -1, rc;

	pthread_mutex_lock(&p->mu);
	while (p->open_files >= POOL_OPEN_FILES && !p->fatal)
		pthread_cond_wait(&p->cv_space, &p->mu);
	rc = p->fatal ? err_set(p->fatal, "%s", p->fatal_msg) : IMDR_OK;
	if (rc == IMDR_OK)
		p->open_files++;
	pthread_mutex_unlock(&p->mu);
	if (rc)
		return rc;
	rc = create_file(rs, dfd, name, rel, &fd);
	if (rc == IMDR_OK && (dfd = dup(dfd)) < 0) {
		rc = fail_at(rs, errno, "open the folder of", rel);
		close(fd);
	}
	if (rc) {
		pthread_mutex_lock(&p->mu);
		p->open_files--;
		pthread_mutex_unlock(&p->mu);
		return rc;
	}
	f = xcalloc(1, sizeof(*f));
	f->fd = fd;
	f->dfd = dfd;
	f->name = xstrdup(name);
	f->rel = xstrdup(rel);
	f->cookie = cookie;
	f->mode = e->mode;
	f->mtime_ns = e->mtime_ns;
	f->left = e->nchunks;
	if (e->nchunks == 0) {
		finish_file(p, f);
		return IMDR_OK;
	}
	for (uint32_t i = 0; i < e->nchunks; i++)
		pool_add(p, f, node, e, i);
	return IMDR_OK;
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
    const struct cat_entry *e, void *cookie)
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
		return restore_file(rs, dfd, name, rel, node, e, cookie);
	}
}

/* walk_cb: anything that stops the walker (the target is full,
 * unwritable, or a file exists) stops the restore; a file whose data
 * cannot be read is reported by the pool and left out. */
static int
walk_cb(void *ctx, const char *path, const struct cat_node *node,
    const struct cat_entry *e)
{
	struct restore *rs = ctx;

	if (ev_cancelled(rs->ev))
		return err_set(IMDR_EINTR, "interrupted");
	return restore_entry(rs, path, node, e, NULL);
}

/* pick_cb: a picked restore's walk: into every folder, restoring only
 * what o->pick chooses (folders are made as those need them). */
static int
pick_cb(void *ctx, const char *path, const struct cat_node *node,
    const struct cat_entry *e)
{
	struct restore *rs = ctx;
	void *cookie = NULL;

	if (ev_cancelled(rs->ev))
		return err_set(IMDR_EINTR, "interrupted");
	if (e->type == CAT_DIR || !rs->o->pick(rs->o->pick_ctx, path, node, e, &cookie))
		return 0;
	return restore_entry(rs, path, node, e, cookie);
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

static int
restore_do(struct repo *r, const struct snapshot *s, const struct restore_opts *o,
    struct restore_result *ret)
{
	struct restore rs;
	struct pool *pool;
	struct stat tst;
	int rc = IMDR_OK, prc;

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
	pool = xmalloc(sizeof(*pool));
	rs.pool = pool;
	pool_start(pool, &rs);
	if (o->pick) {
		rc = cat_walk(r, &s->root, "", pick_cb, &rs);
	} else if (o->ninclude == 0) {
		ev_total(rs.ev, s->files, s->bytes);
		rc = cat_walk(r, &s->root, "", walk_cb, &rs);
	}
	for (size_t i = 0; rc == IMDR_OK && i < o->ninclude; i++)
		rc = restore_include(&rs, s, o->include[i]);
	prc = pool_stop(pool);
	free(pool);
	if (rc == IMDR_OK)
		rc = prc;
	if (rc == IMDR_OK)
		rc = finish_dirs(&rs);
	close(rs.cur_fd);
	if (rc == IMDR_OK && o->ninclude == 0 && o->pick == NULL) {
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
	if (o->pick)
		json_object_set_new(scope, "picked", json_true());
	json_object_set_new(scope, "files", json_integer((json_int_t)ret->files));
	json_object_set_new(scope, "bytes", json_integer((json_int_t)ret->bytes));
	json_object_set_new(scope, "failed", json_integer((json_int_t)ret->failed));
	ret->audit_rc = trail_record(r, &o->ev, "restore", scope, rc, ret->audit_id);
	return rc;
}
