/* crypto — thin wrappers over OpenSSL's libcrypto. Cipher contexts are kept
 * per thread (created on first use, freed at thread exit) and set to
 * AES-256-GCM once: each seal or open then only keys them, which allocates
 * nothing (naming the cipher again would make OpenSSL free and allocate its
 * context each time). After each use a context is keyed with zeros, so no
 * round keys of the repository's key stay behind in OpenSSL's heap. */
#include "repo/crypto.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include "lib/buf.h"
#include "lib/err.h"

static pthread_key_t ctx_key, md_key;
static pthread_once_t ctx_once = PTHREAD_ONCE_INIT;
static const EVP_CIPHER *gcm;
static const EVP_MD *sha256;

static void
ctx_free(void *p)
{
	EVP_CIPHER_CTX_free(p);
}

static void
md_free(void *p)
{
	EVP_MD_CTX_free(p);
}

static void
ctx_init(void)
{
	pthread_key_create(&ctx_key, ctx_free);
	pthread_key_create(&md_key, md_free);
	gcm = EVP_aes_256_gcm();
	sha256 = EVP_sha256();
}

static EVP_CIPHER_CTX *
thread_ctx(void)
{
	EVP_CIPHER_CTX *c;

	pthread_once(&ctx_once, ctx_init);
	c = pthread_getspecific(ctx_key);
	if (c == NULL) {
		c = EVP_CIPHER_CTX_new();
		if (c == NULL || EVP_EncryptInit_ex(c, gcm, NULL, NULL, NULL) != 1) {
			fprintf(stderr, "imdr: cannot allocate cipher context\n");
			abort();
		}
		pthread_setspecific(ctx_key, c);
	}
	return c;
}

static void
fatal(const char *what)
{
	/* Only reachable on library misuse or a broken OpenSSL: nothing sane
	 * to continue with. */
	fprintf(stderr, "imdr: libcrypto failure in %s\n", what);
	abort();
}

/* OpenSSL's update calls take an int length: feed longer input in pieces
 * (GCM is a stream mode, so any split gives the same bytes). out may be
 * NULL for associated data. */
#define UPDATE_STEP (1u << 30)

static int
cipher_update(EVP_CIPHER_CTX *c, int enc, uint8_t *out, const uint8_t *in, size_t n)
{
	int len;

	while (n > 0) {
		size_t step = n < UPDATE_STEP ? n : UPDATE_STEP;

		if ((enc ? EVP_EncryptUpdate(c, out, &len, in, (int)step) :
		    EVP_DecryptUpdate(c, out, &len, in, (int)step)) != 1)
			return -1;
		if (out)
			out += step;
		in += step;
		n -= step;
	}
	return 0;
}

/* forget_key: after every use, key the context with zeros, so that the
 * round keys of the repository's key (which give the key itself) do not
 * stay in OpenSSL's heap for a core dump to carry; the context is kept,
 * so this costs one key expansion, not an allocation. */
static void
forget_key(EVP_CIPHER_CTX *c)
{
	static const uint8_t zero[CRYPTO_KEY_LEN];

	if (EVP_EncryptInit_ex(c, NULL, NULL, zero, zero) != 1)
		fatal("rekey");
}

void
crypto_random(void *p, size_t n)
{
	if (RAND_bytes(p, (int)n) != 1)
		fatal("RAND_bytes");
}

/* seal_parts: the sealed form of prefix (plen bytes) followed by pt. */
static void
seal_parts(const uint8_t key[CRYPTO_KEY_LEN], const void *aad, size_t aadlen,
    const uint8_t *prefix, size_t plen, const void *pt, size_t n, uint8_t *out)
{
	EVP_CIPHER_CTX *c = thread_ctx();
	uint8_t *nonce = out, *ct = out + CRYPTO_NONCE_LEN;
	int len;

	crypto_random(nonce, CRYPTO_NONCE_LEN);
	if (EVP_EncryptInit_ex(c, NULL, NULL, key, nonce) != 1 ||
	    cipher_update(c, 1, NULL, aad, aadlen) != 0 ||
	    cipher_update(c, 1, ct, prefix, plen) != 0 ||
	    cipher_update(c, 1, ct + plen, pt, n) != 0 ||
	    EVP_EncryptFinal_ex(c, ct + plen + n, &len) != 1 ||
	    EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, CRYPTO_TAG_LEN,
	    ct + plen + n) != 1)
		fatal("seal");
	forget_key(c);
}

void
crypto_seal(const uint8_t key[CRYPTO_KEY_LEN], const void *aad, size_t aadlen,
    const void *pt, size_t n, uint8_t *out)
{
	seal_parts(key, aad, aadlen, NULL, 0, pt, n, out);
}

