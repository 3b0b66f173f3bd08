/*
 * query.c: the questions asked of the projections (see query.h).
 *
 * A query is a prefix scan of one or two views as of one seq (a county has
 * a few hundred cadres: a village's roster, a person's months or leaves are
 * a handful of documents), plus, for the answers computed here, a few point
 * reads: the profile in force, a registry record, a person's absence or
 * recall documents. Nothing here writes.
 */
#include "projections/query.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ledger/apply.h"
#include "ledger/codec.h"
#include "ledger/entry.h"
#include "ledger/statement.h"
#include "projections/domain.h"
#include "projections/profile.h"
#include "projections/view.h"
#include "util/encoding.h"
#include "util/time.h"

enum {
    F_VILLAGE = 1,
    F_TOWNSHIP = 2,
    F_PERSON = 4,
    F_UNIT = 8,
    F_YEAR = 16,
    F_MONTH = 32,
};

#define ID_MAX 160

/* ---- small helpers -------------------------------------------------------- */

static const char *jstr(const json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));
    return s != NULL ? s : "";
}

static int jhas(const json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k)) != NULL;
}

static int64_t jday(const json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));
    int64_t day;
    if (s == NULL || tz_time_parse_date(s, strlen(s), k, &day, NULL) != TZ_OK)
        return INT64_MIN;
    return day;
}

static json_t *day_string(int64_t day)
{
    char buf[11];
    tz_time_format_date(buf, day);
    return json_string(buf);
}

static int nomem(tz_err *err)
{
    return tz_err_set(err, TZ_ERR_NOMEM, "query: out of memory");
}

/* Appends to buf[0..cap) at *off, never past the end. */
static void sappend(char *buf, size_t cap, size_t *off, const char *fmt, ...) TZ_PRINTF(4, 5);
static void sappend(char *buf, size_t cap, size_t *off, const char *fmt, ...)
{
    if (*off >= cap)
        return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf + *off, cap - *off, fmt, ap);
    va_end(ap);
    if (n > 0)
        *off = *off + (size_t)n < cap ? *off + (size_t)n : cap;
}

/* A finding {code, text, clause?}. */
static json_t *finding(const char *code, const char *clause, const char *fmt, ...)
    TZ_PRINTF(3, 4);
