/*
 * profile.c: policy profiles (profiles/<id>.json, docs/PROFILES.md) read
 * into the fixed tz_profile the decide step consults.
 *
 * A profile reaches this parser as canonical msgpack: the body.profile of a
 * policy.adopt entry, or a JSON file put through tz_codec_from_json() by
 * tz_profile_load_file(). It is read rarely (once per adoption, once per
 * replay of one) and is a few kilobytes, so the parser favours plain code
 * and exact messages over speed: every member is looked up by name with
 * tz_codec_map_get() after one pass has refused the members it does not
 * know.
 *
 * Strictness is the point. A misspelt member, role, grade or code would
 * otherwise switch a rule off without a sound, and the ledger would then
 * accept, say, leave approved by the wrong office. So everything unknown,
 * mistyped, out of range or too long for the struct is refused with
 * TZ_ERR_INPUT and the JSON path:
 *   profile.leave.first_secretary[1].approver: unknown role "county_boss"
 * Every rule object must carry a non-empty "clause" (kept, it names the rule
 * in rejections) and "quote" (the words of the source, checked for presence
 * and dropped: they live on in the adopted bytes on the chain).
 *
 * Nothing is defaulted. What a profile does not say stays 0 / "" / n = 0,
 * and grades stay TZ_GRADE_NONE.
 */
#include "projections/profile.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "ledger/codec.h"
#include "util/time.h"

#define PATH_MAX_LEN 192   /* longest JSON path built, e.g. "profile.assessment.absence_caps[3].max_grade" */
#define TEXT_MAX 512       /* title and source, in bytes */
#define QUOTES_MAX 8       /* strings in one "quote" array */

/* ---- names ------------------------------------------------------------- */

/* Key roles, as in key.grant (ledger/apply.c), without "authority": no rule
 * of a profile is signed by the ledger's own authority. */
static const char *const role_names[] = {
    "county_org_dept",          "rural_revitalisation_bureau", "city_org_dept",
    "provincial_org_dept",      "county_party_secretary",      "city_party_secretary",
    "township_party_committee", "township_party_secretary",    "village_party_secretary",
    "dispatching_unit",         "inspector",                   "cadre",
};
static const char *const mission_names[TZ_MISSION_COUNT] = {
    "first_secretary", "team_member", "township_liaison",
};
/* Indexed by tz_grade (0..3). */
static const char *const grade_names[] = { "不称职", "基本称职", "称职", "优秀" };
static const char *const employment_names[] = { "permanent", "temporary", "seconded", "service" };
static const char *const rank_names[] = {
    "division", "division_reserve", "section", "section_reserve", "staff",
};
static const char *const category_names[] = {
    "poverty", "relocation", "demonstration", "weak_party_org", "ordinary", "community",
};
static const char *const unit_level_names[] = { "central", "province", "city", "county", "township" };
/* Leaders of a dispatching unit: 主要领导 (主要负责人) and 分管领导. */
static const char *const leader_names[] = { "head", "deputy" };
static const char *const reason_names[] = {
    "not_competent", "leave_over_30_days", "third_absence", "grade_incompetent",
    "dissatisfaction_over_30", "discipline", "health", "left_unit",
};
#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

typedef struct name_set {
    const char *const *names;
    size_t n;
    const char *what;  /* for messages: unknown <what> "x" */
} name_set;

static const name_set roles_set = { role_names, COUNT(role_names), "role" };
static const name_set employment_set = { employment_names, COUNT(employment_names), "employment kind" };
static const name_set ranks_set = { rank_names, COUNT(rank_names), "rank" };
static const name_set categories_set = { category_names, COUNT(category_names), "village category" };
static const name_set unit_levels_set = { unit_level_names, COUNT(unit_level_names), "unit level" };
static const name_set reasons_set = { reason_names, COUNT(reason_names), "recall reason" };
static const name_set leaders_set = { leader_names, COUNT(leader_names), "unit leader" };

static int name_index(const name_set *set, const char *s, size_t len)
{
    for (size_t i = 0; i < set->n; i++)
        if (strlen(set->names[i]) == len && memcmp(set->names[i], s, len) == 0)
            return (int)i;
    return -1;
}

const char *tz_mission_role_name(tz_mission_role role)
{
    if ((int)role < 0 || role >= TZ_MISSION_COUNT)
        return "";
    return mission_names[role];
}

tz_mission_role tz_mission_role_parse(const char *s, size_t len)
{
    if (s == NULL)
        return TZ_MISSION_COUNT;
    for (int i = 0; i < TZ_MISSION_COUNT; i++)
        if (strlen(mission_names[i]) == len && memcmp(mission_names[i], s, len) == 0)
            return (tz_mission_role)i;
    return TZ_MISSION_COUNT;
}

const char *tz_grade_name(tz_grade grade)
{
    if ((int)grade < 0 || (size_t)grade >= COUNT(grade_names))
        return "";
    return grade_names[grade];
}

tz_grade tz_grade_parse(const char *s, size_t len)
{
    if (s == NULL)
        return TZ_GRADE_NONE;
    for (size_t i = 0; i < COUNT(grade_names); i++)
        if (strlen(grade_names[i]) == len && memcmp(grade_names[i], s, len) == 0)
            return (tz_grade)i;
    return TZ_GRADE_NONE;
}

void tz_profile_role_label(char *out, size_t cap, const char *role)
{
    if (out == NULL || cap == 0)
        return;
    size_t i = 0;
    for (; role != NULL && role[i] != '\0' && i + 1 < cap; i++)
        out[i] = role[i] == '_' ? ' ' : role[i];
    out[i] = '\0';
}

/* ---- error and member helpers ------------------------------------------ */

