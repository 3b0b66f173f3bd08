/*
 * entry.c: encoding and strict decoding of log entries (see entry.h).
 * Decoding runs once per entry in the verifier, so it reads the checked
 * msgpack object tree in place (strings and bins point into the input) and
 * allocates only from a small zone on the stack.
 */
#include "ledger/entry.h"

#include <string.h>

#include "crypto/hash.h"
#include "crypto/key.h"
#include "ledger/codec.h"
#include "util/encoding.h"

static int pack_key(msgpack_packer *pk, const char *k)
{
    return tz_codec_pack_str(pk, k, strlen(k));
}

int tz_entry_encode(msgpack_sbuffer *out, const tz_entry *e, tz_err *err)
{
    if (e->nsigs == 0)
        return tz_err_set(err, TZ_ERR_INPUT, "sigs: an entry needs at least one signature");
    if (e->nsigs > TZ_ENTRY_MAX_SIGS)
        return tz_err_set(err, TZ_ERR_INPUT, "sigs: more than %d signatures", TZ_ENTRY_MAX_SIGS);
    if (e->statement_len == 0 || e->statement_len > TZ_STATEMENT_MAX)
        return tz_err_set(err, TZ_ERR_INPUT, "statement: %zu bytes (limit %u)", e->statement_len,
                          TZ_STATEMENT_MAX);
    for (size_t i = 0; i < e->nsigs; i++)
        for (size_t j = 0; j < i; j++)
            if (tz_hash_equal(e->sigs[i].key, e->sigs[j].key, 32))
                return tz_err_set(err, TZ_ERR_INPUT, "sigs[%zu]: the same key signed twice", i);
    msgpack_packer pk;
    msgpack_packer_init(&pk, out, msgpack_sbuffer_write);
    int bad = 0;
    bad |= msgpack_pack_map(&pk, 5);
    bad |= pack_key(&pk, "prev");
    bad |= tz_codec_pack_bin(&pk, e->prev, 32);
    bad |= pack_key(&pk, "recorded_at");
    bad |= msgpack_pack_uint64(&pk, e->recorded_at);
    bad |= pack_key(&pk, "seq");
    bad |= msgpack_pack_uint64(&pk, e->seq);
    bad |= pack_key(&pk, "sigs");
    bad |= msgpack_pack_array(&pk, e->nsigs);
    for (size_t i = 0; i < e->nsigs; i++) {
        bad |= msgpack_pack_map(&pk, 2);
        bad |= pack_key(&pk, "key");
        bad |= tz_codec_pack_bin(&pk, e->sigs[i].key, 32);
        bad |= pack_key(&pk, "sig");
        bad |= tz_codec_pack_bin(&pk, e->sigs[i].sig, 64);
    }
    bad |= pack_key(&pk, "statement");
    bad |= tz_codec_pack_bin(&pk, e->statement, e->statement_len);
    if (bad)
        return tz_err_set(err, TZ_ERR_NOMEM, "entry: out of memory while encoding");
    return TZ_OK;
}

static int get_bin(const msgpack_object *map, const char *key, size_t want, const uint8_t **out,
                   size_t *len, tz_err *err)
{
    const msgpack_object *o = tz_codec_map_get(map, key);
    if (o == NULL)
        return tz_err_set(err, TZ_ERR_INPUT, "entry.%s: missing", key);
    if (o->type != MSGPACK_OBJECT_BIN)
        return tz_err_set(err, TZ_ERR_INPUT, "entry.%s: must be binary", key);
    if (want != 0 && o->via.bin.size != want)
        return tz_err_set(err, TZ_ERR_INPUT, "entry.%s: must be %zu bytes, not %u", key, want,
                          o->via.bin.size);
    *out = (const uint8_t *)o->via.bin.ptr;
    if (len != NULL)
        *len = o->via.bin.size;
    return TZ_OK;
}

static int get_uint(const msgpack_object *map, const char *key, uint64_t *out, tz_err *err)
{
    const msgpack_object *o = tz_codec_map_get(map, key);
    if (o == NULL)
        return tz_err_set(err, TZ_ERR_INPUT, "entry.%s: missing", key);
    if (o->type != MSGPACK_OBJECT_POSITIVE_INTEGER)
        return tz_err_set(err, TZ_ERR_INPUT, "entry.%s: must be an unsigned integer", key);
    *out = o->via.u64;
    return TZ_OK;
}

