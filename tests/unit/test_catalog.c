/* Unit tests of the catalog: node round trips, determinism, lookup by
 * offset, malformed input, builder errors; resolve/walk over a real repo. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "catalog/catalog.h"
#include "lib/err.h"
#include "repo/index.h"
#include "repo/store.h"
#include "tests/unit/test.h"

/* A fake store: remembers every node's bytes; refs are numbered. */
struct fake {
	struct buf nodes[64];
	int n;
};

static int
fake_resolve(void *ctx, const uint8_t id[CRYPTO_ID_LEN], struct blob_ref *ret)
{
	(void)ctx;
	memset(ret, 0, sizeof(*ret));
	memcpy(ret->id, id, CRYPTO_ID_LEN);
	memset(ret->pack, id[0] & 3, CRYPTO_ID_LEN);	/* a few packs */
	ret->offset = id[1] * 1000u;
	ret->length = 100 + id[2];
	ret->raw_length = (uint32_t)(id[3] + 1) * 10;
	return IMDR_OK;
}

static int
fake_store(void *ctx, const void *data, size_t n, struct blob_ref *ret)
{
	struct fake *f = ctx;

	memset(ret, 0, sizeof(*ret));
	ret->offset = (uint64_t)f->n;
	ret->raw_length = (uint32_t)n;
	buf_init(&f->nodes[f->n]);
	buf_append(&f->nodes[f->n], data, n);
	f->n++;
	return IMDR_OK;
}

static void
fake_free(struct fake *f)
{
	for (int i = 0; i < f->n; i++)
		buf_free(&f->nodes[i]);
}

struct fentry {
	const char *path;
	int type;
	int nchunks;
};

static const struct fentry tree[] = {
	{ "a.txt", CAT_FILE, 1 },
	{ "empty", CAT_FILE, 0 },
	{ "dir/x", CAT_FILE, 3 },
	{ "dir/sub/y", CAT_FILE, 2 },
	{ "dir/emptydir", CAT_DIR, 0 },
	{ "link", CAT_SYMLINK, 0 },
	{ "name with spaces", CAT_FILE, 1 },
	{ "new\nline", CAT_FILE, 1 },
	{ "übersicht-😀", CAT_FILE, 1 },
	{ "B-upper", CAT_FILE, 1 },
};
#define NTREE (sizeof(tree) / sizeof(tree[0]))

static uint32_t
chunk_raw(const struct fentry *f, int c)
{
	return (uint32_t)(((unsigned char)f->path[0] + c) % 200 + 1) * 10;
}

static void
build(const int *order, struct fake *f, struct blob_ref *root)
{
	struct cat_builder *b = cat_builder_new();
	struct cat_build_stats st;

	for (size_t k = 0; k < NTREE; k++) {
		const struct fentry *e = &tree[order[k]];

		if (e->type == CAT_DIR) {
			EXPECT(cat_builder_add_dir(b, e->path, 0700, 123) == IMDR_OK);
		} else if (e->type == CAT_SYMLINK) {
			EXPECT(cat_builder_add_symlink(b, e->path, "a.txt", 0777, 5) == IMDR_OK);
		} else {
			struct cat_file *cf;

			EXPECT(cat_builder_add_file(b, e->path, 0644, 1700000000123456789LL,
			    0, &cf) == IMDR_OK);
			for (int c = 0; c < e->nchunks; c++) {
				uint8_t *slot = cat_file_add_chunk(cf, chunk_raw(e, c));

				memset(slot, 0, 32);
				slot[0] = (uint8_t)order[k];
				slot[1] = (uint8_t)c;
				slot[3] = (uint8_t)(chunk_raw(e, c) / 10 - 1);
			}
		}
	}
	{
		int frc = cat_builder_finish(b, fake_resolve, fake_store, f, root, &st);

		if (frc)
			fprintf(stderr, "finish: %s\n", err_msg(frc));
		EXPECT(frc == IMDR_OK);
	}
	EXPECT(st.files == 8 && st.symlinks == 1 && st.dirs == 3);
	cat_builder_free(b);
}

