/*
 * check_codec.c: canonical msgpack (ledger/codec.c).
 *
 * Tables of valid and invalid inputs in the style of minmea and open62541,
 * every truncation of a multi-level document, hostile counts, golden vectors
 * from tests/vectors/codec_golden.txt, JSON round trips, a property test on
 * random documents against JSON as the naive model, and a mutation test for
 * the property the ledger depends on: one value has exactly one byte form.
 */
#include "ledger/codec.h"

#include <check.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/tz_test.h"

#ifndef TZ_SOURCE_DIR
#define TZ_SOURCE_DIR NULL /* built by hand: derived from __FILE__ below */
#endif

/* ---- helpers ---- */

typedef struct bytes {
    uint8_t *p;
    size_t n;
} bytes;

static bytes unhex(const char *hex)
{
    bytes b;
    size_t cap = strlen(hex) / 2 + 1;
    b.p = malloc(cap);
    ck_assert_ptr_nonnull(b.p);
    b.n = tz_test_unhex(b.p, cap, hex);
    return b;
}

static char *tohex(const uint8_t *p, size_t n)
{
    char *s = malloc(2 * n + 1);
    ck_assert_ptr_nonnull(s);
    for (size_t i = 0; i < n; i++)
        snprintf(s + 2 * i, 3, "%02x", p[i]);
    s[2 * n] = '\0';
    return s;
}

/* Encodes a JSON value; fails the test unless tz_codec_from_json accepts it. */
static bytes encode(const json_t *v)
{
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    tz_err err;
    tz_err_clear(&err);
    int rc = tz_codec_from_json(&pk, v, "doc", &err);
    ck_assert_msg(rc == TZ_OK, "from_json: %s", err.msg);
    bytes b = { (uint8_t *)sb.data, sb.size };
    if (b.p == NULL) { /* never for a complete value, but keep free() simple */
        b.p = malloc(1);
        ck_assert_ptr_nonnull(b.p);
    }
    return b;
}

static json_t *parse(const char *text)
{
    json_error_t jerr;
    json_t *v = json_loads(text, JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);
    ck_assert_msg(v != NULL, "bad test JSON %s: %s", text, jerr.text);
    return v;
}

/* Decodes checked bytes and renders them as JSON; fails on any error. */
static json_t *decode_to_json(const bytes *b)
{
    msgpack_zone zone;
    ck_assert(msgpack_zone_init(&zone, 2048));
    msgpack_object obj;
    tz_err err;
    tz_err_clear(&err);
    int rc = tz_codec_decode(&obj, &zone, b->p, b->n, &err);
    ck_assert_msg(rc == TZ_OK, "decode: %s", err.msg);
    json_t *j = tz_codec_to_json(&obj, &err);
    ck_assert_msg(j != NULL, "to_json: %s", err.msg);
    msgpack_zone_destroy(&zone);
    return j;
}

static void assert_canonical(const uint8_t *p, size_t n)
{
    tz_err err;
    tz_err_clear(&err);
    int rc = tz_codec_check(p, n, &err);
    if (rc != TZ_OK) {
        char *h = tohex(p, n < 64 ? n : 64);
        ck_abort_msg("expected canonical (%s%s): %s", h, n > 64 ? "..." : "", err.msg);
    }
}

/* Fails unless check rejects [p, n) with TZ_ERR_INPUT and a message naming
 * the offset and containing `want`; decode must reject it the same way and
 * leave both its output and the zone untouched. */
static void assert_rejected(const uint8_t *p, size_t n, const char *want, const char *label)
{
    tz_err err;
    tz_err_clear(&err);
    int rc = tz_codec_check(p, n, &err);
    ck_assert_msg(rc == TZ_ERR_INPUT, "%s: accepted (rc %d)", label, rc);
    ck_assert_int_eq(err.code, TZ_ERR_INPUT);
    ck_assert_msg(strstr(err.msg, "at offset ") == err.msg, "%s: no offset in \"%s\"", label,
                  err.msg);
    ck_assert_msg(strstr(err.msg, want) != NULL, "%s: \"%s\" does not contain \"%s\"", label,
                  err.msg, want);

    msgpack_zone zone;
    ck_assert(msgpack_zone_init(&zone, 2048));
    msgpack_zone_chunk_list before = zone.chunk_list;
    msgpack_object out;
    memset(&out, 0xa5, sizeof out);
    msgpack_object untouched = out;
    tz_err err2;
    tz_err_clear(&err2);
    ck_assert_int_eq(tz_codec_decode(&out, &zone, p, n, &err2), TZ_ERR_INPUT);
    ck_assert_str_eq(err2.msg, err.msg);
    ck_assert(memcmp(&out, &untouched, sizeof out) == 0);
    /* msgpack-c never ran: the zone did not hand out a single byte */
    ck_assert_uint_eq(zone.chunk_list.free, before.free);
    ck_assert_ptr_eq(zone.chunk_list.ptr, before.ptr);
    ck_assert_ptr_eq(zone.chunk_list.head, before.head);
    msgpack_zone_destroy(&zone);
}

/* ---- the valid table ---- */

static const struct {
    const char *hex;
    const char *what;
} valid[] = {
    { "c0", "nil" },
    { "c2", "false" },
    { "c3", "true" },
    /* non-negative integers at every boundary */
    { "00", "0" },
    { "7f", "127" },
    { "cc80", "128" },
    { "ccff", "255" },
    { "cd0100", "256" },
    { "cdffff", "65535" },
    { "ce00010000", "65536" },
    { "ceffffffff", "2^32-1" },
    { "cf0000000100000000", "2^32" },
    { "cf7fffffffffffffff", "INT64_MAX" },
    { "cfffffffffffffffff", "2^64-1" },
    /* negative integers at every boundary */
    { "ff", "-1" },
    { "e0", "-32" },
    { "d0df", "-33" },
    { "d080", "-128" },
    { "d1ff7f", "-129" },
    { "d18000", "-32768" },
    { "d2ffff7fff", "-32769" },
    { "d280000000", "-2^31" },
    { "d3ffffffff7fffffff", "-2^31-1" },
    { "d38000000000000000", "INT64_MIN" },
    /* empty containers and strings */
    { "80", "empty map" },
    { "90", "empty array" },
    { "a0", "empty str" },
    { "c400", "empty bin" },
    { "c403010203", "bin of 3" },
    { "a100", "str holding NUL" },
    /* UTF-8 edges: U+007F, U+0080, U+07FF, U+0800, U+D7FF, U+E000, U+FFFF,
     * U+10000, U+10FFFF */
    { "a17f", "U+007F" },
    { "a2c280", "U+0080" },
    { "a2dfbf", "U+07FF" },
    { "a3e0a080", "U+0800" },
    { "a3ed9fbf", "U+D7FF" },
    { "a3ee8080", "U+E000" },
    { "a3efbfbf", "U+FFFF" },
    { "a4f0908080", "U+10000" },
    { "a4f48fbfbf", "U+10FFFF" },
    { "a6e5bca0e4b889", "张三" },
    /* maps: sorted keys, prefixes first, nested */
    { "81a16101", "{a:1}" },
    { "83a16101a2616202a16203", "{a, ab, b}" },
    { "82a000a10001", "{\"\", \"\\0\"}: the empty key sorts first" },
    { "82a17a01a2c3a902", "{z, é}: bytewise, 0x7a < 0xc3" },
    { "81a16181a16281a16393010280", "{a:{b:{c:[1,2,{}]}}}" },
    { "9381a16190c0c403000000", "[{a:[]}, nil, bin]" },
    { "81a3736967c404deadbeef", "{sig: bin}" },
    { "92a0a0", "equal strings in an array are fine" },
    { "dc0010000102030405060708090a0b0c0d0e0f", "array16 of 16" },
    { "de0010a13000a13100a13200a13300a13400a13500a13600a13700a13800a13900a16100a16200a16300a16400a16500a16600",
      "map16 of 16" },
};

