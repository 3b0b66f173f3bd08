/*
 * check_query.c: the projection queries (projections/query.h) and their
 * commands (cli/query.c) on a demo county under shiquan-2021.
 *
 * The county is built once (tz_scenario_generate, 24 months). Then:
 *   - as-of: for several seqs N, every query as of seq N-1 of the full
 *     ledger equals the same query on a ledger holding only the first N
 *     entries, built here by replaying the entries through the real append
 *     path with the clock set to each entry's recorded_at (so the replay is
 *     byte for byte the prefix: its root is checked too);
 *   - each finding the queries report under shiquan-2021 appears on the
 *     county, with its clause: a month under 20 days (§12), a late and an
 *     unsigned sheet (§13(1)), leave over 30 days (§13(2)), absences at 1,
 *     2 and 3 and their consequences (§13(4)), a village short of team
 *     members (§4, §6), terms cut short with the recall's clause, recall and
 *     grade consequences (§20), capped and refused eligibility (§13(4),
 *     §19); shiquan-2021 has no rule on two recalls in one unit, so no
 *     unit finding may appear;
 *   - the commands: JSON equal to the library's document, CSV (header,
 *     CRLF, RFC 4180 quoting) and table output of one query, and the exit
 *     codes (3 for an --as-of that is neither a seq nor a date, 2 for a
 *     seq past the log or a filter the query does not take).
 */
#include <check.h>
#include <jansson.h>
#include <msgpack.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "crypto/key.h"
#include "ledger/entry.h"
#include "ledger/ledger.h"
#include "ledger/statement.h"
#include "ledger/codec.h"
#include "projections/query.h"
#include "projections/view.h"
#include "scenario/scenario.h"
#include "util/time.h"
#include "tests/tz_test.h"

#define PROFILE TZ_SOURCE_DIR "/profiles/shiquan-2021.json"
#define CALENDAR TZ_SOURCE_DIR "/data/cn-workday-calendar.json"
#define TZ "'" TZ_CLI_PATH "'"

static char dir[256], db[320];
static tz_scenario_stats stats;

/* Built in a child process: RocksDB's background threads do not survive the
 * fork of each test, so this process must not open a store before forking. */
static void county_setup(void)
{
    tz_test_tmpdir(dir, sizeof dir);
    snprintf(db, sizeof db, "%s/county", dir);
    char path[400];
    snprintf(path, sizeof path, "%s/stats", dir);
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        tz_scenario_options o;
        tz_scenario_defaults(&o);
        o.profile_path = PROFILE;
        o.calendar_path = CALENDAR;
        tz_err e;
        tz_scenario_stats st;
        if (tz_scenario_generate(db, &o, &st, &e) != TZ_OK) {
            fprintf(stderr, "check_query: demo county: %s\n", e.msg);
            _exit(1);
        }
        FILE *f = fopen(path, "wb");
        _exit(f != NULL && fwrite(&st, sizeof st, 1, f) == 1 && fclose(f) == 0 ? 0 : 1);
    }
    int status = 0;
    if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
        WEXITSTATUS(status) != 0) {
        fprintf(stderr, "check_query: could not build the demo county\n");
        abort();
    }
    FILE *f = fopen(path, "rb");
    if (f == NULL || fread(&stats, sizeof stats, 1, f) != 1)
        abort();
    fclose(f);
}

static void county_teardown(void)
{
    tz_test_rmtree(dir);
}

static tz_ledger *open_county(void)
{
    tz_ledger *l;
    tz_err e;
    ck_assert_msg(tz_ledger_open(&l, db, TZ_LEDGER_READONLY, NULL, &e) == TZ_OK, "%s", e.msg);
    return l;
}

static json_t *run_query(tz_store *store, uint64_t as_of, const char *name, const char *person,
                         const char *village, int year)
{
    tz_query q;
    tz_query_init(&q, store, as_of);
    q.person = person;
    q.village = village;
    q.year = year;
    json_t *out = NULL;
    tz_err e;
    int rc = tz_query_run(name, &q, &out, &e);
    ck_assert_msg(rc == TZ_OK, "%s as of %llu: %s", name, (unsigned long long)as_of, e.msg);
    ck_assert_int_eq(json_integer_value(json_object_get(out, "as_of")), (json_int_t)as_of);
    return out;
}

