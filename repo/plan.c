/* plan — see plan.h. A plan's body uses the index object's encoding, so a
 * planned pack can be indexed again from it without reading its header. */
#include "repo/plan.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "lib/array.h"
#include "lib/err.h"
#include "lib/hex.h"
#include "lib/timefmt.h"
#include "lib/varint.h"
#include "repo/repo_impl.h"

#define PLAN_VERSION 1
#define READY_SUFFIX ".ready"

static int
cmp_name(const void *a, const void *b)
{
	const struct plan_name *x = a, *y = b;

	if (x->time_ns != y->time_ns)
		return x->time_ns < y->time_ns ? -1 : 1;
	return strcmp(x->id, y->id);
}

/* parse_name: "prune/<time>-<id>[.ready]"; *ret_ready says which. */
static int
parse_name(const char *name, struct plan_name *ret, int *ret_ready)
{
	const char *base = name + 6, *dash;
	size_t len = strlen(name);
	char tbuf[40];

	if (strncmp(name, "prune/", 6) != 0 || len >= sizeof(ret->name))
		return -1;
	*ret_ready = len > 6 + strlen(READY_SUFFIX) &&
	    strcmp(name + len - strlen(READY_SUFFIX), READY_SUFFIX) == 0;
	if (*ret_ready)
		len -= strlen(READY_SUFFIX);
	dash = memchr(base, '-', len - 6);
	if (dash == NULL || (size_t)(name + len - dash - 1) != PLAN_ID_HEX ||
	    (size_t)(dash - base) >= sizeof(tbuf))
		return -1;
	memcpy(ret->id, dash + 1, PLAN_ID_HEX);
	ret->id[PLAN_ID_HEX] = '\0';
	if (!hex_valid(ret->id, PLAN_ID_HEX))
		return -1;
	memcpy(tbuf, base, (size_t)(dash - base));
	tbuf[dash - base] = '\0';
	if (time_parse_compact(tbuf, &ret->time_ns) != 0)
		return -1;
	memcpy(ret->name, name, len);
	ret->name[len] = '\0';
	return 0;
}

struct list_ctx {
	struct plan_name *v;
	size_t n, cap;
};

static int
list_one(void *vctx, const char *name, uint64_t size)
{
	struct list_ctx *c = vctx;
	struct plan_name pn;
	int ready;

	(void)size;
	memset(&pn, 0, sizeof(pn));
	if (parse_name(name, &pn, &ready) != 0)
		return 0;
	for (size_t i = 0; i < c->n; i++) {
		if (strcmp(c->v[i].name, pn.name) == 0) {
			if (ready)
				c->v[i].ready = 1;
			else
				c->v[i].body = 1;
			return 0;
		}
	}
	pn.ready = ready;
	pn.body = !ready;
	*ARRAY_PUSH(c->v, c->n, c->cap) = pn;
	return 0;
}

