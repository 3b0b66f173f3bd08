/*
 * codec.c: canonical msgpack (see codec.h and docs/CODEC.md).
 *
 * Every byte that reaches the ledger from outside (HTTP bodies, CLI files,
 * export bundles, a replayed database) passes tz_codec_check() before
 * anything else looks at it, so the checker is written for hostile input:
 * one forward pass, an explicit stack of TZ_CODEC_MAX_DEPTH frames instead
 * of recursion, no allocation, and every declared length compared with the
 * bytes that remain before it is used. That matters because msgpack-c's
 * unpacker allocates room for a declared array or map before it reads the
 * items: five bytes ("dd ff ff ff ff") would otherwise ask it for 96 GiB.
 * Statements are small (hundreds of bytes, a few levels deep), so the
 * checker favours clear messages over speed: the path to the bad value is
 * rebuilt from the stack only when something is wrong.
 *
 * The writer side leans on msgpack-c, which already emits the shortest
 * integer and header forms (tests/check_codec.c proves it at every
 * boundary); what it does not do, sorting map keys and refusing floats and
 * bad UTF-8, is done here.
 */
#include "ledger/codec.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- paths ("body.days[3]") used in messages ---- */

#define CODEC_PATH_MAX 200

typedef struct codec_path {
    char buf[CODEC_PATH_MAX];
    size_t len;
} codec_path;

static void path_init(codec_path *p, const char *prefix)
{
    p->len = 0;
    p->buf[0] = '\0';
    if (prefix != NULL) {
        size_t n = strnlen(prefix, sizeof p->buf - 1);
        memcpy(p->buf, prefix, n);
        p->len = n;
        p->buf[n] = '\0';
    }
}

/* Appends formatted text, clipping (never overflowing) when full. */
static void path_addf(codec_path *p, const char *fmt, ...) TZ_PRINTF(2, 3);
static void path_addf(codec_path *p, const char *fmt, ...)
{
    if (p->len >= sizeof p->buf - 1)
        return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(p->buf + p->len, sizeof p->buf - p->len, fmt, ap);
    va_end(ap);
    if (n < 0)
        n = 0;
    p->len += (size_t)n;
    if (p->len > sizeof p->buf - 1)
        p->len = sizeof p->buf - 1;
}

static void path_truncate(codec_path *p, size_t len)
{
    p->len = len;
    p->buf[len] = '\0';
}

/* Writes a key for a message: printable ASCII and UTF-8 as is, '"' and '\\'
 * escaped, control bytes as \xNN; long keys are cut with "...". */
static void quote_bytes(char *out, size_t cap, const uint8_t *s, size_t n)
{
    enum { SHOWN = 48 };
    size_t o = 0;
    for (size_t i = 0; i < n && i < SHOWN; i++) {
        char tmp[5];
        uint8_t c = s[i];
        if (c == '"' || c == '\\')
            snprintf(tmp, sizeof tmp, "\\%c", c);
        else if (c < 0x20 || c == 0x7f)
            snprintf(tmp, sizeof tmp, "\\x%02x", c);
        else
            snprintf(tmp, sizeof tmp, "%c", c);
        size_t t = strlen(tmp);
        if (o + t + 4 >= cap)
            break;
        memcpy(out + o, tmp, t);
        o += t;
    }
    if (n > SHOWN && o + 4 < cap) {
        memcpy(out + o, "...", 3);
        o += 3;
    }
    out[o] = '\0';
}

/* True when a key can be shown after a dot ("body.leave") without confusing
 * the reader: non-empty, no '.', '[', ']', quote, backslash or control byte. */
static bool key_is_plain(const uint8_t *s, size_t n)
{
    if (n == 0 || n > 48)
        return false;
    for (size_t i = 0; i < n; i++) {
        uint8_t c = s[i];
        if (c < 0x20 || c == 0x7f || c == '.' || c == '[' || c == ']' || c == '"' || c == '\\' ||
            c == ' ')
            return false;
    }
    return true;
}

static void path_add_key(codec_path *p, const uint8_t *key, size_t n)
{
    if (key_is_plain(key, n)) {
        path_addf(p, "%s%.*s", p->len > 0 ? "." : "", (int)n, (const char *)key);
    } else {
        char q[CODEC_PATH_MAX];
        quote_bytes(q, sizeof q, key, n);
        path_addf(p, "[\"%s\"]", q);
    }
}

