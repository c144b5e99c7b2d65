/* builder — the in-memory tree a backup fills in any order, encoded bottom-up
 * at the end (catalog.h).
 *
 * Memory: one struct bnode per entry (~90 bytes) plus its name, and for files
 * their chunk slots in blocks of doubling size (1, 2, 4, ... 1024 slots), so
 * slot addresses never move while store workers fill them. A directory finds
 * a child by name through a small open-addressing table once it has more
 * than a few children. */
#include <stdlib.h>
#include <string.h>

#include "catalog/catalog.h"
#include "lib/array.h"
#include "lib/err.h"
#include "lib/hash.h"
#include "lib/idset.h"
#include "lib/varint.h"

#define NODE_VERSION 1
#define SCAN_LIMIT 8

struct slot {
	uint8_t id[CRYPTO_ID_LEN];
	uint32_t raw;
};

struct block {
	struct block *next;
	uint32_t cap, used;
	struct slot s[];
};

struct cat_file;

struct bnode {
	char *name;
	uint32_t name_len;
	uint8_t type;
	uint8_t explicit;
	uint8_t dropped;	/* a file left out after all (unreadable) */
	uint32_t mode;
	int64_t mtime_ns;
	uint64_t size;
	char *target;
	/* dir */
	struct bnode **kids;
	uint32_t nkids, capkids;
	uint32_t *htab;		/* kid index + 1; 0 empty */
	uint32_t hcap;
	/* file */
	struct block *first, *last;
	uint32_t nchunks;
};

struct cat_builder {
	struct bnode root;
	struct bnode *last_dir;		/* the parent of the last entry added */
	char *last_dir_path;
	size_t last_dir_len;
};

static void
rehash(struct bnode *d)
{
	uint32_t cap = 16;

	while (cap < d->nkids * 2 + 2)
		cap *= 2;
	free(d->htab);
	d->htab = xcalloc(cap, sizeof(*d->htab));
	d->hcap = cap;
	for (uint32_t i = 0; i < d->nkids; i++) {
		uint32_t j = (uint32_t)hash_keyed(d->kids[i]->name, d->kids[i]->name_len) & (cap - 1);

		while (d->htab[j])
			j = (j + 1) & (cap - 1);
		d->htab[j] = i + 1;
	}
}

static struct bnode *
find_kid(struct bnode *d, const char *name, size_t len)
{
	if (d->htab == NULL) {
		for (uint32_t i = d->nkids; i-- > 0;) {
			struct bnode *k = d->kids[i];

			if (k->name_len == len && memcmp(k->name, name, len) == 0)
				return k;
		}
		return NULL;
	}
	for (uint32_t j = (uint32_t)hash_keyed(name, len) & (d->hcap - 1); d->htab[j];
	    j = (j + 1) & (d->hcap - 1)) {
		struct bnode *k = d->kids[d->htab[j] - 1];

		if (k->name_len == len && memcmp(k->name, name, len) == 0)
			return k;
	}
	return NULL;
}

static struct bnode *
add_kid(struct bnode *d, const char *name, size_t len, uint8_t type)
{
	struct bnode *k = xcalloc(1, sizeof(*k));

	k->name = xstrndup(name, len);
	k->name_len = (uint32_t)len;
	k->type = type;
	if (type == CAT_DIR)
		k->mode = 0755;
	if (d->nkids == d->capkids) {
		d->capkids = d->capkids ? d->capkids * 2 : 4;
		d->kids = xrealloc(d->kids, d->capkids * sizeof(*d->kids));
	}
	d->kids[d->nkids++] = k;
	if (d->nkids > SCAN_LIMIT && (d->htab == NULL || d->nkids * 2 > d->hcap))
		rehash(d);
	else if (d->htab) {
		uint32_t j = (uint32_t)hash_keyed(name, len) & (d->hcap - 1);

		while (d->htab[j])
			j = (j + 1) & (d->hcap - 1);
		d->htab[j] = d->nkids;
	}
	return k;
}

