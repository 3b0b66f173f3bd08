/*
 * check_router.c: daemon/router.c, which decides from method and path
 * alone which endpoint of taizhangd a request is for (docs/API.md), and
 * the daemon's answers to paths it refuses.
 *
 * A table of (method, path) against the route, the POST flag and, for a
 * refusal, the status and error code; then refusals of paths that are not
 * valid UTF-8 or whose 128 shown bytes end inside a character, which the
 * daemon once answered 500 "out of memory" (the JSON writer refuses
 * invalid UTF-8): directly, and through a running taizhangd.
 */
#include <jansson.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "daemon/router.h"
#include "tests/tz_test.h"

typedef struct route_case {
    enum evhttp_cmd_type method;
    const char *path;
    tzd_route route;
    int post;
    int status;        /* for TZD_ROUTE_ERROR */
    const char *code;  /* for TZD_ROUTE_ERROR */
} route_case;

static const route_case cases[] = {
    {EVHTTP_REQ_GET, NULL, TZD_ROUTE_ERROR, 0, 400, "input"},
    {EVHTTP_REQ_GET, "", TZD_ROUTE_ERROR, 0, 400, "input"},
    {EVHTTP_REQ_GET, "v1/entries", TZD_ROUTE_ERROR, 0, 400, "input"},
    {EVHTTP_REQ_GET, "/healthz", TZD_ROUTE_HEALTHZ, 0, 0, NULL},
    {EVHTTP_REQ_GET, "/metrics", TZD_ROUTE_METRICS, 0, 0, NULL},
    {EVHTTP_REQ_GET, "/v1/checkpoint/cosigned", TZD_ROUTE_COSIGNED, 0, 0, NULL},
    {EVHTTP_REQ_GET, "/v1/checkpoint", TZD_ROUTE_READ, 0, 0, NULL},
    {EVHTTP_REQ_GET, "/v1/entries/7", TZD_ROUTE_READ, 0, 0, NULL},
    {EVHTTP_REQ_GET, "/v1/no-such-read", TZD_ROUTE_READ, 0, 0, NULL}, /* 404 from tzd_api_read */
    {EVHTTP_REQ_POST, "/v1/statements", TZD_ROUTE_STATEMENTS, 1, 0, NULL},
    {EVHTTP_REQ_POST, "/v1/cosign", TZD_ROUTE_COSIGN_STATEMENT, 1, 0, NULL},
    {EVHTTP_REQ_POST, "/v1/checkpoint/cosign", TZD_ROUTE_CHECKPOINT_COSIGN, 1, 0, NULL},
    /* the method first: a known path with another method is 405 */
    {EVHTTP_REQ_GET, "/v1/statements", TZD_ROUTE_ERROR, 1, 405, "method"},
    {EVHTTP_REQ_PUT, "/v1/cosign", TZD_ROUTE_ERROR, 1, 405, "method"},
    {EVHTTP_REQ_GET, "/v1/checkpoint/cosign", TZD_ROUTE_ERROR, 1, 405, "method"},
    {EVHTTP_REQ_POST, "/v1/checkpoint/cosigned", TZD_ROUTE_ERROR, 0, 405, "method"},
    {EVHTTP_REQ_POST, "/healthz", TZD_ROUTE_ERROR, 0, 405, "method"},
    {EVHTTP_REQ_HEAD, "/metrics", TZD_ROUTE_ERROR, 0, 405, "method"},
    {EVHTTP_REQ_DELETE, "/v1/entries/1", TZD_ROUTE_ERROR, 0, 405, "method"},
    /* outside /v1/, /healthz and /metrics: 404 whatever the method */
    {EVHTTP_REQ_GET, "/", TZD_ROUTE_ERROR, 0, 404, "notfound"},
    {EVHTTP_REQ_GET, "/v1", TZD_ROUTE_ERROR, 0, 404, "notfound"},
    {EVHTTP_REQ_POST, "/v2/statements", TZD_ROUTE_ERROR, 0, 404, "notfound"},
    {EVHTTP_REQ_GET, "/healthz/", TZD_ROUTE_ERROR, 0, 404, "notfound"},
    /* paths that are not UTF-8, or cut inside a character: still 404/405 */
    {EVHTTP_REQ_GET, "/\xff\xfe", TZD_ROUTE_ERROR, 0, 404, "notfound"},
    {EVHTTP_REQ_GET, "/\xe6\xb0", TZD_ROUTE_ERROR, 0, 404, "notfound"},
    {EVHTTP_REQ_POST, "/v1/entries/\xe6\xb0", TZD_ROUTE_ERROR, 0, 405, "method"},
    {EVHTTP_REQ_GET, "/\x01\x1f\x7f", TZD_ROUTE_ERROR, 0, 404, "notfound"},
};

