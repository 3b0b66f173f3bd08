/*
 * check_domain.c: the records of the mission and the rules of each policy
 * profile (projections/domain.c), through the real append path.
 *
 * Every test builds a small county on a fresh ledger: one county "sq" with
 * townships "cg" and "hb", villages v1, v2 (cg) and v3 (hb), dispatching
 * units u1, u2, a dozen people, the office keys of DOMAIN.md with their
 * scopes, the working-day calendar and one policy profile. For each rule:
 * a compliant statement is accepted and a violating one is rejected with
 * the rule's message and clause. Every world is verified (full replay) at
 * teardown, so the decisions the appender made are the ones replay makes.
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
#include "projections/view.h"
#include "util/encoding.h"
#include "util/time.h"
#include "tests/tz_test.h"

#define MAX_KEYS 48

typedef struct world {
    tz_fixture f;
    tz_ledger *l;
    const char *profile;
    size_t nkeys;
    char names[MAX_KEYS][32];
    tz_secret_key keys[MAX_KEYS];
    int status;              /* of the last put */
    uint64_t seq;            /* of the last accepted put */
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
    {"tcom-hb", "township_party_committee", "township:hb"},
    {"tsec-hb", "township_party_secretary", "township:hb"},
    {"vsec-v1", "village_party_secretary", "village:v1"},
    {"vsec-v2", "village_party_secretary", "village:v2"},
    {"vsec-v3", "village_party_secretary", "village:v3"},
    {"unit-u1", "dispatching_unit", "unit:u1"},
    {"unit-u2", "dispatching_unit", "unit:u2"},
    {"insp", "inspector", "county:sq"},
    {"county-other", "county_org_dept", "county:other"},
};

/* people: id, party_member_since (or null), employment, rank, unit */
static const char *const people[][5] = {
    {"fs1", "\"2010-07-01\"", "permanent", "section", "u1"},
    {"fs2", "\"2012-07-01\"", "permanent", "section_reserve", "u2"},
    {"fs3", "\"2008-07-01\"", "permanent", "division", "u1"},
    {"fs4", "\"2011-07-01\"", "permanent", "section", "u2"},
    {"fs5", "\"2009-07-01\"", "permanent", "section", "u1"},
    {"tm1", "null", "permanent", "staff", "u1"},
    {"tm2", "\"2020-01-01\"", "permanent", "staff", "u2"},
    {"new", "\"2023-06-01\"", "permanent", "section", "u1"},
    {"temp", "\"2010-01-01\"", "temporary", "section", "u1"},
    {"loan", "\"2010-01-01\"", "seconded", "section", "u2"},
    {"nonparty", "null", "permanent", "section", "u1"},
    {"clerk", "\"2010-01-01\"", "permanent", "staff", "u2"},
};

/* Appends the statement js (consumed), signed by the comma-separated keys. */
static int put_json(const char *keys, json_t *js)
{
    tz_append_result res;
    tz_fixture_append_named(W.l, js, keys, W.names, W.keys, W.nkeys, &W.f.root, &res);
    W.status = res.status;
    snprintf(W.msg, sizeof W.msg, "%s", res.status == TZ_OK ? "" : res.err.msg);
    if (res.status == TZ_OK)
        W.seq = res.seq;
    return res.status;
}

/* put("county", "dispatch", "d1", "2024-01-02", "{...}"): at is date 09:00 +08:00. */
static int put(const char *keys, const char *type, const char *id, const char *date,
               const char *body_fmt, ...)
{
    char body[4096];
    va_list ap;
    va_start(ap, body_fmt);
    vsnprintf(body, sizeof body, body_fmt, ap);
    va_end(ap);
    json_error_t je;
    json_t *b = json_loads(body, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &je);
    ck_assert_msg(b != NULL, "test body JSON: %s: %s", body, je.text);
    char at[40], idbuf[TZ_STATEMENT_ID_MAX + 1];
    snprintf(at, sizeof at, "%sT09:00:00+08:00", date);
    if (id == NULL) {
        snprintf(idbuf, sizeof idbuf, "auto/%d", ++W.n);
        id = idbuf;
    }
    return put_json(keys, json_pack("{s:s,s:s,s:s,s:o}", "type", type, "id", id, "at", at,
                                    "body", b));
}

#define OK(...) ck_assert_msg(put(__VA_ARGS__) == TZ_OK, "line %d: %s", __LINE__, W.msg)
#define REJECT(code, substr, ...)                                                              \
    do {                                                                                       \
        int rc_ = put(__VA_ARGS__);                                                            \
        ck_assert_msg(rc_ == (code), "line %d: expected %d, got %d: %s", __LINE__, (code), rc_, \
                      W.msg);                                                                  \
        ck_assert_msg(strstr(W.msg, (substr)) != NULL, "line %d: message \"%s\" lacks \"%s\"", \
                      __LINE__, W.msg, (substr));                                              \
    } while (0)

/* A cosign of entry seq by keys. */
static int cosign(const char *keys, uint64_t seq, const char *date)
{
    uint8_t *raw;
    size_t len;
    tz_err e;
    ck_assert(tz_ledger_get(W.l, seq, &raw, &len, &e) == TZ_OK);
    tz_entry en;
    ck_assert(tz_entry_decode(&en, raw, len, &e) == TZ_OK);
    uint8_t h[32];
    char hex[65], id[64], at[40];
    tz_hash_sha256(h, en.statement, en.statement_len);
    tz_store_free(raw);
    tz_hex_encode(hex, h, 32);
    snprintf(id, sizeof id, "cosign/%llu/%d", (unsigned long long)seq, ++W.n);
    snprintf(at, sizeof at, "%sT10:00:00+08:00", date);
    return put_json(keys, json_pack("{s:s,s:s,s:s,s:{s:I,s:s}}", "type", "cosign", "id", id,
                                    "at", at, "body", "seq", (json_int_t)seq,
                                    "statement_hash", hex));
}

/* The state record kind "\0" a ["\0" b] as JSON (NULL when absent). */
static json_t *state(const char *kind, const char *a, const char *b)
{
    char key[512];
    size_t kl = (size_t)snprintf(key, sizeof key, "%s%c%s", kind, 0, a);
    if (b != NULL)
        kl += (size_t)snprintf(key + kl, sizeof key - kl, "%c%s", 0, b);
    uint8_t *val;
    size_t len;
    tz_err e;
    int rc = tz_store_get(tz_ledger_store(W.l), TZ_CF_INDEX, key, kl, &val, &len, &e);
    if (rc == TZ_ERR_NOTFOUND)
        return NULL;
    ck_assert_msg(rc == TZ_OK, "%s", e.msg);
    msgpack_zone zone;
    msgpack_zone_init(&zone, 4096);
    msgpack_object o;
    ck_assert(tz_codec_decode(&o, &zone, val, len, &e) == TZ_OK);
    json_t *j = tz_codec_to_json(&o, &e);
    msgpack_zone_destroy(&zone);
    tz_store_free(val);
    return j;
}

static const char *rec_field(const char *id, const char *field, char *buf, size_t cap)
{
    json_t *r = state("rec", id, NULL);
    ck_assert_msg(r != NULL, "no record %s", id);
    json_t *v = json_object_get(r, field);
    if (json_is_string(v))
        snprintf(buf, cap, "%s", json_string_value(v));
    else if (json_is_boolean(v))
        snprintf(buf, cap, "%s", json_is_true(v) ? "true" : "false");
    else if (json_is_integer(v))
        snprintf(buf, cap, "%lld", (long long)json_integer_value(v));
    else
        snprintf(buf, cap, "%s", v ? "?" : "(absent)");
    json_decref(r);
    return buf;
}

#define REC_IS(id, field, want)                                                                \
    do {                                                                                       \
        char b_[128];                                                                          \
        ck_assert_str_eq(rec_field((id), (field), b_, sizeof b_), (want));                    \
    } while (0)

static int adopt_profile_at(const char *profile, const char *date, const char *effective,
                            const char *id)
{
    char path[512];
    snprintf(path, sizeof path, "%s/profiles/%s.json", TZ_SOURCE_DIR, profile);
    json_error_t je;
    json_t *doc = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
    ck_assert_msg(doc != NULL, "%s: %s", path, je.text);
    char at[40];
    snprintf(at, sizeof at, "%sT09:00:00+08:00", date);
    return put_json("root", json_pack("{s:s,s:s,s:s,s:{s:s,s:o}}", "type", "policy.adopt", "id",
                                      id, "at", at, "body", "effective", effective, "profile",
                                      doc));
}

static void adopt_profile(const char *profile, const char *effective, const char *id)
{
    ck_assert_msg(adopt_profile_at(profile, effective, effective, id) == TZ_OK, "%s", W.msg);
}

static void adopt_calendar(void)
{
    char path[512];
    snprintf(path, sizeof path, "%s/data/cn-workday-calendar.json", TZ_SOURCE_DIR);
    json_error_t je;
    json_t *doc = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
    ck_assert_msg(doc != NULL, "%s: %s", path, je.text);
    ck_assert_msg(put_json("root", json_pack("{s:s,s:s,s:s,s:{s:o}}", "type", "calendar.adopt",
                                             "id", "calendar/2023-2026", "at",
                                             "2022-12-20T09:00:00+08:00", "body", "calendar",
                                             doc)) == TZ_OK, "%s", W.msg);
}

/* Grants a key named name the roles (a JSON array's inside: "\"a\",\"b\"")
 * over scope, signed by the root. */
static void grant_roles(const char *name, const char *roles, const char *scope)
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
    OK("root", "key.grant", id, "2021-01-01",
       "{\"key\":\"%s\",\"holder\":\"%s\",\"roles\":[%s],\"scope\":\"%s\"}", vkey, name, roles,
       scope);
}

static void grant(const char *name, const char *role, const char *scope)
{
    char roles[64];
    snprintf(roles, sizeof roles, "\"%s\"", role);
    grant_roles(name, roles, scope);
}