static json_t *finding(const char *code, const char *clause, const char *fmt, ...)
{
    char text[600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    json_t *f = json_pack("{s:s,s:s}", "code", code, "text", text);
    if (f != NULL && clause != NULL && clause[0] != '\0')
        json_object_set_new(f, "clause", json_string(clause));
    return f;
}

/* "shiquan-2021 §12" */
static void cite(char *out, size_t cap, const tz_profile *p, const char *clause)
{
    out[0] = '\0';
    if (p != NULL && clause != NULL && clause[0] != '\0')
        snprintf(out, cap, "%s %s", p->id, clause);
}

static const char *role_cn(const char *role)
{
    if (strcmp(role, "first_secretary") == 0)
        return "第一书记";
    if (strcmp(role, "team_member") == 0)
        return "工作队员";
    if (strcmp(role, "township_liaison") == 0)
        return "包村干部";
    return role;
}

static const char *role_en(tz_mission_role r)
{
    switch (r) {
    case TZ_MISSION_FIRST_SECRETARY: return "first secretary";
    case TZ_MISSION_TEAM_MEMBER: return "team member";
    case TZ_MISSION_TOWNSHIP_LIAISON: return "township liaison";
    default: return "?";
    }
}

static json_t *decode_value(const uint8_t *v, size_t len)
{
    msgpack_zone zone;
    if (!msgpack_zone_init(&zone, 4096))
        return NULL;
    msgpack_object o;
    json_t *j = NULL;
    if (tz_codec_decode(&o, &zone, v, len, NULL) == TZ_OK)
        j = tz_codec_to_json(&o, NULL);
    msgpack_zone_destroy(&zone);
    if (j != NULL && !json_is_object(j)) {
        json_decref(j);
        j = NULL;
    }
    return j;
}

/* A registry record "kind\0id" of the index (current state; registries are
 * not versioned). TZ_ERR_NOTFOUND when absent. */
static int registry_get(tz_store *store, const char *kind, const char *id, json_t **out,
                        tz_err *err)
{
    char key[ID_MAX + 16];
    size_t kl = strlen(kind), il = strlen(id);
    *out = NULL;
    if (kl + 1 + il > sizeof key)
        return tz_err_set(err, TZ_ERR_NOTFOUND, "%s %s: no such record", kind, id);
    memcpy(key, kind, kl);
    key[kl] = '\0';
    memcpy(key + kl + 1, id, il);
    uint8_t *val = NULL;
    size_t len = 0;
    int rc = tz_store_get(store, TZ_CF_INDEX, key, kl + 1 + il, &val, &len, err);
    if (rc != TZ_OK)
        return rc;
    *out = decode_value(val, len);
    tz_store_free(val);
    if (*out == NULL)
        return tz_err_set(err, TZ_ERR_IO, "%s %s: the registry record is malformed (run verify)",
                          kind, id);
    return TZ_OK;
}

/* 1 when the registry record existed at seq as_of (registered by then, not
 * retired by then). */
static int registered_at(const json_t *rec, uint64_t as_of)
{
    json_t *r = json_object_get(rec, "registered_seq");
    if (r == NULL)
        r = json_object_get(rec, "seq");
    if (json_is_integer(r) && (uint64_t)json_integer_value(r) > as_of)
        return 0;
    json_t *ret = json_object_get(rec, "retired_seq");
    if (json_is_integer(ret) && (uint64_t)json_integer_value(ret) <= as_of)
        return 0;
    return 1;
}

int tz_query_day_of_seq(tz_store *store, uint64_t seq, int64_t *day, tz_err *err)
{
    uint8_t key[8], *raw = NULL;
    size_t len = 0;
    tz_store_key_u64(key, seq);
    int rc = tz_store_get(store, TZ_CF_ENTRIES, key, 8, &raw, &len, err);
    if (rc != TZ_OK)
        return rc == TZ_ERR_NOTFOUND ? tz_err_set(err, TZ_ERR_NOTFOUND, "entry %llu is not on "
                                                  "the ledger", (unsigned long long)seq) : rc;
    tz_entry e;
    rc = tz_entry_decode(&e, raw, len, err);
    if (rc == TZ_OK)
        *day = (int64_t)((e.recorded_at / 1000000u + 8u * 3600u) / 86400u);
    tz_store_free(raw);
    return rc;
}

void tz_query_init(tz_query *q, tz_store *store, uint64_t as_of)
{
    memset(q, 0, sizeof *q);
    q->store = store;
    q->as_of = as_of;
    q->day = TZ_QUERY_DAY_OF_AS_OF;
}

static int reference_day(const tz_query *q, int64_t *day, tz_err *err)
{
    if (q->day != TZ_QUERY_DAY_OF_AS_OF) {
        *day = q->day;
        return TZ_OK;
    }
    return tz_query_day_of_seq(q->store, q->as_of, day, err);
}

static const char *const filter_names[] = {"--village", "--township", "--person", "--unit",
                                           "--year", "--month"};

/* Refuses filters the query does not take, and checks the required ones. */
static int check_filters(const tz_query *q, const char *name, int allowed, int required,
                         tz_err *err)
{
    int given = (q->village ? F_VILLAGE : 0) | (q->township ? F_TOWNSHIP : 0) |
                (q->person ? F_PERSON : 0) | (q->unit ? F_UNIT : 0) | (q->year ? F_YEAR : 0) |
                (q->month ? F_MONTH : 0);
    char list[160] = "";
    size_t off = 0;
    for (int i = 0; i < 6; i++)
        if (allowed & (1 << i))
            off += (size_t)snprintf(list + off, sizeof list - off, "%s%s", off ? " " : "",
                                    filter_names[i]);
    for (int i = 0; i < 6; i++) {
        if ((given & (1 << i)) && !(allowed & (1 << i)))
            return tz_err_set(err, TZ_ERR_USAGE, "%s: %s does not apply (filters: %s)", name,
                              filter_names[i], list[0] ? list : "none");
        if ((required & (1 << i)) && !(given & (1 << i)))
            return tz_err_set(err, TZ_ERR_USAGE, "%s: %s is required", name, filter_names[i]);
    }
    if (q->month != 0 && (q->year == 0 || q->month < 1 || q->month > 12))
        return tz_err_set(err, TZ_ERR_USAGE, "%s: a month needs its year (YYYY-MM)", name);
    if (q->year != 0 && (q->year < 1900 || q->year > 9999))
        return tz_err_set(err, TZ_ERR_USAGE, "%s: year %d is out of range", name, q->year);
    return TZ_OK;
}

/* "YYYY-MM" or "YYYY-" (the month prefix of the query's period), "" for none. */
static void period_prefix(const tz_query *q, char out[16])
{
    out[0] = '\0';
    if (q->year != 0 && q->month != 0)
        snprintf(out, 16, "%04d-%02d", q->year, q->month);
    else if (q->year != 0)
        snprintf(out, 16, "%04d-", q->year);
}

/* The query document: {"query", "as_of", "rows": [], "findings": []}. */
static json_t *result_new(const char *name, const tz_query *q)
{
    json_t *r = json_pack("{s:s,s:I,s:[],s:[]}", "query", name, "as_of", (json_int_t)q->as_of,
                          "rows", "findings");
    if (r == NULL)
        return NULL;
    json_t *f = json_object();
    if (q->village)
        json_object_set_new(f, "village", json_string(q->village));
    if (q->township)
        json_object_set_new(f, "township", json_string(q->township));
    if (q->person)
        json_object_set_new(f, "person", json_string(q->person));
    if (q->unit)
        json_object_set_new(f, "unit", json_string(q->unit));
    if (q->year && !q->month)
        json_object_set_new(f, "year", json_integer(q->year));
    if (q->month) {
        char m[16];
        snprintf(m, sizeof m, "%04d-%02d", q->year, q->month);
        json_object_set_new(f, "month", json_string(m));
    }
    json_object_set_new(r, "filters", f);
    return r;
}

/* ---- collecting rows -------------------------------------------------------- */

typedef struct qctx qctx;
/* 1 keep, 0 drop, < 0 an error (set in c->err) */
typedef int (*row_hook)(qctx *c, json_t *row);

struct qctx {
    const tz_query *q;
    json_t *rows;
    const char *const *names;   /* names of the subject's ids */
    size_t nnames;
    row_hook keep;
    const char *period;         /* month prefix to keep ("" any), for attendance */
    json_t *townships;          /* cache: village -> township */
    tz_err *err;
};

static int township_of(qctx *c, const char *village, const char **out)
{
    json_t *t = json_object_get(c->townships, village);
    if (t == NULL) {
        json_t *rec = NULL;
        tz_err e;
        int rc = registry_get(c->q->store, "village", village, &rec, &e);
        if (rc != TZ_OK && rc != TZ_ERR_NOTFOUND) {
            if (c->err)
                *c->err = e;
            return rc;
        }
        t = json_string(rec ? jstr(rec, "township") : "");
        json_decref(rec);
        json_object_set_new(c->townships, village, t);
    }
    *out = json_string_value(t);
    return TZ_OK;
}

/* The common filters on the fields a row has. */
static int keep_common(qctx *c, json_t *row)
{
    const tz_query *q = c->q;
    if (q->person && jhas(row, "person") && strcmp(jstr(row, "person"), q->person) != 0)
        return 0;
    if (q->village && jhas(row, "village") && strcmp(jstr(row, "village"), q->village) != 0)
        return 0;
    if (q->unit && jhas(row, "unit") && strcmp(jstr(row, "unit"), q->unit) != 0)
        return 0;
    if (q->township) {
        const char *t = jstr(row, "township");
        if (!jhas(row, "township") && jhas(row, "village")) {
            int rc = township_of(c, jstr(row, "village"), &t);
            if (rc != TZ_OK)
                return rc;
        }
        if (strcmp(t, q->township) != 0)
            return 0;
    }
    if (c->period != NULL && c->period[0] != '\0' &&
        strncmp(jstr(row, "month"), c->period, strlen(c->period)) != 0)
        return 0;
    return 1;
}

static int collect_cb(void *ctx, const char *subject, size_t len, json_t *doc)
{
    qctx *c = ctx;
    json_t *row = json_deep_copy(doc);
    if (row == NULL)
        return nomem(c->err);
    size_t part = 0, start = 0;
    for (size_t i = 0; i <= len; i++) {
        if (i < len && subject[i] != '\0')
            continue;
        if (part < c->nnames)
            json_object_set_new(row, c->names[part], json_stringn(subject + start, i - start));
        part++;
        start = i + 1;
    }
    int k = keep_common(c, row);
    if (k == 1 && c->keep != NULL)
        k = c->keep(c, row);
    if (k < 0) {
        json_decref(row);
        return k;
    }
    if (k)
        json_array_append_new(c->rows, row);
    else
        json_decref(row);
    return 0;
}

/* Appends to c->rows the documents of view whose subject starts with
 * a \0 b (a NULL: all; b NULL: every subject under a; b a partial id). */
static int collect(qctx *c, const char *view, const char *a, const char *b)
{
    char prefix[TZ_VIEW_KEY_MAX];
    size_t pl = 0;
    if (a != NULL) {
        size_t al = strlen(a), bl = b ? strlen(b) : 0;
        if (al + 1 + bl > sizeof prefix)
            return tz_err_set(c->err, TZ_ERR_USAGE, "%s: id too long", view);
        memcpy(prefix, a, al);
        prefix[al] = '\0';
        memcpy(prefix + al + 1, b ? b : "", bl);
        pl = al + 1 + bl;
    }
    return tz_view_list(c->q->store, view, prefix, pl, c->q->as_of, collect_cb, c, c->err);
}

static void qctx_init(qctx *c, const tz_query *q, json_t *rows, const char *const *names,
                      size_t nnames, tz_err *err)
{
    memset(c, 0, sizeof *c);
    c->q = q;
    c->rows = rows;
    c->names = names;
    c->nnames = nnames;
    c->townships = json_object();
    c->err = err;
}

/* Copies each finding of each row into all, with the row's ids. */
static void gather_findings(json_t *all, json_t *rows, const char *const *ids, size_t nids)
{
    size_t i, j;
    json_t *row, *f;
    json_array_foreach(rows, i, row) {
        json_array_foreach(json_object_get(row, "findings"), j, f) {
            json_t *c = json_deep_copy(f);
            for (size_t k = 0; k < nids; k++) {
                json_t *v = json_object_get(row, ids[k]);
                if (v != NULL && json_object_get(c, ids[k]) == NULL)
                    json_object_set(c, ids[k], v);
            }
            if (json_object_get(row, "seq") != NULL)
                json_object_set(c, "seq", json_object_get(row, "seq"));
            json_array_append_new(all, c);
        }
    }
}

static void add_finding(json_t *all, json_t *f, const char *k1, const char *v1, const char *k2,
                        const char *v2)
{
    if (f == NULL)
        return;
    if (k1 != NULL && v1 != NULL)
        json_object_set_new(f, k1, json_string(v1));
    if (k2 != NULL && v2 != NULL)
        json_object_set_new(f, k2, json_string(v2));
    json_array_append_new(all, f);
}

/* The profile in force on day as of q->as_of, or NULL (not found: *rc
 * TZ_OK; other errors in *rc). Free with free(). */
static tz_profile *profile_at(const tz_query *q, int64_t day, int *rc, tz_err *err)
{
    tz_profile *p = malloc(sizeof *p);
    *rc = TZ_OK;
    if (p == NULL) {
        *rc = nomem(err);
        return NULL;
    }
    tz_err e;
    int r = tz_domain_profile_at(q->store, q->as_of, day, p, &e);
    if (r != TZ_OK) {
        free(p);
        if (r != TZ_ERR_NOTFOUND) {
            *rc = r;
            if (err)
                *err = e;
        }
        return NULL;
    }
    return p;
}

/* ---- roster ----------------------------------------------------------------- */

static int active_status(const char *s)
{
    return strcmp(s, "active") == 0 || strcmp(s, "handing_over") == 0;
}

/* The approved (or returned) leave of person covering day, into *req. */
static int leave_on(const tz_query *q, const char *person, int64_t day, json_t **req,
                    tz_err *err)
{
    json_t *rows = json_array();
    static const char *const names[] = {"person", "request"};
    qctx c;
    qctx_init(&c, q, rows, names, 2, err);
    tz_query sub = *q;
    sub.village = sub.township = sub.unit = NULL;
    sub.person = person;
    c.q = &sub;
    int rc = collect(&c, "leave", person, NULL);
    *req = NULL;
    size_t i;
    json_t *l;
    json_array_foreach(rows, i, l) {
        const char *st = jstr(l, "status");
        int64_t from = jday(l, "from"), to = jday(l, "to"), back = jday(l, "returned");
        if (strcmp(st, "approved") != 0 && strcmp(st, "returned") != 0)
            continue;
        if (back != INT64_MIN && back - 1 < to)
            to = back - 1;
        if (from != INT64_MIN && day >= from && day <= to) {
            *req = json_incref(l);
            break;
        }
    }
    json_decref(rows);
    json_decref(c.townships);
    return rc;
}

static int tally_role(json_t *counts, const char *village, const char *role)
{
    json_t *v = json_object_get(counts, village);
    if (v == NULL) {
        v = json_pack("{s:i,s:i,s:i}", "first_secretary", 0, "team_member", 0,
                      "township_liaison", 0);
        json_object_set_new(counts, village, v);
    }
    json_t *n = json_object_get(v, role);
    if (n != NULL)
        json_integer_set(n, json_integer_value(n) + 1);
    return TZ_OK;
}

static int rule_applies(const tz_profile_team_rule *r, const char *category)
{
    if (r->ncategories == 0)
        return 1;
    for (size_t i = 0; i < r->ncategories; i++)
        if (strcmp(r->categories[i], category) == 0)
            return 1;
    return 0;
}

/* The villages in scope as of q->as_of: {id: registry record}, in key order. */
static int villages_in_scope(const tz_query *q, json_t *out, tz_err *err)
{
    if (q->village != NULL) {
        json_t *rec = NULL;
        int rc = registry_get(q->store, "village", q->village, &rec, err);
        if (rc == TZ_ERR_NOTFOUND)
            return TZ_OK;
        if (rc != TZ_OK)
            return rc;
        if (registered_at(rec, q->as_of))
            json_object_set_new(out, q->village, rec);
        else
            json_decref(rec);
        return TZ_OK;
    }
    static const char prefix[] = "village";
    tz_store_iter *it = tz_store_iter_new(q->store, TZ_CF_INDEX, prefix, sizeof prefix);
    if (it == NULL)
        return nomem(err);
    for (; tz_store_iter_valid(it); tz_store_iter_next(it)) {
        size_t kl, vl;
        const uint8_t *k = tz_store_iter_key(it, &kl);
        if (kl < sizeof prefix || memcmp(k, prefix, sizeof prefix) != 0)
            break;
        const char *id = (const char *)k + sizeof prefix;
        size_t il = kl - sizeof prefix;
        if (il == 0 || il > ID_MAX || memchr(id, 0, il) != NULL)
            continue;
        const uint8_t *val = tz_store_iter_value(it, &vl);
        json_t *rec = decode_value(val, vl);
        if (rec == NULL)
            continue;
        char idbuf[ID_MAX + 1];
        memcpy(idbuf, id, il);
        idbuf[il] = '\0';
        if (registered_at(rec, q->as_of) &&
            (q->township == NULL || strcmp(jstr(rec, "township"), q->township) == 0))
            json_object_set_new(out, idbuf, rec);
        else
            json_decref(rec);
    }
    tz_err scan;
    int rc = tz_store_iter_status(it, &scan);
    tz_store_iter_free(it);
    if (rc != TZ_OK && err)
        *err = scan;
    return rc;
}

static int coverage(const tz_query *q, int64_t day, json_t *result, json_t *rows, tz_err *err)
{
    json_t *villages = json_object(), *counts = json_object();
    int rc = villages_in_scope(q, villages, err);
    tz_profile *p = rc == TZ_OK ? profile_at(q, day, &rc, err) : NULL;
    if (rc != TZ_OK)
        goto out;
    size_t i;
    json_t *row;
    json_array_foreach(rows, i, row)
        if (active_status(jstr(row, "status")))
            tally_role(counts, jstr(row, "village"), jstr(row, "role"));
    json_t *cov = json_array(), *findings = json_object_get(result, "findings");
    json_object_set_new(result, "coverage", cov);
    json_object_set_new(result, "profile", p ? json_string(p->id) : json_null());
    /* in key order of the villages (json objects do not keep it: sort) */
    size_t n = json_object_size(villages), k = 0;
    const char **ids = calloc(n ? n : 1, sizeof *ids);
    if (ids == NULL) {
        rc = nomem(err);
        goto out;
    }
    const char *id;
    json_t *rec;
    json_object_foreach(villages, id, rec)
        ids[k++] = id;
    for (size_t a = 1; a < n; a++)
        for (size_t b = a; b > 0 && strcmp(ids[b - 1], ids[b]) > 0; b--) {
            const char *t = ids[b];
            ids[b] = ids[b - 1];
            ids[b - 1] = t;
        }
    for (k = 0; k < n; k++) {
        id = ids[k];
        rec = json_object_get(villages, id);
        json_t *c = json_object_get(counts, id);
        json_int_t have[TZ_MISSION_COUNT], total = 0;
        for (int r = 0; r < TZ_MISSION_COUNT; r++) {
            const char *rn = tz_mission_role_name((tz_mission_role)r);
            have[r] = json_integer_value(json_object_get(c, rn));
            total += have[r];
        }
        json_t *one = json_pack("{s:s,s:s,s:s,s:s,s:I,s:I,s:I,s:I,s:b}", "village", id, "name",
                                jstr(rec, "name"), "township", jstr(rec, "township"), "category",
                                jstr(rec, "category"), "first_secretary",
                                have[TZ_MISSION_FIRST_SECRETARY], "team_member",
                                have[TZ_MISSION_TEAM_MEMBER], "township_liaison",
                                have[TZ_MISSION_TOWNSHIP_LIAISON], "total", total, "short", 0);
        int is_short = 0;
        for (size_t r = 0; p != NULL && r < p->nteam_rules; r++) {
            const tz_profile_team_rule *tr = &p->team_rules[r];
            if (!rule_applies(tr, jstr(rec, "category")))
                continue;
            char clause[TZ_PROFILE_ID_MAX + TZ_CLAUSE_MAX + 2];
            cite(clause, sizeof clause, p, tr->clause);
            for (int m = 0; m < TZ_MISSION_COUNT; m++) {
                if (tr->min[m] <= 0 || have[m] >= tr->min[m])
                    continue;
                json_t *f;
                if (have[m] == 0)
                    f = finding("coverage_short", clause, "%s %s (%s, %s): no %s (%s); the "
                                "profile asks for %d", id, jstr(rec, "name"),
                                jstr(rec, "township"), jstr(rec, "category"),
                                role_en((tz_mission_role)m),
                                role_cn(tz_mission_role_name((tz_mission_role)m)), tr->min[m]);
                else
                    f = finding("coverage_short", clause, "%s %s (%s, %s): %lld %s(s) (%s), "
                                "fewer than %d", id, jstr(rec, "name"), jstr(rec, "township"),
                                jstr(rec, "category"), (long long)have[m],
                                role_en((tz_mission_role)m),
                                role_cn(tz_mission_role_name((tz_mission_role)m)), tr->min[m]);
                json_object_set_new(f, "role",
                                    json_string(tz_mission_role_name((tz_mission_role)m)));
                json_object_set_new(f, "have", json_integer(have[m]));
                json_object_set_new(f, "min", json_integer(tr->min[m]));
                add_finding(findings, f, "village", id, "category", jstr(rec, "category"));
                is_short = 1;
            }
            if (tr->min_total > 0 && total < tr->min_total) {
                json_t *f = finding("coverage_short", clause, "%s %s (%s, %s): %lld stationed, "
                                    "fewer than %d", id, jstr(rec, "name"),
                                    jstr(rec, "township"), jstr(rec, "category"),
                                    (long long)total, tr->min_total);
                json_object_set_new(f, "role", json_string("total"));
                json_object_set_new(f, "have", json_integer(total));
                json_object_set_new(f, "min", json_integer(tr->min_total));
                add_finding(findings, f, "village", id, "category", jstr(rec, "category"));
                is_short = 1;
            }
        }
        json_object_set_new(one, "short", json_boolean(is_short));
        json_array_append_new(cov, one);
    }
    free(ids);
out:
    free(p);
    json_decref(villages);
    json_decref(counts);
    return rc;
}

int tz_query_roster(const tz_query *q, json_t **out, tz_err *err)
{
    *out = NULL;
    int rc = check_filters(q, "roster", F_VILLAGE | F_TOWNSHIP | F_UNIT | F_PERSON, 0, err);
    int64_t day = 0;
    if (rc != TZ_OK || (rc = reference_day(q, &day, err)) != TZ_OK)
        return rc;
    json_t *r = result_new("roster", q);
    if (r == NULL)
        return nomem(err);
    json_object_set_new(r, "day", day_string(day));
    json_t *rows = json_object_get(r, "rows");
    static const char *const names[] = {"village", "dispatch"};
    qctx c;
    qctx_init(&c, q, rows, names, 2, err);
    rc = collect(&c, "roster", q->village, NULL);
    size_t i;
    json_t *row;
    json_array_foreach(rows, i, row) {
        if (rc != TZ_OK)
            break;
        json_t *l = NULL;
        int on = 0;
        if (active_status(jstr(row, "status")) &&
            (rc = leave_on(q, jstr(row, "person"), day, &l, err)) == TZ_OK && l != NULL) {
            on = 1;
            json_object_set_new(row, "leave", json_string(jstr(l, "request")));
            json_object_set_new(row, "leave_to", json_string(jstr(l, "to")));
        }
        json_decref(l);
        json_object_set_new(row, "on_leave", json_boolean(on));
    }
    if (rc == TZ_OK && q->unit == NULL && q->person == NULL)
        rc = coverage(q, day, r, rows, err);
    json_decref(c.townships);
    if (rc != TZ_OK) {
        json_decref(r);
        return rc;
    }
    *out = r;
    return TZ_OK;
}

/* ---- attendance, leave, handover, grade ---------------------------------------- */

int tz_query_attendance(const tz_query *q, json_t **out, tz_err *err)
{
    *out = NULL;
    int rc = check_filters(q, "attendance", F_PERSON | F_VILLAGE | F_TOWNSHIP | F_YEAR | F_MONTH,
                           0, err);
    if (rc != TZ_OK)
        return rc;
    json_t *r = result_new("attendance", q);
    if (r == NULL)
        return nomem(err);
    char period[16];
    period_prefix(q, period);
    static const char *const names[] = {"person", "month"};
    qctx c;
    qctx_init(&c, q, json_object_get(r, "rows"), names, 2, err);
    c.period = period;
    rc = collect(&c, "attendance", q->person, q->person ? period : NULL);
    json_decref(c.townships);
    if (rc != TZ_OK) {
        json_decref(r);
        return rc;
    }
    static const char *const ids[] = {"person", "month", "village"};
    gather_findings(json_object_get(r, "findings"), json_object_get(r, "rows"), ids, 3);
    *out = r;
    return TZ_OK;
}

int tz_query_leave(const tz_query *q, json_t **out, tz_err *err)
{
    *out = NULL;
    int rc = check_filters(q, "leave", F_PERSON, F_PERSON, err);
    if (rc != TZ_OK)
        return rc;
    json_t *r = result_new("leave", q);
    if (r == NULL)
        return nomem(err);
    static const char *const names[] = {"person", "request"};
    qctx c;
    qctx_init(&c, q, json_object_get(r, "rows"), names, 2, err);
    rc = collect(&c, "leave", q->person, NULL);
    json_decref(c.townships);
    if (rc != TZ_OK) {
        json_decref(r);
        return rc;
    }
    static const char *const ids[] = {"person", "request", "from", "to"};
    gather_findings(json_object_get(r, "findings"), json_object_get(r, "rows"), ids, 4);
    *out = r;
    return TZ_OK;
}

int tz_query_handover(const tz_query *q, json_t **out, tz_err *err)
{
    *out = NULL;
    int rc = check_filters(q, "handover", F_VILLAGE | F_TOWNSHIP, 0, err);
    if (rc != TZ_OK)
        return rc;
    json_t *r = result_new("handover", q);
    if (r == NULL)
        return nomem(err);
    static const char *const names[] = {"village", "handover"};
    qctx c;
    qctx_init(&c, q, json_object_get(r, "rows"), names, 2, err);
    rc = collect(&c, "handover", q->village, NULL);
    json_decref(c.townships);
    if (rc != TZ_OK) {
        json_decref(r);
        return rc;
    }
    static const char *const ids[] = {"village", "handover", "outgoing", "incoming"};
    gather_findings(json_object_get(r, "findings"), json_object_get(r, "rows"), ids, 4);
    *out = r;
    return TZ_OK;
}

static int keep_year_subject(qctx *c, json_t *row)
{
    return c->q->year == 0 || atoi(jstr(row, "year")) == c->q->year;
}

static void consequence_text(char *out, size_t cap, const char *code, const json_t *v)
{
    const char *date = json_is_object(v) ? jstr(v, "date") : json_string_value(v);
    json_t *year = json_is_object(v) ? json_object_get(v, "year") : NULL;
    char ys[16] = "that year";
    if (json_is_integer(year))
        snprintf(ys, sizeof ys, "in %lld", (long long)json_integer_value(year));
    else if (json_is_string(year))
        snprintf(ys, sizeof ys, "in %s", json_string_value(year));
    if (date == NULL)
        date = "";
    size_t off = 0;
    out[0] = '\0';
    if (strcmp(code, "no_excellent") == 0) {
        sappend(out, cap, &off, "may not be rated 优秀 %s", ys);
    } else if (strcmp(code, "reserve_lost") == 0) {
        sappend(out, cap, &off, "reserve-cadre (后备干部) status cancelled");
    } else if (strcmp(code, "no_promotion_until") == 0) {
        sappend(out, cap, &off, "no promotion until %s", date[0] ? date : "(date not recorded)");
    } else if (strcmp(code, "unit_leaders_no_excellent") == 0) {
        int head = json_is_true(json_object_get(v, "head"));
        int deputy = json_is_true(json_object_get(v, "deputy"));
        if (!head && !deputy)
            sappend(out, cap, &off, "unit %s: its leaders may not be rated 优秀 %s",
                    jstr(v, "unit"), ys);
        else
            sappend(out, cap, &off, "unit %s: its %s%s%s may not be rated 优秀 %s",
                    jstr(v, "unit"), head ? "head (主要领导)" : "", head && deputy ? " and " : "",
                    deputy ? "deputy head (分管领导)" : "", ys);
    } else {
        /* a consequence this build does not know: its members as they are */
        sappend(out, cap, &off, "%s", code);
        const char *k;
        json_t *x;
        int first = 1;
        json_object_foreach((json_t *)v, k, x) {
            if (strcmp(k, "code") == 0 || strcmp(k, "clause") == 0)
                continue;
            char *s = json_dumps(x, JSON_COMPACT | JSON_ENCODE_ANY);
            sappend(out, cap, &off, "%s%s %s", first ? ": " : ", ", k, s ? s : "");
            free(s);
            first = 0;
        }
    }
}

/* The consequences of a recall or unit document as findings: an object
 * {code: {... clause}} or an array [{code, ... clause}]. */
static void consequence_findings(json_t *findings, const char *fcode, const json_t *row,
                                 const char *k1, const char *v1, const char *k2, const char *v2)
{
    json_t *cons = json_object_get(row, "consequences");
    const char *code;
    json_t *v;
    size_t i;
    char text[400];
    if (json_is_object(cons)) {
        json_object_foreach(cons, code, v) {
            if (json_is_false(v) || json_is_null(v))
                continue;
            consequence_text(text, sizeof text, code, v);
            json_t *f = finding(fcode, json_is_object(v) ? jstr(v, "clause") : NULL, "%s", text);
            json_object_set_new(f, "consequence", json_string(code));
            add_finding(findings, f, k1, v1, k2, v2);
        }
    } else if (json_is_array(cons)) {
        json_array_foreach(cons, i, v) {
            code = jstr(v, "code");
            consequence_text(text, sizeof text, code, v);
            json_t *f = finding(fcode, jstr(v, "clause"), "%s", text);
            json_object_set_new(f, "consequence", json_string(code));
            add_finding(findings, f, k1, v1, k2, v2);
        }
    }
}

int tz_query_grade(const tz_query *q, json_t **out, tz_err *err)
{
    *out = NULL;
    int rc = check_filters(q, "grade", F_PERSON | F_YEAR, F_PERSON, err);
    if (rc != TZ_OK)
        return rc;
    json_t *r = result_new("grade", q);
    if (r == NULL)
        return nomem(err);
    static const char *const names[] = {"person", "year"};
    qctx c;
    qctx_init(&c, q, json_object_get(r, "rows"), names, 2, err);
    c.keep = keep_year_subject;
    rc = collect(&c, "grade", q->person, NULL);
    json_decref(c.townships);
    if (rc != TZ_OK) {
        json_decref(r);
        return rc;
    }
    json_t *findings = json_object_get(r, "findings");
    size_t i;
    json_t *row;
    json_array_foreach(json_object_get(r, "rows"), i, row) {
        json_t *req = json_object_get(row, "recall_required");
        if (req == NULL || json_is_false(req))
            continue;
        add_finding(findings, finding("recall_required", json_is_string(req) ?
                                      json_string_value(req) : NULL, "graded %s in %s: the "
                                      "cadre is recalled at once", jstr(row, "grade"),
                                      jstr(row, "year")),
                    "person", jstr(row, "person"), "year", jstr(row, "year"));
    }
    json_array_foreach(json_object_get(r, "rows"), i, row)
        consequence_findings(findings, "grade_consequence", row, "person", jstr(row, "person"),
                             "year",
                             jstr(row, "year"));
    static const char *const ids[] = {"person", "year"};
    gather_findings(findings, json_object_get(r, "rows"), ids, 2);
    *out = r;
    return TZ_OK;
}

/* ---- absences ------------------------------------------------------------------ */

int tz_query_absences(const tz_query *q, json_t **out, tz_err *err)
{
    *out = NULL;
    int rc = check_filters(q, "absences", F_PERSON | F_YEAR, F_PERSON, err);
    if (rc != TZ_OK)
        return rc;
    int64_t asof_day;
    if ((rc = reference_day(q, &asof_day, err)) != TZ_OK)
        return rc;
    json_t *r = result_new("absences", q);
    if (r == NULL)
        return nomem(err);
    static const char *const names[] = {"person", "year"};
    qctx c;
    qctx_init(&c, q, json_object_get(r, "rows"), names, 2, err);
    c.keep = keep_year_subject;
    rc = collect(&c, "absence", q->person, NULL);
    json_decref(c.townships);
    json_t *findings = json_object_get(r, "findings");
    size_t i;
    json_t *row;
    json_array_foreach(json_object_get(r, "rows"), i, row) {
        if (rc != TZ_OK)
            break;
        int year = atoi(jstr(row, "year"));
        int64_t dec31 = tz_time_days_from_civil(year, 12, 31);
        tz_profile *p = profile_at(q, dec31 < asof_day ? dec31 : asof_day, &rc, err);
        if (rc != TZ_OK)
            break;
        json_int_t n = json_integer_value(json_object_get(row, "count"));
        char clause[TZ_PROFILE_ID_MAX + TZ_CLAUSE_MAX + 2] = "";
        if (p != NULL)
            cite(clause, sizeof clause, p, p->spot_check.clause);
        char dates[400] = "";
        size_t off = 0, j;
        json_t *chk;
        json_array_foreach(json_object_get(row, "checks"), j, chk)
            sappend(dates, sizeof dates, &off, "%s%s", j ? ", " : "",
                    json_string_value(json_array_get(chk, 0)) ?
                    json_string_value(json_array_get(chk, 0)) : "?");
        if (n > 0) {
            json_t *f = finding("absences", clause, "found absent without reason %lld time(s) "
                                "in %d (%s)%s", (long long)n, year, dates,
                                json_array_size(json_object_get(row, "consequences")) == 0 ?
                                "; no grade consequence in the profile at this count" : "");
            json_object_set_new(f, "count", json_integer(n));
            add_finding(findings, f, "person", jstr(row, "person"), "year", jstr(row, "year"));
        }
        json_t *cons;
        json_array_foreach(json_object_get(row, "consequences"), j, cons) {
            json_int_t from = json_integer_value(json_object_get(cons, "from"));
            const tz_profile_absence_cap *cap = NULL;
            for (size_t k = 0; p != NULL && k < p->assessment.ncaps; k++)
                if (p->assessment.caps[k].absences == from)
                    cap = &p->assessment.caps[k];
            /* the profile's further consequences of the same clause */
            static const char *const extra[] = {"reserve_lost", "bonus_cancelled",
                                                "unit_deputy_interview", "unit_head_interview"};
            int flags[4] = {cap ? cap->reserve_lost : 0, cap ? cap->bonus_cancelled : 0,
                            cap ? cap->unit_deputy_interview : 0,
                            cap ? cap->unit_head_interview : 0};
            for (int k = 0; k < 4; k++)
                if (flags[k] && json_object_get(cons, extra[k]) == NULL)
                    json_object_set_new(cons, extra[k], json_true());
            char text[400];
            off = 0;
            sappend(text, sizeof text, &off, "%lld absence(s) reach the consequence from %lld:",
                    (long long)n, (long long)from);
            if (jhas(cons, "forced_grade"))
                sappend(text, sizeof text, &off, " grade %s only", jstr(cons, "forced_grade"));
            else if (jhas(cons, "max_grade"))
                sappend(text, sizeof text, &off, " grade at most %s", jstr(cons, "max_grade"));
            if (json_is_true(json_object_get(cons, "recall")))
                sappend(text, sizeof text, &off, "; recall ordered");
            if (json_is_true(json_object_get(cons, "reserve_lost")))
                sappend(text, sizeof text, &off, "; reserve-cadre status cancelled");
            if (json_is_true(json_object_get(cons, "bonus_cancelled")))
                sappend(text, sizeof text, &off, "; annual bonus cancelled");
            if (json_is_true(json_object_get(cons, "unit_deputy_interview")))
                sappend(text, sizeof text, &off, "; the unit's deputy head is interviewed");
            if (json_is_true(json_object_get(cons, "unit_head_interview")))
                sappend(text, sizeof text, &off, "; the unit's head is interviewed");
            json_t *f = finding("absence_consequence", jstr(cons, "clause"), "%s", text);
            json_object_set_new(f, "count", json_integer(n));
            json_object_set_new(f, "from", json_integer(from));
            if (jhas(cons, "max_grade"))
                json_object_set(f, "max_grade", json_object_get(cons, "max_grade"));
            if (jhas(cons, "forced_grade"))
                json_object_set(f, "forced_grade", json_object_get(cons, "forced_grade"));
            json_object_set(f, "recall", json_object_get(cons, "recall") ?
                            json_object_get(cons, "recall") : json_false());
            add_finding(findings, f, "person", jstr(row, "person"), "year", jstr(row, "year"));
        }
        free(p);
    }
    if (rc != TZ_OK) {
        json_decref(r);
        return rc;
    }
    *out = r;
    return TZ_OK;
}

/* ---- term --------------------------------------------------------------------- */

int tz_query_term(const tz_query *q, json_t **out, tz_err *err)
{
    *out = NULL;
    int rc = check_filters(q, "term", F_PERSON | F_VILLAGE | F_TOWNSHIP | F_UNIT, 0, err);
    if (rc != TZ_OK)
        return rc;
    json_t *r = result_new("term", q);
    if (r == NULL)
        return nomem(err);
    static const char *const names[] = {"person", "dispatch"};
    qctx c;
    qctx_init(&c, q, json_object_get(r, "rows"), names, 2, err);
    rc = collect(&c, "term", q->person, NULL);
    json_decref(c.townships);
    json_t *findings = json_object_get(r, "findings");
    size_t i;
    json_t *row;
    int64_t today = 0;
    if (rc == TZ_OK)
        rc = reference_day(q, &today, err);
    json_array_foreach(json_object_get(r, "rows"), i, row) {
        if (rc != TZ_OK)
            break;
        const char *status = jstr(row, "status");
        int64_t planned = jday(row, "planned_end");
        if ((strcmp(status, "active") == 0 || strcmp(status, "handing_over") == 0) &&
            planned != INT64_MIN && planned < today) {
            /* the term ran out, yet no handover or dispatch.end closed it */
            json_t *f = finding("past_planned_end", NULL, "%s %s (%s, %s): the term was planned "
                                "to end %s and is still %s, %lld day(s) later (record a handover "
                                "or dispatch.end)", jstr(row, "person"), jstr(row, "name"),
                                role_cn(jstr(row, "role")), jstr(row, "village"),
                                jstr(row, "planned_end"), status, (long long)(today - planned));
            json_object_set(f, "seq", json_object_get(row, "seq"));
            add_finding(findings, f, "person", jstr(row, "person"), "dispatch",
                        jstr(row, "dispatch"));
        }
        if (!json_is_true(json_object_get(row, "cut_short")))
            continue;
        int64_t end = jday(row, "end");
        tz_profile *p = profile_at(q, end, &rc, err);
        if (rc != TZ_OK)
            break;
        char clause[TZ_PROFILE_ID_MAX + TZ_CLAUSE_MAX + 2] = "";
        json_t *f;
        if (jhas(row, "recall_reason")) {
            const char *reason = jstr(row, "recall_reason");
            for (size_t k = 0; p != NULL && k < p->recall.nreasons; k++)
                if (strcmp(p->recall.reasons[k].code, reason) == 0)
                    cite(clause, sizeof clause, p, p->recall.reasons[k].clause);
            f = finding("cut_short", clause, "%s %s (%s, %s): recalled on %s, before the "
                        "planned end %s, for %s", jstr(row, "person"), jstr(row, "name"),
                        role_cn(jstr(row, "role")), jstr(row, "village"), jstr(row, "end"),
                        jstr(row, "planned_end"), reason);
            json_object_set_new(f, "reason", json_string(reason));
        } else {
            if (p != NULL)
                cite(clause, sizeof clause, p, p->term.min_years ? p->term.clause :
                     p->recall.clause);
            int64_t early = jday(row, "planned_end") - end;
            f = finding("cut_short_without_reason", clause, "%s %s (%s, %s): the term ended %s "
                        "(%s%s%s), %lld day(s) before the planned end %s, without a recall for a "
                        "ground the profile allows", jstr(row, "person"), jstr(row, "name"),
                        role_cn(jstr(row, "role")), jstr(row, "village"), jstr(row, "end"),
                        jstr(row, "status"), jhas(row, "handover") ? " by handover " : "",
                        jstr(row, "handover"), (long long)early, jstr(row, "planned_end"));
            json_object_set_new(f, "days_early", json_integer(early));
        }
        free(p);
        json_object_set(f, "seq", json_object_get(row, "seq"));
        add_finding(findings, f, "person", jstr(row, "person"), "dispatch", jstr(row, "dispatch"));
    }
    if (rc != TZ_OK) {
        json_decref(r);
        return rc;
    }
    *out = r;
    return TZ_OK;
}

/* ---- recall ------------------------------------------------------------------- */

static int keep_recall(qctx *c, json_t *row)
{
    if (c->q->year != 0 && tz_time_year_of(jday(row, "date")) != c->q->year)
        return 0;
    return 1;
}

int tz_query_recall(const tz_query *q, json_t **out, tz_err *err)
{
    *out = NULL;
    int rc = check_filters(q, "recall", F_PERSON | F_UNIT | F_YEAR, 0, err);
    if (rc != TZ_OK)
        return rc;
    json_t *r = result_new("recall", q);
    if (r == NULL)
        return nomem(err);
    json_t *units = json_array();
    json_object_set_new(r, "units", units);
    static const char *const names[] = {"person", "dispatch"};
    qctx c;
    qctx_init(&c, q, json_object_get(r, "rows"), names, 2, err);
    c.keep = keep_recall;
    rc = collect(&c, "recall", q->person, NULL);
    if (rc == TZ_OK && q->person == NULL) {
        static const char *const unames[] = {"unit", "year"};
        qctx u;
        qctx_init(&u, q, units, unames, 2, err);
        u.keep = keep_year_subject;
        char year[8] = "";
        if (q->year)
            snprintf(year, sizeof year, "%04d", q->year);
        rc = collect(&u, "unit_recalls", q->unit, q->unit && q->year ? year : NULL);
        json_decref(u.townships);
    }
    json_decref(c.townships);
    if (rc != TZ_OK) {
        json_decref(r);
        return rc;
    }
    json_t *findings = json_object_get(r, "findings");
    size_t i;
    json_t *row;
    json_array_foreach(json_object_get(r, "rows"), i, row) {
        json_t *f = finding("recalled", jstr(row, "clause"), "%s recalled on %s (dispatch %s, "
                            "unit %s): %s", jstr(row, "person"), jstr(row, "date"),
                            jstr(row, "dispatch"), jstr(row, "unit"), jstr(row, "reason"));
        json_object_set(f, "reason", json_object_get(row, "reason"));
        add_finding(findings, f, "person", jstr(row, "person"), "dispatch", jstr(row, "dispatch"));
        consequence_findings(findings, "recall_consequence", row, "person", jstr(row, "person"),
                             "dispatch",
                             jstr(row, "dispatch"));
    }
    static const char *const ids[] = {"unit", "year"};
    gather_findings(findings, units, ids, 2);
    *out = r;
    return TZ_OK;
}

/* ---- eligibility ---------------------------------------------------------------- */

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

/* Days in the union of the [start, end] pairs of intervals (a JSON array of
 * [start, end] day numbers). */
static int64_t union_days(const json_t *intervals)
{
    size_t n = json_array_size(intervals);
    if (n == 0)
        return 0;
    int64_t *iv = calloc(n * 2, sizeof *iv);
    if (iv == NULL)
        return 0;
    for (size_t i = 0; i < n; i++) {
        json_t *p = json_array_get(intervals, i);
        iv[2 * i] = json_integer_value(json_array_get(p, 0));
        iv[2 * i + 1] = json_integer_value(json_array_get(p, 1));
    }
    qsort(iv, n, 2 * sizeof *iv, cmp_i64); /* by start */
    int64_t total = 0, cs = iv[0], ce = iv[1];
    for (size_t i = 1; i < n; i++) {
        if (iv[2 * i] <= ce + 1) {
            if (iv[2 * i + 1] > ce)
                ce = iv[2 * i + 1];
        } else {
            total += ce - cs + 1;
            cs = iv[2 * i];
            ce = iv[2 * i + 1];
        }
    }
    total += ce - cs + 1;
    free(iv);
    return total;
}

static void append_seqs(json_t *dst, const json_t *src)
{
    size_t i;
    json_t *v;
    json_array_foreach(src, i, v) {
        size_t j;
        json_t *w;
        int dup = 0;
        json_array_foreach(dst, j, w)
            dup |= json_integer_value(w) == json_integer_value(v);
        if (!dup)
            json_array_append(dst, v);
    }
}

static int cmp_json_int(const void *a, const void *b)
{
    json_int_t x = json_integer_value(*(json_t *const *)a);
    json_int_t y = json_integer_value(*(json_t *const *)b);
    return x < y ? -1 : x > y;
}

/* Sorts an array of seqs in place, ascending. */
static void sort_seqs(json_t *a)
{
    size_t n = json_array_size(a);
    json_t **items = calloc(n ? n : 1, sizeof *items);
    if (items == NULL)
        return;
    for (size_t i = 0; i < n; i++)
        items[i] = json_incref(json_array_get(a, i));
    qsort(items, n, sizeof *items, cmp_json_int);
    json_array_clear(a);
    for (size_t i = 0; i < n; i++)
        json_array_append_new(a, items[i]);
    free(items);
}

static json_t *why(const char *code, const char *clause, const json_t *explain, const char *fmt,
                   ...) TZ_PRINTF(4, 5);
static json_t *why(const char *code, const char *clause, const json_t *explain, const char *fmt,
                   ...)
{
    char text[500];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    json_t *w = json_pack("{s:s,s:s,s:[]}", "code", code, "text", text, "explain");
    if (clause != NULL && clause[0] != '\0')
        json_object_set_new(w, "clause", json_string(clause));
    append_seqs(json_object_get(w, "explain"), explain);
    return w;
}

static int keep_stationed(qctx *c, json_t *row)
{
    return strcmp(jstr(row, "status"), "pending") != 0;
}

static int eligibility_one(const tz_query *q, const tz_profile *p, int year, json_t *row,
                           json_t *findings, tz_err *err)
{
    const char *person = jstr(row, "person");
    int64_t jan1 = tz_time_days_from_civil(year, 1, 1);
    int64_t dec31 = tz_time_days_from_civil(year, 12, 31);
    int64_t diy = dec31 - jan1 + 1, days = union_days(json_object_get(row, "intervals"));
    json_object_del(row, "intervals");
    json_t *whys = json_array();
    json_object_set_new(row, "days_stationed", json_integer(days));
    json_object_set_new(row, "days_in_year", json_integer(diy));
    char clause[TZ_PROFILE_ID_MAX + TZ_CLAUSE_MAX + 2];
    int eligible = days > 0;
    cite(clause, sizeof clause, p, p->assessment.eligibility_clause);
    if (p->assessment.more_than_half_year) {
        eligible = days * 2 > diy;
        json_array_append_new(whys, why(eligible ? "stationed" : "not_stationed_half_year", clause,
                                        json_object_get(row, "explain"), "stationed %lld of %lld "
                                        "days in %d: %smore than half the year",
                                        (long long)days, (long long)diy, year,
                                        eligible ? "" : "not "));
    } else {
        json_array_append_new(whys, why("stationed", "", json_object_get(row, "explain"),
                                        "stationed %lld of %lld days in %d (the profile sets no "
                                        "minimum)", (long long)days, (long long)diy, year));
    }
    tz_grade best = TZ_GRADE_EXCELLENT, forced = TZ_GRADE_NONE;
    char ys[8], subject[TZ_VIEW_KEY_MAX];
    snprintf(ys, sizeof ys, "%04d", year);
    size_t sl = tz_view_subject(subject, sizeof subject, person, ys, NULL);
    json_t *abs = NULL, *grade = NULL;
    int rc = TZ_OK;
    if (sl > 0) {
        rc = tz_view_get(q->store, "absence", subject, sl, q->as_of, &abs, err);
        if (rc == TZ_ERR_NOTFOUND)
            rc = TZ_OK;
        if (rc == TZ_OK)
            rc = tz_view_get(q->store, "grade", subject, sl, q->as_of, &grade, err);
        if (rc == TZ_ERR_NOTFOUND)
            rc = TZ_OK;
    }
    if (rc != TZ_OK) {
        json_decref(whys);
        json_decref(abs);
        return rc;
    }
    json_int_t nabs = json_integer_value(json_object_get(abs, "count"));
    json_object_set_new(row, "absences", json_integer(nabs));
    for (size_t i = 0; i < p->assessment.ncaps; i++) {
        const tz_profile_absence_cap *cap = &p->assessment.caps[i];
        if (nabs < cap->absences)
            continue;
        cite(clause, sizeof clause, p, cap->clause);
        if (cap->forced_grade != TZ_GRADE_NONE) {
            forced = cap->forced_grade;
            json_array_append_new(whys, why("absences", clause, json_object_get(abs, "explain"),
                                            "found absent without reason %lld time(s) in %d; "
                                            "from %d: grade %s only", (long long)nabs, year,
                                            cap->absences, tz_grade_name(cap->forced_grade)));
        } else if (cap->max_grade != TZ_GRADE_NONE) {
            if (cap->max_grade < best)
                best = cap->max_grade;
            json_array_append_new(whys, why("absences", clause, json_object_get(abs, "explain"),
                                            "found absent without reason %lld time(s) in %d; "
                                            "from %d: at most %s", (long long)nabs, year,
                                            cap->absences, tz_grade_name(cap->max_grade)));
        }
    }
    /* recalls dated in the year */
    json_t *recalls = json_array();
    static const char *const names[] = {"person", "dispatch"};
    qctx c;
    qctx_init(&c, q, recalls, names, 2, err);
    tz_query sub = *q;
    sub.village = sub.township = sub.unit = NULL;
    sub.person = person;
    sub.month = 0;
    sub.year = year;
    c.q = &sub;
    c.keep = keep_recall;
    rc = collect(&c, "recall", person, NULL);
    json_decref(c.townships);
    size_t i;
    json_t *rec;
    json_array_foreach(recalls, i, rec) {
        if (p->assessment.recalled_max_grade != TZ_GRADE_NONE) {
            cite(clause, sizeof clause, p, p->assessment.recalled_clause);
            if (p->assessment.recalled_max_grade < best)
                best = p->assessment.recalled_max_grade;
            json_array_append_new(whys, why("recalled", clause, json_object_get(rec, "explain"),
                                            "recalled on %s (%s): at most %s", jstr(rec, "date"),
                                            jstr(rec, "reason"),
                                            tz_grade_name(p->assessment.recalled_max_grade)));
        }
        if (p->recall_consequences.no_excellent_that_year) {
            cite(clause, sizeof clause, p, p->recall_consequences.no_excellent_clause);
            if (TZ_GRADE_COMPETENT < best)
                best = TZ_GRADE_COMPETENT;
            json_array_append_new(whys, why("recalled", clause, json_object_get(rec, "explain"),
                                            "recalled on %s (%s): no 优秀 that year",
                                            jstr(rec, "date"), jstr(rec, "reason")));
        }
    }
    json_decref(recalls);
    if (forced != TZ_GRADE_NONE)
        best = forced;
    json_object_set_new(row, "eligible", json_boolean(eligible));
    json_object_set_new(row, "max_grade",
                        eligible ? json_string(tz_grade_name(best)) : json_null());
    if (forced != TZ_GRADE_NONE)
        json_object_set_new(row, "forced_grade", json_string(tz_grade_name(forced)));
    if (grade != NULL) {
        json_object_set(row, "assessed", json_object_get(grade, "grade"));
        json_object_set(row, "assessed_seq", json_object_get(grade, "seq"));
    }
    json_object_set_new(row, "why", whys);
    /* every seq behind the answer */
    json_t *ex = json_object_get(row, "explain");
    size_t k;
    json_t *w;
    json_array_foreach(whys, k, w)
        append_seqs(ex, json_object_get(w, "explain"));
    sort_seqs(ex);
    if (!eligible) {
        json_t *f = json_deep_copy(json_array_get(whys, 0));
        json_object_set_new(f, "code", json_string("not_eligible"));
        json_object_del(f, "explain");
        add_finding(findings, f, "person", person, "name", jstr(row, "name"));
    } else if (best < TZ_GRADE_EXCELLENT) {
        char text[600];
        size_t off = 0;
        sappend(text, sizeof text, &off, "%s %s: at most %s in %d", person, jstr(row, "name"),
                tz_grade_name(best), year);
        json_t *clauses = json_array();
        json_array_foreach(whys, k, w) {
            if (k == 0)
                continue;
            sappend(text, sizeof text, &off, "; %s", jstr(w, "text"));
            int seen = 0;
            size_t m;
            json_t *cl;
            json_array_foreach(clauses, m, cl)
                seen |= strcmp(json_string_value(cl), jstr(w, "clause")) == 0;
            if (jhas(w, "clause") && !seen)
                json_array_append_new(clauses, json_string(jstr(w, "clause")));
        }
        json_t *f = finding("grade_capped", json_string_value(json_array_get(clauses, 0)), "%s",
                            text);
        json_object_set_new(f, "max_grade", json_string(tz_grade_name(best)));
        json_object_set_new(f, "clauses", clauses);
        add_finding(findings, f, "person", person, "name", jstr(row, "name"));
    }
    json_decref(abs);
    json_decref(grade);
    return rc;
}

int tz_query_eligibility(const tz_query *q, json_t **out, tz_err *err)
{
    *out = NULL;
    int rc = check_filters(q, "eligibility", F_YEAR | F_PERSON | F_VILLAGE | F_TOWNSHIP | F_UNIT,
                           F_YEAR, err);
    if (rc != TZ_OK)
        return rc;
    if (q->month != 0)
        return tz_err_set(err, TZ_ERR_USAGE, "eligibility: give --year, not --month");
    int64_t asof_day;
    if ((rc = reference_day(q, &asof_day, err)) != TZ_OK)
        return rc;
    int year = q->year;
    int64_t jan1 = tz_time_days_from_civil(year, 1, 1);
    int64_t dec31 = tz_time_days_from_civil(year, 12, 31);
    int64_t pday = dec31 < asof_day ? dec31 : asof_day;
    tz_profile *p = profile_at(q, pday, &rc, err);
    if (p == NULL)
        return rc != TZ_OK ? rc : tz_err_set(err, TZ_ERR_NOTFOUND, "eligibility: no policy "
                                            "profile was in force in %d as of seq %llu", year,
                                            (unsigned long long)q->as_of);
    json_t *r = result_new("eligibility", q);
    json_t *terms = json_array(), *people = json_object(), *order = json_array();
    json_object_set_new(r, "profile", json_string(p->id));
    json_object_set_new(r, "year", json_integer(year));
    /* all terms of the person (or everyone); the village filter applies to
     * the person's dispatches in the year, below */
    static const char *const names[] = {"person", "dispatch"};
    qctx c;
    tz_query sub = *q;
    sub.village = sub.township = NULL;
    qctx_init(&c, &sub, terms, names, 2, err);
    c.keep = keep_stationed;
    size_t i;
    json_t *t;
    if (q->person == NULL && q->village != NULL) {
        /* one village: its roster names the people, whose terms are read
         * by person (a seek each), not by scanning every term */
        static const char *const rnames[] = {"village", "dispatch"};
        json_t *members = json_array(), *seen = json_object();
        qctx rcx;
        tz_query rq = *q;
        rq.person = NULL;
        qctx_init(&rcx, &rq, members, rnames, 2, err);
        rc = collect(&rcx, "roster", q->village, NULL);
        json_decref(rcx.townships);
        json_array_foreach(members, i, t) {
            const char *person = jstr(t, "person");
            if (rc != TZ_OK || json_object_get(seen, person) != NULL)
                continue;
            json_object_set_new(seen, person, json_true());
            rc = collect(&c, "term", person, NULL);
        }
        json_decref(members);
        json_decref(seen);
    } else {
        rc = collect(&c, "term", q->person, NULL);
    }
    json_array_foreach(terms, i, t) {
        if (rc != TZ_OK)
            break;
        int64_t s = jday(t, "start"), e = jhas(t, "end") ? jday(t, "end") : jday(t, "planned_end");
        if (s == INT64_MIN || e == INT64_MIN)
            continue;
        if (s < jan1)
            s = jan1;
        if (e > dec31)
            e = dec31;
        if (e < s)
            continue;
        const char *person = jstr(t, "person");
        json_t *row = json_object_get(people, person);
        if (row == NULL) {
            row = json_pack("{s:s,s:s,s:[],s:[],s:[],s:[]}", "person", person, "name",
                            jstr(t, "name"), "dispatches", "villages", "intervals", "explain");
            json_object_set_new(people, person, row);
            json_array_append_new(order, json_string(person));
        }
        json_object_set(row, "role", json_object_get(t, "role"));
        json_object_set(row, "unit", json_object_get(t, "unit"));
        json_object_set(row, "village", json_object_get(t, "village"));
        json_object_set(row, "township", json_object_get(t, "township"));
        json_array_append_new(json_object_get(row, "dispatches"), json_string(jstr(t, "dispatch")));
        json_array_append_new(json_object_get(row, "villages"), json_string(jstr(t, "village")));
        json_array_append_new(json_object_get(row, "intervals"), json_pack("[I,I]", (json_int_t)s,
                                                                          (json_int_t)e));
        append_seqs(json_object_get(row, "explain"), json_object_get(t, "explain"));
    }
    json_t *rows = json_object_get(r, "rows"), *findings = json_object_get(r, "findings");
    json_t *pid;
    json_array_foreach(order, i, pid) {
        if (rc != TZ_OK)
            break;
        json_t *row = json_object_get(people, json_string_value(pid));
        int in_scope = q->village == NULL && q->township == NULL;
        size_t j;
        json_t *v;
        json_array_foreach(json_object_get(row, "villages"), j, v) {
            const char *tw = "";
            if (q->village != NULL && strcmp(json_string_value(v), q->village) == 0)
                in_scope = 1;
            if (q->township != NULL) {
                if ((rc = township_of(&c, json_string_value(v), &tw)) != TZ_OK)
                    break;
                if (strcmp(tw, q->township) == 0)
                    in_scope = 1;
            }
        }
        if (rc != TZ_OK || !in_scope)
            continue;
        if ((rc = eligibility_one(q, p, year, row, findings, err)) != TZ_OK)
            break;
        json_array_append(rows, row);
    }
    json_decref(c.townships);
    json_decref(terms);
    json_decref(people);
    json_decref(order);
    free(p);
    if (rc != TZ_OK) {
        json_decref(r);
        return rc;
    }
    *out = r;
    return TZ_OK;
}

/* ---- allowance ------------------------------------------------------------------ */

int tz_query_allowance(const tz_query *q, json_t **out, tz_err *err)
{
    *out = NULL;
    int rc = check_filters(q, "allowance", F_PERSON | F_VILLAGE | F_TOWNSHIP | F_YEAR | F_MONTH,
                           0, err);
    if (rc != TZ_OK)
        return rc;
    json_t *r = result_new("allowance", q);
    if (r == NULL)
        return nomem(err);
    char period[16];
    period_prefix(q, period);
    json_t *sheets = json_array();
    static const char *const names[] = {"person", "month"};
    qctx c;
    qctx_init(&c, q, sheets, names, 2, err);
    c.period = period;
    rc = collect(&c, "attendance", q->person, q->person ? period : NULL);
    json_decref(c.townships);
    if (rc != TZ_OK) {
        json_decref(sheets);
        json_decref(r);
        return rc;
    }
    json_t *rows = json_object_get(r, "rows"), *totals = json_array(), *byp = json_object();
    json_int_t total = 0, total_days = 0;
    size_t i;
    json_t *s;
    json_array_foreach(sheets, i, s) {
        int complete = strcmp(jstr(s, "status"), "complete") == 0;
        json_int_t fen = json_integer_value(json_object_get(s, "allowance_fen"));
        json_int_t days = complete ? json_integer_value(json_object_get(s, "in_village")) : 0;
        json_t *row = json_pack("{s:s,s:s,s:s,s:I,s:O,s:I,s:s,s:O}", "person", jstr(s, "person"),
                                "month", jstr(s, "month"), "village", jstr(s, "village"), "days",
                                days, "rate_fen", json_object_get(s, "rate_fen") ?
                                json_object_get(s, "rate_fen") : json_null(), "allowance_fen",
                                fen, "status", jstr(s, "status"), "explain",
                                json_object_get(s, "explain") ? json_object_get(s, "explain") :
                                json_null());
        json_object_set(row, "seq", json_object_get(s, "seq"));
        json_array_append_new(rows, row);
        json_t *t = json_object_get(byp, jstr(s, "person"));
        if (t == NULL) {
            t = json_pack("{s:s,s:i,s:I,s:I}", "person", jstr(s, "person"), "months", 0, "days",
                          (json_int_t)0, "allowance_fen", (json_int_t)0);
            json_object_set_new(byp, jstr(s, "person"), t);
            json_array_append(totals, t);
        }
        json_integer_set(json_object_get(t, "months"),
                         json_integer_value(json_object_get(t, "months")) + 1);
        json_integer_set(json_object_get(t, "days"),
                         json_integer_value(json_object_get(t, "days")) + days);
        json_integer_set(json_object_get(t, "allowance_fen"),
                         json_integer_value(json_object_get(t, "allowance_fen")) + fen);
        total += fen;
        total_days += days;
        if (!complete)
            add_finding(json_object_get(r, "findings"),
                        finding("unsigned", NULL, "the sheet of %s is not complete: no "
                                "allowance is paid on it until signed", jstr(s, "month")),
                        "person", jstr(s, "person"), "month", jstr(s, "month"));
    }
    json_object_set_new(r, "totals", totals);
    json_object_set_new(r, "total_days", json_integer(total_days));
    json_object_set_new(r, "total_fen", json_integer(total));
    json_decref(byp);
    json_decref(sheets);
    *out = r;
    return TZ_OK;
}

/* ---- dispatch by name ----------------------------------------------------------- */

int tz_query_run(const char *name, const tz_query *q, json_t **out, tz_err *err)
{
    static const struct {
        const char *name;
        int (*fn)(const tz_query *, json_t **, tz_err *);
    } queries[] = {
        {"roster", tz_query_roster},         {"attendance", tz_query_attendance},
        {"leave", tz_query_leave},           {"absences", tz_query_absences},
        {"handover", tz_query_handover},     {"term", tz_query_term},
        {"recall", tz_query_recall},         {"grade", tz_query_grade},
        {"eligibility", tz_query_eligibility}, {"allowance", tz_query_allowance},
    };
    *out = NULL;
    /* the filters come from outside (query parameters, options): the
     * statement id's bound, so no key or message built from one is cut */
    const char *const filters[] = {q->village, q->township, q->person, q->unit};
    static const char *const param_names[] = {"village", "township", "person", "unit"};
    for (size_t i = 0; i < 4; i++)
        if (filters[i] != NULL && tz_text_check(param_names[i], filters[i], strlen(filters[i]),
                                                TZ_STATEMENT_ID_MAX, err) != TZ_OK)
            return TZ_ERR_INPUT;
    for (size_t i = 0; i < sizeof queries / sizeof queries[0]; i++)
        if (strcmp(queries[i].name, name) == 0)
            return queries[i].fn(q, out, err);
    return tz_err_set(err, TZ_ERR_USAGE, "no query named \"%s\"", name);
}

/* ---- diff ----------------------------------------------------------------------- */

typedef struct diff_ctx {
    json_t *groups;   /* key -> {view, subject, raw (hex), seqs} */
    json_t *order;    /* keys in order of first change */
} diff_ctx;

static int diff_cb(void *ctx, uint64_t seq, const char *view, const char *subject, size_t len)
{
    diff_ctx *d = ctx;
    char key[TZ_VIEW_KEY_MAX + 80];
    size_t vl = strlen(view);
    if (vl + 1 + len >= sizeof key)
        return 0;
    memcpy(key, view, vl);
    key[vl] = '\n';
    for (size_t i = 0; i < len; i++)
        key[vl + 1 + i] = subject[i] == '\0' ? '\n' : subject[i];
    key[vl + 1 + len] = '\0';
    json_t *g = json_object_get(d->groups, key);
    if (g == NULL) {
        json_t *parts = json_array();
        size_t start = 0;
        for (size_t i = 0; i <= len; i++)
            if (i == len || subject[i] == '\0') {
                json_array_append_new(parts, json_stringn(subject + start, i - start));
                start = i + 1;
            }
        g = json_pack("{s:s,s:o,s:[]}", "view", view, "subject", parts, "seqs");
        json_object_set_new(d->groups, key, g);
        json_array_append_new(d->order, json_string(key));
    }
    json_array_append_new(json_object_get(g, "seqs"), json_integer((json_int_t)seq));
    return 0;
}

static json_t *changed_fields(const json_t *a, const json_t *b)
{
    json_t *out = json_array();
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)a, k, v) {
        if (strcmp(k, "seq") == 0 || strcmp(k, "explain") == 0)
            continue;
        if (!json_equal(v, json_object_get(b, k)))
            json_array_append_new(out, json_string(k));
    }
    json_object_foreach((json_t *)b, k, v) {
        if (strcmp(k, "seq") == 0 || strcmp(k, "explain") == 0)
            continue;
        if (json_object_get(a, k) == NULL)
            json_array_append_new(out, json_string(k));
    }
    return out;
}

