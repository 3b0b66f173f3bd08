/*
 * store.c: RocksDB under the ledger.
 *
 * Workload: appends are small (a few hundred bytes per entry plus ~2 tree
 * nodes and a few index records) and must be durable before they are
 * acknowledged, so every commit is one WriteBatch written with sync=1; many
 * statements share that fsync when the caller groups them. Reads are point
 * lookups by big-endian key (entries, tree nodes) and in-order scans (the
 * verifier). Options are created once per store. Scratch stores (the
 * verifier's rebuild of derived state) skip the WAL and fsync: they are
 * deleted when the run ends.
 */
#include "ledger/store.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <rocksdb/c.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *const cf_names[TZ_CF_COUNT + 1] = {
    "entries", "merkle", "index", "projections", "meta", "default",
};

struct tz_store {
    rocksdb_t *db;
    rocksdb_options_t *options;
    rocksdb_block_based_table_options_t *table_options;
    rocksdb_cache_t *cache;
    rocksdb_readoptions_t *read_options;
    rocksdb_writeoptions_t *write_options;
    rocksdb_column_family_handle_t *cf[TZ_CF_COUNT + 1];
    int flags;
    char *path;    /* the database directory (NULL for a snapshot handle) */
    /* A snapshot handle (tz_store_snapshot) shares db, options and column
     * families with its parent and owns only its read options and the
     * RocksDB snapshot they carry. */
    tz_store *parent;
    const rocksdb_snapshot_t *snapshot;
    /* Reads that RocksDB answered with an error (a damaged block, EIO),
     * counted on the parent by every handle, with the first message:
     * /healthz reports them (tz_store_read_failures). */
    pthread_mutex_t failure_lock;
    uint64_t read_failures;
    char first_failure[TZ_ERR_MSG_MAX];
};

struct tz_store_batch {
    tz_store *store;
    rocksdb_writebatch_wi_t *wbwi;
    tz_store *entries_from; /* when set, TZ_CF_ENTRIES reads come from here */
};

struct tz_store_iter {
    tz_store *store;
    rocksdb_iterator_t *it;
    rocksdb_readoptions_t *read_options;
};

/* Maps RocksDB's char **errptr convention to a status, freeing the string. */
static int rocks_status(char *rocks_err, tz_err *err, const char *what)
{
    if (rocks_err == NULL)
        return TZ_OK;
    tz_err_set(err, TZ_ERR_IO, "%s: %s", what, rocks_err);
    rocksdb_free(rocks_err);
    return TZ_ERR_IO;
}

const char *tz_store_cf_name(tz_cf cf)
{
    return (unsigned)cf < TZ_CF_COUNT ? cf_names[cf] : "?";
}

void tz_store_key_u64(uint8_t out[8], uint64_t v)
{
    for (int i = 7; i >= 0; i--) {
        out[i] = (uint8_t)(v & 0xff);
        v >>= 8;
    }
}

static int set_options(tz_store *s, int flags, tz_err *err);
static int read_status(tz_store *s, char *rocks_err, tz_err *err, const char *what);

uint64_t tz_store_u64_from_key(const uint8_t in[8])
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | in[i];
    return v;
}

/* ---- integrity on open (docs/STORE.md) ----------------------------------- */

static uint32_t crc32c_table[256];
static pthread_once_t crc32c_once = PTHREAD_ONCE_INIT;

static void crc32c_init(void)
{
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++)
            c = c & 1 ? (c >> 1) ^ 0x82F63B78u : c >> 1;
        crc32c_table[i] = c;
    }
}

/* CRC-32C (Castagnoli), as RocksDB's log records carry it. */
static uint32_t crc32c(uint32_t crc, const uint8_t *p, size_t n)
{
    pthread_once(&crc32c_once, crc32c_init);
    crc = ~crc;
    while (n--)
        crc = crc32c_table[(crc ^ *p++) & 0xff] ^ (crc >> 8);
    return ~crc;
}

#define WAL_BLOCK 32768
#define WAL_HEADER 7

