/* diskcache — the blob reader's optional on-disk cache of sealed blobs
 * (mount.imdr -o cache_dir=DIR): what is kept on disk is exactly what the
 * repository holds, still encrypted, and the reader authenticates it again
 * every time it is read, so the cache needs no protection of its own and a
 * damaged entry is simply fetched again. Private to repo/.
 *
 * Policy: blobs are stored as DIR/<repository id>/<xx>/<blob id>; the total
 * is bounded by cache_dir_size; when over it, the least recently used files
 * (by mtime, refreshed on every hit) are removed until it is under 90 %.
 * It survives remounts. */
#ifndef IMDR_REPO_DISKCACHE_H
#define IMDR_REPO_DISKCACHE_H

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

/* diskcache_get: the sealed bytes of ref into out when the cache holds
 * exactly ref->length of them (marking the entry recently used); 1 if so,
 * else 0. The caller authenticates them and calls diskcache_drop when
 * they fail. */
int diskcache_get(struct diskcache *dc, const struct blob_ref *ref,
    struct buf *out);
/* diskcache_put: keep the sealed bytes of ref (authenticated by the
 * caller); a full disk makes the cache keep less, never an error. */
void diskcache_put(struct diskcache *dc, const struct blob_ref *ref,
    const struct buf *sealed);
void diskcache_drop(struct diskcache *dc, const struct blob_ref *ref);

void diskcache_get_stats(struct diskcache *dc, struct diskcache_stats *ret);

#endif
