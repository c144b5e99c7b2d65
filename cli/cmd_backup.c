/* imdr backup — parse the options, call the engine's backup_run, print
 * what it did. The work itself is engine/backup.c. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/common.h"
#include "cli/progress.h"
#include "engine/backup.h"
#include "lib/err.h"
#include "lib/log.h"
#include "lib/timefmt.h"

static void
usage(FILE *f)
{
	fprintf(f,
"usage: imdr backup REPO SOURCE [options]\n"
"\n"
"Back up SOURCE (a directory, a .zip, a .tar[.gz|.zst], or a Mattermost .jsonl)\n"
"as a new snapshot. Unchanged files are not read again (files cache). The\n"
"format is detected; --format F names it:\n");
	for (size_t i = 0; ingest_formats[i]; i++)
		fprintf(f, "  %-12s%s\n", ingest_formats[i]->name, ingest_formats[i]->what);
	fprintf(f,
"\n"
"options:\n"
"  --source NAME       name what is backed up (default: the export's own: a Slack\n"
"                      team id, a Mattermost team; else the source's path);\n"
"                      retention, `latest` and the mount's sources/ go by it\n"
"  --format F          one of the formats above (default: detect)\n"
"  --attachments DIR   Mattermost: folder the export's attachment paths point into\n"
"  --tag TAG           label the snapshot (repeatable)\n"
"  --host NAME         host name to record (default: this machine's)\n"
"  --time TIME         record this time instead of now (e.g. 2026-11-24T02:00:00Z)\n"
"  --no-cache          read every file, ignoring the files cache\n"
"  --strict            fail on an export's first bad entry (a conversation listed\n"
"                      twice, an archive member given twice or below a file, a\n"
"                      malformed line) instead of warning, leaving it out and\n"
"                      recording it in the snapshot\n"
"  --no-index          do not index the messages of a chat export (`imdr search`\n"
"                      then reads this snapshot's messages.jsonl instead)\n"
"  --min-replicas N    multi: repositories: fail unless at least N replicas take\n"
"                      every object (default $IMDR_MIN_REPLICAS or 1)\n"
"  --password-file F   read the passphrase from F\n"
"  --progress          show progress even when stderr is not a terminal\n"
"  --quiet             no progress, no warnings list\n"
"  --json              print the result as JSON\n"
"\n"
"The backup, succeeded or failed, is recorded in the repository's audit log\n"
"(imdr audit). Exit status 3: the snapshot is saved but its record could not\n"
"be written (the reason is printed).\n"
"\n"
"Into a multi: repository every object goes to every replica at once, the\n"
"snapshot last on each. A replica that fails or stops answering is left\n"
"behind: the backup still succeeds if at least --min-replicas got it, names\n"
"each replica that did not get the snapshot, and exits with status 3;\n"
"`imdr copy` brings it up to date.\n");
}

/* report_laggards: each replica that did not get the snapshot, on
 * stderr whatever --quiet says (without it, the engine's warnings named
 * them already): it decides the exit status. */
static void
report_laggards(struct repo *r, const struct backup_result *br, int quiet)
{
	for (int i = 0; quiet && br->replicas_lagging && i < br->replicas; i++) {
		struct repo_replica ri;

		repo_replica_info(r, i, &ri);
		if (ri.lagging || ri.state == REPO_REPLICA_ABSENT)
			warn0("replica %d (%s) did not get snapshot %.8s: %s", i + 1, ri.url,
			    br->id, ri.why);
	}
	if (br->replicas_lagging)
		warn0("%d of %d replicas are behind; bring them up to date with imdr copy SOURCE_REPLICA LAGGING_REPLICA",
		    br->replicas_lagging, br->replicas);
}

static void
print_result(const struct backup_result *br, int json, int quiet)
{
	char sz[32], add[32], when[40];
	double secs = (double)br->duration_ms / 1000.0;

	fmt_size(br->bytes, sz);
	fmt_size(br->added_bytes, add);
	time_format(br->time_ns, 0, when);
	if (json) {
		printf("{\"id\":\"%s\",\"source\":", br->id);
		json_print_string(stdout, br->source);
		printf(",\"time\":\"%s\",\"format\":\"%s\",\"files\":%llu,"
		    "\"dirs\":%llu,\"bytes\":%llu,\"added_bytes\":%llu,\"added_blobs\":%llu,"
		    "\"files_unchanged\":%llu,\"files_read\":%llu,\"skipped\":%llu,"
		    "\"seconds\":%.3f,\"audit\":\"%s\"",
		    when, br->format, (unsigned long long)br->files,
		    (unsigned long long)br->dirs, (unsigned long long)br->bytes,
		    (unsigned long long)br->added_bytes, (unsigned long long)br->added_blobs,
		    (unsigned long long)br->files_unchanged, (unsigned long long)br->files_read,
		    (unsigned long long)br->skipped, secs, br->audit_id);
		if (br->replicas > 1)
			printf(",\"replicas\":%d,\"replicas_lagging\":%d", br->replicas,
			    br->replicas_lagging);
		printf("}\n");
		return;
	}
	if (quiet)
		return;
	printf("snapshot %.8s saved at %s (%s)\n", br->id, when, br->format);
	printf("  source %s\n", br->source);
	printf("  %llu files, %llu dirs, %s (%llu bytes); %llu unchanged, %llu read\n",
	    (unsigned long long)br->files, (unsigned long long)br->dirs, sz,
	    (unsigned long long)br->bytes, (unsigned long long)br->files_unchanged,
	    (unsigned long long)br->files_read);
	printf("  added %s in %llu new blobs; took %.2f s (%.1f MiB/s)\n", add,
	    (unsigned long long)br->added_blobs, secs,
	    secs > 0 ? (double)br->bytes / secs / 1048576.0 : 0.0);
	if (br->skipped)
		printf("  %llu warning%s (recorded in the snapshot)\n",
		    (unsigned long long)br->skipped, br->skipped == 1 ? "" : "s");
}

