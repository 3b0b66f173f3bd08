/*
 * fuzz_statement_json.c: a statement as the CLI (`append`, one JSON object
 * per line) and the HTTP API receive it: JSON text parsed by jansson with
 * duplicate members refused, then tz_statement_from_json.
 *
 * Properties: a refusal is TZ_ERR_INPUT with a message; an accepted
 * statement is at most TZ_STATEMENT_MAX canonical bytes that
 * tz_statement_decode accepts (the same rules hold for every way a
 * statement arrives), whose JSON view (tz_statement_to_json) equals the
 * input object and encodes to the same bytes again.
 */
#include <jansson.h>
#include <msgpack.h>
#include <string.h>

#include "fuzz/fuzz.h"
#include "ledger/codec.h"
#include "ledger/statement.h"
#include "util/time.h"

TZ_FUZZ_ENTRY(statement_json)
{
    json_error_t je;
    json_t *doc = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, &je);
    if (doc == NULL)
        return 0;
    tz_err err;
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    int rc = tz_statement_from_json(&sb, doc, &err);
    if (rc != TZ_OK) {
        TZ_FUZZ_CHECK_ERROR(rc, &err, TZ_ERR_INPUT);
        goto out;
    }
    const uint8_t *bytes = (const uint8_t *)sb.data;
    TZ_FUZZ_CHECK(sb.size > 0 && sb.size <= TZ_STATEMENT_MAX);
    TZ_FUZZ_CHECK(tz_fuzz_msgpack_canonical(bytes, sb.size));

    msgpack_zone zone;
    TZ_FUZZ_CHECK(msgpack_zone_init(&zone, 2048));
    tz_statement st;
    rc = tz_statement_decode(&st, &zone, bytes, sb.size, &err);
    TZ_FUZZ_CHECK_MSG(rc == TZ_OK, "from_json accepted what decode refuses: %s", err.msg);
    int64_t at_unix = 0;
    TZ_FUZZ_CHECK(tz_time_parse_rfc3339(st.at, st.at_len, "at", &at_unix, NULL, NULL) == TZ_OK);
    TZ_FUZZ_CHECK(at_unix == st.at_unix);

    json_t *view = tz_statement_to_json(&st, &err);
    TZ_FUZZ_CHECK_MSG(view != NULL, "%s", err.msg);
    TZ_FUZZ_CHECK(json_equal(view, doc));
    msgpack_sbuffer again;
    msgpack_sbuffer_init(&again);
    rc = tz_statement_from_json(&again, view, &err);
    TZ_FUZZ_CHECK_MSG(rc == TZ_OK, "%s", err.msg);
    TZ_FUZZ_CHECK(again.size == sb.size && memcmp(again.data, sb.data, sb.size) == 0);
    msgpack_sbuffer_destroy(&again);
    json_decref(view);
    msgpack_zone_destroy(&zone);
out:
    msgpack_sbuffer_destroy(&sb);
    json_decref(doc);
    return 0;
}
