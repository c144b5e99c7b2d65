/* lock — see lock.h. Locks are sealed JSON objects; since objects are
 * write-once, a refresh writes a new lock object (same session) and deletes
 * the old one. Freshness is measured on CLOCK_BOOTTIME, which counts time
 * spent suspended: a laptop that slept through a prune must not commit a
 * snapshot that relies on data the prune deleted meanwhile. */
#include "repo/lock.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "lib/array.h"
#include "lib/err.h"
#include "repo/repo_impl.h"
#include "lib/hex.h"
#include "lib/log.h"
#include "lib/timefmt.h"

/* a refresh later than this may have let another process see the lock as
 * stale (LOCK_STALE_SECS), with a margin for the work after the check */
#define FRESH_SECS (LOCK_STALE_SECS - LOCK_REFRESH_SECS)

static const char *const mode_names[] = { "shared", "exclusive", "prune" };

struct lock {
	struct repo *r;
	int mode;
	char name[80];
	char session[LOCK_SESSION_HEX + 1];
	int64_t started_ns;
	pthread_t refresher;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int stop, thread_started;
	int64_t last_ok;	/* CLOCK_BOOTTIME of the last write */
	int late;		/* a refresh came too late or failed */
};

static int64_t
boot_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_BOOTTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int
write_lock(struct lock *l)
{
	uint8_t rid[16];
	char hex[33], host[128] = "", *js;
	json_t *j;
	int rc;

	crypto_random(rid, sizeof(rid));
	hex_encode(rid, sizeof(rid), hex);
	snprintf(l->name, sizeof(l->name), "locks/%s", hex);
	gethostname(host, sizeof(host) - 1);
	j = json_pack("{s:b, s:s, s:s, s:I, s:I, s:s, s:I}",
	    "exclusive", l->mode == LOCK_EXCLUSIVE, "mode", mode_names[l->mode],
	    "session", l->session, "time_ns", (json_int_t)time_now_ns(),
	    "started_ns", (json_int_t)l->started_ns, "host", host,
	    "pid", (json_int_t)getpid());
	js = json_dumps(j, JSON_COMPACT);
	json_decref(j);
	rc = repo_put_sealed(l->r, OBJ_LOCK, l->name, js, strlen(js));
	free(js);
	return rc;
}

struct scan {
	struct repo *r;
	const char *own;
	struct lock_info *v;
	size_t n, cap;
};

static int
scan_one(void *vctx, const char *name, uint64_t size)
{
	struct scan *s = vctx;
	struct buf b = BUF_INIT;
	json_error_t e;
	json_t *j;
	struct lock_info h;
	int ex = 0;
	json_int_t t = 0, pid = 0, started = 0;
	const char *host = "?", *mode = NULL, *session = "";

	if (s->own && strcmp(name, s->own) == 0)
		return 0;
	if (repo_get_sealed_sized(s->r, OBJ_LOCK, name, size, &b) != IMDR_OK) {
		/* Gone meanwhile, or unreadable: not a live lock we honour. */
		err_clear();
		buf_free(&b);
		return 0;
	}
	j = json_loadb((const char *)b.data, b.len, 0, &e);
	buf_free(&b);
	if (j == NULL || json_unpack(j, "{s:b, s:I, s?s, s?I, s?s, s?s, s?I}", "exclusive", &ex,
	    "time_ns", &t, "host", &host, "pid", &pid, "mode", &mode, "session", &session,
	    "started_ns", &started) != 0) {
		json_decref(j);
		return 0;
	}
	memset(&h, 0, sizeof(h));
	snprintf(h.name, sizeof(h.name), "%s", name);
	snprintf(h.host, sizeof(h.host), "%s", host);
	if (strlen(session) == LOCK_SESSION_HEX && hex_valid(session, LOCK_SESSION_HEX))
		memcpy(h.session, session, LOCK_SESSION_HEX + 1);
	h.mode = ex ? LOCK_EXCLUSIVE : mode && strcmp(mode, "prune") == 0 ? LOCK_PRUNE : LOCK_SHARED;
	h.time_ns = t;
	h.started_ns = started ? started : t;
	h.pid = (long)pid;
	json_decref(j);
	*ARRAY_PUSH(s->v, s->n, s->cap) = h;
	return 0;
}

/* stale: not refreshed in time, or its process is gone (same host only:
 * a pid means nothing elsewhere). */
static int
stale(const struct lock_info *h, int64_t now)
{
	char host[128] = "";

	if (now - h->time_ns > (int64_t)LOCK_STALE_SECS * 1000000000)
		return 1;
	gethostname(host, sizeof(host) - 1);
	return h->pid > 0 && strcmp(h->host, host) == 0 && kill((pid_t)h->pid, 0) != 0 &&
	    errno == ESRCH;
}

/* list_locks: the live locks except own; stale ones are deleted when
 * remove_stale. */
static int
list_locks(struct repo *r, const char *own, int remove_stale, struct lock_info **ret,
    size_t *ret_n)
{
	struct scan s = { r, own, NULL, 0, 0 };
	int64_t now = time_now_ns();
	size_t k = 0;
	int rc;

	rc = backend_list(repo_be(r), "locks/", scan_one, &s);
	for (size_t i = 0; rc == IMDR_OK && i < s.n; i++) {
		if (stale(&s.v[i], now)) {
			if (remove_stale)
				backend_del(repo_be(r), s.v[i].name);
			continue;
		}
		s.v[k++] = s.v[i];
	}
	if (rc) {
		free(s.v);
		return rc;
	}
	*ret = s.v;
	*ret_n = k;
	return IMDR_OK;
}

