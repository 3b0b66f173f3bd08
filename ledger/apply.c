/*
 * apply.c: the decision procedure for the ledger-core statement types and
 * the key registry (see apply.h for the rules). Reads and writes go through
 * the caller's batch; nothing here commits. Lookups are point reads by key
 * (a few per statement), so deciding costs far less than one Ed25519
 * verification.
 */
#include "ledger/apply.h"

#include <stdio.h>
#include <string.h>

#include "crypto/hash.h"
#include "ledger/checkpoint.h"
#include "ledger/codec.h"
#include "projections/domain.h"
#include "util/encoding.h"

static const char *const known_roles[] = {
    "authority",
    "county_org_dept",
    "rural_revitalisation_bureau",
    "city_org_dept",
    "provincial_org_dept",
    "county_party_secretary",
    "city_party_secretary",
    "township_party_committee",
    "township_party_secretary",
    "village_party_secretary",
    "dispatching_unit",
    "inspector",
    "cadre",
};
#define N_KNOWN_ROLES (sizeof known_roles / sizeof known_roles[0])

/* ---- small helpers over decoded bodies ---------------------------------- */

static int body_fields(const tz_statement *st, const char *const *allowed, size_t n, tz_err *err)
{
    for (uint32_t i = 0; i < st->body->via.map.size; i++) {
        const msgpack_object *k = &st->body->via.map.ptr[i].key;
        size_t j;
        for (j = 0; j < n; j++)
            if (tz_codec_str_eq(k, allowed[j]))
                break;
        if (j == n)
            return tz_err_set(err, TZ_ERR_INPUT, "body.%.*s: unknown field for %.*s",
                              (int)k->via.str.size, k->via.str.ptr, (int)st->type_len, st->type);
    }
    return TZ_OK;
}

static int body_str(const tz_statement *st, const char *name, size_t min, size_t max,
                    const char **s, size_t *len, tz_err *err)
{
    const msgpack_object *o = tz_codec_map_get(st->body, name);
    if (o == NULL)
        return tz_err_set(err, TZ_ERR_INPUT, "body.%s: missing", name);
    if (o->type != MSGPACK_OBJECT_STR)
        return tz_err_set(err, TZ_ERR_INPUT, "body.%s: must be a string", name);
    if (o->via.str.size < min || o->via.str.size > max)
        return tz_err_set(err, TZ_ERR_INPUT, "body.%s: must be %zu..%zu bytes (is %u)", name, min,
                          max, o->via.str.size);
    *s = o->via.str.ptr;
    *len = o->via.str.size;
    return TZ_OK;
}

static int body_key(const tz_statement *st, const char *name, tz_public_key *out, tz_err *err)
{
    const char *s;
    size_t len;
    int rc = body_str(st, name, 1, TZ_KEY_STRING_MAX, &s, &len, err);
    if (rc != TZ_OK)
        return rc;
    rc = tz_key_parse_public(out, s, len, err);
    if (rc != TZ_OK)
        tz_err_prefix(err, "body.%s: ", name);
    return rc;
}

static void copy_str(char *dst, size_t cap, const char *src, size_t len)
{
    if (len >= cap)
        len = cap - 1;
    memcpy(dst, src, len);
    dst[len] = '\0';
}

static void short_key(char out[17], const uint8_t pk[32])
{
    tz_hex_encode(out, pk, 8);
}

/* ---- index records ------------------------------------------------------ */

#define KEY_PREFIX "key"
#define ID_PREFIX "id"
#define COSIG_PREFIX "cosig"

static size_t index_key(uint8_t *out, const char *prefix, const void *a, size_t alen,
                        const void *b, size_t blen)
{
    size_t p = strlen(prefix) + 1; /* include the NUL separator */
    memcpy(out, prefix, p);
    memcpy(out + p, a, alen);
    if (blen)
        memcpy(out + p + alen, b, blen);
    return p + alen + blen;
}

static int pack_seq_only(msgpack_sbuffer *sb, uint64_t seq)
{
    msgpack_packer pk;
    msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
    return msgpack_pack_map(&pk, 1) | tz_codec_pack_str(&pk, "seq", 3) |
           msgpack_pack_uint64(&pk, seq);
}