struct cat_builder *
cat_builder_new(void)
{
	struct cat_builder *b = xcalloc(1, sizeof(*b));

	b->root.type = CAT_DIR;
	b->root.mode = 0755;
	return b;
}

/* free_tree: every node below root, and root's own parts; with a stack
 * of its own, so a path 50,000 folders deep costs heap, not C stack. */
static void
free_tree(struct bnode *root)
{
	struct bnode **st = NULL;
	size_t n = 0, cap = 0;

	*ARRAY_PUSH(st, n, cap) = root;
	while (n > 0) {
		struct bnode *d = st[--n];

		for (uint32_t i = 0; i < d->nkids; i++)
			*ARRAY_PUSH(st, n, cap) = d->kids[i];
		free(d->kids);
		free(d->htab);
		free(d->name);
		free(d->target);
		while (d->first) {
			struct block *next = d->first->next;

			free(d->first);
			d->first = next;
		}
		if (d != root)
			free(d);
	}
	free(st);
}

void
cat_builder_free(struct cat_builder *b)
{
	if (b == NULL)
		return;
	free_tree(&b->root);
	free(b->last_dir_path);
	free(b);
}

static int
check_path(const char *path)
{
	const char *p = path;

	if (*p == '\0' || *p == '/')
		return err_set(IMDR_EINVAL, "bad path \"%s\" (empty or absolute)", path);
	while (*p) {
		const char *s = strchr(p, '/');
		size_t len = s ? (size_t)(s - p) : strlen(p);

		if (len == 0 || (len == 1 && p[0] == '.') ||
		    (len == 2 && p[0] == '.' && p[1] == '.'))
			return err_set(IMDR_EINVAL, "bad path \"%s\" (empty, \".\" or \"..\" part)", path);
		p += len;
		if (*p == '/') {
			p++;
			if (*p == '\0')
				return err_set(IMDR_EINVAL, "bad path \"%s\" (trailing /)", path);
		}
	}
	return IMDR_OK;
}

/* parent_of: the directory that holds path's last part, created as needed;
 * *ret_name/len point at that last part. */
static int
parent_of(struct cat_builder *b, const char *path, struct bnode **ret,
    const char **ret_name, size_t *ret_len)
{
	const char *slash = strrchr(path, '/'), *p = path;
	size_t dlen = slash ? (size_t)(slash - path) : 0;
	struct bnode *d = &b->root;

	*ret_name = slash ? slash + 1 : path;
	*ret_len = strlen(*ret_name);
	/* Entries arrive grouped by folder: reuse the last one. */
	if (b->last_dir && b->last_dir_len == dlen &&
	    memcmp(b->last_dir_path, path, dlen) == 0) {
		*ret = b->last_dir;
		return IMDR_OK;
	}
	while (p < path + dlen) {
		const char *s = memchr(p, '/', (size_t)(path + dlen - p));
		size_t len = s ? (size_t)(s - p) : (size_t)(path + dlen - p);
		struct bnode *k = find_kid(d, p, len);

		if (k == NULL)
			k = add_kid(d, p, len, CAT_DIR);
		else if (k->type != CAT_DIR)
			return err_set(IMDR_EEXIST, "%s: %.*s is not a folder", path,
			    (int)(p + len - path), path);
		d = k;
		p += len + 1;
	}
	free(b->last_dir_path);
	b->last_dir_path = xstrndup(path, dlen);
	b->last_dir_len = dlen;
	b->last_dir = d;
	*ret = d;
	return IMDR_OK;
}

static int
add_entry(struct cat_builder *b, const char *path, uint8_t type,
    struct bnode **ret)
{
	struct bnode *d = NULL, *k;
	const char *name;
	size_t len;
	int rc;

	rc = check_path(path);
	if (rc)
		return rc;
	rc = parent_of(b, path, &d, &name, &len);
	if (rc)
		return rc;
	k = find_kid(d, name, len);
	if (k != NULL) {
		/* A folder made implicitly for a child may be added later. */
		if (k->type == CAT_DIR && type == CAT_DIR && !k->explicit) {
			k->explicit = 1;
			*ret = k;
			return IMDR_OK;
		}
		return err_set(IMDR_EEXIST, "%s appears twice", path);
	}
	k = add_kid(d, name, len, type);
	k->explicit = 1;
	*ret = k;
	return IMDR_OK;
}

