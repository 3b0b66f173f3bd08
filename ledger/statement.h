/*
 * statement.h: what an actor asserts and signs.
 *
 * A statement is a canonical msgpack map with exactly four keys:
 *   "at"   str  when the actor says it happened: RFC 3339 with an offset in
 *              the one spelling util/time.h accepts
 *   "body" map  the type's fields (see docs/EVENTS.md); JSON values only:
 *              no binary, no floats
 *   "id"   str  client-chosen unique id, 1..128 bytes of [A-Za-z0-9._:/@-];
 *              appending the same statement again returns the first entry
 *   "type" str  the statement type, [a-z][a-z0-9._]* up to 64 bytes
 * Signers sign TZ_STATEMENT_TAG || these bytes (crypto/key.h).
 * JSON (CLI and HTTP) carries the same four fields as an object.
 */
#ifndef TZ_LEDGER_STATEMENT_H
#define TZ_LEDGER_STATEMENT_H

#include <jansson.h>
#include <msgpack.h>
#include <stddef.h>
#include <stdint.h>

#include "crypto/key.h"
#include "ledger/entry.h"
#include "util/status.h"

#define TZ_STATEMENT_ID_MAX 128
#define TZ_STATEMENT_TYPE_MAX 64

typedef struct tz_statement {
    msgpack_object root;
    const char *type;
    size_t type_len;
    const char *id;
    size_t id_len;
    const char *at;
    size_t at_len;
    int64_t at_unix;              /* `at` as seconds since the epoch (UTC) */
    const msgpack_object *body;   /* a map; lives in the caller's zone */
} tz_statement;

/* Decodes and checks a statement: canonical encoding, the four keys and
 * their rules, size limit. On TZ_OK the pointers in *st refer to data and
 * zone, which must outlive *st. TZ_ERR_INPUT naming field and rule. */
int tz_statement_decode(tz_statement *st, msgpack_zone *zone, const uint8_t *data, size_t len,
                        tz_err *err) TZ_MUST_CHECK;

/* Encodes a JSON statement object {type, id, at, body} canonically into
 * out (appended; caller owns out). Every rule of tz_statement_decode is
 * checked; unknown top-level keys are rejected. TZ_ERR_INPUT otherwise
 * (out may then hold a partial value: discard it). */
int tz_statement_from_json(msgpack_sbuffer *out, const json_t *obj, tz_err *err) TZ_MUST_CHECK;

/* The statement as a JSON object {type, id, at, body}; NULL with err set
 * on failure. Caller json_decref's. */
json_t *tz_statement_to_json(const tz_statement *st, tz_err *err);

/* Signs the statement bytes with each of keys[0..nkeys): sigs[i] gets the
 * public key and the Ed25519 signature (TZ_STATEMENT_TAG || statement) of
 * keys[i]. On error sigs is unspecified. */
int tz_statement_sign(tz_signature *sigs, const uint8_t *statement, size_t len,
                      const tz_secret_key *const *keys, size_t nkeys, tz_err *err) TZ_MUST_CHECK;

/* 1 if the statement's type is exactly `type`. */
int tz_statement_is(const tz_statement *st, const char *type);

/* Checks an id / a type string against the rules above. */
int tz_statement_check_id(const char *id, size_t len, tz_err *err) TZ_MUST_CHECK;
int tz_statement_check_type(const char *type, size_t len, tz_err *err) TZ_MUST_CHECK;

#endif
