/* mount.imdr — mount an imdr repository's snapshots as a read-only tree.
 *
 *	mount.imdr REPO MOUNTPOINT [-f] [-d] [-o opt[,opt...]]
 *
 * Called directly, by mount(8) for `mount -t imdr` and fstab lines (which
 * pass -o options and sometimes -n, -s, -v), or by systemd. The repository is
 * opened and the passphrase checked before anything is mounted, so a failure
 * leaves no stale mountpoint. */
#include <errno.h>
#include <malloc.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fuse_lowlevel.h>
#include <fuse_opt.h>

#include "cli/common.h"
#include "engine/trail.h"
#include "fs/imdrfs.h"
#include "lib/buf.h"
#include "lib/err.h"
#include "lib/log.h"
#include "lib/secmem.h"
#include "repo/repo.h"

#ifndef IMDR_VERSION
#define IMDR_VERSION "dev"
#endif

struct mopts {
	char *repo;
	char *mountpoint;
	char *passfile;
	char *snapshot;
	char *at;
	char *cache_size;
	char *node_cache_size;
	char *cache_dir;
	char *cache_dir_size;
	int refresh;
	int prefetch;
	int threads;
	int hedge;
	int foreground;
	int debug;
	int help;
	int version;
	int has_fsname;
	int has_subtype;
};

enum { K_HELP, K_VERSION, K_FG, K_DEBUG, K_DROP, K_FSNAME, K_SUBTYPE };

#define MOPT(t, f, v) { t, offsetof(struct mopts, f), v }

static const struct fuse_opt opt_spec[] = {
	MOPT("passfile=%s", passfile, 0),
	MOPT("snapshot=%s", snapshot, 0),
	MOPT("at=%s", at, 0),
	MOPT("cache_size=%s", cache_size, 0),
	MOPT("node_cache_size=%s", node_cache_size, 0),
	MOPT("cache_dir=%s", cache_dir, 0),
	MOPT("cache_dir_size=%s", cache_dir_size, 0),
	MOPT("refresh=%d", refresh, 0),
	MOPT("prefetch=%d", prefetch, 0),
	MOPT("prefetch_threads=%d", threads, 0),
	MOPT("hedge=%d", hedge, 0),
	FUSE_OPT_KEY("-h", K_HELP),
	FUSE_OPT_KEY("--help", K_HELP),
	FUSE_OPT_KEY("-V", K_VERSION),
	FUSE_OPT_KEY("--version", K_VERSION),
	FUSE_OPT_KEY("-f", K_FG),
	FUSE_OPT_KEY("-d", K_DEBUG),
	FUSE_OPT_KEY("debug", K_DEBUG),
	/* what mount(8) passes: -n (no mtab), -s (sloppy), -v (verbose) */
	FUSE_OPT_KEY("-n", K_DROP),
	FUSE_OPT_KEY("-s", K_DROP),
	FUSE_OPT_KEY("-v", K_DROP),
	/* fstab and systemd words that are not for the filesystem */
	FUSE_OPT_KEY("defaults", K_DROP),
	FUSE_OPT_KEY("auto", K_DROP),
	FUSE_OPT_KEY("noauto", K_DROP),
	FUSE_OPT_KEY("_netdev", K_DROP),
	FUSE_OPT_KEY("nofail", K_DROP),
	FUSE_OPT_KEY("user", K_DROP),
	FUSE_OPT_KEY("nouser", K_DROP),
	FUSE_OPT_KEY("users", K_DROP),
	FUSE_OPT_KEY("owner", K_DROP),
	FUSE_OPT_KEY("group", K_DROP),
	FUSE_OPT_KEY("rw", K_DROP),	/* always read-only */
	FUSE_OPT_KEY("ro", K_DROP),	/* added below */
	FUSE_OPT_KEY("comment=", K_DROP),
	FUSE_OPT_KEY("fsname=", K_FSNAME),
	FUSE_OPT_KEY("subtype=", K_SUBTYPE),
	FUSE_OPT_END
};

