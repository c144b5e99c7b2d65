/* fuzzseeds — write the plaintext of real repository objects as seeds for
 * the fuzz harnesses (tests/fuzz/make-seeds.sh runs it):
 *
 *   fuzzseeds REPO OUTDIR      passphrase from IMDR_PASSWORD_FILE
 *
 * OUTDIR/keyslot/     each key slot as stored after a 0x01 byte, and its
 *                     JSON alone after a 0x00 byte (fuzz_keyslot takes
 *                     the first as it is and adds the checksum to the
 *                     second)
 * OUTDIR/snapshot/    each snapshot's JSON
 * OUTDIR/index/       each index object's plaintext
 * OUTDIR/pack_header/ each pack header's plaintext
 * OUTDIR/node/        every tree node of every snapshot, decrypted
 * Files are named by the first 16 hex digits of their SHA-256. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "catalog/catalog.h"
#include "lib/buf.h"
#include "lib/err.h"
#include "lib/hex.h"
#include "repo/crypto.h"
#include "repo/repo.h"
#include "repo/snapshot.h"

static const char *outdir;

static void
put(const char *kind, const uint8_t *p, size_t n, int lead)
{
	uint8_t sum[32];
	char hex[65], path[512];
	FILE *f;

	crypto_sha256(p, n, sum);
	hex_encode(sum, sizeof(sum), hex);
	snprintf(path, sizeof(path), "%s/%s", outdir, kind);
	mkdir(path, 0755);
	snprintf(path, sizeof(path), "%s/%s/%.16s", outdir, kind, hex);
	f = fopen(path, "wb");
	if (f == NULL || (lead >= 0 && fputc(lead, f) == EOF) || fwrite(p, 1, n, f) != n ||
	    fclose(f) != 0) {
		fprintf(stderr, "fuzzseeds: cannot write %s\n", path);
		exit(1);
	}
}

struct names {
	char **v;
	size_t n;
};

static int
collect(void *ctx, const char *name, uint64_t size)
{
	struct names *l = ctx;

	(void)size;
	l->v = xrealloc(l->v, (l->n + 1) * sizeof(*l->v));
	l->v[l->n++] = xstrdup(name);
	return 0;
}

static void
list(struct repo *r, const char *prefix, struct names *l)
{
	memset(l, 0, sizeof(*l));
	if (repo_list(r, prefix, collect, l) != IMDR_OK) {
		fprintf(stderr, "fuzzseeds: cannot list %s: %s\n", prefix, err_msg(IMDR_EIO));
		exit(1);
	}
}

static void
names_free(struct names *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
}

/* nodes: the node at ref and every node below it */
static void
nodes(struct repo *r, const struct blob_ref *ref)
{
	struct buf b = BUF_INIT;
	struct cat_node *node;

	if (repo_blob_read(r, BLOB_TREE, ref, &b) != IMDR_OK ||
	    cat_node_decode(b.data, b.len, &node) != IMDR_OK) {
		fprintf(stderr, "fuzzseeds: cannot read a tree node\n");
		exit(1);
	}
	put("node", b.data, b.len, -1);
	buf_free(&b);
	for (uint32_t i = 0; i < cat_node_count(node); i++) {
		const struct cat_entry *e = cat_node_entry(node, i);

		if (e->type == CAT_DIR)
			nodes(r, &e->subtree);
	}
	cat_node_free(node);
}

int
main(int argc, char **argv)
{
	const char *pf = getenv("IMDR_PASSWORD_FILE");
	char pass[256] = "";
	struct repo *r;
	struct names l;
	struct buf b = BUF_INIT;
	FILE *f;

	if (argc != 3 || pf == NULL) {
		fprintf(stderr, "usage: IMDR_PASSWORD_FILE=F fuzzseeds REPO OUTDIR\n");
		return 2;
	}
	outdir = argv[2];
	mkdir(outdir, 0755);
	f = fopen(pf, "r");
	if (f == NULL || fgets(pass, sizeof(pass), f) == NULL) {
		fprintf(stderr, "fuzzseeds: cannot read %s\n", pf);
		return 1;
	}
	fclose(f);
	pass[strcspn(pass, "\n")] = '\0';
	if (repo_open(argv[1], pass, strlen(pass), &r) != IMDR_OK) {
		fprintf(stderr, "fuzzseeds: %s\n", err_msg(IMDR_EIO));
		return 1;
	}
	list(r, "keys/", &l);
	for (size_t i = 0; i < l.n; i++)
		if (repo_object_read(r, l.v[i], &b, NULL, NULL) == IMDR_OK &&
		    b.len > 32) {
			put("keyslot", b.data, b.len, 1);
			put("keyslot", b.data + 32, b.len - 32, 0);
		}
	names_free(&l);
	list(r, "index/", &l);
	for (size_t i = 0; i < l.n; i++)
		if (repo_get_sealed(r, OBJ_INDEX, l.v[i], &b) == IMDR_OK)
			put("index", b.data, b.len, -1);
	names_free(&l);
	list(r, "data/", &l);
	for (size_t i = 0; i < l.n; i++) {
		/* the header: sealed, before its 4-byte length, at the end */
		uint8_t id[CRYPTO_ID_LEN], aad[6 + CRYPTO_ID_LEN];
		const char *base = strrchr(l.v[i], '/') + 1;
		uint32_t slen;
		uint8_t *plain;

		if (repo_object_read(r, l.v[i], &b, NULL, NULL) != IMDR_OK || b.len < 4)
			continue;
		slen = get_u32le(b.data + b.len - 4);
		if (slen < CRYPTO_OVERHEAD || slen > b.len - 4 || hex_decode(base, id, sizeof(id)) != 0)
			continue;
		memcpy(aad, "imdr1h", 6);
		memcpy(aad + 6, id, CRYPTO_ID_LEN);
		plain = xmalloc(slen);
		if (crypto_open(repo_keys(r)->enc, aad, sizeof(aad), b.data + b.len - 4 - slen,
		    slen, plain) == IMDR_OK)
			put("pack_header", plain, slen - CRYPTO_OVERHEAD, -1);
		free(plain);
	}
	names_free(&l);
	list(r, "snapshots/", &l);
	for (size_t i = 0; i < l.n; i++) {
		struct snapshot *s;

		if (repo_get_sealed(r, OBJ_SNAPSHOT, l.v[i], &b) == IMDR_OK)
			put("snapshot", b.data, b.len, -1);
		if (snapshot_load(r, l.v[i], &s) == IMDR_OK) {
			nodes(r, &s->root);
			snapshot_free(s);
		}
	}
	names_free(&l);
	buf_free(&b);
	repo_free(r);
	return 0;
}
