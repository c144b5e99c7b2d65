/* varint — unsigned LEB128 and zig-zag signed integers for compact encodings. */
#ifndef IMDR_VARINT_H
#define IMDR_VARINT_H

#include <stdint.h>

#include "lib/buf.h"

void varint_put(struct buf *b, uint64_t v);
void varint_put_signed(struct buf *b, int64_t v);
/* varint_get: decode at *p (not past end), advance *p; 0, or -1 if truncated
 * or longer than 10 bytes. */
int varint_get(const uint8_t **p, const uint8_t *end, uint64_t *ret);
int varint_get_signed(const uint8_t **p, const uint8_t *end, int64_t *ret);

#endif
