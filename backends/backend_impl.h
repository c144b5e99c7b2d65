/* backend_impl — what a backend implementation embeds. Only backends/ includes
 * this. Each implementation's struct starts with `struct backend base;`. */
#ifndef IMDR_BACKEND_IMPL_H
#define IMDR_BACKEND_IMPL_H

#include "backends/backend.h"

struct backend {
	const struct backend_ops *ops;
	char *url;		/* redacted: no keys, tokens or passwords */
	struct backend_stats st;	/* updated atomically by the wrappers */
	struct backend_traits traits;	/* set at open (base_init: defaults) */
};

/* backend_base_init: fill the common part; url is copied (redact first).
 * traits start as {ops->remote, 4}; an implementation with a connection
 * pool sets traits.concurrency to its size. */
void backend_base_init(struct backend *be, const struct backend_ops *ops,
    const char *url);
void backend_base_free(struct backend *be);

extern const struct backend_ops backend_local;
extern const struct backend_ops backend_s3;
extern const struct backend_ops backend_azure;
extern const struct backend_ops backend_https;
extern const struct backend_ops backend_multi;

#endif
