/* audit — see audit.h. */
#include "repo/audit.h"

#include <pthread.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "lib/array.h"
#include "lib/err.h"
#include "lib/hex.h"
#include "lib/timefmt.h"
#include "repo/repo_impl.h"

#define AUDIT_VERSION 1
#define TIME_LEN 26		/* "20261124T100102.123456789Z" */
#define MAX_STRAYS_KEPT 100

static int
cmp_name(const void *a, const void *b)
{
	const struct audit_name *x = a, *y = b;

	if (x->time_ns != y->time_ns)
		return x->time_ns < y->time_ns ? -1 : 1;
	return strcmp(x->id, y->id);
}

static int
valid_command(const char *c)
{
	size_t n = strlen(c);

	return n > 0 && n <= AUDIT_COMMAND_MAX && strspn(c, "abcdefghijklmnopqrstuvwxyz-") == n;
}

int
audit_name_parse(const char *base, struct audit_name *ret)
{
	char tbuf[TIME_LEN + 1], canon[32];
	const char *id;
	size_t n = strlen(base), clen;

	/* one record, one name: the time exactly as time_format_compact
	 * writes it, so that a record cannot hide under a second name */
	if (n < TIME_LEN + 1 + 1 + 1 + AUDIT_ID_HEX || n >= AUDIT_BASE_MAX ||
	    base[TIME_LEN] != '-')
		return -1;
	id = base + n - AUDIT_ID_HEX;
	if (id[-1] != '-' || !hex_valid(id, AUDIT_ID_HEX) ||
	    strspn(id, "0123456789abcdef") != AUDIT_ID_HEX)
		return -1;
	clen = (size_t)(id - 1 - (base + TIME_LEN + 1));
	if (clen == 0 || clen > AUDIT_COMMAND_MAX)
		return -1;
	memcpy(tbuf, base, TIME_LEN);
	tbuf[TIME_LEN] = '\0';
	if (time_parse_compact(tbuf, &ret->time_ns) != 0)
		return -1;
	time_format_compact(ret->time_ns, canon);
	if (strcmp(canon, tbuf) != 0)
		return -1;
	memcpy(ret->command, base + TIME_LEN + 1, clen);
	ret->command[clen] = '\0';
	if (!valid_command(ret->command))
		return -1;
	memcpy(ret->id, id, AUDIT_ID_HEX + 1);
	snprintf(ret->name, sizeof(ret->name), "audit/%.6s/%s", base, base);
	ret->size = 0;
	return 0;
}

/* parse_name: "audit/<YYYYMM>/<base>", the folder matching the time. */
static int
parse_name(const char *name, struct audit_name *ret)
{
	if (strncmp(name, "audit/", 6) != 0 || strlen(name) <= AUDIT_DIR_LEN ||
	    name[AUDIT_DIR_LEN - 1] != '/' ||
	    strncmp(name + 6, name + AUDIT_DIR_LEN, 6) != 0)
		return -1;
	return audit_name_parse(name + AUDIT_DIR_LEN, ret);
}

struct list_ctx {
	struct audit_name *v;
	size_t n, cap;
	char **strays;
	size_t nstrays, strays_cap, strays_total;
	int want_strays;
};

static int
list_one(void *vctx, const char *name, uint64_t size)
{
	struct list_ctx *c = vctx;
	struct audit_name an;

	if (parse_name(name, &an) == 0) {
		an.size = size;
		*ARRAY_PUSH(c->v, c->n, c->cap) = an;
	} else if (c->want_strays) {
		if (c->nstrays < MAX_STRAYS_KEPT)
			*ARRAY_PUSH(c->strays, c->nstrays, c->strays_cap) = xstrdup(name);
		c->strays_total++;
	}
	return 0;
}

static int
list_prefix(struct repo *r, const char *prefix, struct list_ctx *c)
{
	return repo_list(r, prefix, list_one, c);
}

static void
list_finish(struct list_ctx *c, struct audit_name **ret, size_t *ret_n)
{
	if (c->n > 1)
		qsort(c->v, c->n, sizeof(*c->v), cmp_name);
	*ret = c->v;
	*ret_n = c->n;
}

