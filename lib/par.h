/* par — run one function over the numbers 0..n-1 on a few threads: the
 * parallel loads, reads and deletes of forget and prune, where a remote
 * repository answers many requests at once but each costs a round trip. */
#ifndef IMDR_PAR_H
#define IMDR_PAR_H

#include <stddef.h>

/* par_fn: do item i; IMDR_OK, or an error (with err_set) that stops the
 * items not yet started. */
typedef int (*par_fn)(void *ctx, size_t i);

/* par_for: call fn(ctx, i) once for each i in [0, n), from up to threads
 * threads (1 or less: in the calling thread, in order). Returns IMDR_OK,
 * or the first error met, its message carried over to the caller's thread
 * (err_msg). Items are taken in order; after an error no new item starts. */
int par_for(size_t n, int threads, par_fn fn, void *ctx);

#endif
