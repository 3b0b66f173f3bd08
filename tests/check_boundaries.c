/*
 * check_boundaries.c: every numeric rule of every policy profile, tested at
 * n-1, n and n+1 through the real decide step (tz_ledger_append).
 *
 * The numbers are never typed here: each test loads profiles/<id>.json with
 * tz_profile_load_file, reads the rule (handover working days, leave tiers
 * and their applicants, back-to-back leave as one run, the 30-day recall,
 * absence caps and the third_absence recall, the 优秀 quota, the half-year
 * rule, the term, party years, the attendance deadline, days in the village,
 * the daily allowance, team coverage minima, recall consequences) and builds
 * the statements on both sides of it, so a changed profile value moves the
 * test with it. Where the read side recomputes a rule (eligibility, roster
 * coverage, attendance and allowance), it is asked at the same points. A
 * profile without a rule is tested for not applying one (nothing hard-coded
 * for everyone). Expected outcomes come from small naive models written
 * here (a weekday/holiday count over data/cn-workday-calendar.json, floor
 * of a percentage, a day count of the year), not from the code under test.
 *
 * Each test is a loop over the four profiles and builds one small county
 * (the offices of check_domain.c, one village v1 in township cg, unit u1)
 * on a fresh ledger; cadres are registered as needed (p1, p2, ...). Every
 * world is verified by full replay at teardown.
 */
#include <check.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/hash.h"
#include "crypto/key.h"
#include "ledger/codec.h"
#include "ledger/entry.h"
#include "ledger/ledger.h"
#include "ledger/statement.h"
#include "ledger/store.h"
#include "ledger/verify.h"
#include "projections/profile.h"
#include "projections/query.h"
#include "util/encoding.h"
#include "util/time.h"
#include "tests/tz_test.h"

static const char *const profiles[] = {"shiquan-2021", "guizhou-2018", "guyuan-2018", "daan-2017"};
#define NPROFILES ((int)(sizeof profiles / sizeof profiles[0]))

#define MAX_KEYS 160

typedef struct world {
    tz_fixture f;
    tz_ledger *l;
    tz_profile p;            /* the adopted profile, parsed from its file */
    size_t nkeys;
    char names[MAX_KEYS][32];
    tz_secret_key keys[MAX_KEYS];
    int npeople;
    char msg[TZ_ERR_MSG_MAX];
    int n;                   /* id counter */
} world;

static world W;

/* office keys: name, role, scope */
static const char *const offices[][3] = {
    {"county", "county_org_dept", "county:sq"},
    {"bureau", "rural_revitalisation_bureau", "county:sq"},
    {"countysec", "county_party_secretary", "county:sq"},
    {"city", "city_org_dept", "city:ak"},
    {"citysec", "city_party_secretary", "city:ak"},
    {"prov", "provincial_org_dept", "province:sx"},
    {"tcom-cg", "township_party_committee", "township:cg"},
    {"tsec-cg", "township_party_secretary", "township:cg"},
    {"vsec-v1", "village_party_secretary", "village:v1"},
    {"unit-u1", "dispatching_unit", "unit:u1"},
    {"insp", "inspector", "county:sq"},
};

/* The offices of a county, held again in every further county: "<name>-<county>". */
static int county_level(size_t office)
{
    return strncmp(offices[office][2], "county:", 7) == 0 && strcmp(offices[office][0], "insp");
}

/* The office key holding role in county sq (county NULL) or in county. */
static const char *office_of(const char *role, const char *county)
{
    static char buf[8][48];
    static int next;
    for (size_t i = 0; i < sizeof offices / sizeof offices[0]; i++) {
        if (strcmp(offices[i][1], role) != 0)
            continue;
        if (county == NULL || !county_level(i))
            return offices[i][0];
        char *b = buf[next++ % 8];
        snprintf(b, sizeof buf[0], "%s-%s", offices[i][0], county);
        return b;
    }
    ck_abort_msg("no office holds role %s", role);
    return NULL;
}

/* "a,b,c": the office keys of every role of the set. */
static void offices_of(char *out, size_t cap, const tz_profile_roles *r, const char *county)
{
    size_t off = 0;
    out[0] = '\0';
    for (size_t i = 0; i < r->n; i++)
        off += (size_t)snprintf(out + off, cap - off, "%s%s", i ? "," : "",
                                office_of(r->names[i], county));
}

/* The first office key of a set ("any one of them" signs). */
static void first_office(char *out, size_t cap, const tz_profile_roles *r, const char *county)
{
    offices_of(out, cap, r, county);
    out[strcspn(out, ",")] = '\0';
}

/* Appends the statement js (consumed), signed by the comma-separated keys;
 * returns its status, the message in W.msg. */
static int put_json(const char *keys, json_t *js)
{
    tz_append_result res;
    tz_fixture_append_named(W.l, js, keys, W.names, W.keys, W.nkeys, &W.f.root, &res);
    snprintf(W.msg, sizeof W.msg, "%s", res.status == TZ_OK ? "" : res.err.msg);
    return res.status;
}

/* put("county", "dispatch", "d1", day, "{...}"): at is that day 09:00 +08:00. */
static int put(const char *keys, const char *type, const char *id, int64_t day,
               const char *body_fmt, ...) __attribute__((format(printf, 5, 6)));
static int put(const char *keys, const char *type, const char *id, int64_t day,
               const char *body_fmt, ...)
{
    char body[4096];
    va_list ap;
    va_start(ap, body_fmt);
    vsnprintf(body, sizeof body, body_fmt, ap);
    va_end(ap);
    json_error_t je;
    json_t *b = json_loads(body, JSON_REJECT_DUPLICATES, &je);
    ck_assert_msg(b != NULL, "test body JSON: %s: %s", body, je.text);
    char at[40], date[11], idbuf[TZ_STATEMENT_ID_MAX + 1];
    tz_time_format_date(date, day);
    snprintf(at, sizeof at, "%sT09:00:00+08:00", date);
    if (id == NULL) {
        snprintf(idbuf, sizeof idbuf, "auto/%d", ++W.n);
        id = idbuf;
    }
    return put_json(keys, json_pack("{s:s,s:s,s:s,s:o}", "type", type, "id", id, "at", at,
                                    "body", b));
}

#define OK(...) ck_assert_msg(put(__VA_ARGS__) == TZ_OK, "%s line %d: %s", W.p.id, __LINE__, W.msg)
/* Refused with code, and the message holds every one of the NULL-ended
 * substrings in want (the field, the number and the clause). */
static void expect_refused(int line, int rc, int code, const char *const *want)
{
    ck_assert_msg(rc == code, "%s line %d: expected %d, got %d: %s", W.p.id, line, code, rc,
                  W.msg);
    for (; *want != NULL; want++)
        ck_assert_msg(strstr(W.msg, *want) != NULL, "%s line %d: message \"%s\" lacks \"%s\"",
                      W.p.id, line, W.msg, *want);
}
#define REFUSED(code, want, ...) expect_refused(__LINE__, put(__VA_ARGS__), (code), (want))

/* The read side's row about pid from query name for year (month 0: the
 * whole year), as the ledger stands now; NULL when there is none. */
static json_t *query_row(const char *name, const char *pid, int year, const char *month)
{
    tz_query q;
    tz_query_init(&q, tz_ledger_store(W.l), tz_ledger_size(W.l) - 1);
    q.person = pid;
    q.year = year;
    json_t *out = NULL;
    tz_err e;
    ck_assert_msg(tz_query_run(name, &q, &out, &e) == TZ_OK, "%s: %s", name, e.msg);
    json_t *found = NULL, *row;
    size_t i;
    json_array_foreach(json_object_get(out, "rows"), i, row)
        if (strcmp(json_string_value(json_object_get(row, "person")), pid) == 0 &&
            (month == NULL || strcmp(json_string_value(json_object_get(row, "month")), month) == 0)) {
            found = json_incref(row);
            break;
        }
    json_decref(out);
    return found;
}

