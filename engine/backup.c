/* backup — see backup.h.
 *
 * The calling thread walks the source (through ingest) and cuts chunks;
 * store workers hash, compress, seal and pack them; uploaders write packs.
 * Tree nodes are encoded once every chunk id is known. A second thread
 * counts the source's files and bytes for the progress total. Memory stays
 * bounded by the store's queue, the read buffer, and the catalog's
 * per-file metadata. */
#include "engine/backup.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "catalog/catalog.h"
#include "engine/bindex.h"
#include "engine/fcache.h"
#include "engine/trail.h"
#include "lib/array.h"
#include "lib/err.h"
#include "lib/hex.h"
#include "lib/timefmt.h"
#include "repo/chunker.h"
#include "repo/index.h"
#include "repo/lock.h"
#include "repo/store.h"

#define MAX_SKIPS_LISTED 1000

struct backup {
	struct repo *r;
	const struct engine_events *ev;
	struct index *idx;
	struct store *st;
	struct chunker *ch;
	struct cat_builder *cb;
	struct fcache *fc;
	struct bindex *bx;	/* the message index (bindex.h) */
	int source_forced;	/* --source: the export's own name is not used */
	uint8_t *rbuf;		/* read buffer: 2 * chunk max */
	size_t rcap;
	struct snapshot_skip *skips;
	size_t nskips, skips_cap;
	uint64_t skipped_total;
	uint64_t files_cached, files_read;
	/* per-file scratch for the files cache */
	uint8_t **slots;
	uint32_t *raws;
	size_t nslots, slots_cap;
	int strict;		/* a clash in the tree fails the backup */
};

static void sink_warn(void *ctx, const char *path, const char *msg);

/* clash: rc of adding an entry to the tree. A path given twice, or below a
 * file (a reader's one bad entry: nothing of it was stored), is left out
 * with a warning unless the backup is strict. */
static int
clash(struct backup *b, const char *path, int rc)
{
	char *msg;

	if (rc != IMDR_EEXIST || b->strict)
		return rc;
	msg = xstrdup(err_msg(rc));
	err_clear();
	sink_warn(b, path, msg);
	free(msg);
	return IMDR_OK;
}

static int
cancelled(const struct backup *b)
{
	return ev_cancelled(b->ev);
}

static void
add_slot(struct backup *b, uint8_t *slot, uint32_t raw)
{
	if (b->nslots == b->slots_cap) {
		b->slots_cap = b->slots_cap ? b->slots_cap * 2 : 64;
		b->slots = xrealloc(b->slots, b->slots_cap * sizeof(*b->slots));
		b->raws = xrealloc(b->raws, b->slots_cap * sizeof(*b->raws));
	}
	b->slots[b->nslots] = slot;
	b->raws[b->nslots++] = raw;
}

static void
sink_warn(void *ctx, const char *path, const char *msg)
{
	struct backup *b = ctx;

	ev_warn(b->ev, path, msg);
	b->skipped_total++;
	if (b->nskips < MAX_SKIPS_LISTED) {
		struct snapshot_skip *sk = ARRAY_PUSH(b->skips, b->nskips, b->skips_cap);

		sk->path = xstrdup(path);
		sk->reason = xstrdup(msg);
	}
}

/* read_fill: top the buffer up to want bytes (or EOF). */
static int
read_fill(const struct ingest_reader *rd, uint8_t *buf, size_t *have,
    size_t want, int *eof)
{
	while (*have < want && !*eof) {
		size_t got = 0;
		int rc = rd->read(rd->rs, buf + *have, want - *have, &got);

		if (rc)
			return rc;
		if (got == 0)
			*eof = 1;
		*have += got;
	}
	return IMDR_OK;
}