int
cmd_backup(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "format", required_argument, NULL, 'F' },
		{ "source", required_argument, NULL, 's' },
		{ "attachments", required_argument, NULL, 'a' },
		{ "tag", required_argument, NULL, 't' },
		{ "host", required_argument, NULL, 'H' },
		{ "time", required_argument, NULL, 'T' },
		{ "no-cache", no_argument, NULL, 'n' },
		{ "strict", no_argument, NULL, 'S' },
		{ "no-index", no_argument, NULL, 'X' },
		{ "min-replicas", required_argument, NULL, 'm' },
		{ "password-file", required_argument, NULL, 'p' },
		{ "progress", no_argument, NULL, 'P' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct backup_opts bo;
	struct backup_result br;
	struct cli_events ce = { NULL, 0, 0, 0 };
	struct repo *r = NULL;
	const char *passfile = NULL;
	char **tags = NULL;
	int c, rc, json = 0, progress_force = 0, min_replicas = 0;
	char *end;

	memset(&bo, 0, sizeof(bo));
	optind = 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'F':
			if ((bo.ingest.format = ingest_format_find(optarg)) == NULL) {
				warn0("--format: %s", err_msg(IMDR_EINVAL));
				free(tags);
				return 2;
			}
			break;
		case 'a': bo.ingest.attachments_dir = optarg; break;
		case 'S': bo.ingest.strict = 1; break;
		case 's':
			if (snapshot_source_check(optarg) != IMDR_OK) {
				warn0("--source: %s", err_msg(IMDR_EINVAL));
				free(tags);
				return 2;
			}
			bo.source_name = optarg;
			break;
		case 't':
			tags = xrealloc(tags, (bo.ntags + 1) * sizeof(*tags));
			tags[bo.ntags++] = optarg;
			break;
		case 'H': bo.host = optarg; break;
		case 'T':
			if (time_parse(optarg, &bo.time_ns, NULL) != 0) {
				warn0("--time %s: not a time (try 2026-11-24T02:00:00Z)", optarg);
				free(tags);
				return 2;
			}
			break;
		case 'n': bo.no_cache = 1; break;
		case 'X': bo.no_index = 1; break;
		case 'm':
			min_replicas = (int)strtol(optarg, &end, 10);
			if (*end != '\0' || min_replicas < 1 || min_replicas > REPO_MAX_REPLICAS) {
				warn0("--min-replicas %s: a number from 1 to %d", optarg, REPO_MAX_REPLICAS);
				free(tags);
				return 2;
			}
			break;
		case 'p': passfile = optarg; break;
		case 'P': progress_force = 1; break;
		case 'q': ce.quiet = 1; break;
		case 'j': json = 1; break;
		case 'h': usage(stdout); free(tags); return 0;
		default: usage(stderr); free(tags); return 2;
		}
	}
	if (argc - optind != 2) {
		usage(stderr);
		free(tags);
		return 2;
	}
	bo.source = argv[optind + 1];
	bo.tags = tags;
	/* before asking for a passphrase: a typo in the source is the
	 * likeliest mistake (the engine checks again) */
	if (access(bo.source, R_OK) != 0) {
		warn0("cannot read source %s: %s", bo.source, strerror(errno));
		free(tags);
		return 1;
	}
	rc = cli_open_repo(argv[optind], passfile, &r);
	if (rc == IMDR_OK && min_replicas) {
		if (min_replicas > repo_replica_count(r)) {
			warn0("--min-replicas %d: %s has %d replica%s", min_replicas, repo_url(r),
			    repo_replica_count(r), repo_replica_count(r) == 1 ? "" : "s");
			repo_free(r);
			free(tags);
			return 2;
		}
		cli_replica_policy(r, min_replicas, -1);
	}
	if (rc == IMDR_OK) {
		cli_catch_signals();
		cli_events_bind(&bo.ev, &ce);
		ce.pg = progress_start("backup", progress_force, ce.quiet);
		rc = backup_run(r, &bo, &br);
		progress_stop(ce.pg);
	}
	if (rc == IMDR_OK) {
		print_result(&br, json, ce.quiet);
		report_laggards(r, &br, ce.quiet);
	}
	repo_free(r);
	free(tags);
	if (rc)
		return cli_fail(rc);
	return br.replicas_lagging ? 3 : cli_audited(br.audit_rc);
}
