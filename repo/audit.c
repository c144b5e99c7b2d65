/* audit — see audit.h. */
#include "repo/audit.h"

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

/* parse_name: "audit/<time>-<command>-<id>". */
static int
parse_name(const char *name, struct audit_name *ret)
{
	const char *base = name + 6, *id, *cmd;
	char tbuf[40];

	if (strncmp(name, "audit/", 6) != 0 || strlen(name) >= sizeof(ret->name))
		return -1;
	id = strrchr(base, '-');
	if (id == NULL || !hex_valid(id + 1, AUDIT_ID_HEX))
		return -1;
	cmd = memchr(base, '-', (size_t)(id - base));
	if (cmd == NULL || (size_t)(cmd - base) >= sizeof(tbuf) ||
	    (size_t)(id - cmd - 1) > AUDIT_COMMAND_MAX)
		return -1;
	memcpy(tbuf, base, (size_t)(cmd - base));
	tbuf[cmd - base] = '\0';
	memcpy(ret->command, cmd + 1, (size_t)(id - cmd - 1));
	ret->command[id - cmd - 1] = '\0';
	if (time_parse_compact(tbuf, &ret->time_ns) != 0 || !valid_command(ret->command))
		return -1;
	snprintf(ret->id, sizeof(ret->id), "%s", id + 1);
	snprintf(ret->name, sizeof(ret->name), "%s", name);
	return 0;
}

struct list_ctx {
	struct audit_name *v;
	size_t n, cap;
};

static int
list_one(void *vctx, const char *name, uint64_t size)
{
	struct list_ctx *c = vctx;
	struct audit_name an;

	(void)size;
	if (parse_name(name, &an) == 0)
		*ARRAY_PUSH(c->v, c->n, c->cap) = an;
	return 0;
}

int
audit_list(struct repo *r, struct audit_name **ret, size_t *ret_n)
{
	struct list_ctx c = { NULL, 0, 0 };
	int rc = repo_list(r, "audit/", list_one, &c);

	if (rc) {
		free(c.v);
		return rc;
	}
	if (c.n > 1)
		qsort(c.v, c.n, sizeof(*c.v), cmp_name);
	*ret = c.v;
	*ret_n = c.n;
	return IMDR_OK;
}

void
audit_record_free(struct audit_record *a)
{
	if (a == NULL)
		return;
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
	json_error_t jerr;
	json_t *j, *scope, *parents, *v;
	const char *cmd, *host, *user, *result;
	json_int_t t, ver, pid = 0;
	size_t i;

	j = json_loadb((const char *)p, n, 0, &jerr);
	if (j == NULL || json_unpack(j, "{s:I, s:I, s:s, s:s, s:s, s:s, s?I, s:o, s:o}",
	    "version", &ver, "time_ns", &t, "command", &cmd, "host", &host, "user", &user,
	    "result", &result, "pid", &pid, "scope", &scope, "parents", &parents) != 0 ||
	    ver != AUDIT_VERSION || !json_is_object(scope) || !json_is_array(parents) ||
	    !valid_command(cmd)) {
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
		if (!json_is_string(v) || !hex_valid(json_string_value(v), AUDIT_ID_HEX)) {
			audit_record_free(a);
			json_decref(j);
			return err_set(IMDR_EFORMAT, "malformed audit record (a parent is not an id)");
		}
		snprintf(a->parents[a->nparents++], AUDIT_ID_HEX + 1, "%s", json_string_value(v));
	}
	json_decref(j);
	*ret = a;
	return IMDR_OK;
}

int
audit_load(struct repo *r, const char *name, struct audit_record **ret)
{
	struct audit_name an;
	struct buf b = BUF_INIT;
	uint8_t sum[32];
	char hex[65];
	int rc;

	if (parse_name(name, &an) != 0)
		return err_set(IMDR_EINVAL, "%s is not an audit record name", name);
	rc = repo_get_sealed(r, OBJ_AUDIT, name, &b);
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
	if (rc == IMDR_OK) {
		snprintf((*ret)->id, sizeof((*ret)->id), "%s", an.id);
		snprintf((*ret)->name, sizeof((*ret)->name), "%s", name);
	}
	buf_free(&b);
	return rc;
}

/* heads: the ids of the records of the window before the newest that no
 * other of them names as a parent (the newest alone when it is the only
 * one recent). Caller frees. */
static int
heads(struct repo *r, json_t *out)
{
	struct audit_name *v = NULL;
	struct audit_record **rec;
	size_t n = 0, from;
	int rc = audit_list(r, &v, &n);

	if (rc || n == 0) {
		free(v);
		return rc;
	}
	from = n - 1;
	while (from > 0 && v[from - 1].time_ns >= v[n - 1].time_ns -
	    (int64_t)AUDIT_WINDOW_SECS * 1000000000)
		from--;
	rec = xcalloc(n - from, sizeof(*rec));
	for (size_t i = from; i < n && rc == IMDR_OK; i++)
		rc = audit_load(r, v[i].name, &rec[i - from]);
	for (size_t i = from; i < n && rc == IMDR_OK; i++) {
		int named = 0;

		for (size_t k = 0; k < n - from && !named; k++)
			for (size_t p = 0; p < rec[k]->nparents && !named; p++)
				named = strcmp(rec[k]->parents[p], v[i].id) == 0;
		if (!named)
			json_array_append_new(out, json_string(v[i].id));
	}
	for (size_t i = 0; i < n - from; i++)
		audit_record_free(rec[i]);
	free(rec);
	free(v);
	return rc;
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

int
audit_append(struct repo *r, const struct audit_event *ev, char *ret_id)
{
	char host[256] = "", user[320], when[40], tbuf[32], name[160], id[65];
	json_t *j, *scope = NULL, *parents = json_array();
	json_error_t jerr;
	int64_t now = time_now_ns();
	uint8_t sum[32];
	char *js;
	int rc;

	if (!valid_command(ev->command)) {
		json_decref(parents);
		return err_set(IMDR_EINVAL, "audit: bad command name %s", ev->command);
	}
	if (ev->scope_json && ((scope = json_loads(ev->scope_json, 0, &jerr)) == NULL ||
	    !json_is_object(scope))) {
		json_decref(scope);
		json_decref(parents);
		return err_set(IMDR_EINVAL, "audit: the scope of %s is not a JSON object", ev->command);
	}
	rc = heads(r, parents);
	if (rc) {
		json_decref(scope);
		json_decref(parents);
		return rc;
	}
	gethostname(host, sizeof(host) - 1);
	who(user, sizeof(user));
	time_format(now, 9, when);
	j = json_pack("{s:i, s:s, s:I, s:s, s:s, s:s, s:I, s:o, s:s, s:o}",
	    "version", AUDIT_VERSION, "time", when, "time_ns", (json_int_t)now,
	    "command", ev->command, "host", host, "user", user, "pid", (json_int_t)getpid(),
	    "scope", scope ? scope : json_object(), "result", ev->result ? ev->result : "ok",
	    "parents", parents);
	if (j == NULL)
		return err_set(IMDR_EINVAL, "audit: cannot encode the record of %s (text that is not UTF-8?)",
		    ev->command);
	js = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(j);
	crypto_sha256(js, strlen(js), sum);
	hex_encode(sum, sizeof(sum), id);
	time_format_compact(now, tbuf);
	snprintf(name, sizeof(name), "audit/%s-%s-%s", tbuf, ev->command, id);
	rc = repo_put_sealed(r, OBJ_AUDIT, name, js, strlen(js));
	free(js);
	if (rc == IMDR_OK && ret_id)
		memcpy(ret_id, id, sizeof(id));
	return rc;
}
