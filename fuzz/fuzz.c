/*
 * fuzz.c: helpers shared by the harnesses (see fuzz.h): failing loudly,
 * checking error reports, fixed keys, a byte reader, naive models of
 * UTF-8 and canonical msgpack, and loading JSON documents.
 */
#include "fuzz/fuzz.h"

#include <jansson.h>
#include <msgpack.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ledger/codec.h"

void tz_fuzz_fail(const char *file, int line, const char *what, const char *fmt, ...)
{
    fprintf(stderr, "fuzz: %s:%d: property broken: %s\n", file, line, what);
    if (fmt != NULL) {
        va_list ap;
        va_start(ap, fmt);
        fputs("fuzz: ", stderr);
        vfprintf(stderr, fmt, ap);
        fputc('\n', stderr);
        va_end(ap);
    }
    fflush(stderr);
    abort();
}

void tz_fuzz_check_error(const char *file, int line, int rc, const tz_err *err,
                         const int *allowed, size_t n)
{
    int ok = 0;
    for (size_t i = 0; i < n; i++)
        ok |= rc == allowed[i];
    if (!ok)
        tz_fuzz_fail(file, line, "error code allowed by the contract",
                     "got %d (%s): %.*s", rc, tz_status_name(rc), TZ_ERR_MSG_MAX,
                     err != NULL ? err->msg : "");
    if (err == NULL)
        return;
    if (err->code != rc)
        tz_fuzz_fail(file, line, "err->code == returned code", "err->code %d, returned %d",
                     err->code, rc);
    size_t len = strnlen(err->msg, sizeof err->msg);
    if (len == sizeof err->msg)
        tz_fuzz_fail(file, line, "error message is NUL-terminated", NULL);
    if (len == 0)
        tz_fuzz_fail(file, line, "error message is not empty", "code %d", rc);
}

const tz_secret_key *tz_fuzz_key(unsigned i)
{
    static tz_secret_key keys[4];
    static int ready;
    if (!ready) {
        for (unsigned k = 0; k < 4; k++) {
            uint8_t seed[32];
            char name[32];
            for (unsigned b = 0; b < 32; b++)
                seed[b] = (uint8_t)(0x5a ^ (k * 37u + b * 11u));
            snprintf(name, sizeof name, "fuzz-key-%u", k);
            tz_err err;
            if (tz_key_from_seed(&keys[k], name, seed, &err) != TZ_OK)
                tz_fuzz_fail(__FILE__, __LINE__, "fixed key derives", "%s", err.msg);
        }
        ready = 1;
    }
    if (i >= 4)
        tz_fuzz_fail(__FILE__, __LINE__, "key index < 4", "%u", i);
    return &keys[i];
}

void tz_fuzz_reader_init(tz_fuzz_reader *r, const uint8_t *data, size_t size)
{
    r->data = data;
    r->size = size;
    r->pos = 0;
}

uint8_t tz_fuzz_u8(tz_fuzz_reader *r)
{
    return r->pos < r->size ? r->data[r->pos++] : 0;
}

uint64_t tz_fuzz_u64(tz_fuzz_reader *r)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = (v << 8) | tz_fuzz_u8(r);
    return v;
}

void tz_fuzz_bytes(tz_fuzz_reader *r, uint8_t *out, size_t n)
{
    for (size_t i = 0; i < n; i++)
        out[i] = tz_fuzz_u8(r);
}

const uint8_t *tz_fuzz_rest(const tz_fuzz_reader *r, size_t *n)
{
    *n = r->size - r->pos;
    return r->data + r->pos;
}

/* Unicode Table 3-7: the first byte's range and the allowed range of the
 * second byte; third and fourth bytes are always 80..BF. */
