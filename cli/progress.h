/* progress — a line on stderr, redrawn twice a second: files, bytes, rate
 * and, when the total is known, percent and ETA. Shown on a terminal, or
 * anywhere with --progress (then one line per second, no redraw). */
#ifndef IMDR_PROGRESS_H
#define IMDR_PROGRESS_H

#include <stdint.h>

struct progress;

/* progress_start: verb names the work ("backup", "restore", "check");
 * force shows progress even when stderr is not a terminal; quiet hides it. */
struct progress *progress_start(const char *verb, int force, int quiet);
/* progress_total: set what 100 % means (0: unknown); may grow while scanning. */
void progress_total(struct progress *p, uint64_t files, uint64_t bytes);
void progress_add(struct progress *p, uint64_t files, uint64_t bytes);
/* progress_stop: erase the line and free; NULL is a no-op. */
void progress_stop(struct progress *p);

#endif
