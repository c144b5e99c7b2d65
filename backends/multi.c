/* multi — one repository kept on several backends at once (replicas):
 *
 *	multi:URL|URL|...	(at most BACKEND_MAX_REPLICAS; the order given
 *				 is the preference when latencies tie)
 *
 * Every replica holds the same repository: the same config object byte
 * for byte (imdr init URL --replica-of REPO copies it and the key slots),
 * so a replica is a plain copy of objects. Opening fetches every
 * replica's config in parallel and refuses a replica whose config differs
 * (another repository, another key); one that holds no repository is left
 * out, one that does not answer is set aside until a later probe finds it
 * holds the same config.
 *
 * Each replica has a lane: a queue of requests and up to `concurrency`
 * threads running them against its own backend, so a slow or silent
 * replica holds up only its own threads.
 *
 * Writes go to every replica in parallel and return once each has
 * answered (or was given up as stalled: then its backend is aborted and
 * it takes no more writes this session, a laggard); they succeed when at
 * least policy.min_writes replicas took them. A snapshot object goes only
 * to replicas that took every write of this session and, by the listings
 * of data/ and index/ made in this session (a backup makes them first),
 * lacked no pack or index object any other replica held: no replica ever
 * holds a snapshot whose data it lacks. `imdr copy` brings laggards up to
 * date.
 *
 * Reads go to the best replica: healthy ones before those set aside, then
 * by measured latency (the median of its recent answers for requests of
 * that size), a local disk before a cloud when they tie, the user's order
 * when still tied. A request still unanswered after the replica's recent
 * 95th percentile is sent to the next replica as well (hedged: the first
 * answer wins); one that fails, finds nothing, or stalls moves on to the
 * next replica; and a caller whose bytes fail authentication asks again
 * with that replica excluded (backend_get_ex, backend_bad_object). A
 * local replica first in line is read on the caller's thread, unhedged.
 * Replicas not asked for a while, or set aside, get a copy of a read now
 * and then in the background, which measures them and brings them back.
 *
 * Listings are the union of every replica's (so a snapshot on one replica
 * only is still found), waiting for a replica only while it makes
 * progress.
 *
 * Policy of the latency rings: per replica and size class, the last RING
 * samples, no other memory; of the bad-object set: BAD_MAX entries, then
 * objects are logged without being remembered. */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "backends/backend_impl.h"
#include "lib/err.h"
#include "lib/hash.h"
#include "lib/log.h"
#include "lib/timefmt.h"

#define RING 64
#define NCLASS 3		/* <= 256 KiB, <= 2 MiB, larger */
#define LANE_MAX 16
#define BAD_MAX 4096
#define PROBE_NS (10LL * 1000000000)
#define NS_PER_MS 1000000LL
#define ASSUMED_BPS (8.0 * 1024 * 1024)	/* before anything was measured */

enum op { OP_GET, OP_PUT, OP_STAT, OP_LIST, OP_DEL };

struct entry {
	char *name;
	uint64_t size;
};

struct job {
	struct job *next;
	enum op op;
	struct replica *rp;
	char *name;		/* object, or prefix for a listing */
	uint64_t off, len;
	const void *data;	/* put: the caller's bytes (it waits) */
	struct buf out;		/* get */
	struct entry *list;	/* listing */
	size_t nlist, list_cap;
	uint64_t size;		/* stat */
	int rc;
	char *err;
	int64_t t_submit, t0, t1;
	int64_t progress;	/* listing: when the last name came */
	int done;
	int refs;
	int beaten;		/* another replica answered first (counted in
				 * its replica's beaten_out until it ends) */
	int probe;		/* nobody waits: it measures the replica */
	int verify;		/* a probe of an unverified replica's config */
	pthread_cond_t *cv;	/* the waiter's, or NULL */
};

struct ring {
	uint32_t v[RING];	/* microseconds */
	unsigned n, pos;
};

struct replica {
	struct multi *m;
	int idx;
	struct backend *be;	/* NULL when it could not be opened */
	int remote;
	char *url;
	/* health, guarded by m->mu */
	int state;		/* enum backend_replica_state */
	int verified;		/* its config was seen equal to the others' */
	char why[512];
	int64_t down_until;
	int fails;
	int aborted;		/* aborted for a stall, not answered since */
	int64_t last_sample;
	int probing;
	int beaten_out;		/* requests a hedge beat, still outstanding:
				 * it ranks after the others until they end */
	/* writes this session */
	int w_dropped, lagging;
	char lag_why[512];
	long lacks[2];		/* data/, index/: objects lacked at the last
				 * listing; -1 unknown */
	struct ring rank[NCLASS];	/* every answer */
	struct ring hedge[NCLASS];	/* answers no hedge beat */
	struct ring wr[NCLASS];		/* writes */
	/* the lane */
	struct job *qhead, *qtail;
	int nthreads, idle, running, maxthreads;
	pthread_t th[LANE_MAX];
	pthread_cond_t cv;
	/* counters */
	uint64_t served, served_bytes, hedges, hedges_won, failovers, bad, errors;
	uint64_t writes, write_bytes;
	char last_bad[160];
};

struct multi {
	struct backend base;
	struct multi *next_open;	/* every open multi, for fork */
	int n;
	struct replica rep[BACKEND_MAX_REPLICAS];
	pthread_mutex_t mu;
	pthread_condattr_t cattr;
	struct backend_policy pol;
	int create;		/* opened by init: replicas are still empty */
	int stop;
	int64_t stall_ns;	/* a replica silent this long is set aside */
	uint64_t *bad;		/* hashes of (replica, object) reported bad */
	size_t nbad;
	uint64_t req_recent, hedge_recent;
	int listed[2];		/* data/, index/ listed this session */
	struct buf config;	/* the reference config object */
};

static int64_t
now_ns(void)
{
	return time_mono_ns();
}

/* ---- latency ---- */

static int
size_class(uint64_t len)
{
	return len <= (256u << 10) ? 0 : len <= (2u << 20) ? 1 : 2;
}

static void
ring_add(struct ring *r, int64_t ns)
{
	uint64_t us = ns > 0 ? (uint64_t)ns / 1000 : 0;

	r->v[r->pos] = us > UINT32_MAX ? UINT32_MAX : (uint32_t)us;
	r->pos = (r->pos + 1) % RING;
	if (r->n < RING)
		r->n++;
}

static int
cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

/* ring_pct: the pct-th percentile (nearest rank) in ns; -1 when empty. */
static int64_t
ring_pct(const struct ring *r, int pct)
{
	uint32_t v[RING];
	unsigned k;

	if (r->n == 0)
		return -1;
	memcpy(v, r->v, r->n * sizeof(v[0]));
	qsort(v, r->n, sizeof(v[0]), cmp_u32);
	k = (pct * r->n + 99) / 100;
	return (int64_t)v[k ? k - 1 : 0] * 1000;
}

/* expected: what a request of len bytes should take on rp, in ns. */
static int64_t
expected(const struct replica *rp, const struct ring *rings, uint64_t len)
{
	int c = size_class(len);
	int64_t base;

	if (rings[c].n >= 4)
		return ring_pct(&rings[c], 50);
	base = rp->rank[0].n ? ring_pct(&rp->rank[0], 50) : 50 * NS_PER_MS;
	return base + (int64_t)((double)len / ASSUMED_BPS * 1e9);
}

