/*
 * ledger.h: the log as a whole: create, open, append (group commit),
 * read entries, tree roots, proofs and the signed checkpoint.
 *
 * On disk a ledger is a directory DIR holding
 *   DIR/db/       the RocksDB store (column families: see store.h)
 *   DIR/log.key   a 0600 copy of the log's checkpoint key file, exactly as
 *                 given to init (plain or passphrase-sealed); a writer opens
 *                 it to sign checkpoints, so later commands and the daemon
 *                 need only --db. Readers never touch it.
 * Meta records (TZ_CF_META): "head" = canonical map {last_leaf, recorded_at,
 * root, size}; "checkpoint" = the signed C2SP checkpoint of that head;
 * "format" = "taizhang-ledger/1".
 *
 * Appends are grouped: every submission of one tz_ledger_append call is
 * decided in order against the state left by the ones before it, and all
 * accepted ones are written with the tree nodes, index records, new head
 * and new checkpoint in ONE RocksDB batch with one fsync. A rejected
 * submission leaves no trace.
 */
#ifndef TZ_LEDGER_LEDGER_H
#define TZ_LEDGER_LEDGER_H

#include <stddef.h>
#include <stdint.h>

#include "crypto/key.h"
#include "ledger/entry.h"
#include "ledger/merkle.h"
#include "ledger/store.h"
#include "util/status.h"

#define TZ_LEDGER_FORMAT "taizhang-ledger/1"

enum { TZ_LEDGER_READONLY = 1 };
enum {
    TZ_APPEND_STOP_ON_REJECT = 1,
    /* The caller has already checked every submission's signatures with
     * tz_entry_verify_signatures (the daemon does it on worker threads), so
     * the append skips that step; every other rule is still decided here.
     * Only for callers that verified the very bytes they pass. */
    TZ_APPEND_SIGS_VERIFIED = 2,
};

typedef struct tz_ledger tz_ledger;

/* One statement to append: its canonical bytes and its signatures. */
typedef struct tz_submission {
    const uint8_t *statement;
    size_t statement_len;
    const tz_signature *sigs;
    size_t nsigs;
} tz_submission;

typedef struct tz_append_result {
    int status;            /* TZ_OK, or why this submission was rejected */
    int existing;          /* 1: the same statement was already in the log */
    uint64_t seq;
    uint8_t leaf_hash[32];
    tz_err err;            /* the reason when status != TZ_OK */
} tz_append_result;

/* Creates a ledger in dir (which must not exist, or be empty): copies the
 * log key file to dir/log.key (0600), creates the store and appends the
 * genesis entry naming origin, the log key and the root authority keys,
 * signed by the log key. passphrase unseals a sealed log key (NULL if
 * plain). On error the directory is left for inspection, with no head. */
int tz_ledger_create(const char *dir, const char *origin, const char *log_key_path,
                     const char *passphrase, const tz_public_key *roots, size_t nroots,
                     tz_err *err) TZ_MUST_CHECK;

/* Opens the ledger in dir. A writer (flags 0) takes RocksDB's lock and
 * reads dir/log.key (passphrase for a sealed one); TZ_LEDGER_READONLY opens
 * without lock or key. Cost does not grow with the log: the head and the
 * tree's right edge are read, nothing is replayed. The head must agree
 * with the tree (else TZ_ERR_TAMPER: run verify). */
int tz_ledger_open(tz_ledger **out, const char *dir, int flags, const char *passphrase,
                   tz_err *err) TZ_MUST_CHECK;

/* For a failed open of the ledger in dir: when err reports store damage
 * (RocksDB's "Corruption", or SST files the MANIFEST does not reference),
 * appends the way out (`taizhang salvage`) to its message; else leaves it
 * unchanged. Accepts NULL. */
void tz_ledger_hint_salvage(const char *dir, tz_err *err);

/* Closes the ledger and wipes its key. Accepts NULL. */
void tz_ledger_close(tz_ledger *ledger);

/* Appends subs[0..n) as one group commit (see above); results[i] says what
 * became of subs[i]. With TZ_APPEND_STOP_ON_REJECT, processing stops at the
 * first rejected submission: those before it are committed, those after it
 * are untouched (*processed = index of the rejected one + 1). Returns
 * TZ_OK when the commit (if any) is durable, whatever was rejected; an
 * I/O error means nothing of this call was written (every results[i] then
 * carries that error). */
