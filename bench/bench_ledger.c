/*
 * bench_ledger: what a ledger costs on the machine at hand, measured end to
 * end through the library, printed as one JSON line on stdout (progress on
 * stderr).
 *
 * Design. The figures that decide whether the ledger is fit for a county
 * are durable appends per second and how fast (and in how much memory) an
 * auditor can replay the whole log. A run:
 *   1. creates a fresh ledger in a temp dir ($TMPDIR or /tmp): root, log and
 *      cadre keys, genesis, and a key.grant of role "cadre" signed by root;
 *   2. appends --count memo statements (128 bytes each, the size of a real
 *      民情日志 memo) signed by the cadre key, in group commits of --group:
 *      every group is one synced RocksDB write, so this is DURABLE appends/s
 *      at that group size. Statements are encoded and signed per group
 *      OUTSIDE the timer (that is the client's work, and memory stays flat
 *      at 1M entries); only tz_ledger_append is timed. Then --single more,
 *      one per call: one fsync per append, the worst case of a daemon with
 *      one writer at a time;
 *   3. runs tz_verify_ledger in a child process (fork, then exec of this
 *      binary in a hidden mode so the child's address space holds nothing
 *      of the parent's) and reads its peak RSS (wait4 ru_maxrss, KiB) and
 *      its CPU time; the child times the verify call itself;
 *   4. measures the one-core Ed25519 ceiling in the same run:
 *      crypto_sign_verify_detached over the exact signed message of a memo
 *      (TZ_STATEMENT_TAG || statement) for ~2 s, once before and once after
 *      the verify, and tz_key_verify_statement on the same input.
 * The machine is a shared, noisy 2-core VM, so absolute rates move from run
 * to run (other jobs, a busy SMT sibling); the verifier's rate is therefore
 * also reported as a ratio to the ceiling measured in the same run
 * (verify_ratio_to_one_core: wall clock, CLOCK_MONOTONIC), and again per
 * CPU second of the thread doing the work (verify_ratio_cpu), which is
 * blind to time the thread spent descheduled. The two ceiling samples are
 * printed too, and the ceiling is the better of them (a sample taken while
 * the machine was busy is low, and a low ceiling would flatter the ratio). The verifier checks one Ed25519
 * signature per memo on one thread, so a ratio of 1.0 means "everything but
 * the signature checks is free"; the project's goal is >= 0.8, and a peak
 * RSS under 64 MiB for 1,000,000 entries.
 *
 * Every library status is checked; on any error the message goes to stderr
 * and the exit status is 2. The temp dir is removed at the end unless
 * --keep is given (then its path is in the JSON line as "dir").
 */
#include <errno.h>
#include <ftw.h>
#include <getopt.h>
#include <inttypes.h>
#include <jansson.h>
#include <limits.h>
#include <msgpack.h>
#include <sodium.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "crypto/key.h"
#include "crypto/keyfile.h"
#include "ledger/entry.h"
#include "ledger/ledger.h"
#include "ledger/statement.h"
#include "ledger/verify.h"
#include "util/status.h"

#define DEFAULT_COUNT 100000u
#define DEFAULT_GROUP 256u
#define DEFAULT_SINGLE 1000u
#define DEFAULT_ED25519_SECONDS 2.0
#define MAX_GROUP 65536u
#define ORIGIN "taizhang.example/bench"
#define CHILD_FLAG "--verify-child"

static const char *progname = "bench_ledger";

/* Prints "bench_ledger: message" to stderr; returns 2 (the exit status). */
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

static int fail_err(const char *what, const tz_err *e)
{
    return fail("%s: %s (%s)", what, e->msg, tz_status_name(e->code));
}

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* CPU time of the calling thread, in ns. */
static uint64_t thread_cpu_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static double seconds(uint64_t ns)
{
    return (double)ns / 1e9;
}

/* ---- options ------------------------------------------------------------ */

typedef struct bench_opts {
    uint64_t count;
    uint64_t group;
    uint64_t single;
    double ed25519_seconds;
    int keep;
    int sigs_verified;
} bench_opts;

/* Flags of every timed tz_ledger_append; --sigs-verified adds
 * TZ_APPEND_SIGS_VERIFIED, the call taizhangd's writer makes (its workers
 * verified the signatures), so the figure is the writer's own cost. */
