/*
 * check_note.c: crypto/note (C2SP signed-note) and ledger/checkpoint (C2SP
 * tlog-checkpoint).
 *
 * Known answers: the golang.org/x/mod note vectors (PeterNeumann, and the
 * doubly-signed PeterNeumann + EnochRoot note), Go's tlog checkpoint body,
 * the C2SP tlog-checkpoint example, a real sum.golang.org checkpoint with
 * the Go checksum database key, and a checkpoint signed by OpenSSL with the
 * RFC 8032 test key (tests/vectors/checkpoint_county_log.note). Every
 * single-byte change of the Go note must fail to parse or to verify.
 */
#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/hash.h"
#include "crypto/note.h"
#include "ledger/checkpoint.h"
#include "tests/tz_test.h"

#define VEC(name) TZ_SOURCE_DIR "/tests/vectors/" name
#define EM "\xE2\x80\x94" /* U+2014 */

static const char PETER_SIG[] = EM " PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n";

static char *read_vec(const char *path, size_t *len) { return tz_test_read_file(path, len); }

static void read_public(tz_public_key *key, const char *path)
{
    size_t len;
    char *s = read_vec(path, &len);
    ck_assert(len > 0 && s[len - 1] == '\n');
    tz_err err = {0};
    ck_assert_msg(tz_key_parse_public(key, s, len - 1, &err) == TZ_OK, "%s: %s", path, err.msg);
    free(s);
}

static void read_secret(tz_secret_key *key, const char *path)
{
    size_t len;
    char *s = read_vec(path, &len);
    ck_assert(len > 0 && s[len - 1] == '\n');
    ck_assert_int_eq(tz_key_parse_secret(key, s, len - 1, NULL), TZ_OK);
    sodium_memzero(s, len);
    free(s);
}

/* Parses and verifies; returns the first failing code (or TZ_OK). */
static int open_note(const char *note, size_t len, const tz_public_key *key, tz_err *err)
{
    tz_note n;
    int rc = tz_note_parse(&n, note, len, err);
    if (rc != TZ_OK)
        return rc;
    return tz_note_verify(&n, key, err);
}

/* ---- the Go vector ---- */

START_TEST(note_go_vector_signs_byte_for_byte)
{
    tz_secret_key key;
    read_secret(&key, VEC("note_peterneumann.key"));
    size_t text_len, want_len;
    char *text = read_vec(VEC("note_peterneumann.txt"), &text_len);
    char *want = read_vec(VEC("note_peterneumann.note"), &want_len);
    char *out = NULL;
    size_t out_len = 0;
    tz_err err = {0};
    ck_assert_int_eq(tz_note_sign(&out, &out_len, text, text_len, &key, &err), TZ_OK);
    ck_assert_uint_eq(out_len, want_len);
    ck_assert(memcmp(out, want, want_len) == 0);
    ck_assert_int_eq(out[out_len], '\0');
    /* and the vector is what Go's test has, assembled here from its parts */
    ck_assert_uint_eq(want_len, text_len + 1 + strlen(PETER_SIG));
    ck_assert(memcmp(want + text_len + 1, PETER_SIG, strlen(PETER_SIG)) == 0);
    free(out);
    free(text);
    free(want);
    tz_key_wipe(&key);
}
END_TEST

START_TEST(note_go_vector_parses_and_verifies)
{
    tz_public_key peter, enoch;
    read_public(&peter, VEC("note_peterneumann.pub"));
    read_public(&enoch, VEC("note_enochroot.pub"));
    size_t len, text_len;
    char *note = read_vec(VEC("note_peterneumann.note"), &len);
    char *text = read_vec(VEC("note_peterneumann.txt"), &text_len);
    tz_note n;
    tz_err err = {0};
    ck_assert_int_eq(tz_note_parse(&n, note, len, &err), TZ_OK);
    ck_assert_ptr_eq(n.text, note);
    ck_assert_uint_eq(n.text_len, text_len);
    ck_assert(memcmp(n.text, text, text_len) == 0);
    ck_assert_uint_eq(n.nsigs, 1);
    ck_assert_str_eq(n.sigs[0].name, "PeterNeumann");
    ck_assert_uint_eq(n.sigs[0].key_id, 0xc74f20a3);
    ck_assert_uint_eq(n.sigs[0].sig_len, 64);
    ck_assert_int_eq(tz_note_verify(&n, &peter, &err), TZ_OK);
    /* a key with no line: TZ_ERR_PROOF */
    ck_assert_int_eq(tz_note_verify(&n, &enoch, &err), TZ_ERR_PROOF);
    ck_assert_ptr_nonnull(strstr(err.msg, "no signature line for key EnochRoot+af0cfe78"));
    free(note);

    /* Go's doubly-signed example: both keys verify, each ignoring the other */
    note = read_vec(VEC("note_peterneumann_enochroot.note"), &len);
    ck_assert_int_eq(tz_note_parse(&n, note, len, &err), TZ_OK);
    ck_assert_uint_eq(n.nsigs, 2);
    ck_assert_uint_eq(n.text_len, text_len);
    ck_assert_uint_eq(n.sigs[1].key_id, 0xaf0cfe78);
    ck_assert_int_eq(tz_note_verify(&n, &peter, &err), TZ_OK);
    ck_assert_int_eq(tz_note_verify(&n, &enoch, &err), TZ_OK);
    free(note);
    free(text);
}
END_TEST

