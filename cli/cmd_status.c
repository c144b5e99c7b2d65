/* imdr status — parse, collect (jobs/status.c), print as a table, JSON,
 * Prometheus text or Zabbix discovery; exit with the Nagios level. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/common.h"
#include "jobs/status.h"
#include "lib/err.h"
#include "lib/log.h"
#include "lib/timefmt.h"

static void
usage(FILE *f)
{
	fprintf(f,
"usage: imdr status [REPO] [options]\n"
"\n"
"Is the RPO met? Per source: its newest snapshot and that snapshot's age\n"
"against the RPO, the last run of its job, its replicas and copies behind, the\n"
"last check and drill. Answered from the jobs' state (imdr run writes it; see\n"
"--state-dir) without touching any repository: no passphrase, no network, in\n"
"milliseconds, so a monitor may ask every minute. With REPO, only the jobs that\n"
"back up into REPO. With --live, REPO's snapshot names are listed as well (one\n"
"listing of snapshots/ per replica: names carry each snapshot's time and source\n"
"tag, so nothing else is read) and the listing decides each source's newest\n"
"snapshot; sources no job names appear by their tag unless --source names them.\n"
"\n"
"options:\n"
"  --rpo DURATION      judge every source by this RPO (1h, 30m, 1d) instead of\n"
"                      its job's [targets] rpo\n"
"  --live              list REPO's snapshots too (needs its passphrase)\n"
"  --job NAME          only this job (repeatable)\n"
"  --source NAME       only this source (repeatable)\n"
"  --state-dir DIR     where job states are (default $IMDR_STATE_DIR or\n"
"                      /var/lib/imdr)\n"
"  --json              print the status as JSON (what Zabbix items read)\n"
"  --prometheus        print Prometheus text format (node-exporter textfile)\n"
"  --zabbix-discovery  print Zabbix low-level discovery JSON ({#JOB}, {#SOURCE},\n"
"                      {#REPOSITORY}); examples/zabbix/ has the template\n"
"  --quiet             print only the first line\n"
"  --password-file F   with --live: read the passphrase from F\n"
"\n"
"The first line says the worst level and why, as a Nagios plugin's does. Exit\n"
"status, Nagios's: 0 OK; 1 WARNING (the last run failed though the RPO is\n"
"still met, a replica or copy is behind, a check or drill is overdue, the last\n"
"drill missed the RTO); 2 CRITICAL (a source has no snapshot or its newest is\n"
"older than the RPO, the last check or drill found damaged data; also bad\n"
"usage); 3 UNKNOWN (no state found, a state file unreadable, --live failed).\n");
}

static void
print_table(const struct status_result *res, int quiet)
{
	size_t ok = 0;
	int worst = res->level;
	const struct status_source *first_bad = NULL;

	for (size_t i = 0; i < res->n; i++) {
		if (res->v[i].level == STATUS_OK)
			ok++;
		else if (first_bad == NULL || res->v[i].level > first_bad->level)
			first_bad = &res->v[i];
	}
	if (res->n == 0)
		printf("UNKNOWN: no job state found (has imdr run run? see --state-dir)\n");
	else if (worst == STATUS_OK)
		printf("OK: %zu source%s, every one within its RPO\n", res->n, res->n == 1 ? "" : "s");
	else
		printf("%s: %s: %s (%zu of %zu source%s OK)\n", status_level_name(worst),
		    first_bad->st.source ? first_bad->st.source : first_bad->st.job,
		    first_bad->nreasons ? first_bad->reasons[0] : "?", ok, res->n,
		    res->n == 1 ? "" : "s");
	if (quiet || res->n == 0)
		return;
	printf("%-24s %-12s %-21s %-9s %-6s %s\n", "SOURCE", "JOB", "NEWEST (UTC)", "AGE", "RPO",
	    "STATUS");
	for (size_t i = 0; i < res->n; i++) {
		const struct status_source *row = &res->v[i];
		const struct job_state *s = &row->st;
		char newest[40] = "none", age[32] = "-", rpo[32] = "-", t[40], sz[32];

		if (s->newest_ns)
			time_format(s->newest_ns, 0, newest);
		if (row->age >= 0)
			duration_format(row->age, age);
		if (row->rpo > 0)
			duration_format(row->rpo, rpo);
		printf("%-24s %-12s %-21s %-9s %-6s %s\n", s->source ? s->source : "?",
		    s->job[0] ? s->job : "-", newest, age, rpo, status_level_name(row->level));
		if (row->live)
			printf("    %llu snapshot%s in the repository (listed)\n",
			    (unsigned long long)row->snapshots, row->snapshots == 1 ? "" : "s");
		if (s->run_start_ns) {
			time_format(s->run_start_ns, 0, t);
			fmt_size(s->backup_added_bytes, sz);
			if (s->run_ok == 1)
				printf("    last run %s ok: backup %.2f s, %llu files, %s added\n", t,
				    s->backup_seconds, (unsigned long long)s->backup_files, sz);
			else
				printf("    last run %s FAILED in %s: %s\n", t, s->run_step ? s->run_step : "?",
				    s->run_error ? s->run_error : "?");
		}
		if (s->check_ok >= 0) {
			time_format(s->check_ns, 0, t);
			printf("    check %s: %s\n", t, s->check_ok ? "ok" : "PROBLEMS");
		}
		if (s->drill_ok >= 0) {
			time_format(s->drill_ns, 0, t);
			printf("    drill %s: %s, full restore estimate %.0f s", t,
			    s->drill_ok ? "verified" : "FAILED", s->drill_rto_estimate);
			if (s->rto) {
				duration_format(s->rto, rpo);
				printf(" (RTO %s: %s)", rpo, s->drill_rto_met == 1 ? "met" : "MISSED");
			}
			printf("\n");
		}
		for (size_t k = 0; k < s->nreplicas; k++) {
			const struct state_replica *r = &s->replicas[k];

			printf("    %s %s: %s", r->role, r->url,
			    r->ok && r->lag_snapshots == 0 ? "up to date" : "BEHIND");
			if (r->lag_snapshots)
				printf(", lacks %llu snapshot%s", (unsigned long long)r->lag_snapshots,
				    r->lag_snapshots == 1 ? "" : "s");
			if (r->why[0])
				printf(" (%s)", r->why);
			printf("\n");
		}
		for (size_t k = 0; k < row->nreasons; k++)
			printf("    ! %s\n", row->reasons[k]);
	}
}

int
cmd_status(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "rpo", required_argument, NULL, 'r' },
		{ "live", no_argument, NULL, 'l' },
		{ "job", required_argument, NULL, 'J' },
		{ "source", required_argument, NULL, 's' },
		{ "state-dir", required_argument, NULL, 'D' },
		{ "json", no_argument, NULL, 'j' },
		{ "prometheus", no_argument, NULL, 'P' },
		{ "zabbix-discovery", no_argument, NULL, 'z' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "password-file", required_argument, NULL, 'p' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct status_opts o;
	struct status_result res;
	const char **jobs = NULL, **sources = NULL, *passfile = NULL;
	int c, rc, live = 0, json = 0, prom = 0, zabbix = 0, quiet = 0, level;

	memset(&o, 0, sizeof(o));
	optind = 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'r':
			if (duration_parse(optarg, &o.rpo) != 0 || o.rpo <= 0) {
				warn0("--rpo %s: a duration such as 1h, 30m or 1d", optarg);
				goto usage_err;
			}
			break;
		case 'l': live = 1; break;
		case 'J':
			jobs = xrealloc(jobs, (o.njobs + 1) * sizeof(*jobs));
			jobs[o.njobs++] = optarg;
			break;
		case 's':
			sources = xrealloc(sources, (o.nsources + 1) * sizeof(*sources));
			sources[o.nsources++] = optarg;
			break;
		case 'D': o.state_root = optarg; break;
		case 'j': json = 1; break;
		case 'P': prom = 1; break;
		case 'z': zabbix = 1; break;
		case 'q': quiet = 1; break;
		case 'p': passfile = optarg; break;
		case 'h': usage(stdout); free(jobs); free(sources); return 0;
		default: goto usage_err;
		}
	}
	if (argc - optind > 1 || (live && argc - optind != 1) || json + prom + zabbix > 1) {
		if (live && argc - optind != 1)
			warn0("--live needs REPO");
		if (json + prom + zabbix > 1)
			warn0("--json, --prometheus and --zabbix-discovery go one at a time");
		goto usage_err;
	}
	o.jobs = jobs;
	o.sources = sources;
	if (argc - optind == 1)
		o.repository = argv[optind];
	if (live) {
		rc = cli_open_repo(argv[optind], passfile, &o.live);
		if (rc) {
			warn0("%s", err_msg(rc));
			printf("UNKNOWN: --live: %s\n", err_msg(rc));
			free(jobs);
			free(sources);
			return STATUS_UNKNOWN;
		}
		/* the jobs' states name the repository as their files do */
		o.repository = argv[optind];
	}
	rc = status_collect(&o, &res);
	repo_free(o.live);
	free(jobs);
	free(sources);
	if (rc) {
		printf("UNKNOWN: %s\n", err_msg(rc));
		return STATUS_UNKNOWN;
	}
	if (prom) {
		status_prometheus(&res, stdout);
	} else if (json || zabbix) {
		json_t *out = zabbix ? status_zabbix_discovery(&res) : status_json(&res);

		if (live && !zabbix) {
			json_object_set_new(out, "listings", json_integer((json_int_t)res.listings));
			json_object_set_new(out, "listing_reads", json_integer((json_int_t)res.live_reads));
		}
		json_dumpf(out, stdout, JSON_INDENT(zabbix ? 0 : 2) | JSON_SORT_KEYS);
		printf("\n");
		json_decref(out);
	} else {
		print_table(&res, quiet);
	}
	level = res.level;
	status_result_free(&res);
	return level;
usage_err:
	usage(stderr);
	free(jobs);
	free(sources);
	return 2;
}
