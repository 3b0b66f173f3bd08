/*
 * bench_daemon: durable appends through taizhangd under concurrent
 * keep-alive clients, against the Ed25519 ceiling of this machine measured
 * in the same run. Prints JSON lines on stdout (progress on stderr).
 *
 * A run:
 *   1. creates a fresh ledger in a temp dir ($TMPDIR or /tmp): root, log and
 *      cadre keys, genesis, and a key.grant of role "cadre" (the library,
 *      no daemon yet);
 *   2. encodes and signs --count memo statements (about 120 bytes each)
 *      into ready JSON POST bodies: the client's work, outside the timer;
 *   3. measures Ed25519 verifications/s (crypto_sign_verify_detached on a
 *      memo's signed message) on one thread, then on two threads at once
 *      (the two-core ceiling; the goal is throughput >= 0.75 of it);
 *   4. starts taizhangd (next to this binary, found through /proc/self/exe)
 *      on 127.0.0.1, a free port, with that ledger;
 *   5. runs --clients keep-alive HTTP/1.1 connections (libevent evhttp, one
 *      thread) each posting the next statement as soon as its previous
 *      reply arrives, until all are answered; meanwhile a separate reader
 *      thread on its own connection GETs /v1/entries/{seq} of acknowledged
 *      entries every --read-ms ms;
 *   6. reads /metrics before and after for commits (fsyncs) and appends,
 *      stops the daemon with SIGTERM and removes the temp dir.
 * The client shares the machine (and its cores) with the daemon, so the
 * figures are a floor for a daemon with the cores to itself.
 * Every reply must be 201; anything else is an error (exit 2).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <ftw.h>
#include <getopt.h>
#include <inttypes.h>
#include <jansson.h>
#include <limits.h>
#include <msgpack.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "crypto/key.h"
#include "crypto/keyfile.h"
#include "ledger/ledger.h"
#include "ledger/statement.h"
#include "util/encoding.h"
#include "util/status.h"

#define ORIGIN "taizhang.example/bench"
#define AT "2024-05-01T09:00:00+08:00"

static const char *progname = "bench_daemon";

static int fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "%s: ", progname);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return 2;
}

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* ---- options ------------------------------------------------------------- */

typedef struct opts {
    unsigned long count, clients, workers, read_ms, ed_seconds, max_batch;
} opts;

static int usage(FILE *f)
{
    fprintf(f, "usage: %s [--count N] [--clients C] [--workers W] [--max-batch B] [--read-ms MS]\n"
               "                    [--ed25519-seconds S]\n"
               "  --count N            pre-signed memos posted (default 20000)\n"
               "  --clients C          concurrent keep-alive connections (default 64)\n"
               "  --workers W          taizhangd --workers (default: the daemon's)\n"
               "  --max-batch B        taizhangd --max-batch (default: the daemon's)\n"
               "  --read-ms MS         one GET /v1/entries/{seq} every MS ms during the load (default 5)\n"
               "  --ed25519-seconds S  length of each ceiling loop (default 2)\n",
            progname);
    return f == stdout ? 0 : 2;
}

