/*
 * check_ledger.c: the append pipeline as a user of the ledger sees it:
 * seqs and leaf hashes, idempotent retries, rejections that leave no trace,
 * group commits, the key rules (grant, revoke, authority, log key),
 * co-signatures, proofs against the checkpoint, and crash safety: a child
 * killed with SIGKILL mid-append leaves a log that verifies and holds every
 * acknowledged entry.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "crypto/hash.h"
#include "crypto/keyfile.h"
#include "ledger/apply.h"
#include "ledger/checkpoint.h"
#include "ledger/entry.h"
#include "ledger/ledger.h"
#include "ledger/merkle.h"
#include "ledger/verify.h"
#include "ledger/statement.h"
#include "ledger/store.h"
#include "util/encoding.h"
#include "tests/tz_test.h"

static tz_fixture fx;
static tz_ledger *lg;

static void setup(void)
{
    tz_fixture_init(&fx);
    tz_err e;
    ck_assert_msg(tz_ledger_open(&lg, fx.db, 0, NULL, &e) == TZ_OK, "%s", e.msg);
}

static void teardown(void)
{
    tz_ledger_close(lg);
    lg = NULL;
    /* Invariant after every test: whatever happened, the ledger verifies. */
    tz_verify_report rep;
    tz_err e;
    ck_assert_msg(tz_verify_ledger(fx.db, NULL, &rep, &e) == TZ_OK, "%s", e.msg);
    ck_assert_msg(rep.ok, "ledger no longer verifies: seq %llu: %s",
                  (unsigned long long)rep.first_bad_seq, rep.reason);
    tz_fixture_cleanup(&fx);
}

#define KEYS(k) ((const tz_secret_key *const[]){(k)})

static int append1(const char *json, const tz_secret_key *k, tz_append_result *res)
{
    ck_assert(tz_fixture_append(lg, json, KEYS(k), 1, res) == TZ_OK);
    return res->status;
}

static void grant_json(char *out, size_t cap, const char *id, const tz_secret_key *k,
                       const char *roles)
{
    char vkey[TZ_KEY_STRING_MAX];
    tz_fixture_vkey(vkey, k);
    snprintf(out, cap, "{\"type\":\"key.grant\",\"id\":\"%s\",\"at\":\"2026-11-01T08:00:00+08:00\","
             "\"body\":{\"key\":\"%s\",\"holder\":\"h\",\"roles\":%s,\"scope\":\"*\"}}", id, vkey,
             roles);
}

static void revoke_json(char *out, size_t cap, const char *id, const tz_secret_key *k)
{
    char vkey[TZ_KEY_STRING_MAX];
    tz_fixture_vkey(vkey, k);
    snprintf(out, cap, "{\"type\":\"key.revoke\",\"id\":\"%s\",\"at\":\"2026-11-01T08:00:00+08:00\","
             "\"body\":{\"key\":\"%s\",\"reason\":\"phone lost\"}}", id, vkey);
}

#define MEMO(id) "{\"type\":\"memo\",\"id\":\"" id "\",\"at\":\"2026-11-01T09:00:00+08:00\"," \
                 "\"body\":{\"text\":\"diary\"}}"

START_TEST(test_genesis_and_checkpoint)
{
    ck_assert_uint_eq(tz_ledger_size(lg), 2);
    ck_assert_str_eq(tz_ledger_origin(lg), "test.example/county");
    ck_assert(tz_hash_equal(tz_ledger_log_key(lg)->pk, fx.log.pub.pk, 32));
    char *note;
    size_t len;
    tz_err e;
    ck_assert(tz_ledger_checkpoint(lg, &note, &len, &e) == TZ_OK);
    tz_checkpoint cp;
    ck_assert_msg(tz_checkpoint_open(&cp, note, len, &fx.log.pub, &e) == TZ_OK, "%s", e.msg);
    ck_assert_uint_eq(cp.size, 2);
    uint8_t root[32];
    tz_ledger_root(lg, root);
    ck_assert(tz_hash_equal(cp.root, root, 32));
    /* A checkpoint is signed by the log key only: another key does not open it. */
    ck_assert_int_eq(tz_checkpoint_open(&cp, note, len, &fx.root.pub, &e), TZ_ERR_PROOF);
    free(note);
}
END_TEST

