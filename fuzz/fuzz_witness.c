/*
 * fuzz_witness.c: what a witness and a verifier of cosigned checkpoints
 * read (ledger/witness.h): consistency-proof files, witness key strings and
 * cosigned notes. Every input is read each way.
 *
 * Properties:
 *  - tz_witness_proof_parse: an accepted proof has size1 <= size2 and at
 *    most TZ_MERKLE_MAX_PROOF hashes, and the same proof written back as
 *    JSON parses to the same values;
 *  - tz_witness_key_parse: an accepted key string formats back to the
 *    input in one of its two spellings (type 0x01 key string or the spec's
 *    0x04 cosigner key), and its id is the note key id;
 *  - on a note: tz_witness_verify_line says TZ_ERR_NOTFOUND exactly for the
 *    lines of other keys (name or cosignature key id differ), and TZ_OK only
 *    for 72-byte signatures; tz_witness_add_cosignature keeps the text and
 *    every other line and adds one that verifies with its time;
 *    tz_witness_policy_check succeeds only when tz_checkpoint_open does,
 *    with the same checkpoint, and with needed = 0 exactly when it does.
 */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/note.h"
#include "fuzz/fuzz.h"
#include "ledger/checkpoint.h"
#include "ledger/witness.h"
#include "util/encoding.h"

static const char *const vector_keys[] = {
    "example.org/county-log+07ff2b79+AddamAGCsQq31Uv+08lkBzoO4XLz2qYjJa8CGmj3B1Ea", /* the log */
    "witness.example/w1+d3188955+AT1AF8PoQ4lakrcKp00bfrycmCzPLsSWjMDNVfEq9GYM",     /* a witness */
};

/* 0: the county log key; 1: witness w1 of the vectors; 2: fuzz-key-2. */
static const tz_public_key *key(size_t i)
{
    static tz_public_key keys[3];
    static int ready;
    if (!ready) {
        for (size_t k = 0; k < 2; k++) {
            tz_err err;
            if (tz_key_parse_public(&keys[k], vector_keys[k], strlen(vector_keys[k]), &err) != TZ_OK)
                tz_fuzz_fail(__FILE__, __LINE__, "vector key parses", "%s", err.msg);
        }
        keys[2] = tz_fuzz_key(2)->pub;
        ready = 1;
    }
    return &keys[i];
}

static void check_proof(const uint8_t *data, size_t size)
{
    tz_err err;
    tz_witness_proof *p = malloc(sizeof *p), *q = malloc(sizeof *q);
    TZ_FUZZ_CHECK(p != NULL && q != NULL);
    int rc = tz_witness_proof_parse(p, (const char *)data, size, &err);
    if (rc != TZ_OK) {
        TZ_FUZZ_CHECK_ERROR(rc, &err, TZ_ERR_INPUT);
        free(p);
        free(q);
        return;
    }
    TZ_FUZZ_CHECK(size <= TZ_WITNESS_PROOF_MAX_JSON);
    TZ_FUZZ_CHECK(p->size1 <= p->size2 && p->proof.count <= TZ_MERKLE_MAX_PROOF);
    json_t *hashes = json_array();
    for (size_t i = 0; i < p->proof.count; i++) {
        char b64[45];
        tz_base64_encode(b64, sizeof b64, p->proof.hashes[i], 32);
        json_array_append_new(hashes, json_string(b64));
    }
    json_t *doc = json_pack("{s:I,s:I,s:o}", "size1", (json_int_t)p->size1, "size2", (json_int_t)p->size2,
                            "hashes", hashes);
    TZ_FUZZ_CHECK(doc != NULL);
    char *text = json_dumps(doc, JSON_COMPACT);
    TZ_FUZZ_CHECK(text != NULL);
    rc = tz_witness_proof_parse(q, text, strlen(text), &err);
    TZ_FUZZ_CHECK_MSG(rc == TZ_OK, "a parsed proof written back does not parse: %s", err.msg);
    TZ_FUZZ_CHECK(q->size1 == p->size1 && q->size2 == p->size2 && q->proof.count == p->proof.count);
    TZ_FUZZ_CHECK(memcmp(q->proof.hashes, p->proof.hashes, 32 * p->proof.count) == 0);
    free(text);
    json_decref(doc);
    free(p);
    free(q);
}

static void check_key(const uint8_t *data, size_t size)
{
    tz_err err;
    tz_public_key k;
    int rc = tz_witness_key_parse(&k, (const char *)data, size, &err);
    if (rc != TZ_OK) {
        TZ_FUZZ_CHECK_ERROR(rc, &err, TZ_ERR_INPUT);
        return;
    }
    TZ_FUZZ_CHECK(tz_key_id(k.name, k.pk) == k.id);
    char a[TZ_KEY_STRING_MAX], b[TZ_KEY_STRING_MAX];
    TZ_FUZZ_CHECK(tz_key_format_public(a, sizeof a, &k, NULL) == TZ_OK);
    TZ_FUZZ_CHECK(tz_witness_key_format(b, sizeof b, &k, NULL) == TZ_OK);
    int same_a = strlen(a) == size && memcmp(a, data, size) == 0;
    int same_b = strlen(b) == size && memcmp(b, data, size) == 0;
    TZ_FUZZ_CHECK_MSG(same_a || same_b, "a witness key string formats back in neither spelling");
}

