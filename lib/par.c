/* par — see par.h. A shared counter hands out items; the first error and
 * its message (err_set keeps messages per thread) are kept under a mutex. */
#include "lib/par.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "lib/buf.h"
#include "lib/err.h"

struct par {
	pthread_mutex_t mu;
	size_t next, n;
	par_fn fn;
	void *ctx;
	int rc;
	char *msg;
};

static void *
par_main(void *arg)
{
	struct par *p = arg;

	for (;;) {
		size_t i;
		int rc;

		pthread_mutex_lock(&p->mu);
		if (p->rc != IMDR_OK || p->next >= p->n) {
			pthread_mutex_unlock(&p->mu);
			break;
		}
		i = p->next++;
		pthread_mutex_unlock(&p->mu);
		rc = p->fn(p->ctx, i);
		if (rc != IMDR_OK) {
			pthread_mutex_lock(&p->mu);
			if (p->rc == IMDR_OK) {
				p->rc = rc;
				p->msg = xstrdup(err_msg(rc));
			}
			pthread_mutex_unlock(&p->mu);
		}
	}
	return NULL;
}

int
par_for(size_t n, int threads, par_fn fn, void *ctx)
{
	struct par p;
	pthread_t *th;
	int started = 0;

	if (threads <= 1 || n <= 1) {
		for (size_t i = 0; i < n; i++) {
			int rc = fn(ctx, i);

			if (rc != IMDR_OK)
				return rc;
		}
		return IMDR_OK;
	}
	if ((size_t)threads > n)
		threads = (int)n;
	memset(&p, 0, sizeof(p));
	pthread_mutex_init(&p.mu, NULL);
	p.n = n;
	p.fn = fn;
	p.ctx = ctx;
	th = xcalloc((size_t)threads, sizeof(*th));
	for (int k = 0; k < threads; k++)
		if (pthread_create(&th[started], NULL, par_main, &p) == 0)
			started++;
	if (started == 0)
		par_main(&p);	/* no thread could start: do it here */
	for (int k = 0; k < started; k++)
		pthread_join(th[k], NULL);
	free(th);
	pthread_mutex_destroy(&p.mu);
	if (p.rc != IMDR_OK) {
		err_set(p.rc, "%s", p.msg);
		free(p.msg);
	}
	return p.rc;
}
