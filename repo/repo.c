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

#include "lib/array.h"
#include "lib/err.h"
#include "lib/hex.h"
#include "lib/log.h"
#include "lib/secmem.h"
#include "lib/timefmt.h"
#include "repo/keycache.h"
#include "repo/pack.h"
#include "repo/repo_impl.h"

#define FORMAT_VERSION 1
#define MASTER_LEN (3 * CRYPTO_KEY_LEN)
#define AAD_MAX 160

/* The most one entry of a pack header takes: type, id, three varints. */
#define PACK_ENTRY_MAX (1 + CRYPTO_ID_LEN + 10 + 5 + 5)
/* The least one sealed blob takes: the encoding byte and the seal. */
#define BLOB_SEALED_MIN (1 + CRYPTO_OVERHEAD)
/* An index object from before index_write split them may be larger than
 * REPO_INDEX_SPLIT: read up to this much. */
#define INDEX_READ_MAX (256u << 20)

struct repo {
	struct backend *be;
	int borrowed;			/* be belongs to another repo (a replica view) */
	struct blobread *rd;
	struct repo_config cfg;
	struct master_key *key;		/* in secmem: out of core dumps */
	char key_name[64];		/* the slot that opened it */
};

/* Scratch for a key slot: the passphrase-derived key and the master key
 * in the clear, in secmem for the moment they exist. */
struct slot_secrets {
	uint8_t kek[CRYPTO_KEY_LEN];
	uint8_t master[MASTER_LEN + 64];
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
	struct slot_secrets *sec = secmem_alloc(sizeof(*sec));
	uint8_t salt[32], slotid[8], sum[32];
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
	rc = crypto_scrypt(pass, passlen, salt, sizeof(salt), N, kr, kp, sec->kek,
	    sizeof(sec->kek));
	if (rc)
		goto out;
	memcpy(sec->master, r->key->enc, CRYPTO_KEY_LEN);
	memcpy(sec->master + CRYPTO_KEY_LEN, r->key->mac, CRYPTO_KEY_LEN);
	memcpy(sec->master + 2 * CRYPTO_KEY_LEN, r->key->chunker, CRYPTO_KEY_LEN);
	seal_with(sec->kek, OBJ_KEY, name, sec->master, MASTER_LEN, &sealed);
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
	secmem_free(sec);
	crypto_stack_scrub();
	buf_free(&sealed);
	buf_free(&obj);
	free(wrapped);
	free(js);
	return rc;
}

/* verify_slot: a key slot's checksum (it tells damage from a wrong
 * passphrase; the seal inside is what protects the key). */
static int
verify_slot(void *ctx, struct buf *obj)
{
	const char *name = ctx;
	uint8_t sum[32];

	if (obj->len < 33)
		return err_set(IMDR_EAUTH, "key slot %s is truncated (%zu bytes)", name, obj->len);
	crypto_sha256(obj->data + 32, obj->len - 32, sum);
	if (!crypto_memeq(sum, obj->data, 32))
		return err_set(IMDR_EAUTH, "key slot %s is corrupt (checksum mismatch)", name);
	return IMDR_OK;
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
try_slot(struct repo *r, const char *name, uint64_t size, const char *pass,
    size_t passlen)
{
	struct slot_secrets *sec = NULL;
	struct buf obj = BUF_INIT;
	uint8_t aad[AAD_MAX];
	size_t aadlen;
	struct key_slot ks;
	int rc;

	memset(&ks, 0, sizeof(ks));
	if ((size == REPO_SIZE_UNKNOWN || size == 0) &&
	    (rc = backend_stat(r->be, name, &size)) != IMDR_OK)
		goto out;
	if ((rc = repo_size_check(r, OBJ_KEY, name, size)) != IMDR_OK)
		goto out;
	/* exactly the size checked, from any replica whose bytes verify */
	rc = repo_read_verified(r, name, 0, size, &obj, verify_slot, (void *)name);
	if (rc)
		goto out;
	rc = repo_key_slot_parse(name, obj.data, obj.len, &ks);
	if (rc)
		goto out;
	sec = secmem_alloc(sizeof(*sec));
	rc = crypto_scrypt(pass, passlen, ks.salt, sizeof(ks.salt), ks.N, ks.r, ks.p,
	    sec->kek, sizeof(sec->kek));
	if (rc)
		goto out;
	/* the master key is decrypted straight into secmem */
	aadlen = make_aad(aad, OBJ_KEY, name, strlen(name));
	if (ks.wlen != MASTER_LEN + CRYPTO_OVERHEAD ||
	    crypto_open(sec->kek, aad, aadlen, ks.wrapped, ks.wlen, sec->master) != IMDR_OK) {
		rc = IMDR_EPASS;
		goto out;
	}
	memcpy(r->key->enc, sec->master, CRYPTO_KEY_LEN);
	memcpy(r->key->mac, sec->master + CRYPTO_KEY_LEN, CRYPTO_KEY_LEN);
	memcpy(r->key->chunker, sec->master + 2 * CRYPTO_KEY_LEN, CRYPTO_KEY_LEN);
	snprintf(r->key_name, sizeof(r->key_name), "%s", name);
out:
	secmem_free(sec);
	crypto_stack_scrub();
	buf_free(&obj);
	repo_key_slot_clear(&ks);
	return rc;
}

/* Names and sizes as listed: a key slot is bounded by its listed size,
 * with no HEAD of its own. */
struct listed {
	char *name;
	uint64_t size;
};

struct name_list {
	struct listed *v;
	size_t n, cap;
};

static int
collect_name(void *ctx, const char *name, uint64_t size)
{
	struct name_list *l = ctx;

	*ARRAY_PUSH(l->v, l->n, l->cap) = (struct listed){ xstrdup(name), size };
	return 0;
}

static int
cmp_listed(const void *a, const void *b)
{
	return strcmp(((const struct listed *)a)->name, ((const struct listed *)b)->name);
}

static void
name_list_free(struct name_list *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i].name);
	free(l->v);
}

