/*
 * fs.h: the few file-system chores of the tools (scratch directories).
 */
#ifndef TZ_UTIL_FS_H
#define TZ_UTIL_FS_H

/* Removes a directory tree (like rm -rf; symlinks are removed, never
 * followed). A missing path is not an error. Returns 0, or -1 when
 * something could not be removed. */
int tz_fs_rmtree(const char *path);

#endif
