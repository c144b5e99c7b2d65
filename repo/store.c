/* store — see store.h.
 *
 * Threads: `workers` take chunks from a queue (bounded in bytes), hash them,
 * claim new ids in the index, compress+seal them and append them to the open
 * pack of their type, in the order the chunks were added (a file's chunks
 * lie one after the other in its packs, so a reader fetches a run of them
 * with one request). A full pack is sealed and queued for `uploaders`
 * (queue bounded in packs). After every INDEX_EVERY uploaded packs an index
 * object lists them, so a backup killed halfway loses at most that many
 * packs' worth of index (and index_recover finds even those).
 *
 * Memory bound: queue_bytes + (uploaders + UPLOAD_QUEUE) finished packs +
 * two open packs + one chunk per worker + ORDER_SLOTS sealed chunks waiting
 * for their turn + POOL_BYTES of free chunk buffers + one spare pack
 * buffer. */
#include "repo/store.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/err.h"
#include "repo/repo_impl.h"
#include "lib/log.h"
#include "repo/pack.h"

#define INDEX_EVERY 8
#define UPLOAD_QUEUE 1
/* sealed chunks that finished before one added earlier, waiting for it */
#define ORDER_SLOTS 16

/* Chunk buffers come from a pool by size class (256 KiB .. 4 MiB), each
 * with a small header naming its class: a chunk's memory is reused for a
 * later chunk instead of being unmapped and faulted in again, which cost
 * a page fault every 4 KiB of input. */
#define POOL_MIN_SHIFT 18
#define POOL_CLASSES 5
#define POOL_HDR 16
#define POOL_KEEP 12		/* free buffers kept per class */
#define POOL_BYTES (8u << 20)	/* and in all */

struct pool {
	pthread_mutex_t mu;
	void *free[POOL_CLASSES][POOL_KEEP];
	int n[POOL_CLASSES];
	size_t bytes;
};

struct job {
	struct job *next;
	uint64_t seq;		/* order of store_add */
	enum blob_type type;
	int level;		/* zstd level, 0: the repository's, probed */
	uint8_t *data;
	size_t n;
	uint8_t *slot;
};

struct upload {
	struct upload *next;
	uint8_t id[CRYPTO_ID_LEN];
	struct buf data;
	struct pack_entry *e;
	size_t n;
};

struct store {
	struct pool pool;
	struct buf spare_pack;		/* an uploaded pack's memory; guarded by mu */
	struct repo *r;
	struct index *idx;
	size_t pack_target;

	pthread_mutex_t mu;
	pthread_cond_t cv_job, cv_space, cv_idle;
	struct job *head, *tail;
	size_t queued_bytes, queue_cap;
	int inflight, stop;
	pthread_t *workers;
	int nworkers;

	pthread_mutex_t pack_mu;
	struct pack_writer *open[2];

	/* workers append in the order of seq: a chunk sealed before its turn
	 * waits in a slot; whoever appends the turn's chunk appends those
	 * after it too */
	pthread_mutex_t order_mu;
	pthread_cond_t cv_turn;
	uint64_t next_seq;		/* the next store_add's; under mu */
	uint64_t turn;			/* the next to append */
	struct order_slot {
		int ready;		/* sealed (or a duplicate: nothing) */
		enum blob_type type;
		uint8_t id[CRYPTO_ID_LEN];
		struct buf sealed;	/* len 0: a duplicate */
		uint32_t raw;
	} slot[ORDER_SLOTS];

	pthread_cond_t cv_upload, cv_uspace, cv_uidle;
	struct upload *uhead, *utail;
	size_t uqueued, ucap;
	int uinflight, ustop;
	pthread_t *uploaders;
	int nuploaders;

	/* uploaded packs not yet in an index object; guarded by mu */
	uint8_t (*pend_ids)[CRYPTO_ID_LEN];
	uint64_t *pend_sizes;
	struct pack_entry **pend_e;
	size_t *pend_n;
	size_t npend, pend_cap;
	pthread_mutex_t index_mu;	/* one index writer at a time */

