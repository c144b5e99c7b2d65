/* search — the message index of chat snapshots, and searching it.
 *
 * The index is built during a backup and stored in the repository,
 * sealed like everything else, as a second tree hanging off the snapshot
 * ("search" in its JSON; docs/FORMAT.md "Message index"): a few SQLite
 * databases ("segments", each a table of message versions with a full-text
 * index) plus, for this snapshot, which conversations it holds and which
 * rows of the segments are no longer live in it. A backup indexes only the
 * messages that are new or changed since the previous snapshot of the same
 * source, in a new segment; every other segment is shared with that
 * snapshot, so the index costs in proportion to what changed. Small
 * segments are merged as they accumulate (each row rewritten O(log n)
 * times), so a search opens a handful of them.
 *
 * Nothing of the index is written to disk in plaintext: segments are
 * built in memory and read back through a VFS over the repository's
 * authenticated blobs. SQLite stays inside search/. */
#ifndef IMDR_SEARCH_H
#define IMDR_SEARCH_H

#include <stddef.h>
#include <stdint.h>

#include <signal.h>

#include "repo/index.h"
#include "repo/repo.h"
#include "repo/snapshot.h"
#include "repo/store.h"

/* What the index reports while it works (engine/engine.h's events hold
 * the same three fields; search/ sits below engine/ and cannot include
 * them). warn: something left out or read the slow way; cancel: polled. */
struct search_events {
	void (*warn)(void *ctx, const char *what, const char *msg);
	void *ctx;
	const volatile sig_atomic_t *cancel;
};

/* ---- building, during a backup ---- */

struct search_build;

struct search_build_stats {
	uint64_t conversations;		/* in the snapshot */
	uint64_t conv_unchanged;	/* carried over without reading */
	uint64_t conv_read_back;	/* read back from the repository */
	uint64_t messages;		/* in the snapshot */
	uint64_t rows_new;		/* message versions indexed now */
	uint64_t rows_dead;		/* rows no longer live, newly */
	uint64_t rows_merged;		/* copied by merging segments */
	uint64_t segments;		/* in the snapshot's index */
	uint64_t bytes;			/* of the segments written now */
};

/* search_build_new: an index build that stores through st (whose index is
 * idx). A thread indexes what search_build_feed hands it. */
int search_build_new(struct repo *r, struct store *st, struct index *idx,
    const struct search_events *ev, struct search_build **ret);
/* search_build_set_prev: the previous snapshot of the same source (NULL:
 * none), whose index this one extends. Called before the first feed; a
 * later call that changes it makes finish index everything anew. */
void search_build_set_prev(struct search_build *sb, const struct snapshot *prev);
/* search_build_wants: path is a file the index reads (a conversation's
 * messages.jsonl or meta.json). */
int search_build_wants(const char *path);
/* search_build_feed: the whole content of such a file, as the backup
 * stored it; takes data (malloc'd). Blocks while the indexer is behind by
 * more than a bounded number of bytes. */
int search_build_feed(struct search_build *sb, const char *path, uint8_t *data,
    size_t n);
/* search_build_finish: everything up to the index's tree for the snapshot
 * whose tree is root: conversations not fed are carried over when
 * unchanged or read back, segments stored and merged, then the tree.
 * *ret_ref gets its location. The store is flushed. */
int search_build_finish(struct search_build *sb, const struct blob_ref *root,
    struct blob_ref *ret_ref, struct search_build_stats *ret_stats);
void search_build_free(struct search_build *sb);

/* ---- searching ---- */

/* What became of a message found by --all, by the source's newest
 * snapshot. */
enum search_status {
	SEARCH_PRESENT = 0,	/* the version found is still there */
	SEARCH_EDITED,		/* another version replaced it */
	SEARCH_DELETED,		/* gone, or marked deleted by the export */
};

struct search_hit {
	char *source;
	char snapshot[SNAPSHOT_ID_HEX + 1];	/* searched; --all: last seen */
	int64_t snapshot_ns;
	char *conversation;		/* folder: "<slug>--<id>" */
	char *conv_key;			/* the conversation's stable id */
	char *id;			/* message id */
	int64_t ts_ms;
	char *user;			/* author's id */
	char *user_name;		/* display name, or NULL when unknown */
	char *snippet;			/* text around the matches, each match
					 * between \001 and \002 */
	char *thread;			/* NULL, or the thread's first message */
	char *files;			/* attachment names, '\n'-separated */
	int has_attachment, edited_in_export, deleted_in_export;
	char *mount_path;		/* where a mount of the repository shows it:
					 * snapshots/<time>/conversations/<folder>/messages.jsonl */
	int64_t version;		/* the matching version's hash */
	/* --all */
	char first_seen[SNAPSHOT_ID_HEX + 1], last_seen[SNAPSHOT_ID_HEX + 1];
	int64_t first_seen_ns, last_seen_ns;
	int status;			/* enum search_status */
	int versions;			/* matching versions seen */
};

struct search_opts {
	const char *query;		/* the search language (query.h) */
	const char *source;		/* NULL: every source */
	const char *snapshot;		/* NULL: each source's newest */
	int all;			/* every snapshot; each message once */
	const char *cache_dir;		/* remote: where segments are kept,
					 * sealed, for the next search; NULL:
					 * fetched every time */
	struct search_events ev;	/* warn: a snapshot searched without
					 * an index (read directly) */
};

struct search_result {
	struct search_hit *hits;	/* by source, then time */
	size_t n;
	uint64_t snapshots;		/* searched */
	uint64_t segments;		/* distinct index segments queried */
	uint64_t unindexed;		/* snapshots read without an index */
	uint64_t pieces;		/* index pieces read */
};

/* search_run: find the messages matching o->query. IMDR_EINVAL for a
 * query that does not parse (the message says where), IMDR_ENOENT for a
 * snapshot or source that is not there. */
int search_run(struct repo *r, const struct search_opts *o,
    struct search_result *ret);
void search_result_free(struct search_result *res);

#endif
