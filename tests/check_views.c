/*
 * check_views.c: the versioned projections (projections/view.c) on a demo
 * county: as-of answers equal a fresh replay of the first N entries, a
 * rebuild (reproject) equals the incremental state byte for byte, and an
 * edited projection record is caught by verify and placed at its seq.
 */
#include <check.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ledger/ledger.h"
#include "ledger/rebuild.h"
#include "ledger/store.h"
#include "ledger/verify.h"
#include "projections/view.h"
#include "scenario/scenario.h"
#include "tests/tz_test.h"

static char dir[256], db[320];
static uint64_t size;

static void county_up(void)
{
    tz_test_tmpdir(dir, sizeof dir);
    snprintf(db, sizeof db, "%s/ledger", dir);
    tz_scenario_options o;
    tz_scenario_defaults(&o);
    o.months = 14; /* one Spring Festival handover season, a year of assessments */
    o.profile_path = TZ_SOURCE_DIR "/profiles/shiquan-2021.json";
    o.calendar_path = TZ_SOURCE_DIR "/data/cn-workday-calendar.json";
    tz_scenario_stats st;
    tz_err e;
    ck_assert_msg(tz_scenario_generate(db, &o, &st, &e) == TZ_OK, "%s", e.msg);
    size = st.entries;
}

static void county_down(void)
{
    tz_test_rmtree(dir);
}

static tz_store *open_store(const char *ledger, int flags)
{
    char path[400];
    snprintf(path, sizeof path, "%s/db", ledger);
    tz_store *s;
    tz_err e;
    ck_assert_msg(tz_store_open(&s, path, flags, &e) == TZ_OK, "%s", e.msg);
    return s;
}

/* The seq a projection key was written at (a version or a change record). */
static uint64_t key_seq(const uint8_t *k, size_t len)
{
    if (k[0] == 'v')
        return ~tz_store_u64_from_key(k + len - 8);
    return tz_store_u64_from_key(k + 2);
}

/* Every projection record of a with seq < n equals the records of b, and b
 * has no other: the versions are immutable and keyed by seq, so the prefix
 * of the log gives exactly the prefix of the versions. */
static void assert_prefix_equal(tz_store *a, tz_store *b, uint64_t n)
{
    tz_store_iter *ia = tz_store_iter_new(a, TZ_CF_PROJECTIONS, NULL, 0);
    tz_store_iter *ib = tz_store_iter_new(b, TZ_CF_PROJECTIONS, NULL, 0);
    uint64_t compared = 0;
    for (;;) {
        while (tz_store_iter_valid(ia)) {
            size_t kl;
            const uint8_t *k = tz_store_iter_key(ia, &kl);
            if (key_seq(k, kl) < n)
                break;
            tz_store_iter_next(ia);
        }
        int va = tz_store_iter_valid(ia), vb = tz_store_iter_valid(ib);
        if (!va || !vb) {
            ck_assert_msg(va == vb, "one side has more projection records (after %llu)",
                          (unsigned long long)compared);
            break;
        }
        size_t kal, kbl, val, vbl;
        const uint8_t *ka = tz_store_iter_key(ia, &kal), *kb = tz_store_iter_key(ib, &kbl);
        const uint8_t *xa = tz_store_iter_value(ia, &val), *xb = tz_store_iter_value(ib, &vbl);
        ck_assert_msg(kal == kbl && memcmp(ka, kb, kal) == 0, "keys differ at record %llu",
                      (unsigned long long)compared);
        ck_assert_msg(val == vbl && memcmp(xa, xb, val) == 0, "values differ at record %llu",
                      (unsigned long long)compared);
        compared++;
        tz_store_iter_next(ia);
        tz_store_iter_next(ib);
    }
    tz_err e;
    ck_assert(tz_store_iter_status(ia, &e) == TZ_OK && tz_store_iter_status(ib, &e) == TZ_OK);
    tz_store_iter_free(ia);
    tz_store_iter_free(ib);
    ck_assert_uint_gt(compared, 0);
}

typedef struct listing {
    json_t *docs; /* subject -> doc */
} listing;

static int collect(void *ctx, const char *subject, size_t len, json_t *doc)
{
    listing *l = ctx;
    char key[512];
    size_t n = len < sizeof key - 1 ? len : sizeof key - 1;
    for (size_t i = 0; i < n; i++)
        key[i] = subject[i] ? subject[i] : '/';
    key[n] = '\0';
    json_object_set(l->docs, key, doc);
    return 0;
}

/* Every listing of every view as of n - 1 equals the current listing of a
 * replay of the first n entries. */
static void assert_as_of_equal(tz_store *full, tz_store *replay, uint64_t n)
{
    static const char *const views[] = {"roster", "term", "attendance", "leave", "absence",
                                        "handover", "recall", "unit_recalls", "grade"};
    for (size_t i = 0; i < sizeof views / sizeof views[0]; i++) {
        listing a = {json_object()}, b = {json_object()};
        tz_err e;
        ck_assert_msg(tz_view_list(full, views[i], "", 0, n - 1, collect, &a, &e) == TZ_OK, "%s", e.msg);
        ck_assert(tz_view_list(replay, views[i], "", 0, TZ_VIEW_AS_OF_NOW, collect, &b, &e) ==
                  TZ_OK);
        ck_assert_msg(json_equal(a.docs, b.docs), "view %s as of %llu differs from the replay",
                      views[i], (unsigned long long)(n - 1));
        json_decref(a.docs);
        json_decref(b.docs);
    }
}

