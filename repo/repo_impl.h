/* repo_impl — what the modules of repo/ share and nothing above them sees:
 * the backend under the repository, and the blob reader's state. Only
 * repo/ includes this (layers above ask the repository, not the backend). */
#ifndef IMDR_REPO_IMPL_H
#define IMDR_REPO_IMPL_H

#include "backends/backend.h"
#include "repo/repo.h"

/* repo_be: the backend objects are stored in. */
struct backend *repo_be(struct repo *r);

/* repo_read_verified: bytes [off, off+len) of object name (len
 * BACKEND_WHOLE: to its end) into out, handed to verify (which may change
 * them: decrypt in place, say). When verify returns IMDR_EAUTH and the
 * repository has other replicas, the replica that gave them is told
 * (backend_bad_object) and they are read again from another, until some
 * verify or none is left; then the first failure is returned. verify may
 * be NULL (no check). */
int repo_read_verified(struct repo *r, const char *name, uint64_t off,
    uint64_t len, struct buf *out, repo_verify_fn verify, void *ctx);
/* repo_read_verified_direct: the same, for a reader that takes out with a
 * head (lib/buf.h): a local repository reads a large range around the
 * page cache, straight into out (backends/local.c). */
int repo_read_verified_direct(struct repo *r, const char *name, uint64_t off,
    uint64_t len, struct buf *out, repo_verify_fn verify, void *ctx);

/* blobread.c: the reader's state, made with the repository. */
struct blobread;
struct blobread *blobread_new(struct repo *r);
void blobread_free(struct blobread *rd);
struct blobread *repo_reader(struct repo *r);

#endif
