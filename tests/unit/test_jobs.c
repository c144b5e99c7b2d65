/* Unit tests of jobs/: durations, job files (every mistake with its
 * line, a command continued on indented lines), status levels, the
 * Prometheus text (escaping, HELP/TYPE once a metric), systemd units. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "jobs/job.h"
#include "jobs/schedule.h"
#include "jobs/state.h"
#include "jobs/status.h"
#include "lib/buf.h"
#include "lib/err.h"
#include "lib/timefmt.h"
#include "tests/unit/test.h"

static char dir[] = "/tmp/imdr-test-jobs.XXXXXX";

static char *
write_job(const char *name, const char *text)
{
	char *p = xasprintf("%s/%s", dir, name);
	FILE *f = fopen(p, "w");

	fputs(text, f);
	fclose(f);
	return p;
}

static int
has_problem(const struct job_problems *pr, int line, const char *part)
{
	for (size_t i = 0; i < pr->n; i++)
		if (pr->v[i].line == line && strstr(pr->v[i].msg, part))
			return 1;
	return 0;
}

static void
test_durations(void)
{
	int64_t v;
	char out[32];

	EXPECT(duration_parse("90", &v) == 0 && v == 90);
	EXPECT(duration_parse("90s", &v) == 0 && v == 90);
	EXPECT(duration_parse("1h30m", &v) == 0 && v == 5400);
	EXPECT(duration_parse("2d", &v) == 0 && v == 172800);
	EXPECT(duration_parse("1w1d", &v) == 0 && v == 8 * 86400);
	EXPECT(duration_parse("30m1h", &v) != 0);	/* largest first */
	EXPECT(duration_parse("1h1h", &v) != 0);
	EXPECT(duration_parse("1x", &v) != 0);
	EXPECT(duration_parse("", &v) != 0);
	EXPECT(duration_parse("h", &v) != 0);
	EXPECT(duration_parse("99999999999999999999s", &v) != 0);
	duration_format(5400, out);
	EXPECT(strcmp(out, "1h30m") == 0);
	duration_format(0, out);
	EXPECT(strcmp(out, "0s") == 0);
	duration_format(-61, out);
	EXPECT(strcmp(out, "-1m1s") == 0);
}

