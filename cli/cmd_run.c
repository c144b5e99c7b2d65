/* imdr run — load a job file, check it, and run the job (jobs/run.c);
 * print each step as it goes. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/common.h"
#include "cli/pass.h"
#include "cli/progress.h"
#include "jobs/job.h"
#include "jobs/run.h"
#include "lib/err.h"
#include "lib/log.h"

static void
usage(FILE *f)
{
	fprintf(f,
"usage: imdr run JOB [options]\n"
"       imdr run JOB... --check-config\n"
"\n"
"Run backup job JOB: /etc/imdr/jobs/JOB.conf (or $IMDR_JOBS_DIR/JOB.conf, or a\n"
"path to the file). Under the job's lock (runs never overlap): the before\n"
"command, the source command that writes the export to [source] path, the\n"
"backup (reading every file when [schedule] full-every is due), forget and\n"
"prune when [retention] every is due, bringing lagging replicas and copy-to\n"
"targets up to date, a check and a restore drill when theirs are due, the after\n"
"command. When a step fails the steps after the backup still run, and then the\n"
"on-failure command runs with $IMDR_ERROR and $IMDR_STEP. Each run rewrites\n"
"the job's state (what imdr status reads), appends one JSON line to its run\n"
"log, and rewrites its metrics file, each atomically. The job file's keys are\n"
"in imdr(1) and docs/FORMAT.md.\n"
"\n"
"options:\n"
"  --check-config      check the job files and say every mistake as FILE:LINE;\n"
"                      run nothing (exit 0 when there is none)\n"
"  --full              read every file this time (no files cache)\n"
"  --check             run the check now, due or not\n"
"  --drill             run the drill now, due or not\n"
"  --retention         run forget and prune now, due or not\n"
"  --backup-only       the backup and copies only: nothing that is \"when due\"\n"
"  --jobs-dir DIR      where job files are (default $IMDR_JOBS_DIR or /etc/imdr/jobs)\n"
"  --state-dir DIR     where a job without state-dir keeps its state (default\n"
"                      $IMDR_STATE_DIR or /var/lib/imdr)\n"
"  --progress          show progress even when stderr is not a terminal\n"
"  --quiet             print only errors and the result line\n"
"\n"
"Exit status: 0 every step succeeded; 1 a step failed (named, with why), or\n"
"another run of the job holds its lock; 2 usage or a job file with mistakes;\n"
"3 done, but a replica or copy is still behind after the copies, or an audit\n"
"record was not written.\n");
}

/* the events' context: cli_events first, so its callbacks find theirs */
struct runner {
	struct cli_events ce;
	int force_pg;
};

static void
on_step(void *ctx, const char *name, const char *msg)
{
	struct runner *rn = ctx;

	progress_stop(rn->ce.pg);
	rn->ce.pg = NULL;
	if (!rn->ce.quiet) {
		if (msg)
			printf("%-10s %s\n", name, msg);
		else
			printf("%-10s\n", name);
		fflush(stdout);
	}
	rn->ce.pg = progress_start(name, rn->force_pg, rn->ce.quiet);
}

static int
open_job_repo(void *ctx, const struct job *j, struct repo **ret)
{
	char *pass = NULL;
	size_t plen = 0;
	int rc;

	(void)ctx;
	rc = pass_get_from(j->password_file, j->password_command, &pass, &plen);
	if (rc == IMDR_OK)
		rc = repo_open(j->repository, pass, plen, ret);
	pass_free(pass, plen);
	if (rc == IMDR_OK)
		cli_replica_policy(*ret, j->min_replicas, -1);
	return rc;
}

static int
print_problems(const struct job_problems *p)
{
	for (size_t i = 0; i < p->n; i++) {
		if (p->v[i].line)
			fprintf(stderr, "%s:%d: %s\n", p->v[i].file, p->v[i].line, p->v[i].msg);
		else
			fprintf(stderr, "%s: %s\n", p->v[i].file, p->v[i].msg);
	}
	return (int)p->n;
}

int
cmd_run(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "check-config", no_argument, NULL, 'c' },
		{ "full", no_argument, NULL, 'f' },
		{ "check", no_argument, NULL, 'C' },
		{ "drill", no_argument, NULL, 'D' },
		{ "retention", no_argument, NULL, 'R' },
		{ "backup-only", no_argument, NULL, 'b' },
		{ "jobs-dir", required_argument, NULL, 'j' },
		{ "state-dir", required_argument, NULL, 's' },
		{ "progress", no_argument, NULL, 'P' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct job_run_opts ro;
	struct job_run_result res;
	struct runner rn = { { NULL, 0, 0, 0 }, 0 };
	struct cli_events *cep = &rn.ce;
	const char *jobs_dir = NULL, *state_dir = NULL;
	int c, rc, check_config = 0;

	memset(&ro, 0, sizeof(ro));
	optind = 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'c': check_config = 1; break;
		case 'f': ro.force_full = 1; break;
		case 'C': ro.force_check = 1; break;
		case 'D': ro.force_drill = 1; break;
		case 'R': ro.force_retention = 1; break;
		case 'b': ro.skip_due = 1; break;
		case 'j': jobs_dir = optarg; break;
		case 's': state_dir = optarg; break;
		case 'P': rn.force_pg = 1; break;
		case 'q': rn.ce.quiet = 1; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (argc - optind < 1 || (!check_config && argc - optind != 1)) {
		usage(stderr);
		return 2;
	}
	if (check_config) {
		int bad = 0;

		for (int i = optind; i < argc; i++) {
			struct job_problems probs = { NULL, 0, 0 };
			char *path = job_path(argv[i], jobs_dir);
			struct job *j = NULL;

			job_load(path, state_dir, &j, &probs);
			if (j)
				job_check_system(j, 1, &probs);
			if (print_problems(&probs) == 0)
				printf("%s: job %s is fine: %s into %s%s%s\n", path, j->name, j->source_path,
				    j->repository, j->non_calendar ? ", on " : "",
				    j->non_calendar ? j->on_calendar[0] : "");
			else
				bad = 1;
			job_problems_free(&probs);
			job_free(j);
			free(path);
		}
		return bad ? 2 : 0;
	}
	{
		struct job_problems probs = { NULL, 0, 0 };
		char *path = job_path(argv[optind], jobs_dir);
		struct job *j = NULL;

		job_load(path, state_dir, &j, &probs);
		if (j)
			job_check_system(j, 0, &probs);
		if (print_problems(&probs)) {
			warn0("job %s not run: its file has %zu mistake%s (above)", argv[optind], probs.n,
			    probs.n == 1 ? "" : "s");
			job_problems_free(&probs);
			job_free(j);
			free(path);
			return 2;
		}
		free(path);
		cli_catch_signals();
		cli_events_bind(&ro.ev, cep);
		ro.ev.ctx = &rn;
		ro.step = on_step;
		ro.open_repo = open_job_repo;
		rc = job_run(j, &ro, &res);
		progress_stop(rn.ce.pg);
		rn.ce.pg = NULL;
		if (rc == IMDR_ELOCKED) {
			warn0("%s", err_msg(rc));
		} else if (res.ok) {
			if (!rn.ce.quiet)
				printf("job %s: ok in %.2f s\n", j->name, res.seconds);
		} else {
			warn0("job %s failed in step %s: %s", j->name, res.step, res.error);
		}
		job_free(j);
		if (rc)
			return 1;
		return res.exit_hint;
	}
}
