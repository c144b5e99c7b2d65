/* slack — a Slack workspace export (a folder or a .zip) into the canonical
 * tree. The export: users.json, channels.json, groups.json (private
 * channels), dms.json, mpims.json, and one folder per conversation (named by
 * the channel's name, a DM's id, an MPIM's name) of <YYYY-MM-DD>.json day
 * files, each an array of messages. Exports made by some tools also carry
 * the shared files, under a path naming the file id (__uploads/F0123/x.pdf,
 * <channel>/attachments/F0123-x.pdf, ...).
 *
 * Passes over the export: (1) the lists; (2) the day files of as many
 * conversations as fit the memory budget, which are then written out, and
 * again until all are done; (3) the attachments present; (4) source/, the
 * export as it is. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "ingest/ingest_impl.h"
#include "lib/err.h"
#include "lib/log.h"
#include "lib/text.h"

#define BATCH_JSON_BYTES (256u << 20)	/* day-file bytes parsed per pass */
#define LIST_MAX (1024u << 20)		/* a users.json or a day file */

struct want {
	char *entry;		/* export file holding the bytes */
	char *path;		/* where they go in the tree */
};

struct slack {
	struct src *s;
	struct canon *cn;
	const struct ingest_sink *sink;
	json_t *lists[5];
	/* conversation of each folder */
	char **folder;
	size_t *conv;
	size_t nfolders, capf;
	uint64_t *bytes;		/* day-file bytes per conversation */
	char *in_batch;
	/* files present: Slack file id -> export path */
	struct strmap *files;
	/* fid -> first place in the tree (for files shared twice) */
	struct strmap *placed;
	struct want *w;
	size_t nw, capw;
	const char *team;	/* the workspace's id (users' team_id), in lists[0] */
	int strict;
	struct strmap *conv_ids;	/* id -> the list that named it first */
};

static const char *const list_names[5] = { "users.json", "channels.json",
    "groups.json", "dms.json", "mpims.json" };

static int
slack_looks(const struct src *s)
{
	return src_has(s, "users.json") && (src_has(s, "channels.json") ||
	    src_has(s, "groups.json") || src_has(s, "dms.json") || src_has(s, "mpims.json"));
}

/* slack_probe: users.json with a list of conversations at the top. */
static int
slack_probe(struct ingest_probe *p)
{
	return probe_top_has(p, "users.json") && (probe_top_has(p, "channels.json") ||
	    probe_top_has(p, "groups.json") || probe_top_has(p, "dms.json") ||
	    probe_top_has(p, "mpims.json")) ? 100 : 0;
}

/* day_file: "<folder>/<YYYY-MM-DD>.json" -> folder length, else 0. */
static size_t
day_file(const char *name)
{
	const char *slash = strrchr(name, '/');
	const char *d;

	if (slash == NULL || slash == name || strchr(name, '/') != slash)
		return 0;
	d = slash + 1;
	if (strlen(d) != 15 || strcmp(d + 10, ".json") != 0)
		return 0;
	for (int i = 0; i < 10; i++)
		if (i == 4 || i == 7 ? d[i] != '-' : !isdigit((unsigned char)d[i]))
			return 0;
	return (size_t)(slash - name);
}

static int
parse_json(const struct buf *b, const char *what, json_t **ret)
{
	json_error_t e;

	*ret = json_loadb((const char *)b->data, b->len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &e);
	if (*ret == NULL)
		return err_set(IMDR_EFORMAT, "%s:%d: malformed JSON: %s", what, e.line, e.text);
	return IMDR_OK;
}

/* warn_bad_file: a JSON file of the export that is left out: rc's message
 * ("<name>:<line>: what") as the warning "<name>:<line>": "what; tail". */
static void
warn_bad_file(struct slack *sl, const char *name, int rc, const char *tail)
{
	const char *why = err_msg(rc), *sep;
	char *where, *msg;

	sep = strncmp(why, name, strlen(name)) == 0 ? strstr(why + strlen(name), ": ") : NULL;
	where = sep ? xstrndup(why, (size_t)(sep - why)) : xstrdup(name);
	msg = xasprintf("%s; %s", sep ? sep + 2 : why, tail);
	sl->sink->warn(sl->sink->ctx, where, msg);
	free(where);
	free(msg);
}

