/* repo — opening and creating repositories, key slots, config, and the
 * sealed-object and blob primitives.
 *
 * A key slot is keys/<16 hex>: 32 bytes of SHA-256 over the rest, then JSON
 * naming the scrypt parameters and salt and holding the master key sealed
 * with the key derived from the passphrase. The checksum tells a damaged slot
 * apart from a wrong passphrase; it is not a security measure (the seal is). */
#include "repo/repo.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>
#include <zstd.h>

#include "lib/err.h"
#include "lib/hex.h"
#include "lib/log.h"
#include "lib/timefmt.h"

#define FORMAT_VERSION 1
#define MASTER_LEN (3 * CRYPTO_KEY_LEN)
#define AAD_MAX 160

struct repo {
	struct backend *be;
	struct repo_config cfg;
	struct master_key key;
	char key_name[64];		/* the slot that opened it */
};

static size_t
make_aad(uint8_t *aad, char kind, const void *name, size_t namelen)
{
	memcpy(aad, "imdr1", 5);
	aad[5] = (uint8_t)kind;
	if (namelen > AAD_MAX - 6)
		namelen = AAD_MAX - 6;
	memcpy(aad + 6, name, namelen);
	return 6 + namelen;
}

static void
seal_with(const uint8_t key[CRYPTO_KEY_LEN], char kind, const char *name,
    const void *pt, size_t n, struct buf *out)
{
	uint8_t aad[AAD_MAX];
	size_t aadlen = make_aad(aad, kind, name, strlen(name));

	buf_reserve(out, n + CRYPTO_OVERHEAD);
	crypto_seal(key, aad, aadlen, pt, n, out->data + out->len);
	out->len += n + CRYPTO_OVERHEAD;
}

static int
open_with(const uint8_t key[CRYPTO_KEY_LEN], char kind, const char *name,
    const uint8_t *sealed, size_t n, struct buf *out)
{
	uint8_t aad[AAD_MAX];
	size_t aadlen = make_aad(aad, kind, name, strlen(name));

	if (n < CRYPTO_OVERHEAD)
		return IMDR_EAUTH;
	out->len = 0;
	buf_reserve(out, n - CRYPTO_OVERHEAD);
	if (crypto_open(key, aad, aadlen, sealed, n, out->data) != IMDR_OK)
		return IMDR_EAUTH;
	out->len = n - CRYPTO_OVERHEAD;
	return IMDR_OK;
}

/* ---- key slots ---- */

static void
kdf_defaults(const struct repo_init_opts *o, uint64_t *N, uint32_t *r, uint32_t *p)
{
	*N = o && o->scrypt_n ? o->scrypt_n : 1ULL << 15;
	*r = o && o->scrypt_r ? o->scrypt_r : 8;
	*p = o && o->scrypt_p ? o->scrypt_p : 1;
	/* Tests ask for a cheap KDF; the parameters are recorded in the slot,
	 * so this only weakens repositories made that way. */
	if (getenv("IMDR_TEST_FAST_KDF") && !(o && o->scrypt_n))
		*N = 1ULL << 10;
}

