/* store — the write side of a backup: blobs in, packs out, in parallel.
 *
 * The reading thread hands chunks to store_add(); worker threads compute
 * each blob id, skip blobs the index already has, compress, encrypt and add
 * them to the open pack; full packs go to uploader threads. Memory is bounded:
 * store_add() blocks while more than a set number of bytes are queued.
 * Index objects are written every few packs, so an interrupted backup's packs
 * are found again by the next run. */
#ifndef IMDR_STORE_H
#define IMDR_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "repo/index.h"
#include "repo/repo.h"

struct store;

struct store_opts {
	int workers;			/* 0: number of CPUs */
	int uploaders;			/* 0: 2 (more for remote backends) */
	size_t queue_bytes;		/* 0: 16 MiB */
};

struct store_stats {
	uint64_t blobs_new, blobs_dup;
	uint64_t bytes_in;		/* plaintext submitted */
	uint64_t bytes_new;		/* plaintext of new blobs */
	uint64_t bytes_stored;		/* sealed bytes of new blobs */
	uint64_t packs_uploaded;
	uint64_t bytes_uploaded;
};

int store_new(struct repo *r, struct index *idx, const struct store_opts *opts,
    struct store **ret);

/* store_alloc: a buffer for n bytes of a blob to pass to store_add (from a
 * pool: chunk memory is reused). store_release gives one back unused. */
uint8_t *store_alloc(struct store *s, size_t n);
void store_release(struct store *s, uint8_t *data);

/* store_add: take ownership of data (from store_alloc, n bytes); the blob id is
 * written to id_slot (which must stay valid until store_flush) by a worker.
 * Returns an error already met by a worker or an uploader, if any. */
int store_add(struct store *s, enum blob_type type, uint8_t *data, size_t n,
    uint8_t *id_slot);
/* store_add_level: the same, compressed at zstd level `level` without a
 * probe (repo_blob_seal_level; 0: as store_add). */
int store_add_level(struct store *s, enum blob_type type, uint8_t *data, size_t n,
    int level, uint8_t *id_slot);

/* store_put_sync: store one blob now (used for tree nodes); *ret_ref gets
 * its location, whether new or already present. */
int store_put_sync(struct store *s, enum blob_type type, const void *data,
    size_t n, struct blob_ref *ret_ref);

/* store_flush: wait for every queued blob, write out the open packs and a
 * final index object. Returns the first error met. */
int store_flush(struct store *s);

void store_get_stats(struct store *s, struct store_stats *ret);

/* store_free: stop threads; an unflushed store discards its queue. */
void store_free(struct store *s);

#endif
