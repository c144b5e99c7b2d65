/* top — the virtual top tree of the mount, as one table (fs_impl.h):
 *
 *   /                      K_ROOT
 *   /snapshots/<TIME>/     K_SNAPS, then K_SNAPROOT (a snapshot's root)
 *   /latest                K_LATEST -> snapshots/<newest>
 *   /at/<TIME>             K_AT, then K_ATLINK -> ../snapshots/<newest at TIME>
 *   /sources/<name>/       K_SOURCES, then K_VIEW: the same three for one
 *                          source (snapshots/, latest, at/)
 *   /.imdr/stats           K_META, K_STATS
 *
 * Each kind names its fixed children and, for folders whose children come
 * from the repository, a handler producing the k-th child and one looking
 * a name up. A view (the root's, or one source's) is a source tag kept in
 * the inode ("" for all sources); the top-level latest stays "the newest
 * snapshot of any source". */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fs/fs_impl.h"
#include "lib/err.h"
#include "lib/timefmt.h"

struct top_child {
	const char *name;
	enum ikind kind;
	uint64_t ino;		/* fixed number in the root's view, else 0 */
};

/* child_fn: the k-th dynamic child of dir: 0 with name and proto filled,
 * 1 past the last, -1 to skip this one (it could not be loaded). Caller
 * holds smu. */
typedef int (*child_fn)(struct fs *fs, const struct inode *dir, size_t k,
    char *name, size_t cap, struct inode *proto);
/* find_fn: the child called name; 0 with proto filled, or an errno. */
typedef int (*find_fn)(struct fs *fs, const struct inode *dir, const char *name,
    struct inode *proto);

struct kind {
	uint8_t type;
	uint32_t mode;
	const struct top_child *fixed;
	size_t nfixed;
	child_fn child;
	find_fn find;
};

static const struct top_child root_children[] = {
	{ "snapshots", K_SNAPS, INO_SNAPS },
	{ "latest", K_LATEST, 0 },	/* a number per target: see link_proto */
	{ "at", K_AT, INO_AT },
	{ "sources", K_SOURCES, INO_SOURCES },
	{ ".imdr", K_META, INO_META },
};

static const struct top_child view_children[] = {
	{ "snapshots", K_SNAPS, 0 },
	{ "latest", K_LATEST, 0 },
	{ "at", K_AT, 0 },
};

static const struct top_child meta_children[] = {
	{ "stats", K_STATS, INO_STATS },
};

static int snaps_child(struct fs *, const struct inode *, size_t, char *, size_t,
    struct inode *);
static int snaps_find(struct fs *, const struct inode *, const char *, struct inode *);
static int at_find(struct fs *, const struct inode *, const char *, struct inode *);
static int sources_child(struct fs *, const struct inode *, size_t, char *, size_t,
    struct inode *);
static int sources_find(struct fs *, const struct inode *, const char *, struct inode *);

#define FIXED(a) a, sizeof(a) / sizeof(a[0])

static const struct kind kinds[K_NKINDS] = {
	[K_ROOT] = { CAT_DIR, 0555, FIXED(root_children), NULL, NULL },
	[K_SNAPS] = { CAT_DIR, 0555, NULL, 0, snaps_child, snaps_find },
	[K_LATEST] = { CAT_SYMLINK, 0777, NULL, 0, NULL, NULL },
	[K_AT] = { CAT_DIR, 0555, NULL, 0, NULL, at_find },
	[K_ATLINK] = { CAT_SYMLINK, 0777, NULL, 0, NULL, NULL },
	[K_SOURCES] = { CAT_DIR, 0555, NULL, 0, sources_child, sources_find },
	[K_VIEW] = { CAT_DIR, 0555, FIXED(view_children), NULL, NULL },
	[K_META] = { CAT_DIR, 0555, FIXED(meta_children), NULL, NULL },
	[K_STATS] = { CAT_FILE, 0444, NULL, 0, NULL, NULL },
};

int
top_is_virtual(enum ikind k)
{
	return k != K_SNAPROOT && k != K_ENTRY;
}

static void
proto_of_kind(struct fs *fs, enum ikind k, const char *view, struct inode *p)
{
	memset(p, 0, sizeof(*p));
	p->kind = k;
	p->type = kinds[k].type;
	p->mode = kinds[k].mode;
	p->nlink = kinds[k].type == CAT_DIR ? 2 : 1;
	p->mtime_ns = fs->mount_time;
	snprintf(p->view, sizeof(p->view), "%s", view);
}

/* ---- snapshot roots ---- */

