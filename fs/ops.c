/* ops — the FUSE operations: find the inode, then either ask top.c (the
 * virtual top) or read the catalog through the caches. All content is
 * immutable: entries and attributes are cached by the kernel for a day,
 * pages are kept across opens. Only the top changes as backups come,
 * within refresh_secs. */
#include <errno.h>
#include <malloc.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>

#include "fs/fs_impl.h"
#include "lib/err.h"

static struct fs *
fs_of(fuse_req_t req)
{
	return fuse_req_userdata(req);
}

/* ---- attributes ---- */

void
fill_attr(struct fs *fs, const struct inode *i, struct stat *st)
{
	memset(st, 0, sizeof(*st));
	st->st_ino = i->ino;
	st->st_uid = fs->uid;
	st->st_gid = fs->gid;
	st->st_nlink = i->nlink ? i->nlink : 1;
	st->st_size = (off_t)i->size;
	st->st_blksize = 128 * 1024;
	st->st_blocks = (blkcnt_t)((i->size + 511) / 512);
	st->st_mtim.tv_sec = i->mtime_ns / 1000000000;
	st->st_mtim.tv_nsec = i->mtime_ns % 1000000000;
	if (st->st_mtim.tv_nsec < 0) {
		st->st_mtim.tv_nsec += 1000000000;
		st->st_mtim.tv_sec--;
	}
	st->st_atim = st->st_ctim = st->st_mtim;
	switch (i->type) {
	case CAT_DIR: st->st_mode = S_IFDIR | (i->mode & 07777); break;
	case CAT_SYMLINK: st->st_mode = S_IFLNK | (i->mode & 07777); break;
	default: st->st_mode = S_IFREG | (i->mode & 07777);
	}
}

double
timeout_of(struct fs *fs, const struct inode *i)
{
	return top_is_virtual(i->kind) ? fs->cfg.refresh_secs : CONTENT_TIMEOUT;
}

/* fresh: a copy of inode ino with what changes (the virtual top's sizes,
 * times, link counts) brought up to date; 0 or an errno. */
static int
fresh(struct fs *fs, uint64_t ino, struct inode *ret)
{
	int err = inode_copy(fs, ino, ret);

	if (err == 0 && (top_is_virtual(ret->kind) || (ret->kind == K_SNAPROOT &&
	    ino == INO_ROOT)))
		err = top_attr(fs, ret);
	return err;
}

static void
entry_param(struct fs *fs, const struct inode *i, struct fuse_entry_param *ep)
{
	memset(ep, 0, sizeof(*ep));
	ep->ino = i->ino;
	ep->generation = 1;
	fill_attr(fs, i, &ep->attr);
	ep->attr_timeout = ep->entry_timeout = timeout_of(fs, i);
}

/* ---- lookups ---- */

static void
proto_from_entry(struct inode *p, const struct blob_ref *node_ref,
    const struct cat_entry *e, uint32_t index)
{
	memset(p, 0, sizeof(*p));
	p->kind = K_ENTRY;
	p->type = e->type;
	p->mode = e->mode;
	p->mtime_ns = e->mtime_ns;
	p->size = e->size;
	p->order = index + 1;
	if (e->type == CAT_DIR) {
		p->node = e->subtree;
		p->nlink = 2 + e->nsubdirs;
	} else {
		p->node = *node_ref;
		p->index = index;
		p->nlink = 1;
	}
}

/* lookup_in_node: name inside the snapshot folder whose node is ref. */
static int
lookup_in_node(struct fs *fs, const struct blob_ref *ref, const char *name,
    struct inode *proto)
{
	struct lru_entry *ne;
	const struct cat_entry *e;
	struct cat_node *n;

	if (node_get(fs, ref, &ne) != IMDR_OK)
		return EIO;
	n = lru_value(ne);
	e = cat_node_find(n, name, strlen(name));
	if (e)
		proto_from_entry(proto, ref, e, (uint32_t)(e - cat_node_entry(n, 0)));
	lru_release(fs->nodes, ne);
	return e ? 0 : ENOENT;
}

static int
is_dir_kind(const struct inode *i)
{
	return i->type == CAT_DIR;
}

