/* log — two helpers in the spirit of libcperciva's warnp/warn0: one appends
 * strerror(errno), the other does not. Messages go to stderr as
 * "PROG: message", or to syslog once log_use_syslog() was called (daemons). */
#ifndef IMDR_LOG_H
#define IMDR_LOG_H

void log_init(const char *progname);
void log_use_syslog(void);

/* warnp: message plus ": strerror(errno)". */
void warnp(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* warn0: message as it is. */
void warn0(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* debugf: only when IMDR_DEBUG is set in the environment. */
void debugf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int log_debug_enabled(void);

#endif