/* The findings of doc with this code. */
static json_t *findings(const json_t *doc, const char *code)
{
    json_t *out = json_array();
    size_t i;
    json_t *f;
    json_array_foreach(json_object_get(doc, "findings"), i, f)
        if (strcmp(json_string_value(json_object_get(f, "code")), code) == 0)
            json_array_append(out, f);
    return out;
}

static const char *sget(const json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));
    return s ? s : "";
}

/* ---- as-of equals a truncated replay ------------------------------------------ */

typedef struct replay_clock {
    const uint64_t *times;
    size_t i, n;
    int advance;
} replay_clock;

static uint64_t replay_now(void *ctx)
{
    replay_clock *c = ctx;
    uint64_t t = c->times[c->i < c->n ? c->i : c->n - 1];
    if (c->advance)
        c->i++;
    return t;
}

/* Appends entries [from, to) of src to dst, recorded at their original times. */
static void replay(tz_ledger *src, tz_ledger *dst, replay_clock *clk, uint64_t from, uint64_t to)
{
    enum { GROUP = 128 };
    uint8_t *raws[GROUP];
    tz_entry entries[GROUP];
    tz_submission subs[GROUP];
    tz_append_result res[GROUP];
    tz_err e;
    for (uint64_t s = from; s < to;) {
        size_t n = 0;
        for (; n < GROUP && s + n < to; n++) {
            size_t len;
            ck_assert(tz_ledger_get(src, s + n, &raws[n], &len, &e) == TZ_OK);
            ck_assert(tz_entry_decode(&entries[n], raws[n], len, &e) == TZ_OK);
            subs[n] = (tz_submission){entries[n].statement, entries[n].statement_len,
                                      entries[n].sigs, entries[n].nsigs};
        }
        clk->i = s;
        clk->advance = 1;
        size_t processed = 0;
        ck_assert_msg(tz_ledger_append(dst, subs, n, res, &processed, TZ_APPEND_STOP_ON_REJECT,
                                       &e) == TZ_OK, "%s", e.msg);
        ck_assert_uint_eq(processed, n);
        for (size_t i = 0; i < n; i++) {
            ck_assert_msg(res[i].status == TZ_OK, "replay of %llu: %s",
                          (unsigned long long)(s + i), res[i].err.msg);
            ck_assert_uint_eq(res[i].seq, s + i);
            tz_store_free(raws[i]);
        }
        s += n;
    }
}

static void assert_same_answers(tz_store *full, tz_store *part, uint64_t as_of)
{
    static const struct {
        const char *name, *person, *village;
        int year;
    } qs[] = {
        {"roster", NULL, NULL, 0},        {"attendance", NULL, NULL, 0},
        {"leave", "p0090", NULL, 0},      {"absences", "p0043", NULL, 0},
        {"handover", NULL, NULL, 0},      {"term", NULL, NULL, 0},
        {"recall", NULL, NULL, 0},        {"grade", "p0055", NULL, 0},
        {"eligibility", NULL, NULL, 2024}, {"allowance", NULL, NULL, 0},
        {"roster", NULL, "hongying", 0},
    };
    for (size_t i = 0; i < sizeof qs / sizeof qs[0]; i++) {
        json_t *a = run_query(full, as_of, qs[i].name, qs[i].person, qs[i].village, qs[i].year);
        json_t *b = run_query(part, as_of, qs[i].name, qs[i].person, qs[i].village, qs[i].year);
        if (!json_equal(a, b)) {
            char *sa = json_dumps(a, JSON_COMPACT), *sb = json_dumps(b, JSON_COMPACT);
            ck_abort_msg("%s as of %llu differs from the replay:\n%.600s\n%.600s", qs[i].name,
                         (unsigned long long)as_of, sa, sb);
        }
        json_decref(a);
        json_decref(b);
    }
}

