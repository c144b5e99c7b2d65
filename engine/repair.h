/* repair — mend a repository after packs were lost (a disk, a bucket
 * policy, a human): restic's `repair index` and `repair snapshots`.
 *
 * repair_index: rewrite the index from what data/ holds: packs the index
 * lists that are gone are dropped (so the next backup stores their blobs
 * again instead of deduplicating against nothing), packs no index lists
 * are indexed from their headers. Old index objects go once the new ones
 * are written. Takes the prune lock: backups run on.
 *
 * repair_snapshots: find the snapshots whose trees name data that is gone
 * (following moved maps), and list what in each is lost. With rewrite,
 * write for each a new snapshot (same time, source, host, tags plus
 * "repaired") whose tree leaves the lost files and folders out, each
 * recorded in the snapshot's skipped list; a chunk that a later backup
 * stored again is pointed at its new copy instead, so its file survives.
 * Then the damaged snapshots are forgotten (forget_run: an audit record,
 * and a held snapshot stays). */
#ifndef IMDR_ENGINE_REPAIR_H
#define IMDR_ENGINE_REPAIR_H

#include <stddef.h>
#include <stdint.h>

#include "engine/engine.h"
#include "repo/repo.h"
#include "repo/snapshot.h"

struct repair_opts {
	int dry_run;			/* say what would change; change nothing */
	int rewrite;			/* snapshots: write mended ones, forget the damaged */
	struct engine_events ev;
};

struct repair_index_result {
	size_t packs;			/* in the new index */
	size_t packs_missing;		/* dropped: listed, gone */
	uint64_t blobs_dropped;
	size_t packs_added;		/* indexed from their headers */
	size_t index_before, index_after;	/* objects */
	char first_missing[80];
	char audit_id[65];
};

int repair_index(struct repo *r, const struct repair_opts *o,
    struct repair_index_result *ret);

struct repair_loss {
	char *path;
	char *reason;
};

struct repair_snapshot {
	struct snapshot_name sn;
	char *source;
	struct repair_loss *lost;	/* files and folders left out */
	size_t nlost;
	uint64_t chunks_healed;		/* pointed at a copy stored later */
	char new_id[SNAPSHOT_ID_HEX + 1];	/* the mended snapshot, or "" */
	int forgotten;			/* the damaged one was removed */
	char *held_by;			/* kept by a hold, or NULL */
};

struct repair_snapshots_result {
	size_t snapshots;		/* examined */
	struct repair_snapshot *v;	/* the damaged ones */
	size_t n;
	size_t rewritten, forgotten;
	uint64_t files_lost;
	char audit_id[65];
};

/* repair_snapshots: IMDR_OK when it ran (ret->n says how many snapshots
 * are damaged); free ret with repair_snapshots_result_free. */
int repair_snapshots(struct repo *r, const struct repair_opts *o,
    struct repair_snapshots_result *ret);
void repair_snapshots_result_free(struct repair_snapshots_result *ret);

#endif
