/* fsutil — small file-system helpers shared by the caches. */
#ifndef IMDR_FSUTIL_H
#define IMDR_FSUTIL_H

/* mkdir_p: create dir and its missing parents with mode 0700 (private:
 * caches hold repository data). 0, or -1 with errno set. */
int mkdir_p(const char *dir);

#endif
