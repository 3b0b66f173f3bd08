/*
 * encoding.c: strict base64 and hex on top of libsodium, and a UTF-8 decoder.
 *
 * The ledger signs and hashes bytes but exchanges text (key strings, notes,
 * checkpoints, JSON). If a decoder accepted two spellings of one byte string,
 * a note could be altered without breaking its signature, so the decoders
 * accept only the canonical form. libsodium's base64 decoder already refuses
 * missing padding and non-zero trailing bits when it is given no "ignore"
 * set; we add a length check for a clearer message and make sure no partial
 * output is left behind on failure. We also check the alphabet before
 * calling libsodium: version 1.0.18 (Debian 12) decodes every byte >= 0x80
 * as '/', which would let a note's signature be re-spelled 128 ways.
 * None of this allocates: the callers are
 * the signature verifier and the note parser, which run once per entry.
 */
#include "util/encoding.h"

#include <sodium.h>
#include <string.h>

size_t tz_base64_encoded_len(size_t bin_len)
{
    size_t groups = bin_len / 3 + (bin_len % 3 != 0);
    if (groups > (SIZE_MAX - 1) / 4)
        return 0;
    return groups * 4 + 1;
}

char *tz_base64_encode(char *out, size_t cap, const uint8_t *bin, size_t bin_len)
{
    size_t need = tz_base64_encoded_len(bin_len);
    if (out == NULL || need == 0 || cap < need || (bin == NULL && bin_len != 0))
        return NULL;
    if (bin_len == 0) {
        out[0] = '\0';
        return out;
    }
    return sodium_bin2base64(out, cap, bin, bin_len, sodium_base64_VARIANT_ORIGINAL);
}

int tz_base64_decode(uint8_t *out, size_t cap, size_t *out_len, const char *b64, size_t b64_len,
                     tz_err *err)
{
    if (out_len == NULL || (out == NULL && cap != 0) || (b64 == NULL && b64_len != 0))
        return tz_err_set(err, TZ_ERR_USAGE, "base64: NULL buffer passed to the decoder");
    *out_len = 0;
    if (b64_len == 0)
        return TZ_OK;
    int rc = TZ_OK;
    if (b64_len % 4 != 0) {
        rc = tz_err_set(err, TZ_ERR_INPUT,
                        "base64: length %zu is not a multiple of 4 (standard base64 with '=' padding)", b64_len);
        goto fail;
    }
    /* libsodium 1.0.18 decodes any byte >= 0x80 as if it were '/' (it
     * reads the input through a signed char), so "/" and "\xC3" would
     * decode alike: check the alphabet ourselves. */
    for (size_t i = 0; i < b64_len; i++) {
        unsigned char c = (unsigned char)b64[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' || c == '/'
              || c == '=')) {
            rc = tz_err_set(err, TZ_ERR_INPUT,
                            "base64: not canonical standard base64 (byte 0x%02x at offset %zu is outside "
                            "A-Z a-z 0-9 + / =)",
                            c, i);
            goto fail;
        }
    }
    size_t pad = (b64[b64_len - 1] == '=') + (b64[b64_len - 2] == '=');
    size_t want = b64_len / 4 * 3 - pad;
    if (want > cap) {
        rc = tz_err_set(err, TZ_ERR_INPUT, "base64: decodes to %zu bytes, at most %zu allowed here", want, cap);
        goto fail;
    }
    size_t got = 0;
    if (sodium_base642bin(out, cap, b64, b64_len, NULL, &got, NULL, sodium_base64_VARIANT_ORIGINAL) != 0
        || got != want) {
        rc = tz_err_set(err, TZ_ERR_INPUT,
                        "base64: not canonical standard base64 (alphabet A-Z a-z 0-9 + /, '=' padding, "
                        "zero trailing bits, no whitespace)");
        goto fail;
    }
    *out_len = got;
    return TZ_OK;
fail:
    sodium_memzero(out, cap < b64_len ? cap : b64_len);
    return rc;
}

