/*
 * check_scenario.c: the scenario generator (scenario/scenario.h) and
 * `taizhang demo`.
 *
 * A small county (2 townships, 8 villages, 24 months: every scripted event
 * of the default county happens in it) is built once per test through the
 * real append path: every statement must be accepted, the full verifier
 * must pass, the same seed must give the same root and another seed
 * another one. The plausibility checks read the ledger back, not the
 * generator's own counts: spot-check coverage per month, late sheets
 * judged from the co-signatures' recorded_at, one recall per scripted
 * reason, a completed handover. No timing is asserted.
 */
#include <check.h>
#include <jansson.h>
#include <msgpack.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "crypto/keyfile.h"
#include "ledger/entry.h"
#include "ledger/ledger.h"
#include "ledger/statement.h"
#include "ledger/verify.h"
#include "scenario/scenario.h"
#include "util/time.h"
#include "tests/tz_test.h"

#define PROFILE TZ_SOURCE_DIR "/profiles/shiquan-2021.json"
#define CALENDAR TZ_SOURCE_DIR "/data/cn-workday-calendar.json"

static void small_options(tz_scenario_options *o, uint64_t seed)
{
    tz_scenario_defaults(o);
    o->seed = seed;
    o->townships = 2;
    o->villages_per_township = 4;
    o->profile_path = PROFILE;
    o->calendar_path = CALENDAR;
}

/* Builds the small county in a new temp dir (path in dir, ledger in dir/l). */
static void build(char *dir, size_t cap, char *db, size_t dbcap, const tz_scenario_options *o,
                  tz_scenario_stats *st)
{
    tz_test_tmpdir(dir, cap);
    snprintf(db, dbcap, "%s/l", dir);
    tz_err e;
    int rc = tz_scenario_generate(db, o, st, &e);
    ck_assert_msg(rc == TZ_OK, "generate: %s", e.msg);
    ck_assert_int_eq(st->rejected, 0);
}

/* Each entry of the ledger at db as JSON {seq, recorded_at (us), statement}. */
static json_t *read_all(const char *db)
{
    tz_ledger *l;
    tz_err e;
    ck_assert_msg(tz_ledger_open(&l, db, TZ_LEDGER_READONLY, NULL, &e) == TZ_OK, "%s", e.msg);
    json_t *all = json_array();
    for (uint64_t s = 0; s < tz_ledger_size(l); s++) {
        uint8_t *raw = NULL;
        size_t len = 0;
        tz_entry entry;
        ck_assert(tz_ledger_get(l, s, &raw, &len, &e) == TZ_OK);
        ck_assert(tz_entry_decode(&entry, raw, len, &e) == TZ_OK);
        msgpack_zone zone;
        ck_assert(msgpack_zone_init(&zone, 4096));
        tz_statement st;
        ck_assert(tz_statement_decode(&st, &zone, entry.statement, entry.statement_len, &e) == TZ_OK);
        json_t *js = tz_statement_to_json(&st, &e);
        ck_assert(js != NULL);
        json_array_append_new(all, json_pack("{s:I,s:I,s:o}", "seq", (json_int_t)s, "rec",
                                             (json_int_t)entry.recorded_at, "st", js));
        msgpack_zone_destroy(&zone);
        tz_store_free(raw);
    }
    tz_ledger_close(l);
    return all;
}

static const char *type_of(const json_t *e)
{
    return json_string_value(json_object_get(json_object_get(e, "st"), "type"));
}

static const json_t *body_of(const json_t *e)
{
    return json_object_get(json_object_get(e, "st"), "body");
}

static const char *bstr(const json_t *e, const char *k)
{
    return json_string_value(json_object_get(body_of(e), k));
}

