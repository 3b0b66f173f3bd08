/*
 * domain.c: deciding the records of the mission (see domain.h).
 *
 * Workload: a county writes a few thousand of these a month (one sheet per
 * cadre-month, a few leaves, spot checks), against a few hundred cadres, so
 * every decision is a handful of point reads of small records. State is
 * read and written as JSON objects (jansson) and stored through the
 * canonical codec, which sorts the keys: records stay readable in a dump,
 * and there is one encoder, not one hand-written packer per record.
 *
 * The order of checks in each handler is: body shape (TZ_ERR_INPUT), the
 * profile in force, references (unknown or retired: TZ_ERR_RULE), the
 * rules of the profile (TZ_ERR_RULE naming "(profile clause)"), then who
 * signed (TZ_ERR_FORBIDDEN). Office roles act only within their scope, and
 * root or "authority" keys administer (registries, adoptions) but never act
 * as an office: an approval by someone without the office is exactly the
 * falsification this ledger is for.
 *
 * Records awaiting several signatures (a dispatch's approval chain, the two
 * secretaries of an attendance sheet, the parties of a handover) keep a
 * "need" list: each item is one required signer, written as alternatives
 * separated by '|', each a role name or "cadre:<person>". A key satisfies
 * at most one item of one entry; cosign entries supply the rest.
 */
#include "projections/domain.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/hash.h"
#include "ledger/codec.h"
#include "ledger/entry.h"
#include "projections/calendar.h"
#include "projections/view.h"
#include "util/encoding.h"
#include "util/time.h"

#define FIELD_MAX 256           /* bytes of a name, reason or note */
#define KEY_MAX 512             /* bytes of a state key */
#define LIST_MAX 4096           /* dispatches or leaves kept per person */
#define SUBJECTS_MAX 6          /* persons and villages one entry concerns */

typedef struct dctx {
    tz_apply_ctx *ctx;
    json_t *body;
    char type[TZ_STATEMENT_TYPE_MAX + 1];
    char id[TZ_STATEMENT_ID_MAX + 1];
    int64_t at_day;             /* local date written in `at` */
    char at_date[11];
    const tz_profile *prof;     /* loaded by need_profile */
    tz_profile prof_storage;
    /* The persons and the village this entry concerns, for the subject
     * index (tz_view_subject_put), noted as the handler resolves them. */
    struct {
        const char *kind;       /* "person" or "village" */
        char id[TZ_STATEMENT_ID_MAX + 1];
    } subj[SUBJECTS_MAX];
    size_t nsubj;
} dctx;

/* What an office must cover: the village of the act, the persons and their
 * units. Any member may be NULL. */
typedef struct target {
    const char *village, *township, *county, *city, *province;
    const char *person[2];
    const char *unit[2];
    const char *unit_county[2];
} target;

/* ---- dates -------------------------------------------------------------- */

static void fmt_day(char out[11], int64_t day)
{
    tz_time_format_date(out, day);
}



/* China time (UTC+8, no daylight saving) date of a recorded_at. */
static int64_t china_day(uint64_t micros)
{
    return (int64_t)((micros / 1000000u + 8u * 3600u) / 86400u);
}

static int64_t jday(const json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));
    int64_t day;
    if (s == NULL || tz_time_parse_date(s, strlen(s), k, &day, NULL) != TZ_OK)
        return INT64_MIN;
    return day;
}

static void jset_day(json_t *o, const char *k, int64_t day)
{
    char buf[11];
    fmt_day(buf, day);
    json_object_set_new(o, k, json_string(buf));
}

static const char *jstr(const json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));
    return s != NULL ? s : "";
}

/* ---- body fields -------------------------------------------------------- */

static int f_fields(dctx *d, const char *const *allowed, size_t n, tz_err *err)
{
    const char *k;
    json_t *v;
    json_object_foreach(d->body, k, v) {
        size_t i;
        for (i = 0; i < n; i++)
            if (strcmp(k, allowed[i]) == 0)
                break;
        if (i == n)
            return tz_err_set(err, TZ_ERR_INPUT, "body.%s: unknown field for %s", k, d->type);
    }
    return TZ_OK;
}

/* A string member of 1..max bytes without NUL; optional ones may be absent (*out NULL). */
static int f_str(dctx *d, const char *name, size_t max, int optional, const char **out,
                 tz_err *err)
{
    json_t *v = json_object_get(d->body, name);
    *out = NULL;
    if (v == NULL)
        return optional ? TZ_OK : tz_err_set(err, TZ_ERR_INPUT, "body.%s: missing", name);
    if (!json_is_string(v))
        return tz_err_set(err, TZ_ERR_INPUT, "body.%s: must be a string", name);
    size_t len = json_string_length(v);
    if (len == 0 || len > max)
        return tz_err_set(err, TZ_ERR_INPUT, "body.%s: must be 1..%zu bytes (is %zu)", name, max,
                          len);
    if (memchr(json_string_value(v), 0, len) != NULL)
        return tz_err_set(err, TZ_ERR_INPUT, "body.%s: must not contain a NUL byte", name);
    *out = json_string_value(v);
    return TZ_OK;
}

/* A registry or statement id: the statement id alphabet, 1..128 bytes. */
static int f_ref(dctx *d, const char *name, const char **out, tz_err *err)
{
    int rc = f_str(d, name, TZ_STATEMENT_ID_MAX, 0, out, err);
    if (rc == TZ_OK && (rc = tz_statement_check_id(*out, strlen(*out), err)) != TZ_OK)
        tz_err_prefix(err, "body.%s: ", name);
    return rc;
}

static int f_date(dctx *d, const char *name, int64_t *day, tz_err *err)
{
    const char *s;
    int rc = f_str(d, name, 10, 0, &s, err);
    if (rc != TZ_OK)
        return rc;
    char field[40];
    snprintf(field, sizeof field, "body.%s", name);
    return tz_time_parse_date(s, strlen(s), field, day, err);
}

static int f_int(dctx *d, const char *name, int64_t min, int64_t max, int64_t *out, tz_err *err)
{
    *out = 0; /* written on every path, also on error */
    json_t *v = json_object_get(d->body, name);
    if (v == NULL)
        return tz_err_set(err, TZ_ERR_INPUT, "body.%s: missing", name);
    if (!json_is_integer(v) || json_integer_value(v) < min || json_integer_value(v) > max)
        return tz_err_set(err, TZ_ERR_INPUT, "body.%s: must be an integer %lld..%lld", name,
                          (long long)min, (long long)max);
    *out = json_integer_value(v);
    return TZ_OK;
}

static int f_enum(dctx *d, const char *name, const char *const *vals, size_t n, size_t *idx,
                  tz_err *err)
{
    const char *s;
    int rc = f_str(d, name, 64, 0, &s, err);
    if (rc != TZ_OK)
        return rc;
    for (size_t i = 0; i < n; i++)
        if (strcmp(s, vals[i]) == 0) {
            *idx = i;
            return TZ_OK;
        }
    char list[512];
    size_t off = 0;
    for (size_t i = 0; i < n && off < sizeof list; i++)
        off += (size_t)snprintf(list + off, sizeof list - off, "%s%s", i ? ", " : "", vals[i]);
    return tz_err_set(err, TZ_ERR_INPUT, "body.%s: \"%s\" is not one of %s", name, s, list);
}

/* ---- state records ------------------------------------------------------ */

/* kind "\0" a ["\0" b ["\0" c]] */
static size_t skey(char out[KEY_MAX], const char *kind, const char *a, const char *b,
                   const char *c)
{
    const char *parts[4] = {kind, a, b, c};
    size_t off = 0;
    for (size_t i = 0; i < 4 && parts[i] != NULL; i++) {
        size_t len = strlen(parts[i]);
        if (off + len + 1 > KEY_MAX)
            len = KEY_MAX - off - 1;
        if (i > 0)
            out[off - 1] = '\0';
        memcpy(out + off, parts[i], len);
        off += len + 1;
    }
    return off - 1;
}

/* Reads a state record: TZ_OK with *out a new object, or TZ_ERR_NOTFOUND
 * with *out NULL. */
static int s_get(dctx *d, const char *key, size_t klen, json_t **out, tz_err *err)
{
    uint8_t *val = NULL;
    size_t len = 0;
    *out = NULL;
    int rc = tz_store_batch_get(d->ctx->batch, TZ_CF_INDEX, key, klen, &val, &len, err);
    if (rc != TZ_OK)
        return rc;
    msgpack_zone zone;
    if (!msgpack_zone_init(&zone, 4096)) {
        tz_store_free(val);
        return tz_err_set(err, TZ_ERR_NOMEM, "state: out of memory");
    }
    msgpack_object o;
    rc = tz_codec_decode(&o, &zone, val, len, NULL);
    if (rc == TZ_OK)
        *out = tz_codec_to_json(&o, NULL);
    if (*out == NULL || !json_is_object(*out)) {
        json_decref(*out);
        *out = NULL;
        rc = tz_err_set(err, TZ_ERR_IO, "state record \"%s\" is malformed (run verify)", key);
    }
    msgpack_zone_destroy(&zone);
    tz_store_free(val);
    return rc;
}

static int s_put(dctx *d, const char *key, size_t klen, json_t *obj, tz_err *err)
{
    json_object_set_new(obj, "seq", json_integer((json_int_t)d->ctx->seq));
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    int rc = tz_codec_from_json(&pk, obj, "state", err);
    if (rc == TZ_OK)
        tz_store_batch_put(d->ctx->batch, TZ_CF_INDEX, key, klen, sb.data, sb.size);
    msgpack_sbuffer_destroy(&sb);
    return rc;
}

static int s_get1(dctx *d, const char *kind, const char *a, json_t **out, tz_err *err)
{
    char k[KEY_MAX];
    size_t kl = skey(k, kind, a, NULL, NULL);
    return s_get(d, k, kl, out, err);
}

static int s_put1(dctx *d, const char *kind, const char *a, json_t *obj, tz_err *err)
{
    char k[KEY_MAX];
    size_t kl = skey(k, kind, a, NULL, NULL);
    return s_put(d, k, kl, obj, err);
}

/* A registry record that must exist and not be retired. */
static int load_registered(dctx *d, const char *kind, const char *field, const char *id,
                           json_t **out, tz_err *err)
{
    int rc = s_get1(d, kind, id, out, err);
    if (rc == TZ_ERR_NOTFOUND)
        return tz_err_set(err, TZ_ERR_RULE, "body.%s: no %s \"%s\" is registered (%s first)",
                          field, kind, id, strcmp(kind, "person") == 0 ? "person.register" :
                          strcmp(kind, "unit") == 0 ? "org.unit" : "org.village");
    if (rc != TZ_OK)
        return rc;
    if (json_object_get(*out, "retired_seq") != NULL) {
        rc = tz_err_set(err, TZ_ERR_RULE, "body.%s: %s \"%s\" was retired at seq %lld (%s)",
                        field, kind, id,
                        (long long)json_integer_value(json_object_get(*out, "retired_seq")),
                        jstr(*out, "retired_reason"));
        json_decref(*out);
        *out = NULL;
    }
    return rc;
}

/* A record of statement id that must be of type want. */
static int load_rec(dctx *d, const char *field, const char *id, const char *want, json_t **out,
                    tz_err *err)
{
    int rc = s_get1(d, "rec", id, out, err);
    if (rc == TZ_ERR_NOTFOUND)
        return tz_err_set(err, TZ_ERR_RULE, "body.%s: no %s \"%s\" on the ledger", field, want, id);
    if (rc != TZ_OK)
        return rc;
    if (strcmp(jstr(*out, "type"), want) != 0) {
        rc = tz_err_set(err, TZ_ERR_RULE, "body.%s: \"%s\" is a %s, not a %s", field, id,
                        jstr(*out, "type"), want);
        json_decref(*out);
        *out = NULL;
    }
    return rc;
}

/* ---- profile in force ---------------------------------------------------- */

static int load_adoption(dctx *d, uint64_t seq, const uint8_t want[32], tz_profile *out,
                         tz_err *err)
{
    uint8_t key[8], *raw = NULL;
    size_t len = 0;
    tz_store_key_u64(key, seq);
    int rc = tz_store_batch_get(d->ctx->batch, TZ_CF_ENTRIES, key, 8, &raw, &len, err);
    if (rc != TZ_OK)
        return rc == TZ_ERR_NOTFOUND ? tz_err_set(err, TZ_ERR_IO, "policy: adoption entry %llu "
                                                  "is missing (run verify)",
                                                  (unsigned long long)seq) : rc;
    tz_entry e;
    msgpack_zone zone;
    tz_statement st;
    uint8_t have[32];
    if (!msgpack_zone_init(&zone, 8192)) {
        tz_store_free(raw);
        return tz_err_set(err, TZ_ERR_NOMEM, "policy: out of memory");
    }
    rc = tz_entry_decode(&e, raw, len, err);
    if (rc == TZ_OK) {
        tz_hash_sha256(have, e.statement, e.statement_len);
        if (!tz_hash_equal(have, want, 32))
            rc = tz_err_set(err, TZ_ERR_IO, "policy: adoption entry %llu does not match its "
                            "index record (run verify)", (unsigned long long)seq);
    }
    if (rc == TZ_OK)
        rc = tz_statement_decode(&st, &zone, e.statement, e.statement_len, err);
    if (rc == TZ_OK) {
        const msgpack_object *p = tz_codec_map_get(st.body, "profile");
        rc = p == NULL ? tz_err_set(err, TZ_ERR_IO, "policy: adoption %llu has no profile",
                                    (unsigned long long)seq)
                       : tz_profile_parse(out, p, err);
    }
    msgpack_zone_destroy(&zone);
    tz_store_free(raw);
    return rc;
}

/* Sets d->prof to the profile in force on the statement's date. */
static int need_profile(dctx *d, tz_err *err)
{
    json_t *pol = NULL;
    int rc = s_get(d, "policy", 6, &pol, err);
    if (rc != TZ_OK && rc != TZ_ERR_NOTFOUND)
        return rc;
    json_t *best = NULL;
    size_t i;
    json_t *a;
    json_array_foreach(json_object_get(pol, "adoptions"), i, a) {
        const char *eff = json_string_value(json_array_get(a, 0));
        int64_t day;
        if (eff != NULL && tz_time_parse_date(eff, strlen(eff), "effective", &day, NULL) == TZ_OK &&
            day <= d->at_day)
            best = a;
    }
    if (best == NULL) {
        json_decref(pol);
        return tz_err_set(err, TZ_ERR_RULE, "%s: no policy profile is in force on %s (adopt one "
                          "with policy.adopt)", d->type, d->at_date);
    }
    uint64_t seq = (uint64_t)json_integer_value(json_array_get(best, 1));
    const char *hex = json_string_value(json_array_get(best, 2));
    uint8_t hash[32];
    size_t hlen = 0;
    if (hex == NULL || tz_hex_decode(hash, sizeof hash, &hlen, hex, strlen(hex), NULL) != TZ_OK ||
        hlen != 32) {
        json_decref(pol);
        return tz_err_set(err, TZ_ERR_IO, "policy record is malformed (run verify)");
    }
    json_decref(pol);
    tz_profile_cache *cache = d->ctx->profile_cache;
    if (cache != NULL && cache->valid && tz_hash_equal(cache->hash, hash, 32)) {
        d->prof = &cache->profile;
        return TZ_OK;
    }
    tz_profile *dst = cache != NULL ? &cache->profile : &d->prof_storage;
    if (cache != NULL)
        cache->valid = 0;
    if ((rc = load_adoption(d, seq, hash, dst, err)) != TZ_OK)
        return rc;
    if (cache != NULL) {
        memcpy(cache->hash, hash, 32);
        cache->valid = 1;
    }
    d->prof = dst;
    return TZ_OK;
}

int tz_domain_profile_at(tz_store *store, uint64_t as_of, int64_t day, tz_profile *out,
                         tz_err *err)
{
    uint8_t *val = NULL;
    size_t len = 0;
    int rc = tz_store_get(store, TZ_CF_INDEX, "policy", 6, &val, &len, err);
    if (rc == TZ_ERR_NOTFOUND)
        return tz_err_set(err, TZ_ERR_NOTFOUND, "no policy profile was ever adopted");
    if (rc != TZ_OK)
        return rc;
    msgpack_zone zone;
    if (!msgpack_zone_init(&zone, 4096)) {
        tz_store_free(val);
        return tz_err_set(err, TZ_ERR_NOMEM, "policy: out of memory");
    }
    msgpack_object o;
    json_t *pol = NULL;
    if (tz_codec_decode(&o, &zone, val, len, NULL) == TZ_OK)
        pol = tz_codec_to_json(&o, NULL);
    msgpack_zone_destroy(&zone);
    tz_store_free(val);
    json_t *best = NULL, *a;
    size_t i;
    json_array_foreach(json_object_get(pol, "adoptions"), i, a) {
        const char *eff = json_string_value(json_array_get(a, 0));
        int64_t d;
        if (eff != NULL && tz_time_parse_date(eff, strlen(eff), "effective", &d, NULL) == TZ_OK &&
            d <= day && (uint64_t)json_integer_value(json_array_get(a, 1)) <= as_of)
            best = a;
    }
    if (best == NULL) {
        json_decref(pol);
        return tz_err_set(err, TZ_ERR_NOTFOUND, "no policy profile was in force then");
    }
    uint64_t seq = (uint64_t)json_integer_value(json_array_get(best, 1));
    uint8_t key[8], *raw = NULL;
    json_decref(pol);
    tz_store_key_u64(key, seq);
    if ((rc = tz_store_get(store, TZ_CF_ENTRIES, key, 8, &raw, &len, err)) != TZ_OK)
        return rc;
    tz_entry e;
    tz_statement st;
    if (!msgpack_zone_init(&zone, 8192)) {
        tz_store_free(raw);
        return tz_err_set(err, TZ_ERR_NOMEM, "policy: out of memory");
    }
    /* Queries ask this again and again: keep the last parse per thread,
     * keyed by the hash of the adoption's statement (never by seq alone: a
     * process may read several ledgers). */
    static _Thread_local tz_profile_cache cache;
    rc = tz_entry_decode(&e, raw, len, err);
    uint8_t hash[32];
    if (rc == TZ_OK) {
        tz_hash_sha256(hash, e.statement, e.statement_len);
        if (cache.valid && tz_hash_equal(cache.hash, hash, 32)) {
            *out = cache.profile;
            msgpack_zone_destroy(&zone);
            tz_store_free(raw);
            return TZ_OK;
        }
        rc = tz_statement_decode(&st, &zone, e.statement, e.statement_len, err);
    }
    if (rc == TZ_OK) {
        const msgpack_object *p = tz_codec_map_get(st.body, "profile");
        rc = p == NULL ? tz_err_set(err, TZ_ERR_IO, "policy: adoption %llu has no profile",
                                    (unsigned long long)seq)
                       : tz_profile_parse(out, p, err);
    }
    if (rc == TZ_OK) {
        cache.profile = *out;
        memcpy(cache.hash, hash, 32);
        cache.valid = 1;
    }
    msgpack_zone_destroy(&zone);
    tz_store_free(raw);
    return rc;
}