int
cat_builder_add_dir(struct cat_builder *b, const char *path, uint32_t mode,
    int64_t mtime_ns)
{
	struct bnode *k;
	int rc = add_entry(b, path, CAT_DIR, &k);

	if (rc == IMDR_OK) {
		k->mode = mode & 07777;
		k->mtime_ns = mtime_ns;
	}
	return rc;
}

int
cat_builder_add_symlink(struct cat_builder *b, const char *path,
    const char *target, uint32_t mode, int64_t mtime_ns)
{
	struct bnode *k;
	int rc = add_entry(b, path, CAT_SYMLINK, &k);

	if (rc == IMDR_OK) {
		k->mode = mode & 07777;
		k->mtime_ns = mtime_ns;
		k->target = xstrdup(target);
		k->size = strlen(target);
	}
	return rc;
}

int
cat_builder_add_file(struct cat_builder *b, const char *path, uint32_t mode,
    int64_t mtime_ns, uint64_t size, struct cat_file **ret_file)
{
	struct bnode *k;
	int rc = add_entry(b, path, CAT_FILE, &k);

	if (rc == IMDR_OK) {
		k->mode = mode & 07777;
		k->mtime_ns = mtime_ns;
		k->size = size;
		*ret_file = (struct cat_file *)k;
	}
	return rc;
}

void
cat_file_drop(struct cat_file *f)
{
	((struct bnode *)f)->dropped = 1;
}

static uint32_t
live_kids(const struct bnode *d)
{
	uint32_t n = 0;

	for (uint32_t i = 0; i < d->nkids; i++)
		n += !d->kids[i]->dropped;
	return n;
}

void
cat_file_set_size(struct cat_file *f, uint64_t size)
{
	((struct bnode *)f)->size = size;
}

uint8_t *
cat_file_add_chunk(struct cat_file *f, uint32_t raw_length)
{
	struct bnode *k = (struct bnode *)f;
	struct slot *s;

	if (k->last == NULL || k->last->used == k->last->cap) {
		uint32_t cap = k->last ? k->last->cap * 2 : 1;
		struct block *blk;

		if (cap > 1024)
			cap = 1024;
		blk = xmalloc(sizeof(*blk) + cap * sizeof(struct slot));
		blk->next = NULL;
		blk->cap = cap;
		blk->used = 0;
		if (k->last)
			k->last->next = blk;
		else
			k->first = blk;
		k->last = blk;
	}
	s = &k->last->s[k->last->used++];
	memset(s->id, 0, sizeof(s->id));
	s->raw = raw_length;
	k->nchunks++;
	return s->id;
}

/* ---- encoding ---- */

struct packtab {
	struct idset *map;
	uint8_t (*ids)[CRYPTO_ID_LEN];
	uint32_t n, cap;
};

static uint32_t
pack_slot(struct packtab *t, const uint8_t *id)
{
	uint64_t v;

	if (idset_get(t->map, id, &v))
		return (uint32_t)v;
	if (t->n == t->cap) {
		t->cap = t->cap ? t->cap * 2 : 8;
		t->ids = xrealloc(t->ids, t->cap * CRYPTO_ID_LEN);
	}
	memcpy(t->ids[t->n], id, CRYPTO_ID_LEN);
	idset_put(t->map, id, t->n);
	return t->n++;
}

static void
put_ref(struct buf *b, struct packtab *t, const struct blob_ref *r)
{
	buf_append(b, r->id, CRYPTO_ID_LEN);
	varint_put(b, pack_slot(t, r->pack));
	varint_put(b, r->offset);
	varint_put(b, r->length);
	varint_put(b, r->raw_length);
}

