/*
 * store.h: the RocksDB store under a ledger, split into column families by
 * concern. Every write goes through a batch (a RocksDB WriteBatchWithIndex,
 * so a statement being decided can read what earlier statements of the same
 * batch wrote) and is committed with sync=1 unless the store is a scratch
 * store (verifier rebuilds). Every RocksDB error is returned, never dropped.
 *
 * Keys are raw bytes; integers in keys are big-endian so RocksDB's bytewise
 * order is numeric order (see tz_store_key_u64).
 */
#ifndef TZ_LEDGER_STORE_H
#define TZ_LEDGER_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "util/status.h"

typedef enum tz_cf {
    TZ_CF_ENTRIES = 0,  /* seq (u64 BE) -> entry bytes (the Merkle leaf) */
    TZ_CF_MERKLE,       /* level (u8) || index (u64 BE) -> 32-byte node hash */
    TZ_CF_INDEX,        /* derived lookups: statement ids, keys, cosignatures */
    TZ_CF_PROJECTIONS,  /* derived state people ask about (later issues) */
    TZ_CF_META,         /* head, signed checkpoint, format version */
    TZ_CF_COUNT
} tz_cf;

enum {
    TZ_STORE_CREATE = 1,   /* create the database; fail if it exists */
    TZ_STORE_READONLY = 2, /* open read-only (no lock; safe beside a writer) */
    TZ_STORE_SCRATCH = 4,  /* no WAL, no fsync, small buffers: throw-away rebuilds */
    /* Read-only, recovering the WAL up to its first damaged record instead
     * of refusing it: for `taizhang salvage`, which reads what it can and
     * writes nothing here. */
    TZ_STORE_SALVAGE = 8,
    /* For a writable open: the caller has proven that the SST files the
     * MANIFEST does not reference hold nothing the store needs (see
     * tz_store_open), so RocksDB may delete them. */
    TZ_STORE_ORPHANS_CHECKED = 16,
};

typedef struct tz_store tz_store;
typedef struct tz_store_batch tz_store_batch;
typedef struct tz_store_iter tz_store_iter;

/* Opens (or with TZ_STORE_CREATE creates) the RocksDB database at path with
 * all column families. On success *out owns the store; on error *out is NULL
 * and err names the path and RocksDB's message.
 *
 * Integrity on open (docs/STORE.md): paranoid checks are on, and a record
 * of the write-ahead log that fails its checksum refuses the open (TZ_ERR_IO,
 * naming the log file and the byte), wherever it is; only an incomplete
 * last record (a write cut short by a crash, never acknowledged) is
 * dropped. A writable open of an existing store (flags without CREATE,
 * SCRATCH or READONLY) first opens it read-only, which changes no file,
 * and refuses (TZ_ERR_IO, naming the files and the MANIFEST) when that
 * fails or when an SST file in the directory is not referenced by the
 * MANIFEST, unless TZ_STORE_ORPHANS_CHECKED: RocksDB's writable open would
 * delete it. So a failed open deletes and rewrites nothing. */
int tz_store_open(tz_store **out, const char *path, int flags, tz_err *err) TZ_MUST_CHECK;

/* The SST files in the store's directory that its MANIFEST does not
 * reference (a crash during a flush or compaction leaves such a file,
 * and so does a MANIFEST that lost records). *count gets their number,
 * names (cap bytes) the first few, comma-separated. TZ_ERR_IO when the
 * directory cannot be listed. */
int tz_store_orphans(tz_store *store, char *names, size_t cap, size_t *count,
                     tz_err *err) TZ_MUST_CHECK;

/* Rebuilds the MANIFEST of the database at path from the files there
 * (RocksDB's RepairDB: write-ahead logs are turned into tables, records
 * past damage kept, unreadable tables moved to path/lost). It rewrites
 * the directory: only ever run it on a copy (`taizhang salvage` does).
 * TZ_ERR_IO with RocksDB's message. */
int tz_store_repair(const char *path, tz_err *err) TZ_MUST_CHECK;

/* The greatest key in cf: *len gets its length and key its first cap
 * bytes. TZ_ERR_NOTFOUND when cf is empty, TZ_ERR_IO on a read error. */
int tz_store_last_key(tz_store *store, tz_cf cf, uint8_t *key, size_t cap, size_t *len,
                      tz_err *err) TZ_MUST_CHECK;

/* The name of the store's current MANIFEST file ("MANIFEST-000028", from
 * CURRENT; "MANIFEST" when it cannot be read), for messages. */
void tz_store_manifest_name(tz_store *store, char *out, size_t cap);

/* The number of reads of this store (or of any snapshot of it) that RocksDB
 * answered with an error (a damaged block, an I/O error) since it was
 * opened; first (cap bytes) gets the first one's message, "" when none.
 * NOTFOUND is no failure. Thread-safe. */
