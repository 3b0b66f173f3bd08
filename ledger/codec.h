/*
 * codec.h: canonical msgpack, the one byte form of every statement and entry.
 *
 * A ledger hashes and signs bytes, so "the same statement" must mean "the
 * same bytes". The canonical subset of msgpack used here admits exactly one
 * encoding per value: shortest integer and length forms, map keys that are
 * strings sorted bytewise, valid UTF-8, no floats, no ext types, and nothing
 * after the value. docs/CODEC.md states the rules for independent
 * implementations; this module is the only implementation inside taizhang.
 *
 * Reading: tz_codec_check() validates untrusted bytes in one pass without
 * allocating; tz_codec_decode() checks and then hands the bytes to msgpack-c.
 * Writing: tz_codec_from_json() turns an edge-format JSON value into the
 * canonical form; the tz_codec_pack_* helpers keep hand-written encoders
 * canonical. JSON is only an edge format: tz_codec_to_json() renders decoded
 * values for the CLI and the HTTP API.
 */
#ifndef TZ_LEDGER_CODEC_H
#define TZ_LEDGER_CODEC_H

#include <jansson.h>
#include <msgpack.h>
#include <stddef.h>
#include <stdint.h>

#include "util/status.h"

/* The deepest nesting of arrays and maps accepted: a top-level container is
 * at level 1, a container inside it at level 2, and so on. Empty containers
 * count. (msgpack-c's own unpacker cannot go beyond 32 non-empty levels.) */
#define TZ_CODEC_MAX_DEPTH 32

/* Checks that [data, len) is exactly ONE value in canonical msgpack, in one
 * pass, in constant memory, without allocating (see docs/CODEC.md):
 *  - allowed: nil, false, true, integers, str, bin, array, map; never float32,
 *    float64, ext/fixext, nor the unused byte 0xc1;
 *  - integers in their shortest form: a non-negative value uses positive
 *    fixint / uint8 / uint16 / uint32 / uint64 (never an int* type), a
 *    negative value the shortest of negative fixint / int8 / int16 / int32 /
 *    int64;
 *  - str, bin, array and map length headers in their shortest form;
 *  - str bytes are valid UTF-8 (no overlongs, surrogates, or > U+10FFFF);
 *  - map keys are str only, strictly increasing bytewise (memcmp on the
 *    common prefix, then the shorter first), so no duplicates;
 *  - nesting at most TZ_CODEC_MAX_DEPTH levels; every declared count and
 *    length is checked against the bytes that remain (an array of n items
 *    needs n bytes, a map of n pairs 2n bytes) before anything else is read;
 *  - no truncation and no trailing bytes.
 * Returns TZ_OK, or TZ_ERR_INPUT with a message that names the byte offset,
 * the path when there is one, and the rule, e.g.
 *   "at offset 17 in body.days[3]: integer 5 not in shortest form (uint16 used)".
 * TZ_ERR_USAGE when data is NULL and len is not 0. Reads nothing outside
 * [data, len). */
TZ_MUST_CHECK
int tz_codec_check(const uint8_t *data, size_t len, tz_err *err);

/* tz_codec_check(), then msgpack_unpack() into zone (the caller owns the
 * zone, e.g. msgpack_zone_init(&z, 2048), and destroys it).
 * On TZ_OK, *out holds the value. *out lives in the zone AND refers to data:
 * msgpack-c does not copy str and bin bytes, so both the zone and [data, len)
 * must outlive every use of *out.
 * msgpack-c's unpacker allocates count * sizeof(msgpack_object) for an array
 * before reading its items, so it never sees bytes that were not checked.
 * Errors: those of tz_codec_check(); TZ_ERR_USAGE when out or zone is NULL;
 * TZ_ERR_NOMEM when the zone cannot grow; TZ_ERR_INTERNAL if msgpack-c
 * rejects checked bytes. On error *out is unchanged; the zone may hold
 * garbage that is freed with it. */
TZ_MUST_CHECK
int tz_codec_decode(msgpack_object *out, msgpack_zone *zone, const uint8_t *data, size_t len,
                    tz_err *err);

/* Appends the canonical msgpack form of a JSON value to pk (a packer over a
 * buffer the caller owns, e.g. a msgpack_sbuffer):
 *   object -> map with keys sorted bytewise, array -> array,
 *   integer -> shortest integer form, string -> str, true/false/null.
 * JSON reals are rejected ("body.fee: float values are not allowed (money is
 * integer fen)"); so are strings or keys that are not valid UTF-8 (possible
 * only for values built with jansson's *_nocheck calls) and nesting deeper
 * than TZ_CODEC_MAX_DEPTH. path_prefix names the value in messages (e.g.
 * "body"); NULL or "" means the value is unnamed.
 * Errors: TZ_ERR_INPUT as above, TZ_ERR_USAGE for NULL pk or value,
 * TZ_ERR_NOMEM when the packer's buffer or the key sort cannot allocate.
 * On error the packer may hold a partial value: the caller discards its
 * buffer. The output always passes tz_codec_check(). */
TZ_MUST_CHECK
int tz_codec_from_json(msgpack_packer *pk, const json_t *value, const char *path_prefix,
                       tz_err *err);

/* Returns a new JSON value for a msgpack object; the caller json_decref's it.
 * str -> string (embedded NULs kept), integers -> integer, nil -> null,
 * boolean -> true/false, array -> array, map -> object (keys must be str).
 * Errors (NULL is returned and err is set): TZ_ERR_INPUT for bin ("binary
 * values are not representable in JSON": callers with bin fields render them
 * themselves), a positive integer above INT64_MAX, floats, ext, non-str or
 * duplicate map keys, str that is not valid UTF-8, nesting deeper than
 * TZ_CODEC_MAX_DEPTH; TZ_ERR_USAGE for NULL obj; TZ_ERR_NOMEM. Messages name
 * the path ("days[3]: binary values are not representable in JSON"). */
TZ_MUST_CHECK
json_t *tz_codec_to_json(const msgpack_object *obj, tz_err *err);

/* Returns the value stored under the str key `key` (a NUL-terminated string)
 * in map, or NULL when map is NULL, not a map, or has no such key. Works on
 * any map (linear scan); keys that are not str are skipped. The pointer is
 * into map's storage. */
const msgpack_object *tz_codec_map_get(const msgpack_object *map, const char *key);

/* Returns 1 if obj is a str whose bytes equal the NUL-terminated s, else 0
 * (also for NULL arguments). */
int tz_codec_str_eq(const msgpack_object *obj, const char *s);

/* Appends a str of len bytes in its shortest header form. Returns 0, or -1
 * when s is not valid UTF-8, s is NULL with len > 0, len exceeds UINT32_MAX,
 * pk is NULL, or the packer's write fails. Nothing is appended when the input
 * is refused; a failed write may leave a partial value. */
TZ_MUST_CHECK
int tz_codec_pack_str(msgpack_packer *pk, const char *s, size_t len);

/* Appends a bin of len bytes in its shortest header form. Returns 0, or -1
 * when b is NULL with len > 0, len exceeds UINT32_MAX, pk is NULL, or the
 * write fails (a failed write may leave a partial value). */
TZ_MUST_CHECK
int tz_codec_pack_bin(msgpack_packer *pk, const uint8_t *b, size_t len);

#endif
