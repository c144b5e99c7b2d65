/* prune — free the space of data no snapshot uses, without ever blocking a
 * backup or losing a blob a concurrent backup just deduplicated against.
 *
 * Two phases (docs/FORMAT.md "Prune"). Mark: find what the snapshots use
 * (reading snapshot objects, tree nodes, index objects and, for packs no
 * index lists, pack headers: never whole packs), copy the used blobs out of
 * the emptiest packs into new packs until what stays unused is at most
 * max_unused of the repository (restic's rule), write an
 * index without the packs to go, and a plan naming them (repo/plan.h).
 * Sweep: a plan's packs are deleted once grace has passed and every backup
 * that was running when the plan took effect has ended, after checking
 * again, against the snapshots and index of that moment, that no snapshot
 * uses a blob only they hold (such a pack is taken back instead). A pack
 * whose blobs some tree still names leaves a moved map (repo/moved.h).
 * Each run sweeps the plans that are due, then marks anew; with a grace of
 * 0 and no backup running, one run does both for what it marks.
 *
 * Backups run beside it (prune takes the prune lock, which conflicts only
 * with another prune or an exclusive lock). A kill -9 anywhere leaves a
 * valid repository, and the next prune finishes the job. */
#ifndef IMDR_ENGINE_PRUNE_H
#define IMDR_ENGINE_PRUNE_H

#include <stdint.h>

#include "engine/engine.h"
#include "repo/repo.h"

#define PRUNE_GRACE_DEFAULT_SECS 3600

struct prune_opts {
	double max_unused;		/* share of the repository's blob bytes that
					 * may stay unused (restic's --max-unused):
					 * packs are repacked, the emptiest first,
					 * until no more is; 0..1 */
	int64_t grace_ns;		/* a plan's packs wait at least this long */
	int dry_run;			/* decide and report; write and delete nothing */
	struct engine_events ev;
};

struct prune_result {
	/* the repository as found */
	uint64_t snapshots, trees;	/* walked */
	uint64_t tree_bytes_read;	/* read in ranges of several nodes */
	uint64_t packs, pack_bytes;
	uint64_t used_blobs, used_bytes;
	uint64_t unused_blobs, unused_bytes;
	uint64_t lost_blobs;		/* used, but in no pack (check names them) */
	uint64_t unused_bytes_after;	/* unused in packs that stay */
	/* mark */
	uint64_t packs_unused;		/* wholly unused: planned for deletion */
	uint64_t packs_repacked;	/* their used blobs copied out, then planned */
	uint64_t blobs_repacked, bytes_repacked;
	uint64_t packs_written, bytes_written;	/* new packs */
	uint64_t packs_planned, bytes_planned;	/* in this run's plan */
	/* sweep */
	uint64_t plans_swept;
	uint64_t packs_deleted, bytes_deleted;
	uint64_t packs_taken_back;	/* planned, but in use again: kept */
	uint64_t moved_written, moved_deleted;
	/* waiting */
	uint64_t plans_waiting, packs_waiting, bytes_waiting;
	int64_t waiting_until_ns;	/* when their grace ends (latest) */
	uint64_t sessions_waiting;	/* backups they wait for */
	/* the index */
	uint64_t index_before, index_after;	/* objects */
	uint64_t index_bytes_before, index_bytes_after;
	/* backend traffic of the run */
	uint64_t requests, gets, puts, lists, dels;
	uint64_t bytes_read, bytes_sent;
	uint64_t bytes_read_repack;	/* of bytes_read: the blobs copied (and small gaps) */
	uint64_t bytes_read_planned;	/* dry run: what the repack would read */
	char plan_id[65];		/* this run's plan, or "" */
	char audit_id[65];
};

/* prune_run: one prune. IMDR_OK, or the error that stopped it (the
 * repository stays valid; the next run goes on). IMDR_EFORMAT when the
 * index names packs that are missing (repair index first). */
int prune_run(struct repo *r, const struct prune_opts *o,
    struct prune_result *ret);

#endif
