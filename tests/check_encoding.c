/*
 * check_encoding.c: base64, hex and UTF-8 (util/encoding). Known answers
 * from RFC 4648 §10, tables of non-canonical inputs, random round trips,
 * and the UTF-8 decoder checked against a naive encoder over every scalar
 * value and every one- and two-byte input.
 */
#include <stdlib.h>
#include <string.h>

#include "tests/tz_test.h"
#include "util/encoding.h"

/* ---- base64 ---- */

static const struct {
    const char *bin, *b64;
} rfc4648[] = {
    {"", ""},         {"f", "Zg=="},         {"fo", "Zm8="},         {"foo", "Zm9v"},
    {"foob", "Zm9vYg=="}, {"fooba", "Zm9vYmE="}, {"foobar", "Zm9vYmFy"},
};

START_TEST(base64_rfc4648_vectors)
{
    for (size_t i = 0; i < sizeof rfc4648 / sizeof rfc4648[0]; i++) {
        const char *bin = rfc4648[i].bin, *b64 = rfc4648[i].b64;
        char out[32];
        ck_assert_uint_eq(tz_base64_encoded_len(strlen(bin)), strlen(b64) + 1);
        ck_assert_ptr_eq(tz_base64_encode(out, sizeof out, (const uint8_t *)bin, strlen(bin)), out);
        ck_assert_str_eq(out, b64);
        uint8_t dec[32];
        size_t n = 99;
        tz_err err = {0};
        ck_assert_int_eq(tz_base64_decode(dec, sizeof dec, &n, b64, strlen(b64), &err), TZ_OK);
        ck_assert_uint_eq(n, strlen(bin));
        ck_assert(memcmp(dec, bin, n) == 0);
    }
}
END_TEST

START_TEST(base64_encoded_len)
{
    ck_assert_uint_eq(tz_base64_encoded_len(0), 1);
    ck_assert_uint_eq(tz_base64_encoded_len(1), 5);
    ck_assert_uint_eq(tz_base64_encoded_len(3), 5);
    ck_assert_uint_eq(tz_base64_encoded_len(4), 9);
    ck_assert_uint_eq(tz_base64_encoded_len(32), 45);
    ck_assert_uint_eq(tz_base64_encoded_len(SIZE_MAX), 0);
}
END_TEST

START_TEST(base64_encode_small_buffer)
{
    char out[8];
    memset(out, 'x', sizeof out);
    ck_assert_ptr_null(tz_base64_encode(out, 4, (const uint8_t *)"foo", 3)); /* needs 5 */
    for (size_t i = 0; i < sizeof out; i++)
        ck_assert_int_eq(out[i], 'x');
    ck_assert_ptr_eq(tz_base64_encode(out, 5, (const uint8_t *)"foo", 3), out);
    ck_assert_str_eq(out, "Zm9v");
    ck_assert_ptr_null(tz_base64_encode(NULL, 5, (const uint8_t *)"foo", 3));
    ck_assert_ptr_null(tz_base64_encode(out, 5, NULL, 3));
    ck_assert_ptr_eq(tz_base64_encode(out, 1, NULL, 0), out);
    ck_assert_str_eq(out, "");
}
END_TEST

/* Every one of these must be refused; most are one character away from a
 * valid encoding. */
