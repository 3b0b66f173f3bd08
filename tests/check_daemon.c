/*
 * check_daemon.c: taizhangd end to end on loopback. Each test creates a
 * fresh ledger with the library (tz_fixture: genesis + a granted cadre key),
 * starts the daemon on a free port, and talks plain HTTP/1.1 over sockets:
 * every error status, group commit under concurrent clients, SIGTERM drain,
 * and kill -9 under load followed by a restart in which every acknowledged
 * statement is present and the log verifies.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <jansson.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

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

/* ---- the daemon process --------------------------------------------------- */

typedef struct daemon_proc {
    pid_t pid;
    int port;
} daemon_proc;

static void daemon_start(daemon_proc *d, const char *db)
{
    int fds[2];
    ck_assert(pipe(fds) == 0);
    d->pid = fork();
    ck_assert(d->pid >= 0);
    if (d->pid == 0) {
        dup2(fds[1], STDOUT_FILENO);
        close(fds[0]);
        close(fds[1]);
        execl(TZ_DAEMON_PATH, "taizhangd", "--db", db, "--listen", "127.0.0.1:0", "--workers", "2",
              (char *)NULL);
        _exit(127);
    }
    close(fds[1]);
    FILE *f = fdopen(fds[0], "r");
    char line[256] = "";
    ck_assert_msg(fgets(line, sizeof line, f) != NULL, "the daemon printed nothing");
    fclose(f);
    const char *p = strstr(line, "127.0.0.1:");
    ck_assert_msg(p != NULL, "no listening line: %s", line);
    d->port = atoi(p + 10);
    ck_assert_int_gt(d->port, 0);
}

/* Sends sig and waits; returns the exit status (or 128 + signal). */
static int daemon_stop(daemon_proc *d, int sig)
{
    int st;
    ck_assert(kill(d->pid, sig) == 0);
    ck_assert(waitpid(d->pid, &st, 0) == d->pid);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* ---- a minimal HTTP/1.1 client ----------------------------------------------- */

/* One request on a fresh connection (Connection: close). Returns the
 * status, or -1 when the connection failed or closed without a reply.
 * *body (when not NULL) gets the malloc'd response body. */
static int http(int port, const char *method, const char *path, const char *ctype,
                const void *req, size_t req_len, char **body)
{
    if (body != NULL)
        *body = NULL;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return -1;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        close(fd);
        return -1;
    }
    char head[512];
    int n = snprintf(head, sizeof head, "%s %s HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n"
                     "Content-Type: %s\r\nContent-Length: %zu\r\n\r\n", method, path,
                     ctype ? ctype : "application/json", req_len);
    size_t total = (size_t)n + req_len;
    char *out = malloc(total);
    ck_assert_ptr_nonnull(out);
    memcpy(out, head, (size_t)n);
    if (req_len)
        memcpy(out + n, req, req_len);
    for (size_t off = 0; off < total;) {
        ssize_t w = send(fd, out + off, total - off, MSG_NOSIGNAL);
        if (w <= 0)
            break; /* the server may answer 413 before reading it all */
        off += (size_t)w;
    }
    free(out);
    size_t cap = 4096, len = 0;
    char *in = malloc(cap);
    ck_assert_ptr_nonnull(in);
    for (;;) {
        if (len + 1024 > cap) {
            cap *= 2;
            in = realloc(in, cap);
            ck_assert_ptr_nonnull(in);
        }
        ssize_t r = recv(fd, in + len, cap - len - 1, 0);
        if (r <= 0)
            break;
        len += (size_t)r;
    }
    close(fd);
    in[len] = '\0';
    int status = -1;
    if (len > 12 && strncmp(in, "HTTP/1.1 ", 9) == 0)
        status = atoi(in + 9);
    char *sep = strstr(in, "\r\n\r\n");
    if (body != NULL && sep != NULL)
        *body = strdup(sep + 4);
    free(in);
    return status;
}

static json_t *parse(const char *s)
{
    json_error_t je;
    json_t *j = json_loads(s, 0, &je);
    ck_assert_msg(j != NULL, "not JSON: %s (%s)", s, je.text);
    return j;
}

/* The POST body for statement json signed by keys. hex_keys: give the
 * signer as 64 hex digits instead of its verifier key string. */