static void
encode(const struct cat_entry *entries, uint32_t n, const struct blob_ref *chunks,
    struct buf *out)
{
	struct packtab t = { idset_new(), NULL, 0, 0 };
	struct buf body = BUF_INIT;
	uint32_t k = 0;

	varint_put(&body, n);
	for (uint32_t i = 0; i < n; i++) {
		const struct cat_entry *e = &entries[i];

		varint_put(&body, e->name_len);
		buf_append(&body, e->name, e->name_len);
		buf_putc(&body, e->type);
		varint_put(&body, e->mode & 07777);
		varint_put_signed(&body, e->mtime_ns);
		varint_put(&body, e->size);
		if (e->type == CAT_FILE) {
			varint_put(&body, e->nchunks);
			for (uint32_t c = 0; c < e->nchunks; c++)
				put_ref(&body, &t, &chunks[k++]);
		} else if (e->type == CAT_DIR) {
			put_ref(&body, &t, &e->subtree);
			varint_put(&body, e->nsubdirs);
			varint_put(&body, e->nentries);
		} else {
			size_t tl = e->target ? strlen(e->target) : 0;

			varint_put(&body, tl);
			buf_append(&body, e->target, tl);
		}
	}
	buf_putc(out, NODE_VERSION);
	varint_put(out, t.n);
	buf_append(out, t.ids, (size_t)t.n * CRYPTO_ID_LEN);
	buf_append(out, body.data, body.len);
	buf_free(&body);
	idset_free(t.map);
	free(t.ids);
}

void
cat_encode_node(const struct cat_entry *entries, uint32_t n,
    const struct blob_ref *chunks, struct buf *out)
{
	encode(entries, n, chunks, out);
}

static int
cmp_kids(const void *a, const void *b)
{
	const struct bnode *x = *(struct bnode *const *)a, *y = *(struct bnode *const *)b;
	int c = memcmp(x->name, y->name, x->name_len < y->name_len ? x->name_len : y->name_len);

	if (c)
		return c;
	return x->name_len < y->name_len ? -1 : x->name_len > y->name_len;
}

struct finish {
	cat_resolve_fn resolve;
	cat_store_fn store;
	void *ctx;
	struct cat_build_stats st;
};

/* One folder being encoded: its entries so far, its files' chunk refs, and
 * where its own location goes once it is stored (its parent's entry). */
struct frame {
	struct bnode *d;
	uint32_t next;		/* next kid to look at */
	uint32_t nlive, nsub;
	struct cat_entry *e;
	struct blob_ref *chunks;
	size_t k;		/* chunk refs filled */
	struct blob_ref *ret_ref;
	uint32_t *ret_nsub;
};

static void
frame_open(struct frame *f, struct bnode *d, struct blob_ref *ret_ref,
    uint32_t *ret_nsub)
{
	size_t nch = 0;

	memset(f, 0, sizeof(*f));
	f->d = d;
	f->ret_ref = ret_ref;
	f->ret_nsub = ret_nsub;
	if (d->nkids > 1)
		qsort(d->kids, d->nkids, sizeof(*d->kids), cmp_kids);
	for (uint32_t i = 0; i < d->nkids; i++)
		if (d->kids[i]->type == CAT_FILE && !d->kids[i]->dropped)
			nch += d->kids[i]->nchunks;
	f->e = xcalloc(d->nkids ? d->nkids : 1, sizeof(*f->e));
	f->chunks = xcalloc(nch ? nch : 1, sizeof(*f->chunks));
}

static void
frame_close(struct frame *f)
{
	free(f->e);
	free(f->chunks);
}

/* folder_path: the path of the folder at depth (for messages only). */
static char *
folder_path(const struct frame *st, size_t depth)
{
	struct buf b = BUF_INIT;

	for (size_t i = 1; i < depth; i++) {
		if (b.len)
			buf_putc(&b, '/');
		buf_append(&b, st[i].d->name, st[i].d->name_len);
	}
	if (b.len == 0)
		buf_puts(&b, "(the top folder)");
	return buf_cstr(&b);
}