static const struct {
    const char *b64;
    size_t len; /* 0: strlen */
    const char *why;
} bad_b64[] = {
    {"Zg", 0, "multiple of 4"},              /* missing padding */
    {"Zg=", 0, "multiple of 4"},             /* half padding */
    {"Zg===", 0, "multiple of 4"},           /* extra padding */
    {"Zh==", 0, "not canonical"},            /* non-zero trailing bits */
    {"Zm9=", 0, "not canonical"},            /* non-zero trailing bits, one '=' */
    {"Zm9v=", 0, "multiple of 4"},           /* padding after a full group */
    {"Zm9v====", 0, "not canonical"},        /* a group of padding */
    {"=Zm9", 0, "not canonical"},            /* padding in front */
    {"Zg==Zg==", 0, "not canonical"},        /* padding in the middle */
    {"Z===", 0, "not canonical"},            /* one character is never a byte */
    {"====", 0, "not canonical"},
    {"Zm 9", 0, "not canonical"},            /* space */
    {"Zm9v\n", 0, "multiple of 4"},          /* newline */
    {"Zm9\n", 0, "not canonical"},
    {"Zm-v", 0, "not canonical"},            /* URL-safe alphabet */
    {"Zm_v", 0, "not canonical"},
    {"Zm9v\0AAA", 8, "not canonical"},       /* NUL inside */
    {"Zm9\xc3", 0, "not canonical"},         /* non-ASCII */
};

START_TEST(base64_rejects_non_canonical)
{
    for (size_t i = 0; i < sizeof bad_b64 / sizeof bad_b64[0]; i++) {
        const char *s = bad_b64[i].b64;
        size_t len = bad_b64[i].len ? bad_b64[i].len : strlen(s);
        uint8_t out[16];
        memset(out, 0xAA, sizeof out);
        size_t n = 99;
        tz_err err = {0};
        ck_assert_msg(tz_base64_decode(out, sizeof out, &n, s, len, &err) == TZ_ERR_INPUT, "accepted case %zu", i);
        ck_assert_int_eq(err.code, TZ_ERR_INPUT);
        ck_assert_msg(strstr(err.msg, bad_b64[i].why) != NULL, "case %zu: %s", i, err.msg);
        ck_assert_uint_eq(n, 0);
        for (size_t j = 0; j < len && j < sizeof out; j++) /* no partial output survives */
            ck_assert_uint_eq(out[j], 0);
    }
}
END_TEST

/* Every byte outside the alphabet, in every position of a group, is
 * refused (libsodium 1.0.18 alone accepts bytes >= 0x80 as '/'). */
START_TEST(base64_alphabet_is_exact)
{
    for (unsigned c = 0; c < 256; c++) {
        int ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' || c == '/';
        for (size_t pos = 0; pos < 4; pos++) {
            char s[4] = {'Z', 'm', '9', 'v'};
            s[pos] = (char)c;
            uint8_t out[3];
            size_t n = 0;
            int rc = tz_base64_decode(out, sizeof out, &n, s, 4, NULL);
            ck_assert_msg(ok ? rc == TZ_OK : rc == TZ_ERR_INPUT, "byte 0x%02x at %zu: rc %d", c, pos, rc);
        }
    }
}
END_TEST

START_TEST(base64_decode_limits)
{
    uint8_t out[3];
    size_t n = 99;
    tz_err err = {0};
    ck_assert_int_eq(tz_base64_decode(out, 2, &n, "Zm9v", 4, &err), TZ_ERR_INPUT);
    ck_assert_ptr_nonnull(strstr(err.msg, "decodes to 3 bytes, at most 2"));
    ck_assert_uint_eq(n, 0);
    ck_assert_int_eq(tz_base64_decode(out, 3, &n, "Zm9v", 4, NULL), TZ_OK);
    ck_assert_uint_eq(n, 3);
    ck_assert_int_eq(tz_base64_decode(out, 3, &n, "", 0, NULL), TZ_OK);
    ck_assert_uint_eq(n, 0);
    ck_assert_int_eq(tz_base64_decode(NULL, 0, &n, NULL, 0, NULL), TZ_OK);
    ck_assert_int_eq(tz_base64_decode(out, 3, NULL, "Zm9v", 4, &err), TZ_ERR_USAGE);
    ck_assert_int_eq(tz_base64_decode(out, 3, &n, NULL, 4, &err), TZ_ERR_USAGE);
}
END_TEST

