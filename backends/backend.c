#include "backends/backend_impl.h"

#include <stdlib.h>
#include <string.h>

#include "lib/err.h"
#include "lib/timefmt.h"

struct scheme {
	const char *prefix;
	const struct backend_ops *ops;
};

/* The URL scheme picks the ops; anything without a known scheme is a path. */
static const struct scheme schemes[] = {
	{ "file://", &backend_local },
	{ "s3://", &backend_s3 },
	{ "azure://", &backend_azure },
	{ "https://", &backend_https },
	{ "http://", &backend_https },
	{ "multi:", &backend_multi },
};

void
backend_base_init(struct backend *be, const struct backend_ops *ops,
    const char *url)
{
	be->ops = ops;
	be->url = xstrdup(url);
	memset(&be->st, 0, sizeof(be->st));
	be->traits.remote = ops->remote;
	be->traits.concurrency = 4;
}

void
backend_base_free(struct backend *be)
{
	free(be->url);
	be->url = NULL;
}

int
backend_open(const char *url, int create, struct backend **ret)
{
	const struct backend_ops *ops = &backend_local;

	for (size_t i = 0; i < sizeof(schemes) / sizeof(schemes[0]); i++) {
		if (strncmp(url, schemes[i].prefix, strlen(schemes[i].prefix)) == 0) {
			ops = schemes[i].ops;
			break;
		}
	}
	if (ops == &backend_local && strstr(url, "://") != NULL &&
	    strncmp(url, "file://", 7) != 0)
		return err_set(IMDR_EUNSUP, "%s: unknown repository URL scheme", url);
	return ops->open(url, create, ret);
}

void
backend_close(struct backend *be)
{
	if (be == NULL)
		return;
	be->ops->close(be);
}

#define COUNT(be, field, n) __atomic_add_fetch(&(be)->st.field, (n), __ATOMIC_RELAXED)

static int
count_get(struct backend *be, int64_t t0, int rc, const struct buf *out)
{
	uint64_t dt, max;

	dt = (uint64_t)(time_mono_ns() - t0);
	COUNT(be, gets, 1);
	COUNT(be, get_ns_total, dt);
	max = __atomic_load_n(&be->st.get_ns_max, __ATOMIC_RELAXED);
	while (dt > max && !__atomic_compare_exchange_n(&be->st.get_ns_max,
	    &max, dt, 0, __ATOMIC_RELAXED, __ATOMIC_RELAXED))
		;
	if (rc == IMDR_OK)
		COUNT(be, bytes_in, out->len);
	else if (rc != IMDR_ENOENT)
		COUNT(be, errors, 1);
	return rc;
}

int
backend_get(struct backend *be, const char *name, uint64_t off, uint64_t len,
    struct buf *out)
{
	int64_t t0 = time_mono_ns();

	return count_get(be, t0, be->ops->get(be, name, off, len, out), out);
}

int
backend_get_ex(struct backend *be, const char *name, uint64_t off, uint64_t len,
    struct buf *out, struct backend_read *rd)
{
	int64_t t0 = time_mono_ns();

	if (be->ops->get_ex)
		return count_get(be, t0, be->ops->get_ex(be, name, off, len, out, rd), out);
	rd->replica = 0;
	if (rd->exclude & 1)
		return err_set(IMDR_ENOENT, "%s: no other replica of %s to read", name, be->url);
	if (rd->direct && be->ops->get_direct)
		return count_get(be, t0, be->ops->get_direct(be, name, off, len, out), out);
	return count_get(be, t0, be->ops->get(be, name, off, len, out), out);
}

int
backend_put(struct backend *be, const char *name, const void *data, size_t len)
{
	int rc;

	if (be->ops->read_only)
		return err_set(IMDR_EPERM, "%s: repository is read-only (%s)",
		    be->url, be->ops->name);
	rc = be->ops->put(be, name, data, len);
	COUNT(be, puts, 1);
	if (rc == IMDR_OK)
		COUNT(be, bytes_out, len);
	else
		COUNT(be, errors, 1);
	return rc;
}

int
backend_put_new(struct backend *be, const char *name, const void *data, size_t len)
{
	int rc;

	if (be->ops->put_new == NULL || be->ops->read_only)
		return backend_put(be, name, data, len);
	rc = be->ops->put_new(be, name, data, len);
	COUNT(be, puts, 1);
	if (rc == IMDR_OK)
		COUNT(be, bytes_out, len);
	else
		COUNT(be, errors, 1);
	return rc;
}

int
backend_stat(struct backend *be, const char *name, uint64_t *ret_size)
{
	COUNT(be, stats, 1);
	return be->ops->stat(be, name, ret_size);
}

int
backend_list(struct backend *be, const char *prefix, backend_list_cb cb,
    void *ctx)
{
	COUNT(be, lists, 1);
	return be->ops->list(be, prefix, cb, ctx);
}

int
backend_del(struct backend *be, const char *name)
{
	if (be->ops->read_only)
		return err_set(IMDR_EPERM, "%s: repository is read-only (%s)",
		    be->url, be->ops->name);
	COUNT(be, dels, 1);
	return be->ops->del(be, name);
}

const char *
backend_name(const struct backend *be)
{
	return be->ops->name;
}

const char *
backend_url(const struct backend *be)
{
	return be->url;
}

int
backend_read_only(const struct backend *be)
{
	return be->ops->read_only;
}

void
backend_get_stats(const struct backend *be, struct backend_stats *ret)
{
	uint64_t *dst = (uint64_t *)ret;
	const uint64_t *src = (const uint64_t *)&be->st;

	for (size_t i = 0; i < sizeof(*ret) / sizeof(uint64_t); i++)
		dst[i] = __atomic_load_n(&src[i], __ATOMIC_RELAXED);
}

void
backend_get_traits(const struct backend *be, struct backend_traits *ret)
{
	*ret = be->traits;
}

void
backend_abort(struct backend *be)
{
	if (be->ops->abort)
		be->ops->abort(be);
}

void
backend_widen(struct backend *be, int n)
{
	if (be->ops->widen)
		be->ops->widen(be, n);
}

void
backend_bad_object(struct backend *be, int replica, const char *name,
    const char *why)
{
	if (be->ops->bad_object)
		be->ops->bad_object(be, replica, name, why);
}

int
backend_replicas(const struct backend *be)
{
	return be->ops->replicas ? be->ops->replicas(be) : 1;
}

struct backend *
backend_replica(struct backend *be, int i)
{
	return be->ops->replica ? be->ops->replica(be, i) : be;
}

void
backend_replica_info(struct backend *be, int i, struct backend_replica_info *ret)
{
	struct backend_stats st;

	if (be->ops->replica_info) {
		be->ops->replica_info(be, i, ret);
		return;
	}
	memset(ret, 0, sizeof(*ret));
	backend_get_stats(be, &st);
	ret->url = be->url;
	ret->kind = be->ops->name;
	ret->remote = be->traits.remote;
	ret->latency_ms = ret->p95_ms = -1;
	ret->served = st.gets;
	ret->served_bytes = st.bytes_in;
	ret->errors = st.errors;
	ret->writes = st.puts;
	ret->write_bytes = st.bytes_out;
}

void
backend_set_policy(struct backend *be, const struct backend_policy *p)
{
	if (be->ops->set_policy)
		be->ops->set_policy(be, p);
}
