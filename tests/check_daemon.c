/*
 * check_daemon.c: taizhangd end to end on loopback. Each test creates a
 * fresh ledger with the library (tz_fixture: genesis + a granted cadre key),
 * starts the daemon on a free port, and talks plain HTTP/1.1 over sockets:
 * every error status, group commit under concurrent clients, SIGTERM drain,
 * and kill -9 under load followed by a restart in which every acknowledged
 * statement is present and the log verifies. The daemon process, the HTTP
 * client and the posting clients are shared with the other daemon suites
 * (tz_test.h).
 */
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ledger/checkpoint.h"
#include "ledger/ledger.h"
#include "ledger/merkle.h"
#include "ledger/statement.h"
#include "ledger/verify.h"
#include "util/encoding.h"
#include "tests/tz_test.h"

static tz_fixture fx;

static void setup(void) { tz_fixture_init(&fx); }
static void teardown(void) { tz_fixture_cleanup(&fx); }

/* ---- tests ------------------------------------------------------------------------- */

START_TEST(test_statuses)
{
    tz_daemon d;
    tz_daemon_start(&d, fx.db);
    char *r = NULL;
    /* 201 after the commit, then 200 "existing" for the identical retry */
    int st = tz_http_post(d.port, TZ_TEST_MEMO("memo/1", "走访农户"), &fx.cadre, &r);
    ck_assert_msg(st == 201, "%d %s", st, r);
    json_t *j = tz_test_json(r);
    ck_assert_int_eq(json_integer_value(json_object_get(j, "seq")), 2);
    ck_assert_uint_eq(strlen(json_string_value(json_object_get(j, "leaf_hash"))), 64);
    json_decref(j);
    free(r);
    st = tz_http_post(d.port, TZ_TEST_MEMO("memo/1", "走访农户"), &fx.cadre, &r);
    ck_assert_msg(st == 200, "%d %s", st, r);
    j = tz_test_json(r);
    ck_assert(json_is_true(json_object_get(j, "existing")));
    ck_assert_int_eq(json_integer_value(json_object_get(j, "seq")), 2);
    json_decref(j);
    free(r);
    /* signer given as hex */
    const tz_secret_key *keys[1] = {&fx.cadre};
    char *b = tz_test_signed_body(TZ_TEST_MEMO("memo/hex", "x"), keys, 1, 1);
    st = tz_http(d.port, "POST", "/v1/statements", NULL, b, strlen(b), &r);
    ck_assert_msg(st == 201, "%d %s", st, r);
    free(b);
    free(r);
    /* 400: not JSON, missing members, bad statement */
    st = tz_http(d.port, "POST", "/v1/statements", NULL, "{\"statement\":", 13, &r);
    tz_http_expect_error(st, 400, r, "input");
    free(r);
    st = tz_http(d.port, "POST", "/v1/statements", NULL, "{\"statement\":{}}", 16, &r);
    tz_http_expect_error(st, 400, r, "input");
    free(r);
    static const char bad_id[] =
        "{\"statement\":{\"type\":\"memo\",\"id\":\"bad id!\",\"at\":\"2024-05-01T09:00:00+08:00\","
        "\"body\":{\"text\":\"x\"}},\"signatures\":[{\"key\":\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\","
        "\"sig\":\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA==\"}]}";
    st = tz_http(d.port, "POST", "/v1/statements", NULL, bad_id, sizeof bad_id - 1, &r);
    tz_http_expect_error(st, 400, r, "input");
    ck_assert_ptr_nonnull(strstr(r, "id"));
    free(r);
    /* 401: a key never granted, and a signature that does not verify */
    st = tz_http_post(d.port, TZ_TEST_MEMO("memo/stranger", "x"), &fx.stranger, &r);
    tz_http_expect_error(st, 401, r, "signature");
    free(r);
    b = tz_test_signed_body(TZ_TEST_MEMO("memo/forged", "x"), keys, 1, 0);
    char *sig = strstr(b, "\"sig\":\"") + 7;
    sig[0] = sig[0] == 'A' ? 'B' : 'A';
    st = tz_http(d.port, "POST", "/v1/statements", NULL, b, strlen(b), &r);
    tz_http_expect_error(st, 401, r, "signature");
    free(b);
    free(r);
    /* 403: a cadre may not grant keys */
    char vkey[TZ_KEY_STRING_MAX], json[512];
    tz_fixture_vkey(vkey, &fx.stranger);
    snprintf(json, sizeof json, "{\"type\":\"key.grant\",\"id\":\"grant/x\",\"at\":"
             "\"2024-05-01T08:00:00+08:00\",\"body\":{\"key\":\"%s\",\"holder\":\"LS\","
             "\"roles\":[\"cadre\"],\"scope\":\"village:dongba\"}}", vkey);
    st = tz_http_post(d.port, json, &fx.cadre, &r);
    tz_http_expect_error(st, 403, r, "forbidden");
    free(r);
    /* 409: the same id with other content */
    st = tz_http_post(d.port, TZ_TEST_MEMO("memo/1", "另一个"), &fx.cadre, &r);
    tz_http_expect_error(st, 409, r, "conflict");
    free(r);
    /* 422: a rule (at in the future) */
    st = tz_http_post(d.port, "{\"type\":\"memo\",\"id\":\"memo/future\",\"at\":\"2999-01-01T00:00:00Z\","
              "\"body\":{\"text\":\"x\"}}", &fx.cadre, &r);
    tz_http_expect_error(st, 422, r, "rule");
    free(r);
    /* 413: a body over 1 MiB */
    size_t big_len = 1536u << 10;
    char *big = malloc(big_len);
    memset(big, ' ', big_len);
    st = tz_http(d.port, "POST", "/v1/statements", NULL, big, big_len, &r);
    tz_http_expect_error(st, 413, r, "too_large");
    free(big);
    free(r);
    /* 405, 404, 400 on reads: a table of what is refused and how */
    static const struct {
        const char *method, *path;
        int status;
        const char *error;
    } refused[] = {
        {"GET", "/v1/statements", 405, "method"},
        {"DELETE", "/v1/entries/1", 405, "method"},
        {"GET", "/nowhere", 404, "notfound"},
        {"GET", "/v1/entries/99", 404, "notfound"},
        {"GET", "/v1/entries?bogus=1", 400, "input"},
        {"GET", "/v1/projections/nonsense", 404, "notfound"},
    };
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
        st = tz_http(d.port, refused[i].method, refused[i].path, NULL, NULL, 0, &r);
        tz_http_expect_error(st, refused[i].status, r, refused[i].error);
        free(r);
    }
    json_decref(tz_http_get_json(d.port, "/v1/projections/roster"));
    /* nothing rejected was written */
    st = tz_http(d.port, "GET", "/healthz", NULL, NULL, 0, &r);
    ck_assert_int_eq(st, 200);
    j = tz_test_json(r);
    ck_assert_int_eq(json_integer_value(json_object_get(j, "size")), 4);
    json_decref(j);
    free(r);
    st = tz_http(d.port, "GET", "/metrics", NULL, NULL, 0, &r);
    ck_assert_int_eq(st, 200);
    ck_assert_ptr_nonnull(strstr(r, "taizhang_appends_total 2\n"));
    ck_assert_ptr_nonnull(strstr(r, "taizhang_rejects_total{reason=\"signature\"} 2\n"));
    ck_assert_ptr_nonnull(strstr(r, "taizhang_tree_size 4\n"));
    free(r);
    ck_assert_int_eq(tz_daemon_stop(&d, SIGTERM), 0);
}
END_TEST

