/* dispatch — ingest_run for the `files` format. The chat readers (canonical,
 * slack, mattermost) and detection live in ingest/ingest.c once it lands;
 * until then this file serves `files` alone and says so for the others. */
#include <string.h>

#include "ingest/ingest.h"
#include "lib/err.h"

static const char *const names[] = {
	[INGEST_AUTO] = "auto",
	[INGEST_FILES] = "files",
	[INGEST_CANONICAL] = "canonical",
	[INGEST_SLACK] = "slack",
	[INGEST_MATTERMOST] = "mattermost",
};

const char *
ingest_format_name(enum ingest_format f)
{
	if ((unsigned)f >= sizeof(names) / sizeof(names[0]))
		return "unknown";
	return names[f];
}

int
ingest_format_parse(const char *s, enum ingest_format *ret)
{
	for (unsigned i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (strcmp(s, names[i]) == 0) {
			*ret = (enum ingest_format)i;
			return IMDR_OK;
		}
	}
	return err_set(IMDR_EINVAL, "unknown format %s", s);
}

int
ingest_detect(const char *source, const struct ingest_opts *opts,
    enum ingest_format *ret)
{
	(void)source;
	*ret = opts && opts->format != INGEST_AUTO ? opts->format : INGEST_FILES;
	return IMDR_OK;
}

int
ingest_run(const char *source, const struct ingest_opts *opts,
    const struct ingest_sink *sink, struct ingest_result *ret)
{
	enum ingest_format f;
	int rc;

	memset(ret, 0, sizeof(*ret));
	rc = ingest_detect(source, opts, &f);
	if (rc)
		return rc;
	if (f != INGEST_FILES)
		return err_set(IMDR_EUNSUP, "format %s: this build reads only `files`",
		    ingest_format_name(f));
	ret->format = f;
	return ingest_files(source, NULL, sink);
}
