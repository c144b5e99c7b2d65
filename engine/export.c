/* export — see export.h.
 *
 * Selection: the snapshots (one, or every one of the source with --all)
 * are read oldest first; in each, every conversation that passes
 * --conversation is read unless its messages.jsonl is the one read last
 * time (then its messages are just seen again), and every message that
 * passes --from/--to and the query (the set of messages search found, in
 * any version) is kept: its latest line, each text it had, and the first
 * and last snapshot that held it. Writing: conversations in folder order,
 * messages in time order; attachments stream from the snapshot that
 * holds the latest version; custody.json last, over everything written. */
#include "engine/export.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <archive.h>
#include <archive_entry.h>
#include <jansson.h>

#include "catalog/catalog.h"
#include "engine/export_impl.h"
#include "engine/trail.h"
#include "ingest/archive_dl.h"
#include "lib/array.h"
#include "lib/err.h"
#include "lib/hex.h"
#include "lib/timefmt.h"
#include "repo/audit.h"
#include "repo/crypto.h"
#include "repo/snapshot.h"
#include "search/chat.h"
#include "search/search.h"

#define MAX_LINE_FILE ((size_t)1 << 31)

/* ---- helpers the writers share ---- */

const char *
xrun_user(const struct xrun *x, size_t s, const char *id)
{
	const struct chat_user *u = chat_user_find(x->src[s].users, x->src[s].nusers, id);

	return u ? chat_user_display(u) : NULL;
}

char *
xrun_att_path(const char *folder, const char *path)
{
	char *parts[64];
	size_t n = 0;
	char *buf, *tok, *save = NULL;
	struct buf out = BUF_INIT;

	if (path == NULL || *path == '\0' || *path == '/')
		return NULL;
	buf = xasprintf("conversations/%s/%s", folder, path);
	for (tok = strtok_r(buf, "/", &save); tok; tok = strtok_r(NULL, "/", &save)) {
		if (strcmp(tok, ".") == 0)
			continue;
		if (strcmp(tok, "..") == 0) {
			if (n == 0) {
				free(buf);
				return NULL;
			}
			n--;
			continue;
		}
		if (n == 64) {
			free(buf);
			return NULL;
		}
		parts[n++] = tok;
	}
	if (n < 3 || strcmp(parts[0], "conversations") != 0) {
		free(buf);
		return NULL;
	}
	for (size_t i = 0; i < n; i++) {
		if (i)
			buf_putc(&out, '/');
		buf_puts(&out, parts[i]);
	}
	free(buf);
	buf_cstr(&out);
	return (char *)buf_steal(&out, NULL);
}

int
xrun_copy_file(struct xrun *x, long snap, const char *path, struct outw *w,
    uint64_t *ret_size)
{
	struct cat_node *node = NULL;
	const struct cat_entry *e = NULL;
	struct buf chunk = BUF_INIT;
	int rc;

	rc = cat_resolve(x->r, &x->snaps[snap].s->root, path, &node, &e);
	if (rc == IMDR_OK && (e == NULL || e->type != CAT_FILE))
		rc = err_set(IMDR_ENOENT, "%s: not a file in the snapshot", path);
	if (rc == IMDR_OK && ret_size)
		*ret_size = e->size;
	for (uint32_t i = 0; rc == IMDR_OK && w && i < e->nchunks; i++) {
		struct blob_ref ref;

		if (ev_cancelled(&x->o->ev))
			rc = err_set(IMDR_EINTR, "interrupted");
		cat_chunk(node, e, i, &ref, NULL);
		if (rc == IMDR_OK)
			rc = repo_blob_read(x->r, BLOB_DATA, &ref, &chunk);
		if (rc == IMDR_OK)
			rc = outw_write(w, chunk.data, chunk.len);
	}
	buf_free(&chunk);
	cat_node_free(node);
	return rc;
}

int
xrun_deleted_later(const struct xrun *x, const struct xmsg *m, long *ret_gone)
{
	size_t s = x->conv[m->conv].source;

	if (!x->o->all || m->last >= (long)x->src[s].newest)
		return 0;
	if (ret_gone) {
		*ret_gone = -1;
		for (long i = m->last + 1; i < (long)x->nsnaps; i++)
			if (x->snaps[i].source == s) {
				*ret_gone = i;
				break;
			}
	}
	return 1;
}

/* ---- selection ---- */

static int
conv_matches(const struct export_opts *o, const char *folder, const char *key,
    const char *name)
{
	size_t sl = chat_folder_slug(folder);

	if (o->nconversations == 0)
		return 1;
	for (size_t i = 0; i < o->nconversations; i++) {
		const char *v = o->conversations[i][0] == '#' ? o->conversations[i] + 1 :
		    o->conversations[i];

		if (strcasecmp(v, folder) == 0 || strcasecmp(v, key) == 0 ||
		    (name && strcasecmp(v, name) == 0) ||
		    (strlen(v) == sl && strncasecmp(folder, v, sl) == 0))
			return 1;
	}
	return 0;
}

static size_t
conv_of(struct xrun *x, size_t source, const char *key)
{
	char *k = xasprintf("%zu\x1f%s", source, key);
	size_t i;

	if (!smap_get(&x->conv_by_key, k, &i)) {
		x->conv = xrealloc(x->conv, (x->nconv + 1) * sizeof(*x->conv));
		memset(&x->conv[x->nconv], 0, sizeof(x->conv[0]));
		x->conv[x->nconv].source = source;
		x->conv[x->nconv].key = xstrdup(key);
		i = x->nconv++;
		smap_put(&x->conv_by_key, k, i);
	}
	free(k);
	return i;
}