/* ---- offices, scopes and signers ----------------------------------------- */

static const char *const scope_kinds[] = {"province", "city", "county", "township",
                                          "village", "unit", "person"};

int tz_domain_check_scope(const char *scope, size_t len, tz_err *err)
{
    if (len == 1 && scope[0] == '*')
        return TZ_OK;
    const char *colon = memchr(scope, ':', len);
    if (colon != NULL) {
        size_t klen = (size_t)(colon - scope);
        for (size_t i = 0; i < sizeof scope_kinds / sizeof scope_kinds[0]; i++)
            if (strlen(scope_kinds[i]) == klen && memcmp(scope, scope_kinds[i], klen) == 0) {
                int rc = tz_statement_check_id(colon + 1, len - klen - 1, err);
                if (rc != TZ_OK)
                    tz_err_prefix(err, "body.scope: the id after \"%s:\": ", scope_kinds[i]);
                return rc;
            }
    }
    return tz_err_set(err, TZ_ERR_INPUT, "body.scope: must be \"*\" or KIND:ID with KIND one of "
                      "province, city, county, township, village, unit, person (e.g. "
                      "\"township:chengguan\")");
}

static int eq(const char *a, const char *b)
{
    return a != NULL && b != NULL && strcmp(a, b) == 0;
}

static int scope_covers(const char *scope, const char *role, const target *t)
{
    const char *colon = strchr(scope, ':');
    int cadre = strcmp(role, "cadre") == 0;
    if (strcmp(scope, "*") == 0)
        return !cadre;
    if (colon == NULL)
        return 0;
    size_t kl = (size_t)(colon - scope);
    const char *id = colon + 1;
#define KIND(s) (kl == sizeof(s) - 1 && memcmp(scope, s, kl) == 0)
    if (KIND("person"))
        return eq(id, t->person[0]) || eq(id, t->person[1]);
    if (cadre)
        return 0; /* a cadre acts for themself only */
    if (KIND("unit"))
        return eq(id, t->unit[0]) || eq(id, t->unit[1]);
    if (KIND("village"))
        return eq(id, t->village);
    if (KIND("township"))
        return eq(id, t->township);
    if (KIND("county"))
        return eq(id, t->county) || (t->village == NULL &&
                                     (eq(id, t->unit_county[0]) || eq(id, t->unit_county[1])));
    if (KIND("city"))
        return eq(id, t->city);
    if (KIND("province"))
        return eq(id, t->province);
#undef KIND
    return 0;
}

/* 1 when signer i holds role (explicitly: root and authority keys hold no office). */
static int holds(const tz_key_record *rec, const char *role, const target *t)
{
    for (size_t i = 0; i < rec->nroles; i++)
        if (strcmp(rec->roles[i], role) == 0)
            return scope_covers(rec->scope, role, t);
    return 0;
}

static int is_admin(const tz_key_record *rec)
{
    return rec->root || tz_apply_key_has_role(rec, "authority");
}

/* Whether one alternative of a need item ("role" or "cadre:P") is met by rec. */
static int meets_alt(const tz_key_record *rec, const char *alt, size_t len, const target *t)
{
    char role[TZ_PROFILE_ROLE_MAX + 1 + TZ_STATEMENT_ID_MAX + 1];
    if (len >= sizeof role)
        return 0;
    memcpy(role, alt, len);
    role[len] = '\0';
    char *colon = strchr(role, ':');
    if (colon != NULL) { /* cadre:P: that person's own key */
        *colon = '\0';
        target only = {.person = {colon + 1, NULL}};
        return holds(rec, role, &only);
    }
    return holds(rec, role, t);
}

static int meets_item(const tz_key_record *rec, const char *item, const target *t)
{
    const char *p = item;
    for (;;) {
        const char *bar = strchr(p, '|');
        size_t len = bar ? (size_t)(bar - p) : strlen(p);
        if (meets_alt(rec, p, len, t))
            return 1;
        if (bar == NULL)
            return 0;
        p = bar + 1;
    }
}

/* "county_org_dept|dispatching_unit" -> "county org dept or dispatching unit";
 * "cadre:p-zhang" -> "cadre p-zhang". */
static void item_label(char *out, size_t cap, const char *item)
{
    size_t off = 0;
    out[0] = '\0';
    for (const char *p = item; *p && off + 1 < cap; p++) {
        if (*p == '|') {
            off += (size_t)snprintf(out + off, cap - off, " or ");
        } else {
            out[off++] = (*p == '_' || *p == ':') ? ' ' : *p;
            out[off] = '\0';
        }
        if (off >= cap)
            off = cap - 1;
    }
}

/* "; key ZS-township holds township party committee (township:chengguan)" for every signer. */
static void describe_signers(const tz_apply_ctx *ctx, char *out, size_t cap)
{
    size_t off = 0;
    out[0] = '\0';
    for (size_t i = 0; i < ctx->nsigs && off < cap; i++) {
        const tz_key_record *r = &ctx->signers[i];
        off += (size_t)snprintf(out + off, cap - off, "; key %s holds ", r->name);
        if (r->root)
            off += (size_t)snprintf(out + off, cap - off > 0 ? cap - off : 0, "root");
        for (size_t j = 0; j < r->nroles && off < cap; j++) {
            char label[64];
            tz_profile_role_label(label, sizeof label, r->roles[j]);
            off += (size_t)snprintf(out + off, cap - off, "%s%s", j ? ", " : "", label);
        }
        if (off < cap && !r->root)
            off += (size_t)snprintf(out + off, cap - off, " (%s)", r->scope);
    }
}

/* TZ_ERR_FORBIDDEN with the message fmt followed by who signed. */
static int forbidden(const tz_apply_ctx *ctx, tz_err *err, const char *fmt, ...) TZ_PRINTF(3, 4);
static int forbidden(const tz_apply_ctx *ctx, tz_err *err, const char *fmt, ...)
{
    char what[TZ_ERR_MSG_MAX], who[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    describe_signers(ctx, who, sizeof who);
    return tz_err_set(err, TZ_ERR_FORBIDDEN, "%s%s", what, who);
}

/* 1 when any signer holds role within t. */
static int any_holds(const tz_apply_ctx *ctx, const char *role, const target *t)
{
    for (size_t i = 0; i < ctx->nsigs; i++)
        if (holds(&ctx->signers[i], role, t))
            return 1;
    return 0;
}

/* Needs one signer holding any role of roles within t. what: the rule in
 * words, e.g. "leave.approve: 8 consecutive days for a first secretary needs". */
static int need_any(dctx *d, const tz_profile_roles *roles, const target *t, const char *what,
                    const char *clause, tz_err *err)
{
    if (roles->n == 0)
        return tz_err_set(err, TZ_ERR_RULE, "%s: %s names no office that signs it (the profile "
                          "has no such procedure)", d->type, d->prof->id);
    for (size_t r = 0; r < roles->n; r++)
        if (any_holds(d->ctx, roles->names[r], t))
            return TZ_OK;
    char want[256] = "";
    size_t off = 0;
    for (size_t r = 0; r < roles->n && off < sizeof want; r++) {
        char label[64];
        tz_profile_role_label(label, sizeof label, roles->names[r]);
        off += (size_t)snprintf(want + off, sizeof want - off, "%s%s", r ? " or " : "", label);
    }
    return forbidden(d->ctx, err, "%s %s approval (%s %s)", what, want, d->prof->id, clause);
}

static int need_role(dctx *d, const char *role, const target *t, const char *what,
                     const char *clause, tz_err *err)
{
    tz_profile_roles one = {.n = 1};
    snprintf(one.names[0], sizeof one.names[0], "%s", role);
    return need_any(d, &one, t, what, clause, err);
}

/* Registries and adoptions: a root or authority key, or (when office is
 * not NULL) a key holding office within t. */
static int need_admin(dctx *d, const char *office, const target *t, tz_err *err)
{
    for (size_t i = 0; i < d->ctx->nsigs; i++)
        if (is_admin(&d->ctx->signers[i]) ||
            (office != NULL && holds(&d->ctx->signers[i], office, t)))
            return TZ_OK;
    char label[64] = "";
    if (office != NULL)
        tz_profile_role_label(label, sizeof label, office);
    return forbidden(d->ctx, err, "%s: needs a root or authority key%s%s%s", d->type,
                     office ? " or the " : "", label, office ? " of its jurisdiction" : "");
}

/* Crosses off the items of rec's "need" that this entry's signers meet (a
 * key meets at most one item), recording them in "signed". *met = count. */
static void satisfy(dctx *d, json_t *rec, const target *t, int *met)
{
    json_t *need = json_object_get(rec, "need");
    json_t *signed_ = json_object_get(rec, "signed");
    if (signed_ == NULL) {
        signed_ = json_array();
        json_object_set_new(rec, "signed", signed_);
    }
    uint32_t used = 0;
    *met = 0;
    for (size_t i = 0; need != NULL && i < json_array_size(need);) {
        const char *item = json_string_value(json_array_get(need, i));
        size_t k;
        for (k = 0; item != NULL && k < d->ctx->nsigs; k++)
            if (!(used & (1u << k)) && meets_item(&d->ctx->signers[k], item, t))
                break;
        if (item == NULL || k == d->ctx->nsigs) {
            i++;
            continue;
        }
        used |= 1u << k;
        json_array_append_new(signed_, json_pack("[s,s,I]", item, d->ctx->signers[k].name,
                                                 (json_int_t)d->ctx->seq));
        json_array_remove(need, i);
        (*met)++;
    }
}

static void need_label(const json_t *rec, char *out, size_t cap)
{
    size_t off = 0, i;
    json_t *v;
    out[0] = '\0';
    json_array_foreach(json_object_get(rec, "need"), i, v) {
        char label[256];
        item_label(label, sizeof label, json_string_value(v) ? json_string_value(v) : "");
        if (off < cap)
            off += (size_t)snprintf(out + off, cap - off, "%s%s", i ? ", " : "", label);
    }
}

/* ---- targets from records ------------------------------------------------ */

/* Notes that the entry concerns kind/id (ignored when id is NULL or empty). */
static void note_subject(dctx *d, const char *kind, const char *id)
{
    if (id == NULL || *id == '\0' || strlen(id) > TZ_STATEMENT_ID_MAX)
        return;
    for (size_t i = 0; i < d->nsubj; i++)
        if (strcmp(d->subj[i].kind, kind) == 0 && strcmp(d->subj[i].id, id) == 0)
            return;
    if (d->nsubj == SUBJECTS_MAX)
        return;
    d->subj[d->nsubj].kind = kind;
    snprintf(d->subj[d->nsubj].id, sizeof d->subj[d->nsubj].id, "%s", id);
    d->nsubj++;
}

/* The subjects named by the body itself (registries, and every act's
 * person fields), then the index records of all of them. */
static int write_subjects(dctx *d, tz_err *err)
{
    static const char *const person_fields[] = {"person", "outgoing", "incoming"};
    for (size_t i = 0; i < 3; i++)
        note_subject(d, "person", json_string_value(json_object_get(d->body, person_fields[i])));
    note_subject(d, "village", json_string_value(json_object_get(d->body, "village")));
    if (strcmp(d->type, "registry.retire") == 0) {
        const char *kind = jstr(d->body, "kind");
        if (strcmp(kind, "person") == 0 || strcmp(kind, "village") == 0)
            note_subject(d, strcmp(kind, "person") == 0 ? "person" : "village",
                         jstr(d->body, "ref"));
    }
    int rc = TZ_OK;
    for (size_t i = 0; rc == TZ_OK && i < d->nsubj; i++)
        rc = tz_view_subject_put(d->ctx->batch, d->subj[i].kind, d->subj[i].id, d->ctx->seq, err);
    return rc;
}

static void target_village(dctx *d, target *t, const json_t *village)
{
    note_subject(d, "village", json_string_value(json_object_get(village, "village")));
    t->village = json_string_value(json_object_get(village, "village"));
    t->township = json_string_value(json_object_get(village, "township"));
    t->county = json_string_value(json_object_get(village, "county"));
    t->city = json_string_value(json_object_get(village, "city"));
    t->province = json_string_value(json_object_get(village, "province"));
}

/* ---- dispatch periods ----------------------------------------------------- */

/* Reads the person's dispatch records (all, oldest first) into a new array. */
static int person_dispatches(dctx *d, const json_t *person, json_t **out, tz_err *err)
{
    *out = json_array();
    size_t i;
    json_t *id;
    json_array_foreach(json_object_get(person, "dispatches"), i, id) {
        json_t *rec;
        int rc = s_get1(d, "rec", json_string_value(id) ? json_string_value(id) : "", &rec, err);
        if (rc != TZ_OK) {
            json_decref(*out);
            *out = NULL;
            return rc == TZ_ERR_NOTFOUND ? tz_err_set(err, TZ_ERR_IO, "person record names a "
                                                      "missing dispatch (run verify)") : rc;
        }
        json_object_set_new(rec, "id", json_copy(id));
        json_array_append_new(*out, rec);
    }
    return TZ_OK;
}

/* The last day a dispatch covers: its actual end, else its planned end. */
static int64_t dispatch_last(const json_t *disp)
{
    int64_t end = jday(disp, "end");
    return end != INT64_MIN ? end : jday(disp, "planned_end");
}

/* The approved dispatch of the list covering day, or NULL. */
static json_t *dispatch_on(json_t *list, int64_t day)
{
    size_t i;
    json_t *disp;
    json_array_foreach(list, i, disp) {
        if (strcmp(jstr(disp, "status"), "pending") == 0)
            continue;
        if (jday(disp, "start") <= day && day <= dispatch_last(disp))
            return disp;
    }
    return NULL;
}

/* The person's current dispatch record (pending or active) or NULL. */
static int current_dispatch(dctx *d, const json_t *person, json_t **out, tz_err *err)
{
    *out = NULL;
    const char *cur = json_string_value(json_object_get(person, "current"));
    if (cur == NULL)
        return TZ_OK;
    int rc = s_get1(d, "rec", cur, out, err);
    if (rc == TZ_OK)
        json_object_set_new(*out, "id", json_string(cur));
    return rc == TZ_ERR_NOTFOUND ? tz_err_set(err, TZ_ERR_IO, "person record names a missing "
                                              "dispatch (run verify)") : rc;
}

/* An active dispatch of the person named in body.person (checked). */
static int active_dispatch(dctx *d, const char *pid, const json_t *person, json_t **disp,
                           tz_err *err)
{
    int rc = current_dispatch(d, person, disp, err);
    if (rc != TZ_OK)
        return rc;
    if (*disp == NULL || strcmp(jstr(*disp, "status"), "active") != 0) {
        json_decref(*disp);
        *disp = NULL;
        return tz_err_set(err, TZ_ERR_RULE, "body.person: %s holds no active dispatch (选派)",
                          pid);
    }
    return TZ_OK;
}

/* Leaves of the person as [id, from, last, status] items. */
static json_t *leave_covering(const json_t *person, int64_t day, int approved_only)
{
    size_t i;
    json_t *l;
    json_array_foreach(json_object_get(person, "leaves"), i, l) {
        const char *st = json_string_value(json_array_get(l, 3));
        const char *from = json_string_value(json_array_get(l, 1));
        const char *last = json_string_value(json_array_get(l, 2));
        int64_t f, t;
        if (st == NULL || from == NULL || last == NULL || strcmp(st, "refused") == 0 ||
            (approved_only && strcmp(st, "requested") == 0))
            continue;
        if (tz_time_parse_date(from, 10, "from", &f, NULL) != TZ_OK ||
            tz_time_parse_date(last, 10, "last", &t, NULL) != TZ_OK)
            continue;
        if (f <= day && day <= t)
            return l;
    }
    return NULL;
}

/* The run of consecutive days away (连续请假) that [*from, *to] belongs to:
 * extended over the person's leaves that end the day before it or start
 * the day after it (refused leave never counts; requested leave counts
 * unless approved_only). Back-to-back requests are one run for the
 * approval tier and the recall limit, so that splitting leave (拆分请假)
 * does not lower the approver. Returns the run's length in days. */
static int64_t leave_run(const json_t *person, int64_t *from, int64_t *to, int approved_only)
{
    for (;;) {
        const json_t *l = leave_covering(person, *from - 1, approved_only);
        int64_t *edge = from;
        size_t at = 1;
        if (l == NULL) {
            l = leave_covering(person, *to + 1, approved_only);
            edge = to;
            at = 2;
        }
        const char *s = l ? json_string_value(json_array_get(l, at)) : NULL;
        int64_t day;
        if (s == NULL || tz_time_parse_date(s, 10, "day", &day, NULL) != TZ_OK)
            return *to - *from + 1;
        *edge = day;
    }
}

static void person_leave_set(json_t *person, const char *id, int64_t from, int64_t last,
                             const char *status)
{
    json_t *leaves = json_object_get(person, "leaves");
    if (leaves == NULL) {
        leaves = json_array();
        json_object_set_new(person, "leaves", leaves);
    }
    char f[11], l[11];
    fmt_day(f, from);
    fmt_day(l, last);
    json_t *item = json_pack("[s,s,s,s]", id, f, l, status);
    size_t i;
    json_t *v;
    json_array_foreach(leaves, i, v) {
        if (eq(json_string_value(json_array_get(v, 0)), id)) {
            json_array_set_new(leaves, i, item);
            return;
        }
    }
    json_array_append_new(leaves, item);
}

/* ---- first secretaries per county-year (the 优秀 quota) ----------------- */

/* Adds (delta 1) or removes (delta -1) person as a first secretary of
 * county in every year of [from_year, to_year]. */
static int fs_years(dctx *d, const char *county, const char *person, int from_year, int to_year,
                    int delta, tz_err *err)
{
    for (int y = from_year; y <= to_year; y++) {
        char year[8], k[KEY_MAX], kc[KEY_MAX];
        snprintf(year, sizeof year, "%04d", y);
        size_t kl = skey(k, "fs", county, year, person);
        size_t kcl = skey(kc, "fs", county, year, NULL);
        json_t *mark = NULL, *count = NULL;
        int rc = s_get(d, k, kl, &mark, err);
        if (rc != TZ_OK && rc != TZ_ERR_NOTFOUND)
            return rc;
        json_decref(mark);
        if ((rc == TZ_OK) == (delta > 0))
            continue; /* already counted / not counted */
        rc = s_get(d, kc, kcl, &count, err);
        if (rc == TZ_ERR_NOTFOUND)
            count = json_pack("{s:i,s:i}", "first_secretaries", 0, "excellent", 0);
        else if (rc != TZ_OK)
            return rc;
        json_int_t n = json_integer_value(json_object_get(count, "first_secretaries")) + delta;
        json_object_set_new(count, "first_secretaries", json_integer(n));
        rc = s_put(d, kc, kcl, count, err);
        json_decref(count);
        if (rc != TZ_OK)
            return rc;
        if (delta > 0) {
            json_t *m = json_object();
            rc = s_put(d, k, kl, m, err);
            json_decref(m);
            if (rc != TZ_OK)
                return rc;
        } else {
            tz_store_batch_delete(d->ctx->batch, TZ_CF_INDEX, k, kl);
        }
    }
    return TZ_OK;
}

static int village_county(dctx *d, const char *village, char *out, size_t cap, tz_err *err)
{
    json_t *v;
    int rc = s_get1(d, "village", village, &v, err);
    if (rc != TZ_OK)
        return rc == TZ_ERR_NOTFOUND ? tz_err_set(err, TZ_ERR_IO, "village %s vanished", village)
                                     : rc;
    snprintf(out, cap, "%s", jstr(v, "county"));
    json_decref(v);
    return TZ_OK;
}

/* ---- projections (docs/PROJECTIONS.md) ----------------------------------- */

/* A finding: {code, text, clause?}. */
static json_t *finding(const char *code, const char *clause, const char *fmt, ...)
    TZ_PRINTF(3, 4);
static json_t *finding(const char *code, const char *clause, const char *fmt, ...)
{
    char text[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    json_t *f = json_pack("{s:s,s:s}", "code", code, "text", text);
    if (clause != NULL && clause[0] != '\0')
        json_object_set_new(f, "clause", json_string(clause));
    return f;
}

/* "shiquan-2021 §13(2)" as a new JSON string ("" when the clause is empty). */
static json_t *cite(const dctx *d, const char *clause)
{
    char buf[TZ_PROFILE_ID_MAX + TZ_CLAUSE_MAX + 2] = "";
    if (clause != NULL && clause[0] != '\0')
        snprintf(buf, sizeof buf, "%s %s", d->prof->id, clause);
    return json_string(buf);
}

/* The explain list of a record: the seqs that wrote it, this one last. */
static void touch(dctx *d, json_t *rec)
{
    json_t *h = json_object_get(rec, "history");
    if (h == NULL) {
        h = json_array();
        json_object_set_new(rec, "history", h);
    }
    json_int_t last = json_integer_value(json_array_get(h, json_array_size(h) - 1));
    if (json_array_size(h) == 0 || last != (json_int_t)d->ctx->seq)
        json_array_append_new(h, json_integer((json_int_t)d->ctx->seq));
}

static int view_put2(dctx *d, const char *view, const char *a, const char *b, json_t *doc,
                     tz_err *err)
{
    char subject[TZ_VIEW_KEY_MAX];
    size_t sl = tz_view_subject(subject, sizeof subject, a, b, NULL);
    if (sl == 0)
        return tz_err_set(err, TZ_ERR_INPUT, "%s: ids too long for a projection key", view);
    return tz_view_put(d->ctx->batch, view, subject, sl, d->ctx->seq, doc, err);
}

static const char *name_of(dctx *d, const char *kind, const char *id, const char *field,
                           char *buf, size_t cap)
{
    json_t *r = NULL;
    buf[0] = '\0';
    if (s_get1(d, kind, id, &r, NULL) == TZ_OK)
        snprintf(buf, cap, "%s", jstr(r, field));
    json_decref(r);
    return buf;
}

static int emit_dispatch(dctx *d, const char *id, const json_t *rec, tz_err *err)
{
    char name[FIELD_MAX + 1], township[TZ_STATEMENT_ID_MAX + 1], level[16];
    json_t *doc = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:O}",
                            "dispatch", id, "person", jstr(rec, "person"), "name",
                            name_of(d, "person", jstr(rec, "person"), "name", name, sizeof name),
                            "village", jstr(rec, "village"), "township",
                            name_of(d, "village", jstr(rec, "village"), "township", township,
                                    sizeof township),
                            "unit", jstr(rec, "unit"), "unit_level",
                            name_of(d, "unit", jstr(rec, "unit"), "level", level, sizeof level),
                            "role", jstr(rec, "role"), "start", jstr(rec, "start"),
                            "planned_end", jstr(rec, "planned_end"), "status",
                            jstr(rec, "status"), "explain", json_object_get(rec, "history"));
    if (strcmp(jstr(rec, "status"), "active") == 0 && json_object_get(rec, "handover") != NULL)
        json_object_set_new(doc, "status", json_string("handing_over"));
    static const char *const copy[] = {"end", "recall_reason", "handover", "approved_seq"};
    for (size_t i = 0; i < sizeof copy / sizeof copy[0]; i++)
        if (json_object_get(rec, copy[i]) != NULL)
            json_object_set(doc, copy[i], json_object_get(rec, copy[i]));
    int64_t end = jday(rec, "end");
    /* cut short: recalled before the planned end. A rotation completed by
     * handover a little before the planned end is the overlap the rules ask
     * for (压茬交接), not a shortened term. */
    json_object_set_new(doc, "cut_short", json_boolean(end != INT64_MIN &&
                                                       end < jday(rec, "planned_end") &&
                                                       strcmp(jstr(rec, "status"), "recalled") == 0));
    int rc = view_put2(d, "roster", jstr(rec, "village"), id, doc, err);
    if (rc == TZ_OK)
        rc = view_put2(d, "term", jstr(rec, "person"), id, doc, err);
    json_decref(doc);
    return rc;
}