void tz_hex_encode(char *out, const uint8_t *bin, size_t n)
{
    if (n == 0) {
        out[0] = '\0';
        return;
    }
    sodium_bin2hex(out, 2 * n + 1, bin, n);
}

int tz_hex_decode(uint8_t *out, size_t cap, size_t *out_len, const char *hex, size_t hex_len,
                  tz_err *err)
{
    if (out_len == NULL || (out == NULL && cap != 0) || (hex == NULL && hex_len != 0))
        return tz_err_set(err, TZ_ERR_USAGE, "hex: NULL buffer passed to the decoder");
    *out_len = 0;
    if (hex_len == 0)
        return TZ_OK;
    int rc = TZ_OK;
    size_t got = 0;
    if (hex_len % 2 != 0)
        rc = tz_err_set(err, TZ_ERR_INPUT, "hex: odd length %zu (two digits per byte)", hex_len);
    else if (hex_len / 2 > cap)
        rc = tz_err_set(err, TZ_ERR_INPUT, "hex: decodes to %zu bytes, at most %zu allowed here", hex_len / 2, cap);
    else if (sodium_hex2bin(out, cap, hex, hex_len, NULL, &got, NULL) != 0 || got != hex_len / 2)
        rc = tz_err_set(err, TZ_ERR_INPUT, "hex: invalid digit (only 0-9 a-f A-F allowed)");
    if (rc != TZ_OK) {
        sodium_memzero(out, cap < hex_len / 2 ? cap : hex_len / 2);
        return rc;
    }
    *out_len = got;
    return TZ_OK;
}

size_t tz_utf8_next(uint32_t *cp, const uint8_t *s, size_t len)
{
    if (len == 0)
        return 0;
    uint8_t b0 = s[0];
    if (b0 < 0x80) {
        *cp = b0;
        return 1;
    }
    size_t n;
    uint32_t c, min;
    if (b0 >= 0xC2 && b0 <= 0xDF) {
        n = 2, c = b0 & 0x1Fu, min = 0x80;
    } else if (b0 >= 0xE0 && b0 <= 0xEF) {
        n = 3, c = b0 & 0x0Fu, min = 0x800;
    } else if (b0 >= 0xF0 && b0 <= 0xF4) {
        n = 4, c = b0 & 0x07u, min = 0x10000;
    } else {
        return 0; /* continuation byte, C0/C1 overlong lead, or F5..FF */
    }
    if (len < n)
        return 0;
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        c = c << 6 | (s[i] & 0x3Fu);
    }
    if (c < min || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF))
        return 0;
    *cp = c;
    return n;
}

int tz_text_check(const char *field, const char *s, size_t len, size_t max, tz_err *err)
{
    if (len == 0)
        return tz_err_set(err, TZ_ERR_INPUT, "%s: empty (1..%zu bytes)", field, max);
    if (len > max)
        return tz_err_set(err, TZ_ERR_INPUT, "%s: %zu bytes (at most %zu)", field, len, max);
    const uint8_t *b = (const uint8_t *)s;
    for (size_t i = 0; i < len;) {
        uint32_t cp = 0;
        size_t n = tz_utf8_next(&cp, b + i, len - i);
        if (n == 0)
            return tz_err_set(err, TZ_ERR_INPUT, "%s: not valid UTF-8 (byte %zu)", field, i);
        if (cp == 0)
            return tz_err_set(err, TZ_ERR_INPUT, "%s: contains a NUL byte (byte %zu)", field, i);
        i += n;
    }
    return TZ_OK;
}

size_t tz_utf8_repair(char *s, size_t len)
{
    size_t fixed = 0;
    for (size_t i = 0; i < len;) {
        uint32_t cp;
        size_t n = tz_utf8_next(&cp, (const uint8_t *)s + i, len - i);
        if (n == 0) {
            s[i] = '?';
            fixed++;
            n = 1;
        }
        i += n;
    }
    return fixed;
}