static int parse_opts(int argc, char **argv, opts *o)
{
    static const struct option lo[] = {
        {"count", required_argument, NULL, 'n'},   {"clients", required_argument, NULL, 'c'},
        {"workers", required_argument, NULL, 'w'}, {"read-ms", required_argument, NULL, 'r'},
        {"max-batch", required_argument, NULL, 'b'},
        {"ed25519-seconds", required_argument, NULL, 'e'}, {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    *o = (opts){20000, 64, 0, 5, 2, 0};
    int c;
    while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
        unsigned long *dst = NULL, min = 1, max = 100000000;
        switch (c) {
        case 'n': dst = &o->count; break;
        case 'c': dst = &o->clients; max = 4096; break;
        case 'w': dst = &o->workers; max = 256; break;
        case 'b': dst = &o->max_batch; max = 65536; break;
        case 'r': dst = &o->read_ms; max = 10000; break;
        case 'e': dst = &o->ed_seconds; max = 60; break;
        case 'h': usage(stdout); return -1;
        default: return usage(stderr);
        }
        char *end;
        errno = 0;
        unsigned long v = strtoul(optarg, &end, 10);
        if (errno || *end || end == optarg || v < min || v > max)
            return fail("%s: expects an integer from %lu to %lu", argv[optind - 1], min, max);
        *dst = v;
    }
    if (optind != argc)
        return fail("unexpected argument \"%s\"", argv[optind]);
    return 0;
}

/* ---- the ledger and the statements ----------------------------------------- */

typedef struct signed_memo {
    msgpack_sbuffer sb;
    tz_signature sig;
} signed_memo;

static int sign_json(signed_memo *s, const tz_secret_key *key, json_t *obj)
{
    tz_err e;
    s->sb.size = 0;
    const tz_secret_key *keys[1] = {key};
    if (tz_statement_from_json(&s->sb, obj, &e) != TZ_OK ||
        tz_statement_sign(&s->sig, (const uint8_t *)s->sb.data, s->sb.size, keys, 1, &e) != TZ_OK)
        return fail("statement: %s", e.msg);
    return 0;
}

/* Keys, genesis and the cadre's grant in dir/ledger. */
static int make_ledger(const char *dir, tz_secret_key *root, tz_secret_key *cadre)
{
    tz_secret_key logk;
    char path[PATH_MAX + 64], log_path[PATH_MAX + 64], db[PATH_MAX + 16];
    tz_err e;
    struct { tz_secret_key *k; const char *name; } ks[] = {
        {root, "bench-root"}, {&logk, "bench-log"}, {cadre, "bench-cadre"}};
    for (size_t i = 0; i < 3; i++) {
        snprintf(path, sizeof path, "%s/%s.key", dir, ks[i].name);
        if (tz_key_generate(ks[i].k, ks[i].name, &e) != TZ_OK ||
            tz_keyfile_write_secret(path, ks[i].k, NULL, &e) != TZ_OK)
            return fail("keygen: %s", e.msg);
        if (i == 1)
            memcpy(log_path, path, sizeof path);
    }
    tz_key_wipe(&logk);
    snprintf(db, sizeof db, "%s/ledger", dir);
    if (tz_ledger_create(db, ORIGIN, log_path, NULL, &root->pub, 1, &e) != TZ_OK)
        return fail("init: %s", e.msg);
    tz_ledger *l;
    if (tz_ledger_open(&l, db, 0, NULL, &e) != TZ_OK)
        return fail("open: %s", e.msg);
    char vkey[TZ_KEY_STRING_MAX];
    signed_memo g;
    msgpack_sbuffer_init(&g.sb);
    int rc = 2;
    if (tz_key_format_public(vkey, sizeof vkey, &cadre->pub, &e) != TZ_OK) {
        fail("grant: %s", e.msg);
        goto out;
    }
    json_t *obj = json_pack("{s:s,s:s,s:s,s:{s:s,s:s,s:[s],s:s}}", "type", "key.grant", "id",
                            "grant/bench-cadre", "at", "2021-01-01T08:00:00+08:00", "body", "key",
                            vkey, "holder", "bench-cadre", "roles", "cadre", "scope",
                            "village:bench");
    rc = sign_json(&g, root, obj);
    json_decref(obj);
    if (rc != 0)
        goto out;
    tz_submission sub = {(const uint8_t *)g.sb.data, g.sb.size, &g.sig, 1};
    tz_append_result res;
    if (tz_ledger_append(l, &sub, 1, &res, NULL, 0, &e) != TZ_OK || res.status != TZ_OK)
        rc = fail("grant: %s", res.status != TZ_OK ? res.err.msg : e.msg);
out:
    msgpack_sbuffer_destroy(&g.sb);
    tz_ledger_close(l);
    return rc;
}

/* The POST body of memo n: {"statement":{...},"signatures":[{key,sig}]}.
 * *msg (when not NULL) gets TZ_STATEMENT_TAG || statement for the ceiling. */
static char *memo_body(const tz_secret_key *cadre, const char *vkey, unsigned long n,
                       signed_memo *s)
{
    char id[64], text[128], sig[128];
    snprintf(id, sizeof id, "bench/memo/%09lu", n);
    snprintf(text, sizeof text, "民情日志 第%09lu篇: 走访农户, 记录诉求", n);
    json_t *st = json_pack("{s:s,s:s,s:s,s:{s:s}}", "type", "memo", "id", id, "at", AT, "body",
                           "text", text);
    if (st == NULL || sign_json(s, cadre, st) != 0) {
        json_decref(st);
        return NULL;
    }
    tz_base64_encode(sig, sizeof sig, s->sig.sig, 64);
    json_t *doc = json_pack("{s:o,s:[{s:s,s:s}]}", "statement", st, "signatures", "key", vkey,
                            "sig", sig);
    char *out = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
    json_decref(doc);
    return out;
}

/* ---- the Ed25519 ceiling ------------------------------------------------------ */

typedef struct ceiling_arg {
    const uint8_t *msg, *sig, *pk;
    size_t len;
    double secs, per_s;
    int bad;
} ceiling_arg;

static void *ceiling_thread(void *p)
{
    ceiling_arg *a = p;
    uint64_t n = 0, t0 = now_ns(), t = t0, limit = (uint64_t)(a->secs * 1e9);
    while (t - t0 < limit) {
        for (int i = 0; i < 64; i++)
            a->bad |= crypto_sign_verify_detached(a->sig, a->msg, a->len, a->pk) != 0;
        n += 64;
        t = now_ns();
    }
    a->per_s = (double)n / ((double)(t - t0) / 1e9);
    return NULL;
}

/* Verifications/s summed over `threads` threads running at once. */
static double ceiling(const ceiling_arg *tmpl, int threads)
{
    ceiling_arg a[2] = {*tmpl, *tmpl};
    pthread_t t[2];
    for (int i = 0; i < threads; i++)
        pthread_create(&t[i], NULL, ceiling_thread, &a[i]);
    double sum = 0;
    for (int i = 0; i < threads; i++) {
        pthread_join(t[i], NULL);
        sum += a[i].bad ? 0 : a[i].per_s;
    }
    return sum;
}

/* ---- the daemon ------------------------------------------------------------------ */

static int daemon_start(const char *db, const opts *o, pid_t *pid, int *port)
{
    char exe[PATH_MAX], bin[PATH_MAX + 16];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0)
        return fail("/proc/self/exe: %s", strerror(errno));
    exe[n] = '\0';
    char *slash = strrchr(exe, '/');
    *slash = '\0';
    snprintf(bin, sizeof bin, "%s/taizhangd", exe);
    char workers[32], batch[32];
    snprintf(workers, sizeof workers, "%lu", o->workers);
    snprintf(batch, sizeof batch, "%lu", o->max_batch);
    const char *argv[12] = {"taizhangd", "--db", db, "--listen", "127.0.0.1:0"};
    int k = 5;
    if (o->workers) {
        argv[k++] = "--workers";
        argv[k++] = workers;
    }
    if (o->max_batch) {
        argv[k++] = "--max-batch";
        argv[k++] = batch;
    }
    argv[k] = NULL;
    int fds[2];
    if (pipe(fds) != 0)
        return fail("pipe: %s", strerror(errno));
    *pid = fork();
    if (*pid < 0)
        return fail("fork: %s", strerror(errno));
    if (*pid == 0) {
        dup2(fds[1], STDOUT_FILENO);
        close(fds[0]);
        close(fds[1]);
        execv(bin, (char *const *)argv);
        fprintf(stderr, "%s: exec %s: %s\n", progname, bin, strerror(errno));
        _exit(127);
    }
    close(fds[1]);
    FILE *f = fdopen(fds[0], "r");
    char line[256] = "";
    int ok = f && fgets(line, sizeof line, f) != NULL;
    if (f)
        fclose(f);
    const char *p = ok ? strstr(line, "127.0.0.1:") : NULL;
    if (p == NULL)
        return fail("taizhangd (%s) did not announce a port: %s", bin, line);
    *port = atoi(p + 10);
    fprintf(stderr, "%s: taizhangd pid %d on port %d: %s", progname, (int)*pid, *port, line);
    return 0;
}

