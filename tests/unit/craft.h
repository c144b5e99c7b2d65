/* craft.h — snapshots whose trees lie, made with the key through the C API,
 * as an insider (or a bug) could: for the tests of issue #11 item 5. Used
 * by tests/unit/test_trees.c and tests/tools/craft.c (which puts them in a
 * repository for the integration test sec_crafted_trees.sh).
 *
 *   craft_selfloop  a folder "loop" that is its own node: a tree blob
 *                   sealed under a chosen id (not the MAC of its content),
 *                   whose entry points at itself
 *   craft_rawlen    one data blob named by four files: "good.bin" with its
 *                   true length, "long.bin" and "short.bin" claiming 4096
 *                   bytes more and less (sizes to match, so the node is well
 *                   formed), and "huge.bin" claiming 4 GiB - 16
 *   craft_badnode   a root node that authenticates (its id is its MAC) but
 *                   does not decode: its message must read whole
 *
 * Each returns the id of a new snapshot (source "crafted-<what>"). */
#ifndef IMDR_TESTS_CRAFT_H
#define IMDR_TESTS_CRAFT_H

#include <stdlib.h>
#include <string.h>

#include "catalog/catalog.h"
#include "lib/err.h"
#include "repo/index.h"
#include "repo/pack.h"
#include "repo/repo_impl.h"
#include "repo/snapshot.h"
#include "repo/store.h"

#define CRAFT_BLOB_BYTES 100000

/* craft_put_pack: upload a finished pack and index it. */
static int
craft_put_pack(struct repo *r, struct pack_writer *pw)
{
	struct pack_entry *e;
	struct buf data = BUF_INIT;
	uint8_t id[CRYPTO_ID_LEN];
	uint64_t size;
	size_t n;
	char name[80];
	int rc;

	memcpy(id, pack_writer_id(pw), CRYPTO_ID_LEN);
	pack_writer_finish(pw, r, &data, &e, &n);
	repo_pack_name(id, name);
	size = data.len;
	rc = backend_put(repo_be(r), name, data.data, data.len);
	if (rc == IMDR_OK)
		rc = index_write(r, (const uint8_t (*)[CRYPTO_ID_LEN])id, &size, &e, &n, 1);
	buf_free(&data);
	free(e);
	return rc;
}

static int
craft_snapshot(struct repo *r, const char *source, const struct blob_ref *root,
    char ret_id[SNAPSHOT_ID_HEX + 1])
{
	struct snapshot s;
	int rc;

	memset(&s, 0, sizeof(s));
	s.time_ns = (int64_t)1700000000 * 1000000000;
	s.host = (char *)"craft";
	s.source = (char *)source;
	s.path = (char *)"/crafted";
	s.format = (char *)"files";
	s.root = *root;
	s.root_mode = 0755;
	rc = snapshot_save(r, &s);
	if (rc == IMDR_OK)
		memcpy(ret_id, s.id, SNAPSHOT_ID_HEX + 1);
	return rc;
}

/* craft_selfloop: the node's own location is in it, so its encoded length
 * is found by trying until the length it names is the length it has. */
static int
craft_selfloop(struct repo *r, char ret_id[SNAPSHOT_ID_HEX + 1])
{
	struct pack_writer *pw = pack_writer_new(BLOB_TREE);
	struct cat_entry e;
	struct blob_ref self, got;
	struct buf node = BUF_INIT, sealed = BUF_INIT;
	int rc;

	memset(&self, 0, sizeof(self));
	crypto_random(self.id, sizeof(self.id));	/* chosen, not the MAC */
	memcpy(self.pack, pack_writer_id(pw), CRYPTO_ID_LEN);
	self.offset = 0;
	memset(&e, 0, sizeof(e));
	e.name = "loop";
	e.name_len = 4;
	e.type = CAT_DIR;
	e.mode = 0755;
	e.nsubdirs = 1;
	e.nentries = 1;
	for (int tries = 0; tries < 8; tries++) {
		e.subtree = self;
		node.len = 0;
		cat_encode_node(&e, 1, NULL, &node);
		sealed.len = 0;
		repo_blob_seal(r, BLOB_TREE, self.id, node.data, node.len, &sealed);
		if (self.length == sealed.len && self.raw_length == node.len)
			break;
		self.length = (uint32_t)sealed.len;
		self.raw_length = (uint32_t)node.len;
	}
	pack_writer_add(pw, self.id, sealed.data, sealed.len, (uint32_t)node.len, &got);
	rc = got.length == self.length && got.offset == 0 ?
	    craft_put_pack(r, pw) : err_set(IMDR_EIO, "craft: no fixpoint");
	if (rc == IMDR_OK)
		rc = craft_snapshot(r, "crafted-selfloop", &self, ret_id);
	pack_writer_free(pw);
	buf_free(&node);
	buf_free(&sealed);
	return rc;
}

static int
craft_rawlen(struct repo *r, char ret_id[SNAPSHOT_ID_HEX + 1])
{
	static const char *const names[] = { "good.bin", "huge.bin", "long.bin", "short.bin" };
	struct index *idx = index_new();
	struct store *st = NULL;
	struct blob_ref data, chunks[4], root;
	struct cat_entry e[4];
	struct buf node = BUF_INIT;
	uint8_t *blob;
	int rc;

	blob = xmalloc(CRAFT_BLOB_BYTES);
	crypto_random(blob, CRAFT_BLOB_BYTES);
	rc = store_new(r, idx, NULL, &st);
	if (rc == IMDR_OK)
		rc = store_put_sync(st, BLOB_DATA, blob, CRAFT_BLOB_BYTES, &data);
	memset(e, 0, sizeof(e));
	for (int i = 0; i < 4; i++) {
		chunks[i] = data;
		e[i].name = names[i];
		e[i].name_len = (uint32_t)strlen(names[i]);
		e[i].type = CAT_FILE;
		e[i].mode = 0644;
		e[i].nchunks = 1;
	}
	chunks[1].raw_length = UINT32_MAX - 15;
	chunks[2].raw_length = data.raw_length + 4096;
	chunks[3].raw_length = data.raw_length - 4096;
	for (int i = 0; i < 4; i++)
		e[i].size = chunks[i].raw_length;
	cat_encode_node(e, 4, chunks, &node);
	if (rc == IMDR_OK)
		rc = store_put_sync(st, BLOB_TREE, node.data, node.len, &root);
	if (rc == IMDR_OK)
		rc = store_flush(st);
	if (rc == IMDR_OK)
		rc = craft_snapshot(r, "crafted-rawlen", &root, ret_id);
	store_free(st);
	index_free(idx);
	buf_free(&node);
	free(blob);
	return rc;
}

static int
craft_badnode(struct repo *r, char ret_id[SNAPSHOT_ID_HEX + 1])
{
	static const uint8_t junk[] = "\x01\x00\x05not a tree node at all";
	struct index *idx = index_new();
	struct store *st = NULL;
	struct blob_ref root;
	int rc;

	rc = store_new(r, idx, NULL, &st);
	if (rc == IMDR_OK)
		rc = store_put_sync(st, BLOB_TREE, junk, sizeof(junk) - 1, &root);
	if (rc == IMDR_OK)
		rc = store_flush(st);
	if (rc == IMDR_OK)
		rc = craft_snapshot(r, "crafted-badnode", &root, ret_id);
	store_free(st);
	index_free(idx);
	return rc;
}

#endif