int
audit_list_strays(struct repo *r, struct audit_name **ret, size_t *ret_n,
    char ***ret_strays, size_t *ret_nstrays)
{
	struct list_ctx c;
	int rc;

	memset(&c, 0, sizeof(c));
	c.want_strays = ret_strays != NULL;
	rc = list_prefix(r, "audit/", &c);
	if (rc) {
		free(c.v);
		for (size_t i = 0; i < c.nstrays; i++)
			free(c.strays[i]);
		free(c.strays);
		return rc;
	}
	list_finish(&c, ret, ret_n);
	if (ret_strays) {
		*ret_strays = c.strays;
		*ret_nstrays = c.strays_total;
	}
	return IMDR_OK;
}

int
audit_list(struct repo *r, struct audit_name **ret, size_t *ret_n)
{
	return audit_list_strays(r, ret, ret_n, NULL, NULL);
}

char *
audit_text(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	struct buf b = BUF_INIT;

	while (*p) {
		size_t len = *p < 0x80 ? 1 : (*p & 0xE0) == 0xC0 && *p >= 0xC2 ? 2 :
		    (*p & 0xF0) == 0xE0 ? 3 : (*p & 0xF8) == 0xF0 && *p <= 0xF4 ? 4 : 0;
		size_t k = 1;

		while (len > 1 && k < len && (p[k] & 0xC0) == 0x80)
			k++;
		/* overlong three-byte forms, surrogates, and past U+10FFFF */
		if (len == 3 && k == 3 && ((p[0] == 0xE0 && p[1] < 0xA0) ||
		    (p[0] == 0xED && p[1] >= 0xA0)))
			len = 0;
		if (len == 4 && k == 4 && ((p[0] == 0xF0 && p[1] < 0x90) ||
		    (p[0] == 0xF4 && p[1] >= 0x90)))
			len = 0;
		if (len == 0 || k < len) {
			buf_append(&b, "\xEF\xBF\xBD", 3);
			p++;
			continue;
		}
		buf_append(&b, p, len);
		p += len;
	}
	buf_putc(&b, '\0');
	return (char *)b.data;
}

/* ---- month folders ---- */

/* month_of: year * 12 + month - 1 of time t (UTC). */
static int
month_of(int64_t t)
{
	char buf[32];
	int y, m;

	time_format_compact(t, buf);
	if (sscanf(buf, "%4d%2d", &y, &m) != 2)
		return 0;
	return y * 12 + m - 1;
}

static int64_t
month_start(int month)
{
	char buf[32];
	int64_t t = 0;

	snprintf(buf, sizeof(buf), "%04d%02d01T000000Z", month / 12, month % 12 + 1);
	time_parse_compact(buf, &t);
	return t;
}

static int
list_month(struct repo *r, int month, struct list_ctx *c)
{
	char prefix[32];

	if (month < 0 || month / 12 > 9999)
		return IMDR_OK;
	snprintf(prefix, sizeof(prefix), "audit/%04d%02d/", month / 12, month % 12 + 1);
	return list_prefix(r, prefix, c);
}

int
audit_list_since(struct repo *r, int64_t since, struct audit_name **ret,
    size_t *ret_n)
{
	struct list_ctx c;
	int from = month_of(since), to = month_of(time_now_ns()) + 1, rc = IMDR_OK;

	memset(&c, 0, sizeof(c));
	if (to - from > 24 || from > to)
		return audit_list(r, ret, ret_n);
	for (int m = from; m <= to && rc == IMDR_OK; m++)
		rc = list_month(r, m, &c);
	if (rc) {
		free(c.v);
		return rc;
	}
	list_finish(&c, ret, ret_n);
	return IMDR_OK;
}

/* recent: the names of at least every record within the window of the
 * newest one: this month's folder; the one before when this one is empty
 * or the window reaches back into it; the whole log when the two months
 * before now hold nothing (a log idle since). A record in a later month
 * than now (a clock ahead) is seen only then. */
static int
recent(struct repo *r, struct audit_name **ret, size_t *ret_n)
{
	struct list_ctx c;
	int cur = month_of(time_now_ns()), lowest = cur, rc;
	int64_t newest = INT64_MIN;

	memset(&c, 0, sizeof(c));
	rc = list_month(r, cur, &c);
	if (rc == IMDR_OK && c.n == 0)
		rc = list_month(r, --lowest, &c);
	if (rc == IMDR_OK && c.n == 0) {
		free(c.v);
		return audit_list(r, ret, ret_n);
	}
	for (size_t i = 0; i < c.n; i++)
		if (c.v[i].time_ns > newest)
			newest = c.v[i].time_ns;
	if (rc == IMDR_OK && newest - (int64_t)AUDIT_WINDOW_SECS * 1000000000 <
	    month_start(lowest))
		rc = list_month(r, lowest - 1, &c);
	if (rc) {
		free(c.v);
		return rc;
	}
	list_finish(&c, ret, ret_n);
	return IMDR_OK;
}

