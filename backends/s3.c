/* s3 — Amazon S3 and compatible services (Ceph, MinIO, Wasabi, ...).
 *
 *	s3://BUCKET[/PREFIX][?region=R&endpoint=URL&path_style=1&connections=N]
 *
 * Credentials: AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN,
 * or the [$AWS_PROFILE|default] section of $AWS_SHARED_CREDENTIALS_FILE
 * (~/.aws/credentials). Region: ?region=, $AWS_REGION, $AWS_DEFAULT_REGION,
 * us-east-1. Requests are signed with SigV4 over the whole payload (never
 * aws-chunked). Objects are written once: If-None-Match: * where the service
 * honours it, and a HEAD first for those that do not. Objects larger than
 * 64 MiB (?multipart_over=BYTES) go up in 16 MiB parts (multipart upload).
 * ?max_keys=N sets the size of a listing page. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>

#include "backends/curl_dl.h"
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "backends/backend_impl.h"
#include "backends/http.h"
#include "backends/sigv4.h"
#include "lib/err.h"

#define MULTIPART_OVER (64u << 20)
#define PART_SIZE (s->multipart_over < (16u << 20) ? (size_t)s->multipart_over : (size_t)(16u << 20))

struct s3 {
	struct backend base;
	struct http_pool *pool;
	int conns_named;		/* the URL set connections= */
	char *bucket, *prefix;		/* prefix: "" or "dir/" */
	char *origin;			/* scheme://host[:port] */
	char *host;
	int path_style;
	char *region, *akey, *skey, *token;
	int max_keys;			/* ?max_keys=N: listing page size */
	size_t multipart_over;
};

struct call {
	struct s3 *s;
	const char *path;	/* encoded */
	const char *query;	/* encoded, or "" */
	char payload[65];
	const char *extra[4];	/* more headers ("Name: value"), unsigned */
};

static int
sign(void *ctx, const struct http_req *r, struct curl_slist **h)
{
	struct call *c = ctx;
	struct s3 *s = c->s;
	char date[32], line[512];
	struct sigv4_header hd[4];
	struct buf auth = BUF_INIT;
	struct sigv4_req q;
	time_t t = time(NULL);
	struct tm tm;
	size_t n = 0;

	gmtime_r(&t, &tm);
	strftime(date, sizeof(date), "%Y%m%dT%H%M%SZ", &tm);
	hd[n++] = (struct sigv4_header){ "host", s->host };
	hd[n++] = (struct sigv4_header){ "x-amz-content-sha256", c->payload };
	hd[n++] = (struct sigv4_header){ "x-amz-date", date };
	if (s->token)
		hd[n++] = (struct sigv4_header){ "x-amz-security-token", s->token };
	q = (struct sigv4_req){ r->method, c->path, c->query, hd, n, c->payload, date,
	    s->region, "s3", s->akey, s->skey };
	sigv4_sign(&q, NULL, NULL, &auth);
	snprintf(line, sizeof(line), "Host: %s", s->host);
	*h = curl_slist_append(*h, line);
	snprintf(line, sizeof(line), "x-amz-date: %s", date);
	*h = curl_slist_append(*h, line);
	snprintf(line, sizeof(line), "x-amz-content-sha256: %s", c->payload);
	*h = curl_slist_append(*h, line);
	if (s->token) {
		char *tl = xasprintf("x-amz-security-token: %s", s->token);

		*h = curl_slist_append(*h, tl);
		free(tl);
	}
	{
		char *al = xasprintf("Authorization: %s", (char *)buf_cstr(&auth));

		*h = curl_slist_append(*h, al);
		free(al);
	}
	for (int i = 0; i < 4 && c->extra[i]; i++)
		*h = curl_slist_append(*h, c->extra[i]);
	buf_free(&auth);
	return IMDR_OK;
}

/* object_path: the encoded request path of an object (or of the bucket for
 * name NULL). */
