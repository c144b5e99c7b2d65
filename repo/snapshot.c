/* snapshot — see snapshot.h. The id is the SHA-256 of the plaintext JSON,
 * so a snapshot's name commits to its content, and `prev` chains them. */
#include "repo/snapshot.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "lib/err.h"
#include "repo/repo_impl.h"
#include "lib/hex.h"
#include "lib/text.h"
#include "lib/timefmt.h"
#include "lib/buf.h"

#define SNAPSHOT_VERSION 1

static int
cmp_name(const void *a, const void *b)
{
	const struct snapshot_name *x = a, *y = b;

	if (x->time_ns != y->time_ns)
		return x->time_ns < y->time_ns ? -1 : 1;
	return strcmp(x->id, y->id);
}

struct list_ctx {
	struct snapshot_name *v;
	size_t n, cap;
};

/* parse_name: "snapshots/<time>-<tag>-<id>", or the older
 * "snapshots/<time>-<id>" (no source tag). */
static int
parse_name(const char *name, struct snapshot_name *ret)
{
	const char *base = name, *dash, *tdash;
	char tbuf[40];

	if (strncmp(base, "snapshots/", 10) != 0 || strlen(name) >= sizeof(ret->name))
		return -1;
	base += 10;
	dash = strrchr(base, '-');
	if (dash == NULL || !hex_valid(dash + 1, SNAPSHOT_ID_HEX))
		return -1;
	ret->tag[0] = '\0';
	tdash = dash;
	if (dash - base > SNAPSHOT_TAG_HEX && dash[-SNAPSHOT_TAG_HEX - 1] == '-' &&
	    strspn(dash - SNAPSHOT_TAG_HEX, "0123456789abcdef") >= SNAPSHOT_TAG_HEX) {
		tdash = dash - SNAPSHOT_TAG_HEX - 1;
		memcpy(ret->tag, tdash + 1, SNAPSHOT_TAG_HEX);
		ret->tag[SNAPSHOT_TAG_HEX] = '\0';
	}
	if ((size_t)(tdash - base) >= sizeof(tbuf))
		return -1;
	memcpy(tbuf, base, (size_t)(tdash - base));
	tbuf[tdash - base] = '\0';
	if (time_parse_compact(tbuf, &ret->time_ns) != 0)
		return -1;
	snprintf(ret->id, sizeof(ret->id), "%s", dash + 1);
	snprintf(ret->name, sizeof(ret->name), "%s", name);
	return 0;
}

void
snapshot_source_tag(const struct repo *r, const char *source,
    char ret_tag[SNAPSHOT_TAG_HEX + 1])
{
	struct buf b = BUF_INIT;
	uint8_t mac[32];

	buf_append(&b, "imdr-source", 11);
	buf_puts(&b, source);
	crypto_hmac(repo_keys(r)->mac, b.data, b.len, mac);
	hex_encode(mac, SNAPSHOT_TAG_HEX / 2, ret_tag);
	buf_free(&b);
}

int
snapshot_source_check(const char *source)
{
	const unsigned char *p = (const unsigned char *)source;
	size_t n = strlen(source);

	if (n == 0)
		return err_set(IMDR_EINVAL, "a source name cannot be empty");
	if (n > SNAPSHOT_SOURCE_MAX)
		return err_set(IMDR_EINVAL, "source name too long (%zu bytes; at most %d)", n,
		    SNAPSHOT_SOURCE_MAX);
	while (*p) {
		size_t len = *p < 0x80 ? 1 : (*p & 0xE0) == 0xC0 ? 2 : (*p & 0xF0) == 0xE0 ? 3 :
		    (*p & 0xF8) == 0xF0 ? 4 : 0;

		if (*p < 0x20 || *p == 0x7F)
			return err_set(IMDR_EINVAL, "source name with a control character");
		if (len == 0)
			return err_set(IMDR_EINVAL, "source name is not valid UTF-8");
		for (size_t k = 1; k < len; k++)
			if ((p[k] & 0xC0) != 0x80)
				return err_set(IMDR_EINVAL, "source name is not valid UTF-8");
		if (len == 2 && p[0] == 0xC2 && p[1] < 0xA0)
			return err_set(IMDR_EINVAL, "source name with a control character");
		p += len;
	}
	return IMDR_OK;
}