START_TEST(test_append_seq_and_leaf_hash)
{
    tz_append_result res;
    ck_assert_int_eq(append1(MEMO("m1"), &fx.cadre, &res), TZ_OK);
    ck_assert_uint_eq(res.seq, 2);
    ck_assert_int_eq(res.existing, 0);
    uint8_t *raw;
    size_t len;
    tz_err e;
    ck_assert(tz_ledger_get(lg, 2, &raw, &len, &e) == TZ_OK);
    uint8_t leaf[32];
    tz_merkle_leaf_hash(leaf, raw, len);
    ck_assert(tz_hash_equal(leaf, res.leaf_hash, 32));
    tz_entry entry;
    ck_assert(tz_entry_decode(&entry, raw, len, &e) == TZ_OK);
    ck_assert_uint_eq(entry.seq, 2);
    uint8_t prev[32];
    ck_assert(tz_ledger_leaf_hash(lg, 1, prev, &e) == TZ_OK);
    ck_assert(tz_hash_equal(entry.prev, prev, 32));
    tz_store_free(raw);
    uint64_t seq;
    ck_assert(tz_ledger_find_id(lg, "m1", 2, &seq, &e) == TZ_OK);
    ck_assert_uint_eq(seq, 2);
}
END_TEST

START_TEST(test_idempotent_retry)
{
    tz_append_result a, b;
    ck_assert_int_eq(append1(MEMO("m1"), &fx.cadre, &a), TZ_OK);
    ck_assert_int_eq(append1(MEMO("m1"), &fx.cadre, &b), TZ_OK);
    ck_assert_int_eq(b.existing, 1);
    ck_assert_uint_eq(b.seq, a.seq);
    ck_assert(tz_hash_equal(a.leaf_hash, b.leaf_hash, 32));
    ck_assert_uint_eq(tz_ledger_size(lg), 3);
    /* Reopen: a retry after a restart is still recognised. */
    tz_ledger_close(lg);
    tz_err e;
    ck_assert(tz_ledger_open(&lg, fx.db, 0, NULL, &e) == TZ_OK);
    ck_assert_int_eq(append1(MEMO("m1"), &fx.cadre, &b), TZ_OK);
    ck_assert_int_eq(b.existing, 1);
    ck_assert_uint_eq(tz_ledger_size(lg), 3);
}
END_TEST

START_TEST(test_retry_needs_an_original_signer)
{
    tz_append_result res;
    ck_assert_int_eq(append1(MEMO("m1"), &fx.cadre, &res), TZ_OK);
    /* The same bytes signed by someone else: no answer about what is recorded. */
    ck_assert_int_eq(append1(MEMO("m1"), &fx.stranger, &res), TZ_ERR_CONFLICT);
    ck_assert_int_eq(res.existing, 0);
    ck_assert_int_eq(append1(MEMO("m1"), &fx.root, &res), TZ_ERR_CONFLICT);
    ck_assert_ptr_nonnull(strstr(res.err.msg, "cosign"));
}
END_TEST

START_TEST(test_root_and_log_key_revocation_rules)
{
    tz_append_result res;
    char json[512];
    /* The only root cannot revoke itself (nobody could grant authority again). */
    revoke_json(json, sizeof json, "rv/root", &fx.root);
    ck_assert_int_eq(append1(json, &fx.root, &res), TZ_ERR_FORBIDDEN);
    ck_assert_ptr_nonnull(strstr(res.err.msg, "another root"));
    /* The log key is not a statement key: it cannot be revoked by a statement. */
    revoke_json(json, sizeof json, "rv/log", &fx.log);
    ck_assert_int_eq(append1(json, &fx.root, &res), TZ_ERR_RULE);
    ck_assert_ptr_nonnull(strstr(res.err.msg, "checkpoint key"));
}
END_TEST

START_TEST(test_same_id_other_content_conflicts)
{
    tz_append_result res;
    ck_assert_int_eq(append1(MEMO("m1"), &fx.cadre, &res), TZ_OK);
    ck_assert_int_eq(append1("{\"type\":\"memo\",\"id\":\"m1\",\"at\":\"2026-11-01T09:00:00+08:00\","
                             "\"body\":{\"text\":\"rewritten\"}}", &fx.cadre, &res),
                     TZ_ERR_CONFLICT);
    ck_assert_ptr_nonnull(strstr(res.err.msg, "already used by entry 2"));
    ck_assert_uint_eq(tz_ledger_size(lg), 3);
}
END_TEST

