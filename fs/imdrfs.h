/* imdrfs — the FUSE filesystem of mount.imdr: thin fs_op_* operations over
 * the catalog and the repository, with byte-limited node and chunk caches,
 * background prefetch, and stable inode numbers. Only this folder knows
 * libfuse. */
#ifndef IMDR_FS_IMDRFS_H
#define IMDR_FS_IMDRFS_H

#include <stddef.h>
#include <stdint.h>

#include "repo/repo.h"

struct fs_config {
	const char *single;		/* snapshot spec mounted at the root, or NULL */
	size_t chunk_cache_bytes;	/* decrypted chunks held in memory */
	size_t node_cache_bytes;	/* decoded tree nodes held in memory */
	size_t tree_cache_bytes;	/* sealed tree-pack segments; 0: default */
	int refresh_secs;		/* how stale the snapshot list may get */
	int prefetch_chunks;		/* chunks read ahead of a sequential reader */
	int prefetch_threads;
	size_t prefetch_run_bytes;	/* one request's bytes at most; 0: 1 MiB */
	const char *cache_dir;		/* on-disk cache of sealed blobs, or NULL */
	uint64_t cache_dir_bytes;
	/* mounted: called once the filesystem is mounted (after daemonizing),
	 * from a thread of its own so that serving does not wait for it, and
	 * joined before fs_run returns: mount.imdr records the mount in the
	 * audit log. May be NULL. */
	void (*mounted)(void *ctx, struct repo *r);
	void *mounted_ctx;
};

/* fs_run: mount r at mountpoint with the FUSE arguments in argv (fsname,
 * allow_other, -d, ...), daemonize unless foreground, and serve until
 * unmounted or signalled. Returns the process exit status. The repository is
 * owned by the filesystem from here on. */
int fs_run(struct repo *r, const struct fs_config *cfg, int argc, char **argv,
    const char *mountpoint, int foreground);

#endif