static void path_add_index(codec_path *p, uint64_t index)
{
    path_addf(p, "[%" PRIu64 "]", index);
}

/* ---- UTF-8 ---- */

/* Returns n when s[0..n) is valid UTF-8 (RFC 3629: no overlongs, no
 * surrogates, nothing above U+10FFFF); otherwise the index of the first byte
 * of the bad sequence, with *why set to the reason. */
static size_t utf8_invalid_at(const uint8_t *s, size_t n, const char **why)
{
    size_t i = 0;
    while (i < n) {
        uint8_t b = s[i];
        if (b < 0x80) {
            i++;
            continue;
        }
        size_t need;
        uint8_t lo = 0x80, hi = 0xbf; /* allowed range of the second byte */
        const char *second_why = "missing continuation byte";
        if (b < 0xc0) {
            *why = "unexpected continuation byte";
            return i;
        } else if (b < 0xc2) {
            *why = "overlong encoding";
            return i;
        } else if (b < 0xe0) {
            need = 1;
        } else if (b < 0xf0) {
            need = 2;
            if (b == 0xe0) {
                lo = 0xa0;
                second_why = "overlong encoding";
            } else if (b == 0xed) {
                hi = 0x9f;
                second_why = "surrogate code point U+D800..U+DFFF";
            }
        } else if (b < 0xf5) {
            need = 3;
            if (b == 0xf0) {
                lo = 0x90;
                second_why = "overlong encoding";
            } else if (b == 0xf4) {
                hi = 0x8f;
                second_why = "code point above U+10FFFF";
            }
        } else {
            *why = b < 0xf8 ? "code point above U+10FFFF" : "byte never used in UTF-8";
            return i;
        }
        if (n - i - 1 < need) {
            /* the bytes that are there must still be continuations */
            *why = "truncated sequence";
            return i;
        }
        uint8_t c1 = s[i + 1];
        if (c1 < 0x80 || c1 > 0xbf) {
            *why = "missing continuation byte";
            return i;
        }
        if (c1 < lo || c1 > hi) {
            *why = second_why;
            return i;
        }
        for (size_t k = 2; k <= need; k++) {
            if ((s[i + k] & 0xc0) != 0x80) {
                *why = "missing continuation byte";
                return i;
            }
        }
        i += need + 1;
    }
    return n;
}

/* Bytewise order of map keys: memcmp on the common prefix, then shorter
 * first. */
static int key_compare(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
    size_t m = alen < blen ? alen : blen;
    int c = m > 0 ? memcmp(a, b, m) : 0;
    if (c != 0)
        return c;
    return alen < blen ? -1 : alen > blen ? 1 : 0;
}

/* ---- the checker ---- */

/* The name of the msgpack format that starts with byte b. */
static const char *format_name(uint8_t b)
{
    if (b <= 0x7f) return "positive fixint";
    if (b <= 0x8f) return "fixmap";
    if (b <= 0x9f) return "fixarray";
    if (b <= 0xbf) return "fixstr";
    if (b >= 0xe0) return "negative fixint";
    static const char *const names[] = {
        "nil", "never-used byte 0xc1", "false", "true", "bin8", "bin16", "bin32", "ext8",
        "ext16", "ext32", "float32", "float64", "uint8", "uint16", "uint32", "uint64",
        "int8", "int16", "int32", "int64", "fixext1", "fixext2", "fixext4", "fixext8",
        "fixext16", "str8", "str16", "str32", "array16", "array32", "map16", "map32",
    };
    return names[b - 0xc0];
}

enum { FRAME_ARRAY, FRAME_MAP };

typedef struct check_frame {
    int kind;
    uint32_t count;    /* items of an array, pairs of a map */
    uint32_t index;    /* the item or pair being read */
    bool want_value;   /* map: the key of pair `index` has been read */
    bool have_key;     /* map: key_off/key_len hold the latest key */
    size_t key_off;    /* map: offset of the latest key's bytes */
    uint32_t key_len;
} check_frame;

typedef struct checker {
    const uint8_t *data;
    size_t len;
    size_t pos;
    int depth;
    check_frame frames[TZ_CODEC_MAX_DEPTH];
    tz_err *err;
} checker;

/* Fails with "at offset OFF[ in PATH]: RULE". The path is rebuilt from the
 * open frames: a map whose key has been read contributes that key, an array
 * the index being read; a map waiting for a key contributes nothing, so an
 * error about a key names the map that holds it. */
