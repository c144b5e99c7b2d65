/* plan — prune's plans: the packs a prune found unused (or copied the used
 * blobs out of) and will delete in a second phase, once no backup that
 * could still rely on them runs. A plan is prune/<time>-<id>; its
 * companion prune/<time>-<id>.ready says the plan took effect (the index no
 * longer lists its packs) and names the lock sessions live at that moment:
 * the plan's packs are deleted only after all of them ended. Backups never
 * take a planned pack back into their index (index_recover skips them).
 * See docs/FORMAT.md "Prune". */
#ifndef IMDR_PLAN_H
#define IMDR_PLAN_H

#include <stddef.h>
#include <stdint.h>

#include "lib/idset.h"
#include "repo/lock.h"
#include "repo/pack.h"
#include "repo/repo.h"

#define PLAN_ID_HEX 64

/* What listing yields. */
struct plan_name {
	char name[160];			/* "prune/<time>-<id>" */
	char id[PLAN_ID_HEX + 1];
	int64_t time_ns;
	int body;			/* the plan object is there */
	int ready;			/* its .ready companion is there */
};

struct plan_pack {
	uint8_t id[CRYPTO_ID_LEN];
	uint64_t size;
	struct pack_entry *e;		/* every blob of the pack */
	size_t n;
};

struct plan {
	struct plan_name pn;
	struct plan_pack *packs;
	size_t npacks;
	/* from .ready, when pn.ready */
	int64_t ready_ns;
	char (*sessions)[LOCK_SESSION_HEX + 1];
	size_t nsessions;
};

/* plan_list: every plan (and stray .ready object), oldest first; caller
 * frees *ret. */
int plan_list(struct repo *r, struct plan_name **ret, size_t *ret_n);

/* plan_write: store a plan of packs at time_ns; *ret names it (ready 0). */
int plan_write(struct repo *r, int64_t time_ns, const struct plan_pack *packs,
    size_t n, struct plan_name *ret);

/* plan_write_ready: mark pn as in effect since ready_ns, with the lock
 * sessions live then. */
int plan_write_ready(struct repo *r, struct plan_name *pn, int64_t ready_ns,
    char (*sessions)[LOCK_SESSION_HEX + 1], size_t nsessions);

/* plan_load: the plan (and its .ready when pn->ready). */
int plan_load(struct repo *r, const struct plan_name *pn, struct plan **ret);
void plan_free(struct plan *p);

/* plan_delete: remove the .ready, then the plan. */
int plan_delete(struct repo *r, const struct plan_name *pn);

/* plan_pack_set: add the id of every pack of every plan to set (value 1);
 * *ret_plans (may be NULL) counts the plans read. */
int plan_pack_set(struct repo *r, struct idset *set, size_t *ret_plans);

/* plan_parse: decode a plan's plaintext (exposed for tests and fuzzing);
 * with ids_only, entries are skipped (e NULL, n counted). */
int plan_parse(const char *name, const uint8_t *p, size_t n, int ids_only,
    struct plan_pack **ret, size_t *ret_n);

#endif