START_TEST(as_of_equals_truncated_replay)
{
    tz_ledger *src = open_county();
    uint64_t size = tz_ledger_size(src);
    tz_err e;
    uint64_t *times = calloc(size, sizeof *times);
    ck_assert_ptr_nonnull(times);
    for (uint64_t s = 0; s < size; s++) {
        uint8_t *raw;
        size_t len;
        tz_entry en;
        ck_assert(tz_ledger_get(src, s, &raw, &len, &e) == TZ_OK);
        ck_assert(tz_entry_decode(&en, raw, len, &e) == TZ_OK);
        times[s] = en.recorded_at;
        if (s == 0) {
            /* genesis: origin and root keys, to create the same ledger */
            msgpack_zone zone;
            tz_statement st;
            ck_assert(msgpack_zone_init(&zone, 4096));
            ck_assert(tz_statement_decode(&st, &zone, en.statement, en.statement_len, &e) == TZ_OK);
            json_t *g = tz_statement_to_json(&st, &e);
            json_t *body = json_object_get(g, "body");
            tz_public_key roots[4];
            size_t nroots = json_array_size(json_object_get(body, "roots"));
            ck_assert_uint_le(nroots, 4);
            for (size_t i = 0; i < nroots; i++) {
                const char *k = json_string_value(json_array_get(json_object_get(body, "roots"), i));
                ck_assert(tz_key_parse_public(&roots[i], k, strlen(k), &e) == TZ_OK);
            }
            char part[400], logkey[400];
            snprintf(part, sizeof part, "%s/part", dir);
            snprintf(logkey, sizeof logkey, "%s/log.key", db);
            replay_clock clk0 = {times, 0, 1, 0};
            tz_time_set_clock(replay_now, &clk0);
            int rc = tz_ledger_create(part, sget(body, "origin"), logkey, NULL, roots, nroots, &e);
            tz_time_set_clock(NULL, NULL);
            ck_assert_msg(rc == TZ_OK, "create: %s", e.msg);
            json_decref(g);
            msgpack_zone_destroy(&zone);
        }
        tz_store_free(raw);
    }
    char part[400];
    snprintf(part, sizeof part, "%s/part", dir);
    tz_ledger *dst;
    ck_assert_msg(tz_ledger_open(&dst, part, 0, NULL, &e) == TZ_OK, "%s", e.msg);
    /* moments: an unsigned sheet's first hours, the first recall, a leave of 39
     * days, mid-story, the end */
    uint64_t marks[] = {651, 2090, 4630, size / 2 + 17, size};
    replay_clock clk = {times, 1, size, 1};
    tz_time_set_clock(replay_now, &clk);
    uint64_t done = 1;
    for (size_t m = 0; m < sizeof marks / sizeof marks[0]; m++) {
        uint64_t n = marks[m] < size ? marks[m] : size;
        if (n <= done)
            continue;
        replay(src, dst, &clk, done, n);
        done = n;
        ck_assert_uint_eq(tz_ledger_size(dst), n);
        uint8_t r1[32], r2[32];
        ck_assert(tz_ledger_root_at(src, n, r1, &e) == TZ_OK);
        tz_ledger_root(dst, r2);
        ck_assert_msg(memcmp(r1, r2, 32) == 0, "the replay of %llu entries is not the prefix",
                      (unsigned long long)n);
        assert_same_answers(tz_ledger_store(src), tz_ledger_store(dst), n - 1);
    }
    tz_time_set_clock(NULL, NULL);
    tz_ledger_close(dst);
    tz_ledger_close(src);
    free(times);
}
END_TEST

/* ---- findings under shiquan-2021 -------------------------------------------- */

static void assert_clause(const json_t *list, const char *clause)
{
    ck_assert_msg(json_array_size(list) > 0, "no finding (clause %s)", clause);
    size_t i;
    json_t *f;
    json_array_foreach(list, i, f)
        ck_assert_msg(strstr(sget(f, "clause"), clause) != NULL, "clause \"%s\", want %s",
                      sget(f, "clause"), clause);
}