START_TEST(test_as_of_equals_truncated_replay)
{
    tz_store *full = open_store(db, TZ_STORE_READONLY);
    uint64_t points[] = {400, size / 3, size / 2 + 17, size};
    int views_seen = 0;
    for (size_t i = 0; i < sizeof points / sizeof points[0]; i++) {
        char rdir[400];
        snprintf(rdir, sizeof rdir, "%s/replay-%zu", dir, i);
        tz_store *replay;
        uint64_t n;
        tz_err e;
        ck_assert_msg(tz_rebuild_replay(full, points[i], rdir, &replay, &n, &e) == TZ_OK, "%s",
                      e.msg);
        ck_assert_uint_eq(n, points[i]);
        assert_prefix_equal(full, replay, points[i]);
        assert_as_of_equal(full, replay, points[i]);
        json_t *doc;
        if (tz_view_get(replay, "roster", "", 0, TZ_VIEW_AS_OF_NOW, &doc, &e) == TZ_OK)
            json_decref(doc);
        tz_store_close(replay);
        views_seen++;
    }
    ck_assert_int_eq(views_seen, 4);
    tz_store_close(full);
}
END_TEST

START_TEST(test_as_of_single_documents)
{
    tz_store *s = open_store(db, TZ_STORE_READONLY);
    /* a sheet's document before and after its second signature */
    listing all = {json_object()};
    tz_err e;
    ck_assert(tz_view_list(s, "attendance", "", 0, TZ_VIEW_AS_OF_NOW, collect, &all, &e) == TZ_OK);
    ck_assert_uint_gt(json_object_size(all.docs), 100);
    const char *subject;
    json_t *doc;
    int checked = 0;
    json_object_foreach(all.docs, subject, doc) {
        json_t *explain = json_object_get(doc, "explain");
        if (json_array_size(explain) < 2 || checked >= 20)
            continue;
        uint64_t first = (uint64_t)json_integer_value(json_array_get(explain, 0));
        char subj[256];
        size_t sl = strlen(subject);
        memcpy(subj, subject, sl);
        for (size_t i = 0; i < sl; i++)
            if (subj[i] == '/')
                subj[i] = '\0';
        json_t *then;
        ck_assert(tz_view_get(s, "attendance", subj, sl, first, &then, &e) == TZ_OK);
        ck_assert_str_eq(json_string_value(json_object_get(then, "status")), "pending");
        json_decref(then);
        ck_assert_int_eq(tz_view_get(s, "attendance", subj, sl, first - 1, &then, &e),
                         TZ_ERR_NOTFOUND);
        checked++;
    }
    ck_assert_int_gt(checked, 10);
    json_decref(all.docs);
    /* as of a date: the last entry recorded by the end of that day (China time) */
    uint64_t seq;
    ck_assert(tz_view_parse_as_of(s, size, "2024-06-30", &seq, &e) == TZ_OK);
    ck_assert_uint_gt(seq, 0);
    ck_assert_uint_lt(seq, size - 1);
    ck_assert_int_eq(tz_view_parse_as_of(s, size, "2019-01-01", &seq, &e), TZ_ERR_NOTFOUND);
    ck_assert_int_eq(tz_view_parse_as_of(s, size, "yesterday", &seq, &e), TZ_ERR_INPUT);
    char big[32];
    snprintf(big, sizeof big, "%llu", (unsigned long long)size);
    ck_assert_int_eq(tz_view_parse_as_of(s, size, big, &seq, &e), TZ_ERR_NOTFOUND);
    tz_store_close(s);
}
END_TEST

/* A dump of a column family: keys and values, concatenated with lengths. */
static char *dump(tz_store *s, tz_cf cf, size_t *len)
{
    size_t cap = 1 << 20, n = 0;
    char *buf = malloc(cap);
    tz_store_iter *it = tz_store_iter_new(s, cf, NULL, 0);
    for (; tz_store_iter_valid(it); tz_store_iter_next(it)) {
        size_t kl, vl;
        const uint8_t *k = tz_store_iter_key(it, &kl), *v = tz_store_iter_value(it, &vl);
        while (n + kl + vl + 16 > cap)
            buf = realloc(buf, cap *= 2);
        memcpy(buf + n, &kl, sizeof kl);
        n += sizeof kl;
        memcpy(buf + n, k, kl);
        n += kl;
        memcpy(buf + n, &vl, sizeof vl);
        n += sizeof vl;
        memcpy(buf + n, v, vl);
        n += vl;
    }
    tz_store_iter_free(it);
    *len = n;
    return buf;
}