/* Scans one write-ahead log (RocksDB's log format: 32 KiB blocks of
 * records, each a 7-byte header: masked CRC-32C of type and payload,
 * length, type) for the first record that fails its checksum or whose
 * length runs past its block before the file's last block (an incomplete
 * last record is a write cut short, which recovery accepts). Writes what
 * it found to why and returns 1, or returns 0 when every record checks. */
static int wal_scan(const char *file, char *why, size_t cap)
{
    int fd = open(file, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        snprintf(why, cap, "cannot be read: %s", strerror(errno));
        return 1;
    }
    uint8_t *block = malloc(WAL_BLOCK);
    struct stat st;
    int found = 0;
    if (block == NULL || fstat(fd, &st) != 0) {
        free(block);
        close(fd);
        return 0;
    }
    for (off_t base = 0; !found && base < st.st_size; base += WAL_BLOCK) {
        ssize_t got = pread(fd, block, WAL_BLOCK, base);
        if (got <= 0)
            break;
        int last_block = base + got >= st.st_size;
        size_t at = 0;
        while (at + WAL_HEADER <= (size_t)got) {
            const uint8_t *h = block + at;
            size_t len = (size_t)h[4] | (size_t)h[5] << 8;
            uint8_t type = h[6];
            if (type == 0 && len == 0)
                break; /* zero padding: the rest of the block is unused */
            if (at + WAL_HEADER + len > (size_t)got) {
                if (!last_block) {
                    snprintf(why, cap, "the record at byte %lld runs past its block (length %zu)",
                             (long long)(base + (off_t)at), len);
                    found = 1;
                }
                break; /* in the last block: an incomplete last record */
            }
            uint32_t stored = (uint32_t)h[0] | (uint32_t)h[1] << 8 | (uint32_t)h[2] << 16 |
                              (uint32_t)h[3] << 24;
            uint32_t rot = stored - 0xa282ead8u;
            uint32_t expect = (rot >> 17) | (rot << 15);
            uint32_t crc = crc32c(crc32c(0, &type, 1), h + WAL_HEADER, len);
            if (crc != expect) {
                snprintf(why, cap, "the record at byte %lld fails its checksum",
                         (long long)(base + (off_t)at));
                found = 1;
                break;
            }
            at += WAL_HEADER + len;
        }
    }
    free(block);
    close(fd);
    return found;
}

/* Appends to msg (of cap bytes) which write-ahead log in dir is damaged,
 * and where, when one is. */
static void name_damaged_wal(const char *dir, char *msg, size_t cap)
{
    DIR *d = opendir(dir);
    if (d == NULL)
        return;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        size_t n = strlen(de->d_name);
        if (n < 5 || strcmp(de->d_name + n - 4, ".log") != 0)
            continue;
        char file[4096], why[160];
        if (snprintf(file, sizeof file, "%s/%s", dir, de->d_name) >= (int)sizeof file)
            continue;
        if (wal_scan(file, why, sizeof why)) {
            size_t used = strlen(msg);
            int w = snprintf(msg + used, cap - used, "; the write-ahead log %s is damaged: %s",
                             file, why);
            if (w < 0 || (size_t)w >= cap - used)
                msg[cap - 1] = '\0'; /* cut at cap: the file name comes first */
            break;
        }
    }
    closedir(d);
}

/* The current MANIFEST's file name (from CURRENT), or "MANIFEST". */
static void current_manifest(const char *dir, char *out, size_t cap)
{
    char file[4096];
    snprintf(out, cap, "MANIFEST");
    if (snprintf(file, sizeof file, "%s/CURRENT", dir) >= (int)sizeof file)
        return;
    FILE *f = fopen(file, "re");
    if (f == NULL)
        return;
    char line[128];
    if (fgets(line, sizeof line, f) != NULL) {
        line[strcspn(line, "\r\n")] = '\0';
        if (line[0] != '\0')
            snprintf(out, cap, "%s", line);
    }
    fclose(f);
}

void tz_store_manifest_name(tz_store *s, char *out, size_t cap)
{
    if (s->parent != NULL)
        s = s->parent;
    current_manifest(s->path, out, cap);
}

