/*
 * fs.h: the few file-system chores of the tools (scratch directories, paths
 * under a directory, staged results moved into place durably).
 */
#ifndef TZ_UTIL_FS_H
#define TZ_UTIL_FS_H

#include <stddef.h>

#include "util/status.h"

/* Removes a directory tree (like rm -rf; symlinks are removed, never
 * followed). A missing path is not an error. Returns 0, or -1 when
 * something could not be removed. */
int tz_fs_rmtree(const char *path);

/* Makes sure dir is an empty directory: creates it (0700) when missing.
 * Returns 0 when it is (now) empty, 1 when it holds something, -1 on an
 * error (errno says which). */
int tz_fs_empty_dir(const char *dir);

/* Writes "dir/name" into out (cap bytes with the NUL). Returns TZ_OK, or
 * TZ_ERR_USAGE "<what>: path too long: dir/name" when it does not fit (out
 * then holds a truncated path that must not be used). */
int tz_fs_join(char *out, size_t cap, const char *dir, const char *name, const char *what,
               tz_err *err) TZ_MUST_CHECK;

/* fsync(2) of the file or directory at path: for a directory, makes the
 * names created, renamed or removed in it survive a crash. Returns 0, or -1
 * with errno set. */
int tz_fs_sync(const char *path);

/* Moves names[0..n) from the directory stage into dir, each by rename(2)
 * (so both on one file system; an empty directory at the target is
 * replaced) and synced at its new place, then syncs dir, so that a
 * finished result appears whole. Returns 0, or -1 with errno set
 * (ENAMETOOLONG for a path over PATH_MAX) and *failed the index of the
 * name that could not be moved or synced, or n when dir could not be
 * synced; what was moved before a failure stays moved, for the caller to
 * take away. stage itself is left (empty, when names were all it held). */
int tz_fs_move_staged(const char *stage, const char *dir, const char *const names[], size_t n,
                      size_t *failed);

#endif