/* Fails unless r is the JSON error {"error": code, "message": non-empty}. */
static void expect_error(const tzd_reply *r, int status, const char *code)
{
    ck_assert_int_eq(r->status, status);
    ck_assert_ptr_nonnull(r->body);
    ck_assert_str_eq(r->ctype, "application/json");
    json_error_t je;
    json_t *doc = json_loadb(r->body, r->len, 0, &je);
    ck_assert_msg(doc != NULL, "not JSON (%s): %.*s", je.text, (int)r->len, r->body);
    ck_assert_str_eq(json_string_value(json_object_get(doc, "error")), code);
    const char *msg = json_string_value(json_object_get(doc, "message"));
    ck_assert_msg(msg != NULL && msg[0] != '\0', "no message: %.*s", (int)r->len, r->body);
    json_decref(doc);
}

START_TEST(route_table)
{
    const route_case *c = &cases[_i];
    tzd_reply r = {0};
    int post = -1;
    tzd_route got = tzd_route_request(&post, &r, c->method, c->path);
    ck_assert_msg(got == c->route, "%s: route %d, want %d", c->path ? c->path : "(null)", (int)got,
                  (int)c->route);
    ck_assert_int_eq(post, c->post);
    if (c->route == TZD_ROUTE_ERROR)
        expect_error(&r, c->status, c->code);
    else
        ck_assert_ptr_null(r.body); /* left untouched */
    tzd_reply_clear(&r);
}
END_TEST

/* A refused path is shown in the message at most 128 bytes long, cut on a
 * character boundary: 60 three-byte characters (180 bytes) used to be cut
 * at byte 128, inside the 43rd, and the reply became 500. */
START_TEST(long_paths_are_cut_on_characters)
{
    char path[1 + 60 * 3 + 1] = "/";
    for (int i = 0; i < 60; i++)
        strcat(path, "民");
    tzd_reply r = {0};
    int post;
    ck_assert_int_eq(tzd_route_request(&post, &r, EVHTTP_REQ_GET, path), TZD_ROUTE_ERROR);
    expect_error(&r, 404, "notfound");
    json_t *doc = json_loadb(r.body, r.len, 0, NULL);
    const char *msg = json_string_value(json_object_get(doc, "message"));
    /* "/" + 42 whole characters (127 bytes), then "..." */
    ck_assert_msg(strncmp(msg, path, 127) == 0 && strncmp(msg + 127, "...: no such", 12) == 0,
                  "%s", msg);
    json_decref(doc);
    tzd_reply_clear(&r);
    /* A long path of single bytes that are not UTF-8 stays bounded too. */
    char bad[4096];
    memset(bad, 0xff, sizeof bad - 1);
    bad[0] = '/';
    bad[sizeof bad - 1] = '\0';
    ck_assert_int_eq(tzd_route_request(&post, &r, EVHTTP_REQ_GET, bad), TZD_ROUTE_ERROR);
    expect_error(&r, 404, "notfound");
    ck_assert_uint_lt(r.len, 700);
    tzd_reply_clear(&r);
}
END_TEST

START_TEST(body_types)
{
    ck_assert_int_eq(tzd_route_body_is_msgpack(NULL), 0);
    ck_assert_int_eq(tzd_route_body_is_msgpack("application/json"), 0);
    ck_assert_int_eq(tzd_route_body_is_msgpack("application/msgpack"), 1);
    ck_assert_int_eq(tzd_route_body_is_msgpack("application/x-msgpack"), 1);
    ck_assert_int_eq(tzd_route_body_is_msgpack("application/vnd.msgpack; charset=binary"), 1);
    ck_assert_int_eq(tzd_route_body_is_msgpack("application/msgpac"), 0);
    ck_assert_str_eq(tzd_route_require_type(TZD_ROUTE_COSIGN_STATEMENT), "cosign");
    ck_assert_ptr_null(tzd_route_require_type(TZD_ROUTE_STATEMENTS));
}
END_TEST

