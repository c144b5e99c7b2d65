/* bindex — see bindex.h. */
#include "engine/bindex.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/err.h"
#include "search/chat.h"
#include "search/search.h"

/* A conversation file larger than this is not copied while it passes:
 * the index reads it back from the repository, a chunk at a time. */
#define TEE_MAX (256u << 20)

struct bindex {
	struct repo *r;
	const struct engine_events *ev;
	struct search_events sev;
	struct search_build *sb;
	char source[SNAPSHOT_SOURCE_MAX + 1];
	/* the file being copied */
	struct ingest_reader tee;
	const struct ingest_reader *in;
	char *path;
	struct buf got;
	int over;
};

static void
warn_index(struct bindex *bx, int rc, const char *doing)
{
	char msg[1400];

	snprintf(msg, sizeof(msg), "%s: %s; this snapshot gets no message index (`imdr search`"
	    " reads its messages.jsonl instead)", doing, err_msg(rc));
	ev_warn(bx->ev, NULL, msg);
	err_clear();
}

struct bindex *
bindex_start(struct repo *r, struct store *st, struct index *idx,
    const struct engine_events *ev, const char *source_name)
{
	struct bindex *bx = xcalloc(1, sizeof(*bx));
	int rc;

	bx->r = r;
	bx->ev = ev;
	bx->sev = (struct search_events){ ev ? ev->warn : NULL, ev ? ev->ctx : NULL,
	    ev ? ev->cancel : NULL };
	rc = search_build_new(r, st, idx, &bx->sev, &bx->sb);
	if (rc) {
		warn_index(bx, rc, "cannot start the message index");
		free(bx);
		return NULL;
	}
	bindex_source(bx, source_name);
	return bx;
}

void
bindex_source(struct bindex *bx, const char *source_name)
{
	struct snapshot_name *names = NULL;
	struct snapshot *prev = NULL;
	char tag[SNAPSHOT_TAG_HEX + 1];
	size_t n = 0;
	int rc;

	if (bx == NULL || source_name == NULL || strcmp(bx->source, source_name) == 0)
		return;
	snprintf(bx->source, sizeof(bx->source), "%s", source_name);
	rc = snapshot_list(bx->r, &names, &n);
	if (rc == IMDR_OK) {
		snapshot_source_tag(bx->r, source_name, tag);
		n = snapshot_filter_source(names, n, tag);
		if (n > 0)
			rc = snapshot_load(bx->r, names[n - 1].name, &prev);
	}
	if (rc) {
		char msg[1400];

		snprintf(msg, sizeof(msg), "cannot read the previous snapshot of %s (%s); indexing"
		    " every message anew", source_name, err_msg(rc));
		ev_warn(bx->ev, NULL, msg);
		err_clear();
	}
	search_build_set_prev(bx->sb, prev);
	snapshot_free(prev);
	free(names);
}

static int
tee_read(void *rs, void *buf, size_t cap, size_t *ret_got)
{
	struct bindex *bx = rs;
	int rc = bx->in->read(bx->in->rs, buf, cap, ret_got);

	if (rc == IMDR_OK && *ret_got > 0 && !bx->over) {
		if (bx->got.len + *ret_got > TEE_MAX) {
			bx->over = 1;
			buf_free(&bx->got);
		} else {
			buf_append(&bx->got, buf, *ret_got);
		}
	}
	return rc;
}

const struct ingest_reader *
bindex_tee(struct bindex *bx, const struct ingest_entry *e, const struct ingest_reader *rd)
{
	if (bx == NULL || rd == NULL || !search_build_wants(e->path))
		return rd;
	bx->in = rd;
	bx->tee.read = tee_read;
	bx->tee.rs = bx;
	free(bx->path);
	bx->path = xstrdup(e->path);
	bx->got.len = 0;
	bx->over = 0;
	return &bx->tee;
}

void
bindex_tee_done(struct bindex *bx, int ok)
{
	size_t n;
	uint8_t *data;

	if (bx == NULL || bx->path == NULL)
		return;
	if (ok && !bx->over) {
		n = bx->got.len;
		data = buf_steal(&bx->got, &n);
		search_build_feed(bx->sb, bx->path, data ? data : xcalloc(1, 1), n);
	}
	buf_free(&bx->got);
	free(bx->path);
	bx->path = NULL;
}

int
bindex_wants(const char *format)
{
	return chat_is_chat_format(format);
}

void
bindex_finish(struct bindex *bx, const struct blob_ref *root, struct snapshot *s)
{
	struct search_build_stats st;
	int rc;

	if (bx == NULL)
		return;
	bindex_source(bx, s->source);
	rc = search_build_finish(bx->sb, root, &s->search, &st);
	if (rc) {
		warn_index(bx, rc, "the message index was not written");
		return;
	}
	s->has_search = 1;
}

void
bindex_free(struct bindex *bx)
{
	if (bx == NULL)
		return;
	search_build_free(bx->sb);
	buf_free(&bx->got);
	free(bx->path);
	free(bx);
}