static int
store_file(struct backup *b, const struct ingest_entry *e,
    const struct ingest_reader *rd, struct cat_file *f, uint64_t *ret_size)
{
	size_t maxc = chunker_max(b->ch), have = 0, pos = 0;
	uint64_t total = 0;
	int eof = 0, rc;

	/* Small files: one exact read, one chunk, no buffer copies. */
	if (e->size > 0 && e->size < maxc / 4) {
		size_t cap = (size_t)e->size + 1, n = 0;
		uint8_t *data = store_alloc(b->st, cap);

		rc = read_fill(rd, data, &n, cap, &eof);
		if (rc) {
			store_release(b->st, data);
			return rc;
		}
		if (eof && n > 0 && n <= maxc) {
			uint8_t *slot = cat_file_add_chunk(f, (uint32_t)n);

			add_slot(b, slot, (uint32_t)n);
			ev_advance(b->ev, 0, n);
			*ret_size = n;
			return store_add(b->st, BLOB_DATA, data, n, slot);
		}
		/* It grew while we read: fall through to the streaming path. */
		memcpy(b->rbuf, data, n);
		have = n;
		store_release(b->st, data);
	}
	for (;;) {
		size_t cut;

		if (cancelled(b))
			return err_set(IMDR_EINTR, "interrupted");
		if (have - pos < maxc && !eof) {
			if (pos > 0) {
				memmove(b->rbuf, b->rbuf + pos, have - pos);
				have -= pos;
				pos = 0;
			}
			rc = read_fill(rd, b->rbuf, &have, b->rcap, &eof);
			if (rc)
				return rc;
		}
		if (have == pos)
			break;
		cut = chunker_cut(b->ch, b->rbuf + pos, have - pos, eof);
		if (cut == 0)
			continue;
		{
			uint8_t *data = store_alloc(b->st, cut), *slot;

			memcpy(data, b->rbuf + pos, cut);
			slot = cat_file_add_chunk(f, (uint32_t)cut);
			add_slot(b, slot, (uint32_t)cut);
			rc = store_add(b->st, BLOB_DATA, data, cut, slot);
			if (rc)
				return rc;
		}
		pos += cut;
		total += cut;
		ev_advance(b->ev, 0, cut);
	}
	*ret_size = total;
	return IMDR_OK;
}

static int
all_indexed(struct backup *b, const uint8_t (*ids)[CRYPTO_ID_LEN], size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (index_lookup(b->idx, ids[i], NULL, NULL) != IMDR_OK)
			return 0;
	return 1;
}

static void
fcache_key_of(const struct ingest_entry *e, struct fcache_key *k)
{
	k->path = e->disk_path;
	k->size = e->size;
	k->dev = e->dev;
	k->ino = e->ino;
	k->mtime_ns = e->mtime_ns;
	k->ctime_ns = e->ctime_ns;
}

/* cached_chunks: the files cache's chunk list for e when its identity is
 * unchanged and the index still has every chunk; NULL otherwise. */
static const uint8_t (*cached_chunks(struct backup *b, const struct ingest_entry *e,
    const uint32_t **ret_raw, size_t *ret_n))[CRYPTO_ID_LEN]
{
	const uint8_t (*ids)[CRYPTO_ID_LEN];
	struct fcache_key k;

	if (e->disk_path == NULL || b->fc == NULL)
		return NULL;
	fcache_key_of(e, &k);
	if (fcache_lookup(b->fc, &k, &ids, ret_raw, ret_n) && all_indexed(b, ids, *ret_n))
		return ids;
	return NULL;
}

/* sink_wants: will sink_entry read this file, or take it from the files
 * cache? (for the reader's read-ahead) */
static int
sink_wants(void *ctx, const struct ingest_entry *e)
{
	const uint32_t *raw;
	size_t n;

	return cached_chunks(ctx, e, &raw, &n) == NULL;
}

