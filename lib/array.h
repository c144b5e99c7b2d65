/* array — the one growable array: a pointer, a count and a capacity kept by
 * the caller, grown by doubling. ARRAY_PUSH(v, n, cap) makes room for one
 * more element and evaluates to a pointer to it (at v[n], n incremented). */
#ifndef IMDR_ARRAY_H
#define IMDR_ARRAY_H

#include <stddef.h>

/* array_grow: ensure *cap > n for elements of elem bytes, doubling from
 * 16; *v is reallocated (aborts on out-of-memory, like xrealloc). */
void array_grow(void **v, size_t *cap, size_t n, size_t elem);

#define ARRAY_PUSH(v, n, cap) \
	(array_grow((void **)&(v), &(cap), (n), sizeof(*(v))), &(v)[(n)++])

#endif
