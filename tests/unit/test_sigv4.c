/* SigV4 against AWS's published vectors: the Signature Version 4 test
 * suite (AKIDEXAMPLE, 20150830T123600Z, us-east-1, service "service"; 23
 * cases in sigv4_vectors.h, each checked at all three steps) and the GET,
 * PUT and LIST examples of the S3 documentation. */
#include <stdlib.h>
#include <string.h>

#include "backends/sigv4.h"
#include "tests/unit/sigv4_vectors.h"
#include "tests/unit/test.h"

#define EMPTY "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

static const char *
sig_of(const struct buf *auth)
{
	const char *s = strstr((const char *)auth->data, "Signature=");

	return s ? s + 10 : "";
}

static void
suite(const char *query, const char *want_sig, const char *want_creq_hash)
{
	struct sigv4_header h[] = { { "Host", "example.amazonaws.com" }, { "X-Amz-Date", "20150830T123600Z" } };
	struct sigv4_req r = { "GET", "/", query, h, 2, EMPTY, "20150830T123600Z", "us-east-1",
	    "service", "AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY" };
	struct buf can = BUF_INIT, sts = BUF_INIT, auth = BUF_INIT;
	char hash[65];

	sigv4_sign(&r, &can, &sts, &auth);
	EXPECT(strcmp(sig_of(&auth), want_sig) == 0);
	if (want_creq_hash) {
		sigv4_sha256_hex(can.data, can.len, hash);
		EXPECT(strcmp(hash, want_creq_hash) == 0);
	}
	EXPECT(strncmp((char *)auth.data, "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=", 120) == 0);
	EXPECT(strncmp((char *)sts.data, "AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/service/aws4_request\n", 74) == 0);
	buf_free(&can);
	buf_free(&sts);
	buf_free(&auth);
}

static void
test_get_vanilla(void)
{
	/* get-vanilla: canonical request "GET\n/\n\nhost:...\nx-amz-date:...\n\nhost;x-amz-date\n<empty hash>" */
	suite("", "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31",
	    "bb579772317eb040ac9ed261061d46c1f17a8133879d6129b6e1c25292927e63");
}

static void
test_get_vanilla_query_order_key_case(void)
{
	/* the query is sorted before signing */
	suite("Param2=value2&Param1=value1", "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500", NULL);
}

static void
test_s3_get_object_example(void)
{
	struct sigv4_header h[] = {
		{ "Host", "examplebucket.s3.amazonaws.com" },
		{ "Range", "bytes=0-9" },
		{ "x-amz-content-sha256", EMPTY },
		{ "x-amz-date", "20130524T000000Z" },
	};
	struct sigv4_req r = { "GET", "/test.txt", "", h, 4, EMPTY, "20130524T000000Z", "us-east-1",
	    "s3", "AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY" };
	struct buf can = BUF_INIT, sts = BUF_INIT, auth = BUF_INIT;
	char hash[65];

	sigv4_sign(&r, &can, &sts, &auth);
	EXPECT(strcmp((char *)can.data, "GET\n/test.txt\n\nhost:examplebucket.s3.amazonaws.com\nrange:bytes=0-9\n"
	    "x-amz-content-sha256:" EMPTY "\nx-amz-date:20130524T000000Z\n\n"
	    "host;range;x-amz-content-sha256;x-amz-date\n" EMPTY) == 0);
	sigv4_sha256_hex(can.data, can.len, hash);
	EXPECT(strcmp(hash, "7344ae5b7ee6c3e7e6b0fe0640412a37625d1fbfff95c48bbb2dc43964946972") == 0);
	EXPECT(strcmp((char *)sts.data, "AWS4-HMAC-SHA256\n20130524T000000Z\n20130524/us-east-1/s3/aws4_request\n"
	    "7344ae5b7ee6c3e7e6b0fe0640412a37625d1fbfff95c48bbb2dc43964946972") == 0);
	EXPECT(strcmp(sig_of(&auth), "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41") == 0);
	buf_free(&can);
	buf_free(&sts);
	buf_free(&auth);
}