/* TZ_ERR_INPUT with "<path>: <message>". */
TZ_PRINTF(3, 4)
static int fail(tz_err *err, const char *path, const char *fmt, ...)
{
    char msg[TZ_ERR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return tz_err_set(err, TZ_ERR_INPUT, "%s: %s", path, msg);
}

/* child = path + sep + tail (+ close), cut to PATH_MAX_LEN - 1 bytes: the
 * paths built here are far shorter, but a cut message beats an overflow. */
static void path_join(char child[PATH_MAX_LEN], const char *path, const char *sep,
                      const char *tail, size_t tail_len, const char *close)
{
    size_t n = 0;
    const char *parts[] = { path, sep, tail, close };
    const size_t lens[] = { strlen(path), strlen(sep), tail_len, strlen(close) };
    for (size_t i = 0; i < 4; i++) {
        size_t k = lens[i] < PATH_MAX_LEN - 1 - n ? lens[i] : PATH_MAX_LEN - 1 - n;
        if (k > 0) { /* an empty key may come with a NULL pointer */
            memcpy(child + n, parts[i], k);
            n += k;
        }
    }
    child[n] = '\0';
}

/* child = "<path>.<name>" */
static void path_member(char child[PATH_MAX_LEN], const char *path, const char *name)
{
    path_join(child, path, ".", name, strlen(name), "");
}

/* child = "<path>[<i>]" */
static void path_index(char child[PATH_MAX_LEN], const char *path, size_t i)
{
    char digits[24];
    int n = snprintf(digits, sizeof digits, "%zu", i);
    path_join(child, path, "[", digits, (size_t)n, "]");
}

/* Shown bytes of a string from the input, so a long one cannot crowd out
 * the path in a message. */
static int shown(size_t len) { return len > 64 ? 64 : (int)len; }

/* o must be a non-empty map whose members are str keys among allowed[0..n),
 * each present once. what names the keys in messages ("member"). */
static int check_keys(const msgpack_object *o, const char *path, const char *const *allowed,
                      size_t n, const char *what, tz_err *err)
{
    if (o->type != MSGPACK_OBJECT_MAP)
        return fail(err, path, "must be an object");
    if (o->via.map.size == 0)
        return fail(err, path, "must not be empty (leave the member out instead)");
    for (uint32_t i = 0; i < o->via.map.size; i++) {
        const msgpack_object *k = &o->via.map.ptr[i].key;
        if (k->type != MSGPACK_OBJECT_STR)
            return fail(err, path, "member names must be strings");
        size_t j;
        for (j = 0; j < n; j++)
            if (tz_codec_str_eq(k, allowed[j]))
                break;
        if (j == n) {
            char p[PATH_MAX_LEN];
            path_join(p, path, ".", k->via.str.ptr, (size_t)shown(k->via.str.size), "");
            return fail(err, p, "unknown %s", what);
        }
        for (uint32_t m = 0; m < i; m++)
            if (tz_codec_str_eq(&o->via.map.ptr[m].key, allowed[j]))
                return fail(err, path, "member \"%s\" appears twice", allowed[j]);
    }
    return TZ_OK;
}

static int check_members(const msgpack_object *o, const char *path, const char *const *allowed,
                         size_t n, tz_err *err)
{
    return check_keys(o, path, allowed, n, "member", err);
}

/* An integer member in [min, max]. *out is left alone when the member is
 * absent and not required. */
static int get_int(const msgpack_object *o, const char *name, const char *path, int required,
                   int64_t min, int64_t max, int64_t *out, tz_err *err)
{
    char p[PATH_MAX_LEN];
    path_member(p, path, name);
    const msgpack_object *v = tz_codec_map_get(o, name);
    if (v == NULL)
        return required ? fail(err, p, "missing") : TZ_OK;
    int64_t x;
    if (v->type == MSGPACK_OBJECT_POSITIVE_INTEGER) {
        if (v->via.u64 > (uint64_t)max)
            return fail(err, p, "%llu is out of range %lld..%lld", (unsigned long long)v->via.u64,
                        (long long)min, (long long)max);
        x = (int64_t)v->via.u64;
    } else if (v->type == MSGPACK_OBJECT_NEGATIVE_INTEGER) {
        x = v->via.i64;
    } else {
        return fail(err, p, "must be an integer");
    }
    if (x < min || x > max)
        return fail(err, p, "%lld is out of range %lld..%lld", (long long)x, (long long)min,
                    (long long)max);
    *out = x;
    return TZ_OK;
}

static int get_int32(const msgpack_object *o, const char *name, const char *path, int required,
                     int min, int max, int *out, tz_err *err)
{
    int64_t x = *out;
    int rc = get_int(o, name, path, required, min, max, &x, err);
    if (rc == TZ_OK)
        *out = (int)x;
    return rc;
}

/* A boolean member; *out is left alone when absent. */
static int get_bool(const msgpack_object *o, const char *name, const char *path, int *out,
                    tz_err *err)
{
    const msgpack_object *v = tz_codec_map_get(o, name);
    if (v == NULL)
        return TZ_OK;
    if (v->type != MSGPACK_OBJECT_BOOLEAN) {
        char p[PATH_MAX_LEN];
        path_member(p, path, name);
        return fail(err, p, "must be true or false");
    }
    *out = v->via.boolean ? 1 : 0;
    return TZ_OK;
}

/* A string of 1..max bytes without NUL. */
static int check_text(const msgpack_object *v, const char *path, size_t max, tz_err *err)
{
    if (v->type != MSGPACK_OBJECT_STR)
        return fail(err, path, "must be a string");
    if (v->via.str.size == 0)
        return fail(err, path, "must not be empty");
    if (v->via.str.size > max)
        return fail(err, path, "%u bytes (at most %zu)", v->via.str.size, max);
    if (memchr(v->via.str.ptr, '\0', v->via.str.size) != NULL)
        return fail(err, path, "must not contain NUL");
    return TZ_OK;
}

/* A required string member copied into dst (cap bytes with the NUL). */
static int get_text(const msgpack_object *o, const char *name, const char *path, char *dst,
                    size_t cap, tz_err *err)
{
    char p[PATH_MAX_LEN];
    path_member(p, path, name);
    const msgpack_object *v = tz_codec_map_get(o, name);
    if (v == NULL)
        return fail(err, p, "missing");
    int rc = check_text(v, p, cap - 1, err);
    if (rc != TZ_OK)
        return rc;
    if (dst != NULL) {
        memcpy(dst, v->via.str.ptr, v->via.str.size);
        dst[v->via.str.size] = '\0';
    }
    return TZ_OK;
}

/* The citation every rule object carries: "clause" (stored) and "quote"
 * (a string, or an array of 1..QUOTES_MAX strings; checked, not stored). */
static int get_citation(const msgpack_object *o, const char *path, char clause[TZ_CLAUSE_MAX],
                        tz_err *err)
{
    int rc = get_text(o, "clause", path, clause, TZ_CLAUSE_MAX, err);
    if (rc != TZ_OK)
        return rc;
    char p[PATH_MAX_LEN];
    path_member(p, path, "quote");
    const msgpack_object *q = tz_codec_map_get(o, "quote");
    if (q == NULL)
        return fail(err, p, "missing (every rule quotes the words of its source)");
    if (q->type != MSGPACK_OBJECT_ARRAY)
        return check_text(q, p, UINT32_MAX, err);
    if (q->via.array.size == 0 || q->via.array.size > QUOTES_MAX)
        return fail(err, p, "must hold 1..%d strings (has %u)", QUOTES_MAX, q->via.array.size);
    for (uint32_t i = 0; i < q->via.array.size; i++) {
        char pi[PATH_MAX_LEN];
        path_index(pi, p, i);
        if ((rc = check_text(&q->via.array.ptr[i], pi, UINT32_MAX, err)) != TZ_OK)
            return rc;
    }
    return TZ_OK;
}

/* One name of set into dst (width bytes with the NUL). */
static int parse_name(const msgpack_object *v, const char *path, const name_set *set, char *dst,
                      size_t width, tz_err *err)
{
    if (v->type != MSGPACK_OBJECT_STR)
        return fail(err, path, "must be a string");
    if (name_index(set, v->via.str.ptr, v->via.str.size) < 0)
        return fail(err, path, "unknown %s \"%.*s\"", set->what, shown(v->via.str.size),
                    v->via.str.ptr);
    /* every known name is shorter than the struct's field (see the header) */
    snprintf(dst, width, "%.*s", (int)v->via.str.size, v->via.str.ptr);
    return TZ_OK;
}

/* An optional name member; dst stays "" when absent. */
static int get_name(const msgpack_object *o, const char *name, const char *path,
                    const name_set *set, char *dst, size_t width, tz_err *err)
{
    const msgpack_object *v = tz_codec_map_get(o, name);
    if (v == NULL)
        return TZ_OK;
    char p[PATH_MAX_LEN];
    path_member(p, path, name);
    return parse_name(v, p, set, dst, width, err);
}

/* A non-empty array of distinct names of set into dst[cap][width]. */
static int parse_names(const msgpack_object *v, const char *path, const name_set *set, char *dst,
                       size_t width, size_t cap, size_t *n, tz_err *err)
{
    if (v->type != MSGPACK_OBJECT_ARRAY)
        return fail(err, path, "must be an array");
    if (v->via.array.size == 0)
        return fail(err, path, "must not be empty (leave the member out instead)");
    if (v->via.array.size > cap)
        return fail(err, path, "%u names (at most %zu)", v->via.array.size, cap);
    for (uint32_t i = 0; i < v->via.array.size; i++) {
        char p[PATH_MAX_LEN];
        path_index(p, path, i);
        int rc = parse_name(&v->via.array.ptr[i], p, set, dst + i * width, width, err);
        if (rc != TZ_OK)
            return rc;
        for (uint32_t j = 0; j < i; j++)
            if (strcmp(dst + j * width, dst + i * width) == 0)
                return fail(err, p, "\"%s\" appears twice", dst + i * width);
    }
    *n = v->via.array.size;
    return TZ_OK;
}

static int get_names(const msgpack_object *o, const char *name, const char *path, int required,
                     const name_set *set, char *dst, size_t width, size_t cap, size_t *n,
                     tz_err *err)
{
    char p[PATH_MAX_LEN];
    path_member(p, path, name);
    const msgpack_object *v = tz_codec_map_get(o, name);
    if (v == NULL)
        return required ? fail(err, p, "missing") : TZ_OK;
    return parse_names(v, p, set, dst, width, cap, n, err);
}

static int get_roles(const msgpack_object *o, const char *name, const char *path, int required,
                     tz_profile_roles *roles, tz_err *err)
{
    return get_names(o, name, path, required, &roles_set, &roles->names[0][0],
                     sizeof roles->names[0], TZ_PROFILE_MAX_ROLES, &roles->n, err);
}

/* An optional grade member; *out stays as it is (NONE) when absent. */
static int get_grade(const msgpack_object *o, const char *name, const char *path, int required,
                     tz_grade *out, tz_err *err)
{
    char p[PATH_MAX_LEN];
    path_member(p, path, name);
    const msgpack_object *v = tz_codec_map_get(o, name);
    if (v == NULL)
        return required ? fail(err, p, "missing") : TZ_OK;
    if (v->type != MSGPACK_OBJECT_STR)
        return fail(err, p, "must be a string");
    tz_grade g = tz_grade_parse(v->via.str.ptr, v->via.str.size);
    if (g == TZ_GRADE_NONE)
        return fail(err, p, "unknown grade \"%.*s\" (优秀 称职 基本称职 不称职)",
                    shown(v->via.str.size), v->via.str.ptr);
    *out = g;
    return TZ_OK;
}

/* A member that must be an array of 1..cap items. */
static int get_array(const msgpack_object *o, const char *name, const char *path, size_t cap,
                     const char *items, const msgpack_object **out, tz_err *err)
{
    char p[PATH_MAX_LEN];
    path_member(p, path, name);
    const msgpack_object *v = tz_codec_map_get(o, name);
    *out = v;
    if (v == NULL)
        return TZ_OK;
    if (v->type != MSGPACK_OBJECT_ARRAY)
        return fail(err, p, "must be an array");
    if (v->via.array.size == 0)
        return fail(err, p, "must not be empty (leave the member out instead)");
    if (v->via.array.size > cap)
        return fail(err, p, "%u %s (at most %zu)", v->via.array.size, items, cap);
    return TZ_OK;
}

/* ---- sections ---------------------------------------------------------- */

static int parse_term(tz_profile *out, const msgpack_object *o, const char *path, tz_err *err)
{
    static const char *const members[] = { "min_years", "clause", "quote" };
    int rc;
    if ((rc = check_members(o, path, members, COUNT(members), err)) != TZ_OK ||
        (rc = get_int32(o, "min_years", path, 1, 1, 10, &out->term.min_years, err)) != TZ_OK)
        return rc;
    return get_citation(o, path, out->term.clause, err);
}

/* A member map keyed by mission role; calls each(out, role, value, path). */
typedef int (*role_member_fn)(tz_profile *out, tz_mission_role role, const msgpack_object *v,
                              const char *path, tz_err *err);

static int parse_by_role(tz_profile *out, const msgpack_object *o, const char *path,
                         role_member_fn each, tz_err *err)
{
    int rc = check_keys(o, path, mission_names, TZ_MISSION_COUNT, "mission role", err);
    if (rc != TZ_OK)
        return rc;
    for (int r = 0; r < TZ_MISSION_COUNT; r++) {
        const msgpack_object *v = tz_codec_map_get(o, mission_names[r]);
        if (v == NULL)
            continue;
        char p[PATH_MAX_LEN];
        path_member(p, path, mission_names[r]);
        if ((rc = each(out, (tz_mission_role)r, v, p, err)) != TZ_OK)
            return rc;
    }
    return TZ_OK;
}

static int parse_eligibility_one(tz_profile *out, tz_mission_role role, const msgpack_object *o,
                                 const char *path, tz_err *err)
{
    static const char *const members[] = { "party_member", "party_years", "employment", "ranks",
                                           "clause",       "quote" };
    tz_profile_eligibility *e = &out->eligibility[role];
    int rc;
    if ((rc = check_members(o, path, members, COUNT(members), err)) != TZ_OK ||
        (rc = get_bool(o, "party_member", path, &e->party_member, err)) != TZ_OK ||
        (rc = get_int32(o, "party_years", path, 0, 1, 50, &e->party_years, err)) != TZ_OK ||
        (rc = get_names(o, "employment", path, 0, &employment_set, &e->employment[0][0],
                        sizeof e->employment[0], COUNT(e->employment), &e->nemployment, err)) !=
            TZ_OK ||
        (rc = get_names(o, "ranks", path, 0, &ranks_set, &e->ranks[0][0], sizeof e->ranks[0],
                        COUNT(e->ranks), &e->nranks, err)) != TZ_OK)
        return rc;
    if (e->party_years > 0 && !e->party_member) {
        char p[PATH_MAX_LEN];
        path_member(p, path, "party_years");
        return fail(err, p, "needs \"party_member\": true");
    }
    if (!e->party_member && e->nemployment == 0 && e->nranks == 0)
        return fail(err, path, "sets no condition (party_member, employment or ranks)");
    e->present = 1;
    return get_citation(o, path, e->clause, err);
}

static int parse_dispatch_one(tz_profile *out, tz_mission_role role, const msgpack_object *o,
                              const char *path, tz_err *err)
{
    static const char *const members[] = { "signers", "clause", "quote" };
    int rc;
    if ((rc = check_members(o, path, members, COUNT(members), err)) != TZ_OK ||
        (rc = get_roles(o, "signers", path, 1, &out->dispatch_approval[role].signers, err)) !=
            TZ_OK)
        return rc;
    return get_citation(o, path, out->dispatch_approval[role].clause, err);
}

static int parse_attendance(tz_profile *out, const msgpack_object *o, const char *path,
                            tz_err *err)
{
    static const char *const members[] = { "cosign", "deadline", "presence" };
    static const char *const cosign_members[] = { "signers", "clause", "quote" };
    static const char *const deadline_members[] = { "months_after", "day", "clause", "quote" };
    static const char *const presence_members[] = { "min_days", "official_business_counts",
                                                    "clause", "quote" };
    int rc = check_members(o, path, members, COUNT(members), err);
    if (rc != TZ_OK)
        return rc;
    char p[PATH_MAX_LEN];
    const msgpack_object *v;
    if ((v = tz_codec_map_get(o, "cosign")) != NULL) {
        path_member(p, path, "cosign");
        if ((rc = check_members(v, p, cosign_members, COUNT(cosign_members), err)) != TZ_OK ||
            (rc = get_roles(v, "signers", p, 1, &out->attendance.signers, err)) != TZ_OK ||
            (rc = get_citation(v, p, out->attendance.clause, err)) != TZ_OK)
            return rc;
    }
    if ((v = tz_codec_map_get(o, "deadline")) != NULL) {
        path_member(p, path, "deadline");
        if ((rc = check_members(v, p, deadline_members, COUNT(deadline_members), err)) != TZ_OK ||
            (rc = get_int32(v, "months_after", p, 1, 0, 2, &out->attendance.due_months_after,
                            err)) != TZ_OK ||
            (rc = get_int32(v, "day", p, 1, 1, 28, &out->attendance.due_day, err)) != TZ_OK ||
            (rc = get_citation(v, p, out->attendance.due_clause, err)) != TZ_OK)
            return rc;
    }
    if ((v = tz_codec_map_get(o, "presence")) != NULL) {
        path_member(p, path, "presence");
        if ((rc = check_members(v, p, presence_members, COUNT(presence_members), err)) != TZ_OK ||
            (rc = get_int32(v, "min_days", p, 1, 1, 31, &out->attendance.min_days, err)) != TZ_OK ||
            (rc = get_bool(v, "official_business_counts", p,
                           &out->attendance.official_business_counts, err)) != TZ_OK ||
            (rc = get_citation(v, p, out->attendance.min_days_clause, err)) != TZ_OK)
            return rc;
    }
    return TZ_OK;
}

static int parse_spot_check(tz_profile *out, const msgpack_object *o, const char *path,
                            tz_err *err)
{
    static const char *const members[] = { "signers", "monthly_share_percent", "clause", "quote" };
    int rc;
    if ((rc = check_members(o, path, members, COUNT(members), err)) != TZ_OK ||
        (rc = get_roles(o, "signers", path, 1, &out->spot_check.signers, err)) != TZ_OK ||
        (rc = get_int32(o, "monthly_share_percent", path, 0, 1, 100,
                        &out->spot_check.monthly_share_percent, err)) != TZ_OK)
        return rc;
    return get_citation(o, path, out->spot_check.clause, err);
}

/* The tiers of one mission role: ascending max_days, 0 (unbounded) last. */
static int parse_leave_tiers(tz_profile *out, tz_mission_role role, const msgpack_object *v,
                             const char *path, tz_err *err)
{
    static const char *const members[] = { "max_days", "approver", "applicant", "copy_to",
                                           "clause",   "quote" };
    const size_t cap = COUNT(out->leave.tiers[role]);
    if (v->type != MSGPACK_OBJECT_ARRAY)
        return fail(err, path, "must be an array of tiers");
    if (v->via.array.size == 0)
        return fail(err, path, "must not be empty (leave the member out instead)");
    if (v->via.array.size > cap)
        return fail(err, path, "%u tiers (at most %zu)", v->via.array.size, cap);
    for (uint32_t i = 0; i < v->via.array.size; i++) {
        const msgpack_object *o = &v->via.array.ptr[i];
        tz_profile_leave_tier *t = &out->leave.tiers[role][i];
        char p[PATH_MAX_LEN], pm[PATH_MAX_LEN];
        path_index(p, path, i);
        int rc;
        if ((rc = check_members(o, p, members, COUNT(members), err)) != TZ_OK ||
            (rc = get_int32(o, "max_days", p, 1, 0, 366, &t->max_days, err)) != TZ_OK)
            return rc;
        path_member(pm, p, "max_days");
        if (i > 0) {
            int prev = out->leave.tiers[role][i - 1].max_days;
            if (prev == 0)
                return fail(err, pm, "comes after a tier with no upper bound (max_days 0 must be "
                                     "the last tier)");
            if (t->max_days != 0 && t->max_days <= prev)
                return fail(err, pm, "tiers must ascend (%d after %d)", t->max_days, prev);
        }
        path_member(pm, p, "approver");
        const msgpack_object *a = tz_codec_map_get(o, "approver");
        if (a == NULL)
            return fail(err, pm, "missing");
        if ((rc = parse_name(a, pm, &roles_set, t->approver, sizeof t->approver, err)) != TZ_OK ||
            (rc = get_name(o, "applicant", p, &roles_set, t->applicant, sizeof t->applicant,
                           err)) != TZ_OK ||
            (rc = get_name(o, "copy_to", p, &roles_set, t->copy_to, sizeof t->copy_to, err)) !=
                TZ_OK ||
            (rc = get_citation(o, p, t->clause, err)) != TZ_OK)
            return rc;
    }
    out->leave.ntiers[role] = v->via.array.size;
    return TZ_OK;
}

static int parse_leave(tz_profile *out, const msgpack_object *o, const char *path, tz_err *err)
{
    static const char *const members[] = { "first_secretary", "team_member", "township_liaison",
                                           "recall_over" };
    static const char *const recall_members[] = { "days", "clause", "quote" };
    int rc = check_members(o, path, members, COUNT(members), err);
    if (rc != TZ_OK)
        return rc;
    char p[PATH_MAX_LEN];
    for (int r = 0; r < TZ_MISSION_COUNT; r++) {
        const msgpack_object *v = tz_codec_map_get(o, mission_names[r]);
        if (v == NULL)
            continue;
        path_member(p, path, mission_names[r]);
        if ((rc = parse_leave_tiers(out, (tz_mission_role)r, v, p, err)) != TZ_OK)
            return rc;
    }
    const msgpack_object *v = tz_codec_map_get(o, "recall_over");
    if (v != NULL) {
        path_member(p, path, "recall_over");
        if ((rc = check_members(v, p, recall_members, COUNT(recall_members), err)) != TZ_OK ||
            (rc = get_int32(v, "days", p, 1, 1, 366, &out->leave.recall_over_days, err)) != TZ_OK ||
            (rc = get_citation(v, p, out->leave.recall_clause, err)) != TZ_OK)
            return rc;
    }
    return TZ_OK;
}

static int parse_handover(tz_profile *out, const msgpack_object *o, const char *path,
                          tz_err *err)
{
    static const char *const members[] = { "min_working_days", "signers", "clause", "quote" };
    int rc;
    if ((rc = check_members(o, path, members, COUNT(members), err)) != TZ_OK ||
        (rc = get_int32(o, "min_working_days", path, 0, 1, 90, &out->handover.min_working_days,
                        err)) != TZ_OK ||
        (rc = get_roles(o, "signers", path, 0, &out->handover.signers, err)) != TZ_OK)
        return rc;
    if (out->handover.min_working_days == 0 && out->handover.signers.n == 0)
        return fail(err, path, "sets no rule (min_working_days or signers)");
    return get_citation(o, path, out->handover.clause, err);
}

/* {"signers": [...], "clause", "quote"} of recall and assessment. */
static int parse_signed_by(const msgpack_object *o, const char *path, tz_profile_roles *signers,
                           char clause[TZ_CLAUSE_MAX], tz_err *err)
{
    static const char *const members[] = { "signers", "clause", "quote" };
    int rc;
    if ((rc = check_members(o, path, members, COUNT(members), err)) != TZ_OK ||
        (rc = get_roles(o, "signers", path, 1, signers, err)) != TZ_OK)
        return rc;
    return get_citation(o, path, clause, err);
}

static int parse_recall(tz_profile *out, const msgpack_object *o, const char *path, tz_err *err)
{
    static const char *const members[] = { "signed_by", "reasons" };
    static const char *const reason_members[] = { "code", "clause", "quote" };
    const size_t cap = COUNT(out->recall.reasons);
    int rc = check_members(o, path, members, COUNT(members), err);
    if (rc != TZ_OK)
        return rc;
    char p[PATH_MAX_LEN];
    const msgpack_object *v = tz_codec_map_get(o, "signed_by");
    if (v != NULL) {
        path_member(p, path, "signed_by");
        if ((rc = parse_signed_by(v, p, &out->recall.signers, out->recall.clause, err)) != TZ_OK)
            return rc;
    }
    if ((rc = get_array(o, "reasons", path, cap, "reasons", &v, err)) != TZ_OK || v == NULL)
        return rc;
    path_member(p, path, "reasons");
    for (uint32_t i = 0; i < v->via.array.size; i++) {
        const msgpack_object *r = &v->via.array.ptr[i];
        tz_profile_recall_reason *reason = &out->recall.reasons[i];
        char pi[PATH_MAX_LEN], pc[PATH_MAX_LEN];
        path_index(pi, p, i);
        path_member(pc, pi, "code");
        const msgpack_object *code = tz_codec_map_get(r, "code");
        if ((rc = check_members(r, pi, reason_members, COUNT(reason_members), err)) != TZ_OK)
            return rc;
        if (code == NULL)
            return fail(err, pc, "missing");
        if ((rc = parse_name(code, pc, &reasons_set, reason->code, sizeof reason->code, err)) !=
            TZ_OK)
            return rc;
        for (uint32_t j = 0; j < i; j++)
            if (strcmp(out->recall.reasons[j].code, reason->code) == 0)
                return fail(err, pc, "\"%s\" appears twice", reason->code);
        if ((rc = get_citation(r, pi, reason->clause, err)) != TZ_OK)
            return rc;
    }
    out->recall.nreasons = v->via.array.size;
    return TZ_OK;
}

static int parse_absence_caps(tz_profile *out, const msgpack_object *v, const char *path,
                              tz_err *err)
{
    static const char *const members[] = { "absences",        "max_grade",
                                           "forced_grade",    "recall",
                                           "reserve_lost",    "bonus_cancelled",
                                           "unit_deputy_interview", "unit_head_interview",
                                           "clause",          "quote" };
    for (uint32_t i = 0; i < v->via.array.size; i++) {
        const msgpack_object *o = &v->via.array.ptr[i];
        tz_profile_absence_cap *c = &out->assessment.caps[i];
        char p[PATH_MAX_LEN], pm[PATH_MAX_LEN];
        path_index(p, path, i);
        int rc;
        if ((rc = check_members(o, p, members, COUNT(members), err)) != TZ_OK ||
            (rc = get_int32(o, "absences", p, 1, 1, 31, &c->absences, err)) != TZ_OK ||
            (rc = get_grade(o, "max_grade", p, 0, &c->max_grade, err)) != TZ_OK ||
            (rc = get_grade(o, "forced_grade", p, 0, &c->forced_grade, err)) != TZ_OK ||
            (rc = get_bool(o, "recall", p, &c->recall, err)) != TZ_OK ||
            (rc = get_bool(o, "reserve_lost", p, &c->reserve_lost, err)) != TZ_OK ||
            (rc = get_bool(o, "bonus_cancelled", p, &c->bonus_cancelled, err)) != TZ_OK ||
            (rc = get_bool(o, "unit_deputy_interview", p, &c->unit_deputy_interview, err)) !=
                TZ_OK ||
            (rc = get_bool(o, "unit_head_interview", p, &c->unit_head_interview, err)) != TZ_OK)
            return rc;
        if (i > 0 && c->absences <= out->assessment.caps[i - 1].absences) {
            path_member(pm, p, "absences");
            return fail(err, pm, "caps must ascend (%d after %d)", c->absences,
                        out->assessment.caps[i - 1].absences);
        }
        if (c->max_grade == TZ_GRADE_NONE && c->forced_grade == TZ_GRADE_NONE && !c->recall &&
            !c->reserve_lost && !c->bonus_cancelled && !c->unit_deputy_interview &&
            !c->unit_head_interview)
            return fail(err, p, "sets no consequence (max_grade, forced_grade, recall, "
                                "reserve_lost, bonus_cancelled, unit_deputy_interview or "
                                "unit_head_interview)");
        if (c->max_grade != TZ_GRADE_NONE && c->forced_grade != TZ_GRADE_NONE &&
            c->forced_grade > c->max_grade) {
            path_member(pm, p, "forced_grade");
            return fail(err, pm, "%s is above max_grade %s", tz_grade_name(c->forced_grade),
                        tz_grade_name(c->max_grade));
        }
        if ((rc = get_citation(o, p, c->clause, err)) != TZ_OK)
            return rc;
    }
    out->assessment.ncaps = v->via.array.size;
    return TZ_OK;
}

/* {"clause", "quote"} alone: the rule is that the member is there. */
static int parse_flag_rule(const msgpack_object *o, const char *name, const char *path, int *flag,
                           char clause[TZ_CLAUSE_MAX], tz_err *err)
{
    static const char *const members[] = { "clause", "quote" };
    const msgpack_object *v = tz_codec_map_get(o, name);
    if (v == NULL)
        return TZ_OK;
    char p[PATH_MAX_LEN];
    path_member(p, path, name);
    int rc;
    if ((rc = check_members(v, p, members, COUNT(members), err)) != TZ_OK ||
        (rc = get_citation(v, p, clause, err)) != TZ_OK)
        return rc;
    *flag = 1;
    return TZ_OK;
}

static int parse_assessment(tz_profile *out, const msgpack_object *o, const char *path,
                            tz_err *err)
{
    static const char *const members[] = { "signed_by",       "more_than_half_year",
                                           "absence_caps",    "recalled",
                                           "excellent_quota", "incompetent_recall" };
    static const char *const recalled_members[] = { "max_grade", "clause", "quote" };
    static const char *const quota_members[] = { "percent", "clause", "quote" };
    int rc = check_members(o, path, members, COUNT(members), err);
    if (rc != TZ_OK)
        return rc;
    char p[PATH_MAX_LEN];
    const msgpack_object *v = tz_codec_map_get(o, "signed_by");
    if (v != NULL) {
        path_member(p, path, "signed_by");
        if ((rc = parse_signed_by(v, p, &out->assessment.signers, out->assessment.clause, err)) !=
            TZ_OK)
            return rc;
    }
    if ((rc = parse_flag_rule(o, "more_than_half_year", path,
                              &out->assessment.more_than_half_year,
                              out->assessment.eligibility_clause, err)) != TZ_OK ||
        (rc = parse_flag_rule(o, "incompetent_recall", path, &out->assessment.incompetent_recall,
                              out->assessment.incompetent_clause, err)) != TZ_OK)
        return rc;
    if ((rc = get_array(o, "absence_caps", path, COUNT(out->assessment.caps), "caps", &v, err)) !=
        TZ_OK)
        return rc;
    if (v != NULL) {
        path_member(p, path, "absence_caps");
        if ((rc = parse_absence_caps(out, v, p, err)) != TZ_OK)
            return rc;
    }
    if ((v = tz_codec_map_get(o, "recalled")) != NULL) {
        path_member(p, path, "recalled");
        if ((rc = check_members(v, p, recalled_members, COUNT(recalled_members), err)) != TZ_OK ||
            (rc = get_grade(v, "max_grade", p, 1, &out->assessment.recalled_max_grade, err)) !=
                TZ_OK ||
            (rc = get_citation(v, p, out->assessment.recalled_clause, err)) != TZ_OK)
            return rc;
    }
    if ((v = tz_codec_map_get(o, "excellent_quota")) != NULL) {
        path_member(p, path, "excellent_quota");
        if ((rc = check_members(v, p, quota_members, COUNT(quota_members), err)) != TZ_OK ||
            (rc = get_int32(v, "percent", p, 1, 1, 100, &out->assessment.excellent_quota_percent,
                            err)) != TZ_OK ||
            (rc = get_citation(v, p, out->assessment.quota_clause, err)) != TZ_OK)
            return rc;
    }
    return TZ_OK;
}

/* "leaders": a non-empty list of unit leaders, into two flags. */
static int get_leaders(const msgpack_object *o, const char *name, const char *path, int required,
                       int *head, int *deputy, tz_err *err)
{
    char names[COUNT(leader_names)][8];
    size_t n = 0;
    int rc = get_names(o, name, path, required, &leaders_set, &names[0][0], sizeof names[0],
                       COUNT(names), &n, err);
    if (rc != TZ_OK)
        return rc;
    for (size_t i = 0; i < n; i++) {
        if (strcmp(names[i], "head") == 0)
            *head = 1;
        else
            *deputy = 1;
    }
    return TZ_OK;
}

/* {"years": 1..10, "clause", "quote"}: no promotion for that many years. */
static int parse_years_rule(const msgpack_object *o, const char *name, const char *path,
                            int *years, char clause[TZ_CLAUSE_MAX], tz_err *err)
{
    static const char *const members[] = { "years", "clause", "quote" };
    const msgpack_object *v = tz_codec_map_get(o, name);
    if (v == NULL)
        return TZ_OK;
    char p[PATH_MAX_LEN];
    path_member(p, path, name);
    int rc;
    if ((rc = check_members(v, p, members, COUNT(members), err)) != TZ_OK ||
        (rc = get_int32(v, "years", p, 1, 1, 10, years, err)) != TZ_OK)
        return rc;
    return get_citation(v, p, clause, err);
}

static int parse_recall_consequences(tz_profile *out, const msgpack_object *o, const char *path,
                                     tz_err *err)
{
    static const char *const members[] = {
        "no_excellent_that_year",          "reserve_lost",
        "no_promotion_years",              "incompetent_no_promotion_years",
        "unit_leaders_no_excellent_on_recall", "unit_recalls_in_year",
    };
    static const char *const leaders_members[] = { "leaders", "also_on_incompetent", "clause",
                                                   "quote" };
    static const char *const recalls_members[] = { "recalls", "score_deducted",
                                                   "leaders_no_excellent", "clause", "quote" };
    int rc = check_members(o, path, members, COUNT(members), err);
    if (rc != TZ_OK)
        return rc;
    tz_profile_recall_consequences *c = &out->recall_consequences;
    if ((rc = parse_flag_rule(o, "no_excellent_that_year", path, &c->no_excellent_that_year,
                              c->no_excellent_clause, err)) != TZ_OK ||
        (rc = parse_flag_rule(o, "reserve_lost", path, &c->reserve_lost, c->reserve_clause,
                              err)) != TZ_OK ||
        (rc = parse_years_rule(o, "no_promotion_years", path, &c->no_promotion_years,
                               c->promotion_clause, err)) != TZ_OK ||
        (rc = parse_years_rule(o, "incompetent_no_promotion_years", path,
                               &c->incompetent_no_promotion_years,
                               c->incompetent_promotion_clause, err)) != TZ_OK)
        return rc;
    char p[PATH_MAX_LEN];
    const msgpack_object *v;
    if ((v = tz_codec_map_get(o, "unit_leaders_no_excellent_on_recall")) != NULL) {
        path_member(p, path, "unit_leaders_no_excellent_on_recall");
        if ((rc = check_members(v, p, leaders_members, COUNT(leaders_members), err)) != TZ_OK ||
            (rc = get_leaders(v, "leaders", p, 1, &c->unit_head_no_excellent,
                              &c->unit_deputy_no_excellent, err)) != TZ_OK ||
            (rc = get_bool(v, "also_on_incompetent", p,
                           &c->unit_leaders_no_excellent_on_incompetent, err)) != TZ_OK ||
            (rc = get_citation(v, p, c->unit_leaders_clause, err)) != TZ_OK)
            return rc;
        c->unit_leaders_no_excellent_on_recall = 1;
    }
    if ((v = tz_codec_map_get(o, "unit_recalls_in_year")) != NULL) {
        path_member(p, path, "unit_recalls_in_year");
        if ((rc = check_members(v, p, recalls_members, COUNT(recalls_members), err)) != TZ_OK ||
            (rc = get_int32(v, "recalls", p, 1, 2, 12, &c->unit_recalls_in_year, err)) !=
                TZ_OK ||
            (rc = get_bool(v, "score_deducted", p, &c->unit_recalls_score_deducted, err)) !=
                TZ_OK ||
            (rc = get_leaders(v, "leaders_no_excellent", p, 0,
                              &c->unit_recalls_head_no_excellent,
                              &c->unit_recalls_deputy_no_excellent, err)) != TZ_OK)
            return rc;
        if (!c->unit_recalls_score_deducted && !c->unit_recalls_head_no_excellent &&
            !c->unit_recalls_deputy_no_excellent)
            return fail(err, p, "sets no consequence (score_deducted or leaders_no_excellent)");
        if ((rc = get_citation(v, p, c->unit_recalls_clause, err)) != TZ_OK)
            return rc;
    }
    return TZ_OK;
}

static int parse_team(tz_profile *out, const msgpack_object *v, const char *path, tz_err *err)
{
    static const char *const members[] = { "categories", "min", "min_total", "clause", "quote" };
    const size_t cap = COUNT(out->team_rules);
    if (v->type != MSGPACK_OBJECT_ARRAY)
        return fail(err, path, "must be an array of rules");
    if (v->via.array.size == 0)
        return fail(err, path, "must not be empty (leave the member out instead)");
    if (v->via.array.size > cap)
        return fail(err, path, "%u rules (at most %zu)", v->via.array.size, cap);
    for (uint32_t i = 0; i < v->via.array.size; i++) {
        const msgpack_object *o = &v->via.array.ptr[i];
        tz_profile_team_rule *t = &out->team_rules[i];
        char p[PATH_MAX_LEN], pm[PATH_MAX_LEN];
        path_index(p, path, i);
        int rc;
        if ((rc = check_members(o, p, members, COUNT(members), err)) != TZ_OK ||
            (rc = get_names(o, "categories", p, 0, &categories_set, &t->categories[0][0],
                            sizeof t->categories[0], COUNT(t->categories), &t->ncategories,
                            err)) != TZ_OK ||
            (rc = get_int32(o, "min_total", p, 0, 1, 30, &t->min_total, err)) != TZ_OK)
            return rc;
        const msgpack_object *m = tz_codec_map_get(o, "min");
        int any = t->min_total > 0;
        if (m != NULL) {
            path_member(pm, p, "min");
            if ((rc = check_keys(m, pm, mission_names, TZ_MISSION_COUNT, "mission role", err)) !=
                TZ_OK)
                return rc;
            for (int r = 0; r < TZ_MISSION_COUNT; r++)
                if ((rc = get_int32(m, mission_names[r], pm, 0, 1, 10, &t->min[r], err)) != TZ_OK)
                    return rc;
            any = 1;
        }
        if (!any)
            return fail(err, p, "sets no minimum (min or min_total)");
        if ((rc = get_citation(o, p, t->clause, err)) != TZ_OK)
            return rc;
    }
    out->nteam_rules = v->via.array.size;
    return TZ_OK;
}

static int parse_allowance(tz_profile *out, const msgpack_object *v, const char *path,
                           tz_err *err)
{
    static const char *const members[] = { "unit_level", "fen_per_day", "clause", "quote" };
    const size_t cap = COUNT(out->allowance);
    if (v->type != MSGPACK_OBJECT_ARRAY)
        return fail(err, path, "must be an array of rates");
    if (v->via.array.size == 0)
        return fail(err, path, "must not be empty (leave the member out instead)");
    if (v->via.array.size > cap)
        return fail(err, path, "%u rates (at most %zu)", v->via.array.size, cap);
    for (uint32_t i = 0; i < v->via.array.size; i++) {
        const msgpack_object *o = &v->via.array.ptr[i];
        tz_profile_allowance_rate *a = &out->allowance[i];
        char p[PATH_MAX_LEN];
        path_index(p, path, i);
        int rc;
        if ((rc = check_members(o, p, members, COUNT(members), err)) != TZ_OK ||
            (rc = get_name(o, "unit_level", p, &unit_levels_set, a->unit_level,
                           sizeof a->unit_level, err)) != TZ_OK ||
            (rc = get_int(o, "fen_per_day", p, 1, 1, 10000000, &a->fen_per_day, err)) != TZ_OK)
            return rc;
        for (uint32_t j = 0; j < i; j++)
            if (strcmp(out->allowance[j].unit_level, a->unit_level) == 0)
                return fail(err, p, "a second rate for unit level \"%s\"",
                            a->unit_level[0] != '\0' ? a->unit_level : "(any)");
        if ((rc = get_citation(o, p, a->clause, err)) != TZ_OK)
            return rc;
    }
    out->nallowance = v->via.array.size;
    return TZ_OK;
}

static int parse_unit_teams(tz_profile *out, const msgpack_object *o, const char *path,
                            tz_err *err)
{
    static const char *const members[] = { "unit_level", "bands", "clause", "quote" };
    static const char *const band_members[] = { "max_staff", "teams" };
    const size_t cap = COUNT(out->unit_teams.bands);
    const msgpack_object *v;
    int rc;
    if ((rc = check_members(o, path, members, COUNT(members), err)) != TZ_OK ||
        (rc = get_name(o, "unit_level", path, &unit_levels_set, out->unit_teams.unit_level,
                       sizeof out->unit_teams.unit_level, err)) != TZ_OK ||
        (rc = get_array(o, "bands", path, cap, "bands", &v, err)) != TZ_OK)
        return rc;
    char p[PATH_MAX_LEN];
    path_member(p, path, "bands");
    if (v == NULL)
        return fail(err, p, "missing");
    for (uint32_t i = 0; i < v->via.array.size; i++) {
        const msgpack_object *b = &v->via.array.ptr[i];
        char pi[PATH_MAX_LEN], pm[PATH_MAX_LEN];
        path_index(pi, p, i);
        int *max_staff = &out->unit_teams.bands[i].max_staff;
        if ((rc = check_members(b, pi, band_members, COUNT(band_members), err)) != TZ_OK ||
            (rc = get_int32(b, "max_staff", pi, 1, 0, 1000000, max_staff, err)) != TZ_OK ||
            (rc = get_int32(b, "teams", pi, 1, 1, 50, &out->unit_teams.bands[i].teams, err)) !=
                TZ_OK)
            return rc;
        path_member(pm, pi, "max_staff");
        if (i > 0) {
            int prev = out->unit_teams.bands[i - 1].max_staff;
            if (prev == 0)
                return fail(err, pm, "comes after a band with no upper bound (max_staff 0 must "
                                     "be the last band)");
            if (*max_staff != 0 && *max_staff <= prev)
                return fail(err, pm, "bands must ascend (%d after %d)", *max_staff, prev);
        }
    }
    out->unit_teams.nbands = v->via.array.size;
    return get_citation(o, path, out->unit_teams.clause, err);
}

/* ---- the document ------------------------------------------------------ */

static int parse_header(tz_profile *out, const msgpack_object *o, const char *path, tz_err *err)
{
    char p[PATH_MAX_LEN];
    int rc;
    if ((rc = get_text(o, "id", path, out->id, sizeof out->id, err)) != TZ_OK)
        return rc;
    path_member(p, path, "id");
    for (const char *c = out->id; *c != '\0'; c++)
        if (!((*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') || *c == '-'))
            return fail(err, p, "\"%s\": only a-z, 0-9 and '-' (e.g. \"shiquan-2021\")", out->id);
    if ((rc = get_text(o, "title", path, NULL, TEXT_MAX, err)) != TZ_OK ||
        (rc = get_text(o, "source", path, NULL, TEXT_MAX, err)) != TZ_OK)
        return rc;
    char issued[16];
    if ((rc = get_text(o, "issued", path, issued, sizeof issued, err)) != TZ_OK)
        return rc;
    path_member(p, path, "issued");
    int64_t days;
    return tz_time_parse_date(issued, strlen(issued), p, &days, err) == TZ_OK
               ? TZ_OK
               : fail(err, p, "must be a date YYYY-MM-DD (is \"%s\")", issued);
}

int tz_profile_parse(tz_profile *out, const msgpack_object *obj, tz_err *err)
{
    static const char *const members[] = {
        "id",     "title",    "source",   "issued",     "term",       "eligibility",
        "dispatch_approval",  "attendance", "spot_check", "leave",    "handover",
        "recall", "assessment", "team",   "allowance",  "unit_teams",
        "recall_consequences",
    };
    static const char *const path = "profile";
    if (out == NULL || obj == NULL)
        return tz_err_set(err, TZ_ERR_INPUT, "profile: nothing to parse");
    memset(out, 0, sizeof *out);
    for (size_t i = 0; i < COUNT(out->assessment.caps); i++) {
        out->assessment.caps[i].max_grade = TZ_GRADE_NONE;
        out->assessment.caps[i].forced_grade = TZ_GRADE_NONE;
    }
    out->assessment.recalled_max_grade = TZ_GRADE_NONE;

    int rc;
    if ((rc = check_members(obj, path, members, COUNT(members), err)) != TZ_OK ||
        (rc = parse_header(out, obj, path, err)) != TZ_OK)
        return rc;

    /* Each section: absent is fine, present is parsed in full. */
    static const struct {
        const char *name;
        int (*parse)(tz_profile *, const msgpack_object *, const char *, tz_err *);
        role_member_fn by_role;
    } sections[] = {
        { "term", parse_term, NULL },
        { "eligibility", NULL, parse_eligibility_one },
        { "dispatch_approval", NULL, parse_dispatch_one },
        { "attendance", parse_attendance, NULL },
        { "spot_check", parse_spot_check, NULL },
        { "leave", parse_leave, NULL },
        { "handover", parse_handover, NULL },
        { "recall", parse_recall, NULL },
        { "assessment", parse_assessment, NULL },
        { "team", parse_team, NULL },
        { "allowance", parse_allowance, NULL },
        { "unit_teams", parse_unit_teams, NULL },
        { "recall_consequences", parse_recall_consequences, NULL },
    };
    for (size_t i = 0; i < COUNT(sections); i++) {
        const msgpack_object *v = tz_codec_map_get(obj, sections[i].name);
        if (v == NULL)
            continue;
        char p[PATH_MAX_LEN];
        path_member(p, path, sections[i].name);
        rc = sections[i].parse != NULL ? sections[i].parse(out, v, p, err)
                                       : parse_by_role(out, v, p, sections[i].by_role, err);
        if (rc != TZ_OK)
            return rc;
    }
    return TZ_OK;
}

int tz_profile_load_file(tz_profile *out, const char *path, tz_err *err)
{
    if (out == NULL || path == NULL)
        return tz_err_set(err, TZ_ERR_USAGE, "tz_profile_load_file: out and path are required");
    int rc = TZ_OK;
    int zone_ready = 0;
    msgpack_zone zone;
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);

    json_error_t jerr;
    json_t *doc = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
    if (doc == NULL) {
        enum json_error_code code = json_error_code(&jerr);
        if (code == json_error_cannot_open_file || code == json_error_out_of_memory)
            rc = tz_err_set(err, code == json_error_out_of_memory ? TZ_ERR_NOMEM : TZ_ERR_IO,
                            "%s: %s", path, jerr.text);
        else
            rc = tz_err_set(err, TZ_ERR_INPUT, "%s: line %d column %d: %s", path, jerr.line,
                            jerr.column, jerr.text);
        goto cleanup;
    }
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    if ((rc = tz_codec_from_json(&pk, doc, "profile", err)) != TZ_OK)
        goto cleanup;
    if (!msgpack_zone_init(&zone, 4096)) {
        rc = tz_err_set(err, TZ_ERR_NOMEM, "%s: out of memory", path);
        goto cleanup;
    }
    zone_ready = 1;
    msgpack_object obj;
    if ((rc = tz_codec_decode(&obj, &zone, (const uint8_t *)sb.data, sb.size, err)) == TZ_OK)
        rc = tz_profile_parse(out, &obj, err);

cleanup:
    if (rc != TZ_OK && rc != TZ_ERR_IO && rc != TZ_ERR_NOMEM && doc != NULL)
        tz_err_prefix(err, "%s: ", path);
    if (zone_ready)
        msgpack_zone_destroy(&zone);
    msgpack_sbuffer_destroy(&sb);
    json_decref(doc);
    return rc;
}
