/* job — see job.h. The file is read line by line by our own reader
 * callback, so that every value the parser hands over comes with its line
 * number (Debian's libinih is built without INI_HANDLER_LINENO) and
 * whether it continues the line before (an indented line), and so that a
 * line longer than inih's buffer is an error instead of a split value. */
#include "jobs/job.h"

#include <errno.h>
#include <ini.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "engine/forget.h"
#include "ingest/ingest.h"
#include "lib/array.h"
#include "lib/buf.h"
#include "lib/err.h"
#include "lib/fsutil.h"
#include "lib/timefmt.h"
#include "repo/snapshot.h"

static void
problem(struct job_problems *p, const char *file, int line, const char *fmt, ...)
{
	struct job_problem *pr = ARRAY_PUSH(p->v, p->n, p->cap);
	va_list ap;
	struct buf b = BUF_INIT;
	char tmp[1024];

	va_start(ap, fmt);
	vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	buf_puts(&b, tmp);
	pr->file = xstrdup(file);
	pr->line = line;
	pr->msg = buf_cstr(&b);
}

void
job_problems_free(struct job_problems *p)
{
	for (size_t i = 0; i < p->n; i++) {
		free(p->v[i].file);
		free(p->v[i].msg);
	}
	free(p->v);
	memset(p, 0, sizeof(*p));
}

char *
job_path(const char *spec, const char *dir)
{
	size_t n = strlen(spec);

	if (strchr(spec, '/') || (n > 5 && strcmp(spec + n - 5, ".conf") == 0))
		return xstrdup(spec);
	if (dir == NULL && (dir = getenv("IMDR_JOBS_DIR")) == NULL)
		dir = JOB_DEFAULT_DIR;
	return xasprintf("%s/%s.conf", dir, spec);
}

/* ---- reading lines ---- */

struct reader {
	FILE *f;
	int line;		/* of the line last handed to inih */
	int indented;		/* it began with a space or tab */
	char *buf;
	size_t cap;
	const char *file;
	struct job_problems *probs;
};

static char *
read_line(char *str, int num, void *stream)
{
	struct reader *rd = stream;
	ssize_t n = getline(&rd->buf, &rd->cap, rd->f);

	if (n < 0)
		return NULL;
	rd->line++;
	rd->indented = n > 0 && (rd->buf[0] == ' ' || rd->buf[0] == '\t');
	if (n > num - 1) {	/* getline's line ends with its newline, or the file */
		problem(rd->probs, rd->file, rd->line,
		    "line is %zd characters long; at most %d fit (put a long command in a script, "
		    "or continue it on indented lines)", n, num - 2);
		str[0] = '\n';	/* hand inih a blank line */
		str[1] = '\0';
		return str;
	}
	memcpy(str, rd->buf, (size_t)n + 1);
	return str;
}

/* ---- keys ---- */

enum vtype { V_STR, V_CMD, V_LIST, V_DUR, V_INT, V_BOOL, V_PCT };

struct key {
	const char *section, *name;
	enum vtype type;
	size_t off;		/* into struct job */
	size_t count_off;	/* V_LIST: its count */
	const char *what;	/* for messages: what a right value looks like */
};