static const struct {
    uint8_t lo, hi;       /* first byte */
    uint8_t len;          /* sequence length */
    uint8_t lo2, hi2;     /* second byte */
} utf8_table[] = {
    {0x00, 0x7f, 1, 0, 0},
    {0xc2, 0xdf, 2, 0x80, 0xbf},
    {0xe0, 0xe0, 3, 0xa0, 0xbf},
    {0xe1, 0xec, 3, 0x80, 0xbf},
    {0xed, 0xed, 3, 0x80, 0x9f},
    {0xee, 0xef, 3, 0x80, 0xbf},
    {0xf0, 0xf0, 4, 0x90, 0xbf},
    {0xf1, 0xf3, 4, 0x80, 0xbf},
    {0xf4, 0xf4, 4, 0x80, 0x8f},
};

size_t tz_fuzz_utf8_len(const uint8_t *s, size_t len)
{
    if (len == 0)
        return 0;
    for (size_t t = 0; t < sizeof utf8_table / sizeof utf8_table[0]; t++) {
        if (s[0] < utf8_table[t].lo || s[0] > utf8_table[t].hi)
            continue;
        size_t n = utf8_table[t].len;
        if (len < n)
            return 0;
        if (n >= 2 && (s[1] < utf8_table[t].lo2 || s[1] > utf8_table[t].hi2))
            return 0;
        for (size_t k = 2; k < n; k++)
            if (s[k] < 0x80 || s[k] > 0xbf)
                return 0;
        return n;
    }
    return 0;
}

int tz_fuzz_utf8_valid(const uint8_t *s, size_t len)
{
    size_t i = 0;
    while (i < len) {
        size_t n = tz_fuzz_utf8_len(s + i, len - i);
        if (n == 0)
            return 0;
        i += n;
    }
    return 1;
}

/* ---- naive canonical msgpack ------------------------------------------- */

typedef struct naive_in {
    const uint8_t *p;
    size_t len, pos;
} naive_in;

typedef struct naive_out {
    uint8_t buf[16];
    size_t len;
} naive_out;

static int naive_write(void *data, const char *buf, size_t len)
{
    naive_out *o = data;
    if (len > sizeof o->buf - o->len)
        return -1;
    memcpy(o->buf + o->len, buf, len);
    o->len += len;
    return 0;
}

/* Reads a k-byte big-endian field. */
static int naive_field(naive_in *in, size_t k, uint64_t *v)
{
    if (in->len - in->pos < k)
        return 0;
    *v = 0;
    for (size_t i = 0; i < k; i++)
        *v = (*v << 8) | in->p[in->pos + i];
    in->pos += k;
    return 1;
}

enum naive_kind { NAIVE_SCALAR, NAIVE_UINT, NAIVE_INT, NAIVE_STR, NAIVE_BIN, NAIVE_ARRAY, NAIVE_MAP };

/* Reads one value's header at in->pos: kind and value or count. 0 when the
 * format is not allowed or the header is cut. */