/* Whether the row's findings hold one with this code. */
static int has_finding(const json_t *row, const char *code)
{
    size_t i;
    json_t *f;
    json_array_foreach(json_object_get(row, "findings"), i, f)
        if (strcmp(json_string_value(json_object_get(f, "code")), code) == 0)
            return 1;
    return 0;
}

/* "(<profile id> <clause>)" as every rejection cites a rule. */
static const char *cite(char *buf, size_t cap, const char *clause)
{
    snprintf(buf, cap, "(%s %s)", W.p.id, clause);
    return buf;
}

static int64_t day_of(const char *date)
{
    int64_t d;
    ck_assert(tz_time_parse_date(date, 10, "d", &d, NULL) == TZ_OK);
    return d;
}

static const char *fmt_day(char out[11], int64_t day)
{
    tz_time_format_date(out, day);
    return out;
}

static json_t *rec_of(const char *id)
{
    char key[256];
    size_t kl = (size_t)snprintf(key, sizeof key, "rec%c%s", 0, id);
    uint8_t *val;
    size_t len;
    tz_err e;
    int rc = tz_store_get(tz_ledger_store(W.l), TZ_CF_INDEX, key, kl, &val, &len, &e);
    ck_assert_msg(rc == TZ_OK, "record %s: %s", id, e.msg);
    msgpack_zone zone;
    msgpack_zone_init(&zone, 4096);
    msgpack_object o;
    ck_assert(tz_codec_decode(&o, &zone, val, len, &e) == TZ_OK);
    json_t *j = tz_codec_to_json(&o, &e);
    msgpack_zone_destroy(&zone);
    tz_store_free(val);
    ck_assert(j != NULL);
    return j;
}

static void grant(const char *name, const char *role, const char *scope)
{
    ck_assert(W.nkeys < MAX_KEYS);
    uint8_t seed[32];
    tz_hash_sha256(seed, (const uint8_t *)name, strlen(name));
    tz_err e;
    ck_assert(tz_key_from_seed(&W.keys[W.nkeys], name, seed, &e) == TZ_OK);
    snprintf(W.names[W.nkeys], sizeof W.names[0], "%s", name);
    char vkey[TZ_KEY_STRING_MAX], id[64];
    tz_fixture_vkey(vkey, &W.keys[W.nkeys]);
    W.nkeys++;
    snprintf(id, sizeof id, "grant/%s", name);
    OK("root", "key.grant", id, day_of("2021-01-01"),
       "{\"key\":\"%s\",\"holder\":\"%s\",\"roles\":[\"%s\"],\"scope\":\"%s\"}", vkey, name, role,
       scope);
}

static void adopt(const char *type, const char *id, const char *at, const char *member,
                  json_t *doc, const char *effective)
{
    json_t *body = json_pack("{s:o}", member, doc);
    if (effective != NULL)
        json_object_set_new(body, "effective", json_string(effective));
    ck_assert_msg(put_json("root", json_pack("{s:s,s:s,s:s,s:o}", "type", type, "id", id, "at",
                                             at, "body", body)) == TZ_OK, "%s", W.msg);
}

static json_t *load_json(const char *rel)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", TZ_SOURCE_DIR, rel);
    json_error_t je;
    json_t *doc = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
    ck_assert_msg(doc != NULL, "%s: %s", path, je.text);
    return doc;
}

/* The county of the profile (adopted effective 2021-09-01) and the calendar. */
static void world_up(int profile_index)
{
    const char *profile = profiles[profile_index];
    memset(&W, 0, sizeof W);
    char rel[128], path[512];
    snprintf(rel, sizeof rel, "profiles/%s.json", profile);
    snprintf(path, sizeof path, "%s/%s", TZ_SOURCE_DIR, rel);
    tz_err e;
    ck_assert_msg(tz_profile_load_file(&W.p, path, &e) == TZ_OK, "%s", e.msg);
    tz_fixture_init(&W.f);
    ck_assert_msg(tz_ledger_open(&W.l, W.f.db, 0, NULL, &e) == TZ_OK, "%s", e.msg);
    for (size_t i = 0; i < sizeof offices / sizeof offices[0]; i++)
        grant(offices[i][0], offices[i][1], offices[i][2]);
    adopt("policy.adopt", "policy/1", "2021-09-01T09:00:00+08:00", "profile", load_json(rel),
          "2021-09-01");
    adopt("calendar.adopt", "calendar/2023-2026", "2022-12-20T09:00:00+08:00", "calendar",
          load_json("data/cn-workday-calendar.json"), NULL);
    int64_t d = day_of("2021-10-01");
    OK("county", "org.unit", "unit/u1", d, "{\"unit\":\"u1\",\"name\":\"县财政局\",\"level\":"
       "\"county\",\"staff\":35,\"county\":\"sq\"}");
    OK("county", "org.village", "village/v1", d, "{\"village\":\"v1\",\"name\":\"村1\","
       "\"township\":\"cg\",\"county\":\"sq\",\"city\":\"ak\",\"province\":\"sx\",\"category\":"
       "\"poverty\"}");
}

static void world_down(void)
{
    tz_ledger_close(W.l);
    W.l = NULL;
    tz_verify_report rep;
    tz_err e;
    ck_assert_msg(tz_verify_ledger(W.f.db, NULL, &rep, &e) == TZ_OK, "%s", e.msg);
    ck_assert_msg(rep.ok, "replay disagrees: %s", rep.reason);
    for (size_t i = 0; i < W.nkeys; i++)
        tz_key_wipe(&W.keys[i]);
    tz_fixture_cleanup(&W.f);
}

/* Registers a new cadre of unit u1 (a section-level permanent employee,
 * party member since since) and, if with_key, grants them a cadre key
 * "c-<id>". The id ("p<n>") is written to id. */
static const char *person(char id[16], int64_t since, int with_key)
{
    char s[11];
    snprintf(id, 16, "p%d", ++W.npeople);
    char rid[32];
    snprintf(rid, sizeof rid, "person/%s", id);
    OK("county", "person.register", rid, day_of("2023-12-01"), "{\"person\":\"%s\",\"name\":"
       "\"干部%d\",\"unit\":\"u1\",\"party_member_since\":\"%s\",\"employment\":\"permanent\","
       "\"rank\":\"section\"}", id, W.npeople, fmt_day(s, since));
    if (with_key) {
        char name[32], scope[40];
        snprintf(name, sizeof name, "c-%s", id);
        snprintf(scope, sizeof scope, "person:%s", id);
        grant(name, "cadre", scope);
    }
    return id;
}

static int64_t long_ago(void)
{
    return day_of("2000-07-01");
}

/* A term the profile allows from start: its minimum, or two years. */
static int64_t planned_end(int64_t start)
{
    return tz_time_add_years(start, W.p.term.min_years > 0 ? W.p.term.min_years : 2);
}

/* Dispatches pid to village in role, approved in one entry by every office
 * the profile names; returns the status. The dispatch id is dispatch/<pid>. */
