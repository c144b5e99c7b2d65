/* imdr search — parse, call search_run (search/search.h), print the hits
 * as lines or JSON. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/common.h"
#include "cli/progress.h"
#include "lib/buf.h"
#include "lib/err.h"
#include "lib/timefmt.h"
#include "search/search.h"

static void
usage(FILE *f)
{
	fprintf(f,
"usage: imdr search REPO QUERY [--source NAME] [--snapshot SNAPSHOT | --all]\n"
"                   [--json] [--limit N] [--stats] [--no-cache] [--password-file F]\n"
"\n"
"Find messages in the chat snapshots (Slack, Mattermost, canonical) of REPO,\n"
"through the message index every backup stores with its snapshot. Without\n"
"--snapshot or --all, the newest snapshot of each source is searched.\n"
"\n"
"QUERY (quote it for the shell; every part must match):\n"
"  word  \"a phrase\"  prefix*   in the text or an attachment's name; case and\n"
"                              accents do not matter (cafe finds Café)\n"
"  from:WHO                    author: id, user name, e-mail, real name or one\n"
"                              word of it (from:ann finds \"Ann Lee\")\n"
"  in:WHERE                    conversation: name (slug), id or folder\n"
"  after:TIME  before:TIME     ts >= after, ts < before; 2026-03-01 means the\n"
"                              start of that day (UTC unless a zone is given)\n"
"  has:attachment              messages with attachments\n"
"  filename:NAME               an attachment whose name contains NAME (* and ?\n"
"                              match as in the shell); values may be quoted\n"
"  from: and in: may repeat (any of them); example:\n"
"    imdr search REPO 'from:alice \"wire transfer\" after:2026-03-01 before:2026-04-01'\n"
"\n"
"options:\n"
"  --source NAME       only that source's snapshots\n"
"  --snapshot SNAP     search this snapshot (id prefix, `latest`, time)\n"
"  --all               every snapshot: each message once, with the first and\n"
"                      last snapshot holding it and whether it was later\n"
"                      edited or deleted (by the newest snapshot)\n"
"  --json              one JSON array: source, snapshot, conversation, id, ts,\n"
"                      user, snippet ([ ] around matches), mount_path, ...\n"
"  --limit N           print at most N hits (the count says how many matched)\n"
"  --stats             on stderr: time to open the repository (the passphrase's\n"
"                      key derivation, or the cached key) and to search,\n"
"                      segments, index pieces and bytes read\n"
"  --no-cache          from a cloud repository, fetch the index anew rather\n"
"                      than keep its segments (sealed, as stored) in\n"
"                      ~/.cache/imdr/<repository>/index (at most 1 GiB) for the\n"
"                      next search\n"
"  --password-file F   read the passphrase from F\n"
"\n"
"Searching again and again: `imdr --key-cache 15m search ...` (or\n"
"IMDR_KEY_CACHE=15m) keeps the unlocked key in the session's kernel keyring, so\n"
"the next searches skip the passphrase and its key derivation (imdr(1)).\n"
"\n"
"A hit's mount path is where mount.imdr shows its conversation. Snapshots made\n"
"before imdr indexed messages are searched by reading their messages.jsonl\n"
"(a warning says so).\n");
}

static const char *const status_names[] = { "present", "edited", "deleted" };

/* snippet: markers \001 \002 as bold on a terminal, else [ ] */
static void
print_snippet(FILE *f, const char *s, int tty)
{
	for (; *s; s++) {
		if (*s == '\001')
			fputs(tty ? "\033[1m" : "[", f);
		else if (*s == '\002')
			fputs(tty ? "\033[0m" : "]", f);
		else if (*s == '\n' || *s == '\r' || *s == '\t')
			fputc(' ', f);
		else
			fputc(*s, f);
	}
}

static char *
marked(const char *s)
{
	char *o = xstrdup(s);

	for (char *p = o; *p; p++)
		if (*p == '\001')
			*p = '[';
		else if (*p == '\002')
			*p = ']';
	return o;
}

