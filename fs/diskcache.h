/* diskcache — an optional on-disk cache of sealed blobs for mount.imdr
 * (-o cache_dir=DIR): what is kept on disk is exactly what the repository
 * holds, still encrypted, and it is authenticated again every time it is
 * read, so the cache needs no protection of its own and a damaged entry is
 * simply fetched again.
 *
 * Policy: blobs are stored as DIR/<repository id>/<xx>/<blob id>; the total
 * is bounded by cache_dir_size; when over it, the least recently used files
 * (by mtime, refreshed on every hit) are removed until it is under 90 %.
 * It survives remounts. */
#ifndef IMDR_FS_DISKCACHE_H
#define IMDR_FS_DISKCACHE_H

#include <stdint.h>

#include "lib/buf.h"
#include "repo/repo.h"

struct diskcache;

struct diskcache_stats {
	uint64_t hits, misses, bytes, limit;
};

int diskcache_open(const char *dir, uint64_t limit, const char *repo_id,
    struct diskcache **ret);
void diskcache_free(struct diskcache *dc);

/* diskcache_read: the plaintext of data blob ref into out, from the disk
 * cache when it holds it (and it authenticates), else from the repository
 * (and then kept). */
int diskcache_read(struct diskcache *dc, struct repo *r,
    const struct blob_ref *ref, struct buf *out);

void diskcache_get_stats(struct diskcache *dc, struct diskcache_stats *ret);

#endif
