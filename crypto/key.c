/*
 * key.c: Ed25519 keys in the text forms of C2SP signed-note, and statement
 * signatures.
 *
 * Key strings are what people copy between machines, so parsing is strict
 * and every field is checked against the others: the id must be the one
 * computed from name and key, the algorithm byte must be 0x01, the base64
 * must be canonical and nothing may follow it. Secret key strings carry the
 * 32-byte seed; the public key is derived from it and must hash to the
 * stated id, which catches a seed pasted under the wrong name.
 *
 * Statement verification is the hot path of `taizhang verify` (one call per
 * signature, about a million per replay): it copies tag and statement into
 * a stack buffer when they fit in 4 KiB, so the common case does not touch
 * the allocator, and it keeps no state between calls.
 */
#include "crypto/key.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/encoding.h"

#define ALG_ED25519 0x01
#define SECRET_PREFIX "PRIVATE+KEY+"
#define SECRET_PREFIX_LEN (sizeof SECRET_PREFIX - 1)
#define TAG_LEN (sizeof TZ_STATEMENT_TAG - 1)
#define KEY_B64_LEN 44 /* base64 of 33 bytes, no padding needed */
#define STACK_MSG_MAX 4096

/* Go's unicode.IsSpace: Unicode White_Space. */
static int is_unicode_space(uint32_t c)
{
    return (c >= 0x09 && c <= 0x0D) || c == 0x20 || c == 0x85 || c == 0xA0 || c == 0x1680
           || (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F
           || c == 0x205F || c == 0x3000;
}

static int check_name_bytes(const char *name, size_t len, tz_err *err)
{
    if (len == 0)
        return tz_err_set(err, TZ_ERR_INPUT, "key name: must not be empty");
    if (len > TZ_KEY_NAME_MAX)
        return tz_err_set(err, TZ_ERR_INPUT, "key name: %zu bytes, at most %d allowed", len,
                          TZ_KEY_NAME_MAX);
    const uint8_t *s = (const uint8_t *)name;
    for (size_t i = 0; i < len;) {
        uint32_t c;
        size_t n = tz_utf8_next(&c, s + i, len - i);
        if (n == 0)
            return tz_err_set(err, TZ_ERR_INPUT, "key name: not valid UTF-8 at byte %zu", i);
        if (c == '+')
            return tz_err_set(err, TZ_ERR_INPUT,
                              "key name: '+' at byte %zu is not allowed (it separates key string fields)", i);
        if (is_unicode_space(c))
            return tz_err_set(err, TZ_ERR_INPUT, "key name: white space U+%04X at byte %zu is not allowed",
                              (unsigned)c, i);
        if (c < 0x20 || (c >= 0x7F && c <= 0x9F))
            return tz_err_set(err, TZ_ERR_INPUT,
                              "key name: control character U+%04X at byte %zu is not allowed", (unsigned)c, i);
        i += n;
    }
    return TZ_OK;
}

int tz_key_check_name(const char *name, tz_err *err)
{
    if (name == NULL)
        return tz_err_set(err, TZ_ERR_USAGE, "key name: NULL");
    return check_name_bytes(name, strnlen(name, TZ_KEY_NAME_MAX + 1), err);
}

uint32_t tz_key_id(const char *name, const uint8_t pk[32])
{
    static const uint8_t sep[2] = {0x0A, ALG_ED25519};
    crypto_hash_sha256_state st;
    uint8_t h[crypto_hash_sha256_BYTES];
    crypto_hash_sha256_init(&st);
    crypto_hash_sha256_update(&st, (const uint8_t *)name, strlen(name));
    crypto_hash_sha256_update(&st, sep, sizeof sep);
    crypto_hash_sha256_update(&st, pk, 32);
    crypto_hash_sha256_final(&st, h);
    return (uint32_t)h[0] << 24 | (uint32_t)h[1] << 16 | (uint32_t)h[2] << 8 | h[3];
}

void tz_key_wipe(tz_secret_key *key)
{
    if (key != NULL)
        sodium_memzero(key, sizeof *key);
}

static int sodium_ready(tz_err *err)
{
    if (sodium_init() < 0)
        return tz_err_set(err, TZ_ERR_INTERNAL, "libsodium could not be initialised");
    return TZ_OK;
}

/* Fills out from a libsodium key pair; the caller has checked name. */
static void fill_secret(tz_secret_key *out, const char *name, const uint8_t pk[32], const uint8_t sk[64])
{
    memset(&out->pub, 0, sizeof out->pub);
    memcpy(out->pub.name, name, strlen(name) + 1);
    memcpy(out->pub.pk, pk, 32);
    out->pub.id = tz_key_id(name, pk);
    memcpy(out->sk, sk, 64);
}

int tz_key_generate(tz_secret_key *out, const char *name, tz_err *err)
{
    if (out == NULL)
        return tz_err_set(err, TZ_ERR_USAGE, "tz_key_generate: NULL key");
    int rc = tz_key_check_name(name, err);
    if (rc != TZ_OK)
        return rc;
    if ((rc = sodium_ready(err)) != TZ_OK)
        return rc;
    uint8_t pk[32], sk[64];
    crypto_sign_keypair(pk, sk);
    fill_secret(out, name, pk, sk);
    sodium_memzero(sk, sizeof sk);
    return TZ_OK;
}

int tz_key_from_seed(tz_secret_key *out, const char *name, const uint8_t seed[32], tz_err *err)
{
    if (out == NULL || seed == NULL)
        return tz_err_set(err, TZ_ERR_USAGE, "tz_key_from_seed: NULL key or seed");
    int rc = tz_key_check_name(name, err);
    if (rc != TZ_OK)
        return rc;
    if ((rc = sodium_ready(err)) != TZ_OK)
        return rc;
    uint8_t pk[32], sk[64];
    crypto_sign_seed_keypair(pk, sk, seed);
    fill_secret(out, name, pk, sk);
    sodium_memzero(sk, sizeof sk);
    return TZ_OK;
}

/* Checks that a public key's fields agree with each other. */
static int check_public(const tz_public_key *key, tz_err *err)
{
    if (memchr(key->name, '\0', sizeof key->name) == NULL)
        return tz_err_set(err, TZ_ERR_USAGE, "key: name is not NUL-terminated");
    int rc = tz_key_check_name(key->name, err);
    if (rc != TZ_OK)
        return rc;
    uint32_t id = tz_key_id(key->name, key->pk);
    if (id != key->id)
        return tz_err_set(err, TZ_ERR_USAGE, "key %s: id %08x does not match name and public key (%08x)",
                          key->name, (unsigned)key->id, (unsigned)id);
    return TZ_OK;
}

static int check_secret(const tz_secret_key *key, tz_err *err)
{
    int rc = check_public(&key->pub, err);
    if (rc != TZ_OK)
        return rc;
    if (sodium_memcmp(key->sk + 32, key->pub.pk, 32) != 0)
        return tz_err_set(err, TZ_ERR_USAGE, "key %s: secret key does not end in its public key",
                          key->pub.name);
    return TZ_OK;
}

/* Writes prefix name "+" hex8 "+" base64(0x01 || data32) and a NUL to out. */
static int format_key_string(char *out, size_t cap, const char *prefix, const tz_public_key *pub,
                             const uint8_t data[32], tz_err *err)
{
    uint8_t raw[33];
    char line[TZ_KEY_STRING_MAX];
    size_t pre = strlen(prefix), nlen = strlen(pub->name);
    size_t need = pre + nlen + 1 + 8 + 1 + KEY_B64_LEN + 1;
    int rc = TZ_OK;
    if (need > sizeof line || need > cap) {
        rc = tz_err_set(err, TZ_ERR_USAGE, "key string: output buffer of %zu bytes, %zu needed", cap, need);
        goto done;
    }
    raw[0] = ALG_ED25519;
    memcpy(raw + 1, data, 32);
    snprintf(line, sizeof line, "%s%s+%08x+", prefix, pub->name, (unsigned)pub->id);
    if (tz_base64_encode(line + pre + nlen + 10, sizeof line - (pre + nlen + 10), raw, sizeof raw) == NULL) {
        rc = tz_err_set(err, TZ_ERR_INTERNAL, "key string: base64 buffer too small");
        goto done;
    }
    memcpy(out, line, need);
done:
    sodium_memzero(raw, sizeof raw);
    sodium_memzero(line, sizeof line);
    return rc;
}

int tz_key_format_public(char *out, size_t cap, const tz_public_key *key, tz_err *err)
{
    if (out == NULL || key == NULL)
        return tz_err_set(err, TZ_ERR_USAGE, "tz_key_format_public: NULL argument");
    int rc = check_public(key, err);
    if (rc != TZ_OK)
        return rc;
    return format_key_string(out, cap, "", key, key->pk, err);
}

int tz_key_format_secret(char *out, size_t cap, const tz_secret_key *key, tz_err *err)
{
    if (out == NULL || key == NULL)
        return tz_err_set(err, TZ_ERR_USAGE, "tz_key_format_secret: NULL argument");
    int rc = check_secret(key, err);
    if (rc != TZ_OK)
        return rc;
    return format_key_string(out, cap, SECRET_PREFIX, &key->pub, key->sk, err);
}

/*
 * Parses "name+hex8+base64(0x01 || data32)" (what follows the secret prefix,
 * or a whole verifier key). what names the string in messages. On success
 * fills name, *id and data; the caller checks the id against the public key
 * and wipes data. Messages never quote the input.
 */
static int parse_key_fields(char name[TZ_KEY_NAME_MAX + 1], uint32_t *id, uint8_t data[32], const char *s,
                            size_t len, const char *what, tz_err *err)
{
    uint8_t raw[33];
    size_t raw_len = 0;
    int rc = TZ_OK;
    if (memchr(s, '\0', len) != NULL)
        return tz_err_set(err, TZ_ERR_INPUT, "%s: contains a NUL byte", what);
    const char *plus = memchr(s, '+', len);
    if (plus == NULL)
        return tz_err_set(err, TZ_ERR_INPUT, "%s: expected name+id+key, found no '+'", what);
    size_t nlen = (size_t)(plus - s);
    if ((rc = check_name_bytes(s, nlen, err)) != TZ_OK) {
        tz_err_prefix(err, "%s: ", what);
        return rc;
    }
    const char *hex = plus + 1;
    size_t rest = len - nlen - 1;
    if (rest < 9 || hex[8] != '+')
        return tz_err_set(err, TZ_ERR_INPUT, "%s: key id must be 8 lower-case hex digits followed by '+'",
                          what);
    uint32_t v = 0;
    for (size_t i = 0; i < 8; i++) {
        char c = hex[i];
        int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
        if (d < 0)
            return tz_err_set(err, TZ_ERR_INPUT, "%s: key id must be 8 lower-case hex digits", what);
        v = v << 4 | (uint32_t)d;
    }
    const char *b64 = hex + 9;
    size_t b64_len = rest - 9;
    if (b64_len < KEY_B64_LEN)
        return tz_err_set(err, TZ_ERR_INPUT, "%s: key data truncated (%zu base64 characters, %d expected)",
                          what, b64_len, KEY_B64_LEN);
    if (b64_len > KEY_B64_LEN)
        return tz_err_set(err, TZ_ERR_INPUT, "%s: %zu unexpected bytes after the %d base64 characters of the key",
                          what, b64_len - KEY_B64_LEN, KEY_B64_LEN);
    if ((rc = tz_base64_decode(raw, sizeof raw, &raw_len, b64, b64_len, err)) != TZ_OK) {
        tz_err_prefix(err, "%s: key data: ", what);
        goto done;
    }
    if (raw_len != sizeof raw) {
        rc = tz_err_set(err, TZ_ERR_INPUT, "%s: key data is %zu bytes, 33 expected", what, raw_len);
        goto done;
    }
    if (raw[0] != ALG_ED25519) {
        rc = tz_err_set(err, TZ_ERR_INPUT, "%s: algorithm byte 0x%02x is not 0x01 (Ed25519)", what, raw[0]);
        goto done;
    }
    memcpy(name, s, nlen);
    name[nlen] = '\0';
    *id = v;
    memcpy(data, raw + 1, 32);
done:
    sodium_memzero(raw, sizeof raw);
    return rc;
}

static int id_mismatch(const char *what, uint32_t stated, uint32_t computed, tz_err *err)
{
    return tz_err_set(err, TZ_ERR_INPUT, "%s: key id %08x does not match the name and key (%08x expected)",
                      what, (unsigned)stated, (unsigned)computed);
}

int tz_key_parse_public(tz_public_key *out, const char *s, size_t len, tz_err *err)
{
    static const char what[] = "verifier key string";
    if (out == NULL || s == NULL)
        return tz_err_set(err, TZ_ERR_USAGE, "tz_key_parse_public: NULL argument");
    if (len >= TZ_KEY_STRING_MAX)
        return tz_err_set(err, TZ_ERR_INPUT, "%s: %zu bytes, at most %d allowed", what, len,
                          TZ_KEY_STRING_MAX - 1);
    if (len >= SECRET_PREFIX_LEN && memcmp(s, SECRET_PREFIX, SECRET_PREFIX_LEN) == 0)
        return tz_err_set(err, TZ_ERR_INPUT,
                          "%s: this is a secret key string (PRIVATE+KEY+...), expected name+id+key", what);
    tz_public_key key;
    memset(&key, 0, sizeof key);
    int rc = parse_key_fields(key.name, &key.id, key.pk, s, len, what, err);
    if (rc != TZ_OK)
        return rc;
    uint32_t id = tz_key_id(key.name, key.pk);
    if (id != key.id)
        return id_mismatch(what, key.id, id, err);
    if (crypto_core_ed25519_is_valid_point(key.pk) != 1)
        return tz_err_set(err, TZ_ERR_INPUT, "%s: the public key is not a valid Ed25519 point", what);
    *out = key;
    return TZ_OK;
}

int tz_key_parse_secret(tz_secret_key *out, const char *s, size_t len, tz_err *err)
{
    static const char what[] = "secret key string";
    if (out == NULL || s == NULL)
        return tz_err_set(err, TZ_ERR_USAGE, "tz_key_parse_secret: NULL argument");
    if (len >= TZ_KEY_STRING_MAX)
        return tz_err_set(err, TZ_ERR_INPUT, "%s: %zu bytes, at most %d allowed", what, len,
                          TZ_KEY_STRING_MAX - 1);
    if (len < SECRET_PREFIX_LEN || memcmp(s, SECRET_PREFIX, SECRET_PREFIX_LEN) != 0)
        return tz_err_set(err, TZ_ERR_INPUT, "%s: must start with PRIVATE+KEY+", what);
    char name[TZ_KEY_NAME_MAX + 1];
    uint32_t id = 0;
    uint8_t seed[32], pk[32], sk[64];
    int rc = parse_key_fields(name, &id, seed, s + SECRET_PREFIX_LEN, len - SECRET_PREFIX_LEN, what, err);
    if (rc != TZ_OK)
        goto done;
    if ((rc = sodium_ready(err)) != TZ_OK)
        goto done;
    crypto_sign_seed_keypair(pk, sk, seed);
    uint32_t want = tz_key_id(name, pk);
    if (want != id) {
        rc = id_mismatch(what, id, want, err);
        goto done;
    }
    fill_secret(out, name, pk, sk);
done:
    sodium_memzero(seed, sizeof seed);
    sodium_memzero(sk, sizeof sk);
    return rc;
}

/* Points *msg at TAG || stmt, in buf when it fits, else in a malloc'd block
 * the caller frees (it compares *msg with buf). */
static int tagged_message(uint8_t **msg, size_t *mlen, uint8_t *buf, size_t cap, const uint8_t *stmt,
                          size_t len, tz_err *err)
{
    if (len > SIZE_MAX - TAG_LEN)
        return tz_err_set(err, TZ_ERR_INPUT, "statement: %zu bytes is too long to sign", len);
    *mlen = TAG_LEN + len;
    *msg = *mlen <= cap ? buf : malloc(*mlen);
    if (*msg == NULL)
        return tz_err_set(err, TZ_ERR_NOMEM, "statement: cannot allocate %zu bytes", *mlen);
    memcpy(*msg, TZ_STATEMENT_TAG, TAG_LEN);
    if (len != 0)
        memcpy(*msg + TAG_LEN, stmt, len);
    return TZ_OK;
}

int tz_key_sign_statement(uint8_t sig[64], const tz_secret_key *key, const uint8_t *stmt, size_t len,
                          tz_err *err)
{
    if (sig == NULL || key == NULL || (stmt == NULL && len != 0))
        return tz_err_set(err, TZ_ERR_USAGE, "tz_key_sign_statement: NULL argument");
    if (sodium_memcmp(key->sk + 32, key->pub.pk, 32) != 0)
        return tz_err_set(err, TZ_ERR_USAGE, "statement signature: secret key does not end in its public key");
    uint8_t buf[STACK_MSG_MAX], out[64];
    uint8_t *msg = NULL;
    size_t mlen = 0;
    int rc = tagged_message(&msg, &mlen, buf, sizeof buf, stmt, len, err);
    if (rc != TZ_OK)
        return rc;
    crypto_sign_detached(out, NULL, msg, mlen, key->sk);
    memcpy(sig, out, sizeof out);
    if (msg != buf)
        free(msg);
    return TZ_OK;
}

int tz_key_verify_statement(const uint8_t sig[64], const uint8_t pk[32], const uint8_t *stmt, size_t len,
                            tz_err *err)
{
    if (sig == NULL || pk == NULL || (stmt == NULL && len != 0))
        return tz_err_set(err, TZ_ERR_USAGE, "tz_key_verify_statement: NULL argument");
    uint8_t buf[STACK_MSG_MAX];
    uint8_t *msg = NULL;
    size_t mlen = 0;
    int rc = tagged_message(&msg, &mlen, buf, sizeof buf, stmt, len, err);
    if (rc != TZ_OK)
        return rc;
    if (crypto_sign_verify_detached(sig, msg, mlen, pk) != 0)
        rc = tz_err_set(err, TZ_ERR_SIGNATURE, "statement signature: does not verify under the given key");
    if (msg != buf)
        free(msg);
    return rc;
}
