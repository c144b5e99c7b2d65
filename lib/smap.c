/* smap — a string map to size_t (see smap.h). */
#include "lib/smap.h"

#include <stdlib.h>
#include <string.h>

#include "lib/buf.h"
#include "lib/hash.h"

static size_t
slot_of(const struct smap *m, const char *k)
{
	size_t i = (size_t)hash_keyed_str(k) & (m->cap - 1);

	while (m->k[i] && strcmp(m->k[i], k) != 0)
		i = (i + 1) & (m->cap - 1);
	return i;
}

int
smap_get(const struct smap *m, const char *k, size_t *ret)
{
	size_t i;

	if (m->cap == 0)
		return 0;
	i = slot_of(m, k);
	if (m->k[i] == NULL)
		return 0;
	if (ret)
		*ret = m->v[i];
	return 1;
}

void
smap_put(struct smap *m, const char *k, size_t v)
{
	size_t i;

	if ((m->n + 1) * 2 > m->cap) {
		struct smap o = *m;

		m->cap = m->cap ? m->cap * 2 : 64;
		m->k = xcalloc(m->cap, sizeof(*m->k));
		m->v = xcalloc(m->cap, sizeof(*m->v));
		m->n = 0;
		for (size_t j = 0; j < o.cap; j++)
			if (o.k[j]) {
				size_t s = slot_of(m, o.k[j]);

				m->k[s] = o.k[j];
				m->v[s] = o.v[j];
				m->n++;
			}
		free(o.k);
		free(o.v);
	}
	i = slot_of(m, k);
	if (m->k[i] == NULL) {
		m->k[i] = xstrdup(k);
		m->n++;
	}
	m->v[i] = v;
}

void
smap_free(struct smap *m)
{
	for (size_t i = 0; i < m->cap; i++)
		free(m->k[i]);
	free(m->k);
	free(m->v);
	memset(m, 0, sizeof(*m));
}
