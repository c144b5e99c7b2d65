/* chat — see chat.h.
 *
 * The line scanner: a recursive-descent reader of one JSON object that
 * decodes only the fields of the canonical layout and skips the rest
 * (nesting bounded at MAX_DEPTH). Strings are decoded into one arena per
 * parser, as offsets while the arena may still move, turned into pointers
 * at the end. Escapes are decoded (\uXXXX with surrogate pairs); bytes
 * that are not UTF-8, lone surrogates and raw control characters are
 * errors or U+FFFD exactly as jansson would refuse or accept them: what
 * comes out is always valid UTF-8. */
#include "search/chat.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "catalog/catalog.h"
#include "lib/err.h"
#include "lib/timefmt.h"

#define MAX_DEPTH 64
#define NONE ((size_t)-1)

struct att_off { size_t name, path, url, sha; uint64_t size; };
struct react_off { size_t name, first_user, nusers; };
struct chat_parser;
struct react_ctx { struct chat_parser *cp; struct react_off *r; };

struct chat_parser {
	struct buf arena;
	struct att_off *ao;
	size_t nao, capao;
	struct react_off *ro;
	size_t nro, capro;
	size_t *uo;		/* reaction users, as offsets */
	size_t nuo, capuo;
	/* what the last message points into */
	struct chat_att *att;
	size_t capatt;
	struct chat_reaction *react;
	size_t capreact;
	const char **users;
	size_t capusers;
};

struct scan {
	const char *p, *end;
	const char *err;
	struct chat_parser *cp;
};

struct chat_parser *
chat_parser_new(void)
{
	return xcalloc(1, sizeof(struct chat_parser));
}

void
chat_parser_free(struct chat_parser *p)
{
	if (p == NULL)
		return;
	buf_free(&p->arena);
	free(p->ao);
	free(p->ro);
	free(p->uo);
	free(p->att);
	free(p->react);
	free(p->users);
	free(p);
}

static void
ws(struct scan *s)
{
	while (s->p < s->end && (*s->p == ' ' || *s->p == '\t' || *s->p == '\n' ||
	    *s->p == '\r'))
		s->p++;
}

static int
fail(struct scan *s, const char *why)
{
	if (s->err == NULL)
		s->err = why;
	return -1;
}

static void
put_utf8(struct buf *b, uint32_t c)
{
	uint8_t o[4];
	size_t n;

	if (c < 0x80) {
		o[0] = (uint8_t)c;
		n = 1;
	} else if (c < 0x800) {
		o[0] = (uint8_t)(0xC0 | (c >> 6));
		o[1] = (uint8_t)(0x80 | (c & 0x3F));
		n = 2;
	} else if (c < 0x10000) {
		o[0] = (uint8_t)(0xE0 | (c >> 12));
		o[1] = (uint8_t)(0x80 | ((c >> 6) & 0x3F));
		o[2] = (uint8_t)(0x80 | (c & 0x3F));
		n = 3;
	} else {
		o[0] = (uint8_t)(0xF0 | (c >> 18));
		o[1] = (uint8_t)(0x80 | ((c >> 12) & 0x3F));
		o[2] = (uint8_t)(0x80 | ((c >> 6) & 0x3F));
		o[3] = (uint8_t)(0x80 | (c & 0x3F));
		n = 4;
	}
	buf_append(b, o, n);
}

static int
hex4(const char *p, uint32_t *ret)
{
	uint32_t v = 0;

	for (int i = 0; i < 4; i++) {
		char c = p[i];

		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= (uint32_t)(c - '0');
		else if (c >= 'a' && c <= 'f')
			v |= (uint32_t)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			v |= (uint32_t)(c - 'A' + 10);
		else
			return -1;
	}
	*ret = v;
	return 0;
}

