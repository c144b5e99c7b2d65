/* repo_impl — what the modules of repo/ share and nothing above them sees:
 * the backend under the repository, and the blob reader's state. Only
 * repo/ includes this (layers above ask the repository, not the backend). */
#ifndef IMDR_REPO_IMPL_H
#define IMDR_REPO_IMPL_H

#include "backends/backend.h"
#include "repo/repo.h"

/* repo_be: the backend objects are stored in. */
struct backend *repo_be(struct repo *r);

/* blobread.c: the reader's state, made with the repository. */
struct blobread;
struct blobread *blobread_new(struct repo *r);
void blobread_free(struct blobread *rd);
struct blobread *repo_reader(struct repo *r);

#endif
