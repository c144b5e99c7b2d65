/* build — the message index of one backup (search.h).
 *
 * The backup hands over each conversation's messages.jsonl and meta.json
 * as it stores them; a thread of this module indexes them while the
 * backup goes on with attachments. For a conversation it looks up the
 * live rows of the previous snapshot's index (by the conversation's key,
 * through the segments' key index), and compares each message line's
 * version hash: an unchanged message costs a lookup, a new or changed one
 * a row in the new segment, and the row it replaces or that vanished is
 * recorded as no longer live. Conversations whose messages.jsonl the
 * backup took from its files cache (never read) are carried over when
 * their content (the chunk ids) is what the previous index saw, and read
 * back from the repository otherwise.
 *
 * Merging, at the end: the new segment absorbs the newest older segments
 * whose live rows are not more than it has (a binary counter: each row is
 * rewritten O(log n) times), any segment that is mostly dead, and more
 * while there are over MAX_SEGMENTS; a segment never grows past
 * SEG_MAX_ROWS (the builder starts another).
 *
 * Memory: the queue of fed files (QUEUE_BYTES), the segment being built
 * (SEG_MAX_ROWS rows at most), one conversation's previous keys at a time,
 * and the dead lists (8 bytes a changed row). */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "catalog/catalog.h"
#include "lib/err.h"
#include "lib/hash.h"
#include "lib/hex.h"
#include "lib/log.h"
#include "lib/timefmt.h"
#include "search/manifest.h"
#include "search/search.h"
#include "search/search_impl.h"

#define QUEUE_BYTES (64u << 20)
#define SEG_MAX_ROWS 500000
#define MAX_SEGMENTS 16
#define READ_BACK_MAX ((size_t)1 << 31)
/* Segments are sealed at the end of a backup, while it waits: at zstd
 * level 1 (without the probe for incompressible data, which they never
 * are) in 40 % less time than at the repository's level 3, 3 % larger. */
#define SEG_ZSTD_LEVEL 1

/* ---- state ---- */

struct feed {
	struct feed *next;
	char *folder;
	int meta;		/* meta.json, else messages.jsonl */
	uint8_t *data;
	size_t n;
};

struct conv {
	char *folder;
	char *key;		/* once indexed */
	uint64_t messages;
	int done;
	int have_meta;		/* meta.json was fed */
	char *meta_id;		/* its id, or NULL */
	uint8_t *pending;	/* messages.jsonl waiting for its meta.json */
	size_t npending;
};

struct dead {
	int64_t *v;
	size_t n, cap;
};

/* a segment written by this build */
struct newseg {
	uint8_t (*ids)[CRYPTO_ID_LEN];	/* pieces, filled by the store */
	size_t n;
	uint64_t size, rows;
};

struct search_build {
	struct repo *r;
	struct store *st;
	struct index *idx;
	const struct search_events *ev;

	/* the previous snapshot's index */
	struct sx_manifest *prev;
	char prev_id[SNAPSHOT_ID_HEX + 1];
	int prev_set, restart;
	struct seg **pseg;		/* opened on first use */
	sqlite3_stmt **pkeys;		/* rowid, mid, h of one key's rows */
	struct dead *newdead;		/* per previous segment */

	/* what this build writes */
	struct seg_builder *cur;
	struct buf cur_key;		/* the key whose cid is cur_cid ("" none) */
	int64_t cur_cid;
	struct newseg *segs;
	size_t nsegs, capsegs;

	struct conv *cv;
	size_t ncv, capcv;
	struct smap by_folder;		/* folder -> cv index */
	struct smap keys;		/* keys taken in this snapshot -> cv index */

	struct chat_parser *cp;
	struct search_build_stats stats;

	/* the indexer thread */
	pthread_t th;
	int running;
	pthread_mutex_t mu;
	pthread_cond_t cv_feed, cv_space;
	struct feed *head, *tail;
	size_t queued;
	uint64_t fed;
	int64_t busy_ns;		/* the indexer's working time, for debug logs */
	int64_t cpu_ns;			/* and its CPU time */
	int stop;
	int rc;
	char *msg;
};

static int
failed(struct search_build *sb, int rc)
{
	pthread_mutex_lock(&sb->mu);
	if (sb->rc == IMDR_OK) {
		sb->rc = rc;
		sb->msg = xstrdup(err_msg(rc));
	}
	pthread_mutex_unlock(&sb->mu);
	return rc;
}

static struct conv *
conv_of(struct search_build *sb, const char *folder)
{
	size_t i;

	if (smap_get(&sb->by_folder, folder, &i))
		return &sb->cv[i];
	if (sb->ncv == sb->capcv) {
		sb->capcv = sb->capcv ? sb->capcv * 2 : 64;
		sb->cv = xrealloc(sb->cv, sb->capcv * sizeof(*sb->cv));
	}
	memset(&sb->cv[sb->ncv], 0, sizeof(sb->cv[0]));
	sb->cv[sb->ncv].folder = xstrdup(folder);
	smap_put(&sb->by_folder, folder, sb->ncv);
	return &sb->cv[sb->ncv++];
}