int
repo_key_add(struct repo *r, const char *pass, size_t passlen,
    const struct repo_init_opts *opts, char *ret_name)
{
	uint8_t salt[32], kek[CRYPTO_KEY_LEN], slotid[8], sum[32];
	uint8_t master[MASTER_LEN];
	char salthex[65], idhex[17], name[64], now[40], host[256] = "";
	struct buf sealed = BUF_INIT, obj = BUF_INIT;
	char *wrapped = NULL, *js = NULL;
	uint64_t N;
	uint32_t kr, kp;
	json_t *j;
	int rc;

	kdf_defaults(opts, &N, &kr, &kp);
	crypto_random(salt, sizeof(salt));
	crypto_random(slotid, sizeof(slotid));
	hex_encode(salt, sizeof(salt), salthex);
	hex_encode(slotid, sizeof(slotid), idhex);
	snprintf(name, sizeof(name), "keys/%s", idhex);
	rc = crypto_scrypt(pass, passlen, salt, sizeof(salt), N, kr, kp, kek,
	    sizeof(kek));
	if (rc)
		goto out;
	memcpy(master, r->key.enc, CRYPTO_KEY_LEN);
	memcpy(master + CRYPTO_KEY_LEN, r->key.mac, CRYPTO_KEY_LEN);
	memcpy(master + 2 * CRYPTO_KEY_LEN, r->key.chunker, CRYPTO_KEY_LEN);
	seal_with(kek, OBJ_KEY, name, master, sizeof(master), &sealed);
	wrapped = xmalloc(sealed.len * 2 + 1);
	hex_encode(sealed.data, sealed.len, wrapped);
	gethostname(host, sizeof(host) - 1);
	time_format(time_now_ns(), 0, now);
	j = json_pack("{s:i, s:s, s:I, s:i, s:i, s:s, s:s, s:s, s:s}",
	    "version", FORMAT_VERSION, "kdf", "scrypt", "N", (json_int_t)N,
	    "r", (int)kr, "p", (int)kp, "salt", salthex, "created", now,
	    "host", host, "master", wrapped);
	js = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(j);
	crypto_sha256(js, strlen(js), sum);
	buf_append(&obj, sum, sizeof(sum));
	buf_puts(&obj, js);
	rc = backend_put(r->be, name, obj.data, obj.len);
	if (rc == IMDR_OK && ret_name)
		strcpy(ret_name, name);
out:
	crypto_wipe(kek, sizeof(kek));
	crypto_wipe(master, sizeof(master));
	buf_free(&sealed);
	buf_free(&obj);
	free(wrapped);
	free(js);
	return rc;
}

int
repo_key_slot_parse(const char *name, const uint8_t *data, size_t n,
    struct key_slot *ret)
{
	const char *salthex, *whex, *kdf;
	json_int_t N = 0, kr = 0, kp = 0;
	json_error_t jerr;
	json_t *j = NULL;
	uint8_t sum[32];
	int rc = IMDR_OK;

	memset(ret, 0, sizeof(*ret));
	if (n < 33)
		return err_set(IMDR_EFORMAT, "key slot %s is truncated (%zu bytes)", name, n);
	crypto_sha256(data + 32, n - 32, sum);
	if (!crypto_memeq(sum, data, 32))
		return err_set(IMDR_EAUTH, "key slot %s is corrupt (checksum mismatch)", name);
	j = json_loadb((const char *)data + 32, n - 32, 0, &jerr);
	if (j == NULL || json_unpack(j, "{s:s, s:I, s:I, s:I, s:s, s:s}",
	    "kdf", &kdf, "N", &N, "r", &kr, "p", &kp, "salt", &salthex,
	    "master", &whex) != 0 || strcmp(kdf, "scrypt") != 0 ||
	    !hex_valid(salthex, 64) || strlen(whex) % 2 != 0 || N <= 1 ||
	    N > (1LL << 30) || kr <= 0 || kp <= 0 || kr > 64 || kp > 64) {
		rc = err_set(IMDR_EFORMAT, "key slot %s is malformed", name);
		goto out;
	}
	hex_decode(salthex, ret->salt, sizeof(ret->salt));
	ret->wlen = strlen(whex) / 2;
	ret->wrapped = xmalloc(ret->wlen ? ret->wlen : 1);
	if (hex_decode(whex, ret->wrapped, ret->wlen) != 0) {
		repo_key_slot_clear(ret);
		rc = err_set(IMDR_EFORMAT, "key slot %s is malformed", name);
		goto out;
	}
	ret->N = (uint64_t)N;
	ret->r = (uint32_t)kr;
	ret->p = (uint32_t)kp;
out:
	json_decref(j);
	return rc;
}

void
repo_key_slot_clear(struct key_slot *ks)
{
	free(ks->wrapped);
	memset(ks, 0, sizeof(*ks));
}