/* hedge_delay: how long to wait for rp before asking another replica too:
 * its recent 95th percentile for requests of this size. */
static int64_t
hedge_delay(const struct replica *rp, uint64_t len)
{
	int c = size_class(len);
	int64_t d;

	if (rp->hedge[c].n >= 16)
		d = ring_pct(&rp->hedge[c], 95);
	else
		d = 2 * expected(rp, rp->rank, len);
	return d < 500000 ? 500000 : d;
}

static int64_t
read_stall(const struct multi *m, const struct replica *rp, uint64_t len)
{
	int64_t e = 8 * expected(rp, rp->rank, len);

	return e > m->stall_ns ? e : m->stall_ns;
}

static int64_t
write_stall(const struct multi *m, const struct replica *rp, uint64_t len)
{
	int64_t e = 4 * expected(rp, rp->wr, len);

	return e > 2 * m->stall_ns ? e : 2 * m->stall_ns;
}

/* ---- health ---- */

static void
set_down(struct replica *rp, const char *why)
{
	int64_t backoff = (int64_t)1000000000 << (rp->fails < 5 ? rp->fails : 5);

	rp->fails++;
	if (backoff > 30LL * 1000000000)
		backoff = 30LL * 1000000000;
	if (rp->state != BACKEND_REPLICA_ABSENT)
		rp->state = BACKEND_REPLICA_DOWN;
	rp->down_until = now_ns() + backoff;
	snprintf(rp->why, sizeof(rp->why), "%s", why);
}