static void
test_uri_encode(void)
{
	struct buf b = BUF_INIT;

	sigv4_uri_encode("data/ab/x y+z~é", 1, &b);
	buf_cstr(&b);
	EXPECT(strcmp((char *)b.data, "data/ab/x%20y%2Bz~%C3%A9") == 0);
	b.len = 0;
	sigv4_uri_encode("a/b", 0, &b);
	buf_cstr(&b);
	EXPECT(strcmp((char *)b.data, "a%2Fb") == 0);
	buf_free(&b);
}

/* The suite writes requests as they go on the wire: "METHOD PATH[?QUERY]
 * HTTP/1.1", "Name:value" lines, a blank line, the body. */
struct parsed {
	char *text;
	char *method, *path, *query, *body;
	struct sigv4_header h[16];
	size_t nh;
};

static void
parse_request(const char *req, struct parsed *p)
{
	char *line, *next, *sp, *q;

	memset(p, 0, sizeof(*p));
	p->text = xstrdup(req);
	next = strchr(p->text, '\n');
	*next++ = '\0';
	sp = strchr(p->text, ' ');
	*sp = '\0';
	p->method = p->text;
	p->path = sp + 1;
	*strrchr(p->path, ' ') = '\0';	/* " HTTP/1.1" */
	p->query = "";
	if ((q = strchr(p->path, '?')) != NULL) {
		*q = '\0';
		p->query = q + 1;
	}
	p->body = "";
	for (line = next; line && *line; line = next) {
		char *colon;

		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		if (*line == '\0') {	/* the blank line before the body */
			p->body = next ? next : "";
			break;
		}
		colon = strchr(line, ':');
		*colon = '\0';
		p->h[p->nh].name = line;
		p->h[p->nh++].value = colon + 1;
	}
}