/* Every single-byte change (each bit flipped, each byte deleted, a byte
 * inserted at each position) of the Go vector fails to parse or to verify. */
START_TEST(note_every_single_byte_change_fails)
{
    tz_public_key peter;
    read_public(&peter, VEC("note_peterneumann.pub"));
    size_t len;
    char *note = read_vec(VEC("note_peterneumann.note"), &len);
    char *buf = malloc(len + 2);
    ck_assert_ptr_nonnull(buf);
    ck_assert_int_eq(open_note(note, len, &peter, NULL), TZ_OK);
    size_t parse_fail = 0, proof_fail = 0;
    for (size_t i = 0; i < len; i++) {
        for (int bit = 0; bit < 8; bit++) {
            memcpy(buf, note, len);
            buf[i] = (char)(buf[i] ^ (1 << bit));
            int rc = open_note(buf, len, &peter, NULL);
            if (rc == TZ_ERR_INPUT)
                parse_fail++;
            else if (rc == TZ_ERR_PROOF)
                proof_fail++;
            else
                ck_abort_msg("byte %zu bit %d: rc %d", i, bit, rc);
        }
        memcpy(buf, note, i); /* delete byte i */
        memcpy(buf + i, note + i + 1, len - i - 1);
        int rc = open_note(buf, len - 1, &peter, NULL);
        ck_assert_msg(rc == TZ_ERR_INPUT || rc == TZ_ERR_PROOF, "deleting byte %zu: rc %d", i, rc);
        for (const char *ins = "\nA= "; *ins != '\0'; ins++) { /* insert before byte i */
            memcpy(buf, note, i);
            buf[i] = *ins;
            memcpy(buf + i + 1, note + i, len - i);
            rc = open_note(buf, len + 1, &peter, NULL);
            ck_assert_msg(rc == TZ_ERR_INPUT || rc == TZ_ERR_PROOF, "inserting %02x at %zu: rc %d", *ins, i, rc);
        }
    }
    ck_assert_uint_gt(parse_fail, 0);
    ck_assert_uint_gt(proof_fail, 0);
    /* the byte-for-byte canonical base64 matters: "...nAM=" and "...nAN="
     * decode to the same bytes in lax decoders */
    memcpy(buf, note, len);
    char *m = strstr(buf, "nAM=");
    ck_assert_ptr_nonnull(m);
    m[2] = 'N';
    tz_err err = {0};
    ck_assert_int_eq(open_note(buf, len, &peter, &err), TZ_ERR_INPUT);
    ck_assert_ptr_nonnull(strstr(err.msg, "not canonical"));
    free(buf);
    free(note);
}
END_TEST

START_TEST(note_unknown_key_only_is_proof_error)
{
    tz_public_key peter;
    read_public(&peter, VEC("note_peterneumann.pub"));
    size_t len;
    char *note = read_vec(VEC("checkpoint_c2sp.note"), &len); /* signed by example.com/behind-the-sofa */
    tz_note n;
    tz_err err = {0};
    ck_assert_int_eq(tz_note_parse(&n, note, len, &err), TZ_OK);
    ck_assert_str_eq(n.sigs[0].name, "example.com/behind-the-sofa");
    ck_assert_int_eq(tz_note_verify(&n, &peter, &err), TZ_ERR_PROOF);
    ck_assert_ptr_nonnull(strstr(err.msg, "no signature line"));
    free(note);

    /* same name, other key id: the line is someone else's and is ignored */
    tz_secret_key impostor;
    ck_assert_int_eq(tz_key_generate(&impostor, "PeterNeumann", NULL), TZ_OK);
    note = read_vec(VEC("note_peterneumann.note"), &len);
    ck_assert_int_eq(tz_note_parse(&n, note, len, &err), TZ_OK);
    ck_assert_int_eq(tz_note_verify(&n, &impostor.pub, &err), TZ_ERR_PROOF);
    ck_assert_ptr_nonnull(strstr(err.msg, "no signature line for key PeterNeumann+"));
    /* same name and id, wrong key: verification fails */
    tz_public_key forged = impostor.pub;
    forged.id = 0xc74f20a3;
    ck_assert_int_eq(tz_note_verify(&n, &forged, &err), TZ_ERR_USAGE); /* id not derived from the key */
    free(note);
    tz_key_wipe(&impostor);
}
END_TEST

