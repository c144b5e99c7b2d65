/* imdr forget — parse a retention policy, call forget_run, print every
 * snapshot as kept (and why) or removed. The work is engine/forget.c. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/common.h"
#include "cli/progress.h"
#include "engine/forget.h"
#include "lib/err.h"
#include "lib/log.h"
#include "lib/timefmt.h"

static void
usage(FILE *f)
{
	fprintf(f,
"usage: imdr forget REPO [--keep-* ...] [options]\n"
"       imdr forget REPO SNAPSHOT... [options]\n"
"\n"
"Remove snapshots by a retention policy (restic's rules), or the snapshots\n"
"named. Snapshots are grouped by source and host, and the policy applies to\n"
"each group alone. Every snapshot is listed as kept, with the rules that kept\n"
"it, or removed. A snapshot under a legal hold (imdr hold) is never removed,\n"
"whatever the options; the hold that kept it is named. Only snapshot objects\n"
"go: `imdr prune` frees the space of the data no snapshot uses any more.\n"
"\n"
"policy (any combination; a snapshot any rule keeps is kept):\n"
"  --keep-last N            the newest N\n"
"  --keep-hourly N          the newest of each of the newest N hours with one\n"
"  --keep-daily N           ... of N days\n"
"  --keep-weekly N          ... of N ISO weeks (Monday to Sunday)\n"
"  --keep-monthly N         ... of N months\n"
"  --keep-yearly N          ... of N years\n"
"                           (N may be `unlimited`; while a count is not used\n"
"                           up, the oldest snapshot is kept too)\n"
"  --keep-within D          all within D of the newest snapshot: 1y2m3d4h, 90d\n"
"  --keep-within-hourly D   one an hour within D of the newest (also -daily,\n"
"                           -weekly, -monthly, -yearly)\n"
"  --keep-tag TAG[,TAG]     all with every tag of the list (repeatable)\n"
"  --tz ZONE                hours, days, weeks, months, years in ZONE: UTC\n"
"                           (default), local, +02:00, Europe/Berlin\n"
"\n"
"options:\n"
"  --group-by G             source,host (default), source, host or none\n"
"  --source NAME            only this source's snapshots\n"
"  --host NAME              only this host's snapshots\n"
"  -n, --dry-run            show what would be removed; remove nothing\n"
"  --json                   print the decision as JSON\n"
"  --quiet                  print only the summary line\n"
"  --password-file F        read the passphrase from F\n"
"\n"
"An audit record naming every removed and kept snapshot is written before\n"
"the first removal.\n");
}

static int
parse_count(const char *opt, const char *s, int *ret)
{
	char *end;
	long v;

	if (strcmp(s, "unlimited") == 0 || strcmp(s, "all") == 0 || strcmp(s, "-1") == 0) {
		*ret = -1;
		return 0;
	}
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < 0 || v > INT_MAX) {
		warn0("--%s %s: want a count (0 or more) or `unlimited`", opt, s);
		return -1;
	}
	*ret = (int)v;
	return 0;
}

static void
print_json(const struct forget_opts *fo, const struct forget_result *res)
{
	char *policy = fo->nspecs ? NULL : forget_policy_text(&fo->policy);

	printf("{\"dry_run\":%s,\"policy\":", fo->dry_run ? "true" : "false");
	if (policy)
		json_print_string(stdout, policy);
	else
		printf("null");
	printf(",\"groups\":[");
	for (size_t g = 0; g < res->ngroups; g++) {
		const struct forget_group *gr = &res->groups[g];

		printf("%s{\"source\":", g ? "," : "");
		if (gr->source)
			json_print_string(stdout, gr->source);
		else
			printf("null");
		printf(",\"host\":");
		if (gr->host)
			json_print_string(stdout, gr->host);
		else
			printf("null");
		printf(",\"snapshots\":[");
		for (size_t i = gr->first; i < gr->first + gr->n; i++) {
			const struct forget_snapshot *fs = &res->v[i];
			char when[40];

			time_format(fs->sn.time_ns, 9, when);
			printf("%s{\"id\":\"%s\",\"time\":\"%s\",\"keep\":%s", i > gr->first ? "," : "",
			    fs->sn.id, when, fs->keep ? "true" : "false");
			if (fs->keep) {
				printf(",\"reasons\":");
				json_print_string(stdout, fs->why ? fs->why : "");
			}
			if (fs->held_by) {
				printf(",\"held_by\":");
				json_print_string(stdout, fs->held_by);
			}
			if (fs->refused)
				printf(",\"refused\":true");
			if (!fs->keep && !fo->dry_run)
				printf(",\"removed\":%s", fs->removed ? "true" : "false");
			printf("}");
		}
		printf("]}");
	}
	printf("],\"kept\":%zu,\"removed\":%zu,\"held\":%zu,\"refused\":%zu,\"audit_record\":\"%s\"}\n",
	    res->kept, res->removed, res->held, res->refused, res->audit_id);
	free(policy);
}

static void
print_text(const struct forget_opts *fo, const struct forget_result *res, int quiet)
{
	for (size_t g = 0; g < res->ngroups && !quiet; g++) {
		const struct forget_group *gr = &res->groups[g];
		size_t keep = 0;

		for (size_t i = gr->first; i < gr->first + gr->n; i++)
			keep += res->v[i].keep;
		if (gr->source || gr->host)
			printf("%s%s%s%s%s: ", gr->source ? "source " : "", gr->source ? gr->source : "",
			    gr->source && gr->host ? ", " : "", gr->host ? "host " : "",
			    gr->host ? gr->host : "");
		printf("%zu snapshot%s, keep %zu, %s %zu\n", gr->n, gr->n == 1 ? "" : "s", keep,
		    fo->dry_run ? "would remove" : "remove", gr->n - keep);
		for (size_t i = gr->first; i < gr->first + gr->n; i++) {
			const struct forget_snapshot *fs = &res->v[i];
			char when[40];

			time_format(fs->sn.time_ns, 0, when);
			printf("  %-6s  %.8s  %s  %s\n", fs->keep ? "keep" : "remove", fs->sn.id, when,
			    fs->keep ? (fs->why ? fs->why : "") : "");
			if (fs->refused)
				printf("          refused: named for removal, but %s\n", fs->why);
		}
	}
	if (fo->dry_run)
		printf("dry run: would remove %zu of %zu snapshots; nothing was changed\n",
		    res->removed, res->kept + res->removed);
	else
		printf("removed %zu of %zu snapshots%s\n", res->removed, res->kept + res->removed,
		    res->removed ? "; `imdr prune` frees the space only they used" : "");
	if (res->held)
		printf("%zu snapshot%s kept by legal holds (imdr hold list)\n", res->held,
		    res->held == 1 ? "" : "s");
}

int
cmd_forget(int argc, char **argv)
{
	enum {
		O_LAST = 256, O_HOURLY, O_DAILY, O_WEEKLY, O_MONTHLY, O_YEARLY,
		O_WITHIN, O_WH, O_WD, O_WW, O_WM, O_WY, O_TAG, O_TZ, O_GROUP, O_SOURCE,
		O_HOST, O_PASS, O_JSON, O_QUIET, O_PROGRESS,
	};
	static const struct option opts[] = {
		{ "keep-last", required_argument, NULL, O_LAST },
		{ "keep-hourly", required_argument, NULL, O_HOURLY },
		{ "keep-daily", required_argument, NULL, O_DAILY },
		{ "keep-weekly", required_argument, NULL, O_WEEKLY },
		{ "keep-monthly", required_argument, NULL, O_MONTHLY },
		{ "keep-yearly", required_argument, NULL, O_YEARLY },
		{ "keep-within", required_argument, NULL, O_WITHIN },
		{ "keep-within-hourly", required_argument, NULL, O_WH },
		{ "keep-within-daily", required_argument, NULL, O_WD },
		{ "keep-within-weekly", required_argument, NULL, O_WW },
		{ "keep-within-monthly", required_argument, NULL, O_WM },
		{ "keep-within-yearly", required_argument, NULL, O_WY },
		{ "keep-tag", required_argument, NULL, O_TAG },
		{ "tz", required_argument, NULL, O_TZ },
		{ "group-by", required_argument, NULL, O_GROUP },
		{ "source", required_argument, NULL, O_SOURCE },
		{ "host", required_argument, NULL, O_HOST },
		{ "dry-run", no_argument, NULL, 'n' },
		{ "password-file", required_argument, NULL, O_PASS },
		{ "json", no_argument, NULL, O_JSON },
		{ "quiet", no_argument, NULL, O_QUIET },
		{ "progress", no_argument, NULL, O_PROGRESS },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct forget_opts fo;
	struct forget_result res;
	struct cli_events ce = { NULL, 0, 0, 0 };
	const char **tags = NULL;
	size_t ntags = 0, refused;
	const char *passfile = NULL;
	struct repo *r = NULL;
	int c, rc, json = 0, force_pg = 0;

	memset(&fo, 0, sizeof(fo));
	memset(&res, 0, sizeof(res));
	fo.group_by = FORGET_GROUP_SOURCE | FORGET_GROUP_HOST;
	tags = xcalloc((size_t)argc + 1, sizeof(*tags));
	optind = 1;
	while ((c = getopt_long(argc, argv, "hn", opts, NULL)) != -1) {
		struct forget_duration *d = NULL;

		switch (c) {
		case O_LAST: case O_HOURLY: case O_DAILY: case O_WEEKLY: case O_MONTHLY:
		case O_YEARLY:
			if (parse_count(opts[c - O_LAST].name, optarg,
			    &fo.policy.keep[c - O_LAST]) != 0)
				goto usage_err;
			break;
		case O_WITHIN: d = &fo.policy.within; break;
		case O_WH: case O_WD: case O_WW: case O_WM: case O_WY:
			d = &fo.policy.within_period[c - O_WH];
			break;
		case O_TAG:
			if (*optarg == '\0' || optarg[strspn(optarg, ",")] == '\0') {
				warn0("--keep-tag: give one or more tags (TAG or TAG,TAG)");
				goto usage_err;
			}
			tags[ntags++] = optarg;
			break;
		case O_TZ: fo.policy.tz = optarg; break;
		case O_GROUP:
			if (strcmp(optarg, "source,host") == 0 || strcmp(optarg, "host,source") == 0)
				fo.group_by = FORGET_GROUP_SOURCE | FORGET_GROUP_HOST;
			else if (strcmp(optarg, "source") == 0)
				fo.group_by = FORGET_GROUP_SOURCE;
			else if (strcmp(optarg, "host") == 0)
				fo.group_by = FORGET_GROUP_HOST;
			else if (strcmp(optarg, "none") == 0 || strcmp(optarg, "") == 0)
				fo.group_by = 0;
			else {
				warn0("--group-by %s: want source,host, source, host or none", optarg);
				goto usage_err;
			}
			break;
		case O_SOURCE: fo.source = optarg; break;
		case O_HOST: fo.host = optarg; break;
		case 'n': fo.dry_run = 1; break;
		case O_PASS: passfile = optarg; break;
		case O_JSON: json = 1; ce.quiet = 1; break;
		case O_QUIET: ce.quiet = 1; break;
		case O_PROGRESS: force_pg = 1; break;
		case 'h': usage(stdout); free(tags); return 0;
		default: goto usage_err;
		}
		if (d && forget_parse_duration(optarg, d) != IMDR_OK) {
			warn0("%s", err_msg(IMDR_EINVAL));
			goto usage_err;
		}
	}
	if (argc - optind < 1)
		goto usage_err;
	fo.policy.tag_lists = tags;
	fo.policy.ntag_lists = ntags;
	fo.specs = (const char *const *)argv + optind + 1;
	fo.nspecs = (size_t)(argc - optind - 1);
	if (fo.nspecs == 0 && forget_policy_empty(&fo.policy)) {
		warn0("no policy: give --keep-* rules, or the snapshots to forget (nothing was removed)");
		goto usage_err;
	}
	if (fo.policy.tz && forget_tz_check(fo.policy.tz) != IMDR_OK) {
		warn0("--tz: %s", err_msg(IMDR_EINVAL));
		goto usage_err;
	}
	rc = cli_open_repo(argv[optind], passfile, &r);
	if (rc) {
		free(tags);
		return cli_fail(rc);
	}
	cli_events_bind(&fo.ev, &ce);
	ce.pg = progress_start("forget", force_pg, ce.quiet);
	rc = forget_run(r, &fo, &res);
	progress_stop(ce.pg);
	if (res.ngroups || res.n) {
		if (json)
			print_json(&fo, &res);
		else
			print_text(&fo, &res, ce.quiet);
	}
	refused = res.refused;
	if (rc)
		cli_fail(rc);
	else if (refused)
		warn0("%zu named snapshot%s kept by legal holds", refused,
		    refused == 1 ? " was" : "s were");
	forget_result_free(&res);
	repo_free(r);
	free(tags);
	return rc || refused ? 1 : 0;
usage_err:
	usage(stderr);
	free(tags);
	return 2;
}
