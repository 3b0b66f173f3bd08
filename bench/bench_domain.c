/*
 * bench_domain: what a county's real records cost, end to end: the demo
 * county of scenario/scenario.h scaled up (--villages multiplies townships,
 * units and cadres with it), appended through the real decide step, then
 * replayed by the full verifier. Prints JSON lines on stdout (progress on
 * stderr):
 *   {"phase":"scenario", ...}  what was built: villages, months, entries by type
 *   {"phase":"append", ...}    entries/s inside tz_ledger_append (group commits,
 *                              each synced), beside the one-core Ed25519 ceiling
 *   {"phase":"verify", ...}    entries/s of tz_verify_ledger, beside the ceiling
 * Unlike bench_ledger's memos, these entries are the domain records (sheets,
 * co-signatures, spot checks, leave, dispatches ...), each decided against
 * the state and the adopted policy profile, so the gap between the ratio
 * here and bench_ledger's is the cost of the domain rules.
 *
 * The ceiling is measured as in bench_ledger: crypto_sign_verify_detached
 * over the exact signed message of a real entry of this ledger (an entry
 * from the middle of the log: TZ_STATEMENT_TAG || statement), for ~2 s
 * before the run and ~2 s after it, the better sample kept (a sample taken
 * on a busy machine is low, and a low ceiling flatters the ratio). Some
 * entries carry two or three signatures, so signatures/s and their ratio
 * are printed too. The machine is a shared 2-core VM: read the ratios, not
 * the absolute rates.
 *
 * Every library status is checked; on error the message goes to stderr and
 * the exit status is 2. The temp dir ($TMPDIR or /tmp) is removed unless
 * --keep. The policy profile and the calendar are looked for next to the
 * executable (a build dir in the source tree) or given with --profile and
 * --calendar.
 */
#include <errno.h>
#include <ftw.h>
#include <getopt.h>
#include <inttypes.h>
#include <jansson.h>
#include <limits.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "crypto/key.h"
#include "ledger/entry.h"
#include "ledger/ledger.h"
#include "ledger/verify.h"
#include "scenario/scenario.h"
#include "util/status.h"

static const char *progname = "bench_domain";

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

static double seconds(uint64_t ns)
{
    return (double)ns / 1e9;
}

static double round_to(double x, double unit)
{
    return (double)(int64_t)(x / unit + 0.5) * unit;
}

/* ---- options ------------------------------------------------------------ */

typedef struct bench_opts {
    uint64_t villages, months, seed, group;
    double ed25519_seconds;
    const char *profile, *calendar;
    int keep;
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
    fprintf(f, "usage: %s [--villages N] [--months N] [--seed N] [--group G]\n"
               "       [--profile FILE] [--calendar FILE] [--ed25519-seconds S] [--keep]\n"
               "  --villages N   villages of the county, 1..%d (default 108: 3x the demo)\n"
               "  --months N     length of the story, 1..%d (default 24)\n"
               "  --seed N       the county (default 1)\n"
               "  --group G      submissions per group commit (default 256)\n"
               "  --profile F    default: profiles/shiquan-2021.json of the source tree\n"
               "  --calendar F   default: data/cn-workday-calendar.json\n"
               "Prints JSON lines on stdout; exit 0 ok, 2 on any error.\n",
            progname, TZ_SCENARIO_MAX_VILLAGES, TZ_SCENARIO_MAX_MONTHS);
    return f == stdout ? 0 : 2;
}

static int parse_opts(int argc, char **argv, bench_opts *o)
{
    static const struct option long_opts[] = {
        {"villages", required_argument, NULL, 'v'}, {"months", required_argument, NULL, 'm'},
        {"seed", required_argument, NULL, 's'},     {"group", required_argument, NULL, 'g'},
        {"profile", required_argument, NULL, 'p'},  {"calendar", required_argument, NULL, 'c'},
        {"ed25519-seconds", required_argument, NULL, 'e'}, {"keep", no_argument, NULL, 'k'},
        {"help", no_argument, NULL, 'h'},           {NULL, 0, NULL, 0},
    };
    *o = (bench_opts){108, 24, 1, 256, 2.0, NULL, NULL, 0};
    int c;
    uint64_t secs;
    while ((c = getopt_long(argc, argv, "", long_opts, NULL)) != -1) {
        switch (c) {
        case 'v':
            if (parse_u64(optarg, "--villages", 1, TZ_SCENARIO_MAX_VILLAGES, &o->villages))
                return 2;
            break;
        case 'm':
            if (parse_u64(optarg, "--months", 1, TZ_SCENARIO_MAX_MONTHS, &o->months))
                return 2;
            break;
        case 's':
            if (parse_u64(optarg, "--seed", 0, UINT64_MAX, &o->seed))
                return 2;
            break;
        case 'g':
            if (parse_u64(optarg, "--group", 1, 65536, &o->group))
                return 2;
            break;
        case 'e':
            if (parse_u64(optarg, "--ed25519-seconds", 1, 60, &secs))
                return 2;
            o->ed25519_seconds = (double)secs;
            break;
        case 'p': o->profile = optarg; break;
        case 'c': o->calendar = optarg; break;
        case 'k': o->keep = 1; break;
        case 'h': usage(stdout); return -1;
        default: return usage(stderr);
        }
    }
    if (optind != argc)
        return fail("unexpected argument \"%s\" (see --help)", argv[optind]);
    return 0;
}

