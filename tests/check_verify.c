/*
 * check_verify.c: one tamper test per kind of falsification the verifier
 * must catch, each asserting the seq it names. Two kinds of attacker:
 *  - one who edits the store by hand (a byte, a node, a deleted or copied
 *    entry, the head, an index record);
 *  - one with the database AND the real log key, who rewrites the log
 *    consistently (chain, tree, head, index, checkpoint re-signed): only
 *    the signatures of the actors, the key rules, the canonical encoding
 *    and a checkpoint saved earlier (--trusted) can catch that one. The
 *    forge() helper below is that attacker.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/hash.h"
#include "crypto/key.h"
#include "ledger/apply.h"
#include "ledger/checkpoint.h"
#include "ledger/codec.h"
#include "ledger/entry.h"
#include "ledger/ledger.h"
#include "ledger/merkle.h"
#include "ledger/statement.h"
#include "ledger/store.h"
#include "ledger/verify.h"
#include "util/encoding.h"
#include "tests/tz_test.h"

#define N_MEMOS 18 /* memos at seq 2..19: a 20-entry log */

static tz_fixture fx;
static uint64_t base_size;

static void setup(void)
{
    tz_fixture_init(&fx);
    tz_ledger *l;
    tz_err e;
    ck_assert(tz_ledger_open(&l, fx.db, 0, NULL, &e) == TZ_OK);
    tz_fixture_memos(l, &fx.cadre, 0, N_MEMOS);
    base_size = tz_ledger_size(l);
    tz_ledger_close(l);
}

static void teardown(void)
{
    tz_fixture_cleanup(&fx);
}

static tz_store *open_store(void)
{
    char path[400];
    snprintf(path, sizeof path, "%s/db", fx.db);
    tz_store *s;
    tz_err e;
    ck_assert_msg(tz_store_open(&s, path, 0, &e) == TZ_OK, "%s", e.msg);
    return s;
}

static tz_verify_report verify_with(const char *trusted, size_t trusted_len)
{
    tz_verify_options o = {0};
    o.trusted_note = trusted;
    o.trusted_len = trusted_len;
    tz_verify_report rep;
    tz_err e;
    ck_assert_msg(tz_verify_ledger(fx.db, &o, &rep, &e) == TZ_OK, "%s", e.msg);
    return rep;
}

static tz_verify_report verify(void)
{
    return verify_with(NULL, 0);
}

#define ASSERT_BAD_AT(rep, seq, needle)                                                        \
    do {                                                                                       \
        tz_verify_report r_ = (rep);                                                           \
        ck_assert_msg(!r_.ok, "tampering not detected (expected seq %d)", (int)(seq));        \
        ck_assert_msg(r_.has_bad_seq && r_.first_bad_seq == (uint64_t)(seq),                   \
                      "expected first bad seq %d, got %llu: %s", (int)(seq),                   \
                      (unsigned long long)r_.first_bad_seq, r_.reason);                        \
        ck_assert_msg(strstr(r_.reason, (needle)) != NULL, "reason \"%s\" lacks \"%s\"",        \
                      r_.reason, (needle));                                                    \
    } while (0)

static uint8_t *get_raw(tz_store *s, uint64_t seq, size_t *len)
{
    uint8_t k[8], *v;
    tz_err e;
    tz_store_key_u64(k, seq);
    ck_assert_msg(tz_store_get(s, TZ_CF_ENTRIES, k, 8, &v, len, &e) == TZ_OK, "%s", e.msg);
    return v;
}

static void put_raw(tz_store *s, uint64_t seq, const void *v, size_t len)
{
    uint8_t k[8];
    tz_err e;
    tz_store_key_u64(k, seq);
    ck_assert(tz_store_put(s, TZ_CF_ENTRIES, k, 8, v, len, &e) == TZ_OK);
}

static void copy_entry(tz_store *s, uint64_t from, uint64_t to)
{
    size_t len;
    uint8_t *v = get_raw(s, from, &len);
    put_raw(s, to, v, len);
    tz_store_free(v);
}

static char *saved_checkpoint(size_t *len)
{
    tz_ledger *l;
    tz_err e;
    char *note;
    ck_assert(tz_ledger_open(&l, fx.db, TZ_LEDGER_READONLY, NULL, &e) == TZ_OK);
    ck_assert(tz_ledger_checkpoint(l, &note, len, &e) == TZ_OK);
    tz_ledger_close(l);
    return note;
}