static char *signed_body(const char *json, const tz_secret_key *const *keys, size_t nkeys,
                         int hex_keys)
{
    json_t *st = parse(json);
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    tz_err e;
    ck_assert_msg(tz_statement_from_json(&sb, st, &e) == TZ_OK, "%s", e.msg);
    tz_signature sigs[TZ_ENTRY_MAX_SIGS];
    ck_assert(tz_statement_sign(sigs, (const uint8_t *)sb.data, sb.size, keys, nkeys, &e) == TZ_OK);
    json_t *arr = json_array();
    for (size_t i = 0; i < nkeys; i++) {
        char key[TZ_KEY_STRING_MAX], sig[128];
        if (hex_keys)
            tz_hex_encode(key, sigs[i].key, 32);
        else
            tz_fixture_vkey(key, keys[i]);
        tz_base64_encode(sig, sizeof sig, sigs[i].sig, 64);
        json_array_append_new(arr, json_pack("{s:s,s:s}", "key", key, "sig", sig));
    }
    json_t *doc = json_pack("{s:o,s:o}", "statement", st, "signatures", arr);
    char *s = json_dumps(doc, JSON_COMPACT);
    json_decref(doc);
    msgpack_sbuffer_destroy(&sb);
    return s;
}

static int post(int port, const char *json, const tz_secret_key *key, char **resp)
{
    const tz_secret_key *keys[1] = {key};
    char *b = signed_body(json, keys, 1, 0);
    int st = http(port, "POST", "/v1/statements", NULL, b, strlen(b), resp);
    free(b);
    return st;
}

#define MEMO(id, text) "{\"type\":\"memo\",\"id\":\"" id "\",\"at\":\"2024-05-01T09:00:00+08:00\"," \
                       "\"body\":{\"text\":\"" text "\"}}"

static void expect_error(int status, int want, const char *resp, const char *code)
{
    ck_assert_msg(status == want, "status %d, want %d: %s", status, want, resp ? resp : "");
    json_t *j = parse(resp);
    ck_assert_str_eq(json_string_value(json_object_get(j, "error")), code);
    ck_assert_ptr_nonnull(json_string_value(json_object_get(j, "message")));
    json_decref(j);
}

/* ---- tests ------------------------------------------------------------------------- */

