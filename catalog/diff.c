/* diff — two trees walked together (catalog.h, cat_diff).
 *
 * Iterative, like cat_walk: one frame a level holds the two nodes of a
 * folder present on both sides and where the merge of their sorted
 * entries stands, so a deep tree costs heap, not stack. Folders whose
 * node ids match are never loaded. */
#include <stdlib.h>
#include <string.h>

#include "catalog/catalog.h"
#include "lib/array.h"
#include "lib/err.h"

struct frame {
	struct cat_node *a, *b;
	uint32_t ia, ib;
	size_t base;		/* path length of the folder, with its '/' */
};

struct whole {
	cat_diff_fn fn;
	void *ctx;
	enum cat_diff_kind kind;
	struct cat_diff_stats *st;
};

static int
cmp_name(const struct cat_entry *x, const struct cat_entry *y)
{
	int c = memcmp(x->name, y->name, x->name_len < y->name_len ? x->name_len : y->name_len);

	if (c)
		return c;
	return x->name_len < y->name_len ? -1 : x->name_len > y->name_len;
}

static int
whole_one(void *vctx, const char *path, const struct cat_node *node, const struct cat_entry *e)
{
	struct whole *w = vctx;
	struct cat_diff_entry d = { w->kind, path, NULL, NULL, NULL, NULL, 0 };

	if (w->kind == CAT_DIFF_ADDED) {
		d.b = e;
		d.nb = node;
	} else {
		d.a = e;
		d.na = node;
	}
	if (e->type == CAT_DIR)
		w->st->nodes_loaded++;
	return w->fn(w->ctx, &d);
}

/* one_side: e (in node) and, for a folder, everything below it. */
static int
one_side(struct repo *r, enum cat_diff_kind kind, const char *path,
    const struct cat_node *node, const struct cat_entry *e, cat_diff_fn fn, void *ctx,
    struct cat_diff_stats *st)
{
	struct cat_diff_entry d = { kind, path, NULL, NULL, NULL, NULL, 0 };
	struct whole w = { fn, ctx, kind, st };
	int rc;

	if (kind == CAT_DIFF_ADDED) {
		d.b = e;
		d.nb = node;
	} else {
		d.a = e;
		d.na = node;
	}
	rc = fn(ctx, &d);
	if (rc || e->type != CAT_DIR)
		return rc;
	st->nodes_loaded++;
	return cat_walk(r, &e->subtree, path, whole_one, &w);
}

static unsigned
changed_bits(const struct cat_node *na, const struct cat_entry *a,
    const struct cat_node *nb, const struct cat_entry *b)
{
	unsigned w = 0;

	if (a->mode != b->mode)
		w |= CAT_CHANGED_MODE;
	if (a->type == CAT_DIR)
		return w;
	if (a->mtime_ns != b->mtime_ns)
		w |= CAT_CHANGED_MTIME;
	if (a->size != b->size)
		w |= CAT_CHANGED_CONTENT;
	else if (a->type == CAT_SYMLINK)
		w |= strcmp(a->target ? a->target : "", b->target ? b->target : "") ? CAT_CHANGED_CONTENT : 0;
	else if (a->nchunks != b->nchunks)
		w |= CAT_CHANGED_CONTENT;
	else
		for (uint32_t i = 0; i < a->nchunks; i++) {
			struct blob_ref x, y;

			cat_chunk(na, a, i, &x, NULL);
			cat_chunk(nb, b, i, &y, NULL);
			if (memcmp(x.id, y.id, CRYPTO_ID_LEN) != 0) {
				w |= CAT_CHANGED_CONTENT;
				break;
			}
		}
	return w;
}

int
cat_diff(struct repo *r, const struct blob_ref *a, const struct blob_ref *b,
    cat_diff_fn fn, void *ctx, struct cat_diff_stats *ret_st)
{
	struct cat_diff_stats st = { 0, 0 };
	struct frame *fr = NULL;
	size_t depth = 0, cap = 0;
	struct buf path = BUF_INIT;
	struct cat_node *na = NULL, *nb = NULL;
	int rc;

	if (memcmp(a->id, b->id, CRYPTO_ID_LEN) == 0) {
		st.subtrees_skipped++;
		goto out_ok;
	}
	rc = cat_node_load(r, a, &na);
	if (rc == IMDR_OK)
		rc = cat_node_load(r, b, &nb);
	if (rc) {
		cat_node_free(na);
		return rc;
	}
	st.nodes_loaded += 2;
	*ARRAY_PUSH(fr, depth, cap) = (struct frame){ na, nb, 0, 0, 0 };
	rc = IMDR_OK;
	while (depth > 0 && rc == IMDR_OK) {
		struct frame *f = &fr[depth - 1];
		uint32_t ca = cat_node_count(f->a), cb = cat_node_count(f->b);
		const struct cat_entry *ea = f->ia < ca ? cat_node_entry(f->a, f->ia) : NULL;
		const struct cat_entry *eb = f->ib < cb ? cat_node_entry(f->b, f->ib) : NULL;
		int c;

		if (ea == NULL && eb == NULL) {
			cat_node_free(f->a);
			cat_node_free(f->b);
			depth--;
			continue;
		}
		c = ea == NULL ? 1 : eb == NULL ? -1 : cmp_name(ea, eb);
		path.len = f->base;
		buf_append(&path, c <= 0 ? ea->name : eb->name, c <= 0 ? ea->name_len : eb->name_len);
		buf_cstr(&path);
		if (c < 0) {
			f->ia++;
			rc = one_side(r, CAT_DIFF_REMOVED, (const char *)path.data, f->a, ea, fn, ctx, &st);
			continue;
		}
		if (c > 0) {
			f->ib++;
			rc = one_side(r, CAT_DIFF_ADDED, (const char *)path.data, f->b, eb, fn, ctx, &st);
			continue;
		}
		f->ia++;
		f->ib++;
		if (ea->type != eb->type) {
			rc = one_side(r, CAT_DIFF_REMOVED, (const char *)path.data, f->a, ea, fn, ctx, &st);
			if (rc == IMDR_OK)
				rc = one_side(r, CAT_DIFF_ADDED, (const char *)path.data, f->b, eb, fn, ctx,
				    &st);
			continue;
		}
		{
			unsigned w = changed_bits(f->a, ea, f->b, eb);

			if (w) {
				struct cat_diff_entry d = { CAT_DIFF_CHANGED, (const char *)path.data, ea, eb,
				    f->a, f->b, w };

				rc = fn(ctx, &d);
				if (rc)
					break;
			}
		}
		if (ea->type != CAT_DIR)
			continue;
		if (memcmp(ea->subtree.id, eb->subtree.id, CRYPTO_ID_LEN) == 0) {
			st.subtrees_skipped++;
			continue;
		}
		na = nb = NULL;
		rc = cat_node_load(r, &ea->subtree, &na);
		if (rc == IMDR_OK)
			rc = cat_node_load(r, &eb->subtree, &nb);
		if (rc) {
			cat_node_free(na);
			break;
		}
		st.nodes_loaded += 2;
		buf_putc(&path, '/');
		*ARRAY_PUSH(fr, depth, cap) = (struct frame){ na, nb, 0, 0, path.len };
	}
	while (depth > 0) {
		cat_node_free(fr[depth - 1].a);
		cat_node_free(fr[depth - 1].b);
		depth--;
	}
	free(fr);
	buf_free(&path);
	if (rc)
		return rc;
out_ok:
	if (ret_st)
		*ret_st = st;
	return IMDR_OK;
}
