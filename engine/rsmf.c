/* rsmf — RSMF 2.0 files (Relativity Short Message Format), one per
 * conversation per UTC day, at most EXPORT_RSMF_MAX_EVENTS events each.
 *
 * A file is an RFC 5322 message (CRLF lines, 7-bit: non-ASCII header
 * text as RFC 2047 encoded words, bodies in base64) with X-RSMF-* headers,
 * a text/plain part (a transcript, for review tools that index the
 * message body) and its single attachment rsmf.zip: rsmf_manifest.json
 * (participants, the conversation, events with parent, edits, deleted,
 * reactions, attachments) plus the attachments' bytes, streamed from the
 * repository through the zip writer and base64 into the file. The schema
 * is relativitydev/rsmf-validator-samples' rsmf_schema_2_0_0.json (the
 * tests validate every manifest against it).
 *
 * Threads are parent links when the thread's first message is in the
 * same file; otherwise the event names it in a custom field (a parent must
 * be an event of the file). Edits: with --all, each earlier text that
 * changed, as previous/new; else the export's edit mark. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "engine/export.h"
#include "engine/export_impl.h"
#include "lib/err.h"
#include "lib/hex.h"
#include "lib/timefmt.h"
#include "repo/crypto.h"
#include "repo/snapshot.h"
#include "search/chat.h"

#define RSMF_VERSION "2.0.0"

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

void
b64_append(struct buf *out, const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i += 3) {
		uint32_t v = (uint32_t)p[i] << 16 | (i + 1 < n ? (uint32_t)p[i + 1] << 8 : 0) |
		    (i + 2 < n ? p[i + 2] : 0);
		char o[4] = { b64[v >> 18], b64[(v >> 12) & 63],
		    i + 1 < n ? b64[(v >> 6) & 63] : '=', i + 2 < n ? b64[v & 63] : '=' };

		buf_append(out, o, 4);
	}
}

/* A base64 body: 76 characters a line, CRLF, into a file of w. */
struct b64w {
	struct outw *w;
	uint8_t carry[3];
	size_t ncarry, col;
	struct buf line;
};

static int
b64w_flush(struct b64w *b, int final)
{
	int rc = IMDR_OK;

	if (final && b->ncarry) {
		b64_append(&b->line, b->carry, b->ncarry);
		b->ncarry = 0;
		b->col += 4;
	}
	if (b->line.len && (final || b->line.len >= 8192)) {
		rc = outw_write(b->w, b->line.data, b->line.len);
		b->line.len = 0;
	}
	return rc;
}

static int
b64w_write(void *ctx, const void *vp, size_t n)
{
	struct b64w *b = ctx;
	const uint8_t *p = vp;

	while (n > 0) {
		b->carry[b->ncarry++] = *p++;
		n--;
		if (b->ncarry == 3) {
			b64_append(&b->line, b->carry, 3);
			b->ncarry = 0;
			b->col += 4;
			if (b->col == 76) {
				buf_append(&b->line, "\r\n", 2);
				b->col = 0;
			}
			if (b->line.len >= 8192) {
				int rc = b64w_flush(b, 0);

				if (rc)
					return rc;
			}
		}
	}
	return IMDR_OK;
}

static int
b64w_end(struct b64w *b)
{
	int rc = b64w_flush(b, 1);

	/* the body ends with a line break: the boundary's CRLF follows it */
	if (rc == IMDR_OK && b->col > 0)
		rc = outw_write(b->w, "\r\n", 2);
	b->col = 0;
	buf_free(&b->line);
	return rc;
}

/* header: "Name: value", value as RFC 2047 encoded words when it is not
 * plain ASCII, folded. */
