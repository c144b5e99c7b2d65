#include "lib/fsutil.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "lib/buf.h"

int
mkdir_p(const char *dir)
{
	char *p = xstrdup(dir);
	int saved;

	for (char *s = p + 1; *s; s++) {
		if (*s != '/')
			continue;
		*s = '\0';
		mkdir(p, 0700);
		*s = '/';
	}
	if (mkdir(p, 0700) < 0 && errno != EEXIST) {
		saved = errno;
		free(p);
		errno = saved;
		return -1;
	}
	free(p);
	return 0;
}