int tz_apply_value_seq(const uint8_t *val, size_t len, uint64_t *seq)
{
    msgpack_zone zone;
    if (!msgpack_zone_init(&zone, 1024))
        return TZ_ERR_NOMEM;
    msgpack_object o;
    int rc = tz_codec_decode(&o, &zone, val, len, NULL);
    if (rc == TZ_OK) {
        const msgpack_object *s = tz_codec_map_get(&o, "seq");
        if (s != NULL && s->type == MSGPACK_OBJECT_POSITIVE_INTEGER)
            *seq = s->via.u64;
        else
            rc = TZ_ERR_INPUT;
    }
    msgpack_zone_destroy(&zone);
    return rc;
}

/* Key record: canonical map {granted_seq, holder, name, [revoked_seq],
 * roles, root, scope, seq}. */
static tz_key_record *cache_find(tz_key_cache *c, const uint8_t pk[32])
{
    for (size_t i = 0; c != NULL && i < c->count; i++)
        if (tz_hash_equal(c->records[i].pk, pk, 32))
            return &c->records[i];
    return NULL;
}

static void cache_store(tz_key_cache *c, const tz_key_record *r)
{
    if (c == NULL)
        return;
    tz_key_record *slot = cache_find(c, r->pk);
    if (slot == NULL) {
        if (c->count < TZ_KEY_CACHE_SIZE)
            slot = &c->records[c->count++];
        else {
            slot = &c->records[c->next];
            c->next = (c->next + 1) % TZ_KEY_CACHE_SIZE;
        }
    }
    *slot = *r;
}

static int key_record_put(tz_apply_ctx *ctx, const tz_key_record *r, uint64_t seq, tz_err *err)
{
    tz_store_batch *batch = ctx->batch;
    cache_store(ctx->key_cache, r);
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    int bad = msgpack_pack_map(&pk, r->revoked ? 8 : 7);
    bad |= tz_codec_pack_str(&pk, "granted_seq", 11) | msgpack_pack_uint64(&pk, r->granted_seq);
    bad |= tz_codec_pack_str(&pk, "holder", 6) | tz_codec_pack_str(&pk, r->holder, strlen(r->holder));
    bad |= tz_codec_pack_str(&pk, "name", 4) | tz_codec_pack_str(&pk, r->name, strlen(r->name));
    if (r->revoked)
        bad |= tz_codec_pack_str(&pk, "revoked_seq", 11) | msgpack_pack_uint64(&pk, r->revoked_seq);
    bad |= tz_codec_pack_str(&pk, "roles", 5) | msgpack_pack_array(&pk, r->nroles);
    for (size_t i = 0; i < r->nroles; i++)
        bad |= tz_codec_pack_str(&pk, r->roles[i], strlen(r->roles[i]));
    bad |= tz_codec_pack_str(&pk, "root", 4) | (r->root ? msgpack_pack_true(&pk) : msgpack_pack_false(&pk));
    bad |= tz_codec_pack_str(&pk, "scope", 5) | tz_codec_pack_str(&pk, r->scope, strlen(r->scope));
    bad |= tz_codec_pack_str(&pk, "seq", 3) | msgpack_pack_uint64(&pk, seq);
    if (bad) {
        msgpack_sbuffer_destroy(&sb);
        return tz_err_set(err, TZ_ERR_NOMEM, "key record: out of memory");
    }
    uint8_t k[64];
    size_t klen = index_key(k, KEY_PREFIX, r->pk, 32, NULL, 0);
    tz_store_batch_put(batch, TZ_CF_INDEX, k, klen, sb.data, sb.size);
    msgpack_sbuffer_destroy(&sb);
    return TZ_OK;
}

static int rec_str(const msgpack_object *m, const char *name, char *dst, size_t cap)
{
    const msgpack_object *o = tz_codec_map_get(m, name);
    if (o == NULL || o->type != MSGPACK_OBJECT_STR)
        return -1;
    copy_str(dst, cap, o->via.str.ptr, o->via.str.size);
    return 0;
}