/* set_lagging: rp missed a write of this session. */
static void
set_lagging(struct replica *rp, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
set_lagging(struct replica *rp, const char *fmt, ...)
{
	va_list ap;

	if (rp->lagging)
		return;	/* the first reason is the one that matters */
	rp->lagging = 1;
	va_start(ap, fmt);
	vsnprintf(rp->lag_why, sizeof(rp->lag_why), fmt, ap);
	va_end(ap);
}

/* answered: the replica answered (whatever the answer): it is alive. */
static int
answered(int rc)
{
	return rc == IMDR_OK || rc == IMDR_ENOENT || rc == IMDR_EEXIST ||
	    rc == IMDR_EFORMAT;
}

/* ---- lanes ---- */

static void
job_unref(struct job *j)
{
	if (--j->refs > 0)
		return;
	free(j->name);
	free(j->err);
	buf_free(&j->out);
	for (size_t i = 0; i < j->nlist; i++)
		free(j->list[i].name);
	free(j->list);
	free(j);
}

static int
list_collect(void *ctx, const char *name, uint64_t size)
{
	struct job *j = ctx;

	if (j->nlist == j->list_cap) {
		j->list_cap = j->list_cap ? j->list_cap * 2 : 64;
		j->list = xrealloc(j->list, j->list_cap * sizeof(*j->list));
	}
	j->list[j->nlist].name = xstrdup(name);
	j->list[j->nlist++].size = size;
	__atomic_store_n(&j->progress, now_ns(), __ATOMIC_RELAXED);
	return __atomic_load_n(&j->rp->m->stop, __ATOMIC_RELAXED) ? IMDR_EINTR : 0;
}

/* run_job: the request itself, without the lock. */
static void
run_job(struct job *j)
{
	struct backend *be = j->rp->be;
	int rc;

	switch (j->op) {
	case OP_GET:
		rc = backend_get(be, j->name, j->off, j->len, &j->out);
		break;
	case OP_PUT:
		rc = backend_put(be, j->name, j->data, (size_t)j->len);
		break;
	case OP_STAT:
		rc = backend_stat(be, j->name, &j->size);
		break;
	case OP_LIST:
		rc = backend_list(be, j->name, list_collect, j);
		break;
	default:
		rc = backend_del(be, j->name);
		break;
	}
	j->rc = rc;
	if (rc != IMDR_OK) {
		j->err = xstrdup(err_msg(rc));
		err_clear();
	}
}

static void verify_result(struct multi *m, struct replica *rp, struct job *j);

/* finish_job: record what the request tells of its replica and wake its
 * waiter; m->mu held. */
static void
finish_job(struct multi *m, struct job *j)
{
	struct replica *rp = j->rp;
	int64_t dt;

	j->t1 = now_ns();
	j->done = 1;
	dt = j->t1 - j->t0;
	if (answered(j->rc)) {
		if (rp->state == BACKEND_REPLICA_DOWN && rp->verified) {
			rp->state = BACKEND_REPLICA_OK;
			rp->why[0] = '\0';
		}
		rp->fails = 0;
		rp->aborted = 0;
		if (j->op == OP_GET || j->op == OP_STAT) {
			uint64_t len = j->op == OP_GET ? j->out.len : 0;

			ring_add(&rp->rank[size_class(len)], dt);
			if (!j->beaten)
				ring_add(&rp->hedge[size_class(len)], dt);
			rp->last_sample = j->t1;
		} else if (j->op == OP_PUT && j->rc == IMDR_OK) {
			ring_add(&rp->wr[size_class(j->len)], dt);
			rp->writes++;
			rp->write_bytes += j->len;
		}
	} else if (!(j->op == OP_LIST && j->rc == IMDR_EINTR)) {
		char why[512];

		rp->errors++;
		snprintf(why, sizeof(why), "%s", j->err ? j->err : imdr_strerror(j->rc));
		set_down(rp, why);
	}
	if (j->beaten)
		rp->beaten_out--;
	if (j->probe)
		rp->probing = 0;
	if (j->verify)
		verify_result(m, rp, j);
	if (j->cv)
		pthread_cond_broadcast(j->cv);
}

static void *
lane_main(void *arg)
{
	struct replica *rp = arg;
	struct multi *m = rp->m;

	pthread_mutex_lock(&m->mu);
	for (;;) {
		struct job *j;

		while (rp->qhead == NULL && !m->stop) {
			rp->idle++;
			pthread_cond_wait(&rp->cv, &m->mu);
			rp->idle--;
		}
		if (rp->qhead == NULL)
			break;
		j = rp->qhead;
		rp->qhead = j->next;
		if (rp->qhead == NULL)
			rp->qtail = NULL;
		j->t0 = now_ns();
		j->progress = j->t0;
		rp->running++;
		pthread_mutex_unlock(&m->mu);
		run_job(j);
		pthread_mutex_lock(&m->mu);
		rp->running--;
		finish_job(m, j);
		job_unref(j);
	}
	pthread_mutex_unlock(&m->mu);
	return NULL;
}

/* submit: queue a request on rp's lane; m->mu held. The job has a
 * reference for the lane and, with cv, one for the caller. */
static struct job *
new_job(struct replica *rp, enum op op, const char *name, uint64_t off,
    uint64_t len, const void *data, pthread_cond_t *cv)
{
	struct job *j = xcalloc(1, sizeof(*j));

	j->op = op;
	j->rp = rp;
	j->name = xstrdup(name);
	j->off = off;
	j->len = len;
	j->data = data;
	j->cv = cv;
	j->refs = cv ? 2 : 1;
	j->t_submit = now_ns();
	return j;
}

static struct job *
submit(struct multi *m, struct replica *rp, enum op op, const char *name,
    uint64_t off, uint64_t len, const void *data, pthread_cond_t *cv)
{
	struct job *j = new_job(rp, op, name, off, len, data, cv);

	(void)m;
	if (rp->qtail)
		rp->qtail->next = j;
	else
		rp->qhead = j;
	rp->qtail = j;
	if (rp->idle > 0) {
		pthread_cond_signal(&rp->cv);
	} else if (rp->nthreads < rp->maxthreads) {
		if (pthread_create(&rp->th[rp->nthreads], NULL, lane_main, rp) != 0) {
			if (rp->nthreads == 0) {
				warn0("cannot start a thread for replica %s", rp->url);
				abort();
			}
		} else
			rp->nthreads++;
	}
	return j;
}

/* release: the caller is done with j (it may still run); m->mu held. */
static void
release(struct job *j)
{
	j->cv = NULL;
	job_unref(j);
}

static void
wait_until(struct multi *m, pthread_cond_t *cv, int64_t deadline)
{
	struct timespec ts;
	int64_t cap = now_ns() + 200 * NS_PER_MS;

	if (deadline > cap)
		deadline = cap;
	ts.tv_sec = deadline / 1000000000;
	ts.tv_nsec = deadline % 1000000000;
	pthread_cond_timedwait(cv, &m->mu, &ts);
}

static void
cond_init(struct multi *m, pthread_cond_t *cv)
{
	pthread_cond_init(cv, &m->cattr);
}

/* stalled: give up on rp (it stopped answering): set it aside and make
 * its requests in flight fail, so its threads come back. */
static void
stalled(struct multi *m, struct replica *rp, int64_t waited)
{
	char why[160];

	snprintf(why, sizeof(why), "stopped answering (no answer in %.1f s)",
	    (double)waited / 1e9);
	set_down(rp, why);
	if (!rp->aborted) {
		rp->aborted = 1;
		debugf("replica %s: %s", rp->url, why);
		backend_abort(rp->be);
	}
	(void)m;
}

/* ---- the bad-object set ---- */

static uint64_t
bad_key(int replica, const char *name)
{
	uint64_t h = hash_fnv_str(name) ^ ((uint64_t)(replica + 1) * 0x9e3779b97f4a7c15ULL);

	return h ? h : 1;
}

static int
bad_has(const struct multi *m, int replica, const char *name)
{
	uint64_t k = bad_key(replica, name);

	if (m->nbad == 0)
		return 0;
	for (size_t i = k % BAD_MAX;; i = (i + 1) % BAD_MAX) {
		if (m->bad[i] == 0)
			return 0;
		if (m->bad[i] == k)
			return 1;
	}
}

/* bad_add: 1 if it was not known yet. */
static int
bad_add(struct multi *m, int replica, const char *name)
{
	uint64_t k = bad_key(replica, name);

	if (bad_has(m, replica, name))
		return 0;
	if (m->nbad >= BAD_MAX * 3 / 4)
		return 1;	/* full: log, but do not remember */
	if (m->bad == NULL)
		m->bad = xcalloc(BAD_MAX, sizeof(*m->bad));
	for (size_t i = k % BAD_MAX;; i = (i + 1) % BAD_MAX) {
		if (m->bad[i] == 0) {
			m->bad[i] = k;
			m->nbad++;
			return 1;
		}
	}
}

/* ---- choosing replicas ---- */

static int
usable_for_reads(const struct replica *rp)
{
	return rp->be != NULL && rp->verified && rp->state != BACKEND_REPLICA_ABSENT;
}

/* healthy: answering, and not just beaten by another replica on a
 * request it still has not answered. */
static int
healthy(const struct replica *rp)
{
	return rp->state == BACKEND_REPLICA_OK && rp->beaten_out == 0;
}

/* rank: the replicas to ask for name, best first, into order; returns
 * how many. Healthy ones by expected latency (local first on a tie, then
 * the user's order), then those set aside or still late on a request a
 * hedge beat, then those that gave bad bytes for this very object.
 * m->mu held. */
static int
rank(struct multi *m, uint32_t exclude, const char *name, uint64_t len, int *order)
{
	int ok[BACKEND_MAX_REPLICAS], nok = 0, n = 0;
	int64_t e[BACKEND_MAX_REPLICAS];

	for (int i = 0; i < m->n; i++) {
		struct replica *rp = &m->rep[i];

		if ((exclude >> i) & 1 || !usable_for_reads(rp))
			continue;
		if (healthy(rp) && !bad_has(m, i, name)) {
			e[nok] = expected(rp, rp->rank, len);
			ok[nok++] = i;
		}
	}
	while (nok > 0) {
		int best = 0;

		for (int k = 1; k < nok; k++) {
			int64_t eb = e[best], ek = e[k];
			int64_t lo = eb < ek ? eb : ek, tol = lo / 5;

			if (tol < NS_PER_MS)
				tol = NS_PER_MS;
			if (ek < eb - tol)
				best = k;
			else if (ek <= eb + tol && !m->rep[ok[k]].remote &&
			    m->rep[ok[best]].remote)
				best = k;
		}
		order[n++] = ok[best];
		memmove(&ok[best], &ok[best + 1], (size_t)(nok - best - 1) * sizeof(ok[0]));
		memmove(&e[best], &e[best + 1], (size_t)(nok - best - 1) * sizeof(e[0]));
		nok--;
	}
	for (int i = 0; i < m->n; i++) {
		struct replica *rp = &m->rep[i];

		if (!((exclude >> i) & 1) && usable_for_reads(rp) &&
		    !healthy(rp) && !bad_has(m, i, name))
			order[n++] = i;
	}
	for (int i = 0; i < m->n; i++)
		if (!((exclude >> i) & 1) && usable_for_reads(&m->rep[i]) &&
		    bad_has(m, i, name))
			order[n++] = i;
	return n;
}

/* probe_others: now and then, a copy of a read goes to a replica that was
 * not asked for a while, was set aside, or was never verified (then its
 * config is fetched): it measures the replica and brings it back. */
static void
probe_others(struct multi *m, const int *order, int n, enum op op,
    const char *name, uint64_t off, uint64_t len)
{
	int64_t now = now_ns();

	if (len > (4u << 20))
		return;
	for (int i = 0; i < m->n; i++) {
		struct replica *rp = &m->rep[i];
		struct job *j;
		int first = n > 0 && order[0] == i;

		if (first || rp->probing || rp->be == NULL ||
		    rp->state == BACKEND_REPLICA_ABSENT)
			continue;
		if (rp->state == BACKEND_REPLICA_DOWN ? rp->down_until > now :
		    now - rp->last_sample < PROBE_NS)
			continue;
		rp->probing = 1;
		if (!rp->verified) {
			j = submit(m, rp, OP_GET, "config", 0, BACKEND_WHOLE, NULL, NULL);
			j->verify = 1;
		} else
			j = submit(m, rp, op, name, off, len, NULL, NULL);
		j->probe = 1;
	}
}

/* verify_result: a replica unreachable at open answered its config probe:
 * the same repository joins the reads, another is refused. m->mu held. */
static void
verify_result(struct multi *m, struct replica *rp, struct job *j)
{
	if (j->rc == IMDR_ENOENT) {
		rp->state = BACKEND_REPLICA_ABSENT;
		snprintf(rp->why, sizeof(rp->why), "holds no imdr repository (no config object)");
	} else if (j->rc == IMDR_OK && m->config.len &&
	    (j->out.len != m->config.len || memcmp(j->out.data, m->config.data, m->config.len) != 0)) {
		rp->state = BACKEND_REPLICA_ABSENT;
		snprintf(rp->why, sizeof(rp->why), "holds a different repository (its config differs)");
		warn0("replica %d (%s) %s: left out", rp->idx + 1, rp->url, rp->why);
	} else if (j->rc == IMDR_OK) {
		rp->verified = 1;
		rp->state = BACKEND_REPLICA_OK;
		rp->why[0] = '\0';
		if (m->config.len == 0)
			buf_append(&m->config, j->out.data, j->out.len);
	}
}

/* ---- reads ---- */

/* hedge_allowed: hedges are at most a fifth of recent requests (beyond a
 * few), so a replica slow on everything does not double the load. */
static int
hedge_allowed(struct multi *m)
{
	if (!m->pol.hedge)
		return 0;
	return m->hedge_recent < 8 + m->req_recent / 5;
}

static void
count_request(struct multi *m)
{
	if (++m->req_recent >= 1024) {
		m->req_recent /= 2;
		m->hedge_recent /= 2;
	}
}

/* read_req: a get or stat, from the best replica that has it (see the
 * top of the file). */
static int
read_req(struct multi *m, enum op op, const char *name, uint64_t off,
    uint64_t len, struct buf *out, uint64_t *ret_size, struct backend_read *rd)
{
	int order[BACKEND_MAX_REPLICAS], n, next = 0, nact = 0, all_enoent = 1;
	struct job *act[2], *win = NULL, *first_fail = NULL;
	int64_t hedge_at = INT64_MAX;
	uint64_t want = op == OP_GET && len != BACKEND_WHOLE ? len : 0;
	/* the caller's buffer (from the reader's pool) goes to the first
	 * request: no fresh memory to fault in for every read */
	struct buf spare = BUF_INIT;
	pthread_cond_t cv;
	int rc;

	if (op == OP_GET) {
		spare = *out;
		*out = (struct buf)BUF_INIT;
	}
	cond_init(m, &cv);
	pthread_mutex_lock(&m->mu);
	count_request(m);
	n = rank(m, rd->exclude, name, want, order);
	probe_others(m, order, n, op, name, off, len);
	while (win == NULL && (next < n || nact > 0)) {
		int64_t now, deadline;

		if (nact == 0) {
			struct replica *rp = &m->rep[order[next++]];

			if (!rp->remote) {
				/* a local disk: read on this thread, unhedged */
				struct job *j = new_job(rp, op, name, off, len, NULL, &cv);

				j->out = spare;
				spare = (struct buf)BUF_INIT;
				j->refs = 1;
				j->t0 = j->t_submit;
				pthread_mutex_unlock(&m->mu);
				run_job(j);
				pthread_mutex_lock(&m->mu);
				finish_job(m, j);
				act[nact++] = j;
				hedge_at = INT64_MAX;
			} else {
				struct job *j = submit(m, rp, op, name, off, len, NULL, &cv);

				j->out = spare;	/* before it runs: m->mu is held */
				spare = (struct buf)BUF_INIT;
				act[nact++] = j;
				hedge_at = hedge_allowed(m) && next < n ?
				    now_ns() + hedge_delay(rp, want) : INT64_MAX;
			}
		}
		/* wait for an answer, the hedge, or a stall */
		deadline = hedge_at;
		for (int k = 0; k < nact; k++) {
			int64_t s = act[k]->t_submit + read_stall(m, act[k]->rp, want);

			if (s < deadline)
				deadline = s;
		}
		if (!act[0]->done && (nact < 2 || !act[1]->done))
			wait_until(m, &cv, deadline);
		now = now_ns();
		for (int k = 0; k < nact && win == NULL; k++) {
			struct job *j = act[k];

			if (!j->done)
				continue;
			if (j->rc == IMDR_OK) {
				win = j;
				break;
			}
			if (j->rc != IMDR_ENOENT)
				all_enoent = 0;
			if (first_fail == NULL || (first_fail->rc == IMDR_ENOENT && j->rc != IMDR_ENOENT)) {
				if (first_fail)
					release(first_fail);
				first_fail = j;
			} else
				release(j);
			act[k] = act[--nact];
			k--;
		}
		if (win)
			break;
		for (int k = 0; k < nact; k++) {
			struct job *j = act[k];

			if (!j->done && now - j->t_submit > read_stall(m, j->rp, want)) {
				all_enoent = 0;
				stalled(m, j->rp, now - j->t_submit);
				release(j);
				act[k] = act[--nact];
				k--;
			}
		}
		if (nact == 1 && now >= hedge_at && next < n) {
			struct replica *rp = &m->rep[order[next++]];

			act[nact++] = submit(m, rp, op, name, off, len, NULL, &cv);
			rp->hedges++;
			m->hedge_recent++;
			hedge_at = INT64_MAX;
			debugf("%s: replica %d slower than %.1f ms: hedged to replica %d", name,
			    act[0]->rp->idx + 1, (double)hedge_delay(act[0]->rp, want) / 1e6, rp->idx + 1);
		}
	}
	if (win) {
		struct replica *rp = win->rp;

		debugf("%s: replica %d answered in %.1f ms", name, rp->idx + 1,
		    (double)(win->t1 - win->t_submit) / 1e6);
		rd->replica = rp->idx;
		rp->served++;
		if (op == OP_GET) {
			*out = win->out;
			win->out = (struct buf)BUF_INIT;
			rp->served_bytes += out->len;
		} else if (ret_size)
			*ret_size = win->size;
		if (n > 0 && rp->idx != order[0]) {
			if (nact == 2 && win == act[1])
				rp->hedges_won++;
			else
				rp->failovers++;
		}
		for (int k = 0; k < nact; k++) {
			if (act[k] != win && !act[k]->done) {
				act[k]->beaten = 1;
				act[k]->rp->beaten_out++;
			}
		}
		rc = IMDR_OK;
	} else if (first_fail == NULL && n == 0 && rd->exclude) {
		rc = err_set(IMDR_ENOENT, "%s: no other replica of %s to read it from", name,
		    m->base.url);
	} else if (first_fail == NULL && n == 0) {
		/* none can be read: say why, replica by replica */
		struct buf why = BUF_INIT;
		int absent = 0;

		for (int i = 0; i < m->n; i++) {
			absent += m->rep[i].state == BACKEND_REPLICA_ABSENT;
			buf_printf(&why, "; replica %d (%s): %s", i + 1, m->rep[i].url,
			    m->rep[i].why[0] ? m->rep[i].why : "not verified yet");
		}
		rc = err_set(absent == m->n ? IMDR_ENOENT : IMDR_ENET, "%s: no replica of %s can be read%s",
		    name, m->base.url, (char *)buf_cstr(&why));
		buf_free(&why);
	} else if (first_fail == NULL) {
		rc = err_set(IMDR_ETIMEDOUT, "%s: no replica of %s answered", name, m->base.url);
	} else if (all_enoent) {
		rc = err_set(IMDR_ENOENT, "%s not found on any replica of %s", name, m->base.url);
	} else {
		rc = err_set(first_fail->rc, "replica %d (%s): %s", first_fail->rp->idx + 1,
		    first_fail->rp->url, first_fail->err ? first_fail->err : imdr_strerror(first_fail->rc));
	}
	for (int k = 0; k < nact; k++)
		release(act[k]);
	if (first_fail)
		release(first_fail);
	pthread_mutex_unlock(&m->mu);
	pthread_cond_destroy(&cv);
	buf_free(&spare);
	return rc;
}

static int
multi_get_ex(struct backend *be, const char *name, uint64_t off, uint64_t len,
    struct buf *out, struct backend_read *rd)
{
	struct multi *m = (struct multi *)be;

	out->len = 0;
	return read_req(m, OP_GET, name, off, len, out, NULL, rd);
}

static int
multi_get(struct backend *be, const char *name, uint64_t off, uint64_t len,
    struct buf *out)
{
	struct backend_read rd = { 0, 0, 0 };

	return multi_get_ex(be, name, off, len, out, &rd);
}

static int
multi_stat(struct backend *be, const char *name, uint64_t *ret_size)
{
	struct multi *m = (struct multi *)be;
	struct backend_read rd = { 0, 0, 0 };

	return read_req(m, OP_STAT, name, 0, 0, NULL, ret_size, &rd);
}

/* ---- listings ---- */

/* A set of names for the union of listings: open addressing by FNV-1a. */
struct nset {
	struct entry *v;
	uint64_t *h;
	size_t n, cap;
};

static int
nset_add(struct nset *s, const char *name, uint64_t size, int keep)
{
	uint64_t h = hash_fnv_str(name) | 1;
	size_t i;

	if ((s->n + 1) * 2 > s->cap) {
		struct nset t = { NULL, NULL, 0, s->cap ? s->cap * 2 : 256 };

		t.v = xcalloc(t.cap, sizeof(*t.v));
		t.h = xcalloc(t.cap, sizeof(*t.h));
		for (size_t k = 0; k < s->cap; k++) {
			if (s->h[k] == 0)
				continue;
			for (i = s->h[k] % t.cap; t.h[i]; i = (i + 1) % t.cap)
				;
			t.h[i] = s->h[k];
			t.v[i] = s->v[k];
		}
		t.n = s->n;
		free(s->v);
		free(s->h);
		*s = t;
	}
	for (i = h % s->cap; s->h[i]; i = (i + 1) % s->cap)
		if (s->h[i] == h && strcmp(s->v[i].name, name) == 0)
			return 0;
	s->h[i] = h;
	s->v[i].name = keep ? (char *)name : xstrdup(name);
	s->v[i].size = size;
	s->n++;
	return 1;
}

static int
list_kind(const char *prefix)
{
	return strcmp(prefix, "data/") == 0 ? 0 : strcmp(prefix, "index/") == 0 ? 1 : -1;
}

/* wait_jobs: m->mu held; wait until each job of jobs[] (one a replica;
 * NULL: none) is done or stalled. A stalled job is released and its slot
 * set to NULL. It stalls when nothing came for read_stall() (by_progress:
 * a listing whose pages keep coming is not stalled), else m->stall_ns
 * after it was submitted. */
static void
wait_jobs(struct multi *m, struct job **jobs, pthread_cond_t *cv, int by_progress)
{
	for (;;) {
		int64_t now = now_ns(), deadline = INT64_MAX;
		int pending = 0;

		for (int i = 0; i < m->n; i++) {
			struct job *j = jobs[i];
			int64_t last, s;

			if (j == NULL || j->done)
				continue;
			last = j->t_submit;
			if (by_progress) {
				int64_t p = __atomic_load_n(&j->progress, __ATOMIC_RELAXED);

				if (p > last)
					last = p;
				s = last + read_stall(m, j->rp, 0);
			} else {
				s = last + m->stall_ns;
			}
			if (now > s) {
				stalled(m, j->rp, now - last);
				release(j);
				jobs[i] = NULL;
				continue;
			}
			pending++;
			if (s < deadline)
				deadline = s;
		}
		if (pending == 0)
			break;
		wait_until(m, cv, deadline);
	}
}

/* list_union: every replica's listing of prefix, merged; each replica is
 * waited for while names keep coming. For data/ and index/ it also notes
 * what each replica lacks of the union (the snapshot rule). */
static int
list_union(struct multi *m, const char *prefix, struct nset *u)
{
	struct job *jobs[BACKEND_MAX_REPLICAS] = { NULL };
	int kind = list_kind(prefix), nok = 0, nj = 0, rc = IMDR_OK;
	struct job *first_fail = NULL;
	pthread_cond_t cv;

	cond_init(m, &cv);
	pthread_mutex_lock(&m->mu);
	for (int i = 0; i < m->n; i++) {
		struct replica *rp = &m->rep[i];

		/* one set aside is not waited for: probes bring it back */
		if (!(m->create && rp->be) && !(usable_for_reads(rp) && healthy(rp)))
			continue;
		jobs[i] = submit(m, rp, OP_LIST, prefix, 0, 0, NULL, &cv);
		nj++;
	}
	if (nj == 0) {
		/* every replica is set aside: try them all anyway */
		for (int i = 0; i < m->n; i++) {
			if (usable_for_reads(&m->rep[i])) {
				jobs[i] = submit(m, &m->rep[i], OP_LIST, prefix, 0, 0, NULL, &cv);
				nj++;
			}
		}
	}
	wait_jobs(m, jobs, &cv, 1);
	for (int i = 0; i < m->n; i++) {
		struct job *j = jobs[i];

		if (j && j->rc == IMDR_OK) {
			for (size_t k = 0; k < j->nlist; k++)
				if (nset_add(u, j->list[k].name, j->list[k].size, 1))
					j->list[k].name = NULL;	/* the set owns it */
			nok++;
		} else if (j && first_fail == NULL) {
			first_fail = j;
		}
	}
	if (kind >= 0) {
		for (int i = 0; i < m->n; i++) {
			struct job *j = jobs[i];
			long have = 0;

			if (j == NULL || j->rc != IMDR_OK) {
				m->rep[i].lacks[kind] = -1;
				continue;
			}
			/* names this replica gave were moved into the set
			 * (NULL) or were already there: count both */
			have = (long)j->nlist;
			m->rep[i].lacks[kind] = (long)u->n - have;
		}
		m->listed[kind] = nok > 0;
	}
	if (nok == 0)
		rc = first_fail ? err_set(first_fail->rc, "replica %d (%s): %s",
		    first_fail->rp->idx + 1, first_fail->rp->url,
		    first_fail->err ? first_fail->err : imdr_strerror(first_fail->rc)) :
		    err_set(IMDR_ENET, "listing %s: no replica of %s answered", prefix, m->base.url);
	for (int i = 0; i < m->n; i++)
		if (jobs[i])
			release(jobs[i]);
	pthread_mutex_unlock(&m->mu);
	pthread_cond_destroy(&cv);
	return rc;
}

static void
nset_free(struct nset *s)
{
	for (size_t i = 0; i < s->cap; i++)
		if (s->h[i])
			free(s->v[i].name);
	free(s->v);
	free(s->h);
}

static int
multi_list(struct backend *be, const char *prefix, backend_list_cb cb, void *ctx)
{
	struct multi *m = (struct multi *)be;
	struct nset u = { NULL, NULL, 0, 0 };
	int rc;

	rc = list_union(m, prefix, &u);
	for (size_t i = 0; rc == IMDR_OK && i < u.cap; i++)
		if (u.h[i])
			rc = cb(ctx, u.v[i].name, u.v[i].size);
	nset_free(&u);
	return rc;
}

/* ---- writes ---- */

/* snapshot_ready: the listings the snapshot rule needs, made now unless
 * this session made them already. m->mu not held. */
static void
snapshot_ready(struct multi *m)
{
	static const char *const prefixes[2] = { "data/", "index/" };

	for (int k = 0; k < 2; k++) {
		struct nset u = { NULL, NULL, 0, 0 };
		int done;

		pthread_mutex_lock(&m->mu);
		done = m->listed[k];
		pthread_mutex_unlock(&m->mu);
		if (!done) {
			if (list_union(m, prefixes[k], &u) != IMDR_OK)
				err_clear();
			nset_free(&u);
		}
	}
}

/* fan_out: run op on every replica in targets at once and wait for each
 * to answer; a replica that stalls is aborted and waited for (its
 * threads still hold data). *ret_ok counts answers that are successes
 * (for puts, an object already there is one). */
static void
fan_out(struct multi *m, enum op op, const char *name, const void *data,
    size_t len, const int *targets, int nt, struct job **jobs)
{
	pthread_cond_t cv;

	cond_init(m, &cv);
	for (int k = 0; k < nt; k++)
		jobs[k] = submit(m, &m->rep[targets[k]], op, name, 0, len, data, &cv);
	for (;;) {
		int64_t now = now_ns(), deadline = INT64_MAX;
		int pending = 0;

		for (int k = 0; k < nt; k++) {
			struct job *j = jobs[k];
			int64_t s;

			if (j->done)
				continue;
			pending++;
			s = j->t_submit + (op == OP_PUT ? write_stall(m, j->rp, len) :
			    read_stall(m, j->rp, 0));
			if (j->rp->aborted)
				continue;	/* its answer comes within a second */
			if (now > s)
				stalled(m, j->rp, now - j->t_submit);
			else if (s < deadline)
				deadline = s;
		}
		if (pending == 0)
			break;
		wait_until(m, &cv, deadline);
	}
	for (int k = 0; k < nt; k++)
		jobs[k]->cv = NULL;
	pthread_cond_destroy(&cv);
}

static int
multi_put(struct backend *be, const char *name, const void *data, size_t len)
{
	struct multi *m = (struct multi *)be;
	int targets[BACKEND_MAX_REPLICAS] = { 0 }, nt = 0, ok = 0, exist = 0, rc;
	int snapshot = strncmp(name, "snapshots/", 10) == 0;
	struct job *jobs[BACKEND_MAX_REPLICAS];
	struct job *first_fail = NULL;
	struct buf why = BUF_INIT;

	if (snapshot)
		snapshot_ready(m);
	pthread_mutex_lock(&m->mu);
	for (int i = 0; i < m->n; i++) {
		struct replica *rp = &m->rep[i];

		if (rp->be == NULL || rp->w_dropped ||
		    (rp->state == BACKEND_REPLICA_ABSENT && !m->create)) {
			set_lagging(rp, "%s", rp->w_dropped ? rp->lag_why : rp->why);
			buf_printf(&why, "; replica %d (%s): %s", i + 1, rp->url,
			    rp->w_dropped ? rp->lag_why : rp->why);
			continue;
		}
		if (!rp->verified && !m->create) {
			set_lagging(rp, "was unreachable when the repository was opened (%s)", rp->why);
			buf_printf(&why, "; replica %d (%s): unreachable at open", i + 1, rp->url);
			continue;
		}
		if (snapshot && (rp->lacks[0] != 0 || rp->lacks[1] != 0)) {
			if (rp->lacks[0] < 0 || rp->lacks[1] < 0)
				set_lagging(rp, "it could not be listed, so it may lack data the snapshot needs");
			else
				set_lagging(rp, "it lacks %ld pack and index objects that other replicas hold",
				    rp->lacks[0] + rp->lacks[1]);
			buf_printf(&why, "; replica %d (%s): %s", i + 1, rp->url, rp->lag_why);
			continue;
		}
		targets[nt++] = i;
	}
	if (nt < m->pol.min_writes) {
		rc = err_set(IMDR_ENET, "%s: only %d of %d replicas of %s can take it; at least %d must%s",
		    name, nt, m->n, m->base.url, m->pol.min_writes,
		    why.len ? (char *)buf_cstr(&why) : "");
		pthread_mutex_unlock(&m->mu);
		buf_free(&why);
		return rc;
	}
	fan_out(m, OP_PUT, name, data, len, targets, nt, jobs);
	for (int k = 0; k < nt; k++) {
		struct job *j = jobs[k];
		struct replica *rp = j->rp;

		if (j->rc == IMDR_OK || j->rc == IMDR_EEXIST) {
			ok++;
			exist += j->rc == IMDR_EEXIST;
			continue;
		}
		rp->w_dropped = 1;
		set_lagging(rp, "failed to write %s: %s", name, j->err ? j->err : imdr_strerror(j->rc));
		if (first_fail == NULL)
			first_fail = j;
	}
	if (ok >= m->pol.min_writes && ok > 0)
		rc = exist == ok ? err_set(IMDR_EEXIST, "object %s already exists", name) : IMDR_OK;
	else if (first_fail)
		rc = err_set(first_fail->rc, "%s reached %d of %d replicas (at least %d must): replica %d (%s): %s",
		    name, ok, m->n, m->pol.min_writes, first_fail->rp->idx + 1, first_fail->rp->url,
		    first_fail->err ? first_fail->err : imdr_strerror(first_fail->rc));
	else
		rc = err_set(IMDR_ENET, "%s reached %d of %d replicas; at least %d must", name, ok,
		    m->n, m->pol.min_writes);
	for (int k = 0; k < nt; k++)
		job_unref(jobs[k]);
	pthread_mutex_unlock(&m->mu);
	buf_free(&why);
	return rc;
}

static int
multi_del(struct backend *be, const char *name)
{
	struct multi *m = (struct multi *)be;
	int targets[BACKEND_MAX_REPLICAS] = { 0 }, nt = 0, ok = 0, rc = IMDR_OK;
	struct job *jobs[BACKEND_MAX_REPLICAS];
	struct job *first_fail = NULL;

	pthread_mutex_lock(&m->mu);
	for (int i = 0; i < m->n; i++)
		if (m->rep[i].be && (m->rep[i].verified || m->create) &&
		    m->rep[i].state != BACKEND_REPLICA_ABSENT && !m->rep[i].aborted)
			targets[nt++] = i;
	fan_out(m, OP_DEL, name, NULL, 0, targets, nt, jobs);
	for (int k = 0; k < nt; k++) {
		struct job *j = jobs[k];

		if (j->rc == IMDR_OK) {
			ok++;
			continue;
		}
		/* a lock left behind expires; anything else it still holds */
		if (strncmp(name, "locks/", 6) != 0)
			set_lagging(j->rp, "failed to delete %s: %s", name,
			    j->err ? j->err : imdr_strerror(j->rc));
		if (first_fail == NULL)
			first_fail = j;
	}
	if (ok == 0 && first_fail)
		rc = err_set(first_fail->rc, "replica %d (%s): %s", first_fail->rp->idx + 1,
		    first_fail->rp->url, first_fail->err ? first_fail->err : imdr_strerror(first_fail->rc));
	for (int k = 0; k < nt; k++)
		job_unref(jobs[k]);
	pthread_mutex_unlock(&m->mu);
	return rc;
}

/* ---- replicas, policy, bad objects ---- */

static void
multi_bad_object(struct backend *be, int replica, const char *name, const char *why)
{
	struct multi *m = (struct multi *)be;
	struct replica *rp;
	int fresh;

	if (replica < 0 || replica >= m->n)
		return;
	rp = &m->rep[replica];
	pthread_mutex_lock(&m->mu);
	fresh = bad_add(m, replica, name);
	if (fresh) {
		rp->bad++;
		snprintf(rp->last_bad, sizeof(rp->last_bad), "%s", name);
	}
	pthread_mutex_unlock(&m->mu);
	if (fresh)
		warn0("replica %d (%s): %s: %s; reading it from another replica",
		    replica + 1, rp->url, name, why);
}

static int
multi_replicas(const struct backend *be)
{
	return ((const struct multi *)be)->n;
}

static struct backend *
multi_replica(struct backend *be, int i)
{
	struct multi *m = (struct multi *)be;

	return i >= 0 && i < m->n ? m->rep[i].be : NULL;
}

static void
multi_replica_info(struct backend *be, int i, struct backend_replica_info *ret)
{
	struct multi *m = (struct multi *)be;
	struct replica *rp = &m->rep[i];
	int64_t p50 = -1, p95 = -1;

	memset(ret, 0, sizeof(*ret));
	pthread_mutex_lock(&m->mu);
	ret->url = rp->url;
	ret->kind = rp->be ? backend_name(rp->be) : "?";
	ret->remote = rp->remote;
	ret->state = rp->state;
	ret->lagging = rp->lagging;
	if (rp->lagging)
		snprintf(ret->why, sizeof(ret->why), "%s", rp->lag_why);
	else if (rp->state != BACKEND_REPLICA_OK)
		snprintf(ret->why, sizeof(ret->why), "%s", rp->why);
	else if (rp->beaten_out) {
		ret->state = BACKEND_REPLICA_DOWN;
		snprintf(ret->why, sizeof(ret->why), "%d request%s still unanswered that another replica answered",
		    rp->beaten_out, rp->beaten_out == 1 ? "" : "s");
	}
	for (int c = 0; c < NCLASS && p50 < 0; c++) {
		p50 = ring_pct(&rp->rank[c], 50);
		p95 = ring_pct(&rp->hedge[c], 95);
	}
	ret->latency_ms = p50 < 0 ? -1 : (double)p50 / 1e6;
	ret->p95_ms = p95 < 0 ? -1 : (double)p95 / 1e6;
	ret->served = rp->served;
	ret->served_bytes = rp->served_bytes;
	ret->hedges = rp->hedges;
	ret->hedges_won = rp->hedges_won;
	ret->failovers = rp->failovers;
	ret->bad_objects = rp->bad;
	snprintf(ret->last_bad, sizeof(ret->last_bad), "%s", rp->last_bad);
	ret->errors = rp->errors;
	ret->writes = rp->writes;
	ret->write_bytes = rp->write_bytes;
	pthread_mutex_unlock(&m->mu);
}

static void
multi_set_policy(struct backend *be, const struct backend_policy *p)
{
	struct multi *m = (struct multi *)be;

	pthread_mutex_lock(&m->mu);
	m->pol = *p;
	if (m->pol.min_writes < 1)
		m->pol.min_writes = 1;
	pthread_mutex_unlock(&m->mu);
}

static void
multi_abort(struct backend *be)
{
	struct multi *m = (struct multi *)be;

	for (int i = 0; i < m->n; i++)
		if (m->rep[i].be)
			backend_abort(m->rep[i].be);
}

/* ---- fork ----
 * A daemon forks after opening its repository (mount.imdr); only the
 * forking thread lives on in the child, so the lanes' threads are gone
 * there: the child starts new ones as requests come. Every multi's lock is
 * held across the fork, so none is left locked by a thread that is gone. */

static pthread_mutex_t open_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t fork_once = PTHREAD_ONCE_INIT;
static struct multi *open_list;

static void
fork_prepare(void)
{
	pthread_mutex_lock(&open_mu);
	for (struct multi *m = open_list; m; m = m->next_open)
		pthread_mutex_lock(&m->mu);
}

static void
fork_parent(void)
{
	for (struct multi *m = open_list; m; m = m->next_open)
		pthread_mutex_unlock(&m->mu);
	pthread_mutex_unlock(&open_mu);
}

static void
fork_child(void)
{
	for (struct multi *m = open_list; m; m = m->next_open) {
		for (int i = 0; i < m->n; i++) {
			struct replica *rp = &m->rep[i];

			/* requests running in the parent never end here */
			rp->nthreads = rp->idle = rp->running = 0;
			rp->probing = 0;
			pthread_cond_init(&rp->cv, NULL);
		}
		pthread_mutex_unlock(&m->mu);
	}
	pthread_mutex_unlock(&open_mu);
}

static void
fork_setup(void)
{
	pthread_atfork(fork_prepare, fork_parent, fork_child);
}

static void
open_list_add(struct multi *m)
{
	pthread_once(&fork_once, fork_setup);
	pthread_mutex_lock(&open_mu);
	m->next_open = open_list;
	open_list = m;
	pthread_mutex_unlock(&open_mu);
}

static void
open_list_del(struct multi *m)
{
	pthread_mutex_lock(&open_mu);
	for (struct multi **pp = &open_list; *pp; pp = &(*pp)->next_open) {
		if (*pp == m) {
			*pp = m->next_open;
			break;
		}
	}
	pthread_mutex_unlock(&open_mu);
}

/* ---- open and close ---- */

static void
multi_close(struct backend *be)
{
	struct multi *m = (struct multi *)be;

	open_list_del(m);
	pthread_mutex_lock(&m->mu);
	m->stop = 1;
	for (int i = 0; i < m->n; i++) {
		struct replica *rp = &m->rep[i];

		/* requests nobody waits for any more (probes) need not run */
		while (rp->qhead) {
			struct job *j = rp->qhead;

			rp->qhead = j->next;
			j->rc = IMDR_EINTR;
			j->done = 1;
			if (j->cv)
				pthread_cond_broadcast(j->cv);
			job_unref(j);
		}
		rp->qtail = NULL;
		if (rp->running && rp->be)
			backend_abort(rp->be);
		pthread_cond_broadcast(&rp->cv);
	}
	pthread_mutex_unlock(&m->mu);
	for (int i = 0; i < m->n; i++) {
		struct replica *rp = &m->rep[i];

		for (int k = 0; k < rp->nthreads; k++)
			pthread_join(rp->th[k], NULL);
		backend_close(rp->be);
		pthread_cond_destroy(&rp->cv);
		free(rp->url);
	}
	pthread_mutex_destroy(&m->mu);
	pthread_condattr_destroy(&m->cattr);
	buf_free(&m->config);
	free(m->bad);
	backend_base_free(&m->base);
	free(m);
}

static double
env_double(const char *name, double dflt, double lo, double hi)
{
	const char *e = getenv(name);
	char *end;
	double v;

	if (e == NULL || *e == '\0')
		return dflt;
	v = strtod(e, &end);
	if (*end != '\0' || v < lo || v > hi) {
		warn0("$%s=%s: not a number from %g to %g; using %g", name, e, lo, hi, dflt);
		return dflt;
	}
	return v;
}

/* probe_configs: every replica's config, in parallel: the reference is
 * the first replica (in the user's order) that has one; another config is
 * refused, no config leaves the replica out (unless creating), no answer
 * sets it aside unverified. */
static int
probe_configs(struct multi *m)
{
	struct job *jobs[BACKEND_MAX_REPLICAS] = { NULL };
	int targets[BACKEND_MAX_REPLICAS], nt = 0, rc = IMDR_OK, ref = -1;
	pthread_cond_t cv;

	cond_init(m, &cv);
	pthread_mutex_lock(&m->mu);
	for (int i = 0; i < m->n; i++)
		if (m->rep[i].be)
			targets[nt++] = i;
	for (int k = 0; k < nt; k++)
		jobs[targets[k]] = submit(m, &m->rep[targets[k]], OP_GET, "config", 0,
		    BACKEND_WHOLE, NULL, &cv);
	wait_jobs(m, jobs, &cv, 0);
	for (int i = 0; i < m->n && rc == IMDR_OK; i++) {
		struct replica *rp = &m->rep[i];
		struct job *j = jobs[i];

		if (rp->be == NULL)
			continue;
		if (j == NULL) {
			/* set aside by stalled(): verified later by a probe */
			continue;
		}
		if (j->rc == IMDR_ENOENT) {
			if (m->create) {
				rp->verified = 1;
				rp->state = BACKEND_REPLICA_OK;
			} else {
				rp->state = BACKEND_REPLICA_ABSENT;
				snprintf(rp->why, sizeof(rp->why), "holds no imdr repository (no config object); make it a replica with imdr init URL --replica-of REPO");
			}
		} else if (j->rc != IMDR_OK) {
			/* set_down() already said why */
		} else if (ref < 0) {
			ref = i;
			buf_append(&m->config, j->out.data, j->out.len);
			rp->verified = 1;
		} else if (j->out.len != m->config.len ||
		    memcmp(j->out.data, m->config.data, m->config.len) != 0) {
			rc = err_set(IMDR_EINVAL, "replica %d (%s) holds a different repository than replica %d (%s): "
			    "their config objects differ (another repository id or key); a replica is made with "
			    "imdr init URL --replica-of REPO", i + 1, rp->url, ref + 1, m->rep[ref].url);
		} else
			rp->verified = 1;
	}
	for (int i = 0; i < m->n; i++)
		if (jobs[i])
			release(jobs[i]);
	pthread_mutex_unlock(&m->mu);
	pthread_cond_destroy(&cv);
	return rc;
}

static int
multi_open(const char *url, int create, struct backend **ret)
{
	struct multi *m;
	struct buf red = BUF_INIT;
	const char *p = url + strlen("multi:");
	struct backend_traits tr;
	int rc = IMDR_OK, remote = 0, conc = 1;

	m = xcalloc(1, sizeof(*m));
	pthread_mutex_init(&m->mu, NULL);
	open_list_add(m);
	pthread_condattr_init(&m->cattr);
	pthread_condattr_setclock(&m->cattr, CLOCK_MONOTONIC);
	m->create = create;
	m->pol.min_writes = (int)env_double("IMDR_MIN_REPLICAS", 1, 1, BACKEND_MAX_REPLICAS);
	m->pol.hedge = (int)env_double("IMDR_HEDGE", 1, 0, 1);
	m->stall_ns = (int64_t)(env_double("IMDR_REPLICA_TIMEOUT", 5, 0.1, 3600) * 1e9);
	buf_puts(&red, "multi:");
	for (;;) {
		size_t n = strcspn(p, "|");
		char *part = xstrndup(p, n);
		struct replica *rp;
		int orc;

		if (n == 0) {
			rc = err_set(IMDR_EINVAL, "%s: replica %d is empty (replicas are separated by one '|')",
			    url, m->n + 1);
		} else if (strncmp(part, "multi:", 6) == 0) {
			rc = err_set(IMDR_EINVAL, "%s: a replica cannot itself be multi:", url);
		} else if (m->n == BACKEND_MAX_REPLICAS) {
			rc = err_set(IMDR_EINVAL, "%s: at most %d replicas", url, BACKEND_MAX_REPLICAS);
		}
		if (rc) {
			free(part);
			goto err;
		}
		rp = &m->rep[m->n];
		rp->m = m;
		rp->idx = m->n++;
		rp->lacks[0] = rp->lacks[1] = -1;
		pthread_cond_init(&rp->cv, NULL);
		orc = backend_open(part, create, &rp->be);
		if (orc == IMDR_EINVAL || orc == IMDR_EUNSUP) {
			rc = err_set(orc, "replica %d of %s", rp->idx + 1, err_msg(orc));
			free(part);
			goto err;
		}
		if (orc) {
			/* not there now (an unplugged disk, no network): the
			 * others serve; it is named in every report */
			rp->be = NULL;
			rp->url = xstrdup(part);
			rp->state = BACKEND_REPLICA_ABSENT;
			snprintf(rp->why, sizeof(rp->why), "cannot be opened: %s", err_msg(orc));
			err_clear();
		} else {
			rp->url = xstrdup(backend_url(rp->be));
			backend_get_traits(rp->be, &tr);
			rp->remote = tr.remote;
			remote |= tr.remote;
			if (tr.concurrency > conc)
				conc = tr.concurrency;
			rp->maxthreads = tr.concurrency < 4 ? 4 : tr.concurrency > LANE_MAX ? LANE_MAX : tr.concurrency;
		}
		buf_puts(&red, rp->idx ? "|" : "");
		buf_puts(&red, rp->url);
		free(part);
		p += n;
		if (*p == '\0')
			break;
		p++;
	}
	backend_base_init(&m->base, &backend_multi, (char *)buf_cstr(&red));
	buf_free(&red);
	m->base.traits.remote = remote;
	m->base.traits.concurrency = conc;
	rc = probe_configs(m);
	if (rc)
		goto err_base;
	for (int i = 0; i < m->n; i++)
		if (m->rep[i].state == BACKEND_REPLICA_ABSENT && !create)
			warn0("replica %d (%s) %s: left out", i + 1, m->rep[i].url, m->rep[i].why);
	*ret = &m->base;
	return IMDR_OK;
err:
	backend_base_init(&m->base, &backend_multi, "multi:");
	buf_free(&red);
err_base:
	multi_close(&m->base);
	return rc;
}

const struct backend_ops backend_multi = {
	.name = "multi",
	.open = multi_open,
	.get = multi_get,
	.put = multi_put,
	.stat = multi_stat,
	.list = multi_list,
	.del = multi_del,
	.close = multi_close,
	.abort = multi_abort,
	.get_ex = multi_get_ex,
	.bad_object = multi_bad_object,
	.replicas = multi_replicas,
	.replica = multi_replica,
	.replica_info = multi_replica_info,
	.set_policy = multi_set_policy,
};
