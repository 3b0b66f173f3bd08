/*
 * check_durability.c: what an acknowledgement promises (docs/API.md): the
 * statement is on disk before the 201, and a SIGTERM answers every request
 * already received.
 *
 * The kill -9 tests of check_daemon.c cannot see a batch acknowledged
 * before its fsync: the page cache survives the killed process. Here the
 * syncs are counted instead. tests/sync_shim.c, preloaded into taizhangd
 * and the CLI, counts every successful fsync/fdatasync of the store's WAL
 * files on a page shared with the test; the test reads the count before
 * sending each request and after its answer, and the count must have
 * grown: a WAL sync completed after the request was sent and before it was
 * acknowledged. The same shim can hold WAL syncs at a gate, which keeps
 * appends in flight, so that a SIGTERM meets requests the daemon has
 * received and not yet answered.
 *
 * Under AddressSanitizer the sanitizer's runtime must come first in the
 * preload list: TZ_SYNC_SHIM_PRELOAD (CMakeLists.txt) names it before the
 * shim in the sanitize build.
 */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ledger/ledger.h"
#include "tests/sync_shim.h"
#include "tests/tz_test.h"

static tz_fixture fx;
static tz_sync_shim_page *page;
static char page_path[400], shim_counter_env[440], shim_dir_env[440];
static const char *shim_env[4];

