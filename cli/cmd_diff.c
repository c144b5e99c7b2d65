/* imdr diff — parse, call diff_run (engine/diff.h), print what changed
 * between two snapshots, as lines or JSON. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/common.h"
#include "cli/progress.h"
#include "engine/diff.h"
#include "lib/err.h"
#include "lib/timefmt.h"

#define TEXT_MSGS_SHOWN 20	/* per list and conversation, in text output */

static void
usage(FILE *f)
{
	fprintf(f,
"usage: imdr diff REPO SNAPSHOT1 SNAPSHOT2 [--source NAME] [--json] [--files-only]\n"
"                 [--password-file F]\n"
"\n"
"What changed from SNAPSHOT1 to SNAPSHOT2 (ids, `latest`, or times such as\n"
"2026-11-23: the newest snapshot at or before it): files added (+), removed (-)\n"
"and changed (M: content, mode or mtime), in path order; then, for chat\n"
"snapshots, per conversation the messages that are new, edited (their text\n"
"changed) or deleted (gone, or marked deleted by the export), compared by\n"
"message id. A conversation renamed between the two is one conversation.\n"
"Folders equal in both snapshots are not read: the cost follows the change.\n"
"\n"
"options:\n"
"  --source NAME       SNAPSHOT1 and SNAPSHOT2 mean that source's snapshots\n"
"  --json              one JSON object: files, conversations, counts\n"
"  --files-only        no message-level comparison\n"
"  --password-file F   read the passphrase from F\n");
}

struct out {
	int json;
	int nfiles, nconvs;
};

static void
text_line(const char *s)
{
	for (; *s; s++)
		putchar(*s == '\n' || *s == '\r' || *s == '\t' ? ' ' : *s);
}

static int
on_file(void *ctx, const struct diff_file *f)
{
	struct out *o = ctx;

	if (o->json) {
		printf("%s\n{\"path\":", o->nfiles++ ? "," : "");
		json_print_string(stdout, f->path);
		printf(",\"change\":\"%s\",\"type\":\"%s\"",
		    f->change == DIFF_ADDED ? "added" : f->change == DIFF_REMOVED ? "removed" : "changed",
		    f->is_dir ? "dir" : "file");
		if (f->change == DIFF_CHANGED)
			printf(",\"what\":[%s%s%s]", f->what & DIFF_CONTENT ? "\"content\"" : "",
			    (f->what & DIFF_MODE) ? (f->what & DIFF_CONTENT ? ",\"mode\"" : "\"mode\"") : "",
			    (f->what & DIFF_MTIME) ? (f->what & (DIFF_CONTENT | DIFF_MODE) ? ",\"mtime\"" :
			    "\"mtime\"") : "");
		if (f->change != DIFF_ADDED)
			printf(",\"size_before\":%llu", (unsigned long long)f->size_before);
		if (f->change != DIFF_REMOVED)
			printf(",\"size_after\":%llu", (unsigned long long)f->size_after);
		printf("}");
	} else {
		printf("%c %s%s", f->change, f->path, f->is_dir ? "/" : "");
		if (f->change == DIFF_CHANGED && !(f->what & DIFF_CONTENT))
			printf("  (%s%s%s only)", f->what & DIFF_MODE ? "mode" : "",
			    (f->what & DIFF_MODE) && (f->what & DIFF_MTIME) ? ", " : "",
			    f->what & DIFF_MTIME ? "mtime" : "");
		putchar('\n');
	}
	return 0;
}

static void
json_msgs(const char *name, const struct diff_msg *m, size_t n)
{
	printf(",\"%s\":[", name);
	for (size_t i = 0; i < n; i++) {
		char t[40];

		time_format(m[i].ts_ms * 1000000, 3, t);
		printf("%s{\"id\":", i ? "," : "");
		json_print_string(stdout, m[i].id);
		printf(",\"ts\":\"%s\",\"user\":", t);
		json_print_string(stdout, m[i].user);
		printf(",\"user_name\":");
		if (m[i].user_name)
			json_print_string(stdout, m[i].user_name);
		else
			printf("null");
		if (m[i].before) {
			printf(",\"before\":");
			json_print_string(stdout, m[i].before);
			printf(",\"after\":");
		} else {
			printf(",\"text\":");
		}
		json_print_string(stdout, m[i].text);
		printf("}");
	}
	printf("]");
}

static void
text_msgs(char mark, const struct diff_msg *m, size_t n)
{
	for (size_t i = 0; i < n && i < TEXT_MSGS_SHOWN; i++) {
		char t[40];

		time_format(m[i].ts_ms * 1000000, 0, t);
		printf("  %c %s %s: ", mark, t, m[i].user_name ? m[i].user_name : m[i].user);
		if (m[i].before) {
			text_line(m[i].before);
			printf("  ->  ");
		}
		text_line(m[i].text);
		putchar('\n');
	}
	if (n > TEXT_MSGS_SHOWN)
		printf("  %c ... and %zu more (--json lists all)\n", mark, n - TEXT_MSGS_SHOWN);
}

