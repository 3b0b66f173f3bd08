/*
 * bundle.c: offline export bundles (see bundle.h; bytes: docs/FORMAT.md
 * "Bundles"; usage and decisions: docs/BUNDLES.md).
 *
 * Workload facts that shaped it. A bundle is either small and sparse (one
 * person's two years: tens of records scattered over a log of millions)
 * or large and dense (an auditor's copy of a whole range: a million
 * records). Both are checked by one RFC 9162 recursion over the tree size,
 * which visits a subtree only when it holds an included record and takes
 * one proof hash otherwise: a dense range costs O(log n) hashes, k
 * scattered records O(k log(n / k)). The recursion meets the included
 * records in seq order, which is the order they are stored in the file and
 * the order key grants must be seen in, so the verifier pulls records from
 * the input one at a time (a one-record lookahead answers "does this
 * subtree hold one?") and its memory is the proof hashes plus the keys,
 * whatever the number of records. Ed25519 dominates the verifier's cost
 * (one check per signature); everything else is one pass.
 *
 * The exporter reads one RocksDB snapshot: the checkpoint, the tree nodes,
 * the subject index, the key records and the entries all come from the
 * same moment, even beside a running writer.
 */
#include "ledger/bundle.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "crypto/hash.h"
#include "crypto/note.h"
#include "ledger/apply.h"
#include "ledger/codec.h"
#include "ledger/entry.h"
#include "ledger/merkle.h"
#include "ledger/witness.h"
#include "projections/domain.h"
#include "projections/view.h"
#include "util/encoding.h"

/* The meta record holding the signed checkpoint of the head (ledger.h). */
#define META_CHECKPOINT "checkpoint"
/* The reader's window for a bundle read from a descriptor: room for the
 * largest item read in one piece (an entry, TZ_ENTRY_MAX; a note,
 * TZ_NOTE_MAX_LEN) several times over. */
#define WINDOW_BYTES (1u << 20)
/* Each proof hash is written as bin 8 of 32 bytes: c4 20 + 32 bytes. */
#define PROOF_ITEM_BYTES 34u

/* The largest power of two strictly below n; n >= 2 (RFC 9162's k). */
static uint64_t split_point(uint64_t n)
{
    return (uint64_t)1 << (63 - __builtin_clzll(n - 1));
}

/* ======================================================================
 * Reading: a byte source (a buffer, or a descriptor through a window) and
 * the few canonical msgpack forms the bundle uses, each in its shortest
 * form only, so that a bundle has one encoding.
 * ====================================================================== */

typedef struct reader {
    const uint8_t *data; /* memory: the input; fd: the window */
    size_t len;          /* bytes in data */
    size_t pos;          /* next unread byte of data */
    uint64_t base;       /* input offset of data[0] */
    int fd;              /* -1 for a buffer */
    int eof;
    uint8_t *win;
    size_t cap;
} reader;

static uint64_t rd_offset(const reader *r)
{
    return r->base + r->pos;
}

static int rd_truncated(const reader *r, const char *field, tz_err *err)
{
    return tz_err_set(err, TZ_ERR_INPUT, "bundle at offset %" PRIu64 " (%s): truncated: the "
                      "input ends inside the value", r->base + r->len, field);
}

/* Makes n bytes readable at data + pos (n <= the window). */
static int rd_fill(reader *r, size_t n, const char *field, tz_err *err)
{
    if (r->len - r->pos >= n)
        return TZ_OK;
    if (r->fd < 0 || r->eof)
        return rd_truncated(r, field, err);
    if (n > r->cap)
        return tz_err_set(err, TZ_ERR_INTERNAL, "bundle: %s of %zu bytes exceeds the reader's "
                          "window", field, n);
    size_t have = r->len - r->pos;
    memmove(r->win, r->win + r->pos, have);
    r->base += r->pos;
    r->pos = 0;
    r->len = have;
    while (r->len < n && !r->eof) {
        ssize_t got = read(r->fd, r->win + r->len, r->cap - r->len);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0)
            return tz_err_set(err, TZ_ERR_IO, "bundle: read at offset %" PRIu64 ": %s",
                              r->base + r->len, strerror(errno));
        if (got == 0)
            r->eof = 1;
        r->len += (size_t)got;
    }
    r->data = r->win;
    return r->len >= n ? TZ_OK : rd_truncated(r, field, err);
}

/* Bytes known to remain (a buffer), or UINT64_MAX (a descriptor: unknown). */
static uint64_t rd_remaining(const reader *r)
{
    return r->fd < 0 ? (uint64_t)(r->len - r->pos) : UINT64_MAX;
}

/* n bytes at *p, valid until the next call on r. */
static int rd_bytes(reader *r, size_t n, const uint8_t **p, const char *field, tz_err *err)
{
    int rc = rd_fill(r, n, field, err);
    if (rc != TZ_OK)
        return rc;
    *p = r->data + r->pos;
    r->pos += n;
    return TZ_OK;
}

static uint64_t be_read(const uint8_t *p, size_t n)
{
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++)
        v = v << 8 | p[i];
    return v;
}

static int rd_bad(uint64_t at, const char *field, const char *rule, tz_err *err)
{
    return tz_err_set(err, TZ_ERR_INPUT, "bundle at offset %" PRIu64 " (%s): %s", at, field, rule);
}

/* A non-negative integer in its shortest uint form. */
static int rd_uint(reader *r, uint64_t *v, const char *field, tz_err *err)
{
    uint64_t at = rd_offset(r);
    const uint8_t *p;
    *v = 0; /* written on every path, also on error */
    int rc = rd_bytes(r, 1, &p, field, err);
    if (rc != TZ_OK)
        return rc;
    uint8_t b = p[0];
    if (b <= 0x7f) {
        *v = b;
        return TZ_OK;
    }
    static const struct {
        uint8_t tag;
        size_t n;
        uint64_t min;
    } forms[] = {{0xcc, 1, 0x80}, {0xcd, 2, 0x100}, {0xce, 4, 0x10000}, {0xcf, 8, 0x100000000u}};
    for (size_t i = 0; i < 4; i++) {
        if (b != forms[i].tag)
            continue;
        if ((rc = rd_bytes(r, forms[i].n, &p, field, err)) != TZ_OK)
            return rc;
        *v = be_read(p, forms[i].n);
        if (*v < forms[i].min)
            return rd_bad(at, field, "integer not in its shortest form", err);
        return TZ_OK;
    }
    return rd_bad(at, field, "must be a non-negative integer (uint)", err);
}

enum { K_STR, K_BIN, K_ARRAY, K_MAP };

/* The length or count of a str, bin, array or map header, shortest form. */
static int rd_header(reader *r, int kind, uint64_t *n, const char *field, tz_err *err)
{
    static const char *const names[] = {"a string", "binary", "an array", "a map"};
    /* fix form base and mask (none for bin), then the 8-, 16- and 32-bit tags */
    static const struct {
        uint8_t fix, fixmask, t8, t16, t32;
        uint64_t fixmax;
    } forms[] = {
        {0xa0, 0xe0, 0xd9, 0xda, 0xdb, 31},
        {0x00, 0x00, 0xc4, 0xc5, 0xc6, 0},
        {0x90, 0xf0, 0x00, 0xdc, 0xdd, 15},
        {0x80, 0xf0, 0x00, 0xde, 0xdf, 15},
    };
    uint64_t at = rd_offset(r);
    const uint8_t *p;
    *n = 0; /* written on every path, also on error */
    int rc = rd_bytes(r, 1, &p, field, err);
    if (rc != TZ_OK)
        return rc;
    uint8_t b = p[0];
    size_t width = 0;
    uint64_t min = 0;
    if (forms[kind].fixmask != 0 && (b & forms[kind].fixmask) == forms[kind].fix) {
        *n = b & (uint8_t)~forms[kind].fixmask;
        return TZ_OK;
    }
    if (forms[kind].t8 != 0 && b == forms[kind].t8) {
        width = 1;
        min = forms[kind].fixmax + (forms[kind].fixmask != 0);
    } else if (b == forms[kind].t16) {
        width = 2;
        min = forms[kind].t8 != 0 ? 0x100 : forms[kind].fixmax + 1;
    } else if (b == forms[kind].t32) {
        width = 4;
        min = 0x10000;
    } else {
        char rule[64];
        snprintf(rule, sizeof rule, "must be %s", names[kind]);
        return rd_bad(at, field, rule, err);
    }
    if ((rc = rd_bytes(r, width, &p, field, err)) != TZ_OK)
        return rc;
    *n = be_read(p, width);
    if (*n < min)
        return rd_bad(at, field, "length not in its shortest form", err);
    return TZ_OK;
}

/* A map key that must be exactly name. */
static int rd_key(reader *r, const char *name, tz_err *err)
{
    uint64_t at = rd_offset(r), n;
    const uint8_t *p;
    int rc = rd_header(r, K_STR, &n, name, err);
    if (rc == TZ_OK && n > 64)
        rc = rd_bad(at, name, "key too long", err);
    if (rc == TZ_OK)
        rc = rd_bytes(r, (size_t)n, &p, name, err);
    if (rc == TZ_OK && (n != strlen(name) || memcmp(p, name, (size_t)n) != 0)) {
        char rule[96];
        snprintf(rule, sizeof rule, "expected the key \"%s\" here (keys in bytewise order)", name);
        rc = rd_bad(at, name, rule, err);
    }
    return rc;
}

