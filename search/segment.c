/* segment — one part of the message index (search_impl.h).
 *
 * Building: an in-memory database (SQLite's memdb VFS, so the finished
 * file is one contiguous buffer handed out without a copy), rows and
 * their full-text entries added as messages come. Nothing of it touches
 * the disk.
 *
 * Reading: a read-only VFS ("imdr-seg") whose files are stored segments.
 * A read at an offset maps onto the piece (blob) holding it, fetched
 * through the repository's blob reader (so authenticated before SQLite
 * sees a byte) into a small cache. Policy of that cache: SEG_SLOTS pieces
 * per open connection (128 KiB of 16 KiB pieces; a twin, the connection
 * of a second thread, has its own), least recently used replaced, freed
 * with the connection. Small on purpose: SQLite keeps the pages it read
 * in its own cache, so a piece is wanted again mostly for the next page
 * in it, soon after; 64 slots only touched more fresh memory (a rare
 * phrase: 1,580 -> 1,150 page faults, 5 % of its time). The database is opened immutable: no
 * locks, no journal, no writes.
 *
 * From a remote repository a segment is fetched whole, sealed, at open.
 * Given a cache folder, it is kept there as fetched (still sealed: every
 * piece is authenticated when SQLite reads it, like a piece fetched
 * anew) in one file, DIR/<ident hex>, and the next search reads its
 * pieces from that file instead of the network. Policy: files of the
 * folder, least recently used first, are removed once they hold more
 * than SEG_CACHE_MAX; a file whose piece fails to authenticate is
 * removed and the piece read from the repository. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/err.h"
#include "lib/fsutil.h"
#include "lib/hex.h"
#include "lib/log.h"
#include "lib/timefmt.h"
#include "repo/crypto.h"
#include "search/search_impl.h"

#define SEG_SLOTS 8
/* remote repositories: a segment up to this size is fetched whole, sealed,
 * in a few large ranged reads at open (a lazy read per piece would cost a
 * round trip each); pieces are still opened only when SQLite reads them */
#define SEG_PREFETCH_MAX (256u << 20)
#define SEG_FETCH_RANGE (8u << 20)
#define SEG_CACHE_MAX ((uint64_t)1 << 30)
/* rows go into the full-text index in batches, by one INSERT ... SELECT
 * over the rows added since the last: a third of the cost of a row at a
 * time, and most of it on the indexer's thread while the backup runs */
#define FTS_BATCH 20000
/* and into the table MSG_MULTI rows a statement (a row at a time costs
 * 15 % more of the whole build: each statement's step has its price) */
#define MSG_MULTI 32
#define MSG_COLS 10

static const char schema[] =
    /* a page a piece (SEG_PIECE), and FTS5 leaves (pgsz) that fill one:
     * a term's doclist is a quarter as many leaves to look up (a phrase
     * of three common words: 125 -> 97 pieces read) */
    "PRAGMA page_size=16384;"
    "PRAGMA journal_mode=OFF;"
    "PRAGMA synchronous=OFF;"
    "PRAGMA locking_mode=EXCLUSIVE;"
    "BEGIN;"
    "CREATE TABLE conv(cid INTEGER PRIMARY KEY, key TEXT NOT NULL UNIQUE);"
    "CREATE TABLE msg(rowid INTEGER PRIMARY KEY, cid INTEGER NOT NULL,"
    " mid TEXT NOT NULL, h INTEGER NOT NULL, ts INTEGER NOT NULL,"
    " user TEXT NOT NULL, thread TEXT, flags INTEGER NOT NULL,"
    " text TEXT NOT NULL, files TEXT NOT NULL);"
    /* a conversation's rows, as runs of consecutive rowids: one row a
     * run where an index over (cid, mid, h) took an entry a message
     * (15 % of the segment and of building it) */
    "CREATE TABLE runs(cid INTEGER NOT NULL, first INTEGER NOT NULL,"
    " last INTEGER NOT NULL);"
    "CREATE INDEX runs_cid ON runs(cid);"
    "CREATE VIRTUAL TABLE fts USING fts5(text, files, user, content='msg',"
    " content_rowid='rowid', tokenize='unicode61 remove_diacritics 2',"
    " columnsize=0, detail=full);"
    /* FTS5 flushes its in-memory postings every 1 MiB and merges the
     * b-trees it wrote 4 at a time; flushing every 8 MiB and merging 16
     * at a time builds in 45 % less time (each posting is rewritten fewer
     * times), and queries are as fast (300 000 messages: 0.73 s -> 0.41 s) */
    "INSERT INTO fts(fts, rank) VALUES('automerge', 16);"
    "INSERT INTO fts(fts, rank) VALUES('hashsize', 8388608);"
    "INSERT INTO fts(fts, rank) VALUES('pgsz', 16300);";