static void
test_build_decode_and_determinism(void)
{
	int fwd[NTREE], rev[NTREE];
	struct fake f1 = { .n = 0 }, f2 = { .n = 0 };
	struct blob_ref r1, r2;
	struct cat_node *root = NULL;
	const struct cat_entry *e;

	for (size_t i = 0; i < NTREE; i++) {
		fwd[i] = (int)i;
		rev[i] = (int)(NTREE - 1 - i);
	}
	build(fwd, &f1, &r1);
	/* different order, different slot ids → only the structure matches,
	 * so compare with the same ids: rebuild forward once more */
	build(fwd, &f2, &r2);
	EXPECT(f1.n == f2.n);
	for (int i = 0; i < f1.n && i < f2.n; i++)
		EXPECT(f1.nodes[i].len == f2.nodes[i].len &&
		    memcmp(f1.nodes[i].data, f2.nodes[i].data, f1.nodes[i].len) == 0);
	fake_free(&f2);
	/* reverse order: same names and structure */
	f2.n = 0;
	build(rev, &f2, &r2);
	EXPECT(f2.n == f1.n);
	/* the root is stored last */
	EXPECT(cat_node_decode(f1.nodes[f1.n - 1].data, f1.nodes[f1.n - 1].len, &root) == IMDR_OK);
	EXPECT(root && cat_node_count(root) == 8);	/* a.txt B-upper dir empty link name.. new.. über.. */
	if (root) {
		/* bytewise order: uppercase before lowercase */
		EXPECT(strcmp(cat_node_entry(root, 0)->name, "B-upper") == 0);
		e = cat_node_find(root, "dir", 3);
		EXPECT(e && e->type == CAT_DIR && e->nsubdirs == 2 && e->nentries == 3);
		e = cat_node_find(root, "new\nline", 8);
		EXPECT(e && e->type == CAT_FILE && e->nchunks == 1);
		e = cat_node_find(root, "link", 4);
		EXPECT(e && e->type == CAT_SYMLINK && strcmp(e->target, "a.txt") == 0 && e->size == 5);
		e = cat_node_find(root, "empty", 5);
		EXPECT(e && e->size == 0 && e->nchunks == 0);
		e = cat_node_find(root, "übersicht-😀", strlen("übersicht-😀"));
		EXPECT(e && e->mtime_ns == 1700000000123456789LL && e->mode == 0644);
		EXPECT(cat_node_find(root, "nope", 4) == NULL);
		EXPECT(cat_node_mem(root) > 0);
	}
	cat_node_free(root);
	fake_free(&f1);
	fake_free(&f2);
}

static void
test_chunk_at(void)
{
	struct cat_entry e;
	struct blob_ref chunks[3];
	struct buf out = BUF_INIT;
	struct cat_node *node = NULL;
	const struct cat_entry *got;
	uint32_t sizes[3] = { 100, 50, 7 };

	memset(&e, 0, sizeof(e));
	memset(chunks, 0, sizeof(chunks));
	e.name = "f";
	e.name_len = 1;
	e.type = CAT_FILE;
	e.mode = 0600;
	e.size = 157;
	e.nchunks = 3;
	for (int i = 0; i < 3; i++) {
		chunks[i].id[0] = (uint8_t)i;
		chunks[i].pack[0] = (uint8_t)(i & 1);
		chunks[i].raw_length = sizes[i];
		chunks[i].offset = (uint64_t)i * 1000;
		chunks[i].length = sizes[i] + 29;
	}
	cat_encode_node(&e, 1, chunks, &out);
	EXPECT(cat_node_decode(out.data, out.len, &node) == IMDR_OK);
	got = node ? cat_node_find(node, "f", 1) : NULL;
	EXPECT(got != NULL);
	if (got) {
		struct blob_ref r;
		uint64_t start;

		EXPECT(cat_chunk_at(node, got, 0, &r, &start) == 0 && start == 0);
		EXPECT(cat_chunk_at(node, got, 99, &r, &start) == 0 && start == 0);
		EXPECT(cat_chunk_at(node, got, 100, &r, &start) == 1 && start == 100);
		EXPECT(r.id[0] == 1 && r.pack[0] == 1 && r.offset == 1000 && r.length == 79);
		EXPECT(cat_chunk_at(node, got, 149, &r, &start) == 1);
		EXPECT(cat_chunk_at(node, got, 150, &r, &start) == 2 && start == 150);
		EXPECT(cat_chunk_at(node, got, 156, &r, &start) == 2);
	}
	/* every truncation is rejected without a crash */
	for (size_t cut = 0; cut < out.len; cut++) {
		struct cat_node *bad = NULL;

		EXPECT(cat_node_decode(out.data, cut, &bad) == IMDR_EFORMAT);
		cat_node_free(bad);
	}
	/* a size that disagrees with the chunks is rejected */
	{
		struct buf b2 = BUF_INIT;
		struct cat_node *bad = NULL;

		e.size = 158;
		cat_encode_node(&e, 1, chunks, &b2);
		EXPECT(cat_node_decode(b2.data, b2.len, &bad) == IMDR_EFORMAT);
		buf_free(&b2);
	}
	cat_node_free(node);
	buf_free(&out);
}

