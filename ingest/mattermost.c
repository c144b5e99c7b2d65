/* mattermost — a Mattermost bulk export into the canonical tree.
 *
 * The export is JSON lines: a "version" line, then "team", "channel",
 * "user", "post", "direct_channel", "direct_post" (and "emoji", "scheme",
 * ... which are kept in source/ only). Replies are nested in their post;
 * times are milliseconds; attachments name a path under the export's data
 * folder, which may be missing. It arrives as the .jsonl alone (with
 * --attachments DIR), a folder holding it and data/, or a .zip of those.
 *
 * Posts carry no ids, so a message id is the post's create_at and a hash of
 * its author and text: stable across exports of the same workspace.
 * Channels are named by team and name, direct channels by their members.
 *
 * Passes: (1) everything but posts, and how many post bytes each channel
 * has; (2) the posts of as many channels as fit the memory budget, written
 * out, and again until all are done; (3) attachments; (4) source/. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/stat.h>
#include <fcntl.h>
#include <unistd.h>
#include <errno.h>

#include <jansson.h>

#include "ingest/ingest_impl.h"
#include "lib/beneath.h"
#include "lib/err.h"

#define BATCH_JSON_BYTES (256u << 20)
#define LINE_MAX_BYTES (256u << 20)

enum { STOP = 1000 };	/* ends a scan early; not an error */

struct chan {
	char *key;		/* "team/name" or "@a,b,c" */
	char *team, *name, *display, *header, *purpose;
	enum canon_kind kind;
	char **members;
	size_t nmembers, capm;
	uint64_t bytes;
	size_t conv;
};

struct want {
	char *from;		/* export entry, or a file on disk (for messages) */
	char *path;		/* in the tree */
	char *rel;		/* on disk: the path beneath the attachments folder */
	int disk;
};

struct mm {
	struct src *s;
	struct canon *cn;
	const struct ingest_sink *sink;
	const char *att_dir;
	const char *jsonl;	/* entry name */
	struct chan *ch;
	size_t nch, capch;
	struct strmap *chan_idx;	/* key -> index (decimal) */
	char *in_batch;
	struct want *w;
	size_t nw, capw;
	struct strmap *placed;	/* where from -> its place in the tree */
	char *unknown_types;	/* warned about already */
	int pass;
	int strict;
	int att_fd;		/* the attachments folder, or -1 */
};

/* bad_line: a line this reader cannot use. Strict: the export is refused
 * with msg; otherwise the line is left out (it stays in source/), said
 * once, in the first pass. */
static int
bad_line(struct mm *mm, size_t lineno, const char *msg)
{
	char *where;

	if (mm->strict)
		return err_set(IMDR_EFORMAT, "%s:%zu: %s", mm->jsonl, lineno, msg);
	if (mm->pass == 1) {
		char *why = xasprintf("%s: the line is kept in source/ only", msg);

		where = xasprintf("%s:%zu", mm->jsonl, lineno);
		mm->sink->warn(mm->sink->ctx, where, why);
		free(where);
		free(why);
	}
	return IMDR_OK;
}

/* ---- lines ---- */

typedef int (*line_fn)(struct mm *mm, json_t *o, const char *type, size_t lineno,
    size_t len);

static int
each_line(struct mm *mm, const struct ingest_reader *rd, line_fn fn)
{
	struct buf b = BUF_INIT;
	size_t start = 0, lineno = 0;
	int eof = 0, rc = IMDR_OK;

	while (rc == IMDR_OK) {
		uint8_t *nl = b.len > start ? memchr(b.data + start, '\n', b.len - start) : NULL;

		if (nl == NULL && !eof) {
			size_t got;

			if (start > 0) {
				memmove(b.data, b.data + start, b.len - start);
				b.len -= start;
				start = 0;
			}
			if (b.len > LINE_MAX_BYTES) {
				rc = err_set(IMDR_EFORMAT, "%s:%zu: a line longer than %u MiB",
				    mm->jsonl, lineno + 1, LINE_MAX_BYTES >> 20);
				break;
			}
			buf_reserve(&b, 1 << 20);
			rc = rd->read(rd->rs, b.data + b.len, b.cap - b.len - 1, &got);
			if (rc)
				break;
			if (got == 0)
				eof = 1;
			b.len += got;
			continue;
		}
		{
			size_t end = nl ? (size_t)(nl - b.data) : b.len, len = end - start;
			json_error_t je;
			json_t *o;

			if (nl == NULL && len == 0)
				break;
			lineno++;
			while (len > 0 && (b.data[start + len - 1] == '\r' || b.data[start + len - 1] == ' '))
				len--;
			if (len > 0) {
				o = json_loadb((const char *)b.data + start, len, JSON_ALLOW_NUL, &je);
				if (o == NULL && lineno > 1) {
					char *msg = xasprintf("malformed JSON: %s", je.text);

					rc = bad_line(mm, lineno, msg);
					free(msg);
					start = nl ? end + 1 : b.len;
					if (nl == NULL)
						break;
					continue;
				}
				if (o == NULL || (lineno == 1 && !(json_str(o, "type") &&
				    strcmp(json_str(o, "type"), "version") == 0))) {
					json_decref(o);
					rc = err_set(IMDR_EFORMAT, "%s:1: not a Mattermost bulk export (the first line is not a \"version\" line)",
					    mm->jsonl);
					break;
				}
				rc = fn(mm, o, json_str(o, "type") ? json_str(o, "type") : "", lineno, len);
				json_decref(o);
			}
			start = nl ? end + 1 : b.len;
			if (nl == NULL)
				break;
		}
	}
	buf_free(&b);
	return rc;
}