/* The proof in a /v1/proof/... answer (its "hashes", base64). */
static void proof_from_json(tz_merkle_proof *proof, const json_t *doc)
{
    memset(proof, 0, sizeof *proof);
    json_t *h;
    size_t i, n;
    json_array_foreach(json_object_get(doc, "hashes"), i, h) {
        ck_assert_uint_lt(i, sizeof proof->hashes / sizeof proof->hashes[0]);
        ck_assert(tz_base64_decode(proof->hashes[i], 32, &n, json_string_value(h),
                                   json_string_length(h), NULL) == TZ_OK);
        proof->count++;
    }
}

/* The entry, the checkpoint and both proofs fetched over HTTP verify. */
START_TEST(test_reads_and_proofs)
{
    tz_daemon d;
    tz_daemon_start(&d, fx.db);
    char *r = NULL, id[32], json[256];
    for (int i = 0; i < 5; i++) {
        snprintf(id, sizeof id, "memo/r%d", i);
        snprintf(json, sizeof json, TZ_TEST_MEMO("%s", "t"), id);
        ck_assert_int_eq(tz_http_post(d.port, json, &fx.cadre, &r), 201);
        free(r);
    }
    /* GET /v1/entries/3 mirrors `taizhang get --json` */
    json_t *e = tz_http_get_json(d.port, "/v1/entries/3");
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(e, "statement"), "id")),
                     "memo/r1");
    char *cli = NULL;
    ck_assert_int_eq(tz_test_run(&cli, "%s get --db %s --seq 3 --json", TZ_CLI_PATH, fx.db), 0);
    json_t *c = tz_test_json(cli);
    ck_assert(json_equal(e, c));
    json_decref(c);
    free(cli);
    uint8_t leaf[32];
    size_t n;
    const char *lh = json_string_value(json_object_get(e, "leaf_hash"));
    ck_assert(tz_hex_decode(leaf, 32, &n, lh, strlen(lh), NULL) == TZ_OK);
    json_decref(e);
    /* pages */
    e = tz_http_get_json(d.port, "/v1/entries?from=1&limit=3");
    ck_assert_uint_eq(json_array_size(json_object_get(e, "entries")), 3);
    ck_assert_int_eq(json_integer_value(json_object_get(e, "next")), 4);
    json_decref(e);
    e = tz_http_get_json(d.port, "/v1/entries?type=key.grant");
    ck_assert_uint_eq(json_array_size(json_object_get(e, "entries")), 1);
    ck_assert(json_is_null(json_object_get(e, "next")));
    json_decref(e);
    /* checkpoint: signed by the log key, size 7 */
    ck_assert_int_eq(tz_http(d.port, "GET", "/v1/checkpoint", NULL, NULL, 0, &r), 200);
    tz_checkpoint cp;
    tz_err err;
    ck_assert_msg(tz_checkpoint_open(&cp, r, strlen(r), &fx.log.pub, &err) == TZ_OK, "%s", err.msg);
    free(r);
    ck_assert_uint_eq(cp.size, 7);
    /* inclusion of entry 3 in the checkpoint's tree */
    tz_merkle_proof proof;
    e = tz_http_get_json(d.port, "/v1/proof/inclusion?seq=3&size=7");
    proof_from_json(&proof, e);
    json_decref(e);
    ck_assert(tz_merkle_verify_inclusion(leaf, 3, 7, &proof, cp.root, &err) == TZ_OK);
    /* consistency from 2 (the fixture's ledger) to 7 */
    tz_ledger *l;
    uint8_t root2[32];
    ck_assert(tz_ledger_open(&l, fx.db, TZ_LEDGER_READONLY, NULL, &err) == TZ_OK);
    ck_assert(tz_ledger_root_at(l, 2, root2, &err) == TZ_OK);
    tz_ledger_close(l);
    e = tz_http_get_json(d.port, "/v1/proof/consistency?from=2&to=7");
    proof_from_json(&proof, e);
    json_decref(e);
    ck_assert(tz_merkle_verify_consistency(2, 7, &proof, root2, cp.root, &err) == TZ_OK);
    ck_assert_int_eq(tz_http(d.port, "GET", "/v1/proof/inclusion?seq=7", NULL, NULL, 0, &r), 400);
    free(r);
    ck_assert_int_eq(tz_daemon_stop(&d, SIGTERM), 0);
}
END_TEST