/* utf8_len: length of the valid UTF-8 sequence at p (< end), or 0. */
static size_t
utf8_len(const unsigned char *p, const unsigned char *end)
{
	unsigned c = p[0];
	size_t n;
	uint32_t cp;

	if (c < 0x80)
		return 1;
	if ((c & 0xE0) == 0xC0)
		n = 2, cp = c & 0x1F;
	else if ((c & 0xF0) == 0xE0)
		n = 3, cp = c & 0x0F;
	else if ((c & 0xF8) == 0xF0)
		n = 4, cp = c & 0x07;
	else
		return 0;
	if ((size_t)(end - p) < n)
		return 0;
	for (size_t i = 1; i < n; i++) {
		if ((p[i] & 0xC0) != 0x80)
			return 0;
		cp = (cp << 6) | (p[i] & 0x3F);
	}
	if ((n == 2 && cp < 0x80) || (n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) ||
	    cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
		return 0;
	return n;
}

/* string: decode the string at s->p into the arena (NUL-terminated);
 * *ret its offset. With ret NULL, only skip it. */
static int
string(struct scan *s, size_t *ret)
{
	struct buf *a = &s->cp->arena;
	const char *p;

	if (s->p >= s->end || *s->p != '"')
		return fail(s, "a string was expected");
	p = ++s->p;
	if (ret)
		*ret = a->len;
	for (;;) {
		const char *run = p;

		while (p < s->end && *p != '"' && *p != '\\' && (unsigned char)*p >= 0x20 &&
		    (unsigned char)*p < 0x80)
			p++;
		if (ret && p > run)
			buf_append(a, run, (size_t)(p - run));
		if (p >= s->end)
			return fail(s, "unterminated string");
		if (*p == '"')
			break;
		if ((unsigned char)*p < 0x20)
			return fail(s, "control character in a string");
		if ((unsigned char)*p >= 0x80) {
			size_t n = utf8_len((const unsigned char *)p, (const unsigned char *)s->end);

			if (n == 0)
				return fail(s, "a string that is not UTF-8");
			if (ret)
				buf_append(a, p, n);
			p += n;
			continue;
		}
		/* a backslash */
		if (s->end - p < 2)
			return fail(s, "unterminated string");
		p++;
		switch (*p) {
		case '"': case '\\': case '/':
			if (ret)
				buf_putc(a, (uint8_t)*p);
			p++;
			break;
		case 'b': if (ret) buf_putc(a, '\b'); p++; break;
		case 'f': if (ret) buf_putc(a, '\f'); p++; break;
		case 'n': if (ret) buf_putc(a, '\n'); p++; break;
		case 'r': if (ret) buf_putc(a, '\r'); p++; break;
		case 't': if (ret) buf_putc(a, '\t'); p++; break;
		case 'u': {
			uint32_t c, lo;

			if (s->end - p < 5 || hex4(p + 1, &c))
				return fail(s, "bad \\u escape");
			p += 5;
			if (c >= 0xD800 && c <= 0xDBFF) {
				if (s->end - p < 6 || p[0] != '\\' || p[1] != 'u' ||
				    hex4(p + 2, &lo) || lo < 0xDC00 || lo > 0xDFFF)
					return fail(s, "a lone UTF-16 surrogate");
				p += 6;
				c = 0x10000 + ((c - 0xD800) << 10) + (lo - 0xDC00);
			} else if (c >= 0xDC00 && c <= 0xDFFF) {
				return fail(s, "a lone UTF-16 surrogate");
			}
			if (c == 0)
				return fail(s, "\\u0000 in a string");
			if (ret)
				put_utf8(a, c);
			break;
		}
		default:
			return fail(s, "bad escape in a string");
		}
	}
	s->p = p + 1;
	if (ret)
		buf_putc(a, '\0');
	return 0;
}

static int
literal(struct scan *s, const char *word)
{
	size_t n = strlen(word);

	if ((size_t)(s->end - s->p) < n || memcmp(s->p, word, n) != 0)
		return fail(s, "a JSON value was expected");
	s->p += n;
	return 0;
}

/* number: a JSON number; *ret its value (may be NULL). */
static int
number(struct scan *s, double *ret, int *ret_integral)
{
	const char *p = s->p;
	char tmp[64];
	size_t n;

	if (p < s->end && *p == '-')
		p++;
	if (p >= s->end || *p < '0' || *p > '9')
		return fail(s, "a JSON value was expected");
	if (*p == '0')
		p++;
	else
		while (p < s->end && *p >= '0' && *p <= '9')
			p++;
	if (ret_integral)
		*ret_integral = 1;
	if (p < s->end && *p == '.') {
		p++;
		if (p >= s->end || *p < '0' || *p > '9')
			return fail(s, "bad number");
		while (p < s->end && *p >= '0' && *p <= '9')
			p++;
		if (ret_integral)
			*ret_integral = 0;
	}
	if (p < s->end && (*p == 'e' || *p == 'E')) {
		p++;
		if (p < s->end && (*p == '+' || *p == '-'))
			p++;
		if (p >= s->end || *p < '0' || *p > '9')
			return fail(s, "bad number");
		while (p < s->end && *p >= '0' && *p <= '9')
			p++;
		if (ret_integral)
			*ret_integral = 0;
	}
	n = (size_t)(p - s->p);
	if (ret) {
		if (n >= sizeof(tmp))
			return fail(s, "number too long");
		memcpy(tmp, s->p, n);
		tmp[n] = '\0';
		*ret = strtod(tmp, NULL);
	}
	s->p = p;
	return 0;
}

static int
skip(struct scan *s, int depth)
{
	if (depth > MAX_DEPTH)
		return fail(s, "nested too deeply");
	ws(s);
	if (s->p >= s->end)
		return fail(s, "a JSON value was expected");
	switch (*s->p) {
	case '"':
		return string(s, NULL);
	case 't':
		return literal(s, "true");
	case 'f':
		return literal(s, "false");
	case 'n':
		return literal(s, "null");
	case '[':
	case '{': {
		char close = *s->p == '[' ? ']' : '}';
		int obj = close == '}';

		s->p++;
		ws(s);
		if (s->p < s->end && *s->p == close) {
			s->p++;
			return 0;
		}
		for (;;) {
			if (obj) {
				ws(s);
				if (string(s, NULL))
					return -1;
				ws(s);
				if (s->p >= s->end || *s->p != ':')
					return fail(s, "':' was expected");
				s->p++;
			}
			if (skip(s, depth + 1))
				return -1;
			ws(s);
			if (s->p < s->end && *s->p == ',') {
				s->p++;
				continue;
			}
			if (s->p < s->end && *s->p == close) {
				s->p++;
				return 0;
			}
			return fail(s, obj ? "',' or '}' was expected" : "',' or ']' was expected");
		}
	}
	default:
		return number(s, NULL, NULL);
	}
}

/* is_null: a null value (consumed) */
static int
is_null(struct scan *s)
{
	ws(s);
	if (s->end - s->p >= 4 && memcmp(s->p, "null", 4) == 0) {
		s->p += 4;
		return 1;
	}
	return 0;
}

/* key: the next member's name into k (cap bytes; longer names are
 * truncated to "" so that they match nothing) and its ':'. */
static int
key(struct scan *s, char *k, size_t cap)
{
	const char *p;
	size_t n;

	ws(s);
	if (s->p >= s->end || *s->p != '"')
		return fail(s, "a member name was expected");
	p = s->p + 1;
	while (p < s->end && *p != '"' && *p != '\\')
		p++;
	if (p < s->end && *p == '"' && (size_t)(p - s->p - 1) < cap) {
		n = (size_t)(p - s->p - 1);
		memcpy(k, s->p + 1, n);
		k[n] = '\0';
		s->p = p + 1;
	} else {
		k[0] = '\0';
		if (string(s, NULL))
			return -1;
	}
	ws(s);
	if (s->p >= s->end || *s->p != ':')
		return fail(s, "':' was expected");
	s->p++;
	ws(s);
	return 0;
}

/* members: iterate an object's members; fn handles the value of each
 * (and must consume it). */
typedef int (*member_fn)(struct scan *s, const char *k, void *ctx, int depth);

static int
object(struct scan *s, member_fn fn, void *ctx, int depth)
{
	char k[32];

	if (depth > MAX_DEPTH)
		return fail(s, "nested too deeply");
	ws(s);
	if (s->p >= s->end || *s->p != '{')
		return fail(s, "an object was expected");
	s->p++;
	ws(s);
	if (s->p < s->end && *s->p == '}') {
		s->p++;
		return 0;
	}
	for (;;) {
		if (key(s, k, sizeof(k)) || fn(s, k, ctx, depth))
			return -1;
		ws(s);
		if (s->p < s->end && *s->p == ',') {
			s->p++;
			continue;
		}
		if (s->p < s->end && *s->p == '}') {
			s->p++;
			return 0;
		}
		return fail(s, "',' or '}' was expected");
	}
}

/* array: call fn for each element (it must consume it). */
typedef int (*elem_fn)(struct scan *s, void *ctx, int depth);

static int
array(struct scan *s, elem_fn fn, void *ctx, int depth)
{
	if (depth > MAX_DEPTH)
		return fail(s, "nested too deeply");
	ws(s);
	if (s->p >= s->end || *s->p != '[')
		return fail(s, "an array was expected");
	s->p++;
	ws(s);
	if (s->p < s->end && *s->p == ']') {
		s->p++;
		return 0;
	}
	for (;;) {
		ws(s);
		if (fn(s, ctx, depth + 1))
			return -1;
		ws(s);
		if (s->p < s->end && *s->p == ',') {
			s->p++;
			continue;
		}
		if (s->p < s->end && *s->p == ']') {
			s->p++;
			return 0;
		}
		return fail(s, "',' or ']' was expected");
	}
}

/* opt_string: a string, or null (*ret stays NONE) */
static int
opt_string(struct scan *s, size_t *ret)
{
	if (is_null(s))
		return 0;
	return string(s, ret);
}

/* ---- the fields of a message ---- */

struct msg_off {
	size_t id, user, text, thread, subtype;
	int64_t ts_ms, edited_ms;
	int deleted, have_ts;
};

/* time_ms: "YYYY-MM-DDTHH:MM:SS.mmmZ" quickly, anything else RFC 3339
 * through timefmt; -1 when it is not a time. */
static int
time_ms(const char *t, int64_t *ret)
{
	int64_t ns;

	if (strlen(t) == 24 && t[4] == '-' && t[7] == '-' && t[10] == 'T' && t[13] == ':' &&
	    t[16] == ':' && t[19] == '.' && t[23] == 'Z') {
		int v[7], ok = 1;
		static const int at[7] = { 0, 5, 8, 11, 14, 17, 20 };
		static const int len[7] = { 4, 2, 2, 2, 2, 2, 3 };

		for (int i = 0; i < 7 && ok; i++) {
			v[i] = 0;
			for (int k = 0; k < len[i]; k++) {
				char c = t[at[i] + k];

				if (c < '0' || c > '9')
					ok = 0;
				v[i] = v[i] * 10 + (c - '0');
			}
		}
		if (ok && v[1] >= 1 && v[1] <= 12 && v[2] >= 1 && v[2] <= 31 && v[3] < 24 &&
		    v[4] < 60 && v[5] < 61) {
			/* days from civil (Howard Hinnant's algorithm) */
			int y = v[0] - (v[1] <= 2);
			int era = (y >= 0 ? y : y - 399) / 400;
			unsigned yoe = (unsigned)(y - era * 400);
			unsigned doy = (unsigned)((153 * (v[1] + (v[1] > 2 ? -3 : 9)) + 2) / 5 + v[2] - 1);
			unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
			int64_t days = (int64_t)era * 146097 + (int64_t)doe - 719468;

			*ret = ((days * 24 + v[3]) * 60 + v[4]) * 60000 + (int64_t)v[5] * 1000 + v[6];
			return 0;
		}
	}
	if (time_parse_rfc3339(t, &ns) != 0)
		return -1;
	*ret = ns / 1000000;
	return 0;
}

/* a time member: an RFC 3339 string, or epoch seconds as a number */
static int
time_value(struct scan *s, int64_t *ret, int *ret_set)
{
	ws(s);
	if (s->p < s->end && *s->p == '"') {
		size_t off;

		if (string(s, &off))
			return -1;
		if (time_ms((const char *)s->cp->arena.data + off, ret) != 0)
			return fail(s, "a time that is not RFC 3339");
		*ret_set = 1;
		return 0;
	}
	if (is_null(s))
		return 0;
	{
		double d;

		if (number(s, &d, NULL))
			return -1;
		if (!(d > -1e11 && d < 1e11))
			return fail(s, "a time out of range");
		*ret = (int64_t)(d * 1000.0 + (d >= 0 ? 0.5 : -0.5));
		*ret_set = 1;
	}
	return 0;
}

static int
att_member(struct scan *s, const char *k, void *ctx, int depth)
{
	struct att_off *a = ctx;

	(void)depth;
	if (strcmp(k, "name") == 0)
		return opt_string(s, &a->name);
	if (strcmp(k, "path") == 0)
		return opt_string(s, &a->path);
	if (strcmp(k, "url") == 0)
		return opt_string(s, &a->url);
	if (strcmp(k, "sha256") == 0)
		return opt_string(s, &a->sha);
	if (strcmp(k, "size") == 0) {
		double d;

		if (is_null(s))
			return 0;
		if (number(s, &d, NULL))
			return -1;
		a->size = d > 0 && d < 1e18 ? (uint64_t)d : 0;
		return 0;
	}
	return skip(s, depth + 1);
}

static int
att_elem(struct scan *s, void *ctx, int depth)
{
	struct chat_parser *cp = ctx;
	struct att_off a = { NONE, NONE, NONE, NONE, 0 };

	if (object(s, att_member, &a, depth))
		return -1;
	if (cp->nao == cp->capao) {
		cp->capao = cp->capao ? cp->capao * 2 : 4;
		cp->ao = xrealloc(cp->ao, cp->capao * sizeof(*cp->ao));
	}
	cp->ao[cp->nao++] = a;
	return 0;
}

static int
user_elem(struct scan *s, void *ctx, int depth)
{
	struct chat_parser *cp = ctx;
	size_t off;

	(void)depth;
	if (string(s, &off))
		return -1;
	if (cp->nuo == cp->capuo) {
		cp->capuo = cp->capuo ? cp->capuo * 2 : 8;
		cp->uo = xrealloc(cp->uo, cp->capuo * sizeof(*cp->uo));
	}
	cp->uo[cp->nuo++] = off;
	return 0;
}

static int
react_member(struct scan *s, const char *k, void *ctx, int depth)
{
	struct react_ctx *x = ctx;

	if (strcmp(k, "name") == 0)
		return opt_string(s, &x->r->name);
	if (strcmp(k, "users") == 0) {
		if (is_null(s))
			return 0;
		x->r->first_user = x->cp->nuo;
		if (array(s, user_elem, x->cp, depth + 1))
			return -1;
		x->r->nusers = x->cp->nuo - x->r->first_user;
		return 0;
	}
	return skip(s, depth + 1);
}

static int
react_elem(struct scan *s, void *ctx, int depth)
{
	struct chat_parser *cp = ctx;
	struct react_off r = { NONE, 0, 0 };
	struct react_ctx x = { cp, &r };

	if (object(s, react_member, &x, depth))
		return -1;
	if (cp->nro == cp->capro) {
		cp->capro = cp->capro ? cp->capro * 2 : 4;
		cp->ro = xrealloc(cp->ro, cp->capro * sizeof(*cp->ro));
	}
	cp->ro[cp->nro++] = r;
	return 0;
}

static int
msg_member(struct scan *s, const char *k, void *ctx, int depth)
{
	struct msg_off *m = ctx;
	int set = 0;

	switch (k[0]) {
	case 'i':
		if (strcmp(k, "id") == 0) {
			ws(s);
			if (s->p < s->end && *s->p != '"') {
				/* a numeric id is kept as its text */
				const char *start = s->p;

				if (number(s, NULL, NULL))
					return -1;
				m->id = s->cp->arena.len;
				buf_append(&s->cp->arena, start, (size_t)(s->p - start));
				buf_putc(&s->cp->arena, '\0');
				return 0;
			}
			return string(s, &m->id);
		}
		break;
	case 't':
		if (strcmp(k, "ts") == 0) {
			if (time_value(s, &m->ts_ms, &set))
				return -1;
			m->have_ts = set;
			return 0;
		}
		if (strcmp(k, "text") == 0)
			return opt_string(s, &m->text);
		if (strcmp(k, "thread") == 0)
			return opt_string(s, &m->thread);
		break;
	case 'u':
		if (strcmp(k, "user") == 0)
			return opt_string(s, &m->user);
		break;
	case 'e':
		if (strcmp(k, "edited") == 0) {
			ws(s);
			if (s->p < s->end && (*s->p == 't' || *s->p == 'f')) {
				/* a bare flag: edited at an unknown time */
				int t = *s->p == 't';

				if (literal(s, t ? "true" : "false"))
					return -1;
				m->edited_ms = t ? 1 : 0;
				return 0;
			}
			return time_value(s, &m->edited_ms, &set);
		}
		break;
	case 'd':
		if (strcmp(k, "deleted") == 0) {
			ws(s);
			if (s->p < s->end && *s->p == 't') {
				m->deleted = 1;
				return literal(s, "true");
			}
			return skip(s, depth + 1);
		}
		break;
	case 's':
		if (strcmp(k, "subtype") == 0)
			return opt_string(s, &m->subtype);
		break;
	case 'a':
		if (strcmp(k, "attachments") == 0) {
			if (is_null(s))
				return 0;
			return array(s, att_elem, s->cp, depth + 1);
		}
		break;
	case 'r':
		if (strcmp(k, "reactions") == 0) {
			if (is_null(s))
				return 0;
			return array(s, react_elem, s->cp, depth + 1);
		}
		break;
	}
	return skip(s, depth + 1);
}

static const char *
at(const struct chat_parser *cp, size_t off)
{
	return off == NONE ? NULL : (const char *)cp->arena.data + off;
}

int
chat_parse_msg(struct chat_parser *cp, const char *line, size_t n,
    struct chat_msg *ret)
{
	struct scan s = { line, line + n, NULL, cp };
	struct msg_off m = { NONE, NONE, NONE, NONE, NONE, 0, 0, 0, 0 };

	cp->arena.len = 0;
	cp->nao = cp->nro = cp->nuo = 0;
	memset(ret, 0, sizeof(*ret));
	if (object(&s, msg_member, &m, 0) == 0) {
		ws(&s);
		if (s.p != s.end)
			fail(&s, "text after the message object");
	}
	if (s.err)
		return err_set(IMDR_EFORMAT, "%s (at byte %zu)", s.err, (size_t)(s.p - line));
	if (m.id == NONE || cp->arena.data[m.id] == '\0')
		return err_set(IMDR_EFORMAT, "a message without an id");
	if (!m.have_ts)
		return err_set(IMDR_EFORMAT, "message %s has no ts", at(cp, m.id));
	/* the arena no longer moves: offsets become pointers */
	buf_putc(&cp->arena, '\0');
	ret->id = at(cp, m.id);
	ret->ts_ms = m.ts_ms;
	ret->user = m.user == NONE ? "" : at(cp, m.user);
	ret->text = m.text == NONE ? "" : at(cp, m.text);
	ret->thread = at(cp, m.thread);
	ret->edited_ms = m.edited_ms;
	ret->deleted = m.deleted;
	ret->subtype = at(cp, m.subtype);
	if (cp->nao > cp->capatt) {
		cp->capatt = cp->nao;
		cp->att = xrealloc(cp->att, cp->capatt * sizeof(*cp->att));
	}
	for (size_t i = 0; i < cp->nao; i++) {
		const struct att_off *a = &cp->ao[i];

		cp->att[i] = (struct chat_att){ a->name == NONE ? "" : at(cp, a->name),
		    a->size, at(cp, a->path), at(cp, a->url), at(cp, a->sha) };
	}
	ret->att = cp->att;
	ret->natt = cp->nao;
	if (cp->nuo > cp->capusers) {
		cp->capusers = cp->nuo;
		cp->users = xrealloc(cp->users, cp->capusers * sizeof(*cp->users));
	}
	for (size_t i = 0; i < cp->nuo; i++)
		cp->users[i] = at(cp, cp->uo[i]);
	if (cp->nro > cp->capreact) {
		cp->capreact = cp->nro;
		cp->react = xrealloc(cp->react, cp->capreact * sizeof(*cp->react));
	}
	for (size_t i = 0; i < cp->nro; i++) {
		const struct react_off *r = &cp->ro[i];

		cp->react[i] = (struct chat_reaction){ r->name == NONE ? "" : at(cp, r->name),
		    cp->users + r->first_user, r->nusers };
	}
	ret->react = cp->react;
	ret->nreact = cp->nro;
	return IMDR_OK;
}

int
chat_lines(const uint8_t *data, size_t n, chat_line_fn fn, void *ctx)
{
	const char *p = (const char *)data, *end = p + n;
	size_t lineno = 0;
	int rc;

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *le = nl ? nl : end;
		size_t len = (size_t)(le - p);

		lineno++;
		if (len > 0 && p[len - 1] == '\r')
			len--;
		if (len > 0 && (rc = fn(ctx, p, len, lineno)) != 0)
			return rc;
		p = nl ? nl + 1 : end;
	}
	return IMDR_OK;
}