static void value_text(char *out, size_t cap, const json_t *v)
{
    if (v == NULL) {
        snprintf(out, cap, "(none)");
    } else if (json_is_string(v)) {
        snprintf(out, cap, "%s", json_string_value(v));
    } else if (json_is_array(v)) {
        snprintf(out, cap, "%zu item(s)", json_array_size(v));
    } else if (json_is_object(v)) {
        snprintf(out, cap, "{...}");
    } else {
        char *s = json_dumps(v, JSON_ENCODE_ANY);
        snprintf(out, cap, "%s", s ? s : "?");
        free(s);
    }
}

/* A line for a clerk: "status active -> recalled; end (none) -> 2024-07-16"; for a new
 * document its status-like members. */
static void diff_summary(char *out, size_t cap, const json_t *fields, const json_t *before,
                         const json_t *after)
{
    static const char *const key_fields[] = {"status", "count", "grade", "date", "reason",
                                             "from", "to", "in_village", "days"};
    size_t off = 0, i;
    json_t *f;
    char a[200], b[200];
    out[0] = '\0';
    if (before == NULL || after == NULL) {
        const json_t *doc = after ? after : before;
        sappend(out, cap, &off, "%s", after ? "new" : "removed");
        int first = 1;
        for (i = 0; doc != NULL && i < sizeof key_fields / sizeof key_fields[0]; i++) {
            json_t *v = json_object_get(doc, key_fields[i]);
            if (v == NULL || json_is_array(v) || json_is_object(v))
                continue;
            value_text(a, sizeof a, v);
            sappend(out, cap, &off, "%s%s %s", first ? ": " : ", ", key_fields[i], a);
            first = 0;
        }
        return;
    }
    json_array_foreach(fields, i, f) {
        const char *k = json_string_value(f);
        value_text(a, sizeof a, json_object_get(before, k));
        value_text(b, sizeof b, json_object_get(after, k));
        sappend(out, cap, &off, "%s%s %s -> %s", i ? "; " : "", k, a, b);
    }
}

