/* node — tree node encoding, decoding, lookup and walking (catalog.h).
 *
 * Encoding (docs/FORMAT.md, "Tree node"):
 *   version (1 byte, 1) || varint npacks || npacks × pack id (32) ||
 *   varint nentries || entries, sorted bytewise by name, each:
 *     varint name length || name || type (1) || varint mode ||
 *     svarint mtime_ns || varint size ||
 *     file:    varint nchunks || nchunks × REF
 *     dir:     REF || varint nsubdirs || varint nentries
 *     symlink: varint target length || target
 *   REF = blob id (32) || varint pack index || varint offset ||
 *         varint sealed length || varint raw length
 *
 * A decoded node is a handful of arrays: entries, chunks (with the pack as
 * an index into the node's pack table), each file's chunk start offsets for
 * binary search, and one string area for names and targets. */
#include <stdlib.h>
#include <string.h>

#include "catalog/catalog.h"
#include "lib/array.h"
#include "lib/err.h"
#include "lib/hex.h"
#include "lib/varint.h"

#define NODE_VERSION 1

struct cchunk {
	uint8_t id[CRYPTO_ID_LEN];
	uint32_t pack;
	uint32_t length;
	uint32_t raw;
	uint64_t offset;
};

struct cat_node {
	uint8_t (*packs)[CRYPTO_ID_LEN];
	uint32_t npacks;
	struct cat_entry *e;
	uint32_t n;
	struct cchunk *chunks;
	uint64_t *starts;	/* file offset where each chunk begins */
	uint32_t nchunks;
	char *strings;
	size_t mem;
};

static int
get_ref(const uint8_t **p, const uint8_t *end, uint32_t npacks,
    struct cchunk *c)
{
	uint64_t pack, off, len, raw;

	if (end - *p < CRYPTO_ID_LEN)
		return -1;
	memcpy(c->id, *p, CRYPTO_ID_LEN);
	*p += CRYPTO_ID_LEN;
	if (varint_get(p, end, &pack) || varint_get(p, end, &off) ||
	    varint_get(p, end, &len) || varint_get(p, end, &raw) ||
	    pack >= npacks || len > UINT32_MAX || raw > UINT32_MAX)
		return -1;
	c->pack = (uint32_t)pack;
	c->offset = off;
	c->length = (uint32_t)len;
	c->raw = (uint32_t)raw;
	return 0;
}

static void
ref_of(const struct cat_node *node, const struct cchunk *c, struct blob_ref *r)
{
	memcpy(r->id, c->id, CRYPTO_ID_LEN);
	memcpy(r->pack, node->packs[c->pack], CRYPTO_ID_LEN);
	r->offset = c->offset;
	r->length = c->length;
	r->raw_length = c->raw;
}

static int
valid_name(const uint8_t *s, uint64_t len)
{
	if (len == 0 || (len == 1 && s[0] == '.') ||
	    (len == 2 && s[0] == '.' && s[1] == '.'))
		return 0;
	for (uint64_t i = 0; i < len; i++)
		if (s[i] == '/' || s[i] == '\0')
			return 0;
	return 1;
}

static int
name_cmp(const char *a, uint32_t al, const char *b, uint32_t bl)
{
	int c = memcmp(a, b, al < bl ? al : bl);

	if (c)
		return c;
	return al < bl ? -1 : al > bl;
}

