/* trail — the audit trail as operations (the records themselves are
 * repo/audit.h):
 *
 *   trail_record      the hook every operation calls when it is done, so
 *                     that every caller (the CLI, jobs, drills) records;
 *   trail_read        the log read back, every record authenticated and its
 *                     id checked, every link verified (`imdr audit`);
 *   trail_checkpoint  a record committing to the snapshot set and to every
 *                     head of the log, and the digest naming it, to keep
 *                     elsewhere (`imdr audit --checkpoint`);
 *   trail_verify      the whole log's links, and with a digest, that
 *                     nothing known at that checkpoint was deleted, altered
 *                     or rolled back, and that the log was not forked
 *                     (`imdr check`, `--since-checkpoint`).
 *
 * Reading the log is O(records): they are fetched in parallel, as many at
 * once as the backend serves well, and streamed, so memory holds their
 * names and links, not their contents. */
#ifndef IMDR_ENGINE_TRAIL_H
#define IMDR_ENGINE_TRAIL_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "engine/engine.h"
#include "repo/audit.h"
#include "repo/repo.h"

/* trail_record: append the record of an operation that ended with op_rc:
 * result "ok", or the thread's message for op_rc (left in place for the
 * caller). scope is a JSON object (stolen; may be NULL). A failure is told
 * through ev->warn and returned; the operation's own result stands:
 * IMDR_EUNSUP for a read-only repository (nothing can be recorded there),
 * anything else is a record that should have been written and was not.
 * ret_id (may be NULL) gets the record's id, or "" when none. */
int trail_record(struct repo *r, const struct engine_events *ev,
    const char *command, json_t *scope, int op_rc,
    char ret_id[AUDIT_ID_HEX + 1]);

/* trail_scope_snapshot: the fields a record names a snapshot by (id,
 * source, time) added to scope. */
struct snapshot;
void trail_scope_snapshot(json_t *scope, const struct snapshot *s);

/* ---- reading ---- */

struct trail_opts {
	int64_t since;			/* from this time on; 0: the whole log */
	const char *command;		/* show only this command's records */
	/* error(): a record that fails to authenticate or parse, a link to a
	 * record that is missing; warn(): what under audit/ is not a record,
	 * a record no later one names */
	struct engine_events ev;
};

struct trail_result {
	uint64_t records;		/* records listed (from since on) */
	uint64_t verified;		/* authenticated, ids and links checked */
	uint64_t shown;			/* handed to show() */
	uint64_t heads;			/* records no other names (1 when joined) */
	uint64_t errors, warnings;
};

/* trail_read: every record from o->since on, oldest first, fetched in
 * parallel; those that verify and match o->command go to show (a non-zero
 * return stops, and is returned). Problems go to o->ev and are counted;
 * the return is an error only when the log could not be read at all. */
typedef int (*trail_show_fn)(void *ctx, const struct audit_record *rec);
int trail_read(struct repo *r, const struct trail_opts *o, trail_show_fn show,
    void *ctx, struct trail_result *ret);

/* ---- checkpoints ---- */

/* A digest: "<8 hex of the repository id>-<compact time>-<64 hex id of the
 * checkpoint record>". */
#define TRAIL_DIGEST_MAX (8 + 1 + 26 + 1 + AUDIT_ID_HEX + 1)

struct trail_checkpoint_opts {
	int force;			/* write one even when the log has problems */
	struct engine_events ev;	/* problems found in the log, as trail_read */
};

struct trail_checkpoint_result {
	char digest[TRAIL_DIGEST_MAX];
	int64_t time_ns;
	uint64_t snapshots;		/* committed to */
	uint64_t records;		/* in the log before it */
	uint64_t heads;			/* the records it names */
	uint64_t errors, warnings;	/* problems found in the log */
};

/* trail_checkpoint: verify the whole log (as trail_read), then write a
 * "checkpoint" record naming every snapshot and linked to every head, and
 * give its digest. IMDR_EAUTH (no record written) when the log has
 * problems, unless o->force. */
int trail_checkpoint(struct repo *r, const struct trail_checkpoint_opts *o,
    struct trail_checkpoint_result *ret);

struct trail_verify_opts {
	const char *digest;		/* a checkpoint's digest, or NULL */
	/* read and authenticate every snapshot the checkpoint names; 0 when
	 * the caller reads every snapshot itself (check does) and only their
	 * presence is left to verify */
	int read_snapshots;
	struct engine_events ev;	/* every problem, naming what changed */
};

struct trail_verify_result {
	uint64_t records;		/* records listed */
	uint64_t verified;		/* read, authenticated, links checked */
	uint64_t heads;
	/* when a checkpoint was verified against (the digest's, or the newest
	 * in the log): */
	int with_checkpoint;
	uint64_t known_records;		/* the records it descends from */
	uint64_t later_records;		/* written after it (its descendants) */
	uint64_t known_snapshots;	/* named by the checkpoint */
	uint64_t forgotten;		/* of those, missing as a forget record says */
	uint64_t errors, warnings;
};

/* trail_verify: the log's links, and with a digest, the checkpoint: every
 * record it descends from present and intact, every snapshot it names
 * present and intact unless a later forget record names it (scope
 * "removed": [ids]), and no branch of the log that leaves it out (a
 * rollback written over: records more than AUDIT_WINDOW_SECS from it that
 * are neither before nor after it). IMDR_OK when it ran (ret->errors says
 * what it found); IMDR_EINVAL for a digest that is not one. */
int trail_verify(struct repo *r, const struct trail_verify_opts *o,
    struct trail_verify_result *ret);

/* trail_digest_parse: split a digest; 0, or -1 with err_set. */
int trail_digest_parse(const char *digest, char repo8[9],
    struct audit_name *ret_checkpoint);

#endif
