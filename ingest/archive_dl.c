/* archive_dl — see archive_dl.h. */
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>

#include "ingest/archive_dl.h"
#include "lib/err.h"

#define ARCHIVE_SONAME "libarchive.so.13"

struct archive_api archive_api;

static pthread_once_t once = PTHREAD_ONCE_INIT;
static int loaded;
static char why[256];

static void
load(void)
{
	void *h = dlopen(ARCHIVE_SONAME, RTLD_NOW | RTLD_LOCAL);

	if (h == NULL) {
		snprintf(why, sizeof(why), "cannot load " ARCHIVE_SONAME " (install libarchive13): %s",
		    dlerror());
		return;
	}
#define ARCHIVE_DL_SYM(f) \
	if ((*(void **)&archive_api.f = dlsym(h, #f)) == NULL) { \
		snprintf(why, sizeof(why), ARCHIVE_SONAME " lacks %s", #f); \
		return; \
	}
	ARCHIVE_DL_FUNCS(ARCHIVE_DL_SYM)
#undef ARCHIVE_DL_SYM
	loaded = 1;
}

int
archive_dl_load(void)
{
	pthread_once(&once, load);
	return loaded ? IMDR_OK : err_set(IMDR_EUNSUP, "%s", why);
}