START_TEST(note_bad_line_of_trusted_key_rejects)
{
    tz_public_key peter;
    read_public(&peter, VEC("note_peterneumann.pub"));
    size_t text_len;
    char *text = read_vec(VEC("note_peterneumann.txt"), &text_len);
    char note[1024];
    /* Go's "invalid signature" case: four bytes spliced into the base64 */
    char bad_sig[256];
    size_t sl = strlen(PETER_SIG);
    memcpy(bad_sig, PETER_SIG, 60);
    memcpy(bad_sig + 60, "ABCD", 4);
    memcpy(bad_sig + 64, PETER_SIG + 60, sl - 60 + 1);
    int n = snprintf(note, sizeof note, "%s\n%s", text, bad_sig);
    tz_note parsed;
    tz_err err = {0};
    ck_assert_int_eq(tz_note_parse(&parsed, note, (size_t)n, &err), TZ_OK);
    ck_assert_uint_eq(parsed.sigs[0].sig_len, 67);
    ck_assert_int_eq(tz_note_verify(&parsed, &peter, &err), TZ_ERR_PROOF);
    ck_assert_ptr_nonnull(strstr(err.msg, "invalid signature for key PeterNeumann+c74f20a3"));
    /* a good line and a bad line of the same key: still rejected */
    n = snprintf(note, sizeof note, "%s\n%s%s", text, PETER_SIG, bad_sig);
    ck_assert_int_eq(tz_note_parse(&parsed, note, (size_t)n, &err), TZ_OK);
    ck_assert_int_eq(tz_note_verify(&parsed, &peter, &err), TZ_ERR_PROOF);
    ck_assert_ptr_nonnull(strstr(err.msg, "signature line 2 of 2"));
    /* duplicates of the good line are fine */
    n = snprintf(note, sizeof note, "%s\n%s%s", text, PETER_SIG, PETER_SIG);
    ck_assert_int_eq(open_note(note, (size_t)n, &peter, &err), TZ_OK);
    free(text);
}
END_TEST

START_TEST(note_add_signature)
{
    tz_public_key peter;
    read_public(&peter, VEC("note_peterneumann.pub"));
    size_t len;
    char *note = read_vec(VEC("note_peterneumann.note"), &len);
    tz_secret_key witness;
    ck_assert_int_eq(tz_key_generate(&witness, "witness.example/w1", NULL), TZ_OK);
    char *out = NULL;
    size_t out_len = 0;
    tz_err err = {0};
    ck_assert_int_eq(tz_note_add_signature(&out, &out_len, note, len, &witness, &err), TZ_OK);
    ck_assert_uint_gt(out_len, len);
    ck_assert(memcmp(out, note, len) == 0); /* text and the first line kept byte for byte */
    ck_assert_int_eq(open_note(out, out_len, &peter, &err), TZ_OK);
    ck_assert_int_eq(open_note(out, out_len, &witness.pub, &err), TZ_OK);
    tz_note n;
    ck_assert_int_eq(tz_note_parse(&n, out, out_len, &err), TZ_OK);
    ck_assert_uint_eq(n.nsigs, 2);
    ck_assert_str_eq(n.sigs[1].name, "witness.example/w1");

    /* signing again with the same key replaces its line, keeps the others */
    char *again = NULL;
    size_t again_len = 0;
    ck_assert_int_eq(tz_note_add_signature(&again, &again_len, out, out_len, &witness, &err), TZ_OK);
    ck_assert_uint_eq(again_len, out_len); /* Ed25519 is deterministic */
    ck_assert(memcmp(again, out, out_len) == 0);
    free(again);
    /* re-signing with the original key moves its line to the end */
    tz_secret_key peter_sk;
    read_secret(&peter_sk, VEC("note_peterneumann.key"));
    ck_assert_int_eq(tz_note_add_signature(&again, &again_len, out, out_len, &peter_sk, &err), TZ_OK);
    ck_assert_int_eq(tz_note_parse(&n, again, again_len, &err), TZ_OK);
    ck_assert_uint_eq(n.nsigs, 2);
    ck_assert_str_eq(n.sigs[0].name, "witness.example/w1");
    ck_assert_str_eq(n.sigs[1].name, "PeterNeumann");
    free(again);

    /* a malformed note is refused, outputs untouched */
    char *untouched = (char *)0x1;
    size_t untouched_len = 7;
    ck_assert_int_eq(tz_note_add_signature(&untouched, &untouched_len, note, len - 1, &witness, &err), TZ_ERR_INPUT);
    ck_assert_ptr_eq(untouched, (char *)0x1);
    ck_assert_uint_eq(untouched_len, 7);
    free(out);
    free(note);
    tz_key_wipe(&witness);
    tz_key_wipe(&peter_sk);
}
END_TEST