static void
print_json(const struct search_result *res, size_t limit, int all)
{
	printf("[");
	for (size_t i = 0; i < res->n && i < limit; i++) {
		const struct search_hit *h = &res->hits[i];
		char t[40], *sn = marked(h->snippet);
		const char *f = h->files;

		printf("%s\n{\"source\":", i ? "," : "");
		json_print_string(stdout, h->source);
		time_format(h->snapshot_ns, 0, t);
		printf(",\"snapshot\":\"%s\",\"snapshot_time\":\"%s\",\"conversation\":", h->snapshot, t);
		json_print_string(stdout, h->conversation);
		printf(",\"conversation_id\":");
		json_print_string(stdout, h->conv_key);
		printf(",\"id\":");
		json_print_string(stdout, h->id);
		time_format(h->ts_ms * 1000000, 3, t);
		printf(",\"ts\":\"%s\",\"user\":", t);
		json_print_string(stdout, h->user);
		printf(",\"user_name\":");
		if (h->user_name)
			json_print_string(stdout, h->user_name);
		else
			printf("null");
		printf(",\"snippet\":");
		json_print_string(stdout, sn);
		if (h->thread) {
			printf(",\"thread\":");
			json_print_string(stdout, h->thread);
		}
		printf(",\"attachments\":[");
		for (int k = 0; *f; k++) {
			const char *nl = strchr(f, '\n');
			size_t n = nl ? (size_t)(nl - f) : strlen(f);
			char *name = xstrndup(f, n);

			printf("%s", k ? "," : "");
			json_print_string(stdout, name);
			free(name);
			f += n + (nl != NULL);
		}
		printf("],\"edited\":%s,\"deleted\":%s,\"mount_path\":",
		    h->edited_in_export ? "true" : "false", h->deleted_in_export ? "true" : "false");
		json_print_string(stdout, h->mount_path);
		if (all) {
			char a[40], b[40];

			time_format(h->first_seen_ns, 0, a);
			time_format(h->last_seen_ns, 0, b);
			printf(",\"first_seen\":{\"snapshot\":\"%s\",\"time\":\"%s\"},"
			    "\"last_seen\":{\"snapshot\":\"%s\",\"time\":\"%s\"},"
			    "\"status\":\"%s\",\"versions\":%d",
			    h->first_seen, a, h->last_seen, b, status_names[h->status], h->versions);
		}
		printf("}");
		free(sn);
	}
	printf("%s]\n", res->n && limit ? "\n" : "");
}

static void
print_text(const struct search_result *res, size_t limit, int all)
{
	int tty = isatty(STDOUT_FILENO);
	const char *source = NULL;

	for (size_t i = 0; i < res->n && i < limit; i++) {
		const struct search_hit *h = &res->hits[i];
		char t[40];

		if (source == NULL || strcmp(source, h->source) != 0) {
			char st[40];

			source = h->source;
			time_format(h->snapshot_ns, 0, st);
			if (all)
				printf("%s== %s\n", i ? "\n" : "", source);
			else
				printf("%s== %s, snapshot %.8s (%s)\n", i ? "\n" : "", source, h->snapshot, st);
		}
		time_format(h->ts_ms * 1000000, 0, t);
		printf("%s  %s  %s: ", t, h->conversation, h->user_name ? h->user_name : h->user);
		print_snippet(stdout, h->snippet, tty);
		if (h->files[0])
			printf("  [attachment]");
		if (h->deleted_in_export)
			printf("  (deleted in the export)");
		putchar('\n');
		if (all) {
			char a[40], b[40];

			time_format(h->first_seen_ns, 0, a);
			time_format(h->last_seen_ns, 0, b);
			printf("    seen %s (%.8s) .. %s (%.8s)%s%s\n", a, h->first_seen, b, h->last_seen,
			    h->status == SEARCH_EDITED ? "; edited later" :
			    h->status == SEARCH_DELETED ? "; deleted later" : "",
			    h->versions > 1 ? "; several versions matched" : "");
		}
		printf("    %s\n", h->mount_path);
	}
}