int tz_ledger_append(tz_ledger *ledger, const tz_submission *subs, size_t n,
                     tz_append_result *results, size_t *processed, int flags,
                     tz_err *err) TZ_MUST_CHECK;

/* The number of entries (= the tree size = next seq). */
uint64_t tz_ledger_size(const tz_ledger *ledger);

/* The current root (of tz_ledger_size entries). */
void tz_ledger_root(const tz_ledger *ledger, uint8_t root[32]);

/* The origin line of this log's checkpoints, and the log's public key. */
const char *tz_ledger_origin(const tz_ledger *ledger);
const tz_public_key *tz_ledger_log_key(const tz_ledger *ledger);

/* The store, for read-only inspection by tools and tests. */
tz_store *tz_ledger_store(tz_ledger *ledger);

/* Reads entry seq: malloc'd bytes (free with tz_store_free).
 * TZ_ERR_NOTFOUND beyond the end. */
int tz_ledger_get(tz_ledger *ledger, uint64_t seq, uint8_t **entry, size_t *len,
                  tz_err *err) TZ_MUST_CHECK;

/* The seq of statement id, or TZ_ERR_NOTFOUND. */
int tz_ledger_find_id(tz_ledger *ledger, const char *id, size_t len, uint64_t *seq,
                      tz_err *err) TZ_MUST_CHECK;

/* The leaf hash of entry seq (read from the tree, one read). */
int tz_ledger_leaf_hash(tz_ledger *ledger, uint64_t seq, uint8_t out[32], tz_err *err) TZ_MUST_CHECK;

/* Root of the first size entries (size <= tz_ledger_size), O(log n) reads. */
int tz_ledger_root_at(tz_ledger *ledger, uint64_t size, uint8_t root[32], tz_err *err) TZ_MUST_CHECK;

/* RFC 9162 proofs from the stored tree, O(log n) reads each. size and
 * size2 must not exceed the log (TZ_ERR_USAGE). */
int tz_ledger_inclusion_proof(tz_ledger *ledger, uint64_t seq, uint64_t size,
                              tz_merkle_proof *proof, tz_err *err) TZ_MUST_CHECK;
int tz_ledger_consistency_proof(tz_ledger *ledger, uint64_t size1, uint64_t size2,
                                tz_merkle_proof *proof, tz_err *err) TZ_MUST_CHECK;

/* Signs a checkpoint of the ledger as it stands (size, root) with the log
 * key and stores it durably as the latest. For a ledger whose entries were
 * written without one (`taizhang salvage`); appends sign their own.
 * TZ_ERR_USAGE when opened read-only or empty; TZ_ERR_IO. */
int tz_ledger_sign_checkpoint(tz_ledger *ledger, tz_err *err) TZ_MUST_CHECK;

/* Copies a key file (at most 8 KiB) to `to`, created 0600 (it must not
 * exist) and fsynced; the bytes read are wiped. TZ_ERR_IO naming the file. */
int tz_ledger_copy_key_file(const char *from, const char *to, tz_err *err) TZ_MUST_CHECK;

/* The latest signed checkpoint (C2SP signed note), malloc'd (free()). */
int tz_ledger_checkpoint(tz_ledger *ledger, char **note, size_t *len, tz_err *err) TZ_MUST_CHECK;

/* Reads and decodes the meta "head" record of store (used by verify). */
typedef struct tz_ledger_head {
    uint64_t size;
    uint64_t recorded_at;
    uint8_t root[32];
    uint8_t last_leaf[32];
} tz_ledger_head;
int tz_ledger_read_head(tz_store *store, tz_ledger_head *head, tz_err *err) TZ_MUST_CHECK;

/* Appends the canonical encoding of head to sb (the meta "head" record).
 * Returns 0, or non-zero when out of memory (sb then holds a partial value). */
int tz_ledger_head_encode(msgpack_sbuffer *sb, const tz_ledger_head *head);

/* Merkle node reader over a store's merkle column family (ctx = tz_store*). */
int tz_ledger_read_node(void *store, unsigned level, uint64_t index, uint8_t out[32], tz_err *err);

/* The key of tree node (level, index) in TZ_CF_MERKLE: 9 bytes. */
void tz_ledger_node_key(uint8_t out[9], unsigned level, uint64_t index);

#endif
