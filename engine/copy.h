/* copy — bring a repository (a replica) up to date with another that has
 * the same id and keys: the objects the destination lacks are copied as
 * they are stored, never decrypted into anything else nor re-chunked, but
 * authenticated first (a damaged object is read from another replica of
 * the source, or reported and left out). Key slots and packs go first,
 * then index objects, then audit records, snapshots last and oldest
 * first; many objects at once. Every object appears whole or not at all,
 * and a snapshot only once everything it references is there, so a copy
 * killed at any point (kill -9) leaves the destination valid, and the
 * next run copies only what is still missing. A run with nothing to copy
 * only lists.
 *
 * A destination with several replicas (multi:) is brought up to date
 * replica by replica, each getting what it lacks. */
#ifndef IMDR_ENGINE_COPY_H
#define IMDR_ENGINE_COPY_H

#include <stddef.h>
#include <stdint.h>

#include "engine/engine.h"
#include "repo/repo.h"

struct copy_opts {
	/* only these snapshots (id prefix, latest, a time; see
	 * snapshot_resolve_name) and what they reference; none: all */
	char *const *snapshots;
	size_t nsnapshots;
	/* only this source's snapshots (with snapshots: `latest` and times
	 * resolve among them); NULL: every source */
	const char *source;
	int threads;		/* objects in flight; 0: from the backends */
	int dry_run;		/* list and count, copy nothing */
	struct engine_events ev;	/* total/advance: objects and bytes */
};

struct copy_result {
	uint64_t listed;		/* objects the source holds */
	uint64_t present;		/* ... that the destination had already */
	uint64_t to_copy, to_copy_bytes;	/* what it lacked (summed over
						 * destination replicas) */
	uint64_t copied, copied_bytes;
	uint64_t snapshots_copied;
	uint64_t failed;		/* objects that could not be copied */
	uint64_t held_back;		/* snapshots left out: they need one */
	int replicas;			/* destination replicas written */
	int replicas_left_out;		/* ... unreachable or unopenable: not
					 * written (each reported) */
	uint64_t duration_ms;
};

/* copy_run: copy what dst lacks from src. IMDR_OK when the copy ran
 * (ret->failed and ret->held_back say what it could not do; each was
 * reported through ev.error); IMDR_EINVAL when src and dst are not the
 * same repository; IMDR_EINTR when cancelled; other codes when a side
 * cannot be listed. Appends an audit record to dst when it copied
 * anything. */
int copy_run(struct repo *src, struct repo *dst, const struct copy_opts *o,
    struct copy_result *ret);

#endif
