/*
 * check_daemon_faults.c: clients that hang up or misbehave do not disturb
 * the others. While 8 well-behaved clients append concurrently, other
 * connections (a) send half a request's headers and hang up, (b) announce
 * a 5000-byte body, send 100 bytes of it and hang up, (c) send a whole
 * valid POST and hang up before the reply, (d) connect and say nothing,
 * (e) send garbage. Every well-behaved client must get its 201s; nothing
 * half-received may be committed; a whole POST whose client left may or may
 * not be committed, but if it was it can be found, and retrying it tells
 * the client its seq; the log must verify and hold exactly the statements
 * accounted for; the daemon must still answer and stop cleanly on SIGTERM
 * with idle connections still open.
 *
 * Half of the hang-ups are abortive (RST, SO_LINGER 0) and half orderly
 * (FIN): the daemon sees ECONNRESET on one and EOF on the other, and an
 * event loop can get either wrong in its own way.
 */
#include <jansson.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ledger/ledger.h"
#include "tests/tz_test.h"

static tz_fixture fx;

static void setup(void) { tz_fixture_init(&fx); }
static void teardown(void) { tz_fixture_cleanup(&fx); }

/* ---- the misbehaving connections ------------------------------------------------- */

enum { MAX_ROUNDS = 100 };

typedef struct troublemaker {
    pthread_t thread;
    int port;
    atomic_int stop;          /* set by the test when the good clients are done */
    int rounds;               /* rounds done: ids memo/gone/<r> and memo/short/<r>, r < rounds */
    int garbage_400, garbage_closed, garbage_other;
    char garbage_reply[256];  /* the first answer to garbage that was neither */
    int connect_failures;
} troublemaker;

/* Hangs up on fd: abortive (RST) when rst, orderly (FIN) otherwise. */
static void hang_up(int fd, int rst)
{
    if (rst) {
        struct linger lg = {.l_onoff = 1, .l_linger = 0};
        setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    }
    close(fd);
}

/* Sends len bytes of data on a new connection and hangs up at once. */
static void send_and_hang_up(troublemaker *t, const void *data, size_t len, int rst)
{
    int fd = tz_http_connect(t->port);
    if (fd < 0) {
        t->connect_failures++;
        return;
    }
    (void)tz_http_send(fd, data, len);
    hang_up(fd, rst);
}

static void *troublemaker_main(void *arg)
{
    troublemaker *t = arg;
    const tz_secret_key *keys[1] = {&fx.cadre};
    unsigned seed = 20241101;
    for (int r = 0; r < MAX_ROUNDS && (r < 10 || !atomic_load(&t->stop)); r++) {
        int rst = r & 1;
        char json[256], head[256];
        size_t len;
        /* (a) half the headers */
        static const char half[] = "POST /v1/statements HTTP/1.1\r\nHost: localhost\r\nContent-Ty";
        send_and_hang_up(t, half, sizeof half - 1, rst);
        /* (b) 100 bytes of a body announced as 5000: the first 100 bytes of
         * a real statement, which must never be committed */
        snprintf(json, sizeof json, TZ_TEST_MEMO("memo/short/%d", "cut off"), r);
        char *body = tz_test_signed_body(json, keys, 1, 0);
        int n = snprintf(head, sizeof head, "POST /v1/statements HTTP/1.1\r\nHost: localhost\r\n"
                         "Content-Type: application/json\r\nContent-Length: 5000\r\n\r\n%.100s",
                         body);
        send_and_hang_up(t, head, (size_t)n, rst);
        free(body);
        /* (c) a whole valid POST, no wait for the reply */
        snprintf(json, sizeof json, TZ_TEST_MEMO("memo/gone/%d", "left early"), r);
        body = tz_test_signed_body(json, keys, 1, 0);
        char *req = tz_http_format("POST", "/v1/statements", NULL, body, strlen(body), &len);
        send_and_hang_up(t, req, len, rst);
        free(req);
        free(body);
        /* (e) garbage: a "request line" of random bytes (no CR or LF, so it
         * is one line), then the end of the headers */
        char garbage[300];
        for (size_t i = 0; i < 296; i++) {
            char c = (char)(rand_r(&seed) & 0xff);
            garbage[i] = c == '\r' || c == '\n' ? 'x' : c;
        }
        memcpy(garbage + 296, "\r\n\r\n", 4);
        int fd = tz_http_connect(t->port);
        if (fd < 0) {
            t->connect_failures++;
        } else {
            char *reply = NULL;
            int st = tz_http_send(fd, garbage, sizeof garbage) == 0 ? tz_http_read_reply(fd, &reply)
                                                                    : -1;
            if (st == 400) {
                t->garbage_400++;
            } else if (st == -1) {
                t->garbage_closed++;
            } else if (t->garbage_other++ == 0) {
                snprintf(t->garbage_reply, sizeof t->garbage_reply, "status %d: %s", st,
                         reply ? reply : "");
            }
            free(reply);
            close(fd);
        }
        t->rounds = r + 1;
    }
    return NULL;
}