static int dispatch_to(const char *pid, const char *village, tz_mission_role role, int64_t start,
                       int64_t end, const char *county)
{
    char keys[256], id[48], s[11], e[11];
    ck_assert_msg(W.p.dispatch_approval[role].signers.n > 0, "%s dispatches no %s", W.p.id,
                  tz_mission_role_name(role));
    offices_of(keys, sizeof keys, &W.p.dispatch_approval[role].signers, county);
    ck_assert_msg((size_t)snprintf(id, sizeof id, "dispatch/%s", pid) < sizeof id, "%s: id too long",
                  pid);
    return put(keys, "dispatch", id, start, "{\"person\":\"%s\",\"village\":\"%s\",\"unit\":"
               "\"u1\",\"role\":\"%s\",\"start\":\"%s\",\"planned_end\":\"%s\"}", pid, village,
               tz_mission_role_name(role), fmt_day(s, start), fmt_day(e, end));
}

static void dispatch_ok(const char *pid, tz_mission_role role, int64_t start, int64_t end)
{
    ck_assert_msg(dispatch_to(pid, "v1", role, start, end, NULL) == TZ_OK, "%s: %s", W.p.id,
                  W.msg);
}

/* ---- the working-day calendar, naively -------------------------------------- */

/* data/cn-workday-calendar.json's own rule: a date is a working day if it is
 * listed in working_weekend_days, or if it is Monday-Friday and not inside a
 * holiday range. */
static int naive_working(const json_t *cal, int64_t day)
{
    char ds[11];
    fmt_day(ds, day);
    char y[5] = {ds[0], ds[1], ds[2], ds[3], 0};
    const json_t *year = json_object_get(json_object_get(cal, "years"), y);
    ck_assert_msg(year != NULL, "calendar has no %s", y);
    size_t i;
    const json_t *v;
    json_array_foreach(json_object_get(year, "working_weekend_days"), i, v)
        if (strcmp(json_string_value(v), ds) == 0)
            return 1;
    json_array_foreach(json_object_get(year, "holidays"), i, v) {
        if (strcmp(json_string_value(json_array_get(v, 0)), ds) <= 0 &&
            strcmp(ds, json_string_value(json_array_get(v, 1))) <= 0)
            return 0;
    }
    int weekday = (int)(((day % 7) + 7 + 4) % 7); /* 1970-01-01 was a Thursday; 0 = Sunday */
    return weekday >= 1 && weekday <= 5;
}

/* The first day d >= start with exactly k working days in [start, d]. */
static int64_t naive_kth_working(const json_t *cal, int64_t start, int k)
{
    int n = 0;
    for (int64_t d = start;; d++)
        if (naive_working(cal, d) && ++n == k)
            return d;
}

/* ---- handover (交接): 15 working days, at n-1, n and n+1 -------------------- */

/* Starts a handover in v1 on start between two new cadres; returns its id. */
static const char *handover_open(char hid[32], int64_t start, char out[16], char in[16])
{
    person(out, long_ago(), 1);
    person(in, long_ago(), 1);
    int64_t out_start = tz_time_add_years(start, -2) + 30;
    dispatch_ok(out, TZ_MISSION_FIRST_SECRETARY, out_start, planned_end(out_start));
    dispatch_ok(in, TZ_MISSION_FIRST_SECRETARY, start - 3, planned_end(start - 3));
    snprintf(hid, 32, "h/%s", out);
    char s[11];
    OK(office_of(W.p.handover.signers.names[0], NULL), "handover.start", hid, start,
       "{\"village\":\"v1\",\"outgoing\":\"%s\",\"incoming\":\"%s\",\"start\":\"%s\"}", out, in,
       fmt_day(s, start));
    return hid;
}

static int handover_complete(const char *hid, const char *out, const char *in, int64_t date)
{
    char keys[64], s[11];
    snprintf(keys, sizeof keys, "c-%s,c-%s", out, in);
    return put(keys, "handover.complete", NULL, date, "{\"handover\":\"%s\",\"date\":\"%s\"}",
               hid, fmt_day(s, date));
}

START_TEST(test_handover_working_days)
{
    world_up(_i);
    int n = W.p.handover.min_working_days;
    if (n == 0) {
        /* no handover rule: the profile sets no handover procedure at all */
        char out[16], in[16], s[11];
        person(out, long_ago(), 1);
        person(in, long_ago(), 1);
        char no_rule[96];
        snprintf(no_rule, sizeof no_rule, "%s sets no handover procedure", W.p.id);
        const char *want[] = {no_rule, NULL};
        REFUSED(TZ_ERR_RULE, want, "unit-u1", "handover.start", NULL, day_of("2024-02-01"),
                "{\"village\":\"v1\",\"outgoing\":\"%s\",\"incoming\":\"%s\",\"start\":\"%s\"}",
                out, in, fmt_day(s, day_of("2024-02-01")));
        world_down();
        return;
    }
    json_t *cal = load_json("data/cn-workday-calendar.json");
    /* 春节 2024 with two 调休 Sundays; 中秋 and 国庆 2024 with 调休 Sunday 09-29
     * and Saturday 10-12; a spring 2025 stretch over 清明 */
    const char *starts[] = {"2024-02-01", "2024-09-13", "2024-09-23", "2025-03-24"};
    for (size_t i = 0; i < sizeof starts / sizeof starts[0]; i++) {
        int64_t start = day_of(starts[i]);
        int64_t d_short = naive_kth_working(cal, start, n - 1);
        int64_t d_n = naive_kth_working(cal, start, n);
        int64_t d_long = naive_kth_working(cal, start, n + 1);
        char hid[32], out[16], in[16], s[11], e[11], c[96], msg[512];
        handover_open(hid, start, out, in);
        /* n-1 working days, and the last calendar day before the n-th */
        int64_t shorts[] = {d_short, d_n - 1};
        for (size_t j = 0; j < 2; j++) {
            snprintf(msg, sizeof msg, "handover.complete: %d working days from %s to %s; at least "
                     "%d are required, so %s is the earliest completion", n - 1,
                     fmt_day(s, start), fmt_day(e, shorts[j]), n, fmt_day(c, d_n));
            const char *want[] = {msg, cite(c, sizeof c, W.p.handover.clause), NULL};
            expect_refused(__LINE__, handover_complete(hid, out, in, shorts[j]), TZ_ERR_RULE, want);
        }
        ck_assert_msg(handover_complete(hid, out, in, d_n) == TZ_OK, "%s from %s to %s: %s",
                      W.p.id, starts[i], fmt_day(s, d_n), W.msg);
        char wid[32];
        snprintf(wid, sizeof wid, "auto/%d", W.n);
        json_t *r = rec_of(wid);
        ck_assert_int_eq(json_integer_value(json_object_get(r, "working_days")), n);
        json_decref(r);
        /* n+1 on a second handover */
        handover_open(hid, start, out, in);
        ck_assert_msg(handover_complete(hid, out, in, d_long) == TZ_OK, "%s: %s", W.p.id, W.msg);
        snprintf(wid, sizeof wid, "auto/%d", W.n);
        r = rec_of(wid);
        ck_assert_int_eq(json_integer_value(json_object_get(r, "working_days")), n + 1);
        json_decref(r);
    }
    json_decref(cal);
    world_down();
}
END_TEST

/* ---- the 优秀 quota: floor of the percentage --------------------------------- */

