/* hash — SipHash-1-3 under a per-process random key (see hash.h).
 * SipHash: Aumasson and Bernstein, 2012; 1-3 is the variant Rust and
 * Python use for their hash tables (1 compression, 3 finalization rounds). */
#include "lib/hash.h"

#include <pthread.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#define ROTL(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))

#define SIPROUND do { \
	v0 += v1; v1 = ROTL(v1, 13); v1 ^= v0; v0 = ROTL(v0, 32); \
	v2 += v3; v3 = ROTL(v3, 16); v3 ^= v2; \
	v0 += v3; v3 = ROTL(v3, 21); v3 ^= v0; \
	v2 += v1; v1 = ROTL(v1, 17); v1 ^= v2; v2 = ROTL(v2, 32); \
} while (0)

static uint64_t
load64(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, 8);
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
	v = __builtin_bswap64(v);
#endif
	return v;
}

static uint64_t
siphash13(uint64_t k0, uint64_t k1, const uint8_t *p, size_t n)
{
	uint64_t v0 = k0 ^ 0x736f6d6570736575ULL, v1 = k1 ^ 0x646f72616e646f6dULL;
	uint64_t v2 = k0 ^ 0x6c7967656e657261ULL, v3 = k1 ^ 0x7465646279746573ULL;
	uint64_t b = (uint64_t)n << 56, m;
	const uint8_t *end = p + (n & ~(size_t)7);

	for (; p != end; p += 8) {
		m = load64(p);
		v3 ^= m;
		SIPROUND;
		v0 ^= m;
	}
	for (size_t i = 0; i < (n & 7); i++)
		b |= (uint64_t)p[i] << (8 * i);
	v3 ^= b;
	SIPROUND;
	v0 ^= b;
	v2 ^= 0xff;
	SIPROUND;
	SIPROUND;
	SIPROUND;
	return v0 ^ v1 ^ v2 ^ v3;
}

uint64_t
hash_siphash13(const uint8_t key[16], const void *p, size_t n)
{
	return siphash13(load64(key), load64(key + 8), p, n);
}

static uint64_t key0, key1;
static pthread_once_t key_once = PTHREAD_ONCE_INIT;

static void
key_init(void)
{
	uint8_t k[16];

	if (getrandom(k, sizeof(k), 0) != (ssize_t)sizeof(k)) {
		/* no entropy source: a key no export can know in advance */
		struct timespec ts;

		clock_gettime(CLOCK_MONOTONIC, &ts);
		uint64_t a = (uint64_t)ts.tv_nsec ^ ((uint64_t)getpid() << 32);
		uint64_t b = (uint64_t)ts.tv_sec ^ (uint64_t)(uintptr_t)&ts;

		memcpy(k, &a, 8);
		memcpy(k + 8, &b, 8);
	}
	key0 = load64(k);
	key1 = load64(k + 8);
}

uint64_t
hash_keyed(const void *p, size_t n)
{
	pthread_once(&key_once, key_init);
	return siphash13(key0, key1, p, n);
}

uint64_t
hash_keyed_str(const char *s)
{
	return hash_keyed(s, strlen(s));
}