/* ---- storing segments ---- */

/* seal_current: hand the finished current segment to the store. */
static int
seal_current(struct search_build *sb)
{
	const uint8_t *data;
	size_t n;
	struct newseg *ns;
	int rc;

	if (sb->cur == NULL)
		return IMDR_OK;
	if (seg_builder_rows(sb->cur) == 0) {
		seg_builder_free(sb->cur);
		sb->cur = NULL;
		return IMDR_OK;
	}
	rc = seg_builder_finish(sb->cur, &data, &n);
	if (rc)
		return rc;
	if (sb->nsegs == sb->capsegs) {
		sb->capsegs = sb->capsegs ? sb->capsegs * 2 : 4;
		sb->segs = xrealloc(sb->segs, sb->capsegs * sizeof(*sb->segs));
	}
	ns = &sb->segs[sb->nsegs++];
	ns->n = (n + SEG_PIECE - 1) / SEG_PIECE;
	ns->ids = xcalloc(ns->n, sizeof(*ns->ids));
	ns->size = n;
	ns->rows = seg_builder_rows(sb->cur);
	sb->stats.bytes += n;
	for (size_t i = 0; i < ns->n && rc == IMDR_OK; i++) {
		size_t len = n - i * SEG_PIECE < SEG_PIECE ? n - i * SEG_PIECE : SEG_PIECE;
		uint8_t *p = store_alloc(sb->st, len);

		memcpy(p, data + i * SEG_PIECE, len);
		rc = store_add_level(sb->st, BLOB_DATA, p, len, SEG_ZSTD_LEVEL, ns->ids[i]);
	}
	seg_builder_free(sb->cur);
	sb->cur = NULL;
	sb->cur_key.len = 0;
	return rc;
}

/* builder_for: the current segment, with room for a row of key; *ret_cid
 * is key's id in it. */
static int
builder_for(struct search_build *sb, const char *key, int64_t *ret_cid)
{
	int rc;

	if (sb->cur && seg_builder_rows(sb->cur) >= SEG_MAX_ROWS) {
		rc = seal_current(sb);
		if (rc)
			return rc;
	}
	if (sb->cur == NULL) {
		rc = seg_builder_new(&sb->cur);
		if (rc)
			return rc;
		sb->cur_key.len = 0;
	}
	if (sb->cur_key.len == 0 || strcmp((const char *)sb->cur_key.data, key) != 0) {
		rc = seg_builder_conv(sb->cur, key, &sb->cur_cid);
		if (rc)
			return rc;
		sb->cur_key.len = 0;
		buf_puts(&sb->cur_key, key);
		buf_cstr(&sb->cur_key);
	}
	*ret_cid = sb->cur_cid;
	return IMDR_OK;
}

/* ---- the previous index ---- */

static int
prev_seg(struct search_build *sb, size_t i, struct seg **ret)
{
	int rc;

	if (sb->pseg[i] == NULL) {
		char what[64];

		snprintf(what, sizeof(what), "message index of snapshot %.8s, segment %zu",
		    sb->prev_id, i);
		rc = seg_open(sb->r, sb->prev->seg[i].pieces, sb->prev->seg[i].npieces,
		    sb->prev->seg[i].size, what, NULL, &sb->pseg[i]);
		if (rc)
			return rc;
		if (seg_prepare_key_rows(seg_db(sb->pseg[i]), "m.rowid, m.mid, m.h", NULL,
		    &sb->pkeys[i]) != SQLITE_OK)
			return seg_error(sb->pseg[i], seg_db(sb->pseg[i]), "reading keys");
	}
	*ret = sb->pseg[i];
	return IMDR_OK;
}

static void
dead_add(struct dead *d, int64_t rowid)
{
	if (d->n == d->cap) {
		d->cap = d->cap ? d->cap * 2 : 64;
		d->v = xrealloc(d->v, d->cap * sizeof(*d->v));
	}
	d->v[d->n++] = rowid;
}

/* The live rows of one key in the previous index: mid -> (segment, rowid,
 * version hash). */
struct prow {
	uint32_t seg;
	int seen;
	int64_t rowid, h;
};

struct prev_rows {
	struct smap map;
	struct prow *v;
	size_t n, cap;
};

static void
prev_rows_free(struct prev_rows *p)
{
	smap_free(&p->map);
	free(p->v);
	memset(p, 0, sizeof(*p));
}

