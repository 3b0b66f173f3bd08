/*
 * fuzz_checkpoint.c: C2SP signed notes and tlog checkpoints, as a verifier
 * downloads them (`verify --trusted`, a witness, a proof file).
 *
 * Every input is read three ways:
 *  1. as a signed note (tz_note_parse): an accepted note is rebuilt line by
 *     line from the parse result and must give back exactly the input (one
 *     byte form per note); tz_note_verify is compared, for several trusted
 *     keys (the real vectors' keys and fixed test keys), with a naive
 *     verifier over the parsed lines; tz_note_add_signature keeps the text
 *     and every other key's line and adds a line that verifies;
 *     tz_checkpoint_open with the county log key agrees with verify + parse.
 *  2. as a checkpoint body (tz_checkpoint_parse): tz_checkpoint_format of
 *     the result is the input's first three lines; signing it and opening
 *     the note gives the same checkpoint.
 *  3. as note text (tz_note_sign): a signed text parses back as the same
 *     text with a line that verifies.
 * Refusals are TZ_ERR_INPUT (TZ_ERR_PROOF for signatures) with a message.
 */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/note.h"
#include "fuzz/fuzz.h"
#include "ledger/checkpoint.h"
#include "util/encoding.h"

/* Public keys of the signed vectors in tests/vectors (and so in the seed
 * corpus), so that the accepting paths are reached. */
static const char *const vector_keys[] = {
    "example.org/county-log+07ff2b79+AddamAGCsQq31Uv+08lkBzoO4XLz2qYjJa8CGmj3B1Ea",
    "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
    "EnochRoot+af0cfe78+ATtqJ7zOtqQtYqOo0CpvDXNlMhV3HeJDpjrASKGLWdop",
    "sum.golang.org+033de0ae+Ac4zctda0e5eza+HJyk9SxEdh+s3Ux18htTTAD8OuAn8",
};
#define NVECTOR_KEYS (sizeof vector_keys / sizeof vector_keys[0])
#define NKEYS (NVECTOR_KEYS + 2)

static const tz_public_key *trusted_key(size_t i)
{
    static tz_public_key keys[NKEYS];
    static int ready;
    if (!ready) {
        for (size_t k = 0; k < NVECTOR_KEYS; k++) {
            tz_err err;
            if (tz_key_parse_public(&keys[k], vector_keys[k], strlen(vector_keys[k]), &err) != TZ_OK)
                tz_fuzz_fail(__FILE__, __LINE__, "vector key parses", "%s", err.msg);
        }
        keys[NVECTOR_KEYS] = tz_fuzz_key(0)->pub;
        keys[NVECTOR_KEYS + 1] = tz_fuzz_key(1)->pub;
        ready = 1;
    }
    return &keys[i];
}

/* The naive verifier: TZ_OK when at least one line names key (name and
 * id) and every such line holds a valid 64-byte Ed25519 signature. */
static int naive_verify(const tz_note *note, const tz_public_key *key)
{
    size_t matches = 0;
    for (size_t i = 0; i < note->nsigs; i++) {
        const tz_note_sig *s = &note->sigs[i];
        if (s->key_id != key->id || strcmp(s->name, key->name) != 0)
            continue;
        matches++;
        if (s->sig_len != 64 ||
            crypto_sign_verify_detached(s->sig, (const uint8_t *)note->text, note->text_len, key->pk) != 0)
            return TZ_ERR_PROOF;
    }
    return matches > 0 ? TZ_OK : TZ_ERR_PROOF;
}

static int sig_equal(const tz_note_sig *a, const tz_note_sig *b)
{
    return strcmp(a->name, b->name) == 0 && a->key_id == b->key_id && a->sig_len == b->sig_len &&
           memcmp(a->sig, b->sig, a->sig_len) == 0;
}

