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
	OBJ_HOLD = 'o',		/* legal hold (repo/hold.h) */
	OBJ_HOLD_RELEASE = 'r',	/* the release of a hold */
	OBJ_PLAN = 'p',		/* prune plan and its ready mark (repo/plan.h) */
	OBJ_MOVED = 'm',	/* where a removed pack's blobs went (repo/moved.h) */
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

/* How repo_open_with gets the master key. */
struct repo_unlock {
	/* the passphrase, asked for only when no cached key opens the
	 * repository: get_pass fills *ret (secmem) and *ret_len, or returns
	 * an error; put_pass releases it */
	int (*get_pass)(void *ctx, char **ret, size_t *ret_len);
	void (*put_pass)(void *ctx, char *pass, size_t len);
	void *ctx;
	/* > 0: take the key from the kernel keyring when it is cached there
	 * (repo/keycache.h), else put it there for this many seconds once
	 * the passphrase opened the repository; 0: neither */
	int64_t key_cache_secs;
};

struct repo_unlock_info {
	int key_cached;			/* opened with the cached key: no KDF */
	int key_stored;			/* the key was put into the cache */
	int64_t unlock_ns;		/* time to get the key */
	char cache_note[256];		/* why the cache was not used, or "" */
};

/* repo_open_with: repo_open with the passphrase asked for only when
 * needed, and the key cache. *ret_info (may be NULL) says how it went. */
int repo_open_with(const char *url, const struct repo_unlock *u, struct repo **ret,
    struct repo_unlock_info *ret_info);

/* repo_key_cache_drop: forget the key of the repository at url cached in
 * the kernel keyring (no passphrase needed: its config names the entry);
 * *ret_dropped says whether there was one. */
int repo_key_cache_drop(const char *url, int *ret_dropped);

void repo_free(struct repo *r);

const struct repo_config *repo_config(const struct repo *r);
const struct master_key *repo_keys(const struct repo *r);

/* ---- size bounds ----
 *
 * Anyone who can write to the storage can drop a 3 GiB file under
 * snapshots/ without the key: every object is bounded by its kind before a
 * byte of it is read, and what imdr writes stays within the same bounds.
 * repo_object_max is the most a stored (sealed) object of kind can be:
 *   config, key slot, lock   64 KiB
 *   snapshot, audit record,  16 MiB
 *   legal hold, its release
 *   prune plan               256 MiB (as an index object can be)
 *   moved map                twice its pack's header bound
 *   index object             REPO_INDEX_SPLIT + one pack header's worth
 *   pack header              its pack's blob count bound, 53 bytes each
 *   data blob                chunk_max + 1 + CRYPTO_OVERHEAD
 *   tree blob                REPO_TREE_MAX + 1 + CRYPTO_OVERHEAD
 * repo_pack_max bounds a whole pack: pack_size + the largest blob + its
 * header + 4. */
#define REPO_SMALL_MAX (64u << 10)
#define REPO_SNAPSHOT_MAX (16u << 20)
#define REPO_AUDIT_MAX (16u << 20)
#define REPO_INDEX_SPLIT (64u << 20)	/* index_write starts a new object past it */
#define REPO_TREE_MAX (256u << 20)	/* plaintext of one tree node */
#define REPO_SIZE_UNKNOWN UINT64_MAX

uint64_t repo_object_max(const struct repo *r, enum obj_kind kind);
uint64_t repo_pack_max(const struct repo *r);

/* repo_size_check: IMDR_OK when size fits kind, else IMDR_EFORMAT with a
 * message naming the object and both sizes. */
int repo_size_check(const struct repo *r, enum obj_kind kind, const char *name,
    uint64_t size);

/* repo_blob_ref_check: a reference's sealed and raw lengths fit its type
 * (data: the repository's chunk_max; tree: REPO_TREE_MAX) and its place
 * fits a pack; IMDR_EFORMAT naming the blob otherwise. */
int repo_blob_ref_check(const struct repo *r, enum blob_type type,
    const struct blob_ref *ref);

/* repo_put_sealed: seal n bytes of pt as kind under name and store it
 * (write-once). The associated data is "imdr1" || kind || name. An object
 * larger than its kind's bound is refused (IMDR_EINVAL), not written. */
int repo_put_sealed(struct repo *r, enum obj_kind kind, const char *name,
    const void *pt, size_t n);

/* repo_get_sealed: fetch, authenticate and decrypt name into out.
 * IMDR_EAUTH (message names the object) when it fails authentication;
 * IMDR_EFORMAT, before anything is read, when it is larger than its kind
 * allows. Its size is asked of the backend first (one HEAD on a cloud
 * store): callers that listed the object use repo_get_sealed_sized. */
int repo_get_sealed(struct repo *r, enum obj_kind kind, const char *name,
    struct buf *out);
/* repo_get_sealed_sized: the same for an object whose size is known (from
 * a listing; REPO_SIZE_UNKNOWN asks). Reads exactly that many bytes. */
int repo_get_sealed_sized(struct repo *r, enum obj_kind kind, const char *name,
    uint64_t size, struct buf *out);

