/* inode — the inode table (fs_impl.h): two chained hash tables over the
 * same inodes, one by number, one by (parent, name). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "fs/fs_impl.h"
#include "lib/hash.h"

static uint64_t
key_hash(uint64_t parent, const char *name)
{
	uint64_t h = HASH_FNV_INIT ^ parent * 0x9E3779B97F4A7C15ULL;

	return hash_fnv_more(h, name, strlen(name));
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
}

static void
inode_free(struct inode *i)
{
	free(i->name);
	free(i->target);
	free(i);
}

void
inode_table_free(struct fs *fs)
{
	for (size_t b = 0; b < fs->icap; b++) {
		struct inode *i = fs->itab[b];

		while (i) {
			struct inode *next = i->hnext;

			inode_free(i);
			i = next;
		}
	}
	free(fs->itab);
	free(fs->ktab);
}

struct inode *
inode_find(struct fs *fs, uint64_t ino)
{
	for (struct inode *i = fs->itab[ino_bucket(ino, fs->icap)]; i; i = i->hnext)
		if (i->ino == ino)
			return i;
	return NULL;
}

static struct inode *
key_find(struct fs *fs, uint64_t parent, const char *name)
{
	for (struct inode *i = fs->ktab[key_hash(parent, name) & (fs->icap - 1)]; i;
	    i = i->knext)
		if (i->parent == parent && strcmp(i->name, name) == 0)
			return i;
	return NULL;
}

static void
table_grow(struct fs *fs)
{
	size_t ncap = fs->icap * 2;
	struct inode **it = xcalloc(ncap, sizeof(*it)), **kt = xcalloc(ncap, sizeof(*kt));

	for (size_t b = 0; b < fs->icap; b++) {
		struct inode *i = fs->itab[b];

		while (i) {
			struct inode *next = i->hnext;

			i->hnext = it[ino_bucket(i->ino, ncap)];
			it[ino_bucket(i->ino, ncap)] = i;
			i = next;
		}
		i = fs->ktab[b];
		while (i) {
			struct inode *next = i->knext;
			size_t k = key_hash(i->parent, i->name) & (ncap - 1);

			i->knext = kt[k];
			kt[k] = i;
			i = next;
		}	/* unkeyed inodes are in itab only */
	}
	free(fs->itab);
	free(fs->ktab);
	fs->itab = it;
	fs->ktab = kt;
	fs->icap = ncap;
}

static void unkey(struct fs *fs, struct inode *i);

struct inode *
inode_ref(struct fs *fs, uint64_t parent, const char *name,
    const struct inode *proto, uint64_t fixed_ino)
{
	struct inode *i = key_find(fs, parent, name);
	uint64_t ino;
	size_t k;

	if (i && i->target && proto->target && strcmp(i->target, proto->target) != 0) {
		/* a link whose target changed (latest, at/TIME after a new
		 * backup): the old inode keeps its text until the kernel
		 * forgets it; the name gets a new one */
		unkey(fs, i);
		i = NULL;
	}
	if (i) {
		i->nlookup++;
		return i;
	}
	if (fs->n_inodes * 2 >= fs->icap)
		table_grow(fs);
	ino = fixed_ino;
	if (ino == 0) {
		/* the parent's number mixed into the high bits, the position
		 * in the listing in the low 24 */
		if (proto->order && proto->order < (1u << 24))
			ino = (key_hash(parent, "") >> 1 & ~(uint64_t)0xFFFFFF) | proto->order;
		else
			ino = key_hash(parent, name) >> 1;
		if (proto->target)	/* a link: a number per target */
			ino ^= hash_fnv_str(proto->target) >> 1;
		if (ino < INO_FIRST_DYNAMIC)
			ino += INO_FIRST_DYNAMIC;
		while (inode_find(fs, ino) != NULL)
			ino++;
	}
	i = xmalloc(sizeof(*i));
	*i = *proto;
	i->ino = ino;
	i->parent = parent;
	i->name = xstrdup(name);
	i->nlookup = 1;
	i->pinned = fixed_ino != 0;
	i->target = proto->target ? xstrdup(proto->target) : NULL;
	i->hnext = fs->itab[ino_bucket(ino, fs->icap)];
	fs->itab[ino_bucket(ino, fs->icap)] = i;
	k = key_hash(parent, name) & (fs->icap - 1);
	i->knext = fs->ktab[k];
	fs->ktab[k] = i;
	fs->n_inodes++;
	return i;
}

/* unkey: take i out of the (parent, name) table; it stays findable by
 * number until forgotten. */
static void
unkey(struct fs *fs, struct inode *i)
{
	struct inode **pp = &fs->ktab[key_hash(i->parent, i->name) & (fs->icap - 1)];

	while (*pp && *pp != i)
		pp = &(*pp)->knext;
	if (*pp)
		*pp = i->knext;
	i->knext = NULL;
	i->unkeyed = 1;
}

void
inode_forget(struct fs *fs, uint64_t ino, uint64_t n)
{
	struct inode *i = inode_find(fs, ino), **pp;

	if (i == NULL || i->pinned)
		return;
	if (i->nlookup > n) {
		i->nlookup -= n;
		return;
	}
	for (pp = &fs->itab[ino_bucket(ino, fs->icap)]; *pp != i; pp = &(*pp)->hnext)
		;
	*pp = i->hnext;
	if (!i->unkeyed)
		unkey(fs, i);
	fs->n_inodes--;
	inode_free(i);
}

int
inode_copy(struct fs *fs, uint64_t ino, struct inode *ret)
{
	struct inode *i;

	pthread_mutex_lock(&fs->imu);
	i = inode_find(fs, ino);
	if (i) {
		*ret = *i;
		ret->name = NULL;
		ret->target = NULL;
		ret->hnext = ret->knext = NULL;
	}
	pthread_mutex_unlock(&fs->imu);
	return i ? 0 : ENOENT;
}
