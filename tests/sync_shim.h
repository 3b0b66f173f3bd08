/*
 * sync_shim.h: the shared page of tests/sync_shim.c (an LD_PRELOAD library
 * counting the syncs a process makes on one store's files), read and
 * written by check_durability.c with __atomic operations.
 */
#ifndef TZ_TESTS_SYNC_SHIM_H
#define TZ_TESTS_SYNC_SHIM_H

#include <stdint.h>

typedef struct tz_sync_shim_page {
    uint64_t store;  /* syncs that succeeded on files under $TZ_SYNC_SHIM_DIR */
    uint64_t wal;    /* of which on WAL files (*.log) */
    uint64_t gate;   /* set by the test: while not 0, WAL syncs wait */
    uint64_t held;   /* WAL syncs waiting at the gate now */
} tz_sync_shim_page;

#endif
