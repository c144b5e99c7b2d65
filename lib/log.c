#include "lib/log.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include "lib/buf.h"
#include "lib/text.h"

static const char *progname = "imdr";
static int to_syslog;
static int debug_on = -1;
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;

void
log_init(const char *name)
{
	const char *slash = strrchr(name, '/');

	progname = slash ? slash + 1 : name;
}

void
log_use_syslog(void)
{
	openlog(progname, LOG_PID, LOG_DAEMON);
	to_syslog = 1;
}

/* Messages name files, members and users from exports, which may hold
 * newlines, escape sequences or bytes that are not UTF-8: escaped here
 * (lib/text.h), a message is always one line that cannot drive the
 * terminal or forge another log line. */
static void
vlog(int prio, const char *fmt, va_list ap, const char *suffix)
{
	char *raw = NULL, *msg;
	struct buf esc = BUF_INIT;

	/* whole, however long: a fixed buffer cut the reason off the end of
	 * a message naming a long path */
	if (vasprintf(&raw, fmt, ap) < 0)
		raw = NULL;
	msg = raw ? raw : (char *)fmt;
	if (raw && text_needs_term_escape(raw)) {
		size_t len = strlen(raw);

		/* a trailing newline is the line's end, not part of it */
		if (len > 0 && raw[len - 1] == '\n')
			raw[len - 1] = '\0';
		text_escape_term(&esc, raw);
		msg = buf_cstr(&esc);
	}
	if (to_syslog) {
		syslog(prio, "%s%s%s", msg, suffix ? ": " : "", suffix ? suffix : "");
	} else {
		pthread_mutex_lock(&log_lock);
		fprintf(stderr, "%s: %s%s%s\n", progname, msg, suffix ? ": " : "",
		    suffix ? suffix : "");
		pthread_mutex_unlock(&log_lock);
	}
	buf_free(&esc);
	free(raw);
}

void
warnp(const char *fmt, ...)
{
	int saved = errno;
	char ebuf[256];
	va_list ap;

	snprintf(ebuf, sizeof(ebuf), "%s", strerror(saved));
	va_start(ap, fmt);
	vlog(LOG_WARNING, fmt, ap, ebuf);
	va_end(ap);
	errno = saved;
}

void
warn0(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(LOG_WARNING, fmt, ap, NULL);
	va_end(ap);
}

int
log_debug_enabled(void)
{
	if (debug_on < 0)
		debug_on = getenv("IMDR_DEBUG") != NULL;
	return debug_on;
}

void
debugf(const char *fmt, ...)
{
	va_list ap;

	if (!log_debug_enabled())
		return;
	va_start(ap, fmt);
	vlog(LOG_DEBUG, fmt, ap, NULL);
	va_end(ap);
}
