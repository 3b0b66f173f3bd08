/*
 * key.h: Ed25519 keys as the C2SP signed-note ecosystem writes them (key
 * names, 32-bit key ids, verifier and secret key strings) and the statement
 * signatures of the ledger. docs/KEYS.md describes every byte.
 *
 *   key id          = big-endian uint32 of SHA-256(name || 0x0A || 0x01 || pk)[0..4)
 *   verifier key    = name "+" hex8(id) "+" base64(0x01 || pk)
 *   secret key      = "PRIVATE+KEY+" name "+" hex8(id) "+" base64(0x01 || seed)
 *   statement sig   = Ed25519(sk, TZ_STATEMENT_TAG || statement bytes)
 *
 * A tz_secret_key holds secret material: wipe it with tz_key_wipe() on every
 * path once done.
 */
#ifndef TZ_CRYPTO_KEY_H
#define TZ_CRYPTO_KEY_H

#include <stddef.h>
#include <stdint.h>

#include "util/status.h"

#define TZ_KEY_NAME_MAX 64
#define TZ_KEY_STRING_MAX 160 /* enough for any verifier or secret key string + NUL */
#define TZ_STATEMENT_TAG "taizhang/statement/v1\n"

typedef struct tz_public_key {
    char name[TZ_KEY_NAME_MAX + 1]; /* NUL-terminated, passes tz_key_check_name */
    uint32_t id;                    /* tz_key_id(name, pk) */
    uint8_t pk[32];                 /* Ed25519 public key (RFC 8032 encoding) */
} tz_public_key;

typedef struct tz_secret_key {
    tz_public_key pub;
    uint8_t sk[64]; /* libsodium form: seed || pk */
} tz_secret_key;

/* Checks a key name against the C2SP signed-note rules, tightened: 1 to
 * TZ_KEY_NAME_MAX bytes of valid UTF-8 with no Unicode white space (the set
 * Go's unicode.IsSpace reports), no '+' (U+002B, the key string separator)
 * and no control character (U+0000..U+001F, U+007F..U+009F).
 * Returns TZ_OK, TZ_ERR_INPUT naming the rule and the byte offset, or
 * TZ_ERR_USAGE when name is NULL. */
int tz_key_check_name(const char *name, tz_err *err) TZ_MUST_CHECK;

/* Makes a fresh random Ed25519 key named name.
 * Errors: TZ_ERR_INPUT (bad name), TZ_ERR_USAGE (NULL out or name),
 * TZ_ERR_INTERNAL (libsodium could not initialise). *out is written only on
 * success; temporaries are wiped on every path. */
int tz_key_generate(tz_secret_key *out, const char *name, tz_err *err) TZ_MUST_CHECK;

/* Derives the Ed25519 key with the given 32-byte seed (RFC 8032 private
 * key), named name. Same errors and guarantees as tz_key_generate. The
 * caller still owns and wipes seed. */
int tz_key_from_seed(tz_secret_key *out, const char *name, const uint8_t seed[32],
                     tz_err *err) TZ_MUST_CHECK;

/* Wipes *key with sodium_memzero. Accepts NULL. */
void tz_key_wipe(tz_secret_key *key);

/* Returns the C2SP key id of an Ed25519 key: the first four bytes, read
 * big-endian, of SHA-256(name || 0x0A || 0x01 || pk). name is a
 * NUL-terminated string (not checked here). Cannot fail. */
uint32_t tz_key_id(const char *name, const uint8_t pk[32]);

/* Writes the verifier key string "name+hex8+base64(0x01||pk)" and a NUL to
 * out. Errors: TZ_ERR_USAGE when cap is too small (TZ_KEY_STRING_MAX is
 * always enough), pointers are NULL, or key is inconsistent (bad name, id
 * not tz_key_id(name, pk)). out is written only on success. */
int tz_key_format_public(char *out, size_t cap, const tz_public_key *key, tz_err *err) TZ_MUST_CHECK;

/* Parses exactly s[0..len) (no newline, no NUL inside) as a verifier key
 * string. Rejects: a secret key string, a bad name, an id that is not 8
 * lower-case hex digits or does not match, base64 that is not canonical or
 * does not hold exactly 33 bytes, an algorithm byte other than 0x01, a
 * public key that is not a valid Ed25519 point, and any trailing bytes.
 * Errors: TZ_ERR_INPUT ("key string: ..." naming the rule), TZ_ERR_USAGE
 * for NULL pointers. *out is written only on success. */
int tz_key_parse_public(tz_public_key *out, const char *s, size_t len, tz_err *err) TZ_MUST_CHECK;

/* Writes the secret key string "PRIVATE+KEY+name+hex8+base64(0x01||seed)"
 * (the format of golang.org/x/mod/sumdb/note) and a NUL to out. The result
 * is secret: wipe it after use. Errors: TZ_ERR_USAGE when cap is too small,
 * pointers are NULL or key is inconsistent (bad name, wrong id, sk not
 * seed || pk). out is written only on success; temporaries are wiped. */
int tz_key_format_secret(char *out, size_t cap, const tz_secret_key *key, tz_err *err) TZ_MUST_CHECK;

/* Parses exactly s[0..len) as a secret key string, derives the public key
 * from the seed and checks the id against it. Rejects what
 * tz_key_parse_public rejects, plus a missing "PRIVATE+KEY+" prefix.
 * Messages never contain key material. Errors: TZ_ERR_INPUT, TZ_ERR_USAGE.
 * *out is written only on success; temporaries are wiped on every path. */
int tz_key_parse_secret(tz_secret_key *out, const char *s, size_t len, tz_err *err) TZ_MUST_CHECK;

/* Signs a statement: sig = Ed25519(key, TZ_STATEMENT_TAG || stmt[0..len)).
 * The tag keeps statement signatures from ever verifying as note, checkpoint
 * or any other signature made with the same key. stmt may be NULL when len
 * is 0. Errors: TZ_ERR_USAGE (NULL pointers, or key->sk does not end in
 * key->pub.pk), TZ_ERR_NOMEM. sig is written only on success. */
int tz_key_sign_statement(uint8_t sig[64], const tz_secret_key *key, const uint8_t *stmt, size_t len,
                          tz_err *err) TZ_MUST_CHECK;

/* Verifies sig as an Ed25519 signature by pk over TZ_STATEMENT_TAG ||
 * stmt[0..len). Allocates only for statements above 4 KiB, keeps no state,
 * and is safe to call from many threads at once (after sodium_init()).
 * Returns TZ_OK, TZ_ERR_SIGNATURE when it does not verify, TZ_ERR_USAGE for
 * NULL pointers, TZ_ERR_NOMEM. */
int tz_key_verify_statement(const uint8_t sig[64], const uint8_t pk[32], const uint8_t *stmt, size_t len,
                            tz_err *err) TZ_MUST_CHECK;

#endif
