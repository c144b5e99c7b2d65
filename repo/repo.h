/* repo — an open repository: its config and master keys, the sealed-object
 * primitives every other repo module builds on, and the one blob reader
 * (repo/blobread.c) through which every blob of a pack is read.
 *
 * Objects: config, keys/<id>, snapshots/<time>-<id>, index/<id>,
 * data/<xx>/<packid>, locks/<id>. See docs/FORMAT.md for the bytes.
 *
 * The backend under a repository is repo/'s own business: layers above
 * (catalog, engine, fs, cli) ask the repository, never the backend. */
#ifndef IMDR_REPO_H
#define IMDR_REPO_H

#include <stddef.h>
#include <stdint.h>

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
	OBJ_AUDIT = 'a',	/* audit record */
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
struct backend;

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

/* ---- the blob reader (repo/blobread.c) ----
 *
 * Every read of a blob goes through these: a ranged read of just the
 * blob (or, for tree blobs, of a window of its pack: folders a walk goes
 * to next lie beside it), through the sealed on-disk cache when one is
 * set, into buffers recycled from a bounded pool. Nothing is returned
 * before it authenticates; a failure names the blob and its pack. */

/* repo_blob_read: the plaintext of ref into out (replacing its contents). */
int repo_blob_read(struct repo *r, enum blob_type type,
    const struct blob_ref *ref, struct buf *out);
/* repo_blob_read_buf: the same without a copy: the plaintext is left at
 * b->data + *ret_off up to b->len. An empty b is filled from the buffer
 * pool; give it back with repo_buf_recycle when done. */
int repo_blob_read_buf(struct repo *r, enum blob_type type,
    const struct blob_ref *ref, struct buf *b, size_t *ret_off);
/* repo_buf_recycle: return a buffer to the pool (or free it); b is empty
 * afterwards. */
void repo_buf_recycle(struct repo *r, struct buf *b);

/* repo_blob_fetch: the sealed bytes of n blobs (as their packs hold them,
 * not yet authenticated: open each with repo_blob_unseal), read with as
 * few requests as their places allow: blobs next to each other in a pack
 * (gaps under 64 KiB) come in one ranged read of at most max_range bytes,
 * and up to the backend's concurrency reads run at once. fn gets each
 * blob (index into refs, bytes) once, in no particular order, possibly
 * from several threads at once; a non-zero return stops the fetch. For
 * reading much of something remote (a search index) in a few round
 * trips. */
typedef int (*repo_fetch_fn)(void *ctx, size_t i, const uint8_t *sealed, size_t n);
int repo_blob_fetch(struct repo *r, const struct blob_ref *refs, size_t n,
    uint64_t max_range, repo_fetch_fn fn, void *ctx);

struct repo_reader_config {
	size_t window_bytes;		/* tree-pack windows held; 0: default */
	const char *cache_dir;		/* sealed on-disk cache, or NULL */
	uint64_t cache_dir_bytes;	/* its bound */
};
/* repo_reader_configure: set up the reader (before reads start). Fails
 * only when cache_dir cannot be created. */
int repo_reader_configure(struct repo *r, const struct repo_reader_config *c);

/* What the repository's backend likes (see backend_traits): remote or
 * local, and how many requests it serves well at once. */
struct repo_traits {
	int remote;
	int concurrency;
};
void repo_traits(const struct repo *r, struct repo_traits *ret);

/* Counters of the backend requests and of the reader, for .imdr/stats
 * and reports. */
struct repo_io_stats {
	uint64_t gets, puts, lists, dels;
	uint64_t bytes_in, bytes_out, errors;
	uint64_t get_ns_total, get_ns_max;
	uint64_t window_reads, window_hits;	/* tree windows */
	uint64_t disk_hits, disk_misses, disk_bytes, disk_limit;
	int disk_cache;				/* a disk cache is set */
};
void repo_io_stats(struct repo *r, struct repo_io_stats *ret);

/* repo_url: the repository's URL without secrets, fit for messages;
 * repo_kind: its backend's name ("local", "s3", "azure", "https"). */
const char *repo_url(const struct repo *r);
const char *repo_kind(const struct repo *r);

/* ---- objects by name ---- */

/* repo_list: every object whose name starts with prefix, with its size,
 * in no particular order; fn returns non-zero to stop (returned). */
typedef int (*repo_list_fn)(void *ctx, const char *name, uint64_t size);
int repo_list(struct repo *r, const char *prefix, repo_list_fn fn, void *ctx);
/* repo_stat: IMDR_OK and the size, or IMDR_ENOENT. */
int repo_stat(struct repo *r, const char *name, uint64_t *ret_size);
/* repo_delete: remove an object; IMDR_OK when already gone. */
int repo_delete(struct repo *r, const char *name);
/* repo_pack_read: the whole of pack id (sealed bytes) into out. */
int repo_pack_read(struct repo *r, const uint8_t id[CRYPTO_ID_LEN],
    struct buf *out);

/* repo_key_add: add a key slot for pass (the repository must be open);
 * *ret_name (64 bytes, may be NULL) gets "keys/<id>". */
int repo_key_add(struct repo *r, const char *pass, size_t passlen,
    const struct repo_init_opts *opts, char *ret_name);
/* repo_key_list: names of all key slots, sorted; caller frees each and the
 * array. */
int repo_key_list(struct repo *r, char ***ret, size_t *ret_n);
/* repo_key_name: the slot that opened this repository. */
const char *repo_key_name(const struct repo *r);
/* repo_key_remove: remove slot name ("keys/<id>"); refused (IMDR_EINVAL)
 * for the slot in use; IMDR_ENOENT when there is no such slot. */
int repo_key_remove(struct repo *r, const char *name);

/* repo_thread_cleanup: free this thread's compression contexts; worker
 * threads call it before they exit. */
void repo_thread_cleanup(void);

/* repo_pack_name: "data/<xx>/<hex id>" into out (80 bytes). */
void repo_pack_name(const uint8_t pack[CRYPTO_ID_LEN], char *out);

#endif
