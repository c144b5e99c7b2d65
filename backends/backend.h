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

/* ---- replicas ----
 * A replicated backend (multi:URL|URL|..., backends/multi.c) keeps the same
 * objects on several backends: writes go to all of them, reads to the
 * fastest healthy one. A reader whose bytes fail authentication asks again
 * with that replica excluded; every other backend is a set of one. */
#define BACKEND_MAX_REPLICAS 16

struct backend_read {
	uint32_t exclude;	/* in: replicas not to ask (bit i) */
	int replica;		/* out: the replica that answered */
	int direct;		/* in: out may come back with its bytes past a
				 * head (lib/buf.h), read around the page cache
				 * where the backend can (local) */
};

enum backend_replica_state {
	BACKEND_REPLICA_OK = 0,
	BACKEND_REPLICA_DOWN,		/* failed or stopped answering: set
					 * aside for a while, then probed */
	BACKEND_REPLICA_ABSENT,		/* answers, but holds no repository */
};

struct backend_replica_info {
	const char *url;	/* redacted, owned by the backend */
	const char *kind;	/* "local", "s3", ... */
	int remote;
	int state;		/* enum backend_replica_state */
	int lagging;		/* missed a write of this session */
	char why[512];		/* why down, absent or lagging ("" if none) */
	double latency_ms;	/* median of recent small reads; < 0: unknown */
	double p95_ms;		/* their 95th percentile; < 0: unknown */
	uint64_t served, served_bytes;	/* reads this replica answered */
	uint64_t hedges;	/* hedged requests sent to it */
	uint64_t hedges_won;	/* ... that answered first */
	uint64_t failovers;	/* reads it took over from another replica */
	uint64_t bad_objects;	/* objects it gave that failed authentication */
	char last_bad[160];	/* the last of them */
	uint64_t errors;	/* requests that failed */
	uint64_t writes, write_bytes;
};

/* How a replicated backend behaves; other backends ignore it. */
struct backend_policy {
	int min_writes;		/* replicas every write must reach (>= 1) */
	int hedge;		/* send hedged reads to a second replica */
};

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

	/* Optional (NULL: the generic wrappers below act as for one replica,
	 * or as put).
	 * put_new: put, from a caller that has just seen name absent (in a
	 * listing): a check for the object before writing it, which some
	 * services need for write-once, is skipped. A write racing another
	 * of the same name must carry the same bytes (copies do).
	 * abort: make every request in flight fail soon (within about a
	 * second) with IMDR_ENET; later requests work as usual. */
	int (*put_new)(struct backend *be, const char *name, const void *data,
	    size_t len);
	void (*abort)(struct backend *be);
	/* widen: keep up to n requests in flight from now on, unless the
	 * URL set the number (connections=); traits.concurrency follows. */
	void (*widen)(struct backend *be, int n);
	/* get_direct: get for a reader that takes out with a head
	 * (backend_read.direct). */
	int (*get_direct)(struct backend *be, const char *name, uint64_t off,
	    uint64_t len, struct buf *out);
	/* Replicated backends (multi) only. */
	int (*get_ex)(struct backend *be, const char *name, uint64_t off,
	    uint64_t len, struct buf *out, struct backend_read *rd);
	void (*bad_object)(struct backend *be, int replica, const char *name,
	    const char *why);
	int (*replicas)(const struct backend *be);
	struct backend *(*replica)(struct backend *be, int i);
	void (*replica_info)(struct backend *be, int i,
	    struct backend_replica_info *ret);
	void (*set_policy)(struct backend *be, const struct backend_policy *p);
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
/* backend_put_new: see backend_ops.put_new. */
int backend_put_new(struct backend *be, const char *name, const void *data,
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

/* backend_abort: see backend_ops.abort; a no-op where not supported. */
void backend_abort(struct backend *be);
/* backend_widen: see backend_ops.widen; a no-op where not supported. */
void backend_widen(struct backend *be, int n);

/* backend_get_ex: backend_get that may be told which replicas not to ask
 * (rd->exclude) and says which one answered (rd->replica). With every
 * replica excluded: IMDR_ENOENT ("no other replica"). */
int backend_get_ex(struct backend *be, const char *name, uint64_t off,
    uint64_t len, struct buf *out, struct backend_read *rd);
/* backend_bad_object: the bytes replica gave for name failed
 * authentication (why): counted, logged once with the replica, and that
 * replica is asked for name last from now on. */
void backend_bad_object(struct backend *be, int replica, const char *name,
    const char *why);
/* backend_replicas: how many replicas (1 unless replicated). */
int backend_replicas(const struct backend *be);
/* backend_replica: replica i's own backend (owned by be; be itself when
 * not replicated). */
struct backend *backend_replica(struct backend *be, int i);
/* backend_replica_info: what replica i is and how it has done. */
void backend_replica_info(struct backend *be, int i,
    struct backend_replica_info *ret);
void backend_set_policy(struct backend *be, const struct backend_policy *p);

#endif
