/* drill — see drill.h.
 *
 * One replica's drill: resolve and open the snapshot (timed as `open`),
 * read the first bytes of a conversation (`first message`), choose the
 * sample (a walk of the tree noting each file's size and a seeded hash of
 * its path: 16 bytes a file, then a second walk that keeps the paths and
 * chunk lists of the files chosen), restore it with restore_run into a
 * folder of our own below the scratch folder, verify what landed there,
 * and remove it. Without a sample the whole snapshot is restored and the
 * tree walked once more to verify, holding one folder at a time. */
#include "engine/drill.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "catalog/catalog.h"
#include "engine/manifest.h"
#include "engine/restore.h"
#include "engine/trail.h"
#include "lib/array.h"
#include "lib/buf.h"
#include "lib/err.h"
#include "lib/fsutil.h"
#include "lib/hash.h"
#include "lib/hex.h"
#include "lib/timefmt.h"
#include "repo/crypto.h"

static double
secs_since(int64_t t0)
{
	return (double)(time_mono_ns() - t0) / 1e9;
}

static uint64_t
mix64(uint64_t z)
{
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static uint64_t
path_key(uint64_t seed, const char *path)
{
	return mix64(hash_fnv_str(path) ^ mix64(seed));
}

/* ---- problems ---- */

/* Each verifying thread's buffers. */
struct vbufs {
	struct buf chunk;		/* a chunk's bytes read back */
	struct buf other;		/* the same range of the --against file */
};

/* Where the manifest stands, for the workers that read files back while
 * its thread loads it. */
enum { MANIFEST_PENDING, MANIFEST_GOOD, MANIFEST_BAD };

struct drill_ctx {
	struct repo *r;
	const struct drill_opts *o;
	struct drill_replica_result *res;
	struct vbufs vb;		/* the walking verifier's (no sample) */
	pthread_key_t vkey;		/* the restore's workers' (a sample) */
	char *target;			/* the restore's folder */
	/* manifest.json: its text and the index of its entries */
	int expect_manifest;		/* the snapshot has one */
	int mstate;			/* MANIFEST_*, atomic */
	struct buf mtext;
	struct manifest *man;
	int against_source;		/* compare source/... with against/... */
	/* the sample: a file is in it when its key is under threshold and
	 * it fits what is left of budget */
	uint64_t threshold, budget, sum;
	uint64_t passed_over;		/* chosen, but too large for what was left */
	char *fallback;			/* the fitting file with the lowest key */
	uint64_t fallback_key;
	pthread_mutex_t mu;		/* problems and counters, from threads */
};

static void
problem(struct drill_ctx *c, const char *what, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
problem(struct drill_ctx *c, const char *what, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	pthread_mutex_lock(&c->mu);
	c->res->mismatches++;
	if (c->res->nproblems < DRILL_PROBLEMS_KEPT)
		c->res->problems[c->res->nproblems++] = xasprintf("%s: %s", what, msg);
	pthread_mutex_unlock(&c->mu);
	ev_error(&c->o->ev, what, msg);
}

/* The restore's own errors (a file it could not restore, naming the blob
 * and the pack) are the drill's mismatches. */
static void
restore_error(void *ctx, const char *what, const char *msg)
{
	struct drill_ctx *c = ctx;

	pthread_mutex_lock(&c->mu);
	c->res->unreadable++;
	pthread_mutex_unlock(&c->mu);
	problem(c, what ? what : "restore", "could not be restored: %s", msg);
}

static void
restore_warn(void *ctx, const char *what, const char *msg)
{
	struct drill_ctx *c = ctx;

	ev_warn(&c->o->ev, what, msg);
}

static void
restore_advance(void *ctx, uint64_t files, uint64_t bytes)
{
	struct drill_ctx *c = ctx;

	ev_advance(&c->o->ev, files, bytes);
}

/* ---- the manifest ---- */

static int
read_file_from_repo(struct repo *r, const struct cat_node *node, const struct cat_entry *e,
    struct buf *out)
{
	struct buf b = BUF_INIT;
	int rc = IMDR_OK;

	out->len = 0;
	for (uint32_t i = 0; i < e->nchunks && rc == IMDR_OK; i++) {
		struct blob_ref ref;
		uint64_t off;

		cat_chunk(node, e, i, &ref, &off);
		rc = repo_blob_read(r, BLOB_DATA, &ref, &b);
		if (rc == IMDR_OK)
			buf_append(out, b.data, b.len);
	}
	buf_free(&b);
	return rc;
}

/* load_manifest: manifest.json of the snapshot, read from the repository
 * (not from the restore: it is what the files are checked against), and
 * indexed (engine/manifest.h: its entries are parsed as they are looked
 * up). */
static int
load_manifest(struct drill_ctx *c, const struct cat_node *root)
{
	const struct cat_entry *e = cat_node_find(root, "manifest.json", 13);
	size_t bad, first_bad;
	int rc;

	if (e == NULL || e->type != CAT_FILE)
		return IMDR_OK;
	rc = read_file_from_repo(c->r, root, e, &c->mtext);
	if (rc) {
		problem(c, "manifest.json", "cannot be read: %s", err_msg(rc));
		return IMDR_OK;
	}
	rc = manifest_index((const char *)c->mtext.data, c->mtext.len, &c->man, &bad, &first_bad);
	if (rc) {
		problem(c, "manifest.json", "not a manifest: %s", err_msg(rc));
		return IMDR_OK;
	}
	if (bad)
		problem(c, "manifest.json", "%zu entr%s not {path, size, sha256} (the first: entry %zu)",
		    bad, bad == 1 ? "y is" : "ies are", first_bad);
	c->res->has_manifest = 1;
	return IMDR_OK;
}

/* ---- verifying one restored file ---- */

static int
pread_all(int fd, void *p, size_t n, uint64_t off, size_t *ret_n)
{
	size_t got = 0;

	while (got < n) {
		ssize_t k = pread(fd, (char *)p + got, n - got, (off_t)(off + got));

		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			return -1;
		if (k == 0)
			break;
		got += (size_t)k;
	}
	*ret_n = got;
	return 0;
}

/* against_path: the file below --against that path corresponds to, or
 * NULL when it is not compared (outside source/ of a chat snapshot). */
static char *
against_path(const struct drill_ctx *c, const char *path)
{
	if (c->o->against == NULL)
		return NULL;
	if (c->against_source) {
		if (strncmp(path, "source/", 7) != 0)
			return NULL;
		path += 7;
	}
	return xasprintf("%s/%s", c->o->against, path);
}

/* A file to verify: its size and chunks (in order, back to back), and
 * what reading it back as it landed found (a sample's files are read
 * back by the restore's workers the moment each is whole, while the
 * restore goes on and the bytes are still in the page cache; the
 * verdict against the manifest waits for the manifest). */
struct vfile {
	const char *path;
	uint64_t size;
	uint32_t nchunks;
	struct blob_ref *refs;
	int read_back;			/* read back as it landed */
	int nprob;			/* problems said against it */
	int has_digest;			/* its SHA-256 is in digest, not yet judged */
	uint8_t digest[32];
	int removed;			/* from the scratch folder, once read back */
	int compared, differ;		/* --against */
};

#define VPROB(...) do { problem(c, __VA_ARGS__); f->nprob++; } while (0)

/* read_back: read the restored file f back from fd and check what needs
 * no manifest: its size, every chunk's keyed id (unless with_sha: then
 * its SHA-256 goes into f->digest for judge, which says as much as the
 * chunks' ids and costs half), and the --against file. Problems are
 * said and counted in f->nprob. */
static void
read_back(struct drill_ctx *c, struct vfile *f, int fd, int with_sha, struct vbufs *vb)
{
	const char *path = f->path;
	char *apath = against_path(c, path);
	struct crypto_sha256_ctx *sha = NULL;
	uint8_t id[CRYPTO_ID_LEN];
	uint64_t off = 0;
	struct stat st;
	int afd = -1;

	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || (uint64_t)st.st_size != f->size) {
		VPROB(path, "restored with %lld bytes, the snapshot has %llu",
		    (long long)st.st_size, (unsigned long long)f->size);
		goto out;
	}
	if (apath) {
		afd = open(apath, O_RDONLY | O_CLOEXEC);
		if (afd < 0) {
			VPROB(path, "not in %s: %s", c->o->against, strerror(errno));
		} else if (fstat(afd, &st) != 0 || (uint64_t)st.st_size != f->size) {
			VPROB(path, "differs from %s (%lld bytes there, %llu in the snapshot)", apath,
			    (long long)st.st_size, (unsigned long long)f->size);
			close(afd);
			afd = -1;
		}
		f->compared = 1;
	}
	if (with_sha)
		sha = crypto_sha256_begin();
	for (uint32_t i = 0; i < f->nchunks; i++) {
		struct blob_ref ref = f->refs[i];
		size_t got;

		buf_reserve(&vb->chunk, ref.raw_length);
		if (pread_all(fd, vb->chunk.data, ref.raw_length, off, &got) < 0 || got != ref.raw_length) {
			VPROB(path, "cannot read back bytes %llu..%llu of the restored file: %s",
			    (unsigned long long)off, (unsigned long long)(off + ref.raw_length),
			    got != ref.raw_length ? "short" : strerror(errno));
			break;
		}
		if (sha) {
			crypto_sha256_update(sha, vb->chunk.data, got);
		} else {
			repo_blob_id(c->r, vb->chunk.data, got, id);
			if (!crypto_memeq(id, ref.id, CRYPTO_ID_LEN)) {
				VPROB(path, "bytes %llu..%llu differ from what was backed up (chunk id "
				    "mismatch)", (unsigned long long)off, (unsigned long long)(off + got));
				break;
			}
		}
		if (afd >= 0 && !f->differ) {
			size_t agot;

			buf_reserve(&vb->other, got);
			if (pread_all(afd, vb->other.data, got, off, &agot) < 0 || agot != got ||
			    memcmp(vb->other.data, vb->chunk.data, got) != 0)
				f->differ = 1;
		}
		off += got;
	}
	if (sha) {
		crypto_sha256_end(sha, f->digest);
		f->has_digest = f->nprob == 0;
	}
	if (f->differ)
		VPROB(path, "differs from %s", apath);
out:
	if (afd >= 0)
		close(afd);
	free(apath);
}

/* judge: the verdict on a file read back: its SHA-256 against the
 * manifest's (loaded by now), then the counts. */
static void
judge(struct drill_ctx *c, struct vfile *f)
{
	int checked = 0;
	char hex[65], msha[65];
	uint64_t msize;

	if (f->has_digest) {
		switch (manifest_lookup(c->man, f->path, &msize, msha)) {
		case IMDR_OK:
			hex_encode(f->digest, 32, hex);
			if (strcmp(hex, msha) != 0)
				VPROB(f->path, "SHA-256 %s, the manifest says %s", hex, msha);
			else if (msize != f->size)
				VPROB(f->path, "%llu bytes, the manifest says %llu",
				    (unsigned long long)f->size, (unsigned long long)msize);
			else
				checked = 1;
			break;
		case IMDR_ENOENT:
			VPROB(f->path, "not in the snapshot's manifest.json");
			break;
		default:
			VPROB(f->path, "its entry in manifest.json is not {path, size, sha256}");
			break;
		}
		f->has_digest = 0;
	}
	pthread_mutex_lock(&c->mu);
	c->res->against_compared += f->compared;
	c->res->against_differ += f->differ;
	c->res->manifest_checked += checked;
	if (f->nprob == 0) {	/* nothing said against it */
		c->res->files++;
		c->res->bytes += f->size;
	}
	pthread_mutex_unlock(&c->mu);
}

/* with_sha: f is held to the manifest's SHA-256 (a manifest that is
 * loaded, or may be yet: mstate). */
static int
with_sha(const struct drill_ctx *c, const struct vfile *f, int mstate)
{
	return c->expect_manifest && mstate != MANIFEST_BAD && strcmp(f->path, "manifest.json") != 0;
}

/* verify_file: f, not read back yet (or only to a SHA-256 that the
 * manifest could not judge after all), from the restored file at its
 * path. The manifest is loaded. */
static void
verify_file(struct drill_ctx *c, struct vfile *f, struct vbufs *vb)
{
	char *full = xasprintf("%s/%s", c->target, f->path);
	int fd = open(full, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);

	free(full);
	f->has_digest = 0;
	if (fd < 0) {
		/* a file the restore could not write was reported by it */
		if (errno != ENOENT)
			VPROB(f->path, "cannot open the restored file: %s", strerror(errno));
		return;
	}
	read_back(c, f, fd, with_sha(c, f, c->mstate), vb);
	close(fd);
	judge(c, f);
}

/* ---- choosing the sample ----
 *
 * A file is chosen when the seeded hash of its path falls under the
 * sample's share of the hash space (each file with that probability,
 * the same files for the same seed), unless it is larger than what is left
 * of the byte budget (the share of the snapshot's bytes): so a sample of
 * 5 % holds about 5 % of the files and at most 5 % of the bytes, and one
 * huge file cannot make it a full restore. It happens in the restore's
 * own walk of the tree. */

/* The chosen files, with what verifying them needs: their paths for the
 * restore, their sizes and chunk references. Each is allocated alone:
 * the restore's workers hold it while the walk adds more. */
struct walk_pick {
	struct drill_ctx *c;
	struct vfile **v;
	size_t n, cap;
};

static void
fill_refs(const struct cat_node *node, const struct cat_entry *e, struct vfile *f)
{
	f->size = e->size;
	f->nchunks = e->nchunks;
	f->refs = xmalloc(((size_t)e->nchunks + 1) * sizeof(*f->refs));
	for (uint32_t i = 0; i < e->nchunks; i++) {
		uint64_t off;

		cat_chunk(node, e, i, &f->refs[i], &off);
	}
}

/* pick: restore_opts.pick of a sample: a chosen file is restored, and
 * what verifying it needs is kept. */
static int
pick(void *ctx, const char *path, const struct cat_node *node, const struct cat_entry *e,
    void **ret_file)
{
	struct walk_pick *w = ctx;
	struct drill_ctx *c = w->c;
	struct vfile *f;
	uint64_t key;

	if (e->type != CAT_FILE)
		return 0;
	key = path_key(c->o->seed, path);
	if (e->size <= c->budget && (c->fallback == NULL || key < c->fallback_key)) {
		free(c->fallback);
		c->fallback = xstrdup(path);
		c->fallback_key = key;
	}
	if (key > c->threshold)
		return 0;
	if (c->sum + e->size > c->budget) {
		c->passed_over++;
		return 0;
	}
	c->sum += e->size;
	f = xcalloc(1, sizeof(*f));
	*ARRAY_PUSH(w->v, w->n, w->cap) = f;
	f->path = xstrdup(path);
	fill_refs(node, e, f);
	*ret_file = f;
	return 1;
}

static void
picks_free(struct walk_pick *w)
{
	for (size_t i = 0; i < w->n; i++) {
		free((char *)w->v[i]->path);
		free(w->v[i]->refs);
		free(w->v[i]);
	}
	free(w->v);
	w->v = NULL;
	w->n = w->cap = 0;
}

/* Without a sample: every file, verified as the walk meets it. */
static int
verify_cb(void *ctx, const char *path, const struct cat_node *node, const struct cat_entry *e)
{
	struct drill_ctx *c = ctx;
	struct vfile f;

	if (ev_cancelled(&c->o->ev))
		return err_set(IMDR_EINTR, "interrupted");
	if (e->type != CAT_FILE)
		return 0;
	memset(&f, 0, sizeof(f));
	f.path = path;
	fill_refs(node, e, &f);
	verify_file(c, &f, &c->vb);
	free(f.refs);
	return 0;
}

/* ---- first message ---- */

struct first_file {
	char path[512];
	struct blob_ref ref;
	int found;
};

static int
first_cb(void *ctx, const char *path, const struct cat_node *node, const struct cat_entry *e)
{
	struct first_file *ff = ctx;
	uint64_t off;

	if (e->type != CAT_FILE || e->nchunks == 0)
		return 0;
	snprintf(ff->path, sizeof(ff->path), "%s", path);
	cat_chunk(node, e, 0, &ff->ref, &off);
	ff->found = 1;
	return 1;
}

/* first_message: the first chunk of the first conversation's
 * messages.jsonl (else of the first file of the snapshot), read from the
 * repository as a mount would. */
static int
first_message(struct drill_ctx *c, const struct snapshot *s, const struct cat_node *root)
{
	const struct cat_entry *conv = cat_node_find(root, "conversations", 13);
	struct first_file ff;
	struct buf b = BUF_INIT;
	int rc = IMDR_OK;

	memset(&ff, 0, sizeof(ff));
	if (conv && conv->type == CAT_DIR) {
		struct cat_node *cn = NULL, *mn = NULL;

		rc = cat_node_load(c->r, &conv->subtree, &cn);
		for (uint32_t i = 0; rc == IMDR_OK && i < cat_node_count(cn) && !ff.found; i++) {
			const struct cat_entry *d = cat_node_entry(cn, i), *m;

			if (d->type != CAT_DIR)
				continue;
			rc = cat_node_load(c->r, &d->subtree, &mn);
			if (rc == IMDR_OK && (m = cat_node_find(mn, "messages.jsonl", 14)) != NULL &&
			    m->type == CAT_FILE && m->nchunks > 0) {
				uint64_t off;

				snprintf(ff.path, sizeof(ff.path), "conversations/%s/messages.jsonl", d->name);
				cat_chunk(mn, m, 0, &ff.ref, &off);
				ff.found = 1;
			}
			cat_node_free(mn);
			mn = NULL;
		}
		cat_node_free(cn);
	}
	if (rc == IMDR_OK && !ff.found) {
		rc = cat_walk(c->r, &s->root, "", first_cb, &ff);
		if (rc == 1)
			rc = IMDR_OK;
	}
	if (rc == IMDR_OK && ff.found) {
		rc = repo_blob_read(c->r, BLOB_DATA, &ff.ref, &b);
		if (rc)
			problem(c, ff.path, "its first chunk cannot be read: %s", err_msg(rc));
		snprintf(c->res->first_path, sizeof(c->res->first_path), "%s", ff.path);
	}
	buf_free(&b);
	return rc == IMDR_OK || ff.found ? IMDR_OK : rc;
}

/* ---- scratch ---- */

static int
chmod_dirs(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)ftw;
	if (flag == FTW_D && (st->st_mode & 0700) != 0700)
		chmod(path, 0700);
	return 0;
}