static int is_sst_name(const char *name)
{
    size_t n = strlen(name);
    return n > 4 && strcmp(name + n - 4, ".sst") == 0 && strspn(name, "0123456789") == n - 4;
}

int tz_store_orphans(tz_store *s, char *names, size_t cap, size_t *count, tz_err *err)
{
    *count = 0;
    if (cap > 0)
        names[0] = '\0';
    if (s->parent != NULL)
        s = s->parent;
    const rocksdb_livefiles_t *live = rocksdb_livefiles(s->db);
    if (live == NULL)
        return tz_err_set(err, TZ_ERR_NOMEM, "store: out of memory");
    int nlive = rocksdb_livefiles_count(live);
    DIR *d = opendir(s->path);
    if (d == NULL) {
        rocksdb_livefiles_destroy(live);
        return tz_err_set(err, TZ_ERR_IO, "store: %s: %s", s->path, strerror(errno));
    }
    struct dirent *de;
    size_t used = 0;
    while ((de = readdir(d)) != NULL) {
        if (!is_sst_name(de->d_name))
            continue;
        int referenced = 0;
        for (int i = 0; i < nlive && !referenced; i++) {
            const char *ln = rocksdb_livefiles_name(live, i); /* "/000012.sst" */
            referenced = ln != NULL && strcmp(ln[0] == '/' ? ln + 1 : ln, de->d_name) == 0;
        }
        if (referenced)
            continue;
        if (*count < 8 && used + strlen(de->d_name) + 3 < cap)
            used += (size_t)snprintf(names + used, cap - used, "%s%s", *count ? ", " : "",
                                     de->d_name);
        else if (*count == 8 && used + 6 < cap)
            used += (size_t)snprintf(names + used, cap - used, ", ...");
        (*count)++;
    }
    closedir(d);
    rocksdb_livefiles_destroy(live);
    return TZ_OK;
}

/* Opens the RocksDB database of s at path (options already set). On a
 * failure the message names the path, RocksDB's reason and, for a damaged
 * write-ahead log, the file and the byte. */
static int open_db(tz_store *s, const char *path, int flags, tz_err *err)
{
    const rocksdb_options_t *cf_options[TZ_CF_COUNT + 1];
    for (int i = 0; i <= TZ_CF_COUNT; i++)
        cf_options[i] = s->options;
    char *rocks_err = NULL;
    if (flags & (TZ_STORE_READONLY | TZ_STORE_SALVAGE))
        s->db = rocksdb_open_for_read_only_column_families(
            s->options, path, TZ_CF_COUNT + 1, cf_names, cf_options, s->cf, 0, &rocks_err);
    else
        s->db = rocksdb_open_column_families(s->options, path, TZ_CF_COUNT + 1, cf_names,
                                             cf_options, s->cf, &rocks_err);
    if (rocks_err == NULL && s->db != NULL)
        return TZ_OK;
    char msg[TZ_ERR_MSG_MAX];
    snprintf(msg, sizeof msg, "store: cannot open %s: %s", path,
             rocks_err ? rocks_err : "unknown error");
    if (rocks_err != NULL && strncmp(rocks_err, "Corruption", 10) == 0)
        name_damaged_wal(path, msg, sizeof msg);
    rocksdb_free(rocks_err);
    s->db = NULL;
    return tz_err_set(err, TZ_ERR_IO, "%s", msg);
}

/* Before a writable open of an existing store: the same store opened
 * read-only (which writes and deletes nothing) must open, and every SST
 * file in the directory must be one its MANIFEST references, unless the
 * caller has proven the others unneeded (TZ_STORE_ORPHANS_CHECKED). A
 * writable open deletes unreferenced SSTs at once: after a MANIFEST lost
 * its last records they hold acknowledged data (measured: 7 files). */