static char *
object_path(struct s3 *s, const char *name)
{
	struct buf b = BUF_INIT;

	if (s->path_style) {
		buf_putc(&b, '/');
		sigv4_uri_encode(s->bucket, 0, &b);
	}
	if (name) {
		char *full = xasprintf("%s%s", s->prefix, name);

		buf_putc(&b, '/');
		sigv4_uri_encode(full, 1, &b);
		free(full);
	} else if (!s->path_style || b.len == 0)
		buf_putc(&b, '/');
	buf_cstr(&b);
	return (char *)buf_steal(&b, NULL);
}

/* request: one signed call; resp is filled. */
static int
request(struct s3 *s, const char *method, const char *name, const char *path,
    const char *query, const void *body, size_t len, const char *const *extra,
    int keep_body, struct http_resp *resp)
{
	struct call c;
	struct http_req r;
	char *url = xasprintf("%s%s%s%s", s->origin, path, query && *query ? "?" : "", query ? query : "");
	int rc;

	memset(&c, 0, sizeof(c));
	c.s = s;
	c.path = path;
	c.query = query ? query : "";
	sigv4_sha256_hex(body ? body : "", body ? len : 0, c.payload);
	for (int i = 0; extra && i < 4 && extra[i]; i++)
		c.extra[i] = extra[i];
	r = (struct http_req){ method, url, body, len, name, keep_body };
	rc = http_do(s->pool, &r, sign, &c, resp);
	free(url);
	return rc;
}

static int
fail(struct s3 *s, const char *method, const char *name, const struct http_resp *resp)
{
	struct http_req r = { method, NULL, NULL, 0, name, 0 };

	(void)s;
	return http_error("s3", &r, resp);
}

/* ---- credentials ---- */

static char *
ini_value(const char *path, const char *profile, const char *key)
{
	FILE *f = fopen(path, "r");
	char line[1024], section[256] = "";
	char *val = NULL;

	if (f == NULL)
		return NULL;
	while (fgets(line, sizeof(line), f) && val == NULL) {
		char *p = line, *eq, *end;

		while (*p == ' ' || *p == '\t')
			p++;
		line[strcspn(line, "\r\n")] = '\0';
		if (*p == '[') {
			end = strchr(p, ']');
			if (end) {
				*end = '\0';
				snprintf(section, sizeof(section), "%s", p + 1);
			}
			continue;
		}
		if (strcmp(section, profile) != 0 || (eq = strchr(p, '=')) == NULL)
			continue;
		end = eq;
		while (end > p && (end[-1] == ' ' || end[-1] == '\t'))
			end--;
		if ((size_t)(end - p) == strlen(key) && strncmp(p, key, (size_t)(end - p)) == 0) {
			eq++;
			while (*eq == ' ' || *eq == '\t')
				eq++;
			val = xstrdup(eq);
		}
	}
	fclose(f);
	return val;
}

static int
credentials(struct s3 *s)
{
	const char *a = getenv("AWS_ACCESS_KEY_ID"), *k = getenv("AWS_SECRET_ACCESS_KEY");
	const char *t = getenv("AWS_SESSION_TOKEN");

	if (a && *a && k && *k) {
		s->akey = xstrdup(a);
		s->skey = xstrdup(k);
		s->token = t && *t ? xstrdup(t) : NULL;
		return IMDR_OK;
	}
	{
		const char *file = getenv("AWS_SHARED_CREDENTIALS_FILE"), *home = getenv("HOME");
		const char *prof = getenv("AWS_PROFILE");
		char *path = file ? xstrdup(file) : xasprintf("%s/.aws/credentials", home ? home : "");

		if (prof == NULL || *prof == '\0')
			prof = "default";
		s->akey = ini_value(path, prof, "aws_access_key_id");
		s->skey = ini_value(path, prof, "aws_secret_access_key");
		s->token = ini_value(path, prof, "aws_session_token");
		free(path);
	}
	if (s->akey && s->skey)
		return IMDR_OK;
	return err_set(IMDR_EPERM, "no S3 credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN), or use a credentials file");
}

/* ---- operations ---- */

static void s3_close(struct backend *be);