START_TEST(note_signature_line_limit)
{
    size_t text_len;
    char *text = read_vec(VEC("note_peterneumann.txt"), &text_len);
    char *note = malloc(text_len + 1 + 33 * strlen(PETER_SIG) + 1);
    ck_assert_ptr_nonnull(note);
    size_t len = 0;
    memcpy(note, text, text_len), len += text_len;
    note[len++] = '\n';
    for (int i = 0; i < TZ_NOTE_MAX_SIGS; i++)
        memcpy(note + len, PETER_SIG, strlen(PETER_SIG)), len += strlen(PETER_SIG);
    tz_note n;
    tz_err err = {0};
    ck_assert_int_eq(tz_note_parse(&n, note, len, &err), TZ_OK);
    ck_assert_uint_eq(n.nsigs, TZ_NOTE_MAX_SIGS);
    /* a 33rd line of another key cannot be added */
    tz_secret_key witness;
    ck_assert_int_eq(tz_key_generate(&witness, "w", NULL), TZ_OK);
    char *out = NULL;
    size_t out_len = 0;
    ck_assert_int_eq(tz_note_add_signature(&out, &out_len, note, len, &witness, &err), TZ_ERR_INPUT);
    ck_assert_ptr_nonnull(strstr(err.msg, "more than 32"));
    memcpy(note + len, PETER_SIG, strlen(PETER_SIG)), len += strlen(PETER_SIG);
    ck_assert_int_eq(tz_note_parse(&n, note, len, &err), TZ_ERR_INPUT);
    ck_assert_ptr_nonnull(strstr(err.msg, "note line 36: more than 32 signature lines"));
    free(note);
    free(text);
    tz_key_wipe(&witness);
}
END_TEST