START_TEST(test_excellent_quota_floor)
{
    world_up(_i);
    int pct = W.p.assessment.excellent_quota_percent;
    /* counts where the share is not whole (4, 6, 7, 9), and whole (5, 10) */
    const int counts[] = {4, 5, 6, 7, 9, 10};
    for (size_t c = 0; c < sizeof counts / sizeof counts[0]; c++) {
        int n = counts[c];
        char county[16], village[16], scope[32], vid[32];
        snprintf(county, sizeof county, "q%d", n);
        snprintf(village, sizeof village, "qv%d", n);
        snprintf(scope, sizeof scope, "county:%s", county);
        snprintf(vid, sizeof vid, "village/%s", village);
        for (size_t o = 0; o < sizeof offices / sizeof offices[0]; o++)
            if (county_level(o))
                grant(office_of(offices[o][1], county), offices[o][1], scope);
        OK("root", "org.village", vid, day_of("2021-10-01"), "{\"village\":\"%s\",\"name\":"
           "\"村\",\"township\":\"cg\",\"county\":\"%s\",\"city\":\"ak\",\"province\":\"sx\","
           "\"category\":\"poverty\"}", village, county);
        char ids[10][16];
        for (int k = 0; k < n; k++) {
            person(ids[k], long_ago(), 0);
            int64_t start = day_of("2024-01-02");
            ck_assert_msg(dispatch_to(ids[k], village, TZ_MISSION_FIRST_SECRETARY, start,
                                      planned_end(start), county) == TZ_OK, "%s: %s",
                          W.p.id, W.msg);
        }
        int allowed = pct > 0 ? n * pct / 100 : n; /* at most pct% of n: rounded down */
        char signer[256];
        first_office(signer, sizeof signer, &W.p.assessment.signers, county);
        for (int k = 0; k < n; k++) {
            int64_t at = day_of("2025-01-10");
            if (k < allowed) {
                OK(signer, "assessment", NULL, at, "{\"person\":\"%s\",\"year\":2024,\"grade\":"
                   "\"优秀\"}", ids[k]);
                continue;
            }
            char msg[512], c2[96];
            snprintf(msg, sizeof msg, "assessment: 优秀 is limited to %d%% of the %d first "
                     "secretaries of %s in 2024 (at most %d); %d already given", pct, n, county,
                     allowed, allowed);
            const char *want[] = {msg, cite(c2, sizeof c2, W.p.assessment.quota_clause), NULL};
            REFUSED(TZ_ERR_RULE, want, signer, "assessment", NULL, at, "{\"person\":\"%s\","
                    "\"year\":2024,\"grade\":\"优秀\"}", ids[k]);
            OK(signer, "assessment", NULL, at, "{\"person\":\"%s\",\"year\":2024,\"grade\":"
               "\"称职\"}", ids[k]);
        }
    }
    world_down();
}
END_TEST

/* ---- the half-year rule (驻村工作半年以上), in 2024 (366 days) and 2025 ------- */

START_TEST(test_half_year_leap)
{
    world_up(_i);
    const int years[] = {2024, 2025};
    const int stationed[] = {182, 183, 184};
    char signer[256];
    first_office(signer, sizeof signer, &W.p.assessment.signers, NULL);
    for (size_t y = 0; y < 2; y++) {
        int64_t y0 = tz_time_days_from_civil(years[y], 1, 1);
        int64_t ndays = tz_time_days_from_civil(years[y] + 1, 1, 1) - y0;
        for (size_t k = 0; k < 3; k++) {
            char pid[16];
            person(pid, long_ago(), 0);
            /* stationed the last k days of the year */
            int64_t start = y0 + ndays - stationed[k];
            dispatch_ok(pid, TZ_MISSION_FIRST_SECRETARY, start, planned_end(start));
            int64_t at = tz_time_days_from_civil(years[y] + 1, 1, 10);
            int more_than_half = 2 * stationed[k] > ndays;
            /* the read side (eligibility) agrees with the decide step */
            json_t *row = query_row("eligibility", pid, years[y], NULL);
            ck_assert_msg(row != NULL, "%s: no eligibility row for %s", W.p.id, pid);
            ck_assert_int_eq(json_integer_value(json_object_get(row, "days_stationed")),
                             stationed[k]);
            ck_assert_msg(json_is_true(json_object_get(row, "eligible")) ==
                              (!W.p.assessment.more_than_half_year || more_than_half),
                          "%s: eligibility of %d of %lld days of %d", W.p.id, stationed[k],
                          (long long)ndays, years[y]);
            json_decref(row);
            if (!W.p.assessment.more_than_half_year || more_than_half) {
                ck_assert_msg(put(signer, "assessment", NULL, at, "{\"person\":\"%s\",\"year\":%d,"
                                  "\"grade\":\"称职\"}", pid, years[y]) == TZ_OK,
                              "%s: %d of %lld days of %d: %s", W.p.id, stationed[k],
                              (long long)ndays, years[y], W.msg);
                continue;
            }
            char msg[512], c[96];
            snprintf(msg, sizeof msg, "assessment: %s was stationed %d days of %d; the annual "
                     "assessment covers cadres stationed more than half a year", pid,
                     stationed[k], years[y]);
            const char *want[] = {msg, cite(c, sizeof c, W.p.assessment.eligibility_clause), NULL};
            REFUSED(TZ_ERR_RULE, want, signer, "assessment", NULL, at, "{\"person\":\"%s\","
                    "\"year\":%d,\"grade\":\"称职\"}", pid, years[y]);
        }
    }
    world_down();
}
END_TEST

/* ---- leave (请销假): approval tiers, applicants and the recall limit ---------- */

static const char *role_words(tz_mission_role r)
{
    return r == TZ_MISSION_FIRST_SECRETARY ? "a first secretary" : "a team member";
}

/* The profile's tier for days consecutive days: the first whose max_days
 * covers them (0: no upper bound). */
static const tz_profile_leave_tier *model_tier(tz_mission_role role, int days)
{
    for (size_t i = 0; i < W.p.leave.ntiers[role]; i++) {
        const tz_profile_leave_tier *t = &W.p.leave.tiers[role][i];
        if (t->max_days == 0 || days <= t->max_days)
            return t;
    }
    ck_abort_msg("%s has no tier for %d days", W.p.id, days);
    return NULL;
}

/* Requests leave id of pid for [from, from + days) on the day before it
 * starts, by the cadre or by the tier's applicant; when the tier names an
 * applicant, the cadre's own request is refused first. */
static void leave_request(const char *id, const char *pid, tz_mission_role role, int64_t from,
                          int days, int run)
{
    const tz_profile_leave_tier *t = model_tier(role, run);
    char f[11], to[11], self[24], c[96], msg[256];
    fmt_day(f, from);
    fmt_day(to, from + days - 1);
    snprintf(self, sizeof self, "c-%s", pid);
    if (t->applicant[0] != '\0') {
        snprintf(msg, sizeof msg, "leave.request: %d consecutive days for %s ", run,
                 role_words(role));
        const char *want[] = {msg, "is applied for by the", cite(c, sizeof c, t->clause), NULL};
        REFUSED(TZ_ERR_FORBIDDEN, want, self, "leave.request", NULL, from - 1, "{\"person\":"
                "\"%s\",\"from\":\"%s\",\"to\":\"%s\",\"reason\":\"事\"}", pid, f, to);
    }
    OK(t->applicant[0] != '\0' ? office_of(t->applicant, NULL) : self, "leave.request", id,
       from - 1, "{\"person\":\"%s\",\"from\":\"%s\",\"to\":\"%s\",\"reason\":\"事\"}", pid, f, to);
}

/* Approves leave id (a run of run consecutive days): every other approver
 * of the profile's tiers is refused, the tier's own approver accepted. */
