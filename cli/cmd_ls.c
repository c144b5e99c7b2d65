/* imdr ls / imdr cat — look into a snapshot without mounting it. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "catalog/catalog.h"
#include "cli/common.h"
#include "engine/trail.h"
#include "lib/err.h"
#include "lib/fsutil.h"
#include "lib/log.h"
#include "lib/text.h"
#include "lib/timefmt.h"
#include "repo/snapshot.h"

struct ls_ctx {
	int json, first;
	size_t depth_base;
};

static const char *
type_name(uint8_t t)
{
	return t == CAT_DIR ? "dir" : t == CAT_SYMLINK ? "symlink" : "file";
}

static void
print_entry(struct ls_ctx *c, const char *path, const struct cat_entry *e)
{
	char mode[11], when[40];

	time_format(e->mtime_ns, 0, when);
	if (c->json) {
		printf("%s{\"path\":", c->first ? "" : ",\n");
		json_print_string(stdout, path);
		json_print_b64(stdout, "path", path);
		printf(",\"type\":\"%s\",\"mode\":\"%04o\",\"size\":%llu,\"mtime\":", type_name(e->type),
		    e->mode, (unsigned long long)e->size);
		time_format(e->mtime_ns, 9, when);
		json_print_string(stdout, when);
		if (e->type == CAT_SYMLINK) {
			printf(",\"target\":");
			json_print_string(stdout, e->target);
			json_print_b64(stdout, "target", e->target);
		}
		printf("}");
		c->first = 0;
		return;
	}
	/* names come from exports: escaped, so one can neither drive the
	 * terminal nor pass for another line */
	fmt_mode(e->type, e->mode, mode);
	printf("%s %12llu %s ", mode, (unsigned long long)e->size, when);
	text_fputs_term(stdout, path);
	if (e->type == CAT_SYMLINK) {
		fputs(" -> ", stdout);
		text_fputs_term(stdout, e->target);
	}
	putchar('\n');
}

static int
ls_walk(void *ctx, const char *path, const struct cat_node *node,
    const struct cat_entry *e)
{
	(void)node;
	print_entry(ctx, path, e);
	return 0;
}

static int
ls_flat(void *ctx, const char *path, const struct cat_node *node,
    const struct cat_entry *e)
{
	(void)node;
	print_entry(ctx, path, e);
	return e->type == CAT_DIR ? CAT_WALK_SKIP : 0;
}

static void
usage_ls(FILE *f)
{
	fprintf(f,
"usage: imdr ls REPO SNAPSHOT [PATH] [-R] [--json] [--source NAME]\n"
"\n"
"List PATH (default: the top) in SNAPSHOT (an id prefix, `latest`, or a time)\n"
"like ls -l: mode, exact size in bytes, mtime (UTC), path. -R lists everything\n"
"below PATH. --source NAME: `latest` and times mean that source's snapshots.\n");
}

static int
open_snapshot(const char *url, const char *passfile, const char *source,
    const char *spec, struct repo **ret_r, struct snapshot **ret_s)
{
	int rc = cli_open_repo(url, passfile, ret_r);

	if (rc)
		return rc;
	return snapshot_resolve(*ret_r, source, spec, ret_s);
}

static const char *
trim_path(const char *p)
{
	while (*p == '/')
		p++;
	return p;
}

