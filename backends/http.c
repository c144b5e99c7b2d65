/* http — see http.h. */
#include "backends/http.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "backends/curl_dl.h"
#include <openssl/rand.h>

#include "lib/err.h"
#include "lib/log.h"

struct http_pool {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	CURL **free;
	int nfree, total, max;
	CURLSH *share;		/* DNS and TLS sessions across handles */
	pthread_mutex_t share_mu[CURL_LOCK_DATA_LAST];
	unsigned abort_gen;	/* bumped by http_pool_abort */
};

int
http_pool_widen(struct http_pool *p, int max_handles)
{
	int max;

	pthread_mutex_lock(&p->mu);
	if (max_handles > p->max) {
		p->free = xrealloc(p->free, (size_t)max_handles * sizeof(CURL *));
		p->max = max_handles;
		pthread_cond_broadcast(&p->cv);
	}
	max = p->max;
	pthread_mutex_unlock(&p->mu);
	return max;
}

void
http_pool_abort(struct http_pool *p)
{
	__atomic_add_fetch(&p->abort_gen, 1, __ATOMIC_RELAXED);
}

static int
aborted(struct http_pool *p, unsigned gen)
{
	return __atomic_load_n(&p->abort_gen, __ATOMIC_RELAXED) != gen;
}

struct progress_ctx {
	struct http_pool *p;
	unsigned gen;
};

/* libcurl calls this often while data moves and about once a second
 * while nothing does: non-zero ends the transfer. */
static int
on_progress(void *u, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
    curl_off_t ulnow)
{
	struct progress_ctx *pc = u;

	(void)dltotal;
	(void)dlnow;
	(void)ultotal;
	(void)ulnow;
	return aborted(pc->p, pc->gen);
}

static void
share_lock(CURL *h, curl_lock_data d, curl_lock_access a, void *u)
{
	struct http_pool *p = u;

	(void)h;
	(void)a;
	pthread_mutex_lock(&p->share_mu[d]);
}

static void
share_unlock(CURL *h, curl_lock_data d, void *u)
{
	struct http_pool *p = u;

	(void)h;
	pthread_mutex_unlock(&p->share_mu[d]);
}

