/* search — searching the message index (search.h).
 *
 * The snapshots to search are grouped by source. For each group: every
 * snapshot's index tree is read (a snapshot made before the index existed
 * gets one built in memory from its messages.jsonl, and a warning), the
 * query's names are resolved against the snapshots' users and
 * conversations, and each distinct segment is queried once, however many
 * snapshots share it. A row found is a message version; it is live in a
 * snapshot that lists its segment and not the row among its dead ones.
 * Without --all the group is the one snapshot searched; with it, every
 * snapshot of the source, and versions are folded into messages with the
 * first and last snapshot that held them. */
#include <fnmatch.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <jansson.h>

#include "catalog/catalog.h"
#include "lib/err.h"
#include "lib/par.h"
#include "lib/log.h"
#include "lib/timefmt.h"
#include "search/manifest.h"
#include "search/query.h"
#include "search/search.h"
#include "search/search_impl.h"

#define SNIPPET_TOKENS 24
/* a stored segment of at least this many rows is queried in parts, rowid
 * ranges, one a core (at most SPLIT_MAX), each on a connection of its
 * own: FTS5 answers a query on one thread, and a single large segment
 * (a first backup's) is most of a search's time */
#define SPLIT_ROWS 20000
#define SPLIT_MAX 4

/* one snapshot searched */
struct sctx {
	struct snapshot *s;
	char display[64];		/* its folder in a mount's snapshots/ */
	struct sx_manifest *man;	/* its index (conversations only when unindexed) */
	struct seg_builder *fb;		/* unindexed: its messages, in memory */
	struct chat_user *users;
	size_t nusers;
	uint8_t uid[32];		/* users.jsonl's content, to read it once */
	int have_uid;
	struct smap k2c;		/* conversation key -> index in man->conv */
	size_t *dseg;			/* man->seg[i] -> distinct segment */
	size_t fb_dseg;
};

/* a row found */
struct cand {
	int64_t rowid, h, ts;
	char *key, *mid, *user, *thread, *snippet, *files;
	int flags;
	long first, last;		/* sctx indices where live, -1 none */
	size_t nseen;
};

struct cands {
	struct cand *v;
	size_t n, cap;
};

/* a distinct segment */
struct dseg {
	uint8_t ident[32];
	const struct sx_seg *seg;	/* stored: as the first snapshot lists it */
	struct seg_builder *fb;		/* or in memory */
	char what[96];
	struct seg *open;
	struct cands c;			/* rows found, by rowid */
};

/* one query of a segment: all of it, or a range of its rowids */
struct qpart {
	size_t ds;
	int64_t lo, hi;			/* lo 0: every row */
	struct seg *twin;		/* the connection of a part but the first */
	struct cands c;
};

struct run {
	struct repo *r;
	const struct search_opts *o;
	struct squery *q;
	struct search_result *res;
	struct sctx *sx;
	size_t nsx;
	struct dseg *ds;
	size_t nds, capds;
	char *users_json, *keys_json;
	int no_conv;			/* in: matched nothing: no hits */
	struct sx_cache *sxc;		/* segments' piece lists, by node */
	size_t hits_cap;		/* of res->hits */
};

/* ---- the snapshots ---- */

/* display_name: a snapshot's folder in a mount (fs/snaps.c's rule: its
 * UTC time to the second, with the short id when two share a second). */
static void
display_name(const struct snapshot_name *list, size_t n, size_t i, char *out)
{
	int64_t s = list[i].time_ns / 1000000000;
	char base[40];

	time_format(list[i].time_ns, 0, base);
	if ((i > 0 && list[i - 1].time_ns / 1000000000 == s) ||
	    (i + 1 < n && list[i + 1].time_ns / 1000000000 == s))
		snprintf(out, 64, "%s-%.8s", base, list[i].id);
	else
		snprintf(out, 64, "%s", base);
}

/* build_fallback: a snapshot without an index gets one in memory. */
static int
build_fallback(struct run *ru, struct sctx *c)
{
	struct cat_node *cn = NULL;
	struct chat_parser *cp = chat_parser_new();
	struct buf data = BUF_INIT, path = BUF_INIT;
	int rc;

	c->man = xcalloc(1, sizeof(*c->man));
	rc = seg_builder_new(&c->fb);
	if (rc == IMDR_OK) {
		struct cat_node *rn = NULL;
		const struct cat_entry *e;

		rc = cat_node_load(ru->r, &c->s->root, &rn);
		if (rc == IMDR_OK && (e = cat_node_find(rn, "conversations", 13)) != NULL &&
		    e->type == CAT_DIR)
			rc = cat_node_load(ru->r, &e->subtree, &cn);
		cat_node_free(rn);
	}
	if (cn)
		c->man->conv = xcalloc(cat_node_count(cn) + 1, sizeof(*c->man->conv));
	for (uint32_t i = 0; rc == IMDR_OK && cn && i < cat_node_count(cn); i++) {
		const struct cat_entry *fe = cat_node_entry(cn, i);
		struct sx_conv *sc;
		struct chat_meta meta;
		int64_t cid;
		const char *p, *end;
		size_t lineno = 0;

		if (fe->type != CAT_DIR)
			continue;
		memset(&meta, 0, sizeof(meta));
		path.len = 0;
		buf_printf(&path, "conversations/%s/meta.json", fe->name);
		if (chat_read_file(ru->r, &c->s->root, buf_cstr(&path), 1 << 20, &data) == IMDR_OK)
			chat_meta_parse(data.data, data.len, &meta);
		err_clear();
		sc = &c->man->conv[c->man->nconv++];
		sc->folder = xstrdup(fe->name);
		sc->key = xstrdup(chat_conv_key(fe->name, &meta));
		chat_meta_free(&meta);
		rc = seg_builder_conv(c->fb, sc->key, &cid);
		path.len = 0;
		buf_printf(&path, "conversations/%s/messages.jsonl", fe->name);
		if (rc == IMDR_OK) {
			rc = chat_read_file(ru->r, &c->s->root, buf_cstr(&path), (size_t)1 << 31, &data);
			if (rc == IMDR_ENOENT) {
				data.len = 0;
				rc = IMDR_OK;
				err_clear();
			}
		}
		p = (const char *)data.data;
		end = p + data.len;
		while (rc == IMDR_OK && p < end) {
			const char *nl = memchr(p, '\n', (size_t)(end - p)), *le = nl ? nl : end;
			struct chat_msg m;

			lineno++;
			if (le > p && chat_parse_msg(cp, p, (size_t)(le - p), &m) == IMDR_OK) {
				rc = seg_builder_add(c->fb, cid, &m, seg_version_hash(p, (size_t)(le - p)));
				sc->messages++;
			} else if (le > p) {
				char what[600];

				snprintf(what, sizeof(what), "%s:%zu", buf_cstr(&path), lineno);
				sev_warn(&ru->o->ev, what, "malformed message line, not searched");
				err_clear();
			}
			p = nl ? nl + 1 : end;
		}
	}
	if (rc == IMDR_OK) {
		const uint8_t *d;
		size_t n;

		rc = seg_builder_finish(c->fb, &d, &n);
	}
	if (rc == IMDR_OK) {
		char msg[256];

		snprintf(msg, sizeof(msg), "snapshot %.8s was made before imdr indexed messages:"
		    " searched its %zu conversations' messages.jsonl directly (slower)",
		    c->s->id, c->man->nconv);
		sev_warn(&ru->o->ev, NULL, msg);
		ru->res->unindexed++;
	}
	cat_node_free(cn);
	chat_parser_free(cp);
	buf_free(&data);
	buf_free(&path);
	return rc;
}

