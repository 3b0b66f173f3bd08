/*
 * fuzz_http.c: whole HTTP requests through taizhangd's real router and
 * handlers, without a socket, against a small ledger.
 *
 * The input is a request as text (docs/FUZZING.md):
 *
 *     METHOD URI\n          e.g. "GET /v1/entries?limit=2" (a "\r" before "\n" is dropped)
 *     Name: value\n         header lines, up to an empty line
 *     \n
 *     body                  every byte after the empty line
 *
 * The URI is parsed as libevent parses a request target
 * (evhttp_uri_parse_with_flags, EVHTTP_URI_NONCONFORMANT); a method libevent
 * does not know, or a target it cannot parse, never reaches the daemon and
 * is skipped. Headers: Content-Type picks JSON or msgpack as the daemon
 * does (tzd_route_body_is_msgpack). Two headers are the harness's own, so
 * that mutated requests still get past the signature checks:
 *   X-Fuzz-Sign: DIGITS   the body is a statement {type,id,at,body} (JSON);
 *                         the harness signs its canonical bytes with the
 *                         fixed keys named by the digits (0..3) and posts
 *                         {"statement", "signatures"} (msgpack when the
 *                         Content-Type says so)
 *   X-Fuzz-Cosign: any    the body is replaced by the current checkpoint
 *                         cosigned by the configured witness (key 3)
 *
 * Then, as taizhangd's on_request and workers do: tzd_route_request; for a
 * read tzd_api_read against the published head; for POST /v1/statements
 * and /v1/cosign tzd_api_parse_submission, then tz_ledger_append with the
 * verified signatures and the reply the writer would give; for POST
 * /v1/checkpoint/cosign tzd_cosign_post; for GET /v1/checkpoint/cosigned
 * tzd_cosign_get. (/healthz and /metrics answer from the server's state:
 * only their routing is exercised here.)
 *
 * Properties: every reply has a status in the set its endpoint allows and
 * never 5xx (the store is healthy, so any 5xx is the daemon's fault); a
 * JSON reply parses, and an error reply is {"error": str, "message": str}
 * with a non-empty message; a text reply is not empty; the ledger grows by
 * exactly the appends answered 201 and stays the same otherwise; after a
 * 201 the whole ledger still verifies (tz_verify_ledger).
 *
 * TZ_FUZZ_HTTP_TRACE=1 in the environment prints each request's route and
 * reply (to see what a corpus reaches).
 *
 * The ledger (genesis with root key 0 and log key 2, key 1 granted as a
 * cadre, three memos) is made at the first input in a fresh directory
 * under $TMPDIR and removed at exit. An accepted append changes it, so it
 * is then made again: every input starts from the same ledger and
 * reproduces on its own.
 */
#include <event2/http.h>
#include <ftw.h>
#include <jansson.h>
#include <msgpack.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "crypto/keyfile.h"
#include "daemon/api.h"
#include "daemon/cosign.h"
#include "daemon/router.h"
#include "fuzz/fuzz.h"
#include "ledger/codec.h"
#include "ledger/entry_json.h"
#include "ledger/ledger.h"
#include "ledger/statement.h"
#include "ledger/verify.h"
#include "ledger/witness.h"
#include "util/encoding.h"

#define HTTP_ORIGIN "fuzz.example/http"
#define HTTP_BODY_MAX (1u << 20) /* taizhangd's default --max-body: above it, 413 */

static struct {
    int ready;
    char dir[512], db[600], log_path[600];
    tz_ledger *ledger;
    tzd_head head;
    int head_ready;
} world;

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}

static void world_close(void)
{
    if (world.head_ready) {
        tzd_head_destroy(&world.head);
        world.head_ready = 0;
    }
    tz_ledger_close(world.ledger);
    world.ledger = NULL;
}