START_TEST(test_statuses)
{
    daemon_proc d;
    daemon_start(&d, fx.db);
    char *r = NULL;
    /* 201 after the commit, then 200 "existing" for the identical retry */
    int st = post(d.port, MEMO("memo/1", "走访农户"), &fx.cadre, &r);
    ck_assert_msg(st == 201, "%d %s", st, r);
    json_t *j = parse(r);
    ck_assert_int_eq(json_integer_value(json_object_get(j, "seq")), 2);
    ck_assert_uint_eq(strlen(json_string_value(json_object_get(j, "leaf_hash"))), 64);
    json_decref(j);
    free(r);
    st = post(d.port, MEMO("memo/1", "走访农户"), &fx.cadre, &r);
    ck_assert_msg(st == 200, "%d %s", st, r);
    j = parse(r);
    ck_assert(json_is_true(json_object_get(j, "existing")));
    ck_assert_int_eq(json_integer_value(json_object_get(j, "seq")), 2);
    json_decref(j);
    free(r);
    /* signer given as hex */
    const tz_secret_key *keys[1] = {&fx.cadre};
    char *b = signed_body(MEMO("memo/hex", "x"), keys, 1, 1);
    st = http(d.port, "POST", "/v1/statements", NULL, b, strlen(b), &r);
    ck_assert_msg(st == 201, "%d %s", st, r);
    free(b);
    free(r);
    /* 400: not JSON, missing members, bad statement */
    st = http(d.port, "POST", "/v1/statements", NULL, "{\"statement\":", 13, &r);
    expect_error(st, 400, r, "input");
    free(r);
    st = http(d.port, "POST", "/v1/statements", NULL, "{\"statement\":{}}", 16, &r);
    expect_error(st, 400, r, "input");
    free(r);
    static const char bad_id[] =
        "{\"statement\":{\"type\":\"memo\",\"id\":\"bad id!\",\"at\":\"2024-05-01T09:00:00+08:00\","
        "\"body\":{\"text\":\"x\"}},\"signatures\":[{\"key\":\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\","
        "\"sig\":\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA==\"}]}";
    st = http(d.port, "POST", "/v1/statements", NULL, bad_id, sizeof bad_id - 1, &r);
    expect_error(st, 400, r, "input");
    ck_assert_ptr_nonnull(strstr(r, "id"));
    free(r);
    /* 401: a key never granted, and a signature that does not verify */
    st = post(d.port, MEMO("memo/stranger", "x"), &fx.stranger, &r);
    expect_error(st, 401, r, "signature");
    free(r);
    b = signed_body(MEMO("memo/forged", "x"), keys, 1, 0);
    char *sig = strstr(b, "\"sig\":\"") + 7;
    sig[0] = sig[0] == 'A' ? 'B' : 'A';
    st = http(d.port, "POST", "/v1/statements", NULL, b, strlen(b), &r);
    expect_error(st, 401, r, "signature");
    free(b);
    free(r);
    /* 403: a cadre may not grant keys */
    char vkey[TZ_KEY_STRING_MAX], json[512];
    tz_fixture_vkey(vkey, &fx.stranger);
    snprintf(json, sizeof json, "{\"type\":\"key.grant\",\"id\":\"grant/x\",\"at\":"
             "\"2024-05-01T08:00:00+08:00\",\"body\":{\"key\":\"%s\",\"holder\":\"LS\","
             "\"roles\":[\"cadre\"],\"scope\":\"village:dongba\"}}", vkey);
    st = post(d.port, json, &fx.cadre, &r);
    expect_error(st, 403, r, "forbidden");
    free(r);
    /* 409: the same id with other content */
    st = post(d.port, MEMO("memo/1", "另一个"), &fx.cadre, &r);
    expect_error(st, 409, r, "conflict");
    free(r);
    /* 422: a rule (at in the future) */
    st = post(d.port, "{\"type\":\"memo\",\"id\":\"memo/future\",\"at\":\"2999-01-01T00:00:00Z\","
              "\"body\":{\"text\":\"x\"}}", &fx.cadre, &r);
    expect_error(st, 422, r, "rule");
    free(r);
    /* 413: a body over 1 MiB */
    size_t big_len = 1536u << 10;
    char *big = malloc(big_len);
    memset(big, ' ', big_len);
    st = http(d.port, "POST", "/v1/statements", NULL, big, big_len, &r);
    expect_error(st, 413, r, "too_large");
    free(big);
    free(r);
    /* 405, 404 */
    st = http(d.port, "GET", "/v1/statements", NULL, NULL, 0, &r);
    expect_error(st, 405, r, "method");
    free(r);
    st = http(d.port, "DELETE", "/v1/entries/1", NULL, NULL, 0, &r);
    expect_error(st, 405, r, "method");
    free(r);
    st = http(d.port, "GET", "/nowhere", NULL, NULL, 0, &r);
    expect_error(st, 404, r, "notfound");
    free(r);
    st = http(d.port, "GET", "/v1/entries/99", NULL, NULL, 0, &r);
    expect_error(st, 404, r, "notfound");
    free(r);
    st = http(d.port, "GET", "/v1/entries?bogus=1", NULL, NULL, 0, &r);
    expect_error(st, 400, r, "input");
    free(r);
    st = http(d.port, "GET", "/v1/projections/roster", NULL, NULL, 0, &r);
    ck_assert_msg(st == 200, "%d %s", st, r);
    free(r);
    st = http(d.port, "GET", "/v1/projections/nonsense", NULL, NULL, 0, &r);
    expect_error(st, 404, r, "notfound");
    free(r);
    /* nothing rejected was written */
    st = http(d.port, "GET", "/healthz", NULL, NULL, 0, &r);
    ck_assert_int_eq(st, 200);
    j = parse(r);
    ck_assert_int_eq(json_integer_value(json_object_get(j, "size")), 4);
    json_decref(j);
    free(r);
    st = http(d.port, "GET", "/metrics", NULL, NULL, 0, &r);
    ck_assert_int_eq(st, 200);
    ck_assert_ptr_nonnull(strstr(r, "taizhang_appends_total 2\n"));
    ck_assert_ptr_nonnull(strstr(r, "taizhang_rejects_total{reason=\"signature\"} 2\n"));
    ck_assert_ptr_nonnull(strstr(r, "taizhang_tree_size 4\n"));
    free(r);
    ck_assert_int_eq(daemon_stop(&d, SIGTERM), 0);
}
END_TEST

