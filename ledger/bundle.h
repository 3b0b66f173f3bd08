/*
 * bundle.h: offline export bundles. One self-contained file that proves a
 * selection of entries is in the log, checkable with no database and no
 * network, holding only the log's public key:
 *
 *   - the selected entries, byte for byte: a seq range, and/or the entries
 *     that concern one person or one village (the subject index);
 *   - entry 0 (genesis: origin, log key, root keys) and every key.grant /
 *     key.revoke entry needed to check who signed the selected entries
 *     (the grant of each signer key, back to a root key, and its
 *     revocation up to the last selected seq);
 *   - a signed checkpoint (C2SP signed note, possibly carrying witness
 *     cosignatures) of some tree size n;
 *   - ONE Merkle multiproof tying every included entry to that checkpoint's
 *     root: the RFC 9162 recursion MTH(D[a:b]) over [0, n), where every
 *     subtree without an included entry is given by its hash. An entry
 *     that is not included is represented only by such a hash, so a
 *     person's bundle reveals nothing of the other records.
 *
 * The byte format (docs/FORMAT.md, "Bundles") is one canonical msgpack
 * map whose keys are in an order that lets a reader stream it: the small
 * parts (format, checkpoint, proof) come first and the records last, so
 * verification holds one entry at a time (tz_bundle_verify_fd) and its
 * memory does not grow with the number of records. Every byte is checked:
 * the bundle carries no description of what was asked for (nothing could
 * vouch for it); a verifier that wants a whole range asserts it itself
 * (tz_bundle_verify_options.require_from/to).
 *
 * The verifier mirrors the key rules of ledger/apply.c (who may grant and
 * revoke, the log key signs no statement, a revoked key signs nothing
 * after its revocation) but not the domain rules (roles in scope, the
 * registries): those need the whole log and are `taizhang verify --db`'s
 * job. docs/BUNDLES.md says what a bundle proves and what it cannot.
 */
#ifndef TZ_LEDGER_BUNDLE_H
#define TZ_LEDGER_BUNDLE_H

#include <stddef.h>
#include <stdint.h>

#include "crypto/key.h"
#include "ledger/checkpoint.h"
#include "ledger/ledger.h"
#include "ledger/statement.h"
#include "util/status.h"

#define TZ_BUNDLE_FORMAT "taizhang-bundle/1"
/* Records in one bundle. Each record is at least TZ_BUNDLE_MIN_RECORD
 * bytes (a minimal entry with one signature is 185), which a decoder uses
 * to refuse a count the input cannot hold before allocating anything. */
#define TZ_BUNDLE_MAX_RECORDS 100000000u
#define TZ_BUNDLE_MIN_RECORD 128u
/* Hashes in one multiproof: 512 MiB. A full range needs at most about
 * 2 log2 n, a selection of k scattered entries about k log2(n / k). */
#define TZ_BUNDLE_MAX_PROOF (1u << 24)
/* The end of the log as the `to` of a selection. */
#define TZ_BUNDLE_TO_END UINT64_MAX

/* ---- export ------------------------------------------------------------- */

/* What to export: seqs [from, to), and when person or village is given,
 * only the entries of that range that concern them (both given: those
 * that concern both), as the subject index (projections/view.h) says. */
typedef struct tz_bundle_selection {
    uint64_t from;          /* first seq */
    uint64_t to;            /* one past the last seq; TZ_BUNDLE_TO_END: the tree size */
    const char *person;     /* NULL: no person filter; else a statement-id-like id */
    const char *village;    /* NULL: no village filter */
    /* A signed checkpoint to bind the bundle to (e.g. one witnesses
     * cosigned, with their lines kept), or NULL for the ledger's latest.
     * It must be signed by the log key, name the log's origin, and its
     * root must be the ledger's root at its size. */
    const char *checkpoint;
    size_t checkpoint_len;
} tz_bundle_selection;

typedef struct tz_bundle_export_stats {
    uint64_t tree_size;     /* of the checkpoint */
    uint64_t records;       /* entries in the bundle */
    uint64_t requested;     /* of them, the ones selected (the rest: genesis and keys) */
    uint64_t proof_hashes;
    uint64_t bytes;         /* written */
} tz_bundle_export_stats;

