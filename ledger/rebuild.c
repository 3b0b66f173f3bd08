/*
 * rebuild.c: replaying the decide step over the entries (see rebuild.h).
 *
 * One pass over the entries column family in seq order; per entry a strict
 * decode and tz_apply_statement against the scratch batch, which reads
 * earlier entries from the source (cosign looks at its target). The
 * scratch store has no WAL and no fsync; its batch is committed every few
 * thousand entries so memory stays flat.
 */
#include "ledger/rebuild.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "ledger/apply.h"
#include "ledger/entry.h"
#include "ledger/replay.h"
#include "ledger/statement.h"
#include "projections/domain.h"
#include "util/fs.h"

#define COMMIT_EVERY 2048
#define COPY_BATCH 4096

int tz_rebuild_replay(tz_store *src, uint64_t until, const char *dir, tz_store **out,
                      uint64_t *replayed, tz_err *err)
{
    char path[PATH_MAX];
    *out = NULL;
    *replayed = 0;
    if (mkdir(dir, 0700) != 0)
        return tz_err_set(err, TZ_ERR_IO, "rebuild: cannot create %s", dir);
    if (snprintf(path, sizeof path, "%s/db", dir) >= (int)sizeof path)
        return tz_err_set(err, TZ_ERR_USAGE, "rebuild: path too long");
    tz_store *scratch = NULL;
    int rc = tz_store_open(&scratch, path, TZ_STORE_CREATE | TZ_STORE_SCRATCH, err);
    if (rc != TZ_OK)
        return rc;
    tz_key_cache *keys = calloc(1, sizeof *keys);
    tz_profile_cache *profiles = calloc(1, sizeof *profiles);
    tz_store_batch *batch = tz_store_batch_new(scratch);
    tz_store_iter *it = tz_store_iter_new(src, TZ_CF_ENTRIES, NULL, 0);
    if (keys == NULL || profiles == NULL || batch == NULL || it == NULL) {
        rc = tz_err_set(err, TZ_ERR_NOMEM, "rebuild: out of memory");
        goto out;
    }
    tz_store_batch_read_entries_from(batch, src);
    uint64_t seq = 0;
    for (; rc == TZ_OK && seq < until && tz_store_iter_valid(it); tz_store_iter_next(it), seq++) {
        size_t klen, len;
        const uint8_t *key = tz_store_iter_key(it, &klen);
        const uint8_t *raw = tz_store_iter_value(it, &len);
        tz_entry e;
        tz_statement st;
        msgpack_zone zone;
        tz_err why;
        if (klen != 8 || tz_store_u64_from_key(key) != seq) {
            rc = tz_err_set(err, TZ_ERR_TAMPER, "rebuild: entry %llu is missing or out of place "
                            "(run verify)", (unsigned long long)seq);
            break;
        }
        if (!msgpack_zone_init(&zone, 4096)) {
            rc = tz_err_set(err, TZ_ERR_NOMEM, "rebuild: out of memory");
            break;
        }
        if (tz_entry_decode(&e, raw, len, &why) != TZ_OK ||
            tz_statement_decode(&st, &zone, e.statement, e.statement_len, &why) != TZ_OK) {
            rc = tz_err_set(err, TZ_ERR_TAMPER, "rebuild: entry %llu does not decode: %s (run "
                            "verify)", (unsigned long long)seq, why.msg);
        } else {
            tz_apply_ctx ctx = {
                .batch = batch, .seq = seq, .recorded_at = e.recorded_at, .st = &st,
                .statement = e.statement, .statement_len = e.statement_len, .sigs = e.sigs,
                .nsigs = e.nsigs, .key_cache = keys, .profile_cache = profiles,
            };
            if (tz_apply_statement(&ctx, &why) != TZ_OK)
                rc = tz_err_set(err, TZ_ERR_TAMPER, "rebuild: entry %llu is refused by the "
                                "decide step: %s (run verify)", (unsigned long long)seq,
                                why.msg);
        }
        msgpack_zone_destroy(&zone);
        if (rc == TZ_OK && (seq + 1) % COMMIT_EVERY == 0 &&
            (rc = tz_store_commit(scratch, batch, err)) == TZ_OK) {
            tz_store_batch_free(batch);
            if ((batch = tz_store_batch_new(scratch)) == NULL)
                rc = tz_err_set(err, TZ_ERR_NOMEM, "rebuild: out of memory");
            else
                tz_store_batch_read_entries_from(batch, src);
        }
    }
    if (rc == TZ_OK)
        rc = tz_store_iter_status(it, err);
    if (rc == TZ_OK && until != UINT64_MAX && seq < until)
        rc = tz_err_set(err, TZ_ERR_NOTFOUND, "rebuild: the log holds %llu entries, fewer than "
                        "%llu", (unsigned long long)seq, (unsigned long long)until);
    if (rc == TZ_OK)
        rc = tz_store_commit(scratch, batch, err);
    *replayed = seq;
out:
    tz_store_iter_free(it);
    tz_store_batch_free(batch);
    free(keys);
    free(profiles);
    if (rc == TZ_OK)
        *out = scratch;
    else
        tz_store_close(scratch);
    return rc;
}