/* The entry, the checkpoint and both proofs fetched over HTTP verify. */
START_TEST(test_reads_and_proofs)
{
    daemon_proc d;
    daemon_start(&d, fx.db);
    char *r = NULL, id[32], json[256];
    for (int i = 0; i < 5; i++) {
        snprintf(id, sizeof id, "memo/r%d", i);
        snprintf(json, sizeof json, "{\"type\":\"memo\",\"id\":\"%s\",\"at\":"
                 "\"2024-05-01T09:00:00+08:00\",\"body\":{\"text\":\"t\"}}", id);
        ck_assert_int_eq(post(d.port, json, &fx.cadre, &r), 201);
        free(r);
    }
    /* GET /v1/entries/3 mirrors `taizhang get --json` */
    ck_assert_int_eq(http(d.port, "GET", "/v1/entries/3", NULL, NULL, 0, &r), 200);
    json_t *e = parse(r);
    free(r);
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(e, "statement"), "id")),
                     "memo/r1");
    char *cli = NULL;
    ck_assert_int_eq(tz_test_run(&cli, "%s get --db %s --seq 3 --json", TZ_CLI_PATH, fx.db), 0);
    json_t *c = parse(cli);
    ck_assert(json_equal(e, c));
    json_decref(c);
    free(cli);
    uint8_t leaf[32];
    size_t n;
    const char *lh = json_string_value(json_object_get(e, "leaf_hash"));
    ck_assert(tz_hex_decode(leaf, 32, &n, lh, strlen(lh), NULL) == TZ_OK);
    json_decref(e);
    /* pages */
    ck_assert_int_eq(http(d.port, "GET", "/v1/entries?from=1&limit=3", NULL, NULL, 0, &r), 200);
    e = parse(r);
    free(r);
    ck_assert_uint_eq(json_array_size(json_object_get(e, "entries")), 3);
    ck_assert_int_eq(json_integer_value(json_object_get(e, "next")), 4);
    json_decref(e);
    ck_assert_int_eq(http(d.port, "GET", "/v1/entries?type=key.grant", NULL, NULL, 0, &r), 200);
    e = parse(r);
    free(r);
    ck_assert_uint_eq(json_array_size(json_object_get(e, "entries")), 1);
    ck_assert(json_is_null(json_object_get(e, "next")));
    json_decref(e);
    /* checkpoint: signed by the log key, size 7 */
    ck_assert_int_eq(http(d.port, "GET", "/v1/checkpoint", NULL, NULL, 0, &r), 200);
    tz_checkpoint cp;
    tz_err err;
    ck_assert_msg(tz_checkpoint_open(&cp, r, strlen(r), &fx.log.pub, &err) == TZ_OK, "%s", err.msg);
    free(r);
    ck_assert_uint_eq(cp.size, 7);
    /* inclusion of entry 3 in the checkpoint's tree */
    ck_assert_int_eq(http(d.port, "GET", "/v1/proof/inclusion?seq=3&size=7", NULL, NULL, 0, &r), 200);
    e = parse(r);
    free(r);
    tz_merkle_proof proof = {0};
    json_t *h;
    size_t i;
    json_array_foreach(json_object_get(e, "hashes"), i, h) {
        ck_assert(tz_base64_decode(proof.hashes[i], 32, &n, json_string_value(h),
                                   json_string_length(h), NULL) == TZ_OK);
        proof.count++;
    }
    json_decref(e);
    ck_assert(tz_merkle_verify_inclusion(leaf, 3, 7, &proof, cp.root, &err) == TZ_OK);
    /* consistency from 2 (the fixture's ledger) to 7 */
    tz_ledger *l;
    uint8_t root2[32];
    ck_assert(tz_ledger_open(&l, fx.db, TZ_LEDGER_READONLY, NULL, &err) == TZ_OK);
    ck_assert(tz_ledger_root_at(l, 2, root2, &err) == TZ_OK);
    tz_ledger_close(l);
    ck_assert_int_eq(http(d.port, "GET", "/v1/proof/consistency?from=2&to=7", NULL, NULL, 0, &r),
                     200);
    e = parse(r);
    free(r);
    memset(&proof, 0, sizeof proof);
    json_array_foreach(json_object_get(e, "hashes"), i, h) {
        ck_assert(tz_base64_decode(proof.hashes[i], 32, &n, json_string_value(h),
                                   json_string_length(h), NULL) == TZ_OK);
        proof.count++;
    }
    json_decref(e);
    ck_assert(tz_merkle_verify_consistency(2, 7, &proof, root2, cp.root, &err) == TZ_OK);
    ck_assert_int_eq(http(d.port, "GET", "/v1/proof/inclusion?seq=7", NULL, NULL, 0, &r), 400);
    free(r);
    ck_assert_int_eq(daemon_stop(&d, SIGTERM), 0);
}
END_TEST

