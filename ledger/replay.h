/*
 * replay.h: dispute review. A ledger as it stood at any earlier moment,
 * rebuilt into a separate read-only directory, and the life of one cadre or
 * village entry by entry, with who signed what and when (docs/REVIEW.md).
 *
 * A replay directory is ledger-shaped (DIR/db, the same column families) so
 * that every reading command works on it unchanged: it holds exactly the
 * entries 0..N-1 of the source, byte for byte, the tree nodes those entries
 * complete, the derived records (index and projections) that a fresh replay
 * of those entries through the decide step writes (ledger/rebuild.h), and
 * the meta records "format" and "head" of a ledger of N entries. What a
 * ledger of N entries would have and a replay cannot: a checkpoint signed
 * for size N (that needs the log's private key, which a reviewer does not
 * hold and the replay never asks for). In its place the meta record
 * "replay" (canonical msgpack map) says where the entries come from and
 * proves it:
 *   consistency        [bin 32...]  RFC 9162 consistency proof from the
 *                                   replay's tree (size, root) to the
 *                                   source's signed checkpoint
 *   replayed_at        u64          when the replay was made, microseconds
 *   root               bin 32       root of the N entries
 *   size               u64          N
 *   source             str          the source ledger's directory (as
 *                                   resolved when the replay was made)
 *   source_checkpoint  str          the source's signed checkpoint (C2SP
 *                                   note by the log key) at that time
 * so the verifier, holding only the log's public key, proves the replay a
 * prefix of the signed log (tz_replay_verify). A replay is never written
 * to: the record, and the marker file DIR/replay.json (the same facts in
 * JSON, for people and for a check before the store is opened), make
 * writers refuse it (tz_replay_refuse_write), and its files are made
 * read-only (0444, directories 0555).
 */
#ifndef TZ_LEDGER_REPLAY_H
#define TZ_LEDGER_REPLAY_H

#include <jansson.h>
#include <limits.h>
#include <stddef.h>
#include <stdint.h>

#include "crypto/key.h"
#include "ledger/apply.h"
#include "ledger/merkle.h"
#include "ledger/store.h"
#include "util/status.h"

#define TZ_REPLAY_NOTE_MAX 4096 /* the source checkpoint note, bytes */

/* The replay record of a replay directory. */
typedef struct tz_replay_info {
    uint64_t size;                          /* N: the entries 0..N-1 */
    uint8_t root[32];                       /* root of those N entries */
    uint64_t replayed_at;                   /* microseconds since the epoch */
    char source[PATH_MAX];                  /* the source ledger's directory */
    uint64_t source_size;                   /* from the source checkpoint */
    uint8_t source_root[32];
    char source_checkpoint[TZ_REPLAY_NOTE_MAX + 1]; /* NUL-terminated note */
    size_t source_checkpoint_len;
    size_t nconsistency;
    uint8_t consistency[TZ_MERKLE_MAX_PROOF][32];
} tz_replay_info;

/* Builds in out_dir a replay of the ledger in source_dir as it stood at
 * `until`: a seq ("1234": entries 0..1234) or a date YYYY-MM-DD (the
 * entries recorded, server clock, by the end of that day in China time,
 * UTC+8). out_dir must not exist or be an empty directory. No key is
 * needed. On TZ_OK *info describes the replay (it may be NULL).
 * Errors, each naming the option and the rule: TZ_ERR_INPUT for an until
 * that is neither a seq nor a date, a seq beyond the log or a date before
 * its first entry; TZ_ERR_USAGE for an out_dir that exists and is not an
 * empty directory, or a source that is itself a replay; TZ_ERR_TAMPER when the source does not hold together
 * (its entries, tree or checkpoint disagree: run `taizhang verify`);
 * TZ_ERR_IO, TZ_ERR_NOMEM. On error nothing is left in out_dir (and
 * out_dir itself is removed if this call created it). */
int tz_replay_build(const char *source_dir, const char *until, const char *out_dir,
                    tz_replay_info *info, tz_err *err) TZ_MUST_CHECK;

