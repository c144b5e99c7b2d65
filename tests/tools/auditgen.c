/* auditgen — shape and measure a repository's audit log, for tests and
 * benchmarks (the passphrase as for imdr: $IMDR_PASSWORD_FILE, ...):
 *
 *   auditgen REPO append COMMAND [SCOPE] [--at TIME] [--parent BASE]...
 *       one record; without --parent linked to the recent heads (as every
 *       command is), with them to exactly those ("-": none), at TIME
 *       (default now); prints its base name, then the requests it took
 *   auditgen REPO fill N [--spacing SECS]
 *       N backup-like records in a chain, one every SECS (default 3600)
 *       ending now, each naming the one before, the first the newest
 *       record there was (one PUT each)
 *   auditgen REPO read                 trail_read of the whole log
 *   auditgen REPO verify [DIGEST]      trail_verify (snapshots read too)
 *
 * read, verify and append print "secs=S lists=L gets=G puts=P records=N
 * errors=E" on the last line. Errors are one line on stderr, exit 1. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/pass.h"
#include "engine/trail.h"
#include "lib/err.h"
#include "lib/log.h"
#include "lib/timefmt.h"
#include "repo/audit.h"
#include "repo/repo.h"

static int
usage(void)
{
	fprintf(stderr, "usage: auditgen REPO append COMMAND [SCOPE] [--at TIME] [--parent BASE]...\n"
	    "       auditgen REPO fill N [--spacing SECS]\n"
	    "       auditgen REPO read | verify [DIGEST]\n");
	return 2;
}

static void
stats(struct repo *r, int64_t t0, uint64_t records, uint64_t errors)
{
	struct repo_io_stats st;

	repo_io_stats(r, &st);
	printf("secs=%.3f lists=%llu gets=%llu puts=%llu records=%llu errors=%llu\n",
	    (double)(time_mono_ns() - t0) / 1e9, (unsigned long long)st.lists,
	    (unsigned long long)st.gets, (unsigned long long)st.puts,
	    (unsigned long long)records, (unsigned long long)errors);
}

static void
say(void *ctx, const char *what, const char *msg)
{
	fprintf(stderr, "%s: %s%s%s\n", (const char *)ctx, what ? what : "", what ? ": " : "", msg);
}

static int
append(struct repo *r, int argc, char **argv)
{
	const char *command = argv[0], *scope = NULL;
	char (*parents)[AUDIT_BASE_MAX] = xcalloc((size_t)argc + 1, sizeof(*parents));
	char base[AUDIT_BASE_MAX], id[AUDIT_ID_HEX + 1];
	size_t np = 0;
	int64_t at = 0, t0 = time_mono_ns();
	int linked = 0, rc;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--at") == 0 && i + 1 < argc) {
			if (time_parse(argv[++i], &at, NULL) != 0)
				return usage();
		} else if (strcmp(argv[i], "--parent") == 0 && i + 1 < argc) {
			linked = 1;
			if (strcmp(argv[++i], "-") != 0)
				snprintf(parents[np++], AUDIT_BASE_MAX, "%s", argv[i]);
		} else if (scope == NULL) {
			scope = argv[i];
		} else {
			return usage();
		}
	}
	if (linked || at) {
		rc = audit_append_linked(r, &(struct audit_event){ command, scope, "ok" }, parents, np,
		    at, base);
	} else {
		rc = audit_append(r, &(struct audit_event){ command, scope, "ok" }, id);
		snprintf(base, sizeof(base), "(id %s)", id);
	}
	free(parents);
	if (rc) {
		fprintf(stderr, "auditgen: %s\n", err_msg(rc));
		return 1;
	}
	printf("%s\n", base);
	stats(r, t0, 1, 0);
	return 0;
}

static int
fill(struct repo *r, int argc, char **argv)
{
	long n = atol(argv[0]), spacing = 3600;
	char prev[1][AUDIT_BASE_MAX];
	int64_t now = time_now_ns(), t0 = time_mono_ns();

	if (argc == 3 && strcmp(argv[1], "--spacing") == 0)
		spacing = atol(argv[2]);
	else if (argc != 1)
		return usage();
	if (n < 1 || spacing < 1)
		return usage();
	prev[0][0] = '\0';
	{
		/* the chain hangs off the newest record there is */
		struct audit_name *v = NULL;
		size_t nv = 0;

		if (audit_list(r, &v, &nv) == IMDR_OK && nv)
			snprintf(prev[0], sizeof(prev[0]), "%s", audit_base(&v[nv - 1]));
		free(v);
	}
	for (long i = 0; i < n; i++) {
		char scope[256];
		int64_t at = now - (int64_t)(n - 1 - i) * spacing * 1000000000;
		int rc;

		snprintf(scope, sizeof(scope), "{\"snapshot\":\"%064lx\",\"source\":\"bench\","
		    "\"files\":%ld,\"bytes\":%ld}", i, 100 + i, 1000000 + i);
		rc = audit_append_linked(r, &(struct audit_event){ "backup", scope, "ok" }, prev,
		    prev[0][0] ? 1 : 0, at, prev[0]);
		if (rc) {
			fprintf(stderr, "auditgen: record %ld: %s\n", i, err_msg(rc));
			return 1;
		}
	}
	stats(r, t0, (uint64_t)n, 0);
	return 0;
}

int
main(int argc, char **argv)
{
	struct repo *r = NULL;
	char *pass = NULL;
	size_t plen = 0;
	int64_t t0;
	int rc;

	log_init("auditgen");
	if (argc < 3)
		return usage();
	rc = pass_get(NULL, 0, &pass, &plen);
	if (rc == IMDR_OK)
		rc = repo_open(argv[1], pass, plen, &r);
	pass_free(pass, plen);
	if (rc) {
		fprintf(stderr, "auditgen: %s\n", err_msg(rc));
		return 1;
	}
	t0 = time_mono_ns();
	if (strcmp(argv[2], "append") == 0 && argc >= 4) {
		rc = append(r, argc - 3, argv + 3);
	} else if (strcmp(argv[2], "fill") == 0 && argc >= 4) {
		rc = fill(r, argc - 3, argv + 3);
	} else if (strcmp(argv[2], "read") == 0 && argc == 3) {
		struct trail_opts o = { 0 };
		struct trail_result res;

		o.ev.error = say;
		o.ev.warn = say;
		o.ev.ctx = "auditgen";
		rc = trail_read(r, &o, NULL, NULL, &res);
		if (rc == IMDR_OK)
			stats(r, t0, res.verified, res.errors);
		rc = rc ? 1 : res.errors ? 1 : 0;
	} else if (strcmp(argv[2], "verify") == 0 && argc <= 4) {
		struct trail_verify_opts o = { argc == 4 ? argv[3] : NULL, 1, { 0 } };
		struct trail_verify_result res;

		o.ev.error = say;
		o.ev.warn = say;
		o.ev.ctx = "auditgen";
		rc = trail_verify(r, &o, &res);
		if (rc == IMDR_OK)
			stats(r, t0, res.verified, res.errors);
		else
			fprintf(stderr, "auditgen: %s\n", err_msg(rc));
		rc = rc ? 1 : res.errors ? 1 : 0;
	} else {
		rc = usage();
	}
	repo_free(r);
	return rc;
}
