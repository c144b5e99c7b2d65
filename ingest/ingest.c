/* ingest — the dispatcher: names of formats, detection, and ingest_run. */
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "ingest/ingest.h"
#include "ingest/ingest_impl.h"
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
	return err_set(IMDR_EINVAL, "unknown format %s (files, canonical, slack, mattermost or auto)", s);
}

static int
has_file(const char *dir, const char *name)
{
	char *p = xasprintf("%s/%s", dir, name);
	struct stat st;
	int ok = stat(p, &st) == 0 && S_ISREG(st.st_mode);

	free(p);
	return ok;
}

/* dir_has_jsonl: a .jsonl directly in dir. */
static int
dir_has_jsonl(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int found = 0;

	while (d && !found && (de = readdir(d)) != NULL) {
		size_t len = strlen(de->d_name);

		found = len > 6 && strcmp(de->d_name + len - 6, ".jsonl") == 0;
	}
	if (d)
		closedir(d);
	return found;
}

/* detect_src: the format of a listed export. */
static enum ingest_format
detect_src(struct src *s)
{
	if (slack_looks(s))
		return INGEST_SLACK;
	if (canonical_looks(s))
		return INGEST_CANONICAL;
	if (mattermost_looks(s, NULL))
		return INGEST_MATTERMOST;
	return INGEST_FILES;
}

int
ingest_detect(const char *source, const struct ingest_opts *opts,
    enum ingest_format *ret)
{
	struct stat st;
	struct src *s;
	int rc;

	if (opts && opts->format != INGEST_AUTO) {
		*ret = opts->format;
		return IMDR_OK;
	}
	if (stat(source, &st) < 0)
		return err_set(IMDR_ESOURCE, "cannot read source %s: %s", source, strerror(errno));
	if (S_ISDIR(st.st_mode)) {
		/* a folder: its top level tells, without walking all of it */
		if (has_file(source, "users.json") && (has_file(source, "channels.json") ||
		    has_file(source, "groups.json") || has_file(source, "dms.json") ||
		    has_file(source, "mpims.json")))
			*ret = INGEST_SLACK;
		else if (canonical_dir_looks(source))
			*ret = INGEST_CANONICAL;
		else if (dir_has_jsonl(source)) {
			rc = src_open(source, &s);
			if (rc)
				return rc;
			*ret = mattermost_looks(s, NULL) ? INGEST_MATTERMOST : INGEST_FILES;
			src_free(s);
		} else
			*ret = INGEST_FILES;
		return IMDR_OK;
	}
	if (S_ISREG(st.st_mode) && !ingest_is_archive(source)) {
		size_t len = strlen(source);

		*ret = INGEST_FILES;
		if (len > 6 && (strcmp(source + len - 6, ".jsonl") == 0 || strcmp(source + len - 5, ".json") == 0)) {
			rc = src_open(source, &s);
			if (rc)
				return rc;
			if (mattermost_looks(s, NULL))
				*ret = INGEST_MATTERMOST;
			src_free(s);
		}
		return IMDR_OK;
	}
	rc = src_open(source, &s);
	if (rc)
		return rc;
	*ret = detect_src(s);
	src_free(s);
	return IMDR_OK;
}

int
ingest_run(const char *source, const struct ingest_opts *opts,
    const struct ingest_sink *sink, struct ingest_result *ret)
{
	struct ingest_opts o = { INGEST_AUTO, NULL };
	enum ingest_format f;
	struct src *s = NULL;
	char *dflt_att = NULL;
	int rc;

	memset(ret, 0, sizeof(*ret));
	if (opts)
		o = *opts;
	rc = ingest_detect(source, &o, &f);
	if (rc)
		return rc;
	ret->format = f;
	switch (f) {
	case INGEST_FILES:
		return ingest_files(source, NULL, sink);
	case INGEST_CANONICAL:
		return ingest_canonical(source, sink, ret);
	case INGEST_SLACK:
	case INGEST_MATTERMOST:
		break;
	default:
		return err_set(IMDR_EINVAL, "format %s cannot be ingested", ingest_format_name(f));
	}
	rc = src_open(source, &s);
	if (rc)
		return rc;
	if (f == INGEST_SLACK)
		rc = ingest_slack(s, &o, sink, ret);
	else {
		/* a lone .jsonl: its attachments are in data/ beside it unless
		 * --attachments says where */
		if (o.attachments_dir == NULL && s->kind == SRC_FILE) {
			const char *slash = strrchr(source, '/');
			struct stat st;

			dflt_att = slash ? xasprintf("%.*s/data", (int)(slash - source), source) :
			    xstrdup("data");
			if (stat(dflt_att, &st) == 0 && S_ISDIR(st.st_mode))
				o.attachments_dir = dflt_att;
		}
		rc = ingest_mattermost(s, &o, sink, ret);
	}
	src_free(s);
	free(dflt_att);
	return rc;
}
