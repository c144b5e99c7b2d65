/* imdr restore — parse the options, call the engine's restore_run, print
 * what it did. The work itself is engine/restore.c. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/common.h"
#include "cli/progress.h"
#include "engine/restore.h"
#include "lib/buf.h"
#include "lib/err.h"

static void
usage(FILE *f)
{
	fprintf(f,
"usage: imdr restore REPO SNAPSHOT TARGET [--include PATH]... [--force]\n"
"\n"
"Restore SNAPSHOT (an id prefix, `latest`, or a time) into the folder TARGET,\n"
"byte for byte, with modes and mtimes. --include restores only PATH (a file or\n"
"folder of the snapshot, repeatable), at the same place below TARGET.\n"
"Existing files are not overwritten unless --force. Nothing is written outside\n"
"TARGET: symlinks already in it are replaced, never followed. setuid and setgid\n"
"bits are dropped unless --keep-setuid.\n"
"\n"
"options:\n"
"  --include PATH      restore only this path (repeatable)\n"
"  --source NAME       `latest` and times mean that source's snapshots\n"
"  --force             overwrite existing files\n"
"  --keep-setuid       restore setuid and setgid bits too\n"
"  --password-file F   read the passphrase from F\n"
"  --progress          show progress even when stderr is not a terminal\n"
"  --quiet             print nothing but errors\n"
"\n"
"The restore is recorded in the repository's audit log (imdr audit): snapshot,\n"
"target, includes, counts and result. Exit status 3: restored, but that record\n"
"could not be written (the reason is printed).\n");
}

int
cmd_restore(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "password-file", required_argument, NULL, 'p' },
		{ "include", required_argument, NULL, 'i' },
		{ "source", required_argument, NULL, 'S' },
		{ "force", no_argument, NULL, 'f' },
		{ "keep-setuid", no_argument, NULL, 's' },
		{ "progress", no_argument, NULL, 'P' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct restore_opts ro;
	struct restore_result res;
	struct cli_events ce = { NULL, 0, 0, 0 };
	struct snapshot *s = NULL;
	struct repo *r = NULL;
	const char *passfile = NULL, *source = NULL;
	const char **inc = NULL;
	int c, rc, force_pg = 0;

	memset(&ro, 0, sizeof(ro));
	mem_tune_stream();	/* lib/buf.h: buffers of runs kept for reuse */
	optind = 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'p': passfile = optarg; break;
		case 'i':
			inc = xrealloc(inc, (ro.ninclude + 1) * sizeof(*inc));
			inc[ro.ninclude++] = optarg;
			break;
		case 'f': ro.force = 1; break;
		case 'S': source = optarg; break;
		case 's': ro.keep_setuid = 1; break;
		case 'P': force_pg = 1; break;
		case 'q': ce.quiet = 1; break;
		case 'h': usage(stdout); free(inc); return 0;
		default: usage(stderr); free(inc); return 2;
		}
	}
	if (argc - optind != 3) {
		usage(stderr);
		free(inc);
		return 2;
	}
	ro.target = argv[optind + 2];
	ro.include = inc;
	rc = cli_open_repo(argv[optind], passfile, &r);
	if (rc == IMDR_OK)
		rc = snapshot_resolve(r, source, argv[optind + 1], &s);
	if (rc == IMDR_OK) {
		cli_catch_signals();
		cli_events_bind(&ro.ev, &ce);
		ce.pg = progress_start("restore", force_pg, ce.quiet);
		rc = restore_run(r, s, &ro, &res);
		progress_stop(ce.pg);
	}
	if (rc == IMDR_OK && !ce.quiet) {
		char sz[32];

		fmt_size(res.bytes, sz);
		printf("restored %llu files, %s (%llu bytes) from snapshot %.8s to %s\n",
		    (unsigned long long)res.files, sz, (unsigned long long)res.bytes, s->id,
		    ro.target);
	}
	snapshot_free(s);
	repo_free(r);
	free(inc);
	return rc ? cli_fail(rc) : cli_audited(res.audit_rc);
}
