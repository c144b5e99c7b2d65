/* fuzz_index — an index object's plaintext through index_parse, then a
 * lookup of every id it claims to hold. */
#include <stddef.h>
#include <stdint.h>

#include "lib/err.h"
#include "repo/index.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t n)
{
	struct index *idx = index_new();
	uint8_t id[CRYPTO_ID_LEN] = { 0 };

	if (index_parse(idx, "index/fuzz", data, n) != IMDR_OK)
		err_clear();
	/* an id taken from the input, found or not */
	for (size_t i = 0; i < CRYPTO_ID_LEN && i + 2 < n; i++)
		id[i] = data[i + 2];
	index_lookup(idx, id, NULL, NULL);
	index_free(idx);
	return 0;
}
