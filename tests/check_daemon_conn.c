/*
 * check_daemon_conn.c: no client can take the daemon from the others
 * (docs/API.md "Connections and fairness"). Each attack comes from sockets
 * bound to 127.0.0.2 or 127.0.0.3 (other hosts, to the daemon) while a
 * client on 127.0.0.1 must still be served:
 *   - keep-alive connections beyond one host's share are refused, and idle
 *     ones give way to a host with fewer (they took every slot on main);
 *   - a request sent one byte a second is cut off at --request-timeout and
 *     an idle keep-alive at --keepalive-timeout (main reset its 30 s timer
 *     on every byte);
 *   - 200 connections holding back the end of 1.9 MB bodies stay within
 *     --max-body-memory (main grew by 374 MB);
 *   - out of descriptors, accept backs off instead of spinning and logging
 *     (main: 100% CPU, 1.6 million lines in 9 s);
 *   - 8 clients looping on the largest read cannot hold back an append
 *     (main: 8 s behind the reads);
 *   - a hard RLIMIT_NOFILE too low for --max-connections refuses the start.
 * Every figure asserted is a count of requests, bytes, lines or CPU time,
 * never how long something took.
 */
#include <errno.h>
#include <jansson.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "ledger/ledger.h"
#include "tests/tz_test.h"

static tz_fixture fx;

static void setup(void) { tz_fixture_init(&fx); }
static void teardown(void) { tz_fixture_cleanup(&fx); }

/* ---- helpers ---------------------------------------------------------------------- */

/* Reads one reply on a keep-alive connection (headers, then Content-Length
 * bytes). Returns the status, or -1 when the connection closed first. */
static int read_one_reply(int fd)
{
    char buf[1 << 16];
    size_t len = 0;
    for (;;) {
        buf[len] = '\0';
        char *end = strstr(buf, "\r\n\r\n");
        if (end != NULL) {
            const char *cl = strstr(buf, "Content-Length: ");
            size_t want = (size_t)(end + 4 - buf) + (cl != NULL && cl < end ? strtoul(cl + 16, NULL, 10) : 0);
            if (len >= want)
                return strncmp(buf, "HTTP/1.1 ", 9) == 0 ? atoi(buf + 9) : -1;
        }
        if (len + 1 >= sizeof buf)
            return -1;
        ssize_t r = recv(fd, buf + len, sizeof buf - 1 - len, 0);
        if (r <= 0)
            return -1;
        len += (size_t)r;
    }
}

/* Reads and throws away one reply of any size on a keep-alive connection.
 * Returns the status, or -1 when the connection closed first. */
static int skip_reply(int fd, char *buf, size_t cap)
{
    size_t len = 0;
    char *end = NULL;
    while (end == NULL) {
        if (len + 1 >= cap)
            return -1;
        ssize_t r = recv(fd, buf + len, cap - 1 - len, 0);
        if (r <= 0)
            return -1;
        len += (size_t)r;
        buf[len] = '\0';
        end = strstr(buf, "\r\n\r\n");
    }
    int status = atoi(buf + 9);
    const char *cl = strstr(buf, "Content-Length: ");
    size_t body = cl != NULL && cl < end ? strtoul(cl + 16, NULL, 10) : 0;
    size_t have = len - (size_t)(end + 4 - buf);
    while (have < body) {
        ssize_t r = recv(fd, buf, cap, 0);
        if (r <= 0)
            return -1;
        have += (size_t)r;
    }
    return status;
}

/* A keep-alive request for path on a new connection from source; *fd gets
 * the connection (left open). Returns the status, or -1. */
static int keepalive_get(int port, const char *source, const char *path, int *fd)
{
    *fd = tz_http_connect_from(port, source);
    ck_assert_msg(*fd >= 0, "connecting from %s", source);
    char req[256];
    int n = snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: t\r\n\r\n", path);
    if (tz_http_send(*fd, req, (size_t)n) != 0)
        return -1;
    return read_one_reply(*fd);
}

