/* engine — whole operations as library calls: backup, restore, check (and
 * what later commands build on them). Each takes an options struct and
 * fills a result struct; it reports progress, warnings and problems
 * through the callbacks below, and never prints or exits: the caller
 * (cli/, a test, another operation) decides what the user sees.
 *
 * Errors are imdr_err codes with err_set messages, as everywhere below
 * cli/. Operations work with threads: the callbacks may be called from
 * any of them, at once, and must be thread-safe. */
#ifndef IMDR_ENGINE_H
#define IMDR_ENGINE_H

#include <signal.h>
#include <stdint.h>

struct engine_events {
	/* total: what 100 % means so far (it may grow while a source is
	 * still being scanned); advance: work done since the last call. */
	void (*total)(void *ctx, uint64_t files, uint64_t bytes);
	void (*advance)(void *ctx, uint64_t files, uint64_t bytes);
	/* warn: something was left out or is missing, named by what (a path,
	 * an object; may be NULL); the operation goes on. */
	void (*warn)(void *ctx, const char *what, const char *msg);
	/* error: a problem found (a damaged object, a file that could not be
	 * restored); the operation goes on and its result counts it. */
	void (*error)(void *ctx, const char *what, const char *msg);
	void *ctx;
	/* cancel: polled; once non-zero the operation stops with IMDR_EINTR,
	 * leaving the repository valid. May be NULL. */
	const volatile sig_atomic_t *cancel;
};

/* Helpers for engine modules: each callback may be NULL. */
static inline void
ev_total(const struct engine_events *ev, uint64_t files, uint64_t bytes)
{
	if (ev && ev->total)
		ev->total(ev->ctx, files, bytes);
}

static inline void
ev_advance(const struct engine_events *ev, uint64_t files, uint64_t bytes)
{
	if (ev && ev->advance)
		ev->advance(ev->ctx, files, bytes);
}

static inline void
ev_warn(const struct engine_events *ev, const char *what, const char *msg)
{
	if (ev && ev->warn)
		ev->warn(ev->ctx, what, msg);
}

static inline void
ev_error(const struct engine_events *ev, const char *what, const char *msg)
{
	if (ev && ev->error)
		ev->error(ev->ctx, what, msg);
}

static inline int
ev_cancelled(const struct engine_events *ev)
{
	return ev && ev->cancel && *ev->cancel;
}

#endif