/* ---- records ---- */

void
audit_record_free(struct audit_record *a)
{
	if (a == NULL)
		return;
	free(a->seen);
	free(a->command);
	free(a->host);
	free(a->user);
	free(a->result);
	free(a->scope_json);
	free(a->parents);
	free(a);
}

int
audit_parse(const uint8_t *p, size_t n, struct audit_record **ret)
{
	struct audit_record *a;
	struct audit_name pn;
	json_error_t jerr;
	json_t *j, *scope, *parents, *seen = NULL, *v;
	const char *cmd, *host, *user, *result;
	json_int_t t, ver, pid = 0;
	size_t i;

	j = json_loadb((const char *)p, n, 0, &jerr);
	if (j == NULL || json_unpack(j, "{s:I, s:I, s:s, s:s, s:s, s:s, s?I, s:o, s:o, s?o}",
	    "version", &ver, "time_ns", &t, "command", &cmd, "host", &host, "user", &user,
	    "result", &result, "pid", &pid, "scope", &scope, "parents", &parents,
	    "seen", &seen) != 0 ||
	    ver != AUDIT_VERSION || !json_is_object(scope) || !json_is_array(parents) ||
	    (seen != NULL && !json_is_array(seen)) || !valid_command(cmd)) {
		json_decref(j);
		return err_set(IMDR_EFORMAT, "malformed audit record");
	}
	a = xcalloc(1, sizeof(*a));
	a->time_ns = t;
	a->pid = (long)pid;
	a->command = xstrdup(cmd);
	a->host = xstrdup(host);
	a->user = xstrdup(user);
	a->result = xstrdup(result);
	a->scope_json = json_dumps(scope, JSON_COMPACT | JSON_SORT_KEYS);
	a->parents = xcalloc(json_array_size(parents) + 1, sizeof(*a->parents));
	json_array_foreach(parents, i, v) {
		if (!json_is_string(v) || audit_name_parse(json_string_value(v), &pn) != 0) {
			audit_record_free(a);
			json_decref(j);
			return err_set(IMDR_EFORMAT, "malformed audit record (a parent is not a record's name)");
		}
		snprintf(a->parents[a->nparents++], AUDIT_BASE_MAX, "%s", json_string_value(v));
	}
	a->seen = xcalloc(json_array_size(seen) + 1, sizeof(*a->seen));
	json_array_foreach(seen, i, v) {
		if (!json_is_string(v) || audit_name_parse(json_string_value(v), &pn) != 0) {
			audit_record_free(a);
			json_decref(j);
			return err_set(IMDR_EFORMAT, "malformed audit record (a seen name is not a record's name)");
		}
		snprintf(a->seen[a->nseen++], AUDIT_BASE_MAX, "%s", json_string_value(v));
	}
	json_decref(j);
	*ret = a;
	return IMDR_OK;
}

/* load_sized: audit_load of a record whose size a listing gave (0: not
 * known), which spares the request that would ask for it. */
static int
load_sized(struct repo *r, const char *name, uint64_t size, struct audit_record **ret)
{
	struct audit_name an;
	struct buf b = BUF_INIT;
	uint8_t sum[32];
	char hex[65];
	int rc;

	if (parse_name(name, &an) != 0)
		return err_set(IMDR_EINVAL, "%s is not an audit record name", name);
	rc = repo_get_sealed_sized(r, OBJ_AUDIT, name, size ? size : REPO_SIZE_UNKNOWN, &b);
	if (rc == IMDR_OK) {
		crypto_sha256(b.data, b.len, sum);
		hex_encode(sum, sizeof(sum), hex);
		if (strcmp(hex, an.id) != 0)
			rc = err_set(IMDR_EAUTH, "audit record %s: content does not match its id", name);
	}
	if (rc == IMDR_OK) {
		rc = audit_parse(b.data, b.len, ret);
		if (rc)
			rc = err_set(rc, "%s: %s", name, err_msg(rc));
	}
	if (rc == IMDR_OK && ((*ret)->time_ns != an.time_ns ||
	    strcmp((*ret)->command, an.command) != 0)) {
		audit_record_free(*ret);
		*ret = NULL;
		rc = err_set(IMDR_EAUTH, "audit record %s: its time or command differs from its name's",
		    name);
	}
	if (rc == IMDR_OK) {
		snprintf((*ret)->id, sizeof((*ret)->id), "%s", an.id);
		snprintf((*ret)->name, sizeof((*ret)->name), "%s", name);
	}
	buf_free(&b);
	return rc;
}

