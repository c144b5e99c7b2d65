#include "cli/pass.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include "lib/err.h"
#include "lib/log.h"
#include "lib/secmem.h"

#define PASS_MAX 4096

/* A passphrase is read straight into secmem (out of core dumps, locked in
 * RAM), into a buffer that never grows: no copy of it is left behind in
 * freed heap or stdio buffers. */
struct secbuf {
	char *p;
	size_t len, cap;
};

static void
sb_init(struct secbuf *b)
{
	b->cap = PASS_MAX + 2;
	b->p = secmem_alloc(b->cap + 1);
	b->len = 0;
}

static void
sb_free(struct secbuf *b)
{
	secmem_free(b->p);
	b->p = NULL;
	b->len = 0;
}

static void
chomp(struct secbuf *b)
{
	if (b->len > 0 && b->p[b->len - 1] == '\n')
		b->len--;
	if (b->len > 0 && b->p[b->len - 1] == '\r')
		b->len--;
	b->p[b->len] = '\0';
}

static int
read_fd_all(int fd, struct secbuf *b)
{
	ssize_t n;

	for (;;) {
		if (b->len >= b->cap) {
			errno = EFBIG;
			return -1;
		}
		n = read(fd, b->p + b->len, b->cap - b->len);
		if (n == 0)
			return 0;
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		b->len += (size_t)n;
	}
}

static int
from_file(const char *path, struct secbuf *b)
{
	struct stat st;
	int fd = open(path, O_RDONLY | O_CLOEXEC), rc = IMDR_OK;

	if (fd < 0)
		return err_set(IMDR_EINVAL, "cannot read password file %s: %s", path, strerror(errno));
	if (fstat(fd, &st) == 0 && (st.st_mode & 077) != 0)
		warn0("password file %s is readable by others (mode %03o); chmod 600 it",
		    path, (unsigned)(st.st_mode & 0777));
	if (read_fd_all(fd, b) < 0)
		rc = err_set(IMDR_EINVAL, "cannot read password file %s: %s", path,
		    errno == EFBIG ? "longer than 4096 bytes" : strerror(errno));
	close(fd);
	return rc;
}

static int
from_command(const char *cmd, struct secbuf *b)
{
	int pfd[2], status;
	pid_t pid;

	if (pipe(pfd) < 0)
		return err_set(IMDR_EIO, "pipe: %s", strerror(errno));
	pid = fork();
	if (pid < 0) {
		close(pfd[0]);
		close(pfd[1]);
		return err_set(IMDR_EIO, "fork: %s", strerror(errno));
	}
	if (pid == 0) {
		dup2(pfd[1], 1);
		close(pfd[0]);
		close(pfd[1]);
		execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
		_exit(127);
	}
	close(pfd[1]);
	if (read_fd_all(pfd[0], b) < 0) {
		close(pfd[0]);
		waitpid(pid, &status, 0);
		return err_set(IMDR_EINVAL, "the password command (IMDR_PASSWORD_COMMAND, or a job's password-command): cannot read its output");
	}
	close(pfd[0]);
	if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
		return err_set(IMDR_EINVAL, "the password command (IMDR_PASSWORD_COMMAND, or a job's password-command) failed (exit status %d)",
		    WIFEXITED(status) ? WEXITSTATUS(status) : -1);
	return IMDR_OK;
}

static int
ask_tty(const char *prompt, struct secbuf *b)
{
	struct termios old, quiet;
	int fd = open("/dev/tty", O_RDWR | O_CLOEXEC), rc = IMDR_OK;

	if (fd < 0)
		return err_set(IMDR_EINVAL, "no passphrase: set IMDR_PASSWORD_FILE or "
		    "IMDR_PASSWORD_COMMAND, use --password-file, or run on a terminal");
	if (write(fd, prompt, strlen(prompt)) < 0)
		rc = IMDR_EIO;
	tcgetattr(fd, &old);
	quiet = old;
	quiet.c_lflag &= ~(tcflag_t)ECHO;
	tcsetattr(fd, TCSAFLUSH, &quiet);
	while (b->len < b->cap) {
		ssize_t n = read(fd, b->p + b->len, 1);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0 || b->p[b->len] == '\n')
			break;
		b->len++;
	}
	b->p[b->len] = '\0';
	tcsetattr(fd, TCSAFLUSH, &old);
	if (write(fd, "\n", 1) < 0)
		rc = IMDR_EIO;
	close(fd);
	return rc;
}

int
pass_get(const char *file_opt, int confirm, char **ret, size_t *ret_len)
{
	struct secbuf b, again = { NULL, 0, 0 };
	const char *env;
	int rc;

	sb_init(&b);
	if (file_opt)
		rc = from_file(file_opt, &b);
	else if ((env = getenv("IMDR_PASSWORD_FILE")) && *env)
		rc = from_file(env, &b);
	else if ((env = getenv("IMDR_PASSWORD_COMMAND")) && *env)
		rc = from_command(env, &b);
	else {
		rc = ask_tty(confirm ? "New passphrase: " : "Passphrase: ", &b);
		if (rc == IMDR_OK && confirm) {
			sb_init(&again);
			rc = ask_tty("Repeat passphrase: ", &again);
			if (rc == IMDR_OK && (again.len != b.len ||
			    (b.len && memcmp(again.p, b.p, b.len) != 0)))
				rc = err_set(IMDR_EINVAL, "the passphrases do not match");
		}
	}
	sb_free(&again);
	if (rc == IMDR_OK && b.len > PASS_MAX)
		rc = err_set(IMDR_EINVAL, "passphrase longer than %d bytes", PASS_MAX);
	if (rc == IMDR_OK) {
		chomp(&b);
		if (b.len == 0)
			rc = err_set(IMDR_EINVAL, "empty passphrase");
	}
	if (rc) {
		sb_free(&b);
		return rc;
	}
	*ret_len = b.len;
	*ret = b.p;
	return IMDR_OK;
}

int
pass_get_from(const char *file, const char *command, char **ret, size_t *ret_len)
{
	struct secbuf b;
	int rc;

	sb_init(&b);
	if (file)
		rc = from_file(file, &b);
	else if (command)
		rc = from_command(command, &b);
	else
		rc = err_set(IMDR_EINVAL, "no password-file or password-command");
	if (rc == IMDR_OK && b.len > PASS_MAX)
		rc = err_set(IMDR_EINVAL, "passphrase longer than %d bytes", PASS_MAX);
	if (rc == IMDR_OK) {
		chomp(&b);
		if (b.len == 0)
			rc = err_set(IMDR_EINVAL, "empty passphrase from %s", file ? file : "password-command");
	}
	if (rc) {
		sb_free(&b);
		return rc;
	}
	*ret_len = b.len;
	*ret = b.p;
	return IMDR_OK;
}

void
pass_free(char *p, size_t len)
{
	(void)len;
	secmem_free(p);
}