/* add_kid_entry: the entry of kid c in f; a file's chunks resolved to
 * their locations. A folder gets its entry now and its location when
 * its own frame is done. */
static int
add_kid_entry(struct finish *fin, struct frame *f, struct bnode *c)
{
	struct cat_entry *e = &f->e[f->nlive];
	int rc = IMDR_OK;

	e->name = c->name;
	e->name_len = c->name_len;
	e->type = c->type;
	e->mode = c->mode;
	e->mtime_ns = c->mtime_ns;
	e->size = c->size;
	e->target = c->target;
	if (c->type == CAT_DIR) {
		f->nsub++;
		fin->st.dirs++;
		e->nentries = live_kids(c);
	} else if (c->type == CAT_FILE) {
		uint64_t total = 0;

		fin->st.files++;
		e->nchunks = c->nchunks;
		for (struct block *blk = c->first; blk && rc == IMDR_OK; blk = blk->next) {
			for (uint32_t s = 0; s < blk->used && rc == IMDR_OK; s++) {
				rc = fin->resolve(fin->ctx, blk->s[s].id, &f->chunks[f->k]);
				if (rc == IMDR_OK && f->chunks[f->k].raw_length != blk->s[s].raw)
					rc = err_set(IMDR_EIO, "internal error: chunk size mismatch in %s",
					    c->name);
				total += blk->s[s].raw;
				f->k++;
			}
		}
		/* The bytes stored are the truth, whatever the size first said. */
		e->size = total;
		fin->st.bytes += total;
	} else {
		fin->st.symlinks++;
	}
	f->nlive++;
	return rc;
}

/* finish_tree: encode and store every folder, children before parents,
 * in the order a depth-first walk by name meets them (so a folder's
 * subfolders lie just before it in the tree packs). Iterative: memory
 * grows with depth (one frame a level), never the C stack. */
static int
finish_tree(struct finish *fin, struct bnode *root, struct blob_ref *ret_root)
{
	struct frame *st = NULL;
	size_t depth = 0, cap = 0;
	struct buf out = BUF_INIT;
	int rc = IMDR_OK;

	frame_open(ARRAY_PUSH(st, depth, cap), root, ret_root, NULL);
	while (depth > 0 && rc == IMDR_OK) {
		struct frame *f = &st[depth - 1];

		if (f->next < f->d->nkids) {
			struct bnode *c = f->d->kids[f->next++];
			struct cat_entry *e = &f->e[f->nlive];

			if (c->dropped)
				continue;
			rc = add_kid_entry(fin, f, c);
			if (rc == IMDR_OK && c->type == CAT_DIR)
				frame_open(ARRAY_PUSH(st, depth, cap), c, &e->subtree, &e->nsubdirs);
			continue;
		}
		out.len = 0;
		encode(f->e, f->nlive, f->chunks, &out);
		if (out.len > REPO_TREE_MAX) {
			char *path = folder_path(st, depth);

			rc = err_set(IMDR_EINVAL, "folder %s: its %u entries take %zu bytes as a tree node, more than one may (%u); split it into subfolders",
			    path, f->nlive, out.len, REPO_TREE_MAX);
			free(path);
			break;
		}
		rc = fin->store(fin->ctx, out.data, out.len, f->ret_ref);
		fin->st.nodes++;
		if (f->ret_nsub)
			*f->ret_nsub = f->nsub;
		frame_close(f);
		depth--;
	}
	while (depth > 0)
		frame_close(&st[--depth]);
	free(st);
	buf_free(&out);
	return rc;
}

int
cat_builder_finish(struct cat_builder *b, cat_resolve_fn resolve,
    cat_store_fn store, void *ctx, struct blob_ref *ret_root,
    struct cat_build_stats *ret_stats)
{
	struct finish f;
	int rc;

	memset(&f, 0, sizeof(f));
	f.resolve = resolve;
	f.store = store;
	f.ctx = ctx;
	rc = finish_tree(&f, &b->root, ret_root);
	if (rc == IMDR_OK && ret_stats)
		*ret_stats = f.st;
	return rc;
}