static void
fs_op_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct fs *fs = fs_of(req);
	struct inode dir, p;
	struct fuse_entry_param ep;
	uint64_t fixed = 0;
	int err;

	err = fresh(fs, parent, &dir);
	if (err == 0 && !is_dir_kind(&dir))
		err = ENOTDIR;
	if (err == 0 && top_is_virtual(dir.kind))
		err = top_lookup(fs, &dir, name, &p, &fixed);
	else if (err == 0)
		err = lookup_in_node(fs, &dir.node, name, &p);
	if (err) {
		fuse_reply_err(req, err);
		return;
	}
	pthread_mutex_lock(&fs->imu);
	p.ino = inode_ref(fs, parent, name, &p, fixed);
	pthread_mutex_unlock(&fs->imu);
	free(p.target);
	p.target = NULL;
	entry_param(fs, &p, &ep);
	fuse_reply_entry(req, &ep);
}

static void
fs_op_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup)
{
	struct fs *fs = fs_of(req);

	pthread_mutex_lock(&fs->imu);
	inode_forget(fs, ino, nlookup);
	pthread_mutex_unlock(&fs->imu);
	fuse_reply_none(req);
}

static void
fs_op_forget_multi(fuse_req_t req, size_t count, struct fuse_forget_data *forgets)
{
	struct fs *fs = fs_of(req);

	pthread_mutex_lock(&fs->imu);
	for (size_t k = 0; k < count; k++)
		inode_forget(fs, forgets[k].ino, forgets[k].nlookup);
	pthread_mutex_unlock(&fs->imu);
	fuse_reply_none(req);
}

static void
fs_op_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct fs *fs = fs_of(req);
	struct inode i;
	struct stat st;
	int err;

	(void)fi;
	err = fresh(fs, ino, &i);
	if (err) {
		fuse_reply_err(req, err);
		return;
	}
	i.ino = ino;
	fill_attr(fs, &i, &st);
	fuse_reply_attr(req, &st, timeout_of(fs, &i));
}

static void
fs_op_readlink(fuse_req_t req, fuse_ino_t ino)
{
	struct fs *fs = fs_of(req);
	struct lru_entry *ne;
	struct inode i;
	char *target = NULL;
	int err = inode_copy(fs, ino, &i);

	if (err == 0 && i.type != CAT_SYMLINK)
		err = EINVAL;
	if (err == 0 && (i.kind == K_ATLINK || i.kind == K_LATEST)) {
		target = inode_target(fs, ino);
		if (target == NULL)
			target = xstrdup("");
	} else if (err == 0) {
		if (node_get(fs, &i.node, &ne) != IMDR_OK)
			err = EIO;
		else {
			target = xstrdup(cat_node_entry(lru_value(ne), i.index)->target);
			lru_release(fs->nodes, ne);
		}
	}
	if (err)
		fuse_reply_err(req, err);
	else
		fuse_reply_readlink(req, target);
	free(target);
}

/* ---- folders ---- */

/* add_dirent: the buffer grows as entries come, up to the size the
 * kernel asked for (128 KiB to 1 MiB): allocating all of it for every
 * folder was an mmap and a munmap (with its TLB shootdown) per request. */
int
add_dirent(fuse_req_t req, struct dirbuf *b, int plus, const char *name,
    const struct fuse_entry_param *ep, off_t next)
{
	size_t need = plus ? fuse_add_direntry_plus(req, NULL, 0, name, ep, next) :
	    fuse_add_direntry(req, NULL, 0, name, &ep->attr, next);

	if (need > b->size - b->used)
		return 0;
	if (b->used + need > b->cap) {
		size_t cap = b->cap ? b->cap * 2 : 4096;

		while (cap < b->used + need)
			cap *= 2;
		if (cap > b->size)
			cap = b->size;
		b->p = xrealloc(b->p, cap);
		b->cap = cap;
	}
	if (plus)
		fuse_add_direntry_plus(req, b->p + b->used, need, name, ep, next);
	else
		fuse_add_direntry(req, b->p + b->used, need, name, &ep->attr, next);
	b->used += need;
	return 1;
}

