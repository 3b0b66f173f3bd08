/*
 * view.c: versioned projection documents (see view.h).
 *
 * Writes happen inside the decide step, a few per entry, so a put is one
 * canonical encoding and two batch puts. Reads are point seeks: a version
 * key ends in the bitwise NOT of its seq, so one forward seek from
 * SUBJECT \0 ~S finds the newest version at or before S. A listing walks a
 * prefix and keeps, per subject, the first version it meets at or before S.
 */
#include "projections/view.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ledger/codec.h"
#include "ledger/entry.h"
#include "util/time.h"

/* tag \0 a \0 b \0 : the part of a key before its seq ("v" \0 view \0
 * subject \0 for a version, "s" \0 kind \0 id \0 for the subject index);
 * 0 when the whole key would pass TZ_VIEW_KEY_MAX. */
static size_t key_prefix(uint8_t *out, char tag, const char *a, const char *b, size_t b_len)
{
    size_t al = strlen(a);
    if (3 + al + b_len + 1 + 8 > TZ_VIEW_KEY_MAX)
        return 0;
    size_t off = 0;
    out[off++] = (uint8_t)tag;
    out[off++] = 0;
    memcpy(out + off, a, al);
    off += al;
    out[off++] = 0;
    memcpy(out + off, b, b_len);
    off += b_len;
    out[off++] = 0;
    return off;
}

static size_t version_prefix(uint8_t *out, const char *view, const char *subject,
                             size_t subject_len)
{
    return key_prefix(out, 'v', view, subject, subject_len);
}

static void put_not_seq(uint8_t out[8], uint64_t seq)
{
    tz_store_key_u64(out, ~seq);
}

/* An index record: key -> the canonical map {"seq": seq}. */
static int put_seq_record(tz_store_batch *batch, const uint8_t *key, size_t len, uint64_t seq,
                          tz_err *err)
{
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    int rc = TZ_OK;
    if (msgpack_pack_map(&pk, 1) || tz_codec_pack_str(&pk, "seq", 3) ||
        msgpack_pack_uint64(&pk, seq))
        rc = tz_err_set(err, TZ_ERR_NOMEM, "view: out of memory");
    else
        tz_store_batch_put(batch, TZ_CF_PROJECTIONS, key, len, sb.data, sb.size);
    msgpack_sbuffer_destroy(&sb);
    return rc;
}

static int put_version(tz_store_batch *batch, const char *view, const char *subject,
                       size_t subject_len, uint64_t seq, json_t *doc, tz_err *err)
{
    uint8_t key[TZ_VIEW_KEY_MAX], chg[TZ_VIEW_KEY_MAX + 16];
    size_t kl = version_prefix(key, view, subject, subject_len);
    if (kl == 0)
        return tz_err_set(err, TZ_ERR_USAGE, "view %s: subject too long", view);
    put_not_seq(key + kl, seq);
    kl += 8;
    json_object_set_new(doc, "seq", json_integer((json_int_t)seq));
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    int rc = tz_codec_from_json(&pk, doc, view, err);
    if (rc == TZ_OK)
        tz_store_batch_put(batch, TZ_CF_PROJECTIONS, key, kl, sb.data, sb.size);
    msgpack_sbuffer_destroy(&sb);
    if (rc != TZ_OK)
        return rc;
    /* change index: "c" \0 seq \0 view \0 subject */
    size_t vl = strlen(view), off = 0;
    chg[off++] = 'c';
    chg[off++] = 0;
    tz_store_key_u64(chg + off, seq);
    off += 8;
    chg[off++] = 0;
    memcpy(chg + off, view, vl);
    off += vl;
    chg[off++] = 0;
    memcpy(chg + off, subject, subject_len);
    off += subject_len;
    return put_seq_record(batch, chg, off, seq, err);
}

static int cmp_seq(const void *a, const void *b)
{
    json_int_t x = json_integer_value(*(json_t *const *)a);
    json_int_t y = json_integer_value(*(json_t *const *)b);
    return x < y ? -1 : x > y;
}

int tz_view_put(tz_store_batch *batch, const char *view, const char *subject, size_t subject_len,
                uint64_t seq, json_t *doc, tz_err *err)
{
    json_t *copy = json_deep_copy(doc);
    if (copy == NULL)
        return tz_err_set(err, TZ_ERR_NOMEM, "view: out of memory");
    json_t *explain = json_object_get(copy, "explain");
    if (json_is_array(explain)) {
        size_t n = json_array_size(explain);
        json_t **items = calloc(n ? n : 1, sizeof *items);
        if (items == NULL) {
            json_decref(copy);
            return tz_err_set(err, TZ_ERR_NOMEM, "view: out of memory");
        }
        for (size_t i = 0; i < n; i++)
            items[i] = json_array_get(explain, i);
        qsort(items, n, sizeof *items, cmp_seq);
        json_t *sorted = json_array();
        for (size_t i = 0; i < n; i++)
            if (json_is_integer(items[i]) &&
                (i == 0 || json_integer_value(items[i]) != json_integer_value(items[i - 1])))
                json_array_append(sorted, items[i]);
        free(items);
        json_object_set_new(copy, "explain", sorted);
    }
    int rc = put_version(batch, view, subject, subject_len, seq, copy, err);
    json_decref(copy);
    return rc;
}