size_t
snapshot_filter_source(struct snapshot_name *list, size_t n, const char *tag)
{
	size_t k = 0;

	for (size_t i = 0; i < n; i++)
		if (strcmp(list[i].tag, tag) == 0)
			list[k++] = list[i];
	return k;
}

static int
list_one(void *vctx, const char *name, uint64_t size)
{
	struct list_ctx *c = vctx;
	struct snapshot_name sn;

	if (parse_name(name, &sn) != 0)
		return 0;	/* not ours; `check` reports strays */
	sn.size = size;
	if (c->n == c->cap) {
		c->cap = c->cap ? c->cap * 2 : 64;
		c->v = xrealloc(c->v, c->cap * sizeof(*c->v));
	}
	c->v[c->n++] = sn;
	return 0;
}

int
snapshot_list(struct repo *r, struct snapshot_name **ret, size_t *ret_n)
{
	struct list_ctx c = { NULL, 0, 0 };
	int rc;

	rc = backend_list(repo_be(r), "snapshots/", list_one, &c);
	if (rc) {
		free(c.v);
		return rc;
	}
	if (c.n)
		qsort(c.v, c.n, sizeof(*c.v), cmp_name);
	*ret = c.v;
	*ret_n = c.n;
	return IMDR_OK;
}

static json_t *
ref_to_json(const struct blob_ref *ref)
{
	char id[65], pack[65];

	hex_encode(ref->id, CRYPTO_ID_LEN, id);
	hex_encode(ref->pack, CRYPTO_ID_LEN, pack);
	return json_pack("{s:s, s:s, s:I, s:I, s:I}", "id", id, "pack", pack,
	    "offset", (json_int_t)ref->offset, "length", (json_int_t)ref->length,
	    "raw_length", (json_int_t)ref->raw_length);
}

static int
ref_from_json(json_t *j, struct blob_ref *ref)
{
	const char *id, *pack;
	json_int_t off, len, raw;

	if (json_unpack(j, "{s:s, s:s, s:I, s:I, s:I}", "id", &id, "pack", &pack,
	    "offset", &off, "length", &len, "raw_length", &raw) != 0 ||
	    !hex_valid(id, 64) || !hex_valid(pack, 64) || off < 0 || len < 0 ||
	    raw < 0 || len > UINT32_MAX || raw > UINT32_MAX)
		return -1;
	hex_decode(id, ref->id, CRYPTO_ID_LEN);
	hex_decode(pack, ref->pack, CRYPTO_ID_LEN);
	ref->offset = (uint64_t)off;
	ref->length = (uint32_t)len;
	ref->raw_length = (uint32_t)raw;
	return 0;
}

/* The skipped list keeps a snapshot object within REPO_SNAPSHOT_MAX
 * whatever was skipped (a 100 KB path, a thousand times): each text is cut
 * at SKIP_TEXT_MAX bytes and the list stops at SKIP_LIST_BYTES;
 * skipped_total still counts them all. */
#define SKIP_TEXT_MAX 4096
#define SKIP_LIST_BYTES (4u << 20)

/* cut_text: a copy of s, or of its first SKIP_TEXT_MAX bytes at a UTF-8
 * character boundary with "..." after. */
static char *
cut_text(const char *s)
{
	size_t n = strlen(s);
	char *c;

	if (n <= SKIP_TEXT_MAX)
		return xstrdup(s);
	n = SKIP_TEXT_MAX;
	while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
		n--;
	c = xmalloc(n + 4);
	memcpy(c, s, n);
	memcpy(c + n, "...", 4);
	return c;
}

/* set_text: o[key] = s. Paths (the source, a skipped file from a folder or
 * an archive) need not be UTF-8, which JSON strings must be: then o[key]
 * shows s with U+FFFD for each undecodable byte and o[key + "_b64"] holds
 * its bytes in base64, which get_text prefers. */
static void
set_text(json_t *o, const char *key, const char *s)
{
	json_t *v = json_string(s);

	if (v == NULL) {
		char *lossy = text_utf8_lossy(s), *b64 = text_base64(s, strlen(s));
		char *k64 = xasprintf("%s_b64", key);

		v = json_string(lossy);
		json_object_set_new(o, k64, json_string(b64));
		free(lossy);
		free(b64);
		free(k64);
	}
	json_object_set_new(o, key, v);
}

