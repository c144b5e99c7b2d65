/* gen_corpus — a deterministic instant-messaging export for tests, the demo
 * and benchmarks.
 *
 *	gen_corpus --out DIR [--preset tiny|small|full] [--seed N]
 *	    [--users N] [--conversations N] [--messages N] [--attachments N]
 *	    [--attachment-size BYTES] [--large-file BYTES]
 *	    [--format canonical|slack|mattermost] [--mutate PCT [--day N]]
 *
 * Everything (text, threads, edits, reactions, attachment bytes, file times)
 * follows from the seed and the counts, so two runs with the same arguments
 * write identical trees. Attachment bytes are pseudo-random: incompressible,
 * like the media that make up most of a real export.
 *
 * --mutate PCT turns a tree made with the same arguments into the next day's
 * export: about PCT % of its files change (new messages in some
 * conversations) and PCT % new files appear (new attachments); nothing else
 * is touched, so a backup's files cache sees exactly that change. With
 * --day N it is the Nth next day's export (N mutations, each its own), for
 * a tree at day N-1: histories of hundreds of backups. */
#include <errno.h>
#include <dirent.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

/* ---- deterministic randomness ---- */

static uint64_t
splitmix(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

struct rng { uint64_t s[4]; };

static void
rng_seed(struct rng *r, uint64_t seed, uint64_t stream)
{
	uint64_t x = seed * 0x2545f4914f6cdd1dULL ^ stream * 0x9e3779b97f4a7c15ULL;

	for (int i = 0; i < 4; i++)
		r->s[i] = splitmix(&x);
}

static inline uint64_t
rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

/* xoshiro256** */
static inline uint64_t
rng_next(struct rng *r)
{
	uint64_t *s = r->s, res = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;

	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl(s[3], 45);
	return res;
}

static uint64_t
rng_below(struct rng *r, uint64_t n)
{
	return n ? rng_next(r) % n : 0;
}

/* ---- output helpers ---- */

struct out {
	char *p;
	size_t len, cap;
};

static void
die(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "gen_corpus: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

static void
o_reserve(struct out *o, size_t n)
{
	if (o->len + n + 1 <= o->cap)
		return;
	while (o->len + n + 1 > o->cap)
		o->cap = o->cap ? o->cap * 2 : 65536;
	o->p = realloc(o->p, o->cap);
	if (o->p == NULL)
		die("out of memory");
}

static void
o_put(struct out *o, const void *p, size_t n)
{
	o_reserve(o, n);
	memcpy(o->p + o->len, p, n);
	o->len += n;
	o->p[o->len] = '\0';
}

static void
o_str(struct out *o, const char *s)
{
	o_put(o, s, strlen(s));
}

static void __attribute__((format(printf, 2, 3)))
o_printf(struct out *o, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	o_reserve(o, (size_t)n);
	va_start(ap, fmt);
	vsnprintf(o->p + o->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	o->len += (size_t)n;
}

/* o_json: s as a JSON string; slash_escape writes "/" as "\/" (as Slack
 * exports do). */
static void
o_json(struct out *o, const char *s, int slash_escape)
{
	o_put(o, "\"", 1);
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		switch (*p) {
		case '"': o_put(o, "\\\"", 2); break;
		case '\\': o_put(o, "\\\\", 2); break;
		case '\n': o_put(o, "\\n", 2); break;
		case '\t': o_put(o, "\\t", 2); break;
		case '/':
			if (slash_escape)
				o_put(o, "\\/", 2);
			else
				o_put(o, "/", 1);
			break;
		default:
			if (*p < 0x20)
				o_printf(o, "\\u%04x", *p);
			else
				o_put(o, p, 1);
		}
	}
	o_put(o, "\"", 1);
}

/* ---- the model ---- */

enum kind { K_CHANNEL, K_PRIVATE, K_GROUP, K_DM };
static const char *const kind_names[] = { "channel", "private", "group", "dm" };

struct user {
	char id[16], name[32], real[64], email[64];
	int is_bot, deleted;
};

struct conv {
	char id[16], name[64], slug[80];
	enum kind kind;
	int *members;
	int nmembers;
	int64_t created;
	uint32_t nmsgs;
	uint32_t *msgs;		/* indexes into the message array, in time order */
	int touched;		/* changed by --mutate */
};

struct att {
	uint32_t msg;
	uint64_t size;
	char name[48];
	char fid[16];
	uint8_t sha[32];
	int is_new;		/* added by --mutate */
};

struct msg {
	int64_t ts_us;		/* microseconds since the epoch */
	uint32_t conv;
	int32_t parent;		/* message index of the thread's parent, or -1 */
	uint32_t user;
	uint32_t seed;
	int32_t att0;		/* first attachment index, or -1 */
	uint16_t natt;
	uint8_t edited, deleted, join, nreplies_hint;
	uint8_t nreact;
};

struct model {
	uint64_t seed;
	int nusers, nconvs;
	int dm_pct;		/* share of conversations that are DMs; -1: mixed */
	uint64_t nmsgs, natts, att_size, large;
	struct user *users;
	struct conv *convs;
	struct msg *msgs;
	uint64_t nm, capm;
	struct att *atts;
	uint64_t na, capa;
	int64_t t0_us, t1_us;
};

static const char *const words[] = {
	"the", "deploy", "is", "done", "please", "review", "contract", "lunch",
	"tomorrow", "meeting", "at", "noon", "ship", "it", "looks", "good", "to",
	"me", "can", "you", "check", "logs", "server", "down", "again", "fixed",
	"thanks", "budget", "Q3", "report", "draft", "attached", "customer",
	"call", "moved", "Friday", "release", "notes", "merged", "branch",
	"café", "naïve", "über", "日本語", "テスト", "😀", "👍", "résumé",
	"\"quoted\"", "back\\slash", "path/to/file", "<b>bold</b>", "a&b",
};
#define NWORDS (sizeof(words) / sizeof(words[0]))

static const char *const first_names[] = { "Ann", "Bob", "Chloé", "Dmitri",
	"Eve", "Farid", "Grace", "Hiro", "Ines", "Jamal", "Kate", "Lars", "Mei",
	"Nils", "Olga", "Pavel", "Quinn", "Rosa", "Sven", "Tariq" };
static const char *const last_names[] = { "Smith", "Müller", "García",
	"Okafor", "Tanaka", "Kowalski", "Nguyen", "O'Brien", "Rossi", "Ivanova" };
static const char *const chan_words[] = { "general", "random", "dev", "ops",
	"sales", "legal", "design", "support", "hr", "finance", "ideas",
	"incidents", "releases", "marketing", "data" };
static const char *const exts[] = { "pdf", "png", "jpg", "docx", "xlsx",
	"zip", "mp4", "txt" };
static const char *const emoji[] = { "thumbsup", "heart", "joy", "eyes",
	"tada", "rocket", "white_check_mark", "+1" };

/* message_text: the text of message m (from its seed). */
static void
message_text(const struct model *md, const struct msg *m, struct out *o)
{
	struct rng r;
	int n;

	(void)md;
	rng_seed(&r, m->seed, 7);
	o->len = 0;
	o_reserve(o, 0);
	o->p[0] = '\0';
	if (m->join) {
		o_printf(o, "<@%s> has joined the channel", md->users[m->user].id);
		return;
	}
	n = 3 + (int)rng_below(&r, 28);
	for (int i = 0; i < n; i++) {
		if (i)
			o_str(o, rng_below(&r, 40) == 0 ? "\n" : " ");
		o_str(o, words[rng_below(&r, NWORDS)]);
	}
}

static void
format_ts(int64_t us, char *out, int millis)
{
	time_t t = (time_t)(us / 1000000);
	struct tm tm;

	gmtime_r(&t, &tm);
	if (millis)
		snprintf(out, 64, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
		    tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
		    (int)(us / 1000 % 1000));
	else
		snprintf(out, 64, "%04d-%02d-%02d %02d:%02d:%02dZ", tm.tm_year + 1900,
		    tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

/* msg_id: the Slack-style id "1767225600.000123" (seconds.micro). */
static void
msg_id(const struct msg *m, char *out)
{
	snprintf(out, 32, "%" PRId64 ".%06" PRId64, m->ts_us / 1000000, m->ts_us % 1000000);
}

static void
slugify(const char *name, char *out, size_t cap)
{
	size_t n = 0;

	for (const char *p = name; *p && n + 1 < cap; p++) {
		char c = *p;

		if (c >= 'A' && c <= 'Z')
			c = (char)(c - 'A' + 'a');
		if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.')
			out[n++] = c;
		else if (n > 0 && out[n - 1] != '-')
			out[n++] = '-';
	}
	out[n] = '\0';
}

static void
add_msg(struct model *md, const struct msg *m)
{
	if (md->nm == md->capm) {
		md->capm = md->capm ? md->capm * 2 : 4096;
		md->msgs = realloc(md->msgs, md->capm * sizeof(*md->msgs));
		if (md->msgs == NULL)
			die("out of memory");
	}
	md->msgs[md->nm++] = *m;
}

static void
add_att(struct model *md, uint32_t msg, uint64_t size, const char *name, int is_new)
{
	struct att *a;

	if (md->na == md->capa) {
		md->capa = md->capa ? md->capa * 2 : 1024;
		md->atts = realloc(md->atts, md->capa * sizeof(*md->atts));
		if (md->atts == NULL)
			die("out of memory");
	}
	a = &md->atts[md->na];
	memset(a, 0, sizeof(*a));
	a->msg = msg;
	a->size = size;
	a->is_new = is_new;
	snprintf(a->fid, sizeof(a->fid), "F%07" PRIu64, md->na + 1);
	snprintf(a->name, sizeof(a->name), "%s", name);
	if (md->msgs[msg].att0 < 0)
		md->msgs[msg].att0 = (int32_t)md->na;
	md->msgs[msg].natt++;
	md->na++;
}

/* gen_messages: n messages from time *t on; attachments spread over them.
 * Returns the index of the first new message. */
static uint64_t
gen_messages(struct model *md, struct rng *r, uint64_t n, uint64_t natt,
    uint64_t att_size, int is_new, int64_t *t, const int *only, int nonly)
{
	uint64_t first = md->nm;
	uint32_t *recent = calloc((size_t)md->nconvs * 8, sizeof(uint32_t));
	int *nrecent = calloc((size_t)md->nconvs, sizeof(int));

	if (recent == NULL || nrecent == NULL)
		die("out of memory");
	for (uint64_t i = 0; i < n; i++) {
		struct msg m;
		struct conv *c;
		uint32_t ci;

		memset(&m, 0, sizeof(m));
		*t += 1000000 * (int64_t)(1 + rng_below(r, 50)) + (int64_t)rng_below(r, 1000000);
		m.ts_us = *t;
		/* a few big channels carry most of the traffic */
		if (only)
			ci = (uint32_t)only[rng_below(r, (uint64_t)nonly)];
		else if (rng_below(r, 2))
			ci = (uint32_t)rng_below(r, md->nconvs < 5 ? (uint64_t)md->nconvs : 5);
		else
			ci = (uint32_t)rng_below(r, (uint64_t)md->nconvs);
		c = &md->convs[ci];
		m.conv = ci;
		m.user = (uint32_t)c->members[rng_below(r, (uint64_t)c->nmembers)];
		m.seed = (uint32_t)rng_next(r);
		m.parent = -1;
		m.att0 = -1;
		if (nrecent[ci] > 0 && rng_below(r, 100) < 15)
			m.parent = (int32_t)recent[ci * 8 + rng_below(r, (uint64_t)nrecent[ci])];
		m.edited = rng_below(r, 100) < 5;
		m.deleted = rng_below(r, 200) == 0;
		m.join = m.parent < 0 && rng_below(r, 100) == 0;
		m.nreact = rng_below(r, 10) == 0 ? (uint8_t)(1 + rng_below(r, 3)) : 0;
		add_msg(md, &m);
		if (m.parent < 0 && !m.join) {
			if (nrecent[ci] < 8)
				recent[ci * 8 + nrecent[ci]++] = (uint32_t)(md->nm - 1);
			else
				recent[ci * 8 + rng_below(r, 8)] = (uint32_t)(md->nm - 1);
		}
	}
	free(recent);
	free(nrecent);
	for (uint64_t a = 0; a < natt && n > 0; a++) {
		uint64_t mi = first + rng_below(r, n);
		uint64_t lo = att_size / 2, size = lo + rng_below(r, att_size + 1);
		char name[48];

		while (md->msgs[mi].join || md->msgs[mi].deleted)
			mi = mi + 1 < md->nm ? mi + 1 : first;
		snprintf(name, sizeof(name), "file%05" PRIu64 ".%s", md->na + 1, exts[rng_below(r, 8)]);
		add_att(md, (uint32_t)mi, size, name, is_new);
	}
	return first;
}

static void
build_model(struct model *md)
{
	struct rng r;
	int64_t t;

	rng_seed(&r, md->seed, 1);
	md->users = calloc((size_t)md->nusers, sizeof(*md->users));
	md->convs = calloc((size_t)md->nconvs, sizeof(*md->convs));
	if (md->users == NULL || md->convs == NULL)
		die("out of memory");
	for (int i = 0; i < md->nusers; i++) {
		struct user *u = &md->users[i];
		const char *f = first_names[rng_below(&r, 20)], *l = last_names[rng_below(&r, 10)];

		snprintf(u->id, sizeof(u->id), "U%05d", i + 1);
		snprintf(u->name, sizeof(u->name), "user%d", i + 1);
		snprintf(u->real, sizeof(u->real), "%s %s", f, l);
		snprintf(u->email, sizeof(u->email), "user%d@example.com", i + 1);
		u->is_bot = i > 0 && i % 25 == 0;
		u->deleted = i > 0 && i % 40 == 7;
		if (u->is_bot)
			snprintf(u->real, sizeof(u->real), "Deploy Bot %d", i + 1);
	}
	t = 1767225600LL * 1000000 + (int64_t)(md->seed % 1000) * 3600 * 1000000;	/* 2026-01-01 */
	md->t0_us = t;
	for (int i = 0; i < md->nconvs; i++) {
		struct conv *c = &md->convs[i];
		int roll = (int)rng_below(&r, 10);

		c->kind = i < 2 || roll < 7 ? K_CHANNEL : roll == 7 ? K_PRIVATE : roll == 8 ? K_GROUP : K_DM;
		/* a wide workspace: most conversations are DMs between two */
		if (md->dm_pct >= 0 && i >= 2)
			c->kind = (int)rng_below(&r, 100) < md->dm_pct ? K_DM :
			    roll < 8 ? K_CHANNEL : roll == 8 ? K_PRIVATE : K_GROUP;
		/* every kind in even a small corpus */
		if (md->nconvs >= 5 && i == md->nconvs - 1)
			c->kind = K_DM;
		else if (md->nconvs >= 5 && i == md->nconvs - 2)
			c->kind = K_GROUP;
		else if (md->nconvs >= 5 && i == md->nconvs - 3)
			c->kind = K_PRIVATE;
		if (md->nusers < 3 && c->kind == K_GROUP)
			c->kind = K_CHANNEL;
		c->created = t / 1000000 - 86400 * (int64_t)(30 + rng_below(&r, 300));
		switch (c->kind) {
		case K_CHANNEL:
		case K_PRIVATE:
			snprintf(c->id, sizeof(c->id), "%c%05d", c->kind == K_CHANNEL ? 'C' : 'G', i + 1);
			if (i < 15)
				snprintf(c->name, sizeof(c->name), "%s", chan_words[i]);
			else
				snprintf(c->name, sizeof(c->name), "%s-%d", chan_words[i % 15], i + 1);
			c->nmembers = md->nusers < 12 ? md->nusers : 3 + (int)rng_below(&r, (uint64_t)md->nusers - 3);
			break;
		case K_GROUP:
			snprintf(c->id, sizeof(c->id), "G%05d", i + 1);
			c->nmembers = 3 + (int)rng_below(&r, 3);
			if (c->nmembers > md->nusers)
				c->nmembers = md->nusers;
			break;
		case K_DM:
			snprintf(c->id, sizeof(c->id), "D%05d", i + 1);
			c->nmembers = md->nusers < 2 ? md->nusers : 2;
			break;
		}
		c->members = calloc((size_t)c->nmembers, sizeof(int));
		{
			int start = (int)rng_below(&r, (uint64_t)md->nusers);

			for (int k = 0; k < c->nmembers; k++)
				c->members[k] = (start + k * 7) % md->nusers;
			/* no duplicates: step 7 cycles through all users when
			 * nusers is not a multiple of 7; fall back to a run */
			for (int k = 1; k < c->nmembers; k++)
				for (int j = 0; j < k; j++)
					if (c->members[j] == c->members[k]) {
						for (int q = 0; q < c->nmembers; q++)
							c->members[q] = (start + q) % md->nusers;
						k = c->nmembers;
						break;
					}
		}
		if (c->kind == K_GROUP || c->kind == K_DM) {
			size_t n = 0;

			c->name[0] = '\0';
			for (int k = 0; k < c->nmembers && n + 12 < sizeof(c->name); k++)
				n += (size_t)snprintf(c->name + n, sizeof(c->name) - n, "%s%s",
				    k ? "--" : "", md->users[c->members[k]].name);
		}
		slugify(c->name, c->slug, sizeof(c->slug));
	}
	gen_messages(md, &r, md->nmsgs, md->natts, md->att_size, 0, &t, NULL, 0);
	if (md->large > 0 && md->nm > 0) {
		uint32_t mi = 0;

		while (mi + 1 < md->nm && (md->msgs[mi].join || md->msgs[mi].deleted))
			mi++;
		add_att(md, mi, md->large, "archive-2025.bin", 0);
	}
	md->t1_us = t;
}

/* mutate: the next day's export. PCT % of the files change: each touched
 * conversation changes two files (messages.jsonl, transcript.txt), so
 * files*pct/200 conversations get new messages; files*pct/100 new
 * attachments arrive with them. */
static void
mutate(struct model *md, double pct, uint64_t nfiles, uint64_t day)
{
	struct rng r;
	uint64_t nconv = (uint64_t)((double)nfiles * pct / 200.0 + 0.5);
	uint64_t natt = (uint64_t)((double)nfiles * pct / 100.0 + 0.5);
	int *only;
	int64_t t = md->t1_us + 3600LL * 1000000;

	if (nconv < 1)
		nconv = 1;
	if (nconv > (uint64_t)md->nconvs)
		nconv = (uint64_t)md->nconvs;
	/* each day its own stream, day 1 the one --mutate always had */
	rng_seed(&r, md->seed, 98 + day);
	for (int i = 0; i < md->nconvs; i++)
		md->convs[i].touched = 0;
	for (uint64_t i = 0; i < md->na; i++)
		md->atts[i].is_new = 0;
	only = calloc(nconv, sizeof(int));
	for (uint64_t k = 0; k < nconv; k++) {
		int ci;

		do
			ci = (int)rng_below(&r, (uint64_t)md->nconvs);
		while (md->convs[ci].touched);
		md->convs[ci].touched = 1;
		only[k] = ci;
	}
	gen_messages(md, &r, nconv * 20 + natt, natt, md->att_size, 1, &t,
	    only, (int)nconv);
	md->t1_us = t;
	free(only);
}

static void
index_conversations(struct model *md)
{
	for (int i = 0; i < md->nconvs; i++) {
		md->convs[i].nmsgs = 0;
		free(md->convs[i].msgs);
		md->convs[i].msgs = NULL;
	}
	for (uint64_t i = 0; i < md->nm; i++)
		md->convs[md->msgs[i].conv].nmsgs++;
	for (int i = 0; i < md->nconvs; i++) {
		md->convs[i].msgs = calloc(md->convs[i].nmsgs + 1, sizeof(uint32_t));
		md->convs[i].nmsgs = 0;
	}
	for (uint64_t i = 0; i < md->nm; i++) {
		struct conv *c = &md->convs[md->msgs[i].conv];

		c->msgs[c->nmsgs++] = (uint32_t)i;
	}
}

/* ---- writing ---- */

struct writer {
	const char *root;
	int mutating;		/* write only what --mutate changes */
	struct out manifest;	/* "files" array entries */
	uint64_t files, bytes, written;
};

static void
mkdirs(const char *path)
{
	char buf[4096];

	snprintf(buf, sizeof(buf), "%s", path);
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, 0755) < 0 && errno != EEXIST)
			die("%s: %s", buf, strerror(errno));
		*p = '/';
	}
	if (mkdir(buf, 0755) < 0 && errno != EEXIST)
		die("%s: %s", buf, strerror(errno));
}

static void
set_time(const char *path, int64_t us)
{
	struct timespec ts[2];

	ts[0].tv_sec = ts[1].tv_sec = (time_t)(us / 1000000);
	ts[0].tv_nsec = ts[1].tv_nsec = (long)(us % 1000000) * 1000;
	if (utimensat(AT_FDCWD, path, ts, AT_SYMLINK_NOFOLLOW) < 0)
		die("%s: %s", path, strerror(errno));
}

static void
sha_hex(const uint8_t sha[32], char *out)
{
	for (int i = 0; i < 32; i++)
		sprintf(out + 2 * i, "%02x", sha[i]);
}

static void
manifest_add(struct writer *w, const char *rel, uint64_t size, const uint8_t sha[32])
{
	char hex[65];

	sha_hex(sha, hex);
	if (w->files)
		o_str(&w->manifest, ",\n    ");
	o_str(&w->manifest, "{\"path\":");
	o_json(&w->manifest, rel, 0);
	o_printf(&w->manifest, ",\"size\":%" PRIu64 ",\"sha256\":\"%s\"}", size, hex);
	w->files++;
	w->bytes += size;
}

/* same_content: the file at path holds exactly data. */
static int
same_content(const char *path, const void *data, size_t n)
{
	struct stat st;
	char *buf;
	int fd, same = 0;

	if (stat(path, &st) < 0 || (uint64_t)st.st_size != n)
		return 0;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	buf = malloc(n ? n : 1);
	if (buf && read(fd, buf, n) == (ssize_t)n)
		same = memcmp(buf, data, n) == 0;
	free(buf);
	close(fd);
	return same;
}

/* put_file: write rel (unless only hashing) and add it to the manifest.
 * When mutating, a file whose bytes did not change is not rewritten. */
static void
put_file(struct writer *w, const char *rel, const void *data, size_t n,
    int64_t mtime_us, int write_it)
{
	char path[4096];
	uint8_t sha[32];
	unsigned int shalen;

	EVP_Digest(data, n, sha, &shalen, EVP_sha256(), NULL);
	manifest_add(w, rel, n, sha);
	if (!write_it)
		return;
	snprintf(path, sizeof(path), "%s/%s", w->root, rel);
	if (w->mutating && same_content(path, data, n))
		return;		/* unchanged: keep its times */
	{
		char dir[4096], *s;

		snprintf(dir, sizeof(dir), "%s", path);
		s = strrchr(dir, '/');
		*s = '\0';
		mkdirs(dir);
	}
	{
		int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		const char *p = data;
		size_t left = n;

		if (fd < 0)
			die("%s: %s", path, strerror(errno));
		while (left > 0) {
			ssize_t k = write(fd, p, left);

			if (k < 0)
				die("%s: %s", path, strerror(errno));
			p += k;
			left -= (size_t)k;
		}
		if (close(fd) < 0)
			die("%s: %s", path, strerror(errno));
	}
	set_time(path, mtime_us);
	w->written += n;
}

/* put_random: an attachment's bytes, streamed from the PRNG (seeded by the
 * corpus seed and the attachment's index) and hashed on the way. */
static void
put_random(struct writer *w, const char *rel, const struct model *md,
    uint64_t index, struct att *a, int64_t mtime_us, int write_it)
{
	static uint64_t buf[1 << 17];	/* 1 MiB */
	char path[4096];
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	struct rng r;
	uint64_t left = a->size;
	int fd = -1;
	unsigned int shalen;

	rng_seed(&r, md->seed, 1000003 + index);
	EVP_DigestInit_ex(ctx, EVP_sha256(), NULL);
	if (write_it) {
		char dir[4096], *s;

		snprintf(path, sizeof(path), "%s/%s", w->root, rel);
		snprintf(dir, sizeof(dir), "%s", path);
		s = strrchr(dir, '/');
		*s = '\0';
		mkdirs(dir);
		fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		if (fd < 0)
			die("%s: %s", path, strerror(errno));
	}
	while (left > 0) {
		size_t n = left < sizeof(buf) ? (size_t)left : sizeof(buf);

		for (size_t i = 0; i < (n + 7) / 8; i++)
			buf[i] = rng_next(&r);
		EVP_DigestUpdate(ctx, buf, n);
		if (fd >= 0) {
			const char *p = (const char *)buf;
			size_t l = n;

			while (l > 0) {
				ssize_t k = write(fd, p, l);

				if (k < 0)
					die("%s: %s", path, strerror(errno));
				p += k;
				l -= (size_t)k;
			}
		}
		left -= n;
	}
	EVP_DigestFinal_ex(ctx, a->sha, &shalen);
	EVP_MD_CTX_free(ctx);
	if (fd >= 0) {
		if (close(fd) < 0)
			die("%s: %s", path, strerror(errno));
		set_time(path, mtime_us);
		w->written += a->size;
	}
	manifest_add(w, rel, a->size, a->sha);
}

static const char *
display_name(const struct model *md, uint32_t u)
{
	return md->users[u].real[0] ? md->users[u].real : md->users[u].name;
}

static void
att_path(const struct model *md, const struct att *a, char *out, size_t cap)
{
	char id[32];

	msg_id(&md->msgs[a->msg], id);
	snprintf(out, cap, "attachments/%s-%s", id, a->name);
}

static void
reaction_users(const struct model *md, const struct msg *m, int k, int *ret, int *nret)
{
	const struct conv *c = &md->convs[m->conv];
	int n = 1 + (int)((m->seed >> (k * 3)) % 3);

	if (n > c->nmembers)
		n = c->nmembers;
	for (int i = 0; i < n; i++)
		ret[i] = c->members[(m->seed / 7 + (uint32_t)(i + k)) % (uint32_t)c->nmembers];
	*nret = n;
}

/* ---- canonical ---- */

static void
canonical_message(const struct model *md, const struct msg *m, struct out *o, struct out *text)
{
	char id[32], ts[64];

	msg_id(m, id);
	format_ts(m->ts_us, ts, 1);
	message_text(md, m, text);
	o_str(o, "{\"id\":");
	o_json(o, id, 0);
	o_printf(o, ",\"ts\":\"%s\",\"user\":", ts);
	o_json(o, md->users[m->user].id, 0);
	o_str(o, ",\"text\":");
	o_json(o, m->deleted ? "" : text->p, 0);
	if (m->parent >= 0) {
		char pid[32];

		msg_id(&md->msgs[m->parent], pid);
		o_printf(o, ",\"thread\":\"%s\"", pid);
	}
	if (m->edited) {
		char ets[64];

		format_ts(m->ts_us + 90 * 1000000LL, ets, 1);
		o_printf(o, ",\"edited\":\"%s\"", ets);
	}
	if (m->deleted)
		o_str(o, ",\"deleted\":true");
	if (m->join)
		o_str(o, ",\"subtype\":\"channel_join\"");
	if (m->nreact) {
		o_str(o, ",\"reactions\":[");
		for (int k = 0; k < m->nreact; k++) {
			int us[4], nu;

			reaction_users(md, m, k, us, &nu);
			o_printf(o, "%s{\"name\":\"%s\",\"users\":[", k ? "," : "", emoji[(m->seed + (uint32_t)k) % 8]);
			for (int j = 0; j < nu; j++)
				o_printf(o, "%s\"%s\"", j ? "," : "", md->users[us[j]].id);
			o_str(o, "]}");
		}
		o_str(o, "]");
	}
	if (m->natt) {
		o_str(o, ",\"attachments\":[");
		for (int k = 0; k < m->natt; k++) {
			const struct att *a = &md->atts[m->att0 + k];
			char p[256], hex[65];

			att_path(md, a, p, sizeof(p));
			sha_hex(a->sha, hex);
			o_str(o, k ? ",{\"name\":" : "{\"name\":");
			o_json(o, a->name, 0);
			o_printf(o, ",\"size\":%" PRIu64 ",\"sha256\":\"%s\",\"path\":", a->size, hex);
			o_json(o, p, 0);
			o_str(o, "}");
		}
		o_str(o, "]");
	}
	o_str(o, "}\n");
}

static void
transcript_line(const struct model *md, const struct msg *m, int indent,
    struct out *o, struct out *text)
{
	char ts[64];

	format_ts(m->ts_us, ts, 0);
	message_text(md, m, text);
	o_printf(o, "%s[%s] %s: ", indent ? "    " : "", ts, display_name(md, m->user));
	if (m->deleted)
		o_str(o, "(message deleted)");
	else {
		for (const char *p = text->p; *p; p++) {
			if (*p == '\n')
				o_str(o, indent ? "\n        " : "\n    ");
			else
				o_put(o, p, 1);
		}
		if (m->edited)
			o_str(o, " (edited)");
	}
	for (int k = 0; k < m->natt; k++)
		o_printf(o, " [attachment: %s]", md->atts[m->att0 + k].name);
	o_str(o, "\n");
}

static int64_t
conv_mtime(const struct model *md, const struct conv *c)
{
	return c->nmsgs ? md->msgs[c->msgs[c->nmsgs - 1]].ts_us : md->t0_us;
}

static void
write_canonical(struct model *md, struct writer *w)
{
	struct out o = { 0 }, text = { 0 };
	char rel[512];

	/* attachments first: their hashes go into messages.jsonl */
	for (uint64_t i = 0; i < md->na; i++) {
		struct att *a = &md->atts[i];
		const struct msg *m = &md->msgs[a->msg];
		const struct conv *c = &md->convs[m->conv];
		char p[256];

		att_path(md, a, p, sizeof(p));
		snprintf(rel, sizeof(rel), "conversations/%s--%s/%s", c->slug, c->id, p);
		put_random(w, rel, md, i, a, m->ts_us, !w->mutating || a->is_new);
	}
	o.len = 0;
	for (int i = 0; i < md->nusers; i++) {
		const struct user *u = &md->users[i];

		o_str(&o, "{\"id\":");
		o_json(&o, u->id, 0);
		o_str(&o, ",\"name\":");
		o_json(&o, u->name, 0);
		o_str(&o, ",\"real_name\":");
		o_json(&o, u->real, 0);
		o_str(&o, ",\"email\":");
		o_json(&o, u->email, 0);
		if (u->is_bot)
			o_str(&o, ",\"is_bot\":true");
		if (u->deleted)
			o_str(&o, ",\"deleted\":true");
		o_str(&o, "}\n");
	}
	put_file(w, "users.jsonl", o.p, o.len, md->t0_us, 1);
	for (int ci = 0; ci < md->nconvs; ci++) {
		struct conv *c = &md->convs[ci];
		int64_t mt = conv_mtime(md, c);
		char ts[64];

		o.len = 0;
		o_str(&o, "{\"id\":");
		o_json(&o, c->id, 0);
		o_str(&o, ",\"name\":");
		o_json(&o, c->name, 0);
		o_printf(&o, ",\"kind\":\"%s\",\"members\":[", kind_names[c->kind]);
		for (int k = 0; k < c->nmembers; k++)
			o_printf(&o, "%s\"%s\"", k ? "," : "", md->users[c->members[k]].id);
		format_ts(c->created * 1000000, ts, 1);
		o_printf(&o, "],\"created\":\"%s\"", ts);
		if (c->kind == K_CHANNEL || c->kind == K_PRIVATE)
			o_printf(&o, ",\"topic\":\"Talk about %s\",\"purpose\":\"Everything %s\"", c->name, c->name);
		o_str(&o, "}\n");
		snprintf(rel, sizeof(rel), "conversations/%s--%s/meta.json", c->slug, c->id);
		put_file(w, rel, o.p, o.len, md->t0_us, 1);

		o.len = 0;
		for (uint32_t k = 0; k < c->nmsgs; k++)
			canonical_message(md, &md->msgs[c->msgs[k]], &o, &text);
		snprintf(rel, sizeof(rel), "conversations/%s--%s/messages.jsonl", c->slug, c->id);
		put_file(w, rel, o.p, o.len, mt, 1);

		/* transcript: top-level messages in time order, each followed
		 * by its thread replies */
		o.len = 0;
		for (uint32_t k = 0; k < c->nmsgs; k++) {
			const struct msg *m = &md->msgs[c->msgs[k]];

			if (m->parent >= 0)
				continue;
			transcript_line(md, m, 0, &o, &text);
			for (uint32_t j = k + 1; j < c->nmsgs; j++) {
				const struct msg *r = &md->msgs[c->msgs[j]];

				if (r->parent == (int32_t)c->msgs[k])
					transcript_line(md, r, 1, &o, &text);
			}
		}
		snprintf(rel, sizeof(rel), "conversations/%s--%s/transcript.txt", c->slug, c->id);
		put_file(w, rel, o.p, o.len, mt, 1);
	}
	free(o.p);
	free(text.p);
}

/* ---- Slack ---- */

static void
slack_ts(const struct msg *m, char *out)
{
	msg_id(m, out);
}

static void
write_slack_lists(struct model *md, struct writer *w)
{
	struct out o = { 0 };
	static const char *const files[] = { "channels.json", "groups.json", "dms.json", "mpims.json" };
	static const enum kind kinds[] = { K_CHANNEL, K_PRIVATE, K_DM, K_GROUP };

	o_str(&o, "[");
	for (int i = 0; i < md->nusers; i++) {
		const struct user *u = &md->users[i];

		o_str(&o, i ? ",\n  {" : "\n  {");
		o_printf(&o, "\"id\":\"%s\",\"team_id\":\"T0001\",\"name\":", u->id);
		o_json(&o, u->name, 1);
		o_printf(&o, ",\"deleted\":%s,\"real_name\":", u->deleted ? "true" : "false");
		o_json(&o, u->real, 1);
		o_str(&o, ",\"profile\":{\"real_name\":");
		o_json(&o, u->real, 1);
		o_str(&o, ",\"display_name\":");
		o_json(&o, u->name, 1);
		o_str(&o, ",\"email\":");
		o_json(&o, u->email, 1);
		o_printf(&o, "},\"is_bot\":%s}", u->is_bot ? "true" : "false");
	}
	o_str(&o, "\n]\n");
	put_file(w, "users.json", o.p, o.len, md->t1_us, 1);
	for (int f = 0; f < 4; f++) {
		int first = 1;

		o.len = 0;
		o_str(&o, "[");
		for (int ci = 0; ci < md->nconvs; ci++) {
			const struct conv *c = &md->convs[ci];

			if (c->kind != kinds[f])
				continue;
			o_str(&o, first ? "\n  {" : ",\n  {");
			first = 0;
			o_printf(&o, "\"id\":\"%s\"", c->id);
			if (c->kind != K_DM) {
				o_str(&o, ",\"name\":");
				if (c->kind == K_GROUP) {
					char mp[96];

					snprintf(mp, sizeof(mp), "mpdm-%s-1", c->name);
					o_json(&o, mp, 1);
				} else
					o_json(&o, c->name, 1);
			}
			o_printf(&o, ",\"created\":%" PRId64 ",\"creator\":\"%s\"", c->created,
			    md->users[c->members[0]].id);
			if (c->kind == K_CHANNEL || c->kind == K_PRIVATE)
				o_printf(&o, ",\"is_archived\":false,\"is_general\":%s,"
				    "\"topic\":{\"value\":\"Talk about %s\",\"creator\":\"%s\",\"last_set\":%" PRId64 "},"
				    "\"purpose\":{\"value\":\"Everything %s\",\"creator\":\"%s\",\"last_set\":%" PRId64 "}",
				    ci == 0 ? "true" : "false", c->name, md->users[c->members[0]].id,
				    c->created, c->name, md->users[c->members[0]].id, c->created);
			o_str(&o, ",\"members\":[");
			for (int k = 0; k < c->nmembers; k++)
				o_printf(&o, "%s\"%s\"", k ? "," : "", md->users[c->members[k]].id);
			o_str(&o, "]}");
		}
		o_str(&o, "\n]\n");
		put_file(w, files[f], o.p, o.len, md->t1_us, 1);
	}
	free(o.p);
}

static void
slack_folder(const struct conv *c, char *out, size_t cap)
{
	if (c->kind == K_DM)
		snprintf(out, cap, "%s", c->id);
	else if (c->kind == K_GROUP)
		snprintf(out, cap, "mpdm-%s-1", c->name);
	else
		snprintf(out, cap, "%s", c->name);
}

static void
slack_message(const struct model *md, const struct msg *m, struct out *o, struct out *text, int first)
{
	char ts[32];
	const struct user *u = &md->users[m->user];

	slack_ts(m, ts);
	message_text(md, m, text);
	o_str(o, first ? "\n    {" : ",\n    {");
	if (u->is_bot)
		o_printf(o, "\"type\":\"message\",\"subtype\":\"bot_message\",\"bot_id\":\"B%s\",\"username\":", u->id + 1);
	else if (m->join)
		o_printf(o, "\"type\":\"message\",\"subtype\":\"channel_join\",\"user\":\"%s\",\"username\":", u->id);
	else
		o_printf(o, "\"type\":\"message\",\"user\":\"%s\",\"username\":", u->id);
	o_json(o, u->name, 1);
	o_str(o, ",\"text\":");
	o_json(o, text->p, 1);
	o_printf(o, ",\"ts\":\"%s\"", ts);
	if (!u->is_bot) {
		o_str(o, ",\"user_profile\":{\"real_name\":");
		o_json(o, u->real, 1);
		o_str(o, ",\"display_name\":");
		o_json(o, u->name, 1);
		o_str(o, "}");
	}
	if (m->parent >= 0) {
		char pts[32];

		slack_ts(&md->msgs[m->parent], pts);
		o_printf(o, ",\"thread_ts\":\"%s\",\"parent_user_id\":\"%s\"", pts,
		    md->users[md->msgs[m->parent].user].id);
	}
	if (m->edited)
		o_printf(o, ",\"edited\":{\"user\":\"%s\",\"ts\":\"%" PRId64 ".000000\"}", u->id,
		    m->ts_us / 1000000 + 90);
	if (m->nreact) {
		o_str(o, ",\"reactions\":[");
		for (int k = 0; k < m->nreact; k++) {
			int us[4], nu;

			reaction_users(md, m, k, us, &nu);
			o_printf(o, "%s{\"name\":\"%s\",\"users\":[", k ? "," : "", emoji[(m->seed + (uint32_t)k) % 8]);
			for (int j = 0; j < nu; j++)
				o_printf(o, "%s\"%s\"", j ? "," : "", md->users[us[j]].id);
			o_printf(o, "],\"count\":%d}", nu);
		}
		o_str(o, "]");
	}
	if (m->natt) {
		o_str(o, ",\"files\":[");
		for (int k = 0; k < m->natt; k++) {
			const struct att *a = &md->atts[m->att0 + k];

			o_printf(o, "%s{\"id\":\"%s\",\"created\":%" PRId64 ",\"name\":", k ? "," : "",
			    a->fid, m->ts_us / 1000000);
			o_json(o, a->name, 1);
			o_str(o, ",\"title\":");
			o_json(o, a->name, 1);
			/* sizes as strings now and then, as some exports have them */
			if (k % 2)
				o_printf(o, ",\"size\":\"%" PRIu64 "\"", a->size);
			else
				o_printf(o, ",\"size\":%" PRIu64, a->size);
			o_printf(o, ",\"url_private\":\"https:\\/\\/files.slack.com\\/files-pri\\/T0001-%s\\/", a->fid);
			o_str(o, a->name);
			o_printf(o, "\",\"user\":\"%s\"}", u->id);
		}
		o_str(o, "]");
	}
	o_str(o, "}");
}

static void
write_slack(struct model *md, struct writer *w)
{
	struct out o = { 0 }, text = { 0 };
	char rel[512], folder[128];

	for (uint64_t i = 0; i < md->na; i++) {
		struct att *a = &md->atts[i];

		snprintf(rel, sizeof(rel), "__uploads/%s/%s", a->fid, a->name);
		put_random(w, rel, md, i, a, md->msgs[a->msg].ts_us, !w->mutating || a->is_new);
	}
	write_slack_lists(md, w);
	for (int ci = 0; ci < md->nconvs; ci++) {
		struct conv *c = &md->convs[ci];
		uint32_t k = 0;

		slack_folder(c, folder, sizeof(folder));
		while (k < c->nmsgs) {
			int64_t day = md->msgs[c->msgs[k]].ts_us / 1000000 / 86400;
			int64_t last = md->msgs[c->msgs[k]].ts_us;
			time_t t = (time_t)(day * 86400);
			struct tm tm;
			int n = 0;

			o.len = 0;
			o_str(&o, "[");
			for (; k < c->nmsgs; k++) {
				const struct msg *m = &md->msgs[c->msgs[k]];

				if (m->ts_us / 1000000 / 86400 != day)
					break;
				if (m->deleted)
					continue;	/* Slack exports leave them out */
				slack_message(md, m, &o, &text, n++ == 0);
				last = m->ts_us;
			}
			o_str(&o, "\n]\n");
			gmtime_r(&t, &tm);
			snprintf(rel, sizeof(rel), "%s/%04d-%02d-%02d.json", folder,
			    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday);
			put_file(w, rel, o.p, o.len, last, 1);
		}
	}
	free(o.p);
	free(text.p);
}

/* ---- Mattermost ---- */

static void
mm_post_body(const struct model *md, const struct msg *m, struct out *o, struct out *text)
{
	message_text(md, m, text);
	o_str(o, "\"user\":");
	o_json(o, md->users[m->user].name, 0);
	o_str(o, ",\"message\":");
	o_json(o, text->p, 0);
	o_printf(o, ",\"create_at\":%" PRId64, m->ts_us / 1000);
	if (m->edited)
		o_printf(o, ",\"edit_at\":%" PRId64, m->ts_us / 1000 + 90000);
	if (m->join)
		o_str(o, ",\"type\":\"system_join_channel\"");
	if (m->nreact) {
		o_str(o, ",\"reactions\":[");
		for (int k = 0, first = 1; k < m->nreact; k++) {
			int us[4], nu;

			reaction_users(md, m, k, us, &nu);
			for (int j = 0; j < nu; j++, first = 0)
				o_printf(o, "%s{\"user\":\"%s\",\"emoji_name\":\"%s\",\"create_at\":%" PRId64 "}",
				    first ? "" : ",", md->users[us[j]].name,
				    emoji[(m->seed + (uint32_t)k) % 8], m->ts_us / 1000 + 1000);
		}
		o_str(o, "]");
	}
	if (m->natt) {
		o_str(o, ",\"attachments\":[");
		for (int k = 0; k < m->natt; k++) {
			const struct att *a = &md->atts[m->att0 + k];

			o_printf(o, "%s{\"path\":\"data/%s/", k ? "," : "", a->fid);
			o_str(o, a->name);
			o_str(o, "\"}");
		}
		o_str(o, "]");
	}
}

static void
mm_replies(const struct model *md, const struct conv *c, uint32_t k, struct out *o, struct out *text)
{
	int n = 0;

	o_str(o, ",\"replies\":[");
	for (uint32_t j = k + 1; j < c->nmsgs; j++) {
		const struct msg *r = &md->msgs[c->msgs[j]];

		if (r->parent != (int32_t)c->msgs[k] || r->deleted)
			continue;
		o_str(o, n++ ? ",{" : "{");
		mm_post_body(md, r, o, text);
		o_str(o, "}");
	}
	o_str(o, "]");
}

static void
write_mattermost(struct model *md, struct writer *w)
{
	struct out o = { 0 }, text = { 0 };
	char rel[512];
	uint64_t *order;
	uint64_t n = 0;

	for (uint64_t i = 0; i < md->na; i++) {
		struct att *a = &md->atts[i];

		snprintf(rel, sizeof(rel), "data/%s/%s", a->fid, a->name);
		put_random(w, rel, md, i, a, md->msgs[a->msg].ts_us, !w->mutating || a->is_new);
	}
	o_str(&o, "{\"type\":\"version\",\"version\":1,\"info\":{\"generator\":\"gen_corpus\",\"version\":\"1\"}}\n");
	o_str(&o, "{\"type\":\"team\",\"team\":{\"name\":\"acme\",\"display_name\":\"Acme Corp\",\"type\":\"O\",\"description\":\"\",\"allow_open_invite\":true}}\n");
	for (int ci = 0; ci < md->nconvs; ci++) {
		const struct conv *c = &md->convs[ci];

		if (c->kind != K_CHANNEL && c->kind != K_PRIVATE)
			continue;
		o_str(&o, "{\"type\":\"channel\",\"channel\":{\"team\":\"acme\",\"name\":");
		o_json(&o, c->name, 0);
		o_str(&o, ",\"display_name\":");
		o_json(&o, c->name, 0);
		o_printf(&o, ",\"type\":\"%s\",\"header\":\"Talk about %s\",\"purpose\":\"Everything %s\"}}\n",
		    c->kind == K_CHANNEL ? "O" : "P", c->name, c->name);
	}
	for (int i = 0; i < md->nusers; i++) {
		const struct user *u = &md->users[i];
		const char *sp = strchr(u->real, ' ');
		int first = 1;

		o_str(&o, "{\"type\":\"user\",\"user\":{\"username\":");
		o_json(&o, u->name, 0);
		o_str(&o, ",\"email\":");
		o_json(&o, u->email, 0);
		o_printf(&o, ",\"first_name\":\"%.*s\",\"last_name\":", sp ? (int)(sp - u->real) : (int)strlen(u->real), u->real);
		o_json(&o, sp ? sp + 1 : "", 0);
		o_printf(&o, ",\"roles\":\"system_user\"%s,\"teams\":[{\"name\":\"acme\",\"roles\":\"team_user\",\"channels\":[",
		    u->deleted ? ",\"delete_at\":1767225600000" : "");
		for (int ci = 0; ci < md->nconvs; ci++) {
			const struct conv *c = &md->convs[ci];

			if (c->kind != K_CHANNEL && c->kind != K_PRIVATE)
				continue;
			for (int k = 0; k < c->nmembers; k++)
				if (c->members[k] == i) {
					o_str(&o, first ? "{\"name\":" : ",{\"name\":");
					o_json(&o, c->name, 0);
					o_str(&o, ",\"roles\":\"channel_user\"}");
					first = 0;
				}
		}
		o_str(&o, "]}]}}\n");
	}
	for (int ci = 0; ci < md->nconvs; ci++) {
		const struct conv *c = &md->convs[ci];

		if (c->kind != K_DM && c->kind != K_GROUP)
			continue;
		o_str(&o, "{\"type\":\"direct_channel\",\"direct_channel\":{\"members\":[");
		for (int k = 0; k < c->nmembers; k++)
			o_printf(&o, "%s\"%s\"", k ? "," : "", md->users[c->members[k]].name);
		o_str(&o, "],\"header\":\"\"}}\n");
	}
	/* posts in time order, replies nested in their parents */
	order = calloc(md->nm + 1, sizeof(*order));
	for (int ci = 0; ci < md->nconvs; ci++)
		(void)ci;
	for (uint64_t i = 0; i < md->nm; i++)
		if (md->msgs[i].parent < 0 && !md->msgs[i].deleted)
			order[n++] = i;
	for (uint64_t x = 0; x < n; x++) {
		const struct msg *m = &md->msgs[order[x]];
		const struct conv *c = &md->convs[m->conv];
		uint32_t k = 0;

		while (c->msgs[k] != order[x])
			k++;
		if (c->kind == K_CHANNEL || c->kind == K_PRIVATE) {
			o_str(&o, "{\"type\":\"post\",\"post\":{\"team\":\"acme\",\"channel\":");
			o_json(&o, c->name, 0);
			o_str(&o, ",");
		} else {
			o_str(&o, "{\"type\":\"direct_post\",\"direct_post\":{\"channel_members\":[");
			for (int j = 0; j < c->nmembers; j++)
				o_printf(&o, "%s\"%s\"", j ? "," : "", md->users[c->members[j]].name);
			o_str(&o, "],");
		}
		mm_post_body(md, m, &o, &text);
		mm_replies(md, c, k, &o, &text);
		o_str(&o, "}}\n");
	}
	free(order);
	put_file(w, "export.jsonl", o.p, o.len, md->t1_us, 1);
	free(o.p);
	free(text.p);
}

/* ---- main ---- */

static void
set_dir_times(const char *dir, int64_t us)
{
	char path[4096];
	struct stat st;
	DIR *d = opendir(dir);
	struct dirent *de;

	if (d == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		if (lstat(path, &st) == 0 && S_ISDIR(st.st_mode))
			set_dir_times(path, us);
	}
	closedir(d);
	set_time(dir, us);
}

static void
usage(FILE *f)
{
	fprintf(f,
"usage: gen_corpus --out DIR [options]\n"
"\n"
"Writes a deterministic instant-messaging export: the same options always\n"
"give the same bytes and file times.\n"
"\n"
"  --out DIR             where to write (created)\n"
"  --preset NAME         tiny (~1 MB), small (~200 MB: 2 900 files, 40 000\n"
"                        messages, a 48 MiB file), full (~1.7 GB: ~19 000\n"
"                        files, 300 000 messages, a 512 MiB file, 200\n"
"                        conversations), and full's data in the shapes of\n"
"                        real workspaces: wide (2 000 conversations, 80 %%\n"
"                        of them DMs, 1 000 people) and very-wide (20 000\n"
"                        conversations, 85 %% DMs, 4 000 people)\n"
"  --seed N              seed of everything (default 1)\n"
"  --users N             people (default 20)\n"
"  --conversations N     channels, private channels, groups and DMs (8)\n"
"  --dms PCT             make PCT %% of the conversations DMs (default: about\n"
"                        10 %%, the rest mostly channels)\n"
"  --messages N          messages (2 000)\n"
"  --attachments N       attached files (40)\n"
"  --attachment-size B   mean attachment size in bytes; each is 50-150 %%\n"
"                        of it, incompressible (20000)\n"
"  --large-file B        also one attachment of exactly B bytes (0: none)\n"
"  --format F            canonical (default: imdr's layout with\n"
"                        manifest.json), slack (a workspace export folder,\n"
"                        files under __uploads/), mattermost (export.jsonl\n"
"                        and data/)\n"
"  --mutate PCT          turn a tree made with the same options into the\n"
"                        next day's: PCT %% of its files change and PCT %%\n"
"                        new files appear; the rest is not touched\n"
"  --day N               with --mutate: the Nth next day's export, for a\n"
"                        tree at day N-1 (default 1)\n"
"  -h, --help            this text\n");
}

static uint64_t
num(const char *opt, const char *s)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s || *end)
		die("%s %s: not a number", opt, s);
	return v;
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "out", required_argument, NULL, 'o' },
		{ "preset", required_argument, NULL, 'p' },
		{ "seed", required_argument, NULL, 's' },
		{ "users", required_argument, NULL, 'u' },
		{ "conversations", required_argument, NULL, 'c' },
		{ "messages", required_argument, NULL, 'm' },
		{ "attachments", required_argument, NULL, 'a' },
		{ "attachment-size", required_argument, NULL, 'z' },
		{ "large-file", required_argument, NULL, 'l' },
		{ "format", required_argument, NULL, 'f' },
		{ "mutate", required_argument, NULL, 'x' },
		{ "dms", required_argument, NULL, 'D' },
		{ "day", required_argument, NULL, 'd' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct model md = { .seed = 1, .nusers = 20, .nconvs = 8, .dm_pct = -1,
	    .nmsgs = 2000, .natts = 40, .att_size = 20000 };
	struct writer w = { 0 };
	const char *out = NULL, *format = "canonical";
	double pct = -1;
	uint64_t day = 1;
	struct timespec t0, t1;
	int ch;

	/* a preset first, so that other flags override it */
	for (int i = 1; i + 1 < argc; i++) {
		const char *p = NULL;

		if (strcmp(argv[i], "--preset") == 0)
			p = argv[i + 1];
		else if (strncmp(argv[i], "--preset=", 9) == 0)
			p = argv[i] + 9;
		if (p == NULL)
			continue;
		if (strcmp(p, "tiny") == 0) {
			md.nusers = 8; md.nconvs = 5; md.nmsgs = 400; md.natts = 12;
			md.att_size = 20000; md.large = 0;
		} else if (strcmp(p, "small") == 0) {
			md.nusers = 60; md.nconvs = 40; md.nmsgs = 40000; md.natts = 2700;
			md.att_size = 55000; md.large = 48ull << 20;
		} else if (strcmp(p, "full") == 0 || strcmp(p, "wide") == 0 ||
		    strcmp(p, "very-wide") == 0) {
			md.nusers = 400; md.nconvs = 200; md.nmsgs = 300000; md.natts = 18300;
			md.att_size = 60000; md.large = 512ull << 20;
			/* the shapes of real workspaces: thousands of small DMs */
			if (strcmp(p, "wide") == 0) {
				md.nusers = 1000; md.nconvs = 2000; md.dm_pct = 80;
			} else if (strcmp(p, "very-wide") == 0) {
				md.nusers = 4000; md.nconvs = 20000; md.dm_pct = 85;
			}
		} else
			die("--preset %s: tiny, small, full, wide or very-wide", p);
	}
	while ((ch = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (ch) {
		case 'o': out = optarg; break;
		case 'p': break;
		case 's': md.seed = num("--seed", optarg); break;
		case 'u': md.nusers = (int)num("--users", optarg); break;
		case 'c': md.nconvs = (int)num("--conversations", optarg); break;
		case 'D':
			md.dm_pct = (int)num("--dms", optarg);
			if (md.dm_pct > 100)
				die("--dms %s: a percentage, 0 to 100", optarg);
			break;
		case 'm': md.nmsgs = num("--messages", optarg); break;
		case 'a': md.natts = num("--attachments", optarg); break;
		case 'z': md.att_size = num("--attachment-size", optarg); break;
		case 'l': md.large = num("--large-file", optarg); break;
		case 'f': format = optarg; break;
		case 'x': pct = (double)num("--mutate", optarg); break;
		case 'd': day = num("--day", optarg); break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind != argc || out == NULL) {
		usage(stderr);
		return 2;
	}
	if (strcmp(format, "canonical") && strcmp(format, "slack") && strcmp(format, "mattermost"))
		die("--format %s: canonical, slack or mattermost", format);
	if (md.nusers < 2 || md.nconvs < 1 || md.nusers > 100000 || md.nconvs > 100000)
		die("need at least 2 users and 1 conversation");
	if (md.nmsgs == 0 && md.natts + (md.large > 0) > 0)
		die("attachments need messages");
	if (pct > 100)
		die("--mutate: a percentage, 0 to 100");
	if (day < 1 || day > 100000 || (day > 1 && pct < 0))
		die("--day: 1 to 100000, with --mutate");
	clock_gettime(CLOCK_MONOTONIC, &t0);
	build_model(&md);
	if (pct >= 0) {
		struct stat st;

		if (stat(out, &st) < 0 || !S_ISDIR(st.st_mode))
			die("--mutate: %s is not a tree made by gen_corpus", out);
		for (uint64_t d = 1; d <= day; d++)
			mutate(&md, pct, md.na + (uint64_t)md.nconvs * 3 + 2, d);
		w.mutating = 1;
	}
	index_conversations(&md);
	mkdirs(out);
	w.root = out;
	o_str(&w.manifest, "");
	if (strcmp(format, "canonical") == 0) {
		struct out o = { 0 };
		char a[64], b[64];
		uint64_t nfiles;

		write_canonical(&md, &w);
		nfiles = w.files;
		format_ts(md.t0_us, a, 1);
		format_ts(md.t1_us, b, 1);
		o_printf(&o, "{\n  \"source\": \"canonical\",\n  \"generator\": \"gen_corpus seed %" PRIu64 "\",\n"
		    "  \"span\": {\"from\": \"%s\", \"to\": \"%s\"},\n"
		    "  \"counts\": {\"users\": %d, \"conversations\": %d, \"messages\": %" PRIu64
		    ", \"attachments\": %" PRIu64 ", \"missing_attachments\": 0, \"files\": %" PRIu64 "},\n"
		    "  \"files\": [\n    ", md.seed, a, b, md.nusers, md.nconvs, md.nm, md.na, nfiles);
		o_put(&o, w.manifest.p, w.manifest.len);
		o_str(&o, "\n  ]\n}\n");
		put_file(&w, "manifest.json", o.p, o.len, md.t1_us, 1);
		free(o.p);
	} else if (strcmp(format, "slack") == 0)
		write_slack(&md, &w);
	else
		write_mattermost(&md, &w);
	set_dir_times(out, md.t0_us);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	printf("gen_corpus: %s: %s, %" PRIu64 " files, %" PRIu64 " bytes, %" PRIu64
	    " messages, %" PRIu64 " attachments; %" PRIu64 " bytes written in %.2f s%s\n",
	    out, format, w.files, w.bytes, md.nm, md.na, w.written,
	    (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9,
	    w.mutating ? " (mutated)" : "");
	free(w.manifest.p);
	for (int i = 0; i < md.nconvs; i++) {
		free(md.convs[i].members);
		free(md.convs[i].msgs);
	}
	free(md.convs);
	free(md.users);
	free(md.msgs);
	free(md.atts);
	return 0;
}