/* A statement posted as msgpack: {"statement": bin, "signatures": [{key, sig}]}. */
START_TEST(test_msgpack_body)
{
    tz_daemon d;
    tz_daemon_start(&d, fx.db);
    json_t *st = tz_test_json(TZ_TEST_MEMO("memo/mp", "msgpack"));
    msgpack_sbuffer sb, body;
    msgpack_sbuffer_init(&sb);
    msgpack_sbuffer_init(&body);
    tz_err e;
    ck_assert(tz_statement_from_json(&sb, st, &e) == TZ_OK);
    json_decref(st);
    const tz_secret_key *keys[1] = {&fx.cadre};
    tz_signature sig;
    ck_assert(tz_statement_sign(&sig, (const uint8_t *)sb.data, sb.size, keys, 1, &e) == TZ_OK);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &body, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 2);
    msgpack_pack_str_with_body(&pk, "signatures", 10);
    msgpack_pack_array(&pk, 1);
    msgpack_pack_map(&pk, 2);
    msgpack_pack_str_with_body(&pk, "key", 3);
    msgpack_pack_bin_with_body(&pk, sig.key, 32);
    msgpack_pack_str_with_body(&pk, "sig", 3);
    msgpack_pack_bin_with_body(&pk, sig.sig, 64);
    msgpack_pack_str_with_body(&pk, "statement", 9);
    msgpack_pack_bin_with_body(&pk, sb.data, sb.size);
    char *r = NULL;
    int s = tz_http(d.port, "POST", "/v1/statements", "application/msgpack", body.data, body.size, &r);
    ck_assert_msg(s == 201, "%d %s", s, r);
    free(r);
    /* the cosign endpoint takes cosign statements only */
    s = tz_http(d.port, "POST", "/v1/cosign", "application/msgpack", body.data, body.size, &r);
    tz_http_expect_error(s, 400, r, "input");
    free(r);
    /* hostile counts: an array of 2^32-1 items in five bytes, a map of as
     * many pairs, and the envelope's keys out of order are refused before
     * anything is allocated for them */
    static const struct { const char *bytes; size_t len; } hostile[] = {
        {"\xdd\xff\xff\xff\xff", 5}, {"\xdf\xff\xff\xff\xff\xa1x", 7},
        {"\x82\xa9statement\xc4\x01x\xaasignatures\x90", 25}};
    for (size_t i = 0; i < sizeof hostile / sizeof hostile[0]; i++) {
        s = tz_http(d.port, "POST", "/v1/statements", "application/msgpack", hostile[i].bytes,
                    hostile[i].len, &r);
        tz_http_expect_error(s, 400, r, "input");
        free(r);
    }
    tz_daemon_assert_running(&d);
    msgpack_sbuffer_destroy(&sb);
    msgpack_sbuffer_destroy(&body);
    ck_assert_int_eq(tz_daemon_stop(&d, SIGTERM), 0);
}
END_TEST

