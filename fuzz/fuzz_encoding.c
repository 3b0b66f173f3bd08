/*
 * fuzz_encoding.c: the strict text forms every hash, key and signature
 * takes on the way in (util/encoding.h, crypto/key.h): base64, hex, UTF-8
 * and C2SP key strings. Every input is read each way.
 *
 * Properties, each against a naive model written here:
 *  - base64: tz_base64_decode accepts exactly the strings that are the
 *    encoding of some bytes (a lenient decoder followed by re-encoding must
 *    give the input back), with the same bytes; tz_base64_encode of the
 *    input equals the naive encoder; a cap too small is TZ_ERR_INPUT with
 *    *out_len 0 and the first min(cap, len) output bytes zeroed;
 *  - hex: tz_hex_decode accepts exactly even-length strings of hex digits,
 *    with the naive bytes; errors zero the output as the header says;
 *    tz_hex_encode is lower-case hex;
 *  - UTF-8: tz_utf8_next agrees with Unicode Table 3-7 on every position,
 *    and returns the right code point;
 *  - key strings: what tz_key_parse_public / _secret accept formats back
 *    to the same string; refusals are TZ_ERR_INPUT with a message.
 */
#include <stdlib.h>
#include <string.h>

#include "crypto/key.h"
#include "fuzz/fuzz.h"
#include "util/encoding.h"

static const char b64_alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static void naive_b64_encode(char *out, const uint8_t *in, size_t n)
{
    size_t w = 0;
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16;
        if (i + 1 < n) v |= (uint32_t)in[i + 1] << 8;
        if (i + 2 < n) v |= in[i + 2];
        out[w++] = b64_alphabet[v >> 18 & 63];
        out[w++] = b64_alphabet[v >> 12 & 63];
        out[w++] = i + 1 < n ? b64_alphabet[v >> 6 & 63] : '=';
        out[w++] = i + 2 < n ? b64_alphabet[v & 63] : '=';
    }
    out[w] = '\0';
}

/* Lenient: alphabet characters, then up to two '=' at the very end, total
 * a multiple of 4. Ignores trailing bits. Returns the byte count or -1. */
static long naive_b64_decode(uint8_t *out, const char *s, size_t len)
{
    if (len % 4 != 0)
        return -1;
    size_t pad = 0;
    while (pad < 2 && pad < len && s[len - 1 - pad] == '=')
        pad++;
    uint32_t acc = 0;
    int bits = 0;
    long n = 0;
    for (size_t i = 0; i < len - pad; i++) {
        const char *p = s[i] != '\0' ? strchr(b64_alphabet, s[i]) : NULL;
        if (p == NULL)
            return -1;
        acc = acc << 6 | (uint32_t)(p - b64_alphabet);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[n++] = (uint8_t)(acc >> bits);
        }
    }
    if (pad > 0 && (len - pad) % 4 < 2)
        return -1; /* "A===" or "====": not a padding position */
    return n;
}

static void check_base64(const uint8_t *data, size_t size)
{
    const char *s = (const char *)data;
    uint8_t *naive = malloc(size + 1), *out = malloc(size + 1);
    char *re = malloc(size + 8);
    TZ_FUZZ_CHECK(naive != NULL && out != NULL && re != NULL);
    long n = naive_b64_decode(naive, s, size);
    int canonical = 0;
    if (n >= 0) {
        naive_b64_encode(re, naive, (size_t)n);
        canonical = strlen(re) == size && memcmp(re, s, size) == 0;
    }
    size_t got = 12345;
    tz_err err;
    int rc = tz_base64_decode(out, size + 1, &got, s, size, &err);
    TZ_FUZZ_CHECK_MSG((rc == TZ_OK) == canonical, "base64 decode %d, naive canonical %d", rc, canonical);
    if (rc == TZ_OK) {
        TZ_FUZZ_CHECK(got == (size_t)n && memcmp(out, naive, got) == 0);
        /* Too small a buffer: refused, nothing left behind. */
        if (got > 0) {
            size_t cap = data[0] % got;
            memset(out, 0xaa, size + 1);
            got = 12345;
            rc = tz_base64_decode(out, cap, &got, s, size, &err);
            TZ_FUZZ_CHECK_ERROR(rc, &err, TZ_ERR_INPUT);
            TZ_FUZZ_CHECK(got == 0);
            for (size_t i = 0; i < cap && i < size; i++)
                TZ_FUZZ_CHECK(out[i] == 0);
        }
    } else {
        TZ_FUZZ_CHECK_ERROR(rc, &err, TZ_ERR_INPUT);
        TZ_FUZZ_CHECK(got == 0);
    }
    /* Encoding the input bytes. */
    size_t need = tz_base64_encoded_len(size);
    TZ_FUZZ_CHECK(need == 4 * ((size + 2) / 3) + 1);
    char *enc = malloc(need);
    TZ_FUZZ_CHECK(enc != NULL && need <= size + 8 + size / 3 * 4 + 4);
    char *model = malloc(need);
    TZ_FUZZ_CHECK(model != NULL);
    TZ_FUZZ_CHECK(tz_base64_encode(enc, need, data, size) == enc);
    naive_b64_encode(model, data, size);
    TZ_FUZZ_CHECK(strcmp(enc, model) == 0);
    TZ_FUZZ_CHECK(tz_base64_encode(enc, need - 1, data, size) == NULL);
    free(model);
    free(enc);
    free(re);
    free(out);
    free(naive);
}