START_TEST(test_valid_table)
{
    bytes b = unhex(valid[_i].hex);
    tz_err err;
    tz_err_clear(&err);
    ck_assert_msg(tz_codec_check(b.p, b.n, &err) == TZ_OK, "%s (%s): %s", valid[_i].what,
                  valid[_i].hex, err.msg);
    msgpack_zone zone;
    ck_assert(msgpack_zone_init(&zone, 2048));
    msgpack_object obj;
    ck_assert_msg(tz_codec_decode(&obj, &zone, b.p, b.n, &err) == TZ_OK, "%s", err.msg);
    /* msgpack-c re-packs it to the same bytes: the checker and msgpack-c
     * agree on what the value is */
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    ck_assert_int_eq(msgpack_pack_object(&pk, obj), 0);
    ck_assert_uint_eq(sb.size, b.n);
    ck_assert(memcmp(sb.data, b.p, b.n) == 0);
    msgpack_sbuffer_destroy(&sb);
    msgpack_zone_destroy(&zone);
    free(b.p);
}
END_TEST

/* ---- the invalid table ---- */

static const struct {
    const char *hex;
    const char *want;
} invalid[] = {
    /* non-negative integers in a wider uint form */
    { "cc00", "integer 0 not in shortest form (uint8 used)" },
    { "cc05", "integer 5 not in shortest form (uint8 used)" },
    { "cc7f", "integer 127 not in shortest form (uint8 used)" },
    { "cd0005", "integer 5 not in shortest form (uint16 used)" },
    { "cd00ff", "integer 255 not in shortest form (uint16 used)" },
    { "ce00000005", "integer 5 not in shortest form (uint32 used)" },
    { "ce0000ffff", "integer 65535 not in shortest form (uint32 used)" },
    { "cf0000000000000005", "integer 5 not in shortest form (uint64 used)" },
    { "cf00000000ffffffff", "integer 4294967295 not in shortest form (uint64 used)" },
    /* non-negative integers in any int form */
    { "d000", "integer 0 not in shortest form (int8 used)" },
    { "d005", "integer 5 not in shortest form (int8 used)" },
    { "d07f", "integer 127 not in shortest form (int8 used)" },
    { "d10005", "integer 5 not in shortest form (int16 used)" },
    { "d100ff", "integer 255 not in shortest form (int16 used)" },
    { "d27fffffff", "integer 2147483647 not in shortest form (int32 used)" },
    { "d30000000000000005", "integer 5 not in shortest form (int64 used)" },
    { "d37fffffffffffffff", "integer 9223372036854775807 not in shortest form (int64 used)" },
    /* negative integers in a wider int form */
    { "d0e0", "integer -32 not in shortest form (int8 used)" },
    { "d0ff", "integer -1 not in shortest form (int8 used)" },
    { "d1ffe0", "integer -32 not in shortest form (int16 used)" },
    { "d1ff80", "integer -128 not in shortest form (int16 used)" },
    { "d2ffffffff", "integer -1 not in shortest form (int32 used)" },
    { "d2ffff8000", "integer -32768 not in shortest form (int32 used)" },
    { "d3ffffffffffffffff", "integer -1 not in shortest form (int64 used)" },
    { "d3ffffffff80000000", "integer -2147483648 not in shortest form (int64 used)" },
    /* length headers not in their shortest form (complete bodies) */
    { "d90161", "str length 1 not in shortest form (str8 used)" },
    { "da000161", "str length 1 not in shortest form (str16 used)" },
    { "db0000000161", "str length 1 not in shortest form (str32 used)" },
    { "c5000161", "bin length 1 not in shortest form (bin16 used)" },
    { "c60000000161", "bin length 1 not in shortest form (bin32 used)" },
    { "dc000101", "array length 1 not in shortest form (array16 used)" },
    { "dd0000000101", "array length 1 not in shortest form (array32 used)" },
    { "de0001a16101", "map length 1 not in shortest form (map16 used)" },
    { "df00000001a16101", "map length 1 not in shortest form (map32 used)" },
    { "dc0000", "array length 0 not in shortest form (array16 used)" },
    { "de0000", "map length 0 not in shortest form (map16 used)" },
    /* ... at the boundary, rejected on the header before the body is read */
    { "d91f", "str length 31 not in shortest form (str8 used)" },
    { "da00ff", "str length 255 not in shortest form (str16 used)" },
    { "db0000ffff", "str length 65535 not in shortest form (str32 used)" },
    { "c500ff", "bin length 255 not in shortest form (bin16 used)" },
    { "c60000ffff", "bin length 65535 not in shortest form (bin32 used)" },
    { "dc000f", "array length 15 not in shortest form (array16 used)" },
    { "dd0000ffff", "array length 65535 not in shortest form (array32 used)" },
    { "de000f", "map length 15 not in shortest form (map16 used)" },
    { "df0000ffff", "map length 65535 not in shortest form (map32 used)" },
    /* types that are not allowed */
    { "ca00000000", "float values are not allowed (money is integer fen)" },
    { "cb0000000000000000", "float values are not allowed (money is integer fen)" },
    { "81a3666565cb40c3880000000000", "at offset 5 in fee: float values are not allowed" },
    { "c7010100", "ext values are not allowed (ext8)" },
    { "c800010100", "ext values are not allowed (ext16)" },
    { "c9000000010100", "ext values are not allowed (ext32)" },
    { "d40100", "ext values are not allowed (fixext1)" },
    { "d5010000", "ext values are not allowed (fixext2)" },
    { "d60100000000", "ext values are not allowed (fixext4)" },
    { "d7010000000000000000", "ext values are not allowed (fixext8)" },
    { "d801" "00000000000000000000000000000000", "ext values are not allowed (fixext16)" },
    { "d6ffffffffff", "ext values are not allowed (fixext4)" }, /* the timestamp ext */
    { "c1", "byte 0xc1 is never used in msgpack" },
    { "91c1", "at offset 1 in [0]: byte 0xc1 is never used in msgpack" },
    /* map keys */
    { "82a16201a16102", "map keys not sorted: \"a\" after \"b\"" },
    { "82a2616201a16102", "map keys not sorted: \"a\" after \"ab\"" },
    { "82a2c3a901a17a02", "map keys not sorted: \"z\" after \"\xc3\xa9\"" },
    { "82a17802a17802", "duplicate map key \"x\"" },
    { "82a000a000", "duplicate map key \"\"" },
    { "810101", "map keys must be strings (found positive fixint)" },
    { "81c001", "map keys must be strings (found nil)" },
    { "81c4016101", "map keys must be strings (found bin8)" },
    { "819001", "map keys must be strings (found fixarray)" },
    { "81a1ff01", "map key is not valid UTF-8 (byte never used in UTF-8)" },
    /* UTF-8 */
    { "a2c0af", "str is not valid UTF-8 (overlong encoding)" },
    { "a2c1bf", "str is not valid UTF-8 (overlong encoding)" },
    { "a3e08080", "str is not valid UTF-8 (overlong encoding)" },
    { "a4f0808080", "str is not valid UTF-8 (overlong encoding)" },
    { "a3eda080", "str is not valid UTF-8 (surrogate code point" },
    { "a3edbfbf", "str is not valid UTF-8 (surrogate code point" },
    { "a4f4908080", "str is not valid UTF-8 (code point above U+10FFFF)" },
    { "a4f5808080", "str is not valid UTF-8 (code point above U+10FFFF)" },
    { "a2e4b8", "at offset 1: str is not valid UTF-8 (truncated sequence)" },
    { "a36162e4", "at offset 3: str is not valid UTF-8 (truncated sequence)" },
    { "a180", "str is not valid UTF-8 (unexpected continuation byte)" },
    { "a2c328", "str is not valid UTF-8 (missing continuation byte)" },
    { "a3e4b828", "str is not valid UTF-8 (missing continuation byte)" },
    { "a1fe", "str is not valid UTF-8 (byte never used in UTF-8)" },
    { "a1ff", "str is not valid UTF-8 (byte never used in UTF-8)" },
    /* truncation and trailing bytes */
    { "", "truncated: a value expected" },
    { "cd01", "truncated: uint16 needs 2 bytes after its header, 1 remain" },
    { "cf", "truncated: uint64 needs 8 bytes" },
    { "d9", "truncated: str8 needs 1 bytes" },
    { "a2", "truncated: str of 2 bytes but 0 bytes remain" },
    { "c403ab", "truncated: bin of 3 bytes but 1 bytes remain" },
    { "92c0", "truncated or hostile: array declares 2 items but only 1 bytes remain" },
    { "81a161", "truncated: a value expected, input ends" },
    { "82a16101a162", "truncated: a value expected, input ends" },
    { "0000", "at offset 1: trailing bytes: 1 after the value" },
    { "80c0c0", "at offset 1: trailing bytes: 2 after the value" },
    /* hostile counts: refused at the header, before anyone allocates */
    { "ddffffffff", "truncated or hostile: array declares 4294967295 items but only 0 bytes remain" },
    { "dfffffffff", "truncated or hostile: map declares 4294967295 pairs but only 0 bytes remain" },
    { "dbffffffff", "truncated: str of 4294967295 bytes but 0 bytes remain" },
    { "c6ffffffff", "truncated: bin of 4294967295 bytes but 0 bytes remain" },
    { "dcffff", "truncated or hostile: array declares 65535 items but only 0 bytes remain" },
    { "dd00010000c0c0c0", "truncated or hostile: array declares 65536 items but only 3 bytes remain" },
    { "de0010a16100", "truncated or hostile: map declares 16 pairs but only 3 bytes remain" },
    { "8fa16100a16200a16300a16400a16500a16600a16700", "map declares 15 pairs but only 21 bytes" },
    { "9191ddffffffff", "at offset 2 in [0][0]: truncated or hostile: array declares 4294967295" },
    /* paths in messages */
    { "81a4626f647981a46461797394010203cd0005",
      "at offset 16 in body.days[3]: integer 5 not in shortest form (uint16 used)" },
    { "81a4626f647981a56c6561766582a16201a16102",
      "at offset 17 in body.leave: map keys not sorted: \"a\" after \"b\"" },
    { "81a3612e6281a16291cc01", "at offset 9 in [\"a.b\"].b[0]: integer 1 not in shortest form" },
    { "81a3e4b8ad91ca00000000", "at offset 6 in \xe4\xb8\xad[0]: float values are not allowed" },
};

