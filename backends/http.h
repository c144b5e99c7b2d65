/* http — what the cloud backends share: a pool of keep-alive libcurl
 * handles, requests with retries (exponential backoff with jitter, on 5xx,
 * 429, resets and timeouts, within a bounded time), and the service's error
 * code pulled out of a failed response. Only backends/ uses libcurl. */
#ifndef IMDR_HTTP_H
#define IMDR_HTTP_H

#include <stddef.h>
#include <stdint.h>

#include "lib/buf.h"

struct curl_slist;
struct http_pool;

struct http_req {
	const char *method;	/* GET PUT HEAD DELETE POST */
	const char *url;	/* complete, encoded */
	const void *body;
	size_t body_len;
	const char *what;	/* object name for messages */
	int expect_body;	/* keep the response body */
};

struct http_resp {
	long status;
	struct buf body;
	/* when set, a 2xx answer's body goes here instead of body (reserved
	 * from its Content-Length up to HTTP_INTO_RESERVE_MAX): a GET
	 * straight into the caller's buffer; http_take_range(…, out =
	 * into) then checks and cuts it in place */
	struct buf *into;
	char error_code[128];	/* S3 <Code>, Azure x-ms-error-code */
	char error_msg[256];
	uint64_t content_length;	/* -1 when absent */
	char content_range[96];
};

#define HTTP_INTO_RESERVE_MAX (256u << 20)

/* sign: add this attempt's headers (dates and signatures change between
 * attempts) to *h. A non-zero return aborts the request. */
typedef int (*http_sign_fn)(void *ctx, const struct http_req *r,
    struct curl_slist **h);

/* http_pool_new: NULL (error set) when libcurl cannot be loaded. */
struct http_pool *http_pool_new(int max_handles);
void http_pool_free(struct http_pool *p);
/* http_pool_widen: up to max_handles at once from now on (never fewer);
 * returns how many the pool now serves at once. */
int http_pool_widen(struct http_pool *p, int max_handles);
/* http_pool_abort: every request of the pool in flight now fails within
 * about a second (IMDR_ENET, no retry); requests started later work. */
void http_pool_abort(struct http_pool *p);

/* http_do: the request, retried while it fails in a way that may pass
 * (connection errors, timeouts, 5xx, 429) and the retry budget lasts
 * ($IMDR_RETRY_SECS, default 60). IMDR_OK with resp filled when a final
 * answer came (any status); IMDR_ENET or IMDR_ETIMEDOUT otherwise. */
int http_do(struct http_pool *p, const struct http_req *r, http_sign_fn sign,
    void *ctx, struct http_resp *resp);
void http_resp_free(struct http_resp *resp);

/* http_error: the imdr error for a final non-2xx answer, with a message
 * naming the object, the status and the service's error code: 404 ->
 * IMDR_ENOENT, 401/403 -> IMDR_EPERM, 409/412 -> IMDR_EEXIST, others
 * IMDR_ENET. */
int http_error(const char *service, const struct http_req *r,
    const struct http_resp *resp);

/* http_range_header: "<name>: bytes=off-end" (or "bytes=off-" to the end)
 * into out (96 bytes); 0 when the whole object is wanted (no header). */
int http_range_header(const char *name, uint64_t off, uint64_t len, char *out);

/* http_take_range: the bytes of a ranged GET's answer into out: checks
 * status (416: past the end), cuts the range out of a 200 from a server
 * that ignored it, and checks the length. */
int http_take_range(const char *service, const struct http_req *r,
    const struct http_resp *resp, int ranged, uint64_t off, uint64_t len,
    struct buf *out);

/* http_xml_next: the text of the next <tag>...</tag> at or after *pos in
 * xml (entities decoded) into out; 0 when there is none. */
int http_xml_next(const char *xml, size_t len, size_t *pos, const char *tag,
    struct buf *out);

/* http_query_get: the value of key in a URL's query ("a=1&b=2"), decoded,
 * malloc'd, or NULL. */
char *http_query_get(const char *query, const char *key);

/* http_url_check: refuse a repository URL that carries credentials
 * (user:password@host, a SAS sig=: they would show in ps and in logs), an
 * option not in known (NULL-terminated: a typo must not pass unnoticed),
 * connections= outside 1..256, or an endpoint= that is not http(s)://.
 * IMDR_OK or IMDR_EINVAL with a one-line message. */
int http_url_check(const char *url, const char *const *known);

#endif