static void
set_meta(struct xconv *c, const char *folder, const struct buf *raw, const struct chat_meta *m)
{
	free(c->folder);
	c->folder = xstrdup(folder);
	free(c->meta_raw);
	c->meta_raw = raw->len ? xstrndup((const char *)raw->data, raw->len) : NULL;
	c->meta_len = raw->len;
	free(c->kind);
	free(c->name);
	c->kind = m->kind ? xstrdup(m->kind) : NULL;
	c->name = m->name ? xstrdup(m->name) : NULL;
	for (size_t i = 0; i < c->nmembers; i++)
		free(c->members[i]);
	free(c->members);
	c->members = NULL;
	c->nmembers = 0;
	if (m->nmembers) {
		c->members = xcalloc(m->nmembers, sizeof(char *));
		for (size_t i = 0; i < m->nmembers; i++)
			c->members[c->nmembers++] = xstrdup(m->members[i]);
	}
}

/* take_line: one message line of conversation ci in snapshot si. */
static void
take_line(struct xrun *x, size_t ci, long si, const struct chat_msg *m, const char *line,
    size_t n)
{
	struct xconv *c = &x->conv[ci];
	struct xmsg *xm;
	char *k;
	size_t mi;

	if ((x->has_from && m->ts_ms < x->from_ms) || (x->has_to && m->ts_ms > x->to_ms))
		return;
	if (x->has_query) {
		char *hk = xasprintf("%s\x1f%s\x1f%s", x->src[c->source].name, c->key, m->id);
		int hit = smap_get(&x->hits, hk, NULL);

		free(hk);
		if (!hit)
			return;
	}
	k = xasprintf("%zu\x1f%s", ci, m->id);
	if (!smap_get(&x->msg_by_key, k, &mi)) {
		x->msg = xrealloc(x->msg, (x->nmsg + 1) * sizeof(*x->msg));
		xm = &x->msg[x->nmsg];
		memset(xm, 0, sizeof(*xm));
		xm->conv = ci;
		xm->mid = xstrdup(m->id);
		xm->first = si;
		mi = x->nmsg++;
		smap_put(&x->msg_by_key, k, mi);
		*ARRAY_PUSH(c->sel, c->nsel, c->capsel) = mi;
	}
	free(k);
	xm = &x->msg[mi];
	xm->last = si;
	xm->ts_ms = m->ts_ms;
	xm->line_snap = si;
	xm->line_folder = c->folder;
	if (xm->line == NULL || strlen(xm->line) != n || memcmp(xm->line, line, n) != 0) {
		free(xm->line);
		xm->line = xstrndup(line, n);
		if (xm->nver == 0 || strcmp(xm->ver[xm->nver - 1].text, m->text) != 0) {
			xm->ver = xrealloc(xm->ver, (xm->nver + 1) * sizeof(*xm->ver));
			xm->ver[xm->nver++] = (struct xver){ xstrdup(m->text), m->edited_ms, si };
		} else {
			xm->ver[xm->nver - 1].edited_ms = m->edited_ms;
		}
	}
	*ARRAY_PUSH(c->cur, c->ncur, c->capcur) = mi;
}

static int
read_snapshot(struct xrun *x, long si)
{
	const struct snapshot *s = x->snaps[si].s;
	struct cat_node *rn = NULL, *cn = NULL;
	const struct cat_entry *ce;
	struct chat_parser *cp = chat_parser_new();
	struct buf data = BUF_INIT, meta = BUF_INIT, path = BUF_INIT;
	int rc;

	rc = cat_node_load(x->r, &s->root, &rn);
	if (rc == IMDR_OK && (ce = cat_node_find(rn, "conversations", 13)) != NULL &&
	    ce->type == CAT_DIR)
		rc = cat_node_load(x->r, &ce->subtree, &cn);
	for (uint32_t i = 0; rc == IMDR_OK && cn && i < cat_node_count(cn); i++) {
		const struct cat_entry *fe = cat_node_entry(cn, i), *me;
		struct cat_node *fnode = NULL;
		struct chat_meta m;
		struct xconv *c;
		uint8_t mj[32];
		size_t ci;

		if (fe->type != CAT_DIR)
			continue;
		if (ev_cancelled(&x->o->ev)) {
			rc = err_set(IMDR_EINTR, "interrupted");
			break;
		}
		memset(&m, 0, sizeof(m));
		path.len = 0;
		buf_printf(&path, "conversations/%s/meta.json", fe->name);
		if (chat_read_file(x->r, &s->root, buf_cstr(&path), 1 << 20, &meta) == IMDR_OK)
			chat_meta_parse(meta.data, meta.len, &m);
		else
			meta.len = 0;
		err_clear();
		if (!conv_matches(x->o, fe->name, chat_conv_key(fe->name, &m), m.name)) {
			chat_meta_free(&m);
			continue;
		}
		ci = conv_of(x, x->snaps[si].source, chat_conv_key(fe->name, &m));
		c = &x->conv[ci];
		set_meta(c, fe->name, &meta, &m);
		chat_meta_free(&m);
		rc = cat_node_load(x->r, &fe->subtree, &fnode);
		if (rc)
			break;
		me = cat_node_find(fnode, "messages.jsonl", 14);
		if (me && me->type != CAT_FILE)
			me = NULL;
		cat_content_id(fnode, me, mj);
		cat_node_free(fnode);
		if (c->have_mj && memcmp(mj, c->mj, 32) == 0) {
			/* the same messages as last time: seen again */
			for (size_t k = 0; k < c->ncur; k++) {
				struct xmsg *xm = &x->msg[c->cur[k]];

				xm->last = si;
				xm->line_snap = si;
				xm->line_folder = c->folder;
			}
			continue;
		}
		memcpy(c->mj, mj, 32);
		c->have_mj = 1;
		c->ncur = 0;
		if (me == NULL)
			continue;
		path.len = 0;
		buf_printf(&path, "conversations/%s/messages.jsonl", fe->name);
		rc = chat_read_file(x->r, &s->root, buf_cstr(&path), MAX_LINE_FILE, &data);
		{
			const char *p = (const char *)data.data, *end = p + data.len;
			size_t lineno = 0;

			while (rc == IMDR_OK && p < end) {
				const char *nl = memchr(p, '\n', (size_t)(end - p)), *le = nl ? nl : end;
				struct chat_msg msg;

				lineno++;
				if (le > p && chat_parse_msg(cp, p, (size_t)(le - p), &msg) == IMDR_OK) {
					take_line(x, ci, si, &msg, p, (size_t)(le - p));
				} else if (le > p) {
					char what[700];

					snprintf(what, sizeof(what), "snapshot %.8s: %s:%zu", s->id,
					    buf_cstr(&path), lineno);
					ev_warn(&x->o->ev, what, "a malformed message line, not exported");
				}
				err_clear();
				p = nl ? nl + 1 : end;
			}
		}
	}
	cat_node_free(cn);
	cat_node_free(rn);
	chat_parser_free(cp);
	buf_free(&data);
	buf_free(&meta);
	buf_free(&path);
	return rc;
}

