/* keyinfo — the key material of a local repository, for the test that
 * looks for it in a core dump of mount.imdr (tests/integration/
 * sec_core_dump.sh). A test tool: it prints secrets, by design.
 *
 *   keyinfo REPO    with the passphrase in $IMDR_PASSWORD_FILE, prints
 *                   "enc HEX", "mac HEX", "chunker HEX" (the master key)
 *                   and "kek keys/ID HEX" for each key slot the passphrase
 *                   opens (the scrypt-derived key that wraps it)
 *
 * It computes them itself, so nothing in imdr or mount.imdr has to offer
 * a way to reveal a key. Errors: one line on stderr, exit status 1. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "lib/buf.h"
#include "lib/err.h"
#include "lib/hex.h"
#include "repo/crypto.h"
#include "repo/repo.h"

static void
print_hex(const char *label, const uint8_t *p, size_t n)
{
	char hex[2 * 64 + 1];

	hex_encode(p, n, hex);
	printf("%s %s\n", label, hex);
}

static int
read_file(const char *path, struct buf *out)
{
	char tmp[4096];
	int fd = open(path, O_RDONLY);
	ssize_t n;

	if (fd < 0)
		return -1;
	while ((n = read(fd, tmp, sizeof(tmp))) > 0)
		buf_append(out, tmp, (size_t)n);
	close(fd);
	return n < 0 ? -1 : 0;
}

/* print_kek: scrypt of the passphrase with the slot's own parameters. */
static int
print_kek(const char *repo, const char *slot, const char *pass, size_t plen)
{
	struct buf obj = BUF_INIT;
	char *path = xasprintf("%s/%s", repo, slot);
	const char *salthex;
	json_int_t N, r, p;
	uint8_t salt[32], kek[32];
	json_t *j = NULL;
	int rc = -1;

	if (read_file(path, &obj) == 0 && obj.len > 32 &&
	    (j = json_loadb((const char *)obj.data + 32, obj.len - 32, 0, NULL)) != NULL &&
	    json_unpack(j, "{s:I, s:I, s:I, s:s}", "N", &N, "r", &r, "p", &p, "salt", &salthex) == 0 &&
	    hex_decode(salthex, salt, sizeof(salt)) == 0 &&
	    crypto_scrypt(pass, plen, salt, sizeof(salt), (uint64_t)N, (uint32_t)r,
	    (uint32_t)p, kek, sizeof(kek)) == IMDR_OK) {
		char *label = xasprintf("kek %s", slot);

		print_hex(label, kek, sizeof(kek));
		free(label);
		rc = 0;
	}
	json_decref(j);
	buf_free(&obj);
	free(path);
	return rc;
}

int
main(int argc, char **argv)
{
	struct buf pass = BUF_INIT;
	const char *pf = getenv("IMDR_PASSWORD_FILE");
	const struct master_key *k;
	struct repo *r;
	char **slots = NULL;
	size_t nslots = 0;
	int rc;

	if (argc != 2 || pf == NULL) {
		fprintf(stderr, "usage: IMDR_PASSWORD_FILE=F keyinfo REPO\n");
		return 2;
	}
	if (read_file(pf, &pass) != 0) {
		fprintf(stderr, "keyinfo: cannot read %s\n", pf);
		return 1;
	}
	if (pass.len && pass.data[pass.len - 1] == '\n')
		pass.len--;
	rc = repo_open(argv[1], (const char *)pass.data, pass.len, &r);
	if (rc) {
		fprintf(stderr, "keyinfo: %s\n", err_msg(rc));
		return 1;
	}
	k = repo_keys(r);
	print_hex("enc", k->enc, sizeof(k->enc));
	print_hex("mac", k->mac, sizeof(k->mac));
	print_hex("chunker", k->chunker, sizeof(k->chunker));
	if (repo_key_list(r, &slots, &nslots) == IMDR_OK) {
		for (size_t i = 0; i < nslots; i++) {
			print_kek(argv[1], slots[i], (const char *)pass.data, pass.len);
			free(slots[i]);
		}
		free(slots);
	}
	repo_free(r);
	buf_free(&pass);
	return 0;
}
