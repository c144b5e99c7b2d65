/* replicas — the state of each replica of a repository (a multi: one has
 * several; any other has one): whether it answers, how fast, and how far
 * behind the others it is: the snapshots it lacks and the bytes of
 * repository content (key slots, packs, index objects, snapshots) the
 * others hold and it does not. Audit records are a log of what happened
 * where, so they do not count as lag. Reads every replica's listings in
 * parallel; a replica that stops sending names for $IMDR_REPLICA_TIMEOUT
 * seconds (5) is reported unreachable. */
#ifndef IMDR_ENGINE_REPLICAS_H
#define IMDR_ENGINE_REPLICAS_H

#include <stdint.h>

#include "engine/engine.h"
#include "repo/repo.h"

struct replicas_opts {
	struct engine_events ev;	/* warn: what could not be listed */
};

struct replica_status {
	struct repo_replica info;	/* url, kind, what this process saw */
	int reachable;			/* it answered and listed */
	char why[512];			/* why not */
	double rtt_ms;			/* a small read now (median of 3); < 0 unknown */
	uint64_t objects, bytes;	/* repository content it holds */
	uint64_t snapshots;
	uint64_t snapshots_missing;	/* snapshots another replica holds */
	uint64_t objects_missing;	/* content objects another replica holds */
	uint64_t bytes_behind;		/* their bytes */
};

struct replicas_result {
	int n;
	struct replica_status r[REPO_MAX_REPLICAS];
	uint64_t snapshots, objects, bytes;	/* of all replicas together */
	int lagging;			/* replicas unreachable or behind */
};

/* replicas_status: see above. IMDR_OK once every replica was asked (the
 * answers are in ret); an error only when no replica could be listed. */
int replicas_status(struct repo *r, const struct replicas_opts *o,
    struct replicas_result *ret);

#endif