/* a row waiting for its statement; strings are offsets into the arena */
struct pend_row {
	int64_t rowid, cid, h, ts;
	int flags;
	size_t mid, user, thread, text, files;	/* SIZE_MAX: NULL */
	int textlen, fileslen;
};

struct seg_builder {
	sqlite3 *db;
	sqlite3_stmt *find_conv, *ins_conv, *ins_msg, *ins_multi, *ins_fts, *ins_run;
	int64_t run_cid, run_first, run_last;	/* the run being added to */
	uint64_t rows;
	uint64_t indexed;		/* rows in the full-text index */
	struct pend_row pend[MSG_MULTI];
	int npend;
	struct buf arena;		/* the pending rows' strings */
	struct buf files;
	const uint8_t *data;
	size_t n;
};

int
seg_sql_error(sqlite3 *db, const char *doing)
{
	return err_set(IMDR_EFORMAT, "message index: %s: %s", doing,
	    db ? sqlite3_errmsg(db) : "out of memory");
}

int64_t
seg_version_hash(const char *line, size_t n)
{
	uint8_t sum[32];
	int64_t h;

	crypto_sha256(line, n, sum);
	memcpy(&h, sum, sizeof(h));
	return h;
}

static int seg_init(void);

static int
prepare_multi(struct seg_builder *b)
{
	struct buf q = BUF_INIT;
	int rc;

	buf_puts(&q, "INSERT INTO msg(rowid, cid, mid, h, ts, user, thread, flags, text, files) VALUES");
	for (int i = 0; i < MSG_MULTI; i++)
		buf_puts(&q, i ? ",(?,?,?,?,?,?,?,?,?,?)" : "(?,?,?,?,?,?,?,?,?,?)");
	rc = sqlite3_prepare_v2(b->db, buf_cstr(&q), -1, &b->ins_multi, NULL);
	buf_free(&q);
	return rc;
}