int
repo_key_list(struct repo *r, char ***ret, size_t *ret_n)
{
	struct name_list l = { NULL, 0, 0 };
	int rc = backend_list(r->be, "keys/", collect_name, &l);
	char **v;

	if (rc) {
		name_list_free(&l);
		return rc;
	}
	if (l.n)
		qsort(l.v, l.n, sizeof(*l.v), cmp_listed);
	v = xcalloc(l.n ? l.n : 1, sizeof(*v));
	for (size_t i = 0; i < l.n; i++)
		v[i] = l.v[i].name;
	free(l.v);
	*ret = v;
	*ret_n = l.n;
	return IMDR_OK;
}

static int
unlock_keys(struct repo *r, const char *pass, size_t passlen)
{
	struct name_list l = { NULL, 0, 0 };
	int rc, damaged = 0;
	char *first_damage = NULL;

	rc = backend_list(r->be, "keys/", collect_name, &l);
	if (rc)
		goto out;
	if (l.n == 0) {
		rc = err_set(IMDR_EFORMAT, "repository %s has no key slots (keys/ is empty)",
		    backend_url(r->be));
		goto out;
	}
	qsort(l.v, l.n, sizeof(*l.v), cmp_listed);
	for (size_t i = 0; i < l.n; i++) {
		err_clear();
		rc = try_slot(r, l.v[i].name, l.v[i].size, pass, passlen);
		if (rc == IMDR_OK)
			goto out;
		if (rc != IMDR_EPASS) {
			if (!damaged++)
				first_damage = xstrdup(err_msg(rc));
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
	free(first_damage);
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

/* config_load: the config object of size bytes; fetched, when it is not
 * NULL, holds its stored bytes read already (another replica is asked
 * when they do not authenticate). */
static int
config_load(struct repo *r, uint64_t size, const struct buf *fetched)
{
	struct buf b = BUF_INIT;
	json_error_t jerr;
	json_int_t ver, mn, av, mx, ps, zl;
	const char *id;
	json_t *j = NULL;
	int rc = IMDR_EAUTH;

	if (fetched && fetched->len == size) {
		rc = repo_open_sealed(r, OBJ_CONFIG, "config", fetched->data, fetched->len, &b);
		if (rc)
			err_clear();
	}
	if (rc)
		rc = repo_get_sealed_sized(r, OBJ_CONFIG, "config", size, &b);
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
	r->rd = blobread_new(r);
	r->key = secmem_alloc(sizeof(*r->key));
	crypto_random(r->key, sizeof(*r->key));
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
		secmem_free(r->key);
		blobread_free(r->rd);
		free(r);
	}
	backend_close(be);
	return rc;
}

/* The config object, fetched while the keys are listed, read and derived
 * (over a network, opening costs two round trips and the KDF, not four):
 * its size first, then its bytes, which are authenticated once the key is
 * known. */
struct config_fetch {
	struct backend *be;
	uint64_t size;
	struct buf b;
	int rc;
	char *msg;
};

static void *
config_fetch_main(void *arg)
{
	struct config_fetch *c = arg;

	c->rc = backend_stat(c->be, "config", &c->size);
	if (c->rc == IMDR_OK && c->size > 0 && c->size <= REPO_SMALL_MAX)
		c->rc = backend_get(c->be, "config", 0, c->size, &c->b);
	if (c->rc)
		c->msg = xstrdup(err_msg(c->rc));
	return NULL;
}

/* open_backend: open over be with pass; pre, when not NULL, is the config
 * fetched already (else it is fetched while the keys are unlocked). */
static int
open_backend(struct backend *be, const char *pass, size_t passlen,
    const struct config_fetch *pre, struct repo **ret)
{
	struct config_fetch cf = { be, 0, BUF_INIT, IMDR_OK, NULL };
	const struct config_fetch *c = pre ? pre : &cf;
	struct repo *r;
	pthread_t th;
	int rc, threaded = 0;
	int64_t t0 = time_mono_ns();

	if (pre == NULL) {
		threaded = pthread_create(&th, NULL, config_fetch_main, &cf) == 0;
		if (!threaded)
			config_fetch_main(&cf);
	}
	r = xcalloc(1, sizeof(*r));
	r->be = be;
	r->rd = blobread_new(r);
	r->key = secmem_alloc(sizeof(*r->key));
	rc = unlock_keys(r, pass, passlen);
	debugf("open: the key derived from the passphrase (scrypt) in %.1f ms",
	    (double)(time_mono_ns() - t0) / 1e6);
	if (threaded)
		pthread_join(th, NULL);
	/* no config: no repository, whatever the keys said */
	if (c->rc == IMDR_ENOENT)
		rc = err_set(IMDR_ENOENT, "no imdr repository at %s (no config object)",
		    backend_url(be));
	else if (c->rc && (rc == IMDR_OK || rc == IMDR_EPASS))
		rc = err_set(c->rc, "%s", c->msg);
	if (rc == IMDR_OK)
		rc = config_load(r, c->size, &c->b);
	buf_free(&cf.b);
	free(cf.msg);
	if (rc) {
		repo_free(r);
		return rc;
	}
	*ret = r;
	return IMDR_OK;
}

int
repo_open_backend(struct backend *be, const char *pass, size_t passlen,
    struct repo **ret)
{
	return open_backend(be, pass, passlen, NULL, ret);
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

/* open_cached: the repository over be with the key cached under handle,
 * when there is one and it opens the config (fetched in cf) of the
 * repository it was stored for. IMDR_ENOENT: none cached (or the config
 * could not be read again); IMDR_EAUTH: one that does not open it, which
 * is dropped; IMDR_EUNSUP: no keyring. be stays the caller's on failure. */
static int
open_cached(struct backend *be, const struct config_fetch *cf, const char *handle,
    struct repo **ret)
{
	struct keycache_entry *e = secmem_alloc(sizeof(*e));
	char idhex[65];
	struct repo *r = NULL;
	int rc = keycache_get(handle, e);

	if (rc)
		goto out;
	r = xcalloc(1, sizeof(*r));
	r->be = be;
	r->rd = blobread_new(r);
	r->key = secmem_alloc(sizeof(*r->key));
	memcpy(r->key, &e->key, sizeof(*r->key));
	snprintf(r->key_name, sizeof(r->key_name), "%s", e->slot);
	hex_encode(e->repo_id, sizeof(e->repo_id), idhex);
	/* the config authenticates under the key, and names the repository
	 * the key was cached for */
	rc = config_load(r, cf->size, &cf->b);
	if (rc == IMDR_OK && strcmp(idhex, r->cfg.id) != 0)
		rc = IMDR_EAUTH;
	if (rc) {
		if (rc == IMDR_EAUTH) {
			keycache_drop(handle);
			err_clear();
			rc = err_set(IMDR_EAUTH, "the key cached for this repository does not open"
			    " it (dropped)");
		} else {
			rc = err_set(IMDR_ENOENT, "%s", err_msg(rc));
		}
		r->borrowed = 1;	/* be stays the caller's */
		repo_free(r);
		r = NULL;
		goto out;
	}
	*ret = r;
out:
	secmem_free(e);
	return rc;
}

int
repo_open_with(const char *url, const struct repo_unlock *u, struct repo **ret,
    struct repo_unlock_info *ret_info)
{
	struct config_fetch cf = { NULL, 0, BUF_INIT, IMDR_OK, NULL };
	struct repo_unlock_info info;
	struct backend *be;
	char handle[KEYCACHE_HANDLE_HEX + 1] = "";
	char *pass = NULL;
	size_t plen = 0;
	int rc, crc = IMDR_EUNSUP;
	int64_t t0;

	memset(&info, 0, sizeof(info));
	rc = backend_open(url, 0, &be);
	if (rc)
		return rc;
	t0 = time_mono_ns();
	if (u->key_cache_secs > 0) {
		/* the config first: its sealed bytes name the cache entry */
		cf.be = be;
		config_fetch_main(&cf);
		if (cf.rc == IMDR_OK) {
			keycache_handle(cf.b.data, cf.b.len, handle);
			crc = open_cached(be, &cf, handle, ret);
			if (crc == IMDR_OK) {
				info.key_cached = 1;
				info.unlock_ns = time_mono_ns() - t0;
				debugf("open: the key from the kernel keyring in %.1f ms",
				    (double)info.unlock_ns / 1e6);
				goto out;
			}
			if (crc != IMDR_ENOENT)
				snprintf(info.cache_note, sizeof(info.cache_note), "%s", err_msg(crc));
			err_clear();
		}
	}
	rc = u->get_pass(u->ctx, &pass, &plen);
	if (rc) {
		backend_close(be);
		goto out;
	}
	t0 = time_mono_ns();
	rc = open_backend(be, pass, plen, u->key_cache_secs > 0 ? &cf : NULL, ret);
	info.unlock_ns = time_mono_ns() - t0;
	u->put_pass(u->ctx, pass, plen);
	if (rc == IMDR_OK && u->key_cache_secs > 0 && *handle && crc != IMDR_EUNSUP) {
		struct keycache_entry *e = secmem_alloc(sizeof(*e));

		if (hex_decode((*ret)->cfg.id, e->repo_id, sizeof(e->repo_id)) == 0) {
			memcpy(&e->key, (*ret)->key, sizeof(e->key));
			snprintf(e->slot, sizeof(e->slot), "%s", (*ret)->key_name);
			crc = keycache_put(handle, e, u->key_cache_secs);
			if (crc == IMDR_OK)
				info.key_stored = 1;
			else
				snprintf(info.cache_note, sizeof(info.cache_note), "%s", err_msg(crc));
			err_clear();
		}
		secmem_free(e);
	}
out:
	buf_free(&cf.b);
	free(cf.msg);
	if (ret_info)
		*ret_info = info;
	return rc;
}

int
repo_key_cache_drop(const char *url, int *ret_dropped)
{
	struct config_fetch cf = { NULL, 0, BUF_INIT, IMDR_OK, NULL };
	char handle[KEYCACHE_HANDLE_HEX + 1];
	int rc = backend_open(url, 0, &cf.be);

	*ret_dropped = 0;
	if (rc)
		return rc;
	config_fetch_main(&cf);
	rc = cf.rc;
	if (rc == IMDR_ENOENT)
		rc = err_set(IMDR_ENOENT, "no imdr repository at %s (no config object)",
		    backend_url(cf.be));
	else if (rc)
		rc = err_set(rc, "%s", cf.msg);
	if (rc == IMDR_OK) {
		keycache_handle(cf.b.data, cf.b.len, handle);
		rc = keycache_drop(handle);
		*ret_dropped = rc == IMDR_OK;
		if (rc == IMDR_ENOENT) {
			err_clear();
			rc = IMDR_OK;
		}
	}
	backend_close(cf.be);
	buf_free(&cf.b);
	free(cf.msg);
	return rc;
}

void
repo_free(struct repo *r)
{
	if (r == NULL)
		return;
	secmem_free(r->key);
	blobread_free(r->rd);
	if (!r->borrowed)
		backend_close(r->be);
	free(r);
}

struct backend *
repo_be(struct repo *r)
{
	return r->be;
}

struct blobread *
repo_reader(struct repo *r)
{
	return r->rd;
}

const char *
repo_url(const struct repo *r)
{
	return backend_url(r->be);
}

const char *
repo_kind(const struct repo *r)
{
	return backend_name(r->be);
}

void
repo_traits(const struct repo *r, struct repo_traits *ret)
{
	struct backend_traits t;

	backend_get_traits(r->be, &t);
	ret->remote = t.remote;
	ret->concurrency = t.concurrency > 0 ? t.concurrency : 1;
}

int
repo_list(struct repo *r, const char *prefix, repo_list_fn fn, void *ctx)
{
	return backend_list(r->be, prefix, fn, ctx);
}

int
repo_stat(struct repo *r, const char *name, uint64_t *ret_size)
{
	return backend_stat(r->be, name, ret_size);
}

int
repo_delete(struct repo *r, const char *name)
{
	return backend_del(r->be, name);
}

int
repo_pack_read_sized(struct repo *r, const uint8_t id[CRYPTO_ID_LEN], uint64_t size,
    struct buf *out)
{
	char name[80];
	int rc;

	repo_pack_name(id, name);
	out->len = 0;
	if ((size == REPO_SIZE_UNKNOWN || size == 0) &&
	    (rc = backend_stat(r->be, name, &size)) != IMDR_OK)
		return rc;
	if (size > repo_pack_max(r))
		return err_set(IMDR_EFORMAT, "%s is %llu bytes, more than any pack can be (%llu); not reading it",
		    name, (unsigned long long)size, (unsigned long long)repo_pack_max(r));
	if (size == 0)
		return err_set(IMDR_EFORMAT, "%s is empty", name);
	return backend_get(r->be, name, 0, size, out);
}

int
repo_pack_read(struct repo *r, const uint8_t id[CRYPTO_ID_LEN], struct buf *out)
{
	return repo_pack_read_sized(r, id, REPO_SIZE_UNKNOWN, out);
}

int
repo_pack_read_range(struct repo *r, const uint8_t id[CRYPTO_ID_LEN], uint64_t off,
    uint64_t n, struct buf *out)
{
	char name[80];

	repo_pack_name(id, name);
	out->len = 0;
	return backend_get(r->be, name, off, n, out);
}

int
repo_pack_write(struct repo *r, const uint8_t id[CRYPTO_ID_LEN], const void *data,
    size_t n)
{
	char name[80];

	repo_pack_name(id, name);
	return backend_put(r->be, name, data, n);
}

int
repo_key_remove(struct repo *r, const char *name)
{
	int rc;

	if (strncmp(name, "keys/", 5) != 0 || strchr(name + 5, '/') != NULL)
		return err_set(IMDR_EINVAL, "%s is not a key slot name", name);
	if (strcmp(name, r->key_name) == 0)
		return err_set(IMDR_EINVAL, "refusing to remove key slot %s: it is the one in use",
		    name + 5);
	rc = backend_stat(r->be, name, NULL);
	if (rc == IMDR_ENOENT)
		return err_set(IMDR_ENOENT, "no key slot %s in %s", name + 5, backend_url(r->be));
	if (rc == IMDR_OK)
		rc = backend_del(r->be, name);
	return rc;
}

const struct repo_config *
repo_config(const struct repo *r)
{
	return &r->cfg;
}

const struct master_key *
repo_keys(const struct repo *r)
{
	return r->key;
}

const char *
repo_key_name(const struct repo *r)
{
	return r->key_name;
}

/* ---- sealed objects ---- */

/* ---- size bounds ---- */

static const char *
kind_name(enum obj_kind kind)
{
	switch (kind) {
	case OBJ_CONFIG: return "config object";
	case OBJ_KEY: return "key slot";
	case OBJ_SNAPSHOT: return "snapshot object";
	case OBJ_INDEX: return "index object";
	case OBJ_LOCK: return "lock";
	case OBJ_PACKHDR: return "pack header";
	case OBJ_DATA: return "data blob";
	case OBJ_TREE: return "tree blob";
	case OBJ_AUDIT: return "audit record";
	case OBJ_HOLD: return "legal hold";
	case OBJ_HOLD_RELEASE: return "hold release";
	case OBJ_PLAN: return "prune plan";
	case OBJ_MOVED: return "moved map";
	}
	return "object";
}

/* pack_header_max: a pack closes once it reaches pack_size, so it holds at
 * most pack_size / BLOB_SEALED_MIN + 1 blobs. */
static uint64_t
pack_header_max(const struct repo *r)
{
	uint64_t blobs = r->cfg.pack_size / BLOB_SEALED_MIN + 1;

	return 1 + 10 + blobs * PACK_ENTRY_MAX + CRYPTO_OVERHEAD;
}

uint64_t
repo_object_max(const struct repo *r, enum obj_kind kind)
{
	uint64_t v;

	switch (kind) {
	case OBJ_CONFIG:
	case OBJ_KEY:
	case OBJ_LOCK:
		return REPO_SMALL_MAX;
	case OBJ_SNAPSHOT:
		return REPO_SNAPSHOT_MAX;
	case OBJ_AUDIT:
		return REPO_AUDIT_MAX;
	case OBJ_HOLD:
	case OBJ_HOLD_RELEASE:
		/* two texts of HOLD_TEXT_MAX, and the snapshot ids it holds */
		return REPO_SNAPSHOT_MAX;
	case OBJ_PLAN:
		/* a pack each, as an index names them */
		return INDEX_READ_MAX;
	case OBJ_MOVED:
		/* a moved map names at most the blobs of one pack */
		return pack_header_max(r) * 2;
	case OBJ_INDEX:
		/* what index_write makes: up to the split, then one pack more */
		v = REPO_INDEX_SPLIT + pack_header_max(r) + CRYPTO_ID_LEN + 20 +
		    CRYPTO_OVERHEAD;
		return v > INDEX_READ_MAX ? v : INDEX_READ_MAX;
	case OBJ_PACKHDR:
		return pack_header_max(r);
	case OBJ_DATA:
		return (uint64_t)r->cfg.chunk_max + BLOB_SEALED_MIN;
	case OBJ_TREE:
		return (uint64_t)REPO_TREE_MAX + BLOB_SEALED_MIN;
	}
	return REPO_SMALL_MAX;
}

uint64_t
repo_pack_max(const struct repo *r)
{
	uint64_t data = repo_object_max(r, OBJ_DATA), tree = repo_object_max(r, OBJ_TREE);

	return r->cfg.pack_size + (data > tree ? data : tree) + pack_header_max(r) + 4;
}

int
repo_size_check(const struct repo *r, enum obj_kind kind, const char *name,
    uint64_t size)
{
	uint64_t max = repo_object_max(r, kind);

	if (size <= max)
		return IMDR_OK;
	return err_set(IMDR_EFORMAT, "%s is %llu bytes, more than any %s can be (%llu); not reading it",
	    name, (unsigned long long)size, kind_name(kind), (unsigned long long)max);
}

int
repo_blob_ref_check(const struct repo *r, enum blob_type type,
    const struct blob_ref *ref)
{
	enum obj_kind kind = type == BLOB_TREE ? OBJ_TREE : OBJ_DATA;
	uint64_t max = repo_object_max(r, kind);
	uint64_t raw_max = type == BLOB_TREE ? REPO_TREE_MAX : r->cfg.chunk_max;
	char idhex[65], packhex[65];

	if (ref->length >= BLOB_SEALED_MIN && ref->length <= max &&
	    ref->raw_length <= raw_max && ref->offset + ref->length <= repo_pack_max(r))
		return IMDR_OK;
	hex_encode(ref->id, CRYPTO_ID_LEN, idhex);
	hex_encode(ref->pack, CRYPTO_ID_LEN, packhex);
	return err_set(IMDR_EFORMAT, "%s %.16s in pack %.16s: %u sealed bytes at %llu for %u in the clear; "
	    "a %s is %llu to %llu sealed and at most %llu in the clear",
	    kind_name(kind), idhex, packhex, ref->length, (unsigned long long)ref->offset,
	    ref->raw_length, kind_name(kind), (unsigned long long)BLOB_SEALED_MIN,
	    (unsigned long long)max, (unsigned long long)raw_max);
}

/* ---- sealed objects ---- */

int
repo_put_sealed(struct repo *r, enum obj_kind kind, const char *name,
    const void *pt, size_t n)
{
	struct buf b = BUF_INIT;
	int rc;

	if ((uint64_t)n + CRYPTO_OVERHEAD > repo_object_max(r, kind))
		return err_set(IMDR_EINVAL, "refusing to write %s: %zu bytes, more than any %s can be (%llu)",
		    name, n + CRYPTO_OVERHEAD, kind_name(kind),
		    (unsigned long long)repo_object_max(r, kind));
	seal_with(r->key->enc, (char)kind, name, pt, n, &b);
	rc = backend_put(r->be, name, b.data, b.len);
	buf_free(&b);
	return rc;
}

struct sealed_ctx {
	const struct repo *r;
	char kind;
	const char *name;
	struct buf *out;	/* the plaintext, or NULL: only check */
};

static int
verify_sealed(void *ctx, struct buf *b)
{
	struct sealed_ctx *c = ctx;
	struct buf scratch = BUF_INIT;
	int rc;

	rc = open_with(c->r->key->enc, c->kind, c->name, b->data, b->len,
	    c->out ? c->out : &scratch);
	crypto_wipe(scratch.data, scratch.len);
	buf_free(&scratch);
	if (rc != IMDR_OK)
		return err_set(IMDR_EAUTH, "object %s failed authentication (corrupt or tampered)",
		    c->name);
	return IMDR_OK;
}

int
repo_open_sealed(const struct repo *r, enum obj_kind kind, const char *name,
    const uint8_t *data, size_t n, struct buf *out)
{
	if (open_with(r->key->enc, (char)kind, name, data, n, out) != IMDR_OK)
		return err_set(IMDR_EAUTH, "object %s failed authentication (corrupt or tampered)",
		    name);
	return IMDR_OK;
}

int
repo_get_sealed_sized(struct repo *r, enum obj_kind kind, const char *name,
    uint64_t size, struct buf *out)
{
	struct sealed_ctx c = { r, (char)kind, name, out };
	struct buf b = BUF_INIT;
	int rc;

	/* a listing that gives 0 may not know the size: ask (a sealed object
	 * is never empty, so this costs a HEAD only where one is due) */
	if ((size == REPO_SIZE_UNKNOWN || size == 0) &&
	    (rc = backend_stat(r->be, name, &size)) != IMDR_OK)
		return rc;
	if ((rc = repo_size_check(r, kind, name, size)) != IMDR_OK)
		return rc;
	if (size < CRYPTO_OVERHEAD)
		return err_set(IMDR_EAUTH, "object %s is truncated (%llu bytes)", name,
		    (unsigned long long)size);
	/* exactly the size asked for (an object swapped meanwhile cannot make
	 * the read larger), from any replica whose bytes authenticate */
	rc = repo_read_verified(r, name, 0, size, &b, verify_sealed, &c);
	buf_free(&b);
	return rc;
}

int
repo_get_sealed(struct repo *r, enum obj_kind kind, const char *name,
    struct buf *out)
{
	return repo_get_sealed_sized(r, kind, name, REPO_SIZE_UNKNOWN, out);
}

static int
read_verified(struct repo *r, const char *name, uint64_t off, uint64_t len,
    struct buf *out, repo_verify_fn verify, void *ctx, int direct)
{
	struct backend_read rd = { 0, 0, direct };
	char *first = NULL;
	int rc;

	for (;;) {
		rc = backend_get_ex(r->be, name, off, len, out, &rd);
		if (rc) {
			if (first) {
				/* no replica left: the damage is the news */
				rc = err_set(IMDR_EAUTH, "%s", first);
			}
			break;
		}
		rc = verify ? verify(ctx, out) : IMDR_OK;
		if (rc != IMDR_EAUTH || backend_replicas(r->be) < 2)
			break;
		backend_bad_object(r->be, rd.replica, name, err_msg(rc));
		if (first == NULL)
			first = xstrdup(err_msg(rc));
		rd.exclude |= 1u << rd.replica;
		err_clear();
	}
	free(first);
	return rc;
}

int
repo_read_verified(struct repo *r, const char *name, uint64_t off,
    uint64_t len, struct buf *out, repo_verify_fn verify, void *ctx)
{
	return read_verified(r, name, off, len, out, verify, ctx, 0);
}

int
repo_read_verified_direct(struct repo *r, const char *name, uint64_t off,
    uint64_t len, struct buf *out, repo_verify_fn verify, void *ctx)
{
	return read_verified(r, name, off, len, out, verify, ctx, 1);
}

/* ---- replicas ---- */

_Static_assert(REPO_MAX_REPLICAS == BACKEND_MAX_REPLICAS, "one limit of replicas");

int
repo_replica_count(const struct repo *r)
{
	return backend_replicas(r->be);
}

void
repo_replica_info(struct repo *r, int i, struct repo_replica *ret)
{
	struct backend_replica_info bi;

	backend_replica_info(r->be, i, &bi);
	memset(ret, 0, sizeof(*ret));
	snprintf(ret->url, sizeof(ret->url), "%s", bi.url ? bi.url : "?");
	snprintf(ret->kind, sizeof(ret->kind), "%s", bi.kind ? bi.kind : "?");
	ret->remote = bi.remote;
	ret->state = bi.state == BACKEND_REPLICA_DOWN ? REPO_REPLICA_DOWN :
	    bi.state == BACKEND_REPLICA_ABSENT ? REPO_REPLICA_ABSENT : REPO_REPLICA_OK;
	ret->lagging = bi.lagging;
	snprintf(ret->why, sizeof(ret->why), "%s", bi.why);
	ret->latency_ms = bi.latency_ms;
	ret->p95_ms = bi.p95_ms;
	ret->served = bi.served;
	ret->served_bytes = bi.served_bytes;
	ret->hedges = bi.hedges;
	ret->hedges_won = bi.hedges_won;
	ret->failovers = bi.failovers;
	ret->bad_objects = bi.bad_objects;
	snprintf(ret->last_bad, sizeof(ret->last_bad), "%s", bi.last_bad);
	ret->errors = bi.errors;
	ret->writes = bi.writes;
	ret->write_bytes = bi.write_bytes;
}

/* view_of: a repository over be with r's keys and config. */
static struct repo *
view_of(const struct repo *r, struct backend *be, int borrowed)
{
	struct repo *v = xcalloc(1, sizeof(*v));

	v->be = be;
	v->borrowed = borrowed;
	v->rd = blobread_new(v);
	v->cfg = r->cfg;
	/* its own copy in locked, undumped memory: each repo frees its key */
	v->key = secmem_alloc(sizeof(*v->key));
	memcpy(v->key, r->key, sizeof(*v->key));
	memcpy(v->key_name, r->key_name, sizeof(v->key_name));
	return v;
}

int
repo_replica_open(struct repo *r, int i, struct repo **ret)
{
	struct backend *be;

	if (i < 0 || i >= backend_replicas(r->be))
		return err_set(IMDR_EINVAL, "%s has no replica %d", backend_url(r->be), i + 1);
	be = backend_replica(r->be, i);
	if (be == NULL) {
		struct backend_replica_info bi;

		backend_replica_info(r->be, i, &bi);
		return err_set(IMDR_ENOENT, "replica %d (%s) %s", i + 1, bi.url, bi.why);
	}
	*ret = view_of(r, be, 1);
	return IMDR_OK;
}

void
repo_abort(struct repo *r)
{
	backend_abort(r->be);
}

void
repo_widen(struct repo *r, int n)
{
	backend_widen(r->be, n);
}

void
repo_set_replica_policy(struct repo *r, const struct repo_replica_policy *p)
{
	struct backend_policy bp = { p->min_writes, p->hedge };

	backend_set_policy(r->be, &bp);
}

int
repo_object_read(struct repo *r, const char *name, struct buf *out,
    repo_verify_fn verify, void *ctx)
{
	return repo_read_verified(r, name, 0, BACKEND_WHOLE, out, verify, ctx);
}

int
repo_object_write(struct repo *r, const char *name, const void *data, size_t n)
{
	return backend_put_new(r->be, name, data, n);
}

/* verify_pack: the header authenticates and so does every blob it lists. */
static int
verify_pack(struct repo *r, const char *name, const uint8_t *data, size_t n)
{
	const char *hex = strrchr(name, '/') + 1;
	uint8_t id[CRYPTO_ID_LEN];
	struct pack_entry *e = NULL;
	struct buf b = BUF_INIT;
	size_t ne = 0, off;
	int rc;

	if (!hex_valid(hex, 64) || hex_decode(hex, id, sizeof(id)) != 0)
		return err_set(IMDR_EFORMAT, "%s is not a pack name", name);
	rc = pack_parse_header(r, id, data, n, &e, &ne);
	for (size_t i = 0; rc == IMDR_OK && i < ne; i++) {
		const struct blob_ref *ref = &e[i].ref;

		if (ref->offset > n || ref->length > n - ref->offset) {
			rc = err_set(IMDR_EFORMAT, "pack %s: a blob lies outside the pack", name);
			break;
		}
		b.len = 0;
		buf_append(&b, data + ref->offset, ref->length);
		rc = repo_blob_open_buf(r, e[i].type, ref, &b, &off);
	}
	buf_free(&b);
	free(e);
	return rc;
}

int
repo_object_verify(struct repo *r, const char *name, const uint8_t *data, size_t n)
{
	static const struct { const char *prefix; char kind; } sealed[] = {
		{ "snapshots/", OBJ_SNAPSHOT }, { "index/", OBJ_INDEX },
		{ "locks/", OBJ_LOCK }, { "audit/", OBJ_AUDIT },
		{ "moved/", OBJ_MOVED }, { "prune/", OBJ_PLAN },
	};
	struct buf b = BUF_INIT;
	int rc;

	if (strncmp(name, "data/", 5) == 0)
		return verify_pack(r, name, data, n);
	buf_append(&b, data, n);
	if (strncmp(name, "holds/", 6) == 0) {
		/* a hold and its release differ in kind by their name */
		size_t len = strlen(name);
		int rel = len > 8 && strcmp(name + len - 8, ".release") == 0;
		struct sealed_ctx c = { r, rel ? OBJ_HOLD_RELEASE : OBJ_HOLD, name, NULL };

		rc = verify_sealed(&c, &b);
		buf_free(&b);
		return rc;
	}
	if (strncmp(name, "keys/", 5) == 0) {
		rc = verify_slot((void *)name, &b);
	} else if (strcmp(name, "config") == 0) {
		struct sealed_ctx c = { r, OBJ_CONFIG, name, NULL };

		rc = verify_sealed(&c, &b);
	} else {
		rc = err_set(IMDR_EUNSUP, "%s: objects of this kind are not known to this version of imdr", name);
		for (size_t i = 0; i < sizeof(sealed) / sizeof(sealed[0]); i++) {
			if (strncmp(name, sealed[i].prefix, strlen(sealed[i].prefix)) == 0) {
				struct sealed_ctx c = { r, sealed[i].kind, name, NULL };

				err_clear();
				rc = verify_sealed(&c, &b);
				break;
			}
		}
	}
	buf_free(&b);
	return rc;
}

static int
verify_object(void *ctx, struct buf *b)
{
	void **c = ctx;

	return repo_object_verify(c[0], c[1], b->data, b->len);
}

int
repo_open_replica(struct repo *src, const char *url, struct repo **ret)
{
	struct backend *be = NULL;
	struct buf cfg = BUF_INIT, there = BUF_INIT;
	void *vc[2] = { src, (void *)"config" };
	int rc;

	rc = repo_object_read(src, "config", &cfg, verify_object, vc);
	if (rc == IMDR_OK)
		rc = backend_open(url, 0, &be);
	if (rc == IMDR_OK)
		rc = backend_get(be, "config", 0, BACKEND_WHOLE, &there);
	if (rc == IMDR_ENOENT && be)
		rc = err_set(IMDR_ENOENT, "no imdr repository at %s; make it a replica with imdr init %s --replica-of %s",
		    backend_url(be), url, backend_url(src->be));
	else if (rc == IMDR_OK && (there.len != cfg.len || memcmp(there.data, cfg.data, cfg.len) != 0))
		rc = err_set(IMDR_EINVAL, "%s holds another repository than %s (their config objects differ); "
		    "a replica is made with imdr init URL --replica-of REPO", backend_url(be),
		    backend_url(src->be));
	if (rc == IMDR_OK) {
		*ret = view_of(src, be, 0);
		be = NULL;
	}
	backend_close(be);
	buf_free(&cfg);
	buf_free(&there);
	return rc;
}

int
repo_init_replica(struct repo *src, const char *url, struct repo **ret,
    int *ret_already)
{
	struct backend *be = NULL;
	struct buf cfg = BUF_INIT, there = BUF_INIT, obj = BUF_INIT;
	struct name_list keys = { NULL, 0, 0 };
	void *vc[2] = { src, (void *)"config" };
	int rc;

	*ret_already = 0;
	if (strncmp(url, "multi:", 6) == 0)
		return err_set(IMDR_EINVAL, "%s: make each replica on its own (imdr init URL --replica-of REPO), then name them all in one multi:", url);
	rc = repo_object_read(src, "config", &cfg, verify_object, vc);
	if (rc)
		goto out;
	rc = backend_open(url, 1, &be);
	if (rc)
		goto out;
	rc = backend_get(be, "config", 0, BACKEND_WHOLE, &there);
	if (rc == IMDR_OK) {
		if (there.len == cfg.len && memcmp(there.data, cfg.data, cfg.len) == 0) {
			*ret_already = 1;
		} else {
			rc = err_set(IMDR_EEXIST, "another repository already exists at %s (its config differs from %s's)",
			    backend_url(be), backend_url(src->be));
			goto out;
		}
	} else if (rc != IMDR_ENOENT) {
		goto out;
	}
	err_clear();
	/* key slots first, the config last: a folder with a config but no
	 * key would be a repository no one can open */
	rc = backend_list(src->be, "keys/", collect_name, &keys);
	for (size_t i = 0; rc == IMDR_OK && i < keys.n; i++) {
		vc[1] = keys.v[i].name;
		rc = repo_object_read(src, keys.v[i].name, &obj, verify_object, vc);
		if (rc == IMDR_OK)
			rc = backend_put(be, keys.v[i].name, obj.data, obj.len);
		if (rc == IMDR_EEXIST) {
			err_clear();
			rc = IMDR_OK;
		}
	}
	if (rc == IMDR_OK && !*ret_already)
		rc = backend_put(be, "config", cfg.data, cfg.len);
	if (rc == IMDR_OK && ret) {
		*ret = view_of(src, be, 0);
		be = NULL;
	}
out:
	backend_close(be);
	name_list_free(&keys);
	buf_free(&cfg);
	buf_free(&there);
	buf_free(&obj);
	return rc;
}

/* ---- blobs ---- */

void
repo_blob_id(const struct repo *r, const void *data, size_t n,
    uint8_t ret_id[CRYPTO_ID_LEN])
{
	crypto_hmac(r->key->mac, data, n, ret_id);
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
repo_blob_seal_level(const struct repo *r, enum blob_type type,
    const uint8_t id[CRYPTO_ID_LEN], const void *data, size_t n, int level,
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
	if (cctx && (level != 0 ? n >= 128 : worth_compressing(data, n, zscratch.data, bound))) {
		c = ZSTD_compressCCtx(cctx, zscratch.data, bound, data, n,
		    level != 0 ? level : r->cfg.zstd_level);
		if (!ZSTD_isError(c) && c < n) {
			enc = 1;
			body = zscratch.data;
			n = c;
		}
	}
	buf_reserve(out, n + 1 + CRYPTO_OVERHEAD);
	crypto_seal2(r->key->enc, aad, aadlen, enc, body, n, out->data + out->len);
	out->len += n + 1 + CRYPTO_OVERHEAD;
}

void
repo_blob_seal(const struct repo *r, enum blob_type type,
    const uint8_t id[CRYPTO_ID_LEN], const void *data, size_t n,
    struct buf *out)
{
	repo_blob_seal_level(r, type, id, data, n, 0, out);
}

/* check_tree_id: a tree blob's id is the MAC of its plaintext; check it, so
 * that a node can never name itself (or an ancestor) as a subfolder: a
 * cycle would need a MAC fixpoint. Tree blobs are small, so this costs
 * little; data blobs are authenticated by their seal, whose associated
 * data names the id. */
static int
check_tree_id(const struct repo *r, enum blob_type type, const struct blob_ref *ref,
    const uint8_t *pt, size_t n)
{
	uint8_t id[CRYPTO_ID_LEN];
	char idhex[65], packhex[65];

	if (type != BLOB_TREE)
		return IMDR_OK;
	crypto_hmac(r->key->mac, pt, n, id);
	if (crypto_memeq(id, ref->id, CRYPTO_ID_LEN))
		return IMDR_OK;
	hex_encode(ref->id, CRYPTO_ID_LEN, idhex);
	hex_encode(ref->pack, CRYPTO_ID_LEN, packhex);
	return err_set(IMDR_EAUTH, "tree node %.16s in pack %.16s: content does not match its id",
	    idhex, packhex);
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
	if (ref->raw_length > (type == BLOB_TREE ? REPO_TREE_MAX : r->cfg.chunk_max))
		return repo_blob_ref_check(r, type, ref);
	ptlen = n - CRYPTO_OVERHEAD;
	if (crypto_open(r->key->enc, aad, aadlen, b->data, n, pt) != IMDR_OK) {
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
		return check_tree_id(r, type, ref, b->data + *ret_off, ptlen - 1);
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
		return check_tree_id(r, type, ref, b->data, d);
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
