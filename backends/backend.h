/* backend — object stores behind one vtable. An object is named by a relative
 * path such as "config", "keys/<id>" or "data/ab/<packid>". Objects are
 * write-once: put never replaces an existing object. Every function is safe to
 * call from several threads at once on one backend.
 *
 * The URL picks the ops: "/path" or "file:///path" (local), "s3://...",
 * "azure://...", "http(s)://..." (read-only), "multi:..." and so on. */
#ifndef IMDR_BACKEND_H
#define IMDR_BACKEND_H

#include <stdint.h>

#include "lib/buf.h"

#define BACKEND_WHOLE UINT64_MAX

struct backend;

/* list callback: name relative to the repository root, and the object's size.
 * A non-zero return stops the listing and is returned by backend_list. */
typedef int (*backend_list_cb)(void *ctx, const char *name, uint64_t size);

struct backend_ops {
	const char *name;
	/* open: parse url; with create, make the bucket/container/folder if it
	 * is missing. On success *ret is a struct that starts with struct
	 * backend (see backend_impl.h). */
	int (*open)(const char *url, int create, struct backend **ret);
	/* get: replace out's contents with len bytes at off (BACKEND_WHOLE: to
	 * the end). IMDR_ENOENT if missing; a range past the end is an error
	 * (IMDR_EFORMAT). Implementations send explicit ranges only. */
	int (*get)(struct backend *be, const char *name, uint64_t off,
	    uint64_t len, struct buf *out);
	/* put: create the object; IMDR_EEXIST if it exists already. The object
	 * appears whole or not at all. */
	int (*put)(struct backend *be, const char *name, const void *data,
	    size_t len);
	/* stat: IMDR_OK and size, or IMDR_ENOENT. */
	int (*stat)(struct backend *be, const char *name, uint64_t *ret_size);
	/* list: every object whose name starts with prefix ("snapshots/",
	 * "data/"), in no particular order. */
	int (*list)(struct backend *be, const char *prefix, backend_list_cb cb,
	    void *ctx);
	/* del: remove; IMDR_OK also when it was already gone. */
	int (*del)(struct backend *be, const char *name);
	void (*close)(struct backend *be);
	/* read_only: set for backends that cannot write (https). */
	int read_only;
	/* remote: every request crosses a network (round trips cost more than
	 * bytes); local disks are not. */
	int remote;
};

/* What a backend likes, asked of it rather than guessed from its name:
 * whether it is remote, and how many requests it serves well at once
 * (its connection pool; a local disk a few). Readers and writers size
 * their parallelism and read-ahead from this. */
struct backend_traits {
	int remote;
	int concurrency;
};

/* Counters kept by the generic wrappers for every backend (.imdr/stats). */
struct backend_stats {
	uint64_t gets, puts, lists, dels, stats;
	uint64_t bytes_in, bytes_out;
	uint64_t errors;
	uint64_t get_ns_total;	/* summed latency of gets */
	uint64_t get_ns_max;
};

/* backend_open: choose the ops by URL scheme and open. */
int backend_open(const char *url, int create, struct backend **ret);
void backend_close(struct backend *be);

int backend_get(struct backend *be, const char *name, uint64_t off,
    uint64_t len, struct buf *out);
int backend_put(struct backend *be, const char *name, const void *data,
    size_t len);
int backend_stat(struct backend *be, const char *name, uint64_t *ret_size);
int backend_list(struct backend *be, const char *prefix, backend_list_cb cb,
    void *ctx);
int backend_del(struct backend *be, const char *name);

/* backend_name: "local", "s3", ... ; backend_url: the URL with any secret
 * parts removed, fit for logs and messages. */
const char *backend_name(const struct backend *be);
const char *backend_url(const struct backend *be);
int backend_read_only(const struct backend *be);
void backend_get_stats(const struct backend *be, struct backend_stats *ret);
void backend_get_traits(const struct backend *be, struct backend_traits *ret);

#endif