/* ---- clients under load -------------------------------------------------------------- */

/* n clients posting memos signed by the cadre key to port. A statement
 * answered 503 shutting_down must never be written (tz_load_check). */
static void clients_start(tz_load_client *cs, int n, int port, int count)
{
    memset(cs, 0, (size_t)n * sizeof *cs);
    for (int i = 0; i < n; i++)
        cs[i] = (tz_load_client){.port = port, .index = i, .count = count, .key = &fx.cadre,
                                 .refused_status = 503, .refused_error = "shutting_down"};
    tz_load_start(cs, n);
}

/* Every acknowledged statement is in the ledger at its seq; the log verifies. */
static int check_acked(const tz_load_client *cs, int n)
{
    int total = tz_load_check(fx.db, cs, n);
    (void)tz_test_verify(fx.db);
    return total;
}

START_TEST(test_concurrent_clients)
{
    enum { CLIENTS = 16, EACH = 40 };
    tz_daemon d;
    tz_daemon_start(&d, fx.db);
    static tz_load_client cs[CLIENTS];
    clients_start(cs, CLIENTS, d.port, EACH);
    tz_load_join(cs, CLIENTS);
    /* every seq acknowledged once */
    static uint8_t seen[2 + CLIENTS * EACH];
    memset(seen, 0, sizeof seen);
    for (int k = 0; k < CLIENTS; k++) {
        ck_assert_msg(cs[k].acked == EACH, "client %d: %d of %d acknowledged; %s", k,
                      cs[k].acked, EACH, cs[k].first_unexpected);
        for (int i = 0; i < cs[k].acked; i++) {
            ck_assert_uint_lt(cs[k].seqs[i], sizeof seen);
            ck_assert_msg(!seen[cs[k].seqs[i]], "seq %llu acknowledged twice",
                          (unsigned long long)cs[k].seqs[i]);
            seen[cs[k].seqs[i]] = 1;
        }
    }
    /* they shared fsyncs */
    char *r = NULL;
    ck_assert_int_eq(tz_http(d.port, "GET", "/metrics", NULL, NULL, 0, &r), 200);
    const char *commits = strstr(r, "\ntaizhang_commits_total ");
    ck_assert_ptr_nonnull(commits);
    long ncommits = atol(commits + 24);
    fprintf(stderr, "check_daemon: %d statements in %ld group commits\n", CLIENTS * EACH, ncommits);
    ck_assert_int_le(ncommits, CLIENTS * EACH);
    free(r);
    ck_assert_int_eq(tz_daemon_stop(&d, SIGTERM), 0);
    ck_assert_int_eq(check_acked(cs, CLIENTS), CLIENTS * EACH);
}
END_TEST

