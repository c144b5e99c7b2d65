/* fuzz_snapshot — a snapshot object's plaintext JSON through
 * snapshot_parse. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "lib/err.h"
#include "repo/snapshot.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t n)
{
	struct snapshot *s = NULL;

	if (snapshot_parse("snapshots/fuzz", data, n, &s) != IMDR_OK) {
		err_clear();
		return 0;
	}
	if (s->host == NULL || s->source == NULL || s->format == NULL)
		__builtin_trap();
	for (size_t i = 0; i < s->nskipped; i++)
		if (s->skipped[i].path == NULL || s->skipped[i].reason == NULL)
			__builtin_trap();
	snapshot_free(s);
	return 0;
}