int
audit_load(struct repo *r, const char *name, struct audit_record **ret)
{
	return load_sized(r, name, 0, ret);
}

struct window {
	struct repo *r;
	const struct audit_name *names;
	struct audit_record **rec;
	size_t n, next;
};

static void *
window_main(void *arg)
{
	struct window *w = arg;
	size_t i;

	while ((i = __atomic_fetch_add(&w->next, 1, __ATOMIC_RELAXED)) < w->n) {
		if (load_sized(w->r, w->names[i].name, w->names[i].size, &w->rec[i]) != IMDR_OK) {
			w->rec[i] = NULL;
			err_clear();
		}
	}
	return NULL;
}

/* load_window: the n records named, at once as far as the backend likes
 * (an append over a 50 ms link must not pay 50 ms per recent record); a
 * record that cannot be read is left NULL. */
static void
load_window(struct repo *r, const struct audit_name *names, size_t n,
    struct audit_record **rec)
{
	struct window w = { r, names, rec, n, 0 };
	pthread_t th[AUDIT_WINDOW_RECORDS];
	struct repo_traits tr;
	size_t started = 0;

	repo_traits(r, &tr);
	for (size_t t = 1; t < n && t < (size_t)tr.concurrency && t < AUDIT_WINDOW_RECORDS; t++)
		if (pthread_create(&th[started], NULL, window_main, &w) == 0)
			started++;
	window_main(&w);
	for (size_t t = 0; t < started; t++)
		pthread_join(th[t], NULL);
}

/* named_by: whether a parent of any of recs names base. */
static int
named_by(struct audit_record **recs, size_t n, const char *base)
{
	for (size_t k = 0; k < n; k++)
		for (size_t p = 0; recs[k] && p < recs[k]->nparents; p++)
			if (strcmp(recs[k]->parents[p], base) == 0)
				return 1;
	return 0;
}

/* known_to: whether rec names base as a parent or as seen. */
static int
known_to(const struct audit_record *rec, const char *base)
{
	for (size_t p = 0; p < rec->nparents; p++)
		if (strcmp(rec->parents[p], base) == 0)
			return 1;
	for (size_t p = 0; p < rec->nseen; p++)
		if (strcmp(rec->seen[p], base) == 0)
			return 1;
	return 0;
}

/* heads: the base names of the recent records no other recent one names
 * (see audit_append), and in *ret_seen the other recent ones.
 *
 * The newest record is read first: its writer named its window's heads
 * (parents) and the rest of its window (seen), none of which can be a
 * head now. When that covers every other recent record, as it does
 * whenever writers did not overlap, the newest is the one head: one read.
 * Otherwise the whole window is read. A recent record that cannot be read
 * is named all the same (check and `imdr audit` report it): it is a head
 * as far as this writer can tell, and naming it hides nothing. */
