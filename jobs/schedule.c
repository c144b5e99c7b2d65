/* schedule — see schedule.h. */
#include "jobs/schedule.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/err.h"
#include "lib/fsutil.h"

/* exec_arg: one word of an ExecStart= line, quoted as systemd reads it
 * (double quotes, backslash escapes) and with '%' doubled (specifiers). */
static void
exec_arg(struct buf *b, const char *s)
{
	buf_putc(b, '"');
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			buf_putc(b, '\\');
		if (*s == '%')
			buf_putc(b, '%');
		buf_putc(b, (uint8_t)*s);
	}
	buf_putc(b, '"');
}

/* value: a unit file value on one line, '%' doubled */
static void
value(struct buf *b, const char *s)
{
	for (; *s; s++) {
		if (*s == '%')
			buf_putc(b, '%');
		buf_putc(b, *s == '\n' ? ' ' : (uint8_t)*s);
	}
}

int
schedule_units(const struct job *j, const char *imdr_path, const char *state_root,
    struct buf *service, struct buf *timer)
{
	if (j->non_calendar == 0)
		return err_set(IMDR_EINVAL, "%s: [schedule] has no on-calendar = ... line: when should "
		    "the job run? (e.g. on-calendar = hourly)", j->file);
	if (imdr_path[0] != '/')
		return err_set(IMDR_EINVAL, "%s: the imdr program's path must be absolute", imdr_path);
	buf_printf(service,
	    "# Written by `imdr schedule install %s` from %s.\n"
	    "# `imdr schedule remove %s` removes it; edit the job file and install again\n"
	    "# rather than this file. See imdr(1), \"imdr schedule\".\n"
	    "[Unit]\n"
	    "Description=imdr backup job %s\n"
	    "Wants=network-online.target\n"
	    "After=network-online.target\n"
	    "\n"
	    "[Service]\n"
	    "Type=oneshot\n"
	    "ExecStart=", j->name, j->file, j->name, j->name);
	exec_arg(service, imdr_path);
	buf_puts(service, " run ");
	exec_arg(service, j->file);
	buf_puts(service, " --quiet\n");
	if (state_root) {
		char *env = xasprintf("IMDR_STATE_DIR=%s", state_root);

		buf_puts(service, "Environment=");
		exec_arg(service, env);
		buf_puts(service, "\n");
		free(env);
	}
	buf_puts(service,
	    "# a run is background work: it yields the CPU and the disks\n"
	    "Nice=10\n"
	    "IOSchedulingClass=best-effort\n"
	    "IOSchedulingPriority=7\n"
	    "# a full backup, check or drill may take hours; hook-timeout bounds hooks\n"
	    "TimeoutStartSec=infinity\n"
	    "# the key stays out of core dumps either way (imdr is non-dumpable)\n"
	    "LimitCORE=0\n");

	buf_printf(timer,
	    "# Written by `imdr schedule install %s` from %s.\n"
	    "[Unit]\n"
	    "Description=imdr backup job %s on its schedule\n"
	    "\n"
	    "[Timer]\n", j->name, j->file, j->name);
	for (size_t i = 0; i < j->non_calendar; i++) {
		buf_puts(timer, "OnCalendar=");
		value(timer, j->on_calendar[i]);
		buf_puts(timer, "\n");
	}
	buf_puts(timer, "# a run missed while the machine was off happens when it is back\n"
	    "Persistent=true\n");
	if (j->randomized_delay) {
		buf_printf(timer, "RandomizedDelaySec=%lld\n", (long long)j->randomized_delay);
	}
	buf_printf(timer, "Unit=imdr-%s.service\n"
	    "\n"
	    "[Install]\n"
	    "WantedBy=timers.target\n", j->name);
	return IMDR_OK;
}

