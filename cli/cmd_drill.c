/* imdr drill — parse the options, call the engine's drill_run, write the
 * JSON report and print the human one. The work is engine/drill.c. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/common.h"
#include "cli/pass.h"
#include "cli/progress.h"
#include "engine/drill.h"
#include "jobs/run.h"
#include "lib/buf.h"
#include "lib/err.h"
#include "lib/fsutil.h"
#include "lib/log.h"
#include "lib/timefmt.h"

#define DRILL_EXIT_RTO 4

static void
usage(FILE *f)
{
	fprintf(f,
"usage: imdr drill REPO [options]\n"
"\n"
"A restore test with a report. On each replica of REPO (a multi: repository has\n"
"several; each is opened alone, so failover cannot hide a replica's damage),\n"
"restore the snapshot, or a random sample of its files, into a scratch folder,\n"
"read every restored file back (a sample's as each lands, while the restore\n"
"goes on) and verify it: its SHA-256 against the snapshot's manifest.json for\n"
"a chat export, else every chunk's keyed id against the snapshot's tree. Time\n"
"the open (what a mount does before it answers), the first message, the\n"
"restore (a sample's with its reading back) and its throughput, and estimate a\n"
"full restore: open + restore time, scaled for a sample by the larger of its\n"
"byte and file ratios. The scratch folder is removed afterwards.\n"
"\n"
"options:\n"
"  --source NAME       that source's snapshots (`latest` and times among them)\n"
"  --snapshot SPEC     an id prefix, `latest` (default), or a time\n"
"  --replica N|URL     only this replica (1 is the first of a multi: REPO)\n"
"  --sample PCT%%       restore a sample: each file chosen with probability PCT%%\n"
"                      (by a seeded hash of its path), passed over when larger\n"
"                      than what is left of PCT%% of the snapshot's bytes: about\n"
"                      PCT%% of the files, at most PCT%% of the bytes (default:\n"
"                      every file)\n"
"  --seed N            the sample's seed (default: random; the report gives it)\n"
"  --against DIR       also compare each restored file with DIR: the export as\n"
"                      it was (the snapshot's source/) for a chat snapshot, else\n"
"                      the snapshot's root; any difference fails the drill\n"
"  --rto DURATION      the recovery time objective (30m, 2h, 1d): a full-restore\n"
"                      estimate above it fails the drill\n"
"  --scratch DIR       restore below DIR (default $TMPDIR, else /var/tmp)\n"
"  --keep              leave the restored files there\n"
"  --report FILE       write the JSON report to FILE (atomically)\n"
"  --job NAME          record the result in job NAME's state (imdr status)\n"
"  --state-dir DIR     where job states are (default $IMDR_STATE_DIR or\n"
"                      /var/lib/imdr)\n"
"  --password-file F   read the passphrase from F\n"
"  --progress          show progress even when stderr is not a terminal\n"
"  --quiet             print only the result line and problems\n"
"  --json              print the JSON report instead of the human one\n"
"\n"
"The drill is recorded in the repository's audit log (command drill; the\n"
"restores it makes record themselves too). Exit status: 0 verified and within\n"
"the RTO, 1 a file damaged, missing or different (each named) or the drill\n"
"could not run, 2 usage, 3 passed but its audit record could not be written,\n"
"4 verified but the estimate misses the RTO.\n");
}

static void
print_human(const struct drill_opts *o, const struct drill_result *res, int quiet)
{
	char a[32], b[32], when[40], rto[32];

	for (int i = 0; i < res->n && !quiet; i++) {
		const struct drill_replica_result *r = &res->v[i];

		if (i == 0 && r->snapshot[0]) {
			time_format(r->snapshot_ns, 0, when);
			printf("drill of snapshot %.8s (source %s, %s)", r->snapshot, r->source, when);
			if (res->sample_pct > 0)
				printf(", a sample of %g%% of its files, at most as much of its bytes (seed %llu)", res->sample_pct,
				    (unsigned long long)res->seed);
			printf("\n");
		}
		printf("replica %d %s (%s): %s\n", res->n > 1 ? i + 1 : 1, r->url, r->kind,
		    r->error[0] ? "COULD NOT RUN" : r->ok ? "verified" : "MISMATCH");
		if (r->error[0])
			printf("  %s\n", r->error);
		if (r->files_total == 0 && r->error[0])
			continue;
		fmt_size(r->bytes, a);
		fmt_size(r->bytes_total, b);
		printf("  verified %llu of %llu files, %s of %s", (unsigned long long)r->files,
		    (unsigned long long)r->files_total, a, b);
		if (r->has_manifest)
			printf("; %llu against manifest.json SHA-256", (unsigned long long)r->manifest_checked);
		else
			printf("; no manifest.json (not a chat export): by the tree's chunk ids");
		printf("\n");
		if (r->mismatches)
			printf("  %llu mismatch%s (%llu could not be restored)\n",
			    (unsigned long long)r->mismatches, r->mismatches == 1 ? "" : "es",
			    (unsigned long long)r->unreadable);
		for (size_t k = 0; k < r->nproblems; k++)
			printf("    %s\n", r->problems[k]);
		if (o->against)
			printf("  compared %llu files with %s: %llu differ\n",
			    (unsigned long long)r->against_compared, o->against,
			    (unsigned long long)r->against_differ);
		fmt_size((uint64_t)r->throughput, a);
		printf("  open %.3f s, first message %.3f s (%s), restore %.3f s (%s/s), verify %.3f s\n",
		    r->open_secs, r->first_message_secs, r->first_path[0] ? r->first_path : "none",
		    r->restore_secs, a, r->verify_secs);
		printf("  full restore estimate %.1f s", r->estimate_secs);
		if (o->rto_secs) {
			duration_format(o->rto_secs, rto);
			printf("; RTO %s: %s", rto, r->rto_met ? "met" : "MISSED");
		}
		printf("\n");
		if (r->restore_dir[0])
			printf("  kept in %s\n", r->restore_dir);
	}
	printf("drill %s: %d replica%s, %.2f s%s%s\n",
	    !res->ok ? "FAILED" : res->rto_met == 0 ? "MISSED THE RTO" : "OK", res->n,
	    res->n == 1 ? "" : "s", res->seconds, res->audit_id[0] ? "; audit record " : "",
	    res->audit_id[0] ? (char[9]){ res->audit_id[0], res->audit_id[1], res->audit_id[2],
	    res->audit_id[3], res->audit_id[4], res->audit_id[5], res->audit_id[6],
	    res->audit_id[7], 0 } : "");
}

int
cmd_drill(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "source", required_argument, NULL, 's' },
		{ "snapshot", required_argument, NULL, 'S' },
		{ "replica", required_argument, NULL, 'r' },
		{ "sample", required_argument, NULL, 'x' },
		{ "seed", required_argument, NULL, 'e' },
		{ "against", required_argument, NULL, 'a' },
		{ "rto", required_argument, NULL, 'R' },
		{ "scratch", required_argument, NULL, 'd' },
		{ "keep", no_argument, NULL, 'k' },
		{ "report", required_argument, NULL, 'o' },
		{ "job", required_argument, NULL, 'J' },
		{ "state-dir", required_argument, NULL, 'D' },
		{ "password-file", required_argument, NULL, 'p' },
		{ "progress", no_argument, NULL, 'P' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct drill_opts o;
	struct drill_result res;
	struct cli_events ce = { NULL, 0, 0, 0 };
	struct repo *r = NULL;
	const char *passfile = NULL, *replica = NULL, *report = NULL, *job = NULL, *state_dir = NULL;
	int c, rc, json = 0, force_pg = 0, audit_rc;
	int64_t t0;
	char msg[1024];
	char *end;

	memset(&o, 0, sizeof(o));
	o.replica = -1;
	mem_tune_stream();	/* lib/buf.h: buffers of runs kept for reuse */
	optind = 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 's': o.source = optarg; break;
		case 'S': o.snapshot = optarg; break;
		case 'r': replica = optarg; break;
		case 'x':
			errno = 0;
			o.sample_pct = strtod(optarg, &end);
			if (*end == '%')
				end++;
			if (end == optarg || *end || errno || o.sample_pct <= 0 || o.sample_pct > 100) {
				warn0("--sample %s: a share such as 5%% (more than 0, at most 100)", optarg);
				return 2;
			}
			break;
		case 'e':
			errno = 0;
			o.seed = strtoull(optarg, &end, 10);
			if (*end || errno || o.seed == 0 || o.seed > (uint64_t)INT64_MAX) {
				warn0("--seed %s: a number from 1 to %lld", optarg, (long long)INT64_MAX);
				return 2;
			}
			break;
		case 'a': o.against = optarg; break;
		case 'R':
			if (duration_parse(optarg, &o.rto_secs) != 0 || o.rto_secs <= 0) {
				warn0("--rto %s: a duration such as 2h, 30m or 90s", optarg);
				return 2;
			}
			break;
		case 'd': o.scratch = optarg; break;
		case 'k': o.keep = 1; break;
		case 'o': report = optarg; break;
		case 'J': job = optarg; break;
		case 'D': state_dir = optarg; break;
		case 'p': passfile = optarg; break;
		case 'P': force_pg = 1; break;
		case 'q': ce.quiet = 1; break;
		case 'j': json = 1; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (argc - optind != 1) {
		usage(stderr);
		return 2;
	}
	if (o.against && access(o.against, R_OK | X_OK) != 0) {
		warn0("--against %s: %s", o.against, strerror(errno));
		return 2;
	}
	t0 = time_mono_ns();
	rc = cli_open_repo(argv[optind], passfile, &r);
	if (rc)
		return cli_fail(rc);
	o.setup_secs = (double)(time_mono_ns() - t0) / 1e9;
	if (replica) {
		long n = strtol(replica, &end, 10);

		if (*end == '\0' && n >= 1 && n <= repo_replica_count(r)) {
			o.replica = (int)n - 1;
		} else {
			for (int i = 0; i < repo_replica_count(r); i++) {
				struct repo_replica ri;

				repo_replica_info(r, i, &ri);
				if (strcmp(ri.url, replica) == 0)
					o.replica = i;
			}
		}
		if (o.replica < 0) {
			warn0("--replica %s: %s has %d replica%s, numbered from 1 (or name one by its URL)",
			    replica, repo_url(r), repo_replica_count(r),
			    repo_replica_count(r) == 1 ? "" : "s");
			repo_free(r);
			return 2;
		}
	}
	cli_catch_signals();
	cli_events_bind(&o.ev, &ce);
	ce.pg = progress_start("drill", force_pg, ce.quiet || json);
	rc = drill_run(r, &o, &res);
	progress_stop(ce.pg);
	snprintf(msg, sizeof(msg), "%s", err_msg(rc));
	if (res.n > 0) {
		json_t *rep = drill_report_json(&o, &res);
		char *text = json_dumps(rep, JSON_INDENT(2) | JSON_SORT_KEYS);

		if (report && write_file_atomic(report, text, strlen(text), 0644) < 0)
			warn0("cannot write the report %s: %s", report, strerror(errno));
		if (json)
			printf("%s\n", text);
		else
			print_human(&o, &res, ce.quiet);
		if (job) {
			int src = job_note_drill(state_dir, job, &o, &res, rc, report);

			if (src)
				warn0("the result is not in job %s's state: %s", job, err_msg(src));
		}
		free(text);
		json_decref(rep);
	}
	repo_free(r);
	fflush(stdout);		/* the report before the verdict on stderr */
	audit_rc = res.audit_rc;
	if (rc == IMDR_ETIMEDOUT && res.ok) {
		warn0("%s", msg);
		drill_result_free(&res);
		return DRILL_EXIT_RTO;
	}
	drill_result_free(&res);
	if (rc) {
		warn0("%s", msg);
		return 1;
	}
	return cli_audited(audit_rc);
}
