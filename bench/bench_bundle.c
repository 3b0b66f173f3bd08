/*
 * bench_bundle: what an offline bundle costs, printed as one JSON line on
 * stdout (progress on stderr).
 *
 * Part 1, a large bundle. Creates a ledger of --count memo entries in a
 * temp dir ($TMPDIR or /tmp) the way bench_ledger does (root, log and
 * cadre keys, genesis, a key.grant of role "cadre", then 128-byte memos
 * signed by the cadre key, appended in group commits; the signatures are
 * made here and are valid, so the append is told they were checked,
 * TZ_APPEND_SIGS_VERIFIED, to save set-up time). Exports the whole range
 * to a file (timed), then verifies it in a child process (exec of this
 * binary in a hidden mode, so the child's memory holds nothing of the
 * parent's) twice: streaming the file (tz_bundle_verify_fd, what
 * `taizhang verify --bundle` does) and from one buffer holding the whole
 * file (tz_bundle_verify). Each child reports its entries/s and its own
 * peak RSS (VmHWM after the call; the figure includes the ~11 MiB of the
 * process before it, given as the baseline). The one-core Ed25519
 * ceiling (crypto_sign_verify_detached over the exact message of a memo)
 * is measured in the same run, before and after, and the better sample is
 * the ceiling: the verifier checks one signature per entry on one thread,
 * so entries/s over the ceiling is the share of the time spent on
 * signatures (1.0: everything else is free).
 *
 * Part 2, one inclusion proof in logs of 10^3 .. --max-log leaves. Builds
 * the RFC 6962 tree of the largest log in memory (one array of hashes per
 * level; leaf i = H(0x00 || u64be(i))), which also holds every smaller
 * log's complete subtrees, so one build serves every size. For each size
 * it makes --checks proofs of random leaves with tz_merkle_inclusion_proof
 * through a node reader over the arrays (untimed) and times
 * tz_merkle_verify_inclusion on them (repeated for at least 0.2 s): ns per
 * check and hashes per proof, which should grow like log2 n and nothing
 * more (the check is one SHA-256 of 65 bytes per hash and touches no
 * storage).
 *
 * Every library status is checked; any error prints a message on stderr
 * and exits 2. The temp dir is removed unless --keep.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <getopt.h>
#include <inttypes.h>
#include <jansson.h>
#include <limits.h>
#include <math.h>
#include <msgpack.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "crypto/key.h"
#include "crypto/keyfile.h"
#include "ledger/bundle.h"
#include "ledger/entry.h"
#include "ledger/ledger.h"
#include "ledger/merkle.h"
#include "ledger/statement.h"
#include "util/status.h"

#define DEFAULT_COUNT 1000000u
#define DEFAULT_GROUP 1024u
#define DEFAULT_MAX_LOG 10000000u
#define DEFAULT_CHECKS 20000u
#define ORIGIN "taizhang.example/bench-bundle"
#define CHILD_FLAG "--verify-child"

static const char *progname = "bench_bundle";

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
    uint64_t count, group, max_log, checks;
    double ed25519_seconds;
    int keep, skip_bundle, skip_proofs;
} bench_opts;

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
    fprintf(f, "usage: %s [--count N] [--group G] [--max-log N] [--checks K]\n"
               "       [--ed25519-seconds S] [--skip-bundle] [--skip-proofs] [--keep]\n"
               "  --count N            memo entries in the exported ledger (default %u)\n"
               "  --group G            memos per group commit while building it (default %u)\n"
               "  --max-log N          largest log of the inclusion-proof part, >= 1000\n"
               "                       (default %u; logs 10^3, 10^4, ... up to it)\n"
               "  --checks K           inclusion proofs checked per log size (default %u)\n"
               "  --ed25519-seconds S  length of each ceiling loop, 1..60 (default 2)\n"
               "  --skip-bundle, --skip-proofs   run only the other part\n"
               "  --keep               keep the temp dir (its path is printed)\n"
               "Prints one JSON line on stdout; exit 0 ok, 2 on any error.\n",
            progname, DEFAULT_COUNT, DEFAULT_GROUP, DEFAULT_MAX_LOG, DEFAULT_CHECKS);
    return f == stdout ? 0 : 2;
}

static int parse_opts(int argc, char **argv, bench_opts *o)
{
    static const struct option long_opts[] = {
        {"count", required_argument, NULL, 'c'},
        {"group", required_argument, NULL, 'g'},
        {"max-log", required_argument, NULL, 'm'},
        {"checks", required_argument, NULL, 'k'},
        {"ed25519-seconds", required_argument, NULL, 'e'},
        {"skip-bundle", no_argument, NULL, 'B'},
        {"skip-proofs", no_argument, NULL, 'P'},
        {"keep", no_argument, NULL, 'K'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    *o = (bench_opts){DEFAULT_COUNT, DEFAULT_GROUP, DEFAULT_MAX_LOG, DEFAULT_CHECKS, 2.0, 0, 0, 0};
    int c;
    uint64_t secs;
    while ((c = getopt_long(argc, argv, "", long_opts, NULL)) != -1) {
        switch (c) {
        case 'c':
            if (parse_u64(optarg, "--count", 1, 50000000u, &o->count))
                return 2;
            break;
        case 'g':
            if (parse_u64(optarg, "--group", 1, 65536u, &o->group))
                return 2;
            break;
        case 'm':
            if (parse_u64(optarg, "--max-log", 1000, 100000000u, &o->max_log))
                return 2;
            break;
        case 'k':
            if (parse_u64(optarg, "--checks", 1, 10000000u, &o->checks))
                return 2;
            break;
        case 'e':
            if (parse_u64(optarg, "--ed25519-seconds", 1, 60, &secs))
                return 2;
            o->ed25519_seconds = (double)secs;
            break;
        case 'B': o->skip_bundle = 1; break;
        case 'P': o->skip_proofs = 1; break;
        case 'K': o->keep = 1; break;
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

/* ---- the ledger ------------------------------------------------------------ */

