/* pass — where the passphrase comes from, in this order: a file named by an
 * option (--password-file F, mount's -o passfile=F), $IMDR_PASSWORD_FILE,
 * the output of $IMDR_PASSWORD_COMMAND, or the terminal. Never argv. */
#ifndef IMDR_PASS_H
#define IMDR_PASS_H

#include <stddef.h>

/* pass_get: *ret is in secmem (out of core dumps; free with pass_free);
 * one trailing newline of a file or command is dropped; at most 4096 bytes. With confirm, a terminal is asked twice.
 * IMDR_EINVAL with a message when no source is usable. */
int pass_get(const char *file_opt, int confirm, char **ret, size_t *ret_len);
void pass_free(char *p, size_t len);

/* pass_get_from: the passphrase from exactly the file or the command given
 * (a job's password-file or password-command), never the terminal or the
 * environment; as pass_get otherwise. */
int pass_get_from(const char *file, const char *command, char **ret, size_t *ret_len);

#endif