void
crypto_seal2(const uint8_t key[CRYPTO_KEY_LEN], const void *aad, size_t aadlen,
    uint8_t prefix, const void *pt, size_t n, uint8_t *out)
{
	seal_parts(key, aad, aadlen, &prefix, 1, pt, n, out);
}

int
crypto_open(const uint8_t key[CRYPTO_KEY_LEN], const void *aad, size_t aadlen,
    const uint8_t *sealed, size_t n, uint8_t *out)
{
	EVP_CIPHER_CTX *c = thread_ctx();
	size_t ctlen;
	int len, ok;

	if (n < CRYPTO_OVERHEAD)
		return IMDR_EAUTH;
	ctlen = n - CRYPTO_OVERHEAD;
	if (EVP_DecryptInit_ex(c, NULL, NULL, key, sealed) != 1 ||
	    cipher_update(c, 0, NULL, aad, aadlen) != 0 ||
	    cipher_update(c, 0, out, sealed + CRYPTO_NONCE_LEN, ctlen) != 0 ||
	    EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_TAG, CRYPTO_TAG_LEN,
	    (void *)(sealed + CRYPTO_NONCE_LEN + ctlen)) != 1)
		fatal("open");
	ok = EVP_DecryptFinal_ex(c, out + ctlen, &len) == 1;
	forget_key(c);
	if (!ok) {
		OPENSSL_cleanse(out, ctlen);
		return IMDR_EAUTH;
	}
	return IMDR_OK;
}

void
crypto_hmac(const uint8_t key[CRYPTO_KEY_LEN], const void *p, size_t n,
    uint8_t out[32])
{
	unsigned int len = 32;

	pthread_once(&ctx_once, ctx_init);
	if (HMAC(sha256, key, CRYPTO_KEY_LEN, p, n, out, &len) == NULL)
		fatal("HMAC");
}

void
crypto_sha256(const void *p, size_t n, uint8_t out[32])
{
	unsigned int len = 32;
	EVP_MD_CTX *c;

	/* one digest context a thread, reused: EVP_Digest allocates one a
	 * call, which costs more than hashing a short message line */
	pthread_once(&ctx_once, ctx_init);
	c = pthread_getspecific(md_key);
	if (c == NULL) {
		if ((c = EVP_MD_CTX_new()) == NULL)
			fatal("SHA-256");
		pthread_setspecific(md_key, c);
	}
	if (EVP_DigestInit_ex(c, sha256, NULL) != 1 || EVP_DigestUpdate(c, p, n) != 1 ||
	    EVP_DigestFinal_ex(c, out, &len) != 1)
		fatal("SHA-256");
}

struct crypto_sha256_ctx {
	EVP_MD_CTX *md;
};

struct crypto_sha256_ctx *
crypto_sha256_begin(void)
{
	struct crypto_sha256_ctx *c = xcalloc(1, sizeof(*c));

	pthread_once(&ctx_once, ctx_init);
	c->md = EVP_MD_CTX_new();
	if (c->md == NULL || EVP_DigestInit_ex(c->md, sha256, NULL) != 1)
		fatal("SHA-256");
	return c;
}

void
crypto_sha256_update(struct crypto_sha256_ctx *c, const void *p, size_t n)
{
	if (n > 0 && EVP_DigestUpdate(c->md, p, n) != 1)
		fatal("SHA-256");
}

void
crypto_sha256_end(struct crypto_sha256_ctx *c, uint8_t out[32])
{
	unsigned int len = 32;

	if (EVP_DigestFinal_ex(c->md, out, &len) != 1)
		fatal("SHA-256");
	EVP_MD_CTX_free(c->md);
	free(c);
}

int
crypto_scrypt(const char *pass, size_t passlen, const uint8_t *salt,
    size_t saltlen, uint64_t N, uint32_t r, uint32_t p, uint8_t *out,
    size_t outlen)
{
	/* Allow what the parameters need, with headroom, up to 2 GiB. */
	uint64_t maxmem = 128ULL * N * r + 128ULL * r * p + (64ULL << 20);

	if (N < 2 || (N & (N - 1)) != 0 || r == 0 || p == 0 || maxmem > (2ULL << 30))
		return err_set(IMDR_EINVAL, "bad scrypt parameters N=%llu r=%u p=%u",
		    (unsigned long long)N, r, p);
	if (EVP_PBE_scrypt(pass, passlen, salt, saltlen, N, r, p, maxmem, out,
	    outlen) != 1)
		return err_set(IMDR_ENOMEM, "scrypt failed (N=%llu r=%u p=%u)",
		    (unsigned long long)N, r, p);
	return IMDR_OK;
}