static void
test_job_file(void)
{
	struct job_problems pr = { NULL, 0, 0 };
	struct job *j = NULL;
	char *p;

	p = write_job("good.conf",
	    "# comment\n"
	    "[job]\n"
	    "repository = /srv/imdr\n"
	    "password-command = pass show imdr ; inline comment\n"
	    "[source]\n"
	    "path = /srv/export\n"
	    "command = make-export --out /srv/export\n"
	    "    --verbose\n"
	    "tag = a\n"
	    "tag = b\n"
	    "[schedule]\n"
	    "on-calendar = hourly\n"
	    "on-calendar = *-*-* 02:00\n"
	    "[targets]\n"
	    "rpo = 1h\n"
	    "[drill]\n"
	    "sample = 5%\n");
	EXPECT(job_load(p, dir, &j, &pr) == IMDR_OK && pr.n == 0);
	EXPECT(j && strcmp(j->name, "good") == 0);
	EXPECT(j && strcmp(j->password_command, "pass show imdr") == 0);
	EXPECT(j && strcmp(j->source_command, "make-export --out /srv/export --verbose") == 0);
	EXPECT(j && j->ntags == 2 && j->non_calendar == 2 && j->on_calendar_line[1] == 13);
	EXPECT(j && j->rpo == 3600 && j->drill_sample == 5.0);
	EXPECT(j && j->retention_every == 86400 && !j->has_retention);
	EXPECT(j && j->state_dir && strstr(j->state_dir, "/good"));
	job_free(j);
	free(p);

	p = write_job("bad.conf",
	    "rpo = 1h\n"
	    "[job]\n"
	    "repository = /srv/imdr\n"
	    "repository = /srv/other\n"
	    "passphrase = x\n"
	    "[nonsense]\n"
	    "[targets]\n"
	    "rto = soon\n"
	    "[check]\n"
	    "read-data = maybe\n"
	    "[source]\n"
	    "path = /x\n"
	    "name = \n");
	j = NULL;
	EXPECT(job_load(p, dir, &j, &pr) == IMDR_EINVAL);
	EXPECT(has_problem(&pr, 1, "outside any section"));
	EXPECT(has_problem(&pr, 4, "set twice in [job] (first on line 3)"));
	EXPECT(has_problem(&pr, 5, "never stands in a job file"));
	EXPECT(has_problem(&pr, 8, "rto = soon: not a duration"));
	EXPECT(has_problem(&pr, 10, "expected yes or no"));
	EXPECT(has_problem(&pr, 13, "no value"));
	EXPECT(has_problem(&pr, 0, "neither password-file nor password-command"));
	EXPECT(j != NULL);	/* given back, to check the rest too */
	job_free(j);
	job_problems_free(&pr);
	free(p);

	{
		/* a line longer than libinih's buffer is one error, not two values */
		struct buf b = BUF_INIT;

		buf_puts(&b, "[job]\nrepository = /srv/");
		for (int i = 0; i < 300; i++)
			buf_putc(&b, 'x');
		buf_puts(&b, "\npassword-file = /p\n[source]\npath = /x\n");
		p = write_job("long.conf", buf_cstr(&b));
		buf_free(&b);
		j = NULL;
		EXPECT(job_load(p, dir, &j, &pr) == IMDR_EINVAL);
		EXPECT(pr.n == 2 && has_problem(&pr, 2, "characters long"));
		job_free(j);
		job_problems_free(&pr);
		free(p);
	}
	p = job_path("acme", "/etc/x");
	EXPECT(strcmp(p, "/etc/x/acme.conf") == 0);
	free(p);
	p = job_path("./my.conf", "/etc/x");
	EXPECT(strcmp(p, "./my.conf") == 0);
	free(p);
}

static void
test_levels(void)
{
	struct status_source row;
	int64_t now = time_now_ns();

	memset(&row, 0, sizeof(row));
	state_init(&row.st, "j");
	row.st.source = xstrdup("s");
	row.has_state = 1;
	row.st.run_ok = 1;
	row.st.rpo = 3600;
	status_judge(&row, now, 0);
	EXPECT(row.level == STATUS_CRITICAL);	/* no snapshot */
	row.st.newest_ns = now - 600 * 1000000000LL;
	status_judge(&row, now, 0);
	EXPECT(row.level == STATUS_OK && row.rpo_met == 1 && row.age == 600);
	status_judge(&row, now, 300);
	EXPECT(row.level == STATUS_CRITICAL && row.rpo_met == 0);
	row.st.run_ok = 0;
	status_judge(&row, now, 0);
	EXPECT(row.level == STATUS_WARNING);
	row.st.run_ok = 1;
	row.st.nreplicas = 1;
	snprintf(row.st.replicas[0].url, sizeof(row.st.replicas[0].url), "s3://b/r");
	snprintf(row.st.replicas[0].role, sizeof(row.st.replicas[0].role), "replica");
	row.st.replicas[0].lag_snapshots = 2;
	status_judge(&row, now, 0);
	EXPECT(row.level == STATUS_WARNING && row.replicas_behind == 1);
	row.st.nreplicas = 0;
	row.st.check_ok = 0;
	row.st.check_errors = 3;
	status_judge(&row, now, 0);
	EXPECT(row.level == STATUS_CRITICAL);
	row.st.check_ok = 1;
	row.st.check_every = 86400;
	row.st.check_ns = now - 3 * 86400 * 1000000000LL;
	status_judge(&row, now, 0);
	EXPECT(row.level == STATUS_WARNING);	/* overdue */
	row.st.check_ns = now;
	row.st.drill_ok = 1;
	row.st.drill_rto_met = 0;
	row.st.rto = 7200;
	status_judge(&row, now, 0);
	EXPECT(row.level == STATUS_WARNING);
	for (size_t i = 0; i < row.nreasons; i++)
		free(row.reasons[i]);
	state_free(&row.st);
}

