/* text — UTF-8 and escaping helpers for names that come from outside
 * (exports, archives, folders): they may hold bytes that are not UTF-8,
 * control characters and terminal escape sequences. JSON needs valid
 * UTF-8; a terminal must never receive a name's control bytes raw. */
#ifndef IMDR_TEXT_H
#define IMDR_TEXT_H

#include <stddef.h>
#include <stdio.h>

#include "lib/buf.h"

/* text_utf8_len: length (1..4) of the well-formed UTF-8 character at p,
 * looking at no more than left bytes; 0 when the bytes there do not start
 * one (a stray continuation byte, an overlong form, a surrogate, a code
 * point above U+10FFFF, or a sequence cut short). */
size_t text_utf8_len(const unsigned char *p, size_t left);

/* text_utf8_valid: all n bytes of s are well-formed UTF-8. */
int text_utf8_valid(const char *s, size_t n);

/* text_utf8_cut: the largest length <= max (and <= strlen(s)) at which s
 * can be cut without splitting a UTF-8 character. Undecodable bytes count
 * as one character each. */
size_t text_utf8_cut(const char *s, size_t max);

/* text_utf8_lossy: s with every byte that is not part of a well-formed
 * UTF-8 character replaced by U+FFFD; caller frees. */
char *text_utf8_lossy(const char *s);

/* text_escape_term: append s to out in a form safe for a terminal or a
 * one-line log: C0 controls and DEL as \n, \r, \t or \xHH; undecodable
 * bytes as \xHH; C1 controls, U+2028/U+2029 (line and paragraph
 * separators) and the bidirectional overrides (U+202A..U+202E,
 * U+2066..U+2069) as \uHHHH. Everything else is copied as it is. */
void text_escape_term(struct buf *out, const char *s);

/* text_fputs_term: text_escape_term straight to f. */
void text_fputs_term(FILE *f, const char *s);

/* text_needs_term_escape: would text_escape_term change s? */
int text_needs_term_escape(const char *s);

/* text_base64: standard base64 (RFC 4648, with padding) of n bytes;
 * caller frees. */
char *text_base64(const void *p, size_t n);

/* text_unbase64: decode s into out (replacing its contents, NUL-terminated
 * after len). 0, or -1 when s is not canonical base64. */
int text_unbase64(const char *s, struct buf *out);

#endif