/* The first readable of dir-of-executable/rel[i] or rel[i] from here. */
static int find_file(char *out, size_t cap, const char *const *rel, size_t n)
{
    char exe[PATH_MAX];
    ssize_t len = readlink("/proc/self/exe", exe, sizeof exe - 1);
    exe[len > 0 ? len : 0] = '\0';
    char *slash = strrchr(exe, '/');
    if (slash != NULL)
        *slash = '\0';
    for (int pass = 0; pass < 2; pass++)
        for (size_t i = 0; i < n; i++) {
            int w = pass == 0 ? snprintf(out, cap, "%s/../%s", exe, rel[i])
                              : snprintf(out, cap, "%s", rel[i]);
            if ((pass == 1 || exe[0] != '\0') && w > 0 && (size_t)w < cap && access(out, R_OK) == 0)
                return 1;
        }
    return 0;
}

/* ---- the Ed25519 ceiling (as bench_ledger) ------------------------------- */

/* crypto_sign_verify_detached of (tag || stmt) per second, for ~secs s. */
static int ed25519_rate(double *per_s, const uint8_t *stmt, size_t len, const tz_signature *sig,
                        double secs)
{
    size_t tag_len = strlen(TZ_STATEMENT_TAG);
    uint8_t *msg = malloc(tag_len + len);
    if (msg == NULL)
        return fail("ed25519: out of memory");
    memcpy(msg, TZ_STATEMENT_TAG, tag_len);
    memcpy(msg + tag_len, stmt, len);
    uint64_t n = 0, t0 = now_ns(), limit = (uint64_t)(secs * 1e9), t = t0;
    int bad = 0;
    while (!bad && t - t0 < limit) {
        for (int i = 0; i < 64; i++)
            bad |= crypto_sign_verify_detached(sig->sig, msg, tag_len + len, sig->key) != 0;
        n += 64;
        t = now_ns();
    }
    free(msg);
    if (bad)
        return fail("ed25519: a signature of the ledger did not verify");
    *per_s = (double)n / seconds(t - t0);
    return 0;
}

/* ---- the run ------------------------------------------------------------ */

static int rm_cb(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    remove(path);
    return 0;
}

static void progress(void *ctx, uint64_t done, uint64_t total)
{
    uint64_t *next = ctx;
    if (done >= *next || done >= total) {
        fprintf(stderr, "append: %" PRIu64 " / %" PRIu64 " entries\n", done, total);
        *next += total / 10 ? total / 10 : 1;
    }
}

static void print_line(json_t *o)
{
    char *line = json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(12));
    if (line != NULL)
        puts(line);
    free(line);
    json_decref(o);
}

