#include "cli/common.h"

#include <stdlib.h>
#include <string.h>

#include "catalog/catalog.h"
#include "cli/pass.h"
#include "cli/progress.h"
#include "engine/trail.h"
#include "lib/err.h"
#include "lib/log.h"
#include "lib/text.h"

int64_t cli_key_cache_secs;
struct repo_unlock_info cli_unlock_info;

static int
get_pass(void *ctx, char **ret, size_t *ret_len)
{
	return pass_get(ctx, 0, ret, ret_len);
}

static void
put_pass(void *ctx, char *pass, size_t len)
{
	(void)ctx;
	pass_free(pass, len);
}

int
cli_open_repo(const char *url, const char *passfile, struct repo **ret)
{
	struct repo_unlock u = { get_pass, put_pass, (void *)passfile, cli_key_cache_secs };
	int rc = repo_open_with(url, &u, ret, &cli_unlock_info);

	if (cli_unlock_info.cache_note[0])
		warn0("--key-cache: %s; going on without the key cache", cli_unlock_info.cache_note);
	return rc;
}

void
cli_replica_policy(struct repo *r, int min_writes, int hedge)
{
	const char *e = getenv("IMDR_MIN_REPLICAS"), *h = getenv("IMDR_HEDGE");
	struct repo_replica_policy p = { e ? atoi(e) : 1, h ? atoi(h) != 0 : 1 };

	if (p.min_writes < 1)
		p.min_writes = 1;
	if (min_writes > 0)
		p.min_writes = min_writes;
	if (hedge >= 0)
		p.hedge = hedge;
	repo_set_replica_policy(r, &p);
}

int
cli_fail(int rc)
{
	warn0("%s", err_msg(rc));
	return 1;
}

int
cli_audited(int audit_rc)
{
	return audit_rc == IMDR_OK || audit_rc == IMDR_EUNSUP ? 0 : CLI_EXIT_NOT_AUDITED;
}

int
cli_record(struct repo *r, const char *command, struct json_t *scope, int op_rc)
{
	struct cli_events ce = { NULL, 0, 0, 0 };
	struct engine_events ev;

	cli_events_bind(&ev, &ce);
	return cli_audited(trail_record(r, &ev, command, scope, op_rc, NULL));
}

void
fmt_size(uint64_t n, char *out)
{
	static const char *const units[] = { "B", "KiB", "MiB", "GiB", "TiB", "PiB" };
	double v = (double)n;
	int u = 0;

	if (n < 1024) {
		snprintf(out, 32, "%llu B", (unsigned long long)n);
		return;
	}
	while (v >= 1024 && u < 5) {
		v /= 1024;
		u++;
	}
	snprintf(out, 32, v < 10 ? "%.2f %s" : v < 100 ? "%.1f %s" : "%.0f %s", v, units[u]);
}

void
fmt_mode(uint8_t type, uint32_t mode, char *out)
{
	static const char rwx[] = "rwxrwxrwx";

	out[0] = type == CAT_DIR ? 'd' : type == CAT_SYMLINK ? 'l' : '-';
	for (int i = 0; i < 9; i++)
		out[1 + i] = (mode & (0400u >> i)) ? rwx[i] : '-';
	if (mode & 04000)
		out[3] = (mode & 0100) ? 's' : 'S';
	if (mode & 02000)
		out[6] = (mode & 0010) ? 's' : 'S';
	if (mode & 01000)
		out[9] = (mode & 0001) ? 't' : 'T';
	out[10] = '\0';
}

void
json_print_string(FILE *f, const char *s)
{
	size_t left = strlen(s);

	fputc('"', f);
	for (const unsigned char *p = (const unsigned char *)s; *p; p++, left--) {
		size_t l, run = 0;

		/* a run of what needs no escape in one write (a character at
		 * a time, each taking the stream's lock, was most of printing
		 * a search's 77 000 hits) */
		while (p[run] >= 0x20 && p[run] < 0x7f && p[run] != '"' && p[run] != '\\')
			run++;
		if (run > 0) {
			fwrite(p, 1, run, f);
			p += run;
			left -= run;
			if (*p == '\0')
				break;
		}
		l = *p >= 0x80 ? text_utf8_len(p, left) : 1;
		if (l == 0) {
			fputs("\\ufffd", f);	/* not UTF-8: JSON cannot hold it */
			continue;
		}
		if (l > 1) {
			fwrite(p, 1, l, f);
			p += l - 1;
			left -= l - 1;
			continue;
		}
		switch (*p) {
		case '"': fputs("\\\"", f); break;
		case '\\': fputs("\\\\", f); break;
		case '\n': fputs("\\n", f); break;
		case '\r': fputs("\\r", f); break;
		case '\t': fputs("\\t", f); break;
		default:
			if (*p < 0x20 || *p == 0x7f)
				fprintf(f, "\\u%04x", *p);
			else
				fputc(*p, f);
		}
	}
	fputc('"', f);
}

void
json_print_b64(FILE *f, const char *key, const char *s)
{
	char *b64;

	if (text_utf8_valid(s, strlen(s)))
		return;
	b64 = text_base64(s, strlen(s));
	fprintf(f, ",\"%s_b64\":\"%s\"", key, b64);
	free(b64);
}