static void leave_approve(const char *id, tz_mission_role role, int64_t from, int run)
{
    const tz_profile_leave_tier *t = model_tier(role, run);
    for (size_t i = 0; i < W.p.leave.ntiers[role]; i++) {
        const char *other = W.p.leave.tiers[role][i].approver;
        if (strcmp(other, t->approver) == 0)
            continue;
        char label[64], msg[256], needs[96], c[96];
        tz_profile_role_label(label, sizeof label, t->approver);
        snprintf(msg, sizeof msg, "leave.approve: %d consecutive days for %s ", run,
                 role_words(role));
        snprintf(needs, sizeof needs, "needs %s approval", label);
        const char *want[] = {msg, needs, cite(c, sizeof c, t->clause), NULL};
        REFUSED(TZ_ERR_FORBIDDEN, want, office_of(other, NULL), "leave.approve", NULL, from - 1,
                "{\"request\":\"%s\",\"decision\":\"approved\"}", id);
    }
    OK(office_of(t->approver, NULL), "leave.approve", NULL, from - 1,
       "{\"request\":\"%s\",\"decision\":\"approved\"}", id);
}

static int has_reason(const char *code)
{
    for (size_t i = 0; i < W.p.recall.nreasons; i++)
        if (strcmp(W.p.recall.reasons[i].code, code) == 0)
            return 1;
    return 0;
}

static const char *reason_clause(const char *code)
{
    for (size_t i = 0; i < W.p.recall.nreasons; i++)
        if (strcmp(W.p.recall.reasons[i].code, code) == 0)
            return W.p.recall.reasons[i].clause;
    ck_abort_msg("%s has no recall reason %s", W.p.id, code);
    return NULL;
}

static int recall(const char *pid, const char *reason, int64_t date)
{
    char keys[64], d[11];
    first_office(keys, sizeof keys, &W.p.recall.signers, NULL);
    return put(keys, "recall", NULL, date, "{\"person\":\"%s\",\"dispatch\":\"dispatch/%s\","
               "\"reason\":\"%s\",\"date\":\"%s\"}", pid, pid, reason, fmt_day(d, date));
}

static int cmp_int(const void *a, const void *b)
{
    return *(const int *)a - *(const int *)b;
}

START_TEST(test_leave_tiers)
{
    world_up(_i);
    for (tz_mission_role role = 0; role <= TZ_MISSION_TEAM_MEMBER; role++) {
        if (W.p.leave.ntiers[role] == 0)
            continue;
        /* every tier's max_days and the recall limit, at n-1, n and n+1 */
        int counts[32], n = 0, r = W.p.leave.recall_over_days;
        for (size_t i = 0; i < W.p.leave.ntiers[role]; i++) {
            int m = W.p.leave.tiers[role][i].max_days;
            if (m > 0)
                for (int d = m - 1; d <= m + 1; d++)
                    if (d >= 1)
                        counts[n++] = d;
        }
        if (r > 0)
            for (int d = r - 1; d <= r + 1; d++)
                counts[n++] = d;
        qsort(counts, (size_t)n, sizeof counts[0], cmp_int);
        char pid[16];
        person(pid, long_ago(), 1);
        dispatch_ok(pid, role, day_of("2024-01-02"), planned_end(day_of("2024-01-02")));
        int64_t from = day_of("2024-02-05");
        int recall_tested = 0;
        for (int k = 0; k < n; k++) {
            if (k > 0 && counts[k] == counts[k - 1])
                continue;
            int days = counts[k];
            char id[48];
            snprintf(id, sizeof id, "l/%s/%d", pid, days);
            leave_request(id, pid, role, from, days, days);
            json_t *rec = rec_of(id);
            ck_assert_msg((json_object_get(rec, "recall_required") != NULL) == (r > 0 && days > r),
                          "%s: %d days: recall_required %s", W.p.id, days,
                          json_object_get(rec, "recall_required") ? "set" : "not set");
            json_decref(rec);
            leave_approve(id, role, from, days);
            /* 连续请假超过 r 天: recall, with the leave on the ledger as evidence */
            if (r > 0 && days >= r - 1 && has_reason("leave_over_30_days")) {
                int64_t at = from + days;
                if (days <= r) {
                    char msg[256], c[96];
                    snprintf(msg, sizeof msg, "recall: reason leave_over_30_days needs a leave of "
                             "more than %d consecutive days", r);
                    const char *want[] = {msg, cite(c, sizeof c,
                                                    reason_clause("leave_over_30_days")), NULL};
                    expect_refused(__LINE__, recall(pid, "leave_over_30_days", at), TZ_ERR_RULE,
                                   want);
                } else {
                    ck_assert_msg(recall(pid, "leave_over_30_days", at) == TZ_OK, "%s: %s",
                                  W.p.id, W.msg);
                    recall_tested = 1;
                    break;
                }
            }
            from += days + 7;
        }
        ck_assert(r == 0 || !has_reason("leave_over_30_days") || recall_tested);
    }
    world_down();
}
END_TEST

/* 连续 is about the days away: a request that starts the day after another
 * ends continues its run, for the approval tier (拆分请假 is the dodge). */
START_TEST(test_leave_split_run)
{
    world_up(_i);
    for (tz_mission_role role = 0; role <= TZ_MISSION_TEAM_MEMBER; role++) {
        if (W.p.leave.ntiers[role] == 0)
            continue;
        char pid[16];
        person(pid, long_ago(), 1);
        dispatch_ok(pid, role, day_of("2024-01-02"), planned_end(day_of("2024-01-02")));
        int64_t from = day_of("2024-02-05");
        for (size_t i = 0; i < W.p.leave.ntiers[role]; i++) {
            int m = W.p.leave.tiers[role][i].max_days;
            if (m == 0)
                continue;
            /* m days, then one more day right after: a run of m + 1 */
            char a[48], b[48];
            snprintf(a, sizeof a, "s/%s/%d/a", pid, m);
            snprintf(b, sizeof b, "s/%s/%d/b", pid, m);
            leave_request(a, pid, role, from, m, m);
            leave_approve(a, role, from, m);
            leave_request(b, pid, role, from + m, 1, m + 1);
            leave_approve(b, role, from + m, m + 1);
            from += m + 1 + 7;
            /* both requested before either is approved: the run is the same */
            snprintf(a, sizeof a, "s/%s/%d/c", pid, m);
            snprintf(b, sizeof b, "s/%s/%d/d", pid, m);
            leave_request(a, pid, role, from, m, m);
            leave_request(b, pid, role, from + m, 1, m + 1);
            leave_approve(a, role, from, m + 1);
            leave_approve(b, role, from + m, m + 1);
            from += m + 1 + 7;
        }
        /* the recall limit counts the run too: r - 1 days and one more day make r (no
         * recall), one further day r + 1 */
        int r = W.p.leave.recall_over_days;
        if (r > 1 && has_reason("leave_over_30_days")) {
            char a[48], b[48], c2[48], msg[256], c[96];
            snprintf(a, sizeof a, "s/%s/r/a", pid);
            snprintf(b, sizeof b, "s/%s/r/b", pid);
            snprintf(c2, sizeof c2, "s/%s/r/c", pid);
            leave_request(a, pid, role, from, r - 1, r - 1);
            leave_approve(a, role, from, r - 1);
            leave_request(b, pid, role, from + r - 1, 1, r);
            leave_approve(b, role, from + r - 1, r);
            snprintf(msg, sizeof msg, "recall: reason leave_over_30_days needs a leave of more "
                     "than %d consecutive days", r);
            const char *want[] = {msg, cite(c, sizeof c, reason_clause("leave_over_30_days")),
                                  NULL};
            expect_refused(__LINE__, recall(pid, "leave_over_30_days", from + r), TZ_ERR_RULE,
                           want);
            leave_request(c2, pid, role, from + r, 1, r + 1);
            json_t *rec = rec_of(c2);
            ck_assert_msg(json_object_get(rec, "recall_required") != NULL, "%s: a run of %d days "
                          "is not marked for recall", W.p.id, r + 1);
            json_decref(rec);
            leave_approve(c2, role, from + r, r + 1);
            ck_assert_msg(recall(pid, "leave_over_30_days", from + r + 1) == TZ_OK, "%s: %s",
                          W.p.id, W.msg);
        }
    }
    world_down();
}
END_TEST