static int
load_prev_rows(struct search_build *sb, const char *key, struct prev_rows *ret)
{
	if (sb->prev == NULL)
		return IMDR_OK;
	for (size_t i = 0; i < sb->prev->nseg; i++) {
		struct seg *s;
		sqlite3_stmt *q;
		int rc = prev_seg(sb, i, &s), step;

		if (rc)
			return rc;
		q = sb->pkeys[i];
		sqlite3_bind_text(q, 1, key, -1, SQLITE_STATIC);
		while ((step = sqlite3_step(q)) == SQLITE_ROW) {
			int64_t rowid = sqlite3_column_int64(q, 0);
			const char *mid = (const char *)sqlite3_column_text(q, 1);

			if (mid == NULL || sx_dead(&sb->prev->seg[i], rowid))
				continue;
			if (ret->n == ret->cap) {
				ret->cap = ret->cap ? ret->cap * 2 : 256;
				ret->v = xrealloc(ret->v, ret->cap * sizeof(*ret->v));
			}
			ret->v[ret->n] = (struct prow){ (uint32_t)i, 0, rowid,
			    sqlite3_column_int64(q, 2) };
			smap_put(&ret->map, mid, ret->n++);
		}
		sqlite3_reset(q);
		if (step != SQLITE_DONE)
			return seg_error(s, seg_db(s), "reading keys");
	}
	return IMDR_OK;
}

/* ---- indexing one conversation ---- */

struct conv_run {
	struct search_build *sb;
	struct conv *c;
	const char *key;
	struct prev_rows prev;
	uint64_t messages;
	int rc;
};

static int
conv_line(void *ctx, const char *line, size_t n, size_t lineno)
{
	struct conv_run *cr = ctx;
	struct search_build *sb = cr->sb;
	struct chat_msg m;
	int64_t h, cid;
	size_t pi;
	int rc;

	rc = chat_parse_msg(sb->cp, line, n, &m);
	if (rc) {
		char what[600];

		snprintf(what, sizeof(what), "conversations/%s/messages.jsonl:%zu", cr->c->folder,
		    lineno);
		sev_warn(sb->ev, what, "left out of the message index: malformed line");
		err_clear();
		return IMDR_OK;
	}
	cr->messages++;
	h = seg_version_hash(line, n);
	if (smap_get(&cr->prev.map, m.id, &pi)) {
		struct prow *p = &cr->prev.v[pi];

		if (!p->seen) {
			p->seen = 1;
			if (p->h == h)
				return IMDR_OK;	/* unchanged: its row stays live */
			dead_add(&sb->newdead[p->seg], p->rowid);
			sb->stats.rows_dead++;
		}
	}
	rc = builder_for(sb, cr->key, &cid);
	if (rc == IMDR_OK)
		rc = seg_builder_add(sb->cur, cid, &m, h);
	if (rc == IMDR_OK)
		sb->stats.rows_new++;
	return rc;
}

/* key_taken: make key unique in this snapshot: a second conversation
 * claiming a key (two meta.json with one id) is keyed by its folder. */
static const char *
unique_key(struct search_build *sb, struct conv *c, const char *key)
{
	if (!smap_get(&sb->keys, key, NULL))
		return key;
	if (!smap_get(&sb->keys, c->folder, NULL))
		return c->folder;
	return NULL;
}

static int
conv_begin(struct search_build *sb, struct conv *c, const char *key, struct conv_run *cr)
{
	const char *k = unique_key(sb, c, key);

	memset(cr, 0, sizeof(*cr));
	cr->sb = sb;
	cr->c = c;
	if (k == NULL)
		return err_set(IMDR_EFORMAT, "conversations/%s: its key %s is taken twice", c->folder, key);
	free(c->key);
	c->key = xstrdup(k);
	cr->key = c->key;
	smap_put(&sb->keys, c->key, (size_t)(c - sb->cv));
	return load_prev_rows(sb, c->key, &cr->prev);
}

static int
conv_end(struct search_build *sb, struct conv_run *cr)
{
	/* what the previous index held and this export no longer does */
	for (size_t i = 0; i < cr->prev.n; i++)
		if (!cr->prev.v[i].seen) {
			dead_add(&sb->newdead[cr->prev.v[i].seg], cr->prev.v[i].rowid);
			sb->stats.rows_dead++;
		}
	cr->c->messages = cr->messages;
	cr->c->done = 1;
	sb->stats.messages += cr->messages;
	prev_rows_free(&cr->prev);
	return IMDR_OK;
}

static int
index_conv(struct search_build *sb, struct conv *c, const char *key,
    const uint8_t *data, size_t n)
{
	struct conv_run cr;
	int rc = conv_begin(sb, c, key, &cr);

	if (rc == IMDR_OK)
		rc = chat_lines(data, n, conv_line, &cr);
	if (rc == IMDR_OK)
		rc = conv_end(sb, &cr);
	prev_rows_free(&cr.prev);
	return rc;
}

/* key_now: the key of folder c when it is known without waiting: its
 * meta.json was fed, or the previous index knows the folder. */
static const char *
key_now(struct search_build *sb, struct conv *c)
{
	const struct sx_conv *pc;

	if (c->have_meta)
		return c->meta_id ? c->meta_id : c->folder;
	pc = sx_conv_by_folder(sb->prev, c->folder);
	return pc ? pc->key : NULL;
}

