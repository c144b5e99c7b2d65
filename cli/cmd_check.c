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
#include "lib/log.h"

static void
usage(FILE *f)
{
	fprintf(f,
"usage: imdr check REPO [--read-data] [--since-checkpoint DIGEST] [--json]\n"
"\n"
"Verify the repository's structure: index objects, pack headers, snapshots\n"
"and their chain, every tree node, and that every chunk a file names exists\n"
"where and as long as the file says (an object larger than its kind can be is\n"
"named with its size and not read);\n"
"and its audit log: every record authenticated, every record a later one\n"
"names present. --read-data also reads every blob and verifies its\n"
"authentication tag and id.\n"
"A multi: repository is checked replica by replica (each message names the\n"
"replica), and each replica is compared with the others: every object one\n"
"lacks that another holds is named (imdr copy brings it up to date).\n"
"\n"
"--since-checkpoint DIGEST (printed by `imdr audit REPO --checkpoint`) also\n"
"proves nothing was lost since: every snapshot the checkpoint named is still\n"
"there and intact unless a later forget record names it, every audit record\n"
"it knew is there and intact, and the log was not rolled back to before it\n"
"or forked (written to on a branch without it). Without it, the newest\n"
"checkpoint in the log is held to the same, but a rollback to before that\n"
"checkpoint cannot show: keep the newest digest elsewhere.\n"
"\n"
"Each problem is printed naming the object; exit status 1 if any.\n");
}

int
cmd_check(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "password-file", required_argument, NULL, 'p' },
		{ "read-data", no_argument, NULL, 'd' },
		{ "since-checkpoint", required_argument, NULL, 'c' },
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
		case 'c': co.since_checkpoint = optarg; break;
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
	if (co.since_checkpoint) {
		char repo8[9];
		struct audit_name cn;

		if (trail_digest_parse(co.since_checkpoint, repo8, &cn) != 0) {
			cli_fail(IMDR_EINVAL);
			return 2;
		}
	}
	rc = cli_open_repo(argv[optind], passfile, &r);
	if (rc)
		return cli_fail(rc);
	if (co.since_checkpoint && strncmp(co.since_checkpoint, repo_config(r)->id, 8) != 0) {
		warn0("checkpoint %.8s… is of repository %.8s, not of %s (%.8s)", co.since_checkpoint,
		    co.since_checkpoint, repo_url(r), repo_config(r)->id);
		repo_free(r);
		return 2;
	}
	cli_events_bind(&co.ev, &ce);
	ce.pg = progress_start(co.read_data ? "check --read-data" : "check", force_pg, ce.quiet);
	rc = check_run(r, &co, &res);
	progress_stop(ce.pg);
	repo_free(r);
	if (rc)
		return cli_fail(rc);
	if (json) {
		printf("{\"errors\":%llu,\"warnings\":%llu,\"packs\":%llu,\"blobs_read\":%llu,"
		    "\"tree_nodes\":%llu,\"tree_bytes\":%llu,\"chunk_refs\":%llu,\"audit_records\":%llu,"
		    "\"audit_verified\":%llu,\"audit_heads\":%llu,\"replicas\":%d,\"objects_lacking\":%llu",
		    (unsigned long long)res.errors, (unsigned long long)res.warnings,
		    (unsigned long long)res.packs, (unsigned long long)res.blobs,
		    (unsigned long long)res.nodes, (unsigned long long)res.tree_bytes,
		    (unsigned long long)res.chunk_refs,
		    (unsigned long long)res.audit.records, (unsigned long long)res.audit.verified,
		    (unsigned long long)res.audit.heads, res.replicas,
		    (unsigned long long)res.objects_lacking);
		if (res.audit.with_checkpoint)
			printf(",\"checkpoint\":{\"known_records\":%llu,\"later_records\":%llu,"
			    "\"known_snapshots\":%llu,\"forgotten\":%llu}",
			    (unsigned long long)res.audit.known_records,
			    (unsigned long long)res.audit.later_records,
			    (unsigned long long)res.audit.known_snapshots,
			    (unsigned long long)res.audit.forgotten);
		printf("}\n");
	} else if (!ce.quiet) {
		if (res.replicas > 1)
			printf("%d replicas checked, each on its own%s\n", res.replicas,
			    res.objects_lacking ? "" : "; none lacks anything another holds");
		printf("%llu snapshots, %llu tree nodes, %llu chunk references checked\n",
		    (unsigned long long)res.snapshots, (unsigned long long)res.nodes,
		    (unsigned long long)res.chunk_refs);
		printf("%llu packs checked%s", (unsigned long long)res.packs,
		    co.read_data ? "" : " (headers)\n");
		if (co.read_data)
			printf(", %llu blobs read and verified\n", (unsigned long long)res.blobs);
		printf("%llu audit records checked (%llu authenticated)", (unsigned long long)res.audit.records,
		    (unsigned long long)res.audit.verified);
		if (res.audit.with_checkpoint)
			printf("; %s knew %llu records and %llu snapshots (%llu forgotten since), %llu records written after it\n",
			    co.since_checkpoint ? "the checkpoint" : "the newest checkpoint in the log",
			    (unsigned long long)res.audit.known_records,
			    (unsigned long long)res.audit.known_snapshots,
			    (unsigned long long)res.audit.forgotten,
			    (unsigned long long)res.audit.later_records);
		else
			printf("\n");
		if (res.errors)
			printf("%llu error%s found\n", (unsigned long long)res.errors,
			    res.errors == 1 ? "" : "s");
		else
			printf("no errors found\n");
	}
	return res.errors ? 1 : 0;
}
