/* diff — see diff.h.
 *
 * The tree diff comes first, streamed to the caller; it notes every
 * conversation whose messages.jsonl was added, removed or changed. Then
 * each of those is compared message by message: the earlier file's lines
 * into a table by message id (memory follows one conversation), the later
 * file's lines looked up in it. */
#include "engine/diff.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "catalog/catalog.h"
#include "lib/array.h"
#include "lib/err.h"
#include "lib/hash.h"
#include "search/chat.h"

struct convch {
	char *folder;
	int in_a, in_b;
	char *other;		/* the paired folder of a rename (in a) */
	int gone;		/* merged into its pair */
};

struct dctx {
	struct repo *r;
	const struct snapshot *a, *b;
	const struct diff_opts *o;
	struct diff_result *res;
	struct convch *cv;
	size_t ncv, capcv;
};

/* conv_file: the folder of "conversations/<folder>/messages.jsonl" */
static char *
conv_file(const char *path)
{
	const char *p, *slash;

	if (strncmp(path, "conversations/", 14) != 0)
		return NULL;
	p = path + 14;
	slash = strchr(p, '/');
	if (slash == NULL || slash == p || strcmp(slash, "/messages.jsonl") != 0)
		return NULL;
	return xstrndup(p, (size_t)(slash - p));
}

static int
on_entry(void *vctx, const struct cat_diff_entry *d)
{
	struct dctx *c = vctx;
	const struct cat_entry *e = d->b ? d->b : d->a;
	struct diff_file f;
	char *folder;

	f.path = d->path;
	f.change = d->kind == CAT_DIFF_ADDED ? DIFF_ADDED : d->kind == CAT_DIFF_REMOVED ?
	    DIFF_REMOVED : DIFF_CHANGED;
	f.is_dir = e->type == CAT_DIR;
	f.what = (d->what & CAT_CHANGED_CONTENT ? DIFF_CONTENT : 0) |
	    (d->what & CAT_CHANGED_MODE ? DIFF_MODE : 0) | (d->what & CAT_CHANGED_MTIME ? DIFF_MTIME : 0);
	f.size_before = d->a ? d->a->size : 0;
	f.size_after = d->b ? d->b->size : 0;
	if (f.change == DIFF_ADDED)
		c->res->added++;
	else if (f.change == DIFF_REMOVED)
		c->res->removed++;
	else
		c->res->changed++;
	if (ev_cancelled(&c->o->ev))
		return err_set(IMDR_EINTR, "interrupted");
	if (!c->o->no_messages && e->type == CAT_FILE && (d->kind != CAT_DIFF_CHANGED ||
	    (d->what & CAT_CHANGED_CONTENT)) && (folder = conv_file(d->path)) != NULL) {
		struct convch *ch = ARRAY_PUSH(c->cv, c->ncv, c->capcv);

		memset(ch, 0, sizeof(*ch));
		ch->folder = folder;
		ch->in_a = d->a != NULL;
		ch->in_b = d->b != NULL;
	}
	return c->o->file ? c->o->file(c->o->ctx, &f) : IMDR_OK;
}

/* ---- message level ---- */

struct amsg {
	char *id, *text, *user;
	int64_t ts, h, edited;
	int deleted, seen;
};

struct users {
	struct chat_user *u;
	size_t n;
	int loaded;
};

static const char *
display(struct users *us, const char *id)
{
	const struct chat_user *u = chat_user_find(us->u, us->n, id);

	return u ? chat_user_display(u) : NULL;
}

static char *
meta_id(struct repo *r, const struct snapshot *s, const char *folder)
{
	struct buf b = BUF_INIT;
	struct chat_meta m;
	char *path = xasprintf("conversations/%s/meta.json", folder), *id = NULL;

	if (chat_read_file(r, &s->root, path, 1 << 20, &b) == IMDR_OK &&
	    chat_meta_parse(b.data, b.len, &m) == IMDR_OK) {
		if (m.id && *m.id)
			id = xstrdup(m.id);
		chat_meta_free(&m);
	}
	err_clear();
	buf_free(&b);
	free(path);
	return id;
}

/* pair_renames: a conversation removed under one folder and added under
 * another with the same id was renamed. */
