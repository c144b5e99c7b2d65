/* backend_impl — what a backend implementation embeds. Only backends/ includes
 * this. Each implementation's struct starts with `struct backend base;`. */
#ifndef IMDR_BACKEND_IMPL_H
#define IMDR_BACKEND_IMPL_H

#include "backends/backend.h"

struct backend {
	const struct backend_ops *ops;
	char *url;		/* redacted: no keys, tokens or passwords */
	struct backend_stats st;	/* updated atomically by the wrappers */
};

/* backend_base_init: fill the common part; url is copied (redact first). */
void backend_base_init(struct backend *be, const struct backend_ops *ops,
    const char *url);
void backend_base_free(struct backend *be);

extern const struct backend_ops backend_local;
extern const struct backend_ops backend_s3;
extern const struct backend_ops backend_azure;
extern const struct backend_ops backend_https;

#endif
