/* hold — legal holds. A hold is a sealed object holds/<time>-<id> naming a
 * case, a reason, who placed it and when, and its scope: a list of
 * snapshot ids, or a source (or every source) with an optional time range
 * whose open end covers snapshots not yet taken. `forget` never removes a
 * snapshot an active hold covers, whatever its flags; prune keeps what held
 * snapshots use. Releasing a hold writes holds/<time>-<id>.release (who,
 * when, why) after an audit record: a hold never disappears silently, and
 * the hold object itself stays as history. Placing and releasing append
 * audit records (repo/audit.h) here, so no caller can skip them. See
 * docs/FORMAT.md "Holds". */
#ifndef IMDR_HOLD_H
#define IMDR_HOLD_H

#include <stddef.h>
#include <stdint.h>

#include "repo/repo.h"
#include "repo/snapshot.h"

#define HOLD_ID_HEX 64
#define HOLD_TEXT_MAX 4096	/* bytes of a case name or reason */

struct hold {
	char id[HOLD_ID_HEX + 1];
	char name[160];			/* "holds/<time>-<id>" */
	int64_t time_ns;		/* placed */
	char *case_name, *reason, *who, *host;
	/* scope: snapshot ids, or a source (NULL: every source) in a range */
	char (*snapshots)[SNAPSHOT_ID_HEX + 1];
	size_t nsnapshots;
	char *source;
	char source_tag[SNAPSHOT_TAG_HEX + 1];
	int has_from, has_to;
	int64_t from_ns, to_ns;		/* inclusive */
	/* release */
	int released;
	int64_t released_ns;
	char *released_by, *release_reason;
};

/* What a new hold says (who and when are filled in). */
struct hold_spec {
	const char *case_name, *reason;	/* both required, at most HOLD_TEXT_MAX */
	char (*snapshots)[SNAPSHOT_ID_HEX + 1];	/* full ids; or: */
	size_t nsnapshots;
	const char *source;		/* NULL: every source (then all_sources) */
	int all_sources;		/* required to hold every source */
	int has_from, has_to;
	int64_t from_ns, to_ns;
};

/* hold_add: validate spec, store the hold, append an audit record
 * ("hold-add"); *ret (may be NULL) gets the hold. IMDR_EINVAL with a
 * message saying what is missing or wrong. */
int hold_add(struct repo *r, const struct hold_spec *spec, struct hold **ret);

/* hold_list: every hold, released or not, oldest first; caller frees with
 * hold_list_free. A hold that fails to load is an error naming it. */
int hold_list(struct repo *r, struct hold ***ret, size_t *ret_n);
void hold_list_free(struct hold **v, size_t n);
void hold_free(struct hold *h);

/* hold_find: the hold whose id starts with prefix (>= 4 hex digits);
 * IMDR_ENOENT or IMDR_EAMBIG with a message. */
int hold_find(struct hold *const *v, size_t n, const char *prefix, size_t *ret_index);

/* hold_release: append an audit record ("hold-release"), then write the
 * release of h (reason required). IMDR_EINVAL when already released. */
int hold_release(struct repo *r, struct hold *h, const char *reason);

/* hold_covers: h is active and its scope takes in the snapshot named sn. */
int hold_covers(const struct hold *h, const struct snapshot_name *sn);

/* hold_covering: the first active hold of v covering sn, or NULL. */
const struct hold *hold_covering(struct hold *const *v, size_t n,
    const struct snapshot_name *sn);

/* hold_scope_text: the scope in words ("snapshots 4f2a9c01, 77aa0b12",
 * "source acme from 2026-03-01T00:00:00Z", "every source"); caller frees. */
char *hold_scope_text(const struct hold *h);

/* hold_parse: decode a hold's plaintext (for tests and fuzzing); id, name
 * and source_tag are left empty. */
int hold_parse(const uint8_t *p, size_t n, struct hold **ret);

#endif