/* users_id: the content identity of a snapshot's users.jsonl (its blob
 * ids), so that a run over many snapshots reads it once. */
static int
users_id(struct run *ru, const struct sctx *c, uint8_t out[32])
{
	struct cat_node *node = NULL;
	const struct cat_entry *e = NULL;
	struct buf ids = BUF_INIT;

	if (cat_resolve(ru->r, &c->s->root, "users.jsonl", &node, &e) != IMDR_OK || e == NULL ||
	    e->type != CAT_FILE) {
		cat_node_free(node);
		err_clear();
		return -1;
	}
	for (uint32_t i = 0; i < e->nchunks; i++) {
		struct blob_ref ref;

		cat_chunk(node, e, i, &ref, NULL);
		buf_append(&ids, ref.id, CRYPTO_ID_LEN);
	}
	crypto_sha256(ids.data ? ids.data : (const uint8_t *)"", ids.len, out);
	buf_free(&ids);
	cat_node_free(node);
	return 0;
}

/* load_users: c's users.jsonl, or (the same content) a copy of prev's. */
static int
load_users(struct run *ru, struct sctx *c, const struct sctx *prev)
{
	struct buf b = BUF_INIT;
	int rc = IMDR_OK;

	c->have_uid = users_id(ru, c, c->uid) == 0;
	if (c->have_uid && prev && prev->have_uid && memcmp(prev->uid, c->uid, 32) == 0) {
		c->users = xcalloc(prev->nusers + 1, sizeof(*c->users));
		for (size_t i = 0; i < prev->nusers; i++) {
			const struct chat_user *u = &prev->users[i];

			c->users[i] = (struct chat_user){ xstrdup(u->id), u->name ? xstrdup(u->name) : NULL,
			    u->real_name ? xstrdup(u->real_name) : NULL,
			    u->email ? xstrdup(u->email) : NULL, u->is_bot, u->deleted };
		}
		c->nusers = prev->nusers;
	} else {
		rc = chat_read_file(ru->r, &c->s->root, "users.jsonl", 256u << 20, &b);
		if (rc == IMDR_OK)
			rc = chat_users_parse(b.data, b.len, &c->users, &c->nusers);
	}
	if (rc == IMDR_ENOENT || rc == IMDR_EFORMAT) {
		err_clear();
		rc = IMDR_OK;	/* names then stay ids */
	}
	buf_free(&b);
	return rc;
}

/* the users of every snapshot of a group, read on a thread of their own
 * while the indexes are read and their segments fetched (from a remote
 * repository these are round trips that need not wait for each other) */
struct users_job {
	struct run *ru;
	pthread_t th;
	int rc;
	char *msg;
};

static void *
users_main(void *arg)
{
	struct users_job *j = arg;

	for (size_t i = 0; i < j->ru->nsx && j->rc == IMDR_OK; i++)
		j->rc = load_users(j->ru, &j->ru->sx[i], i ? &j->ru->sx[i - 1] : NULL);
	if (j->rc)
		j->msg = xstrdup(err_msg(j->rc));
	repo_thread_cleanup();
	return NULL;
}

/* users_join: the users thread's end (when started), its error over rc
 * when rc is none. */
static int
users_join(struct users_job *uj, int started, int rc)
{
	if (started)
		pthread_join(uj->th, NULL);
	if (rc == IMDR_OK && uj->rc)
		rc = err_set(uj->rc, "%s", uj->msg);
	free(uj->msg);
	uj->msg = NULL;
	return rc;
}

/* load_manifest: par_for's item i: snapshot i's index tree, when it has
 * one (load_index does the rest, in order). */
static int
load_manifest(void *ctx, size_t i)
{
	struct run *ru = ctx;
	struct sctx *c = &ru->sx[i];

	if (!c->s->has_search || c->man)
		return IMDR_OK;
	return sx_load(ru->r, &c->s->search, ru->sxc, &c->man);
}