static int
s3_open(const char *url, int create, struct backend **ret)
{
	static const char *const known[] = { "region", "endpoint", "path_style",
		"connections", "max_keys", "multipart_over", NULL };
	struct s3 *s;
	const char *rest = url + 5, *q = strchr(rest, '?');
	char *path = q ? xstrndup(rest, (size_t)(q - rest)) : xstrdup(rest);
	char *query = q ? xstrdup(q + 1) : xstrdup("");
	char *endpoint, *v, *slash, *red;
	int conns = 16, rc;

	if ((rc = http_url_check(url, known)) != IMDR_OK) {
		free(path);
		free(query);
		return rc;
	}
	s = xcalloc(1, sizeof(*s));
	endpoint = http_query_get(query, "endpoint");

	slash = strchr(path, '/');
	s->bucket = slash ? xstrndup(path, (size_t)(slash - path)) : xstrdup(path);
	if (slash && slash[1]) {
		size_t l = strlen(slash + 1);

		s->prefix = slash[l] == '/' ? xstrdup(slash + 1) : xasprintf("%s/", slash + 1);
	} else
		s->prefix = xstrdup("");
	if ((v = http_query_get(query, "region")) != NULL)
		s->region = v;
	else if (getenv("AWS_REGION") && *getenv("AWS_REGION"))
		s->region = xstrdup(getenv("AWS_REGION"));
	else if (getenv("AWS_DEFAULT_REGION") && *getenv("AWS_DEFAULT_REGION"))
		s->region = xstrdup(getenv("AWS_DEFAULT_REGION"));
	else
		s->region = xstrdup("us-east-1");
	if ((v = http_query_get(query, "path_style")) != NULL) {
		s->path_style = strcmp(v, "1") == 0 || strcmp(v, "true") == 0;
		free(v);
	}
	if ((v = http_query_get(query, "connections")) != NULL) {
		s->conns_named = 1;
		conns = atoi(v);
		free(v);
	}
	if ((v = http_query_get(query, "max_keys")) != NULL) {
		s->max_keys = atoi(v);
		free(v);
	}
	s->multipart_over = MULTIPART_OVER;
	if ((v = http_query_get(query, "multipart_over")) != NULL) {
		s->multipart_over = strtoull(v, NULL, 10) > 0 ? strtoull(v, NULL, 10) : MULTIPART_OVER;
		free(v);
	}
	red = xasprintf("s3://%s/%s%s%s", s->bucket, s->prefix, endpoint ? "?endpoint=" : "",
	    endpoint ? endpoint : "");
	backend_base_init(&s->base, &backend_s3, red);
	free(red);
	if (s->bucket[0] == '\0') {
		rc = err_set(IMDR_EINVAL, "%s: no bucket in the URL (s3://BUCKET/PREFIX)", url);
		goto bad;
	}
	if (endpoint) {
		const char *sep = strstr(endpoint, "://");
		char *hostpart;

		if (sep == NULL) {
			rc = err_set(IMDR_EINVAL, "endpoint=%s: not a URL (http://host:port or https://host)", endpoint);
			goto bad;
		}
		hostpart = xstrdup(sep + 3);
		hostpart[strcspn(hostpart, "/")] = '\0';
		if (s->path_style) {
			s->host = xstrdup(hostpart);
			s->origin = xstrndup(endpoint, (size_t)(sep + 3 - endpoint) + strlen(hostpart));
		} else {
			s->host = xasprintf("%s.%s", s->bucket, hostpart);
			s->origin = xasprintf("%.*s%s", (int)(sep + 3 - endpoint), endpoint, s->host);
		}
		free(hostpart);
	} else if (s->path_style) {
		s->host = xasprintf("s3.%s.amazonaws.com", s->region);
		s->origin = xasprintf("https://%s", s->host);
	} else {
		s->host = xasprintf("%s.s3.%s.amazonaws.com", s->bucket, s->region);
		s->origin = xasprintf("https://%s", s->host);
	}
	rc = credentials(s);
	if (rc)
		goto bad;
	s->pool = http_pool_new(conns);
	s->base.traits.concurrency = conns;
	if (s->pool == NULL) {
		rc = IMDR_EUNSUP;
		goto bad;
	}
	if (create) {
		struct http_resp resp = { 0 };
		char *bp = object_path(s, NULL);

		rc = request(s, "HEAD", s->bucket, bp, "", NULL, 0, NULL, 0, &resp);
		if (rc == IMDR_OK && resp.status == 404) {
			char *body = strcmp(s->region, "us-east-1") == 0 ? xstrdup("") :
			    xasprintf("<CreateBucketConfiguration xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
			    "<LocationConstraint>%s</LocationConstraint></CreateBucketConfiguration>", s->region);

			rc = request(s, "PUT", s->bucket, bp, "", body, strlen(body), NULL, 0, &resp);
			if (rc == IMDR_OK && resp.status >= 300 &&
			    strcmp(resp.error_code, "BucketAlreadyOwnedByYou") != 0)
				rc = fail(s, "PUT", s->bucket, &resp);
			free(body);
		} else if (rc == IMDR_OK && resp.status >= 300)
			rc = fail(s, "HEAD", s->bucket, &resp);
		http_resp_free(&resp);
		free(bp);
		if (rc)
			goto bad;
	}
	free(path);
	free(query);
	free(endpoint);
	*ret = &s->base;
	return IMDR_OK;
bad:
	free(path);
	free(query);
	free(endpoint);
	s3_close(&s->base);
	return rc;
}