START_TEST(note_malformed_table)
{
    size_t tl;
    char *text = read_vec(VEC("note_peterneumann.txt"), &tl);
    char sig_nonl[256];
    snprintf(sig_nonl, sizeof sig_nonl, "%.*s", (int)strlen(PETER_SIG) - 1, PETER_SIG);
    char long_sig[512]; /* 4 + 129 bytes: one over our limit */
    memset(long_sig, 'A', 180);
    long_sig[180] = '\0';
    char long_name[128];
    memset(long_name, 'n', 65);
    long_name[65] = '\0';
    static char big[TZ_NOTE_MAX_LEN + 200];
    const struct {
        const char *fmt, *arg, *why;
    } bad[] = {
        {"%s", "", "no blank line between the text and the signatures"}, /* Go's bad cases first */
        {"%s\n", "", "no signature line"},
        {"%s\n%s", "@nonl", "note line 4: does not end in a newline"},
        {"\x01%s\n%s", "@sig", "note line 1: control character U+0001"},
        {"\xff%s\n%s", "@sig", "note line 1: not valid UTF-8"},
        {"%s\n" EM " Bad Name x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n%s", "",
         "note line 4: signature (at most 4 + 128 bytes): base64"},
        {"%s\n%sUnexpected line.\n", "@sig", "note line 5: a signature line must start with"},
        {"%s\n" EM " PeterNeumann AAAA\n%s", "", "note line 4: signature of 3 bytes, at least 5"},
        {"%s\n" EM " PeterNeumann %s\n", "@long", "base64: decodes to 135 bytes, at most 132"},
        {"%s\n" EM " %s x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n", "@lname",
         "key name of 65 bytes"},
        {"%s\n" EM " a+b x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n%s", "",
         "note line 4: key name: '+'"},
        {"%s\n" EM "PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n%s", "",
         "must start with"},
        {"%s\n- PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n%s", "",
         "must start with"},
        {"%s\n" EM " PeterNeumann\n%s", "", "no space between key name and signature"},
        {"%s\n" EM " PeterNeumann \n%s", "", "signature is empty"},
        {"%s\n" EM "  PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n%s", "",
         "key name: must not be empty"},
        {"%s\n" EM " PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM= \n%s", "",
         "base64"},
        {"hello\r\n%s\n%s", "@sig", "note line 1: control character U+000D"},
        {"", "", "note: empty"},
        {"%s\n%s", "@big", "at most 65536"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        const char *arg = bad[i].arg;
        if (strcmp(arg, "@sig") == 0)
            arg = PETER_SIG;
        else if (strcmp(arg, "@nonl") == 0)
            arg = sig_nonl;
        else if (strcmp(arg, "@long") == 0)
            arg = long_sig;
        else if (strcmp(arg, "@lname") == 0)
            arg = long_name;
        else if (strcmp(arg, "@big") == 0) {
            memset(big, 'x', sizeof big - 1);
            big[sizeof big - 1] = '\0';
            arg = big;
        }
        size_t cap = strlen(text) + strlen(arg) + 512;
        char *note = malloc(cap);
        ck_assert_ptr_nonnull(note);
        int n;
        if (strstr(bad[i].fmt, "%s") == NULL)
            n = snprintf(note, cap, "%s", bad[i].fmt);
        else if (strstr(strstr(bad[i].fmt, "%s") + 2, "%s") == NULL)
            n = snprintf(note, cap, bad[i].fmt, text);
        else
            n = snprintf(note, cap, bad[i].fmt, text, arg);
        tz_note out;
        memset(&out, 0x5A, sizeof out);
        tz_err err = {0};
        ck_assert_msg(tz_note_parse(&out, note, (size_t)n, &err) == TZ_ERR_INPUT, "case %zu accepted", i);
        ck_assert_msg(strstr(err.msg, bad[i].why) != NULL, "case %zu: %s", i, err.msg);
        ck_assert_uint_eq(((uint8_t *)&out)[0], 0x5A); /* untouched */
        free(note);
    }
    free(text);
}
END_TEST

START_TEST(note_sign_refuses_bad_text)
{
    tz_secret_key key;
    read_secret(&key, VEC("note_peterneumann.key"));
    static const struct {
        const char *text, *why;
    } bad[] = {
        {"", "must not be empty"},
        {"no newline", "must end in a newline"},
        {"tab\there\n", "control character U+0009"},
        {"bad \xc3\x28 utf8\n", "not valid UTF-8"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char *out = (char *)0x1;
        size_t out_len = 3;
        tz_err err = {0};
        ck_assert_int_eq(tz_note_sign(&out, &out_len, bad[i].text, strlen(bad[i].text), &key, &err), TZ_ERR_INPUT);
        ck_assert_msg(strstr(err.msg, bad[i].why) != NULL, "case %zu: %s", i, err.msg);
        ck_assert_ptr_eq(out, (char *)0x1);
        ck_assert_uint_eq(out_len, 3);
    }
    /* texts with empty lines round-trip: the last blank line splits */
    const char *text = "a\n\nb\n\n";
    char *out = NULL;
    size_t out_len = 0;
    ck_assert_int_eq(tz_note_sign(&out, &out_len, text, strlen(text), &key, NULL), TZ_OK);
    tz_note n;
    ck_assert_int_eq(tz_note_parse(&n, out, out_len, NULL), TZ_OK);
    ck_assert_uint_eq(n.text_len, strlen(text));
    ck_assert_int_eq(tz_note_verify(&n, &key.pub, NULL), TZ_OK);
    free(out);
    /* an inconsistent key is refused */
    tz_secret_key bad_key = key;
    bad_key.sk[33] ^= 1;
    tz_err err = {0};
    ck_assert_int_eq(tz_note_sign(&out, &out_len, "x\n", 2, &bad_key, &err), TZ_ERR_USAGE);
    tz_key_wipe(&bad_key);
    tz_key_wipe(&key);
}
END_TEST

/* ---- checkpoints ---- */

START_TEST(checkpoint_go_tlog_vector)
{
    size_t len;
    char *body = read_vec(VEC("checkpoint_gosumdb_body.txt"), &len);
    tz_checkpoint cp;
    tz_err err = {0};
    ck_assert_int_eq(tz_checkpoint_parse(&cp, body, len, &err), TZ_OK);
    ck_assert_str_eq(cp.origin, "go.sum database tree");
    ck_assert_uint_eq(cp.size, 123456789012ULL);
    uint8_t leaf[TZ_HASH_LEN];
    tz_hash_sha256(leaf, "\0hello world", 12); /* Go: tlog.RecordHash("hello world") */
    ck_assert(tz_hash_equal(cp.root, leaf, sizeof leaf));
    char *out = NULL;
    size_t out_len = 0;
    ck_assert_int_eq(tz_checkpoint_format(&out, &out_len, &cp, &err), TZ_OK);
    ck_assert_uint_eq(out_len, len);
    ck_assert(memcmp(out, body, len) == 0);
    free(out);
    free(body);
}
END_TEST

START_TEST(checkpoint_c2sp_example_round_trip)
{
    size_t len;
    char *body = read_vec(VEC("checkpoint_c2sp_body.txt"), &len);
    tz_checkpoint cp;
    ck_assert_int_eq(tz_checkpoint_parse(&cp, body, len, NULL), TZ_OK);
    ck_assert_str_eq(cp.origin, "example.com/behind-the-sofa");
    ck_assert_uint_eq(cp.size, 20852163);
    char *out = NULL;
    size_t out_len = 0;
    ck_assert_int_eq(tz_checkpoint_format(&out, &out_len, &cp, NULL), TZ_OK);
    ck_assert_uint_eq(out_len, len);
    ck_assert(memcmp(out, body, len) == 0);
    free(out);
    /* extension lines are accepted and ignored */
    char ext[512];
    int n = snprintf(ext, sizeof ext, "%sext one\n\xe5\x8f\xb0\xe8\xb4\xa6 extension\n", body);
    tz_checkpoint cp2;
    ck_assert_int_eq(tz_checkpoint_parse(&cp2, ext, (size_t)n, NULL), TZ_OK);
    ck_assert_str_eq(cp2.origin, cp.origin);
    ck_assert_uint_eq(cp2.size, cp.size);
    ck_assert(tz_hash_equal(cp2.root, cp.root, 32));
    /* the spec's signed example opens with no key of ours */
    free(body);
    body = read_vec(VEC("checkpoint_c2sp.note"), &len);
    tz_public_key peter;
    read_public(&peter, VEC("note_peterneumann.pub"));
    tz_err err = {0};
    ck_assert_int_eq(tz_checkpoint_open(&cp2, body, len, &peter, &err), TZ_ERR_PROOF);
    free(body);
}
END_TEST

START_TEST(checkpoint_real_sum_golang_org)
{
    tz_public_key sumdb;
    read_public(&sumdb, VEC("sumdb_golang.pub"));
    ck_assert_str_eq(sumdb.name, "sum.golang.org");
    ck_assert_uint_eq(sumdb.id, 0x033de0ae);
    size_t len;
    char *note = read_vec(VEC("checkpoint_sumdb_15368405.note"), &len);
    tz_checkpoint cp;
    tz_err err = {0};
    ck_assert_msg(tz_checkpoint_open(&cp, note, len, &sumdb, &err) == TZ_OK, "%s", err.msg);
    ck_assert_str_eq(cp.origin, "go.sum database tree");
    ck_assert_uint_eq(cp.size, 15368405);
    /* any flipped bit breaks it */
    for (size_t i = 0; i < len; i++) {
        note[i] ^= 0x01;
        tz_checkpoint junk;
        int rc = tz_checkpoint_open(&junk, note, len, &sumdb, NULL);
        ck_assert_msg(rc == TZ_ERR_INPUT || rc == TZ_ERR_PROOF, "byte %zu: rc %d", i, rc);
        note[i] ^= 0x01;
    }
    free(note);
}
END_TEST

START_TEST(checkpoint_openssl_vector)
{
    tz_secret_key key;
    read_secret(&key, VEC("county_log.key"));
    tz_checkpoint cp;
    memset(&cp, 0, sizeof cp);
    strcpy(cp.origin, "example.org/county-log");
    cp.size = 0;
    tz_hash_sha256(cp.root, NULL, 0); /* the empty tree */
    char *note = NULL;
    size_t note_len = 0;
    tz_err err = {0};
    ck_assert_int_eq(tz_checkpoint_sign(&note, &note_len, &cp, &key, &err), TZ_OK);
    size_t want_len;
    char *want = read_vec(VEC("checkpoint_county_log.note"), &want_len);
    ck_assert_uint_eq(note_len, want_len);
    ck_assert(memcmp(note, want, want_len) == 0);
    tz_checkpoint back;
    ck_assert_int_eq(tz_checkpoint_open(&back, want, want_len, &key.pub, &err), TZ_OK);
    ck_assert_str_eq(back.origin, cp.origin);
    ck_assert_uint_eq(back.size, 0);
    ck_assert(tz_hash_equal(back.root, cp.root, 32));
    free(note);
    free(want);
    tz_key_wipe(&key);
}
END_TEST

START_TEST(checkpoint_sign_open_round_trip)
{
    tz_secret_key log, other;
    ck_assert_int_eq(tz_key_generate(&log, "example.org/log", NULL), TZ_OK);
    ck_assert_int_eq(tz_key_generate(&other, "example.org/log", NULL), TZ_OK);
    const uint64_t sizes[] = {0, 1, 9, 10, 1000000, UINT64_MAX};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        tz_checkpoint cp, back;
        memset(&cp, 0, sizeof cp);
        strcpy(cp.origin, "example.org/log");
        cp.size = sizes[i];
        tz_hash_sha256(cp.root, &i, sizeof i);
        char *note = NULL;
        size_t note_len = 0;
        tz_err err = {0};
        ck_assert_int_eq(tz_checkpoint_sign(&note, &note_len, &cp, &log, &err), TZ_OK);
        ck_assert_int_eq(tz_checkpoint_open(&back, note, note_len, &log.pub, &err), TZ_OK);
        ck_assert_uint_eq(back.size, cp.size);
        ck_assert(tz_hash_equal(back.root, cp.root, 32));
        ck_assert_int_eq(tz_checkpoint_open(&back, note, note_len, &other.pub, &err), TZ_ERR_PROOF);
        /* a witness cosignature does not disturb the log's */
        char *cosigned = NULL;
        size_t cosigned_len = 0;
        ck_assert_int_eq(tz_note_add_signature(&cosigned, &cosigned_len, note, note_len, &other, &err), TZ_OK);
        ck_assert_int_eq(tz_checkpoint_open(&back, cosigned, cosigned_len, &log.pub, &err), TZ_OK);
        ck_assert_int_eq(tz_checkpoint_open(&back, cosigned, cosigned_len, &other.pub, &err), TZ_OK);
        free(cosigned);
        free(note);
    }
    char buf[32];
    snprintf(buf, sizeof buf, "%" PRIu64, UINT64_MAX);
    ck_assert_str_eq(buf, "18446744073709551615");
    /* a signed note whose text is not a checkpoint: TZ_ERR_INPUT after the
     * signature checks out */
    char *note = NULL;
    size_t note_len = 0;
    ck_assert_int_eq(tz_note_sign(&note, &note_len, "example.org/log\n01\n", 19, &log, NULL), TZ_OK);
    tz_checkpoint back;
    tz_err err = {0};
    ck_assert_int_eq(tz_checkpoint_open(&back, note, note_len, &log.pub, &err), TZ_ERR_INPUT);
    ck_assert_ptr_nonnull(strstr(err.msg, "leading zeros"));
    free(note);
    /* bad origins are refused when formatting */
    tz_checkpoint cp;
    memset(&cp, 0, sizeof cp);
    ck_assert_int_eq(tz_checkpoint_sign(&note, &note_len, &cp, &log, &err), TZ_ERR_INPUT);
    ck_assert_ptr_nonnull(strstr(err.msg, "must not be empty"));
    strcpy(cp.origin, "bad\norigin");
    ck_assert_int_eq(tz_checkpoint_format(&note, &note_len, &cp, &err), TZ_ERR_INPUT);
    tz_key_wipe(&log);
    tz_key_wipe(&other);
}
END_TEST

#define ROOT "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=" /* SHA-256 of nothing */

START_TEST(checkpoint_invalid_bodies)
{
    static char long_origin[400];
    memset(long_origin, 'o', 256);
    long_origin[256] = '\n';
    strcpy(long_origin + 257, "1\n" ROOT "\n");
    static const struct {
        const char *body, *why;
    } bad[] = {
        {"", "line 1 (origin): missing"},
        {"\n5\n" ROOT "\n", "line 1 (origin): must not be empty"},
        {"o\n05\n" ROOT "\n", "line 2 (tree size): leading zeros"},
        {"o\n00\n" ROOT "\n", "line 2 (tree size): leading zeros"},
        {"o\n-1\n" ROOT "\n", "line 2 (tree size): only decimal digits"},
        {"o\n+1\n" ROOT "\n", "line 2 (tree size): only decimal digits"},
        {"o\n 1\n" ROOT "\n", "line 2 (tree size): only decimal digits"},
        {"o\n1 \n" ROOT "\n", "line 2 (tree size): only decimal digits"},
        {"o\n0x10\n" ROOT "\n", "line 2 (tree size): only decimal digits"},
        {"o\n1e3\n" ROOT "\n", "line 2 (tree size): only decimal digits"},
        {"o\n18446744073709551616\n" ROOT "\n", "line 2 (tree size): larger than"},
        {"o\n99999999999999999999999\n" ROOT "\n", "line 2 (tree size): larger than"},
        {"o\n\n" ROOT "\n", "line 2 (tree size): must not be empty"},
        {"o\n", "line 2 (tree size): missing"},
        {"o", "line 1: does not end in a newline"},
        {"o\n5\n", "line 3 (root hash): missing"},
        {"o\n5\n" ROOT, "line 3: does not end in a newline"},
        {"o\n5\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuA==\n", "line 3 (root hash): decodes to 31 bytes"},
        {"o\n5\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFUA\n", "line 3 (root hash): base64: decodes to 33 bytes"},
        {"o\n5\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU\n", "line 3 (root hash): 43 characters"},
        {"o\n5\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFV=\n", "line 3 (root hash): base64: not canonical"},
        {"o\n5\n47DEQpj8HBSa-_TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n", "line 3 (root hash): base64: not canonical"},
        {"o\n5\n\n", "line 3 (root hash): 0 characters"},
        {"o\n5\n" ROOT "\n\n", "line 4 (extension): must not be empty"},
        {"o\n5\n" ROOT "\next\n\n", "line 5 (extension): must not be empty"},
        {"o\n5\n" ROOT "\next", "line 4: does not end in a newline"},
        {"o\n5\n" ROOT "\next\x01\n", "line 4 (extension): control character U+0001"},
        {"o\x01\n5\n" ROOT "\n", "line 1 (origin): control character U+0001"},
        {"o\r\n5\n" ROOT "\n", "line 1 (origin): control character U+000D"},
        {"o\x7f\n5\n" ROOT "\n", "line 1 (origin): control character U+007F"},
        {"o\xc3\n5\n" ROOT "\n", "line 1 (origin): not valid UTF-8"},
        {long_origin, "line 1 (origin): 256 bytes, at most 255"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        tz_checkpoint out;
        memset(&out, 0x5A, sizeof out);
        tz_err err = {0};
        ck_assert_msg(tz_checkpoint_parse(&out, bad[i].body, strlen(bad[i].body), &err) == TZ_ERR_INPUT,
                      "case %zu accepted", i);
        ck_assert_msg(strstr(err.msg, bad[i].why) != NULL, "case %zu: %s", i, err.msg);
        ck_assert_msg(strncmp(err.msg, "checkpoint line ", 16) == 0, "case %zu: %s", i, err.msg);
        ck_assert_uint_eq(((uint8_t *)&out)[0], 0x5A);
    }
    /* boundaries that are fine */
    static const char *const good[] = {
        "o\n0\n" ROOT "\n",
        "o\n18446744073709551615\n" ROOT "\n",
        "go.sum database tree\n1\n" ROOT "\n",
        "\xe5\x8f\xb0\xe8\xb4\xa6/\xe5\x8e\xbf\n7\n" ROOT "\n",
        "a+b c\n7\n" ROOT "\n", /* spaces and '+' are only discouraged */
    };
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        tz_checkpoint out;
        tz_err err = {0};
        ck_assert_msg(tz_checkpoint_parse(&out, good[i], strlen(good[i]), &err) == TZ_OK, "good %zu: %s", i, err.msg);
        char *again = NULL;
        size_t again_len = 0;
        ck_assert_int_eq(tz_checkpoint_format(&again, &again_len, &out, NULL), TZ_OK);
        ck_assert_str_eq(again, good[i]);
        free(again);
    }
    ck_assert_int_eq(tz_checkpoint_check_origin("example.org/log", NULL), TZ_OK);
    ck_assert_int_eq(tz_checkpoint_check_origin("", NULL), TZ_ERR_INPUT);
    ck_assert_int_eq(tz_checkpoint_check_origin(NULL, NULL), TZ_ERR_USAGE);
    char o255[256];
    memset(o255, 'o', 255);
    o255[255] = '\0';
    ck_assert_int_eq(tz_checkpoint_check_origin(o255, NULL), TZ_OK);
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("note");
    TCase *note = tcase_create("note");
    tcase_add_test(note, note_go_vector_signs_byte_for_byte);
    tcase_add_test(note, note_go_vector_parses_and_verifies);
    tcase_add_test(note, note_every_single_byte_change_fails);
    tcase_add_test(note, note_unknown_key_only_is_proof_error);
    tcase_add_test(note, note_bad_line_of_trusted_key_rejects);
    tcase_add_test(note, note_add_signature);
    tcase_add_test(note, note_signature_line_limit);
    tcase_add_test(note, note_malformed_table);
    tcase_add_test(note, note_sign_refuses_bad_text);
    suite_add_tcase(s, note);
    TCase *cp = tcase_create("checkpoint");
    tcase_add_test(cp, checkpoint_go_tlog_vector);
    tcase_add_test(cp, checkpoint_c2sp_example_round_trip);
    tcase_add_test(cp, checkpoint_real_sum_golang_org);
    tcase_add_test(cp, checkpoint_openssl_vector);
    tcase_add_test(cp, checkpoint_sign_open_round_trip);
    tcase_add_test(cp, checkpoint_invalid_bodies);
    suite_add_tcase(s, cp);
    return s;
}

int main(void) { return tz_test_main(make_suite); }