	int err;
	char *errmsg;		/* the first error's message, whole */
	struct store_stats st;
};

static int
pool_class(size_t n)
{
	for (int c = 0; c < POOL_CLASSES; c++)
		if (n <= ((size_t)1 << (POOL_MIN_SHIFT + c)))
			return c;
	return -1;
}

uint8_t *
store_alloc(struct store *s, size_t n)
{
	int c = n >= ((size_t)1 << (POOL_MIN_SHIFT - 2)) ? pool_class(n) : -1;
	uint8_t *p = NULL;

	if (c >= 0) {
		pthread_mutex_lock(&s->pool.mu);
		if (s->pool.n[c] > 0) {
			p = s->pool.free[c][--s->pool.n[c]];
			s->pool.bytes -= (size_t)1 << (POOL_MIN_SHIFT + c);
		}
		pthread_mutex_unlock(&s->pool.mu);
		if (p == NULL)
			p = xmalloc(POOL_HDR + ((size_t)1 << (POOL_MIN_SHIFT + c)));
	} else
		p = xmalloc(POOL_HDR + (n ? n : 1));
	*(int *)p = c;
	return p + POOL_HDR;
}

void
store_release(struct store *s, uint8_t *data)
{
	uint8_t *p;
	int c;

	if (data == NULL)
		return;
	p = data - POOL_HDR;
	c = *(int *)p;
	if (c >= 0) {
		pthread_mutex_lock(&s->pool.mu);
		size_t size = (size_t)1 << (POOL_MIN_SHIFT + c);

		if (s->pool.n[c] < POOL_KEEP && s->pool.bytes + size <= POOL_BYTES) {
			s->pool.free[c][s->pool.n[c]++] = p;
			s->pool.bytes += size;
			p = NULL;
		}
		pthread_mutex_unlock(&s->pool.mu);
	}
	free(p);
}

static void
set_error(struct store *s, int rc)
{
	pthread_mutex_lock(&s->mu);
	if (s->err == IMDR_OK) {
		s->err = rc;
		s->errmsg = xstrdup(err_msg(rc));
	}
	pthread_mutex_unlock(&s->mu);
}

static int
get_error(struct store *s)
{
	int rc;

	pthread_mutex_lock(&s->mu);
	rc = s->err;
	if (rc)
		err_set(rc, "%s", s->errmsg);
	pthread_mutex_unlock(&s->mu);
	return rc;
}

static void
enqueue_upload(struct store *s, struct pack_writer *pw)
{
	struct upload *u = xcalloc(1, sizeof(*u));

	memcpy(u->id, pack_writer_id(pw), CRYPTO_ID_LEN);
	pack_writer_finish(pw, s->r, &u->data, &u->e, &u->n);
	pack_writer_free(pw);
	pthread_mutex_lock(&s->mu);
	while (s->uqueued >= s->ucap)
		pthread_cond_wait(&s->cv_uspace, &s->mu);
	if (s->utail)
		s->utail->next = u;
	else
		s->uhead = u;
	s->utail = u;
	s->uqueued++;
	pthread_cond_signal(&s->cv_upload);
	pthread_mutex_unlock(&s->mu);
}

