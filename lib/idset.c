#include "lib/idset.h"

#include <stdlib.h>
#include <string.h>

#include "lib/buf.h"

struct slot {
	uint8_t id[32];
	uint64_t value;
	uint8_t used;
};

struct idset {
	struct slot *tab;
	size_t cap, n;
};

struct idset *
idset_new(void)
{
	struct idset *s = xcalloc(1, sizeof(*s));

	s->cap = 64;
	s->tab = xcalloc(s->cap, sizeof(*s->tab));
	return s;
}

void
idset_free(struct idset *s)
{
	if (s == NULL)
		return;
	free(s->tab);
	free(s);
}

static struct slot *
find(struct slot *tab, size_t cap, const uint8_t *id)
{
	uint64_t h;
	size_t i;

	memcpy(&h, id, sizeof(h));
	for (i = h & (cap - 1); tab[i].used && memcmp(tab[i].id, id, 32) != 0;
	    i = (i + 1) & (cap - 1))
		;
	return &tab[i];
}

int
idset_put(struct idset *s, const uint8_t id[32], uint64_t value)
{
	struct slot *e;

	if ((s->n + 1) * 4 > s->cap * 3) {
		size_t ncap = s->cap * 2;
		struct slot *nt = xcalloc(ncap, sizeof(*nt));

		for (size_t i = 0; i < s->cap; i++)
			if (s->tab[i].used)
				*find(nt, ncap, s->tab[i].id) = s->tab[i];
		free(s->tab);
		s->tab = nt;
		s->cap = ncap;
	}
	e = find(s->tab, s->cap, id);
	e->value = value;
	if (e->used)
		return 0;
	memcpy(e->id, id, 32);
	e->used = 1;
	s->n++;
	return 1;
}

int
idset_get(const struct idset *s, const uint8_t id[32], uint64_t *ret_value)
{
	struct slot *e = find(s->tab, s->cap, id);

	if (!e->used)
		return 0;
	if (ret_value)
		*ret_value = e->value;
	return 1;
}

size_t
idset_count(const struct idset *s)
{
	return s->n;
}

int
idset_each(const struct idset *s, int (*fn)(void *ctx, const uint8_t id[32],
    uint64_t value), void *ctx)
{
	for (size_t i = 0; i < s->cap; i++) {
		int rc;

		if (!s->tab[i].used)
			continue;
		rc = fn(ctx, s->tab[i].id, s->tab[i].value);
		if (rc)
			return rc;
	}
	return 0;
}
