/* imdr hold — place, list and release legal holds (repo/hold.h). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/common.h"
#include "lib/err.h"
#include "lib/log.h"
#include "lib/timefmt.h"
#include "repo/hold.h"
#include "repo/snapshot.h"

static void
usage(FILE *f)
{
	fprintf(f,
"usage: imdr hold add REPO --case CASE --reason TEXT SCOPE\n"
"       imdr hold list REPO [--json]\n"
"       imdr hold release REPO HOLD [--reason TEXT]\n"
"\n"
"A legal hold keeps snapshots from `imdr forget`, whatever its options, and\n"
"so keeps their data from `imdr prune`. SCOPE is one of:\n"
"  --snapshot SNAPSHOT   these snapshots (repeatable; an id prefix, `latest`\n"
"                        or a time; with --source, within that source)\n"
"  --source NAME         a source's snapshots ...\n"
"  --all-sources         ... or every source's,\n"
"  --from TIME           taken at or after TIME (default: since the first)\n"
"  --to TIME             taken at or before TIME (default: open, so snapshots\n"
"                        not yet taken are held too)\n"
"TIMEs are UTC unless they carry a zone (2026-03-01, 2026-03-01T10:00+01:00).\n"
"\n"
"Placing and releasing a hold are written to the audit log with who and\n"
"when (and the release's --reason); a released hold stays listed, with its\n"
"release. HOLD is an id prefix (4+ hex digits) from `imdr hold list`.\n"
"\n"
"options:\n"
"  --json                print the list as JSON\n"
"  --password-file F     read the passphrase from F\n");
}

static void
print_hold_json(const struct hold *h, int first)
{
	char when[40];

	time_format(h->time_ns, 9, when);
	printf("%s{\"id\":\"%s\",\"time\":\"%s\",\"case\":", first ? "" : ",", h->id, when);
	json_print_string(stdout, h->case_name);
	printf(",\"reason\":");
	json_print_string(stdout, h->reason);
	printf(",\"who\":");
	json_print_string(stdout, h->who);
	printf(",\"host\":");
	json_print_string(stdout, h->host);
	printf(",\"scope\":{");
	if (h->nsnapshots) {
		printf("\"snapshots\":[");
		for (size_t i = 0; i < h->nsnapshots; i++)
			printf("%s\"%s\"", i ? "," : "", h->snapshots[i]);
		printf("]");
	} else {
		if (h->source) {
			printf("\"source\":");
			json_print_string(stdout, h->source);
		} else {
			printf("\"all_sources\":true");
		}
		if (h->has_from) {
			time_format(h->from_ns, 9, when);
			printf(",\"from\":\"%s\"", when);
		}
		if (h->has_to) {
			time_format(h->to_ns, 9, when);
			printf(",\"to\":\"%s\"", when);
		}
	}
	printf("},\"active\":%s", h->released ? "false" : "true");
	if (h->released) {
		time_format(h->released_ns, 9, when);
		printf(",\"released\":{\"time\":\"%s\",\"who\":", when);
		json_print_string(stdout, h->released_by);
		printf(",\"reason\":");
		json_print_string(stdout, h->release_reason);
		printf("}");
	}
	printf("}");
}

static void
print_hold(const struct hold *h)
{
	char when[40], *scope = hold_scope_text(h);

	time_format(h->time_ns, 0, when);
	printf("%.8s  %s  %s  case: %s\n", h->id, h->released ? "released" : "active  ", when,
	    h->case_name);
	printf("          scope: %s\n", scope);
	printf("          reason: %s\n", h->reason);
	printf("          placed by %s on %s\n", h->who, h->host);
	if (h->released) {
		time_format(h->released_ns, 0, when);
		printf("          released %s by %s: %s\n", when, h->released_by, h->release_reason);
	}
	free(scope);
}

static int
hold_add_cmd(int argc, char **argv)
{
	enum { O_CASE = 256, O_REASON, O_SNAP, O_SOURCE, O_ALL, O_FROM, O_TO, O_PASS, O_JSON };
	static const struct option opts[] = {
		{ "case", required_argument, NULL, O_CASE },
		{ "reason", required_argument, NULL, O_REASON },
		{ "snapshot", required_argument, NULL, O_SNAP },
		{ "source", required_argument, NULL, O_SOURCE },
		{ "all-sources", no_argument, NULL, O_ALL },
		{ "from", required_argument, NULL, O_FROM },
		{ "to", required_argument, NULL, O_TO },
		{ "password-file", required_argument, NULL, O_PASS },
		{ "json", no_argument, NULL, O_JSON },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct hold_spec spec;
	struct hold *h = NULL;
	const char **snaps = xcalloc((size_t)argc + 1, sizeof(*snaps));
	struct snapshot_name *names = NULL;
	size_t nsnaps = 0, n = 0;
	const char *passfile = NULL;
	struct repo *r = NULL;
	int c, rc, json = 0;
	int64_t t, tend;

	memset(&spec, 0, sizeof(spec));
	optind = 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case O_CASE: spec.case_name = optarg; break;
		case O_REASON: spec.reason = optarg; break;
		case O_SNAP: snaps[nsnaps++] = optarg; break;
		case O_SOURCE: spec.source = optarg; break;
		case O_ALL: spec.all_sources = 1; break;
		case O_FROM:
		case O_TO:
			if (time_parse(optarg, &t, &tend) != 0) {
				warn0("--%s %s: not a time (e.g. 2026-03-01 or 2026-03-01T10:00Z)",
				    c == O_FROM ? "from" : "to", optarg);
				goto usage_err;
			}
			if (c == O_FROM) {
				spec.has_from = 1;
				spec.from_ns = t;
			} else {
				spec.has_to = 1;
				spec.to_ns = tend;	/* "--to 2026-03-31": the whole day */
			}
			break;
		case O_PASS: passfile = optarg; break;
		case O_JSON: json = 1; break;
		case 'h': usage(stdout); free(snaps); return 0;
		default: goto usage_err;
		}
	}
	if (argc - optind != 1)
		goto usage_err;
	rc = cli_open_repo(argv[optind], passfile, &r);
	if (rc) {
		free(snaps);
		return cli_fail(rc);
	}
	if (nsnaps) {
		/* snapshots named by prefix, time or `latest` are held by id */
		rc = snapshot_list(r, &names, &n);
		if (rc == IMDR_OK && spec.source) {
			char tag[SNAPSHOT_TAG_HEX + 1];

			snapshot_source_tag(r, spec.source, tag);
			n = snapshot_filter_source(names, n, tag);
			spec.source = NULL;
		}
		spec.snapshots = xcalloc(nsnaps, sizeof(*spec.snapshots));
		for (size_t k = 0; rc == IMDR_OK && k < nsnaps; k++) {
			size_t i;

			rc = snapshot_resolve_name(names, n, snaps[k], &i);
			if (rc == IMDR_OK)
				memcpy(spec.snapshots[spec.nsnapshots++], names[i].id, SNAPSHOT_ID_HEX + 1);
		}
	} else {
		rc = IMDR_OK;
	}
	if (rc == IMDR_OK)
		rc = hold_add(r, &spec, &h);
	if (rc == IMDR_OK) {
		if (json) {
			print_hold_json(h, 1);
			printf("\n");
		} else {
			printf("hold %.8s placed\n", h->id);
			print_hold(h);
		}
	}
	hold_free(h);
	free(spec.snapshots);
	free(names);
	free(snaps);
	repo_free(r);
	return rc ? cli_fail(rc) : 0;
