/* fcache — see fcache.h. The old cache is read whole into one buffer and
 * indexed by a hash table of path -> record offset (about 100 bytes a file);
 * new records are kept as slot pointers until save, since chunk ids are
 * filled in by store workers after the reading thread has moved on. */
#include "engine/fcache.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/buf.h"
#include "lib/err.h"
#include "lib/fsutil.h"
#include "lib/hash.h"
#include "lib/hex.h"
#include "lib/log.h"
#include "lib/varint.h"

#define FC_MAGIC "IMDRFC1\n"

struct old_rec {
	const char *path;	/* points into old.data (NUL-terminated copy) */
	struct fcache_key k;
	const uint8_t (*ids)[CRYPTO_ID_LEN];
	uint32_t *raw;
	size_t n;
};

struct new_rec {
	char *path;
	struct fcache_key k;
	uint8_t **slots;
	uint32_t *raw;
	size_t n;
};

struct fcache {
	char *file;
	struct buf old;
	struct old_rec *recs;
	size_t nrecs;
	size_t *tab;		/* index+1 into recs, 0 empty */
	size_t tcap;
	struct new_rec *nv;
	size_t nn, ncap;
	size_t hits;
};

static char *
cache_dir(const char *repo_id)
{
	const char *x = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");

	if (x && *x)
		return xasprintf("%s/imdr/%s", x, repo_id);
	return xasprintf("%s/.cache/imdr/%s", home && *home ? home : "/tmp", repo_id);
}

static void
parse_old(struct fcache *fc)
{
	const uint8_t *p = fc->old.data, *end = p + fc->old.len;
	size_t cap = 0;

	if (fc->old.len < 8 || memcmp(p, FC_MAGIC, 8) != 0)
		return;
	p += 8;
	while (p < end) {
		struct old_rec r;
		uint64_t plen, n, v;
		int64_t sv;

		memset(&r, 0, sizeof(r));
		if (varint_get(&p, end, &plen) || (uint64_t)(end - p) < plen + 1 ||
		    p[plen] != '\0')
			goto bad;
		r.path = (const char *)p;
		r.k.path = r.path;
		p += plen + 1;
		if (varint_get(&p, end, &r.k.size) || varint_get(&p, end, &r.k.dev) ||
		    varint_get(&p, end, &r.k.ino) || varint_get_signed(&p, end, &sv))
			goto bad;
		r.k.mtime_ns = sv;
		if (varint_get_signed(&p, end, &sv) || varint_get(&p, end, &n) ||
		    n > (uint64_t)(end - p) / CRYPTO_ID_LEN)
			goto bad;
		r.k.ctime_ns = sv;
		r.n = n;
		r.ids = (const uint8_t (*)[CRYPTO_ID_LEN])p;
		p += n * CRYPTO_ID_LEN;
		r.raw = xcalloc(n ? n : 1, sizeof(uint32_t));
		for (uint64_t i = 0; i < n; i++) {
			if (varint_get(&p, end, &v) || v > UINT32_MAX) {
				free(r.raw);
				goto bad;
			}
			r.raw[i] = (uint32_t)v;
		}
		if (fc->nrecs == cap) {
			cap = cap ? cap * 2 : 1024;
			fc->recs = xrealloc(fc->recs, cap * sizeof(*fc->recs));
		}
		fc->recs[fc->nrecs++] = r;
	}
	fc->tcap = 16;
	while (fc->tcap < fc->nrecs * 2)
		fc->tcap *= 2;
	fc->tab = xcalloc(fc->tcap, sizeof(*fc->tab));
	for (size_t i = 0; i < fc->nrecs; i++) {
		size_t j = hash_keyed_str(fc->recs[i].path) & (fc->tcap - 1);

		while (fc->tab[j])
			j = (j + 1) & (fc->tcap - 1);
		fc->tab[j] = i + 1;
	}
	return;
bad:
	/* A damaged cache costs one full read of the source, nothing more. */
	warn0("files cache %s is damaged; ignoring it", fc->file);
	for (size_t i = 0; i < fc->nrecs; i++)
		free(fc->recs[i].raw);
	free(fc->recs);
	fc->recs = NULL;
	fc->nrecs = 0;
}

struct fcache *
fcache_open(const char *repo_id, const char *source_abs)
{
	struct fcache *fc = xcalloc(1, sizeof(*fc));
	char *dir = cache_dir(repo_id), host[256] = "", *key;
	uint8_t sum[32];
	char hex[65];
	int fd;

	gethostname(host, sizeof(host) - 1);
	key = xasprintf("%s:%s", host, source_abs);
	crypto_sha256(key, strlen(key), sum);
	free(key);
	hex_encode(sum, 12, hex);
	fc->file = xasprintf("%s/files-%s", dir, hex);
	free(dir);
	fd = open(fc->file, O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		char tmp[65536];
		ssize_t n;

		while ((n = read(fd, tmp, sizeof(tmp))) > 0)
			buf_append(&fc->old, tmp, (size_t)n);
		close(fd);
		parse_old(fc);
	}
	return fc;
}

