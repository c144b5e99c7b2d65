/* search_impl — what the modules of search/ share; nothing outside search/
 * includes this (SQLite stays inside the folder). */
#ifndef IMDR_SEARCH_IMPL_H
#define IMDR_SEARCH_IMPL_H

#include <stddef.h>
#include <stdint.h>

#include <sqlite3.h>

#include "lib/smap.h"
#include "repo/repo.h"
#include "search/chat.h"

/* ---- segment.c: one part of the index, a SQLite database ----
 *
 * Schema (docs/FORMAT.md, "Message index"):
 *   conv(cid INTEGER PRIMARY KEY, key TEXT UNIQUE)
 *   msg(rowid INTEGER PRIMARY KEY, cid, mid, h, ts, user, thread, flags,
 *       text, files)            rows in (cid, ts, mid) order
 *   runs(cid, first, last)      each conversation's rows, as rowid ranges
 *                               (older segments: msg_key ON msg(cid, mid, h))
 *   fts: fts5(text, files, user) over msg (external content)
 */

/* A segment is stored in blobs of SEG_PIECE bytes (the last one shorter):
 * a read of one 4 KiB page decrypts and inflates the blob holding it, so
 * small pieces make a selective search cheap (16 KiB: a quarter of the
 * work of 64 KiB, 5 % larger). Readers take any power of two from
 * SEG_PIECE_MIN to SEG_PIECE_MAX (segments written before: 64 KiB). */
#define SEG_PIECE (16u * 1024)
#define SEG_PIECE_MIN 4096u
#define SEG_PIECE_MAX (64u * 1024)

enum {
	SEGF_EDITED = 1,	/* the export marks it edited */
	SEGF_DELETED = 2,	/* the export marks it deleted */
	SEGF_ATT = 4,		/* has attachments */
};

struct seg_builder;

int seg_builder_new(struct seg_builder **ret);
void seg_builder_free(struct seg_builder *b);
/* seg_builder_conv: the segment's id for conversation key, added when new. */
int seg_builder_conv(struct seg_builder *b, const char *key, int64_t *ret_cid);
/* seg_builder_add: one message version; h is its version hash. */
int seg_builder_add(struct seg_builder *b, int64_t cid, const struct chat_msg *m,
    int64_t h);
/* seg_builder_add_row: a row copied from another segment (merging). */
int seg_builder_add_row(struct seg_builder *b, int64_t cid, sqlite3_stmt *from);
uint64_t seg_builder_rows(const struct seg_builder *b);
/* seg_builder_finish: index the last rows; *ret_data (owned by b, valid
 * until seg_builder_free) gets the database's bytes. */
int seg_builder_finish(struct seg_builder *b, const uint8_t **ret_data,
    size_t *ret_n);
/* seg_builder_db: the connection, for querying a segment never stored
 * (snapshots without an index). */
sqlite3 *seg_builder_db(struct seg_builder *b);

/* A stored segment, read through a read-only VFS that maps the database's
 * offsets onto its blobs, reading only the pieces SQLite asks for. */
struct seg;

/* seg_open: open the segment stored as n pieces (the chunks of file entry
 * e of node). cache_dir (may be NULL): where a remote repository's
 * segments are kept, sealed, between searches. */
int seg_open(struct repo *r, const struct blob_ref *pieces, size_t n,
    uint64_t size, const char *what, const char *cache_dir, struct seg **ret);
/* seg_open_twin: a second connection to orig's segment, with pieces of
 * its own, for another thread (orig's fetched bytes are shared, read
 * only); closed before orig. */
int seg_open_twin(struct seg *orig, struct seg **ret);
void seg_close(struct seg *s);
sqlite3 *seg_db(struct seg *s);
/* seg_error: after an SQLite error, the repository's reason (a blob that
 * failed to read or authenticate), else SQLite's message; returns an
 * imdr_err with err_set. */
int seg_error(struct seg *s, sqlite3 *db, const char *doing);
/* seg_sql_error: err_set from an SQLite error of db. */
int seg_sql_error(sqlite3 *db, const char *doing);
/* seg_piece_reads: pieces read so far (for stats). */
uint64_t seg_piece_reads(const struct seg *s);

/* seg_prepare_key_rows: prepare "SELECT cols" over the rows (m) of the
 * conversation whose key is bound as ?1, AND more when not NULL: through
 * the runs table, or the msg_key index of segments written before it. */
int seg_prepare_key_rows(sqlite3 *db, const char *cols, const char *more,
    sqlite3_stmt **ret);
/* seg_has_runs: db is a segment with the runs table. */
int seg_has_runs(sqlite3 *db);

/* seg_version_hash: a message line's version hash: the first 8 bytes of
 * its SHA-256, as a signed integer (SQLite's). */
int64_t seg_version_hash(const char *line, size_t n);

/* sev_warn: report through ev (may be NULL, its warn NULL). */
struct search_events;
void sev_warn(const struct search_events *ev, const char *what, const char *msg);
int sev_cancelled(const struct search_events *ev);

#endif
