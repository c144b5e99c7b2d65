/* hold — see hold.h. */
#include "repo/hold.h"

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
#include "repo/audit.h"
#include "repo/repo_impl.h"

#define HOLD_VERSION 1
#define RELEASE_SUFFIX ".release"

/* who: the user placing or releasing a hold, as the audit log names users
 * ("name", or "name (sudo by other)"). */
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

void
hold_free(struct hold *h)
{
	if (h == NULL)
		return;
	free(h->case_name);
	free(h->reason);
	free(h->who);
	free(h->host);
	free(h->snapshots);
	free(h->source);
	free(h->released_by);
	free(h->release_reason);
	free(h);
}

void
hold_list_free(struct hold **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		hold_free(v[i]);
	free(v);
}

static int
text_ok(const char *what, const char *s)
{
	if (s == NULL || *s == '\0')
		return err_set(IMDR_EINVAL, "a hold needs a %s", what);
	if (strlen(s) > HOLD_TEXT_MAX)
		return err_set(IMDR_EINVAL, "the hold's %s is too long (%zu bytes; at most %d)",
		    what, strlen(s), HOLD_TEXT_MAX);
	return IMDR_OK;
}

static json_t *
scope_json(const struct hold *h)
{
	json_t *s = json_object();
	char when[40];

	if (h->nsnapshots) {
		json_t *a = json_array();

		for (size_t i = 0; i < h->nsnapshots; i++)
			json_array_append_new(a, json_string(h->snapshots[i]));
		json_object_set_new(s, "snapshots", a);
		return s;
	}
	if (h->source)
		json_object_set_new(s, "source", json_string(h->source));
	else
		json_object_set_new(s, "all_sources", json_true());
	if (h->has_from) {
		json_object_set_new(s, "from_ns", json_integer(h->from_ns));
		time_format(h->from_ns, 9, when);
		json_object_set_new(s, "from", json_string(when));
	}
	if (h->has_to) {
		json_object_set_new(s, "to_ns", json_integer(h->to_ns));
		time_format(h->to_ns, 9, when);
		json_object_set_new(s, "to", json_string(when));
	}
	return s;
}

int
hold_parse(const uint8_t *p, size_t n, struct hold **ret)
{
	json_error_t jerr;
	json_t *j, *scope, *v;
	const char *cs, *rs, *ws, *hs, *src = NULL;
	json_int_t ver, t, from = 0, to = 0;
	int all = 0, rc = IMDR_OK;
	struct hold *h;

	j = json_loadb((const char *)p, n, 0, &jerr);
	if (j == NULL || json_unpack(j, "{s:I, s:I, s:s, s:s, s:s, s:s, s:o}", "version", &ver,
	    "time_ns", &t, "case", &cs, "reason", &rs, "who", &ws, "host", &hs,
	    "scope", &scope) != 0 || ver != HOLD_VERSION || !json_is_object(scope)) {
		json_decref(j);
		return err_set(IMDR_EFORMAT, "malformed hold");
	}
	h = xcalloc(1, sizeof(*h));
	h->time_ns = t;
	h->case_name = xstrdup(cs);
	h->reason = xstrdup(rs);
	h->who = xstrdup(ws);
	h->host = xstrdup(hs);
	v = json_object_get(scope, "snapshots");
	if (v) {
		size_t i;
		json_t *e;

		if (!json_is_array(v) || json_array_size(v) == 0)
			goto bad;
		h->snapshots = xcalloc(json_array_size(v), sizeof(*h->snapshots));
		json_array_foreach(v, i, e) {
			const char *id = json_string_value(e);

			if (id == NULL || strlen(id) != SNAPSHOT_ID_HEX || !hex_valid(id, SNAPSHOT_ID_HEX))
				goto bad;
			memcpy(h->snapshots[h->nsnapshots++], id, SNAPSHOT_ID_HEX + 1);
		}
	} else {
		if (json_unpack(scope, "{s?s, s?b, s?I, s?I}", "source", &src, "all_sources", &all,
		    "from_ns", &from, "to_ns", &to) != 0 || (src == NULL) == (all == 0))
			goto bad;
		if (src) {
			if (snapshot_source_check(src) != IMDR_OK)
				goto bad;
			h->source = xstrdup(src);
		}
		h->has_from = json_object_get(scope, "from_ns") != NULL;
		h->has_to = json_object_get(scope, "to_ns") != NULL;
		h->from_ns = from;
		h->to_ns = to;
		if (h->has_from && h->has_to && from > to)
			goto bad;
	}
	json_decref(j);
	*ret = h;
	return rc;
bad:
	json_decref(j);
	hold_free(h);
	return err_set(IMDR_EFORMAT, "malformed hold (scope)");
}