struct http_pool *
http_pool_new(int max_handles)
{
	struct http_pool *p;

	if (curl_load() != IMDR_OK)
		return NULL;
	p = xcalloc(1, sizeof(*p));
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->cv, NULL);
	p->max = max_handles > 0 ? max_handles : 8;
	p->free = xcalloc((size_t)p->max, sizeof(CURL *));
	for (int i = 0; i < CURL_LOCK_DATA_LAST; i++)
		pthread_mutex_init(&p->share_mu[i], NULL);
	p->share = curl_share_init();
	curl_share_setopt(p->share, CURLSHOPT_LOCKFUNC, share_lock);
	curl_share_setopt(p->share, CURLSHOPT_UNLOCKFUNC, share_unlock);
	curl_share_setopt(p->share, CURLSHOPT_USERDATA, p);
	curl_share_setopt(p->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
	curl_share_setopt(p->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
	return p;
}

void
http_pool_free(struct http_pool *p)
{
	if (p == NULL)
		return;
	for (int i = 0; i < p->nfree; i++)
		curl_easy_cleanup(p->free[i]);
	curl_share_cleanup(p->share);
	free(p->free);
	free(p);
}

/* take: a handle with its connection still open when one is free; at most
 * max at once (callers wait). */
static CURL *
take(struct http_pool *p)
{
	CURL *h = NULL;

	pthread_mutex_lock(&p->mu);
	while (p->nfree == 0 && p->total >= p->max)
		pthread_cond_wait(&p->cv, &p->mu);
	if (p->nfree > 0)
		h = p->free[--p->nfree];
	else
		p->total++;
	pthread_mutex_unlock(&p->mu);
	if (h == NULL) {
		h = curl_easy_init();
		if (h == NULL) {
			warn0("cannot create a libcurl handle: out of memory");
			abort();
		}
	}
	return h;
}

static void
give(struct http_pool *p, CURL *h, int broken)
{
	pthread_mutex_lock(&p->mu);
	if (broken) {
		curl_easy_cleanup(h);
		p->total--;
	} else
		p->free[p->nfree++] = h;
	pthread_cond_signal(&p->cv);
	pthread_mutex_unlock(&p->mu);
}

struct sink {
	struct http_resp *resp;
	int keep;
	long code;		/* the status line's, as the answer comes */
};

/* on_body: a 2xx answer's bytes into resp->into when the caller gave one
 * (a ranged GET straight into its buffer, reserved once from the
 * Content-Length: growing a fresh buffer 16 KiB at a time and copying it
 * out again faulted in every page twice, a third of a cloud mount's CPU),
 * anything else into resp->body. */
static size_t
on_body(char *data, size_t size, size_t n, void *u)
{
	struct sink *s = u;
	struct http_resp *r = s->resp;

	if (r->into && s->code >= 200 && s->code < 300) {
		if (r->into->len == 0 && r->content_length != (uint64_t)-1 &&
		    r->content_length <= HTTP_INTO_RESERVE_MAX)
			buf_reserve(r->into, (size_t)r->content_length);
		buf_append(r->into, data, size * n);
	} else if (s->keep || r->status >= 300 || r->status == 0)
		buf_append(&r->body, data, size * n);
	return size * n;
}

static void
copy_header_value(const char *line, size_t n, size_t skip, char *out, size_t cap)
{
	size_t len;

	line += skip;
	n -= skip;
	while (n > 0 && (*line == ' ' || *line == '\t')) {
		line++;
		n--;
	}
	while (n > 0 && (line[n - 1] == '\r' || line[n - 1] == '\n' || line[n - 1] == ' '))
		n--;
	len = n < cap - 1 ? n : cap - 1;
	memcpy(out, line, len);
	out[len] = '\0';
}

static size_t
on_header(char *line, size_t size, size_t n, void *u)
{
	struct sink *s = u;
	size_t len = size * n;

	if (len > 9 && strncmp(line, "HTTP/", 5) == 0) {
		/* a new response (after a 100 Continue or a redirect) */
		const char *sp = memchr(line, ' ', len);

		s->code = sp ? strtol(sp + 1, NULL, 10) : 0;
		if (s->resp->into)
			s->resp->into->len = 0;
		s->resp->content_length = (uint64_t)-1;
		s->resp->content_range[0] = '\0';
		s->resp->error_code[0] = '\0';
	} else if (len > 16 && strncasecmp(line, "x-ms-error-code:", 16) == 0)
		copy_header_value(line, len, 16, s->resp->error_code, sizeof(s->resp->error_code));
	else if (len > 14 && strncasecmp(line, "content-range:", 14) == 0)
		copy_header_value(line, len, 14, s->resp->content_range, sizeof(s->resp->content_range));
	else if (len > 15 && strncasecmp(line, "content-length:", 15) == 0) {
		char v[32];

		copy_header_value(line, len, 15, v, sizeof(v));
		s->resp->content_length = strtoull(v, NULL, 10);
	}
	return len;
}

struct body_src {
	const char *p;
	size_t left;
};

static size_t
on_read(char *out, size_t size, size_t n, void *u)
{
	struct body_src *b = u;
	size_t k = size * n < b->left ? size * n : b->left;

	memcpy(out, b->p, k);
	b->p += k;
	b->left -= k;
	return k;
}

static double
retry_budget(void)
{
	const char *e = getenv("IMDR_RETRY_SECS");
	double v = e ? atof(e) : 60;

	return v > 0 ? v : 60;
}

static long
timeout_secs(void)
{
	const char *e = getenv("IMDR_HTTP_TIMEOUT");
	long v = e ? atol(e) : 30;

	return v > 0 ? v : 30;
}

static double
now_s(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static int
retryable_curl(CURLcode c)
{
	switch (c) {
	case CURLE_COULDNT_CONNECT:
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_OPERATION_TIMEDOUT:
	case CURLE_SEND_ERROR:
	case CURLE_RECV_ERROR:
	case CURLE_GOT_NOTHING:
	case CURLE_PARTIAL_FILE:
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_HTTP2:
	case CURLE_HTTP2_STREAM:
		return 1;
	default:
		return 0;
	}
}

int
http_do(struct http_pool *p, const struct http_req *r, http_sign_fn sign,
    void *ctx, struct http_resp *resp)
{
	double start = now_s(), budget = retry_budget(), delay = 0.1;
	char errbuf[CURL_ERROR_SIZE];
	struct progress_ctx pc = { p, __atomic_load_n(&p->abort_gen, __ATOMIC_RELAXED) };
	int attempt = 0, rc;

	for (;;) {
		struct curl_slist *h = NULL;
		struct sink s = { resp, r->expect_body, 0 };
		struct body_src src = { r->body, r->body_len };
		CURL *c = take(p);
		CURLcode cc;
		int again = 0;

		attempt++;
		resp->status = 0;
		resp->body.len = 0;
		if (resp->into)
			resp->into->len = 0;
		resp->error_code[0] = resp->error_msg[0] = '\0';
		resp->content_length = (uint64_t)-1;
		resp->content_range[0] = '\0';
		curl_easy_reset(c);
		errbuf[0] = '\0';
		rc = sign ? sign(ctx, r, &h) : IMDR_OK;
		if (rc) {
			give(p, c, 0);
			curl_slist_free_all(h);
			return rc;
		}
		h = curl_slist_append(h, "Expect:");	/* no 100-continue round trip */
		curl_easy_setopt(c, CURLOPT_URL, r->url);
		curl_easy_setopt(c, CURLOPT_SHARE, p->share);
		curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
		curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
		curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
		curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 10L);
		/* a server that stops sending is a failure, not a hang */
		curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
		curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, timeout_secs());
		curl_easy_setopt(c, CURLOPT_TCP_KEEPALIVE, 1L);
		curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
		curl_easy_setopt(c, CURLOPT_WRITEDATA, &s);
		curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
		curl_easy_setopt(c, CURLOPT_HEADERDATA, &s);
		curl_easy_setopt(c, CURLOPT_USERAGENT, "imdr");
		curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
		curl_easy_setopt(c, CURLOPT_XFERINFODATA, &pc);
		curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
		if (strcmp(r->method, "GET") == 0)
			curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
		else if (strcmp(r->method, "HEAD") == 0)
			curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
		else if (strcmp(r->method, "PUT") == 0) {
			curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
			curl_easy_setopt(c, CURLOPT_READFUNCTION, on_read);
			curl_easy_setopt(c, CURLOPT_READDATA, &src);
			curl_easy_setopt(c, CURLOPT_INFILESIZE_LARGE, (curl_off_t)r->body_len);
		} else if (strcmp(r->method, "POST") == 0) {
			curl_easy_setopt(c, CURLOPT_POST, 1L);
			curl_easy_setopt(c, CURLOPT_POSTFIELDS, r->body ? r->body : "");
			curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)r->body_len);
		} else
			curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, r->method);
		cc = curl_easy_perform(c);
		curl_slist_free_all(h);
		if (cc == CURLE_OK) {
			curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &resp->status);
			again = resp->status >= 500 || resp->status == 429;
			if (resp->status >= 300) {
				struct buf t = BUF_INIT;
				size_t pos = 0;

				if (http_xml_next((char *)resp->body.data, resp->body.len, &pos, "Code", &t) &&
				    resp->error_code[0] == '\0')
					snprintf(resp->error_code, sizeof(resp->error_code), "%s", (char *)t.data);
				pos = 0;
				if (http_xml_next((char *)resp->body.data, resp->body.len, &pos, "Message", &t)) {
					/* Azure adds "\nRequestId:...\nTime:...": errors are one line */
					snprintf(resp->error_msg, sizeof(resp->error_msg), "%.*s",
					    (int)strcspn((char *)t.data, "\r\n"), (char *)t.data);
				}
				buf_free(&t);
			}
		} else
			again = retryable_curl(cc);
		give(p, c, cc != CURLE_OK);
		if (aborted(p, pc.gen))
			return err_set(IMDR_ENET, "%s %s: given up (the replica stopped answering)",
			    r->method, r->what);
		if (!again)
			break;
		if (now_s() - start + delay > budget) {
			if (cc != CURLE_OK)
				return err_set(cc == CURLE_OPERATION_TIMEDOUT ? IMDR_ETIMEDOUT : IMDR_ENET,
				    "%s %s: %s (gave up after %d attempts in %.0f s)", r->method, r->what,
				    errbuf[0] ? errbuf : curl_easy_strerror(cc), attempt, now_s() - start);
			break;	/* the last answer (a 5xx) is the result */
		}
		{
			/* exponential backoff with full jitter */
			unsigned int j;
			double d;

			RAND_bytes((unsigned char *)&j, sizeof(j));
			d = delay * (0.5 + (double)(j % 1000) / 1000.0);
			debugf("%s %s: %s, retrying in %.2f s", r->method, r->what,
			    cc != CURLE_OK ? curl_easy_strerror(cc) : "server error", d);
			usleep((useconds_t)(d * 1e6));
			delay = delay * 2 > 5 ? 5 : delay * 2;
		}
	}
	if (resp->status == 0)
		return err_set(IMDR_ENET, "%s %s: no answer", r->method, r->what);
	return IMDR_OK;
}

