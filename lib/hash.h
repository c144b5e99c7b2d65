/* hash — the string hashes of hash tables and stable numbers.
 *
 * hash_fnv*: 64-bit FNV-1a, the same in every process: for numbers that
 * must be stable (inode numbers, a drill's seeded sample) and tables of
 * names the program made itself. Anyone can compute collisions for it.
 *
 * hash_keyed*: SipHash-1-3 under a key drawn at random once per process:
 * for hash tables whose keys come from outside (names and ids in an
 * export, paths of a source folder), so that an export full of chosen
 * collisions cannot make a table quadratic (hash flooding). */
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

/* hash_keyed: SipHash-1-3 of n bytes under this process's random key. */
uint64_t hash_keyed(const void *p, size_t n);

/* hash_keyed_str: hash_keyed of a NUL-terminated string. */
uint64_t hash_keyed_str(const char *s);

/* hash_siphash13: SipHash-1-3 of n bytes under key (16 bytes); the
 * reference function behind hash_keyed, for tests. */
uint64_t hash_siphash13(const uint8_t key[16], const void *p, size_t n);

#endif