/* A statement posted as msgpack: {"statement": bin, "signatures": [{key, sig}]}. */
START_TEST(test_msgpack_body)
{
    daemon_proc d;
    daemon_start(&d, fx.db);
    json_t *st = parse(MEMO("memo/mp", "msgpack"));
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
    int s = http(d.port, "POST", "/v1/statements", "application/msgpack", body.data, body.size, &r);
    ck_assert_msg(s == 201, "%d %s", s, r);
    free(r);
    /* the cosign endpoint takes cosign statements only */
    s = http(d.port, "POST", "/v1/cosign", "application/msgpack", body.data, body.size, &r);
    expect_error(s, 400, r, "input");
    free(r);
    msgpack_sbuffer_destroy(&sb);
    msgpack_sbuffer_destroy(&body);
    ck_assert_int_eq(daemon_stop(&d, SIGTERM), 0);
}
END_TEST

/* ---- clients under load -------------------------------------------------------------- */

#define MAX_ACKS 4096

typedef struct client {
    pthread_t thread;
    int port, index, count;   /* count: statements to post, 0: until the daemon goes */
    int acked, failed;
    uint64_t seqs[MAX_ACKS];
    int ids[MAX_ACKS];        /* the i of memo/c<index>/<i> acknowledged */
} client;

static atomic_int posted_total;

static void *client_main(void *arg)
{
    client *c = arg;
    const tz_secret_key *keys[1] = {&fx.cadre};
    for (int i = 0; (c->count == 0 || i < c->count) && c->acked < MAX_ACKS; i++) {
        char json[256];
        snprintf(json, sizeof json, "{\"type\":\"memo\",\"id\":\"memo/c%d/%d\",\"at\":"
                 "\"2024-05-01T09:00:00+08:00\",\"body\":{\"text\":\"load\"}}", c->index, i);
        char *b = signed_body(json, keys, 1, 0), *r = NULL;
        int st = http(c->port, "POST", "/v1/statements", NULL, b, strlen(b), &r);
        free(b);
        atomic_fetch_add(&posted_total, 1);
        if (st == 201) {
            json_t *j = parse(r);
            c->seqs[c->acked] = (uint64_t)json_integer_value(json_object_get(j, "seq"));
            c->ids[c->acked++] = i;
            json_decref(j);
        } else {
            c->failed++;
        }
        free(r);
        if (st != 201 && c->count == 0)
            break; /* the daemon is going away */
    }
    return NULL;
}

static void clients_start(client *cs, int n, int port, int count)
{
    atomic_store(&posted_total, 0);
    for (int i = 0; i < n; i++) {
        memset(&cs[i], 0, sizeof cs[i]);
        cs[i].port = port;
        cs[i].index = i;
        cs[i].count = count;
        ck_assert(pthread_create(&cs[i].thread, NULL, client_main, &cs[i]) == 0);
    }
}

static void clients_join(client *cs, int n)
{
    for (int i = 0; i < n; i++)
        pthread_join(cs[i].thread, NULL);
}