static void
header(struct buf *h, const char *name, const char *value)
{
	const unsigned char *p = (const unsigned char *)value;
	int ascii = 1;

	for (; *p; p++)
		if (*p >= 0x80 || *p < 0x20)
			ascii = 0;
	buf_printf(h, "%s: ", name);
	if (ascii) {
		size_t col = strlen(name) + 2;
		const char *s = value;

		/* fold at spaces past 76 columns */
		while (*s) {
			const char *sp = strchr(s, ' ');
			size_t w = sp ? (size_t)(sp - s) : strlen(s);

			if (col + w > 76 && col > strlen(name) + 2) {
				buf_puts(h, "\r\n ");
				col = 1;
			}
			buf_append(h, s, w);
			col += w;
			s += w;
			if (*s == ' ') {
				buf_putc(h, ' ');
				col++;
				s++;
			}
		}
		buf_puts(h, "\r\n");
		return;
	}
	/* encoded words of at most 45 bytes of UTF-8 (60 of base64), split
	 * between characters */
	p = (const unsigned char *)value;
	while (*p) {
		size_t n = 0;

		while (p[n] && n < 45) {
			size_t k = p[n] < 0x80 ? 1 : (p[n] & 0xE0) == 0xC0 ? 2 : (p[n] & 0xF0) == 0xE0 ? 3 : 4;

			if (n + k > 45)
				break;
			for (size_t j = 1; j < k; j++)
				if (p[n + j] == '\0')
					k = j;
			n += k;
		}
		buf_puts(h, "=?UTF-8?B?");
		{
			uint8_t tmp[48];

			for (size_t j = 0; j < n; j++)
				tmp[j] = (uint8_t)((p[j] < 0x20) ? ' ' : p[j]);
			b64_append(h, tmp, n);
		}
		buf_puts(h, "?=");
		p += n;
		if (*p)
			buf_puts(h, "\r\n ");
	}
	buf_puts(h, "\r\n");
}

