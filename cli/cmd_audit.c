/* imdr audit — the repository's audit log, one line a record, every record
 * authenticated and every link verified (engine/trail.c); --checkpoint
 * writes a checkpoint record and prints its digest. */
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cli/common.h"
#include "cli/progress.h"
#include "engine/trail.h"
#include "lib/err.h"
#include "lib/log.h"
#include "lib/timefmt.h"

static void
usage(FILE *f)
{
	fprintf(f,
"usage: imdr audit REPO [--since TIME] [--command C] [--json]\n"
"       imdr audit REPO --checkpoint [--force] [--json]\n"
"\n"
"Print the repository's audit log, oldest first, one record a line: time\n"
"(UTC), record id, user@host, command, what it acted on, and its result.\n"
"Every command that changes the repository or reveals its content records\n"
"one (init, backup, restore, cat, mount, key add/remove, and forget, prune,\n"
"holds, copy and exports where present). Each record is sealed and named by\n"
"the SHA-256 of its content, and names the records before it: every record\n"
"shown is authenticated and its id checked, and every record a later one\n"
"names must be present. Problems are printed naming the object; exit\n"
"status 1 if any.\n"
"\n"
"--checkpoint verifies the whole log, then writes a checkpoint record that\n"
"commits to every snapshot and every record there now, and prints its\n"
"digest. Keep the digest where the repository's writers cannot change it;\n"
"`imdr check REPO --since-checkpoint DIGEST` later proves that nothing it\n"
"knew was deleted, altered or rolled back since.\n"
"\n"
"options:\n"
"  --since TIME        records from TIME on (e.g. 2026-11-01; UTC unless a zone\n"
"                      is given); only the log's month folders from then are read\n"
"  --command C         show only C's records (backup, restore, cat, ...)\n"
"  --checkpoint        write a checkpoint and print its digest\n"
"  --force             with --checkpoint: write one even when the log has problems\n"
"  --json              the records (or the checkpoint) as JSON\n"
"  --password-file F   read the passphrase from F\n"
"  --progress          show progress even when stderr is not a terminal\n");
}

/* put_safe: s with control characters shown as '?', so that text from an
 * export cannot drive the terminal. */
static void
put_safe(const char *s, size_t max)
{
	size_t n = 0;

	for (const unsigned char *p = (const unsigned char *)s; *p; p++, n++) {
		if (n == max) {
			fputs("…", stdout);
			return;
		}
		putchar(*p < 0x20 || *p == 0x7f ? '?' : *p);
	}
}

static int
is_id(const char *s)
{
	return strlen(s) == 64 && strspn(s, "0123456789abcdef") == 64;
}

/* put_value: a scope value, short: ids by their first 8 digits, lists of
 * more than three by their length. */
static void
put_value(json_t *v)
{
	if (json_is_string(v)) {
		const char *s = json_string_value(v);

		if (is_id(s))
			printf("%.8s", s);
		else if (strpbrk(s, " \t") || !*s) {
			putchar('"');
			put_safe(s, 80);
			putchar('"');
		} else {
			put_safe(s, 80);
		}
	} else if (json_is_integer(v)) {
		printf("%lld", (long long)json_integer_value(v));
	} else if (json_is_array(v)) {
		size_t n = json_array_size(v), i;
		json_t *e;

		json_array_foreach(v, i, e)
			if (json_is_string(e) && !is_id(json_string_value(e)) &&
			    strlen(json_string_value(e)) > 24)
				n = SIZE_MAX;
		if (n > 3) {
			printf("(%zu)", json_array_size(v));
			return;
		}
		putchar('[');
		json_array_foreach(v, i, e) {
			if (i)
				putchar(',');
			put_value(e);
		}
		putchar(']');
	} else if (json_is_object(v)) {
		fputs("{…}", stdout);
	} else if (json_is_true(v)) {
		fputs("true", stdout);
	} else if (json_is_false(v)) {
		fputs("false", stdout);
	} else {
		fputs("null", stdout);
	}
}

struct show {
	int json;
	uint64_t n;
};

static void
show_line(const struct audit_record *a)
{
	json_error_t jerr;
	json_t *scope = json_loads(a->scope_json, 0, &jerr), *v;
	const char *k;
	char when[40];

	time_format(a->time_ns, 0, when);
	printf("%s  %.8s  ", when, a->id);
	put_safe(a->user, 40);
	putchar('@');
	put_safe(a->host, 40);
	printf("  %-10s ", a->command);
	json_object_foreach(scope, k, v) {
		if ((json_is_array(v) && json_array_size(v) == 0) ||
		    (json_is_string(v) && !*json_string_value(v)))
			continue;
		put_safe(k, 40);
		putchar('=');
		put_value(v);
		putchar(' ');
	}
	json_decref(scope);
	if (strcmp(a->result, "ok") == 0) {
		fputs(" ok\n", stdout);
	} else {
		fputs(" FAILED: ", stdout);
		put_safe(a->result, 300);
		putchar('\n');
	}
}

