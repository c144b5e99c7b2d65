/* lru — a byte-limited cache keyed by 32-byte ids (blob ids), with
 * single-flight loading: however many threads ask for a missing key at once,
 * one loads it and the others wait for that load.
 *
 * Policy: values are charged their byte size; when the total exceeds the
 * limit, the least recently used values that nobody holds are disposed of
 * (through the dispose callback). A value in use (between lru_get and
 * lru_release) is never disposed of, so the total may briefly exceed the
 * limit by what readers hold. Failed loads are not cached.
 *
 * Values used up (lru_release_demote) move to a second, spent list: it
 * gives its room first when room is needed, oldest first, and is kept
 * within its own bound (lru_set_spent_limit; the whole limit unless set),
 * so a cache sized for what is wanted ahead of a reader does not fill
 * with what was read in full. */
#ifndef IMDR_LIB_LRU_H
#define IMDR_LIB_LRU_H

#include <stddef.h>
#include <stdint.h>

struct lru;
struct lru_entry;

typedef void (*lru_dispose_fn)(void *value);
/* load: produce the value for key; *ret_size is what it is charged. Returns
 * 0 or an error code (passed back, with its err_set message, to every
 * waiter). */
typedef int (*lru_load_fn)(void *ctx, const uint8_t key[32], void **ret_value,
    size_t *ret_size);

struct lru_stats {
	uint64_t hits, misses, waits, evictions, failures;
	uint64_t drops;		/* used up: lru_release_demote */
	size_t bytes, entries, limit;
	size_t spent, spent_limit;	/* bytes on the spent list, its bound */
	size_t peak;		/* most bytes held at once */
};

struct lru *lru_new(size_t max_bytes, lru_dispose_fn dispose);
void lru_free(struct lru *c);

/* lru_get: the entry for key, loaded with load(ctx, ...) if absent. On
 * success the entry is held: call lru_release when done with its value. */
int lru_get(struct lru *c, const uint8_t key[32], lru_load_fn load, void *ctx,
    struct lru_entry **ret);
/* lru_peek: held entry if present and loaded, else NULL (no load). */
struct lru_entry *lru_peek(struct lru *c, const uint8_t key[32]);
/* lru_contains: present or being loaded. */
int lru_contains(struct lru *c, const uint8_t key[32]);
void *lru_value(const struct lru_entry *e);
size_t lru_size(const struct lru_entry *e);
void lru_release(struct lru *c, struct lru_entry *e);
/* lru_release_demote: release e and, unless someone else holds it, move
 * it to the spent list (counted as a drop): used up, but worth keeping
 * while nothing else wants the room and the spent list's bound allows.
 * A later lru_get or lru_peek of it brings it back to the live list. */
void lru_release_demote(struct lru *c, struct lru_entry *e);
/* lru_set_limit: the cache's bound in bytes from now on; what is over a
 * lowered bound goes at once (what is held, when released). */
void lru_set_limit(struct lru *c, size_t max_bytes);
/* lru_set_spent_limit: the spent list's bound in bytes. */
void lru_set_spent_limit(struct lru *c, size_t max_bytes);
void lru_get_stats(struct lru *c, struct lru_stats *ret);

#endif
