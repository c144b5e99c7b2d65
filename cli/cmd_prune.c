/* imdr prune — parse the options, call prune_run, print what it read,
 * wrote and deleted. The work is engine/prune.c. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/common.h"
#include "cli/progress.h"
#include "engine/prune.h"
#include "lib/err.h"
#include "lib/log.h"
#include "lib/timefmt.h"

static void
usage(FILE *f)
{
	fprintf(f,
"usage: imdr prune REPO [--max-unused PCT] [--grace TIME] [--dry-run] [--json]\n"
"\n"
"Free the space of data no snapshot uses (after `imdr forget`). Reads only\n"
"snapshot objects, tree nodes, index objects and the headers of packs no\n"
"index lists, plus the blobs it copies; never whole packs to find out what\n"
"is in them. Packs with no used blob are deleted; of packs partly used, the\n"
"emptiest have their used blobs copied into new packs (and go) until what\n"
"stays unused is at most --max-unused of the repository (restic's rule).\n"
"The index is rewritten compact. Backups run on meanwhile: prune never\n"
"blocks one, and never deletes a blob a running backup may have reused.\n"
"\n"
"Deletion has two phases: a prune plans what is to go, and the packs of a\n"
"plan are deleted by a prune run once --grace has passed and every backup\n"
"that was running when the plan was made has ended (with --grace 0 and no\n"
"backup running, in the same run). Data held by legal holds stays: held\n"
"snapshots are never forgotten.\n"
"\n"
"options:\n"
"  --max-unused PCT    unused share of the repository that is tolerated\n"
"                      (default 5%%; 0: copy out of every partly used pack)\n"
"  --grace TIME        how long planned packs wait at least: 0, 90s, 30m, 2h,\n"
"                      1d (default 1h)\n"
"  -n, --dry-run       say what would be read, written and deleted; change nothing\n"
"  --json              print the figures as JSON\n"
"  --quiet             print nothing but errors\n"
"  --progress          show progress even when stderr is not a terminal\n"
"  --password-file F   read the passphrase from F\n");
}

static int
parse_pct(const char *s, double *ret)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || (*end && strcmp(end, "%") != 0) || v < 0 || v > 100)
		return -1;
	*ret = v / 100.0;
	return 0;
}

static int
parse_grace(const char *s, int64_t *ret)
{
	char *end;
	long long v;
	int64_t unit = 1000000000;

	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno || end == s || v < 0)
		return -1;
	if (strcmp(end, "") == 0 || strcmp(end, "s") == 0)
		unit = 1000000000LL;
	else if (strcmp(end, "m") == 0 || strcmp(end, "min") == 0)
		unit = 60LL * 1000000000;
	else if (strcmp(end, "h") == 0)
		unit = 3600LL * 1000000000;
	else if (strcmp(end, "d") == 0)
		unit = 86400LL * 1000000000;
	else
		return -1;
	if (v > 3650LL * 86400 * 1000000000 / unit)
		return -1;
	*ret = (int64_t)v * unit;
	return 0;
}

static void
print_json(const struct prune_opts *po, const struct prune_result *r)
{
	printf("{\"dry_run\":%s,\"snapshots\":%llu,\"tree_nodes\":%llu,\"packs\":%llu,"
	    "\"pack_bytes\":%llu,\"used_blobs\":%llu,\"used_bytes\":%llu,\"unused_blobs\":%llu,"
	    "\"unused_bytes\":%llu,\"unused_bytes_after\":%llu,\"lost_blobs\":%llu,\"packs_unused\":%llu,"
	    "\"packs_repacked\":%llu,\"blobs_repacked\":%llu,\"bytes_repacked\":%llu,"
	    "\"packs_written\":%llu,\"bytes_written\":%llu,\"packs_planned\":%llu,"
	    "\"bytes_planned\":%llu,\"plan\":\"%s\",\"plans_swept\":%llu,\"packs_deleted\":%llu,"
	    "\"bytes_deleted\":%llu,\"packs_taken_back\":%llu,\"moved_written\":%llu,"
	    "\"moved_deleted\":%llu,\"plans_waiting\":%llu,\"packs_waiting\":%llu,"
	    "\"bytes_waiting\":%llu,\"sessions_waiting\":%llu,\"index_objects_before\":%llu,"
	    "\"index_objects_after\":%llu,\"index_bytes_before\":%llu,\"index_bytes_after\":%llu,"
	    "\"requests\":%llu,\"gets\":%llu,\"puts\":%llu,\"lists\":%llu,\"deletes\":%llu,"
	    "\"bytes_read\":%llu,\"bytes_read_repack\":%llu,\"bytes_sent\":%llu,"
	    "\"repack_bytes_to_read\":%llu}\n",
	    po->dry_run ? "true" : "false",
	    (unsigned long long)r->snapshots, (unsigned long long)r->trees,
	    (unsigned long long)r->packs, (unsigned long long)r->pack_bytes,
	    (unsigned long long)r->used_blobs, (unsigned long long)r->used_bytes,
	    (unsigned long long)r->unused_blobs, (unsigned long long)r->unused_bytes,
	    (unsigned long long)r->unused_bytes_after,
	    (unsigned long long)r->lost_blobs, (unsigned long long)r->packs_unused,
	    (unsigned long long)r->packs_repacked, (unsigned long long)r->blobs_repacked,
	    (unsigned long long)r->bytes_repacked, (unsigned long long)r->packs_written,
	    (unsigned long long)r->bytes_written, (unsigned long long)r->packs_planned,
	    (unsigned long long)r->bytes_planned, r->plan_id, (unsigned long long)r->plans_swept,
	    (unsigned long long)r->packs_deleted, (unsigned long long)r->bytes_deleted,
	    (unsigned long long)r->packs_taken_back, (unsigned long long)r->moved_written,
	    (unsigned long long)r->moved_deleted, (unsigned long long)r->plans_waiting,
	    (unsigned long long)r->packs_waiting, (unsigned long long)r->bytes_waiting,
	    (unsigned long long)r->sessions_waiting, (unsigned long long)r->index_before,
	    (unsigned long long)r->index_after, (unsigned long long)r->index_bytes_before,
	    (unsigned long long)r->index_bytes_after, (unsigned long long)r->requests,
	    (unsigned long long)r->gets, (unsigned long long)r->puts,
	    (unsigned long long)r->lists, (unsigned long long)r->dels,
	    (unsigned long long)r->bytes_read, (unsigned long long)r->bytes_read_repack,
	    (unsigned long long)r->bytes_sent, (unsigned long long)r->bytes_read_planned);
}

static void
print_text(const struct prune_opts *po, const struct prune_result *r, double secs)
{
	char a[32], b[32], c[32], when[40];
	const char *would = po->dry_run ? "would be " : "";

	fmt_size(r->pack_bytes, a);
	fmt_size(r->used_bytes, b);
	fmt_size(r->unused_bytes, c);
	printf("%llu snapshots, %llu tree nodes walked\n", (unsigned long long)r->snapshots,
	    (unsigned long long)r->trees);
	printf("repository: %llu packs, %s; used %s in %llu blobs, unused %s in %llu blobs\n",
	    (unsigned long long)r->packs, a, b, (unsigned long long)r->used_blobs, c,
	    (unsigned long long)r->unused_blobs);
	if (r->lost_blobs)
		printf("warning: %llu blobs snapshots use are in no pack (imdr check names them)\n",
		    (unsigned long long)r->lost_blobs);
	if (r->plans_swept || r->packs_deleted || r->packs_taken_back) {
		fmt_size(r->bytes_deleted, a);
		printf("%s%llu packs %sdeleted (%s) from %llu plan%s", po->dry_run ? "dry run: " : "",
		    (unsigned long long)r->packs_deleted, would, a,
		    (unsigned long long)r->plans_swept, r->plans_swept == 1 ? "" : "s");
		if (r->packs_taken_back)
			printf("; %llu kept: in use again", (unsigned long long)r->packs_taken_back);
		printf("\n");
	}
	if (r->packs_repacked) {
		fmt_size(r->bytes_repacked, a);
		fmt_size(r->bytes_written, b);
		printf("%llu packs %srepacked: %llu used blobs (%s) copied", (unsigned long long)r->packs_repacked,
		    would, (unsigned long long)r->blobs_repacked, a);
		if (!po->dry_run)
			printf(" into %llu new packs (%s)", (unsigned long long)r->packs_written, b);
		printf("\n");
	}
	if (r->packs_planned) {
		fmt_size(r->bytes_planned, a);
		printf("%llu packs (%s) %splanned for deletion (%llu with no used blob)\n",
		    (unsigned long long)r->packs_planned, a, would,
		    (unsigned long long)r->packs_unused);
	}
	if (r->plans_waiting) {
		fmt_size(r->bytes_waiting, a);
		time_format(r->waiting_until_ns, 0, when);
		printf("%llu packs (%s) wait: a prune at or after %s deletes them", (unsigned long long)r->packs_waiting,
		    a, when);
		if (r->sessions_waiting)
			printf(", once %llu backup%s running now end%s", (unsigned long long)r->sessions_waiting,
			    r->sessions_waiting == 1 ? "" : "s", r->sessions_waiting == 1 ? "s" : "");
		printf("\n");
	}
	if (!po->dry_run) {
		fmt_size(r->index_bytes_before, a);
		fmt_size(r->index_bytes_after, b);
		printf("index: %llu objects (%s) before, %s after\n", (unsigned long long)r->index_before,
		    a, b);
	}
	fmt_size(r->bytes_read, a);
	fmt_size(r->bytes_sent, b);
	fmt_size(r->bytes_read_repack, c);
	printf("backend: %llu requests (%llu GET, %llu PUT, %llu LIST, %llu DELETE), read %s "
	    "(%s of it blobs copied), wrote %s, %.2f s\n",
	    (unsigned long long)r->requests, (unsigned long long)r->gets,
	    (unsigned long long)r->puts, (unsigned long long)r->lists,
	    (unsigned long long)r->dels, a, c, b, secs);
	if (po->dry_run) {
		fmt_size(r->bytes_read_planned, a);
		fmt_size(r->bytes_repacked, b);
		fmt_size(r->bytes_deleted + r->bytes_planned, c);
		printf("dry run: a prune would read %s of blobs to copy (beside what was read now), "
		    "write %s of packs and a new index, and delete up to %llu packs (%s); "
		    "nothing was changed\n", a, b,
		    (unsigned long long)(r->packs_deleted + r->packs_planned), c);
	}
}

int
cmd_prune(int argc, char **argv)
{
	enum { O_MAX = 256, O_GRACE, O_PASS, O_JSON, O_QUIET, O_PROGRESS };
	static const struct option opts[] = {
		{ "max-unused", required_argument, NULL, O_MAX },
		{ "grace", required_argument, NULL, O_GRACE },
		{ "dry-run", no_argument, NULL, 'n' },
		{ "password-file", required_argument, NULL, O_PASS },
		{ "json", no_argument, NULL, O_JSON },
		{ "quiet", no_argument, NULL, O_QUIET },
		{ "progress", no_argument, NULL, O_PROGRESS },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct prune_opts po;
	struct prune_result res;
	struct cli_events ce = { NULL, 0, 0, 0 };
	const char *passfile = NULL;
	struct repo *r = NULL;
	int c, rc, json = 0, force_pg = 0;
	int64_t t0;

	memset(&po, 0, sizeof(po));
	po.max_unused = 0.05;
	po.grace_ns = (int64_t)PRUNE_GRACE_DEFAULT_SECS * 1000000000;
	optind = 1;
	while ((c = getopt_long(argc, argv, "hn", opts, NULL)) != -1) {
		switch (c) {
		case O_MAX:
			if (parse_pct(optarg, &po.max_unused) != 0) {
				warn0("--max-unused %s: want a percentage, 0 to 100 (e.g. 5%%)", optarg);
				goto usage_err;
			}
			break;
		case O_GRACE:
			if (parse_grace(optarg, &po.grace_ns) != 0) {
				warn0("--grace %s: want a time such as 0, 90s, 30m, 2h or 1d", optarg);
				goto usage_err;
			}
			break;
		case 'n': po.dry_run = 1; break;
		case O_PASS: passfile = optarg; break;
		case O_JSON: json = 1; ce.quiet = 1; break;
		case O_QUIET: ce.quiet = 1; break;
		case O_PROGRESS: force_pg = 1; break;
		case 'h': usage(stdout); return 0;
		default: goto usage_err;
		}
	}
	if (argc - optind != 1)
		goto usage_err;
	rc = cli_open_repo(argv[optind], passfile, &r);
	if (rc)
		return cli_fail(rc);
	cli_events_bind(&po.ev, &ce);
	cli_catch_signals();
	ce.pg = progress_start("prune", force_pg, ce.quiet);
	t0 = time_mono_ns();
	rc = prune_run(r, &po, &res);
	progress_stop(ce.pg);
	repo_free(r);
	if (rc)
		return cli_fail(rc);
	if (json)
		print_json(&po, &res);
	else if (!ce.quiet)
		print_text(&po, &res, (double)(time_mono_ns() - t0) / 1e9);
	return ce.errors ? 1 : 0;
usage_err:
	usage(stderr);
	return 2;
}