START_TEST(attendance_findings)
{
    tz_ledger *l = open_county();
    tz_store *s = tz_ledger_store(l);
    uint64_t now = tz_ledger_size(l) - 1;
    json_t *doc = run_query(s, now, "attendance", NULL, NULL, 0);
    ck_assert_uint_eq(json_array_size(json_object_get(doc, "rows")), stats.sheets);
    json_t *under = findings(doc, "under_min_days"), *late = findings(doc, "late");
    assert_clause(under, "shiquan-2021 §12");
    assert_clause(late, "shiquan-2021 §13(1)");
    ck_assert_uint_eq(json_array_size(late), stats.late_sheets);
    /* an under-20 month: a full month (no '-') with fewer than 20 days in the village */
    size_t i;
    json_t *row;
    json_array_foreach(json_object_get(doc, "rows"), i, row) {
        json_t *u = NULL;
        size_t j;
        json_t *f;
        json_array_foreach(json_object_get(row, "findings"), j, f)
            if (strcmp(sget(f, "code"), "under_min_days") == 0)
                u = f;
        json_int_t in = json_integer_value(json_object_get(row, "in_village"));
        int full = strchr(sget(row, "days"), '-') == NULL;
        ck_assert_int_eq(u != NULL, full && in < 20);
    }
    /* the first sheet, before its co-signature: unsigned */
    uint64_t first = 0;
    json_t *d = NULL;
    tz_err e;
    ck_assert(tz_query_diff(s, 0, now, &d, &e) == TZ_OK);
    json_array_foreach(json_object_get(d, "rows"), i, row)
        if (strcmp(sget(row, "view"), "attendance") == 0) {
            first = (uint64_t)json_integer_value(json_array_get(json_object_get(row, "seqs"), 0));
            break;
        }
    json_decref(d);
    ck_assert_uint_gt(first, 0);
    json_t *then = run_query(s, first, "attendance", NULL, NULL, 0);
    json_t *uns = findings(then, "unsigned");
    assert_clause(uns, "shiquan-2021 §13(1)");
    ck_assert_ptr_nonnull(strstr(sget(json_array_get(uns, 0), "text"), "village party secretary"));
    /* and the allowance is not paid on it */
    json_t *al = run_query(s, first, "allowance", NULL, NULL, 0);
    ck_assert_int_eq(json_integer_value(json_object_get(al, "total_fen")), 0);
    json_decref(al);
    json_decref(uns);
    json_decref(then);
    json_decref(under);
    json_decref(late);
    json_decref(doc);
    tz_ledger_close(l);
}
END_TEST