int
emit_child(struct fs *fs, fuse_req_t req, struct dirbuf *b, int plus, uint64_t parent,
    const char *name, const struct inode *proto, uint64_t fixed_ino, off_t next)
{
	struct fuse_entry_param ep;
	struct inode shown = *proto;

	memset(&ep, 0, sizeof(ep));
	/* Full entries (an inode the kernel keeps) for folders and the top;
	 * files only by name and type: a walker (find, du of names) needs no
	 * inode for them, and instantiating one per file was most of a cold
	 * find. A reader looks a file up (one request) before opening it. */
	if (plus && proto->kind == K_ENTRY && proto->type != CAT_DIR)
		plus = -1;
	if (plus > 0) {
		pthread_mutex_lock(&fs->imu);
		shown.ino = inode_ref(fs, parent, name, proto, fixed_ino);
		pthread_mutex_unlock(&fs->imu);
		entry_param(fs, &shown, &ep);
	} else {
		fill_attr(fs, &shown, &ep.attr);
		ep.attr.st_ino = (ino_t)-1;	/* unknown until looked up */
	}
	if (add_dirent(req, b, plus != 0, name, &ep, next))
		return 1;
	if (plus > 0) {	/* not sent: undo the lookup */
		pthread_mutex_lock(&fs->imu);
		inode_forget(fs, ep.ino, 1);
		pthread_mutex_unlock(&fs->imu);
	}
	return 0;
}

/* dots: "." and ".." first (offsets 1 and 2); they are no lookups. */
static int
dots(fuse_req_t req, const struct inode *dir, off_t *off, int plus, struct dirbuf *b)
{
	struct fuse_entry_param ep;

	memset(&ep, 0, sizeof(ep));
	ep.attr.st_mode = S_IFDIR;
	if (*off < 1) {
		ep.attr.st_ino = dir->ino;
		if (!add_dirent(req, b, plus, ".", &ep, 1))
			return 0;
		*off = 1;
	}
	if (*off < 2) {
		/* readdir(3) hides d_ino 0: the root is its own parent */
		ep.attr.st_ino = dir->parent ? dir->parent : INO_ROOT;
		if (!add_dirent(req, b, plus, "..", &ep, 2))
			return 0;
		*off = 2;
	}
	return 1;
}

/* node_readdir: the entries of a snapshot folder from offset off. */
static int
node_readdir(struct fs *fs, fuse_req_t req, const struct inode *dir, off_t off,
    int plus, struct dirbuf *b)
{
	struct lru_entry *ne;
	struct cat_node *n;

	if (node_get(fs, &dir->node, &ne) != IMDR_OK)
		return EIO;
	n = lru_value(ne);
	if (off == 2)
		prefetch_subdirs(fs, n);
	for (uint32_t k = (uint32_t)off - 2; k < cat_node_count(n); k++) {
		const struct cat_entry *e = cat_node_entry(n, k);
		struct inode p;

		proto_from_entry(&p, &dir->node, e, k);
		if (!emit_child(fs, req, b, plus, dir->ino, e->name, &p, 0, (off_t)k + 3))
			break;
	}
	lru_release(fs->nodes, ne);
	return 0;
}

static void
readdir_common(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, int plus)
{
	struct fs *fs = fs_of(req);
	struct dirbuf b = { NULL, size, 0, 0 };
	struct inode dir;
	int err = fresh(fs, ino, &dir);

	if (err == 0 && !is_dir_kind(&dir))
		err = ENOTDIR;
	if (err == 0 && dots(req, &dir, &off, plus, &b))
		err = top_is_virtual(dir.kind) ? top_readdir(fs, req, &dir, off, plus, &b) :
		    node_readdir(fs, req, &dir, off, plus, &b);
	if (err)
		fuse_reply_err(req, err);
	else
		fuse_reply_buf(req, b.p, b.used);
	free(b.p);
}

/* Opening a folder needs no state here. Answering ENOSYS (where the kernel
 * supports it) tells the kernel to stop sending OPENDIR and RELEASEDIR:
 * two round trips fewer per folder, which is a quarter of a cold `find`. */
static void
fs_op_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	(void)ino;
	if (fs_of(req)->no_opendir)
		fuse_reply_err(req, ENOSYS);
	else
		fuse_reply_open(req, fi);
}

static void
fs_op_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
    struct fuse_file_info *fi)
{
	(void)fi;
	readdir_common(req, ino, size, off, 0);
}

static void
fs_op_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
    struct fuse_file_info *fi)
{
	(void)fi;
	readdir_common(req, ino, size, off, 1);
}

/* ---- files ---- */

