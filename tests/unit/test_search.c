/* Unit tests of search/: the query language, the message-line scanner
 * (escapes, UTF-8, malformed input, and a fuzz loop that must neither
 * crash nor accept garbage), and the index across many backups: it keeps
 * finding every message while its segments merge, so their number stays
 * small, and it holds no row twice. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "engine/backup.h"
#include "lib/err.h"
#include "repo/snapshot.h"
#include "search/chat.h"
#include "search/manifest.h"
#include "search/query.h"
#include "search/search.h"
#include "tests/unit/test.h"

static char tmpdir[256];

static void
test_query(void)
{
	struct squery *q = NULL;

	EXPECT(squery_parse("invoice from:alice in:#general after:2026-03-01 before:2026-04-01"
	    " has:attachment", &q) == IMDR_OK);
	EXPECT(q && q->nwords == 1 && strcmp(q->fts, "{text files} : (\"invoice\")") == 0);
	EXPECT(q && q->nfrom == 1 && strcmp(q->from[0], "alice") == 0);
	EXPECT(q && q->nin == 1 && strcmp(q->in[0], "general") == 0);
	EXPECT(q && q->has_after && q->after_ms == 1772323200000LL);
	EXPECT(q && q->has_before && q->before_ms == 1775001600000LL);
	EXPECT(q && q->has_attachment);
	squery_free(q);
	q = NULL;
	/* phrases, prefixes, quotes inside words never reach FTS5 as syntax */
	EXPECT(squery_parse("\"wire transfer\" draf* say\"hi NEAR(", &q) == IMDR_EINVAL);
	EXPECT(squery_parse("\"wire transfer\" draf* NEAR( a\"\"b ", &q) == IMDR_OK);
	EXPECT(q && strcmp(q->fts, "{text files} : (\"wire transfer\" \"draf\" * \"NEAR(\" \"a\" \"b\")") == 0);
	squery_free(q);
	q = NULL;
	EXPECT(squery_parse("from:\"Ann Lee\" filename:\"Q4 draft*.pdf\" http://x.example/a", &q) == IMDR_OK);
	EXPECT(q && q->nfrom == 1 && strcmp(q->from[0], "Ann Lee") == 0);
	EXPECT(q && q->nfname == 1 && strcmp(q->fname[0], "Q4 draft*.pdf") == 0);
	EXPECT(q && q->fts && strstr(q->fts, "\"http://x.example/a\"") != NULL);
	squery_free(q);
	q = NULL;
	/* words without a token are dropped; errors name the part */
	EXPECT(squery_parse("&& -- from:U1", &q) == IMDR_OK && q && q->fts == NULL && q->nfrom == 1);
	squery_free(q);
	EXPECT(squery_parse("after:soon", &q) == IMDR_EINVAL &&
	    strstr(err_msg(IMDR_EINVAL), "after:soon") != NULL);
	EXPECT(squery_parse("has:link", &q) == IMDR_EINVAL);
	EXPECT(squery_parse("from:", &q) == IMDR_OK);	/* "from:" alone is a word */
	squery_free(q);
	EXPECT(squery_parse("after:2026-04-01 before:2026-03-01", &q) == IMDR_EINVAL);
	EXPECT(squery_parse("\"unterminated", &q) == IMDR_EINVAL);
}

static int
parse(struct chat_parser *p, const char *line, struct chat_msg *m)
{
	return chat_parse_msg(p, line, strlen(line), m);
}