/* Receives the next len bytes of the bundle. Returns 0, or non-zero to
 * abort the export (which then fails with TZ_ERR_IO). */
typedef int (*tz_bundle_write_fn)(void *ctx, const void *data, size_t len);

/* Writes the bundle of sel from ledger (open it TZ_LEDGER_READONLY: the
 * export reads one store snapshot, so it is consistent beside a running
 * writer) through write. stats (may be NULL) is filled on success.
 * Errors: TZ_ERR_USAGE (NULL arguments; from >= to after clipping to the
 * tree size; a person or village id that is not an id), TZ_ERR_NOTFOUND
 * (nothing in the range concerns the person or village), TZ_ERR_PROOF
 * (sel->checkpoint is not signed by the log key, or its root is not the
 * ledger's), TZ_ERR_INPUT (sel->checkpoint does not parse), TZ_ERR_TAMPER
 * (the store contradicts itself: run `taizhang verify`), TZ_ERR_IO (a
 * read, or write returned non-zero), TZ_ERR_NOMEM. On error the bytes
 * already written are not a bundle: the caller discards them. */
int tz_bundle_export(tz_ledger *ledger, const tz_bundle_selection *sel, tz_bundle_write_fn write,
                     void *ctx, tz_bundle_export_stats *stats, tz_err *err) TZ_MUST_CHECK;

/* ---- decode ------------------------------------------------------------- */

typedef struct tz_bundle_record {
    uint64_t seq;
    const uint8_t *entry;   /* points into the decoded buffer */
    size_t entry_len;
} tz_bundle_record;

typedef struct tz_bundle {
    const char *checkpoint;  /* the signed note, points into the buffer (not NUL-terminated) */
    size_t checkpoint_len;
    tz_checkpoint cp;        /* its body, parsed but NOT verified */
    size_t nproof;
    uint8_t (*proof)[32];    /* malloc'd */
    size_t nrecords;
    tz_bundle_record *records; /* malloc'd, seq strictly increasing */
} tz_bundle;

/* Decodes buf[0..len) strictly, without checking any signature or hash:
 * the format string, a checkpoint note that parses, the proof hashes, and
 * 1..TZ_BUNDLE_MAX_RECORDS records whose seqs strictly increase from 0 (the
 * genesis) and stay below the checkpoint's size, each entry decoding
 * (tz_entry_decode) with its own seq; shortest forms, no trailing bytes. Every count is
 * checked against the bytes that remain before anything is allocated.
 * Errors: TZ_ERR_INPUT naming the byte offset, the field and the rule;
 * TZ_ERR_USAGE (NULL); TZ_ERR_NOMEM. On success *out refers to buf, which
 * must outlive it; free it with tz_bundle_free. On error *out holds
 * nothing to free (tz_bundle_free on it is harmless). */
int tz_bundle_decode(tz_bundle *out, const uint8_t *buf, size_t len, tz_err *err) TZ_MUST_CHECK;

/* Frees what tz_bundle_decode allocated and zeroes *b. Accepts NULL. */
void tz_bundle_free(tz_bundle *b);

/* ---- verify ------------------------------------------------------------- */

#define TZ_BUNDLE_MAX_TYPES 32

typedef struct tz_bundle_type_count {
    char type[TZ_STATEMENT_TYPE_MAX + 1];
    uint64_t count;
} tz_bundle_type_count;