#define F(m) offsetof(struct job, m)
static const struct key keys[] = {
	{ "job", "repository", V_STR, F(repository), 0, "a repository URL" },
	{ "job", "password-file", V_STR, F(password_file), 0, "a file holding the passphrase (mode 0600)" },
	{ "job", "password-command", V_CMD, F(password_command), 0, "a command printing the passphrase" },
	{ "job", "state-dir", V_STR, F(state_dir), 0, "a folder" },
	{ "job", "metrics-dir", V_STR, F(metrics_dir), 0, "a folder (node-exporter's textfile directory)" },
	{ "job", "before", V_CMD, F(before), 0, "a shell command" },
	{ "job", "after", V_CMD, F(after), 0, "a shell command" },
	{ "job", "on-failure", V_CMD, F(on_failure), 0, "a shell command" },
	{ "job", "hook-timeout", V_DUR, F(hook_timeout), 0, "a duration such as 30m" },
	{ "job", "copy-to", V_LIST, F(copy_to), F(ncopy_to), "a repository URL (a replica)" },
	{ "job", "min-replicas", V_INT, F(min_replicas), 0, "a number from 1 to 16" },
	{ "source", "path", V_STR, F(source_path), 0, "a folder or an export file" },
	{ "source", "command", V_CMD, F(source_command), 0, "a shell command writing the export to path" },
	{ "source", "name", V_STR, F(source_name), 0, "a source name" },
	{ "source", "format", V_STR, F(format), 0, "an export format" },
	{ "source", "attachments", V_STR, F(attachments), 0, "a folder" },
	{ "source", "tag", V_LIST, F(tags), F(ntags), "a tag" },
	{ "schedule", "on-calendar", V_LIST, F(on_calendar), F(non_calendar), "a systemd OnCalendar expression such as hourly or *-*-* 02:00" },
	{ "schedule", "randomized-delay", V_DUR, F(randomized_delay), 0, "a duration such as 5m" },
	{ "schedule", "full-every", V_DUR, F(full_every), 0, "a duration such as 1d" },
	{ "targets", "rpo", V_DUR, F(rpo), 0, "a duration such as 1h" },
	{ "targets", "rto", V_DUR, F(rto), 0, "a duration such as 2h" },
	{ "retention", "keep-last", V_INT, F(keep[JOB_KEEP_LAST]), 0, "a count, or -1 for all" },
	{ "retention", "keep-hourly", V_INT, F(keep[JOB_KEEP_HOURLY]), 0, "a count, or -1 for all" },
	{ "retention", "keep-daily", V_INT, F(keep[JOB_KEEP_DAILY]), 0, "a count, or -1 for all" },
	{ "retention", "keep-weekly", V_INT, F(keep[JOB_KEEP_WEEKLY]), 0, "a count, or -1 for all" },
	{ "retention", "keep-monthly", V_INT, F(keep[JOB_KEEP_MONTHLY]), 0, "a count, or -1 for all" },
	{ "retention", "keep-yearly", V_INT, F(keep[JOB_KEEP_YEARLY]), 0, "a count, or -1 for all" },
	{ "retention", "keep-within", V_STR, F(keep_within), 0, "a span such as 1y2m3d4h" },
	{ "retention", "tz", V_STR, F(retention_tz), 0, "a time zone (UTC, local, +02:00, Europe/Berlin)" },
	{ "retention", "every", V_DUR, F(retention_every), 0, "a duration such as 1d" },
	{ "retention", "max-unused", V_PCT, F(max_unused), 0, "a percentage such as 10%" },
	{ "check", "every", V_DUR, F(check_every), 0, "a duration such as 7d" },
	{ "check", "read-data", V_BOOL, F(check_read_data), 0, "yes or no" },
	{ "check", "read-data-every", V_DUR, F(read_data_every), 0, "a duration such as 30d" },
	{ "drill", "every", V_DUR, F(drill_every), 0, "a duration such as 182d" },
	{ "drill", "sample", V_PCT, F(drill_sample), 0, "a percentage such as 5%" },
	{ "drill", "scratch", V_STR, F(drill_scratch), 0, "a folder" },
};
#define NKEYS (sizeof(keys) / sizeof(keys[0]))
#undef F
_Static_assert(NKEYS <= JOB_MAX_KEYS, "JOB_MAX_KEYS too small");

struct parse {
	struct job *j;
	struct reader *rd;
	const char *file;
	struct job_problems *probs;
	int *seen;			/* line where each key was set: j->key_line */
	int last_key;			/* index of the key of the line before */
};

static int
is_section(const char *s)
{
	for (size_t i = 0; i < NKEYS; i++)
		if (strcmp(keys[i].section, s) == 0)
			return 1;
	return 0;
}

static void
known_keys(const char *section, char *out, size_t n)
{
	size_t len = 0;

	out[0] = '\0';
	for (size_t i = 0; i < NKEYS && len + 2 < n; i++)
		if (strcmp(keys[i].section, section) == 0)
			len += (size_t)snprintf(out + len, n - len, "%s%s", len ? ", " : "", keys[i].name);
}

static int
parse_pct(const char *v, double *ret)
{
	char *end;
	double d;

	errno = 0;
	d = strtod(v, &end);
	if (end == v || errno)
		return -1;
	if (*end == '%')
		end++;
	if (*end != '\0' || d < 0 || d > 100)
		return -1;
	*ret = d;
	return 0;
}