/* ---- pass 1: the lists ---- */

static int
lists_one(void *ctx, const char *name, uint64_t size, int64_t mtime,
    const struct ingest_reader *rd)
{
	struct slack *sl = ctx;
	struct buf b = BUF_INIT;
	int rc;

	(void)size;
	(void)mtime;
	for (int i = 0; i < 5; i++) {
		if (strcmp(name, list_names[i]) != 0)
			continue;
		rc = src_read_all(rd, name, LIST_MAX, &b);
		if (rc == IMDR_OK)
			rc = parse_json(&b, name, &sl->lists[i]);
		if (rc == IMDR_OK && !json_is_array(sl->lists[i]))
			rc = err_set(IMDR_EFORMAT, "%s: not a JSON array (is this a Slack export?)", name);
		buf_free(&b);
		if (rc == IMDR_EFORMAT && !sl->strict) {
			/* one bad list: its conversations' folders are still kept
			 * (as channels no list names), the file itself in source/ */
			warn_bad_file(sl, name, rc, "the list is ignored (kept in source/)");
			err_clear();
			json_decref(sl->lists[i]);
			sl->lists[i] = NULL;
			rc = IMDR_OK;
		}
		return rc;
	}
	return IMDR_OK;
}

static void
add_folder(struct slack *sl, const char *folder, size_t conv)
{
	if (sl->nfolders == sl->capf) {
		sl->capf = sl->capf ? sl->capf * 2 : 64;
		sl->folder = xrealloc(sl->folder, sl->capf * sizeof(*sl->folder));
		sl->conv = xrealloc(sl->conv, sl->capf * sizeof(*sl->conv));
	}
	sl->folder[sl->nfolders] = xstrdup(folder);
	sl->conv[sl->nfolders] = conv;
	sl->nfolders++;
}

static long
find_folder(struct slack *sl, const char *folder, size_t len)
{
	for (size_t i = 0; i < sl->nfolders; i++)
		if (strlen(sl->folder[i]) == len && memcmp(sl->folder[i], folder, len) == 0)
			return (long)sl->conv[i];
	return -1;
}

static void
load_users(struct slack *sl)
{
	size_t i;
	json_t *u;

	json_array_foreach(sl->lists[0], i, u) {
		json_t *prof = json_object_get(u, "profile");
		struct canon_user cu = { 0 };
		const char *real = json_str(u, "real_name");

		if (!json_is_object(u))
			continue;
		cu.id = json_str(u, "id");
		cu.name = json_str(u, "name");
		if (real == NULL || *real == '\0')
			real = json_str(prof, "real_name");
		if (real == NULL || *real == '\0')
			real = json_str(prof, "display_name");
		cu.real_name = real;
		cu.email = json_str(prof, "email");
		cu.is_bot = json_is_true(json_object_get(u, "is_bot"));
		cu.deleted = json_is_true(json_object_get(u, "deleted"));
		canon_user(sl->cn, &cu);
		/* the workspace: its users' team; names the source by default */
		if (sl->team == NULL && json_str(u, "team_id") && *json_str(u, "team_id") &&
		    !cu.is_bot)
			sl->team = json_str(u, "team_id");
	}
}