int tz_apply_key_get(tz_store_batch *batch, const uint8_t pk[32], tz_key_record *out, tz_err *err)
{
    uint8_t k[64];
    size_t klen = index_key(k, KEY_PREFIX, pk, 32, NULL, 0);
    uint8_t *val = NULL;
    size_t len = 0;
    int rc = tz_store_batch_get(batch, TZ_CF_INDEX, k, klen, &val, &len, err);
    if (rc != TZ_OK)
        return rc;
    msgpack_zone zone;
    if (!msgpack_zone_init(&zone, 2048)) {
        tz_store_free(val);
        return tz_err_set(err, TZ_ERR_NOMEM, "key record: out of memory");
    }
    msgpack_object m;
    memset(out, 0, sizeof *out);
    memcpy(out->pk, pk, 32);
    rc = tz_codec_decode(&m, &zone, val, len, err);
    if (rc == TZ_OK) {
        const msgpack_object *g = tz_codec_map_get(&m, "granted_seq");
        const msgpack_object *rv = tz_codec_map_get(&m, "revoked_seq");
        const msgpack_object *roles = tz_codec_map_get(&m, "roles");
        const msgpack_object *root = tz_codec_map_get(&m, "root");
        if (g == NULL || g->type != MSGPACK_OBJECT_POSITIVE_INTEGER || roles == NULL ||
            roles->type != MSGPACK_OBJECT_ARRAY || roles->via.array.size > TZ_MAX_ROLES ||
            root == NULL || root->type != MSGPACK_OBJECT_BOOLEAN ||
            rec_str(&m, "holder", out->holder, sizeof out->holder) ||
            rec_str(&m, "name", out->name, sizeof out->name) ||
            rec_str(&m, "scope", out->scope, sizeof out->scope)) {
            rc = tz_err_set(err, TZ_ERR_IO, "key record: stored record is malformed");
        } else {
            out->granted_seq = g->via.u64;
            out->root = root->via.boolean;
            if (rv != NULL && rv->type == MSGPACK_OBJECT_POSITIVE_INTEGER) {
                out->revoked = 1;
                out->revoked_seq = rv->via.u64;
            }
            out->nroles = roles->via.array.size;
            for (size_t i = 0; i < out->nroles; i++) {
                const msgpack_object *r = &roles->via.array.ptr[i];
                if (r->type == MSGPACK_OBJECT_STR)
                    copy_str(out->roles[i], sizeof out->roles[i], r->via.str.ptr, r->via.str.size);
            }
        }
    } else {
        rc = tz_err_set(err, TZ_ERR_IO, "key record: stored record is not canonical");
    }
    msgpack_zone_destroy(&zone);
    tz_store_free(val);
    return rc;
}

int tz_apply_id_get(tz_store_batch *batch, const char *id, size_t len, uint64_t *seq, tz_err *err)
{
    /* The key is built on the stack: a longer id (no statement can have
     * one, tz_statement_check_id) is refused before it is copied. */
    uint8_t k[sizeof ID_PREFIX + TZ_STATEMENT_ID_MAX];
    if (len == 0 || len > TZ_STATEMENT_ID_MAX)
        return tz_err_set(err, TZ_ERR_INPUT, "id: %zu bytes (at most %d, at least 1)", len,
                          TZ_STATEMENT_ID_MAX);
    size_t klen = index_key(k, ID_PREFIX, id, len, NULL, 0);
    uint8_t *val = NULL;
    size_t vlen = 0;
    int rc = tz_store_batch_get(batch, TZ_CF_INDEX, k, klen, &val, &vlen, err);
    if (rc != TZ_OK)
        return rc;
    rc = tz_apply_value_seq(val, vlen, seq);
    tz_store_free(val);
    if (rc != TZ_OK)
        return tz_err_set(err, TZ_ERR_IO, "id index: stored record is malformed");
    return TZ_OK;
}

int tz_apply_key_has_role(const tz_key_record *rec, const char *role)
{
    if (rec->root)
        return 1;
    for (size_t i = 0; i < rec->nroles; i++)
        if (strcmp(rec->roles[i], role) == 0)
            return 1;
    return 0;
}

/* The log key has a record (so it cannot be granted) with the single
 * role "log"; it may sign genesis and checkpoints, never a statement. */
static int is_log_key(const tz_key_record *rec)
{
    return !rec->root && rec->nroles == 1 && strcmp(rec->roles[0], "log") == 0;
}

static int any_signer_has_role(const tz_apply_ctx *ctx, const char *role)
{
    for (size_t i = 0; i < ctx->nsigs; i++)
        if (tz_apply_key_has_role(&ctx->signers[i], role))
            return 1;
    return 0;
}

static int any_signer_root(const tz_apply_ctx *ctx)
{
    for (size_t i = 0; i < ctx->nsigs; i++)
        if (ctx->signers[i].root)
            return 1;
    return 0;
}