/* add_sealed: append to the open pack of type; returns the location. */
static void
add_sealed(struct store *s, enum blob_type type, const uint8_t *id,
    const struct buf *sealed, uint32_t raw, struct blob_ref *ret_ref)
{
	struct pack_writer *full = NULL;
	struct blob_ref ref;

	pthread_mutex_lock(&s->pack_mu);
	if (s->open[type] == NULL) {
		s->open[type] = pack_writer_new(type);
		if (type == BLOB_DATA) {
			struct buf spare;

			pthread_mutex_lock(&s->mu);
			spare = s->spare_pack;
			s->spare_pack = (struct buf)BUF_INIT;
			pthread_mutex_unlock(&s->mu);
			pack_writer_adopt(s->open[type], &spare);
			pack_writer_reserve(s->open[type], s->pack_target +
			    repo_config(s->r)->chunk_max + 65536);
		}
	}
	pack_writer_add(s->open[type], id, sealed->data, sealed->len, raw, &ref);
	index_set_location(s->idx, (uint8_t)type, &ref);
	if (pack_writer_size(s->open[type]) >= s->pack_target) {
		full = s->open[type];
		s->open[type] = NULL;
	}
	pthread_mutex_unlock(&s->pack_mu);
	pthread_mutex_lock(&s->mu);
	s->st.blobs_new++;
	s->st.bytes_new += raw;
	s->st.bytes_stored += sealed->len;
	pthread_mutex_unlock(&s->mu);
	if (full)
		enqueue_upload(s, full);
	if (ret_ref)
		*ret_ref = ref;
}

/* commit: job seq's sealed blob (sealed->len 0: a duplicate, nothing to
 * append) into its pack when its turn comes; a blob ahead of its turn is
 * parked (its buffer swapped for an empty one) and appended by whoever
 * appends the one before it. Waits only when ORDER_SLOTS are parked. */
static void
commit(struct store *s, uint64_t seq, enum blob_type type, const uint8_t *id,
    struct buf *sealed, uint32_t raw)
{
	struct order_slot *sl;

	pthread_mutex_lock(&s->order_mu);
	while (seq - s->turn >= ORDER_SLOTS)
		pthread_cond_wait(&s->cv_turn, &s->order_mu);
	if (seq != s->turn) {
		sl = &s->slot[seq % ORDER_SLOTS];
		sl->type = type;
		memcpy(sl->id, id, CRYPTO_ID_LEN);
		sl->raw = raw;
		sl->sealed = (struct buf)BUF_INIT;
		if (sealed->len > 0) {	/* the worker gets a new buffer */
			sl->sealed = *sealed;
			*sealed = (struct buf)BUF_INIT;
		}
		sl->ready = 1;
		pthread_mutex_unlock(&s->order_mu);
		return;
	}
	/* appends stay under order_mu: they are one at a time anyway */
	if (sealed->len > 0)
		add_sealed(s, type, id, sealed, raw, NULL);
	s->turn++;
	while ((sl = &s->slot[s->turn % ORDER_SLOTS])->ready) {
		if (sl->sealed.len > 0)
			add_sealed(s, sl->type, sl->id, &sl->sealed, sl->raw, NULL);
		buf_free(&sl->sealed);
		sl->ready = 0;
		s->turn++;
	}
	pthread_cond_broadcast(&s->cv_turn);
	pthread_mutex_unlock(&s->order_mu);
}

static void *
worker_main(void *arg)
{
	struct store *s = arg;
	struct buf sealed = BUF_INIT;

	for (;;) {
		struct job *j;
		uint8_t id[CRYPTO_ID_LEN];

		pthread_mutex_lock(&s->mu);
		while (s->head == NULL && !s->stop)
			pthread_cond_wait(&s->cv_job, &s->mu);
		if (s->head == NULL) {
			pthread_mutex_unlock(&s->mu);
			break;
		}
		j = s->head;
		s->head = j->next;
		if (s->head == NULL)
			s->tail = NULL;
		s->queued_bytes -= j->n;
		s->inflight++;
		pthread_cond_signal(&s->cv_space);
		pthread_mutex_unlock(&s->mu);

		repo_blob_id(s->r, j->data, j->n, id);
		memcpy(j->slot, id, CRYPTO_ID_LEN);
		sealed.len = 0;
		if (index_claim(s->idx, id)) {
			repo_blob_seal_level(s->r, j->type, id, j->data, j->n, j->level, &sealed);
		} else {
			pthread_mutex_lock(&s->mu);
			s->st.blobs_dup++;
			pthread_mutex_unlock(&s->mu);
		}
		commit(s, j->seq, j->type, id, &sealed, (uint32_t)j->n);
		store_release(s, j->data);
		free(j);

		pthread_mutex_lock(&s->mu);
		if (--s->inflight == 0 && s->head == NULL)
			pthread_cond_broadcast(&s->cv_idle);
		pthread_mutex_unlock(&s->mu);
	}
	buf_free(&sealed);
	repo_thread_cleanup();
	return NULL;
}