static void
test_decode_rejects_unsorted_and_bad_names(void)
{
	struct cat_entry e[2];
	struct buf out = BUF_INIT;
	struct cat_node *node = NULL;
	const char *bad[] = { "a/b", ".", "..", "" };

	memset(e, 0, sizeof(e));
	e[0].name = "b"; e[0].name_len = 1; e[0].type = CAT_SYMLINK; e[0].target = "x"; e[0].size = 1;
	e[1].name = "a"; e[1].name_len = 1; e[1].type = CAT_SYMLINK; e[1].target = "x"; e[1].size = 1;
	cat_encode_node(e, 2, NULL, &out);
	EXPECT(cat_node_decode(out.data, out.len, &node) == IMDR_EFORMAT);
	e[1].name = "b";
	out.len = 0;
	cat_encode_node(e, 2, NULL, &out);
	EXPECT(cat_node_decode(out.data, out.len, &node) == IMDR_EFORMAT);	/* duplicate */
	for (size_t i = 0; i < 4; i++) {
		e[0].name = bad[i];
		e[0].name_len = (uint32_t)strlen(bad[i]);
		out.len = 0;
		cat_encode_node(e, 1, NULL, &out);
		EXPECT(cat_node_decode(out.data, out.len, &node) == IMDR_EFORMAT);
	}
	/* random garbage never crashes */
	for (int i = 0; i < 2000; i++) {
		uint8_t g[64];

		for (size_t k = 0; k < sizeof(g); k++)
			g[k] = (uint8_t)rand();
		g[0] = 1;
		node = NULL;
		if (cat_node_decode(g, (size_t)(rand() % 64), &node) == IMDR_OK)
			cat_node_free(node);
	}
	buf_free(&out);
}

static void
test_builder_errors(void)
{
	struct cat_builder *b = cat_builder_new();
	struct cat_file *f;

	EXPECT(cat_builder_add_file(b, "a/b", 0644, 0, 0, &f) == IMDR_OK);
	EXPECT(cat_builder_add_file(b, "a/b", 0644, 0, 0, &f) == IMDR_EEXIST);
	EXPECT(cat_builder_add_file(b, "a/b/c", 0644, 0, 0, &f) == IMDR_EEXIST);
	EXPECT(cat_builder_add_file(b, "/abs", 0644, 0, 0, &f) == IMDR_EINVAL);
	EXPECT(cat_builder_add_file(b, "x/../y", 0644, 0, 0, &f) == IMDR_EINVAL);
	EXPECT(cat_builder_add_file(b, "x//y", 0644, 0, 0, &f) == IMDR_EINVAL);
	EXPECT(cat_builder_add_file(b, "", 0644, 0, 0, &f) == IMDR_EINVAL);
	/* an implicit folder may be added explicitly later, once */
	EXPECT(cat_builder_add_dir(b, "a", 0700, 9) == IMDR_OK);
	EXPECT(cat_builder_add_dir(b, "a", 0700, 9) == IMDR_EEXIST);
	cat_builder_free(b);
}

