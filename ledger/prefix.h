/*
 * prefix.h: writes the first N entries of a log into a new store, for
 * `taizhang replay` (replay.h) and `taizhang salvage` (salvage.h).
 *
 * The caller hands over the entries 0, 1, 2, ... in order, each already
 * checked for its place in the chain (the two commands check in their own
 * words). The writer puts each entry byte for byte under its seq, the tree
 * nodes it completes (recomputed with a frontier, never read), and at the
 * end the meta records "format" and "head" of a ledger of that many
 * entries, plus one record of the caller's if it has one; all in batches
 * committed every TZ_PREFIX_BATCH writes, so memory stays flat on a log of
 * a million entries. The derived records (index, projections) and the
 * checkpoint are not its business.
 */
#ifndef TZ_LEDGER_PREFIX_H
#define TZ_LEDGER_PREFIX_H

#include <stddef.h>
#include <stdint.h>

#include "ledger/merkle.h"
#include "ledger/store.h"
#include "util/status.h"

#define TZ_PREFIX_BATCH 4096 /* writes per commit */

typedef struct tz_prefix_writer {
    tz_store *dst;              /* not owned */
    tz_store_batch *batch;      /* owned */
    const char *what;           /* "replay", "salvage": names the command in messages */
    tz_merkle_frontier frontier; /* frontier.size: the entries written so far */
    uint8_t last_leaf[32];      /* leaf hash of the last entry written (zeros: none) */
    uint64_t last_recorded_at;  /* its recorded_at (0: none) */
} tz_prefix_writer;

/* Starts a writer of entries into dst (an empty store, which stays the
 * caller's). what names the command in error messages ("<what>: out of
 * memory"). Returns TZ_OK, or TZ_ERR_NOMEM; in every case *w may then be
 * given to tz_prefix_free. */
int tz_prefix_init(tz_prefix_writer *w, tz_store *dst, const char *what,
                   tz_err *err) TZ_MUST_CHECK;

/* Adds entry w->frontier.size (raw, len bytes, as stored; recorded_at is
 * its recorded_at) and the tree nodes it completes; commits when the batch
 * has grown to TZ_PREFIX_BATCH writes. The chain is not checked here.
 * Returns TZ_OK; else the error of the tree (TZ_ERR_INTERNAL) or of the
 * commit (TZ_ERR_IO), and the writer is only fit for tz_prefix_free. */
int tz_prefix_add(tz_prefix_writer *w, const uint8_t *raw, size_t len, uint64_t recorded_at,
                  tz_err *err) TZ_MUST_CHECK;

/* The root of the entries added so far (the empty tree's for none). */
void tz_prefix_root(const tz_prefix_writer *w, uint8_t root[32]);

/* Writes the meta records "format" and "head" of a ledger of the entries
 * added, and meta record key (klen bytes) = val (vlen bytes) when key is
 * not NULL, and commits what is left. Returns TZ_OK, TZ_ERR_NOMEM or the
 * commit's error (TZ_ERR_IO); then the store may hold some of the entries
 * and no head: the caller discards it. */
int tz_prefix_finish(tz_prefix_writer *w, const char *key, size_t klen, const void *val,
                     size_t vlen, tz_err *err) TZ_MUST_CHECK;

/* Frees the batch (what was not committed is dropped) and zeroes *w; the
 * store is left open. Accepts NULL and a zeroed writer. */
void tz_prefix_free(tz_prefix_writer *w);

#endif