static int
s3_get(struct backend *be, const char *name, uint64_t off, uint64_t len, struct buf *out)
{
	struct s3 *s = (struct s3 *)be;
	char *path = object_path(s, name);
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
	ranged = http_range_header("Range", off, len, range);
	if (ranged)
		extra[0] = range;
	rc = request(s, "GET", name, path, "", NULL, 0, extra, 1, &resp);
	free(path);
	if (rc == IMDR_OK)
		rc = http_take_range("s3", &r, &resp, ranged, off, len, out);
	http_resp_free(&resp);
	return rc;
}

static int
s3_stat(struct backend *be, const char *name, uint64_t *ret_size)
{
	struct s3 *s = (struct s3 *)be;
	struct http_resp resp = { 0 };
	char *path = object_path(s, name);
	int rc = request(s, "HEAD", name, path, "", NULL, 0, NULL, 0, &resp);

	free(path);
	if (rc == IMDR_OK && resp.status >= 300)
		rc = fail(s, "HEAD", name, &resp);
	if (rc == IMDR_OK && ret_size)
		*ret_size = resp.content_length == (uint64_t)-1 ? 0 : resp.content_length;
	http_resp_free(&resp);
	return rc;
}

static int
multipart(struct s3 *s, const char *name, const char *path, const uint8_t *data, size_t len)
{
	struct http_resp resp = { 0 };
	struct buf id = BUF_INIT, etag = BUF_INIT, done = BUF_INIT, q = BUF_INIT;
	size_t pos = 0;
	int rc, part = 0;

	rc = request(s, "POST", name, path, "uploads=", NULL, 0, NULL, 1, &resp);
	if (rc == IMDR_OK && resp.status >= 300)
		rc = fail(s, "POST", name, &resp);
	if (rc == IMDR_OK && !http_xml_next((char *)resp.body.data, resp.body.len, &pos, "UploadId", &id))
		rc = err_set(IMDR_ENET, "s3 %s: no UploadId in the answer to CreateMultipartUpload", name);
	buf_puts(&done, "<CompleteMultipartUpload>");
	for (size_t off = 0; rc == IMDR_OK && off < len; off += PART_SIZE) {
		size_t n = len - off < PART_SIZE ? len - off : PART_SIZE;
		struct buf enc = BUF_INIT;
		const char *extra[1] = { NULL };

		part++;
		sigv4_uri_encode((char *)id.data, 0, &enc);
		q.len = 0;
		buf_printf(&q, "partNumber=%d&uploadId=%s", part, (char *)buf_cstr(&enc));
		buf_free(&enc);
		(void)extra;
		rc = request(s, "PUT", name, path, (char *)buf_cstr(&q), data + off, n, NULL, 0, &resp);
		if (rc == IMDR_OK && resp.status >= 300)
			rc = fail(s, "PUT part of", name, &resp);
		if (rc == IMDR_OK) {
			/* S3 returns the part's ETag, the MD5 of the part in
			 * quotes; the emulators too. Compute it when absent. */
			char md5[33];
			unsigned char d[16];
			unsigned int dl;

			EVP_Digest(data + off, n, d, &dl, EVP_md5(), NULL);
			for (int i = 0; i < 16; i++)
				sprintf(md5 + 2 * i, "%02x", d[i]);
			buf_printf(&done, "<Part><PartNumber>%d</PartNumber><ETag>\"%s\"</ETag></Part>", part, md5);
		}
	}
	buf_puts(&done, "</CompleteMultipartUpload>");
	if (rc == IMDR_OK) {
		struct buf enc = BUF_INIT;
		const char *extra[2] = { "If-None-Match: *", NULL };

		sigv4_uri_encode((char *)id.data, 0, &enc);
		q.len = 0;
		buf_printf(&q, "uploadId=%s", (char *)buf_cstr(&enc));
		buf_free(&enc);
		rc = request(s, "POST", name, path, (char *)buf_cstr(&q), done.data, done.len, extra, 1, &resp);
		if (rc == IMDR_OK && (resp.status >= 300 ||
		    (resp.body.len && strstr(buf_cstr(&resp.body), "<Error>"))))
			rc = fail(s, "CompleteMultipartUpload", name, &resp);
	}
	if (rc && id.len) {
		/* leave no half upload behind */
		struct http_resp r2 = { 0 };
		struct buf enc = BUF_INIT;
		int saved = rc;
		char *msg = xstrdup(err_msg(rc));

		sigv4_uri_encode((char *)buf_cstr(&id), 0, &enc);
		q.len = 0;
		buf_printf(&q, "uploadId=%s", (char *)buf_cstr(&enc));
		request(s, "DELETE", name, path, (char *)buf_cstr(&q), NULL, 0, NULL, 0, &r2);
		http_resp_free(&r2);
		buf_free(&enc);
		rc = err_set(saved, "%s", msg);
		free(msg);
	}
	http_resp_free(&resp);
	buf_free(&id);
	buf_free(&etag);
	buf_free(&done);
	buf_free(&q);
	return rc;
}