START_TEST(test_small_county)
{
    tz_scenario_options o;
    tz_scenario_stats st;
    char dir[256], db[320];
    small_options(&o, 1);
    build(dir, sizeof dir, db, sizeof db, &o, &st);

    /* the clock is the wall clock again */
    int64_t drift = (int64_t)(tz_time_now_micros() / 1000000u) - (int64_t)time(NULL);
    ck_assert_msg(drift > -60 && drift < 60, "the simulated clock was not restored");

    /* the verifier replays every decision */
    tz_verify_report rep;
    tz_err e;
    ck_assert_msg(tz_verify_ledger(db, NULL, &rep, &e) == TZ_OK, "%s", e.msg);
    ck_assert_msg(rep.ok, "verify: %s", rep.reason);
    ck_assert_uint_eq(rep.size, st.entries);
    ck_assert(memcmp(rep.root, st.root, 32) == 0);

    /* the generator's counts */
    ck_assert_uint_eq(st.villages, 8);
    ck_assert_uint_eq(st.townships, 2);
    ck_assert_uint_ge(st.cadres, 20);
    ck_assert_uint_ge(st.never_dispatched, 1);
    ck_assert_uint_ge(st.short_villages, 1);
    ck_assert_uint_ge(st.late_sheets, 1);
    ck_assert_uint_lt(st.late_sheets * 5, st.sheets); /* most are on time */
    ck_assert_uint_ge(st.sheets_under_min, 1);
    ck_assert_uint_ge(st.leaves_refused, 1);
    ck_assert_uint_eq(st.handovers, 1);
    ck_assert_uint_eq(st.recalls_third_absence, 1);
    ck_assert_uint_eq(st.recalls_health, 1);
    ck_assert_uint_eq(st.recalls_leave, 1);
    ck_assert_uint_eq(st.recalls_incompetent, 1);
    ck_assert_uint_eq(st.replacements, 4);
    ck_assert_uint_eq(tz_scenario_count_of(&st, "attendance"), st.sheets);
    ck_assert_uint_eq(tz_scenario_count_of(&st, "genesis"), 1);
    uint64_t sum = 0;
    for (size_t i = 0; i < st.ntypes; i++)
        sum += st.by_type[i].count;
    ck_assert_uint_eq(sum, st.entries);

    /* and what the ledger says */
    json_t *all = read_all(db);
    ck_assert_uint_eq(json_array_size(all), st.entries);
    json_t *stationed = json_object(), *checked = json_object(), *recalls = json_object();
    json_t *sheet_month = json_object(); /* seq -> "YYYY-MM" */
    uint64_t late = 0, completed_handovers = 0, absent = 0, prev_rec = 0;
    size_t i;
    json_t *en;
    json_array_foreach(all, i, en) {
        const char *t = type_of(en);
        uint64_t rec = (uint64_t)json_integer_value(json_object_get(en, "rec"));
        ck_assert_msg(rec >= prev_rec, "recorded_at runs backwards at %zu", i);
        prev_rec = rec;
        /* recorded in the story's time: 2023-12 .. 2026-02 */
        ck_assert_uint_gt(rec, 1701388800000000ull);
        ck_assert_uint_lt(rec, 1772323200000000ull);
        if (strcmp(t, "attendance") == 0) {
            const char *month = bstr(en, "month");
            json_t *set = json_object_get(stationed, month);
            if (set == NULL)
                json_object_set_new(stationed, month, set = json_object());
            json_object_set_new(set, bstr(en, "person"), json_true());
            char seq[24];
            snprintf(seq, sizeof seq, "%lld", (long long)json_integer_value(json_object_get(en, "seq")));
            json_object_set_new(sheet_month, seq, json_string(month));
        } else if (strcmp(t, "spot_check") == 0) {
            char month[8];
            snprintf(month, sizeof month, "%.7s", bstr(en, "date"));
            json_t *set = json_object_get(checked, month);
            if (set == NULL)
                json_object_set_new(checked, month, set = json_object());
            json_object_set_new(set, bstr(en, "person"), json_true());
            absent += strcmp(bstr(en, "result"), "absent") == 0;
        } else if (strcmp(t, "cosign") == 0) {
            char seq[24];
            snprintf(seq, sizeof seq, "%lld",
                     (long long)json_integer_value(json_object_get(body_of(en), "seq")));
            const char *month = json_string_value(json_object_get(sheet_month, seq));
            if (month != NULL) {
                /* due the 28th of the next month, judged in China time */
                int y = atoi(month), m = atoi(month + 5) + 1;
                if (m == 13) {
                    y++;
                    m = 1;
                }
                int64_t due = tz_time_days_from_civil(y, (unsigned)m, 28);
                int64_t day = (int64_t)((rec / 1000000u + 8 * 3600) / 86400);
                late += day > due;
            }
        } else if (strcmp(t, "recall") == 0) {
            json_object_set_new(recalls, bstr(en, "reason"), json_true());
        } else if (strcmp(t, "handover.complete") == 0) {
            completed_handovers++;
        }
    }
    ck_assert_uint_eq(late, st.late_sheets);
    ck_assert_uint_eq(absent, st.absences);
    ck_assert_uint_ge(absent, 3);
    ck_assert_uint_eq(completed_handovers, 1);
    ck_assert_int_eq((int)json_object_size(recalls), 4);
    ck_assert_int_eq((int)json_object_size(stationed), 24);
    const char *month;
    json_t *set;
    json_object_foreach(stationed, month, set) {
        json_t *c = json_object_get(checked, month);
        size_t n = json_object_size(set), hit = 0;
        const char *who;
        json_t *v;
        json_object_foreach(set, who, v)
            hit += c != NULL && json_object_get(c, who) != NULL;
        ck_assert_msg(hit * 100 >= n * 30, "%s: %zu of %zu stationed cadres spot-checked", month,
                      hit, n);
    }
    json_decref(stationed);
    json_decref(checked);
    json_decref(recalls);
    json_decref(sheet_month);
    json_decref(all);
    tz_test_rmtree(dir);
}
END_TEST

