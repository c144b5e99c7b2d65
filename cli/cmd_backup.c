/* imdr backup — source → ingest → chunker → store → catalog → snapshot.
 *
 * The reading thread (this one) walks the source and cuts chunks; store
 * workers hash, compress, seal and pack them; uploaders write packs. Tree
 * nodes are encoded once every chunk id is known. Memory stays bounded by
 * the store's queue, the read buffer, and the catalog's per-file metadata. */
#include <errno.h>
#include <ftw.h>
#include <getopt.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "catalog/catalog.h"
#include "cli/common.h"
#include "cli/fcache.h"
#include "cli/progress.h"
#include "ingest/ingest.h"
#include "lib/err.h"
#include "lib/hex.h"
#include "lib/log.h"
#include "lib/timefmt.h"
#include "repo/chunker.h"
#include "repo/index.h"
#include "repo/lock.h"
#include "repo/snapshot.h"
#include "repo/store.h"

#define MAX_SKIPS_LISTED 1000

static volatile sig_atomic_t interrupted;

static void
on_signal(int sig)
{
	(void)sig;
	interrupted = 1;
}

struct backup {
	struct repo *r;
	struct index *idx;
	struct store *st;
	struct chunker *ch;
	struct cat_builder *cb;
	struct fcache *fc;
	struct progress *pg;
	uint8_t *rbuf;		/* read buffer: 2 * chunk max */
	size_t rcap;
	struct snapshot_skip *skips;
	size_t nskips, skips_cap;
	uint64_t skipped_total, warnings;
	uint64_t files_cached, files_read;
	int quiet;
	/* per-file scratch for the files cache */
	uint8_t **slots;
	uint32_t *raws;
	size_t nslots, slots_cap;
};

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

	b->warnings++;
	if (!b->quiet)
		warn0("warning: %s: %s", path, msg);
	b->skipped_total++;
	if (b->nskips < MAX_SKIPS_LISTED) {
		if (b->nskips == b->skips_cap) {
			b->skips_cap = b->skips_cap ? b->skips_cap * 2 : 16;
			b->skips = xrealloc(b->skips, b->skips_cap * sizeof(*b->skips));
		}
		b->skips[b->nskips].path = xstrdup(path);
		b->skips[b->nskips].reason = xstrdup(msg);
		b->nskips++;
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
			progress_add(b->pg, 0, n);
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

		if (interrupted)
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
		progress_add(b->pg, 0, cut);
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

/* sink_wants: will sink_entry read this file, or take it from the files
 * cache? (for the reader's read-ahead) */
static int
sink_wants(void *ctx, const struct ingest_entry *e)
{
	struct backup *b = ctx;
	struct fcache_key k = { e->disk_path, e->size, e->dev, e->ino,
	    e->mtime_ns, e->ctime_ns };
	const uint8_t (*ids)[CRYPTO_ID_LEN];
	const uint32_t *raw;
	size_t n;

	if (e->disk_path == NULL || b->fc == NULL)
		return 1;
	return !(fcache_lookup(b->fc, &k, &ids, &raw, &n) && all_indexed(b, ids, n));
}

static int
sink_entry(void *ctx, const struct ingest_entry *e, const struct ingest_reader *rd)
{
	struct backup *b = ctx;
	struct cat_file *f;
	uint64_t size = 0;
	int rc;

	if (interrupted)
		return err_set(IMDR_EINTR, "interrupted");
	switch (e->type) {
	case INGEST_DIR:
		return cat_builder_add_dir(b->cb, e->path, e->mode, e->mtime_ns);
	case INGEST_SYMLINK:
		return cat_builder_add_symlink(b->cb, e->path, e->link_target, e->mode,
		    e->mtime_ns);
	case INGEST_FILE:
		break;
	default:
		return err_set(IMDR_EINVAL, "%s: unknown entry type", e->path);
	}
	rc = cat_builder_add_file(b->cb, e->path, e->mode, e->mtime_ns, e->size, &f);
	if (rc)
		return rc;
	b->nslots = 0;
	if (e->disk_path && b->fc) {
		struct fcache_key k = { e->disk_path, e->size, e->dev, e->ino,
		    e->mtime_ns, e->ctime_ns };
		const uint8_t (*ids)[CRYPTO_ID_LEN];
		const uint32_t *raw;
		size_t n;

		if (fcache_lookup(b->fc, &k, &ids, &raw, &n) && all_indexed(b, ids, n)) {
			for (size_t i = 0; i < n; i++) {
				uint8_t *slot = cat_file_add_chunk(f, raw[i]);

				memcpy(slot, ids[i], CRYPTO_ID_LEN);
				add_slot(b, slot, raw[i]);
			}
			fcache_record(b->fc, &k, b->slots, b->raws, n);
			b->files_cached++;
			progress_add(b->pg, 1, e->size);
			return IMDR_OK;
		}
	}
	rc = store_file(b, e, rd, f, &size);
	if (rc == IMDR_ESOURCE)
		cat_file_drop(f);	/* unreadable: the reader warns and goes on */
	if (rc)
		return rc;
	b->files_read++;
	progress_add(b->pg, 1, 0);
	if (size != e->size) {
		cat_file_set_size(f, size);
		/* Changed while we read it: do not trust its identity next time. */
		return IMDR_OK;
	}
	if (e->disk_path && b->fc) {
		struct fcache_key k = { e->disk_path, e->size, e->dev, e->ino,
		    e->mtime_ns, e->ctime_ns };

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

/* ---- totals for progress, found by a second thread ---- */

static struct progress *scan_pg;
static uint64_t scan_files, scan_bytes;

static int
scan_one(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	(void)path;
	(void)ftw;
	if (interrupted)
		return 1;
	if (type == FTW_F && S_ISREG(st->st_mode)) {
		scan_files++;
		scan_bytes += (uint64_t)st->st_size;
		if ((scan_files & 255) == 0)
			progress_total(scan_pg, scan_files, scan_bytes);
	}
	return 0;
}

static void *
scan_main(void *arg)
{
	nftw(arg, scan_one, 64, FTW_PHYS);
	progress_total(scan_pg, scan_files, scan_bytes);
	return NULL;
}

static void
usage(FILE *f)
{
	fprintf(f,
"usage: imdr backup REPO SOURCE [options]\n"
"\n"
"Back up SOURCE (a directory, a .zip, a .tar[.gz|.zst], or a Mattermost .jsonl)\n"
"as a new snapshot. The format is detected: slack, mattermost, canonical, or\n"
"files (the source as it is). Unchanged files are not read again (files cache).\n"
"\n"
"options:\n"
"  --format F          slack|mattermost|canonical|files (default: detect)\n"
"  --attachments DIR   Mattermost: folder the export's attachment paths point into\n"
"  --tag TAG           label the snapshot (repeatable)\n"
"  --host NAME         host name to record (default: this machine's)\n"
"  --time TIME         record this time instead of now (e.g. 2026-11-24T02:00:00Z)\n"
"  --no-cache          read every file, ignoring the files cache\n"
"  --password-file F   read the passphrase from F\n"
"  --progress          show progress even when stderr is not a terminal\n"
"  --quiet             no progress, no warnings list\n"
"  --json              print the result as JSON\n");
}

int
cmd_backup(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "format", required_argument, NULL, 'F' },
		{ "attachments", required_argument, NULL, 'a' },
		{ "tag", required_argument, NULL, 't' },
		{ "host", required_argument, NULL, 'H' },
		{ "time", required_argument, NULL, 'T' },
		{ "no-cache", no_argument, NULL, 'n' },
		{ "password-file", required_argument, NULL, 'p' },
		{ "progress", no_argument, NULL, 'P' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct backup b;
	struct ingest_opts io = { INGEST_AUTO, NULL };
	struct ingest_result ir;
	struct ingest_sink sink;
	struct lock *lk = NULL;
	struct snapshot snap, *prev = NULL;
	struct snapshot_name *names = NULL;
	struct cat_build_stats cs;
	struct store_stats ss;
	const char *passfile = NULL, *host = NULL, *when = NULL;
	char **tags = NULL, hostbuf[256] = "", source_abs[PATH_MAX];
	size_t ntags = 0, nnames = 0, recovered = 0;
	int c, rc, json = 0, progress_force = 0, nocache = 0, rcode = 1;
	int64_t t0 = time_mono_ns(), snap_time;
	struct stat st;
	pthread_t scanner;
	int scanning = 0;
	struct sigaction sa;

	memset(&b, 0, sizeof(b));
	memset(&ir, 0, sizeof(ir));
	memset(&snap, 0, sizeof(snap));
	optind = 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'F':
			if (ingest_format_parse(optarg, &io.format) != IMDR_OK) {
				warn0("unknown format %s (slack, mattermost, canonical, files)", optarg);
				return 2;
			}
			break;
		case 'a': io.attachments_dir = optarg; break;
		case 't':
			tags = xrealloc(tags, (ntags + 1) * sizeof(*tags));
			tags[ntags++] = optarg;
			break;
		case 'H': host = optarg; break;
		case 'T': when = optarg; break;
		case 'n': nocache = 1; break;
		case 'p': passfile = optarg; break;
		case 'P': progress_force = 1; break;
		case 'q': b.quiet = 1; break;
		case 'j': json = 1; break;
		case 'h': usage(stdout); free(tags); return 0;
		default: usage(stderr); free(tags); return 2;
		}
	}
	if (argc - optind != 2) {
		usage(stderr);
		free(tags);
		return 2;
	}
	if (stat(argv[optind + 1], &st) < 0 || realpath(argv[optind + 1], source_abs) == NULL) {
		warn0("cannot read source %s: %s", argv[optind + 1], strerror(errno));
		free(tags);
		return 1;
	}
	if (when) {
		if (time_parse(when, &snap_time, NULL) != 0) {
			warn0("--time %s: not a time (try 2026-11-24T02:00:00Z)", when);
			free(tags);
			return 2;
		}
	} else {
		snap_time = time_now_ns();
	}
	if (host == NULL) {
		gethostname(hostbuf, sizeof(hostbuf) - 1);
		host = hostbuf;
	}

	rc = cli_open_repo(argv[optind], passfile, &b.r);
	if (rc)
		goto out;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	rc = lock_acquire(b.r, 0, &lk);
	if (rc)
		goto out;
	b.idx = index_new();
	rc = index_load(b.r, b.idx);
	if (rc)
		goto out;
	rc = index_recover(b.r, b.idx, &recovered);
	if (rc)
		goto out;
	if (recovered && !b.quiet)
		warn0("found %zu pack%s from an interrupted backup; reusing %s",
		    recovered, recovered == 1 ? "" : "s", recovered == 1 ? "it" : "them");
	{
		const struct repo_config *cfg = repo_config(b.r);
		struct store_opts so = { 0, strcmp(backend_name(repo_backend(b.r)), "local") ? 6 : 2, 0 };

		b.ch = chunker_new(repo_keys(b.r)->chunker, cfg->chunk_min,
		    cfg->chunk_avg, cfg->chunk_max);
		b.rcap = 2 * (size_t)cfg->chunk_max;
		b.rbuf = xmalloc(b.rcap);
		rc = store_new(b.r, b.idx, &so, &b.st);
		if (rc)
			goto out;
		if (!nocache)
			b.fc = fcache_open(cfg->id, source_abs);
	}
	b.cb = cat_builder_new();
	b.pg = progress_start("backup", progress_force, b.quiet);
	scan_pg = b.pg;
	if (S_ISDIR(st.st_mode) && pthread_create(&scanner, NULL, scan_main, source_abs) == 0)
		scanning = 1;
	else
		progress_total(b.pg, 0, 0);

	sink.entry = sink_entry;
	sink.warn = sink_warn;
	sink.ctx = &b;
	sink.wants = sink_wants;
	rc = ingest_run(source_abs, &io, &sink, &ir);
	if (scanning) {
		pthread_join(scanner, NULL);
		scanning = 0;
	}
	if (rc == IMDR_OK)
		rc = store_flush(b.st);
	if (rc == IMDR_OK)
		rc = cat_builder_finish(b.cb, resolve_blob, store_tree, &b, &snap.root, &cs);
	if (rc == IMDR_OK)
		rc = store_flush(b.st);
	progress_stop(b.pg);
	b.pg = NULL;
	if (rc)
		goto out;

	rc = snapshot_list(b.r, &names, &nnames);
	if (rc)
		goto out;
	store_get_stats(b.st, &ss);
	snap.time_ns = snap_time;
	snap.host = (char *)host;
	snap.source = source_abs;
	snap.format = (char *)ingest_format_name(ir.format);
	snap.tags = tags;
	snap.ntags = ntags;
	snap.root_mode = S_ISDIR(st.st_mode) ? (st.st_mode & 07777) : 0755;
	snap.root_mtime_ns = S_ISDIR(st.st_mode) ?
	    (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec : snap_time;
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
	if (interrupted) {
		rc = err_set(IMDR_EINTR, "interrupted; no snapshot written (the packs stored so far will be reused)");
		goto out;
	}
	rc = snapshot_save(b.r, &snap);
	if (rc)
		goto out;
	if (b.fc) {
		int frc = fcache_save(b.fc);

		if (frc)
			warn0("%s (the next backup will read every file)", err_msg(frc));
	}
	rcode = 0;
	{
		char sz[32], add[32], when_s[40];
		double secs = (double)snap.duration_ms / 1000.0;

		fmt_size(snap.bytes, sz);
		fmt_size(snap.added_bytes, add);
		time_format(snap.time_ns, 0, when_s);
		if (json) {
			printf("{\"id\":\"%s\",\"time\":\"%s\",\"format\":\"%s\",\"files\":%llu,"
			    "\"dirs\":%llu,\"bytes\":%llu,\"added_bytes\":%llu,\"added_blobs\":%llu,"
			    "\"files_unchanged\":%llu,\"files_read\":%llu,\"skipped\":%llu,"
			    "\"seconds\":%.3f}\n",
			    snap.id, when_s, snap.format, (unsigned long long)snap.files,
			    (unsigned long long)snap.dirs, (unsigned long long)snap.bytes,
			    (unsigned long long)snap.added_bytes, (unsigned long long)snap.added_blobs,
			    (unsigned long long)b.files_cached, (unsigned long long)b.files_read,
			    (unsigned long long)b.skipped_total, secs);
		} else if (!b.quiet) {
			printf("snapshot %.8s saved at %s (%s)\n", snap.id, when_s, snap.format);
			printf("  %llu files, %llu dirs, %s (%llu bytes); %llu unchanged, %llu read\n",
			    (unsigned long long)snap.files, (unsigned long long)snap.dirs, sz,
			    (unsigned long long)snap.bytes, (unsigned long long)b.files_cached,
			    (unsigned long long)b.files_read);
			printf("  added %s in %llu new blobs; took %.2f s (%.1f MiB/s)\n", add,
			    (unsigned long long)snap.added_blobs, secs,
			    secs > 0 ? (double)snap.bytes / secs / 1048576.0 : 0.0);
			if (b.skipped_total)
				printf("  %llu warning%s (recorded in the snapshot)\n",
				    (unsigned long long)b.skipped_total, b.skipped_total == 1 ? "" : "s");
		}
	}
out:
	if (scanning)
		pthread_join(scanner, NULL);
	progress_stop(b.pg);
	if (rcode != 0)
		cli_fail(rc);
	store_free(b.st);
	lock_release(lk);
	cat_builder_free(b.cb);
	fcache_free(b.fc);
	chunker_free(b.ch);
	index_free(b.idx);
	repo_free(b.r);
	free(b.rbuf);
	free(b.slots);
	free(b.raws);
	for (size_t i = 0; i < b.nskips; i++) {
		free(b.skips[i].path);
		free(b.skips[i].reason);
	}
	free(b.skips);
	free(names);
	free(tags);
	free(ir.summary_json);
	snapshot_free(prev);
	return rcode;
}