/* write_pending_index: one index object for the packs uploaded since the
 * last one. With force, also when fewer than INDEX_EVERY are waiting. */
static int
write_pending_index(struct store *s, int force)
{
	uint8_t (*ids)[CRYPTO_ID_LEN];
	uint64_t *sizes;
	struct pack_entry **e;
	size_t *n, count;
	int rc;

	pthread_mutex_lock(&s->index_mu);
	pthread_mutex_lock(&s->mu);
	count = s->npend;
	if (count == 0 || (!force && count < INDEX_EVERY)) {
		pthread_mutex_unlock(&s->mu);
		pthread_mutex_unlock(&s->index_mu);
		return IMDR_OK;
	}
	ids = s->pend_ids;
	sizes = s->pend_sizes;
	e = s->pend_e;
	n = s->pend_n;
	s->pend_ids = NULL;
	s->pend_sizes = NULL;
	s->pend_e = NULL;
	s->pend_n = NULL;
	s->npend = s->pend_cap = 0;
	pthread_mutex_unlock(&s->mu);
	rc = index_write(s->r, (const uint8_t (*)[CRYPTO_ID_LEN])ids, sizes, e, n, count);
	for (size_t i = 0; i < count; i++)
		free(e[i]);
	free(ids);
	free(sizes);
	free(e);
	free(n);
	pthread_mutex_unlock(&s->index_mu);
	return rc;
}

static void *
uploader_main(void *arg)
{
	struct store *s = arg;

	for (;;) {
		struct upload *u;
		char name[80];
		int rc, failed;

		pthread_mutex_lock(&s->mu);
		while (s->uhead == NULL && !s->ustop)
			pthread_cond_wait(&s->cv_upload, &s->mu);
		if (s->uhead == NULL) {
			pthread_mutex_unlock(&s->mu);
			break;
		}
		u = s->uhead;
		s->uhead = u->next;
		if (s->uhead == NULL)
			s->utail = NULL;
		s->uqueued--;
		s->uinflight++;
		pthread_cond_signal(&s->cv_uspace);
		pthread_mutex_unlock(&s->mu);

		repo_pack_name(u->id, name);
		pthread_mutex_lock(&s->mu);
		failed = s->err != IMDR_OK;
		pthread_mutex_unlock(&s->mu);
		rc = failed ? IMDR_OK : backend_put(repo_be(s->r), name,
		    u->data.data, u->data.len);
		if (rc) {
			set_error(s, rc);
			free(u->e);
		} else if (!failed) {
			pthread_mutex_lock(&s->mu);
			s->st.packs_uploaded++;
			s->st.bytes_uploaded += u->data.len;
			if (s->npend == s->pend_cap) {
				s->pend_cap = s->pend_cap ? s->pend_cap * 2 : 16;
				s->pend_ids = xrealloc(s->pend_ids, s->pend_cap * sizeof(*s->pend_ids));
				s->pend_sizes = xrealloc(s->pend_sizes, s->pend_cap * sizeof(*s->pend_sizes));
				s->pend_e = xrealloc(s->pend_e, s->pend_cap * sizeof(*s->pend_e));
				s->pend_n = xrealloc(s->pend_n, s->pend_cap * sizeof(*s->pend_n));
			}
			memcpy(s->pend_ids[s->npend], u->id, CRYPTO_ID_LEN);
			s->pend_sizes[s->npend] = u->data.len;
			s->pend_e[s->npend] = u->e;
			s->pend_n[s->npend] = u->n;
			s->npend++;
			pthread_mutex_unlock(&s->mu);
			rc = write_pending_index(s, 0);
			if (rc)
				set_error(s, rc);
		} else {
			free(u->e);
		}
		pthread_mutex_lock(&s->mu);
		if (s->spare_pack.cap < u->data.cap) {
			struct buf t = s->spare_pack;

			s->spare_pack = u->data;
			u->data = t;
		}
		pthread_mutex_unlock(&s->mu);
		buf_free(&u->data);
		free(u);

		pthread_mutex_lock(&s->mu);
		if (--s->uinflight == 0 && s->uhead == NULL)
			pthread_cond_broadcast(&s->cv_uidle);
		pthread_mutex_unlock(&s->mu);
	}
	return NULL;
}