static int
rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	if (flag == FTW_DP)
		rmdir(path);
	else
		unlink(path);
	return 0;
}

static void
remove_tree(const char *dir)
{
	/* restored folders may be read-only: open them up first */
	nftw(dir, chmod_dirs, 16, FTW_PHYS);
	nftw(dir, rm_one, 16, FTW_PHYS | FTW_DEPTH);
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* remove_sample: what a sample's restore left: its files went as they
 * were verified, so only the folders its paths pass through are left
 * (removed deepest first: in reverse name order a folder comes after
 * everything below it), then the restore's folder and scratch itself: a
 * few hundred rmdirs where walking the tree twice costs thousands of
 * calls. 0, or -1 when something was in the way (remove_tree takes what
 * is left). */
static int
remove_sample(const struct drill_ctx *c, const struct walk_pick *picks, const char *scratch)
{
	char **dirs = NULL, *full;
	size_t n = 0, cap = 0;
	int rc = 0;

	for (size_t i = 0; i < picks->n; i++) {
		const char *path = picks->v[i]->path;

		for (const char *sl = strchr(path, '/'); sl; sl = strchr(sl + 1, '/'))
			*ARRAY_PUSH(dirs, n, cap) = xstrndup(path, (size_t)(sl - path));
	}
	if (n > 1)
		qsort(dirs, n, sizeof(*dirs), cmp_str);
	for (size_t i = n; i-- > 0;) {
		if (rc == 0 && (i + 1 == n || strcmp(dirs[i], dirs[i + 1]) != 0)) {
			full = xasprintf("%s/%s", c->target, dirs[i]);
			rc = rmdir(full) == 0 ? 0 : -1;
			free(full);
		}
	}
	for (size_t i = 0; i < n; i++)
		free(dirs[i]);
	free(dirs);
	if (rc == 0 && (rmdir(c->target) != 0 || rmdir(scratch) != 0))
		rc = -1;
	return rc;
}

static char *
make_scratch(const struct drill_opts *o, struct drill_replica_result *res)
{
	const char *base = o->scratch;
	char *dir;

	if (base == NULL && ((base = getenv("TMPDIR")) == NULL || *base == '\0'))
		base = "/var/tmp";
	if (mkdir_p(base) < 0) {
		snprintf(res->error, sizeof(res->error), "cannot make the scratch folder %s: %s", base,
		    strerror(errno));
		return NULL;
	}
	dir = xasprintf("%s/imdr-drill-XXXXXX", base);
	if (mkdtemp(dir) == NULL) {
		snprintf(res->error, sizeof(res->error), "cannot make a folder in %s: %s", base,
		    strerror(errno));
		free(dir);
		return NULL;
	}
	return dir;
}

/* ---- one replica ---- */

/* The manifest is read and parsed by a thread of its own while the
 * sample is restored. */
struct mload {
	struct drill_ctx *c;
	const struct cat_node *root;
	int rc;
};

static void *
manifest_main(void *arg)
{
	struct mload *m = arg;
	int64_t t = time_mono_ns();

	m->rc = load_manifest(m->c, m->root);
	m->c->res->manifest_secs = secs_since(t);
	__atomic_store_n(&m->c->mstate, m->c->res->has_manifest ? MANIFEST_GOOD : MANIFEST_BAD,
	    __ATOMIC_RELEASE);
	repo_thread_cleanup();
	return NULL;
}

/* Reading a sample back as it lands: the restore's workers' buffers,
 * freed as each worker ends. */
static void
vbufs_free(void *v)
{
	struct vbufs *vb = v;

	if (vb == NULL)
		return;
	buf_free(&vb->chunk);
	buf_free(&vb->other);
	free(vb);
}

/* landed: restore_opts.landed of a sample: the file is read back at once
 * (from the page cache, most likely, as later it would be from the disk),
 * and removed when nothing more needs it: the verdict against the
 * manifest needs only its SHA-256 then, unless the manifest is still
 * loading (should it turn out unusable, the file is read again for its
 * chunks' ids). */
static void
landed(void *ctx, void *file, int fd, int dfd, const char *name)
{
	struct drill_ctx *c = ctx;
	struct vfile *f = file;
	int mstate = __atomic_load_n(&c->mstate, __ATOMIC_ACQUIRE);
	struct vbufs *vb;

	if (f == NULL || ev_cancelled(&c->o->ev))
		return;		/* read back after the restore */
	if ((vb = pthread_getspecific(c->vkey)) == NULL) {
		vb = xcalloc(1, sizeof(*vb));
		pthread_setspecific(c->vkey, vb);
	}
	read_back(c, f, fd, with_sha(c, f, mstate), vb);
	f->read_back = 1;
	if (!c->o->keep && (!f->has_digest || mstate == MANIFEST_GOOD))
		f->removed = unlinkat(dfd, name, 0) == 0;
}

/* needs_reading: f was not read back as it landed (restored otherwise,
 * or the drill was stopped), or only to a SHA-256 the manifest could not
 * judge after all. */
static int
needs_reading(const struct drill_ctx *c, const struct vfile *f)
{
	return !f->read_back || (f->has_digest && c->mstate != MANIFEST_GOOD);
}

/* Verifying a sample, once restored and the manifest in: threads take
 * the next file until none is left, reading back those that need it,
 * and remove what is left of it (the folders go last). */
#define VERIFY_THREADS 4

struct vpool {
	struct drill_ctx *c;
	const struct walk_pick *picks;
	size_t next;
};

static void *
verify_main(void *arg)
{
	struct vpool *vp = arg;
	struct vbufs vb = { BUF_INIT, BUF_INIT };

	for (;;) {
		size_t i = __atomic_fetch_add(&vp->next, 1, __ATOMIC_RELAXED);
		struct vfile *f;

		if (i >= vp->picks->n || ev_cancelled(&vp->c->o->ev))
			break;
		f = vp->picks->v[i];
		if (needs_reading(vp->c, f))
			verify_file(vp->c, f, &vb);
		else
			judge(vp->c, f);
		if (!vp->c->o->keep && !f->removed) {
			char *full = xasprintf("%s/%s", vp->c->target, f->path);

			unlink(full);
			free(full);
		}
	}
	buf_free(&vb.chunk);
	buf_free(&vb.other);
	repo_thread_cleanup();
	return NULL;
}

static void
verify_picks(struct drill_ctx *c, const struct walk_pick *picks)
{
	struct vpool vp = { c, picks, 0 };
	pthread_t th[VERIFY_THREADS];
	size_t work = 0;	/* files to read or remove, not only to judge */
	int n = 0;

	for (size_t i = 0; i < picks->n; i++)
		work += needs_reading(c, picks->v[i]) || (!c->o->keep && !picks->v[i]->removed);
	for (int i = 0; i < VERIFY_THREADS && (size_t)i < work; i++)
		if (pthread_create(&th[n], NULL, verify_main, &vp) == 0)
			n++;
	if (n == 0)
		verify_main(&vp);
	for (int i = 0; i < n; i++)
		pthread_join(th[i], NULL);
}

/* restore_fallback: a sample that chose nothing (a small snapshot, a
 * small share) restores the fitting file with the lowest key instead. */
static int
restore_fallback(struct drill_ctx *c, const struct snapshot *s, struct walk_pick *picks,
    struct restore_opts *ro, struct restore_result *rr)
{
	struct cat_node *node = NULL;
	const struct cat_entry *e = NULL;
	const char *inc[1] = { c->fallback };
	struct vfile *f;
	int rc = cat_resolve(c->r, &s->root, c->fallback, &node, &e);

	if (rc == IMDR_OK && e) {
		f = xcalloc(1, sizeof(*f));
		*ARRAY_PUSH(picks->v, picks->n, picks->cap) = f;
		f->path = xstrdup(c->fallback);
		fill_refs(node, e, f);
		ro->pick = NULL;
		ro->include = inc;
		ro->ninclude = 1;
		rc = restore_run(c->r, s, ro, rr);
		ro->include = NULL;
		ro->ninclude = 0;
	}
	cat_node_free(node);
	return rc;
}

static int
drill_one(struct repo *r, const struct drill_opts *o, struct drill_replica_result *res)
{
	struct drill_ctx c;
	struct walk_pick picks;
	struct snapshot *s = NULL;
	struct cat_node *root = NULL;
	struct restore_opts ro;
	struct restore_result rr;
	struct mload ml;
	pthread_t mthread;
	int mstarted = 0;
	char *scratch = NULL;
	int64_t t0 = time_mono_ns(), t;
	int rc;

	memset(&c, 0, sizeof(c));
	memset(&picks, 0, sizeof(picks));
	memset(&rr, 0, sizeof(rr));
	pthread_mutex_init(&c.mu, NULL);
	if (pthread_key_create(&c.vkey, vbufs_free) != 0) {
		pthread_mutex_destroy(&c.mu);
		snprintf(res->error, sizeof(res->error), "cannot make a thread key");
		return err_set(IMDR_ENOMEM, "cannot make a thread key");
	}
	c.r = r;
	c.o = o;
	c.res = res;
	picks.c = &c;
	res->rto_met = -1;

	/* open: what a mount does before it answers */
	rc = snapshot_resolve(r, o->source, o->snapshot ? o->snapshot : "latest", &s);
	if (rc == IMDR_OK)
		rc = cat_node_load(r, &s->root, &root);
	if (rc) {
		snprintf(res->error, sizeof(res->error), "%s", err_msg(rc));
		goto out;
	}
	snprintf(res->snapshot, sizeof(res->snapshot), "%s", s->id);
	snprintf(res->source, sizeof(res->source), "%s", s->source ? s->source : "");
	res->snapshot_ns = s->time_ns;
	res->files_total = s->files;
	res->bytes_total = s->bytes;
	res->open_secs = secs_since(t0);
	{
		const struct cat_entry *src = cat_node_find(root, "source", 6);

		const struct cat_entry *man = cat_node_find(root, "manifest.json", 13);

		c.against_source = src && src->type == CAT_DIR && s->format &&
		    strcmp(s->format, "files") != 0 && strcmp(s->format, "canonical") != 0;
		c.expect_manifest = man && man->type == CAT_FILE;
	}
	/* the manifest loads (a few MB of JSON to parse) while the first
	 * message is read and the files are restored */
	ml.c = &c;
	ml.root = root;
	ml.rc = IMDR_OK;
	if (pthread_create(&mthread, NULL, manifest_main, &ml) == 0)
		mstarted = 1;
	else
		manifest_main(&ml);

	rc = first_message(&c, s, root);
	res->first_message_secs = secs_since(t0);
	if (rc) {
		snprintf(res->error, sizeof(res->error), "%s", err_msg(rc));
		goto out;
	}
	if ((scratch = make_scratch(o, res)) == NULL) {
		rc = IMDR_EIO;
		goto out;
	}
	c.target = xasprintf("%s/restore", scratch);

	/* the restore */
	memset(&ro, 0, sizeof(ro));
	ro.target = c.target;
	if (o->sample_pct > 0) {
		c.threshold = o->sample_pct >= 100 ? UINT64_MAX :
		    (uint64_t)((double)UINT64_MAX * (o->sample_pct / 100.0));
		c.budget = (uint64_t)((double)s->bytes * o->sample_pct / 100.0);
		ro.pick = pick;
		ro.pick_ctx = &picks;
		ro.landed = landed;
		ro.landed_ctx = &c;
		ev_total(&o->ev, 0, c.budget);
	} else {
		ev_total(&o->ev, s->files, s->bytes);
	}
	ro.ev.error = restore_error;
	ro.ev.warn = restore_warn;
	ro.ev.advance = restore_advance;
	ro.ev.ctx = &c;
	ro.ev.cancel = o->ev.cancel;
	t = time_mono_ns();
	rc = restore_run(r, s, &ro, &rr);
	if ((rc == IMDR_OK || rc == IMDR_EAUTH) && o->sample_pct > 0 && picks.n == 0 && c.fallback)
		rc = restore_fallback(&c, s, &picks, &ro, &rr);
	res->restore_secs = secs_since(t);
	vbufs_free(pthread_getspecific(c.vkey));	/* the walker's: empty files land there */
	pthread_setspecific(c.vkey, NULL);
	if (rc == IMDR_EAUTH)
		rc = IMDR_OK;	/* files it could not restore are mismatches, counted */
	if (rc) {
		snprintf(res->error, sizeof(res->error), "restore into %s: %s", c.target, err_msg(rc));
		goto out;
	}
	if (mstarted) {
		pthread_join(mthread, NULL);
		mstarted = 0;
	}
	if (ml.rc) {
		rc = ml.rc;
		snprintf(res->error, sizeof(res->error), "manifest.json: %s", err_msg(rc));
		goto out;
	}

	/* verify */
	t = time_mono_ns();
	if (o->sample_pct > 0) {
		verify_picks(&c, &picks);
		if (ev_cancelled(&o->ev))
			rc = err_set(IMDR_EINTR, "interrupted");
	} else {
		rc = cat_walk(r, &s->root, "", verify_cb, &c);
	}
	res->verify_secs = secs_since(t);
	if (rc) {
		snprintf(res->error, sizeof(res->error), "%s", err_msg(rc));
		goto out;
	}
	res->throughput = res->restore_secs > 0 ? (double)rr.bytes / res->restore_secs : 0;
	{
		double scale = 1.0;

		if (o->sample_pct > 0 && rr.files > 0) {
			double by_bytes = rr.bytes ? (double)res->bytes_total / (double)rr.bytes : 1.0;
			double by_files = (double)res->files_total / (double)rr.files;

			scale = by_bytes > by_files ? by_bytes : by_files;
		}
		res->estimate_secs = o->setup_secs + res->open_secs + res->restore_secs * scale;
	}
	if (o->rto_secs > 0)
		res->rto_met = res->estimate_secs <= (double)o->rto_secs;
	res->ok = res->mismatches == 0;
out:
	if (mstarted)
		pthread_join(mthread, NULL);
	if (scratch && o->keep) {
		snprintf(res->restore_dir, sizeof(res->restore_dir), "%s", c.target ? c.target : scratch);
	} else if (scratch) {
		t = time_mono_ns();
		if (o->sample_pct <= 0 || c.target == NULL || remove_sample(&c, &picks, scratch) != 0)
			remove_tree(scratch);
		res->cleanup_secs = secs_since(t);
	}
	free(scratch);
	free(c.target);
	picks_free(&picks);
	free(c.fallback);
	manifest_free(c.man);
	buf_free(&c.mtext);
	buf_free(&c.vb.chunk);
	buf_free(&c.vb.other);
	pthread_key_delete(c.vkey);
	pthread_mutex_destroy(&c.mu);
	cat_node_free(root);
	snapshot_free(s);
	return rc;
}

/* ---- all replicas ---- */

int
drill_run(struct repo *r, const struct drill_opts *o0, struct drill_result *ret)
{
	struct drill_opts o = *o0;
	int n = repo_replica_count(r), first = 0, last = n - 1, rc = IMDR_OK;
	int64_t t0 = time_mono_ns();
	json_t *scope, *reps;

	memset(ret, 0, sizeof(*ret));
	ret->time_ns = time_now_ns();
	ret->rto_met = -1;
	if (o.sample_pct < 0 || o.sample_pct > 100)
		return err_set(IMDR_EINVAL, "--sample %g%%: a share from 0 to 100", o.sample_pct);
	if (o.sample_pct >= 100)
		o.sample_pct = 0;
	while (o.sample_pct > 0 && o.seed == 0) {
		crypto_random(&o.seed, sizeof(o.seed));
		o.seed &= (uint64_t)INT64_MAX;	/* a JSON integer, to give back */
	}
	ret->sample_pct = o.sample_pct;
	ret->seed = o.seed;
	if (o.replica >= n)
		return err_set(IMDR_EINVAL, "replica %d: %s has %d replica%s", o.replica + 1, repo_url(r),
		    n, n == 1 ? "" : "s");
	if (o.replica >= 0)
		first = last = o.replica;
	ret->ok = 1;
	for (int i = first; i <= last && !ev_cancelled(&o.ev); i++) {
		struct drill_replica_result *res = &ret->v[ret->n++];
		struct repo *rr = r;
		struct repo_replica info;
		int orc;

		repo_replica_info(r, i, &info);
		snprintf(res->url, sizeof(res->url), "%s", info.url);
		snprintf(res->kind, sizeof(res->kind), "%s", info.kind);
		if (n > 1 && (orc = repo_replica_open(r, i, &rr)) != IMDR_OK) {
			snprintf(res->error, sizeof(res->error), "%s", err_msg(orc));
			res->rto_met = -1;
			ret->ok = 0;
			ev_error(&o.ev, info.url, res->error);
			if (rc == IMDR_OK)
				rc = orc;
			continue;
		}
		orc = drill_one(rr, &o, res);
		if (rr != r)
			repo_free(rr);
		if (orc) {
			ev_error(&o.ev, res->url, res->error);
			if (rc == IMDR_OK)
				rc = err_set(orc, "%s: %s", res->url, res->error);
		}
		if (!res->ok)
			ret->ok = 0;
		if (res->estimate_secs > ret->worst_estimate_secs)
			ret->worst_estimate_secs = res->estimate_secs;
		if (res->rto_met >= 0)
			ret->rto_met = ret->rto_met == 0 ? 0 : res->rto_met;
	}
	if (ev_cancelled(&o.ev) && rc == IMDR_OK)
		rc = err_set(IMDR_EINTR, "interrupted");
	if (rc == IMDR_OK && !ret->ok) {
		uint64_t m = 0;

		for (int i = 0; i < ret->n; i++)
			m += ret->v[i].mismatches;
		rc = err_set(IMDR_EAUTH, "the drill found %llu file%s damaged, missing or different "
		    "(named above)", (unsigned long long)m, m == 1 ? "" : "s");
	}
	if (rc == IMDR_OK && ret->rto_met == 0) {
		char want[32];

		duration_format(o.rto_secs, want);
		rc = err_set(IMDR_ETIMEDOUT, "a full restore would take about %.0f s, more than the "
		    "RTO of %s", ret->worst_estimate_secs, want);
	}
	ret->seconds = secs_since(t0);

	scope = json_object();
	reps = json_array();
	for (int i = 0; i < ret->n; i++) {
		const struct drill_replica_result *res = &ret->v[i];
		json_t *ro = json_object();

		json_object_set_new(ro, "replica", json_string(res->url));
		json_object_set_new(ro, "ok", json_boolean(res->ok));
		json_object_set_new(ro, "files", json_integer((json_int_t)res->files));
		json_object_set_new(ro, "bytes", json_integer((json_int_t)res->bytes));
		json_object_set_new(ro, "mismatches", json_integer((json_int_t)res->mismatches));
		json_object_set_new(ro, "estimate_seconds", json_real(res->estimate_secs));
		json_array_append_new(reps, ro);
		if (i == 0 && res->snapshot[0]) {
			char when[40];

			time_format(res->snapshot_ns, 0, when);
			json_object_set_new(scope, "snapshot", json_string(res->snapshot));
			json_object_set_new(scope, "source", json_string(res->source));
			json_object_set_new(scope, "snapshot_time", json_string(when));
		}
	}
	json_object_set_new(scope, "replicas", reps);
	json_object_set_new(scope, "sample_pct", json_real(ret->sample_pct));
	if (o.rto_secs)
		json_object_set_new(scope, "rto_seconds", json_integer((json_int_t)o.rto_secs));
	json_object_set_new(scope, "estimate_seconds", json_real(ret->worst_estimate_secs));
	ret->audit_rc = trail_record(r, &o.ev, "drill", scope, rc, ret->audit_id);
	return rc;
}

void
drill_result_free(struct drill_result *ret)
{
	for (int i = 0; i < ret->n; i++)
		for (size_t k = 0; k < ret->v[i].nproblems; k++)
			free(ret->v[i].problems[k]);
	memset(ret, 0, sizeof(*ret));
}

json_t *
drill_report_json(const struct drill_opts *o, const struct drill_result *res)
{
	json_t *rep = json_object(), *reps = json_array();
	char when[40];

	time_format(res->time_ns, 0, when);
	json_object_set_new(rep, "version", json_integer(1));
	json_object_set_new(rep, "time", json_string(when));
	json_object_set_new(rep, "ok", json_boolean(res->ok && res->rto_met != 0));
	json_object_set_new(rep, "verified_ok", json_boolean(res->ok));
	json_object_set_new(rep, "rto_met", res->rto_met < 0 ? json_null() : json_boolean(res->rto_met));
	if (o->rto_secs)
		json_object_set_new(rep, "rto_seconds", json_integer((json_int_t)o->rto_secs));
	json_object_set_new(rep, "sample", res->sample_pct > 0 ? json_pack("{s:f,s:s,s:I}",
	    "percent", res->sample_pct, "by", "files, at most that share of the bytes", "seed", (json_int_t)res->seed) :
	    json_null());
	json_object_set_new(rep, "estimate_seconds", json_real(res->worst_estimate_secs));
	json_object_set_new(rep, "setup_seconds", json_real(o->setup_secs));
	json_object_set_new(rep, "seconds", json_real(res->seconds));
	if (o->against)
		json_object_set_new(rep, "against", json_string(o->against));
	json_object_set_new(rep, "audit_record", json_string(res->audit_id));
	for (int i = 0; i < res->n; i++) {
		const struct drill_replica_result *r = &res->v[i];
		json_t *ro = json_object(), *probs = json_array();

		json_object_set_new(ro, "replica", json_string(r->url));
		json_object_set_new(ro, "kind", json_string(r->kind));
		json_object_set_new(ro, "ok", json_boolean(r->ok));
		if (r->error[0])
			json_object_set_new(ro, "error", json_string(r->error));
		if (r->snapshot[0]) {
			time_format(r->snapshot_ns, 0, when);
			json_object_set_new(ro, "snapshot", json_string(r->snapshot));
			json_object_set_new(ro, "source", json_string(r->source));
			json_object_set_new(ro, "snapshot_time", json_string(when));
		}
		json_object_set_new(ro, "files_total", json_integer((json_int_t)r->files_total));
		json_object_set_new(ro, "bytes_total", json_integer((json_int_t)r->bytes_total));
		json_object_set_new(ro, "files_verified", json_integer((json_int_t)r->files));
		json_object_set_new(ro, "bytes_verified", json_integer((json_int_t)r->bytes));
		json_object_set_new(ro, "manifest", json_boolean(r->has_manifest));
		json_object_set_new(ro, "manifest_checked", json_integer((json_int_t)r->manifest_checked));
		json_object_set_new(ro, "mismatches", json_integer((json_int_t)r->mismatches));
		json_object_set_new(ro, "unreadable", json_integer((json_int_t)r->unreadable));
		if (o->against) {
			json_object_set_new(ro, "against_compared", json_integer((json_int_t)r->against_compared));
			json_object_set_new(ro, "against_differ", json_integer((json_int_t)r->against_differ));
		}
		for (size_t k = 0; k < r->nproblems; k++)
			json_array_append_new(probs, json_string(r->problems[k]));
		json_object_set_new(ro, "problems", probs);
		json_object_set_new(ro, "first_message_path", json_string(r->first_path));
		json_object_set_new(ro, "open_seconds", json_real(r->open_secs));
		json_object_set_new(ro, "first_message_seconds", json_real(r->first_message_secs));
		json_object_set_new(ro, "restore_seconds", json_real(r->restore_secs));
		json_object_set_new(ro, "verify_seconds", json_real(r->verify_secs));
		json_object_set_new(ro, "manifest_seconds", json_real(r->manifest_secs));
		json_object_set_new(ro, "cleanup_seconds", json_real(r->cleanup_secs));
		json_object_set_new(ro, "throughput_bytes_per_second", json_real(r->throughput));
		json_object_set_new(ro, "estimate_seconds", json_real(r->estimate_secs));
		json_object_set_new(ro, "rto_met", r->rto_met < 0 ? json_null() : json_boolean(r->rto_met));
		if (r->restore_dir[0])
			json_object_set_new(ro, "restore_dir", json_string(r->restore_dir));
		json_array_append_new(reps, ro);
	}
	json_object_set_new(rep, "replicas", reps);
	return rep;
}