/* ---- users.jsonl, meta.json ---- */

static char *
jstr(json_t *o, const char *k)
{
	json_t *v = json_object_get(o, k);

	return json_is_string(v) ? xstrdup(json_string_value(v)) : NULL;
}

static int
cmp_user(const void *a, const void *b)
{
	return strcmp(((const struct chat_user *)a)->id, ((const struct chat_user *)b)->id);
}

struct users_ctx {
	struct chat_user *v;
	size_t n, cap;
};

static int
user_line(void *vctx, const char *line, size_t n, size_t lineno)
{
	struct users_ctx *c = vctx;
	json_error_t e;
	json_t *j = json_loadb(line, n, 0, &e);
	struct chat_user *u;

	if (j == NULL || !json_is_object(j) || !json_is_string(json_object_get(j, "id"))) {
		json_decref(j);
		return err_set(IMDR_EFORMAT, "users.jsonl line %zu: %s", lineno,
		    j == NULL ? e.text : "not a user object with an id");
	}
	if (c->n == c->cap) {
		c->cap = c->cap ? c->cap * 2 : 64;
		c->v = xrealloc(c->v, c->cap * sizeof(*c->v));
	}
	u = &c->v[c->n++];
	u->id = jstr(j, "id");
	u->name = jstr(j, "name");
	u->real_name = jstr(j, "real_name");
	u->email = jstr(j, "email");
	u->is_bot = json_is_true(json_object_get(j, "is_bot"));
	u->deleted = json_is_true(json_object_get(j, "deleted"));
	json_decref(j);
	return IMDR_OK;
}