START_TEST(test_invalid_table)
{
    bytes b = unhex(invalid[_i].hex);
    assert_rejected(b.p, b.n, invalid[_i].want, invalid[_i].hex);
    free(b.p);
}
END_TEST

START_TEST(test_null_data)
{
    tz_err err;
    ck_assert_int_eq(tz_codec_check(NULL, 1, &err), TZ_ERR_USAGE);
    ck_assert_int_eq(tz_codec_check(NULL, 0, &err), TZ_ERR_INPUT);
    ck_assert_int_eq(tz_codec_check(NULL, 0, NULL), TZ_ERR_INPUT); /* err may be NULL */
    uint8_t one = 0x01;
    msgpack_object out;
    msgpack_zone zone;
    ck_assert(msgpack_zone_init(&zone, 256));
    ck_assert_int_eq(tz_codec_decode(NULL, &zone, &one, 1, &err), TZ_ERR_USAGE);
    ck_assert_int_eq(tz_codec_decode(&out, NULL, &one, 1, &err), TZ_ERR_USAGE);
    ck_assert_int_eq(tz_codec_decode(&out, &zone, &one, 1, NULL), TZ_OK);
    ck_assert_int_eq(out.type, MSGPACK_OBJECT_POSITIVE_INTEGER);
    ck_assert_uint_eq(out.via.u64, 1);
    msgpack_zone_destroy(&zone);
}
END_TEST

/* ---- generated boundaries: lengths, counts, depth ---- */

/* Builds a header + body: str/bin of n bytes ('x'), array of n nils, or a
 * map of n pairs with sorted keys "%05u" -> 0. */
static bytes build_sized(char kind, size_t n)
{
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    if (kind == 's' || kind == 'b') {
        char *body = malloc(n + 1);
        ck_assert_ptr_nonnull(body);
        memset(body, 'x', n);
        if (kind == 's')
            ck_assert_int_eq(tz_codec_pack_str(&pk, body, n), 0);
        else
            ck_assert_int_eq(tz_codec_pack_bin(&pk, (const uint8_t *)body, n), 0);
        free(body);
    } else if (kind == 'a') {
        ck_assert_int_eq(msgpack_pack_array(&pk, n), 0);
        for (size_t i = 0; i < n; i++)
            ck_assert_int_eq(msgpack_pack_nil(&pk), 0);
    } else {
        ck_assert_int_eq(msgpack_pack_map(&pk, n), 0);
        for (size_t i = 0; i < n; i++) {
            char key[24];
            snprintf(key, sizeof key, "%05zu", i);
            ck_assert_int_eq(tz_codec_pack_str(&pk, key, strlen(key)), 0);
            ck_assert_int_eq(msgpack_pack_uint8(&pk, 0), 0);
        }
    }
    bytes b = { (uint8_t *)sb.data, sb.size };
    return b;
}

static const struct {
    char kind;
    size_t n;
    const char *header; /* expected header bytes, hex */
} sized[] = {
    { 's', 0, "a0" },        { 's', 31, "bf" },         { 's', 32, "d920" },
    { 's', 255, "d9ff" },    { 's', 256, "da0100" },    { 's', 65535, "daffff" },
    { 's', 65536, "db00010000" },
    { 'b', 0, "c400" },      { 'b', 255, "c4ff" },      { 'b', 256, "c50100" },
    { 'b', 65535, "c5ffff" }, { 'b', 65536, "c600010000" },
    { 'a', 0, "90" },        { 'a', 15, "9f" },         { 'a', 16, "dc0010" },
    { 'a', 65535, "dcffff" }, { 'a', 65536, "dd00010000" },
    { 'm', 0, "80" },        { 'm', 15, "8f" },         { 'm', 16, "de0010" },
    { 'm', 65535, "deffff" }, { 'm', 65536, "df00010000" },
};

/* msgpack-c's header writers (under tz_codec_pack_str/bin and
 * msgpack_pack_array/map) pick the shortest form at every boundary, and the
 * result passes the checker and decodes. */
START_TEST(test_sized_boundaries)
{
    bytes b = build_sized(sized[_i].kind, sized[_i].n);
    uint8_t want[8];
    size_t wn = tz_test_unhex(want, sizeof want, sized[_i].header);
    ck_assert_uint_ge(b.n, wn);
    char *got = tohex(b.p, wn);
    ck_assert_str_eq(got, sized[_i].header);
    free(got);
    assert_canonical(b.p, b.n);
    msgpack_zone zone;
    ck_assert(msgpack_zone_init(&zone, 2048));
    msgpack_object obj;
    tz_err err;
    ck_assert_int_eq(tz_codec_decode(&obj, &zone, b.p, b.n, &err), TZ_OK);
    if (sized[_i].kind == 's')
        ck_assert_uint_eq(obj.via.str.size, sized[_i].n);
    else if (sized[_i].kind == 'b')
        ck_assert_uint_eq(obj.via.bin.size, sized[_i].n);
    else if (sized[_i].kind == 'a')
        ck_assert_uint_eq(obj.via.array.size, sized[_i].n);
    else
        ck_assert_uint_eq(obj.via.map.size, sized[_i].n);
    msgpack_zone_destroy(&zone);
    /* one byte short is a truncation, one more is trailing */
    if (b.n > wn) {
        assert_rejected(b.p, b.n - 1, "truncated", sized[_i].header);
    }
    uint8_t *longer = malloc(b.n + 1);
    ck_assert_ptr_nonnull(longer);
    memcpy(longer, b.p, b.n);
    longer[b.n] = 0xc0;
    assert_rejected(longer, b.n + 1, "trailing bytes: 1 after the value", sized[_i].header);
    free(longer);
    free(b.p);
}
END_TEST

