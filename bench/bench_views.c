/*
 * bench_views.c: projection queries and the full rebuild on a demo county.
 *
 * Builds the scenario county (scenario/scenario.h) at a chosen scale, or
 * reuses one (--db), then measures in one run:
 *   - full verify (entries/s) and full rebuild of the derived records
 *     (tz_rebuild_replay, entries/s): the goal is rebuild >= verify;
 *   - for each projection query, over random subjects (fixed seed), the
 *     latency p50 / p99 / max and queries/s, both "now" and as of a random
 *     earlier seq (a dispute review); the goal is p99 < 5 ms for a
 *     single-cadre or single-village query;
 *   - the floor beside them: one tz_view_get of one document.
 * Prints one JSON line per measurement. Not a test: nothing here asserts.
 */
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "ledger/ledger.h"
#include "ledger/rebuild.h"
#include "ledger/verify.h"
#include "projections/query.h"
#include "projections/view.h"
#include "scenario/scenario.h"
#include "util/fs.h"

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "bench_views: ");
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return 2;
}

static void print_line(json_t *o)
{
    char *s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
    if (s != NULL)
        puts(s);
    free(s);
    fflush(stdout);
    json_decref(o);
}

static uint64_t rng_state = 0x9e3779b97f4a7c15u;
static uint64_t rng(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

typedef struct ids {
    size_t n, cap;
    char **v;
} ids;

static int add_id(ids *s, const char *id)
{
    for (size_t i = s->n; i > 0 && i + 8 > s->n; i--) /* the listing is sorted: cheap dedupe */
        if (strcmp(s->v[i - 1], id) == 0)
            return 0;
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 256;
        s->v = realloc(s->v, s->cap * sizeof *s->v);
    }
    s->v[s->n++] = strdup(id);
    return 0;
}

