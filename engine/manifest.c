/* manifest — see manifest.h.
 *
 * The scan follows JSON's grammar as far as finding where each value ends
 * needs: strings (to their unescaped closing quote, no control characters
 * in them), objects and arrays (members, separators, nesting up to
 * MAX_DEPTH), and literals (a run of letters, digits, '+', '-', '.': a
 * number, true, false or null, checked by jansson when its entry is
 * parsed). Whatever it accepts, jansson is the judge of the entries looked
 * up: an entry is parsed alone, in full, before anything of it is
 * believed.
 *
 * The index is a hash table of the entries' paths (open addressing,
 * linear probing, at most half full, keyed SipHash: the paths come from
 * an export). It used to be the entries sorted by path, but imdr does not
 * write every manifest in path order (a canonical export's own is kept as
 * it came) and sorting the 19,000 entries of the full corpus, paths that
 * share their first 60 bytes, cost 5 ms of CPU, more than hashing them. */
#include "engine/manifest.h"

#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "lib/array.h"
#include "lib/buf.h"
#include "lib/err.h"
#include "lib/hash.h"
#include "lib/hex.h"

#define MAX_DEPTH 64

struct mentry {
	const char *path;	/* in the text, or owned when decoded */
	size_t plen;
	size_t off, len;	/* the entry's object in the text */
	int owned;
};

struct manifest {
	const char *text;
	size_t n;
	struct mentry *e;	/* in the document's order */
	size_t ne, cap;
	size_t *slot;		/* 1 + an index into e, or 0: empty */
	size_t mask;		/* the number of slots - 1 */
};

struct scan {
	const char *p, *end;
};

static void
skip_ws(struct scan *s)
{
	while (s->p < s->end && (*s->p == ' ' || *s->p == '\t' || *s->p == '\n' || *s->p == '\r'))
		s->p++;
}

/* at: the next non-blank byte is c (consumed). */
static int
at(struct scan *s, char c)
{
	skip_ws(s);
	if (s->p < s->end && *s->p == c) {
		s->p++;
		return 1;
	}
	return 0;
}

/* scan_string: a string at s->p (after blanks): its raw contents (between
 * the quotes, escapes as written) and whether it has an escape. -1 when
 * there is none or it does not end. */
static int
scan_string(struct scan *s, const char **ret_raw, size_t *ret_len, int *ret_esc)
{
	const char *q;

	skip_ws(s);
	if (s->p >= s->end || *s->p != '"')
		return -1;
	*ret_esc = 0;
	for (q = s->p + 1; q < s->end && *q != '"'; q++) {
		if ((unsigned char)*q < 0x20)
			return -1;
		if (*q == '\\') {
			*ret_esc = 1;
			if (++q >= s->end)
				return -1;
		}
	}
	if (q >= s->end)
		return -1;
	*ret_raw = s->p + 1;
	*ret_len = (size_t)(q - (s->p + 1));
	s->p = q + 1;
	return 0;
}

/* decode: the string whose raw contents are raw (with its quotes around
 * it in the text), as jansson reads it; NULL when it is not valid. */
static char *
decode(const char *raw, size_t len)
{
	json_t *j = json_loadb(raw - 1, len + 2, JSON_DECODE_ANY, NULL);
	char *s = json_is_string(j) ? xstrdup(json_string_value(j)) : NULL;

	json_decref(j);
	return s;
}

/* key_is: the member name just scanned is name. */
static int
key_is(const char *raw, size_t len, int esc, const char *name)
{
	char *d;
	int same;

	if (!esc)
		return len == strlen(name) && memcmp(raw, name, len) == 0;
	d = decode(raw, len);
	same = d && strcmp(d, name) == 0;
	free(d);
	return same;
}

static int skip_value(struct scan *s, int depth);

/* skip_members: the rest of an object or array whose opening s->p has
 * just passed, to after its closing. */
static int
skip_members(struct scan *s, char close, int depth)
{
	const char *raw;
	size_t len;
	int esc;

	if (depth >= MAX_DEPTH)
		return -1;
	if (at(s, close))
		return 0;
	do {
		if (close == '}' && (scan_string(s, &raw, &len, &esc) < 0 || !at(s, ':')))
			return -1;
		if (skip_value(s, depth + 1) < 0)
			return -1;
	} while (at(s, ','));
	return at(s, close) ? 0 : -1;
}

static int
skip_value(struct scan *s, int depth)
{
	const char *raw, *start;
	size_t len;
	int esc;

	skip_ws(s);
	if (s->p >= s->end)
		return -1;
	switch (*s->p) {
	case '"':
		return scan_string(s, &raw, &len, &esc);
	case '{':
	case '[':
		return skip_members(s, *s->p++ == '{' ? '}' : ']', depth);
	default:
		start = s->p;
		while (s->p < s->end && ((*s->p >= '0' && *s->p <= '9') || (*s->p >= 'a' && *s->p <= 'z') ||
		    (*s->p >= 'A' && *s->p <= 'Z') || *s->p == '+' || *s->p == '-' || *s->p == '.'))
			s->p++;
		return s->p > start ? 0 : -1;
	}
}

/* scan_entry: one element of "files": where it lies, and its path when it
 * is an object with a "path" string (else e->path stays NULL). */