/* A str of min..max bytes, copied NUL-terminated into a malloc'd *out. */
static int rd_str_copy(reader *r, size_t min, size_t max, char **out, size_t *len,
                       const char *field, tz_err *err)
{
    uint64_t at = rd_offset(r), n;
    const uint8_t *p;
    int rc = rd_header(r, K_STR, &n, field, err);
    if (rc != TZ_OK)
        return rc;
    if (n < min || n > max) {
        char rule[96];
        snprintf(rule, sizeof rule, "must be %zu..%zu bytes, not %" PRIu64, min, max, n);
        return rd_bad(at, field, rule, err);
    }
    if ((rc = rd_bytes(r, (size_t)n, &p, field, err)) != TZ_OK)
        return rc;
    if ((*out = malloc((size_t)n + 1)) == NULL)
        return tz_err_set(err, TZ_ERR_NOMEM, "bundle: %s: out of memory", field);
    memcpy(*out, p, (size_t)n);
    (*out)[n] = '\0';
    *len = (size_t)n;
    return TZ_OK;
}

/* Checks that the input has ended (for a descriptor: that a read finds
 * nothing more). */
static int rd_end(reader *r, tz_err *err)
{
    if (r->len - r->pos == 0 && r->fd >= 0 && !r->eof) {
        tz_err probe;
        if (rd_fill(r, 1, "end", &probe) == TZ_ERR_IO) {
            if (err != NULL)
                *err = probe;
            return TZ_ERR_IO;
        }
    }
    if (r->len - r->pos != 0)
        return rd_bad(rd_offset(r), "end", "trailing bytes after the bundle", err);
    return TZ_OK;
}

/* ======================================================================
 * The parts before the records.
 * ====================================================================== */

typedef struct bundle_head {
    char *note;               /* malloc'd, NUL-terminated */
    size_t note_len;
    const char *note_in_buf;  /* where the note's bytes are, for a buffer reader */
    tz_checkpoint cp;         /* parsed, not verified */
    uint8_t (*proof)[32];     /* malloc'd */
    size_t nproof;
    uint64_t nrecords;
} bundle_head;

static void head_free(bundle_head *h)
{
    free(h->note);
    free(h->proof);
    memset(h, 0, sizeof *h);
}

static int rd_proof(reader *r, bundle_head *h, tz_err *err)
{
    uint64_t at = rd_offset(r), n;
    int rc = rd_header(r, K_ARRAY, &n, "proof", err);
    if (rc != TZ_OK)
        return rc;
    if (n > TZ_BUNDLE_MAX_PROOF)
        return tz_err_set(err, TZ_ERR_INPUT, "bundle at offset %" PRIu64 " (proof): %" PRIu64
                          " hashes, more than the limit %u", at, n, TZ_BUNDLE_MAX_PROOF);
    if (n > rd_remaining(r) / PROOF_ITEM_BYTES)
        return rd_truncated(r, "proof", err);
    /* grown as hashes arrive, so a declared count the input does not hold
     * (a stream's length is unknown) never reserves memory */
    size_t cap = 0;
    for (uint64_t i = 0; i < n; i++) {
        uint64_t iat = rd_offset(r);
        const uint8_t *p;
        if ((rc = rd_bytes(r, 2, &p, "proof", err)) != TZ_OK)
            return rc;
        if (p[0] != 0xc4 || p[1] != 32)
            return rd_bad(iat, "proof", "each hash must be binary of 32 bytes (c4 20)", err);
        if ((rc = rd_bytes(r, 32, &p, "proof", err)) != TZ_OK)
            return rc;
        if (h->nproof == cap) {
            size_t ncap = cap == 0 ? 64 : cap * 2;
            uint8_t(*grown)[32] = realloc(h->proof, ncap * 32);
            if (grown == NULL)
                return tz_err_set(err, TZ_ERR_NOMEM, "bundle: proof of %" PRIu64 " hashes: out "
                                  "of memory", n);
            h->proof = grown;
            cap = ncap;
        }
        memcpy(h->proof[h->nproof++], p, 32);
    }
    return TZ_OK;
}

/* Reads everything up to and including the records' array header. */
static int rd_head(reader *r, bundle_head *h, tz_err *err)
{
    memset(h, 0, sizeof *h);
    uint64_t at = rd_offset(r), n;
    int rc = rd_header(r, K_MAP, &n, "bundle", err);
    if (rc != TZ_OK)
        return rc;
    if (n != 4)
        return rd_bad(at, "bundle", "must be a map of exactly 4 fields (bundle, checkpoint, "
                      "proof, records)", err);
    char *format = NULL;
    size_t flen = 0;
    if ((rc = rd_key(r, "bundle", err)) != TZ_OK ||
        (rc = rd_str_copy(r, 1, 64, &format, &flen, "bundle", err)) != TZ_OK)
        return rc;
    int same = strcmp(format, TZ_BUNDLE_FORMAT) == 0;
    if (!same)
        rc = tz_err_set(err, TZ_ERR_INPUT, "bundle: format \"%.64s\" is not %s (a newer "
                        "taizhang, or not a bundle)", format, TZ_BUNDLE_FORMAT);
    free(format);
    if (rc != TZ_OK)
        return rc;
    uint64_t note_at = 0;
    if ((rc = rd_key(r, "checkpoint", err)) != TZ_OK)
        return rc;
    note_at = rd_offset(r);
    if ((rc = rd_str_copy(r, 1, TZ_NOTE_MAX_LEN, &h->note, &h->note_len, "checkpoint", err)) != TZ_OK)
        return rc;
    h->note_in_buf = (const char *)r->data + r->pos - h->note_len;
    tz_note note;
    if ((rc = tz_note_parse(&note, h->note, h->note_len, err)) != TZ_OK ||
        (rc = tz_checkpoint_parse(&h->cp, note.text, note.text_len, err)) != TZ_OK) {
        tz_err_prefix(err, "bundle at offset %" PRIu64 " (checkpoint): ", note_at);
        return rc;
    }
    if (h->cp.size == 0)
        return rd_bad(note_at, "checkpoint", "tree size 0 holds no entry to prove", err);
    if ((rc = rd_key(r, "proof", err)) != TZ_OK || (rc = rd_proof(r, h, err)) != TZ_OK ||
        (rc = rd_key(r, "records", err)) != TZ_OK)
        return rc;
    at = rd_offset(r);
    if ((rc = rd_header(r, K_ARRAY, &h->nrecords, "records", err)) != TZ_OK)
        return rc;
    if (h->nrecords == 0 || h->nrecords > TZ_BUNDLE_MAX_RECORDS)
        return tz_err_set(err, TZ_ERR_INPUT, "bundle at offset %" PRIu64 " (records): %" PRIu64
                          " records; a bundle holds 1..%u", at, h->nrecords, TZ_BUNDLE_MAX_RECORDS);
    if (h->nrecords > rd_remaining(r) / TZ_BUNDLE_MIN_RECORD)
        return rd_truncated(r, "records", err);
    return TZ_OK;
}

/* One record [seq, entry]; *entry is valid until the next read. */
static int rd_record(reader *r, uint64_t index, uint64_t *seq, const uint8_t **entry,
                     size_t *len, tz_err *err)
{
    char field[48];
    snprintf(field, sizeof field, "records[%" PRIu64 "]", index);
    uint64_t at = rd_offset(r), n = 0;
    *seq = 0; /* every output written on every path, also on error */
    *entry = NULL;
    int rc = rd_header(r, K_ARRAY, &n, field, err);
    if (rc == TZ_OK && n != 2)
        rc = rd_bad(at, field, "must be [seq, entry]", err);
    if (rc == TZ_OK)
        rc = rd_uint(r, seq, field, err);
    at = rd_offset(r);
    if (rc == TZ_OK)
        rc = rd_header(r, K_BIN, &n, field, err);
    if (rc == TZ_OK && (n == 0 || n > TZ_ENTRY_MAX))
        rc = tz_err_set(err, TZ_ERR_INPUT, "bundle at offset %" PRIu64 " (%s): entry of %" PRIu64
                        " bytes; an entry is 1..%u bytes", at, field, n, TZ_ENTRY_MAX);
    if (rc == TZ_OK)
        rc = rd_bytes(r, (size_t)n, entry, field, err);
    *len = (size_t)n;
    return rc;
}

static void reader_buf(reader *r, const uint8_t *buf, size_t len)
{
    memset(r, 0, sizeof *r);
    r->data = buf;
    r->len = len;
    r->fd = -1;
}

/* ======================================================================
 * Decode.
 * ====================================================================== */

void tz_bundle_free(tz_bundle *b)
{
    if (b == NULL)
        return;
    free(b->proof);
    free(b->records);
    memset(b, 0, sizeof *b);
}