static void
pair_renames(struct dctx *c)
{
	for (size_t i = 0; i < c->ncv; i++) {
		char *ida;

		if (!(c->cv[i].in_a && !c->cv[i].in_b) || c->cv[i].gone)
			continue;
		ida = meta_id(c->r, c->a, c->cv[i].folder);
		for (size_t k = 0; ida && k < c->ncv; k++) {
			char *idb;

			if (!(c->cv[k].in_b && !c->cv[k].in_a) || c->cv[k].other)
				continue;
			idb = meta_id(c->r, c->b, c->cv[k].folder);
			if (idb && strcmp(ida, idb) == 0) {
				c->cv[k].other = xstrdup(c->cv[i].folder);
				c->cv[k].in_a = 1;
				c->cv[i].gone = 1;
				free(idb);
				break;
			}
			free(idb);
		}
		free(ida);
	}
}

struct amap {
	struct amsg *v;
	size_t n, cap;
	size_t *slot;		/* open addressing over v, by id */
	size_t nslot;
};

static void
amap_free(struct amap *m)
{
	for (size_t i = 0; i < m->n; i++) {
		free(m->v[i].id);
		free(m->v[i].text);
		free(m->v[i].user);
	}
	free(m->v);
	free(m->slot);
	memset(m, 0, sizeof(*m));
}

static struct amsg *
amap_find(struct amap *m, const char *id)
{
	if (m->nslot == 0)
		return NULL;
	for (size_t j = (size_t)hash_keyed_str(id) & (m->nslot - 1); m->slot[j];
	    j = (j + 1) & (m->nslot - 1))
		if (strcmp(m->v[m->slot[j] - 1].id, id) == 0)
			return &m->v[m->slot[j] - 1];
	return NULL;
}

static void
amap_index(struct amap *m)
{
	m->nslot = 16;
	while (m->nslot < m->n * 2 + 2)
		m->nslot *= 2;
	m->slot = xcalloc(m->nslot, sizeof(*m->slot));
	for (size_t i = 0; i < m->n; i++) {
		size_t j = (size_t)hash_keyed_str(m->v[i].id) & (m->nslot - 1);

		while (m->slot[j])
			j = (j + 1) & (m->nslot - 1);
		m->slot[j] = i + 1;
	}
}

static int
read_msgs(struct dctx *c, const struct snapshot *s, const char *folder, struct amap *out)
{
	struct chat_parser *cp = chat_parser_new();
	struct buf b = BUF_INIT;
	char *path = xasprintf("conversations/%s/messages.jsonl", folder);
	const char *p, *end;
	int rc;

	rc = chat_read_file(c->r, &s->root, path, (size_t)1 << 31, &b);
	p = (const char *)b.data;
	end = p + b.len;
	while (rc == IMDR_OK && p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p)), *le = nl ? nl : end;
		struct chat_msg m;

		if (le > p && chat_parse_msg(cp, p, (size_t)(le - p), &m) == IMDR_OK) {
			struct amsg *a = ARRAY_PUSH(out->v, out->n, out->cap);

			a->id = xstrdup(m.id);
			a->text = xstrdup(m.text);
			a->user = xstrdup(m.user);
			a->ts = m.ts_ms;
			a->edited = m.edited_ms;
			a->deleted = m.deleted;
			a->seen = 0;
			/* the line's own hash: any change at all */
			{
				uint8_t sum[32];

				crypto_sha256(p, (size_t)(le - p), sum);
				memcpy(&a->h, sum, sizeof(a->h));
			}
		} else if (le > p) {
			char what[700];

			snprintf(what, sizeof(what), "snapshot %.8s: %s", s->id, path);
			ev_warn(&c->o->ev, what, "a malformed message line, left out of the diff");
		}
		err_clear();
		p = nl ? nl + 1 : end;
	}
	chat_parser_free(cp);
	buf_free(&b);
	free(path);
	if (rc == IMDR_OK)
		amap_index(out);
	return rc;
}