uint64_t tz_store_read_failures(tz_store *store, char *first, size_t cap);

/* A read-only handle on store as it stands now (a RocksDB snapshot): every
 * read through it, point or scan, directly or through a batch, sees exactly
 * what was committed before this call and nothing committed after, however
 * long it is held. Taking one is cheap (no copy). It shares the database of
 * store: close it (tz_store_close) before store. Writes through it are
 * refused (TZ_ERR_USAGE). On TZ_OK *out owns the handle. */
int tz_store_snapshot(tz_store *store, tz_store **out, tz_err *err) TZ_MUST_CHECK;

/* Closes the store (or releases a snapshot handle). Accepts NULL. */
void tz_store_close(tz_store *store);

/* The name of a column family ("entries", ...). */
const char *tz_store_cf_name(tz_cf cf);

/* Reads key from cf. On TZ_OK *val is a malloc'd copy (free with
 * tz_store_free) of *val_len bytes; TZ_ERR_NOTFOUND when absent; TZ_ERR_IO
 * on a RocksDB error. */
int tz_store_get(tz_store *store, tz_cf cf, const void *key, size_t key_len,
                 uint8_t **val, size_t *val_len, tz_err *err) TZ_MUST_CHECK;

/* Frees a value returned by the store. Accepts NULL. */
void tz_store_free(void *val);

/* Writes one value durably (a batch of one). For set-up and tests. */
int tz_store_put(tz_store *store, tz_cf cf, const void *key, size_t key_len,
                 const void *val, size_t val_len, tz_err *err) TZ_MUST_CHECK;

/* Deletes one key durably. For tests that damage a store on purpose. */
int tz_store_delete(tz_store *store, tz_cf cf, const void *key, size_t key_len,
                    tz_err *err) TZ_MUST_CHECK;

/* A new empty batch on store, or NULL when out of memory. */
tz_store_batch *tz_store_batch_new(tz_store *store);

/* Frees a batch (uncommitted writes are dropped). Accepts NULL. */
void tz_store_batch_free(tz_store_batch *batch);

/* Reads key as the store would hold it after the batch commits. Same
 * results as tz_store_get. */
int tz_store_batch_get(tz_store_batch *batch, tz_cf cf, const void *key, size_t key_len,
                       uint8_t **val, size_t *val_len, tz_err *err) TZ_MUST_CHECK;

/* Makes reads of TZ_CF_ENTRIES through this batch come from source instead
 * (the verifier rebuilds derived state in a scratch store while the entries
 * it has already checked stay in the ledger's own store). */
void tz_store_batch_read_entries_from(tz_store_batch *batch, tz_store *source);

/* Adds a put or delete to the batch. Values must not be empty (an empty
 * value cannot be told from a missing one through the batch API). */
void tz_store_batch_put(tz_store_batch *batch, tz_cf cf, const void *key, size_t key_len,
                        const void *val, size_t val_len);
void tz_store_batch_delete(tz_store_batch *batch, tz_cf cf, const void *key, size_t key_len);

/* Marks the current state of the batch; rollback returns to the latest mark
 * (and removes it). Used to drop one rejected statement from a group. */
void tz_store_batch_mark(tz_store_batch *batch);
int tz_store_batch_rollback(tz_store_batch *batch, tz_err *err) TZ_MUST_CHECK;

/* Number of writes in the batch. */
int tz_store_batch_count(tz_store_batch *batch);

/* Writes the whole batch atomically, with sync=1 (except scratch stores),
 * then empties it. On error nothing of the batch is in the store. */
int tz_store_commit(tz_store *store, tz_store_batch *batch, tz_err *err) TZ_MUST_CHECK;

/* Iterates cf in key order from the first key >= start (start NULL: from
 * the beginning). NULL when out of memory. */
tz_store_iter *tz_store_iter_new(tz_store *store, tz_cf cf, const void *start, size_t start_len);
int tz_store_iter_valid(tz_store_iter *it);
void tz_store_iter_next(tz_store_iter *it);
const uint8_t *tz_store_iter_key(tz_store_iter *it, size_t *len);
const uint8_t *tz_store_iter_value(tz_store_iter *it, size_t *len);
/* After the loop: TZ_OK when the iterator ended at the end of the data,
 * TZ_ERR_IO when it stopped on an error (never treat that as the end). */
int tz_store_iter_status(tz_store_iter *it, tz_err *err) TZ_MUST_CHECK;
void tz_store_iter_free(tz_store_iter *it);

/* Big-endian u64 key helpers. */
void tz_store_key_u64(uint8_t out[8], uint64_t v);
uint64_t tz_store_u64_from_key(const uint8_t in[8]);

#endif
