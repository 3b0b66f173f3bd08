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

#include "ledger/entry_json.h"
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

/* The seq a projection key was written at (a version, a change record or
 * a subject-index record). */
static uint64_t key_seq(const uint8_t *k, size_t len)
{
    if (k[0] == 'v')
        return ~tz_store_u64_from_key(k + len - 8);
    if (k[0] == 's')
        return tz_store_u64_from_key(k + len - 8);
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

/* The subject index names, for each person, exactly the entries about
 * them: those whose body names them (person, outgoing, incoming, a retired
 * ref), the approvals and returns of their leaves, and the cosignatures of
 * their records; for each village at least the entries naming it, and
 * otherwise only entries about a cadre once dispatched there. */
static int add_seq(void *ctx, uint64_t seq)
{
    json_array_append_new(ctx, json_integer((json_int_t)seq));
    return 0;
}

static void expect(json_t *want, json_t *persons, const char *kind, const char *id, uint64_t seq)
{
    if (id == NULL)
        return;
    json_array_append_new(persons, json_string(id));
    char key[300];
    snprintf(key, sizeof key, "%s:%s", kind, id);
    json_t *list = json_object_get(want, key);
    if (list == NULL)
        json_object_set_new(want, key, list = json_array());
    if (json_array_size(list) == 0 ||
        json_integer_value(json_array_get(list, json_array_size(list) - 1)) != (json_int_t)seq)
        json_array_append_new(list, json_integer((json_int_t)seq));
}

static const char *body_str(const json_t *st, const char *field)
{
    return json_string_value(json_object_get(json_object_get(st, "body"), field));
}

START_TEST(test_subject_index)
{
    tz_ledger *l;
    tz_err e;
    ck_assert_msg(tz_ledger_open(&l, db, TZ_LEDGER_READONLY, NULL, &e) == TZ_OK, "%s", e.msg);
    json_t *by_id = json_object(), *stmts = json_array(), *want = json_object();
    json_t *villages_of = json_object(); /* person -> {village: true} from dispatches */
    json_t *persons_of = json_array();   /* seq -> the persons it concerns */
    static const char *const person_fields[] = {"person", "outgoing", "incoming"};
    for (uint64_t seq = 0; seq < size; seq++) {
        uint8_t *raw;
        size_t len;
        ck_assert(tz_ledger_get(l, seq, &raw, &len, &e) == TZ_OK);
        json_t *j = tz_entry_json(seq, raw, len, &e);
        tz_store_free(raw);
        ck_assert(j != NULL);
        json_t *st = json_object_get(j, "statement");
        json_array_append(stmts, st);
        json_object_set(by_id, json_string_value(json_object_get(st, "id")), st);
        const char *type = json_string_value(json_object_get(st, "type"));
        json_t *about = st; /* whose persons this entry concerns */
        if (strcmp(type, "leave.approve") == 0 || strcmp(type, "leave.return") == 0)
            about = json_object_get(by_id, body_str(st, "request"));
        if (strcmp(type, "cosign") == 0) {
            json_int_t target = json_integer_value(
                json_object_get(json_object_get(st, "body"), "seq"));
            about = json_array_get(stmts, (size_t)target);
            const char *tt = json_string_value(json_object_get(about, "type"));
            if (strcmp(tt, "dispatch") && strcmp(tt, "attendance") && strcmp(tt, "handover.complete"))
                about = NULL; /* a cosignature of a record outside the domain */
            else if (strcmp(tt, "handover.complete") == 0) /* its persons are the start's */
                about = json_object_get(by_id, body_str(about, "handover"));
        }
        if (strcmp(type, "handover.complete") == 0)
            about = json_object_get(by_id, body_str(st, "handover"));
        json_t *persons = json_array();
        for (size_t f = 0; about != NULL && f < 3; f++)
            expect(want, persons, "person", body_str(about, person_fields[f]), seq);
        if (strcmp(type, "registry.retire") == 0 && strcmp(body_str(st, "kind"), "person") == 0)
            expect(want, persons, "person", body_str(st, "ref"), seq);
        json_array_append_new(persons_of, persons);
        if (strcmp(type, "dispatch") == 0) {
            json_t *v = json_object_get(villages_of, body_str(st, "person"));
            if (v == NULL)
                json_object_set_new(villages_of, body_str(st, "person"), v = json_object());
            json_object_set_new(v, body_str(st, "village"), json_true());
        }
        json_decref(j);
    }
    /* every person: exactly the expected entries */
    size_t persons = 0;
    const char *key;
    json_t *list;
    json_object_foreach(want, key, list) {
        json_t *got = json_array();
        ck_assert(tz_view_subject_scan(tz_ledger_store(l), "person", key + 7, 0, size - 1, add_seq,
                                       got, &e) == TZ_OK);
        ck_assert_msg(json_equal(got, list), "%s: the index lists %zu entries, expected %zu", key,
                      json_array_size(got), json_array_size(list));
        json_decref(got);
        persons++;
    }
    ck_assert_uint_gt(persons, 50);
    /* a village: every entry naming it, and otherwise only its cadres' */
    json_t *seen = json_object();
    for (size_t i = 0; i < json_array_size(stmts); i++) {
        const char *v = body_str(json_array_get(stmts, i), "village");
        if (v == NULL || json_object_get(seen, v) != NULL)
            continue;
        json_object_set_new(seen, v, json_true());
        json_t *got = json_array();
        ck_assert(tz_view_subject_scan(tz_ledger_store(l), "village", v, 0, size - 1, add_seq, got,
                                       &e) == TZ_OK);
        size_t k = 0, extra = 0;
        for (size_t s2 = 0; s2 < json_array_size(stmts); s2++) {
            json_t *st = json_array_get(stmts, s2);
            const char *sv = body_str(st, "village");
            int indexed = k < json_array_size(got) &&
                          json_integer_value(json_array_get(got, k)) == (json_int_t)s2;
            if (sv != NULL && strcmp(sv, v) == 0)
                ck_assert_msg(indexed, "village %s: entry %zu names it but is not indexed", v, s2);
            if (indexed && (sv == NULL || strcmp(sv, v) != 0)) {
                int stationed = 0; /* a cadre of the entry was dispatched there */
                json_t *pid;
                size_t pi;
                json_array_foreach(json_array_get(persons_of, s2), pi, pid)
                    stationed |= json_object_get(json_object_get(villages_of,
                                                                 json_string_value(pid)), v) != NULL;
                ck_assert_msg(stationed, "village %s: entry %zu is indexed but concerns no cadre "
                              "of it", v, s2);
                extra++;
            }
            k += indexed;
        }
        ck_assert_uint_eq(k, json_array_size(got)); /* ascending, nothing outside the log */
        ck_assert_uint_gt(extra, 0); /* attendance sheets, spot checks ... carry no village */
        json_decref(got);
    }
    ck_assert_uint_ge(json_object_size(seen), 30);
    json_decref(seen);
    json_decref(villages_of);
    json_decref(persons_of);
    json_decref(by_id);
    json_decref(stmts);
    json_decref(want);
    tz_ledger_close(l);
}
END_TEST

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
    tcase_add_test(tc, test_subject_index);
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