usage_err:
	usage(stderr);
	free(snaps);
	return 2;
}

static int
hold_list_cmd(int argc, char **argv, int release)
{
	enum { O_PASS = 256, O_JSON, O_REASON };
	static const struct option opts[] = {
		{ "password-file", required_argument, NULL, O_PASS },
		{ "json", no_argument, NULL, O_JSON },
		{ "reason", required_argument, NULL, O_REASON },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct hold **v = NULL;
	const char *passfile = NULL, *reason = NULL;
	struct repo *r = NULL;
	size_t n = 0, active = 0, at;
	int c, rc, json = 0;

	optind = 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case O_PASS: passfile = optarg; break;
		case O_JSON: json = 1; break;
		case O_REASON: reason = optarg; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (argc - optind != (release ? 2 : 1) || (reason && !release)) {
		usage(stderr);
		return 2;
	}
	if (release && (reason == NULL || *reason == '\0'))
		reason = "(no reason given)";	/* who and when are recorded all the same */
	rc = cli_open_repo(argv[optind], passfile, &r);
	if (rc)
		return cli_fail(rc);
	rc = hold_list(r, &v, &n);
	if (rc == IMDR_OK && release) {
		rc = hold_find(v, n, argv[optind + 1], &at);
		if (rc == IMDR_OK)
			rc = hold_release(r, v[at], reason);
		if (rc == IMDR_OK) {
			printf("hold %.8s released (recorded in the audit log)\n", v[at]->id);
			print_hold(v[at]);
		}
	} else if (rc == IMDR_OK) {
		if (json)
			printf("[");
		for (size_t i = 0; i < n; i++) {
			active += !v[i]->released;
			if (json)
				print_hold_json(v[i], i == 0);
			else
				print_hold(v[i]);
		}
		if (json)
			printf("]\n");
		else
			printf("%zu hold%s, %zu active\n", n, n == 1 ? "" : "s", active);
	}
	hold_list_free(v, n);
	repo_free(r);
	return rc ? cli_fail(rc) : 0;
}

int
cmd_hold(int argc, char **argv)
{
	if (argc >= 2 && strcmp(argv[1], "add") == 0)
		return hold_add_cmd(argc - 1, argv + 1);
	if (argc >= 2 && strcmp(argv[1], "list") == 0)
		return hold_list_cmd(argc - 1, argv + 1, 0);
	if (argc >= 2 && strcmp(argv[1], "release") == 0)
		return hold_list_cmd(argc - 1, argv + 1, 1);
	if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
		usage(stdout);
		return 0;
	}
	usage(stderr);
	return 2;
}
