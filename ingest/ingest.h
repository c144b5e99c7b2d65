/* ingest — readers of backup sources. A source is a directory, a file (a
 * .zip, .tar, .tar.gz, .tar.zst, or a Mattermost .jsonl), in one of the
 * formats of the table ingest_formats (ingest.c): each format is one file
 * of ingest/ holding its probe and its reader, and one row of the table.
 * The reader pushes the tree the snapshot should hold into a sink, one
 * entry at a time, streaming file contents through a reader the sink pulls
 * from. Archives are read as streams through libarchive; nothing is
 * extracted to disk.
 *
 * Chat formats produce the canonical tree of docs/FORMAT.md plus source/
 * holding the original export byte for byte. */
#ifndef IMDR_INGEST_H
#define IMDR_INGEST_H

#include <stddef.h>
#include <stdint.h>

enum ingest_type { INGEST_FILE = 1, INGEST_DIR = 2, INGEST_SYMLINK = 3 };

struct ingest_entry {
	/* relative to the snapshot root, '/'-separated, no leading or trailing
	 * '/', no "." or ".." parts, never empty */
	const char *path;
	enum ingest_type type;
	uint32_t mode;			/* permission bits (07777) */
	int64_t mtime_ns;
	uint64_t size;			/* FILE: bytes the reader should deliver */
	const char *link_target;	/* SYMLINK */
	/* For the files cache: set only when the bytes come straight from a
	 * regular file on disk (NULL otherwise). */
	const char *disk_path;		/* absolute */
	uint64_t dev, ino;
	int64_t ctime_ns;
};

/* A pull reader of one file's bytes. read() fills up to cap bytes; *ret_got
 * 0 means end of file. A non-zero return is an imdr_err (message set). */
struct ingest_reader {
	int (*read)(void *rs, void *buf, size_t cap, size_t *ret_got);
	void *rs;
};

struct ingest_sink {
	/* entry: called once per entry, parents before children is NOT
	 * guaranteed (archives). For FILE the sink may read rd to the end or
	 * not at all. A non-zero return aborts the ingest with that code. */
	int (*entry)(void *ctx, const struct ingest_entry *e,
	    const struct ingest_reader *rd);
	/* warn: something was left out or is missing (a vanished file, an
	 * unreadable file, a missing attachment); the ingest goes on. */
	void (*warn)(void *ctx, const char *path, const char *msg);
	void *ctx;
	/* wants (optional): will entry() read this file's bytes? Asked ahead
	 * of time for files on disk, so their reading can start early; a
	 * hint only, with no effect on what is backed up. NULL: always. */
	int (*wants)(void *ctx, const struct ingest_entry *e);
	/* named (optional): the export named itself (what ingest_result's
	 * source_name will say), told before its conversations are pushed,
	 * so the sink can find the same source's previous snapshot early. */
	void (*named)(void *ctx, const char *source_name);
};

struct ingest_format;

struct ingest_opts {
	const struct ingest_format *format;	/* NULL: detect */
	const char *attachments_dir;	/* Mattermost: where attachment paths point */
	/* One bad entry (a conversation id listed twice, an archive member
	 * given twice or inside a member that is a file, a malformed line or
	 * day file): 0 leaves that entry out, says so through sink->warn and
	 * backs up the rest; 1 refuses the whole export (IMDR_ESOURCE or
	 * IMDR_EFORMAT naming it). Paths that would leave the export are
	 * refused entry by entry in both modes. */
	int strict;
};

struct ingest_result {
	const struct ingest_format *format;	/* what was used */
	uint64_t warnings;
	/* For chat formats: a JSON object summarizing the source (kind, time
	 * span, counts); malloc'd, caller frees; NULL for files. */
	char *summary_json;
	/* A stable name for what was backed up, the same for the next day's
	 * export of the same workspace ("slack-T0123ABC", "mattermost-acme"),
	 * or NULL when the export names none; malloc'd, caller frees. */
	char *source_name;
};

/* A format, like libarchive's format bids: probe looks at a source and
 * bids (0: not this format; the highest bid wins, the table's order breaks
 * ties); run reads it into a sink. */
struct ingest_probe;
struct ingest_format {
	const char *name;		/* what --format takes */
	const char *what;		/* one line for help texts */
	int (*probe)(struct ingest_probe *p);
	int (*run)(const char *source, const struct ingest_opts *o,
	    const struct ingest_sink *sink, struct ingest_result *ret);
};

/* ingest_formats: every format, NULL-terminated, in the order help texts
 * list them. */
extern const struct ingest_format *const ingest_formats[];

/* ingest_format_find: the format called name, or NULL with a message
 * listing the known ones. */
const struct ingest_format *ingest_format_find(const char *name);

/* ingest_run: detect (unless opts->format says), then push every entry. On
 * malformed input: IMDR_ESOURCE with a message naming the file (and line
 * for JSON). */
int ingest_run(const char *source, const struct ingest_opts *opts,
    const struct ingest_sink *sink, struct ingest_result *ret);

/* ingest_detect: look at the source and name its format, without ingesting.
 * IMDR_ESOURCE when it cannot be read. */
int ingest_detect(const char *source, const struct ingest_opts *opts,
    const struct ingest_format **ret);

/* ingest_files: the `files` reader (directory or archive, as it is). Exposed
 * for the chat readers, which emit the original export under source/ with it:
 * every path gets prefix (e.g. "source") prepended when prefix is non-NULL. */
int ingest_files(const char *source, const char *prefix,
    const struct ingest_sink *sink);
/* ingest_files_opts: the same, with opts->strict (opts may be NULL:
 * not strict). ingest_files is ingest_files_opts(source, prefix, NULL,
 * sink). */
int ingest_files_opts(const char *source, const char *prefix,
    const struct ingest_opts *opts, const struct ingest_sink *sink);

/* ingest_is_archive: path is an archive libarchive reads (zip, tar and its
 * compressed forms, 7z, cpio) holding at least one entry. */
int ingest_is_archive(const char *path);

#endif