int tz_view_remove(tz_store_batch *batch, const char *view, const char *subject,
                   size_t subject_len, uint64_t seq, tz_err *err)
{
    json_t *doc = json_pack("{s:b}", "removed", 1);
    int rc = put_version(batch, view, subject, subject_len, seq, doc, err);
    json_decref(doc);
    return rc;
}

static json_t *decode_doc(const uint8_t *val, size_t len, tz_err *err)
{
    msgpack_zone zone;
    if (!msgpack_zone_init(&zone, 4096)) {
        tz_err_set(err, TZ_ERR_NOMEM, "view: out of memory");
        return NULL;
    }
    msgpack_object o;
    json_t *doc = NULL;
    if (tz_codec_decode(&o, &zone, val, len, NULL) == TZ_OK)
        doc = tz_codec_to_json(&o, NULL);
    msgpack_zone_destroy(&zone);
    if (doc == NULL || !json_is_object(doc)) {
        json_decref(doc);
        tz_err_set(err, TZ_ERR_IO, "view: a stored document is malformed (run verify)");
        return NULL;
    }
    return doc;
}

int tz_view_get(tz_store *store, const char *view, const char *subject, size_t subject_len,
                uint64_t as_of, json_t **out, tz_err *err)
{
    uint8_t key[TZ_VIEW_KEY_MAX];
    *out = NULL;
    size_t pl = version_prefix(key, view, subject, subject_len);
    if (pl == 0)
        return tz_err_set(err, TZ_ERR_USAGE, "view %s: subject too long", view);
    put_not_seq(key + pl, as_of);
    tz_store_iter *it = tz_store_iter_new(store, TZ_CF_PROJECTIONS, key, pl + 8);
    if (it == NULL)
        return tz_err_set(err, TZ_ERR_NOMEM, "view: out of memory");
    int rc = TZ_ERR_NOTFOUND;
    if (tz_store_iter_valid(it)) {
        size_t kl, vl;
        const uint8_t *k = tz_store_iter_key(it, &kl);
        const uint8_t *v = tz_store_iter_value(it, &vl);
        if (kl == pl + 8 && memcmp(k, key, pl) == 0) {
            json_t *doc = decode_doc(v, vl, err);
            if (doc == NULL)
                rc = err ? err->code : TZ_ERR_IO;
            else if (json_is_true(json_object_get(doc, "removed")))
                json_decref(doc);
            else {
                *out = doc;
                rc = TZ_OK;
            }
        }
    }
    tz_err scan;
    if (tz_store_iter_status(it, &scan) != TZ_OK) {
        json_decref(*out);
        *out = NULL;
        if (err)
            *err = scan;
        rc = scan.code;
    }
    tz_store_iter_free(it);
    if (rc == TZ_ERR_NOTFOUND)
        tz_err_set(err, rc, "%s: nothing recorded for this subject", view);
    return rc;
}