static void
test_chat_lines(void)
{
	struct chat_parser *p = chat_parser_new();
	struct chat_msg m;

	EXPECT(parse(p, "{\"id\":\"1.2\",\"ts\":\"2026-11-23T09:01:00.123Z\",\"user\":\"U1\","
	    "\"text\":\"caf\\u00e9 \\ud83d\\ude00 \\\"q\\\"\\n\",\"thread\":\"1.1\",\"edited\":"
	    "\"2026-11-23T09:02:00.000Z\",\"deleted\":true,\"subtype\":\"x\",\"raw\":{\"a\":[1,2,{\"b\":null}]},"
	    "\"reactions\":[{\"name\":\"+1\",\"users\":[\"U1\", \"U2\"]}],"
	    "\"attachments\":[{\"name\":\"a.pdf\",\"size\":12,\"path\":\"attachments/1.2-a.pdf\"},"
	    "{\"name\":\"b\",\"url\":\"https://x\"}]}", &m) == IMDR_OK);
	EXPECT(strcmp(m.id, "1.2") == 0 && m.ts_ms == 1795424460123LL && strcmp(m.user, "U1") == 0);
	EXPECT(strcmp(m.text, "caf\xc3\xa9 \xf0\x9f\x98\x80 \"q\"\n") == 0);
	EXPECT(m.thread && strcmp(m.thread, "1.1") == 0 && m.edited_ms == 1795424520000LL && m.deleted);
	EXPECT(m.nreact == 1 && m.react[0].nusers == 2 && strcmp(m.react[0].users[1], "U2") == 0);
	EXPECT(m.natt == 2 && m.att[0].size == 12 && strcmp(m.att[0].path, "attachments/1.2-a.pdf") == 0);
	EXPECT(m.att[1].path == NULL && strcmp(m.att[1].url, "https://x") == 0);
	/* epoch seconds, a numeric id, spaces everywhere */
	EXPECT(parse(p, " { \"id\" : 17 , \"ts\" : 1795424700.3 , \"text\" : \"x\" } ", &m) == IMDR_OK);
	EXPECT(strcmp(m.id, "17") == 0 && m.ts_ms == 1795424700300LL && strcmp(m.user, "") == 0);
	/* what must be refused */
	{
		static const char *const bad[] = {
			"",
			"[]",
			"{\"ts\":\"2026-11-23T09:01:00.000Z\"}",			/* no id */
			"{\"id\":\"1\"}",						/* no ts */
			"{\"id\":\"1\",\"ts\":\"yesterday\"}",
			"{\"id\":\"1\",\"ts\":1,\"text\":\"a\x01\"}",		/* raw control */
			"{\"id\":\"1\",\"ts\":1,\"text\":\"\xff\xfe\"}",		/* not UTF-8 */
			"{\"id\":\"1\",\"ts\":1,\"text\":\"\xed\xa0\x80\"}",		/* encoded surrogate */
			"{\"id\":\"1\",\"ts\":1,\"text\":\"\\ud800x\"}",		/* lone surrogate */
			"{\"id\":\"1\",\"ts\":1,\"text\":\"\\u0000\"}",
			"{\"id\":\"1\",\"ts\":1,\"text\":\"abc",			/* unterminated */
			"{\"id\":\"1\",\"ts\":1} trailing",
			"{\"id\":\"1\",\"ts\":1,}",
			"{\"id\":\"1\",\"ts\":01}",
			"{\"id\":\"1\",\"ts\":1,\"attachments\":[{\"size\":-}]}",
		};

		for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
			int rc = parse(p, bad[i], &m);

			if (rc != IMDR_EFORMAT)
				fprintf(stderr, "accepted: %s\n", bad[i]);
			EXPECT(rc == IMDR_EFORMAT);
		}
	}
	/* nesting is bounded, not recursion without end */
	{
		struct buf b = BUF_INIT;

		buf_puts(&b, "{\"id\":\"1\",\"ts\":1,\"raw\":");
		for (int i = 0; i < 100000; i++)
			buf_putc(&b, '[');
		EXPECT(chat_parse_msg(p, (const char *)b.data, b.len, &m) == IMDR_EFORMAT);
		buf_free(&b);
	}
	chat_parser_free(p);
}

/* test_chat_fuzz: mutations of valid lines either parse into something
 * whose strings are valid UTF-8, or are refused; never a crash (run under
 * SANITIZE=1 too). */