static int emit_attendance(dctx *d, const json_t *rec, tz_err *err)
{
    const char *days = jstr(rec, "days");
    int n[128] = {0};
    for (const char *c = days; *c; c++)
        n[(unsigned char)*c & 127]++;
    int counts_b = json_is_true(json_object_get(rec, "counts_b"));
    int in_village = n['P'] + (counts_b ? n['B'] : 0);
    int complete = strcmp(jstr(rec, "status"), "complete") == 0;
    json_t *doc = json_pack("{s:s,s:s,s:s,s:i,s:i,s:i,s:i,s:i,s:i,s:s,s:O}", "village",
                            jstr(rec, "village"), "dispatch", jstr(rec, "dispatch"), "days", days,
                            "in_village", in_village, "official_business", n['B'], "rest", n['R'],
                            "leave", n['L'], "absent", n['A'], "not_stationed", n['-'], "status",
                            jstr(rec, "status"), "explain", json_object_get(rec, "history"));
    json_t *findings = json_array();
    char missing[512];
    need_label(rec, missing, sizeof missing);
    json_object_set_new(doc, "missing", json_copy(json_object_get(rec, "need")));
    static const char *const copy[] = {"due", "completed", "late", "min_days", "rate_fen"};
    for (size_t i = 0; i < sizeof copy / sizeof copy[0]; i++)
        if (json_object_get(rec, copy[i]) != NULL)
            json_object_set(doc, copy[i], json_object_get(rec, copy[i]));
    if (!complete)
        json_array_append_new(findings, finding("unsigned", jstr(rec, "sign_clause"), "the sheet "
                                                "awaits %s; it does not count until signed",
                                                missing));
    if (json_is_true(json_object_get(rec, "late")))
        json_array_append_new(findings, finding("late", jstr(rec, "due_rule"), "completed %s, "
                                                "after the due date %s", jstr(rec, "completed"),
                                                jstr(rec, "due")));
    json_int_t min = json_integer_value(json_object_get(rec, "min_days"));
    if (min > 0 && n['-'] == 0 && in_village < min)
        json_array_append_new(findings, finding("under_min_days", jstr(rec, "min_days_clause"),
                                                "%d days in the village, fewer than %lld",
                                                in_village, (long long)min));
    json_int_t rate = json_integer_value(json_object_get(rec, "rate_fen"));
    if (json_object_get(rec, "rate_fen") != NULL)
        json_object_set_new(doc, "allowance_fen", json_integer(complete ? rate * in_village : 0));
    json_object_set_new(doc, "findings", findings);
    int rc = view_put2(d, "attendance", jstr(rec, "person"), jstr(rec, "month"), doc, err);
    json_decref(doc);
    return rc;
}

static int emit_leave(dctx *d, const char *id, const json_t *rec, tz_err *err)
{
    json_t *doc = json_pack("{s:s,s:s,s:O,s:s,s:O}", "from", jstr(rec, "from"), "to",
                            jstr(rec, "to"), "days", json_object_get(rec, "days"), "status",
                            jstr(rec, "status"), "explain", json_object_get(rec, "history"));
    static const char *const copy[] = {"approver_role", "applicant_role", "copy_to", "returned",
                                       "overdue_days", "tier_clause", "reason"};
    for (size_t i = 0; i < sizeof copy / sizeof copy[0]; i++)
        if (json_object_get(rec, copy[i]) != NULL)
            json_object_set(doc, copy[i], json_object_get(rec, copy[i]));
    json_t *findings = json_array();
    const char *status = jstr(rec, "status");
    if (json_object_get(rec, "recall_required") != NULL && strcmp(status, "refused") != 0)
        json_array_append_new(findings, finding("recall_required",
                                                json_object_get(rec, "recall_cite") ?
                                                jstr(rec, "recall_cite") :
                                                jstr(rec, "recall_required"), "%lld consecutive "
                                                "days of leave: the cadre is recalled and a "
                                                "replacement dispatched", (long long)
                                                json_integer_value(json_object_get(rec, "days"))));
    if (json_object_get(rec, "overdue_days") != NULL)
        json_array_append_new(findings, finding("overdue", jstr(rec, "tier_clause"), "back %lld "
                                                "day(s) after the approved leave ended: days "
                                                "absent without approved leave", (long long)
                                                json_integer_value(json_object_get(
                                                    rec, "overdue_days"))));
    json_object_set_new(doc, "findings", findings);
    int rc = view_put2(d, "leave", jstr(rec, "person"), id, doc, err);
    json_decref(doc);
    return rc;
}

static int emit_handover(dctx *d, const char *id, const json_t *rec, tz_err *err)
{
    json_t *doc = json_pack("{s:s,s:s,s:s,s:s,s:O,s:O}", "outgoing", jstr(rec, "outgoing"),
                            "incoming", jstr(rec, "incoming"), "start", jstr(rec, "start"),
                            "status", jstr(rec, "status"), "min_working_days",
                            json_object_get(rec, "min_working_days"), "explain",
                            json_object_get(rec, "history"));
    static const char *const copy[] = {"completed", "working_days", "clause", "complete"};
    for (size_t i = 0; i < sizeof copy / sizeof copy[0]; i++)
        if (json_object_get(rec, copy[i]) != NULL)
            json_object_set(doc, copy[i], json_object_get(rec, copy[i]));
    json_t *findings = json_array();
    if (strcmp(jstr(rec, "status"), "abandoned") == 0)
        json_array_append_new(findings, finding("abandoned", jstr(rec, "clause"), "the outgoing "
                                                "cadre %s left (recalled) before the handover "
                                                "was complete", jstr(rec, "outgoing")));
    json_object_set_new(doc, "findings", findings);
    int rc = view_put2(d, "handover", jstr(rec, "village"), id, doc, err);
    json_decref(doc);
    return rc;
}

static const char *grade_or_null(tz_grade g)
{
    return g == TZ_GRADE_NONE ? NULL : tz_grade_name(g);
}

/* Absences without reason of a cadre-year and the consequences reached
 * under the profile in force (d->prof). count: the state record. */
static int emit_absence(dctx *d, const char *pid, const char *year, const json_t *count,
                        tz_err *err)
{
    json_int_t n = json_integer_value(json_object_get(count, "count"));
    json_t *checks = json_array(), *explain = json_array(), *cons = json_array();
    size_t i;
    json_t *v;
    json_array_foreach(json_object_get(count, "checks"), i, v) {
        json_array_append_new(checks, json_pack("[O,O]", json_array_get(json_object_get(
                                                    count, "dates"), i), v));
    }
    json_array_foreach(json_object_get(count, "seqs"), i, v)
        json_array_append(explain, v);
    json_array_append_new(explain, json_integer((json_int_t)d->ctx->seq));
    for (i = 0; i < d->prof->assessment.ncaps; i++) {
        const tz_profile_absence_cap *c = &d->prof->assessment.caps[i];
        if (n < c->absences)
            continue;
        json_t *one = json_pack("{s:i,s:b,s:o}", "from", c->absences, "recall", c->recall,
                                "clause", cite(d, c->clause));
        static const char *const flag_names[] = {"reserve_lost", "bonus_cancelled",
                                                 "unit_deputy_interview", "unit_head_interview"};
        const int flags[] = {c->reserve_lost, c->bonus_cancelled, c->unit_deputy_interview,
                             c->unit_head_interview};
        for (size_t f = 0; f < 4; f++)
            if (flags[f])
                json_object_set_new(one, flag_names[f], json_true());
        if (grade_or_null(c->max_grade))
            json_object_set_new(one, "max_grade", json_string(tz_grade_name(c->max_grade)));
        if (grade_or_null(c->forced_grade))
            json_object_set_new(one, "forced_grade", json_string(tz_grade_name(c->forced_grade)));
        json_array_append_new(cons, one);
    }
    json_t *doc = json_pack("{s:I,s:o,s:o,s:o}", "count", n, "checks", checks, "consequences",
                            cons, "explain", explain);
    int rc = view_put2(d, "absence", pid, year, doc, err);
    json_decref(doc);
    return rc;
}

/* A recall, its consequences for the person, and the unit's recalls of
 * that year (two within one year is a finding). disp: the dispatch record
 * with "id". */
static int emit_recall(dctx *d, const char *pid, const json_t *disp, const char *reason,
                       const char *clause, tz_err *err)
{
    const tz_profile *p = d->prof;
    const char *date = jstr(d->body, "date");
    char year[8];
    snprintf(year, sizeof year, "%.4s", date);
    const tz_profile_recall_consequences *rc_ = &p->recall_consequences;
    json_t *cons = json_array();
    if (p->assessment.recalled_max_grade != TZ_GRADE_NONE)
        json_array_append_new(cons, json_pack("{s:s,s:i,s:s,s:o}", "code", "grade_capped",
                                              "year", atoi(year), "max_grade",
                                              tz_grade_name(p->assessment.recalled_max_grade),
                                              "clause", cite(d, p->assessment.recalled_clause)));
    if (rc_->no_excellent_that_year)
        json_array_append_new(cons, json_pack("{s:s,s:i,s:o}", "code", "no_excellent", "year",
                                              atoi(year), "clause",
                                              cite(d, rc_->no_excellent_clause)));
    if (rc_->reserve_lost)
        json_array_append_new(cons, json_pack("{s:s,s:o}", "code", "reserve_lost", "clause",
                                              cite(d, rc_->reserve_clause)));
    if (rc_->no_promotion_years > 0) {
        char until[11];
        int64_t day;
        if (tz_time_parse_date(date, strlen(date), "date", &day, NULL) == TZ_OK) {
            fmt_day(until, tz_time_add_years(day, rc_->no_promotion_years));
            json_array_append_new(cons, json_pack("{s:s,s:s,s:o}", "code", "no_promotion_until",
                                                  "date", until, "clause",
                                                  cite(d, rc_->promotion_clause)));
        }
    }
    if (rc_->unit_leaders_no_excellent_on_recall)
        json_array_append_new(cons, json_pack("{s:s,s:s,s:i,s:b,s:b,s:o}", "code",
                                              "unit_leaders_no_excellent", "unit",
                                              jstr(disp, "unit"), "year", atoi(year), "head",
                                              rc_->unit_head_no_excellent, "deputy",
                                              rc_->unit_deputy_no_excellent, "clause",
                                              cite(d, rc_->unit_leaders_clause)));
    json_t *explain = json_deep_copy(json_object_get(disp, "history"));
    if (explain == NULL)
        explain = json_array();
    json_array_append_new(explain, json_integer((json_int_t)d->ctx->seq));
    json_t *doc = json_pack("{s:s,s:s,s:s,s:s,s:o,s:o,s:o}", "dispatch", jstr(disp, "id"), "unit",
                            jstr(disp, "unit"), "date", date, "reason", reason, "clause",
                            cite(d, clause), "consequences", cons, "explain", explain);
    int rc = view_put2(d, "recall", pid, jstr(disp, "id"), doc, err);
    json_decref(doc);
    if (rc != TZ_OK)
        return rc;
    /* the unit's recalls of the year */
    const char *unit = jstr(disp, "unit");
    char k[KEY_MAX];
    size_t kl = skey(k, "urecall", unit, year, NULL);
    json_t *u = NULL;
    rc = s_get(d, k, kl, &u, err);
    if (rc == TZ_ERR_NOTFOUND)
        u = json_pack("{s:[],s:[]}", "recalls", "seqs");
    else if (rc != TZ_OK)
        return rc;
    json_array_append_new(json_object_get(u, "recalls"),
                          json_pack("[s,s,s,s]", pid, jstr(disp, "id"), date, reason));
    json_array_append_new(json_object_get(u, "seqs"), json_integer((json_int_t)d->ctx->seq));
    if ((rc = s_put(d, k, kl, u, err)) == TZ_OK) {
        size_t n = json_array_size(json_object_get(u, "recalls"));
        json_t *findings = json_array();
        if (rc_->unit_recalls_in_year > 0 && n >= (size_t)rc_->unit_recalls_in_year) {
            char ucl[TZ_PROFILE_ID_MAX + TZ_CLAUSE_MAX + 2];
            snprintf(ucl, sizeof ucl, "%s %s", p->id, rc_->unit_recalls_clause);
            json_array_append_new(findings, finding("unit_recalls", ucl, "%zu cadres of unit %s "
                                                    "recalled in %s:%s%s%s", n, unit, year,
                                                    rc_->unit_recalls_score_deducted ?
                                                    " performance score deducted;" : "",
                                                    rc_->unit_recalls_head_no_excellent ?
                                                    " its head may not be rated 优秀;" : "",
                                                    rc_->unit_recalls_deputy_no_excellent ?
                                                    " its deputy head may not be rated 优秀;" : ""));
        }
        json_t *ud = json_pack("{s:s,s:i,s:O,s:I,s:o,s:O}", "unit", unit, "year", atoi(year),
                               "recalls", json_object_get(u, "recalls"), "count", (json_int_t)n,
                               "findings", findings, "explain", json_object_get(u, "seqs"));
        rc = view_put2(d, "unit_recalls", unit, year, ud, err);
        json_decref(ud);
    }
    json_decref(u);
    return rc;
}

