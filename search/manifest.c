/* manifest — a snapshot's index tree, read and written (search_impl.h,
 * docs/FORMAT.md "Message index").
 *
 * The tree is an ordinary catalog tree, so everything that walks trees
 * (check, prune) can walk it: `index.json` (the conversations and the
 * segments in order), `seg.NNN/db` (each segment's database, in SEG_PIECE
 * chunks, in a folder of its own: a segment unchanged since the last
 * snapshot is the same node, so a snapshot's own node stays small and
 * --all reads each segment's list of pieces once) and `dead.NNN` (the
 * rows of segment NNN that are not live in this snapshot: varint count,
 * then the rowids as ascending varint deltas). Indexes written before
 * 2026-11-28 have `seg.NNN` as the file itself, which readers still take. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include <pthread.h>

#include "catalog/catalog.h"
#include "lib/err.h"
#include "lib/hex.h"
#include "lib/smap.h"
#include "lib/varint.h"
#include "search/manifest.h"

#define SMALL_PIECE (1u << 20)		/* index.json and dead lists */
#define MAX_SEGMENTS 4096
#define MAX_INDEX_JSON (256u << 20)
#define SEG_DB "db"			/* the file in a segment's folder */

struct cached_seg {
	struct blob_ref *pieces;
	size_t npieces;
	uint64_t size;
	uint8_t ident[32];
};

struct sx_cache {
	pthread_mutex_t mu;
	struct smap by_node;		/* hex node id -> index in v */
	struct cached_seg *v;
	size_t n, cap;
};

struct sx_cache *
sx_cache_new(void)
{
	struct sx_cache *c = xcalloc(1, sizeof(*c));

	pthread_mutex_init(&c->mu, NULL);
	return c;
}

void
sx_cache_free(struct sx_cache *c)
{
	if (c == NULL)
		return;
	for (size_t i = 0; i < c->n; i++)
		free(c->v[i].pieces);
	free(c->v);
	smap_free(&c->by_node);
	pthread_mutex_destroy(&c->mu);
	free(c);
}

void
sx_free(struct sx_manifest *m)
{
	if (m == NULL)
		return;
	for (size_t i = 0; i < m->nconv; i++) {
		free(m->conv[i].key);
		free(m->conv[i].folder);
	}
	free(m->conv);
	for (size_t i = 0; i < m->nseg; i++) {
		if (!m->seg[i].shared)
			free(m->seg[i].pieces);
		free(m->seg[i].dead);
	}
	free(m->seg);
	free(m);
}