int
schedule_install(const struct job *j, const char *unit_dir, const char *imdr_path,
    const char *state_root, char **ret_service, char **ret_timer)
{
	struct buf svc = BUF_INIT, tmr = BUF_INIT;
	char *ps, *pt;
	int rc;

	if (unit_dir == NULL)
		unit_dir = SCHEDULE_UNIT_DIR;
	rc = schedule_units(j, imdr_path, state_root, &svc, &tmr);
	if (rc) {
		buf_free(&svc);
		buf_free(&tmr);
		return rc;
	}
	ps = xasprintf("%s/imdr-%s.service", unit_dir, j->name);
	pt = xasprintf("%s/imdr-%s.timer", unit_dir, j->name);
	if (write_file_atomic(ps, svc.data, svc.len, 0644) < 0)
		rc = err_set(err_from_errno(errno), "cannot write %s: %s", ps, strerror(errno));
	else if (write_file_atomic(pt, tmr.data, tmr.len, 0644) < 0)
		rc = err_set(err_from_errno(errno), "cannot write %s: %s", pt, strerror(errno));
	buf_free(&svc);
	buf_free(&tmr);
	if (rc == IMDR_OK && ret_service)
		*ret_service = ps;
	else
		free(ps);
	if (rc == IMDR_OK && ret_timer)
		*ret_timer = pt;
	else
		free(pt);
	return rc;
}

int
schedule_remove(const char *job, const char *unit_dir)
{
	static const char *const fmts[] = { "%s/imdr-%s.service", "%s/imdr-%s.timer",
	    "%s/timers.target.wants/imdr-%s.timer" };
	int removed = 0, rc = IMDR_OK;

	if (unit_dir == NULL)
		unit_dir = SCHEDULE_UNIT_DIR;
	for (size_t i = 0; i < 3; i++) {
		char *p = xasprintf(fmts[i], unit_dir, job);

		if (unlink(p) == 0) {
			if (i < 2)
				removed++;
		} else if (errno != ENOENT && rc == IMDR_OK) {
			rc = err_set(err_from_errno(errno), "cannot remove %s: %s", p, strerror(errno));
		}
		free(p);
	}
	if (rc == IMDR_OK && removed == 0)
		rc = err_set(IMDR_ENOENT, "no units of job %s in %s (imdr-%s.service, imdr-%s.timer)",
		    job, unit_dir, job, job);
	return rc;
}

static char *
unit_values(const char *path, const char *key)
{
	FILE *f = fopen(path, "r");
	struct buf b = BUF_INIT;
	char line[4096];
	size_t kl = strlen(key);

	if (f == NULL)
		return NULL;
	while (fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\n")] = '\0';
		if (strncmp(line, key, kl) == 0 && line[kl] == '=') {
			if (b.len)
				buf_puts(&b, "; ");
			buf_puts(&b, line + kl + 1);
		}
	}
	fclose(f);
	return b.len ? buf_cstr(&b) : NULL;
}

static int
cmp_entry(const void *a, const void *b)
{
	return strcmp(((const struct schedule_entry *)a)->job, ((const struct schedule_entry *)b)->job);
}

int
schedule_list(const char *unit_dir, struct schedule_entry **ret, size_t *ret_n)
{
	struct schedule_entry *v = NULL;
	size_t n = 0, cap = 0;
	struct dirent *de;
	DIR *d;

	if (unit_dir == NULL)
		unit_dir = SCHEDULE_UNIT_DIR;
	*ret = NULL;
	*ret_n = 0;
	if ((d = opendir(unit_dir)) == NULL)
		return err_set(err_from_errno(errno), "cannot read %s: %s", unit_dir, strerror(errno));
	while ((de = readdir(d)) != NULL) {
		size_t l = strlen(de->d_name);
		char *tp, *sp, *wp;
		struct schedule_entry *e;

		if (l < 11 || strncmp(de->d_name, "imdr-", 5) != 0 ||
		    strcmp(de->d_name + l - 6, ".timer") != 0 || l - 11 > JOB_NAME_MAX)
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 8;
			v = xrealloc(v, cap * sizeof(*v));
		}
		e = &v[n++];
		memset(e, 0, sizeof(*e));
		snprintf(e->job, sizeof(e->job), "%.*s", (int)(l - 11), de->d_name + 5);
		tp = xasprintf("%s/%s", unit_dir, de->d_name);
		sp = xasprintf("%s/imdr-%s.service", unit_dir, e->job);
		wp = xasprintf("%s/timers.target.wants/%s", unit_dir, de->d_name);
		e->on_calendar = unit_values(tp, "OnCalendar");
		e->exec = unit_values(sp, "ExecStart");
		e->enabled = access(wp, F_OK) == 0;
		free(tp);
		free(sp);
		free(wp);
	}
	closedir(d);
	if (n)
		qsort(v, n, sizeof(*v), cmp_entry);
	*ret = v;
	*ret_n = n;
	return IMDR_OK;
}

void
schedule_list_free(struct schedule_entry *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(v[i].on_calendar);
		free(v[i].exec);
	}
	free(v);
}