static int
load_index(struct run *ru, struct sctx *c)
{
	int rc = IMDR_OK;

	if (c->s->has_search) {
		if (c->man == NULL)
			rc = sx_load(ru->r, &c->s->search, ru->sxc, &c->man);
	} else
		rc = build_fallback(ru, c);
	if (rc)
		return rc;
	for (size_t i = 0; i < c->man->nconv; i++)
		smap_put(&c->k2c, c->man->conv[i].key, i);
	return IMDR_OK;
}

static size_t
add_dseg(struct run *ru, const uint8_t ident[32], const struct sx_seg *seg,
    struct seg_builder *fb, const struct sctx *c, size_t i)
{
	struct dseg *d;

	for (size_t k = 0; seg && k < ru->nds; k++)
		if (ru->ds[k].seg && memcmp(ru->ds[k].ident, ident, 32) == 0)
			return k;
	if (ru->nds == ru->capds) {
		ru->capds = ru->capds ? ru->capds * 2 : 16;
		ru->ds = xrealloc(ru->ds, ru->capds * sizeof(*ru->ds));
	}
	d = &ru->ds[ru->nds];
	memset(d, 0, sizeof(*d));
	if (ident)
		memcpy(d->ident, ident, 32);
	d->seg = seg;
	d->fb = fb;
	snprintf(d->what, sizeof(d->what), "message index of snapshot %.8s, segment %zu",
	    c->s->id, i);
	return ru->nds++;
}

/* ---- resolving names ---- */

static int
user_matches(const struct chat_user *u, const char *v)
{
	size_t vl = strlen(v);

	if (strcasecmp(u->id, v) == 0 || (u->name && strcasecmp(u->name, v) == 0) ||
	    (u->real_name && strcasecmp(u->real_name, v) == 0) ||
	    (u->email && strcasecmp(u->email, v) == 0))
		return 1;
	if (u->email && strncasecmp(u->email, v, vl) == 0 && u->email[vl] == '@')
		return 1;
	/* any word of the real name: from:ann finds "Ann Lee" */
	if (u->real_name) {
		const char *p = u->real_name;

		while (*p) {
			const char *w = p;

			while (*p && *p != ' ')
				p++;
			if ((size_t)(p - w) == vl && strncasecmp(w, v, vl) == 0)
				return 1;
			while (*p == ' ')
				p++;
		}
	}
	return 0;
}

/* resolve: the JSON arrays of user ids and conversation keys the filters
 * mean in this group of snapshots. */
static void
resolve(struct run *ru)
{
	json_t *users = json_array(), *keys = json_array();
	struct smap seen_u, seen_k;

	memset(&seen_u, 0, sizeof(seen_u));
	memset(&seen_k, 0, sizeof(seen_k));
	for (size_t f = 0; f < ru->q->nfrom; f++) {
		const char *v = ru->q->from[f];
		int any = 0;

		for (size_t i = 0; i < ru->nsx; i++)
			for (size_t k = 0; k < ru->sx[i].nusers; k++) {
				const struct chat_user *u = &ru->sx[i].users[k];

				if (!user_matches(u, v))
					continue;
				any = 1;
				if (!smap_get(&seen_u, u->id, NULL)) {
					smap_put(&seen_u, u->id, 0);
					json_array_append_new(users, json_string(u->id));
				}
			}
		if (!any && !smap_get(&seen_u, v, NULL)) {
			smap_put(&seen_u, v, 0);
			json_array_append_new(users, json_string(v));	/* an id users.jsonl lacks */
		}
	}
	for (size_t f = 0; f < ru->q->nin; f++) {
		const char *v = ru->q->in[f];

		for (size_t i = 0; i < ru->nsx; i++)
			for (size_t k = 0; k < ru->sx[i].man->nconv; k++) {
				const struct sx_conv *cv = &ru->sx[i].man->conv[k];
				size_t sl = chat_folder_slug(cv->folder);

				if (strcasecmp(cv->folder, v) != 0 && strcasecmp(cv->key, v) != 0 &&
				    !(strlen(v) == sl && strncasecmp(cv->folder, v, sl) == 0))
					continue;
				if (!smap_get(&seen_k, cv->key, NULL)) {
					smap_put(&seen_k, cv->key, 0);
					json_array_append_new(keys, json_string(cv->key));
				}
			}
	}
	ru->no_conv = ru->q->nin > 0 && json_array_size(keys) == 0;
	free(ru->users_json);
	free(ru->keys_json);
	ru->users_json = json_dumps(users, JSON_COMPACT);
	ru->keys_json = json_dumps(keys, JSON_COMPACT);
	json_decref(users);
	json_decref(keys);
	smap_free(&seen_u);
	smap_free(&seen_k);
}

/* ---- querying a segment ---- */

static void
fname_fn(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
	const char *files = (const char *)sqlite3_value_text(argv[0]);
	const char *pat = (const char *)sqlite3_value_text(argv[1]);
	int glob, hit = 0;

	(void)argc;
	if (files == NULL || pat == NULL) {
		sqlite3_result_int(ctx, 0);
		return;
	}
	glob = strpbrk(pat, "*?[") != NULL;
	while (*files && !hit) {
		const char *nl = strchr(files, '\n');
		size_t n = nl ? (size_t)(nl - files) : strlen(files);
		char *name = xstrndup(files, n);

		hit = glob ? fnmatch(pat, name, FNM_CASEFOLD) == 0 : strcasestr(name, pat) != NULL;
		free(name);
		files += n + (nl != NULL);
	}
	sqlite3_result_int(ctx, hit);
}

/* match_expr: the FTS5 expression: the query's, and from:'s ids in the
 * user column (so that from: alone reads the index, not every row). */