static int naive_header(naive_in *in, enum naive_kind *kind, uint64_t *v)
{
    if (in->pos >= in->len)
        return 0;
    uint8_t b = in->p[in->pos++];
    if (b <= 0x7f) { *kind = NAIVE_UINT; *v = b; return 1; }
    if (b >= 0xe0) { *kind = NAIVE_INT; *v = (uint64_t)(int64_t)(int8_t)b; return 1; }
    if (b >= 0x80 && b <= 0x8f) { *kind = NAIVE_MAP; *v = b & 0x0f; return 1; }
    if (b >= 0x90 && b <= 0x9f) { *kind = NAIVE_ARRAY; *v = b & 0x0f; return 1; }
    if (b >= 0xa0 && b <= 0xbf) { *kind = NAIVE_STR; *v = b & 0x1f; return 1; }
    switch (b) {
    case 0xc0: case 0xc2: case 0xc3: *kind = NAIVE_SCALAR; *v = b; return 1;
    case 0xc4: *kind = NAIVE_BIN; return naive_field(in, 1, v);
    case 0xc5: *kind = NAIVE_BIN; return naive_field(in, 2, v);
    case 0xc6: *kind = NAIVE_BIN; return naive_field(in, 4, v);
    case 0xcc: *kind = NAIVE_UINT; return naive_field(in, 1, v);
    case 0xcd: *kind = NAIVE_UINT; return naive_field(in, 2, v);
    case 0xce: *kind = NAIVE_UINT; return naive_field(in, 4, v);
    case 0xcf: *kind = NAIVE_UINT; return naive_field(in, 8, v);
    case 0xd0: *kind = NAIVE_INT; if (!naive_field(in, 1, v)) return 0; *v = (uint64_t)(int64_t)(int8_t)*v; return 1;
    case 0xd1: *kind = NAIVE_INT; if (!naive_field(in, 2, v)) return 0; *v = (uint64_t)(int64_t)(int16_t)*v; return 1;
    case 0xd2: *kind = NAIVE_INT; if (!naive_field(in, 4, v)) return 0; *v = (uint64_t)(int64_t)(int32_t)*v; return 1;
    case 0xd3: *kind = NAIVE_INT; return naive_field(in, 8, v);
    case 0xd9: *kind = NAIVE_STR; return naive_field(in, 1, v);
    case 0xda: *kind = NAIVE_STR; return naive_field(in, 2, v);
    case 0xdb: *kind = NAIVE_STR; return naive_field(in, 4, v);
    case 0xdc: *kind = NAIVE_ARRAY; return naive_field(in, 2, v);
    case 0xdd: *kind = NAIVE_ARRAY; return naive_field(in, 4, v);
    case 0xde: *kind = NAIVE_MAP; return naive_field(in, 2, v);
    case 0xdf: *kind = NAIVE_MAP; return naive_field(in, 4, v);
    default: return 0; /* 0xc1, ext, fixext, float */
    }
}

/* 1 when the header bytes [start, in->pos) are what msgpack-c writes for
 * this kind and value. */
static int naive_header_shortest(const naive_in *in, size_t start, enum naive_kind kind, uint64_t v)
{
    naive_out o = {.len = 0};
    msgpack_packer pk;
    msgpack_packer_init(&pk, &o, naive_write);
    switch (kind) {
    case NAIVE_SCALAR: return 1;
    case NAIVE_UINT: if (msgpack_pack_uint64(&pk, v) != 0) return 0; break;
    case NAIVE_INT: if (msgpack_pack_int64(&pk, (int64_t)v) != 0) return 0; break;
    case NAIVE_STR: if (v > UINT32_MAX || msgpack_pack_str(&pk, (size_t)v) != 0) return 0; break;
    case NAIVE_BIN: if (v > UINT32_MAX || msgpack_pack_bin(&pk, (size_t)v) != 0) return 0; break;
    case NAIVE_ARRAY: if (v > UINT32_MAX || msgpack_pack_array(&pk, (size_t)v) != 0) return 0; break;
    case NAIVE_MAP: if (v > UINT32_MAX || msgpack_pack_map(&pk, (size_t)v) != 0) return 0; break;
    }
    return o.len == in->pos - start && memcmp(o.buf, in->p + start, o.len) == 0;
}

/* Bytewise order of docs/CODEC.md §3: memcmp on the common prefix, then
 * the shorter first. */
static int naive_key_less(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
    size_t n = alen < blen ? alen : blen;
    int c = n > 0 ? memcmp(a, b, n) : 0;
    return c < 0 || (c == 0 && alen < blen);
}