static int check_before_writing(const char *path, int flags, tz_err *err)
{
    tz_store *ro = NULL;
    int rc = tz_store_open(&ro, path, TZ_STORE_READONLY, err);
    if (rc != TZ_OK)
        return rc;
    char names[256];
    size_t count = 0;
    rc = tz_store_orphans(ro, names, sizeof names, &count, err);
    tz_store_close(ro);
    if (rc != TZ_OK || count == 0 || (flags & TZ_STORE_ORPHANS_CHECKED))
        return rc;
    char manifest[128];
    current_manifest(path, manifest, sizeof manifest);
    return tz_err_set(err, TZ_ERR_IO, "store: %s: %zu SST file%s (%s) %s not referenced by %s; a "
                      "writable open would delete %s, so the store was not opened for writing "
                      "and nothing was changed", path, count, count == 1 ? "" : "s", names,
                      count == 1 ? "is" : "are", manifest, count == 1 ? "it" : "them");
}

int tz_store_open(tz_store **out, const char *path, int flags, tz_err *err)
{
    *out = NULL;
    int writable_existing = !(flags & (TZ_STORE_READONLY | TZ_STORE_SALVAGE | TZ_STORE_CREATE |
                                       TZ_STORE_SCRATCH));
    if (writable_existing) {
        int rc = check_before_writing(path, flags, err);
        if (rc != TZ_OK)
            return rc;
    }
    tz_store *s = calloc(1, sizeof *s);
    if (s == NULL || (s->path = strdup(path)) == NULL) {
        free(s);
        return tz_err_set(err, TZ_ERR_NOMEM, "store: out of memory");
    }
    pthread_mutex_init(&s->failure_lock, NULL);
    s->flags = flags;
    int rc = set_options(s, flags, err);
    if (rc == TZ_OK)
        rc = open_db(s, path, flags, err);
    if (rc != TZ_OK) {
        tz_store_close(s);
        return rc;
    }
    *out = s;
    return TZ_OK;
}