int
snaproot_proto(struct fs *fs, size_t i, struct inode *p)
{
	struct snapshot *s = snaps_loaded(fs, i);
	struct lru_entry *ne;
	uint32_t nsub = 0;

	if (s == NULL)
		return EIO;
	memset(p, 0, sizeof(*p));
	p->kind = K_SNAPROOT;
	p->type = CAT_DIR;
	p->mode = s->root_mode ? s->root_mode : 0755;
	p->mtime_ns = s->root_mtime_ns;
	p->node = s->root;
	/* nlink needs the root's subfolder count, which only its node has */
	if (node_get(fs, &s->root, &ne) == IMDR_OK) {
		struct cat_node *n = lru_value(ne);

		for (uint32_t k = 0; k < cat_node_count(n); k++)
			if (cat_node_entry(n, k)->type == CAT_DIR)
				nsub++;
		lru_release(fs->nodes, ne);
	}
	p->nlink = 2 + nsub;
	return 0;
}

/* ---- handlers ---- */

static int
snaps_child(struct fs *fs, const struct inode *dir, size_t k, char *name, size_t cap,
    struct inode *proto)
{
	long i = snaps_nth(fs, dir->view, k);

	if (i < 0)
		return 1;
	snprintf(name, cap, "%s", fs->snaps[i].display);
	if (snaproot_proto(fs, (size_t)i, proto) != 0)
		return -1;
	proto->order = (uint32_t)k + 1;
	return 0;
}

static int
snaps_find(struct fs *fs, const struct inode *dir, const char *name, struct inode *proto)
{
	long i = snaps_by_display(fs, name);

	if (i < 0) {
		snaps_refresh(fs, 1);	/* maybe a new one */
		i = snaps_by_display(fs, name);
	}
	if (i < 0 || (dir->view[0] && strcmp(fs->snaps[i].sn.tag, dir->view) != 0))
		return ENOENT;
	if (snaproot_proto(fs, (size_t)i, proto) != 0)
		return EIO;
	/* its place in the view's listing, as snaps_child numbers it */
	for (long k = 0; k <= i; k++)
		if (dir->view[0] == '\0' || strcmp(fs->snaps[k].sn.tag, dir->view) == 0)
			proto->order++;
	return 0;
}

static int
at_find(struct fs *fs, const struct inode *dir, const char *name, struct inode *proto)
{
	int64_t t, tend;
	long i;

	if (time_parse(name, &t, &tend) != 0)
		return ENOENT;
	snaps_refresh(fs, 0);
	i = snaps_at(fs, dir->view, tend);
	if (i < 0)
		return ENOENT;
	proto_of_kind(fs, K_ATLINK, dir->view, proto);
	proto->target = xasprintf("../snapshots/%s", fs->snaps[i].display);
	proto->size = strlen(proto->target);
	return 0;
}

static int
sources_child(struct fs *fs, const struct inode *dir, size_t k, char *name, size_t cap,
    struct inode *proto)
{
	(void)dir;
	if (k == 0) {
		snaps_refresh(fs, 0);
		snaps_learn_sources(fs);
	}
	if (k >= fs->nsources)
		return 1;
	if (snaps_newest(fs, fs->sources[k].tag) < 0)
		return -1;	/* all its snapshots are gone */
	snprintf(name, cap, "%s", fs->sources[k].dirname);
	proto_of_kind(fs, K_VIEW, fs->sources[k].tag, proto);
	proto->order = (uint32_t)k + 1;
	return 0;
}

static int
sources_find(struct fs *fs, const struct inode *dir, const char *name, struct inode *proto)
{
	long k;

	(void)dir;
	snaps_refresh(fs, 0);
	snaps_learn_sources(fs);
	k = sources_by_dirname(fs, name);
	if (k < 0 || snaps_newest(fs, fs->sources[k].tag) < 0)
		return ENOENT;
	proto_of_kind(fs, K_VIEW, fs->sources[k].tag, proto);
	proto->order = (uint32_t)k + 1;
	return 0;
}

/* ---- what ops.c asks ---- */

void
top_init(struct fs *fs)
{
	struct inode p;

	pthread_mutex_lock(&fs->imu);
	if (fs->single >= 0) {
		/* the snapshot's root is the mount's root; top_attr fills it */
		proto_of_kind(fs, K_SNAPROOT, "", &p);
		inode_ref(fs, 0, "", &p, INO_ROOT);
	} else {
		proto_of_kind(fs, K_ROOT, "", &p);
		inode_ref(fs, 0, "", &p, INO_ROOT);
		for (size_t k = 0; k < sizeof(root_children) / sizeof(root_children[0]); k++) {
			if (root_children[k].ino == 0)
				continue;	/* made when looked up */
			proto_of_kind(fs, root_children[k].kind, "", &p);
			inode_ref(fs, INO_ROOT, root_children[k].name, &p, root_children[k].ino);
		}
		proto_of_kind(fs, K_STATS, "", &p);
		inode_ref(fs, INO_META, "stats", &p, INO_STATS);
	}
	pthread_mutex_unlock(&fs->imu);
}

/* latest_proto: the `latest` of a view as it is now: its target
 * "snapshots/<newest of the view>", or ENOENT before the first snapshot.
 * A link's inode keeps its target for good (the kernel caches link text):
 * when the newest snapshot changes, `latest` is looked up anew and gets
 * another inode (inode_ref), so no reader can see a stale target. */
