/* imdr replicas — each replica of a repository: reachable or not, its
 * round trip, and how far behind the others it is. The work itself is
 * engine/replicas.c. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/common.h"
#include "cli/progress.h"
#include "engine/replicas.h"
#include "lib/err.h"

static void
usage(FILE *f)
{
	fprintf(f,
"usage: imdr replicas REPO [--json]\n"
"\n"
"For each replica of REPO (a multi:URL|URL|... repository; any other is one\n"
"replica): whether it answers, its round trip now (the median of three small\n"
"reads), the snapshots it holds and lacks, and the objects and bytes of\n"
"repository content (key slots, packs, index objects, snapshots) that other\n"
"replicas hold and it does not. Audit records are a log of what happened\n"
"where and do not count. `imdr copy GOOD LAGGING` brings a replica up to date.\n"
"\n"
"Exit status: 0 when every replica answers and none is behind, 3 when one is\n"
"unreachable or behind, 1 when none can be listed.\n");
}

int
cmd_replicas(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "password-file", required_argument, NULL, 'p' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct replicas_opts ro;
	struct replicas_result *res;
	struct cli_events ce = { NULL, 1, 0, 0 };
	struct repo *r = NULL;
	const char *passfile = NULL;
	int c, rc, json = 0;

	memset(&ro, 0, sizeof(ro));
	optind = 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'p': passfile = optarg; break;
		case 'j': json = 1; break;
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
	cli_events_bind(&ro.ev, &ce);
	res = xcalloc(1, sizeof(*res));
	rc = replicas_status(r, &ro, res);
	if (rc) {
		repo_free(r);
		free(res);
		return cli_fail(rc);
	}
	if (json) {
		printf("[");
		for (int i = 0; i < res->n; i++) {
			const struct replica_status *s = &res->r[i];

			printf("%s{\"replica\":%d,\"url\":", i ? "," : "", i + 1);
			json_print_string(stdout, s->info.url);
			printf(",\"kind\":\"%s\",\"reachable\":%s,\"latency_ms\":", s->info.kind,
			    s->reachable ? "true" : "false");
			if (s->rtt_ms >= 0)
				printf("%.3f", s->rtt_ms);
			else
				printf("null");
			printf(",\"snapshots\":%llu,\"snapshots_missing\":%llu,\"objects\":%llu,"
			    "\"bytes\":%llu,\"objects_missing\":%llu,\"bytes_behind\":%llu,\"why\":",
			    (unsigned long long)s->snapshots, (unsigned long long)s->snapshots_missing,
			    (unsigned long long)s->objects, (unsigned long long)s->bytes,
			    (unsigned long long)s->objects_missing, (unsigned long long)s->bytes_behind);
			json_print_string(stdout, s->why);
			printf("}");
		}
		printf("]\n");
	} else {
		printf("%-3s %-11s %9s %9s %8s %12s  %s\n", "#", "STATE", "LATENCY", "SNAPSHOTS",
		    "MISSING", "BEHIND", "REPLICA");
		for (int i = 0; i < res->n; i++) {
			const struct replica_status *s = &res->r[i];
			char lat[32] = "-", behind[32] = "-", snaps[32] = "-", miss[32] = "-";
			const char *state = !s->reachable ? "unreachable" :
			    s->objects_missing ? "behind" : "in sync";

			if (s->rtt_ms >= 0)
				snprintf(lat, sizeof(lat), "%.1f ms", s->rtt_ms);
			if (s->reachable) {
				fmt_size(s->bytes_behind, behind);
				snprintf(snaps, sizeof(snaps), "%llu", (unsigned long long)s->snapshots);
				snprintf(miss, sizeof(miss), "%llu", (unsigned long long)s->snapshots_missing);
			}
			printf("%-3d %-11s %9s %9s %8s %12s  %s\n", i + 1, state, lat, snaps, miss,
			    behind, s->info.url);
			if (!s->reachable)
				printf("      %s\n", s->why);
			else if (s->objects_missing)
				printf("      lacks %llu objects (%llu bytes) other replicas hold\n",
				    (unsigned long long)s->objects_missing,
				    (unsigned long long)s->bytes_behind);
		}
	}
	rc = res->lagging ? 3 : 0;
	free(res);
	repo_free(r);
	return rc;
}