START_TEST(leave_recall_term_grade_findings)
{
    tz_ledger *l = open_county();
    tz_store *s = tz_ledger_store(l);
    uint64_t now = tz_ledger_size(l) - 1;
    json_t *rec = run_query(s, now, "recall", NULL, NULL, 0);
    ck_assert_uint_eq(json_array_size(json_object_get(rec, "rows")), stats.recalls);
    size_t i;
    json_t *row;
    const char *leave_person = NULL, *incompetent = NULL;
    json_array_foreach(json_object_get(rec, "rows"), i, row) {
        if (strcmp(sget(row, "reason"), "leave_over_30_days") == 0)
            leave_person = sget(row, "person");
        if (strcmp(sget(row, "reason"), "grade_incompetent") == 0)
            incompetent = sget(row, "person");
    }
    ck_assert_ptr_nonnull(leave_person);
    ck_assert_ptr_nonnull(incompetent);
    json_t *rc = findings(rec, "recall_consequence");
    assert_clause(rc, "shiquan-2021 §20");
    ck_assert_uint_eq(json_array_size(rc), stats.recalls);
    /* shiquan-2021 sets no rule on two recalls in one unit */
    json_t *units = findings(rec, "two_recalls");
    ck_assert_uint_eq(json_array_size(units), 0);
    size_t nfind = 0;
    json_array_foreach(json_object_get(rec, "units"), i, row)
        nfind += json_array_size(json_object_get(row, "findings"));
    ck_assert_uint_eq(nfind, 0);

    /* leave over 30 days: recall required (§13(2)) */
    json_t *lv = run_query(s, now, "leave", leave_person, NULL, 0);
    json_t *over = findings(lv, "recall_required");
    assert_clause(over, "§13(2)");
    ck_assert_int_gt(json_integer_value(json_object_get(json_array_get(json_object_get(lv, "rows"),
                                                                       json_array_size(json_object_get(lv, "rows")) - 1), "days")), 30);

    /* terms cut short: each recall with its reason's clause */
    json_t *t = run_query(s, now, "term", NULL, NULL, 0);
    json_t *cut = findings(t, "cut_short");
    ck_assert_uint_eq(json_array_size(cut), stats.recalls);
    json_array_foreach(cut, i, row) {
        const char *reason = sget(row, "reason");
        const char *want = strcmp(reason, "health") == 0 ? "shiquan-2021 §11" :
                           strcmp(reason, "third_absence") == 0 ? "shiquan-2021 §13(4)" :
                           strcmp(reason, "leave_over_30_days") == 0 ? "shiquan-2021 §13(2)" :
                           "shiquan-2021 §20";
        ck_assert_str_eq(sget(row, "clause"), want);
    }

    /* 不称职: recalled at once, no promotion for two years (§20) */
    json_t *g = run_query(s, now, "grade", incompetent, NULL, 0);
    json_t *req = findings(g, "recall_required");
    assert_clause(req, "shiquan-2021 §20");
    json_t *gc = findings(g, "grade_consequence");
    assert_clause(gc, "shiquan-2021 §20");
    int promo = 0;
    json_array_foreach(gc, i, row)
        promo |= strstr(sget(row, "text"), "no promotion until") != NULL;
    ck_assert(promo);

    /* handovers: complete, at least the profile's working days */
    json_t *h = run_query(s, now, "handover", NULL, NULL, 0);
    ck_assert_uint_eq(json_array_size(json_object_get(h, "rows")), stats.handovers);
    json_array_foreach(json_object_get(h, "rows"), i, row)
        ck_assert_int_ge(json_integer_value(json_object_get(row, "working_days")), 15);

    json_decref(h);
    json_decref(gc);
    json_decref(req);
    json_decref(g);
    json_decref(cut);
    json_decref(t);
    json_decref(over);
    json_decref(lv);
    json_decref(units);
    json_decref(rc);
    json_decref(rec);
    tz_ledger_close(l);
}
END_TEST

