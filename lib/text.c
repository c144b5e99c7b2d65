#include "lib/text.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

size_t
text_utf8_len(const unsigned char *p, size_t left)
{
	unsigned char c = p[0];
	unsigned char lo = 0x80, hi = 0xbf;
	size_t len;

	if (left == 0)
		return 0;
	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		len = 2;
	else if (c >= 0xe0 && c <= 0xef) {
		len = 3;
		if (c == 0xe0)
			lo = 0xa0;		/* overlong */
		else if (c == 0xed)
			hi = 0x9f;		/* UTF-16 surrogates */
	} else if (c >= 0xf0 && c <= 0xf4) {
		len = 4;
		if (c == 0xf0)
			lo = 0x90;		/* overlong */
		else if (c == 0xf4)
			hi = 0x8f;		/* above U+10FFFF */
	} else
		return 0;
	if (left < len || p[1] < lo || p[1] > hi)
		return 0;
	for (size_t i = 2; i < len; i++)
		if ((p[i] & 0xc0) != 0x80)
			return 0;
	return len;
}

/* decode: the code point of a well-formed character of len bytes. */
static uint32_t
decode(const unsigned char *p, size_t len)
{
	switch (len) {
	case 1: return p[0];
	case 2: return (uint32_t)(p[0] & 0x1f) << 6 | (p[1] & 0x3f);
	case 3: return (uint32_t)(p[0] & 0x0f) << 12 | (uint32_t)(p[1] & 0x3f) << 6 | (p[2] & 0x3f);
	default:
		return (uint32_t)(p[0] & 0x07) << 18 | (uint32_t)(p[1] & 0x3f) << 12 |
		    (uint32_t)(p[2] & 0x3f) << 6 | (p[3] & 0x3f);
	}
}

int
text_utf8_valid(const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0;

	while (i < n) {
		size_t l = text_utf8_len(p + i, n - i);

		if (l == 0)
			return 0;
		i += l;
	}
	return 1;
}

size_t
text_utf8_cut(const char *s, size_t max)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n = strlen(s), i = 0;

	if (n <= max)
		return n;
	while (i < max) {
		size_t l = text_utf8_len(p + i, n - i);

		if (l == 0)
			l = 1;		/* an undecodable byte stands alone */
		if (i + l > max)
			break;
		i += l;
	}
	return i;
}

char *
text_utf8_lossy(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n = strlen(s), i = 0;
	struct buf b = BUF_INIT;

	while (i < n) {
		size_t l = text_utf8_len(p + i, n - i);

		if (l == 0) {
			buf_append(&b, "\xef\xbf\xbd", 3);
			i++;
		} else {
			buf_append(&b, p + i, l);
			i += l;
		}
	}
	buf_cstr(&b);
	return (char *)buf_steal(&b, NULL);
}

/* term_unsafe: a code point a terminal must not get raw. */
static int
term_unsafe(uint32_t cp)
{
	return cp < 0x20 || cp == 0x7f || (cp >= 0x80 && cp <= 0x9f) ||
	    cp == 0x2028 || cp == 0x2029 || (cp >= 0x202a && cp <= 0x202e) ||
	    (cp >= 0x2066 && cp <= 0x2069);
}

void
text_escape_term(struct buf *out, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n = strlen(s), i = 0;

	while (i < n) {
		size_t l = text_utf8_len(p + i, n - i);
		uint32_t cp;

		if (l == 0) {
			buf_printf(out, "\\x%02x", p[i]);
			i++;
			continue;
		}
		cp = decode(p + i, l);
		if (!term_unsafe(cp))
			buf_append(out, p + i, l);
		else if (cp == '\n')
			buf_puts(out, "\\n");
		else if (cp == '\r')
			buf_puts(out, "\\r");
		else if (cp == '\t')
			buf_puts(out, "\\t");
		else if (cp < 0x80)
			buf_printf(out, "\\x%02x", (unsigned)cp);
		else
			buf_printf(out, "\\u%04x", (unsigned)cp);
		i += l;
	}
}

int
text_needs_term_escape(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n = strlen(s), i = 0;

	while (i < n) {
		size_t l = text_utf8_len(p + i, n - i);

		if (l == 0 || term_unsafe(decode(p + i, l)))
			return 1;
		i += l;
	}
	return 0;
}

void
text_fputs_term(FILE *f, const char *s)
{
	struct buf b = BUF_INIT;

	if (!text_needs_term_escape(s)) {
		fputs(s, f);
		return;
	}
	text_escape_term(&b, s);
	fwrite(b.data, 1, b.len, f);
	buf_free(&b);
}

static const char b64[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

char *
text_base64(const void *data, size_t n)
{
	const unsigned char *p = data;
	char *out = xmalloc((n + 2) / 3 * 4 + 1), *o = out;

	for (size_t i = 0; i < n; i += 3) {
		uint32_t v = (uint32_t)p[i] << 16;

		if (i + 1 < n)
			v |= (uint32_t)p[i + 1] << 8;
		if (i + 2 < n)
			v |= p[i + 2];
		*o++ = b64[v >> 18 & 63];
		*o++ = b64[v >> 12 & 63];
		*o++ = i + 1 < n ? b64[v >> 6 & 63] : '=';
		*o++ = i + 2 < n ? b64[v & 63] : '=';
	}
	*o = '\0';
	return out;
}

int
text_unbase64(const char *s, struct buf *out)
{
	size_t n = strlen(s);

	out->len = 0;
	if (n % 4 != 0)
		return -1;
	for (size_t i = 0; i < n; i += 4) {
		uint32_t v = 0;
		int pad = 0;

		for (int k = 0; k < 4; k++) {
			const char *c = s[i + k] ? strchr(b64, s[i + k]) : NULL;

			if (s[i + k] == '=' && i + 4 == n && k >= 2 && (k == 3 || s[i + 3] == '=')) {
				pad++;
				v <<= 6;
				continue;
			}
			if (c == NULL || pad)
				return -1;
			v = v << 6 | (uint32_t)(c - b64);
		}
		buf_putc(out, (uint8_t)(v >> 16));
		if (pad < 2)
			buf_putc(out, (uint8_t)(v >> 8));
		if (pad < 1)
			buf_putc(out, (uint8_t)v);
	}
	buf_cstr(out);
	return 0;
}
