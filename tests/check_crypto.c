/*
 * check_crypto.c: crypto/hash, crypto/key and crypto/keyfile.
 *
 * Known answers come from outside libsodium: the golang.org/x/mod note
 * package vectors (PeterNeumann), RFC 8032 test 1, and statement signatures
 * made with OpenSSL (tests/vectors/statement_rfc8032.txt). Key strings are
 * mangled the way the Go tests mangle them (every substring, every byte
 * incremented); key files are written to a fresh temporary directory.
 */
#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "crypto/hash.h"
#include "crypto/key.h"
#include "crypto/keyfile.h"
#include "tests/tz_test.h"
#include "util/encoding.h"

#define VEC(name) TZ_SOURCE_DIR "/tests/vectors/" name

static const char PETER_NAME[] = "PeterNeumann";
static const uint32_t PETER_ID = 0xc74f20a3;

/* Reads a one-line vector file and returns it without its '\n'. */
static char *read_line(const char *path, size_t *len)
{
    size_t n = 0;
    char *s = tz_test_read_file(path, &n);
    ck_assert_msg(n > 0 && s[n - 1] == '\n', "%s: not one line", path);
    s[--n] = '\0';
    *len = n;
    return s;
}

/* Fetches "<field> <hex>" from the statement vector file. */
static size_t vector_hex(uint8_t *out, size_t cap, const char *field)
{
    char *text = tz_test_read_file(VEC("statement_rfc8032.txt"), NULL);
    size_t flen = strlen(field), n = 0;
    int found = 0;
    for (char *line = strtok(text, "\n"); line != NULL; line = strtok(NULL, "\n")) {
        if (strncmp(line, field, flen) == 0 && line[flen] == ' ') {
            n = tz_test_unhex(out, cap, line + flen + 1);
            found = 1;
        }
    }
    free(text);
    ck_assert_msg(found, "field %s missing", field);
    return n;
}

static void peter_secret(tz_secret_key *key)
{
    size_t len;
    char *s = read_line(VEC("note_peterneumann.key"), &len);
    ck_assert_int_eq(tz_key_parse_secret(key, s, len, NULL), TZ_OK);
    sodium_memzero(s, len);
    free(s);
}

/* ---- hash ---- */

