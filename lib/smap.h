/* smap — a map from strings (copied) to size_t: open addressing on the
 * keyed hash (lib/hash.h: SipHash-1-3, a random key per process), doubling
 * at half full. For names, keys and message ids, typically to an index into
 * the caller's array; keys from an export cannot be chosen to collide. */
#ifndef IMDR_SMAP_H
#define IMDR_SMAP_H

#include <stddef.h>

struct smap {
	char **k;
	size_t *v;
	size_t cap, n;
};

#define SMAP_INIT { NULL, NULL, 0, 0 }

/* smap_get: 1 and *ret (may be NULL) when k is there. */
int smap_get(const struct smap *m, const char *k, size_t *ret);
/* smap_put: add or replace. */
void smap_put(struct smap *m, const char *k, size_t v);
/* smap_free: free the keys and tables; m is empty and reusable. */
void smap_free(struct smap *m);

#endif