static int
diff_conv(struct dctx *c, struct convch *ch, struct users *ua, struct users *ub)
{
	struct amap ma, mb;
	struct diff_msg *nw = NULL, *ed = NULL, *dl = NULL;
	size_t nnw = 0, cnw = 0, ned = 0, ced = 0, ndl = 0, cdl = 0;
	struct diff_conv dc;
	int rc = IMDR_OK;

	memset(&ma, 0, sizeof(ma));
	memset(&mb, 0, sizeof(mb));
	memset(&dc, 0, sizeof(dc));
	if (ch->in_a)
		rc = read_msgs(c, c->a, ch->other ? ch->other : ch->folder, &ma);
	if (rc == IMDR_OK && ch->in_b)
		rc = read_msgs(c, c->b, ch->folder, &mb);
	for (size_t i = 0; rc == IMDR_OK && i < mb.n; i++) {
		struct amsg *bm = &mb.v[i], *am = amap_find(&ma, bm->id);
		struct diff_msg m = { bm->id, bm->ts, bm->user, display(ub, bm->user), bm->text, NULL };

		if (am == NULL) {
			*ARRAY_PUSH(nw, nnw, cnw) = m;
			continue;
		}
		am->seen = 1;
		if (am->h == bm->h)
			continue;
		if (bm->deleted && !am->deleted) {
			m.text = am->text;
			*ARRAY_PUSH(dl, ndl, cdl) = m;
		} else if (strcmp(am->text, bm->text) != 0 || am->edited != bm->edited) {
			m.before = am->text;
			*ARRAY_PUSH(ed, ned, ced) = m;
		} else {
			dc.other++;
		}
	}
	for (size_t i = 0; rc == IMDR_OK && i < ma.n; i++) {
		struct amsg *am = &ma.v[i];

		if (!am->seen)
			*ARRAY_PUSH(dl, ndl, cdl) = (struct diff_msg){ am->id, am->ts, am->user,
			    display(ua, am->user), am->text, NULL };
	}
	if (rc == IMDR_OK && (nnw || ned || ndl || dc.other)) {
		dc.conversation = ch->folder;
		dc.before = ch->other;
		dc.added = !ch->in_a;
		dc.removed = !ch->in_b;
		dc.new_msgs = nw;
		dc.nnew = nnw;
		dc.edited = ed;
		dc.nedited = ned;
		dc.deleted = dl;
		dc.ndeleted = ndl;
		c->res->conversations++;
		c->res->msgs_new += nnw;
		c->res->msgs_edited += ned;
		c->res->msgs_deleted += ndl;
		c->res->msgs_other += dc.other;
		if (c->o->conversation)
			rc = c->o->conversation(c->o->ctx, &dc);
	}
	free(nw);
	free(ed);
	free(dl);
	amap_free(&ma);
	amap_free(&mb);
	return rc;
}

static void
load_users(struct repo *r, const struct snapshot *s, struct users *u)
{
	struct buf b = BUF_INIT;

	if (chat_read_file(r, &s->root, "users.jsonl", 256u << 20, &b) == IMDR_OK)
		chat_users_parse(b.data, b.len, &u->u, &u->n);
	err_clear();
	buf_free(&b);
}

static int
cmp_conv(const void *x, const void *y)
{
	return strcmp(((const struct convch *)x)->folder, ((const struct convch *)y)->folder);
}

int
diff_run(struct repo *r, const struct snapshot *a, const struct snapshot *b,
    const struct diff_opts *o, struct diff_result *ret)
{
	struct dctx c = { r, a, b, o, ret, NULL, 0, 0 };
	struct cat_diff_stats st;
	struct users ua = { NULL, 0, 0 }, ub = { NULL, 0, 0 };
	int rc;

	memset(ret, 0, sizeof(*ret));
	rc = cat_diff(r, &a->root, &b->root, on_entry, &c, &st);
	if (rc == IMDR_OK) {
		ret->nodes_loaded = st.nodes_loaded;
		ret->subtrees_skipped = st.subtrees_skipped;
	}
	if (rc == IMDR_OK && c.ncv > 0) {
		pair_renames(&c);
		qsort(c.cv, c.ncv, sizeof(*c.cv), cmp_conv);
		load_users(r, a, &ua);
		load_users(r, b, &ub);
		for (size_t i = 0; rc == IMDR_OK && i < c.ncv; i++) {
			if (c.cv[i].gone)
				continue;
			if (ev_cancelled(&o->ev))
				rc = err_set(IMDR_EINTR, "interrupted");
			else
				rc = diff_conv(&c, &c.cv[i], &ua, &ub);
		}
	}
	for (size_t i = 0; i < c.ncv; i++) {
		free(c.cv[i].folder);
		free(c.cv[i].other);
	}
	free(c.cv);
	chat_users_free(ua.u, ua.n);
	chat_users_free(ub.u, ub.n);
	return rc;
}
