/* snaps — the snapshot list of the mount and the sources (fs_impl.h).
 *
 * The list is the repository's listing of snapshots/, at most refresh_secs
 * old; snapshot objects are fetched when first looked at, and kept. Object
 * names carry a source tag, so views of one source need no fetch; a
 * source's name is learnt from one of its snapshot objects the first time
 * sources/ is looked at.
 *
 * When a listing fails, or the repository's config is gone (a folder
 * deleted under the mount lists as empty), the mount keeps serving the
 * list it has, logs the failure once, and tries again at the next refresh:
 * reads of data that is gone fail with EIO, and are logged. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fs/fs_impl.h"
#include "lib/array.h"
#include "lib/err.h"
#include "lib/log.h"
#include "lib/timefmt.h"

void
snaps_free(struct fs *fs)
{
	for (size_t i = 0; i < fs->nsnaps; i++)
		snapshot_free(fs->snaps[i].loaded);
	free(fs->snaps);
	fs->snaps = NULL;
	fs->nsnaps = 0;
	for (size_t i = 0; i < fs->nsources; i++) {
		free(fs->sources[i].name);
		free(fs->sources[i].dirname);
	}
	free(fs->sources);
}

/* list_or_keep: a fresh listing, or an error when the repository cannot
 * be listed or is gone. */
static int
list_or_keep(struct fs *fs, struct snapshot_name **ret, size_t *ret_n)
{
	int rc = snapshot_list(fs->r, ret, ret_n);

	if (rc == IMDR_OK && *ret_n == 0 && fs->nsnaps > 0 &&
	    repo_stat(fs->r, "config", NULL) == IMDR_ENOENT) {
		free(*ret);
		rc = err_set(IMDR_ENOENT, "repository %s is gone (no config object)",
		    repo_url(fs->r));
	}
	if (rc && fs->snaps == NULL)
		return rc;	/* mounting: the caller reports it */
	if (rc) {
		if (!fs->list_failed)
			warn0("cannot list snapshots: %s; serving the %zu known until it can be listed again",
			    err_msg(rc), fs->nsnaps);
		fs->list_failed = 1;
		err_clear();
		return rc;
	}
	if (fs->list_failed)
		warn0("snapshots can be listed again (%zu)", *ret_n);
	fs->list_failed = 0;
	return IMDR_OK;
}

/* display_names: each snapshot's folder name, its UTC time; two in one
 * second both get their short id appended. */
static void
display_names(struct snap *nv, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		int64_t s = nv[i].sn.time_ns / 1000000000;

		time_format(nv[i].sn.time_ns, 0, nv[i].display);
		if ((i > 0 && nv[i - 1].sn.time_ns / 1000000000 == s) ||
		    (i + 1 < n && nv[i + 1].sn.time_ns / 1000000000 == s)) {
			char base[40];

			time_format(nv[i].sn.time_ns, 0, base);
			snprintf(nv[i].display, sizeof(nv[i].display), "%s-%.8s", base, nv[i].sn.id);
		}
	}
}

int
snaps_refresh(struct fs *fs, int force)
{
	struct snapshot_name *names = NULL;
	struct snap *nv;
	size_t n = 0;
	int64_t now = time_mono_ns();
	int rc;

	if (!force && fs->snaps && now - fs->listed_at < (int64_t)fs->cfg.refresh_secs * 1000000000)
		return IMDR_OK;
	fs->listed_at = now;
	rc = list_or_keep(fs, &names, &n);
	if (rc)
		return fs->snaps ? IMDR_OK : rc;	/* mounting: message set */
	nv = xcalloc(n ? n : 1, sizeof(*nv));
	for (size_t i = 0; i < n; i++)
		nv[i].sn = names[i];
	display_names(nv, n);
	/* loaded snapshots carry over (by id) */
	for (size_t i = 0, j = 0; i < n && j < fs->nsnaps;) {
		int c = strcmp(nv[i].sn.id, fs->snaps[j].sn.id);

		if (nv[i].sn.time_ns != fs->snaps[j].sn.time_ns)
			c = nv[i].sn.time_ns < fs->snaps[j].sn.time_ns ? -1 : 1;
		if (c == 0) {
			nv[i].loaded = fs->snaps[j].loaded;
			nv[i].load_logged = fs->snaps[j].load_logged;
			fs->snaps[j].loaded = NULL;
		}
		i += c <= 0;
		j += c >= 0;
	}
	for (size_t i = 0; i < fs->nsnaps; i++)
		snapshot_free(fs->snaps[i].loaded);
	free(fs->snaps);
	fs->snaps = nv;
	fs->nsnaps = n;
	/* single mode follows its snapshot by id */
	if (fs->single >= 0) {
		fs->single = -1;
		for (size_t i = 0; i < n; i++)
			if (strcmp(nv[i].sn.id, fs->single_id) == 0)
				fs->single = (long)i;
	}
	free(names);
	return IMDR_OK;
}

