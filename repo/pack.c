/* pack — see pack.h. The header is sealed with associated data naming the
 * pack id, so a header cannot be moved to another pack. */
#include "repo/pack.h"

#include <stdlib.h>
#include <string.h>

#include "lib/err.h"
#include "repo/repo_impl.h"
#include "lib/hex.h"
#include "lib/varint.h"

#define PACK_HDR_VERSION 1
#define PACK_TAIL_GUESS (64 * 1024)

struct pack_writer {
	uint8_t id[CRYPTO_ID_LEN];
	enum blob_type type;
	struct buf data;
	struct pack_entry *e;
	size_t n, cap;
};

struct pack_writer *
pack_writer_new(enum blob_type type)
{
	struct pack_writer *pw = xcalloc(1, sizeof(*pw));

	crypto_random(pw->id, sizeof(pw->id));
	pw->type = type;
	return pw;
}

void
pack_writer_free(struct pack_writer *pw)
{
	if (pw == NULL)
		return;
	buf_free(&pw->data);
	free(pw->e);
	free(pw);
}

/* PACK_ALIGN: a pack's memory starts on a page, so that a local
 * repository writes it with O_DIRECT without copying it first
 * (backends/local.c); one grown past its reservation loses that, and is
 * copied there. */
#define PACK_ALIGN 4096

void
pack_writer_reserve(struct pack_writer *pw, size_t n)
{
	void *p;

	if (n + 1 <= pw->data.cap)
		return;
	if (posix_memalign(&p, PACK_ALIGN, n + 1) == 0) {
		if (pw->data.len)
			memcpy(p, pw->data.data, pw->data.len);
		buf_free(&pw->data);
		pw->data.data = p;
		pw->data.cap = n + 1;
		return;
	}
	buf_reserve(&pw->data, n - pw->data.len);
}

void
pack_writer_adopt(struct pack_writer *pw, struct buf *b)
{
	buf_rewind(b);
	if (pw->data.len == 0 && b->cap > pw->data.cap) {
		buf_free(&pw->data);
		pw->data = *b;
		pw->data.len = 0;
		*b = (struct buf)BUF_INIT;
	}
	buf_free(b);
}

const uint8_t *
pack_writer_id(const struct pack_writer *pw)
{
	return pw->id;
}

size_t
pack_writer_size(const struct pack_writer *pw)
{
	return pw->data.len;
}

size_t
pack_writer_count(const struct pack_writer *pw)
{
	return pw->n;
}

void
pack_writer_add(struct pack_writer *pw, const uint8_t id[CRYPTO_ID_LEN],
    const uint8_t *sealed, size_t n, uint32_t raw_length,
    struct blob_ref *ret_ref)
{
	struct pack_entry *e;

	if (pw->n == pw->cap) {
		pw->cap = pw->cap ? pw->cap * 2 : 64;
		pw->e = xrealloc(pw->e, pw->cap * sizeof(*pw->e));
	}
	e = &pw->e[pw->n++];
	e->type = (uint8_t)pw->type;
	memcpy(e->ref.id, id, CRYPTO_ID_LEN);
	memcpy(e->ref.pack, pw->id, CRYPTO_ID_LEN);
	e->ref.offset = pw->data.len;
	e->ref.length = (uint32_t)n;
	e->ref.raw_length = raw_length;
	buf_append(&pw->data, sealed, n);
	if (ret_ref)
		*ret_ref = e->ref;
}

static size_t
header_aad(uint8_t *aad, const uint8_t id[CRYPTO_ID_LEN])
{
	memcpy(aad, "imdr1", 5);
	aad[5] = OBJ_PACKHDR;
	memcpy(aad + 6, id, CRYPTO_ID_LEN);
	return 6 + CRYPTO_ID_LEN;
}

void
pack_writer_finish(struct pack_writer *pw, const struct repo *r,
    struct buf *ret_data, struct pack_entry **ret_entries, size_t *ret_n)
{
	struct buf hdr = BUF_INIT;
	uint8_t aad[6 + CRYPTO_ID_LEN];
	size_t aadlen = header_aad(aad, pw->id), sealed_len;

	buf_putc(&hdr, PACK_HDR_VERSION);
	varint_put(&hdr, pw->n);
	for (size_t i = 0; i < pw->n; i++) {
		buf_putc(&hdr, pw->e[i].type);
		buf_append(&hdr, pw->e[i].ref.id, CRYPTO_ID_LEN);
		varint_put(&hdr, pw->e[i].ref.offset);
		varint_put(&hdr, pw->e[i].ref.length);
		varint_put(&hdr, pw->e[i].ref.raw_length);
	}
	sealed_len = hdr.len + CRYPTO_OVERHEAD;
	buf_reserve(&pw->data, sealed_len + 4);
	crypto_seal(repo_keys(r)->enc, aad, aadlen, hdr.data, hdr.len,
	    pw->data.data + pw->data.len);
	pw->data.len += sealed_len;
	buf_put_u32le(&pw->data, (uint32_t)sealed_len);
	buf_free(&hdr);
	*ret_data = pw->data;
	buf_init(&pw->data);
	*ret_entries = pw->e;
	*ret_n = pw->n;
	pw->e = NULL;
	pw->n = pw->cap = 0;
}