static char *
encode(const struct snapshot *s)
{
	json_t *j, *tags = json_array(), *skipped = json_array();
	size_t skip_bytes = 0;
	char when[40];
	char *out;

	time_format(s->time_ns, 9, when);
	for (size_t i = 0; i < s->ntags; i++) {
		char *t = text_utf8_lossy(s->tags[i]);

		json_array_append_new(tags, json_string(t));
		free(t);
	}
	for (size_t i = 0; i < s->nskipped && skip_bytes < SKIP_LIST_BYTES; i++) {
		char *p = cut_text(s->skipped[i].path), *rs = cut_text(s->skipped[i].reason);
		json_t *o = json_object();

		skip_bytes += strlen(p) + strlen(rs);
		set_text(o, "path", p);
		set_text(o, "reason", rs);
		json_array_append_new(skipped, o);
		free(p);
		free(rs);
	}
	j = json_pack("{s:i, s:s, s:I, s:s, s:o, s:o, s:i, s:I,"
	    " s:{s:I, s:I, s:I, s:I}, s:{s:I, s:I, s:I}, s:s, s:o, s:I}",
	    "version", SNAPSHOT_VERSION, "time", when, "time_ns", (json_int_t)s->time_ns,
	    "format", s->format ? s->format : "files", "tags", tags,
	    "root", ref_to_json(&s->root), "root_mode", (int)s->root_mode,
	    "root_mtime_ns", (json_int_t)s->root_mtime_ns,
	    "counts", "files", (json_int_t)s->files, "dirs", (json_int_t)s->dirs,
	    "symlinks", (json_int_t)s->symlinks, "bytes", (json_int_t)s->bytes,
	    "added", "bytes", (json_int_t)s->added_bytes, "blobs", (json_int_t)s->added_blobs,
	    "duration_ms", (json_int_t)s->duration_ms,
	    "prev", s->prev, "skipped", skipped,
	    "skipped_total", (json_int_t)s->skipped_total);
	if (j == NULL)
		return NULL;
	set_text(j, "host", s->host ? s->host : "");
	set_text(j, "source", s->source ? s->source : "");
	set_text(j, "path", s->path ? s->path : "");
	if (s->extra_json) {
		json_error_t e;
		json_t *x = json_loads(s->extra_json, 0, &e);

		if (x)
			json_object_set_new(j, "summary", x);
	}
	if (s->has_search)
		json_object_set_new(j, "search", ref_to_json(&s->search));
	out = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(j);
	return out;
}

int
snapshot_save(struct repo *r, struct snapshot *s)
{
	uint8_t sum[32];
	char tbuf[32], tag[SNAPSHOT_TAG_HEX + 1], *js;
	int rc;

	rc = snapshot_source_check(s->source ? s->source : "");
	if (rc)
		return rc;
	js = encode(s);
	if (js == NULL)
		return err_set(IMDR_EINVAL, "cannot encode snapshot (bad text in host, source or tags?)");
	crypto_sha256(js, strlen(js), sum);
	hex_encode(sum, sizeof(sum), s->id);
	time_format_compact(s->time_ns, tbuf);
	snapshot_source_tag(r, s->source, tag);
	snprintf(s->name, sizeof(s->name), "snapshots/%s-%s-%s", tbuf, tag, s->id);
	rc = repo_put_sealed(r, OBJ_SNAPSHOT, s->name, js, strlen(js));
	free(js);
	return rc;
}

/* dup_str: j[key] as set_text wrote it: the bytes of key + "_b64" when
 * present, else the string; "" when neither is there. */
static char *
dup_str(json_t *j, const char *key)
{
	char *k64 = xasprintf("%s_b64", key);
	json_t *v = json_object_get(j, k64), *s = json_object_get(j, key);
	struct buf b = BUF_INIT;

	free(k64);
	if (json_is_string(v) && text_unbase64(json_string_value(v), &b) == 0 &&
	    strlen((char *)b.data) == b.len)
		return (char *)buf_steal(&b, NULL);
	buf_free(&b);
	return xstrdup(json_is_string(s) ? json_string_value(s) : "");
}