int
hold_add(struct repo *r, const struct hold_spec *spec, struct hold **ret)
{
	struct hold *h = xcalloc(1, sizeof(*h));
	char host[256] = "", user[320], when[40], tbuf[32];
	char *js = NULL, *ajs = NULL;
	json_t *j = NULL, *a;
	uint8_t sum[32];
	int rc;

	if ((rc = text_ok("case", spec->case_name)) || (rc = text_ok("reason", spec->reason)))
		goto out;
	if (spec->nsnapshots && (spec->source || spec->all_sources || spec->has_from ||
	    spec->has_to)) {
		rc = err_set(IMDR_EINVAL, "a hold names snapshots, or a source and a time range, not both");
		goto out;
	}
	if (!spec->nsnapshots && !spec->source && !spec->all_sources) {
		rc = err_set(IMDR_EINVAL, "a hold needs a scope: snapshots, a source, or every source");
		goto out;
	}
	if (spec->source && spec->all_sources) {
		rc = err_set(IMDR_EINVAL, "a hold is on one source or on every source, not both");
		goto out;
	}
	if (spec->source && (rc = snapshot_source_check(spec->source)) != IMDR_OK)
		goto out;
	if (spec->has_from && spec->has_to && spec->from_ns > spec->to_ns) {
		rc = err_set(IMDR_EINVAL, "the hold's range ends before it begins");
		goto out;
	}
	for (size_t i = 0; i < spec->nsnapshots; i++) {
		if (strlen(spec->snapshots[i]) != SNAPSHOT_ID_HEX ||
		    !hex_valid(spec->snapshots[i], SNAPSHOT_ID_HEX)) {
			rc = err_set(IMDR_EINVAL, "%s is not a full snapshot id", spec->snapshots[i]);
			goto out;
		}
	}
	gethostname(host, sizeof(host) - 1);
	who(user, sizeof(user));
	h->time_ns = time_now_ns();
	h->case_name = xstrdup(spec->case_name);
	h->reason = xstrdup(spec->reason);
	h->who = xstrdup(user);
	h->host = xstrdup(host);
	if (spec->nsnapshots) {
		h->snapshots = xcalloc(spec->nsnapshots, sizeof(*h->snapshots));
		memcpy(h->snapshots, spec->snapshots, spec->nsnapshots * sizeof(*h->snapshots));
		h->nsnapshots = spec->nsnapshots;
	}
	if (spec->source) {
		h->source = xstrdup(spec->source);
		snapshot_source_tag(r, h->source, h->source_tag);
	}
	h->has_from = spec->has_from;
	h->has_to = spec->has_to;
	h->from_ns = spec->from_ns;
	h->to_ns = spec->to_ns;
	time_format(h->time_ns, 9, when);
	j = json_pack("{s:i, s:s, s:I, s:s, s:s, s:s, s:s, s:o}", "version", HOLD_VERSION,
	    "time", when, "time_ns", (json_int_t)h->time_ns, "case", h->case_name,
	    "reason", h->reason, "who", h->who, "host", h->host, "scope", scope_json(h));
	if (j == NULL) {
		rc = err_set(IMDR_EINVAL, "cannot encode the hold (case or reason not UTF-8?)");
		goto out;
	}
	js = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
	crypto_sha256(js, strlen(js), sum);
	hex_encode(sum, sizeof(sum), h->id);
	time_format_compact(h->time_ns, tbuf);
	snprintf(h->name, sizeof(h->name), "holds/%s-%s", tbuf, h->id);
	rc = repo_put_sealed(r, OBJ_HOLD, h->name, js, strlen(js));
	if (rc)
		goto out;
	/* the hold stands before its record: a crash between them leaves a
	 * hold in force, never a record of one that is not */
	a = json_pack("{s:s, s:s, s:s, s:o}", "hold", h->id, "case", h->case_name,
	    "reason", h->reason, "scope", scope_json(h));
	ajs = json_dumps(a, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(a);
	rc = audit_append(r, &(struct audit_event){ "hold-add", ajs, "ok" }, NULL);
out:
	json_decref(j);
	free(js);
	free(ajs);
	if (rc == IMDR_OK && ret)
		*ret = h;
	else
		hold_free(h);
	return rc;
}

/* load_release: fill h's release from its .release object. */
static int
load_release(struct repo *r, struct hold *h, const char *name)
{
	struct buf b = BUF_INIT;
	json_error_t jerr;
	json_t *j = NULL;
	const char *id, *by, *why;
	json_int_t t;
	int rc;

	rc = repo_get_sealed(r, OBJ_HOLD_RELEASE, name, &b);
	if (rc)
		goto out;
	j = json_loadb((const char *)b.data, b.len, 0, &jerr);
	if (j == NULL || json_unpack(j, "{s:s, s:I, s:s, s:s}", "hold", &id, "time_ns", &t,
	    "who", &by, "reason", &why) != 0 || strcmp(id, h->id) != 0) {
		rc = err_set(IMDR_EFORMAT, "release %s is malformed or names another hold", name);
		goto out;
	}
	h->released = 1;
	h->released_ns = t;
	h->released_by = xstrdup(by);
	h->release_reason = xstrdup(why);
out:
	json_decref(j);
	buf_free(&b);
	return rc;
}

struct list_ctx {
	char **holds, **releases;
	size_t nh, hcap, nr, rcap;
};

static int
list_one(void *vctx, const char *name, uint64_t size)
{
	struct list_ctx *c = vctx;
	size_t len = strlen(name);

	(void)size;
	if (len > strlen(RELEASE_SUFFIX) && strcmp(name + len - strlen(RELEASE_SUFFIX),
	    RELEASE_SUFFIX) == 0)
		*ARRAY_PUSH(c->releases, c->nr, c->rcap) = xstrdup(name);
	else
		*ARRAY_PUSH(c->holds, c->nh, c->hcap) = xstrdup(name);
	return 0;
}

static int
cmp_hold(const void *a, const void *b)
{
	const struct hold *x = *(struct hold *const *)a, *y = *(struct hold *const *)b;

	if (x->time_ns != y->time_ns)
		return x->time_ns < y->time_ns ? -1 : 1;
	return strcmp(x->id, y->id);
}

/* load_hold: fetch, authenticate, check the id against the content. */
static int
load_hold(struct repo *r, const char *name, struct hold **ret)
{
	struct buf b = BUF_INIT;
	const char *dash = strrchr(name, '-');
	uint8_t sum[32];
	char hex[65];
	int rc;

	if (strncmp(name, "holds/", 6) != 0 || dash == NULL || strlen(dash + 1) != HOLD_ID_HEX ||
	    !hex_valid(dash + 1, HOLD_ID_HEX))
		return err_set(IMDR_EFORMAT, "%s is not a hold name", name);
	rc = repo_get_sealed(r, OBJ_HOLD, name, &b);
	if (rc)
		goto out;
	crypto_sha256(b.data, b.len, sum);
	hex_encode(sum, sizeof(sum), hex);
	if (strcmp(hex, dash + 1) != 0) {
		rc = err_set(IMDR_EAUTH, "hold %s: content does not match its id", name);
		goto out;
	}
	rc = hold_parse(b.data, b.len, ret);
	if (rc) {
		rc = err_set(rc, "%s: %s", name, err_msg(rc));
		goto out;
	}
	snprintf((*ret)->id, sizeof((*ret)->id), "%s", dash + 1);
	snprintf((*ret)->name, sizeof((*ret)->name), "%s", name);
	if ((*ret)->source)
		snapshot_source_tag(r, (*ret)->source, (*ret)->source_tag);
out:
	buf_free(&b);
	return rc;
}

int
hold_list(struct repo *r, struct hold ***ret, size_t *ret_n)
{
	struct list_ctx c;
	struct hold **v = NULL;
	size_t n = 0;
	int rc;

	memset(&c, 0, sizeof(c));
	rc = repo_list(r, "holds/", list_one, &c);
	if (rc == IMDR_OK && c.nh)
		v = xcalloc(c.nh, sizeof(*v));
	for (size_t i = 0; rc == IMDR_OK && i < c.nh; i++) {
		rc = load_hold(r, c.holds[i], &v[n]);
		if (rc)
			break;
		for (size_t k = 0; k < c.nr; k++) {
			size_t hl = strlen(c.holds[i]);

			if (strncmp(c.releases[k], c.holds[i], hl) == 0 &&
			    strcmp(c.releases[k] + hl, RELEASE_SUFFIX) == 0) {
				rc = load_release(r, v[n], c.releases[k]);
				break;
			}
		}
		n++;
	}
	for (size_t i = 0; i < c.nh; i++)
		free(c.holds[i]);
	for (size_t i = 0; i < c.nr; i++)
		free(c.releases[i]);
	free(c.holds);
	free(c.releases);
	if (rc) {
		hold_list_free(v, n);
		return rc;
	}
	if (n > 1)
		qsort(v, n, sizeof(*v), cmp_hold);
	*ret = v;
	*ret_n = n;
	return IMDR_OK;
}

int
hold_find(struct hold *const *v, size_t n, const char *prefix, size_t *ret_index)
{
	size_t len = strlen(prefix), hits = 0, at = 0;

	if (len < 4 || len > HOLD_ID_HEX || !hex_valid(prefix, len))
		return err_set(IMDR_EINVAL, "%s: not a hold id (4 or more hex digits)", prefix);
	for (size_t i = 0; i < n; i++) {
		if (strncmp(v[i]->id, prefix, len) == 0) {
			at = i;
			hits++;
		}
	}
	if (hits == 0)
		return err_set(IMDR_ENOENT, "no hold with id %s", prefix);
	if (hits > 1)
		return err_set(IMDR_EAMBIG, "hold id %s is ambiguous (%zu match); give more digits",
		    prefix, hits);
	*ret_index = at;
	return IMDR_OK;
}

int
hold_release(struct repo *r, struct hold *h, const char *reason)
{
	char host[256] = "", user[320], when[40], name[sizeof(h->name) + 16];
	char *js = NULL, *ajs = NULL;
	int64_t now = time_now_ns();
	json_t *j, *a;
	int rc;

	if (h->released)
		return err_set(IMDR_EINVAL, "hold %.8s (%s) was released already", h->id, h->case_name);
	if ((rc = text_ok("release reason", reason)) != IMDR_OK)
		return rc;
	gethostname(host, sizeof(host) - 1);
	who(user, sizeof(user));
	/* the record first: a crash between the two leaves the hold in force
	 * and the attempt on record, never a hold gone without a trace */
	a = json_pack("{s:s, s:s, s:s}", "hold", h->id, "case", h->case_name, "reason", reason);
	if (a == NULL)
		return err_set(IMDR_EINVAL, "cannot encode the release (reason not UTF-8?)");
	ajs = json_dumps(a, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(a);
	rc = audit_append(r, &(struct audit_event){ "hold-release", ajs, "ok" }, NULL);
	free(ajs);
	if (rc)
		return rc;
	time_format(now, 9, when);
	j = json_pack("{s:i, s:s, s:s, s:I, s:s, s:s, s:s}", "version", HOLD_VERSION,
	    "hold", h->id, "time", when, "time_ns", (json_int_t)now, "who", user,
	    "host", host, "reason", reason);
	js = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(j);
	snprintf(name, sizeof(name), "%s%s", h->name, RELEASE_SUFFIX);
	rc = repo_put_sealed(r, OBJ_HOLD_RELEASE, name, js, strlen(js));
	free(js);
	if (rc == IMDR_OK) {
		h->released = 1;
		h->released_ns = now;
		h->released_by = xstrdup(user);
		h->release_reason = xstrdup(reason);
	}
	return rc;
}

int
hold_covers(const struct hold *h, const struct snapshot_name *sn)
{
	if (h->released)
		return 0;
	if (h->nsnapshots) {
		for (size_t i = 0; i < h->nsnapshots; i++)
			if (strcmp(h->snapshots[i], sn->id) == 0)
				return 1;
		return 0;
	}
	if (h->source && strcmp(h->source_tag, sn->tag) != 0)
		return 0;
	if (h->has_from && sn->time_ns < h->from_ns)
		return 0;
	if (h->has_to && sn->time_ns > h->to_ns)
		return 0;
	return 1;
}

const struct hold *
hold_covering(struct hold *const *v, size_t n, const struct snapshot_name *sn)
{
	for (size_t i = 0; i < n; i++)
		if (hold_covers(v[i], sn))
			return v[i];
	return NULL;
}

char *
hold_scope_text(const struct hold *h)
{
	struct buf b = BUF_INIT;
	char when[40];

	if (h->nsnapshots) {
		buf_puts(&b, h->nsnapshots == 1 ? "snapshot " : "snapshots ");
		for (size_t i = 0; i < h->nsnapshots; i++) {
			if (i)
				buf_puts(&b, ", ");
			buf_append(&b, h->snapshots[i], 8);
		}
	} else {
		buf_puts(&b, h->source ? "source " : "every source");
		if (h->source)
			buf_puts(&b, h->source);
		if (h->has_from) {
			time_format(h->from_ns, 0, when);
			buf_puts(&b, " from ");
			buf_puts(&b, when);
		}
		if (h->has_to) {
			time_format(h->to_ns, 0, when);
			buf_puts(&b, " to ");
			buf_puts(&b, when);
		} else {
			buf_puts(&b, " (open: snapshots not yet taken too)");
		}
	}
	buf_putc(&b, '\0');
	return (char *)b.data;
}
