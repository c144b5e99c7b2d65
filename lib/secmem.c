/* secmem — see secmem.h.
 *
 * Each region is a private anonymous mapping: a header page-aligned at its
 * start (size, links), the caller's bytes after it. Regions are few (a
 * repository's keys, a passphrase while it is read) and live long, so a
 * mapping each is simpler than an allocator and costs a page or two. The
 * list of live regions serves secmem_relock. */
#include "lib/secmem.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <unistd.h>

struct region {
	size_t map_len;
	struct region *prev, *next;
};

#define HDR_LEN 64	/* keeps the caller's bytes 64-byte aligned */

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static struct region *live;

static size_t
page_size(void)
{
	long p = sysconf(_SC_PAGESIZE);

	return p > 0 ? (size_t)p : 4096;
}

void
secmem_wipe(void *p, size_t n)
{
	explicit_bzero(p, n);
}

void *
secmem_alloc(size_t n)
{
	size_t ps = page_size(), len = (HDR_LEN + n + ps - 1) / ps * ps;
	struct region *g;
	void *m;

	m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (m == MAP_FAILED) {
		fprintf(stderr, "imdr: out of memory allocating %zu bytes for keys\n", n);
		abort();
	}
	/* Both are best effort: MADV_DONTDUMP exists since Linux 3.4, and
	 * mlock fails with EPERM or ENOMEM under a small RLIMIT_MEMLOCK;
	 * the memory is as good without them, only less private. */
	(void)madvise(m, len, MADV_DONTDUMP);
	(void)mlock(m, len);
	g = m;
	g->map_len = len;
	pthread_mutex_lock(&mu);
	g->prev = NULL;
	g->next = live;
	if (live)
		live->prev = g;
	live = g;
	pthread_mutex_unlock(&mu);
	return (char *)m + HDR_LEN;
}

void
secmem_free(void *p)
{
	struct region *g;
	size_t len;

	if (p == NULL)
		return;
	g = (struct region *)((char *)p - HDR_LEN);
	len = g->map_len;
	pthread_mutex_lock(&mu);
	if (g->prev)
		g->prev->next = g->next;
	else
		live = g->next;
	if (g->next)
		g->next->prev = g->prev;
	pthread_mutex_unlock(&mu);
	explicit_bzero(g, len);
	(void)munlock(g, len);
	munmap(g, len);
}

void
secmem_relock(void)
{
	pthread_mutex_lock(&mu);
	for (struct region *g = live; g; g = g->next)
		(void)mlock(g, g->map_len);
	pthread_mutex_unlock(&mu);
}

void
secmem_process_harden(void)
{
	(void)prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
}
