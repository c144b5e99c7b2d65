/* export_impl — what export.c and its writers share; private to engine/. */
#ifndef IMDR_ENGINE_EXPORT_IMPL_H
#define IMDR_ENGINE_EXPORT_IMPL_H

#include <stddef.h>
#include <stdint.h>

#include "lib/buf.h"
#include "lib/smap.h"

/* ---- outw.c: files out, each hashed as it is written ----
 * Into a folder (created 0700; files 0600; every path opened below it a
 * component at a time, never through a symlink), into a zip file, or
 * into a zip streamed to a callback (RSMF's rsmf.zip, base64'd into its
 * message). Zip entries: deflated or stored, times fixed. */

struct outw_file {
	char *path;
	uint64_t size;
	uint8_t sha256[32];
};

struct outw;

/* outw_dir: dir must not exist or be empty. */
int outw_dir(const char *dir, struct outw **ret);
/* outw_zip: a new zip file at path (must not exist). */
int outw_zip(const char *path, struct outw **ret);
/* outw_zip_stream: a zip whose bytes go to fn (returns an imdr_err). */
typedef int (*outw_sink)(void *ctx, const void *p, size_t n);
int outw_zip_stream(outw_sink fn, void *ctx, struct outw **ret);

/* outw_begin: start file path ('/'-separated, relative); size is exact
 * for zips (-1: unknown, folders only); compress: deflate in a zip. */
int outw_begin(struct outw *w, const char *path, int64_t size, int compress);
int outw_write(struct outw *w, const void *p, size_t n);
int outw_end(struct outw *w);
/* outw_put: begin, write all of p, end. */
int outw_put(struct outw *w, const char *path, const void *p, size_t n, int compress);
/* outw_files: every file ended so far, in the order written. */
const struct outw_file *outw_files(const struct outw *w, size_t *ret_n);
/* outw_close: finish (a zip's central directory); frees w. A failed
 * export leaves what was written. */
int outw_close(struct outw *w);
void outw_abort(struct outw *w);

/* ---- export.c: what was selected ---- */

struct snapshot;
struct repo;
struct export_opts;
struct export_result;
struct chat_user;

struct xsnap {
	struct snapshot *s;
	size_t source;			/* index into xrun.src */
};

struct xsource {
	char *name;
	char *dir;			/* output prefix ("" for one source) */
	size_t newest;			/* its newest xsnap read */
	struct chat_user *users;	/* of that snapshot, sorted by id */
	size_t nusers;
	struct buf users_raw;		/* users.jsonl as it was */
};

/* a text a message had: its versions, when the text changed */
struct xver {
	char *text;
	int64_t edited_ms;
	long seen;			/* first xsnap with it */
};

struct xmsg {
	size_t conv;
	char *mid;
	int64_t ts_ms;
	char *line;			/* the latest version, as in messages.jsonl */
	struct xver *ver;
	size_t nver;
	long first, last;		/* xsnaps that held it */
	long line_snap;			/* where `line` was seen last */
	const char *line_folder;	/* its conversation's folder there */
};

struct xconv {
	size_t source;
	char *key;			/* the conversation's id */
	char *folder;			/* latest */
	char *meta_raw;			/* meta.json as it was, latest */
	size_t meta_len;
	char *kind, *name;		/* from meta.json */
	char **members;
	size_t nmembers;
	uint8_t mj[32];			/* content of the last messages.jsonl read */
	int have_mj;
	size_t *cur;			/* its messages selected from that version */
	size_t ncur, capcur;
	size_t *sel;			/* every message selected, sorted at the end */
	size_t nsel, capsel;
};

struct xrun {
	struct repo *r;
	const struct export_opts *o;
	struct export_result *res;
	struct xsnap *snaps;
	size_t nsnaps;
	struct xsource *src;
	size_t nsrc;
	struct xconv *conv;
	size_t nconv;
	struct xmsg *msg;
	size_t nmsg;
	struct smap conv_by_key, msg_by_key, hits, written;
	int has_query, has_from, has_to;
	int64_t from_ms, to_ms;
};

/* xrun_user: the display name of user id in source s, or NULL. */
const char *xrun_user(const struct xrun *x, size_t s, const char *id);
/* xrun_attachment: the tree path of attachment `path` of a message whose
 * conversation folder is `folder`, normalized ("../x" resolved), or NULL
 * when it leaves the tree; caller frees. */
char *xrun_att_path(const char *folder, const char *path);
/* xrun_copy_file: stream the snapshot file at tree path into w's open
 * file (begun with its size); *ret_size (may be NULL) gets the size
 * without writing when w is NULL. */
int xrun_copy_file(struct xrun *x, long snap, const char *path, struct outw *w,
    uint64_t *ret_size);
/* xrun_deleted_later: --all: the message is gone from its source's
 * newest snapshot; *ret_gone (may be NULL) the first xsnap without it. */
int xrun_deleted_later(const struct xrun *x, const struct xmsg *m, long *ret_gone);

/* ---- rsmf.c ---- */

/* rsmf_write_day: the RSMF file(s) of conversation c's messages
 * msgs[0..n) (xmsg indices: one UTC day, in time order) into w, as
 * <prefix><folder>/<day>.rsmf (and -partN past EXPORT_RSMF_MAX_EVENTS). */
int rsmf_write_day(struct xrun *x, struct outw *w, const struct xconv *c,
    const size_t *msgs, size_t n, const char *day, const char *prefix);

/* base64: append the base64 of n bytes (no line breaks). */
void b64_append(struct buf *out, const uint8_t *p, size_t n);

#endif