/* A value in kB from /proc/PID/status ("VmRSS:"). */
static long proc_status_kb(pid_t pid, const char *key)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    ck_assert_ptr_nonnull(f);
    long kb = -1;
    while (fgets(line, sizeof line, f) != NULL)
        if (strncmp(line, key, strlen(key)) == 0)
            kb = strtol(line + strlen(key), NULL, 10);
    fclose(f);
    ck_assert_int_ge(kb, 0);
    return kb;
}

/* utime + stime of pid, in clock ticks (/proc/PID/stat fields 14 and 15). */
static unsigned long long proc_cpu_ticks(pid_t pid)
{
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    ck_assert_ptr_nonnull(f);
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    const char *p = strrchr(buf, ')'); /* after the command name */
    ck_assert_ptr_nonnull(p);
    unsigned long long utime = 0, stime = 0;
    ck_assert_int_eq(sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu",
                            &utime, &stime), 2);
    return utime + stime;
}

static int count_open_fds(pid_t pid)
{
    char cmd[128];
    char *out = NULL;
    snprintf(cmd, sizeof cmd, "ls /proc/%d/fd | wc -l", (int)pid);
    ck_assert_int_eq(tz_test_run(&out, "%s", cmd), 0);
    int n = atoi(out);
    free(out);
    return n;
}

static size_t count_lines(const char *path)
{
    size_t len, lines = 0;
    char *text = tz_test_read_file(path, &len);
    for (size_t i = 0; i < len; i++)
        lines += text[i] == '\n';
    free(text);
    return lines;
}

static int file_has(const char *path, const char *needle)
{
    size_t len;
    char *text = tz_test_read_file(path, &len);
    int found = strstr(text, needle) != NULL;
    free(text);
    return found;
}

/* The value of a metric line "name value" in the daemon's /metrics. */
static double metric(int port, const char *name)
{
    char *body = NULL;
    ck_assert_int_eq(tz_http(port, "GET", "/metrics", NULL, NULL, 0, &body), 200);
    char key[256];
    snprintf(key, sizeof key, "\n%s ", name);
    const char *p = strstr(body, key);
    ck_assert_msg(p != NULL, "no metric %s", name);
    double v = strtod(p + strlen(key), NULL);
    free(body);
    return v;
}

/* The client on 127.0.0.1: n fresh GET /healthz; returns how many got 200. */
static int healthy_gets(int port, int n)
{
    int ok = 0;
    for (int i = 0; i < n; i++)
        ok += tz_http(port, "GET", "/healthz", NULL, NULL, 0, NULL) == 200;
    return ok;
}

/* ---- many keep-alive connections -------------------------------------------------------- */

/* One host opens 40 keep-alive connections: 8 are served
 * (--max-connections-per-host), the others answered 503 and closed; the
 * 32 slots left serve 127.0.0.1. On main the 40 took all 32 slots. */
START_TEST(test_per_host_limit)
{
    static const char *const extra[] = {"--max-connections", "32", "--max-connections-per-host",
                                        "8", NULL};
    tz_daemon d;
    tz_daemon_start_args(&d, fx.db, extra);
    enum { ATTACK = 40 };
    int fds[ATTACK], ok = 0, refused = 0;
    for (int i = 0; i < ATTACK; i++) {
        int st = keepalive_get(d.port, "127.0.0.2", "/healthz", &fds[i]);
        ok += st == 200;
        refused += st == 503;
    }
    ck_assert_int_eq(ok, 8);
    ck_assert_int_eq(refused, ATTACK - 8);
    /* the healthy client is served while the 8 stay connected */
    ck_assert_int_eq(healthy_gets(d.port, 20), 20);
    char *body = NULL;
    int fd, st = keepalive_get(d.port, "127.0.0.2", "/healthz", &fd);
    ck_assert_int_eq(st, 503);
    close(fd);
    /* the refusal names the limit */
    fd = tz_http_connect_from(d.port, "127.0.0.2");
    size_t len;
    char *req = tz_http_format("GET", "/healthz", NULL, NULL, 0, &len);
    ck_assert_int_eq(tz_http_send(fd, req, len), 0);
    free(req);
    st = tz_http_read_reply(fd, &body);
    close(fd);
    tz_http_expect_error(st, 503, body, "too_many_connections");
    ck_assert_msg(strstr(body, "--max-connections-per-host") != NULL, "%s", body);
    free(body);
    for (int i = 0; i < ATTACK; i++)
        close(fds[i]);
    ck_assert_int_eq(tz_daemon_stop(&d, SIGTERM), 0);
}
END_TEST