static char *
match_expr(const struct run *ru)
{
	struct buf b = BUF_INIT;
	json_t *users = NULL;
	size_t nu = 0;

	if (ru->q->nfrom) {
		users = json_loads(ru->users_json, 0, NULL);
		nu = json_array_size(users);
	}
	if (ru->q->fts)
		buf_puts(&b, ru->q->fts);
	if (nu > 0 && nu <= 64) {
		size_t i;
		json_t *v;
		int ok = 1;

		/* only when every id has a token; else the SQL filter alone */
		json_array_foreach(users, i, v) {
			const unsigned char *s = (const unsigned char *)json_string_value(v);
			int tok = 0;

			for (; *s; s++)
				tok |= (*s >= '0' && *s <= '9') || ((*s | 0x20) >= 'a' && (*s | 0x20) <= 'z') ||
				    *s >= 0x80;
			ok &= tok;
		}
		if (ok) {
			if (b.len)
				buf_puts(&b, " AND ");
			buf_puts(&b, "{user} : (");
			json_array_foreach(users, i, v) {
				const char *s = json_string_value(v);

				if (i)
					buf_puts(&b, " OR ");
				buf_putc(&b, '"');
				for (; *s; s++) {
					if (*s == '"')
						buf_putc(&b, '"');
					buf_putc(&b, (uint8_t)*s);
				}
				buf_putc(&b, '"');
			}
			buf_putc(&b, ')');
		}
	}
	json_decref(users);
	if (b.len == 0)
		return NULL;
	{
		char *m = xstrdup(buf_cstr(&b));

		buf_free(&b);
		return m;
	}
}

/* dseg_db: the segment's database, opened once (kept open until the
 * group is done: the fold looks rows up in it again). */
static int
dseg_db(struct run *ru, struct dseg *d, sqlite3 **ret)
{
	int rc;

	if (d->fb) {
		*ret = seg_builder_db(d->fb);
		return IMDR_OK;
	}
	if (d->open == NULL) {
		rc = seg_open(ru->r, d->seg->pieces, d->seg->npieces, d->seg->size, d->what,
		    ru->o->cache_dir, &d->open);
		if (rc)
			return rc;
		sqlite3_create_function(seg_db(d->open), "imdr_fname", 2,
		    SQLITE_UTF8 | SQLITE_DETERMINISTIC, NULL, fname_fn, NULL, NULL);
	}
	*ret = seg_db(d->open);
	return IMDR_OK;
}

static int
query_part(struct run *ru, struct qpart *qp, const char *match)
{
	struct dseg *d = &ru->ds[qp->ds];
	struct seg *conn = d->open;
	sqlite3 *db;
	sqlite3_stmt *st = NULL;
	struct buf sql = BUF_INIT;
	struct cands *cs = &qp->c;
	int64_t t0 = time_mono_ns();
	int rc, step, p = 1;

	rc = dseg_db(ru, d, &db);
	if (rc)
		return rc;
	if (qp->twin == NULL && qp->lo > 1) {
		/* opened here, on the part's own thread */
		rc = seg_open_twin(d->open, &qp->twin);
		if (rc)
			return rc;
		db = seg_db(qp->twin);
		sqlite3_create_function(db, "imdr_fname", 2, SQLITE_UTF8 | SQLITE_DETERMINISTIC,
		    NULL, fname_fn, NULL, NULL);
	}
	if (qp->twin)
		conn = qp->twin;
	if (d->fb)
		sqlite3_create_function(db, "imdr_fname", 2, SQLITE_UTF8 | SQLITE_DETERMINISTIC, NULL,
		    fname_fn, NULL, NULL);
	buf_puts(&sql, "SELECT m.rowid, c.key, m.mid, m.h, m.ts, m.user, m.flags, m.thread, ");
	if (match)
		buf_printf(&sql, "snippet(fts, 0, char(1), char(2), '…', %d), m.files FROM fts"
		    " JOIN msg m ON m.rowid = fts.rowid JOIN conv c ON c.cid = m.cid WHERE fts MATCH ?%d",
		    SNIPPET_TOKENS, p++);
	else if (ru->q->nin && seg_has_runs(db))
		/* in: without words: the conversations' runs of rows */
		buf_puts(&sql, "substr(m.text, 1, 200), m.files FROM conv c JOIN runs r"
		    " ON r.cid = c.cid JOIN msg m ON m.rowid BETWEEN r.first AND r.last WHERE 1");
	else
		buf_puts(&sql, "substr(m.text, 1, 200), m.files FROM msg m JOIN conv c"
		    " ON c.cid = m.cid WHERE 1");
	if (ru->q->nfrom)
		buf_printf(&sql, " AND m.user IN (SELECT value FROM json_each(?%d))", p++);
	if (ru->q->nin)
		buf_printf(&sql, " AND c.key IN (SELECT value FROM json_each(?%d))", p++);
	if (ru->q->has_after)
		buf_printf(&sql, " AND m.ts >= ?%d", p++);
	if (ru->q->has_before)
		buf_printf(&sql, " AND m.ts < ?%d", p++);
	if (ru->q->has_attachment)
		buf_printf(&sql, " AND (m.flags & %d) != 0", SEGF_ATT);
	if (ru->q->nfname)
		buf_printf(&sql, " AND (m.flags & %d) != 0", SEGF_ATT);
	for (size_t i = 0; i < ru->q->nfname; i++)
		buf_printf(&sql, " AND imdr_fname(m.files, ?%d)", p++);
	if (qp->lo > 0)
		/* on the full-text table's rowid, when there is one: FTS5
		 * then seeks each term's doclist to the range */
		buf_printf(&sql, " AND %s.rowid >= ?%d AND %s.rowid <= ?%d", match ? "fts" : "m", p,
		    match ? "fts" : "m", p + 1);
	if (sqlite3_prepare_v2(db, buf_cstr(&sql), -1, &st, NULL) != SQLITE_OK) {
		rc = conn ? seg_error(conn, db, "querying") : seg_sql_error(db, "querying");
		goto out;
	}
	p = 1;
	if (match)
		sqlite3_bind_text(st, p++, match, -1, SQLITE_STATIC);
	if (ru->q->nfrom)
		sqlite3_bind_text(st, p++, ru->users_json, -1, SQLITE_STATIC);
	if (ru->q->nin)
		sqlite3_bind_text(st, p++, ru->keys_json, -1, SQLITE_STATIC);
	if (ru->q->has_after)
		sqlite3_bind_int64(st, p++, ru->q->after_ms);
	if (ru->q->has_before)
		sqlite3_bind_int64(st, p++, ru->q->before_ms);
	for (size_t i = 0; i < ru->q->nfname; i++)
		sqlite3_bind_text(st, p++, ru->q->fname[i], -1, SQLITE_STATIC);
	if (qp->lo > 0) {
		sqlite3_bind_int64(st, p++, qp->lo);
		sqlite3_bind_int64(st, p++, qp->hi);
	}
	while ((step = sqlite3_step(st)) == SQLITE_ROW) {
		struct cand *c;

		if (cs->n == cs->cap) {
			cs->cap = cs->cap ? cs->cap * 2 : 64;
			cs->v = xrealloc(cs->v, cs->cap * sizeof(*cs->v));
		}
		c = &cs->v[cs->n++];
		memset(c, 0, sizeof(*c));
		c->rowid = sqlite3_column_int64(st, 0);
		c->key = xstrdup((const char *)sqlite3_column_text(st, 1));
		c->mid = xstrdup((const char *)sqlite3_column_text(st, 2));
		c->h = sqlite3_column_int64(st, 3);
		c->ts = sqlite3_column_int64(st, 4);
		c->user = xstrdup((const char *)sqlite3_column_text(st, 5));
		c->flags = sqlite3_column_int(st, 6);
		if (sqlite3_column_type(st, 7) == SQLITE_TEXT)
			c->thread = xstrdup((const char *)sqlite3_column_text(st, 7));
		c->snippet = xstrdup(sqlite3_column_text(st, 8) ? (const char *)sqlite3_column_text(st, 8) : "");
		c->files = xstrdup(sqlite3_column_text(st, 9) ? (const char *)sqlite3_column_text(st, 9) : "");
		c->first = c->last = -1;
	}
	if (step != SQLITE_DONE) {
		if (conn)
			rc = seg_error(conn, db, "querying");
		else
			rc = seg_sql_error(db, "querying");
		/* a query FTS5 refuses is the user's mistake, not the index's */
		if (strstr(err_msg(rc), "fts5: syntax error") != NULL)
			rc = err_set(IMDR_EINVAL, "query: FTS5 cannot read %s", match);
		goto out;
	}
	rc = IMDR_OK;
	if (qp->lo > 0)
		debugf("search: %s, rows %lld..%lld: %zu found in %.1f ms, %llu pieces read", d->what,
		    (long long)qp->lo, (long long)(qp->hi == INT64_MAX ? -1 : qp->hi), cs->n,
		    (double)(time_mono_ns() - t0) / 1e6, (unsigned long long)seg_piece_reads(conn));
out:
	sqlite3_finalize(st);
	buf_free(&sql);
	return rc;
}