static void
rfc5322_date(int64_t ms, char *out, size_t cap)
{
	static const char *const days[] = { "Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat" };
	static const char *const months[] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul",
	    "Aug", "Sep", "Oct", "Nov", "Dec" };
	time_t t = (time_t)(ms / 1000);
	struct tm tm;

	gmtime_r(&t, &tm);
	snprintf(out, cap, "%s, %02d %s %04d %02d:%02d:%02d +0000", days[tm.tm_wday], tm.tm_mday,
	    months[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

static const char *
platform(const char *format)
{
	if (strcmp(format, "slack") == 0)
		return "slack";
	if (strcmp(format, "mattermost") == 0)
		return "mattermost";
	return "imdr";
}

static const char *
application(const char *format)
{
	if (strcmp(format, "slack") == 0)
		return "Slack";
	if (strcmp(format, "mattermost") == 0)
		return "Mattermost";
	return "imdr chat export";
}

/* zip_name: the attachment's name in rsmf.zip: "<message id>-<name>",
 * nothing but a plain file name. */
static char *
zip_name(const char *mid, const char *name)
{
	char *z = xasprintf("%s-%s", mid, *name ? name : "attachment");

	for (char *p = z; *p; p++)
		if (*p == '/' || *p == '\\' || (unsigned char)*p < 0x20 || *p == 0x7f)
			*p = '_';
	if (strcmp(z, "rsmf_manifest.json") == 0 || z[0] == '.')
		z[0] = '_';
	return z;
}

struct ziprec {
	char *tree_path;	/* in the snapshot */
	char *name;		/* in rsmf.zip */
	long snap;
	uint64_t size;
};

struct file {
	struct xrun *x;
	const struct xconv *c;
	json_t *events;
	struct smap parts;	/* participant ids seen */
	json_t *participants;
	struct ziprec *z;
	size_t nz;
	struct smap zby;	/* tree path -> z index */
	struct smap znames;	/* names taken */
	struct buf text;	/* the transcript part */
	int deleted;
	struct chat_parser *cp;
};

static void
participant(struct file *f, const char *id)
{
	const char *name;
	const struct chat_user *u;
	json_t *p;

	if (id == NULL || *id == '\0' || smap_get(&f->parts, id, NULL))
		return;
	smap_put(&f->parts, id, 0);
	u = chat_user_find(f->x->src[f->c->source].users, f->x->src[f->c->source].nusers, id);
	name = u ? chat_user_display(u) : id;
	p = json_pack("{s:s, s:s, s:s}", "id", id, "display", name, "account_id", id);
	if (u && u->email && *u->email && strchr(u->email, '@'))
		json_object_set_new(p, "email", json_string(u->email));
	json_array_append_new(f->participants, p);
}

static void
custom(json_t *ev, const char *name, const char *value)
{
	json_t *c;

	if (value == NULL || *value == '\0')
		return;
	c = json_object_get(ev, "custom");
	if (c == NULL) {
		c = json_array();
		json_object_set_new(ev, "custom", c);
	}
	json_array_append_new(c, json_pack("{s:s, s:s}", "name", name, "value", value));
}

static const char *
event_type(const char *subtype)
{
	if (subtype == NULL)
		return "message";
	if (strstr(subtype, "join"))
		return "join";
	if (strstr(subtype, "leave"))
		return "leave";
	return "message";
}

static int
add_event(struct file *f, const struct xmsg *m, struct smap *in_file)
{
	struct xrun *x = f->x;
	struct chat_msg cm;
	json_t *ev, *atts = NULL;
	char t[40];
	long gone = -1;
	int rc;

	rc = chat_parse_msg(f->cp, m->line, strlen(m->line), &cm);
	if (rc)
		return err_set(rc, "message %s of %s: %s", m->mid, f->c->folder, err_msg(rc));
	participant(f, cm.user);
	time_format(cm.ts_ms * 1000000, 3, t);
	ev = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "id", cm.id, "type", event_type(cm.subtype),
	    "participant", *cm.user ? cm.user : "unknown", "conversation", f->c->key,
	    "timestamp", t, "body", cm.text);
	if (*cm.user == '\0')
		participant(f, "unknown");
	if (cm.thread && strcmp(cm.thread, cm.id) != 0) {
		if (smap_get(in_file, cm.thread, NULL))
			json_object_set_new(ev, "parent", json_string(cm.thread));
		else
			custom(ev, "thread (first message not in this file)", cm.thread);
	}
	if (cm.deleted || xrun_deleted_later(x, m, &gone)) {
		json_object_set_new(ev, "deleted", json_true());
		f->deleted = 1;
	}
	if (gone >= 0) {
		char g[40];

		time_format(x->snaps[gone].s->time_ns, 0, g);
		custom(ev, "imdr: gone from the export in snapshot", x->snaps[gone].s->id);
		custom(ev, "imdr: gone from the export at", g);
	}
	if (cm.nreact) {
		json_t *rs = json_array();

		for (size_t i = 0; i < cm.nreact; i++) {
			json_t *us = json_array();

			if (*cm.react[i].name == '\0')
				continue;
			for (size_t k = 0; k < cm.react[i].nusers; k++) {
				participant(f, cm.react[i].users[k]);
				if (*cm.react[i].users[k])
					json_array_append_new(us, json_string(cm.react[i].users[k]));
			}
			json_array_append_new(rs, json_pack("{s:s, s:I, s:o}", "value", cm.react[i].name,
			    "count", (json_int_t)cm.react[i].nusers, "participants", us));
		}
		json_object_set_new(ev, "reactions", rs);
	}
	/* edits: each text the message had before, or the export's mark */
	if (m->nver > 1 || cm.edited_ms) {
		json_t *eds = json_array();

		for (size_t v = 1; v < m->nver; v++) {
			json_t *e = json_pack("{s:s, s:s, s:s}", "participant", *cm.user ? cm.user : "unknown",
			    "previous", m->ver[v - 1].text, "new", m->ver[v].text);

			if (m->ver[v].edited_ms > 1) {
				time_format(m->ver[v].edited_ms * 1000000, 3, t);
				json_object_set_new(e, "timestamp", json_string(t));
			}
			json_array_append_new(eds, e);
		}
		if (m->nver <= 1) {
			json_t *e = json_pack("{s:s}", "participant", *cm.user ? cm.user : "unknown");

			if (cm.edited_ms > 1) {
				time_format(cm.edited_ms * 1000000, 3, t);
				json_object_set_new(e, "timestamp", json_string(t));
			}
			json_array_append_new(eds, e);
		}
		json_object_set_new(ev, "edits", eds);
	}
	for (size_t i = 0; i < cm.natt; i++) {
		char *tp = cm.att[i].path ? xrun_att_path(m->line_folder, cm.att[i].path) : NULL;
		uint64_t size = 0;
		size_t zi;

		if (tp && !smap_get(&f->zby, tp, &zi)) {
			rc = xrun_copy_file(x, m->line_snap, tp, NULL, &size);
			if (rc == IMDR_OK) {
				char *name = zip_name(cm.id, cm.att[i].name);

				for (int k = 2; smap_get(&f->znames, name, NULL); k++) {
					free(name);
					name = xasprintf("%d-%s", k, cm.id);
					{
						char *n2 = zip_name(name, cm.att[i].name);

						free(name);
						name = n2;
					}
				}
				f->z = xrealloc(f->z, (f->nz + 1) * sizeof(*f->z));
				f->z[f->nz] = (struct ziprec){ xstrdup(tp), name, m->line_snap, size };
				smap_put(&f->znames, name, f->nz);
				smap_put(&f->zby, tp, f->nz);
				zi = f->nz++;
			} else if (rc == IMDR_ENOENT) {
				err_clear();
				rc = IMDR_OK;
				free(tp);
				tp = NULL;
			} else {
				free(tp);
				json_decref(ev);
				return rc;
			}
		}
		if (tp == NULL) {
			custom(ev, "attachment not in the export", cm.att[i].name);
			x->res->missing_attachments++;
			continue;
		}
		free(tp);
		if (atts == NULL)
			atts = json_array();
		json_array_append_new(atts, json_pack("{s:s, s:s, s:I}", "id", f->z[zi].name,
		    "display", *cm.att[i].name ? cm.att[i].name : f->z[zi].name,
		    "size", (json_int_t)f->z[zi].size));
	}
	if (atts)
		json_object_set_new(ev, "attachments", atts);
	if (cm.subtype)
		custom(ev, "subtype", cm.subtype);
	if (x->o->all) {
		custom(ev, "imdr: first seen in snapshot", x->snaps[m->first].s->id);
		custom(ev, "imdr: last seen in snapshot", x->snaps[m->last].s->id);
	}
	json_array_append_new(f->events, ev);
	/* the transcript */
	{
		const char *who = xrun_user(x, f->c->source, cm.user);

		time_format(cm.ts_ms * 1000000, 0, t);
		t[10] = ' ';
		buf_printf(&f->text, "[%s] %s: %s%s", t, who ? who : cm.user, cm.text,
		    cm.deleted ? " (deleted)" : "");
		for (size_t i = 0; i < cm.natt; i++)
			buf_printf(&f->text, " [attachment: %s]", cm.att[i].name);
		buf_puts(&f->text, "\n");
	}
	return IMDR_OK;
}

static void
file_free(struct file *f)
{
	json_decref(f->events);
	json_decref(f->participants);
	for (size_t i = 0; i < f->nz; i++) {
		free(f->z[i].tree_path);
		free(f->z[i].name);
	}
	free(f->z);
	smap_free(&f->parts);
	smap_free(&f->zby);
	smap_free(&f->znames);
	buf_free(&f->text);
	chat_parser_free(f->cp);
}

static int
write_one(struct xrun *x, struct outw *w, const struct xconv *c, const size_t *msgs, size_t n,
    const char *day, const char *prefix, size_t part, size_t parts)
{
	const struct snapshot *src_snap = x->snaps[x->src[c->source].newest].s;
	struct file f;
	struct smap in_file = SMAP_INIT;
	json_t *man, *conv, *cparts;
	struct buf h = BUF_INIT;
	struct b64w bw;
	struct outw *z = NULL;
	char *js = NULL, *path = NULL, *subject, *display, *coll;
	char t0[40], t1[40], date[64], hex[65], boundary[64];
	uint8_t sum[32];
	int rc = IMDR_OK;

	memset(&f, 0, sizeof(f));
	f.x = x;
	f.c = c;
	f.events = json_array();
	f.participants = json_array();
	f.cp = chat_parser_new();
	for (size_t i = 0; i < n; i++)
		smap_put(&in_file, x->msg[msgs[i]].mid, i);
	for (size_t i = 0; i < c->nmembers; i++)
		participant(&f, c->members[i]);
	for (size_t i = 0; i < n && rc == IMDR_OK; i++)
		rc = add_event(&f, &x->msg[msgs[i]], &in_file);
	smap_free(&in_file);
	if (rc)
		goto out;
	if (json_array_size(f.participants) == 0)
		participant(&f, "unknown");
	cparts = json_array();
	{
		size_t i;
		json_t *p;

		json_array_foreach(f.participants, i, p)
			json_array_append(cparts, json_object_get(p, "id"));
	}
	display = c->kind && (strcmp(c->kind, "channel") == 0 || strcmp(c->kind, "private") == 0) ?
	    xasprintf("#%s", c->name ? c->name : c->folder) : xstrdup(c->name ? c->name : c->folder);
	coll = xasprintf("%s/%s", x->src[c->source].name, c->key);
	conv = json_pack("{s:s, s:s, s:s, s:s, s:o}", "id", c->key, "display", display,
	    "platform", platform(src_snap->format), "type",
	    c->kind && (strcmp(c->kind, "dm") == 0 || strcmp(c->kind, "group") == 0) ? "direct" :
	    "channel", "participants", cparts);
	json_object_set_new(conv, "custom", json_pack("[{s:s, s:s}, {s:s, s:s}]", "name",
	    "imdr folder", "value", c->folder, "name", "imdr source", "value",
	    x->src[c->source].name));
	man = json_pack("{s:s, s:O, s:[o], s:O, s:s}", "version", RSMF_VERSION, "participants",
	    f.participants, "conversations", conv, "events", f.events, "eventcollectionid", coll);
	js = json_dumps(man, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(man);
	if (js == NULL) {
		rc = err_set(IMDR_EINVAL, "%s %s: cannot encode the RSMF manifest", c->folder, day);
		free(display);
		free(coll);
		goto out;
	}
	crypto_sha256(js, strlen(js), sum);
	hex_encode(sum, 32, hex);
	snprintf(boundary, sizeof(boundary), "=_imdr_rsmf_%.24s", hex);
	/* the message's headers */
	time_format(x->msg[msgs[0]].ts_ms * 1000000, 3, t0);
	time_format(x->msg[msgs[n - 1]].ts_ms * 1000000, 3, t1);
	rfc5322_date(x->msg[msgs[n - 1]].ts_ms, date, sizeof(date));
	subject = parts > 1 ? xasprintf("%s %s %s (UTC), part %zu of %zu",
	    application(src_snap->format), display, day, part, parts) :
	    xasprintf("%s %s %s (UTC)", application(src_snap->format), display, day);
	buf_puts(&h, "MIME-Version: 1.0\r\n");
	header(&h, "From", "imdr export <export@imdr.invalid>");
	buf_printf(&h, "Date: %s\r\n", date);
	header(&h, "Subject", subject);
	buf_printf(&h, "Message-ID: <%.32s.%s@imdr.invalid>\r\n", hex, day);
	buf_puts(&h, "X-RSMF-Version: " RSMF_VERSION "\r\n");
	header(&h, "X-RSMF-Generator", x->o->tool ? x->o->tool : "imdr");
	header(&h, "X-RSMF-Application", application(src_snap->format));
	buf_printf(&h, "X-RSMF-BeginDate: %s\r\nX-RSMF-EndDate: %s\r\n", t0, t1);
	buf_printf(&h, "X-RSMF-EventCount: %zu\r\nX-RSMF-AttachmentCount: %zu\r\n", n, f.nz);
	{
		struct buf pl = BUF_INIT;
		size_t i;
		json_t *p;

		json_array_foreach(f.participants, i, p) {
			if (i)
				buf_puts(&pl, ", ");
			buf_puts(&pl, json_string_value(json_object_get(p, "display")));
		}
		header(&h, "X-RSMF-Participants", buf_cstr(&pl));
		buf_free(&pl);
	}
	header(&h, "X-RSMF-EventCollectionID", coll);
	if (f.deleted)
		buf_puts(&h, "X-RSMF-ContainsDeletedEvents: true\r\n");
	buf_printf(&h, "Content-Type: multipart/mixed; boundary=\"%s\"\r\n\r\n", boundary);
	buf_printf(&h, "--%s\r\nContent-Type: text/plain; charset=utf-8\r\n"
	    "Content-Transfer-Encoding: base64\r\n\r\n", boundary);
	free(subject);
	free(display);
	free(coll);
	path = parts > 1 ? xasprintf("%s%s/%s-part%zu.rsmf", prefix, c->folder, day, part) :
	    xasprintf("%s%s/%s.rsmf", prefix, c->folder, day);
	rc = outw_begin(w, path, -1, 0);
	if (rc == IMDR_OK)
		rc = outw_write(w, h.data, h.len);
	/* the transcript */
	memset(&bw, 0, sizeof(bw));
	bw.w = w;
	if (rc == IMDR_OK)
		rc = b64w_write(&bw, f.text.data ? f.text.data : (const uint8_t *)"", f.text.len);
	if (rc == IMDR_OK)
		rc = b64w_end(&bw);
	if (rc == IMDR_OK) {
		h.len = 0;
		buf_printf(&h, "--%s\r\nContent-Type: application/zip; name=\"rsmf.zip\"\r\n"
		    "Content-Disposition: attachment; filename=\"rsmf.zip\"\r\n"
		    "Content-Transfer-Encoding: base64\r\n\r\n", boundary);
		rc = outw_write(w, h.data, h.len);
	}
	/* rsmf.zip, streamed into base64 */
	memset(&bw, 0, sizeof(bw));
	bw.w = w;
	if (rc == IMDR_OK)
		rc = outw_zip_stream(b64w_write, &bw, &z);
	if (rc == IMDR_OK)
		rc = outw_put(z, "rsmf_manifest.json", js, strlen(js), 1);
	for (size_t i = 0; i < f.nz && rc == IMDR_OK; i++) {
		rc = outw_begin(z, f.z[i].name, (int64_t)f.z[i].size, 0);
		if (rc == IMDR_OK)
			rc = xrun_copy_file(x, f.z[i].snap, f.z[i].tree_path, z, NULL);
		if (rc == IMDR_OK)
			rc = outw_end(z);
		x->res->attachments++;
	}
	if (z) {
		int crc = rc == IMDR_OK ? outw_close(z) : (outw_abort(z), IMDR_OK);

		if (rc == IMDR_OK)
			rc = crc;
	}
	if (rc == IMDR_OK)
		rc = b64w_end(&bw);
	else
		buf_free(&bw.line);
	if (rc == IMDR_OK) {
		h.len = 0;
		buf_printf(&h, "--%s--\r\n", boundary);
		rc = outw_write(w, h.data, h.len);
	}
	if (rc == IMDR_OK)
		rc = outw_end(w);
out:
	free(js);
	free(path);
	buf_free(&h);
	file_free(&f);
	return rc;
}

int
rsmf_write_day(struct xrun *x, struct outw *w, const struct xconv *c, const size_t *msgs,
    size_t n, const char *day, const char *prefix)
{
	size_t parts = (n + EXPORT_RSMF_MAX_EVENTS - 1) / EXPORT_RSMF_MAX_EVENTS;
	int rc = IMDR_OK;

	for (size_t p = 0; p < parts && rc == IMDR_OK; p++) {
		size_t start = p * EXPORT_RSMF_MAX_EVENTS;
		size_t len = n - start < EXPORT_RSMF_MAX_EVENTS ? n - start : EXPORT_RSMF_MAX_EVENTS;

		rc = write_one(x, w, c, msgs + start, len, day, prefix, p + 1, parts);
	}
	return rc;
}
