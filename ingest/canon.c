/* canon — the canonical conversation tree (docs/FORMAT.md), built from what
 * a chat reader finds and written through the backup's sink. Every file
 * that goes through here is hashed on the way for manifest.json.
 *
 * Memory: users and conversations are kept whole (they are small); the
 * messages of a conversation are kept until canon_emit_conv writes it out,
 * and the readers bound how many are held at once (see canon_msg_bytes). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <openssl/evp.h>

#include "ingest/ingest_impl.h"
#include "lib/err.h"
#include "lib/hex.h"
#include "lib/text.h"
#include "lib/timefmt.h"

struct cuser {
	char *id, *name, *real, *email;
	int is_bot, deleted;
};

struct cmsg {
	int64_t ts;
	char *id, *user, *text, *thread, *line, *atts;	/* atts: " [attachment: x]"… */
	int edited, deleted;
};

struct cconv {
	char *id, *name, *dir;
	enum canon_kind kind;
	char **members;
	size_t nmembers;
	int64_t created;
	char *topic, *purpose;
	int archived;
	struct cmsg *m;
	size_t n, cap;
	int emitted;
};

struct mfile {
	char *path;
	uint64_t size;
	uint8_t sha[32];
};

struct canon {
	const struct ingest_sink *sink;
	struct ingest_sink wrap;	/* for source/: hashes what passes */
	char *kind;
	struct cuser *u;
	size_t nu, capu;
	size_t *uhash;			/* index + 1, open addressing */
	size_t uhcap;
	struct cconv *c;
	size_t nc, capc;
	struct mfile *f;
	size_t nf, capf;
	uint64_t nmsgs, natts, nmissing;
	int64_t tmin, tmax;
	size_t held;			/* bytes of messages not yet emitted */
	int dirs_made;
	int strict;
	struct strmap *dirs;		/* conversation folders given out */
	struct strmap *att_paths;	/* attachment paths given out */
};

/* ---- small helpers shared by the readers ---- */

/* Times from exports are any number at all: clamped to years 1..9999
 * (what RFC 3339 can write) and converted with saturation, never an
 * overflow. */
int64_t
ts_scale(int64_t v, int64_t mul, int64_t add)
{
	if (v > (INT64_MAX - (add > 0 ? add : 0)) / mul)
		return INT64_MAX;
	if (v < (INT64_MIN - (add < 0 ? add : 0)) / mul)
		return INT64_MIN;
	return v * mul + add;
}

int64_t
json_num(json_t *v, int64_t dflt)
{
	if (json_is_integer(v))
		return (int64_t)json_integer_value(v);
	if (json_is_real(v)) {
		double d = json_real_value(v);

		/* outside int64 the conversion is undefined */
		return d > -9.2e18 && d < 9.2e18 ? (int64_t)d : dflt;
	}
	if (json_is_string(v)) {
		const char *s = json_string_value(v);
		char *end;
		long long x = strtoll(s, &end, 10);

		if (end != s && (*end == '\0' || *end == '.'))
			return x;
	}
	return dflt;
}

const char *
json_str(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);

	return json_is_string(v) ? json_string_value(v) : NULL;
}

int64_t
ts_parse_slack(const char *s)
{
	char *end;
	long long sec;
	int64_t ms = 0;
	int digits = 0;

	if (s == NULL || *s < '0' || *s > '9')
		return -1;	/* strtoll would take leading blanks and signs */
	sec = strtoll(s, &end, 10);
	if (end == s || sec < 0 || sec > TIME_MS_MAX / 1000)
		return -1;
	if (*end == '.') {
		for (end++; *end >= '0' && *end <= '9'; end++) {
			if (digits < 3)
				ms = ms * 10 + (*end - '0');
			digits++;
		}
		while (digits < 3) {
			ms *= 10;
			digits++;
		}
	}
	if (*end != '\0')
		return -1;
	return (int64_t)sec * 1000 + ms;
}

/* name_char_ok: a non-ASCII character that may stand in a file name made
 * from a name: not a C1 control, a line or paragraph separator, or a
 * bidirectional override (which would make a listing lie about order). */
static int
name_char_ok(const unsigned char *p, size_t len)
{
	char one[5];

	memcpy(one, p, len);
	one[len] = '\0';
	return !text_needs_term_escape(one);
}

