/*
 * sync_shim.c: an LD_PRELOAD library that counts the syncs a process makes
 * on the files of one store, for check_durability.c.
 *
 * A synced RocksDB write (WriteOptions.sync) ends in fdatasync(2) of the
 * WAL file (<store>/NNNNNN.log), followed on a new WAL by fsync of its
 * directory (strace of `taizhang append --db`, RocksDB 7.8). The shim wraps
 * fsync, fdatasync and sync_file_range (only with SYNC_FILE_RANGE_WAIT_AFTER:
 * RocksDB's probe with flags 0 syncs nothing), and
 * after a call that succeeded on a file under $TZ_SYNC_SHIM_DIR adds one to
 * the counters of the shared page $TZ_SYNC_SHIM_COUNTER (a file of at
 * least sizeof(tz_sync_shim_page) bytes, mapped shared by the test too):
 * `store` for every such file, `wal` for the *.log ones.
 *
 * While `gate` is not 0, a WAL sync waits (before calling the real one)
 * and `held` counts the syncs waiting: a test holds a batch between its
 * write and its sync, so that requests pile up in flight.
 *
 * msync is not wrapped: RocksDB writes through mmap only with
 * allow_mmap_writes, which the store does not set (ledger/store.c).
 *
 * Without both variables the wrappers only pass the calls on.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "tests/sync_shim.h"

static tz_sync_shim_page *page;
static char dir[PATH_MAX];
static size_t dir_len;

__attribute__((constructor)) static void shim_init(void)
{
    const char *counter = getenv("TZ_SYNC_SHIM_COUNTER");
    const char *d = getenv("TZ_SYNC_SHIM_DIR");
    if (counter == NULL || d == NULL || realpath(d, dir) == NULL)
        return;
    dir_len = strlen(dir);
    int fd = open(counter, O_RDWR | O_CLOEXEC);
    if (fd < 0)
        return;
    void *p = mmap(NULL, sizeof *page, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    close(fd);
    if (p != MAP_FAILED)
        page = p;
}

/* 0: not a store file; 1: a store file; 2: a WAL file of the store. */
static int classify(int fd)
{
    if (page == NULL)
        return 0;
    char link[64], path[PATH_MAX];
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    ssize_t n = readlink(link, path, sizeof path - 1);
    if (n <= 0)
        return 0;
    path[n] = '\0';
    if ((size_t)n < dir_len || memcmp(path, dir, dir_len) != 0 ||
        (path[dir_len] != '/' && path[dir_len] != '\0'))
        return 0;
    return (n > 4 && strcmp(path + n - 4, ".log") == 0) ? 2 : 1;
}

static void hold_at_gate(int kind)
{
    if (kind != 2 || __atomic_load_n(&page->gate, __ATOMIC_ACQUIRE) == 0)
        return;
    __atomic_add_fetch(&page->held, 1, __ATOMIC_ACQ_REL);
    struct timespec ms = {0, 1000000};
    while (__atomic_load_n(&page->gate, __ATOMIC_ACQUIRE) != 0)
        nanosleep(&ms, NULL);
    __atomic_sub_fetch(&page->held, 1, __ATOMIC_ACQ_REL);
}

static int counted(int kind, int rc)
{
    if (rc == 0 && kind > 0) {
        __atomic_add_fetch(&page->store, 1, __ATOMIC_ACQ_REL);
        if (kind == 2)
            __atomic_add_fetch(&page->wal, 1, __ATOMIC_ACQ_REL);
    }
    return rc;
}

int fsync(int fd)
{
    static int (*real)(int);
    if (real == NULL)
        real = (int (*)(int))dlsym(RTLD_NEXT, "fsync");
    int kind = classify(fd);
    hold_at_gate(kind);
    return counted(kind, real(fd));
}

int fdatasync(int fd)
{
    static int (*real)(int);
    if (real == NULL)
        real = (int (*)(int))dlsym(RTLD_NEXT, "fdatasync");
    int kind = classify(fd);
    hold_at_gate(kind);
    return counted(kind, real(fd));
}

int sync_file_range(int fd, off64_t offset, off64_t nbytes, unsigned int flags)
{
    static int (*real)(int, off64_t, off64_t, unsigned int);
    if (real == NULL)
        real = (int (*)(int, off64_t, off64_t, unsigned int))dlsym(RTLD_NEXT, "sync_file_range");
    int kind = (flags & SYNC_FILE_RANGE_WAIT_AFTER) ? classify(fd) : 0;
    hold_at_gate(kind);
    return counted(kind, real(fd, offset, nbytes, flags));
}
