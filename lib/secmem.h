/* secmem — memory for key material: whole pages of their own, marked
 * MADV_DONTDUMP (left out of core dumps, including gcore's) and locked
 * in RAM where the limits allow (never swapped out), wiped on free.
 * Master keys, passphrase-derived keys and passphrases live here.
 *
 * secmem_process_harden makes the process non-dumpable as well (no core
 * file at all unless the system dumps those too, fs.suid_dumpable=2, and
 * no ptrace or /proc/PID/mem for other processes of the same user); the
 * programs call it first thing in main. */
#ifndef IMDR_SECMEM_H
#define IMDR_SECMEM_H

#include <stddef.h>

/* secmem_alloc: n zeroed bytes on pages of their own; aborts when no
 * memory can be had (as xmalloc does). */
void *secmem_alloc(size_t n);
/* secmem_free: wipe and release; NULL is a no-op. */
void secmem_free(void *p);
/* secmem_relock: lock every live region again; memory locks are not
 * inherited across fork, so a daemon calls this after detaching. */
void secmem_relock(void);
/* secmem_wipe: zero n bytes in a way the compiler cannot drop. */
void secmem_wipe(void *p, size_t n);

/* secmem_process_harden: prctl(PR_SET_DUMPABLE, 0). */
void secmem_process_harden(void);

#endif