struct query_all {
	struct run *ru;
	const char *match;
	struct qpart *parts;
};

/* query_one: par_for's item i: part i queried (no connection is shared
 * between parts, so threads may query several at once). */
static int
query_one(void *ctx, size_t i)
{
	struct query_all *qa = ctx;

	if (sev_cancelled(&qa->ru->o->ev))
		return err_set(IMDR_EINTR, "interrupted");
	return query_part(qa->ru, &qa->parts[i], qa->match);
}

static int
ncores(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	return n < 1 ? 1 : n > SPLIT_MAX ? SPLIT_MAX : (int)n;
}

/* plan_parts: the queries of every segment: a large stored one in one
 * rowid range a core (its rowids are 1..rows), the others whole. */
static struct qpart *
plan_parts(const struct run *ru, int cores, size_t *ret_n)
{
	struct qpart *v = NULL;
	size_t n = 0;

	for (size_t i = 0; i < ru->nds; i++) {
		const struct dseg *d = &ru->ds[i];
		uint64_t rows = d->seg ? d->seg->rows : 0;
		int k = d->open && rows >= SPLIT_ROWS ? cores : 1;

		v = xrealloc(v, (n + (size_t)k) * sizeof(*v));
		for (int j = 0; j < k; j++) {
			struct qpart *qp = &v[n++];

			memset(qp, 0, sizeof(*qp));
			qp->ds = i;
			if (k > 1) {
				qp->lo = (int64_t)(rows * (uint64_t)j / (uint64_t)k) + 1;
				/* the last part takes whatever lies beyond */
				qp->hi = j + 1 < k ? (int64_t)(rows * (uint64_t)(j + 1) / (uint64_t)k) :
				    INT64_MAX;
			}
		}
	}
	*ret_n = n;
	return v;
}

/* join_parts: each segment's rows, its parts' in rowid order. */
static void
join_parts(struct run *ru, struct qpart *parts, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		struct cands *to = &ru->ds[parts[i].ds].c, *from = &parts[i].c;

		if (to->v == NULL) {
			*to = *from;
		} else if (from->n) {
			if (to->n + from->n > to->cap) {
				to->cap = to->n + from->n;
				to->v = xrealloc(to->v, to->cap * sizeof(*to->v));
			}
			memcpy(to->v + to->n, from->v, from->n * sizeof(*from->v));
			to->n += from->n;
			free(from->v);
		} else
			free(from->v);
		memset(from, 0, sizeof(*from));
	}
}

/* ---- folding rows into messages ---- */

struct msgk {
	size_t ds, ci;			/* the representative: latest seen */
	int64_t first_ns, last_ns;
	long first, last;
	int versions;
};