/* ---- helpers ----------------------------------------------------------------------- */

/* Waits until the daemon has answered every request it received (the
 * taizhang_requests_in_flight gauge is 0), so a POST whose client left is
 * either committed or dropped by the time the test looks. */
static void wait_quiet(int port)
{
    for (int tries = 0; tries < 500; tries++) {
        char *r = NULL;
        ck_assert_int_eq(tz_http(port, "GET", "/metrics", NULL, NULL, 0, &r), 200);
        const char *g = strstr(r, "\ntaizhang_requests_in_flight ");
        ck_assert_ptr_nonnull(g);
        long n = atol(g + strlen("\ntaizhang_requests_in_flight "));
        free(r);
        if (n == 0)
            return;
        usleep(10000);
    }
    ck_abort_msg("requests still in flight after 5 s with no client waiting");
}

/* GET /v1/entries/by-id?id=id: the seq of the entry (whose statement id must
 * be id), or 0 when the daemon answers 404. */
static uint64_t seq_by_id(int port, const char *id)
{
    char path[128], *r = NULL;
    snprintf(path, sizeof path, "/v1/entries/by-id?id=%s", id);
    int st = tz_http(port, "GET", path, NULL, NULL, 0, &r);
    if (st == 404) {
        tz_http_expect_error(st, 404, r, "notfound");
        free(r);
        return 0;
    }
    ck_assert_msg(st == 200, "GET %s: %d %s", path, st, r ? r : "");
    json_t *j = tz_test_json(r);
    free(r);
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(j, "statement"), "id")), id);
    uint64_t seq = (uint64_t)json_integer_value(json_object_get(j, "seq"));
    json_decref(j);
    ck_assert_uint_gt(seq, 0);
    return seq;
}

/* ---- the test ------------------------------------------------------------------------ */

/* At most --max-connections connections are served: a request on one more
 * is answered 503 too_many_connections and that connection closed; once a
 * served connection closes, a new one is served. */
START_TEST(test_connection_limit)
{
    static const char *const extra[] = {"--max-connections", "3", NULL};
    tz_daemon d;
    tz_daemon_start_args(&d, fx.db, extra);
    static const char keep[] = "GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n";
    int served[3];
    for (int i = 0; i < 3; i++) {
        served[i] = tz_http_connect(d.port);
        ck_assert_int_eq(tz_http_send(served[i], keep, sizeof keep - 1), 0);
        char buf[512];
        ssize_t n = recv(served[i], buf, sizeof buf - 1, 0);
        ck_assert_int_gt(n, 12);
        ck_assert_int_eq(memcmp(buf, "HTTP/1.1 200", 12), 0);
    }
    char *body = NULL;
    int st = tz_http(d.port, "GET", "/healthz", NULL, NULL, 0, &body);
    tz_http_expect_error(st, 503, body, "too_many_connections");
    free(body);
    close(served[0]);
    /* the daemon notices the close on its next loop turn */
    for (int tries = 0; tries < 100; tries++) {
        st = tz_http(d.port, "GET", "/healthz", NULL, NULL, 0, &body);
        free(body);
        if (st == 200)
            break;
        usleep(10000);
    }
    ck_assert_int_eq(st, 200);
    close(served[1]);
    close(served[2]);
    ck_assert_int_eq(tz_daemon_stop(&d, SIGTERM), 0);
}
END_TEST

