/*
 * api.c: parsing posted statements and answering the read endpoints.
 *
 * Runs on worker threads. Everything it reads is either immutable once
 * written (entries, tree nodes, view versions keyed by seq) or the head the
 * writer published, so a reader needs no lock beyond the short one that
 * copies the head, and fixes its answer to that head's size first: a batch
 * committed while it runs is ignored, never half-seen.
 */
#include "daemon/api.h"

#include <errno.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>

#include "crypto/key.h"
#include "ledger/apply.h"
#include "ledger/codec.h"
#include "ledger/entry_json.h"
#include "ledger/ledger.h"
#include "ledger/merkle.h"
#include "ledger/statement.h"
#include "projections/query.h"
#include "projections/view.h"
#include "util/encoding.h"
#include "util/time.h"

/* ---- head and replies ---------------------------------------------------- */

void tzd_head_init(tzd_head *head)
{
    pthread_mutex_init(&head->lock, NULL);
    pthread_cond_init(&head->none_live, NULL);
    head->current = NULL;
    head->live = 0;
}

static void snapshot_free(tzd_head *head, tzd_snapshot *snap)
{
    tz_store_close(snap->store);
    free(snap->checkpoint);
    free(snap);
    pthread_mutex_lock(&head->lock);
    if (--head->live == 0)
        pthread_cond_broadcast(&head->none_live);
    pthread_mutex_unlock(&head->lock);
}

int tzd_head_publish(tzd_head *head, tz_store *store, uint64_t size, char *checkpoint,
                     size_t checkpoint_len, tz_err *err)
{
    tzd_snapshot *snap = calloc(1, sizeof *snap);
    if (snap == NULL) {
        free(checkpoint);
        return tz_err_set(err, TZ_ERR_NOMEM, "out of memory");
    }
    int rc = tz_store_snapshot(store, &snap->store, err);
    if (rc != TZ_OK) {
        free(checkpoint);
        free(snap);
        return rc;
    }
    snap->size = size;
    snap->checkpoint = checkpoint;
    snap->checkpoint_len = checkpoint_len;
    snap->refs = 1;
    pthread_mutex_lock(&head->lock);
    tzd_snapshot *old = head->current;
    head->current = snap;
    head->live++;
    pthread_mutex_unlock(&head->lock);
    tzd_head_release(head, old);
    return TZ_OK;
}

tzd_snapshot *tzd_head_acquire(tzd_head *head)
{
    pthread_mutex_lock(&head->lock);
    tzd_snapshot *snap = head->current;
    if (snap != NULL)
        snap->refs++;
    pthread_mutex_unlock(&head->lock);
    return snap;
}

void tzd_head_release(tzd_head *head, tzd_snapshot *snap)
{
    if (snap == NULL)
        return;
    pthread_mutex_lock(&head->lock);
    unsigned left = --snap->refs;
    pthread_mutex_unlock(&head->lock);
    if (left == 0)
        snapshot_free(head, snap);
}

void tzd_head_retire(tzd_head *head)
{
    pthread_mutex_lock(&head->lock);
    tzd_snapshot *old = head->current;
    head->current = NULL;
    pthread_mutex_unlock(&head->lock);
    tzd_head_release(head, old);
    pthread_mutex_lock(&head->lock);
    while (head->live > 0)
        pthread_cond_wait(&head->none_live, &head->lock);
    pthread_mutex_unlock(&head->lock);
}

void tzd_head_destroy(tzd_head *head)
{
    tzd_head_retire(head);
    pthread_cond_destroy(&head->none_live);
    pthread_mutex_destroy(&head->lock);
}

void tzd_reply_clear(tzd_reply *r)
{
    if (r == NULL)
        return;
    free(r->body);
    r->body = NULL;
    r->len = 0;
}

static void reply_set(tzd_reply *r, int status, const char *ctype, char *body, size_t len)
{
    tzd_reply_clear(r);
    r->status = status;
    r->ctype = ctype;
    r->body = body;
    r->len = len;
}