void
slug_of(const char *name, char *out, size_t cap)
{
	const unsigned char *p = (const unsigned char *)(name ? name : "");
	size_t n = 0, max = cap - 1 < 48 ? cap - 1 : 48, left = strlen((const char *)p);

	while (*p && n < max) {
		unsigned char c = *p;
		size_t l = text_utf8_len(p, left);

		if (c >= 'A' && c <= 'Z')
			c = (unsigned char)(c - 'A' + 'a');
		if (l > 1 && name_char_ok(p, l)) {
			if (n + l > max)
				break;		/* never cut a character */
			memcpy(out + n, p, l);
			n += l;
		} else if (l == 1 && ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' ||
		    ((c == '.' || c == '-') && n > 0)))
			out[n++] = (char)c;
		else if (n > 0 && out[n - 1] != '-')
			out[n++] = '-';
		if (l == 0)
			l = 1;		/* an undecodable byte: one '-' */
		p += l;
		left -= l;
	}
	while (n > 0 && (out[n - 1] == '-' || out[n - 1] == '.'))
		n--;
	out[n] = '\0';
	if (n == 0)
		snprintf(out, cap, "conversation");
}

void
canon_file_name(const char *name, char *out, size_t cap)
{
	const unsigned char *p = (const unsigned char *)(name ? name : "");
	size_t n = 0, left = strlen((const char *)p);

	while (*p && n + 1 < cap) {
		size_t l = text_utf8_len(p, left);

		if (l == 0 || *p == '/' || !name_char_ok(p, l)) {
			out[n++] = '_';
			l = l ? l : 1;
		} else if (n + l + 1 > cap)
			break;			/* never cut a character */
		else {
			memcpy(out + n, p, l);
			n += l;
		}
		p += l;
		left -= l;
	}
	out[n] = '\0';
	if (n == 0 || strcmp(out, ".") == 0 || strcmp(out, "..") == 0)
		snprintf(out, cap, "unnamed");
}

