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
    /* tz_verify_all only: findings listed at most (0: TZ_TAMPER_MAX_LISTED);
     * every finding is counted whatever the limit. */
    size_t max_findings;
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

/* ---- the tamper report ----------------------------------------------------
 * tz_verify_ledger names the first fault and stops. tz_verify_all does not:
 * it lists every fault it can observe, classifies each, and keeps checking
 * what can still be checked beyond it (docs/TAMPER.md defines every class
 * by what the verifier observes). In short:
 *   1. The recorded log is reconstructed from the evidence that commits to
 *      it: the stored tree nodes when they fold to the root of a checkpoint
 *      signed by the log key (stored or --trusted); elsewhere the hash chain
 *      traced back from the head (each recorded entry names its
 *      predecessor's leaf hash), then a two-of-three vote between the
 *      stored leaf node, the successor's prev and the entry itself.
 *   2. Every stored record is placed against it: in place; moved to another
 *      key (reordered); bytes that hash to no recorded leaf at a recorded
 *      seq (altered); a recorded seq with nothing (missing); a record that
 *      belongs nowhere (inserted).
 *   3. The recorded entries are replayed in seq order, wherever they are
 *      stored: signatures (bad_signature), the decide step's key checks
 *      (revoked_key) and its other rules (refused). An entry the decide step
 *      takes enters the rebuilt state even when its signature fails (it is
 *      what the log recorded), and so does an altered entry as it now
 *      stands, so one damaged entry gives one finding, not one for every
 *      later entry that rests on it; an entry the decide step refuses is
 *      left out, and a later refusal names it as a possible cause.
 *   4. The tree is rebuilt from the recorded leaves and compared node by
 *      node; the head and the checkpoints are compared with it; the derived
 *      column families with the replay (a derived record written by an entry
 *      that already has a finding is counted in that finding, not listed).
 * Memory: about 200 bytes per entry for the duration of the call (leaf
 * hashes, placement, the rebuilt tree one level at a time) plus the listed
 * findings; derived state lives in a scratch RocksDB as for
 * tz_verify_ledger. */

typedef enum tz_tamper_class {
    TZ_TAMPER_ALTERED = 0,  /* bytes at a recorded seq hash to no recorded leaf */
    TZ_TAMPER_MISSING,      /* a recorded seq whose entry is stored nowhere */
    TZ_TAMPER_INSERTED,     /* a stored record that is no recorded entry where it stands */
    TZ_TAMPER_REORDERED,    /* a recorded entry stored under another seq's key */
    TZ_TAMPER_BAD_SIGNATURE,/* a recorded entry whose signature does not verify */
    TZ_TAMPER_REVOKED_KEY,  /* signed by a key revoked before it, or never granted */
    TZ_TAMPER_REFUSED,      /* a recorded entry another rule refuses (decode, chain, decide) */
    TZ_TAMPER_PROJECTION,   /* an index or projections record differs from the replay */
    TZ_TAMPER_TREE,         /* a stored tree node differs from the recorded leaves' */
    TZ_TAMPER_HEAD,         /* the meta head record differs from the recorded log */
    TZ_TAMPER_CHECKPOINT,   /* the stored or trusted checkpoint disagrees */
    TZ_TAMPER_META,         /* format record, interrupted reproject, unchecked parts */
    TZ_TAMPER_CLASS_COUNT
} tz_tamper_class;

#define TZ_TAMPER_MAX_LISTED 10000
#define TZ_TAMPER_DETAIL_MAX 384

typedef struct tz_tamper_finding {
    int has_seq;              /* 0: the fault cannot be placed at a seq */
    uint64_t seq;             /* first seq concerned */
    uint64_t last_seq;        /* last seq of a run (missing or moved entries); = seq otherwise */
    tz_tamper_class cls;
    uint64_t derived;         /* derived records that differ because of this entry */
    int has_cause;            /* 1: a refusal or a derived record that may follow from ... */
    uint64_t cause;           /* ... this earlier entry, left out of the replay */
    char detail[TZ_TAMPER_DETAIL_MAX];
} tz_tamper_finding;

typedef struct tz_tamper_report {
    uint64_t size;            /* entries the log recorded (see docs/TAMPER.md, "size") */
    uint64_t stored;          /* records in the entries column family */
    uint64_t replayed;        /* seqs whose changes are in the rebuilt state */
    int has_root;             /* 1 when every recorded leaf is known */
    uint8_t root[32];         /* root of the recorded leaves at size */
    uint64_t total;           /* findings, all of them */
    uint64_t by_class[TZ_TAMPER_CLASS_COUNT];
    uint64_t derived_folded;  /* derived records counted in an entry's finding */
    uint64_t consequences;    /* findings with a cause (see tz_tamper_finding) */
    size_t listed;            /* findings[0..listed): by seq, those without a seq last */
    tz_tamper_finding *findings;
} tz_tamper_report;

/* Builds the tamper report of the ledger in dir (opened read-only). Returns
 * TZ_OK when the checks ran to the end (report->total == 0: nothing found);
 * TZ_ERR_USAGE (malformed options->trusted_note, a path too long),
 * TZ_ERR_IO (no ledger at dir, a RocksDB error other than corruption),
 * TZ_ERR_NOMEM. On TZ_OK the caller owns report->findings
 * (tz_tamper_report_free); on error the report holds nothing to free. */
int tz_verify_all(const char *dir, const tz_verify_options *options,
                  tz_tamper_report *report, tz_err *err) TZ_MUST_CHECK;

/* Frees the findings of a report and zeroes it. Accepts NULL. */
void tz_tamper_report_free(tz_tamper_report *report);

/* The stable JSON name of a class ("altered", "bad_signature", ...), or
 * "unknown" for a value out of range. */
const char *tz_tamper_class_name(tz_tamper_class cls);

#endif
