#include "lib/varint.h"

void
varint_put(struct buf *b, uint64_t v)
{
	uint8_t tmp[10];
	int n = 0;

	while (v >= 0x80) {
		tmp[n++] = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	tmp[n++] = (uint8_t)v;
	buf_append(b, tmp, (size_t)n);
}

void
varint_put_signed(struct buf *b, int64_t v)
{
	varint_put(b, ((uint64_t)v << 1) ^ (uint64_t)(v >> 63));
}

int
varint_get(const uint8_t **p, const uint8_t *end, uint64_t *ret)
{
	const uint8_t *q = *p;
	uint64_t v = 0;

	for (int shift = 0; shift < 70; shift += 7) {
		if (q >= end)
			return -1;
		v |= (uint64_t)(*q & 0x7f) << shift;
		if ((*q++ & 0x80) == 0) {
			*p = q;
			*ret = v;
			return 0;
		}
	}
	return -1;
}

int
varint_get_signed(const uint8_t **p, const uint8_t *end, int64_t *ret)
{
	uint64_t u;

	if (varint_get(p, end, &u) < 0)
		return -1;
	*ret = (int64_t)(u >> 1) ^ -(int64_t)(u & 1);
	return 0;
}
