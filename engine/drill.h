/* drill — a restore test with a report, as an auditor asks for one: on
 * each replica of the repository (or the one named), restore a snapshot
 * (or a random sample of its files) into a scratch folder, verify every
 * restored file, time it, and estimate what a full restore would take
 * against the RTO.
 *
 * Verifying a file: its bytes on disk are read back; a file the
 * snapshot's manifest.json lists (every file of a chat snapshot but the
 * manifest) must have the SHA-256 the manifest gives (what `sha256sum -c`
 * would say), any other must give every chunk's keyed id (HMAC-SHA256 of
 * its plaintext, as the snapshot's tree names it) again: either way what
 * was written is what was backed up, and its size is the tree's. A file
 * that cannot be restored (a damaged or missing pack: the message names
 * it), or differs, is a mismatch. Each replica is opened alone, so
 * failover cannot hide a replica's damage. A sample's files are read back
 * by the restore's own workers the moment each is whole (restore_opts.
 * landed: from the page cache, as a separate pass right after would read
 * them) and removed then; the verdict against the manifest, which loads
 * meanwhile, follows the restore.
 *
 * Timings, from the start of the drill on that replica: `open` (the
 * snapshot listed and loaded and its root folder read: what a mount does
 * before it answers), `first message` (the first bytes of a
 * conversation's messages.jsonl, else of the first file, read from the
 * repository), the restore itself (for a sample, with the reading back),
 * and its throughput. The full-restore
 * estimate is open + restore time, scaled for a sample by the larger of
 * the byte and file ratios (so it errs long). The drill is recorded in
 * the audit log (command "drill"; the restores it made record themselves
 * too). */
#ifndef IMDR_ENGINE_DRILL_H
#define IMDR_ENGINE_DRILL_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "engine/engine.h"
#include "repo/audit.h"
#include "repo/repo.h"
#include "repo/snapshot.h"

struct drill_opts {
	const char *source;		/* the source's snapshots only (NULL: all) */
	const char *snapshot;		/* id prefix, latest, a time (NULL: latest) */
	int replica;			/* -1: every replica; else its index */
	const char *scratch;		/* a folder to restore below (NULL:
					 * $TMPDIR, else /var/tmp); the drill
					 * makes and removes its own folder in it */
	/* a sample instead of every file: each file chosen with this
	 * probability (a seeded hash of its path), passed over when larger
	 * than what is left of this share of the snapshot's bytes: about
	 * this share of the files, at most this share of the bytes */
	double sample_pct;		/* 0: every file */
	uint64_t seed;			/* 0: a random one (reported) */
	/* compare every restored file with the same path below against:
	 * the snapshot's source/ (the export as it was) when it has one,
	 * else its root. A difference or a missing file is a mismatch. */
	const char *against;
	int64_t rto_secs;		/* the target; 0: none */
	double setup_secs;		/* time spent before (opening the
					 * repository), added to every estimate */
	int keep;			/* leave the restored files in scratch */
	struct engine_events ev;	/* error(): each mismatch, named */
};

#define DRILL_PROBLEMS_KEPT 20

struct drill_replica_result {
	char url[512];			/* the replica, without secrets */
	char kind[16];
	int ok;				/* restored and verified, no mismatch */
	char error[512];		/* why not, when it could not run */
	char snapshot[SNAPSHOT_ID_HEX + 1];
	char source[SNAPSHOT_SOURCE_MAX + 1];
	int64_t snapshot_ns;
	char restore_dir[4096];		/* kept ones only */
	uint64_t files_total, bytes_total;	/* in the snapshot */
	uint64_t files, bytes;		/* restored and verified */
	uint64_t manifest_checked;	/* compared with manifest.json */
	int has_manifest;
	uint64_t mismatches;		/* differing, unreadable, or not in the manifest */
	uint64_t unreadable;		/* of those: could not be restored */
	uint64_t against_compared, against_differ;
	char *problems[DRILL_PROBLEMS_KEPT];	/* the first ones, in words */
	size_t nproblems;
	char first_path[512];		/* what first_message_secs read */
	double open_secs, first_message_secs, restore_secs, verify_secs;
	double manifest_secs;		/* loading it (alongside the restore) */
	double cleanup_secs;		/* removing what was restored */
	double throughput;		/* bytes per second of the restore */
	double estimate_secs;		/* full restore, with setup_secs */
	int rto_met;			/* -1: no RTO given */
};

struct drill_result {
	struct drill_replica_result v[REPO_MAX_REPLICAS];
	int n;
	int ok;				/* every replica drilled passed */
	int rto_met;			/* -1: no RTO; else every replica met it */
	double worst_estimate_secs;
	double sample_pct;
	uint64_t seed;
	int64_t time_ns;		/* when it started */
	double seconds;
	char audit_id[AUDIT_ID_HEX + 1];
	int audit_rc;
};

/* drill_run: drill r's replicas as o says. IMDR_OK when every replica
 * drilled restored and verified without a mismatch and met the RTO;
 * IMDR_EAUTH when a file was damaged, missing or different;
 * IMDR_ETIMEDOUT when the estimate missed the RTO; IMDR_ENOENT when the
 * snapshot is not there; other codes when it could not run. ret is filled
 * either way (free it with drill_result_free), and the drill recorded. */
int drill_run(struct repo *r, const struct drill_opts *o, struct drill_result *ret);
void drill_result_free(struct drill_result *ret);

/* drill_report_json: the result as the JSON report (docs/FORMAT.md
 * "Drill report"); a new reference. */
json_t *drill_report_json(const struct drill_opts *o, const struct drill_result *res);

#endif