/* The fixture, and the shared page of the shim over the fixture's store. */
static void setup(void)
{
    tz_fixture_init(&fx);
    snprintf(page_path, sizeof page_path, "%s/sync-shim.page", fx.dir);
    int fd = open(page_path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(ftruncate(fd, sizeof *page), 0);
    void *p = mmap(NULL, sizeof *page, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    close(fd);
    ck_assert(p != MAP_FAILED);
    page = p;
    snprintf(shim_counter_env, sizeof shim_counter_env, "TZ_SYNC_SHIM_COUNTER=%s", page_path);
    snprintf(shim_dir_env, sizeof shim_dir_env, "TZ_SYNC_SHIM_DIR=%s", fx.db);
    shim_env[0] = "LD_PRELOAD=" TZ_SYNC_SHIM_PRELOAD;
    shim_env[1] = shim_counter_env;
    shim_env[2] = shim_dir_env;
    shim_env[3] = NULL;
}

static void teardown(void)
{
    munmap(page, sizeof *page);
    page = NULL;
    tz_fixture_cleanup(&fx);
}

static uint64_t wal_syncs(void)
{
    return __atomic_load_n(&page->wal, __ATOMIC_ACQUIRE);
}

/* taizhangd on the fixture's ledger with the shim preloaded. */
static void start_counted(tz_daemon *d)
{
    tz_daemon_opts o = {.env = shim_env};
    ck_assert_msg(tz_daemon_spawn(d, fx.db, &o, NULL, 0) == 0, "taizhangd did not start");
}

/* ---- a WAL sync before every acknowledgement ------------------------------------ */

/* Posts memo/<tag>/<i> for i in [0, count) one at a time; each 201 must
 * follow a WAL sync completed after the request was sent. */
typedef struct poster {
    int port, count;
    char tag[16];
    int acked;
    char failure[512];
    pthread_t thread;
} poster;

static void *post_counted(void *arg)
{
    poster *p = arg;
    for (int i = 0; i < p->count; i++) {
        char json[256], *r = NULL;
        snprintf(json, sizeof json, "{\"type\":\"memo\",\"id\":\"memo/%s/%d\",\"at\":"
                 "\"2024-05-01T09:00:00+08:00\",\"body\":{\"text\":\"x\"}}", p->tag, i);
        uint64_t before = wal_syncs();
        int st = tz_http_post(p->port, json, &fx.cadre, &r);
        uint64_t after = wal_syncs();
        if (st != 201) {
            snprintf(p->failure, sizeof p->failure, "memo/%s/%d: status %d: %s", p->tag, i, st,
                     r ? r : "");
        } else if (after <= before) {
            snprintf(p->failure, sizeof p->failure, "memo/%s/%d acknowledged (201) with no WAL "
                     "sync since it was sent (%llu syncs before and after)", p->tag, i,
                     (unsigned long long)before);
        }
        free(r);
        if (p->failure[0] != '\0')
            return NULL;
        p->acked++;
    }
    return NULL;
}

START_TEST(test_daemon_syncs_before_each_ack)
{
    tz_daemon d;
    start_counted(&d);
    /* one at a time: a batch of one each */
    poster one = {.port = d.port, .count = 20, .tag = "one"};
    post_counted(&one);
    ck_assert_msg(one.failure[0] == '\0', "%s", one.failure);
    /* in parallel: batches shared by several clients, each still synced
     * after every request it holds was sent */
    enum { CLIENTS = 8 };
    static poster ps[CLIENTS];
    for (int k = 0; k < CLIENTS; k++) {
        ps[k] = (poster){.port = d.port, .count = 15};
        snprintf(ps[k].tag, sizeof ps[k].tag, "par%d", k);
        ck_assert_int_eq(pthread_create(&ps[k].thread, NULL, post_counted, &ps[k]), 0);
    }
    for (int k = 0; k < CLIENTS; k++)
        pthread_join(ps[k].thread, NULL);
    for (int k = 0; k < CLIENTS; k++)
        ck_assert_msg(ps[k].failure[0] == '\0', "client %d: %s", k, ps[k].failure);
    ck_assert_int_eq(tz_daemon_stop(&d, SIGTERM), 0);
}
END_TEST

/* `taizhang append --db` prints a result line per statement after the
 * group's commit (APPEND_GROUP = 256 lines, and the rest at end of input).
 * The test feeds one group at a time and waits for its lines: every group's
 * lines must come after a WAL sync that completed after the test fed it. */
START_TEST(test_cli_syncs_before_each_line)
{
    enum { GROUP = 256 };
    static const int groups[] = {GROUP, GROUP, 5}; /* two full groups, then a partial one at EOF */
    int in[2], out[2];
    ck_assert(pipe(in) == 0 && pipe(out) == 0);
    pid_t pid = fork();
    ck_assert(pid >= 0);
    if (pid == 0) {
        dup2(in[0], STDIN_FILENO);
        dup2(out[1], STDOUT_FILENO);
        close(in[0]), close(in[1]), close(out[0]), close(out[1]);
        setenv("LD_PRELOAD", TZ_SYNC_SHIM_PRELOAD, 1);
        setenv("TZ_SYNC_SHIM_COUNTER", page_path, 1);
        setenv("TZ_SYNC_SHIM_DIR", fx.db, 1);
        execl(TZ_CLI_PATH, "taizhang", "append", "--db", fx.db, "--key", fx.cadre_path,
              (char *)NULL);
        _exit(127);
    }
    close(in[0]);
    close(out[1]);
    FILE *to = fdopen(in[1], "w"), *from = fdopen(out[0], "r");
    ck_assert(to != NULL && from != NULL);
    int n = 0;
    for (size_t g = 0; g < sizeof groups / sizeof groups[0]; g++) {
        for (int i = 0; i < groups[g]; i++)
            fprintf(to, "{\"type\":\"memo\",\"id\":\"memo/cli/%d\",\"at\":\"2024-05-01T09:00:00"
                    "+08:00\",\"body\":{\"text\":\"x\"}}\n", n + i);
        uint64_t fed = wal_syncs();
        if (g + 1 == sizeof groups / sizeof groups[0]) {
            fclose(to); /* end of input commits the partial group */
            to = NULL;
        } else {
            ck_assert_int_eq(fflush(to), 0);
        }
        for (int i = 0; i < groups[g]; i++, n++) {
            char line[256];
            ck_assert_msg(fgets(line, sizeof line, from) != NULL, "the CLI printed %d of %d "
                          "result lines", n, GROUP + GROUP + 5);
            json_t *j = tz_test_json(line);
            ck_assert_int_eq(json_integer_value(json_object_get(j, "seq")), 2 + n);
            json_decref(j);
            uint64_t now = wal_syncs();
            ck_assert_msg(now > fed, "result line %d (group %zu) printed with no WAL sync since "
                          "its group was fed (%llu syncs)", n + 1, g + 1,
                          (unsigned long long)fed);
        }
    }
    fclose(from);
    int st;
    ck_assert(waitpid(pid, &st, 0) == pid);
    ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "taizhang append: status %d", st);
}
END_TEST

/* ---- SIGTERM answers every request in flight ------------------------------------ */

/* taizhang_requests_in_flight from GET /metrics. */
static long in_flight(int port)
{
    char *r = NULL;
    ck_assert_int_eq(tz_http(port, "GET", "/metrics", NULL, NULL, 0, &r), 200);
    const char *g = strstr(r, "\ntaizhang_requests_in_flight ");
    ck_assert_ptr_nonnull(g);
    long n = atol(g + strlen("\ntaizhang_requests_in_flight "));
    free(r);
    return n;
}

/* 1 when the reply to the request on fd has begun to arrive. */
static int answered(int fd)
{
    char c;
    return recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT) == 1;
}

static void sleep_ms(long ms)
{
    struct timespec t = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&t, NULL);
}

/* K requests, appends and reads, all received before SIGTERM: the daemon
 * answers every one of them (201 for each append, 200 or 404 for each
 * read) before it exits 0, and every 201 is in the ledger; a request sent
 * after the signal on a connection accepted before it gets 503
 * shutting_down. The appends are held
 * in flight by the shim's gate on WAL syncs until the daemon has handled
 * the signal (it stops listening). */
