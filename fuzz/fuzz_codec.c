/*
 * fuzz_codec.c: the canonical msgpack checker and decoder (ledger/codec.h)
 * on arbitrary bytes, the first thing every statement, entry and msgpack
 * HTTP body meets.
 *
 * Properties:
 *  - tz_codec_check accepts exactly what the naive model of docs/CODEC.md
 *    (tz_fuzz_msgpack_canonical) accepts; a refusal is TZ_ERR_INPUT with a
 *    message "at offset N...";
 *  - an accepted value decodes (tz_codec_decode), msgpack-c re-packs the
 *    decoded object to the same bytes, and no strict prefix is accepted;
 *  - tz_codec_to_json succeeds exactly when the value holds no bin and no
 *    integer above INT64_MAX; then tz_codec_from_json of that JSON gives the
 *    same bytes again, also after a trip through JSON text (which jansson
 *    cannot read back only for a map key holding U+0000);
 *  - tz_codec_map_get finds every key of every decoded map.
 */
#include <jansson.h>
#include <msgpack.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz/fuzz.h"
#include "ledger/codec.h"

/* 1 when obj holds no bin and no positive integer above INT64_MAX. Sets
 * *nul_key when a map key holds U+0000 (legal, and kept by tz_codec_to_json,
 * but jansson refuses to read such a key back from JSON text). Checks
 * tz_codec_map_get and tz_codec_str_eq on every map on the way. */
static int json_representable(const msgpack_object *obj, int *nul_key)
{
    switch (obj->type) {
    case MSGPACK_OBJECT_BIN:
        return 0;
    case MSGPACK_OBJECT_POSITIVE_INTEGER:
        return obj->via.u64 <= (uint64_t)INT64_MAX;
    case MSGPACK_OBJECT_ARRAY: {
        int ok = 1;
        for (uint32_t i = 0; i < obj->via.array.size; i++)
            ok &= json_representable(&obj->via.array.ptr[i], nul_key);
        return ok;
    }
    case MSGPACK_OBJECT_MAP: {
        int ok = 1;
        for (uint32_t i = 0; i < obj->via.map.size; i++) {
            const msgpack_object_kv *kv = &obj->via.map.ptr[i];
            TZ_FUZZ_CHECK(kv->key.type == MSGPACK_OBJECT_STR);
            const char *k = kv->key.via.str.ptr; /* msgpack-c: NULL for "" */
            size_t klen = kv->key.via.str.size;
            if (klen > 0 && memchr(k, '\0', klen) != NULL) {
                *nul_key = 1;
            } else {
                char *key = malloc(klen + 1);
                TZ_FUZZ_CHECK(key != NULL);
                if (klen > 0)
                    memcpy(key, k, klen);
                key[klen] = '\0';
                TZ_FUZZ_CHECK(tz_codec_map_get(obj, key) == &kv->val);
                TZ_FUZZ_CHECK(tz_codec_str_eq(&kv->key, key));
                free(key);
            }
            ok &= json_representable(&kv->val, nul_key);
        }
        return ok;
    }
    default:
        return 1;
    }
}

/* Encodes value canonically into sb (cleared first). */
static int encode_json(msgpack_sbuffer *sb, const json_t *value, tz_err *err)
{
    msgpack_sbuffer_clear(sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
    return tz_codec_from_json(&pk, value, "value", err);
}

TZ_FUZZ_ENTRY(codec)
{
    tz_err err;
    int naive = tz_fuzz_msgpack_canonical(data, size);
    int rc = tz_codec_check(data, size, &err);
    if (rc != TZ_OK) {
        TZ_FUZZ_CHECK_ERROR(rc, &err, TZ_ERR_INPUT);
        TZ_FUZZ_CHECK_MSG(strncmp(err.msg, "at offset ", 10) == 0, "%s", err.msg);
        TZ_FUZZ_CHECK_MSG(!naive, "checker refused what the model accepts: %s", err.msg);
        return 0;
    }
    TZ_FUZZ_CHECK_MSG(naive, "checker accepted what the model refuses");
    if (size > 1)
        TZ_FUZZ_CHECK(tz_codec_check(data, size - 1, NULL) != TZ_OK);

    msgpack_zone zone;
    TZ_FUZZ_CHECK(msgpack_zone_init(&zone, 2048));
    msgpack_object obj;
    rc = tz_codec_decode(&obj, &zone, data, size, &err);
    TZ_FUZZ_CHECK_MSG(rc == TZ_OK, "decode after check: %s", err.msg);

    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    TZ_FUZZ_CHECK(msgpack_pack_object(&pk, obj) == 0);
    TZ_FUZZ_CHECK(sb.size == size && memcmp(sb.data, data, size) == 0);

    int nul_key = 0;
    int representable = json_representable(&obj, &nul_key);
    json_t *json = tz_codec_to_json(&obj, &err);
    if (json == NULL) {
        TZ_FUZZ_CHECK_ERROR(err.code, &err, TZ_ERR_INPUT);
        TZ_FUZZ_CHECK_MSG(!representable, "to_json refused a JSON value: %s", err.msg);
    } else {
        TZ_FUZZ_CHECK(representable);
        rc = encode_json(&sb, json, &err);
        TZ_FUZZ_CHECK_MSG(rc == TZ_OK, "from_json(to_json(x)): %s", err.msg);
        TZ_FUZZ_CHECK(sb.size == size && memcmp(sb.data, data, size) == 0);

        /* Through JSON text, as the CLI prints it and a client reads it. */
        char *text = json_dumps(json, JSON_COMPACT | JSON_ENCODE_ANY);
        TZ_FUZZ_CHECK(text != NULL);
        json_error_t je;
        json_t *back = json_loads(text, JSON_DECODE_ANY | JSON_ALLOW_NUL | JSON_REJECT_DUPLICATES, &je);
        if (back == NULL) {
            TZ_FUZZ_CHECK_MSG(nul_key, "JSON text does not parse back: %s", je.text);
        } else {
            TZ_FUZZ_CHECK(json_equal(json, back));
            rc = encode_json(&sb, back, &err);
            TZ_FUZZ_CHECK_MSG(rc == TZ_OK, "from_json(JSON text): %s", err.msg);
            TZ_FUZZ_CHECK(sb.size == size && memcmp(sb.data, data, size) == 0);
            json_decref(back);
        }
        free(text);
        json_decref(json);
    }
    msgpack_sbuffer_destroy(&sb);
    msgpack_zone_destroy(&zone);
    return 0;
}
