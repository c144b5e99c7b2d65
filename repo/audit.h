/* audit — the repository's audit log: every command that changes the
 * repository or reveals its content to a file appends one sealed record
 * (who, host, when, command, scope, result). Records form a hash-linked
 * graph: each names the records that were the newest ("heads") when it
 * was written, by base name <time>-<command>-<id> where id is the SHA-256
 * of the named record's plaintext, so deleting, altering or rolling back
 * records known to a later one shows; two writers at once make two heads,
 * and the next record joins them, so concurrency forks the graph without
 * breaking it.
 *
 * Objects: audit/<YYYYMM>/<compact UTC time>-<command>-<id>, sealed (kind
 * 'a'). The month folder keeps appending cheap: the heads are found by
 * listing this month's folder (and the one before, near its start), not
 * the whole log. Listing tells when and what without a read. See
 * docs/FORMAT.md "Audit log". */
#ifndef IMDR_AUDIT_H
#define IMDR_AUDIT_H

#include <stddef.h>
#include <stdint.h>

#include "repo/repo.h"

#define AUDIT_ID_HEX 64
#define AUDIT_COMMAND_MAX 24
/* "<26-char time>-<command>-<64 hex id>" and its NUL */
#define AUDIT_BASE_MAX (26 + 1 + AUDIT_COMMAND_MAX + 1 + AUDIT_ID_HEX + 1)
/* "audit/YYYYMM/": what precedes the base name in an object name */
#define AUDIT_DIR_LEN 13
/* records larger than this are refused unread (a checkpoint of 100,000
 * snapshots is about 11 MB) */
#define AUDIT_RECORD_MAX (32u << 20)

/* What listing yields. */
struct audit_name {
	char name[AUDIT_DIR_LEN + AUDIT_BASE_MAX];	/* "audit/<YYYYMM>/<base>" */
	char command[AUDIT_COMMAND_MAX + 1];
	char id[AUDIT_ID_HEX + 1];
	int64_t time_ns;
	uint64_t size;				/* as listed; 0 when not listed */
};
/* audit_base: the base name "<time>-<command>-<id>" of a listed name. */
#define audit_base(an) ((an)->name + AUDIT_DIR_LEN)

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
	char name[AUDIT_DIR_LEN + AUDIT_BASE_MAX];
	int64_t time_ns;
	char *command, *host, *user, *result;
	long pid;
	char *scope_json;	/* "{}" when none */
	/* the heads when it was written: base names "<time>-<command>-<id>";
	 * the id is the last AUDIT_ID_HEX characters */
	char (*parents)[AUDIT_BASE_MAX];
	size_t nparents;
	/* the rest of its writer's window: records that were no heads then
	 * (so none now); lets the next writer find the heads with one read */
	char (*seen)[AUDIT_BASE_MAX];
	size_t nseen;
};

/* audit_append: write one record for ev, linked to the current heads: of
 * the records within AUDIT_WINDOW_SECS of the newest (at most the newest
 * AUDIT_WINDOW_RECORDS), those no other of them names. Costs a listing of
 * this month's folder (two near a month's start) and a read of the newest
 * record, whose `seen` covers the rest when writers did not overlap (else
 * a read of each recent record): O(recent), not O(all). *ret_id (may be NULL,
 * AUDIT_ID_HEX + 1 bytes) gets its id. IMDR_EUNSUP on a read-only
 * repository (https). */
#define AUDIT_WINDOW_SECS (15 * 60)
#define AUDIT_WINDOW_RECORDS 32
int audit_append(struct repo *r, const struct audit_event *ev, char *ret_id);

/* audit_append_linked: as audit_append, but linked to the given parents
 * (base names) instead of the recent heads (a checkpoint names every head
 * of the whole log), at time_ns (0: now; tests build logs of a given
 * shape). *ret_base (AUDIT_BASE_MAX bytes, may be NULL) gets the new
 * record's base name. */
int audit_append_linked(struct repo *r, const struct audit_event *ev,
    char (*parents)[AUDIT_BASE_MAX], size_t nparents, int64_t time_ns,
    char *ret_base);

/* audit_list: every record name, sorted by time then id (oldest first);
 * caller frees *ret. Names that do not parse are left out. */
int audit_list(struct repo *r, struct audit_name **ret, size_t *ret_n);

/* audit_list_strays: as audit_list, and the objects under audit/ that are
 * not record names (*ret_strays: strings, caller frees each and the array;
 * at most 100 kept, *ret_nstrays counts them all). */
int audit_list_strays(struct repo *r, struct audit_name **ret, size_t *ret_n,
    char ***ret_strays, size_t *ret_nstrays);

/* audit_list_since: the names of records from time since on (and perhaps
 * some before it), listing only the month folders from since's to the
 * next; the whole log when that is more than two years of folders. */
int audit_list_since(struct repo *r, int64_t since, struct audit_name **ret,
    size_t *ret_n);

/* audit_spread: copy to `to` (a replica of the same repository) every
 * record of `from` from time since on (0: all) that `to` lacks, as stored,
 * after it authenticates: replicas of one repository hold one log, so a
 * record written to one replica (a copy's, a replica's creation) is put on
 * the others too. *ret_copied (may be NULL) counts them. */
int audit_spread(struct repo *from, struct repo *to, int64_t since,
    size_t *ret_copied);

/* audit_name_parse: a base name "<time>-<command>-<id>" into *ret (its full
 * object name included). 0, or -1 when it is not one. */
int audit_name_parse(const char *base, struct audit_name *ret);

/* audit_load: fetch, authenticate, check the id against the content, and
 * parse. IMDR_EAUTH when it was altered. */
int audit_load(struct repo *r, const char *name, struct audit_record **ret);
void audit_record_free(struct audit_record *a);

/* audit_text: a copy of s that is valid UTF-8 (each byte of an invalid
 * sequence becomes U+FFFD), for scopes and results that hold paths and
 * messages; caller frees. */
char *audit_text(const char *s);

/* audit_parse: the plaintext of a record (exposed for tests and fuzzing);
 * id and name are left empty. */
int audit_parse(const uint8_t *p, size_t n, struct audit_record **ret);

#endif