/* ---- statement types ---------------------------------------------------- */

static int apply_genesis(tz_apply_ctx *ctx, tz_err *err)
{
    static const char *const fields[] = {"log_key", "origin", "roots"};
    const tz_statement *st = ctx->st;
    int rc = body_fields(st, fields, 3, err);
    if (rc != TZ_OK)
        return rc;
    tz_public_key log_key;
    const char *origin;
    size_t origin_len;
    if ((rc = body_key(st, "log_key", &log_key, err)) != TZ_OK ||
        (rc = body_str(st, "origin", 1, TZ_ORIGIN_MAX, &origin, &origin_len, err)) != TZ_OK)
        return rc;
    char origin_z[TZ_ORIGIN_MAX + 1];
    copy_str(origin_z, sizeof origin_z, origin, origin_len);
    if (memchr(origin, 0, origin_len) != NULL ||
        (rc = tz_checkpoint_check_origin(origin_z, err)) != TZ_OK) {
        if (rc == TZ_OK)
            rc = tz_err_set(err, TZ_ERR_INPUT, "NUL byte");
        tz_err_prefix(err, "body.origin: ");
        return rc;
    }
    if (ctx->nsigs != 1 || !tz_hash_equal(ctx->sigs[0].key, log_key.pk, 32))
        return tz_err_set(err, TZ_ERR_SIGNATURE,
                          "genesis: must be signed by the log key named in body.log_key, alone");
    const msgpack_object *roots = tz_codec_map_get(st->body, "roots");
    if (roots == NULL || roots->type != MSGPACK_OBJECT_ARRAY || roots->via.array.size == 0 ||
        roots->via.array.size > TZ_ENTRY_MAX_SIGS)
        return tz_err_set(err, TZ_ERR_INPUT, "body.roots: must be an array of 1..%d verifier key "
                          "strings", TZ_ENTRY_MAX_SIGS);
    tz_public_key keys[TZ_ENTRY_MAX_SIGS];
    for (uint32_t i = 0; i < roots->via.array.size; i++) {
        const msgpack_object *r = &roots->via.array.ptr[i];
        if (r->type != MSGPACK_OBJECT_STR)
            return tz_err_set(err, TZ_ERR_INPUT, "body.roots[%u]: must be a string", i);
        if ((rc = tz_key_parse_public(&keys[i], r->via.str.ptr, r->via.str.size, err)) != TZ_OK) {
            tz_err_prefix(err, "body.roots[%u]: ", i);
            return rc;
        }
        if (tz_hash_equal(keys[i].pk, log_key.pk, 32))
            return tz_err_set(err, TZ_ERR_RULE, "body.roots[%u]: the log key may not also be a "
                              "root authority (it signs checkpoints only)", i);
        for (uint32_t j = 0; j < i; j++)
            if (tz_hash_equal(keys[i].pk, keys[j].pk, 32))
                return tz_err_set(err, TZ_ERR_RULE, "body.roots[%u]: the same key twice", i);
    }
    tz_key_record logrec;
    memset(&logrec, 0, sizeof logrec);
    memcpy(logrec.pk, log_key.pk, 32);
    copy_str(logrec.name, sizeof logrec.name, log_key.name, strlen(log_key.name));
    copy_str(logrec.holder, sizeof logrec.holder, "log", 3);
    copy_str(logrec.scope, sizeof logrec.scope, "checkpoints", 11);
    logrec.nroles = 1;
    copy_str(logrec.roles[0], sizeof logrec.roles[0], "log", 3);
    if ((rc = key_record_put(ctx, &logrec, ctx->seq, err)) != TZ_OK)
        return rc;
    for (uint32_t i = 0; i < roots->via.array.size; i++) {
        tz_key_record rec;
        memset(&rec, 0, sizeof rec);
        memcpy(rec.pk, keys[i].pk, 32);
        copy_str(rec.name, sizeof rec.name, keys[i].name, strlen(keys[i].name));
        copy_str(rec.holder, sizeof rec.holder, "root", 4);
        copy_str(rec.scope, sizeof rec.scope, "*", 1);
        rec.nroles = 1;
        copy_str(rec.roles[0], sizeof rec.roles[0], "root", 4);
        rec.root = 1;
        rec.granted_seq = ctx->seq;
        if ((rc = key_record_put(ctx, &rec, ctx->seq, err)) != TZ_OK)
            return rc;
    }
    return TZ_OK;
}

