/* imdr repair — after lost packs: `repair index` and `repair snapshots`
 * (engine/repair.c). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/common.h"
#include "cli/progress.h"
#include "engine/repair.h"
#include "lib/err.h"
#include "lib/log.h"
#include "lib/timefmt.h"

static void
usage(FILE *f)
{
	fprintf(f,
"usage: imdr repair index REPO [--dry-run]\n"
"       imdr repair snapshots REPO [--rewrite] [--dry-run] [--json]\n"
"\n"
"When packs are lost (imdr check reports \"pack ... is missing\"):\n"
"\n"
"  index       rewrite the index from what the repository holds: packs that\n"
"              are gone are dropped, so the next backup stores their data again\n"
"              (where the source still has it) instead of deduplicating against\n"
"              nothing; packs no index lists are indexed from their headers.\n"
"  snapshots   list the snapshots whose files or folders are lost, and what is\n"
"              lost. With --rewrite, write for each a mended snapshot (same\n"
"              time, source, host and tags, plus the tag `repaired`) without\n"
"              the lost files, each recorded in its skipped list, and forget the\n"
"              damaged one (a held snapshot stays). A chunk a later backup\n"
"              stored again is used from its new copy, so its file is kept:\n"
"              run `repair index`, then a backup, then `repair snapshots\n"
"              --rewrite` to save the most. A message index that lost a piece\n"
"              is left out (`(message index)`; search reads messages.jsonl).\n"
"\n"
"Both record what they did in the audit log. Backups may run meanwhile.\n"
"\n"
"options:\n"
"  --rewrite           snapshots: write the mended snapshots, forget the damaged\n"
"  -n, --dry-run       say what would change; change nothing\n"
"  --json              snapshots: print the damage as JSON\n"
"  --quiet             print only the summary\n"
"  --password-file F   read the passphrase from F\n");
}

static void
print_snapshots_json(const struct repair_snapshots_result *res)
{
	printf("{\"snapshots\":%zu,\"damaged\":[", res->snapshots);
	for (size_t i = 0; i < res->n; i++) {
		const struct repair_snapshot *d = &res->v[i];
		char when[40];

		time_format(d->sn.time_ns, 9, when);
		printf("%s{\"id\":\"%s\",\"time\":\"%s\",\"source\":", i ? "," : "", d->sn.id, when);
		json_print_string(stdout, d->source);
		printf(",\"chunks_found_again\":%llu,\"new_id\":\"%s\",\"forgotten\":%s,\"lost\":[",
		    (unsigned long long)d->chunks_healed, d->new_id, d->forgotten ? "true" : "false");
		for (size_t k = 0; k < d->nlost; k++) {
			printf("%s{\"path\":", k ? "," : "");
			json_print_string(stdout, d->lost[k].path);
			printf(",\"reason\":");
			json_print_string(stdout, d->lost[k].reason);
			printf("}");
		}
		printf("]}");
	}
	printf("],\"rewritten\":%zu,\"forgotten\":%zu}\n", res->rewritten, res->forgotten);
}

int
cmd_repair(int argc, char **argv)
{
	enum { O_PASS = 256, O_JSON, O_QUIET, O_REWRITE };
	static const struct option opts[] = {
		{ "password-file", required_argument, NULL, O_PASS },
		{ "json", no_argument, NULL, O_JSON },
		{ "quiet", no_argument, NULL, O_QUIET },
		{ "rewrite", no_argument, NULL, O_REWRITE },
		{ "dry-run", no_argument, NULL, 'n' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct repair_opts ro;
	struct cli_events ce = { NULL, 0, 0, 0 };
	const char *passfile = NULL, *what;
	struct repo *r = NULL;
	int c, rc, json = 0, status = 0;

	if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
		usage(stdout);
		return 0;
	}
	if (argc < 2 || (strcmp(argv[1], "index") != 0 && strcmp(argv[1], "snapshots") != 0)) {
		usage(stderr);
		return 2;
	}
	what = argv[1];
	argc--;
	argv++;
	memset(&ro, 0, sizeof(ro));
	optind = 1;
	while ((c = getopt_long(argc, argv, "hn", opts, NULL)) != -1) {
		switch (c) {
		case O_PASS: passfile = optarg; break;
		case O_JSON: json = 1; ce.quiet = 1; break;
		case O_QUIET: ce.quiet = 1; break;
		case O_REWRITE: ro.rewrite = 1; break;
		case 'n': ro.dry_run = 1; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (argc - optind != 1 || (ro.rewrite && strcmp(what, "index") == 0)) {
		usage(stderr);
		return 2;
	}
	rc = cli_open_repo(argv[optind], passfile, &r);
	if (rc)
		return cli_fail(rc);
	cli_events_bind(&ro.ev, &ce);
	cli_catch_signals();
	if (strcmp(what, "index") == 0) {
		struct repair_index_result res;

		rc = repair_index(r, &ro, &res);
		if (rc == IMDR_OK && json) {
			printf("{\"dry_run\":%s,\"packs\":%zu,\"packs_missing\":%zu,\"blobs_dropped\":%llu,"
			    "\"packs_added\":%zu,\"index_objects_before\":%zu,\"index_objects_after\":%zu}\n",
			    ro.dry_run ? "true" : "false", res.packs, res.packs_missing,
			    (unsigned long long)res.blobs_dropped, res.packs_added, res.index_before,
			    res.index_after);
		} else if (rc == IMDR_OK) {
			if (res.packs_missing == 0 && res.packs_added == 0)
				printf("the index matches the repository's %zu packs; nothing to repair\n",
				    res.packs);
			else
				printf("%s%zu lost pack%s dropped from the index (%llu blobs: the next backup stores "
				    "what it still has of them), %zu pack%s indexed from %s header%s; "
				    "%zu index objects %s\n",
				    ro.dry_run ? "dry run: would have " : "", res.packs_missing,
				    res.packs_missing == 1 ? "" : "s", (unsigned long long)res.blobs_dropped,
				    res.packs_added, res.packs_added == 1 ? "" : "s",
				    res.packs_added == 1 ? "its" : "their", res.packs_added == 1 ? "" : "s",
				    res.index_before, ro.dry_run ? "would be rewritten" : "rewritten");
			if (res.packs_missing && !ro.dry_run)
				printf("next: `imdr repair snapshots` lists the snapshots that used them\n");
		}
	} else {
		struct repair_snapshots_result res;

		ce.pg = progress_start("repair snapshots", 0, ce.quiet);
		rc = repair_snapshots(r, &ro, &res);
		progress_stop(ce.pg);
		if (rc == IMDR_OK && json) {
			print_snapshots_json(&res);
		} else if (rc == IMDR_OK) {
			for (size_t i = 0; i < res.n && !ce.quiet; i++) {
				const struct repair_snapshot *d = &res.v[i];
				char when[40];

				time_format(d->sn.time_ns, 0, when);
				printf("snapshot %.8s (%s, source %s): %zu lost", d->sn.id, when, d->source,
				    d->nlost);
				if (d->chunks_healed)
					printf(", %llu chunks found again", (unsigned long long)d->chunks_healed);
				if (d->new_id[0])
					printf(" -> mended as %.8s%s", d->new_id,
					    d->forgotten ? ", damaged one forgotten" :
					    d->held_by ? ", damaged one kept (held)" : "");
				printf("\n");
				for (size_t k = 0; k < d->nlost; k++)
					printf("    %s: %s\n", d->lost[k].path, d->lost[k].reason);
			}
			if (res.n == 0)
				printf("%zu snapshots checked: none uses lost data\n", res.snapshots);
			else if (ro.rewrite && !ro.dry_run)
				printf("%zu of %zu snapshots used lost data: %zu mended, %zu damaged ones forgotten\n",
				    res.n, res.snapshots, res.rewritten, res.forgotten);
			else
				printf("%zu of %zu snapshots use lost data%s\n", res.n, res.snapshots,
				    ro.dry_run ? "" : "; `imdr repair snapshots --rewrite` mends them");
		}
		if (rc == IMDR_OK && res.n && !(ro.rewrite && !ro.dry_run))
			status = 1;
		repair_snapshots_result_free(&res);
	}
	repo_free(r);
	if (rc)
		return cli_fail(rc);
	return status;
}