static int
put(struct backend *be, const char *name, const void *data, size_t len, int check)
{
	struct s3 *s = (struct s3 *)be;
	struct http_resp resp = { 0 };
	char *path = object_path(s, name);
	const char *extra[2] = { "If-None-Match: *", NULL };
	int rc = IMDR_OK;

	/* write-once, also where If-None-Match is not honoured */
	if (check)
		rc = request(s, "HEAD", name, path, "", NULL, 0, NULL, 0, &resp);
	if (check && rc == IMDR_OK && resp.status < 300)
		rc = err_set(IMDR_EEXIST, "s3 %s exists already (objects are written once)", name);
	else if (check && rc == IMDR_OK && resp.status != 404)
		rc = fail(s, "HEAD", name, &resp);
	if (rc == IMDR_OK) {
		if (len > s->multipart_over)
			rc = multipart(s, name, path, data, len);
		else {
			rc = request(s, "PUT", name, path, "", data, len, extra, 0, &resp);
			if (rc == IMDR_OK && resp.status >= 300)
				rc = fail(s, "PUT", name, &resp);
		}
	}
	free(path);
	http_resp_free(&resp);
	return rc;
}

static int
s3_put(struct backend *be, const char *name, const void *data, size_t len)
{
	return put(be, name, data, len, 1);
}

static int
s3_put_new(struct backend *be, const char *name, const void *data, size_t len)
{
	return put(be, name, data, len, 0);
}

