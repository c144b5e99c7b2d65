/* common — what every imdr subcommand shares: opening a repository with a
 * passphrase, reporting an error as one line, formatting sizes and modes. */
#ifndef IMDR_CLI_COMMON_H
#define IMDR_CLI_COMMON_H

#include <stdint.h>
#include <stdio.h>

#include "repo/repo.h"

/* cli_open_repo: the key cached in the kernel keyring when
 * cli_key_cache_secs > 0 and there is one, else the passphrase per
 * cli/pass.h (then cached for that long); repo_open_with. */
int cli_open_repo(const char *url, const char *passfile, struct repo **ret);

/* How long a key stays cached (repo/keycache.h): 0, or --key-cache /
 * $IMDR_KEY_CACHE, set by main. */
extern int64_t cli_key_cache_secs;
/* How the last cli_open_repo got its key. */
extern struct repo_unlock_info cli_unlock_info;

/* cli_replica_policy: set how a multi: repository treats its replicas:
 * min_writes (0: leave as is) and hedge (-1: leave as is). The defaults
 * come from $IMDR_MIN_REPLICAS and $IMDR_HEDGE. */
void cli_replica_policy(struct repo *r, int min_writes, int hedge);

/* cli_fail: print "imdr: <detail>" for rc and return the exit status 1. */
int cli_fail(int rc);

/* The exit status of an operation that did what it was asked but could not
 * write its record to the audit log (the record's absence is itself
 * something an auditor must hear of). */
#define CLI_EXIT_NOT_AUDITED 3

/* cli_audited: the exit status for an operation that succeeded and whose
 * audit record ended with audit_rc: 0 when written, or when the repository
 * is read-only (nothing can be recorded there); else CLI_EXIT_NOT_AUDITED. */
int cli_audited(int audit_rc);

/* cli_record: append the audit record of command (engine/trail.h's
 * trail_record: scope a JSON object, stolen, or NULL; op_rc how it ended),
 * saying on stderr when it cannot be written; returns cli_audited's
 * status. For operations that have no engine function of their own (init,
 * key, cat, mount). */
struct json_t;
int cli_record(struct repo *r, const char *command, struct json_t *scope, int op_rc);

/* fmt_size: "0 B", "812 B", "1.5 KiB", "3.25 GiB" into out (32 bytes). */
void fmt_size(uint64_t n, char *out);
/* fmt_mode: "drwxr-xr-x" style, 11 bytes. */
void fmt_mode(uint8_t type, uint32_t mode, char *out);

/* json_print_string: s as a JSON string literal; bytes that are not UTF-8
 * become U+FFFD (print the exact bytes beside it with json_print_b64). */
void json_print_string(FILE *f, const char *s);
/* json_print_b64: when s is not UTF-8, ',"<key>_b64":"<base64 of s>"'
 * (the exact bytes of a name json_print_string could not show); else
 * nothing. */
void json_print_b64(FILE *f, const char *key, const char *s);

/* Each subcommand: argc/argv start at the subcommand's name. */
int cmd_init(int argc, char **argv);
int cmd_backup(int argc, char **argv);
int cmd_snapshots(int argc, char **argv);
int cmd_ls(int argc, char **argv);
int cmd_cat(int argc, char **argv);
int cmd_restore(int argc, char **argv);
int cmd_check(int argc, char **argv);
int cmd_key(int argc, char **argv);
int cmd_audit(int argc, char **argv);
int cmd_copy(int argc, char **argv);
int cmd_replicas(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_schedule(int argc, char **argv);
int cmd_status(int argc, char **argv);
int cmd_drill(int argc, char **argv);
int cmd_forget(int argc, char **argv);
int cmd_prune(int argc, char **argv);
int cmd_hold(int argc, char **argv);
int cmd_repair(int argc, char **argv);
int cmd_search(int argc, char **argv);
int cmd_diff(int argc, char **argv);
int cmd_export(int argc, char **argv);
int cmd_verify_export(int argc, char **argv);

#endif