START_TEST(test_reproject_equals_incremental)
{
    tz_store *s = open_store(db, TZ_STORE_READONLY);
    size_t il, pl;
    char *index = dump(s, TZ_CF_INDEX, &il), *proj = dump(s, TZ_CF_PROJECTIONS, &pl);
    tz_store_close(s);
    /* an insider deletes a leave's history; reproject restores all of it */
    s = open_store(db, 0);
    tz_store_iter *it = tz_store_iter_new(s, TZ_CF_PROJECTIONS, "v\0leave", 7);
    ck_assert(tz_store_iter_valid(it));
    size_t kl;
    const uint8_t *k = tz_store_iter_key(it, &kl);
    uint8_t key[600];
    memcpy(key, k, kl);
    tz_store_iter_free(it);
    tz_err e;
    ck_assert(tz_store_delete(s, TZ_CF_PROJECTIONS, key, kl, &e) == TZ_OK);
    tz_store_close(s);
    tz_verify_report rep;
    ck_assert(tz_verify_ledger(db, NULL, &rep, &e) == TZ_OK);
    ck_assert_msg(!rep.ok && strstr(rep.reason, "projection record leave/"), "%s", rep.reason);
    uint64_t records;
    ck_assert_msg(tz_rebuild_reproject(db, &records, &e) == TZ_OK, "%s", e.msg);
    ck_assert_uint_gt(records, 1000);
    s = open_store(db, TZ_STORE_READONLY);
    size_t il2, pl2;
    char *index2 = dump(s, TZ_CF_INDEX, &il2), *proj2 = dump(s, TZ_CF_PROJECTIONS, &pl2);
    tz_store_close(s);
    ck_assert(il == il2 && memcmp(index, index2, il) == 0);
    ck_assert(pl == pl2 && memcmp(proj, proj2, pl) == 0);
    free(index);
    free(index2);
    free(proj);
    free(proj2);
    ck_assert(tz_verify_ledger(db, NULL, &rep, &e) == TZ_OK);
    ck_assert_msg(rep.ok, "%s", rep.reason);
}
END_TEST

START_TEST(test_tampered_projection_detected)
{
    /* an insider raises a month's days in the village, to pass 20 days */
    tz_store *s = open_store(db, 0);
    tz_store_iter *it = tz_store_iter_new(s, TZ_CF_PROJECTIONS, "v\0attendance", 12);
    ck_assert(tz_store_iter_valid(it));
    size_t kl, vl;
    const uint8_t *k = tz_store_iter_key(it, &kl);
    const uint8_t *v = tz_store_iter_value(it, &vl);
    uint8_t key[600], val[4096];
    memcpy(key, k, kl);
    memcpy(val, v, vl);
    uint64_t seq = ~tz_store_u64_from_key(key + kl - 8);
    tz_store_iter_free(it);
    /* in_village is a positive fixint in the canonical map: bump one byte */
    uint8_t *p = NULL;
    for (size_t i = 0; i + 12 <= vl && p == NULL; i++)
        if (memcmp(val + i, "\xaain_village", 11) == 0)
            p = val + i;
    ck_assert_ptr_nonnull(p);
    p[11]++;
    tz_err e;
    ck_assert(tz_store_put(s, TZ_CF_PROJECTIONS, key, kl, val, vl, &e) == TZ_OK);
    tz_store_close(s);
    tz_verify_report rep;
    ck_assert(tz_verify_ledger(db, NULL, &rep, &e) == TZ_OK);
    ck_assert(!rep.ok);
    ck_assert_msg(rep.has_bad_seq && rep.first_bad_seq == seq, "%s", rep.reason);
    ck_assert_msg(strstr(rep.reason, "projection record attendance/"), "%s", rep.reason);
}
END_TEST

START_TEST(test_interrupted_reproject_is_reported)
{
    tz_store *s = open_store(db, 0);
    tz_err e;
    ck_assert(tz_store_put(s, TZ_CF_META, "reproject", 9, "started", 7, &e) == TZ_OK);
    tz_store_close(s);
    tz_verify_report rep;
    ck_assert(tz_verify_ledger(db, NULL, &rep, &e) == TZ_OK);
    ck_assert_msg(!rep.ok && strstr(rep.reason, "interrupted"), "%s", rep.reason);
    uint64_t records;
    ck_assert(tz_rebuild_reproject(db, &records, &e) == TZ_OK);
    ck_assert(tz_verify_ledger(db, NULL, &rep, &e) == TZ_OK);
    ck_assert_msg(rep.ok, "%s", rep.reason);
}
END_TEST

static Suite *views_suite(void)
{
    Suite *s = suite_create("views");
    TCase *tc = tcase_create("county");
    tcase_set_timeout(tc, 600);
    tcase_add_checked_fixture(tc, county_up, county_down);
    tcase_add_test(tc, test_as_of_equals_truncated_replay);
    tcase_add_test(tc, test_as_of_single_documents);
    tcase_add_test(tc, test_reproject_equals_incremental);
    tcase_add_test(tc, test_tampered_projection_detected);
    tcase_add_test(tc, test_interrupted_reproject_is_reported);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return tz_test_main(views_suite);
}