int tz_bundle_decode(tz_bundle *out, const uint8_t *buf, size_t len, tz_err *err)
{
    if (out == NULL || (buf == NULL && len > 0))
        return tz_err_set(err, TZ_ERR_USAGE, "tz_bundle_decode: NULL argument");
    memset(out, 0, sizeof *out);
    reader r;
    reader_buf(&r, buf, len);
    bundle_head h;
    int rc = rd_head(&r, &h, err);
    if (rc == TZ_OK && (out->records = malloc((size_t)h.nrecords * sizeof *out->records)) == NULL)
        rc = tz_err_set(err, TZ_ERR_NOMEM, "bundle: %" PRIu64 " records: out of memory",
                        h.nrecords);
    for (uint64_t i = 0; rc == TZ_OK && i < h.nrecords; i++) {
        tz_bundle_record *rec = &out->records[i];
        uint64_t at = rd_offset(&r);
        if ((rc = rd_record(&r, i, &rec->seq, &rec->entry, &rec->entry_len, err)) != TZ_OK)
            break;
        tz_entry e;
        if (i == 0 && rec->seq != 0)
            rc = tz_err_set(err, TZ_ERR_INPUT, "bundle at offset %" PRIu64 " (records[0]): seq "
                            "%" PRIu64 ": the first record must be entry 0, the genesis (it "
                            "names the log key and the root keys)", at, rec->seq);
        else if (i > 0 && rec->seq <= out->records[i - 1].seq)
            rc = tz_err_set(err, TZ_ERR_INPUT, "bundle at offset %" PRIu64 " (records[%" PRIu64
                            "]): seq %" PRIu64 " is not above seq %" PRIu64 " of the record "
                            "before (records are sorted by seq, without repeats)", at, i,
                            rec->seq, out->records[i - 1].seq);
        else if (rec->seq >= h.cp.size)
            rc = tz_err_set(err, TZ_ERR_INPUT, "bundle (records[%" PRIu64 "]): seq %" PRIu64
                            " is not below the checkpoint's tree size %" PRIu64, i, rec->seq,
                            h.cp.size);
        else if ((rc = tz_entry_decode(&e, rec->entry, rec->entry_len, err)) != TZ_OK)
            tz_err_prefix(err, "bundle (records[%" PRIu64 "], seq %" PRIu64 "): ", i, rec->seq);
        else if (e.seq != rec->seq)
            rc = tz_err_set(err, TZ_ERR_INPUT, "bundle (records[%" PRIu64 "]): the entry says "
                            "seq %" PRIu64 ", the record seq %" PRIu64, i, e.seq, rec->seq);
        out->nrecords = (size_t)i + 1;
    }
    if (rc == TZ_OK)
        rc = rd_end(&r, err);
    if (rc != TZ_OK) {
        head_free(&h);
        tz_bundle_free(out);
        return rc;
    }
    out->checkpoint = h.note_in_buf;
    out->checkpoint_len = h.note_len;
    out->cp = h.cp;
    out->nproof = h.nproof;
    out->proof = h.proof;
    h.proof = NULL;
    head_free(&h);
    return TZ_OK;
}

/* ======================================================================
 * Verify.
 * ====================================================================== */

/* A key the bundle made known: a root key or the log key (genesis), or a
 * key.grant. The rules mirror ledger/apply.c's key rules. */
typedef struct bkey {
    uint8_t pk[32];
    int used;
    int root, log, authority;
    int revoked;
    uint64_t granted_seq, revoked_seq;
    char name[TZ_KEY_NAME_MAX + 1];
    char holder[TZ_HOLDER_MAX + 1];
} bkey;

/* Open addressing, keyed by SipHash of the key under a random per-table
 * key, so a hostile bundle of many grants cannot make lookups quadratic. */
typedef struct keytab {
    bkey *slots;
    size_t cap;   /* a power of two */
    size_t count;
    uint8_t sip[crypto_shorthash_KEYBYTES];
} keytab;

static size_t key_home(const keytab *t, const uint8_t pk[32])
{
    uint8_t h[crypto_shorthash_BYTES];
    (void)crypto_shorthash(h, pk, 32, t->sip);
    return (size_t)be_read(h, 8) & (t->cap - 1);
}

static bkey *key_find(const keytab *t, const uint8_t pk[32])
{
    if (t->cap == 0)
        return NULL;
    for (size_t i = key_home(t, pk);; i = (i + 1) & (t->cap - 1)) {
        if (!t->slots[i].used)
            return NULL;
        if (tz_hash_equal(t->slots[i].pk, pk, 32))
            return &t->slots[i];
    }
}

/* Adds k (not yet present). Returns the stored copy, or NULL when out of
 * memory. */
static bkey *key_add(keytab *t, const bkey *k)
{
    if (2 * (t->count + 1) > t->cap) {
        size_t ncap = t->cap == 0 ? 64 : t->cap * 2;
        bkey *slots = calloc(ncap, sizeof *slots);
        if (slots == NULL)
            return NULL;
        keytab grown = {slots, ncap, 0, {0}};
        memcpy(grown.sip, t->sip, sizeof grown.sip);
        for (size_t i = 0; i < t->cap; i++)
            if (t->slots[i].used)
                (void)key_add(&grown, &t->slots[i]);
        free(t->slots);
        *t = grown;
    }
    size_t i = key_home(t, k->pk);
    while (t->slots[i].used)
        i = (i + 1) & (t->cap - 1);
    t->slots[i] = *k;
    t->slots[i].used = 1;
    t->count++;
    return &t->slots[i];
}

typedef struct verifier {
    reader *r;
    const tz_bundle_verify_options *opt;
    tz_bundle_report *rep;
    bundle_head h;
    tz_checkpoint cp;
    /* the record read ahead: "does this subtree hold a record?" */
    uint64_t next_index;
    int peeked;
    uint64_t peek_seq;
    const uint8_t *peek_entry;
    size_t peek_len;
    /* the record taken before, for the chain */
    int have_prev;
    uint64_t prev_seq;
    uint8_t prev_leaf[32];
    uint64_t prev_recorded_at;
    size_t proof_used;
    uint64_t range_next;        /* the next seq a complete range must hold */
    int range_gap;
    uint64_t range_missing;     /* the first seq of the range not present */
    keytab keys;
    msgpack_zone zone;
    int has_bad;
    uint64_t bad_seq;
} verifier;

/* ---- statement bodies ---------------------------------------------------- */

static int body_string(const tz_statement *st, const char *name, size_t max, const char **s,
                       size_t *len, tz_err *err)
{
    *s = NULL; /* written on every path: callers may read them after an error */
    *len = 0;
    const msgpack_object *o = tz_codec_map_get(st->body, name);
    if (o == NULL || o->type != MSGPACK_OBJECT_STR || o->via.str.size == 0 ||
        o->via.str.size > max)
        return tz_err_set(err, TZ_ERR_INPUT, "body.%s: must be a string of 1..%zu bytes", name,
                          max);
    *s = o->via.str.ptr;
    *len = o->via.str.size;
    return TZ_OK;
}

static int body_pubkey(const tz_statement *st, const char *name, tz_public_key *out, tz_err *err)
{
    const char *s = NULL;
    size_t len = 0;
    int rc = body_string(st, name, TZ_KEY_STRING_MAX, &s, &len, err);
    if (rc == TZ_OK && (rc = tz_key_parse_public(out, s, len, err)) != TZ_OK)
        tz_err_prefix(err, "body.%s: ", name);
    return rc;
}

static void copy_text(char *dst, size_t cap, const char *src, size_t len)
{
    if (len >= cap)
        len = cap - 1;
    memcpy(dst, src, len);
    dst[len] = '\0';
}

static void key_short(char out[17], const uint8_t pk[32])
{
    tz_hex_encode(out, pk, 8);
}

/* ---- the key rules ------------------------------------------------------- */

/* genesis: signed by the log key alone; names the log key the caller
 * trusts and the checkpoint's origin; its roots are the first keys. */
static int check_genesis(verifier *v, const tz_entry *e, const tz_statement *st, tz_err *err)
{
    const tz_public_key *trusted = v->opt->log_key;
    tz_public_key log_key;
    const char *origin;
    size_t origin_len;
    int rc = body_pubkey(st, "log_key", &log_key, err);
    if (rc != TZ_OK)
        return rc;
    if (!tz_hash_equal(log_key.pk, trusted->pk, 32) || strcmp(log_key.name, trusted->name) != 0)
        return tz_err_set(err, TZ_ERR_PROOF, "genesis: the log key is %s+%08x, not the trusted "
                          "--log-key %s+%08x: a bundle of another log", log_key.name, log_key.id,
                          trusted->name, trusted->id);
    if (e->nsigs != 1 || !tz_hash_equal(e->sigs[0].key, log_key.pk, 32))
        return tz_err_set(err, TZ_ERR_SIGNATURE, "genesis: must be signed by the log key alone");
    if ((rc = body_string(st, "origin", TZ_ORIGIN_MAX, &origin, &origin_len, err)) != TZ_OK)
        return rc;
    if (origin_len != strlen(v->cp.origin) || memcmp(origin, v->cp.origin, origin_len) != 0)
        return tz_err_set(err, TZ_ERR_PROOF, "genesis: origin \"%.*s\" is not the checkpoint's "
                          "origin \"%s\"", (int)origin_len, origin, v->cp.origin);
    const msgpack_object *roots = tz_codec_map_get(st->body, "roots");
    if (roots == NULL || roots->type != MSGPACK_OBJECT_ARRAY || roots->via.array.size == 0 ||
        roots->via.array.size > TZ_ENTRY_MAX_SIGS)
        return tz_err_set(err, TZ_ERR_INPUT, "genesis: body.roots must be an array of 1..%d "
                          "verifier key strings", TZ_ENTRY_MAX_SIGS);
    bkey k;
    memset(&k, 0, sizeof k);
    memcpy(k.pk, log_key.pk, 32);
    k.log = 1;
    copy_text(k.name, sizeof k.name, log_key.name, strlen(log_key.name));
    copy_text(k.holder, sizeof k.holder, "log", 3);
    if (key_add(&v->keys, &k) == NULL)
        return tz_err_set(err, TZ_ERR_NOMEM, "genesis: out of memory");
    for (uint32_t i = 0; i < roots->via.array.size; i++) {
        const msgpack_object *o = &roots->via.array.ptr[i];
        tz_public_key root;
        if (o->type != MSGPACK_OBJECT_STR)
            return tz_err_set(err, TZ_ERR_INPUT, "genesis: body.roots[%u] must be a string", i);
        if ((rc = tz_key_parse_public(&root, o->via.str.ptr, o->via.str.size, err)) != TZ_OK) {
            tz_err_prefix(err, "genesis: body.roots[%u]: ", i);
            return rc;
        }
        if (key_find(&v->keys, root.pk) != NULL)
            return tz_err_set(err, TZ_ERR_RULE, "genesis: body.roots[%u] repeats a key or is the "
                              "log key", i);
        memset(&k, 0, sizeof k);
        memcpy(k.pk, root.pk, 32);
        k.root = 1;
        copy_text(k.name, sizeof k.name, root.name, strlen(root.name));
        copy_text(k.holder, sizeof k.holder, "root", 4);
        if (key_add(&v->keys, &k) == NULL)
            return tz_err_set(err, TZ_ERR_NOMEM, "genesis: out of memory");
    }
    return TZ_OK;
}