/* The same refusals through a running taizhangd: 404 and 405 with their
 * JSON error (main answered each with 500 "out of memory"), and the
 * daemon still serves afterwards. */
START_TEST(daemon_refuses_bad_paths_as_json)
{
    tz_fixture f;
    tz_fixture_init(&f);
    tz_daemon d;
    tz_daemon_start(&d, f.db);
    static const struct {
        const char *method, *path;
        int status;
        const char *code;
    } reqs[] = {
        {"GET", "/\xff\xfe", 404, "notfound"},
        {"GET", "/\xe6\xb0", 404, "notfound"},
        {"POST", "/v1/entries/\xe6\xb0", 405, "method"},
        {"GET", "/民民民民民民民民民民民民民民民民民民民民民民民民民民民民民民民民民民民民民民民民民民民民民民民", 404,
         "notfound"},
    };
    for (size_t i = 0; i < sizeof reqs / sizeof reqs[0]; i++) {
        char *body = NULL;
        int status = tz_http(d.port, reqs[i].method, reqs[i].path, NULL, "", 0, &body);
        tz_http_expect_error(status, reqs[i].status, body, reqs[i].code);
        free(body);
    }
    json_t *health = tz_http_get_json(d.port, "/healthz");
    ck_assert(json_is_true(json_object_get(health, "ok")));
    json_decref(health);
    ck_assert_int_eq(tz_daemon_stop(&d, SIGTERM), 0);
    tz_fixture_cleanup(&f);
}
END_TEST

/* The Allow header of a 405 names the method the path takes. It was chosen
 * by looking for "POST" anywhere in the reply, so a GET-only path with
 * POST in its name (/v1/POST) was told to use POST. */
static char *raw_reply(int port, const char *request)
{
    int fd = tz_http_connect(port);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(tz_http_send(fd, request, strlen(request)), 0);
    char buf[8192];
    size_t len = 0;
    ssize_t r;
    while (len + 1 < sizeof buf && (r = recv(fd, buf + len, sizeof buf - 1 - len, 0)) > 0)
        len += (size_t)r;
    buf[len] = '\0';
    close(fd);
    return strdup(buf);
}

START_TEST(allow_names_the_method_the_path_takes)
{
    tz_fixture f;
    tz_fixture_init(&f);
    tz_daemon d;
    tz_daemon_start(&d, f.db);
    static const struct {
        const char *request, *allow;
    } allows[] = {
        {"POST /v1/POST HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 0\r\n\r\n",
         "\r\nAllow: GET\r\n"},
        {"GET /v1/statements HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
         "\r\nAllow: POST\r\n"},
        {"DELETE /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
         "\r\nAllow: GET\r\n"},
    };
    for (size_t i = 0; i < sizeof allows / sizeof allows[0]; i++) {
        char *reply = raw_reply(d.port, allows[i].request);
        ck_assert_ptr_nonnull(reply);
        ck_assert_msg(strncmp(reply, "HTTP/1.1 405", 12) == 0, "case %zu: %.80s", i, reply);
        ck_assert_msg(strstr(reply, allows[i].allow) != NULL, "case %zu: no%s in %s", i,
                      allows[i].allow, reply);
        free(reply);
    }
    ck_assert_int_eq(tz_daemon_stop(&d, SIGTERM), 0);
    tz_fixture_cleanup(&f);
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("router");
    TCase *tc = tcase_create("route");
    tcase_add_loop_test(tc, route_table, 0, (int)(sizeof cases / sizeof cases[0]));
    tcase_add_test(tc, long_paths_are_cut_on_characters);
    tcase_add_test(tc, body_types);
    suite_add_tcase(s, tc);
    tc = tcase_create("daemon");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, daemon_refuses_bad_paths_as_json);
    tcase_add_test(tc, allow_names_the_method_the_path_takes);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return tz_test_main(make_suite);
}