/* Writes a record of statement id and its projections; every record write
 * goes through here so the views can never lag the state. */
static int put_rec(dctx *d, const char *id, json_t *rec, tz_err *err)
{
    touch(d, rec);
    int rc = s_put1(d, "rec", id, rec, err);
    if (rc != TZ_OK)
        return rc;
    const char *type = jstr(rec, "type");
    if (strcmp(type, "dispatch") == 0)
        return emit_dispatch(d, id, rec, err);
    if (strcmp(type, "attendance") == 0)
        return emit_attendance(d, rec, err);
    if (strcmp(type, "leave") == 0)
        return emit_leave(d, id, rec, err);
    if (strcmp(type, "handover") == 0)
        return emit_handover(d, id, rec, err);
    return TZ_OK;
}

/* ---- completions (when a record's last needed signature arrives) --------- */

static int complete_dispatch(dctx *d, json_t *rec, tz_err *err)
{
    json_object_set_new(rec, "status", json_string("active"));
    json_object_set_new(rec, "approved_seq", json_integer((json_int_t)d->ctx->seq));
    if (strcmp(jstr(rec, "role"), "first_secretary") != 0)
        return TZ_OK;
    char county[TZ_STATEMENT_ID_MAX + 1];
    int rc = village_county(d, jstr(rec, "village"), county, sizeof county, err);
    if (rc != TZ_OK)
        return rc;
    return fs_years(d, county, jstr(rec, "person"), tz_time_year_of(jday(rec, "start")),
                    tz_time_year_of(jday(rec, "planned_end")), 1, err);
}

static int complete_attendance(dctx *d, json_t *rec)
{
    json_object_set_new(rec, "status", json_string("complete"));
    json_object_set_new(rec, "complete_seq", json_integer((json_int_t)d->ctx->seq));
    int64_t due = jday(rec, "due");
    int64_t done = china_day(d->ctx->recorded_at);
    jset_day(rec, "completed", done);
    json_object_set_new(rec, "late", json_boolean(due != INT64_MIN && done > due));
    return TZ_OK;
}

/* Ends the dispatch disp (a record with "id") on day end with status. */
static int end_dispatch(dctx *d, json_t *person, const char *pid, json_t *disp, int64_t end,
                        const char *status, tz_err *err)
{
    const char *id = jstr(disp, "id");
    int64_t planned = jday(disp, "planned_end");
    jset_day(disp, "end", end);
    json_object_set_new(disp, "status", json_string(status));
    json_object_del(disp, "handover");
    json_object_set_new(disp, "ended_seq", json_integer((json_int_t)d->ctx->seq));
    int rc;
    if (strcmp(jstr(disp, "role"), "first_secretary") == 0 && tz_time_year_of(end) < tz_time_year_of(planned)) {
        char county[TZ_STATEMENT_ID_MAX + 1];
        if ((rc = village_county(d, jstr(disp, "village"), county, sizeof county, err)) != TZ_OK ||
            (rc = fs_years(d, county, pid, tz_time_year_of(end) + 1, tz_time_year_of(planned), -1, err)) != TZ_OK)
            return rc;
    }
    json_t *copy = json_deep_copy(disp);
    json_object_del(copy, "id");
    rc = put_rec(d, id, copy, err);
    json_decref(copy);
    if (rc != TZ_OK)
        return rc;
    if (eq(json_string_value(json_object_get(person, "current")), id))
        json_object_del(person, "current");
    return TZ_OK;
}

static int complete_handover(dctx *d, json_t *rec, tz_err *err)
{
    json_object_set_new(rec, "status", json_string("complete"));
    json_object_set_new(rec, "complete_seq", json_integer((json_int_t)d->ctx->seq));
    const char *hid = jstr(rec, "handover");
    json_t *h = NULL, *person = NULL, *disp = NULL;
    int rc = s_get1(d, "rec", hid, &h, err);
    if (rc == TZ_OK) {
        json_object_set_new(h, "status", json_string("complete"));
        json_object_set_new(h, "completed", json_string(jstr(rec, "date")));
        rc = put_rec(d, hid, h, err);
    }
    const char *out = jstr(h, "outgoing");
    if (rc == TZ_OK)
        rc = s_get1(d, "person", out, &person, err);
    if (rc == TZ_OK) {
        json_object_del(person, "handover");
        rc = current_dispatch(d, person, &disp, err);
    }
    if (rc == TZ_OK && disp != NULL && eq(jstr(disp, "id"), jstr(h, "outgoing_dispatch")))
        rc = end_dispatch(d, person, out, disp, jday(rec, "date"), "completed", err);
    if (rc == TZ_OK)
        rc = s_put1(d, "person", out, person, err);
    if (rc == TZ_ERR_NOTFOUND)
        rc = tz_err_set(err, TZ_ERR_IO, "handover %s: a record it names vanished (run verify)",
                        hid);
    json_decref(h);
    json_decref(person);
    json_decref(disp);
    return rc;
}

/* After satisfy(): completes rec (type in "type") when nothing is needed. */
static int maybe_complete(dctx *d, json_t *rec, tz_err *err)
{
    if (json_array_size(json_object_get(rec, "need")) != 0)
        return TZ_OK;
    const char *type = jstr(rec, "type");
    if (strcmp(type, "dispatch") == 0)
        return complete_dispatch(d, rec, err);
    if (strcmp(type, "attendance") == 0)
        return complete_attendance(d, rec);
    if (strcmp(type, "handover.complete") == 0)
        return complete_handover(d, rec, err);
    return TZ_OK;
}

/* Builds the target of a record that awaits signatures. The strings point
 * into the records, which the caller keeps alive. */
static int rec_target(dctx *d, const json_t *rec, target *t, json_t **village, tz_err *err)
{
    memset(t, 0, sizeof *t);
    *village = NULL;
    const char *vid = jstr(rec, "village");
    int rc = s_get1(d, "village", vid, village, err);
    if (rc != TZ_OK)
        return rc == TZ_ERR_NOTFOUND ? tz_err_set(err, TZ_ERR_IO, "village %s vanished", vid) : rc;
    target_village(d, t, *village);
    t->person[0] = json_string_value(json_object_get(rec, "person"));
    t->unit[0] = json_string_value(json_object_get(rec, "unit"));
    if (t->person[0] == NULL) { /* a handover */
        t->person[0] = json_string_value(json_object_get(rec, "outgoing"));
        t->person[1] = json_string_value(json_object_get(rec, "incoming"));
        t->unit[0] = json_string_value(json_object_get(rec, "outgoing_unit"));
        t->unit[1] = json_string_value(json_object_get(rec, "incoming_unit"));
    }
    note_subject(d, "person", t->person[0]);
    note_subject(d, "person", t->person[1]);
    return TZ_OK;
}

/* ---- registries ---------------------------------------------------------- */

static const char *const unit_levels[] = {"central", "province", "city", "county", "township"};
static const char *const village_categories[] = {"poverty", "relocation", "demonstration",
                                                 "weak_party_org", "ordinary", "community"};
static const char *const employments[] = {"permanent", "temporary", "seconded", "service"};
static const char *const ranks[] = {"division", "division_reserve", "section",
                                    "section_reserve", "staff", "none"};

/* A registration that replaces an earlier one (an amendment) keeps what the
 * statement does not carry: the first registration's seq and, for a person,
 * the dispatches, leaves and recalls of the record. A retired id is never
 * registered again. */
static int registry_merge(dctx *d, const char *kind, const char *id, json_t *rec, tz_err *err)
{
    static const char *const keep[] = {"dispatches", "current", "leaves", "recalls", "handover"};
    json_t *old = NULL;
    int rc = s_get1(d, kind, id, &old, err);
    if (rc == TZ_ERR_NOTFOUND) {
        json_object_set_new(rec, "registered_seq", json_integer((json_int_t)d->ctx->seq));
        return TZ_OK;
    }
    if (rc != TZ_OK)
        return rc;
    if (json_object_get(old, "retired_seq") != NULL)
        rc = tz_err_set(err, TZ_ERR_RULE, "body.%s: %s \"%s\" was retired at seq %lld; a "
                        "retired id is never registered again", kind, kind, id,
                        (long long)json_integer_value(json_object_get(old, "retired_seq")));
    for (size_t i = 0; rc == TZ_OK && i < sizeof keep / sizeof keep[0]; i++) {
        json_t *v = json_object_get(old, keep[i]);
        if (v != NULL)
            json_object_set(rec, keep[i], v);
    }
    json_object_set(rec, "registered_seq", json_object_get(old, "registered_seq"));
    json_decref(old);
    return rc;
}

static int apply_org_unit(dctx *d, tz_err *err)
{
    static const char *const fields[] = {"unit", "name", "level", "staff", "county"};
    const char *id, *name, *county;
    size_t level;
    int64_t staff;
    int rc;
    if ((rc = f_fields(d, fields, 5, err)) != TZ_OK || (rc = f_ref(d, "unit", &id, err)) != TZ_OK ||
        (rc = f_str(d, "name", FIELD_MAX, 0, &name, err)) != TZ_OK ||
        (rc = f_enum(d, "level", unit_levels, 5, &level, err)) != TZ_OK ||
        (rc = f_int(d, "staff", 1, 10000000, &staff, err)) != TZ_OK)
        return rc;
    if (json_object_get(d->body, "county") != NULL && (rc = f_ref(d, "county", &county, err)) != TZ_OK)
        return rc;
    target t = {.unit = {id, NULL}, .unit_county = {jstr(d->body, "county"), NULL}};
    if ((rc = need_admin(d, "county_org_dept", &t, err)) != TZ_OK)
        return rc;
    json_t *rec = json_deep_copy(d->body);
    json_object_del(rec, "unit");
    if ((rc = registry_merge(d, "unit", id, rec, err)) == TZ_OK)
        rc = s_put1(d, "unit", id, rec, err);
    json_decref(rec);
    return rc;
}

static int apply_org_village(dctx *d, tz_err *err)
{
    static const char *const fields[] = {"village", "name", "township", "county", "city",
                                         "province", "category"};
    const char *id, *name, *s;
    size_t category;
    int rc;
    if ((rc = f_fields(d, fields, 7, err)) != TZ_OK || (rc = f_ref(d, "village", &id, err)) != TZ_OK ||
        (rc = f_str(d, "name", FIELD_MAX, 0, &name, err)) != TZ_OK ||
        (rc = f_ref(d, "township", &s, err)) != TZ_OK || (rc = f_ref(d, "county", &s, err)) != TZ_OK ||
        (rc = f_enum(d, "category", village_categories, 6, &category, err)) != TZ_OK)
        return rc;
    if ((json_object_get(d->body, "city") && (rc = f_ref(d, "city", &s, err)) != TZ_OK) ||
        (json_object_get(d->body, "province") && (rc = f_ref(d, "province", &s, err)) != TZ_OK))
        return rc;
    target t;
    memset(&t, 0, sizeof t);
    target_village(d, &t, d->body);
    if ((rc = need_admin(d, "county_org_dept", &t, err)) != TZ_OK)
        return rc;
    json_t *rec = json_deep_copy(d->body);
    if ((rc = registry_merge(d, "village", id, rec, err)) == TZ_OK)
        rc = s_put1(d, "village", id, rec, err);
    json_decref(rec);
    return rc;
}

static int apply_person_register(dctx *d, tz_err *err)
{
    static const char *const fields[] = {"person", "name", "unit", "party_member_since",
                                         "employment", "rank"};
    const char *id, *name, *unit;
    size_t employment, rank;
    int64_t since;
    int rc;
    if ((rc = f_fields(d, fields, 6, err)) != TZ_OK || (rc = f_ref(d, "person", &id, err)) != TZ_OK ||
        (rc = f_str(d, "name", FIELD_MAX, 0, &name, err)) != TZ_OK ||
        (rc = f_ref(d, "unit", &unit, err)) != TZ_OK ||
        (rc = f_enum(d, "employment", employments, 4, &employment, err)) != TZ_OK ||
        (rc = f_enum(d, "rank", ranks, 6, &rank, err)) != TZ_OK)
        return rc;
    json_t *pm = json_object_get(d->body, "party_member_since");
    if (pm == NULL)
        return tz_err_set(err, TZ_ERR_INPUT, "body.party_member_since: missing (a date, or null "
                          "for a cadre who is not a full party member)");
    if (!json_is_null(pm)) {
        if ((rc = f_date(d, "party_member_since", &since, err)) != TZ_OK)
            return rc;
        if (since > d->at_day)
            return tz_err_set(err, TZ_ERR_RULE, "body.party_member_since: %s is after the "
                              "statement's date %s", json_string_value(pm), d->at_date);
    }
    json_t *u = NULL;
    if ((rc = load_registered(d, "unit", "unit", unit, &u, err)) != TZ_OK)
        return rc;
    target t = {.person = {id, NULL}, .unit = {unit, NULL},
                .unit_county = {json_string_value(json_object_get(u, "county")), NULL}};
    if ((rc = need_admin(d, "dispatching_unit", &t, err)) != TZ_OK) {
        /* a county org dept of the unit's county registers people too */
        tz_err again;
        if (need_admin(d, "county_org_dept", &t, &again) == TZ_OK)
            rc = TZ_OK;
    }
    json_decref(u);
    if (rc != TZ_OK)
        return rc;
    json_t *rec = json_deep_copy(d->body);
    json_object_del(rec, "person");
    if ((rc = registry_merge(d, "person", id, rec, err)) == TZ_OK)
        rc = s_put1(d, "person", id, rec, err);
    json_decref(rec);
    return rc;
}

static int apply_registry_retire(dctx *d, tz_err *err)
{
    static const char *const fields[] = {"kind", "ref", "reason"};
    static const char *const kinds[] = {"unit", "village", "person"};
    const char *ref, *reason;
    size_t kind;
    int rc;
    if ((rc = f_fields(d, fields, 3, err)) != TZ_OK ||
        (rc = f_enum(d, "kind", kinds, 3, &kind, err)) != TZ_OK ||
        (rc = f_ref(d, "ref", &ref, err)) != TZ_OK ||
        (rc = f_str(d, "reason", FIELD_MAX, 0, &reason, err)) != TZ_OK)
        return rc;
    json_t *rec = NULL;
    if ((rc = load_registered(d, kinds[kind], "ref", ref, &rec, err)) != TZ_OK)
        return rc;
    target t;
    memset(&t, 0, sizeof t);
    if (kind == 1)
        target_village(d, &t, rec);
    t.unit_county[0] = json_string_value(json_object_get(rec, "county"));
    if ((rc = need_admin(d, "county_org_dept", &t, err)) == TZ_OK &&
        json_object_get(rec, "current") != NULL)
        rc = tz_err_set(err, TZ_ERR_RULE, "registry.retire: person %s still holds dispatch %s; "
                        "end it (handover, dispatch.end or recall) first", ref,
                        jstr(rec, "current"));
    if (rc == TZ_OK) {
        json_object_set_new(rec, "retired_seq", json_integer((json_int_t)d->ctx->seq));
        json_object_set_new(rec, "retired_reason", json_string(reason));
        rc = s_put1(d, kinds[kind], ref, rec, err);
    }
    json_decref(rec);
    return rc;
}

/* ---- adoptions ------------------------------------------------------------ */