/* try_slot: IMDR_OK with r->key filled, IMDR_EPASS when the passphrase does
 * not open it, IMDR_EFORMAT/IMDR_EAUTH when the slot itself is damaged. */
static int
try_slot(struct repo *r, const char *name, const char *pass, size_t passlen)
{
	struct buf obj = BUF_INIT, master = BUF_INIT;
	struct key_slot ks;
	uint8_t kek[CRYPTO_KEY_LEN];
	int rc;

	memset(&ks, 0, sizeof(ks));
	rc = backend_get(r->be, name, 0, BACKEND_WHOLE, &obj);
	if (rc)
		goto out;
	rc = repo_key_slot_parse(name, obj.data, obj.len, &ks);
	if (rc)
		goto out;
	rc = crypto_scrypt(pass, passlen, ks.salt, sizeof(ks.salt), ks.N, ks.r, ks.p,
	    kek, sizeof(kek));
	if (rc)
		goto out;
	if (open_with(kek, OBJ_KEY, name, ks.wrapped, ks.wlen, &master) != IMDR_OK ||
	    master.len != MASTER_LEN) {
		rc = IMDR_EPASS;
		goto out;
	}
	memcpy(r->key.enc, master.data, CRYPTO_KEY_LEN);
	memcpy(r->key.mac, master.data + CRYPTO_KEY_LEN, CRYPTO_KEY_LEN);
	memcpy(r->key.chunker, master.data + 2 * CRYPTO_KEY_LEN, CRYPTO_KEY_LEN);
	snprintf(r->key_name, sizeof(r->key_name), "%s", name);
out:
	crypto_wipe(kek, sizeof(kek));
	if (master.data)
		crypto_wipe(master.data, master.len);
	buf_free(&master);
	buf_free(&obj);
	repo_key_slot_clear(&ks);
	return rc;
}

struct name_list {
	char **v;
	size_t n;
};

