/* query — the search language (search.h, "Query language"), parsed into
 * a full-text expression for SQLite's FTS5 and filters.
 *
 *   word  "a phrase"  prefix*     every one must match, in the text or an
 *                                 attachment's name
 *   from:WHO   in:WHERE           author; conversation (repeatable: any)
 *   after:TIME before:TIME        ts >= after, ts < before (UTC unless a
 *                                 zone is given; a day means its start)
 *   has:attachment                messages with attachments
 *   filename:NAME                 an attachment whose name contains NAME
 *                                 (case-insensitive; * ? [ are globs,
 *                                 matching the whole name)
 *
 * Values may be quoted: from:"Ann Lee", filename:"Q4 draft.pdf". Words are
 * matched as FTS5 tokens (unicode61, diacritics folded: cafe finds café);
 * every word and phrase is quoted before it reaches FTS5, so no text of a
 * query is ever read as FTS5 syntax. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/buf.h"
#include "lib/err.h"
#include "lib/timefmt.h"
#include "search/query.h"

struct tok {
	char *key;		/* "from", ... or NULL for a word */
	char *val;
	int quoted, prefix;
};

static void
push(char ***v, size_t *n, const char *s)
{
	*v = xrealloc(*v, (*n + 1) * sizeof(**v));
	(*v)[(*n)++] = xstrdup(s);
}

/* next_tok: one token of the query at *pp: 1, 0 at the end, or minus an
 * imdr_err (message set). */
static int
next_tok(const char **pp, struct tok *t)
{
	const char *p = *pp, *colon = NULL, *start;
	struct buf b = BUF_INIT;

	memset(t, 0, sizeof(*t));
	while (isspace((unsigned char)*p))
		p++;
	if (*p == '\0') {
		*pp = p;
		return 0;
	}
	start = p;
	/* key: an identifier before ':' */
	while (isalpha((unsigned char)*p))
		p++;
	if (*p == ':' && p > start && p[1] != '\0' && !isspace((unsigned char)p[1]) && p[1] != '/')
		colon = p;
	if (colon) {
		t->key = xstrndup(start, (size_t)(colon - start));
		for (char *k = t->key; *k; k++)
			*k = (char)tolower((unsigned char)*k);
		p = colon + 1;
	} else {
		p = start;
	}
	if (*p == '"') {
		const char *q = strchr(p + 1, '"');

		if (q == NULL) {
			free(t->key);
			t->key = NULL;
			return -err_set(IMDR_EINVAL, "query: a \" without its closing \"");
		}
		buf_append(&b, p + 1, (size_t)(q - p - 1));
		t->quoted = 1;
		p = q + 1;
		if (*p == '*') {
			t->prefix = 1;
			p++;
		}
	} else {
		while (*p && !isspace((unsigned char)*p) && *p != '"')
			buf_putc(&b, (uint8_t)*p++);
		if (b.len > 1 && b.data[b.len - 1] == '*' && t->key == NULL) {
			b.len--;
			t->prefix = 1;
		}
	}
	buf_cstr(&b);
	t->val = b.data ? (char *)b.data : xstrdup("");
	*pp = p;
	return 1;
}

/* has_token_chars: whether FTS5's tokenizer would find a token in s
 * (letters, digits, anything not ASCII). */
static int
has_token_chars(const char *s)
{
	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		if (isalnum(*p) || *p >= 0x80)
			return 1;
	return 0;
}

/* fts_string: s as an FTS5 string literal. */
static void
fts_string(struct buf *b, const char *s)
{
	buf_putc(b, '"');
	for (; *s; s++) {
		if (*s == '"')
			buf_putc(b, '"');
		buf_putc(b, (uint8_t)*s);
	}
	buf_putc(b, '"');
}

static int
parse_time(const char *key, const char *val, int64_t *ret_ms)
{
	int64_t start_ns;

	if (time_parse(val, &start_ns, NULL) != 0)
		return err_set(IMDR_EINVAL, "query: %s:%s is not a date or time (2026-03-01,"
		    " 2026-03-01T09:30, ...)", key, val);
	*ret_ms = start_ns / 1000000;
	return IMDR_OK;
}

int
squery_parse(const char *text, struct squery **ret)
{
	struct squery *q = xcalloc(1, sizeof(*q));
	struct buf words = BUF_INIT;
	const char *p = text;
	struct tok t;
	int rc = IMDR_OK, n;

	q->text = xstrdup(text);
	while (rc == IMDR_OK && (n = next_tok(&p, &t)) > 0) {
		if (t.key == NULL || (strcmp(t.key, "from") && strcmp(t.key, "in") &&
		    strcmp(t.key, "after") && strcmp(t.key, "before") && strcmp(t.key, "has") &&
		    strcmp(t.key, "filename"))) {
			/* a word (an unknown key: the whole token is text) */
			char *w = t.key ? xasprintf("%s:%s", t.key, t.val) : xstrdup(t.val);

			if (has_token_chars(w)) {
				if (words.len)
					buf_putc(&words, ' ');
				fts_string(&words, w);
				if (t.prefix)
					buf_puts(&words, " *");
				q->nwords++;
			}
			free(w);
		} else if (*t.val == '\0') {
			rc = err_set(IMDR_EINVAL, "query: %s: needs a value", t.key);
		} else if (strcmp(t.key, "from") == 0) {
			push(&q->from, &q->nfrom, t.val);
		} else if (strcmp(t.key, "in") == 0) {
			push(&q->in, &q->nin, t.val[0] == '#' ? t.val + 1 : t.val);
		} else if (strcmp(t.key, "after") == 0) {
			rc = parse_time("after", t.val, &q->after_ms);
			q->has_after = 1;
		} else if (strcmp(t.key, "before") == 0) {
			rc = parse_time("before", t.val, &q->before_ms);
			q->has_before = 1;
		} else if (strcmp(t.key, "has") == 0) {
			if (strcasecmp(t.val, "attachment") && strcasecmp(t.val, "attachments") &&
			    strcasecmp(t.val, "file") && strcasecmp(t.val, "files"))
				rc = err_set(IMDR_EINVAL, "query: has:%s: only has:attachment is known",
				    t.val);
			q->has_attachment = 1;
		} else {
			push(&q->fname, &q->nfname, t.val);
		}
		free(t.key);
		free(t.val);
	}
	if (n < 0)
		rc = -n;
	if (rc == IMDR_OK && q->has_after && q->has_before && q->after_ms >= q->before_ms)
		rc = err_set(IMDR_EINVAL, "query: after: is not before before:");
	if (rc == IMDR_OK && words.len) {
		struct buf e = BUF_INIT;

		buf_puts(&e, "{text files} : (");
		buf_append(&e, words.data, words.len);
		buf_putc(&e, ')');
		q->fts = xstrdup(buf_cstr(&e));
		buf_free(&e);
	}
	buf_free(&words);
	if (rc) {
		squery_free(q);
		return rc;
	}
	*ret = q;
	return IMDR_OK;
}

void
squery_free(struct squery *q)
{
	if (q == NULL)
		return;
	for (size_t i = 0; i < q->nfrom; i++)
		free(q->from[i]);
	free(q->from);
	for (size_t i = 0; i < q->nin; i++)
		free(q->in[i]);
	free(q->in);
	for (size_t i = 0; i < q->nfname; i++)
		free(q->fname[i]);
	free(q->fname);
	free(q->fts);
	free(q->text);
	free(q);
}