static int
valid_utf8(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;

	while (*p) {
		size_t n = *p < 0x80 ? 1 : (*p & 0xE0) == 0xC0 ? 2 : (*p & 0xF0) == 0xE0 ? 3 :
		    (*p & 0xF8) == 0xF0 ? 4 : 0;

		if (n == 0)
			return 0;
		for (size_t i = 1; i < n; i++)
			if ((p[i] & 0xC0) != 0x80)
				return 0;
		p += n;
	}
	return 1;
}

static void
test_chat_fuzz(void)
{
	static const char *const seeds[] = {
		"{\"id\":\"1795424460.000200\",\"ts\":\"2026-11-23T09:01:00.000Z\",\"user\":\"U01ANN\","
		    "\"text\":\"Morning all! caf\\u00e9 \\ud83d\\ude00\",\"attachments\":[{\"name\":\"Q4.pdf\","
		    "\"size\":2048,\"path\":\"attachments/x\"}],\"reactions\":[{\"name\":\"eyes\",\"users\":[\"U1\"]}]}",
		"{\"id\":\"2\",\"ts\":1795424700.3,\"user\":\"U02\",\"text\":\"Looks good\",\"thread\":\"1\","
		    "\"raw\":{\"blocks\":[{\"type\":\"rich_text\",\"elements\":[1,2.5e3,true,false,null]}]}}",
	};
	struct chat_parser *p = chat_parser_new();
	uint64_t s = 0x9e3779b97f4a7c15ULL;
	size_t accepted = 0;
	char buf[1024];

	for (int it = 0; it < 30000; it++) {
		const char *seed = seeds[it % 2];
		size_t n = strlen(seed);
		struct chat_msg m;
		int muts;

		memcpy(buf, seed, n);
		s ^= s << 13; s ^= s >> 7; s ^= s << 17;
		muts = 1 + (int)(s % 4);
		for (int k = 0; k < muts; k++) {
			s ^= s << 13; s ^= s >> 7; s ^= s << 17;
			switch (s % 3) {
			case 0: buf[s / 3 % n] = (char)(s >> 40); break;		/* a byte */
			case 1: n = 1 + (size_t)(s / 3 % n); break;			/* truncate */
			default:							/* a duplicate run */
				if (n < 900) {
					size_t at = s / 3 % n, len = (s >> 32) % 16;

					if (at + len > n)
						len = n - at;
					memmove(buf + at + len, buf + at, n - at);
					n += len;
				}
			}
		}
		if (chat_parse_msg(p, buf, n, &m) == IMDR_OK) {
			accepted++;
			EXPECT(valid_utf8(m.id) && valid_utf8(m.text) && valid_utf8(m.user));
			for (size_t a = 0; a < m.natt; a++)
				EXPECT(valid_utf8(m.att[a].name));
		}
		err_clear();
	}
	EXPECT(accepted > 0 && accepted < 30000);
	chat_parser_free(p);
}

static void
write_text(const char *path, const char *s, int append)
{
	FILE *f = fopen(path, append ? "a" : "w");

	if (f) {
		fputs(s, f);
		fclose(f);
	}
}

/* test_index_merges: 24 daily backups of a growing conversation (with a
 * deletion each day): the index always finds exactly the live messages,
 * its segments stay few (they merge), and no segment holds more rows than
 * ever existed. */