/* ---- channels ---- */

static int
cmp_cstr(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static struct chan *
chan_get(struct mm *mm, const char *key)
{
	const char *v = strmap_get(mm->chan_idx, key);
	struct chan *c;
	char num[32];

	if (v)
		return &mm->ch[strtoul(v, NULL, 10)];
	if (mm->nch == mm->capch) {
		mm->capch = mm->capch ? mm->capch * 2 : 32;
		mm->ch = xrealloc(mm->ch, mm->capch * sizeof(*mm->ch));
	}
	c = &mm->ch[mm->nch];
	memset(c, 0, sizeof(*c));
	c->key = xstrdup(key);
	c->conv = (size_t)-1;
	snprintf(num, sizeof(num), "%zu", mm->nch);
	strmap_put(mm->chan_idx, key, num);
	mm->nch++;
	return c;
}

static void
chan_member(struct chan *c, const char *user)
{
	for (size_t i = 0; i < c->nmembers; i++)
		if (strcmp(c->members[i], user) == 0)
			return;
	if (c->nmembers == c->capm) {
		c->capm = c->capm ? c->capm * 2 : 8;
		c->members = xrealloc(c->members, c->capm * sizeof(char *));
	}
	c->members[c->nmembers++] = xstrdup(user);
}

/* dm_key: "@" and the sorted members; NULL if none. */
static char *
dm_key(json_t *members)
{
	size_t n = json_array_size(members), i;
	const char **v;
	struct buf b = BUF_INIT;
	json_t *m;

	if (n == 0)
		return NULL;
	v = xcalloc(n, sizeof(*v));
	json_array_foreach(members, i, m)
		v[i] = json_is_string(m) ? json_string_value(m) : "?";
	qsort(v, n, sizeof(*v), cmp_cstr);
	buf_putc(&b, '@');
	for (i = 0; i < n; i++) {
		if (i)
			buf_putc(&b, ',');
		buf_puts(&b, v[i]);
	}
	free(v);
	buf_cstr(&b);
	return (char *)buf_steal(&b, NULL);
}

static struct chan *
dm_chan(struct mm *mm, json_t *members)
{
	char *key = dm_key(members);
	struct chan *c;
	size_t i;
	json_t *m;

	if (key == NULL)
		return NULL;
	c = chan_get(mm, key);
	free(key);
	if (c->nmembers == 0) {
		c->kind = json_array_size(members) > 2 ? CANON_GROUP : CANON_DM;
		json_array_foreach(members, i, m)
			if (json_is_string(m))
				chan_member(c, json_string_value(m));
		/* the same people in any order are one conversation */
		qsort(c->members, c->nmembers, sizeof(char *), cmp_cstr);
	}
	return c;
}

static struct chan *
post_chan(struct mm *mm, json_t *o, const char *type, json_t **ret_post)
{
	json_t *p = json_object_get(o, type);
	char *key;
	struct chan *c;

	*ret_post = p;
	if (!json_is_object(p))
		return NULL;
	if (strcmp(type, "direct_post") == 0)
		return dm_chan(mm, json_object_get(p, "channel_members"));
	if (json_str(p, "team") == NULL || json_str(p, "channel") == NULL)
		return NULL;
	key = xasprintf("%s/%s", json_str(p, "team"), json_str(p, "channel"));
	c = chan_get(mm, key);
	free(key);
	return c;
}

/* ---- pass 1 ---- */

static int
meta_line(struct mm *mm, json_t *o, const char *type, size_t lineno, size_t len)
{
	json_t *x = json_object_get(o, type), *p;
	struct chan *c;

	(void)lineno;
	if (strcmp(type, "version") == 0 || strcmp(type, "team") == 0 ||
	    strcmp(type, "emoji") == 0 || strcmp(type, "scheme") == 0 ||
	    strcmp(type, "role") == 0 || strcmp(type, "bot") == 0)
		return IMDR_OK;
	if (strcmp(type, "channel") == 0 && json_is_object(x)) {
		char *key;
		const char *t = json_str(x, "type");

		if (json_str(x, "team") == NULL || json_str(x, "name") == NULL)
			return bad_line(mm, lineno, "a channel without a team or a name");
		key = xasprintf("%s/%s", json_str(x, "team"), json_str(x, "name"));
		c = chan_get(mm, key);
		free(key);
		/* a channel given twice: the later line wins */
		free(c->team);
		free(c->name);
		free(c->display);
		free(c->header);
		free(c->purpose);
		c->team = xstrdup(json_str(x, "team"));
		c->name = xstrdup(json_str(x, "name"));
		c->display = json_str(x, "display_name") ? xstrdup(json_str(x, "display_name")) : NULL;
		c->header = json_str(x, "header") ? xstrdup(json_str(x, "header")) : NULL;
		c->purpose = json_str(x, "purpose") ? xstrdup(json_str(x, "purpose")) : NULL;
		c->kind = t && strcmp(t, "P") == 0 ? CANON_PRIVATE : CANON_CHANNEL;
		return IMDR_OK;
	}
	if (strcmp(type, "user") == 0 && json_is_object(x)) {
		struct canon_user u = { 0 };
		const char *fn = json_str(x, "first_name"), *ln = json_str(x, "last_name");
		char *real = NULL;
		json_t *teams = json_object_get(x, "teams"), *t, *ch;
		size_t i, j;

		u.id = u.name = json_str(x, "username");
		if (u.id == NULL)
			return bad_line(mm, lineno, "a user without a username");
		if ((fn && *fn) || (ln && *ln))
			real = xasprintf("%s%s%s", fn ? fn : "", fn && *fn && ln && *ln ? " " : "", ln ? ln : "");
		u.real_name = real ? real : json_str(x, "nickname");
		u.email = json_str(x, "email");
		u.deleted = json_num(json_object_get(x, "delete_at"), 0) > 0;
		canon_user(mm->cn, &u);
		free(real);
		json_array_foreach(teams, i, t) {
			const char *team = json_str(t, "name");

			json_array_foreach(json_object_get(t, "channels"), j, ch) {
				char *key;

				if (team == NULL || json_str(ch, "name") == NULL)
					continue;
				key = xasprintf("%s/%s", team, json_str(ch, "name"));
				chan_member(chan_get(mm, key), u.id);
				free(key);
			}
		}
		return IMDR_OK;
	}
	if (strcmp(type, "direct_channel") == 0 && json_is_object(x)) {
		json_t *members = json_object_get(x, "members");

		if (!json_is_array(members))
			members = json_object_get(x, "channel_members");
		c = dm_chan(mm, members);
		if (c && json_str(x, "header") && c->header == NULL)
			c->header = xstrdup(json_str(x, "header"));
		return IMDR_OK;
	}
	if (strcmp(type, "post") == 0 || strcmp(type, "direct_post") == 0) {
		c = post_chan(mm, o, type, &p);
		if (c == NULL) {
			char *msg = xasprintf("a %s without its channel", type);
			int rc = bad_line(mm, lineno, msg);

			free(msg);
			return rc;
		}
		c->bytes += len;
		return IMDR_OK;
	}
	/* a line of a kind this reader does not model: warn once per kind */
	{
		char *tag = xasprintf("|%s|", type);

		if (mm->unknown_types == NULL || strstr(mm->unknown_types, tag) == NULL) {
			char *msg = xasprintf("lines of type \"%s\" are kept in source/ only", type);
			char *nu = xasprintf("%s%s", mm->unknown_types ? mm->unknown_types : "", tag);

			mm->sink->warn(mm->sink->ctx, mm->jsonl, msg);
			free(msg);
			free(mm->unknown_types);
			mm->unknown_types = nu;
		}
		free(tag);
	}
	return IMDR_OK;
}

/* ---- pass 2 ---- */

static void
post_id(json_t *p, char *out)
{
	uint64_t h = 1469598103934665603ULL;
	const char *s;

	for (s = json_str(p, "user") ? json_str(p, "user") : ""; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	h = (h ^ 0xff) * 1099511628211ULL;
	for (s = json_str(p, "message") ? json_str(p, "message") : ""; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	snprintf(out, 64, "%lld-%08llx", (long long)json_num(json_object_get(p, "create_at"), 0),
	    (unsigned long long)(h >> 32));
}

static const char *
find_entry(struct mm *mm, const char *path)
{
	static __thread char buf[4096];
	const char *dir = strrchr(mm->jsonl, '/');
	size_t dl = dir ? (size_t)(dir - mm->jsonl) + 1 : 0;
	const char *tries[3];

	tries[0] = path;
	tries[1] = strncmp(path, "data/", 5) == 0 ? path + 5 : NULL;
	tries[2] = NULL;
	for (int i = 0; i < 2; i++) {
		if (tries[i] == NULL)
			continue;
		/* beside the .jsonl, then in its data/ folder */
		snprintf(buf, sizeof(buf), "%.*s%s", (int)dl, mm->jsonl, tries[i]);
		if (src_has(mm->s, buf))
			return buf;
		snprintf(buf, sizeof(buf), "%.*sdata/%s", (int)dl, mm->jsonl, tries[i]);
		if (src_has(mm->s, buf))
			return buf;
	}
	return NULL;
}

/* find_disk: path (or path without its "data/") as a regular file beneath
 * the attachments folder, never outside it: a symlink out of the folder is
 * refused (beneath_open). Returns the path that was found (caller frees)
 * with its size, or NULL with *ret_refused set to why the path was refused
 * (NULL when it is just not there). */
static char *
find_disk(struct mm *mm, const char *path, uint64_t *ret_size, const char **ret_refused)
{
	const char *tries[2] = { path, strncmp(path, "data/", 5) == 0 ? path + 5 : NULL };

	*ret_refused = NULL;
	if (mm->att_fd < 0)
		return NULL;
	for (int i = 0; i < 2; i++) {
		struct stat st;
		int fd;

		if (tries[i] == NULL)
			continue;
		fd = beneath_open(mm->att_fd, tries[i], O_RDONLY | O_NONBLOCK);
		if (fd < 0) {
			if (errno == EXDEV || errno == ELOOP)
				*ret_refused = errno == EXDEV ?
				    "a symlink leading out of the attachments folder" :
				    "a path through a symlink";
			continue;
		}
		if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) {
			close(fd);
			*ret_size = (uint64_t)st.st_size;
			*ret_refused = NULL;
			return xstrdup(tries[i]);
		}
		close(fd);
	}
	return NULL;
}

/* path_refused: why an attachment path from the export may not be looked
 * up at all, or NULL. */
static const char *
path_refused(const char *path)
{
	if (path[0] == '/')
		return "an absolute path";
	for (const char *p = path; *p; ) {
		size_t len = strcspn(p, "/");

		if (len == 2 && p[0] == '.' && p[1] == '.')
			return "a path with a \"..\" part";
		p += len;
		if (*p == '/')
			p++;
	}
	return NULL;
}

static void
add_want(struct mm *mm, const char *from, const char *path, const char *rel)
{
	if (mm->nw == mm->capw) {
		mm->capw = mm->capw ? mm->capw * 2 : 64;
		mm->w = xrealloc(mm->w, mm->capw * sizeof(*mm->w));
	}
	mm->w[mm->nw].from = xstrdup(from);
	mm->w[mm->nw].path = xstrdup(path);
	mm->w[mm->nw].rel = rel ? xstrdup(rel) : NULL;
	mm->w[mm->nw].disk = rel != NULL;
	mm->nw++;
}

static void
convert_post(struct mm *mm, struct chan *c, json_t *p, const char *parent,
    size_t lineno)
{
	static const char *const modeled[] = { "team", "channel", "channel_members",
	    "user", "message", "create_at", "edit_at", "delete_at", "type",
	    "reactions", "replies", "attachments", NULL };
	struct canon_msg cm = { 0 };
	char id[64], *where;
	json_t *atts = json_object_get(p, "attachments"), *a, *reac = NULL, *r, *raw;
	struct canon_att ca[64];
	char *owned[64] = { 0 };
	size_t natts = 0, i;

	post_id(p, id);
	where = xasprintf("%s:%zu", mm->jsonl, lineno);
	cm.id = id;
	cm.ts_ms = json_num(json_object_get(p, "create_at"), 0);
	cm.user = json_str(p, "user");
	cm.text = json_str(p, "message");
	cm.thread = parent;
	cm.edited_ms = json_num(json_object_get(p, "edit_at"), 0);
	cm.deleted = json_num(json_object_get(p, "delete_at"), 0) > 0;
	cm.subtype = json_str(p, "type") && *json_str(p, "type") ? json_str(p, "type") : NULL;
	if (cm.user && !canon_has_user(mm->cn, cm.user)) {
		struct canon_user u = { cm.user, cm.user, NULL, NULL, 0, 0 };

		canon_user(mm->cn, &u);
	}
	r = json_object_get(p, "reactions");
	if (json_is_array(r) && json_array_size(r) > 0) {
		json_t *x;

		reac = json_array();
		json_array_foreach(r, i, x) {
			const char *name = json_str(x, "emoji_name"), *user = json_str(x, "user");
			json_t *slot = NULL, *y;
			size_t j;

			if (name == NULL)
				continue;
			json_array_foreach(reac, j, y)
				if (strcmp(json_str(y, "name"), name) == 0)
					slot = y;
			if (slot == NULL) {
				slot = json_pack("{s:s, s:[]}", "name", name, "users");
				json_array_append_new(reac, slot);
			}
			if (user)
				json_array_append_new(json_object_get(slot, "users"), json_string(user));
		}
		cm.reactions = reac;
	}
	json_array_foreach(atts, i, a) {
		const char *path = json_str(a, "path"), *base, *entry = NULL, *refused;
		char *rel = NULL, *disk = NULL;
		uint64_t disk_size = 0;
		struct canon_att *x;

		if (path == NULL || natts >= 64)
			continue;
		x = &ca[natts];
		memset(x, 0, sizeof(*x));
		base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
		x->name = *base && strcmp(base, "..") != 0 ? base : "unnamed";
		/* the path names a file of the export or of the attachments
		 * folder, and nothing else: not ../../etc/shadow, not /etc/shadow,
		 * not a symlink in data/ pointing at either */
		refused = path_refused(path);
		if (refused == NULL)
			entry = find_entry(mm, path);
		if (refused == NULL && entry == NULL) {
			rel = find_disk(mm, path, &disk_size, &refused);
			if (rel)
				disk = xasprintf("%s/%s", mm->att_dir, rel);
		}
		if ((entry || disk) && strmap_get(mm->placed, entry ? entry : disk)) {
			/* attached before: point at the first copy */
			const char *first = strmap_get(mm->placed, entry ? entry : disk);
			const char *dir = canon_conv_dir(mm->cn, c->conv);

			if (strncmp(first, dir, strlen(dir)) == 0 && first[strlen(dir)] == '/')
				owned[natts] = xstrdup(first + strlen(dir) + 1);
			else
				owned[natts] = xasprintf("../%s", first + strlen("conversations/"));
			x->path = owned[natts];
			x->size = entry ? mm->s->sizes[src_has(mm->s, entry) - 1] : disk_size;
		} else if (entry || disk) {
			char *target;

			owned[natts] = canon_att_path(mm->cn, c->conv, id, x->name);
			x->path = owned[natts];
			target = xasprintf("%s/%s", canon_conv_dir(mm->cn, c->conv), owned[natts]);
			strmap_put(mm->placed, entry ? entry : disk, target);
			if (entry) {
				x->size = mm->s->sizes[src_has(mm->s, entry) - 1];
				add_want(mm, entry, target, NULL);
			} else {
				x->size = disk_size;
				add_want(mm, disk, target, rel);
			}
			free(target);
		} else if (refused)
			canon_refused(mm->cn, where, path, refused);
		else
			canon_missing(mm->cn, where, path);
		free(rel);
		free(disk);
		natts++;
	}
	cm.atts = ca;
	cm.natts = natts;
	raw = json_deep_copy(p);
	for (int k = 0; modeled[k]; k++)
		json_object_del(raw, modeled[k]);
	cm.raw = raw;
	canon_msg(mm->cn, c->conv, &cm);
	json_decref(raw);
	json_decref(reac);
	for (size_t k = 0; k < natts; k++)
		free(owned[k]);
	free(where);
	if (parent == NULL) {
		json_t *rep;

		json_array_foreach(json_object_get(p, "replies"), i, rep)
			if (json_is_object(rep))
				convert_post(mm, c, rep, id, lineno);
	}
}

static int
post_line(struct mm *mm, json_t *o, const char *type, size_t lineno, size_t len)
{
	struct chan *c;
	json_t *p;

	(void)len;
	if (strcmp(type, "post") != 0 && strcmp(type, "direct_post") != 0)
		return IMDR_OK;
	c = post_chan(mm, o, type, &p);
	if (c == NULL || !mm->in_batch[c - mm->ch])
		return IMDR_OK;
	convert_post(mm, c, p, NULL, lineno);
	return IMDR_OK;
}

static int
jsonl_scan(void *ctx, const char *name, uint64_t size, int64_t mtime,
    const struct ingest_reader *rd)
{
	struct mm *mm = ctx;

	(void)size;
	(void)mtime;
	if (strcmp(name, mm->jsonl) != 0)
		return IMDR_OK;
	return each_line(mm, rd, mm->pass == 1 ? meta_line : post_line);
}

/* ---- pass 3 ---- */

static int
cmp_want(const void *a, const void *b)
{
	return strcmp(((const struct want *)a)->from, ((const struct want *)b)->from);
}

static int
atts_one(void *ctx, const char *name, uint64_t size, int64_t mtime,
    const struct ingest_reader *rd)
{
	struct mm *mm = ctx;
	size_t lo = 0, hi = mm->nw;

	/* the first want of this entry (wants are sorted by where from); a
	 * file attached twice is stored at its first place */
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (strcmp(mm->w[mid].from, name) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (; lo < mm->nw && strcmp(mm->w[lo].from, name) == 0; lo++)
		if (!mm->w[lo].disk)
			return canon_emit_file(mm->cn, mm->w[lo].path, size, mtime, rd);
	return IMDR_OK;
}

struct disk_rd {
	int fd;
	const char *path;
};

static int
disk_read(void *rs, void *buf, size_t cap, size_t *ret_got)
{
	struct disk_rd *d = rs;
	ssize_t n;

	do
		n = read(d->fd, buf, cap);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return err_set(IMDR_ESOURCE, "cannot read %s: %s", d->path, strerror(errno));
	*ret_got = (size_t)n;
	return IMDR_OK;
}

/* ---- detection ---- */

struct look {
	char *found;
};

static int
look_one(void *ctx, const char *name, uint64_t size, int64_t mtime,
    const struct ingest_reader *rd)
{
	struct look *l = ctx;
	size_t len = strlen(name);
	char head[4096];
	size_t have = 0, got;
	json_t *o;
	char *nl;

	(void)size;
	(void)mtime;
	if (strchr(name, '/') || len < 6 || (strcmp(name + len - 6, ".jsonl") != 0 &&
	    strcmp(name + len - 5, ".json") != 0))
		return IMDR_OK;
	while (have < sizeof(head) - 1 && rd->read(rd->rs, head + have, sizeof(head) - 1 - have, &got) == IMDR_OK && got > 0)
		have += got;
	head[have] = '\0';
	nl = strchr(head, '\n');
	if (nl)
		*nl = '\0';
	o = json_loads(head, 0, NULL);
	if (o && json_str(o, "type") && strcmp(json_str(o, "type"), "version") == 0) {
		l->found = xstrdup(name);
		json_decref(o);
		return STOP;
	}
	json_decref(o);
	return IMDR_OK;
}

int
mattermost_looks(struct src *s, char **ret_jsonl)
{
	struct look l = { NULL };
	int quick = 0;

	/* only when a top-level .jsonl/.json is there at all */
	for (size_t i = 0; i < s->n; i++) {
		size_t len = strlen(s->names[i]);

		if (!strchr(s->names[i], '/') && len > 5 && (strcmp(s->names[i] + len - 6, ".jsonl") == 0 ||
		    strcmp(s->names[i] + len - 5, ".json") == 0))
			quick = 1;
	}
	if (!quick)
		return 0;
	if (src_scan(s, look_one, &l) != STOP) {
		err_clear();
		free(l.found);
		return 0;
	}
	if (ret_jsonl)
		*ret_jsonl = l.found;
	else
		free(l.found);
	return 1;
}

/* ---- the reader ---- */

/* workspace_name: "mattermost-<team>", the first of the export's teams by
 * name (stable from one day's export to the next), or NULL. */
static char *
workspace_name(const struct mm *mm)
{
	const char *team = NULL;

	for (size_t i = 0; i < mm->nch; i++)
		if (mm->ch[i].team && (team == NULL || strcmp(mm->ch[i].team, team) < 0))
			team = mm->ch[i].team;
	return team ? xasprintf("mattermost-%s", team) : NULL;
}

/* open_att_dir: the folder attachment paths are looked up in. One named
 * with --attachments is the user's choice and is taken as it is; the
 * data/ found beside a lone .jsonl belongs to the export, so a symlink
 * there (to /etc, to a home folder) is not followed, and the export goes
 * on without it. */
static int
open_att_dir(struct mm *mm, const struct src *s, const char *dir)
{
	const char *slash = strrchr(s->path, '/');
	char *beside = slash ? xasprintf("%.*s/data", (int)(slash - s->path), s->path) :
	    xstrdup("data");
	int is_default = s->kind == SRC_FILE && strcmp(dir ? dir : "", beside) == 0;

	free(beside);
	if (dir == NULL)
		return IMDR_OK;
	mm->att_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC | (is_default ? O_NOFOLLOW : 0));
	if (mm->att_fd < 0 && is_default) {
		mm->sink->warn(mm->sink->ctx, dir, errno == ELOOP || errno == ENOTDIR ?
		    "a symlink beside the export, not followed: its attachments are not read" :
		    strerror(errno));
		return IMDR_OK;
	}
	if (mm->att_fd < 0)
		return err_set(IMDR_ESOURCE, "cannot open the attachments folder %s: %s", dir,
		    strerror(errno));
	mm->att_dir = dir;
	return IMDR_OK;
}

static int
cmp_chan(const void *a, const void *b)
{
	return strcmp(((const struct chan *)a)->key, ((const struct chan *)b)->key);
}

static int
mattermost_read(struct src *s, const struct ingest_opts *o,
    const struct ingest_sink *sink, struct ingest_result *ret)
{
	struct mm mm;
	char *jsonl = NULL;
	int rc;

	memset(&mm, 0, sizeof(mm));
	if (!mattermost_looks(s, &jsonl))
		return err_set(IMDR_ESOURCE, "%s: not a Mattermost bulk export (no .jsonl file whose first line is a \"version\" line)",
		    s->path);
	mm.s = s;
	mm.sink = sink;
	mm.jsonl = jsonl;
	mm.strict = o && o->strict;
	mm.att_fd = -1;
	rc = open_att_dir(&mm, s, o ? o->attachments_dir : NULL);
	if (rc) {
		free(jsonl);
		return rc;
	}
	mm.cn = canon_new(sink, "mattermost", mm.strict);
	mm.chan_idx = strmap_new();
	mm.placed = strmap_new();
	mm.pass = 1;
	rc = src_scan(s, jsonl_scan, &mm);
	if (rc)
		goto out;
	/* conversations in a stable order: channels by team/name, then DMs */
	if (mm.nch > 1) {
		qsort(mm.ch, mm.nch, sizeof(*mm.ch), cmp_chan);
		strmap_free(mm.chan_idx);
		mm.chan_idx = strmap_new();
		for (size_t i = 0; i < mm.nch; i++) {
			char num[32];

			snprintf(num, sizeof(num), "%zu", i);
			strmap_put(mm.chan_idx, mm.ch[i].key, num);
		}
	}
	for (size_t i = 0; i < mm.nch; i++) {
		struct chan *c = &mm.ch[i];
		char *id, *name = NULL;

		if (c->key[0] == '@') {
			struct buf b = BUF_INIT;

			for (size_t k = 0; k < c->nmembers; k++)
				buf_printf(&b, "%s%s", k ? "--" : "", c->members[k]);
			name = (char *)buf_steal(&b, NULL);
			buf_free(&b);
			id = xasprintf("%s.%s", c->kind == CANON_DM ? "dm" : "group", c->key + 1);
			for (char *p = id; *p; p++)
				if (*p == ',')
					*p = '.';
		} else {
			id = xasprintf("%s.%s", c->team ? c->team : "team", c->name ? c->name : c->key);
			name = xstrdup(c->name ? c->name : c->key);
		}
		rc = canon_conv(mm.cn, id, name, c->kind, (const char *const *)c->members,
		    c->nmembers, 0, c->header, c->purpose, 0, &c->conv);
		free(id);
		free(name);
		if (rc)
			goto out;
	}
	if (sink->named) {
		char *name = workspace_name(&mm);

		if (name)
			sink->named(sink->ctx, name);
		free(name);
	}
	/* pass 2: posts, in batches that fit the budget */
	mm.in_batch = xcalloc(mm.nch + 1, 1);
	mm.pass = 2;
	for (size_t start = 0; start < mm.nch && rc == IMDR_OK;) {
		size_t end = start;
		uint64_t total = 0;

		memset(mm.in_batch, 0, mm.nch);
		while (end < mm.nch && (end == start || total + mm.ch[end].bytes <= BATCH_JSON_BYTES)) {
			total += mm.ch[end].bytes;
			mm.in_batch[end++] = 1;
		}
		rc = src_scan(s, jsonl_scan, &mm);
		for (size_t i = start; i < end && rc == IMDR_OK; i++)
			rc = canon_emit_conv(mm.cn, mm.ch[i].conv);
		start = end;
	}
	/* pass 3: attachments in the export, then on disk */
	if (rc == IMDR_OK && mm.nw > 0) {
		qsort(mm.w, mm.nw, sizeof(*mm.w), cmp_want);
		rc = src_scan(s, atts_one, &mm);
		for (size_t i = 0; i < mm.nw && rc == IMDR_OK; i++) {
			struct disk_rd d = { -1, mm.w[i].from };
			struct ingest_reader rd = { disk_read, &d };
			struct stat st;

			if (!mm.w[i].disk || (i > 0 && mm.w[i - 1].disk &&
			    strcmp(mm.w[i - 1].from, mm.w[i].from) == 0))
				continue;
			/* beneath the folder again: what was checked is what is read */
			d.fd = beneath_open(mm.att_fd, mm.w[i].rel, O_RDONLY | O_NONBLOCK);
			if (d.fd < 0 || fstat(d.fd, &st) < 0 || !S_ISREG(st.st_mode)) {
				char *msg = xasprintf("attachment %s: %s; not stored", mm.w[i].rel,
				    d.fd < 0 && (errno == EXDEV || errno == ELOOP) ?
				    "became a symlink during the backup (not followed)" :
				    d.fd < 0 ? strerror(errno) : "no longer a regular file");

				sink->warn(sink->ctx, mm.w[i].from, msg);
				free(msg);
				if (d.fd >= 0)
					close(d.fd);
				continue;
			}
			rc = canon_emit_file(mm.cn, mm.w[i].path, (uint64_t)st.st_size,
			    ts_scale(st.st_mtim.tv_sec, 1000000000, st.st_mtim.tv_nsec), &rd);
			close(d.fd);
		}
	}
	/* pass 4: the export as it is; a separate attachments folder too */
	if (rc == IMDR_OK)
		rc = ingest_files_opts(s->path, "source", o, canon_sink(mm.cn));
	if (rc == IMDR_OK && mm.att_dir)
		rc = ingest_files_opts(mm.att_dir, "source/attachments", o, canon_sink(mm.cn));
	if (rc == IMDR_OK)
		rc = canon_finish(mm.cn, &ret->summary_json);
	if (rc == IMDR_OK)
		ret->source_name = workspace_name(&mm);
out:
	for (size_t i = 0; i < mm.nch; i++) {
		struct chan *c = &mm.ch[i];

		free(c->key);
		free(c->team);
		free(c->name);
		free(c->display);
		free(c->header);
		free(c->purpose);
		for (size_t k = 0; k < c->nmembers; k++)
			free(c->members[k]);
		free(c->members);
	}
	free(mm.ch);
	for (size_t i = 0; i < mm.nw; i++) {
		free(mm.w[i].from);
		free(mm.w[i].path);
		free(mm.w[i].rel);
	}
	if (mm.att_fd >= 0)
		close(mm.att_fd);
	free(mm.w);
	free(mm.in_batch);
	free(mm.unknown_types);
	strmap_free(mm.chan_idx);
	strmap_free(mm.placed);
	canon_free(mm.cn);
	free(jsonl);
	return rc;
}

/* has_jsonl_at_top: a .jsonl or .json directly in the export (or the
 * export is one), before its lines are read. */
static int
has_jsonl_at_top(struct ingest_probe *p)
{
	const char *base = strrchr(p->path, '/');
	size_t len;
	DIR *d;
	struct dirent *de;
	int found = 0;

	if (p->kind != SRC_DIR) {
		base = base ? base + 1 : p->path;
		len = strlen(base);
		return p->kind == SRC_ARCHIVE || (len > 5 && (strcmp(base + len - 6, ".jsonl") == 0 ||
		    strcmp(base + len - 5, ".json") == 0));
	}
	d = opendir(p->path);
	while (d && !found && (de = readdir(d)) != NULL) {
		len = strlen(de->d_name);
		found = len > 6 && strcmp(de->d_name + len - 6, ".jsonl") == 0;
	}
	if (d)
		closedir(d);
	return found;
}

/* mattermost_probe: a .jsonl whose first line is a "version" line. */
static int
mattermost_probe(struct ingest_probe *p)
{
	return has_jsonl_at_top(p) && probe_src(p) && mattermost_looks(p->s, NULL) ? 80 : 0;
}

static int
mattermost_run(const char *source, const struct ingest_opts *o,
    const struct ingest_sink *sink, struct ingest_result *ret)
{
	struct ingest_opts mo = { 0 };
	char *dflt_att = NULL;
	struct src *s = NULL;
	int rc = src_open(source, &s);

	if (rc)
		return rc;
	if (o)
		mo = *o;
	/* a lone .jsonl: its attachments are in data/ beside it unless
	 * --attachments says where */
	if (mo.attachments_dir == NULL && s->kind == SRC_FILE) {
		const char *slash = strrchr(source, '/');
		struct stat st;

		dflt_att = slash ? xasprintf("%.*s/data", (int)(slash - source), source) :
		    xstrdup("data");
		if (stat(dflt_att, &st) == 0 && S_ISDIR(st.st_mode))
			mo.attachments_dir = dflt_att;
	}
	rc = mattermost_read(s, &mo, sink, ret);
	src_free(s);
	free(dflt_att);
	return rc;
}

const struct ingest_format ingest_fmt_mattermost = {
	.name = "mattermost",
	.what = "a Mattermost bulk export (.jsonl with data/ beside it, or a .zip)",
	.probe = mattermost_probe,
	.run = mattermost_run,
};
