/* imdr — the command line. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/common.h"
#include "lib/err.h"
#include "lib/log.h"
#include "lib/secmem.h"
#include "repo/keycache.h"

#ifndef IMDR_VERSION
#define IMDR_VERSION "0.1.0"
#endif

struct command {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *summary;
};

static const struct command commands[] = {
	{ "init", cmd_init, "create an encrypted repository" },
	{ "backup", cmd_backup, "back up an export (folder, zip, tar, jsonl) as a new snapshot" },
	{ "snapshots", cmd_snapshots, "list snapshots" },
	{ "ls", cmd_ls, "list files in a snapshot" },
	{ "cat", cmd_cat, "print a file of a snapshot" },
	{ "restore", cmd_restore, "restore a snapshot, or parts of it, to a folder" },
	{ "check", cmd_check, "verify the repository (--read-data: every blob too)" },
	{ "key", cmd_key, "list, add or remove passphrase key slots" },
	{ "audit", cmd_audit, "the audit log: who did what, when (--checkpoint: a digest to keep)" },
	{ "copy", cmd_copy, "copy what a replica lacks from another (resumable)" },
	{ "replicas", cmd_replicas, "each replica of a multi: repository: reachable, latency, lag" },
	{ "run", cmd_run, "run a backup job (a job file): export, backup, retention, copies, check, drill" },
	{ "schedule", cmd_schedule, "install, remove or list a job's systemd service and timer" },
	{ "status", cmd_status, "RPO per source from the jobs' state (--live: a listing); metrics" },
	{ "drill", cmd_drill, "restore test: restore, verify every file, time it against the RTO" },
	{ "forget", cmd_forget, "remove snapshots by a retention policy (legal holds always kept)" },
	{ "prune", cmd_prune, "free the space no snapshot uses; never blocks a backup" },
	{ "hold", cmd_hold, "place, list and release legal holds on snapshots" },
	{ "repair", cmd_repair, "after lost packs: mend the index and the snapshots that used them" },
	{ "diff", cmd_diff, "what changed between two snapshots: files, and messages per conversation" },
	{ "export", cmd_export, "write chat messages as RSMF, zip or folder, with a custody manifest" },
	{ "verify-export", cmd_verify_export, "check an export against its custody manifest" },
	{ "search", cmd_search, "find messages in chat snapshots (words, from:, in:, dates; --all)" },
};

#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))

static void
usage(FILE *f)
{
	fprintf(f,
"usage: imdr [--key-cache DURATION] COMMAND [ARGS]...\n"
"\n"
"imdr backs up Slack and Mattermost exports (and plain folders) into an\n"
"encrypted, deduplicated repository; mount.imdr mounts any snapshot.\n"
"\n"
"commands:\n");
	for (size_t i = 0; i < NCOMMANDS; i++)
		fprintf(f, "  %-14s %s\n", commands[i].name, commands[i].summary);
	fprintf(f,
"\n"
"REPO is a folder, file:///path, s3://bucket/prefix, azure://account/container/prefix,\n"
"http(s)://host/path (read-only), or multi:REPO|REPO|... (replicas of one repository:\n"
"written to all, read from the fastest); see imdr(1) for options and credentials.\n"
"SNAPSHOT is an id prefix, `latest`, or a time such as 2026-11-24T10:00 (UTC; the\n"
"newest snapshot at or before it). The passphrase comes from --password-file F,\n"
"$IMDR_PASSWORD_FILE, $IMDR_PASSWORD_COMMAND, or the terminal; never from argv.\n"
"--key-cache DURATION (or $IMDR_KEY_CACHE, e.g. 15m) keeps the unlocked key in\n"
"the kernel keyring of this login session for that long, so the next commands\n"
"skip the passphrase and its key derivation; `imdr key forget` drops it.\n"
"\n"
"`imdr help COMMAND` or `imdr COMMAND --help` tells more.\n");
}

int
main(int argc, char **argv)
{
	/* first of all: the key is in this process from the moment the
	 * passphrase is read (lib/secmem.h says why non-dumpable) */
	secmem_process_harden();
	log_init("imdr");
	mem_tune();
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		usage(stdout);
		return 0;
	}
	{
		/* --key-cache DURATION before the command, else $IMDR_KEY_CACHE */
		const char *kc = getenv("IMDR_KEY_CACHE"), *what = "IMDR_KEY_CACHE";

		if (strcmp(argv[1], "--key-cache") == 0 || strncmp(argv[1], "--key-cache=", 12) == 0) {
			what = "--key-cache";
			if (argv[1][11] == '=') {
				kc = argv[1] + 12;
				argc -= 1;
				argv += 1;
			} else if (argc < 3) {
				warn0("--key-cache needs a duration (say 15m)");
				return 2;
			} else {
				kc = argv[2];
				argc -= 2;
				argv += 2;
			}
			if (argc < 2) {
				usage(stderr);
				return 2;
			}
		}
		if (kc && *kc && keycache_parse_duration(kc, &cli_key_cache_secs) != IMDR_OK) {
			warn0("%s: %s", what, err_msg(IMDR_EINVAL));
			return 2;
		}
	}
	if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "version") == 0) {
		printf("imdr %s\n", IMDR_VERSION);
		return 0;
	}
	if (strcmp(argv[1], "help") == 0) {
		if (argc < 3) {
			usage(stdout);
			return 0;
		}
		for (size_t i = 0; i < NCOMMANDS; i++) {
			if (strcmp(argv[2], commands[i].name) == 0) {
				char *hargv[] = { argv[2], "--help", NULL };

				return commands[i].fn(2, hargv);
			}
		}
		warn0("no such command: %s", argv[2]);
		return 2;
	}
	for (size_t i = 0; i < NCOMMANDS; i++)
		if (strcmp(argv[1], commands[i].name) == 0)
			return commands[i].fn(argc - 1, argv + 1);
	warn0("no such command: %s (try imdr --help)", argv[1]);
	return 2;
}
