/* hex — lower-case hex encoding of ids. */
#ifndef IMDR_HEX_H
#define IMDR_HEX_H

#include <stddef.h>
#include <stdint.h>

/* hex_encode: write 2n hex digits and a NUL to out (2n+1 bytes). */
void hex_encode(const uint8_t *in, size_t n, char *out);
/* hex_decode: exactly 2n hex digits from s into out; 0, or -1 if malformed. */
int hex_decode(const char *s, uint8_t *out, size_t n);
/* hex_valid: s is exactly n hex digits (and nothing else). */
int hex_valid(const char *s, size_t n);

#endif
