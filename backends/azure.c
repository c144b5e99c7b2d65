/* azure — Azure Blob Storage (and Azurite, Azure Stack).
 *
 *	azure://ACCOUNT/CONTAINER[/PREFIX][?endpoint=URL&connections=N]
 *
 * Credentials: AZURE_STORAGE_KEY (Shared Key: every request signed with
 * HMAC-SHA256 of the canonical string of the Blob service) or
 * AZURE_STORAGE_SAS_TOKEN (appended to every URL). The endpoint defaults to
 * https://ACCOUNT.blob.core.windows.net; for Azurite give
 * endpoint=http://127.0.0.1:10000/devstoreaccount1. Put Blob carries
 * If-None-Match: * (write-once); blobs over 64 MiB go up as 16 MiB blocks
 * and a block list. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <curl/curl.h>

#include "backends/curl_dl.h"
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "backends/backend_impl.h"
#include "backends/http.h"
#include "backends/sigv4.h"
#include "lib/err.h"

#define BLOCKS_OVER (64u << 20)
#define BLOCK_SIZE (16u << 20)
#define API_VERSION "2021-08-06"

struct azure {
	struct backend base;
	struct http_pool *pool;
	int conns_named;	/* the URL set connections= */
	char *account, *container, *prefix;
	char *origin;		/* scheme://host[:port] */
	char *base_path;	/* "" or "/devstoreaccount1" */
	unsigned char key[96];
	int keylen;
	char *sas;		/* without '?' */
	int maxresults;		/* ?maxresults=N: listing page size */
};

struct call {
	struct azure *a;
	const char *path;	/* encoded, from the origin */
	const char *query;	/* encoded, without the SAS */
	const char *extra[4];	/* "x-ms-...: v", "If-None-Match: *" */
};

static int
b64_decode(const char *in, unsigned char *out, int cap)
{
	size_t n = strlen(in);
	int len;

	if (n == 0 || n / 4 * 3 > (size_t)cap)
		return -1;
	len = EVP_DecodeBlock(out, (const unsigned char *)in, (int)n);
	if (len < 0)
		return -1;
	while (n > 0 && in[n - 1] == '=') {
		len--;
		n--;
	}
	return len;
}

struct qp {
	char *k, *v;
};

static int
cmp_qp(const void *a, const void *b)
{
	return strcmp(((const struct qp *)a)->k, ((const struct qp *)b)->k);
}