START_TEST(absences_coverage_eligibility)
{
    tz_ledger *l = open_county();
    tz_store *s = tz_ledger_store(l);
    uint64_t now = tz_ledger_size(l) - 1;
    /* one cadre-year with 1, 2 and 3 absences */
    json_t *terms = run_query(s, now, "term", NULL, NULL, 0);
    json_t *seen[4] = {NULL, NULL, NULL, NULL};
    size_t i;
    json_t *row;
    json_array_foreach(json_object_get(terms, "rows"), i, row) {
        json_t *a = run_query(s, now, "absences", sget(row, "person"), NULL, 0);
        size_t j;
        json_t *r;
        json_array_foreach(json_object_get(a, "rows"), j, r) {
            json_int_t n = json_integer_value(json_object_get(r, "count"));
            if (n >= 1 && n <= 3 && seen[n] == NULL) {
                json_t *one = json_deep_copy(a);
                json_object_set_new(one, "the_row", json_deep_copy(r));
                seen[n] = one;
            }
        }
        json_decref(a);
    }
    for (int n = 1; n <= 3; n++) {
        ck_assert_msg(seen[n] != NULL, "no cadre-year with %d absence(s) in the demo", n);
        json_t *ab = findings(seen[n], "absences");
        assert_clause(ab, "shiquan-2021 §13(4)");
        json_t *cons = findings(seen[n], "absence_consequence");
        const char *year = sget(json_object_get(seen[n], "the_row"), "year");
        size_t nc = 0;
        json_t *f, *last = NULL;
        json_array_foreach(cons, i, f)
            if (strcmp(sget(f, "year"), year) == 0) {
                nc++;
                last = f;
            }
        if (n == 1) {
            ck_assert_uint_eq(nc, 0); /* criticism only: no grade cap */
        } else {
            ck_assert_uint_eq(nc, (size_t)n - 1);
            ck_assert_str_eq(sget(last, "clause"), "shiquan-2021 §13(4)");
            ck_assert_str_eq(sget(last, "max_grade"), n == 2 ? "称职" : "基本称职");
            ck_assert_int_eq(json_is_true(json_object_get(last, "recall")), n == 3);
            if (n == 3)
                ck_assert_ptr_nonnull(strstr(sget(last, "text"), "reserve-cadre status cancelled"));
        }
        json_decref(ab);
        json_decref(cons);
        json_decref(seen[n]);
    }
    json_decref(terms);

    /* coverage: the villages the demo sent too few team members (§4, §6) */
    json_t *ro = run_query(s, now, "roster", NULL, NULL, 0);
    json_t *cov = findings(ro, "coverage_short");
    assert_clause(cov, "shiquan-2021 §4, §6");
    ck_assert_uint_eq(json_array_size(cov), stats.short_villages);
    ck_assert_uint_eq(json_array_size(json_object_get(ro, "coverage")), stats.villages);
    json_decref(cov);
    json_decref(ro);

    /* eligibility 2024: capped by absences, refused under half a year */
    json_t *el = run_query(s, now, "eligibility", NULL, NULL, 2024);
    json_t *capped = findings(el, "grade_capped"), *no = findings(el, "not_eligible");
    assert_clause(capped, "shiquan-2021 §13(4)");
    assert_clause(no, "shiquan-2021 §19");
    int two = 0, three = 0;
    json_array_foreach(json_object_get(el, "rows"), i, row) {
        json_int_t n = json_integer_value(json_object_get(row, "absences"));
        json_int_t days = json_integer_value(json_object_get(row, "days_stationed"));
        int eligible = json_is_true(json_object_get(row, "eligible"));
        ck_assert_int_eq(eligible, days * 2 > 366);
        if (!eligible) {
            ck_assert(json_is_null(json_object_get(row, "max_grade")));
            continue;
        }
        const char *want = n >= 3 ? "基本称职" : n == 2 ? "称职" : "优秀";
        ck_assert_str_eq(sget(row, "max_grade"), want);
        two |= n == 2;
        three |= n >= 3;
        /* a grade given never exceeds the cap (the decide step refuses it) */
        const char *as = sget(row, "assessed");
        if (as[0] && n >= 2)
            ck_assert_str_ne(as, "优秀");
        ck_assert_uint_gt(json_array_size(json_object_get(row, "explain")), 0);
    }
    ck_assert(two && three);
    json_decref(capped);
    json_decref(no);
    json_decref(el);

    /* allowance: integer fen, rate × days in the village of complete sheets */
    json_t *al = run_query(s, now, "allowance", NULL, NULL, 2024);
    json_int_t sum = 0;
    json_array_foreach(json_object_get(al, "rows"), i, row) {
        json_int_t fen = json_integer_value(json_object_get(row, "allowance_fen"));
        ck_assert_int_eq(fen, json_integer_value(json_object_get(row, "days")) *
                                  json_integer_value(json_object_get(row, "rate_fen")));
        sum += fen;
    }
    ck_assert_int_gt(sum, 0);
    ck_assert_int_eq(json_integer_value(json_object_get(al, "total_fen")), sum);
    json_decref(al);
    tz_ledger_close(l);
}
END_TEST


/* A term that ran out with no handover or dispatch.end is flagged once its
 * planned end has passed, and not before. */