static void
fs_op_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct fs *fs = fs_of(req);
	struct inode i;
	int err = inode_copy(fs, ino, &i);

	if (err == 0 && (fi->flags & O_ACCMODE) != O_RDONLY)
		err = EROFS;
	if (err == 0 && i.type != CAT_FILE)
		err = EISDIR;
	if (err) {
		fuse_reply_err(req, err);
		return;
	}
	if (i.kind == K_STATS) {
		struct fh *fh = xcalloc(1, sizeof(*fh));

		fh->text = stats_text(fs);
		fi->fh = (uint64_t)(uintptr_t)fh;
		fi->direct_io = 1;
		fuse_reply_open(req, fi);
		return;
	}
	fi->fh = (uint64_t)(uintptr_t)xcalloc(1, sizeof(struct fh));
	fi->keep_cache = 1;
	fuse_reply_open(req, fi);
	prefetch_following_files(fs, &i.node, i.index);
}

static struct fh *
fh_hold(struct fs *fs, struct fuse_file_info *fi)
{
	struct fh *fh = (struct fh *)(uintptr_t)fi->fh;

	pthread_mutex_lock(&fs->fhmu);
	fh->refs++;
	pthread_mutex_unlock(&fs->fhmu);
	return fh;
}

static void
fh_drop(struct fs *fs, struct fh *fh, int release)
{
	int dead;

	pthread_mutex_lock(&fs->fhmu);
	if (release)
		fh->released = 1;
	else
		fh->refs--;
	dead = fh->released && fh->refs == 0;
	if (dead && fh->streaming && --fs->streams == 0)
		lru_set_limit(fs->chunks, fs->cfg.chunk_cache_bytes);
	pthread_mutex_unlock(&fs->fhmu);
	if (dead) {
		free(fh->text);
		free(fh);
	}
}

static void
fs_op_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	(void)ino;
	fh_drop(fs_of(req), (struct fh *)(uintptr_t)fi->fh, 1);
	fuse_reply_err(req, 0);
}

/* window: how many chunks after k to keep coming: prefetch_chunks, but no
 * more than 3/4 of a chunk cache of cache_bytes holds (a window the cache
 * cannot hold evicts what it fetched before it is read, and fetches it
 * again), and no more bytes than prefetch_chunks chunks of the average
 * size: a run of large chunks (up to 4 MiB) made the daemon's peak, not
 * its speed. */
static uint32_t
window(const struct fs *fs, const struct cat_node *n, const struct cat_entry *e,
    uint32_t k, size_t cache_bytes)
{
	uint64_t budget = cache_bytes / 4 * 3, from = 0, at;
	uint64_t avg = repo_config(fs->r)->chunk_avg, spread;
	uint32_t fit = 0;
	struct blob_ref r;

	spread = (uint64_t)fs->cfg.prefetch_chunks * avg;
	if (spread < budget)
		budget = spread;
	for (uint32_t c = k + 1; c < e->nchunks && fit < (uint32_t)fs->cfg.prefetch_chunks; c++) {
		cat_chunk(n, e, c, &r, &at);
		if (c == k + 1)
			from = at;
		if (fit > 0 && at - from + r.length > budget)
			break;
		fit++;
	}
	return fit;
}

/* keep_coming: a sequential reader of chunk k: keep the chunks after it
 * coming, up to window() ahead. They are scheduled in batches (when half
 * the window is used up), as runs of chunks that lie one after the other
 * in a pack (up to prefetch_run_bytes, 1 MiB: several smaller requests at
 * once beat one large one, over a network for the round trips, and on a
 * local disk too, where each fetcher reads and decrypts a chunk while the
 * others do: a cold 512 MiB file went from ~570 to ~800 MiB/s against
 * 8 MiB runs, and the daemon's peak fell by 6 MB). */
