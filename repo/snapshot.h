/* snapshot — one backup point in time. Stored as sealed JSON under
 * snapshots/<compact UTC time>-<source tag>-<id>, where id is the SHA-256
 * of the plaintext and the source tag is a keyed hash of the source's name
 * (revealing nothing of it); names sort by time, so listing resolves
 * `latest` and `at=TIME`, for all sources or for one, without fetching any
 * snapshot. Each snapshot names the one before it (prev), forming a chain
 * that `check` verifies. */
#ifndef IMDR_SNAPSHOT_H
#define IMDR_SNAPSHOT_H

#include <stddef.h>
#include <stdint.h>

#include "repo/repo.h"

#define SNAPSHOT_ID_HEX 64
#define SNAPSHOT_TAG_HEX 16
#define SNAPSHOT_SOURCE_MAX 256	/* bytes of a source name */

/* What listing yields: no GET needed. */
struct snapshot_name {
	char name[160];			/* "snapshots/<time>-<tag>-<id>" */
	char id[SNAPSHOT_ID_HEX + 1];
	char tag[SNAPSHOT_TAG_HEX + 1];	/* source tag; "" in names without one */
	int64_t time_ns;
	uint64_t size;			/* of the object, as listed */
};

struct snapshot_skip {
	char *path;
	char *reason;
};

struct snapshot {
	char id[SNAPSHOT_ID_HEX + 1];	/* set by save/load */
	char name[160];
	int64_t time_ns;
	char *host;
	char *source;			/* the source's stable name */
	char *path;			/* what was read, absolute */
	char *format;			/* files, canonical, slack, mattermost */
	char **tags;
	size_t ntags;
	struct blob_ref root;		/* root catalog node */
	uint32_t root_mode;
	int64_t root_mtime_ns;
	uint64_t files, dirs, symlinks;
	uint64_t bytes;			/* logical size of all files */
	uint64_t added_bytes;		/* new sealed bytes this backup stored */
	uint64_t added_blobs;
	uint64_t duration_ms;
	char prev[SNAPSHOT_ID_HEX + 1];	/* "" for the first */
	struct snapshot_skip *skipped;	/* files reported and left out */
	size_t nskipped;
	uint64_t skipped_total;		/* may exceed nskipped (list is capped) */
	char *extra_json;		/* format-specific summary (JSON object) or NULL */
	/* chat formats: the message index, a second tree (search/search.h;
	 * everything that walks a snapshot's trees walks this one too) */
	int has_search;
	struct blob_ref search;
};

/* snapshot_list: every snapshot name, sorted by time then id (oldest
 * first). Caller frees *ret. */
int snapshot_list(struct repo *r, struct snapshot_name **ret, size_t *ret_n);

/* snapshot_load: fetch, authenticate and parse. Its size is asked first
 * (a HEAD on a cloud store): with a listed name, use snapshot_load_listed,
 * which bounds the read by the listed size. An object larger than
 * REPO_SNAPSHOT_MAX is an error naming it, and is not read. */
int snapshot_load(struct repo *r, const char *name, struct snapshot **ret);
int snapshot_load_listed(struct repo *r, const struct snapshot_name *sn,
    struct snapshot **ret);

/* snapshot_parse: the snapshot JSON (the plaintext of a snapshot object)
 * into *ret (caller frees; id and name are left empty); name is for
 * messages. IMDR_EFORMAT when malformed. */
int snapshot_parse(const char *name, const uint8_t *data, size_t n,
    struct snapshot **ret);

/* snapshot_save: fill s->id and s->name from the content and store it.
 * s->source must be a valid source name (snapshot_source_check). */
int snapshot_save(struct repo *r, struct snapshot *s);

/* snapshot_source_tag: the tag of source name in object names: 16 hex
 * digits of HMAC(mac key, "imdr-source" || name). */
void snapshot_source_tag(const struct repo *r, const char *source,
    char ret_tag[SNAPSHOT_TAG_HEX + 1]);

/* snapshot_source_check: a source name is 1 to SNAPSHOT_SOURCE_MAX bytes
 * of UTF-8 without control characters. IMDR_OK or IMDR_EINVAL with a
 * message saying what is wrong. */
int snapshot_source_check(const char *source);

/* snapshot_filter_source: keep (in place, in order) only the names with
 * tag; returns how many remain. */
size_t snapshot_filter_source(struct snapshot_name *list, size_t n,
    const char *tag);

void snapshot_free(struct snapshot *s);

/* snapshot_resolve_name: pick one name from a sorted list by spec: "latest",
 * a unique id prefix (>= 4 hex digits), or a time (newest at or before).
 * Returns the index in list, or -1 with err_set (ENOENT / EAMBIG). */
int snapshot_resolve_name(const struct snapshot_name *list, size_t n,
    const char *spec, size_t *ret_index);

/* snapshot_resolve: list + resolve + load; with source (may be NULL),
 * among that source's snapshots only. */
int snapshot_resolve(struct repo *r, const char *source, const char *spec,
    struct snapshot **ret);

/* snapshot_find_at: index of the newest snapshot with time <= t, or -1. */
long snapshot_find_at(const struct snapshot_name *list, size_t n, int64_t t);

#endif