static void
usage(FILE *f)
{
	fprintf(f,
"usage: mount.imdr REPOSITORY MOUNTPOINT [-f] [-d] [-o OPTION[,OPTION...]]\n"
"\n"
"Mounts every snapshot of an imdr repository as a read-only tree:\n"
"  snapshots/<TIME>/   one folder per snapshot, named by its UTC time\n"
"  latest              the newest snapshot of any source (follows new backups)\n"
"  at/<TIME>/          the newest snapshot at or before TIME, e.g.\n"
"                      at/2026-11-24T01:30 (before the first one: ENOENT)\n"
"  sources/<NAME>/     the same three for one source (imdr backup --source)\n"
"  .imdr/stats         cache hits and misses, bytes fetched, latencies\n"
"Content is fetched, authenticated and decrypted only when read.\n"
"\n"
"REPOSITORY may be multi:URL|URL|... (replicas of one repository): reads come\n"
"from the fastest healthy replica and move to another on an error, a stall\n"
"or bytes that fail authentication; .imdr/stats says which replica served\n"
"what. The same string works in /etc/fstab.\n"
"\n"
"The passphrase comes from -o passfile=FILE, $IMDR_PASSWORD_FILE,\n"
"$IMDR_PASSWORD_COMMAND, or the terminal; never from the command line.\n"
"\n"
"options:\n"
"  -f                    stay in the foreground (log to stderr, not syslog)\n"
"  -d, -o debug          foreground, and print every FUSE request\n"
"  -o passfile=FILE      read the passphrase from FILE (mode 0600)\n"
"  -o snapshot=SPEC      mount one snapshot at the root: an id prefix or\n"
"                        `latest`\n"
"  -o at=TIME            mount at the root the newest snapshot at or before\n"
"                        TIME (2026-11-24, 2026-11-24T10:00, ...)\n"
"  -o cache_size=SIZE    decrypted chunks kept in memory: what is read ahead\n"
"                        and what is half read (default 8M, 64M for cloud\n"
"                        repositories; at least 8M); while a large file is\n"
"                        read from start to end it grows to hold prefetch=\n"
"                        chunks ahead (at most 4x), until the file is closed\n"
"  -o node_cache_size=SIZE  decoded directories kept in memory (default 8M)\n"
"  -o cache_dir=DIR      also keep fetched blobs on disk, sealed as they are\n"
"                        in the repository (survives remounts)\n"
"  -o cache_dir_size=SIZE  bound of the disk cache (default 1G)\n"
"  -o refresh=SECS       how often the snapshot list is re-read (default 30)\n"
"  -o prefetch=N         chunks read ahead of a sequential reader (default 8,\n"
"                        64 for cloud repositories; 0 disables); never more\n"
"                        than 3/4 of cache_size holds, nor N average chunks\n"
"  -o prefetch_threads=N background fetchers (default 4; for cloud, as\n"
"                        many as the backend serves at once: 32 unless the\n"
"                        URL sets connections=)\n"
"  -o hedge=0|1          multi: repositories: when a replica is slower than\n"
"                        its recent 95th percentile, ask the next one too\n"
"                        (default 1, or $IMDR_HEDGE)\n"
"  -o allow_other        let other users read (needs user_allow_other in\n"
"                        /etc/fuse.conf when not root)\n"
"  -o fsname=NAME, -o subtype=NAME, and other FUSE mount options are passed\n"
"                        on; fstab words (defaults, noauto, _netdev, nofail,\n"
"                        user, x-systemd.*, ...) are accepted and ignored.\n"
"SIZE takes a K, M or G suffix (powers of 1024).\n"
"\n"
"Unmount with `umount MOUNTPOINT` or `fusermount3 -u MOUNTPOINT`; SIGTERM and\n"
"SIGINT unmount too. fstab line:\n"
"  /srv/imdr-repo /mnt/imdr imdr ro,noauto,passfile=/etc/imdr/pass 0 0\n");
}

static int
opt_proc(void *data, const char *arg, int key, struct fuse_args *outargs)
{
	struct mopts *o = data;

	(void)outargs;
	switch (key) {
	case FUSE_OPT_KEY_NONOPT:
		if (o->repo == NULL) {
			o->repo = strdup(arg);
			return 0;
		}
		if (o->mountpoint == NULL) {
			o->mountpoint = strdup(arg);
			return 0;
		}
		warn0("unexpected argument `%s' (see mount.imdr --help)", arg);
		return -1;
	case K_HELP:
		o->help = 1;
		return 0;
	case K_VERSION:
		o->version = 1;
		return 0;
	case K_FG:
		o->foreground = 1;
		return 0;
	case K_DEBUG:
		o->debug = 1;
		o->foreground = 1;
		return 1;	/* libfuse prints requests with -d */
	case K_DROP:
		return 0;
	case K_FSNAME:
		o->has_fsname = 1;
		return 1;
	case K_SUBTYPE:
		o->has_subtype = 1;
		return 1;
	case FUSE_OPT_KEY_OPT:
		if (strncmp(arg, "x-", 2) == 0)
			return 0;	/* x-systemd.automount, x-gvfs-show, ... */
		return 1;	/* a FUSE mount option: pass it on */
	default:
		return 1;
	}
}

