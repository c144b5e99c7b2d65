/* manifest — a snapshot's manifest.json (docs/FORMAT.md: {"files":
 * [{"path", "size", "sha256"}, ...], ...}) as an index from path to
 * entry, for checking restored files against it.
 *
 * Parsing the whole document into a jansson tree costs about 45 ms of CPU
 * for the 19,000 files of the full corpus (3.5 MB): an object and a hash
 * table for every entry. A drill of a 5 % sample needs 5 % of the entries,
 * and that parse was the largest part of what the sample cost beyond the
 * restore itself. So the index is made by a scan of the JSON's structure
 * (strings, nesting, separators: every byte looked at once, nothing
 * allocated but the index), keeping for each entry its path and where it
 * lies, in a hash table of the paths; jansson parses an entry only when
 * it is looked up, and decodes any string with an escape in it. The text
 * is not copied: it must outlive the index. */
#ifndef IMDR_ENGINE_MANIFEST_H
#define IMDR_ENGINE_MANIFEST_H

#include <stddef.h>
#include <stdint.h>

struct manifest;

/* manifest_index: index the JSON text (n bytes, borrowed). IMDR_OK and
 * *ret (free it with manifest_free), or IMDR_EFORMAT with a message when
 * the text is not a JSON object with a "files" array. *ret_bad counts the
 * entries that are not objects with a "path" string (left out; the first
 * of them is entry *ret_first_bad). */
int manifest_index(const char *text, size_t n, struct manifest **ret,
    size_t *ret_bad, size_t *ret_first_bad);

/* manifest_lookup: path's entry: its size and its SHA-256 as 64 lowercase
 * or uppercase hex digits, as the manifest has it (NUL-terminated).
 * IMDR_ENOENT when the manifest does not list path; IMDR_EFORMAT when its
 * entry is not {path, size, sha256}; a path listed twice: its first entry.
 * Safe from several threads at once. */
int manifest_lookup(const struct manifest *m, const char *path,
    uint64_t *ret_size, char ret_sha[65]);

/* manifest_count: the entries indexed. */
size_t manifest_count(const struct manifest *m);

/* manifest_free: NULL is a no-op. */
void manifest_free(struct manifest *m);

#endif
