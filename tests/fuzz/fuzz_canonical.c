/* fuzz_canonical — the canonical reader (its line and meta.json checks,
 * the epoch-ts rewrite) on a tree made from the input (see export.h). */
#include <stddef.h>
#include <stdint.h>

#include "tests/fuzz/export.h"

static const char *const defaults[] = {
	"users.jsonl", "conversations/general--C01/meta.json",
	"conversations/general--C01/messages.jsonl", "conversations/general--C01/transcript.txt",
	"conversations/dm--D01/meta.json", "conversations/dm--D01/messages.jsonl", NULL,
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t n)
{
	fuzz_export_run(data, n, defaults, "canonical", NULL, 0);
	return 0;
}