/* Rebuilds the note from its parse: text, blank line, one line per sig. */
static void check_rebuild(const tz_note *note, const uint8_t *data, size_t size)
{
    char *buf = malloc(size + 1);
    TZ_FUZZ_CHECK(buf != NULL);
    size_t w = 0;
    TZ_FUZZ_CHECK(note->text_len >= 1 && note->text_len < size);
    TZ_FUZZ_CHECK(note->text == (const char *)data);
    TZ_FUZZ_CHECK(note->text[note->text_len - 1] == '\n');
    memcpy(buf, note->text, note->text_len);
    w = note->text_len;
    buf[w++] = '\n';
    TZ_FUZZ_CHECK(note->nsigs >= 1 && note->nsigs <= TZ_NOTE_MAX_SIGS);
    for (size_t i = 0; i < note->nsigs; i++) {
        const tz_note_sig *s = &note->sigs[i];
        TZ_FUZZ_CHECK(s->sig_len >= 1 && s->sig_len <= sizeof s->sig);
        TZ_FUZZ_CHECK(tz_key_check_name(s->name, NULL) == TZ_OK);
        uint8_t raw[4 + sizeof s->sig];
        raw[0] = (uint8_t)(s->key_id >> 24), raw[1] = (uint8_t)(s->key_id >> 16);
        raw[2] = (uint8_t)(s->key_id >> 8), raw[3] = (uint8_t)s->key_id;
        memcpy(raw + 4, s->sig, s->sig_len);
        char b64[4 * ((sizeof raw + 2) / 3) + 1];
        TZ_FUZZ_CHECK(tz_base64_encode(b64, sizeof b64, raw, 4 + s->sig_len) != NULL);
        size_t name_len = strlen(s->name), b64_len = strlen(b64);
        size_t line = 4 + name_len + 1 + b64_len + 1; /* "— " is 4 bytes */
        TZ_FUZZ_CHECK_MSG(w + line <= size, "line %zu longer than the input", i);
        memcpy(buf + w, "\xE2\x80\x94 ", 4);
        memcpy(buf + w + 4, s->name, name_len);
        buf[w + 4 + name_len] = ' ';
        memcpy(buf + w + 4 + name_len + 1, b64, b64_len);
        buf[w + line - 1] = '\n';
        w += line;
    }
    TZ_FUZZ_CHECK_MSG(w == size && memcmp(buf, data, size) == 0, "note does not rebuild byte for byte");
    free(buf);
}

static void check_note(const uint8_t *data, size_t size)
{
    tz_err err;
    tz_note *note = malloc(sizeof *note);
    TZ_FUZZ_CHECK(note != NULL);
    int rc = tz_note_parse(note, (const char *)data, size, &err);
    if (rc != TZ_OK) {
        TZ_FUZZ_CHECK_ERROR(rc, &err, TZ_ERR_INPUT);
        /* A note that does not parse never opens. */
        tz_checkpoint cp;
        TZ_FUZZ_CHECK(tz_checkpoint_open(&cp, (const char *)data, size, trusted_key(0), NULL) != TZ_OK);
        free(note);
        return;
    }
    check_rebuild(note, data, size);

    for (size_t k = 0; k < NKEYS; k++) {
        rc = tz_note_verify(note, trusted_key(k), &err);
        int expected = naive_verify(note, trusted_key(k));
        TZ_FUZZ_CHECK_MSG(rc == expected, "key %zu: verify %d, naive %d: %s", k, rc, expected,
                          rc != TZ_OK ? err.msg : "");
        if (rc != TZ_OK)
            TZ_FUZZ_CHECK_ERROR(rc, &err, TZ_ERR_PROOF);
    }

    /* Opening = verify with the log key, then parse the text. */
    tz_checkpoint opened, parsed;
    rc = tz_checkpoint_open(&opened, (const char *)data, size, trusted_key(0), &err);
    int verified = naive_verify(note, trusted_key(0)) == TZ_OK;
    int body_ok = tz_checkpoint_parse(&parsed, note->text, note->text_len, NULL) == TZ_OK;
    if (rc == TZ_OK) {
        TZ_FUZZ_CHECK(verified && body_ok);
        TZ_FUZZ_CHECK(memcmp(&opened, &parsed, sizeof opened) == 0);
    } else {
        TZ_FUZZ_CHECK_ERROR(rc, &err, TZ_ERR_INPUT, TZ_ERR_PROOF);
        TZ_FUZZ_CHECK(!verified || !body_ok);
        TZ_FUZZ_CHECK(rc == (verified ? TZ_ERR_INPUT : TZ_ERR_PROOF));
    }

    /* Adding fuzz-key-1's signature. */
    const tz_secret_key *key = tz_fuzz_key(1);
    char *out = NULL;
    size_t out_len = 0;
    rc = tz_note_add_signature(&out, &out_len, (const char *)data, size, key, &err);
    if (rc != TZ_OK) {
        TZ_FUZZ_CHECK_ERROR(rc, &err, TZ_ERR_INPUT);
    } else {
        tz_note *added = malloc(sizeof *added);
        TZ_FUZZ_CHECK(added != NULL);
        rc = tz_note_parse(added, out, out_len, &err);
        TZ_FUZZ_CHECK_MSG(rc == TZ_OK, "a note with an added signature does not parse: %s", err.msg);
        TZ_FUZZ_CHECK(added->text_len == note->text_len &&
                      memcmp(added->text, note->text, note->text_len) == 0);
        TZ_FUZZ_CHECK(tz_note_verify(added, &key->pub, NULL) == TZ_OK);
        size_t j = 0;
        for (size_t i = 0; i < note->nsigs; i++) {
            const tz_note_sig *s = &note->sigs[i];
            if (s->key_id == key->pub.id && strcmp(s->name, key->pub.name) == 0)
                continue;
            TZ_FUZZ_CHECK(j < added->nsigs && sig_equal(&added->sigs[j], s));
            j++;
        }
        TZ_FUZZ_CHECK(added->nsigs == j + 1);
        /* Every other key verifies the same as before. */
        for (size_t k = 0; k < NKEYS; k++)
            if (k != NVECTOR_KEYS + 1)
                TZ_FUZZ_CHECK(naive_verify(added, trusted_key(k)) == naive_verify(note, trusted_key(k)));
        free(added);
        free(out);
    }
    free(note);
}