static void
test_prometheus(void)
{
	struct status_result res;
	struct status_source row;
	char *text = NULL;
	size_t len = 0;
	FILE *f;

	memset(&res, 0, sizeof(res));
	memset(&row, 0, sizeof(row));
	state_init(&row.st, "j");
	row.st.source = xstrdup("a \"b\" \\c\nd");
	row.st.repository = xstrdup("/r");
	row.st.rpo = 3600;
	row.st.run_ok = 1;
	row.has_state = 1;
	res.now_ns = time_now_ns();
	row.st.newest_ns = res.now_ns;
	status_judge(&row, res.now_ns, 0);
	res.v = &row;
	res.n = 1;
	f = open_memstream(&text, &len);
	status_prometheus(&res, f);
	fclose(f);
	EXPECT(strstr(text, "imdr_rpo_met{job=\"j\",source=\"a \\\"b\\\" \\\\c\\nd\",repository=\"/r\"} 1\n") != NULL);
	EXPECT(strstr(text, "# TYPE imdr_rpo_met gauge\n") != NULL);
	/* never-run steps are left out, not given as 0 */
	EXPECT(strstr(text, "imdr_last_check_success") == NULL);
	EXPECT(strstr(text, "imdr_last_drill_success") == NULL);
	free(text);
	for (size_t i = 0; i < row.nreasons; i++)
		free(row.reasons[i]);
	state_free(&row.st);
}

static void
test_units(void)
{
	struct job_problems pr = { NULL, 0, 0 };
	struct job *j = NULL;
	struct buf svc = BUF_INIT, tmr = BUF_INIT;
	char *p = write_job("unit 100%.conf", "[job]\nrepository = /r\npassword-file = /p\n"
	    "[source]\npath = /x\n[schedule]\non-calendar = hourly\nrandomized-delay = 5m\n");

	/* the job's name must be fit for a unit name */
	EXPECT(job_load(p, dir, &j, &pr) == IMDR_EINVAL);
	job_free(j);
	job_problems_free(&pr);
	free(p);
	p = write_job("u.conf", "[job]\nrepository = /r\npassword-file = /p\n"
	    "[source]\npath = /x\n[schedule]\non-calendar = hourly\nrandomized-delay = 5m\n");
	j = NULL;
	EXPECT(job_load(p, dir, &j, &pr) == IMDR_OK);
	EXPECT(j && schedule_units(j, "/usr/bin/im\"dr 50%", NULL, &svc, &tmr) == IMDR_OK);
	EXPECT(strstr(buf_cstr(&svc), "ExecStart=\"/usr/bin/im\\\"dr 50%%\" run ") != NULL);
	EXPECT(strstr(buf_cstr(&tmr), "\nOnCalendar=hourly\n") && strstr(buf_cstr(&tmr), "\nPersistent=true\n"));
	EXPECT(strstr(buf_cstr(&tmr), "\nRandomizedDelaySec=300\n") != NULL);
	EXPECT(schedule_units(j, "imdr", NULL, &svc, &tmr) == IMDR_EINVAL);	/* not absolute */
	buf_free(&svc);
	buf_free(&tmr);
	job_free(j);
	free(p);
}

int
main(void)
{
	if (mkdtemp(dir) == NULL)
		return 1;
	RUN(test_durations);
	RUN(test_job_file);
	RUN(test_levels);
	RUN(test_prometheus);
	RUN(test_units);
	{
		char *cmd = xasprintf("rm -rf '%s'", dir);

		if (system(cmd) != 0)
			fprintf(stderr, "cannot remove %s\n", dir);
		free(cmd);
	}
	TEST_EXIT();
}