static int
load_convs(struct slack *sl, int list, enum canon_kind kind)
{
	size_t i;
	json_t *c;
	int rc;

	json_array_foreach(sl->lists[list], i, c) {
		const char *id = json_str(c, "id"), *name = json_str(c, "name");
		json_t *mem = json_object_get(c, "members"), *m;
		const char **members;
		const char *first;
		size_t n = 0, k, conv;
		char dmname[256];

		if (!json_is_object(c) || id == NULL)
			continue;
		if ((first = strmap_get(sl->conv_ids, id)) != NULL) {
			/* one id listed twice (within a list, or in groups.json and
			 * mpims.json): one conversation, the first entry's; the
			 * other entry's folder holds its messages too */
			char *msg;

			if (sl->strict)
				return err_set(IMDR_EFORMAT, "%s: conversation %s is listed again (first in %s)",
				    list_names[list], id, first);
			msg = xasprintf("conversation %s is listed again (first in %s): this entry is ignored",
			    id, first);
			sl->sink->warn(sl->sink->ctx, list_names[list], msg);
			free(msg);
			if (name && find_folder(sl, name, strlen(name)) < 0)
				add_folder(sl, name, (size_t)find_folder(sl, id, strlen(id)));
			continue;
		}
		strmap_put(sl->conv_ids, id, list_names[list]);
		members = xcalloc(json_array_size(mem) + 1, sizeof(*members));
		json_array_foreach(mem, k, m)
			if (json_is_string(m))
				members[n++] = json_string_value(m);
		if (kind == CANON_DM || name == NULL) {
			/* a DM is named by its people (user names over ids), at
			 * most 200 bytes, cut between characters */
			struct buf b = BUF_INIT;

			for (k = 0; k < n; k++)
				buf_printf(&b, "%s%s", k ? "--" : "", canon_user_login(sl->cn, members[k]));
			buf_cstr(&b);
			b.data[text_utf8_cut((char *)b.data, 200)] = '\0';
			snprintf(dmname, sizeof(dmname), "%s", (char *)b.data);
			buf_free(&b);
			if (name == NULL)
				name = n ? dmname : id;
		}
		rc = canon_conv(sl->cn, id, kind == CANON_DM && n ? dmname : name, kind,
		    members, n, ts_scale(json_num(json_object_get(c, "created"), 0), 1000, 0),
		    json_str(json_object_get(c, "topic"), "value"),
		    json_str(json_object_get(c, "purpose"), "value"),
		    json_is_true(json_object_get(c, "is_archived")), &conv);
		free(members);
		if (rc)
			return rc;
		/* folders are named by the name (channels, groups, mpims) or by
		 * the id (DMs); accept either */
		if (json_str(c, "name"))
			add_folder(sl, json_str(c, "name"), conv);
		add_folder(sl, id, conv);
	}
	return IMDR_OK;
}

/* file ids: F followed by at least six capitals or digits */
static size_t
fid_len(const char *p)
{
	size_t n = 1;

	if (*p != 'F')
		return 0;
	while ((p[n] >= 'A' && p[n] <= 'Z') || (p[n] >= '0' && p[n] <= '9'))
		n++;
	return n >= 7 ? n : 0;
}

static void
index_files(struct slack *sl)
{
	for (size_t i = 0; i < sl->s->n; i++) {
		const char *name = sl->s->names[i], *p = name;

		if (strchr(name, '/') == NULL)
			continue;	/* top level: the lists */
		if (day_file(name))
			continue;
		/* a path part that is, or starts with, a file id */
		while (*p) {
			size_t l = fid_len(p);

			if (l && (p[l] == '/' || p[l] == '-' || p[l] == '_' || p[l] == '.' ||
			    p[l] == '\0') && (p == name || p[-1] == '/')) {
				char *fid = xstrndup(p, l);

				strmap_put(sl->files, fid, name);
				free(fid);
				break;
			}
			p = strchr(p, '/');
			if (p == NULL)
				break;
			p++;
		}
	}
}

/* ---- pass 2: messages ---- */