static int check_fail(const checker *c, size_t off, const char *fmt, ...) TZ_PRINTF(3, 4);
static int check_fail(const checker *c, size_t off, const char *fmt, ...)
{
    char rule[TZ_ERR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(rule, sizeof rule, fmt, ap);
    va_end(ap);
    codec_path p;
    path_init(&p, NULL);
    for (int i = 0; i < c->depth; i++) {
        const check_frame *f = &c->frames[i];
        if (f->kind == FRAME_ARRAY)
            path_add_index(&p, f->index);
        else if (f->want_value)
            path_add_key(&p, c->data + f->key_off, f->key_len);
    }
    if (p.len > 0)
        return tz_err_set(c->err, TZ_ERR_INPUT, "at offset %zu in %s: %s", off, p.buf, rule);
    return tz_err_set(c->err, TZ_ERR_INPUT, "at offset %zu: %s", off, rule);
}

/* Reads the big-endian unsigned field of `width` bytes after the header at
 * c->pos (which is not advanced). */
static int check_field(checker *c, size_t width, uint64_t *out)
{
    size_t avail = c->len - c->pos - 1;
    if (avail < width)
        return check_fail(c, c->pos, "truncated: %s needs %zu bytes after its header, %zu remain",
                          format_name(c->data[c->pos]), width, avail);
    uint64_t v = 0;
    for (size_t i = 0; i < width; i++)
        v = v << 8 | c->data[c->pos + 1 + i];
    *out = v;
    return TZ_OK;
}

/* The field width of a sized header: 1, 2 or 4 bytes for the 8/16/32
 * variants, which sit at `first`, first+1, first+2. */
static size_t width_of(uint8_t b, uint8_t first)
{
    return (size_t)1 << (b - first);
}

static int check_int(checker *c, uint8_t b)
{
    static const char *const unsigned_form[] = { "uint8", "uint16", "uint32", "uint64" };
    static const char *const signed_form[] = { "int8", "int16", "int32", "int64" };
    uint64_t raw;
    int rc;
    if (b >= 0xcc && b <= 0xcf) {
        size_t w = width_of(b, 0xcc);
        if ((rc = check_field(c, w, &raw)) != TZ_OK)
            return rc;
        /* the least value that needs this width */
        uint64_t least = b == 0xcc ? 0x80 : (uint64_t)1 << (8 * w / 2);
        if (raw < least)
            return check_fail(c, c->pos, "integer %" PRIu64 " not in shortest form (%s used)", raw,
                              unsigned_form[b - 0xcc]);
        c->pos += 1 + w;
        return TZ_OK;
    }
    /* 0xd0..0xd3: int8..int64 */
    size_t w = width_of(b, 0xd0);
    if ((rc = check_field(c, w, &raw)) != TZ_OK)
        return rc;
    int64_t v;
    if (w == 8) {
        v = (int64_t)raw; /* two's complement, as on every platform we build for */
    } else {
        uint64_t sign = (uint64_t)1 << (8 * w - 1);
        v = (raw & sign) ? (int64_t)raw - (int64_t)(sign << 1) : (int64_t)raw;
    }
    /* a signed form is shortest only for a negative value below the range of
     * the next narrower signed form (negative fixint for int8) */
    int64_t limit = b == 0xd0 ? -32 : -((int64_t)1 << (8 * w / 2 - 1));
    if (v >= limit)
        return check_fail(c, c->pos, "integer %" PRId64 " not in shortest form (%s used)", v,
                          signed_form[b - 0xd0]);
    c->pos += 1 + w;
    return TZ_OK;
}

/* Reads the length field (width bytes) of the sized str/bin/array/map header
 * b at c->pos. min_for_width is the least length this header may carry: a
 * smaller one has a shorter form. Sets *header to the header's size. */
static int check_length(checker *c, uint8_t b, const char *what, size_t width,
                        uint64_t min_for_width, uint64_t *len, size_t *header)
{
    int rc;
    if ((rc = check_field(c, width, len)) != TZ_OK)
        return rc;
    if (*len < min_for_width)
        return check_fail(c, c->pos, "%s length %" PRIu64 " not in shortest form (%s used)", what,
                          *len, format_name(b));
    *header = 1 + width;
    return TZ_OK;
}

/* Checks a str or bin whose header starts at c->pos; at_key when it is a map
 * key. Advances past it. */
static int check_bytes(checker *c, uint8_t b, bool is_str, bool at_key)
{
    uint64_t n;
    size_t header = 1;
    int rc = TZ_OK;
    if (b >= 0xa0 && b <= 0xbf)
        n = b & 0x1f;
    else if (b == 0xd9)
        rc = check_length(c, b, "str", 1, 32, &n, &header);
    else if (b == 0xda || b == 0xdb)
        rc = check_length(c, b, "str", width_of(b, 0xd9), b == 0xda ? 0x100 : 0x10000, &n, &header);
    else /* 0xc4..0xc6; bin8 has no fix form below it */
        rc = check_length(c, b, "bin", width_of(b, 0xc4), b == 0xc4 ? 0 : b == 0xc5 ? 0x100 : 0x10000,
                          &n, &header);
    if (rc != TZ_OK)
        return rc;
    size_t avail = c->len - c->pos - header;
    if (n > avail)
        return check_fail(c, c->pos, "truncated: %s of %" PRIu64 " bytes but %zu bytes remain",
                          is_str ? "str" : "bin", n, avail);
    size_t body = c->pos + header;
    if (is_str) {
        const char *why = NULL;
        size_t bad = utf8_invalid_at(c->data + body, (size_t)n, &why);
        if (bad != n)
            return check_fail(c, body + bad, "%s is not valid UTF-8 (%s)",
                              at_key ? "map key" : "str", why);
    }
    if (at_key) {
        check_frame *f = &c->frames[c->depth - 1];
        if (f->have_key) {
            int order = key_compare(c->data + f->key_off, f->key_len, c->data + body, (size_t)n);
            char cur[160];
            if (order >= 0) /* the text is for the message only: not on the hot path */
                quote_bytes(cur, sizeof cur, c->data + body, (size_t)n);
            if (order == 0)
                return check_fail(c, c->pos, "duplicate map key \"%s\"", cur);
            if (order > 0) {
                char prev[160];
                quote_bytes(prev, sizeof prev, c->data + f->key_off, f->key_len);
                return check_fail(c, c->pos, "map keys not sorted: \"%s\" after \"%s\"", cur, prev);
            }
        }
        f->have_key = true;
        f->key_off = body;
        f->key_len = (uint32_t)n;
    }
    c->pos = body + (size_t)n;
    return TZ_OK;
}

/* Checks an array or map header at c->pos; pushes a frame when it is not
 * empty. Sets *pushed. */
static int check_container(checker *c, uint8_t b, bool *pushed)
{
    bool is_map = (b >= 0x80 && b <= 0x8f) || b == 0xde || b == 0xdf;
    const char *what = is_map ? "map" : "array";
    uint64_t n;
    size_t header = 1;
    int rc = TZ_OK;
    if (b >= 0x80 && b <= 0x9f)
        n = b & 0x0f;
    else if (b == 0xdc || b == 0xde)
        rc = check_length(c, b, what, 2, 16, &n, &header);
    else
        rc = check_length(c, b, what, 4, 0x10000, &n, &header);
    if (rc != TZ_OK)
        return rc;
    if (c->depth >= TZ_CODEC_MAX_DEPTH)
        return check_fail(c, c->pos, "nesting deeper than %d levels", TZ_CODEC_MAX_DEPTH);
    /* every item takes at least one byte: refuse a count the input cannot
     * hold before anyone allocates for it */
    size_t avail = c->len - c->pos - header;
    uint64_t need = is_map ? 2 * n : n;
    if (need > avail)
        return check_fail(c, c->pos,
                          "truncated or hostile: %s declares %" PRIu64 " %s but only %zu bytes remain",
                          what, n, is_map ? "pairs" : "items", avail);
    c->pos += header;
    *pushed = n > 0;
    if (n > 0) {
        check_frame *f = &c->frames[c->depth++];
        memset(f, 0, sizeof *f);
        f->kind = is_map ? FRAME_MAP : FRAME_ARRAY;
        f->count = (uint32_t)n;
    }
    return TZ_OK;
}

static bool is_str_header(uint8_t b)
{
    return (b >= 0xa0 && b <= 0xbf) || (b >= 0xd9 && b <= 0xdb);
}

/* Checks one value (a scalar, or just the header of a container) at c->pos. */
static int check_one(checker *c, bool at_key, bool *pushed)
{
    uint8_t b = c->data[c->pos];
    *pushed = false;
    if (at_key && !is_str_header(b))
        return check_fail(c, c->pos, "map keys must be strings (found %s)", format_name(b));
    if (b <= 0x7f || b >= 0xe0 || b == 0xc0 || b == 0xc2 || b == 0xc3) {
        c->pos++;
        return TZ_OK;
    }
    if (b <= 0x9f || b == 0xdc || b == 0xdd || b == 0xde || b == 0xdf)
        return check_container(c, b, pushed);
    if (is_str_header(b))
        return check_bytes(c, b, true, at_key);
    if (b >= 0xc4 && b <= 0xc6)
        return check_bytes(c, b, false, false);
    if (b >= 0xcc && b <= 0xd3)
        return check_int(c, b);
    if (b == 0xca || b == 0xcb)
        return check_fail(c, c->pos, "float values are not allowed (money is integer fen)");
    if (b == 0xc1)
        return check_fail(c, c->pos, "byte 0xc1 is never used in msgpack");
    /* 0xc7..0xc9, 0xd4..0xd8 */
    return check_fail(c, c->pos, "ext values are not allowed (%s)", format_name(b));
}

int tz_codec_check(const uint8_t *data, size_t len, tz_err *err)
{
    if (data == NULL && len > 0)
        return tz_err_set(err, TZ_ERR_USAGE, "tz_codec_check: data is NULL");
    checker c = { .data = data, .len = len, .pos = 0, .depth = 0, .err = err };
    for (;;) {
        check_frame *top = c.depth > 0 ? &c.frames[c.depth - 1] : NULL;
        bool at_key = top != NULL && top->kind == FRAME_MAP && !top->want_value;
        if (c.pos >= c.len)
            return check_fail(&c, c.pos, "truncated: %s expected, input ends",
                              top == NULL ? "a value" : at_key ? "a map key" : "a value");
        bool pushed;
        int rc = check_one(&c, at_key, &pushed);
        if (rc != TZ_OK)
            return rc;
        if (pushed)
            continue;
        /* a value is complete: step the enclosing containers */
        while (c.depth > 0) {
            top = &c.frames[c.depth - 1];
            if (top->kind == FRAME_MAP && !top->want_value) {
                top->want_value = true;
                break;
            }
            top->want_value = false;
            if (++top->index < top->count)
                break;
            c.depth--;
        }
        if (c.depth == 0)
            break;
    }
    if (c.pos != c.len)
        return check_fail(&c, c.pos, "trailing bytes: %zu after the value", c.len - c.pos);
    return TZ_OK;
}

int tz_codec_decode(msgpack_object *out, msgpack_zone *zone, const uint8_t *data, size_t len,
                    tz_err *err)
{
    if (out == NULL || zone == NULL)
        return tz_err_set(err, TZ_ERR_USAGE, "tz_codec_decode: out and zone are required");
    int rc = tz_codec_check(data, len, err);
    if (rc != TZ_OK)
        return rc;
    msgpack_object obj;
    size_t off = 0;
    msgpack_unpack_return ur = msgpack_unpack((const char *)data, len, &off, zone, &obj);
    if (ur == MSGPACK_UNPACK_NOMEM_ERROR)
        return tz_err_set(err, TZ_ERR_NOMEM, "out of memory decoding %zu bytes", len);
    if (ur != MSGPACK_UNPACK_SUCCESS || off != len)
        return tz_err_set(err, TZ_ERR_INTERNAL,
                          "msgpack-c refused checked input (status %d, %zu of %zu bytes)", (int)ur,
                          off, len);
    *out = obj;
    return TZ_OK;
}

/* ---- JSON -> canonical msgpack ---- */

typedef struct json_key {
    const char *key;
    size_t len;
    json_t *value;
} json_key;

static int json_key_cmp(const void *a, const void *b)
{
    const json_key *x = a, *y = b;
    return key_compare((const uint8_t *)x->key, x->len, (const uint8_t *)y->key, y->len);
}

/* Fails with "PATH: RULE" (just "RULE" for an unnamed root). */
static int path_fail(tz_err *err, int code, const codec_path *p, const char *fmt, ...)
    TZ_PRINTF(4, 5);
static int path_fail(tz_err *err, int code, const codec_path *p, const char *fmt, ...)
{
    char rule[TZ_ERR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(rule, sizeof rule, fmt, ap);
    va_end(ap);
    if (p->len > 0)
        return tz_err_set(err, code, "%s: %s", p->buf, rule);
    return tz_err_set(err, code, "%s", rule);
}

static int packed(int msgpack_rc, tz_err *err, const codec_path *p)
{
    if (msgpack_rc != 0)
        return path_fail(err, TZ_ERR_NOMEM, p, "out of memory while encoding");
    return TZ_OK;
}

static int encode_str(msgpack_packer *pk, const char *s, size_t n, const char *what,
                      const codec_path *p, tz_err *err)
{
    const char *why = NULL;
    size_t bad = utf8_invalid_at((const uint8_t *)s, n, &why);
    if (bad != n)
        return path_fail(err, TZ_ERR_INPUT, p, "%s is not valid UTF-8 at byte %zu (%s)", what, bad,
                         why);
    if (n > UINT32_MAX)
        return path_fail(err, TZ_ERR_INPUT, p, "%s longer than 4294967295 bytes", what);
    int rc = packed(msgpack_pack_str(pk, n), err, p);
    if (rc == TZ_OK && n > 0)
        rc = packed(msgpack_pack_str_body(pk, s, n), err, p);
    return rc;
}

static int encode_json(msgpack_packer *pk, const json_t *v, codec_path *p, int depth, tz_err *err);

static int encode_object(msgpack_packer *pk, const json_t *v, codec_path *p, int depth,
                         tz_err *err)
{
    size_t n = json_object_size(v);
    if (n > UINT32_MAX)
        return path_fail(err, TZ_ERR_INPUT, p, "object with more than 4294967295 members");
    json_key *keys = NULL;
    int rc = TZ_OK;
    if (n > 0) {
        keys = calloc(n, sizeof *keys);
        if (keys == NULL)
            return path_fail(err, TZ_ERR_NOMEM, p, "out of memory sorting %zu keys", n);
    }
    size_t got = 0;
    /* jansson's iterator API is not const-correct; nothing is modified */
    for (void *it = json_object_iter((json_t *)v); it != NULL && got < n;
         it = json_object_iter_next((json_t *)v, it)) {
        keys[got].key = json_object_iter_key(it);
        keys[got].len = json_object_iter_key_len(it);
        keys[got].value = json_object_iter_value(it);
        got++;
    }
    if (got != n) {
        rc = path_fail(err, TZ_ERR_INTERNAL, p, "object reports %zu members, iterated %zu", n, got);
        goto done;
    }
    if (n > 1)
        qsort(keys, n, sizeof *keys, json_key_cmp);
    if ((rc = packed(msgpack_pack_map(pk, n), err, p)) != TZ_OK)
        goto done;
    size_t saved = p->len;
    for (size_t i = 0; i < n; i++) {
        if (i > 0 && json_key_cmp(&keys[i - 1], &keys[i]) == 0) {
            char q[160];
            quote_bytes(q, sizeof q, (const uint8_t *)keys[i].key, keys[i].len);
            rc = path_fail(err, TZ_ERR_INPUT, p, "duplicate map key \"%s\"", q);
            goto done;
        }
        if ((rc = encode_str(pk, keys[i].key, keys[i].len, "map key", p, err)) != TZ_OK)
            goto done;
        path_add_key(p, (const uint8_t *)keys[i].key, keys[i].len);
        rc = encode_json(pk, keys[i].value, p, depth, err);
        path_truncate(p, saved);
        if (rc != TZ_OK)
            goto done;
    }
done:
    free(keys);
    return rc;
}

static int encode_json(msgpack_packer *pk, const json_t *v, codec_path *p, int depth, tz_err *err)
{
    if (v == NULL)
        return path_fail(err, TZ_ERR_USAGE, p, "NULL JSON value");
    switch (json_typeof(v)) {
    case JSON_NULL:
        return packed(msgpack_pack_nil(pk), err, p);
    case JSON_TRUE:
        return packed(msgpack_pack_true(pk), err, p);
    case JSON_FALSE:
        return packed(msgpack_pack_false(pk), err, p);
    case JSON_INTEGER:
        /* msgpack-c picks the shortest form, and a uint form for values >= 0 */
        return packed(msgpack_pack_int64(pk, (int64_t)json_integer_value(v)), err, p);
    case JSON_REAL:
        return path_fail(err, TZ_ERR_INPUT, p, "float values are not allowed (money is integer fen)");
    case JSON_STRING:
        return encode_str(pk, json_string_value(v), json_string_length(v), "string", p, err);
    case JSON_ARRAY: {
        if (depth >= TZ_CODEC_MAX_DEPTH)
            return path_fail(err, TZ_ERR_INPUT, p, "nesting deeper than %d levels",
                             TZ_CODEC_MAX_DEPTH);
        size_t n = json_array_size(v);
        if (n > UINT32_MAX)
            return path_fail(err, TZ_ERR_INPUT, p, "array with more than 4294967295 items");
        int rc = packed(msgpack_pack_array(pk, n), err, p);
        size_t saved = p->len;
        for (size_t i = 0; i < n && rc == TZ_OK; i++) {
            path_add_index(p, i);
            rc = encode_json(pk, json_array_get(v, i), p, depth + 1, err);
            path_truncate(p, saved);
        }
        return rc;
    }
    case JSON_OBJECT:
        if (depth >= TZ_CODEC_MAX_DEPTH)
            return path_fail(err, TZ_ERR_INPUT, p, "nesting deeper than %d levels",
                             TZ_CODEC_MAX_DEPTH);
        return encode_object(pk, v, p, depth + 1, err);
    }
    return path_fail(err, TZ_ERR_INTERNAL, p, "unknown JSON type %d", (int)json_typeof(v));
}

int tz_codec_from_json(msgpack_packer *pk, const json_t *value, const char *path_prefix,
                       tz_err *err)
{
    if (pk == NULL || value == NULL)
        return tz_err_set(err, TZ_ERR_USAGE, "tz_codec_from_json: packer and value are required");
    codec_path p;
    path_init(&p, path_prefix);
    return encode_json(pk, value, &p, 0, err);
}

/* ---- msgpack object -> JSON ---- */

static json_t *oom(tz_err *err, const codec_path *p)
{
    path_fail(err, TZ_ERR_NOMEM, p, "out of memory building JSON");
    return NULL;
}

static json_t *render_json(const msgpack_object *o, codec_path *p, int depth, tz_err *err)
{
    switch (o->type) {
    case MSGPACK_OBJECT_NIL:
        return json_null();
    case MSGPACK_OBJECT_BOOLEAN:
        return json_boolean(o->via.boolean);
    case MSGPACK_OBJECT_POSITIVE_INTEGER: {
        if (o->via.u64 > (uint64_t)INT64_MAX) {
            path_fail(err, TZ_ERR_INPUT, p,
                      "integer %" PRIu64 " does not fit in a JSON integer (at most %" PRId64 ")",
                      o->via.u64, INT64_MAX);
            return NULL;
        }
        json_t *j = json_integer((json_int_t)o->via.u64);
        return j != NULL ? j : oom(err, p);
    }
    case MSGPACK_OBJECT_NEGATIVE_INTEGER: {
        json_t *j = json_integer((json_int_t)o->via.i64);
        return j != NULL ? j : oom(err, p);
    }
    case MSGPACK_OBJECT_FLOAT32:
    case MSGPACK_OBJECT_FLOAT64:
        path_fail(err, TZ_ERR_INPUT, p, "float values are not allowed (money is integer fen)");
        return NULL;
    case MSGPACK_OBJECT_STR: {
        const char *why = NULL;
        size_t n = o->via.str.size;
        if (n > 0 && o->via.str.ptr == NULL) {
            path_fail(err, TZ_ERR_USAGE, p, "str with NULL bytes pointer");
            return NULL;
        }
        if (utf8_invalid_at((const uint8_t *)o->via.str.ptr, n, &why) != n) {
            path_fail(err, TZ_ERR_INPUT, p, "str is not valid UTF-8 (%s)", why);
            return NULL;
        }
        json_t *j = json_stringn(n > 0 ? o->via.str.ptr : "", n);
        return j != NULL ? j : oom(err, p);
    }
    case MSGPACK_OBJECT_BIN:
        path_fail(err, TZ_ERR_INPUT, p, "binary values are not representable in JSON");
        return NULL;
    case MSGPACK_OBJECT_EXT:
        path_fail(err, TZ_ERR_INPUT, p, "ext values are not allowed");
        return NULL;
    case MSGPACK_OBJECT_ARRAY:
    case MSGPACK_OBJECT_MAP:
        break;
    default:
        path_fail(err, TZ_ERR_INPUT, p, "unknown msgpack object type %d", (int)o->type);
        return NULL;
    }

    if (depth >= TZ_CODEC_MAX_DEPTH) {
        path_fail(err, TZ_ERR_INPUT, p, "nesting deeper than %d levels", TZ_CODEC_MAX_DEPTH);
        return NULL;
    }
    size_t saved = p->len;
    if (o->type == MSGPACK_OBJECT_ARRAY) {
        json_t *arr = json_array();
        if (arr == NULL)
            return oom(err, p);
        for (uint32_t i = 0; i < o->via.array.size; i++) {
            path_add_index(p, i);
            json_t *item = render_json(&o->via.array.ptr[i], p, depth + 1, err);
            if (item == NULL || json_array_append_new(arr, item) != 0) {
                if (item != NULL)
                    oom(err, p);
                json_decref(arr);
                return NULL;
            }
            path_truncate(p, saved);
        }
        return arr;
    }
    json_t *obj = json_object();
    if (obj == NULL)
        return oom(err, p);
    for (uint32_t i = 0; i < o->via.map.size; i++) {
        const msgpack_object *k = &o->via.map.ptr[i].key;
        if (k->type != MSGPACK_OBJECT_STR) {
            path_fail(err, TZ_ERR_INPUT, p, "map keys must be strings");
            goto fail;
        }
        const uint8_t *kb = (const uint8_t *)(k->via.str.size > 0 ? k->via.str.ptr : "");
        size_t kn = k->via.str.size;
        const char *why = NULL;
        if (utf8_invalid_at(kb, kn, &why) != kn) {
            path_fail(err, TZ_ERR_INPUT, p, "map key is not valid UTF-8 (%s)", why);
            goto fail;
        }
        path_add_key(p, kb, kn);
        json_t *val = render_json(&o->via.map.ptr[i].val, p, depth + 1, err);
        path_truncate(p, saved);
        if (val == NULL)
            goto fail;
        size_t before = json_object_size(obj);
        if (json_object_setn_new(obj, (const char *)kb, kn, val) != 0) {
            oom(err, p);
            goto fail;
        }
        if (json_object_size(obj) == before) {
            char q[160];
            quote_bytes(q, sizeof q, kb, kn);
            path_fail(err, TZ_ERR_INPUT, p, "duplicate map key \"%s\"", q);
            goto fail;
        }
    }
    return obj;
fail:
    json_decref(obj);
    return NULL;
}

json_t *tz_codec_to_json(const msgpack_object *obj, tz_err *err)
{
    if (obj == NULL) {
        tz_err_set(err, TZ_ERR_USAGE, "tz_codec_to_json: obj is NULL");
        return NULL;
    }
    codec_path p;
    path_init(&p, NULL);
    return render_json(obj, &p, 0, err);
}

/* ---- helpers ---- */

const msgpack_object *tz_codec_map_get(const msgpack_object *map, const char *key)
{
    if (map == NULL || key == NULL || map->type != MSGPACK_OBJECT_MAP)
        return NULL;
    for (uint32_t i = 0; i < map->via.map.size; i++) {
        if (tz_codec_str_eq(&map->via.map.ptr[i].key, key))
            return &map->via.map.ptr[i].val;
    }
    return NULL;
}

int tz_codec_str_eq(const msgpack_object *obj, const char *s)
{
    if (obj == NULL || s == NULL || obj->type != MSGPACK_OBJECT_STR)
        return 0;
    size_t n = strlen(s);
    if (obj->via.str.size != n)
        return 0;
    return n == 0 || memcmp(obj->via.str.ptr, s, n) == 0;
}

int tz_codec_pack_str(msgpack_packer *pk, const char *s, size_t len)
{
    if (pk == NULL || (s == NULL && len > 0) || len > UINT32_MAX)
        return -1;
    const char *why = NULL;
    if (len > 0 && utf8_invalid_at((const uint8_t *)s, len, &why) != len)
        return -1;
    if (msgpack_pack_str(pk, len) != 0)
        return -1;
    if (len > 0 && msgpack_pack_str_body(pk, s, len) != 0)
        return -1;
    return 0;
}

int tz_codec_pack_bin(msgpack_packer *pk, const uint8_t *b, size_t len)
{
    if (pk == NULL || (b == NULL && len > 0) || len > UINT32_MAX)
        return -1;
    if (msgpack_pack_bin(pk, len) != 0)
        return -1;
    if (len > 0 && msgpack_pack_bin_body(pk, b, len) != 0)
        return -1;
    return 0;
}
