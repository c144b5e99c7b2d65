/* query — the search language, parsed (query.c has the grammar). Shared
 * by search and export (`--query`). */
#ifndef IMDR_SEARCH_QUERY_H
#define IMDR_SEARCH_QUERY_H

#include <stddef.h>
#include <stdint.h>

struct squery {
	char *text;		/* as given */
	char *fts;		/* FTS5 expression of the words, phrases and
				 * prefixes; NULL when there are none */
	size_t nwords;
	char **from;		/* from: values, as given */
	size_t nfrom;
	char **in;		/* in: values, '#' dropped */
	size_t nin;
	char **fname;		/* filename: patterns */
	size_t nfname;
	int has_after, has_before;
	int64_t after_ms, before_ms;	/* ts >= after, ts < before */
	int has_attachment;
};

/* squery_parse: IMDR_EINVAL with a message naming what is wrong. */
int squery_parse(const char *text, struct squery **ret);
void squery_free(struct squery *q);

#endif