static int
heads(struct repo *r, char (**ret)[AUDIT_BASE_MAX], size_t *ret_n,
    char (**ret_seen)[AUDIT_BASE_MAX], size_t *ret_nseen)
{
	struct audit_name *v = NULL;
	struct audit_record **rec, *newest = NULL;
	char (*out)[AUDIT_BASE_MAX], (*seen)[AUDIT_BASE_MAX];
	size_t n = 0, from, nout = 0, nseen = 0, unknown = 0;
	int64_t edge;
	int rc = recent(r, &v, &n);

	*ret = *ret_seen = NULL;
	*ret_n = *ret_nseen = 0;
	if (rc || n == 0) {
		free(v);
		return rc;
	}
	edge = v[n - 1].time_ns - (int64_t)AUDIT_WINDOW_SECS * 1000000000;
	from = n - 1;
	while (from > 0 && n - from < AUDIT_WINDOW_RECORDS && v[from - 1].time_ns >= edge)
		from--;
	out = xcalloc(n - from, sizeof(*out));
	seen = xcalloc(n - from, sizeof(*seen));
	if (from < n - 1 && load_sized(r, v[n - 1].name, v[n - 1].size, &newest) == IMDR_OK) {
		for (size_t i = from; i < n - 1; i++)
			unknown += !known_to(newest, audit_base(&v[i]));
	} else {
		err_clear();
		unknown = n - 1 - from;
	}
	if (unknown == 0) {
		snprintf(out[nout++], AUDIT_BASE_MAX, "%s", audit_base(&v[n - 1]));
		for (size_t i = from; i < n - 1; i++)
			snprintf(seen[nseen++], AUDIT_BASE_MAX, "%s", audit_base(&v[i]));
	} else {
		/* the oldest of the window can name only older records: unread */
		rec = xcalloc(n - from, sizeof(*rec));
		load_window(r, v + from + 1, n - from - 2, rec + 1);
		rec[n - 1 - from] = newest;
		newest = NULL;
		for (size_t i = from; i < n; i++) {
			if (!named_by(rec, n - from, audit_base(&v[i])))
				snprintf(out[nout++], AUDIT_BASE_MAX, "%s", audit_base(&v[i]));
			else
				snprintf(seen[nseen++], AUDIT_BASE_MAX, "%s", audit_base(&v[i]));
		}
		for (size_t i = 0; i < n - from; i++)
			audit_record_free(rec[i]);
		free(rec);
	}
	audit_record_free(newest);
	free(v);
	*ret = out;
	*ret_n = nout;
	*ret_seen = seen;
	*ret_nseen = nseen;
	return IMDR_OK;
}

static void
who(char *user, size_t cap)
{
	struct passwd pw, *res = NULL;
	char pbuf[1024];
	const char *sudo = getenv("SUDO_USER");

	if (getpwuid_r(geteuid(), &pw, pbuf, sizeof(pbuf), &res) == 0 && res)
		snprintf(user, cap, "%s", res->pw_name);
	else
		snprintf(user, cap, "uid %u", (unsigned)geteuid());
	if (sudo && *sudo && strcmp(sudo, user) != 0) {
		size_t n = strlen(user);

		snprintf(user + n, cap - n, " (sudo by %s)", sudo);
	}
}

static int
writable(struct repo *r)
{
	if (backend_read_only(repo_be(r)))
		return err_set(IMDR_EUNSUP, "%s is read-only: nothing can be recorded in its audit log",
		    repo_url(r));
	return IMDR_OK;
}

static int
put_record(struct repo *r, const struct audit_event *ev, int64_t now,
    char (*parents)[AUDIT_BASE_MAX], size_t nparents,
    char (*seen)[AUDIT_BASE_MAX], size_t nseen, char *ret_id, char *ret_base)
{
	char host[256] = "", user[320], when[40], tbuf[32], name[AUDIT_DIR_LEN + AUDIT_BASE_MAX];
	char id[AUDIT_ID_HEX + 1];
	json_t *j, *scope = NULL, *jp = json_array(), *js_seen = NULL;
	json_error_t jerr;
	uint8_t sum[32];
	char *js, *result, *hostv, *userv;
	int rc;

	if (ev->scope_json && ((scope = json_loads(ev->scope_json, 0, &jerr)) == NULL ||
	    !json_is_object(scope))) {
		json_decref(scope);
		json_decref(jp);
		return err_set(IMDR_EINVAL, "audit: the scope of %s is not a JSON object", ev->command);
	}
	for (size_t i = 0; i < nparents; i++)
		json_array_append_new(jp, json_string(parents[i]));
	if (nseen > 0) {
		js_seen = json_array();
		for (size_t i = 0; i < nseen; i++)
			json_array_append_new(js_seen, json_string(seen[i]));
	}
	gethostname(host, sizeof(host) - 1);
	who(user, sizeof(user));
	time_format(now, 9, when);
	result = audit_text(ev->result ? ev->result : "ok");
	hostv = audit_text(host);
	userv = audit_text(user);
	j = json_pack("{s:i, s:s, s:I, s:s, s:s, s:s, s:I, s:o, s:s, s:o}",
	    "version", AUDIT_VERSION, "time", when, "time_ns", (json_int_t)now,
	    "command", ev->command, "host", hostv, "user", userv, "pid", (json_int_t)getpid(),
	    "scope", scope ? scope : json_object(), "result", result,
	    "parents", jp);
	if (j != NULL && js_seen != NULL)
		json_object_set_new(j, "seen", js_seen);
	else
		json_decref(js_seen);
	free(result);
	free(hostv);
	free(userv);
	if (j == NULL)
		return err_set(IMDR_EINVAL, "audit: cannot encode the record of %s (text that is not UTF-8?)",
		    ev->command);
	js = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(j);
	crypto_sha256(js, strlen(js), sum);
	hex_encode(sum, sizeof(sum), id);
	time_format_compact(now, tbuf);
	snprintf(name, sizeof(name), "audit/%.6s/%s-%s-%s", tbuf, tbuf, ev->command, id);
	rc = repo_put_sealed(r, OBJ_AUDIT, name, js, strlen(js));
	free(js);
	if (rc == IMDR_OK && ret_id)
		memcpy(ret_id, id, sizeof(id));
	if (rc == IMDR_OK && ret_base)
		snprintf(ret_base, AUDIT_BASE_MAX, "%s", name + AUDIT_DIR_LEN);
	return rc;
}