static int
parse_bool(const char *v, int *ret)
{
	static const char *const yes[] = { "yes", "true", "on", "1" };
	static const char *const no[] = { "no", "false", "off", "0" };

	for (size_t i = 0; i < 4; i++) {
		if (strcasecmp(v, yes[i]) == 0)
			return *ret = 1, 0;
		if (strcasecmp(v, no[i]) == 0)
			return *ret = 0, 0;
	}
	return -1;
}

static int
handler(void *user, const char *section, const char *name, const char *value)
{
	struct parse *ps = user;
	int line = ps->rd->line;
	const struct key *k = NULL;
	size_t ki;
	char *slot;

	/* an indented line continues the value before it */
	if (ps->rd->indented && ps->last_key >= 0 && strcmp(keys[ps->last_key].name, name) == 0 &&
	    strcmp(keys[ps->last_key].section, section) == 0) {
		k = &keys[ps->last_key];
		if (k->type == V_CMD) {
			char **p = (char **)((char *)ps->j + k->off);
			char *joined = xasprintf("%s %s", *p, value);

			free(*p);
			*p = joined;
			return 1;
		}
		if (k->type != V_LIST) {
			problem(ps->probs, ps->file, line, "%s: an indented line continues the value of "
			    "%s, which takes one value (only commands and lists go on over several lines)",
			    name, name);
			return 1;
		}
	}
	ps->last_key = -1;
	if (*section == '\0') {
		problem(ps->probs, ps->file, line, "%s = ...: outside any section; put it under "
		    "[job], [source], [schedule], [targets], [retention], [check] or [drill]", name);
		return 1;
	}
	if (!is_section(section)) {
		problem(ps->probs, ps->file, line, "[%s]: no such section (the sections are job, source, "
		    "schedule, targets, retention, check and drill)", section);
		return 1;
	}
	for (ki = 0; ki < NKEYS; ki++)
		if (strcmp(keys[ki].section, section) == 0 && strcmp(keys[ki].name, name) == 0)
			break;
	if (ki == NKEYS) {
		char known[512];

		known_keys(section, known, sizeof(known));
		if (strcmp(name, "password") == 0 || strcmp(name, "passphrase") == 0)
			problem(ps->probs, ps->file, line, "%s: a passphrase never stands in a job file; "
			    "use password-file (a file of mode 0600) or password-command", name);
		else
			problem(ps->probs, ps->file, line, "%s: no such key in [%s] (it has: %s)", name,
			    section, known);
		return 1;
	}
	k = &keys[ki];
	ps->last_key = (int)ki;
	if (k->type != V_LIST && ps->seen[ki]) {
		problem(ps->probs, ps->file, line, "%s: set twice in [%s] (first on line %d)", name,
		    section, ps->seen[ki]);
		return 1;
	}
	ps->seen[ki] = line;
	if (*value == '\0') {
		problem(ps->probs, ps->file, line, "%s: no value; expected %s", name, k->what);
		return 1;
	}
	slot = (char *)ps->j + k->off;
	switch (k->type) {
	case V_STR:
	case V_CMD:
		*(char **)slot = xstrdup(value);
		break;
	case V_LIST: {
		size_t *count = (size_t *)((char *)ps->j + k->count_off);

		if (*count >= JOB_MAX_LIST) {
			problem(ps->probs, ps->file, line, "%s: more than %d values", name, JOB_MAX_LIST);
			break;
		}
		if (k->off == offsetof(struct job, on_calendar))
			ps->j->on_calendar_line[*count] = line;
		((char **)slot)[(*count)++] = xstrdup(value);
		break;
	}
	case V_DUR:
		if (duration_parse(value, (int64_t *)slot) != 0)
			problem(ps->probs, ps->file, line, "%s = %s: not a duration; expected %s "
			    "(units s, m, h, d, w)", name, value, k->what);
		break;
	case V_INT: {
		char *end;
		long v;

		errno = 0;
		v = strtol(value, &end, 10);
		if (*end || errno || v < -1 || v > 1000000)
			problem(ps->probs, ps->file, line, "%s = %s: expected %s", name, value, k->what);
		else
			*(int *)slot = (int)v;
		break;
	}
	case V_BOOL:
		if (parse_bool(value, (int *)slot) != 0)
			problem(ps->probs, ps->file, line, "%s = %s: expected yes or no", name, value);
		break;
	case V_PCT:
		if (parse_pct(value, (double *)slot) != 0)
			problem(ps->probs, ps->file, line, "%s = %s: expected %s (0 to 100)", name, value,
			    k->what);
		break;
	}
	return 1;
}

