/* imdr export, imdr verify-export — parse, call export_run / export_verify
 * (engine/export.h), print the custody manifest's SHA-256 or what differs. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/common.h"
#include "cli/progress.h"
#include "engine/export.h"
#include "lib/err.h"

#ifndef IMDR_VERSION
#define IMDR_VERSION "0.1.0"
#endif

static void
usage(FILE *f)
{
	fprintf(f,
"usage: imdr export REPO [SNAPSHOT] --format rsmf|zip|folder --out PATH\n"
"                   [--query QUERY] [--conversation NAME]... [--from TIME] [--to TIME]\n"
"                   [--all] [--source NAME] [--matter NAME] [--password-file F]\n"
"\n"
"Write chat messages of SNAPSHOT (default: latest; an id prefix or a time) for\n"
"review, with a chain of custody:\n"
"  --format rsmf     RSMF 2.0 files into the folder PATH, one per conversation\n"
"                    per UTC day (at most 10000 events each; -partN beyond):\n"
"                    PATH/<conversation folder>/<YYYY-MM-DD>.rsmf, each an\n"
"                    RFC 5322 message whose attachment rsmf.zip holds\n"
"                    rsmf_manifest.json and the attachments\n"
"  --format folder   the canonical layout's subset into the folder PATH:\n"
"                    users.jsonl, conversations/<folder>/{meta.json,\n"
"                    messages.jsonl, attachments/...}\n"
"  --format zip      the same in the zip file PATH\n"
"PATH must not exist (or be an empty folder). Every export holds custody.json:\n"
"matter, query and scope, repository, snapshots, operator, host, tool, UTC time,\n"
"and the size and SHA-256 of every file; its own SHA-256 is printed (keep it:\n"
"`imdr verify-export PATH --sha256 DIGEST` checks everything against it) and\n"
"recorded in the repository's audit log. The same inputs give the same bytes\n"
"(custody.json's time comes from SOURCE_DATE_EPOCH when set).\n"
"\n"
"Selection (all must hold):\n"
"  --query QUERY        messages `imdr search` finds (see imdr search --help)\n"
"  --conversation NAME  a conversation by name, id or folder (repeatable)\n"
"  --from TIME          messages at or after TIME (2026-03-01: its start)\n"
"  --to TIME            messages at or before TIME (2026-03-31: its end)\n"
"  --all                every snapshot (of --source, or every source): each\n"
"                       message once, as last seen; earlier texts become edits,\n"
"                       and messages later gone from the export are marked\n"
"                       deleted (folder and zip: history.jsonl says when)\n"
"  --source NAME        that source's snapshots\n"
"  --matter NAME        the matter (case) the export is for, for custody.json\n"
"  --password-file F    read the passphrase from F\n"
"  --quiet              print nothing but the digest and errors\n");
}

static void
usage_verify(FILE *f)
{
	fprintf(f,
"usage: imdr verify-export PATH [--sha256 DIGEST] [--quiet]\n"
"\n"
"Check an export (a folder, or a zip, written by `imdr export`) against its\n"
"custody.json: every file is hashed again, and every file changed, added or\n"
"removed since the export is named. --sha256 also checks custody.json itself\n"
"against the digest `imdr export` printed (without it, a custody.json rewritten\n"
"to match altered files would go unnoticed). Needs no repository. Exit status:\n"
"0 when everything matches, 1 otherwise.\n");
}

int
cmd_export(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "password-file", required_argument, NULL, 'p' },
		{ "format", required_argument, NULL, 'f' },
		{ "out", required_argument, NULL, 'o' },
		{ "query", required_argument, NULL, 'q' },
		{ "conversation", required_argument, NULL, 'c' },
		{ "from", required_argument, NULL, 'F' },
		{ "to", required_argument, NULL, 'T' },
		{ "all", no_argument, NULL, 'a' },
		{ "source", required_argument, NULL, 'S' },
		{ "matter", required_argument, NULL, 'm' },
		{ "quiet", no_argument, NULL, 'Q' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct export_opts eo;
	struct export_result res;
	struct cli_events ce = { NULL, 0, 0, 0 };
	struct repo *r = NULL;
	const char *passfile = NULL, **convs = NULL;
	int c, rc;

	memset(&eo, 0, sizeof(eo));
	optind = 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'p': passfile = optarg; break;
		case 'f':
			if (strcmp(optarg, "rsmf") == 0)
				eo.format = EXPORT_RSMF;
			else if (strcmp(optarg, "zip") == 0)
				eo.format = EXPORT_ZIP;
			else if (strcmp(optarg, "folder") == 0)
				eo.format = EXPORT_FOLDER;
			else {
				fprintf(stderr, "imdr export: --format %s: rsmf, zip or folder\n", optarg);
				free(convs);
				return 2;
			}
			break;
		case 'o': eo.out = optarg; break;
		case 'q': eo.query = optarg; break;
		case 'c':
			convs = xrealloc(convs, (eo.nconversations + 1) * sizeof(*convs));
			convs[eo.nconversations++] = optarg;
			break;
		case 'F': eo.from = optarg; break;
		case 'T': eo.to = optarg; break;
		case 'a': eo.all = 1; break;
		case 'S': eo.source = optarg; break;
		case 'm': eo.matter = optarg; break;
		case 'Q': ce.quiet = 1; break;
		case 'h': usage(stdout); free(convs); return 0;
		default: usage(stderr); free(convs); return 2;
		}
	}
	if (argc - optind < 1 || argc - optind > 2 || eo.format == 0 || eo.out == NULL) {
		if (argc - optind >= 1 && (eo.format == 0 || eo.out == NULL))
			fprintf(stderr, "imdr export: --format and --out are required\n");
		usage(stderr);
		free(convs);
		return 2;
	}
	if (argc - optind == 2) {
		if (eo.all) {
			fprintf(stderr, "imdr export: a SNAPSHOT and --all exclude each other\n");
			free(convs);
			return 2;
		}
		eo.snapshot = argv[optind + 1];
	}
	eo.conversations = convs;
	eo.tool = "imdr " IMDR_VERSION;
	/* zip entries carry a fixed local time: make local time UTC, so the
	 * bytes do not depend on where the export runs */
	setenv("TZ", "UTC", 1);
	tzset();
	rc = cli_open_repo(argv[optind], passfile, &r);
	if (rc == IMDR_OK) {
		cli_catch_signals();
		cli_events_bind(&eo.ev, &ce);
		rc = export_run(r, &eo, &res);
	}
	if (rc == IMDR_OK) {
		if (!ce.quiet) {
			char sz[32];

			fmt_size(res.bytes, sz);
			printf("exported %llu message%s of %llu conversation%s from %llu snapshot%s: %llu"
			    " files, %s (%llu bytes); %llu attachments (%llu not in the export)\n",
			    (unsigned long long)res.messages, res.messages == 1 ? "" : "s",
			    (unsigned long long)res.conversations, res.conversations == 1 ? "" : "s",
			    (unsigned long long)res.snapshots, res.snapshots == 1 ? "" : "s",
			    (unsigned long long)res.files, sz, (unsigned long long)res.bytes,
			    (unsigned long long)res.attachments,
			    (unsigned long long)res.missing_attachments);
			printf("custody manifest %s\nSHA-256 %s\n", res.custody_path, res.custody_sha256);
		} else {
			printf("%s\n", res.custody_sha256);
		}
	}
	repo_free(r);
	free(convs);
	return rc ? cli_fail(rc) : cli_audited(res.audit_rc);
}

int
cmd_verify_export(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "sha256", required_argument, NULL, 's' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct verify_result res;
	struct engine_events ev;
	struct cli_events ce = { NULL, 0, 0, 0 };
	const char *expect = NULL;
	int c, rc;

	optind = 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 's': expect = optarg; break;
		case 'q': ce.quiet = 1; break;
		case 'h': usage_verify(stdout); return 0;
		default: usage_verify(stderr); return 2;
		}
	}
	if (argc - optind != 1) {
		usage_verify(stderr);
		return 2;
	}
	cli_events_bind(&ev, &ce);
	rc = export_verify(argv[optind], expect, &ev, &res);
	if (rc == IMDR_OK && !ce.quiet)
		printf("%s: %llu files match custody.json (SHA-256 %s)\n", argv[optind],
		    (unsigned long long)res.files, res.custody_sha256);
	return rc ? cli_fail(rc) : 0;
}