/* Sets the options of s for flags (see the measurements inline). */
static int set_options(tz_store *s, int flags, tz_err *err)
{
    s->options = rocksdb_options_create();
    /* No preallocated WAL space (the C API has no setter for it): with it,
     * a full disk is noticed only once the WAL outgrows megabytes reserved
     * earlier, at a moment nobody can predict (measured: ~15,000 more
     * appends acknowledged after the disk was full, and again after each
     * reopen). Without it the first append that finds no room is refused.
     * fdatasync updates the file size either way (RocksDB preallocates
     * with KEEP_SIZE). */
    rocksdb_options_t *defaults = rocksdb_options_create();
    char *opt_err = NULL;
    rocksdb_get_options_from_string(defaults, "allow_fallocate=false", s->options, &opt_err);
    rocksdb_options_destroy(defaults);
    if (opt_err != NULL)
        return rocks_status(opt_err, err, "store: options");
    s->table_options = rocksdb_block_based_options_create();
    /* Readers (verify, proofs) and scratch stores get a small data-block
     * cache; index and filter blocks stay with their tables (a few MiB for a
     * million entries). Measured: putting them in an 8 MiB cache made the
     * verifier's point reads evict them and re-read them, 2x slower at 1M.
     * Bloom filters make the common miss (a statement id not seen yet) skip
     * every table. */
    size_t cache = (flags & (TZ_STORE_SCRATCH | TZ_STORE_READONLY)) ? 8u << 20 : 32u << 20;
    s->cache = rocksdb_cache_create_lru(cache);
    rocksdb_block_based_options_set_block_cache(s->table_options, s->cache);
    rocksdb_block_based_options_set_filter_policy(s->table_options,
                                                  rocksdb_filterpolicy_create_bloom(10));
    rocksdb_options_set_block_based_table_factory(s->options, s->table_options);
    /* Integrity on open (docs/STORE.md). Paranoid checks: RocksDB
     * refuses a store whose files disagree with its MANIFEST rather than
     * carrying on. WAL recovery: kTolerateCorruptedTailRecords (0) accepts
     * only an incomplete last record (a write cut short by a crash: that
     * batch was never acknowledged) and refuses a record that fails its
     * checksum anywhere; the default, kPointInTimeRecovery (2), silently
     * stopped at a damaged record in the middle and dropped every
     * acknowledged batch after it (measured: 721 entries). Salvage reads
     * with point-in-time recovery: what is consistent up to the damage,
     * read-only, never written back. */
    rocksdb_options_set_paranoid_checks(s->options, 1);
    rocksdb_options_set_wal_recovery_mode(s->options, (flags & TZ_STORE_SALVAGE) ? 2 : 0);
    rocksdb_options_set_create_if_missing(s->options, (flags & TZ_STORE_CREATE) ? 1 : 0);
    rocksdb_options_set_error_if_exists(s->options, (flags & TZ_STORE_CREATE) ? 1 : 0);
    rocksdb_options_set_create_missing_column_families(s->options, (flags & TZ_STORE_CREATE) ? 1 : 0);
    rocksdb_options_set_keep_log_file_num(s->options, 4);
    /* RocksDB's own LOG keeps only its header (options at open). On a full
     * disk the LOG write fails like any other, and Debian's librocksdb is
     * built with assertions: its next write to that LOG (RocksDB logs its
     * own error handling, e.g. SstFileManagerImpl::ClearError) aborts the
     * process (measured: taizhangd killed by the assertion
     * `sync_without_flush_called_' one write after ENOSPC). Errors reach
     * us through every call's status instead, and are reported from there. */
    rocksdb_options_set_info_log_level(s->options, 5 /* HEADER_LEVEL */);
    rocksdb_options_set_max_open_files(s->options, 256);
    rocksdb_options_set_write_buffer_size(s->options,
                                          (flags & TZ_STORE_SCRATCH) ? 4u << 20 : 16u << 20);
    rocksdb_options_set_max_write_buffer_number(s->options, 2);
    /* Every commit writes the small meta family too; without a bound on the
     * WAL its memtable never fills, no WAL file is ever released, and every
     * open (readers replay the WAL) grows with the log: measured 446 MiB of
     * WAL and 1.5 s per `get` on a 1M-entry ledger. With the bound, RocksDB
     * flushes the families that pin old WAL files, so opening stays cheap. */
    rocksdb_options_set_max_total_wal_size(s->options, 8u << 20);
    /* A Bloom filter over each memtable's whole keys: the appender's
     * commonest read is a miss (a statement id not seen yet), which would
     * otherwise walk the memtable's skip list (measured: 4% of the writer's
     * time per statement). */
    rocksdb_options_set_memtable_prefix_bloom_size_ratio(s->options, 0.02);
    rocksdb_options_set_memtable_whole_key_filtering(s->options, 1);
    s->read_options = rocksdb_readoptions_create();
    s->write_options = rocksdb_writeoptions_create();
    if (flags & TZ_STORE_SCRATCH) {
        rocksdb_writeoptions_disable_WAL(s->write_options, 1);
        rocksdb_writeoptions_set_sync(s->write_options, 0);
    } else {
        rocksdb_writeoptions_set_sync(s->write_options, 1);
    }

    return TZ_OK;
}

int tz_store_repair(const char *path, tz_err *err)
{
    rocksdb_options_t *options = rocksdb_options_create();
    if (options == NULL)
        return tz_err_set(err, TZ_ERR_NOMEM, "store: out of memory");
    rocksdb_options_set_info_log_level(options, 5 /* HEADER_LEVEL */);
    char *rocks_err = NULL;
    rocksdb_repair_db(options, path, &rocks_err);
    /* The repair knows only the column families it found data of: open it
     * once for writing to add the others (an empty family has no table). */
    if (rocks_err == NULL) {
        const rocksdb_options_t *cf_options[TZ_CF_COUNT + 1];
        rocksdb_column_family_handle_t *cf[TZ_CF_COUNT + 1];
        for (int i = 0; i <= TZ_CF_COUNT; i++)
            cf_options[i] = options;
        rocksdb_options_set_create_missing_column_families(options, 1);
        rocksdb_t *db = rocksdb_open_column_families(options, path, TZ_CF_COUNT + 1, cf_names,
                                                     cf_options, cf, &rocks_err);
        if (db != NULL && rocks_err == NULL) {
            for (int i = 0; i <= TZ_CF_COUNT; i++)
                rocksdb_column_family_handle_destroy(cf[i]);
            rocksdb_close(db);
        }
    }
    rocksdb_options_destroy(options);
    char what[600];
    snprintf(what, sizeof what, "store: cannot repair %s", path);
    return rocks_status(rocks_err, err, what);
}