/* Every signer must be a known key, not the log key, not revoked. */
static int check_signers(verifier *v, const tz_entry *e, bkey **signers, tz_err *err)
{
    for (size_t i = 0; i < e->nsigs; i++) {
        char hex[17];
        key_short(hex, e->sigs[i].key);
        bkey *k = key_find(&v->keys, e->sigs[i].key);
        if (k == NULL)
            return tz_err_set(err, TZ_ERR_SIGNATURE, "sigs[%zu]: key %s... is not a root key of "
                              "genesis and no key.grant before this entry in the bundle grants "
                              "it", i, hex);
        if (k->log)
            return tz_err_set(err, TZ_ERR_SIGNATURE, "sigs[%zu]: the log's checkpoint key signs "
                              "checkpoints only, never a statement", i);
        if (k->revoked)
            return tz_err_set(err, TZ_ERR_SIGNATURE, "sigs[%zu]: key %s (%s...) was revoked at "
                              "seq %" PRIu64, i, k->name, hex, k->revoked_seq);
        signers[i] = k;
    }
    return TZ_OK;
}

static int signers_any(bkey *const *signers, size_t n, int need_root)
{
    for (size_t i = 0; i < n; i++)
        if (signers[i]->root || (!need_root && signers[i]->authority))
            return 1;
    return 0;
}

/* key.grant: by a root or "authority" key; only a root grants "authority";
 * a key is granted once. */
static int check_grant(verifier *v, uint64_t seq, const tz_statement *st, bkey *const *signers,
                       size_t nsigs, tz_err *err)
{
    tz_public_key key;
    const char *holder;
    size_t holder_len;
    int rc = body_pubkey(st, "key", &key, err);
    if (rc == TZ_OK)
        rc = body_string(st, "holder", TZ_HOLDER_MAX, &holder, &holder_len, err);
    if (rc != TZ_OK)
        return rc;
    const msgpack_object *roles = tz_codec_map_get(st->body, "roles");
    if (roles == NULL || roles->type != MSGPACK_OBJECT_ARRAY || roles->via.array.size == 0 ||
        roles->via.array.size > TZ_MAX_ROLES)
        return tz_err_set(err, TZ_ERR_INPUT, "body.roles: must be an array of 1..%d role names",
                          TZ_MAX_ROLES);
    int authority = 0;
    for (uint32_t i = 0; i < roles->via.array.size; i++) {
        if (roles->via.array.ptr[i].type != MSGPACK_OBJECT_STR)
            return tz_err_set(err, TZ_ERR_INPUT, "body.roles[%u]: must be a string", i);
        authority |= tz_codec_str_eq(&roles->via.array.ptr[i], "authority");
    }
    if (authority && !signers_any(signers, nsigs, 1))
        return tz_err_set(err, TZ_ERR_FORBIDDEN, "key.grant: only a root key may grant the role "
                          "\"authority\"");
    if (!signers_any(signers, nsigs, 0))
        return tz_err_set(err, TZ_ERR_FORBIDDEN, "key.grant: needs a signature by a root key or "
                          "a key holding role \"authority\"; no signer holds it");
    const bkey *old = key_find(&v->keys, key.pk);
    if (old != NULL)
        return tz_err_set(err, TZ_ERR_RULE, "body.key: key %s is already %s (seq %" PRIu64 "); "
                          "a key is granted once", key.name,
                          old->log ? "the log key" : old->root ? "a root key" : "granted",
                          old->granted_seq);
    bkey k;
    memset(&k, 0, sizeof k);
    memcpy(k.pk, key.pk, 32);
    k.authority = authority;
    k.granted_seq = seq;
    copy_text(k.name, sizeof k.name, key.name, strlen(key.name));
    copy_text(k.holder, sizeof k.holder, holder, holder_len);
    return key_add(&v->keys, &k) != NULL ? TZ_OK
                                          : tz_err_set(err, TZ_ERR_NOMEM, "key.grant: out of memory");
}

/* key.revoke: a root key only by another root key; a root or authority key
 * by a root key or itself; any other by an authority key or itself. */
static int check_revoke(verifier *v, uint64_t seq, const tz_entry *e, const tz_statement *st,
                        bkey *const *signers, tz_err *err)
{
    tz_public_key key;
    int rc = body_pubkey(st, "key", &key, err);
    if (rc != TZ_OK)
        return rc;
    bkey *target = key_find(&v->keys, key.pk);
    if (target == NULL)
        return tz_err_set(err, TZ_ERR_RULE, "body.key: key %s is revoked, but its grant is not "
                          "in the bundle", key.name);
    if (target->revoked)
        return tz_err_set(err, TZ_ERR_RULE, "body.key: key %s is already revoked (seq %" PRIu64
                          ")", key.name, target->revoked_seq);
    if (target->log)
        return tz_err_set(err, TZ_ERR_RULE, "body.key: the log's checkpoint key cannot be "
                          "revoked by a statement");
    int self = 0, other_root = 0;
    for (size_t i = 0; i < e->nsigs; i++) {
        int is_target = tz_hash_equal(e->sigs[i].key, key.pk, 32);
        self |= is_target;
        other_root |= signers[i]->root && !is_target;
    }
    if (target->root && !other_root)
        return tz_err_set(err, TZ_ERR_FORBIDDEN, "key.revoke: a root key is revoked only by "
                          "another root key");
    if ((target->root || target->authority) && !signers_any(signers, e->nsigs, 1) && !self)
        return tz_err_set(err, TZ_ERR_FORBIDDEN, "key.revoke: only a root key (or the key "
                          "itself) may revoke an authority key");
    if (!self && !signers_any(signers, e->nsigs, 0))
        return tz_err_set(err, TZ_ERR_FORBIDDEN, "key.revoke: needs a signature by a root key, "
                          "an \"authority\" key, or the revoked key itself");
    target->revoked = 1;
    target->revoked_seq = seq;
    return TZ_OK;
}

static int type_known(const tz_statement *st)
{
    return tz_statement_is(st, "memo") || tz_statement_is(st, "cosign") ||
           tz_domain_knows(st->type, st->type_len);
}

static void count_type(tz_bundle_report *rep, const tz_statement *st)
{
    size_t i;
    for (i = 0; i < rep->ntypes; i++)
        if (strlen(rep->types[i].type) == st->type_len &&
            memcmp(rep->types[i].type, st->type, st->type_len) == 0)
            break;
    if (i == rep->ntypes && rep->ntypes < TZ_BUNDLE_MAX_TYPES - 1) {
        copy_text(rep->types[i].type, sizeof rep->types[i].type, st->type, st->type_len);
        rep->ntypes++;
    } else if (i == rep->ntypes || i == TZ_BUNDLE_MAX_TYPES) {
        i = TZ_BUNDLE_MAX_TYPES - 1; /* the last slot counts every further type */
        copy_text(rep->types[i].type, sizeof rep->types[i].type, "(other)", 7);
        rep->ntypes = TZ_BUNDLE_MAX_TYPES;
    }
    rep->types[i].count++;
}

/* ---- one record ---------------------------------------------------------- */

/* The chain: entry 0 starts it, a record right after the one before links
 * to it, and time never goes back. */
static int check_chain(verifier *v, uint64_t seq, const tz_entry *e, tz_err *err)
{
    static const uint8_t zero[32] = {0};
    int follows = v->have_prev && v->prev_seq + 1 == seq;
    if (seq == 0 && !tz_hash_equal(e->prev, zero, 32))
        return tz_err_set(err, TZ_ERR_TAMPER, "prev: entry 0 must have 32 zero bytes");
    if (follows && !tz_hash_equal(e->prev, v->prev_leaf, 32))
        return tz_err_set(err, TZ_ERR_TAMPER, "prev: not the leaf hash of entry %" PRIu64
                          " (the hash chain is broken)", v->prev_seq);
    if (v->have_prev && e->recorded_at < v->prev_recorded_at)
        return tz_err_set(err, TZ_ERR_TAMPER, "recorded_at: %" PRIu64 " is before that of seq %"
                          PRIu64 " (%" PRIu64 "); time never goes back in the log",
                          e->recorded_at, v->prev_seq, v->prev_recorded_at);
    if (!follows)
        v->rep->runs++;
    return TZ_OK;
}

static void report_record(verifier *v, uint64_t seq, const tz_entry *e, const tz_statement *st,
                          bkey *const *signers)
{
    if (v->opt->on_record == NULL)
        return;
    tz_bundle_record_info info;
    memset(&info, 0, sizeof info);
    info.seq = seq;
    info.recorded_at = e->recorded_at;
    info.st = st;
    info.nsigs = e->nsigs;
    for (size_t i = 0; i < e->nsigs; i++) {
        info.signers[i] = signers[i] != NULL ? signers[i]->holder : "log";
        info.signer_names[i] = signers[i] != NULL ? signers[i]->name : v->opt->log_key->name;
    }
    v->opt->on_record(v->opt->ctx, &info);
}