static void
keep_coming(struct fs *fs, struct fh *fh, const struct cat_node *n,
    const struct cat_entry *e, uint32_t k, off_t off)
{
	uint32_t ahead = fs->cfg.prefetch_chunks > 0 ?
	    window(fs, n, e, k, fs->cfg.chunk_cache_bytes) : 0, last;
	struct blob_ref run[PREFETCH_RUN];
	uint32_t nrun = 0;
	uint64_t run_bytes = 0, cap = fs->cfg.prefetch_run_bytes ?
	    fs->cfg.prefetch_run_bytes : PREFETCH_RUN_BYTES;
	int trim = 0;

	pthread_mutex_lock(&fs->fhmu);
	if (ahead > 0 && (fh->sequential || off == 0 || (uint64_t)off == fh->next_off)) {
		fh->sequential = 1;
		/* a file longer than the cache's window, and than the
		 * bigger cache: the cache grows to stream_cache_bytes while
		 * the file is open (a file of a few MiB gains little from it,
		 * and reading every file of a workspace would raise the
		 * daemon's peak by the difference each time it met one) */
		if (!fh->streaming && fs->stream_cache_bytes > fs->cfg.chunk_cache_bytes &&
		    e->size > (uint64_t)fs->stream_cache_bytes &&
		    window(fs, n, e, k, fs->stream_cache_bytes) > ahead) {
			fh->streaming = 1;
			if (fs->streams++ == 0) {
				lru_set_limit(fs->chunks, fs->stream_cache_bytes);
				trim = 1;
			}
		}
		if (fh->streaming)
			ahead = window(fs, n, e, k, fs->stream_cache_bytes);
		last = k + ahead;
		if (fh->prefetched_to < k + 1)
			fh->prefetched_to = k + 1;
		if (fh->prefetched_to > k + (ahead + 1) / 2)
			last = fh->prefetched_to - 1;	/* enough in flight */
		for (; fh->prefetched_to <= last && fh->prefetched_to < e->nchunks;
		    fh->prefetched_to++) {
			struct blob_ref pr;

			cat_chunk(n, e, fh->prefetched_to, &pr, NULL);
			if (nrun > 0 && (nrun == PREFETCH_RUN || run_bytes + pr.length > cap ||
			    !repo_blobs_adjacent(&run[nrun - 1], &pr))) {
				prefetch_run(fs, run, nrun);
				nrun = 0;
				run_bytes = 0;
			}
			run[nrun++] = pr;
			run_bytes += pr.length;
		}
		if (nrun > 0)
			prefetch_run(fs, run, nrun);
	}
	pthread_mutex_unlock(&fs->fhmu);
	/* the cache is about to grow: first give back what malloc holds
	 * free (after reading many small files, ~9 MB), so the daemon's
	 * peak grows by less than the cache (20,000 conversations, every
	 * file then the 512 MiB one: 58.0 -> 56.3 MB with 8 chunks ahead,
	 * 63.4 -> 60.8 MB with 10) */
	if (trim)
		malloc_trim(0);
}

#define READ_IOV 16

static void
read_file(fuse_req_t req, struct fs *fs, const struct inode *i, size_t size,
    off_t off, struct fh *fh)
{
	struct lru_entry *held[READ_IOV], *ne = NULL;
	uint8_t ids[READ_IOV][CRYPTO_ID_LEN];
	struct iovec iov[READ_IOV];
	const struct cat_entry *e;
	struct cat_node *n;
	uint64_t pos = (uint64_t)off, end;
	int nheld = 0, err = 0;

	if (pos >= i->size || size == 0) {
		fuse_reply_buf(req, NULL, 0);
		return;
	}
	end = pos + size < i->size ? pos + size : i->size;
	if (node_get(fs, &i->node, &ne) != IMDR_OK) {
		fuse_reply_err(req, EIO);
		return;
	}
	n = lru_value(ne);
	e = cat_node_entry(n, i->index);
	while (pos < end && nheld < READ_IOV) {
		struct blob_ref r;
		uint64_t start;
		uint32_t k = cat_chunk_at(n, e, pos, &r, &start);
		struct chunk *ch;
		size_t from;

		if (chunk_get(fs, &r, &held[nheld]) != IMDR_OK) {
			err = EIO;
			break;
		}
		ch = lru_value(held[nheld]);
		memcpy(ids[nheld], r.id, CRYPTO_ID_LEN);
		from = ch->off + (size_t)(pos - start);
		iov[nheld].iov_base = ch->b.data + from;
		iov[nheld].iov_len = ch->b.len - from < end - pos ? ch->b.len - from :
		    (size_t)(end - pos);
		pos += iov[nheld++].iov_len;
		keep_coming(fs, fh, n, e, k, off);
	}
	pthread_mutex_lock(&fs->fhmu);
	if ((uint64_t)off != fh->next_off && off != 0)
		fh->sequential = 0;
	fh->next_off = pos;
	pthread_mutex_unlock(&fs->fhmu);
	if (err)
		fuse_reply_err(req, err);
	else
		fuse_reply_iov(req, iov, nheld);
	for (int k = 0; k < nheld; k++)
		chunk_release(fs, held[k], err ? 0 : iov[k].iov_len, ids[k]);
	lru_release(fs->nodes, ne);
}

