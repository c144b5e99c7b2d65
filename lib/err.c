#include "lib/err.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>

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

static _Thread_local char detail[1024];

const char *
imdr_strerror(int code)
{
	if (code < 0 || code >= IMDR_NERR || msgs[code] == NULL)
		return "unknown error";
	return msgs[code];
}

int
err_set(int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(detail, sizeof(detail), fmt, ap);
	va_end(ap);
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
