/* imdr init — create a repository and its first key slot; imdr key — manage
 * key slots (list, add). */
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/common.h"
#include "cli/pass.h"
#include "engine/trail.h"
#include "lib/err.h"
#include "lib/log.h"
#include "repo/audit.h"
#include "repo/keycache.h"

static void
usage_init(FILE *f)
{
	fprintf(f,
"usage: imdr init REPO [options]\n"
"\n"
"Create an encrypted repository at REPO: a folder (/srv/imdr-repo or\n"
"file:///srv/imdr-repo), s3://bucket/prefix, or azure://account/container/prefix.\n"
"The passphrase is asked twice on the terminal, or read from --password-file F,\n"
"$IMDR_PASSWORD_FILE or the output of $IMDR_PASSWORD_COMMAND. It is never\n"
"stored: losing it loses the repository. The repository's audit log starts\n"
"with a record of its creation (imdr audit).\n"
"\n"
"With --replica-of SRC, REPO becomes a replica of the repository SRC: the\n"
"same repository id, key slots and chunker (its config and keys/ copied as\n"
"they are, after they authenticate), so that `multi:SRC|REPO` names both and\n"
"`imdr copy SRC REPO` fills it without decrypting or re-chunking anything.\n"
"The passphrase is SRC's (asked once). A REPO that already holds another\n"
"repository is refused; one that is already a replica of SRC is left as it is.\n"
"\n"
"options:\n"
"  --password-file F   read the passphrase from F\n"
"  --replica-of SRC    make REPO a replica of SRC (see above)\n"
"  --chunk-size N      average chunk size in bytes, a power of two (default 1048576)\n"
"  --json              print the result as JSON\n");
}

/* init_replica: url becomes a replica of src. The source's audit log
 * records it, and the new replica gets the whole log: replicas of one
 * repository hold one log. */
static int
init_replica(const char *url, const char *src_url, const char *passfile, int json)
{
	struct repo *src = NULL, *dst = NULL;
	char *scope = NULL;
	int rc, already = 0;

	rc = cli_open_repo(src_url, passfile, &src);
	if (rc)
		return cli_fail(rc);
	rc = repo_init_replica(src, url, &dst, &already);
	if (rc == IMDR_OK && !already) {
		json_t *j = json_pack("{s:s, s:s}", "replica_of", repo_url(src), "replica", repo_url(dst));

		scope = json_dumps(j, JSON_COMPACT);
		json_decref(j);
		rc = audit_append(src, &(struct audit_event){ "init", scope, "ok" }, NULL);
		if (rc == IMDR_EUNSUP) {	/* a read-only source (https) */
			err_clear();
			rc = audit_append(dst, &(struct audit_event){ "init", scope, "ok" }, NULL);
		} else if (rc == IMDR_OK)
			rc = audit_spread(src, dst, 0, NULL);
	}
	if (rc) {
		rc = cli_fail(rc);
		goto out;
	}
	if (json) {
		printf("{\"id\":\"%s\",\"url\":", repo_config(dst)->id);
		json_print_string(stdout, repo_url(dst));
		printf(",\"replica_of\":");
		json_print_string(stdout, repo_url(src));
		printf(",\"already\":%s}\n", already ? "true" : "false");
	} else if (already) {
		printf("%s is already a replica of repository %.8s\n", repo_url(dst),
		    repo_config(dst)->id);
	} else {
		printf("created replica of repository %.8s at %s\n", repo_config(dst)->id,
		    repo_url(dst));
		printf("fill it with: imdr copy %s %s\n", src_url, url);
	}
out:
	free(scope);
	repo_free(dst);
	repo_free(src);
	return rc;
}

int
cmd_init(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "password-file", required_argument, NULL, 'p' },
		{ "chunk-size", required_argument, NULL, 'c' },
		{ "replica-of", required_argument, NULL, 'R' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct repo_init_opts io;
	const char *passfile = NULL, *replica_of = NULL;
	struct repo *r = NULL;
	char *pass = NULL, *end;
	size_t plen = 0;
	int c, rc, json = 0, status;

	memset(&io, 0, sizeof(io));
	optind = 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'p': passfile = optarg; break;
		case 'c':
			io.chunk_avg = (uint32_t)strtoul(optarg, &end, 10);
			if (*end != '\0') {
				warn0("--chunk-size %s: not a number", optarg);
				return 2;
			}
			break;
		case 'R': replica_of = optarg; break;
		case 'j': json = 1; break;
		case 'h': usage_init(stdout); return 0;
		default: usage_init(stderr); return 2;
		}
	}
	if (argc - optind != 1) {
		usage_init(stderr);
		return 2;
	}
	if (replica_of) {
		if (io.chunk_avg) {
			warn0("--chunk-size and --replica-of exclude each other (a replica has its source's chunker)");
			return 2;
		}
		return init_replica(argv[optind], replica_of, passfile, json);
	}
	rc = pass_get(passfile, 1, &pass, &plen);
	if (rc == IMDR_OK)
		rc = repo_init(argv[optind], pass, plen, &io, &r);
	pass_free(pass, plen);
	if (rc)
		return cli_fail(rc);
	if (json)
		printf("{\"id\":\"%s\",\"url\":\"%s\",\"key\":\"%s\"}\n", repo_config(r)->id,
		    repo_url(r), repo_key_name(r));
	else
		printf("created imdr repository %.8s at %s\n", repo_config(r)->id,
		    repo_url(r));
	fflush(stdout);
	/* the audit log's first record */
	status = cli_record(r, "init", json_pack("{s:s, s:s, s:s}", "repository",
	    repo_config(r)->id, "url", repo_url(r), "key", repo_key_name(r) + 5), IMDR_OK);
	repo_free(r);
	return status;
}