/* n nested one-item arrays around `inner` (hex). */
static bytes nested_arrays(int n, const char *inner_hex)
{
    uint8_t inner[16];
    size_t in = tz_test_unhex(inner, sizeof inner, inner_hex);
    bytes b = { malloc((size_t)n + in), (size_t)n + in };
    ck_assert_ptr_nonnull(b.p);
    memset(b.p, 0x91, (size_t)n);
    memcpy(b.p + n, inner, in);
    return b;
}

START_TEST(test_depth)
{
    /* 32 levels: accepted, and msgpack-c (32-entry stack) decodes it */
    bytes ok = nested_arrays(31, "9101");
    json_t *j = decode_to_json(&ok);
    json_decref(j);
    free(ok.p);
    ok = nested_arrays(31, "90"); /* an empty container is a level too */
    assert_canonical(ok.p, ok.n);
    free(ok.p);
    ok = nested_arrays(31, "80");
    assert_canonical(ok.p, ok.n);
    free(ok.p);

    /* 33 levels: rejected at the 33rd header, empty or not */
    bytes bad = nested_arrays(32, "9101");
    assert_rejected(bad.p, bad.n, "at offset 32 in [0][0][0]", "depth 33");
    assert_rejected(bad.p, bad.n, "nesting deeper than 32 levels", "depth 33");
    free(bad.p);
    bad = nested_arrays(32, "90");
    assert_rejected(bad.p, bad.n, "nesting deeper than 32 levels", "depth 33 empty");
    free(bad.p);
    bad = nested_arrays(32, "80");
    assert_rejected(bad.p, bad.n, "nesting deeper than 32 levels", "depth 33 empty map");
    free(bad.p);
    bad = nested_arrays(5000, "01");
    assert_rejected(bad.p, bad.n, "nesting deeper than 32 levels", "depth 5000");
    free(bad.p);

    /* maps count the same way: {"a":{"a":...}} */
    uint8_t maps[33 * 3 + 1];
    for (int i = 0; i < 33; i++) {
        maps[3 * i] = 0x81;
        maps[3 * i + 1] = 0xa1;
        maps[3 * i + 2] = 'a';
    }
    maps[99] = 0xc0;
    assert_canonical(maps + 3, sizeof maps - 3);
    char want[200] = "at offset 96 in a";
    for (int i = 1; i < 32; i++)
        strcat(want, ".a");
    strcat(want, ": nesting deeper than 32 levels");
    assert_rejected(maps, sizeof maps, want, "33 maps");
}
END_TEST

/* ---- every truncation of a multi-level document ---- */

START_TEST(test_every_truncation)
{
    /* a statement with maps, arrays, str8, bin, every integer width, UTF-8 */
    json_t *doc = parse("{\"type\":\"leave_request\",\"id\":\"lr-1\",\"at\":\"2024-03-01T08:00:00+08:00\","
                        "\"body\":{\"cadre\":\"张三\",\"days\":[1,200,70000,5000000000,-1,-100,-1000,-100000,"
                        "-5000000000],\"note\":\"a note that is longer than thirty-one bytes\","
                        "\"nested\":[[{\"k\":[null,true,false]}],{}]}}");
    bytes b = encode(doc);
    /* append a bin field by hand: {"...", "zsig": bin} is a different doc, so
     * wrap: [doc, bin4] */
    bytes full = { malloc(b.n + 7), b.n + 7 };
    ck_assert_ptr_nonnull(full.p);
    full.p[0] = 0x92;
    memcpy(full.p + 1, b.p, b.n);
    memcpy(full.p + 1 + b.n, "\xc4\x04\xde\xad\xbe\xef", 6);
    assert_canonical(full.p, full.n);
    ck_assert_uint_gt(full.n, 150);
    for (size_t cut = 0; cut < full.n; cut++) {
        char label[32];
        snprintf(label, sizeof label, "prefix %zu", cut);
        assert_rejected(full.p, cut, "truncated", label);
    }
    for (int extra = 0; extra < 256; extra++) {
        uint8_t *longer = malloc(full.n + 1);
        ck_assert_ptr_nonnull(longer);
        memcpy(longer, full.p, full.n);
        longer[full.n] = (uint8_t)extra;
        assert_rejected(longer, full.n + 1, "trailing bytes: 1 after the value", "extra byte");
        free(longer);
    }
    free(full.p);
    free(b.p);
    json_decref(doc);
}
END_TEST

/* ---- hostile counts (run this suite under ASan too) ---- */

START_TEST(test_hostile_counts)
{
    /* 5 bytes that would make msgpack-c's unpacker ask for 4G objects */
    static const char *const hostile[] = {
        "ddffffffff", "dfffffffff", "dd7fffffff00", "df80000000a16100",
        "81a161ddffffffff", "9191919191dfffffff00",
    };
    for (size_t i = 0; i < sizeof hostile / sizeof hostile[0]; i++) {
        bytes b = unhex(hostile[i]);
        assert_rejected(b.p, b.n, "truncated or hostile", hostile[i]);
        free(b.p);
    }
    /* a big buffer of nils with a huge count: the count must fit the bytes */
    size_t n = 1 << 20;
    uint8_t *buf = malloc(n);
    ck_assert_ptr_nonnull(buf);
    memset(buf, 0xc0, n);
    memcpy(buf, "\xdd\xff\xff\xff\xff", 5);
    assert_rejected(buf, n, "array declares 4294967295 items but only 1048571 bytes remain", "1M");
    /* the same buffer with an honest count is fine */
    uint32_t items = (uint32_t)(n - 5);
    buf[1] = (uint8_t)(items >> 24);
    buf[2] = (uint8_t)(items >> 16);
    buf[3] = (uint8_t)(items >> 8);
    buf[4] = (uint8_t)items;
    assert_canonical(buf, n);
    free(buf);
}
END_TEST

/* ---- msgpack-c's own packer: shortest integer forms ---- */

static const struct {
    int64_t v;
    const char *hex;
} signed_boundaries[] = {
    { 0, "00" },
    { 1, "01" },
    { 127, "7f" },
    { 128, "cc80" },
    { 255, "ccff" },
    { 256, "cd0100" },
    { 32767, "cd7fff" },
    { 32768, "cd8000" },
    { 65535, "cdffff" },
    { 65536, "ce00010000" },
    { 2147483647, "ce7fffffff" },
    { 2147483648, "ce80000000" },
    { 4294967295, "ceffffffff" },
    { 4294967296, "cf0000000100000000" },
    { INT64_MAX, "cf7fffffffffffffff" },
    { -1, "ff" },
    { -32, "e0" },
    { -33, "d0df" },
    { -128, "d080" },
    { -129, "d1ff7f" },
    { -32768, "d18000" },
    { -32769, "d2ffff7fff" },
    { INT32_MIN, "d280000000" },
    { (int64_t)INT32_MIN - 1, "d3ffffffff7fffffff" },
    { INT64_MIN, "d38000000000000000" },
};

static void assert_packed(int rc, msgpack_sbuffer *sb, const char *want, const char *fn)
{
    ck_assert_int_eq(rc, 0);
    char *got = tohex((const uint8_t *)sb->data, sb->size);
    ck_assert_msg(strcmp(got, want) == 0, "%s packed %s, want %s", fn, got, want);
    assert_canonical((const uint8_t *)sb->data, sb->size);
    free(got);
    msgpack_sbuffer_clear(sb);
}