static int
on_conv(void *ctx, const struct diff_conv *c)
{
	struct out *o = ctx;

	if (o->json) {
		if (o->nconvs++ == 0)
			printf("%s],\"conversations\":[", o->nfiles ? "\n" : "");
		else
			putchar(',');
		printf("\n{\"conversation\":");
		json_print_string(stdout, c->conversation);
		if (c->before) {
			printf(",\"renamed_from\":");
			json_print_string(stdout, c->before);
		}
		printf(",\"added\":%s,\"removed\":%s", c->added ? "true" : "false",
		    c->removed ? "true" : "false");
		json_msgs("new", c->new_msgs, c->nnew);
		json_msgs("edited", c->edited, c->nedited);
		json_msgs("deleted", c->deleted, c->ndeleted);
		printf(",\"other\":%zu}", c->other);
		return 0;
	}
	if (o->nconvs++ == 0)
		putchar('\n');
	printf("conversations/%s%s%s%s: %zu new, %zu edited, %zu deleted", c->conversation,
	    c->before ? " (renamed from " : "", c->before ? c->before : "", c->before ? ")" : "",
	    c->nnew, c->nedited, c->ndeleted);
	if (c->other)
		printf(", %zu changed otherwise (reactions, files)", c->other);
	printf("%s\n", c->added ? " (new conversation)" : c->removed ? " (conversation gone)" : "");
	text_msgs('+', c->new_msgs, c->nnew);
	text_msgs('~', c->edited, c->nedited);
	text_msgs('-', c->deleted, c->ndeleted);
	return 0;
}

static void
json_snap(const char *name, const struct snapshot *s)
{
	char t[40];

	time_format(s->time_ns, 9, t);
	printf("\"%s\":{\"id\":\"%s\",\"time\":\"%s\",\"source\":", name, s->id, t);
	json_print_string(stdout, s->source);
	printf("}");
}

int
cmd_diff(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "password-file", required_argument, NULL, 'p' },
		{ "source", required_argument, NULL, 'S' },
		{ "json", no_argument, NULL, 'j' },
		{ "files-only", no_argument, NULL, 'F' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct diff_opts d;
	struct diff_result res;
	struct cli_events ce = { NULL, 0, 0, 0 };
	struct out out = { 0, 0, 0 };
	struct snapshot *a = NULL, *b = NULL;
	struct repo *r = NULL;
	const char *passfile = NULL, *source = NULL;
	int c, rc;

	memset(&d, 0, sizeof(d));
	optind = 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'p': passfile = optarg; break;
		case 'S': source = optarg; break;
		case 'j': out.json = 1; break;
		case 'F': d.no_messages = 1; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (argc - optind != 3) {
		usage(stderr);
		return 2;
	}
	rc = cli_open_repo(argv[optind], passfile, &r);
	if (rc == IMDR_OK)
		rc = snapshot_resolve(r, source, argv[optind + 1], &a);
	if (rc == IMDR_OK)
		rc = snapshot_resolve(r, source, argv[optind + 2], &b);
	if (rc)
		goto out;
	d.file = on_file;
	d.conversation = on_conv;
	d.ctx = &out;
	cli_catch_signals();
	cli_events_bind(&d.ev, &ce);
	if (out.json) {
		printf("{");
		json_snap("from", a);
		printf(",");
		json_snap("to", b);
		printf(",\"files\":[");
	} else {
		char ta[40], tb[40];

		time_format(a->time_ns, 0, ta);
		time_format(b->time_ns, 0, tb);
		printf("snapshot %.8s (%s) -> %.8s (%s)\n", a->id, ta, b->id, tb);
	}
	/* the engine reports conversations after every file: the first one
	 * closes the files' JSON array */
	rc = diff_run(r, a, b, &d, &res);
	if (rc)
		goto out;
	if (out.json) {
		if (out.nconvs == 0)
			printf("%s],\"conversations\":[", out.nfiles ? "\n" : "");
		printf("%s],\"counts\":{\"added\":%llu,\"removed\":%llu,\"changed\":%llu,"
		    "\"conversations\":%llu,\"messages_new\":%llu,\"messages_edited\":%llu,"
		    "\"messages_deleted\":%llu,\"messages_other\":%llu,\"nodes_read\":%llu,"
		    "\"folders_skipped\":%llu}}\n", out.nconvs ? "\n" : "",
		    (unsigned long long)res.added, (unsigned long long)res.removed,
		    (unsigned long long)res.changed, (unsigned long long)res.conversations,
		    (unsigned long long)res.msgs_new, (unsigned long long)res.msgs_edited,
		    (unsigned long long)res.msgs_deleted, (unsigned long long)res.msgs_other,
		    (unsigned long long)res.nodes_loaded, (unsigned long long)res.subtrees_skipped);
	} else {
		printf("\nfiles: %llu added, %llu removed, %llu changed\n",
		    (unsigned long long)res.added, (unsigned long long)res.removed,
		    (unsigned long long)res.changed);
		if (!d.no_messages)
			printf("messages: %llu new, %llu edited, %llu deleted in %llu conversation%s\n",
			    (unsigned long long)res.msgs_new, (unsigned long long)res.msgs_edited,
			    (unsigned long long)res.msgs_deleted, (unsigned long long)res.conversations,
			    res.conversations == 1 ? "" : "s");
	}
out:
	snapshot_free(a);
	snapshot_free(b);
	repo_free(r);
	return rc ? cli_fail(rc) : 0;
}
