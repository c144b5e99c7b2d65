/* fuzz_mattermost — the Mattermost reader on an export made from the
 * input (see export.h): record 0 is export.jsonl, records 1..2 files in its
 * data/; attachment paths are also looked up in a real folder holding
 * symlinks that lead out to the host marker, which must never be read. */
#include <stddef.h>
#include <stdint.h>

#include "tests/fuzz/export.h"

static const char *const defaults[] = {
	"export.jsonl", "data/attachments/contract-draft.pdf", "data/attachments/cake.jpg", NULL,
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t n)
{
	fuzz_export_run(data, n, defaults, "mattermost", fuzz_attachments_dir(), 1);
	return 0;
}
