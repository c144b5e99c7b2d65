/* check — verify a repository: every index object, every pack header,
 * every snapshot and the chain they form, every tree node of every
 * snapshot and that each chunk it names is where it says; with read_data,
 * every blob of every pack (authenticated, decrypted, and its id
 * recomputed); the audit log's records and links, and what a checkpoint
 * knew (engine/trail.h). Each problem goes to ev.error naming the object,
 * each oddity that loses nothing to ev.warn.
 *
 * A repository with several replicas (multi:) is checked replica by
 * replica, every message naming the replica, and then each replica's
 * objects are compared with the others': what one lacks is a problem
 * (named, up to CHECK_LACKS_NAMED a replica, then counted). */
#ifndef IMDR_ENGINE_CHECK_H
#define IMDR_ENGINE_CHECK_H

#include <stdint.h>

#include "engine/engine.h"
#include "engine/trail.h"
#include "repo/repo.h"

struct check_opts {
	int read_data;
	/* a checkpoint's digest (imdr audit --checkpoint) to verify the
	 * repository against, or NULL (then the newest checkpoint in the log,
	 * if any); see engine/trail.h */
	const char *since_checkpoint;
	struct engine_events ev;
};

struct check_result {
	uint64_t errors, warnings;
	uint64_t packs;			/* packs checked */
	uint64_t blobs;			/* blobs read and verified (read_data) */
	uint64_t snapshots, nodes, chunk_refs;
	uint64_t tree_bytes;		/* sealed bytes of the tree nodes walked */
	struct trail_verify_result audit;	/* the audit log (its errors and
						 * warnings are counted above too) */
	int replicas;			/* replicas checked */
	uint64_t objects_lacking;	/* objects a replica lacks that another
					 * holds, summed over the replicas */
};

#define CHECK_LACKS_NAMED 20

/* check_run: IMDR_OK when the check ran (ret->errors says what it found);
 * an error only when it could not run (the repository cannot be listed). */
int check_run(struct repo *r, const struct check_opts *o,
    struct check_result *ret);

#endif