static int apply_key_grant(tz_apply_ctx *ctx, tz_err *err)
{
    static const char *const fields[] = {"holder", "key", "roles", "scope"};
    const tz_statement *st = ctx->st;
    int rc = body_fields(st, fields, 4, err);
    if (rc != TZ_OK)
        return rc;
    tz_public_key key;
    const char *holder, *scope;
    size_t holder_len, scope_len;
    if ((rc = body_key(st, "key", &key, err)) != TZ_OK ||
        (rc = body_str(st, "holder", 1, TZ_HOLDER_MAX, &holder, &holder_len, err)) != TZ_OK ||
        (rc = body_str(st, "scope", 1, TZ_SCOPE_MAX, &scope, &scope_len, err)) != TZ_OK)
        return rc;
    if ((rc = tz_domain_check_scope(scope, scope_len, err)) != TZ_OK)
        return rc;
    const msgpack_object *roles = tz_codec_map_get(st->body, "roles");
    if (roles == NULL || roles->type != MSGPACK_OBJECT_ARRAY || roles->via.array.size == 0 ||
        roles->via.array.size > TZ_MAX_ROLES)
        return tz_err_set(err, TZ_ERR_INPUT, "body.roles: must be an array of 1..%d role names",
                          TZ_MAX_ROLES);
    tz_key_record rec;
    memset(&rec, 0, sizeof rec);
    int grants_authority = 0;
    for (uint32_t i = 0; i < roles->via.array.size; i++) {
        const msgpack_object *r = &roles->via.array.ptr[i];
        size_t k;
        if (r->type != MSGPACK_OBJECT_STR)
            return tz_err_set(err, TZ_ERR_INPUT, "body.roles[%u]: must be a string", i);
        for (k = 0; k < N_KNOWN_ROLES; k++)
            if (tz_codec_str_eq(r, known_roles[k]))
                break;
        if (k == N_KNOWN_ROLES)
            return tz_err_set(err, TZ_ERR_INPUT, "body.roles[%u]: unknown role \"%.*s\" (see "
                              "docs/EVENTS.md for the list)", i, (int)r->via.str.size, r->via.str.ptr);
        for (size_t j = 0; j < rec.nroles; j++)
            if (strcmp(rec.roles[j], known_roles[k]) == 0)
                return tz_err_set(err, TZ_ERR_INPUT, "body.roles[%u]: role listed twice", i);
        grants_authority |= (k == 0);
        copy_str(rec.roles[rec.nroles], sizeof rec.roles[0], known_roles[k], strlen(known_roles[k]));
        rec.nroles++;
    }
    if (grants_authority && !any_signer_root(ctx))
        return tz_err_set(err, TZ_ERR_FORBIDDEN, "key.grant: only a root key may grant the role "
                          "\"authority\"");
    if (!any_signer_has_role(ctx, "authority"))
        return tz_err_set(err, TZ_ERR_FORBIDDEN, "key.grant: needs a signature by a root key or a "
                          "key holding role \"authority\"; no signer holds it");
    tz_key_record existing;
    tz_err lookup;
    rc = tz_apply_key_get(ctx->batch, key.pk, &existing, &lookup);
    if (rc == TZ_OK) {
        char hex[17];
        short_key(hex, key.pk);
        if (is_log_key(&existing))
            return tz_err_set(err, TZ_ERR_RULE, "body.key: the log's checkpoint key cannot be "
                              "granted (it signs checkpoints only)");
        if (existing.revoked)
            return tz_err_set(err, TZ_ERR_RULE, "body.key: key %s (%s) was revoked at seq %llu; a "
                              "revoked key is never granted again", key.name, hex,
                              (unsigned long long)existing.revoked_seq);
        return tz_err_set(err, TZ_ERR_RULE, "body.key: key %s (%s) is already granted (seq %llu); "
                          "revoke it first to change its roles", key.name, hex,
                          (unsigned long long)existing.granted_seq);
    }
    if (rc != TZ_ERR_NOTFOUND) {
        if (err)
            *err = lookup;
        return rc;
    }
    memcpy(rec.pk, key.pk, 32);
    copy_str(rec.name, sizeof rec.name, key.name, strlen(key.name));
    copy_str(rec.holder, sizeof rec.holder, holder, holder_len);
    copy_str(rec.scope, sizeof rec.scope, scope, scope_len);
    rec.granted_seq = ctx->seq;
    return key_record_put(ctx, &rec, ctx->seq, err);
}