int
crypto_memeq(const void *a, const void *b, size_t n)
{
	return CRYPTO_memcmp(a, b, n) == 0;
}

void
crypto_wipe(void *p, size_t n)
{
	OPENSSL_cleanse(p, n);
}

/* Deep enough for what OpenSSL's GCM, HMAC and scrypt leave on the stack
 * (tail blocks, pad states), with room to spare. */
#define SCRUB_BYTES (64u << 10)

#if defined(__x86_64__)
/* A key copied or used a moment ago is still in vector registers (memcpy
 * moves 32 bytes at a time through them, AES-NI keeps round keys there),
 * and whatever saves registers later (a signal frame, the dynamic linker)
 * writes them onto the stack. Clear them: xmm0-15 always, their upper
 * halves with AVX, and the EVEX-only ymm16-31 that glibc's AVX-512 memcpy
 * uses. */
__attribute__((target("avx512f"), noinline)) static void
clear_evex_regs(void)
{
	__asm__ __volatile__(
	    "vpxord %%zmm16, %%zmm16, %%zmm16\n\tvpxord %%zmm17, %%zmm17, %%zmm17\n\t"
	    "vpxord %%zmm18, %%zmm18, %%zmm18\n\tvpxord %%zmm19, %%zmm19, %%zmm19\n\t"
	    "vpxord %%zmm20, %%zmm20, %%zmm20\n\tvpxord %%zmm21, %%zmm21, %%zmm21\n\t"
	    "vpxord %%zmm22, %%zmm22, %%zmm22\n\tvpxord %%zmm23, %%zmm23, %%zmm23\n\t"
	    "vpxord %%zmm24, %%zmm24, %%zmm24\n\tvpxord %%zmm25, %%zmm25, %%zmm25\n\t"
	    "vpxord %%zmm26, %%zmm26, %%zmm26\n\tvpxord %%zmm27, %%zmm27, %%zmm27\n\t"
	    "vpxord %%zmm28, %%zmm28, %%zmm28\n\tvpxord %%zmm29, %%zmm29, %%zmm29\n\t"
	    "vpxord %%zmm30, %%zmm30, %%zmm30\n\tvpxord %%zmm31, %%zmm31, %%zmm31"
	    ::: "xmm16", "xmm17", "xmm18", "xmm19", "xmm20", "xmm21", "xmm22", "xmm23",
	    "xmm24", "xmm25", "xmm26", "xmm27", "xmm28", "xmm29", "xmm30", "xmm31");
}

__attribute__((target("avx"), noinline)) static void
clear_avx_regs(void)
{
	__asm__ __volatile__("vzeroall" ::: "xmm0", "xmm1", "xmm2", "xmm3", "xmm4",
	    "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", "xmm10", "xmm11", "xmm12", "xmm13",
	    "xmm14", "xmm15");
}

static void
clear_sse_regs(void)
{
	__asm__ __volatile__(
	    "pxor %%xmm0, %%xmm0\n\tpxor %%xmm1, %%xmm1\n\tpxor %%xmm2, %%xmm2\n\t"
	    "pxor %%xmm3, %%xmm3\n\tpxor %%xmm4, %%xmm4\n\tpxor %%xmm5, %%xmm5\n\t"
	    "pxor %%xmm6, %%xmm6\n\tpxor %%xmm7, %%xmm7\n\tpxor %%xmm8, %%xmm8\n\t"
	    "pxor %%xmm9, %%xmm9\n\tpxor %%xmm10, %%xmm10\n\tpxor %%xmm11, %%xmm11\n\t"
	    "pxor %%xmm12, %%xmm12\n\tpxor %%xmm13, %%xmm13\n\tpxor %%xmm14, %%xmm14\n\t"
	    "pxor %%xmm15, %%xmm15"
	    ::: "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8",
	    "xmm9", "xmm10", "xmm11", "xmm12", "xmm13", "xmm14", "xmm15");
}
#endif

void __attribute__((noinline))
crypto_stack_scrub(void)
{
	volatile uint8_t area[SCRUB_BYTES];

	/* No call out of here before the registers are clear: a call through
	 * the PLT could save them below this very area. */
#if defined(__x86_64__)
	if (__builtin_cpu_supports("avx512f"))
		clear_evex_regs();
	if (__builtin_cpu_supports("avx"))
		clear_avx_regs();
	else
		clear_sse_regs();
#endif
	for (size_t i = 0; i < sizeof(area); i++)
		area[i] = 0;
}
