/* fuzz_slack — the Slack reader on an export made from the input (see
 * export.h): records 0..7 default to the lists, two day files and an
 * upload, so plain JSON mutations reach the parsers at once. */
#include <stddef.h>
#include <stdint.h>

#include "tests/fuzz/export.h"

static const char *const defaults[] = {
	"users.json", "channels.json", "groups.json", "dms.json", "mpims.json",
	"general/2026-11-23.json", "D01ANNBOB/2026-11-24.json",
	"__uploads/F01CONTRACT/contract.pdf", NULL,
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t n)
{
	fuzz_export_run(data, n, defaults, "slack", NULL, 1);
	return 0;
}