/* Deletes every record of cf in dst, then copies every record of cf from
 * src, in batches. */
static int replace_cf(tz_store *dst, tz_store *src, tz_cf cf, uint64_t *records, tz_err *err)
{
    int rc = TZ_OK;
    for (int pass = 0; pass < 2 && rc == TZ_OK; pass++) {
        tz_store *from = pass == 0 ? dst : src;
        tz_store_iter *it = tz_store_iter_new(from, cf, NULL, 0);
        tz_store_batch *b = tz_store_batch_new(dst);
        if (it == NULL || b == NULL) {
            tz_store_iter_free(it);
            tz_store_batch_free(b);
            return tz_err_set(err, TZ_ERR_NOMEM, "reproject: out of memory");
        }
        for (; rc == TZ_OK && tz_store_iter_valid(it); tz_store_iter_next(it)) {
            size_t kl, vl;
            const uint8_t *k = tz_store_iter_key(it, &kl);
            if (pass == 0) {
                tz_store_batch_delete(b, cf, k, kl);
            } else {
                const uint8_t *v = tz_store_iter_value(it, &vl);
                tz_store_batch_put(b, cf, k, kl, v, vl);
                (*records)++;
            }
            if (tz_store_batch_count(b) >= COPY_BATCH &&
                (rc = tz_store_commit(dst, b, err)) == TZ_OK) {
                tz_store_batch_free(b);
                if ((b = tz_store_batch_new(dst)) == NULL)
                    rc = tz_err_set(err, TZ_ERR_NOMEM, "reproject: out of memory");
            }
        }
        if (rc == TZ_OK)
            rc = tz_store_iter_status(it, err);
        if (rc == TZ_OK && b != NULL)
            rc = tz_store_commit(dst, b, err);
        tz_store_iter_free(it);
        tz_store_batch_free(b);
    }
    return rc;
}

int tz_rebuild_reproject(const char *ledger_dir, uint64_t *records, tz_err *err)
{
    char path[PATH_MAX], scratch_dir[PATH_MAX];
    *records = 0;
    if (snprintf(path, sizeof path, "%s/db", ledger_dir) >= (int)sizeof path)
        return tz_err_set(err, TZ_ERR_USAGE, "--db: path too long");
    tz_store *store = NULL, *scratch = NULL;
    int rc = tz_replay_refuse_write(ledger_dir, NULL, err);
    if (rc == TZ_OK)
        rc = tz_store_open(&store, path, 0, err);
    if (rc == TZ_OK && (rc = tz_replay_refuse_write(ledger_dir, store, err)) != TZ_OK)
        tz_store_close(store);
    if (rc != TZ_OK)
        return rc;
    const char *tmp = getenv("TMPDIR");
    snprintf(scratch_dir, sizeof scratch_dir, "%s/taizhang-reproject.XXXXXX",
             tmp && *tmp ? tmp : "/tmp");
    if (mkdtemp(scratch_dir) == NULL) {
        tz_store_close(store);
        return tz_err_set(err, TZ_ERR_IO, "reproject: cannot create a scratch directory");
    }
    char replay_dir[PATH_MAX + 16];
    snprintf(replay_dir, sizeof replay_dir, "%s/replay", scratch_dir);
    uint64_t n = 0;
    if ((rc = tz_rebuild_replay(store, UINT64_MAX, replay_dir, &scratch, &n, err)) != TZ_OK)
        goto out;
    if ((rc = tz_store_put(store, TZ_CF_META, "reproject", 9, "started", 7, err)) != TZ_OK ||
        (rc = replace_cf(store, scratch, TZ_CF_INDEX, records, err)) != TZ_OK ||
        (rc = replace_cf(store, scratch, TZ_CF_PROJECTIONS, records, err)) != TZ_OK)
        goto out;
    rc = tz_store_delete(store, TZ_CF_META, "reproject", 9, err);
out:
    tz_store_close(scratch);
    tz_store_close(store);
    tz_fs_rmtree(scratch_dir);
    return rc;
}