static int
load_users(struct xrun *x, struct xsource *src, const struct snapshot *s)
{
	int rc;

	rc = chat_read_file(x->r, &s->root, "users.jsonl", 256u << 20, &src->users_raw);
	if (rc == IMDR_OK)
		rc = chat_users_parse(src->users_raw.data, src->users_raw.len, &src->users,
		    &src->nusers);
	if (rc == IMDR_ENOENT || rc == IMDR_EFORMAT) {
		char what[80];

		snprintf(what, sizeof(what), "snapshot %.8s: users.jsonl", s->id);
		if (rc == IMDR_EFORMAT)
			ev_warn(&x->o->ev, what, err_msg(rc));
		err_clear();
		src->users_raw.len = 0;
		rc = IMDR_OK;
	}
	return rc;
}

/* path_part: a source name as one path component */
static char *
path_part(const char *s)
{
	char *o = xstrdup(*s ? s : "source");

	for (char *p = o; *p; p++)
		if (*p == '/' || (unsigned char)*p < 0x20 || *p == 0x7f)
			*p = '_';
	if (o[0] == '.')
		o[0] = '_';
	return o;
}

/* pick: the snapshots to read, oldest first, grouped by source */
static int
pick(struct xrun *x)
{
	const struct export_opts *o = x->o;
	struct snapshot_name *list = NULL;
	size_t n = 0;
	char tag[SNAPSHOT_TAG_HEX + 1] = "";
	int rc;

	rc = snapshot_list(x->r, &list, &n);
	if (rc)
		return rc;
	if (o->source) {
		snapshot_source_tag(x->r, o->source, tag);
		n = snapshot_filter_source(list, n, tag);
		if (n == 0) {
			free(list);
			return err_set(IMDR_ENOENT, "no snapshot of source %s", o->source);
		}
	}
	if (!o->all) {
		size_t i;

		rc = snapshot_resolve_name(list, n, o->snapshot ? o->snapshot : "latest", &i);
		if (rc == IMDR_OK) {
			list[0] = list[i];
			n = 1;
		}
	}
	for (size_t i = 0; rc == IMDR_OK && i < n; i++) {
		struct snapshot *s = NULL;
		size_t src;

		rc = snapshot_load(x->r, list[i].name, &s);
		if (rc)
			break;
		if (!chat_is_chat_format(s->format)) {
			if (!o->all)
				rc = err_set(IMDR_EINVAL, "snapshot %.8s is a %s backup, not a chat export:"
				    " nothing to export as messages", s->id, s->format);
			snapshot_free(s);
			continue;
		}
		for (src = 0; src < x->nsrc && strcmp(x->src[src].name, s->source) != 0; src++)
			;
		if (src == x->nsrc) {
			x->src = xrealloc(x->src, (x->nsrc + 1) * sizeof(*x->src));
			memset(&x->src[src], 0, sizeof(x->src[0]));
			x->src[src].name = xstrdup(s->source);
			x->nsrc++;
		}
		x->snaps = xrealloc(x->snaps, (x->nsnaps + 1) * sizeof(*x->snaps));
		x->snaps[x->nsnaps] = (struct xsnap){ s, src };
		x->src[src].newest = x->nsnaps++;
	}
	free(list);
	if (rc == IMDR_OK && x->nsnaps == 0)
		rc = err_set(IMDR_ENOENT, "no chat snapshot to export");
	for (size_t i = 0; rc == IMDR_OK && i < x->nsrc; i++) {
		char *part = path_part(x->src[i].name);

		x->src[i].dir = x->nsrc == 1 ? xstrdup("") : xasprintf("sources/%s/", part);
		free(part);
		rc = load_users(x, &x->src[i], x->snaps[x->src[i].newest].s);
	}
	return rc;
}

static int
run_query(struct xrun *x)
{
	struct search_opts so;
	struct search_result res;
	int rc;

	memset(&so, 0, sizeof(so));
	so.query = x->o->query;
	so.source = x->o->source;
	so.all = x->o->all;
	so.snapshot = x->o->all ? NULL : x->snaps[0].s->id;	/* the one picked */
	so.ev = (struct search_events){ x->o->ev.warn, x->o->ev.ctx, x->o->ev.cancel };
	rc = search_run(x->r, &so, &res);
	if (rc)
		return rc;
	for (size_t i = 0; i < res.n; i++) {
		char *k = xasprintf("%s\x1f%s\x1f%s", res.hits[i].source, res.hits[i].conv_key,
		    res.hits[i].id);

		smap_put(&x->hits, k, i);
		free(k);
	}
	search_result_free(&res);
	x->has_query = 1;
	return IMDR_OK;
}

/* ---- writing the canonical subset ---- */

static int
cmp_msg(const void *a, const void *b, void *ctx)
{
	const struct xrun *x = ctx;
	const struct xmsg *p = &x->msg[*(const size_t *)a], *q = &x->msg[*(const size_t *)b];

	if (p->ts_ms != q->ts_ms)
		return p->ts_ms < q->ts_ms ? -1 : 1;
	return strcmp(p->mid, q->mid);
}