static int check_record(verifier *v, uint64_t seq, const uint8_t *raw, size_t len,
                        uint8_t leaf[32], tz_err *err)
{
    tz_entry e;
    int rc = tz_entry_decode(&e, raw, len, err);
    if (rc != TZ_OK)
        return rc;
    if (e.seq != seq)
        return tz_err_set(err, TZ_ERR_TAMPER, "the entry says seq %" PRIu64 "; the record and "
                          "its place in the tree say %" PRIu64, e.seq, seq);
    tz_merkle_leaf_hash(leaf, raw, len);
    if ((rc = check_chain(v, seq, &e, err)) != TZ_OK ||
        (rc = tz_entry_verify_signatures(&e, err)) != TZ_OK)
        return rc;
    v->rep->signatures += e.nsigs;
    msgpack_zone_clear(&v->zone);
    tz_statement st;
    if ((rc = tz_statement_decode(&st, &v->zone, e.statement, e.statement_len, err)) != TZ_OK)
        return rc;
    if (st.at_unix > (int64_t)(e.recorded_at / 1000000u) + TZ_AT_FUTURE_SLACK_SECONDS)
        return tz_err_set(err, TZ_ERR_RULE, "at: %.*s is more than %d seconds after "
                          "recorded_at; statements may not be dated in the future",
                          (int)st.at_len, st.at, TZ_AT_FUTURE_SLACK_SECONDS);
    int genesis = tz_statement_is(&st, "genesis");
    if ((seq == 0) != genesis)
        return tz_err_set(err, TZ_ERR_RULE, "type: %s", genesis ? "genesis is allowed only as "
                          "entry 0" : "entry 0 must be the genesis statement");
    bkey *signers[TZ_ENTRY_MAX_SIGS] = {0};
    if (genesis)
        rc = check_genesis(v, &e, &st, err);
    else if ((rc = check_signers(v, &e, signers, err)) != TZ_OK)
        return rc;
    else if (tz_statement_is(&st, "key.grant"))
        rc = check_grant(v, seq, &st, signers, e.nsigs, err);
    else if (tz_statement_is(&st, "key.revoke"))
        rc = check_revoke(v, seq, &e, &st, signers, err);
    else if (!type_known(&st))
        rc = tz_err_set(err, TZ_ERR_RULE, "type: unknown statement type \"%.*s\"",
                        (int)st.type_len, st.type);
    if (rc != TZ_OK)
        return rc;
    v->have_prev = 1;
    v->prev_seq = seq;
    memcpy(v->prev_leaf, leaf, 32);
    v->prev_recorded_at = e.recorded_at;
    v->rep->records++;
    if (v->rep->records == 1)
        v->rep->first_seq = seq;
    v->rep->last_seq = seq;
    count_type(v->rep, &st);
    report_record(v, seq, &e, &st, signers);
    return TZ_OK;
}

/* ---- the records as the recursion meets them ------------------------------ */

/* Reads the next record ahead when none is; *has = 0 after the last. */
static int peek(verifier *v, int *has, tz_err *err)
{
    if (v->peeked || v->next_index == v->h.nrecords) {
        *has = v->peeked;
        return TZ_OK;
    }
    uint64_t at = rd_offset(v->r), seq;
    int rc = rd_record(v->r, v->next_index, &seq, &v->peek_entry, &v->peek_len, err);
    if (rc != TZ_OK)
        return rc;
    if (v->next_index == 0 && seq != 0)
        rc = tz_err_set(err, TZ_ERR_INPUT, "bundle at offset %" PRIu64 " (records[0]): seq %"
                        PRIu64 ": the first record must be entry 0, the genesis (it names the "
                        "log key and the root keys)", at, seq);
    else if (v->next_index > 0 && seq <= v->peek_seq)
        rc = tz_err_set(err, TZ_ERR_INPUT, "bundle at offset %" PRIu64 " (records[%" PRIu64
                        "]): seq %" PRIu64 " is not above seq %" PRIu64 " of the record before "
                        "(records are sorted by seq, without repeats)", at, v->next_index, seq,
                        v->peek_seq);
    if (rc != TZ_OK) {
        v->has_bad = 1;
        v->bad_seq = seq;
        return rc;
    }
    v->peek_seq = seq;
    v->peeked = 1;
    v->next_index++;
    *has = 1;
    return TZ_OK;
}

static void note_range(verifier *v, uint64_t seq)
{
    if (seq < v->opt->require_from || seq >= v->opt->require_to)
        return;
    if (seq != v->range_next && !v->range_gap) {
        v->range_gap = 1;
        v->range_missing = v->range_next;
    }
    v->range_next = seq + 1;
}

static int take_record(verifier *v, uint8_t leaf[32], tz_err *err)
{
    uint64_t seq = v->peek_seq;
    v->peeked = 0;
    int rc = check_record(v, seq, v->peek_entry, v->peek_len, leaf, err);
    if (rc != TZ_OK) {
        v->has_bad = 1;
        v->bad_seq = seq;
        tz_err_prefix(err, "seq %" PRIu64 ": ", seq);
        return rc;
    }
    note_range(v, seq);
    return TZ_OK;
}

/* MTH(D[a:b]) as RFC 9162 defines it, where a subtree holding no record is
 * the next proof hash. Depth at most 64. */
static int subtree(verifier *v, uint64_t a, uint64_t b, uint8_t out[32], tz_err *err)
{
    int has;
    int rc = peek(v, &has, err);
    if (rc != TZ_OK)
        return rc;
    if (!has || v->peek_seq >= b) {
        if (v->proof_used == v->h.nproof)
            return tz_err_set(err, TZ_ERR_PROOF, "proof: too few hashes: leaves [%" PRIu64 ", %"
                              PRIu64 ") hold no record and no hash is left for them", a, b);
        memcpy(out, v->h.proof[v->proof_used++], 32);
        return TZ_OK;
    }
    if (b - a == 1)
        return take_record(v, out, err);
    uint64_t k = split_point(b - a);
    uint8_t left[32], right[32];
    if ((rc = subtree(v, a, a + k, left, err)) != TZ_OK ||
        (rc = subtree(v, a + k, b, right, err)) != TZ_OK)
        return rc;
    tz_merkle_node_hash(out, left, right);
    return TZ_OK;
}

static int open_checkpoint(verifier *v, tz_err *err)
{
    const tz_bundle_verify_options *o = v->opt;
    int rc;
    if (o->witnesses_needed > 0) {
        rc = tz_witness_policy_check(v->h.note, v->h.note_len, o->log_key, o->witnesses,
                                     o->nwitnesses, o->witnesses_needed, &v->cp, err);
        if (rc == TZ_OK)
            v->rep->witnesses = o->witnesses_needed;
    } else {
        rc = tz_checkpoint_open(&v->cp, v->h.note, v->h.note_len, o->log_key, err);
    }
    if (rc != TZ_OK)
        tz_err_prefix(err, "checkpoint: ");
    return rc;
}

/* After the recursion: nothing left over, the root, the end, the range. */
static int check_end(verifier *v, const uint8_t root[32], tz_err *err)
{
    int has;
    int rc = peek(v, &has, err);
    if (rc != TZ_OK)
        return rc;
    if (has) {
        v->has_bad = 1;
        v->bad_seq = v->peek_seq;
        return tz_err_set(err, TZ_ERR_INPUT, "records[%" PRIu64 "]: seq %" PRIu64 " is not "
                          "below the checkpoint's tree size %" PRIu64, v->next_index - 1,
                          v->peek_seq, v->cp.size);
    }
    if (v->proof_used != v->h.nproof)
        return tz_err_set(err, TZ_ERR_PROOF, "proof: %zu of its %zu hashes left unused (a proof "
                          "carries exactly the hashes the records need)",
                          v->h.nproof - v->proof_used, v->h.nproof);
    if (!tz_hash_equal(root, v->cp.root, 32)) {
        char got[45], want[45];
        tz_base64_encode(got, sizeof got, root, 32);
        tz_base64_encode(want, sizeof want, v->cp.root, 32);
        return tz_err_set(err, TZ_ERR_PROOF, "proof: the records and the proof hashes give the "
                          "root %s, the checkpoint says %s (a record or a hash was altered)",
                          got, want);
    }
    if ((rc = rd_end(v->r, err)) != TZ_OK)
        return rc;
    const tz_bundle_verify_options *o = v->opt;
    if (o->require_to > 0) {
        if (!v->range_gap && v->range_next != o->require_to) {
            v->range_gap = 1;
            v->range_missing = v->range_next;
        }
        if (v->range_gap)
            return tz_err_set(err, TZ_ERR_PROOF, "range: every seq of [%" PRIu64 ", %" PRIu64
                              ") is required, but seq %" PRIu64 " is not in the bundle",
                              o->require_from, o->require_to, v->range_missing);
        v->rep->range_checked = 1;
    }
    return TZ_OK;
}

static int verify_run(verifier *v, tz_err *err)
{
    int rc = rd_head(v->r, &v->h, err);
    if (rc != TZ_OK)
        return rc;
    v->rep->proof_hashes = v->h.nproof;
    v->range_next = v->opt->require_from;
    if ((rc = open_checkpoint(v, err)) != TZ_OK)
        return rc;
    copy_text(v->rep->origin, sizeof v->rep->origin, v->cp.origin, strlen(v->cp.origin));
    v->rep->tree_size = v->cp.size;
    memcpy(v->rep->root, v->cp.root, 32);
    uint8_t root[32];
    if ((rc = subtree(v, 0, v->cp.size, root, err)) != TZ_OK)
        return rc;
    return check_end(v, root, err);
}