/* parse_size: "64M", "1G", "4096" into bytes. */
static int
parse_size(const char *what, const char *s, uint64_t *ret)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s)
		goto bad;
	switch (*end) {
	case 'k': case 'K': v <<= 10; end++; break;
	case 'm': case 'M': v <<= 20; end++; break;
	case 'g': case 'G': v <<= 30; end++; break;
	case 't': case 'T': v <<= 40; end++; break;
	}
	if (*end == 'i' || *end == 'B')
		end++;
	if (*end == 'B')
		end++;
	if (*end != '\0')
		goto bad;
	*ret = v;
	return 0;
bad:
	warn0("-o %s=%s: not a size (a number with an optional K, M or G)", what, s);
	return -1;
}

/* fsname_opt: "-ofsname=imdr:<repo>" with ',' and '\' escaped for fuse_opt. */
static char *
fsname_opt(const char *repo)
{
	struct buf b = BUF_INIT;

	buf_puts(&b, "-ofsname=imdr:");
	for (const char *p = repo; *p; p++) {
		if (*p == ',' || *p == '\\')
			buf_putc(&b, '\\');
		buf_putc(&b, *p);
	}
	buf_cstr(&b);
	return (char *)buf_steal(&b, NULL);
}

/* What the audit log's mount record names. */
struct mount_record {
	const char *mountpoint;
	const char *snapshot, *at;	/* -o snapshot= / at=, or neither: all */
};

/* record_mount: the mount's audit record, written once it is mounted. A
 * mount reveals content, so it is recorded; a repository that cannot be
 * written (https) or a failure is logged, and the mount goes on. */
static void
record_mount(void *ctx, struct repo *r)
{
	struct mount_record *m = ctx;
	char *mp = audit_text(m->mountpoint), *snap = audit_text(m->snapshot ? m->snapshot :
	    m->at ? m->at : "all");

	cli_record(r, "mount", json_pack("{s:s, s:s}", "mountpoint", mp,
	    m->at ? "at" : "snapshot", snap), IMDR_OK);
	free(mp);
	free(snap);
}