static int apply_key_revoke(tz_apply_ctx *ctx, tz_err *err)
{
    static const char *const fields[] = {"key", "reason"};
    const tz_statement *st = ctx->st;
    int rc = body_fields(st, fields, 2, err);
    if (rc != TZ_OK)
        return rc;
    tz_public_key key;
    const char *reason;
    size_t reason_len;
    if ((rc = body_key(st, "key", &key, err)) != TZ_OK ||
        (rc = body_str(st, "reason", 1, 1024, &reason, &reason_len, err)) != TZ_OK)
        return rc;
    tz_key_record rec;
    tz_err lookup;
    rc = tz_apply_key_get(ctx->batch, key.pk, &rec, &lookup);
    if (rc == TZ_ERR_NOTFOUND)
        return tz_err_set(err, TZ_ERR_RULE, "body.key: key %s was never granted", key.name);
    if (rc != TZ_OK) {
        if (err)
            *err = lookup;
        return rc;
    }
    if (rec.revoked)
        return tz_err_set(err, TZ_ERR_RULE, "body.key: key %s is already revoked (seq %llu)",
                          key.name, (unsigned long long)rec.revoked_seq);
    if (is_log_key(&rec))
        return tz_err_set(err, TZ_ERR_RULE, "body.key: the log's checkpoint key signs no "
                          "statements, so it cannot be revoked here; a new log key means a new "
                          "ledger");
    int by_other_root = 0;
    for (size_t i = 0; i < ctx->nsigs; i++)
        by_other_root |= ctx->signers[i].root && !tz_hash_equal(ctx->sigs[i].key, key.pk, 32);
    /* A root is revoked only by another root, so the last root can never go. */
    if (rec.root && !by_other_root)
        return tz_err_set(err, TZ_ERR_FORBIDDEN, "key.revoke: a root key is revoked only by "
                          "another root key (the last root key cannot be revoked)");
    int self = 0;
    for (size_t i = 0; i < ctx->nsigs; i++)
        self |= tz_hash_equal(ctx->sigs[i].key, key.pk, 32);
    int privileged = rec.root || tz_apply_key_has_role(&rec, "authority");
    if (privileged && !any_signer_root(ctx) && !self)
        return tz_err_set(err, TZ_ERR_FORBIDDEN, "key.revoke: only a root key (or the key itself) "
                          "may revoke an authority key");
    if (!self && !any_signer_has_role(ctx, "authority"))
        return tz_err_set(err, TZ_ERR_FORBIDDEN, "key.revoke: needs a signature by a root key, an "
                          "\"authority\" key, or the revoked key itself");
    rec.revoked = 1;
    rec.revoked_seq = ctx->seq;
    return key_record_put(ctx, &rec, ctx->seq, err);
}

static int apply_memo(tz_apply_ctx *ctx, tz_err *err)
{
    static const char *const fields[] = {"text"};
    const char *text;
    size_t len;
    int rc = body_fields(ctx->st, fields, 1, err);
    if (rc != TZ_OK)
        return rc;
    return body_str(ctx->st, "text", 1, TZ_STATEMENT_MAX, &text, &len, err);
}