/* live_version: flags of (key, mid) live in snapshot c, or -1. */
static int
live_version(struct run *ru, struct sctx *c, const char *key, const char *mid)
{
	int flags = -1;

	for (size_t i = 0; c->man && i < c->man->nseg + (c->fb != NULL) && flags < 0; i++) {
		const struct sx_seg *s = i < c->man->nseg ? &c->man->seg[i] : NULL;
		struct dseg *d = &ru->ds[s ? c->dseg[i] : c->fb_dseg];
		sqlite3_stmt *st = NULL;
		sqlite3 *db;

		if (dseg_db(ru, d, &db) != IMDR_OK) {
			err_clear();
			continue;
		}
		if (seg_prepare_key_rows(db, "m.rowid, m.flags", "m.mid=?2", &st) == SQLITE_OK) {
			sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
			sqlite3_bind_text(st, 2, mid, -1, SQLITE_STATIC);
			while (sqlite3_step(st) == SQLITE_ROW)
				if (s == NULL || !sx_dead(s, sqlite3_column_int64(st, 0)))
					flags = sqlite3_column_int(st, 1);
		}
		sqlite3_finalize(st);
	}
	return flags;
}

static int
cmp_hit(const void *a, const void *b)
{
	const struct search_hit *x = a, *y = b;
	int c = strcmp(x->source, y->source);

	if (c)
		return c;
	if (x->ts_ms != y->ts_ms)
		return x->ts_ms < y->ts_ms ? -1 : 1;
	if ((c = strcmp(x->conv_key, y->conv_key)) != 0)
		return c;
	return strcmp(x->id, y->id);
}

static void
add_hit(struct run *ru, const struct cand *cd, const struct msgk *mk)
{
	struct search_result *res = ru->res;
	struct sctx *c = &ru->sx[mk->last];
	const struct chat_user *u = chat_user_find(c->users, c->nusers, cd->user);
	struct search_hit *h;
	size_t ci;
	const char *folder = cd->key;

	if (smap_get(&c->k2c, cd->key, &ci))
		folder = c->man->conv[ci].folder;
	if (res->n == ru->hits_cap) {
		/* doubling: 77 000 hits grown one at a time were copied
		 * over and over */
		ru->hits_cap = ru->hits_cap ? ru->hits_cap * 2 : 64;
		res->hits = xrealloc(res->hits, ru->hits_cap * sizeof(*res->hits));
	}
	h = &res->hits[res->n++];
	memset(h, 0, sizeof(*h));
	h->source = xstrdup(c->s->source);
	snprintf(h->snapshot, sizeof(h->snapshot), "%s", c->s->id);
	h->snapshot_ns = c->s->time_ns;
	h->conversation = xstrdup(folder);
	h->conv_key = xstrdup(cd->key);
	h->id = xstrdup(cd->mid);
	h->ts_ms = cd->ts;
	h->user = xstrdup(cd->user);
	h->user_name = u ? xstrdup(chat_user_display(u)) : NULL;
	h->snippet = xstrdup(cd->snippet);
	h->thread = cd->thread ? xstrdup(cd->thread) : NULL;
	h->files = xstrdup(cd->files);
	h->has_attachment = (cd->flags & SEGF_ATT) != 0;
	h->edited_in_export = (cd->flags & SEGF_EDITED) != 0;
	h->deleted_in_export = (cd->flags & SEGF_DELETED) != 0;
	h->mount_path = xasprintf("snapshots/%s/conversations/%s/messages.jsonl", c->display, folder);
	h->version = cd->h;
	snprintf(h->first_seen, sizeof(h->first_seen), "%s", ru->sx[mk->first].s->id);
	snprintf(h->last_seen, sizeof(h->last_seen), "%s", c->s->id);
	h->first_seen_ns = ru->sx[mk->first].s->time_ns;
	h->last_seen_ns = c->s->time_ns;
	h->versions = mk->versions;
	h->status = SEARCH_PRESENT;
	if (ru->o->all && (size_t)mk->last != ru->nsx - 1) {
		int flags = live_version(ru, &ru->sx[ru->nsx - 1], cd->key, cd->mid);

		h->status = flags < 0 || (flags & SEGF_DELETED) ? SEARCH_DELETED : SEARCH_EDITED;
	}
}

/* fold: mark where each row is live, fold rows into messages, add hits. */
static void
fold(struct run *ru)
{
	struct smap msgs;
	struct msgk *mk = NULL;
	size_t nmk = 0, capmk = 0;
	struct buf k = BUF_INIT;

	memset(&msgs, 0, sizeof(msgs));
	for (size_t i = 0; i < ru->nsx; i++) {
		struct sctx *c = &ru->sx[i];

		for (size_t s = 0; s < c->man->nseg + (c->fb != NULL); s++) {
			struct dseg *d = &ru->ds[s < c->man->nseg ? c->dseg[s] : c->fb_dseg];
			const struct sx_seg *ss = s < c->man->nseg ? &c->man->seg[s] : NULL;

			for (size_t j = 0; j < d->c.n; j++) {
				struct cand *cd = &d->c.v[j];

				if (ss && sx_dead(ss, cd->rowid))
					continue;
				if (cd->first < 0)
					cd->first = (long)i;
				cd->last = (long)i;
				cd->nseen++;
			}
		}
	}
	for (size_t di = 0; di < ru->nds; di++)
		for (size_t j = 0; j < ru->ds[di].c.n; j++) {
			struct cand *cd = &ru->ds[di].c.v[j];
			size_t m;

			if (cd->first < 0)
				continue;
			k.len = 0;
			buf_puts(&k, cd->key);
			buf_putc(&k, '\x1f');
			buf_puts(&k, cd->mid);
			if (!smap_get(&msgs, buf_cstr(&k), &m)) {
				if (nmk == capmk) {
					capmk = capmk ? capmk * 2 : 64;
					mk = xrealloc(mk, capmk * sizeof(*mk));
				}
				mk[nmk] = (struct msgk){ di, j, 0, 0, cd->first, cd->last, 0 };
				smap_put(&msgs, (const char *)k.data, nmk);
				m = nmk++;
			}
			mk[m].versions++;
			if (cd->first < mk[m].first)
				mk[m].first = cd->first;
			if (cd->last > mk[m].last ||
			    (cd->last == mk[m].last && cd->ts > ru->ds[mk[m].ds].c.v[mk[m].ci].ts)) {
				mk[m].last = cd->last;
				mk[m].ds = di;
				mk[m].ci = j;
			}
		}
	for (size_t m = 0; m < nmk; m++)
		add_hit(ru, &ru->ds[mk[m].ds].c.v[mk[m].ci], &mk[m]);
	free(mk);
	smap_free(&msgs);
	buf_free(&k);
}