/* Two hosts fill every slot with idle keep-alive connections: a third
 * host's requests are served, each closing the longest idle connection of
 * a host holding more (on main: 503 until the idle ones timed out). */
START_TEST(test_idle_connections_give_way)
{
    static const char *const extra[] = {"--max-connections", "16", "--max-connections-per-host",
                                        "8", NULL};
    tz_daemon d;
    tz_daemon_start_args(&d, fx.db, extra);
    int fds[16];
    for (int i = 0; i < 16; i++)
        ck_assert_int_eq(keepalive_get(d.port, i < 8 ? "127.0.0.2" : "127.0.0.3", "/healthz",
                                       &fds[i]), 200);
    ck_assert_int_eq(healthy_gets(d.port, 20), 20);
    /* Which went: the oldest idle ones (the first of 127.0.0.2 first). */
    char buf[64];
    ck_assert_int_eq(recv(fds[0], buf, sizeof buf, 0), 0);
    ck_assert_int_ge(metric(d.port, "taizhang_connections_closed_total{reason=\"evicted_idle\"}"),
                     1);
    for (int i = 0; i < 16; i++)
        close(fds[i]);
    ck_assert_int_eq(tz_daemon_stop(&d, SIGTERM), 0);
}
END_TEST

/* ---- the deadlines -------------------------------------------------------------------------- */

/* Headers sent one byte a second: the connection is closed within
 * --request-timeout 2 of the first byte, however many bytes follow; an
 * idle keep-alive is closed after --keepalive-timeout 2. Main reset its
 * 30 s timeout with every byte and kept both. */
