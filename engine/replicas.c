/* replicas — see replicas.h.
 *
 * One thread a replica: three small reads of its config (the round trip
 * now), then its listings, folder by folder, each name noting the time it
 * came. The caller waits while every replica keeps sending; one silent
 * for the timeout is aborted (its requests fail within a second) and
 * reported. Then each replica's names are compared with the union of all. */
#include "engine/replicas.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lib/err.h"
#include "lib/idset.h"
#include "lib/timefmt.h"

enum { F_KEYS, F_DATA, F_INDEX, F_HOLDS, F_MOVED, F_SNAPS, NFOLDERS };
static const char *const folders[NFOLDERS] = { "keys/", "data/", "index/", "holds/", "moved/", "snapshots/" };

struct probe {
	pthread_t th;
	int started;
	struct repo *view;
	struct replica_status *st;
	struct idset *have[NFOLDERS];	/* SHA-256 of the name -> size */
	int64_t progress;		/* when it last answered anything */
	int done, rc;
	char err[512];
	pthread_mutex_t *mu;
	pthread_cond_t *cv;
};

static void
touch(struct probe *p)
{
	__atomic_store_n(&p->progress, time_mono_ns(), __ATOMIC_RELAXED);
}

/* what a listing callback gets: the probe, and the folder listed */
struct list_ctx {
	struct probe *p;
	int f;
};

static int
collect(void *ctx, const char *name, uint64_t size)
{
	struct list_ctx *c = ctx;
	uint8_t key[32];

	crypto_sha256(name, strlen(name), key);
	idset_put(c->p->have[c->f], key, size);
	touch(c->p);
	return 0;
}

static int
cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return x < y ? -1 : x > y;
}

static void *
probe_main(void *arg)
{
	struct probe *p = arg;
	int64_t rtt[3];
	int rc = IMDR_OK;

	for (int k = 0; k < 3 && rc == IMDR_OK; k++) {
		int64_t t0 = time_mono_ns();

		rc = repo_stat(p->view, "config", NULL);
		rtt[k] = time_mono_ns() - t0;
		touch(p);
	}
	if (rc == IMDR_OK) {
		qsort(rtt, 3, sizeof(rtt[0]), cmp_i64);
		p->st->rtt_ms = (double)rtt[1] / 1e6;
	}
	for (int f = 0; f < NFOLDERS && rc == IMDR_OK; f++) {
		struct list_ctx ctx = { p, f };

		rc = repo_list(p->view, folders[f], collect, &ctx);
	}
	pthread_mutex_lock(p->mu);
	p->rc = rc;
	if (rc) {
		snprintf(p->err, sizeof(p->err), "%s", err_msg(rc));
		err_clear();
	}
	p->done = 1;
	pthread_cond_broadcast(p->cv);
	pthread_mutex_unlock(p->mu);
	return NULL;
}

struct count_ctx {
	struct idset *own;
	struct replica_status *st;
	int snaps;
};

static int
count_missing(void *ctx, const uint8_t key[32], uint64_t size)
{
	struct count_ctx *c = ctx;

	if (idset_get(c->own, key, NULL))
		return 0;
	c->st->objects_missing++;
	c->st->bytes_behind += size;
	if (c->snaps)
		c->st->snapshots_missing++;
	return 0;
}

static int
count_own(void *ctx, const uint8_t key[32], uint64_t size)
{
	struct count_ctx *c = ctx;

	(void)key;
	c->st->objects++;
	c->st->bytes += size;
	if (c->snaps)
		c->st->snapshots++;
	return 0;
}

struct merge_ctx {
	struct idset *u;
};

static int
merge(void *ctx, const uint8_t key[32], uint64_t size)
{
	idset_put(((struct merge_ctx *)ctx)->u, key, size);
	return 0;
}

static double
timeout_secs(void)
{
	const char *e = getenv("IMDR_REPLICA_TIMEOUT");
	double v = e ? atof(e) : 5;

	return v > 0 ? v : 5;
}

int
replicas_status(struct repo *r, const struct replicas_opts *o,
    struct replicas_result *ret)
{
	struct probe p[REPO_MAX_REPLICAS];
	struct idset *u[NFOLDERS];
	pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
	pthread_condattr_t ca;
	pthread_cond_t cv;
	int64_t stall = (int64_t)(timeout_secs() * 1e9);
	int reachable = 0;

