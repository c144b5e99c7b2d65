/* moved — where the blobs of a removed pack went. Tree nodes carry each
 * blob's pack and offset, so that reading needs no index; when prune
 * removes a pack whose blobs some snapshot still uses (it copied them into
 * a new pack, or another pack holds them too), it first writes
 * moved/<old pack id>, a sealed map from each such blob id to its current
 * location. The blob reader (repo/blobread.c) follows these maps when a
 * pack is gone; prune removes a map once no snapshot's tree names the old
 * pack. See docs/FORMAT.md "Moved blobs". */
#ifndef IMDR_MOVED_H
#define IMDR_MOVED_H

#include <stddef.h>
#include <stdint.h>

#include "repo/pack.h"
#include "repo/repo.h"

/* moved_name: "moved/<hex pack id>" into out (80 bytes). */
void moved_name(const uint8_t pack[CRYPTO_ID_LEN], char *out);

/* moved_write: the map of old pack `pack`: e[i].ref is the blob's new
 * location (e[i].type its type). A map already there is replaced: call
 * this only while the old pack still exists (readers then need no map). */
int moved_write(struct repo *r, const uint8_t pack[CRYPTO_ID_LEN],
    const struct pack_entry *e, size_t n);

/* moved_load: the map of old pack `pack`, sorted by blob id; caller frees
 * *ret. IMDR_ENOENT when there is none. */
int moved_load(struct repo *r, const uint8_t pack[CRYPTO_ID_LEN],
    struct pack_entry **ret, size_t *ret_n);

/* moved_find: the entry for blob id in a map from moved_load, or NULL. */
const struct pack_entry *moved_find(const struct pack_entry *e, size_t n,
    const uint8_t id[CRYPTO_ID_LEN]);

/* moved_parse: decode a map's plaintext (exposed for tests and fuzzing). */
int moved_parse(const char *name, const uint8_t *p, size_t n,
    struct pack_entry **ret, size_t *ret_n);

#endif