START_TEST(base64_random_round_trip)
{
    srand(4648);
    for (size_t len = 0; len < 200; len++) {
        uint8_t bin[200], dec[200];
        char b64[300];
        for (size_t i = 0; i < len; i++)
            bin[i] = (uint8_t)rand();
        ck_assert_ptr_nonnull(tz_base64_encode(b64, sizeof b64, bin, len));
        ck_assert_uint_eq(strlen(b64) + 1, tz_base64_encoded_len(len));
        size_t n = 0;
        ck_assert_int_eq(tz_base64_decode(dec, len, &n, b64, strlen(b64), NULL), TZ_OK);
        ck_assert_uint_eq(n, len);
        ck_assert(len == 0 || memcmp(dec, bin, len) == 0);
    }
}
END_TEST

/* ---- hex ---- */

START_TEST(hex_round_trip)
{
    const uint8_t bin[] = {0x00, 0x01, 0x7f, 0x80, 0xab, 0xff};
    char hex[2 * sizeof bin + 1];
    tz_hex_encode(hex, bin, sizeof bin);
    ck_assert_str_eq(hex, "00017f80abff");
    uint8_t dec[8];
    size_t n = 0;
    ck_assert_int_eq(tz_hex_decode(dec, sizeof dec, &n, hex, strlen(hex), NULL), TZ_OK);
    ck_assert_uint_eq(n, sizeof bin);
    ck_assert(memcmp(dec, bin, n) == 0);
    ck_assert_int_eq(tz_hex_decode(dec, sizeof dec, &n, "00017F80ABFF", 12, NULL), TZ_OK);
    ck_assert(memcmp(dec, bin, n) == 0);
    tz_hex_encode(hex, bin, 0);
    ck_assert_str_eq(hex, "");
    ck_assert_int_eq(tz_hex_decode(dec, sizeof dec, &n, "", 0, NULL), TZ_OK);
    ck_assert_uint_eq(n, 0);
}
END_TEST

