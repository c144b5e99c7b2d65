/* curl_dl — libcurl, loaded when a cloud repository is first opened
 * (dlopen of libcurl.so.4), so that local backups and mounts do not load
 * libcurl and the thirty libraries it brings (a cold start costs ~15 ms).
 * Include this after <curl/curl.h> in backends/ only. */
#ifndef IMDR_CURL_DL_H
#define IMDR_CURL_DL_H

#include <curl/curl.h>

struct curl_api {
	CURLcode (*global_init)(long);
	CURL *(*easy_init)(void);
	void (*easy_cleanup)(CURL *);
	void (*easy_reset)(CURL *);
	CURLcode (*easy_setopt)(CURL *, CURLoption, ...);
	CURLcode (*easy_perform)(CURL *);
	CURLcode (*easy_getinfo)(CURL *, CURLINFO, ...);
	const char *(*easy_strerror)(CURLcode);
	CURLSH *(*share_init)(void);
	CURLSHcode (*share_setopt)(CURLSH *, CURLSHoption, ...);
	CURLSHcode (*share_cleanup)(CURLSH *);
	struct curl_slist *(*slist_append)(struct curl_slist *, const char *);
	void (*slist_free_all)(struct curl_slist *);
};

extern struct curl_api curl_api;

/* curl_load: IMDR_OK once libcurl is loaded; IMDR_EUNSUP with a message
 * when it cannot be. Thread-safe. */
int curl_load(void);

#undef curl_easy_setopt
#undef curl_easy_getinfo
#undef curl_share_setopt
#define curl_global_init(...) curl_api.global_init(__VA_ARGS__)
#define curl_easy_init(...) curl_api.easy_init(__VA_ARGS__)
#define curl_easy_cleanup(...) curl_api.easy_cleanup(__VA_ARGS__)
#define curl_easy_reset(...) curl_api.easy_reset(__VA_ARGS__)
#define curl_easy_setopt(...) curl_api.easy_setopt(__VA_ARGS__)
#define curl_easy_perform(...) curl_api.easy_perform(__VA_ARGS__)
#define curl_easy_getinfo(...) curl_api.easy_getinfo(__VA_ARGS__)
#define curl_easy_strerror(...) curl_api.easy_strerror(__VA_ARGS__)
#define curl_share_init(...) curl_api.share_init(__VA_ARGS__)
#define curl_share_setopt(...) curl_api.share_setopt(__VA_ARGS__)
#define curl_share_cleanup(...) curl_api.share_cleanup(__VA_ARGS__)
#define curl_slist_append(...) curl_api.slist_append(__VA_ARGS__)
#define curl_slist_free_all(...) curl_api.slist_free_all(__VA_ARGS__)

#endif