START_TEST(test_request_deadline)
{
    static const char *const extra[] = {"--request-timeout", "2", "--keepalive-timeout", "2",
                                        NULL};
    tz_daemon d;
    tz_daemon_start_args(&d, fx.db, extra);
    int slow = tz_http_connect_from(d.port, "127.0.0.2");
    ck_assert_int_ge(slow, 0);
    static const char start[] = "GET /healthz HTTP/1.1\r\n";
    ck_assert_int_eq(tz_http_send(slow, start, sizeof start - 1), 0);
    int sent = 0, closed = 0;
    for (; sent < 10 && !closed; sent++) {
        sleep(1);
        char c;
        ssize_t r = recv(slow, &c, 1, MSG_DONTWAIT);
        if (r == 0 || (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK)) {
            closed = 1;
            break;
        }
        if (send(slow, "X", 1, MSG_NOSIGNAL) != 1)
            closed = 1;
        /* the healthy client meanwhile */
        ck_assert_int_eq(healthy_gets(d.port, 1), 1);
    }
    ck_assert_msg(closed, "a request sent a byte a second was still open after %d bytes", sent);
    ck_assert_int_le(sent, 6);
    close(slow);
    /* an idle keep-alive connection is closed by the daemon */
    int idle;
    ck_assert_int_eq(keepalive_get(d.port, "127.0.0.2", "/healthz", &idle), 200);
    struct timeval tv = {.tv_sec = 10};
    setsockopt(idle, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    char c;
    ck_assert_msg(recv(idle, &c, 1, 0) == 0, "an idle keep-alive stayed open 10 s");
    close(idle);
    ck_assert_int_ge(metric(d.port, "taizhang_connections_closed_total{reason=\"request_timeout\"}"),
                     1);
    ck_assert_int_eq(tz_daemon_stop(&d, SIGTERM), 0);
}
END_TEST

/* ---- memory for bodies --------------------------------------------------------------------- */

/* 200 connections each send the headers and all but 1000 bytes of a
 * 1.9 MB body and hold the rest. With --max-body-memory 8 MiB the daemon
 * closes the largest unfinished ones and its RSS grows by far less than
 * the 380 MB sent (main: +374 MB); 127.0.0.1 can still append. */
START_TEST(test_body_memory_bound)
{
    enum { ATTACK = 200, BODY = 1900000, SENT = BODY - 1000 };
    /* ASan keeps freed memory in quarantine (256 MB by default), which
     * would count as RSS here. */
    const char *asan = getenv("ASAN_OPTIONS");
    char opts[512];
    snprintf(opts, sizeof opts, "%s%squarantine_size_mb=8", asan ? asan : "", asan ? ":" : "");
    setenv("ASAN_OPTIONS", opts, 1);
    static const char *const extra[] = {"--max-connections", "512", "--max-connections-per-host",
                                        "256", "--max-body-memory", "8388608", NULL};
    tz_daemon d;
    tz_daemon_start_args(&d, fx.db, extra);
    long before = proc_status_kb(d.pid, "VmRSS:");
    char *body = malloc(SENT);
    ck_assert_ptr_nonnull(body);
    memset(body, 'a', SENT);
    int fds[ATTACK], cut = 0;
    for (int i = 0; i < ATTACK; i++) {
        fds[i] = tz_http_connect_from(d.port, "127.0.0.2");
        ck_assert_int_ge(fds[i], 0);
        char head[256];
        int n = snprintf(head, sizeof head, "POST /v1/statements HTTP/1.1\r\nHost: t\r\n"
                         "Content-Type: application/json\r\nContent-Length: %d\r\n\r\n", BODY);
        if (tz_http_send(fds[i], head, (size_t)n) != 0 || tz_http_send(fds[i], body, SENT) != 0)
            cut++;
    }
    free(body);
    /* the honest client appends while the survivors still hold their bytes */
    char *resp = NULL;
    int st = tz_http_post(d.port, TZ_TEST_MEMO("memo/honest", "served"), &fx.cadre, &resp);
    ck_assert_msg(st == 201, "the honest append: %d %s", st, resp ? resp : "");
    free(resp);
    long after = proc_status_kb(d.pid, "VmRSS:");
    double closed = metric(d.port, "taizhang_connections_closed_total{reason=\"body_memory\"}");
    double held = metric(d.port, "taizhang_body_memory_bytes");
    fprintf(stderr, "check_daemon_conn: RSS %ld -> %ld kB; %.0f of %d connections closed for "
            "memory (%d saw it while sending); %.0f bytes held\n", before, after, closed, ATTACK,
            cut, held);
    ck_assert_int_le(held, 8388608);
    /* the rest of the bytes sent wait in the kernel's socket buffers */
    ck_assert_int_ge(closed, ATTACK / 2);
    ck_assert_msg(after - before < 64 * 1024, "RSS grew from %ld to %ld kB", before, after);
    for (int i = 0; i < ATTACK; i++)
        close(fds[i]);
    ck_assert_int_eq(tz_daemon_stop(&d, SIGTERM), 0);
}
END_TEST

/* ---- out of descriptors ----------------------------------------------------------------------- */

/* The daemon starts with all but a few descriptors in use (as if other
 * files had taken them). Connections beyond what it can accept make
 * accept() fail with EMFILE: it pauses accepting rather than spinning
 * (main: 100% CPU and a log line per attempt), and once the connections
 * go it serves again. */
START_TEST(test_emfile_backs_off)
{
    enum { NOFILE = 1024 };
    char err_path[400];
    snprintf(err_path, sizeof err_path, "%s/stderr", fx.dir);
    static const char *const extra[] = {"--max-connections", "64", NULL};
    /* how many descriptors the daemon uses when idle */
    tz_daemon probe;
    tz_daemon_opts o = {.extra = extra, .nofile = NOFILE, .stderr_path = err_path};
    ck_assert_int_eq(tz_daemon_spawn(&probe, fx.db, &o, NULL, 0), 0);
    int used = count_open_fds(probe.pid);
    ck_assert_int_eq(tz_daemon_stop(&probe, SIGTERM), 0);
    /* leave it 8 */
    o.hold_fds = NOFILE - used - 8;
    tz_daemon d;
    ck_assert_int_eq(tz_daemon_spawn(&d, fx.db, &o, NULL, 0), 0);
    enum { ATTACK = 40 };
    int fds[ATTACK];
    for (int i = 0; i < ATTACK; i++) {
        fds[i] = tz_http_connect_from(d.port, "127.0.0.2"); /* the kernel completes them */
        ck_assert_int_ge(fds[i], 0);
    }
    /* wait until accept() has failed (the daemon logs it) */
    for (int tries = 0; tries < 1000 && !file_has(err_path, "Too many open files"); tries++)
        usleep(10000);
    unsigned long long t0 = proc_cpu_ticks(d.pid);
    size_t lines0 = count_lines(err_path);
    sleep(2);
    unsigned long long ticks = proc_cpu_ticks(d.pid) - t0;
    size_t lines = count_lines(err_path) - lines0;
    long hz = sysconf(_SC_CLK_TCK);
    fprintf(stderr, "check_daemon_conn: out of descriptors for 2 s: %llu ticks of CPU (%ld a "
            "second), %zu lines on stderr\n", ticks, hz, lines);
    ck_assert_msg(ticks < (unsigned long long)hz / 2, "%llu ticks of CPU in 2 s", ticks);
    ck_assert_msg(lines <= 30, "%zu lines on stderr in 2 s", lines);
    size_t len;
    char *text = tz_test_read_file(err_path, &len);
    ck_assert_msg(strstr(text, "Too many open files") != NULL, "%s", text);
    free(text);
    for (int i = 0; i < ATTACK; i++)
        close(fds[i]);
    /* served again once they are gone */
    int st = -1;
    for (int tries = 0; tries < 200 && st != 200; tries++) {
        st = tz_http(d.port, "GET", "/healthz", NULL, NULL, 0, NULL);
        if (st != 200)
            usleep(50000);
    }
    ck_assert_int_eq(st, 200);
    ck_assert_int_eq(tz_daemon_stop(&d, SIGTERM), 0);
}
END_TEST

/* A hard RLIMIT_NOFILE below what --max-connections needs: the start is
 * refused (exit 2) naming both (main started and hit EMFILE later). */
START_TEST(test_file_limit_refuses_start)
{
    char err_path[400], line[256];
    snprintf(err_path, sizeof err_path, "%s/stderr", fx.dir);
    static const char *const extra[] = {"--max-connections", "1024", NULL};
    tz_daemon_opts o = {.extra = extra, .nofile = 512, .stderr_path = err_path};
    tz_daemon d;
    ck_assert_msg(tz_daemon_spawn(&d, fx.db, &o, line, sizeof line) != 0, "started: %s", line);
    ck_assert_int_eq(tz_daemon_wait(&d), 2);
    size_t len;
    char *text = tz_test_read_file(err_path, &len);
    ck_assert_msg(strstr(text, "--max-connections 1024") != NULL &&
                  strstr(text, "RLIMIT_NOFILE is 512") != NULL, "%s", text);
    free(text);
    /* the same limit fits a smaller --max-connections */
    static const char *const fits[] = {"--max-connections", "64", NULL};
    o.extra = fits;
    ck_assert_int_eq(tz_daemon_spawn(&d, fx.db, &o, NULL, 0), 0);
    ck_assert_int_eq(tz_daemon_stop(&d, SIGTERM), 0);
}
END_TEST

/* ---- reads cannot hold back writes ------------------------------------------------------------ */

#define FLOOD_READS 100 /* per flooder */

typedef struct flooder {
    pthread_t thread;
    int port;
    atomic_int *stop;
    atomic_int *reads; /* answered, all flooders */
    int errors;
} flooder;

static void *flooder_main(void *arg)
{
    flooder *f = arg;
    static const char req[] = "GET /v1/entries?limit=1000 HTTP/1.1\r\nHost: t\r\n\r\n";
    size_t cap = 8 << 20;
    char *buf = malloc(cap);
    int fd = tz_http_connect_from(f->port, "127.0.0.2");
    /* at most FLOOD_READS, so that on main the test ends (the appends
     * answered only when the flood is over) rather than hangs */
    for (int i = 0; buf != NULL && fd >= 0 && !atomic_load(f->stop) && i < FLOOD_READS; i++) {
        if (tz_http_send(fd, req, sizeof req - 1) != 0 || skip_reply(fd, buf, cap) != 200) {
            f->errors++;
            break;
        }
        atomic_fetch_add(f->reads, 1);
    }
    if (fd >= 0)
        close(fd);
    free(buf);
    return NULL;
}

/* 8 keep-alive clients loop on the largest read (1000 entries) against 2
 * workers. Each append is answered after fewer reads than there are
 * flooders: it did not wait for the queued reads (on main reads went to
 * the front of the one queue, and an append waited 8 s, i.e. hundreds of
 * reads). Counted in reads answered, not in time. */
/* Runs FLOODERS flooders and APPENDS appends beside them against a daemon
 * with workers workers; returns the reads answered while the appends were
 * in flight. */
static int appends_beside_flood(const char *workers)
{
    enum { FLOODERS = 8, APPENDS = 5 };
    tz_ledger *l;
    tz_err e;
    ck_assert_msg(tz_ledger_open(&l, fx.db, 0, NULL, &e) == TZ_OK, "%s", e.msg);
    tz_fixture_memos(l, &fx.cadre, 0, 1000);
    tz_ledger_close(l);
    tz_daemon d;
    tz_daemon_opts o = {.workers = workers};
    ck_assert_int_eq(tz_daemon_spawn(&d, fx.db, &o, NULL, 0), 0);
    atomic_int stop = 0, reads = 0;
    static flooder fl[FLOODERS];
    for (int i = 0; i < FLOODERS; i++) {
        fl[i] = (flooder){.port = d.port, .stop = &stop, .reads = &reads};
        ck_assert(pthread_create(&fl[i].thread, NULL, flooder_main, &fl[i]) == 0);
    }
    while (atomic_load(&reads) < 2 * FLOODERS)
        usleep(1000);
    int waited = 0;
    for (int k = 0; k < APPENDS; k++) {
        char json[256], *resp = NULL;
        snprintf(json, sizeof json, TZ_TEST_MEMO("memo/during-flood/%d", "append"), k);
        int before = atomic_load(&reads);
        int st = tz_http_post(d.port, json, &fx.cadre, &resp);
        int during = atomic_load(&reads) - before;
        ck_assert_msg(st == 201, "append %d: %d %s", k, st, resp ? resp : "");
        free(resp);
        waited += during;
    }
    atomic_store(&stop, 1);
    int errors = 0;
    for (int i = 0; i < FLOODERS; i++) {
        pthread_join(fl[i].thread, NULL);
        errors += fl[i].errors;
    }
    fprintf(stderr, "check_daemon_conn: --workers %s: %d appends answered while %d reads were "
            "answered beside them (%d reads in all)\n", workers, APPENDS, waited,
            atomic_load(&reads));
    ck_assert_int_eq(errors, 0);
    ck_assert_msg(waited < APPENDS * FLOODERS, "the appends waited for %d reads", waited);
    ck_assert_int_eq(tz_daemon_stop(&d, SIGTERM), 0);
    return waited;
}

/* 8 keep-alive clients loop on the largest read (1000 entries) against 2
 * workers. Each append is answered after fewer reads than there are
 * flooders: it did not wait for the queued reads (on main reads went to
 * the front of the one queue, and an append waited 8 s, i.e. hundreds of
 * reads). Counted in reads answered, not in time. */
START_TEST(test_reads_do_not_hold_back_appends)
{
    (void)appends_beside_flood("2");
}
END_TEST

/* The same with one worker: reads and writes alternate, so an append waits
 * for at most the read running and one more. */
START_TEST(test_one_worker_alternates)
{
    (void)appends_beside_flood("1");
}
END_TEST

/* Past --max-queued-reads, a GET is answered 503 busy at once, naming the
 * flag: 8 reads sent together to one worker with room for 2 waiting. */
START_TEST(test_read_queue_bound)
{
    tz_ledger *l;
    tz_err e;
    ck_assert_msg(tz_ledger_open(&l, fx.db, 0, NULL, &e) == TZ_OK, "%s", e.msg);
    tz_fixture_memos(l, &fx.cadre, 0, 1000);
    tz_ledger_close(l);
    static const char *const extra[] = {"--max-queued-reads", "2", NULL};
    tz_daemon d;
    tz_daemon_opts o = {.extra = extra, .workers = "1"};
    ck_assert_int_eq(tz_daemon_spawn(&d, fx.db, &o, NULL, 0), 0);
    enum { N = 8 };
    int fds[N];
    size_t len;
    char *req = tz_http_format("GET", "/v1/entries?limit=1000", NULL, NULL, 0, &len);
    for (int i = 0; i < N; i++) {
        fds[i] = tz_http_connect_from(d.port, "127.0.0.2");
        ck_assert_int_ge(fds[i], 0);
    }
    for (int i = 0; i < N; i++)
        ck_assert_int_eq(tz_http_send(fds[i], req, len), 0);
    free(req);
    int ok = 0, busy = 0;
    for (int i = 0; i < N; i++) {
        char *body = NULL;
        int st = tz_http_read_reply(fds[i], &body);
        close(fds[i]);
        if (st == 200) {
            ok++;
        } else {
            tz_http_expect_error(st, 503, body, "busy");
            ck_assert_msg(strstr(body, "--max-queued-reads") != NULL, "%s", body);
            busy++;
        }
        free(body);
    }
    ck_assert_int_ge(ok, 1);
    ck_assert_int_ge(busy, 1);
    ck_assert_int_ge(metric(d.port, "taizhang_rejects_total{reason=\"busy\"}"), busy);
    /* an append is not a read: never busy */
    char *resp = NULL;
    ck_assert_int_eq(tz_http_post(d.port, TZ_TEST_MEMO("memo/not-busy", "w"), &fx.cadre, &resp),
                     201);
    free(resp);
    ck_assert_int_eq(tz_daemon_stop(&d, SIGTERM), 0);
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("daemon_conn");
    TCase *tc = tcase_create("connections");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_per_host_limit);
    tcase_add_test(tc, test_idle_connections_give_way);
    tcase_add_test(tc, test_request_deadline);
    tcase_add_test(tc, test_body_memory_bound);
    tcase_add_test(tc, test_emfile_backs_off);
    tcase_add_test(tc, test_file_limit_refuses_start);
    tcase_add_test(tc, test_reads_do_not_hold_back_appends);
    tcase_add_test(tc, test_one_worker_alternates);
    tcase_add_test(tc, test_read_queue_bound);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return tz_test_main(make_suite); }