/* ---- checking what was read ---- */

int
job_line(const struct job *j, const char *section, const char *name)
{
	for (size_t i = 0; i < NKEYS; i++)
		if (strcmp(keys[i].section, section) == 0 && strcmp(keys[i].name, name) == 0)
			return j->key_line[i];
	return 0;
}

static int
line_of(const struct parse *ps, const char *section, const char *name)
{
	return job_line(ps->j, section, name);
}

/* said: a problem was already found on line since probs[n0] */
static int
said(const struct parse *ps, int line)
{
	for (size_t i = 0; i < ps->probs->n; i++)
		if (ps->probs->v[i].line == line && strcmp(ps->probs->v[i].file, ps->file) == 0)
			return 1;
	return 0;
}

static int
valid_job_name(const char *s)
{
	if (*s == '\0' || *s == '.' || strlen(s) > JOB_NAME_MAX)
		return 0;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
		    *s == '-' || *s == '_' || *s == '.'))
			return 0;
	return 1;
}

static void
check_job(struct parse *ps, const char *state_root)
{
	struct job *j = ps->j;
	const char *f = ps->file;

	if (j->repository == NULL)
		problem(ps->probs, f, 0, "[job] repository = ... is missing: the repository to back up into");
	if (j->password_file == NULL && j->password_command == NULL)
		problem(ps->probs, f, 0, "[job] has neither password-file nor password-command: "
		    "the passphrase must come from one of them");
	if (j->password_file && j->password_command)
		problem(ps->probs, f, line_of(ps, "job", "password-command"),
		    "password-command: password-file is set too (line %d); keep one",
		    line_of(ps, "job", "password-file"));
	if (j->source_path == NULL)
		problem(ps->probs, f, 0, "[source] path = ... is missing: what to back up "
		    "(the folder or file the export is in)");
	else if (j->source_path[0] != '/')
		problem(ps->probs, f, line_of(ps, "source", "path"),
		    "path = %s: must be absolute (a job runs from any folder)", j->source_path);
	if (j->source_name && snapshot_source_check(j->source_name) != IMDR_OK)
		problem(ps->probs, f, line_of(ps, "source", "name"), "name: %s", err_msg(IMDR_EINVAL));
	if (j->format && ingest_format_find(j->format) == NULL) {
		char known[256];
		size_t n = 0;

		known[0] = '\0';
		for (size_t i = 0; ingest_formats[i] && n + 2 < sizeof(known); i++)
			n += (size_t)snprintf(known + n, sizeof(known) - n, "%s%s", n ? ", " : "",
			    ingest_formats[i]->name);
		problem(ps->probs, f, line_of(ps, "source", "format"),
		    "format = %s: no such format (known: %s)", j->format, known);
	}
	if (line_of(ps, "job", "min-replicas") && !said(ps, line_of(ps, "job", "min-replicas")) &&
	    (j->min_replicas < 1 || j->min_replicas > 16))
		problem(ps->probs, f, line_of(ps, "job", "min-replicas"),
		    "min-replicas = %d: expected a number from 1 to 16", j->min_replicas);
	for (int i = 0; i < JOB_NKEEP; i++) {
		if (j->keep[i]) {
			j->has_retention = 1;
			break;
		}
	}
	if (j->keep_within) {
		struct forget_duration d;

		j->has_retention = 1;
		if (forget_parse_duration(j->keep_within, &d) != IMDR_OK)
			problem(ps->probs, f, line_of(ps, "retention", "keep-within"), "keep-within = %s: %s",
			    j->keep_within, err_msg(IMDR_EINVAL));
	}
	if (j->retention_tz && forget_tz_check(j->retention_tz) != IMDR_OK)
		problem(ps->probs, f, line_of(ps, "retention", "tz"), "tz = %s: %s", j->retention_tz,
		    err_msg(IMDR_EINVAL));
	if (!j->has_retention) {
		static const char *const only[] = { "every", "max-unused", "tz" };

		for (size_t i = 0; i < 3; i++)
			if (line_of(ps, "retention", only[i]))
				problem(ps->probs, f, line_of(ps, "retention", only[i]),
				    "%s: [retention] keeps nothing: set keep-last, keep-hourly, keep-daily, "
				    "keep-weekly, keep-monthly, keep-yearly or keep-within", only[i]);
	}
	if (j->retention_every == 0 && line_of(ps, "retention", "every") == 0)
		j->retention_every = 86400;
	if (j->drill_sample == 0 && line_of(ps, "drill", "sample") &&
	    !said(ps, line_of(ps, "drill", "sample")))
		problem(ps->probs, f, line_of(ps, "drill", "sample"),
		    "sample = 0%%: a drill restores something; leave sample out to restore every file");
	if (j->check_read_data && j->check_every == 0)
		problem(ps->probs, f, line_of(ps, "check", "read-data"),
		    "read-data: [check] every = ... is not set, so no check runs");
	if (j->state_dir == NULL) {
		if (state_root == NULL && (state_root = getenv("IMDR_STATE_DIR")) == NULL)
			state_root = JOB_DEFAULT_STATE_DIR;
		j->state_dir = xasprintf("%s/%s", state_root, j->name);
	}
}

