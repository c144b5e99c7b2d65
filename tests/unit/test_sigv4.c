/* SigV4 against AWS's published vectors: the Signature Version 4 test
 * suite (AKIDEXAMPLE, 20150830T123600Z, us-east-1, service "service") and
 * the S3 GET Object example of the S3 documentation. */
#include <string.h>

#include "backends/sigv4.h"
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

int
main(void)
{
	RUN(test_get_vanilla);
	RUN(test_get_vanilla_query_order_key_case);
	RUN(test_s3_get_object_example);
	RUN(test_uri_encode);
	TEST_EXIT();
}