int tz_query_diff(tz_store *store, uint64_t from, uint64_t to, json_t **out, tz_err *err)
{
    *out = NULL;
    if (from >= to)
        return tz_err_set(err, TZ_ERR_USAGE, "diff: --from (%llu) must be before --to (%llu)",
                          (unsigned long long)from, (unsigned long long)to);
    diff_ctx d = {json_object(), json_array()};
    int rc = tz_view_changes(store, from, to, diff_cb, &d, err);
    json_t *r = json_pack("{s:s,s:I,s:I,s:[]}", "query", "diff", "from", (json_int_t)from, "to",
                          (json_int_t)to, "rows");
    json_t *rows = json_object_get(r, "rows");
    size_t i;
    json_t *k;
    json_array_foreach(d.order, i, k) {
        if (rc != TZ_OK)
            break;
        json_t *g = json_object_get(d.groups, json_string_value(k));
        const char *view = jstr(g, "view");
        char subject[TZ_VIEW_KEY_MAX];
        size_t sl = 0, j;
        json_t *part;
        json_array_foreach(json_object_get(g, "subject"), j, part) {
            const char *s = json_string_value(part);
            size_t pl = strlen(s);
            if (sl + pl + 1 > sizeof subject)
                break;
            if (j > 0)
                subject[sl++] = '\0';
            memcpy(subject + sl, s, pl);
            sl += pl;
        }
        json_t *before = NULL, *after = NULL;
        rc = tz_view_get(store, view, subject, sl, from, &before, err);
        if (rc == TZ_ERR_NOTFOUND)
            rc = tz_view_get(store, view, subject, sl, to, &after, err);
        else if (rc == TZ_OK)
            rc = tz_view_get(store, view, subject, sl, to, &after, err);
        if (rc == TZ_ERR_NOTFOUND)
            rc = TZ_OK;
        if (rc != TZ_OK) {
            json_decref(before);
            json_decref(after);
            break;
        }
        const char *change = before == NULL ? (after == NULL ? "added_and_removed" : "added")
                                            : after == NULL ? "removed" : "updated";
        json_t *empty = json_object();
        json_t *fields = changed_fields(before ? before : empty, after ? after : empty);
        json_decref(empty);
        char summary[600];
        diff_summary(summary, sizeof summary, fields, before, after);
        json_t *row = json_pack("{s:s,s:O,s:O,s:s,s:o,s:s,s:o,s:o}", "view", view, "subject",
                                json_object_get(g, "subject"), "seqs", json_object_get(g, "seqs"),
                                "change", change, "fields", fields, "summary", summary, "before",
                                before ? before : json_null(), "after",
                                after ? after : json_null());
        json_array_append_new(rows, row);
    }
    json_decref(d.groups);
    json_decref(d.order);
    if (rc != TZ_OK) {
        json_decref(r);
        return rc;
    }
    *out = r;
    return TZ_OK;
}