static int apply_policy_adopt(dctx *d, tz_err *err)
{
    static const char *const fields[] = {"effective", "profile"};
    int64_t effective;
    int rc;
    if ((rc = f_fields(d, fields, 2, err)) != TZ_OK || (rc = f_date(d, "effective", &effective, err)) != TZ_OK)
        return rc;
    const msgpack_object *p = tz_codec_map_get(d->ctx->st->body, "profile");
    if (p == NULL)
        return tz_err_set(err, TZ_ERR_INPUT, "body.profile: missing (the profile document, "
                          "profiles/<id>.json)");
    tz_profile *parsed = &d->prof_storage;
    if ((rc = tz_profile_parse(parsed, p, err)) != TZ_OK) {
        tz_err_prefix(err, "body.");
        return rc;
    }
    if ((rc = need_admin(d, NULL, NULL, err)) != TZ_OK)
        return rc;
    char eff[11];
    fmt_day(eff, effective);
    if (effective < d->at_day)
        return tz_err_set(err, TZ_ERR_RULE, "policy.adopt: effective date %s is before the "
                          "adoption's own date %s; rules are never adopted retroactively", eff,
                          d->at_date);
    json_t *pol = NULL;
    rc = s_get(d, "policy", 6, &pol, err);
    if (rc == TZ_ERR_NOTFOUND)
        pol = json_pack("{s:[]}", "adoptions");
    else if (rc != TZ_OK)
        return rc;
    json_t *adoptions = json_object_get(pol, "adoptions");
    json_t *last = json_array_get(adoptions, json_array_size(adoptions) - 1);
    if (last != NULL) {
        const char *prev = json_string_value(json_array_get(last, 0));
        int64_t prev_day;
        if (prev != NULL && tz_time_parse_date(prev, strlen(prev), "effective", &prev_day, NULL) ==
            TZ_OK && effective <= prev_day) {
            rc = tz_err_set(err, TZ_ERR_RULE, "policy.adopt: effective date %s is not after "
                            "that of the profile adopted at seq %lld (%s); adoptions take "
                            "effect in order", eff, (long long)json_integer_value(
                                json_array_get(last, 1)), prev);
            json_decref(pol);
            return rc;
        }
    }
    uint8_t hash[32];
    char hex[65];
    tz_hash_sha256(hash, d->ctx->statement, d->ctx->statement_len);
    tz_hex_encode(hex, hash, 32);
    json_array_append_new(adoptions, json_pack("[s,I,s,s]", eff, (json_int_t)d->ctx->seq, hex,
                                               parsed->id));
    rc = s_put(d, "policy", 6, pol, err);
    json_decref(pol);
    return rc;
}

static int apply_calendar_adopt(dctx *d, tz_err *err)
{
    static const char *const fields[] = {"calendar"};
    int rc;
    if ((rc = f_fields(d, fields, 1, err)) != TZ_OK)
        return rc;
    const msgpack_object *c = tz_codec_map_get(d->ctx->st->body, "calendar");
    if (c == NULL)
        return tz_err_set(err, TZ_ERR_INPUT, "body.calendar: missing (the calendar document, "
                          "as shared/data/cn-workday-calendar.json)");
    tz_calendar *cal = malloc(sizeof *cal);
    if (cal == NULL)
        return tz_err_set(err, TZ_ERR_NOMEM, "calendar: out of memory");
    if ((rc = tz_calendar_parse(cal, c, err)) != TZ_OK)
        tz_err_prefix(err, "body.");
    else
        rc = need_admin(d, NULL, NULL, err);
    json_t *years = json_object_get(json_object_get(d->body, "calendar"), "years");
    const char *year;
    json_t *notice;
    json_object_foreach(years, year, notice) {
        if (rc != TZ_OK)
            break;
        json_t *rec = json_pack("{s:O}", "notice", notice);
        rc = s_put1(d, "calendar", year, rec, err);
        json_decref(rec);
    }
    free(cal);
    return rc;
}

/* The adopted calendar for the years from..to (both days). */
static int load_calendar(dctx *d, int64_t from, int64_t to, tz_calendar *cal, tz_err *err)
{
    memset(cal, 0, sizeof *cal);
    for (int y = tz_time_year_of(from); y <= tz_time_year_of(to) + 1; y++) {
        char year[8];
        snprintf(year, sizeof year, "%04d", y);
        json_t *rec = NULL;
        int rc = s_get1(d, "calendar", year, &rec, err);
        if (rc == TZ_ERR_NOTFOUND) {
            if (y > tz_time_year_of(to))
                break; /* the next year's notice is consulted only when adopted */
            return tz_err_set(err, TZ_ERR_RULE, "calendar: no working-day calendar adopted for "
                              "%d (calendar.adopt it first; days are never guessed)", y);
        }
        if (rc != TZ_OK)
            return rc;
        msgpack_sbuffer sb;
        msgpack_sbuffer_init(&sb);
        msgpack_packer pk;
        msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
        msgpack_zone zone;
        msgpack_object o;
        tz_calendar_year cy;
        rc = tz_codec_from_json(&pk, json_object_get(rec, "notice"), "calendar", err);
        json_decref(rec);
        if (rc == TZ_OK && !msgpack_zone_init(&zone, 4096))
            rc = tz_err_set(err, TZ_ERR_NOMEM, "calendar: out of memory");
        else if (rc == TZ_OK) {
            rc = tz_codec_decode(&o, &zone, (const uint8_t *)sb.data, sb.size, err);
            if (rc == TZ_OK)
                rc = tz_calendar_year_parse(&cy, y, &o, "calendar", err);
            if (rc == TZ_OK)
                rc = tz_calendar_put_year(cal, &cy, err);
            msgpack_zone_destroy(&zone);
        }
        msgpack_sbuffer_destroy(&sb);
        if (rc != TZ_OK)
            return rc;
    }
    return TZ_OK;
}

/* ---- the mission ---------------------------------------------------------- */

static const char *const mission_roles[] = {"first_secretary", "team_member", "township_liaison"};

static const char *role_words(tz_mission_role r)
{
    return r == TZ_MISSION_FIRST_SECRETARY ? "a first secretary"
           : r == TZ_MISSION_TEAM_MEMBER   ? "a team member"
                                           : "a township liaison";
}

static int emp_allowed(const tz_profile_eligibility *e, const char *emp)
{
    for (size_t i = 0; i < e->nemployment; i++)
        if (strcmp(e->employment[i], emp) == 0)
            return 1;
    return e->nemployment == 0;
}

static int rank_allowed(const tz_profile_eligibility *e, const char *rank)
{
    for (size_t i = 0; i < e->nranks; i++)
        if (strcmp(e->ranks[i], rank) == 0)
            return 1;
    return e->nranks == 0;
}

static int check_eligibility(dctx *d, tz_mission_role role, const char *pid, const json_t *person,
                             int64_t start, tz_err *err)
{
    const tz_profile_eligibility *e = &d->prof->eligibility[role];
    if (!e->present)
        return TZ_OK;
    const char *emp = jstr(person, "employment");
    if (!emp_allowed(e, emp))
        return tz_err_set(err, TZ_ERR_RULE, "dispatch: %s is %s staff; %s is never chosen from "
                          "temporary, seconded or service staff (%s %s)", pid, emp,
                          role_words(role), d->prof->id, e->clause);
    if (e->party_member) {
        int64_t since = jday(person, "party_member_since");
        char s[11], st[11];
        fmt_day(st, start);
        if (since == INT64_MIN)
            return tz_err_set(err, TZ_ERR_RULE, "dispatch: %s must be a full party member "
                              "(正式党员); %s is not (%s %s)", role_words(role), pid,
                              d->prof->id, e->clause);
        fmt_day(s, since);
        if (e->party_years > 0 && tz_time_add_years(since, e->party_years) > start)
            return tz_err_set(err, TZ_ERR_RULE, "dispatch: %s needs at least %d year(s) of party "
                              "membership at the start; %s joined %s, start %s (%s %s)",
                              role_words(role), e->party_years, pid, s, st, d->prof->id,
                              e->clause);
    }
    const char *rank = jstr(person, "rank");
    if (!rank_allowed(e, rank))
        return tz_err_set(err, TZ_ERR_RULE, "dispatch: %s must be a division- or section-level "
                          "cadre or reserve; %s has rank %s (%s %s)", role_words(role), pid, rank,
                          d->prof->id, e->clause);
    return TZ_OK;
}

/* Fills rec's "need" from roles (each role one item) and crosses off what
 * this entry's signers meet; the entry itself must meet at least one item
 * or be signed by the proposer (a role within t, e.g. the dispatching unit
 * proposing a dispatch, or NULL). */
static int start_signatures(dctx *d, json_t *rec, const tz_profile_roles *roles,
                            const target *t, const char *what, const char *clause,
                            const char *proposer, tz_err *err)
{
    json_t *need = json_array();
    for (size_t i = 0; i < roles->n; i++)
        json_array_append_new(need, json_string(roles->names[i]));
    json_object_set_new(rec, "need", need);
    int met;
    satisfy(d, rec, t, &met);
    if (met > 0)
        return TZ_OK;
    if (proposer != NULL && any_holds(d->ctx, proposer, t))
        return TZ_OK;
    return need_any(d, roles, t, what, clause, err);
}

static int apply_dispatch(dctx *d, tz_err *err)
{
    static const char *const fields[] = {"person", "village", "unit", "role", "start",
                                         "planned_end"};
    const char *pid, *vid, *uid;
    size_t role_i;
    int64_t start, end;
    int rc;
    if ((rc = f_fields(d, fields, 6, err)) != TZ_OK || (rc = f_ref(d, "person", &pid, err)) != TZ_OK ||
        (rc = f_ref(d, "village", &vid, err)) != TZ_OK || (rc = f_ref(d, "unit", &uid, err)) != TZ_OK ||
        (rc = f_enum(d, "role", mission_roles, 3, &role_i, err)) != TZ_OK ||
        (rc = f_date(d, "start", &start, err)) != TZ_OK ||
        (rc = f_date(d, "planned_end", &end, err)) != TZ_OK)
        return rc;
    tz_mission_role role = (tz_mission_role)role_i;
    if (end <= start)
        return tz_err_set(err, TZ_ERR_INPUT, "body.planned_end: must be after body.start");
    if ((rc = need_profile(d, err)) != TZ_OK)
        return rc;
    const tz_profile *p = d->prof;
    if (p->dispatch_approval[role].signers.n == 0)
        return tz_err_set(err, TZ_ERR_RULE, "dispatch: %s sets no procedure for dispatching %s",
                          p->id, role_words(role));
    json_t *person = NULL, *village = NULL, *unit = NULL, *cur = NULL, *rec = NULL;
    if ((rc = load_registered(d, "person", "person", pid, &person, err)) != TZ_OK ||
        (rc = load_registered(d, "village", "village", vid, &village, err)) != TZ_OK ||
        (rc = load_registered(d, "unit", "unit", uid, &unit, err)) != TZ_OK)
        goto out;
    if (strcmp(jstr(person, "unit"), uid) != 0) {
        rc = tz_err_set(err, TZ_ERR_RULE, "body.unit: %s belongs to unit %s, not %s; the "
                        "dispatching unit (派出单位) is the cadre's own unit", pid,
                        jstr(person, "unit"), uid);
        goto out;
    }
    if ((rc = current_dispatch(d, person, &cur, err)) != TZ_OK)
        goto out;
    if (cur != NULL) {
        rc = tz_err_set(err, TZ_ERR_RULE, "dispatch: %s already holds dispatch %s (%s, village "
                        "%s, from %s); one person, one dispatch: end it (handover, dispatch.end "
                        "or recall) first", pid, jstr(cur, "id"), jstr(cur, "status"),
                        jstr(cur, "village"), jstr(cur, "start"));
        goto out;
    }
    if (p->term.min_years > 0 && end + 1 < tz_time_add_years(start, p->term.min_years)) {
        char s[11], e[11];
        fmt_day(s, start);
        fmt_day(e, end);
        rc = tz_err_set(err, TZ_ERR_RULE, "dispatch: a term of %s..%s is shorter than %d years "
                        "(%s %s)", s, e, p->term.min_years, p->id, p->term.clause);
        goto out;
    }
    if ((rc = check_eligibility(d, role, pid, person, start, err)) != TZ_OK)
        goto out;
    target t;
    memset(&t, 0, sizeof t);
    target_village(d, &t, village);
    t.village = vid;
    t.person[0] = pid;
    t.unit[0] = uid;
    rec = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s}", "type", "dispatch", "person", pid,
                    "village", vid, "unit", uid, "role", mission_roles[role], "start",
                    jstr(d->body, "start"), "planned_end", jstr(d->body, "planned_end"),
                    "status", "pending");
    char what[160];
    snprintf(what, sizeof what, "dispatch: %s needs", role_words(role));
    if ((rc = start_signatures(d, rec, &p->dispatch_approval[role].signers, &t, what,
                               p->dispatch_approval[role].clause, "dispatching_unit",
                               err)) != TZ_OK ||
        (rc = maybe_complete(d, rec, err)) != TZ_OK ||
        (rc = put_rec(d, d->id, rec, err)) != TZ_OK)
        goto out;
    json_t *list = json_object_get(person, "dispatches");
    if (list == NULL) {
        list = json_array();
        json_object_set_new(person, "dispatches", list);
    }
    if (json_array_size(list) >= LIST_MAX) {
        rc = tz_err_set(err, TZ_ERR_RULE, "dispatch: %s has %d dispatches on record, the most one "
                        "person may have", pid, LIST_MAX);
        goto out;
    }
    json_array_append_new(list, json_string(d->id));
    json_object_set_new(person, "current", json_string(d->id));
    rc = s_put1(d, "person", pid, person, err);
out:
    json_decref(person);
    json_decref(village);
    json_decref(unit);
    json_decref(cur);
    json_decref(rec);
    return rc;
}

/* The body.dispatch of dispatch.end / recall: the person's current, active dispatch. */
static int named_dispatch(dctx *d, const char *pid, json_t *person, json_t **disp, tz_err *err)
{
    const char *did;
    int rc = f_ref(d, "dispatch", &did, err);
    if (rc != TZ_OK || (rc = active_dispatch(d, pid, person, disp, err)) != TZ_OK)
        return rc;
    if (strcmp(jstr(*disp, "id"), did) != 0) {
        rc = tz_err_set(err, TZ_ERR_RULE, "body.dispatch: %s is not the active dispatch of %s "
                        "(that is %s)", did, pid, jstr(*disp, "id"));
        json_decref(*disp);
        *disp = NULL;
    }
    return rc;
}

static int apply_dispatch_end(dctx *d, tz_err *err)
{
    static const char *const fields[] = {"person", "dispatch", "date"};
    const char *pid;
    int64_t date;
    json_t *person = NULL, *disp = NULL, *village = NULL;
    int rc;
    if ((rc = f_fields(d, fields, 3, err)) != TZ_OK || (rc = f_ref(d, "person", &pid, err)) != TZ_OK ||
        (rc = f_date(d, "date", &date, err)) != TZ_OK || (rc = need_profile(d, err)) != TZ_OK ||
        (rc = load_registered(d, "person", "person", pid, &person, err)) != TZ_OK ||
        (rc = named_dispatch(d, pid, person, &disp, err)) != TZ_OK)
        goto out;
    tz_mission_role role = tz_mission_role_parse(jstr(disp, "role"), strlen(jstr(disp, "role")));
    if (role == TZ_MISSION_COUNT) {
        rc = tz_err_set(err, TZ_ERR_IO, "dispatch record is malformed (run verify)");
        goto out;
    }
    if (date < jday(disp, "planned_end")) {
        rc = tz_err_set(err, TZ_ERR_RULE, "dispatch.end: %s ends before the planned end %s; a term "
                        "is cut short only by a recall for a reason the profile allows (%s %s)",
                        jstr(d->body, "date"), jstr(disp, "planned_end"), d->prof->id,
                        d->prof->term.min_years ? d->prof->term.clause : d->prof->recall.clause);
        goto out;
    }
    if (date > d->at_day) {
        rc = tz_err_set(err, TZ_ERR_RULE, "body.date: %s is after the statement's date %s",
                        jstr(d->body, "date"), d->at_date);
        goto out;
    }
    if (json_object_get(person, "handover") != NULL) {
        rc = tz_err_set(err, TZ_ERR_RULE, "dispatch.end: handover %s of %s is open; the outgoing "
                        "cadre leaves when it completes", jstr(person, "handover"), pid);
        goto out;
    }
    target t;
    if ((rc = rec_target(d, disp, &t, &village, err)) != TZ_OK ||
        (rc = need_any(d, &d->prof->dispatch_approval[role].signers, &t, "dispatch.end: needs",
                       d->prof->dispatch_approval[role].clause, err)) != TZ_OK ||
        (rc = end_dispatch(d, person, pid, disp, date, "completed", err)) != TZ_OK)
        goto out;
    rc = s_put1(d, "person", pid, person, err);
out:
    json_decref(person);
    json_decref(disp);
    json_decref(village);
    return rc;
}