static void
add_file(struct slack *sl, size_t conv, const char *msgid, json_t *f,
    const char *where, struct canon_att *a, char **owned)
{
	const char *fid = json_str(f, "id"), *name = json_str(f, "name"), *entry;
	const char *mode = json_str(f, "mode");

	if (name == NULL || *name == '\0')
		name = json_str(f, "title");
	if (name == NULL || *name == '\0')
		name = fid ? fid : "unnamed";
	a->name = name;
	a->size = (uint64_t)json_num(json_object_get(f, "size"), 0);
	a->url = json_str(f, "url_private");
	if (a->url == NULL)
		a->url = json_str(f, "url_private_download");
	if (a->url == NULL)
		a->url = json_str(f, "permalink");
	a->path = NULL;
	entry = fid ? strmap_get(sl->files, fid) : NULL;
	if (entry == NULL || (mode && (strcmp(mode, "tombstone") == 0 ||
	    strcmp(mode, "hidden_by_limit") == 0) && entry == NULL)) {
		canon_missing(sl->cn, where, name);
		return;
	}
	if ((a->path = strmap_get(sl->placed, fid)) != NULL) {
		/* shared again: point at the first copy */
		const char *dir = canon_conv_dir(sl->cn, conv);
		const char *first = a->path;

		if (strncmp(first, dir, strlen(dir)) == 0 && first[strlen(dir)] == '/')
			*owned = xstrdup(first + strlen(dir) + 1);
		else
			*owned = xasprintf("../%s", first + strlen("conversations/"));
		a->path = *owned;
		return;
	}
	*owned = canon_att_path(sl->cn, conv, msgid, name);
	a->path = *owned;
	if (sl->nw == sl->capw) {
		sl->capw = sl->capw ? sl->capw * 2 : 64;
		sl->w = xrealloc(sl->w, sl->capw * sizeof(*sl->w));
	}
	sl->w[sl->nw].entry = xstrdup(entry);
	sl->w[sl->nw].path = xasprintf("%s/%s", canon_conv_dir(sl->cn, conv), *owned);
	strmap_put(sl->placed, fid, sl->w[sl->nw].path);
	sl->nw++;
}

static void
convert_message(struct slack *sl, size_t conv, json_t *m, const char *where)
{
	static const char *const modeled[] = { "type", "ts", "user", "text",
	    "thread_ts", "edited", "subtype", "reactions", "files", "file", NULL };
	struct canon_msg cm = { 0 };
	json_t *tsv = json_object_get(m, "ts"), *files, *f, *raw, *reac = NULL, *r;
	struct canon_att atts[64];
	char *owned[64] = { 0 }, tsbuf[64];
	const char *ts, *subtype = json_str(m, "subtype");
	size_t natts = 0, i;

	if (json_is_string(tsv))
		ts = json_string_value(tsv);
	else if (json_is_number(tsv)) {
		snprintf(tsbuf, sizeof(tsbuf), "%.6f", json_number_value(tsv));
		ts = tsbuf;
	} else {
		sl->sink->warn(sl->sink->ctx, where, "a message without a ts: kept in source/ only");
		return;
	}
	cm.ts_ms = ts_parse_slack(ts);
	if (cm.ts_ms < 0) {
		char *msg = xasprintf("a message with a malformed ts \"%s\": kept in source/ only", ts);

		sl->sink->warn(sl->sink->ctx, where, msg);
		free(msg);
		return;
	}
	cm.id = ts;
	cm.user = json_str(m, "user");
	if (cm.user == NULL || *cm.user == '\0') {
		/* bots and integrations: bot_id, username, bot_profile */
		json_t *bp = json_object_get(m, "bot_profile");
		struct canon_user bu = { 0 };

		bu.id = json_str(m, "bot_id");
		if (bu.id == NULL)
			bu.id = json_str(bp, "id");
		bu.name = json_str(m, "username");
		if (bu.name == NULL)
			bu.name = json_str(bp, "name");
		if (bu.id == NULL)
			bu.id = bu.name ? bu.name : "unknown";
		bu.is_bot = 1;
		canon_user(sl->cn, &bu);
		cm.user = bu.id;
	} else if (!canon_has_user(sl->cn, cm.user)) {
		json_t *up = json_object_get(m, "user_profile");
		struct canon_user uu = { 0 };

		uu.id = cm.user;
		uu.name = json_str(up, "name");
		if (uu.name == NULL)
			uu.name = json_str(up, "display_name");
		uu.real_name = json_str(up, "real_name");
		canon_user(sl->cn, &uu);
	}
	cm.text = json_str(m, "text");
	cm.thread = json_str(m, "thread_ts");
	{
		json_t *ed = json_object_get(m, "edited");
		const char *ets = json_str(ed, "ts");

		if (ets)
			cm.edited_ms = ts_parse_slack(ets) > 0 ? ts_parse_slack(ets) : 0;
	}
	cm.subtype = subtype;
	cm.deleted = subtype && strcmp(subtype, "tombstone") == 0;
	r = json_object_get(m, "reactions");
	if (json_is_array(r)) {
		json_t *x;

		reac = json_array();
		json_array_foreach(r, i, x) {
			json_t *users = json_object_get(x, "users");

			if (json_str(x, "name") == NULL)
				continue;
			/* "o" takes the reference: the export's array gets one of
			 * its own, a fresh one (users not an array) is handed over
			 * ("O" leaked it) */
			users = json_is_array(users) ? json_incref(users) : json_array();
			json_array_append_new(reac, json_pack("{s:s, s:o}", "name", json_str(x, "name"),
			    "users", users));
		}
		cm.reactions = reac;
	}
	files = json_object_get(m, "files");
	if (json_is_array(files)) {
		json_array_foreach(files, i, f)
			if (json_is_object(f) && natts < 64) {
				add_file(sl, conv, ts, f, where, &atts[natts], &owned[natts]);
				natts++;
			}
	}
	f = json_object_get(m, "file");	/* the old single-file form */
	if (json_is_object(f) && natts < 64) {
		add_file(sl, conv, ts, f, where, &atts[natts], &owned[natts]);
		natts++;
	}
	cm.atts = atts;
	cm.natts = natts;
	raw = json_deep_copy(m);
	for (int k = 0; modeled[k]; k++)
		json_object_del(raw, modeled[k]);
	cm.raw = raw;
	canon_msg(sl->cn, conv, &cm);
	json_decref(raw);
	json_decref(reac);
	for (size_t k = 0; k < natts; k++)
		free(owned[k]);
}