/* safe_id: an id as a file-name part (Slack ids already are). */
static char *
safe_id(const char *id)
{
	struct buf b = BUF_INIT;

	for (const unsigned char *p = (const unsigned char *)id; *p && b.len < 64; p++)
		buf_putc(&b, (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		    (*p >= '0' && *p <= '9') || *p == '_' || *p == '-' || *p == '.' ? (char)*p : '_');
	if (b.len == 0 || strcmp(buf_cstr(&b), ".") == 0 || strcmp(buf_cstr(&b), "..") == 0)
		buf_puts(&b, "_");
	return buf_cstr(&b) ? (char *)buf_steal(&b, NULL) : xstrdup("_");
}

static char *
dup0(const char *s)
{
	return s ? xstrdup(s) : NULL;
}

/* jstr: a JSON string of s. Text from a chat export's JSON is UTF-8
 * already; names from folders and archives may not be, and jansson
 * refuses those (json_string gives NULL, the field silently goes): each
 * undecodable byte becomes U+FFFD (the exact bytes stay in source/). */
static json_t *
jstr(const char *s)
{
	json_t *j = json_string(s);
	char *lossy;

	if (j)
		return j;
	lossy = text_utf8_lossy(s);
	j = json_string(lossy);
	free(lossy);
	return j ? j : json_string("");
}

/* ---- writing through the sink ---- */

struct mem_rd {
	const char *p;
	size_t left;
};

static int
mem_read(void *rs, void *buf, size_t cap, size_t *ret_got)
{
	struct mem_rd *m = rs;
	size_t n = m->left < cap ? m->left : cap;

	memcpy(buf, m->p, n);
	m->p += n;
	m->left -= n;
	*ret_got = n;
	return IMDR_OK;
}

struct hash_rd {
	const struct ingest_reader *in;
	EVP_MD_CTX *md;
	uint64_t n;
};

static int
hash_read(void *rs, void *buf, size_t cap, size_t *ret_got)
{
	struct hash_rd *h = rs;
	int rc = h->in->read(h->in->rs, buf, cap, ret_got);

	if (rc == IMDR_OK && *ret_got > 0) {
		EVP_DigestUpdate(h->md, buf, *ret_got);
		h->n += *ret_got;
	}
	return rc;
}

static void
add_manifest(struct canon *cn, const char *path, uint64_t size, const uint8_t sha[32])
{
	if (cn->nf == cn->capf) {
		cn->capf = cn->capf ? cn->capf * 2 : 256;
		cn->f = xrealloc(cn->f, cn->capf * sizeof(*cn->f));
	}
	cn->f[cn->nf].path = xstrdup(path);
	cn->f[cn->nf].size = size;
	memcpy(cn->f[cn->nf].sha, sha, 32);
	cn->nf++;
}

/* pass_file: hand e to the real sink through a hashing reader; read what
 * the sink left, so the hash covers the whole file. */
static int
pass_file(struct canon *cn, const struct ingest_entry *e, const struct ingest_reader *rd)
{
	struct hash_rd h = { rd, EVP_MD_CTX_new(), 0 };
	struct ingest_reader hr = { hash_read, &h };
	struct ingest_entry e2 = *e;
	uint8_t sha[32];
	unsigned int len;
	int rc;

	e2.disk_path = NULL;	/* always read: the manifest needs the bytes */
	EVP_DigestInit_ex(h.md, EVP_sha256(), NULL);
	rc = cn->sink->entry(cn->sink->ctx, &e2, &hr);
	if (rc == IMDR_OK) {
		char tmp[65536];
		size_t got;

		do
			rc = hr.read(hr.rs, tmp, sizeof(tmp), &got);
		while (rc == IMDR_OK && got > 0);
	}
	if (rc == IMDR_OK) {
		EVP_DigestFinal_ex(h.md, sha, &len);
		add_manifest(cn, e->path, h.n, sha);
	}
	EVP_MD_CTX_free(h.md);
	return rc;
}

static int
emit_dir(struct canon *cn, const char *path, int64_t mtime_ms)
{
	struct ingest_entry e;

	memset(&e, 0, sizeof(e));
	e.path = path;
	e.type = INGEST_DIR;
	e.mode = 0755;
	e.mtime_ns = ts_scale(mtime_ms, 1000000, 0);
	return cn->sink->entry(cn->sink->ctx, &e, NULL);
}

static int
emit_mem(struct canon *cn, const char *path, const void *data, size_t len,
    int64_t mtime_ms)
{
	struct mem_rd m = { data, len };
	struct ingest_reader rd = { mem_read, &m };
	struct ingest_entry e;

	memset(&e, 0, sizeof(e));
	e.path = path;
	e.type = INGEST_FILE;
	e.mode = 0644;
	e.size = len;
	e.mtime_ns = ts_scale(mtime_ms, 1000000, 0);
	return pass_file(cn, &e, &rd);
}

int
canon_emit_file(struct canon *cn, const char *path, uint64_t size,
    int64_t mtime_ns, const struct ingest_reader *rd)
{
	struct ingest_entry e;

	memset(&e, 0, sizeof(e));
	e.path = path;
	e.type = INGEST_FILE;
	e.mode = 0644;
	e.size = size;
	e.mtime_ns = mtime_ns;
	cn->natts++;
	return pass_file(cn, &e, rd);
}

void
canon_missing(struct canon *cn, const char *where, const char *name)
{
	char *msg = xasprintf("attachment %s is not in the export (recorded as missing)", name);

	cn->nmissing++;
	cn->sink->warn(cn->sink->ctx, where, msg);
	free(msg);
}

void
canon_refused(struct canon *cn, const char *where, const char *path, const char *why)
{
	char *msg = xasprintf("attachment path %s refused (%s): not read, recorded as missing",
	    path, why);

	cn->nmissing++;
	cn->sink->warn(cn->sink->ctx, where, msg);
	free(msg);
}

/* the sink handed to ingest_files for source/ */
static int
wrap_entry(void *ctx, const struct ingest_entry *e, const struct ingest_reader *rd)
{
	struct canon *cn = ctx;

	if (e->type != INGEST_FILE)
		return cn->sink->entry(cn->sink->ctx, e, rd);
	return pass_file(cn, e, rd);
}

static void
wrap_warn(void *ctx, const char *path, const char *msg)
{
	struct canon *cn = ctx;

	cn->sink->warn(cn->sink->ctx, path, msg);
}

const struct ingest_sink *
canon_sink(struct canon *cn)
{
	return &cn->wrap;
}

/* ---- the model ---- */

struct canon *
canon_new(const struct ingest_sink *sink, const char *source_kind, int strict)
{
	struct canon *cn = xcalloc(1, sizeof(*cn));

	cn->sink = sink;
	cn->strict = strict;
	cn->dirs = strmap_new();
	cn->att_paths = strmap_new();
	cn->kind = xstrdup(source_kind);
	cn->wrap.entry = wrap_entry;
	cn->wrap.warn = wrap_warn;
	cn->wrap.ctx = cn;
	cn->tmin = INT64_MAX;
	cn->tmax = 0;
	return cn;
}

static void
free_msgs(struct cconv *c)
{
	for (size_t i = 0; i < c->n; i++) {
		free(c->m[i].id);
		free(c->m[i].user);
		free(c->m[i].text);
		free(c->m[i].thread);
		free(c->m[i].line);
		free(c->m[i].atts);
	}
	free(c->m);
	c->m = NULL;
	c->n = c->cap = 0;
}

void
canon_free(struct canon *cn)
{
	if (cn == NULL)
		return;
	for (size_t i = 0; i < cn->nu; i++) {
		free(cn->u[i].id);
		free(cn->u[i].name);
		free(cn->u[i].real);
		free(cn->u[i].email);
	}
	free(cn->u);
	free(cn->uhash);
	for (size_t i = 0; i < cn->nc; i++) {
		struct cconv *c = &cn->c[i];

		free_msgs(c);
		free(c->id);
		free(c->name);
		free(c->dir);
		for (size_t k = 0; k < c->nmembers; k++)
			free(c->members[k]);
		free(c->members);
		free(c->topic);
		free(c->purpose);
	}
	free(cn->c);
	for (size_t i = 0; i < cn->nf; i++)
		free(cn->f[i].path);
	free(cn->f);
	free(cn->kind);
	strmap_free(cn->dirs);
	strmap_free(cn->att_paths);
	free(cn);
}

static uint64_t
strhash(const char *s)
{
	uint64_t h = 1469598103934665603ULL;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return h;
}

static size_t
user_find(struct canon *cn, const char *id)
{
	if (cn->uhcap == 0 || id == NULL)
		return 0;
	for (size_t i = strhash(id) & (cn->uhcap - 1);; i = (i + 1) & (cn->uhcap - 1)) {
		if (cn->uhash[i] == 0)
			return 0;
		if (strcmp(cn->u[cn->uhash[i] - 1].id, id) == 0)
			return cn->uhash[i];
	}
}

static void
user_index(struct canon *cn, size_t idx)
{
	size_t i = strhash(cn->u[idx].id) & (cn->uhcap - 1);

	while (cn->uhash[i])
		i = (i + 1) & (cn->uhcap - 1);
	cn->uhash[i] = idx + 1;
}

void
canon_user(struct canon *cn, const struct canon_user *u)
{
	struct cuser *x;

	if (u->id == NULL || user_find(cn, u->id))
		return;
	if (cn->nu == cn->capu) {
		cn->capu = cn->capu ? cn->capu * 2 : 64;
		cn->u = xrealloc(cn->u, cn->capu * sizeof(*cn->u));
	}
	if ((cn->nu + 1) * 2 > cn->uhcap) {
		cn->uhcap = cn->uhcap ? cn->uhcap * 2 : 128;
		free(cn->uhash);
		cn->uhash = xcalloc(cn->uhcap, sizeof(*cn->uhash));
		for (size_t i = 0; i < cn->nu; i++)
			user_index(cn, i);
	}
	x = &cn->u[cn->nu];
	x->id = xstrdup(u->id);
	x->name = xstrdup(u->name && *u->name ? u->name : u->id);
	x->real = dup0(u->real_name && *u->real_name ? u->real_name : NULL);
	x->email = dup0(u->email && *u->email ? u->email : NULL);
	x->is_bot = u->is_bot;
	x->deleted = u->deleted;
	user_index(cn, cn->nu);
	cn->nu++;
}

int
canon_has_user(struct canon *cn, const char *id)
{
	return user_find(cn, id) != 0;
}

const char *
canon_user_login(struct canon *cn, const char *id)
{
	size_t k = user_find(cn, id);

	return k ? cn->u[k - 1].name : id;
}

const char *
canon_user_name(struct canon *cn, const char *id)
{
	size_t k = user_find(cn, id);

	if (k == 0)
		return id ? id : "unknown";
	return cn->u[k - 1].real ? cn->u[k - 1].real : cn->u[k - 1].name;
}

int
canon_conv(struct canon *cn, const char *id, const char *name,
    enum canon_kind kind, const char *const *members, size_t nmembers,
    int64_t created_ms, const char *topic, const char *purpose, int archived,
    size_t *ret_index)
{
	struct cconv *c;
	char slug[64], *sid, *dir;

	slug_of(name && *name ? name : id, slug, sizeof(slug));
	sid = safe_id(id);
	dir = xasprintf("conversations/%s--%s", slug, sid);
	if (!strmap_put(cn->dirs, dir, id)) {
		/* two ids that read the same as a file name (team "a", channel
		 * "b.c" and team "a.b", channel "c"): the second gets a suffix */
		char *msg, *alt = NULL;

		if (cn->strict) {
			int rc = err_set(IMDR_EFORMAT, "conversations %s and %s would both be stored as %s",
			    strmap_get(cn->dirs, dir), id, dir);

			free(sid);
			free(dir);
			return rc;
		}
		for (unsigned k = 2; alt == NULL || !strmap_put(cn->dirs, alt, id); k++) {
			free(alt);
			alt = xasprintf("%s-%u", dir, k);
		}
		msg = xasprintf("conversation %s would share the folder %s with %s: stored as %s",
		    id, dir, strmap_get(cn->dirs, dir), alt);
		cn->sink->warn(cn->sink->ctx, dir, msg);
		free(msg);
		free(dir);
		dir = alt;
	}
	free(sid);
	if (cn->nc == cn->capc) {
		cn->capc = cn->capc ? cn->capc * 2 : 32;
		cn->c = xrealloc(cn->c, cn->capc * sizeof(*cn->c));
	}
	c = &cn->c[cn->nc];
	memset(c, 0, sizeof(*c));
	c->id = xstrdup(id);
	c->name = xstrdup(name && *name ? name : id);
	c->kind = kind;
	c->members = xcalloc(nmembers ? nmembers : 1, sizeof(char *));
	for (size_t i = 0; i < nmembers; i++)
		c->members[c->nmembers++] = xstrdup(members[i]);
	c->created = created_ms;
	c->topic = dup0(topic && *topic ? topic : NULL);
	c->purpose = dup0(purpose && *purpose ? purpose : NULL);
	c->archived = archived;
	c->dir = dir;
	*ret_index = cn->nc++;
	return IMDR_OK;
}

char *
canon_att_path(struct canon *cn, size_t conv, const char *msgid, const char *name)
{
	char safe[200], sid[65], *path = NULL, *full = NULL;

	canon_file_name(name, safe, sizeof(safe));
	canon_file_name(msgid, sid, sizeof(sid));
	for (unsigned k = 1;; k++) {
		free(path);
		free(full);
		path = k == 1 ? xasprintf("attachments/%s-%s", sid, safe) :
		    xasprintf("attachments/%s-%u-%s", sid, k, safe);
		full = xasprintf("%s/%s", cn->c[conv].dir, path);
		if (strmap_put(cn->att_paths, full, ""))
			break;
	}
	free(full);
	return path;
}

size_t
canon_nconvs(struct canon *cn)
{
	return cn->nc;
}

const char *
canon_conv_dir(struct canon *cn, size_t i)
{
	return cn->c[i].dir;
}

size_t
canon_msg_bytes(struct canon *cn)
{
	return cn->held;
}

void
canon_msg(struct canon *cn, size_t conv, const struct canon_msg *m)
{
	struct cconv *c = &cn->c[conv];
	struct cmsg *x;
	json_t *o = json_object(), *arr;
	char ts[32];
	struct buf atts = BUF_INIT;

	if (c->n == c->cap) {
		c->cap = c->cap ? c->cap * 2 : 64;
		c->m = xrealloc(c->m, c->cap * sizeof(*c->m));
	}
	x = &c->m[c->n++];
	memset(x, 0, sizeof(*x));
	x->ts = m->ts_ms;
	x->id = xstrdup(m->id);
	x->user = xstrdup(m->user ? m->user : "unknown");
	x->text = xstrdup(m->text ? m->text : "");
	x->thread = m->thread && strcmp(m->thread, m->id) != 0 ? xstrdup(m->thread) : NULL;
	x->edited = m->edited_ms != 0;
	x->deleted = m->deleted;
	time_format_ms(m->ts_ms, ts);
	json_object_set_new(o, "id", jstr(m->id));
	json_object_set_new(o, "ts", jstr(ts));
	json_object_set_new(o, "user", jstr(x->user));
	json_object_set_new(o, "text", jstr(x->text));
	if (x->thread)
		json_object_set_new(o, "thread", jstr(x->thread));
	if (m->edited_ms) {
		time_format_ms(m->edited_ms, ts);
		json_object_set_new(o, "edited", jstr(ts));
	}
	if (m->deleted)
		json_object_set_new(o, "deleted", json_true());
	if (m->subtype)
		json_object_set_new(o, "subtype", jstr(m->subtype));
	if (m->reactions && json_array_size(m->reactions) > 0)
		json_object_set(o, "reactions", m->reactions);
	if (m->natts) {
		arr = json_array();
		for (size_t i = 0; i < m->natts; i++) {
			const struct canon_att *a = &m->atts[i];
			json_t *ao = json_object();

			json_object_set_new(ao, "name", jstr(a->name ? a->name : "unnamed"));
			json_object_set_new(ao, "size", json_integer((json_int_t)a->size));
			if (a->path)
				json_object_set_new(ao, "path", jstr(a->path));
			if (a->url)
				json_object_set_new(ao, "url", jstr(a->url));
			json_array_append_new(arr, ao);
			buf_puts(&atts, " [attachment: ");
			text_escape_term(&atts, a->name ? a->name : "unnamed");
			buf_printf(&atts, "%s]", a->path ? "" : " (not in export)");
		}
		json_object_set_new(o, "attachments", arr);
	}
	if (m->raw && json_object_size(m->raw) > 0)
		json_object_set(o, "raw", m->raw);
	x->line = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	x->atts = atts.len ? (char *)buf_steal(&atts, NULL) : NULL;
	buf_free(&atts);
	cn->held += strlen(x->line) + strlen(x->text) + 128;
	cn->nmsgs++;
	if (m->ts_ms < cn->tmin)
		cn->tmin = m->ts_ms;
	if (m->ts_ms > cn->tmax)
		cn->tmax = m->ts_ms;
}

static int
cmp_msg(const void *a, const void *b)
{
	const struct cmsg *x = a, *y = b;

	if (x->ts != y->ts)
		return x->ts < y->ts ? -1 : 1;
	return strcmp(x->id, y->id);
}

static int
cmp_by_id(const void *a, const void *b, void *arg)
{
	const struct cmsg *m = arg;

	return strcmp(m[*(const size_t *)a].id, m[*(const size_t *)b].id);
}

/* transcript_text: a message's text for transcript.txt. A newline starts
 * a continuation line, indented eight spaces past its message; a message
 * line starts at column 0 or 4 with "[", so no text can pass for a
 * message of its own. \r\n is a newline; other controls, undecodable
 * bytes and U+2028/U+2029 are escaped (text_escape_term); tabs stay. */
static void
transcript_text(struct buf *t, const char *text, const char *pad)
{
	const unsigned char *p = (const unsigned char *)text;
	size_t left = strlen(text);

	while (left > 0) {
		size_t l = text_utf8_len(p, left);
		char one[5];

		if (*p == '\n')
			buf_printf(t, "\n%s        ", pad);
		else if (*p == '\r' && left > 1 && p[1] == '\n')
			;
		else if (*p == '\t')
			buf_putc(t, '\t');
		else {
			l = l ? l : 1;
			memcpy(one, p, l);
			one[l] = '\0';
			text_escape_term(t, one);
		}
		l = l ? l : 1;
		p += l;
		left -= l;
	}
}

static void
transcript_line(struct canon *cn, struct buf *t, const struct cmsg *m, int indent,
    int orphan)
{
	char ts[32];
	const char *pad = indent ? "    " : "";

	time_format_ms(m->ts, ts);
	/* [2026-11-24 10:01:02Z]: drop the T, the milliseconds */
	ts[10] = ' ';
	ts[19] = 'Z';
	ts[20] = '\0';
	/* names are one line, escaped: a display name holding "\n[time] Boss:"
	 * must not start a line */
	buf_printf(t, "%s[%s] ", pad, ts);
	text_escape_term(t, canon_user_name(cn, m->user));
	buf_puts(t, ": ");
	if (orphan) {
		buf_puts(t, "(reply in thread ");
		text_escape_term(t, m->thread);
		buf_puts(t, ") ");
	}
	if (m->deleted)
		buf_puts(t, "(message deleted)");
	else {
		transcript_text(t, m->text, pad);
		if (m->edited)
			buf_puts(t, " (edited)");
	}
	if (m->atts)
		buf_puts(t, m->atts);
	buf_putc(t, '\n');
}

static void
meta_json(struct canon *cn, struct cconv *c, struct buf *out)
{
	static const char *const kinds[] = { "channel", "private", "group", "dm" };
	json_t *o = json_object(), *mem = json_array();
	char ts[32], *s;

	(void)cn;
	json_object_set_new(o, "id", jstr(c->id));
	json_object_set_new(o, "name", jstr(c->name));
	json_object_set_new(o, "kind", jstr(kinds[c->kind]));
	for (size_t i = 0; i < c->nmembers; i++)
		json_array_append_new(mem, jstr(c->members[i]));
	json_object_set_new(o, "members", mem);
	if (c->created > 0) {
		time_format_ms(c->created, ts);
		json_object_set_new(o, "created", jstr(ts));
	}
	if (c->topic)
		json_object_set_new(o, "topic", jstr(c->topic));
	if (c->purpose)
		json_object_set_new(o, "purpose", jstr(c->purpose));
	if (c->archived)
		json_object_set_new(o, "archived", json_true());
	s = json_dumps(o, JSON_INDENT(2));
	buf_puts(out, s);
	buf_putc(out, '\n');
	free(s);
	json_decref(o);
}

int
canon_emit_conv(struct canon *cn, size_t i)
{
	struct cconv *c = &cn->c[i];
	struct buf b = BUF_INIT, t = BUF_INIT;
	size_t *first = NULL, *next = NULL, nid;
	int64_t mt;
	char *path;
	int rc;

	if (c->emitted)
		return IMDR_OK;
	c->emitted = 1;
	if (c->n > 1)
		qsort(c->m, c->n, sizeof(*c->m), cmp_msg);
	mt = c->n ? c->m[c->n - 1].ts : (c->created > 0 ? c->created : 0);
	if (!cn->dirs_made) {
		cn->dirs_made = 1;
		rc = emit_dir(cn, "conversations", 0);
		if (rc)
			return rc;
	}
	rc = emit_dir(cn, c->dir, mt);
	if (rc)
		return rc;
	meta_json(cn, c, &b);
	path = xasprintf("%s/meta.json", c->dir);
	rc = emit_mem(cn, path, b.data, b.len, mt);
	free(path);
	b.len = 0;
	for (size_t k = 0; k < c->n && rc == IMDR_OK; k++) {
		buf_puts(&b, c->m[k].line);
		buf_putc(&b, '\n');
	}
	if (rc == IMDR_OK) {
		path = xasprintf("%s/messages.jsonl", c->dir);
		rc = emit_mem(cn, path, b.data ? b.data : (uint8_t *)"", b.len, mt);
		free(path);
	}
	/* transcript: top-level messages in order, each followed by its
	 * thread's replies; a reply whose parent is not here stands alone */
	nid = c->n;
	first = xcalloc(nid + 1, sizeof(*first));
	next = xcalloc(nid + 1, sizeof(*next));
	{
		size_t *ord = xmalloc((nid + 1) * sizeof(*ord));
		size_t *last = xcalloc(nid + 1, sizeof(*last));
		char *placed = xcalloc(nid + 1, 1);

		for (size_t k = 0; k < nid; k++)
			ord[k] = k;
		qsort_r(ord, nid, sizeof(*ord), cmp_by_id, c->m);
		for (size_t k = 0; k < nid; k++) {
			const char *th = c->m[k].thread;
			size_t lo = 0, hi = nid, p = (size_t)-1;

			if (th == NULL)
				continue;
			while (lo < hi) {
				size_t mid = (lo + hi) / 2;
				int cmp = strcmp(c->m[ord[mid]].id, th);

				if (cmp == 0) {
					p = ord[mid];
					break;
				}
				if (cmp < 0)
					lo = mid + 1;
				else
					hi = mid;
			}
			if (p == (size_t)-1 || c->m[p].thread != NULL)
				continue;	/* orphan, or a reply to a reply */
			if (first[p] == 0)
				first[p] = k + 1;
			else
				next[last[p]] = k + 1;
			last[p] = k;
			placed[k] = 1;
		}
		for (size_t k = 0; k < nid; k++) {
			if (placed[k])
				continue;	/* printed under its parent */
			transcript_line(cn, &t, &c->m[k], 0, c->m[k].thread != NULL);
			for (size_t r = first[k]; r; r = next[r - 1])
				transcript_line(cn, &t, &c->m[r - 1], 1, 0);
		}
		free(ord);
		free(last);
		free(placed);
	}
	free(first);
	free(next);
	if (rc == IMDR_OK) {
		path = xasprintf("%s/transcript.txt", c->dir);
		rc = emit_mem(cn, path, t.data ? t.data : (uint8_t *)"", t.len, mt);
		free(path);
	}
	for (size_t k = 0; k < c->n; k++)
		cn->held -= strlen(c->m[k].line) + strlen(c->m[k].text) + 128;
	free_msgs(c);
	buf_free(&b);
	buf_free(&t);
	return rc;
}

static int
cmp_mfile(const void *a, const void *b)
{
	return strcmp(((const struct mfile *)a)->path, ((const struct mfile *)b)->path);
}

int
canon_finish(struct canon *cn, char **ret_summary_json)
{
	struct buf b = BUF_INIT;
	json_t *sum;
	char from[32], to[32], *s;
	int64_t mt = cn->tmax;
	int rc = IMDR_OK;

	for (size_t i = 0; i < cn->nc && rc == IMDR_OK; i++)
		rc = canon_emit_conv(cn, i);
	if (rc)
		return rc;
	for (size_t i = 0; i < cn->nu; i++) {
		json_t *o = json_object();
		struct cuser *u = &cn->u[i];

		json_object_set_new(o, "id", jstr(u->id));
		json_object_set_new(o, "name", jstr(u->name));
		if (u->real)
			json_object_set_new(o, "real_name", jstr(u->real));
		if (u->email)
			json_object_set_new(o, "email", jstr(u->email));
		if (u->is_bot)
			json_object_set_new(o, "is_bot", json_true());
		if (u->deleted)
			json_object_set_new(o, "deleted", json_true());
		s = json_dumps(o, JSON_COMPACT);
		buf_puts(&b, s);
		buf_putc(&b, '\n');
		free(s);
		json_decref(o);
	}
	rc = emit_mem(cn, "users.jsonl", b.data ? b.data : (uint8_t *)"", b.len, mt);
	if (rc) {
		buf_free(&b);
		return rc;
	}
	time_format_ms(cn->tmin == INT64_MAX ? 0 : cn->tmin, from);
	time_format_ms(cn->tmax, to);
	sum = json_pack("{s:s, s:{s:s, s:s}, s:{s:I, s:I, s:I, s:I, s:I}}",
	    "source", cn->kind, "span", "from", from, "to", to,
	    "counts", "users", (json_int_t)cn->nu, "conversations", (json_int_t)cn->nc,
	    "messages", (json_int_t)cn->nmsgs, "attachments", (json_int_t)cn->natts,
	    "missing_attachments", (json_int_t)cn->nmissing);
	if (cn->nmsgs == 0)
		json_object_del(sum, "span");
	/* manifest.json: the summary, then every file with its size and hash */
	b.len = 0;
	s = json_dumps(sum, JSON_INDENT(2));
	buf_append(&b, s, strlen(s) - 2);	/* reopen the object: drop "\n}" */
	free(s);
	buf_puts(&b, ",\n  \"files\": [");
	if (cn->nf > 1)
		qsort(cn->f, cn->nf, sizeof(*cn->f), cmp_mfile);
	for (size_t i = 0; i < cn->nf; i++) {
		const char *path = cn->f[i].path;
		char hex[65];
		json_t *p = jstr(path);
		char *ps = json_dumps(p, JSON_ENCODE_ANY);

		hex_encode(cn->f[i].sha, 32, hex);
		buf_printf(&b, "%s\n    {\"path\": %s, ", i ? "," : "", ps);
		if (!text_utf8_valid(path, strlen(path))) {
			/* not UTF-8 (a name from a folder or an archive): "path"
			 * shows it with U+FFFD, "path_b64" holds its bytes */
			char *b64 = text_base64(path, strlen(path));

			buf_printf(&b, "\"path_b64\": \"%s\", ", b64);
			free(b64);
		}
		buf_printf(&b, "\"size\": %llu, \"sha256\": \"%s\"}",
		    (unsigned long long)cn->f[i].size, hex);
		free(ps);
		json_decref(p);
	}
	buf_puts(&b, "\n  ]\n}\n");
	rc = emit_mem(cn, "manifest.json", b.data, b.len, mt);
	buf_free(&b);
	if (rc == IMDR_OK && ret_summary_json)
		*ret_summary_json = json_dumps(sum, JSON_COMPACT);
	json_decref(sum);
	return rc;
}