START_TEST(hex_rejects)
{
    static const struct {
        const char *hex;
        const char *why;
    } bad[] = {
        {"abc", "odd length"}, {"0g", "invalid digit"}, {" 0a", "odd length"}, {"0a ", "odd length"},
        {"0 a0", "invalid digit"}, {"0x0a", "invalid digit"}, {"+1", "invalid digit"}, {"0a0a0a0a0a", "at most 4"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        uint8_t out[4];
        memset(out, 0xAA, sizeof out);
        size_t n = 99;
        tz_err err = {0};
        ck_assert_int_eq(tz_hex_decode(out, sizeof out, &n, bad[i].hex, strlen(bad[i].hex), &err), TZ_ERR_INPUT);
        ck_assert_msg(strstr(err.msg, bad[i].why) != NULL, "case %zu: %s", i, err.msg);
        ck_assert_uint_eq(n, 0);
        for (size_t j = 0; j < strlen(bad[i].hex) / 2 && j < sizeof out; j++)
            ck_assert_uint_eq(out[j], 0);
    }
    size_t n;
    ck_assert_int_eq(tz_hex_decode(NULL, 4, &n, "00", 2, NULL), TZ_ERR_USAGE);
}
END_TEST

/* ---- UTF-8 ---- */

/* The naive model: the shortest encoding of a scalar value. */
static size_t naive_encode(uint8_t out[4], uint32_t c)
{
    if (c < 0x80) {
        out[0] = (uint8_t)c;
        return 1;
    }
    if (c < 0x800) {
        out[0] = (uint8_t)(0xC0 | c >> 6), out[1] = (uint8_t)(0x80 | (c & 0x3F));
        return 2;
    }
    if (c < 0x10000) {
        out[0] = (uint8_t)(0xE0 | c >> 12), out[1] = (uint8_t)(0x80 | (c >> 6 & 0x3F));
        out[2] = (uint8_t)(0x80 | (c & 0x3F));
        return 3;
    }
    out[0] = (uint8_t)(0xF0 | c >> 18), out[1] = (uint8_t)(0x80 | (c >> 12 & 0x3F));
    out[2] = (uint8_t)(0x80 | (c >> 6 & 0x3F)), out[3] = (uint8_t)(0x80 | (c & 0x3F));
    return 4;
}

START_TEST(utf8_every_scalar_decodes)
{
    for (uint32_t c = 0; c <= 0x10FFFF; c++) {
        if (c >= 0xD800 && c <= 0xDFFF)
            continue;
        uint8_t buf[4];
        size_t n = naive_encode(buf, c);
        uint32_t got = 0xFFFFFFFF;
        if (tz_utf8_next(&got, buf, n) != n || got != c)
            ck_abort_msg("U+%04X not decoded", (unsigned)c);
        if (n > 1 && tz_utf8_next(&got, buf, n - 1) != 0) /* any truncation is refused */
            ck_abort_msg("truncated U+%04X accepted", (unsigned)c);
    }
}
END_TEST

/* Whatever the decoder accepts must be exactly the model's encoding of
 * what it returned: this rules out overlongs, surrogates and > U+10FFFF. */
static void check_against_model(const uint8_t *s, size_t len)
{
    uint32_t c = 0;
    size_t n = tz_utf8_next(&c, s, len);
    if (n == 0)
        return;
    uint8_t buf[4];
    if (naive_encode(buf, c) != n || memcmp(buf, s, n) != 0 || (c >= 0xD800 && c <= 0xDFFF) || c > 0x10FFFF)
        ck_abort_msg("accepted a non-shortest or non-scalar sequence starting %02x (U+%04X)", s[0], (unsigned)c);
}

START_TEST(utf8_short_inputs_match_model)
{
    for (unsigned a = 0; a < 256; a++) {
        uint8_t s1[1] = {(uint8_t)a};
        check_against_model(s1, 1);
        for (unsigned b = 0; b < 256; b++) {
            uint8_t s2[2] = {(uint8_t)a, (uint8_t)b};
            check_against_model(s2, 2);
        }
    }
    /* three- and four-byte inputs: all lead bytes, boundary continuations */
    static const uint8_t cont[] = {0x00, 0x7F, 0x80, 0x8F, 0x90, 0x9F, 0xA0, 0xBF, 0xC0, 0xFF};
    for (unsigned a = 0xE0; a < 256; a++)
        for (size_t i = 0; i < sizeof cont; i++)
            for (size_t j = 0; j < sizeof cont; j++)
                for (size_t k = 0; k < sizeof cont; k++) {
                    uint8_t s[4] = {(uint8_t)a, cont[i], cont[j], cont[k]};
                    check_against_model(s, 3);
                    check_against_model(s, 4);
                }
}
END_TEST

START_TEST(utf8_known_bad)
{
    static const char *const bad[] = {
        "\x80", "\xC0\x80", "\xC1\xBF", "\xE0\x80\x80", "\xE0\x9F\xBF", "\xED\xA0\x80", "\xED\xBF\xBF",
        "\xF0\x80\x80\x80", "\xF0\x8F\xBF\xBF", "\xF4\x90\x80\x80", "\xF5\x80\x80\x80", "\xFF", "\xC3\x41", "\xE2\x82",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        uint32_t c = 12345;
        ck_assert_uint_eq(tz_utf8_next(&c, (const uint8_t *)bad[i], strlen(bad[i])), 0);
        ck_assert_uint_eq(c, 12345);
    }
    uint32_t c;
    ck_assert_uint_eq(tz_utf8_next(&c, (const uint8_t *)"\xE2\x80\x94", 3), 3);
    ck_assert_uint_eq(c, 0x2014);
    ck_assert_uint_eq(tz_utf8_next(&c, (const uint8_t *)"a", 0), 0);
}
END_TEST

/* tz_text_check: a table of values at, under and over a bound of 8 bytes,
 * with the message each must give (field and rule). */
START_TEST(text_check_table)
{
    static const struct {
        const char *s;
        size_t len;
        int ok;
        const char *msg;
    } cases[] = {
        {"a", 1, 1, NULL},
        {"1234567", 7, 1, NULL},
        {"12345678", 8, 1, NULL},
        {"123456789", 9, 0, "f: 9 bytes (at most 8)"},
        {"", 0, 0, "f: empty (1..8 bytes)"},
        {"\xe9\xab\x98", 3, 1, NULL},               /* 高 */
        {"ab\xe9\xab", 4, 0, "f: not valid UTF-8 (byte 2)"}, /* cut in a character */
        {"\xff", 1, 0, "f: not valid UTF-8 (byte 0)"},
        {"\xc0\x80", 2, 0, "f: not valid UTF-8 (byte 0)"}, /* overlong NUL */
        {"\xed\xa0\x80", 3, 0, "f: not valid UTF-8 (byte 0)"}, /* surrogate */
        {"a\0b", 3, 0, "f: contains a NUL byte (byte 1)"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        tz_err e;
        tz_err_clear(&e);
        int rc = tz_text_check("f", cases[i].s, cases[i].len, 8, &e);
        ck_assert_msg((rc == TZ_OK) == cases[i].ok, "case %zu: %d %s", i, rc, e.msg);
        if (!cases[i].ok) {
            ck_assert_int_eq(rc, TZ_ERR_INPUT);
            ck_assert_str_eq(e.msg, cases[i].msg);
        }
    }
}
END_TEST

/* tz_utf8_repair: valid text is untouched; each bad byte becomes '?', the
 * length stays, and the result always passes tz_text_check. */
START_TEST(utf8_repair)
{
    char ok[] = "\xe9\xab\x98 ok";
    ck_assert_uint_eq(tz_utf8_repair(ok, strlen(ok)), 0);
    ck_assert_str_eq(ok, "\xe9\xab\x98 ok");
    char cut[] = "id \xe9\xab";
    ck_assert_uint_eq(tz_utf8_repair(cut, strlen(cut)), 2);
    ck_assert_str_eq(cut, "id ??");
    char bad[] = "\xff\xfe\xc0\x80x";
    ck_assert_uint_eq(tz_utf8_repair(bad, strlen(bad)), 4);
    ck_assert_str_eq(bad, "????x");
    uint32_t state = 12345;
    for (int round = 0; round < 2000; round++) {
        char buf[16];
        for (size_t i = 0; i < sizeof buf; i++) {
            state = state * 1103515245u + 12345u;
            buf[i] = (char)((state >> 16) | 1); /* no NUL */
        }
        tz_utf8_repair(buf, sizeof buf);
        ck_assert_int_eq(tz_text_check("r", buf, sizeof buf, sizeof buf, NULL), TZ_OK);
    }
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("encoding");
    TCase *b64 = tcase_create("base64");
    tcase_add_test(b64, base64_rfc4648_vectors);
    tcase_add_test(b64, base64_encoded_len);
    tcase_add_test(b64, base64_encode_small_buffer);
    tcase_add_test(b64, base64_rejects_non_canonical);
    tcase_add_test(b64, base64_alphabet_is_exact);
    tcase_add_test(b64, base64_decode_limits);
    tcase_add_test(b64, base64_random_round_trip);
    suite_add_tcase(s, b64);
    TCase *hex = tcase_create("hex");
    tcase_add_test(hex, hex_round_trip);
    tcase_add_test(hex, hex_rejects);
    suite_add_tcase(s, hex);
    TCase *utf8 = tcase_create("utf8");
    tcase_add_test(utf8, utf8_every_scalar_decodes);
    tcase_add_test(utf8, utf8_short_inputs_match_model);
    tcase_add_test(utf8, utf8_known_bad);
    tcase_add_test(utf8, text_check_table);
    tcase_add_test(utf8, utf8_repair);
    suite_add_tcase(s, utf8);
    return s;
}

int main(void) { return tz_test_main(make_suite); }
