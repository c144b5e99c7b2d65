/* imdr copy — parse the options, call the engine's copy_run, print what
 * it did. The work itself is engine/copy.c. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/common.h"
#include "cli/pass.h"
#include "cli/progress.h"
#include "engine/copy.h"
#include "lib/err.h"
#include "lib/log.h"
#include "repo/snapshot.h"

static void
usage(FILE *f)
{
	fprintf(f,
"usage: imdr copy SRC DST [options]\n"
"\n"
"Bring DST up to date with SRC: copy the objects DST lacks (key slots, packs,\n"
"index objects, audit records, then snapshots, oldest first), many at once,\n"
"as they are stored: nothing is decrypted into something else or chunked\n"
"again, but every object authenticates before it is written (a damaged one\n"
"is read from another replica of SRC, or reported and left out). DST must be\n"
"a replica of SRC (imdr init DST --replica-of SRC); either may be a multi:\n"
"repository: then SRC reads from its best replica and each replica of DST\n"
"gets what it lacks. A copy stopped at any point (even kill -9) leaves DST\n"
"valid, and running it again copies only what is still missing; with nothing\n"
"to copy it only lists both sides.\n"
"\n"
"options:\n"
"  --snapshot ID       only this snapshot and what it references (repeatable;\n"
"                      an id prefix, `latest`, or a time)\n"
"  --source NAME       only this source's snapshots (with --snapshot: `latest`\n"
"                      and times among them)\n"
"  --threads N         objects in flight (default: from the backends, at most 16)\n"
"  --dry-run           list and count what would be copied; copy nothing\n"
"  --password-file F   read SRC's passphrase from F (DST is opened with SRC's keys)\n"
"  --progress          show progress even when stderr is not a terminal\n"
"  --quiet             no progress, no summary\n"
"  --json              print the result as JSON\n"
"\n"
"Exit status: 0 when DST holds everything asked for, 1 when an object could\n"
"not be copied, a snapshot was held back, or a replica of DST could not be\n"
"reached (each is named), 2 for usage.\n");
}

int
cmd_copy(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "snapshot", required_argument, NULL, 'S' },
		{ "source", required_argument, NULL, 's' },
		{ "threads", required_argument, NULL, 't' },
		{ "dry-run", no_argument, NULL, 'n' },
		{ "password-file", required_argument, NULL, 'p' },
		{ "progress", no_argument, NULL, 'P' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct copy_opts co;
	struct copy_result res;
	struct cli_events ce = { NULL, 0, 0, 0 };
	struct repo *src = NULL, *dst = NULL;
	const char *passfile = NULL;
	char **snaps = NULL, *end;
	int c, rc, json = 0, force_pg = 0;

	memset(&co, 0, sizeof(co));
	optind = 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'S':
			snaps = xrealloc(snaps, (co.nsnapshots + 1) * sizeof(*snaps));
			snaps[co.nsnapshots++] = optarg;
			break;
		case 's':
			if (snapshot_source_check(optarg) != IMDR_OK) {
				warn0("--source: %s", err_msg(IMDR_EINVAL));
				free(snaps);
				return 2;
			}
			co.source = optarg;
			break;
		case 't':
			co.threads = (int)strtol(optarg, &end, 10);
			if (*end != '\0' || co.threads < 1 || co.threads > 16) {
				warn0("--threads %s: a number from 1 to 16", optarg);
				free(snaps);
				return 2;
			}
			break;
		case 'n': co.dry_run = 1; break;
		case 'p': passfile = optarg; break;
		case 'P': force_pg = 1; break;
		case 'q': ce.quiet = 1; break;
		case 'j': json = 1; ce.quiet = 1; break;
		case 'h': usage(stdout); free(snaps); return 0;
		default: usage(stderr); free(snaps); return 2;
		}
	}
	if (argc - optind != 2) {
		usage(stderr);
		free(snaps);
		return 2;
	}
	co.snapshots = snaps;
	{
		/* SRC's passphrase opens both: a replica has its keys */
		char *pass = NULL;
		size_t plen = 0;

		rc = pass_get(passfile, 0, &pass, &plen);
		if (rc == IMDR_OK)
			rc = repo_open(argv[optind], pass, plen, &src);
		pass_free(pass, plen);
		if (rc == IMDR_OK)
			rc = repo_open_replica(src, argv[optind + 1], &dst);
	}
	if (rc) {
		repo_free(src);
		free(snaps);
		return cli_fail(rc);
	}
	cli_catch_signals();
	cli_events_bind(&co.ev, &ce);
	ce.pg = progress_start("copy", force_pg, ce.quiet);
	rc = copy_run(src, dst, &co, &res);
	progress_stop(ce.pg);
	if (rc == IMDR_OK && json) {
		printf("{\"listed\":%llu,\"present\":%llu,\"to_copy\":%llu,\"to_copy_bytes\":%llu,"
		    "\"copied\":%llu,\"copied_bytes\":%llu,\"snapshots_copied\":%llu,"
		    "\"failed\":%llu,\"held_back\":%llu,\"replicas\":%d,\"replicas_left_out\":%d,\"dry_run\":%s,"
		    "\"seconds\":%.3f}\n",
		    (unsigned long long)res.listed, (unsigned long long)res.present,
		    (unsigned long long)res.to_copy, (unsigned long long)res.to_copy_bytes,
		    (unsigned long long)res.copied, (unsigned long long)res.copied_bytes,
		    (unsigned long long)res.snapshots_copied, (unsigned long long)res.failed,
		    (unsigned long long)res.held_back, res.replicas, res.replicas_left_out,
		    co.dry_run ? "true" : "false", (double)res.duration_ms / 1000.0);
	} else if (rc == IMDR_OK && !ce.quiet) {
		char sz[32];
		double secs = (double)res.duration_ms / 1000.0;

		if (res.to_copy == 0 && res.replicas_left_out == 0) {
			printf("%s is up to date with %s: %llu objects, nothing to copy (%.2f s)\n",
			    repo_url(dst), repo_url(src), (unsigned long long)res.listed, secs);
		} else if (res.to_copy == 0) {
			printf("the replicas of %s that answered are up to date with %s (%.2f s)\n",
			    repo_url(dst), repo_url(src), secs);
		} else if (co.dry_run) {
			fmt_size(res.to_copy_bytes, sz);
			printf("would copy %llu objects, %s (%llu bytes), to %s\n",
			    (unsigned long long)res.to_copy, sz,
			    (unsigned long long)res.to_copy_bytes, repo_url(dst));
		} else {
			fmt_size(res.copied_bytes, sz);
			printf("copied %llu objects, %s (%llu bytes), %llu snapshots, to %s in %.2f s (%.1f MiB/s)\n",
			    (unsigned long long)res.copied, sz, (unsigned long long)res.copied_bytes,
			    (unsigned long long)res.snapshots_copied, repo_url(dst), secs,
			    secs > 0 ? (double)res.copied_bytes / secs / 1048576.0 : 0.0);
		}
	}
	if (rc == IMDR_OK && res.replicas_left_out)
		warn0("%d replica%s of %s could not be reached and got nothing; run imdr copy again once %s",
		    res.replicas_left_out, res.replicas_left_out == 1 ? "" : "s", repo_url(dst),
		    res.replicas_left_out == 1 ? "it answers" : "they answer");
	if (rc == IMDR_OK && (res.failed || res.held_back))
		warn0("%llu object%s could not be copied and %llu snapshot%s held back (named above); "
		    "running imdr copy again retries them",
		    (unsigned long long)res.failed, res.failed == 1 ? "" : "s",
		    (unsigned long long)res.held_back, res.held_back == 1 ? " was" : "s were");
	repo_free(dst);
	repo_free(src);
	free(snaps);
	if (rc)
		return cli_fail(rc);
	return res.failed || res.held_back || res.replicas_left_out ? 1 : 0;
}