typedef struct bench_keys {
    tz_secret_key root, log, cadre;
} bench_keys;

typedef struct signed_statement {
    msgpack_sbuffer sb;
    tz_signature sig;
} signed_statement;

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

/* The memo of bench_ledger: about 120 bytes encoded. */
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

static int append_all(tz_ledger *l, const tz_submission *subs, size_t n, int flags)
{
    tz_append_result *res = calloc(n, sizeof *res);
    if (res == NULL)
        return fail("append: out of memory");
    size_t processed = 0;
    tz_err e;
    int rc = 0;
    if (tz_ledger_append(l, subs, n, res, &processed, flags | TZ_APPEND_STOP_ON_REJECT, &e) != TZ_OK)
        rc = fail_err("append", &e);
    for (size_t i = 0; rc == 0 && i < n; i++)
        if (i >= processed || res[i].status != TZ_OK || res[i].existing)
            rc = fail("append: submission %zu of %zu not accepted as new: %s", i, n,
                      i < processed ? res[i].err.msg : "not processed");
    free(res);
    return rc;
}

typedef struct bench_ledger {
    char dir[PATH_MAX];
    char ledger_dir[PATH_MAX + 16];
    char log_pub[PATH_MAX + 16];
    char bundle[PATH_MAX + 16];
    char at[32];
    bench_keys keys;
} bench_ledger;