START_TEST(test_group_commit_rejects_leave_no_trace)
{
    /* Three statements in one group; the middle one is signed by a stranger. */
    const char *texts[3] = {MEMO("g1"), MEMO("g2"), MEMO("g3")};
    const tz_secret_key *signer[3] = {&fx.cadre, &fx.stranger, &fx.cadre};
    msgpack_sbuffer sb[3];
    tz_signature sigs[3];
    tz_submission subs[3];
    tz_append_result res[3];
    tz_err e;
    for (int i = 0; i < 3; i++) {
        json_t *js = json_loads(texts[i], 0, NULL);
        msgpack_sbuffer_init(&sb[i]);
        ck_assert(tz_statement_from_json(&sb[i], js, &e) == TZ_OK);
        json_decref(js);
        memcpy(sigs[i].key, signer[i]->pub.pk, 32);
        ck_assert(tz_key_sign_statement(sigs[i].sig, signer[i], (uint8_t *)sb[i].data, sb[i].size,
                                        &e) == TZ_OK);
        subs[i] = (tz_submission){(uint8_t *)sb[i].data, sb[i].size, &sigs[i], 1};
    }
    size_t processed;
    ck_assert(tz_ledger_append(lg, subs, 3, res, &processed, 0, &e) == TZ_OK);
    ck_assert_uint_eq(processed, 3);
    ck_assert_int_eq(res[0].status, TZ_OK);
    ck_assert_int_eq(res[1].status, TZ_ERR_SIGNATURE);
    ck_assert_int_eq(res[2].status, TZ_OK);
    ck_assert_uint_eq(res[0].seq, 2);
    ck_assert_uint_eq(res[2].seq, 3); /* no gap where the rejected one was */
    uint64_t seq;
    ck_assert_int_eq(tz_ledger_find_id(lg, "g2", 2, &seq, &e), TZ_ERR_NOTFOUND);
    /* With STOP_ON_REJECT, nothing after the rejected one is processed. */
    subs[0] = subs[1];
    ck_assert(tz_ledger_append(lg, subs, 3, res, &processed, TZ_APPEND_STOP_ON_REJECT, &e) == TZ_OK);
    ck_assert_uint_eq(processed, 1);
    ck_assert_uint_eq(tz_ledger_size(lg), 4);
    for (int i = 0; i < 3; i++)
        msgpack_sbuffer_destroy(&sb[i]);
}
END_TEST

START_TEST(test_bad_signature_rejected)
{
    json_t *js = json_loads(MEMO("bad"), 0, NULL);
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    tz_err e;
    ck_assert(tz_statement_from_json(&sb, js, &e) == TZ_OK);
    json_decref(js);
    tz_signature sig;
    memcpy(sig.key, fx.cadre.pub.pk, 32);
    ck_assert(tz_key_sign_statement(sig.sig, &fx.cadre, (uint8_t *)sb.data, sb.size, &e) == TZ_OK);
    sig.sig[10] ^= 1;
    tz_submission sub = {(uint8_t *)sb.data, sb.size, &sig, 1};
    tz_append_result res;
    size_t processed;
    ck_assert(tz_ledger_append(lg, &sub, 1, &res, &processed, 0, &e) == TZ_OK);
    ck_assert_int_eq(res.status, TZ_ERR_SIGNATURE);
    ck_assert_ptr_nonnull(strstr(res.err.msg, "does not verify"));
    ck_assert_uint_eq(tz_ledger_size(lg), 2);
    msgpack_sbuffer_destroy(&sb);
}
END_TEST

START_TEST(test_unknown_key_rejected)
{
    tz_append_result res;
    ck_assert_int_eq(append1(MEMO("m1"), &fx.stranger, &res), TZ_ERR_SIGNATURE);
    ck_assert_ptr_nonnull(strstr(res.err.msg, "never granted"));
}
END_TEST

START_TEST(test_revocation)
{
    tz_append_result res;
    char json[512];
    ck_assert_int_eq(append1(MEMO("before"), &fx.cadre, &res), TZ_OK);
    revoke_json(json, sizeof json, "revoke/cadre", &fx.cadre);
    ck_assert_int_eq(append1(json, &fx.root, &res), TZ_OK);
    uint64_t revoked_at = res.seq;
    ck_assert_int_eq(append1(MEMO("after"), &fx.cadre, &res), TZ_ERR_SIGNATURE);
    char want[64];
    snprintf(want, sizeof want, "revoked at seq %llu", (unsigned long long)revoked_at);
    ck_assert_msg(strstr(res.err.msg, want) != NULL, "%s", res.err.msg);
    /* A revoked key is never granted again. */
    grant_json(json, sizeof json, "regrant", &fx.cadre, "[\"cadre\"]");
    ck_assert_int_eq(append1(json, &fx.root, &res), TZ_ERR_RULE);
    /* Revoking twice is refused. */
    revoke_json(json, sizeof json, "revoke/again", &fx.cadre);
    ck_assert_int_eq(append1(json, &fx.root, &res), TZ_ERR_RULE);
}
END_TEST