static int
days_one(void *ctx, const char *name, uint64_t size, int64_t mtime,
    const struct ingest_reader *rd)
{
	struct slack *sl = ctx;
	size_t fl = day_file(name), i;
	struct buf b = BUF_INIT;
	json_t *day, *m;
	long conv;
	int rc;

	(void)size;
	(void)mtime;
	if (fl == 0 || (conv = find_folder(sl, name, fl)) < 0 || !sl->in_batch[conv])
		return IMDR_OK;
	day = NULL;
	rc = src_read_all(rd, name, LIST_MAX, &b);
	if (rc == IMDR_OK)
		rc = parse_json(&b, name, &day);
	buf_free(&b);
	if (rc == IMDR_OK && !json_is_array(day))
		rc = err_set(IMDR_EFORMAT, "%s: not a JSON array of messages", name);
	if (rc == IMDR_EFORMAT && !sl->strict) {
		/* one bad day file: the conversation's other days go on */
		warn_bad_file(sl, name, rc, "its messages are kept in source/ only");
		err_clear();
		rc = IMDR_OK;
	}
	if (rc || day == NULL || !json_is_array(day)) {
		json_decref(day);
		return rc;
	}
	json_array_foreach(day, i, m)
		if (json_is_object(m))
			convert_message(sl, (size_t)conv, m, name);
	json_decref(day);
	return IMDR_OK;
}

/* ---- pass 3: attachments ---- */

static int
cmp_want(const void *a, const void *b)
{
	return strcmp(((const struct want *)a)->entry, ((const struct want *)b)->entry);
}

static int
atts_one(void *ctx, const char *name, uint64_t size, int64_t mtime,
    const struct ingest_reader *rd)
{
	struct slack *sl = ctx;
	size_t lo = 0, hi = sl->nw;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		int c = strcmp(sl->w[mid].entry, name);

		if (c == 0)
			return canon_emit_file(sl->cn, sl->w[mid].path, size, mtime, rd);
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return IMDR_OK;
}

/* ---- the reader ---- */