int tz_store_last_key(tz_store *s, tz_cf cf, uint8_t *key, size_t cap, size_t *len, tz_err *err)
{
    rocksdb_readoptions_t *ro = rocksdb_readoptions_create();
    if (ro == NULL)
        return tz_err_set(err, TZ_ERR_NOMEM, "store: out of memory");
    rocksdb_readoptions_set_fill_cache(ro, 0);
    if (s->snapshot != NULL)
        rocksdb_readoptions_set_snapshot(ro, s->snapshot);
    rocksdb_iterator_t *it = rocksdb_create_iterator_cf(s->db, ro, s->cf[cf]);
    int rc = TZ_ERR_NOTFOUND;
    rocksdb_iter_seek_to_last(it);
    if (rocksdb_iter_valid(it)) {
        size_t klen = 0;
        const char *k = rocksdb_iter_key(it, &klen);
        *len = klen;
        memcpy(key, k, klen < cap ? klen : cap);
        rc = TZ_OK;
    }
    char *rocks_err = NULL;
    rocksdb_iter_get_error(it, &rocks_err);
    if (rocks_err != NULL)
        rc = read_status(s, rocks_err, err, "store: seek to the last key");
    else if (rc == TZ_ERR_NOTFOUND)
        tz_err_set(err, rc, "store: %s is empty", cf_names[cf]);
    rocksdb_iter_destroy(it);
    rocksdb_readoptions_destroy(ro);
    return rc;
}

int tz_store_snapshot(tz_store *s, tz_store **out, tz_err *err)
{
    *out = NULL;
    if (s->parent != NULL)
        s = s->parent;
    tz_store *v = calloc(1, sizeof *v);
    if (v == NULL || (v->read_options = rocksdb_readoptions_create()) == NULL) {
        free(v);
        return tz_err_set(err, TZ_ERR_NOMEM, "store: out of memory");
    }
    v->db = s->db;
    memcpy(v->cf, s->cf, sizeof v->cf);
    v->flags = s->flags | TZ_STORE_READONLY;
    v->parent = s;
    v->snapshot = rocksdb_create_snapshot(s->db);
    rocksdb_readoptions_set_snapshot(v->read_options, v->snapshot);
    *out = v;
    return TZ_OK;
}

void tz_store_close(tz_store *s)
{
    if (s == NULL)
        return;
    if (s->parent != NULL) {
        rocksdb_release_snapshot(s->parent->db, s->snapshot);
        rocksdb_readoptions_destroy(s->read_options);
        free(s);
        return;
    }
    pthread_mutex_destroy(&s->failure_lock);
    if (s->db != NULL) {
        for (int i = 0; i <= TZ_CF_COUNT; i++)
            if (s->cf[i] != NULL)
                rocksdb_column_family_handle_destroy(s->cf[i]);
        rocksdb_close(s->db);
    }
    rocksdb_readoptions_destroy(s->read_options);
    rocksdb_writeoptions_destroy(s->write_options);
    rocksdb_options_destroy(s->options);
    rocksdb_block_based_options_destroy(s->table_options);
    rocksdb_cache_destroy(s->cache);
    free(s->path);
    free(s);
}

void tz_store_free(void *val)
{
    if (val != NULL)
        rocksdb_free(val);
}

/* Counts a failed read on the store that owns the database, keeping the
 * first message. */
static void note_read_failure(tz_store *s, const char *msg)
{
    tz_store *owner = s->parent != NULL ? s->parent : s;
    pthread_mutex_lock(&owner->failure_lock);
    if (owner->read_failures++ == 0)
        snprintf(owner->first_failure, sizeof owner->first_failure, "%s", msg);
    pthread_mutex_unlock(&owner->failure_lock);
}