/* ---- the attacker with the log key -------------------------------------- */

typedef struct forge_ops {
    void (*mutate)(uint64_t seq, tz_entry *e, void *ctx);          /* may be NULL */
    void (*rebytes)(uint64_t seq, msgpack_sbuffer *sb, void *ctx); /* may be NULL */
    void *ctx;
} forge_ops;

static int emit_put(void *ctx, unsigned level, uint64_t index, const uint8_t hash[32], tz_err *err)
{
    (void)err;
    uint8_t key[9];
    tz_ledger_node_key(key, level, index);
    tz_store_batch_put(ctx, TZ_CF_MERKLE, key, 9, hash, 32);
    return TZ_OK;
}

static void delete_all(tz_store *s, tz_store_batch *b, tz_cf cf)
{
    tz_store_iter *it = tz_store_iter_new(s, cf, NULL, 0);
    for (; tz_store_iter_valid(it); tz_store_iter_next(it)) {
        size_t klen;
        const uint8_t *k = tz_store_iter_key(it, &klen);
        tz_store_batch_delete(b, cf, k, klen);
    }
    tz_err e;
    ck_assert(tz_store_iter_status(it, &e) == TZ_OK);
    tz_store_iter_free(it);
}

/* Rewrites the log keeping its first `keep` entries (each passed through
 * ops), re-chaining prev, rebuilding every tree node, the head, the id
 * index of dropped entries, and a checkpoint signed with the real log key. */
static void forge(uint64_t keep, const forge_ops *ops)
{
    tz_store *s = open_store();
    uint64_t n = base_size;
    uint8_t *raw[64];
    size_t len[64];
    ck_assert_uint_le(n, 64);
    for (uint64_t i = 0; i < n; i++) {
        size_t l;
        raw[i] = get_raw(s, i, &l);
        len[i] = l;
    }
    tz_store_batch *b = tz_store_batch_new(s);
    delete_all(s, b, TZ_CF_ENTRIES);
    delete_all(s, b, TZ_CF_MERKLE);
    /* Index: drop the id records of dropped entries, keep the rest. */
    tz_store_iter *it = tz_store_iter_new(s, TZ_CF_INDEX, NULL, 0);
    for (; tz_store_iter_valid(it); tz_store_iter_next(it)) {
        size_t klen, vlen;
        const uint8_t *k = tz_store_iter_key(it, &klen);
        const uint8_t *v = tz_store_iter_value(it, &vlen);
        uint64_t seq;
        if (tz_apply_value_seq(v, vlen, &seq) == TZ_OK && seq >= keep)
            tz_store_batch_delete(b, TZ_CF_INDEX, k, klen);
    }
    tz_err e;
    ck_assert(tz_store_iter_status(it, &e) == TZ_OK);
    tz_store_iter_free(it);
    tz_merkle_frontier fr;
    tz_merkle_frontier_init(&fr);
    uint8_t prev[32] = {0};
    uint64_t last_rec = 0;
    for (uint64_t i = 0; i < keep; i++) {
        tz_entry entry;
        ck_assert(tz_entry_decode(&entry, raw[i], len[i], &e) == TZ_OK);
        if (ops && ops->mutate)
            ops->mutate(i, &entry, ops->ctx);
        memcpy(entry.prev, prev, 32);
        msgpack_sbuffer sb;
        msgpack_sbuffer_init(&sb);
        ck_assert(tz_entry_encode(&sb, &entry, &e) == TZ_OK);
        if (ops && ops->rebytes)
            ops->rebytes(i, &sb, ops->ctx);
        uint8_t k[8];
        tz_store_key_u64(k, i);
        tz_store_batch_put(b, TZ_CF_ENTRIES, k, 8, sb.data, sb.size);
        tz_merkle_leaf_hash(prev, (uint8_t *)sb.data, sb.size);
        ck_assert(tz_merkle_frontier_append(&fr, prev, emit_put, b, &e) == TZ_OK);
        last_rec = entry.recorded_at;
        msgpack_sbuffer_destroy(&sb);
    }
    uint8_t root[32];
    tz_merkle_frontier_root(&fr, root);
    tz_ledger_head head = {.size = keep, .recorded_at = last_rec};
    memcpy(head.root, root, 32);
    memcpy(head.last_leaf, prev, 32);
    msgpack_sbuffer hb;
    msgpack_sbuffer_init(&hb);
    ck_assert(tz_ledger_head_encode(&hb, &head) == 0);
    tz_store_batch_put(b, TZ_CF_META, "head", 4, hb.data, hb.size);
    msgpack_sbuffer_destroy(&hb);
    tz_checkpoint cp;
    snprintf(cp.origin, sizeof cp.origin, "test.example/county");
    cp.size = keep;
    memcpy(cp.root, root, 32);
    char *note;
    size_t note_len;
    ck_assert(tz_checkpoint_sign(&note, &note_len, &cp, &fx.log, &e) == TZ_OK);
    tz_store_batch_put(b, TZ_CF_META, "checkpoint", 10, note, note_len);
    free(note);
    ck_assert_msg(tz_store_commit(s, b, &e) == TZ_OK, "%s", e.msg);
    tz_store_batch_free(b);
    for (uint64_t i = 0; i < n; i++)
        tz_store_free(raw[i]);
    tz_store_close(s);
}