static int
cmp_conv(const void *a, const void *b, void *ctx)
{
	const struct xrun *x = ctx;
	const struct xconv *p = *(const struct xconv *const *)a, *q = *(const struct xconv *const *)b;
	int c = strcmp(x->src[p->source].name, x->src[q->source].name);

	return c ? c : strcmp(p->folder, q->folder);
}

/* put_attachments: every attachment of message m present in its snapshot,
 * once (shared files are referenced by several messages). */
static int
put_attachments(struct xrun *x, struct outw *w, const struct xmsg *m, const char *prefix,
    struct chat_parser *cp)
{
	struct chat_msg cm;
	int rc = IMDR_OK;

	if (chat_parse_msg(cp, m->line, strlen(m->line), &cm) != IMDR_OK) {
		err_clear();
		return IMDR_OK;
	}
	for (size_t a = 0; rc == IMDR_OK && a < cm.natt; a++) {
		char *tp = cm.att[a].path ? xrun_att_path(m->line_folder, cm.att[a].path) : NULL;
		char *op;
		uint64_t size;

		if (tp == NULL) {
			x->res->missing_attachments++;
			continue;
		}
		op = xasprintf("%s%s", prefix, tp);
		if (smap_get(&x->written, op, NULL)) {
			free(op);
			free(tp);
			continue;
		}
		rc = xrun_copy_file(x, m->line_snap, tp, NULL, &size);
		if (rc == IMDR_ENOENT) {
			x->res->missing_attachments++;
			err_clear();
			rc = IMDR_OK;
		} else if (rc == IMDR_OK) {
			rc = outw_begin(w, op, (int64_t)size, 0);
			if (rc == IMDR_OK)
				rc = xrun_copy_file(x, m->line_snap, tp, w, NULL);
			if (rc == IMDR_OK)
				rc = outw_end(w);
			smap_put(&x->written, op, 1);
			x->res->attachments++;
		}
		free(op);
		free(tp);
	}
	return rc;
}

static void
put_history(struct xrun *x, struct buf *h, const struct xmsg *m)
{
	json_t *o, *vers = json_array();
	char t[40];
	long gone = -1;
	int del = xrun_deleted_later(x, m, &gone);
	char *js;

	if (m->nver < 2 && !del)
		return;
	for (size_t v = 0; v < m->nver; v++) {
		json_t *vo = json_pack("{s:s, s:s}", "text", m->ver[v].text, "first_seen",
		    x->snaps[m->ver[v].seen].s->id);

		if (m->ver[v].edited_ms) {
			time_format(m->ver[v].edited_ms * 1000000, 3, t);
			json_object_set_new(vo, "edited", json_string(t));
		}
		json_array_append_new(vers, vo);
	}
	o = json_pack("{s:s, s:s, s:s, s:s, s:o}", "id", m->mid, "first_seen",
	    x->snaps[m->first].s->id, "last_seen", x->snaps[m->last].s->id,
	    "status", del ? "deleted" : m->nver > 1 ? "edited" : "present", "versions", vers);
	if (gone >= 0)
		json_object_set_new(o, "gone_in", json_string(x->snaps[gone].s->id));
	js = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
	if (js) {
		buf_puts(h, js);
		buf_putc(h, '\n');
	}
	free(js);
	json_decref(o);
}

static int
write_canonical(struct xrun *x, struct outw *w, struct xconv **cv)
{
	struct chat_parser *cp = chat_parser_new();
	struct buf b = BUF_INIT, h = BUF_INIT;
	int rc = IMDR_OK;

	for (size_t s = 0; rc == IMDR_OK && s < x->nsrc; s++) {
		struct smap ref = SMAP_INIT;
		const char *p, *end;

		/* users: those the selected conversations name */
		for (size_t i = 0; i < x->nconv; i++) {
			const struct xconv *c = cv[i];

			if (c->source != s || c->nsel == 0)
				continue;
			for (size_t k = 0; k < c->nmembers; k++)
				smap_put(&ref, c->members[k], 1);
			for (size_t k = 0; k < c->nsel; k++) {
				struct chat_msg cm;

				if (chat_parse_msg(cp, x->msg[c->sel[k]].line,
				    strlen(x->msg[c->sel[k]].line), &cm) != IMDR_OK)
					continue;
				smap_put(&ref, cm.user, 1);
				for (size_t r = 0; r < cm.nreact; r++)
					for (size_t u = 0; u < cm.react[r].nusers; u++)
						smap_put(&ref, cm.react[r].users[u], 1);
			}
		}
		err_clear();
		b.len = 0;
		p = (const char *)x->src[s].users_raw.data;
		end = p + x->src[s].users_raw.len;
		while (p && p < end) {
			const char *nl = memchr(p, '\n', (size_t)(end - p)), *le = nl ? nl : end;
			json_t *j = json_loadb(p, (size_t)(le - p), 0, NULL);
			const char *id = json_string_value(json_object_get(j, "id"));

			if (id && smap_get(&ref, id, NULL)) {
				buf_append(&b, p, (size_t)(le - p));
				buf_putc(&b, '\n');
			}
			json_decref(j);
			p = nl ? nl + 1 : end;
		}
		smap_free(&ref);
		{
			char *path = xasprintf("%susers.jsonl", x->src[s].dir);

			rc = outw_put(w, path, b.data ? b.data : (const uint8_t *)"", b.len, 1);
			free(path);
		}
	}
	for (size_t i = 0; rc == IMDR_OK && i < x->nconv; i++) {
		const struct xconv *c = cv[i];
		const char *prefix = x->src[c->source].dir;
		char *path;

		if (c->nsel == 0)
			continue;
		x->res->conversations++;
		if (c->meta_raw) {
			path = xasprintf("%sconversations/%s/meta.json", prefix, c->folder);
			rc = outw_put(w, path, c->meta_raw, c->meta_len, 1);
			free(path);
		}
		b.len = 0;
		h.len = 0;
		for (size_t k = 0; k < c->nsel; k++) {
			const struct xmsg *m = &x->msg[c->sel[k]];

			buf_puts(&b, m->line);
			buf_putc(&b, '\n');
			if (x->o->all)
				put_history(x, &h, m);
		}
		x->res->messages += c->nsel;
		path = xasprintf("%sconversations/%s/messages.jsonl", prefix, c->folder);
		if (rc == IMDR_OK)
			rc = outw_put(w, path, b.data, b.len, 1);
		free(path);
		if (rc == IMDR_OK && h.len) {
			path = xasprintf("%sconversations/%s/history.jsonl", prefix, c->folder);
			rc = outw_put(w, path, h.data, h.len, 1);
			free(path);
		}
		for (size_t k = 0; rc == IMDR_OK && k < c->nsel; k++)
			rc = put_attachments(x, w, &x->msg[c->sel[k]], prefix, cp);
	}
	chat_parser_free(cp);
	buf_free(&b);
	buf_free(&h);
	return rc;
}

