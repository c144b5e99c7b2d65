/* imdr snapshots — list snapshots: id, time, host, source, files, size,
 * added. Loads each snapshot object (the table needs their contents). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/common.h"
#include "lib/err.h"
#include "lib/log.h"
#include "lib/text.h"
#include "lib/timefmt.h"
#include "repo/snapshot.h"

static void
usage(FILE *f)
{
	fprintf(f,
"usage: imdr snapshots REPO [--source NAME] [--json] [--password-file F]\n"
"\n"
"List every snapshot, oldest first: short id, time (UTC), host, format, files,\n"
"logical size, what the backup added to the repository, and its source (the\n"
"stable name of what was backed up). --source NAME lists that source's only,\n"
"without reading the others (object names carry a keyed tag of the source).\n"
"Name a snapshot elsewhere by an id prefix, `latest`, or a time\n"
"(2026-11-24T10:00 = the newest snapshot at or before that minute).\n"
"A snapshot object that cannot be read (damaged, or too large to be one) is\n"
"named on stderr and the others are still listed; the exit status is then 1.\n");
}

int
cmd_snapshots(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "password-file", required_argument, NULL, 'p' },
		{ "json", no_argument, NULL, 'j' },
		{ "source", required_argument, NULL, 's' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct snapshot_name *names = NULL;
	const char *passfile = NULL, *source = NULL;
	struct repo *r = NULL;
	size_t n = 0, failed = 0, shown = 0;
	int c, rc, json = 0;

	optind = 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'p': passfile = optarg; break;
		case 'j': json = 1; break;
		case 's': source = optarg; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (argc - optind != 1) {
		usage(stderr);
		return 2;
	}
	rc = cli_open_repo(argv[optind], passfile, &r);
	if (rc)
		return cli_fail(rc);
	rc = snapshot_list(r, &names, &n);
	if (rc)
		goto out;
	if (source) {
		char tag[SNAPSHOT_TAG_HEX + 1];

		snapshot_source_tag(r, source, tag);
		n = snapshot_filter_source(names, n, tag);
	}
	if (json)
		printf("[");
	else
		printf("%-8s  %-20s  %-12s  %-10s  %8s  %10s  %10s  %s\n", "ID", "TIME", "HOST",
		    "FORMAT", "FILES", "SIZE", "ADDED", "SOURCE");
	for (size_t i = 0; i < n; i++) {
		struct snapshot *s;
		char when[40], sz[32], add[32];

		rc = snapshot_load_listed(r, &names[i], &s);
		if (rc) {
			/* one bad object hides none of the others */
			warn0("%s", err_msg(rc));
			err_clear();
			failed++;
			continue;
		}
		time_format(s->time_ns, 0, when);
		if (json) {
			printf("%s{\"id\":\"%s\",\"short_id\":\"%.8s\",\"time\":", shown ? "," : "", s->id, s->id);
			time_format(s->time_ns, 9, when);
			json_print_string(stdout, when);
			printf(",\"host\":");
			json_print_string(stdout, s->host);
			printf(",\"source\":");
			json_print_string(stdout, s->source);
			json_print_b64(stdout, "source", s->source);
			printf(",\"path\":");
			json_print_string(stdout, s->path);
			json_print_b64(stdout, "path", s->path);
			printf(",\"format\":");
			json_print_string(stdout, s->format);
			printf(",\"tags\":[");
			for (size_t t = 0; t < s->ntags; t++) {
				if (t)
					putchar(',');
				json_print_string(stdout, s->tags[t]);
			}
			printf("],\"files\":%llu,\"dirs\":%llu,\"bytes\":%llu,\"added_bytes\":%llu,"
			    "\"skipped\":%llu,\"prev\":\"%s\"}",
			    (unsigned long long)s->files, (unsigned long long)s->dirs,
			    (unsigned long long)s->bytes, (unsigned long long)s->added_bytes,
			    (unsigned long long)s->skipped_total, s->prev);
		} else {
			fmt_size(s->bytes, sz);
			fmt_size(s->added_bytes, add);
			/* host, source and tags may hold anything: escaped */
			struct buf host = BUF_INIT;

			text_escape_term(&host, s->host);
			buf_cstr(&host)[text_utf8_cut(buf_cstr(&host), 12)] = '\0';	/* whole characters */
			printf("%.8s  %-20s  %-12s  %-10s  %8llu  %10s  %10s  ", s->id, when,
			    buf_cstr(&host), s->format, (unsigned long long)s->files, sz, add);
			buf_free(&host);
			text_fputs_term(stdout, s->source);
			for (size_t t = 0; t < s->ntags; t++) {
				fputs(t ? "," : "  [", stdout);
				text_fputs_term(stdout, s->tags[t]);
			}
			printf("%s\n", s->ntags ? "]" : "");
		}
		snapshot_free(s);
		shown++;
	}
	if (json)
		printf("]\n");
	else if (failed)
		printf("%zu snapshot%s (%zu more could not be read)\n", shown, shown == 1 ? "" : "s", failed);
	else
		printf("%zu snapshot%s\n", n, n == 1 ? "" : "s");
	if (failed) {
		free(names);
		repo_free(r);
		return 1;
	}
out:
	free(names);
	repo_free(r);
	return rc ? cli_fail(rc) : 0;
}
