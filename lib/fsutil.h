/* fsutil — small file-system helpers. */
#ifndef IMDR_FSUTIL_H
#define IMDR_FSUTIL_H

#include <stddef.h>
#include <stdint.h>

/* mkdir_p: create dir and its missing parents with mode 0700 (private:
 * caches hold repository data). 0, or -1 with errno set. */
int mkdir_p(const char *dir);

/* write_full / pwrite_full: all n bytes (at off), through short writes and
 * EINTR. 0, or -1 with errno set. */
int write_full(int fd, const void *p, size_t n);
int pwrite_full(int fd, const void *p, size_t n, uint64_t off);

/* write_file_atomic: path holds exactly n bytes of data, mode mode, or
 * is as it was: written to a temporary file beside it, fsynced, renamed
 * over path, and the folder fsynced. 0, or -1 with errno set. */
int write_file_atomic(const char *path, const void *data, size_t n, unsigned mode);

#endif