START_TEST(terms_past_planned_end)
{
    tz_ledger *l = open_county();
    tz_store *s = tz_ledger_store(l);
    uint64_t now = tz_ledger_size(l) - 1;
    json_t *t = run_query(s, now, "term", NULL, NULL, 0);
    json_t *past = findings(t, "past_planned_end");
    int64_t today;
    tz_err e;
    ck_assert(tz_query_day_of_seq(s, now, &today, &e) == TZ_OK);
    size_t i, expected = 0;
    json_t *row;
    json_array_foreach(json_object_get(t, "rows"), i, row) {
        int64_t planned;
        const char *st = sget(row, "status");
        if ((strcmp(st, "active") == 0 || strcmp(st, "handing_over") == 0) &&
            tz_time_parse_date(sget(row, "planned_end"), 10, "p", &planned, NULL) == TZ_OK &&
            planned < today)
            expected++;
    }
    ck_assert_uint_gt(expected, 0);
    ck_assert_uint_eq(json_array_size(past), expected);
    json_decref(past);
    json_decref(t);
    /* a year earlier nothing had run out yet */
    uint64_t then;
    ck_assert(tz_view_parse_as_of(s, now + 1, "2025-01-31", &then, &e) == TZ_OK);
    t = run_query(s, then, "term", NULL, NULL, 0);
    past = findings(t, "past_planned_end");
    ck_assert_uint_eq(json_array_size(past), 0);
    json_decref(past);
    json_decref(t);
    tz_ledger_close(l);
}
END_TEST

START_TEST(diff_and_explain)
{
    tz_ledger *l = open_county();
    tz_store *s = tz_ledger_store(l);
    json_t *rec = run_query(s, tz_ledger_size(l) - 1, "recall", NULL, NULL, 0);
    json_t *r0 = json_array_get(json_object_get(rec, "rows"), 0);
    uint64_t seq = (uint64_t)json_integer_value(json_object_get(r0, "seq"));
    json_t *d = NULL;
    tz_err e;
    ck_assert(tz_query_diff(s, seq - 1, seq, &d, &e) == TZ_OK);
    int recall_added = 0, roster_recalled = 0;
    size_t i;
    json_t *row;
    json_array_foreach(json_object_get(d, "rows"), i, row) {
        ck_assert_int_eq(json_integer_value(json_array_get(json_object_get(row, "seqs"), 0)),
                         (json_int_t)seq);
        if (strcmp(sget(row, "view"), "recall") == 0)
            recall_added = strcmp(sget(row, "change"), "added") == 0 &&
                           json_is_null(json_object_get(row, "before"));
        if (strcmp(sget(row, "view"), "roster") == 0)
            roster_recalled = strcmp(sget(json_object_get(row, "before"), "status"), "active") == 0 &&
                              strcmp(sget(json_object_get(row, "after"), "status"), "recalled") == 0;
    }
    ck_assert(recall_added && roster_recalled);
    /* explain: the recall entry, typed and signed */
    ck_assert(tz_query_explain(s, rec, &e) == TZ_OK);
    json_t *ex = json_object_get(r0, "explained");
    ck_assert_uint_eq(json_array_size(ex), json_array_size(json_object_get(r0, "explain")));
    int found = 0;
    json_array_foreach(ex, i, row)
        if ((uint64_t)json_integer_value(json_object_get(row, "seq")) == seq) {
            found = 1;
            ck_assert_str_eq(sget(row, "type"), "recall");
            ck_assert_uint_gt(json_array_size(json_object_get(row, "signers")), 0);
            ck_assert_uint_gt(strlen(sget(row, "recorded_at")), 0);
        }
    ck_assert(found);
    json_decref(d);
    json_decref(rec);
    tz_ledger_close(l);
}
END_TEST

/* ---- the commands ----------------------------------------------------------- */