int tz_view_list(tz_store *store, const char *view, const char *prefix, size_t prefix_len,
                 uint64_t as_of, tz_view_fn fn, void *ctx, tz_err *err)
{
    uint8_t start[TZ_VIEW_KEY_MAX];
    size_t vl = strlen(view);
    if (3 + vl + prefix_len > TZ_VIEW_KEY_MAX)
        return tz_err_set(err, TZ_ERR_USAGE, "view %s: prefix too long", view);
    size_t sl = 0;
    start[sl++] = 'v';
    start[sl++] = 0;
    memcpy(start + sl, view, vl);
    sl += vl;
    start[sl++] = 0;
    size_t head = sl; /* subjects start here */
    memcpy(start + sl, prefix, prefix_len);
    sl += prefix_len;
    tz_store_iter *it = tz_store_iter_new(store, TZ_CF_PROJECTIONS, start, sl);
    if (it == NULL)
        return tz_err_set(err, TZ_ERR_NOMEM, "view: out of memory");
    int rc = TZ_OK;
    uint8_t done[TZ_VIEW_KEY_MAX]; /* the subject already answered */
    size_t done_len = SIZE_MAX;
    for (; tz_store_iter_valid(it); tz_store_iter_next(it)) {
        size_t kl, vlen;
        const uint8_t *k = tz_store_iter_key(it, &kl);
        if (kl < sl || memcmp(k, start, sl) != 0)
            break;
        if (kl < head + 9 || k[kl - 9] != 0)
            continue; /* not a version key */
        size_t subj_len = kl - 9 - head;
        const uint8_t *subj = k + head;
        if (subj_len > sizeof done) { /* never written so (key_prefix): damage */
            rc = tz_err_set(err, TZ_ERR_IO, "view %s: a stored key is %zu bytes, longer than "
                            "any written (%d); run verify", view, kl, TZ_VIEW_KEY_MAX);
            break;
        }
        if (done_len == subj_len && memcmp(done, subj, subj_len) == 0)
            continue; /* an older version of a subject already answered */
        uint64_t seq = ~tz_store_u64_from_key(k + kl - 8);
        if (seq > as_of)
            continue; /* newer than the moment asked */
        memcpy(done, subj, subj_len);
        done_len = subj_len;
        const uint8_t *val = tz_store_iter_value(it, &vlen);
        json_t *doc = decode_doc(val, vlen, err);
        if (doc == NULL) {
            rc = err ? err->code : TZ_ERR_IO;
            break;
        }
        if (!json_is_true(json_object_get(doc, "removed")))
            rc = fn(ctx, (const char *)subj, subj_len, doc);
        json_decref(doc);
        if (rc != 0)
            break;
    }
    tz_err scan;
    if (tz_store_iter_status(it, &scan) != TZ_OK) {
        if (err)
            *err = scan;
        rc = scan.code;
    }
    tz_store_iter_free(it);
    return rc;
}

int tz_view_changes(tz_store *store, uint64_t from, uint64_t to, tz_view_change_fn fn, void *ctx,
                    tz_err *err)
{
    uint8_t start[11] = {'c', 0};
    if (from == UINT64_MAX || from >= to)
        return TZ_OK;
    tz_store_key_u64(start + 2, from + 1);
    start[10] = 0;
    tz_store_iter *it = tz_store_iter_new(store, TZ_CF_PROJECTIONS, start, 10);
    if (it == NULL)
        return tz_err_set(err, TZ_ERR_NOMEM, "view: out of memory");
    int rc = TZ_OK;
    for (; tz_store_iter_valid(it); tz_store_iter_next(it)) {
        size_t kl;
        const uint8_t *k = tz_store_iter_key(it, &kl);
        if (kl < 12 || k[0] != 'c' || k[1] != 0 || k[10] != 0)
            break;
        uint64_t seq = tz_store_u64_from_key(k + 2);
        if (seq > to)
            break;
        const uint8_t *view = k + 11;
        const uint8_t *sep = memchr(view, 0, kl - 11);
        if (sep == NULL)
            continue;
        char vname[64];
        size_t vn = (size_t)(sep - view);
        if (vn >= sizeof vname)
            continue;
        memcpy(vname, view, vn);
        vname[vn] = '\0';
        rc = fn(ctx, seq, vname, (const char *)sep + 1, kl - 11 - vn - 1);
        if (rc != 0)
            break;
    }
    tz_err scan;
    if (tz_store_iter_status(it, &scan) != TZ_OK) {
        if (err)
            *err = scan;
        rc = scan.code;
    }
    tz_store_iter_free(it);
    return rc;
}

static size_t subject_prefix(uint8_t *out, const char *kind, const char *id)
{
    return key_prefix(out, 's', kind, id, strlen(id));
}

int tz_view_subject_put(tz_store_batch *batch, const char *kind, const char *id, uint64_t seq,
                        tz_err *err)
{
    uint8_t key[TZ_VIEW_KEY_MAX];
    size_t kl = subject_prefix(key, kind, id);
    if (kl == 0)
        return tz_err_set(err, TZ_ERR_USAGE, "view: %s id too long", kind);
    tz_store_key_u64(key + kl, seq);
    return put_seq_record(batch, key, kl + 8, seq, err);
}

int tz_view_subject_scan(tz_store *store, const char *kind, const char *id, uint64_t from,
                         uint64_t to, tz_view_seq_fn fn, void *ctx, tz_err *err)
{
    uint8_t key[TZ_VIEW_KEY_MAX];
    size_t kl = subject_prefix(key, kind, id);
    if (kl == 0)
        return tz_err_set(err, TZ_ERR_INPUT, "%s: id too long", kind);
    if (from > to)
        return TZ_OK;
    tz_store_key_u64(key + kl, from);
    tz_store_iter *it = tz_store_iter_new(store, TZ_CF_PROJECTIONS, key, kl + 8);
    if (it == NULL)
        return tz_err_set(err, TZ_ERR_NOMEM, "view: out of memory");
    int rc = TZ_OK;
    for (; tz_store_iter_valid(it); tz_store_iter_next(it)) {
        size_t len;
        const uint8_t *k = tz_store_iter_key(it, &len);
        if (len != kl + 8 || memcmp(k, key, kl) != 0)
            break;
        uint64_t seq = tz_store_u64_from_key(k + kl);
        if (seq > to || (rc = fn(ctx, seq)) != 0)
            break;
    }
    tz_err scan;
    if (tz_store_iter_status(it, &scan) != TZ_OK) {
        if (err)
            *err = scan;
        rc = scan.code;
    }
    tz_store_iter_free(it);
    return rc;
}

