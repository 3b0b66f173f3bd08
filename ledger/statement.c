/*
 * statement.c: decoding, checking and JSON conversion of statements.
 * The same checks run for every way a statement arrives (CLI JSON, HTTP
 * JSON or msgpack, replay), so a statement the verifier accepts is exactly
 * one the appender would accept.
 */
#include "ledger/statement.h"

#include <stdio.h>
#include <string.h>

#include "ledger/codec.h"
#include "ledger/entry.h"
#include "util/time.h"

static int id_char(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '.' || c == '_' || c == ':' || c == '/' || c == '@' || c == '-';
}

int tz_statement_check_id(const char *id, size_t len, tz_err *err)
{
    if (len == 0 || len > TZ_STATEMENT_ID_MAX)
        return tz_err_set(err, TZ_ERR_INPUT, "id: must be 1..%d bytes (is %zu)",
                          TZ_STATEMENT_ID_MAX, len);
    for (size_t i = 0; i < len; i++)
        if (!id_char((unsigned char)id[i]))
            return tz_err_set(err, TZ_ERR_INPUT,
                              "id: byte %zu is not one of A-Z a-z 0-9 . _ : / @ -", i);
    return TZ_OK;
}

int tz_statement_check_type(const char *type, size_t len, tz_err *err)
{
    if (len == 0 || len > TZ_STATEMENT_TYPE_MAX)
        return tz_err_set(err, TZ_ERR_INPUT, "type: must be 1..%d bytes", TZ_STATEMENT_TYPE_MAX);
    if (type[0] < 'a' || type[0] > 'z')
        return tz_err_set(err, TZ_ERR_INPUT, "type: must start with a lower-case letter");
    for (size_t i = 1; i < len; i++) {
        char c = type[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_'))
            return tz_err_set(err, TZ_ERR_INPUT, "type: only a-z 0-9 . _ are allowed");
    }
    return TZ_OK;
}

/* Rejects what JSON cannot carry anywhere in the body (binary, integers
 * above 2^63-1): statements carry JSON values only. */
static int check_json_only(const msgpack_object *o, char *path, size_t cap, size_t used, tz_err *err)
{
    switch (o->type) {
    case MSGPACK_OBJECT_BIN:
        return tz_err_set(err, TZ_ERR_INPUT, "%s: binary values are not allowed in statements",
                          path);
    case MSGPACK_OBJECT_ARRAY:
        for (uint32_t i = 0; i < o->via.array.size; i++) {
            int n = snprintf(path + used, cap - used, "[%u]", i);
            size_t u = used + ((size_t)n < cap - used ? (size_t)n : cap - used - 1);
            int rc = check_json_only(&o->via.array.ptr[i], path, cap, u, err);
            path[used] = '\0';
            if (rc != TZ_OK)
                return rc;
        }
        return TZ_OK;
    case MSGPACK_OBJECT_MAP:
        for (uint32_t i = 0; i < o->via.map.size; i++) {
            const msgpack_object_kv *kv = &o->via.map.ptr[i];
            int n = snprintf(path + used, cap - used, ".%.*s", (int)kv->key.via.str.size,
                             kv->key.via.str.ptr);
            size_t u = used + ((size_t)n < cap - used ? (size_t)n : cap - used - 1);
            int rc = check_json_only(&kv->val, path, cap, u, err);
            path[used] = '\0';
            if (rc != TZ_OK)
                return rc;
        }
        return TZ_OK;
    case MSGPACK_OBJECT_POSITIVE_INTEGER:
        if (o->via.u64 > (uint64_t)INT64_MAX)
            return tz_err_set(err, TZ_ERR_INPUT, "%s: integer %llu does not fit a signed 64-bit "
                              "JSON number", path, (unsigned long long)o->via.u64);
        return TZ_OK;
    default:
        return TZ_OK;
    }
}

/* 1 when o holds only JSON values (no bin, no integer above 2^63-1). */
static int json_only(const msgpack_object *o)
{
    switch (o->type) {
    case MSGPACK_OBJECT_BIN:
        return 0;
    case MSGPACK_OBJECT_POSITIVE_INTEGER:
        return o->via.u64 <= (uint64_t)INT64_MAX;
    case MSGPACK_OBJECT_ARRAY:
        for (uint32_t i = 0; i < o->via.array.size; i++)
            if (!json_only(&o->via.array.ptr[i]))
                return 0;
        return 1;
    case MSGPACK_OBJECT_MAP:
        for (uint32_t i = 0; i < o->via.map.size; i++)
            if (!json_only(&o->via.map.ptr[i].val))
                return 0;
        return 1;
    default:
        return 1;
    }
}

static int field_str(const msgpack_object *map, const char *key, const char **s, size_t *len,
                     tz_err *err)
{
    const msgpack_object *o = tz_codec_map_get(map, key);
    if (o == NULL)
        return tz_err_set(err, TZ_ERR_INPUT, "%s: missing", key);
    if (o->type != MSGPACK_OBJECT_STR)
        return tz_err_set(err, TZ_ERR_INPUT, "%s: must be a string", key);
    *s = o->via.str.ptr;
    *len = o->via.str.size;
    return TZ_OK;
}

int tz_statement_decode(tz_statement *st, msgpack_zone *zone, const uint8_t *data, size_t len,
                        tz_err *err)
{
    if (len > TZ_STATEMENT_MAX)
        return tz_err_set(err, TZ_ERR_INPUT, "statement: %zu bytes (limit %u)", len,
                          TZ_STATEMENT_MAX);
    int rc = tz_codec_decode(&st->root, zone, data, len, err);
    if (rc != TZ_OK) {
        tz_err_prefix(err, "statement: ");
        return rc;
    }
    if (st->root.type != MSGPACK_OBJECT_MAP)
        return tz_err_set(err, TZ_ERR_INPUT, "statement: must be a map");
    if (st->root.via.map.size != 4) {
        for (uint32_t i = 0; i < st->root.via.map.size; i++) {
            const msgpack_object *k = &st->root.via.map.ptr[i].key;
            if (!tz_codec_str_eq(k, "at") && !tz_codec_str_eq(k, "body") &&
                !tz_codec_str_eq(k, "id") && !tz_codec_str_eq(k, "type"))
                return tz_err_set(err, TZ_ERR_INPUT, "%.*s: unknown statement field (allowed: "
                                  "type, id, at, body)", (int)k->via.str.size, k->via.str.ptr);
        }
        return tz_err_set(err, TZ_ERR_INPUT, "statement: needs exactly the fields type, id, at, body");
    }
    if ((rc = field_str(&st->root, "type", &st->type, &st->type_len, err)) != TZ_OK ||
        (rc = tz_statement_check_type(st->type, st->type_len, err)) != TZ_OK ||
        (rc = field_str(&st->root, "id", &st->id, &st->id_len, err)) != TZ_OK ||
        (rc = tz_statement_check_id(st->id, st->id_len, err)) != TZ_OK ||
        (rc = field_str(&st->root, "at", &st->at, &st->at_len, err)) != TZ_OK ||
        (rc = tz_time_parse_rfc3339(st->at, st->at_len, "at", &st->at_unix, NULL, err)) != TZ_OK)
        return rc;
    st->body = tz_codec_map_get(&st->root, "body");
    if (st->body == NULL)
        return tz_err_set(err, TZ_ERR_INPUT, "body: missing");
    if (st->body->type != MSGPACK_OBJECT_MAP)
        return tz_err_set(err, TZ_ERR_INPUT, "body: must be a map (JSON object)");
    /* Most bodies are fine: check without building paths; on a failure walk
     * again with paths so the message names the field. */
    if (json_only(st->body))
        return TZ_OK;
    char path[256] = "body";
    return check_json_only(st->body, path, sizeof path, strlen(path), err);
}

int tz_statement_from_json(msgpack_sbuffer *out, const json_t *obj, tz_err *err)
{
    if (!json_is_object(obj))
        return tz_err_set(err, TZ_ERR_INPUT, "statement: must be a JSON object");
    const char *key;
    json_t *val;
    json_object_foreach((json_t *)obj, key, val) {
        if (strcmp(key, "type") && strcmp(key, "id") && strcmp(key, "at") && strcmp(key, "body"))
            return tz_err_set(err, TZ_ERR_INPUT,
                              "%s: unknown statement field (allowed: type, id, at, body)", key);
    }
    const char *names[3] = {"type", "id", "at"};
    const json_t *vals[3];
    for (int i = 0; i < 3; i++) {
        vals[i] = json_object_get(obj, names[i]);
        if (vals[i] == NULL)
            return tz_err_set(err, TZ_ERR_INPUT, "%s: missing", names[i]);
        if (!json_is_string(vals[i]))
            return tz_err_set(err, TZ_ERR_INPUT, "%s: must be a string", names[i]);
    }
    const json_t *body = json_object_get(obj, "body");
    if (body == NULL)
        return tz_err_set(err, TZ_ERR_INPUT, "body: missing");
    if (!json_is_object(body))
        return tz_err_set(err, TZ_ERR_INPUT, "body: must be a JSON object");
    int rc;
    if ((rc = tz_statement_check_type(json_string_value(vals[0]), json_string_length(vals[0]),
                                      err)) != TZ_OK ||
        (rc = tz_statement_check_id(json_string_value(vals[1]), json_string_length(vals[1]),
                                    err)) != TZ_OK ||
        (rc = tz_time_parse_rfc3339(json_string_value(vals[2]), json_string_length(vals[2]), "at",
                                    NULL, NULL, err)) != TZ_OK)
        return rc;
    size_t start = out->size;
    msgpack_packer pk;
    msgpack_packer_init(&pk, out, msgpack_sbuffer_write);
    /* Keys in bytewise order: at, body, id, type. */
    int bad = msgpack_pack_map(&pk, 4);
    bad |= tz_codec_pack_str(&pk, "at", 2);
    bad |= tz_codec_pack_str(&pk, json_string_value(vals[2]), json_string_length(vals[2]));
    bad |= tz_codec_pack_str(&pk, "body", 4);
    if (bad)
        return tz_err_set(err, TZ_ERR_NOMEM, "statement: out of memory");
    if ((rc = tz_codec_from_json(&pk, body, "body", err)) != TZ_OK)
        return rc;
    bad |= tz_codec_pack_str(&pk, "id", 2);
    bad |= tz_codec_pack_str(&pk, json_string_value(vals[1]), json_string_length(vals[1]));
    bad |= tz_codec_pack_str(&pk, "type", 4);
    bad |= tz_codec_pack_str(&pk, json_string_value(vals[0]), json_string_length(vals[0]));
    if (bad)
        return tz_err_set(err, TZ_ERR_NOMEM, "statement: out of memory");
    if (out->size - start > TZ_STATEMENT_MAX)
        return tz_err_set(err, TZ_ERR_INPUT, "statement: %zu bytes encoded (limit %u)",
                          out->size - start, TZ_STATEMENT_MAX);
    return TZ_OK;
}

json_t *tz_statement_to_json(const tz_statement *st, tz_err *err)
{
    json_t *body = tz_codec_to_json(st->body, err);
    if (body == NULL)
        return NULL;
    json_t *o = json_pack_ex(NULL, 0, "{s:s%,s:s%,s:s%,s:o}", "type", st->type, st->type_len,
                             "id", st->id, st->id_len, "at", st->at, st->at_len, "body", body);
    if (o == NULL)
        tz_err_set(err, TZ_ERR_NOMEM, "statement: out of memory building JSON");
    return o;
}

int tz_statement_sign(tz_signature *sigs, const uint8_t *statement, size_t len,
                      const tz_secret_key *const *keys, size_t nkeys, tz_err *err)
{
    for (size_t i = 0; i < nkeys; i++) {
        memcpy(sigs[i].key, keys[i]->pub.pk, 32);
        int rc = tz_key_sign_statement(sigs[i].sig, keys[i], statement, len, err);
        if (rc != TZ_OK)
            return rc;
    }
    return TZ_OK;
}

int tz_statement_is(const tz_statement *st, const char *type)
{
    size_t n = strlen(type);
    return st->type_len == n && memcmp(st->type, type, n) == 0;
}