START_TEST(test_deterministic)
{
    tz_scenario_options o;
    tz_scenario_stats a, b, c;
    char d1[256], d2[256], d3[256], db[320];
    small_options(&o, 7);
    o.months = 14;
    build(d1, sizeof d1, db, sizeof db, &o, &a);
    build(d2, sizeof d2, db, sizeof db, &o, &b);
    ck_assert_uint_eq(a.entries, b.entries);
    ck_assert_msg(memcmp(a.root, b.root, 32) == 0, "the same seed gave two roots");
    o.seed = 8;
    build(d3, sizeof d3, db, sizeof db, &o, &c);
    ck_assert_msg(memcmp(a.root, c.root, 32) != 0, "two seeds gave one root");
    tz_test_rmtree(d1);
    tz_test_rmtree(d2);
    tz_test_rmtree(d3);
}
END_TEST

START_TEST(test_other_start_and_scale)
{
    /* starts mid-year, one village only: whatever fits is planned, all accepted */
    tz_scenario_options o;
    tz_scenario_stats st;
    char dir[256], db[320];
    small_options(&o, 3);
    o.townships = 0;
    o.villages = 1;
    o.start_month = 7;
    o.months = 12;
    build(dir, sizeof dir, db, sizeof db, &o, &st);
    ck_assert_uint_eq(st.villages, 1);
    ck_assert_str_eq(st.first_month, "2024-07");
    ck_assert_str_eq(st.last_month, "2025-06");
    tz_verify_report rep;
    tz_err e;
    ck_assert(tz_verify_ledger(db, NULL, &rep, &e) == TZ_OK);
    ck_assert_msg(rep.ok, "%s", rep.reason);
    tz_test_rmtree(dir);
}
END_TEST

START_TEST(test_keys_dir)
{
    tz_scenario_options o;
    tz_scenario_stats st;
    char dir[256], db[320], keys[320], path[400];
    tz_test_tmpdir(dir, sizeof dir);
    snprintf(db, sizeof db, "%s/l", dir);
    snprintf(keys, sizeof keys, "%s/keys", dir);
    small_options(&o, 5);
    o.months = 3;
    o.keys_dir = keys;
    tz_err e;
    ck_assert_msg(tz_scenario_generate(db, &o, &st, &e) == TZ_OK, "%s", e.msg);
    snprintf(path, sizeof path, "%s/county-org-dept.key", keys);
    tz_secret_key k;
    ck_assert_msg(tz_keyfile_read_secret(&k, path, NULL, &e) == TZ_OK, "%s", e.msg);
    tz_key_wipe(&k);
    struct stat sb;
    snprintf(path, sizeof path, "%s/keys.tsv", keys);
    ck_assert(stat(path, &sb) == 0 && sb.st_size > 100);

    /* a user continues by hand with an office key */
    char *out = NULL;
    int rc = tz_test_run(&out, "printf '%%s\\n' '{\"type\":\"memo\",\"id\":\"memo/by-hand\","
                         "\"at\":\"2026-01-20T09:00:00+08:00\",\"body\":{\"text\":\"县委组织部 "
                         "督导记录\"}}' | %s append --db '%s' --key '%s/county-org-dept.key'",
                         TZ_CLI_PATH, db, keys);
    ck_assert_msg(rc == 0, "append by hand: exit %d: %s", rc, out ? out : "");
    free(out);

    /* a keys dir that is not empty is refused before anything is written */
    char db2[320];
    snprintf(db2, sizeof db2, "%s/l2", dir);
    ck_assert_int_eq(tz_scenario_generate(db2, &o, &st, &e), TZ_ERR_USAGE);
    ck_assert(strstr(e.msg, "not empty") != NULL);
    ck_assert(stat(db2, &sb) != 0);
    tz_test_rmtree(dir);
}
END_TEST