static int
slack_read(struct src *s, const struct ingest_opts *o,
    const struct ingest_sink *sink, struct ingest_result *ret)
{
	struct slack sl;
	size_t nconv;
	int rc;

	memset(&sl, 0, sizeof(sl));
	sl.s = s;
	sl.sink = sink;
	sl.strict = o && o->strict;
	if (!slack_looks(s))
		return err_set(IMDR_ESOURCE, "%s: not a Slack export (no users.json with channels.json, groups.json, dms.json or mpims.json at its top)",
		    s->path);
	sl.cn = canon_new(sink, "slack", sl.strict);
	sl.files = strmap_new();
	sl.placed = strmap_new();
	sl.conv_ids = strmap_new();
	rc = src_scan(s, lists_one, &sl);
	if (rc)
		goto out;
	load_users(&sl);
	rc = load_convs(&sl, 1, CANON_CHANNEL);
	if (rc == IMDR_OK)
		rc = load_convs(&sl, 2, CANON_PRIVATE);
	if (rc == IMDR_OK)
		rc = load_convs(&sl, 4, CANON_GROUP);
	if (rc == IMDR_OK)
		rc = load_convs(&sl, 3, CANON_DM);
	/* folders with day files that no list names: keep them */
	for (size_t i = 0; i < s->n && rc == IMDR_OK; i++) {
		size_t fl = day_file(s->names[i]), conv;
		char *folder;

		if (fl == 0 || find_folder(&sl, s->names[i], fl) >= 0)
			continue;
		folder = xstrndup(s->names[i], fl);
		rc = canon_conv(sl.cn, folder, folder, CANON_CHANNEL, NULL, 0, 0, NULL, NULL, 0, &conv);
		if (rc == IMDR_OK) {
			add_folder(&sl, folder, conv);
			sink->warn(sink->ctx, folder, "a conversation folder that no list names: kept as a channel");
		}
		free(folder);
	}
	if (rc)
		goto out;
	index_files(&sl);
	nconv = canon_nconvs(sl.cn);
	sl.bytes = xcalloc(nconv + 1, sizeof(*sl.bytes));
	sl.in_batch = xcalloc(nconv + 1, 1);
	for (size_t i = 0; i < s->n; i++) {
		size_t fl = day_file(s->names[i]);
		long c = fl ? find_folder(&sl, s->names[i], fl) : -1;

		if (c >= 0)
			sl.bytes[c] += s->sizes[i];
	}
	if (sink->named && sl.team) {
		char *name = xasprintf("slack-%s", sl.team);

		sink->named(sink->ctx, name);
		free(name);
	}
	/* pass 2, in batches that fit the budget */
	for (size_t start = 0; start < nconv && rc == IMDR_OK;) {
		size_t end = start;
		uint64_t total = 0;

		memset(sl.in_batch, 0, nconv);
		while (end < nconv && (end == start || total + sl.bytes[end] <= BATCH_JSON_BYTES)) {
			total += sl.bytes[end];
			sl.in_batch[end++] = 1;
		}
		rc = src_scan(s, days_one, &sl);
		for (size_t i = start; i < end && rc == IMDR_OK; i++)
			rc = canon_emit_conv(sl.cn, i);
		start = end;
	}
	if (rc == IMDR_OK && sl.nw > 0) {
		qsort(sl.w, sl.nw, sizeof(*sl.w), cmp_want);
		rc = src_scan(s, atts_one, &sl);
	}
	if (rc == IMDR_OK)
		rc = ingest_files_opts(s->path, "source", o, canon_sink(sl.cn));
	if (rc == IMDR_OK)
		rc = canon_finish(sl.cn, &ret->summary_json);
	if (rc == IMDR_OK && sl.team)
		ret->source_name = xasprintf("slack-%s", sl.team);
out:
	for (int i = 0; i < 5; i++)
		json_decref(sl.lists[i]);
	for (size_t i = 0; i < sl.nfolders; i++)
		free(sl.folder[i]);
	free(sl.folder);
	free(sl.conv);
	strmap_free(sl.files);
	strmap_free(sl.placed);
	strmap_free(sl.conv_ids);
	for (size_t i = 0; i < sl.nw; i++) {
		free(sl.w[i].entry);
		free(sl.w[i].path);
	}
	free(sl.w);
	free(sl.bytes);
	free(sl.in_batch);
	canon_free(sl.cn);
	return rc;
}

static int
slack_run(const char *source, const struct ingest_opts *o,
    const struct ingest_sink *sink, struct ingest_result *ret)
{
	struct src *s = NULL;
	int rc = src_open(source, &s);

	if (rc == IMDR_OK)
		rc = slack_read(s, o, sink, ret);
	src_free(s);
	return rc;
}

const struct ingest_format ingest_fmt_slack = {
	.name = "slack",
	.what = "a Slack workspace export (folder or .zip)",
	.probe = slack_probe,
	.run = slack_run,
};