/* repo_open_sealed: authenticate and decrypt the stored bytes of a sealed
 * object already read (n bytes at data) into out. IMDR_EAUTH naming it. */
int repo_open_sealed(const struct repo *r, enum obj_kind kind, const char *name,
    const uint8_t *data, size_t n, struct buf *out);

/* repo_blob_id: the id of a plaintext blob (keyed HMAC). */
void repo_blob_id(const struct repo *r, const void *data, size_t n,
    uint8_t ret_id[CRYPTO_ID_LEN]);

/* repo_blob_seal: compress (zstd, kept only if it saves space) and seal a
 * blob of type for storage in a pack; out gets the sealed bytes. */
void repo_blob_seal(const struct repo *r, enum blob_type type,
    const uint8_t id[CRYPTO_ID_LEN], const void *data, size_t n,
    struct buf *out);
/* repo_blob_seal_level: the same at zstd level `level` without first
 * probing whether the blob compresses (level 0: repo_blob_seal), for blobs
 * known to compress whose sealing time counts (the message index). */
void repo_blob_seal_level(const struct repo *r, enum blob_type type,
    const uint8_t id[CRYPTO_ID_LEN], const void *data, size_t n, int level,
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
/* repo_blobs_read: n blobs that lie one after the other in one pack
 * (repo_blobs_adjacent), read with one ranged request (what the disk cache
 * holds at the front is taken from it): fewer, larger requests for a
 * sequential reader or a restore. fn gets each blob in order: its
 * plaintext, or rc when it failed (then pt is NULL); a non-zero return
 * from fn stops and is returned. Returns the read's own failure too. */
typedef int (*repo_blob_fn)(void *ctx, size_t i, int rc, const uint8_t *pt,
    size_t n);
int repo_blobs_read(struct repo *r, enum blob_type type,
    const struct blob_ref *refs, size_t n, repo_blob_fn fn, void *ctx);
/* repo_blobs_adjacent: b lies right after a in the same pack. */
int repo_blobs_adjacent(const struct blob_ref *a, const struct blob_ref *b);

/* repo_buf_recycle: return a buffer to the pool (or free it); b is empty
 * afterwards. */
void repo_buf_recycle(struct repo *r, struct buf *b);

/* A pack that prune removed leaves moved/<pack id> naming where each of
 * its blobs still in use went (repo/moved.h); tree nodes written before
 * keep the old location. The reader follows such maps, up to
 * REPO_MOVED_HOPS of them, when a pack is gone, so nothing above repo/
 * sees the difference. */
#define REPO_MOVED_HOPS 64
/* repo_blob_relocate: one step: where ref's blob went when its pack was
 * removed. IMDR_ENOENT when the pack left no map, or the map lacks it. */
int repo_blob_relocate(struct repo *r, enum blob_type type,
    const struct blob_ref *ref, struct blob_ref *ret);
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
	size_t tree_cache_bytes;	/* tree-pack segments held; 0: default */
	const char *cache_dir;		/* sealed on-disk cache, or NULL */
	uint64_t cache_dir_bytes;	/* its bound */
	int direct;	/* data blobs read alone go around the page cache
			 * where the backend can (a local repository): for a
			 * reader that keeps what it reads (the mount); one
			 * that reads a file once keeps the kernel's
			 * read-ahead */
};
/* repo_reader_configure: set up the reader (once, before reads). Fails only when cache_dir cannot be
 * created. */
int repo_reader_configure(struct repo *r, const struct repo_reader_config *c);

/* repo_tree_hint: ref names a tree blob a reader may want soon; the reader
 * learns how far its pack reaches (so segments need no length request).
 * Decoders of folders call it for each subfolder. */
void repo_tree_hint(struct repo *r, const struct blob_ref *ref);

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
	uint64_t tree_segment_reads;		/* tree-pack segments read */
	uint64_t tree_segment_bytes;		/* and their bytes */
	uint64_t tree_alone_reads;		/* tree nodes read on their own */
	uint64_t tree_cache_hits, tree_cache_evictions;
	uint64_t tree_cache_bytes, tree_cache_limit;
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
/* repo_pack_read: the whole of pack id (sealed bytes) into out, refused
 * (IMDR_EFORMAT) when larger than repo_pack_max; its size is asked first.
 * repo_pack_read_sized: the same with the size from a listing. */
int repo_pack_read(struct repo *r, const uint8_t id[CRYPTO_ID_LEN],
    struct buf *out);
int repo_pack_read_sized(struct repo *r, const uint8_t id[CRYPTO_ID_LEN],
    uint64_t size, struct buf *out);

/* ---- replicas ----
 *
 * A repository named multi:URL|URL|... lives on several replicas that
 * hold the same objects (backends/multi.c): writes reach every replica,
 * reads come from the fastest healthy one and fail over to the others,
 * bytes that fail authentication are read again from another replica.
 * Any other repository is one replica. */

#define REPO_MAX_REPLICAS 16	/* = BACKEND_MAX_REPLICAS */

/* repo_replica_count: how many replicas (1 unless multi:). */
int repo_replica_count(const struct repo *r);

