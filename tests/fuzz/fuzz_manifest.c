/* fuzz_manifest — a drill's manifest.json through manifest_index, then a
 * lookup of a path taken from the input and of one that is not there. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "engine/manifest.h"
#include "lib/err.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t n)
{
	struct manifest *m = NULL;
	size_t bad, first_bad;
	uint64_t size;
	char sha[65], path[32];
	size_t k = n < sizeof(path) - 1 ? n : sizeof(path) - 1;

	if (manifest_index((const char *)data, n, &m, &bad, &first_bad) != IMDR_OK) {
		err_clear();
		return 0;
	}
	memcpy(path, data + n - k, k);	/* the input's tail, up to a NUL in it */
	path[k] = '\0';
	manifest_lookup(m, path, &size, sha);
	manifest_lookup(m, "conversations/a--C1/messages.jsonl", &size, sha);
	manifest_free(m);
	return 0;
}
