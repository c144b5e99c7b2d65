/* stats — the text of .imdr/stats, made when it is opened: what the caches
 * hold, what was fetched and how fast, what the backend was asked. */
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fs/fs_impl.h"

/* status_kb: a "Name:   N kB" line of /proc/self/status, in kB (0: none). */
static unsigned long
status_kb(const char *name)
{
	FILE *f = fopen("/proc/self/status", "r");
	size_t len = strlen(name);
	unsigned long kb = 0;
	char line[256];

	while (f && fgets(line, sizeof(line), f))
		if (strncmp(line, name, len) == 0 && line[len] == ':')
			kb = strtoul(line + len + 1, NULL, 10);
	if (f)
		fclose(f);
	return kb;
}

char *
stats_text(struct fs *fs)
{
	struct lru_stats cs, ns;
	struct repo_io_stats io;
	struct buf b = BUF_INIT;
	struct mallinfo2 mi = mallinfo2();
	size_t nsnaps;

	lru_get_stats(fs->chunks, &cs);
	lru_get_stats(fs->nodes, &ns);
	repo_io_stats(fs->r, &io);
	pthread_mutex_lock(&fs->smu);
	nsnaps = fs->nsnaps;
	pthread_mutex_unlock(&fs->smu);
	buf_printf(&b, "repository      %s (%s)\n", repo_url(fs->r), repo_kind(fs->r));
	buf_printf(&b, "snapshots       %zu\n", nsnaps);
	pthread_mutex_lock(&fs->emu);
	buf_printf(&b, "inodes          %zu\n", fs->n_inodes);
	buf_printf(&b, "chunk cache     %llu hits, %llu misses, %llu waits, %llu evictions, %llu read in full, %zu entries, %zu of %zu bytes (at most %zu); read in full and kept: %zu of %zu bytes\n",
	    (unsigned long long)cs.hits, (unsigned long long)cs.misses,
	    (unsigned long long)cs.waits, (unsigned long long)cs.evictions,
	    (unsigned long long)cs.drops, cs.entries, cs.bytes, cs.limit, cs.peak,
	    cs.spent, cs.spent_limit);
	buf_printf(&b, "node cache      %llu hits, %llu misses, %llu evictions, %zu entries, %zu of %zu bytes\n",
	    (unsigned long long)ns.hits, (unsigned long long)ns.misses,
	    (unsigned long long)ns.evictions, ns.entries, ns.bytes, ns.limit);
	buf_printf(&b, "chunk fetches   %llu, %llu bytes, latency avg %.2f ms, max %.2f ms\n",
	    (unsigned long long)fs->fetches, (unsigned long long)fs->fetch_bytes,
	    fs->fetches ? (double)fs->fetch_ns / (double)fs->fetches / 1e6 : 0.0,
	    (double)fs->fetch_ns_max / 1e6);
	buf_printf(&b, "tree segments   %llu reads, %llu bytes, %llu hits, %llu evictions, %llu of %llu bytes held; %llu nodes read alone\n",
	    (unsigned long long)io.tree_segment_reads, (unsigned long long)io.tree_segment_bytes,
	    (unsigned long long)io.tree_cache_hits, (unsigned long long)io.tree_cache_evictions,
	    (unsigned long long)io.tree_cache_bytes, (unsigned long long)io.tree_cache_limit,
	    (unsigned long long)io.tree_alone_reads);
	pthread_mutex_lock(&fs->pmu);
	buf_printf(&b, "prefetch        %llu jobs scheduled, %llu chunks skipped (read meanwhile), %d threads\n",
	    (unsigned long long)fs->prefetch_jobs, (unsigned long long)fs->prefetch_skipped,
	    fs->npthreads);
	pthread_mutex_unlock(&fs->pmu);
	buf_printf(&b, "read errors     %llu (EIO returned)\n", (unsigned long long)fs->eio_count);
	pthread_mutex_unlock(&fs->emu);
	buf_printf(&b, "backend %-7s gets %llu, bytes in %llu, errors %llu, get latency avg %.2f ms, max %.2f ms, lists %llu\n",
	    repo_kind(fs->r), (unsigned long long)io.gets, (unsigned long long)io.bytes_in,
	    (unsigned long long)io.errors,
	    io.gets ? (double)io.get_ns_total / (double)io.gets / 1e6 : 0.0,
	    (double)io.get_ns_max / 1e6, (unsigned long long)io.lists);
	for (int i = 0, n = repo_replica_count(fs->r); n > 1 && i < n; i++) {
		struct repo_replica ri;
		static const char *const states[] = { "ok", "set aside", "absent" };

		repo_replica_info(fs->r, i, &ri);
		buf_printf(&b, "replica %-7d %s (%s): %s%s%s\n", i + 1, ri.url, ri.kind,
		    states[ri.state], ri.why[0] ? ": " : "", ri.why);
		buf_printf(&b, "  served        %llu reads, %llu bytes; latency p50 %.2f ms, p95 %.2f ms\n",
		    (unsigned long long)ri.served, (unsigned long long)ri.served_bytes,
		    ri.latency_ms < 0 ? 0.0 : ri.latency_ms, ri.p95_ms < 0 ? 0.0 : ri.p95_ms);
		buf_printf(&b, "  hedges        %llu sent to it, %llu answered first; %llu reads taken over from another replica\n",
		    (unsigned long long)ri.hedges, (unsigned long long)ri.hedges_won,
		    (unsigned long long)ri.failovers);
		buf_printf(&b, "  errors        %llu; bad objects %llu%s%s%s\n",
		    (unsigned long long)ri.errors, (unsigned long long)ri.bad_objects,
		    ri.last_bad[0] ? " (last: " : "", ri.last_bad, ri.last_bad[0] ? ")" : "");
	}
	if (io.disk_cache)
		buf_printf(&b, "disk cache      %llu hits, %llu misses, %llu of %llu bytes\n",
		    (unsigned long long)io.disk_hits, (unsigned long long)io.disk_misses,
		    (unsigned long long)io.disk_bytes, (unsigned long long)io.disk_limit);
	/* where the peak goes: malloc's live bytes, what it holds free, and
	 * the rest (code, libraries, stacks, the kernel's FUSE buffers) */
	buf_printf(&b, "memory (RSS)    %lu kB, peak %lu kB; malloc: %zu kB in use, %zu kB free but held\n",
	    status_kb("VmRSS"), status_kb("VmHWM"), (mi.uordblks + mi.hblkhd) >> 10,
	    mi.fordblks >> 10);
	buf_cstr(&b);
	return (char *)buf_steal(&b, NULL);
}