/* ---- absences without reason (无故不在岗): grade caps and the recall ------- */

/* Whether grade g is allowed after a absences, by the profile's caps. */
static int model_grade_allowed(int a, tz_grade g, const char **clause)
{
    for (size_t i = 0; i < W.p.assessment.ncaps; i++) {
        const tz_profile_absence_cap *c = &W.p.assessment.caps[i];
        if (a < c->absences)
            continue;
        if ((c->forced_grade != TZ_GRADE_NONE && g != c->forced_grade) ||
            (c->max_grade != TZ_GRADE_NONE && g > c->max_grade)) {
            *clause = c->clause;
            return 0;
        }
    }
    return 1;
}

START_TEST(test_absence_caps)
{
    world_up(_i);
    /* every cap's count at n-1, n and n+1 */
    int counts[16], n = 0, recall_at = 0;
    for (size_t i = 0; i < W.p.assessment.ncaps; i++) {
        const tz_profile_absence_cap *c = &W.p.assessment.caps[i];
        for (int a = c->absences - 1; a <= c->absences + 1; a++)
            counts[n++] = a;
        if (c->recall && recall_at == 0)
            recall_at = c->absences;
    }
    if (n == 0 && W.p.spot_check.signers.n > 0) /* no caps: three absences leave every grade open */
        counts[n++] = 3;
    qsort(counts, (size_t)n, sizeof counts[0], cmp_int);
    char inspector[64] = "", signer[64];
    if (W.p.spot_check.signers.n > 0)
        first_office(inspector, sizeof inspector, &W.p.spot_check.signers, NULL);
    first_office(signer, sizeof signer, &W.p.assessment.signers, NULL);
    for (int k = 0; k < n; k++) {
        if (k > 0 && counts[k] == counts[k - 1])
            continue;
        int a = counts[k];
        char pid[16];
        person(pid, long_ago(), 0);
        dispatch_ok(pid, TZ_MISSION_FIRST_SECRETARY, day_of("2024-01-02"),
                    planned_end(day_of("2024-01-02")));
        for (int j = 0; j < a; j++) {
            int64_t d = day_of("2024-03-04") + 7 * j;
            char ds[11];
            OK(inspector, "spot_check", NULL, d, "{\"person\":\"%s\",\"date\":\"%s\",\"result\":"
               "\"absent\"}", pid, fmt_day(ds, d));
        }
        /* the read side names the same best grade the decide step allows */
        {
            const char *ignored;
            tz_grade best = TZ_GRADE_EXCELLENT;
            while (!model_grade_allowed(a, best, &ignored))
                best--;
            json_t *row = query_row("eligibility", pid, 2024, NULL);
            ck_assert_msg(row != NULL, "%s: no eligibility row for %s", W.p.id, pid);
            ck_assert_int_eq(json_integer_value(json_object_get(row, "absences")), a);
            ck_assert_msg(json_is_string(json_object_get(row, "max_grade")) &&
                              strcmp(json_string_value(json_object_get(row, "max_grade")),
                                     tz_grade_name(best)) == 0,
                          "%s: %d absences: eligibility says at most %s, the caps allow %s",
                          W.p.id, a, json_string_value(json_object_get(row, "max_grade")),
                          tz_grade_name(best));
            json_decref(row);
        }
        /* from 优秀 down: refused until the best grade the caps allow */
        for (tz_grade g = TZ_GRADE_EXCELLENT; g >= TZ_GRADE_INCOMPETENT; g--) {
            const char *clause = NULL;
            int64_t at = day_of("2024-12-20");
            if (model_grade_allowed(a, g, &clause)) {
                ck_assert_msg(put(signer, "assessment", NULL, at, "{\"person\":\"%s\",\"year\":"
                                  "2024,\"grade\":\"%s\"}", pid, tz_grade_name(g)) == TZ_OK,
                              "%s: %d absences, %s: %s", W.p.id, a, tz_grade_name(g), W.msg);
                break;
            }
            char msg[256], c[96];
            snprintf(msg, sizeof msg, "assessment: %s was found absent without reason %d time(s) "
                     "in 2024; the grade ", pid, a);
            const char *want[] = {msg, cite(c, sizeof c, clause), NULL};
            REFUSED(TZ_ERR_RULE, want, signer, "assessment", NULL, at, "{\"person\":\"%s\","
                    "\"year\":2024,\"grade\":\"%s\"}", pid, tz_grade_name(g));
        }
        /* the recall for absences needs the count on the ledger */
        if (recall_at > 0 && has_reason("third_absence")) {
            int64_t at = day_of("2024-12-21");
            if (a >= recall_at) {
                ck_assert_msg(recall(pid, "third_absence", at) == TZ_OK, "%s: %d absences: %s",
                              W.p.id, a, W.msg);
            } else {
                char msg[256], c[96];
                snprintf(msg, sizeof msg, "recall: reason third_absence needs %d absences without "
                         "reason found in 2024; %s has %d on the ledger", recall_at, pid, a);
                const char *want[] = {msg, cite(c, sizeof c, reason_clause("third_absence")),
                                      NULL};
                expect_refused(__LINE__, recall(pid, "third_absence", at), TZ_ERR_RULE, want);
            }
        }
    }
    world_down();
}
END_TEST

/* ---- term (任期) and party years (党龄) ----------------------------------------- */

START_TEST(test_term_and_party_years)
{
    world_up(_i);
    int64_t start = day_of("2024-03-01");
    int years = W.p.term.min_years;
    /* exactly the minimum term ends the day before start + min_years */
    int64_t exact = tz_time_add_years(start, years > 0 ? years : 1) - 1;
    for (int64_t end = exact - 1; end <= exact + 1; end++) {
        char pid[16];
        person(pid, long_ago(), 0);
        int rc = dispatch_to(pid, "v1", TZ_MISSION_FIRST_SECRETARY, start, end, NULL);
        if (years == 0 || end >= exact) {
            ck_assert_msg(rc == TZ_OK, "%s: term to %lld: %s", W.p.id, (long long)(end - exact),
                          W.msg);
            continue;
        }
        char msg[256], c[96], s1[11], s2[11];
        snprintf(msg, sizeof msg, "dispatch: a term of %s..%s is shorter than %d years",
                 fmt_day(s1, start), fmt_day(s2, end), years);
        const char *want[] = {msg, cite(c, sizeof c, W.p.term.clause), NULL};
        expect_refused(__LINE__, rc, TZ_ERR_RULE, want);
    }
    /* party membership: joined exactly party_years before the start, a day less, a day more */
    const tz_profile_eligibility *e = &W.p.eligibility[TZ_MISSION_FIRST_SECRETARY];
    if (e->party_years > 0) {
        int64_t joined = tz_time_add_years(start, -e->party_years);
        for (int64_t since = joined - 1; since <= joined + 1; since++) {
            char pid[16];
            person(pid, since, 0);
            int rc = dispatch_to(pid, "v1", TZ_MISSION_FIRST_SECRETARY, start, planned_end(start),
                                 NULL);
            if (since <= joined) {
                ck_assert_msg(rc == TZ_OK, "%s: joined %lld: %s", W.p.id,
                              (long long)(since - joined), W.msg);
                continue;
            }
            char msg[256], c[96], s1[11], s2[11];
            snprintf(msg, sizeof msg, "needs at least %d year(s) of party membership at the start; "
                     "%s joined %s, start %s", e->party_years, pid, fmt_day(s1, since),
                     fmt_day(s2, start));
            const char *want[] = {msg, cite(c, sizeof c, e->clause), NULL};
            expect_refused(__LINE__, rc, TZ_ERR_RULE, want);
        }
    }
    world_down();
}
END_TEST

