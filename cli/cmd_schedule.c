/* imdr schedule — write, remove or list a job's systemd units
 * (jobs/schedule.c) and, on a machine run by systemd with the default
 * unit folder, tell systemd (daemon-reload, enable --now / disable --now). */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli/common.h"
#include "jobs/job.h"
#include "jobs/schedule.h"
#include "lib/err.h"
#include "lib/log.h"

static void
usage(FILE *f)
{
	fprintf(f,
"usage: imdr schedule install JOB [options]\n"
"       imdr schedule remove JOB [options]\n"
"       imdr schedule list [options]\n"
"\n"
"install writes imdr-JOB.service (Type=oneshot: imdr run JOB_FILE) and\n"
"imdr-JOB.timer (OnCalendar= from the job's [schedule] on-calendar lines,\n"
"Persistent=true, RandomizedDelaySec= from randomized-delay) into the unit\n"
"folder, then, on a machine run by systemd and with the default folder, runs\n"
"systemctl daemon-reload and systemctl enable --now imdr-JOB.timer. remove\n"
"disables the timer and deletes both units. list shows the installed jobs:\n"
"their calendar, whether the timer is enabled, and what they run.\n"
"examples/systemd/ has the same units written by hand.\n"
"\n"
"options:\n"
"  --unit-dir DIR      the unit folder (default /etc/systemd/system; another\n"
"                      folder is written only, systemd is not told)\n"
"  --imdr PATH         the imdr program the service runs (default: this one)\n"
"  --jobs-dir DIR      where job files are (default $IMDR_JOBS_DIR or /etc/imdr/jobs)\n"
"  --state-dir DIR     the service runs with IMDR_STATE_DIR=DIR\n"
"  --no-enable         write or remove the files only; do not call systemctl\n");
}

static int
systemd_running(void)
{
	return access("/run/systemd/system", F_OK) == 0;
}

static int
systemctl(const char *a, const char *b, const char *c)
{
	char *const argv[] = { "systemctl", (char *)a, (char *)b, (char *)c, NULL };
	int status;
	pid_t pid;

	fflush(stdout);
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		execvp("systemctl", argv);
		_exit(127);
	}
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		warn0("systemctl %s %s%s%s failed (status %d)", a, b ? b : "", c ? " " : "", c ? c : "",
		    WIFEXITED(status) ? WEXITSTATUS(status) : -1);
		return -1;
	}
	return 0;
}

int
cmd_schedule(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "unit-dir", required_argument, NULL, 'u' },
		{ "imdr", required_argument, NULL, 'i' },
		{ "jobs-dir", required_argument, NULL, 'j' },
		{ "state-dir", required_argument, NULL, 's' },
		{ "no-enable", no_argument, NULL, 'n' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *unit_dir = NULL, *imdr = NULL, *jobs_dir = NULL, *state_dir = NULL, *verb;
	char self[PATH_MAX], unit[JOB_NAME_MAX + 16];
	int c, rc, no_enable = 0, tell;

	optind = 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'u': unit_dir = optarg; break;
		case 'i': imdr = optarg; break;
		case 'j': jobs_dir = optarg; break;
		case 's': state_dir = optarg; break;
		case 'n': no_enable = 1; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (argc - optind < 1) {
		usage(stderr);
		return 2;
	}
	verb = argv[optind];
	tell = !no_enable && unit_dir == NULL && systemd_running();
	if (strcmp(verb, "list") == 0 && argc - optind == 1) {
		struct schedule_entry *v;
		size_t n;

		if ((rc = schedule_list(unit_dir, &v, &n)) != IMDR_OK)
			return cli_fail(rc);
		if (n == 0)
			printf("no imdr jobs scheduled in %s\n", unit_dir ? unit_dir : SCHEDULE_UNIT_DIR);
		else
			printf("%-16s %-8s %-28s %s\n", "JOB", "ENABLED", "ON CALENDAR", "RUNS");
		for (size_t i = 0; i < n; i++)
			printf("%-16s %-8s %-28s %s\n", v[i].job, v[i].enabled ? "yes" : "no",
			    v[i].on_calendar ? v[i].on_calendar : "?", v[i].exec ? v[i].exec : "?");
		schedule_list_free(v, n);
		return 0;
	}
	if (argc - optind != 2 || (strcmp(verb, "install") != 0 && strcmp(verb, "remove") != 0)) {
		usage(stderr);
		return 2;
	}
	if (strcmp(verb, "remove") == 0) {
		const char *job = argv[optind + 1];
		char *slash = strrchr(job, '/');

		/* a job file's path names the job too */
		if (slash)
			job = slash + 1;
		snprintf(unit, sizeof(unit), "%s", job);
		if (strlen(unit) > 5 && strcmp(unit + strlen(unit) - 5, ".conf") == 0)
			unit[strlen(unit) - 5] = '\0';
		{
			char name[JOB_NAME_MAX + 1];
			char timer[JOB_NAME_MAX + 16];

			snprintf(name, sizeof(name), "%s", unit);
			snprintf(timer, sizeof(timer), "imdr-%s.timer", name);
			if (tell)
				systemctl("disable", "--now", timer);
			rc = schedule_remove(name, unit_dir);
			if (rc)
				return cli_fail(rc);
			if (tell)
				systemctl("daemon-reload", NULL, NULL);
			printf("removed imdr-%s.service and imdr-%s.timer from %s\n", name, name,
			    unit_dir ? unit_dir : SCHEDULE_UNIT_DIR);
		}
		return 0;
	}
	{
		struct job_problems probs = { NULL, 0, 0 };
		char *path = job_path(argv[optind + 1], jobs_dir), *ps = NULL, *pt = NULL;
		struct job *j = NULL;

		job_load(path, state_dir, &j, &probs);
		if (j)
			job_check_system(j, 1, &probs);
		for (size_t i = 0; i < probs.n; i++) {
			if (probs.v[i].line)
				fprintf(stderr, "%s:%d: %s\n", probs.v[i].file, probs.v[i].line, probs.v[i].msg);
			else
				fprintf(stderr, "%s: %s\n", probs.v[i].file, probs.v[i].msg);
		}
		free(path);
		if (probs.n) {
			warn0("not scheduled: the job file has %zu mistake%s (above)", probs.n,
			    probs.n == 1 ? "" : "s");
			job_problems_free(&probs);
			job_free(j);
			return 2;
		}
		if (imdr == NULL) {
			ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);

			if (n <= 0) {
				warn0("cannot tell where this imdr is; give --imdr PATH");
				job_free(j);
				return 2;
			}
			self[n] = '\0';
			imdr = self;
		}
		rc = schedule_install(j, unit_dir, imdr, state_dir, &ps, &pt);
		if (rc) {
			job_free(j);
			return cli_fail(rc);
		}
		printf("wrote %s\nwrote %s\n", ps, pt);
		snprintf(unit, sizeof(unit), "imdr-%s.timer", j->name);
		if (tell && (systemctl("daemon-reload", NULL, NULL) != 0 ||
		    systemctl("enable", "--now", unit) != 0))
			rc = IMDR_EIO;
		else if (tell)
			printf("enabled and started %s\n", unit);
		else if (!no_enable)
			printf("to start it: systemctl daemon-reload && systemctl enable --now %s\n", unit);
		free(ps);
		free(pt);
		job_free(j);
		return rc ? 1 : 0;
	}
}
