/* common — what every imdr subcommand shares: opening a repository with a
 * passphrase, reporting an error as one line, formatting sizes and modes. */
#ifndef IMDR_CLI_COMMON_H
#define IMDR_CLI_COMMON_H

#include <stdint.h>
#include <stdio.h>

#include "repo/repo.h"

/* cli_open_repo: passphrase per cli/pass.h, then repo_open. */
int cli_open_repo(const char *url, const char *passfile, struct repo **ret);

/* cli_fail: print "imdr: <detail>" for rc and return the exit status 1. */
int cli_fail(int rc);

/* fmt_size: "0 B", "812 B", "1.5 KiB", "3.25 GiB" into out (32 bytes). */
void fmt_size(uint64_t n, char *out);
/* fmt_mode: "drwxr-xr-x" style, 11 bytes. */
void fmt_mode(uint8_t type, uint32_t mode, char *out);

/* json_print_string: s as a JSON string literal. */
void json_print_string(FILE *f, const char *s);

/* Each subcommand: argc/argv start at the subcommand's name. */
int cmd_init(int argc, char **argv);
int cmd_backup(int argc, char **argv);
int cmd_snapshots(int argc, char **argv);
int cmd_ls(int argc, char **argv);
int cmd_cat(int argc, char **argv);
int cmd_restore(int argc, char **argv);
int cmd_check(int argc, char **argv);
int cmd_key(int argc, char **argv);
int cmd_search(int argc, char **argv);
int cmd_diff(int argc, char **argv);
int cmd_export(int argc, char **argv);
int cmd_verify_export(int argc, char **argv);

#endif