void
http_resp_free(struct http_resp *resp)
{
	buf_free(&resp->body);
}

int
http_error(const char *service, const struct http_req *r, const struct http_resp *resp)
{
	int code;
	const char *ec = resp->error_code[0] ? resp->error_code : NULL;

	switch (resp->status) {
	case 404:
		code = IMDR_ENOENT;
		break;
	case 401:
	case 403:
		code = IMDR_EPERM;
		break;
	case 409:
	case 412:
		code = IMDR_EEXIST;
		break;
	default:
		code = IMDR_ENET;
	}
	return err_set(code, "%s %s %s: HTTP %ld%s%s%s%s", service, r->method, r->what,
	    resp->status, ec ? " " : "", ec ? ec : "",
	    resp->error_msg[0] ? ": " : "", resp->error_msg);
}

static void
xml_decode(const char *s, size_t n, struct buf *out)
{
	static const struct { const char *e; char c; } ents[] = {
		{ "&amp;", '&' }, { "&lt;", '<' }, { "&gt;", '>' }, { "&quot;", '"' }, { "&apos;", '\'' },
	};

	out->len = 0;
	for (size_t i = 0; i < n; i++) {
		int done = 0;

		if (s[i] == '&') {
			for (size_t k = 0; k < sizeof(ents) / sizeof(ents[0]); k++) {
				size_t el = strlen(ents[k].e);

				if (i + el <= n && memcmp(s + i, ents[k].e, el) == 0) {
					buf_putc(out, ents[k].c);
					i += el - 1;
					done = 1;
					break;
				}
			}
			if (!done && i + 3 < n && s[i + 1] == '#') {
				char *end;
				long v = s[i + 2] == 'x' ? strtol(s + i + 3, &end, 16) : strtol(s + i + 2, &end, 10);

				if (end < s + n && *end == ';' && v > 0 && v < 128) {
					buf_putc(out, (char)v);
					i = (size_t)(end - s);
					done = 1;
				}
			}
		}
		if (!done)
			buf_putc(out, s[i]);
	}
	buf_cstr(out);
}