START_TEST(test_hang_ups_do_not_disturb_others)
{
    enum { CLIENTS = 8, EACH = 40, IDLE = 16 };
    tz_daemon d;
    tz_daemon_start(&d, fx.db);
    /* (d) connections that never send a byte, open across the whole test
     * and still open at SIGTERM */
    int idle[IDLE];
    for (int i = 0; i < IDLE; i++) {
        idle[i] = tz_http_connect(d.port);
        ck_assert_int_ge(idle[i], 0);
    }
    static troublemaker t;
    memset(&t, 0, sizeof t);
    t.port = d.port;
    ck_assert(pthread_create(&t.thread, NULL, troublemaker_main, &t) == 0);
    static tz_load_client cs[CLIENTS];
    memset(cs, 0, sizeof cs);
    for (int i = 0; i < CLIENTS; i++)
        cs[i] = (tz_load_client){.port = d.port, .index = i, .count = EACH, .key = &fx.cadre};
    tz_load_start(cs, CLIENTS);
    tz_load_join(cs, CLIENTS);
    atomic_store(&t.stop, 1);
    pthread_join(t.thread, NULL);
    fprintf(stderr, "check_daemon_faults: %d rounds of hang-ups beside %d statements; garbage: "
            "%d answered 400, %d closed\n", t.rounds, CLIENTS * EACH, t.garbage_400,
            t.garbage_closed);
    tz_daemon_assert_running(&d);
    /* every well-behaved client got every statement acknowledged */
    for (int k = 0; k < CLIENTS; k++)
        ck_assert_msg(cs[k].acked == EACH, "client %d: %d of %d acknowledged; first other "
                      "answer: %s", k, cs[k].acked, EACH, cs[k].first_unexpected);
    ck_assert_int_eq(t.connect_failures, 0);
    ck_assert_msg(t.garbage_other == 0, "garbage answered %s", t.garbage_reply);
    wait_quiet(d.port);
    /* Nothing half-received was committed. A whole POST whose client left
     * may have been; then it can be found by id, and the client retrying
     * it learns the same seq (200 existing); otherwise the retry adds it. */
    int committed = 0;
    for (int r = 0; r < t.rounds; r++) {
        char id[64], json[256], *resp = NULL;
        snprintf(id, sizeof id, "memo/short/%d", r);
        ck_assert_msg(seq_by_id(d.port, id) == 0, "%s was only partly sent but is committed", id);
        snprintf(id, sizeof id, "memo/gone/%d", r);
        uint64_t seq = seq_by_id(d.port, id);
        snprintf(json, sizeof json, TZ_TEST_MEMO("memo/gone/%d", "left early"), r);
        int st = tz_http_post(d.port, json, &fx.cadre, &resp);
        ck_assert_msg(st == (seq ? 200 : 201), "retrying %s (seq %llu before): %d %s", id,
                      (unsigned long long)seq, st, resp ? resp : "");
        json_t *j = tz_test_json(resp);
        free(resp);
        if (seq != 0) {
            ck_assert_uint_eq((uint64_t)json_integer_value(json_object_get(j, "seq")), seq);
            committed++;
        }
        json_decref(j);
    }
    fprintf(stderr, "check_daemon_faults: %d of %d posts whose client hung up were committed\n",
            committed, t.rounds);
    json_decref(tz_http_get_json(d.port, "/healthz"));
    /* SIGTERM does not wait for the idle connections */
    ck_assert_int_eq(tz_daemon_stop(&d, SIGTERM), 0);
    for (int i = 0; i < IDLE; i++)
        close(idle[i]);
    /* exactly genesis, the grant, the clients' statements and the retried ones */
    ck_assert_int_eq(tz_load_check(fx.db, cs, CLIENTS), CLIENTS * EACH);
    ck_assert_uint_eq(tz_test_verify(fx.db), 2 + CLIENTS * EACH + (uint64_t)t.rounds);
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("daemon_faults");
    TCase *tc = tcase_create("hang_ups");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_hang_ups_do_not_disturb_others);
    tcase_add_test(tc, test_connection_limit);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return tz_test_main(make_suite); }