static int
scan_entry(struct manifest *m, struct scan *s, struct mentry *e)
{
	const char *raw;
	size_t len;
	int esc;

	memset(e, 0, sizeof(*e));
	skip_ws(s);
	e->off = (size_t)(s->p - m->text);
	if (!at(s, '{')) {
		if (skip_value(s, 2) < 0)
			return -1;
		e->len = (size_t)(s->p - m->text) - e->off;
		return 0;
	}
	if (!at(s, '}')) {
		do {
			if (scan_string(s, &raw, &len, &esc) < 0 || !at(s, ':'))
				return -1;
			if (key_is(raw, len, esc, "path")) {
				const char *vraw;
				size_t vlen;
				int vesc;
				struct scan v = *s;

				skip_ws(&v);
				if (e->owned)
					free((char *)e->path);
				e->path = NULL;
				e->owned = 0;
				if (v.p < v.end && *v.p == '"' && scan_string(&v, &vraw, &vlen, &vesc) == 0) {
					e->owned = vesc;
					e->path = vesc ? decode(vraw, vlen) : vraw;
					e->plen = e->path == NULL ? 0 : vesc ? strlen(e->path) : vlen;
				}
			}
			if (skip_value(s, 3) < 0)
				return -1;
		} while (at(s, ','));
		if (!at(s, '}'))
			return -1;
	}
	e->len = (size_t)(s->p - m->text) - e->off;
	return 0;
}

static void
entries_free(struct manifest *m)
{
	for (size_t i = 0; i < m->ne; i++)
		if (m->e[i].owned)
			free((char *)m->e[i].path);
	m->ne = 0;
}

/* scan_files: the "files" array, whose '[' is next; a second one in the
 * same document replaces the first (as in jansson's reading). */
static int
scan_files(struct manifest *m, struct scan *s, size_t *ret_bad, size_t *ret_first_bad)
{
	size_t i = 0;

	entries_free(m);
	*ret_bad = *ret_first_bad = 0;
	if (!at(s, '['))
		return -1;
	if (at(s, ']'))
		return 0;
	do {
		struct mentry e;

		if (scan_entry(m, s, &e) < 0) {
			if (e.owned)
				free((char *)e.path);
			return -1;
		}
		if (e.path) {
			*ARRAY_PUSH(m->e, m->ne, m->cap) = e;
		} else if ((*ret_bad)++ == 0) {
			*ret_first_bad = i;
		}
		i++;
	} while (at(s, ','));
	return at(s, ']') ? 0 : -1;
}

static int
same_path(const struct mentry *e, const char *path, size_t plen)
{
	return e->plen == plen && memcmp(e->path, path, plen) == 0;
}

/* hash_entries: the table of the entries' paths; a path listed twice
 * keeps its first entry. */
static void
hash_entries(struct manifest *m)
{
	size_t nslots = 16;

	while (nslots < 2 * m->ne)
		nslots *= 2;
	m->slot = xcalloc(nslots, sizeof(*m->slot));
	m->mask = nslots - 1;
	for (size_t i = 0; i < m->ne; i++) {
		const struct mentry *e = &m->e[i];
		size_t k = (size_t)hash_keyed(e->path, e->plen) & m->mask;

		while (m->slot[k] && !same_path(&m->e[m->slot[k] - 1], e->path, e->plen))
			k = (k + 1) & m->mask;
		if (m->slot[k] == 0)
			m->slot[k] = i + 1;
	}
}

int
manifest_index(const char *text, size_t n, struct manifest **ret, size_t *ret_bad,
    size_t *ret_first_bad)
{
	struct manifest *m = xcalloc(1, sizeof(*m));
	struct scan s = { text, text + n };
	const char *raw;
	size_t len;
	int esc, files = 0;

	*ret = NULL;
	*ret_bad = *ret_first_bad = 0;
	m->text = text;
	m->n = n;
	if (!at(&s, '{'))
		goto bad;
	if (!at(&s, '}')) {
		do {
			if (scan_string(&s, &raw, &len, &esc) < 0 || !at(&s, ':'))
				goto bad;
			if (key_is(raw, len, esc, "files")) {
				if (scan_files(m, &s, ret_bad, ret_first_bad) < 0)
					goto bad;
				files = 1;
			} else if (skip_value(&s, 1) < 0) {
				goto bad;
			}
		} while (at(&s, ','));
		if (!at(&s, '}'))
			goto bad;
	}
	skip_ws(&s);
	if (s.p != s.end)
		goto bad;
	if (!files) {
		manifest_free(m);
		return err_set(IMDR_EFORMAT, "no files list");
	}
	hash_entries(m);
	*ret = m;
	return IMDR_OK;
bad:
	manifest_free(m);
	return err_set(IMDR_EFORMAT, "not valid JSON near byte %zu", (size_t)(s.p - text));
}

int
manifest_lookup(const struct manifest *m, const char *path, uint64_t *ret_size, char ret_sha[65])
{
	size_t plen = strlen(path), k = (size_t)hash_keyed(path, plen) & m->mask;
	const struct mentry *e = NULL;
	json_t *j, *size;
	const char *sha;
	int rc = IMDR_OK;

	for (; m->slot[k]; k = (k + 1) & m->mask) {
		if (same_path(&m->e[m->slot[k] - 1], path, plen)) {
			e = &m->e[m->slot[k] - 1];
			break;
		}
	}
	if (e == NULL)
		return IMDR_ENOENT;
	j = json_loadb(m->text + e->off, e->len, 0, NULL);
	sha = json_string_value(json_object_get(j, "sha256"));
	size = json_object_get(j, "size");
	if (!json_is_string(json_object_get(j, "path")) || sha == NULL || !hex_valid(sha, 64) ||
	    !json_is_integer(size) || json_integer_value(size) < 0) {
		rc = IMDR_EFORMAT;
	} else {
		memcpy(ret_sha, sha, 65);
		*ret_size = (uint64_t)json_integer_value(size);
	}
	json_decref(j);
	return rc;
}

size_t
manifest_count(const struct manifest *m)
{
	return m->ne;
}

void
manifest_free(struct manifest *m)
{
	if (m == NULL)
		return;
	entries_free(m);
	free(m->e);
	free(m->slot);
	free(m);
}
