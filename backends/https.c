/* https — a repository published behind any web server, read only.
 *
 *	https://HOST/PATH   (or http://)
 *
 * Objects are fetched with plain GETs carrying explicit Range headers.
 * Listing a folder (snapshots/, index/, keys/) reads the server's directory
 * index (the HTML page that Apache's and nginx's autoindex, python's
 * http.server and most others produce) and takes the links in it: the
 * server must have listings on for the repository's folders. Writing is
 * refused. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "backends/curl_dl.h"

#include "backends/backend_impl.h"
#include "backends/http.h"
#include "backends/sigv4.h"
#include "lib/err.h"

struct https {
	struct backend base;
	struct http_pool *pool;
	char *root;		/* URL without a trailing '/' */
};

static char *
obj_url(struct https *h, const char *name)
{
	struct buf b = BUF_INIT;

	buf_puts(&b, h->root);
	buf_putc(&b, '/');
	sigv4_uri_encode(name, 1, &b);
	buf_cstr(&b);
	return (char *)buf_steal(&b, NULL);
}

struct hdr {
	const char *line;
};

static int
add_hdr(void *ctx, const struct http_req *r, struct curl_slist **h)
{
	struct hdr *x = ctx;

	(void)r;
	if (x && x->line)
		*h = curl_slist_append(*h, x->line);
	return IMDR_OK;
}

static void https_close(struct backend *be);

static int
https_open(const char *url, int create, struct backend **ret)
{
	struct https *h;
	size_t n;
	int rc;

	/* no options: the URL is the repository's folder, as published */
	if ((rc = http_url_check(url, NULL)) != IMDR_OK)
		return rc;
	h = xcalloc(1, sizeof(*h));
	h->root = xstrdup(url);
	n = strlen(h->root);
	while (n > 0 && h->root[n - 1] == '/')
		h->root[--n] = '\0';
	backend_base_init(&h->base, &backend_https, h->root);
	if (create) {
		https_close(&h->base);
		return err_set(IMDR_EPERM, "%s: an http(s):// repository is read-only; create it with another backend and publish it", url);
	}
	h->pool = http_pool_new(16);
	h->base.traits.concurrency = 16;
	if (h->pool == NULL) {
		https_close(&h->base);
		return IMDR_EUNSUP;
	}
	*ret = &h->base;
	return IMDR_OK;
}

static int
https_get(struct backend *be, const char *name, uint64_t off, uint64_t len, struct buf *out)
{
	struct https *h = (struct https *)be;
	char range[96];
	struct hdr x = { NULL };
	char *url;
	struct http_req r = { "GET", NULL, NULL, 0, name, 1 };
	struct http_resp resp = { 0 };
	int rc, ranged;

	if (len == 0) {
		out->len = 0;
		return IMDR_OK;
	}
	ranged = http_range_header("Range", off, len, range);
	if (ranged)
		x.line = range;
	resp.into = out;	/* the bytes straight into the caller's buffer */
	url = obj_url(h, name);
	r.url = url;
	rc = http_do(h->pool, &r, add_hdr, &x, &resp);
	if (rc == IMDR_OK)
		rc = http_take_range("https", &r, &resp, ranged, off, len, out);
	http_resp_free(&resp);
	free(url);
	return rc;
}

static int
https_stat(struct backend *be, const char *name, uint64_t *ret_size)
{
	struct https *h = (struct https *)be;
	char *url = obj_url(h, name);
	struct http_req r = { "HEAD", url, NULL, 0, name, 0 };
	struct http_resp resp = { 0 };
	int rc = http_do(h->pool, &r, NULL, NULL, &resp);

	if (rc == IMDR_OK && resp.status >= 300)
		rc = http_error("https", &r, &resp);
	if (rc == IMDR_OK && ret_size)
		*ret_size = resp.content_length == (uint64_t)-1 ? 0 : resp.content_length;
	http_resp_free(&resp);
	free(url);
	return rc;
}

