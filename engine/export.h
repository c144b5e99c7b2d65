/* export — chat messages out of the repository for review, with a chain
 * of custody: RSMF 2.0 files (Relativity Short Message Format: an RFC 5322
 * message whose single attachment rsmf.zip holds rsmf_manifest.json and
 * the attachments; one file per conversation per UTC day, at most
 * EXPORT_RSMF_MAX_EVENTS events each), or the canonical layout's subset
 * (users, meta.json, the selected messages.jsonl lines, their
 * attachments) as a folder or a zip.
 *
 * Every export carries custody.json: matter, query and scope, repository,
 * snapshots, operator, host, tool, UTC time, and the size and SHA-256 of
 * every file; its own SHA-256 is returned (and recorded in the
 * repository's audit log). The same inputs give the same bytes: sorted
 * order, fixed zip times (zip entries carry 1980-01-01T12:00 in the
 * process's time zone: the CLI runs exports in UTC), and custody.json's
 * time from SOURCE_DATE_EPOCH when that is set. export_verify re-checks
 * an export against its custody.json. */
#ifndef IMDR_ENGINE_EXPORT_H
#define IMDR_ENGINE_EXPORT_H

#include <stddef.h>
#include <stdint.h>

#include "engine/engine.h"
#include "repo/repo.h"

#define EXPORT_RSMF_MAX_EVENTS 10000

enum export_format { EXPORT_RSMF = 1, EXPORT_ZIP, EXPORT_FOLDER };

struct export_opts {
	enum export_format format;
	const char *out;		/* rsmf, folder: a folder (created; empty if
					 * it exists); zip: a file (created) */
	const char *snapshot;		/* NULL: latest (of source) */
	const char *source;		/* NULL: every source (with all) */
	int all;			/* every snapshot: each message once, its
					 * latest version, earlier texts as edits,
					 * deleted when later snapshots lost it */
	const char *query;		/* the search language, or NULL: all */
	const char *const *conversations;	/* name, id or folder; none: all */
	size_t nconversations;
	const char *from, *to;		/* message times, inclusive; NULL: open */
	const char *matter;		/* the case, for the custody manifest */
	const char *tool;		/* "imdr 0.1.0" */
	struct engine_events ev;
};

struct export_result {
	uint64_t messages;		/* events exported */
	uint64_t conversations;
	uint64_t files;			/* written (custody.json not counted) */
	uint64_t bytes;
	uint64_t attachments, missing_attachments;
	uint64_t snapshots;		/* read */
	char custody_sha256[65];	/* of custody.json */
	char custody_path[4096];	/* where it is (a zip: "<zip>:custody.json") */
	int audit_rc;			/* its audit record: IMDR_OK, or why not */
};

/* export_run: select, write, hash, and append an audit record ("export":
 * matter, query, scope, snapshot ids, custody SHA-256). IMDR_EEXIST when
 * out exists (a non-empty folder, any file); IMDR_EINVAL for a bad query
 * or date; nothing selected is not an error (an empty export is written).
 * A failure leaves what was written and says so. */
int export_run(struct repo *r, const struct export_opts *o, struct export_result *ret);

struct verify_result {
	uint64_t files;			/* checked and matching */
	uint64_t changed, added, removed;
	char custody_sha256[65];
};

/* export_verify: path is an export folder (custody.json inside) or zip.
 * Every file is hashed again; each one changed, added (not in the
 * manifest) or removed (in it, missing) is reported through ev->error,
 * named. expect_sha256 (may be NULL) is checked against custody.json's
 * own hash. IMDR_EAUTH when anything differs, IMDR_EFORMAT when there is
 * no readable custody.json. */
int export_verify(const char *path, const char *expect_sha256,
    const struct engine_events *ev, struct verify_result *ret);

#endif