/* Replaces entry `seq`'s statement with `json` signed by `key`; with key
 * NULL the entry keeps its signatures (a forger without the signer's key). */
typedef struct replace_ctx {
    uint64_t seq;
    const char *json;
    const tz_secret_key *key;
    msgpack_sbuffer sb;
} replace_ctx;

static void replace_statement(uint64_t seq, tz_entry *e, void *ctx)
{
    replace_ctx *r = ctx;
    if (seq != r->seq)
        return;
    json_t *js = json_loads(r->json, 0, NULL);
    tz_err err;
    msgpack_sbuffer_init(&r->sb);
    ck_assert(tz_statement_from_json(&r->sb, js, &err) == TZ_OK);
    json_decref(js);
    e->statement = (uint8_t *)r->sb.data;
    e->statement_len = r->sb.size;
    if (r->key == NULL)
        return;
    e->nsigs = 1;
    memcpy(e->sigs[0].key, r->key->pub.pk, 32);
    ck_assert(tz_key_sign_statement(e->sigs[0].sig, r->key, e->statement, e->statement_len,
                                    &err) == TZ_OK);
}

static void forge_replace(uint64_t seq, const char *json, const tz_secret_key *key)
{
    replace_ctx r = {.seq = seq, .json = json, .key = key};
    forge_ops ops = {replace_statement, NULL, &r};
    forge(base_size, &ops);
    msgpack_sbuffer_destroy(&r.sb);
}

/* ---- tests --------------------------------------------------------------- */

START_TEST(test_clean_ledger_verifies)
{
    tz_verify_report r = verify();
    ck_assert_msg(r.ok, "%s", r.reason);
    ck_assert_uint_eq(r.size, base_size);
    tz_ledger *l;
    tz_err e;
    ck_assert(tz_ledger_open(&l, fx.db, TZ_LEDGER_READONLY, NULL, &e) == TZ_OK);
    uint8_t root[32];
    tz_ledger_root(l, root);
    ck_assert(tz_hash_equal(root, r.root, 32));
    tz_ledger_close(l);
    /* The honest forger (no change at all) produces a log that verifies:
     * the forge helper is faithful, so the failures below are the checks'. */
    forge(base_size, NULL);
    r = verify();
    ck_assert_msg(r.ok, "%s", r.reason);
}
END_TEST

/* Flips one bit in every stride-th byte of entry seq, one at a time; each
 * must be reported at exactly that seq. */
static void flip_bytes(uint64_t seq, size_t stride)
{
    tz_store *s = open_store();
    size_t len;
    uint8_t *orig = get_raw(s, seq, &len);
    uint8_t *copy = malloc(len);
    tz_store_close(s);
    for (size_t j = 0; j < len; j += stride) {
        memcpy(copy, orig, len);
        copy[j] ^= 0x01;
        s = open_store();
        put_raw(s, seq, copy, len);
        tz_store_close(s);
        tz_verify_report r = verify();
        ck_assert_msg(!r.ok && r.has_bad_seq && r.first_bad_seq == seq,
                      "byte %zu of entry %llu flipped: ok=%d seq=%llu (%s)", j,
                      (unsigned long long)seq, r.ok, (unsigned long long)r.first_bad_seq, r.reason);
    }
    s = open_store();
    put_raw(s, seq, orig, len);
    tz_store_close(s);
    ck_assert(verify().ok);
    free(copy);
    tz_store_free(orig);
}