static void check_note(const uint8_t *data, size_t size)
{
    tz_err err;
    tz_note *note = malloc(sizeof *note);
    TZ_FUZZ_CHECK(note != NULL);
    int parsed = tz_note_parse(note, (const char *)data, size, NULL) == TZ_OK;

    if (parsed) {
        for (size_t w = 1; w < 3; w++) {
            uint32_t cosig_id = tz_witness_key_id(key(w));
            for (size_t i = 0; i < note->nsigs; i++) {
                uint64_t t = 0;
                int rc = tz_witness_verify_line(note, i, key(w), &t, &err);
                int theirs = note->sigs[i].key_id == cosig_id && strcmp(note->sigs[i].name, key(w)->name) == 0;
                TZ_FUZZ_CHECK_MSG((rc == TZ_ERR_NOTFOUND) == !theirs, "line %zu, witness %zu: %d", i, w, rc);
                if (rc == TZ_OK)
                    TZ_FUZZ_CHECK(note->sigs[i].sig_len == 72 && t <= TZ_WITNESS_TIME_MAX);
                else if (rc != TZ_ERR_NOTFOUND)
                    TZ_FUZZ_CHECK_ERROR(rc, &err, TZ_ERR_PROOF, TZ_ERR_NOMEM);
            }
            TZ_FUZZ_CHECK(tz_witness_verify_line(note, note->nsigs, key(w), NULL, NULL) == TZ_ERR_USAGE);
        }

        /* fuzz-key-2 cosigns. */
        uint64_t when = 1700000000u + size;
        char *out = NULL;
        size_t out_len = 0;
        int rc = tz_witness_add_cosignature(&out, &out_len, (const char *)data, size, tz_fuzz_key(2), when, &err);
        if (rc != TZ_OK) {
            TZ_FUZZ_CHECK_ERROR(rc, &err, TZ_ERR_INPUT);
        } else {
            tz_note *added = malloc(sizeof *added);
            TZ_FUZZ_CHECK(added != NULL);
            rc = tz_note_parse(added, out, out_len, &err);
            TZ_FUZZ_CHECK_MSG(rc == TZ_OK, "%s", err.msg);
            TZ_FUZZ_CHECK(added->text_len == note->text_len &&
                          memcmp(added->text, note->text, note->text_len) == 0);
            uint64_t t = 0;
            rc = tz_witness_verify_line(added, added->nsigs - 1, key(2), &t, &err);
            TZ_FUZZ_CHECK_MSG(rc == TZ_OK && t == when, "the added cosignature: %s", err.msg);
            uint32_t cosig_id = tz_witness_key_id(key(2));
            size_t j = 0;
            for (size_t i = 0; i < note->nsigs; i++) {
                const tz_note_sig *s = &note->sigs[i];
                if (s->key_id == cosig_id && strcmp(s->name, key(2)->name) == 0)
                    continue;
                TZ_FUZZ_CHECK(j < added->nsigs && strcmp(added->sigs[j].name, s->name) == 0 &&
                              added->sigs[j].key_id == s->key_id && added->sigs[j].sig_len == s->sig_len &&
                              memcmp(added->sigs[j].sig, s->sig, s->sig_len) == 0);
                j++;
            }
            TZ_FUZZ_CHECK(added->nsigs == j + 1);
            free(added);
            free(out);
        }
    }

    /* The policy: the log's signature and K of the witnesses. */
    tz_public_key witnesses[2] = {*key(1), *key(2)};
    tz_checkpoint opened, cp;
    int open_rc = tz_checkpoint_open(&opened, (const char *)data, size, key(0), NULL);
    for (size_t needed = 0; needed <= 2; needed++) {
        int rc = tz_witness_policy_check((const char *)data, size, key(0), witnesses, 2, needed, &cp, &err);
        if (rc == TZ_OK) {
            TZ_FUZZ_CHECK(open_rc == TZ_OK && memcmp(&cp, &opened, sizeof cp) == 0);
        } else {
            TZ_FUZZ_CHECK_ERROR(rc, &err, TZ_ERR_PROOF, TZ_ERR_INPUT, TZ_ERR_NOMEM);
            TZ_FUZZ_CHECK_MSG(needed > 0 || open_rc != TZ_OK, "needed 0 refused an open checkpoint: %s",
                              err.msg);
        }
    }
    free(note);
}

TZ_FUZZ_ENTRY(witness)
{
    check_proof(data, size);
    check_key(data, size);
    check_note(data, size);
    return 0;
}