static int
write_rsmf(struct xrun *x, struct outw *w, struct xconv **cv)
{
	int rc = IMDR_OK;

	for (size_t i = 0; rc == IMDR_OK && i < x->nconv; i++) {
		const struct xconv *c = cv[i];
		size_t start = 0;

		if (c->nsel == 0)
			continue;
		x->res->conversations++;
		while (rc == IMDR_OK && start < c->nsel) {
			char day[40], d2[40];
			size_t end = start;

			time_format(x->msg[c->sel[start]].ts_ms * 1000000, 0, day);
			day[10] = '\0';
			while (end < c->nsel) {
				time_format(x->msg[c->sel[end]].ts_ms * 1000000, 0, d2);
				d2[10] = '\0';
				if (strcmp(day, d2) != 0)
					break;
				end++;
			}
			rc = rsmf_write_day(x, w, c, c->sel + start, end - start, day,
			    x->src[c->source].dir);
			x->res->messages += end - start;
			start = end;
		}
	}
	return rc;
}

/* ---- custody ---- */

static void
operator_name(char *out, size_t cap)
{
	struct passwd pw, *res = NULL;
	char pbuf[1024];
	const char *sudo = getenv("SUDO_USER");

	/* the audit log's rule: the user, and who used sudo to become it */
	if (getpwuid_r(geteuid(), &pw, pbuf, sizeof(pbuf), &res) == 0 && res)
		snprintf(out, cap, "%s", res->pw_name);
	else
		snprintf(out, cap, "uid %u", (unsigned)geteuid());
	if (sudo && *sudo && strcmp(sudo, out) != 0) {
		size_t n = strlen(out);

		snprintf(out + n, cap - n, " (sudo by %s)", sudo);
	}
}

static int64_t
created_ns(void)
{
	const char *sde = getenv("SOURCE_DATE_EPOCH");
	char *end;

	if (sde && *sde) {
		long long v = strtoll(sde, &end, 10);

		if (*end == '\0' && v >= 0)
			return (int64_t)v * 1000000000;
	}
	return time_now_ns();
}

static const char *
format_name(enum export_format f)
{
	return f == EXPORT_RSMF ? "rsmf" : f == EXPORT_ZIP ? "zip" : "folder";
}

static json_t *
scope_json(const struct xrun *x)
{
	const struct export_opts *o = x->o;
	json_t *sc = json_object(), *cs = json_array();

	json_object_set_new(sc, "snapshot", o->all ? json_null() :
	    json_string(o->snapshot ? o->snapshot : "latest"));
	json_object_set_new(sc, "all", json_boolean(o->all));
	json_object_set_new(sc, "source", o->source ? json_string(o->source) : json_null());
	for (size_t i = 0; i < o->nconversations; i++)
		json_array_append_new(cs, json_string(o->conversations[i]));
	json_object_set_new(sc, "conversations", cs);
	json_object_set_new(sc, "from", o->from ? json_string(o->from) : json_null());
	json_object_set_new(sc, "to", o->to ? json_string(o->to) : json_null());
	return sc;
}

static char *
custody_json(struct xrun *x, const struct outw_file *f, size_t nf)
{
	const struct export_opts *o = x->o;
	json_t *j = json_object(), *snaps = json_array(), *files = json_array(), *counts, *repo;
	char t[40], user[320], host[256] = "", hex[65], *out;

	time_format(created_ns(), 0, t);
	operator_name(user, sizeof(user));
	gethostname(host, sizeof(host) - 1);
	json_object_set_new(j, "custody_version", json_integer(1));
	json_object_set_new(j, "matter", o->matter ? json_string(o->matter) : json_null());
	json_object_set_new(j, "query", o->query ? json_string(o->query) : json_null());
	json_object_set_new(j, "scope", scope_json(x));
	json_object_set_new(j, "format", json_string(format_name(o->format)));
	repo = json_pack("{s:s, s:s}", "id", repo_config(x->r)->id, "url", repo_url(x->r));
	json_object_set_new(j, "repository", repo);
	for (size_t i = 0; i < x->nsnaps; i++) {
		char st[40];

		time_format(x->snaps[i].s->time_ns, 9, st);
		json_array_append_new(snaps, json_pack("{s:s, s:s, s:s}", "id", x->snaps[i].s->id,
		    "time", st, "source", x->snaps[i].s->source));
	}
	json_object_set_new(j, "snapshots", snaps);
	json_object_set_new(j, "operator", json_string(user));
	json_object_set_new(j, "host", json_string(host));
	json_object_set_new(j, "tool", json_string(o->tool ? o->tool : "imdr"));
	json_object_set_new(j, "created", json_string(t));
	counts = json_pack("{s:I, s:I, s:I, s:I, s:I}", "messages", (json_int_t)x->res->messages,
	    "conversations", (json_int_t)x->res->conversations, "attachments",
	    (json_int_t)x->res->attachments, "missing_attachments",
	    (json_int_t)x->res->missing_attachments, "files", (json_int_t)nf);
	json_object_set_new(j, "counts", counts);
	for (size_t i = 0; i < nf; i++) {
		hex_encode(f[i].sha256, 32, hex);
		json_array_append_new(files, json_pack("{s:s, s:I, s:s}", "path", f[i].path, "size",
		    (json_int_t)f[i].size, "sha256", hex));
	}
	json_object_set_new(j, "files", files);
	out = json_dumps(j, JSON_INDENT(1) | JSON_PRESERVE_ORDER);
	json_decref(j);
	return out;
}