START_TEST(hash_sha256_known_answers)
{
    uint8_t h[TZ_HASH_LEN], want[TZ_HASH_LEN];
    tz_hash_sha256(h, NULL, 0);
    tz_test_unhex(want, sizeof want, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    ck_assert(tz_hash_equal(h, want, sizeof h));
    tz_hash_sha256(h, "abc", 3);
    tz_test_unhex(want, sizeof want, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    ck_assert(tz_hash_equal(h, want, sizeof h));
    /* RFC 6962 leaf hash of "hello world", as in Go's tlog tests (base64
     * TszzRgjTG6xce+z2AG31kAXYKBgQVtCSCE40HmuwBb0=) */
    tz_hash_sha256(h, "\0hello world", 12);
    tz_test_unhex(want, sizeof want, "4eccf34608d31bac5c7becf6006df59005d828181056d092084e341e6bb005bd");
    ck_assert(tz_hash_equal(h, want, sizeof h));
}
END_TEST

START_TEST(hash_equal_every_position)
{
    uint8_t a[TZ_HASH_LEN], b[TZ_HASH_LEN];
    tz_hash_sha256(a, "x", 1);
    memcpy(b, a, sizeof a);
    ck_assert_int_eq(tz_hash_equal(a, b, sizeof a), 1);
    for (size_t i = 0; i < sizeof a; i++)
        for (int bit = 0; bit < 8; bit++) {
            b[i] ^= (uint8_t)(1u << bit);
            ck_assert_int_eq(tz_hash_equal(a, b, sizeof a), 0);
            b[i] ^= (uint8_t)(1u << bit);
        }
    ck_assert_int_eq(tz_hash_equal(a, b, 0), 1);
}
END_TEST

/* ---- key names and ids ---- */

START_TEST(key_names)
{
    static const char *const good[] = {
        "PeterNeumann", "example.com/log", "sum.golang.org", "台账/县委组织部", "a",
        "0123456789012345678901234567890123456789012345678901234567890123", /* 64 bytes */
    };
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        tz_err err = {0};
        ck_assert_msg(tz_key_check_name(good[i], &err) == TZ_OK, "%s: %s", good[i], err.msg);
    }
    static const struct {
        const char *name, *why;
    } bad[] = {
        {"", "empty"},
        {"01234567890123456789012345678901234567890123456789012345678901234", "65 bytes"},
        {"a+b", "'+'"},
        {"a b", "white space U+0020"},
        {"a\tb", "white space U+0009"},
        {"a\nb", "white space U+000A"},
        {"a\xc2\x85", "white space U+0085"},
        {"a\xc2\xa0", "white space U+00A0"},
        {"a\xe2\x80\x83", "white space U+2003"},
        {"a\xe2\x80\xa8", "white space U+2028"},
        {"a\xe3\x80\x80", "white space U+3000"},
        {"a\x01", "control character U+0001"},
        {"a\x7f", "control character U+007F"},
        {"a\xc2\x9b", "control character U+009B"},
        {"\xff", "UTF-8"},
        {"a\xc0\xaf", "UTF-8 at byte 1"},
        {"\xed\xa0\x80", "UTF-8"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        tz_err err = {0};
        ck_assert_int_eq(tz_key_check_name(bad[i].name, &err), TZ_ERR_INPUT);
        ck_assert_msg(strstr(err.msg, bad[i].why) != NULL, "case %zu: %s", i, err.msg);
        ck_assert_ptr_nonnull(strstr(err.msg, "key name"));
    }
    ck_assert_int_eq(tz_key_check_name(NULL, NULL), TZ_ERR_USAGE);
}
END_TEST

START_TEST(key_id_go_vectors)
{
    tz_public_key peter, enoch;
    size_t len;
    char *s = read_line(VEC("note_peterneumann.pub"), &len);
    ck_assert_int_eq(tz_key_parse_public(&peter, s, len, NULL), TZ_OK);
    free(s);
    s = read_line(VEC("note_enochroot.pub"), &len);
    ck_assert_int_eq(tz_key_parse_public(&enoch, s, len, NULL), TZ_OK);
    free(s);
    ck_assert_uint_eq(tz_key_id("PeterNeumann", peter.pk), PETER_ID);
    ck_assert_uint_eq(tz_key_id("EnochRoot", enoch.pk), 0xaf0cfe78);
    ck_assert_uint_ne(tz_key_id("PeterNeumanN", peter.pk), PETER_ID);
    ck_assert_str_eq(enoch.name, "EnochRoot");
}
END_TEST

/* ---- key strings ---- */

START_TEST(key_strings_go_vector_round_trip)
{
    size_t vlen, slen;
    char *vkey = read_line(VEC("note_peterneumann.pub"), &vlen);
    char *skey = read_line(VEC("note_peterneumann.key"), &slen);
    tz_secret_key sk;
    tz_public_key pk;
    tz_err err = {0};
    ck_assert_int_eq(tz_key_parse_secret(&sk, skey, slen, &err), TZ_OK);
    ck_assert_int_eq(tz_key_parse_public(&pk, vkey, vlen, &err), TZ_OK);
    ck_assert_str_eq(sk.pub.name, PETER_NAME);
    ck_assert_uint_eq(sk.pub.id, PETER_ID);
    ck_assert_str_eq(pk.name, PETER_NAME);
    ck_assert_uint_eq(pk.id, PETER_ID);
    ck_assert(tz_hash_equal(sk.pub.pk, pk.pk, 32));
    ck_assert(tz_hash_equal(sk.sk + 32, pk.pk, 32));

    char out[TZ_KEY_STRING_MAX];
    ck_assert_int_eq(tz_key_format_public(out, sizeof out, &sk.pub, &err), TZ_OK);
    ck_assert_str_eq(out, vkey);
    ck_assert_int_eq(tz_key_format_secret(out, sizeof out, &sk, &err), TZ_OK);
    ck_assert_str_eq(out, skey);

    /* exact capacity works, one byte less does not and leaves out alone */
    ck_assert_int_eq(tz_key_format_public(out, vlen + 1, &pk, &err), TZ_OK);
    memset(out, 'x', sizeof out);
    ck_assert_int_eq(tz_key_format_public(out, vlen, &pk, &err), TZ_ERR_USAGE);
    ck_assert_int_eq(out[0], 'x');
    ck_assert_int_eq(tz_key_format_secret(out, slen, &sk, &err), TZ_ERR_USAGE);
    ck_assert_int_eq(out[0], 'x');

    tz_key_wipe(&sk);
    for (size_t i = 0; i < sizeof sk; i++)
        ck_assert_uint_eq(((uint8_t *)&sk)[i], 0);
    tz_key_wipe(NULL);
    free(vkey);
    free(skey);
}
END_TEST

/* Go's TestNewVerifier / TestNewSigner: every proper substring and every
 * single-byte increment of the key strings is refused. */
START_TEST(key_strings_go_manglings)
{
    const char *files[] = {VEC("note_peterneumann.pub"), VEC("note_peterneumann.key")};
    for (int which = 0; which < 2; which++) {
        size_t len;
        char *s = read_line(files[which], &len);
        for (size_t i = 0; i <= len; i++)
            for (size_t j = i + 1; j <= len; j++) {
                if (i == 0 && j == len)
                    continue;
                tz_public_key pk;
                tz_secret_key sk;
                int rc = which == 0 ? tz_key_parse_public(&pk, s + i, j - i, NULL)
                                    : tz_key_parse_secret(&sk, s + i, j - i, NULL);
                if (rc != TZ_ERR_INPUT)
                    ck_abort_msg("substring [%zu,%zu) accepted", i, j);
            }
        for (size_t i = 0; i < len; i++) {
            s[i]++;
            tz_public_key pk;
            tz_secret_key sk;
            int rc = which == 0 ? tz_key_parse_public(&pk, s, len, NULL) : tz_key_parse_secret(&sk, s, len, NULL);
            ck_assert_msg(rc == TZ_ERR_INPUT, "byte %zu incremented accepted", i);
            s[i]--;
        }
        free(s);
    }
    /* Go's two hand-made bad keys */
    tz_public_key pk;
    tz_err err = {0};
    ck_assert_int_eq(tz_key_parse_public(&pk, "PeterNeumann+cc469956+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TWBADKEY==",
                                         72, &err),
                     TZ_ERR_INPUT);
    ck_assert_int_eq(
        tz_key_parse_public(&pk, "PeterNeumann+173116ae+ZRpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW", 66, &err),
        TZ_ERR_INPUT);
    ck_assert_ptr_nonnull(strstr(err.msg, "algorithm byte 0x65"));
}
END_TEST

/* Builds name+hex8+base64(alg || pk) by hand. */
static void make_vkey(char *out, size_t cap, const char *name, uint32_t id, uint8_t alg, const uint8_t pk[32])
{
    uint8_t raw[33];
    char b64[45];
    raw[0] = alg;
    memcpy(raw + 1, pk, 32);
    ck_assert_ptr_nonnull(tz_base64_encode(b64, sizeof b64, raw, sizeof raw));
    snprintf(out, cap, "%s+%08x+%s", name, (unsigned)id, b64);
}

START_TEST(key_strings_rejected)
{
    size_t vlen, slen;
    char *vkey = read_line(VEC("note_peterneumann.pub"), &vlen);
    char *skey = read_line(VEC("note_peterneumann.key"), &slen);
    tz_public_key peter;
    ck_assert_int_eq(tz_key_parse_public(&peter, vkey, vlen, NULL), TZ_OK);
    char alg2[200], zero_pk[200], space[200], plus[200], junk[200], nl[200], upper[200], badb64[200];
    make_vkey(alg2, sizeof alg2, PETER_NAME, PETER_ID, 0x02, peter.pk);
    uint8_t zero[32] = {0};
    make_vkey(zero_pk, sizeof zero_pk, "zero", tz_key_id("zero", zero), 0x01, zero);
    snprintf(space, sizeof space, "Peter Neumann%s", vkey + strlen(PETER_NAME));
    snprintf(plus, sizeof plus, "Peter+Neumann%s", vkey + strlen(PETER_NAME));
    snprintf(junk, sizeof junk, "%sx", vkey);
    snprintf(nl, sizeof nl, "%s\n", vkey);
    snprintf(upper, sizeof upper, "PeterNeumann+C74F20A3%s", vkey + strlen("PeterNeumann+c74f20a3"));
    snprintf(badb64, sizeof badb64, "%s", vkey);
    badb64[vlen - 5] = '*';
    char wrong_id[200];
    snprintf(wrong_id, sizeof wrong_id, "PeterNeumann+c74f20a4%s", vkey + strlen("PeterNeumann+c74f20a3"));
    const struct {
        const char *s;
        size_t len;
        const char *why;
    } bad[] = {
        {wrong_id, 0, "key id c74f20a4 does not match"},
        {upper, 0, "lower-case hex"},
        {alg2, 0, "algorithm byte 0x02"},
        {space, 0, "white space U+0020"},
        {plus, 0, "lower-case hex"}, /* "Peter" then "Neumann+" is not an id */
        {"+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW", 0, "must not be empty"},
        {badb64, 0, "base64"},
        {vkey, 40, "truncated"},
        {vkey, 22, "truncated"},
        {vkey, 12, "no '+'"},
        {junk, 0, "1 unexpected bytes"},
        {nl, 0, "1 unexpected bytes"},
        {"PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10T=", 0, "not canonical"},
        {zero_pk, 0, "not a valid Ed25519 point"},
        {skey, 0, "secret key string"},
        {"PeterNeumann+c74f20a3\0ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW", 66, "NUL"},
        {"", 0, "no '+'"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        tz_public_key out;
        memset(&out, 0x5A, sizeof out);
        tz_err err = {0};
        size_t len = bad[i].len ? bad[i].len : strlen(bad[i].s);
        ck_assert_msg(tz_key_parse_public(&out, bad[i].s, len, &err) == TZ_ERR_INPUT, "case %zu accepted", i);
        ck_assert_msg(strstr(err.msg, bad[i].why) != NULL, "case %zu: %s", i, err.msg);
        for (size_t j = 0; j < sizeof out; j++) /* *out untouched on failure */
            ck_assert_uint_eq(((uint8_t *)&out)[j], 0x5A);
    }
    /* the secret parser: prefix, id check after deriving the public key, no
     * key material in messages */
    tz_secret_key sk;
    tz_err err = {0};
    ck_assert_int_eq(tz_key_parse_secret(&sk, vkey, vlen, &err), TZ_ERR_INPUT);
    ck_assert_ptr_nonnull(strstr(err.msg, "must start with PRIVATE+KEY+"));
    char other[200];
    snprintf(other, sizeof other, "PRIVATE+KEY+EnochRoot+c74f20a3%s", skey + strlen("PRIVATE+KEY+PeterNeumann+c74f20a3"));
    ck_assert_int_eq(tz_key_parse_secret(&sk, other, strlen(other), &err), TZ_ERR_INPUT);
    ck_assert_ptr_nonnull(strstr(err.msg, "does not match"));
    ck_assert_ptr_null(strstr(err.msg, "AYEKFALV"));
    ck_assert_int_eq(tz_key_parse_public(NULL, vkey, vlen, &err), TZ_ERR_USAGE);
    ck_assert_int_eq(tz_key_parse_secret(&sk, NULL, 0, &err), TZ_ERR_USAGE);
    free(vkey);
    free(skey);
}
END_TEST

START_TEST(key_generate_round_trip)
{
    for (int round = 0; round < 20; round++) {
        tz_secret_key key, back;
        tz_public_key pub;
        char name[32];
        snprintf(name, sizeof name, "example.org/k%d", round);
        ck_assert_int_eq(tz_key_generate(&key, name, NULL), TZ_OK);
        ck_assert_str_eq(key.pub.name, name);
        ck_assert_uint_eq(key.pub.id, tz_key_id(name, key.pub.pk));
        char s[TZ_KEY_STRING_MAX];
        ck_assert_int_eq(tz_key_format_secret(s, sizeof s, &key, NULL), TZ_OK);
        ck_assert_int_eq(tz_key_parse_secret(&back, s, strlen(s), NULL), TZ_OK);
        ck_assert(tz_hash_equal(back.sk, key.sk, 64));
        ck_assert_str_eq(back.pub.name, name);
        ck_assert_int_eq(tz_key_format_public(s, sizeof s, &key.pub, NULL), TZ_OK);
        ck_assert_int_eq(tz_key_parse_public(&pub, s, strlen(s), NULL), TZ_OK);
        ck_assert(tz_hash_equal(pub.pk, key.pub.pk, 32));
        ck_assert_uint_eq(pub.id, key.pub.id);
        tz_key_wipe(&key);
        tz_key_wipe(&back);
    }
    tz_secret_key key;
    memset(&key, 0x5A, sizeof key);
    tz_err err = {0};
    ck_assert_int_eq(tz_key_generate(&key, "bad name", &err), TZ_ERR_INPUT);
    ck_assert_uint_eq(((uint8_t *)&key)[0], 0x5A);
    ck_assert_int_eq(tz_key_generate(NULL, "x", &err), TZ_ERR_USAGE);
}
END_TEST

START_TEST(key_from_seed_rfc8032)
{
    uint8_t seed[32], pk[32];
    vector_hex(seed, sizeof seed, "seed");
    vector_hex(pk, sizeof pk, "pk");
    tz_secret_key key;
    ck_assert_int_eq(tz_key_from_seed(&key, "example.org/county-log", seed, NULL), TZ_OK);
    ck_assert(tz_hash_equal(key.pub.pk, pk, 32));
    ck_assert(tz_hash_equal(key.sk, seed, 32));
    ck_assert_uint_eq(key.pub.id, 0x07ff2b79); /* docs/KEYS.md worked example */
    size_t len;
    char *want = read_line(VEC("county_log.key"), &len);
    char s[TZ_KEY_STRING_MAX];
    ck_assert_int_eq(tz_key_format_secret(s, sizeof s, &key, NULL), TZ_OK);
    ck_assert_str_eq(s, want);
    free(want);
    want = read_line(VEC("county_log.pub"), &len);
    ck_assert_int_eq(tz_key_format_public(s, sizeof s, &key.pub, NULL), TZ_OK);
    ck_assert_str_eq(s, want);
    free(want);
    tz_key_wipe(&key);
}
END_TEST

START_TEST(key_inconsistent_keys_refused)
{
    tz_secret_key key;
    peter_secret(&key);
    char s[TZ_KEY_STRING_MAX];
    tz_err err = {0};
    tz_secret_key bad = key;
    bad.pub.id ^= 1;
    ck_assert_int_eq(tz_key_format_public(s, sizeof s, &bad.pub, &err), TZ_ERR_USAGE);
    ck_assert_int_eq(tz_key_format_secret(s, sizeof s, &bad, &err), TZ_ERR_USAGE);
    bad = key;
    bad.sk[40] ^= 1; /* the public half of sk differs from pub.pk */
    ck_assert_int_eq(tz_key_format_secret(s, sizeof s, &bad, &err), TZ_ERR_USAGE);
    uint8_t sig[64];
    ck_assert_int_eq(tz_key_sign_statement(sig, &bad, (const uint8_t *)"x", 1, &err), TZ_ERR_USAGE);
    tz_key_wipe(&bad);
    tz_key_wipe(&key);
}
END_TEST

/* ---- statement signatures ---- */

static void flip(uint8_t *p, size_t bit) { p[bit / 8] ^= (uint8_t)(1u << (bit % 8)); }

START_TEST(statement_known_answers)
{
    uint8_t seed[32], stmt[64], want[64], sig[64];
    vector_hex(seed, sizeof seed, "seed");
    size_t len = vector_hex(stmt, sizeof stmt, "short_statement");
    vector_hex(want, sizeof want, "short_sig");
    tz_secret_key key;
    ck_assert_int_eq(tz_key_from_seed(&key, "example.org/county-log", seed, NULL), TZ_OK);
    ck_assert_int_eq(tz_key_sign_statement(sig, &key, stmt, len, NULL), TZ_OK);
    ck_assert(tz_hash_equal(sig, want, 64));
    ck_assert_int_eq(tz_key_verify_statement(want, key.pub.pk, stmt, len, NULL), TZ_OK);

    uint8_t *big = malloc(5000);
    ck_assert_ptr_nonnull(big);
    for (size_t i = 0; i < 5000; i++)
        big[i] = (uint8_t)(i % 251);
    vector_hex(want, sizeof want, "long_sig");
    ck_assert_int_eq(tz_key_sign_statement(sig, &key, big, 5000, NULL), TZ_OK);
    ck_assert(tz_hash_equal(sig, want, 64));
    ck_assert_int_eq(tz_key_verify_statement(sig, key.pub.pk, big, 5000, NULL), TZ_OK);
    big[4999] ^= 1;
    tz_err err = {0};
    ck_assert_int_eq(tz_key_verify_statement(sig, key.pub.pk, big, 5000, &err), TZ_ERR_SIGNATURE);
    free(big);
    tz_key_wipe(&key);
}
END_TEST

START_TEST(statement_tag_is_required)
{
    tz_secret_key key;
    peter_secret(&key);
    const uint8_t stmt[] = "\x84\xa2" "at\xa4type";
    size_t len = sizeof stmt - 1;
    uint8_t sig[64], plain[64];
    ck_assert_int_eq(tz_key_sign_statement(sig, &key, stmt, len, NULL), TZ_OK);
    ck_assert_int_eq(tz_key_verify_statement(sig, key.pub.pk, stmt, len, NULL), TZ_OK);
    /* our signature is not a signature of the bare statement ... */
    ck_assert_int_ne(crypto_sign_verify_detached(sig, stmt, len, key.pub.pk), 0);
    /* ... and a signature of the bare statement is not a statement signature */
    crypto_sign_detached(plain, NULL, stmt, len, key.sk);
    tz_err err = {0};
    ck_assert_int_eq(tz_key_verify_statement(plain, key.pub.pk, stmt, len, &err), TZ_ERR_SIGNATURE);
    ck_assert_int_eq(err.code, TZ_ERR_SIGNATURE);
    /* the empty statement signs the tag alone */
    ck_assert_int_eq(tz_key_sign_statement(sig, &key, NULL, 0, NULL), TZ_OK);
    ck_assert_int_eq(tz_key_verify_statement(sig, key.pub.pk, NULL, 0, NULL), TZ_OK);
    ck_assert_int_eq(crypto_sign_verify_detached(sig, (const uint8_t *)TZ_STATEMENT_TAG, strlen(TZ_STATEMENT_TAG),
                                                 key.pub.pk),
                     0);
    ck_assert_int_eq(tz_key_verify_statement(NULL, key.pub.pk, stmt, len, NULL), TZ_ERR_USAGE);
    ck_assert_int_eq(tz_key_sign_statement(sig, NULL, stmt, len, NULL), TZ_ERR_USAGE);
    tz_key_wipe(&key);
}
END_TEST

START_TEST(statement_every_bit_flip_fails)
{
    tz_secret_key key;
    peter_secret(&key);
    uint8_t stmt[40], sig[64], pk[32];
    for (size_t i = 0; i < sizeof stmt; i++)
        stmt[i] = (uint8_t)(i * 7);
    ck_assert_int_eq(tz_key_sign_statement(sig, &key, stmt, sizeof stmt, NULL), TZ_OK);
    memcpy(pk, key.pub.pk, 32);
    for (size_t bit = 0; bit < 8 * sizeof sig; bit++) {
        flip(sig, bit);
        ck_assert_msg(tz_key_verify_statement(sig, pk, stmt, sizeof stmt, NULL) == TZ_ERR_SIGNATURE, "sig bit %zu", bit);
        flip(sig, bit);
    }
    for (size_t bit = 0; bit < 8 * sizeof stmt; bit++) {
        flip(stmt, bit);
        ck_assert_msg(tz_key_verify_statement(sig, pk, stmt, sizeof stmt, NULL) == TZ_ERR_SIGNATURE, "stmt bit %zu", bit);
        flip(stmt, bit);
    }
    for (size_t bit = 0; bit < 8 * sizeof pk; bit++) {
        flip(pk, bit);
        ck_assert_msg(tz_key_verify_statement(sig, pk, stmt, sizeof stmt, NULL) == TZ_ERR_SIGNATURE, "pk bit %zu", bit);
        flip(pk, bit);
    }
    ck_assert_int_eq(tz_key_verify_statement(sig, pk, stmt, sizeof stmt, NULL), TZ_OK);
    /* one byte more or less */
    ck_assert_int_eq(tz_key_verify_statement(sig, pk, stmt, sizeof stmt - 1, NULL), TZ_ERR_SIGNATURE);
    tz_key_wipe(&key);
}
END_TEST

/* ---- key files ---- */

typedef struct {
    char dir[512];
} tmp;

static void path_in(char *out, size_t cap, const tmp *t, const char *name)
{
    ck_assert_int_lt(snprintf(out, cap, "%s/%s", t->dir, name), (int)cap);
}

static mode_t file_mode(const char *path)
{
    struct stat st;
    ck_assert_int_eq(stat(path, &st), 0);
    return st.st_mode & 07777;
}

static void keys_equal(const tz_secret_key *a, const tz_secret_key *b)
{
    ck_assert_str_eq(a->pub.name, b->pub.name);
    ck_assert_uint_eq(a->pub.id, b->pub.id);
    ck_assert(tz_hash_equal(a->pub.pk, b->pub.pk, 32));
    ck_assert(tz_hash_equal(a->sk, b->sk, 64));
}

START_TEST(keyfile_plain_round_trip)
{
    tmp t;
    tz_test_tmpdir(t.dir, sizeof t.dir);
    char path[600], pub[600];
    path_in(path, sizeof path, &t, "log.key");
    path_in(pub, sizeof pub, &t, "log.key.pub");
    tz_secret_key key, back;
    peter_secret(&key);
    tz_err err = {0};
    ck_assert_int_eq(tz_keyfile_write_secret(path, &key, NULL, &err), TZ_OK);
    ck_assert_uint_eq(file_mode(path), 0600);
    size_t len;
    char *text = tz_test_read_file(path, &len);
    char *want = tz_test_read_file(VEC("note_peterneumann.key"), NULL);
    ck_assert_str_eq(text, want);
    free(text);
    free(want);
    ck_assert_int_eq(tz_keyfile_read_secret(&back, path, NULL, &err), TZ_OK);
    keys_equal(&key, &back);
    ck_assert_int_eq(tz_keyfile_read_secret(&back, path, "ignored for plain files", &err), TZ_OK);

    ck_assert_int_eq(tz_keyfile_write_public(pub, &key.pub, &err), TZ_OK);
    ck_assert_uint_eq(file_mode(pub), 0644);
    text = tz_test_read_file(pub, NULL);
    want = tz_test_read_file(VEC("note_peterneumann.pub"), NULL);
    ck_assert_str_eq(text, want);
    free(text);
    free(want);
    tz_public_key p1, p2;
    ck_assert_int_eq(tz_keyfile_read_public(&p1, pub, &err), TZ_OK);
    ck_assert_int_eq(tz_keyfile_read_public(&p2, path, &err), TZ_OK); /* from the secret file */
    ck_assert(tz_hash_equal(p1.pk, key.pub.pk, 32) && tz_hash_equal(p2.pk, key.pub.pk, 32));
    ck_assert_uint_eq(p1.id, PETER_ID);
    ck_assert_uint_eq(p2.id, PETER_ID);
    /* the public file is not a secret key */
    ck_assert_int_eq(tz_keyfile_read_secret(&back, pub, NULL, &err), TZ_ERR_INPUT);
    ck_assert_ptr_nonnull(strstr(err.msg, "verifier (public) key"));
    tz_key_wipe(&key);
    tz_key_wipe(&back);
    tz_test_rmtree(t.dir);
}
END_TEST

START_TEST(keyfile_mode_is_0600_whatever_the_umask)
{
    tmp t;
    tz_test_tmpdir(t.dir, sizeof t.dir);
    char path[600], pub[600];
    path_in(path, sizeof path, &t, "k");
    path_in(pub, sizeof pub, &t, "k.pub");
    tz_secret_key key;
    peter_secret(&key);
    mode_t old = umask(0277);
    int rc1 = tz_keyfile_write_secret(path, &key, NULL, NULL);
    int rc2 = tz_keyfile_write_public(pub, &key.pub, NULL);
    umask(old);
    ck_assert_int_eq(rc1, TZ_OK);
    ck_assert_int_eq(rc2, TZ_OK);
    ck_assert_uint_eq(file_mode(path), 0600);
    ck_assert_uint_eq(file_mode(pub), 0644);
    tz_key_wipe(&key);
    tz_test_rmtree(t.dir);
}
END_TEST

START_TEST(keyfile_overwrite_refused)
{
    tmp t;
    tz_test_tmpdir(t.dir, sizeof t.dir);
    char path[600], link[600], pub[600];
    path_in(path, sizeof path, &t, "k");
    path_in(link, sizeof link, &t, "dangling");
    path_in(pub, sizeof pub, &t, "k.pub");
    tz_secret_key key, other;
    peter_secret(&key);
    ck_assert_int_eq(tz_key_generate(&other, "other", NULL), TZ_OK);
    tz_err err = {0};
    ck_assert_int_eq(tz_keyfile_write_secret(path, &key, NULL, &err), TZ_OK);
    char *before = tz_test_read_file(path, NULL);
    ck_assert_int_eq(tz_keyfile_write_secret(path, &other, NULL, &err), TZ_ERR_IO);
    ck_assert_ptr_nonnull(strstr(err.msg, path));
    ck_assert_ptr_nonnull(strstr(err.msg, "already exists"));
    ck_assert_int_eq(tz_keyfile_write_public(path, &other.pub, &err), TZ_ERR_IO);
    char *after = tz_test_read_file(path, NULL);
    ck_assert_str_eq(before, after);
    ck_assert_uint_eq(file_mode(path), 0600);
    /* a dangling symlink is not followed */
    ck_assert_int_eq(symlink("/nonexistent/taizhang-target", link), 0);
    ck_assert_int_eq(tz_keyfile_write_secret(link, &other, NULL, &err), TZ_ERR_IO);
    /* a missing directory: error, nothing created */
    char deep[700];
    snprintf(deep, sizeof deep, "%s/no/such/dir/k", t.dir);
    ck_assert_int_eq(tz_keyfile_write_secret(deep, &key, NULL, &err), TZ_ERR_IO);
    ck_assert_ptr_nonnull(strstr(err.msg, "cannot create"));
    /* bad arguments */
    ck_assert_int_eq(tz_keyfile_write_secret(pub, &key, "", &err), TZ_ERR_USAGE);
    ck_assert_int_eq(access(pub, F_OK), -1);
    ck_assert_int_eq(tz_keyfile_write_secret(NULL, &key, NULL, &err), TZ_ERR_USAGE);
    tz_secret_key bad = key;
    bad.pub.id ^= 1;
    ck_assert_int_eq(tz_keyfile_write_secret(pub, &bad, NULL, &err), TZ_ERR_USAGE);
    ck_assert_int_eq(access(pub, F_OK), -1);
    free(before);
    free(after);
    tz_key_wipe(&key);
    tz_key_wipe(&other);
    tz_key_wipe(&bad);
    tz_test_rmtree(t.dir);
}
END_TEST

static void write_with_mode(const char *path, const char *data, size_t len, mode_t mode)
{
    unlink(path);
    tz_test_write_file(path, data, len);
    ck_assert_int_eq(chmod(path, mode), 0);
}

START_TEST(keyfile_loose_modes_refused)
{
    tmp t;
    tz_test_tmpdir(t.dir, sizeof t.dir);
    char path[600];
    path_in(path, sizeof path, &t, "k");
    size_t len;
    char *text = tz_test_read_file(VEC("note_peterneumann.key"), &len);
    static const mode_t modes[] = {0644, 0640, 0604, 0620, 0602, 0660, 0666, 0700 | 0044};
    for (size_t i = 0; i < sizeof modes / sizeof modes[0]; i++) {
        write_with_mode(path, text, len, modes[i]);
        tz_secret_key key;
        tz_public_key pub;
        tz_err err = {0};
        ck_assert_int_eq(tz_keyfile_read_secret(&key, path, NULL, &err), TZ_ERR_IO);
        ck_assert_ptr_nonnull(strstr(err.msg, "chmod 600"));
        ck_assert_ptr_nonnull(strstr(err.msg, path));
        ck_assert_int_eq(tz_keyfile_read_public(&pub, path, &err), TZ_ERR_IO);
    }
    for (mode_t m = 0400; m <= 0700; m += 0100) { /* owner-only modes are fine */
        write_with_mode(path, text, len, m | 0400);
        tz_secret_key key;
        ck_assert_int_eq(tz_keyfile_read_secret(&key, path, NULL, NULL), TZ_OK);
        tz_key_wipe(&key);
    }
    free(text);
    tz_test_rmtree(t.dir);
}
END_TEST

/* Plain secret files that are truncated, mangled, or not one line. */
START_TEST(keyfile_plain_corruption_refused)
{
    tmp t;
    tz_test_tmpdir(t.dir, sizeof t.dir);
    char path[600];
    path_in(path, sizeof path, &t, "k");
    size_t len;
    char *text = tz_test_read_file(VEC("note_peterneumann.key"), &len);
    char buf[8192];
    tz_secret_key key;
    tz_err err = {0};
    for (size_t cut = 0; cut < len; cut++) { /* every truncation, with and without a final newline */
        write_with_mode(path, text, cut, 0600);
        ck_assert_int_eq(tz_keyfile_read_secret(&key, path, NULL, &err), TZ_ERR_INPUT);
        if (cut > 0 && cut < len - 1) {
            memcpy(buf, text, cut);
            buf[cut] = '\n';
            write_with_mode(path, buf, cut + 1, 0600);
            ck_assert_msg(tz_keyfile_read_secret(&key, path, NULL, &err) == TZ_ERR_INPUT, "cut %zu", cut);
        }
    }
    for (size_t i = 0; i + 1 < len; i++) { /* every byte incremented */
        memcpy(buf, text, len);
        buf[i]++;
        write_with_mode(path, buf, len, 0600);
        ck_assert_msg(tz_keyfile_read_secret(&key, path, NULL, &err) != TZ_OK, "byte %zu", i);
    }
    snprintf(buf, sizeof buf, "%s%s", text, text); /* two lines */
    write_with_mode(path, buf, 2 * len, 0600);
    ck_assert_int_eq(tz_keyfile_read_secret(&key, path, NULL, &err), TZ_ERR_INPUT);
    ck_assert_ptr_nonnull(strstr(err.msg, "more than one line"));
    memset(buf, 'A', 5000); /* too big */
    write_with_mode(path, buf, 5000, 0600);
    ck_assert_int_eq(tz_keyfile_read_secret(&key, path, NULL, &err), TZ_ERR_INPUT);
    ck_assert_ptr_nonnull(strstr(err.msg, "larger than 4096"));
    ck_assert_int_eq(tz_keyfile_read_secret(&key, t.dir, NULL, &err), TZ_ERR_IO); /* a directory */
    ck_assert_ptr_nonnull(strstr(err.msg, "not a regular file"));
    path_in(path, sizeof path, &t, "missing");
    ck_assert_int_eq(tz_keyfile_read_secret(&key, path, NULL, &err), TZ_ERR_IO);
    ck_assert_ptr_nonnull(strstr(err.msg, "cannot open"));
    free(text);
    tz_test_rmtree(t.dir);
}
END_TEST

/* Field boundaries of a sealed line: offsets of the 7 space-separated
 * fields. */
static size_t sealed_fields(const char *s, size_t len, size_t start[7])
{
    size_t n = 0;
    start[n++] = 0;
    for (size_t i = 0; i < len && n < 7; i++)
        if (s[i] == ' ')
            start[n++] = i + 1;
    return n;
}

START_TEST(keyfile_sealed)
{
    tmp t;
    tz_test_tmpdir(t.dir, sizeof t.dir);
    char path[600], bad[600];
    path_in(path, sizeof path, &t, "sealed.key");
    path_in(bad, sizeof bad, &t, "bad.key");
    tz_secret_key key, back;
    peter_secret(&key);
    tz_err err = {0};
    const char *pass = "correct horse battery staple";
    ck_assert_int_eq(tz_keyfile_write_secret(path, &key, pass, &err), TZ_OK);
    ck_assert_uint_eq(file_mode(path), 0600);
    size_t len;
    char *text = tz_test_read_file(path, &len);
    ck_assert_ptr_nonnull(strstr(text, "TAIZHANG+SEALED+KEY+PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/"
                                       "LDE4izWy10TW argon2id13 2 67108864 "));
    ck_assert_ptr_eq(strstr(text, "TAIZHANG+"), text);
    ck_assert_ptr_null(strstr(text, "AYEKFALV")); /* the seed is not in clear */
    ck_assert_int_eq(text[len - 1], '\n');

    ck_assert_int_eq(tz_keyfile_read_secret(&back, path, pass, &err), TZ_OK);
    keys_equal(&key, &back);
    tz_key_wipe(&back);
    tz_public_key pub;
    ck_assert_int_eq(tz_keyfile_read_public(&pub, path, &err), TZ_OK); /* no passphrase needed */
    ck_assert_uint_eq(pub.id, PETER_ID);

    memset(&back, 0x5A, sizeof back);
    ck_assert_int_eq(tz_keyfile_read_secret(&back, path, NULL, &err), TZ_ERR_USAGE);
    ck_assert_ptr_nonnull(strstr(err.msg, "is sealed: set TAIZHANG_PASSPHRASE"));
    ck_assert_int_eq(tz_keyfile_read_secret(&back, path, "correct horse battery stapler", &err), TZ_ERR_INPUT);
    ck_assert_ptr_nonnull(strstr(err.msg, "wrong passphrase"));
    ck_assert_uint_eq(((uint8_t *)&back)[0], 0x5A);

    /* a second file with the same key and passphrase differs (fresh salt
     * and nonce) */
    char path2[600];
    path_in(path2, sizeof path2, &t, "sealed2.key");
    ck_assert_int_eq(tz_keyfile_write_secret(path2, &key, pass, &err), TZ_OK);
    char *text2 = tz_test_read_file(path2, NULL);
    ck_assert_str_ne(text, text2);

    /* 0644 sealed file refused */
    chmod(path2, 0644);
    ck_assert_int_eq(tz_keyfile_read_secret(&back, path2, pass, &err), TZ_ERR_IO);
    ck_assert_ptr_nonnull(strstr(err.msg, "chmod 600"));

    /* every truncation of the clear part, and a few inside the ciphertext */
    size_t start[7];
    ck_assert_uint_eq(sealed_fields(text, len, start), 7);
    char buf[4096];
    for (size_t cut = 1; cut < len - 1; cut++) {
        if (cut > start[6] + 4 && cut % 16 != 0)
            continue;
        memcpy(buf, text, cut);
        buf[cut] = '\n';
        write_with_mode(bad, buf, cut + 1, 0600);
        ck_assert_msg(tz_keyfile_read_secret(&back, bad, pass, &err) == TZ_ERR_INPUT, "cut %zu: %s", cut, err.msg);
    }
    /* one corrupted byte in every field */
    for (size_t f = 0; f < 7; f++) {
        memcpy(buf, text, len);
        size_t at = f == 0 ? 25 : start[f] + (f == 2 ? 0 : 1);
        buf[at] = buf[at] == 'A' ? 'B' : (buf[at] == '2' ? '3' : 'A');
        write_with_mode(bad, buf, len, 0600);
        int rc = tz_keyfile_read_secret(&back, bad, pass, &err);
        ck_assert_msg(rc == TZ_ERR_INPUT, "field %zu: rc %d %s", f, rc, err.msg);
    }
    /* hostile KDF limits are refused before any work */
    static const char *const limits[] = {"0 67108864", "33 67108864", "02 67108864", "2 1073741825",
                                         "2 8191",     "2 -1",        "2 0x10",      "2 67108864 extra"};
    for (size_t i = 0; i < sizeof limits / sizeof limits[0]; i++) {
        int n = snprintf(buf, sizeof buf, "%.*s%s%.*s", (int)start[2], text, limits[i], (int)(len - (start[4] - 1)),
                         text + start[4] - 1);
        write_with_mode(bad, buf, (size_t)n, 0600);
        ck_assert_msg(tz_keyfile_read_secret(&back, bad, pass, &err) == TZ_ERR_INPUT, "limits %s", limits[i]);
    }
    /* a renamed key: another key's public part in front of our sealed box */
    tz_secret_key other;
    ck_assert_int_eq(tz_key_generate(&other, "EnochRoot", NULL), TZ_OK);
    char vkey[TZ_KEY_STRING_MAX];
    ck_assert_int_eq(tz_key_format_public(vkey, sizeof vkey, &other.pub, NULL), TZ_OK);
    int n = snprintf(buf, sizeof buf, "TAIZHANG+SEALED+KEY+%s%s", vkey, text + start[1] - 1);
    write_with_mode(bad, buf, (size_t)n, 0600);
    ck_assert_int_eq(tz_keyfile_read_secret(&back, bad, pass, &err), TZ_ERR_INPUT);
    ck_assert_ptr_nonnull(strstr(err.msg, "does not match its public part"));

    free(text);
    free(text2);
    tz_key_wipe(&key);
    tz_key_wipe(&other);
    tz_test_rmtree(t.dir);
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("crypto");
    TCase *hash = tcase_create("hash");
    tcase_add_test(hash, hash_sha256_known_answers);
    tcase_add_test(hash, hash_equal_every_position);
    suite_add_tcase(s, hash);
    TCase *key = tcase_create("key");
    tcase_add_test(key, key_names);
    tcase_add_test(key, key_id_go_vectors);
    tcase_add_test(key, key_strings_go_vector_round_trip);
    tcase_add_test(key, key_strings_go_manglings);
    tcase_add_test(key, key_strings_rejected);
    tcase_add_test(key, key_generate_round_trip);
    tcase_add_test(key, key_from_seed_rfc8032);
    tcase_add_test(key, key_inconsistent_keys_refused);
    tcase_add_test(key, statement_known_answers);
    tcase_add_test(key, statement_tag_is_required);
    tcase_add_test(key, statement_every_bit_flip_fails);
    suite_add_tcase(s, key);
    TCase *file = tcase_create("keyfile");
    tcase_set_timeout(file, 300);
    tcase_add_test(file, keyfile_plain_round_trip);
    tcase_add_test(file, keyfile_mode_is_0600_whatever_the_umask);
    tcase_add_test(file, keyfile_overwrite_refused);
    tcase_add_test(file, keyfile_loose_modes_refused);
    tcase_add_test(file, keyfile_plain_corruption_refused);
    tcase_add_test(file, keyfile_sealed);
    suite_add_tcase(s, file);
    return s;
}

int main(void) { return tz_test_main(make_suite); }
