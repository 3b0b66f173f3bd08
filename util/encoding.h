/*
 * encoding.h: base64 (RFC 4648 §4, standard alphabet, '=' padding), lower-case
 * hex, and a UTF-8 scalar decoder, all strict.
 *
 * Every hash, key and signature that leaves the process goes through these
 * functions, so each byte string has exactly one text form: the decoders
 * reject missing or extra padding, non-zero trailing bits ("AB==" is not
 * "AA=="), whitespace and any other character outside the alphabet. They
 * wrap libsodium (sodium_bin2base64 / sodium_base642bin with
 * sodium_base64_VARIANT_ORIGINAL, sodium_bin2hex / sodium_hex2bin).
 */
#ifndef TZ_UTIL_ENCODING_H
#define TZ_UTIL_ENCODING_H

#include <stddef.h>
#include <stdint.h>

#include "util/status.h"

/* The buffer size tz_base64_encode needs for bin_len bytes, including the
 * terminating NUL: 4 * ceil(bin_len / 3) + 1. Returns 0 when that size does
 * not fit in a size_t (no buffer can hold it). */
size_t tz_base64_encoded_len(size_t bin_len);

/* Writes the padded base64 form of bin[0..bin_len) and a NUL to out.
 * Returns out, or NULL when cap < tz_base64_encoded_len(bin_len) (then out
 * is not touched). bin may be NULL when bin_len is 0. */
char *tz_base64_encode(char *out, size_t cap, const uint8_t *bin, size_t bin_len);

/* Decodes exactly b64[0..b64_len) (no NUL needed) into out, storing the byte
 * count in *out_len. Strict: standard alphabet, length a multiple of 4,
 * '=' padding present where needed and nowhere else, trailing bits zero, no
 * whitespace. An empty input decodes to 0 bytes.
 * Errors: TZ_ERR_INPUT for anything else, and when the decoded bytes would
 * not fit in cap; TZ_ERR_USAGE for NULL pointers. The message says what was
 * wrong with the base64 but not which field it was: callers add that with
 * tz_err_prefix(). On an input error *out_len is 0 and the first
 * min(cap, b64_len) bytes of out are zeroed, so no partial result survives. */
int tz_base64_decode(uint8_t *out, size_t cap, size_t *out_len, const char *b64, size_t b64_len,
                     tz_err *err) TZ_MUST_CHECK;

/* Writes the lower-case hex form of bin[0..n) and a NUL to out, which must
 * have room for 2 * n + 1 bytes. Cannot fail. */
void tz_hex_encode(char *out, const uint8_t *bin, size_t n);

/* Decodes exactly hex[0..hex_len) into out, storing the byte count in
 * *out_len. Digits may be upper or lower case (callers that need the one
 * canonical lower-case form, like key strings, check that themselves); the
 * length must be even; nothing but hex digits is allowed.
 * Errors: TZ_ERR_INPUT (bad digit, odd length, more than cap bytes);
 * TZ_ERR_USAGE for NULL pointers. On an input error *out_len is 0 and the
 * first min(cap, hex_len / 2) bytes of out are zeroed. */
int tz_hex_decode(uint8_t *out, size_t cap, size_t *out_len, const char *hex, size_t hex_len,
                  tz_err *err) TZ_MUST_CHECK;

/* Decodes the UTF-8 sequence at the start of s[0..len). Returns its length
 * (1 to 4) and stores the code point in *cp; returns 0 (and leaves *cp
 * alone) when len is 0 or s does not start with a valid shortest-form
 * encoding of a Unicode scalar value (no overlongs, no surrogates
 * U+D800..U+DFFF, nothing above U+10FFFF). */
size_t tz_utf8_next(uint32_t *cp, const uint8_t *s, size_t len);

/* Checks a text value that came from outside (a query parameter, a command
 * line option) before it is used: 1..max bytes, well-formed UTF-8
 * (tz_utf8_next), no NUL byte. field names it in the message, e.g.
 * "person: 129 bytes (at most 128)" or "id: not valid UTF-8 (byte 3)".
 * Returns TZ_OK or TZ_ERR_INPUT (err filled); reads s[0..len) only. */
int tz_text_check(const char *field, const char *s, size_t len, size_t max,
                  tz_err *err) TZ_MUST_CHECK;

/* Makes s[0..len) well-formed UTF-8 in place by replacing every byte that
 * does not start a valid sequence with '?'; the length is unchanged (a
 * message cut in the middle of a character by snprintf loses nothing else).
 * Returns the number of bytes replaced. Cannot fail. */
size_t tz_utf8_repair(char *s, size_t len);

#endif
