/* moved — see moved.h. */
#include "repo/moved.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/err.h"
#include "lib/hex.h"
#include "lib/varint.h"
#include "repo/repo_impl.h"

#define MOVED_VERSION 1

void
moved_name(const uint8_t pack[CRYPTO_ID_LEN], char *out)
{
	char hex[65];

	hex_encode(pack, CRYPTO_ID_LEN, hex);
	snprintf(out, 80, "moved/%s", hex);
}

static int
cmp_entry(const void *a, const void *b)
{
	const struct pack_entry *x = a, *y = b;

	return memcmp(x->ref.id, y->ref.id, CRYPTO_ID_LEN);
}

int
moved_write(struct repo *r, const uint8_t pack[CRYPTO_ID_LEN],
    const struct pack_entry *e, size_t n)
{
	struct buf b = BUF_INIT;
	char name[80];
	int rc;

	moved_name(pack, name);
	buf_putc(&b, MOVED_VERSION);
	varint_put(&b, n);
	for (size_t i = 0; i < n; i++) {
		buf_putc(&b, e[i].type);
		buf_append(&b, e[i].ref.id, CRYPTO_ID_LEN);
		buf_append(&b, e[i].ref.pack, CRYPTO_ID_LEN);
		varint_put(&b, e[i].ref.offset);
		varint_put(&b, e[i].ref.length);
		varint_put(&b, e[i].ref.raw_length);
	}
	rc = repo_put_sealed(r, OBJ_MOVED, name, b.data, b.len);
	if (rc == IMDR_EEXIST) {
		/* left by a prune that stopped before removing the pack: the
		 * pack is still there, so no reader needs the old map */
		err_clear();
		rc = backend_del(repo_be(r), name);
		if (rc == IMDR_OK)
			rc = repo_put_sealed(r, OBJ_MOVED, name, b.data, b.len);
	}
	buf_free(&b);
	return rc;
}

int
moved_parse(const char *name, const uint8_t *p, size_t n, struct pack_entry **ret,
    size_t *ret_n)
{
	const uint8_t *end = p + n;
	struct pack_entry *e = NULL;
	uint64_t count, v;

	if (n < 1 || *p++ != MOVED_VERSION || varint_get(&p, end, &count) ||
	    count > n / (1 + 2 * CRYPTO_ID_LEN))
		goto bad;
	e = xcalloc(count ? count : 1, sizeof(*e));
	for (uint64_t i = 0; i < count; i++) {
		if (end - p < 1 + 2 * CRYPTO_ID_LEN)
			goto bad;
		e[i].type = *p++;
		memcpy(e[i].ref.id, p, CRYPTO_ID_LEN);
		memcpy(e[i].ref.pack, p + CRYPTO_ID_LEN, CRYPTO_ID_LEN);
		p += 2 * CRYPTO_ID_LEN;
		if (e[i].type > BLOB_TREE || varint_get(&p, end, &e[i].ref.offset) ||
		    varint_get(&p, end, &v) || v > UINT32_MAX)
			goto bad;
		e[i].ref.length = (uint32_t)v;
		if (varint_get(&p, end, &v) || v > UINT32_MAX)
			goto bad;
		e[i].ref.raw_length = (uint32_t)v;
	}
	if (p != end)
		goto bad;
	if (count > 1)
		qsort(e, count, sizeof(*e), cmp_entry);
	*ret = e;
	*ret_n = count;
	return IMDR_OK;
bad:
	free(e);
	return err_set(IMDR_EFORMAT, "%s is malformed", name);
}

int
moved_load(struct repo *r, const uint8_t pack[CRYPTO_ID_LEN], struct pack_entry **ret,
    size_t *ret_n)
{
	struct buf b = BUF_INIT;
	char name[80];
	int rc;

	moved_name(pack, name);
	rc = repo_get_sealed(r, OBJ_MOVED, name, &b);
	if (rc == IMDR_OK)
		rc = moved_parse(name, b.data, b.len, ret, ret_n);
	buf_free(&b);
	return rc;
}

const struct pack_entry *
moved_find(const struct pack_entry *e, size_t n, const uint8_t id[CRYPTO_ID_LEN])
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = memcmp(e[mid].ref.id, id, CRYPTO_ID_LEN);

		if (c == 0)
			return &e[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}
