/* pack — packs hold sealed blobs of one type, then a sealed header listing
 * them, then the header's sealed length as 4 bytes little-endian. A pack's id
 * is random, so a blob's location is known the moment it is added. */
#ifndef IMDR_PACK_H
#define IMDR_PACK_H

#include <stddef.h>
#include <stdint.h>

#include "repo/repo.h"

struct pack_entry {
	uint8_t type;			/* enum blob_type */
	struct blob_ref ref;
};

struct pack_writer;

/* pack_writer_new: an empty pack with a fresh random id. */
struct pack_writer *pack_writer_new(enum blob_type type);
void pack_writer_free(struct pack_writer *pw);
/* pack_writer_adopt: use b's memory for an empty pack (a finished pack's,
 * already faulted in); b is emptied. */
void pack_writer_adopt(struct pack_writer *pw, struct buf *b);
/* pack_writer_reserve: allocate room for n bytes up front, so a growing
 * pack is not copied again and again. */
void pack_writer_reserve(struct pack_writer *pw, size_t n);
const uint8_t *pack_writer_id(const struct pack_writer *pw);
size_t pack_writer_size(const struct pack_writer *pw);
size_t pack_writer_count(const struct pack_writer *pw);

/* pack_writer_add: append sealed blob bytes; *ret_ref gets the location. */
void pack_writer_add(struct pack_writer *pw, const uint8_t id[CRYPTO_ID_LEN],
    const uint8_t *sealed, size_t n, uint32_t raw_length,
    struct blob_ref *ret_ref);

/* pack_writer_finish: append the sealed header and trailer. *ret_data
 * (caller frees with buf_free) holds the whole pack; *ret_entries (caller
 * frees) lists the blobs. The writer is spent afterwards. */
void pack_writer_finish(struct pack_writer *pw, const struct repo *r,
    struct buf *ret_data, struct pack_entry **ret_entries, size_t *ret_n);

/* pack_read_header: read and authenticate the header of pack id (size may be
 * 0 when unknown: then it is asked of the backend). */
int pack_read_header(struct repo *r, const uint8_t id[CRYPTO_ID_LEN],
    uint64_t size, struct pack_entry **ret_entries, size_t *ret_n);

/* pack_parse_header: authenticate and decode a header from the pack's tail
 * bytes (the whole pack, or at least header + trailer). */
int pack_parse_header(const struct repo *r, const uint8_t id[CRYPTO_ID_LEN],
    const uint8_t *tail, size_t n, struct pack_entry **ret_entries,
    size_t *ret_n);

/* pack_parse_header_plain: decode a header's plaintext (what
 * pack_parse_header decrypts) of pack id. IMDR_EFORMAT when malformed. */
int pack_parse_header_plain(const uint8_t id[CRYPTO_ID_LEN], const uint8_t *plain,
    size_t n, struct pack_entry **ret_entries, size_t *ret_n);

#endif
