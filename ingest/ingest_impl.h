/* ingest_impl — what the readers of ingest/ share; nothing outside ingest/
 * includes this. */
#ifndef IMDR_INGEST_IMPL_H
#define IMDR_INGEST_IMPL_H

#include <locale.h>
#include <stdint.h>

#include "ingest/ingest.h"
#include "lib/buf.h"

struct archive;
struct strmap;

/* files.c */
struct archive *ingest_archive_open(const char *path, int *ret_rc);
/* ingest_clean_path: an archive member name as a tree path (no "./" or
 * empty parts); NULL for an absolute name, a ".." part, or nothing left.
 * Caller frees. */
char *ingest_clean_path(const char *p);
/* ingest_locale_enter/leave: LC_CTYPE C.UTF-8 for this thread while
 * libarchive reads member names (see files.c); leave restores. */
locale_t ingest_locale_enter(void);
void ingest_locale_leave(locale_t old);

/* src.c — an export (a folder, an archive, or one file) read in passes.
 * Each pass calls fn for every regular file, in the source's own order
 * (sorted for folders), with its name relative to the export's root: when
 * everything sits in one top-level folder (as zips made by "compress
 * folder" do), that folder is the root. rd streams the bytes; fn may read
 * them or not. A non-zero return from fn ends the pass with that code. */
typedef int (*src_fn)(void *ctx, const char *name, uint64_t size,
    int64_t mtime_ns, const struct ingest_reader *rd);

struct src {
	char *path;		/* as given */
	int kind;		/* SRC_DIR, SRC_ARCHIVE, SRC_FILE */
	char *strip;		/* top-level folder removed from names, or NULL */
	char **names;		/* every regular file, after stripping, sorted */
	uint64_t *sizes;
	size_t n;
	struct strmap *dups;	/* names an archive holds more than once (each
				 * pass sees only the first), or NULL */
};

enum { SRC_DIR = 1, SRC_ARCHIVE, SRC_FILE };

/* src_open: look at path and list its files (one pass over an archive's
 * headers). */
int src_open(const char *path, struct src **ret);
void src_free(struct src *s);
/* src_has: name is one of the files; returns its index + 1, or 0. */
size_t src_has(const struct src *s, const char *name);
int src_scan(struct src *s, src_fn fn, void *ctx);
/* src_read_all: the whole of rd into out (for JSON documents), failing
 * beyond max bytes. */
int src_read_all(const struct ingest_reader *rd, const char *what, size_t max,
    struct buf *out);

/* strmap: string keys (copied) to string values (copied). */
struct strmap;
struct strmap *strmap_new(void);
void strmap_free(struct strmap *m);
/* strmap_put: keeps the first value of a key; 1 if added. */
int strmap_put(struct strmap *m, const char *key, const char *val);
/* strmap_set: adds key, or replaces its value. */
void strmap_set(struct strmap *m, const char *key, const char *val);
const char *strmap_get(const struct strmap *m, const char *key);

/* canon.c — the canonical tree of docs/FORMAT.md, written through a sink. */
struct canon;

enum canon_kind { CANON_CHANNEL, CANON_PRIVATE, CANON_GROUP, CANON_DM };

struct canon_user {
	const char *id, *name, *real_name, *email;
	int is_bot, deleted;
};

struct canon_att {
	const char *name;
	uint64_t size;
	const char *path;	/* "attachments/…" when the bytes are in the export */
	const char *url;
};

struct canon_msg {
	const char *id;
	int64_t ts_ms;
	const char *user;
	const char *text;
	const char *thread;	/* parent id, or NULL */
	int64_t edited_ms;	/* 0: not edited */
	int deleted;
	const char *subtype;
	struct json_t *reactions;	/* [{"name","users":[…]}], or NULL (borrowed) */
	const struct canon_att *atts;
	size_t natts;
	struct json_t *raw;	/* {…} of fields not modeled, or NULL (borrowed) */
};

/* canon_new: strict refuses what would otherwise be warned about and
 * worked around (two conversations that would share a folder). */
struct canon *canon_new(const struct ingest_sink *sink, const char *source_kind,
    int strict);
void canon_free(struct canon *cn);
const struct ingest_sink *canon_sink(struct canon *cn);
void canon_user(struct canon *cn, const struct canon_user *u);
/* canon_user_name: the display name of a user id (real name, else name,
 * else the id). */