int tz_view_subject_has(tz_store *store, const char *kind, const char *id, uint64_t seq,
                        int *yes, tz_err *err)
{
    uint8_t key[TZ_VIEW_KEY_MAX], *val = NULL;
    size_t kl = subject_prefix(key, kind, id), len = 0;
    *yes = 0;
    if (kl == 0)
        return tz_err_set(err, TZ_ERR_INPUT, "%s: id too long", kind);
    tz_store_key_u64(key + kl, seq);
    int rc = tz_store_get(store, TZ_CF_PROJECTIONS, key, kl + 8, &val, &len, err);
    tz_store_free(val);
    if (rc == TZ_ERR_NOTFOUND)
        return TZ_OK;
    *yes = rc == TZ_OK;
    return rc;
}

static int recorded_at(tz_store *store, uint64_t seq, uint64_t *micros, tz_err *err)
{
    uint8_t key[8], *raw = NULL;
    size_t len = 0;
    tz_store_key_u64(key, seq);
    int rc = tz_store_get(store, TZ_CF_ENTRIES, key, 8, &raw, &len, err);
    if (rc != TZ_OK)
        return rc;
    tz_entry e;
    rc = tz_entry_decode(&e, raw, len, err);
    if (rc == TZ_OK)
        *micros = e.recorded_at;
    tz_store_free(raw);
    return rc;
}

int tz_view_seq_at_day(tz_store *store, uint64_t size, int64_t day, uint64_t *seq, tz_err *err)
{
    /* the end of day in China time, as microseconds since the epoch */
    uint64_t limit = (uint64_t)((day + 1) * 86400 - 8 * 3600) * 1000000u;
    uint64_t lo = 0, hi = size; /* the answer is the last seq in [lo, hi) with recorded_at <= limit */
    uint64_t t;
    if (size == 0)
        return tz_err_set(err, TZ_ERR_NOTFOUND, "as-of: the log is empty");
    int rc = recorded_at(store, 0, &t, err);
    if (rc != TZ_OK)
        return rc;
    if (t > limit)
        return tz_err_set(err, TZ_ERR_NOTFOUND, "as-of: the log starts after that day");
    while (hi - lo > 1) {
        uint64_t mid = lo + (hi - lo) / 2;
        if ((rc = recorded_at(store, mid, &t, err)) != TZ_OK)
            return rc;
        if (t <= limit)
            lo = mid;
        else
            hi = mid;
    }
    *seq = lo;
    return TZ_OK;
}

int tz_view_parse_as_of(tz_store *store, uint64_t size, const char *arg, uint64_t *seq,
                        tz_err *err)
{
    size_t len = strlen(arg);
    int digits = len > 0 && len <= 20;
    for (size_t i = 0; digits && i < len; i++)
        digits = arg[i] >= '0' && arg[i] <= '9';
    if (digits) {
        unsigned long long v = strtoull(arg, NULL, 10);
        if (size == 0 || v >= size)
            return tz_err_set(err, TZ_ERR_NOTFOUND, "--as-of %s: the log holds seqs 0..%llu", arg,
                              (unsigned long long)(size ? size - 1 : 0));
        *seq = v;
        return TZ_OK;
    }
    int64_t day;
    if (tz_time_parse_date(arg, len, "--as-of", &day, NULL) != TZ_OK)
        return tz_err_set(err, TZ_ERR_INPUT, "--as-of: \"%s\" is neither a seq nor a date "
                          "YYYY-MM-DD", arg);
    return tz_view_seq_at_day(store, size, day, seq, err);
}

size_t tz_view_subject(char *out, size_t cap, const char *a, const char *b, const char *c)
{
    const char *parts[3] = {a, b, c};
    size_t off = 0;
    for (size_t i = 0; i < 3 && parts[i] != NULL; i++) {
        size_t len = strlen(parts[i]);
        if (off + (i ? 1 : 0) + len > cap)
            return 0;
        if (i)
            out[off++] = '\0';
        memcpy(out + off, parts[i], len);
        off += len;
    }
    return off;
}