START_TEST(test_sigterm_answers_every_request)
{
    enum { K = 32 };
    static const char *const reads[] = {"/v1/checkpoint", "/v1/entries/1",
                                        "/v1/entries?from=1&limit=10", "/v1/entries/by-id?id=x"};
    static const int read_status[] = {200, 200, 200, 404};
    tz_daemon d;
    start_counted(&d);
    /* seq 2 exists before the gate closes, for the reads to read */
    char *r = NULL;
    ck_assert_int_eq(tz_http_post(d.port, TZ_TEST_MEMO("memo/before", "x"), &fx.cadre, &r), 201);
    free(r);
    __atomic_store_n(&page->gate, 1, __ATOMIC_RELEASE);
    /* a connection accepted now (before the K below, which are accepted
     * in order), whose request is sent only after the signal */
    int late = tz_http_connect(d.port);
    ck_assert_int_ge(late, 0);
    int fds[K], appends = 0;
    for (int i = 0; i < K; i++) {
        fds[i] = tz_http_connect(d.port);
        ck_assert_int_ge(fds[i], 0);
        size_t len;
        char *req;
        if (i % 2 == 0) {
            char json[256];
            snprintf(json, sizeof json, "{\"type\":\"memo\",\"id\":\"memo/term/%d\",\"at\":"
                     "\"2024-05-01T09:00:00+08:00\",\"body\":{\"text\":\"x\"}}", i);
            const tz_secret_key *keys[1] = {&fx.cadre};
            char *body = tz_test_signed_body(json, keys, 1, 0);
            req = tz_http_format("POST", "/v1/statements", NULL, body, strlen(body), &len);
            free(body);
            appends++;
        } else {
            req = tz_http_format("GET", reads[(i / 2) % 4], NULL, NULL, 0, &len);
        }
        ck_assert_int_eq(tz_http_send(fds[i], req, len), 0);
        free(req);
    }
    /* Received means answered or in flight. Replies are counted before the
     * gauge is read, so a reply sent in between is not counted twice. */
    for (;;) {
        int seen = 0;
        for (int i = 0; i < K; i++)
            seen += answered(fds[i]);
        if (seen + in_flight(d.port) == K)
            break;
        sleep_ms(1);
    }
    ck_assert_int_ge(in_flight(d.port), appends); /* the appends wait at the gate */
    ck_assert_int_eq(kill(d.pid, SIGTERM), 0);
    /* Wait until the daemon has handled the signal: it stops listening.
     * (A daemon that never stops listening is left to the replies below:
     * after 10 s the gate opens anyway.) */
    for (int i = 0; i < 10000; i++) {
        int probe = tz_http_connect(d.port);
        if (probe < 0)
            break;
        close(probe);
        sleep_ms(1);
    }
    /* a request that arrives after the signal, by construction: 503
     * shutting_down (answered at once, while the appends still wait) */
    char *late_reply = NULL;
    size_t late_len;
    char *late_req = tz_http_format("GET", "/v1/checkpoint", NULL, NULL, 0, &late_len);
    ck_assert_int_eq(tz_http_send(late, late_req, late_len), 0);
    free(late_req);
    int late_status = tz_http_read_reply(late, &late_reply); /* before late_reply is read */
    tz_http_expect_error(late_status, 503, late_reply, "shutting_down");
    free(late_reply);
    close(late);
    __atomic_store_n(&page->gate, 0, __ATOMIC_RELEASE);
    int status[K];
    uint64_t seqs[K];
    char *bodies[K];
    for (int i = 0; i < K; i++) {
        status[i] = tz_http_read_reply(fds[i], &bodies[i]);
        close(fds[i]);
    }
    for (int i = 0; i < K; i++) {
        char *body = bodies[i];
        int want = i % 2 == 0 ? 201 : read_status[(i / 2) % 4];
        ck_assert_msg(status[i] == want, "request %d (%s), received before SIGTERM: status %d, "
                      "expected %d: %s", i, i % 2 == 0 ? "append" : reads[(i / 2) % 4], status[i],
                      want, body ? body : "(no reply)");
        seqs[i] = 0;
        if (i % 2 == 0) {
            json_t *j = tz_test_json(body);
            seqs[i] = (uint64_t)json_integer_value(json_object_get(j, "seq"));
            json_decref(j);
        }
        free(body);
    }
    ck_assert_int_eq(tz_daemon_wait(&d), 0);
    tz_ledger *l;
    tz_err e;
    ck_assert_msg(tz_ledger_open(&l, fx.db, TZ_LEDGER_READONLY, NULL, &e) == TZ_OK, "%s", e.msg);
    for (int i = 0; i < K; i += 2) {
        char id[32];
        uint64_t seq;
        snprintf(id, sizeof id, "memo/term/%d", i);
        ck_assert_msg(tz_ledger_find_id(l, id, strlen(id), &seq, &e) == TZ_OK,
                      "acknowledged %s is missing: %s", id, e.msg);
        ck_assert_uint_eq(seq, seqs[i]);
    }
    tz_ledger_close(l);
    (void)tz_test_verify(fx.db);
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("durability");
    TCase *tc = tcase_create("durability");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_daemon_syncs_before_each_ack);
    tcase_add_test(tc, test_cli_syncs_before_each_line);
    tcase_add_test(tc, test_sigterm_answers_every_request);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return tz_test_main(make_suite);
}