int
main(int argc, char **argv)
{
	struct fuse_args args = FUSE_ARGS_INIT(argc, argv);
	struct mopts o = { .refresh = 30, .prefetch = -1, .threads = -1, .hedge = -1 };
	struct fs_config cfg = { 0 };
	struct mount_record mrec = { NULL, NULL, NULL };
	/* 8 MiB of chunks: the cache holds what is read ahead and what is
	 * half read (a chunk leaves once read in full), so 16 MiB only
	 * raised the peak (very-wide: 60-63 -> 54-55 MB, the 512 MiB file as
	 * fast) */
	uint64_t chunk_bytes = 8u << 20, node_bytes = 8u << 20;
	uint64_t dc_bytes = 1ull << 30;
	char mp[PATH_MAX];
	struct repo *r = NULL;
	struct stat st;
	char *fsopt = NULL;
	int rc;

	secmem_process_harden();	/* before the passphrase is read */
	log_init("mount.imdr");
	mem_tune();
	/* Buffers of 128 KiB and more (chunks, tree segments, large
	 * folders) straight from mmap, not from the heap: glibc's moving
	 * threshold put them there after the first was freed, between the
	 * small blocks that outlive them, where a freed one stays resident
	 * (very-wide, reading every file: the peak 63-65 -> 58-60 MB). The
	 * reader's buffer pool saves the page faults of the common sizes. */
	mallopt(M_MMAP_THRESHOLD, 128 << 10);
	if (fuse_opt_parse(&args, &o, opt_spec, opt_proc) != 0) {
		fuse_opt_free_args(&args);
		return 1;
	}
	if (o.help) {
		usage(stdout);
		return 0;
	}
	if (o.version) {
		printf("mount.imdr %s (libfuse %s)\n", IMDR_VERSION, fuse_pkgversion());
		return 0;
	}
	rc = 1;
	if (o.repo == NULL || o.mountpoint == NULL) {
		usage(stderr);
		goto out;
	}
	if (o.snapshot && o.at) {
		warn0("-o snapshot= and -o at= exclude each other");
		goto out;
	}
	if ((o.cache_size && parse_size("cache_size", o.cache_size, &chunk_bytes)) ||
	    (o.node_cache_size && parse_size("node_cache_size", o.node_cache_size, &node_bytes)) ||
	    (o.cache_dir_size && parse_size("cache_dir_size", o.cache_dir_size, &dc_bytes)))
		goto out;
	if (chunk_bytes < (8u << 20)) {
		warn0("-o cache_size: at least 8M (a chunk can be 4 MiB)");
		goto out;
	}
	if (node_bytes < (1u << 20)) {
		warn0("-o node_cache_size: at least 1M");
		goto out;
	}
	if (o.refresh < 1 || o.prefetch < -1 || o.prefetch > 256 ||
	    o.threads < -1 || o.threads > 64) {
		warn0("-o refresh= must be at least 1, prefetch= 0..256, prefetch_threads= 0..64");
		goto out;
	}
	if (realpath(o.mountpoint, mp) == NULL || stat(mp, &st) != 0) {
		warn0("%s: %s", o.mountpoint, strerror(errno));
		goto out;
	}
	if (!S_ISDIR(st.st_mode)) {
		warn0("%s: not a directory", o.mountpoint);
		goto out;
	}
	if (o.cache_dir && (mkdir(o.cache_dir, 0700) != 0 && errno != EEXIST)) {
		warn0("-o cache_dir=%s: %s", o.cache_dir, strerror(errno));
		goto out;
	}

	rc = cli_open_repo(o.repo, o.passfile, &r);
	if (rc) {
		cli_fail(rc);
		rc = 1;
		goto out;
	}

	if (o.hedge > 1 || o.hedge < -1) {
		warn0("-o hedge= is 0 or 1");
		rc = 1;
		goto out;
	}
	cli_replica_policy(r, 0, o.hedge);

	/* libfuse lays out the rest: read-only always, the repository as the
	 * source `mount` and `df` show, "fuse.imdr" as the type. */
	fuse_opt_add_arg(&args, "-oro,default_permissions");
	if (!o.has_fsname) {
		fsopt = fsname_opt(repo_url(r));
		fuse_opt_add_arg(&args, fsopt);
	}
	if (!o.has_subtype)
		fuse_opt_add_arg(&args, "-osubtype=imdr");

	/* over a network, a sequential reader needs more chunks in flight
	 * to cover the round trips: 64 ahead (the cache grows to hold them
	 * while a large file is read, fs/cache.c) from as many fetchers as
	 * the backend serves at once, and a cloud backend serves 32 here
	 * (its default 16 connections widened, unless the URL sets
	 * connections=). Over a 50 ms link to s3rver, a 128 MiB file: 12
	 * ahead from 8 gave 57-77 MiB/s, 24 from 16 135-144 MiB/s, 48 with
	 * a 64 MiB cache 159-179 MiB/s; later, on faster code (5 fresh
	 * mounts each, medians): 48 ahead from 16 connections 200-210 MB/s,
	 * each fetch 75 ms for a 50 ms round trip, 13 of 16 in flight on
	 * average; 24 connections 225 MB/s; 32 connections and 48 ahead
	 * 207, 64 ahead 244 MB/s. Runs of 2-4 MiB a request gave less
	 * (fewer requests in flight). */
	{
		struct repo_traits tr;
		int remote;

		repo_traits(r, &tr);
		remote = tr.remote;
		if (remote) {
			repo_widen(r, 32);
			repo_traits(r, &tr);
		}
		if (o.prefetch < 0)
			o.prefetch = remote ? 64 : 8;
		if (o.threads < 0) {
			o.threads = remote ? (tr.concurrency < 32 ? tr.concurrency : 32) : 4;
			if (o.threads < 1)
				o.threads = 1;
		}
		/* what is read ahead must fit the cache with room to spare */
		if (o.cache_size == NULL && remote)
			chunk_bytes = 64u << 20;
		/* a local repository's packs are in the page cache once read:
		 * a tree segment read again costs a pread, so the mount keeps
		 * half the reader's default (a walk still reads each segment
		 * once: 34 reads for 33 on the very-wide workspace) */
		if (!remote)
			cfg.tree_cache_bytes = 4u << 20;
	}
	cfg.single = o.snapshot ? o.snapshot : o.at;
	cfg.chunk_cache_bytes = (size_t)chunk_bytes;
	cfg.node_cache_bytes = (size_t)node_bytes;
	cfg.refresh_secs = o.refresh;
	cfg.prefetch_chunks = o.prefetch;
	cfg.prefetch_threads = o.prefetch ? o.threads : 0;
	cfg.cache_dir = o.cache_dir;
	cfg.cache_dir_bytes = dc_bytes;
	mrec.mountpoint = mp;
	mrec.snapshot = o.snapshot;
	mrec.at = o.snapshot ? NULL : o.at;
	cfg.mounted = record_mount;
	cfg.mounted_ctx = &mrec;
	rc = fs_run(r, &cfg, args.argc, args.argv, mp, o.foreground);
	r = NULL;	/* owned by the filesystem */
out:
	repo_free(r);
	fuse_opt_free_args(&args);
	free(fsopt);
	free(o.repo);
	free(o.mountpoint);
	free(o.passfile);
	free(o.snapshot);
	free(o.at);
	free(o.cache_size);
	free(o.node_cache_size);
	free(o.cache_dir);
	free(o.cache_dir_size);
	return rc;
}
