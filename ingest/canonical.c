/* canonical — imdr's own layout (docs/FORMAT.md) as input: backed up as it
 * is, file for file (so the files cache applies), with what a reader of the
 * tree relies on checked on the way: users.jsonl and messages.jsonl are
 * JSON lines with the required fields, meta.json a JSON object with a known
 * kind. A message whose ts is epoch seconds is rewritten with an RFC 3339
 * ts; every other byte is kept. A malformed file fails the backup, naming
 * the file and line. No source/ copy: the input is the canonical tree. */
#include <dirent.h>
#include <stdio.h>
#include <sys/stat.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "ingest/ingest_impl.h"
#include "lib/timefmt.h"
#include "lib/err.h"

enum doc { DOC_OTHER, DOC_USERS, DOC_META, DOC_MESSAGES };

struct canon_in {
	const struct ingest_sink *sink;
	const char *strip;	/* a top-level folder of an archive, or NULL */
};

int
canonical_looks(const struct src *s)
{
	if (!src_has(s, "users.jsonl"))
		return 0;
	for (size_t i = 0; i < s->n; i++) {
		const char *n = s->names[i];
		size_t len = strlen(n);

		if (strncmp(n, "conversations/", 14) == 0 && len > 24 &&
		    strcmp(n + len - 10, "/meta.json") == 0 && strchr(n + 14, '/') == n + len - 10)
			return 1;
	}
	return 0;
}

/* doc_of: which document path is (after stripping). */
static enum doc
doc_of(const char *path)
{
	size_t len = strlen(path);
	const char *slash;

	if (strcmp(path, "users.jsonl") == 0)
		return DOC_USERS;
	if (strncmp(path, "conversations/", 14) != 0)
		return DOC_OTHER;
	slash = strchr(path + 14, '/');
	if (slash == NULL || strchr(slash + 1, '/') != NULL)
		return DOC_OTHER;
	if (len > 10 && strcmp(slash, "/meta.json") == 0)
		return DOC_META;
	if (strcmp(slash, "/messages.jsonl") == 0)
		return DOC_MESSAGES;
	return DOC_OTHER;
}

/* A reader that checks (and for messages, normalizes) JSON lines as they
 * pass; meta.json is checked whole at its end. */
struct check_rd {
	const struct ingest_reader *in;
	enum doc doc;
	const char *path;
	struct buf line;	/* an incomplete line */
	struct buf out;		/* bytes ready for the caller */
	size_t out_pos;
	size_t lineno;
	int eof;
};

static int
check_line(struct check_rd *c, const char *p, size_t len, int newline)
{
	json_error_t je;
	json_t *o, *ts;
	const char *need[4] = { NULL };
	int rc = IMDR_OK;

	c->lineno++;
	if (len == 0 || (len == 1 && p[0] == '\r')) {
		buf_append(&c->out, p, len);
		if (newline)
			buf_putc(&c->out, '\n');
		return IMDR_OK;
	}
	/* \u0000 is valid JSON, and imdr writes it (a Slack text holding it) */
	o = json_loadb(p, len, JSON_ALLOW_NUL, &je);
	if (o == NULL || !json_is_object(o)) {
		json_decref(o);
		return err_set(IMDR_EFORMAT, "%s:%zu: %s", c->path, c->lineno,
		    o == NULL ? je.text : "not a JSON object");
	}
	if (c->doc == DOC_USERS) {
		need[0] = "id";
		need[1] = "name";
	} else {
		need[0] = "id";
		need[1] = "user";
	}
	for (int i = 0; need[i]; i++)
		if (!json_is_string(json_object_get(o, need[i]))) {
			rc = err_set(IMDR_EFORMAT, "%s:%zu: \"%s\" missing or not a string", c->path,
			    c->lineno, need[i]);
			goto out;
		}
	if (c->doc == DOC_MESSAGES) {
		int64_t ms;

		ts = json_object_get(o, "ts");
		if (json_is_number(ts)) {
			/* epoch seconds: the snapshot holds RFC 3339 */
			char buf[32], *s;
			double v = json_number_value(ts);

			/* clamped before the conversion, which is undefined
			 * outside int64 */
			v = v < -1e14 ? -1e14 : v > 1e14 ? 1e14 : v;
			time_format_ms((int64_t)(v * 1000 + (v >= 0 ? 0.5 : -0.5)), buf);
			json_object_set_new(o, "ts", json_string(buf));
			s = json_dumps(o, JSON_COMPACT);
			buf_puts(&c->out, s);
			free(s);
			if (newline)
				buf_putc(&c->out, '\n');
			goto out;
		}
		if (!json_is_string(ts) || time_parse_rfc3339_ms(json_string_value(ts), &ms) != 0) {
			rc = err_set(IMDR_EFORMAT, "%s:%zu: \"ts\" is neither RFC 3339 nor epoch seconds",
			    c->path, c->lineno);
			goto out;
		}
	}
	buf_append(&c->out, p, len);
	if (newline)
		buf_putc(&c->out, '\n');
out:
	json_decref(o);
	return rc;
}

