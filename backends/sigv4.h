/* sigv4 — AWS Signature Version 4, written with OpenSSL's HMAC and SHA-256
 * (curl's built-in signer sorts no query strings on Debian 12's curl). */
#ifndef IMDR_SIGV4_H
#define IMDR_SIGV4_H

#include <stddef.h>

#include "lib/buf.h"

struct sigv4_header {
	const char *name;	/* any case; signed lowercased */
	const char *value;	/* trimmed, inner runs of spaces folded */
};

struct sigv4_req {
	const char *method;
	const char *path;	/* already URI-encoded, as sent */
	const char *query;	/* raw "a=1&b=2" (unsorted, encoded), or "" */
	const struct sigv4_header *headers;	/* every header to sign */
	size_t nheaders;
	const char *payload_hash;	/* hex SHA-256 of the body */
	const char *amz_date;	/* 20150830T123600Z */
	const char *region, *service;
	const char *access_key, *secret_key;
};

/* sigv4_sign: the canonical request, the string to sign and the
 * Authorization header value; any ret_ may be NULL. */
void sigv4_sign(const struct sigv4_req *r, struct buf *ret_canonical,
    struct buf *ret_to_sign, struct buf *ret_authorization);

/* sigv4_uri_encode: RFC 3986 encoding of s (unreserved kept); with
 * keep_slash, '/' is kept too (S3 object paths). */
void sigv4_uri_encode(const char *s, int keep_slash, struct buf *out);

/* sigv4_sha256_hex: hex SHA-256 of n bytes (out: 65 bytes). */
void sigv4_sha256_hex(const void *p, size_t n, char *out);

#endif
