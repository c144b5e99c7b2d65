/* inode — the inode table (fs_impl.h): two chained hash tables over the
 * same records, one by number, one by (parent, name).
 *
 * A record is what the kernel may ask about again: numbers, lookup count,
 * attributes, where its entry lives, then its variable part — the node
 * reference (folders, and a file whose folder's record cannot lend it),
 * the name, a view's tag and a link's target, each only when there is
 * one. The kernel keeps an inode for every entry a reader looked up, so
 * the table holds one record per file read (78,000 after reading every
 * file of a 20,000-conversation workspace): a file shares the reference
 * of the folder holding it (`up`, counted in the folder's `holds`), and a
 * folder forgotten by the kernel while one of its files is not (forgets
 * come in any order) leaves the table but stays in memory until the last
 * such file goes. */
#include <errno.h>
#include <stddef.h>
#include <sys/mman.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fs/fs_impl.h"
#include "lib/hash.h"

enum {
	R_NODE = 1,	/* the tail starts with a struct blob_ref */
	R_VIEW = 2,	/* the name is followed by a view's tag */
	R_TARGET = 4,	/* then by a link's target */
	R_PINNED = 8,	/* a fixed top inode: never forgotten */
	R_UNKEYED = 16,	/* replaced under its name (a link retargeted) */
	R_GONE = 32,	/* forgotten, kept for the files it holds */
};

struct irec {
	struct irec *hnext;	/* by ino */
	struct irec *knext;	/* by (parent, name) */
	struct irec *up;	/* a file's folder, whose node it is in */
	uint64_t ino, parent, nlookup, size;
	int64_t mtime_ns;
	uint32_t mode, nlink;
	uint32_t index;		/* file/symlink: entry index in its node */
	uint32_t holds;		/* records whose up this is */
	uint8_t kind, type, flags;
	/* [struct blob_ref] name\0 [view\0] [target\0] */
	_Alignas(struct blob_ref) char tail[];
};

/* ---- the slab ---- */

#define SLAB_BLOCK (64u << 10)
#define SLAB_ALIGN 16
#define SLAB_CLASSES 64		/* records up to 1 KiB; larger ones are malloc'd */

#if defined(__SANITIZE_ADDRESS__)
#define SLAB_OFF 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SLAB_OFF 1
#endif
#endif

struct islab {
	void *blocks;		/* each starts with the next one's address */
	char *at, *end;		/* what is left of the newest block */
	void *free[SLAB_CLASSES];	/* freed records by class */
};

static size_t
slab_class(size_t size)
{
	return (size + SLAB_ALIGN - 1) / SLAB_ALIGN - 1;
}