static void
usage_key(FILE *f)
{
	fprintf(f,
"usage: imdr key list REPO\n"
"       imdr key add REPO --new-password-file F\n"
"       imdr key remove REPO KEYID\n"
"       imdr key forget [REPO]\n"
"\n"
"Key slots each wrap the repository's master key with one passphrase.\n"
"`add` asks for the new passphrase on the terminal unless --new-password-file\n"
"is given; `remove` refuses to remove the slot you opened the repository with\n"
"(and drops the key cached for the repository, if any).\n"
"`forget` drops the key that `imdr --key-cache DURATION` (or $IMDR_KEY_CACHE)\n"
"left in this session's kernel keyring for REPO, or for every repository; it\n"
"needs no passphrase.\n"
"Adding and removing a slot are recorded in the audit log (imdr audit); exit\n"
"status 3 when that record could not be written.\n");
}

int
cmd_key(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "password-file", required_argument, NULL, 'p' },
		{ "new-password-file", required_argument, NULL, 'n' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *passfile = NULL, *newfile = NULL, *verb;
	struct repo *r = NULL;
	int c, rc, status = 0;

	optind = 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'p': passfile = optarg; break;
		case 'n': newfile = optarg; break;
		case 'h': usage_key(stdout); return 0;
		default: usage_key(stderr); return 2;
		}
	}
	if (argc - optind < 1) {
		usage_key(stderr);
		return 2;
	}
	verb = argv[optind];
	if (strcmp(verb, "forget") == 0) {
		size_t n = 0;
		int dropped = 0;

		if (argc - optind > 2) {
			usage_key(stderr);
			return 2;
		}
		if (argc - optind == 2) {
			rc = repo_key_cache_drop(argv[optind + 1], &dropped);
			if (rc == IMDR_OK)
				printf(dropped ? "forgot the key cached for %s\n" :
				    "no key cached for %s\n", argv[optind + 1]);
		} else {
			rc = keycache_drop_all(&n);
			if (rc == IMDR_OK)
				printf("forgot %zu cached key%s\n", n, n == 1 ? "" : "s");
		}
		return rc ? cli_fail(rc) : 0;
	}
	if (argc - optind < 2) {
		usage_key(stderr);
		return 2;
	}
	rc = cli_open_repo(argv[optind + 1], passfile, &r);
	if (rc)
		return cli_fail(rc);
	if (strcmp(verb, "list") == 0) {
		char **names;
		size_t n;

		rc = repo_key_list(r, &names, &n);
		for (size_t i = 0; rc == IMDR_OK && i < n; i++) {
			printf("%s%s\n", names[i] + 5,
			    strcmp(names[i], repo_key_name(r)) == 0 ? "  (this one)" : "");
			free(names[i]);
		}
		if (rc == IMDR_OK)
			free(names);
	} else if (strcmp(verb, "add") == 0) {
		char *pass = NULL, name[64];
		size_t plen = 0;

		rc = pass_get(newfile, 1, &pass, &plen);
		if (rc == IMDR_OK) {
			name[0] = '\0';
			rc = repo_key_add(r, pass, plen, NULL, name);
			status = cli_record(r, "key-add", rc ? NULL : json_pack("{s:s, s:s}",
			    "key", name + 5, "by", repo_key_name(r) + 5), rc);
		}
		pass_free(pass, plen);
		if (rc == IMDR_OK)
			printf("added key slot %s\n", name + 5);
	} else if (strcmp(verb, "remove") == 0 && argc - optind == 3) {
		char *name = xasprintf("keys/%s", argv[optind + 2]);

		rc = repo_key_remove(r, name);
		if (rc != IMDR_ENOENT && rc != IMDR_EINVAL)
			status = cli_record(r, "key-remove", json_pack("{s:s, s:s}", "key", name + 5,
			    "by", repo_key_name(r) + 5), rc);
		if (rc == IMDR_OK) {
			printf("removed key slot %s\n", argv[optind + 2]);
			int dropped = 0;

			if (repo_key_cache_drop(argv[optind + 1], &dropped) == IMDR_OK && dropped)
				printf("forgot the key cached for %s\n", argv[optind + 1]);
			err_clear();
		}
		free(name);
	} else {
		usage_key(stderr);
		repo_free(r);
		return 2;
	}
	repo_free(r);
	return rc ? cli_fail(rc) : status;
}