static void
read_text(fuse_req_t req, const char *text, size_t size, off_t off)
{
	size_t len = strlen(text);

	if ((size_t)off >= len)
		fuse_reply_buf(req, NULL, 0);
	else
		fuse_reply_buf(req, text + off, len - (size_t)off < size ? len - (size_t)off : size);
}

static void
fs_op_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
    struct fuse_file_info *fi)
{
	struct fs *fs = fs_of(req);
	struct fh *fh = fh_hold(fs, fi);
	struct inode i;

	if (inode_copy(fs, ino, &i) != 0)
		fuse_reply_err(req, ENOENT);
	else if (i.kind == K_STATS)
		read_text(req, fh->text, size, off);
	else
		read_file(req, fs, &i, size, off, fh);
	fh_drop(fs, fh, 0);
}

/* ---- the rest ---- */

static void
fs_op_init(void *userdata, struct fuse_conn_info *conn)
{
	struct fs *fs = userdata;

	conn->want |= FUSE_CAP_READDIRPLUS | FUSE_CAP_ASYNC_READ;
	conn->want &= ~FUSE_CAP_READDIRPLUS_AUTO;
	if (conn->capable & FUSE_CAP_CACHE_SYMLINKS)
		conn->want |= FUSE_CAP_CACHE_SYMLINKS;
	if (conn->capable & FUSE_CAP_NO_OPENDIR_SUPPORT) {
		conn->want |= FUSE_CAP_NO_OPENDIR_SUPPORT;
		fs->no_opendir = 1;
	}
	if (conn->capable & FUSE_CAP_PARALLEL_DIROPS)
		conn->want |= FUSE_CAP_PARALLEL_DIROPS;
	if (conn->capable & FUSE_CAP_SPLICE_WRITE)
		conn->want |= FUSE_CAP_SPLICE_WRITE;
	conn->max_readahead = 4u << 20;
	conn->max_write = 1u << 20;	/* also sets the largest read request */
	conn->max_background = 64;
	conn->congestion_threshold = 48;
}

static void
fs_op_statfs(fuse_req_t req, fuse_ino_t ino)
{
	struct fs *fs = fs_of(req);
	struct statvfs sv;
	uint64_t bytes = 0;

	(void)ino;
	memset(&sv, 0, sizeof(sv));
	pthread_mutex_lock(&fs->smu);
	for (size_t k = 0; k < fs->nsnaps; k++)
		if (fs->snaps[k].loaded)
			bytes += fs->snaps[k].loaded->bytes;
	pthread_mutex_unlock(&fs->smu);
	sv.f_bsize = 4096;
	sv.f_frsize = 4096;
	sv.f_blocks = bytes / 4096;
	sv.f_files = fs->n_inodes;
	sv.f_namemax = 255;
	sv.f_flag = ST_RDONLY;
	fuse_reply_statfs(req, &sv);
}

static void
fs_op_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name, size_t size)
{
	(void)ino;
	(void)name;
	(void)size;
	fuse_reply_err(req, ENODATA);
}

static void
fs_op_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size)
{
	(void)ino;
	if (size == 0)
		fuse_reply_xattr(req, 0);
	else
		fuse_reply_buf(req, NULL, 0);
}

const struct fuse_lowlevel_ops fs_ops = {
	.init = fs_op_init,
	.lookup = fs_op_lookup,
	.forget = fs_op_forget,
	.forget_multi = fs_op_forget_multi,
	.getattr = fs_op_getattr,
	.readlink = fs_op_readlink,
	.open = fs_op_open,
	.read = fs_op_read,
	.release = fs_op_release,
	.opendir = fs_op_opendir,
	.readdir = fs_op_readdir,
	.readdirplus = fs_op_readdirplus,
	.statfs = fs_op_statfs,
	.getxattr = fs_op_getxattr,
	.listxattr = fs_op_listxattr,
};
