/* crypto — thin wrappers over OpenSSL's libcrypto. Cipher contexts are kept
 * per thread (created on first use, freed at thread exit) because building
 * one per blob costs more than sealing a small blob. */
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
		if (c == NULL) {
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
	if (EVP_EncryptInit_ex(c, gcm, NULL, key, nonce) != 1 ||
	    EVP_EncryptUpdate(c, NULL, &len, aad, (int)aadlen) != 1 ||
	    (plen > 0 && EVP_EncryptUpdate(c, ct, &len, prefix, (int)plen) != 1) ||
	    (n > 0 && EVP_EncryptUpdate(c, ct + plen, &len, pt, (int)n) != 1) ||
	    EVP_EncryptFinal_ex(c, ct + plen + n, &len) != 1 ||
	    EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, CRYPTO_TAG_LEN,
	    ct + plen + n) != 1)
		fatal("seal");
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
	int len;

	if (n < CRYPTO_OVERHEAD)
		return IMDR_EAUTH;
	ctlen = n - CRYPTO_OVERHEAD;
	if (EVP_DecryptInit_ex(c, gcm, NULL, key, sealed) != 1 ||
	    EVP_DecryptUpdate(c, NULL, &len, aad, (int)aadlen) != 1 ||
	    (ctlen > 0 && EVP_DecryptUpdate(c, out, &len,
	    sealed + CRYPTO_NONCE_LEN, (int)ctlen) != 1) ||
	    EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_TAG, CRYPTO_TAG_LEN,
	    (void *)(sealed + CRYPTO_NONCE_LEN + ctlen)) != 1)
		fatal("open");
	if (EVP_DecryptFinal_ex(c, out + ctlen, &len) != 1) {
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
crypto_sha256_add(struct crypto_sha256_ctx *c, const void *p, size_t n)
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