/* Temp dir, keys (log.key and log.key.pub written), ledger, cadre grant. */
static int ledger_setup(bench_ledger *b)
{
    const char *tmp = getenv("TMPDIR");
    int n = snprintf(b->dir, sizeof b->dir, "%s/taizhang-bench-bundle.XXXXXX",
                     tmp && *tmp ? tmp : "/tmp");
    if (n < 0 || (size_t)n >= sizeof b->dir - 32)
        return fail("TMPDIR: path too long");
    if (mkdtemp(b->dir) == NULL)
        return fail("cannot create a temp dir %s: %s", b->dir, strerror(errno));
    snprintf(b->ledger_dir, sizeof b->ledger_dir, "%s/ledger", b->dir);
    snprintf(b->log_pub, sizeof b->log_pub, "%s/log.pub", b->dir);
    snprintf(b->bundle, sizeof b->bundle, "%s/all.bundle", b->dir);
    time_t t = time(NULL);
    struct tm tm;
    if (gmtime_r(&t, &tm) == NULL || strftime(b->at, sizeof b->at, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
        return fail("cannot format the current time");
    tz_err e;
    char log_path[PATH_MAX + 16];
    snprintf(log_path, sizeof log_path, "%s/log.key", b->dir);
    if (tz_key_generate(&b->keys.root, "bench-root", &e) != TZ_OK ||
        tz_key_generate(&b->keys.log, "bench-log", &e) != TZ_OK ||
        tz_key_generate(&b->keys.cadre, "bench-cadre", &e) != TZ_OK ||
        tz_keyfile_write_secret(log_path, &b->keys.log, NULL, &e) != TZ_OK ||
        tz_keyfile_write_public(b->log_pub, &b->keys.log.pub, &e) != TZ_OK)
        return fail_err("keygen", &e);
    if (tz_ledger_create(b->ledger_dir, ORIGIN, log_path, NULL, &b->keys.root.pub, 1, &e) != TZ_OK)
        return fail_err("init", &e);
    tz_ledger *l = NULL;
    if (tz_ledger_open(&l, b->ledger_dir, 0, NULL, &e) != TZ_OK)
        return fail_err("open", &e);
    char vkey[TZ_KEY_STRING_MAX];
    signed_statement grant;
    msgpack_sbuffer_init(&grant.sb);
    int rc = 0;
    json_t *body = NULL;
    if (tz_key_format_public(vkey, sizeof vkey, &b->keys.cadre.pub, &e) != TZ_OK)
        rc = fail_err("grant", &e);
    else if ((body = json_pack("{s:s,s:s,s:[s],s:s}", "key", vkey, "holder", "bench-cadre",
                               "roles", "cadre", "scope", "village:bench")) == NULL)
        rc = fail("grant: out of memory");
    else if ((rc = statement_make(&grant, &b->keys.root, "key.grant", "grant/bench-cadre", b->at,
                                  body)) == 0) {
        tz_submission sub = {(const uint8_t *)grant.sb.data, grant.sb.size, &grant.sig, 1};
        rc = append_all(l, &sub, 1, 0);
    }
    msgpack_sbuffer_destroy(&grant.sb);
    tz_ledger_close(l);
    return rc;
}

/* Appends count memos in groups (signatures made here, so the append is
 * told they were checked). */
static int append_memos(const bench_ledger *b, uint64_t count, size_t group)
{
    tz_ledger *l = NULL;
    tz_err e;
    if (tz_ledger_open(&l, b->ledger_dir, 0, NULL, &e) != TZ_OK)
        return fail_err("open", &e);
    signed_statement *p = calloc(group, sizeof *p);
    tz_submission *subs = calloc(group, sizeof *subs);
    int rc = 0;
    if (p == NULL || subs == NULL)
        rc = fail("append: out of memory");
    for (size_t i = 0; rc == 0 && i < group; i++)
        msgpack_sbuffer_init(&p[i].sb);
    uint64_t done = 0, t0 = now_ns(), next = count / 10;
    while (rc == 0 && done < count) {
        size_t n = (size_t)(count - done < group ? count - done : group);
        for (size_t i = 0; rc == 0 && i < n; i++) {
            rc = memo_make(&p[i], &b->keys.cadre, done + i, b->at);
            subs[i] = (tz_submission){(const uint8_t *)p[i].sb.data, p[i].sb.size, &p[i].sig, 1};
        }
        if (rc == 0)
            rc = append_all(l, subs, n, TZ_APPEND_SIGS_VERIFIED);
        done += n;
        if (done >= next || done == count) {
            fprintf(stderr, "ledger: %" PRIu64 " / %" PRIu64 " memos, %.0f s\n", done, count,
                    seconds(now_ns() - t0));
            next += count / 10 ? count / 10 : 1;
        }
    }
    if (p != NULL)
        for (size_t i = 0; i < group; i++)
            msgpack_sbuffer_destroy(&p[i].sb);
    free(p);
    free(subs);
    tz_ledger_close(l);
    return rc;
}

static int write_file(void *ctx, const void *data, size_t len)
{
    return fwrite(data, 1, len, ctx) == len ? 0 : -1;
}

/* Exports the whole ledger to b->bundle; *ns is the export's time. */
static int export_all(const bench_ledger *b, tz_bundle_export_stats *st, uint64_t *ns)
{
    tz_ledger *l = NULL;
    tz_err e;
    *ns = 0;
    if (tz_ledger_open(&l, b->ledger_dir, TZ_LEDGER_READONLY, NULL, &e) != TZ_OK)
        return fail_err("open", &e);
    FILE *f = fopen(b->bundle, "wbx");
    if (f == NULL) {
        tz_ledger_close(l);
        return fail("%s: %s", b->bundle, strerror(errno));
    }
    static char iobuf[1 << 20];
    setvbuf(f, iobuf, _IOFBF, sizeof iobuf);
    tz_bundle_selection sel = {0, TZ_BUNDLE_TO_END, NULL, NULL, NULL, 0};
    uint64_t t0 = now_ns();
    int rc = tz_bundle_export(l, &sel, write_file, f, st, &e) != TZ_OK ? fail_err("export", &e) : 0;
    if (fclose(f) != 0 && rc == 0)
        rc = fail("%s: %s", b->bundle, strerror(errno));
    *ns = now_ns() - t0;
    tz_ledger_close(l);
    return rc;
}

/* ---- the Ed25519 ceiling ------------------------------------------------------ */

typedef struct rate {
    double per_s;      /* per second of wall clock */
    double per_cpu_s;  /* per second of this thread's CPU time */
} rate;

/* crypto_sign_verify_detached per second on this thread, on the exact
 * message of a memo, for ~secs seconds. */
static int ed25519_rate(rate *r, const uint8_t *stmt, size_t len, const tz_signature *sig,
                        double secs)
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
        for (int i = 0; i < 64; i++)
            bad |= crypto_sign_verify_detached(sig->sig, msg, tag_len + len, sig->key) != 0;
        n += 64;
        t = now_ns();
    }
    uint64_t cpu = thread_cpu_ns() - c0;
    free(msg);
    if (bad)
        return fail("ed25519: a valid signature did not verify");
    r->per_s = (double)n / seconds(t - t0);
    r->per_cpu_s = (double)n / seconds(cpu);
    return 0;
}