/* GET path on a fresh connection; the body (malloc'd) or NULL. */
static char *http_get(int port, const char *path)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        if (fd >= 0)
            close(fd);
        return NULL;
    }
    char req[256];
    int n = snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
                     path);
    if (send(fd, req, (size_t)n, MSG_NOSIGNAL) != n) {
        close(fd);
        return NULL;
    }
    size_t cap = 1 << 16, len = 0;
    char *in = malloc(cap);
    for (ssize_t r; in && (r = recv(fd, in + len, cap - len - 1, 0)) > 0;) {
        len += (size_t)r;
        if (len + 1 >= cap) {
            char *bigger = realloc(in, cap *= 2);
            if (bigger == NULL) {
                free(in);
                in = NULL;
            }
            in = bigger;
        }
    }
    close(fd);
    if (in == NULL)
        return NULL;
    in[len] = '\0';
    char *sep = strstr(in, "\r\n\r\n");
    char *body = sep ? strdup(sep + 4) : NULL;
    free(in);
    return body;
}

/* The value of an unlabelled metric line "name value". */
static double metric(const char *text, const char *name)
{
    size_t nl = strlen(name);
    for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
        if (strncmp(p, name, nl) == 0 && p[nl] == ' ')
            return strtod(p + nl + 1, NULL);
    return -1;
}