static int
latest_proto(struct fs *fs, const char *view, struct inode *p)
{
	long i;

	pthread_mutex_lock(&fs->smu);
	snaps_refresh(fs, 0);
	i = snaps_newest(fs, view);
	if (i >= 0) {
		proto_of_kind(fs, K_LATEST, view, p);
		p->target = xasprintf("snapshots/%s", fs->snaps[i].display);
		p->size = strlen(p->target);
		p->mtime_ns = fs->snaps[i].sn.time_ns;
	}
	pthread_mutex_unlock(&fs->smu);
	return i >= 0 ? 0 : ENOENT;
}

/* fixed_proto: a fixed child of a virtual folder as it is now. */
static int
fixed_proto(struct fs *fs, enum ikind kind, const char *view, struct inode *p)
{
	proto_of_kind(fs, kind, view, p);
	if (kind == K_LATEST)
		return latest_proto(fs, view, p);
	if (kind == K_STATS || kind == K_SNAPS)
		return top_attr(fs, p);
	return 0;
}

int
top_attr(struct fs *fs, struct inode *i)
{
	int err = 0;

	pthread_mutex_lock(&fs->smu);
	snaps_refresh(fs, 0);
	switch (i->kind) {
	case K_SNAPROOT: {
		/* single mode: the root is the mounted snapshot's */
		struct inode p;
		uint64_t ino = i->ino;

		err = fs->single < 0 ? ENOENT : snaproot_proto(fs, (size_t)fs->single, &p);
		if (err == 0) {
			*i = p;
			i->ino = ino;
		}
		break;
	}
	case K_SNAPS: {
		long newest = snaps_newest(fs, i->view);
		size_t n = 0;

		while (snaps_nth(fs, i->view, n) >= 0)
			n++;
		i->nlink = 2 + (uint32_t)n;
		if (newest >= 0)
			i->mtime_ns = fs->snaps[newest].sn.time_ns;
		break;
	}
	case K_LATEST:
		break;	/* its target, size and time are its own for good */
	case K_ROOT:
		i->nlink = 2 + 4;	/* snapshots, at, sources, .imdr */
		break;
	case K_STATS:
		i->size = 0;	/* made at open; read with direct I/O */
		i->mtime_ns = time_now_ns();
		break;
	default:
		break;
	}
	pthread_mutex_unlock(&fs->smu);
	return err;
}

int
top_lookup(struct fs *fs, const struct inode *dir, const char *name,
    struct inode *ret_proto, uint64_t *ret_fixed_ino)
{
	const struct kind *k = &kinds[dir->kind];
	int err;

	*ret_fixed_ino = 0;
	for (size_t c = 0; c < k->nfixed; c++) {
		if (strcmp(k->fixed[c].name, name) != 0)
			continue;
		*ret_fixed_ino = dir->view[0] ? 0 : k->fixed[c].ino;
		return fixed_proto(fs, k->fixed[c].kind, dir->view, ret_proto);
	}
	if (k->find == NULL)
		return ENOENT;
	pthread_mutex_lock(&fs->smu);
	err = k->find(fs, dir, name, ret_proto);
	pthread_mutex_unlock(&fs->smu);
	return err;
}

int
top_readdir(struct fs *fs, fuse_req_t req, const struct inode *dir, off_t off,
    int plus, struct dirbuf *b)
{
	const struct kind *k = &kinds[dir->kind];
	size_t from = off > 2 ? (size_t)off - 2 : 0;	/* entry to start at */
	struct inode p;
	char name[256];

	/* entry i (fixed ones first) is sent with offset i + 3: where the
	 * next call resumes */
	for (size_t c = from; c < k->nfixed; c++) {
		uint64_t fixed = dir->view[0] ? 0 : k->fixed[c].ino;

		int more;

		if (fixed_proto(fs, k->fixed[c].kind, dir->view, &p) != 0)
			continue;	/* latest, before the first snapshot */
		more = emit_child(fs, req, b, plus, dir->ino, k->fixed[c].name, &p, fixed,
		    (off_t)c + 3);
		free(p.target);
		if (!more)
			return 0;
	}
	if (k->child == NULL)
		return 0;
	pthread_mutex_lock(&fs->smu);
	if (from <= k->nfixed)
		snaps_refresh(fs, 0);
	for (size_t c = from > k->nfixed ? from - k->nfixed : 0;; c++) {
		int got = k->child(fs, dir, c, name, sizeof(name), &p);

		if (got == 1)
			break;
		if (got < 0)
			continue;
		if (!emit_child(fs, req, b, plus, dir->ino, name, &p, 0,
		    (off_t)(k->nfixed + c) + 3))
			break;
	}
	pthread_mutex_unlock(&fs->smu);
	return 0;
}