static void
show_json(const struct audit_record *a, int first)
{
	json_error_t jerr;
	json_t *j, *parents = json_array();
	char when[40];
	char *out;

	for (size_t i = 0; i < a->nparents; i++)
		json_array_append_new(parents, json_string(a->parents[i]));
	time_format(a->time_ns, 9, when);
	j = json_pack("{s:s, s:s, s:s, s:I, s:s, s:s, s:s, s:I, s:o, s:s, s:o}",
	    "id", a->id, "name", a->name, "time", when, "time_ns", (json_int_t)a->time_ns,
	    "command", a->command, "user", a->user, "host", a->host, "pid", (json_int_t)a->pid,
	    "scope", json_loads(a->scope_json, 0, &jerr), "result", a->result,
	    "parents", parents);
	out = j ? json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	printf("%s%s", first ? "[\n" : ",\n", out ? out : "null");
	free(out);
	json_decref(j);
}

static int
show(void *ctx, const struct audit_record *a)
{
	struct show *s = ctx;

	if (s->json)
		show_json(a, s->n == 0);
	else
		show_line(a);
	s->n++;
	return 0;
}

static int
checkpoint(struct repo *r, int force, int json, struct cli_events *ce, int force_pg)
{
	struct trail_checkpoint_opts o;
	struct trail_checkpoint_result res;
	char when[40];
	int rc;

	memset(&o, 0, sizeof(o));
	o.force = force;
	cli_events_bind(&o.ev, ce);
	ce->pg = progress_start("audit --checkpoint", force_pg, ce->quiet);
	rc = trail_checkpoint(r, &o, &res);
	progress_stop(ce->pg);
	if (rc)
		return cli_fail(rc);
	time_format(res.time_ns, 0, when);
	if (json) {
		printf("{\"digest\":\"%s\",\"time\":\"%s\",\"snapshots\":%llu,\"records\":%llu,"
		    "\"heads\":%llu,\"problems\":%llu}\n", res.digest, when,
		    (unsigned long long)res.snapshots, (unsigned long long)res.records,
		    (unsigned long long)res.heads, (unsigned long long)res.errors);
	} else {
		printf("checkpoint of %s: %llu snapshots, %llu audit records before it%s\n", when,
		    (unsigned long long)res.snapshots, (unsigned long long)res.records,
		    res.errors ? " (with the problems above)" : ", every one verified");
		printf("%s\n", res.digest);
		printf("Keep this digest where the repository's writers cannot change it; later,\n"
		    "`imdr check REPO --since-checkpoint DIGEST` proves nothing it knew was lost.\n");
	}
	return 0;
}

int
cmd_audit(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "password-file", required_argument, NULL, 'p' },
		{ "since", required_argument, NULL, 's' },
		{ "command", required_argument, NULL, 'c' },
		{ "checkpoint", no_argument, NULL, 'C' },
		{ "force", no_argument, NULL, 'f' },
		{ "json", no_argument, NULL, 'j' },
		{ "progress", no_argument, NULL, 'P' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct trail_opts to;
	struct trail_result res;
	struct cli_events ce = { NULL, 0, 0, 0 };
	struct show sh = { 0, 0 };
	struct repo *r = NULL;
	const char *passfile = NULL;
	int c, rc, cp = 0, force = 0, force_pg = 0;

	memset(&to, 0, sizeof(to));
	optind = 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'p': passfile = optarg; break;
		case 's':
			if (time_parse(optarg, &to.since, NULL) != 0) {
				warn0("--since %s: not a time (try 2026-11-01 or 2026-11-24T10:00Z)", optarg);
				return 2;
			}
			break;
		case 'c':
			if (!*optarg || strlen(optarg) > AUDIT_COMMAND_MAX ||
			    strspn(optarg, "abcdefghijklmnopqrstuvwxyz-") != strlen(optarg)) {
				warn0("--command %s: not a command's name (backup, restore, cat, ...)", optarg);
				return 2;
			}
			to.command = optarg;
			break;
		case 'C': cp = 1; break;
		case 'f': force = 1; break;
		case 'j': sh.json = 1; break;
		case 'P': force_pg = 1; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (argc - optind != 1 || (force && !cp) || (cp && (to.since || to.command))) {
		usage(stderr);
		return 2;
	}
	rc = cli_open_repo(argv[optind], passfile, &r);
	if (rc)
		return cli_fail(rc);
	if (cp) {
		rc = checkpoint(r, force, sh.json, &ce, force_pg);
		repo_free(r);
		return rc;
	}
	cli_events_bind(&to.ev, &ce);
	to.ev.total = NULL;	/* lines go to stdout as they come: no progress line */
	to.ev.advance = NULL;
	rc = trail_read(r, &to, show, &sh, &res);
	if (sh.json)
		printf("%s]\n", sh.n ? "\n" : "[");
	repo_free(r);
	if (rc)
		return cli_fail(rc);
	if (!sh.json) {
		printf("%llu record%s shown; %llu read from %s on, %llu authenticated",
		    (unsigned long long)res.shown, res.shown == 1 ? "" : "s",
		    (unsigned long long)res.records, to.since ? "the time given" : "the start",
		    (unsigned long long)res.verified);
		if (res.errors)
			printf("; %llu problem%s (above)\n", (unsigned long long)res.errors,
			    res.errors == 1 ? "" : "s");
		else if (res.heads > 1)
			printf(", every link present; %llu heads (writers at once: the next record joins them)\n",
			    (unsigned long long)res.heads);
		else
			printf(", every link present%s\n", res.heads ? "; 1 head" : "");
	}
	(void)force_pg;
	return res.errors ? 1 : 0;
}