/* CPU seconds (user + system) the process pid has used so far. */
static double proc_cpu_seconds(pid_t pid)
{
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return 0;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    const char *p = strrchr(buf, ')');
    unsigned long long ut = 0, st = 0;
    /* after "pid (comm)": state, then fields 4..13, then utime and stime */
    if (p == NULL || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut,
                            &st) != 2)
        return 0;
    return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

/* ---- the load ------------------------------------------------------------------- */

typedef struct load {
    struct event_base *base;
    char **bodies;
    size_t count, next, done;
    uint64_t *lat_ns;      /* per statement */
    uint64_t *sent_ns;
    int port, failed;
    _Atomic uint64_t acked_max;   /* the highest seq acknowledged */
} load;

typedef struct client {
    load *l;
    struct evhttp_connection *conn;
    size_t cur;
} client;

static void client_send(client *c);

static void on_post(struct evhttp_request *req, void *arg)
{
    client *c = arg;
    load *l = c->l;
    uint64_t t = now_ns();
    int code = req ? evhttp_request_get_response_code(req) : 0;
    if (code != 201) {
        if (!l->failed) {
            char buf[256] = "";
            if (req) {
                struct evbuffer *b = evhttp_request_get_input_buffer(req);
                ev_ssize_t k = evbuffer_copyout(b, buf, sizeof buf - 1);
                buf[k > 0 ? k : 0] = '\0';
            }
            fail("statement %zu: status %d %s", c->cur, code, buf);
        }
        l->failed = 1;
        event_base_loopbreak(l->base);
        return;
    }
    l->lat_ns[c->cur] = t - l->sent_ns[c->cur];
    /* {"seq":N,...}: remember the highest acknowledged for the reader. */
    char buf[64] = "";
    ev_ssize_t k = evbuffer_copyout(evhttp_request_get_input_buffer(req), buf, sizeof buf - 1);
    const char *p = k > 0 ? strstr(buf, "\"seq\":") : NULL;
    if (p) {
        uint64_t seq = strtoull(p + 6, NULL, 10), old = atomic_load(&l->acked_max);
        while (seq > old && !atomic_compare_exchange_weak(&l->acked_max, &old, seq))
            ;
    }
    if (++l->done == l->count)
        event_base_loopbreak(l->base);
    else
        client_send(c);
}