/* ---- one group: the snapshots of one source ---- */

static void
free_group(struct run *ru)
{
	for (size_t i = 0; i < ru->nsx; i++) {
		struct sctx *c = &ru->sx[i];

		snapshot_free(c->s);
		sx_free(c->man);
		seg_builder_free(c->fb);
		chat_users_free(c->users, c->nusers);
		smap_free(&c->k2c);
		free(c->dseg);
	}
	free(ru->sx);
	ru->sx = NULL;
	ru->nsx = 0;
	for (size_t i = 0; i < ru->nds; i++) {
		for (size_t j = 0; j < ru->ds[i].c.n; j++) {
			struct cand *cd = &ru->ds[i].c.v[j];

			free(cd->key);
			free(cd->mid);
			free(cd->user);
			free(cd->thread);
			free(cd->snippet);
			free(cd->files);
		}
		free(ru->ds[i].c.v);
		if (ru->ds[i].open)
			ru->res->pieces += seg_piece_reads(ru->ds[i].open);
		seg_close(ru->ds[i].open);
	}
	free(ru->ds);
	ru->ds = NULL;
	ru->nds = ru->capds = 0;
}

/* in_full: the position of sn in the whole sorted list (for its name in a
 * mount, which depends on every source's snapshots). */
static size_t
in_full(const struct snapshot_name *full, size_t nfull, const struct snapshot_name *sn)
{
	size_t lo = 0, hi = nfull;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = full[mid].time_ns != sn->time_ns ? (full[mid].time_ns < sn->time_ns ? -1 : 1) :
		    strcmp(full[mid].id, sn->id);

		if (c == 0)
			return mid;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return 0;
}

/* search_group: the snapshots list[idx[0..n)] (one source, oldest first). */
static int
search_group(struct run *ru, const struct snapshot_name *list, const size_t *idx, size_t n,
    const struct snapshot_name *full, size_t nfull)
{
	char *match = NULL;
	int rc = IMDR_OK, started = 0;
	int64_t t0 = time_mono_ns(), t1 = t0, t2 = t0, t3 = t0, tq = t0, t4 = t0;
	struct users_job uj = { ru, 0, IMDR_OK, NULL }, *pending = NULL;

	ru->sx = xcalloc(n, sizeof(*ru->sx));
	for (size_t i = 0; i < n && rc == IMDR_OK; i++) {
		struct sctx *c = &ru->sx[ru->nsx];

		rc = snapshot_load(ru->r, list[idx[i]].name, &c->s);
		if (rc)
			break;
		if (!chat_is_chat_format(c->s->format)) {
			snapshot_free(c->s);
			c->s = NULL;
			continue;
		}
		display_name(full, nfull, in_full(full, nfull, &list[idx[i]]), c->display);
		ru->nsx++;
	}
	if (rc == IMDR_OK && ru->nsx > 0) {
		started = pthread_create(&uj.th, NULL, users_main, &uj) == 0;

		if (!started)
			users_main(&uj);
		/* the snapshots' index trees (a node of every piece of every
		 * segment, index.json, dead lists) a few at a time: --all reads
		 * one per snapshot */
		if (ru->nsx > 1) {
			struct repo_traits tr;

			repo_traits(ru->r, &tr);
			rc = par_for(ru->nsx, tr.remote ? tr.concurrency : 2, load_manifest, ru);
		}
		for (size_t i = 0; i < ru->nsx && rc == IMDR_OK; i++) {
			struct sctx *c = &ru->sx[i];

			rc = load_index(ru, c);
			if (rc)
				break;
			c->dseg = xcalloc(c->man->nseg + 1, sizeof(*c->dseg));
			for (size_t s = 0; s < c->man->nseg; s++)
				c->dseg[s] = add_dseg(ru, c->man->seg[s].ident, &c->man->seg[s], NULL, c, s);
			if (c->fb)
				c->fb_dseg = add_dseg(ru, NULL, NULL, c->fb, c, 0);
		}
		/* open (and, remote, fetch) the segments while the users come */
		t1 = time_mono_ns();
		for (size_t i = 0; i < ru->nds && rc == IMDR_OK; i++) {
			sqlite3 *db;

			rc = dseg_db(ru, &ru->ds[i], &db);
		}
		t2 = time_mono_ns();
		/* from: needs the users before the query; otherwise they are
		 * only names for the hits, and come while it runs */
		if (ru->q->nfrom || rc)
			rc = users_join(&uj, started, rc);
		else
			pending = &uj;
		t3 = time_mono_ns();
	}
	if (rc || ru->nsx == 0)
		goto out;
	ru->res->snapshots += ru->nsx;
	resolve(ru);
	if (ru->no_conv)
		goto out;
	match = match_expr(ru);
	{
		/* each segment is a database of its own, a large one queried
		 * in parts: one a core at a time (--all queries one per day
		 * or so) */
		int cores = ncores();
		size_t np;
		struct qpart *parts = plan_parts(ru, cores, &np);
		struct query_all qa = { ru, match, parts };

		rc = par_for(np, cores, query_one, &qa);
		join_parts(ru, parts, np);
		for (size_t i = 0; i < np; i++) {
			if (parts[i].twin)
				ru->res->pieces += seg_piece_reads(parts[i].twin);
			seg_close(parts[i].twin);
			free(parts[i].c.v);
		}
		free(parts);
		ru->res->segments += ru->nds;
	}
	tq = time_mono_ns();
	if (pending) {
		rc = users_join(pending, started, rc);
		pending = NULL;
	}
	t4 = time_mono_ns();
	if (rc == IMDR_OK)
		fold(ru);
	/* users waited for: before the query (from:) or after it */
	debugf("search: %zu snapshots: indexes read in %.1f ms, segments opened in %.1f ms,"
	    " users waited for %.1f ms, queried in %.1f ms, folded in %.1f ms", ru->nsx,
	    (double)(t1 - t0) / 1e6, (double)(t2 - t1) / 1e6,
	    (double)(t3 - t2 + t4 - tq) / 1e6, (double)(tq - t3) / 1e6,
	    (double)(time_mono_ns() - t4) / 1e6);
out:
	if (pending)
		rc = users_join(pending, started, rc);
	free(match);
	free_group(ru);
	return rc;
}

