/* restore — write a snapshot, or parts of it, into a folder: contents byte
 * for byte, modes and mtimes (folders' after their contents, since writing
 * into a folder changes its mtime).
 *
 * Nothing is written outside the target: every path is opened relative to
 * the target's folder one component at a time without following symlinks;
 * a symlink already standing where a folder or file goes is replaced, never
 * followed; modes and times are set on open descriptors or with
 * AT_SYMLINK_NOFOLLOW. setuid and setgid bits are dropped unless asked. */
#ifndef IMDR_ENGINE_RESTORE_H
#define IMDR_ENGINE_RESTORE_H

#include <stddef.h>
#include <stdint.h>

#include "engine/engine.h"
#include "repo/audit.h"
#include "repo/repo.h"
#include "repo/snapshot.h"

struct cat_node;
struct cat_entry;

struct restore_opts {
	const char *target;		/* created (0700) when missing */
	const char *const *include;	/* paths of the snapshot, or none: all */
	size_t ninclude;
	/* pick: restore only the files and symlinks for which it returns
	 * non-zero, in one walk of the tree, making their folders as they need
	 * them (a sample: many scattered files without resolving each path
	 * from the root); NULL: everything, or include. Called from the
	 * walking thread, node and e valid during the call only; *ret_file
	 * (NULL before the call) is what landed gets for the file. */
	int (*pick)(void *ctx, const char *path, const struct cat_node *node,
	    const struct cat_entry *e, void **ret_file);
	void *pick_ctx;
	/* landed: each file written whole, before it is closed: fd is the
	 * file, open for reading too (what landed can be read back while it
	 * is still in the page cache), dfd its folder and name its name there
	 * (to remove it, say); file is what pick gave, else NULL. Called from
	 * the worker that wrote the file's last chunk (the walking thread for
	 * an empty file), many at once, after its mode and mtime are set; a
	 * file that could not be restored is not landed. NULL: none. */
	void (*landed)(void *ctx, void *file, int fd, int dfd, const char *name);
	void *landed_ctx;
	int force;			/* replace existing files (symlinks are replaced always) */
	int keep_setuid;		/* restore setuid/setgid bits too */
	struct engine_events ev;	/* error(): a file that could not be restored */
};

struct restore_result {
	uint64_t files, bytes;		/* restored */
	uint64_t failed;		/* files left out: unreadable data */
	/* its record in the audit log (engine/trail.h): the id, or "" and
	 * audit_rc the reason (IMDR_EUNSUP: a read-only repository) */
	char audit_id[AUDIT_ID_HEX + 1];
	int audit_rc;
};

/* restore_run: restore snapshot s of r. A file whose data cannot be read
 * (damaged or missing blob) is reported through ev.error and left out; the
 * rest goes on, and the return is then IMDR_EAUTH naming the count.
 * Anything else (the target is full, unwritable, a file exists without
 * force) stops the restore with that error. Either way the restore is then
 * recorded in the audit log; a record that could not be written is told
 * through o->ev.error and ret->audit_rc, and leaves the return as it was. */
int restore_run(struct repo *r, const struct snapshot *s,
    const struct restore_opts *o, struct restore_result *ret);

#endif