int
lock_list_live(struct repo *r, const struct lock *own, struct lock_info **ret,
    size_t *ret_n)
{
	return list_locks(r, own ? own->name : NULL, 0, ret, ret_n);
}

static int
conflicts(int taker, int holder)
{
	if (taker == LOCK_EXCLUSIVE || holder == LOCK_EXCLUSIVE)
		return 1;
	return taker == LOCK_PRUNE && holder == LOCK_PRUNE;
}

/* conflict: IMDR_OK, or IMDR_ELOCKED naming a live conflicting holder. Stale
 * locks are removed by prune and exclusive takers. */
static int
conflict(struct lock *l, const char *own)
{
	struct lock_info *v = NULL;
	size_t n = 0;
	int rc;

	rc = list_locks(l->r, own, l->mode != LOCK_SHARED, &v, &n);
	for (size_t i = 0; rc == IMDR_OK && i < n; i++) {
		struct lock_info *h = &v[i];
		char when[40];

		if (!conflicts(l->mode, h->mode))
			continue;
		time_format(h->started_ns, 0, when);
		rc = err_set(IMDR_ELOCKED, "repository %s is locked (%s) by %s pid %ld since %s (%s)",
		    backend_url(repo_be(l->r)), mode_names[h->mode], h->host, h->pid, when,
		    h->name);
	}
	free(v);
	return rc;
}

static void *
refresh_main(void *arg)
{
	struct lock *l = arg;

	pthread_mutex_lock(&l->mu);
	while (!l->stop) {
		struct timespec ts;
		char old[80];
		int64_t now;

		clock_gettime(CLOCK_MONOTONIC, &ts);
		ts.tv_sec += LOCK_REFRESH_SECS;
		pthread_cond_timedwait(&l->cv, &l->mu, &ts);
		if (l->stop)
			break;
		snprintf(old, sizeof(old), "%s", l->name);
		now = boot_ns();
		if (now - __atomic_load_n(&l->last_ok, __ATOMIC_RELAXED) >
		    (int64_t)FRESH_SECS * 1000000000)
			__atomic_store_n(&l->late, 1, __ATOMIC_RELAXED);
		if (write_lock(l) == IMDR_OK) {
			backend_del(repo_be(l->r), old);
			__atomic_store_n(&l->last_ok, now, __ATOMIC_RELAXED);
		} else {
			warn0("cannot refresh lock %s: %s", old, err_msg(IMDR_EIO));
			err_clear();
			snprintf(l->name, sizeof(l->name), "%s", old);
		}
	}
	pthread_mutex_unlock(&l->mu);
	return NULL;
}

int
lock_acquire(struct repo *r, int mode, struct lock **ret)
{
	struct lock *l = xcalloc(1, sizeof(*l));
	pthread_condattr_t ca;
	uint8_t sid[LOCK_SESSION_HEX / 2];
	int rc;

	if (mode < LOCK_SHARED || mode > LOCK_PRUNE)
		mode = LOCK_EXCLUSIVE;
	l->r = r;
	l->mode = mode;
	crypto_random(sid, sizeof(sid));
	hex_encode(sid, sizeof(sid), l->session);
	l->started_ns = time_now_ns();
	pthread_mutex_init(&l->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&l->cv, &ca);
	pthread_condattr_destroy(&ca);
	rc = conflict(l, NULL);
	if (rc)
		goto err;
	rc = write_lock(l);
	if (rc)
		goto err;
	l->last_ok = boot_ns();
	/* Someone may have locked between our look and our write: look again,
	 * and back off if so. */
	rc = conflict(l, l->name);
	if (rc) {
		backend_del(repo_be(r), l->name);
		goto err;
	}
	if (pthread_create(&l->refresher, NULL, refresh_main, l) == 0)
		l->thread_started = 1;
	*ret = l;
	return IMDR_OK;
err:
	pthread_mutex_destroy(&l->mu);
	pthread_cond_destroy(&l->cv);
	free(l);
	return rc;
}

const char *
lock_session(const struct lock *l)
{
	return l->session;
}

int
lock_fresh(const struct lock *l)
{
	/* atomics, not mu: the refresher holds mu across its network write */
	return !__atomic_load_n(&l->late, __ATOMIC_RELAXED) &&
	    boot_ns() - __atomic_load_n(&l->last_ok, __ATOMIC_RELAXED) <=
	    (int64_t)FRESH_SECS * 1000000000;
}

void
lock_release(struct lock *l)
{
	if (l == NULL)
		return;
	pthread_mutex_lock(&l->mu);
	l->stop = 1;
	pthread_cond_signal(&l->cv);
	pthread_mutex_unlock(&l->mu);
	if (l->thread_started)
		pthread_join(l->refresher, NULL);
	backend_del(repo_be(l->r), l->name);
	pthread_mutex_destroy(&l->mu);
	pthread_cond_destroy(&l->cv);
	free(l);
}