/* The appender keeps the signers' key records across statements and calls:
 * a revocation earlier in the same group, or in an earlier group, must be
 * seen by the next statement of the revoked key, and a rejected statement
 * (rolled back) must leave nothing in that cache. */
START_TEST(test_key_cache_follows_revocation_in_a_group)
{
    char rv[512];
    revoke_json(rv, sizeof rv, "grp/revoke", &fx.cadre);
    const char *texts[4] = {MEMO("grp/1"), rv, MEMO("grp/2"), MEMO("grp/3")};
    const tz_secret_key *signer[4] = {&fx.cadre, &fx.root, &fx.cadre, &fx.stranger};
    int want[4] = {TZ_OK, TZ_OK, TZ_ERR_SIGNATURE, TZ_ERR_SIGNATURE};
    msgpack_sbuffer sb[4];
    tz_signature sigs[4];
    tz_submission subs[4];
    tz_append_result res[4];
    tz_err e;
    for (int i = 0; i < 4; i++) {
        json_t *js = json_loads(texts[i], 0, NULL);
        msgpack_sbuffer_init(&sb[i]);
        ck_assert(tz_statement_from_json(&sb[i], js, &e) == TZ_OK);
        json_decref(js);
        memcpy(sigs[i].key, signer[i]->pub.pk, 32);
        ck_assert(tz_key_sign_statement(sigs[i].sig, signer[i], (uint8_t *)sb[i].data, sb[i].size,
                                        &e) == TZ_OK);
        subs[i] = (tz_submission){(uint8_t *)sb[i].data, sb[i].size, &sigs[i], 1};
    }
    size_t processed;
    ck_assert(tz_ledger_append(lg, subs, 4, res, &processed, TZ_APPEND_SIGS_VERIFIED, &e) == TZ_OK);
    for (int i = 0; i < 4; i++)
        ck_assert_msg(res[i].status == want[i], "statement %d: status %d: %s", i, res[i].status,
                      res[i].err.msg);
    tz_append_result one;
    ck_assert_int_eq(append1(MEMO("grp/4"), &fx.cadre, &one), TZ_ERR_SIGNATURE);
    /* A grant and the new key's first statement in one group. */
    char gr[512];
    grant_json(gr, sizeof gr, "grp/grant", &fx.stranger, "[\"cadre\"]");
    const char *texts2[2] = {gr, MEMO("grp/5")};
    const tz_secret_key *signer2[2] = {&fx.root, &fx.stranger};
    for (int i = 0; i < 2; i++) {
        json_t *js = json_loads(texts2[i], 0, NULL);
        msgpack_sbuffer_clear(&sb[i]);
        ck_assert(tz_statement_from_json(&sb[i], js, &e) == TZ_OK);
        json_decref(js);
        memcpy(sigs[i].key, signer2[i]->pub.pk, 32);
        ck_assert(tz_key_sign_statement(sigs[i].sig, signer2[i], (uint8_t *)sb[i].data, sb[i].size,
                                        &e) == TZ_OK);
        subs[i] = (tz_submission){(uint8_t *)sb[i].data, sb[i].size, &sigs[i], 1};
    }
    ck_assert(tz_ledger_append(lg, subs, 2, res, &processed, TZ_APPEND_SIGS_VERIFIED, &e) == TZ_OK);
    ck_assert_msg(res[0].status == TZ_OK && res[1].status == TZ_OK, "%s / %s", res[0].err.msg,
                  res[1].err.msg);
    for (int i = 0; i < 4; i++)
        msgpack_sbuffer_destroy(&sb[i]);
}
END_TEST

START_TEST(test_self_revocation)
{
    tz_append_result res;
    char json[512];
    revoke_json(json, sizeof json, "revoke/self", &fx.cadre);
    ck_assert_int_eq(append1(json, &fx.cadre, &res), TZ_OK);
}
END_TEST