START_TEST(test_sigterm_drains)
{
    enum { CLIENTS = 8 };
    tz_daemon d;
    tz_daemon_start(&d, fx.db);
    static tz_load_client cs[CLIENTS];
    clients_start(cs, CLIENTS, d.port, 0);
    tz_load_wait_posted(200);
    ck_assert_int_eq(tz_daemon_stop(&d, SIGTERM), 0);
    tz_load_join(cs, CLIENTS);
    int acked = check_acked(cs, CLIENTS);
    ck_assert_int_ge(acked, 150);
    /* the daemon starts again on the same ledger */
    tz_daemon_start(&d, fx.db);
    ck_assert_int_eq(tz_daemon_stop(&d, SIGINT), 0);
}
END_TEST

START_TEST(test_kill9_under_load)
{
    enum { CLIENTS = 8 };
    tz_daemon d;
    tz_daemon_start(&d, fx.db);
    static tz_load_client cs[CLIENTS];
    clients_start(cs, CLIENTS, d.port, 0);
    tz_load_wait_posted(300);
    ck_assert_int_eq(tz_daemon_stop(&d, SIGKILL), 128 + SIGKILL);
    tz_load_join(cs, CLIENTS);
    /* restart: open must succeed (no replay) and every acknowledged entry be there */
    tz_daemon_start(&d, fx.db);
    char *r = NULL;
    ck_assert_int_eq(tz_http_post(d.port, TZ_TEST_MEMO("memo/after", "x"), &fx.cadre, &r), 201);
    free(r);
    ck_assert_int_eq(tz_daemon_stop(&d, SIGTERM), 0);
    int acked = check_acked(cs, CLIENTS);
    ck_assert_int_ge(acked, 200);
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("daemon");
    TCase *tc = tcase_create("http");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_statuses);
    tcase_add_test(tc, test_reads_and_proofs);
    tcase_add_test(tc, test_msgpack_body);
    tcase_add_test(tc, test_concurrent_clients);
    tcase_add_test(tc, test_sigterm_drains);
    tcase_add_test(tc, test_kill9_under_load);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return tz_test_main(make_suite); }
