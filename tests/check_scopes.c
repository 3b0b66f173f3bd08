/*
 * check_scopes.c: an office acts only within its scope, compared as whole
 * ids (projections/domain.c scope_covers), through the real append path.
 *
 * Every id in these worlds comes in three families that share a prefix:
 * "1", "10" and "1x" (villages v1, v10, v1x in townships t1, t10, t1x of
 * counties c1, c10, c1x, cities y1, y10, y1x, provinces p1, p10, p1x;
 * units u1, u10, u1x; persons fs1, fs10, fs1x of those units). A key scoped
 * to one family must act for it and be refused (TZ_ERR_FORBIDDEN, naming
 * the key's scope) for the two others, in both directions: `village:v1` is
 * not `village:v10`, nor is `village:v10` `village:v1`. A scope compared as
 * a prefix (strncmp on either length) fails here; the ids of check_domain.c
 * share no prefix and never could.
 *
 * Each world is verified (full replay) at teardown, so replay decides the
 * scopes as the appender did.
 */
#include <check.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/hash.h"
#include "crypto/key.h"
#include "ledger/entry.h"
#include "ledger/ledger.h"
#include "ledger/statement.h"
#include "ledger/store.h"
#include "ledger/verify.h"
#include "util/encoding.h"
#include "tests/tz_test.h"

#define MAX_KEYS 64
#define NFAM 3

static const char *const fam[NFAM] = {"1", "10", "1x"};

/* The scope kinds of docs/EVENTS.md section 2, and the prefix of their ids here. */
static const char *const kinds[][2] = {
    {"province", "p"}, {"city", "y"}, {"county", "c"}, {"township", "t"},
    {"village", "v"}, {"unit", "u"}, {"person", "fs"},
};
#define NKINDS (sizeof kinds / sizeof kinds[0])

typedef struct world {
    tz_fixture f;
    tz_ledger *l;
    size_t nkeys;
    char names[MAX_KEYS][32];
    tz_secret_key keys[MAX_KEYS];
    int status;
    uint64_t seq;
    char msg[TZ_ERR_MSG_MAX];
    int n;
} world;

static world W;

/* Appends the statement js (consumed) signed by the one key named. */
static int put_json(const char *key, json_t *js)
{
    tz_append_result res;
    tz_fixture_append_named(W.l, js, key, W.names, W.keys, W.nkeys, &W.f.root, &res);
    W.status = res.status;
    snprintf(W.msg, sizeof W.msg, "%s", res.status == TZ_OK ? "" : res.err.msg);
    if (res.status == TZ_OK)
        W.seq = res.seq;
    return res.status;
}

