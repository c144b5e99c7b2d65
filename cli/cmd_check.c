/* imdr check — parse the options, call the engine's check_run, print the
 * summary. The work itself is engine/check.c. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/common.h"
#include "cli/progress.h"
#include "engine/check.h"
#include "lib/err.h"

static void
usage(FILE *f)
{
	fprintf(f,
"usage: imdr check REPO [--read-data] [--json]\n"
"\n"
"Verify the repository's structure: index objects, pack headers, snapshots\n"
"and their chain, every tree node, and that every chunk a file names exists\n"
"where and as long as the file says. An object larger than its kind can be\n"
"is named with its size and not read.\n"
"--read-data also reads every blob and verifies its authentication tag and id.\n"
"Each problem is printed naming the object; exit status 1 if any.\n");
}

int
cmd_check(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "password-file", required_argument, NULL, 'p' },
		{ "read-data", no_argument, NULL, 'd' },
		{ "progress", no_argument, NULL, 'P' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct check_opts co;
	struct check_result res;
	struct cli_events ce = { NULL, 0, 0, 0 };
	struct repo *r = NULL;
	const char *passfile = NULL;
	int ch, rc, force_pg = 0, json = 0;

	memset(&co, 0, sizeof(co));
	optind = 1;
	while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (ch) {
		case 'p': passfile = optarg; break;
		case 'd': co.read_data = 1; break;
		case 'P': force_pg = 1; break;
		case 'q': ce.quiet = 1; break;
		case 'j': json = 1; ce.quiet = 1; break;
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
	cli_events_bind(&co.ev, &ce);
	ce.pg = progress_start(co.read_data ? "check --read-data" : "check", force_pg, ce.quiet);
	rc = check_run(r, &co, &res);
	progress_stop(ce.pg);
	repo_free(r);
	if (rc)
		return cli_fail(rc);
	if (json) {
		printf("{\"errors\":%llu,\"warnings\":%llu,\"packs\":%llu,\"blobs_read\":%llu,"
		    "\"tree_nodes\":%llu,\"chunk_refs\":%llu}\n",
		    (unsigned long long)res.errors, (unsigned long long)res.warnings,
		    (unsigned long long)res.packs, (unsigned long long)res.blobs,
		    (unsigned long long)res.nodes, (unsigned long long)res.chunk_refs);
	} else if (!ce.quiet) {
		printf("%llu snapshots, %llu tree nodes, %llu chunk references checked\n",
		    (unsigned long long)res.snapshots, (unsigned long long)res.nodes,
		    (unsigned long long)res.chunk_refs);
		printf("%llu packs checked%s", (unsigned long long)res.packs,
		    co.read_data ? "" : " (headers)\n");
		if (co.read_data)
			printf(", %llu blobs read and verified\n", (unsigned long long)res.blobs);
		if (res.errors)
			printf("%llu error%s found\n", (unsigned long long)res.errors,
			    res.errors == 1 ? "" : "s");
		else
			printf("no errors found\n");
	}
	return res.errors ? 1 : 0;
}