/* ---- verify in a child process -------------------------------------------------- */

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

/* The child: verifies the bundle at path against the key file, streaming
 * ("fd") or from one buffer ("buf"), and prints "records ns cpu_ns
 * hwm_before_kib hwm_after_kib" (its own peak RSS before and after the
 * verify call: the parent's wait4 ru_maxrss would also count the pages the
 * child shared with the parent between fork and exec). Exit 0 when it
 * verified, 2 otherwise. */
static int verify_child(const char *mode, const char *path, const char *key_path)
{
    if (sodium_init() < 0)
        return fail("verify: libsodium could not initialise");
    tz_public_key key;
    tz_err e;
    if (tz_keyfile_read_public(&key, key_path, &e) != TZ_OK)
        return fail_err("verify: log key", &e);
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        return fail("verify: %s: %s", path, strerror(errno));
    uint8_t *data = NULL;
    size_t len = 0;
    if (strcmp(mode, "buf") == 0) {
        struct stat sb;
        if (fstat(fd, &sb) != 0 || (data = malloc((size_t)sb.st_size + 1)) == NULL)
            return fail("verify: cannot hold %s in memory", path);
        while (len < (size_t)sb.st_size) {
            ssize_t got = read(fd, data + len, (size_t)sb.st_size - len);
            if (got <= 0)
                return fail("verify: %s: short read", path);
            len += (size_t)got;
        }
    }
    uint64_t hwm_before = proc_status_kib("VmHWM:");
    tz_bundle_report rep;
    tz_bundle_verify_options vo = {.log_key = &key};
    uint64_t c0 = thread_cpu_ns(), t0 = now_ns();
    int rc = data != NULL ? tz_bundle_verify(data, len, &key, &rep, &e)
                          : tz_bundle_verify_fd(fd, &vo, &rep, &e);
    uint64_t ns = now_ns() - t0, cpu = thread_cpu_ns() - c0;
    close(fd);
    free(data);
    if (rc != TZ_OK)
        return fail_err("verify", &e);
    printf("%" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRIu64 "\n", rep.records, ns, cpu,
           hwm_before, proc_status_kib("VmHWM:"));
    return fflush(stdout) == 0 ? 0 : fail("verify: cannot report to the parent");
}

typedef struct verify_figures {
    uint64_t records, ns, cpu_ns, maxrss_kib, baseline_kib;
} verify_figures;