/* ---- the attendance sheet's deadline (每月28日前报送) ----------------------------- */

static uint64_t sim_now;
static uint64_t sim_clock(void *ctx)
{
    (void)ctx;
    return sim_now;
}

/* Micros of day at 12:00 China time. */
static uint64_t noon(int64_t day)
{
    return (uint64_t)(day * 86400 + 4 * 3600) * 1000000u;
}

START_TEST(test_attendance_deadline)
{
    sim_now = noon(day_of("2024-01-02"));
    tz_time_set_clock(sim_clock, NULL);
    world_up(_i);
    char pid[16], keys[128];
    person(pid, long_ago(), 0);
    dispatch_ok(pid, TZ_MISSION_FIRST_SECRETARY, day_of("2024-01-02"),
                planned_end(day_of("2024-01-02")));
    offices_of(keys, sizeof keys, &W.p.attendance.signers, NULL);
    /* the sheets of February, March and April 2024, completed (both
     * signatures, by the server's clock) one day before, on, and one day
     * after the due day */
    for (int k = 0; k < 3; k++) {
        unsigned month = 2 + (unsigned)k;
        int dm = (int)month + (W.p.attendance.due_day > 0 ? W.p.attendance.due_months_after : 1);
        int dy = 2024 + (dm - 1) / 12;
        dm = (dm - 1) % 12 + 1;
        unsigned last = tz_time_days_in_month(dy, (unsigned)dm);
        int64_t due = W.p.attendance.due_day > 0
                          ? tz_time_days_from_civil(dy, (unsigned)dm,
                                                    (unsigned)W.p.attendance.due_day < last
                                                        ? (unsigned)W.p.attendance.due_day : last)
                          : tz_time_days_from_civil(dy, (unsigned)dm, 1) + 10;
        int64_t done = due - 1 + k;
        sim_now = noon(done);
        char days[32], id[32];
        unsigned nd = tz_time_days_in_month(2024, month);
        memset(days, 'P', nd);
        days[nd] = '\0';
        snprintf(id, sizeof id, "att/%u", month);
        OK(keys, "attendance", id, tz_time_days_from_civil(dy, (unsigned)dm, 1) - 0,
           "{\"person\":\"%s\",\"month\":\"2024-%02u\",\"days\":\"%s\"}", pid, month, days);
        json_t *rec = rec_of(id);
        char want_due[11];
        if (W.p.attendance.due_day > 0) {
            ck_assert_str_eq(json_string_value(json_object_get(rec, "due")), fmt_day(want_due, due));
            ck_assert_msg(json_is_true(json_object_get(rec, "late")) == (done > due),
                          "%s: completed %s, due %s, late %s", W.p.id,
                          json_string_value(json_object_get(rec, "completed")), want_due,
                          json_is_true(json_object_get(rec, "late")) ? "true" : "false");
        } else {
            /* no deadline in the profile: never late */
            ck_assert_msg(!json_is_true(json_object_get(rec, "late")), "%s sets no deadline",
                          W.p.id);
        }
        json_decref(rec);
    }
    tz_time_set_clock(NULL, NULL);
    world_down();
}
END_TEST

/* ---- days in the village (每月驻村不少于20天) and the daily allowance ---------- */

START_TEST(test_presence_and_allowance)
{
    world_up(_i);
    int min = W.p.attendance.min_days;
    int64_t rate = -1; /* the rate for unit u1 (a county unit), -1: none */
    for (size_t i = 0; i < W.p.nallowance && rate < 0; i++)
        if (W.p.allowance[i].unit_level[0] == '\0' ||
            strcmp(W.p.allowance[i].unit_level, "county") == 0)
            rate = W.p.allowance[i].fen_per_day;
    char pid[16], keys[128];
    person(pid, long_ago(), 0);
    dispatch_ok(pid, TZ_MISSION_FIRST_SECRETARY, day_of("2024-01-02"),
                planned_end(day_of("2024-01-02")));
    offices_of(keys, sizeof keys, &W.p.attendance.signers, NULL);
    /* March..June 2024: min-1, min, min+1 days in the village, and min-1
     * plus one day of official business outside (外出开会), the rest absent */
    const int base = min > 0 ? min : 20;
    const int in_village[] = {base - 1, base, base + 1, base - 1};
    for (unsigned k = 0; k < 4; k++) {
        unsigned month = 3 + k;
        unsigned nd = tz_time_days_in_month(2024, month);
        char days[32], ms[8];
        for (unsigned d = 0; d < nd; d++)
            days[d] = d < (unsigned)in_village[k] ? 'P' : 'A';
        if (k == 3)
            days[in_village[k]] = 'B';
        days[nd] = '\0';
        snprintf(ms, sizeof ms, "2024-%02u", month);
        OK(keys, "attendance", NULL, tz_time_days_from_civil(2024, month + 1, 1),
           "{\"person\":\"%s\",\"month\":\"%s\",\"days\":\"%s\"}", pid, ms, days);
        int counted = in_village[k] + (k == 3 && W.p.attendance.official_business_counts);
        json_t *row = query_row("attendance", pid, 2024, ms);
        ck_assert_msg(row != NULL, "%s: no attendance row for %s", W.p.id, ms);
        ck_assert_int_eq(json_integer_value(json_object_get(row, "in_village")), counted);
        ck_assert_msg(has_finding(row, "under_min_days") == (min > 0 && counted < min),
                      "%s: %s: %d days in the village, minimum %d: finding %s", W.p.id, ms,
                      counted, min, has_finding(row, "under_min_days") ? "shown" : "not shown");
        json_decref(row);
        row = query_row("allowance", pid, 2024, ms);
        ck_assert_msg(row != NULL, "%s: no allowance row for %s", W.p.id, ms);
        ck_assert_msg(json_integer_value(json_object_get(row, "allowance_fen")) ==
                          (rate < 0 ? 0 : rate * counted),
                      "%s: %s: %d days at %lld fen: allowance %lld fen", W.p.id, ms, counted,
                      (long long)rate,
                      (long long)json_integer_value(json_object_get(row, "allowance_fen")));
        json_decref(row);
    }
    world_down();
}
END_TEST

/* ---- team coverage (1名第一书记、至少2名驻村工作队员) ---------------------------- */

/* The coverage_short findings of the roster about village for role ("total"
 * for the team's size), on day. */
static int coverage_short(const char *village, const char *role, int64_t day)
{
    tz_query q;
    tz_query_init(&q, tz_ledger_store(W.l), tz_ledger_size(W.l) - 1);
    q.village = village;
    q.day = day;
    json_t *out = NULL;
    tz_err e;
    ck_assert_msg(tz_query_run("roster", &q, &out, &e) == TZ_OK, "roster: %s", e.msg);
    int n = 0;
    size_t i;
    json_t *f;
    json_array_foreach(json_object_get(out, "findings"), i, f) {
        const char *v = json_string_value(json_object_get(f, "village"));
        const char *r = json_string_value(json_object_get(f, "role"));
        if (strcmp(json_string_value(json_object_get(f, "code")), "coverage_short") == 0 && v &&
            strcmp(v, village) == 0 && r && strcmp(r, role) == 0)
            n++;
    }
    json_decref(out);
    return n > 0;
}