static void check_body(const uint8_t *data, size_t size)
{
    tz_err err;
    tz_checkpoint cp;
    int rc = tz_checkpoint_parse(&cp, (const char *)data, size, &err);
    if (rc != TZ_OK) {
        TZ_FUZZ_CHECK_ERROR(rc, &err, TZ_ERR_INPUT);
        return;
    }
    TZ_FUZZ_CHECK(memchr(cp.origin, '\0', sizeof cp.origin) != NULL);
    TZ_FUZZ_CHECK(tz_checkpoint_check_origin(cp.origin, NULL) == TZ_OK);
    char *body = NULL;
    size_t body_len = 0;
    rc = tz_checkpoint_format(&body, &body_len, &cp, &err);
    TZ_FUZZ_CHECK_MSG(rc == TZ_OK, "%s", err.msg);
    TZ_FUZZ_CHECK_MSG(body_len <= size && memcmp(body, data, body_len) == 0,
                      "format(parse(x)) is not the first three lines of x");
    /* What follows is whole extension lines. */
    TZ_FUZZ_CHECK(data[body_len - 1] == '\n' && (body_len == size || data[body_len] != '\n'));
    free(body);

    char *note = NULL;
    size_t note_len = 0;
    rc = tz_checkpoint_sign(&note, &note_len, &cp, tz_fuzz_key(0), &err);
    TZ_FUZZ_CHECK_MSG(rc == TZ_OK, "%s", err.msg);
    tz_checkpoint back;
    rc = tz_checkpoint_open(&back, note, note_len, &tz_fuzz_key(0)->pub, &err);
    TZ_FUZZ_CHECK_MSG(rc == TZ_OK, "%s", err.msg);
    TZ_FUZZ_CHECK(memcmp(&back, &cp, sizeof cp) == 0);
    rc = tz_checkpoint_open(&back, note, note_len, &tz_fuzz_key(1)->pub, &err);
    TZ_FUZZ_CHECK(rc == TZ_ERR_PROOF);
    free(note);
}

static void check_text(const uint8_t *data, size_t size)
{
    tz_err err;
    char *note = NULL;
    size_t note_len = 0;
    int rc = tz_note_sign(&note, &note_len, (const char *)data, size, tz_fuzz_key(0), &err);
    if (rc != TZ_OK) {
        TZ_FUZZ_CHECK_ERROR(rc, &err, TZ_ERR_INPUT);
        return;
    }
    tz_note *parsed = malloc(sizeof *parsed);
    TZ_FUZZ_CHECK(parsed != NULL);
    rc = tz_note_parse(parsed, note, note_len, &err);
    TZ_FUZZ_CHECK_MSG(rc == TZ_OK, "a signed text does not parse as a note: %s", err.msg);
    TZ_FUZZ_CHECK(parsed->text_len == size && memcmp(parsed->text, data, size) == 0);
    TZ_FUZZ_CHECK(parsed->nsigs == 1);
    TZ_FUZZ_CHECK(tz_note_verify(parsed, &tz_fuzz_key(0)->pub, NULL) == TZ_OK);
    /* A checkpoint body signed as a note opens as the same checkpoint. */
    tz_checkpoint a, b;
    if (tz_checkpoint_parse(&a, (const char *)data, size, NULL) == TZ_OK) {
        TZ_FUZZ_CHECK(tz_checkpoint_open(&b, note, note_len, &tz_fuzz_key(0)->pub, NULL) == TZ_OK);
        TZ_FUZZ_CHECK(memcmp(&a, &b, sizeof a) == 0);
    }
    free(parsed);
    free(note);
}

TZ_FUZZ_ENTRY(checkpoint)
{
    check_note(data, size);
    check_body(data, size);
    check_text(data, size);
    return 0;
}
