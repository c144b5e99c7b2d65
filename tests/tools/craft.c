/* craft — put a snapshot whose tree lies into a local repository, with the
 * key, for tests/integration/sec_crafted_trees.sh (see tests/unit/craft.h).
 *
 *   craft REPO selfloop|rawlen|badnode    prints the new snapshot's id
 *
 * The passphrase comes from $IMDR_PASSWORD_FILE. Errors: one line on
 * stderr, exit status 1. */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "tests/unit/craft.h"

int
main(int argc, char **argv)
{
	const char *pf = getenv("IMDR_PASSWORD_FILE");
	char pass[4097], id[SNAPSHOT_ID_HEX + 1];
	struct repo *r;
	ssize_t n = -1;
	int fd, rc;

	if (argc != 3 || pf == NULL || (strcmp(argv[2], "selfloop") != 0 &&
	    strcmp(argv[2], "rawlen") != 0 && strcmp(argv[2], "badnode") != 0)) {
		fprintf(stderr, "usage: IMDR_PASSWORD_FILE=F craft REPO selfloop|rawlen|badnode\n");
		return 2;
	}
	if ((fd = open(pf, O_RDONLY)) >= 0) {
		n = read(fd, pass, sizeof(pass) - 1);
		close(fd);
	}
	if (n <= 0) {
		fprintf(stderr, "craft: cannot read %s\n", pf);
		return 1;
	}
	if (pass[n - 1] == '\n')
		n--;
	rc = repo_open(argv[1], pass, (size_t)n, &r);
	if (rc == IMDR_OK) {
		if (strcmp(argv[2], "selfloop") == 0)
			rc = craft_selfloop(r, id);
		else if (strcmp(argv[2], "rawlen") == 0)
			rc = craft_rawlen(r, id);
		else
			rc = craft_badnode(r, id);
		repo_free(r);
	}
	if (rc) {
		fprintf(stderr, "craft: %s\n", err_msg(rc));
		return 1;
	}
	printf("%s\n", id);
	return 0;
}