static int load_sized(struct repo *r, const char *name, uint64_t size,
    struct snapshot **ret);

int
snapshot_load(struct repo *r, const char *name, struct snapshot **ret)
{
	return load_sized(r, name, REPO_SIZE_UNKNOWN, ret);
}

int
snapshot_load_listed(struct repo *r, const struct snapshot_name *sn,
    struct snapshot **ret)
{
	return load_sized(r, sn->name, sn->size, ret);
}

static int
load_sized(struct repo *r, const char *name, uint64_t size, struct snapshot **ret)
{
	struct buf b = BUF_INIT;
	struct snapshot *s = NULL;
	struct snapshot_name sn;
	uint8_t sum[32];
	char hex[65];
	int rc;

	if (parse_name(name, &sn) != 0)
		return err_set(IMDR_EINVAL, "%s is not a snapshot name", name);
	rc = repo_get_sealed_sized(r, OBJ_SNAPSHOT, name, size, &b);
	if (rc)
		goto out;
	crypto_sha256(b.data, b.len, sum);
	hex_encode(sum, sizeof(sum), hex);
	if (strcmp(hex, sn.id) != 0) {
		rc = err_set(IMDR_EAUTH, "snapshot %s: content does not match its id", name);
		goto out;
	}
	rc = snapshot_parse(name, b.data, b.len, &s);
	if (rc)
		goto out;
	snprintf(s->id, sizeof(s->id), "%s", sn.id);
	snprintf(s->name, sizeof(s->name), "%s", name);
	*ret = s;
	s = NULL;
out:
	snapshot_free(s);
	buf_free(&b);
	return rc;
}

int
snapshot_parse(const char *name, const uint8_t *data, size_t n,
    struct snapshot **ret)
{
	struct snapshot *s = NULL;
	json_error_t jerr;
	json_t *j = NULL, *v;
	json_int_t mode = 0755, mt = 0, t;
	int rc = IMDR_OK;

	j = json_loadb((const char *)data, n, 0, &jerr);
	s = xcalloc(1, sizeof(*s));
	if (j == NULL || json_unpack(j, "{s:I}", "time_ns", &t) != 0 ||
	    ref_from_json(json_object_get(j, "root"), &s->root) != 0) {
		rc = err_set(IMDR_EFORMAT, "snapshot %s is malformed", name);
		goto out;
	}
	s->time_ns = t;
	s->host = dup_str(j, "host");
	s->source = dup_str(j, "source");
	s->path = json_object_get(j, "path") ? dup_str(j, "path") : xstrdup(s->source);
	s->format = dup_str(j, "format");
	json_unpack(j, "{s?I, s?I}", "root_mode", &mode, "root_mtime_ns", &mt);
	s->root_mode = (uint32_t)mode;
	s->root_mtime_ns = mt;
	v = json_object_get(j, "prev");
	snprintf(s->prev, sizeof(s->prev), "%s", json_is_string(v) ? json_string_value(v) : "");
	{
		json_int_t f = 0, d = 0, l = 0, by = 0, ab = 0, abl = 0, dur = 0, st = 0;

		json_unpack(j, "{s?{s?I, s?I, s?I, s?I}, s?{s?I, s?I}, s?I, s?I}",
		    "counts", "files", &f, "dirs", &d, "symlinks", &l, "bytes", &by,
		    "added", "bytes", &ab, "blobs", &abl, "duration_ms", &dur,
		    "skipped_total", &st);
		s->files = (uint64_t)f;
		s->dirs = (uint64_t)d;
		s->symlinks = (uint64_t)l;
		s->bytes = (uint64_t)by;
		s->added_bytes = (uint64_t)ab;
		s->added_blobs = (uint64_t)abl;
		s->duration_ms = (uint64_t)dur;
		s->skipped_total = (uint64_t)st;
	}
	v = json_object_get(j, "tags");
	if (json_is_array(v) && json_array_size(v) > 0) {
		s->tags = xcalloc(json_array_size(v), sizeof(char *));
		for (size_t i = 0; i < json_array_size(v); i++) {
			json_t *e = json_array_get(v, i);

			if (json_is_string(e))
				s->tags[s->ntags++] = xstrdup(json_string_value(e));
		}
	}
	v = json_object_get(j, "skipped");
	if (json_is_array(v) && json_array_size(v) > 0) {
		s->skipped = xcalloc(json_array_size(v), sizeof(*s->skipped));
		for (size_t i = 0; i < json_array_size(v); i++) {
			json_t *e = json_array_get(v, i);

			s->skipped[s->nskipped].path = dup_str(e, "path");
			s->skipped[s->nskipped].reason = dup_str(e, "reason");
			s->nskipped++;
		}
	}
	v = json_object_get(j, "summary");
	if (v)
		s->extra_json = json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS);
	v = json_object_get(j, "search");
	if (v) {
		if (ref_from_json(v, &s->search) != 0) {
			rc = err_set(IMDR_EFORMAT, "snapshot %s: its search reference is malformed", name);
			goto out;
		}
		s->has_search = 1;
	}
	*ret = s;
	s = NULL;