START_TEST(test_msgpack_c_packs_shortest_integers)
{
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    for (size_t i = 0; i < sizeof signed_boundaries / sizeof signed_boundaries[0]; i++) {
        int64_t v = signed_boundaries[i].v;
        const char *want = signed_boundaries[i].hex;
        /* every writer a caller may reach for, where the value fits */
        assert_packed(msgpack_pack_int64(&pk, v), &sb, want, "int64");
        assert_packed(msgpack_pack_long_long(&pk, v), &sb, want, "long_long");
        if (v >= INT32_MIN && v <= INT32_MAX) {
            assert_packed(msgpack_pack_int32(&pk, (int32_t)v), &sb, want, "int32");
            assert_packed(msgpack_pack_int(&pk, (int)v), &sb, want, "int");
        }
        if (v >= INT16_MIN && v <= INT16_MAX)
            assert_packed(msgpack_pack_int16(&pk, (int16_t)v), &sb, want, "int16");
        if (v >= INT8_MIN && v <= INT8_MAX)
            assert_packed(msgpack_pack_int8(&pk, (int8_t)v), &sb, want, "int8");
        if (v >= 0) {
            assert_packed(msgpack_pack_uint64(&pk, (uint64_t)v), &sb, want, "uint64");
            if (v <= UINT32_MAX)
                assert_packed(msgpack_pack_uint32(&pk, (uint32_t)v), &sb, want, "uint32");
            if (v <= UINT16_MAX)
                assert_packed(msgpack_pack_uint16(&pk, (uint16_t)v), &sb, want, "uint16");
            if (v <= UINT8_MAX)
                assert_packed(msgpack_pack_uint8(&pk, (uint8_t)v), &sb, want, "uint8");
        }
    }
    assert_packed(msgpack_pack_uint64(&pk, UINT64_MAX), &sb, "cfffffffffffffffff", "uint64");
    assert_packed(msgpack_pack_uint64(&pk, (uint64_t)INT64_MAX + 1), &sb, "cf8000000000000000",
                  "uint64");
    /* and around every boundary: v-1, v, v+1 all pass the checker */
    for (size_t i = 0; i < sizeof signed_boundaries / sizeof signed_boundaries[0]; i++) {
        for (int d = -1; d <= 1; d++) {
            int64_t v = signed_boundaries[i].v;
            if ((d < 0 && v == INT64_MIN) || (d > 0 && v == INT64_MAX))
                continue;
            ck_assert_int_eq(msgpack_pack_int64(&pk, v + d), 0);
            assert_canonical((const uint8_t *)sb.data, sb.size);
            msgpack_sbuffer_clear(&sb);
        }
    }
    msgpack_sbuffer_destroy(&sb);
}
END_TEST

START_TEST(test_pack_helpers)
{
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    assert_packed(tz_codec_pack_str(&pk, "", 0), &sb, "a0", "pack_str");
    assert_packed(tz_codec_pack_str(&pk, NULL, 0), &sb, "a0", "pack_str");
    assert_packed(tz_codec_pack_str(&pk, "\xe4\xb8\xad", 3), &sb, "a3e4b8ad", "pack_str");
    assert_packed(tz_codec_pack_str(&pk, "a\0b", 3), &sb, "a3610062", "pack_str");
    assert_packed(tz_codec_pack_bin(&pk, NULL, 0), &sb, "c400", "pack_bin");
    assert_packed(tz_codec_pack_bin(&pk, (const uint8_t *)"\xff\x00", 2), &sb, "c402ff00",
                  "pack_bin");
    /* refused input appends nothing */
    ck_assert_int_eq(tz_codec_pack_str(&pk, "\xc0\xaf", 2), -1);
    ck_assert_int_eq(tz_codec_pack_str(&pk, "\xed\xa0\x80", 3), -1);
    ck_assert_int_eq(tz_codec_pack_str(&pk, "ab\xe4", 3), -1);
    ck_assert_int_eq(tz_codec_pack_str(&pk, NULL, 1), -1);
    ck_assert_int_eq(tz_codec_pack_str(NULL, "a", 1), -1);
    ck_assert_int_eq(tz_codec_pack_bin(&pk, NULL, 1), -1);
    ck_assert_int_eq(tz_codec_pack_bin(NULL, (const uint8_t *)"a", 1), -1);
    ck_assert_uint_eq(sb.size, 0);
    msgpack_sbuffer_destroy(&sb);
}
END_TEST

/* ---- UTF-8 against a naive model ---- */

/* The naive model: a byte string is valid UTF-8 when it splits into pieces
 * that each equal the standard encoding of a scalar value (U+0000..U+10FFFF
 * without surrogates). Decodes the bits without judging them, then
 * re-encodes and compares. */
static size_t naive_encode(uint32_t cp, uint8_t out[4])
{
    if (cp < 0x80) { out[0] = (uint8_t)cp; return 1; }
    if (cp < 0x800) { out[0] = (uint8_t)(0xc0 | cp >> 6); out[1] = (uint8_t)(0x80 | (cp & 0x3f)); return 2; }
    if (cp < 0x10000) {
        out[0] = (uint8_t)(0xe0 | cp >> 12);
        out[1] = (uint8_t)(0x80 | ((cp >> 6) & 0x3f));
        out[2] = (uint8_t)(0x80 | (cp & 0x3f));
        return 3;
    }
    out[0] = (uint8_t)(0xf0 | cp >> 18);
    out[1] = (uint8_t)(0x80 | ((cp >> 12) & 0x3f));
    out[2] = (uint8_t)(0x80 | ((cp >> 6) & 0x3f));
    out[3] = (uint8_t)(0x80 | (cp & 0x3f));
    return 4;
}

static int naive_utf8_valid(const uint8_t *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        uint8_t b = s[i];
        size_t len = b < 0x80 ? 1 : (b & 0xe0) == 0xc0 ? 2 : (b & 0xf0) == 0xe0 ? 3 : (b & 0xf8) == 0xf0 ? 4 : 0;
        if (len == 0 || i + len > n)
            return 0;
        uint32_t cp = len == 1 ? b : len == 2 ? (b & 0x1fu) : len == 3 ? (b & 0x0fu) : (b & 0x07u);
        for (size_t k = 1; k < len; k++)
            cp = cp << 6 | (s[i + k] & 0x3fu);
        if (cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            return 0;
        uint8_t re[4];
        if (naive_encode(cp, re) != len || memcmp(re, s + i, len) != 0)
            return 0;
        i += len;
    }
    return 1;
}

static void utf8_agrees(const uint8_t *s, size_t n)
{
    uint8_t doc[8];
    doc[0] = (uint8_t)(0xa0 | n);
    memcpy(doc + 1, s, n);
    int ours = tz_codec_check(doc, n + 1, NULL) == TZ_OK;
    int model = naive_utf8_valid(s, n);
    if (ours != model) {
        char *h = tohex(s, n);
        ck_abort_msg("UTF-8 %s: checker says %d, model says %d", h, ours, model);
    }
}

START_TEST(test_utf8_against_model)
{
    uint8_t s[4];
    /* every 1- and 2-byte string */
    for (unsigned a = 0; a < 256; a++) {
        s[0] = (uint8_t)a;
        utf8_agrees(s, 1);
        for (unsigned b = 0; b < 256; b++) {
            s[1] = (uint8_t)b;
            utf8_agrees(s, 2);
        }
    }
    /* every 3-byte string that starts with a multi-byte lead */
    for (unsigned a = 0xc0; a < 256; a++)
        for (unsigned b = 0; b < 256; b++)
            for (unsigned c = 0x70; c < 0xd0; c++) {
                s[0] = (uint8_t)a, s[1] = (uint8_t)b, s[2] = (uint8_t)c;
                utf8_agrees(s, 3);
            }
    /* every scalar value encodes to something valid, every surrogate not */
    for (uint32_t cp = 0; cp <= 0x10ffff; cp += (cp < 0x20000 ? 1 : 61)) {
        uint8_t e[4];
        size_t n = naive_encode(cp, e);
        utf8_agrees(e, n);
    }
    /* 4-byte strings around the F0/F4 edges */
    static const uint8_t leads[] = { 0xef, 0xf0, 0xf1, 0xf3, 0xf4, 0xf5 };
    for (size_t l = 0; l < sizeof leads; l++)
        for (unsigned b = 0x70; b < 0xd0; b++)
            for (unsigned c = 0x70; c < 0xd0; c += 7)
                for (unsigned d = 0x70; d < 0xd0; d += 5) {
                    s[0] = leads[l], s[1] = (uint8_t)b, s[2] = (uint8_t)c, s[3] = (uint8_t)d;
                    utf8_agrees(s, 4);
                }
}
END_TEST

/* ---- JSON -> msgpack -> JSON ---- */