static int apply_attendance(dctx *d, tz_err *err)
{
    static const char *const fields[] = {"person", "month", "days"};
    const char *pid, *month, *days;
    json_t *person = NULL, *list = NULL, *village = NULL, *rec = NULL, *mark = NULL;
    json_t *absent_dates = NULL;
    tz_calendar *cal = NULL;
    int rc;
    if ((rc = f_fields(d, fields, 3, err)) != TZ_OK || (rc = f_ref(d, "person", &pid, err)) != TZ_OK ||
        (rc = f_str(d, "month", 7, 0, &month, err)) != TZ_OK ||
        (rc = f_str(d, "days", 31, 0, &days, err)) != TZ_OK)
        return rc;
    char first[11];
    int64_t day1;
    snprintf(first, sizeof first, "%s-01", month);
    if (strlen(month) != 7 || tz_time_parse_date(first, 10, "body.month", &day1, NULL) != TZ_OK)
        return tz_err_set(err, TZ_ERR_INPUT, "body.month: \"%s\" is not a month YYYY-MM", month);
    int year;
    unsigned mon, dd;
    tz_time_civil_from_days(day1, &year, &mon, &dd);
    unsigned ndays = tz_time_days_in_month(year, mon);
    if (strlen(days) != ndays)
        return tz_err_set(err, TZ_ERR_INPUT, "body.days: %s has %u days, the sheet has %zu codes "
                          "(one per day: P in village, B official business outside, R rest day, "
                          "L approved leave, A absent, - not stationed)", month, ndays, strlen(days));
    for (unsigned i = 0; i < ndays; i++)
        if (strchr("PBRLA-", days[i]) == NULL)
            return tz_err_set(err, TZ_ERR_INPUT, "body.days: day %u has code '%c'; codes are P in "
                              "village, B official business outside, R rest day, L approved "
                              "leave, A absent, - not stationed", i + 1, days[i]);
    if ((rc = need_profile(d, err)) != TZ_OK)
        return rc;
    const tz_profile *p = d->prof;
    if (p->attendance.signers.n == 0)
        return tz_err_set(err, TZ_ERR_RULE, "attendance: %s sets no attendance procedure", p->id);
    char k[KEY_MAX];
    size_t kl = skey(k, "att", pid, month, NULL);
    if ((rc = s_get(d, k, kl, &mark, err)) == TZ_OK) {
        rc = tz_err_set(err, TZ_ERR_RULE, "attendance: the sheet of %s for %s is already entry "
                        "%s (seq %lld); one sheet per cadre and month", pid, month,
                        jstr(mark, "sheet"), (long long)json_integer_value(json_object_get(mark, "seq")));
        goto out;
    }
    if (rc != TZ_ERR_NOTFOUND || (rc = load_registered(d, "person", "person", pid, &person, err)) != TZ_OK ||
        (rc = person_dispatches(d, person, &list, err)) != TZ_OK)
        goto out;
    char ykey[KEY_MAX], ys[8];
    snprintf(ys, sizeof ys, "%04d", year);
    size_t ykl = skey(ykey, "absent", pid, ys, NULL);
    if ((rc = s_get(d, ykey, ykl, &absent_dates, err)) != TZ_OK && rc != TZ_ERR_NOTFOUND)
        goto out;
    rc = TZ_OK;
    json_t *disp = NULL;
    int coded = 0;
    for (unsigned i = 0; i < ndays; i++) {
        if (days[i] == '-')
            continue;
        int64_t day = day1 + i;
        char ds[11];
        fmt_day(ds, day);
        if (day > d->at_day) {
            rc = tz_err_set(err, TZ_ERR_RULE, "attendance: day %u (%s) is after the sheet's date "
                            "%s; a sheet attests days that have passed", i + 1, ds, d->at_date);
            goto out;
        }
        json_t *on = dispatch_on(list, day);
        if (on == NULL) {
            rc = tz_err_set(err, TZ_ERR_RULE, "attendance: day %u (%s) is coded '%c' but %s was "
                            "not stationed that day (no approved dispatch covers it); code it '-'",
                            i + 1, ds, days[i], pid);
            goto out;
        }
        if (disp != NULL && strcmp(jstr(on, "village"), jstr(disp, "village")) != 0) {
            rc = tz_err_set(err, TZ_ERR_RULE, "attendance: the sheet covers two villages (%s and "
                            "%s); one sheet per village", jstr(disp, "village"),
                            jstr(on, "village"));
            goto out;
        }
        disp = on;
        coded++;
        if (days[i] == 'L' && leave_covering(person, day, 1) == NULL) {
            rc = tz_err_set(err, TZ_ERR_RULE, "attendance: day %u (%s) is coded L (approved leave) "
                            "but no approved leave of %s covers it (请销假制度)", i + 1, ds, pid);
            goto out;
        }
        if ((days[i] == 'P' || days[i] == 'B') && absent_dates != NULL) {
            size_t j;
            json_t *a;
            json_array_foreach(json_object_get(absent_dates, "dates"), j, a) {
                if (eq(json_string_value(a), ds)) {
                    rc = tz_err_set(err, TZ_ERR_RULE, "attendance: day %u (%s) is coded '%c' but "
                                    "spot check %s found %s absent without reason that day; code "
                                    "it A", i + 1, ds, days[i], json_string_value(json_array_get(
                                        json_object_get(absent_dates, "checks"), j)), pid);
                    goto out;
                }
            }
        }
        if (days[i] == 'R') {
            int working = 0;
            if (cal == NULL) {
                if ((cal = malloc(sizeof *cal)) == NULL) {
                    rc = tz_err_set(err, TZ_ERR_NOMEM, "calendar: out of memory");
                    goto out;
                }
                if ((rc = load_calendar(d, day1, day1 + ndays - 1, cal, err)) != TZ_OK) {
                    tz_err_prefix(err, "attendance: day %u is coded R (rest day): ", i + 1);
                    goto out;
                }
            }
            if ((rc = tz_calendar_is_working(cal, day, &working, err)) != TZ_OK)
                goto out;
            if (working) {
                rc = tz_err_set(err, TZ_ERR_RULE, "attendance: day %u (%s) is coded R (rest day) "
                                "but it is a working day in the adopted calendar; rest days are "
                                "weekends and holidays (值班 rotates over them)", i + 1, ds);
                goto out;
            }
        }
    }
    if (coded == 0) {
        rc = tz_err_set(err, TZ_ERR_RULE, "attendance: no day of %s is coded; a sheet covers days "
                        "when the cadre was stationed", month);
        goto out;
    }
    rec = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s}", "type", "attendance", "person", pid,
                    "month", month, "days", days, "village", jstr(disp, "village"), "dispatch",
                    jstr(disp, "id"), "status", "pending");
    if (p->attendance.due_day > 0) {
        int dy = year, dm = (int)mon + p->attendance.due_months_after;
        dy += (dm - 1) / 12;
        dm = (dm - 1) % 12 + 1;
        unsigned last = tz_time_days_in_month(dy, (unsigned)dm);
        unsigned due_d = (unsigned)p->attendance.due_day < last ? (unsigned)p->attendance.due_day : last;
        jset_day(rec, "due", tz_time_days_from_civil(dy, (unsigned)dm, due_d));
        json_object_set_new(rec, "due_rule", cite(d, p->attendance.due_clause));
    }
    json_object_set_new(rec, "sign_clause", cite(d, p->attendance.clause));
    if (p->attendance.min_days > 0) {
        json_object_set_new(rec, "min_days", json_integer(p->attendance.min_days));
        json_object_set_new(rec, "min_days_clause", cite(d, p->attendance.min_days_clause));
    }
    json_object_set_new(rec, "counts_b", json_boolean(p->attendance.official_business_counts));
    {
        char level[16];
        name_of(d, "unit", jstr(disp, "unit"), "level", level, sizeof level);
        for (size_t i = 0; i < p->nallowance; i++)
            if (p->allowance[i].unit_level[0] == '\0' ||
                strcmp(p->allowance[i].unit_level, level) == 0) {
                json_object_set_new(rec, "rate_fen", json_integer(p->allowance[i].fen_per_day));
                json_object_set_new(rec, "rate_clause", cite(d, p->allowance[i].clause));
                break;
            }
    }
    target t;
    if ((rc = rec_target(d, rec, &t, &village, err)) != TZ_OK ||
        (rc = start_signatures(d, rec, &p->attendance.signers, &t, "attendance: a sheet is signed "
                               "by", p->attendance.clause, "cadre", err)) != TZ_OK ||
        (rc = maybe_complete(d, rec, err)) != TZ_OK ||
        (rc = put_rec(d, d->id, rec, err)) != TZ_OK)
        goto out;
    json_t *m = json_pack("{s:s}", "sheet", d->id);
    rc = s_put(d, k, kl, m, err);
    json_decref(m);
out:
    free(cal);
    json_decref(person);
    json_decref(list);
    json_decref(village);
    json_decref(rec);
    json_decref(mark);
    json_decref(absent_dates);
    return rc;
}

static int apply_spot_check(dctx *d, tz_err *err)
{
    static const char *const fields[] = {"person", "date", "result", "note"};
    static const char *const results[] = {"present", "absent"};
    const char *pid, *note;
    int64_t date;
    size_t result;
    json_t *person = NULL, *list = NULL, *village = NULL, *mark = NULL, *count = NULL;
    int rc;
    if ((rc = f_fields(d, fields, 4, err)) != TZ_OK || (rc = f_ref(d, "person", &pid, err)) != TZ_OK ||
        (rc = f_date(d, "date", &date, err)) != TZ_OK ||
        (rc = f_enum(d, "result", results, 2, &result, err)) != TZ_OK ||
        (rc = f_str(d, "note", FIELD_MAX * 4, 1, &note, err)) != TZ_OK ||
        (rc = need_profile(d, err)) != TZ_OK)
        return rc;
    const tz_profile *p = d->prof;
    const char *ds = jstr(d->body, "date");
    if (date > d->at_day)
        return tz_err_set(err, TZ_ERR_RULE, "body.date: %s is after the statement's date %s", ds,
                          d->at_date);
    char k[KEY_MAX];
    size_t kl = skey(k, "spot", pid, ds, NULL);
    if ((rc = s_get(d, k, kl, &mark, err)) == TZ_OK) {
        rc = tz_err_set(err, TZ_ERR_RULE, "spot_check: %s was already checked on %s (seq %lld)",
                        pid, ds, (long long)json_integer_value(json_object_get(mark, "seq")));
        goto out;
    }
    if (rc != TZ_ERR_NOTFOUND || (rc = load_registered(d, "person", "person", pid, &person, err)) != TZ_OK ||
        (rc = person_dispatches(d, person, &list, err)) != TZ_OK)
        goto out;
    json_t *disp = dispatch_on(list, date);
    if (disp == NULL) {
        rc = tz_err_set(err, TZ_ERR_RULE, "spot_check: %s was not stationed on %s (no approved "
                        "dispatch covers it)", pid, ds);
        goto out;
    }
    json_t *leave = result == 1 ? leave_covering(person, date, 1) : NULL;
    if (leave != NULL) {
        rc = tz_err_set(err, TZ_ERR_RULE, "spot_check: %s was on approved leave %s on %s; absence "
                        "on approved leave is not absence without reason (无故不在岗)", pid,
                        json_string_value(json_array_get(leave, 0)), ds);
        goto out;
    }
    target t;
    if ((rc = rec_target(d, disp, &t, &village, err)) != TZ_OK ||
        (rc = need_any(d, &p->spot_check.signers, &t, "spot_check: needs", p->spot_check.clause,
                       err)) != TZ_OK)
        goto out;
    json_t *m = json_pack("{s:s,s:s}", "check", d->id, "result", results[result]);
    rc = s_put(d, k, kl, m, err);
    json_decref(m);
    if (rc != TZ_OK || result == 0)
        goto out;
    char year[8], kc[KEY_MAX];
    snprintf(year, sizeof year, "%04d", tz_time_year_of(date));
    size_t kcl = skey(kc, "absent", pid, year, NULL);
    rc = s_get(d, kc, kcl, &count, err);
    if (rc == TZ_ERR_NOTFOUND)
        count = json_pack("{s:i,s:[],s:[],s:[]}", "count", 0, "checks", "dates", "seqs");
    else if (rc != TZ_OK)
        goto out;
    json_object_set_new(count, "count",
                        json_integer(json_integer_value(json_object_get(count, "count")) + 1));
    json_array_append_new(json_object_get(count, "checks"), json_string(d->id));
    json_array_append_new(json_object_get(count, "dates"), json_string(ds));
    if (json_object_get(count, "seqs") == NULL)
        json_object_set_new(count, "seqs", json_array());
    json_array_append_new(json_object_get(count, "seqs"), json_integer((json_int_t)d->ctx->seq));
    if ((rc = s_put(d, kc, kcl, count, err)) == TZ_OK)
        rc = emit_absence(d, pid, year, count, err);
out:
    json_decref(person);
    json_decref(list);
    json_decref(village);
    json_decref(mark);
    json_decref(count);
    return rc;
}

/* ---- leave (请销假) --------------------------------------------------------- */

/* "<type>: N consecutive days for a first secretary <tail>", naming the run
 * when back-to-back leave makes it longer than the days of this request. */
static void leave_run_words(char *out, size_t cap, const char *type, int64_t run,
                            tz_mission_role role, int64_t run_from, int64_t run_to, int64_t days,
                            const char *tail)
{
    int n = snprintf(out, cap, "%s: %lld consecutive days for %s ", type, (long long)run,
                     role_words(role));
    if (run > days && n > 0 && (size_t)n < cap) {
        char f[11], t[11];
        fmt_day(f, run_from);
        fmt_day(t, run_to);
        n += snprintf(out + n, cap - (size_t)n, "(%s..%s: this leave of %lld days and the leave "
                      "back to back with it are one run, 连续请假) ", f, t, (long long)days);
    }
    if (n > 0 && (size_t)n < cap)
        snprintf(out + n, cap - (size_t)n, "%s", tail);
}

/* The tier of the profile for days consecutive days in mission role. */
static const tz_profile_leave_tier *leave_tier(const tz_profile *p, tz_mission_role role,
                                                int64_t days)
{
    for (size_t i = 0; i < p->leave.ntiers[role]; i++) {
        const tz_profile_leave_tier *t = &p->leave.tiers[role][i];
        if (t->max_days == 0 || days <= t->max_days)
            return t;
    }
    return NULL;
}

static int apply_leave_request(dctx *d, tz_err *err)
{
    static const char *const fields[] = {"person", "from", "to", "reason"};
    const char *pid, *reason;
    int64_t from, to;
    json_t *person = NULL, *disp = NULL, *village = NULL, *rec = NULL;
    int rc;
    if ((rc = f_fields(d, fields, 4, err)) != TZ_OK || (rc = f_ref(d, "person", &pid, err)) != TZ_OK ||
        (rc = f_date(d, "from", &from, err)) != TZ_OK || (rc = f_date(d, "to", &to, err)) != TZ_OK ||
        (rc = f_str(d, "reason", FIELD_MAX * 4, 0, &reason, err)) != TZ_OK)
        return rc;
    if (to < from)
        return tz_err_set(err, TZ_ERR_INPUT, "body.to: must not be before body.from");
    if ((rc = need_profile(d, err)) != TZ_OK ||
        (rc = load_registered(d, "person", "person", pid, &person, err)) != TZ_OK ||
        (rc = active_dispatch(d, pid, person, &disp, err)) != TZ_OK)
        goto out;
    const tz_profile *p = d->prof;
    tz_mission_role role = tz_mission_role_parse(jstr(disp, "role"), strlen(jstr(disp, "role")));
    int64_t days = to - from + 1, run_from = from, run_to = to;
    int64_t run = leave_run(person, &run_from, &run_to, 0);
    const tz_profile_leave_tier *tier = role < TZ_MISSION_COUNT ? leave_tier(p, role, run) : NULL;
    if (tier == NULL) {
        rc = tz_err_set(err, TZ_ERR_RULE, "leave.request: %s sets no approval tier for %lld days "
                        "of leave of %s", p->id, (long long)run, role_words(role));
        goto out;
    }
    if (from < d->at_day) {
        rc = tz_err_set(err, TZ_ERR_RULE, "leave.request: requested on %s for leave from %s; leave "
                        "is requested before it starts (%s %s)", d->at_date, jstr(d->body, "from"),
                        p->id, tier->clause);
        goto out;
    }
    if (from < jday(disp, "start") || to > jday(disp, "planned_end")) {
        rc = tz_err_set(err, TZ_ERR_RULE, "leave.request: %s..%s is outside dispatch %s (%s..%s)",
                        jstr(d->body, "from"), jstr(d->body, "to"), jstr(disp, "id"),
                        jstr(disp, "start"), jstr(disp, "planned_end"));
        goto out;
    }
    for (int64_t day = from; day <= to; day++) {
        json_t *other = leave_covering(person, day, 0);
        if (other != NULL) {
            rc = tz_err_set(err, TZ_ERR_RULE, "leave.request: overlaps leave %s of %s (%s..%s, "
                            "%s)", json_string_value(json_array_get(other, 0)), pid,
                            json_string_value(json_array_get(other, 1)),
                            json_string_value(json_array_get(other, 2)),
                            json_string_value(json_array_get(other, 3)));
            goto out;
        }
    }
    target t;
    if ((rc = rec_target(d, disp, &t, &village, err)) != TZ_OK)
        goto out;
    char what[300];
    if (tier->applicant[0] != '\0') {
        leave_run_words(what, sizeof what, "leave.request", run, role, run_from, run_to, days,
                        "is applied for by the");
        if ((rc = need_role(d, tier->applicant, &t, what, tier->clause, err)) != TZ_OK)
            goto out;
    } else if (!any_holds(d->ctx, "cadre", &t)) {
        rc = forbidden(d->ctx, err, "leave.request: the cadre %s requests their own leave (a key "
                       "with role cadre, scope person:%s)", pid, pid);
        goto out;
    }
    rec = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:I,s:s}", "type", "leave", "person", pid,
                    "dispatch", jstr(disp, "id"), "role", jstr(disp, "role"), "from",
                    jstr(d->body, "from"), "to", jstr(d->body, "to"), "days", (json_int_t)days,
                    "status", "requested");
    json_object_set_new(rec, "village", json_string(jstr(disp, "village")));
    json_object_set_new(rec, "unit", json_string(jstr(disp, "unit")));
    if (run > days) {
        jset_day(rec, "run_from", run_from);
        jset_day(rec, "run_to", run_to);
    }
    if (p->leave.recall_over_days > 0 && run > p->leave.recall_over_days) {
        json_object_set_new(rec, "recall_required", json_pack("s", p->leave.recall_clause));
        json_object_set_new(rec, "recall_cite", cite(d, p->leave.recall_clause));
    }
    json_object_set_new(rec, "tier_clause", cite(d, tier->clause));
    json_object_set_new(rec, "reason", json_string(reason));
    if (tier->applicant[0] != '\0')
        json_object_set_new(rec, "applicant_role", json_string(tier->applicant));
    json_t *leaves = json_object_get(person, "leaves");
    if (json_array_size(leaves) >= LIST_MAX) {
        rc = tz_err_set(err, TZ_ERR_RULE, "leave.request: %s has %d leaves on record, the most one "
                        "person may have", pid, LIST_MAX);
        goto out;
    }
    person_leave_set(person, d->id, from, to, "requested");
    if ((rc = put_rec(d, d->id, rec, err)) == TZ_OK)
        rc = s_put1(d, "person", pid, person, err);
out:
    json_decref(person);
    json_decref(disp);
    json_decref(village);
    json_decref(rec);
    return rc;
}

