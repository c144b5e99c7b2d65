#include "lib/lru.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "lib/buf.h"
#include "lib/err.h"

enum { LOADING, READY };

struct lru_entry {
	uint8_t key[32];
	int state;
	int refs;
	int rc;			/* load result, for waiters */
	char *msg;		/* and its message (err_set is per thread) */
	void *value;
	size_t size;
	struct lru_entry *prev, *next;	/* its list, most recent at head */
	struct lru_entry *hnext;	/* hash chain */
	int in_table;
	int spent;		/* on the spent list (lru_release_demote) */
};

/* A list: the LRU list of entries in use or wanted, or the spent list of
 * entries used up. */
struct lru_list {
	struct lru_entry *head, *tail;
};

struct lru {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	lru_dispose_fn dispose;
	struct lru_entry **tab;
	size_t cap, n;
	struct lru_list live, spent;
	size_t spent_bytes, spent_limit;
	struct lru_stats st;
};

static size_t
bucket(const struct lru *c, const uint8_t *key)
{
	uint64_t h;

	memcpy(&h, key, sizeof(h));
	return h & (c->cap - 1);
}

struct lru *
lru_new(size_t max_bytes, lru_dispose_fn dispose)
{
	struct lru *c = xcalloc(1, sizeof(*c));

	pthread_mutex_init(&c->mu, NULL);
	pthread_cond_init(&c->cv, NULL);
	c->dispose = dispose;
	c->cap = 1024;
	c->tab = xcalloc(c->cap, sizeof(*c->tab));
	c->st.limit = max_bytes;
	c->spent_limit = max_bytes;
	return c;
}

static void
destroy(struct lru *c, struct lru_entry *e)
{
	if (e->value && c->dispose)
		c->dispose(e->value);
	free(e);
}

void
lru_free(struct lru *c)
{
	if (c == NULL)
		return;
	for (size_t i = 0; i < c->cap; i++) {
		struct lru_entry *e = c->tab[i];

		while (e) {
			struct lru_entry *next = e->hnext;

			destroy(c, e);
			e = next;
		}
	}
	free(c->tab);
	pthread_mutex_destroy(&c->mu);
	pthread_cond_destroy(&c->cv);
	free(c);
}

static struct lru_entry *
find(struct lru *c, const uint8_t *key)
{
	for (struct lru_entry *e = c->tab[bucket(c, key)]; e; e = e->hnext)
		if (memcmp(e->key, key, 32) == 0)
			return e;
	return NULL;
}

static void
unhash(struct lru *c, struct lru_entry *e)
{
	struct lru_entry **pp = &c->tab[bucket(c, e->key)];

	while (*pp != e)
		pp = &(*pp)->hnext;
	*pp = e->hnext;
	e->in_table = 0;
	c->n--;
}

/* list_unlink: e out of whichever list holds it. */
static void
list_unlink(struct lru *c, struct lru_entry *e)
{
	struct lru_list *l = e->spent ? &c->spent : &c->live;

	if (e->prev)
		e->prev->next = e->next;
	else if (l->head == e)
		l->head = e->next;
	if (e->next)
		e->next->prev = e->prev;
	else if (l->tail == e)
		l->tail = e->prev;
	e->prev = e->next = NULL;
	if (e->spent) {
		c->spent_bytes -= e->size;
		e->spent = 0;
	}
}

/* list_push: e at the head of the live list, or of the spent one. */
static void
list_push(struct lru *c, struct lru_entry *e, int spent)
{
	struct lru_list *l = spent ? &c->spent : &c->live;

	e->prev = NULL;
	e->next = l->head;
	if (l->head)
		l->head->prev = e;
	l->head = e;
	if (l->tail == NULL)
		l->tail = e;
	e->spent = spent;
	if (spent)
		c->spent_bytes += e->size;
}

static void
grow(struct lru *c)
{
	size_t ncap = c->cap * 2;
	struct lru_entry **nt = xcalloc(ncap, sizeof(*nt));

	for (size_t i = 0; i < c->cap; i++) {
		struct lru_entry *e = c->tab[i];

		while (e) {
			struct lru_entry *next = e->hnext;
			uint64_t h;

			memcpy(&h, e->key, sizeof(h));
			e->hnext = nt[h & (ncap - 1)];
			nt[h & (ncap - 1)] = e;
			e = next;
		}
	}
	free(c->tab);
	c->tab = nt;
	c->cap = ncap;
}

/* evict_from: from list l, oldest first, until over() is false; caller
 * holds mu. Victims are chained on *victims. */
static void
evict_from(struct lru *c, struct lru_list *l, int (*over)(const struct lru *),
    struct lru_entry **victims)
{
	struct lru_entry *e = l->tail;

	while (over(c) && e) {
		struct lru_entry *prev = e->prev;

		if (e->refs == 0 && e->state == READY) {
			list_unlink(c, e);
			unhash(c, e);
			c->st.bytes -= e->size;
			c->st.evictions++;
			e->hnext = *victims;
			*victims = e;
		}
		e = prev;
	}
}

static int
over_limit(const struct lru *c)
{
	return c->st.bytes > c->st.limit;
}

static int
over_spent(const struct lru *c)
{
	return c->spent_bytes > c->spent_limit;
}

/* evict: caller holds mu; collects victims to dispose of outside the lock.
 * The spent list is kept within its own bound, and gives its room first. */
