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

#include "lib/buf.h"
#include "lib/err.h"
#include "lib/log.h"
#include "repo/crypto.h"

#define PASS_MAX 4096

static void
chomp(struct buf *b)
{
	if (b->len > 0 && b->data[b->len - 1] == '\n')
		b->len--;
	if (b->len > 0 && b->data[b->len - 1] == '\r')
		b->len--;
}

static int
read_fd_all(int fd, struct buf *b)
{
	char tmp[512];
	ssize_t n;

	while ((n = read(fd, tmp, sizeof(tmp))) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		buf_append(b, tmp, (size_t)n);
		crypto_wipe(tmp, sizeof(tmp));
		if (b->len > PASS_MAX) {
			errno = EFBIG;
			return -1;
		}
	}
	return 0;
}

static int
from_file(const char *path, struct buf *b)
{
	struct stat st;
	int fd = open(path, O_RDONLY | O_CLOEXEC), rc = IMDR_OK;

	if (fd < 0)
		return err_set(IMDR_EINVAL, "cannot read password file %s: %s", path, strerror(errno));
	if (fstat(fd, &st) == 0 && (st.st_mode & 077) != 0)
		warn0("password file %s is readable by others (mode %03o); chmod 600 it",
		    path, (unsigned)(st.st_mode & 0777));
	if (read_fd_all(fd, b) < 0)
		rc = err_set(IMDR_EINVAL, "cannot read password file %s: %s", path, strerror(errno));
	close(fd);
	return rc;
}

static int
from_command(const char *cmd, struct buf *b)
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
		return err_set(IMDR_EINVAL, "IMDR_PASSWORD_COMMAND: cannot read its output");
	}
	close(pfd[0]);
	if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
		return err_set(IMDR_EINVAL, "IMDR_PASSWORD_COMMAND failed (exit status %d)",
		    WIFEXITED(status) ? WEXITSTATUS(status) : -1);
	return IMDR_OK;
}

static int
ask_tty(const char *prompt, struct buf *b)
{
	struct termios old, quiet;
	int fd = open("/dev/tty", O_RDWR | O_CLOEXEC), rc = IMDR_OK;
	char c;

	if (fd < 0)
		return err_set(IMDR_EINVAL, "no passphrase: set IMDR_PASSWORD_FILE or "
		    "IMDR_PASSWORD_COMMAND, use --password-file, or run on a terminal");
	if (write(fd, prompt, strlen(prompt)) < 0)
		rc = IMDR_EIO;
	tcgetattr(fd, &old);
	quiet = old;
	quiet.c_lflag &= ~(tcflag_t)ECHO;
	tcsetattr(fd, TCSAFLUSH, &quiet);
	for (;;) {
		ssize_t n = read(fd, &c, 1);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0 || c == '\n')
			break;
		buf_putc(b, (uint8_t)c);
		if (b->len > PASS_MAX)
			break;
	}
	tcsetattr(fd, TCSAFLUSH, &old);
	if (write(fd, "\n", 1) < 0)
		rc = IMDR_EIO;
	close(fd);
	return rc;
}

int
pass_get(const char *file_opt, int confirm, char **ret, size_t *ret_len)
{
	struct buf b = BUF_INIT, again = BUF_INIT;
	const char *env;
	int rc;

	if (file_opt)
		rc = from_file(file_opt, &b);
	else if ((env = getenv("IMDR_PASSWORD_FILE")) && *env)
		rc = from_file(env, &b);
	else if ((env = getenv("IMDR_PASSWORD_COMMAND")) && *env)
		rc = from_command(env, &b);
	else {
		rc = ask_tty(confirm ? "New passphrase: " : "Passphrase: ", &b);
		if (rc == IMDR_OK && confirm) {
			rc = ask_tty("Repeat passphrase: ", &again);
			if (rc == IMDR_OK && (again.len != b.len ||
			    (b.len && memcmp(again.data, b.data, b.len) != 0)))
				rc = err_set(IMDR_EINVAL, "the passphrases do not match");
		}
	}
	if (again.data)
		crypto_wipe(again.data, again.len);
	buf_free(&again);
	if (rc == IMDR_OK) {
		chomp(&b);
		if (b.len == 0)
			rc = err_set(IMDR_EINVAL, "empty passphrase");
	}
	if (rc) {
		if (b.data)
			crypto_wipe(b.data, b.len);
		buf_free(&b);
		return rc;
	}
	buf_cstr(&b);
	*ret_len = b.len;
	*ret = (char *)buf_steal(&b, NULL);
	return IMDR_OK;
}

void
pass_free(char *p, size_t len)
{
	if (p == NULL)
		return;
	crypto_wipe(p, len);
	free(p);
}
