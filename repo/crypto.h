/* crypto — the primitives, all from OpenSSL's libcrypto: AES-256-GCM sealing
 * with associated data, HMAC-SHA256, SHA-256, scrypt, and the system RNG.
 * A sealed message is nonce(12) || ciphertext || tag(16). */
#ifndef IMDR_CRYPTO_H
#define IMDR_CRYPTO_H

#include <stddef.h>
#include <stdint.h>

#define CRYPTO_KEY_LEN 32
#define CRYPTO_ID_LEN 32
#define CRYPTO_NONCE_LEN 12
#define CRYPTO_TAG_LEN 16
#define CRYPTO_OVERHEAD (CRYPTO_NONCE_LEN + CRYPTO_TAG_LEN)

/* crypto_random: n bytes from the system CSPRNG; aborts if it fails. */
void crypto_random(void *p, size_t n);

/* crypto_seal: encrypt n bytes of pt into out (n + CRYPTO_OVERHEAD bytes)
 * with a fresh random nonce, binding aad. */
void crypto_seal(const uint8_t key[CRYPTO_KEY_LEN], const void *aad,
    size_t aadlen, const void *pt, size_t n, uint8_t *out);

/* crypto_seal2: crypto_seal of the byte prefix followed by n bytes of pt,
 * without joining them first (out: n + 1 + CRYPTO_OVERHEAD bytes). */
void crypto_seal2(const uint8_t key[CRYPTO_KEY_LEN], const void *aad,
    size_t aadlen, uint8_t prefix, const void *pt, size_t n, uint8_t *out);
/* crypto_open: verify and decrypt n sealed bytes into out (n -
 * CRYPTO_OVERHEAD bytes). IMDR_OK, or IMDR_EAUTH when the tag does not match
 * (out is then zeroed: nothing unauthenticated escapes). */
int crypto_open(const uint8_t key[CRYPTO_KEY_LEN], const void *aad,
    size_t aadlen, const uint8_t *sealed, size_t n, uint8_t *out);

void crypto_hmac(const uint8_t key[CRYPTO_KEY_LEN], const void *p, size_t n,
    uint8_t out[32]);
void crypto_sha256(const void *p, size_t n, uint8_t out[32]);
/* SHA-256 over data given in pieces: begin, update as often as needed,
 * end (which frees the context). */
struct crypto_sha256_ctx;
struct crypto_sha256_ctx *crypto_sha256_begin(void);
void crypto_sha256_update(struct crypto_sha256_ctx *c, const void *p, size_t n);
void crypto_sha256_end(struct crypto_sha256_ctx *c, uint8_t out[32]);


/* crypto_scrypt: derive outlen bytes; IMDR_OK or IMDR_ENOMEM/IMDR_EINVAL. */
int crypto_scrypt(const char *pass, size_t passlen, const uint8_t *salt,
    size_t saltlen, uint64_t N, uint32_t r, uint32_t p, uint8_t *out,
    size_t outlen);

/* crypto_memeq: constant-time comparison. */
int crypto_memeq(const void *a, const void *b, size_t n);
void crypto_wipe(void *p, size_t n);
/* crypto_stack_scrub: zero the stack below the caller (64 KiB), where
 * OpenSSL leaves copies of what it worked on; called after a key is
 * unwrapped or derived, so that no copy of it outlives the call in a core
 * dump. */
void crypto_stack_scrub(void);

#endif