static void
test_index_merges(void)
{
	char *repo = xasprintf("%s/repo", tmpdir), *src = xasprintf("%s/src", tmpdir);
	char *conv = xasprintf("%s/conversations/general--C1", src), *msgs;
	struct repo *r = NULL;
	int live = 0, total = 0, maxseg = 0;

	mkdir(src, 0755);
	msgs = xasprintf("%s/conversations", src);
	mkdir(msgs, 0755);
	free(msgs);
	mkdir(conv, 0755);
	msgs = xasprintf("%s/users.jsonl", src);
	write_text(msgs, "{\"id\":\"U1\",\"name\":\"ann\"}\n", 0);
	free(msgs);
	msgs = xasprintf("%s/meta.json", conv);
	write_text(msgs, "{\"id\":\"C1\",\"name\":\"general\",\"kind\":\"channel\",\"members\":[\"U1\"]}", 0);
	free(msgs);
	msgs = xasprintf("%s/messages.jsonl", conv);
	EXPECT(repo_init(repo, "pw", 2, NULL, &r) == IMDR_OK);
	for (int day = 0; day < 24 && r; day++) {
		struct backup_opts bo;
		struct backup_result br;
		struct search_opts so;
		struct search_result res;
		struct snapshot *s = NULL;
		struct sx_manifest *m = NULL;
		char line[256];
		int n = day == 0 ? 300 : 20;

		/* the day's messages, then drop the first live one (deleted at source) */
		for (int i = 0; i < n; i++) {
			snprintf(line, sizeof(line), "{\"id\":\"%d.%04d\",\"ts\":\"2026-01-%02dT10:%02d:%02d.000Z\","
			    "\"user\":\"U1\",\"text\":\"word%d day%d\"}\n", day + 1, i, day + 1, i / 60, i % 60,
			    total + i, day);
			write_text(msgs, line, 1);
		}
		total += n;
		live += n;
		if (day > 0) {
			char *cmd = xasprintf("sed -i 1d %s", msgs);

			EXPECT(system(cmd) == 0);
			free(cmd);
			live--;
		}
		memset(&bo, 0, sizeof(bo));
		bo.source = src;
		bo.source_name = "s";
		bo.time_ns = (int64_t)(1800000000 + day * 86400) * 1000000000;
		bo.no_cache = 1;
		EXPECT(backup_run(r, &bo, &br) == IMDR_OK);
		memset(&so, 0, sizeof(so));
		so.query = "in:general";
		so.source = "s";
		EXPECT(search_run(r, &so, &res) == IMDR_OK);
		if (res.n != (size_t)live)
			fprintf(stderr, "day %d: %zu hits, %d live\n", day, res.n, live);
		EXPECT(res.n == (size_t)live);
		search_result_free(&res);
		EXPECT(snapshot_resolve(r, "s", "latest", &s) == IMDR_OK && s && s->has_search);
		if (s && s->has_search && sx_load(r, &s->search, NULL, &m) == IMDR_OK) {
			uint64_t rows = 0, dead = 0;

			for (size_t i = 0; i < m->nseg; i++) {
				rows += m->seg[i].rows;
				dead += m->seg[i].ndead;
			}
			EXPECT(rows - dead == (uint64_t)live);
			EXPECT(rows <= (uint64_t)total);
			if ((int)m->nseg > maxseg)
				maxseg = (int)m->nseg;
			sx_free(m);
		}
		snapshot_free(s);
	}
	if (maxseg > 6)
		fprintf(stderr, "up to %d segments\n", maxseg);
	EXPECT(maxseg >= 2 && maxseg <= 6);
	/* --all over every day: each message once, the deleted ones flagged */
	{
		struct search_opts so;
		struct search_result res;
		size_t deleted = 0;

		memset(&so, 0, sizeof(so));
		so.query = "in:general";
		so.source = "s";
		so.all = 1;
		EXPECT(search_run(r, &so, &res) == IMDR_OK);
		EXPECT(res.n == (size_t)total);
		for (size_t i = 0; i < res.n; i++)
			deleted += res.hits[i].status == SEARCH_DELETED;
		EXPECT(deleted == 23);
		EXPECT(res.snapshots == 24);
		search_result_free(&res);
	}
	repo_free(r);
	free(repo);
	free(src);
	free(conv);
	free(msgs);
}

int
main(void)
{
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/imdr-unit-search.XXXXXX");
	if (mkdtemp(tmpdir) == NULL)
		return 1;
	setenv("IMDR_TEST_FAST_KDF", "1", 1);
	setenv("XDG_CACHE_HOME", tmpdir, 1);
	RUN(test_query);
	RUN(test_chat_lines);
	RUN(test_chat_fuzz);
	RUN(test_index_merges);
	{
		char *cmd = xasprintf("rm -rf %s", tmpdir);

		if (system(cmd) != 0)
			fprintf(stderr, "cannot remove %s\n", tmpdir);
		free(cmd);
	}
	TEST_EXIT();
}