int
cat_node_decode(const uint8_t *data, size_t n, struct cat_node **ret)
{
	const uint8_t *p = data, *end = data + n;
	struct cat_node *node = xcalloc(1, sizeof(*node));
	uint64_t npacks, nent, v;
	size_t chunk_cap = 0, str_used = 0;

	if (n < 3 || *p++ != NODE_VERSION || varint_get(&p, end, &npacks) ||
	    npacks > (uint64_t)(end - p) / CRYPTO_ID_LEN)
		goto bad;
	node->npacks = (uint32_t)npacks;
	node->packs = xmalloc((npacks ? npacks : 1) * CRYPTO_ID_LEN);
	memcpy(node->packs, p, npacks * CRYPTO_ID_LEN);
	p += npacks * CRYPTO_ID_LEN;
	/* every entry takes at least 5 bytes */
	if (varint_get(&p, end, &nent) || nent > (uint64_t)(end - p) / 5)
		goto bad;
	node->n = (uint32_t)nent;
	node->e = xcalloc(nent ? nent : 1, sizeof(*node->e));
	/* names and targets, each NUL-terminated, fit in n + nent bytes */
	node->strings = xmalloc(n + nent + 1);
	for (uint64_t i = 0; i < nent; i++) {
		struct cat_entry *e = &node->e[i];
		uint64_t nlen, mode, size;
		int64_t mt;
		char *name;

		if (varint_get(&p, end, &nlen) || nlen > (uint64_t)(end - p) ||
		    nlen > UINT32_MAX || !valid_name(p, nlen))
			goto bad;
		name = node->strings + str_used;
		memcpy(name, p, nlen);
		name[nlen] = '\0';
		str_used += nlen + 1;
		p += nlen;
		e->name = name;
		e->name_len = (uint32_t)nlen;
		if (i > 0 && name_cmp(node->e[i - 1].name, node->e[i - 1].name_len,
		    e->name, e->name_len) >= 0)
			goto bad;	/* unsorted or duplicate */
		if (p >= end)
			goto bad;
		e->type = *p++;
		if (varint_get(&p, end, &mode) || mode > 07777 ||
		    varint_get_signed(&p, end, &mt) || varint_get(&p, end, &size))
			goto bad;
		e->mode = (uint32_t)mode;
		e->mtime_ns = mt;
		e->size = size;
		switch (e->type) {
		case CAT_FILE: {
			uint64_t total = 0;

			if (varint_get(&p, end, &v) || v > (uint64_t)(end - p) / (CRYPTO_ID_LEN + 4))
				goto bad;
			e->nchunks = (uint32_t)v;
			e->first_chunk = node->nchunks;
			if (node->nchunks + v > chunk_cap) {
				while (node->nchunks + v > chunk_cap)
					chunk_cap = chunk_cap ? chunk_cap * 2 : 16;
				node->chunks = xrealloc(node->chunks, chunk_cap * sizeof(*node->chunks));
				node->starts = xrealloc(node->starts, chunk_cap * sizeof(*node->starts));
			}
			for (uint64_t k = 0; k < v; k++) {
				struct cchunk *c = &node->chunks[node->nchunks];

				if (get_ref(&p, end, node->npacks, c))
					goto bad;
				node->starts[node->nchunks++] = total;
				total += c->raw;
			}
			if (total != size)
				goto bad;
			break;
		}
		case CAT_DIR: {
			struct cchunk c;
			uint64_t nsub, nkids;

			if (get_ref(&p, end, node->npacks, &c) ||
			    varint_get(&p, end, &nsub) || varint_get(&p, end, &nkids) ||
			    nsub > nkids || nkids > UINT32_MAX)
				goto bad;
			ref_of(node, &c, &e->subtree);
			e->nsubdirs = (uint32_t)nsub;
			e->nentries = (uint32_t)nkids;
			break;
		}
		case CAT_SYMLINK: {
			char *t;

			if (varint_get(&p, end, &v) || v > (uint64_t)(end - p))
				goto bad;
			t = node->strings + str_used;
			memcpy(t, p, v);
			t[v] = '\0';
			if (memchr(p, '\0', v) != NULL)
				goto bad;
			str_used += v + 1;
			p += v;
			e->target = t;
			break;
		}
		default:
			goto bad;
		}
	}
	if (p != end)
		goto bad;
	node->mem = sizeof(*node) + node->npacks * CRYPTO_ID_LEN +
	    node->n * sizeof(*node->e) + chunk_cap * (sizeof(*node->chunks) +
	    sizeof(*node->starts)) + n + nent + 1;
	*ret = node;
	return IMDR_OK;
bad:
	cat_node_free(node);
	return err_set(IMDR_EFORMAT, "malformed tree node (offset %zu of %zu)",
	    (size_t)(p - data), n);
}

void
cat_node_free(struct cat_node *node)
{
	if (node == NULL)
		return;
	free(node->packs);
	free(node->e);
	free(node->chunks);
	free(node->starts);
	free(node->strings);
	free(node);
}

size_t
cat_node_mem(const struct cat_node *node)
{
	return node->mem;
}

uint32_t
cat_node_count(const struct cat_node *node)
{
	return node->n;
}

const struct cat_entry *
cat_node_entry(const struct cat_node *node, uint32_t i)
{
	return i < node->n ? &node->e[i] : NULL;
}