static void client_send(client *c)
{
    load *l = c->l;
    if (l->next >= l->count)
        return;
    c->cur = l->next++;
    struct evhttp_request *req = evhttp_request_new(on_post, c);
    struct evkeyvalq *h = evhttp_request_get_output_headers(req);
    evhttp_add_header(h, "Host", "127.0.0.1");
    evhttp_add_header(h, "Content-Type", "application/json");
    evbuffer_add_reference(evhttp_request_get_output_buffer(req), l->bodies[c->cur],
                           strlen(l->bodies[c->cur]), NULL, NULL);
    l->sent_ns[c->cur] = now_ns();
    if (evhttp_make_request(c->conn, req, EVHTTP_REQ_POST, "/v1/statements") != 0) {
        fail("cannot send statement %zu", c->cur);
        l->failed = 1;
        event_base_loopbreak(l->base);
    }
}

/* The reader: its own thread, loop and connection. */
typedef struct reader {
    load *l;
    struct event_base *base;
    struct evhttp_connection *conn;
    struct event *tick;
    _Atomic int stop;
    int busy, errors;
    uint64_t t0, *lat_ns;
    size_t n, cap;
    unsigned long interval_ms;
} reader;

static void on_get(struct evhttp_request *req, void *arg)
{
    reader *r = arg;
    r->busy = 0;
    if (req == NULL || evhttp_request_get_response_code(req) != 200) {
        r->errors++;
        return;
    }
    if (r->n < r->cap)
        r->lat_ns[r->n++] = now_ns() - r->t0;
}

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    reader *r = arg;
    if (atomic_load(&r->stop)) {
        event_base_loopbreak(r->base);
        return;
    }
    uint64_t top = atomic_load(&r->l->acked_max);
    if (r->busy || top < 3)
        return;
    char path[64];
    snprintf(path, sizeof path, "/v1/entries/%" PRIu64, 2 + (uint64_t)rand() % (top - 1));
    struct evhttp_request *req = evhttp_request_new(on_get, r);
    evhttp_add_header(evhttp_request_get_output_headers(req), "Host", "127.0.0.1");
    r->busy = 1;
    r->t0 = now_ns();
    if (evhttp_make_request(r->conn, req, EVHTTP_REQ_GET, path) != 0) {
        r->busy = 0;
        r->errors++;
    }
}