	memset(ret, 0, sizeof(*ret));
	memset(p, 0, sizeof(p));
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&cv, &ca);
	ret->n = repo_replica_count(r);
	for (int i = 0; i < ret->n; i++) {
		struct replica_status *st = &ret->r[i];

		repo_replica_info(r, i, &st->info);
		st->rtt_ms = -1;
		p[i].st = st;
		p[i].mu = &mu;
		p[i].cv = &cv;
		if (st->info.state != REPO_REPLICA_OK) {
			/* it failed just now, when the repository was opened */
			snprintf(st->why, sizeof(st->why), "%s", st->info.why);
			continue;
		}
		if (repo_replica_open(r, i, &p[i].view) != IMDR_OK) {
			snprintf(st->why, sizeof(st->why), "%s", err_msg(IMDR_ENOENT));
			err_clear();
			continue;
		}
		for (int f = 0; f < NFOLDERS; f++)
			p[i].have[f] = idset_new();
		touch(&p[i]);
		if (pthread_create(&p[i].th, NULL, probe_main, &p[i]) == 0)
			p[i].started = 1;
		else
			probe_main(&p[i]);
	}
	/* wait while each keeps answering */
	pthread_mutex_lock(&mu);
	for (;;) {
		int64_t now = time_mono_ns(), next = now + stall;
		int pending = 0;

		for (int i = 0; i < ret->n; i++) {
			int64_t last;

			if (p[i].view == NULL || p[i].done)
				continue;
			last = __atomic_load_n(&p[i].progress, __ATOMIC_RELAXED);
			if (now - last > stall) {
				if (p[i].started != 2) {
					snprintf(ret->r[i].why, sizeof(ret->r[i].why),
					    "did not answer within %.1f s", (double)stall / 1e9);
					repo_abort(p[i].view);
					p[i].started = 2;	/* aborted: its answer is void */
				}
			} else if (last + stall < next) {
				next = last + stall;
			}
			pending++;
		}
		if (pending == 0)
			break;
		{
			struct timespec ts = { next / 1000000000, next % 1000000000 };

			pthread_cond_timedwait(&cv, &mu, &ts);
		}
	}
	pthread_mutex_unlock(&mu);
	for (int i = 0; i < ret->n; i++) {
		if (p[i].started)
			pthread_join(p[i].th, NULL);
		if (p[i].view == NULL)
			continue;
		if (p[i].started == 2) {
			p[i].rc = IMDR_ETIMEDOUT;
		} else if (p[i].rc) {
			snprintf(ret->r[i].why, sizeof(ret->r[i].why), "%s", p[i].err);
			ev_warn(&o->ev, ret->r[i].info.url, p[i].err);
		} else {
			ret->r[i].reachable = 1;
			reachable++;
		}
	}
	for (int f = 0; f < NFOLDERS; f++) {
		struct merge_ctx mc = { idset_new() };

		u[f] = mc.u;
		for (int i = 0; i < ret->n; i++)
			if (ret->r[i].reachable)
				idset_each(p[i].have[f], merge, &mc);
	}
	for (int i = 0; i < ret->n; i++) {
		struct replica_status *st = &ret->r[i];

		if (!st->reachable) {
			ret->lagging++;
			continue;
		}
		for (int f = 0; f < NFOLDERS; f++) {
			struct count_ctx cc = { p[i].have[f], st, f == F_SNAPS };

			idset_each(p[i].have[f], count_own, &cc);
			idset_each(u[f], count_missing, &cc);
		}
		if (st->objects_missing)
			ret->lagging++;
	}
	for (int f = 0; f < NFOLDERS; f++) {
		struct replica_status all;
		struct count_ctx cc = { u[f], &all, f == F_SNAPS };

		memset(&all, 0, sizeof(all));
		idset_each(u[f], count_own, &cc);
		ret->objects += all.objects;
		ret->bytes += all.bytes;
		ret->snapshots += all.snapshots;
		idset_free(u[f]);
	}
	for (int i = 0; i < ret->n; i++) {
		for (int f = 0; f < NFOLDERS; f++)
			idset_free(p[i].have[f]);
		repo_free(p[i].view);
	}
	pthread_cond_destroy(&cv);
	pthread_condattr_destroy(&ca);
	if (reachable == 0)
		return err_set(IMDR_ENET, "no replica of %s could be listed", repo_url(r));
	return IMDR_OK;
}
