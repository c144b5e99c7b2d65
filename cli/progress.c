#include "cli/progress.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/common.h"
#include "lib/buf.h"
#include "lib/log.h"
#include "lib/timefmt.h"

struct progress {
	const char *verb;
	int tty, enabled, stop;
	uint64_t files, bytes, tfiles, tbytes;
	int64_t t0;
	pthread_t th;
	pthread_mutex_t mu;
	pthread_cond_t cv;
};

static void
draw(struct progress *p, int final)
{
	uint64_t files = __atomic_load_n(&p->files, __ATOMIC_RELAXED);
	uint64_t bytes = __atomic_load_n(&p->bytes, __ATOMIC_RELAXED);
	uint64_t tb = __atomic_load_n(&p->tbytes, __ATOMIC_RELAXED);
	uint64_t tf = __atomic_load_n(&p->tfiles, __ATOMIC_RELAXED);
	double secs = (double)(time_mono_ns() - p->t0) / 1e9;
	double rate = secs > 0 ? (double)bytes / secs : 0;
	char b1[32], b2[32], r[32], line[256];
	int n;

	fmt_size(bytes, b1);
	fmt_size((uint64_t)rate, r);
	if (tb > 0 && bytes <= tb) {
		double left = rate > 0 ? (double)(tb - bytes) / rate : 0;

		fmt_size(tb, b2);
		n = snprintf(line, sizeof(line), "%s: %llu/%llu files, %s of %s (%.0f%%), %s/s, ETA %d:%02d",
		    p->verb, (unsigned long long)files, (unsigned long long)tf, b1, b2,
		    100.0 * (double)bytes / (double)tb, r, (int)left / 60, (int)left % 60);
	} else {
		n = snprintf(line, sizeof(line), "%s: %llu files, %s, %s/s, %d:%02d elapsed",
		    p->verb, (unsigned long long)files, b1, r, (int)secs / 60, (int)secs % 60);
	}
	(void)n;
	if (p->tty)
		fprintf(stderr, "\r\033[K%s%s", line, final ? "\n" : "");
	else
		fprintf(stderr, "%s\n", line);
	fflush(stderr);
}

static void *
run(void *arg)
{
	struct progress *p = arg;

	pthread_mutex_lock(&p->mu);
	while (!p->stop) {
		struct timespec ts;

		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += p->tty ? 500000000 : 0;
		ts.tv_sec += p->tty ? 0 : 1;
		if (ts.tv_nsec >= 1000000000) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000;
		}
		pthread_cond_timedwait(&p->cv, &p->mu, &ts);
		if (!p->stop)
			draw(p, 0);
	}
	pthread_mutex_unlock(&p->mu);
	return NULL;
}

struct progress *
progress_start(const char *verb, int force, int quiet)
{
	struct progress *p = xcalloc(1, sizeof(*p));

	p->verb = verb;
	p->tty = isatty(2);
	p->enabled = !quiet && (p->tty || force);
	p->t0 = time_mono_ns();
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->cv, NULL);
	if (p->enabled && pthread_create(&p->th, NULL, run, p) != 0)
		p->enabled = 0;
	return p;
}

void
progress_total(struct progress *p, uint64_t files, uint64_t bytes)
{
	__atomic_store_n(&p->tfiles, files, __ATOMIC_RELAXED);
	__atomic_store_n(&p->tbytes, bytes, __ATOMIC_RELAXED);
}

void
progress_add(struct progress *p, uint64_t files, uint64_t bytes)
{
	__atomic_add_fetch(&p->files, files, __ATOMIC_RELAXED);
	__atomic_add_fetch(&p->bytes, bytes, __ATOMIC_RELAXED);
}

void
progress_stop(struct progress *p)
{
	if (p == NULL)
		return;
	if (p->enabled) {
		pthread_mutex_lock(&p->mu);
		p->stop = 1;
		pthread_cond_signal(&p->cv);
		pthread_mutex_unlock(&p->mu);
		pthread_join(p->th, NULL);
		if (p->tty) {
			fprintf(stderr, "\r\033[K");
			fflush(stderr);
		}
	}
	pthread_mutex_destroy(&p->mu);
	pthread_cond_destroy(&p->cv);
	free(p);
}

static void
ce_total(void *ctx, uint64_t files, uint64_t bytes)
{
	struct cli_events *ce = ctx;

	if (ce->pg)
		progress_total(ce->pg, files, bytes);
}

static void
ce_advance(void *ctx, uint64_t files, uint64_t bytes)
{
	struct cli_events *ce = ctx;

	if (ce->pg)
		progress_add(ce->pg, files, bytes);
}

static void
ce_report(struct cli_events *ce, const char *kind, const char *what, const char *msg)
{
	if (what)
		warn0("%s: %s: %s", kind, what, msg);
	else
		warn0("%s: %s", kind, msg);
	(void)ce;
}

static void
ce_warn(void *ctx, const char *what, const char *msg)
{
	struct cli_events *ce = ctx;

	__atomic_add_fetch(&ce->warnings, 1, __ATOMIC_RELAXED);
	if (!ce->quiet)
		ce_report(ce, "warning", what, msg);
}

static void
ce_error(void *ctx, const char *what, const char *msg)
{
	struct cli_events *ce = ctx;

	__atomic_add_fetch(&ce->errors, 1, __ATOMIC_RELAXED);
	ce_report(ce, "error", what, msg);
}

static volatile sig_atomic_t caught;

static void
on_signal(int sig)
{
	(void)sig;
	caught = 1;
}

const volatile sig_atomic_t *
cli_catch_signals(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	return &caught;
}

void
cli_events_bind(struct engine_events *ev, struct cli_events *ce)
{
	memset(ev, 0, sizeof(*ev));
	ev->total = ce_total;
	ev->advance = ce_advance;
	ev->warn = ce_warn;
	ev->error = ce_error;
	ev->ctx = ce;
	ev->cancel = &caught;
}