static void world_remove(void)
{
    world_close();
    if (world.dir[0] != '\0')
        (void)nftw(world.dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static void publish(void)
{
    char *note = NULL;
    size_t len = 0;
    tz_err e;
    TZ_FUZZ_CHECK_MSG(tz_ledger_checkpoint(world.ledger, &note, &len, &e) == TZ_OK, "%s", e.msg);
    TZ_FUZZ_CHECK_MSG(tzd_head_publish(&world.head, tz_ledger_store(world.ledger),
                                       tz_ledger_size(world.ledger), note, len, &e) == TZ_OK,
                      "%s", e.msg);
}

static void append_json(const char *json, unsigned key)
{
    json_t *doc = json_loads(json, JSON_REJECT_DUPLICATES, NULL);
    TZ_FUZZ_CHECK(doc != NULL);
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    tz_err e;
    TZ_FUZZ_CHECK_MSG(tz_statement_from_json(&sb, doc, &e) == TZ_OK, "%s", e.msg);
    json_decref(doc);
    tz_signature sig;
    const tz_secret_key *keys[1] = {tz_fuzz_key(key)};
    TZ_FUZZ_CHECK(tz_statement_sign(&sig, (const uint8_t *)sb.data, sb.size, keys, 1, &e) == TZ_OK);
    tz_submission sub = {(const uint8_t *)sb.data, sb.size, &sig, 1};
    tz_append_result res;
    size_t processed;
    TZ_FUZZ_CHECK_MSG(tz_ledger_append(world.ledger, &sub, 1, &res, &processed, 0, &e) == TZ_OK,
                      "%s", e.msg);
    TZ_FUZZ_CHECK_MSG(res.status == TZ_OK, "fixture statement refused: %s", res.err.msg);
    msgpack_sbuffer_destroy(&sb);
}

/* Makes the small ledger in a fresh directory and publishes its head. */
static void world_build(void)
{
    tz_err e;
    const char *tmp = getenv("TMPDIR");
    int n = snprintf(world.dir, sizeof world.dir, "%s/tzfuzz-http.XXXXXX",
                     tmp != NULL && tmp[0] != '\0' ? tmp : "/tmp");
    TZ_FUZZ_CHECK(n > 0 && (size_t)n < sizeof world.dir);
    TZ_FUZZ_CHECK_MSG(mkdtemp(world.dir) != NULL, "mkdtemp %s", world.dir);
    snprintf(world.db, sizeof world.db, "%s/ledger", world.dir);
    snprintf(world.log_path, sizeof world.log_path, "%s/log.key", world.dir);
    TZ_FUZZ_CHECK_MSG(tz_keyfile_write_secret(world.log_path, tz_fuzz_key(2), NULL, &e) == TZ_OK,
                      "%s", e.msg);
    TZ_FUZZ_CHECK_MSG(tz_ledger_create(world.db, HTTP_ORIGIN, world.log_path, NULL,
                                       &tz_fuzz_key(0)->pub, 1, &e) == TZ_OK, "%s", e.msg);
    TZ_FUZZ_CHECK_MSG(tz_ledger_open(&world.ledger, world.db, 0, NULL, &e) == TZ_OK, "%s", e.msg);
    char vkey[TZ_KEY_STRING_MAX], json[512];
    TZ_FUZZ_CHECK(tz_key_format_public(vkey, sizeof vkey, &tz_fuzz_key(1)->pub, NULL) == TZ_OK);
    snprintf(json, sizeof json, "{\"type\":\"key.grant\",\"id\":\"grant/cadre\",\"at\":"
             "\"2021-01-01T08:00:00+08:00\",\"body\":{\"key\":\"%s\",\"holder\":\"ZS\","
             "\"roles\":[\"cadre\"],\"scope\":\"village:dongba\"}}", vkey);
    append_json(json, 0);
    for (int i = 0; i < 3; i++) {
        snprintf(json, sizeof json, "{\"type\":\"memo\",\"id\":\"memo/%d\",\"at\":"
                 "\"2026-11-01T09:00:00+08:00\",\"body\":{\"text\":\"民情日志 %d\"}}", i, i);
        append_json(json, 1);
    }
    tzd_head_init(&world.head);
    world.head_ready = 1;
    publish();
}

static void world_init(void)
{
    if (world.ready)
        return;
    world_build();
    world.ready = 1;
    atexit(world_remove);
}

/* After an accepted append: the ledger verifies, then it is made again. */
static void world_reset(void)
{
    tz_verify_report rep;
    tz_err e;
    TZ_FUZZ_CHECK_MSG(tz_verify_ledger(world.db, NULL, &rep, &e) == TZ_OK, "%s", e.msg);
    TZ_FUZZ_CHECK_MSG(rep.ok && rep.size == tz_ledger_size(world.ledger),
                      "the ledger no longer verifies after an accepted append: %s", rep.reason);
    world_remove();
    world_build();
}

/* ---- the request ------------------------------------------------------------ */

typedef struct request {
    enum evhttp_cmd_type method;
    char *target;               /* malloc'd, NUL-terminated */
    const char *content_type;   /* into headers, or NULL */
    const char *sign;           /* X-Fuzz-Sign value, or NULL */
    int cosign;                 /* X-Fuzz-Cosign present */
    char *headers;              /* malloc'd copy of the header block, NULs at line ends */
    const uint8_t *body;
    size_t body_len;
} request;

static int method_of(const char *m, size_t len, enum evhttp_cmd_type *out)
{
    static const struct {
        const char *name;
        enum evhttp_cmd_type cmd;
    } methods[] = {{"GET", EVHTTP_REQ_GET},         {"POST", EVHTTP_REQ_POST},
                   {"HEAD", EVHTTP_REQ_HEAD},       {"PUT", EVHTTP_REQ_PUT},
                   {"DELETE", EVHTTP_REQ_DELETE},   {"OPTIONS", EVHTTP_REQ_OPTIONS},
                   {"TRACE", EVHTTP_REQ_TRACE},     {"CONNECT", EVHTTP_REQ_CONNECT},
                   {"PATCH", EVHTTP_REQ_PATCH}};
    for (size_t i = 0; i < sizeof methods / sizeof methods[0]; i++)
        if (strlen(methods[i].name) == len && memcmp(methods[i].name, m, len) == 0) {
            *out = methods[i].cmd;
            return 1;
        }
    return 0;
}

/* The line at data[*pos..), without its "\n" (and "\r"); *pos moves past it. */
static const uint8_t *next_line(const uint8_t *data, size_t size, size_t *pos, size_t *len)
{
    const uint8_t *start = data + *pos;
    const uint8_t *nl = memchr(start, '\n', size - *pos);
    size_t n = nl ? (size_t)(nl - start) : size - *pos;
    *pos += nl ? n + 1 : n;
    if (n > 0 && start[n - 1] == '\r')
        n--;
    *len = n;
    return start;
}

/* 1 with *r filled (free with request_free), 0 when libevent would not
 * hand this request to the daemon. */
static int request_parse(request *r, const uint8_t *data, size_t size)
{
    memset(r, 0, sizeof *r);
    size_t pos = 0, len;
    const uint8_t *line = next_line(data, size, &pos, &len);
    const uint8_t *sp = memchr(line, ' ', len);
    if (sp == NULL || !method_of((const char *)line, (size_t)(sp - line), &r->method))
        return 0;
    size_t tlen = len - (size_t)(sp - line) - 1;
    if (memchr(sp + 1, '\0', tlen) != NULL)
        return 0;
    r->target = strndup((const char *)sp + 1, tlen);
    TZ_FUZZ_CHECK(r->target != NULL);
    size_t hstart = pos;
    do
        (void)next_line(data, size, &pos, &len);
    while (len > 0);
    r->headers = malloc(pos - hstart + 1);
    TZ_FUZZ_CHECK(r->headers != NULL);
    memcpy(r->headers, data + hstart, pos - hstart);
    r->headers[pos - hstart] = '\0';
    r->body = data + pos;
    r->body_len = size - pos;
    char *h = r->headers, *stop = r->headers + (pos - hstart);
    while (h < stop) {
        char *end = memchr(h, '\n', (size_t)(stop - h));
        if (end == NULL)
            end = stop; /* already the terminating NUL */
        *end = '\0';
        if (end > h && end[-1] == '\r')
            end[-1] = '\0';
        char *colon = strchr(h, ':');
        if (colon != NULL) {
            *colon = '\0';
            char *value = colon + 1;
            while (*value == ' ' || *value == '\t')
                value++;
            if (strcasecmp(h, "Content-Type") == 0 && r->content_type == NULL)
                r->content_type = value;
            else if (strcasecmp(h, "X-Fuzz-Sign") == 0)
                r->sign = value;
            else if (strcasecmp(h, "X-Fuzz-Cosign") == 0)
                r->cosign = 1;
        }
        h = end + 1;
    }
    return 1;
}

static void request_free(request *r)
{
    free(r->target);
    free(r->headers);
}

/* ---- bodies the harness signs -------------------------------------------------- */

/* The statement JSON in r->body signed with the keys named by r->sign,
 * as a POST body; 0 when the body is not a statement (it is posted as it is). */
static int signed_body(msgpack_sbuffer *out, const request *r, int is_msgpack)
{
    json_t *doc = json_loadb((const char *)r->body, r->body_len, JSON_REJECT_DUPLICATES, NULL);
    if (doc == NULL)
        return 0;
    msgpack_sbuffer stmt;
    msgpack_sbuffer_init(&stmt);
    if (tz_statement_from_json(&stmt, doc, NULL) != TZ_OK) {
        msgpack_sbuffer_destroy(&stmt);
        json_decref(doc);
        return 0;
    }
    const tz_secret_key *keys[TZ_ENTRY_MAX_SIGS];
    size_t nkeys = 0;
    for (const char *d = r->sign; *d != '\0' && nkeys < TZ_ENTRY_MAX_SIGS; d++)
        if (*d >= '0' && *d <= '3')
            keys[nkeys++] = tz_fuzz_key((unsigned)(*d - '0'));
    tz_signature sigs[TZ_ENTRY_MAX_SIGS];
    TZ_FUZZ_CHECK(tz_statement_sign(sigs, (const uint8_t *)stmt.data, stmt.size, keys, nkeys,
                                    NULL) == TZ_OK);
    if (is_msgpack) {
        tz_fuzz_msgpack_submission(out, (const uint8_t *)stmt.data, stmt.size, sigs, nkeys);
    } else {
        json_t *arr = json_array();
        for (size_t i = 0; i < nkeys; i++) {
            char vkey[TZ_KEY_STRING_MAX], sig[89];
            TZ_FUZZ_CHECK(tz_key_format_public(vkey, sizeof vkey, &keys[i]->pub, NULL) == TZ_OK);
            tz_base64_encode(sig, sizeof sig, sigs[i].sig, 64);
            json_array_append_new(arr, json_pack("{s:s,s:s}", "key", vkey, "sig", sig));
        }
        json_t *body = json_pack("{s:O,s:o}", "statement", doc, "signatures", arr);
        TZ_FUZZ_CHECK(body != NULL);
        char *text = json_dumps(body, JSON_COMPACT);
        TZ_FUZZ_CHECK(text != NULL);
        msgpack_sbuffer_write(out, text, strlen(text));
        free(text);
        json_decref(body);
    }
    msgpack_sbuffer_destroy(&stmt);
    json_decref(doc);
    return 1;
}

/* The published checkpoint cosigned by the witness (key 3), malloc'd. */
static char *cosigned_checkpoint(size_t *len)
{
    tzd_snapshot *snap = tzd_head_acquire(&world.head);
    TZ_FUZZ_CHECK(snap != NULL);
    char *note = NULL;
    tz_err e;
    TZ_FUZZ_CHECK_MSG(tz_witness_add_cosignature(&note, len, snap->checkpoint, snap->checkpoint_len,
                                                 tz_fuzz_key(3), 1767225600, &e) == TZ_OK,
                      "%s", e.msg);
    tzd_head_release(&world.head, snap);
    return note;
}

/* ---- the handlers' promises ------------------------------------------------------ */

static int status_in(int status, const int *allowed, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (allowed[i] == status)
            return 1;
    return 0;
}

#define CHECK_STATUS(r, what, ...)                                                          \
    do {                                                                                    \
        static const int allowed_[] = {__VA_ARGS__};                                        \
        TZ_FUZZ_CHECK_MSG(status_in((r)->status, allowed_, sizeof allowed_ / sizeof allowed_[0]), \
                          "%s answered %d: %.*s", what, (r)->status, (int)(r)->len,         \
                          (r)->body ? (r)->body : "");                                      \
    } while (0)

/* A reply is JSON that parses (an error: {"error": str, "message": str}),
 * or a non-empty text. */
static void check_body(const tzd_reply *r)
{
    TZ_FUZZ_CHECK(r->body != NULL && r->ctype != NULL);
    if (strcmp(r->ctype, "application/json") != 0) {
        TZ_FUZZ_CHECK_MSG(strncmp(r->ctype, "text/plain", 10) == 0 && r->status == 200 && r->len > 0,
                          "%d %s", r->status, r->ctype);
        return;
    }
    json_error_t je;
    json_t *doc = json_loadb(r->body, r->len, JSON_REJECT_DUPLICATES, &je);
    TZ_FUZZ_CHECK_MSG(doc != NULL, "reply %d is not JSON (%s): %.*s", r->status, je.text,
                      (int)r->len, r->body);
    if (r->status >= 400) {
        const char *code = json_string_value(json_object_get(doc, "error"));
        const char *msg = json_string_value(json_object_get(doc, "message"));
        TZ_FUZZ_CHECK_MSG(code != NULL && code[0] != '\0' && msg != NULL && msg[0] != '\0',
                          "error reply without error and message: %.*s", (int)r->len, r->body);
    }
    json_decref(doc);
}

/* POST /v1/statements or /v1/cosign: parse on a worker, append on the writer. */
static void post_statement(const request *rq, tzd_route route, const uint8_t *body, size_t len,
                           tzd_reply *out)
{
    int is_msgpack = tzd_route_body_is_msgpack(rq->content_type);
    tzd_submission sub;
    tzd_submission_init(&sub);
    tz_err e;
    uint64_t before = tz_ledger_size(world.ledger);
    int rc = tzd_api_parse_submission(&sub, body, len, is_msgpack, tzd_route_require_type(route), &e);
    if (rc != TZ_OK) {
        TZ_FUZZ_CHECK_ERROR(rc, &e, TZ_ERR_INPUT, TZ_ERR_SIGNATURE, TZ_ERR_NOMEM);
        tzd_reply_status(out, rc, e.msg);
        tzd_submission_destroy(&sub);
        return;
    }
    tz_submission s = {(const uint8_t *)sub.statement.data, sub.statement.size, sub.sigs, sub.nsigs};
    tz_append_result res;
    rc = tz_ledger_append(world.ledger, &s, 1, &res, NULL, TZ_APPEND_SIGS_VERIFIED, &e);
    TZ_FUZZ_CHECK_MSG(rc == TZ_OK, "the healthy store refused a commit: %s", e.msg);
    uint64_t after = tz_ledger_size(world.ledger);
    if (res.status != TZ_OK) {
        TZ_FUZZ_CHECK_MSG(after == before, "a refused append changed the size %llu -> %llu",
                          (unsigned long long)before, (unsigned long long)after);
        TZ_FUZZ_CHECK(res.err.code == res.status && res.err.msg[0] != '\0');
        tzd_reply_status(out, res.status, res.err.msg);
    } else {
        TZ_FUZZ_CHECK_MSG(after == before + (res.existing ? 0 : 1), "size %llu -> %llu",
                          (unsigned long long)before, (unsigned long long)after);
        TZ_FUZZ_CHECK(res.existing || res.seq == before);
        json_t *doc = json_pack("{s:I,s:o}", "seq", (json_int_t)res.seq, "leaf_hash",
                                tz_json_hex(res.leaf_hash, 32));
        if (doc != NULL && res.existing)
            json_object_set_new(doc, "existing", json_true());
        tzd_reply_json(out, res.existing ? 200 : 201, doc);
    }
    tzd_submission_destroy(&sub);
}

TZ_FUZZ_ENTRY(http)
{
    request rq;
    if (!request_parse(&rq, data, size))
        return 0;
    struct evhttp_uri *uri = evhttp_uri_parse_with_flags(rq.target, EVHTTP_URI_NONCONFORMANT);
    if (uri == NULL) { /* libevent answers 400 itself */
        request_free(&rq);
        return 0;
    }
    world_init();
    const char *path = evhttp_uri_get_path(uri);
    const char *query = evhttp_uri_get_query(uri);
    tzd_reply r = {0};
    int post = -1;
    tzd_route route = tzd_route_request(&post, &r, rq.method, path);
    TZ_FUZZ_CHECK(post == 0 || post == 1);
    uint64_t before = tz_ledger_size(world.ledger);
    int grew = 0;
    switch (route) {
    case TZD_ROUTE_ERROR:
        CHECK_STATUS(&r, "the router", 400, 404, 405);
        check_body(&r);
        break;
    case TZD_ROUTE_HEALTHZ:
    case TZD_ROUTE_METRICS:
        TZ_FUZZ_CHECK(rq.method == EVHTTP_REQ_GET && !post && r.body == NULL);
        break;
    case TZD_ROUTE_READ:
        TZ_FUZZ_CHECK(rq.method == EVHTTP_REQ_GET && !post && r.body == NULL);
        tzd_api_read(&world.head, path, query, &r);
        CHECK_STATUS(&r, "a read", 200, 400, 404);
        check_body(&r);
        break;
    case TZD_ROUTE_COSIGNED:
    case TZD_ROUTE_CHECKPOINT_COSIGN: {
        TZ_FUZZ_CHECK(r.body == NULL);
        tzd_cosign cs;
        tz_err e;
        const tz_public_key *witness = &tz_fuzz_key(3)->pub;
        TZ_FUZZ_CHECK_MSG(tzd_cosign_init(&cs, &tz_fuzz_key(2)->pub, HTTP_ORIGIN, witness, 1, &e) ==
                          TZ_OK, "%s", e.msg);
        if (route == TZD_ROUTE_COSIGNED) {
            tzd_cosign_get(&cs, query, &r);
            CHECK_STATUS(&r, "GET /v1/checkpoint/cosigned", 400, 404);
        } else {
            size_t len = rq.body_len;
            char *note = rq.cosign ? cosigned_checkpoint(&len) : NULL;
            tzd_cosign_post(&cs, &world.head, note ? (const uint8_t *)note : rq.body, len, &r);
            CHECK_STATUS(&r, "POST /v1/checkpoint/cosign", 200, 400, 401, 409);
            TZ_FUZZ_CHECK_MSG(!rq.cosign || r.status == 200, "a good cosignature refused: %.*s",
                              (int)r.len, r.body);
            if (r.status == 200) { /* now collected: GET gives it back */
                tzd_reply got = {0};
                tzd_cosign_get(&cs, NULL, &got);
                CHECK_STATUS(&got, "GET /v1/checkpoint/cosigned after a cosignature", 200);
                check_body(&got);
                tzd_reply_clear(&got);
            }
            free(note);
        }
        check_body(&r);
        tzd_cosign_destroy(&cs);
        break;
    }
    case TZD_ROUTE_STATEMENTS:
    case TZD_ROUTE_COSIGN_STATEMENT: {
        TZ_FUZZ_CHECK(rq.method == EVHTTP_REQ_POST && post && r.body == NULL);
        if (rq.body_len > HTTP_BODY_MAX) /* 413 before any parsing (on_request) */
            break;
        msgpack_sbuffer sb;
        msgpack_sbuffer_init(&sb);
        int is_msgpack = tzd_route_body_is_msgpack(rq.content_type);
        if (rq.sign != NULL && signed_body(&sb, &rq, is_msgpack))
            post_statement(&rq, route, (const uint8_t *)sb.data, sb.size, &r);
        else
            post_statement(&rq, route, rq.body, rq.body_len, &r);
        msgpack_sbuffer_destroy(&sb);
        CHECK_STATUS(&r, "an append", 200, 201, 400, 401, 403, 404, 409, 422);
        check_body(&r);
        grew = r.status == 201;
        break;
    }
    }
    TZ_FUZZ_CHECK(tz_ledger_size(world.ledger) == before + (grew ? 1 : 0));
    if (getenv("TZ_FUZZ_HTTP_TRACE") != NULL) /* to see what a corpus reaches */
        fprintf(stderr, "fuzz_http: route %d, %s -> %d %.*s\n", (int)route, rq.target, r.status,
                (int)(r.len < 200 ? r.len : 200), r.body ? r.body : "");
    tzd_reply_clear(&r);
    evhttp_uri_free(uri);
    request_free(&rq);
    if (grew)
        world_reset();
    return 0;
}
