/* audit — the repository's audit log: every command that changes the
 * repository or reveals its content to a file appends one sealed record
 * (who, host, when, command, scope, result). Records form a hash-linked
 * graph: each names, by id (the SHA-256 of its plaintext), the records
 * that were the newest ("heads") when it was written, so deleting,
 * altering or rolling back records known to a later one shows; two
 * writers at once make two heads, and the next record joins them, so
 * concurrency forks the graph without breaking it.
 *
 * Objects: audit/<compact UTC time>-<command>-<id>, sealed (kind 'a'):
 * listing tells when and what without a read (`check` finds every
 * `forget` record by name). See docs/FORMAT.md "Audit log". */
#ifndef IMDR_AUDIT_H
#define IMDR_AUDIT_H

#include <stddef.h>
#include <stdint.h>

#include "repo/repo.h"

#define AUDIT_ID_HEX 64
#define AUDIT_COMMAND_MAX 24

/* What listing yields. */
struct audit_name {
	char name[160];			/* "audit/<time>-<command>-<id>" */
	char command[AUDIT_COMMAND_MAX + 1];
	char id[AUDIT_ID_HEX + 1];
	int64_t time_ns;
};

/* What a command records. */
struct audit_event {
	const char *command;	/* "backup", "restore", "forget", ...: [a-z-]+ */
	const char *scope_json;	/* a JSON object: what it acted on (snapshot ids,
				 * source, paths, query), or NULL */
	const char *result;	/* "ok", or the error, one line */
};

/* A record as read back. */
struct audit_record {
	char id[AUDIT_ID_HEX + 1];
	char name[160];
	int64_t time_ns;
	char *command, *host, *user, *result;
	long pid;
	char *scope_json;	/* "{}" when none */
	char (*parents)[AUDIT_ID_HEX + 1];
	size_t nparents;
};

/* audit_append: write one record for ev, linked to the current heads (the
 * records of the last AUDIT_WINDOW_SECS that no other names as a parent;
 * the newest one when there are none that recent). *ret_id (may be NULL,
 * AUDIT_ID_HEX + 1 bytes) gets its id. */
#define AUDIT_WINDOW_SECS (15 * 60)
int audit_append(struct repo *r, const struct audit_event *ev, char *ret_id);

/* audit_list: every record name, sorted by time then id (oldest first);
 * caller frees *ret. Names that do not parse are left out. */
int audit_list(struct repo *r, struct audit_name **ret, size_t *ret_n);

/* audit_load: fetch, authenticate, check the id against the content, and
 * parse. IMDR_EAUTH when it was altered. */
int audit_load(struct repo *r, const char *name, struct audit_record **ret);
void audit_record_free(struct audit_record *a);

/* audit_parse: the plaintext of a record (exposed for tests and fuzzing);
 * id and name are left empty. */
int audit_parse(const uint8_t *p, size_t n, struct audit_record **ret);

#endif