const struct cat_entry *
cat_node_find(const struct cat_node *node, const char *name, size_t name_len)
{
	uint32_t lo = 0, hi = node->n;

	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		int c = name_cmp(node->e[mid].name, node->e[mid].name_len, name,
		    (uint32_t)name_len);

		if (c == 0)
			return &node->e[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

void
cat_chunk(const struct cat_node *node, const struct cat_entry *e, uint32_t i,
    struct blob_ref *ret_ref, uint64_t *ret_file_offset)
{
	uint32_t k = e->first_chunk + i;

	ref_of(node, &node->chunks[k], ret_ref);
	if (ret_file_offset)
		*ret_file_offset = node->starts[k];
}

uint32_t
cat_chunk_at(const struct cat_node *node, const struct cat_entry *e,
    uint64_t off, struct blob_ref *ret_ref, uint64_t *ret_chunk_start)
{
	uint32_t lo = 0, hi = e->nchunks;
	const uint64_t *starts = node->starts + e->first_chunk;

	/* the last chunk whose start is <= off */
	while (hi - lo > 1) {
		uint32_t mid = lo + (hi - lo) / 2;

		if (starts[mid] <= off)
			lo = mid;
		else
			hi = mid;
	}
	cat_chunk(node, e, lo, ret_ref, ret_chunk_start);
	return lo;
}

int
cat_node_load(struct repo *r, const struct blob_ref *ref, struct cat_node **ret)
{
	struct buf b = BUF_INIT;
	size_t off;
	int rc;

	rc = repo_blob_read_buf(r, BLOB_TREE, ref, &b, &off);
	if (rc == IMDR_OK) {
		rc = cat_node_decode(b.data + off, b.len - off, ret);
		if (rc) {
			char hex[65];

			hex_encode(ref->id, CRYPTO_ID_LEN, hex);
			rc = err_set(rc, "tree node %.16s: %s", hex, err_msg(rc));
		}
	}
	/* the reader learns where its subfolders lie (see repo_tree_hint) */
	for (uint32_t i = 0; rc == IMDR_OK && i < (*ret)->n; i++)
		if ((*ret)->e[i].type == CAT_DIR)
			repo_tree_hint(r, &(*ret)->e[i].subtree);
	repo_buf_recycle(r, &b);
	return rc;
}

int
cat_resolve(struct repo *r, const struct blob_ref *root, const char *path,
    struct cat_node **ret_node, const struct cat_entry **ret_entry)
{
	struct cat_node *node = NULL;
	const struct cat_entry *e = NULL;
	struct blob_ref ref = *root;
	const char *p = path;
	int rc;

	*ret_node = NULL;
	*ret_entry = NULL;
	while (*p == '/')
		p++;
	if (*p == '\0')
		return IMDR_OK;
	for (;;) {
		const char *slash = strchr(p, '/');
		size_t len = slash ? (size_t)(slash - p) : strlen(p);

		cat_node_free(node);
		rc = cat_node_load(r, &ref, &node);
		if (rc)
			return rc;
		e = cat_node_find(node, p, len);
		if (e == NULL) {
			cat_node_free(node);
			return err_set(IMDR_ENOENT, "%s: no such file or folder in the snapshot", path);
		}
		p += len;
		while (*p == '/')
			p++;
		if (*p == '\0')
			break;
		if (e->type != CAT_DIR) {
			cat_node_free(node);
			return err_set(IMDR_ENOENT, "%s: not a folder in the snapshot", path);
		}
		ref = e->subtree;
	}
	*ret_node = node;
	*ret_entry = e;
	return IMDR_OK;
}

/* cat_walk keeps one frame a level: the folder's node, the next entry to
 * visit and where its path ends. Iterative, so a deep tree costs heap in
 * proportion to its depth, never stack. */
struct walk_frame {
	struct cat_node *node;
	uint32_t next;
	size_t base;		/* path length of the folder, with its '/' */
};

int
cat_walk(struct repo *r, const struct blob_ref *dir_ref, const char *prefix,
    cat_walk_fn fn, void *ctx)
{
	struct walk_frame *st = NULL;
	size_t depth = 0, cap = 0;
	struct buf path = BUF_INIT;
	struct cat_node *node;
	int rc;

	rc = cat_node_load(r, dir_ref, &node);
	if (rc)
		return rc;
	if (prefix && *prefix) {
		buf_puts(&path, prefix);
		buf_putc(&path, '/');
	}
	*ARRAY_PUSH(st, depth, cap) = (struct walk_frame){ node, 0, path.len };
	while (depth > 0 && rc == IMDR_OK) {
		struct walk_frame *f = &st[depth - 1];
		const struct cat_entry *e;

		if (f->next >= f->node->n) {
			cat_node_free(f->node);
			depth--;
			continue;
		}
		e = &f->node->e[f->next++];
		path.len = f->base;
		buf_append(&path, e->name, e->name_len);
		buf_cstr(&path);
		rc = fn(ctx, (const char *)path.data, f->node, e);
		if (rc == CAT_WALK_SKIP) {
			rc = IMDR_OK;
			continue;
		}
		if (rc == IMDR_OK && e->type == CAT_DIR) {
			rc = cat_node_load(r, &e->subtree, &node);
			if (rc == IMDR_OK) {
				buf_putc(&path, '/');
				*ARRAY_PUSH(st, depth, cap) = (struct walk_frame){ node, 0, path.len };
			}
		}
	}
	while (depth > 0)
		cat_node_free(st[--depth].node);
	free(st);
	buf_free(&path);
	return rc;
}

void
cat_content_id(const struct cat_node *node, const struct cat_entry *e, uint8_t out[32])
{
	struct buf b = BUF_INIT;

	for (uint32_t i = 0; e && i < e->nchunks; i++) {
		struct blob_ref ref;

		cat_chunk(node, e, i, &ref, NULL);
		buf_append(&b, ref.id, CRYPTO_ID_LEN);
	}
	crypto_sha256(b.data ? b.data : (const uint8_t *)"", b.len, out);
	buf_free(&b);
}
