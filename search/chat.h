/* chat — the canonical chat layout of a snapshot (docs/FORMAT.md,
 * "Canonical conversation layout") read back: messages.jsonl lines,
 * users.jsonl, meta.json, and whole files of a snapshot.
 *
 * Message lines are read by a small strict JSON scanner of its own rather
 * than jansson: the index reads every line of every changed conversation
 * during a backup, and building a tree of JSON values per line costs
 * several times more than the scan. users.jsonl and meta.json are small
 * and go through jansson. */
#ifndef IMDR_SEARCH_CHAT_H
#define IMDR_SEARCH_CHAT_H

#include <stddef.h>
#include <stdint.h>

#include "lib/buf.h"
#include "repo/repo.h"

struct chat_att {
	const char *name;
	uint64_t size;
	const char *path;	/* relative to the conversation's folder, or NULL */
	const char *url;	/* or NULL */
	const char *sha256;	/* or NULL */
};

struct chat_reaction {
	const char *name;
	const char **users;
	size_t nusers;
};

/* One line of messages.jsonl. Strings are NUL-terminated; absent optional
 * ones are NULL. */
struct chat_msg {
	const char *id;
	int64_t ts_ms;
	const char *user;
	const char *text;	/* "" when absent */
	const char *thread;	/* id of the thread's first message */
	int64_t edited_ms;	/* 0: not edited */
	int deleted;
	const char *subtype;
	struct chat_att *att;
	size_t natt;
	struct chat_reaction *react;
	size_t nreact;
};

struct chat_parser;

struct chat_parser *chat_parser_new(void);
void chat_parser_free(struct chat_parser *p);

/* chat_parse_msg: one line of messages.jsonl (n bytes, no newline). The
 * strings of *ret stay valid until the next call on p. IMDR_EFORMAT with
 * a message saying what is wrong (the caller adds file and line). */
int chat_parse_msg(struct chat_parser *p, const char *line, size_t n,
    struct chat_msg *ret);

/* chat_lines: call fn for each non-empty line of a messages.jsonl held in
 * data (n bytes), with its 1-based number; a non-zero return stops
 * (returned). */
typedef int (*chat_line_fn)(void *ctx, const char *line, size_t n,
    size_t lineno);
int chat_lines(const uint8_t *data, size_t n, chat_line_fn fn, void *ctx);

/* A user of users.jsonl. */
struct chat_user {
	char *id, *name, *real_name, *email;
	int is_bot, deleted;
};

/* chat_users_parse: users.jsonl into an array sorted by id; *ret freed
 * with chat_users_free. IMDR_EFORMAT naming the line. */
int chat_users_parse(const uint8_t *data, size_t n, struct chat_user **ret,
    size_t *ret_n);
void chat_users_free(struct chat_user *u, size_t n);
/* chat_user_find: by exact id, or NULL. */
const struct chat_user *chat_user_find(const struct chat_user *u, size_t n,
    const char *id);
/* chat_user_display: real name, else name, else id. */
const char *chat_user_display(const struct chat_user *u);

/* meta.json of a conversation. */
struct chat_meta {
	char *id, *name, *kind;	/* kind: channel, private, group, dm */
	char **members;
	size_t nmembers;
	char *topic, *purpose;
	int64_t created_ms;
	int archived;
};

int chat_meta_parse(const uint8_t *data, size_t n, struct chat_meta *ret);
void chat_meta_free(struct chat_meta *m);

/* chat_read_file: the whole of file path (e.g. "users.jsonl") of the
 * snapshot tree at root into out, refusing files over max bytes.
 * IMDR_ENOENT when there is no such file. */
int chat_read_file(struct repo *r, const struct blob_ref *root, const char *path,
    size_t max, struct buf *out);

/* chat_conv_key: the stable key of a conversation folder "<slug>--<id>":
 * meta's id when given, else the folder name. */
const char *chat_conv_key(const char *folder, const struct chat_meta *meta);

/* chat_folder_slug: length of the slug part of a folder name (before its
 * last "--"), or the whole length when there is none. */
size_t chat_folder_slug(const char *folder);

/* chat_is_chat_format: a snapshot format whose tree has the canonical
 * layout (canonical, slack, mattermost). */
int chat_is_chat_format(const char *format);

#endif