static int
sink_entry(void *ctx, const struct ingest_entry *e, const struct ingest_reader *rd)
{
	struct backup *b = ctx;
	const uint8_t (*ids)[CRYPTO_ID_LEN];
	struct fcache_key k;
	const uint32_t *raw;
	struct cat_file *f;
	uint64_t size = 0;
	size_t n;
	int rc;

	if (cancelled(b))
		return err_set(IMDR_EINTR, "interrupted");
	switch (e->type) {
	case INGEST_DIR:
		return clash(b, e->path, cat_builder_add_dir(b->cb, e->path, e->mode, e->mtime_ns));
	case INGEST_SYMLINK:
		return clash(b, e->path, cat_builder_add_symlink(b->cb, e->path, e->link_target, e->mode,
		    e->mtime_ns));
	case INGEST_FILE:
		break;
	default:
		return err_set(IMDR_EINVAL, "%s: unknown entry type", e->path);
	}
	rc = cat_builder_add_file(b->cb, e->path, e->mode, e->mtime_ns, e->size, &f);
	if (rc)
		return clash(b, e->path, rc);
	b->nslots = 0;
	if ((ids = cached_chunks(b, e, &raw, &n)) != NULL) {
		for (size_t i = 0; i < n; i++) {
			uint8_t *slot = cat_file_add_chunk(f, raw[i]);

			memcpy(slot, ids[i], CRYPTO_ID_LEN);
			add_slot(b, slot, raw[i]);
		}
		fcache_key_of(e, &k);
		fcache_record(b->fc, &k, b->slots, b->raws, n);
		b->files_cached++;
		ev_advance(b->ev, 1, e->size);
		return IMDR_OK;
	}
	rd = bindex_tee(b->bx, e, rd);
	rc = store_file(b, e, rd, f, &size);
	bindex_tee_done(b->bx, rc == IMDR_OK);
	if (rc == IMDR_ESOURCE)
		cat_file_drop(f);	/* unreadable: the reader warns and goes on */
	if (rc)
		return rc;
	b->files_read++;
	ev_advance(b->ev, 1, 0);
	if (size != e->size) {
		cat_file_set_size(f, size);
		/* Changed while we read it: do not trust its identity next time. */
		return IMDR_OK;
	}
	if (e->disk_path && b->fc) {
		fcache_key_of(e, &k);
		fcache_record(b->fc, &k, b->slots, b->raws, b->nslots);
	}
	return IMDR_OK;
}

static int
resolve_blob(void *ctx, const uint8_t id[CRYPTO_ID_LEN], struct blob_ref *ret)
{
	struct backup *b = ctx;
	char hex[65];

	if (index_lookup(b->idx, id, NULL, ret) == IMDR_OK)
		return IMDR_OK;
	hex_encode(id, CRYPTO_ID_LEN, hex);
	return err_set(IMDR_EIO, "internal error: blob %s was stored but is not in the index", hex);
}

static int
store_tree(void *ctx, const void *data, size_t n, struct blob_ref *ret)
{
	struct backup *b = ctx;

	return store_put_sync(b->st, BLOB_TREE, data, n, ret);
}

/* sink_named: the export named itself: the index extends that source's
 * newest snapshot (unless --source named it otherwise). */
static void
sink_named(void *ctx, const char *source_name)
{
	struct backup *b = ctx;

	if (!b->source_forced)
		bindex_source(b->bx, source_name);
}

/* ---- totals for progress, found by a second thread ---- */

struct scan {
	const char *root;
	const struct engine_events *ev;
	pthread_t th;
	int running;
};

/* scan_main: count the regular files below root and their bytes, without
 * following symlinks, reporting the total as it grows. Iterative, so depth
 * costs heap, not stack. */
static void *
scan_main(void *arg)
{
	struct scan *sc = arg;
	char **stack = NULL;
	size_t n = 0, cap = 0;
	uint64_t files = 0, bytes = 0;

	*ARRAY_PUSH(stack, n, cap) = xstrdup(sc->root);
	while (n > 0 && !ev_cancelled(sc->ev)) {
		char *dir = stack[--n];
		DIR *d = opendir(dir);
		struct dirent *de;

		while (d && (de = readdir(d)) != NULL) {
			struct stat st;

			if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
				continue;
			if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0)
				continue;
			if (S_ISDIR(st.st_mode))
				*ARRAY_PUSH(stack, n, cap) = xasprintf("%s/%s", dir, de->d_name);
			else if (S_ISREG(st.st_mode)) {
				files++;
				bytes += (uint64_t)st.st_size;
				if ((files & 255) == 0)
					ev_total(sc->ev, files, bytes);
			}
		}
		if (d)
			closedir(d);
		free(dir);
	}
	while (n > 0)
		free(stack[--n]);
	free(stack);
	ev_total(sc->ev, files, bytes);
	return NULL;
}

/* ---- the run ---- */

/* default_source: the export's own name for itself when it has a usable
 * one, else the path, with what a name cannot hold (control characters,
 * bytes that are not UTF-8) as '?' and cut at a character boundary. */