static int
check_meta(struct check_rd *c)
{
	static const char *const kinds[] = { "channel", "private", "group", "dm", NULL };
	json_error_t je;
	json_t *o = json_loadb((const char *)c->line.data, c->line.len, JSON_ALLOW_NUL, &je);
	const char *kind;
	int ok = 0;

	if (o == NULL)
		return err_set(IMDR_EFORMAT, "%s:%d: %s", c->path, je.line, je.text);
	kind = json_str(o, "kind");
	for (int i = 0; kind && kinds[i]; i++)
		ok |= strcmp(kind, kinds[i]) == 0;
	if (!json_is_string(json_object_get(o, "id")) || !ok) {
		json_decref(o);
		return err_set(IMDR_EFORMAT, "%s: needs a string \"id\" and a \"kind\" of channel, private, group or dm",
		    c->path);
	}
	json_decref(o);
	buf_append(&c->out, c->line.data, c->line.len);
	c->line.len = 0;
	return IMDR_OK;
}

static int
check_read(void *rs, void *buf, size_t cap, size_t *ret_got)
{
	struct check_rd *c = rs;
	int rc;

	while (c->out_pos == c->out.len && !c->eof) {
		size_t got, start = 0;

		c->out.len = c->out_pos = 0;
		buf_reserve(&c->line, 65536);
		rc = c->in->read(c->in->rs, c->line.data + c->line.len, c->line.cap - c->line.len, &got);
		if (rc)
			return rc;
		if (got == 0) {
			c->eof = 1;
			if (c->doc == DOC_META)
				rc = check_meta(c);
			else if (c->line.len > 0)
				rc = check_line(c, (const char *)c->line.data, c->line.len, 0);
			if (rc)
				return rc;
			c->line.len = 0;
			break;
		}
		c->line.len += got;
		if (c->doc == DOC_META)
			continue;	/* whole */
		for (size_t i = 0; i < c->line.len; i++) {
			if (c->line.data[i] != '\n')
				continue;
			rc = check_line(c, (const char *)c->line.data + start, i - start, 1);
			if (rc)
				return rc;
			start = i + 1;
		}
		memmove(c->line.data, c->line.data + start, c->line.len - start);
		c->line.len -= start;
		if (c->line.len > (256u << 20))
			return err_set(IMDR_EFORMAT, "%s:%zu: a line longer than 256 MiB", c->path,
			    c->lineno + 1);
	}
	{
		size_t n = c->out.len - c->out_pos < cap ? c->out.len - c->out_pos : cap;

		/* out.data is NULL while nothing was written (a document of
		 * empty lines): no pointer arithmetic on it */
		if (n > 0)
			memcpy(buf, c->out.data + c->out_pos, n);
		c->out_pos += n;
		*ret_got = n;
	}
	return IMDR_OK;
}