static int
hexv(int c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 :
	    c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

static char *
pct_decode(const char *s, size_t n)
{
	struct buf b = BUF_INIT;

	for (size_t i = 0; i < n; i++) {
		if (s[i] == '%' && i + 2 < n + 1 && hexv(s[i + 1]) >= 0 && hexv(s[i + 2]) >= 0) {
			buf_putc(&b, (char)(hexv(s[i + 1]) * 16 + hexv(s[i + 2])));
			i += 2;
		} else
			buf_putc(&b, s[i]);
	}
	buf_cstr(&b);
	return (char *)buf_steal(&b, NULL);
}

/* the Shared Key string to sign of the Blob service */
static void
string_to_sign(struct call *c, const struct http_req *r, const char *date, struct buf *out)
{
	struct azure *a = c->a;
	const char *inm = "", *range = "";
	char len[32] = "";
	struct qp *q = NULL;
	size_t nq = 0, capq = 0;
	const char *p;
	char **xh = NULL;
	size_t nx = 0;

	for (int i = 0; i < 4 && c->extra[i]; i++) {
		if (strncasecmp(c->extra[i], "If-None-Match: ", 15) == 0)
			inm = c->extra[i] + 15;
	}
	if (r->body_len > 0 || (strcmp(r->method, "PUT") == 0 && r->body_len > 0))
		snprintf(len, sizeof(len), "%zu", r->body_len);
	buf_printf(out, "%s\n\n\n%s\n\n%s\n\n\n\n%s\n\n%s\n", r->method, len,
	    strcmp(r->method, "PUT") == 0 && r->body_len > 0 ? "application/octet-stream" : "",
	    inm, range);
	/* canonicalized headers: x-ms-*, lowercase, sorted */
	xh = xcalloc(8, sizeof(char *));
	xh[nx++] = xasprintf("x-ms-date:%s", date);
	xh[nx++] = xasprintf("x-ms-version:%s", API_VERSION);
	for (int i = 0; i < 4 && c->extra[i]; i++) {
		if (strncasecmp(c->extra[i], "x-ms-", 5) == 0) {
			char *h = xstrdup(c->extra[i]), *colon = strchr(h, ':');

			for (char *t = h; t < colon; t++)
				if (*t >= 'A' && *t <= 'Z')
					*t = (char)(*t - 'A' + 'a');
			xh[nx++] = xasprintf("%.*s:%s", (int)(colon - h), h, colon + 2);
			free(h);
		}
	}
	for (size_t i = 0; i < nx; i++)
		for (size_t j = i + 1; j < nx; j++)
			if (strcmp(xh[j], xh[i]) < 0) {
				char *t = xh[i];

				xh[i] = xh[j];
				xh[j] = t;
			}
	for (size_t i = 0; i < nx; i++) {
		buf_printf(out, "%s\n", xh[i]);
		free(xh[i]);
	}
	free(xh);
	/* canonicalized resource: /account/path, then the query, decoded,
	 * sorted, one "name:value" a line */
	buf_printf(out, "/%s%s", a->account, c->path);
	for (p = c->query; p && *p;) {
		const char *amp = strchr(p, '&'), *eq;
		size_t l = amp ? (size_t)(amp - p) : strlen(p);

		eq = memchr(p, '=', l);
		if (nq == capq) {
			capq = capq ? capq * 2 : 8;
			q = xrealloc(q, capq * sizeof(*q));
		}
		q[nq].k = pct_decode(p, eq ? (size_t)(eq - p) : l);
		q[nq].v = eq ? pct_decode(eq + 1, l - (size_t)(eq - p) - 1) : xstrdup("");
		for (char *t = q[nq].k; *t; t++)
			if (*t >= 'A' && *t <= 'Z')
				*t = (char)(*t - 'A' + 'a');
		nq++;
		p = amp ? amp + 1 : NULL;
	}
	if (nq > 1)
		qsort(q, nq, sizeof(*q), cmp_qp);
	for (size_t i = 0; i < nq; i++) {
		buf_printf(out, "\n%s:%s", q[i].k, q[i].v);
		free(q[i].k);
		free(q[i].v);
	}
	free(q);
}

static int
sign(void *ctx, const struct http_req *r, struct curl_slist **h)
{
	struct call *c = ctx;
	struct azure *a = c->a;
	char date[64], line[512];
	time_t t = time(NULL);
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S GMT", &tm);
	snprintf(line, sizeof(line), "x-ms-date: %s", date);
	*h = curl_slist_append(*h, line);
	*h = curl_slist_append(*h, "x-ms-version: " API_VERSION);
	if (strcmp(r->method, "PUT") == 0 && r->body_len > 0)
		*h = curl_slist_append(*h, "Content-Type: application/octet-stream");
	for (int i = 0; i < 4 && c->extra[i]; i++)
		*h = curl_slist_append(*h, c->extra[i]);
	if (a->keylen > 0) {
		struct buf sts = BUF_INIT;
		unsigned char mac[32];
		unsigned int ml = 32;
		char b64[64];

		string_to_sign(c, r, date, &sts);
		HMAC(EVP_sha256(), a->key, a->keylen, sts.data, sts.len, mac, &ml);
		EVP_EncodeBlock((unsigned char *)b64, mac, 32);
		snprintf(line, sizeof(line), "Authorization: SharedKey %s:%s", a->account, b64);
		*h = curl_slist_append(*h, line);
		buf_free(&sts);
	}
	return IMDR_OK;
}

static char *
blob_path(struct azure *a, const char *name)
{
	struct buf b = BUF_INIT;

	buf_puts(&b, a->base_path);
	buf_putc(&b, '/');
	sigv4_uri_encode(a->container, 0, &b);
	if (name) {
		char *full = xasprintf("%s%s", a->prefix, name);

		buf_putc(&b, '/');
		sigv4_uri_encode(full, 1, &b);
		free(full);
	}
	buf_cstr(&b);
	return (char *)buf_steal(&b, NULL);
}

static int
request(struct azure *a, const char *method, const char *what, const char *path,
    const char *query, const void *body, size_t len, const char *const *extra,
    int keep, struct http_resp *resp)
{
	struct call c;
	struct http_req r;
	char *url;
	int rc;

	memset(&c, 0, sizeof(c));
	c.a = a;
	c.path = path;
	c.query = query ? query : "";
	for (int i = 0; extra && i < 4 && extra[i]; i++)
		c.extra[i] = extra[i];
	url = xasprintf("%s%s%s%s%s%s", a->origin, path,
	    (query && *query) || a->sas ? "?" : "", query ? query : "",
	    query && *query && a->sas ? "&" : "", a->sas ? a->sas : "");
	r = (struct http_req){ method, url, body, len, what, keep };
	rc = http_do(a->pool, &r, sign, &c, resp);
	free(url);
	return rc;
}

static int
fail(const char *method, const char *name, const struct http_resp *resp)
{
	struct http_req r = { method, NULL, NULL, 0, name, 0 };

	return http_error("azure", &r, resp);
}

static void azure_close(struct backend *be);

static int
azure_open(const char *url, int create, struct backend **ret)
{
	static const char *const known[] = { "endpoint", "connections", "maxresults", NULL };
	struct azure *a;
	const char *rest = url + 8, *q = strchr(rest, '?');
	char *path, *query, *endpoint, *v, *s1, *s2, *red;
	const char *key = getenv("AZURE_STORAGE_KEY"), *sas = getenv("AZURE_STORAGE_SAS_TOKEN");
	int conns = 16, rc = IMDR_OK;

	if ((rc = http_url_check(url, known)) != IMDR_OK)
		return rc;
	a = xcalloc(1, sizeof(*a));
	path = q ? xstrndup(rest, (size_t)(q - rest)) : xstrdup(rest);
	query = q ? xstrdup(q + 1) : xstrdup("");
	endpoint = http_query_get(query, "endpoint");

	s1 = strchr(path, '/');
	a->account = s1 ? xstrndup(path, (size_t)(s1 - path)) : xstrdup(path);
	if (a->account[0] == '\0' && getenv("AZURE_STORAGE_ACCOUNT")) {
		free(a->account);
		a->account = xstrdup(getenv("AZURE_STORAGE_ACCOUNT"));
	}
	s2 = s1 ? strchr(s1 + 1, '/') : NULL;
	a->container = s1 ? (s2 ? xstrndup(s1 + 1, (size_t)(s2 - s1 - 1)) : xstrdup(s1 + 1)) : xstrdup("");
	if (s2 && s2[1]) {
		size_t l = strlen(s2 + 1);

		a->prefix = s2[l] == '/' ? xstrdup(s2 + 1) : xasprintf("%s/", s2 + 1);
	} else
		a->prefix = xstrdup("");
	if ((v = http_query_get(query, "connections")) != NULL) {
		a->conns_named = 1;
		conns = atoi(v);
		free(v);
	}
	if ((v = http_query_get(query, "maxresults")) != NULL) {
		a->maxresults = atoi(v);
		free(v);
	}
	red = xasprintf("azure://%s/%s/%s%s%s", a->account, a->container, a->prefix,
	    endpoint ? "?endpoint=" : "", endpoint ? endpoint : "");
	backend_base_init(&a->base, &backend_azure, red);
	free(red);
	if (a->account[0] == '\0' || a->container[0] == '\0') {
		rc = err_set(IMDR_EINVAL, "%s: azure://ACCOUNT/CONTAINER[/PREFIX] expected", url);
		goto out;
	}
	if (endpoint) {
		const char *sep = strstr(endpoint, "://");
		const char *slash = sep ? strchr(sep + 3, '/') : NULL;

		if (sep == NULL) {
			rc = err_set(IMDR_EINVAL, "endpoint=%s: not a URL", endpoint);
			goto out;
		}
		a->origin = slash ? xstrndup(endpoint, (size_t)(slash - endpoint)) : xstrdup(endpoint);
		a->base_path = slash ? xstrdup(slash) : xstrdup("");
		if (strlen(a->base_path) > 0 && a->base_path[strlen(a->base_path) - 1] == '/')
			a->base_path[strlen(a->base_path) - 1] = '\0';
	} else {
		a->origin = xasprintf("https://%s.blob.core.windows.net", a->account);
		a->base_path = xstrdup("");
	}
	if (key && *key) {
		a->keylen = b64_decode(key, a->key, sizeof(a->key));
		if (a->keylen <= 0) {
			rc = err_set(IMDR_EINVAL, "AZURE_STORAGE_KEY is not a base64 account key");
			goto out;
		}
	} else if (sas && *sas)
		a->sas = xstrdup(sas[0] == '?' ? sas + 1 : sas);
	else {
		rc = err_set(IMDR_EPERM, "no Azure credentials: set AZURE_STORAGE_KEY or AZURE_STORAGE_SAS_TOKEN");
		goto out;
	}
	a->pool = http_pool_new(conns);
	a->base.traits.concurrency = conns;
	if (a->pool == NULL) {
		rc = IMDR_EUNSUP;
		goto out;
	}
	if (create) {
		struct http_resp resp = { 0 };
		char *cp = blob_path(a, NULL);

		rc = request(a, "PUT", a->container, cp, "restype=container", NULL, 0, NULL, 0, &resp);
		if (rc == IMDR_OK && resp.status >= 300 &&
		    strcmp(resp.error_code, "ContainerAlreadyExists") != 0)
			rc = fail("PUT container", a->container, &resp);
		http_resp_free(&resp);
		free(cp);
	}
out:
	free(path);
	free(query);
	free(endpoint);
	if (rc) {
		azure_close(&a->base);
		return rc;
	}
	*ret = &a->base;
	return IMDR_OK;
}

static int
azure_get(struct backend *be, const char *name, uint64_t off, uint64_t len, struct buf *out)
{
	struct azure *a = (struct azure *)be;
	char *path = blob_path(a, name);
	struct http_resp resp = { 0 };
	struct http_req r = { "GET", NULL, NULL, 0, name, 1 };
	char range[96];
	const char *extra[2] = { NULL, NULL };
	int rc, ranged;

	if (len == 0) {
		out->len = 0;
		free(path);
		return IMDR_OK;
	}
	resp.into = out;	/* the bytes straight into the caller's buffer */
	ranged = http_range_header("x-ms-range", off, len, range);
	if (ranged)
		extra[0] = range;
	rc = request(a, "GET", name, path, "", NULL, 0, extra, 1, &resp);
	free(path);
	if (rc == IMDR_OK)
		rc = http_take_range("azure", &r, &resp, ranged, off, len, out);
	http_resp_free(&resp);
	return rc;
}

static int
azure_stat(struct backend *be, const char *name, uint64_t *ret_size)
{
	struct azure *a = (struct azure *)be;
	struct http_resp resp = { 0 };
	char *path = blob_path(a, name);
	int rc = request(a, "HEAD", name, path, "", NULL, 0, NULL, 0, &resp);

	free(path);
	if (rc == IMDR_OK && resp.status >= 300)
		rc = fail("HEAD", name, &resp);
	if (rc == IMDR_OK && ret_size)
		*ret_size = resp.content_length == (uint64_t)-1 ? 0 : resp.content_length;
	http_resp_free(&resp);
	return rc;
}

static int
put_blocks(struct azure *a, const char *name, const char *path, const uint8_t *data, size_t len)
{
	struct http_resp resp = { 0 };
	struct buf list = BUF_INIT, q = BUF_INIT;
	int rc = IMDR_OK, n = 0;

	buf_puts(&list, "<?xml version=\"1.0\" encoding=\"utf-8\"?><BlockList>");
	for (size_t off = 0; rc == IMDR_OK && off < len; off += BLOCK_SIZE, n++) {
		size_t k = len - off < BLOCK_SIZE ? len - off : BLOCK_SIZE;
		char raw[32], id[48];
		struct buf enc = BUF_INIT;

		snprintf(raw, sizeof(raw), "block-%06d", n % 1000000);
		EVP_EncodeBlock((unsigned char *)id, (unsigned char *)raw, 12);
		sigv4_uri_encode(id, 0, &enc);
		q.len = 0;
		buf_printf(&q, "comp=block&blockid=%s", (char *)buf_cstr(&enc));
		buf_free(&enc);
		rc = request(a, "PUT", name, path, (char *)buf_cstr(&q), data + off, k, NULL, 0, &resp);
		if (rc == IMDR_OK && resp.status >= 300)
			rc = fail("Put Block", name, &resp);
		buf_printf(&list, "<Latest>%s</Latest>", id);
	}
	buf_puts(&list, "</BlockList>");
	if (rc == IMDR_OK) {
		const char *extra[2] = { "If-None-Match: *", NULL };

		rc = request(a, "PUT", name, path, "comp=blocklist", list.data, list.len, extra, 0, &resp);
		if (rc == IMDR_OK && resp.status >= 300)
			rc = fail("Put Block List", name, &resp);
	}
	http_resp_free(&resp);
	buf_free(&list);
	buf_free(&q);
	return rc;
}

static int
azure_put(struct backend *be, const char *name, const void *data, size_t len)
{
	struct azure *a = (struct azure *)be;
	struct http_resp resp = { 0 };
	char *path = blob_path(a, name);
	const char *extra[3] = { "x-ms-blob-type: BlockBlob", "If-None-Match: *", NULL };
	int rc;

	if (len > BLOCKS_OVER)
		rc = put_blocks(a, name, path, data, len);
	else {
		rc = request(a, "PUT", name, path, "", data, len, extra, 0, &resp);
		if (rc == IMDR_OK && resp.status >= 300)
			rc = fail("PUT", name, &resp);
	}
	if (rc == IMDR_EEXIST)
		rc = err_set(IMDR_EEXIST, "azure %s exists already (objects are written once)", name);
	free(path);
	http_resp_free(&resp);
	return rc;
}

static int
azure_list(struct backend *be, const char *prefix, backend_list_cb cb, void *ctx)
{
	struct azure *a = (struct azure *)be;
	struct buf marker = BUF_INIT, q = BUF_INIT, blob = BUF_INIT, nm = BUF_INIT, sz = BUF_INIT;
	char *cp = blob_path(a, NULL), *full = xasprintf("%s%s", a->prefix, prefix);
	size_t plen = strlen(a->prefix);
	int rc = IMDR_OK, more = 1;

	while (rc == IMDR_OK && more) {
		struct http_resp resp = { 0 };
		size_t pos = 0;

		q.len = 0;
		buf_puts(&q, "comp=list");
		if (marker.len) {
			buf_puts(&q, "&marker=");
			sigv4_uri_encode((char *)buf_cstr(&marker), 0, &q);
		}
		if (a->maxresults > 0)
			buf_printf(&q, "&maxresults=%d", a->maxresults);
		buf_puts(&q, "&prefix=");
		sigv4_uri_encode(full, 0, &q);
		buf_puts(&q, "&restype=container");
		rc = request(a, "GET", prefix[0] ? prefix : "(list)", cp, (char *)buf_cstr(&q), NULL, 0, NULL, 1, &resp);
		if (rc == IMDR_OK && resp.status >= 300)
			rc = fail("List Blobs", prefix[0] ? prefix : "/", &resp);
		while (rc == IMDR_OK && http_xml_next((char *)resp.body.data, resp.body.len, &pos, "Blob", &blob)) {
			size_t p2 = 0;

			if (!http_xml_next((char *)blob.data, blob.len, &p2, "Name", &nm))
				continue;
			p2 = 0;
			http_xml_next((char *)blob.data, blob.len, &p2, "Content-Length", &sz);
			if (nm.len > plen && strncmp((char *)nm.data, a->prefix, plen) == 0)
				rc = cb(ctx, (char *)nm.data + plen, strtoull((char *)buf_cstr(&sz), NULL, 10));
		}
		pos = 0;
		more = rc == IMDR_OK && http_xml_next((char *)resp.body.data, resp.body.len, &pos,
		    "NextMarker", &marker) && marker.len > 0;
		http_resp_free(&resp);
	}
	free(cp);
	free(full);
	buf_free(&marker);
	buf_free(&q);
	buf_free(&blob);
	buf_free(&nm);
	buf_free(&sz);
	return rc;
}

static int
azure_del(struct backend *be, const char *name)
{
	struct azure *a = (struct azure *)be;
	struct http_resp resp = { 0 };
	char *path = blob_path(a, name);
	int rc = request(a, "DELETE", name, path, "", NULL, 0, NULL, 0, &resp);

	if (rc == IMDR_OK && resp.status >= 300 && resp.status != 404)
		rc = fail("DELETE", name, &resp);
	free(path);
	http_resp_free(&resp);
	return rc;
}

static void
azure_close(struct backend *be)
{
	struct azure *a = (struct azure *)be;

	http_pool_free(a->pool);
	OPENSSL_cleanse(a->key, sizeof(a->key));
	if (a->sas)
		OPENSSL_cleanse(a->sas, strlen(a->sas));
	free(a->sas);
	free(a->account);
	free(a->container);
	free(a->prefix);
	free(a->origin);
	free(a->base_path);
	backend_base_free(&a->base);
	free(a);
}

static void
azure_abort(struct backend *be)
{
	http_pool_abort(((struct azure *)be)->pool);
}

static void
azure_widen(struct backend *be, int n)
{
	struct azure *a = (struct azure *)be;

	if (!a->conns_named)
		be->traits.concurrency = http_pool_widen(a->pool, n);
}

const struct backend_ops backend_azure = {
	.name = "azure",
	.open = azure_open,
	.get = azure_get,
	.put = azure_put,
	.stat = azure_stat,
	.list = azure_list,
	.del = azure_del,
	.close = azure_close,
	.abort = azure_abort,
	.widen = azure_widen,
	.remote = 1,
};
