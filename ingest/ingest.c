/* ingest — the table of formats, detection by their bids, and ingest_run.
 * Adding a format: a file of ingest/ defining its struct ingest_format
 * (probe and run), and a row below. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "ingest/ingest.h"
#include "ingest/ingest_impl.h"
#include "lib/buf.h"
#include "lib/err.h"

const struct ingest_format *const ingest_formats[] = {
	&ingest_fmt_slack,
	&ingest_fmt_mattermost,
	&ingest_fmt_canonical,
	&ingest_fmt_files,
	NULL,
};

const struct ingest_format *
ingest_format_find(const char *name)
{
	struct buf known = BUF_INIT;

	for (size_t i = 0; ingest_formats[i]; i++)
		if (strcmp(ingest_formats[i]->name, name) == 0)
			return ingest_formats[i];
	for (size_t i = 0; ingest_formats[i]; i++)
		buf_printf(&known, "%s%s", i ? ", " : "", ingest_formats[i]->name);
	err_set(IMDR_EINVAL, "unknown format %s (known: %s)", name, buf_cstr(&known));
	buf_free(&known);
	return NULL;
}

struct src *
probe_src(struct ingest_probe *p)
{
	if (p->s == NULL && p->rc == IMDR_OK)
		p->rc = src_open(p->path, &p->s);
	return p->s;
}

int
probe_top_has(struct ingest_probe *p, const char *name)
{
	if (p->kind == SRC_DIR) {
		char *path = xasprintf("%s/%s", p->path, name);
		struct stat st;
		int ok = stat(path, &st) == 0 && S_ISREG(st.st_mode);

		free(path);
		return ok;
	}
	return probe_src(p) && src_has(p->s, name);
}

int
ingest_detect(const char *source, const struct ingest_opts *opts,
    const struct ingest_format **ret)
{
	struct ingest_probe p = { source, 0, NULL, IMDR_OK };
	const struct ingest_format *best = NULL;
	int best_bid = 0;
	struct stat st;

	if (opts && opts->format) {
		*ret = opts->format;
		return IMDR_OK;
	}
	if (stat(source, &st) < 0)
		return err_set(IMDR_ESOURCE, "cannot read source %s: %s", source, strerror(errno));
	p.kind = S_ISDIR(st.st_mode) ? SRC_DIR : S_ISREG(st.st_mode) &&
	    !ingest_is_archive(source) ? SRC_FILE : SRC_ARCHIVE;
	for (size_t i = 0; ingest_formats[i]; i++) {
		int bid = ingest_formats[i]->probe(&p);

		if (bid > best_bid) {
			best = ingest_formats[i];
			best_bid = bid;
		}
	}
	src_free(p.s);
	if (best == NULL)
		return p.rc ? p.rc : err_set(IMDR_ESOURCE, "%s: no format reads it", source);
	err_clear();
	*ret = best;
	return IMDR_OK;
}

int
ingest_run(const char *source, const struct ingest_opts *opts,
    const struct ingest_sink *sink, struct ingest_result *ret)
{
	const struct ingest_format *f;
	int rc;

	memset(ret, 0, sizeof(*ret));
	rc = ingest_detect(source, opts, &f);
	if (rc)
		return rc;
	ret->format = f;
	return f->run(source, opts, sink, ret);
}