static void *reader_main(void *arg)
{
    reader *r = arg;
    struct timeval tv = {0, (suseconds_t)(r->interval_ms * 1000)};
    tv.tv_sec = tv.tv_usec / 1000000;
    tv.tv_usec %= 1000000;
    event_add(r->tick, &tv);
    event_base_dispatch(r->base);
    return NULL;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* Nearest-rank percentile in ms of sorted v[0..n). */
static double pct_ms(const uint64_t *v, size_t n, double p)
{
    if (n == 0)
        return 0;
    size_t i = (size_t)(p * (double)n + 0.999999);
    i = i == 0 ? 0 : i - 1;
    return (double)v[i < n ? i : n - 1] / 1e6;
}

/* ---- main ---------------------------------------------------------------------- */

static int rm_cb(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    remove(path);
    return 0;
}

int main(int argc, char **argv)
{
    opts o;
    int rc = parse_opts(argc, argv, &o);
    if (rc != 0)
        return rc < 0 ? 0 : rc;
    if (sodium_init() < 0)
        return fail("libsodium: cannot initialise");
    signal(SIGPIPE, SIG_IGN);
    const char *tmp = getenv("TMPDIR");
    char dir[PATH_MAX], db[PATH_MAX + 16];
    snprintf(dir, sizeof dir, "%s/bench_daemon.XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (mkdtemp(dir) == NULL)
        return fail("mkdtemp %s: %s", dir, strerror(errno));
    snprintf(db, sizeof db, "%s/ledger", dir);
    tz_secret_key root, cadre;
    pid_t pid = -1;
    load l = {0};
    reader r = {0};
    client *cl = NULL;
    char vkey[TZ_KEY_STRING_MAX];
    tz_err e;
    signed_memo sm;
    msgpack_sbuffer_init(&sm.sb);
    if ((rc = make_ledger(dir, &root, &cadre)) != 0)
        goto out;
    if (tz_key_format_public(vkey, sizeof vkey, &cadre.pub, &e) != TZ_OK) {
        rc = fail("%s", e.msg);
        goto out;
    }

    fprintf(stderr, "%s: signing %lu memos\n", progname, o.count);
    l.count = o.count;
    l.bodies = calloc(o.count, sizeof *l.bodies);
    l.lat_ns = calloc(o.count, sizeof *l.lat_ns);
    l.sent_ns = calloc(o.count, sizeof *l.sent_ns);
    if (!l.bodies || !l.lat_ns || !l.sent_ns) {
        rc = fail("out of memory");
        goto out;
    }
    size_t tag_len = strlen(TZ_STATEMENT_TAG);
    uint8_t msg[4096];
    size_t msg_len = 0;
    for (size_t i = 0; i < o.count; i++) {
        if ((l.bodies[i] = memo_body(&cadre, vkey, i, &sm)) == NULL) {
            rc = fail("memo %zu: cannot build the body", i);
            goto out;
        }
        if (i == 0 && tag_len + sm.sb.size <= sizeof msg) {
            memcpy(msg, TZ_STATEMENT_TAG, tag_len);
            memcpy(msg + tag_len, sm.sb.data, sm.sb.size);
            msg_len = tag_len + sm.sb.size;
        }
    }

    ceiling_arg ca = {msg, sm.sig.sig, sm.sig.key, msg_len, (double)o.ed_seconds, 0, 0};
    /* sm holds the last memo's signature; rebuild memo 0's for the message. */
    {
        const tz_secret_key *keys[1] = {&cadre};
        if (tz_statement_sign(&sm.sig, msg + tag_len, msg_len - tag_len, keys, 1, &e) != TZ_OK) {
            rc = fail("%s", e.msg);
            goto out;
        }
    }
    fprintf(stderr, "%s: Ed25519 ceiling, %lu s per loop\n", progname, o.ed_seconds);
    double one = ceiling(&ca, 1), two = ceiling(&ca, 2);
    if (one == 0 || two == 0) {
        rc = fail("ed25519: a valid signature did not verify");
        goto out;
    }
    fprintf(stderr, "%s: one core %.0f/s, two cores %.0f/s\n", progname, one, two);

    if ((rc = daemon_start(db, &o, &pid, &l.port)) != 0)
        goto out;
    char *m0 = http_get(l.port, "/metrics");
    if (m0 == NULL) {
        rc = fail("GET /metrics failed");
        goto out;
    }
    double commits0 = metric(m0, "taizhang_commits_total");
    double appends0 = metric(m0, "taizhang_appends_total");
    double commit_s0 = metric(m0, "taizhang_commit_seconds_sum");
    free(m0);
    double cpu0 = proc_cpu_seconds(pid), self0 = proc_cpu_seconds(getpid());

    l.base = event_base_new();
    cl = calloc(o.clients, sizeof *cl);
    r.l = &l;
    r.interval_ms = o.read_ms;
    r.cap = 1u << 20;
    r.lat_ns = calloc(r.cap, sizeof *r.lat_ns);
    r.base = event_base_new();
    if (l.base == NULL || cl == NULL || r.lat_ns == NULL || r.base == NULL) {
        rc = fail("out of memory");
        goto out;
    }
    r.conn = evhttp_connection_base_new(r.base, NULL, "127.0.0.1", (uint16_t)l.port);
    r.tick = event_new(r.base, -1, EV_PERSIST, on_tick, &r);
    for (size_t i = 0; i < o.clients; i++) {
        cl[i].l = &l;
        cl[i].conn = evhttp_connection_base_new(l.base, NULL, "127.0.0.1", (uint16_t)l.port);
        if (cl[i].conn == NULL) {
            rc = fail("cannot create connection %zu", i);
            goto out;
        }
        evhttp_connection_set_timeout(cl[i].conn, 60);
    }
    pthread_t rt;
    pthread_create(&rt, NULL, reader_main, &r);
    fprintf(stderr, "%s: posting %lu memos from %lu clients\n", progname, o.count, o.clients);
    uint64_t t0 = now_ns();
    for (size_t i = 0; i < o.clients; i++)
        client_send(&cl[i]);
    event_base_dispatch(l.base);
    uint64_t elapsed = now_ns() - t0;
    double daemon_cpu = proc_cpu_seconds(pid) - cpu0;
    double client_cpu = proc_cpu_seconds(getpid()) - self0;
    atomic_store(&r.stop, 1);
    pthread_join(rt, NULL);
    if (l.failed) {
        rc = 2;
        goto out;
    }
    char *m1 = http_get(l.port, "/metrics");
    if (m1 == NULL) {
        rc = fail("GET /metrics failed");
        goto out;
    }
    double commits = metric(m1, "taizhang_commits_total") - commits0;
    double appends = metric(m1, "taizhang_appends_total") - appends0;
    double commit_s = metric(m1, "taizhang_commit_seconds_sum") - commit_s0;
    free(m1);

    double secs = (double)elapsed / 1e9, tput = (double)o.count / secs;
    qsort(l.lat_ns, o.count, sizeof *l.lat_ns, cmp_u64);
    qsort(r.lat_ns, r.n, sizeof *r.lat_ns, cmp_u64);
    printf("{\"bench\":\"daemon\",\"clients\":%lu,\"count\":%lu,\"seconds\":%.3f,"
           "\"appends_per_s\":%.0f,\"p50_ms\":%.2f,\"p99_ms\":%.2f,\"p999_ms\":%.2f,"
           "\"max_ms\":%.2f,\"fsyncs_per_s\":%.0f,\"mean_batch\":%.1f,\"appends_counted\":%.0f,"
           "\"mean_commit_ms\":%.2f,\"writer_busy\":%.2f,\"daemon_cpu_cores\":%.2f,\"client_cpu_cores\":%.2f}\n",
           o.clients, o.count, secs, tput, pct_ms(l.lat_ns, o.count, 0.5),
           pct_ms(l.lat_ns, o.count, 0.99), pct_ms(l.lat_ns, o.count, 0.999),
           pct_ms(l.lat_ns, o.count, 1.0), commits / secs, commits > 0 ? appends / commits : 0,
           appends, commits > 0 ? commit_s / commits * 1e3 : 0, commit_s / secs,
           daemon_cpu / secs, client_cpu / secs);
    printf("{\"bench\":\"daemon_reads\",\"endpoint\":\"/v1/entries/{seq}\",\"interval_ms\":%lu,"
           "\"reads\":%zu,\"errors\":%d,\"p50_ms\":%.2f,\"p99_ms\":%.2f,\"max_ms\":%.2f}\n",
           o.read_ms, r.n, r.errors, pct_ms(r.lat_ns, r.n, 0.5), pct_ms(r.lat_ns, r.n, 0.99),
           pct_ms(r.lat_ns, r.n, 1.0));
    printf("{\"bench\":\"ed25519\",\"verify_per_s_one_core\":%.0f,\"verify_per_s_two_cores\":%.0f,"
           "\"ratio_to_one_core\":%.3f,\"ratio_to_two_cores\":%.3f,\"goal_ratio_to_two_cores\":0.75}\n",
           one, two, tput / one, tput / two);
    fflush(stdout);
    if (r.errors)
        rc = fail("%d read(s) failed", r.errors);
out:
    if (pid > 0) {
        int st;
        kill(pid, SIGTERM);
        waitpid(pid, &st, 0);
        if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
            rc = fail("taizhangd exited with status %d", st);
    }
    if (cl)
        for (size_t i = 0; i < o.clients; i++)
            if (cl[i].conn)
                evhttp_connection_free(cl[i].conn);
    free(cl);
    if (r.conn)
        evhttp_connection_free(r.conn);
    if (r.tick)
        event_free(r.tick);
    if (r.base)
        event_base_free(r.base);
    if (l.base)
        event_base_free(l.base);
    if (l.bodies)
        for (size_t i = 0; i < l.count; i++)
            free(l.bodies[i]);
    free(l.bodies);
    free(l.lat_ns);
    free(l.sent_ns);
    free(r.lat_ns);
    msgpack_sbuffer_destroy(&sm.sb);
    tz_key_wipe(&root);
    tz_key_wipe(&cadre);
    nftw(dir, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
    return rc;
}