static int verify_reader(reader *r, const tz_bundle_verify_options *opt, tz_bundle_report *rep,
                         tz_err *err)
{
    tz_bundle_report scratch;
    if (rep == NULL)
        rep = &scratch;
    memset(rep, 0, sizeof *rep);
    if (opt == NULL || opt->log_key == NULL ||
        (opt->witnesses_needed > 0 && opt->witnesses == NULL))
        return tz_err_set(err, TZ_ERR_USAGE, "tz_bundle_verify: the log key is required");
    if (opt->require_to > 0 && opt->require_from >= opt->require_to)
        return tz_err_set(err, TZ_ERR_USAGE, "--from %" PRIu64 " must be below --to %" PRIu64,
                          opt->require_from, opt->require_to);
    if (sodium_init() < 0)
        return tz_err_set(err, TZ_ERR_INTERNAL, "libsodium could not be initialised");
    verifier *v = calloc(1, sizeof *v);
    if (v == NULL)
        return tz_err_set(err, TZ_ERR_NOMEM, "bundle: out of memory");
    v->r = r;
    v->opt = opt;
    v->rep = rep;
    randombytes_buf(v->keys.sip, sizeof v->keys.sip);
    tz_err local;
    tz_err_clear(&local);
    int rc;
    if (!msgpack_zone_init(&v->zone, 4096))
        rc = tz_err_set(&local, TZ_ERR_NOMEM, "bundle: out of memory");
    else {
        rc = verify_run(v, &local);
        msgpack_zone_destroy(&v->zone);
    }
    rep->keys = v->keys.count;
    rep->ok = rc == TZ_OK;
    if (rc != TZ_OK) {
        copy_text(rep->reason, sizeof rep->reason, local.msg, strlen(local.msg));
        rep->has_bad_seq = v->has_bad;
        rep->bad_seq = v->bad_seq;
        if (err != NULL)
            *err = local;
    }
    head_free(&v->h);
    free(v->keys.slots);
    free(v);
    return rc;
}

int tz_bundle_verify_buf(const uint8_t *buf, size_t len, const tz_bundle_verify_options *opt,
                         tz_bundle_report *rep, tz_err *err)
{
    if (buf == NULL && len > 0)
        return tz_err_set(err, TZ_ERR_USAGE, "tz_bundle_verify: NULL buffer");
    reader r;
    reader_buf(&r, buf, len);
    return verify_reader(&r, opt, rep, err);
}

int tz_bundle_verify(const uint8_t *buf, size_t len, const tz_public_key *log_key,
                     tz_bundle_report *rep, tz_err *err)
{
    tz_bundle_verify_options opt = {.log_key = log_key};
    return tz_bundle_verify_buf(buf, len, &opt, rep, err);
}

int tz_bundle_verify_fd(int fd, const tz_bundle_verify_options *opt, tz_bundle_report *rep,
                        tz_err *err)
{
    if (fd < 0)
        return tz_err_set(err, TZ_ERR_USAGE, "tz_bundle_verify_fd: bad descriptor");
    reader r;
    memset(&r, 0, sizeof r);
    r.fd = fd;
    r.cap = WINDOW_BYTES;
    if ((r.win = malloc(r.cap)) == NULL)
        return tz_err_set(err, TZ_ERR_NOMEM, "bundle: out of memory");
    r.data = r.win;
    int rc = verify_reader(&r, opt, rep, err);
    free(r.win);
    return rc;
}

/* ======================================================================
 * Export.
 * ====================================================================== */

/* Sorted, disjoint, non-adjacent seq ranges [start, end). */
typedef struct seq_run {
    uint64_t start, end;
} seq_run;

typedef struct run_list {
    seq_run *v;
    size_t n, cap;
} run_list;

/* Appends seq, which must be above every seq already in l. */
static int runs_push(run_list *l, uint64_t start, uint64_t end)
{
    if (l->n > 0 && l->v[l->n - 1].end >= start) {
        if (end > l->v[l->n - 1].end)
            l->v[l->n - 1].end = end;
        return 0;
    }
    if (l->n == l->cap) {
        size_t ncap = l->cap == 0 ? 16 : l->cap * 2;
        seq_run *grown = realloc(l->v, ncap * sizeof *grown);
        if (grown == NULL)
            return -1;
        l->v = grown;
        l->cap = ncap;
    }
    l->v[l->n++] = (seq_run){start, end};
    return 0;
}

/* The index of the first run with end > seq (l->n when none). */
static size_t runs_find(const run_list *l, uint64_t seq)
{
    size_t lo = 0, hi = l->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (l->v[mid].end > seq)
            hi = mid;
        else
            lo = mid + 1;
    }
    return lo;
}

static int runs_has(const run_list *l, uint64_t seq)
{
    size_t i = runs_find(l, seq);
    return i < l->n && l->v[i].start <= seq;
}

enum { COVER_NONE, COVER_SOME, COVER_ALL };

static int runs_cover(const run_list *l, uint64_t a, uint64_t b)
{
    size_t i = runs_find(l, a);
    if (i == l->n || l->v[i].start >= b)
        return COVER_NONE;
    return l->v[i].start <= a && l->v[i].end >= b ? COVER_ALL : COVER_SOME;
}

typedef struct exporter {
    tz_store *snap;
    tz_store_batch *batch;      /* reads the key records of the snapshot */
    tz_checkpoint cp;
    char *note;
    size_t note_len;
    const tz_public_key *log_key;
    run_list base;              /* what was asked for */
    uint64_t last_seq;          /* its last seq */
    uint64_t *support;          /* genesis and key entries, sorted, not in base */
    size_t nsupport, support_cap;
    uint64_t *work;             /* support entries not yet examined */
    size_t nwork, work_cap;
    keytab seen;                /* keys whose entries were added */
    run_list all;               /* base and support */
    uint8_t (*proof)[32];
    size_t nproof, proof_cap;
} exporter;

static int grow_u64(uint64_t **v, size_t *cap, size_t need)
{
    if (need <= *cap)
        return 0;
    size_t ncap = *cap == 0 ? 64 : *cap * 2;
    uint64_t *grown = realloc(*v, ncap * sizeof *grown);
    if (grown == NULL)
        return -1;
    *v = grown;
    *cap = ncap;
    return 0;
}

/* Reads entry seq from the snapshot (malloc'd, tz_store_free). */
static int read_entry(exporter *x, uint64_t seq, uint8_t **raw, size_t *len, tz_err *err)
{
    uint8_t key[8];
    tz_store_key_u64(key, seq);
    int rc = tz_store_get(x->snap, TZ_CF_ENTRIES, key, 8, raw, len, err);
    if (rc == TZ_ERR_NOTFOUND)
        return tz_err_set(err, TZ_ERR_TAMPER, "entry %" PRIu64 " is missing from the store; run "
                          "`taizhang verify`", seq);
    return rc;
}

/* Adds entry seq (genesis, a grant or a revocation) unless it is in. */
static int add_support(exporter *x, uint64_t seq, tz_err *err)
{
    if (seq >= x->cp.size)
        return tz_err_set(err, TZ_ERR_TAMPER, "a key record names entry %" PRIu64 ", beyond the "
                          "tree size %" PRIu64 "; run `taizhang verify`", seq, x->cp.size);
    if (runs_has(&x->base, seq))
        return TZ_OK;
    size_t lo = 0, hi = x->nsupport;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (x->support[mid] < seq)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo < x->nsupport && x->support[lo] == seq)
        return TZ_OK;
    if (grow_u64(&x->support, &x->support_cap, x->nsupport + 1) ||
        grow_u64(&x->work, &x->work_cap, x->nwork + 1))
        return tz_err_set(err, TZ_ERR_NOMEM, "export: out of memory");
    memmove(x->support + lo + 1, x->support + lo, (x->nsupport - lo) * sizeof *x->support);
    x->support[lo] = seq;
    x->nsupport++;
    x->work[x->nwork++] = seq;
    return TZ_OK;
}

/* The entries that make key pk checkable: its grant (genesis for a root
 * key) and its revocation when that is at or before the last seq asked
 * for (a later one changes nothing about the entries in the bundle). */
static int need_key(exporter *x, const uint8_t pk[32], uint64_t seq, tz_err *err)
{
    if (key_find(&x->seen, pk) != NULL)
        return TZ_OK;
    bkey k;
    memset(&k, 0, sizeof k);
    memcpy(k.pk, pk, 32);
    if (key_add(&x->seen, &k) == NULL)
        return tz_err_set(err, TZ_ERR_NOMEM, "export: out of memory");
    tz_key_record rec;
    tz_err lookup;
    int rc = tz_apply_key_get(x->batch, pk, &rec, &lookup);
    if (rc == TZ_ERR_NOTFOUND) {
        char hex[17];
        key_short(hex, pk);
        return tz_err_set(err, TZ_ERR_TAMPER, "entry %" PRIu64 " names key %s..., which has no "
                          "key record; run `taizhang verify`", seq, hex);
    }
    if (rc != TZ_OK) {
        if (err != NULL)
            *err = lookup;
        return rc;
    }
    if ((rc = add_support(x, rec.granted_seq, err)) != TZ_OK)
        return rc;
    if (rec.revoked && rec.revoked_seq <= x->last_seq)
        rc = add_support(x, rec.revoked_seq, err);
    return rc;
}

/* Adds the key entries an entry's check needs: its signers' and, for a
 * revocation, the revoked key's. */