/* resolve and walk over a real repository */
static int
count_walk(void *ctx, const char *path, const struct cat_node *node,
    const struct cat_entry *e)
{
	(void)node;
	(void)e;
	if (strcmp(path, "d1/d2/deep.txt") == 0)
		((int *)ctx)[1] = 1;
	((int *)ctx)[0]++;
	return 0;
}

struct real {
	struct store *st;
	struct index *idx;
};

static int
real_resolve(void *ctx, const uint8_t id[CRYPTO_ID_LEN], struct blob_ref *ret)
{
	return index_lookup(((struct real *)ctx)->idx, id, NULL, ret);
}

static int
real_store(void *ctx, const void *data, size_t n, struct blob_ref *ret)
{
	return store_put_sync(((struct real *)ctx)->st, BLOB_TREE, data, n, ret);
}

static void
test_resolve_walk_real(void)
{
	char dir[] = "/tmp/imdr-unit-cat.XXXXXX";
	struct repo *r = NULL;
	struct real rl;
	struct cat_builder *b = cat_builder_new();
	struct cat_file *f;
	struct blob_ref root;
	struct cat_node *node = NULL;
	const struct cat_entry *e = NULL;
	int counts[2] = { 0, 0 };
	char *repo;

	setenv("IMDR_TEST_FAST_KDF", "1", 1);
	mkdtemp(dir);
	repo = xasprintf("%s/r", dir);
	EXPECT(repo_init(repo, "pw", 2, NULL, &r) == IMDR_OK);
	rl.idx = index_new();
	EXPECT(store_new(r, rl.idx, NULL, &rl.st) == IMDR_OK);
	EXPECT(cat_builder_add_file(b, "d1/d2/deep.txt", 0644, 0, 5, &f) == IMDR_OK);
	{
		uint8_t *d = store_alloc(rl.st, 5);

		memcpy(d, "hello", 5);
		EXPECT(store_add(rl.st, BLOB_DATA, d, 5,
		    cat_file_add_chunk(f, 5)) == IMDR_OK);
	}
	EXPECT(cat_builder_add_file(b, "top", 0644, 0, 0, &f) == IMDR_OK);
	EXPECT(store_flush(rl.st) == IMDR_OK);
	EXPECT(cat_builder_finish(b, real_resolve, real_store, &rl, &root, NULL) == IMDR_OK);
	EXPECT(store_flush(rl.st) == IMDR_OK);
	EXPECT(cat_resolve(r, &root, "d1/d2/deep.txt", &node, &e) == IMDR_OK);
	EXPECT(e && e->size == 5 && e->nchunks == 1);
	if (e) {
		struct blob_ref cr;
		struct buf out = BUF_INIT;

		cat_chunk(node, e, 0, &cr, NULL);
		EXPECT(repo_blob_read(r, BLOB_DATA, &cr, &out) == IMDR_OK);
		EXPECT(out.len == 5 && memcmp(out.data, "hello", 5) == 0);
		buf_free(&out);
	}
	cat_node_free(node);
	EXPECT(cat_resolve(r, &root, "d1/missing", &node, &e) == IMDR_ENOENT);
	EXPECT(cat_resolve(r, &root, "top/x", &node, &e) == IMDR_ENOENT);
	EXPECT(cat_resolve(r, &root, "", &node, &e) == IMDR_OK && e == NULL);
	EXPECT(cat_walk(r, &root, "", count_walk, counts) == IMDR_OK);
	EXPECT(counts[0] == 4 && counts[1] == 1);
	store_free(rl.st);
	index_free(rl.idx);
	cat_builder_free(b);
	repo_free(r);
	{
		char *cmd = xasprintf("rm -rf %s", dir);

		EXPECT(system(cmd) == 0);
		free(cmd);
	}
	free(repo);
}

int
main(void)
{
	RUN(test_build_decode_and_determinism);
	RUN(test_chunk_at);
	RUN(test_decode_rejects_unsorted_and_bad_names);
	RUN(test_builder_errors);
	RUN(test_resolve_walk_real);
	TEST_EXIT();
}
