/* lock — see lock.h. Locks are sealed JSON objects; since objects are
 * write-once, a refresh writes a new lock object and deletes the old one. */
#include "repo/lock.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "lib/err.h"
#include "repo/repo_impl.h"
#include "lib/hex.h"
#include "lib/log.h"
#include "lib/timefmt.h"

#define REFRESH_SECS (5 * 60)

struct lock {
	struct repo *r;
	int exclusive;
	char name[80];
	pthread_t refresher;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int stop, thread_started;
};

struct holder {
	char name[80];
	int exclusive;
	int64_t time_ns;
	char host[128];
	long pid;
};

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
	j = json_pack("{s:b, s:I, s:s, s:I}", "exclusive", l->exclusive,
	    "time_ns", (json_int_t)time_now_ns(), "host", host,
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
	struct holder *v;
	size_t n, cap;
};

static int
scan_one(void *vctx, const char *name, uint64_t size)
{
	struct scan *s = vctx;
	struct buf b = BUF_INIT;
	json_error_t e;
	json_t *j;
	struct holder h;
	int ex = 0;
	json_int_t t = 0, pid = 0;
	const char *host = "?";

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
	if (j == NULL || json_unpack(j, "{s:b, s:I, s?s, s?I}", "exclusive", &ex,
	    "time_ns", &t, "host", &host, "pid", &pid) != 0) {
		json_decref(j);
		return 0;
	}
	memset(&h, 0, sizeof(h));
	snprintf(h.name, sizeof(h.name), "%s", name);
	snprintf(h.host, sizeof(h.host), "%s", host);
	h.exclusive = ex;
	h.time_ns = t;
	h.pid = (long)pid;
	json_decref(j);
	if (s->n == s->cap) {
		s->cap = s->cap ? s->cap * 2 : 8;
		s->v = xrealloc(s->v, s->cap * sizeof(*s->v));
	}
	s->v[s->n++] = h;
	return 0;
}

/* conflict: IMDR_OK, or IMDR_ELOCKED naming a live conflicting holder. Stale
 * locks are removed when taking an exclusive lock. */
static int
conflict(struct lock *l, const char *own)
{
	struct scan s = { l->r, own, NULL, 0, 0 };
	int64_t now = time_now_ns();
	int rc;

	rc = backend_list(repo_be(l->r), "locks/", scan_one, &s);
	for (size_t i = 0; rc == IMDR_OK && i < s.n; i++) {
		struct holder *h = &s.v[i];
		int stale = now - h->time_ns > (int64_t)LOCK_STALE_SECS * 1000000000;
		char when[40];

		if (stale) {
			if (l->exclusive)
				backend_del(repo_be(l->r), h->name);
			continue;
		}
		if (!l->exclusive && !h->exclusive)
			continue;
		time_format(h->time_ns, 0, when);
		rc = err_set(IMDR_ELOCKED, "repository %s is locked %s by %s pid %ld since %s (%s)",
		    backend_url(repo_be(l->r)), h->exclusive ? "exclusively" : "",
		    h->host, h->pid, when, h->name);
	}
	free(s.v);
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

		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += REFRESH_SECS;
		pthread_cond_timedwait(&l->cv, &l->mu, &ts);
		if (l->stop)
			break;
		snprintf(old, sizeof(old), "%s", l->name);
		if (write_lock(l) == IMDR_OK)
			backend_del(repo_be(l->r), old);
		else
			warn0("cannot refresh lock %s: %s", old, err_msg(IMDR_EIO));
	}
	pthread_mutex_unlock(&l->mu);
	return NULL;
}

int
lock_acquire(struct repo *r, int exclusive, struct lock **ret)
{
	struct lock *l = xcalloc(1, sizeof(*l));
	int rc;

	l->r = r;
	l->exclusive = exclusive;
	pthread_mutex_init(&l->mu, NULL);
	pthread_cond_init(&l->cv, NULL);
	rc = conflict(l, NULL);
	if (rc)
		goto err;
	rc = write_lock(l);
	if (rc)
		goto err;
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
