/* fuzz_keyslot — a key slot's bytes through repo_key_slot_parse. A slot
 * starts with SHA-256 of the rest, which mutations would almost never
 * match: when the first input byte is even, the rest of the input is the
 * JSON and the harness puts its checksum in front; when odd, the input is
 * the slot as it is. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/buf.h"
#include "lib/err.h"
#include "repo/crypto.h"
#include "repo/repo.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t n)
{
	struct key_slot ks;
	uint8_t *slot;
	size_t len;

	if (n == 0)
		return 0;
	if (data[0] & 1) {
		slot = xmalloc(n - 1 ? n - 1 : 1);
		memcpy(slot, data + 1, n - 1);
		len = n - 1;
	} else {
		slot = xmalloc(32 + n - 1);
		crypto_sha256(data + 1, n - 1, slot);
		memcpy(slot + 32, data + 1, n - 1);
		len = 32 + n - 1;
	}
	if (repo_key_slot_parse("keys/fuzz", slot, len, &ks) == IMDR_OK) {
		if (ks.N < 2 || ks.r == 0 || ks.p == 0 || (ks.wlen && ks.wrapped == NULL))
			__builtin_trap();
		repo_key_slot_clear(&ks);
	} else
		err_clear();
	free(slot);
	return 0;
}