START_TEST(cli_formats_and_exit_codes)
{
    char *out = NULL;
    /* JSON: the library's document */
    ck_assert_int_eq(tz_test_run(&out, TZ " roster --db '%s' --village hongying --as-of 4629 "
                                 "--format json", db), 0);
    json_error_t je;
    json_t *cli = json_loads(out, 0, &je);
    ck_assert_msg(cli != NULL, "not JSON: %s", je.text);
    free(out);
    tz_ledger *l = open_county();
    json_t *lib = run_query(tz_ledger_store(l), 4629, "roster", NULL, "hongying", 0);
    ck_assert(json_equal(cli, lib));
    size_t nrows = json_array_size(json_object_get(lib, "rows"));
    json_decref(cli);
    json_decref(lib);
    tz_ledger_close(l);
    /* not a terminal: JSON by default */
    ck_assert_int_eq(tz_test_run(&out, TZ " roster --db '%s' --village hongying", db), 0);
    ck_assert_int_eq(out[0], '{');
    free(out);

    /* CSV: header, one line per row, CRLF */
    ck_assert_int_eq(tz_test_run(&out, TZ " roster --db '%s' --village hongying --as-of 4629 "
                                 "--format csv", db), 0);
    const char *hdr = "village,township,name,person,role,unit,start,planned_end,end,status,"
                      "on_leave\r\n";
    ck_assert_int_eq(strncmp(out, hdr, strlen(hdr)), 0);
    size_t lines = 0;
    for (char *p = out; (p = strstr(p, "\r\n")) != NULL; p += 2)
        lines++;
    ck_assert_uint_eq(lines, nrows + 1);
    ck_assert_ptr_nonnull(strstr(out, ",team_member,"));
    free(out);
    /* RFC 4180 quoting: the diff's summary holds commas */
    ck_assert_int_eq(tz_test_run(&out, TZ " diff --db '%s' --from 2089 --to 2090 --format csv",
                                 db), 0);
    ck_assert_ptr_nonnull(strstr(out, ",\"new: status requested, "));
    free(out);

    /* table: aligned, Chinese role names, findings under it */
    ck_assert_int_eq(tz_test_run(&out, TZ " roster --db '%s' --format table", db), 0);
    ck_assert_ptr_nonnull(strstr(out, "village"));
    ck_assert_ptr_nonnull(strstr(out, "第一书记"));
    ck_assert_ptr_nonnull(strstr(out, "findings ("));
    ck_assert_ptr_nonnull(strstr(out, "[coverage_short]"));
    ck_assert_ptr_nonnull(strstr(out, "(shiquan-2021 §4, §6)"));
    free(out);
    ck_assert_int_eq(tz_test_run(&out, TZ " leave --db '%s' --person p0090 --format table "
                                 "--explain", db), 0);
    ck_assert_ptr_nonnull(strstr(out, "leave.approve"));
    ck_assert_ptr_nonnull(strstr(out, "[recall_required]"));
    free(out);
    /* dates work as moments */
    ck_assert_int_eq(tz_test_run(&out, TZ " diff --db '%s' --from 2024-07-15 --to 2024-07-17 "
                                 "--format table", db), 0);
    ck_assert_ptr_nonnull(strstr(out, "status active -> recalled"));
    free(out);

    /* exit codes */
    ck_assert_int_eq(tz_test_run(NULL, TZ " roster --db '%s' --as-of yesterday 2>/dev/null", db), 3);
    ck_assert_int_eq(tz_test_run(NULL, TZ " roster --db '%s' --as-of 2024-13-45 2>/dev/null", db), 3);
    ck_assert_int_eq(tz_test_run(NULL, TZ " diff --db '%s' --from x --to 5 2>/dev/null", db), 3);
    ck_assert_int_eq(tz_test_run(NULL, TZ " roster --db '%s' --as-of 99999999 2>/dev/null", db), 2);
    ck_assert_int_eq(tz_test_run(NULL, TZ " leave --db '%s' 2>/dev/null", db), 2);
    ck_assert_int_eq(tz_test_run(NULL, TZ " leave --db '%s' --person p1 --village v 2>/dev/null",
                                 db), 2);
    ck_assert_int_eq(tz_test_run(NULL, TZ " roster --db '%s' --format xml 2>/dev/null", db), 2);
    ck_assert_int_eq(tz_test_run(NULL, TZ " attendance --db '%s' --month 2024-1 2>/dev/null", db), 2);
    ck_assert_int_eq(tz_test_run(NULL, TZ " roster --db '%s/nowhere' 2>/dev/null", dir), 2);
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("query");
    TCase *tc = tcase_create("county");
    tcase_add_unchecked_fixture(tc, county_setup, county_teardown);
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, as_of_equals_truncated_replay);
    tcase_add_test(tc, attendance_findings);
    tcase_add_test(tc, leave_recall_term_grade_findings);
    tcase_add_test(tc, absences_coverage_eligibility);
    tcase_add_test(tc, terms_past_planned_end);
    tcase_add_test(tc, diff_and_explain);
    tcase_add_test(tc, cli_formats_and_exit_codes);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return tz_test_main(make_suite);
}