int
sx_dead(const struct sx_seg *s, int64_t rowid)
{
	size_t lo = 0, hi = s->ndead;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (s->dead[mid] == rowid)
			return 1;
		if (s->dead[mid] < rowid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return 0;
}

void
sx_seg_ident(struct sx_seg *s)
{
	struct buf b = BUF_INIT;

	for (size_t i = 0; i < s->npieces; i++)
		buf_append(&b, s->pieces[i].id, CRYPTO_ID_LEN);
	crypto_sha256(b.data ? b.data : (const uint8_t *)"", b.len, s->ident);
	buf_free(&b);
}

static int
cmp_conv(const void *a, const void *b)
{
	return strcmp(((const struct sx_conv *)a)->folder, ((const struct sx_conv *)b)->folder);
}

const struct sx_conv *
sx_conv_by_folder(const struct sx_manifest *m, const char *folder)
{
	struct sx_conv k = { NULL, (char *)folder, { 0 }, 0 };

	if (m == NULL || m->nconv == 0)
		return NULL;
	return bsearch(&k, m->conv, m->nconv, sizeof(k), cmp_conv);
}

static int
read_entry(struct repo *r, const struct cat_node *node, const struct cat_entry *e,
    size_t max, struct buf *out)
{
	struct buf chunk = BUF_INIT;
	int rc = IMDR_OK;

	out->len = 0;
	if (e->size > max)
		return err_set(IMDR_EFORMAT, "message index: %s has %llu bytes", e->name,
		    (unsigned long long)e->size);
	for (uint32_t i = 0; i < e->nchunks && rc == IMDR_OK; i++) {
		struct blob_ref ref;

		cat_chunk(node, e, i, &ref, NULL);
		rc = repo_blob_read(r, BLOB_DATA, &ref, &chunk);
		if (rc == IMDR_OK)
			buf_append(out, chunk.data, chunk.len);
	}
	buf_free(&chunk);
	return rc;
}

static int
parse_dead(const uint8_t *p, size_t n, struct sx_seg *s)
{
	const uint8_t *end = p + n;
	uint64_t count, d;
	int64_t v = 0;

	if (varint_get(&p, end, &count) || count > n)
		return -1;
	s->dead = xmalloc((count ? count : 1) * sizeof(*s->dead));
	for (uint64_t i = 0; i < count; i++) {
		if (varint_get(&p, end, &d) || (i > 0 && d == 0) || d > INT64_MAX - (uint64_t)v)
			return -1;
		v += (int64_t)d;
		s->dead[i] = v;
	}
	s->ndead = (size_t)count;
	return p == end ? 0 : -1;
}

static int
parse_index_json(const struct buf *b, struct sx_manifest *m, char ***ret_files)
{
	json_error_t e;
	json_t *j = json_loadb((const char *)b->data, b->len, 0, &e), *convs, *segs, *v;
	size_t i;

	if (j == NULL || json_integer_value(json_object_get(j, "version")) != 1 ||
	    !json_is_array(convs = json_object_get(j, "conversations")) ||
	    !json_is_array(segs = json_object_get(j, "segments")) ||
	    json_array_size(segs) > MAX_SEGMENTS) {
		json_decref(j);
		return -1;
	}
	m->conv = xcalloc(json_array_size(convs) + 1, sizeof(*m->conv));
	json_array_foreach(convs, i, v) {
		struct sx_conv *c = &m->conv[m->nconv];
		/* json_object_get, not json_unpack: the format string parsed
		 * once a conversation was a third of reading an index */
		const char *key = json_string_value(json_object_get(v, "key"));
		const char *folder = json_string_value(json_object_get(v, "folder"));
		const char *mj = json_string_value(json_object_get(v, "mj"));
		json_t *jm = json_object_get(v, "messages");
		json_int_t msgs = json_integer_value(jm);

		if (key == NULL || folder == NULL || mj == NULL || !json_is_integer(jm) ||
		    hex_decode(mj, c->mj, 32) != 0 || msgs < 0) {
			json_decref(j);
			return -1;
		}
		c->key = xstrdup(key);
		c->folder = xstrdup(folder);
		c->messages = (uint64_t)msgs;
		m->nconv++;
		if (m->nconv > 1 && strcmp(m->conv[m->nconv - 2].folder, folder) >= 0) {
			json_decref(j);
			return -1;	/* unsorted: bsearch relies on the order */
		}
	}
	m->seg = xcalloc(json_array_size(segs) + 1, sizeof(*m->seg));
	*ret_files = xcalloc(2 * json_array_size(segs) + 1, sizeof(char *));
	json_array_foreach(segs, i, v) {
		const char *file, *dead = NULL;
		json_int_t rows;

		if (json_unpack(v, "{s:s, s:I, s?s}", "file", &file, "rows", &rows,
		    "dead_file", &dead) != 0 || rows < 0) {
			json_decref(j);
			return -1;
		}
		m->seg[i].rows = (uint64_t)rows;
		(*ret_files)[2 * i] = xstrdup(file);
		(*ret_files)[2 * i + 1] = dead ? xstrdup(dead) : NULL;
		m->nseg++;
	}
	json_decref(j);
	return 0;
}

/* seg_pieces: s's pieces from file entry e of node. */
static void
seg_pieces(const struct cat_node *node, const struct cat_entry *e, struct sx_seg *s)
{
	s->npieces = e->nchunks;
	s->pieces = xmalloc(e->nchunks * sizeof(*s->pieces));
	for (uint32_t k = 0; k < e->nchunks; k++)
		cat_chunk(node, e, k, &s->pieces[k], NULL);
	s->size = e->size;
	s->shared = 0;
	sx_seg_ident(s);
}

/* load_seg_node: s's pieces from the segment's folder at ref: from cache
 * when it holds that node (then shared), else read (and kept there). */
static int
load_seg_node(struct repo *r, const struct blob_ref *ref, struct sx_cache *cache,
    struct sx_seg *s)
{
	struct cat_node *sn = NULL;
	const struct cat_entry *e;
	char hex[65];
	size_t at;
	int rc;

	hex_encode(ref->id, CRYPTO_ID_LEN, hex);
	if (cache) {
		pthread_mutex_lock(&cache->mu);
		if (smap_get(&cache->by_node, hex, &at)) {
			const struct cached_seg *cs = &cache->v[at];

			s->pieces = cs->pieces;
			s->npieces = cs->npieces;
			s->size = cs->size;
			memcpy(s->ident, cs->ident, 32);
			s->shared = 1;
			pthread_mutex_unlock(&cache->mu);
			return IMDR_OK;
		}
		pthread_mutex_unlock(&cache->mu);
	}
	rc = cat_node_load(r, ref, &sn);
	if (rc)
		return rc;
	e = cat_node_find(sn, SEG_DB, strlen(SEG_DB));
	if (e == NULL || e->type != CAT_FILE || e->nchunks == 0 || cat_node_count(sn) != 1) {
		cat_node_free(sn);
		return err_set(IMDR_EFORMAT, "message index: segment folder %.16s holds no %s alone",
		    hex, SEG_DB);
	}
	seg_pieces(sn, e, s);
	cat_node_free(sn);
	if (cache) {
		pthread_mutex_lock(&cache->mu);
		if (!smap_get(&cache->by_node, hex, &at)) {	/* another thread may have */
			if (cache->n == cache->cap) {
				cache->cap = cache->cap ? cache->cap * 2 : 16;
				cache->v = xrealloc(cache->v, cache->cap * sizeof(*cache->v));
			}
			cache->v[cache->n] = (struct cached_seg){ s->pieces, s->npieces, s->size, { 0 } };
			memcpy(cache->v[cache->n].ident, s->ident, 32);
			smap_put(&cache->by_node, hex, cache->n++);
			s->shared = 1;
		}
		pthread_mutex_unlock(&cache->mu);
	}
	return IMDR_OK;
}

int
sx_load(struct repo *r, const struct blob_ref *ref, struct sx_cache *cache,
    struct sx_manifest **ret)
{
	struct sx_manifest *m = xcalloc(1, sizeof(*m));
	struct cat_node *node = NULL;
	const struct cat_entry *e;
	struct buf b = BUF_INIT;
	char **files = NULL;
	char hex[65];
	int rc;

	hex_encode(ref->id, CRYPTO_ID_LEN, hex);
	rc = cat_node_load(r, ref, &node);
	if (rc)
		goto out;
	e = cat_node_find(node, "index.json", 10);
	if (e == NULL || e->type != CAT_FILE) {
		rc = err_set(IMDR_EFORMAT, "message index %.16s: no index.json", hex);
		goto out;
	}
	rc = read_entry(r, node, e, MAX_INDEX_JSON, &b);
	if (rc)
		goto out;
	if (parse_index_json(&b, m, &files) != 0) {
		rc = err_set(IMDR_EFORMAT, "message index %.16s: index.json is malformed", hex);
		goto out;
	}
	for (size_t i = 0; i < m->nseg && rc == IMDR_OK; i++) {
		struct sx_seg *s = &m->seg[i];
		const struct cat_entry *se = cat_node_find(node, files[2 * i], strlen(files[2 * i]));

		if (se && se->type == CAT_DIR)
			rc = load_seg_node(r, &se->subtree, cache, s);
		else if (se && se->type == CAT_FILE && se->nchunks > 0)
			seg_pieces(node, se, s);	/* written before segments had folders */
		else
			rc = err_set(IMDR_EFORMAT, "message index %.16s: no segment %s", hex, files[2 * i]);
		if (rc)
			break;
		if (files[2 * i + 1]) {
			const struct cat_entry *de = cat_node_find(node, files[2 * i + 1],
			    strlen(files[2 * i + 1]));

			if (de == NULL || de->type != CAT_FILE) {
				rc = err_set(IMDR_EFORMAT, "message index %.16s: no %s", hex, files[2 * i + 1]);
				break;
			}
			rc = read_entry(r, node, de, (size_t)s->rows * 10 + 16, &b);
			if (rc == IMDR_OK && (parse_dead(b.data, b.len, s) != 0 || s->ndead > s->rows))
				rc = err_set(IMDR_EFORMAT, "message index %.16s: %s is malformed", hex,
				    files[2 * i + 1]);
		}
	}
out:
	if (files) {
		for (size_t i = 0; i < 2 * m->nseg; i++)
			free(files[i]);
		free(files);
	}
	buf_free(&b);
	cat_node_free(node);
	if (rc) {
		sx_free(m);
		return rc;
	}
	*ret = m;
	return IMDR_OK;
}

/* ---- writing ---- */

struct tfile {
	char name[32];
	struct blob_ref *chunks;
	size_t n;
	uint64_t size;
	int dir;			/* a segment's folder: subtree */
	struct blob_ref subtree;
};

/* put_seg_folder: the folder of a segment whose pieces are s's: one file
 * SEG_DB; f becomes its entry. Unchanged, it is the same node (and blob)
 * as in the snapshot before. */
static int
put_seg_folder(struct store *st, const struct sx_seg *s, struct tfile *f)
{
	struct cat_entry e;
	struct buf b = BUF_INIT;
	int rc;

	memset(&e, 0, sizeof(e));
	e.name = SEG_DB;
	e.name_len = (uint32_t)strlen(SEG_DB);
	e.type = CAT_FILE;
	e.mode = 0600;
	e.size = s->size;
	e.nchunks = (uint32_t)s->npieces;
	cat_encode_node(&e, 1, s->pieces, &b);
	rc = store_put_sync(st, BLOB_TREE, b.data, b.len, &f->subtree);
	buf_free(&b);
	f->dir = 1;
	return rc;
}

/* put_small: store data as a file of SMALL_PIECE chunks, now. */
static int
put_small(struct store *st, const uint8_t *data, size_t n, struct tfile *f)
{
	size_t k = n ? (n + SMALL_PIECE - 1) / SMALL_PIECE : 0;
	int rc = IMDR_OK;

	f->chunks = xcalloc(k ? k : 1, sizeof(*f->chunks));
	f->n = k;
	f->size = n;
	for (size_t i = 0; i < k && rc == IMDR_OK; i++) {
		size_t len = n - i * SMALL_PIECE < SMALL_PIECE ? n - i * SMALL_PIECE : SMALL_PIECE;

		rc = store_put_sync(st, BLOB_DATA, data + i * SMALL_PIECE, len, &f->chunks[i]);
	}
	return rc;
}

static int
cmp_tfile(const void *a, const void *b)
{
	return strcmp(((const struct tfile *)a)->name, ((const struct tfile *)b)->name);
}

static int
cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return x < y ? -1 : x > y;
}