int
chat_users_parse(const uint8_t *data, size_t n, struct chat_user **ret, size_t *ret_n)
{
	struct users_ctx c = { NULL, 0, 0 };
	int rc = chat_lines(data, n, user_line, &c);

	if (rc) {
		chat_users_free(c.v, c.n);
		return rc;
	}
	if (c.n > 1)
		qsort(c.v, c.n, sizeof(*c.v), cmp_user);
	*ret = c.v;
	*ret_n = c.n;
	return IMDR_OK;
}

void
chat_users_free(struct chat_user *u, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(u[i].id);
		free(u[i].name);
		free(u[i].real_name);
		free(u[i].email);
	}
	free(u);
}

const struct chat_user *
chat_user_find(const struct chat_user *u, size_t n, const char *id)
{
	struct chat_user k = { (char *)id, NULL, NULL, NULL, 0, 0 };

	if (n == 0 || id == NULL)
		return NULL;
	return bsearch(&k, u, n, sizeof(*u), cmp_user);
}

const char *
chat_user_display(const struct chat_user *u)
{
	if (u->real_name && *u->real_name)
		return u->real_name;
	if (u->name && *u->name)
		return u->name;
	return u->id;
}

int
chat_meta_parse(const uint8_t *data, size_t n, struct chat_meta *ret)
{
	json_error_t e;
	json_t *j = json_loadb((const char *)data, n, 0, &e), *v;
	int64_t ms;

	memset(ret, 0, sizeof(*ret));
	if (j == NULL || !json_is_object(j)) {
		json_decref(j);
		return err_set(IMDR_EFORMAT, "meta.json: %s", j == NULL ? e.text : "not an object");
	}
	ret->id = jstr(j, "id");
	ret->name = jstr(j, "name");
	ret->kind = jstr(j, "kind");
	ret->topic = jstr(j, "topic");
	ret->purpose = jstr(j, "purpose");
	ret->archived = json_is_true(json_object_get(j, "archived"));
	v = json_object_get(j, "created");
	if (json_is_string(v) && time_ms(json_string_value(v), &ms) == 0)
		ret->created_ms = ms;
	v = json_object_get(j, "members");
	if (json_is_array(v) && json_array_size(v) > 0) {
		ret->members = xcalloc(json_array_size(v), sizeof(char *));
		for (size_t i = 0; i < json_array_size(v); i++)
			if (json_is_string(json_array_get(v, i)))
				ret->members[ret->nmembers++] = xstrdup(json_string_value(json_array_get(v, i)));
	}
	json_decref(j);
	return IMDR_OK;
}