static int apply_leave_approve(dctx *d, tz_err *err)
{
    static const char *const fields[] = {"request", "decision", "note"};
    static const char *const decisions[] = {"approved", "refused"};
    const char *rid, *note;
    size_t decision;
    json_t *rec = NULL, *person = NULL, *village = NULL;
    int rc;
    if ((rc = f_fields(d, fields, 3, err)) != TZ_OK || (rc = f_ref(d, "request", &rid, err)) != TZ_OK ||
        (rc = f_enum(d, "decision", decisions, 2, &decision, err)) != TZ_OK ||
        (rc = f_str(d, "note", FIELD_MAX * 4, 1, &note, err)) != TZ_OK ||
        (rc = need_profile(d, err)) != TZ_OK ||
        (rc = load_rec(d, "request", rid, "leave", &rec, err)) != TZ_OK)
        goto out;
    const tz_profile *p = d->prof;
    if (strcmp(jstr(rec, "status"), "requested") != 0) {
        rc = tz_err_set(err, TZ_ERR_RULE, "leave.approve: leave %s is already %s", rid,
                        jstr(rec, "status"));
        goto out;
    }
    if (jday(rec, "to") < d->at_day) {
        rc = tz_err_set(err, TZ_ERR_RULE, "leave.approve: dated %s, after the leave ended (%s); "
                        "leave is not approved after the fact", d->at_date, jstr(rec, "to"));
        goto out;
    }
    tz_mission_role role = tz_mission_role_parse(jstr(rec, "role"), strlen(jstr(rec, "role")));
    int64_t days = json_integer_value(json_object_get(rec, "days"));
    const char *pid = jstr(rec, "person");
    if ((rc = load_registered(d, "person", "person", pid, &person, err)) != TZ_OK)
        goto out;
    int64_t run_from = jday(rec, "from"), run_to = jday(rec, "to");
    int64_t run = leave_run(person, &run_from, &run_to, 0);
    const tz_profile_leave_tier *tier = role < TZ_MISSION_COUNT ? leave_tier(p, role, run) : NULL;
    if (tier == NULL) {
        rc = tz_err_set(err, TZ_ERR_RULE, "leave.approve: %s sets no approval tier for %lld days "
                        "of leave of %s", p->id, (long long)run, role_words(role));
        goto out;
    }
    target t;
    char what[300];
    leave_run_words(what, sizeof what, "leave.approve", run, role, run_from, run_to, days, "needs");
    if ((rc = rec_target(d, rec, &t, &village, err)) != TZ_OK ||
        (rc = need_role(d, tier->approver, &t, what, tier->clause, err)) != TZ_OK)
        goto out;
    json_object_set_new(rec, "status", json_string(decisions[decision]));
    json_object_set_new(rec, "decided_seq", json_integer((json_int_t)d->ctx->seq));
    json_object_set_new(rec, "approver_role", json_string(tier->approver));
    if (tier->copy_to[0] != '\0')
        json_object_set_new(rec, "copy_to", json_string(tier->copy_to));
    person_leave_set(person, rid, jday(rec, "from"), jday(rec, "to"), decisions[decision]);
    if ((rc = put_rec(d, rid, rec, err)) == TZ_OK)
        rc = s_put1(d, "person", pid, person, err);
out:
    json_decref(rec);
    json_decref(person);
    json_decref(village);
    return rc;
}

static int apply_leave_return(dctx *d, tz_err *err)
{
    static const char *const fields[] = {"request", "date"};
    const char *rid;
    int64_t date;
    json_t *rec = NULL, *person = NULL, *village = NULL;
    int rc;
    if ((rc = f_fields(d, fields, 2, err)) != TZ_OK || (rc = f_ref(d, "request", &rid, err)) != TZ_OK ||
        (rc = f_date(d, "date", &date, err)) != TZ_OK || (rc = need_profile(d, err)) != TZ_OK ||
        (rc = load_rec(d, "request", rid, "leave", &rec, err)) != TZ_OK)
        goto out;
    if (strcmp(jstr(rec, "status"), "approved") != 0) {
        rc = tz_err_set(err, TZ_ERR_RULE, "leave.return: leave %s is %s; only approved leave is "
                        "closed by a return (销假)", rid, jstr(rec, "status"));
        goto out;
    }
    int64_t from = jday(rec, "from"), to = jday(rec, "to");
    if (date <= from || date > d->at_day) {
        rc = tz_err_set(err, TZ_ERR_RULE, "body.date: the return (back at post) must fall after the "
                        "first day of leave %s and not after the statement's date %s", rid,
                        d->at_date);
        goto out;
    }
    tz_mission_role role = tz_mission_role_parse(jstr(rec, "role"), strlen(jstr(rec, "role")));
    const tz_profile_leave_tier *tier =
        role < TZ_MISSION_COUNT ? leave_tier(d->prof, role, json_integer_value(
                                                 json_object_get(rec, "days"))) : NULL;
    target t;
    if ((rc = rec_target(d, rec, &t, &village, err)) != TZ_OK)
        goto out;
    if (!any_holds(d->ctx, "cadre", &t) && (tier == NULL || !any_holds(d->ctx, tier->approver, &t))) {
        rc = forbidden(d->ctx, err, "leave.return: signed by the cadre or by the approver of the "
                       "leave");
        goto out;
    }
    const char *pid = jstr(rec, "person");
    if ((rc = load_registered(d, "person", "person", pid, &person, err)) != TZ_OK)
        goto out;
    int64_t last = date - 1 < to ? date - 1 : to;
    json_object_set_new(rec, "status", json_string("returned"));
    json_object_set_new(rec, "returned", json_string(jstr(d->body, "date")));
    json_object_set_new(rec, "returned_seq", json_integer((json_int_t)d->ctx->seq));
    if (date > to + 1)
        json_object_set_new(rec, "overdue_days", json_integer((json_int_t)(date - to - 1)));
    person_leave_set(person, rid, from, last, "returned");
    if ((rc = put_rec(d, rid, rec, err)) == TZ_OK)
        rc = s_put1(d, "person", pid, person, err);
out:
    json_decref(rec);
    json_decref(person);
    json_decref(village);
    return rc;
}

/* ---- handover (交接) -------------------------------------------------------- */

static int apply_handover_start(dctx *d, tz_err *err)
{
    static const char *const fields[] = {"village", "outgoing", "incoming", "start"};
    const char *vid, *out_id, *in_id;
    int64_t start;
    json_t *village = NULL, *po = NULL, *pi = NULL, *dout = NULL, *din = NULL, *rec = NULL;
    int rc;
    if ((rc = f_fields(d, fields, 4, err)) != TZ_OK || (rc = f_ref(d, "village", &vid, err)) != TZ_OK ||
        (rc = f_ref(d, "outgoing", &out_id, err)) != TZ_OK ||
        (rc = f_ref(d, "incoming", &in_id, err)) != TZ_OK ||
        (rc = f_date(d, "start", &start, err)) != TZ_OK || (rc = need_profile(d, err)) != TZ_OK)
        return rc;
    const tz_profile *p = d->prof;
    if (strcmp(out_id, in_id) == 0)
        return tz_err_set(err, TZ_ERR_INPUT, "body.incoming: must differ from body.outgoing");
    if (p->handover.signers.n == 0)
        return tz_err_set(err, TZ_ERR_RULE, "handover.start: %s sets no handover procedure", p->id);
    if (start > d->at_day)
        return tz_err_set(err, TZ_ERR_RULE, "body.start: %s is after the statement's date %s",
                          jstr(d->body, "start"), d->at_date);
    if ((rc = load_registered(d, "village", "village", vid, &village, err)) != TZ_OK ||
        (rc = load_registered(d, "person", "outgoing", out_id, &po, err)) != TZ_OK ||
        (rc = load_registered(d, "person", "incoming", in_id, &pi, err)) != TZ_OK ||
        (rc = active_dispatch(d, out_id, po, &dout, err)) != TZ_OK ||
        (rc = active_dispatch(d, in_id, pi, &din, err)) != TZ_OK) {
        if (rc == TZ_ERR_RULE)
            tz_err_prefix(err, "handover.start: ");
        goto out;
    }
    if (strcmp(jstr(dout, "village"), vid) != 0 || strcmp(jstr(din, "village"), vid) != 0) {
        rc = tz_err_set(err, TZ_ERR_RULE, "handover.start: both cadres must be stationed in %s "
                        "(outgoing %s is in %s, incoming %s in %s)", vid, out_id,
                        jstr(dout, "village"), in_id, jstr(din, "village"));
        goto out;
    }
    if (strcmp(jstr(dout, "role"), jstr(din, "role")) != 0) {
        rc = tz_err_set(err, TZ_ERR_RULE, "handover.start: outgoing %s is %s, incoming %s is %s; a "
                        "handover passes one post", out_id, jstr(dout, "role"), in_id,
                        jstr(din, "role"));
        goto out;
    }
    if (json_object_get(po, "handover") != NULL) {
        rc = tz_err_set(err, TZ_ERR_RULE, "handover.start: %s already has open handover %s",
                        out_id, jstr(po, "handover"));
        goto out;
    }
    target t;
    memset(&t, 0, sizeof t);
    target_village(d, &t, village);
    t.person[0] = out_id;
    t.person[1] = in_id;
    t.unit[0] = jstr(dout, "unit");
    t.unit[1] = jstr(din, "unit");
    if ((rc = need_any(d, &p->handover.signers, &t, "handover.start: needs", p->handover.clause,
                       err)) != TZ_OK)
        goto out;
    rec = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s}", "type", "handover", "village", vid,
                    "outgoing", out_id, "incoming", in_id, "outgoing_dispatch", jstr(dout, "id"),
                    "outgoing_unit", jstr(dout, "unit"), "incoming_unit", jstr(din, "unit"),
                    "start", jstr(d->body, "start"), "status", "open");
    json_object_set_new(rec, "min_working_days", json_integer(p->handover.min_working_days));
    json_object_set_new(rec, "clause", cite(d, p->handover.clause));
    json_object_set_new(po, "handover", json_string(d->id));
    json_t *outgoing = json_deep_copy(dout);
    json_object_del(outgoing, "id");
    json_object_set_new(outgoing, "handover", json_string(d->id));
    if ((rc = put_rec(d, d->id, rec, err)) == TZ_OK && (rc = put_rec(d, jstr(dout, "id"), outgoing,
                                                                      err)) == TZ_OK)
        rc = s_put1(d, "person", out_id, po, err);
    json_decref(outgoing);
out:
    json_decref(village);
    json_decref(po);
    json_decref(pi);
    json_decref(dout);
    json_decref(din);
    json_decref(rec);
    return rc;
}

static int apply_handover_complete(dctx *d, tz_err *err)
{
    static const char *const fields[] = {"handover", "date"};
    const char *hid;
    int64_t date;
    json_t *h = NULL, *rec = NULL, *village = NULL;
    tz_calendar *cal = NULL;
    int rc;
    if ((rc = f_fields(d, fields, 2, err)) != TZ_OK || (rc = f_ref(d, "handover", &hid, err)) != TZ_OK ||
        (rc = f_date(d, "date", &date, err)) != TZ_OK || (rc = need_profile(d, err)) != TZ_OK ||
        (rc = load_rec(d, "handover", hid, "handover", &h, err)) != TZ_OK)
        goto out;
    const tz_profile *p = d->prof;
    if (strcmp(jstr(h, "status"), "open") != 0) {
        rc = tz_err_set(err, TZ_ERR_RULE, "handover.complete: handover %s is %s", hid,
                        jstr(h, "status"));
        goto out;
    }
    int64_t start = jday(h, "start");
    if (date < start || date > d->at_day) {
        rc = tz_err_set(err, TZ_ERR_RULE, "body.date: must fall between the handover's start %s "
                        "and the statement's date %s", jstr(h, "start"), d->at_date);
        goto out;
    }
    int64_t worked = 0;
    if ((cal = malloc(sizeof *cal)) == NULL) {
        rc = tz_err_set(err, TZ_ERR_NOMEM, "calendar: out of memory");
        goto out;
    }
    if ((rc = load_calendar(d, start, date, cal, err)) != TZ_OK ||
        (rc = tz_calendar_count_working(cal, start, date, &worked, err)) != TZ_OK) {
        tz_err_prefix(err, "handover.complete: ");
        goto out;
    }
    if (p->handover.min_working_days > 0 && worked < p->handover.min_working_days) {
        int64_t earliest = 0;
        char e[11] = "?";
        if (tz_calendar_add_working(cal, start, p->handover.min_working_days, &earliest, NULL) ==
            TZ_OK)
            fmt_day(e, earliest);
        rc = tz_err_set(err, TZ_ERR_RULE, "handover.complete: %lld working days from %s to %s; at "
                        "least %d are required, so %s is the earliest completion (%s %s)",
                        (long long)worked, jstr(h, "start"), jstr(d->body, "date"),
                        p->handover.min_working_days, e, p->id, p->handover.clause);
        goto out;
    }
    rec = json_pack("{s:s,s:s,s:s,s:I,s:s,s:s,s:s,s:s,s:s,s:s}", "type", "handover.complete",
                    "handover", hid, "date", jstr(d->body, "date"), "working_days",
                    (json_int_t)worked, "village", jstr(h, "village"), "outgoing",
                    jstr(h, "outgoing"), "incoming", jstr(h, "incoming"), "outgoing_unit",
                    jstr(h, "outgoing_unit"), "incoming_unit", jstr(h, "incoming_unit"),
                    "status", "pending");
    /* both cadres, and one of the profile's signers */
    char any[TZ_PROFILE_MAX_ROLES * (TZ_PROFILE_ROLE_MAX + 1) + 1] = "";
    size_t off = 0;
    for (size_t i = 0; i < p->handover.signers.n; i++)
        off += (size_t)snprintf(any + off, sizeof any - off, "%s%s", i ? "|" : "",
                                p->handover.signers.names[i]);
    char a[TZ_STATEMENT_ID_MAX + 8], b[TZ_STATEMENT_ID_MAX + 8];
    snprintf(a, sizeof a, "cadre:%s", jstr(h, "outgoing"));
    snprintf(b, sizeof b, "cadre:%s", jstr(h, "incoming"));
    json_object_set_new(rec, "need", json_pack("[s,s,s]", a, b, any));
    target t;
    int met;
    if ((rc = rec_target(d, rec, &t, &village, err)) != TZ_OK)
        goto out;
    satisfy(d, rec, &t, &met);
    if (met == 0) {
        rc = forbidden(d->ctx, err, "handover.complete: signed by the outgoing cadre, the incoming "
                       "cadre and the dispatching unit (%s %s)", p->id, p->handover.clause);
        goto out;
    }
    json_object_set_new(h, "status", json_string("completing"));
    json_object_set_new(h, "complete", json_string(d->id));
    json_object_set_new(h, "working_days", json_integer((json_int_t)worked));
    if ((rc = put_rec(d, hid, h, err)) != TZ_OK ||
        (rc = maybe_complete(d, rec, err)) != TZ_OK)
        goto out;
    rc = put_rec(d, d->id, rec, err);
out:
    free(cal);
    json_decref(h);
    json_decref(rec);
    json_decref(village);
    return rc;
}

/* ---- recall (召回) and assessment (考核) ------------------------------------ */

static int absences_in(dctx *d, const char *pid, int year, int64_t *count, tz_err *err)
{
    char y[8], k[KEY_MAX];
    snprintf(y, sizeof y, "%04d", year);
    size_t kl = skey(k, "absent", pid, y, NULL);
    json_t *rec = NULL;
    int rc = s_get(d, k, kl, &rec, err);
    *count = rc == TZ_OK ? json_integer_value(json_object_get(rec, "count")) : 0;
    json_decref(rec);
    return rc == TZ_ERR_NOTFOUND ? TZ_OK : rc;
}

static int grade_of(dctx *d, const char *pid, int year, json_t **out, tz_err *err)
{
    char y[8], k[KEY_MAX];
    snprintf(y, sizeof y, "%04d", year);
    size_t kl = skey(k, "grade", pid, y, NULL);
    return s_get(d, k, kl, out, err);
}

/* The evidence a recall reason needs on the ledger, when it can be checked. */
static int recall_evidence(dctx *d, const char *reason, const char *clause, const char *pid,
                           const json_t *person, const json_t *disp, int64_t date, tz_err *err)
{
    const tz_profile *p = d->prof;
    if (strcmp(reason, "third_absence") == 0) {
        int64_t n = 0, need = 3;
        for (size_t i = 0; i < p->assessment.ncaps; i++)
            if (p->assessment.caps[i].recall) {
                need = p->assessment.caps[i].absences;
                break;
            }
        int rc = absences_in(d, pid, tz_time_year_of(date), &n, err);
        if (rc != TZ_OK)
            return rc;
        if (n < need)
            return tz_err_set(err, TZ_ERR_RULE, "recall: reason third_absence needs %lld absences "
                              "without reason found in %d; %s has %lld on the ledger (%s %s)",
                              (long long)need, tz_time_year_of(date), pid, (long long)n, p->id, clause);
    } else if (strcmp(reason, "leave_over_30_days") == 0) {
        size_t i;
        json_t *l;
        int found = 0;
        json_array_foreach(json_object_get(person, "leaves"), i, l) {
            const char *from = json_string_value(json_array_get(l, 1));
            const char *to = json_string_value(json_array_get(l, 2));
            int64_t f, t;
            if (from && to && tz_time_parse_date(from, 10, "f", &f, NULL) == TZ_OK &&
                tz_time_parse_date(to, 10, "t", &t, NULL) == TZ_OK && f >= jday(disp, "start") &&
                leave_run(person, &f, &t, 1) >
                    (p->leave.recall_over_days > 0 ? p->leave.recall_over_days : 30) &&
                (eq(json_string_value(json_array_get(l, 3)), "approved") ||
                 eq(json_string_value(json_array_get(l, 3)), "returned")))
                found = 1;
        }
        if (!found)
            return tz_err_set(err, TZ_ERR_RULE, "recall: reason leave_over_30_days needs a leave of "
                              "more than %d consecutive days in dispatch %s; %s has none (%s %s)",
                              p->leave.recall_over_days > 0 ? p->leave.recall_over_days : 30,
                              jstr(disp, "id"), pid, p->id, clause);
    } else if (strcmp(reason, "grade_incompetent") == 0) {
        int found = 0;
        for (int y = tz_time_year_of(jday(disp, "start")); y <= tz_time_year_of(date) && !found; y++) {
            json_t *g = NULL;
            int rc = grade_of(d, pid, y, &g, err);
            if (rc != TZ_OK && rc != TZ_ERR_NOTFOUND)
                return rc;
            found = g != NULL && eq(jstr(g, "grade"), "不称职");
            json_decref(g);
        }
        if (!found)
            return tz_err_set(err, TZ_ERR_RULE, "recall: reason grade_incompetent needs an annual "
                              "grade 不称职 during dispatch %s; %s has none (%s %s)",
                              jstr(disp, "id"), pid, p->id, clause);
    }
    return TZ_OK;
}