/* ---- explain -------------------------------------------------------------------- */

typedef struct explain_ctx {
    tz_store *store;
    tz_store_batch *batch;
    json_t *cache;     /* "seq" -> summary */
    tz_err *err;
} explain_ctx;

static int entry_summary(explain_ctx *x, uint64_t seq, json_t **out)
{
    char sk[24];
    snprintf(sk, sizeof sk, "%llu", (unsigned long long)seq);
    json_t *hit = json_object_get(x->cache, sk);
    if (hit != NULL) {
        *out = json_incref(hit);
        return TZ_OK;
    }
    uint8_t key[8], *raw = NULL;
    size_t len = 0;
    tz_store_key_u64(key, seq);
    int rc = tz_store_get(x->store, TZ_CF_ENTRIES, key, 8, &raw, &len, x->err);
    if (rc != TZ_OK)
        return rc;
    tz_entry e;
    tz_statement st;
    msgpack_zone zone;
    if (!msgpack_zone_init(&zone, 4096)) {
        tz_store_free(raw);
        return nomem(x->err);
    }
    json_t *s = NULL;
    if ((rc = tz_entry_decode(&e, raw, len, x->err)) == TZ_OK &&
        (rc = tz_statement_decode(&st, &zone, e.statement, e.statement_len, x->err)) == TZ_OK) {
        char rec[TZ_TIME_RFC3339_MAX];
        tz_time_format_micros(rec, e.recorded_at);
        s = json_object();
        json_object_set_new(s, "seq", json_integer((json_int_t)seq));
        json_object_set_new(s, "type", json_stringn(st.type, st.type_len));
        json_object_set_new(s, "id", json_stringn(st.id, st.id_len));
        json_object_set_new(s, "at", json_stringn(st.at, st.at_len));
        json_object_set_new(s, "recorded_at", json_string(rec));
        if (tz_statement_is(&st, "cosign")) {
            const msgpack_object *t = tz_codec_map_get(st.body, "seq");
            if (t != NULL && t->type == MSGPACK_OBJECT_POSITIVE_INTEGER)
                json_object_set_new(s, "cosigns", json_integer((json_int_t)t->via.u64));
        }
        json_t *signers = json_array();
        for (size_t i = 0; i < e.nsigs; i++) {
            tz_key_record kr;
            if (tz_apply_key_get(x->batch, e.sigs[i].key, &kr, NULL) == TZ_OK) {
                json_array_append_new(signers, json_string(kr.name));
            } else {
                char hex[17];
                tz_hex_encode(hex, e.sigs[i].key, 8);
                json_array_append_new(signers, json_string(hex));
            }
        }
        json_object_set_new(s, "signers", signers);
        json_object_set(x->cache, sk, s);
    }
    msgpack_zone_destroy(&zone);
    tz_store_free(raw);
    *out = s;
    return rc;
}