static int apply_cosign(tz_apply_ctx *ctx, tz_err *err)
{
    static const char *const fields[] = {"seq", "statement_hash"};
    const tz_statement *st = ctx->st;
    int rc = body_fields(st, fields, 2, err);
    if (rc != TZ_OK)
        return rc;
    const msgpack_object *target = tz_codec_map_get(st->body, "seq");
    if (target == NULL || target->type != MSGPACK_OBJECT_POSITIVE_INTEGER)
        return tz_err_set(err, TZ_ERR_INPUT, "body.seq: must be a non-negative integer");
    uint64_t tseq = target->via.u64;
    if (tseq >= ctx->seq)
        return tz_err_set(err, TZ_ERR_RULE, "body.seq: entry %llu does not exist yet (log size "
                          "%llu)", (unsigned long long)tseq, (unsigned long long)ctx->seq);
    const char *hex;
    size_t hex_len;
    uint8_t want[32];
    size_t want_len = 0;
    if ((rc = body_str(st, "statement_hash", 64, 64, &hex, &hex_len, err)) != TZ_OK)
        return rc;
    for (size_t i = 0; i < hex_len; i++)
        if (!((hex[i] >= '0' && hex[i] <= '9') || (hex[i] >= 'a' && hex[i] <= 'f')))
            return tz_err_set(err, TZ_ERR_INPUT, "body.statement_hash: must be 64 lower-case hex "
                              "digits (one spelling per hash)");
    if (tz_hex_decode(want, sizeof want, &want_len, hex, hex_len, err) != TZ_OK || want_len != 32)
        return tz_err_set(err, TZ_ERR_INPUT, "body.statement_hash: must be 64 hex digits "
                          "(SHA-256 of the entry's statement bytes)");
    uint8_t key8[8];
    tz_store_key_u64(key8, tseq);
    uint8_t *raw = NULL;
    size_t raw_len = 0;
    if ((rc = tz_store_batch_get(ctx->batch, TZ_CF_ENTRIES, key8, 8, &raw, &raw_len, err)) != TZ_OK)
        return rc;
    tz_entry e;
    rc = tz_entry_decode(&e, raw, raw_len, err);
    if (rc == TZ_OK) {
        uint8_t have[32];
        tz_hash_sha256(have, e.statement, e.statement_len);
        if (!tz_hash_equal(have, want, 32))
            rc = tz_err_set(err, TZ_ERR_RULE, "body.statement_hash: does not match the statement "
                            "of entry %llu", (unsigned long long)tseq);
    }
    for (size_t i = 0; rc == TZ_OK && i < ctx->nsigs; i++) {
        for (size_t j = 0; j < e.nsigs; j++)
            if (tz_hash_equal(e.sigs[j].key, ctx->sigs[i].key, 32))
                rc = tz_err_set(err, TZ_ERR_RULE, "cosign: key %s already signed entry %llu",
                                ctx->signers[i].name, (unsigned long long)tseq);
        uint8_t k[64];
        size_t klen = index_key(k, COSIG_PREFIX, key8, 8, ctx->sigs[i].key, 32);
        uint8_t *v = NULL;
        size_t vlen = 0;
        int found = tz_store_batch_get(ctx->batch, TZ_CF_INDEX, k, klen, &v, &vlen, NULL);
        tz_store_free(v);
        if (rc == TZ_OK && found == TZ_OK)
            rc = tz_err_set(err, TZ_ERR_RULE, "cosign: key %s already co-signed entry %llu",
                            ctx->signers[i].name, (unsigned long long)tseq);
        else if (rc == TZ_OK && found != TZ_ERR_NOTFOUND)
            rc = tz_err_set(err, TZ_ERR_IO, "cosign: index read failed");
        if (rc == TZ_OK) {
            msgpack_sbuffer sb;
            msgpack_sbuffer_init(&sb);
            if (pack_seq_only(&sb, ctx->seq))
                rc = tz_err_set(err, TZ_ERR_NOMEM, "cosign: out of memory");
            else
                tz_store_batch_put(ctx->batch, TZ_CF_INDEX, k, klen, sb.data, sb.size);
            msgpack_sbuffer_destroy(&sb);
        }
    }
    if (rc == TZ_OK) {
        /* a domain record may be waiting for exactly these signatures */
        msgpack_zone zone;
        tz_statement target_st;
        if (!msgpack_zone_init(&zone, 4096))
            rc = tz_err_set(err, TZ_ERR_NOMEM, "cosign: out of memory");
        else {
            rc = tz_statement_decode(&target_st, &zone, e.statement, e.statement_len, err);
            if (rc == TZ_OK)
                rc = tz_domain_cosign(ctx, tseq, &target_st, err);
            msgpack_zone_destroy(&zone);
        }
    }
    tz_store_free(raw);
    return rc;
}

typedef int (*apply_fn)(tz_apply_ctx *ctx, tz_err *err);

static const struct {
    const char *type;
    apply_fn fn;
} handlers[] = {
    {"genesis", apply_genesis},
    {"key.grant", apply_key_grant},
    {"key.revoke", apply_key_revoke},
    {"memo", apply_memo},
    {"cosign", apply_cosign},
};

