/* chunker — content-defined chunking (FastCDC with normalized chunking and a
 * gear table keyed from the repository's chunker key, so chunk boundaries
 * reveal nothing about content to someone without the key). */
#ifndef IMDR_CHUNKER_H
#define IMDR_CHUNKER_H

#include <stddef.h>
#include <stdint.h>

struct chunker;

/* chunker_new: gear table from seed; min <= avg <= max, avg a power of 2. */
struct chunker *chunker_new(const uint8_t seed[32], uint32_t min, uint32_t avg,
    uint32_t max);
void chunker_free(struct chunker *c);
uint32_t chunker_max(const struct chunker *c);

/* chunker_cut: the length of the next chunk starting at p. n is what is
 * buffered; eof says nothing follows it. Returns 0 when more data is needed
 * (only if !eof and n < max); otherwise a length in 1..min(n, max). */
size_t chunker_cut(const struct chunker *c, const uint8_t *p, size_t n, int eof);

#endif
