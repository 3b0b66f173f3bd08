/*
 * verify.h: replay a ledger from its entries and prove it untouched.
 *
 * The verifier trusts nothing derived: it reads every entry in seq order
 * and checks, naming the first bad seq:
 *   - each entry's key equals its seq field (no gap, move or reorder), its
 *     encoding is canonical, prev is the leaf hash of the entry before,
 *     recorded_at never goes backwards;
 *   - every signature verifies, and every signer was granted and not
 *     revoked at that point (the same decide code as append, run against
 *     a scratch store rebuilt from the entries alone);
 *   - every stored tree node equals the node recomputed from the leaves,
 *     and no node lies beyond the log;
 *   - the head (size, root, last leaf, time) matches the replay;
 *   - every index record equals the one the replay produced (an edited,
 *     added or removed derived record is tampering too);
 *   - the stored checkpoint is signed by the log key and matches the tree;
 *   - optionally, a checkpoint the caller saved earlier (trusted): signed by
 *     the log key, same origin, its size within the log and its root equal
 *     to the replayed root at that size, so a truncated log or one rewritten
 *     and re-signed with the real log key is caught.
 * Memory stays flat: the tree is a 2 KiB frontier, derived state lives in a
 * scratch RocksDB (no WAL, deleted at the end).
 */
#ifndef TZ_LEDGER_VERIFY_H
#define TZ_LEDGER_VERIFY_H

#include <stddef.h>
#include <stdint.h>

#include "crypto/key.h"
#include "util/status.h"

typedef struct tz_verify_options {
    const char *trusted_note;     /* a signed checkpoint saved earlier, or NULL */
    size_t trusted_len;
    const tz_public_key *log_key; /* pin the log key; NULL: the one in genesis */
    /* Called every few thousand entries and at the end; may be NULL. */
    void (*progress)(void *ctx, uint64_t done, uint64_t total);
    void *progress_ctx;
} tz_verify_options;

typedef struct tz_verify_report {
    int ok;
    uint64_t size;            /* entries replayed */
    uint8_t root[32];         /* replayed root of those entries */
    int has_bad_seq;          /* 1 when the fault can be placed at a seq */
    uint64_t first_bad_seq;
    char reason[TZ_ERR_MSG_MAX];
} tz_verify_report;

/* Verifies the ledger in dir (opened read-only). Returns TZ_OK when the
 * verification ran to a verdict (report->ok says which); TZ_ERR_IO or
 * TZ_ERR_NOMEM when it could not run (e.g. no ledger at dir). */
int tz_verify_ledger(const char *dir, const tz_verify_options *options,
                     tz_verify_report *report, tz_err *err) TZ_MUST_CHECK;

#endif