int
job_load(const char *path, const char *state_root, struct job **ret,
    struct job_problems *probs)
{
	struct reader rd;
	struct parse ps;
	struct job *j;
	const char *base;
	char abs[PATH_MAX];
	size_t n0 = probs->n, len;
	int rc;

	*ret = NULL;
	memset(&rd, 0, sizeof(rd));
	if ((rd.f = fopen(path, "r")) == NULL) {
		problem(probs, path, 0, "cannot read the job file: %s", strerror(errno));
		return IMDR_EINVAL;
	}
	j = xcalloc(1, sizeof(*j));
	j->max_unused = -1;
	j->file = xstrdup(realpath(path, abs) ? abs : path);
	base = strrchr(path, '/');
	base = base ? base + 1 : path;
	len = strlen(base);
	if (len > 5 && strcmp(base + len - 5, ".conf") == 0)
		len -= 5;
	snprintf(j->name, sizeof(j->name), "%.*s", (int)(len > JOB_NAME_MAX ? JOB_NAME_MAX : len), base);
	if (!valid_job_name(j->name) || len > JOB_NAME_MAX)
		problem(probs, path, 0, "the job's name (its file name without .conf) must be 1 to %d "
		    "letters, digits, '-', '_' or '.': it names the state folder, the metrics file and "
		    "the systemd units", JOB_NAME_MAX);
	rd.file = path;
	rd.probs = probs;
	memset(&ps, 0, sizeof(ps));
	ps.j = j;
	ps.rd = &rd;
	ps.file = path;
	ps.probs = probs;
	ps.seen = j->key_line;
	ps.last_key = -1;
	rc = ini_parse_stream(read_line, &rd, handler, &ps);
	if (rc > 0 && probs->n == n0)
		problem(probs, path, rc, "not a line of a job file: expected [section], key = value, "
		    "or a comment (# or ;)");
	else if (rc < 0)
		problem(probs, path, 0, "cannot read the job file");
	fclose(rd.f);
	free(rd.buf);
	check_job(&ps, state_root);
	*ret = j;
	return probs->n > n0 ? IMDR_EINVAL : IMDR_OK;
}

void
job_free(struct job *j)
{
	if (j == NULL)
		return;
	for (size_t i = 0; i < NKEYS; i++) {
		char *slot = (char *)j + keys[i].off;

		if (keys[i].type == V_STR || keys[i].type == V_CMD) {
			free(*(char **)slot);
		} else if (keys[i].type == V_LIST) {
			size_t n = *(size_t *)((char *)j + keys[i].count_off);

			for (size_t k = 0; k < n; k++)
				free(((char **)slot)[k]);
		}
	}
	free(j->file);
	free(j);
}

/* ---- what the system must offer ---- */

/* writable_or_makeable: dir exists and is writable, or its nearest
 * existing parent is. */
static int
writable_or_makeable(const char *dir, char *why, size_t n)
{
	char *p = xstrdup(dir), *slash;
	struct stat st;
	int ok;

	for (;;) {
		if (stat(p, &st) == 0) {
			ok = S_ISDIR(st.st_mode) && access(p, W_OK | X_OK) == 0;
			if (!ok)
				snprintf(why, n, "%s %s", p, S_ISDIR(st.st_mode) ?
				    "is not writable by this user" : "is not a folder");
			free(p);
			return ok;
		}
		if ((slash = strrchr(p, '/')) == NULL || slash == p) {
			snprintf(why, n, "no part of it exists");
			free(p);
			return 0;
		}
		*slash = '\0';
	}
}