static struct lru_entry *
evict(struct lru *c)
{
	struct lru_entry *victims = NULL;

	evict_from(c, &c->spent, over_spent, &victims);
	evict_from(c, &c->spent, over_limit, &victims);
	evict_from(c, &c->live, over_limit, &victims);
	return victims;
}

static void
dispose_list(struct lru *c, struct lru_entry *v)
{
	while (v) {
		struct lru_entry *next = v->hnext;

		destroy(c, v);
		v = next;
	}
}

int
lru_get(struct lru *c, const uint8_t key[32], lru_load_fn load, void *ctx,
    struct lru_entry **ret)
{
	struct lru_entry *e, *victims;
	void *value = NULL;
	size_t size = 0;
	int rc;

	pthread_mutex_lock(&c->mu);
	e = find(c, key);
	if (e) {
		e->refs++;
		if (e->state == LOADING) {
			c->st.waits++;
			while (e->state == LOADING)
				pthread_cond_wait(&c->cv, &c->mu);
		} else {
			c->st.hits++;
		}
		if (e->rc) {
			rc = e->msg ? err_set(e->rc, "%s", e->msg) : e->rc;
			if (--e->refs == 0 && !e->in_table) {
				free(e->msg);
				free(e);
			}
			pthread_mutex_unlock(&c->mu);
			return rc;
		}
		list_unlink(c, e);
		list_push(c, e, 0);
		pthread_mutex_unlock(&c->mu);
		*ret = e;
		return 0;
	}
	c->st.misses++;
	if (c->n * 2 >= c->cap)
		grow(c);
	e = xcalloc(1, sizeof(*e));
	memcpy(e->key, key, 32);
	e->state = LOADING;
	e->refs = 1;
	e->in_table = 1;
	e->hnext = c->tab[bucket(c, key)];
	c->tab[bucket(c, key)] = e;
	c->n++;
	pthread_mutex_unlock(&c->mu);

	rc = load(ctx, key, &value, &size);

	pthread_mutex_lock(&c->mu);
	e->state = READY;
	e->rc = rc;
	if (rc) {
		/* not cached: waiters see rc, the last one frees it */
		e->msg = xstrdup(err_msg(rc));
		unhash(c, e);
		c->st.failures++;
		pthread_cond_broadcast(&c->cv);
		if (--e->refs == 0) {
			free(e->msg);
			free(e);
		}
		pthread_mutex_unlock(&c->mu);
		return rc;
	}
	e->value = value;
	e->size = size;
	c->st.bytes += size;
	if (c->st.bytes > c->st.peak)
		c->st.peak = c->st.bytes;
	list_push(c, e, 0);
	pthread_cond_broadcast(&c->cv);
	victims = evict(c);
	pthread_mutex_unlock(&c->mu);
	dispose_list(c, victims);
	*ret = e;
	return 0;
}

struct lru_entry *
lru_peek(struct lru *c, const uint8_t key[32])
{
	struct lru_entry *e;

	pthread_mutex_lock(&c->mu);
	e = find(c, key);
	if (e && e->state == READY && e->rc == 0) {
		e->refs++;
		c->st.hits++;
		list_unlink(c, e);
		list_push(c, e, 0);
	} else {
		e = NULL;
	}
	pthread_mutex_unlock(&c->mu);
	return e;
}

int
lru_contains(struct lru *c, const uint8_t key[32])
{
	int has;

	pthread_mutex_lock(&c->mu);
	has = find(c, key) != NULL;
	pthread_mutex_unlock(&c->mu);
	return has;
}

void *
lru_value(const struct lru_entry *e)
{
	return e->value;
}

size_t
lru_size(const struct lru_entry *e)
{
	return e->size;
}

void
lru_release(struct lru *c, struct lru_entry *e)
{
	struct lru_entry *victims;

	pthread_mutex_lock(&c->mu);
	e->refs--;
	victims = evict(c);
	pthread_mutex_unlock(&c->mu);
	dispose_list(c, victims);
}

void
lru_release_demote(struct lru *c, struct lru_entry *e)
{
	struct lru_entry *victims = NULL;

	pthread_mutex_lock(&c->mu);
	e->refs--;
	if (e->refs == 0 && e->state == READY && e->in_table && !e->spent) {
		c->st.drops++;
		list_unlink(c, e);
		list_push(c, e, 1);
		evict_from(c, &c->spent, over_spent, &victims);
	}
	pthread_mutex_unlock(&c->mu);
	dispose_list(c, victims);
}

void
lru_set_limit(struct lru *c, size_t max_bytes)
{
	struct lru_entry *victims;

	pthread_mutex_lock(&c->mu);
	c->st.limit = max_bytes;
	victims = evict(c);
	pthread_mutex_unlock(&c->mu);
	dispose_list(c, victims);
}

void
lru_set_spent_limit(struct lru *c, size_t max_bytes)
{
	pthread_mutex_lock(&c->mu);
	c->spent_limit = max_bytes;
	pthread_mutex_unlock(&c->mu);
}

void
lru_get_stats(struct lru *c, struct lru_stats *ret)
{
	pthread_mutex_lock(&c->mu);
	*ret = c->st;
	ret->entries = c->n;
	ret->spent = c->spent_bytes;
	ret->spent_limit = c->spent_limit;
	pthread_mutex_unlock(&c->mu);
}