const char *canon_user_name(struct canon *cn, const char *id);
int canon_has_user(struct canon *cn, const char *id);
/* canon_user_login: a user's short name (login), else the id. */
const char *canon_user_login(struct canon *cn, const char *id);
/* canon_conv: a conversation; *ret_index is its index. Its folder is
 * conversations/<slug>--<id>, with "-2", "-3"... added when another id
 * already reads the same (warned about; IMDR_EFORMAT when strict). */
int canon_conv(struct canon *cn, const char *id, const char *name,
    enum canon_kind kind, const char *const *members, size_t nmembers,
    int64_t created_ms, const char *topic, const char *purpose, int archived,
    size_t *ret_index);
/* canon_att_path: "attachments/<message id>-<file name>" for a file of
 * conversation conv, both parts made safe (canon_file_name), unique in the
 * conversation ("<message id>-2-<file name>" for a second file of that
 * name in one message). Caller frees. */
char *canon_att_path(struct canon *cn, size_t conv, const char *msgid,
    const char *name);
size_t canon_nconvs(struct canon *cn);
/* canon_conv_dir: "conversations/<slug>--<id>" of conversation i. */
const char *canon_conv_dir(struct canon *cn, size_t i);
void canon_msg(struct canon *cn, size_t conv, const struct canon_msg *m);
/* canon_emit_conv: write meta.json, messages.jsonl (time order, then id)
 * and transcript.txt of conversation i, and free its messages. */
int canon_emit_conv(struct canon *cn, size_t i);
/* canon_emit_file: a file of the tree (an attachment), streamed from rd
 * and hashed on the way. */
int canon_emit_file(struct canon *cn, const char *path, uint64_t size,
    int64_t mtime_ns, const struct ingest_reader *rd);
void canon_missing(struct canon *cn, const char *where, const char *name);
/* canon_refused: an attachment whose path would leave the export (why
 * says how): warned about and counted as missing; nothing is read. */
void canon_refused(struct canon *cn, const char *where, const char *path,
    const char *why);
/* canon_finish: users.jsonl and manifest.json (last). */
int canon_finish(struct canon *cn, char **ret_summary_json);
/* canon_msg_bytes: memory held by the messages not yet emitted. */
size_t canon_msg_bytes(struct canon *cn);

/* ingest.c — what a format's probe looks at (ingest.h, struct
 * ingest_format): the source's path and kind, and its listing, made on
 * first use (for an archive, one pass over its headers) and shared by
 * the probes. */
struct ingest_probe {
	const char *path;
	int kind;		/* SRC_DIR, SRC_ARCHIVE, SRC_FILE */
	struct src *s;		/* see probe_src */
	int rc;			/* why s could not be made */
};
/* probe_src: the listing, or NULL (p->rc says why). */
struct src *probe_src(struct ingest_probe *p);
/* probe_top_has: a regular file called name at the export's top. */
int probe_top_has(struct ingest_probe *p, const char *name);

/* The formats (each defined in its own file; the table is in ingest.c). */
extern const struct ingest_format ingest_fmt_files;
extern const struct ingest_format ingest_fmt_canonical;
extern const struct ingest_format ingest_fmt_slack;
extern const struct ingest_format ingest_fmt_mattermost;

/* Detection helpers: why src does (not) look like each format. */
int mattermost_looks(struct src *s, char **ret_jsonl);
int canonical_looks(const struct src *s);
int canonical_dir_looks(const char *dir);

/* json helpers (jansson) */
struct json_t;
int64_t json_num(struct json_t *v, int64_t dflt);	/* numbers or numeric strings */
const char *json_str(struct json_t *o, const char *key);
/* ts_parse_slack: "1700000000.000100" (or a number) into ms; -1 if bad. */
int64_t ts_parse_slack(const char *s);
/* slug_of: a safe file-name form of name (lowercase a-z0-9._- and UTF-8
 * letters, other runs as "-", at most 48 bytes cut at a character
 * boundary, never empty, "." or ".."). */
void slug_of(const char *name, char *out, size_t cap);
/* canon_file_name: name as one file name: "/", controls, undecodable
 * bytes, line separators and bidi overrides as "_"; at most cap - 1 bytes,
 * cut at a character boundary; "unnamed" for "", "." and "..". */
void canon_file_name(const char *name, char *out, size_t cap);
/* ts_scale: v * mul + add, saturating at the int64 bounds (mul > 0):
 * times from exports are any number, and overflow is undefined. Times are
 * written and read with lib/timefmt's time_format_ms and
 * time_parse_rfc3339_ms (years 1..9999). */
int64_t ts_scale(int64_t v, int64_t mul, int64_t add);

#endif