int
store_new(struct repo *r, struct index *idx, const struct store_opts *opts,
    struct store **ret)
{
	struct store *s = xcalloc(1, sizeof(*s));
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);

	s->r = r;
	s->idx = idx;
	s->pack_target = repo_config(r)->pack_size;
	s->nworkers = opts && opts->workers > 0 ? opts->workers : (int)(ncpu > 0 ? ncpu : 2);
	s->nuploaders = opts && opts->uploaders > 0 ? opts->uploaders : 2;
	s->queue_cap = opts && opts->queue_bytes ? opts->queue_bytes : 16U << 20;
	s->ucap = UPLOAD_QUEUE;
	pthread_mutex_init(&s->mu, NULL);
	pthread_mutex_init(&s->pool.mu, NULL);
	pthread_mutex_init(&s->pack_mu, NULL);
	pthread_mutex_init(&s->index_mu, NULL);
	pthread_mutex_init(&s->order_mu, NULL);
	pthread_cond_init(&s->cv_turn, NULL);
	pthread_cond_init(&s->cv_job, NULL);
	pthread_cond_init(&s->cv_space, NULL);
	pthread_cond_init(&s->cv_idle, NULL);
	pthread_cond_init(&s->cv_upload, NULL);
	pthread_cond_init(&s->cv_uspace, NULL);
	pthread_cond_init(&s->cv_uidle, NULL);
	s->workers = xcalloc((size_t)s->nworkers, sizeof(pthread_t));
	s->uploaders = xcalloc((size_t)s->nuploaders, sizeof(pthread_t));
	for (int i = 0; i < s->nworkers; i++)
		pthread_create(&s->workers[i], NULL, worker_main, s);
	for (int i = 0; i < s->nuploaders; i++)
		pthread_create(&s->uploaders[i], NULL, uploader_main, s);
	*ret = s;
	return IMDR_OK;
}

int
store_add(struct store *s, enum blob_type type, uint8_t *data, size_t n,
    uint8_t *id_slot)
{
	return store_add_level(s, type, data, n, 0, id_slot);
}

int
store_add_level(struct store *s, enum blob_type type, uint8_t *data, size_t n,
    int level, uint8_t *id_slot)
{
	struct job *j;
	int rc;

	rc = get_error(s);
	if (rc) {
		store_release(s, data);
		return rc;
	}
	j = xcalloc(1, sizeof(*j));
	j->type = type;
	j->level = level;
	j->data = data;
	j->n = n;
	j->slot = id_slot;
	pthread_mutex_lock(&s->mu);
	/* Admit one oversized job into an empty queue so progress continues. */
	while (s->queued_bytes > 0 && s->queued_bytes + n > s->queue_cap)
		pthread_cond_wait(&s->cv_space, &s->mu);
	j->seq = s->next_seq++;
	if (s->tail)
		s->tail->next = j;
	else
		s->head = j;
	s->tail = j;
	s->queued_bytes += n;
	s->st.bytes_in += n;
	pthread_cond_signal(&s->cv_job);
	pthread_mutex_unlock(&s->mu);
	return IMDR_OK;
}