static int append_flags = TZ_APPEND_STOP_ON_REJECT;

static int parse_u64(const char *s, const char *opt, uint64_t min, uint64_t max, uint64_t *out)
{
    char *end;
    errno = 0;
    if (s == NULL || *s < '0' || *s > '9')
        return fail("%s: expects an integer from %" PRIu64 " to %" PRIu64, opt, min, max);
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end != '\0' || v < min || v > max)
        return fail("%s: \"%s\" is not an integer from %" PRIu64 " to %" PRIu64, opt, s, min, max);
    *out = v;
    return 0;
}

static int usage(FILE *f)
{
    fprintf(f, "usage: %s [--count N] [--group G] [--single N] [--ed25519-seconds S] [--keep]\n"
               "       [--sigs-verified]\n"
               "  --count N            memos appended in group commits (default %u)\n"
               "  --group G            memos per group commit, 1..%u (default %u)\n"
               "  --single N           memos appended one per commit (default %u; 0 skips)\n"
               "  --ed25519-seconds S  length of each ceiling loop, 1..60 (default 2)\n"
               "  --keep               keep the temp dir (its path is printed)\n"
               "  --sigs-verified      append as taizhangd's writer does: signatures were\n"
               "                       checked before (the append skips Ed25519)\n"
               "Prints one JSON line on stdout; exit 0 ok, 2 on any error.\n",
            progname, DEFAULT_COUNT, MAX_GROUP, DEFAULT_GROUP, DEFAULT_SINGLE);
    return f == stdout ? 0 : 2;
}