static char *
default_source(const char *from_export, const char *path, char out[SNAPSHOT_SOURCE_MAX + 1])
{
	const unsigned char *p = (const unsigned char *)path;
	size_t n = 0;

	if (from_export && snapshot_source_check(from_export) == IMDR_OK) {
		snprintf(out, SNAPSHOT_SOURCE_MAX + 1, "%s", from_export);
		return out;
	}
	err_clear();
	while (*p) {
		size_t len = *p < 0x80 ? 1 : (*p & 0xE0) == 0xC0 ? 2 : (*p & 0xF0) == 0xE0 ? 3 :
		    (*p & 0xF8) == 0xF0 ? 4 : 0;
		int ok = len > 0 && *p >= 0x20 && *p != 0x7F;

		for (size_t k = 1; ok && k < len; k++)
			ok = (p[k] & 0xC0) == 0x80;
		if (ok && len == 2 && p[0] == 0xC2 && p[1] < 0xA0)
			ok = 0;
		if (!ok)
			len = 1;
		if (n + len > SNAPSHOT_SOURCE_MAX)
			break;
		if (ok)
			memcpy(out + n, p, len);
		else
			out[n] = '?';
		n += ok ? len : 1;
		p += len;
	}
	out[n] = '\0';
	return out;
}

static void
backup_free(struct backup *b)
{
	bindex_free(b->bx);
	store_free(b->st);
	cat_builder_free(b->cb);
	fcache_free(b->fc);
	chunker_free(b->ch);
	index_free(b->idx);
	free(b->rbuf);
	free(b->slots);
	free(b->raws);
	for (size_t i = 0; i < b->nskips; i++) {
		free(b->skips[i].path);
		free(b->skips[i].reason);
	}
	free(b->skips);
}

/* open_store: index (with packs an interrupted backup left), chunker,
 * store sized for the backend, and the files cache. */
static int
open_store(struct backup *b, const struct backup_opts *o, const char *source_abs,
    struct backup_result *ret)
{
	const struct repo_config *cfg = repo_config(b->r);
	struct repo_traits tr;
	struct store_opts so = { 0, 0, 0 };
	int rc;

	struct index_recover_info ri;

	b->idx = index_new();
	rc = index_load(b->r, b->idx);
	if (rc == IMDR_OK)
		rc = index_recover(b->r, b->idx, &ri);
	if (rc)
		return rc;
	ret->recovered_packs = ri.recovered;
	if (ri.missing) {
		char msg[400];

		snprintf(msg, sizeof(msg), "the index lists %zu pack%s missing from the repository (%s%s): "
		    "their %llu blobs are stored again where this backup has them; "
		    "`imdr repair index` and `imdr repair snapshots` mend the rest",
		    ri.missing, ri.missing == 1 ? "" : "s", ri.first_missing,
		    ri.missing > 1 ? ", ..." : "", (unsigned long long)ri.missing_blobs);
		ev_warn(b->ev, NULL, msg);
	}
	if (ret->recovered_packs) {
		char msg[160];

		snprintf(msg, sizeof(msg), "found %zu pack%s from an interrupted backup; reusing %s",
		    ret->recovered_packs, ret->recovered_packs == 1 ? "" : "s",
		    ret->recovered_packs == 1 ? "it" : "them");
		ev_warn(b->ev, NULL, msg);
	}
	/* a remote store hides round trips behind more uploads in flight */
	repo_traits(b->r, &tr);
	so.uploaders = tr.remote ? (tr.concurrency / 2 < 6 ? tr.concurrency / 2 : 6) : 2;
	if (so.uploaders < 1)
		so.uploaders = 1;
	b->ch = chunker_new(repo_keys(b->r)->chunker, cfg->chunk_min, cfg->chunk_avg,
	    cfg->chunk_max);
	b->rcap = 2 * (size_t)cfg->chunk_max;
	b->rbuf = xmalloc(b->rcap);
	rc = store_new(b->r, b->idx, &so, &b->st);
	if (rc == IMDR_OK && !o->no_cache)
		b->fc = fcache_open(cfg->id, source_abs);
	return rc;
}

/* ingest_and_store: everything up to the root node's location. */
static int
ingest_and_store(struct backup *b, const struct ingest_opts *io, const char *source_abs,
    int is_dir, struct ingest_result *ir, struct blob_ref *ret_root,
    struct cat_build_stats *ret_cs)
{
	struct ingest_sink sink = { sink_entry, sink_warn, b, sink_wants, sink_named };
	struct scan sc = { source_abs, b->ev, 0, 0 };
	int rc;

