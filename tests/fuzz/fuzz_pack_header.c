/* fuzz_pack_header — a pack header's plaintext (what pack_parse_header
 * decrypts) through pack_parse_header_plain. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "lib/err.h"
#include "repo/pack.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t n)
{
	static const uint8_t id[CRYPTO_ID_LEN] = { 0x5a };
	struct pack_entry *e = NULL;
	size_t count = 0;

	if (pack_parse_header_plain(id, data, n, &e, &count) != IMDR_OK) {
		err_clear();
		return 0;
	}
	for (size_t i = 0; i < count; i++)
		if (e[i].type > BLOB_TREE)
			__builtin_trap();
	free(e);
	return 0;
}