static int examine(exporter *x, uint64_t seq, const uint8_t *raw, size_t len, tz_err *err)
{
    tz_entry e;
    int rc = tz_entry_decode(&e, raw, len, err);
    if (rc == TZ_OK && e.seq != seq)
        rc = tz_err_set(err, TZ_ERR_TAMPER, "the entry stored at seq %" PRIu64 " says seq %"
                        PRIu64, seq, e.seq);
    if (rc != TZ_OK) {
        tz_err_prefix(err, "entry %" PRIu64 ": ", seq);
        if (err != NULL)
            err->code = TZ_ERR_TAMPER;
        return TZ_ERR_TAMPER;
    }
    for (size_t i = 0; rc == TZ_OK && i < e.nsigs; i++)
        rc = need_key(x, e.sigs[i].key, seq, err);
    if (rc != TZ_OK || seq == 0)
        return rc;
    msgpack_zone zone;
    if (!msgpack_zone_init(&zone, 2048))
        return tz_err_set(err, TZ_ERR_NOMEM, "export: out of memory");
    tz_statement st;
    rc = tz_statement_decode(&st, &zone, e.statement, e.statement_len, err);
    if (rc == TZ_OK && tz_statement_is(&st, "key.revoke")) {
        tz_public_key target;
        if ((rc = body_pubkey(&st, "key", &target, err)) == TZ_OK)
            rc = need_key(x, target.pk, seq, err);
    }
    msgpack_zone_destroy(&zone);
    return rc;
}

/* Examines every entry of the base runs, in order, with one iterator per
 * run. */
static int examine_base(exporter *x, tz_err *err)
{
    int rc = TZ_OK;
    for (size_t r = 0; rc == TZ_OK && r < x->base.n; r++) {
        uint8_t key[8];
        tz_store_key_u64(key, x->base.v[r].start);
        tz_store_iter *it = tz_store_iter_new(x->snap, TZ_CF_ENTRIES, key, 8);
        if (it == NULL)
            return tz_err_set(err, TZ_ERR_NOMEM, "export: out of memory");
        uint64_t seq = x->base.v[r].start;
        for (; rc == TZ_OK && seq < x->base.v[r].end && tz_store_iter_valid(it);
             seq++, tz_store_iter_next(it)) {
            size_t klen, vlen;
            const uint8_t *k = tz_store_iter_key(it, &klen);
            const uint8_t *val = tz_store_iter_value(it, &vlen);
            if (klen != 8 || tz_store_u64_from_key(k) != seq)
                rc = tz_err_set(err, TZ_ERR_TAMPER, "entry %" PRIu64 " is missing from the "
                                "store; run `taizhang verify`", seq);
            else
                rc = examine(x, seq, val, vlen, err);
        }
        tz_err scan;
        if (tz_store_iter_status(it, &scan) != TZ_OK && rc == TZ_OK) {
            if (err != NULL)
                *err = scan;
            rc = scan.code;
        }
        if (rc == TZ_OK && seq < x->base.v[r].end)
            rc = tz_err_set(err, TZ_ERR_TAMPER, "entry %" PRIu64 " is missing from the store; "
                            "run `taizhang verify`", seq);
        tz_store_iter_free(it);
    }
    return rc;
}

/* Examines support entries until no new one appears (grants of grantors,
 * back to the roots of genesis). */
static int close_support(exporter *x, tz_err *err)
{
    int rc = add_support(x, 0, err);
    while (rc == TZ_OK && x->nwork > 0) {
        uint64_t seq = x->work[--x->nwork];
        uint8_t *raw = NULL;
        size_t len = 0;
        if ((rc = read_entry(x, seq, &raw, &len, err)) == TZ_OK)
            rc = examine(x, seq, raw, len, err);
        tz_store_free(raw);
    }
    return rc;
}

/* all = base ∪ support, as runs. */
static int merge_runs(exporter *x, tz_err *err)
{
    size_t i = 0, j = 0;
    while (i < x->base.n || j < x->nsupport) {
        int rc;
        if (j == x->nsupport || (i < x->base.n && x->base.v[i].start < x->support[j])) {
            rc = runs_push(&x->all, x->base.v[i].start, x->base.v[i].end);
            i++;
        } else {
            rc = runs_push(&x->all, x->support[j], x->support[j] + 1);
            j++;
        }
        if (rc != 0)
            return tz_err_set(err, TZ_ERR_NOMEM, "export: out of memory");
    }
    return TZ_OK;
}

/* The hash of leaves [a, b) from the stored tree: a complete subtree is one
 * stored node; the right edge is folded from its complete pieces. */
static int stored_subtree(exporter *x, uint64_t a, uint64_t b, uint8_t out[32], tz_err *err)
{
    uint64_t n = b - a;
    if ((n & (n - 1)) == 0) {
        unsigned level = (unsigned)__builtin_ctzll(n);
        int rc = tz_ledger_read_node(x->snap, level, a >> level, out, err);
        if (rc == TZ_ERR_NOTFOUND)
            rc = tz_err_set(err, TZ_ERR_TAMPER, "tree node (%u, %" PRIu64 ") is missing; run "
                            "`taizhang verify`", level, a >> level);
        return rc;
    }
    uint64_t k = split_point(n);
    uint8_t left[32], right[32];
    int rc = stored_subtree(x, a, a + k, left, err);
    if (rc == TZ_OK && (rc = stored_subtree(x, a + k, b, right, err)) == TZ_OK)
        tz_merkle_node_hash(out, left, right);
    return rc;
}

/* The multiproof: the verifier's recursion, taking a stored hash for every
 * subtree without a record, left to right. */
static int build_proof(exporter *x, uint64_t a, uint64_t b, tz_err *err)
{
    int cover = runs_cover(&x->all, a, b);
    if (cover == COVER_ALL)
        return TZ_OK;
    if (cover == COVER_NONE) {
        if (x->nproof == x->proof_cap) {
            size_t ncap = x->proof_cap == 0 ? 64 : x->proof_cap * 2;
            uint8_t(*grown)[32] = realloc(x->proof, ncap * 32);
            if (grown == NULL)
                return tz_err_set(err, TZ_ERR_NOMEM, "export: out of memory");
            x->proof = grown;
            x->proof_cap = ncap;
        }
        if (x->nproof == TZ_BUNDLE_MAX_PROOF)
            return tz_err_set(err, TZ_ERR_USAGE, "export: the selection needs more than %u "
                              "proof hashes; export a narrower range", TZ_BUNDLE_MAX_PROOF);
        return stored_subtree(x, a, b, x->proof[x->nproof++], err);
    }
    uint64_t k = split_point(b - a);
    int rc = build_proof(x, a, a + k, err);
    return rc == TZ_OK ? build_proof(x, a + k, b, err) : rc;
}

/* ---- the selection --------------------------------------------------------- */

typedef struct subject_scan {
    exporter *x;
    const char *village;     /* also required, or NULL */
    tz_err *err;
    int failed;
} subject_scan;

static int subject_seq(void *ctx, uint64_t seq)
{
    subject_scan *s = ctx;
    if (s->village != NULL) {
        int yes = 0;
        if (tz_view_subject_has(s->x->snap, "village", s->village, seq, &yes, s->err) != TZ_OK) {
            s->failed = 1;
            return 1;
        }
        if (!yes)
            return 0;
    }
    if (runs_push(&s->x->base, seq, seq + 1) != 0) {
        tz_err_set(s->err, TZ_ERR_NOMEM, "export: out of memory");
        s->failed = 1;
        return 1;
    }
    return 0;
}

static int check_subject_id(const char *opt, const char *id, tz_err *err)
{
    if (id == NULL)
        return TZ_OK;
    int rc = tz_statement_check_id(id, strlen(id), err);
    if (rc != TZ_OK) {
        tz_err_prefix(err, "%s: ", opt);
        if (err != NULL)
            err->code = TZ_ERR_USAGE;
        return TZ_ERR_USAGE;
    }
    return TZ_OK;
}

static int select_base(exporter *x, const tz_bundle_selection *sel, uint64_t from, uint64_t to,
                       tz_err *err)
{
    if (sel->person == NULL && sel->village == NULL)
        return runs_push(&x->base, from, to) == 0
                   ? TZ_OK : tz_err_set(err, TZ_ERR_NOMEM, "export: out of memory");
    const char *kind = sel->person != NULL ? "person" : "village";
    const char *id = sel->person != NULL ? sel->person : sel->village;
    subject_scan s = {x, sel->person != NULL ? sel->village : NULL, err, 0};
    int rc = tz_view_subject_scan(x->snap, kind, id, from, to - 1, subject_seq, &s, err);
    if (s.failed)
        return err != NULL ? err->code : TZ_ERR_IO;
    if (rc != TZ_OK)
        return rc;
    if (x->base.n == 0) {
        if (sel->person != NULL && sel->village != NULL)
            return tz_err_set(err, TZ_ERR_NOTFOUND, "--person %s --village %s: no entry of seqs "
                              "[%" PRIu64 ", %" PRIu64 ") concerns both", sel->person,
                              sel->village, from, to);
        return tz_err_set(err, TZ_ERR_NOTFOUND, "--%s %s: no entry of seqs [%" PRIu64 ", %"
                          PRIu64 ") concerns it", kind, id, from, to);
    }
    return TZ_OK;
}

/* ---- the checkpoint --------------------------------------------------------- */

/* The checkpoint the bundle proves against: the caller's (signed by the
 * log key, within the log, with the ledger's root at its size) or the
 * stored latest one. */