static int
process(struct search_build *sb, struct feed *f)
{
	struct conv *c = conv_of(sb, f->folder);
	const char *key;
	int rc = IMDR_OK;

	if (c->done)
		return IMDR_OK;
	if (f->meta) {
		struct chat_meta m;

		c->have_meta = 1;
		if (chat_meta_parse(f->data, f->n, &m) == IMDR_OK) {
			if (m.id && *m.id)
				c->meta_id = xstrdup(m.id);
			chat_meta_free(&m);
		}
		err_clear();
		if (c->pending) {
			rc = index_conv(sb, c, key_now(sb, c), c->pending, c->npending);
			free(c->pending);
			c->pending = NULL;
		}
		return rc;
	}
	if ((key = key_now(sb, c)) == NULL) {
		free(c->pending);
		c->pending = f->data;	/* until its meta.json comes */
		c->npending = f->n;
		f->data = NULL;
		return IMDR_OK;
	}
	return index_conv(sb, c, key, f->data, f->n);
}

static void
feed_free(struct feed *f)
{
	free(f->folder);
	free(f->data);
	free(f);
}

static void *
indexer(void *arg)
{
	struct search_build *sb = arg;

	for (;;) {
		struct feed *f;
		int rc;

		pthread_mutex_lock(&sb->mu);
		while (sb->head == NULL && !sb->stop)
			pthread_cond_wait(&sb->cv_feed, &sb->mu);
		f = sb->head;
		if (f == NULL) {
			pthread_mutex_unlock(&sb->mu);
			break;
		}
		sb->head = f->next;
		if (sb->head == NULL)
			sb->tail = NULL;
		pthread_mutex_unlock(&sb->mu);
		int64_t t0 = time_mono_ns();

		rc = sb->rc || sb->restart ? IMDR_OK : process(sb, f);
		sb->busy_ns += time_mono_ns() - t0;
		if (rc)
			failed(sb, rc);
		pthread_mutex_lock(&sb->mu);
		sb->queued -= f->n;
		pthread_cond_broadcast(&sb->cv_space);
		pthread_mutex_unlock(&sb->mu);
		feed_free(f);
	}
	sb->cpu_ns = time_clock_ns(CLOCK_THREAD_CPUTIME_ID);
	repo_thread_cleanup();
	return NULL;
}

/* ---- the API ---- */

int
search_build_new(struct repo *r, struct store *st, struct index *idx,
    const struct search_events *ev, struct search_build **ret)
{
	struct search_build *sb = xcalloc(1, sizeof(*sb));

	sb->r = r;
	sb->st = st;
	sb->idx = idx;
	sb->ev = ev;
	sb->cp = chat_parser_new();
	pthread_mutex_init(&sb->mu, NULL);
	pthread_cond_init(&sb->cv_feed, NULL);
	pthread_cond_init(&sb->cv_space, NULL);
	if (pthread_create(&sb->th, NULL, indexer, sb) != 0) {
		search_build_free(sb);
		return err_set(IMDR_ENOMEM, "cannot start the indexer thread");
	}
	sb->running = 1;
	*ret = sb;
	return IMDR_OK;
}

static void
close_prev(struct search_build *sb)
{
	if (sb->prev) {
		for (size_t i = 0; i < sb->prev->nseg; i++) {
			sqlite3_finalize(sb->pkeys[i]);
			seg_close(sb->pseg[i]);
			free(sb->newdead[i].v);
		}
	}
	free(sb->pseg);
	free(sb->pkeys);
	free(sb->newdead);
	sx_free(sb->prev);
	sb->prev = NULL;
	sb->pseg = NULL;
	sb->pkeys = NULL;
	sb->newdead = NULL;
}

static int
open_prev(struct search_build *sb, const struct snapshot *prev)
{
	int rc;

	sb->prev_id[0] = '\0';
	if (prev == NULL || !prev->has_search)
		return IMDR_OK;
	rc = sx_load(sb->r, &prev->search, NULL, &sb->prev);
	if (rc)
		return rc;
	snprintf(sb->prev_id, sizeof(sb->prev_id), "%s", prev->id);
	sb->pseg = xcalloc(sb->prev->nseg + 1, sizeof(*sb->pseg));
	sb->pkeys = xcalloc(sb->prev->nseg + 1, sizeof(*sb->pkeys));
	sb->newdead = xcalloc(sb->prev->nseg + 1, sizeof(*sb->newdead));
	return IMDR_OK;
}

void
search_build_set_prev(struct search_build *sb, const struct snapshot *prev)
{
	const char *id = prev && prev->has_search ? prev->id : "";
	int fed;

	if (strcmp(id, sb->prev_id) == 0)
		return;
	pthread_mutex_lock(&sb->mu);
	fed = sb->fed > 0;
	if (fed)
		sb->restart = 1;	/* indexed against another: again at the end */
	pthread_mutex_unlock(&sb->mu);
	if (fed) {
		snprintf(sb->prev_id, sizeof(sb->prev_id), "%s", id);
		return;			/* finish opens it */
	}
	/* nothing fed yet, so the indexer is idle: swapping is safe */
	close_prev(sb);
	if (open_prev(sb, prev) != IMDR_OK) {
		char msg[1200];

		snprintf(msg, sizeof(msg), "cannot read the message index of snapshot %.8s (%s);"
		    " indexing every message anew", prev->id, err_msg(IMDR_EFORMAT));
		sev_warn(sb->ev, NULL, msg);
		err_clear();
		close_prev(sb);
		return;
	}
	snprintf(sb->prev_id, sizeof(sb->prev_id), "%s", id);
}