enum repo_replica_state {
	REPO_REPLICA_OK = 0,
	REPO_REPLICA_DOWN,	/* failed or stopped answering: set aside */
	REPO_REPLICA_ABSENT,	/* cannot be opened, or holds no repository */
};

struct repo_replica {
	char url[512];		/* without secrets */
	char kind[16];		/* "local", "s3", ... */
	int remote;
	int state;		/* enum repo_replica_state */
	int lagging;		/* missed a write of this session */
	char why[512];		/* why down, absent or lagging */
	double latency_ms;	/* median of recent small reads; < 0: unknown */
	double p95_ms;
	uint64_t served, served_bytes;	/* reads it answered */
	uint64_t hedges, hedges_won, failovers;
	uint64_t bad_objects;	/* objects it gave that failed authentication */
	char last_bad[160];
	uint64_t errors, writes, write_bytes;
};
/* repo_replica_info: replica i (0 .. count - 1): what it is and how it
 * has done in this process. */
void repo_replica_info(struct repo *r, int i, struct repo_replica *ret);

/* repo_replica_open: replica i alone, as a repository with the same keys
 * and config, for checking or copying one replica. It borrows r's
 * backend: free it before r. IMDR_ENOENT (naming the replica and why)
 * when that replica could not be opened. */
int repo_replica_open(struct repo *r, int i, struct repo **ret);

/* repo_abort: make the requests of r in flight fail soon (within about a
 * second) instead of waiting for a replica that stopped answering; later
 * requests work as usual. */
void repo_abort(struct repo *r);
/* repo_widen: let r keep up to n requests in flight (a cloud backend's
 * connections), unless its URL set the number; repo_traits follows. */
void repo_widen(struct repo *r, int n);

struct repo_replica_policy {
	int min_writes;		/* replicas every write must reach (>= 1) */
	int hedge;		/* hedged reads (1) or not (0) */
};
/* repo_set_replica_policy: how writes and reads treat the replicas
 * (defaults: $IMDR_MIN_REPLICAS or 1, $IMDR_HEDGE or 1). */
void repo_set_replica_policy(struct repo *r, const struct repo_replica_policy *p);

/* repo_open_replica: open url, a replica of src, with src's keys: no
 * passphrase, no key slot read; its config must be src's byte for byte.
 * IMDR_ENOENT when url holds no repository, IMDR_EINVAL when it holds
 * another. */
int repo_open_replica(struct repo *src, const char *url, struct repo **ret);

/* repo_init_replica: make url a replica of src: the same config object
 * and key slots, copied as they are (they authenticate first). The rest
 * comes with `imdr copy`. *ret (may be NULL) gets the new replica open
 * with src's keys. IMDR_EEXIST when url holds another repository;
 * IMDR_OK with *ret_already set when it is already a replica of src. */
int repo_init_replica(struct repo *src, const char *url, struct repo **ret,
    int *ret_already);

/* ---- objects as they are stored (copying between replicas) ---- */

/* repo_verify_fn: check (and perhaps change) bytes just read; IMDR_EAUTH
 * means they are damaged and another replica should be asked. */
typedef int (*repo_verify_fn)(void *ctx, struct buf *bytes);

/* repo_object_read: the stored bytes of object name into out, checked by
 * verify (may be NULL); bytes that fail are read again from another
 * replica (see repo_read_verified in repo_impl.h). */
int repo_object_read(struct repo *r, const char *name, struct buf *out,
    repo_verify_fn verify, void *ctx);
/* repo_object_write: store bytes under name as they are (write-once), for
 * a caller that has just listed name as absent: a service's check for the
 * object before a write is skipped (a racing copy writes the same bytes). */
int repo_object_write(struct repo *r, const char *name, const void *data,
    size_t n);
/* repo_object_verify: authenticate the stored bytes of name the way the
 * repository does before using them, by the folder it is in: sealed
 * objects by their tag, key slots by their checksum, packs by their header
 * and every blob's tag. IMDR_OK; IMDR_EAUTH or IMDR_EFORMAT naming the
 * object; IMDR_EUNSUP for a folder this version does not know. */
int repo_object_verify(struct repo *r, const char *name, const uint8_t *data,
    size_t n);
/* repo_pack_read_range: n bytes of pack id from off (sealed bytes). */
int repo_pack_read_range(struct repo *r, const uint8_t id[CRYPTO_ID_LEN],
    uint64_t off, uint64_t n, struct buf *out);
/* repo_pack_write: store a finished pack (pack_writer_finish) as id. */
int repo_pack_write(struct repo *r, const uint8_t id[CRYPTO_ID_LEN],
    const void *data, size_t n);

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
/* repo_key_remove: remove slot name ("keys/<id>"); refused (IMDR_EINVAL)
 * for the slot in use; IMDR_ENOENT when there is no such slot. */
int repo_key_remove(struct repo *r, const char *name);

/* repo_thread_cleanup: free this thread's compression contexts; worker
 * threads call it before they exit. */
void repo_thread_cleanup(void);

/* repo_pack_name: "data/<xx>/<hex id>" into out (80 bytes). */
void repo_pack_name(const uint8_t pack[CRYPTO_ID_LEN], char *out);

#endif