int
cmd_ls(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "password-file", required_argument, NULL, 'p' },
		{ "json", no_argument, NULL, 'j' },
		{ "recursive", no_argument, NULL, 'R' },
		{ "source", required_argument, NULL, 's' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *passfile = NULL, *path = "", *source = NULL;
	struct ls_ctx c = { 0, 1, 0 };
	struct snapshot *s = NULL;
	struct cat_node *node = NULL;
	const struct cat_entry *e = NULL;
	struct repo *r = NULL;
	int ch, rc, recursive = 0;
	char *clean = NULL;

	optind = 1;
	while ((ch = getopt_long(argc, argv, "hR", opts, NULL)) != -1) {
		switch (ch) {
		case 'p': passfile = optarg; break;
		case 'j': c.json = 1; break;
		case 'R': recursive = 1; break;
		case 's': source = optarg; break;
		case 'h': usage_ls(stdout); return 0;
		default: usage_ls(stderr); return 2;
		}
	}
	if (argc - optind < 2 || argc - optind > 3) {
		usage_ls(stderr);
		return 2;
	}
	if (argc - optind == 3)
		path = trim_path(argv[optind + 2]);
	clean = xstrdup(path);
	while (*clean && clean[strlen(clean) - 1] == '/')
		clean[strlen(clean) - 1] = '\0';
	rc = open_snapshot(argv[optind], passfile, source, argv[optind + 1], &r, &s);
	if (rc)
		goto out;
	rc = cat_resolve(r, &s->root, clean, &node, &e);
	if (rc)
		goto out;
	if (c.json)
		printf("[");
	if (e != NULL && e->type != CAT_DIR) {
		print_entry(&c, clean, e);
	} else {
		const struct blob_ref *dir = e ? &e->subtree : &s->root;

		rc = cat_walk(r, dir, clean, recursive ? ls_walk : ls_flat, &c);
	}
	if (c.json)
		printf("]\n");
out:
	cat_node_free(node);
	snapshot_free(s);
	repo_free(r);
	free(clean);
	return rc ? cli_fail(rc) : 0;
}

int
cmd_cat(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "password-file", required_argument, NULL, 'p' },
		{ "source", required_argument, NULL, 's' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *passfile = NULL, *source = NULL;
	struct snapshot *s = NULL;
	struct cat_node *node = NULL;
	const struct cat_entry *e = NULL;
	struct repo *r = NULL;
	struct buf b = BUF_INIT;
	uint64_t written = 0;
	int ch, rc, status = 0;

	optind = 1;
	while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (ch) {
		case 'p': passfile = optarg; break;
		case 's': source = optarg; break;
		case 'h':
			printf("usage: imdr cat REPO SNAPSHOT PATH [--source NAME]\n\n"
			    "Write the file at PATH in SNAPSHOT to standard output. The repository's\n"
			    "audit log records it (who, snapshot, path, bytes); exit status 3 when that\n"
			    "record cannot be written (the file was written all the same).\n");
			return 0;
		default: return 2;
		}
	}
	if (argc - optind != 3) {
		fprintf(stderr, "usage: imdr cat REPO SNAPSHOT PATH\n");
		return 2;
	}
	rc = open_snapshot(argv[optind], passfile, source, argv[optind + 1], &r, &s);
	if (rc)
		goto out;
	rc = cat_resolve(r, &s->root, trim_path(argv[optind + 2]), &node, &e);
	if (rc)
		goto out;
	if (e == NULL || e->type == CAT_DIR) {
		rc = err_set(IMDR_EINVAL, "%s is a directory", argv[optind + 2]);
		goto out;
	}
	if (e->type == CAT_SYMLINK) {
		rc = err_set(IMDR_EINVAL, "%s is a symlink to %s", argv[optind + 2], e->target);
		goto out;
	}
	for (uint32_t i = 0; i < e->nchunks; i++) {
		struct blob_ref ref;
		uint64_t off;

		cat_chunk(node, e, i, &ref, &off);
		rc = repo_blob_read(r, BLOB_DATA, &ref, &b);
		if (rc)
			break;
		if (write_full(1, b.data, b.len) < 0) {
			rc = err_set(IMDR_EIO, "cannot write to standard output: %s", strerror(errno));
			break;
		}
		written += b.len;
	}
	/* content went out (or began to): the audit log hears of it */
	{
		json_t *scope = json_object();
		char *t = audit_text(argv[optind + 2]);

		trail_scope_snapshot(scope, s);
		json_object_set_new(scope, "path", json_string(t));
		json_object_set_new(scope, "bytes", json_integer((json_int_t)written));
		free(t);
		status = cli_record(r, "cat", scope, rc);
	}
out:
	buf_free(&b);
	cat_node_free(node);
	snapshot_free(s);
	repo_free(r);
	return rc ? cli_fail(rc) : status;
}