int
store_put_sync(struct store *s, enum blob_type type, const void *data, size_t n,
    struct blob_ref *ret_ref)
{
	uint8_t id[CRYPTO_ID_LEN];
	struct buf sealed = BUF_INIT;
	int rc;

	repo_blob_id(s->r, data, n, id);
	for (;;) {
		if (index_lookup(s->idx, id, NULL, ret_ref) == IMDR_OK) {
			pthread_mutex_lock(&s->mu);
			s->st.blobs_dup++;
			pthread_mutex_unlock(&s->mu);
			return IMDR_OK;
		}
		if (index_claim(s->idx, id))
			break;
		/* Another thread is sealing the same blob right now. */
		usleep(100);
	}
	repo_blob_seal(s->r, type, id, data, n, &sealed);
	add_sealed(s, type, id, &sealed, (uint32_t)n, ret_ref);
	buf_free(&sealed);
	rc = get_error(s);
	return rc;
}

int
store_flush(struct store *s)
{
	struct pack_writer *pw[2];
	int rc;

	pthread_mutex_lock(&s->mu);
	while (s->head != NULL || s->inflight > 0)
		pthread_cond_wait(&s->cv_idle, &s->mu);
	pthread_mutex_unlock(&s->mu);
	pthread_mutex_lock(&s->pack_mu);
	pw[0] = s->open[0];
	pw[1] = s->open[1];
	s->open[0] = s->open[1] = NULL;
	pthread_mutex_unlock(&s->pack_mu);
	for (int i = 0; i < 2; i++)
		if (pw[i])
			enqueue_upload(s, pw[i]);
	pthread_mutex_lock(&s->mu);
	while (s->uhead != NULL || s->uinflight > 0)
		pthread_cond_wait(&s->cv_uidle, &s->mu);
	pthread_mutex_unlock(&s->mu);
	rc = get_error(s);
	if (rc == IMDR_OK) {
		rc = write_pending_index(s, 1);
		if (rc)
			set_error(s, rc);
	}
	return rc;
}

void
store_get_stats(struct store *s, struct store_stats *ret)
{
	pthread_mutex_lock(&s->mu);
	*ret = s->st;
	pthread_mutex_unlock(&s->mu);
}

void
store_free(struct store *s)
{
	if (s == NULL)
		return;
	pthread_mutex_lock(&s->mu);
	s->stop = 1;
	pthread_cond_broadcast(&s->cv_job);
	pthread_mutex_unlock(&s->mu);
	for (int i = 0; i < s->nworkers; i++)
		pthread_join(s->workers[i], NULL);
	/* Workers are gone: nothing will fill packs; stop the uploaders
	 * after they drain what is queued. */
	pthread_mutex_lock(&s->mu);
	s->ustop = 1;
	pthread_cond_broadcast(&s->cv_upload);
	pthread_mutex_unlock(&s->mu);
	for (int i = 0; i < s->nuploaders; i++)
		pthread_join(s->uploaders[i], NULL);
	pack_writer_free(s->open[0]);
	pack_writer_free(s->open[1]);
	for (size_t i = 0; i < s->npend; i++)
		free(s->pend_e[i]);
	free(s->pend_ids);
	free(s->pend_sizes);
	free(s->pend_e);
	free(s->pend_n);
	free(s->workers);
	free(s->uploaders);
	pthread_mutex_destroy(&s->mu);
	pthread_mutex_destroy(&s->pack_mu);
	pthread_mutex_destroy(&s->index_mu);
	pthread_mutex_destroy(&s->order_mu);
	pthread_cond_destroy(&s->cv_turn);
	for (int i = 0; i < ORDER_SLOTS; i++)
		buf_free(&s->slot[i].sealed);
	for (int c = 0; c < POOL_CLASSES; c++)
		while (s->pool.n[c] > 0)
			free(s->pool.free[c][--s->pool.n[c]]);
	buf_free(&s->spare_pack);
	free(s->errmsg);
	free(s);
}
