/* keycache — see keycache.h. */
#include "repo/keycache.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <keyutils.h>

#include "lib/err.h"
#include "lib/hex.h"
#include "lib/secmem.h"
#include "repo/crypto.h"

#define PAYLOAD_VERSION 1
#define PAYLOAD_LEN (1 + 32 + sizeof(struct master_key) + KEYCACHE_SLOT_MAX)
#define PREFIX "imdr:"
#define MAX_SECS (30 * 86400)

/* possessor: view, read, update, search, expire; the user: see it exists */
#define ENTRY_PERM (KEY_POS_VIEW | KEY_POS_READ | KEY_POS_WRITE | KEY_POS_SEARCH | \
    KEY_POS_SETATTR | KEY_USR_VIEW)

void
keycache_handle(const uint8_t *sealed_config, size_t n, char out[KEYCACHE_HANDLE_HEX + 1])
{
	uint8_t sum[32];

	crypto_sha256(sealed_config, n, sum);
	hex_encode(sum, KEYCACHE_HANDLE_HEX / 2, out);
}

static int
unavailable(const char *doing, int e)
{
	return err_set(IMDR_EUNSUP, "the kernel keyring is not available here (%s: %s)", doing,
	    strerror(e));
}

/* session: the session keyring, never a new one: a process without one
 * gets the user's session keyring (a new anonymous one would die with
 * this process, and the next command would find nothing) */
static int
session(key_serial_t *ret)
{
	key_serial_t k = keyctl_get_keyring_ID(KEY_SPEC_SESSION_KEYRING, 0);

	if (k < 0)
		return unavailable("finding the session keyring", errno);
	*ret = k;
	return IMDR_OK;
}

static void
describe(const char *handle, char *out, size_t cap)
{
	snprintf(out, cap, PREFIX "%s", handle);
}

/* find: the entry's serial; IMDR_ENOENT when there is none */
static int
find(const char *handle, key_serial_t *ret)
{
	char desc[sizeof(PREFIX) + KEYCACHE_HANDLE_HEX + 1];
	key_serial_t ring = 0;
	long k;
	int rc = session(&ring);

	if (rc)
		return rc;
	describe(handle, desc, sizeof(desc));
	k = keyctl_search(ring, "user", desc, 0);
	if (k < 0) {
		if (errno == ENOKEY || errno == EKEYEXPIRED || errno == EKEYREVOKED)
			return err_set(IMDR_ENOENT, "no cached key for this repository");
		return unavailable("searching the session keyring", errno);
	}
	*ret = (key_serial_t)k;
	return IMDR_OK;
}

int
keycache_get(const char *handle, struct keycache_entry *ret)
{
	uint8_t *p = secmem_alloc(PAYLOAD_LEN + 1);
	key_serial_t k;
	long n;
	int rc = find(handle, &k);

	if (rc)
		goto out;
	n = keyctl_read(k, (char *)p, PAYLOAD_LEN + 1);
	if (n < 0) {
		rc = errno == EKEYEXPIRED || errno == EKEYREVOKED || errno == ENOKEY ?
		    err_set(IMDR_ENOENT, "no cached key for this repository") :
		    unavailable("reading a cached key", errno);
		goto out;
	}
	if ((size_t)n != PAYLOAD_LEN || p[0] != PAYLOAD_VERSION ||
	    memchr(p + 1 + 32 + sizeof(struct master_key), '\0', KEYCACHE_SLOT_MAX) == NULL) {
		keyctl_invalidate(k);
		rc = err_set(IMDR_EFORMAT, "the kernel keyring held something else under imdr's"
		    " name for this repository (dropped)");
		goto out;
	}
	memcpy(ret->repo_id, p + 1, 32);
	memcpy(&ret->key, p + 1 + 32, sizeof(ret->key));
	memcpy(ret->slot, p + 1 + 32 + sizeof(ret->key), KEYCACHE_SLOT_MAX);
out:
	secmem_free(p);
	return rc;
}

