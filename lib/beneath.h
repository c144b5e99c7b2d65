/* beneath — open a path that came from untrusted input (an export's
 * attachment path) inside a folder, never outside it. */
#ifndef IMDR_BENEATH_H
#define IMDR_BENEATH_H

/* beneath_open: open path relative to the folder rootfd (O_CLOEXEC is
 * added to flags) so that resolving it never leaves that folder: an
 * absolute path, a ".." that climbs above it, or a symlink pointing out of
 * it fails with EXDEV, a /proc magic link with ELOOP. Where the kernel has
 * openat2(2) (Linux 5.6) it does the resolving (RESOLVE_BENEATH |
 * RESOLVE_NO_MAGICLINKS), so symlinks that stay inside are followed; where
 * it does not (ENOSYS), every component is opened with O_NOFOLLOW from
 * rootfd and any ".." (EXDEV) or symlink (ELOOP) on the way is refused:
 * stricter, never looser. Setting IMDR_TEST_NO_OPENAT2 in the environment
 * forces that fallback (for tests). Returns the fd, or -1 with errno. */
int beneath_open(int rootfd, const char *path, int flags);

#endif