int
audit_append(struct repo *r, const struct audit_event *ev, char *ret_id)
{
	char (*parents)[AUDIT_BASE_MAX] = NULL, (*seen)[AUDIT_BASE_MAX] = NULL;
	size_t n = 0, nseen = 0;
	int64_t now = time_now_ns();
	int rc;

	if (!valid_command(ev->command))
		return err_set(IMDR_EINVAL, "audit: bad command name %s", ev->command);
	rc = writable(r);
	if (rc == IMDR_OK)
		rc = heads(r, &parents, &n, &seen, &nseen);
	if (rc == IMDR_OK)
		rc = put_record(r, ev, now, parents, n, seen, nseen, ret_id, NULL);
	free(parents);
	free(seen);
	return rc;
}

int
audit_append_linked(struct repo *r, const struct audit_event *ev,
    char (*parents)[AUDIT_BASE_MAX], size_t nparents, int64_t time_ns,
    char *ret_base)
{
	struct audit_name pn;
	int rc;

	if (!valid_command(ev->command))
		return err_set(IMDR_EINVAL, "audit: bad command name %s", ev->command);
	for (size_t i = 0; i < nparents; i++)
		if (audit_name_parse(parents[i], &pn) != 0)
			return err_set(IMDR_EINVAL, "audit: %s is not a record's name", parents[i]);
	rc = writable(r);
	if (rc == IMDR_OK)
		rc = put_record(r, ev, time_ns ? time_ns : time_now_ns(), parents, nparents, NULL, 0,
		    NULL, ret_base);
	return rc;
}

static int
verify_stored(void *ctx, struct buf *b)
{
	struct { struct repo *r; const char *name; } *c = ctx;

	return repo_object_verify(c->r, c->name, b->data, b->len);
}

int
audit_spread(struct repo *from, struct repo *to, int64_t since, size_t *ret_copied)
{
	struct audit_name *fv = NULL, *tv = NULL;
	size_t fn = 0, tn = 0, copied = 0;
	struct buf b = BUF_INIT;
	int rc;

	rc = audit_list_since(from, since, &fv, &fn);
	if (rc == IMDR_OK)
		rc = audit_list_since(to, since, &tv, &tn);
	/* both sorted by time then id: walk them together */
	for (size_t i = 0, j = 0; rc == IMDR_OK && i < fn; i++) {
		struct { struct repo *r; const char *name; } vc = { from, fv[i].name };
		int c = 1;

		while (j < tn && (c = cmp_name(&tv[j], &fv[i])) < 0)
			j++;
		if (j < tn && c == 0)
			continue;
		rc = repo_object_read(from, fv[i].name, &b, verify_stored, &vc);
		if (rc == IMDR_OK)
			rc = repo_object_write(to, fv[i].name, b.data, b.len);
		if (rc == IMDR_EEXIST) {	/* a racing writer put it there */
			err_clear();
			rc = IMDR_OK;
		} else if (rc == IMDR_OK)
			copied++;
	}
	if (ret_copied)
		*ret_copied = copied;
	buf_free(&b);
	free(fv);
	free(tv);
	return rc;
}