void tzd_reply_json(tzd_reply *r, int status, json_t *doc)
{
    char *s = doc ? json_dumps(doc, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(doc);
    if (s == NULL) {
        static const char oom[] = "{\"error\":\"nomem\",\"message\":\"out of memory\"}";
        reply_set(r, 500, "application/json", strdup(oom), sizeof oom - 1);
        return;
    }
    size_t len = strlen(s);
    s[len] = '\0';
    reply_set(r, status, "application/json", s, len);
}

void tzd_reply_error(tzd_reply *r, int status, const char *code, const char *fmt, ...)
{
    char msg[TZ_ERR_MSG_MAX + 128];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    /* A message may quote what the client sent (an id, a parameter name),
     * cut anywhere by %.Ns or by the buffer: JSON strings must be UTF-8, so
     * bytes that are not become '?' (before, json_pack refused the message
     * and the client got 500 "out of memory"). */
    size_t len = n < 0 ? 0 : (size_t)n < sizeof msg ? (size_t)n : sizeof msg - 1;
    msg[len] = '\0';
    tz_utf8_repair(msg, len);
    tzd_reply_json(r, status, json_pack("{s:s,s:s}", "error", code, "message", msg));
}

int tzd_http_status(int tz_code)
{
    switch (tz_code) {
    case TZ_OK: return 200;
    case TZ_ERR_USAGE:
    case TZ_ERR_INPUT: return 400;
    case TZ_ERR_SIGNATURE: return 401;
    case TZ_ERR_FORBIDDEN: return 403;
    case TZ_ERR_NOTFOUND: return 404;
    case TZ_ERR_CONFLICT: return 409;
    case TZ_ERR_RULE: return 422;
    case TZ_ERR_IO:
    case TZ_ERR_NOMEM: return 503;
    default: return 500;
    }
}

void tzd_reply_status(tzd_reply *r, int tz_code, const char *msg)
{
    tzd_reply_error(r, tzd_http_status(tz_code), tz_status_name(tz_code), "%s", msg);
}

/* ---- submissions ----------------------------------------------------------- */

void tzd_submission_init(tzd_submission *s)
{
    msgpack_sbuffer_init(&s->statement);
    s->nsigs = 0;
}

void tzd_submission_destroy(tzd_submission *s)
{
    if (s != NULL)
        msgpack_sbuffer_destroy(&s->statement);
}

/* A signer's public key as JSON gives it: the verifier key string
 * (name+hex8+base64, as in key files), 64 hex digits (as `taizhang get`
 * prints it) or base64 of the 32 bytes. */
/* Verifier key strings already parsed by this thread. Parsing one checks
 * that the key is a valid Ed25519 point (crypto_core_ed25519_is_valid_point),
 * which costs about as much as verifying the signature itself, while a
 * county's clients send the same few keys again and again: the profile of
 * bench_daemon showed it taking 40% of a worker's time. Parsing is a pure
 * function of the string, so a hit gives exactly what parsing would; only
 * keys that parsed are kept. Per thread, so no lock; direct-mapped. */
#define KEY_CACHE_SLOTS 64
typedef struct key_cache_slot {
    size_t len; /* 0: empty */
    char s[TZ_KEY_STRING_MAX];
    uint8_t pk[32];
} key_cache_slot;
static _Thread_local key_cache_slot key_cache[KEY_CACHE_SLOTS];

static int parse_verifier_key(uint8_t pk[32], const char *s, size_t len, tz_err *err)
{
    uint32_t h = 2166136261u; /* FNV-1a */
    for (size_t i = 0; i < len; i++)
        h = (h ^ (uint8_t)s[i]) * 16777619u;
    key_cache_slot *slot = &key_cache[h % KEY_CACHE_SLOTS];
    if (slot->len == len && memcmp(slot->s, s, len) == 0) {
        memcpy(pk, slot->pk, 32);
        return TZ_OK;
    }
    tz_public_key key;
    if (tz_key_parse_public(&key, s, len, err) != TZ_OK)
        return TZ_ERR_INPUT;
    memcpy(pk, key.pk, 32);
    if (len < sizeof slot->s) {
        memcpy(slot->s, s, len);
        memcpy(slot->pk, key.pk, 32);
        slot->len = len;
    }
    return TZ_OK;
}

static int parse_json_key(uint8_t pk[32], const char *s, size_t len, size_t i, tz_err *err)
{
    size_t n = 0;
    if (memchr(s, '+', len) != NULL && parse_verifier_key(pk, s, len, err) == TZ_OK)
        return TZ_OK;
    if (len == 64 && tz_hex_decode(pk, 32, &n, s, len, NULL) == TZ_OK && n == 32)
        return TZ_OK;
    if (len == 44 && tz_base64_decode(pk, 32, &n, s, len, NULL) == TZ_OK && n == 32)
        return TZ_OK;
    return tz_err_set(err, TZ_ERR_INPUT, "signatures[%zu].key: not a verifier key string, 64 hex "
                      "digits or base64 of a 32-byte Ed25519 public key", i);
}

static int parse_json_body(tzd_submission *s, const uint8_t *body, size_t len, tz_err *err)
{
    json_error_t je;
    json_t *doc = json_loadb((const char *)body, len, JSON_REJECT_DUPLICATES, &je);
    if (doc == NULL)
        return tz_err_set(err, TZ_ERR_INPUT, "body: not valid JSON at line %d column %d: %s",
                          je.line, je.column, je.text);
    int rc = TZ_OK;
    json_t *st = json_object_get(doc, "statement");
    json_t *sigs = json_object_get(doc, "signatures");
    const char *k;
    json_t *v;
    if (!json_is_object(doc)) {
        rc = tz_err_set(err, TZ_ERR_INPUT, "body: must be an object {\"statement\", \"signatures\"}");
        goto out;
    }
    json_object_foreach(doc, k, v) {
        if (strcmp(k, "statement") != 0 && strcmp(k, "signatures") != 0) {
            rc = tz_err_set(err, TZ_ERR_INPUT, "%s: unknown member (the body holds \"statement\" "
                            "and \"signatures\" only)", k);
            goto out;
        }
    }
    if (!json_is_object(st)) {
        rc = tz_err_set(err, TZ_ERR_INPUT, "statement: required, an object {type, id, at, body}");
        goto out;
    }
    if (!json_is_array(sigs) || json_array_size(sigs) == 0 ||
        json_array_size(sigs) > TZ_ENTRY_MAX_SIGS) {
        rc = tz_err_set(err, TZ_ERR_INPUT, "signatures: required, an array of 1..%d "
                        "{\"key\", \"sig\"} objects", TZ_ENTRY_MAX_SIGS);
        goto out;
    }
    if ((rc = tz_statement_from_json(&s->statement, st, err)) != TZ_OK) {
        tz_err_prefix(err, "statement: ");
        goto out;
    }
    size_t i;
    json_array_foreach(sigs, i, v) {
        json_t *key = json_object_get(v, "key"), *sig = json_object_get(v, "sig");
        size_t n = 0;
        if (!json_is_object(v) || json_object_size(v) != 2 || !json_is_string(key) ||
            !json_is_string(sig)) {
            rc = tz_err_set(err, TZ_ERR_INPUT, "signatures[%zu]: must be {\"key\": string, "
                            "\"sig\": base64 string}", i);
            goto out;
        }
        if ((rc = parse_json_key(s->sigs[i].key, json_string_value(key), json_string_length(key), i,
                                 err)) != TZ_OK)
            goto out;
        if (tz_base64_decode(s->sigs[i].sig, 64, &n, json_string_value(sig),
                             json_string_length(sig), NULL) != TZ_OK || n != 64) {
            rc = tz_err_set(err, TZ_ERR_INPUT, "signatures[%zu].sig: must be base64 of a 64-byte "
                            "Ed25519 signature", i);
            goto out;
        }
        s->nsigs++;
    }
out:
    json_decref(doc);
    return rc;
}

static const msgpack_object *mp_get(const msgpack_object *map, const char *key)
{
    size_t klen = strlen(key);
    for (uint32_t i = 0; i < map->via.map.size; i++) {
        const msgpack_object_kv *kv = &map->via.map.ptr[i];
        if (kv->key.type == MSGPACK_OBJECT_STR && kv->key.via.str.size == klen &&
            memcmp(kv->key.via.str.ptr, key, klen) == 0)
            return &kv->val;
    }
    return NULL;
}

static int is_bin(const msgpack_object *o, size_t len)
{
    return o != NULL && o->type == MSGPACK_OBJECT_BIN && (len == 0 || o->via.bin.size == len);
}

static int parse_msgpack_body(tzd_submission *s, const uint8_t *body, size_t len, tz_err *err)
{
    msgpack_zone zone;
    if (!msgpack_zone_init(&zone, 4096))
        return tz_err_set(err, TZ_ERR_NOMEM, "out of memory");
    msgpack_object o;
    /* The whole body is checked as canonical msgpack before msgpack-c sees
     * it: its unpacker allocates for a declared array or map count before
     * reading one item, so five bytes (dd ff ff ff ff) asked for 64 GiB
     * (found by fuzz_submission; tests/fuzz-regressions/submission). */
    int rc = tz_codec_decode(&o, &zone, body, len, err);
    if (rc != TZ_OK) {
        tz_err_prefix(err, "body (canonical msgpack): ");
        goto out;
    }
    if (o.type != MSGPACK_OBJECT_MAP || o.via.map.size != 2) {
        rc = tz_err_set(err, TZ_ERR_INPUT, "body: must be one msgpack map {\"signatures\": "
                        "[{\"key\": bin 32, \"sig\": bin 64}], \"statement\": bin}");
        goto out;
    }
    const msgpack_object *st = mp_get(&o, "statement"), *sigs = mp_get(&o, "signatures");
    if (!is_bin(st, 0) || st->via.bin.size == 0) {
        rc = tz_err_set(err, TZ_ERR_INPUT, "statement: required, bin (the canonical statement bytes)");
        goto out;
    }
    if (sigs == NULL || sigs->type != MSGPACK_OBJECT_ARRAY || sigs->via.array.size == 0 ||
        sigs->via.array.size > TZ_ENTRY_MAX_SIGS) {
        rc = tz_err_set(err, TZ_ERR_INPUT, "signatures: required, an array of 1..%d maps",
                        TZ_ENTRY_MAX_SIGS);
        goto out;
    }
    for (uint32_t i = 0; i < sigs->via.array.size; i++) {
        const msgpack_object *m = &sigs->via.array.ptr[i];
        const msgpack_object *k = m->type == MSGPACK_OBJECT_MAP ? mp_get(m, "key") : NULL;
        const msgpack_object *g = m->type == MSGPACK_OBJECT_MAP ? mp_get(m, "sig") : NULL;
        if (m->type != MSGPACK_OBJECT_MAP || m->via.map.size != 2 || !is_bin(k, 32) ||
            !is_bin(g, 64)) {
            rc = tz_err_set(err, TZ_ERR_INPUT, "signatures[%u]: must be {\"key\": bin 32, "
                            "\"sig\": bin 64}", i);
            goto out;
        }
        memcpy(s->sigs[i].key, k->via.bin.ptr, 32);
        memcpy(s->sigs[i].sig, g->via.bin.ptr, 64);
        s->nsigs++;
    }
    if (msgpack_sbuffer_write(&s->statement, st->via.bin.ptr, st->via.bin.size) != 0)
        rc = tz_err_set(err, TZ_ERR_NOMEM, "out of memory");
out:
    msgpack_zone_destroy(&zone);
    return rc;
}

int tzd_api_parse_submission(tzd_submission *s, const uint8_t *body, size_t len, int is_msgpack,
                             const char *require_type, tz_err *err)
{
    int rc = is_msgpack ? parse_msgpack_body(s, body, len, err) : parse_json_body(s, body, len, err);
    if (rc != TZ_OK)
        return rc;
    if (s->statement.size > TZ_STATEMENT_MAX)
        return tz_err_set(err, TZ_ERR_INPUT, "statement: %zu bytes (at most %u)", s->statement.size,
                          TZ_STATEMENT_MAX);
    /* The msgpack form arrives as bytes: hold it to every rule the JSON
     * form was held to while it was encoded. */
    msgpack_zone zone;
    if (!msgpack_zone_init(&zone, 4096))
        return tz_err_set(err, TZ_ERR_NOMEM, "out of memory");
    tz_statement st;
    rc = tz_statement_decode(&st, &zone, (const uint8_t *)s->statement.data, s->statement.size, err);
    if (rc != TZ_OK)
        tz_err_prefix(err, "statement: ");
    else if (require_type != NULL && !tz_statement_is(&st, require_type))
        rc = tz_err_set(err, TZ_ERR_INPUT, "statement.type: this endpoint takes \"%s\" "
                        "statements only", require_type);
    msgpack_zone_destroy(&zone);
    if (rc != TZ_OK)
        return rc;
    tz_entry e;
    memset(&e, 0, sizeof e);
    e.statement = (const uint8_t *)s->statement.data;
    e.statement_len = s->statement.size;
    e.nsigs = s->nsigs;
    memcpy(e.sigs, s->sigs, s->nsigs * sizeof s->sigs[0]);
    return tz_entry_verify_signatures(&e, err);
}

/* ---- reads ------------------------------------------------------------------ */

typedef struct params {
    struct evkeyvalq q;
    int parsed;
} params;

/* Parses a decimal u64 (digits only, no sign, no overflow). */
static int parse_u64(const char *s, uint64_t *out)
{
    if (s == NULL || *s == '\0' || strspn(s, "0123456789") != strlen(s) || strlen(s) > 20)
        return -1;
    errno = 0;
    unsigned long long v = strtoull(s, NULL, 10);
    if (errno != 0)
        return -1;
    *out = v;
    return 0;
}

/* Checks that every parameter of p is one of allowed (NULL-terminated). */
static int only_params(const params *p, const char *const *allowed, tzd_reply *out)
{
    const struct evkeyval *kv;
    TAILQ_FOREACH(kv, &p->q, next) {
        int ok = 0;
        for (size_t i = 0; allowed[i] != NULL; i++)
            ok |= strcmp(kv->key, allowed[i]) == 0;
        if (!ok) {
            tzd_reply_error(out, 400, "input", "%s: unknown parameter", kv->key);
            return -1;
        }
    }
    return 0;
}

/* The bound on each query parameter's value (docs/API.md, "Limits on
 * input"): ids and filters have the statement id's (no ledger holds a
 * longer one), type the statement type's; numbers, dates and flags are
 * short. Unknown names get the short bound here and are refused by name
 * by the handler (only_params). */
static size_t param_max(const char *name)
{
    static const char *const ids[] = {"id", "person", "village", "township", "unit", NULL};
    for (size_t i = 0; ids[i] != NULL; i++)
        if (strcmp(name, ids[i]) == 0)
            return TZ_STATEMENT_ID_MAX;
    if (strcmp(name, "type") == 0)
        return TZ_STATEMENT_TYPE_MAX;
    return TZD_PARAM_VALUE_MAX;
}

/* Checks every parameter before a handler sees one: each name at most once
 * (evhttp_find_header would silently take the first of two), each name
 * and value well-formed UTF-8 within its bound (param_max). -1 after a 400
 * reply naming the parameter. */
static int check_params(const params *p, tzd_reply *out)
{
    const struct evkeyval *kv, *other;
    tz_err e;
    TAILQ_FOREACH(kv, &p->q, next) {
        if (tz_text_check("parameter name", kv->key, strlen(kv->key), TZD_PARAM_NAME_MAX, &e) !=
            TZ_OK) {
            tzd_reply_error(out, 400, "input", "%s", e.msg);
            return -1;
        }
        for (other = TAILQ_NEXT(kv, next); other != NULL; other = TAILQ_NEXT(other, next))
            if (strcmp(kv->key, other->key) == 0) {
                tzd_reply_error(out, 400, "input", "%s: given more than once (each parameter "
                                "at most once)", kv->key);
                return -1;
            }
        /* an empty value is the handler's to judge ("id: required"), but an
         * empty id or filter never names anything */
        size_t max = param_max(kv->key);
        if ((*kv->value != '\0' || max == TZ_STATEMENT_ID_MAX) &&
            tz_text_check(kv->key, kv->value, strlen(kv->value), max, &e) != TZ_OK) {
            tzd_reply_error(out, 400, "input", "%s", e.msg);
            return -1;
        }
    }
    return 0;
}

/* Reads u64 parameter name into *v (left alone when absent). -1 after a
 * 400 reply when it is not a number. */
static int param_u64(const params *p, const char *name, uint64_t *v, int *present, tzd_reply *out)
{
    const char *s = evhttp_find_header(&p->q, name);
    if (present != NULL)
        *present = s != NULL;
    if (s == NULL)
        return 0;
    if (parse_u64(s, v) != 0) {
        tzd_reply_error(out, 400, "input", "%s: \"%.40s\" is not a non-negative integer", name, s);
        return -1;
    }
    return 0;
}

static json_t *proof_json(const tz_merkle_proof *p)
{
    json_t *a = json_array();
    for (size_t i = 0; a != NULL && i < p->count; i++)
        json_array_append_new(a, tz_json_base64(p->hashes[i], 32));
    return a;
}

/* The JSON of entry seq, or NULL with e set (a missing or undecodable
 * entry below the published size is damage: TZ_ERR_TAMPER). */
static json_t *entry_at(tz_store *store, uint64_t seq, tz_err *e)
{
    uint8_t key[8], *raw = NULL;
    size_t len = 0;
    json_t *j = NULL;
    tz_store_key_u64(key, seq);
    if (tz_store_get(store, TZ_CF_ENTRIES, key, 8, &raw, &len, e) == TZ_OK)
        j = tz_entry_json(seq, raw, len, e);
    tz_store_free(raw);
    if (j == NULL && (e->code == TZ_ERR_NOTFOUND || e->code == TZ_ERR_INPUT))
        e->code = TZ_ERR_TAMPER;
    return j;
}

static void read_entry(tz_store *store, uint64_t size, uint64_t seq, tzd_reply *out)
{
    if (seq >= size) {
        tzd_reply_error(out, 404, "notfound", "seq %llu: no such entry (log size %llu)",
                        (unsigned long long)seq, (unsigned long long)size);
        return;
    }
    tz_err e;
    json_t *j = entry_at(store, seq, &e);
    if (j == NULL)
        tzd_reply_status(out, e.code, e.msg);
    else
        tzd_reply_json(out, 200, j);
}

/* GET /v1/entries/by-id?id=ID: the entry holding statement id ID. */
static void read_entry_by_id(tz_store *store, uint64_t size, const params *p, tzd_reply *out)
{
    static const char *const allowed[] = {"id", NULL};
    if (only_params(p, allowed, out))
        return;
    const char *id = evhttp_find_header(&p->q, "id");
    if (id == NULL || *id == '\0') {
        tzd_reply_error(out, 400, "input", "id: required (a statement id)");
        return;
    }
    /* the length (TZ_STATEMENT_ID_MAX) and UTF-8 were checked by tzd_api_read */
    tz_store_batch *b = tz_store_batch_new(store);
    if (b == NULL) {
        tzd_reply_error(out, 503, "nomem", "out of memory");
        return;
    }
    uint64_t seq = 0;
    tz_err e;
    int rc = tz_apply_id_get(b, id, strlen(id), &seq, &e);
    tz_store_batch_free(b);
    /* the id index and the size come from the same snapshot */
    if (rc == TZ_ERR_NOTFOUND || (rc == TZ_OK && seq >= size))
        tzd_reply_error(out, 404, "notfound", "id %.200s: no statement with that id", id);
    else if (rc != TZ_OK)
        tzd_reply_status(out, rc, e.msg);
    else
        read_entry(store, size, seq, out);
}

/* One page of GET /v1/entries being filled: entries are offered in seq
 * order (every seq, or those of a subject index) and kept when they pass
 * the filters, until the page is full or TZD_PAGE_SCAN_MAX were looked at. */
typedef struct page {
    tz_store *store;
    const char *type;                /* NULL: any */
    const char *also_kind, *also_id; /* person and village both given: the village too */
    json_t *list;
    uint64_t limit, scanned, next;
    int more;
    tz_err e;
} page;

/* tz_view_seq_fn: 0 to go on, 1 when the page is full (next set), -1 on
 * an error (in pg->e). */
static int page_offer(void *ctx, uint64_t seq)
{
    page *pg = ctx;
    if (json_array_size(pg->list) >= pg->limit || pg->scanned >= TZD_PAGE_SCAN_MAX) {
        pg->next = seq;
        pg->more = 1;
        return 1;
    }
    pg->scanned++;
    if (pg->also_kind != NULL) {
        int yes;
        if (tz_view_subject_has(pg->store, pg->also_kind, pg->also_id, seq, &yes, &pg->e) != TZ_OK)
            return -1;
        if (!yes)
            return 0;
    }
    json_t *j = entry_at(pg->store, seq, &pg->e);
    if (j == NULL)
        return -1;
    const char *t = json_string_value(json_object_get(json_object_get(j, "statement"), "type"));
    if (pg->type == NULL || (t != NULL && strcmp(t, pg->type) == 0))
        json_array_append(pg->list, j);
    json_decref(j);
    return 0;
}

/* GET /v1/entries?from=&to=&type=&person=&village=&limit=: entries in
 * [from, to) in seq order, those of one statement type and/or those that
 * concern one person or village (the subject index), a page at a time. */
static void read_entries(tz_store *store, uint64_t size, const params *p, tzd_reply *out)
{
    static const char *const allowed[] = {"from", "to", "type", "person", "village", "limit",
                                          NULL};
    uint64_t from = 0, to = size, limit = 100;
    if (only_params(p, allowed, out) || param_u64(p, "from", &from, NULL, out) ||
        param_u64(p, "to", &to, NULL, out) || param_u64(p, "limit", &limit, NULL, out))
        return;
    if (limit == 0 || limit > TZD_PAGE_MAX) {
        tzd_reply_error(out, 400, "input", "limit: must be 1..%u", TZD_PAGE_MAX);
        return;
    }
    /* person and village: 1..TZ_STATEMENT_ID_MAX bytes of UTF-8 (tzd_api_read) */
    const char *person = evhttp_find_header(&p->q, "person");
    const char *village = evhttp_find_header(&p->q, "village");
    if (to > size)
        to = size;
    page pg = {.store = store, .type = evhttp_find_header(&p->q, "type"), .list = json_array(),
               .limit = limit};
    pg.e.code = TZ_OK;
    if (pg.list == NULL) {
        tzd_reply_error(out, 503, "nomem", "out of memory");
        return;
    }
    int rc = 0;
    if (from < to && (person != NULL || village != NULL)) {
        if (person != NULL && village != NULL) {
            pg.also_kind = "village";
            pg.also_id = village;
        }
        const char *kind = person != NULL ? "person" : "village";
        rc = tz_view_subject_scan(store, kind, person != NULL ? person : village, from, to - 1,
                                  page_offer, &pg, &pg.e);
    } else {
        for (uint64_t seq = from; rc == 0 && seq < to; seq++)
            rc = page_offer(&pg, seq);
    }
    if (rc < 0) { /* an error of page_offer or of the scan, in pg.e */
        json_decref(pg.list);
        tzd_reply_status(out, pg.e.code, pg.e.msg);
        return;
    }
    json_t *next = pg.more ? json_integer((json_int_t)pg.next) : json_null();
    tzd_reply_json(out, 200, json_pack("{s:o,s:o,s:I}", "entries", pg.list, "next", next, "size",
                                       (json_int_t)size));
}

static void read_checkpoint(const tzd_snapshot *snap, tzd_reply *out)
{
    char *note = malloc(snap->checkpoint_len + 1);
    if (note == NULL) {
        tzd_reply_error(out, 503, "nomem", "out of memory");
        return;
    }
    memcpy(note, snap->checkpoint, snap->checkpoint_len);
    note[snap->checkpoint_len] = '\0';
    reply_set(out, 200, "text/plain; charset=utf-8", note, snap->checkpoint_len);
}

static void read_inclusion(tz_store *store, uint64_t size, const params *p, tzd_reply *out)
{
    static const char *const allowed[] = {"seq", "size", NULL};
    uint64_t seq = 0, tree = size;
    int has_seq;
    if (only_params(p, allowed, out) || param_u64(p, "seq", &seq, &has_seq, out) ||
        param_u64(p, "size", &tree, NULL, out))
        return;
    if (!has_seq) {
        tzd_reply_error(out, 400, "input", "seq: required (the entry to prove)");
        return;
    }
    if (tree > size || seq >= tree) {
        tzd_reply_error(out, 400, "input", "seq %llu, size %llu: need seq < size <= %llu (the log)",
                        (unsigned long long)seq, (unsigned long long)tree, (unsigned long long)size);
        return;
    }
    tz_merkle_proof proof;
    uint8_t leaf[32];
    tz_err e;
    if (tz_ledger_read_node(store, 0, seq, leaf, &e) != TZ_OK ||
        tz_merkle_inclusion_proof(&proof, seq, tree, tz_ledger_read_node, store, &e) != TZ_OK) {
        tzd_reply_status(out, e.code == TZ_ERR_NOTFOUND ? TZ_ERR_TAMPER : e.code, e.msg);
        return;
    }
    tzd_reply_json(out, 200, json_pack("{s:I,s:I,s:o,s:o}", "leaf_index", (json_int_t)seq,
                                       "tree_size", (json_int_t)tree, "leaf_hash",
                                       tz_json_hex(leaf, 32), "hashes", proof_json(&proof)));
}

static void read_consistency(tz_store *store, uint64_t size, const params *p, tzd_reply *out)
{
    static const char *const allowed[] = {"from", "to", NULL};
    uint64_t from = 0, to = size;
    int has_from;
    if (only_params(p, allowed, out) || param_u64(p, "from", &from, &has_from, out) ||
        param_u64(p, "to", &to, NULL, out))
        return;
    if (!has_from || from == 0 || from > to || to > size) {
        tzd_reply_error(out, 400, "input", "from %llu, to %llu: need 1 <= from <= to <= %llu "
                        "(the log)", (unsigned long long)from, (unsigned long long)to,
                        (unsigned long long)size);
        return;
    }
    tz_merkle_proof proof;
    tz_err e;
    if (tz_merkle_consistency_proof(&proof, from, to, tz_ledger_read_node, store, &e) != TZ_OK) {
        tzd_reply_status(out, e.code == TZ_ERR_NOTFOUND ? TZ_ERR_TAMPER : e.code, e.msg);
        return;
    }
    tzd_reply_json(out, 200, json_pack("{s:I,s:I,s:o}", "size1", (json_int_t)from, "size2",
                                       (json_int_t)to, "hashes", proof_json(&proof)));
}

static int parse_year(const char *s, int *year)
{
    if (strlen(s) != 4 || strspn(s, "0123456789") != 4)
        return -1;
    *year = atoi(s);
    return *year >= 1900 ? 0 : -1;
}

static void read_projection(tz_store *store, uint64_t size, const char *name, const params *p,
                            tzd_reply *out)
{
    static const char *const allowed[] = {"village", "township", "person", "unit", "year",
                                          "month", "as_of", "explain", NULL};
    if (only_params(p, allowed, out))
        return;
    const char *year = evhttp_find_header(&p->q, "year");
    const char *month = evhttp_find_header(&p->q, "month");
    const char *as_of = evhttp_find_header(&p->q, "as_of");
    const char *explain = evhttp_find_header(&p->q, "explain");
    int y = 0, m = 0, my = 0;
    if (year != NULL && parse_year(year, &y) != 0) {
        tzd_reply_error(out, 400, "input", "year: \"%.20s\" is not a year YYYY", year);
        return;
    }
    if (month != NULL) {
        char ys[5] = {0};
        if (strlen(month) != 7 || month[4] != '-' || strspn(month, "0123456789-") != 7 ||
            (memcpy(ys, month, 4), parse_year(ys, &my)) != 0 || (m = atoi(month + 5)) < 1 || m > 12) {
            tzd_reply_error(out, 400, "input", "month: \"%.20s\" is not a month YYYY-MM", month);
            return;
        }
        if (y != 0 && y != my) {
            tzd_reply_error(out, 400, "input", "year %d and month %s disagree", y, month);
            return;
        }
        y = my;
    }
    if (explain != NULL && strcmp(explain, "0") != 0 && strcmp(explain, "1") != 0) {
        tzd_reply_error(out, 400, "input", "explain: 0 or 1");
        return;
    }
    if (size == 0) {
        tzd_reply_error(out, 404, "notfound", "the ledger is empty");
        return;
    }
    tz_query q;
    tz_err e;
    int rc = TZ_OK;
    int64_t day;
    json_t *doc = NULL;
    tz_query_init(&q, store, size - 1);
    if (as_of != NULL && (rc = tz_view_parse_as_of(store, size, as_of, &q.as_of, &e)) != TZ_OK) {
        /* a seq or day outside the log is a question the log cannot answer
         * (400), not a missing resource (404); "usage" keeps the CLI's exit
         * code 2 the same through --server as with --db */
        if (rc == TZ_ERR_NOTFOUND)
            rc = e.code = TZ_ERR_USAGE;
        tz_err_prefix(&e, "as_of: ");
    }
    /* as_of=DATE: "now" questions (on leave) are asked of that day */
    if (rc == TZ_OK && as_of != NULL &&
        tz_time_parse_date(as_of, strlen(as_of), "as_of", &day, NULL) == TZ_OK)
        q.day = day;
    q.village = evhttp_find_header(&p->q, "village");
    q.township = evhttp_find_header(&p->q, "township");
    q.person = evhttp_find_header(&p->q, "person");
    q.unit = evhttp_find_header(&p->q, "unit");
    q.year = y;
    q.month = m;
    if (rc == TZ_OK)
        rc = tz_query_run(name, &q, &doc, &e);
    if (rc == TZ_OK && explain != NULL && strcmp(explain, "1") == 0)
        rc = tz_query_explain(store, doc, &e);
    if (rc != TZ_OK) {
        json_decref(doc);
        /* the name is known here: a usage error is a missing filter (400) */
        tzd_reply_status(out, rc, e.msg);
        return;
    }
    tzd_reply_json(out, 200, doc);
}

static const char *const projection_names[] = {"roster", "attendance", "leave", "absences",
                                               "handover", "term", "recall", "grade",
                                               "eligibility", "allowance", NULL};

void tzd_api_read(tzd_head *head, const char *path, const char *query, tzd_reply *out)
{
    params p;
    TAILQ_INIT(&p.q);
    if (query != NULL && evhttp_parse_query_str(query, &p.q) != 0) {
        tzd_reply_error(out, 400, "input", "query string: malformed");
        evhttp_clear_headers(&p.q);
        return;
    }
    if (check_params(&p, out) != 0) {
        evhttp_clear_headers(&p.q);
        return;
    }
    tzd_snapshot *snap = tzd_head_acquire(head);
    if (snap == NULL) {
        tzd_reply_error(out, 503, "store", "the store is being reopened after a write error; "
                        "retry");
        goto out;
    }
    tz_store *store = snap->store;
    uint64_t size = snap->size;
    static const char entries[] = "/v1/entries/", projections[] = "/v1/projections/";
    if (strcmp(path, "/v1/entries/by-id") == 0) {
        read_entry_by_id(store, size, &p, out);
    } else if (strncmp(path, entries, sizeof entries - 1) == 0) {
        static const char *const none[] = {NULL};
        uint64_t seq;
        if (parse_u64(path + sizeof entries - 1, &seq) != 0)
            tzd_reply_error(out, 400, "input", "seq: \"%.40s\" is not a non-negative integer",
                            path + sizeof entries - 1);
        else if (only_params(&p, none, out) == 0)
            read_entry(store, size, seq, out);
    } else if (strcmp(path, "/v1/entries") == 0) {
        read_entries(store, size, &p, out);
    } else if (strcmp(path, "/v1/checkpoint") == 0) {
        read_checkpoint(snap, out);
    } else if (strcmp(path, "/v1/proof/inclusion") == 0) {
        read_inclusion(store, size, &p, out);
    } else if (strcmp(path, "/v1/proof/consistency") == 0) {
        read_consistency(store, size, &p, out);
    } else if (strncmp(path, projections, sizeof projections - 1) == 0) {
        const char *name = path + sizeof projections - 1;
        int known = 0;
        for (size_t i = 0; projection_names[i] != NULL; i++)
            known |= strcmp(name, projection_names[i]) == 0;
        if (known)
            read_projection(store, size, name, &p, out);
        else
            tzd_reply_error(out, 404, "notfound", "%.64s: no such projection (roster, attendance, "
                            "leave, absences, handover, term, recall, grade, eligibility, "
                            "allowance)", name);
    } else {
        tzd_reply_error(out, 404, "notfound", "%.128s: no such endpoint", path);
    }
    tzd_head_release(head, snap);
out:
    evhttp_clear_headers(&p.q);
}