/* rocks_status for reads: the failure is also counted (see above). */
static int read_status(tz_store *s, char *rocks_err, tz_err *err, const char *what)
{
    if (rocks_err == NULL)
        return TZ_OK;
    tz_err e;
    int rc = rocks_status(rocks_err, &e, what);
    note_read_failure(s, e.msg);
    if (err != NULL)
        *err = e;
    return rc;
}

uint64_t tz_store_read_failures(tz_store *s, char *first, size_t cap)
{
    tz_store *owner = s->parent != NULL ? s->parent : s;
    pthread_mutex_lock(&owner->failure_lock);
    uint64_t n = owner->read_failures;
    if (first != NULL && cap > 0)
        snprintf(first, cap, "%s", n ? owner->first_failure : "");
    pthread_mutex_unlock(&owner->failure_lock);
    return n;
}

int tz_store_get(tz_store *s, tz_cf cf, const void *key, size_t key_len,
                 uint8_t **val, size_t *val_len, tz_err *err)
{
    char *rocks_err = NULL;
    size_t len = 0;
    char *v = rocksdb_get_cf(s->db, s->read_options, s->cf[cf], key, key_len, &len, &rocks_err);
    if (rocks_err != NULL)
        return read_status(s, rocks_err, err, "store: read");
    if (v == NULL)
        return tz_err_set(err, TZ_ERR_NOTFOUND, "store: no such key in %s", cf_names[cf]);
    *val = (uint8_t *)v;
    *val_len = len;
    return TZ_OK;
}

static int refuse_snapshot_write(const tz_store *s, tz_err *err)
{
    return s->parent != NULL
               ? tz_err_set(err, TZ_ERR_USAGE, "store: a snapshot is read-only")
               : TZ_OK;
}

static int write_one(tz_store *s, tz_cf cf, const void *key, size_t key_len,
                     const void *val, size_t val_len, int is_delete, tz_err *err)
{
    int refused = refuse_snapshot_write(s, err);
    if (refused != TZ_OK)
        return refused;
    rocksdb_writebatch_t *b = rocksdb_writebatch_create();
    if (is_delete)
        rocksdb_writebatch_delete_cf(b, s->cf[cf], key, key_len);
    else
        rocksdb_writebatch_put_cf(b, s->cf[cf], key, key_len, val, val_len);
    char *rocks_err = NULL;
    rocksdb_write(s->db, s->write_options, b, &rocks_err);
    rocksdb_writebatch_destroy(b);
    return rocks_status(rocks_err, err, "store: write");
}

int tz_store_put(tz_store *s, tz_cf cf, const void *key, size_t key_len,
                 const void *val, size_t val_len, tz_err *err)
{
    return write_one(s, cf, key, key_len, val, val_len, 0, err);
}

int tz_store_delete(tz_store *s, tz_cf cf, const void *key, size_t key_len, tz_err *err)
{
    return write_one(s, cf, key, key_len, NULL, 0, 1, err);
}

tz_store_batch *tz_store_batch_new(tz_store *s)
{
    tz_store_batch *b = calloc(1, sizeof *b);
    if (b == NULL)
        return NULL;
    b->store = s;
    /* overwrite_key=1: a key written twice in one batch reads as its latest value. */
    b->wbwi = rocksdb_writebatch_wi_create(0, 1);
    if (b->wbwi == NULL) {
        free(b);
        return NULL;
    }
    return b;
}

void tz_store_batch_free(tz_store_batch *b)
{
    if (b == NULL)
        return;
    rocksdb_writebatch_wi_destroy(b->wbwi);
    free(b);
}

void tz_store_batch_read_entries_from(tz_store_batch *b, tz_store *source)
{
    b->entries_from = source;
}

int tz_store_batch_get(tz_store_batch *b, tz_cf cf, const void *key, size_t key_len,
                       uint8_t **val, size_t *val_len, tz_err *err)
{
    tz_store *s = b->store;
    if (cf == TZ_CF_ENTRIES && b->entries_from != NULL)
        return tz_store_get(b->entries_from, cf, key, key_len, val, val_len, err);
    char *rocks_err = NULL;
    size_t len = 0;
    char *v = rocksdb_writebatch_wi_get_from_batch_and_db_cf(
        b->wbwi, s->db, s->read_options, s->cf[cf], key, key_len, &len, &rocks_err);
    if (rocks_err != NULL)
        return read_status(s, rocks_err, err, "store: read through batch");
    if (v == NULL)
        return tz_err_set(err, TZ_ERR_NOTFOUND, "store: no such key in %s", cf_names[cf]);
    *val = (uint8_t *)v;
    *val_len = len;
    return TZ_OK;
}

