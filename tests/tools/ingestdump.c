/* ingestdump — run an ingest reader and print what it gives the sink, for
 * tests (no repository needed; it is how the tests reach options the
 * command line does not have yet, such as strict):
 *
 *   ingestdump [--strict] [--format F] [--attachments DIR] SOURCE
 *
 * With --format files the files reader is called directly, since
 * ingest_run does not pass opts to it yet.
 * One line per entry, names escaped as in warnings:
 *   dir PATH | file PATH SIZE SHA256 | symlink PATH -> TARGET | warn PATH: MSG
 * then "format F". Errors: "error: MESSAGE" on stderr, exit status 1. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "ingest/ingest.h"
#include "lib/buf.h"
#include "lib/err.h"
#include "lib/hex.h"
#include "lib/text.h"

static void
put_name(const char *s)
{
	text_fputs_term(stdout, s);
}

static int
dump_entry(void *ctx, const struct ingest_entry *e, const struct ingest_reader *rd)
{
	(void)ctx;
	if (e->type == INGEST_DIR) {
		fputs("dir ", stdout);
		put_name(e->path);
	} else if (e->type == INGEST_SYMLINK) {
		fputs("symlink ", stdout);
		put_name(e->path);
		fputs(" -> ", stdout);
		put_name(e->link_target);
	} else {
		EVP_MD_CTX *md = EVP_MD_CTX_new();
		uint8_t buf[65536], sum[32];
		char hex[65];
		uint64_t total = 0;
		unsigned int len;
		size_t got;
		int rc;

		EVP_DigestInit_ex(md, EVP_sha256(), NULL);
		while ((rc = rd->read(rd->rs, buf, sizeof(buf), &got)) == IMDR_OK && got > 0) {
			EVP_DigestUpdate(md, buf, got);
			total += got;
		}
		EVP_DigestFinal_ex(md, sum, &len);
		EVP_MD_CTX_free(md);
		if (rc)
			return rc;
		hex_encode(sum, sizeof(sum), hex);
		fputs("file ", stdout);
		put_name(e->path);
		printf(" %llu %s", (unsigned long long)total, hex);
	}
	putchar('\n');
	return IMDR_OK;
}

static void
dump_warn(void *ctx, const char *path, const char *msg)
{
	(void)ctx;
	fputs("warn ", stdout);
	put_name(path);
	fputs(": ", stdout);
	put_name(msg);
	putchar('\n');
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "strict", no_argument, NULL, 's' },
		{ "format", required_argument, NULL, 'f' },
		{ "attachments", required_argument, NULL, 'a' },
		{ NULL, 0, NULL, 0 },
	};
	struct ingest_opts io;
	struct ingest_sink sink = { dump_entry, dump_warn, NULL, NULL, NULL };
	struct ingest_result res;
	int c, rc;

	memset(&io, 0, sizeof(io));
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 's': io.strict = 1; break;
		case 'a': io.attachments_dir = optarg; break;
		case 'f':
			if ((io.format = ingest_format_find(optarg)) == NULL) {
				fprintf(stderr, "error: %s\n", err_msg(IMDR_EINVAL));
				return 2;
			}
			break;
		default:
			fprintf(stderr, "usage: ingestdump [--strict] [--format F] [--attachments DIR] SOURCE\n");
			return 2;
		}
	}
	if (argc - optind != 1) {
		fprintf(stderr, "usage: ingestdump [--strict] [--format F] [--attachments DIR] SOURCE\n");
		return 2;
	}
	rc = ingest_run(argv[optind], &io, &sink, &res);
	free(res.summary_json);
	free(res.source_name);
	if (rc) {
		struct buf b = BUF_INIT;

		text_escape_term(&b, err_msg(rc));
		fprintf(stderr, "error: %s\n", buf_cstr(&b));
		buf_free(&b);
		return 1;
	}
	printf("format %s\n", res.format ? res.format->name : "?");
	return 0;
}