START_TEST(test_any_byte_changed_in_an_entry)
{
    flip_bytes(7, 1);
}
END_TEST

START_TEST(test_any_byte_changed_in_the_last_entry)
{
    flip_bytes(base_size - 1, 4);
}
END_TEST

START_TEST(test_any_byte_changed_in_genesis)
{
    flip_bytes(0, 4);
}
END_TEST

static void alter_node(unsigned level, uint64_t index)
{
    tz_store *s = open_store();
    uint8_t key[9], *v;
    size_t len;
    tz_err e;
    tz_ledger_node_key(key, level, index);
    ck_assert(tz_store_get(s, TZ_CF_MERKLE, key, 9, &v, &len, &e) == TZ_OK);
    v[31] ^= 0x80;
    ck_assert(tz_store_put(s, TZ_CF_MERKLE, key, 9, v, len, &e) == TZ_OK);
    tz_store_free(v);
    tz_store_close(s);
}

START_TEST(test_tree_node_altered)
{
    alter_node(0, 5);
    ASSERT_BAD_AT(verify(), 5, "leaf hash");
}
END_TEST

START_TEST(test_inner_tree_node_altered)
{
    /* Node (3, 1) covers leaves 8..15 and is complete when seq 15 is added. */
    alter_node(3, 1);
    ASSERT_BAD_AT(verify(), 15, "tree node (level 3, index 1)");
}
END_TEST

START_TEST(test_tree_node_added_beyond_the_log)
{
    tz_store *s = open_store();
    uint8_t key[9], h[32] = {1};
    tz_err e;
    tz_ledger_node_key(key, 0, base_size + 5);
    ck_assert(tz_store_put(s, TZ_CF_MERKLE, key, 9, h, 32, &e) == TZ_OK);
    tz_store_close(s);
    ASSERT_BAD_AT(verify(), base_size + 5, "beyond the log");
}
END_TEST

START_TEST(test_entry_deleted_in_the_middle)
{
    tz_store *s = open_store();
    uint8_t k[8];
    tz_err e;
    tz_store_key_u64(k, 9);
    ck_assert(tz_store_delete(s, TZ_CF_ENTRIES, k, 8, &e) == TZ_OK);
    tz_store_close(s);
    ASSERT_BAD_AT(verify(), 9, "entry 9 is missing");
}
END_TEST

START_TEST(test_last_entry_deleted)
{
    tz_store *s = open_store();
    uint8_t k[8];
    tz_err e;
    tz_store_key_u64(k, base_size - 1);
    ck_assert(tz_store_delete(s, TZ_CF_ENTRIES, k, 8, &e) == TZ_OK);
    tz_store_close(s);
    ASSERT_BAD_AT(verify(), base_size - 1, "missing");
}
END_TEST

START_TEST(test_entry_inserted_after_the_end)
{
    tz_store *s = open_store();
    copy_entry(s, base_size - 1, base_size);
    tz_store_close(s);
    ASSERT_BAD_AT(verify(), base_size, "says seq");
}
END_TEST

START_TEST(test_entry_inserted_in_the_middle)
{
    /* Shift entries 10.. up by one and put a copy of entry 4 at 10. */
    tz_store *s = open_store();
    for (uint64_t i = base_size; i-- > 10;)
        copy_entry(s, i, i + 1);
    copy_entry(s, 4, 10);
    tz_store_close(s);
    ASSERT_BAD_AT(verify(), 10, "says seq 4");
}
END_TEST

START_TEST(test_entry_duplicated)
{
    tz_store *s = open_store();
    copy_entry(s, 8, 9);
    tz_store_close(s);
    ASSERT_BAD_AT(verify(), 9, "duplicated");
}
END_TEST