START_TEST(test_bad_options)
{
    tz_scenario_options o;
    tz_scenario_stats st;
    tz_err e;
    char dir[256], db[320];
    tz_test_tmpdir(dir, sizeof dir);
    snprintf(db, sizeof db, "%s/l", dir);
    small_options(&o, 1);
    o.profile_path = NULL;
    ck_assert_int_eq(tz_scenario_generate(db, &o, &st, &e), TZ_ERR_USAGE);
    small_options(&o, 1);
    o.months = TZ_SCENARIO_MAX_MONTHS + 1;
    ck_assert_int_eq(tz_scenario_generate(db, &o, &st, &e), TZ_ERR_USAGE);
    small_options(&o, 1);
    o.calendar_path = TZ_SOURCE_DIR "/no/such/calendar.json";
    ck_assert_int_eq(tz_scenario_generate(db, &o, &st, &e), TZ_ERR_IO);
    ck_assert(strstr(e.msg, "calendar.json") != NULL);
    /* guizhou-2018 asks the county party secretary to approve a dispatch */
    small_options(&o, 1);
    o.profile_path = TZ_SOURCE_DIR "/profiles/guizhou-2018.json";
    ck_assert_int_eq(tz_scenario_generate(db, &o, &st, &e), TZ_ERR_USAGE);
    ck_assert_msg(strstr(e.msg, "does not model") != NULL, "%s", e.msg);
    ck_assert_int_eq(st.rejected, 0);
    struct stat sb;
    ck_assert(stat(db, &sb) != 0); /* nothing was created */
    tz_test_rmtree(dir);
}
END_TEST

START_TEST(test_cli_demo)
{
    char dir[256];
    tz_test_tmpdir(dir, sizeof dir);
    char *out = NULL;
    int rc = tz_test_run(&out, "cd '%s' && %s demo --db d --keys k --months 2 --villages 3 "
                         "--seed 9 --profile '%s' --calendar '%s'", dir, TZ_CLI_PATH, PROFILE,
                         CALENDAR);
    ck_assert_msg(rc == 0, "demo: exit %d", rc);
    ck_assert_ptr_nonnull(out);
    ck_assert_msg(strstr(out, "checkpoint:\ntaizhang.example/shiquan-demo\n") != NULL, "%s", out);
    ck_assert(strstr(out, "attendance") != NULL);
    free(out);
    out = NULL;
    rc = tz_test_run(&out, "cd '%s' && %s verify --db d", dir, TZ_CLI_PATH);
    ck_assert_int_eq(rc, 0);
    free(out);
    out = NULL;
    /* usage errors exit 2 */
    rc = tz_test_run(&out, "cd '%s' && %s demo --db e --months 0 --profile '%s' --calendar '%s' "
                     "2>/dev/null", dir, TZ_CLI_PATH, PROFILE, CALENDAR);
    ck_assert_int_eq(rc, 2);
    free(out);
    out = NULL;
    rc = tz_test_run(&out, "cd '%s' && %s demo --db e --keys k --profile '%s' --calendar '%s' "
                     "2>/dev/null", dir, TZ_CLI_PATH, PROFILE, CALENDAR);
    ck_assert_int_eq(rc, 2); /* k is not empty */
    free(out);
    tz_test_rmtree(dir);
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("scenario");
    TCase *tc = tcase_create("scenario");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, test_small_county);
    tcase_add_test(tc, test_deterministic);
    tcase_add_test(tc, test_other_start_and_scale);
    tcase_add_test(tc, test_keys_dir);
    tcase_add_test(tc, test_bad_options);
    tcase_add_test(tc, test_cli_demo);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return tz_test_main(make_suite); }
