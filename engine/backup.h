/* backup — source → ingest → chunker → store → catalog → snapshot, as one
 * call. Takes a shared lock on the repository; an interrupted backup
 * (cancel, a failure, kill -9) leaves the repository valid, and the next
 * one reuses the packs it stored. */
#ifndef IMDR_ENGINE_BACKUP_H
#define IMDR_ENGINE_BACKUP_H

#include <stddef.h>
#include <stdint.h>

#include "engine/engine.h"
#include "ingest/ingest.h"
#include "repo/audit.h"
#include "repo/repo.h"
#include "repo/snapshot.h"

struct backup_opts {
	const char *source;		/* a folder, an archive or a file */
	/* the source's stable name; NULL: the export's own (a Slack team
	 * id, a Mattermost team) or else the source's absolute path */
	const char *source_name;
	struct ingest_opts ingest;
	const char *host;		/* NULL: this machine's name */
	int64_t time_ns;		/* 0: now */
	char *const *tags;
	size_t ntags;
	int no_cache;			/* read every file, ignore the files cache */
	int no_index;			/* chat exports: no message index */
	struct engine_events ev;
};

struct backup_result {
	char id[SNAPSHOT_ID_HEX + 1];	/* the snapshot written */
	char source[SNAPSHOT_SOURCE_MAX + 1];	/* its source name */
	int64_t time_ns;
	const char *format;		/* static: "files", "slack", ... */
	uint64_t files, dirs, bytes;
	uint64_t added_bytes, added_blobs;	/* what this backup stored */
	uint64_t files_unchanged;	/* taken from the files cache */
	uint64_t files_read;
	uint64_t skipped;		/* warnings recorded in the snapshot */
	size_t recovered_packs;		/* left by an interrupted backup, reused */
	uint64_t duration_ms;
	/* its record in the audit log (engine/trail.h): the id, or "" and
	 * audit_rc the reason (IMDR_EUNSUP: a read-only repository) */
	char audit_id[AUDIT_ID_HEX + 1];
	int audit_rc;
	/* a replicated repository (multi:): how many replicas, and how many
	 * did not get this snapshot (repo_replica_info says which and why;
	 * `imdr copy` brings them up to date) */
	int replicas, replicas_lagging;
};

/* backup_run: back up o->source into r as a new snapshot, then append its
 * record (success or failure) to the audit log. On success *ret describes
 * it. IMDR_EINTR when cancelled (no snapshot written); IMDR_ESOURCE for an
 * unreadable or malformed source (message names the file); other codes
 * from the repository. A record that could not be written is told through
 * o->ev.error and ret->audit_rc and leaves the return as it was: the
 * snapshot is saved all the same. */
int backup_run(struct repo *r, const struct backup_opts *o,
    struct backup_result *ret);

#endif
