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
 *      stops the daemon with SIGTERM and removes the temp dir;
 *   7. with --pg, posts the same statements to PostgreSQL 15 the way a
 *      county IT team would store them without taizhang (see "PostgreSQL
 *      15" below): a throw-away cluster in a temp dir, durability settings
 *      at their defaults (fsync, synchronous_commit, full_page_writes on),
 *      an append-only audit_log table whose trigger hash-chains the rows
 *      with SHA-256, one autocommit INSERT per statement from the same
 *      number of connections (libpq, one thread, poll(); each connection
 *      warmed up by one rolled-back INSERT before the timer); then checks
 *      the chain, prints the ratio taizhangd / PostgreSQL with PostgreSQL's
 *      WAL fsyncs and their mean time (track_wal_io_timing is on for that),
 *      stops the cluster and removes its dir, also after a failure.
 *      PostgreSQL verifies no signature (it has no Ed25519) and builds no
 *      Merkle tree, checkpoint or projection, so the ratio compares unequal
 *      work: it is what taizhang costs or saves against the obvious
 *      alternative, not a like-for-like engine race.
 * With --mixed N,M the load is M appending clients (instead of --clients)
 * beside N keep-alive "flooders", each looping on the largest read, GET
 * /v1/entries?limit=1000, over a ledger first filled with 1000 memos (the
 * library, before the daemon starts); it prints the appends' p99 and the
 * flood reads' p99 (goal: append p99 under 50 ms with 8 flooders).
 * The client shares the machine (and its cores) with the daemon, so the
 * figures are a floor for a daemon with the cores to itself.
 * Every reply must be 201; anything else is an error (exit 2).
 * --pg needs libpq at build time (libpq-dev; without it --pg exits 2) and
 * the postgresql-15 package at run time (exit 2 when its binaries are not
 * in /usr/lib/postgresql/15/bin). As root, the cluster runs as the
 * `postgres` system user, since the server refuses to run as root.
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <fcntl.h>
#include <ftw.h>
#include <getopt.h>
#include <grp.h>
#include <inttypes.h>
#include <jansson.h>
#include <limits.h>
#include <msgpack.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <pwd.h>
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
#ifdef TZ_BENCH_HAVE_LIBPQ
#include <libpq-fe.h>
#endif

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

/* nftw callback removing a temp dir's entries, deepest first. */
static int rm_cb(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    remove(path);
    return 0;
}

/* ---- options ------------------------------------------------------------- */

typedef struct opts {
    unsigned long count, clients, workers, read_ms, ed_seconds, max_batch;
    int pg;   /* --pg: the same statements against PostgreSQL 15 afterwards */
    unsigned long flooders; /* --mixed N,M: N read flooders (M is clients) */
} opts;

static int usage(FILE *f)
{
    fprintf(f, "usage: %s [--count N] [--clients C] [--workers W] [--max-batch B] [--read-ms MS]\n"
               "                    [--ed25519-seconds S] [--pg] [--mixed N,M]\n"
               "  --count N            pre-signed memos posted (default 20000)\n"
               "  --clients C          concurrent keep-alive connections (default 64)\n"
               "  --workers W          taizhangd --workers (default: the daemon's)\n"
               "  --max-batch B        taizhangd --max-batch (default: the daemon's)\n"
               "  --read-ms MS         one GET /v1/entries/{seq} every MS ms during the load (default 5)\n"
               "  --ed25519-seconds S  length of each ceiling loop (default 2)\n"
               "  --mixed N,M          N clients loop on GET /v1/entries?limit=1000 while M clients\n"
               "                       append (M replaces --clients); prints both p99s\n"
               "  --pg                 then the same statements into a hash-chained PostgreSQL 15\n"
               "                       table (needs libpq-dev at build, postgresql-15 at run time)\n",
            progname);
    return f == stdout ? 0 : 2;
}

static int parse_opts(int argc, char **argv, opts *o)
{
    static const struct option lo[] = {
        {"count", required_argument, NULL, 'n'},   {"clients", required_argument, NULL, 'c'},
        {"workers", required_argument, NULL, 'w'}, {"read-ms", required_argument, NULL, 'r'},
        {"max-batch", required_argument, NULL, 'b'},
        {"ed25519-seconds", required_argument, NULL, 'e'}, {"pg", no_argument, NULL, 'p'},
        {"mixed", required_argument, NULL, 'm'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    *o = (opts){20000, 64, 0, 5, 2, 0, 0, 0};
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
        case 'p': o->pg = 1; continue;
        case 'm': {
            char *comma, *end = NULL;
            errno = 0;
            unsigned long n = strtoul(optarg, &comma, 10), m = 0;
            if (errno == 0 && comma != optarg && *comma == ',')
                m = strtoul(comma + 1, &end, 10);
            if (errno != 0 || comma == optarg || *comma != ',' || end == comma + 1 || *end != '\0' ||
                n < 1 || n > 256 || m < 1 || m > 4096)
                return fail("--mixed %s: expects N,M (1..256 flooders, 1..4096 appenders)", optarg);
            o->flooders = n;
            o->clients = m;
            continue;
        }
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
    char workers[32], batch[32], conns[32];
    snprintf(workers, sizeof workers, "%lu", o->workers);
    snprintf(batch, sizeof batch, "%lu", o->max_batch);
    /* every client is on 127.0.0.1: one host, to the daemon */
    unsigned long need = o->clients + o->flooders + 8;
    snprintf(conns, sizeof conns, "%lu", need);
    const char *argv[16] = {"taizhangd", "--db", db, "--listen", "127.0.0.1:0"};
    int k = 5;
    if (need > 128) {
        argv[k++] = "--max-connections-per-host";
        argv[k++] = conns;
    }
    if (need > 1024) {
        argv[k++] = "--max-connections";
        argv[k++] = conns;
    }
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

/* SIGTERM to the daemon, then its exit: 0 when it exited 0, else 2. */
static int daemon_stop(pid_t pid)
{
    int st;
    kill(pid, SIGTERM);
    while (waitpid(pid, &st, 0) < 0)
        if (errno != EINTR)
            return fail("waitpid taizhangd: %s", strerror(errno));
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
        return fail("taizhangd exited with status %d", st);
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

/* From /proc/pid/stat: the parent's pid and the CPU seconds (user +
 * system) the process has used so far. 0, or -1 when it is gone or the file
 * does not parse. */
static int proc_stat(pid_t pid, pid_t *ppid, double *cpu)
{
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return -1;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    const char *p = strrchr(buf, ')');
    int parent = 0;
    unsigned long long ut = 0, st = 0;
    /* after "pid (comm)": state, ppid, then fields 5..13, then utime and stime */
    if (p == NULL || sscanf(p + 2, "%*c %d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu",
                            &parent, &ut, &st) != 3)
        return -1;
    *ppid = (pid_t)parent;
    *cpu = (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
    return 0;
}

/* CPU seconds (user + system) the process pid has used so far; 0 if unknown. */
static double proc_cpu_seconds(pid_t pid)
{
    pid_t parent;
    double cpu;
    return proc_stat(pid, &parent, &cpu) == 0 ? cpu : 0;
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

/* ---- the read flood (--mixed) ----------------------------------------------------- */

#define FLOOD_PREFILL 1000 /* memos in the ledger before the daemon starts */
#define FLOOD_PATH "/v1/entries?limit=1000"

/* Appends FLOOD_PREFILL memos "bench/prefill/N" to the ledger at db (one
 * group commit), so that every flood read returns a full page. */
static int prefill(const char *db, const tz_secret_key *cadre)
{
    tz_ledger *l;
    tz_err e;
    if (tz_ledger_open(&l, db, 0, NULL, &e) != TZ_OK)
        return fail("open: %s", e.msg);
    signed_memo *sm = calloc(FLOOD_PREFILL, sizeof *sm);
    tz_submission *subs = calloc(FLOOD_PREFILL, sizeof *subs);
    tz_append_result *res = calloc(FLOOD_PREFILL, sizeof *res);
    int rc = sm && subs && res ? 0 : fail("out of memory");
    size_t made = 0;
    for (; rc == 0 && made < FLOOD_PREFILL; made++) {
        char id[64];
        snprintf(id, sizeof id, "bench/prefill/%zu", made);
        msgpack_sbuffer_init(&sm[made].sb);
        json_t *st = json_pack("{s:s,s:s,s:s,s:{s:s}}", "type", "memo", "id", id, "at", AT,
                               "body", "text", "民情日志: 走访农户, 记录诉求 (预置)");
        rc = st ? sign_json(&sm[made], cadre, st) : fail("out of memory");
        json_decref(st);
        subs[made] = (tz_submission){(const uint8_t *)sm[made].sb.data, sm[made].sb.size,
                                     &sm[made].sig, 1};
    }
    if (rc == 0 && tz_ledger_append(l, subs, FLOOD_PREFILL, res, NULL, 0, &e) != TZ_OK)
        rc = fail("prefill: %s", e.msg);
    for (size_t i = 0; rc == 0 && i < FLOOD_PREFILL; i++)
        if (res[i].status != TZ_OK)
            rc = fail("prefill %zu: %s", i, res[i].err.msg);
    for (size_t i = 0; i < made; i++)
        msgpack_sbuffer_destroy(&sm[i].sb);
    free(sm);
    free(subs);
    free(res);
    tz_ledger_close(l);
    return rc;
}

/* One flooder: a blocking keep-alive connection sending FLOOD_PATH as soon
 * as the previous reply is read, until stop. */
typedef struct flooder {
    pthread_t thread;
    int port, errors;
    _Atomic int *stop;
    uint64_t *lat_ns;
    size_t n, cap;
} flooder;

/* Reads one reply (headers, then Content-Length bytes) into buf, which
 * grows. The status, or -1. */
static int flood_read_reply(int fd, char **buf, size_t *cap)
{
    size_t len = 0, want = 0;
    char *end = NULL;
    for (;;) {
        if (len + 1 >= *cap) {
            char *bigger = realloc(*buf, *cap * 2);
            if (bigger == NULL)
                return -1;
            *buf = bigger;
            *cap *= 2;
        }
        ssize_t r = recv(fd, *buf + len, *cap - len - 1, 0);
        if (r <= 0)
            return -1;
        len += (size_t)r;
        (*buf)[len] = '\0';
        if (end == NULL && (end = strstr(*buf, "\r\n\r\n")) != NULL) {
            const char *cl = strstr(*buf, "Content-Length: ");
            want = (size_t)(end + 4 - *buf) + (cl && cl < end ? strtoul(cl + 16, NULL, 10) : 0);
        }
        if (end != NULL && len >= want)
            return strncmp(*buf, "HTTP/1.1 ", 9) == 0 ? atoi(*buf + 9) : -1;
    }
}

static void *flooder_main(void *arg)
{
    flooder *f = arg;
    static const char req[] = "GET " FLOOD_PATH " HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
    size_t cap = 1 << 20;
    char *buf = malloc(cap);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)f->port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (buf == NULL || fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        f->errors++;
    } else {
        while (!atomic_load(f->stop)) {
            uint64_t t0 = now_ns();
            if (send(fd, req, sizeof req - 1, MSG_NOSIGNAL) != (ssize_t)(sizeof req - 1) ||
                flood_read_reply(fd, &buf, &cap) != 200) {
                f->errors++;
                break;
            }
            if (f->n < f->cap)
                f->lat_ns[f->n++] = now_ns() - t0;
        }
    }
    if (fd >= 0)
        close(fd);
    free(buf);
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

/* ---- PostgreSQL 15 ------------------------------------------------------------- */

/*
 * The comparison a county IT team would ask for: the same signed statements
 * in PostgreSQL, the database they already run, as an append-only table
 * whose trigger hash-chains the rows. Durability stays at the defaults a team
 * would not touch (fsync, synchronous_commit, full_page_writes on), and every
 * statement is its own autocommit INSERT, as an application storing one
 * record per request does. The cluster is made for the run in a temp dir and
 * removed afterwards, also when the run fails.
 */
#define PG_BINDIR "/usr/lib/postgresql/15/bin"
#define PG_PACKAGE "postgresql-15"
#define PG_ROLE "taizhang_bench"

#ifdef TZ_BENCH_HAVE_LIBPQ

/*
 * The chain head is a one-row table, not "the row with the highest id":
 * with `SELECT hash FROM audit_log ORDER BY id DESC LIMIT 1 FOR UPDATE`, two
 * inserts that lock the same last row both wait for it, and when the first
 * commits, READ COMMITTED re-checks only that locked row (still there,
 * unchanged), so the second chains onto it too: the chain forks.
 *
 * Inserts are serialised by a table lock on audit_head taken in a BEFORE
 * INSERT statement trigger, held until commit. SHARE ROW EXCLUSIVE conflicts
 * with itself (one inserter at a time) but not with readers of the head. The
 * next inserter starts only after the previous one committed, so the row
 * trigger reads the head it wrote; its SELECT ... FOR UPDATE would also get
 * the newest head on its own (a locked row is re-read at its newest version),
 * and an isolation level above READ COMMITTED makes the UPDATE of the head
 * fail rather than fork the chain. The lock is taken in the statement
 * trigger because that fires before the INSERT evaluates any default
 * ("before the statement starts to do anything"): the bigserial id is then
 * drawn inside the lock, id order is chain order, and the chain is checked by
 * walking the ids (the row trigger runs after the id is drawn). A table lock
 * rather than the head row's own lock (PERFORM ... FOR UPDATE in the same
 * place, equally correct) because it was faster: at 64 clients here the row
 * lock gave 340-460 inserts/s and cost 2.5-3.2 ms of server CPU per insert,
 * the table lock 950-1,270/s and 0.7-0.8 ms (an advisory lock: 960-1,100/s).
 * Probably the row lock's waiters each re-read the row's newer versions when
 * their turn comes; the table lock's queue just hands the lock on.
 *
 * Either way the head stays locked until the commit's WAL fsync is done, so
 * commits cannot be grouped: one WAL fsync per statement, whatever the number
 * of clients. That is inherent to a chain computed inside per-statement
 * transactions.
 *
 * UPDATE, DELETE and TRUNCATE raise an error (SQLSTATE P0001) instead of a
 * DO INSTEAD NOTHING rule, so that an attempt is noticed, not ignored.
 */
static const char pg_schema[] =
    "CREATE TABLE audit_log (\n"
    "    id          bigserial PRIMARY KEY,\n"
    "    recorded_at timestamptz DEFAULT now(),\n"
    "    statement   jsonb NOT NULL,\n"
    "    signatures  jsonb NOT NULL,\n"
    "    prev_hash   bytea NOT NULL,\n"
    "    hash        bytea NOT NULL\n"
    ");\n"
    "CREATE TABLE audit_head (\n"
    "    one  boolean PRIMARY KEY DEFAULT true CHECK (one),\n"
    "    hash bytea NOT NULL\n"
    ");\n"
    "INSERT INTO audit_head VALUES (true, decode(repeat('00', 32), 'hex'));\n"
    "CREATE FUNCTION audit_log_lock_head() RETURNS trigger LANGUAGE plpgsql AS $$\n"
    "BEGIN\n"
    "    LOCK TABLE audit_head IN SHARE ROW EXCLUSIVE MODE;\n"
    "    RETURN NULL;\n"
    "END $$;\n"
    "CREATE FUNCTION audit_log_chain() RETURNS trigger LANGUAGE plpgsql AS $$\n"
    "DECLARE prev bytea;\n"
    "BEGIN\n"
    "    SELECT hash INTO STRICT prev FROM audit_head FOR UPDATE;\n"
    "    NEW.prev_hash := prev;\n"
    "    NEW.hash := sha256(prev || convert_to(NEW.statement::text, 'UTF8')\n"
    "                            || convert_to(NEW.signatures::text, 'UTF8'));\n"
    "    UPDATE audit_head SET hash = NEW.hash;\n"
    "    RETURN NEW;\n"
    "END $$;\n"
    "CREATE FUNCTION audit_log_refuse() RETURNS trigger LANGUAGE plpgsql AS $$\n"
    "BEGIN\n"
    "    RAISE EXCEPTION 'audit_log is append-only: % refused', TG_OP;\n"
    "END $$;\n"
    "CREATE TRIGGER audit_log_lock_head BEFORE INSERT ON audit_log\n"
    "    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_lock_head();\n"
    "CREATE TRIGGER audit_log_chain BEFORE INSERT ON audit_log\n"
    "    FOR EACH ROW EXECUTE FUNCTION audit_log_chain();\n"
    "CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log\n"
    "    FOR EACH ROW EXECUTE FUNCTION audit_log_refuse();\n"
    "CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log\n"
    "    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_refuse();\n";

static const char pg_insert[] =
    "INSERT INTO audit_log (statement, signatures) VALUES ($1::jsonb, $2::jsonb)";

/* The owner of the server processes: the postgres system user when we are
 * root (the server refuses to run as root), else ourselves. 0, or 2 when we
 * are root and that user does not exist. */
static int pg_owner(int *switch_user, uid_t *uid, gid_t *gid)
{
    *switch_user = geteuid() == 0;
    *uid = geteuid();
    *gid = getegid();
    if (!*switch_user)
        return 0;
    struct passwd *pw = getpwnam("postgres");
    if (pw == NULL)
        return fail("--pg as root: no \"postgres\" system user to run the server as "
                    "(the Debian package %s creates it)", PG_PACKAGE);
    *uid = pw->pw_uid;
    *gid = pw->pw_gid;
    return 0;
}

/* Before any work: the server binaries and the user to run them as. */
static int pg_preflight(void)
{
    static const char *const progs[] = {"initdb", "pg_ctl", "postgres"};
    char bin[PATH_MAX];
    for (size_t i = 0; i < sizeof progs / sizeof *progs; i++) {
        snprintf(bin, sizeof bin, "%s/%s", PG_BINDIR, progs[i]);
        if (access(bin, X_OK) != 0)
            return fail("--pg: %s: %s (install the Debian package %s)", bin, strerror(errno),
                        PG_PACKAGE);
    }
    int switch_user;
    uid_t uid;
    gid_t gid;
    return pg_owner(&switch_user, &uid, &gid);
}

typedef struct pg_cluster {
    char dir[PATH_MAX];          /* the temp dir, owned by the server's user */
    char data[PATH_MAX + 16];    /* dir/data */
    char log[PATH_MAX + 16];     /* dir/server.log (pg_ctl -l) */
    char cmd_log[PATH_MAX + 16]; /* dir/commands.log: initdb's and pg_ctl's output */
    int port, switch_user, created, started;
    uid_t uid;
    gid_t gid;
} pg_cluster;

/* The last `lines` lines of the file at path, on stderr (after a failure). */
static void pg_show_tail(const char *path, int lines)
{
    static char buf[1 << 15];
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return;
    long size = fseek(f, 0, SEEK_END) == 0 ? ftell(f) : -1;
    long from = size > (long)sizeof buf - 1 ? size - (long)sizeof buf + 1 : 0;
    size_t n = size >= 0 && fseek(f, from, SEEK_SET) == 0 ? fread(buf, 1, sizeof buf - 1, f) : 0;
    fclose(f);
    buf[n] = '\0';
    char *p = buf + n;
    while (p > buf && lines >= 0)
        if (*--p == '\n')
            lines--;
    fprintf(stderr, "%s: --- end of %s ---\n%s\n", progname, path, p);
}

/* Runs PG_BINDIR/argv[0] as the cluster's owner, in the cluster's dir, its
 * output appended to commands.log. 0 when it exited 0; else 2, with a
 * message and the end of its output unless quiet (the caller reports). */
static int pg_run(const pg_cluster *c, const char *const *argv, int quiet)
{
    char bin[PATH_MAX];
    snprintf(bin, sizeof bin, "%s/%s", PG_BINDIR, argv[0]);
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0)
        return fail("fork: %s", strerror(errno));
    if (pid == 0) {
        int fd = open(c->cmd_log, O_WRONLY | O_CREAT | O_APPEND, 0644);
        if (fd < 0 || dup2(fd, STDOUT_FILENO) < 0 || dup2(fd, STDERR_FILENO) < 0)
            _exit(126);
        if (c->switch_user &&
            (setgroups(1, &c->gid) != 0 || setgid(c->gid) != 0 || setuid(c->uid) != 0)) {
            fprintf(stderr, "cannot switch to uid %d: %s\n", (int)c->uid, strerror(errno));
            _exit(126);
        }
        if (chdir(c->dir) != 0) {
            fprintf(stderr, "chdir %s: %s\n", c->dir, strerror(errno));
            _exit(126);
        }
        execv(bin, (char *const *)argv);
        fprintf(stderr, "exec %s: %s\n", bin, strerror(errno));
        _exit(127);
    }
    int st;
    while (waitpid(pid, &st, 0) < 0)
        if (errno != EINTR)
            return fail("waitpid %s: %s", argv[0], strerror(errno));
    if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
        return 0;
    if (quiet)
        return 2;
    pg_show_tail(c->cmd_log, 20);
    return fail("%s failed (wait status %d); its output is above", bin, st);
}

/* A loopback TCP port that was free a moment ago; 0 on error. Another
 * process may take it before the server binds it: the start then fails and
 * says so. */
static int pg_free_port(void)
{
    struct sockaddr_in a = {.sin_family = AF_INET};
    socklen_t len = sizeof a;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    int ok = fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
             getsockname(fd, (struct sockaddr *)&a, &len) == 0;
    if (fd >= 0)
        close(fd);
    return ok ? ntohs(a.sin_port) : 0;
}

/* Appends the run's settings to postgresql.conf. The three durability
 * settings are the defaults, written out so that the log and the output
 * state them. track_wal_io_timing (off by default; two clock reads per WAL
 * write and sync) is on for the output's WAL sync time, which sets the pace
 * of a chain that is locked through every commit. No unix socket: the
 * clients use TCP, as the daemon's do. */
static int pg_write_conf(const pg_cluster *c, unsigned long clients)
{
    char path[PATH_MAX + 32];
    snprintf(path, sizeof path, "%s/postgresql.conf", c->data);
    FILE *f = fopen(path, "a");
    if (f == NULL)
        return fail("%s: %s", path, strerror(errno));
    fprintf(f,
            "\n# bench_daemon --pg\n"
            "listen_addresses = '127.0.0.1'\n"
            "port = %d\n"
            "unix_socket_directories = ''\n"
            "max_connections = %lu\n"
            "fsync = on\n"
            "synchronous_commit = on\n"
            "full_page_writes = on\n"
            "track_wal_io_timing = on\n",
            c->port, clients + 10);
    int bad = ferror(f);
    if (fclose(f) != 0 || bad)
        return fail("%s: cannot write", path);
    return 0;
}

/* Creates the temp dir, runs initdb and starts the server on a free port.
 * 0, or 2; either way pg_cluster_stop undoes what was done. */
static int pg_cluster_start(pg_cluster *c, unsigned long clients)
{
    const char *tmp = getenv("TMPDIR");
    snprintf(c->dir, sizeof c->dir, "%s/bench_pg.XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (mkdtemp(c->dir) == NULL)
        return fail("mkdtemp %s: %s", c->dir, strerror(errno));
    c->created = 1;
    snprintf(c->data, sizeof c->data, "%s/data", c->dir);
    snprintf(c->log, sizeof c->log, "%s/server.log", c->dir);
    snprintf(c->cmd_log, sizeof c->cmd_log, "%s/commands.log", c->dir);
    if (c->switch_user && chown(c->dir, c->uid, c->gid) != 0)
        return fail("chown %s to the postgres user: %s", c->dir, strerror(errno));
    fprintf(stderr, "%s: PostgreSQL 15: initdb in %s\n", progname, c->dir);
    const char *const initdb[] = {"initdb", "-D", c->data, "-U", PG_ROLE, "--auth=trust",
                                  "--encoding=UTF8", "--locale=C", NULL};
    int rc = pg_run(c, initdb, 0);
    if (rc != 0)
        return rc;
    if ((c->port = pg_free_port()) == 0)
        return fail("no free loopback port: %s", strerror(errno));
    if ((rc = pg_write_conf(c, clients)) != 0)
        return rc;
    const char *const start[] = {"pg_ctl", "-D", c->data, "-l", c->log, "-w", "-t", "60",
                                 "start", NULL};
    c->started = 1; /* a server that failed half-way may still need stopping */
    if ((rc = pg_run(c, start, 0)) != 0)
        return rc;
    fprintf(stderr, "%s: PostgreSQL 15 on 127.0.0.1:%d\n", progname, c->port);
    return 0;
}

/* Stops the server (-m fast: open sessions are cut) and removes the temp
 * dir; after a failure (failed != 0) the end of the server's log is shown
 * first. 0, or 2 when a running server did not stop: then the dir is left in
 * place and named. */
static int pg_cluster_stop(pg_cluster *c, int failed)
{
    int rc = 0;
    if (failed && c->started)
        pg_show_tail(c->log, 20);
    if (c->started) {
        const char *const stop[] = {"pg_ctl", "-D", c->data, "-m", "fast", "-w", "-t", "60",
                                    "stop", NULL};
        char pidfile[PATH_MAX + 32];
        snprintf(pidfile, sizeof pidfile, "%s/postmaster.pid", c->data);
        /* No pid file: the start failed and there is nothing to stop. */
        if (pg_run(c, stop, 1) != 0 && access(pidfile, F_OK) == 0)
            rc = fail("PostgreSQL did not stop (pg_ctl stop -m fast failed); left %s in place, "
                      "see commands.log there", c->dir);
    }
    if (c->created && rc == 0)
        nftw(c->dir, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
    return rc;
}

static PGconn *pg_connect(const pg_cluster *c)
{
    char info[256];
    snprintf(info, sizeof info,
             "host=127.0.0.1 port=%d dbname=postgres user=" PG_ROLE
             " client_encoding=UTF8 connect_timeout=10 application_name=bench_daemon",
             c->port);
    PGconn *conn = PQconnectdb(info);
    if (conn == NULL) {
        fail("libpq: out of memory");
        return NULL;
    }
    if (PQstatus(conn) != CONNECTION_OK) {
        fail("cannot connect to PostgreSQL on 127.0.0.1:%d: %s", c->port, PQerrorMessage(conn));
        PQfinish(conn);
        return NULL;
    }
    return conn;
}

/* Runs sql (one or more commands); 0 when the last ended as `want`, else 2
 * with what the server said about `what`. */
static int pg_exec(PGconn *conn, const char *what, const char *sql, ExecStatusType want)
{
    PGresult *res = PQexec(conn, sql);
    int rc = 0;
    if (PQresultStatus(res) != want)
        rc = fail("PostgreSQL, %s: %s", what,
                  res ? PQresultErrorMessage(res) : PQerrorMessage(conn));
    PQclear(res);
    return rc;
}

/* The first column of the one row sql returns, as text in out[size]; 0, or
 * 2 when the query fails or returns no row. */
static int pg_value(PGconn *conn, const char *sql, char *out, size_t size)
{
    PGresult *res = PQexec(conn, sql);
    int rc = 0;
    if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1)
        rc = fail("PostgreSQL, \"%s\": %s", sql,
                  res ? PQresultErrorMessage(res) : PQerrorMessage(conn));
    else
        snprintf(out, size, "%s", PQgetvalue(res, 0, 0));
    PQclear(res);
    return rc;
}

/* The statement and the signatures of each POST body as compact JSON text:
 * the values the daemon got. 0, or 2 naming the memo. */
static int pg_split_bodies(char *const *bodies, size_t n, char **stmt, char **sigs)
{
    for (size_t i = 0; i < n; i++) {
        json_error_t je;
        json_t *doc = json_loads(bodies[i], 0, &je);
        json_t *st = json_object_get(doc, "statement"), *sg = json_object_get(doc, "signatures");
        stmt[i] = st ? json_dumps(st, JSON_COMPACT) : NULL;
        sigs[i] = sg ? json_dumps(sg, JSON_COMPACT) : NULL;
        json_decref(doc);
        if (stmt[i] == NULL || sigs[i] == NULL)
            return fail("memo %zu: cannot split the body into statement and signatures", i);
    }
    return 0;
}

/* ---- the PostgreSQL load: one connection per client, one thread, poll() -------- */

typedef struct pg_client {
    PGconn *conn;
    size_t cur;   /* the statement in flight */
    int answered; /* its INSERT has reported success */
} pg_client;

typedef struct pg_load {
    pg_client *cl;
    struct pollfd *fds; /* fds[i] watches cl[i]; fd < 0 once it has no more work */
    size_t clients, count, next, done;
    char **stmt, **sigs;
    uint64_t *sent_ns, *lat_ns;
} pg_load;

/* Watches for the socket becoming writable only while libpq has unsent data. */
static int pg_client_flush(pg_load *l, size_t i)
{
    int r = PQflush(l->cl[i].conn);
    if (r < 0)
        return fail("PostgreSQL, statement %zu: %s", l->cl[i].cur, PQerrorMessage(l->cl[i].conn));
    l->fds[i].events = (short)(POLLIN | (r == 1 ? POLLOUT : 0));
    return 0;
}

/* Sends the next statement on connection i, or retires it when none is left. */
static int pg_client_send(pg_load *l, size_t i)
{
    pg_client *c = &l->cl[i];
    if (l->next >= l->count) {
        l->fds[i].fd = -1;
        return 0;
    }
    c->cur = l->next++;
    c->answered = 0;
    const char *params[2] = {l->stmt[c->cur], l->sigs[c->cur]};
    l->sent_ns[c->cur] = now_ns();
    if (!PQsendQueryPrepared(c->conn, "append", 2, params, NULL, NULL, 0))
        return fail("PostgreSQL, statement %zu: %s", c->cur, PQerrorMessage(c->conn));
    return pg_client_flush(l, i);
}

/* Reads what the server sent on connection i. The latency ends when the
 * INSERT reports success (the commit is durable then, as for a 201); the
 * next statement goes once libpq has the whole answer. 0, or 2 when the
 * server refused the statement or the connection broke. */
static int pg_client_ready(pg_load *l, size_t i, short revents)
{
    pg_client *c = &l->cl[i];
    if ((revents & POLLOUT) && pg_client_flush(l, i) != 0)
        return 2;
    if (!(revents & (POLLIN | POLLERR | POLLHUP)))
        return 0;
    if (!PQconsumeInput(c->conn))
        return fail("PostgreSQL, statement %zu: %s", c->cur, PQerrorMessage(c->conn));
    while (!PQisBusy(c->conn)) {
        PGresult *res = PQgetResult(c->conn);
        if (res == NULL) {
            if (!c->answered)
                return fail("PostgreSQL, statement %zu: no result", c->cur);
            l->done++;
            return pg_client_send(l, i);
        }
        int ok = PQresultStatus(res) == PGRES_COMMAND_OK && !c->answered;
        if (ok)
            l->lat_ns[c->cur] = now_ns() - l->sent_ns[c->cur];
        else
            fail("PostgreSQL, statement %zu: %s", c->cur, PQresultErrorMessage(res));
        PQclear(res);
        if (!ok)
            return 2;
        c->answered = 1;
    }
    return 0;
}

/* Posts every statement, each connection sending the next one as soon as
 * its previous one is answered. 0, or 2 at the first failure. */
static int pg_load_run(pg_load *l)
{
    for (size_t i = 0; i < l->clients; i++) {
        l->fds[i].fd = PQsocket(l->cl[i].conn);
        if (pg_client_send(l, i) != 0)
            return 2;
    }
    while (l->done < l->count) {
        int n = poll(l->fds, (nfds_t)l->clients, 60000);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return fail("poll: %s", strerror(errno));
        if (n == 0)
            return fail("PostgreSQL: no answer for 60 s (%zu of %zu statements done)", l->done,
                        l->count);
        for (size_t i = 0; i < l->clients; i++)
            if (l->fds[i].fd >= 0 && l->fds[i].revents &&
                pg_client_ready(l, i, l->fds[i].revents) != 0)
                return 2;
    }
    return 0;
}

/* One INSERT of the first statement on conn, rolled back. A new backend
 * compiles the plpgsql triggers and fills its caches on its first insert,
 * inside the chain lock: cold, the first round of 64 connections took
 * 200-500 ms per statement and made up the whole p999 of the run, a start-up
 * cost that a county application's long-lived connections pay once. Adds no
 * row; the id sequence still advances (ids start above 1). 0, or 2. */
static int pg_client_warm(PGconn *conn, const pg_load *l)
{
    const char *params[2] = {l->stmt[0], l->sigs[0]};
    int rc = pg_exec(conn, "warming up", "BEGIN", PGRES_COMMAND_OK);
    if (rc == 0) {
        PGresult *res = PQexecPrepared(conn, "append", 2, params, NULL, NULL, 0);
        if (PQresultStatus(res) != PGRES_COMMAND_OK)
            rc = fail("PostgreSQL, warming up: %s",
                      res ? PQresultErrorMessage(res) : PQerrorMessage(conn));
        PQclear(res);
    }
    int rollback_rc = pg_exec(conn, "warming up", "ROLLBACK", PGRES_COMMAND_OK);
    return rc ? rc : rollback_rc;
}

/* One connection per client with the INSERT prepared and warmed up, then
 * non-blocking. */
static int pg_clients_open(const pg_cluster *c, pg_load *l)
{
    for (size_t i = 0; i < l->clients; i++) {
        if ((l->cl[i].conn = pg_connect(c)) == NULL)
            return 2;
        PGresult *res = PQprepare(l->cl[i].conn, "append", pg_insert, 2, NULL);
        int ok = PQresultStatus(res) == PGRES_COMMAND_OK;
        if (!ok)
            fail("PostgreSQL, preparing the INSERT: %s",
                 res ? PQresultErrorMessage(res) : PQerrorMessage(l->cl[i].conn));
        PQclear(res);
        if (!ok || pg_client_warm(l->cl[i].conn, l) != 0)
            return 2;
        if (PQsetnonblocking(l->cl[i].conn, 1) != 0)
            return fail("PostgreSQL: %s", PQerrorMessage(l->cl[i].conn));
    }
    return 0;
}

static void pg_clients_close(pg_load *l)
{
    for (size_t i = 0; l->cl && i < l->clients; i++) {
        PQfinish(l->cl[i].conn);
        l->cl[i].conn = NULL;
    }
}

/* ---- checking the PostgreSQL chain ------------------------------------------- */

/* One row of the walk (binary format: id, statement::text,
 * signatures::text, prev_hash, hash); prev holds the previous row's hash and
 * gets this row's. 0, or 2 naming the row. */
static int pg_check_row(const PGresult *res, uint8_t prev[32])
{
    const uint8_t *idb = (const uint8_t *)PQgetvalue(res, 0, 0);
    int64_t id = 0;
    for (int k = 0; k < 8 && PQgetlength(res, 0, 0) == 8; k++)
        id = (int64_t)((uint64_t)id << 8 | idb[k]);
    const uint8_t *ph = (const uint8_t *)PQgetvalue(res, 0, 3);
    const uint8_t *h = (const uint8_t *)PQgetvalue(res, 0, 4);
    if (PQgetlength(res, 0, 3) != 32 || PQgetlength(res, 0, 4) != 32)
        return fail("audit_log id %" PRId64 ": prev_hash or hash is not 32 bytes", id);
    if (sodium_memcmp(ph, prev, 32) != 0)
        return fail("audit_log id %" PRId64 ": prev_hash is not the hash of the row before "
                    "(the chain forks or is broken)", id);
    uint8_t want[32];
    crypto_hash_sha256_state s;
    crypto_hash_sha256_init(&s);
    crypto_hash_sha256_update(&s, ph, 32);
    crypto_hash_sha256_update(&s, (const uint8_t *)PQgetvalue(res, 0, 1),
                              (unsigned long long)PQgetlength(res, 0, 1));
    crypto_hash_sha256_update(&s, (const uint8_t *)PQgetvalue(res, 0, 2),
                              (unsigned long long)PQgetlength(res, 0, 2));
    crypto_hash_sha256_final(&s, want);
    if (sodium_memcmp(want, h, 32) != 0)
        return fail("audit_log id %" PRId64 ": hash is not sha256(prev_hash || statement || "
                    "signatures)", id);
    memcpy(prev, h, 32);
    return 0;
}

/* Walks audit_log in id order from 32 zero bytes, recomputing every hash
 * here (libsodium, not the server's sha256), and checks that there are
 * `count` rows with distinct statement ids and that the head is the last
 * row's hash. 0, or 2 with the first thing wrong. */
static int pg_verify_chain(PGconn *conn, size_t count)
{
    if (!PQsendQueryParams(conn,
                           "SELECT id, statement::text, signatures::text, prev_hash, hash "
                           "FROM audit_log ORDER BY id",
                           0, NULL, NULL, NULL, NULL, 1) ||
        !PQsetSingleRowMode(conn))
        return fail("PostgreSQL, reading audit_log: %s", PQerrorMessage(conn));
    uint8_t prev[32] = {0};
    size_t rows = 0;
    int rc = 0;
    PGresult *res;
    while ((res = PQgetResult(conn)) != NULL) { /* drained to the end even after an error */
        ExecStatusType st = PQresultStatus(res);
        if (st == PGRES_SINGLE_TUPLE && rc == 0)
            rc = pg_check_row(res, prev), rows++;
        else if (st != PGRES_SINGLE_TUPLE && st != PGRES_TUPLES_OK && rc == 0)
            rc = fail("PostgreSQL, reading audit_log: %s", PQresultErrorMessage(res));
        PQclear(res);
    }
    if (rc != 0)
        return rc;
    if (rows != count)
        return fail("audit_log holds %zu rows, %zu statements were inserted", rows, count);
    char head[80], last[80], distinct[32];
    sodium_bin2hex(last, sizeof last, prev, 32);
    if ((rc = pg_value(conn, "SELECT encode(hash, 'hex') FROM audit_head", head, sizeof head)) ||
        (rc = pg_value(conn, "SELECT count(DISTINCT statement->>'id') FROM audit_log", distinct,
                       sizeof distinct)))
        return rc;
    if (strcmp(head, last) != 0)
        return fail("audit_head is %s, the last row's hash is %s", head, last);
    if (strtoull(distinct, NULL, 10) != count)
        return fail("audit_log holds %s distinct statement ids, not %zu", distinct, count);
    return 0;
}

/* UPDATE, DELETE and TRUNCATE of audit_log must be refused by its triggers. */
static int pg_check_append_only(PGconn *conn)
{
    static const char *const attempts[] = {
        "UPDATE audit_log SET statement = '{}' WHERE id = (SELECT min(id) FROM audit_log)",
        "DELETE FROM audit_log WHERE id = (SELECT max(id) FROM audit_log)",
        "TRUNCATE audit_log",
    };
    for (size_t i = 0; i < sizeof attempts / sizeof *attempts; i++) {
        PGresult *res = PQexec(conn, attempts[i]);
        const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
        int refused = PQresultStatus(res) == PGRES_FATAL_ERROR && state != NULL &&
                      strcmp(state, "P0001") == 0;
        PQclear(res);
        if (!refused)
            return fail("PostgreSQL accepted or failed otherwise on \"%s\": audit_log is not "
                        "append-only", attempts[i]);
    }
    return 0;
}

/* ---- the PostgreSQL run ------------------------------------------------------- */

typedef struct pg_settings {
    char version[128], fsync[16], synchronous_commit[16], full_page_writes[16],
        wal_sync_method[32];
} pg_settings;

/* The settings as the server reports them, so the output states what ran. */
static int pg_read_settings(PGconn *conn, pg_settings *s)
{
    int rc;
    if ((rc = pg_value(conn, "SHOW server_version", s->version, sizeof s->version)) ||
        (rc = pg_value(conn, "SHOW fsync", s->fsync, sizeof s->fsync)) ||
        (rc = pg_value(conn, "SHOW synchronous_commit", s->synchronous_commit,
                       sizeof s->synchronous_commit)) ||
        (rc = pg_value(conn, "SHOW full_page_writes", s->full_page_writes,
                       sizeof s->full_page_writes)) ||
        (rc = pg_value(conn, "SHOW wal_sync_method", s->wal_sync_method,
                       sizeof s->wal_sync_method)))
        return rc;
    if (strcmp(s->fsync, "on") || strcmp(s->synchronous_commit, "on") ||
        strcmp(s->full_page_writes, "on"))
        return fail("PostgreSQL runs with fsync=%s synchronous_commit=%s full_page_writes=%s, "
                    "not the durable defaults", s->fsync, s->synchronous_commit,
                    s->full_page_writes);
    return 0;
}

typedef struct pg_wal {
    double syncs, sync_ms; /* WAL fsyncs so far, and the milliseconds spent in them */
} pg_wal;

/* The server's WAL sync counters (pg_stat_wal); 0, or 2. */
static int pg_wal_read(PGconn *conn, pg_wal *w)
{
    char syncs[64], ms[64];
    int rc;
    if ((rc = pg_value(conn, "SELECT wal_sync FROM pg_stat_wal", syncs, sizeof syncs)) ||
        (rc = pg_value(conn, "SELECT wal_sync_time FROM pg_stat_wal", ms, sizeof ms)))
        return rc;
    w->syncs = strtod(syncs, NULL);
    w->sync_ms = strtod(ms, NULL);
    return 0;
}

/* Waits up to 10 s for the load's backends to exit: a backend adds its WAL
 * statistics to pg_stat_wal when it exits at the latest. */
static int pg_wait_backends_gone(PGconn *conn)
{
    char n[32] = "";
    for (int tries = 0; tries < 200; tries++) {
        int rc = pg_value(conn,
                          "SELECT count(*) FROM pg_stat_activity WHERE backend_type = "
                          "'client backend' AND pid <> pg_backend_pid()",
                          n, sizeof n);
        if (rc != 0 || strcmp(n, "0") == 0)
            return rc;
        usleep(50000);
    }
    return fail("PostgreSQL: %s load connection(s) still open 10 s after closing", n);
}

/* The postmaster's pid, from the first line of data/postmaster.pid; 0 if unknown. */
static pid_t pg_postmaster_pid(const pg_cluster *c)
{
    char path[PATH_MAX + 32], line[32] = "";
    snprintf(path, sizeof path, "%s/postmaster.pid", c->data);
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return 0;
    if (fgets(line, sizeof line, f) == NULL)
        line[0] = '\0';
    fclose(f);
    return (pid_t)atoi(line);
}

/* CPU seconds used so far by process `root` and its children (for the
 * server: the postmaster, its backends and helpers); children that have
 * exited are not counted, so take both samples while the backends live. */
static double proc_family_cpu_seconds(pid_t root)
{
    if (root <= 0)
        return 0;
    double sum = proc_cpu_seconds(root);
    DIR *d = opendir("/proc");
    for (struct dirent *e; d != NULL && (e = readdir(d)) != NULL;) {
        pid_t pid = (pid_t)atoi(e->d_name), parent;
        double cpu;
        if (pid > 0 && proc_stat(pid, &parent, &cpu) == 0 && parent == root)
            sum += cpu;
    }
    if (d != NULL)
        closedir(d);
    return sum;
}

/* Schema, connections, the timed load, the checks and the JSON line. */
static int pg_measure(const pg_cluster *c, PGconn *admin, pg_load *l, double daemon_tput)
{
    pg_settings s;
    pg_wal wal0, wal1;
    int rc;
    if ((rc = pg_exec(admin, "creating the schema", pg_schema, PGRES_COMMAND_OK)) ||
        (rc = pg_read_settings(admin, &s)) || (rc = pg_clients_open(c, l)) ||
        (rc = pg_wal_read(admin, &wal0)))
        return rc;
    pid_t server = pg_postmaster_pid(c);
    double cpu0 = proc_family_cpu_seconds(server), self0 = proc_cpu_seconds(getpid());
    fprintf(stderr, "%s: PostgreSQL %s (fsync=%s synchronous_commit=%s full_page_writes=%s): "
                    "inserting %zu statements from %zu connections\n",
            progname, s.version, s.fsync, s.synchronous_commit, s.full_page_writes, l->count,
            l->clients);
    uint64_t t0 = now_ns();
    if ((rc = pg_load_run(l)) != 0)
        return rc;
    double secs = (double)(now_ns() - t0) / 1e9;
    double server_cpu = proc_family_cpu_seconds(server) - cpu0;
    double client_cpu = proc_cpu_seconds(getpid()) - self0;
    pg_clients_close(l);
    fprintf(stderr, "%s: PostgreSQL: checking the chain\n", progname);
    if ((rc = pg_verify_chain(admin, l->count)) || (rc = pg_check_append_only(admin)) ||
        (rc = pg_wait_backends_gone(admin)) || (rc = pg_wal_read(admin, &wal1)))
        return rc;
    double tput = (double)l->count / secs, syncs = wal1.syncs - wal0.syncs;
    double sync_s = (wal1.sync_ms - wal0.sync_ms) / 1e3;
    qsort(l->lat_ns, l->count, sizeof *l->lat_ns, cmp_u64);
    printf("{\"bench\":\"postgresql\",\"server\":\"%s\",\"clients\":%zu,\"count\":%zu,"
           "\"seconds\":%.3f,\"inserts_per_s\":%.0f,\"p50_ms\":%.2f,\"p99_ms\":%.2f,"
           "\"p999_ms\":%.2f,\"max_ms\":%.2f,\"wal_syncs_per_s\":%.0f,\"wal_sync_mean_ms\":%.2f,"
           "\"wal_sync_busy\":%.2f,\"server_cpu_cores\":%.2f,"
           "\"client_cpu_cores\":%.2f,\"fsync\":\"%s\",\"synchronous_commit\":\"%s\","
           "\"full_page_writes\":\"%s\",\"wal_sync_method\":\"%s\",\"transaction\":\"one "
           "autocommit INSERT per statement\",\"chain_verified\":true,\"append_only_verified\":true,"
           "\"taizhangd_appends_per_s\":%.0f,\"ratio\":%.2f,\"verifies_ed25519\":false,"
           "\"merkle_tree\":false,\"projections\":false,\"note\":\"ratio = taizhangd appends/s / "
           "PostgreSQL inserts/s. PostgreSQL does not verify the Ed25519 signatures (it has no "
           "Ed25519) while taizhangd verifies every one, and it builds no Merkle tree, signed "
           "checkpoint or projection: it stores the JSON and hash-chains the rows\"}\n",
           s.version, l->clients, l->count, secs, tput, pct_ms(l->lat_ns, l->count, 0.5),
           pct_ms(l->lat_ns, l->count, 0.99), pct_ms(l->lat_ns, l->count, 0.999),
           pct_ms(l->lat_ns, l->count, 1.0),
           syncs / secs, syncs > 0 ? sync_s * 1e3 / syncs : 0, sync_s / secs, server_cpu / secs,
           client_cpu / secs, s.fsync, s.synchronous_commit, s.full_page_writes,
           s.wal_sync_method, daemon_tput, daemon_tput / tput);
    fflush(stdout);
    return 0;
}

/* The PostgreSQL run on the daemon's bodies, --clients connections; prints
 * one JSON line. 0, or 2 after a failure; the cluster is stopped and its dir
 * removed either way. */
static int pg_bench(const opts *o, char *const *bodies, double daemon_tput)
{
    pg_cluster c = {0};
    pg_load l = {.clients = o->clients, .count = o->count};
    PGconn *admin = NULL;
    int rc = pg_owner(&c.switch_user, &c.uid, &c.gid);
    l.stmt = calloc(l.count, sizeof *l.stmt);
    l.sigs = calloc(l.count, sizeof *l.sigs);
    l.sent_ns = calloc(l.count, sizeof *l.sent_ns);
    l.lat_ns = calloc(l.count, sizeof *l.lat_ns);
    l.cl = calloc(l.clients, sizeof *l.cl);
    l.fds = calloc(l.clients, sizeof *l.fds);
    if (rc == 0 && (!l.stmt || !l.sigs || !l.sent_ns || !l.lat_ns || !l.cl || !l.fds))
        rc = fail("out of memory");
    if (rc == 0)
        rc = pg_split_bodies(bodies, l.count, l.stmt, l.sigs);
    if (rc == 0)
        rc = pg_cluster_start(&c, o->clients);
    if (rc == 0 && (admin = pg_connect(&c)) == NULL)
        rc = 2;
    if (rc == 0)
        rc = pg_measure(&c, admin, &l, daemon_tput);
    pg_clients_close(&l);
    PQfinish(admin);
    int stop_rc = pg_cluster_stop(&c, rc != 0);
    for (size_t i = 0; i < l.count; i++) {
        free(l.stmt ? l.stmt[i] : NULL);
        free(l.sigs ? l.sigs[i] : NULL);
    }
    free(l.stmt);
    free(l.sigs);
    free(l.sent_ns);
    free(l.lat_ns);
    free(l.cl);
    free(l.fds);
    return rc ? rc : stop_rc;
}

#else /* no libpq */

static int pg_preflight(void)
{
    return fail("--pg: this bench_daemon was built without libpq; install libpq-dev and "
                "rebuild (CMake finds libpq with pkg-config)");
}

static int pg_bench(const opts *o, char *const *bodies, double daemon_tput)
{
    return pg_preflight();
}

#endif

/* ---- main ---------------------------------------------------------------------- */

int main(int argc, char **argv)
{
    opts o;
    int rc = parse_opts(argc, argv, &o);
    if (rc != 0)
        return rc < 0 ? 0 : rc;
    if (o.pg && (rc = pg_preflight()) != 0)
        return rc;
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
    flooder *fl = NULL;
    size_t nflooders = 0;
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
    if (o.flooders > 0) {
        fprintf(stderr, "%s: --mixed: %d memos into the ledger first\n", progname, FLOOD_PREFILL);
        if ((rc = prefill(db, &cadre)) != 0)
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
    _Atomic int flood_stop = 0;
    fl = calloc(o.flooders ? o.flooders : 1, sizeof *fl);
    if (fl == NULL) {
        rc = fail("out of memory");
        goto out;
    }
    pthread_t rt;
    pthread_create(&rt, NULL, reader_main, &r);
    for (size_t i = 0; i < o.flooders; i++) {
        fl[i] = (flooder){.port = l.port, .stop = &flood_stop, .cap = 1u << 16};
        fl[i].lat_ns = calloc(fl[i].cap, sizeof *fl[i].lat_ns);
        if (fl[i].lat_ns == NULL || pthread_create(&fl[i].thread, NULL, flooder_main, &fl[i]) != 0) {
            rc = fail("cannot start flooder %zu", i);
            atomic_store(&flood_stop, 1);
            for (size_t k = 0; k < i; k++)
                pthread_join(fl[k].thread, NULL);
            atomic_store(&r.stop, 1);
            pthread_join(rt, NULL);
            goto out;
        }
        nflooders++;
    }
    if (o.flooders > 0) /* every flooder has a read in flight before the appends start */
        usleep(200000);
    fprintf(stderr, "%s: posting %lu memos from %lu clients%s\n", progname, o.count, o.clients,
            o.flooders ? " beside the read flood" : "");
    uint64_t t0 = now_ns();
    for (size_t i = 0; i < o.clients; i++)
        client_send(&cl[i]);
    event_base_dispatch(l.base);
    uint64_t elapsed = now_ns() - t0;
    double daemon_cpu = proc_cpu_seconds(pid) - cpu0;
    double client_cpu = proc_cpu_seconds(getpid()) - self0;
    atomic_store(&flood_stop, 1);
    size_t flood_n = 0;
    int flood_errors = 0;
    for (size_t i = 0; i < nflooders; i++) {
        pthread_join(fl[i].thread, NULL);
        flood_n += fl[i].n;
        flood_errors += fl[i].errors;
    }
    nflooders = 0;
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
    if (o.flooders > 0) {
        uint64_t *all = calloc(flood_n ? flood_n : 1, sizeof *all);
        if (all == NULL) {
            rc = fail("out of memory");
            goto out;
        }
        size_t k = 0;
        for (size_t i = 0; i < o.flooders; i++) {
            memcpy(all + k, fl[i].lat_ns, fl[i].n * sizeof *all);
            k += fl[i].n;
        }
        qsort(all, flood_n, sizeof *all, cmp_u64);
        printf("{\"bench\":\"daemon_mixed\",\"read_flooders\":%lu,\"append_clients\":%lu,"
               "\"flood_endpoint\":\"%s\",\"flood_reads\":%zu,\"flood_reads_per_s\":%.0f,"
               "\"flood_p50_ms\":%.2f,\"flood_p99_ms\":%.2f,\"appends_per_s\":%.0f,"
               "\"append_p50_ms\":%.2f,\"append_p99_ms\":%.2f,\"append_max_ms\":%.2f,"
               "\"goal_append_p99_ms\":50}\n",
               o.flooders, o.clients, FLOOD_PATH, flood_n, (double)flood_n / secs,
               pct_ms(all, flood_n, 0.5), pct_ms(all, flood_n, 0.99), tput,
               pct_ms(l.lat_ns, o.count, 0.5), pct_ms(l.lat_ns, o.count, 0.99),
               pct_ms(l.lat_ns, o.count, 1.0));
        free(all);
        if (flood_errors)
            rc = fail("%d flood read(s) failed", flood_errors);
    }
    fflush(stdout);
    if (r.errors)
        rc = fail("%d read(s) failed", r.errors);
    if (rc == 0 && o.pg) {
        /* Idle, the daemon would still hold memory: the server gets the machine. */
        rc = daemon_stop(pid);
        pid = -1;
        if (rc == 0)
            rc = pg_bench(&o, l.bodies, tput);
    }
out:
    if (pid > 0 && daemon_stop(pid) != 0)
        rc = 2;
    for (size_t i = 0; fl != NULL && i < o.flooders; i++)
        free(fl[i].lat_ns);
    free(fl);
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
