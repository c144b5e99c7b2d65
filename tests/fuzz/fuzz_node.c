/* fuzz_node — cat_node_decode on any bytes (a tree blob's plaintext), and
 * everything a reader then does with a node: every entry, every chunk of
 * every file, the chunk holding the last byte, lookup by name. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "catalog/catalog.h"
#include "lib/err.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t n)
{
	struct cat_node *node = NULL;

	if (cat_node_decode(data, n, &node) != IMDR_OK) {
		err_clear();
		return 0;
	}
	for (uint32_t i = 0; i < cat_node_count(node); i++) {
		const struct cat_entry *e = cat_node_entry(node, i);
		struct blob_ref ref;
		uint64_t off, sum = 0;

		if (e->name == NULL || e->name_len == 0 || memchr(e->name, '/', e->name_len))
			__builtin_trap();
		if (cat_node_find(node, e->name, e->name_len) != e)
			__builtin_trap();
		if (e->type != CAT_FILE)
			continue;
		for (uint32_t c = 0; c < e->nchunks; c++) {
			cat_chunk(node, e, c, &ref, &off);
			if (off != sum)
				__builtin_trap();
			sum += ref.raw_length;
		}
		if (sum != e->size)
			__builtin_trap();	/* the decoder promises size = sum of chunks */
		if (e->size > 0)
			cat_chunk_at(node, e, e->size - 1, &ref, &off);
	}
	cat_node_free(node);
	return 0;
}
