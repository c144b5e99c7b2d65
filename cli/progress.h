/* progress — a line on stderr, redrawn twice a second: files, bytes, rate
 * and, when the total is known, percent and ETA. Shown on a terminal, or
 * anywhere with --progress (then one line per second, no redraw). */
#ifndef IMDR_PROGRESS_H
#define IMDR_PROGRESS_H

#include <signal.h>
#include <stdint.h>

#include "engine/engine.h"

struct progress;

/* progress_start: verb names the work ("backup", "restore", "check");
 * force shows progress even when stderr is not a terminal; quiet hides it. */
struct progress *progress_start(const char *verb, int force, int quiet);
/* progress_total: set what 100 % means (0: unknown); may grow while scanning. */
void progress_total(struct progress *p, uint64_t files, uint64_t bytes);
void progress_add(struct progress *p, uint64_t files, uint64_t bytes);
/* progress_stop: erase the line and free; NULL is a no-op. */
void progress_stop(struct progress *p);

/* What a command shows of an engine operation: progress drawn on pg (may
 * be NULL), warnings printed as "warning: WHAT: MSG" unless quiet, errors
 * always as "error: WHAT: MSG"; both counted. */
struct cli_events {
	struct progress *pg;
	int quiet;
	uint64_t warnings, errors;
};
/* cli_events_bind: fill ev with callbacks onto ce (and the signal flag of
 * cli_catch_signals as its cancel). */
void cli_events_bind(struct engine_events *ev, struct cli_events *ce);
/* cli_catch_signals: SIGINT, SIGTERM and SIGHUP set a flag instead of
 * killing the process, so an operation can stop cleanly; returns it. */
const volatile sig_atomic_t *cli_catch_signals(void);

#endif