START_TEST(test_grant_needs_authority)
{
    tz_append_result res;
    char json[512];
    /* A cadre cannot grant keys. */
    grant_json(json, sizeof json, "g/1", &fx.stranger, "[\"cadre\"]");
    ck_assert_int_eq(append1(json, &fx.cadre, &res), TZ_ERR_FORBIDDEN);
    ck_assert_ptr_nonnull(strstr(res.err.msg, "authority"));
    /* The root grants an authority, which may grant others but not "authority". */
    tz_secret_key county;
    tz_err e;
    ck_assert(tz_key_generate(&county, "county", &e) == TZ_OK);
    grant_json(json, sizeof json, "g/county", &county, "[\"authority\",\"county_org_dept\"]");
    ck_assert_int_eq(append1(json, &fx.root, &res), TZ_OK);
    grant_json(json, sizeof json, "g/2", &fx.stranger, "[\"authority\"]");
    ck_assert_int_eq(append1(json, &county, &res), TZ_ERR_FORBIDDEN);
    grant_json(json, sizeof json, "g/3", &fx.stranger, "[\"inspector\"]");
    ck_assert_int_eq(append1(json, &county, &res), TZ_OK);
    /* Granting an already granted key is refused: revoke first. */
    grant_json(json, sizeof json, "g/4", &fx.stranger, "[\"cadre\"]");
    ck_assert_int_eq(append1(json, &county, &res), TZ_ERR_RULE);
    /* Unknown role names are refused with the field named. */
    grant_json(json, sizeof json, "g/5", &fx.log, "[\"boss\"]");
    ck_assert_int_eq(append1(json, &fx.root, &res), TZ_ERR_INPUT);
    ck_assert_ptr_nonnull(strstr(res.err.msg, "body.roles[0]"));
    tz_key_wipe(&county);
}
END_TEST

START_TEST(test_log_key_signs_checkpoints_only)
{
    tz_append_result res;
    char json[512];
    ck_assert_int_eq(append1(MEMO("m1"), &fx.log, &res), TZ_ERR_SIGNATURE);
    ck_assert_ptr_nonnull(strstr(res.err.msg, "checkpoint"));
    grant_json(json, sizeof json, "g/log", &fx.log, "[\"cadre\"]");
    ck_assert_int_eq(append1(json, &fx.root, &res), TZ_ERR_RULE);
}
END_TEST

START_TEST(test_future_at_rejected)
{
    tz_append_result res;
    ck_assert_int_eq(append1("{\"type\":\"memo\",\"id\":\"f\",\"at\":\"2999-01-01T00:00:00Z\","
                             "\"body\":{\"text\":\"x\"}}", &fx.cadre, &res), TZ_ERR_RULE);
    ck_assert_ptr_nonnull(strstr(res.err.msg, "at:"));
}
END_TEST