static int
cmp_file(const void *a, const void *b)
{
	return strcmp(((const struct outw_file *)a)->path, ((const struct outw_file *)b)->path);
}

static void
audit(struct xrun *x, int rc)
{
	json_t *sc = scope_json(x), *ids = json_array();

	json_object_set_new(sc, "matter", x->o->matter ? json_string(x->o->matter) : json_null());
	json_object_set_new(sc, "query", x->o->query ? json_string(x->o->query) : json_null());
	json_object_set_new(sc, "format", json_string(format_name(x->o->format)));
	json_object_set_new(sc, "out", json_string(x->o->out));
	for (size_t i = 0; i < x->nsnaps; i++)
		json_array_append_new(ids, json_string(x->snaps[i].s->id));
	json_object_set_new(sc, "snapshots", ids);
	json_object_set_new(sc, "messages", json_integer((json_int_t)x->res->messages));
	json_object_set_new(sc, "custody_sha256", rc == IMDR_OK ?
	    json_string(x->res->custody_sha256) : json_null());
	x->res->audit_rc = trail_record(x->r, &x->o->ev, "export", sc, rc, NULL);
}

static void
xrun_free(struct xrun *x)
{
	for (size_t i = 0; i < x->nsnaps; i++)
		snapshot_free(x->snaps[i].s);
	free(x->snaps);
	for (size_t i = 0; i < x->nsrc; i++) {
		free(x->src[i].name);
		free(x->src[i].dir);
		chat_users_free(x->src[i].users, x->src[i].nusers);
		buf_free(&x->src[i].users_raw);
	}
	free(x->src);
	for (size_t i = 0; i < x->nconv; i++) {
		struct xconv *c = &x->conv[i];

		free(c->key);
		free(c->folder);
		free(c->meta_raw);
		free(c->kind);
		free(c->name);
		for (size_t k = 0; k < c->nmembers; k++)
			free(c->members[k]);
		free(c->members);
		free(c->cur);
		free(c->sel);
	}
	free(x->conv);
	for (size_t i = 0; i < x->nmsg; i++) {
		free(x->msg[i].mid);
		free(x->msg[i].line);
		for (size_t v = 0; v < x->msg[i].nver; v++)
			free(x->msg[i].ver[v].text);
		free(x->msg[i].ver);
	}
	free(x->msg);
	smap_free(&x->conv_by_key);
	smap_free(&x->msg_by_key);
	smap_free(&x->hits);
	smap_free(&x->written);
}

int
export_run(struct repo *r, const struct export_opts *o, struct export_result *ret)
{
	struct xrun x;
	struct outw *w = NULL;
	struct xconv **cv = NULL;
	int64_t t;
	int rc = IMDR_OK;

	memset(&x, 0, sizeof(x));
	memset(ret, 0, sizeof(*ret));
	x.r = r;
	x.o = o;
	x.res = ret;
	if (o->from) {
		if (time_parse(o->from, &t, NULL) != 0)
			return err_set(IMDR_EINVAL, "--from %s: not a date or time", o->from);
		x.from_ms = t / 1000000;
		x.has_from = 1;
	}
	if (o->to) {
		int64_t end;

		if (time_parse(o->to, &t, &end) != 0)
			return err_set(IMDR_EINVAL, "--to %s: not a date or time", o->to);
		x.to_ms = end / 1000000;
		x.has_to = 1;
	}
	rc = pick(&x);
	if (rc == IMDR_OK && o->query && *o->query)
		rc = run_query(&x);
	for (size_t i = 0; rc == IMDR_OK && i < x.nsnaps; i++) {
		ev_total(&o->ev, x.nsnaps, 0);
		rc = read_snapshot(&x, (long)i);
		ev_advance(&o->ev, 1, 0);
	}
	ret->snapshots = x.nsnaps;
	if (rc)
		goto out;
	/* order: conversations by source and folder, messages by time */
	cv = xcalloc(x.nconv + 1, sizeof(*cv));
	for (size_t i = 0; i < x.nconv; i++) {
		cv[i] = &x.conv[i];
		if (cv[i]->nsel > 1)
			qsort_r(cv[i]->sel, cv[i]->nsel, sizeof(size_t), cmp_msg, &x);
	}
	if (x.nconv > 1)
		qsort_r(cv, x.nconv, sizeof(*cv), cmp_conv, &x);
	rc = o->format == EXPORT_ZIP ? outw_zip(o->out, &w) : outw_dir(o->out, &w);
	if (rc == IMDR_OK)
		rc = o->format == EXPORT_RSMF ? write_rsmf(&x, w, cv) : write_canonical(&x, w, cv);
	if (rc == IMDR_OK) {
		size_t nf;
		const struct outw_file *f = outw_files(w, &nf);
		struct outw_file *sorted = xcalloc(nf + 1, sizeof(*sorted));
		uint8_t sum[32];
		char *cj;

		if (nf)
			memcpy(sorted, f, nf * sizeof(*f));
		if (nf > 1)
			qsort(sorted, nf, sizeof(*sorted), cmp_file);
		for (size_t i = 0; i < nf; i++)
			ret->bytes += sorted[i].size;
		ret->files = nf;
		cj = custody_json(&x, sorted, nf);
		free(sorted);
		if (cj == NULL) {
			rc = err_set(IMDR_EINVAL, "cannot encode custody.json (a name that is not UTF-8?)");
		} else {
			crypto_sha256(cj, strlen(cj), sum);
			hex_encode(sum, 32, ret->custody_sha256);
			rc = outw_put(w, "custody.json", cj, strlen(cj), 1);
			free(cj);
		}
	}
	if (w) {
		int crc = rc == IMDR_OK ? outw_close(w) : (outw_abort(w), IMDR_OK);

		if (rc == IMDR_OK)
			rc = crc;
	}
	if (rc == IMDR_OK)
		snprintf(ret->custody_path, sizeof(ret->custody_path), "%s%s", o->out,
		    o->format == EXPORT_ZIP ? ":custody.json" : "/custody.json");
out:
	if (x.nsnaps > 0 || rc == IMDR_OK) {
		char *keep = rc ? xstrdup(err_msg(rc)) : NULL;

		audit(&x, rc);
		if (keep) {
			err_set(rc, "%s", keep);
			free(keep);
		}
	}
	free(cv);
	xrun_free(&x);
	return rc;
}

