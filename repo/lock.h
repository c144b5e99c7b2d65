/* lock — repository locks as objects locks/<id>. Three modes: shared for
 * backup and forget (many at once), prune for prune and repair (one at a
 * time, beside any number of shared ones: prune never blocks a backup, see
 * FORMAT.md "Prune"), exclusive for what must run alone (conflicts with
 * every other lock). A lock names host, pid, mode, its start and a random
 * session id, and is refreshed every LOCK_REFRESH_SECS while held (a new
 * object with the same session; the old one deleted). One not refreshed for
 * LOCK_STALE_SECS, or held by a process of this host that no longer exists,
 * is stale: ignored by everyone, removed by the next prune or exclusive
 * taker. */
#ifndef IMDR_LOCK_H
#define IMDR_LOCK_H

#include <stddef.h>
#include <stdint.h>

#include "repo/repo.h"

#define LOCK_STALE_SECS (30 * 60)
#define LOCK_REFRESH_SECS (5 * 60)
#define LOCK_SESSION_HEX 32

enum lock_mode { LOCK_SHARED = 0, LOCK_EXCLUSIVE = 1, LOCK_PRUNE = 2 };

struct lock;

/* lock_acquire: take a lock of mode (enum lock_mode). IMDR_ELOCKED with a
 * message naming the holder when a conflicting live lock exists. A thread
 * refreshes the lock until lock_release. */
int lock_acquire(struct repo *r, int mode, struct lock **ret);

/* lock_release: remove the lock object; NULL is a no-op. */
void lock_release(struct lock *l);

/* lock_session: this lock's session id (LOCK_SESSION_HEX hex digits). */
const char *lock_session(const struct lock *l);

/* lock_fresh: 1 while the lock has been refreshed in time all along, so no
 * other process can have taken it for stale; 0 once a refresh came late or
 * failed (the process was suspended, or lost the repository for minutes).
 * An operation about to commit work that relies on what it read earlier
 * (a backup's snapshot) checks this first. */
int lock_fresh(const struct lock *l);

/* A live lock as listed. */
struct lock_info {
	char name[80];
	char session[LOCK_SESSION_HEX + 1];	/* "" in locks that have none */
	int mode;
	int64_t time_ns;		/* of its last refresh */
	int64_t started_ns;
	char host[128];
	long pid;
};

/* lock_list_live: every live (not stale) lock except own (may be NULL);
 * caller frees *ret. */
int lock_list_live(struct repo *r, const struct lock *own,
    struct lock_info **ret, size_t *ret_n);

#endif