int tz_entry_decode(tz_entry *e, const uint8_t *data, size_t len, tz_err *err)
{
    if (len > TZ_ENTRY_MAX)
        return tz_err_set(err, TZ_ERR_INPUT, "entry: %zu bytes (limit %u)", len, TZ_ENTRY_MAX);
    msgpack_zone zone;
    if (!msgpack_zone_init(&zone, 2048))
        return tz_err_set(err, TZ_ERR_NOMEM, "entry: out of memory");
    msgpack_object root;
    int rc = tz_codec_decode(&root, &zone, data, len, err);
    if (rc != TZ_OK) {
        tz_err_prefix(err, "entry: ");
        goto out;
    }
    if (root.type != MSGPACK_OBJECT_MAP) {
        rc = tz_err_set(err, TZ_ERR_INPUT, "entry: must be a map");
        goto out;
    }
    if (root.via.map.size != 5) {
        rc = tz_err_set(err, TZ_ERR_INPUT, "entry: must have exactly the keys prev, recorded_at, "
                        "seq, sigs, statement (has %u keys)", root.via.map.size);
        goto out;
    }
    const uint8_t *prev = NULL, *stmt = NULL;
    if ((rc = get_bin(&root, "prev", 32, &prev, NULL, err)) != TZ_OK ||
        (rc = get_uint(&root, "recorded_at", &e->recorded_at, err)) != TZ_OK ||
        (rc = get_uint(&root, "seq", &e->seq, err)) != TZ_OK ||
        (rc = get_bin(&root, "statement", 0, &stmt, &e->statement_len, err)) != TZ_OK)
        goto out;
    memcpy(e->prev, prev, 32);
    e->statement = stmt;
    if (e->statement_len == 0 || e->statement_len > TZ_STATEMENT_MAX) {
        rc = tz_err_set(err, TZ_ERR_INPUT, "entry.statement: %zu bytes (must be 1..%u)",
                        e->statement_len, TZ_STATEMENT_MAX);
        goto out;
    }
    const msgpack_object *sigs = tz_codec_map_get(&root, "sigs");
    if (sigs == NULL || sigs->type != MSGPACK_OBJECT_ARRAY) {
        rc = tz_err_set(err, TZ_ERR_INPUT, "entry.sigs: missing or not an array");
        goto out;
    }
    if (sigs->via.array.size == 0 || sigs->via.array.size > TZ_ENTRY_MAX_SIGS) {
        rc = tz_err_set(err, TZ_ERR_INPUT, "entry.sigs: must hold 1..%d signatures (holds %u)",
                        TZ_ENTRY_MAX_SIGS, sigs->via.array.size);
        goto out;
    }
    e->nsigs = sigs->via.array.size;
    for (size_t i = 0; i < e->nsigs; i++) {
        const msgpack_object *s = &sigs->via.array.ptr[i];
        const uint8_t *k = NULL, *sg = NULL;
        if (s->type != MSGPACK_OBJECT_MAP || s->via.map.size != 2) {
            rc = tz_err_set(err, TZ_ERR_INPUT, "entry.sigs[%zu]: must be a map {key, sig}", i);
            goto out;
        }
        if ((rc = get_bin(s, "key", 32, &k, NULL, err)) != TZ_OK ||
            (rc = get_bin(s, "sig", 64, &sg, NULL, err)) != TZ_OK) {
            tz_err_prefix(err, "sigs[%zu]: ", i);
            goto out;
        }
        memcpy(e->sigs[i].key, k, 32);
        memcpy(e->sigs[i].sig, sg, 64);
        for (size_t j = 0; j < i; j++)
            if (tz_hash_equal(e->sigs[j].key, k, 32)) {
                rc = tz_err_set(err, TZ_ERR_INPUT, "entry.sigs[%zu]: the same key signed twice", i);
                goto out;
            }
    }
    /* The statement must point into data (msgpack-c references the input). */
    if (e->statement < data || e->statement + e->statement_len > data + len) {
        rc = tz_err_set(err, TZ_ERR_INTERNAL, "entry: decoder copied the statement");
        goto out;
    }
    rc = TZ_OK;
out:
    msgpack_zone_destroy(&zone);
    return rc;
}

int tz_entry_verify_signatures(const tz_entry *e, tz_err *err)
{
    for (size_t i = 0; i < e->nsigs; i++) {
        int rc = tz_key_verify_statement(e->sigs[i].sig, e->sigs[i].key, e->statement,
                                         e->statement_len, err);
        if (rc != TZ_OK) {
            char hex[17];
            tz_hex_encode(hex, e->sigs[i].key, 8);
            return tz_err_set(err, TZ_ERR_SIGNATURE,
                              "sigs[%zu]: signature by key %s... does not verify over the statement",
                              i, hex);
        }
    }
    return TZ_OK;
}