static const char *const round_trips[] = {
    "null",
    "true",
    "false",
    "0",
    "-1",
    "9223372036854775807",
    "-9223372036854775808",
    "\"\"",
    "\"纪律\"",
    "\"a\\u0000b\"",
    "\"\\ud83d\\ude00 emoji\"",
    "[]",
    "{}",
    "[[], {}, [[]], {\"\": {}}]",
    ("{\"type\":\"leave_request\",\"id\":\"lr-1\",\"at\":\"2024-03-01T08:00:00+08:00\","
     "\"body\":{\"cadre\":\"张三\",\"days\":[\"2024-03-04\",\"2024-03-05\"],\"reason\":\"探亲\"}}"),
    "{\"b\":1,\"a\":2,\"ab\":3,\"\":4,\"B\":5,\"é\":6,\"z\":7,\"中\":8}",
    "{\"allowance_fen\":150000,\"deduction_fen\":-2500,\"days\":[1,2,3,31]}",
    "[0,127,128,255,256,65535,65536,4294967295,4294967296,-32,-33,-128,-129,-32768,-32769]",
    "{\"a\":{\"b\":{\"c\":{\"d\":[1,[2,[3,[4]]]]}}}}",
    "{\"\\u0001\":1,\"a\\u0001\":2,\"a\":3,\"\\u007f\":4}",
};

START_TEST(test_json_round_trip)
{
    json_t *in = parse(round_trips[_i]);
    bytes b = encode(in);
    assert_canonical(b.p, b.n);
    json_t *out = decode_to_json(&b);
    ck_assert_msg(json_equal(in, out), "round trip of %s", round_trips[_i]);
    /* encoding the output again gives the same bytes */
    bytes again = encode(out);
    ck_assert_uint_eq(again.n, b.n);
    ck_assert(memcmp(again.p, b.p, b.n) == 0);
    free(again.p);
    json_decref(out);
    json_decref(in);
    free(b.p);
}
END_TEST

/* json_equal() as the model would have it. jansson 2.14's json_equal looks
 * object keys up as C strings, so {"\u0000":1} never equals itself; this
 * one compares keys with their lengths (json_object_getn). */
static int json_same(const json_t *a, const json_t *b)
{
    if (json_typeof(a) != json_typeof(b))
        return 0;
    if (json_is_object(a)) {
        if (json_object_size(a) != json_object_size(b))
            return 0;
        const char *key;
        size_t key_len;
        json_t *v;
        json_object_keylen_foreach((json_t *)a, key, key_len, v) {
            json_t *w = json_object_getn(b, key, key_len);
            if (w == NULL || !json_same(v, w))
                return 0;
        }
        return 1;
    }
    if (json_is_array(a)) {
        if (json_array_size(a) != json_array_size(b))
            return 0;
        for (size_t i = 0; i < json_array_size(a); i++)
            if (!json_same(json_array_get(a, i), json_array_get(b, i)))
                return 0;
        return 1;
    }
    return json_equal(a, b);
}

START_TEST(test_nul_in_keys_round_trip)
{
    /* keys "", "\0", "a", "a\0", "a\0b" sort bytewise: shorter first */
    json_t *in = json_object();
    json_object_setn_new(in, "a\0b", 3, json_integer(5));
    json_object_setn_new(in, "a", 1, json_integer(3));
    json_object_setn_new(in, "\0", 1, json_integer(2));
    json_object_setn_new(in, "a\0", 2, json_integer(4));
    json_object_setn_new(in, "", 0, json_integer(1));
    bytes b = encode(in);
    char *h = tohex(b.p, b.n);
    ck_assert_str_eq(h, "85a001a10002a16103a2610004a361006205");
    free(h);
    json_t *out = decode_to_json(&b);
    ck_assert(json_same(in, out));
    ck_assert_uint_eq(json_object_size(out), 5);
    ck_assert_int_eq(json_integer_value(json_object_getn(out, "a\0", 2)), 4);
    json_decref(out);
    json_decref(in);
    free(b.p);
}
END_TEST

/* ---- seeded PRNG and random documents ---- */

static uint64_t rng_next(uint64_t *s)
{
    /* xorshift64* */
    uint64_t x = *s;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *s = x;
    return x * 0x2545F4914F6CDD1DULL;
}

static uint64_t rng_below(uint64_t *s, uint64_t n)
{
    return rng_next(s) % n;
}

static void shuffle_ptrs(uint64_t *s, const char **a, size_t n)
{
    for (size_t i = n; i > 1; i--) {
        size_t j = (size_t)rng_below(s, i);
        const char *t = a[i - 1];
        a[i - 1] = a[j];
        a[j] = t;
    }
}

START_TEST(test_key_order_does_not_matter)
{
    const char *keys[] = { "type", "id", "at", "body", "", "a", "ab", "abc", "b", "B", "é",
                           "中", "中文", "z", "~", "\x7f", "0", "9", "_", "A_B" };
    size_t n = sizeof keys / sizeof keys[0];
    uint64_t seed = 0x5eed0001;
    bytes first = { NULL, 0 };
    for (int round = 0; round < 50; round++) {
        shuffle_ptrs(&seed, keys, n);
        json_t *obj = json_object();
        for (size_t i = 0; i < n; i++) {
            json_t *inner = json_object();
            /* inner objects get shuffled keys too */
            const char *ik[] = { "y", "x", "yy", "xx" };
            shuffle_ptrs(&seed, ik, 4);
            for (size_t k = 0; k < 4; k++)
                json_object_set_new(inner, ik[k], json_integer((json_int_t)(ik[k][0] * 1000 + (int)strlen(ik[k]))));
            /* values depend on the key, not on the insertion order */
            json_object_set_new(obj, keys[i], json_pack("[s, o]", keys[i], inner));
        }
        bytes b = encode(obj);
        assert_canonical(b.p, b.n);
        if (first.p == NULL) {
            first = b;
        } else {
            ck_assert_uint_eq(b.n, first.n);
            ck_assert_msg(memcmp(b.p, first.p, b.n) == 0, "round %d encodes differently", round);
            free(b.p);
        }
        json_decref(obj);
    }
    free(first.p);
}
END_TEST

static const int64_t interesting_ints[] = {
    0, 1, 31, 32, 127, 128, 255, 256, 32767, 32768, 65535, 65536, 2147483647, 2147483648,
    4294967295, 4294967296, INT64_MAX, -1, -31, -32, -33, -127, -128, -129, -32767, -32768,
    -32769, INT32_MIN, (int64_t)INT32_MIN - 1, INT64_MIN,
};

static const char *const string_pieces[] = {
    "a", "b", "z", "A", " ", "0", "~", "\x7f", "\xc3\xa9" /* é */, "\xe4\xb8\xad" /* 中 */,
    "\xf0\x9f\x98\x80" /* 😀 */, "\xef\xbf\xbf", "\xed\x9f\xbf", "\xf4\x8f\xbf\xbf", "\"", "\\", "\n",
};

static json_t *random_string(uint64_t *s)
{
    char buf[400];
    size_t len = 0;
    size_t pieces = (size_t)rng_below(s, 8) == 0 ? (size_t)rng_below(s, 70) : (size_t)rng_below(s, 8);
    for (size_t i = 0; i < pieces; i++) {
        const char *p = string_pieces[rng_below(s, sizeof string_pieces / sizeof string_pieces[0])];
        size_t n = strlen(p);
        if (len + n >= sizeof buf)
            break;
        memcpy(buf + len, p, n);
        len += n;
    }
    if (rng_below(s, 20) == 0 && len + 1 < sizeof buf)
        buf[len++] = '\0'; /* embedded NUL */
    return json_stringn(buf, len);
}