static int naive_value(naive_in *in, int depth, int want_str, const uint8_t **str, size_t *str_len)
{
    size_t start = in->pos;
    enum naive_kind kind;
    uint64_t v;
    if (!naive_header(in, &kind, &v) || (want_str && kind != NAIVE_STR) ||
        !naive_header_shortest(in, start, kind, v))
        return 0;
    switch (kind) {
    case NAIVE_SCALAR: case NAIVE_UINT: case NAIVE_INT:
        return 1;
    case NAIVE_STR: case NAIVE_BIN:
        if (v > in->len - in->pos)
            return 0;
        if (kind == NAIVE_STR && !tz_fuzz_utf8_valid(in->p + in->pos, (size_t)v))
            return 0;
        if (str != NULL) {
            *str = in->p + in->pos;
            *str_len = (size_t)v;
        }
        in->pos += (size_t)v;
        return 1;
    case NAIVE_ARRAY:
        if (depth + 1 > 32)
            return 0;
        for (uint64_t i = 0; i < v; i++)
            if (!naive_value(in, depth + 1, 0, NULL, NULL))
                return 0;
        return 1;
    case NAIVE_MAP: {
        if (depth + 1 > 32)
            return 0;
        const uint8_t *prev = NULL;
        size_t prev_len = 0;
        for (uint64_t i = 0; i < v; i++) {
            const uint8_t *k = NULL;
            size_t klen = 0;
            if (!naive_value(in, depth + 1, 1, &k, &klen))
                return 0;
            if (i > 0 && !naive_key_less(prev, prev_len, k, klen))
                return 0;
            prev = k;
            prev_len = klen;
            if (!naive_value(in, depth + 1, 0, NULL, NULL))
                return 0;
        }
        return 1;
    }
    }
    return 0;
}

int tz_fuzz_msgpack_canonical(const uint8_t *data, size_t len)
{
    naive_in in = {.p = data, .len = len, .pos = 0};
    return len > 0 && naive_value(&in, 0, 0, NULL, NULL) && in.pos == len;
}

/* ---- JSON documents ---------------------------------------------------- */

int tz_fuzz_doc_load(tz_fuzz_doc *doc, const uint8_t *data, size_t size, const char *prefix)
{
    json_error_t je;
    json_t *json = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, &je);
    if (json == NULL)
        return 0;
    msgpack_sbuffer_init(&doc->bytes);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &doc->bytes, msgpack_sbuffer_write);
    tz_err err;
    int rc = tz_codec_from_json(&pk, json, prefix, &err);
    json_decref(json);
    if (rc != TZ_OK) {
        TZ_FUZZ_CHECK_ERROR(rc, &err, TZ_ERR_INPUT);
        msgpack_sbuffer_destroy(&doc->bytes);
        return 0;
    }
    TZ_FUZZ_CHECK(msgpack_zone_init(&doc->zone, 4096));
    rc = tz_codec_decode(&doc->obj, &doc->zone, (const uint8_t *)doc->bytes.data, doc->bytes.size, &err);
    TZ_FUZZ_CHECK_MSG(rc == TZ_OK, "%s", err.msg);
    return 1;
}

void tz_fuzz_doc_destroy(tz_fuzz_doc *doc)
{
    msgpack_zone_destroy(&doc->zone);
    msgpack_sbuffer_destroy(&doc->bytes);
}

void tz_fuzz_msgpack_submission(msgpack_sbuffer *out, const uint8_t *stmt, size_t len,
                                const tz_signature *sigs, size_t nsigs)
{
    msgpack_packer pk;
    msgpack_packer_init(&pk, out, msgpack_sbuffer_write);
    int bad = msgpack_pack_map(&pk, 2);
    bad |= tz_codec_pack_str(&pk, "signatures", 10);
    bad |= msgpack_pack_array(&pk, nsigs);
    for (size_t i = 0; i < nsigs; i++) {
        bad |= msgpack_pack_map(&pk, 2);
        bad |= tz_codec_pack_str(&pk, "key", 3);
        bad |= tz_codec_pack_bin(&pk, sigs[i].key, 32);
        bad |= tz_codec_pack_str(&pk, "sig", 3);
        bad |= tz_codec_pack_bin(&pk, sigs[i].sig, 64);
    }
    bad |= tz_codec_pack_str(&pk, "statement", 9);
    bad |= tz_codec_pack_bin(&pk, stmt, len);
    TZ_FUZZ_CHECK(bad == 0);
}