/* subject of view term is person \0 dispatch; of roster village \0 dispatch */
static int first_part(void *ctx, const char *subject, size_t len, json_t *doc)
{
    (void)doc;
    char id[256];
    size_t n = strnlen(subject, len);
    if (n >= sizeof id)
        return 0;
    memcpy(id, subject, n);
    id[n] = '\0';
    return add_id(ctx, id);
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

typedef struct bench {
    tz_store *store;
    uint64_t size;
    ids persons, villages;
    int queries;
    int year;
} bench;

/* Runs query name `count` times on random subjects; as_of_random: a random
 * earlier seq each time. Prints the latencies. */
static int run_query(bench *b, const char *name, int by_village, int with_year, int as_of_random)
{
    uint64_t *ns = calloc((size_t)b->queries, sizeof *ns);
    uint64_t rows = 0, t0 = now_ns();
    for (int i = 0; i < b->queries; i++) {
        tz_query q;
        uint64_t as_of = as_of_random ? b->size / 2 + rng() % (b->size / 2) : b->size - 1;
        tz_query_init(&q, b->store, as_of);
        const ids *pool = by_village ? &b->villages : &b->persons;
        const char *id = pool->v[rng() % pool->n];
        if (by_village)
            q.village = id;
        else
            q.person = id;
        if (with_year)
            q.year = b->year;
        json_t *out = NULL;
        tz_err e;
        uint64_t s = now_ns();
        int rc = tz_query_run(name, &q, &out, &e);
        ns[i] = now_ns() - s;
        if (rc != TZ_OK && rc != TZ_ERR_NOTFOUND) {
            free(ns);
            return fail("%s: %s", name, e.msg);
        }
        rows += json_array_size(json_object_get(out, "rows"));
        json_decref(out);
    }
    double total = (double)(now_ns() - t0) / 1e9;
    qsort(ns, (size_t)b->queries, sizeof *ns, cmp_u64);
    print_line(json_pack("{s:s,s:s,s:s,s:i,s:f,s:f,s:f,s:f,s:f}", "phase", "query", "query", name,
                         "as_of", as_of_random ? "random earlier seq" : "now", "count",
                         b->queries, "rows_per_query", (double)rows / b->queries,
                         "p50_ms", ns[b->queries / 2] / 1e6,
                         "p99_ms", ns[(size_t)b->queries * 99 / 100] / 1e6,
                         "max_ms", ns[b->queries - 1] / 1e6, "queries_per_s",
                         b->queries / total));
    free(ns);
    return 0;
}

static int floor_get(bench *b)
{
    uint64_t *ns = calloc((size_t)b->queries, sizeof *ns);
    for (int i = 0; i < b->queries; i++) {
        char subject[300];
        const char *p = b->persons.v[rng() % b->persons.n];
        char year[8];
        snprintf(year, sizeof year, "%04d", b->year);
        size_t sl = tz_view_subject(subject, sizeof subject, p, year, NULL);
        json_t *doc = NULL;
        tz_err e;
        uint64_t s = now_ns();
        int rc = tz_view_get(b->store, "absence", subject, sl, b->size - 1, &doc, &e);
        ns[i] = now_ns() - s;
        json_decref(doc);
        if (rc != TZ_OK && rc != TZ_ERR_NOTFOUND)
            return fail("view get: %s", e.msg);
    }
    qsort(ns, (size_t)b->queries, sizeof *ns, cmp_u64);
    print_line(json_pack("{s:s,s:s,s:f,s:f}", "phase", "floor",
                         "what", "one tz_view_get (one seek) of one document", "p50_ms",
                         ns[b->queries / 2] / 1e6, "p99_ms",
                         ns[(size_t)b->queries * 99 / 100] / 1e6));
    free(ns);
    return 0;
}

int main(int argc, char **argv)
{
    int villages = 360, months = 24, queries = 2000, keep = 0, skip_rebuild = 0;
    const char *db_arg = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--villages") == 0 && i + 1 < argc)
            villages = atoi(argv[++i]);
        else if (strcmp(argv[i], "--months") == 0 && i + 1 < argc)
            months = atoi(argv[++i]);
        else if (strcmp(argv[i], "--queries") == 0 && i + 1 < argc)
            queries = atoi(argv[++i]);
        else if (strcmp(argv[i], "--db") == 0 && i + 1 < argc)
            db_arg = argv[++i];
        else if (strcmp(argv[i], "--keep") == 0)
            keep = 1;
        else if (strcmp(argv[i], "--queries-only") == 0)
            skip_rebuild = 1;
        else {
            fprintf(stderr, "usage: bench_views [--villages N] [--months N] [--queries N] "
                            "[--db LEDGER (reuse; built there if missing)] [--keep] "
                            "[--queries-only]\n");
            return 2;
        }
    }
    if (villages < 1 || villages > TZ_SCENARIO_MAX_VILLAGES || months < 1 ||
        months > TZ_SCENARIO_MAX_MONTHS || queries < 100)
        return fail("options out of range");
    char tmp[PATH_MAX], db[PATH_MAX + 16];
    const char *t = getenv("TMPDIR");
    snprintf(tmp, sizeof tmp, "%s/taizhang-bench-views.XXXXXX", t && *t ? t : "/tmp");
    if (mkdtemp(tmp) == NULL)
        return fail("mkdtemp: %s", strerror(errno));
    if (db_arg != NULL)
        snprintf(db, sizeof db, "%s", db_arg);
    else
        snprintf(db, sizeof db, "%s/ledger", tmp);
    tz_err e;
    struct stat sb;
    if (stat(db, &sb) != 0) {
        tz_scenario_options o;
        tz_scenario_defaults(&o);
        o.villages = villages;
        o.townships = 0;
        o.months = months;
        o.profile_path = "profiles/shiquan-2021.json";
        o.calendar_path = "data/cn-workday-calendar.json";
        tz_scenario_stats st;
        uint64_t s = now_ns();
        if (tz_scenario_generate(db, &o, &st, &e) != TZ_OK)
            return fail("scenario (run from the source tree): %s", e.msg);
        print_line(json_pack("{s:s,s:i,s:I,s:f}", "phase", "scenario", "villages", villages,
                             "entries", (json_int_t)st.entries, "generate_s",
                             (now_ns() - s) / 1e9));
    }
    /* verify and rebuild, in the same run */
    tz_verify_report rep;
    double verify_s = 0;
    uint64_t s;
    if (!skip_rebuild) {
        s = now_ns();
        if (tz_verify_ledger(db, NULL, &rep, &e) != TZ_OK || !rep.ok)
            return fail("verify: %s", rep.ok ? e.msg : rep.reason);
        verify_s = (now_ns() - s) / 1e9;
    }
    tz_ledger *l;
    if (tz_ledger_open(&l, db, TZ_LEDGER_READONLY, NULL, &e) != TZ_OK)
        return fail("open: %s", e.msg);
    bench b = {.store = tz_ledger_store(l), .size = tz_ledger_size(l), .queries = queries,
               .year = 2024};
    char rdir[PATH_MAX + 16];
    snprintf(rdir, sizeof rdir, "%s/rebuild", tmp);
    if (!skip_rebuild) {
        tz_store *scratch;
        uint64_t n;
        s = now_ns();
        if (tz_rebuild_replay(b.store, UINT64_MAX, rdir, &scratch, &n, &e) != TZ_OK)
            return fail("rebuild: %s", e.msg);
        double rebuild_s = (now_ns() - s) / 1e9;
        tz_store_close(scratch);
        print_line(json_pack("{s:s,s:I,s:f,s:f,s:f,s:f,s:f}", "phase", "rebuild", "entries",
                             (json_int_t)n, "rebuild_s", rebuild_s, "rebuild_entries_per_s",
                             n / rebuild_s, "verify_s", verify_s, "verify_entries_per_s",
                             rep.size / verify_s, "rebuild_to_verify", verify_s / rebuild_s));
    }
    if (tz_view_list(b.store, "term", "", 0, TZ_VIEW_AS_OF_NOW, first_part, &b.persons, &e) != 0 ||
        tz_view_list(b.store, "roster", "", 0, TZ_VIEW_AS_OF_NOW, first_part, &b.villages, &e) != 0 ||
        b.persons.n == 0 || b.villages.n == 0)
        return fail("no cadres or villages in the views");
    int rc = floor_get(&b);
    static const struct { const char *name; int village, year; } qs[] = {
        {"attendance", 0, 1}, {"leave", 0, 0}, {"absences", 0, 1}, {"term", 0, 0},
        {"recall", 0, 0}, {"grade", 0, 0}, {"allowance", 0, 1}, {"eligibility", 0, 1},
        {"roster", 1, 0}, {"handover", 1, 0}, {"eligibility", 1, 1},
    };
    for (size_t i = 0; rc == 0 && i < sizeof qs / sizeof qs[0]; i++)
        for (int r = 0; rc == 0 && r < 2; r++)
            rc = run_query(&b, qs[i].name, qs[i].village, qs[i].year, r);
    tz_ledger_close(l);
    if (!keep && db_arg == NULL)
        tz_fs_rmtree(tmp);
    else
        tz_fs_rmtree(rdir);
    return rc;
}
