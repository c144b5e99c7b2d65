/* repo — an open repository: its backend, config and master keys, and the
 * sealed-object and blob primitives every other repo module builds on.
 *
 * Objects: config, keys/<id>, snapshots/<time>-<id>, index/<id>,
 * data/<xx>/<packid>, locks/<id>. See docs/FORMAT.md for the bytes. */
#ifndef IMDR_REPO_H
#define IMDR_REPO_H

#include <stddef.h>
#include <stdint.h>

#include "backends/backend.h"
#include "lib/buf.h"
#include "repo/crypto.h"

/* Kinds of sealed object; the byte goes into the associated data. */
enum obj_kind {
	OBJ_CONFIG = 'c',
	OBJ_KEY = 'k',
	OBJ_SNAPSHOT = 's',
	OBJ_INDEX = 'i',
	OBJ_LOCK = 'l',
	OBJ_PACKHDR = 'h',
	OBJ_DATA = 'b',		/* data blob (file content) */
	OBJ_TREE = 't',		/* tree blob (catalog node) */
};

enum blob_type { BLOB_DATA = 0, BLOB_TREE = 1 };

/* Where a blob lives: enough to fetch and verify it without any index. */
struct blob_ref {
	uint8_t id[CRYPTO_ID_LEN];	/* HMAC-SHA256(mac key, plaintext) */
	uint8_t pack[CRYPTO_ID_LEN];	/* pack id: object data/<xx>/<hex> */
	uint64_t offset;		/* of the sealed blob in the pack */
	uint32_t length;		/* sealed length */
	uint32_t raw_length;		/* plaintext length */
};

struct master_key {
	uint8_t enc[CRYPTO_KEY_LEN];	/* AES-256-GCM for every object */
	uint8_t mac[CRYPTO_KEY_LEN];	/* HMAC key for blob ids */
	uint8_t chunker[CRYPTO_KEY_LEN];	/* seeds the gear table */
};

struct repo_config {
	char id[65];			/* repository id, hex */
	uint32_t version;		/* format version, 1 */
	uint32_t chunk_min, chunk_avg, chunk_max;
	uint32_t pack_size;		/* target pack size in bytes */
	int zstd_level;
};

struct repo_init_opts {
	uint64_t scrypt_n;		/* 0: default (2^15) */
	uint32_t scrypt_r, scrypt_p;	/* 0: default (8, 1) */
	uint32_t chunk_avg;		/* 0: default (1 MiB); min avg/4, max avg*4 */
};

struct repo;

/* repo_init: create a new repository at url (creating the folder, bucket or
 * container when missing), with one key slot for pass. IMDR_EEXIST if a
 * repository is already there. */
int repo_init(const char *url, const char *pass, size_t passlen,
    const struct repo_init_opts *opts, struct repo **ret);

/* repo_open: open and unlock with pass (tries every key slot).
 * IMDR_ENOENT: no repository there; IMDR_EPASS: no slot opens. */
int repo_open(const char *url, const char *pass, size_t passlen,
    struct repo **ret);

/* repo_open_backend: as repo_open, over an already open backend, which the
 * repo then owns. */
int repo_open_backend(struct backend *be, const char *pass, size_t passlen,
    struct repo **ret);

void repo_free(struct repo *r);

struct backend *repo_backend(struct repo *r);
const struct repo_config *repo_config(const struct repo *r);
const struct master_key *repo_keys(const struct repo *r);

/* repo_put_sealed: seal n bytes of pt as kind under name and store it
 * (write-once). The associated data is "imdr1" || kind || name. */
int repo_put_sealed(struct repo *r, enum obj_kind kind, const char *name,
    const void *pt, size_t n);

/* repo_get_sealed: fetch, authenticate and decrypt name into out.
 * IMDR_EAUTH (message names the object) when it fails authentication. */
int repo_get_sealed(struct repo *r, enum obj_kind kind, const char *name,
    struct buf *out);

/* repo_blob_id: the id of a plaintext blob (keyed HMAC). */
void repo_blob_id(const struct repo *r, const void *data, size_t n,
    uint8_t ret_id[CRYPTO_ID_LEN]);

/* repo_blob_seal: compress (zstd, kept only if it saves space) and seal a
 * blob of type for storage in a pack; out gets the sealed bytes. */
void repo_blob_seal(const struct repo *r, enum blob_type type,
    const uint8_t id[CRYPTO_ID_LEN], const void *data, size_t n,
    struct buf *out);

/* repo_blob_unseal: authenticate, decrypt and decompress sealed bytes of a
 * blob whose ref is given; out gets exactly ref->raw_length bytes.
 * IMDR_EAUTH or IMDR_EFORMAT with a message naming the blob and pack. */
int repo_blob_unseal(const struct repo *r, enum blob_type type,
    const struct blob_ref *ref, const uint8_t *sealed, size_t n,
    struct buf *out);

/* repo_blob_open_buf: like repo_blob_unseal, but b holds the sealed bytes
 * and is decrypted in place: the plaintext is b->data + *ret_off up to
 * b->len. No copy for stored blobs. */
int repo_blob_open_buf(const struct repo *r, enum blob_type type,
    const struct blob_ref *ref, struct buf *b, size_t *ret_off);
/* repo_blob_read_buf: ranged get of ref into b, then repo_blob_open_buf. */
int repo_blob_read_buf(struct repo *r, enum blob_type type,
    const struct blob_ref *ref, struct buf *b, size_t *ret_off);
/* repo_blob_read: ranged get of ref from its pack, then repo_blob_unseal. */
int repo_blob_read(struct repo *r, enum blob_type type,
    const struct blob_ref *ref, struct buf *out);

/* repo_key_add: add a key slot for pass (the repository must be open);
 * *ret_name (64 bytes, may be NULL) gets "keys/<id>". */
int repo_key_add(struct repo *r, const char *pass, size_t passlen,
    const struct repo_init_opts *opts, char *ret_name);
/* repo_key_list: names of all key slots, sorted; caller frees each and the
 * array. */
int repo_key_list(struct repo *r, char ***ret, size_t *ret_n);
/* A key slot's bytes, checked (checksum, JSON, parameters) and decoded:
 * what opening it with a passphrase needs. */
struct key_slot {
	uint64_t N;			/* scrypt parameters */
	uint32_t r, p;
	uint8_t salt[32];
	uint8_t *wrapped;		/* the sealed master key */
	size_t wlen;
};
/* repo_key_slot_parse: decode the bytes of key slot name (SHA-256 || JSON,
 * docs/FORMAT.md "Keys") into *ret; release it with repo_key_slot_clear.
 * IMDR_EAUTH when the checksum fails, IMDR_EFORMAT when malformed. */
int repo_key_slot_parse(const char *name, const uint8_t *data, size_t n,
    struct key_slot *ret);
void repo_key_slot_clear(struct key_slot *ks);
/* repo_key_name: the slot that opened this repository. */
const char *repo_key_name(const struct repo *r);

/* repo_thread_cleanup: free this thread's compression contexts; worker
 * threads call it before they exit. */
void repo_thread_cleanup(void);

/* repo_pack_name: "data/<xx>/<hex id>" into out (80 bytes). */
void repo_pack_name(const uint8_t pack[CRYPTO_ID_LEN], char *out);

#endif
