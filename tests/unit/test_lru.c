/* test_lru — the byte-limited cache (lib/lru.h): the byte limit, what is
 * held is never disposed of, and the spent list (values read in full) with
 * its own bound, giving its room first and oldest first. */
#include <string.h>

#include "lib/lru.h"
#include "test.h"

static int disposed[64];

static void
dispose(void *v)
{
	disposed[*(int *)v]++;
	free(v);
}

struct want {
	int n;
	size_t size;
};

static int
load(void *ctx, const uint8_t key[32], void **ret, size_t *ret_size)
{
	struct want *w = ctx;
	int *v = malloc(sizeof(*v));

	(void)key;
	*v = w->n;
	*ret = v;
	*ret_size = w->size;
	return 0;
}

static void
key_of(int n, uint8_t key[32])
{
	memset(key, 0, 32);
	key[0] = (uint8_t)n;
	key[9] = 0x5a;
}

/* get: load (or hit) value n of size bytes; held unless release */
static struct lru_entry *
get(struct lru *c, int n, size_t size)
{
	struct want w = { n, size };
	struct lru_entry *e = NULL;
	uint8_t key[32];

	key_of(n, key);
	EXPECT(lru_get(c, key, load, &w, &e) == 0);
	EXPECT(e != NULL && *(int *)lru_value(e) == n);
	return e;
}

static int
present(struct lru *c, int n)
{
	uint8_t key[32];

	key_of(n, key);
	return lru_contains(c, key);
}

static void
test_limit(void)
{
	struct lru *c = lru_new(100, dispose);
	struct lru_entry *held;
	struct lru_stats st;

	memset(disposed, 0, sizeof(disposed));
	held = get(c, 1, 40);
	lru_release(c, get(c, 2, 40));
	lru_release(c, get(c, 3, 40));	/* 120 > 100: 2 goes (1 is held) */
	EXPECT(present(c, 1) && !present(c, 2) && present(c, 3));
	EXPECT(disposed[2] == 1 && disposed[1] == 0);
	lru_release(c, held);
	lru_release(c, get(c, 3, 40));	/* 3 most recent: 1 goes next */
	lru_release(c, get(c, 4, 40));
	EXPECT(!present(c, 1) && present(c, 3) && present(c, 4));
	lru_get_stats(c, &st);
	EXPECT(st.bytes == 80 && st.entries == 2 && st.evictions == 2);
	lru_free(c);
	EXPECT(disposed[3] == 1 && disposed[4] == 1);
}

static void
test_spent(void)
{
	struct lru *c = lru_new(100, dispose);
	struct lru_stats st;

	memset(disposed, 0, sizeof(disposed));
	lru_set_spent_limit(c, 30);
	/* read in full: kept while the spent bound allows, oldest out first */
	lru_release_demote(c, get(c, 1, 10));
	lru_release_demote(c, get(c, 2, 10));
	lru_release_demote(c, get(c, 3, 10));
	EXPECT(present(c, 1) && present(c, 2) && present(c, 3));
	lru_release_demote(c, get(c, 4, 10));	/* 40 > 30 spent: 1 goes */
	EXPECT(!present(c, 1) && present(c, 2) && present(c, 3) && present(c, 4));
	lru_get_stats(c, &st);
	EXPECT(st.spent == 30 && st.spent_limit == 30 && st.drops == 4 && st.bytes == 30);
	/* live values never go for the spent bound, and take the spent room
	 * first when the whole limit is reached: oldest spent first */
	lru_release(c, get(c, 10, 30));
	lru_release(c, get(c, 11, 30));		/* 90 */
	EXPECT(present(c, 2) && present(c, 10) && present(c, 11));
	lru_release(c, get(c, 12, 25));		/* 115 > 100: 2 and 3 go */
	EXPECT(!present(c, 2) && !present(c, 3) && present(c, 4));
	EXPECT(present(c, 10) && present(c, 11) && present(c, 12));
	/* a spent value asked for again is live again */
	lru_release(c, get(c, 4, 10));
	lru_get_stats(c, &st);
	EXPECT(st.spent == 0 && st.bytes == 95);
	lru_release(c, get(c, 13, 10));		/* 105: now the oldest live, 10 */
	EXPECT(!present(c, 10) && present(c, 4) && present(c, 11));
	/* a held value moved to spent by another holder stays until released */
	{
		struct lru_entry *a = get(c, 20, 5), *b = get(c, 20, 5);

		lru_release_demote(c, a);	/* b still holds it: not moved */
		lru_get_stats(c, &st);
		EXPECT(st.spent == 0);
		lru_release_demote(c, b);
		lru_get_stats(c, &st);
		EXPECT(st.spent == 5);
	}
	lru_free(c);
	for (int n = 1; n <= 20; n++)
		EXPECT(disposed[n] <= 1);
	EXPECT(disposed[1] == 1 && disposed[12] == 1 && disposed[20] == 1);
}

int
main(void)
{
	RUN(test_limit);
	RUN(test_spent);
	TEST_EXIT();
}
