/* keycache — a repository's master key kept in the Linux kernel keyring for
 * a while (opt-in: imdr's --key-cache / IMDR_KEY_CACHE), so that commands
 * run one after another do not each derive it from the passphrase: scrypt
 * costs 100-150 ms and 32 MiB, more than a warm search itself.
 *
 * An entry is a key of type "user" in the caller's session keyring, named
 * "imdr:<handle>", where the handle is the first 32 hex digits of the
 * SHA-256 of the repository's sealed config object (public, fixed for the
 * repository's life, the same on its replicas; the repository id itself is
 * inside the seal). Its payload is a version byte, the repository id (32
 * bytes), the master key and the name of the key slot that opened it. The
 * kernel expires it after the time given when it was stored (the time
 * counts from the passphrase, not from each use), and drops it with the
 * session (logout). Permissions: the possessor (processes of the session
 * it is in) may view, read, search, update and expire it; other processes
 * of the user may only see that it exists; group and others nothing.
 * repo_open uses an entry only after the sealed config authenticates under
 * its key and the config's id is the entry's: a stale entry, or one made
 * for another repository, is dropped and the passphrase asked for.
 *
 * Who can read a cached key: processes of the same session (the same user,
 * unless they changed credentials), and root. Nothing of it is ever in
 * argv, the environment, a file or a log; in the process it lives in
 * secmem (lib/secmem.h). */
#ifndef IMDR_REPO_KEYCACHE_H
#define IMDR_REPO_KEYCACHE_H

#include <stddef.h>
#include <stdint.h>

#include "repo/repo.h"

#define KEYCACHE_HANDLE_HEX 32
#define KEYCACHE_SLOT_MAX 64

/* What an entry holds; allocate it with secmem_alloc. */
struct keycache_entry {
	uint8_t repo_id[32];
	struct master_key key;
	char slot[KEYCACHE_SLOT_MAX];	/* the key slot's object name */
};

/* keycache_handle: the handle of the repository whose sealed config
 * object is the n bytes at sealed_config. */
void keycache_handle(const uint8_t *sealed_config, size_t n,
    char out[KEYCACHE_HANDLE_HEX + 1]);

/* keycache_get: the entry of handle into *ret. IMDR_ENOENT: none (or it
 * expired); IMDR_EUNSUP: no kernel keyring here (the message says why);
 * IMDR_EFORMAT: an entry that is not imdr's (it is dropped). */
int keycache_get(const char *handle, struct keycache_entry *ret);

/* keycache_put: store e under handle for secs seconds (replacing an entry
 * there). IMDR_EUNSUP when the keyring refuses (the message says why). */
int keycache_put(const char *handle, const struct keycache_entry *e, int64_t secs);

/* keycache_drop: forget the entry of handle. IMDR_ENOENT: there was none. */
int keycache_drop(const char *handle);

/* keycache_drop_all: forget every imdr entry the session can see;
 * *ret_n gets how many. */
int keycache_drop_all(size_t *ret_n);

/* keycache_parse_duration: "15m", "90s", "2h", "1d", "0"/"off" (0) into
 * seconds. IMDR_EINVAL with a message for anything else (or over 30
 * days). */
int keycache_parse_duration(const char *s, int64_t *ret_secs);

#endif
