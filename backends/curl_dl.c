#include <curl/curl.h>

#include <dlfcn.h>
#include <stdio.h>
#include <pthread.h>

#include "backends/curl_dl.h"
#include "lib/err.h"

struct curl_api curl_api;

static pthread_once_t once = PTHREAD_ONCE_INIT;
static int loaded;
static char why[256];

#define SYM(field, name) do { \
	*(void **)&curl_api.field = dlsym(h, name); \
	if (curl_api.field == NULL) { \
		snprintf(why, sizeof(why), "libcurl.so.4 lacks %s", name); \
		return; \
	} \
} while (0)

static void
load(void)
{
	void *h = dlopen("libcurl.so.4", RTLD_NOW | RTLD_LOCAL);

	if (h == NULL) {
		snprintf(why, sizeof(why), "cannot load libcurl.so.4 (install libcurl4): %s", dlerror());
		return;
	}
	SYM(global_init, "curl_global_init");
	SYM(easy_init, "curl_easy_init");
	SYM(easy_cleanup, "curl_easy_cleanup");
	SYM(easy_reset, "curl_easy_reset");
	SYM(easy_setopt, "curl_easy_setopt");
	SYM(easy_perform, "curl_easy_perform");
	SYM(easy_getinfo, "curl_easy_getinfo");
	SYM(easy_strerror, "curl_easy_strerror");
	SYM(share_init, "curl_share_init");
	SYM(share_setopt, "curl_share_setopt");
	SYM(share_cleanup, "curl_share_cleanup");
	SYM(slist_append, "curl_slist_append");
	SYM(slist_free_all, "curl_slist_free_all");
	if (curl_api.global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		snprintf(why, sizeof(why), "libcurl failed to initialize");
		return;
	}
	loaded = 1;
}

int
curl_load(void)
{
	pthread_once(&once, load);
	return loaded ? IMDR_OK : err_set(IMDR_EUNSUP, "%s", why);
}