/* Every acknowledged statement is in the ledger at its seq; the log verifies. */
static int check_acked(const client *cs, int n)
{
    tz_ledger *l;
    tz_err e;
    ck_assert_msg(tz_ledger_open(&l, fx.db, TZ_LEDGER_READONLY, NULL, &e) == TZ_OK, "%s", e.msg);
    int total = 0;
    for (int k = 0; k < n; k++)
        for (int i = 0; i < cs[k].acked; i++) {
            char id[64];
            uint64_t seq;
            snprintf(id, sizeof id, "memo/c%d/%d", k, cs[k].ids[i]);
            ck_assert_msg(tz_ledger_find_id(l, id, strlen(id), &seq, &e) == TZ_OK,
                          "acknowledged %s is missing: %s", id, e.msg);
            ck_assert_uint_eq(seq, cs[k].seqs[i]);
            total++;
        }
    tz_ledger_close(l);
    tz_verify_report rep;
    ck_assert(tz_verify_ledger(fx.db, NULL, &rep, &e) == TZ_OK);
    ck_assert_msg(rep.ok, "verify: %s", rep.reason);
    return total;
}

START_TEST(test_concurrent_clients)
{
    enum { CLIENTS = 16, EACH = 40 };
    daemon_proc d;
    daemon_start(&d, fx.db);
    static client cs[CLIENTS];
    clients_start(cs, CLIENTS, d.port, EACH);
    clients_join(cs, CLIENTS);
    /* every seq acknowledged once */
    static uint8_t seen[2 + CLIENTS * EACH];
    memset(seen, 0, sizeof seen);
    for (int k = 0; k < CLIENTS; k++) {
        ck_assert_int_eq(cs[k].acked, EACH);
        for (int i = 0; i < cs[k].acked; i++) {
            ck_assert_uint_lt(cs[k].seqs[i], sizeof seen);
            ck_assert_msg(!seen[cs[k].seqs[i]], "seq %llu acknowledged twice",
                          (unsigned long long)cs[k].seqs[i]);
            seen[cs[k].seqs[i]] = 1;
        }
    }
    /* they shared fsyncs */
    char *r = NULL;
    ck_assert_int_eq(http(d.port, "GET", "/metrics", NULL, NULL, 0, &r), 200);
    const char *commits = strstr(r, "\ntaizhang_commits_total ");
    ck_assert_ptr_nonnull(commits);
    long ncommits = atol(commits + 24);
    fprintf(stderr, "check_daemon: %d statements in %ld group commits\n", CLIENTS * EACH, ncommits);
    ck_assert_int_le(ncommits, CLIENTS * EACH);
    free(r);
    ck_assert_int_eq(daemon_stop(&d, SIGTERM), 0);
    ck_assert_int_eq(check_acked(cs, CLIENTS), CLIENTS * EACH);
}
END_TEST

static void wait_posted(int n)
{
    while (atomic_load(&posted_total) < n)
        usleep(2000);
}

START_TEST(test_sigterm_drains)
{
    enum { CLIENTS = 8 };
    daemon_proc d;
    daemon_start(&d, fx.db);
    static client cs[CLIENTS];
    clients_start(cs, CLIENTS, d.port, 0);
    wait_posted(200);
    ck_assert_int_eq(daemon_stop(&d, SIGTERM), 0);
    clients_join(cs, CLIENTS);
    int acked = check_acked(cs, CLIENTS);
    ck_assert_int_ge(acked, 150);
    /* the daemon starts again on the same ledger */
    daemon_start(&d, fx.db);
    ck_assert_int_eq(daemon_stop(&d, SIGINT), 0);
}
END_TEST

START_TEST(test_kill9_under_load)
{
    enum { CLIENTS = 8 };
    daemon_proc d;
    daemon_start(&d, fx.db);
    static client cs[CLIENTS];
    clients_start(cs, CLIENTS, d.port, 0);
    wait_posted(300);
    ck_assert_int_eq(daemon_stop(&d, SIGKILL), 128 + SIGKILL);
    clients_join(cs, CLIENTS);
    /* restart: open must succeed (no replay) and every acknowledged entry be there */
    daemon_start(&d, fx.db);
    char *r = NULL;
    ck_assert_int_eq(post(d.port, MEMO("memo/after", "x"), &fx.cadre, &r), 201);
    free(r);
    ck_assert_int_eq(daemon_stop(&d, SIGTERM), 0);
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
