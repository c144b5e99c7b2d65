#include "lib/err.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const msgs[IMDR_NERR] = {
	[IMDR_OK] = "success",
	[IMDR_EINVAL] = "invalid argument",
	[IMDR_ENOMEM] = "out of memory",
	[IMDR_EIO] = "I/O error",
	[IMDR_ENOENT] = "not found",
	[IMDR_EEXIST] = "already exists",
	[IMDR_EAUTH] = "authentication failed (corrupt or tampered data)",
	[IMDR_EPASS] = "wrong passphrase",
	[IMDR_EFORMAT] = "malformed data",
	[IMDR_ENOSPC] = "no space left on device",
	[IMDR_ELOCKED] = "repository is locked",
	[IMDR_EPERM] = "permission denied",
	[IMDR_ENET] = "network or service error",
	[IMDR_ETIMEDOUT] = "timed out",
	[IMDR_EUNSUP] = "not supported",
	[IMDR_EINTR] = "interrupted",
	[IMDR_ESOURCE] = "unreadable or malformed source",
	[IMDR_EAMBIG] = "ambiguous",
};

/* One message a thread. A longer one keeps its start and its end (where
 * the reason is: "cannot write <long path>: No space left on device") with
 * "..." between, cut at character boundaries. */
#define DETAIL_MAX 4096
static _Thread_local char detail[DETAIL_MAX];

const char *
imdr_strerror(int code)
{
	if (code < 0 || code >= IMDR_NERR || msgs[code] == NULL)
		return "unknown error";
	return msgs[code];
}

/* utf8_back: move i back to the start of the UTF-8 character it is in. */
static size_t
utf8_back(const char *s, size_t i)
{
	while (i > 0 && ((unsigned char)s[i] & 0xC0) == 0x80)
		i--;
	return i;
}

int
err_set(int code, const char *fmt, ...)
{
	va_list ap;
	char *msg = NULL;
	int n;

	/* Format into fresh memory first: the arguments may point into
	 * detail itself (err_set(rc, "node %s: %s", id, err_msg(rc))). */
	va_start(ap, fmt);
	n = vasprintf(&msg, fmt, ap);
	va_end(ap);
	if (n < 0) {
		snprintf(detail, sizeof(detail), "%s", imdr_strerror(code));
		return code;
	}
	if ((size_t)n < sizeof(detail)) {
		memcpy(detail, msg, (size_t)n + 1);
	} else {
		size_t half = (sizeof(detail) - 4) / 2;
		size_t head = utf8_back(msg, half);
		size_t tail = (size_t)n - half;

		while (tail < (size_t)n && ((unsigned char)msg[tail] & 0xC0) == 0x80)
			tail++;
		memcpy(detail, msg, head);
		memcpy(detail + head, "...", 3);
		memcpy(detail + head + 3, msg + tail, (size_t)n - tail + 1);
	}
	free(msg);
	return code;
}

const char *
err_msg(int code)
{
	if (detail[0] != '\0')
		return detail;
	return imdr_strerror(code);
}

void
err_clear(void)
{
	detail[0] = '\0';
}

int
err_from_errno(int e)
{
	switch (e) {
	case 0: return IMDR_OK;
	case ENOENT: case ENOTDIR: return IMDR_ENOENT;
	case EEXIST: return IMDR_EEXIST;
	case ENOMEM: return IMDR_ENOMEM;
	case ENOSPC: case EDQUOT: case EFBIG: return IMDR_ENOSPC;
	case EACCES: case EPERM: case EROFS: return IMDR_EPERM;
	case EINTR: return IMDR_EINTR;
	case EINVAL: return IMDR_EINVAL;
	case ETIMEDOUT: return IMDR_ETIMEDOUT;
	default: return IMDR_EIO;
	}
}
