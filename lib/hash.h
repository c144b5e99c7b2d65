/* hash — the one non-cryptographic string hash (64-bit FNV-1a), for hash
 * tables of names. Not for anything an attacker chooses to collide with in
 * bulk where that matters: ids are hashed by their own (uniform) bytes. */
#ifndef IMDR_HASH_H
#define IMDR_HASH_H

#include <stddef.h>
#include <stdint.h>

#define HASH_FNV_INIT 1469598103934665603ULL

/* hash_fnv_more: continue hash h over n bytes of p. */
static inline uint64_t
hash_fnv_more(uint64_t h, const void *p, size_t n)
{
	const unsigned char *s = p;

	for (size_t i = 0; i < n; i++)
		h = (h ^ s[i]) * 1099511628211ULL;
	return h;
}

/* hash_fnv: FNV-1a of n bytes. */
static inline uint64_t
hash_fnv(const void *p, size_t n)
{
	return hash_fnv_more(HASH_FNV_INIT, p, n);
}

/* hash_fnv_str: FNV-1a of a NUL-terminated string. */
static inline uint64_t
hash_fnv_str(const char *s)
{
	uint64_t h = HASH_FNV_INIT;

	while (*s)
		h = (h ^ (unsigned char)*s++) * 1099511628211ULL;
	return h;
}

#endif