static json_t *random_json(uint64_t *s, int depth)
{
    unsigned kind = (unsigned)rng_below(s, depth >= 6 ? 5 : 8);
    switch (kind) {
    case 0: return json_null();
    case 1: return json_boolean(rng_below(s, 2));
    case 2: {
        int64_t v = interesting_ints[rng_below(s, sizeof interesting_ints / sizeof interesting_ints[0])];
        int d = (int)rng_below(s, 3) - 1;
        if (!((d < 0 && v == INT64_MIN) || (d > 0 && v == INT64_MAX)))
            v += d;
        return json_integer((json_int_t)v);
    }
    case 3: {
        /* any 64-bit value, shifted to get every width */
        uint64_t r = rng_next(s) >> rng_below(s, 64);
        return json_integer((json_int_t)(rng_below(s, 2) ? (int64_t)r : -(int64_t)(r >> 1)));
    }
    case 4: return random_string(s);
    case 5:
    case 6: {
        json_t *a = json_array();
        size_t n = (size_t)rng_below(s, rng_below(s, 10) == 0 ? 40 : 5);
        for (size_t i = 0; i < n; i++)
            json_array_append_new(a, random_json(s, depth + 1));
        return a;
    }
    default: {
        json_t *o = json_object();
        size_t n = (size_t)rng_below(s, 7);
        for (size_t i = 0; i < n; i++) {
            json_t *k = random_string(s);
            json_object_setn_new(o, json_string_value(k), json_string_length(k),
                                 random_json(s, depth + 1));
            json_decref(k);
        }
        return o;
    }
    }
}

START_TEST(test_property_random_documents)
{
    uint64_t seed = 0x7a1a2024c0dec0deULL;
    for (int i = 0; i < 3000; i++) {
        json_t *in = random_json(&seed, 0);
        ck_assert_ptr_nonnull(in);
        bytes b = encode(in);
        assert_canonical(b.p, b.n);
        json_t *out = decode_to_json(&b);
        if (!json_same(in, out)) {
            char *text = json_dumps(in, JSON_ENCODE_ANY | JSON_COMPACT);
            ck_abort_msg("document %d does not round-trip: %s", i, text);
        }
        json_decref(out);
        json_decref(in);
        free(b.p);
    }
}
END_TEST

/* ---- mutation: one value, one byte form ---- */

static void mutate_all(const bytes *doc, size_t *accepted)
{
    msgpack_zone zone;
    ck_assert(msgpack_zone_init(&zone, 2048));
    msgpack_object orig;
    ck_assert_int_eq(tz_codec_decode(&orig, &zone, doc->p, doc->n, NULL), TZ_OK);
    uint8_t *m = malloc(doc->n);
    ck_assert_ptr_nonnull(m);
    for (size_t pos = 0; pos < doc->n; pos++) {
        for (int v = 0; v < 256; v++) {
            if (v == doc->p[pos])
                continue;
            memcpy(m, doc->p, doc->n);
            m[pos] = (uint8_t)v;
            if (tz_codec_check(m, doc->n, NULL) != TZ_OK)
                continue;
            msgpack_zone mz;
            ck_assert(msgpack_zone_init(&mz, 2048));
            msgpack_object mo;
            ck_assert_int_eq(tz_codec_decode(&mo, &mz, m, doc->n, NULL), TZ_OK);
            ck_assert_msg(!msgpack_object_equal(orig, mo),
                          "byte %zu set to 0x%02x: same value, different bytes", pos, v);
            msgpack_zone_destroy(&mz);
            (*accepted)++;
        }
    }
    free(m);
    msgpack_zone_destroy(&zone);
}

START_TEST(test_mutation_one_byte_form)
{
    static const char *const docs[] = {
        /* golden vector 1: a leave request */
        "84a26174b9323032342d30332d30315430383a30303a30302b30383a3030a4626f647983a56361647265a6e5bca0"
        "e4b889a46461797393010203a76665655f66656ecd3200a26964ac6c722d323032342d30303031a474797065ad6c"
        "656176655f72657175657374",
        /* every integer width, a bin, nested containers */
        "83a1619a007fcc80cd0100ce00010000cf0000000100000000ffd0dfd1ff7fd2ffff7fffa162c404deadbeefa163"
        "9481a16190c0c2c3",
    };
    for (size_t d = 0; d < sizeof docs / sizeof docs[0]; d++) {
        bytes b = unhex(docs[d]);
        assert_canonical(b.p, b.n);
        size_t accepted = 0;
        mutate_all(&b, &accepted);
        /* not vacuous: many mutants are valid documents, just other ones */
        ck_assert_uint_gt(accepted, 100);
        free(b.p);
    }
}
END_TEST

/* ---- golden vectors ---- */

static char *vectors_path(const char *name)
{
    char *path = malloc(4096);
    ck_assert_ptr_nonnull(path);
    const char *dir = TZ_SOURCE_DIR;
    if (dir != NULL) {
        snprintf(path, 4096, "%s/tests/vectors/%s", dir, name);
    } else {
        /* __FILE__ is ".../tests/check_codec.c" */
        const char *f = __FILE__;
        size_t n = strlen(f), tail = strlen("tests/check_codec.c");
        int keep = n >= tail ? (int)(n - tail) : 0;
        snprintf(path, 4096, "%.*stests/vectors/%s", keep, f, name);
    }
    return path;
}

START_TEST(test_golden_vectors)
{
    char *path = vectors_path("codec_golden.txt");
    char *text = tz_test_read_file(path, NULL);
    free(path);
    int count = 0;
    char *json_line = NULL;
    char *save = NULL;
    for (char *line = strtok_r(text, "\n", &save); line != NULL; line = strtok_r(NULL, "\n", &save)) {
        if (line[0] == '#' || line[0] == '\0')
            continue;
        if (strncmp(line, "json: ", 6) == 0) {
            json_line = line + 6;
            continue;
        }
        ck_assert_msg(strncmp(line, "msgpack: ", 9) == 0 && json_line != NULL, "bad line: %s", line);
        const char *want = line + 9;
        json_t *in = parse(json_line);
        bytes b = encode(in);
        char *got = tohex(b.p, b.n);
        ck_assert_msg(strcmp(got, want) == 0, "%s\n encodes to %s\n want       %s", json_line, got, want);
        free(got);
        free(b.p);
        bytes g = unhex(want);
        assert_canonical(g.p, g.n);
        json_t *out = decode_to_json(&g);
        ck_assert_msg(json_equal(in, out), "golden %s does not decode back", json_line);
        json_decref(out);
        json_decref(in);
        free(g.p);
        json_line = NULL;
        count++;
    }
    ck_assert_int_ge(count, 7);
    free(text);
}
END_TEST

/* ---- from_json and to_json errors ---- */

static void assert_from_json_fails(json_t *v, const char *prefix, int code, const char *want)
{
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    tz_err err;
    tz_err_clear(&err);
    ck_assert_int_eq(tz_codec_from_json(&pk, v, prefix, &err), code);
    ck_assert_int_eq(err.code, code);
    ck_assert_msg(strcmp(err.msg, want) == 0, "got \"%s\", want \"%s\"", err.msg, want);
    msgpack_sbuffer_destroy(&sb);
}