int
keycache_put(const char *handle, const struct keycache_entry *e, int64_t secs)
{
	char desc[sizeof(PREFIX) + KEYCACHE_HANDLE_HEX + 1];
	uint8_t *p;
	key_serial_t ring = 0, k;
	int rc = session(&ring);

	if (rc)
		return rc;
	if (secs <= 0 || secs > MAX_SECS)
		return err_set(IMDR_EINVAL, "key cache: %lld seconds is out of range",
		    (long long)secs);
	p = secmem_alloc(PAYLOAD_LEN);
	p[0] = PAYLOAD_VERSION;
	memcpy(p + 1, e->repo_id, 32);
	memcpy(p + 1 + 32, &e->key, sizeof(e->key));
	snprintf((char *)p + 1 + 32 + sizeof(e->key), KEYCACHE_SLOT_MAX, "%s", e->slot);
	describe(handle, desc, sizeof(desc));
	/* a new key is made with the possessor's rights and the user's view
	 * only (the kernel's default), so it is never readable by more */
	k = add_key("user", desc, p, PAYLOAD_LEN, ring);
	secmem_free(p);
	if (k < 0)
		return unavailable("adding a key", errno);
	if (keyctl_setperm(k, ENTRY_PERM) < 0 || keyctl_set_timeout(k, (unsigned)secs) < 0) {
		int e2 = errno;

		keyctl_invalidate(k);
		return unavailable("setting the cached key's permissions and timeout", e2);
	}
	return IMDR_OK;
}

int
keycache_drop(const char *handle)
{
	key_serial_t k;
	int rc = find(handle, &k);

	if (rc)
		return rc;
	if (keyctl_invalidate(k) < 0 && errno != ENOKEY && errno != EKEYEXPIRED)
		return unavailable("dropping a cached key", errno);
	return IMDR_OK;
}

int
keycache_drop_all(size_t *ret_n)
{
	key_serial_t ring = 0, *ids = NULL;
	void *buf = NULL;
	long n;
	int rc = session(&ring);

	*ret_n = 0;
	if (rc)
		return rc;
	n = keyctl_read_alloc(ring, &buf);
	if (n < 0)
		return unavailable("listing the session keyring", errno);
	ids = buf;
	for (long i = 0; i < n / (long)sizeof(key_serial_t); i++) {
		char *d = NULL;
		/* "type;uid;gid;perm;description" */
		if (keyctl_describe_alloc(ids[i], &d) < 0)
			continue;
		if (strncmp(d, "user;", 5) == 0) {
			const char *desc = d;

			for (int f = 0; f < 4 && desc; f++)
				if ((desc = strchr(desc, ';')) != NULL)
					desc++;
			if (desc && strncmp(desc, PREFIX, strlen(PREFIX)) == 0 &&
			    strlen(desc) == strlen(PREFIX) + KEYCACHE_HANDLE_HEX &&
			    keyctl_invalidate(ids[i]) == 0)
				(*ret_n)++;
		}
		free(d);
	}
	free(buf);
	return IMDR_OK;
}

int
keycache_parse_duration(const char *s, int64_t *ret_secs)
{
	char *end;
	double v;
	int64_t mult = 1;

	if (s == NULL || *s == '\0')
		return err_set(IMDR_EINVAL, "key cache: an empty duration");
	if (strcmp(s, "off") == 0 || strcmp(s, "0") == 0) {
		*ret_secs = 0;
		return IMDR_OK;
	}
	errno = 0;
	v = strtod(s, &end);
	if (end == s || errno || v <= 0)
		goto bad;
	if (strcmp(end, "s") == 0 || *end == '\0')
		mult = 1;
	else if (strcmp(end, "m") == 0)
		mult = 60;
	else if (strcmp(end, "h") == 0)
		mult = 3600;
	else if (strcmp(end, "d") == 0)
		mult = 86400;
	else
		goto bad;
	if (v * (double)mult > MAX_SECS)
		return err_set(IMDR_EINVAL, "key cache: %s is longer than 30 days", s);
	*ret_secs = (int64_t)(v * (double)mult + 0.5);
	if (*ret_secs < 1)
		*ret_secs = 1;
	return IMDR_OK;
bad:
	return err_set(IMDR_EINVAL, "key cache: %s is not a duration (say 90s, 15m, 2h, 1d, or off)",
	    s);
}