START_TEST(test_malformed_statements_rejected)
{
    static const struct {
        const char *json;
        int status;
        const char *needle;
    } cases[] = {
        {"{\"type\":\"memo\",\"id\":\"a\",\"at\":\"2026-11-01T09:00:00+08:00\",\"body\":{\"text\":1.5}}",
         TZ_ERR_INPUT, "body.text: float"},
        {"{\"type\":\"memo\",\"id\":\"a b\",\"at\":\"2026-11-01T09:00:00+08:00\",\"body\":{\"text\":\"x\"}}",
         TZ_ERR_INPUT, "id:"},
        {"{\"type\":\"memo\",\"id\":\"a\",\"at\":\"2026-11-01 09:00\",\"body\":{\"text\":\"x\"}}",
         TZ_ERR_INPUT, "at:"},
        {"{\"type\":\"memo\",\"id\":\"a\",\"at\":\"2026-02-30T09:00:00Z\",\"body\":{\"text\":\"x\"}}",
         TZ_ERR_INPUT, "at:"},
        {"{\"type\":\"memo\",\"id\":\"a\",\"at\":\"2026-11-01T09:00:00Z\",\"body\":{\"text\":\"x\"},\"x\":1}",
         TZ_ERR_INPUT, "x: unknown statement field"},
        {"{\"type\":\"memo\",\"id\":\"a\",\"at\":\"2026-11-01T09:00:00Z\",\"body\":{\"txt\":\"x\"}}",
         TZ_ERR_INPUT, "body.txt: unknown field"},
        {"{\"type\":\"memo\",\"id\":\"a\",\"at\":\"2026-11-01T09:00:00Z\",\"body\":{\"text\":\"\"}}",
         TZ_ERR_INPUT, "body.text"},
        {"{\"type\":\"pay.rise\",\"id\":\"a\",\"at\":\"2026-11-01T09:00:00Z\",\"body\":{}}",
         TZ_ERR_RULE, "unknown statement type"},
        {"{\"type\":\"genesis\",\"id\":\"a\",\"at\":\"2026-11-01T09:00:00Z\",\"body\":{}}",
         TZ_ERR_RULE, "genesis is allowed only as entry 0"},
        {"{\"type\":\"memo\",\"id\":\"a\",\"at\":\"2026-11-01T09:00:00Z\",\"body\":[]}",
         TZ_ERR_INPUT, "body: must be"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        tz_append_result res;
        int st = append1(cases[i].json, &fx.cadre, &res);
        ck_assert_msg(st == cases[i].status, "case %zu: status %d (%s)", i, st, res.err.msg);
        ck_assert_msg(strstr(res.err.msg, cases[i].needle) != NULL, "case %zu: \"%s\" lacks \"%s\"",
                      i, res.err.msg, cases[i].needle);
    }
    ck_assert_uint_eq(tz_ledger_size(lg), 2);
}
END_TEST

START_TEST(test_cosign)
{
    tz_append_result res;
    ck_assert_int_eq(append1(MEMO("sheet"), &fx.cadre, &res), TZ_OK);
    uint64_t target = res.seq;
    uint8_t *raw;
    size_t len;
    tz_err e;
    ck_assert(tz_ledger_get(lg, target, &raw, &len, &e) == TZ_OK);
    tz_entry entry;
    ck_assert(tz_entry_decode(&entry, raw, len, &e) == TZ_OK);
    uint8_t h[32];
    char hex[65];
    tz_hash_sha256(h, entry.statement, entry.statement_len);
    tz_hex_encode(hex, h, 32);
    tz_store_free(raw);
    char json[512];
    snprintf(json, sizeof json, "{\"type\":\"cosign\",\"id\":\"cs/1\",\"at\":\"2026-11-01T10:00:00Z\","
             "\"body\":{\"seq\":%llu,\"statement_hash\":\"%s\"}}", (unsigned long long)target, hex);
    /* The original signer may not co-sign its own entry. */
    ck_assert_int_eq(append1(json, &fx.cadre, &res), TZ_ERR_RULE);
    ck_assert_int_eq(append1(json, &fx.root, &res), TZ_OK);
    /* Twice by the same key: refused. */
    snprintf(json, sizeof json, "{\"type\":\"cosign\",\"id\":\"cs/2\",\"at\":\"2026-11-01T10:00:00Z\","
             "\"body\":{\"seq\":%llu,\"statement_hash\":\"%s\"}}", (unsigned long long)target, hex);
    ck_assert_int_eq(append1(json, &fx.root, &res), TZ_ERR_RULE);
    ck_assert_ptr_nonnull(strstr(res.err.msg, "already co-signed"));
    /* A hash that does not match the target. */
    hex[0] = hex[0] == '0' ? '1' : '0';
    snprintf(json, sizeof json, "{\"type\":\"cosign\",\"id\":\"cs/3\",\"at\":\"2026-11-01T10:00:00Z\","
             "\"body\":{\"seq\":%llu,\"statement_hash\":\"%s\"}}", (unsigned long long)target, hex);
    ck_assert_int_eq(append1(json, &fx.cadre, &res), TZ_ERR_RULE);
    /* Upper-case hex is a second spelling of the same hash: refused. */
    for (char *c = hex; *c; c++)
        if (*c >= 'a' && *c <= 'f')
            *c = (char)(*c - 'a' + 'A');
    snprintf(json, sizeof json, "{\"type\":\"cosign\",\"id\":\"cs/5\",\"at\":\"2026-11-01T10:00:00Z\","
             "\"body\":{\"seq\":%llu,\"statement_hash\":\"%s\"}}", (unsigned long long)target, hex);
    ck_assert_int_eq(append1(json, &fx.cadre, &res), TZ_ERR_INPUT);
    ck_assert_ptr_nonnull(strstr(res.err.msg, "lower-case"));
    /* A target that does not exist yet. */
    snprintf(json, sizeof json, "{\"type\":\"cosign\",\"id\":\"cs/4\",\"at\":\"2026-11-01T10:00:00Z\","
             "\"body\":{\"seq\":999,\"statement_hash\":\"%s\"}}", hex);
    ck_assert_int_eq(append1(json, &fx.cadre, &res), TZ_ERR_RULE);
}
END_TEST

START_TEST(test_proofs_verify_against_checkpoint)
{
    tz_fixture_memos(lg, &fx.cadre, 0, 37);
    uint64_t n = tz_ledger_size(lg);
    uint8_t root[32];
    tz_ledger_root(lg, root);
    tz_err e;
    for (uint64_t seq = 0; seq < n; seq++) {
        tz_merkle_proof p;
        uint8_t leaf[32];
        ck_assert(tz_ledger_inclusion_proof(lg, seq, n, &p, &e) == TZ_OK);
        ck_assert(tz_ledger_leaf_hash(lg, seq, leaf, &e) == TZ_OK);
        ck_assert_msg(tz_merkle_verify_inclusion(leaf, seq, n, &p, root, &e) == TZ_OK, "%s", e.msg);
    }
    for (uint64_t s1 = 1; s1 <= n; s1++) {
        tz_merkle_proof p;
        uint8_t r1[32];
        ck_assert(tz_ledger_root_at(lg, s1, r1, &e) == TZ_OK);
        ck_assert(tz_ledger_consistency_proof(lg, s1, n, &p, &e) == TZ_OK);
        ck_assert_msg(tz_merkle_verify_consistency(s1, n, &p, r1, root, &e) == TZ_OK, "%s", e.msg);
    }
    tz_merkle_proof p;
    ck_assert_int_eq(tz_ledger_inclusion_proof(lg, n, n, &p, &e), TZ_ERR_USAGE);
    ck_assert_int_eq(tz_ledger_inclusion_proof(lg, 0, n + 1, &p, &e), TZ_ERR_USAGE);
}
END_TEST

START_TEST(test_readonly_cannot_append)
{
    tz_ledger *ro;
    tz_err e;
    ck_assert(tz_ledger_open(&ro, fx.db, TZ_LEDGER_READONLY, NULL, &e) == TZ_OK);
    tz_append_result res;
    ck_assert_int_eq(tz_fixture_append(ro, MEMO("ro"), KEYS(&fx.cadre), 1, &res), TZ_ERR_USAGE);
    tz_ledger_close(ro);
}
END_TEST

/* A snapshot (what taizhangd's readers answer from) keeps showing the log
 * as it stood when taken, by point reads and scans, while appends go on;
 * writing through it is refused. */
START_TEST(test_snapshot_reads_a_fixed_moment)
{
    tz_append_result res;
    ck_assert_int_eq(append1(MEMO("snap/1"), &fx.cadre, &res), TZ_OK);
    uint64_t before = tz_ledger_size(lg);
    tz_store *snap;
    tz_err e;
    ck_assert(tz_store_snapshot(tz_ledger_store(lg), &snap, &e) == TZ_OK);
    ck_assert_int_eq(append1(MEMO("snap/2"), &fx.cadre, &res), TZ_OK);
    ck_assert_uint_eq(res.seq, before);
    uint8_t key[8], *val = NULL;
    size_t len;
    tz_store_key_u64(key, before - 1);
    ck_assert(tz_store_get(snap, TZ_CF_ENTRIES, key, 8, &val, &len, &e) == TZ_OK);
    tz_store_free(val);
    tz_store_key_u64(key, before);
    ck_assert_int_eq(tz_store_get(snap, TZ_CF_ENTRIES, key, 8, &val, &len, &e), TZ_ERR_NOTFOUND);
    ck_assert(tz_store_get(tz_ledger_store(lg), TZ_CF_ENTRIES, key, 8, &val, &len, &e) == TZ_OK);
    tz_store_free(val);
    uint64_t scanned = 0;
    tz_store_iter *it = tz_store_iter_new(snap, TZ_CF_ENTRIES, NULL, 0);
    for (; tz_store_iter_valid(it); tz_store_iter_next(it))
        scanned++;
    ck_assert(tz_store_iter_status(it, &e) == TZ_OK);
    tz_store_iter_free(it);
    ck_assert_uint_eq(scanned, before);
    /* a statement id committed after the snapshot is unknown through it */
    tz_store_batch *b = tz_store_batch_new(snap);
    uint64_t seq;
    ck_assert_int_eq(tz_apply_id_get(b, "snap/2", 6, &seq, &e), TZ_ERR_NOTFOUND);
    ck_assert_int_eq(tz_apply_id_get(b, "snap/1", 6, &seq, &e), TZ_OK);
    ck_assert_int_eq(tz_store_commit(snap, b, &e), TZ_ERR_USAGE);
    tz_store_batch_free(b);
    ck_assert_int_eq(tz_store_put(snap, TZ_CF_META, "x", 1, "y", 1, &e), TZ_ERR_USAGE);
    tz_store_close(snap);
}
END_TEST

/* Crash safety: a child appends one statement per commit and reports each
 * acknowledged seq through a pipe; the parent kills it with SIGKILL at a
 * random moment. Every acknowledged statement must be there, and the log
 * must verify. */
START_TEST(test_sigkill_mid_append)
{
    tz_ledger_close(lg);
    lg = NULL;
    int fds[2];
    ck_assert_int_eq(pipe(fds), 0);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        close(fds[0]);
        tz_ledger *child;
        tz_err e;
        if (tz_ledger_open(&child, fx.db, 0, NULL, &e) != TZ_OK)
            _exit(3);
        for (int i = 0;; i++) {
            char json[256];
            snprintf(json, sizeof json, "{\"type\":\"memo\",\"id\":\"crash/%d\",\"at\":"
                     "\"2026-11-01T09:00:00Z\",\"body\":{\"text\":\"entry %d\"}}", i, i);
            tz_append_result res;
            const tz_secret_key *keys[1] = {&fx.cadre};
            if (tz_fixture_append(child, json, keys, 1, &res) != TZ_OK || res.status != TZ_OK)
                _exit(4);
            uint64_t ack[2] = {(uint64_t)i, res.seq};
            if (write(fds[1], ack, sizeof ack) != sizeof ack)
                _exit(5);
        }
    }
    close(fds[1]);
    uint64_t acked[4096][2];
    size_t nacked = 0;
    srand((unsigned)getpid());
    size_t kill_after = 20 + (size_t)(rand() % 60);
    while (nacked < kill_after) {
        ssize_t got = read(fds[0], acked[nacked], sizeof acked[0]);
        ck_assert_int_eq(got, sizeof acked[0]);
        nacked++;
    }
    kill(pid, SIGKILL);
    /* Drain acknowledgements written before the kill landed. */
    for (;;) {
        ssize_t got = read(fds[0], acked[nacked], sizeof acked[0]);
        if (got != sizeof acked[0] || nacked + 1 >= 4096)
            break;
        nacked++;
    }
    close(fds[0]);
    int status;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    tz_err e;
    ck_assert_msg(tz_ledger_open(&lg, fx.db, 0, NULL, &e) == TZ_OK, "%s", e.msg);
    for (size_t i = 0; i < nacked; i++) {
        char id[32];
        uint64_t seq;
        snprintf(id, sizeof id, "crash/%llu", (unsigned long long)acked[i][0]);
        ck_assert_msg(tz_ledger_find_id(lg, id, strlen(id), &seq, &e) == TZ_OK,
                      "acknowledged %s lost after SIGKILL", id);
        ck_assert_uint_eq(seq, acked[i][1]);
    }
    ck_assert_uint_ge(tz_ledger_size(lg), 2 + nacked);
    /* teardown verifies the whole log */
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("ledger");
    TCase *tc = tcase_create("append");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_genesis_and_checkpoint);
    tcase_add_test(tc, test_append_seq_and_leaf_hash);
    tcase_add_test(tc, test_idempotent_retry);
    tcase_add_test(tc, test_retry_needs_an_original_signer);
    tcase_add_test(tc, test_root_and_log_key_revocation_rules);
    tcase_add_test(tc, test_same_id_other_content_conflicts);
    tcase_add_test(tc, test_group_commit_rejects_leave_no_trace);
    tcase_add_test(tc, test_bad_signature_rejected);
    tcase_add_test(tc, test_unknown_key_rejected);
    tcase_add_test(tc, test_revocation);
    tcase_add_test(tc, test_key_cache_follows_revocation_in_a_group);
    tcase_add_test(tc, test_self_revocation);
    tcase_add_test(tc, test_grant_needs_authority);
    tcase_add_test(tc, test_log_key_signs_checkpoints_only);
    tcase_add_test(tc, test_future_at_rejected);
    tcase_add_test(tc, test_malformed_statements_rejected);
    tcase_add_test(tc, test_cosign);
    tcase_add_test(tc, test_proofs_verify_against_checkpoint);
    tcase_add_test(tc, test_readonly_cannot_append);
    tcase_add_test(tc, test_snapshot_reads_a_fixed_moment);
    tcase_add_test(tc, test_sigkill_mid_append);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return tz_test_main(make_suite);
}