/* calendar_ok: systemd-analyze calendar accepts expr; 1 as well when
 * the program is not here (nothing to ask). */
static int
calendar_ok(const char *expr, char *why, size_t n)
{
	static const char *const dirs[] = { "/usr/bin", "/bin", "/usr/local/bin" };
	char *cmd, prog[64], line[512];
	FILE *p;
	int status;

	why[0] = '\0';
	for (size_t i = 0; i < 3; i++) {
		snprintf(prog, sizeof(prog), "%s/systemd-analyze", dirs[i]);
		if (access(prog, X_OK) == 0)
			break;
		prog[0] = '\0';
	}
	if (prog[0] == '\0')
		return 1;
	{
		/* the expression goes to the program as one argument, quoted */
		struct buf b = BUF_INIT;

		buf_printf(&b, "%s calendar '", prog);
		for (const char *s = expr; *s; s++) {
			if (*s == '\'')
				buf_puts(&b, "'\\''");
			else
				buf_putc(&b, (uint8_t)*s);
		}
		buf_puts(&b, "' 2>&1");
		cmd = buf_cstr(&b);
	}
	p = popen(cmd, "r");
	free(cmd);
	if (p == NULL)
		return 1;
	while (fgets(line, sizeof(line), p))
		if (why[0] == '\0' && strstr(line, "ailed")) {
			line[strcspn(line, "\n")] = '\0';
			snprintf(why, n, "%s", line);
		}
	status = pclose(p);
	return status == 0;
}

int
job_check_system(const struct job *j, int calendar, struct job_problems *probs)
{
	size_t n0 = probs->n;
	struct stat st;
	char why[PATH_MAX + 64];
	int pl = job_line(j, "job", "password-file");

	if (j->password_file) {
		if (stat(j->password_file, &st) != 0)
			problem(probs, j->file, pl, "password-file %s: %s", j->password_file, strerror(errno));
		else if (!S_ISREG(st.st_mode))
			problem(probs, j->file, pl, "password-file %s: not a regular file", j->password_file);
		else if ((st.st_mode & 077) != 0)
			problem(probs, j->file, pl, "password-file %s: mode %03o lets others read it; "
			    "chmod 600 %s", j->password_file, (unsigned)(st.st_mode & 0777), j->password_file);
		else if (st.st_uid != geteuid())
			problem(probs, j->file, pl, "password-file %s: owned by uid %u, not by the user "
			    "running the job (uid %u)", j->password_file, (unsigned)st.st_uid,
			    (unsigned)geteuid());
	}
	if (j->source_path && j->source_command == NULL && access(j->source_path, R_OK) != 0)
		problem(probs, j->file, job_line(j, "source", "path"),
		    "path %s: %s (and no command produces it)", j->source_path, strerror(errno));
	if (!writable_or_makeable(j->state_dir, why, sizeof(why)))
		problem(probs, j->file, job_line(j, "job", "state-dir"),
		    "state-dir %s cannot be written: %s", j->state_dir, why);
	if (j->metrics_dir && !writable_or_makeable(j->metrics_dir, why, sizeof(why)))
		problem(probs, j->file, job_line(j, "job", "metrics-dir"),
		    "metrics-dir %s cannot be written: %s", j->metrics_dir, why);
	if (j->drill_every && j->drill_scratch && !writable_or_makeable(j->drill_scratch, why, sizeof(why)))
		problem(probs, j->file, job_line(j, "drill", "scratch"),
		    "scratch %s cannot be written: %s", j->drill_scratch, why);
	for (size_t i = 0; calendar && i < j->non_calendar; i++)
		if (!calendar_ok(j->on_calendar[i], why, sizeof(why)))
			problem(probs, j->file, j->on_calendar_line[i],
			    "on-calendar = %s: systemd does not accept it%s%s (see systemd.time(7))",
			    j->on_calendar[i], why[0] ? ": " : "", why);
	return probs->n > n0 ? IMDR_EINVAL : IMDR_OK;
}