/* Returns 0 with *o filled, -1 for --help (usage printed), 2 on error. */
static int parse_opts(int argc, char **argv, bench_opts *o)
{
    static const struct option long_opts[] = {
        {"count", required_argument, NULL, 'c'},
        {"group", required_argument, NULL, 'g'},
        {"single", required_argument, NULL, 's'},
        {"ed25519-seconds", required_argument, NULL, 'e'},
        {"keep", no_argument, NULL, 'k'},
        {"sigs-verified", no_argument, NULL, 'v'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    *o = (bench_opts){DEFAULT_COUNT, DEFAULT_GROUP, DEFAULT_SINGLE, DEFAULT_ED25519_SECONDS, 0, 0};
    int c;
    uint64_t secs;
    while ((c = getopt_long(argc, argv, "", long_opts, NULL)) != -1) {
        switch (c) {
        case 'c':
            if (parse_u64(optarg, "--count", 1, 100000000u, &o->count))
                return 2;
            break;
        case 'g':
            if (parse_u64(optarg, "--group", 1, MAX_GROUP, &o->group))
                return 2;
            break;
        case 's':
            if (parse_u64(optarg, "--single", 0, 10000000u, &o->single))
                return 2;
            break;
        case 'e':
            if (parse_u64(optarg, "--ed25519-seconds", 1, 60, &secs))
                return 2;
            o->ed25519_seconds = (double)secs;
            break;
        case 'k':
            o->keep = 1;
            break;
        case 'v':
            o->sigs_verified = 1;
            append_flags |= TZ_APPEND_SIGS_VERIFIED;
            break;
        case 'h':
            usage(stdout);
            return -1;
        default:
            return usage(stderr);
        }
    }
    if (optind != argc)
        return fail("unexpected argument \"%s\" (see --help)", argv[optind]);
    return 0;
}

/* ---- files -------------------------------------------------------------- */

static int rm_cb(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    if (remove(path) != 0)
        fprintf(stderr, "%s: cannot remove %s: %s\n", progname, path, strerror(errno));
    return 0;
}

static uint64_t du_total;

static int du_cb(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)path;
    (void)ftw;
    if (flag == FTW_F)
        du_total += (uint64_t)st->st_size;
    return 0;
}

/* Bytes in regular files under path (0 when it cannot be walked). */
static uint64_t disk_bytes(const char *path)
{
    du_total = 0;
    if (nftw(path, du_cb, 16, FTW_PHYS) != 0)
        return 0;
    return du_total;
}

/* ---- statements --------------------------------------------------------- */

/* The keys of the bench ledger. Secret: wiped by keys_wipe on every path. */
typedef struct bench_keys {
    tz_secret_key root;
    tz_secret_key log;
    tz_secret_key cadre;
} bench_keys;

static void keys_wipe(bench_keys *k)
{
    tz_key_wipe(&k->root);
    tz_key_wipe(&k->log);
    tz_key_wipe(&k->cadre);
}

/* One statement encoded and signed by one key, ready to submit. */
typedef struct signed_statement {
    msgpack_sbuffer sb;
    tz_signature sig;
} signed_statement;

/* Encodes {type, id, at, body} canonically into s->sb (reused) and signs it
 * with key. Takes ownership of body. Returns 0, or 2 with the message
 * printed. */
static int statement_make(signed_statement *s, const tz_secret_key *key, const char *type,
                          const char *id, const char *at, json_t *body)
{
    json_t *obj = json_pack("{s:s,s:s,s:s,s:o}", "type", type, "id", id, "at", at, "body", body);
    if (obj == NULL)
        return fail("statement %s: out of memory", id);
    s->sb.size = 0;
    tz_err e;
    int rc = tz_statement_from_json(&s->sb, obj, &e);
    json_decref(obj);
    if (rc != TZ_OK)
        return fail_err(id, &e);
    memcpy(s->sig.key, key->pub.pk, 32);
    if (tz_key_sign_statement(s->sig.sig, key, (const uint8_t *)s->sb.data, s->sb.size, &e) != TZ_OK)
        return fail_err(id, &e);
    return 0;
}

/* A memo of the size of a real work-diary memo (about 120 bytes encoded). */
static int memo_make(signed_statement *s, const tz_secret_key *cadre, uint64_t n, const char *at)
{
    char id[64], text[128];
    snprintf(id, sizeof id, "bench/memo/%09" PRIu64, n);
    snprintf(text, sizeof text, "民情日志 第%09" PRIu64 "篇: 走访农户, 记录诉求", n);
    json_t *body = json_pack("{s:s}", "text", text);
    if (body == NULL)
        return fail("%s: out of memory", id);
    return statement_make(s, cadre, "memo", id, at, body);
}

/* Appends subs[0..n) as one group commit and checks that every one was
 * accepted as a new entry. *elapsed_ns is the time of tz_ledger_append
 * alone. Returns 0, or 2 with the message printed. */
static int append_group(tz_ledger *l, const tz_submission *subs, size_t n,
                        tz_append_result *res, uint64_t *elapsed_ns)
{
    size_t processed = 0;
    tz_err e;
    uint64_t t0 = now_ns();
    int rc = tz_ledger_append(l, subs, n, res, &processed, append_flags, &e);
    *elapsed_ns = now_ns() - t0;
    if (rc != TZ_OK)
        return fail_err("append", &e);
    for (size_t i = 0; i < processed; i++) {
        if (res[i].status != TZ_OK)
            return fail("append: submission %zu of %zu rejected: %s", i, n, res[i].err.msg);
        if (res[i].existing)
            return fail("append: submission %zu of %zu was already in the log (seq %" PRIu64 ")",
                        i, n, res[i].seq);
    }
    if (processed != n)
        return fail("append: %zu of %zu submissions processed", processed, n);
    return 0;
}

/* ---- statistics --------------------------------------------------------- */

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* The p-th percentile (nearest rank) of v[0..n), in ms; sorts v. 0 if n == 0. */
static double percentile_ms(uint64_t *v, size_t n, double p)
{
    if (n == 0)
        return 0;
    qsort(v, n, sizeof *v, cmp_u64);
    size_t rank = (size_t)(p / 100.0 * (double)n + 0.999999);
    if (rank < 1)
        rank = 1;
    if (rank > n)
        rank = n;
    return (double)v[rank - 1] / 1e6;
}

static double round_to(double x, double unit)
{
    return (double)(int64_t)(x / unit + 0.5) * unit;
}

/* ---- set-up ------------------------------------------------------------- */

typedef struct bench_ledger {
    char dir[PATH_MAX];       /* the temp dir */
    char ledger_dir[PATH_MAX + 16];
    char at[32];              /* `at` of every statement: the start time, UTC */
    bench_keys keys;
} bench_ledger;

/* Creates the temp dir, the three keys (written as key files, as
 * `taizhang keygen` would), the ledger, and grants the cadre key. */
static int ledger_setup(bench_ledger *b)
{
    const char *tmp = getenv("TMPDIR");
    int n = snprintf(b->dir, sizeof b->dir, "%s/taizhang-bench.XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (n < 0 || (size_t)n >= sizeof b->dir - 32)
        return fail("TMPDIR: path too long");
    if (mkdtemp(b->dir) == NULL)
        return fail("cannot create a temp dir %s: %s", b->dir, strerror(errno));
    snprintf(b->ledger_dir, sizeof b->ledger_dir, "%s/ledger", b->dir);
    time_t t = time(NULL);
    struct tm tm;
    if (gmtime_r(&t, &tm) == NULL || strftime(b->at, sizeof b->at, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
        return fail("cannot format the current time");

    static const struct {
        const char *file, *name;
        size_t offset;
    } key_specs[] = {
        {"root.key", "bench-root", offsetof(bench_keys, root)},
        {"log.key", "bench-log", offsetof(bench_keys, log)},
        {"cadre.key", "bench-cadre", offsetof(bench_keys, cadre)},
    };
    tz_err e;
    char path[PATH_MAX + 32];
    char log_path[PATH_MAX + 32] = "";
    for (size_t i = 0; i < sizeof key_specs / sizeof key_specs[0]; i++) {
        tz_secret_key *k = (tz_secret_key *)((char *)&b->keys + key_specs[i].offset);
        snprintf(path, sizeof path, "%s/%s", b->dir, key_specs[i].file);
        if (tz_key_generate(k, key_specs[i].name, &e) != TZ_OK)
            return fail_err("keygen", &e);
        if (tz_keyfile_write_secret(path, k, NULL, &e) != TZ_OK)
            return fail_err("keygen", &e);
        if (k == &b->keys.log)
            memcpy(log_path, path, sizeof path);
    }
    if (tz_ledger_create(b->ledger_dir, ORIGIN, log_path, NULL, &b->keys.root.pub, 1, &e) != TZ_OK)
        return fail_err("init", &e);

    tz_ledger *l = NULL;
    if (tz_ledger_open(&l, b->ledger_dir, 0, NULL, &e) != TZ_OK)
        return fail_err("open", &e);
    char vkey[TZ_KEY_STRING_MAX];
    signed_statement grant;
    msgpack_sbuffer_init(&grant.sb);
    int rc = 0;
    if (tz_key_format_public(vkey, sizeof vkey, &b->keys.cadre.pub, &e) != TZ_OK) {
        rc = fail_err("grant", &e);
        goto out;
    }
    json_t *body = json_pack("{s:s,s:s,s:[s],s:s}", "key", vkey, "holder", "bench-cadre",
                             "roles", "cadre", "scope", "village:bench");
    if (body == NULL) {
        rc = fail("grant: out of memory");
        goto out;
    }
    if ((rc = statement_make(&grant, &b->keys.root, "key.grant", "grant/bench-cadre", b->at,
                             body)) != 0)
        goto out;
    tz_submission sub = {(const uint8_t *)grant.sb.data, grant.sb.size, &grant.sig, 1};
    tz_append_result res;
    uint64_t ns;
    rc = append_group(l, &sub, 1, &res, &ns);
out:
    msgpack_sbuffer_destroy(&grant.sb);
    tz_ledger_close(l);
    return rc;
}

/* ---- appends ------------------------------------------------------------ */

typedef struct append_figures {
    uint64_t entries;
    uint64_t ns;             /* summed time inside tz_ledger_append */
    uint64_t *latency_ns;    /* per call */
    size_t calls;
} append_figures;

/* Appends count memos numbered from first, group per call, timing each
 * call. On success f->latency_ns is malloc'd (caller frees). */
static int append_memos(tz_ledger *l, const bench_ledger *b, uint64_t first, uint64_t count,
                        size_t group, const char *label, append_figures *f)
{
    memset(f, 0, sizeof *f);
    size_t ncalls = (size_t)((count + group - 1) / group);
    signed_statement *p = calloc(group, sizeof *p);
    tz_submission *subs = calloc(group, sizeof *subs);
    tz_append_result *res = calloc(group, sizeof *res);
    f->latency_ns = malloc(ncalls * sizeof *f->latency_ns);
    int rc = 0;
    if (p == NULL || subs == NULL || res == NULL || f->latency_ns == NULL) {
        rc = fail("%s: out of memory", label);
        goto out;
    }
    for (size_t i = 0; i < group; i++)
        msgpack_sbuffer_init(&p[i].sb);
    uint64_t done = 0, next_report = count / 10, t_start = now_ns();
    while (done < count) {
        size_t n = (size_t)(count - done < group ? count - done : group);
        for (size_t i = 0; i < n; i++) {
            if ((rc = memo_make(&p[i], &b->keys.cadre, first + done + i, b->at)) != 0)
                goto out;
            subs[i] = (tz_submission){(const uint8_t *)p[i].sb.data, p[i].sb.size, &p[i].sig, 1};
        }
        uint64_t ns;
        if ((rc = append_group(l, subs, n, res, &ns)) != 0)
            goto out;
        f->latency_ns[f->calls++] = ns;
        f->ns += ns;
        done += n;
        if (done >= next_report || done == count) {
            fprintf(stderr, "%s: %" PRIu64 " / %" PRIu64 " appended, %.0f appends/s in the ledger, "
                    "%.0f s wall\n", label, done, count, (double)done / seconds(f->ns),
                    seconds(now_ns() - t_start));
            next_report += count / 10 ? count / 10 : 1;
        }
    }
    f->entries = done;
out:
    if (p != NULL)
        for (size_t i = 0; i < group; i++)
            msgpack_sbuffer_destroy(&p[i].sb);
    free(p);
    free(subs);
    free(res);
    if (rc != 0) {
        free(f->latency_ns);
        f->latency_ns = NULL;
    }
    return rc;
}

/* ---- the Ed25519 ceiling ------------------------------------------------ */

enum { VERIFY_RAW, VERIFY_STATEMENT };

typedef struct rate {
    double per_s;      /* per second of wall clock (CLOCK_MONOTONIC) */
    double per_cpu_s;  /* per second of this thread's CPU time */
} rate;

/* Verifications per second on this thread for ~secs seconds: mode
 * VERIFY_RAW calls crypto_sign_verify_detached on tag || stmt (the exact
 * signed message), VERIFY_STATEMENT calls tz_key_verify_statement on stmt.
 * Returns 0 with *r filled, or 2 (message printed) when a valid signature
 * does not verify, which would be a bug. */
static int ed25519_rate(rate *r, int mode, const uint8_t *stmt, size_t len,
                        const tz_signature *sig, double secs)
{
    size_t tag_len = strlen(TZ_STATEMENT_TAG);
    uint8_t *msg = malloc(tag_len + len);
    if (msg == NULL)
        return fail("ed25519: out of memory");
    memcpy(msg, TZ_STATEMENT_TAG, tag_len);
    memcpy(msg + tag_len, stmt, len);
    uint64_t n = 0, c0 = thread_cpu_ns(), t0 = now_ns(), limit = (uint64_t)(secs * 1e9), t = t0;
    int bad = 0;
    while (!bad && t - t0 < limit) {
        for (int i = 0; i < 64; i++) {
            if (mode == VERIFY_RAW)
                bad |= crypto_sign_verify_detached(sig->sig, msg, tag_len + len, sig->key) != 0;
            else
                bad |= tz_key_verify_statement(sig->sig, sig->key, stmt, len, NULL) != TZ_OK;
        }
        n += 64;
        t = now_ns();
    }
    uint64_t cpu = thread_cpu_ns() - c0;
    free(msg);
    if (bad)
        return fail("ed25519: a valid signature did not verify (mode %d)", mode);
    r->per_s = (double)n / seconds(t - t0);
    r->per_cpu_s = (double)n / seconds(cpu);
    return 0;
}

/* ---- verify in a child process ------------------------------------------ */

/* KiB of a "VmHWM:"-style line of /proc/self/status, or 0. */
static uint64_t proc_status_kib(const char *field)
{
    FILE *f = fopen("/proc/self/status", "r");
    if (f == NULL)
        return 0;
    char line[256];
    uint64_t v = 0;
    size_t flen = strlen(field);
    while (fgets(line, sizeof line, f) != NULL)
        if (strncmp(line, field, flen) == 0) {
            v = strtoull(line + flen, NULL, 10);
            break;
        }
    fclose(f);
    return v;
}

static void verify_progress(void *ctx, uint64_t done, uint64_t total)
{
    uint64_t *next = ctx;
    if (done >= *next || done >= total) {
        fprintf(stderr, "verify: %" PRIu64 " / %" PRIu64 " entries\n", done, total);
        *next += 1u << 17;
    }
}

/* The child: verifies dir and prints "size ns cpu_ns hwm_before_kib" on
 * stdout (a pipe to the parent): entries replayed, wall time and this
 * thread's CPU time of the verify call, and the peak RSS before it. Exit 0
 * when the ledger verified, 2 otherwise. */
static int verify_child(const char *dir)
{
    if (sodium_init() < 0)
        return fail("verify: libsodium could not initialise");
    uint64_t hwm_before = proc_status_kib("VmHWM:");
    uint64_t next = 1u << 17;
    tz_verify_options vo = {.progress = verify_progress, .progress_ctx = &next};
    tz_verify_report rep;
    tz_err e;
    uint64_t c0 = thread_cpu_ns(), t0 = now_ns();
    int rc = tz_verify_ledger(dir, &vo, &rep, &e);
    uint64_t ns = now_ns() - t0, cpu_ns = thread_cpu_ns() - c0;
    if (rc != TZ_OK)
        return fail_err("verify", &e);
    if (!rep.ok) {
        if (rep.has_bad_seq)
            return fail("verify: TAMPERED at seq %" PRIu64 ": %s", rep.first_bad_seq, rep.reason);
        return fail("verify: TAMPERED: %s", rep.reason);
    }
    printf("%" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRIu64 "\n", rep.size, ns, cpu_ns, hwm_before);
    return fflush(stdout) == 0 ? 0 : fail("verify: cannot report to the parent");
}

typedef struct verify_figures {
    uint64_t entries;
    uint64_t ns;             /* the tz_verify_ledger call, timed by the child */
    uint64_t thread_cpu_ns;  /* CPU time of the thread that ran it */
    uint64_t wall_ns;        /* fork to reap, timed by the parent */
    uint64_t maxrss_kib;     /* wait4 ru_maxrss */
    uint64_t baseline_kib;   /* the child's VmHWM before the verify call */
    double cpu_s;            /* user + system time of the child, all threads */
} verify_figures;

/* Runs `self --verify-child dir` with stdout on a pipe, reads its report
 * and its rusage. */
static int verify_in_child(const char *dir, verify_figures *f)
{
    int fds[2];
    if (pipe(fds) != 0)
        return fail("verify: pipe: %s", strerror(errno));
    fflush(NULL);
    uint64_t t0 = now_ns();
    pid_t pid = fork();
    if (pid < 0) {
        close(fds[0]);
        close(fds[1]);
        return fail("verify: fork: %s", strerror(errno));
    }
    if (pid == 0) {
        close(fds[0]);
        if (dup2(fds[1], STDOUT_FILENO) < 0)
            _exit(2);
        close(fds[1]);
        char *const argv[] = {(char *)progname, (char *)CHILD_FLAG, (char *)dir, NULL};
        execv("/proc/self/exe", argv);
        fprintf(stderr, "%s: verify: exec /proc/self/exe: %s\n", progname, strerror(errno));
        _exit(2);
    }
    close(fds[1]);
    char buf[256];
    size_t got = 0;
    ssize_t r;
    while (got < sizeof buf - 1 && ((r = read(fds[0], buf + got, sizeof buf - 1 - got)) > 0 ||
                                    (r < 0 && errno == EINTR)))
        if (r > 0)
            got += (size_t)r;
    buf[got] = '\0';
    close(fds[0]);
    int status;
    struct rusage ru;
    pid_t w;
    while ((w = wait4(pid, &status, 0, &ru)) < 0 && errno == EINTR)
        ;
    f->wall_ns = now_ns() - t0;
    if (w < 0)
        return fail("verify: wait4: %s", strerror(errno));
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        return fail("verify: the child failed (%s %d)", WIFEXITED(status) ? "exit" : "signal",
                    WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
    if (sscanf(buf, "%" SCNu64 " %" SCNu64 " %" SCNu64 " %" SCNu64, &f->entries, &f->ns,
               &f->thread_cpu_ns, &f->baseline_kib) != 4)
        return fail("verify: the child's report is malformed: \"%s\"", buf);
    f->maxrss_kib = (uint64_t)ru.ru_maxrss;
    f->cpu_s = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
               (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
    return 0;
}

/* ---- the run ------------------------------------------------------------ */

static void put_real(json_t *o, const char *k, double v, double unit)
{
    json_object_set_new(o, k, json_real(round_to(v, unit)));
}

static void put_int(json_t *o, const char *k, uint64_t v)
{
    json_object_set_new(o, k, json_integer((json_int_t)v));
}

static int run(const bench_opts *o)
{
    bench_ledger b;
    memset(&b, 0, sizeof b);
    append_figures grouped = {0}, single = {0};
    tz_ledger *l = NULL;
    json_t *out = NULL;
    signed_statement sample;
    msgpack_sbuffer_init(&sample.sb);
    int rc;

    if (sodium_init() < 0) {
        rc = fail("libsodium could not initialise");
        goto out;
    }
    if ((rc = ledger_setup(&b)) != 0)
        goto out;
    fprintf(stderr, "ledger: %s (genesis + cadre grant)\n", b.ledger_dir);

    tz_err e;
    if (tz_ledger_open(&l, b.ledger_dir, 0, NULL, &e) != TZ_OK) {
        rc = fail_err("open", &e);
        goto out;
    }
    if ((rc = append_memos(l, &b, 0, o->count, (size_t)o->group, "append (grouped)",
                           &grouped)) != 0)
        goto out;
    if (o->single > 0 &&
        (rc = append_memos(l, &b, o->count, o->single, 1, "append (single)", &single)) != 0)
        goto out;
    uint64_t ledger_entries = tz_ledger_size(l);
    uint8_t *raw = NULL;
    size_t entry_len = 0;
    if (tz_ledger_get(l, 2, &raw, &entry_len, &e) != TZ_OK) {
        rc = fail_err("get entry 2", &e);
        goto out;
    }
    tz_store_free(raw);
    tz_ledger_close(l);
    l = NULL;
    uint64_t db_bytes = disk_bytes(b.ledger_dir);

    /* The ceiling input: a memo like the ones in the log. */
    if ((rc = memo_make(&sample, &b.keys.cadre, 0, b.at)) != 0)
        goto out;
    const uint8_t *stmt = (const uint8_t *)sample.sb.data;
    size_t stmt_len = sample.sb.size;
    fprintf(stderr, "ed25519: one-core ceiling, %.0f s per loop, message %zu bytes\n",
            o->ed25519_seconds, strlen(TZ_STATEMENT_TAG) + stmt_len);
    rate before, via_tz, after;
    if ((rc = ed25519_rate(&before, VERIFY_RAW, stmt, stmt_len, &sample.sig,
                           o->ed25519_seconds)) != 0 ||
        (rc = ed25519_rate(&via_tz, VERIFY_STATEMENT, stmt, stmt_len, &sample.sig,
                           o->ed25519_seconds)) != 0)
        goto out;
    fprintf(stderr, "ed25519: %.0f verifications/s (crypto_sign_verify_detached), %.0f/s "
            "(tz_key_verify_statement)\n", before.per_s, via_tz.per_s);

    fprintf(stderr, "verify: %" PRIu64 " entries in a child process\n", ledger_entries);
    verify_figures vf;
    if ((rc = verify_in_child(b.ledger_dir, &vf)) != 0)
        goto out;
    if (vf.entries != ledger_entries) {
        rc = fail("verify: replayed %" PRIu64 " entries, the ledger holds %" PRIu64, vf.entries,
                  ledger_entries);
        goto out;
    }
    double verify_rate = (double)vf.entries / seconds(vf.ns);
    fprintf(stderr, "verify: %.2f s, %.0f entries/s, peak RSS %.1f MiB\n", seconds(vf.ns),
            verify_rate, (double)vf.maxrss_kib / 1024.0);

    if ((rc = ed25519_rate(&after, VERIFY_RAW, stmt, stmt_len, &sample.sig,
                           o->ed25519_seconds)) != 0)
        goto out;
    /* The better of the two samples: a sample taken while the machine was
     * busy only lowers the ceiling, and a lower ceiling would flatter the
     * ratio. */
    double ceiling = before.per_s > after.per_s ? before.per_s : after.per_s;
    double ceiling_cpu = before.per_cpu_s > after.per_cpu_s ? before.per_cpu_s : after.per_cpu_s;
    double verify_cpu_rate = (double)vf.entries / seconds(vf.thread_cpu_ns);
    fprintf(stderr, "ed25519: %.0f verifications/s after the verify; ceiling %.0f/s "
            "(%.0f per CPU second)\n", after.per_s, ceiling, ceiling_cpu);

    out = json_object();
    if (out == NULL) {
        rc = fail("out of memory");
        goto out;
    }
    put_int(out, "entries", grouped.entries);
    put_int(out, "group", o->group);
    if (o->sigs_verified)
        put_int(out, "sigs_verified", 1);
    put_int(out, "statement_bytes", stmt_len);
    put_int(out, "entry_bytes", entry_len);
    put_int(out, "append_per_s", (uint64_t)((double)grouped.entries / seconds(grouped.ns) + 0.5));
    put_real(out, "group_commit_ms_p50", percentile_ms(grouped.latency_ns, grouped.calls, 50), 0.001);
    put_real(out, "group_commit_ms_p99", percentile_ms(grouped.latency_ns, grouped.calls, 99), 0.001);
    put_int(out, "single", single.entries);
    if (single.entries > 0) {
        put_int(out, "append_single_per_s",
                (uint64_t)((double)single.entries / seconds(single.ns) + 0.5));
        put_real(out, "fsync_ms_p50", percentile_ms(single.latency_ns, single.calls, 50), 0.001);
        put_real(out, "fsync_ms_p99", percentile_ms(single.latency_ns, single.calls, 99), 0.001);
    }
    put_real(out, "db_mib", (double)db_bytes / 1048576.0, 0.1);
    put_int(out, "verified_entries", vf.entries);
    put_real(out, "verify_s", seconds(vf.ns), 0.001);
    put_int(out, "verify_entries_per_s", (uint64_t)(verify_rate + 0.5));
    put_real(out, "verify_peak_rss_mib", (double)vf.maxrss_kib / 1024.0, 0.01);
    put_real(out, "verify_baseline_rss_mib", (double)vf.baseline_kib / 1024.0, 0.01);
    put_real(out, "verify_cpu_s", vf.cpu_s, 0.01);
    put_real(out, "verify_main_thread_cpu_s", seconds(vf.thread_cpu_ns), 0.01);
    put_real(out, "verify_cpu_per_wall", vf.cpu_s / seconds(vf.wall_ns), 0.01);
    put_int(out, "verify_entries_per_cpu_s", (uint64_t)(verify_cpu_rate + 0.5));
    put_int(out, "ed25519_verify_per_s_one_core", (uint64_t)(ceiling + 0.5));
    json_object_set_new(out, "ed25519_samples",
                        json_pack("[I,I]", (json_int_t)(before.per_s + 0.5),
                                  (json_int_t)(after.per_s + 0.5)));
    put_int(out, "ed25519_verify_per_cpu_s", (uint64_t)(ceiling_cpu + 0.5));
    put_int(out, "tz_key_verify_statement_per_s", (uint64_t)(via_tz.per_s + 0.5));
    put_real(out, "verify_ratio_to_one_core", verify_rate / ceiling, 0.001);
    put_real(out, "verify_ratio_cpu", verify_cpu_rate / ceiling_cpu, 0.001);
    put_int(out, "cores_used_by_verify", 1);
    if (o->keep)
        json_object_set_new(out, "dir", json_string(b.ledger_dir));
    char *line = json_dumps(out, JSON_COMPACT | JSON_REAL_PRECISION(12));
    if (line == NULL) {
        rc = fail("out of memory");
        goto out;
    }
    puts(line);
    free(line);
    if (fflush(stdout) != 0)
        rc = fail("stdout: %s", strerror(errno));
out:
    json_decref(out);
    msgpack_sbuffer_destroy(&sample.sb);
    tz_ledger_close(l);
    free(grouped.latency_ns);
    free(single.latency_ns);
    keys_wipe(&b.keys);
    if (b.dir[0] != '\0') {
        if (o->keep)
            fprintf(stderr, "kept %s\n", b.dir);
        else
            nftw(b.dir, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
    }
    return rc;
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], CHILD_FLAG) == 0)
        return verify_child(argv[2]);
    bench_opts o;
    int rc = parse_opts(argc, argv, &o);
    if (rc != 0)
        return rc < 0 ? 0 : rc;
    return run(&o);
}