START_TEST(test_from_json_errors)
{
    json_t *v = parse("{\"fee\": 12.5}");
    assert_from_json_fails(v, "body", TZ_ERR_INPUT,
                           "body.fee: float values are not allowed (money is integer fen)");
    json_decref(v);
    v = parse("{\"days\": [1, 2, 3, 4.0]}");
    assert_from_json_fails(v, "body", TZ_ERR_INPUT,
                           "body.days[3]: float values are not allowed (money is integer fen)");
    json_decref(v);
    v = parse("1e3");
    assert_from_json_fails(v, NULL, TZ_ERR_INPUT, "float values are not allowed (money is integer fen)");
    assert_from_json_fails(v, "", TZ_ERR_INPUT, "float values are not allowed (money is integer fen)");
    json_decref(v);
    v = parse("{\"a b\": {\"x.y\": [0.5]}}");
    assert_from_json_fails(v, "body", TZ_ERR_INPUT,
                           "body[\"a b\"][\"x.y\"][0]: float values are not allowed (money is integer fen)");
    json_decref(v);

    /* strings jansson did not validate */
    v = json_pack("{s:o}", "s", json_stringn_nocheck("\xed\xa0\x80", 3));
    assert_from_json_fails(v, "body", TZ_ERR_INPUT,
                           "body.s: string is not valid UTF-8 at byte 0 (surrogate code point U+D800..U+DFFF)");
    json_decref(v);
    v = json_object();
    json_object_set_new_nocheck(v, "\xc0\xaf", json_null());
    assert_from_json_fails(v, "body", TZ_ERR_INPUT,
                           "body: map key is not valid UTF-8 at byte 0 (overlong encoding)");
    json_decref(v);

    /* depth: 32 levels are fine, 33 are not */
    char deep[200], want[200] = "x";
    memset(deep, '[', 32);
    memset(deep + 32, ']', 32);
    deep[64] = '\0';
    v = parse(deep); /* 32 levels */
    bytes b = encode(v);
    assert_canonical(b.p, b.n);
    free(b.p);
    json_decref(v);
    memset(deep, '[', 33);
    memset(deep + 33, ']', 33);
    deep[66] = '\0';
    v = parse(deep); /* 33 levels */
    for (int i = 0; i < 32; i++)
        strcat(want, "[0]");
    strcat(want, ": nesting deeper than 32 levels");
    assert_from_json_fails(v, "x", TZ_ERR_INPUT, want);
    json_decref(v);

    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    ck_assert_int_eq(tz_codec_from_json(&pk, NULL, "x", NULL), TZ_ERR_USAGE);
    ck_assert_int_eq(tz_codec_from_json(NULL, json_null(), "x", NULL), TZ_ERR_USAGE);
    msgpack_sbuffer_destroy(&sb);
}
END_TEST

static void assert_to_json_fails(const char *hex, const char *want)
{
    bytes b = unhex(hex);
    msgpack_zone zone;
    ck_assert(msgpack_zone_init(&zone, 2048));
    msgpack_object obj;
    size_t off = 0;
    /* msgpack-c directly: to_json must cope with objects that never passed
     * the checker too */
    ck_assert_int_eq(msgpack_unpack((const char *)b.p, b.n, &off, &zone, &obj), MSGPACK_UNPACK_SUCCESS);
    tz_err err;
    tz_err_clear(&err);
    json_t *j = tz_codec_to_json(&obj, &err);
    ck_assert_ptr_null(j);
    ck_assert_int_eq(err.code, TZ_ERR_INPUT);
    ck_assert_msg(strcmp(err.msg, want) == 0, "%s: got \"%s\", want \"%s\"", hex, err.msg, want);
    msgpack_zone_destroy(&zone);
    free(b.p);
}

START_TEST(test_to_json_errors)
{
    assert_to_json_fails("c40101", "binary values are not representable in JSON");
    assert_to_json_fails("81a4646179739401020381a3736967c400",
                         "days[3].sig: binary values are not representable in JSON");
    assert_to_json_fails("cfffffffffffffffff",
                         "integer 18446744073709551615 does not fit in a JSON integer (at most 9223372036854775807)");
    assert_to_json_fails("91cb3ff0000000000000", "[0]: float values are not allowed (money is integer fen)");
    assert_to_json_fails("d40100", "ext values are not allowed");
    assert_to_json_fails("810101", "map keys must be strings");
    assert_to_json_fails("82a16101a16102", "duplicate map key \"a\"");
    assert_to_json_fails("91a2c0af", "[0]: str is not valid UTF-8 (overlong encoding)");
    /* what the checker accepts, to_json renders: INT64_MAX is fine */
    bytes ok = unhex("cf7fffffffffffffff");
    json_t *j = decode_to_json(&ok);
    ck_assert_int_eq(json_integer_value(j), INT64_MAX);
    json_decref(j);
    free(ok.p);
    tz_err err;
    ck_assert_ptr_null(tz_codec_to_json(NULL, &err));
    ck_assert_int_eq(err.code, TZ_ERR_USAGE);
}
END_TEST

/* ---- map helpers ---- */

START_TEST(test_map_helpers)
{
    bytes b = unhex("85a000a16101a2616202a16203a3e4b8ad04"); /* {"":0,a:1,ab:2,b:3,中:4} */
    msgpack_zone zone;
    ck_assert(msgpack_zone_init(&zone, 2048));
    msgpack_object map;
    ck_assert_int_eq(tz_codec_decode(&map, &zone, b.p, b.n, NULL), TZ_OK);
    static const struct { const char *key; int64_t v; } present[] = {
        { "", 0 }, { "a", 1 }, { "ab", 2 }, { "b", 3 }, { "\xe4\xb8\xad", 4 },
    };
    for (size_t i = 0; i < 5; i++) {
        const msgpack_object *v = tz_codec_map_get(&map, present[i].key);
        ck_assert_msg(v != NULL, "key %s", present[i].key);
        ck_assert_int_eq((int64_t)v->via.u64, present[i].v);
    }
    ck_assert_ptr_null(tz_codec_map_get(&map, "abc"));
    ck_assert_ptr_null(tz_codec_map_get(&map, "A"));
    ck_assert_ptr_null(tz_codec_map_get(&map, "c"));
    ck_assert_ptr_null(tz_codec_map_get(&map, NULL));
    ck_assert_ptr_null(tz_codec_map_get(NULL, "a"));
    ck_assert_ptr_null(tz_codec_map_get(tz_codec_map_get(&map, "a"), "a")); /* not a map */

    const msgpack_object *k = &map.via.map.ptr[2].key;
    ck_assert_int_eq(tz_codec_str_eq(k, "ab"), 1);
    ck_assert_int_eq(tz_codec_str_eq(k, "a"), 0);
    ck_assert_int_eq(tz_codec_str_eq(k, "abc"), 0);
    ck_assert_int_eq(tz_codec_str_eq(&map.via.map.ptr[0].key, ""), 1);
    ck_assert_int_eq(tz_codec_str_eq(&map.via.map.ptr[0].val, ""), 0); /* an integer */
    ck_assert_int_eq(tz_codec_str_eq(NULL, "a"), 0);
    ck_assert_int_eq(tz_codec_str_eq(k, NULL), 0);
    msgpack_zone_destroy(&zone);
    free(b.p);
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("codec");

    TCase *tables = tcase_create("tables");
    tcase_add_loop_test(tables, test_valid_table, 0, (int)(sizeof valid / sizeof valid[0]));
    tcase_add_loop_test(tables, test_invalid_table, 0, (int)(sizeof invalid / sizeof invalid[0]));
    tcase_add_test(tables, test_null_data);
    suite_add_tcase(s, tables);

    TCase *limits = tcase_create("limits");
    tcase_set_timeout(limits, 300);
    tcase_add_loop_test(limits, test_sized_boundaries, 0, (int)(sizeof sized / sizeof sized[0]));
    tcase_add_test(limits, test_depth);
    tcase_add_test(limits, test_every_truncation);
    tcase_add_test(limits, test_hostile_counts);
    tcase_add_test(limits, test_utf8_against_model);
    suite_add_tcase(s, limits);

    TCase *encoder = tcase_create("encoder");
    tcase_set_timeout(encoder, 300);
    tcase_add_test(encoder, test_msgpack_c_packs_shortest_integers);
    tcase_add_test(encoder, test_pack_helpers);
    tcase_add_loop_test(encoder, test_json_round_trip, 0,
                        (int)(sizeof round_trips / sizeof round_trips[0]));
    tcase_add_test(encoder, test_key_order_does_not_matter);
    tcase_add_test(encoder, test_nul_in_keys_round_trip);
    tcase_add_test(encoder, test_golden_vectors);
    tcase_add_test(encoder, test_from_json_errors);
    tcase_add_test(encoder, test_to_json_errors);
    tcase_add_test(encoder, test_map_helpers);
    suite_add_tcase(s, encoder);

    TCase *properties = tcase_create("properties");
    tcase_set_timeout(properties, 600);
    tcase_add_test(properties, test_property_random_documents);
    tcase_add_test(properties, test_mutation_one_byte_form);
    suite_add_tcase(s, properties);
    return s;
}

int main(void) { return tz_test_main(make_suite); }
