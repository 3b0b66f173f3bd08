/*
 * fuzz_statement_msgpack.c: statement bytes as they arrive in a msgpack
 * HTTP body, in an entry being replayed or in a bundle:
 * tz_statement_decode on arbitrary bytes.
 *
 * Properties: a refusal is TZ_ERR_INPUT (or TZ_ERR_NOMEM) with a message;
 * an accepted statement is canonical (naive model), at most
 * TZ_STATEMENT_MAX bytes, its type and id pass their checks, `at` parses to
 * at_unix, its JSON view exists (bodies hold JSON values only) and
 * tz_statement_from_json of that view gives back exactly the input bytes:
 * the msgpack and the JSON way in can never disagree about a statement.
 */
#include <jansson.h>
#include <msgpack.h>
#include <string.h>

#include "fuzz/fuzz.h"
#include "ledger/codec.h"
#include "ledger/statement.h"
#include "util/time.h"

TZ_FUZZ_ENTRY(statement_msgpack)
{
    tz_err err;
    msgpack_zone zone;
    TZ_FUZZ_CHECK(msgpack_zone_init(&zone, 2048));
    tz_statement st;
    int rc = tz_statement_decode(&st, &zone, data, size, &err);
    if (rc != TZ_OK) {
        TZ_FUZZ_CHECK_ERROR(rc, &err, TZ_ERR_INPUT, TZ_ERR_NOMEM);
        msgpack_zone_destroy(&zone);
        return 0;
    }
    TZ_FUZZ_CHECK(size > 0 && size <= TZ_STATEMENT_MAX);
    TZ_FUZZ_CHECK(tz_fuzz_msgpack_canonical(data, size));
    TZ_FUZZ_CHECK(st.root.type == MSGPACK_OBJECT_MAP && st.root.via.map.size == 4);
    TZ_FUZZ_CHECK(st.body != NULL && st.body->type == MSGPACK_OBJECT_MAP);
    TZ_FUZZ_CHECK(tz_statement_check_type(st.type, st.type_len, NULL) == TZ_OK);
    TZ_FUZZ_CHECK(tz_statement_check_id(st.id, st.id_len, NULL) == TZ_OK);
    int64_t at_unix = 0;
    TZ_FUZZ_CHECK(tz_time_parse_rfc3339(st.at, st.at_len, "at", &at_unix, NULL, NULL) == TZ_OK);
    TZ_FUZZ_CHECK(at_unix == st.at_unix);
    /* The pointers refer into the input. */
    TZ_FUZZ_CHECK((const uint8_t *)st.type >= data && (const uint8_t *)st.type + st.type_len <= data + size);
    TZ_FUZZ_CHECK((const uint8_t *)st.id >= data && (const uint8_t *)st.id + st.id_len <= data + size);
    TZ_FUZZ_CHECK((const uint8_t *)st.at >= data && (const uint8_t *)st.at + st.at_len <= data + size);

    json_t *view = tz_statement_to_json(&st, &err);
    TZ_FUZZ_CHECK_MSG(view != NULL, "an accepted statement has no JSON view: %s", err.msg);
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    rc = tz_statement_from_json(&sb, view, &err);
    TZ_FUZZ_CHECK_MSG(rc == TZ_OK, "the JSON view of an accepted statement is refused: %s", err.msg);
    TZ_FUZZ_CHECK(sb.size == size && memcmp(sb.data, data, size) == 0);
    msgpack_sbuffer_destroy(&sb);
    json_decref(view);
    msgpack_zone_destroy(&zone);
    return 0;
}