static int run(const bench_opts *o)
{
    char dir[PATH_MAX], db[PATH_MAX + 16], profile[PATH_MAX], calendar[PATH_MAX];
    static const char *const profiles[] = {"profiles/shiquan-2021.json",
                                           "../profiles/shiquan-2021.json"};
    static const char *const calendars[] = {"data/cn-workday-calendar.json",
                                            "../data/cn-workday-calendar.json"};
    if (o->profile)
        snprintf(profile, sizeof profile, "%s", o->profile);
    else if (!find_file(profile, sizeof profile, profiles, 2))
        return fail("cannot find profiles/shiquan-2021.json: give --profile");
    if (o->calendar)
        snprintf(calendar, sizeof calendar, "%s", o->calendar);
    else if (!find_file(calendar, sizeof calendar, calendars, 2))
        return fail("cannot find cn-workday-calendar.json: give --calendar");
    if (sodium_init() < 0)
        return fail("libsodium could not initialise");
    const char *tmp = getenv("TMPDIR");
    snprintf(dir, sizeof dir, "%s/taizhang-bench-domain.XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (mkdtemp(dir) == NULL)
        return fail("temp dir %s: %s", dir, strerror(errno));
    snprintf(db, sizeof db, "%s/ledger", dir);

    tz_scenario_options so;
    tz_scenario_defaults(&so);
    so.seed = o->seed;
    so.villages = (int)o->villages;
    so.townships = 0;
    so.months = (int)o->months;
    so.group = (int)o->group;
    so.profile_path = profile;
    so.calendar_path = calendar;
    uint64_t next = 0;
    so.progress = progress;
    so.progress_ctx = &next;
    tz_scenario_stats st;
    tz_err e;
    int rc = 0;
    tz_ledger *l = NULL;
    uint8_t *raw = NULL;
    fprintf(stderr, "scenario: %" PRIu64 " villages, %" PRIu64 " months, in %s\n", o->villages,
            o->months, db);
    if (tz_scenario_generate(db, &so, &st, &e) != TZ_OK) {
        rc = fail("scenario: %s", e.msg);
        goto out;
    }

    /* the ceiling's input: a real entry from the middle of the log */
    size_t len = 0;
    tz_entry entry;
    if (tz_ledger_open(&l, db, TZ_LEDGER_READONLY, NULL, &e) != TZ_OK ||
        tz_ledger_get(l, tz_ledger_size(l) / 2, &raw, &len, &e) != TZ_OK ||
        tz_entry_decode(&entry, raw, len, &e) != TZ_OK) {
        rc = fail("sample entry: %s", e.msg);
        goto out;
    }
    double before = 0, after = 0;
    fprintf(stderr, "ed25519: one-core ceiling, message %zu bytes\n",
            strlen(TZ_STATEMENT_TAG) + entry.statement_len);
    if ((rc = ed25519_rate(&before, entry.statement, entry.statement_len, &entry.sigs[0],
                           o->ed25519_seconds)) != 0)
        goto out;
    tz_ledger_close(l);
    l = NULL;

    fprintf(stderr, "verify: %" PRIu64 " entries\n", st.entries);
    tz_verify_report rep;
    uint64_t t0 = now_ns();
    int vrc = tz_verify_ledger(db, NULL, &rep, &e);
    uint64_t verify_ns = now_ns() - t0;
    if (vrc != TZ_OK || !rep.ok) {
        rc = fail("verify: %s", vrc != TZ_OK ? e.msg : rep.reason);
        goto out;
    }
    if ((rc = ed25519_rate(&after, entry.statement, entry.statement_len, &entry.sigs[0],
                           o->ed25519_seconds)) != 0)
        goto out;
    double ceiling = before > after ? before : after;

    json_t *types = json_object();
    for (size_t i = 0; i < st.ntypes; i++)
        json_object_set_new(types, st.by_type[i].type, json_integer((json_int_t)st.by_type[i].count));
    json_t *line = json_pack("{s:s,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:f,s:o}", "phase", "scenario",
                             "villages", (json_int_t)st.villages, "townships",
                             (json_int_t)st.townships, "cadres", (json_int_t)st.cadres, "months",
                             (json_int_t)o->months, "seed", (json_int_t)o->seed, "entries",
                             (json_int_t)st.entries, "signatures", (json_int_t)st.signatures,
                             "generate_s", round_to(st.elapsed_s, 0.001), "entries_by_type", types);
    print_line(line);
    double append_rate = (double)(st.entries - 1) / st.append_s;
    double append_sig_rate = (double)(st.signatures - 1) / st.append_s;
    print_line(json_pack("{s:s,s:I,s:I,s:f,s:I,s:I,s:I,s:f,s:f}", "phase", "append", "entries",
                         (json_int_t)(st.entries - 1), "group", (json_int_t)o->group, "append_s",
                         round_to(st.append_s, 0.001), "append_entries_per_s",
                         (json_int_t)(append_rate + 0.5), "append_signatures_per_s",
                         (json_int_t)(append_sig_rate + 0.5), "ed25519_verify_per_s_one_core",
                         (json_int_t)(ceiling + 0.5), "append_ratio_to_one_core",
                         round_to(append_rate / ceiling, 0.001), "append_sig_ratio_to_one_core",
                         round_to(append_sig_rate / ceiling, 0.001)));
    double verify_rate = (double)rep.size / seconds(verify_ns);
    double verify_sig_rate = (double)st.signatures / seconds(verify_ns);
    print_line(json_pack("{s:s,s:I,s:f,s:I,s:I,s:I,s:[I,I],s:f,s:f}", "phase", "verify",
                         "entries", (json_int_t)rep.size, "verify_s",
                         round_to(seconds(verify_ns), 0.001), "verify_entries_per_s",
                         (json_int_t)(verify_rate + 0.5), "verify_signatures_per_s",
                         (json_int_t)(verify_sig_rate + 0.5), "ed25519_verify_per_s_one_core",
                         (json_int_t)(ceiling + 0.5), "ed25519_samples",
                         (json_int_t)(before + 0.5), (json_int_t)(after + 0.5),
                         "verify_ratio_to_one_core", round_to(verify_rate / ceiling, 0.001),
                         "verify_sig_ratio_to_one_core",
                         round_to(verify_sig_rate / ceiling, 0.001)));
    if (fflush(stdout) != 0)
        rc = fail("stdout: %s", strerror(errno));
out:
    tz_store_free(raw);
    tz_ledger_close(l);
    if (o->keep)
        fprintf(stderr, "kept %s\n", db);
    else
        nftw(dir, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
    return rc;
}

int main(int argc, char **argv)
{
    bench_opts o;
    int rc = parse_opts(argc, argv, &o);
    if (rc != 0)
        return rc < 0 ? 0 : rc;
    return run(&o);
}