int
pack_parse_header(const struct repo *r, const uint8_t id[CRYPTO_ID_LEN],
    const uint8_t *tail, size_t n, struct pack_entry **ret_entries,
    size_t *ret_n)
{
	uint8_t aad[6 + CRYPTO_ID_LEN];
	size_t aadlen = header_aad(aad, id);
	struct buf hdr = BUF_INIT;
	uint32_t slen;
	char hex[65];
	int rc = IMDR_OK;

	hex_encode(id, CRYPTO_ID_LEN, hex);
	if (n < 4 + CRYPTO_OVERHEAD)
		return err_set(IMDR_EFORMAT, "pack %s is too short to hold a header", hex);
	slen = get_u32le(tail + n - 4);
	if (slen > repo_object_max(r, OBJ_PACKHDR))
		return err_set(IMDR_EFORMAT, "pack %s: header length %u is more than a header can be (%llu)",
		    hex, slen, (unsigned long long)repo_object_max(r, OBJ_PACKHDR));
	if (slen < CRYPTO_OVERHEAD || (size_t)slen > n - 4)
		return err_set(IMDR_EFORMAT, "pack %s: bad header length %u (truncated pack?)",
		    hex, slen);
	buf_reserve(&hdr, slen);
	if (crypto_open(repo_keys(r)->enc, aad, aadlen, tail + n - 4 - slen, slen,
	    hdr.data) != IMDR_OK) {
		rc = err_set(IMDR_EAUTH, "pack %s: header failed authentication (corrupt or tampered)",
		    hex);
		goto out;
	}
	hdr.len = slen - CRYPTO_OVERHEAD;
	rc = pack_parse_header_plain(id, hdr.data, hdr.len, ret_entries, ret_n);
out:
	buf_free(&hdr);
	return rc;
}

int
pack_parse_header_plain(const uint8_t id[CRYPTO_ID_LEN], const uint8_t *plain,
    size_t n, struct pack_entry **ret_entries, size_t *ret_n)
{
	struct pack_entry *e = NULL;
	const uint8_t *p = plain, *end = plain + n;
	uint64_t count = 0, v;
	char hex[65];
	int rc = IMDR_OK;

	hex_encode(id, CRYPTO_ID_LEN, hex);
	if (p >= end || *p++ != PACK_HDR_VERSION || varint_get(&p, end, &count) ||
	    count > n / (1 + CRYPTO_ID_LEN)) {
		rc = err_set(IMDR_EFORMAT, "pack %s: malformed header", hex);
		goto out;
	}
	e = xcalloc(count ? count : 1, sizeof(*e));
	for (uint64_t i = 0; i < count; i++) {
		if (end - p < 1 + CRYPTO_ID_LEN)
			goto bad;
		e[i].type = *p++;
		memcpy(e[i].ref.id, p, CRYPTO_ID_LEN);
		p += CRYPTO_ID_LEN;
		memcpy(e[i].ref.pack, id, CRYPTO_ID_LEN);
		if (varint_get(&p, end, &e[i].ref.offset) || e[i].ref.offset > UINT32_MAX)
			goto bad;
		if (varint_get(&p, end, &v) || v > UINT32_MAX)
			goto bad;
		e[i].ref.length = (uint32_t)v;
		if (varint_get(&p, end, &v) || v > UINT32_MAX)
			goto bad;
		e[i].ref.raw_length = (uint32_t)v;
		if (e[i].type > BLOB_TREE)
			goto bad;
	}
	*ret_entries = e;
	*ret_n = count;
	e = NULL;
	goto out;
bad:
	rc = err_set(IMDR_EFORMAT, "pack %s: malformed header", hex);
out:
	free(e);
	return rc;
}

int
pack_read_header(struct repo *r, const uint8_t id[CRYPTO_ID_LEN], uint64_t size,
    struct pack_entry **ret_entries, size_t *ret_n)
{
	struct buf tail = BUF_INIT;
	struct backend_read rd = { 0, 0, 0 };
	char name[80], *first = NULL;
	uint64_t want;
	uint32_t slen;
	int rc;

	repo_pack_name(id, name);
	if (size == 0) {
		rc = backend_stat(repo_be(r), name, &size);
		if (rc)
			return rc;
	}
	if (size < 4 + CRYPTO_OVERHEAD)
		return err_set(IMDR_EFORMAT, "pack %s is truncated (%llu bytes)", name,
		    (unsigned long long)size);
	if (size > repo_pack_max(r))
		return err_set(IMDR_EFORMAT, "%s is %llu bytes, more than any pack can be (%llu); not reading it",
		    name, (unsigned long long)size, (unsigned long long)repo_pack_max(r));
	/* A header that fails authentication is read again from another
	 * replica, if there is one. */
	for (;;) {
		/* One guess at the tail usually holds the whole header. */
		want = size < PACK_TAIL_GUESS ? size : PACK_TAIL_GUESS;
		rc = backend_get_ex(repo_be(r), name, size - want, want, &tail, &rd);
		if (rc == IMDR_OK) {
			slen = get_u32le(tail.data + tail.len - 4);
			if ((uint64_t)slen + 4 > want && (uint64_t)slen + 4 <= size &&
			    slen <= repo_object_max(r, OBJ_PACKHDR)) {
				want = (uint64_t)slen + 4;
				rc = backend_get_ex(repo_be(r), name, size - want, want, &tail, &rd);
			}
		}
		if (rc) {
			if (first)
				rc = err_set(IMDR_EAUTH, "%s", first);
			break;
		}
		rc = pack_parse_header(r, id, tail.data, tail.len, ret_entries, ret_n);
		/* before authentication, a bad length is damage too */
		if ((rc != IMDR_EAUTH && rc != IMDR_EFORMAT) || repo_replica_count(r) < 2)
			break;
		backend_bad_object(repo_be(r), rd.replica, name, err_msg(rc));
		if (first == NULL)
			first = xstrdup(err_msg(rc));
		rd.exclude |= 1u << rd.replica;
		err_clear();
	}
	free(first);
	buf_free(&tail);
	return rc;
}
