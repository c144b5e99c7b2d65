/* fcache — the files cache: for each file a backup read from disk, its
 * path, size, mtime, inode, device and ctime, and the ids of its chunks. The
 * next backup of the same source reuses the chunk list of a file whose
 * identity did not change, without reading it, provided the index still has
 * every chunk. One cache file per repository and source, under
 * $XDG_CACHE_HOME/imdr/<repository id>/ (or ~/.cache/imdr/...), mode 0600:
 * it holds file names, which may be confidential. */
#ifndef IMDR_ENGINE_FCACHE_H
#define IMDR_ENGINE_FCACHE_H

#include <stddef.h>
#include <stdint.h>

#include "repo/crypto.h"

struct fcache;

struct fcache_key {
	const char *path;	/* absolute path on disk */
	uint64_t size, dev, ino;
	int64_t mtime_ns, ctime_ns;
};

/* fcache_open: load the cache for (repo_id, source); a missing or damaged
 * cache file gives an empty cache (it is only a cache). */
struct fcache *fcache_open(const char *repo_id, const char *source_abs);
void fcache_free(struct fcache *fc);

/* fcache_lookup: on a hit, *ret_ids points at n ids and *ret_raw at n raw
 * lengths, valid until fcache_free. Returns 1 on a hit, 0 otherwise. */
int fcache_lookup(struct fcache *fc, const struct fcache_key *k,
    const uint8_t (**ret_ids)[CRYPTO_ID_LEN], const uint32_t **ret_raw,
    size_t *ret_n);

/* fcache_record: remember a file for the next run. ids point at slots that
 * are filled by the time fcache_save is called; n chunks. */
void fcache_record(struct fcache *fc, const struct fcache_key *k,
    uint8_t *const *id_slots, const uint32_t *raw, size_t n);

/* fcache_save: write what was recorded in this run (only that: files not
 * seen this time drop out), atomically. */
int fcache_save(struct fcache *fc);

size_t fcache_hits(const struct fcache *fc);

#endif