START_TEST(test_entries_reordered)
{
    tz_store *s = open_store();
    size_t la, lb;
    uint8_t *a = get_raw(s, 11, &la), *b = get_raw(s, 12, &lb);
    put_raw(s, 11, b, lb);
    put_raw(s, 12, a, la);
    tz_store_free(a);
    tz_store_free(b);
    tz_store_close(s);
    ASSERT_BAD_AT(verify(), 11, "reordered");
}
END_TEST

static tz_ledger_head read_head(void)
{
    tz_store *s = open_store();
    tz_ledger_head h;
    tz_err e;
    ck_assert(tz_ledger_read_head(s, &h, &e) == TZ_OK);
    tz_store_close(s);
    return h;
}

static void write_head(const tz_ledger_head *h)
{
    tz_store *s = open_store();
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    ck_assert(tz_ledger_head_encode(&sb, h) == 0);
    tz_err e;
    ck_assert(tz_store_put(s, TZ_CF_META, "head", 4, sb.data, sb.size, &e) == TZ_OK);
    msgpack_sbuffer_destroy(&sb);
    tz_store_close(s);
}

static void put_head(uint64_t size, const uint8_t root[32])
{
    tz_ledger_head h = read_head();
    h.size = size;
    if (root != NULL)
        memcpy(h.root, root, 32);
    write_head(&h);
}

START_TEST(test_head_size_does_not_match)
{
    put_head(base_size - 1, NULL);
    ASSERT_BAD_AT(verify(), base_size - 1, "beyond the head");
}
END_TEST

START_TEST(test_head_claims_more_entries)
{
    put_head(base_size + 3, NULL);
    ASSERT_BAD_AT(verify(), base_size, "missing");
}
END_TEST

START_TEST(test_head_root_does_not_match)
{
    uint8_t root[32] = {0xde, 0xad};
    put_head(base_size, root);
    ASSERT_BAD_AT(verify(), base_size - 1, "head");
}
END_TEST

START_TEST(test_rewritten_after_trusted_checkpoint)
{
    size_t tlen;
    char *trusted = saved_checkpoint(&tlen);
    /* Entry 12 rewritten with a legitimately signed but different memo; the
     * whole log is re-chained and the checkpoint re-signed with the real
     * log key. Without a saved checkpoint nothing can tell. */
    forge_replace(12, "{\"type\":\"memo\",\"id\":\"memo/10\",\"at\":\"2026-11-01T09:00:00+08:00\","
                      "\"body\":{\"text\":\"a different diary\"}}", &fx.cadre);
    tz_verify_report r = verify();
    ck_assert_msg(r.ok, "the forger's log should be self-consistent: %s", r.reason);
    ASSERT_BAD_AT(verify_with(trusted, tlen), base_size - 1, "rewritten");
    free(trusted);
}
END_TEST

START_TEST(test_truncated_after_trusted_checkpoint)
{
    size_t tlen;
    char *trusted = saved_checkpoint(&tlen);
    forge(15, NULL);
    ck_assert(verify().ok);
    ASSERT_BAD_AT(verify_with(trusted, tlen), 15, "truncated");
    free(trusted);
}
END_TEST

START_TEST(test_trusted_checkpoint_of_an_honest_log_still_verifies)
{
    size_t tlen;
    char *trusted = saved_checkpoint(&tlen);
    tz_ledger *l;
    tz_err e;
    ck_assert(tz_ledger_open(&l, fx.db, 0, NULL, &e) == TZ_OK);
    tz_fixture_memos(l, &fx.cadre, 100, 7);
    tz_ledger_close(l);
    tz_verify_report r = verify_with(trusted, tlen);
    ck_assert_msg(r.ok, "%s", r.reason);
    ck_assert_uint_eq(r.size, base_size + 7);
    free(trusted);
}
END_TEST

START_TEST(test_trusted_checkpoint_signed_by_another_key)
{
    tz_checkpoint cp;
    snprintf(cp.origin, sizeof cp.origin, "test.example/county");
    cp.size = 3;
    memset(cp.root, 7, 32);
    char *note;
    size_t len;
    tz_err e;
    ck_assert(tz_checkpoint_sign(&note, &len, &cp, &fx.root, &e) == TZ_OK);
    tz_verify_report r = verify_with(note, len);
    ck_assert(!r.ok);
    ck_assert_ptr_nonnull(strstr(r.reason, "trusted checkpoint"));
    free(note);
}
END_TEST

