/*
 * fuzz_submission_signed.c: tzd_api_parse_submission on bodies whose
 * signatures are real, so that the paths after signature checking run.
 *
 * The input is a statement: JSON text when its first byte is '{', else
 * msgpack bytes. The harness signs it with 1..3 fixed keys (the canonical
 * bytes for JSON; the bytes as they are for msgpack), writes the body the
 * way a client does (JSON: each key in turn as a verifier key string, 64
 * hex digits or base64; msgpack: the canonical map), and posts it.
 *
 * Properties: the body is accepted exactly when the library alone accepts
 * the statement (tz_statement_from_json / tz_statement_decode); then the
 * submission holds the same statement bytes and the same signatures;
 * require_type set to the statement's own type is accepted and another
 * type refused (TZ_ERR_INPUT); a flipped signature bit is TZ_ERR_SIGNATURE.
 */
#include <jansson.h>
#include <msgpack.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/api.h"
#include "fuzz/fuzz.h"
#include "ledger/codec.h"
#include "ledger/statement.h"
#include "util/encoding.h"

static json_t *json_key(const tz_secret_key *key, unsigned form)
{
    char buf[TZ_KEY_STRING_MAX];
    switch (form % 3) {
    case 0:
        if (tz_key_format_public(buf, sizeof buf, &key->pub, NULL) != TZ_OK)
            tz_fuzz_fail(__FILE__, __LINE__, "fixed key formats", NULL);
        break;
    case 1:
        tz_hex_encode(buf, key->pub.pk, 32);
        break;
    default:
        tz_base64_encode(buf, sizeof buf, key->pub.pk, 32);
        break;
    }
    return json_string(buf);
}

/* The body for statement (JSON doc or msgpack bytes) with sigs. */
static char *json_body(const json_t *statement, const tz_signature *sigs, size_t nsigs, size_t *len)
{
    json_t *arr = json_array();
    for (size_t i = 0; i < nsigs; i++) {
        char sig[89];
        tz_base64_encode(sig, sizeof sig, sigs[i].sig, 64);
        json_array_append_new(arr, json_pack("{s:o,s:s}", "key", json_key(tz_fuzz_key((unsigned)i), (unsigned)i),
                                             "sig", sig));
    }
    json_t *body = json_pack("{s:O,s:o}", "statement", statement, "signatures", arr);
    TZ_FUZZ_CHECK(body != NULL);
    char *text = json_dumps(body, JSON_COMPACT);
    TZ_FUZZ_CHECK(text != NULL);
    json_decref(body);
    *len = strlen(text);
    return text;
}

/* Posts body and checks the outcome against expected_ok. */
static void post(const uint8_t *body, size_t body_len, int is_msgpack, int expected_ok, const uint8_t *stmt,
                 size_t stmt_len, const tz_signature *sigs, size_t nsigs)
{
    tzd_submission s;
    tzd_submission_init(&s);
    tz_err err;
    int rc = tzd_api_parse_submission(&s, body, body_len, is_msgpack, NULL, &err);
    if (!expected_ok) {
        TZ_FUZZ_CHECK_MSG(rc != TZ_OK, "the daemon accepts a statement the library refuses");
        TZ_FUZZ_CHECK_ERROR(rc, &err, TZ_ERR_INPUT, TZ_ERR_NOMEM);
        tzd_submission_destroy(&s);
        return;
    }
    TZ_FUZZ_CHECK_MSG(rc == TZ_OK, "the daemon refuses a statement the library accepts: %s", err.msg);
    TZ_FUZZ_CHECK(s.statement.size == stmt_len && memcmp(s.statement.data, stmt, stmt_len) == 0);
    TZ_FUZZ_CHECK(s.nsigs == nsigs && memcmp(s.sigs, sigs, nsigs * sizeof sigs[0]) == 0);
    tzd_submission_destroy(&s);

    /* require_type: its own type passes, another is refused. */
    msgpack_zone zone;
    TZ_FUZZ_CHECK(msgpack_zone_init(&zone, 2048));
    tz_statement st;
    TZ_FUZZ_CHECK(tz_statement_decode(&st, &zone, stmt, stmt_len, NULL) == TZ_OK);
    char type[TZ_STATEMENT_TYPE_MAX + 1];
    memcpy(type, st.type, st.type_len);
    type[st.type_len] = '\0';
    msgpack_zone_destroy(&zone);
    tzd_submission_init(&s);
    rc = tzd_api_parse_submission(&s, body, body_len, is_msgpack, type, &err);
    TZ_FUZZ_CHECK_MSG(rc == TZ_OK, "%s", err.msg);
    tzd_submission_destroy(&s);
    tzd_submission_init(&s);
    rc = tzd_api_parse_submission(&s, body, body_len, is_msgpack, "zz.not.this.type", &err);
    TZ_FUZZ_CHECK(rc == TZ_ERR_INPUT);
    tzd_submission_destroy(&s);
}

static void sign(tz_signature *sigs, size_t nsigs, const uint8_t *stmt, size_t len)
{
    const tz_secret_key *keys[3] = {tz_fuzz_key(0), tz_fuzz_key(1), tz_fuzz_key(2)};
    TZ_FUZZ_CHECK(tz_statement_sign(sigs, stmt, len, keys, nsigs, NULL) == TZ_OK);
}

TZ_FUZZ_ENTRY(submission_signed)
{
    size_t nsigs = 1 + size % 3;
    tz_signature sigs[3];
    if (size > 0 && data[0] == '{') {
        json_t *doc = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, NULL);
        if (doc == NULL)
            return 0;
        msgpack_sbuffer sb;
        msgpack_sbuffer_init(&sb);
        int ok = tz_statement_from_json(&sb, doc, NULL) == TZ_OK;
        /* A refused statement is still signed (over its input bytes) and posted. */
        const uint8_t *stmt = ok ? (const uint8_t *)sb.data : data;
        size_t stmt_len = ok ? sb.size : size;
        sign(sigs, nsigs, stmt, stmt_len);
        size_t body_len = 0;
        char *body = json_body(doc, sigs, nsigs, &body_len);
        post((const uint8_t *)body, body_len, 0, ok, stmt, stmt_len, sigs, nsigs);
        if (ok) {
            /* The same signatures, one bit off. */
            sigs[nsigs - 1].sig[size % 64] ^= 0x80;
            free(body);
            body = json_body(doc, sigs, nsigs, &body_len);
            tzd_submission s;
            tzd_submission_init(&s);
            TZ_FUZZ_CHECK(tzd_api_parse_submission(&s, (const uint8_t *)body, body_len, 0, NULL, NULL) ==
                          TZ_ERR_SIGNATURE);
            tzd_submission_destroy(&s);
        }
        free(body);
        msgpack_sbuffer_destroy(&sb);
        json_decref(doc);
        return 0;
    }
    if (size == 0)
        return 0;
    msgpack_zone zone;
    TZ_FUZZ_CHECK(msgpack_zone_init(&zone, 2048));
    tz_statement st;
    int ok = tz_statement_decode(&st, &zone, data, size, NULL) == TZ_OK;
    msgpack_zone_destroy(&zone);
    sign(sigs, nsigs, data, size);
    msgpack_sbuffer body;
    msgpack_sbuffer_init(&body);
    tz_fuzz_msgpack_submission(&body, data, size, sigs, nsigs);
    post((const uint8_t *)body.data, body.size, 1, ok, data, size, sigs, nsigs);
    msgpack_sbuffer_destroy(&body);
    return 0;
}