int
http_xml_next(const char *xml, size_t len, size_t *pos, const char *tag, struct buf *out)
{
	char open[80], close[80];
	size_t ol, cl;

	if (xml == NULL)
		return 0;
	ol = (size_t)snprintf(open, sizeof(open), "<%s>", tag);
	cl = (size_t)snprintf(close, sizeof(close), "</%s>", tag);
	for (size_t i = *pos; i + ol <= len; i++) {
		if (memcmp(xml + i, open, ol) != 0)
			continue;
		for (size_t j = i + ol; j + cl <= len; j++) {
			if (memcmp(xml + j, close, cl) == 0) {
				xml_decode(xml + i + ol, j - i - ol, out);
				*pos = j + cl;
				return 1;
			}
		}
		return 0;
	}
	return 0;
}

static int
hexv(int c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 :
	    c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

char *
http_query_get(const char *query, const char *key)
{
	size_t kl = strlen(key);
	const char *p = query;

	while (p && *p) {
		const char *amp = strchr(p, '&');
		size_t len = amp ? (size_t)(amp - p) : strlen(p);

		if (len > kl && strncmp(p, key, kl) == 0 && p[kl] == '=') {
			struct buf b = BUF_INIT;

			for (size_t i = kl + 1; i < len; i++) {
				if (p[i] == '%' && i + 2 < len + 1 && hexv(p[i + 1]) >= 0 && hexv(p[i + 2]) >= 0) {
					buf_putc(&b, (char)(hexv(p[i + 1]) * 16 + hexv(p[i + 2])));
					i += 2;
				} else
					buf_putc(&b, p[i] == '+' ? ' ' : p[i]);
			}
			buf_cstr(&b);
			return (char *)buf_steal(&b, NULL);
		}
		p = amp ? amp + 1 : NULL;
	}
	return NULL;
}

int
http_range_header(const char *name, uint64_t off, uint64_t len, char *out)
{
	if (len != UINT64_MAX)
		snprintf(out, 96, "%s: bytes=%llu-%llu", name, (unsigned long long)off,
		    (unsigned long long)(off + len - 1));
	else if (off > 0)
		snprintf(out, 96, "%s: bytes=%llu-", name, (unsigned long long)off);
	else
		return 0;
	return 1;
}

int
http_take_range(const char *service, const struct http_req *r,
    const struct http_resp *resp, int ranged, uint64_t off, uint64_t len,
    struct buf *out)
{
	const uint8_t *p = resp->body.data;
	size_t n = resp->body.len;
	int there = resp->into == out && resp->status >= 200 && resp->status < 300;

	if (there) {
		p = out->data;	/* already there (on_body) */
		n = out->len;
	}
	if (resp->status == 416)
		return err_set(IMDR_EFORMAT, "%s %s: range %llu+%llu is past the end", service,
		    r->what, (unsigned long long)off, (unsigned long long)len);
	if (resp->status >= 300)
		return http_error(service, r, resp);
	if (resp->status == 200 && ranged) {
		/* the range was ignored: cut it out of the whole */
		if (off > n)
			return err_set(IMDR_EFORMAT, "%s %s: offset %llu is past the end", service,
			    r->what, (unsigned long long)off);
		p += off;
		n -= (size_t)off;
		if (len != UINT64_MAX && n > len)
			n = (size_t)len;
	}
	if (len != UINT64_MAX && n != len)
		return err_set(IMDR_EFORMAT, "%s %s: %zu bytes at %llu, expected %llu", service,
		    r->what, n, (unsigned long long)off, (unsigned long long)len);
	if (there) {
		if (p != out->data)
			memmove(out->data, p, n);	/* the range cut out of a 200 */
		out->len = n;
		return IMDR_OK;
	}
	out->len = 0;
	buf_append(out, p, n);
	return IMDR_OK;
}

int
http_url_check(const char *url, const char *const *known)
{
	const char *auth = strstr(url, "://"), *q = strchr(url, '?');
	size_t alen;
	char *v;
	long n;

	auth = auth ? auth + 3 : url;
	alen = strcspn(auth, "/?");
	if (memchr(auth, '@', alen) != NULL)
		return err_set(IMDR_EINVAL, "repository URL with user@host: give credentials in "
		    "the environment (see imdr(1)), never in the URL, where ps and logs show them");
	for (q = q ? q + 1 : NULL; q && *q; q += strcspn(q, "&"), q += *q == '&') {
		size_t klen = strcspn(q, "=&");
		const char *const *k;

		if (klen == 0)
			continue;
		if (klen == 3 && strncmp(q, "sig", 3) == 0)
			return err_set(IMDR_EINVAL, "repository URL with a SAS token: put it in "
			    "AZURE_STORAGE_SAS_TOKEN, not in the URL, where ps and logs show it");
		for (k = known; k && *k; k++)
			if (strlen(*k) == klen && strncmp(*k, q, klen) == 0)
				break;
		if (k == NULL || *k == NULL) {
			struct buf b = BUF_INIT;

			for (k = known; k && *k; k++)
				buf_printf(&b, "%s%s", b.len ? ", " : "", *k);
			err_set(IMDR_EINVAL, "repository URL: unknown option \"%.*s\" (known: %s)",
			    (int)klen, q, b.len ? buf_cstr(&b) : "none");
			buf_free(&b);
			return IMDR_EINVAL;
		}
	}
	if (q && (v = http_query_get(strchr(url, '?') + 1, "connections")) != NULL) {
		char *e;

		n = strtol(v, &e, 10);
		if (*v == '\0' || *e != '\0' || n < 1 || n > 256) {
			err_set(IMDR_EINVAL, "repository URL: connections=%s: want a number from 1 to 256", v);
			free(v);
			return IMDR_EINVAL;
		}
		free(v);
	}
	if (q && (v = http_query_get(strchr(url, '?') + 1, "endpoint")) != NULL) {
		int ok = strncmp(v, "http://", 7) == 0 || strncmp(v, "https://", 8) == 0;

		if (!ok)
			err_set(IMDR_EINVAL, "repository URL: endpoint=%s: want http://HOST[:PORT] or https://HOST", v);
		free(v);
		if (!ok)
			return IMDR_EINVAL;
	}
	return IMDR_OK;
}
