/* export — what the three chat-reader harnesses share: the fuzz input
 * becomes an export (a tar built in memory, read through a memfd, so every
 * name and byte reaches the readers as an archive would give them), the
 * reader runs into a sink that checks what comes out, and any broken
 * promise is a crash libFuzzer reports.
 *
 * Input: records split on the byte 0x00. A record is "NAME\x01CONTENT",
 * or just "CONTENT" for the i-th default name of the harness. A NAME that
 * starts with \x02 makes a symlink member (CONTENT is its target), with
 * \x03 a folder member. Names are raw bytes: "../x", "/x", 0xff, newlines.
 *
 * Checks (each a __builtin_trap when broken):
 *   - every entry path is relative, without "", "." or ".." parts;
 *   - no file handed to the sink is the host file (one outside the
 *     export and the attachments folder, random per process, compared by
 *     SHA-256: see fuzz_attachments_dir);
 *   - chat formats: manifest.json, meta.json and every line of
 *     messages.jsonl and users.jsonl parse as JSON (jansson refuses
 *     strings that are not UTF-8); transcript.txt holds no ESC, raw CR
 *     or C1 control, and every line is a message line (at column 0 or 4,
 *     starting "[") or a continuation (eight or more spaces). */
#ifndef IMDR_FUZZ_EXPORT_H
#define IMDR_FUZZ_EXPORT_H

#include <stddef.h>
#include <stdint.h>

#include "ingest/ingest.h"

/* fuzz_export_run: build the export from data (default names in
 * defaults, NULL-terminated), ingest it as the format called format
 * ("slack", ...) with the checking sink. */
void fuzz_export_run(const uint8_t *data, size_t n, const char *const *defaults,
    const char *format, const char *attachments_dir, int chat);

/* fuzz_attachments_dir: a folder made once per process with a.txt,
 * sub/b.txt, and symlinks leading out of it to the host marker file
 * (link -> ../secret.txt, abslink -> /abs/secret.txt, up -> ..). */
const char *fuzz_attachments_dir(void);

#endif