/* folder_of: the conversation folder of "conversations/<folder>/<file>",
 * with *ret_meta set for meta.json; NULL for anything else. */
static char *
folder_of(const char *path, int *ret_meta)
{
	const char *p, *slash;

	if (strncmp(path, "conversations/", 14) != 0)
		return NULL;
	p = path + 14;
	slash = strchr(p, '/');
	if (slash == NULL || slash == p || strchr(slash + 1, '/') != NULL)
		return NULL;
	if (strcmp(slash + 1, "messages.jsonl") == 0)
		*ret_meta = 0;
	else if (strcmp(slash + 1, "meta.json") == 0)
		*ret_meta = 1;
	else
		return NULL;
	return xstrndup(p, (size_t)(slash - p));
}

int
search_build_wants(const char *path)
{
	int meta;
	char *f = folder_of(path, &meta);

	free(f);
	return f != NULL;
}

int
search_build_feed(struct search_build *sb, const char *path, uint8_t *data, size_t n)
{
	struct feed *f;
	int meta, rc;
	char *folder = folder_of(path, &meta);

	if (folder == NULL) {
		free(data);
		return IMDR_OK;
	}
	f = xcalloc(1, sizeof(*f));
	f->folder = folder;
	f->meta = meta;
	f->data = data;
	f->n = n;
	pthread_mutex_lock(&sb->mu);
	while (sb->queued > 0 && sb->queued + n > QUEUE_BYTES && sb->rc == IMDR_OK)
		pthread_cond_wait(&sb->cv_space, &sb->mu);
	rc = sb->rc;
	if (rc == IMDR_OK) {
		if (sb->tail)
			sb->tail->next = f;
		else
			sb->head = f;
		sb->tail = f;
		sb->queued += n;
		sb->fed++;
		pthread_cond_signal(&sb->cv_feed);
	}
	pthread_mutex_unlock(&sb->mu);
	if (rc) {
		feed_free(f);
		return IMDR_OK;	/* the indexer failed; finish reports it */
	}
	return IMDR_OK;
}

static void
stop_thread(struct search_build *sb)
{
	if (!sb->running)
		return;
	pthread_mutex_lock(&sb->mu);
	sb->stop = 1;
	pthread_cond_signal(&sb->cv_feed);
	pthread_mutex_unlock(&sb->mu);
	pthread_join(sb->th, NULL);
	sb->running = 0;
}

/* ---- finishing ---- */

/* read_meta_key: meta.json of a folder read back: its id, or NULL. */
static char *
read_meta_id(struct search_build *sb, const struct cat_node *fnode)
{
	const struct cat_entry *e = cat_node_find(fnode, "meta.json", 9);
	struct buf b = BUF_INIT, chunk = BUF_INIT;
	struct chat_meta m;
	char *id = NULL;
	int rc = IMDR_OK;

	if (e == NULL || e->type != CAT_FILE || e->size > (1u << 20))
		return NULL;
	for (uint32_t i = 0; i < e->nchunks && rc == IMDR_OK; i++) {
		struct blob_ref ref;

		cat_chunk(fnode, e, i, &ref, NULL);
		rc = repo_blob_read(sb->r, BLOB_DATA, &ref, &chunk);
		if (rc == IMDR_OK)
			buf_append(&b, chunk.data, chunk.len);
	}
	if (rc == IMDR_OK && chat_meta_parse(b.data, b.len, &m) == IMDR_OK) {
		if (m.id && *m.id)
			id = xstrdup(m.id);
		chat_meta_free(&m);
	}
	err_clear();
	buf_free(&b);
	buf_free(&chunk);
	return id;
}

/* read_back: index a conversation from its messages.jsonl in the
 * repository, a chunk at a time (lines may span chunks). */
static int
read_back(struct search_build *sb, struct conv *c, const char *key,
    const struct cat_node *fnode, const struct cat_entry *e)
{
	struct conv_run cr;
	struct buf chunk = BUF_INIT, carry = BUF_INIT;
	size_t lineno = 0;
	int rc = conv_begin(sb, c, key, &cr);

	sb->stats.conv_read_back++;
	for (uint32_t i = 0; e && i < e->nchunks && rc == IMDR_OK; i++) {
		struct blob_ref ref;
		const char *p, *end, *nl;

		cat_chunk(fnode, e, i, &ref, NULL);
		rc = repo_blob_read(sb->r, BLOB_DATA, &ref, &chunk);
		if (rc)
			break;
		p = (const char *)chunk.data;
		end = p + chunk.len;
		while (rc == IMDR_OK && (nl = memchr(p, '\n', (size_t)(end - p))) != NULL) {
			lineno++;
			if (carry.len) {
				buf_append(&carry, p, (size_t)(nl - p));
				rc = chat_lines(carry.data, carry.len, conv_line, &cr);
				carry.len = 0;
			} else if (nl > p) {
				rc = conv_line(&cr, p, (size_t)(nl - p) - (nl[-1] == '\r'), lineno);
			}
			p = nl + 1;
		}
		if (carry.len + (size_t)(end - p) > READ_BACK_MAX)
			rc = err_set(IMDR_EFORMAT, "conversations/%s/messages.jsonl: a line over 2 GiB",
			    c->folder);
		else
			buf_append(&carry, p, (size_t)(end - p));
	}
	if (rc == IMDR_OK && carry.len)
		rc = chat_lines(carry.data, carry.len, conv_line, &cr);
	if (rc == IMDR_OK)
		rc = conv_end(sb, &cr);
	prev_rows_free(&cr.prev);
	buf_free(&chunk);
	buf_free(&carry);
	return rc;
}

