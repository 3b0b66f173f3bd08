/*
 * fs.c: file-system chores (see fs.h).
 */
#include "util/fs.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path) == 0 || errno == ENOENT ? 0 : -1;
}

int tz_fs_rmtree(const char *path)
{
    int rc = nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
    return rc == 0 || errno == ENOENT ? 0 : -1;
}

int tz_fs_empty_dir(const char *dir)
{
    if (mkdir(dir, 0700) == 0)
        return 0;
    if (errno != EEXIST)
        return -1;
    DIR *d = opendir(dir);
    if (d == NULL)
        return -1;
    struct dirent *de;
    int empty = 1;
    while ((de = readdir(d)) != NULL)
        if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
            empty = 0;
    closedir(d);
    return empty ? 0 : 1;
}

int tz_fs_join(char *out, size_t cap, const char *dir, const char *name, const char *what,
               tz_err *err)
{
    int n = snprintf(out, cap, "%s/%s", dir, name);
    if (n < 0 || (size_t)n >= cap)
        return tz_err_set(err, TZ_ERR_USAGE, "%s: path too long: %s/%s", what, dir, name);
    return TZ_OK;
}

int tz_fs_sync(const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    int rc = fsync(fd);
    int saved = errno;
    close(fd);
    errno = saved;
    return rc;
}

int tz_fs_move_staged(const char *stage, const char *dir, const char *const names[], size_t n,
                      size_t *failed)
{
    for (size_t i = 0; i < n; i++) {
        *failed = i;
        char from[PATH_MAX], to[PATH_MAX];
        if (tz_fs_join(from, sizeof from, stage, names[i], "", NULL) != TZ_OK ||
            tz_fs_join(to, sizeof to, dir, names[i], "", NULL) != TZ_OK) {
            errno = ENAMETOOLONG;
            return -1;
        }
        if (rename(from, to) != 0 || tz_fs_sync(to) != 0)
            return -1;
    }
    *failed = n;
    return tz_fs_sync(dir);
}