	b->cb = cat_builder_new();
	if (is_dir && pthread_create(&sc.th, NULL, scan_main, &sc) == 0)
		sc.running = 1;
	else
		ev_total(b->ev, 0, 0);
	rc = ingest_run(source_abs, io, &sink, ir);
	if (sc.running)
		pthread_join(sc.th, NULL);
	if (rc == IMDR_OK)
		rc = store_flush(b->st);
	if (rc == IMDR_OK)
		rc = cat_builder_finish(b->cb, resolve_blob, store_tree, b, ret_root, ret_cs);
	if (rc == IMDR_OK)
		rc = store_flush(b->st);
	return rc;
}

static int
backup_do(struct repo *r, const struct backup_opts *o, struct backup_result *ret)
{
	struct backup b;
	struct ingest_result ir;
	struct ingest_opts io;
	struct lock *lk = NULL;
	struct snapshot snap;
	struct snapshot_name *names = NULL;
	struct cat_build_stats cs;
	struct store_stats ss;
	char hostbuf[256] = "", source_abs[PATH_MAX];
	char source_name[SNAPSHOT_SOURCE_MAX + 1];
	size_t nnames = 0;
	int64_t t0 = time_mono_ns();
	struct stat st;
	int rc;

	memset(&b, 0, sizeof(b));
	memset(&ir, 0, sizeof(ir));
	memset(&snap, 0, sizeof(snap));
	memset(ret, 0, sizeof(*ret));
	b.r = r;
	b.ev = &o->ev;
	b.strict = o->ingest.strict;
	if (stat(o->source, &st) < 0 || realpath(o->source, source_abs) == NULL)
		return err_set(IMDR_ESOURCE, "cannot read source %s: %s", o->source, strerror(errno));
	if (o->source_name && (rc = snapshot_source_check(o->source_name)) != IMDR_OK)
		return rc;
	snap.time_ns = o->time_ns ? o->time_ns : time_now_ns();
	if (o->host == NULL)
		gethostname(hostbuf, sizeof(hostbuf) - 1);

	/* the format first: only a chat format gets a message index, so the
	 * index does not copy and parse the conversations of a folder backed
	 * up as plain files (--format files) only to drop them at the end */
	io = o->ingest;
	rc = ingest_detect(source_abs, &o->ingest, &io.format);
	if (rc)
		return rc;
	rc = lock_acquire(r, LOCK_SHARED, &lk);
	if (rc == IMDR_OK)
		rc = open_store(&b, o, source_abs, ret);
	if (rc == IMDR_OK && !o->no_index && bindex_wants(io.format->name)) {
		b.source_forced = o->source_name != NULL;
		b.bx = bindex_start(r, b.st, b.idx, b.ev, o->source_name ? o->source_name :
		    default_source(NULL, source_abs, source_name));
	}
	if (rc == IMDR_OK)
		rc = ingest_and_store(&b, &io, source_abs, S_ISDIR(st.st_mode), &ir, &snap.root, &cs);
	if (rc == IMDR_OK && cancelled(&b))
		rc = err_set(IMDR_EINTR, "interrupted; no snapshot written (the packs stored so far will be reused)");
	/* a prune may have taken a lock not refreshed in time for stale and
	 * deleted data this backup deduplicated against (FORMAT.md "Locks") */
	if (rc == IMDR_OK && !lock_fresh(lk))
		rc = err_set(IMDR_ELOCKED, "the repository lock was not refreshed in time (was this process suspended?): "
		    "no snapshot written, as data it reused may have been pruned meanwhile; "
		    "back up again (what was stored is reused)");
	if (rc == IMDR_OK)
		rc = snapshot_list(r, &names, &nnames);
	if (rc)
		goto out;

	snap.host = (char *)(o->host ? o->host : hostbuf);
	if (o->source_name)
		snap.source = (char *)o->source_name;
	else
		snap.source = default_source(ir.source_name, source_abs, source_name);
	snap.path = source_abs;
	snap.format = (char *)ir.format->name;
	snap.tags = (char **)o->tags;
	snap.ntags = o->ntags;
	bindex_finish(b.bx, &snap.root, &snap);	/* the message index */
	store_get_stats(b.st, &ss);
	snap.root_mode = S_ISDIR(st.st_mode) ? (st.st_mode & 07777) : 0755;
	snap.root_mtime_ns = S_ISDIR(st.st_mode) ?
	    (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec : snap.time_ns;
	snap.files = cs.files;
	snap.dirs = cs.dirs;
	snap.symlinks = cs.symlinks;
	snap.bytes = cs.bytes;
	snap.added_bytes = ss.bytes_stored;
	snap.added_blobs = ss.blobs_new;
	snap.duration_ms = (uint64_t)((time_mono_ns() - t0) / 1000000);
	if (nnames)
		snprintf(snap.prev, sizeof(snap.prev), "%s", names[nnames - 1].id);
	snap.skipped = b.skips;
	snap.nskipped = b.nskips;
	snap.skipped_total = b.skipped_total;
	snap.extra_json = ir.summary_json;
	rc = snapshot_save(r, &snap);
	if (rc)
		goto out;
	if (b.fc) {
		int frc = fcache_save(b.fc);

		if (frc) {
			char *msg = xasprintf("%s (the next backup will read every file)",
			    err_msg(frc));

			ev_warn(b.ev, NULL, msg);
			free(msg);
			err_clear();
		}
	}
	snprintf(ret->id, sizeof(ret->id), "%s", snap.id);
	snprintf(ret->source, sizeof(ret->source), "%s", snap.source);
	ret->time_ns = snap.time_ns;
	ret->format = ir.format->name;
	ret->files = snap.files;
	ret->dirs = snap.dirs;
	ret->bytes = snap.bytes;
	ret->added_bytes = snap.added_bytes;
	ret->added_blobs = snap.added_blobs;
	ret->files_unchanged = b.files_cached;
	ret->files_read = b.files_read;
	ret->skipped = b.skipped_total;
	ret->duration_ms = snap.duration_ms;
	ret->replicas = repo_replica_count(r);
	for (int i = 0; ret->replicas > 1 && i < ret->replicas; i++) {
		struct repo_replica ri;

		repo_replica_info(r, i, &ri);
		if (ri.lagging || ri.state == REPO_REPLICA_ABSENT) {
			char msg[700];

			ret->replicas_lagging++;
			snprintf(msg, sizeof(msg), "did not get this snapshot: %s; `imdr copy` brings it up to date",
			    ri.why);
			ev_warn(b.ev, ri.url, msg);
		}
	}
out:
	backup_free(&b);
	lock_release(lk);
	free(names);
	free(ir.summary_json);
	free(ir.source_name);
	return rc;
}

/* backup_run: the backup, then its record in the audit log, whether it
 * succeeded or not (engine/trail.h), so that every caller records it. */
int
backup_run(struct repo *r, const struct backup_opts *o, struct backup_result *ret)
{
	int rc = backup_do(r, o, ret);
	json_t *scope = json_object(), *tags = json_array();

	char abs[PATH_MAX], *t;

	for (size_t i = 0; i < o->ntags; i++) {
		t = audit_text(o->tags[i]);
		json_array_append_new(tags, json_string(t));
		free(t);
	}
	if (rc == IMDR_OK) {
		char when[40];

		time_format(ret->time_ns, 0, when);
		json_object_set_new(scope, "snapshot", json_string(ret->id));
		json_object_set_new(scope, "snapshot_time", json_string(when));
		json_object_set_new(scope, "format", json_string(ret->format));
		json_object_set_new(scope, "files", json_integer((json_int_t)ret->files));
		json_object_set_new(scope, "bytes", json_integer((json_int_t)ret->bytes));
		json_object_set_new(scope, "added_bytes", json_integer((json_int_t)ret->added_bytes));
	}
	if (ret->source[0] || o->source_name) {
		t = audit_text(ret->source[0] ? ret->source : o->source_name);
		json_object_set_new(scope, "source", json_string(t));
		free(t);
	}
	t = audit_text(realpath(o->source, abs) ? abs : o->source);
	json_object_set_new(scope, "path", json_string(t));
	free(t);
	json_object_set_new(scope, "tags", tags);
	ret->audit_rc = trail_record(r, &o->ev, "backup", scope, rc, ret->audit_id);
	return rc;
}