/* drop_key: every live row of key in the previous index is dead (the
 * conversation is gone). */
static int
drop_key(struct search_build *sb, const char *key)
{
	struct prev_rows pr;
	int rc;

	memset(&pr, 0, sizeof(pr));
	rc = load_prev_rows(sb, key, &pr);
	for (size_t i = 0; rc == IMDR_OK && i < pr.n; i++) {
		dead_add(&sb->newdead[pr.v[i].seg], pr.v[i].rowid);
		sb->stats.rows_dead++;
	}
	prev_rows_free(&pr);
	return rc;
}

/* walk_conversations: every folder of the new tree's conversations/:
 * indexed already, carried over, or indexed now (from what was fed and
 * waited for its key, else read back). Carried-over keys are taken
 * first, so a folder indexed now finds a key taken only when it is. */
static int
walk_conversations(struct search_build *sb, const struct blob_ref *root,
    struct sx_manifest *out)
{
	struct cat_node *rn = NULL, *cn = NULL;
	const struct cat_entry *ce;
	uint8_t (*mjs)[32] = NULL;
	uint32_t n;
	int rc;

	rc = cat_node_load(sb->r, root, &rn);
	if (rc)
		return rc;
	ce = cat_node_find(rn, "conversations", 13);
	if (ce == NULL || ce->type != CAT_DIR) {
		cat_node_free(rn);
		return IMDR_OK;		/* a chat export without conversations */
	}
	rc = cat_node_load(sb->r, &ce->subtree, &cn);
	cat_node_free(rn);
	if (rc)
		return rc;
	n = cat_node_count(cn);
	out->conv = xcalloc(n + 1, sizeof(*out->conv));
	mjs = xcalloc(n + 1, sizeof(*mjs));
	for (uint32_t i = 0; rc == IMDR_OK && i < n; i++) {
		const struct cat_entry *fe = cat_node_entry(cn, i), *me;
		struct cat_node *fnode = NULL;
		const struct sx_conv *pc;
		size_t ci;

		if (fe->type != CAT_DIR)
			continue;
		rc = cat_node_load(sb->r, &fe->subtree, &fnode);
		if (rc)
			break;
		me = cat_node_find(fnode, "messages.jsonl", 14);
		cat_content_id(fnode, me && me->type == CAT_FILE ? me : NULL, mjs[i]);
		cat_node_free(fnode);
		pc = sx_conv_by_folder(sb->prev, fe->name);
		if (smap_get(&sb->by_folder, fe->name, &ci) && (sb->cv[ci].done || sb->cv[ci].pending))
			continue;
		if (pc && memcmp(pc->mj, mjs[i], 32) == 0 && !smap_get(&sb->keys, pc->key, NULL)) {
			struct conv *c = conv_of(sb, fe->name);

			free(c->key);
			c->key = xstrdup(pc->key);
			c->messages = pc->messages;
			c->done = 1;
			smap_put(&sb->keys, c->key, (size_t)(c - sb->cv));
			sb->stats.conv_unchanged++;
			sb->stats.messages += pc->messages;
		}
	}
	for (uint32_t i = 0; rc == IMDR_OK && i < n; i++) {
		const struct cat_entry *fe = cat_node_entry(cn, i);
		struct conv *c;
		struct sx_conv *oc;

		if (fe->type != CAT_DIR)
			continue;
		c = conv_of(sb, fe->name);
		if (!c->done) {
			const struct sx_conv *pc = sx_conv_by_folder(sb->prev, fe->name);
			struct cat_node *fnode = NULL;
			const struct cat_entry *me;
			char *id = NULL;
			const char *key;

			rc = cat_node_load(sb->r, &fe->subtree, &fnode);
			if (rc)
				break;
			if (c->have_meta)
				key = c->meta_id ? c->meta_id : c->folder;
			else if ((id = read_meta_id(sb, fnode)) != NULL)
				key = id;
			else
				key = pc ? pc->key : c->folder;
			if (c->pending) {
				rc = index_conv(sb, c, key, c->pending, c->npending);
				free(c->pending);
				c->pending = NULL;
			} else {
				me = cat_node_find(fnode, "messages.jsonl", 14);
				rc = read_back(sb, c, key, fnode, me && me->type == CAT_FILE ? me : NULL);
			}
			free(id);
			cat_node_free(fnode);
			if (rc)
				break;
		}
		oc = &out->conv[out->nconv++];
		oc->key = xstrdup(c->key);
		oc->folder = xstrdup(c->folder);
		memcpy(oc->mj, mjs[i], 32);
		oc->messages = c->messages;
	}
	free(mjs);
	cat_node_free(cn);
	sb->stats.conversations = out->nconv;
	return rc;
}

