/*
 * fuzz_codec_json.c: JSON text -> canonical msgpack (tz_codec_from_json),
 * the edge format of every statement body, profile and calendar.
 *
 * Properties, for any JSON text jansson accepts (duplicates refused, NUL
 * allowed, as the golden vectors are read):
 *  - tz_codec_from_json succeeds exactly when the value holds no real and
 *    nests at most 32 levels; a refusal is TZ_ERR_INPUT;
 *  - its output passes tz_codec_check and the naive model;
 *  - decoding it and rendering it with tz_codec_to_json gives a JSON value
 *    equal to the input (docs/CODEC.md §5), and encoding that again gives
 *    the same bytes.
 */
#include <jansson.h>
#include <msgpack.h>
#include <string.h>

#include "fuzz/fuzz.h"
#include "ledger/codec.h"

/* 1 when v holds no real and nests at most 32 containers (a container at
 * the top is level 1). */
static int encodable(const json_t *v, int depth)
{
    if (json_is_real(v))
        return 0;
    if (json_is_array(v) || json_is_object(v)) {
        if (depth + 1 > TZ_CODEC_MAX_DEPTH)
            return 0;
        if (json_is_array(v)) {
            for (size_t i = 0; i < json_array_size(v); i++)
                if (!encodable(json_array_get(v, i), depth + 1))
                    return 0;
        } else {
            json_t *obj = (json_t *)v;
            for (void *it = json_object_iter(obj); it != NULL; it = json_object_iter_next(obj, it))
                if (!encodable(json_object_iter_value(it), depth + 1))
                    return 0;
        }
    }
    return 1;
}

TZ_FUZZ_ENTRY(codec_json)
{
    json_error_t je;
    json_t *doc = json_loadb((const char *)data, size,
                             JSON_DECODE_ANY | JSON_ALLOW_NUL | JSON_REJECT_DUPLICATES, &je);
    if (doc == NULL)
        return 0;
    tz_err err;
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    int rc = tz_codec_from_json(&pk, doc, "value", &err);
    int expected = encodable(doc, 0);
    if (rc != TZ_OK) {
        TZ_FUZZ_CHECK_ERROR(rc, &err, TZ_ERR_INPUT);
        TZ_FUZZ_CHECK_MSG(!expected, "from_json refused an encodable value: %s", err.msg);
        goto out;
    }
    TZ_FUZZ_CHECK_MSG(expected, "from_json accepted a real or a value nested too deep");
    const uint8_t *bytes = (const uint8_t *)sb.data;
    rc = tz_codec_check(bytes, sb.size, &err);
    TZ_FUZZ_CHECK_MSG(rc == TZ_OK, "from_json output not canonical: %s", err.msg);
    TZ_FUZZ_CHECK(tz_fuzz_msgpack_canonical(bytes, sb.size));

    msgpack_zone zone;
    TZ_FUZZ_CHECK(msgpack_zone_init(&zone, 2048));
    msgpack_object obj;
    rc = tz_codec_decode(&obj, &zone, bytes, sb.size, &err);
    TZ_FUZZ_CHECK_MSG(rc == TZ_OK, "%s", err.msg);
    json_t *back = tz_codec_to_json(&obj, &err);
    TZ_FUZZ_CHECK_MSG(back != NULL, "to_json(from_json(x)): %s", err.msg);
    TZ_FUZZ_CHECK(json_equal(doc, back));

    msgpack_sbuffer again;
    msgpack_sbuffer_init(&again);
    msgpack_packer pk2;
    msgpack_packer_init(&pk2, &again, msgpack_sbuffer_write);
    rc = tz_codec_from_json(&pk2, back, "value", &err);
    TZ_FUZZ_CHECK_MSG(rc == TZ_OK, "%s", err.msg);
    TZ_FUZZ_CHECK(again.size == sb.size && memcmp(again.data, sb.data, sb.size) == 0);
    msgpack_sbuffer_destroy(&again);
    json_decref(back);
    msgpack_zone_destroy(&zone);
out:
    msgpack_sbuffer_destroy(&sb);
    json_decref(doc);
    return 0;
}
