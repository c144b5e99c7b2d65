/* bindex — the backup's side of the message index (search/search.h): it
 * finds the previous snapshot of the source being backed up, copies each
 * conversation's messages.jsonl and meta.json as the backup reads them
 * (a reader that tees), hands them to the index, and at the end puts the
 * index's tree into the snapshot, for chat formats only (bindex_wants).
 * Private to engine/, called by backup.c. The index never fails a backup: what goes wrong with it
 * is a warning, and the snapshot is then written without an index. */
#ifndef IMDR_ENGINE_BINDEX_H
#define IMDR_ENGINE_BINDEX_H

#include "engine/engine.h"
#include "ingest/ingest.h"
#include "repo/index.h"
#include "repo/snapshot.h"
#include "repo/store.h"

struct bindex;

/* bindex_wants: whether snapshots of this ingest format get an index (the
 * chat formats); for others bindex_start need not be called. */
int bindex_wants(const char *format);

/* bindex_start: source_name is the name the source will most likely get
 * (--source, or the path), refined by bindex_source when the export names
 * itself. NULL when the index cannot start (a warning says why). */
struct bindex *bindex_start(struct repo *r, struct store *st, struct index *idx,
    const struct engine_events *ev, const char *source_name);
/* bindex_source: the source's name (again): its newest snapshot is the
 * one the index extends. */
void bindex_source(struct bindex *bx, const char *source_name);
/* bindex_tee: rd itself, or, for a file the index reads, a reader that
 * copies what passes through it (valid until bindex_tee_done). */
const struct ingest_reader *bindex_tee(struct bindex *bx, const struct ingest_entry *e,
    const struct ingest_reader *rd);
/* bindex_tee_done: the file of the last bindex_tee was stored whole (ok)
 * or not (then the index reads it back at the end if it needs it). */
void bindex_tee_done(struct bindex *bx, int ok);
/* bindex_finish: build the index of the tree at root and set s->search
 * (s->has_search); a failure is a warning. bx exists only for a chat
 * format (bindex_wants). */
void bindex_finish(struct bindex *bx, const struct blob_ref *root, struct snapshot *s);
void bindex_free(struct bindex *bx);

#endif