static int
unhex(int c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 :
	    c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* list_dir: the links of folder dir's index page ("" is the root); folders
 * (links ending in '/') are listed recursively. */
static int
list_dir(struct https *h, const char *dir, const char *prefix, backend_list_cb cb, void *ctx,
    int depth)
{
	char *url = dir[0] ? obj_url(h, dir) : xstrdup(h->root);
	char *u2 = xasprintf("%s/", url);
	struct http_req r = { "GET", u2, NULL, 0, dir[0] ? dir : "/", 1 };
	struct http_resp resp = { 0 };
	int rc = http_do(h->pool, &r, NULL, NULL, &resp);
	const char *p, *end;

	free(url);
	if (rc == IMDR_OK && resp.status == 404) {
		http_resp_free(&resp);
		free(u2);
		return IMDR_OK;	/* no such folder: nothing in it */
	}
	if (rc == IMDR_OK && resp.status >= 300)
		rc = http_error("https", &r, &resp);
	buf_cstr(&resp.body);
	p = (const char *)resp.body.data;
	end = p ? p + resp.body.len : NULL;
	while (rc == IMDR_OK && p && (p = strstr(p, "href=\"")) != NULL && p < end) {
		const char *q = strchr(p + 6, '"');
		struct buf name = BUF_INIT;
		char *child;

		if (q == NULL)
			break;
		for (const char *s = p + 6; s < q; s++) {
			if (*s == '%' && s + 2 < q && unhex(s[1]) >= 0 && unhex(s[2]) >= 0) {
				buf_putc(&name, (char)(unhex(s[1]) * 16 + unhex(s[2])));
				s += 2;
			} else
				buf_putc(&name, *s);
		}
		buf_cstr(&name);
		p = q + 1;
		/* only plain relative links to entries of this folder */
		if (name.len == 0 || name.data[0] == '/' || name.data[0] == '?' || name.data[0] == '#' ||
		    name.data[0] == '.' || strstr((char *)name.data, "://") ||
		    (strchr((char *)name.data, '/') && strchr((char *)name.data, '/') != (char *)name.data + name.len - 1)) {
			buf_free(&name);
			continue;
		}
		child = dir[0] ? xasprintf("%s/%s", dir, (char *)name.data) : xstrdup((char *)name.data);
		if (child[strlen(child) - 1] == '/') {
			child[strlen(child) - 1] = '\0';
			if (depth < 3)
				rc = list_dir(h, child, prefix, cb, ctx, depth + 1);
		} else if (strncmp(child, prefix, strlen(prefix)) == 0) {
			uint64_t size = 0;

			rc = https_stat(&h->base, child, &size);
			if (rc == IMDR_OK)
				rc = cb(ctx, child, size);
		}
		free(child);
		buf_free(&name);
	}
	http_resp_free(&resp);
	free(u2);
	return rc;
}

static int
https_list(struct backend *be, const char *prefix, backend_list_cb cb, void *ctx)
{
	struct https *h = (struct https *)be;
	char *dir = xstrdup(prefix);
	char *slash = strrchr(dir, '/');
	int rc;

	if (slash)
		*slash = '\0';
	else
		dir[0] = '\0';
	rc = list_dir(h, dir, prefix, cb, ctx, 0);
	free(dir);
	return rc;
}

static int
https_put(struct backend *be, const char *name, const void *data, size_t len)
{
	(void)data;
	(void)len;
	return err_set(IMDR_EPERM, "%s: %s: an http(s):// repository is read-only", backend_url(be), name);
}

static int
https_del(struct backend *be, const char *name)
{
	return https_put(be, name, NULL, 0);
}

static void
https_close(struct backend *be)
{
	struct https *h = (struct https *)be;

	http_pool_free(h->pool);
	free(h->root);
	backend_base_free(&h->base);
	free(h);
}

static void
https_abort(struct backend *be)
{
	http_pool_abort(((struct https *)be)->pool);
}

const struct backend_ops backend_https = {
	.name = "https",
	.open = https_open,
	.get = https_get,
	.put = https_put,
	.stat = https_stat,
	.list = https_list,
	.del = https_del,
	.close = https_close,
	.abort = https_abort,
	.read_only = 1,
	.remote = 1,
};