START_TEST(test_signature_by_unknown_key)
{
    forge_replace(10, "{\"type\":\"memo\",\"id\":\"memo/8\",\"at\":\"2026-11-01T09:00:00+08:00\","
                      "\"body\":{\"text\":\"planted\"}}", &fx.stranger);
    ASSERT_BAD_AT(verify(), 10, "never granted");
}
END_TEST

START_TEST(test_signature_by_revoked_key)
{
    /* Revoke the cadre at seq 20; a root-signed memo at 21; then forge 21
     * as if the revoked cadre had signed it. */
    tz_ledger *l;
    tz_err e;
    ck_assert(tz_ledger_open(&l, fx.db, 0, NULL, &e) == TZ_OK);
    char vkey[TZ_KEY_STRING_MAX], json[512];
    tz_fixture_vkey(vkey, &fx.cadre);
    snprintf(json, sizeof json, "{\"type\":\"key.revoke\",\"id\":\"rv\",\"at\":"
             "\"2026-11-02T08:00:00Z\",\"body\":{\"key\":\"%s\",\"reason\":\"left\"}}", vkey);
    tz_append_result res;
    ck_assert(tz_fixture_append(l, json, (const tz_secret_key *const[]){&fx.root}, 1, &res) == TZ_OK);
    ck_assert_int_eq(res.status, TZ_OK);
    tz_fixture_memos(l, &fx.root, 500, 1);
    base_size = tz_ledger_size(l);
    tz_ledger_close(l);
    forge_replace(base_size - 1, "{\"type\":\"memo\",\"id\":\"memo/500\",\"at\":"
                  "\"2026-11-01T09:00:00+08:00\",\"body\":{\"text\":\"back-dated\"}}", &fx.cadre);
    ASSERT_BAD_AT(verify(), base_size - 1, "revoked");
}
END_TEST

/* Changes one byte of the first signature of entry *(uint64_t *)ctx. */
static void flip_signature_byte(uint64_t seq, tz_entry *e, void *ctx)
{
    if (seq == *(const uint64_t *)ctx)
        e->sigs[0].sig[17] ^= 0x01;
}

/* The reason must blame the signature of the cadre's key (a key granted at
 * entry 1 and never revoked, so the key rules let it through). */
static void assert_blames_cadre_signature(const tz_verify_report *r)
{
    char hex[17];
    tz_hex_encode(hex, fx.cadre.pub.pk, 8);
    ck_assert_msg(strstr(r->reason, "sigs[0]: signature by key") != NULL &&
                  strstr(r->reason, hex) != NULL, "reason \"%s\" does not name key %s", r->reason,
                  hex);
}

START_TEST(test_signature_by_granted_key_altered)
{
    /* The forger has the database and the log key, not the cadre's key:
     * one byte of the cadre's signature on entry 10 changed, then the log
     * re-chained, its tree and head rebuilt and the checkpoint re-signed.
     * Key, chain, tree, head and checkpoint all check out; only the
     * Ed25519 check over the statement can find it. */
    uint64_t seq = 10;
    forge_ops ops = {flip_signature_byte, NULL, &seq};
    forge(base_size, &ops);
    tz_verify_report r = verify();
    ASSERT_BAD_AT(r, 10, "does not verify over the statement");
    assert_blames_cadre_signature(&r);
}
END_TEST

START_TEST(test_statement_altered_under_granted_signature)
{
    /* The same forger edits the memo at entry 10 (memo/8, same id, other
     * text) and keeps the cadre's signature of the original. */
    replace_ctx rc = {.seq = 10, .key = NULL,
                      .json = "{\"type\":\"memo\",\"id\":\"memo/8\",\"at\":"
                              "\"2026-11-01T09:00:00+08:00\",\"body\":{\"text\":\"民情日志 8 (edited)\"}}"};
    forge_ops ops = {replace_statement, NULL, &rc};
    forge(base_size, &ops);
    msgpack_sbuffer_destroy(&rc.sb);
    tz_verify_report r = verify();
    ASSERT_BAD_AT(r, 10, "does not verify over the statement");
    assert_blames_cadre_signature(&r);
}
END_TEST