static int apply_recall(dctx *d, tz_err *err)
{
    static const char *const fields[] = {"person", "dispatch", "reason", "date", "note"};
    const char *pid, *reason, *note;
    int64_t date;
    json_t *person = NULL, *disp = NULL, *village = NULL;
    int rc;
    if ((rc = f_fields(d, fields, 5, err)) != TZ_OK || (rc = f_ref(d, "person", &pid, err)) != TZ_OK ||
        (rc = f_str(d, "reason", TZ_PROFILE_CODE_MAX - 1, 0, &reason, err)) != TZ_OK ||
        (rc = f_date(d, "date", &date, err)) != TZ_OK ||
        (rc = f_str(d, "note", FIELD_MAX * 4, 1, &note, err)) != TZ_OK ||
        (rc = need_profile(d, err)) != TZ_OK ||
        (rc = load_registered(d, "person", "person", pid, &person, err)) != TZ_OK ||
        (rc = named_dispatch(d, pid, person, &disp, err)) != TZ_OK)
        goto out;
    const tz_profile *p = d->prof;
    const tz_profile_recall_reason *why = NULL;
    for (size_t i = 0; i < p->recall.nreasons; i++)
        if (strcmp(p->recall.reasons[i].code, reason) == 0)
            why = &p->recall.reasons[i];
    if (why == NULL) {
        char list[400] = "";
        size_t off = 0;
        for (size_t i = 0; i < p->recall.nreasons && off < sizeof list; i++)
            off += (size_t)snprintf(list + off, sizeof list - off, "%s%s %s", i ? ", " : "",
                                    p->recall.reasons[i].code, p->recall.reasons[i].clause);
        rc = tz_err_set(err, TZ_ERR_RULE, "recall: \"%s\" is not a ground for ending a term under "
                        "%s (its grounds: %s)%s%s", reason, p->id, list[0] ? list : "none",
                        p->term.min_years ? "; a term may not be cut short for other reasons, "
                        "e.g. promotion " : "", p->term.min_years ? p->term.clause : "");
        goto out;
    }
    if (date < jday(disp, "start") || date > d->at_day) {
        rc = tz_err_set(err, TZ_ERR_RULE, "body.date: must fall between the dispatch's start %s "
                        "and the statement's date %s", jstr(disp, "start"), d->at_date);
        goto out;
    }
    target t;
    if ((rc = recall_evidence(d, reason, why->clause, pid, person, disp, date, err)) != TZ_OK ||
        (rc = rec_target(d, disp, &t, &village, err)) != TZ_OK ||
        (rc = need_any(d, &p->recall.signers, &t, "recall: needs", p->recall.clause, err)) != TZ_OK)
        goto out;
    /* an open handover of the recalled cadre is abandoned */
    const char *hid = json_string_value(json_object_get(person, "handover"));
    if (hid != NULL) {
        json_t *h = NULL;
        if ((rc = s_get1(d, "rec", hid, &h, err)) == TZ_OK) {
            json_object_set_new(h, "status", json_string("abandoned"));
            rc = put_rec(d, hid, h, err);
        }
        json_decref(h);
        json_object_del(person, "handover");
        if (rc != TZ_OK)
            goto out;
    }
    json_object_set_new(disp, "recall_reason", json_string(reason));
    if ((rc = end_dispatch(d, person, pid, disp, date, "recalled", err)) != TZ_OK)
        goto out;
    json_t *recalls = json_object_get(person, "recalls");
    if (recalls == NULL) {
        recalls = json_array();
        json_object_set_new(person, "recalls", recalls);
    }
    json_array_append_new(recalls, json_pack("[s,s,s]", jstr(disp, "id"), jstr(d->body, "date"),
                                             reason));
    if ((rc = s_put1(d, "person", pid, person, err)) == TZ_OK)
        rc = emit_recall(d, pid, disp, reason, why->clause, err);
out:
    json_decref(person);
    json_decref(disp);
    json_decref(village);
    return rc;
}

static int apply_assessment(dctx *d, tz_err *err)
{
    static const char *const fields[] = {"person", "year", "grade"};
    const char *pid, *gname;
    int64_t year;
    json_t *person = NULL, *list = NULL, *village = NULL, *prior = NULL, *count = NULL;
    int rc;
    if ((rc = f_fields(d, fields, 3, err)) != TZ_OK || (rc = f_ref(d, "person", &pid, err)) != TZ_OK ||
        (rc = f_int(d, "year", 1900, 9999, &year, err)) != TZ_OK ||
        (rc = f_str(d, "grade", 32, 0, &gname, err)) != TZ_OK)
        return rc;
    tz_grade grade = tz_grade_parse(gname, strlen(gname));
    if (grade == TZ_GRADE_NONE)
        return tz_err_set(err, TZ_ERR_INPUT, "body.grade: \"%s\" is not one of 优秀, 称职, 基本称职, "
                          "不称职", gname);
    if ((rc = need_profile(d, err)) != TZ_OK)
        return rc;
    const tz_profile *p = d->prof;
    if ((rc = grade_of(d, pid, (int)year, &prior, err)) == TZ_OK) {
        rc = tz_err_set(err, TZ_ERR_RULE, "assessment: %s was already graded %s for %lld (seq "
                        "%lld)", pid, jstr(prior, "grade"), (long long)year,
                        (long long)json_integer_value(json_object_get(prior, "seq")));
        goto out;
    }
    if (rc != TZ_ERR_NOTFOUND || (rc = load_registered(d, "person", "person", pid, &person, err)) != TZ_OK ||
        (rc = person_dispatches(d, person, &list, err)) != TZ_OK)
        goto out;
    int64_t y0 = tz_time_days_from_civil(year, 1, 1), y1 = tz_time_days_from_civil(year, 12, 31);
    int64_t stationed = 0;
    json_t *last = NULL, *disp;
    size_t i;
    json_array_foreach(list, i, disp) {
        if (strcmp(jstr(disp, "status"), "pending") == 0)
            continue;
        int64_t a = jday(disp, "start"), b = dispatch_last(disp);
        if (a < y0)
            a = y0;
        if (b > y1)
            b = y1;
        if (a <= b) {
            stationed += b - a + 1;
            last = disp;
        }
    }
    if (last == NULL) {
        rc = tz_err_set(err, TZ_ERR_RULE, "assessment: %s was not stationed in %lld", pid,
                        (long long)year);
        goto out;
    }
    if (p->assessment.more_than_half_year && stationed * 2 <= y1 - y0 + 1) {
        rc = tz_err_set(err, TZ_ERR_RULE, "assessment: %s was stationed %lld days of %lld; the "
                        "annual assessment covers cadres stationed more than half a year (%s %s)",
                        pid, (long long)stationed, (long long)year, p->id,
                        p->assessment.eligibility_clause);
        goto out;
    }
    int64_t absences = 0;
    if ((rc = absences_in(d, pid, (int)year, &absences, err)) != TZ_OK)
        goto out;
    for (i = 0; i < p->assessment.ncaps; i++) {
        const tz_profile_absence_cap *c = &p->assessment.caps[i];
        if (absences < c->absences)
            continue;
        if (c->forced_grade != TZ_GRADE_NONE && grade != c->forced_grade) {
            rc = tz_err_set(err, TZ_ERR_RULE, "assessment: %s was found absent without reason "
                            "%lld time(s) in %lld; the grade must be %s (%s %s)", pid,
                            (long long)absences, (long long)year, tz_grade_name(c->forced_grade),
                            p->id, c->clause);
            goto out;
        }
        if (c->max_grade != TZ_GRADE_NONE && grade > c->max_grade) {
            rc = tz_err_set(err, TZ_ERR_RULE, "assessment: %s was found absent without reason "
                            "%lld time(s) in %lld; the grade may be at most %s, not %s (%s %s)",
                            pid, (long long)absences, (long long)year,
                            tz_grade_name(c->max_grade), gname, p->id, c->clause);
            goto out;
        }
    }
    if (p->assessment.recalled_max_grade != TZ_GRADE_NONE && grade > p->assessment.recalled_max_grade) {
        json_t *r;
        json_array_foreach(json_object_get(person, "recalls"), i, r) {
            const char *when = json_string_value(json_array_get(r, 1));
            if (when != NULL && atoi(when) == (int)year) {
                rc = tz_err_set(err, TZ_ERR_RULE, "assessment: %s was recalled on %s; a recalled "
                                "cadre is graded at most %s that year (%s %s)", pid, when,
                                tz_grade_name(p->assessment.recalled_max_grade), p->id,
                                p->assessment.recalled_clause);
                goto out;
            }
        }
    }
    target t;
    if ((rc = rec_target(d, last, &t, &village, err)) != TZ_OK ||
        (rc = need_any(d, &p->assessment.signers, &t, "assessment: needs", p->assessment.clause,
                       err)) != TZ_OK)
        goto out;
    char ys[8], k[KEY_MAX], kc[KEY_MAX];
    snprintf(ys, sizeof ys, "%04d", (int)year);
    if (grade == TZ_GRADE_EXCELLENT && p->assessment.excellent_quota_percent > 0 &&
        strcmp(jstr(last, "role"), "first_secretary") == 0) {
        size_t kcl = skey(kc, "fs", t.county ? t.county : "", ys, NULL);
        if ((rc = s_get(d, kc, kcl, &count, err)) != TZ_OK) {
            if (rc == TZ_ERR_NOTFOUND)
                rc = tz_err_set(err, TZ_ERR_IO, "first secretary count of %s %s is missing",
                                t.county ? t.county : "", ys);
            goto out;
        }
        json_int_t n = json_integer_value(json_object_get(count, "first_secretaries"));
        json_int_t e = json_integer_value(json_object_get(count, "excellent"));
        if ((e + 1) * 100 > (json_int_t)p->assessment.excellent_quota_percent * n) {
            rc = tz_err_set(err, TZ_ERR_RULE, "assessment: 优秀 is limited to %d%% of the %lld first "
                            "secretaries of %s in %s (at most %lld); %lld already given (%s %s)",
                            p->assessment.excellent_quota_percent, (long long)n, t.county, ys,
                            (long long)(n * p->assessment.excellent_quota_percent / 100),
                            (long long)e, p->id, p->assessment.quota_clause);
            goto out;
        }
        json_object_set_new(count, "excellent", json_integer(e + 1));
        if ((rc = s_put(d, kc, kcl, count, err)) != TZ_OK)
            goto out;
    }
    size_t kl = skey(k, "grade", pid, ys, NULL);
    json_t *g = json_pack("{s:s,s:s,s:s,s:I}", "grade", gname, "assessment", d->id, "dispatch",
                          jstr(last, "id"), "days_stationed", (json_int_t)stationed);
    if (grade == TZ_GRADE_INCOMPETENT && p->assessment.incompetent_recall)
        json_object_set_new(g, "recall_required", json_string(p->assessment.incompetent_clause));
    if ((rc = s_put(d, k, kl, g, err)) == TZ_OK) {
        json_t *doc = json_deep_copy(g);
        json_t *explain = json_deep_copy(json_object_get(last, "history"));
        if (explain == NULL)
            explain = json_array();
        json_array_append_new(explain, json_integer((json_int_t)d->ctx->seq));
        json_object_set_new(doc, "explain", explain);
        if (json_object_get(doc, "recall_required") != NULL)
            json_object_set_new(doc, "recall_required",
                                cite(d, p->assessment.incompetent_clause));
        const tz_profile_recall_consequences *rcq = &p->recall_consequences;
        json_t *cons = json_array();
        if (grade == TZ_GRADE_INCOMPETENT && rcq->incompetent_no_promotion_years > 0) {
            char until[11];
            fmt_day(until, tz_time_add_years(d->at_day, rcq->incompetent_no_promotion_years));
            json_array_append_new(cons, json_pack("{s:s,s:s,s:o}", "code", "no_promotion_until",
                                                  "date", until, "clause",
                                                  cite(d, rcq->incompetent_promotion_clause)));
        }
        if (grade == TZ_GRADE_INCOMPETENT && rcq->unit_leaders_no_excellent_on_incompetent)
            json_array_append_new(cons, json_pack("{s:s,s:s,s:i,s:b,s:b,s:o}", "code",
                                                  "unit_leaders_no_excellent", "unit",
                                                  jstr(last, "unit"), "year", (int)year, "head",
                                                  rcq->unit_head_no_excellent, "deputy",
                                                  rcq->unit_deputy_no_excellent, "clause",
                                                  cite(d, rcq->unit_leaders_clause)));
        json_object_set_new(doc, "consequences", cons);
        rc = view_put2(d, "grade", pid, ys, doc, err);
        json_decref(doc);
    }
    json_decref(g);
out:
    json_decref(person);
    json_decref(list);
    json_decref(village);
    json_decref(prior);
    json_decref(count);
    return rc;
}

/* ---- entry points ------------------------------------------------------------ */

typedef int (*domain_fn)(dctx *d, tz_err *err);

static const struct {
    const char *type;
    domain_fn fn;
} handlers[] = {
    {"org.unit", apply_org_unit},
    {"org.village", apply_org_village},
    {"person.register", apply_person_register},
    {"registry.retire", apply_registry_retire},
    {"policy.adopt", apply_policy_adopt},
    {"calendar.adopt", apply_calendar_adopt},
    {"dispatch", apply_dispatch},
    {"dispatch.end", apply_dispatch_end},
    {"attendance", apply_attendance},
    {"spot_check", apply_spot_check},
    {"leave.request", apply_leave_request},
    {"leave.approve", apply_leave_approve},
    {"leave.return", apply_leave_return},
    {"handover.start", apply_handover_start},
    {"handover.complete", apply_handover_complete},
    {"recall", apply_recall},
    {"assessment", apply_assessment},
};
#define N_HANDLERS (sizeof handlers / sizeof handlers[0])

static size_t find_handler(const char *type, size_t len)
{
    for (size_t i = 0; i < N_HANDLERS; i++)
        if (strlen(handlers[i].type) == len && memcmp(handlers[i].type, type, len) == 0)
            return i;
    return N_HANDLERS;
}

int tz_domain_knows(const char *type, size_t len)
{
    return find_handler(type, len) < N_HANDLERS;
}

static int dctx_init(dctx *d, tz_apply_ctx *ctx, const tz_statement *st, tz_err *err)
{
    memset(d, 0, sizeof *d);
    d->ctx = ctx;
    snprintf(d->type, sizeof d->type, "%.*s", (int)st->type_len, st->type);
    snprintf(d->id, sizeof d->id, "%.*s", (int)st->id_len, st->id);
    int rc = tz_time_parse_date(st->at, 10, "at", &d->at_day, err);
    if (rc != TZ_OK)
        return rc;
    fmt_day(d->at_date, d->at_day);
    return TZ_OK;
}

int tz_domain_apply(tz_apply_ctx *ctx, tz_err *err)
{
    const tz_statement *st = ctx->st;
    size_t h = find_handler(st->type, st->type_len);
    if (h == N_HANDLERS)
        return tz_err_set(err, TZ_ERR_INTERNAL, "domain: no handler for %.*s", (int)st->type_len,
                          st->type);
    dctx *d = malloc(sizeof *d);
    if (d == NULL)
        return tz_err_set(err, TZ_ERR_NOMEM, "domain: out of memory");
    int rc = dctx_init(d, ctx, st, err);
    if (rc == TZ_OK) {
        d->body = tz_codec_to_json(st->body, err);
        if (d->body == NULL)
            rc = err ? err->code : TZ_ERR_INPUT;
        else if (json_object_size(d->body) > 64)
            rc = tz_err_set(err, TZ_ERR_INPUT, "body: too many fields");
    }
    if (rc == TZ_OK)
        rc = handlers[h].fn(d, err);
    if (rc == TZ_OK)
        rc = write_subjects(d, err);
    json_decref(d->body);
    free(d);
    return rc;
}

int tz_domain_cosign(tz_apply_ctx *ctx, uint64_t target_seq, const tz_statement *tst, tz_err *err)
{
    if (!(tz_statement_is(tst, "dispatch") || tz_statement_is(tst, "attendance") ||
          tz_statement_is(tst, "handover.complete")))
        return TZ_OK;
    dctx *d = malloc(sizeof *d);
    if (d == NULL)
        return tz_err_set(err, TZ_ERR_NOMEM, "domain: out of memory");
    json_t *rec = NULL, *village = NULL;
    int rc = dctx_init(d, ctx, ctx->st, err);
    char tid[TZ_STATEMENT_ID_MAX + 1];
    snprintf(tid, sizeof tid, "%.*s", (int)tst->id_len, tst->id);
    if (rc == TZ_OK) {
        rc = s_get1(d, "rec", tid, &rec, err);
        if (rc == TZ_ERR_NOTFOUND)
            rc = tz_err_set(err, TZ_ERR_IO, "cosign: entry %llu has no record (run verify)",
                            (unsigned long long)target_seq);
    }
    if (rc == TZ_OK && json_array_size(json_object_get(rec, "need")) == 0)
        rc = tz_err_set(err, TZ_ERR_RULE, "cosign: entry %llu (%s %s) is complete and awaits no "
                        "signature", (unsigned long long)target_seq, jstr(rec, "type"), tid);
    target t;
    if (rc == TZ_OK)
        rc = rec_target(d, rec, &t, &village, err);
    if (rc == TZ_OK) {
        int met;
        satisfy(d, rec, &t, &met);
        if (met == 0) {
            char want[512];
            need_label(rec, want, sizeof want);
            rc = forbidden(ctx, err, "cosign: entry %llu (%s %s) awaits %s of %s",
                           (unsigned long long)target_seq, jstr(rec, "type"), tid, want,
                           jstr(rec, "village"));
        }
    }
    if (rc == TZ_OK && (rc = maybe_complete(d, rec, err)) == TZ_OK &&
        (rc = put_rec(d, tid, rec, err)) == TZ_OK)
        rc = write_subjects(d, err);
    json_decref(rec);
    json_decref(village);
    free(d);
    return rc;
}