static int
collect_name(void *ctx, const char *name, uint64_t size)
{
	struct name_list *l = ctx;

	(void)size;
	l->v = xrealloc(l->v, (l->n + 1) * sizeof(*l->v));
	l->v[l->n++] = xstrdup(name);
	return 0;
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void
name_list_free(struct name_list *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
}

int
repo_key_list(struct repo *r, char ***ret, size_t *ret_n)
{
	struct name_list l = { NULL, 0 };
	int rc = backend_list(r->be, "keys/", collect_name, &l);

	if (rc) {
		name_list_free(&l);
		return rc;
	}
	if (l.n)
		qsort(l.v, l.n, sizeof(*l.v), cmp_str);
	*ret = l.v;
	*ret_n = l.n;
	return IMDR_OK;
}

static int
unlock_keys(struct repo *r, const char *pass, size_t passlen)
{
	struct name_list l = { NULL, 0 };
	int rc, damaged = 0;
	char first_damage[1024] = "";

	rc = backend_list(r->be, "keys/", collect_name, &l);
	if (rc)
		goto out;
	if (l.n == 0) {
		rc = err_set(IMDR_EFORMAT, "repository %s has no key slots (keys/ is empty)",
		    backend_url(r->be));
		goto out;
	}
	qsort(l.v, l.n, sizeof(*l.v), cmp_str);
	for (size_t i = 0; i < l.n; i++) {
		err_clear();
		rc = try_slot(r, l.v[i], pass, passlen);
		if (rc == IMDR_OK)
			goto out;
		if (rc != IMDR_EPASS) {
			if (!damaged++)
				snprintf(first_damage, sizeof(first_damage), "%s", err_msg(rc));
			warn0("%s", err_msg(rc));
		}
	}
	if (damaged && (size_t)damaged == l.n)
		rc = err_set(IMDR_EAUTH, "%s", first_damage);
	else
		rc = err_set(IMDR_EPASS, "wrong passphrase: no key slot of %s opens with it",
		    backend_url(r->be));
out:
	name_list_free(&l);
	return rc;
}

/* ---- config ---- */

static int
config_store(struct repo *r)
{
	char now[40];
	json_t *j;
	char *js;
	int rc;

	time_format(time_now_ns(), 0, now);
	j = json_pack("{s:i, s:s, s:s, s:{s:s, s:i, s:i, s:i}, s:i, s:s, s:i}",
	    "version", r->cfg.version, "id", r->cfg.id, "created", now,
	    "chunker", "algorithm", "fastcdc-gear-keyed", "min", (int)r->cfg.chunk_min,
	    "avg", (int)r->cfg.chunk_avg, "max", (int)r->cfg.chunk_max,
	    "pack_size", (int)r->cfg.pack_size, "compression", "zstd",
	    "zstd_level", r->cfg.zstd_level);
	js = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(j);
	rc = repo_put_sealed(r, OBJ_CONFIG, "config", js, strlen(js));
	free(js);
	return rc;
}

static int
config_load(struct repo *r)
{
	struct buf b = BUF_INIT;
	json_error_t jerr;
	json_int_t ver, mn, av, mx, ps, zl;
	const char *id;
	json_t *j = NULL;
	int rc;

	rc = repo_get_sealed(r, OBJ_CONFIG, "config", &b);
	if (rc)
		goto out;
	j = json_loadb((const char *)b.data, b.len, 0, &jerr);
	if (j == NULL || json_unpack(j, "{s:I, s:s, s:{s:I, s:I, s:I}, s:I, s:I}",
	    "version", &ver, "id", &id, "chunker", "min", &mn, "avg", &av,
	    "max", &mx, "pack_size", &ps, "zstd_level", &zl) != 0) {
		rc = err_set(IMDR_EFORMAT, "config of %s is malformed", backend_url(r->be));
		goto out;
	}
	if (ver != FORMAT_VERSION) {
		rc = err_set(IMDR_EUNSUP, "repository %s has format version %lld; this imdr reads version %d",
		    backend_url(r->be), (long long)ver, FORMAT_VERSION);
		goto out;
	}
	if (mn < 64 || av < mn || mx < av || mx > (64 << 20) || ps < (1 << 16) ||
	    ps > (1 << 30) || strlen(id) != 64) {
		rc = err_set(IMDR_EFORMAT, "config of %s has bad parameters", backend_url(r->be));
		goto out;
	}
	r->cfg.version = (uint32_t)ver;
	snprintf(r->cfg.id, sizeof(r->cfg.id), "%s", id);
	r->cfg.chunk_min = (uint32_t)mn;
	r->cfg.chunk_avg = (uint32_t)av;
	r->cfg.chunk_max = (uint32_t)mx;
	r->cfg.pack_size = (uint32_t)ps;
	r->cfg.zstd_level = (int)zl;
out:
	buf_free(&b);
	json_decref(j);
	return rc;
}

/* ---- open / init ---- */

int
repo_init(const char *url, const char *pass, size_t passlen,
    const struct repo_init_opts *opts, struct repo **ret)
{
	struct backend *be = NULL;
	struct repo *r = NULL;
	uint8_t rid[32];
	uint32_t avg;
	int rc;

	rc = backend_open(url, 1, &be);
	if (rc)
		return rc;
	if (backend_stat(be, "config", NULL) == IMDR_OK) {
		rc = err_set(IMDR_EEXIST, "a repository already exists at %s", backend_url(be));
		goto err;
	}
	err_clear();
	r = xcalloc(1, sizeof(*r));
	r->be = be;
	crypto_random(&r->key, sizeof(r->key));
	crypto_random(rid, sizeof(rid));
	hex_encode(rid, sizeof(rid), r->cfg.id);
	avg = opts && opts->chunk_avg ? opts->chunk_avg : 1U << 20;
	if (avg < 4096 || (avg & (avg - 1)) != 0) {
		rc = err_set(IMDR_EINVAL, "chunk size %u: must be a power of two >= 4096", avg);
		goto err;
	}
	r->cfg.version = FORMAT_VERSION;
	r->cfg.chunk_min = avg / 4;
	r->cfg.chunk_avg = avg;
	r->cfg.chunk_max = avg * 4;
	r->cfg.pack_size = 16U << 20;
	r->cfg.zstd_level = 3;
	/* Key slot first: a config without a key would be a repository no one
	 * can open, while a stray key slot is harmless. */
	rc = repo_key_add(r, pass, passlen, opts, r->key_name);
	if (rc)
		goto err;
	rc = config_store(r);
	if (rc)
		goto err;
	*ret = r;
	return IMDR_OK;
err:
	if (r) {
		crypto_wipe(&r->key, sizeof(r->key));
		free(r);
	}
	backend_close(be);
	return rc;
}

int
repo_open_backend(struct backend *be, const char *pass, size_t passlen,
    struct repo **ret)
{
	struct repo *r;
	int rc;

	rc = backend_stat(be, "config", NULL);
	if (rc == IMDR_ENOENT) {
		rc = err_set(IMDR_ENOENT, "no imdr repository at %s (no config object)",
		    backend_url(be));
		backend_close(be);
		return rc;
	}
	if (rc) {
		backend_close(be);
		return rc;
	}
	r = xcalloc(1, sizeof(*r));
	r->be = be;
	rc = unlock_keys(r, pass, passlen);
	if (rc == IMDR_OK)
		rc = config_load(r);
	if (rc) {
		repo_free(r);
		return rc;
	}
	*ret = r;
	return IMDR_OK;
}

int
repo_open(const char *url, const char *pass, size_t passlen, struct repo **ret)
{
	struct backend *be;
	int rc;

	rc = backend_open(url, 0, &be);
	if (rc)
		return rc;
	return repo_open_backend(be, pass, passlen, ret);
}

void
repo_free(struct repo *r)
{
	if (r == NULL)
		return;
	crypto_wipe(&r->key, sizeof(r->key));
	backend_close(r->be);
	free(r);
}

struct backend *
repo_backend(struct repo *r)
{
	return r->be;
}

const struct repo_config *
repo_config(const struct repo *r)
{
	return &r->cfg;
}

const struct master_key *
repo_keys(const struct repo *r)
{
	return &r->key;
}

const char *
repo_key_name(const struct repo *r)
{
	return r->key_name;
}

/* ---- sealed objects ---- */

int
repo_put_sealed(struct repo *r, enum obj_kind kind, const char *name,
    const void *pt, size_t n)
{
	struct buf b = BUF_INIT;
	int rc;

	seal_with(r->key.enc, (char)kind, name, pt, n, &b);
	rc = backend_put(r->be, name, b.data, b.len);
	buf_free(&b);
	return rc;
}

int
repo_get_sealed(struct repo *r, enum obj_kind kind, const char *name,
    struct buf *out)
{
	struct buf b = BUF_INIT;
	int rc;

	rc = backend_get(r->be, name, 0, BACKEND_WHOLE, &b);
	if (rc == IMDR_OK && open_with(r->key.enc, (char)kind, name, b.data,
	    b.len, out) != IMDR_OK)
		rc = err_set(IMDR_EAUTH, "object %s failed authentication (corrupt or tampered)",
		    name);
	buf_free(&b);
	return rc;
}

/* ---- blobs ---- */

void
repo_blob_id(const struct repo *r, const void *data, size_t n,
    uint8_t ret_id[CRYPTO_ID_LEN])
{
	crypto_hmac(r->key.mac, data, n, ret_id);
}

static char
blob_kind(enum blob_type type)
{
	return type == BLOB_TREE ? OBJ_TREE : OBJ_DATA;
}

static _Thread_local ZSTD_CCtx *cctx;
static _Thread_local ZSTD_DCtx *dctx;

/* Per-thread scratch for compressed blobs, kept between calls: a fresh
 * megabyte per chunk would cost a page fault every 4 KiB. */
static __thread struct buf zscratch;

void
repo_thread_cleanup(void)
{
	ZSTD_freeCCtx(cctx);
	ZSTD_freeDCtx(dctx);
	cctx = NULL;
	dctx = NULL;
	buf_free(&zscratch);
}

/* Threads that never call repo_thread_cleanup (libfuse's workers come and
 * go) still free their contexts: a key whose destructor runs at exit. */
static pthread_key_t tl_key;
static pthread_once_t tl_once = PTHREAD_ONCE_INIT;

static void
tl_destroy(void *unused)
{
	(void)unused;
	repo_thread_cleanup();
}

static void
tl_init(void)
{
	pthread_key_create(&tl_key, tl_destroy);
}

static void
tl_register(void)
{
	pthread_once(&tl_once, tl_init);
	if (pthread_getspecific(tl_key) == NULL)
		pthread_setspecific(tl_key, (void *)1);
}

/* Compress only when it pays: probe the first 16 KiB at the fastest level,
 * and give up on data that does not shrink by 1/16 there (media, archives,
 * encrypted attachments), which is most of a chat export's bytes. */
static int
worth_compressing(const void *data, size_t n, void *scratch, size_t cap)
{
	size_t probe = n < 16384 ? n : 16384, c;

	if (n < 128)
		return 0;
	c = ZSTD_compressCCtx(cctx, scratch, cap, data, probe, 1);
	return !ZSTD_isError(c) && c < probe - probe / 16;
}

void
repo_blob_seal(const struct repo *r, enum blob_type type,
    const uint8_t id[CRYPTO_ID_LEN], const void *data, size_t n,
    struct buf *out)
{
	uint8_t aad[AAD_MAX];
	size_t aadlen = make_aad(aad, blob_kind(type), id, CRYPTO_ID_LEN);
	size_t bound = ZSTD_compressBound(n), c;
	const void *body = data;
	uint8_t enc = 0;

	if (cctx == NULL) {
		tl_register();
		cctx = ZSTD_createCCtx();
	}
	buf_reserve(&zscratch, bound);
	if (cctx && worth_compressing(data, n, zscratch.data, bound)) {
		c = ZSTD_compressCCtx(cctx, zscratch.data, bound, data, n,
		    r->cfg.zstd_level);
		if (!ZSTD_isError(c) && c < n) {
			enc = 1;
			body = zscratch.data;
			n = c;
		}
	}
	buf_reserve(out, n + 1 + CRYPTO_OVERHEAD);
	crypto_seal2(r->key.enc, aad, aadlen, enc, body, n, out->data + out->len);
	out->len += n + 1 + CRYPTO_OVERHEAD;
}

/* blob_open_buf: b holds a sealed blob; decrypt it in place (GCM allows
 * it) and leave the plaintext at b->data + *ret_off, b->len bytes in all.
 * A stored blob needs no copy at all; a compressed one is inflated into a
 * fresh buffer that replaces b's. */
int
repo_blob_open_buf(const struct repo *r, enum blob_type type,
    const struct blob_ref *ref, struct buf *b, size_t *ret_off)
{
	uint8_t aad[AAD_MAX];
	size_t aadlen = make_aad(aad, blob_kind(type), ref->id, CRYPTO_ID_LEN);
	char idhex[65], packhex[65];
	uint8_t *pt = b->data + CRYPTO_NONCE_LEN;
	size_t n = b->len, ptlen;

	if (n < CRYPTO_OVERHEAD + 1 || (ref->length && n != ref->length)) {
		hex_encode(ref->id, CRYPTO_ID_LEN, idhex);
		hex_encode(ref->pack, CRYPTO_ID_LEN, packhex);
		return err_set(IMDR_EAUTH, "blob %.16s in pack %.16s is truncated (%zu of %u bytes)",
		    idhex, packhex, n, ref->length);
	}
	ptlen = n - CRYPTO_OVERHEAD;
	if (crypto_open(r->key.enc, aad, aadlen, b->data, n, pt) != IMDR_OK) {
		hex_encode(ref->id, CRYPTO_ID_LEN, idhex);
		hex_encode(ref->pack, CRYPTO_ID_LEN, packhex);
		return err_set(IMDR_EAUTH, "blob %.16s in pack %.16s failed authentication (corrupt or tampered)",
		    idhex, packhex);
	}
	if (pt[0] == 0) {
		if (ptlen - 1 != ref->raw_length)
			goto badlen;
		*ret_off = CRYPTO_NONCE_LEN + 1;
		b->len = *ret_off + ptlen - 1;
		return IMDR_OK;
	}
	if (pt[0] == 1) {
		struct buf out = BUF_INIT;
		size_t d;

		if (dctx == NULL)
			tl_register();
		if (dctx == NULL && (dctx = ZSTD_createDCtx()) == NULL)
			return err_set(IMDR_ENOMEM, "cannot allocate a zstd context");
		buf_reserve(&out, ref->raw_length ? ref->raw_length : 1);
		d = ZSTD_decompressDCtx(dctx, out.data, ref->raw_length, pt + 1, ptlen - 1);
		if (ZSTD_isError(d) || d != ref->raw_length) {
			buf_free(&out);
			hex_encode(ref->id, CRYPTO_ID_LEN, idhex);
			return err_set(IMDR_EFORMAT, "blob %.16s: bad compressed data", idhex);
		}
		out.len = d;
		buf_free(b);
		*b = out;
		*ret_off = 0;
		return IMDR_OK;
	}
	hex_encode(ref->id, CRYPTO_ID_LEN, idhex);
	return err_set(IMDR_EFORMAT, "blob %.16s: unknown encoding %u", idhex, pt[0]);
badlen:
	hex_encode(ref->id, CRYPTO_ID_LEN, idhex);
	return err_set(IMDR_EFORMAT, "blob %.16s: %zu bytes, expected %u",
	    idhex, ptlen - 1, ref->raw_length);
}

int
repo_blob_unseal(const struct repo *r, enum blob_type type,
    const struct blob_ref *ref, const uint8_t *sealed, size_t n,
    struct buf *out)
{
	struct buf b = BUF_INIT;
	size_t off;
	int rc;

	buf_append(&b, sealed, n);
	rc = repo_blob_open_buf(r, type, ref, &b, &off);
	out->len = 0;
	if (rc == IMDR_OK)
		buf_append(out, b.data + off, b.len - off);
	buf_free(&b);
	return rc;
}

void
repo_pack_name(const uint8_t pack[CRYPTO_ID_LEN], char *out)
{
	char hex[65];

	hex_encode(pack, CRYPTO_ID_LEN, hex);
	snprintf(out, 80, "data/%.2s/%s", hex, hex);
}

int
repo_blob_read(struct repo *r, enum blob_type type, const struct blob_ref *ref,
    struct buf *out)
{
	struct buf sealed = BUF_INIT;
	char name[80];
	int rc;

	repo_pack_name(ref->pack, name);
	rc = backend_get(r->be, name, ref->offset, ref->length, &sealed);
	if (rc == IMDR_OK)
		rc = repo_blob_unseal(r, type, ref, sealed.data, sealed.len, out);
	buf_free(&sealed);
	return rc;
}

int
repo_blob_read_buf(struct repo *r, enum blob_type type, const struct blob_ref *ref,
    struct buf *b, size_t *ret_off)
{
	char name[80];
	int rc;

	repo_pack_name(ref->pack, name);
	b->len = 0;
	rc = backend_get(r->be, name, ref->offset, ref->length, b);
	if (rc == IMDR_OK)
		rc = repo_blob_open_buf(r, type, ref, b, ret_off);
	return rc;
}