static int verify_in_child(const char *mode, const bench_ledger *b, verify_figures *f)
{
    int fds[2];
    if (pipe(fds) != 0)
        return fail("verify: pipe: %s", strerror(errno));
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0)
        return fail("verify: fork: %s", strerror(errno));
    if (pid == 0) {
        close(fds[0]);
        if (dup2(fds[1], STDOUT_FILENO) < 0)
            _exit(2);
        close(fds[1]);
        char *const argv[] = {(char *)progname, (char *)CHILD_FLAG, (char *)mode,
                              (char *)b->bundle, (char *)b->log_pub, NULL};
        execv("/proc/self/exe", argv);
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
    pid_t w;
    while ((w = waitpid(pid, &status, 0)) < 0 && errno == EINTR)
        ;
    if (w < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
        return fail("verify (%s): the child failed", mode);
    if (sscanf(buf, "%" SCNu64 " %" SCNu64 " %" SCNu64 " %" SCNu64 " %" SCNu64, &f->records,
               &f->ns, &f->cpu_ns, &f->baseline_kib, &f->maxrss_kib) != 5 || f->maxrss_kib == 0)
        return fail("verify (%s): malformed report \"%s\"", mode, buf);
    return 0;
}

/* ---- part 1 --------------------------------------------------------------------- */

static void put_real(json_t *o, const char *k, double v, double unit)
{
    json_object_set_new(o, k, json_real(floor(v / unit + 0.5) * unit));
}

static void put_int(json_t *o, const char *k, uint64_t v)
{
    json_object_set_new(o, k, json_integer((json_int_t)v));
}

static int part_bundle(const bench_opts *o, bench_ledger *b, json_t *out)
{
    int rc = ledger_setup(b);
    if (rc == 0)
        rc = append_memos(b, o->count, (size_t)o->group);
    if (rc != 0)
        return rc;
    tz_bundle_export_stats st;
    uint64_t export_ns = 0;
    if ((rc = export_all(b, &st, &export_ns)) != 0)
        return rc;
    fprintf(stderr, "export: %" PRIu64 " entries, %.1f MiB, %.2f s\n", st.records,
            (double)st.bytes / 1048576.0, seconds(export_ns));
    signed_statement sample;
    msgpack_sbuffer_init(&sample.sb);
    rate before = {0, 0}, after = {0, 0};
    verify_figures fd_fig, buf_fig;
    if ((rc = memo_make(&sample, &b->keys.cadre, 0, b->at)) == 0)
        rc = ed25519_rate(&before, (const uint8_t *)sample.sb.data, sample.sb.size, &sample.sig,
                          o->ed25519_seconds);
    if (rc == 0)
        fprintf(stderr, "ed25519: %.0f verifications/s on one core\n", before.per_s);
    if (rc == 0 && (rc = verify_in_child("fd", b, &fd_fig)) == 0)
        fprintf(stderr, "verify (stream): %.2f s, %.0f entries/s, peak RSS %.1f MiB\n",
                seconds(fd_fig.ns), (double)fd_fig.records / seconds(fd_fig.ns),
                (double)fd_fig.maxrss_kib / 1024.0);
    if (rc == 0 && (rc = verify_in_child("buf", b, &buf_fig)) == 0)
        fprintf(stderr, "verify (buffer): %.2f s, %.0f entries/s, peak RSS %.1f MiB\n",
                seconds(buf_fig.ns), (double)buf_fig.records / seconds(buf_fig.ns),
                (double)buf_fig.maxrss_kib / 1024.0);
    if (rc == 0)
        rc = ed25519_rate(&after, (const uint8_t *)sample.sb.data, sample.sb.size, &sample.sig,
                          o->ed25519_seconds);
    msgpack_sbuffer_destroy(&sample.sb);
    if (rc != 0)
        return rc;
    if (fd_fig.records != st.records || buf_fig.records != st.records)
        return fail("verify: %" PRIu64 " / %" PRIu64 " records verified, %" PRIu64 " exported",
                    fd_fig.records, buf_fig.records, st.records);
    /* the better sample: one taken while the machine was busy is low, and a
     * low ceiling would flatter the ratio */
    double ceiling = before.per_s > after.per_s ? before.per_s : after.per_s;
    double ceiling_cpu = before.per_cpu_s > after.per_cpu_s ? before.per_cpu_s : after.per_cpu_s;
    double fd_rate = (double)fd_fig.records / seconds(fd_fig.ns);
    double buf_rate = (double)buf_fig.records / seconds(buf_fig.ns);
    put_int(out, "entries", st.records);
    put_int(out, "bundle_bytes", st.bytes);
    put_int(out, "bundle_proof_hashes", st.proof_hashes);
    put_real(out, "export_s", seconds(export_ns), 0.001);
    put_int(out, "export_entries_per_s", (uint64_t)((double)st.records / seconds(export_ns)));
    put_real(out, "verify_stream_s", seconds(fd_fig.ns), 0.001);
    put_int(out, "verify_stream_entries_per_s", (uint64_t)fd_rate);
    put_real(out, "verify_stream_peak_rss_mib", (double)fd_fig.maxrss_kib / 1024.0, 0.01);
    put_real(out, "verify_stream_baseline_rss_mib", (double)fd_fig.baseline_kib / 1024.0, 0.01);
    put_real(out, "verify_stream_ratio_to_one_core", fd_rate / ceiling, 0.001);
    put_real(out, "verify_stream_ratio_cpu", (double)fd_fig.records / seconds(fd_fig.cpu_ns) /
             ceiling_cpu, 0.001);
    put_real(out, "verify_buffer_s", seconds(buf_fig.ns), 0.001);
    put_int(out, "verify_buffer_entries_per_s", (uint64_t)buf_rate);
    put_real(out, "verify_buffer_peak_rss_mib", (double)buf_fig.maxrss_kib / 1024.0, 0.01);
    put_real(out, "verify_buffer_baseline_rss_mib", (double)buf_fig.baseline_kib / 1024.0, 0.01);
    put_real(out, "verify_buffer_ratio_to_one_core", buf_rate / ceiling, 0.001);
    put_real(out, "verify_buffer_ratio_cpu", (double)buf_fig.records / seconds(buf_fig.cpu_ns) /
             ceiling_cpu, 0.001);
    put_int(out, "ed25519_verify_per_s_one_core", (uint64_t)ceiling);
    put_int(out, "ed25519_verify_per_cpu_s", (uint64_t)ceiling_cpu);
    json_object_set_new(out, "ed25519_samples", json_pack("[I,I]", (json_int_t)before.per_s,
                                                          (json_int_t)after.per_s));
    return 0;
}

/* ---- part 2 ----------------------------------------------------------------------- */

/* The complete nodes of a tree of n leaves: levels[l][i] = node (l, i). */
typedef struct mem_tree {
    uint64_t n;
    unsigned nlevels;
    uint8_t (*levels[64])[32];
    uint64_t count[64];
} mem_tree;

static int mem_read(void *ctx, unsigned level, uint64_t index, uint8_t out[32], tz_err *err)
{
    const mem_tree *t = ctx;
    if (level >= t->nlevels || index >= t->count[level])
        return tz_err_set(err, TZ_ERR_NOTFOUND, "node (%u, %" PRIu64 ") not in the tree", level,
                          index);
    memcpy(out, t->levels[level][index], 32);
    return TZ_OK;
}

static void mem_tree_free(mem_tree *t)
{
    for (unsigned l = 0; l < t->nlevels; l++)
        free(t->levels[l]);
    memset(t, 0, sizeof *t);
}

static int mem_tree_build(mem_tree *t, uint64_t n)
{
    memset(t, 0, sizeof *t);
    t->n = n;
    for (uint64_t c = n; c > 0; c /= 2) {
        if ((t->levels[t->nlevels] = malloc((size_t)c * 32)) == NULL) {
            mem_tree_free(t);
            return fail("tree of %" PRIu64 " leaves: out of memory", n);
        }
        t->count[t->nlevels++] = c;
    }
    for (uint64_t i = 0; i < n; i++) {
        uint8_t leaf[8];
        for (int k = 0; k < 8; k++)
            leaf[k] = (uint8_t)(i >> (56 - 8 * k));
        tz_merkle_leaf_hash(t->levels[0][i], leaf, sizeof leaf);
    }
    for (unsigned l = 1; l < t->nlevels; l++)
        for (uint64_t i = 0; i < t->count[l]; i++)
            tz_merkle_node_hash(t->levels[l][i], t->levels[l - 1][2 * i],
                                t->levels[l - 1][2 * i + 1]);
    return 0;
}

static uint64_t next_random(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

/* Times tz_merkle_verify_inclusion on `checks` random leaves of the tree's
 * first n leaves. */
static int proofs_for_size(const mem_tree *t, uint64_t n, uint64_t checks, json_t *rows)
{
    uint8_t root[32];
    tz_err e;
    if (tz_merkle_root(root, n, mem_read, (void *)t, &e) != TZ_OK)
        return fail_err("root", &e);
    tz_merkle_proof *proofs = malloc((size_t)checks * sizeof *proofs);
    uint64_t *index = malloc((size_t)checks * sizeof *index);
    if (proofs == NULL || index == NULL) {
        free(proofs);
        free(index);
        return fail("proofs: out of memory");
    }
    uint64_t seed = 0x9e3779b97f4a7c15u ^ n, hashes = 0, t0;
    int rc = 0;
    for (uint64_t i = 0; rc == 0 && i < checks; i++) {
        index[i] = next_random(&seed) % n;
        if (tz_merkle_inclusion_proof(&proofs[i], index[i], n, mem_read, (void *)t, &e) != TZ_OK)
            rc = fail_err("inclusion proof", &e);
        hashes += proofs[i].count;
    }
    uint64_t rounds = 0, bad = 0, ns;
    t0 = now_ns();
    do {
        for (uint64_t i = 0; rc == 0 && i < checks; i++)
            bad |= tz_merkle_verify_inclusion(t->levels[0][index[i]], index[i], n, &proofs[i],
                                              root, NULL) != TZ_OK;
        rounds++;
        ns = now_ns() - t0;
    } while (rc == 0 && ns < 200000000u);
    free(proofs);
    free(index);
    if (rc != 0)
        return rc;
    if (bad)
        return fail("inclusion: a valid proof did not verify (size %" PRIu64 ")", n);
    double per = (double)ns / (double)(rounds * checks);
    double len = (double)hashes / (double)checks;
    fprintf(stderr, "inclusion: log of %" PRIu64 ": %.0f ns per check, %.1f hashes per proof "
            "(log2 n = %.1f)\n", n, per, len, log2((double)n));
    json_t *row = json_object();
    put_int(row, "log_size", n);
    put_real(row, "log2_n", log2((double)n), 0.01);
    put_real(row, "proof_hashes", len, 0.01);
    put_real(row, "verify_ns", per, 0.1);
    put_real(row, "verify_ns_per_hash", per / len, 0.1);
    json_array_append_new(rows, row);
    return 0;
}

static int part_proofs(const bench_opts *o, json_t *out)
{
    mem_tree t;
    uint64_t t0 = now_ns();
    int rc = mem_tree_build(&t, o->max_log);
    if (rc != 0)
        return rc;
    fprintf(stderr, "inclusion: tree of %" PRIu64 " leaves built in %.1f s\n", o->max_log,
            seconds(now_ns() - t0));
    json_t *rows = json_array();
    for (uint64_t n = 1000; rc == 0 && n <= o->max_log; n *= 10)
        rc = proofs_for_size(&t, n, o->checks, rows);
    if (rc == 0 && o->max_log % 10 != 0)
        rc = proofs_for_size(&t, o->max_log, o->checks, rows);
    json_object_set_new(out, "inclusion", rows);
    mem_tree_free(&t);
    return rc;
}

/* ---- the run ------------------------------------------------------------------------ */

static int rm_cb(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    if (remove(path) != 0)
        fprintf(stderr, "%s: cannot remove %s: %s\n", progname, path, strerror(errno));
    return 0;
}

static int run(const bench_opts *o)
{
    if (sodium_init() < 0)
        return fail("libsodium could not initialise");
    bench_ledger b;
    memset(&b, 0, sizeof b);
    json_t *out = json_object();
    int rc = out == NULL ? fail("out of memory") : 0;
    if (rc == 0 && !o->skip_bundle)
        rc = part_bundle(o, &b, out);
    if (rc == 0 && !o->skip_proofs)
        rc = part_proofs(o, out);
    if (rc == 0) {
        if (o->keep && b.dir[0] != '\0')
            json_object_set_new(out, "dir", json_string(b.dir));
        char *line = json_dumps(out, JSON_COMPACT | JSON_REAL_PRECISION(12));
        if (line == NULL)
            rc = fail("out of memory");
        else
            puts(line);
        free(line);
        if (fflush(stdout) != 0)
            rc = fail("stdout: %s", strerror(errno));
    }
    json_decref(out);
    tz_key_wipe(&b.keys.root);
    tz_key_wipe(&b.keys.log);
    tz_key_wipe(&b.keys.cadre);
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
    if (argc == 5 && strcmp(argv[1], CHILD_FLAG) == 0)
        return verify_child(argv[2], argv[3], argv[4]);
    bench_opts o;
    int rc = parse_opts(argc, argv, &o);
    if (rc != 0)
        return rc < 0 ? 0 : rc;
    return run(&o);
}