static int hex_digit(uint8_t c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

static void check_hex(const uint8_t *data, size_t size)
{
    int valid = size % 2 == 0;
    for (size_t i = 0; valid && i < size; i++)
        valid = hex_digit(data[i]) >= 0;
    size_t cap = size / 2;
    if (size > 0 && (data[0] & 1))
        cap = data[size - 1] % (size / 2 + 1); /* sometimes too small */
    uint8_t *out = malloc(size / 2 + 1);
    TZ_FUZZ_CHECK(out != NULL);
    memset(out, 0xaa, size / 2 + 1);
    size_t got = 12345;
    tz_err err;
    int rc = tz_hex_decode(out, cap, &got, (const char *)data, size, &err);
    int expected = valid && size / 2 <= cap;
    TZ_FUZZ_CHECK_MSG((rc == TZ_OK) == expected, "hex decode %d, expected %d", rc, expected);
    if (rc == TZ_OK) {
        TZ_FUZZ_CHECK(got == size / 2);
        for (size_t i = 0; i < got; i++)
            TZ_FUZZ_CHECK(out[i] == (hex_digit(data[2 * i]) << 4 | hex_digit(data[2 * i + 1])));
        char *lower = malloc(size + 1);
        TZ_FUZZ_CHECK(lower != NULL);
        tz_hex_encode(lower, out, got);
        for (size_t i = 0; i < size; i++)
            TZ_FUZZ_CHECK(lower[i] == (char)(data[i] >= 'A' && data[i] <= 'F' ? data[i] + 32 : data[i]));
        TZ_FUZZ_CHECK(lower[size] == '\0');
        free(lower);
    } else {
        TZ_FUZZ_CHECK_ERROR(rc, &err, TZ_ERR_INPUT);
        TZ_FUZZ_CHECK(got == 0);
        size_t zeroed = cap < size / 2 ? cap : size / 2;
        for (size_t i = 0; i < zeroed; i++)
            TZ_FUZZ_CHECK(out[i] == 0);
    }
    free(out);
}

static void check_utf8(const uint8_t *data, size_t size)
{
    for (size_t i = 0; i < size; i++) {
        uint32_t cp = 0xdeadbeef;
        size_t n = tz_utf8_next(&cp, data + i, size - i);
        size_t expected = tz_fuzz_utf8_len(data + i, size - i);
        TZ_FUZZ_CHECK_MSG(n == expected, "at byte %zu: tz_utf8_next %zu, Table 3-7 %zu", i, n, expected);
        if (n == 0) {
            TZ_FUZZ_CHECK(cp == 0xdeadbeef);
            continue;
        }
        static const uint8_t lead_mask[5] = {0, 0x7f, 0x1f, 0x0f, 0x07};
        uint32_t want = data[i] & lead_mask[n];
        for (size_t k = 1; k < n; k++)
            want = want << 6 | (data[i + k] & 0x3f);
        TZ_FUZZ_CHECK(cp == want);
    }
}

static void check_keys(const uint8_t *data, size_t size)
{
    tz_err err;
    tz_public_key pub;
    int rc = tz_key_parse_public(&pub, (const char *)data, size, &err);
    if (rc == TZ_OK) {
        char buf[TZ_KEY_STRING_MAX];
        TZ_FUZZ_CHECK(tz_key_format_public(buf, sizeof buf, &pub, &err) == TZ_OK);
        TZ_FUZZ_CHECK_MSG(strlen(buf) == size && memcmp(buf, data, size) == 0,
                          "a verifier key string does not format back");
        TZ_FUZZ_CHECK(tz_key_check_name(pub.name, NULL) == TZ_OK);
        TZ_FUZZ_CHECK(tz_key_id(pub.name, pub.pk) == pub.id);
    } else {
        TZ_FUZZ_CHECK_ERROR(rc, &err, TZ_ERR_INPUT);
    }
    tz_secret_key sec;
    rc = tz_key_parse_secret(&sec, (const char *)data, size, &err);
    if (rc == TZ_OK) {
        char buf[TZ_KEY_STRING_MAX];
        TZ_FUZZ_CHECK(tz_key_format_secret(buf, sizeof buf, &sec, &err) == TZ_OK);
        TZ_FUZZ_CHECK_MSG(strlen(buf) == size && memcmp(buf, data, size) == 0,
                          "a secret key string does not format back");
        tz_key_wipe(&sec);
    } else {
        TZ_FUZZ_CHECK_ERROR(rc, &err, TZ_ERR_INPUT);
    }
    /* The name rule on its own, as a C string. */
    char *name = malloc(size + 1);
    TZ_FUZZ_CHECK(name != NULL);
    memcpy(name, data, size);
    name[size] = '\0';
    rc = tz_key_check_name(name, &err);
    if (rc != TZ_OK)
        TZ_FUZZ_CHECK_ERROR(rc, &err, TZ_ERR_INPUT);
    free(name);
}

TZ_FUZZ_ENTRY(encoding)
{
    check_base64(data, size);
    check_hex(data, size);
    check_utf8(data, size);
    check_keys(data, size);
    return 0;
}