static void widen_seq(uint64_t seq, msgpack_sbuffer *sb, void *ctx)
{
    (void)ctx;
    if (seq != 6)
        return;
    /* "seq" (a3 73 65 71) then fixint 06: rewrite the value as uint16 cd 00 06. */
    size_t off = 0;
    while (off + 5 <= sb->size && memcmp(sb->data + off, "\xa3seq\x06", 5) != 0)
        off++;
    ck_assert_uint_lt(off + 5, sb->size + 1);
    off += 4;
    msgpack_sbuffer_write(sb, "\0\0", 2);
    memmove(sb->data + off + 3, sb->data + off + 1, sb->size - off - 3);
    memcpy(sb->data + off, "\xcd\x00\x06", 3);
}

START_TEST(test_non_canonical_entry)
{
    forge_ops ops = {NULL, widen_seq, NULL};
    forge(base_size, &ops);
    ASSERT_BAD_AT(verify(), 6, "shortest");
}
END_TEST

static void step_back_time(uint64_t seq, tz_entry *e, void *ctx)
{
    uint64_t *prev = ctx;
    if (seq == 9)
        e->recorded_at = *prev - 1;
    *prev = e->recorded_at;
}

START_TEST(test_recorded_at_goes_backwards)
{
    uint64_t prev = 0;
    forge_ops ops = {step_back_time, NULL, &prev};
    forge(base_size, &ops);
    ASSERT_BAD_AT(verify(), 9, "recorded_at");
}
END_TEST

START_TEST(test_index_record_altered)
{
    /* memo/3 is entry 5; make its id record point at entry 4. */
    tz_store *s = open_store();
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    ck_assert(!(msgpack_pack_map(&pk, 1) | tz_codec_pack_str(&pk, "seq", 3) |
                msgpack_pack_uint64(&pk, 4)));
    tz_err e;
    ck_assert(tz_store_put(s, TZ_CF_INDEX, "id\0memo/3", 9, sb.data, sb.size, &e) == TZ_OK);
    msgpack_sbuffer_destroy(&sb);
    tz_store_close(s);
    ASSERT_BAD_AT(verify(), 5, "index record id \"memo/3\"");
}
END_TEST

START_TEST(test_index_record_removed_and_added)
{
    tz_store *s = open_store();
    tz_err e;
    ck_assert(tz_store_put(s, TZ_CF_INDEX, "id\0ghost", 8, "\x81\xa3seq\x03", 6, &e) == TZ_OK);
    tz_store_close(s);
    /* A planted record names a seq of the planter's choosing: no evidence of
     * where the fault is, so it is reported without one. */
    tz_verify_report r = verify();
    ck_assert(!r.ok);
    ck_assert(!r.has_bad_seq);
    ck_assert_ptr_nonnull(strstr(r.reason, "index record id \"ghost\" was not produced by any entry"));
    /* A removed record is placed at the entry that wrote it. */
    s = open_store();
    ck_assert(tz_store_delete(s, TZ_CF_INDEX, "id\0memo/7", 9, &e) == TZ_OK);
    tz_store_close(s);
    ASSERT_BAD_AT(verify(), 9, "missing from the store");
}
END_TEST

static void alter_head(int field)
{
    tz_ledger_head h = read_head();
    if (field == 0)
        h.last_leaf[0] ^= 1;
    else
        h.recorded_at += 86400ull * 365 * 1000000; /* a year ahead */
    write_head(&h);
}

START_TEST(test_head_last_leaf_altered)
{
    alter_head(0);
    ASSERT_BAD_AT(verify(), base_size - 1, "last_leaf");
    /* and a writer refuses to open on it rather than chain to a wrong leaf */
    tz_ledger *l;
    tz_err e;
    ck_assert_int_eq(tz_ledger_open(&l, fx.db, 0, NULL, &e), TZ_ERR_TAMPER);
}
END_TEST

START_TEST(test_head_recorded_at_altered)
{
    /* A head stamped a year ahead would make the next append "recorded" then. */
    alter_head(1);
    ASSERT_BAD_AT(verify(), base_size - 1, "recorded_at");
    tz_ledger *l;
    tz_err e;
    ck_assert_int_eq(tz_ledger_open(&l, fx.db, 0, NULL, &e), TZ_ERR_TAMPER);
}
END_TEST

