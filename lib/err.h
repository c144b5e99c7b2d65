/* err — the project's error codes, a message table, and a per-thread detail
 * message so that the top level can print one line naming what failed. */
#ifndef IMDR_ERR_H
#define IMDR_ERR_H

enum imdr_err {
	IMDR_OK = 0,
	IMDR_EINVAL,	/* bad argument or option */
	IMDR_ENOMEM,	/* out of memory */
	IMDR_EIO,	/* local I/O error */
	IMDR_ENOENT,	/* object, snapshot, path or repository missing */
	IMDR_EEXIST,	/* object already exists (write-once) */
	IMDR_EAUTH,	/* object failed authentication (tampered or corrupt) */
	IMDR_EPASS,	/* wrong passphrase: no key slot opens */
	IMDR_EFORMAT,	/* malformed object or input */
	IMDR_ENOSPC,	/* no space left on device */
	IMDR_ELOCKED,	/* repository locked by another process */
	IMDR_EPERM,	/* permission denied (local or by the service) */
	IMDR_ENET,	/* network or service failure after retries */
	IMDR_ETIMEDOUT,	/* operation timed out */
	IMDR_EUNSUP,	/* not supported by this backend or version */
	IMDR_EINTR,	/* interrupted by a signal */
	IMDR_ESOURCE,	/* the backup source is unreadable or malformed */
	IMDR_EAMBIG,	/* ambiguous snapshot id prefix */
	IMDR_NERR
};

/* imdr_strerror: static text for an error code. */
const char *imdr_strerror(int code);

/* err_set: record a detail message for this thread and return code, so that
 * `return err_set(IMDR_EAUTH, "pack %s: bad tag", id);` reads naturally. */
int err_set(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* err_msg: the last detail message of this thread, or the code's text when
 * none was set since err_clear(). Never NULL. */
const char *err_msg(int code);
void err_clear(void);

/* err_from_errno: map an errno value to the closest imdr_err. */
int err_from_errno(int e);

#endif
