/*
 * salvage.h: the operators' way out of a damaged store (`taizhang salvage`).
 *
 * A ledger whose store will not open (a damaged write-ahead log, a MANIFEST
 * that lost records, an unreadable table) is never repaired in place: the
 * original is opened read-only or copied, never written. Every entry that
 * can be read is taken, in seq order, from the original opened read-only
 * (its WAL recovered up to the damage) or, where that has none, from a
 * copy rebuilt by RocksDB's repair; the longest prefix 0..P-1 whose
 * entries decode, stand at their own seq and chain (prev, recorded_at) is
 * written byte for byte into a new ledger with the tree recomputed, the
 * derived records rebuilt by the decide step (tz_rebuild_reproject) and a
 * checkpoint of P entries signed with the log key; the library's verifier
 * (tz_verify_ledger) then checks the result, and the prefix is cut at the
 * first entry it refuses, until it verifies. A ledger must stay a prefix:
 * entries after a gap cannot be chained, so the copy stops at the first
 * bad seq, but the reading goes on to the end so that every seq not
 * recovered is named with its reason (docs/STORE.md).
 */
#ifndef TZ_LEDGER_SALVAGE_H
#define TZ_LEDGER_SALVAGE_H

#include <stddef.h>
#include <stdint.h>

#include "util/status.h"

#define TZ_SALVAGE_REASON_MAX 320

/* Seqs from..to (inclusive) that were not recovered, for one reason. */
typedef struct tz_salvage_lost {
    uint64_t from, to;
    char reason[TZ_SALVAGE_REASON_MAX];
} tz_salvage_lost;

typedef struct tz_salvage_report {
    uint64_t expected;   /* entries the damaged ledger held, as far as any record tells */
    uint64_t recovered;  /* entries 0..recovered-1 are in the new ledger, verified */
    uint8_t root[32];    /* their root (that of the original tree at that size) */
    int repaired_copy;   /* 1: some entries came from the repaired copy */
    char damage[TZ_ERR_MSG_MAX];        /* why a normal open refuses the original, or "" */
    char original_open[TZ_ERR_MSG_MAX]; /* why it would not open even for salvage, or "" */
    char copy_open[TZ_ERR_MSG_MAX];     /* why the repaired copy could not be read, or "" */
    /* 1: the store is damaged and the repaired copy could not be read, so
     * what lay beyond the damage is unknown: expected is only a lower
     * bound, and the salvage is not complete even when recovered equals it */
    int beyond_unknown;
    size_t nlost;        /* runs of seqs not recovered, in seq order */
    tz_salvage_lost *lost;
} tz_salvage_report;

/* Salvages the ledger in damaged_dir into out_dir (which must not exist or
 * be empty): see above. The log key is read from damaged_dir/log.key
 * (passphrase for a sealed one; NULL if plain) and copied to
 * out_dir/log.key. Nothing under damaged_dir is written, renamed or
 * deleted. Returns TZ_OK when the salvage ran to a verdict:
 * report->recovered == report->expected and !report->beyond_unknown means
 * everything was recovered;
 * when report->recovered is 0 (genesis unreadable) no ledger is written
 * and out_dir is left as it was. On TZ_OK the caller frees the report
 * (tz_salvage_report_free). Errors: TZ_ERR_USAGE (out_dir not empty, a
 * path too long), TZ_ERR_IO (no ledger or no log key at damaged_dir, a
 * copy or write failed), TZ_ERR_NOMEM; then nothing is left in out_dir
 * and the report holds nothing to free. */
int tz_salvage(const char *damaged_dir, const char *out_dir, const char *passphrase,
               tz_salvage_report *report, tz_err *err) TZ_MUST_CHECK;

/* Frees the runs of a report and zeroes it. Accepts NULL. */
void tz_salvage_report_free(tz_salvage_report *report);

#endif
