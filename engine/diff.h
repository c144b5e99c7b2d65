/* diff — what changed between two snapshots: files added, removed and
 * changed (catalog's cat_diff: folders equal on both sides are not even
 * read, so the cost follows the change), and, for chat snapshots, per
 * conversation the messages that are new, edited or deleted. Messages
 * are compared by id within a conversation, and a conversation by its id
 * (meta.json), so a renamed channel is one conversation, not a deleted
 * one and a new one. */
#ifndef IMDR_ENGINE_DIFF_H
#define IMDR_ENGINE_DIFF_H

#include <stddef.h>
#include <stdint.h>

#include "engine/engine.h"
#include "repo/repo.h"
#include "repo/snapshot.h"

enum diff_change { DIFF_ADDED = '+', DIFF_REMOVED = '-', DIFF_CHANGED = 'M' };

/* what changed about a changed file (bits) */
enum { DIFF_CONTENT = 1, DIFF_MODE = 2, DIFF_MTIME = 4 };

struct diff_file {
	const char *path;
	enum diff_change change;
	int is_dir;
	unsigned what;			/* DIFF_CHANGED: DIFF_* bits */
	uint64_t size_before, size_after;
};

struct diff_msg {
	const char *id;
	int64_t ts_ms;
	const char *user;		/* author's id */
	const char *user_name;		/* display name, or NULL */
	const char *text;		/* as in the later snapshot (deleted: the earlier) */
	const char *before;		/* edited: the text before */
};

struct diff_conv {
	const char *conversation;	/* folder in the later snapshot (else the earlier) */
	const char *before;		/* its folder in the earlier one, when renamed */
	int added, removed;		/* the whole conversation */
	const struct diff_msg *new_msgs, *edited, *deleted;
	size_t nnew, nedited, ndeleted;
	size_t other;			/* lines changed otherwise (reactions, files) */
};

struct diff_opts {
	int no_messages;		/* files only */
	/* each change, in path order; a non-zero return stops the diff */
	int (*file)(void *ctx, const struct diff_file *f);
	/* each conversation with changed messages, by folder */
	int (*conversation)(void *ctx, const struct diff_conv *c);
	void *ctx;
	struct engine_events ev;
};

struct diff_result {
	uint64_t added, removed, changed;	/* files (and folders) */
	uint64_t conversations;			/* with changed messages */
	uint64_t msgs_new, msgs_edited, msgs_deleted, msgs_other;
	uint64_t nodes_loaded, subtrees_skipped;
};

/* diff_run: compare snapshot a (earlier) with b. */
int diff_run(struct repo *r, const struct snapshot *a, const struct snapshot *b,
    const struct diff_opts *o, struct diff_result *ret);

#endif