static int
s3_list(struct backend *be, const char *prefix, backend_list_cb cb, void *ctx)
{
	struct s3 *s = (struct s3 *)be;
	struct buf token = BUF_INIT, q = BUF_INIT, key = BUF_INIT, size = BUF_INIT, t = BUF_INIT;
	char *bp = object_path(s, NULL), *full = xasprintf("%s%s", s->prefix, prefix);
	size_t plen = strlen(s->prefix);
	int rc = IMDR_OK, more = 1;

	while (rc == IMDR_OK && more) {
		struct http_resp resp = { 0 };
		size_t pos = 0;

		q.len = 0;
		if (token.len) {
			buf_puts(&q, "continuation-token=");
			sigv4_uri_encode((char *)buf_cstr(&token), 0, &q);
			buf_putc(&q, '&');
		}
		buf_puts(&q, "list-type=2");
		if (s->max_keys > 0)
			buf_printf(&q, "&max-keys=%d", s->max_keys);
		buf_puts(&q, "&prefix=");
		sigv4_uri_encode(full, 0, &q);
		rc = request(s, "GET", prefix[0] ? prefix : "(list)", bp, (char *)buf_cstr(&q), NULL, 0, NULL, 1, &resp);
		if (rc == IMDR_OK && resp.status >= 300)
			rc = fail(s, "LIST", prefix[0] ? prefix : "/", &resp);
		while (rc == IMDR_OK && http_xml_next((char *)resp.body.data, resp.body.len, &pos, "Contents", &t)) {
			size_t p2 = 0;

			if (!http_xml_next((char *)t.data, t.len, &p2, "Key", &key))
				continue;
			p2 = 0;
			http_xml_next((char *)t.data, t.len, &p2, "Size", &size);
			if (key.len > plen && strncmp((char *)key.data, s->prefix, plen) == 0)
				rc = cb(ctx, (char *)key.data + plen, strtoull((char *)buf_cstr(&size), NULL, 10));
		}
		more = 0;
		pos = 0;
		if (rc == IMDR_OK && http_xml_next((char *)resp.body.data, resp.body.len, &pos, "IsTruncated", &t) &&
		    strcmp((char *)t.data, "true") == 0) {
			pos = 0;
			more = http_xml_next((char *)resp.body.data, resp.body.len, &pos,
			    "NextContinuationToken", &token);
			if (!more)
				rc = err_set(IMDR_ENET, "s3 LIST %s: truncated listing without a continuation token", prefix);
		}
		http_resp_free(&resp);
	}
	free(bp);
	free(full);
	buf_free(&token);
	buf_free(&q);
	buf_free(&key);
	buf_free(&size);
	buf_free(&t);
	return rc;
}

static int
s3_del(struct backend *be, const char *name)
{
	struct s3 *s = (struct s3 *)be;
	struct http_resp resp = { 0 };
	char *path = object_path(s, name);
	int rc = request(s, "DELETE", name, path, "", NULL, 0, NULL, 0, &resp);

	if (rc == IMDR_OK && resp.status >= 300 && resp.status != 404)
		rc = fail(s, "DELETE", name, &resp);
	free(path);
	http_resp_free(&resp);
	return rc;
}

static void
s3_close(struct backend *be)
{
	struct s3 *s = (struct s3 *)be;

	http_pool_free(s->pool);
	free(s->bucket);
	free(s->prefix);
	free(s->origin);
	free(s->host);
	free(s->region);
	free(s->akey);
	if (s->skey)
		OPENSSL_cleanse(s->skey, strlen(s->skey));
	free(s->skey);
	free(s->token);
	backend_base_free(&s->base);
	free(s);
}

static void
s3_abort(struct backend *be)
{
	http_pool_abort(((struct s3 *)be)->pool);
}

static void
s3_widen(struct backend *be, int n)
{
	struct s3 *s = (struct s3 *)be;

	if (!s->conns_named)
		be->traits.concurrency = http_pool_widen(s->pool, n);
}

const struct backend_ops backend_s3 = {
	.name = "s3",
	.open = s3_open,
	.get = s3_get,
	.put = s3_put,
	.put_new = s3_put_new,
	.stat = s3_stat,
	.list = s3_list,
	.del = s3_del,
	.close = s3_close,
	.abort = s3_abort,
	.widen = s3_widen,
	.remote = 1,
};