START_TEST(test_stored_checkpoint_stale_or_malformed)
{
    /* An older, genuinely signed checkpoint put back in place of the latest. */
    size_t len;
    char *old = saved_checkpoint(&len);
    tz_ledger *l;
    tz_err e;
    ck_assert(tz_ledger_open(&l, fx.db, 0, NULL, &e) == TZ_OK);
    tz_fixture_memos(l, &fx.cadre, 200, 2);
    tz_ledger_close(l);
    tz_store *s = open_store();
    ck_assert(tz_store_put(s, TZ_CF_META, "checkpoint", 10, old, len, &e) == TZ_OK);
    tz_store_close(s);
    ASSERT_BAD_AT(verify(), base_size, "stale");
    /* A malformed one is named after the entries are checked, at the last seq. */
    s = open_store();
    ck_assert(tz_store_put(s, TZ_CF_META, "checkpoint", 10, "junk\n", 5, &e) == TZ_OK);
    tz_store_close(s);
    ASSERT_BAD_AT(verify(), base_size + 1, "malformed");
    free(old);
}
END_TEST

START_TEST(test_stored_checkpoint_resigned_by_another_key)
{
    tz_store *s = open_store();
    tz_ledger_head h;
    tz_err e;
    ck_assert(tz_ledger_read_head(s, &h, &e) == TZ_OK);
    tz_checkpoint cp;
    snprintf(cp.origin, sizeof cp.origin, "test.example/county");
    cp.size = h.size;
    memcpy(cp.root, h.root, 32);
    char *note;
    size_t len;
    ck_assert(tz_checkpoint_sign(&note, &len, &cp, &fx.root, &e) == TZ_OK);
    ck_assert(tz_store_put(s, TZ_CF_META, "checkpoint", 10, note, len, &e) == TZ_OK);
    free(note);
    tz_store_close(s);
    ASSERT_BAD_AT(verify(), base_size - 1, "stored checkpoint");
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("verify");
    TCase *tc = tcase_create("tamper");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_clean_ledger_verifies);
    tcase_add_test(tc, test_any_byte_changed_in_an_entry);
    tcase_add_test(tc, test_any_byte_changed_in_the_last_entry);
    tcase_add_test(tc, test_any_byte_changed_in_genesis);
    tcase_add_test(tc, test_tree_node_altered);
    tcase_add_test(tc, test_inner_tree_node_altered);
    tcase_add_test(tc, test_tree_node_added_beyond_the_log);
    tcase_add_test(tc, test_entry_deleted_in_the_middle);
    tcase_add_test(tc, test_last_entry_deleted);
    tcase_add_test(tc, test_entry_inserted_after_the_end);
    tcase_add_test(tc, test_entry_inserted_in_the_middle);
    tcase_add_test(tc, test_entry_duplicated);
    tcase_add_test(tc, test_entries_reordered);
    tcase_add_test(tc, test_head_size_does_not_match);
    tcase_add_test(tc, test_head_claims_more_entries);
    tcase_add_test(tc, test_head_root_does_not_match);
    tcase_add_test(tc, test_rewritten_after_trusted_checkpoint);
    tcase_add_test(tc, test_truncated_after_trusted_checkpoint);
    tcase_add_test(tc, test_trusted_checkpoint_of_an_honest_log_still_verifies);
    tcase_add_test(tc, test_trusted_checkpoint_signed_by_another_key);
    tcase_add_test(tc, test_signature_by_unknown_key);
    tcase_add_test(tc, test_signature_by_revoked_key);
    tcase_add_test(tc, test_signature_by_granted_key_altered);
    tcase_add_test(tc, test_statement_altered_under_granted_signature);
    tcase_add_test(tc, test_non_canonical_entry);
    tcase_add_test(tc, test_recorded_at_goes_backwards);
    tcase_add_test(tc, test_index_record_altered);
    tcase_add_test(tc, test_index_record_removed_and_added);
    tcase_add_test(tc, test_stored_checkpoint_resigned_by_another_key);
    tcase_add_test(tc, test_head_last_leaf_altered);
    tcase_add_test(tc, test_head_recorded_at_altered);
    tcase_add_test(tc, test_stored_checkpoint_stale_or_malformed);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return tz_test_main(make_suite);
}
