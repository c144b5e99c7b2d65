/* chunker — FastCDC (Xia et al., 2016) with normalized chunking, level 2:
 * a harder mask before the average size and an easier one after it pull
 * chunk sizes towards the average. Hashing starts at the minimum size (cut
 * point skipping). The gear table comes from HMAC-SHA256 of the repository's
 * chunker key, so boundaries differ between repositories. */
#include "repo/chunker.h"

#include <stdlib.h>
#include <string.h>

#include "lib/buf.h"
#include "repo/crypto.h"

struct chunker {
	uint64_t gear[256];
	uint64_t mask_s, mask_l;
	uint32_t min, avg, max;
};

static uint64_t
top_bits(int k)
{
	if (k <= 0)
		return 0;
	if (k >= 64)
		return ~0ULL;
	return ((1ULL << k) - 1) << (64 - k);
}

struct chunker *
chunker_new(const uint8_t seed[32], uint32_t min, uint32_t avg, uint32_t max)
{
	struct chunker *c = xcalloc(1, sizeof(*c));
	uint8_t msg[8] = "gear", out[32];
	int bits = 0;

	for (int i = 0; i < 256; i++) {
		msg[4] = (uint8_t)i;
		crypto_hmac(seed, msg, 5, out);
		memcpy(&c->gear[i], out, 8);
	}
	while ((1U << (bits + 1)) <= avg)
		bits++;
	c->mask_s = top_bits(bits + 2);
	c->mask_l = top_bits(bits - 2);
	c->min = min;
	c->avg = avg;
	c->max = max;
	return c;
}

void
chunker_free(struct chunker *c)
{
	free(c);
}

uint32_t
chunker_max(const struct chunker *c)
{
	return c->max;
}

size_t
chunker_cut(const struct chunker *c, const uint8_t *p, size_t n, int eof)
{
	size_t end = n < c->max ? n : c->max, normal, i;
	uint64_t fp = 0;

	if (n <= c->min)
		return eof ? n : 0;
	if (!eof && n < c->max)
		return 0;	/* the caller keeps max bytes buffered */
	normal = c->avg < end ? c->avg : end;
	for (i = c->min; i < normal; i++) {
		fp = (fp << 1) + c->gear[p[i]];
		if (!(fp & c->mask_s))
			return i + 1;
	}
	for (; i < end; i++) {
		fp = (fp << 1) + c->gear[p[i]];
		if (!(fp & c->mask_l))
			return i + 1;
	}
	return end;
}