struct snapshot *
snaps_loaded(struct fs *fs, size_t i)
{
	if (fs->snaps[i].loaded == NULL) {
		int rc = snapshot_load_listed(fs->r, &fs->snaps[i].sn, &fs->snaps[i].loaded);

		if (rc) {
			/* logged once: every lookup of it tries again */
			if (!fs->snaps[i].load_logged)
				warn0("%s", err_msg(rc));
			fs->snaps[i].load_logged = 1;
			err_clear();
			return NULL;
		}
	}
	return fs->snaps[i].loaded;
}

long
snaps_by_display(struct fs *fs, const char *display)
{
	for (size_t i = 0; i < fs->nsnaps; i++)
		if (strcmp(fs->snaps[i].display, display) == 0)
			return (long)i;
	return -1;
}

static int
in_view(const struct snap *s, const char *tag)
{
	return tag[0] == '\0' || strcmp(s->sn.tag, tag) == 0;
}

long
snaps_nth(struct fs *fs, const char *tag, size_t k)
{
	for (size_t i = 0; i < fs->nsnaps; i++)
		if (in_view(&fs->snaps[i], tag) && k-- == 0)
			return (long)i;
	return -1;
}

long
snaps_newest(struct fs *fs, const char *tag)
{
	for (size_t i = fs->nsnaps; i-- > 0;)
		if (in_view(&fs->snaps[i], tag))
			return (long)i;
	return -1;
}

long
snaps_at(struct fs *fs, const char *tag, int64_t t)
{
	for (size_t i = fs->nsnaps; i-- > 0;)
		if (fs->snaps[i].sn.time_ns <= t && in_view(&fs->snaps[i], tag))
			return (long)i;
	return -1;
}

/* dirname_of: a source name as a folder name: '%' and '/' as %25 and %2F,
 * and "." or ".." spelt %2E. */
static char *
dirname_of(const char *name)
{
	struct buf b = BUF_INIT;

	if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0) {
		buf_puts(&b, strcmp(name, ".") == 0 ? "%2E" : "%2E%2E");
		return buf_cstr(&b);
	}
	for (const char *p = name; *p; p++) {
		if (*p == '%')
			buf_puts(&b, "%25");
		else if (*p == '/')
			buf_puts(&b, "%2F");
		else
			buf_putc(&b, (uint8_t)*p);
	}
	return buf_cstr(&b);
}

static int
cmp_source(const void *a, const void *b)
{
	return strcmp(((const struct source *)a)->dirname, ((const struct source *)b)->dirname);
}

void
snaps_learn_sources(struct fs *fs)
{
	int added = 0;

	for (size_t i = fs->nsnaps; i-- > 0;) {
		const char *tag = fs->snaps[i].sn.tag;
		struct snapshot *s;
		struct source *src;
		size_t k;

		if (tag[0] == '\0')
			continue;	/* a name from before sources: in no view */
		for (k = 0; k < fs->nsources; k++)
			if (strcmp(fs->sources[k].tag, tag) == 0)
				break;
		if (k < fs->nsources || (s = snaps_loaded(fs, i)) == NULL)
			continue;
		src = ARRAY_PUSH(fs->sources, fs->nsources, fs->sources_cap);
		memcpy(src->tag, tag, sizeof(src->tag));
		src->name = xstrdup(s->source);
		src->dirname = dirname_of(s->source);
		added = 1;
	}
	if (added && fs->nsources > 1)
		qsort(fs->sources, fs->nsources, sizeof(*fs->sources), cmp_source);
}

long
sources_by_dirname(struct fs *fs, const char *dirname)
{
	for (size_t i = 0; i < fs->nsources; i++)
		if (strcmp(fs->sources[i].dirname, dirname) == 0)
			return (long)i;
	return -1;
}
