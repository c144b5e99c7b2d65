/* idset — a set of 32-byte ids (random or HMAC output, so their first bytes
 * hash well), each with a 64-bit value. Open addressing; not thread-safe. */
#ifndef IMDR_IDSET_H
#define IMDR_IDSET_H

#include <stddef.h>
#include <stdint.h>

struct idset;

struct idset *idset_new(void);
void idset_free(struct idset *s);
/* idset_put: add or update; returns 1 if id was new. */
int idset_put(struct idset *s, const uint8_t id[32], uint64_t value);
/* idset_get: 1 and *ret_value (may be NULL) if present. */
int idset_get(const struct idset *s, const uint8_t id[32], uint64_t *ret_value);
size_t idset_count(const struct idset *s);
/* idset_each: visit every member; a non-zero return stops and is returned. */
int idset_each(const struct idset *s, int (*fn)(void *ctx, const uint8_t id[32],
    uint64_t value), void *ctx);

#endif