int
seg_builder_new(struct seg_builder **ret)
{
	struct seg_builder *b;
	int rc = seg_init();

	if (rc)
		return rc;
	b = xcalloc(1, sizeof(*b));

	if (sqlite3_open_v2("imdr-segment", &b->db, SQLITE_OPEN_READWRITE |
	    SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, "memdb") != SQLITE_OK ||
	    sqlite3_exec(b->db, schema, NULL, NULL, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(b->db, "SELECT cid FROM conv WHERE key=?", -1,
	    &b->find_conv, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(b->db, "INSERT INTO conv(key) VALUES(?)", -1,
	    &b->ins_conv, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(b->db, "INSERT INTO msg(rowid, cid, mid, h, ts, user,"
	    " thread, flags, text, files) VALUES(?,?,?,?,?,?,?,?,?,?)", -1,
	    &b->ins_msg, NULL) != SQLITE_OK ||
	    prepare_multi(b) != SQLITE_OK ||
	    sqlite3_prepare_v2(b->db, "INSERT INTO runs(cid, first, last) VALUES(?,?,?)", -1,
	    &b->ins_run, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(b->db, "INSERT INTO fts(rowid, text, files, user)"
	    " SELECT rowid, text, files, user FROM msg WHERE rowid > ?1", -1, &b->ins_fts,
	    NULL) != SQLITE_OK) {
		int rc = seg_sql_error(b->db, "creating a segment");

		seg_builder_free(b);
		return rc;
	}
	*ret = b;
	return IMDR_OK;
}

void
seg_builder_free(struct seg_builder *b)
{
	if (b == NULL)
		return;
	sqlite3_finalize(b->find_conv);
	sqlite3_finalize(b->ins_conv);
	sqlite3_finalize(b->ins_msg);
	sqlite3_finalize(b->ins_multi);
	sqlite3_finalize(b->ins_run);
	sqlite3_finalize(b->ins_fts);
	sqlite3_close(b->db);
	buf_free(&b->arena);
	buf_free(&b->files);
	free(b);
}

sqlite3 *
seg_builder_db(struct seg_builder *b)
{
	return b->db;
}

uint64_t
seg_builder_rows(const struct seg_builder *b)
{
	return b->rows;
}

int
seg_builder_conv(struct seg_builder *b, const char *key, int64_t *ret_cid)
{
	int rc;

	sqlite3_bind_text(b->find_conv, 1, key, -1, SQLITE_STATIC);
	rc = sqlite3_step(b->find_conv);
	if (rc == SQLITE_ROW) {
		*ret_cid = sqlite3_column_int64(b->find_conv, 0);
		sqlite3_reset(b->find_conv);
		return IMDR_OK;
	}
	sqlite3_reset(b->find_conv);
	sqlite3_bind_text(b->ins_conv, 1, key, -1, SQLITE_STATIC);
	rc = sqlite3_step(b->ins_conv);
	sqlite3_reset(b->ins_conv);
	if (rc != SQLITE_DONE)
		return seg_sql_error(b->db, "adding a conversation");
	*ret_cid = sqlite3_last_insert_rowid(b->db);
	return IMDR_OK;
}

/* bind_row: the pending row p as the MSG_COLS parameters from first on. */
static void
bind_row(struct seg_builder *b, sqlite3_stmt *m, int first, const struct pend_row *p)
{
	const char *a = (const char *)b->arena.data;

	sqlite3_bind_int64(m, first, p->rowid);
	sqlite3_bind_int64(m, first + 1, p->cid);
	sqlite3_bind_text(m, first + 2, a + p->mid, -1, SQLITE_STATIC);
	sqlite3_bind_int64(m, first + 3, p->h);
	sqlite3_bind_int64(m, first + 4, p->ts);
	sqlite3_bind_text(m, first + 5, a + p->user, -1, SQLITE_STATIC);
	if (p->thread != SIZE_MAX)
		sqlite3_bind_text(m, first + 6, a + p->thread, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(m, first + 6);
	sqlite3_bind_int(m, first + 7, p->flags);
	sqlite3_bind_text(m, first + 8, a + p->text, p->textlen, SQLITE_STATIC);
	sqlite3_bind_text(m, first + 9, a + p->files, p->fileslen, SQLITE_STATIC);
}

/* flush_rows: the pending rows into the table: MSG_MULTI with one
 * statement, fewer one by one. */
static int
flush_rows(struct seg_builder *b)
{
	int rc = SQLITE_DONE;

	if (b->npend == MSG_MULTI) {
		for (int i = 0; i < MSG_MULTI; i++)
			bind_row(b, b->ins_multi, 1 + i * MSG_COLS, &b->pend[i]);
		rc = sqlite3_step(b->ins_multi);
		sqlite3_reset(b->ins_multi);
	} else {
		for (int i = 0; i < b->npend && rc == SQLITE_DONE; i++) {
			bind_row(b, b->ins_msg, 1, &b->pend[i]);
			rc = sqlite3_step(b->ins_msg);
			sqlite3_reset(b->ins_msg);
		}
	}
	b->npend = 0;
	b->arena.len = 0;
	if (rc != SQLITE_DONE)
		return seg_sql_error(b->db, "adding a message");
	return IMDR_OK;
}

/* index_pending: the rows not yet in the full-text index, into it. */
static int
index_pending(struct seg_builder *b)
{
	int rc;

	if (b->indexed == b->rows)
		return IMDR_OK;
	rc = flush_rows(b);
	if (rc)
		return rc;
	sqlite3_bind_int64(b->ins_fts, 1, (sqlite3_int64)b->indexed);
	rc = sqlite3_step(b->ins_fts);
	sqlite3_reset(b->ins_fts);
	if (rc != SQLITE_DONE)
		return seg_sql_error(b->db, "indexing messages");
	b->indexed = b->rows;
	return IMDR_OK;
}

/* arena_put: a copy of s (n bytes, or up to its NUL when n < 0) in the
 * arena, NUL-terminated; its offset. */
static size_t
arena_put(struct buf *a, const char *s, int n)
{
	size_t off = a->len;

	buf_append(a, s, n < 0 ? strlen(s) : (size_t)n);
	buf_putc(a, '\0');
	return off;
}

/* flush_run: the run being added to, into the runs table. */
static int
flush_run(struct seg_builder *b)
{
	int rc;

	if (b->run_first == 0)
		return IMDR_OK;
	sqlite3_bind_int64(b->ins_run, 1, b->run_cid);
	sqlite3_bind_int64(b->ins_run, 2, b->run_first);
	sqlite3_bind_int64(b->ins_run, 3, b->run_last);
	rc = sqlite3_step(b->ins_run);
	sqlite3_reset(b->ins_run);
	b->run_first = 0;
	if (rc != SQLITE_DONE)
		return seg_sql_error(b->db, "adding a run of rows");
	return IMDR_OK;
}

static int
insert(struct seg_builder *b, int64_t cid, const char *mid, int64_t h, int64_t ts,
    const char *user, const char *thread, int flags, const char *text, int textlen,
    const char *files, int fileslen)
{
	struct pend_row *p;

	if (b->run_first && (cid != b->run_cid || (int64_t)b->rows != b->run_last)) {
		int rc = flush_run(b);

		if (rc)
			return rc;
	}
	p = &b->pend[b->npend++];
	p->rowid = (int64_t)++b->rows;
	if (b->run_first == 0) {
		b->run_cid = cid;
		b->run_first = p->rowid;
	}
	b->run_last = p->rowid;
	p->cid = cid;
	p->h = h;
	p->ts = ts;
	p->flags = flags;
	p->mid = arena_put(&b->arena, mid ? mid : "", -1);
	p->user = arena_put(&b->arena, user ? user : "", -1);
	p->thread = thread ? arena_put(&b->arena, thread, -1) : SIZE_MAX;
	p->text = arena_put(&b->arena, text ? text : "", textlen);
	p->textlen = (int)(b->arena.len - 1 - p->text);
	p->files = arena_put(&b->arena, files ? files : "", fileslen);
	p->fileslen = (int)(b->arena.len - 1 - p->files);
	if (b->npend == MSG_MULTI) {
		int rc = flush_rows(b);

		if (rc) {
			b->rows -= MSG_MULTI;
			return rc;
		}
	}
	if (b->rows - b->indexed >= FTS_BATCH)
		return index_pending(b);
	return IMDR_OK;
}

int
seg_builder_add(struct seg_builder *b, int64_t cid, const struct chat_msg *m, int64_t h)
{
	int flags = 0;

	b->files.len = 0;
	for (size_t i = 0; i < m->natt; i++) {
		if (i)
			buf_putc(&b->files, '\n');
		buf_puts(&b->files, m->att[i].name);
	}
	buf_cstr(&b->files);
	if (m->edited_ms)
		flags |= SEGF_EDITED;
	if (m->deleted)
		flags |= SEGF_DELETED;
	if (m->natt)
		flags |= SEGF_ATT;
	return insert(b, cid, m->id, h, m->ts_ms, m->user, m->thread, flags, m->text, -1,
	    (const char *)b->files.data, (int)b->files.len);
}

int
seg_builder_add_row(struct seg_builder *b, int64_t cid, sqlite3_stmt *from)
{
	/* from: mid, h, ts, user, thread, flags, text, files */
	return insert(b, cid, (const char *)sqlite3_column_text(from, 0),
	    sqlite3_column_int64(from, 1), sqlite3_column_int64(from, 2),
	    (const char *)sqlite3_column_text(from, 3),
	    (const char *)sqlite3_column_text(from, 4), sqlite3_column_int(from, 5),
	    (const char *)sqlite3_column_text(from, 6), sqlite3_column_bytes(from, 6),
	    (const char *)sqlite3_column_text(from, 7), sqlite3_column_bytes(from, 7));
}

int
seg_builder_finish(struct seg_builder *b, const uint8_t **ret_data, size_t *ret_n)
{
	sqlite3_int64 n = 0;
	unsigned char *p;

	if (b->data == NULL) {
		int64_t t0 = time_mono_ns();
		int rc = index_pending(b);

		if (rc == IMDR_OK)
			rc = flush_run(b);
		if (rc)
			return rc;
		/* FTS5's b-trees (one a flush: 15 for 300 000 messages) into
		 * one: a query looks each term up once, not once a b-tree,
		 * and reads one contiguous doclist (a rare phrase of three
		 * common words: 170 pieces read -> 103, 13 ms -> 8 ms; the
		 * finish takes 0.17 s longer). Costs nothing when there is
		 * one already, as in a daily backup's segment. */
		if (sqlite3_exec(b->db, "INSERT INTO fts(fts) VALUES('optimize');", NULL, NULL,
		    NULL) != SQLITE_OK)
			return seg_sql_error(b->db, "merging the full-text index");
		if (sqlite3_exec(b->db, "COMMIT;", NULL, NULL, NULL) != SQLITE_OK)
			return seg_sql_error(b->db, "finishing a segment");
		debugf("segment of %llu rows: finished in %.3f s", (unsigned long long)b->rows,
		    (double)(time_mono_ns() - t0) / 1e9);
		p = sqlite3_serialize(b->db, "main", &n, SQLITE_SERIALIZE_NOCOPY);
		if (p == NULL || n <= 0)
			return err_set(IMDR_ENOMEM, "message index: cannot serialize a segment");
		b->data = p;
		b->n = (size_t)n;
	}
	*ret_data = b->data;
	*ret_n = b->n;
	return IMDR_OK;
}

/* ---- reading stored segments ---- */

struct slot {
	size_t idx;
	struct buf b;			/* the piece as read and opened */
	size_t off;			/* its plaintext from here */
	uint64_t used;
};

struct seg {
	struct repo *r;
	struct blob_ref *pieces;
	size_t npieces;
	size_t piece_size;		/* of every piece but the last */
	uint64_t size;
	char *what;			/* names it in messages */
	char name[48];			/* its file name in the VFS */
	struct slot slot[SEG_SLOTS];
	struct buf *sealed;		/* remote: every piece as stored, or NULL */
	int cfd;			/* or the cache file holding them, or -1 */
	char *cpath;
	uint64_t *coff;			/* each piece's offset in it */
	uint64_t clock, reads;
	int rc;				/* the first repository error met */
	char *msg;
	sqlite3 *db;
	int twin;			/* pieces, sealed and coff are its
					 * original's (seg_open_twin) */
	struct seg *next;		/* in the registry */
};

struct segfile {
	sqlite3_file base;
	struct seg *s;
};

static pthread_mutex_t reg_mu = PTHREAD_MUTEX_INITIALIZER;
static struct seg *registry;
static uint64_t reg_serial;
static pthread_once_t vfs_once = PTHREAD_ONCE_INIT;
static int vfs_ok;

/* piece: piece idx's plaintext, from the connection's slots or read into
 * the least recently used one. The slot's buffer is the one the blob is
 * read and opened in (plaintext at its off): no copy of a piece, and a
 * slot keeps its allocation from one piece to the next. */
static const uint8_t *
piece(struct seg *s, size_t idx, size_t *ret_len)
{
	struct slot *victim = &s->slot[0];
	int rc;

	for (int i = 0; i < SEG_SLOTS; i++) {
		struct slot *sl = &s->slot[i];

		if (sl->used && sl->idx == idx) {
			sl->used = ++s->clock;
			*ret_len = sl->b.len - sl->off;
			return sl->b.data + sl->off;
		}
		if (sl->used < victim->used)
			victim = sl;
	}
	victim->used = 0;
	victim->b.len = 0;
	rc = IMDR_EAUTH;
	if (s->cfd >= 0) {
		size_t len = s->pieces[idx].length;

		buf_reserve(&victim->b, len);
		if (pread(s->cfd, victim->b.data, len, (off_t)s->coff[idx]) == (ssize_t)len) {
			victim->b.len = len;
			rc = repo_blob_open_buf(s->r, BLOB_DATA, &s->pieces[idx], &victim->b,
			    &victim->off);
		}
		if (rc) {
			/* damaged on disk: forget the file, read the repository */
			err_clear();
			warn0("%s: the cached copy in %s is damaged; removed", s->what, s->cpath);
			unlink(s->cpath);
			close(s->cfd);
			s->cfd = -1;
		}
	} else if (s->sealed && s->sealed[idx].len) {
		buf_append(&victim->b, s->sealed[idx].data, s->sealed[idx].len);
		rc = repo_blob_open_buf(s->r, BLOB_DATA, &s->pieces[idx], &victim->b, &victim->off);
		if (rc)
			err_clear();	/* read it again: from another replica */
	}
	if (rc)
		rc = repo_blob_read_buf(s->r, BLOB_DATA, &s->pieces[idx], &victim->b, &victim->off);
	if (rc) {
		victim->b.len = 0;
		if (s->rc == IMDR_OK) {
			s->rc = rc;
			s->msg = xstrdup(err_msg(rc));
		}
		return NULL;
	}
	s->reads++;
	victim->idx = idx;
	victim->used = ++s->clock;
	*ret_len = victim->b.len - victim->off;
	return victim->b.data + victim->off;
}

static int
f_read(sqlite3_file *f, void *out, int amt, sqlite3_int64 off)
{
	struct seg *s = ((struct segfile *)f)->s;
	uint8_t *o = out;
	size_t left = (size_t)amt;
	uint64_t pos = (uint64_t)off;

	while (left > 0 && pos < s->size) {
		size_t idx = (size_t)(pos / s->piece_size), in = (size_t)(pos % s->piece_size), len, n;
		const uint8_t *p;

		if (idx >= s->npieces)
			break;
		p = piece(s, idx, &len);
		if (p == NULL)
			return SQLITE_IOERR_READ;
		if (in >= len)
			break;
		n = len - in < left ? len - in : left;
		memcpy(o, p + in, n);
		o += n;
		left -= n;
		pos += n;
	}
	if (left > 0) {
		memset(o, 0, left);
		return SQLITE_IOERR_SHORT_READ;
	}
	return SQLITE_OK;
}

static int
f_close(sqlite3_file *f)
{
	(void)f;
	return SQLITE_OK;
}

static int
f_write(sqlite3_file *f, const void *p, int amt, sqlite3_int64 off)
{
	(void)f; (void)p; (void)amt; (void)off;
	return SQLITE_READONLY;
}

static int
f_truncate(sqlite3_file *f, sqlite3_int64 size)
{
	(void)f; (void)size;
	return SQLITE_READONLY;
}

static int
f_sync(sqlite3_file *f, int flags)
{
	(void)f; (void)flags;
	return SQLITE_OK;
}

static int
f_size(sqlite3_file *f, sqlite3_int64 *ret)
{
	*ret = (sqlite3_int64)((struct segfile *)f)->s->size;
	return SQLITE_OK;
}

static int
f_lock(sqlite3_file *f, int level)
{
	(void)f; (void)level;
	return SQLITE_OK;
}

static int
f_reserved(sqlite3_file *f, int *ret)
{
	(void)f;
	*ret = 0;
	return SQLITE_OK;
}

static int
f_control(sqlite3_file *f, int op, void *arg)
{
	(void)f; (void)op; (void)arg;
	return SQLITE_NOTFOUND;
}

static int
f_sector(sqlite3_file *f)
{
	(void)f;
	return 4096;
}

static int
f_caps(sqlite3_file *f)
{
	(void)f;
	return SQLITE_IOCAP_IMMUTABLE;
}

static const sqlite3_io_methods seg_io = {
	.iVersion = 1,
	.xClose = f_close,
	.xRead = f_read,
	.xWrite = f_write,
	.xTruncate = f_truncate,
	.xSync = f_sync,
	.xFileSize = f_size,
	.xLock = f_lock,
	.xUnlock = f_lock,
	.xCheckReservedLock = f_reserved,
	.xFileControl = f_control,
	.xSectorSize = f_sector,
	.xDeviceCharacteristics = f_caps,
};

static int
v_open(sqlite3_vfs *vfs, const char *name, sqlite3_file *f, int flags, int *out_flags)
{
	struct segfile *sf = (struct segfile *)f;
	struct seg *s;

	(void)vfs;
	f->pMethods = NULL;
	if (name == NULL || !(flags & SQLITE_OPEN_MAIN_DB))
		return SQLITE_CANTOPEN;
	pthread_mutex_lock(&reg_mu);
	for (s = registry; s && strcmp(s->name, name) != 0; s = s->next)
		;
	pthread_mutex_unlock(&reg_mu);
	if (s == NULL)
		return SQLITE_CANTOPEN;
	sf->s = s;
	f->pMethods = &seg_io;
	if (out_flags)
		*out_flags = SQLITE_OPEN_READONLY;
	return SQLITE_OK;
}

static int
v_delete(sqlite3_vfs *vfs, const char *name, int sync)
{
	(void)vfs; (void)name; (void)sync;
	return SQLITE_READONLY;
}

static int
v_access(sqlite3_vfs *vfs, const char *name, int flags, int *ret)
{
	(void)vfs; (void)name; (void)flags;
	*ret = 0;	/* no journal, no WAL: nothing but the database exists */
	return SQLITE_OK;
}

static int
v_fullpath(sqlite3_vfs *vfs, const char *name, int n, char *out)
{
	(void)vfs;
	snprintf(out, (size_t)n, "%s", name);
	return SQLITE_OK;
}

static int
v_random(sqlite3_vfs *vfs, int n, char *out)
{
	sqlite3_vfs *d = sqlite3_vfs_find(NULL);

	(void)vfs;
	return d->xRandomness(d, n, out);
}

static int
v_sleep(sqlite3_vfs *vfs, int us)
{
	sqlite3_vfs *d = sqlite3_vfs_find(NULL);

	(void)vfs;
	return d->xSleep(d, us);
}

static int
v_time(sqlite3_vfs *vfs, double *ret)
{
	sqlite3_vfs *d = sqlite3_vfs_find(NULL);

	(void)vfs;
	return d->xCurrentTime(d, ret);
}

static int
v_lasterror(sqlite3_vfs *vfs, int n, char *out)
{
	(void)vfs;
	if (n > 0)
		out[0] = '\0';
	return 0;
}

static sqlite3_vfs seg_vfs = {
	.iVersion = 1,
	.szOsFile = sizeof(struct segfile),
	.mxPathname = 64,
	.zName = "imdr-seg",
	.xOpen = v_open,
	.xDelete = v_delete,
	.xAccess = v_access,
	.xFullPathname = v_fullpath,
	.xRandomness = v_random,
	.xSleep = v_sleep,
	.xCurrentTime = v_time,
	.xGetLastError = v_lasterror,
};

static void
vfs_register(void)
{
	/* SQLite's memory statistics take a global mutex on every allocation;
	 * nothing here reads them (5 % of building a segment). Only search/
	 * uses SQLite, and this runs before its first call. */
	sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
	vfs_ok = sqlite3_initialize() == SQLITE_OK &&
	    sqlite3_vfs_register(&seg_vfs, 0) == SQLITE_OK;
}

static int
seg_init(void)
{
	pthread_once(&vfs_once, vfs_register);
	if (!vfs_ok)
		return err_set(IMDR_ENOMEM, "cannot set up SQLite for the message index");
	return IMDR_OK;
}

static int
keep_sealed(void *ctx, size_t i, const uint8_t *p, size_t n)
{
	struct seg *s = ctx;

	buf_append(&s->sealed[i], p, n);
	return IMDR_OK;
}

/* ---- the cache of sealed segments (remote repositories) ---- */

struct cfile {
	char *path;
	int64_t mtime;
	uint64_t size;
};

static int
cmp_cfile(const void *a, const void *b)
{
	const struct cfile *x = a, *y = b;

	return x->mtime < y->mtime ? -1 : x->mtime > y->mtime;
}

/* cache_trim: the folder's oldest files removed while it holds over max. */
static void
cache_trim(const char *dir, uint64_t max)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	struct cfile *v = NULL;
	size_t n = 0, cap = 0;
	uint64_t total = 0;

	if (d == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		struct stat st;

		if (de->d_name[0] == '.' || fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 ||
		    !S_ISREG(st.st_mode))
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 16;
			v = xrealloc(v, cap * sizeof(*v));
		}
		v[n].path = xasprintf("%s/%s", dir, de->d_name);
		v[n].mtime = (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec;
		v[n].size = (uint64_t)st.st_size;
		total += v[n++].size;
	}
	closedir(d);
	if (n > 1)
		qsort(v, n, sizeof(*v), cmp_cfile);
	for (size_t i = 0; i < n; i++) {
		if (total > max && unlink(v[i].path) == 0)
			total -= v[i].size;
		free(v[i].path);
	}
	free(v);
}

/* cache_open: the segment's file in dir, when it holds exactly its sealed
 * pieces' bytes (a file of another size is no entry). */
static void
cache_open(struct seg *s, const char *dir)
{
	uint8_t ident[32];
	char hex[65];
	struct buf ids = BUF_INIT;
	uint64_t total = 0;
	struct stat st;

	for (size_t i = 0; i < s->npieces; i++)
		buf_append(&ids, s->pieces[i].id, CRYPTO_ID_LEN);
	crypto_sha256(ids.data ? ids.data : (const uint8_t *)"", ids.len, ident);
	buf_free(&ids);
	hex_encode(ident, sizeof(ident), hex);
	s->cpath = xasprintf("%s/%s", dir, hex);
	s->coff = xmalloc((s->npieces ? s->npieces : 1) * sizeof(*s->coff));
	for (size_t i = 0; i < s->npieces; i++) {
		s->coff[i] = total;
		total += s->pieces[i].length;
	}
	s->cfd = open(s->cpath, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (s->cfd >= 0 && (fstat(s->cfd, &st) != 0 || !S_ISREG(st.st_mode) ||
	    (uint64_t)st.st_size != total)) {
		close(s->cfd);
		s->cfd = -1;
	}
	if (s->cfd >= 0)
		utimensat(AT_FDCWD, s->cpath, NULL, 0);	/* recently used */
}

/* cache_keep: write the fetched pieces to the segment's file (all or
 * nothing: a temporary file renamed into place), then trim the folder. */
static void
cache_keep(struct seg *s, const char *dir)
{
	char *tmp;
	int fd, ok = 1;

	if (mkdir_p(dir) != 0)
		return;
	tmp = xasprintf("%s.tmp-%d", s->cpath, (int)getpid());
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0) {
		free(tmp);
		return;
	}
	for (size_t i = 0; ok && i < s->npieces; i++)
		ok = s->sealed[i].len == s->pieces[i].length &&
		    write_full(fd, s->sealed[i].data, s->sealed[i].len) == 0;
	if (close(fd) != 0)
		ok = 0;
	if (!ok || rename(tmp, s->cpath) != 0)
		unlink(tmp);	/* a full disk: the cache keeps less */
	free(tmp);
	cache_trim(dir, SEG_CACHE_MAX);
}

/* seg_register: s under a fresh name in the VFS's registry. */
static void
seg_register(struct seg *s)
{
	pthread_mutex_lock(&reg_mu);
	snprintf(s->name, sizeof(s->name), "imdr-seg-%llu", (unsigned long long)++reg_serial);
	s->next = registry;
	registry = s;
	pthread_mutex_unlock(&reg_mu);
}

/* seg_connect: s's database connection; s is closed on failure. */
static int
seg_connect(struct seg *s, struct seg **ret)
{
	char uri[80];
	int rc;

	snprintf(uri, sizeof(uri), "file:%s?immutable=1", s->name);
	if (sqlite3_open_v2(uri, &s->db, SQLITE_OPEN_READONLY | SQLITE_OPEN_URI |
	    SQLITE_OPEN_NOMUTEX, "imdr-seg") != SQLITE_OK) {
		rc = seg_error(s, s->db, "opening");
		seg_close(s);
		return rc;
	}
	*ret = s;
	return IMDR_OK;
}

int
seg_open(struct repo *r, const struct blob_ref *pieces, size_t n, uint64_t size,
    const char *what, const char *cache_dir, struct seg **ret)
{
	struct seg *s;
	uint64_t total = 0;
	size_t psize;
	int rc = seg_init();

	if (rc)
		return rc;
	/* every piece but the last of one size, a power of two */
	psize = n > 1 ? pieces[0].raw_length : SEG_PIECE_MAX;
	if (psize < SEG_PIECE_MIN || psize > SEG_PIECE_MAX || (psize & (psize - 1)) != 0)
		return err_set(IMDR_EFORMAT, "%s: pieces of %zu bytes", what, psize);
	for (size_t i = 0; i < n; i++) {
		if ((i + 1 < n && pieces[i].raw_length != psize) ||
		    pieces[i].raw_length > psize || pieces[i].raw_length == 0)
			return err_set(IMDR_EFORMAT, "%s: piece %zu of %zu has %u bytes", what, i + 1,
			    n, pieces[i].raw_length);
		total += pieces[i].raw_length;
	}
	if (total != size || size < 512)
		return err_set(IMDR_EFORMAT, "%s: its pieces hold %llu bytes, not %llu", what,
		    (unsigned long long)total, (unsigned long long)size);
	s = xcalloc(1, sizeof(*s));
	s->r = r;
	s->cfd = -1;
	s->pieces = xmalloc((n ? n : 1) * sizeof(*s->pieces));
	memcpy(s->pieces, pieces, n * sizeof(*pieces));
	s->npieces = n;
	s->piece_size = psize;
	s->size = size;
	s->what = xstrdup(what);
	seg_register(s);
	{
		struct repo_traits tr;

		repo_traits(r, &tr);
		if (tr.remote && size <= SEG_PREFETCH_MAX && cache_dir)
			cache_open(s, cache_dir);
		if (tr.remote && size <= SEG_PREFETCH_MAX && s->cfd < 0) {
			s->sealed = xcalloc(n ? n : 1, sizeof(*s->sealed));
			rc = repo_blob_fetch(r, pieces, n, SEG_FETCH_RANGE, keep_sealed, s);
			if (rc == IMDR_OK && cache_dir)
				cache_keep(s, cache_dir);
			if (rc) {
				/* a pack gone (prune moved its blobs) or failing:
				 * the pieces are read one by one, through the
				 * reader that follows moved maps and replicas */
				for (size_t i = 0; i < n; i++)
					buf_free(&s->sealed[i]);
				free(s->sealed);
				s->sealed = NULL;
				err_clear();
			}
		}
	}
	return seg_connect(s, ret);
}

int
seg_open_twin(struct seg *orig, struct seg **ret)
{
	struct seg *s = xcalloc(1, sizeof(*s));

	s->r = orig->r;
	s->twin = 1;
	s->pieces = orig->pieces;
	s->npieces = orig->npieces;
	s->piece_size = orig->piece_size;
	s->size = orig->size;
	s->what = xstrdup(orig->what);
	s->sealed = orig->sealed;
	s->coff = orig->coff;
	/* its own descriptor: piece() closes it when the file is damaged */
	s->cfd = orig->cfd >= 0 ? fcntl(orig->cfd, F_DUPFD_CLOEXEC, 0) : -1;
	s->cpath = orig->cpath ? xstrdup(orig->cpath) : NULL;
	seg_register(s);
	return seg_connect(s, ret);
}

void
seg_close(struct seg *s)
{
	struct seg **pp;

	if (s == NULL)
		return;
	sqlite3_close(s->db);
	pthread_mutex_lock(&reg_mu);
	for (pp = &registry; *pp && *pp != s; pp = &(*pp)->next)
		;
	if (*pp)
		*pp = s->next;
	pthread_mutex_unlock(&reg_mu);
	for (int i = 0; i < SEG_SLOTS; i++)
		buf_free(&s->slot[i].b);
	if (!s->twin) {
		for (size_t i = 0; s->sealed && i < s->npieces; i++)
			buf_free(&s->sealed[i]);
		free(s->sealed);
		free(s->coff);
		free(s->pieces);
	}
	if (s->cfd >= 0)
		close(s->cfd);
	free(s->cpath);
	free(s->what);
	free(s->msg);
	free(s);
}

sqlite3 *
seg_db(struct seg *s)
{
	return s->db;
}

uint64_t
seg_piece_reads(const struct seg *s)
{
	return s->reads;
}

int
seg_error(struct seg *s, sqlite3 *db, const char *doing)
{
	if (s && s->rc)
		return err_set(s->rc, "%s: %s", s->what, s->msg);
	return err_set(IMDR_EFORMAT, "%s: %s: %s", s ? s->what : "message index", doing,
	    db ? sqlite3_errmsg(db) : "out of memory");
}

int
seg_prepare_key_rows(sqlite3 *db, const char *cols, const char *more, sqlite3_stmt **ret)
{
	struct buf q = BUF_INIT;
	int rc;

	buf_printf(&q, "SELECT %s FROM ", cols);
	if (seg_has_runs(db))
		buf_puts(&q, "runs r JOIN msg m ON m.rowid BETWEEN r.first AND r.last"
		    " WHERE r.cid = (SELECT cid FROM conv WHERE key=?1)");
	else
		buf_puts(&q, "msg m WHERE m.cid = (SELECT cid FROM conv WHERE key=?1)");
	if (more)
		buf_printf(&q, " AND %s", more);
	rc = sqlite3_prepare_v2(db, buf_cstr(&q), -1, ret, NULL);
	buf_free(&q);
	return rc;
}

int
seg_has_runs(sqlite3 *db)
{
	sqlite3_stmt *st = NULL;
	int yes = 0;

	if (sqlite3_prepare_v2(db, "SELECT 1 FROM sqlite_schema WHERE type='table' AND name='runs'",
	    -1, &st, NULL) == SQLITE_OK)
		yes = sqlite3_step(st) == SQLITE_ROW;
	sqlite3_finalize(st);
	return yes;
}