static int pick_checkpoint(exporter *x, const tz_bundle_selection *sel, const char *origin,
                           tz_err *err)
{
    tz_ledger_head head;
    int rc = tz_ledger_read_head(x->snap, &head, err);
    if (rc == TZ_ERR_NOTFOUND)
        return tz_err_set(err, TZ_ERR_NOTFOUND, "export: the ledger is empty (no head)");
    if (rc != TZ_OK)
        return rc;
    const char *note = sel->checkpoint;
    size_t len = sel->checkpoint_len;
    uint8_t *stored = NULL;
    if (note == NULL) {
        rc = tz_store_get(x->snap, TZ_CF_META, META_CHECKPOINT, strlen(META_CHECKPOINT), &stored,
                          &len, err);
        if (rc == TZ_ERR_NOTFOUND)
            rc = tz_err_set(err, TZ_ERR_TAMPER, "the ledger has a head but no checkpoint; run "
                            "`taizhang verify`");
        if (rc != TZ_OK)
            return rc;
        note = (const char *)stored;
    }
    if ((x->note = malloc(len + 1)) == NULL)
        rc = tz_err_set(err, TZ_ERR_NOMEM, "export: out of memory");
    else {
        memcpy(x->note, note, len);
        x->note[len] = '\0';
        x->note_len = len;
        rc = tz_checkpoint_open(&x->cp, x->note, len, x->log_key, err);
        if (rc != TZ_OK)
            tz_err_prefix(err, "%s: ", stored ? "the stored checkpoint" : "--checkpoint");
        if (rc != TZ_OK && stored != NULL && err != NULL)
            err->code = rc = TZ_ERR_TAMPER;
    }
    tz_store_free(stored);
    if (rc != TZ_OK)
        return rc;
    const char *what = sel->checkpoint != NULL ? "--checkpoint" : "the stored checkpoint";
    int code = sel->checkpoint != NULL ? TZ_ERR_PROOF : TZ_ERR_TAMPER;
    if (strcmp(x->cp.origin, origin) != 0)
        return tz_err_set(err, code, "%s: origin \"%s\" is not this log's \"%s\"", what,
                          x->cp.origin, origin);
    if (x->cp.size == 0 || x->cp.size > head.size)
        return tz_err_set(err, code, "%s: tree size %" PRIu64 " is not within this log (1..%"
                          PRIu64 ")", what, x->cp.size, head.size);
    uint8_t root[32];
    if ((rc = tz_merkle_root(root, x->cp.size, tz_ledger_read_node, x->snap, err)) != TZ_OK)
        return rc == TZ_ERR_NOTFOUND ? tz_err_set(err, TZ_ERR_TAMPER, "tree: a node is "
                                                  "missing; run `taizhang verify`") : rc;
    if (!tz_hash_equal(root, x->cp.root, 32))
        return tz_err_set(err, code, "%s: its root is not this ledger's root at size %" PRIu64
                          " (a checkpoint of a fork?)", what, x->cp.size);
    return TZ_OK;
}

/* ---- writing ------------------------------------------------------------- */

typedef struct sink {
    tz_bundle_write_fn fn;
    void *ctx;
    uint64_t bytes;
    int failed;
} sink;

static int sink_write(void *data, const char *buf, size_t len)
{
    sink *s = data;
    if (s->failed || s->fn(s->ctx, buf, len) != 0) {
        s->failed = 1;
        return -1;
    }
    s->bytes += len;
    return 0;
}

static int pack_key(msgpack_packer *pk, const char *key)
{
    return tz_codec_pack_str(pk, key, strlen(key));
}

static int write_head(exporter *x, msgpack_packer *pk, uint64_t nrecords)
{
    int bad = msgpack_pack_map(pk, 4) | pack_key(pk, "bundle") | pack_key(pk, TZ_BUNDLE_FORMAT);
    bad |= pack_key(pk, "checkpoint") | tz_codec_pack_str(pk, x->note, x->note_len);
    bad |= pack_key(pk, "proof") | msgpack_pack_array(pk, x->nproof);
    for (size_t i = 0; !bad && i < x->nproof; i++)
        bad |= tz_codec_pack_bin(pk, x->proof[i], 32);
    bad |= pack_key(pk, "records") | msgpack_pack_array(pk, (size_t)nrecords);
    return bad;
}

static int write_records(exporter *x, msgpack_packer *pk, sink *out, tz_err *err)
{
    int rc = TZ_OK;
    for (size_t r = 0; rc == TZ_OK && r < x->all.n; r++) {
        uint8_t key[8];
        tz_store_key_u64(key, x->all.v[r].start);
        tz_store_iter *it = tz_store_iter_new(x->snap, TZ_CF_ENTRIES, key, 8);
        if (it == NULL)
            return tz_err_set(err, TZ_ERR_NOMEM, "export: out of memory");
        uint64_t seq = x->all.v[r].start;
        for (; rc == TZ_OK && seq < x->all.v[r].end && tz_store_iter_valid(it);
             seq++, tz_store_iter_next(it)) {
            size_t klen, vlen;
            const uint8_t *k = tz_store_iter_key(it, &klen);
            const uint8_t *val = tz_store_iter_value(it, &vlen);
            if (klen != 8 || tz_store_u64_from_key(k) != seq)
                rc = tz_err_set(err, TZ_ERR_TAMPER, "entry %" PRIu64 " is missing from the "
                                "store; run `taizhang verify`", seq);
            else if (msgpack_pack_array(pk, 2) | msgpack_pack_uint64(pk, seq) |
                     tz_codec_pack_bin(pk, val, vlen))
                rc = tz_err_set(err, out->failed ? TZ_ERR_IO : TZ_ERR_NOMEM, "export: cannot "
                                "write entry %" PRIu64, seq);
        }
        tz_err scan;
        if (tz_store_iter_status(it, &scan) != TZ_OK && rc == TZ_OK) {
            if (err != NULL)
                *err = scan;
            rc = scan.code;
        }
        if (rc == TZ_OK && seq < x->all.v[r].end)
            rc = tz_err_set(err, TZ_ERR_TAMPER, "entry %" PRIu64 " is missing from the store; "
                            "run `taizhang verify`", seq);
        tz_store_iter_free(it);
    }
    return rc;
}

static uint64_t runs_count(const run_list *l)
{
    uint64_t n = 0;
    for (size_t i = 0; i < l->n; i++)
        n += l->v[i].end - l->v[i].start;
    return n;
}

static int export_run(exporter *x, tz_ledger *ledger, const tz_bundle_selection *sel,
                      tz_bundle_write_fn write, void *ctx, tz_bundle_export_stats *stats,
                      tz_err *err)
{
    int rc = pick_checkpoint(x, sel, tz_ledger_origin(ledger), err);
    if (rc != TZ_OK)
        return rc;
    uint64_t to = sel->to > x->cp.size ? x->cp.size : sel->to;
    if (sel->from >= to)
        return tz_err_set(err, TZ_ERR_USAGE, "--from %" PRIu64 " must be below --to %" PRIu64
                          " (the checkpoint's tree size is %" PRIu64 ")", sel->from, to,
                          x->cp.size);
    if ((rc = select_base(x, sel, sel->from, to, err)) != TZ_OK)
        return rc;
    x->last_seq = x->base.v[x->base.n - 1].end - 1;
    if ((rc = examine_base(x, err)) != TZ_OK || (rc = close_support(x, err)) != TZ_OK ||
        (rc = merge_runs(x, err)) != TZ_OK || (rc = build_proof(x, 0, x->cp.size, err)) != TZ_OK)
        return rc;
    uint64_t nrecords = runs_count(&x->all);
    if (nrecords > TZ_BUNDLE_MAX_RECORDS)
        return tz_err_set(err, TZ_ERR_USAGE, "export: %" PRIu64 " records, more than a bundle "
                          "holds (%u); export a narrower range", nrecords, TZ_BUNDLE_MAX_RECORDS);
    sink out = {write, ctx, 0, 0};
    msgpack_packer pk;
    msgpack_packer_init(&pk, &out, sink_write);
    if (write_head(x, &pk, nrecords) != 0)
        return tz_err_set(err, out.failed ? TZ_ERR_IO : TZ_ERR_NOMEM, "export: cannot write "
                          "the bundle's head");
    if ((rc = write_records(x, &pk, &out, err)) != TZ_OK)
        return rc;
    if (stats != NULL) {
        stats->tree_size = x->cp.size;
        stats->records = nrecords;
        stats->requested = runs_count(&x->base);
        stats->proof_hashes = x->nproof;
        stats->bytes = out.bytes;
    }
    return TZ_OK;
}

int tz_bundle_export(tz_ledger *ledger, const tz_bundle_selection *sel, tz_bundle_write_fn write,
                     void *ctx, tz_bundle_export_stats *stats, tz_err *err)
{
    if (ledger == NULL || sel == NULL || write == NULL ||
        (sel->checkpoint == NULL && sel->checkpoint_len > 0))
        return tz_err_set(err, TZ_ERR_USAGE, "tz_bundle_export: NULL argument");
    int rc;
    if ((rc = check_subject_id("--person", sel->person, err)) != TZ_OK ||
        (rc = check_subject_id("--village", sel->village, err)) != TZ_OK)
        return rc;
    if (sodium_init() < 0)
        return tz_err_set(err, TZ_ERR_INTERNAL, "libsodium could not be initialised");
    exporter *x = calloc(1, sizeof *x);
    if (x == NULL)
        return tz_err_set(err, TZ_ERR_NOMEM, "export: out of memory");
    x->log_key = tz_ledger_log_key(ledger);
    randombytes_buf(x->seen.sip, sizeof x->seen.sip);
    rc = tz_store_snapshot(tz_ledger_store(ledger), &x->snap, err);
    if (rc == TZ_OK && (x->batch = tz_store_batch_new(x->snap)) == NULL)
        rc = tz_err_set(err, TZ_ERR_NOMEM, "export: out of memory");
    if (rc == TZ_OK)
        rc = export_run(x, ledger, sel, write, ctx, stats, err);
    tz_store_batch_free(x->batch);
    tz_store_close(x->snap);
    free(x->note);
    free(x->base.v);
    free(x->all.v);
    free(x->support);
    free(x->work);
    free(x->seen.slots);
    free(x->proof);
    free(x);
    return rc;
}