void
chat_meta_free(struct chat_meta *m)
{
	if (m == NULL)
		return;
	free(m->id);
	free(m->name);
	free(m->kind);
	free(m->topic);
	free(m->purpose);
	for (size_t i = 0; i < m->nmembers; i++)
		free(m->members[i]);
	free(m->members);
	memset(m, 0, sizeof(*m));
}

int
chat_read_file(struct repo *r, const struct blob_ref *root, const char *path,
    size_t max, struct buf *out)
{
	struct cat_node *node = NULL;
	const struct cat_entry *e = NULL;
	struct buf chunk = BUF_INIT;
	int rc;

	out->len = 0;
	rc = cat_resolve(r, root, path, &node, &e);
	if (rc)
		return rc;
	if (e == NULL || e->type != CAT_FILE) {
		cat_node_free(node);
		return err_set(IMDR_ENOENT, "%s: not a file in the snapshot", path);
	}
	if (e->size > max) {
		cat_node_free(node);
		return err_set(IMDR_EFORMAT, "%s: %llu bytes, more than the %zu this reads",
		    path, (unsigned long long)e->size, max);
	}
	buf_reserve(out, (size_t)e->size + 1);
	for (uint32_t i = 0; i < e->nchunks && rc == IMDR_OK; i++) {
		struct blob_ref ref;

		cat_chunk(node, e, i, &ref, NULL);
		rc = repo_blob_read(r, BLOB_DATA, &ref, &chunk);
		if (rc == IMDR_OK)
			buf_append(out, chunk.data, chunk.len);
	}
	buf_free(&chunk);
	cat_node_free(node);
	return rc;
}

const char *
chat_conv_key(const char *folder, const struct chat_meta *meta)
{
	if (meta && meta->id && *meta->id)
		return meta->id;
	return folder;
}

size_t
chat_folder_slug(const char *folder)
{
	const char *p = folder, *last = NULL;

	while ((p = strstr(p, "--")) != NULL) {
		last = p;
		p += 2;
	}
	return last ? (size_t)(last - folder) : strlen(folder);
}

int
chat_is_chat_format(const char *format)
{
	return format && (strcmp(format, "canonical") == 0 || strcmp(format, "slack") == 0 ||
	    strcmp(format, "mattermost") == 0);
}
