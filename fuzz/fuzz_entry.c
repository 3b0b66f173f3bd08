/*
 * fuzz_entry.c: entry bytes as a verifier or an importer meets them (a
 * replayed database, a bundle, GET /v1/entries answers): tz_entry_decode,
 * then the JSON view (tz_entry_json) and signature verification.
 *
 * Properties: a refusal is TZ_ERR_INPUT (or TZ_ERR_NOMEM) with a message;
 * an accepted entry is canonical (naive model), holds 1..16 signatures by
 * distinct keys and a statement of 1..TZ_STATEMENT_MAX bytes inside the
 * input, and tz_entry_encode gives back exactly the input bytes;
 * tz_entry_verify_signatures answers TZ_OK or TZ_ERR_SIGNATURE; the JSON
 * view exists exactly when the statement decodes, and carries the input
 * (entry_b64), seq and leaf hash. The same entry re-signed with fixed keys
 * encodes, decodes and verifies.
 */
#include <jansson.h>
#include <msgpack.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz/fuzz.h"
#include "ledger/entry.h"
#include "ledger/entry_json.h"
#include "ledger/merkle.h"
#include "ledger/statement.h"
#include "util/encoding.h"

static void check_json_view(const tz_entry *e, const uint8_t *data, size_t size)
{
    msgpack_zone zone;
    TZ_FUZZ_CHECK(msgpack_zone_init(&zone, 2048));
    tz_statement st;
    int statement_ok = tz_statement_decode(&st, &zone, e->statement, e->statement_len, NULL) == TZ_OK;
    msgpack_zone_destroy(&zone);

    tz_err err;
    json_t *view = tz_entry_json(e->seq, data, size, &err);
    if (view == NULL) {
        TZ_FUZZ_CHECK_ERROR(err.code, &err, TZ_ERR_INPUT, TZ_ERR_NOMEM);
        TZ_FUZZ_CHECK_MSG(!statement_ok || err.code == TZ_ERR_NOMEM, "%s", err.msg);
        return;
    }
    TZ_FUZZ_CHECK(statement_ok);
    TZ_FUZZ_CHECK((uint64_t)json_integer_value(json_object_get(view, "seq")) == e->seq);
    const char *b64 = json_string_value(json_object_get(view, "entry_b64"));
    TZ_FUZZ_CHECK(b64 != NULL);
    uint8_t *raw = malloc(size + 1);
    TZ_FUZZ_CHECK(raw != NULL);
    size_t n = 0;
    TZ_FUZZ_CHECK(tz_base64_decode(raw, size + 1, &n, b64, strlen(b64), NULL) == TZ_OK);
    TZ_FUZZ_CHECK(n == size && memcmp(raw, data, size) == 0);
    free(raw);
    uint8_t leaf[32], got[32];
    tz_merkle_leaf_hash(leaf, data, size);
    const char *hex = json_string_value(json_object_get(view, "leaf_hash"));
    TZ_FUZZ_CHECK(hex != NULL && tz_hex_decode(got, 32, &n, hex, strlen(hex), NULL) == TZ_OK);
    TZ_FUZZ_CHECK(n == 32 && memcmp(got, leaf, 32) == 0);
    TZ_FUZZ_CHECK(json_array_size(json_object_get(view, "signatures")) == e->nsigs);
    json_decref(view);
}

/* Replaces the signatures with valid ones by fixed keys and round-trips. */
static void check_resigned(const tz_entry *e)
{
    tz_entry signed_entry = *e;
    const tz_secret_key *keys[2] = {tz_fuzz_key(0), tz_fuzz_key(1)};
    signed_entry.nsigs = 1 + (e->seq & 1);
    tz_err err;
    TZ_FUZZ_CHECK(tz_statement_sign(signed_entry.sigs, e->statement, e->statement_len, keys,
                                    signed_entry.nsigs, &err) == TZ_OK);
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    int rc = tz_entry_encode(&sb, &signed_entry, &err);
    TZ_FUZZ_CHECK_MSG(rc == TZ_OK, "%s", err.msg);
    tz_entry back;
    rc = tz_entry_decode(&back, (const uint8_t *)sb.data, sb.size, &err);
    TZ_FUZZ_CHECK_MSG(rc == TZ_OK, "%s", err.msg);
    TZ_FUZZ_CHECK(back.seq == e->seq && back.recorded_at == e->recorded_at);
    TZ_FUZZ_CHECK(back.statement_len == e->statement_len &&
                  memcmp(back.statement, e->statement, e->statement_len) == 0);
    rc = tz_entry_verify_signatures(&back, &err);
    TZ_FUZZ_CHECK_MSG(rc == TZ_OK, "%s", err.msg);
    /* One flipped bit in a signature must be caught. */
    back.sigs[back.nsigs - 1].sig[e->statement_len % 64] ^= 0x01;
    rc = tz_entry_verify_signatures(&back, &err);
    TZ_FUZZ_CHECK(rc == TZ_ERR_SIGNATURE);
    msgpack_sbuffer_destroy(&sb);
}

TZ_FUZZ_ENTRY(entry)
{
    tz_err err;
    tz_entry e;
    int rc = tz_entry_decode(&e, data, size, &err);
    if (rc != TZ_OK) {
        TZ_FUZZ_CHECK_ERROR(rc, &err, TZ_ERR_INPUT, TZ_ERR_NOMEM);
        return 0;
    }
    TZ_FUZZ_CHECK(size <= TZ_ENTRY_MAX);
    TZ_FUZZ_CHECK(tz_fuzz_msgpack_canonical(data, size));
    TZ_FUZZ_CHECK(e.nsigs >= 1 && e.nsigs <= TZ_ENTRY_MAX_SIGS);
    for (size_t i = 0; i < e.nsigs; i++)
        for (size_t j = 0; j < i; j++)
            TZ_FUZZ_CHECK(memcmp(e.sigs[i].key, e.sigs[j].key, 32) != 0);
    TZ_FUZZ_CHECK(e.statement_len >= 1 && e.statement_len <= TZ_STATEMENT_MAX);
    TZ_FUZZ_CHECK(e.statement >= data && e.statement + e.statement_len <= data + size);

    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    rc = tz_entry_encode(&sb, &e, &err);
    TZ_FUZZ_CHECK_MSG(rc == TZ_OK, "an accepted entry does not encode: %s", err.msg);
    TZ_FUZZ_CHECK(sb.size == size && memcmp(sb.data, data, size) == 0);
    msgpack_sbuffer_destroy(&sb);

    rc = tz_entry_verify_signatures(&e, &err);
    if (rc != TZ_OK)
        TZ_FUZZ_CHECK_ERROR(rc, &err, TZ_ERR_SIGNATURE, TZ_ERR_NOMEM);

    check_json_view(&e, data, size);
    check_resigned(&e);
    return 0;
}