int
search_run(struct repo *r, const struct search_opts *o, struct search_result *ret)
{
	struct run ru;
	struct snapshot_name *list = NULL, *full = NULL;
	size_t n = 0, *idx = NULL, nidx = 0, nfull = 0;
	char tag[SNAPSHOT_TAG_HEX + 1] = "";
	int rc;

	memset(ret, 0, sizeof(*ret));
	memset(&ru, 0, sizeof(ru));
	ru.r = r;
	ru.o = o;
	ru.res = ret;
	rc = squery_parse(o->query ? o->query : "", &ru.q);
	if (rc)
		return rc;
	if (ru.q->fts == NULL && ru.q->nfrom == 0 && ru.q->nin == 0 && !ru.q->has_after &&
	    !ru.q->has_before && !ru.q->has_attachment && ru.q->nfname == 0) {
		squery_free(ru.q);
		return err_set(IMDR_EINVAL, "query: nothing to search for (words, \"phrases\","
		    " prefix*, from:, in:, before:, after:, has:attachment, filename:)");
	}
	ru.sxc = sx_cache_new();
	rc = snapshot_list(r, &list, &n);
	if (rc)
		goto out;
	nfull = n;
	full = xmalloc((n ? n : 1) * sizeof(*full));
	if (n)
		memcpy(full, list, n * sizeof(*full));
	if (o->source) {
		snapshot_source_tag(r, o->source, tag);
		n = snapshot_filter_source(list, n, tag);
		if (n == 0) {
			rc = err_set(IMDR_ENOENT, "no snapshot of source %s", o->source);
			goto out;
		}
	}
	idx = xcalloc(n + 1, sizeof(*idx));
	if (o->snapshot && !o->all) {
		struct snapshot_name *sub = xcalloc(n + 1, sizeof(*sub));
		size_t ns = 0, pick;

		for (size_t i = 0; i < n; i++)
			if (!*tag || strcmp(list[i].tag, tag) == 0)
				sub[ns++] = list[i];
		rc = snapshot_resolve_name(sub, ns, o->snapshot, &pick);
		if (rc == IMDR_OK)
			for (size_t i = 0; i < n; i++)
				if (strcmp(list[i].name, sub[pick].name) == 0)
					idx[nidx++] = i;
		free(sub);
		if (rc == IMDR_OK)
			rc = search_group(&ru, list, idx, nidx, full, nfull);
		goto out;
	}
	/* by source: each source's newest, or (--all) every one */
	{
		char (*tags)[SNAPSHOT_TAG_HEX + 1] = xcalloc(n + 1, sizeof(*tags));
		size_t ntags = 0;

		for (size_t i = 0; i < n; i++) {
			size_t t;

			if (*tag && strcmp(list[i].tag, tag) != 0)
				continue;
			for (t = 0; t < ntags && strcmp(tags[t], list[i].tag) != 0; t++)
				;
			if (t == ntags)
				snprintf(tags[ntags++], sizeof(tags[0]), "%s", list[i].tag);
		}
		for (size_t t = 0; t < ntags && rc == IMDR_OK; t++) {
			nidx = 0;
			for (size_t i = 0; i < n; i++)
				if (strcmp(list[i].tag, tags[t]) == 0)
					idx[nidx++] = i;
			if (!o->all && nidx > 0) {
				idx[0] = idx[nidx - 1];
				nidx = 1;
			}
			rc = search_group(&ru, list, idx, nidx, full, nfull);
		}
		free(tags);
	}
out:
	if (rc == IMDR_OK && ret->n > 1)
		qsort(ret->hits, ret->n, sizeof(*ret->hits), cmp_hit);
	debugf("search: %zu hits, %llu snapshots, %llu segments, %llu index pieces read",
	    ret->n, (unsigned long long)ret->snapshots, (unsigned long long)ret->segments,
	    (unsigned long long)ret->pieces);
	if (rc) {
		search_result_free(ret);
		memset(ret, 0, sizeof(*ret));
	}
	free(ru.users_json);
	free(ru.keys_json);
	squery_free(ru.q);
	sx_cache_free(ru.sxc);
	free(idx);
	free(list);
	free(full);
	return rc;
}

void
search_result_free(struct search_result *res)
{
	for (size_t i = 0; res && i < res->n; i++) {
		struct search_hit *h = &res->hits[i];

		free(h->source);
		free(h->conversation);
		free(h->conv_key);
		free(h->id);
		free(h->user);
		free(h->user_name);
		free(h->snippet);
		free(h->thread);
		free(h->files);
		free(h->mount_path);
	}
	if (res)
		free(res->hits);
}
