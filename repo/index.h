/* index — blob id to location, for deduplication during backup (reading
 * needs no index: tree nodes carry locations). In memory it is one
 * open-addressing table; in the repository it is a set of sealed index/<id>
 * objects, each listing some packs and their blobs. It is a cache: `check`
 * and `backup` rebuild what is missing from pack headers. */
#ifndef IMDR_INDEX_H
#define IMDR_INDEX_H

#include <stddef.h>
#include <stdint.h>

#include "repo/pack.h"
#include "repo/repo.h"

struct index;

struct index *index_new(void);
void index_free(struct index *idx);

/* index_load: read every index/ object into idx. An object that fails
 * authentication or is malformed is reported (warn0) and skipped: its packs
 * then look unindexed, and index_recover reads their headers again. */
int index_load(struct repo *r, struct index *idx);

/* index_load_one: read the index object name into idx; errors name it.
 * index_load_listed: the same, bounded by the size a listing gave (no
 * HEAD); an object larger than an index object can be is not read. */
int index_load_one(struct repo *r, struct index *idx, const char *name);
int index_load_listed(struct repo *r, struct index *idx, const char *name,
    uint64_t size);

/* index_load_bytes: the same from the stored bytes of index object name,
 * already read (authenticated here). */
int index_load_bytes(struct repo *r, struct index *idx, const char *name,
    const uint8_t *data, size_t n);

/* index_add_pack: record the blobs of one pack (replacing pending claims). */
void index_add_pack(struct index *idx, const uint8_t pack[CRYPTO_ID_LEN],
    uint64_t pack_size, const struct pack_entry *e, size_t n);

/* index_lookup: IMDR_OK and the location, or IMDR_ENOENT. Thread-safe. */
int index_lookup(struct index *idx, const uint8_t id[CRYPTO_ID_LEN],
    uint8_t *ret_type, struct blob_ref *ret_ref);

/* index_claim: atomically mark id as being stored by the caller. Returns 1
 * if the caller must store it, 0 if it is known or claimed already. */
int index_claim(struct index *idx, const uint8_t id[CRYPTO_ID_LEN]);

/* index_set_location: fill a claimed id's location once its pack is written
 * in memory (before upload). Thread-safe. */
void index_set_location(struct index *idx, uint8_t type,
    const struct blob_ref *ref);

/* index_has_pack: pack already indexed. */
int index_has_pack(struct index *idx, const uint8_t pack[CRYPTO_ID_LEN]);

size_t index_blob_count(struct index *idx);
size_t index_pack_count(struct index *idx);

/* index_write: store index objects listing the given packs' entries: one,
 * or several when one would pass REPO_INDEX_SPLIT bytes. */
int index_write(struct repo *r, const uint8_t (*packs)[CRYPTO_ID_LEN],
    const uint64_t *sizes, struct pack_entry *const *entries,
    const size_t *counts, size_t npacks);
/* index_write_named: the same; ret_name (80 bytes, may be NULL) gets the
 * object's name. */
int index_write_named(struct repo *r, const uint8_t (*packs)[CRYPTO_ID_LEN],
    const uint64_t *sizes, struct pack_entry *const *entries,
    const size_t *counts, size_t npacks, char *ret_name);

/* What index_recover found. */
struct index_recover_info {
	size_t recovered;		/* packs no index listed, now indexed */
	size_t missing;			/* packs the index lists that data/ lacks */
	uint64_t missing_blobs;		/* their blobs, now treated as absent */
	char first_missing[80];		/* the name of one of them */
};

/* index_recover: compare idx with a listing of data/. Packs that no index
 * lists (a backup interrupted after uploading them) and no prune plan
 * holds (repo/plan.h) have their headers read, are added to idx and get an
 * index object so later runs need not look again. Packs idx lists that are
 * missing from data/ (lost) are dropped from idx, so their blobs count as
 * absent and a backup stores them again. ret (may be NULL) says what. */
int index_recover(struct repo *r, struct index *idx,
    struct index_recover_info *ret);

/* index_drop_pack: forget every blob idx places in pack (in memory only);
 * index_has_pack says no afterwards. */
void index_drop_pack(struct index *idx, const uint8_t pack[CRYPTO_ID_LEN]);

/* index_read_object: decode the index object name, calling fn once per
 * pack it lists with every entry it gives for that pack (unlike the
 * in-memory table, which keeps one location per blob). */
typedef int (*index_object_fn)(void *ctx, const uint8_t pack[CRYPTO_ID_LEN],
    uint64_t size, const struct pack_entry *e, size_t n);
int index_read_object(struct repo *r, const char *name, index_object_fn fn,
    void *ctx);

typedef int (*index_pack_fn)(void *ctx, const uint8_t pack[CRYPTO_ID_LEN],
    uint64_t size);
/* index_each_pack: call fn for every pack the index knows. */
int index_each_pack(struct index *idx, index_pack_fn fn, void *ctx);

#endif
