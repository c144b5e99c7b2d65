#include "backends/sigv4.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "lib/hex.h"

void
sigv4_sha256_hex(const void *p, size_t n, char *out)
{
	unsigned char md[32];
	unsigned int len;

	EVP_Digest(p, n, md, &len, EVP_sha256(), NULL);
	hex_encode(md, 32, out);
}

static void
hmac(const void *key, size_t klen, const void *msg, size_t n, unsigned char out[32])
{
	unsigned int len = 32;

	HMAC(EVP_sha256(), key, (int)klen, msg, n, out, &len);
}

void
sigv4_uri_encode(const char *s, int keep_slash, struct buf *out)
{
	static const char hexd[] = "0123456789ABCDEF";

	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
		    (*p >= '0' && *p <= '9') || *p == '-' || *p == '_' || *p == '.' ||
		    *p == '~' || (keep_slash && *p == '/'))
			buf_putc(out, (char)*p);
		else {
			buf_putc(out, '%');
			buf_putc(out, hexd[*p >> 4]);
			buf_putc(out, hexd[*p & 15]);
		}
	}
}

struct kv {
	char *k, *v;
};

static int
cmp_kv(const void *a, const void *b)
{
	const struct kv *x = a, *y = b;
	int c = strcmp(x->k, y->k);

	return c ? c : strcmp(x->v, y->v);
}

/* canonical query: split on '&', each key and value as given (already
 * encoded by the caller), sorted by key then value */
static void
canonical_query(const char *q, struct buf *out)
{
	struct kv *v = NULL;
	size_t n = 0, cap = 0;
	const char *p = q;

	while (p && *p) {
		const char *amp = strchr(p, '&'), *eq;
		size_t len = amp ? (size_t)(amp - p) : strlen(p);

		if (len > 0) {
			if (n == cap) {
				cap = cap ? cap * 2 : 8;
				v = xrealloc(v, cap * sizeof(*v));
			}
			eq = memchr(p, '=', len);
			if (eq) {
				v[n].k = xstrndup(p, (size_t)(eq - p));
				v[n].v = xstrndup(eq + 1, len - (size_t)(eq - p) - 1);
			} else {
				v[n].k = xstrndup(p, len);
				v[n].v = xstrdup("");
			}
			n++;
		}
		p = amp ? amp + 1 : NULL;
	}
	if (n > 1)
		qsort(v, n, sizeof(*v), cmp_kv);
	for (size_t i = 0; i < n; i++) {
		buf_printf(out, "%s%s=%s", i ? "&" : "", v[i].k, v[i].v);
		free(v[i].k);
		free(v[i].v);
	}
	free(v);
}

struct hv {
	char *name;
	char *value;
	size_t order;	/* a header given twice keeps its values' order */
};

static int
cmp_hv(const void *a, const void *b)
{
	const struct hv *x = a, *y = b;
	int c = strcmp(x->name, y->name);

	if (c)
		return c;
	return x->order < y->order ? -1 : x->order > y->order;
}

static char *
fold_value(const char *v)
{
	struct buf b = BUF_INIT;
	int space = 0;

	while (*v == ' ' || *v == '\t')
		v++;
	for (; *v; v++) {
		if (*v == ' ' || *v == '\t') {
			space = 1;
			continue;
		}
		if (space && b.len)
			buf_putc(&b, ' ');
		space = 0;
		buf_putc(&b, *v);
	}
	buf_cstr(&b);
	return (char *)buf_steal(&b, NULL);
}

void
sigv4_sign(const struct sigv4_req *r, struct buf *ret_canonical,
    struct buf *ret_to_sign, struct buf *ret_authorization)
{
	struct buf can = BUF_INIT, sts = BUF_INIT, signed_h = BUF_INIT, kbuf = BUF_INIT;
	struct hv *h = xcalloc(r->nheaders ? r->nheaders : 1, sizeof(*h));
	char day[9], hash[65], sig[65];
	unsigned char k[32];

	memcpy(day, r->amz_date, 8);
	day[8] = '\0';
	for (size_t i = 0; i < r->nheaders; i++) {
		h[i].name = xstrdup(r->headers[i].name);
		for (char *p = h[i].name; *p; p++)
			if (*p >= 'A' && *p <= 'Z')
				*p = (char)(*p - 'A' + 'a');
		h[i].value = fold_value(r->headers[i].value);
		h[i].order = i;
	}
	qsort(h, r->nheaders, sizeof(*h), cmp_hv);
	buf_printf(&can, "%s\n%s\n", r->method, r->path && *r->path ? r->path : "/");
	canonical_query(r->query, &can);
	buf_putc(&can, '\n');
	/* one line per name; repeated headers' values joined by commas */
	for (size_t i = 0; i < r->nheaders; i++) {
		if (i > 0 && strcmp(h[i].name, h[i - 1].name) == 0) {
			buf_printf(&can, ",%s", h[i].value);
			continue;
		}
		buf_printf(&can, "%s%s:%s", i ? "\n" : "", h[i].name, h[i].value);
		buf_printf(&signed_h, "%s%s", i ? ";" : "", h[i].name);
	}
	if (r->nheaders)
		buf_putc(&can, '\n');
	buf_cstr(&signed_h);
	buf_printf(&can, "\n%s\n%s", (char *)signed_h.data, r->payload_hash);
	sigv4_sha256_hex(can.data, can.len, hash);
	buf_printf(&sts, "AWS4-HMAC-SHA256\n%s\n%s/%s/%s/aws4_request\n%s", r->amz_date, day,
	    r->region, r->service, hash);
	buf_printf(&kbuf, "AWS4%s", r->secret_key);
	hmac(kbuf.data, kbuf.len, day, strlen(day), k);
	hmac(k, 32, r->region, strlen(r->region), k);
	hmac(k, 32, r->service, strlen(r->service), k);
	hmac(k, 32, "aws4_request", 12, k);
	{
		unsigned char s[32];

		hmac(k, 32, sts.data, sts.len, s);
		hex_encode(s, 32, sig);
	}
	if (ret_authorization) {
		ret_authorization->len = 0;
		buf_printf(ret_authorization,
		    "AWS4-HMAC-SHA256 Credential=%s/%s/%s/%s/aws4_request, SignedHeaders=%s, Signature=%s",
		    r->access_key, day, r->region, r->service, (char *)signed_h.data, sig);
	}
	if (ret_canonical) {
		ret_canonical->len = 0;
		buf_append(ret_canonical, can.data, can.len);
		buf_cstr(ret_canonical);
	}
	if (ret_to_sign) {
		ret_to_sign->len = 0;
		buf_append(ret_to_sign, sts.data, sts.len);
		buf_cstr(ret_to_sign);
	}
	OPENSSL_cleanse(kbuf.data, kbuf.len);
	OPENSSL_cleanse(k, sizeof(k));
	for (size_t i = 0; i < r->nheaders; i++) {
		free(h[i].name);
		free(h[i].value);
	}
	free(h);
	buf_free(&can);
	buf_free(&sts);
	buf_free(&signed_h);
	buf_free(&kbuf);
}