static int
hexv(int c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'A' && c <= 'F' ? c - 'A' + 10 :
	    c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* What a client does before signing: each query key and value in the
 * one encoded form (the suite gives some raw, some encoded already). */
static void
encode_query_part(const char *s, size_t n, struct buf *out)
{
	char *dec = xmalloc(n + 1);
	size_t m = 0;

	for (size_t i = 0; i < n; i++) {
		if (s[i] == '%' && i + 2 < n && hexv(s[i + 1]) >= 0 && hexv(s[i + 2]) >= 0) {
			dec[m++] = (char)(hexv(s[i + 1]) * 16 + hexv(s[i + 2]));
			i += 2;
		} else {
			dec[m++] = s[i];
		}
	}
	dec[m] = '\0';
	sigv4_uri_encode(dec, 0, out);
	free(dec);
}

static void
encode_query(const char *q, struct buf *out)
{
	while (*q) {
		size_t len = strcspn(q, "&"), klen = strcspn(q, "=");

		if (klen > len)
			klen = len;
		encode_query_part(q, klen, out);
		buf_putc(out, '=');
		if (klen < len)
			encode_query_part(q + klen + 1, len - klen - 1, out);
		q += len;
		if (*q == '&') {
			buf_putc(out, '&');
			q++;
		}
	}
	buf_cstr(out);
}

/* Every case of AWS's suite that applies to S3-style signing (headers, not
 * query signing; no path normalisation): the canonical request, the string
 * to sign and the signature must all be the published ones. */
static void
test_aws_suite(void)
{
	size_t n = sizeof(sigv4_vectors) / sizeof(sigv4_vectors[0]);

	EXPECT(n >= 20);
	for (size_t i = 0; i < n; i++) {
		const struct sigv4_vector *v = &sigv4_vectors[i];
		struct buf path = BUF_INIT, query = BUF_INIT;
		struct buf can = BUF_INIT, sts = BUF_INIT, auth = BUF_INIT;
		struct parsed p;
		char hash[65];

		parse_request(v->request, &p);
		sigv4_sha256_hex(p.body, strlen(p.body), hash);
		sigv4_uri_encode(p.path, 1, &path);
		buf_cstr(&path);
		encode_query(p.query, &query);
		p.h[p.nh++] = (struct sigv4_header){ "X-Amz-Date", "20150830T123600Z" };
		if (v->token)
			p.h[p.nh++] = (struct sigv4_header){ "X-Amz-Security-Token", v->token };
		if (v->sign_body)
			p.h[p.nh++] = (struct sigv4_header){ "X-Amz-Content-Sha256", hash };
		sigv4_sign(&(struct sigv4_req){ p.method, (char *)path.data,
		    query.data ? (char *)query.data : "", p.h, p.nh, hash,
		    "20150830T123600Z", "us-east-1", "service", "AKIDEXAMPLE",
		    "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY" }, &can, &sts, &auth);
		if (strcmp((char *)can.data, v->creq) != 0)
			fprintf(stderr, "%s: canonical request is\n%s\n--- want\n%s\n", v->name,
			    (char *)can.data, v->creq);
		EXPECT(strcmp((char *)can.data, v->creq) == 0);
		EXPECT(strcmp((char *)sts.data, v->sts) == 0);
		if (strcmp(sig_of(&auth), v->sig) != 0)
			fprintf(stderr, "%s: signature %s, want %s\n", v->name, sig_of(&auth), v->sig);
		EXPECT(strcmp(sig_of(&auth), v->sig) == 0);
		buf_free(&path);
		buf_free(&query);
		buf_free(&can);
		buf_free(&sts);
		buf_free(&auth);
		free(p.text);
	}
}

/* S3 documentation, "Example: PUT Object": the payload is signed by its
 * sha256 (never aws-chunked); '$' in the key travels encoded. */
static void
test_s3_put_object_example(void)
{
	const char *body = "Welcome to Amazon S3.";
	char hash[65];
	struct sigv4_header h[] = {
		{ "Date", "Fri, 24 May 2013 00:00:00 GMT" },
		{ "Host", "examplebucket.s3.amazonaws.com" },
		{ "x-amz-content-sha256", hash },
		{ "x-amz-date", "20130524T000000Z" },
		{ "x-amz-storage-class", "REDUCED_REDUNDANCY" },
	};
	struct buf auth = BUF_INIT;

	sigv4_sha256_hex(body, strlen(body), hash);
	EXPECT(strcmp(hash, "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072") == 0);
	sigv4_sign(&(struct sigv4_req){ "PUT", "/test%24file.text", "", h, 5, hash,
	    "20130524T000000Z", "us-east-1", "s3", "AKIAIOSFODNN7EXAMPLE",
	    "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY" }, NULL, NULL, &auth);
	EXPECT(strcmp(sig_of(&auth), "98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd") == 0);
	buf_free(&auth);
}

/* "Example: GET Bucket (List Objects)": the query is sorted; and the
 * payload hash is part of what is signed (UNSIGNED-PAYLOAD differs). */
static void
test_s3_list_example(void)
{
	struct sigv4_header h[] = {
		{ "Host", "examplebucket.s3.amazonaws.com" },
		{ "x-amz-content-sha256", EMPTY },
		{ "x-amz-date", "20130524T000000Z" },
	};
	struct sigv4_req r = { "GET", "/", "max-keys=2&prefix=J", h, 3, EMPTY,
	    "20130524T000000Z", "us-east-1", "s3", "AKIAIOSFODNN7EXAMPLE",
	    "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY" };
	struct buf a = BUF_INIT, b = BUF_INIT;

	sigv4_sign(&r, NULL, NULL, &a);
	EXPECT(strcmp(sig_of(&a), "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7") == 0);
	r.payload_hash = "UNSIGNED-PAYLOAD";
	sigv4_sign(&r, NULL, NULL, &b);
	EXPECT(strcmp(sig_of(&a), sig_of(&b)) != 0);
	buf_free(&a);
	buf_free(&b);
}

int
main(void)
{
	RUN(test_aws_suite);
	RUN(test_get_vanilla);
	RUN(test_get_vanilla_query_order_key_case);
	RUN(test_s3_get_object_example);
	RUN(test_s3_put_object_example);
	RUN(test_s3_list_example);
	RUN(test_uri_encode);
	TEST_EXIT();
}