/* ---- verify ---- */

struct vfile {
	char *path;
	uint64_t size;
	char sha[65];
	int seen;
};

static int
load_custody(const uint8_t *data, size_t n, struct vfile **ret, size_t *ret_n,
    struct smap *by_path)
{
	json_error_t e;
	json_t *j = json_loadb((const char *)data, n, 0, &e), *files, *v;
	size_t i;

	if (j == NULL || !json_is_array(files = json_object_get(j, "files"))) {
		json_decref(j);
		return err_set(IMDR_EFORMAT, "custody.json: %s", j ? "no files list" : e.text);
	}
	*ret = xcalloc(json_array_size(files) + 1, sizeof(**ret));
	*ret_n = 0;
	json_array_foreach(files, i, v) {
		const char *p, *sha;
		json_int_t size;
		struct vfile *f = &(*ret)[*ret_n];

		if (json_unpack(v, "{s:s, s:I, s:s}", "path", &p, "size", &size, "sha256", &sha) != 0 ||
		    !hex_valid(sha, 64) || size < 0) {
			json_decref(j);
			return err_set(IMDR_EFORMAT, "custody.json: file entry %zu is malformed", i + 1);
		}
		f->path = xstrdup(p);
		f->size = (uint64_t)size;
		snprintf(f->sha, sizeof(f->sha), "%s", sha);
		smap_put(by_path, p, (*ret_n)++);
	}
	json_decref(j);
	return IMDR_OK;
}

struct verifier {
	const struct engine_events *ev;
	struct verify_result *res;
	struct vfile *f;
	size_t nf;
	struct smap by_path;
};

static void
check_one(struct verifier *v, const char *path, uint64_t size, const uint8_t sum[32])
{
	char hex[65], msg[256];
	size_t i;

	hex_encode(sum, 32, hex);
	if (!smap_get(&v->by_path, path, &i)) {
		v->res->added++;
		ev_error(v->ev, path, "added: not in the custody manifest");
		return;
	}
	v->f[i].seen = 1;
	if (v->f[i].size != size || strcmp(v->f[i].sha, hex) != 0) {
		v->res->changed++;
		snprintf(msg, sizeof(msg), "changed: %llu bytes with SHA-256 %.16s…, the manifest says"
		    " %llu bytes, %.16s…", (unsigned long long)size, hex,
		    (unsigned long long)v->f[i].size, v->f[i].sha);
		ev_error(v->ev, path, msg);
		return;
	}
	v->res->files++;
}

static int
hash_fd(int fd, uint64_t *ret_size, uint8_t sum[32])
{
	struct crypto_sha256_ctx *h = crypto_sha256_begin();
	uint8_t buf[65536];
	ssize_t k;

	*ret_size = 0;
	while ((k = read(fd, buf, sizeof(buf))) != 0) {
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0) {
			int e = errno;

			crypto_sha256_end(h, sum);
			errno = e;
			return -1;
		}
		crypto_sha256_update(h, buf, (size_t)k);
		*ret_size += (uint64_t)k;
	}
	crypto_sha256_end(h, sum);
	return 0;
}

/* walk_dir: every file below dir (relative path rel), not following
 * symlinks (a symlink is reported as added: exports hold none). */
