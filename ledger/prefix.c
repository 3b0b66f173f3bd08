/*
 * prefix.c: the first N entries of a log into a new store (prefix.h).
 *
 * Workload facts: a replay or a salvage copies up to a million entries
 * (245 MiB) once, by hand. The tree is recomputed from the entries with a
 * frontier (2 KiB, no reads) as they pass, and the batch is committed
 * every TZ_PREFIX_BATCH writes (a commit clears it for reuse), so neither
 * the tree nor the batch grows with the log. What is written must equal,
 * byte for byte, what a ledger of those entries holds: the entries
 * unchanged under their seq, the nodes under tz_ledger_node_key, "format"
 * and "head" as the ledger writes them.
 */
#include "ledger/prefix.h"

#include <string.h>

#include "ledger/ledger.h"

/* tz_merkle_frontier_append's emit: a completed node into the batch. */
static int emit_node(void *ctx, unsigned level, uint64_t index, const uint8_t hash[32],
                     tz_err *err)
{
    (void)err;
    uint8_t key[9];
    tz_ledger_node_key(key, level, index);
    tz_store_batch_put(ctx, TZ_CF_MERKLE, key, sizeof key, hash, 32);
    return TZ_OK;
}

int tz_prefix_init(tz_prefix_writer *w, tz_store *dst, const char *what, tz_err *err)
{
    memset(w, 0, sizeof *w);
    w->dst = dst;
    w->what = what;
    tz_merkle_frontier_init(&w->frontier);
    if ((w->batch = tz_store_batch_new(dst)) == NULL)
        return tz_err_set(err, TZ_ERR_NOMEM, "%s: out of memory", what);
    return TZ_OK;
}

int tz_prefix_add(tz_prefix_writer *w, const uint8_t *raw, size_t len, uint64_t recorded_at,
                  tz_err *err)
{
    uint8_t key[8];
    tz_store_key_u64(key, w->frontier.size);
    tz_store_batch_put(w->batch, TZ_CF_ENTRIES, key, sizeof key, raw, len);
    tz_merkle_leaf_hash(w->last_leaf, raw, len);
    w->last_recorded_at = recorded_at;
    int rc = tz_merkle_frontier_append(&w->frontier, w->last_leaf, emit_node, w->batch, err);
    if (rc != TZ_OK || tz_store_batch_count(w->batch) < TZ_PREFIX_BATCH)
        return rc;
    return tz_store_commit(w->dst, w->batch, err);
}

void tz_prefix_root(const tz_prefix_writer *w, uint8_t root[32])
{
    tz_merkle_frontier_root(&w->frontier, root);
}

int tz_prefix_finish(tz_prefix_writer *w, const char *key, size_t klen, const void *val,
                     size_t vlen, tz_err *err)
{
    tz_ledger_head head = {.size = w->frontier.size, .recorded_at = w->last_recorded_at};
    tz_merkle_frontier_root(&w->frontier, head.root);
    memcpy(head.last_leaf, w->last_leaf, 32);
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    int rc = TZ_OK;
    if (tz_ledger_head_encode(&sb, &head)) {
        rc = tz_err_set(err, TZ_ERR_NOMEM, "%s: out of memory", w->what);
        goto out;
    }
    tz_store_batch_put(w->batch, TZ_CF_META, "format", 6, TZ_LEDGER_FORMAT,
                       strlen(TZ_LEDGER_FORMAT));
    tz_store_batch_put(w->batch, TZ_CF_META, "head", 4, sb.data, sb.size);
    if (key != NULL)
        tz_store_batch_put(w->batch, TZ_CF_META, key, klen, val, vlen);
    rc = tz_store_commit(w->dst, w->batch, err);
out:
    msgpack_sbuffer_destroy(&sb);
    return rc;
}

void tz_prefix_free(tz_prefix_writer *w)
{
    if (w == NULL)
        return;
    tz_store_batch_free(w->batch);
    memset(w, 0, sizeof *w);
}
