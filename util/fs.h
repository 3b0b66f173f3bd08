/*
 * fs.h: the few file-system chores of the tools (scratch directories).
 */
#ifndef TZ_UTIL_FS_H
#define TZ_UTIL_FS_H

/* Removes a directory tree (like rm -rf; symlinks are removed, never
 * followed). A missing path is not an error. Returns 0, or -1 when
 * something could not be removed. */
int tz_fs_rmtree(const char *path);

/* Makes sure dir is an empty directory: creates it (0700) when missing.
 * Returns 0 when it is (now) empty, 1 when it holds something, -1 on an
 * error (errno says which). */
int tz_fs_empty_dir(const char *dir);

#endif
