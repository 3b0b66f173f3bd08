/*
 * entry_json.h: the JSON view of an entry, the one shape that both
 * `taizhang get/log --json` and the daemon's GET /v1/entries print
 * (docs/FORMAT.md "JSON views"):
 *   {"seq", "leaf_hash" (hex), "recorded_at" (RFC 3339), "recorded_at_us",
 *    "prev" (hex), "statement" {type, id, at, body},
 *    "signatures" [{"key" (hex 32 bytes), "sig" (base64 64 bytes)}],
 *    "entry_b64" (the leaf bytes)}
 */
#ifndef TZ_LEDGER_ENTRY_JSON_H
#define TZ_LEDGER_ENTRY_JSON_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "util/status.h"

/* The JSON view of the entry bytes raw[0..len) stored at seq. Returns a new
 * reference, or NULL with err set (TZ_ERR_INPUT when the bytes do not
 * decode, TZ_ERR_NOMEM). */
json_t *tz_entry_json(uint64_t seq, const uint8_t *raw, size_t len, tz_err *err);

/* A JSON string holding the lower-case hex / padded base64 form of
 * b[0..n); NULL when out of memory. */
json_t *tz_json_hex(const uint8_t *b, size_t n);
json_t *tz_json_base64(const uint8_t *b, size_t n);

#endif