/* put("k", "dispatch", "2024-01-02", "{...}"): a fresh id, at date 09:00 +08:00. */
static int put(const char *key, const char *type, const char *date, const char *body_fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int put(const char *key, const char *type, const char *date, const char *body_fmt, ...)
{
    char body[4096], at[40], id[48];
    va_list ap;
    va_start(ap, body_fmt);
    vsnprintf(body, sizeof body, body_fmt, ap);
    va_end(ap);
    json_error_t je;
    json_t *b = json_loads(body, JSON_REJECT_DUPLICATES, &je);
    ck_assert_msg(b != NULL, "test body JSON: %s: %s", body, je.text);
    snprintf(at, sizeof at, "%sT09:00:00+08:00", date);
    snprintf(id, sizeof id, "s/%d", ++W.n);
    return put_json(key, json_pack("{s:s,s:s,s:s,s:o}", "type", type, "id", id, "at", at,
                                   "body", b));
}

#define OK(...) ck_assert_msg(put(__VA_ARGS__) == TZ_OK, "line %d: %s", __LINE__, W.msg)

/* Fails unless the last put was refused as signed by an office outside its
 * scope, with a message naming the key's scope and (when not NULL) the
 * rule's clause. */
static void expect_out_of_scope(int rc, int line, const char *scope, const char *clause)
{
    ck_assert_msg(rc == TZ_ERR_FORBIDDEN, "line %d: scope %s acted outside: status %d %s", line,
                  scope, rc, W.msg);
    char want[80];
    snprintf(want, sizeof want, "(%s)", scope);
    ck_assert_msg(strstr(W.msg, want) != NULL, "line %d: \"%s\" lacks %s", line, W.msg, want);
    if (clause != NULL)
        ck_assert_msg(strstr(W.msg, clause) != NULL, "line %d: \"%s\" lacks the clause %s", line,
                      W.msg, clause);
}

#define OUT_OF_SCOPE(scope, clause, ...) \
    expect_out_of_scope(put(__VA_ARGS__), __LINE__, (scope), (clause))

/* The cosign of the latest accepted entry by key. */
static int cosign_last(const char *key, const char *date)
{
    uint8_t *raw;
    size_t len;
    tz_err e;
    ck_assert(tz_ledger_get(W.l, W.seq, &raw, &len, &e) == TZ_OK);
    tz_entry en;
    ck_assert(tz_entry_decode(&en, raw, len, &e) == TZ_OK);
    uint8_t h[32];
    char hex[65], id[48], at[40];
    tz_hash_sha256(h, en.statement, en.statement_len);
    tz_store_free(raw);
    tz_hex_encode(hex, h, 32);
    snprintf(id, sizeof id, "cosign/%d", ++W.n);
    snprintf(at, sizeof at, "%sT10:00:00+08:00", date);
    return put_json(key, json_pack("{s:s,s:s,s:s,s:{s:I,s:s}}", "type", "cosign", "id", id, "at",
                                   at, "body", "seq", (json_int_t)W.seq, "statement_hash", hex));
}

static void grant(const char *name, const char *role, const char *scope)
{
    ck_assert(W.nkeys < MAX_KEYS);
    uint8_t seed[32];
    tz_hash_sha256(seed, (const uint8_t *)name, strlen(name));
    tz_err e;
    ck_assert(tz_key_from_seed(&W.keys[W.nkeys], name, seed, &e) == TZ_OK);
    snprintf(W.names[W.nkeys], sizeof W.names[0], "%s", name);
    char vkey[TZ_KEY_STRING_MAX];
    tz_fixture_vkey(vkey, &W.keys[W.nkeys]);
    W.nkeys++;
    OK("root", "key.grant", "2021-01-01",
       "{\"key\":\"%s\",\"holder\":\"%s\",\"roles\":[\"%s\"],\"scope\":\"%s\"}", vkey, name, role,
       scope);
}

static void adopt(const char *type, const char *path_in_source, const char *member,
                  const char *effective)
{
    char path[512], at[40], id[48];
    snprintf(path, sizeof path, "%s/%s", TZ_SOURCE_DIR, path_in_source);
    json_error_t je;
    json_t *doc = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
    ck_assert_msg(doc != NULL, "%s: %s", path, je.text);
    snprintf(at, sizeof at, "%sT09:00:00+08:00", effective);
    snprintf(id, sizeof id, "adopt/%d", ++W.n);
    json_t *body = json_pack("{s:o}", member, doc);
    if (effective != NULL && strcmp(type, "policy.adopt") == 0)
        json_object_set_new(body, "effective", json_string(effective));
    ck_assert_msg(put_json("root", json_pack("{s:s,s:s,s:s,s:o}", "type", type, "id", id, "at",
                                             at, "body", body)) == TZ_OK, "%s", W.msg);
}

static void register_person(const char *person, const char *unit)
{
    OK("root", "person.register", "2023-12-01",
       "{\"person\":\"%s\",\"name\":\"干部 %s\",\"unit\":\"%s\",\"party_member_since\":"
       "\"2010-07-01\",\"employment\":\"permanent\",\"rank\":\"section\"}", person, person, unit);
}

/* The three families' geography, units and persons fs<f>, under profile
 * (effective 2021-09-01), registered by the root key. */
static void world_up(const char *profile)
{
    memset(&W, 0, sizeof W);
    tz_fixture_init(&W.f);
    tz_err e;
    ck_assert_msg(tz_ledger_open(&W.l, W.f.db, 0, NULL, &e) == TZ_OK, "%s", e.msg);
    char path[64];
    snprintf(path, sizeof path, "profiles/%s.json", profile);
    adopt("policy.adopt", path, "profile", "2021-09-01");
    adopt("calendar.adopt", "data/cn-workday-calendar.json", "calendar", "2022-12-20");
    for (int f = 0; f < NFAM; f++) {
        const char *s = fam[f];
        OK("root", "org.unit", "2021-10-01", "{\"unit\":\"u%s\",\"name\":\"单位 %s\",\"level\":"
           "\"county\",\"staff\":30,\"county\":\"c%s\"}", s, s, s);
        OK("root", "org.village", "2021-10-01", "{\"village\":\"v%s\",\"name\":\"村 %s\","
           "\"township\":\"t%s\",\"county\":\"c%s\",\"city\":\"y%s\",\"province\":\"p%s\","
           "\"category\":\"ordinary\"}", s, s, s, s, s, s);
        char person[16], unit[16];
        snprintf(person, sizeof person, "fs%s", s);
        snprintf(unit, sizeof unit, "u%s", s);
        register_person(person, unit);
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

/* The scope "KIND:<prefix><family>" of kind k for family f. */
static const char *scope_of(char *out, size_t cap, size_t k, int f)
{
    snprintf(out, cap, "%s:%s%s", kinds[k][0], kinds[k][1], fam[f]);
    return out;
}

/* ---- every scope kind ----------------------------------------------------------- */

/* Under shiquan-2021 a team member's dispatch is approved by the rural
 * revitalisation bureau (§7). One bureau key per scope kind and family
 * signs the dispatch of a person of each family to the village of that
 * family: only its own family is accepted. */
START_TEST(test_every_scope_kind)
{
    world_up("shiquan-2021");
    /* the person each (kind, family) dispatch concerns: fs<f> for the
     * person kind, otherwise a person of its own in unit u<f> */
    char who[NKINDS][NFAM][16];
    for (size_t k = 0; k < NKINDS; k++)
        for (int f = 0; f < NFAM; f++) {
            char scope[48], name[64], unit[16];
            snprintf(name, sizeof name, "bureau-%s", scope_of(scope, sizeof scope, k, f));
            grant(name, "rural_revitalisation_bureau", scope);
            if (strcmp(kinds[k][0], "person") == 0) {
                snprintf(who[k][f], sizeof who[k][f], "fs%s", fam[f]);
            } else {
                snprintf(who[k][f], sizeof who[k][f], "k%zu-%s", k, fam[f]);
                snprintf(unit, sizeof unit, "u%s", fam[f]);
                register_person(who[k][f], unit);
            }
        }
    /* first every key for the other families' records (refusals change nothing) ... */
    for (size_t k = 0; k < NKINDS; k++)
        for (int f = 0; f < NFAM; f++)
            for (int g = 0; g < NFAM; g++) {
                if (g == f)
                    continue;
                char scope[48], name[64];
                snprintf(name, sizeof name, "bureau-%s", scope_of(scope, sizeof scope, k, f));
                OUT_OF_SCOPE(scope, "(shiquan-2021 §7)", name, "dispatch", "2024-01-02",
                             "{\"person\":\"%s\",\"village\":\"v%s\",\"unit\":\"u%s\",\"role\":"
                             "\"team_member\",\"start\":\"2024-01-02\",\"planned_end\":"
                             "\"2026-01-01\"}", who[k][g], fam[g], fam[g]);
            }
    /* ... then the honest case: each key for its own family */
    for (size_t k = 0; k < NKINDS; k++)
        for (int f = 0; f < NFAM; f++) {
            char scope[48], name[64];
            snprintf(name, sizeof name, "bureau-%s", scope_of(scope, sizeof scope, k, f));
            OK(name, "dispatch", "2024-01-02", "{\"person\":\"%s\",\"village\":\"v%s\",\"unit\":"
               "\"u%s\",\"role\":\"team_member\",\"start\":\"2024-01-02\",\"planned_end\":"
               "\"2026-01-01\"}", who[k][f], fam[f], fam[f]);
        }
    world_down();
}
END_TEST

/* ---- every office that acts within a scope (shiquan-2021) ----------------------- */

/* Each office key of one family, for the records of each family: the
 * registries (county org dept, dispatching unit), a cadre's own leave
 * request, its approval by the township party committee (§13(2)), a spot
 * check (§13), and the two signatures of an attendance sheet (§13(1)). */
START_TEST(test_every_office_shiquan)
{
    world_up("shiquan-2021");
    grant("admin", "county_org_dept", "*");
    for (int f = 0; f < NFAM; f++) {
        const char *s = fam[f];
        char name[32], scope[32];
#define GRANT(prefix, role, kind_fmt)                         \
        snprintf(name, sizeof name, prefix "%s", s);          \
        snprintf(scope, sizeof scope, kind_fmt "%s", s);      \
        grant(name, role, scope)
        GRANT("county-", "county_org_dept", "county:c");
        GRANT("unit-", "dispatching_unit", "unit:u");
        GRANT("c-fs", "cadre", "person:fs");
        GRANT("tcom-", "township_party_committee", "township:t");
        GRANT("tsec-", "township_party_secretary", "township:t");
        GRANT("vsec-", "village_party_secretary", "village:v");
        GRANT("insp-", "inspector", "county:c");
#undef GRANT
        OK("admin", "dispatch", "2024-01-02", "{\"person\":\"fs%s\",\"village\":\"v%s\",\"unit\":"
           "\"u%s\",\"role\":\"first_secretary\",\"start\":\"2024-01-02\",\"planned_end\":"
           "\"2026-01-01\"}", s, s, s);
    }
    for (int f = 0; f < NFAM; f++) {
        const char *s = fam[f];
        char key[32], scope[32];
        for (int g = 0; g < NFAM; g++) {
            if (g == f)
                continue;
            const char *o = fam[g];
            /* registries: a village or unit of another county, a person of another unit */
            snprintf(key, sizeof key, "county-%s", s);
            snprintf(scope, sizeof scope, "county:c%s", s);
            OUT_OF_SCOPE(scope, NULL, key, "org.village", "2024-01-03", "{\"village\":\"w%s\","
                         "\"name\":\"新村\",\"township\":\"t%s\",\"county\":\"c%s\",\"category\":"
                         "\"ordinary\"}", o, o, o);
            OUT_OF_SCOPE(scope, NULL, key, "org.unit", "2024-01-03", "{\"unit\":\"x%s\","
                         "\"name\":\"新单位\",\"level\":\"county\",\"staff\":9,\"county\":"
                         "\"c%s\"}", o, o);
            snprintf(key, sizeof key, "unit-%s", s);
            snprintf(scope, sizeof scope, "unit:u%s", s);
            OUT_OF_SCOPE(scope, NULL, key, "person.register", "2024-01-03", "{\"person\":"
                         "\"n%s\",\"name\":\"新人\",\"unit\":\"u%s\",\"party_member_since\":"
                         "\"2010-07-01\",\"employment\":\"permanent\",\"rank\":\"section\"}", o, o);
            /* a cadre's key asks leave for no one else */
            snprintf(key, sizeof key, "c-fs%s", s);
            snprintf(scope, sizeof scope, "person:fs%s", s);
            OUT_OF_SCOPE(scope, NULL, key, "leave.request", "2024-03-01", "{\"person\":\"fs%s\","
                         "\"from\":\"2024-03-04\",\"to\":\"2024-03-05\",\"reason\":\"家事\"}", o);
            snprintf(key, sizeof key, "insp-%s", s);
            snprintf(scope, sizeof scope, "county:c%s", s);
            OUT_OF_SCOPE(scope, "shiquan-2021", key, "spot_check", "2024-03-12", "{\"person\":"
                         "\"fs%s\",\"date\":\"2024-03-12\",\"result\":\"absent\"}", o);
            snprintf(key, sizeof key, "tsec-%s", s);
            snprintf(scope, sizeof scope, "township:t%s", s);
            OUT_OF_SCOPE(scope, "(shiquan-2021 §13(1))", key, "attendance", "2024-03-01",
                         "{\"person\":\"fs%s\",\"month\":\"2024-02\",\"days\":\"%s\"}", o,
                         "PPPPPPPPPPPPPPPPPPPPPPPPPPPPP");
            snprintf(key, sizeof key, "vsec-%s", s);
            snprintf(scope, sizeof scope, "village:v%s", s);
            OUT_OF_SCOPE(scope, "(shiquan-2021 §13(1))", key, "attendance", "2024-03-01",
                         "{\"person\":\"fs%s\",\"month\":\"2024-02\",\"days\":\"%s\"}", o,
                         "PPPPPPPPPPPPPPPPPPPPPPPPPPPPP");
        }
    }
    /* the honest case, and the approvals of records that await a signature */
    for (int f = 0; f < NFAM; f++) {
        const char *s = fam[f];
        char key[32], scope[32];
        snprintf(key, sizeof key, "county-%s", s);
        OK(key, "org.village", "2024-01-03", "{\"village\":\"w%s\",\"name\":\"新村\",\"township\":"
           "\"t%s\",\"county\":\"c%s\",\"category\":\"ordinary\"}", s, s, s);
        OK(key, "org.unit", "2024-01-03", "{\"unit\":\"x%s\",\"name\":\"新单位\",\"level\":"
           "\"county\",\"staff\":9,\"county\":\"c%s\"}", s, s);
        snprintf(key, sizeof key, "unit-%s", s);
        OK(key, "person.register", "2024-01-03", "{\"person\":\"n%s\",\"name\":\"新人\",\"unit\":"
           "\"u%s\",\"party_member_since\":\"2010-07-01\",\"employment\":\"permanent\",\"rank\":"
           "\"section\"}", s, s);
        snprintf(key, sizeof key, "c-fs%s", s);
        OK(key, "leave.request", "2024-03-01", "{\"person\":\"fs%s\",\"from\":\"2024-03-04\","
           "\"to\":\"2024-03-05\",\"reason\":\"家事\"}", s);
        char request[16];
        snprintf(request, sizeof request, "s/%d", W.n);
        for (int g = 0; g < NFAM; g++) {
            if (g == f)
                continue;
            snprintf(key, sizeof key, "tcom-%s", fam[g]);
            snprintf(scope, sizeof scope, "township:t%s", fam[g]);
            OUT_OF_SCOPE(scope, "(shiquan-2021 §13(2))", key, "leave.approve", "2024-03-02",
                         "{\"request\":\"%s\",\"decision\":\"approved\"}", request);
        }
        snprintf(key, sizeof key, "tcom-%s", s);
        OK(key, "leave.approve", "2024-03-02", "{\"request\":\"%s\",\"decision\":\"approved\"}",
           request);
        snprintf(key, sizeof key, "insp-%s", s);
        OK(key, "spot_check", "2024-03-12", "{\"person\":\"fs%s\",\"date\":\"2024-03-12\","
           "\"result\":\"present\"}", s);
        snprintf(key, sizeof key, "tsec-%s", s);
        OK(key, "attendance", "2024-03-01", "{\"person\":\"fs%s\",\"month\":\"2024-02\","
           "\"days\":\"PPPPPPPPPPPPPPPPPPPPPPPPPPPPP\"}", s);
        for (int g = 0; g < NFAM; g++) {
            if (g == f)
                continue;
            snprintf(key, sizeof key, "vsec-%s", fam[g]);
            snprintf(scope, sizeof scope, "village:v%s", fam[g]);
            int rc = cosign_last(key, "2024-03-02");
            ck_assert_msg(rc == TZ_ERR_FORBIDDEN, "%s cosigned the sheet of fs%s: %d %s", key, s,
                          rc, W.msg);
            ck_assert_msg(strstr(W.msg, scope) != NULL, "\"%s\" lacks %s", W.msg, scope);
        }
        snprintf(key, sizeof key, "vsec-%s", s);
        ck_assert_msg(cosign_last(key, "2024-03-02") == TZ_OK, "%s", W.msg);
    }
    world_down();
}
END_TEST

/* ---- the offices of guizhou-2018's approval chain -------------------------------- */

/* 3.3.1 a): dispatching unit, county org dept, county party secretary and
 * city party secretary; each office of one family refused for the dispatch
 * of another family (also as the cosign the dispatch awaits), all four
 * of its own family accepted. */
START_TEST(test_every_office_guizhou)
{
    world_up("guizhou-2018");
    static const char *const chain[][3] = {
        {"unit-", "dispatching_unit", "unit:u"},
        {"county-", "county_org_dept", "county:c"},
        {"countysec-", "county_party_secretary", "county:c"},
        {"citysec-", "city_party_secretary", "city:y"},
    };
    for (int f = 0; f < NFAM; f++)
        for (size_t r = 0; r < 4; r++) {
            char name[32], scope[32];
            snprintf(name, sizeof name, "%s%s", chain[r][0], fam[f]);
            snprintf(scope, sizeof scope, "%s%s", chain[r][2], fam[f]);
            grant(name, chain[r][1], scope);
        }
    for (int f = 0; f < NFAM; f++) {
        char key[32], scope[32];
        for (int g = 0; g < NFAM; g++)
            for (size_t r = 0; r < 4 && g != f; r++) {
                snprintf(key, sizeof key, "%s%s", chain[r][0], fam[f]);
                snprintf(scope, sizeof scope, "%s%s", chain[r][2], fam[f]);
                OUT_OF_SCOPE(scope, "(guizhou-2018 3.3.1", key, "dispatch", "2024-01-02",
                             "{\"person\":\"fs%s\",\"village\":\"v%s\",\"unit\":\"u%s\",\"role\":"
                             "\"first_secretary\",\"start\":\"2024-01-02\",\"planned_end\":"
                             "\"2026-01-01\"}", fam[g], fam[g], fam[g]);
            }
    }
    for (int f = 0; f < NFAM; f++) {
        const char *s = fam[f];
        char key[32];
        snprintf(key, sizeof key, "unit-%s", s);
        OK(key, "dispatch", "2024-01-02", "{\"person\":\"fs%s\",\"village\":\"v%s\",\"unit\":"
           "\"u%s\",\"role\":\"first_secretary\",\"start\":\"2024-01-02\",\"planned_end\":"
           "\"2026-01-01\"}", s, s, s);
        for (size_t r = 1; r < 4; r++) {
            uint64_t dispatch_seq = W.seq;
            for (int g = 0; g < NFAM; g++) {
                if (g == f)
                    continue;
                char scope[32];
                snprintf(key, sizeof key, "%s%s", chain[r][0], fam[g]);
                snprintf(scope, sizeof scope, "%s%s", chain[r][2], fam[g]);
                int rc = cosign_last(key, "2024-01-03");
                ck_assert_msg(rc == TZ_ERR_FORBIDDEN, "%s cosigned the dispatch of fs%s: %d %s",
                              key, s, rc, W.msg);
                ck_assert_msg(strstr(W.msg, scope) != NULL, "\"%s\" lacks %s", W.msg, scope);
            }
            snprintf(key, sizeof key, "%s%s", chain[r][0], s);
            ck_assert_msg(cosign_last(key, "2024-01-03") == TZ_OK, "%s: %s", key, W.msg);
            W.seq = dispatch_seq; /* the next office cosigns the dispatch itself */
        }
    }
    world_down();
}
END_TEST

static Suite *scopes_suite(void)
{
    Suite *s = suite_create("scopes");
    TCase *tc = tcase_create("scopes");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_every_scope_kind);
    tcase_add_test(tc, test_every_office_shiquan);
    tcase_add_test(tc, test_every_office_guizhou);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return tz_test_main(scopes_suite);
}