static void *
slab_alloc(struct islab *s, size_t size)
{
	size_t c = slab_class(size), want = (c + 1) * SLAB_ALIGN;
	void *p;

#ifdef SLAB_OFF
	c = SLAB_CLASSES;
#endif
	if (c >= SLAB_CLASSES)
		return xcalloc(1, size);
	if (s->free[c]) {
		p = s->free[c];
		memcpy(&s->free[c], p, sizeof(void *));
		return memset(p, 0, want);
	}
	if (s->at == NULL || (size_t)(s->end - s->at) < want) {
		char *b = mmap(NULL, SLAB_BLOCK, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

		if (b == MAP_FAILED)
			return xcalloc(1, size);	/* xcalloc aborts if that fails too */
		memcpy(b, &s->blocks, sizeof(void *));
		s->blocks = b;
		s->at = b + SLAB_ALIGN;
		s->end = b + SLAB_BLOCK;
	}
	p = s->at;
	s->at += want;
	return p;	/* fresh pages are zero */
}

static void
slab_free(struct islab *s, void *p, size_t size)
{
	size_t c = slab_class(size);

#ifdef SLAB_OFF
	c = SLAB_CLASSES;
#endif
	if (c >= SLAB_CLASSES) {
		free(p);
		return;
	}
	memcpy(p, &s->free[c], sizeof(void *));
	s->free[c] = p;
}

static void
slab_destroy(struct islab *s)
{
	void *b = s->blocks;

	while (b) {
		void *next;

		memcpy(&next, b, sizeof(void *));
		munmap(b, SLAB_BLOCK);
		b = next;
	}
	free(s);
}

/* ---- records ---- */

static const struct blob_ref *
rec_node(const struct irec *i)
{
	if (i->flags & R_NODE)
		return (const struct blob_ref *)(const void *)i->tail;
	return i->up ? rec_node(i->up) : NULL;
}

static const char *
rec_name(const struct irec *i)
{
	return i->tail + (i->flags & R_NODE ? sizeof(struct blob_ref) : 0);
}

static const char *
rec_view(const struct irec *i)
{
	const char *name = rec_name(i);

	return i->flags & R_VIEW ? name + strlen(name) + 1 : "";
}

static size_t rec_size(const struct irec *i);

static const char *
rec_target(const struct irec *i)
{
	const char *p = rec_name(i);

	if (!(i->flags & R_TARGET))
		return NULL;
	p += strlen(p) + 1;
	return i->flags & R_VIEW ? p + strlen(p) + 1 : p;
}

static size_t
rec_size(const struct irec *i)
{
	const char *t = rec_target(i), *v = rec_view(i);

	return offsetof(struct irec, tail) + (i->flags & R_NODE ? sizeof(struct blob_ref) : 0) +
	    strlen(rec_name(i)) + 1 + (i->flags & R_VIEW ? strlen(v) + 1 : 0) +
	    (t ? strlen(t) + 1 : 0);
}

static void
rec_free(struct fs *fs, struct irec *i)
{
	slab_free(fs->islab, i, rec_size(i));
}

static uint64_t
key_hash(uint64_t parent, const char *name)
{
	uint64_t h = HASH_FNV_INIT ^ parent * 0x9E3779B97F4A7C15ULL;

	return hash_fnv_more(h, name, strlen(name));
}

/* tab_hash: the bucket of (parent, name) in the name table. Names come
 * from exports, so the table uses the process's keyed hash (lib/hash.h:
 * no export can choose names that all fall in one bucket); key_hash, the
 * same in every process, only seeds inode numbers. */
static uint64_t
tab_hash(uint64_t parent, const char *name)
{
	return hash_keyed_str(name) ^ parent * 0x9E3779B97F4A7C15ULL;
}

/* ino_bucket: numbers are not uniform (a folder's entries differ only in
 * their low bits), so they are mixed before indexing the table. */
static size_t
ino_bucket(uint64_t ino, size_t cap)
{
	ino ^= ino >> 33;
	ino *= 0xff51afd7ed558ccdULL;
	ino ^= ino >> 33;
	return (size_t)(ino & (cap - 1));
}

void
inode_table_init(struct fs *fs)
{
	fs->icap = 4096;
	fs->itab = xcalloc(fs->icap, sizeof(*fs->itab));
	fs->ktab = xcalloc(fs->icap, sizeof(*fs->ktab));
	fs->islab = xcalloc(1, sizeof(*fs->islab));
}

void
inode_table_free(struct fs *fs)
{
	/* files first: a folder's record may be kept alive by them only */
	for (int pass = 0; pass < 2; pass++) {
		for (size_t b = 0; b < fs->icap; b++) {
			struct irec **pp = &fs->itab[b];

			while (*pp) {
				struct irec *i = *pp;

				if (pass == 0 && i->up == NULL) {
					pp = &i->hnext;
					continue;
				}
				*pp = i->hnext;
				if (i->up && --i->up->holds == 0 && (i->up->flags & R_GONE))
					rec_free(fs, i->up);
				rec_free(fs, i);
			}
		}
	}
	free(fs->itab);
	free(fs->ktab);
	slab_destroy(fs->islab);
}

static struct irec *
rec_find(struct fs *fs, uint64_t ino)
{
	for (struct irec *i = fs->itab[ino_bucket(ino, fs->icap)]; i; i = i->hnext)
		if (i->ino == ino)
			return i;
	return NULL;
}

static struct irec *
key_find(struct fs *fs, uint64_t parent, const char *name)
{
	for (struct irec *i = fs->ktab[tab_hash(parent, name) & (fs->icap - 1)]; i;
	    i = i->knext)
		if (i->parent == parent && strcmp(rec_name(i), name) == 0)
			return i;
	return NULL;
}

/* table_grow: a load of one record a bucket at most (the tables are 16
 * bytes a bucket: at a load of 1/2 they cost what a file's record does). */
static void
table_grow(struct fs *fs)
{
	size_t ncap = fs->icap * 2;
	struct irec **it = xcalloc(ncap, sizeof(*it)), **kt = xcalloc(ncap, sizeof(*kt));

	for (size_t b = 0; b < fs->icap; b++) {
		struct irec *i = fs->itab[b];

		while (i) {
			struct irec *next = i->hnext;

			i->hnext = it[ino_bucket(i->ino, ncap)];
			it[ino_bucket(i->ino, ncap)] = i;
			i = next;
		}
		i = fs->ktab[b];
		while (i) {
			struct irec *next = i->knext;
			size_t k = tab_hash(i->parent, rec_name(i)) & (ncap - 1);

			i->knext = kt[k];
			kt[k] = i;
			i = next;
		}	/* unkeyed records are in itab only */
	}
	free(fs->itab);
	free(fs->ktab);
	fs->itab = it;
	fs->ktab = kt;
	fs->icap = ncap;
}

static void unkey(struct fs *fs, struct irec *i);

/* new_number: parent's number mixed into the high bits, the position in
 * the listing in the low 24, probing on collision. */
static uint64_t
new_number(struct fs *fs, uint64_t parent, const char *name, const struct inode *proto)
{
	uint64_t ino;

	if (proto->order && proto->order < (1u << 24))
		ino = (key_hash(parent, "") >> 1 & ~(uint64_t)0xFFFFFF) | proto->order;
	else
		ino = key_hash(parent, name) >> 1;
	if (proto->target)	/* a link: a number per target */
		ino ^= hash_fnv_str(proto->target) >> 1;
	if (ino < INO_FIRST_DYNAMIC)
		ino += INO_FIRST_DYNAMIC;
	while (rec_find(fs, ino) != NULL)
		ino++;
	return ino;
}

/* rec_new: a record of proto; a file or link inside a snapshot borrows
 * the node reference of its folder's record when that is the same. */
static struct irec *
rec_new(struct fs *fs, uint64_t parent, const char *name, const struct inode *proto)
{
	struct irec *up = NULL, *i;
	size_t nlen = strlen(name) + 1, vlen = proto->view[0] ? strlen(proto->view) + 1 : 0;
	size_t tlen = proto->target ? strlen(proto->target) + 1 : 0, size;
	char *p;

	if (proto->kind == K_ENTRY && proto->type != CAT_DIR) {
		const struct blob_ref *n;

		up = rec_find(fs, parent);
		n = up ? rec_node(up) : NULL;
		if (n == NULL || memcmp(n, &proto->node, sizeof(*n)) != 0)
			up = NULL;
	}
	size = offsetof(struct irec, tail) + (up ? 0 : sizeof(struct blob_ref)) + nlen + vlen + tlen;
	i = slab_alloc(fs->islab, size);
	i->up = up;
	if (up)
		up->holds++;
	i->parent = parent;
	i->size = proto->size;
	i->mtime_ns = proto->mtime_ns;
	i->mode = proto->mode;
	i->nlink = proto->nlink;
	i->index = proto->index;
	i->kind = (uint8_t)proto->kind;
	i->type = proto->type;
	p = i->tail;
	if (!up) {
		i->flags |= R_NODE;
		memcpy(p, &proto->node, sizeof(proto->node));
		p += sizeof(proto->node);
	}
	memcpy(p, name, nlen);
	p += nlen;
	if (vlen) {
		i->flags |= R_VIEW;
		memcpy(p, proto->view, vlen);
		p += vlen;
	}
	if (tlen) {
		i->flags |= R_TARGET;
		memcpy(p, proto->target, tlen);
	}
	return i;
}

uint64_t
inode_ref(struct fs *fs, uint64_t parent, const char *name,
    const struct inode *proto, uint64_t fixed_ino)
{
	struct irec *i = key_find(fs, parent, name);
	size_t k;

	if (i && rec_target(i) && proto->target && strcmp(rec_target(i), proto->target) != 0) {
		/* a link whose target changed (latest, at/TIME after a new
		 * backup): the old inode keeps its text until the kernel
		 * forgets it; the name gets a new one */
		unkey(fs, i);
		i = NULL;
	}
	if (i) {
		i->nlookup++;
		return i->ino;
	}
	if (fs->n_inodes >= fs->icap)
		table_grow(fs);
	i = rec_new(fs, parent, name, proto);
	i->ino = fixed_ino ? fixed_ino : new_number(fs, parent, name, proto);
	i->nlookup = 1;
	if (fixed_ino)
		i->flags |= R_PINNED;
	i->hnext = fs->itab[ino_bucket(i->ino, fs->icap)];
	fs->itab[ino_bucket(i->ino, fs->icap)] = i;
	k = tab_hash(parent, name) & (fs->icap - 1);
	i->knext = fs->ktab[k];
	fs->ktab[k] = i;
	fs->n_inodes++;
	return i->ino;
}

/* unkey: take i out of the (parent, name) table; it stays findable by
 * number until forgotten. */
static void
unkey(struct fs *fs, struct irec *i)
{
	struct irec **pp = &fs->ktab[tab_hash(i->parent, rec_name(i)) & (fs->icap - 1)];

	while (*pp && *pp != i)
		pp = &(*pp)->knext;
	if (*pp)
		*pp = i->knext;
	i->knext = NULL;
	i->flags |= R_UNKEYED;
}

void
inode_forget(struct fs *fs, uint64_t ino, uint64_t n)
{
	struct irec *i = rec_find(fs, ino), **pp, *up;

	if (i == NULL || (i->flags & R_PINNED))
		return;
	if (i->nlookup > n) {
		i->nlookup -= n;
		return;
	}
	for (pp = &fs->itab[ino_bucket(ino, fs->icap)]; *pp != i; pp = &(*pp)->hnext)
		;
	*pp = i->hnext;
	if (!(i->flags & R_UNKEYED))
		unkey(fs, i);
	fs->n_inodes--;
	if (i->holds > 0) {	/* files in it are still known: keep its node */
		i->flags |= R_GONE;
		return;
	}
	up = i->up;
	rec_free(fs, i);
	if (up && --up->holds == 0 && (up->flags & R_GONE))
		rec_free(fs, up);
}

int
inode_copy(struct fs *fs, uint64_t ino, struct inode *ret)
{
	struct irec *i;

	pthread_mutex_lock(&fs->imu);
	i = rec_find(fs, ino);
	if (i) {
		const struct blob_ref *n = rec_node(i);

		memset(ret, 0, sizeof(*ret));
		ret->ino = i->ino;
		ret->parent = i->parent;
		ret->kind = i->kind;
		snprintf(ret->view, sizeof(ret->view), "%s", rec_view(i));
		ret->type = i->type;
		ret->mode = i->mode;
		ret->nlink = i->nlink;
		ret->mtime_ns = i->mtime_ns;
		ret->size = i->size;
		if (n)
			ret->node = *n;
		ret->index = i->index;
	}
	pthread_mutex_unlock(&fs->imu);
	return i ? 0 : ENOENT;
}

char *
inode_target(struct fs *fs, uint64_t ino)
{
	struct irec *i;
	char *t = NULL;

	pthread_mutex_lock(&fs->imu);
	i = rec_find(fs, ino);
	if (i && rec_target(i))
		t = xstrdup(rec_target(i));
	pthread_mutex_unlock(&fs->imu);
	return t;
}