out:
	snapshot_free(s);
	json_decref(j);
	return rc;
}

void
snapshot_free(struct snapshot *s)
{
	if (s == NULL)
		return;
	free(s->host);
	free(s->source);
	free(s->path);
	free(s->format);
	for (size_t i = 0; i < s->ntags; i++)
		free(s->tags[i]);
	free(s->tags);
	for (size_t i = 0; i < s->nskipped; i++) {
		free(s->skipped[i].path);
		free(s->skipped[i].reason);
	}
	free(s->skipped);
	free(s->extra_json);
	free(s);
}

long
snapshot_find_at(const struct snapshot_name *list, size_t n, int64_t t)
{
	long lo = 0, hi = (long)n - 1, found = -1;

	while (lo <= hi) {
		long mid = lo + (hi - lo) / 2;

		if (list[mid].time_ns <= t) {
			found = mid;
			lo = mid + 1;
		} else {
			hi = mid - 1;
		}
	}
	return found;
}

int
snapshot_resolve_name(const struct snapshot_name *list, size_t n,
    const char *spec, size_t *ret_index)
{
	int64_t t, tend;
	size_t len = strlen(spec), match = 0, hits = 0;

	if (n == 0)
		return err_set(IMDR_ENOENT, "the repository has no snapshots");
	if (strcmp(spec, "latest") == 0) {
		*ret_index = n - 1;
		return IMDR_OK;
	}
	if (time_parse(spec, &t, &tend) == 0) {
		long i = snapshot_find_at(list, n, tend);
		char first[40];

		if (i < 0) {
			time_format(list[0].time_ns, 0, first);
			return err_set(IMDR_ENOENT, "no snapshot at or before %s (the first is %s)",
			    spec, first);
		}
		*ret_index = (size_t)i;
		return IMDR_OK;
	}
	if (len < 4 || len > SNAPSHOT_ID_HEX || !hex_valid(spec, len))
		return err_set(IMDR_EINVAL, "%s: not a snapshot id, time or \"latest\"", spec);
	for (size_t i = 0; i < n; i++) {
		if (strncmp(list[i].id, spec, len) == 0) {
			match = i;
			hits++;
		}
	}
	if (hits == 0)
		return err_set(IMDR_ENOENT, "no snapshot with id %s", spec);
	if (hits > 1)
		return err_set(IMDR_EAMBIG, "snapshot id %s is ambiguous (%zu match); give more digits",
		    spec, hits);
	*ret_index = match;
	return IMDR_OK;
}

int
snapshot_resolve(struct repo *r, const char *source, const char *spec,
    struct snapshot **ret)
{
	struct snapshot_name *list = NULL;
	char tag[SNAPSHOT_TAG_HEX + 1];
	size_t n = 0, i;
	int rc;

	rc = snapshot_list(r, &list, &n);
	if (rc == IMDR_OK && source) {
		snapshot_source_tag(r, source, tag);
		n = snapshot_filter_source(list, n, tag);
		if (n == 0)
			rc = err_set(IMDR_ENOENT, "no snapshot of source %s", source);
	}
	if (rc == IMDR_OK)
		rc = snapshot_resolve_name(list, n, spec, &i);
	if (rc == IMDR_OK)
		rc = snapshot_load_listed(r, &list[i], ret);
	free(list);
	return rc;
}