START_TEST(test_team_coverage)
{
    world_up(_i);
    int64_t start = day_of("2024-01-02"), on = day_of("2024-06-03");
    int nv = 0;
    for (size_t r = 0; r < W.p.nteam_rules; r++) {
        const tz_profile_team_rule *tr = &W.p.team_rules[r];
        const char *category = tr->ncategories > 0 ? tr->categories[0] : "ordinary";
        /* what every rule applying to this category asks for */
        int need[TZ_MISSION_COUNT] = {0}, need_total = 0;
        for (size_t o = 0; o < W.p.nteam_rules; o++) {
            const tz_profile_team_rule *t = &W.p.team_rules[o];
            int applies = t->ncategories == 0;
            for (size_t c = 0; c < t->ncategories; c++)
                applies |= strcmp(t->categories[c], category) == 0;
            for (int m = 0; applies && m < TZ_MISSION_COUNT; m++)
                need[m] = need[m] > t->min[m] ? need[m] : t->min[m];
            if (applies && t->min_total > need_total)
                need_total = t->min_total;
        }
        for (int m = 0; m < TZ_MISSION_COUNT; m++) {
            if (tr->min[m] <= 0)
                continue;
            for (int delta = -1; delta <= 1; delta++) {
                /* a village with every role at its minimum, role m at min + delta */
                char village[16], vid[32];
                snprintf(village, sizeof village, "t%d", ++nv);
                snprintf(vid, sizeof vid, "village/%s", village);
                OK("county", "org.village", vid, day_of("2021-10-01"), "{\"village\":\"%s\","
                   "\"name\":\"村\",\"township\":\"cg\",\"county\":\"sq\",\"city\":\"ak\","
                   "\"province\":\"sx\",\"category\":\"%s\"}", village, category);
                int have[TZ_MISSION_COUNT], total = 0;
                for (int x = 0; x < TZ_MISSION_COUNT; x++) {
                    have[x] = need[x] + (x == m ? delta : 0);
                    total += have[x];
                    for (int k = 0; k < have[x]; k++) {
                        char pid[16];
                        person(pid, long_ago(), 0);
                        ck_assert_msg(dispatch_to(pid, village, (tz_mission_role)x, start,
                                                  planned_end(start), NULL) == TZ_OK,
                                      "%s: %s", W.p.id, W.msg);
                    }
                }
                for (int x = 0; x < TZ_MISSION_COUNT; x++)
                    ck_assert_msg(coverage_short(village, tz_mission_role_name(x), on) ==
                                      (have[x] < need[x]),
                                  "%s: %s (%s) with %d %s, %d asked for: finding %s", W.p.id,
                                  village, category, have[x], tz_mission_role_name(x), need[x],
                                  have[x] < need[x] ? "missing" : "shown");
                ck_assert_msg(coverage_short(village, "total", on) ==
                                  (need_total > 0 && total < need_total),
                              "%s: %s (%s) with %d cadres, %d asked for", W.p.id, village,
                              category, total, need_total);
            }
        }
    }
    world_down();
}
END_TEST

/* ---- recall consequences: years without promotion, recalls of a unit in a year -- */

START_TEST(test_recall_consequences)
{
    world_up(_i);
    const tz_profile_recall_consequences *rc_ = &W.p.recall_consequences;
    /* a ground that needs no evidence on the ledger */
    const char *reason = NULL;
    static const char *const evidenced[] = {"third_absence", "leave_over_30_days",
                                            "grade_incompetent"};
    for (size_t i = 0; i < W.p.recall.nreasons && reason == NULL; i++) {
        reason = W.p.recall.reasons[i].code;
        for (size_t j = 0; j < 3 && reason != NULL; j++)
            if (strcmp(reason, evidenced[j]) == 0)
                reason = NULL;
    }
    if (reason == NULL) {
        world_down();
        return;
    }
    int limit = rc_->unit_recalls_in_year;
    int upto = (limit > 0 ? limit : 2) + 1;
    for (int k = 1; k <= upto; k++) {
        char pid[16];
        person(pid, long_ago(), 0);
        dispatch_ok(pid, TZ_MISSION_FIRST_SECRETARY, day_of("2024-01-02"),
                    planned_end(day_of("2024-01-02")));
        int64_t date = day_of("2024-03-01") + 30 * k;
        ck_assert_msg(recall(pid, reason, date) == TZ_OK, "%s: %s", W.p.id, W.msg);
        tz_query q;
        tz_query_init(&q, tz_ledger_store(W.l), tz_ledger_size(W.l) - 1);
        q.unit = "u1";
        q.year = 2024;
        json_t *out = NULL;
        tz_err e;
        ck_assert_msg(tz_query_run("recall", &q, &out, &e) == TZ_OK, "recall: %s", e.msg);
        json_t *u = json_array_get(json_object_get(out, "units"), 0);
        ck_assert_msg(u != NULL, "%s: no recalls of u1 in 2024", W.p.id);
        ck_assert_int_eq(json_integer_value(json_object_get(u, "count")), k);
        ck_assert_msg(has_finding(u, "unit_recalls") == (limit > 0 && k >= limit),
                      "%s: %d recall(s) of u1 in 2024, the profile's limit %d: finding %s",
                      W.p.id, k, limit, has_finding(u, "unit_recalls") ? "shown" : "not shown");
        /* the recalled cadre: not promoted until the date no_promotion_years on */
        json_t *row = NULL, *r;
        size_t i;
        json_array_foreach(json_object_get(out, "rows"), i, r)
            if (strcmp(json_string_value(json_object_get(r, "person")), pid) == 0)
                row = r;
        ck_assert_msg(row != NULL, "%s: no recall row for %s", W.p.id, pid);
        const char *until = NULL;
        json_array_foreach(json_object_get(row, "consequences"), i, r)
            if (strcmp(json_string_value(json_object_get(r, "code")), "no_promotion_until") == 0)
                until = json_string_value(json_object_get(r, "date"));
        char want[11];
        if (rc_->no_promotion_years > 0)
            ck_assert_str_eq(until ? until : "(none)",
                             fmt_day(want, tz_time_add_years(date, rc_->no_promotion_years)));
        else
            ck_assert_msg(until == NULL, "%s sets no promotion bar, yet %s", W.p.id, until);
        json_decref(out);
    }
    world_down();
}
END_TEST

static Suite *boundaries_suite(void)
{
    Suite *s = suite_create("boundaries");
    TCase *tc = tcase_create("profiles");
    tcase_set_timeout(tc, 300);
    tcase_add_loop_test(tc, test_handover_working_days, 0, NPROFILES);
    tcase_add_loop_test(tc, test_excellent_quota_floor, 0, NPROFILES);
    tcase_add_loop_test(tc, test_half_year_leap, 0, NPROFILES);
    tcase_add_loop_test(tc, test_leave_tiers, 0, NPROFILES);
    tcase_add_loop_test(tc, test_leave_split_run, 0, NPROFILES);
    tcase_add_loop_test(tc, test_absence_caps, 0, NPROFILES);
    tcase_add_loop_test(tc, test_term_and_party_years, 0, NPROFILES);
    tcase_add_loop_test(tc, test_attendance_deadline, 0, NPROFILES);
    tcase_add_loop_test(tc, test_presence_and_allowance, 0, NPROFILES);
    tcase_add_loop_test(tc, test_team_coverage, 0, NPROFILES);
    tcase_add_loop_test(tc, test_recall_consequences, 0, NPROFILES);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return tz_test_main(boundaries_suite);
}
