#include "lib/beneath.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <linux/openat2.h>

/* fallback: one component at a time, none of them followed. */
static int
open_by_components(int rootfd, const char *path, int flags)
{
	int cur = rootfd, fd, saved;
	const char *p = path;

	if (*p == '/') {
		errno = EXDEV;
		return -1;
	}
	if (*p == '\0') {
		errno = ENOENT;
		return -1;
	}
	for (;;) {
		const char *slash = strchr(p, '/');
		size_t len = slash ? (size_t)(slash - p) : strlen(p);
		char name[256];
		struct stat st;
		int last;

		while (slash && slash[1] == '/')
			slash++;
		last = slash == NULL || slash[1] == '\0';
		if (len >= sizeof(name)) {
			fd = -1;
			errno = ENAMETOOLONG;
			break;
		}
		memcpy(name, p, len);
		name[len] = '\0';
		if (strcmp(name, "..") == 0) {
			fd = -1;
			errno = EXDEV;
			break;
		}
		if (len == 0 || strcmp(name, ".") == 0)
			fd = last ? openat(cur, ".", flags | O_CLOEXEC) :
			    openat(cur, ".", O_PATH | O_DIRECTORY | O_CLOEXEC);
		else if (last)
			fd = openat(cur, name, flags | O_NOFOLLOW | O_CLOEXEC);
		else
			fd = openat(cur, name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0 && (errno == ENOTDIR || errno == ELOOP) &&
		    fstatat(cur, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode))
			errno = ELOOP;	/* a symlink on the way: refused, not followed */
		if (fd < 0 || last)
			break;
		if (cur != rootfd)
			close(cur);
		cur = fd;
		p = slash + 1;
	}
	saved = errno;
	if (cur != rootfd)
		close(cur);
	errno = saved;
	return fd;
}

int
beneath_open(int rootfd, const char *path, int flags)
{
	static int no_openat2;	/* the kernel said ENOSYS once */
	struct open_how how;
	long fd;

	if (no_openat2 || getenv("IMDR_TEST_NO_OPENAT2") != NULL)
		return open_by_components(rootfd, path, flags);
	memset(&how, 0, sizeof(how));
	how.flags = (unsigned long long)(flags | O_CLOEXEC);
	how.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS;
	/* EAGAIN: a rename raced with the lookup and the kernel could not
	 * rule out an escape; trying again is what it asks for */
	for (int tries = 0; tries < 8; tries++) {
		fd = syscall(SYS_openat2, rootfd, path, &how, sizeof(how));
		if (fd >= 0 || errno != EAGAIN)
			break;
	}
	if (fd < 0 && errno == ENOSYS) {
		no_openat2 = 1;
		return open_by_components(rootfd, path, flags);
	}
	return (int)fd;
}