static int
canon_entry(void *ctx, const struct ingest_entry *e, const struct ingest_reader *rd)
{
	struct canon_in *ci = ctx;
	struct ingest_entry e2 = *e;
	struct check_rd c;
	struct ingest_reader cr = { check_read, &c };
	enum doc d;
	int rc;

	if (ci->strip) {
		size_t sl = strlen(ci->strip);

		if (strncmp(e->path, ci->strip, sl) == 0 && e->path[sl] == '/')
			e2.path = e->path + sl + 1;
		else if (strcmp(e->path, ci->strip) == 0)
			return IMDR_OK;	/* the top folder itself */
	}
	d = e->type == INGEST_FILE ? doc_of(e2.path) : DOC_OTHER;
	if (d == DOC_OTHER)
		return ci->sink->entry(ci->sink->ctx, &e2, rd);
	memset(&c, 0, sizeof(c));
	c.in = rd;
	c.doc = d;
	c.path = e->path;
	rc = ci->sink->entry(ci->sink->ctx, &e2, &cr);
	buf_free(&c.line);
	buf_free(&c.out);
	return rc;
}

static int
canon_wants(void *ctx, const struct ingest_entry *e)
{
	struct canon_in *ci = ctx;

	return ci->sink->wants ? ci->sink->wants(ci->sink->ctx, e) : 1;
}

static void
canon_warn(void *ctx, const char *path, const char *msg)
{
	struct canon_in *ci = ctx;

	ci->sink->warn(ci->sink->ctx, path, msg);
}

/* dir_looks: the same test as canonical_looks, on a folder, without
 * walking all of it. */
static int
dir_looks(const char *dir)
{
	char *p = xasprintf("%s/users.jsonl", dir);
	struct stat st;
	struct dirent *de;
	DIR *d;
	int ok = stat(p, &st) == 0 && S_ISREG(st.st_mode);

	free(p);
	if (!ok)
		return 0;
	p = xasprintf("%s/conversations", dir);
	d = opendir(p);
	ok = 0;
	while (d && !ok && (de = readdir(d)) != NULL) {
		char *m = xasprintf("%s/%s/meta.json", p, de->d_name);

		ok = de->d_name[0] != '.' && stat(m, &st) == 0 && S_ISREG(st.st_mode);
		free(m);
	}
	if (d)
		closedir(d);
	free(p);
	return ok;
}

/* canonical_probe: users.jsonl and a conversations/<name>--<id>/meta.json
 * at the top. */
static int
canonical_probe(struct ingest_probe *p)
{
	if (p->kind == SRC_DIR)
		return dir_looks(p->path) ? 90 : 0;
	return probe_src(p) && canonical_looks(p->s) ? 90 : 0;
}

/* canonical_run: validate, then back up the export as it is (with
 * opts->strict for duplicate archive members). */
static int
canonical_run(const char *source, const struct ingest_opts *opts,
    const struct ingest_sink *sink, struct ingest_result *ret)
{
	struct canon_in ci = { sink, NULL };
	struct ingest_sink w = { canon_entry, canon_warn, &ci, canon_wants, NULL };
	struct stat st;
	char *strip = NULL;
	int rc, ok;

	(void)ret;
	if (stat(source, &st) == 0 && S_ISDIR(st.st_mode))
		ok = dir_looks(source);
	else {
		struct src *s;

		rc = src_open(source, &s);
		if (rc)
			return rc;
		ok = canonical_looks(s);
		if (s->strip)
			strip = xstrndup(s->strip, strlen(s->strip) - 1);	/* without '/' */
		src_free(s);
	}
	if (!ok) {
		free(strip);
		return err_set(IMDR_ESOURCE, "%s: not an imdr canonical tree (no users.jsonl and conversations/<name>--<id>/meta.json)",
		    source);
	}
	ci.strip = strip;
	rc = ingest_files_opts(source, NULL, opts, &w);
	free(strip);
	return rc;
}

const struct ingest_format ingest_fmt_canonical = {
	.name = "canonical",
	.what = "imdr's canonical conversation layout (validated, kept file for file)",
	.probe = canonical_probe,
	.run = canonical_run,
};