typedef struct tz_bundle_report {
    int ok;                        /* 1 only when every check passed */
    char reason[TZ_ERR_MSG_MAX];   /* the first failure, naming the seq and the rule */
    int has_bad_seq;               /* 1 when the failure is at one record */
    uint64_t bad_seq;
    /* filled as far as the verification got */
    char origin[TZ_ORIGIN_MAX + 1];
    uint64_t tree_size;
    uint8_t root[32];
    size_t witnesses;              /* cosignatures the policy required and found (0: none) */
    uint64_t records;
    uint64_t first_seq, last_seq;
    uint64_t signatures;           /* verified */
    uint64_t keys;                 /* keys known from genesis and the grants */
    uint64_t runs;                 /* maximal runs of consecutive seqs (each hash-chained) */
    uint64_t proof_hashes;
    int range_checked;             /* 1: require_from/to was given, and every seq is present */
    size_t ntypes;
    tz_bundle_type_count types[TZ_BUNDLE_MAX_TYPES]; /* in order of first appearance; the
                                                      * last slot takes "(other)" */
} tz_bundle_report;

/* One verified record, for a listing: called in seq order, after the
 * record's own checks passed (the bundle as a whole may still fail later:
 * only a TZ_OK return means anything). signers[i] is the holder named in
 * the key's grant ("root" for a root key). */
typedef struct tz_bundle_record_info {
    uint64_t seq;
    uint64_t recorded_at;          /* microseconds since the epoch */
    const tz_statement *st;        /* valid during the call only */
    size_t nsigs;
    const char *signers[TZ_ENTRY_MAX_SIGS];
    const char *signer_names[TZ_ENTRY_MAX_SIGS]; /* the key names */
} tz_bundle_record_info;
typedef void (*tz_bundle_record_fn)(void *ctx, const tz_bundle_record_info *info);

typedef struct tz_bundle_verify_options {
    const tz_public_key *log_key;       /* required: the trust anchor */
    /* Witness policy (ledger/witness.h): when witnesses_needed > 0 the
     * checkpoint must also carry valid cosignatures of that many distinct
     * keys of witnesses[0..nwitnesses). */
    const tz_public_key *witnesses;
    size_t nwitnesses;
    size_t witnesses_needed;
    /* When require_to > 0, every seq of [require_from, require_to) must be
     * in the bundle (an auditor asking for a whole range). */
    uint64_t require_from, require_to;
    tz_bundle_record_fn on_record;      /* may be NULL */
    void *ctx;
} tz_bundle_verify_options;

/* Verifies the bundle buf[0..len) against log_key, with nothing but the
 * bundle: the checkpoint's signature; genesis names log_key and the
 * checkpoint's origin; every entry decodes, carries its record's seq, and
 * its signatures verify by keys that genesis or an earlier key.grant in the
 * bundle granted (by a key allowed to grant) and that were not revoked
 * before it; consecutive entries chain (prev) and recorded_at never
 * decreases; the multiproof, with the entries' leaf hashes, gives exactly
 * the checkpoint's root, using every hash; a required range is all there.
 * Returns TZ_OK only then (rep->ok = 1). Otherwise the
 * first failure: TZ_ERR_INPUT (malformed bundle), TZ_ERR_PROOF (checkpoint
 * signature, witness policy, multiproof), TZ_ERR_SIGNATURE (a signature,
 * or an unknown or revoked key), TZ_ERR_FORBIDDEN / TZ_ERR_RULE (a key
 * rule), TZ_ERR_TAMPER (chain, seq, time order); TZ_ERR_USAGE (NULL),
 * TZ_ERR_NOMEM; err and rep->reason name the seq and the rule. rep (may be
 * NULL) is filled as far as the verification got. Reads nothing outside
 * buf; memory used does not grow with the number of records. */
int tz_bundle_verify(const uint8_t *buf, size_t len, const tz_public_key *log_key,
                     tz_bundle_report *rep, tz_err *err) TZ_MUST_CHECK;

/* The same with options (witness policy, a per-record callback). */
int tz_bundle_verify_buf(const uint8_t *buf, size_t len, const tz_bundle_verify_options *opt,
                         tz_bundle_report *rep, tz_err *err) TZ_MUST_CHECK;

/* The same, reading the bundle from fd to its end in a bounded buffer (a
 * file or a pipe; the descriptor is not closed). Read errors are
 * TZ_ERR_IO. */
int tz_bundle_verify_fd(int fd, const tz_bundle_verify_options *opt, tz_bundle_report *rep,
                        tz_err *err) TZ_MUST_CHECK;

#endif