void tz_store_batch_put(tz_store_batch *b, tz_cf cf, const void *key, size_t key_len,
                        const void *val, size_t val_len)
{
    rocksdb_writebatch_wi_put_cf(b->wbwi, b->store->cf[cf], key, key_len, val, val_len);
}

void tz_store_batch_delete(tz_store_batch *b, tz_cf cf, const void *key, size_t key_len)
{
    rocksdb_writebatch_wi_delete_cf(b->wbwi, b->store->cf[cf], key, key_len);
}

void tz_store_batch_mark(tz_store_batch *b)
{
    rocksdb_writebatch_wi_set_save_point(b->wbwi);
}

int tz_store_batch_rollback(tz_store_batch *b, tz_err *err)
{
    char *rocks_err = NULL;
    rocksdb_writebatch_wi_rollback_to_save_point(b->wbwi, &rocks_err);
    return rocks_status(rocks_err, err, "store: batch rollback");
}

int tz_store_batch_count(tz_store_batch *b)
{
    return rocksdb_writebatch_wi_count(b->wbwi);
}

int tz_store_commit(tz_store *s, tz_store_batch *b, tz_err *err)
{
    int refused = refuse_snapshot_write(s, err);
    if (refused != TZ_OK)
        return refused;
    char *rocks_err = NULL;
    rocksdb_write_writebatch_wi(s->db, s->write_options, b->wbwi, &rocks_err);
    int rc = rocks_status(rocks_err, err, "store: commit");
    if (rc == TZ_OK)
        rocksdb_writebatch_wi_clear(b->wbwi);
    return rc;
}

tz_store_iter *tz_store_iter_new(tz_store *s, tz_cf cf, const void *start, size_t start_len)
{
    tz_store_iter *it = calloc(1, sizeof *it);
    if (it == NULL)
        return NULL;
    it->store = s;
    it->read_options = rocksdb_readoptions_create();
    /* Scans read each block once: keep them out of the cache. RocksDB's own
     * automatic read-ahead (growing up to 256 KiB) serves sequential scans
     * without a fixed buffer per iterator (the verifier holds ~40 at once). */
    rocksdb_readoptions_set_fill_cache(it->read_options, 0);
    if (s->snapshot != NULL)
        rocksdb_readoptions_set_snapshot(it->read_options, s->snapshot);
    it->it = rocksdb_create_iterator_cf(s->db, it->read_options, s->cf[cf]);
    if (start != NULL)
        rocksdb_iter_seek(it->it, start, start_len);
    else
        rocksdb_iter_seek_to_first(it->it);
    return it;
}

int tz_store_iter_valid(tz_store_iter *it)
{
    return rocksdb_iter_valid(it->it);
}

void tz_store_iter_next(tz_store_iter *it)
{
    rocksdb_iter_next(it->it);
}

const uint8_t *tz_store_iter_key(tz_store_iter *it, size_t *len)
{
    return (const uint8_t *)rocksdb_iter_key(it->it, len);
}

const uint8_t *tz_store_iter_value(tz_store_iter *it, size_t *len)
{
    return (const uint8_t *)rocksdb_iter_value(it->it, len);
}

int tz_store_iter_status(tz_store_iter *it, tz_err *err)
{
    char *rocks_err = NULL;
    rocksdb_iter_get_error(it->it, &rocks_err);
    return read_status(it->store, rocks_err, err, "store: scan stopped");
}

void tz_store_iter_free(tz_store_iter *it)
{
    if (it == NULL)
        return;
    rocksdb_iter_destroy(it->it);
    rocksdb_readoptions_destroy(it->read_options);
    free(it);
}