/* The county, under profile (adopted effective 2021-09-01). */
static void world_up(const char *profile)
{
    memset(&W, 0, sizeof W);
    tz_fixture_init(&W.f);
    tz_err e;
    ck_assert_msg(tz_ledger_open(&W.l, W.f.db, 0, NULL, &e) == TZ_OK, "%s", e.msg);
    W.profile = profile;
    for (size_t i = 0; i < sizeof offices / sizeof offices[0]; i++)
        grant(offices[i][0], offices[i][1], offices[i][2]);
    for (size_t i = 0; i < sizeof people / sizeof people[0]; i++) {
        char name[40], scope[48];
        snprintf(name, sizeof name, "c-%s", people[i][0]);
        snprintf(scope, sizeof scope, "person:%s", people[i][0]);
        grant(name, "cadre", scope);
    }
    adopt_profile(profile, "2021-09-01", "policy/1");
    adopt_calendar();
    OK("county", "org.unit", "unit/u1", "2021-10-01",
       "{\"unit\":\"u1\",\"name\":\"县财政局\",\"level\":\"county\",\"staff\":35,\"county\":\"sq\"}");
    OK("county", "org.unit", "unit/u2", "2021-10-01",
       "{\"unit\":\"u2\",\"name\":\"县交通局\",\"level\":\"county\",\"staff\":18,\"county\":\"sq\"}");
    const char *villages[][3] = {{"v1", "cg", "poverty"}, {"v2", "cg", "relocation"},
                                 {"v3", "hb", "ordinary"}};
    for (size_t i = 0; i < 3; i++) {
        char id[32];
        snprintf(id, sizeof id, "village/%s", villages[i][0]);
        OK("county", "org.village", id, "2021-10-01",
           "{\"village\":\"%s\",\"name\":\"村%zu\",\"township\":\"%s\",\"county\":\"sq\","
           "\"city\":\"ak\",\"province\":\"sx\",\"category\":\"%s\"}", villages[i][0], i,
           villages[i][1], villages[i][2]);
    }
    for (size_t i = 0; i < sizeof people / sizeof people[0]; i++) {
        char id[32];
        snprintf(id, sizeof id, "person/%s", people[i][0]);
        OK("county", "person.register", id, "2023-12-01",
           "{\"person\":\"%s\",\"name\":\"干部%zu\",\"unit\":\"%s\",\"party_member_since\":%s,"
           "\"employment\":\"%s\",\"rank\":\"%s\"}", people[i][0], i, people[i][4], people[i][1],
           people[i][2], people[i][3]);
    }
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

/* Dispatches person to village in role, approved in one entry by keys. */
static void dispatch(const char *keys, const char *person, const char *unit, const char *village,
                     const char *role, const char *start, const char *end)
{
    char id[64];
    snprintf(id, sizeof id, "dispatch/%s/%s", person, start);
    OK(keys, "dispatch", id, start,
       "{\"person\":\"%s\",\"village\":\"%s\",\"unit\":\"%s\",\"role\":\"%s\",\"start\":\"%s\","
       "\"planned_end\":\"%s\"}", person, village, unit, role, start, end);
}

/* A month of codes: P for every day of the month up to ndays, then the tail. */
static const char *month_codes(char *out, int ndays, const char *overrides)
{
    for (int i = 0; i < ndays; i++)
        out[i] = 'P';
    out[ndays] = '\0';
    for (const char *p = overrides; p && *p;) { /* "5L,6L,7A" */
        int day = atoi(p);
        const char *c = p;
        while (*c >= '0' && *c <= '9')
            c++;
        out[day - 1] = *c;
        p = strchr(c, ',');
        if (p)
            p++;
    }
    return out;
}

/* ---- registries, keys and scopes ------------------------------------------ */

START_TEST(test_registry_references)
{
    world_up("shiquan-2021");
    REJECT(TZ_ERR_RULE, "body.person: no person \"ghost\" is registered", "county", "dispatch",
           NULL, "2024-01-02", "{\"person\":\"ghost\",\"village\":\"v1\",\"unit\":\"u1\",\"role\":"
           "\"first_secretary\",\"start\":\"2024-01-02\",\"planned_end\":\"2026-01-01\"}");
    REJECT(TZ_ERR_RULE, "body.unit: no unit \"u9\" is registered", "county", "person.register",
           NULL, "2024-01-02", "{\"person\":\"x\",\"name\":\"某\",\"unit\":\"u9\","
           "\"party_member_since\":null,\"employment\":\"permanent\",\"rank\":\"staff\"}");
    OK("county", "registry.retire", NULL, "2024-01-03",
       "{\"kind\":\"village\",\"ref\":\"v2\",\"reason\":\"merged into v1\"}");
    REJECT(TZ_ERR_RULE, "village \"v2\" was retired at seq", "county", "dispatch", NULL,
           "2024-01-04", "{\"person\":\"fs1\",\"village\":\"v2\",\"unit\":\"u1\",\"role\":"
           "\"first_secretary\",\"start\":\"2024-01-04\",\"planned_end\":\"2026-01-03\"}");
    REJECT(TZ_ERR_RULE, "a retired id is never registered again", "county", "org.village", NULL,
           "2024-01-05", "{\"village\":\"v2\",\"name\":\"x\",\"township\":\"cg\",\"county\":"
           "\"sq\",\"category\":\"ordinary\"}");
    /* registries need the county org dept of that county, or an administrator */
    REJECT(TZ_ERR_FORBIDDEN, "org.village: needs a root or authority key or the county org dept",
           "tsec-cg", "org.village", NULL, "2024-01-05", "{\"village\":\"v9\",\"name\":\"x\","
           "\"township\":\"cg\",\"county\":\"sq\",\"category\":\"ordinary\"}");
    REJECT(TZ_ERR_FORBIDDEN, "key county-other holds county org dept (county:other)",
           "county-other", "org.village", NULL, "2024-01-05", "{\"village\":\"v9\",\"name\":\"x\","
           "\"township\":\"cg\",\"county\":\"sq\",\"category\":\"ordinary\"}");
    REJECT(TZ_ERR_INPUT, "body.category: \"city\" is not one of", "county", "org.village", NULL,
           "2024-01-05", "{\"village\":\"v9\",\"name\":\"x\",\"township\":\"cg\",\"county\":\"sq\","
           "\"category\":\"city\"}");
    /* an amendment keeps the record's history */
    OK("county", "org.village", NULL, "2024-01-06", "{\"village\":\"v1\",\"name\":\"新名\","
       "\"township\":\"cg\",\"county\":\"sq\",\"city\":\"ak\",\"province\":\"sx\",\"category\":"
       "\"demonstration\"}");
    json_t *v = state("village", "v1", NULL);
    ck_assert_str_eq(json_string_value(json_object_get(v, "category")), "demonstration");
    ck_assert_int_lt(json_integer_value(json_object_get(v, "registered_seq")),
                     json_integer_value(json_object_get(v, "seq")));
    json_decref(v);
    world_down();
}
END_TEST

START_TEST(test_scope_grammar)
{
    world_up("shiquan-2021");
    char vkey[TZ_KEY_STRING_MAX];
    tz_fixture_vkey(vkey, &W.f.stranger);
    REJECT(TZ_ERR_INPUT, "body.scope: must be \"*\" or KIND:ID", "root", "key.grant", NULL,
           "2024-01-01", "{\"key\":\"%s\",\"holder\":\"x\",\"roles\":[\"inspector\"],"
           "\"scope\":\"the whole county\"}", vkey);
    REJECT(TZ_ERR_INPUT, "body.scope: the id after \"village:\"", "root", "key.grant", NULL,
           "2024-01-01", "{\"key\":\"%s\",\"holder\":\"x\",\"roles\":[\"inspector\"],"
           "\"scope\":\"village:a b\"}", vkey);
    /* root and authority keys administer; they never act as an office */
    REJECT(TZ_ERR_FORBIDDEN, "key root holds root", "root", "dispatch", NULL, "2024-01-02",
           "{\"person\":\"fs1\",\"village\":\"v1\",\"unit\":\"u1\",\"role\":\"first_secretary\","
           "\"start\":\"2024-01-02\",\"planned_end\":\"2026-01-01\"}");
    world_down();
}
END_TEST

/* ---- dispatch (选派) ------------------------------------------------------- */

START_TEST(test_dispatch_shiquan)
{
    world_up("shiquan-2021");
    dispatch("county", "fs1", "u1", "v1", "first_secretary", "2024-01-02", "2026-01-01");
    REC_IS("dispatch/fs1/2024-01-02", "status", "active");
    /* the unit proposes (推荐), the county org dept approves by cosign (§7) */
    OK("unit-u2", "dispatch", "d/fs2", "2024-01-02", "{\"person\":\"fs2\",\"village\":\"v2\","
       "\"unit\":\"u2\",\"role\":\"first_secretary\",\"start\":\"2024-01-02\","
       "\"planned_end\":\"2026-01-01\"}");
    REC_IS("d/fs2", "status", "pending");
    ck_assert_int_eq(cosign("county", W.seq, "2024-01-03"), TZ_OK);
    REC_IS("d/fs2", "status", "active");
    /* another unit may not propose someone else's cadre */
    REJECT(TZ_ERR_FORBIDDEN, "a first secretary needs county org dept approval (shiquan-2021 §7); "
           "key unit-u2 holds dispatching unit (unit:u2)", "unit-u2", "dispatch", NULL,
           "2024-01-02", "{\"person\":\"fs3\",\"village\":\"v3\",\"unit\":\"u1\",\"role\":"
           "\"first_secretary\",\"start\":\"2024-01-02\",\"planned_end\":\"2026-01-01\"}");
    /* team members are approved by the rural revitalisation bureau (§7) */
    REJECT(TZ_ERR_FORBIDDEN, "dispatch: a team member needs rural revitalisation bureau approval "
           "(shiquan-2021 §7); key county holds county org dept (county:sq)", "county", "dispatch",
           NULL, "2024-01-02", "{\"person\":\"tm1\",\"village\":\"v1\",\"unit\":\"u1\",\"role\":"
           "\"team_member\",\"start\":\"2024-01-02\",\"planned_end\":\"2026-01-01\"}");
    dispatch("bureau", "tm1", "u1", "v1", "team_member", "2024-01-02", "2026-01-01");
    /* one person, one active dispatch */
    REJECT(TZ_ERR_RULE, "fs1 already holds dispatch dispatch/fs1/2024-01-02", "county", "dispatch",
           NULL, "2024-02-01", "{\"person\":\"fs1\",\"village\":\"v3\",\"unit\":\"u1\",\"role\":"
           "\"first_secretary\",\"start\":\"2024-02-01\",\"planned_end\":\"2026-02-01\"}");
    /* §5: a full party member of at least one year */
    REJECT(TZ_ERR_RULE, "needs at least 1 year(s) of party membership at the start; new joined "
           "2023-06-01, start 2024-01-02 (shiquan-2021 §5)", "county", "dispatch", NULL,
           "2024-01-02", "{\"person\":\"new\",\"village\":\"v2\",\"unit\":\"u1\",\"role\":"
           "\"first_secretary\",\"start\":\"2024-01-02\",\"planned_end\":\"2026-01-01\"}");
    dispatch("county", "new", "u1", "v2", "first_secretary", "2024-06-01", "2026-06-01");
    REJECT(TZ_ERR_RULE, "must be a full party member (正式党员); nonparty is not (shiquan-2021 §5)",
           "county", "dispatch", NULL, "2024-01-02", "{\"person\":\"nonparty\",\"village\":\"v3\","
           "\"unit\":\"u1\",\"role\":\"first_secretary\",\"start\":\"2024-01-02\",\"planned_end\":"
           "\"2026-01-01\"}");
    /* §5: never temporary, seconded or service staff, for any role */
    REJECT(TZ_ERR_RULE, "temp is temporary staff; a first secretary is never chosen from "
           "temporary, seconded or service staff (shiquan-2021 §5)", "county", "dispatch", NULL,
           "2024-01-02", "{\"person\":\"temp\",\"village\":\"v3\",\"unit\":\"u1\",\"role\":"
           "\"first_secretary\",\"start\":\"2024-01-02\",\"planned_end\":\"2026-01-01\"}");
    REJECT(TZ_ERR_RULE, "loan is seconded staff; a team member is never chosen", "bureau",
           "dispatch", NULL, "2024-01-02", "{\"person\":\"loan\",\"village\":\"v3\",\"unit\":"
           "\"u2\",\"role\":\"team_member\",\"start\":\"2024-01-02\",\"planned_end\":"
           "\"2026-01-01\"}");
    /* §11: a term of at least two years */
    REJECT(TZ_ERR_RULE, "a term of 2024-01-02..2025-12-31 is shorter than 2 years (shiquan-2021 "
           "§11)", "county", "dispatch", NULL, "2024-01-02", "{\"person\":\"fs3\",\"village\":"
           "\"v3\",\"unit\":\"u1\",\"role\":\"first_secretary\",\"start\":\"2024-01-02\","
           "\"planned_end\":\"2025-12-31\"}");
    /* the cadre comes from their own unit, and scopes bind */
    REJECT(TZ_ERR_RULE, "body.unit: fs3 belongs to unit u1, not u2", "county", "dispatch", NULL,
           "2024-01-02", "{\"person\":\"fs3\",\"village\":\"v3\",\"unit\":\"u2\",\"role\":"
           "\"first_secretary\",\"start\":\"2024-01-02\",\"planned_end\":\"2026-01-01\"}");
    REJECT(TZ_ERR_FORBIDDEN, "key county-other holds county org dept (county:other)",
           "county-other", "dispatch", NULL, "2024-01-02", "{\"person\":\"fs3\",\"village\":\"v3\","
           "\"unit\":\"u1\",\"role\":\"first_secretary\",\"start\":\"2024-01-02\",\"planned_end\":"
           "\"2026-01-01\"}");
    REJECT(TZ_ERR_RULE, "shiquan-2021 sets no procedure for dispatching a township liaison",
           "county", "dispatch", NULL, "2024-01-02", "{\"person\":\"fs3\",\"village\":\"v3\","
           "\"unit\":\"u1\",\"role\":\"township_liaison\",\"start\":\"2024-01-02\",\"planned_end\":"
           "\"2026-01-01\"}");
    world_down();
}
END_TEST

START_TEST(test_dispatch_chain_guizhou)
{
    world_up("guizhou-2018");
    /* 3.3.1 a): unit -> county org dept -> county party secretary -> city party secretary */
    OK("unit-u1,county", "dispatch", "d/fs1", "2024-01-02", "{\"person\":\"fs1\",\"village\":"
       "\"v1\",\"unit\":\"u1\",\"role\":\"first_secretary\",\"start\":\"2024-01-02\","
       "\"planned_end\":\"2026-01-01\"}");
    uint64_t dseq = W.seq;
    REC_IS("d/fs1", "status", "pending");
    /* a pending dispatch does not station anyone */
    REJECT(TZ_ERR_RULE, "fs1 holds no active dispatch", "c-fs1", "leave.request", NULL,
           "2024-01-03", "{\"person\":\"fs1\",\"from\":\"2024-02-01\",\"to\":\"2024-02-01\","
           "\"reason\":\"x\"}");
    ck_assert_int_eq(cosign("tsec-cg", dseq, "2024-01-03"), TZ_ERR_FORBIDDEN);
    ck_assert_msg(strstr(W.msg, "awaits county party secretary, city party secretary of v1"),
                  "%s", W.msg);
    ck_assert_int_eq(cosign("countysec", dseq, "2024-01-04"), TZ_OK);
    REC_IS("d/fs1", "status", "pending");
    ck_assert_int_eq(cosign("citysec", dseq, "2024-01-05"), TZ_OK);
    REC_IS("d/fs1", "status", "active");
    ck_assert_int_eq(cosign("city", dseq, "2024-01-06"), TZ_ERR_RULE);
    ck_assert_msg(strstr(W.msg, "is complete and awaits no signature"), "%s", W.msg);
    /* 3.2.2: a section- or division-level cadre or reserve, and a party member */
    REJECT(TZ_ERR_RULE, "must be a division- or section-level cadre or reserve; clerk has rank "
           "staff (guizhou-2018 3.2.1, 3.2.2)", "unit-u2,county,countysec,citysec", "dispatch", NULL,
           "2024-01-02", "{\"person\":\"clerk\",\"village\":\"v2\",\"unit\":\"u2\",\"role\":"
           "\"first_secretary\",\"start\":\"2024-01-02\",\"planned_end\":\"2026-01-01\"}");
    REJECT(TZ_ERR_RULE, "nonparty is not (guizhou-2018 3.2.1, 3.2.2)", "unit-u1,county", "dispatch",
           NULL, "2024-01-02", "{\"person\":\"nonparty\",\"village\":\"v2\",\"unit\":\"u1\","
           "\"role\":\"first_secretary\",\"start\":\"2024-01-02\",\"planned_end\":\"2026-01-01\"}");
    /* no minimum term in guizhou-2018: one year is accepted; all four sign at once */
    OK("unit-u2,county,countysec,citysec", "dispatch", "d/fs2", "2024-01-02", "{\"person\":"
       "\"fs2\",\"village\":\"v2\",\"unit\":\"u2\",\"role\":\"first_secretary\",\"start\":"
       "\"2024-01-02\",\"planned_end\":\"2025-01-01\"}");
    REC_IS("d/fs2", "status", "active");
    world_down();
}
END_TEST

START_TEST(test_dispatch_terms_guyuan_daan)
{
    world_up("guyuan-2018");
    REJECT(TZ_ERR_RULE, "is shorter than 2 years (guyuan-2018", "county", "dispatch", NULL,
           "2024-01-02", "{\"person\":\"fs1\",\"village\":\"v1\",\"unit\":\"u1\",\"role\":"
           "\"first_secretary\",\"start\":\"2024-01-02\",\"planned_end\":\"2025-06-30\"}");
    dispatch("county", "fs1", "u1", "v1", "first_secretary", "2024-01-02", "2026-01-01");
    /* guyuan-2018: the township sends its liaison (包村干部) */
    dispatch("tcom-cg", "tm2", "u2", "v1", "township_liaison", "2024-01-02", "2026-01-01");
    world_down();
    world_up("daan-2017");
    REJECT(TZ_ERR_RULE, "is shorter than 2 years (daan-2017", "county", "dispatch", NULL,
           "2024-01-02", "{\"person\":\"fs1\",\"village\":\"v1\",\"unit\":\"u1\",\"role\":"
           "\"first_secretary\",\"start\":\"2024-01-02\",\"planned_end\":\"2025-06-30\"}");
    REJECT(TZ_ERR_RULE, "nonparty is not (daan-2017", "county", "dispatch", NULL, "2024-01-02",
           "{\"person\":\"nonparty\",\"village\":\"v1\",\"unit\":\"u1\",\"role\":"
           "\"first_secretary\",\"start\":\"2024-01-02\",\"planned_end\":\"2026-01-01\"}");
    world_down();
}
END_TEST

/* ---- attendance (考勤) ----------------------------------------------------- */

static uint64_t sim_now;
static uint64_t sim_clock(void *ctx)
{
    (void)ctx;
    return sim_now;
}

/* Micros of date at 12:00 China time. */
static uint64_t noon(const char *date)
{
    int64_t d;
    ck_assert(tz_time_parse_date(date, 10, "d", &d, NULL) == TZ_OK);
    return (uint64_t)(d * 86400 + 4 * 3600) * 1000000u;
}

START_TEST(test_attendance_double_signature)
{
    world_up("shiquan-2021");
    dispatch("county", "fs1", "u1", "v1", "first_secretary", "2024-01-02", "2026-01-01");
    char days[40];
    /* January 2024: day 1 is before the dispatch, so it must be '-' */
    REJECT(TZ_ERR_RULE, "day 1 (2024-01-01) is coded 'P' but fs1 was not stationed that day",
           "tsec-cg", "attendance", NULL, "2024-02-01", "{\"person\":\"fs1\",\"month\":"
           "\"2024-01\",\"days\":\"%s\"}", month_codes(days, 31, NULL));
    month_codes(days, 31, "1-");
    /* one secretary alone does not complete the sheet (双签字, §13(1)) */
    OK("tsec-cg", "attendance", "att/fs1/2024-01", "2024-02-01",
       "{\"person\":\"fs1\",\"month\":\"2024-01\",\"days\":\"%s\"}", days);
    uint64_t seq = W.seq;
    REC_IS("att/fs1/2024-01", "status", "pending");
    /* the secretary of another village cannot be the second signature */
    ck_assert_int_eq(cosign("vsec-v2", seq, "2024-02-02"), TZ_ERR_FORBIDDEN);
    ck_assert_msg(strstr(W.msg, "awaits village party secretary of v1; key vsec-v2 holds village "
                             "party secretary (village:v2)"), "%s", W.msg);
    ck_assert_int_eq(cosign("vsec-v1", seq, "2024-02-02"), TZ_OK);
    REC_IS("att/fs1/2024-01", "status", "complete");
    /* one sheet per cadre and month */
    REJECT(TZ_ERR_RULE, "the sheet of fs1 for 2024-01 is already entry att/fs1/2024-01",
           "tsec-cg,vsec-v1", "attendance", NULL, "2024-02-03", "{\"person\":\"fs1\",\"month\":"
           "\"2024-01\",\"days\":\"%s\"}", days);
    /* a sheet cannot attest days that have not passed */
    REJECT(TZ_ERR_RULE, "day 21 (2024-02-21) is after the sheet's date 2024-02-20",
           "tsec-cg,vsec-v1", "attendance", NULL, "2024-02-20", "{\"person\":\"fs1\",\"month\":"
           "\"2024-02\",\"days\":\"%s\"}", month_codes(days, 29, NULL));
    /* L needs approved leave */
    REJECT(TZ_ERR_RULE, "day 5 (2024-02-05) is coded L (approved leave) but no approved leave of "
           "fs1 covers it", "tsec-cg,vsec-v1", "attendance", NULL, "2024-03-01", "{\"person\":"
           "\"fs1\",\"month\":\"2024-02\",\"days\":\"%s\"}", month_codes(days, 29, "5L"));
    REJECT(TZ_ERR_INPUT, "body.days: 2024-02 has 29 days, the sheet has 28 codes",
           "tsec-cg,vsec-v1", "attendance", NULL, "2024-03-01", "{\"person\":\"fs1\",\"month\":"
           "\"2024-02\",\"days\":\"%s\"}", month_codes(days, 28, NULL));
    REJECT(TZ_ERR_INPUT, "body.days: day 3 has code 'X'", "tsec-cg,vsec-v1", "attendance", NULL,
           "2024-03-01", "{\"person\":\"fs1\",\"month\":\"2024-02\",\"days\":\"%s\"}",
           month_codes(days, 29, "3X"));
    /* a stranger to the village signs nothing */
    REJECT(TZ_ERR_FORBIDDEN, "attendance: a sheet is signed by township party secretary or village "
           "party secretary approval (shiquan-2021 §13(1))", "tsec-hb", "attendance", NULL,
           "2024-03-01", "{\"person\":\"fs1\",\"month\":\"2024-02\",\"days\":\"%s\"}",
           month_codes(days, 29, NULL));
    world_down();
}
END_TEST

START_TEST(test_attendance_one_key_two_roles)
{
    /* 双签字 (shiquan-2021 §13(1): 镇、村两级书记双签字) is two signatures by
     * two people. A key granted both secretaries' roles over township cg
     * holds both offices for v1, yet it is one signer: it meets one item of
     * the sheet, and the village party secretary must still sign. */
    world_up("shiquan-2021");
    grant_roles("both-cg", "\"township_party_secretary\",\"village_party_secretary\"",
                "township:cg");
    dispatch("county", "fs1", "u1", "v1", "first_secretary", "2024-01-02", "2026-01-01");
    char days[40];
    OK("both-cg", "attendance", "att/fs1/2024-02", "2024-03-01",
       "{\"person\":\"fs1\",\"month\":\"2024-02\",\"days\":\"%s\"}", month_codes(days, 29, NULL));
    uint64_t seq = W.seq;
    REC_IS("att/fs1/2024-02", "status", "pending");
    json_t *rec = state("rec", "att/fs1/2024-02", NULL);
    ck_assert_ptr_nonnull(rec);
    ck_assert_uint_eq(json_array_size(json_object_get(rec, "need")), 1);
    ck_assert_uint_eq(json_array_size(json_object_get(rec, "signed")), 1);
    json_decref(rec);
    /* nor can it supply the second signature by cosign */
    ck_assert_int_eq(cosign("both-cg", seq, "2024-03-02"), TZ_ERR_RULE);
    ck_assert_msg(strstr(W.msg, "cosign: key both-cg already signed entry"), "%s", W.msg);
    REC_IS("att/fs1/2024-02", "status", "pending");
    ck_assert_int_eq(cosign("vsec-v1", seq, "2024-03-02"), TZ_OK);
    REC_IS("att/fs1/2024-02", "status", "complete");
    /* with the village secretary in the same entry, in either order, the
     * two keys meet the two items at once */
    OK("both-cg,vsec-v1", "attendance", "att/fs1/2024-03", "2024-04-01",
       "{\"person\":\"fs1\",\"month\":\"2024-03\",\"days\":\"%s\"}", month_codes(days, 31, NULL));
    REC_IS("att/fs1/2024-03", "status", "complete");
    OK("vsec-v1,both-cg", "attendance", "att/fs1/2024-04", "2024-05-01",
       "{\"person\":\"fs1\",\"month\":\"2024-04\",\"days\":\"%s\"}", month_codes(days, 30, NULL));
    REC_IS("att/fs1/2024-04", "status", "complete");
    world_down();
}
END_TEST

START_TEST(test_attendance_late_by_server_clock)
{
    /* the whole ledger runs on a simulated clock, so recorded_at follows the story */
    sim_now = noon("2024-02-01");
    tz_time_set_clock(sim_clock, NULL);
    world_up("shiquan-2021");
    dispatch("county", "fs1", "u1", "v1", "first_secretary", "2024-01-02", "2026-01-01");
    char days[40];
    month_codes(days, 29, NULL);
    /* recorded on 2024-03-20: before the 28th of the next month */
    sim_now = noon("2024-03-20");
    OK("tsec-cg,vsec-v1", "attendance", "att/feb", "2024-03-01", "{\"person\":\"fs1\",\"month\":"
       "\"2024-02\",\"days\":\"%s\"}", days);
    REC_IS("att/feb", "late", "false");
    REC_IS("att/feb", "due", "2024-03-28");
    /* March: the village secretary's cosign arrives on 2024-05-02, after 04-28.
     * The statements claim early dates; the server's clock decides. */
    month_codes(days, 31, NULL);
    sim_now = noon("2024-04-01");
    OK("tsec-cg", "attendance", "att/mar", "2024-04-01", "{\"person\":\"fs1\",\"month\":"
       "\"2024-03\",\"days\":\"%s\"}", days);
    uint64_t seq = W.seq;
    sim_now = noon("2024-05-02");
    ck_assert_int_eq(cosign("vsec-v1", seq, "2024-04-20"), TZ_OK);
    tz_time_set_clock(NULL, NULL);
    REC_IS("att/mar", "late", "true");
    REC_IS("att/mar", "completed", "2024-05-02");
    world_down();
}
END_TEST


START_TEST(test_attendance_rest_days_and_spot_checks)
{
    world_up("shiquan-2021");
    dispatch("county", "fs1", "u1", "v1", "first_secretary", "2024-01-02", "2026-01-01");
    char days[40];
    /* February 2024: the 10th (Saturday, 春节) may be a rest day, the 4th (Sunday, 调休) may not */
    REJECT(TZ_ERR_RULE, "day 4 (2024-02-04) is coded R (rest day) but it is a working day in the "
           "adopted calendar", "tsec-cg,vsec-v1", "attendance", NULL, "2024-03-01",
           "{\"person\":\"fs1\",\"month\":\"2024-02\",\"days\":\"%s\"}",
           month_codes(days, 29, "4R"));
    OK("tsec-cg,vsec-v1", "attendance", NULL, "2024-03-01", "{\"person\":\"fs1\",\"month\":"
       "\"2024-02\",\"days\":\"%s\"}", month_codes(days, 29, "10R,11R,12R,13R,14R,15R,16R,17R"));
    /* a sheet may not say "in the village" on a day a spot check found the cadre absent */
    OK("insp", "spot_check", "spot/1", "2024-03-12", "{\"person\":\"fs1\",\"date\":"
       "\"2024-03-12\",\"result\":\"absent\"}");
    REJECT(TZ_ERR_RULE, "day 12 (2024-03-12) is coded 'P' but spot check spot/1 found fs1 absent "
           "without reason that day; code it A", "tsec-cg,vsec-v1", "attendance", NULL,
           "2024-04-01", "{\"person\":\"fs1\",\"month\":\"2024-03\",\"days\":\"%s\"}",
           month_codes(days, 31, NULL));
    OK("tsec-cg,vsec-v1", "attendance", NULL, "2024-04-01", "{\"person\":\"fs1\",\"month\":"
       "\"2024-03\",\"days\":\"%s\"}", month_codes(days, 31, "12A"));
    world_down();
}
END_TEST

/* ---- spot checks (抽查) ----------------------------------------------------- */

START_TEST(test_spot_check)
{
    world_up("shiquan-2021");
    dispatch("county", "fs1", "u1", "v1", "first_secretary", "2024-01-02", "2026-01-01");
    OK("insp", "spot_check", NULL, "2024-03-05", "{\"person\":\"fs1\",\"date\":\"2024-03-05\","
       "\"result\":\"absent\"}");
    OK("tcom-cg", "spot_check", NULL, "2024-04-05", "{\"person\":\"fs1\",\"date\":\"2024-04-05\","
       "\"result\":\"present\"}");
    REJECT(TZ_ERR_FORBIDDEN, "spot_check: needs", "vsec-v1", "spot_check", NULL, "2024-04-06",
           "{\"person\":\"fs1\",\"date\":\"2024-04-06\",\"result\":\"absent\"}");
    REJECT(TZ_ERR_FORBIDDEN, "key tcom-hb holds township party committee (township:hb)",
           "tcom-hb", "spot_check", NULL, "2024-04-06", "{\"person\":\"fs1\",\"date\":"
           "\"2024-04-06\",\"result\":\"absent\"}");
    REJECT(TZ_ERR_RULE, "fs1 was already checked on 2024-04-05", "insp", "spot_check", NULL,
           "2024-04-06", "{\"person\":\"fs1\",\"date\":\"2024-04-05\",\"result\":\"absent\"}");
    REJECT(TZ_ERR_RULE, "tm1 was not stationed on 2024-04-05", "insp", "spot_check", NULL,
           "2024-04-06", "{\"person\":\"tm1\",\"date\":\"2024-04-05\",\"result\":\"absent\"}");
    REJECT(TZ_ERR_RULE, "body.date: 2024-04-09 is after the statement's date 2024-04-08", "insp",
           "spot_check", NULL, "2024-04-08", "{\"person\":\"fs1\",\"date\":\"2024-04-09\","
           "\"result\":\"absent\"}");
    /* found away while on approved leave is not absence without reason */
    OK("c-fs1", "leave.request", "leave/1", "2024-05-01", "{\"person\":\"fs1\",\"from\":"
       "\"2024-05-06\",\"to\":\"2024-05-08\",\"reason\":\"家事\"}");
    OK("tcom-cg", "leave.approve", NULL, "2024-05-02", "{\"request\":\"leave/1\",\"decision\":"
       "\"approved\"}");
    REJECT(TZ_ERR_RULE, "fs1 was on approved leave leave/1 on 2024-05-07", "insp", "spot_check",
           NULL, "2024-05-07", "{\"person\":\"fs1\",\"date\":\"2024-05-07\",\"result\":\"absent\"}");
    json_t *a = state("absent", "fs1", "2024");
    ck_assert_int_eq(json_integer_value(json_object_get(a, "count")), 1);
    json_decref(a);
    world_down();
}
END_TEST

/* ---- leave (请销假) -------------------------------------------------------- */

START_TEST(test_leave_tiers_shiquan)
{
    world_up("shiquan-2021");
    dispatch("county", "fs1", "u1", "v1", "first_secretary", "2024-01-02", "2026-01-01");
    dispatch("bureau", "tm1", "u1", "v1", "team_member", "2024-01-02", "2026-01-01");
    /* ≤5 days: the township party committee */
    OK("c-fs1", "leave.request", "l/5", "2024-03-01", "{\"person\":\"fs1\",\"from\":"
       "\"2024-03-04\",\"to\":\"2024-03-08\",\"reason\":\"探亲\"}");
    OK("tcom-cg", "leave.approve", NULL, "2024-03-02", "{\"request\":\"l/5\",\"decision\":"
       "\"approved\"}");
    /* 6–10 days of a first secretary: the county org dept (the example message) */
    OK("c-fs1", "leave.request", "l/8", "2024-04-01", "{\"person\":\"fs1\",\"from\":"
       "\"2024-04-08\",\"to\":\"2024-04-15\",\"reason\":\"住院\"}");
    REJECT(TZ_ERR_FORBIDDEN, "leave.approve: 8 consecutive days for a first secretary needs county "
           "org dept approval (shiquan-2021 §13(2)); key tcom-cg holds township party committee "
           "(township:cg)", "tcom-cg", "leave.approve", NULL, "2024-04-02",
           "{\"request\":\"l/8\",\"decision\":\"approved\"}");
    OK("county", "leave.approve", NULL, "2024-04-02", "{\"request\":\"l/8\",\"decision\":"
       "\"approved\"}");
    REJECT(TZ_ERR_RULE, "leave.approve: leave l/8 is already approved", "county", "leave.approve",
           NULL, "2024-04-03", "{\"request\":\"l/8\",\"decision\":\"refused\"}");
    /* 6–10 days of a team member: the rural revitalisation bureau */
    OK("c-tm1", "leave.request", "l/tm", "2024-04-01", "{\"person\":\"tm1\",\"from\":"
       "\"2024-04-08\",\"to\":\"2024-04-15\",\"reason\":\"x\"}");
    REJECT(TZ_ERR_FORBIDDEN, "8 consecutive days for a team member needs rural revitalisation "
           "bureau approval (shiquan-2021 §13(2))", "county", "leave.approve", NULL, "2024-04-02",
           "{\"request\":\"l/tm\",\"decision\":\"approved\"}");
    OK("bureau", "leave.approve", NULL, "2024-04-02", "{\"request\":\"l/tm\",\"decision\":"
       "\"refused\"}");
    /* >10 days: the dispatching unit applies, the county org dept approves */
    REJECT(TZ_ERR_FORBIDDEN, "12 consecutive days for a first secretary is applied for by the "
           "dispatching unit approval (shiquan-2021 §13(2))", "c-fs1", "leave.request", NULL,
           "2024-06-01", "{\"person\":\"fs1\",\"from\":\"2024-06-03\",\"to\":\"2024-06-14\","
           "\"reason\":\"x\"}");
    OK("unit-u1", "leave.request", "l/12", "2024-06-01", "{\"person\":\"fs1\",\"from\":"
       "\"2024-06-03\",\"to\":\"2024-06-14\",\"reason\":\"x\"}");
    OK("county", "leave.approve", NULL, "2024-06-02", "{\"request\":\"l/12\",\"decision\":"
       "\"approved\"}");
    /* overlapping leave; leave requested after it began; approval after it ended */
    REJECT(TZ_ERR_RULE, "leave.request: overlaps leave l/12 of fs1 (2024-06-03..2024-06-14, "
           "approved)", "c-fs1", "leave.request", NULL, "2024-06-01", "{\"person\":\"fs1\","
           "\"from\":\"2024-06-14\",\"to\":\"2024-06-15\",\"reason\":\"x\"}");
    REJECT(TZ_ERR_RULE, "requested on 2024-07-05 for leave from 2024-07-01; leave is requested "
           "before it starts", "c-fs1", "leave.request", NULL, "2024-07-05", "{\"person\":\"fs1\","
           "\"from\":\"2024-07-01\",\"to\":\"2024-07-02\",\"reason\":\"x\"}");
    OK("c-fs1", "leave.request", "l/late", "2024-07-05", "{\"person\":\"fs1\",\"from\":"
       "\"2024-07-08\",\"to\":\"2024-07-09\",\"reason\":\"x\"}");
    REJECT(TZ_ERR_RULE, "dated 2024-07-10, after the leave ended (2024-07-09)", "tcom-cg",
           "leave.approve", NULL, "2024-07-10", "{\"request\":\"l/late\",\"decision\":"
           "\"approved\"}");
    /* leave outside the dispatch */
    REJECT(TZ_ERR_RULE, "is outside dispatch dispatch/fs1/2024-01-02", "c-fs1", "leave.request",
           NULL, "2025-12-20", "{\"person\":\"fs1\",\"from\":\"2025-12-30\",\"to\":\"2026-01-03\","
           "\"reason\":\"x\"}");
    /* 销假: return early frees the rest; the sheet's L days must match */
    OK("c-fs1", "leave.return", NULL, "2024-06-10", "{\"request\":\"l/12\",\"date\":"
       "\"2024-06-10\"}");
    REC_IS("l/12", "status", "returned");
    char days[40];
    REJECT(TZ_ERR_RULE, "day 10 (2024-06-10) is coded L", "tsec-cg,vsec-v1", "attendance", NULL,
           "2024-07-01", "{\"person\":\"fs1\",\"month\":\"2024-06\",\"days\":\"%s\"}",
           month_codes(days, 30, "3L,4L,5L,6L,7L,8L,9L,10L"));
    OK("tsec-cg,vsec-v1", "attendance", NULL, "2024-07-01", "{\"person\":\"fs1\",\"month\":"
       "\"2024-06\",\"days\":\"%s\"}", month_codes(days, 30, "3L,4L,5L,6L,7L,8L,9L"));
    /* more than 30 consecutive days is marked: recall is required (§13(2)) */
    OK("unit-u1", "leave.request", "l/40", "2024-08-01", "{\"person\":\"fs1\",\"from\":"
       "\"2024-08-05\",\"to\":\"2024-09-13\",\"reason\":\"病\"}");
    REC_IS("l/40", "recall_required", "§13(2)");
    world_down();
}
END_TEST

START_TEST(test_leave_tiers_guizhou_and_none)
{
    world_up("guizhou-2018");
    OK("unit-u1,county,countysec,citysec", "dispatch", "d/fs1", "2024-01-02", "{\"person\":"
       "\"fs1\",\"village\":\"v1\",\"unit\":\"u1\",\"role\":\"first_secretary\",\"start\":"
       "\"2024-01-02\",\"planned_end\":\"2026-01-01\"}");
    /* 6.2: ≤2 days township party secretary; 3–10 county org dept; >10 city org dept */
    OK("c-fs1", "leave.request", "g/2", "2024-03-01", "{\"person\":\"fs1\",\"from\":"
       "\"2024-03-04\",\"to\":\"2024-03-05\",\"reason\":\"x\"}");
    OK("tsec-cg", "leave.approve", NULL, "2024-03-02", "{\"request\":\"g/2\",\"decision\":"
       "\"approved\"}");
    OK("c-fs1", "leave.request", "g/3", "2024-04-01", "{\"person\":\"fs1\",\"from\":"
       "\"2024-04-08\",\"to\":\"2024-04-10\",\"reason\":\"x\"}");
    REJECT(TZ_ERR_FORBIDDEN, "3 consecutive days for a first secretary needs county org dept "
           "approval (guizhou-2018 6.2); key tsec-cg holds township party secretary",
           "tsec-cg", "leave.approve", NULL, "2024-04-02", "{\"request\":\"g/3\",\"decision\":"
           "\"approved\"}");
    OK("county", "leave.approve", NULL, "2024-04-02", "{\"request\":\"g/3\",\"decision\":"
       "\"approved\"}");
    REC_IS("g/3", "copy_to", "city_org_dept");
    OK("c-fs1", "leave.request", "g/12", "2024-05-01", "{\"person\":\"fs1\",\"from\":"
       "\"2024-05-06\",\"to\":\"2024-05-17\",\"reason\":\"x\"}");
    REJECT(TZ_ERR_FORBIDDEN, "12 consecutive days for a first secretary needs city org dept "
           "approval (guizhou-2018 6.2)", "county", "leave.approve", NULL, "2024-05-02",
           "{\"request\":\"g/12\",\"decision\":\"approved\"}");
    OK("city", "leave.approve", NULL, "2024-05-02", "{\"request\":\"g/12\",\"decision\":"
       "\"approved\"}");
    world_down();
    /* guyuan-2018 leaves the leave procedure to the counties: no tier, no approval */
    world_up("guyuan-2018");
    dispatch("county", "fs1", "u1", "v1", "first_secretary", "2024-01-02", "2026-01-01");
    REJECT(TZ_ERR_RULE, "guyuan-2018 sets no approval tier for 3 days of leave of a first "
           "secretary", "c-fs1", "leave.request", NULL, "2024-03-01", "{\"person\":\"fs1\","
           "\"from\":\"2024-03-04\",\"to\":\"2024-03-06\",\"reason\":\"x\"}");
    world_down();
}
END_TEST

/* ---- handover (交接) and the working-day calendar ------------------------------ */

START_TEST(test_handover_working_days)
{
    world_up("shiquan-2021");
    dispatch("county", "fs1", "u1", "v1", "first_secretary", "2022-01-03", "2024-01-02");
    dispatch("county", "fs2", "u2", "v1", "first_secretary", "2024-01-29", "2026-01-28");
    OK("unit-u1", "handover.start", "h/1", "2024-02-01", "{\"village\":\"v1\",\"outgoing\":"
       "\"fs1\",\"incoming\":\"fs2\",\"start\":\"2024-02-01\"}");
    /* 2024-02-01..02-21 holds 12 working days: 春节 2024-02-10..17 is off, and
     * Sunday 02-04 and 02-18 are worked (调休). 15 are reached on 02-26. */
    REJECT(TZ_ERR_RULE, "handover.complete: 12 working days from 2024-02-01 to 2024-02-21; at "
           "least 15 are required, so 2024-02-26 is the earliest completion (shiquan-2021 §11)",
           "c-fs1,c-fs2,unit-u1", "handover.complete", NULL, "2024-02-21",
           "{\"handover\":\"h/1\",\"date\":\"2024-02-21\"}");
    /* the outgoing cadre may not simply leave */
    REJECT(TZ_ERR_RULE, "handover h/1 of fs1 is open", "county", "dispatch.end", NULL,
           "2024-02-22", "{\"person\":\"fs1\",\"dispatch\":\"dispatch/fs1/2022-01-03\","
           "\"date\":\"2024-02-22\"}");
    /* the three parties: outgoing, incoming, dispatching unit; the last by cosign */
    OK("c-fs1,c-fs2", "handover.complete", "hc/1", "2024-02-26",
       "{\"handover\":\"h/1\",\"date\":\"2024-02-26\"}");
    REC_IS("hc/1", "working_days", "15");
    REC_IS("hc/1", "status", "pending");
    REC_IS("dispatch/fs1/2022-01-03", "status", "active");
    ck_assert_int_eq(cosign("unit-u1", W.seq, "2024-02-27"), TZ_OK);
    REC_IS("hc/1", "status", "complete");
    REC_IS("h/1", "status", "complete");
    REC_IS("dispatch/fs1/2022-01-03", "status", "completed");
    REC_IS("dispatch/fs1/2022-01-03", "end", "2024-02-26");
    /* fs1 is free for a new dispatch now */
    dispatch("county", "fs1", "u1", "v3", "first_secretary", "2024-03-01", "2026-03-01");
    world_down();
}
END_TEST

START_TEST(test_handover_needs_calendar_and_profile)
{
    world_up("shiquan-2021");
    /* a handover that starts in 2022: no calendar adopted for 2022 */
    dispatch("county", "fs1", "u1", "v1", "first_secretary", "2021-10-04", "2023-10-04");
    dispatch("county", "fs2", "u2", "v1", "first_secretary", "2022-12-01", "2024-11-30");
    OK("unit-u1", "handover.start", "h/1", "2022-12-05", "{\"village\":\"v1\",\"outgoing\":"
       "\"fs1\",\"incoming\":\"fs2\",\"start\":\"2022-12-05\"}");
    REJECT(TZ_ERR_RULE, "calendar: no working-day calendar adopted for 2022", "c-fs1,c-fs2,unit-u1",
           "handover.complete", NULL, "2023-01-10", "{\"handover\":\"h/1\",\"date\":"
           "\"2023-01-10\"}");
    REJECT(TZ_ERR_RULE, "both cadres must be stationed in v2", "unit-u1", "handover.start", NULL,
           "2022-12-05", "{\"village\":\"v2\",\"outgoing\":\"fs1\",\"incoming\":\"fs2\","
           "\"start\":\"2022-12-05\"}");
    world_down();
    world_up("guizhou-2018");
    REJECT(TZ_ERR_RULE, "guizhou-2018 sets no handover procedure", "unit-u1", "handover.start",
           NULL, "2024-02-01", "{\"village\":\"v1\",\"outgoing\":\"fs1\",\"incoming\":\"fs2\","
           "\"start\":\"2024-02-01\"}");
    world_down();
}
END_TEST

/* ---- recall (召回), term and assessment (考核) --------------------------------- */

static void absences(const char *person, int n, int month)
{
    for (int i = 0; i < n; i++) {
        char date[32];
        snprintf(date, sizeof date, "2024-%02d-%02d", month, 10 + i);
        OK("insp", "spot_check", NULL, date, "{\"person\":\"%s\",\"date\":\"%s\",\"result\":"
           "\"absent\"}", person, date);
    }
}

START_TEST(test_recall_shiquan)
{
    world_up("shiquan-2021");
    dispatch("county", "fs1", "u1", "v1", "first_secretary", "2024-01-02", "2026-01-01");
    /* §11: a term is not cut short for promotion */
    REJECT(TZ_ERR_RULE, "recall: \"promotion\" is not a ground for ending a term under "
           "shiquan-2021", "county", "recall", NULL, "2024-05-01", "{\"person\":\"fs1\","
           "\"dispatch\":\"dispatch/fs1/2024-01-02\",\"reason\":\"promotion\",\"date\":"
           "\"2024-05-01\"}");
    REJECT(TZ_ERR_RULE, "dispatch.end: 2024-05-01 ends before the planned end 2026-01-01",
           "county", "dispatch.end", NULL, "2024-05-01", "{\"person\":\"fs1\",\"dispatch\":"
           "\"dispatch/fs1/2024-01-02\",\"date\":\"2024-05-01\"}");
    /* third_absence needs three absences on the ledger (§13(4)) */
    absences("fs1", 2, 3);
    REJECT(TZ_ERR_RULE, "reason third_absence needs 3 absences without reason found in 2024; fs1 "
           "has 2 on the ledger (shiquan-2021 §13(4))", "county", "recall", NULL, "2024-05-01",
           "{\"person\":\"fs1\",\"dispatch\":\"dispatch/fs1/2024-01-02\",\"reason\":"
           "\"third_absence\",\"date\":\"2024-05-01\"}");
    REJECT(TZ_ERR_FORBIDDEN, "recall: needs", "tcom-cg", "recall", NULL, "2024-05-01",
           "{\"person\":\"fs1\",\"dispatch\":\"dispatch/fs1/2024-01-02\",\"reason\":\"health\","
           "\"date\":\"2024-05-01\"}");
    OK("unit-u1", "recall", NULL, "2024-05-01", "{\"person\":\"fs1\",\"dispatch\":"
       "\"dispatch/fs1/2024-01-02\",\"reason\":\"health\",\"date\":\"2024-05-01\"}");
    REC_IS("dispatch/fs1/2024-01-02", "status", "recalled");
    REC_IS("dispatch/fs1/2024-01-02", "end", "2024-05-01");
    /* attendance after the recall is refused */
    char days[40];
    REJECT(TZ_ERR_RULE, "day 2 (2024-05-02) is coded 'P' but fs1 was not stationed",
           "tsec-cg,vsec-v1", "attendance", NULL, "2024-06-01", "{\"person\":\"fs1\",\"month\":"
           "\"2024-05\",\"days\":\"%s\"}", month_codes(days, 31, NULL));
    OK("tsec-cg,vsec-v1", "attendance", NULL, "2024-06-01", "{\"person\":\"fs1\",\"month\":"
       "\"2024-05\",\"days\":\"P%.30s\"}", "------------------------------");
    /* leave over 30 days as a ground, with its evidence */
    dispatch("county", "fs2", "u2", "v2", "first_secretary", "2024-01-02", "2026-01-01");
    REJECT(TZ_ERR_RULE, "reason leave_over_30_days needs a leave of more than 30 consecutive days",
           "county", "recall", NULL, "2024-05-01", "{\"person\":\"fs2\",\"dispatch\":"
           "\"dispatch/fs2/2024-01-02\",\"reason\":\"leave_over_30_days\",\"date\":"
           "\"2024-05-01\"}");
    OK("unit-u2", "leave.request", "l/31", "2024-06-01", "{\"person\":\"fs2\",\"from\":"
       "\"2024-06-03\",\"to\":\"2024-07-03\",\"reason\":\"病\"}");
    OK("county", "leave.approve", NULL, "2024-06-02", "{\"request\":\"l/31\",\"decision\":"
       "\"approved\"}");
    OK("county", "recall", NULL, "2024-07-04", "{\"person\":\"fs2\",\"dispatch\":"
       "\"dispatch/fs2/2024-01-02\",\"reason\":\"leave_over_30_days\",\"date\":\"2024-07-04\"}");
    world_down();
}
END_TEST

START_TEST(test_assessment_caps_shiquan)
{
    world_up("shiquan-2021");
    dispatch("county", "fs1", "u1", "v1", "first_secretary", "2024-01-02", "2026-01-01");
    dispatch("county", "fs2", "u2", "v2", "first_secretary", "2024-01-02", "2026-01-01");
    dispatch("county", "fs3", "u1", "v3", "first_secretary", "2024-01-02", "2026-01-01");
    dispatch("county", "fs4", "u2", "v3", "first_secretary", "2024-09-01", "2026-09-01");
    absences("fs2", 2, 3);
    absences("fs3", 3, 3);
    OK("county", "assessment", NULL, "2024-12-20", "{\"person\":\"fs1\",\"year\":2024,\"grade\":"
       "\"优秀\"}");
    REJECT(TZ_ERR_RULE, "assessment: fs1 was already graded 优秀 for 2024", "county", "assessment",
           NULL, "2024-12-21", "{\"person\":\"fs1\",\"year\":2024,\"grade\":\"称职\"}");
    /* two absences: not 优秀 (§13(4)) */
    REJECT(TZ_ERR_RULE, "fs2 was found absent without reason 2 time(s) in 2024; the grade may be "
           "at most 称职, not 优秀 (shiquan-2021 §13(4))", "county", "assessment", NULL,
           "2024-12-20", "{\"person\":\"fs2\",\"year\":2024,\"grade\":\"优秀\"}");
    OK("county", "assessment", NULL, "2024-12-20", "{\"person\":\"fs2\",\"year\":2024,\"grade\":"
       "\"称职\"}");
    /* three: at most 基本称职 */
    REJECT(TZ_ERR_RULE, "the grade may be at most 基本称职, not 称职 (shiquan-2021 §13(4))",
           "county", "assessment", NULL, "2024-12-20", "{\"person\":\"fs3\",\"year\":2024,"
           "\"grade\":\"称职\"}");
    OK("county", "assessment", NULL, "2024-12-20", "{\"person\":\"fs3\",\"year\":2024,\"grade\":"
       "\"基本称职\"}");
    /* §19: only cadres stationed more than half the year */
    REJECT(TZ_ERR_RULE, "fs4 was stationed 122 days of 2024; the annual assessment covers cadres "
           "stationed more than half a year (shiquan-2021 §19)", "county", "assessment", NULL,
           "2024-12-20", "{\"person\":\"fs4\",\"year\":2024,\"grade\":\"称职\"}");
    REJECT(TZ_ERR_RULE, "tm1 was not stationed in 2024", "county", "assessment", NULL,
           "2024-12-20", "{\"person\":\"tm1\",\"year\":2024,\"grade\":\"称职\"}");
    REJECT(TZ_ERR_FORBIDDEN, "assessment: needs", "tcom-cg", "assessment", NULL, "2024-12-20",
           "{\"person\":\"fs4\",\"year\":2025,\"grade\":\"称职\"}");
    REJECT(TZ_ERR_INPUT, "body.grade: \"good\" is not one of", "county", "assessment", NULL,
           "2024-12-20", "{\"person\":\"fs1\",\"year\":2025,\"grade\":\"good\"}");
    /* 不称职 means recall (§20): the ground is then on the ledger */
    OK("county", "assessment", NULL, "2025-12-20", "{\"person\":\"fs3\",\"year\":2025,\"grade\":"
       "\"不称职\"}");
    OK("county", "recall", NULL, "2025-12-21", "{\"person\":\"fs3\",\"dispatch\":"
       "\"dispatch/fs3/2024-01-02\",\"reason\":\"grade_incompetent\",\"date\":\"2025-12-21\"}");
    world_down();
}
END_TEST

START_TEST(test_assessment_guizhou_forced)
{
    world_up("guizhou-2018");
    OK("unit-u1,county,countysec,citysec", "dispatch", "d/fs1", "2024-01-02", "{\"person\":"
       "\"fs1\",\"village\":\"v1\",\"unit\":\"u1\",\"role\":\"first_secretary\",\"start\":"
       "\"2024-01-02\",\"planned_end\":\"2026-01-01\"}");
    OK("unit-u2,county,countysec,citysec", "dispatch", "d/fs2", "2024-01-02", "{\"person\":"
       "\"fs2\",\"village\":\"v2\",\"unit\":\"u2\",\"role\":\"first_secretary\",\"start\":"
       "\"2024-01-02\",\"planned_end\":\"2026-01-01\"}");
    /* 6.6.1: once found absent, never 优秀 */
    absences("fs1", 1, 3);
    REJECT(TZ_ERR_RULE, "the grade may be at most 称职, not 优秀 (guizhou-2018 6.6.1)", "county",
           "assessment", NULL, "2024-12-20", "{\"person\":\"fs1\",\"year\":2024,\"grade\":"
           "\"优秀\"}");
    /* three times: 不称职 is forced, and recall follows with its evidence */
    absences("fs2", 3, 4);
    REJECT(TZ_ERR_RULE, "fs2 was found absent without reason 3 time(s) in 2024; the grade must be "
           "不称职 (guizhou-2018 6.6.1)", "county", "assessment", NULL, "2024-12-20",
           "{\"person\":\"fs2\",\"year\":2024,\"grade\":\"基本称职\"}");
    OK("county", "assessment", NULL, "2024-12-20", "{\"person\":\"fs2\",\"year\":2024,\"grade\":"
       "\"不称职\"}");
    OK("county", "recall", NULL, "2024-12-21", "{\"person\":\"fs2\",\"dispatch\":\"d/fs2\","
       "\"reason\":\"third_absence\",\"date\":\"2024-12-21\"}");
    REJECT(TZ_ERR_RULE, "\"health\" is not a ground for ending a term under guizhou-2018",
           "county", "recall", NULL, "2024-12-21", "{\"person\":\"fs1\",\"dispatch\":\"d/fs1\","
           "\"reason\":\"health\",\"date\":\"2024-12-21\"}");
    world_down();
}
END_TEST

START_TEST(test_assessment_quota_daan)
{
    world_up("daan-2017");
    /* five first secretaries in county sq for 2024: 20% is one 优秀 */
    const char *fs[] = {"fs1", "fs2", "fs3", "fs4", "fs5"};
    const char *units[] = {"u1", "u2", "u1", "u2", "u1"};
    const char *villages[] = {"v1", "v2", "v3", "v1", "v2"};
    for (int i = 0; i < 5; i++)
        dispatch("county", fs[i], units[i], villages[i], "first_secretary", "2024-01-02",
                 "2026-01-01");
    OK("county", "assessment", NULL, "2024-12-20", "{\"person\":\"fs1\",\"year\":2024,\"grade\":"
       "\"优秀\"}");
    REJECT(TZ_ERR_RULE, "assessment: 优秀 is limited to 20% of the 5 first secretaries of sq in "
           "2024 (at most 1); 1 already given (daan-2017 三(二))", "county", "assessment", NULL,
           "2024-12-20", "{\"person\":\"fs2\",\"year\":2024,\"grade\":\"优秀\"}");
    OK("county", "assessment", NULL, "2024-12-20", "{\"person\":\"fs2\",\"year\":2024,\"grade\":"
       "\"称职\"}");
    /* a recalled cadre is not rated 优秀 that year (三(二)) */
    OK("county", "recall", NULL, "2025-09-01", "{\"person\":\"fs3\",\"dispatch\":"
       "\"dispatch/fs3/2024-01-02\",\"reason\":\"dissatisfaction_over_30\",\"date\":"
       "\"2025-09-01\"}");
    REJECT(TZ_ERR_RULE, "fs3 was recalled on 2025-09-01; a recalled cadre is graded at most 称职 "
           "that year (daan-2017 三(二))", "county", "assessment", NULL, "2025-12-20",
           "{\"person\":\"fs3\",\"year\":2025,\"grade\":\"优秀\"}");
    world_down();
}
END_TEST

/* ---- profiles on the chain ---------------------------------------------------- */

START_TEST(test_policy_in_force_by_date)
{
    world_up("shiquan-2021");
    ck_assert_int_eq(adopt_profile_at("guizhou-2018", "2024-06-01", "2024-01-01", "p/x"),
                     TZ_ERR_RULE);
    ck_assert_msg(strstr(W.msg, "effective date 2024-01-01 is before the adoption's own date "
                         "2024-06-01; rules are never adopted retroactively"), "%s", W.msg);
    /* guizhou-2018 from 2025: the same 3-day leave needs another approver */
    adopt_profile("guizhou-2018", "2025-01-01", "policy/2");
    dispatch("county", "fs1", "u1", "v1", "first_secretary", "2024-01-02", "2026-01-01");
    OK("c-fs1", "leave.request", "a/2024", "2024-03-01", "{\"person\":\"fs1\",\"from\":"
       "\"2024-03-04\",\"to\":\"2024-03-06\",\"reason\":\"x\"}");
    OK("tcom-cg", "leave.approve", NULL, "2024-03-02", "{\"request\":\"a/2024\",\"decision\":"
       "\"approved\"}");
    OK("c-fs1", "leave.request", "a/2025", "2025-03-01", "{\"person\":\"fs1\",\"from\":"
       "\"2025-03-04\",\"to\":\"2025-03-06\",\"reason\":\"x\"}");
    REJECT(TZ_ERR_FORBIDDEN, "(guizhou-2018 6.2)", "tcom-cg", "leave.approve", NULL, "2025-03-02",
           "{\"request\":\"a/2025\",\"decision\":\"approved\"}");
    OK("county", "leave.approve", NULL, "2025-03-02", "{\"request\":\"a/2025\",\"decision\":"
       "\"approved\"}");
    ck_assert_int_eq(adopt_profile_at("daan-2017", "2024-12-01", "2024-12-31", "p/y"),
                     TZ_ERR_RULE);
    ck_assert_msg(strstr(W.msg, "is not after that of the profile adopted at seq"), "%s", W.msg);
    world_down();
}
END_TEST

START_TEST(test_no_profile_in_force)
{
    memset(&W, 0, sizeof W);
    tz_fixture_init(&W.f);
    tz_err e;
    ck_assert(tz_ledger_open(&W.l, W.f.db, 0, NULL, &e) == TZ_OK);
    grant("county", "county_org_dept", "county:sq");
    REJECT(TZ_ERR_RULE, "dispatch: no policy profile is in force on 2024-01-02 (adopt one with "
           "policy.adopt)", "county", "dispatch", NULL, "2024-01-02", "{\"person\":\"fs1\","
           "\"village\":\"v1\",\"unit\":\"u1\",\"role\":\"first_secretary\",\"start\":"
           "\"2024-01-02\",\"planned_end\":\"2026-01-01\"}");
    /* a malformed profile is refused with its path */
    REJECT(TZ_ERR_INPUT, "body.profile", "root", "policy.adopt", NULL, "2024-01-02",
           "{\"effective\":\"2024-01-02\",\"profile\":{\"id\":\"x\",\"bogus\":1}}");
    REJECT(TZ_ERR_INPUT, "body.calendar", "root", "calendar.adopt", NULL, "2024-01-02",
           "{\"calendar\":{\"years\":{\"2024\":{\"notice\":\"n\",\"holidays\":[],"
           "\"working_weekend_days\":[\"2024-02-05\"]}}}}");
    REJECT(TZ_ERR_FORBIDDEN, "calendar.adopt: needs a root or authority key", "county",
           "calendar.adopt", NULL, "2024-01-02", "{\"calendar\":{\"years\":{\"2024\":"
           "{\"notice\":\"n\",\"holidays\":[],\"working_weekend_days\":[]}}}}");
    world_down();
}
END_TEST


/* The rules every profile has, under each profile in turn: the approval
 * chain, 双签字 completed by cosign, who may spot-check, and the grounds of
 * recall. A profile without a procedure refuses the record and says so. */
START_TEST(test_rules_under_each_profile)
{
    static const struct {
        const char *profile, *chain, *spot_ok, *recall_ok, *recall_reason;
    } cases[] = {
        {"shiquan-2021", "county", "tsec-cg", "unit-u1", "health"},
        {"guizhou-2018", "unit-u1,county,countysec,citysec", "tcom-cg", "county", NULL},
        {"guyuan-2018", "county", "city", "unit-u1", "not_competent"},
        {"daan-2017", "county", NULL, "unit-u1", "discipline"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        world_up(cases[i].profile);
        OK(cases[i].chain, "dispatch", "d/fs1", "2024-01-02", "{\"person\":\"fs1\",\"village\":"
           "\"v1\",\"unit\":\"u1\",\"role\":\"first_secretary\",\"start\":\"2024-01-02\","
           "\"planned_end\":\"2026-01-01\"}");
        REC_IS("d/fs1", "status", "active");
        char days[40];
        OK("tsec-cg", "attendance", "a/1", "2024-03-01", "{\"person\":\"fs1\",\"month\":"
           "\"2024-02\",\"days\":\"%s\"}", month_codes(days, 29, NULL));
        REC_IS("a/1", "status", "pending");
        ck_assert_int_eq(cosign("vsec-v1", W.seq, "2024-03-02"), TZ_OK);
        REC_IS("a/1", "status", "complete");
        if (cases[i].spot_ok != NULL) {
            OK(cases[i].spot_ok, "spot_check", NULL, "2024-03-05", "{\"person\":\"fs1\","
               "\"date\":\"2024-03-05\",\"result\":\"present\"}");
            char want[64];
            snprintf(want, sizeof want, "(%s ", cases[i].profile);
            REJECT(TZ_ERR_FORBIDDEN, want, "vsec-v1", "spot_check", NULL, "2024-03-06",
                   "{\"person\":\"fs1\",\"date\":\"2024-03-06\",\"result\":\"absent\"}");
        } else {
            REJECT(TZ_ERR_RULE, "names no office that signs it", "insp", "spot_check", NULL,
                   "2024-03-06", "{\"person\":\"fs1\",\"date\":\"2024-03-06\",\"result\":"
                   "\"absent\"}");
        }
        REJECT(TZ_ERR_RULE, "is not a ground for ending a term", cases[i].recall_ok, "recall",
               NULL, "2024-05-01", "{\"person\":\"fs1\",\"dispatch\":\"d/fs1\",\"reason\":"
               "\"promotion\",\"date\":\"2024-05-01\"}");
        if (cases[i].recall_reason != NULL)
            OK(cases[i].recall_ok, "recall", NULL, "2024-05-01", "{\"person\":\"fs1\",\"dispatch\":"
               "\"d/fs1\",\"reason\":\"%s\",\"date\":\"2024-05-01\"}", cases[i].recall_reason);
        world_down();
    }
}
END_TEST


/* ---- projections under each profile -------------------------------------------- */

static json_t *view_doc(const char *view, const char *a, const char *b)
{
    char subject[256];
    size_t sl = tz_view_subject(subject, sizeof subject, a, b, NULL);
    json_t *doc = NULL;
    tz_err e;
    int rc = tz_view_get(tz_ledger_store(W.l), view, subject, sl, TZ_VIEW_AS_OF_NOW, &doc, &e);
    ck_assert_msg(rc == TZ_OK, "%s %s/%s: %s", view, a, b, e.msg);
    return doc;
}

static const json_t *find_code(const json_t *list, const char *code)
{
    size_t i;
    json_t *v;
    json_array_foreach(list, i, v) {
        if (strcmp(json_string_value(json_object_get(v, "code")) ?
                   json_string_value(json_object_get(v, "code")) : "", code) == 0)
            return v;
    }
    return NULL;
}

START_TEST(test_views_under_profiles)
{
    /* daan-2017 三(二): a unit with two recalls within one year */
    world_up("daan-2017");
    dispatch("county", "fs1", "u1", "v1", "first_secretary", "2024-01-02", "2026-01-01");
    dispatch("county", "fs3", "u1", "v3", "first_secretary", "2024-01-02", "2026-01-01");
    OK("county", "recall", NULL, "2024-05-01", "{\"person\":\"fs1\",\"dispatch\":"
       "\"dispatch/fs1/2024-01-02\",\"reason\":\"discipline\",\"date\":\"2024-05-01\"}");
    json_t *u = view_doc("unit_recalls", "u1", "2024");
    ck_assert_ptr_null(find_code(json_object_get(u, "findings"), "unit_recalls"));
    json_decref(u);
    json_t *r = view_doc("recall", "fs1", "dispatch/fs1/2024-01-02");
    const json_t *c = find_code(json_object_get(r, "consequences"), "no_promotion_until");
    ck_assert_ptr_nonnull(c);
    ck_assert_str_eq(json_string_value(json_object_get(c, "date")), "2026-05-01");
    ck_assert_ptr_nonnull(find_code(json_object_get(r, "consequences"), "reserve_lost"));
    json_decref(r);
    OK("county", "recall", NULL, "2024-09-01", "{\"person\":\"fs3\",\"dispatch\":"
       "\"dispatch/fs3/2024-01-02\",\"reason\":\"not_competent\",\"date\":\"2024-09-01\"}");
    u = view_doc("unit_recalls", "u1", "2024");
    c = find_code(json_object_get(u, "findings"), "unit_recalls");
    ck_assert_ptr_nonnull(c);
    ck_assert_ptr_nonnull(strstr(json_string_value(json_object_get(c, "clause")), "daan-2017"));
    ck_assert_int_eq(json_integer_value(json_object_get(u, "count")), 2);
    json_decref(u);
    world_down();

    /* guizhou-2018 6.6.1: two absences cancel the bonus and bring the unit's deputy head in */
    world_up("guizhou-2018");
    OK("unit-u1,county,countysec,citysec", "dispatch", "d/fs1", "2024-01-02", "{\"person\":"
       "\"fs1\",\"village\":\"v1\",\"unit\":\"u1\",\"role\":\"first_secretary\",\"start\":"
       "\"2024-01-02\",\"planned_end\":\"2026-01-01\"}");
    absences("fs1", 2, 3);
    json_t *a = view_doc("absence", "fs1", "2024");
    ck_assert_int_eq(json_integer_value(json_object_get(a, "count")), 2);
    json_t *cons = json_object_get(a, "consequences");
    ck_assert_uint_eq(json_array_size(cons), 2);
    json_t *two = json_array_get(cons, 1);
    ck_assert(json_is_true(json_object_get(two, "bonus_cancelled")));
    ck_assert(json_is_true(json_object_get(two, "unit_deputy_interview")));
    ck_assert_str_eq(json_string_value(json_object_get(two, "max_grade")), "称职");
    json_decref(a);
    world_down();

    /* guyuan-2018 六(四): 100 yuan a day actually in the village, on the signed sheet */
    world_up("guyuan-2018");
    dispatch("county", "fs1", "u1", "v1", "first_secretary", "2024-01-02", "2026-01-01");
    char days[40];
    OK("tsec-cg", "attendance", "att/1", "2024-03-01", "{\"person\":\"fs1\",\"month\":"
       "\"2024-02\",\"days\":\"%s\"}", month_codes(days, 29, "3A,4A,5B"));
    json_t *att = view_doc("attendance", "fs1", "2024-02");
    ck_assert_int_eq(json_integer_value(json_object_get(att, "allowance_fen")), 0); /* unsigned */
    ck_assert_ptr_nonnull(find_code(json_object_get(att, "findings"), "unsigned"));
    json_decref(att);
    ck_assert_int_eq(cosign("vsec-v1", W.seq, "2024-03-02"), TZ_OK);
    att = view_doc("attendance", "fs1", "2024-02");
    /* 29 days, 2 absent, 1 on business outside, which guyuan-2018 does not count */
    int in_village = (int)json_integer_value(json_object_get(att, "in_village"));
    ck_assert_int_eq(in_village, 26);
    ck_assert_int_eq(json_integer_value(json_object_get(att, "allowance_fen")),
                     (json_int_t)in_village * 10000);
    ck_assert_int_eq(json_integer_value(json_object_get(att, "absent")), 2);
    json_decref(att);
    world_down();
}
END_TEST

START_TEST(test_roster_statuses)
{
    world_up("shiquan-2021");
    dispatch("county", "fs1", "u1", "v1", "first_secretary", "2022-01-03", "2024-01-02");
    dispatch("county", "fs2", "u2", "v1", "first_secretary", "2024-01-29", "2026-01-28");
    json_t *r = view_doc("roster", "v1", "dispatch/fs1/2022-01-03");
    ck_assert_str_eq(json_string_value(json_object_get(r, "status")), "active");
    json_decref(r);
    OK("unit-u1", "handover.start", "h/1", "2024-02-01", "{\"village\":\"v1\",\"outgoing\":"
       "\"fs1\",\"incoming\":\"fs2\",\"start\":\"2024-02-01\"}");
    r = view_doc("roster", "v1", "dispatch/fs1/2022-01-03");
    ck_assert_str_eq(json_string_value(json_object_get(r, "status")), "handing_over");
    json_decref(r);
    OK("c-fs1,c-fs2,unit-u1", "handover.complete", NULL, "2024-02-26",
       "{\"handover\":\"h/1\",\"date\":\"2024-02-26\"}");
    r = view_doc("roster", "v1", "dispatch/fs1/2022-01-03");
    ck_assert_str_eq(json_string_value(json_object_get(r, "status")), "completed");
    ck_assert(json_is_false(json_object_get(r, "cut_short"))); /* a rotation, not a cut */
    json_decref(r);
    json_t *h = view_doc("handover", "v1", "h/1");
    ck_assert_str_eq(json_string_value(json_object_get(h, "status")), "complete");
    ck_assert_int_eq(json_integer_value(json_object_get(h, "working_days")), 15);
    json_decref(h);
    world_down();
}
END_TEST

/* ---- tampering with derived state -------------------------------------------- */

START_TEST(test_tampered_state_detected)
{
    world_up("shiquan-2021");
    dispatch("county", "fs1", "u1", "v1", "first_secretary", "2024-01-02", "2026-01-01");
    absences("fs1", 2, 3);
    uint64_t seq = W.seq;
    tz_ledger_close(W.l);
    W.l = NULL;
    /* an insider lowers the absence count to clear the way for 优秀 */
    tz_store *s;
    tz_err e;
    char path[400];
    snprintf(path, sizeof path, "%s/db", W.f.db);
    ck_assert(tz_store_open(&s, path, 0, &e) == TZ_OK);
    char key[64];
    size_t kl = (size_t)snprintf(key, sizeof key, "absent%cfs1%c2024", 0, 0);
    json_t *fake = json_pack("{s:i,s:[s],s:I}", "count", 1, "checks", "auto/x", "seq",
                             (json_int_t)seq);
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    ck_assert(tz_codec_from_json(&pk, fake, "x", &e) == TZ_OK);
    ck_assert(tz_store_put(s, TZ_CF_INDEX, key, kl, sb.data, sb.size, &e) == TZ_OK);
    msgpack_sbuffer_destroy(&sb);
    json_decref(fake);
    tz_store_close(s);
    tz_verify_report rep;
    ck_assert(tz_verify_ledger(W.f.db, NULL, &rep, &e) == TZ_OK);
    ck_assert(!rep.ok);
    ck_assert_msg(rep.has_bad_seq && rep.first_bad_seq == seq, "%s", rep.reason);
    for (size_t i = 0; i < W.nkeys; i++)
        tz_key_wipe(&W.keys[i]);
    tz_fixture_cleanup(&W.f);
}
END_TEST


/* ---- hostile bodies ------------------------------------------------------------ */

/* Every field of valid bodies replaced by hostile values, removed, or joined
 * by an unknown field: each is refused cleanly (or, for a harmless value,
 * accepted), nothing crashes, and the ledger still replays to the same state. */
START_TEST(test_hostile_bodies)
{
    world_up("shiquan-2021");
    dispatch("county", "fs1", "u1", "v1", "first_secretary", "2024-01-02", "2026-01-01");
    OK("c-fs1", "leave.request", "l/h", "2024-03-01", "{\"person\":\"fs1\",\"from\":"
       "\"2024-03-04\",\"to\":\"2024-03-05\",\"reason\":\"x\"}");
    static const char *const bodies[][3] = {
        {"county", "dispatch", "{\"person\":\"fs2\",\"village\":\"v2\",\"unit\":\"u2\",\"role\":"
         "\"first_secretary\",\"start\":\"2024-01-02\",\"planned_end\":\"2026-01-01\"}"},
        {"tsec-cg,vsec-v1", "attendance", "{\"person\":\"fs1\",\"month\":\"2024-02\",\"days\":"
         "\"PPPPPPPPPPPPPPPPPPPPPPPPPPPPP\"}"},
        {"insp", "spot_check", "{\"person\":\"fs1\",\"date\":\"2024-02-05\",\"result\":\"absent\"}"},
        {"c-fs1", "leave.request", "{\"person\":\"fs1\",\"from\":\"2024-04-04\",\"to\":"
         "\"2024-04-05\",\"reason\":\"x\"}"},
        {"tcom-cg", "leave.approve", "{\"request\":\"l/h\",\"decision\":\"approved\"}"},
        {"county", "assessment", "{\"person\":\"fs1\",\"year\":2024,\"grade\":\"称职\"}"},
        {"unit-u1", "recall", "{\"person\":\"fs1\",\"dispatch\":\"dispatch/fs1/2024-01-02\","
         "\"reason\":\"health\",\"date\":\"2024-12-01\"}"},
        {"county", "org.village", "{\"village\":\"v7\",\"name\":\"x\",\"township\":\"cg\","
         "\"county\":\"sq\",\"category\":\"ordinary\"}"},
        {"county", "person.register", "{\"person\":\"p7\",\"name\":\"x\",\"unit\":\"u1\","
         "\"party_member_since\":null,\"employment\":\"permanent\",\"rank\":\"staff\"}"},
        {"unit-u1", "handover.start", "{\"village\":\"v1\",\"outgoing\":\"fs1\",\"incoming\":"
         "\"fs2\",\"start\":\"2024-02-01\"}"},
    };
    static const char *const hostile[] = {
        "0", "-1", "18446744073709551615", "true", "null", "[]", "{}", "[\"x\"]", "{\"a\":1}",
        "\"\"", "\"2024-02-30\"", "\"9999-99-99\"", "\"a\\u0000b\"", "\"../../etc\"",
        "\"first_secretary|county_org_dept\"", "\"cadre:fs1\"", "\"优秀\"",
    };
    int accepted = 0, refused = 0;
    char big[700];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    for (size_t b = 0; b < sizeof bodies / sizeof bodies[0]; b++) {
        json_t *body = json_loads(bodies[b][2], 0, NULL);
        ck_assert(body != NULL);
        const char *field;
        json_t *v;
        void *tmp;
        json_object_foreach_safe(body, tmp, field, v) {
            for (size_t h = 0; h <= sizeof hostile / sizeof hostile[0] + 1; h++) {
                json_t *m = json_deep_copy(body);
                if (h < sizeof hostile / sizeof hostile[0])
                    json_object_set_new(m, field, json_loads(hostile[h], JSON_DECODE_ANY |
                                                             JSON_ALLOW_NUL, NULL));
                else if (h == sizeof hostile / sizeof hostile[0])
                    json_object_del(m, field);
                else
                    json_object_set_new(m, field, json_string(big));
                char *text = json_dumps(m, JSON_COMPACT);
                json_decref(m);
                int rc = put(bodies[b][0], bodies[b][1], NULL, "2024-12-02", "%s", text);
                free(text);
                ck_assert_msg(rc == TZ_OK || rc == TZ_ERR_INPUT || rc == TZ_ERR_RULE ||
                              rc == TZ_ERR_FORBIDDEN, "%s.%s #%zu: %d %s", bodies[b][1], field, h,
                              rc, W.msg);
                ck_assert_msg(rc == TZ_OK || W.msg[0] != '\0', "a refusal without a message");
                rc == TZ_OK ? accepted++ : refused++;
            }
        }
        json_object_set_new(body, "extra", json_integer(1));
        char *text = json_dumps(body, JSON_COMPACT);
        json_decref(body);
        REJECT(TZ_ERR_INPUT, "body.extra: unknown field", bodies[b][0], bodies[b][1], NULL,
               "2024-12-02", "%s", text);
        free(text);
    }
    ck_assert_int_gt(refused, 400);
    world_down(); /* the replay agrees with every decision made above */
}
END_TEST

static Suite *domain_suite(void)
{
    Suite *s = suite_create("domain");
    TCase *tc = tcase_create("records");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_registry_references);
    tcase_add_test(tc, test_scope_grammar);
    tcase_add_test(tc, test_dispatch_shiquan);
    tcase_add_test(tc, test_dispatch_chain_guizhou);
    tcase_add_test(tc, test_dispatch_terms_guyuan_daan);
    tcase_add_test(tc, test_attendance_double_signature);
    tcase_add_test(tc, test_attendance_one_key_two_roles);
    tcase_add_test(tc, test_attendance_late_by_server_clock);
    tcase_add_test(tc, test_attendance_rest_days_and_spot_checks);
    tcase_add_test(tc, test_spot_check);
    tcase_add_test(tc, test_leave_tiers_shiquan);
    tcase_add_test(tc, test_leave_tiers_guizhou_and_none);
    tcase_add_test(tc, test_handover_working_days);
    tcase_add_test(tc, test_handover_needs_calendar_and_profile);
    tcase_add_test(tc, test_recall_shiquan);
    tcase_add_test(tc, test_assessment_caps_shiquan);
    tcase_add_test(tc, test_assessment_guizhou_forced);
    tcase_add_test(tc, test_assessment_quota_daan);
    tcase_add_test(tc, test_policy_in_force_by_date);
    tcase_add_test(tc, test_no_profile_in_force);
    tcase_add_test(tc, test_tampered_state_detected);
    tcase_add_test(tc, test_hostile_bodies);
    tcase_add_test(tc, test_rules_under_each_profile);
    tcase_add_test(tc, test_views_under_profiles);
    tcase_add_test(tc, test_roster_statuses);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return tz_test_main(domain_suite);
}