/* merge_pick: which previous segments the newest segment absorbs. */
static void
merge_pick(struct search_build *sb, uint64_t new_rows, int *absorb, uint64_t *ret_rows)
{
	const struct sx_manifest *p = sb->prev;
	uint64_t total = new_rows;
	size_t kept = p->nseg;
	long i;

	/* the binary counter, newest first */
	for (i = (long)p->nseg - 1; i >= 0; i--) {
		const struct sx_seg *s = &p->seg[i];
		uint64_t live = s->rows - s->ndead;

		if (live > total || total + live > SEG_MAX_ROWS)
			break;
		absorb[i] = 1;
		total += live;
		kept--;
	}
	/* mostly dead anywhere, and the count bound */
	for (i = 0; i < (long)p->nseg; i++) {
		const struct sx_seg *s = &p->seg[i];
		uint64_t live = s->rows - s->ndead;

		if (absorb[i])
			continue;
		if ((s->ndead >= live || kept + sb->nsegs + 1 > MAX_SEGMENTS) &&
		    total + live <= SEG_MAX_ROWS) {
			absorb[i] = 1;
			total += live;
			kept--;
		}
	}
	*ret_rows = total;
}

/* copy_live: the live rows of previous segment i into the builder. */
static int
copy_live(struct search_build *sb, size_t i)
{
	const struct sx_seg *s = &sb->prev->seg[i];
	struct seg *sg;
	sqlite3_stmt *q = NULL;
	int rc, step;

	if (s->rows == s->ndead)
		return IMDR_OK;
	rc = prev_seg(sb, i, &sg);
	if (rc)
		return rc;
	if (sqlite3_prepare_v2(seg_db(sg), "SELECT m.mid, m.h, m.ts, m.user, m.thread, m.flags,"
	    " m.text, m.files, m.rowid, c.key FROM msg m JOIN conv c ON c.cid = m.cid", -1, &q,
	    NULL) != SQLITE_OK)
		return seg_error(sg, seg_db(sg), "merging");
	while ((step = sqlite3_step(q)) == SQLITE_ROW) {
		int64_t rowid = sqlite3_column_int64(q, 8), cid;
		const char *key;

		if (sx_dead(s, rowid))
			continue;
		key = (const char *)sqlite3_column_text(q, 9);
		rc = builder_for(sb, key ? key : "", &cid);
		if (rc == IMDR_OK)
			rc = seg_builder_add_row(sb->cur, cid, q);
		if (rc)
			break;
		sb->stats.rows_merged++;
	}
	if (rc == IMDR_OK && step != SQLITE_DONE)
		rc = seg_error(sg, seg_db(sg), "merging");
	sqlite3_finalize(q);
	return rc;
}

static int
cmp_conv(const void *a, const void *b)
{
	return strcmp(((const struct sx_conv *)a)->folder, ((const struct sx_conv *)b)->folder);
}

int
search_build_finish(struct search_build *sb, const struct blob_ref *root,
    struct blob_ref *ret_ref, struct search_build_stats *ret_stats)
{
	struct sx_manifest *out = xcalloc(1, sizeof(*out));
	int *absorb = NULL;
	uint64_t merged_rows = 0;
	int rc;

	int64_t t0 = time_mono_ns(), t1, t2, c0 = time_clock_ns(CLOCK_PROCESS_CPUTIME_ID);