/* Reads the replay record of store. TZ_OK: store is a replay, *info filled;
 * TZ_ERR_NOTFOUND: it is not a replay; TZ_ERR_TAMPER: the record is
 * malformed; TZ_ERR_IO. */
int tz_replay_read(tz_store *store, tz_replay_info *info, tz_err *err) TZ_MUST_CHECK;

/* 1 when store holds a replay record (of any shape), 0 when it does not or
 * cannot be read. For messages only; decisions use tz_replay_refuse_write
 * and tz_replay_verify, which report read errors. */
int tz_replay_marked(tz_store *store);

/* For every writer (append, cosign, the daemon, reproject): TZ_OK when the
 * ledger in dir is not a replay, TZ_ERR_USAGE with a message naming dir,
 * the source and the seq when it is. Call it before the store is opened
 * for writing, with store NULL: it looks for the marker file
 * DIR/replay.json, so that not even RocksDB's own files (a new MANIFEST,
 * WAL, OPTIONS) are written; and again once the store is open, with the
 * store: the meta record stays authoritative should the file be removed.
 * TZ_ERR_IO, or TZ_ERR_TAMPER for a malformed record, when it cannot be
 * told. */
int tz_replay_refuse_write(const char *dir, tz_store *store, tz_err *err) TZ_MUST_CHECK;

/* For the verifier, after it has replayed the store's entries into a tree
 * of size entries with root root, under log_key and origin (those of
 * genesis, or pinned). *is_replay = 0 when the store holds no replay
 * record (then the usual checkpoint rules apply). Else *is_replay = 1 and
 * reason[0..cap) gets "" when the record proves the entries a prefix of the
 * source's signed log (record size and root equal to the replayed ones;
 * source checkpoint signed by log_key, same origin, no smaller; the
 * consistency proof verifies; no stored checkpoint of its own), or the
 * first rule broken. Returns TZ_OK when it reached a verdict, TZ_ERR_IO
 * when the store could not be read. */
int tz_replay_verify(tz_store *store, const tz_public_key *log_key, const char *origin,
                     uint64_t size, const uint8_t root[32], int *is_replay, char *reason,
                     size_t cap, tz_err *err) TZ_MUST_CHECK;

/* One line saying what a statement says, for people: statement is the
 * "statement" member of an entry's JSON view (ledger/entry_json.h); target
 * the statement a cosign names by its body.seq, or NULL (unknown). Writes a
 * NUL-terminated line, truncated to cap, e.g. "dispatch p0001 to xiaotai as
 * first_secretary 2024-01-08..2026-01-07 (unit weijian)", "attendance
 * 2024-03: 20 P, 1 B, 10 A", "cosign of entry 597 (attendance
 * attendance/p0001/2024-01)". Never fails: an unexpected body is shown as
 * compact JSON. */
void tz_replay_summary(char *out, size_t cap, const json_t *statement, const json_t *target);

/* The history of one person (kind "person") or village ("village") in the
 * ledger whose store holds size entries: every entry in seqs [from, to]
 * that concerns it (the subject index), in seq order, as
 *   {"kind", "id", "name", "from", "to", "rows": [row...]}
 * each row {"seq", "recorded_at" (China time, seconds), "recorded_at_us",
 * "at", "type", "id", "summary" (tz_replay_summary), "cosigns" (a cosign:
 * the target seq), "signers": [{"key" (hex), "name", "holder", "roles",
 * "scope", "root"?, "revoked_seq"?}] (the key records of the signatures'
 * keys; the root keys of genesis too), "effects": [{"view", "subject":
 * [ids], "status"?, "late"?, "removed"?}] (the projection documents the entry wrote
 * and their state after it)}.
 * Errors: TZ_ERR_INPUT naming the option (--person / --village) when no
 * such id was ever registered; TZ_ERR_TAMPER when an indexed entry is
 * missing or does not decode (run verify); TZ_ERR_IO, TZ_ERR_NOMEM.
 * On TZ_OK *out is a new reference. */
int tz_replay_history(tz_store *store, uint64_t size, const char *kind, const char *id,
                      uint64_t from, uint64_t to, json_t **out, tz_err *err) TZ_MUST_CHECK;

#endif