int
cmd_search(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "password-file", required_argument, NULL, 'p' },
		{ "source", required_argument, NULL, 'S' },
		{ "snapshot", required_argument, NULL, 's' },
		{ "all", no_argument, NULL, 'a' },
		{ "json", no_argument, NULL, 'j' },
		{ "limit", required_argument, NULL, 'l' },
		{ "stats", no_argument, NULL, 'T' },
		{ "no-cache", no_argument, NULL, 'C' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct search_opts so;
	struct search_result res;
	struct cli_events ce = { NULL, 0, 0, 0 };
	struct repo *r = NULL;
	const char *passfile = NULL;
	size_t limit = (size_t)-1;
	int c, rc, json = 0, stats = 0, no_cache = 0;
	int64_t t0, t1 = 0, t2 = 0;
	char *cache_dir = NULL;

	memset(&so, 0, sizeof(so));
	/* a search is short and reads many blobs, each a buffer or two of
	 * 16-256 KiB: kept in the heap rather than mapped and unmapped one by
	 * one (each a round of page faults: a fifth of a warm search's time);
	 * its memory is bounded by the index cache and the segments' slots */
	mem_tune_stream();
	optind = 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'p': passfile = optarg; break;
		case 'S': so.source = optarg; break;
		case 's': so.snapshot = optarg; break;
		case 'a': so.all = 1; break;
		case 'j': json = 1; break;
		case 'T': stats = 1; break;
		case 'C': no_cache = 1; break;
		case 'l': {
			char *end;
			unsigned long long v = strtoull(optarg, &end, 10);

			if (*optarg == '\0' || *end != '\0') {
				fprintf(stderr, "imdr search: --limit %s: not a number\n", optarg);
				return 2;
			}
			limit = (size_t)v;
			break;
		}
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (argc - optind != 2) {
		usage(stderr);
		return 2;
	}
	if (so.all && so.snapshot) {
		fprintf(stderr, "imdr search: --all and --snapshot exclude each other\n");
		return 2;
	}
	so.query = argv[optind + 1];
	t0 = time_mono_ns();
	rc = cli_open_repo(argv[optind], passfile, &r);
	if (rc)
		return cli_fail(rc);
	t1 = time_mono_ns();
	{
		struct repo_traits tr;

		repo_traits(r, &tr);
		if (tr.remote && !no_cache) {
			/* beside the files cache: sealed segments of this
			 * repository, for the next search */
			const char *x = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");

			cache_dir = x && *x ? xasprintf("%s/imdr/%s/index", x, repo_config(r)->id) :
			    xasprintf("%s/.cache/imdr/%s/index", home && *home ? home : "/tmp",
			    repo_config(r)->id);
			so.cache_dir = cache_dir;
		}
	}
	{
		struct engine_events ev;

		cli_catch_signals();
		cli_events_bind(&ev, &ce);
		so.ev = (struct search_events){ ev.warn, ev.ctx, ev.cancel };
	}
	rc = search_run(r, &so, &res);
	t2 = time_mono_ns();
	if (rc == IMDR_OK && stats) {
		struct repo_io_stats io;

		repo_io_stats(r, &io);
		fprintf(stderr, "search stats: open %.1f ms (the key %s), search %.1f ms, %zu hits,"
		    " %llu snapshots, %llu segments, %llu index pieces, %llu requests, %llu bytes read\n",
		    (double)(t1 - t0) / 1e6, cli_unlock_info.key_cached ? "from the kernel keyring" :
		    "derived from the passphrase", (double)(t2 - t1) / 1e6, res.n,
		    (unsigned long long)res.snapshots, (unsigned long long)res.segments,
		    (unsigned long long)res.pieces, (unsigned long long)(io.gets + io.lists),
		    (unsigned long long)io.bytes_in);
	}
	if (rc == IMDR_OK) {
		if (json)
			print_json(&res, limit, so.all);
		else {
			print_text(&res, limit, so.all);
			printf("%s%zu %s in %llu snapshot%s%s\n", res.n && limit ? "\n" : "", res.n,
			    so.all ? (res.n == 1 ? "message" : "messages") : (res.n == 1 ? "hit" : "hits"),
			    (unsigned long long)res.snapshots, res.snapshots == 1 ? "" : "s",
			    res.n > limit ? " (--limit: not all printed)" : "");
		}
		search_result_free(&res);
	}
	repo_free(r);
	free(cache_dir);
	return rc ? cli_fail(rc) : 0;
}
