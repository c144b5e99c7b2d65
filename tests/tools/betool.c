/* betool — drive one backend by hand, for tests and measurements:
 *
 *   betool URL put NAME < data        create NAME (write-once)
 *   betool URL get NAME [OFF [LEN]]   object bytes to stdout (LEN "-": to the end)
 *   betool URL stat NAME              size
 *   betool URL list PREFIX            "name size" lines, sorted
 *   betool URL del NAME
 *   betool URL init                   open with create (bucket/container)
 *   betool URL bench-get NAME N SIZE THREADS
 *                                     N ranged gets of SIZE bytes spread over
 *                                     NAME from THREADS threads; prints
 *                                     "gets=N bytes=B secs=S MBps=R avg_ms=A"
 *
 * Errors are one line on stderr and exit status 1 (2 for usage). */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "backends/backend.h"
#include "lib/buf.h"
#include "lib/err.h"
#include "lib/log.h"
#include "lib/timefmt.h"

static int
usage(void)
{
	fprintf(stderr, "usage: betool URL put|get|stat|list|del|init|bench-get ...\n");
	return 2;
}

struct names {
	char **v;
	uint64_t *sz;
	size_t n;
};

static int
collect(void *ctx, const char *name, uint64_t size)
{
	struct names *l = ctx;

	l->v = xrealloc(l->v, (l->n + 1) * sizeof(char *));
	l->sz = xrealloc(l->sz, (l->n + 1) * sizeof(uint64_t));
	l->v[l->n] = xstrdup(name);
	l->sz[l->n++] = size;
	return 0;
}

static int
cmp_idx(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

struct bench {
	struct backend *be;
	const char *name;
	uint64_t objsize, size;
	int n, next, failed;
	pthread_mutex_t mu;
};

static void *
bench_worker(void *arg)
{
	struct bench *b = arg;
	struct buf out = BUF_INIT;

	for (;;) {
		int i;
		uint64_t off;

		pthread_mutex_lock(&b->mu);
		i = b->next++;
		pthread_mutex_unlock(&b->mu);
		if (i >= b->n)
			break;
		off = ((uint64_t)i * b->size) % (b->objsize - b->size + 1);
		if (backend_get(b->be, b->name, off, b->size, &out) != IMDR_OK) {
			warn0("%s", err_msg(IMDR_ENET));
			b->failed = 1;
			break;
		}
	}
	buf_free(&out);
	return NULL;
}

static int
bench_get(struct backend *be, char **argv)
{
	struct bench b = { be, argv[0], 0, strtoull(argv[2], NULL, 10), atoi(argv[1]), 0, 0,
		PTHREAD_MUTEX_INITIALIZER };
	int nth = atoi(argv[3]);
	pthread_t th[64];
	struct backend_stats st;
	int64_t t0;
	double secs;

	if (nth < 1 || nth > 64 || b.n < 1 || b.size == 0)
		return usage();
	if (backend_stat(be, b.name, &b.objsize) != IMDR_OK) {
		fprintf(stderr, "betool: %s\n", err_msg(IMDR_ENOENT));
		return 1;
	}
	if (b.objsize < b.size) {
		fprintf(stderr, "betool: %s has %llu bytes, fewer than one read of %llu\n",
		    b.name, (unsigned long long)b.objsize, (unsigned long long)b.size);
		return 1;
	}
	t0 = time_mono_ns();
	for (int i = 0; i < nth; i++)
		pthread_create(&th[i], NULL, bench_worker, &b);
	for (int i = 0; i < nth; i++)
		pthread_join(th[i], NULL);
	secs = (double)(time_mono_ns() - t0) / 1e9;
	backend_get_stats(be, &st);
	printf("gets=%d bytes=%llu secs=%.3f MBps=%.1f avg_ms=%.1f max_ms=%.1f\n", b.n,
	    (unsigned long long)st.bytes_in, secs, (double)st.bytes_in / secs / 1e6,
	    st.gets ? (double)st.get_ns_total / (double)st.gets / 1e6 : 0.0,
	    (double)st.get_ns_max / 1e6);
	return b.failed;
}

int
main(int argc, char **argv)
{
	struct backend *be;
	struct buf b = BUF_INIT;
	const char *cmd;
	int rc;

	log_init("betool");
	if (argc < 3)
		return usage();
	cmd = argv[2];
	rc = backend_open(argv[1], strcmp(cmd, "init") == 0, &be);
	if (rc) {
		fprintf(stderr, "betool: %s\n", err_msg(rc));
		return 1;
	}
	if (strcmp(cmd, "init") == 0) {
		rc = IMDR_OK;
	} else if (strcmp(cmd, "put") == 0 && argc == 4) {
		char tmp[65536];
		ssize_t n;

		while ((n = read(0, tmp, sizeof(tmp))) > 0)
			buf_append(&b, tmp, (size_t)n);
		rc = backend_put(be, argv[3], b.data, b.len);
	} else if (strcmp(cmd, "get") == 0 && argc >= 4 && argc <= 6) {
		uint64_t off = argc > 4 ? strtoull(argv[4], NULL, 10) : 0;
		uint64_t len = argc > 5 && strcmp(argv[5], "-") != 0 ?
		    strtoull(argv[5], NULL, 10) : BACKEND_WHOLE;

		rc = backend_get(be, argv[3], off, len, &b);
		if (rc == IMDR_OK)
			fwrite(b.data, 1, b.len, stdout);
	} else if (strcmp(cmd, "stat") == 0 && argc == 4) {
		uint64_t size;

		rc = backend_stat(be, argv[3], &size);
		if (rc == IMDR_OK)
			printf("%llu\n", (unsigned long long)size);
	} else if (strcmp(cmd, "list") == 0 && argc == 4) {
		struct names l = { NULL, NULL, 0 };

		rc = backend_list(be, argv[3], collect, &l);
		if (rc == IMDR_OK) {
			char **idx = xcalloc(l.n + 1, sizeof(char *));

			for (size_t i = 0; i < l.n; i++)
				idx[i] = xasprintf("%s %llu", l.v[i], (unsigned long long)l.sz[i]);
			qsort(idx, l.n, sizeof(char *), cmp_idx);
			for (size_t i = 0; i < l.n; i++) {
				printf("%s\n", idx[i]);
				free(idx[i]);
			}
			free(idx);
		}
		for (size_t i = 0; i < l.n; i++)
			free(l.v[i]);
		free(l.v);
		free(l.sz);
	} else if (strcmp(cmd, "del") == 0 && argc == 4) {
		rc = backend_del(be, argv[3]);
	} else if (strcmp(cmd, "bench-get") == 0 && argc == 7) {
		rc = bench_get(be, argv + 3);
		backend_close(be);
		return rc;
	} else {
		backend_close(be);
		return usage();
	}
	if (rc)
		fprintf(stderr, "betool: %s\n", err_msg(rc));
	buf_free(&b);
	backend_close(be);
	return rc ? 1 : 0;
}