static int explain_walk(explain_ctx *x, json_t *v)
{
    int rc = TZ_OK;
    if (json_is_object(v)) {
        json_t *ex = json_object_get(v, "explain");
        if (json_is_array(ex) && json_object_get(v, "explained") == NULL) {
            json_t *list = json_array();
            size_t i;
            json_t *s;
            json_array_foreach(ex, i, s) {
                json_t *one = NULL;
                if (!json_is_integer(s))
                    continue;
                if ((rc = entry_summary(x, (uint64_t)json_integer_value(s), &one)) != TZ_OK)
                    break;
                json_array_append_new(list, one);
            }
            json_object_set_new(v, "explained", list);
            if (rc != TZ_OK)
                return rc;
        }
        const char *k;
        json_t *c;
        json_object_foreach(v, k, c) {
            if (strcmp(k, "explained") == 0)
                continue;
            if ((rc = explain_walk(x, c)) != TZ_OK)
                return rc;
        }
    } else if (json_is_array(v)) {
        size_t i;
        json_t *c;
        json_array_foreach(v, i, c)
            if ((rc = explain_walk(x, c)) != TZ_OK)
                return rc;
    }
    return rc;
}

int tz_query_explain(tz_store *store, json_t *doc, tz_err *err)
{
    explain_ctx x = {store, tz_store_batch_new(store), json_object(), err};
    if (x.batch == NULL) {
        json_decref(x.cache);
        return nomem(err);
    }
    int rc = explain_walk(&x, doc);
    tz_store_batch_free(x.batch);
    json_decref(x.cache);
    return rc;
}
