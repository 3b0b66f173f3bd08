/*
 * entry_json.c: the JSON view of an entry (see entry_json.h). JSON is an
 * edge format only: nothing here is ever hashed or signed.
 */
#include "ledger/entry_json.h"

#include <stdlib.h>

#include "ledger/entry.h"
#include "ledger/merkle.h"
#include "ledger/statement.h"
#include "util/encoding.h"
#include "util/time.h"

json_t *tz_json_hex(const uint8_t *b, size_t n)
{
    char *buf = malloc(2 * n + 1);
    if (buf == NULL)
        return NULL;
    tz_hex_encode(buf, b, n);
    json_t *j = json_string(buf);
    free(buf);
    return j;
}

json_t *tz_json_base64(const uint8_t *b, size_t n)
{
    size_t cap = tz_base64_encoded_len(n);
    char *buf = cap ? malloc(cap) : NULL;
    if (buf == NULL)
        return NULL;
    json_t *j = json_string(tz_base64_encode(buf, cap, b, n));
    free(buf);
    return j;
}

json_t *tz_entry_json(uint64_t seq, const uint8_t *raw, size_t len, tz_err *err)
{
    tz_entry entry;
    if (tz_entry_decode(&entry, raw, len, err) != TZ_OK)
        return NULL;
    msgpack_zone zone;
    if (!msgpack_zone_init(&zone, 4096)) {
        tz_err_set(err, TZ_ERR_NOMEM, "out of memory");
        return NULL;
    }
    tz_statement st;
    json_t *stj = NULL;
    if (tz_statement_decode(&st, &zone, entry.statement, entry.statement_len, err) == TZ_OK)
        stj = tz_statement_to_json(&st, err);
    msgpack_zone_destroy(&zone);
    if (stj == NULL)
        return NULL;
    uint8_t leaf[32];
    tz_merkle_leaf_hash(leaf, raw, len);
    char rec[TZ_TIME_RFC3339_MAX];
    tz_time_format_micros(rec, entry.recorded_at);
    json_t *sigs = json_array();
    for (size_t i = 0; sigs != NULL && i < entry.nsigs; i++)
        if (json_array_append_new(sigs, json_pack("{s:o,s:o}", "key", tz_json_hex(entry.sigs[i].key, 32),
                                                  "sig", tz_json_base64(entry.sigs[i].sig, 64))) != 0) {
            json_decref(sigs);
            sigs = NULL;
        }
    /* json_pack's "o" steals its argument, even NULL ones fail the whole pack. */
    json_t *j = json_pack("{s:I,s:o,s:s,s:I,s:o,s:o,s:o,s:o}", "seq", (json_int_t)seq, "leaf_hash",
                          tz_json_hex(leaf, 32), "recorded_at", rec, "recorded_at_us",
                          (json_int_t)entry.recorded_at, "prev", tz_json_hex(entry.prev, 32),
                          "statement", stj, "signatures", sigs, "entry_b64",
                          tz_json_base64(raw, len));
    if (j == NULL)
        tz_err_set(err, TZ_ERR_NOMEM, "out of memory");
    return j;
}