static int
walk_dir(struct verifier *v, int dfd, const char *rel)
{
	DIR *d = fdopendir(dfd);
	struct dirent *de;
	int rc = IMDR_OK;

	if (d == NULL) {
		close(dfd);
		return err_set(err_from_errno(errno), "cannot read %s: %s", *rel ? rel : ".", strerror(errno));
	}
	while (rc == IMDR_OK && (de = readdir(d)) != NULL) {
		char *path;
		struct stat st;

		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		path = *rel ? xasprintf("%s/%s", rel, de->d_name) : xstrdup(de->d_name);
		if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
			rc = err_set(err_from_errno(errno), "cannot read %s: %s", path, strerror(errno));
		} else if (S_ISDIR(st.st_mode)) {
			int fd = openat(dirfd(d), de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

			rc = fd < 0 ? err_set(err_from_errno(errno), "cannot open %s: %s", path,
			    strerror(errno)) : walk_dir(v, fd, path);
		} else if (S_ISREG(st.st_mode) && !(*rel == '\0' && strcmp(de->d_name, "custody.json") == 0)) {
			int fd = openat(dirfd(d), de->d_name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
			uint8_t sum[32];
			uint64_t size;

			if (fd < 0 || hash_fd(fd, &size, sum) != 0)
				rc = err_set(err_from_errno(errno), "cannot read %s: %s", path, strerror(errno));
			else
				check_one(v, path, size, sum);
			if (fd >= 0)
				close(fd);
		} else if (!S_ISREG(st.st_mode)) {
			v->res->added++;
			ev_error(v->ev, path, "added: not a regular file (exports hold files only)");
		}
		free(path);
	}
	closedir(d);
	return rc;
}

static int
read_all_fd(int fd, struct buf *out)
{
	uint8_t b[65536];
	ssize_t k;

	while ((k = read(fd, b, sizeof(b))) != 0) {
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			return -1;
		if (out->len + (size_t)k > (256u << 20))
			return errno = EFBIG, -1;
		buf_append(out, b, (size_t)k);
	}
	return 0;
}

static int
verify_zip(struct verifier *v, const char *path, struct buf *custody)
{
	struct archive *a;
	struct archive_entry *e;
	struct vfile *pending = NULL;
	size_t npending = 0, cap = 0;
	int rc = IMDR_OK, r;

	/* the manifest is the last entry: hash everything first, compare after */
	if ((rc = archive_dl_load()) != IMDR_OK)
		return rc;
	a = archive_read_new();
	archive_read_support_format_zip(a);
	if (archive_read_open_filename(a, path, 65536) != ARCHIVE_OK) {
		rc = err_set(IMDR_EFORMAT, "%s: %s", path, archive_error_string(a));
		archive_read_free(a);
		return rc;
	}
	while (rc == IMDR_OK && (r = archive_read_next_header(a, &e)) == ARCHIVE_OK) {
		const char *name = archive_entry_pathname(e);
		struct crypto_sha256_ctx *h = crypto_sha256_begin();
		uint64_t size = 0;
		uint8_t sum[32], buf[65536];
		la_ssize_t k;
		int is_custody = name && strcmp(name, "custody.json") == 0;

		while ((k = archive_read_data(a, buf, sizeof(buf))) > 0) {
			crypto_sha256_update(h, buf, (size_t)k);
			size += (uint64_t)k;
			if (is_custody && custody->len + (size_t)k <= (256u << 20))
				buf_append(custody, buf, (size_t)k);
		}
		crypto_sha256_end(h, sum);
		if (k < 0) {
			/* a damaged entry (CRC, deflate): changed */
			struct vfile *f = ARRAY_PUSH(pending, npending, cap);

			f->path = xstrdup(name ? name : "?");
			f->size = UINT64_MAX;
			hex_encode(sum, 32, f->sha);
			ev_error(v->ev, name ? name : "?", archive_error_string(a));
			continue;
		}
		if (!is_custody) {
			struct vfile *f = ARRAY_PUSH(pending, npending, cap);

			f->path = xstrdup(name ? name : "?");
			f->size = size;
			hex_encode(sum, 32, f->sha);
		}
	}
	if (rc == IMDR_OK && r != ARCHIVE_EOF)
		rc = err_set(IMDR_EFORMAT, "%s: %s", path, archive_error_string(a));
	archive_read_free(a);
	if (rc == IMDR_OK && custody->len == 0)
		rc = err_set(IMDR_EFORMAT, "%s: no custody.json in the zip", path);
	if (rc == IMDR_OK)
		rc = load_custody(custody->data, custody->len, &v->f, &v->nf, &v->by_path);
	for (size_t i = 0; rc == IMDR_OK && i < npending; i++) {
		uint8_t sum[32];

		if (pending[i].size == UINT64_MAX) {
			size_t k;

			v->res->changed++;
			if (smap_get(&v->by_path, pending[i].path, &k))
				v->f[k].seen = 1;
			continue;
		}
		hex_decode(pending[i].sha, sum, 32);
		check_one(v, pending[i].path, pending[i].size, sum);
	}
	for (size_t i = 0; i < npending; i++)
		free(pending[i].path);
	free(pending);
	return rc;
}

int
export_verify(const char *path, const char *expect, const struct engine_events *ev,
    struct verify_result *ret)
{
	struct verifier v;
	struct buf custody = BUF_INIT;
	struct stat st;
	uint8_t sum[32];
	int rc;

	memset(ret, 0, sizeof(*ret));
	memset(&v, 0, sizeof(v));
	v.ev = ev;
	v.res = ret;
	if (stat(path, &st) != 0)
		return err_set(err_from_errno(errno), "%s: %s", path, strerror(errno));
	if (S_ISDIR(st.st_mode)) {
		char *cp = xasprintf("%s/custody.json", path);
		int fd = open(cp, O_RDONLY | O_NOFOLLOW | O_CLOEXEC), dfd;

		if (fd < 0 || read_all_fd(fd, &custody) != 0) {
			rc = err_set(IMDR_EFORMAT, "%s: %s (not an imdr export?)", cp, strerror(errno));
			if (fd >= 0)
				close(fd);
			free(cp);
			goto out;
		}
		close(fd);
		free(cp);
		rc = load_custody(custody.data, custody.len, &v.f, &v.nf, &v.by_path);
		dfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (rc == IMDR_OK)
			rc = dfd < 0 ? err_set(err_from_errno(errno), "%s: %s", path, strerror(errno)) :
			    walk_dir(&v, dfd, "");
		else if (dfd >= 0)
			close(dfd);
	} else {
		rc = verify_zip(&v, path, &custody);
	}
	if (rc)
		goto out;
	for (size_t i = 0; i < v.nf; i++)
		if (!v.f[i].seen) {
			ret->removed++;
			ev_error(ev, v.f[i].path, "removed: in the custody manifest, not in the export");
		}
	crypto_sha256(custody.data, custody.len, sum);
	hex_encode(sum, 32, ret->custody_sha256);
	if (expect && strcasecmp(expect, ret->custody_sha256) != 0) {
		ev_error(ev, "custody.json", "changed: its SHA-256 is not the one given");
		ret->changed++;
	}
	if (ret->changed || ret->added || ret->removed)
		rc = err_set(IMDR_EAUTH, "%s: %llu changed, %llu added, %llu removed", path,
		    (unsigned long long)ret->changed, (unsigned long long)ret->added,
		    (unsigned long long)ret->removed);
out:
	for (size_t i = 0; i < v.nf; i++)
		free(v.f[i].path);
	free(v.f);
	smap_free(&v.by_path);
	buf_free(&custody);
	return rc;
}