void
sx_sort_dead(struct sx_seg *s)
{
	size_t k = 0;

	if (s->ndead > 1)
		qsort(s->dead, s->ndead, sizeof(*s->dead), cmp_i64);
	for (size_t i = 0; i < s->ndead; i++)
		if (k == 0 || s->dead[k - 1] != s->dead[i])
			s->dead[k++] = s->dead[i];
	s->ndead = k;
}

int
sx_store(struct store *st, const struct sx_manifest *m, struct blob_ref *ret)
{
	struct tfile *f = xcalloc(2 * m->nseg + 1, sizeof(*f));
	size_t nf = 0, nchunks = 0, k = 0;
	json_t *j, *convs = json_array(), *segs = json_array();
	struct cat_entry *e = NULL;
	struct blob_ref *chunks = NULL;
	struct buf b = BUF_INIT;
	char *js = NULL;
	int rc = IMDR_OK;

	for (size_t i = 0; i < m->nconv; i++) {
		char mj[65];

		hex_encode(m->conv[i].mj, 32, mj);
		json_array_append_new(convs, json_pack("{s:s, s:s, s:s, s:I}", "key", m->conv[i].key,
		    "folder", m->conv[i].folder, "mj", mj, "messages", (json_int_t)m->conv[i].messages));
	}
	for (size_t i = 0; i < m->nseg && rc == IMDR_OK; i++) {
		const struct sx_seg *s = &m->seg[i];
		struct tfile *sf = &f[nf++];
		json_t *o;

		snprintf(sf->name, sizeof(sf->name), "seg.%03zu", i);
		rc = put_seg_folder(st, s, sf);
		o = json_pack("{s:s, s:I}", "file", sf->name, "rows", (json_int_t)s->rows);
		if (s->ndead > 0) {
			struct tfile *df = &f[nf++];
			int64_t prev = 0;

			snprintf(df->name, sizeof(df->name), "dead.%03zu", i);
			b.len = 0;
			varint_put(&b, s->ndead);
			for (size_t d = 0; d < s->ndead; d++) {
				varint_put(&b, (uint64_t)(s->dead[d] - prev));
				prev = s->dead[d];
			}
			rc = put_small(st, b.data, b.len, df);
			json_object_set_new(o, "dead_file", json_string(df->name));
		}
		json_array_append_new(segs, o);
	}
	j = json_pack("{s:i, s:o, s:o}", "version", 1, "conversations", convs, "segments", segs);
	js = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(j);
	if (js == NULL && rc == IMDR_OK)
		rc = err_set(IMDR_EINVAL, "message index: cannot encode index.json (text that is not UTF-8?)");
	if (rc == IMDR_OK) {
		snprintf(f[nf].name, sizeof(f[nf].name), "index.json");
		rc = put_small(st, (const uint8_t *)js, strlen(js), &f[nf++]);
	}
	if (rc == IMDR_OK) {
		qsort(f, nf, sizeof(*f), cmp_tfile);
		e = xcalloc(nf, sizeof(*e));
		for (size_t i = 0; i < nf; i++)
			nchunks += f[i].n;
		chunks = xcalloc(nchunks ? nchunks : 1, sizeof(*chunks));
		for (size_t i = 0; i < nf; i++) {
			e[i].name = f[i].name;
			e[i].name_len = (uint32_t)strlen(f[i].name);
			if (f[i].dir) {
				e[i].type = CAT_DIR;
				e[i].mode = 0700;
				e[i].subtree = f[i].subtree;
				e[i].nentries = 1;
				continue;
			}
			e[i].type = CAT_FILE;
			e[i].mode = 0600;
			e[i].size = f[i].size;
			e[i].nchunks = (uint32_t)f[i].n;
			memcpy(chunks + k, f[i].chunks, f[i].n * sizeof(*chunks));
			k += f[i].n;
		}
		b.len = 0;
		cat_encode_node(e, (uint32_t)nf, chunks, &b);
		rc = store_put_sync(st, BLOB_TREE, b.data, b.len, ret);
	}
	for (size_t i = 0; i < nf; i++)
		free(f[i].chunks);
	free(f);
	free(e);
	free(chunks);
	free(js);
	buf_free(&b);
	return rc;
}