int tz_apply_statement(tz_apply_ctx *ctx, tz_err *err)
{
    const tz_statement *st = ctx->st;
    int is_genesis = tz_statement_is(st, "genesis");
    if (ctx->seq == 0 && !is_genesis)
        return tz_err_set(err, TZ_ERR_RULE, "type: entry 0 must be the genesis statement");
    if (ctx->seq != 0 && is_genesis)
        return tz_err_set(err, TZ_ERR_RULE, "type: genesis is allowed only as entry 0");
    if (st->at_unix > (int64_t)(ctx->recorded_at / 1000000u) + TZ_AT_FUTURE_SLACK_SECONDS)
        return tz_err_set(err, TZ_ERR_RULE, "at: %.*s is more than %d seconds after the server "
                          "clock; statements may not be dated in the future", (int)st->at_len,
                          st->at, TZ_AT_FUTURE_SLACK_SECONDS);
    size_t h;
    for (h = 0; h < sizeof handlers / sizeof handlers[0]; h++)
        if (tz_statement_is(st, handlers[h].type))
            break;
    int domain = 0;
    if (h == sizeof handlers / sizeof handlers[0])
        domain = tz_domain_knows(st->type, st->type_len);
    if (h == sizeof handlers / sizeof handlers[0] && !domain)
        return tz_err_set(err, TZ_ERR_RULE, "type: unknown statement type \"%.*s\" (see "
                          "docs/EVENTS.md)", (int)st->type_len, st->type);
    uint64_t prior;
    int rc = ctx->id_unused ? TZ_ERR_NOTFOUND
                            : tz_apply_id_get(ctx->batch, st->id, st->id_len, &prior, err);
    if (rc == TZ_OK)
        return tz_err_set(err, TZ_ERR_CONFLICT, "id: \"%.*s\" is already used by entry %llu",
                          (int)st->id_len, st->id, (unsigned long long)prior);
    if (rc != TZ_ERR_NOTFOUND)
        return rc;
    if (!is_genesis) {
        for (size_t i = 0; i < ctx->nsigs; i++) {
            char hex[17];
            tz_err lookup;
            const tz_key_record *cached = cache_find(ctx->key_cache, ctx->sigs[i].key);
            if (cached != NULL) {
                ctx->signers[i] = *cached;
                rc = TZ_OK;
            } else {
                rc = tz_apply_key_get(ctx->batch, ctx->sigs[i].key, &ctx->signers[i], &lookup);
                if (rc == TZ_OK)
                    cache_store(ctx->key_cache, &ctx->signers[i]);
            }
            if (rc != TZ_OK || ctx->signers[i].revoked)
                short_key(hex, ctx->sigs[i].key); /* for the message only */
            if (rc == TZ_ERR_NOTFOUND)
                return tz_err_set(err, TZ_ERR_SIGNATURE, "sigs[%zu]: key %s... was never granted "
                                  "on this ledger", i, hex);
            if (rc != TZ_OK) {
                if (err)
                    *err = lookup;
                return rc;
            }
            if (is_log_key(&ctx->signers[i]))
                return tz_err_set(err, TZ_ERR_SIGNATURE, "sigs[%zu]: the log's checkpoint key "
                                  "signs checkpoints only, never a statement", i);
            if (ctx->signers[i].revoked)
                return tz_err_set(err, TZ_ERR_SIGNATURE, "sigs[%zu]: key %s (%s...) was revoked at "
                                  "seq %llu", i, ctx->signers[i].name, hex,
                                  (unsigned long long)ctx->signers[i].revoked_seq);
        }
    }
    if ((rc = domain ? tz_domain_apply(ctx, err) : handlers[h].fn(ctx, err)) != TZ_OK)
        return rc;
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    if (pack_seq_only(&sb, ctx->seq)) {
        msgpack_sbuffer_destroy(&sb);
        return tz_err_set(err, TZ_ERR_NOMEM, "id index: out of memory");
    }
    uint8_t k[sizeof ID_PREFIX + TZ_STATEMENT_ID_MAX];
    if (st->id_len == 0 || st->id_len > TZ_STATEMENT_ID_MAX) /* the codec refused it already */
        return tz_err_set(err, TZ_ERR_INPUT, "id: %zu bytes (at most %d, at least 1)",
                          st->id_len, TZ_STATEMENT_ID_MAX);
    size_t klen = index_key(k, ID_PREFIX, st->id, st->id_len, NULL, 0);
    tz_store_batch_put(ctx->batch, TZ_CF_INDEX, k, klen, sb.data, sb.size);
    msgpack_sbuffer_destroy(&sb);
    return TZ_OK;
}