int
plan_list(struct repo *r, struct plan_name **ret, size_t *ret_n)
{
	struct list_ctx c = { NULL, 0, 0 };
	int rc;

	rc = backend_list(repo_be(r), "prune/", list_one, &c);
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

int
plan_write(struct repo *r, int64_t time_ns, const struct plan_pack *packs, size_t n,
    struct plan_name *ret)
{
	struct buf b = BUF_INIT;
	uint8_t rid[32];
	char tbuf[32];
	int rc;

	buf_putc(&b, PLAN_VERSION);
	varint_put(&b, n);
	for (size_t i = 0; i < n; i++) {
		buf_append(&b, packs[i].id, CRYPTO_ID_LEN);
		varint_put(&b, packs[i].size);
		varint_put(&b, packs[i].n);
		for (size_t j = 0; j < packs[i].n; j++) {
			const struct pack_entry *e = &packs[i].e[j];

			buf_putc(&b, e->type);
			buf_append(&b, e->ref.id, CRYPTO_ID_LEN);
			varint_put(&b, e->ref.offset);
			varint_put(&b, e->ref.length);
			varint_put(&b, e->ref.raw_length);
		}
	}
	memset(ret, 0, sizeof(*ret));
	crypto_random(rid, sizeof(rid));
	hex_encode(rid, sizeof(rid), ret->id);
	time_format_compact(time_ns, tbuf);
	snprintf(ret->name, sizeof(ret->name), "prune/%s-%s", tbuf, ret->id);
	ret->time_ns = time_ns;
	rc = repo_put_sealed(r, OBJ_PLAN, ret->name, b.data, b.len);
	if (rc == IMDR_OK)
		ret->body = 1;
	buf_free(&b);
	return rc;
}

int
plan_write_ready(struct repo *r, struct plan_name *pn, int64_t ready_ns,
    char (*sessions)[LOCK_SESSION_HEX + 1], size_t nsessions)
{
	json_t *j = json_pack("{s:i, s:I, s:[]}", "version", PLAN_VERSION,
	    "time_ns", (json_int_t)ready_ns, "sessions");
	json_t *a = json_object_get(j, "sessions");
	char name[sizeof(pn->name) + 8], *js;
	int rc;

	for (size_t i = 0; i < nsessions; i++)
		json_array_append_new(a, json_string(sessions[i]));
	js = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(j);
	snprintf(name, sizeof(name), "%s%s", pn->name, READY_SUFFIX);
	rc = repo_put_sealed(r, OBJ_PLAN, name, js, strlen(js));
	free(js);
	if (rc == IMDR_OK)
		pn->ready = 1;
	return rc;
}

int
plan_parse(const char *name, const uint8_t *p, size_t n, int ids_only,
    struct plan_pack **ret, size_t *ret_n)
{
	const uint8_t *end = p + n;
	struct plan_pack *v = NULL;
	uint64_t npacks, count, x;

	if (n < 1 || *p++ != PLAN_VERSION || varint_get(&p, end, &npacks) ||
	    npacks > n / CRYPTO_ID_LEN)
		goto bad;
	v = xcalloc(npacks ? npacks : 1, sizeof(*v));
	for (uint64_t i = 0; i < npacks; i++) {
		if (end - p < CRYPTO_ID_LEN)
			goto bad;
		memcpy(v[i].id, p, CRYPTO_ID_LEN);
		p += CRYPTO_ID_LEN;
		if (varint_get(&p, end, &v[i].size) || varint_get(&p, end, &count) ||
		    count > (uint64_t)(end - p) / (1 + CRYPTO_ID_LEN))
			goto bad;
		v[i].n = count;
		if (!ids_only)
			v[i].e = xcalloc(count ? count : 1, sizeof(*v[i].e));
		for (uint64_t j = 0; j < count; j++) {
			struct pack_entry e;

			if (end - p < 1 + CRYPTO_ID_LEN)
				goto bad;
			e.type = *p++;
			memcpy(e.ref.id, p, CRYPTO_ID_LEN);
			p += CRYPTO_ID_LEN;
			memcpy(e.ref.pack, v[i].id, CRYPTO_ID_LEN);
			if (e.type > BLOB_TREE || varint_get(&p, end, &e.ref.offset) ||
			    varint_get(&p, end, &x) || x > UINT32_MAX)
				goto bad;
			e.ref.length = (uint32_t)x;
			if (varint_get(&p, end, &x) || x > UINT32_MAX)
				goto bad;
			e.ref.raw_length = (uint32_t)x;
			if (!ids_only)
				v[i].e[j] = e;
		}
	}
	if (p != end)
		goto bad;
	*ret = v;
	*ret_n = npacks;
	return IMDR_OK;
bad:
	for (uint64_t i = 0; v && i < npacks; i++)
		free(v[i].e);
	free(v);
	return err_set(IMDR_EFORMAT, "prune plan %s is malformed", name);
}

static int
load_ready(struct repo *r, struct plan *p)
{
	struct buf b = BUF_INIT;
	char name[sizeof(p->pn.name) + 8];
	json_error_t jerr;
	json_t *j = NULL, *a;
	json_int_t t;
	int rc;

	snprintf(name, sizeof(name), "%s%s", p->pn.name, READY_SUFFIX);
	rc = repo_get_sealed(r, OBJ_PLAN, name, &b);
	if (rc)
		goto out;
	j = json_loadb((const char *)b.data, b.len, 0, &jerr);
	if (j == NULL || json_unpack(j, "{s:I, s:o}", "time_ns", &t, "sessions", &a) != 0 ||
	    !json_is_array(a)) {
		rc = err_set(IMDR_EFORMAT, "%s is malformed", name);
		goto out;
	}
	p->ready_ns = t;
	p->sessions = xcalloc(json_array_size(a) + 1, sizeof(*p->sessions));
	for (size_t i = 0; i < json_array_size(a); i++) {
		const char *s = json_string_value(json_array_get(a, i));

		if (s == NULL || strlen(s) != LOCK_SESSION_HEX || !hex_valid(s, LOCK_SESSION_HEX)) {
			rc = err_set(IMDR_EFORMAT, "%s is malformed (session %zu)", name, i);
			goto out;
		}
		memcpy(p->sessions[p->nsessions++], s, LOCK_SESSION_HEX + 1);
	}
out:
	json_decref(j);
	buf_free(&b);
	return rc;
}

int
plan_load(struct repo *r, const struct plan_name *pn, struct plan **ret)
{
	struct buf b = BUF_INIT;
	struct plan *p = xcalloc(1, sizeof(*p));
	int rc;

	p->pn = *pn;
	rc = repo_get_sealed(r, OBJ_PLAN, pn->name, &b);
	if (rc == IMDR_OK)
		rc = plan_parse(pn->name, b.data, b.len, 0, &p->packs, &p->npacks);
	if (rc == IMDR_OK && pn->ready)
		rc = load_ready(r, p);
	buf_free(&b);
	if (rc) {
		plan_free(p);
		return rc;
	}
	*ret = p;
	return IMDR_OK;
}

void
plan_free(struct plan *p)
{
	if (p == NULL)
		return;
	for (size_t i = 0; i < p->npacks; i++)
		free(p->packs[i].e);
	free(p->packs);
	free(p->sessions);
	free(p);
}

int
plan_delete(struct repo *r, const struct plan_name *pn)
{
	char name[sizeof(pn->name) + 8];
	int rc;

	snprintf(name, sizeof(name), "%s%s", pn->name, READY_SUFFIX);
	rc = backend_del(repo_be(r), name);
	if (rc == IMDR_OK)
		rc = backend_del(repo_be(r), pn->name);
	return rc;
}

int
plan_pack_set(struct repo *r, struct idset *set, size_t *ret_plans)
{
	struct plan_name *v = NULL;
	size_t n = 0, read = 0;
	int rc;

	rc = plan_list(r, &v, &n);
	for (size_t i = 0; rc == IMDR_OK && i < n; i++) {
		struct buf b = BUF_INIT;
		struct plan_pack *pp = NULL;
		size_t np = 0;

		if (!v[i].body)
			continue;
		rc = repo_get_sealed(r, OBJ_PLAN, v[i].name, &b);
		if (rc == IMDR_ENOENT) {
			/* finished and deleted meanwhile: its packs are gone */
			err_clear();
			rc = IMDR_OK;
			buf_free(&b);
			continue;
		}
		if (rc == IMDR_OK)
			rc = plan_parse(v[i].name, b.data, b.len, 1, &pp, &np);
		for (size_t k = 0; rc == IMDR_OK && k < np; k++)
			idset_put(set, pp[k].id, 1);
		if (rc == IMDR_OK)
			read++;
		free(pp);
		buf_free(&b);
	}
	free(v);
	if (ret_plans)
		*ret_plans = read;
	return rc;
}
