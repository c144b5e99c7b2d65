/* lock — repository locks as objects locks/<id>: shared for backup (many at
 * once), exclusive for prune. A lock names host, pid and time, and is
 * refreshed every few minutes while held; one older than LOCK_STALE_SECS
 * without refresh is stale and ignored (and removed by an exclusive taker). */
#ifndef IMDR_LOCK_H
#define IMDR_LOCK_H

#include "repo/repo.h"

#define LOCK_STALE_SECS (30 * 60)

struct lock;

/* lock_acquire: take a shared or exclusive lock. IMDR_ELOCKED with a
 * message naming the holder when a conflicting live lock exists. A thread
 * refreshes the lock until lock_release. */
int lock_acquire(struct repo *r, int exclusive, struct lock **ret);

/* lock_release: remove the lock object; NULL is a no-op. */
void lock_release(struct lock *l);

#endif