	stop_thread(sb);
	t1 = time_mono_ns();
	rc = sb->rc;
	if (rc) {
		err_set(rc, "%s", sb->msg);
		goto out;
	}
	if (sb->restart) {
		/* indexed against the wrong previous snapshot: start again */
		char id[SNAPSHOT_ID_HEX + 1];
		struct snapshot *p = NULL;

		snprintf(id, sizeof(id), "%s", sb->prev_id);
		seg_builder_free(sb->cur);
		sb->cur = NULL;
		sb->cur_key.len = 0;
		for (size_t i = 0; i < sb->ncv; i++) {
			free(sb->cv[i].folder);
			free(sb->cv[i].key);
			free(sb->cv[i].meta_id);
			free(sb->cv[i].pending);
		}
		sb->ncv = 0;
		smap_free(&sb->by_folder);
		smap_free(&sb->keys);
		memset(&sb->stats, 0, sizeof(sb->stats));
		close_prev(sb);
		if (*id) {
			struct snapshot_name *names = NULL;
			size_t n = 0;

			rc = snapshot_list(sb->r, &names, &n);
			for (size_t i = 0; rc == IMDR_OK && i < n; i++)
				if (strcmp(names[i].id, id) == 0)
					rc = snapshot_load(sb->r, names[i].name, &p);
			free(names);
			if (rc == IMDR_OK && p)
				rc = open_prev(sb, p);
			snapshot_free(p);
			if (rc)
				goto out;
		}
	}
	rc = walk_conversations(sb, root, out);
	/* conversations the previous index had and this snapshot has not */
	for (size_t i = 0; rc == IMDR_OK && sb->prev && i < sb->prev->nconv; i++)
		if (!smap_get(&sb->keys, sb->prev->conv[i].key, NULL))
			rc = drop_key(sb, sb->prev->conv[i].key);
	if (rc)
		goto out;
	/* the dead lists, then what to merge */
	if (sb->prev) {
		for (size_t i = 0; i < sb->prev->nseg; i++) {
			struct sx_seg *s = &sb->prev->seg[i];
			struct dead *d = &sb->newdead[i];

			s->dead = xrealloc(s->dead, (s->ndead + d->n + 1) * sizeof(*s->dead));
			if (d->n)
				memcpy(s->dead + s->ndead, d->v, d->n * sizeof(*d->v));
			s->ndead += d->n;
			sx_sort_dead(s);
		}
		absorb = xcalloc(sb->prev->nseg + 1, sizeof(*absorb));
		merge_pick(sb, sb->cur ? seg_builder_rows(sb->cur) : 0, absorb, &merged_rows);
		for (size_t i = 0; rc == IMDR_OK && i < sb->prev->nseg; i++)
			if (absorb[i])
				rc = copy_live(sb, i);
	}
	t2 = time_mono_ns();
	if (rc == IMDR_OK)
		rc = seal_current(sb);
	if (rc == IMDR_OK)
		rc = store_flush(sb->st);
	debugf("index: indexer busy %.3f s (CPU %.3f s), waited %.3f s, walk+merge %.3f s,"
	    " seal+flush %.3f s (CPU of the finish %.3f s)", (double)sb->busy_ns / 1e9,
	    (double)sb->cpu_ns / 1e9, (double)(t1 - t0) / 1e9, (double)(t2 - t1) / 1e9,
	    (double)(time_mono_ns() - t2) / 1e9,
	    (double)(time_clock_ns(CLOCK_PROCESS_CPUTIME_ID) - c0) / 1e9);
	if (rc)
		goto out;
	/* the new index: kept previous segments, then the new ones */
	out->seg = xcalloc((sb->prev ? sb->prev->nseg : 0) + sb->nsegs + 1, sizeof(*out->seg));
	for (size_t i = 0; sb->prev && i < sb->prev->nseg; i++) {
		struct sx_seg *s = &sb->prev->seg[i];

		if (absorb[i] || s->rows == s->ndead)
			continue;
		out->seg[out->nseg++] = *s;
		s->pieces = NULL;	/* moved */
		s->dead = NULL;
	}
	for (size_t i = 0; i < sb->nsegs && rc == IMDR_OK; i++) {
		struct sx_seg *s = &out->seg[out->nseg++];
		struct newseg *ns = &sb->segs[i];

		s->pieces = xcalloc(ns->n, sizeof(*s->pieces));
		s->npieces = ns->n;
		s->size = ns->size;
		s->rows = ns->rows;
		for (size_t k = 0; k < ns->n && rc == IMDR_OK; k++)
			if (index_lookup(sb->idx, ns->ids[k], NULL, &s->pieces[k]) != IMDR_OK)
				rc = err_set(IMDR_EIO, "internal error: a piece of the message index"
				    " was stored but is not in the index");
	}
	if (rc)
		goto out;
	if (out->nconv > 1)
		qsort(out->conv, out->nconv, sizeof(*out->conv), cmp_conv);
	sb->stats.segments = out->nseg;
	rc = sx_store(sb->st, out, ret_ref);
	if (rc == IMDR_OK)
		rc = store_flush(sb->st);
	if (rc == IMDR_OK && ret_stats)
		*ret_stats = sb->stats;
out:
	free(absorb);
	sx_free(out);
	return rc;
}

void
search_build_free(struct search_build *sb)
{
	if (sb == NULL)
		return;
	stop_thread(sb);
	while (sb->head) {
		struct feed *f = sb->head;

		sb->head = f->next;
		feed_free(f);
	}
	close_prev(sb);
	seg_builder_free(sb->cur);
	for (size_t i = 0; i < sb->nsegs; i++)
		free(sb->segs[i].ids);
	free(sb->segs);
	buf_free(&sb->cur_key);
	for (size_t i = 0; i < sb->ncv; i++) {
		free(sb->cv[i].folder);
		free(sb->cv[i].key);
		free(sb->cv[i].meta_id);
		free(sb->cv[i].pending);
	}
	free(sb->cv);
	smap_free(&sb->by_folder);
	smap_free(&sb->keys);
	chat_parser_free(sb->cp);
	pthread_mutex_destroy(&sb->mu);
	pthread_cond_destroy(&sb->cv_feed);
	pthread_cond_destroy(&sb->cv_space);
	free(sb->msg);
	free(sb);
}