void
fcache_free(struct fcache *fc)
{
	if (fc == NULL)
		return;
	for (size_t i = 0; i < fc->nrecs; i++)
		free(fc->recs[i].raw);
	free(fc->recs);
	free(fc->tab);
	for (size_t i = 0; i < fc->nn; i++) {
		free(fc->nv[i].path);
		free(fc->nv[i].slots);
		free(fc->nv[i].raw);
	}
	free(fc->nv);
	buf_free(&fc->old);
	free(fc->file);
	free(fc);
}

int
fcache_lookup(struct fcache *fc, const struct fcache_key *k,
    const uint8_t (**ret_ids)[CRYPTO_ID_LEN], const uint32_t **ret_raw,
    size_t *ret_n)
{
	size_t j;

	if (fc->tcap == 0)
		return 0;
	j = hash_keyed_str(k->path) & (fc->tcap - 1);
	for (; fc->tab[j]; j = (j + 1) & (fc->tcap - 1)) {
		struct old_rec *r = &fc->recs[fc->tab[j] - 1];

		if (strcmp(r->path, k->path) != 0)
			continue;
		if (r->k.size != k->size || r->k.mtime_ns != k->mtime_ns ||
		    r->k.ctime_ns != k->ctime_ns || r->k.ino != k->ino ||
		    r->k.dev != k->dev)
			return 0;
		*ret_ids = r->ids;
		*ret_raw = r->raw;
		*ret_n = r->n;
		fc->hits++;
		return 1;
	}
	return 0;
}

void
fcache_record(struct fcache *fc, const struct fcache_key *k,
    uint8_t *const *id_slots, const uint32_t *raw, size_t n)
{
	struct new_rec *r;

	if (fc->nn == fc->ncap) {
		fc->ncap = fc->ncap ? fc->ncap * 2 : 1024;
		fc->nv = xrealloc(fc->nv, fc->ncap * sizeof(*fc->nv));
	}
	r = &fc->nv[fc->nn++];
	r->path = xstrdup(k->path);
	r->k = *k;
	r->k.path = r->path;
	r->n = n;
	r->slots = xmalloc((n ? n : 1) * sizeof(*r->slots));
	r->raw = xmalloc((n ? n : 1) * sizeof(*r->raw));
	if (n) {
		memcpy(r->slots, id_slots, n * sizeof(*r->slots));
		memcpy(r->raw, raw, n * sizeof(*r->raw));
	}
}

int
fcache_save(struct fcache *fc)
{
	struct buf b = BUF_INIT;
	char *tmp = NULL, *dir = xstrdup(fc->file), *slash = strrchr(dir, '/');
	int fd = -1, rc = IMDR_OK;

	*slash = '\0';
	if (mkdir_p(dir) < 0) {
		rc = err_set(IMDR_EIO, "cannot create cache folder %s: %s", dir, strerror(errno));
		goto out;
	}
	buf_append(&b, FC_MAGIC, 8);
	for (size_t i = 0; i < fc->nn; i++) {
		struct new_rec *r = &fc->nv[i];

		varint_put(&b, strlen(r->path));
		buf_append(&b, r->path, strlen(r->path) + 1);
		varint_put(&b, r->k.size);
		varint_put(&b, r->k.dev);
		varint_put(&b, r->k.ino);
		varint_put_signed(&b, r->k.mtime_ns);
		varint_put_signed(&b, r->k.ctime_ns);
		varint_put(&b, r->n);
		for (size_t j = 0; j < r->n; j++)
			buf_append(&b, r->slots[j], CRYPTO_ID_LEN);
		for (size_t j = 0; j < r->n; j++)
			varint_put(&b, r->raw[j]);
	}
	tmp = xasprintf("%s.tmp-%d", fc->file, (int)getpid());
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0 || write(fd, b.data, b.len) != (ssize_t)b.len || fsync(fd) < 0) {
		rc = err_set(IMDR_EIO, "cannot write files cache %s: %s", tmp, strerror(errno));
		goto out;
	}
	close(fd);
	fd = -1;
	if (rename(tmp, fc->file) < 0)
		rc = err_set(IMDR_EIO, "cannot write files cache %s: %s", fc->file, strerror(errno));
out:
	if (fd >= 0)
		close(fd);
	if (rc && tmp)
		unlink(tmp);
	free(tmp);
	free(dir);
	buf_free(&b);
	return rc;
}

size_t
fcache_hits(const struct fcache *fc)
{
	return fc->hits;
}
