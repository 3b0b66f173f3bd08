/*
 * check_merkle.c: tests for ledger/merkle.c.
 *
 *  - Published vectors (tests/vectors/rfc6962_vectors.txt): node hashes,
 *    roots for sizes 0..8, inclusion and consistency proofs byte for byte,
 *    the corruptions transparency-dev's verifier tests reject, and the exact
 *    set of stored nodes a proof is built from.
 *  - A naive model, written from the RFC 9162 text (recursive MTH, PATH and
 *    SUBPROOF over an array of leaf hashes, its own hashing): every root,
 *    inclusion proof and consistency proof for sizes 1..300, and samples up
 *    to 4097, must be equal to the module's and verify.
 *  - Read counts, on a real store of 2^20 + 1000 leaves and on a synthetic
 *    store of up to 2^64 - 1 leaves: root = popcount(n), inclusion
 *    <= 2*ceil(log2 n) - 2, consistency <= 2*ceil(log2 n) - 1, and the
 *    bounds are reached (n = 2^20 - 1), so they are tight.
 *  - Failure paths: read and emit errors pass through unchanged and leave
 *    outputs and the frontier unchanged.
 */
#include "ledger/merkle.h"
#include "tests/tz_test.h"

#include <check.h>
#include <inttypes.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ck_assert records every passing check through the fork pipe; the sweeps
 * below make millions of checks, so they only call into Check on failure. */
#define REQUIRE(cond, ...)                   \
    do {                                     \
        if (!(cond))                         \
            ck_abort_msg(__VA_ARGS__);       \
    } while (0)

static const char *hex32(const uint8_t h[32], char buf[65])
{
    for (int i = 0; i < 32; i++)
        snprintf(buf + 2 * i, 3, "%02x", h[i]);
    return buf;
}

static bool hash_eq(const uint8_t a[32], const uint8_t b[32])
{
    return memcmp(a, b, 32) == 0; /* test code: timing does not matter */
}

static bool proof_eq(const tz_merkle_proof *a, const tz_merkle_proof *b)
{
    return a->count == b->count && memcmp(a->hashes, b->hashes, a->count * 32) == 0;
}

static unsigned ceil_log2(uint64_t n)
{
    return n <= 1 ? 0 : 64u - (unsigned)__builtin_clzll(n - 1);
}

/* The read bounds this suite proves (see merkle.c): an inclusion proof
 * holds at most one partial sibling, of 2^j - 1 leaves at most, above a
 * complete subtree of 2^j leaves (j more siblings): (L - 1 - j) + j + j. */
static uint64_t inclusion_read_bound(uint64_t n)
{
    unsigned L = ceil_log2(n);
    return L <= 1 ? L : 2 * (uint64_t)L - 2;
}

/* Same, plus the old tree's own subtree when it is not the old root. */
static uint64_t consistency_read_bound(uint64_t n)
{
    unsigned L = ceil_log2(n);
    return L == 0 ? 0 : 2 * (uint64_t)L - 1;
}

/* ---------------------------------------------------------------------------
 * An in-memory node store: level l is an array of capacity >> l hashes,
 * filled in order by tz_merkle_frontier_append's emit. limit is the tree
 * size being asked about: a read of a node that is not complete within it
 * is a bug of the module and is counted in bad_reads.
 */
typedef struct node_id {
    unsigned level;
    uint64_t index;
} node_id;

typedef struct node_store {
    uint64_t capacity;
    uint8_t (*level[64])[32];
    uint64_t stored[64];
    uint64_t limit;
    uint64_t reads;
    uint64_t bad_reads;
    uint64_t fail_read_at; /* fail the n-th read (1-based); 0: never */
    int fail_read_code;
    int read_return; /* when not TZ_OK: returned by every read (contract tests) */
    unsigned log_len;
    node_id log[256];
    uint64_t emits;
    uint64_t fail_emit_at;
    int fail_emit_code;
    uint64_t bad_emits;
} node_store;

static node_store *store_new(uint64_t capacity)
{
    node_store *s = calloc(1, sizeof *s);
    ck_assert_ptr_nonnull(s);
    s->capacity = capacity;
    for (unsigned l = 0; l < 64 && (capacity >> l) > 0; l++) {
        s->level[l] = malloc((capacity >> l) * 32);
        ck_assert_ptr_nonnull(s->level[l]);
    }
    return s;
}

static void store_free(node_store *s)
{
    if (s == NULL)
        return;
    for (unsigned l = 0; l < 64; l++)
        free(s->level[l]);
    free(s);
}

static void store_reset_counts(node_store *s, uint64_t limit)
{
    s->limit = limit;
    s->reads = 0;
    s->log_len = 0;
}

static int store_read(void *ctx, unsigned level, uint64_t index, uint8_t out[32], tz_err *err)
{
    node_store *s = ctx;
    s->reads++;
    if (s->read_return != TZ_OK)
        return s->read_return;
    if (s->fail_read_at != 0 && s->reads == s->fail_read_at)
        return tz_err_set(err, s->fail_read_code, "injected read failure at read %" PRIu64,
                          s->reads);
    if (s->log_len < 256)
        s->log[s->log_len++] = (node_id){ level, index };
    if (level >= 64 || index >= (s->limit >> level)) {
        s->bad_reads++;
        return tz_err_set(err, TZ_ERR_NOTFOUND, "node outside the tree");
    }
    if (index >= s->stored[level])
        return tz_err_set(err, TZ_ERR_NOTFOUND, "node not stored");
    memcpy(out, s->level[level][index], 32);
    return TZ_OK;
}

static int store_emit(void *ctx, unsigned level, uint64_t index, const uint8_t hash[32],
                      tz_err *err)
{
    node_store *s = ctx;
    s->emits++;
    if (s->fail_emit_at != 0 && s->emits == s->fail_emit_at)
        return tz_err_set(err, s->fail_emit_code, "injected emit failure at emit %" PRIu64,
                          s->emits);
    if (level >= 64 || s->level[level] == NULL || index != s->stored[level] ||
        index >= (s->capacity >> level)) {
        s->bad_emits++;
        return tz_err_set(err, TZ_ERR_INTERNAL, "emit out of order: (%u, %" PRIu64 ")", level,
                          index);
    }
    memcpy(s->level[level][index], hash, 32);
    s->stored[level]++;
    return TZ_OK;
}

/* ---------------------------------------------------------------------------
 * A synthetic store for trees too big for memory: every leaf hash is the
 * same, so every complete node of level l has the same hash H(l). The tree
 * is a real, consistent RFC 6962 tree, so proofs verify; it only cannot
 * tell leaves apart (the real store above does that).
 */
typedef struct uniform_store {
    uint8_t level_hash[64][32];
    uint64_t limit;
    uint64_t reads;
    uint64_t bad_reads;
} uniform_store;

static void uniform_init(uniform_store *u)
{
    memset(u, 0, sizeof *u);
    tz_merkle_leaf_hash(u->level_hash[0], (const uint8_t *)"uniform", 7);
    for (unsigned l = 1; l < 64; l++)
        tz_merkle_node_hash(u->level_hash[l], u->level_hash[l - 1], u->level_hash[l - 1]);
}

static int uniform_read(void *ctx, unsigned level, uint64_t index, uint8_t out[32], tz_err *err)
{
    uniform_store *u = ctx;
    u->reads++;
    if (level >= 64 || index >= (u->limit >> level)) {
        u->bad_reads++;
        return tz_err_set(err, TZ_ERR_NOTFOUND, "node outside the tree");
    }
    memcpy(out, u->level_hash[level], 32);
    return TZ_OK;
}

/* ---------------------------------------------------------------------------
 * The naive model: RFC 9162 §2.1.1, §2.1.3.1 and §2.1.4.1 as written,
 * recursive, over model_leaf[], with its own hashing. MTH of small ranges is
 * memoised so that all proofs of all sizes up to 300 stay cheap.
 */
#define MODEL_LEAVES 4200
#define MODEL_MEMO 320

static uint8_t model_leaf[MODEL_LEAVES][32];
static uint8_t model_memo[MODEL_MEMO + 1][MODEL_MEMO + 1][32];
static bool model_memo_set[MODEL_MEMO + 1][MODEL_MEMO + 1];
static bool model_ready;

static void model_hash_leaf(uint8_t out[32], const uint8_t *data, size_t len)
{
    uint8_t buf[1 + 64];
    ck_assert_uint_le(len, 64);
    buf[0] = 0x00;
    memcpy(buf + 1, data, len);
    crypto_hash_sha256(out, buf, 1 + len);
}

static void model_hash_children(uint8_t out[32], const uint8_t left[32], const uint8_t right[32])
{
    uint8_t buf[65];
    buf[0] = 0x01;
    memcpy(buf + 1, left, 32);
    memcpy(buf + 33, right, 32);
    crypto_hash_sha256(out, buf, sizeof buf);
}

static void model_init(void)
{
    if (model_ready)
        return;
    for (unsigned i = 0; i < MODEL_LEAVES; i++) {
        char data[32];
        int len = snprintf(data, sizeof data, "taizhang leaf %u", i * 7919u);
        model_hash_leaf(model_leaf[i], (const uint8_t *)data, (size_t)len);
    }
    model_ready = true;
}

/* The largest power of two smaller than n (n > 1), the RFC's k. */
static uint64_t model_k(uint64_t n)
{
    uint64_t k = 1;
    while (k * 2 < n)
        k *= 2;
    return k;
}

/* MTH(leaves[lo : lo + n]); memoised for model_leaf only. */
static void model_mth_of(const uint8_t (*leaves)[32], uint64_t lo, uint64_t n, uint8_t out[32])
{
    if (n == 0) {
        crypto_hash_sha256(out, NULL, 0);
        return;
    }
    if (n == 1) {
        memcpy(out, leaves[lo], 32);
        return;
    }
    bool memo = leaves == (const uint8_t(*)[32])model_leaf && lo + n <= MODEL_MEMO;
    if (memo && model_memo_set[lo][n]) {
        memcpy(out, model_memo[lo][n], 32);
        return;
    }
    uint64_t k = model_k(n);
    uint8_t left[32], right[32];
    model_mth_of(leaves, lo, k, left);
    model_mth_of(leaves, lo + k, n - k, right);
    model_hash_children(out, left, right);
    if (memo) {
        memcpy(model_memo[lo][n], out, 32);
        model_memo_set[lo][n] = true;
    }
}

/* MTH(D[lo : lo + n]) over model_leaf. */
static void model_mth(uint64_t lo, uint64_t n, uint8_t out[32])
{
    model_mth_of((const uint8_t(*)[32])model_leaf, lo, n, out);
}

static void model_push(tz_merkle_proof *p, const uint8_t h[32])
{
    ck_assert_uint_lt(p->count, TZ_MERKLE_MAX_PROOF);
    memcpy(p->hashes[p->count++], h, 32);
}

/* PATH(m, D[lo : lo + n]), appended to p. */
static void model_path(uint64_t m, uint64_t lo, uint64_t n, tz_merkle_proof *p)
{
    if (n <= 1)
        return;
    uint64_t k = model_k(n);
    uint8_t h[32];
    if (m < k) {
        model_path(m, lo, k, p);
        model_mth(lo + k, n - k, h);
    } else {
        model_path(m - k, lo + k, n - k, p);
        model_mth(lo, k, h);
    }
    model_push(p, h);
}

/* The shape of PATH(m, D[n]): dirs[i] is true when the i-th hash of the
 * path is a left sibling; *len gets the path length. No hashing. */
static void model_shape(uint64_t m, uint64_t n, bool *dirs, size_t *len)
{
    if (n <= 1)
        return;
    uint64_t k = model_k(n);
    if (m < k)
        model_shape(m, k, dirs, len);
    else
        model_shape(m - k, n - k, dirs, len);
    dirs[(*len)++] = m >= k;
}

/* SUBPROOF(m, D[lo : lo + n], b), appended to p. */
static void model_subproof(uint64_t m, uint64_t lo, uint64_t n, bool b, tz_merkle_proof *p)
{
    uint8_t h[32];
    if (m == n) {
        if (!b) {
            model_mth(lo, n, h);
            model_push(p, h);
        }
        return;
    }
    uint64_t k = model_k(n);
    if (m <= k) {
        model_subproof(m, lo, k, b, p);
        model_mth(lo + k, n - k, h);
    } else {
        model_subproof(m - k, lo + k, n - k, false, p);
        model_mth(lo, k, h);
    }
    model_push(p, h);
}

/* Does (index2, size2) hash a path the same way as (index, size)? Then the
 * RFC verifier cannot tell them apart and must accept the same proof. */
static bool model_same_shape(uint64_t index, uint64_t size, uint64_t index2, uint64_t size2)
{
    if (index2 >= size2)
        return false;
    bool da[TZ_MERKLE_MAX_PROOF], db[TZ_MERKLE_MAX_PROOF];
    size_t la = 0, lb = 0;
    model_shape(index, size, da, &la);
    model_shape(index2, size2, db, &lb);
    return la == lb && memcmp(da, db, la * sizeof da[0]) == 0;
}

/* A store with room for capacity leaves holding model_leaf[0..n), built by
 * the module's own frontier. */
static node_store *model_store_sized(uint64_t capacity, uint64_t n, tz_merkle_frontier *f)
{
    model_init();
    node_store *s = store_new(capacity);
    tz_merkle_frontier_init(f);
    tz_err err;
    for (uint64_t i = 0; i < n; i++)
        ck_assert_int_eq(tz_merkle_frontier_append(f, model_leaf[i], store_emit, s, &err), TZ_OK);
    return s;
}

static node_store *model_store(uint64_t n, tz_merkle_frontier *f)
{
    return model_store_sized(n, n, f);
}

/* ---------------------------------------------------------------------------
 * The vector file.
 */
typedef struct vec_record {
    char kind[24];
    uint64_t a, b;
    size_t nhash;
    uint8_t hashes[8][32];
    size_t nnodes;
    node_id nodes[16];
    uint8_t leaf[64];
    size_t leaf_len;
} vec_record;

typedef struct vec_file {
    size_t count;
    vec_record rec[128];
} vec_file;

static vec_file *vectors_load(void)
{
    const char *path = TZ_SOURCE_DIR "/tests/vectors/rfc6962_vectors.txt";
    char *text = tz_test_read_file(path, NULL);
    vec_file *v = calloc(1, sizeof *v);
    ck_assert_ptr_nonnull(v);
    char *save_line = NULL;
    unsigned line_no = 0;
    for (char *line = strtok_r(text, "\n", &save_line); line != NULL;
         line = strtok_r(NULL, "\n", &save_line)) {
        line_no++;
        if (line[0] == '#' || line[0] == '\0')
            continue;
        ck_assert_uint_lt(v->count, 128);
        vec_record *r = &v->rec[v->count++];
        char *save_field = NULL;
        char *kind = strtok_r(line, " ", &save_field);
        ck_assert_ptr_nonnull(kind);
        ck_assert_uint_lt(strlen(kind), sizeof r->kind);
        strcpy(r->kind, kind);
        char *a = strtok_r(NULL, " ", &save_field);
        char *b = strtok_r(NULL, " ", &save_field);
        ck_assert_msg(a != NULL && b != NULL, "%s: record %s needs two fields", path, kind);
        r->a = strtoull(a, NULL, 10);
        if (strcmp(kind, "leaf") == 0) {
            if (strcmp(b, "-") != 0)
                r->leaf_len = tz_test_unhex(r->leaf, sizeof r->leaf, b);
            continue;
        }
        if (strcmp(kind, "root") == 0) {
            ck_assert_uint_eq(tz_test_unhex(r->hashes[0], 32, b), 32);
            r->nhash = 1;
            continue;
        }
        r->b = strtoull(b, NULL, 10);
        bool nodes = strstr(kind, "_nodes") != NULL;
        for (char *field = strtok_r(NULL, " ", &save_field); field != NULL;
             field = strtok_r(NULL, " ", &save_field)) {
            if (nodes) {
                ck_assert_uint_lt(r->nnodes, 16);
                node_id *id = &r->nodes[r->nnodes++];
                ck_assert_msg(sscanf(field, "%u.%" SCNu64, &id->level, &id->index) == 2,
                              "%s line %u: bad node %s", path, line_no, field);
            } else {
                ck_assert_uint_lt(r->nhash, 8);
                ck_assert_uint_eq(tz_test_unhex(r->hashes[r->nhash++], 32, field), 32);
            }
        }
    }
    free(text);
    return v;
}

static size_t vectors_count(const vec_file *v, const char *kind)
{
    size_t n = 0;
    for (size_t i = 0; i < v->count; i++)
        n += strcmp(v->rec[i].kind, kind) == 0;
    return n;
}

static const uint8_t *vectors_root(const vec_file *v, uint64_t size)
{
    for (size_t i = 0; i < v->count; i++)
        if (strcmp(v->rec[i].kind, "root") == 0 && v->rec[i].a == size)
            return v->rec[i].hashes[0];
    ck_abort_msg("no root for size %" PRIu64 " in the vectors", size);
    return NULL;
}

static void vectors_leaf_hash(const vec_file *v, uint64_t index, uint8_t out[32])
{
    for (size_t i = 0; i < v->count; i++)
        if (strcmp(v->rec[i].kind, "leaf") == 0 && v->rec[i].a == index) {
            tz_merkle_leaf_hash(out, v->rec[i].leaf, v->rec[i].leaf_len);
            return;
        }
    ck_abort_msg("no leaf %" PRIu64 " in the vectors", index);
}

/* A store holding the 8 vector leaves, appended through the frontier. */
static node_store *vectors_store(const vec_file *v)
{
    node_store *s = store_new(8);
    tz_merkle_frontier f;
    tz_merkle_frontier_init(&f);
    for (uint64_t i = 0; i < 8; i++) {
        uint8_t leaf[32];
        vectors_leaf_hash(v, i, leaf);
        ck_assert_int_eq(tz_merkle_frontier_append(&f, leaf, store_emit, s, NULL), TZ_OK);
    }
    return s;
}

static void proof_from_record(tz_merkle_proof *p, const vec_record *r)
{
    memset(p, 0, sizeof *p);
    p->count = r->nhash;
    memcpy(p->hashes, r->hashes, r->nhash * 32);
}

/* p with h inserted at position at. */
static tz_merkle_proof proof_insert(const tz_merkle_proof *p, size_t at, const uint8_t h[32])
{
    tz_merkle_proof q;
    q.count = 0;
    for (size_t i = 0; i <= p->count; i++) {
        if (i == at)
            memcpy(q.hashes[q.count++], h, 32);
        if (i < p->count)
            memcpy(q.hashes[q.count++], p->hashes[i], 32);
    }
    return q;
}

/* sha256SomeHash of transparency-dev's verify_test.go */
static const uint8_t some_hash[32] = {
    0xab, 0xac, 0xab, 0xa0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x60, 0x06, 0x1e, 0x00, 0x12, 0x34, 0x56};
static const uint8_t zero_hash[32];

/* Every corruption that transparency-dev's corruptInclusionProof tries, plus
 * single-bit flips (all 256 per hash with every_bit, else three), must be
 * rejected with TZ_ERR_PROOF. with_sizes adds size * 2 and size / 2, which
 * that suite claims only for its published vectors (the model sweep checks
 * other sizes against the model's path shapes instead). */
static void expect_inclusion_corruptions_fail(const uint8_t leaf[32], uint64_t index, uint64_t size,
                                              const tz_merkle_proof *proof, const uint8_t root[32],
                                              bool with_sizes, bool every_bit)
{
    uint8_t empty_root[32], wrong_leaf[32];
    tz_merkle_empty_root(empty_root);
    tz_merkle_leaf_hash(wrong_leaf, (const uint8_t *)"WrongLeaf", 9);
    tz_err err;
    struct {
        uint64_t index, size;
        const uint8_t *leaf, *root;
        const char *what;
    } probes[] = {
        { index - 1, size, leaf, root, "index - 1" },
        { index + 1, size, leaf, root, "index + 1" },
        { index ^ 2, size, leaf, root, "index ^ 2" },
        { index, size, wrong_leaf, root, "wrong leaf" },
        { index, size, leaf, empty_root, "empty root" },
        { index, size, leaf, some_hash, "random root" },
        { index, size * 2, leaf, root, "size * 2" },
        { index, size / 2, leaf, root, "size / 2" },
    };
    size_t nprobes = sizeof probes / sizeof probes[0] - (with_sizes ? 0 : 2);
    for (size_t i = 0; i < nprobes; i++) {
        int rc = tz_merkle_verify_inclusion(probes[i].leaf, probes[i].index, probes[i].size, proof,
                                            probes[i].root, &err);
        REQUIRE(rc == TZ_ERR_PROOF, "inclusion %" PRIu64 "/%" PRIu64 ": %s verified (rc %d)",
                index, size, probes[i].what, rc);
    }
    const uint8_t *extra[] = { zero_hash, root, some_hash };
    for (size_t e = 0; e < 3; e++) {
        for (size_t at = 0; at <= proof->count; at++) {
            tz_merkle_proof q = proof_insert(proof, at, extra[e]);
            REQUIRE(tz_merkle_verify_inclusion(leaf, index, size, &q, root, &err) == TZ_ERR_PROOF,
                    "inclusion %" PRIu64 "/%" PRIu64 ": extra hash %zu at %zu verified", index,
                    size, e, at);
        }
    }
    if (proof->count > 0) {
        tz_merkle_proof q = *proof;
        q.count--;
        REQUIRE(tz_merkle_verify_inclusion(leaf, index, size, &q, root, &err) == TZ_ERR_PROOF,
                "inclusion %" PRIu64 "/%" PRIu64 ": truncated proof verified", index, size);
        q = *proof;
        memmove(q.hashes[0], q.hashes[1], (q.count - 1) * 32);
        q.count--;
        REQUIRE(tz_merkle_verify_inclusion(leaf, index, size, &q, root, &err) == TZ_ERR_PROOF,
                "inclusion %" PRIu64 "/%" PRIu64 ": proof without its first hash verified", index,
                size);
    }
    for (size_t i = 0; i < proof->count; i++) {
        for (unsigned bit = 0; bit < 256; bit += every_bit ? 1 : 97) {
            tz_merkle_proof q = *proof;
            q.hashes[i][bit / 8] ^= (uint8_t)(1u << (bit % 8));
            REQUIRE(tz_merkle_verify_inclusion(leaf, index, size, &q, root, &err) == TZ_ERR_PROOF,
                    "inclusion %" PRIu64 "/%" PRIu64 ": proof[%zu] bit %u flipped verified", index,
                    size, i, bit);
        }
    }
    for (unsigned bit = 0; bit < 256; bit += every_bit ? 1 : 97) {
        uint8_t bad[32];
        memcpy(bad, root, 32);
        bad[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        REQUIRE(tz_merkle_verify_inclusion(leaf, index, size, proof, bad, &err) == TZ_ERR_PROOF,
                "inclusion %" PRIu64 "/%" PRIu64 ": root bit %u flipped verified", index, size,
                bit);
        memcpy(bad, leaf, 32);
        bad[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        REQUIRE(tz_merkle_verify_inclusion(bad, index, size, proof, root, &err) == TZ_ERR_PROOF,
                "inclusion %" PRIu64 "/%" PRIu64 ": leaf bit %u flipped verified", index, size,
                bit);
    }
}

/* The corruptions of transparency-dev's corruptConsistencyProof and every
 * single-bit flip; with_sizes adds the changed sizes, which that suite only
 * claims for its published vectors. */
static void expect_consistency_corruptions_fail(uint64_t size1, uint64_t size2,
                                                const tz_merkle_proof *proof,
                                                const uint8_t root1[32], const uint8_t root2[32],
                                                bool with_sizes, bool every_bit)
{
    tz_err err;
    uint8_t wrong_root[32];
    tz_merkle_leaf_hash(wrong_root, (const uint8_t *)"WrongRoot", 9);
    struct {
        uint64_t size1, size2;
        const uint8_t *root1, *root2;
        const char *what;
    } probes[] = {
        { size1, size2, wrong_root, root2, "wrong root1" },
        { size1, size2, root1, wrong_root, "wrong root2" },
        { size1, size2, root2, root1, "swapped roots" },
        { 0, size2, root1, root2, "size1 = 0" },
        { size2, size1, root1, root2, "swapped sizes" },
        { size1 - 1, size2, root1, root2, "size1 - 1" },
        { size1 + 1, size2, root1, root2, "size1 + 1" },
        { size1 ^ 2, size2, root1, root2, "size1 ^ 2" },
        { size1, size2 * 2, root1, root2, "size2 * 2" },
        { size1, size2 / 2, root1, root2, "size2 / 2" },
    };
    size_t nprobes = with_sizes ? sizeof probes / sizeof probes[0] : 5;
    for (size_t i = 0; i < nprobes; i++) {
        int rc = tz_merkle_verify_consistency(probes[i].size1, probes[i].size2, proof,
                                              probes[i].root1, probes[i].root2, &err);
        REQUIRE(rc == TZ_ERR_PROOF, "consistency %" PRIu64 "->%" PRIu64 ": %s verified (rc %d)",
                size1, size2, probes[i].what, rc);
    }
    tz_merkle_proof q = *proof;
    q.count = 0;
    REQUIRE(tz_merkle_verify_consistency(size1, size2, &q, root1, root2, &err) == TZ_ERR_PROOF,
            "consistency %" PRIu64 "->%" PRIu64 ": empty proof verified", size1, size2);
    const uint8_t *extra[] = { zero_hash, root1, root2, proof->hashes[0] };
    for (size_t e = 0; e < 4; e++) {
        for (size_t at = 0; at <= proof->count; at++) {
            q = proof_insert(proof, at, extra[e]);
            REQUIRE(tz_merkle_verify_consistency(size1, size2, &q, root1, root2, &err) ==
                        TZ_ERR_PROOF,
                    "consistency %" PRIu64 "->%" PRIu64 ": extra hash %zu at %zu verified", size1,
                    size2, e, at);
        }
    }
    q = *proof;
    q.count--;
    REQUIRE(tz_merkle_verify_consistency(size1, size2, &q, root1, root2, &err) == TZ_ERR_PROOF,
            "consistency %" PRIu64 "->%" PRIu64 ": truncated proof verified", size1, size2);
    for (size_t i = 0; i < proof->count; i++) {
        for (unsigned bit = 0; bit < 256; bit += every_bit ? 1 : 97) {
            q = *proof;
            q.hashes[i][bit / 8] ^= (uint8_t)(1u << (bit % 8));
            REQUIRE(tz_merkle_verify_consistency(size1, size2, &q, root1, root2, &err) ==
                        TZ_ERR_PROOF,
                    "consistency %" PRIu64 "->%" PRIu64 ": proof[%zu] bit %u flipped verified",
                    size1, size2, i, bit);
        }
    }
}

/* ---------------------------------------------------------------------------
 * Published vectors.
 */
START_TEST(test_vectors_file)
{
    vec_file *v = vectors_load();
    ck_assert_uint_eq(vectors_count(v, "leaf"), 8);
    ck_assert_uint_eq(vectors_count(v, "node"), 15);
    ck_assert_uint_eq(vectors_count(v, "root"), 9);
    ck_assert_uint_eq(vectors_count(v, "inclusion"), 5);
    ck_assert_uint_eq(vectors_count(v, "consistency"), 5);
    ck_assert_uint_eq(vectors_count(v, "inclusion_nodes"), 18);
    ck_assert_uint_eq(vectors_count(v, "consistency_nodes"), 25);
    free(v);
}
END_TEST

START_TEST(test_vectors_hashes)
{
    vec_file *v = vectors_load();
    uint8_t h[32], l[32], r[32];
    char a[65], b[65];
    tz_merkle_empty_root(h);
    ck_assert_msg(hash_eq(h, vectors_root(v, 0)), "empty root %s", hex32(h, a));
    for (size_t i = 0; i < v->count; i++) {
        const vec_record *rec = &v->rec[i];
        if (strcmp(rec->kind, "node") != 0)
            continue;
        unsigned level = (unsigned)rec->a;
        uint64_t index = rec->b;
        if (level == 0) {
            vectors_leaf_hash(v, index, h);
        } else {
            /* children are level - 1, 2i and 2i + 1: find them in the file */
            bool have_l = false, have_r = false;
            for (size_t j = 0; j < v->count; j++) {
                const vec_record *c = &v->rec[j];
                if (strcmp(c->kind, "node") != 0 || c->a != level - 1)
                    continue;
                if (c->b == 2 * index) {
                    memcpy(l, c->hashes[0], 32);
                    have_l = true;
                }
                if (c->b == 2 * index + 1) {
                    memcpy(r, c->hashes[0], 32);
                    have_r = true;
                }
            }
            ck_assert(have_l && have_r);
            tz_merkle_node_hash(h, l, r);
        }
        ck_assert_msg(hash_eq(h, rec->hashes[0]), "node (%u, %" PRIu64 "): got %s want %s", level,
                      index, hex32(h, a), hex32(rec->hashes[0], b));
    }
    /* leaf 0 is the empty input; NULL is accepted for it */
    uint8_t with_null[32];
    tz_merkle_leaf_hash(with_null, NULL, 0);
    vectors_leaf_hash(v, 0, h);
    ck_assert(hash_eq(with_null, h));
    /* out may alias an input */
    vectors_leaf_hash(v, 0, l);
    vectors_leaf_hash(v, 1, r);
    tz_merkle_node_hash(l, l, r);
    ck_assert(hash_eq(l, vectors_root(v, 2)));
    free(v);
}
END_TEST

START_TEST(test_vectors_roots)
{
    vec_file *v = vectors_load();
    node_store *s = store_new(8);
    tz_merkle_frontier f;
    tz_merkle_frontier_init(&f);
    uint8_t root[32];
    char a[65], b[65];
    tz_err err;
    tz_merkle_frontier_root(&f, root);
    ck_assert(hash_eq(root, vectors_root(v, 0)));
    store_reset_counts(s, 0);
    ck_assert_int_eq(tz_merkle_root(root, 0, store_read, s, &err), TZ_OK);
    ck_assert(hash_eq(root, vectors_root(v, 0)));
    ck_assert_uint_eq(s->reads, 0);
    for (uint64_t size = 1; size <= 8; size++) {
        uint8_t leaf[32];
        vectors_leaf_hash(v, size - 1, leaf);
        ck_assert_int_eq(tz_merkle_frontier_append(&f, leaf, store_emit, s, &err), TZ_OK);
        tz_merkle_frontier_root(&f, root);
        ck_assert_msg(hash_eq(root, vectors_root(v, size)), "frontier root %" PRIu64 ": %s want %s",
                      size, hex32(root, a), hex32(vectors_root(v, size), b));
        store_reset_counts(s, size);
        ck_assert_int_eq(tz_merkle_root(root, size, store_read, s, &err), TZ_OK);
        ck_assert_msg(hash_eq(root, vectors_root(v, size)), "root %" PRIu64 ": %s", size,
                      hex32(root, a));
        ck_assert_uint_eq(s->reads, (uint64_t)__builtin_popcountll(size));
    }
    ck_assert_uint_eq(s->bad_emits, 0);
    ck_assert_uint_eq(s->bad_reads, 0);
    /* every emitted node is the published node hash */
    for (size_t i = 0; i < v->count; i++) {
        const vec_record *rec = &v->rec[i];
        if (strcmp(rec->kind, "node") != 0)
            continue;
        ck_assert_uint_lt(rec->b, s->stored[rec->a]);
        ck_assert(hash_eq(s->level[rec->a][rec->b], rec->hashes[0]));
    }
    ck_assert_uint_eq(s->emits, 15); /* 8 leaves + 4 + 2 + 1 */
    store_free(s);
    free(v);
}
END_TEST

START_TEST(test_vectors_inclusion)
{
    vec_file *v = vectors_load();
    node_store *s = vectors_store(v);
    tz_err err;
    size_t checked = 0;
    for (size_t i = 0; i < v->count; i++) {
        const vec_record *rec = &v->rec[i];
        if (strcmp(rec->kind, "inclusion") != 0)
            continue;
        uint64_t index = rec->a, size = rec->b;
        tz_merkle_proof want, got;
        proof_from_record(&want, rec);
        store_reset_counts(s, size);
        ck_assert_int_eq(tz_merkle_inclusion_proof(&got, index, size, store_read, s, &err), TZ_OK);
        ck_assert_msg(proof_eq(&got, &want), "inclusion %" PRIu64 "/%" PRIu64 " differs", index,
                      size);
        uint8_t leaf[32];
        vectors_leaf_hash(v, index, leaf);
        int rc = tz_merkle_verify_inclusion(leaf, index, size, &want, vectors_root(v, size), &err);
        ck_assert_msg(rc == TZ_OK, "inclusion %" PRIu64 "/%" PRIu64 ": %s", index, size, err.msg);
        expect_inclusion_corruptions_fail(leaf, index, size, &want, vectors_root(v, size), true,
                                          true);
        checked++;
    }
    ck_assert_uint_eq(checked, 5);
    ck_assert_uint_eq(s->bad_reads, 0);
    store_free(s);
    free(v);
}
END_TEST

START_TEST(test_vectors_consistency)
{
    vec_file *v = vectors_load();
    node_store *s = vectors_store(v);
    tz_err err;
    size_t checked = 0;
    for (size_t i = 0; i < v->count; i++) {
        const vec_record *rec = &v->rec[i];
        if (strcmp(rec->kind, "consistency") != 0)
            continue;
        uint64_t size1 = rec->a, size2 = rec->b;
        tz_merkle_proof want, got;
        proof_from_record(&want, rec);
        store_reset_counts(s, size2);
        ck_assert_int_eq(tz_merkle_consistency_proof(&got, size1, size2, store_read, s, &err),
                         TZ_OK);
        ck_assert_msg(proof_eq(&got, &want), "consistency %" PRIu64 "->%" PRIu64 " differs", size1,
                      size2);
        const uint8_t *root1 = vectors_root(v, size1), *root2 = vectors_root(v, size2);
        int rc = tz_merkle_verify_consistency(size1, size2, &want, root1, root2, &err);
        ck_assert_msg(rc == TZ_OK, "consistency %" PRIu64 "->%" PRIu64 ": %s", size1, size2,
                      err.msg);
        if (want.count > 0)
            expect_consistency_corruptions_fail(size1, size2, &want, root1, root2, true, true);
        checked++;
    }
    ck_assert_uint_eq(checked, 5);
    ck_assert_uint_eq(s->bad_reads, 0);
    store_free(s);
    free(v);
}
END_TEST

static int node_id_cmp(const void *pa, const void *pb)
{
    const node_id *a = pa, *b = pb;
    if (a->level != b->level)
        return a->level < b->level ? -1 : 1;
    return a->index < b->index ? -1 : a->index > b->index;
}

START_TEST(test_vectors_read_sets)
{
    vec_file *v = vectors_load();
    tz_merkle_frontier f;
    node_store *s = model_store(128, &f);
    tz_err err;
    size_t checked = 0;
    for (size_t i = 0; i < v->count; i++) {
        const vec_record *rec = &v->rec[i];
        bool inclusion = strcmp(rec->kind, "inclusion_nodes") == 0;
        if (!inclusion && strcmp(rec->kind, "consistency_nodes") != 0)
            continue;
        tz_merkle_proof p;
        store_reset_counts(s, rec->b);
        int rc = inclusion ? tz_merkle_inclusion_proof(&p, rec->a, rec->b, store_read, s, &err)
                           : tz_merkle_consistency_proof(&p, rec->a, rec->b, store_read, s, &err);
        ck_assert_int_eq(rc, TZ_OK);
        node_id want[16];
        memcpy(want, rec->nodes, rec->nnodes * sizeof want[0]);
        qsort(want, rec->nnodes, sizeof want[0], node_id_cmp);
        qsort(s->log, s->log_len, sizeof s->log[0], node_id_cmp);
        ck_assert_msg(s->log_len == rec->nnodes, "%s %" PRIu64 " %" PRIu64 ": %u reads, want %zu",
                      rec->kind, rec->a, rec->b, s->log_len, rec->nnodes);
        for (size_t j = 0; j < rec->nnodes; j++)
            ck_assert_msg(s->log[j].level == want[j].level && s->log[j].index == want[j].index,
                          "%s %" PRIu64 " %" PRIu64 ": read (%u, %" PRIu64 "), want (%u, %" PRIu64
                          ")",
                          rec->kind, rec->a, rec->b, s->log[j].level, s->log[j].index,
                          want[j].level, want[j].index);
        checked++;
    }
    ck_assert_uint_eq(checked, 43);
    ck_assert_uint_eq(s->bad_reads, 0);
    store_free(s);
    free(v);
}
END_TEST

/* ---------------------------------------------------------------------------
 * Verifier edge cases (the tables of transparency-dev's TestVerifyInclusion,
 * TestVerifyInclusionSingleEntry and TestVerifyConsistency, with this API's
 * rule that size1 == 0 is rejected).
 */
START_TEST(test_verify_inclusion_edges)
{
    tz_err err;
    uint8_t empty_root[32], leaf[32];
    tz_merkle_empty_root(empty_root);
    tz_merkle_leaf_hash(leaf, (const uint8_t *)"data", 4);
    tz_merkle_proof empty = { 0 };
    /* single entry: the root is the leaf hash and the proof is empty */
    ck_assert_int_eq(tz_merkle_verify_inclusion(leaf, 0, 1, &empty, leaf, &err), TZ_OK);
    ck_assert_int_eq(tz_merkle_verify_inclusion(leaf, 0, 1, &empty, empty_root, &err),
                     TZ_ERR_PROOF);
    ck_assert_int_eq(tz_merkle_verify_inclusion(empty_root, 0, 1, &empty, leaf, &err),
                     TZ_ERR_PROOF);
    uint64_t probes[][2] = { { 0, 0 }, { 0, 1 }, { 1, 0 }, { 2, 1 } };
    for (size_t i = 0; i < 4; i++) {
        uint64_t index = probes[i][0], size = probes[i][1];
        ck_assert_int_eq(
            tz_merkle_verify_inclusion(some_hash, index, size, &empty, empty_root, &err),
            TZ_ERR_PROOF);
        ck_assert_int_eq(
            tz_merkle_verify_inclusion(empty_root, index, size, &empty, some_hash, &err),
            TZ_ERR_PROOF);
    }
    /* messages name the rule */
    ck_assert_int_eq(tz_merkle_verify_inclusion(leaf, 3, 3, &empty, leaf, &err), TZ_ERR_PROOF);
    ck_assert_int_eq(err.code, TZ_ERR_PROOF);
    ck_assert_ptr_nonnull(strstr(err.msg, "not below tree size"));
    ck_assert_int_eq(tz_merkle_verify_inclusion(leaf, 0, 2, &empty, leaf, &err), TZ_ERR_PROOF);
    ck_assert_ptr_nonnull(strstr(err.msg, "too few"));
    tz_merkle_proof one = { .count = 1 };
    ck_assert_int_eq(tz_merkle_verify_inclusion(leaf, 0, 1, &one, leaf, &err), TZ_ERR_PROOF);
    ck_assert_ptr_nonnull(strstr(err.msg, "too many"));
    ck_assert_int_eq(tz_merkle_verify_inclusion(leaf, 0, 2, &one, leaf, &err), TZ_ERR_PROOF);
    ck_assert_ptr_nonnull(strstr(err.msg, "does not match"));
    /* a count the struct cannot hold, and NULL arguments */
    tz_merkle_proof huge = { .count = TZ_MERKLE_MAX_PROOF + 1 };
    ck_assert_int_eq(tz_merkle_verify_inclusion(leaf, 0, 2, &huge, leaf, &err), TZ_ERR_PROOF);
    ck_assert_ptr_nonnull(strstr(err.msg, "at most 128"));
    ck_assert_int_eq(tz_merkle_verify_inclusion(NULL, 0, 1, &empty, leaf, &err), TZ_ERR_USAGE);
    ck_assert_int_eq(tz_merkle_verify_inclusion(leaf, 0, 1, NULL, leaf, &err), TZ_ERR_USAGE);
    ck_assert_int_eq(tz_merkle_verify_inclusion(leaf, 0, 1, &empty, NULL, NULL), TZ_ERR_USAGE);
    /* err may be NULL */
    ck_assert_int_eq(tz_merkle_verify_inclusion(leaf, 0, 1, &empty, leaf, NULL), TZ_OK);
    ck_assert_int_eq(tz_merkle_verify_inclusion(leaf, 1, 1, &empty, leaf, NULL), TZ_ERR_PROOF);
}
END_TEST

START_TEST(test_verify_consistency_edges)
{
    tz_err err;
    uint8_t root1[32], root2[32], empty_root[32];
    tz_merkle_leaf_hash(root1, (const uint8_t *)"don't care 1", 12);
    tz_merkle_leaf_hash(root2, (const uint8_t *)"don't care 2", 12);
    tz_merkle_empty_root(empty_root);
    tz_merkle_proof none = { 0 };
    tz_merkle_proof one = { .count = 1 };
    memcpy(one.hashes[0], empty_root, 32);
    struct {
        uint64_t size1, size2;
        const uint8_t *root1, *root2;
        const tz_merkle_proof *proof;
        int want;
        const char *msg;
    } cases[] = {
        /* equal sizes: an empty proof and equal roots, nothing else */
        { 1, 1, root2, root2, &none, TZ_OK, NULL },
        { 5, 5, root1, root1, &none, TZ_OK, NULL },
        { 1, 1, root1, root2, &none, TZ_ERR_PROOF, "different roots" },
        { 1, 1, empty_root, empty_root, &one, TZ_ERR_PROOF, "empty proof" },
        /* size1 == 0 is outside RFC 9162, even with matching roots */
        { 0, 0, root1, root1, &none, TZ_ERR_PROOF, "size1 is 0" },
        { 0, 0, empty_root, empty_root, &none, TZ_ERR_PROOF, "size1 is 0" },
        { 0, 1, empty_root, root2, &none, TZ_ERR_PROOF, "size1 is 0" },
        { 0, 1, empty_root, empty_root, &one, TZ_ERR_PROOF, "size1 is 0" },
        /* time travel */
        { 1, 0, root1, root2, &none, TZ_ERR_PROOF, "larger than size2" },
        { 2, 1, root1, root2, &none, TZ_ERR_PROOF, "larger than size2" },
        /* empty proof between different sizes (RFC step 1) */
        { 1, 2, root1, root2, &none, TZ_ERR_PROOF, "empty proof" },
        /* step 6a and 7 */
        { 1, 2, root1, root2, &one, TZ_ERR_PROOF, "does not match" },
        { 3, 4, root1, root2, &one, TZ_ERR_PROOF, "too few" },
        { 2, 3, root1, root2, &(tz_merkle_proof){ .count = 3 }, TZ_ERR_PROOF, "too many" },
        { 1, 2, root1, root2, &(tz_merkle_proof){ .count = TZ_MERKLE_MAX_PROOF + 1 }, TZ_ERR_PROOF,
          "at most" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        tz_err_clear(&err);
        int rc = tz_merkle_verify_consistency(cases[i].size1, cases[i].size2, cases[i].proof,
                                              cases[i].root1, cases[i].root2, &err);
        ck_assert_msg(rc == cases[i].want, "case %zu: rc %d want %d (%s)", i, rc, cases[i].want,
                      err.msg);
        if (cases[i].msg != NULL)
            ck_assert_msg(strstr(err.msg, cases[i].msg) != NULL,
                          "case %zu: message \"%s\" lacks \"%s\"", i, err.msg, cases[i].msg);
    }
    ck_assert_int_eq(tz_merkle_verify_consistency(1, 2, NULL, root1, root2, &err), TZ_ERR_USAGE);
    ck_assert_int_eq(tz_merkle_verify_consistency(1, 2, &one, NULL, root2, &err), TZ_ERR_USAGE);
    ck_assert_int_eq(tz_merkle_verify_consistency(1, 2, &one, root1, NULL, NULL), TZ_ERR_USAGE);
}
END_TEST

/* ---------------------------------------------------------------------------
 * Prover errors: bad arguments, and failures of the reader.
 */
static void proof_fill_sentinel(tz_merkle_proof *p)
{
    memset(p, 0xA5, sizeof *p);
}

static bool proof_is_sentinel(const tz_merkle_proof *p)
{
    tz_merkle_proof s;
    proof_fill_sentinel(&s);
    return memcmp(p, &s, sizeof s) == 0;
}

START_TEST(test_prove_usage_errors)
{
    tz_merkle_frontier f;
    node_store *s = model_store(16, &f);
    tz_merkle_proof p;
    tz_err err;
    /* transparency-dev proof_test.go error cases: {size, index} */
    uint64_t inclusion_bad[][2] = { { 0, 0 }, { 0, 1 }, { 1, 2 }, { 0, 3 }, { 7, 8 }, { 7, 7 } };
    for (size_t i = 0; i < 6; i++) {
        proof_fill_sentinel(&p);
        store_reset_counts(s, 16);
        int rc = tz_merkle_inclusion_proof(&p, inclusion_bad[i][1], inclusion_bad[i][0], store_read,
                                           s, &err);
        ck_assert_int_eq(rc, TZ_ERR_USAGE);
        ck_assert_int_eq(err.code, TZ_ERR_USAGE);
        ck_assert_ptr_nonnull(strstr(err.msg, "must be below size"));
        ck_assert(proof_is_sentinel(&p));
        ck_assert_uint_eq(s->reads, 0);
    }
    uint64_t consistency_bad[][2] = { { 5, 0 }, { 9, 8 }, { 0, 0 }, { 0, 5 } };
    for (size_t i = 0; i < 4; i++) {
        proof_fill_sentinel(&p);
        int rc = tz_merkle_consistency_proof(&p, consistency_bad[i][0], consistency_bad[i][1],
                                             store_read, s, &err);
        ck_assert_int_eq(rc, TZ_ERR_USAGE);
        ck_assert_ptr_nonnull(strstr(err.msg, "0 < size1 <= size2"));
        ck_assert(proof_is_sentinel(&p));
    }
    /* size1 == size2: an empty proof and no reads */
    for (uint64_t n = 1; n <= 16; n++) {
        store_reset_counts(s, n);
        ck_assert_int_eq(tz_merkle_consistency_proof(&p, n, n, store_read, s, &err), TZ_OK);
        ck_assert_uint_eq(p.count, 0);
        ck_assert_uint_eq(s->reads, 0);
    }
    uint8_t root[32];
    ck_assert_int_eq(tz_merkle_inclusion_proof(NULL, 0, 1, store_read, s, &err), TZ_ERR_USAGE);
    ck_assert_int_eq(tz_merkle_inclusion_proof(&p, 0, 1, NULL, s, &err), TZ_ERR_USAGE);
    ck_assert_int_eq(tz_merkle_consistency_proof(NULL, 1, 2, store_read, s, &err), TZ_ERR_USAGE);
    ck_assert_int_eq(tz_merkle_consistency_proof(&p, 1, 2, NULL, s, NULL), TZ_ERR_USAGE);
    ck_assert_int_eq(tz_merkle_root(NULL, 1, store_read, s, &err), TZ_ERR_USAGE);
    ck_assert_int_eq(tz_merkle_root(root, 1, NULL, s, &err), TZ_ERR_USAGE);
    ck_assert_int_eq(tz_merkle_frontier_load(NULL, 1, store_read, s, &err), TZ_ERR_USAGE);
    ck_assert_int_eq(tz_merkle_frontier_load(&f, 1, NULL, s, &err), TZ_ERR_USAGE);
    store_free(s);
}
END_TEST

/* Runs op with the n-th read failing, for every n up to the reads op needs,
 * and with every read answering NOTFOUND or a bogus positive code. */
typedef int (*read_op)(node_store *s, void *out, tz_err *err);

static int op_root(node_store *s, void *out, tz_err *err)
{
    return tz_merkle_root(out, 93, store_read, s, err);
}
static int op_load(node_store *s, void *out, tz_err *err)
{
    return tz_merkle_frontier_load(out, 93, store_read, s, err);
}
static int op_inclusion(node_store *s, void *out, tz_err *err)
{
    return tz_merkle_inclusion_proof(out, 5, 93, store_read, s, err);
}
static int op_consistency(node_store *s, void *out, tz_err *err)
{
    return tz_merkle_consistency_proof(out, 7, 93, store_read, s, err);
}

START_TEST(test_read_errors_propagate)
{
    static const struct {
        read_op op;
        size_t out_size;
        const char *name;
    } ops[] = {
        { op_root, 32, "root" },
        { op_load, sizeof(tz_merkle_frontier), "frontier_load" },
        { op_inclusion, sizeof(tz_merkle_proof), "inclusion" },
        { op_consistency, sizeof(tz_merkle_proof), "consistency" },
    };
    tz_merkle_frontier f;
    node_store *s = model_store(128, &f);
    unsigned char *out = malloc(sizeof(tz_merkle_proof) + sizeof(tz_merkle_frontier));
    unsigned char *before = malloc(sizeof(tz_merkle_proof) + sizeof(tz_merkle_frontier));
    ck_assert(out != NULL && before != NULL);
    tz_err err;
    for (size_t o = 0; o < 4; o++) {
        /* how many reads does it take? */
        store_reset_counts(s, 93);
        ck_assert_int_eq(ops[o].op(s, out, &err), TZ_OK);
        uint64_t needed = s->reads;
        ck_assert_uint_gt(needed, 1);
        for (uint64_t n = 1; n <= needed; n++) {
            int codes[] = { TZ_ERR_IO, TZ_ERR_TAMPER };
            for (size_t c = 0; c < 2; c++) {
                memset(out, 0x5A, ops[o].out_size);
                memcpy(before, out, ops[o].out_size);
                store_reset_counts(s, 93);
                s->fail_read_at = n;
                s->fail_read_code = codes[c];
                tz_err_clear(&err);
                int rc = ops[o].op(s, out, &err);
                ck_assert_msg(rc == codes[c], "%s, read %" PRIu64 " fails: rc %d", ops[o].name, n,
                              rc);
                ck_assert_int_eq(err.code, codes[c]);
                char want[TZ_ERR_MSG_MAX];
                snprintf(want, sizeof want, "injected read failure at read %" PRIu64, n);
                ck_assert_str_eq(err.msg, want); /* unchanged */
                ck_assert_uint_eq(s->reads, n);  /* stops at the first failure */
                ck_assert_msg(memcmp(out, before, ops[o].out_size) == 0, "%s: output changed",
                              ops[o].name);
            }
        }
        s->fail_read_at = 0;
        /* NOTFOUND names the node; a positive code is an internal error */
        s->read_return = TZ_ERR_NOTFOUND;
        memset(out, 0x5A, ops[o].out_size);
        memcpy(before, out, ops[o].out_size);
        ck_assert_int_eq(ops[o].op(s, out, &err), TZ_ERR_NOTFOUND);
        ck_assert_ptr_nonnull(strstr(err.msg, "is not stored"));
        ck_assert(memcmp(out, before, ops[o].out_size) == 0);
        s->read_return = 7;
        ck_assert_int_eq(ops[o].op(s, out, &err), TZ_ERR_INTERNAL);
        ck_assert(memcmp(out, before, ops[o].out_size) == 0);
        s->read_return = TZ_OK;
    }
    /* a size beyond the stored tree: NOTFOUND, not a wrong answer */
    store_reset_counts(s, UINT64_MAX);
    uint8_t root[32];
    ck_assert_int_eq(tz_merkle_root(root, 129, store_read, s, &err), TZ_ERR_NOTFOUND);
    ck_assert_str_eq(err.msg, "merkle node (level 0, index 128) is not stored");
    free(out);
    free(before);
    store_free(s);
}
END_TEST

/* ---------------------------------------------------------------------------
 * The frontier.
 */
static void expect_frontier_eq(const tz_merkle_frontier *a, const tz_merkle_frontier *b, bool all)
{
    REQUIRE(a->size == b->size, "frontier size %" PRIu64 " != %" PRIu64, a->size, b->size);
    REQUIRE(a->count == b->count, "frontier count %u != %u at size %" PRIu64, a->count, b->count,
            a->size);
    unsigned n = all ? 64 : a->count;
    REQUIRE(memcmp(a->hashes, b->hashes, n * 32) == 0, "frontier hashes differ at size %" PRIu64,
            a->size);
}

START_TEST(test_frontier_load_matches_append)
{
    model_init();
    const uint64_t n = 1100;
    node_store *s = store_new(n);
    tz_merkle_frontier f, loaded;
    tz_merkle_frontier_init(&f);
    tz_err err;
    for (uint64_t size = 0; size <= n; size++) {
        store_reset_counts(s, size);
        memset(&loaded, 0xEE, sizeof loaded);
        ck_assert_int_eq(tz_merkle_frontier_load(&loaded, size, store_read, s, &err), TZ_OK);
        ck_assert_uint_eq(s->reads, (uint64_t)__builtin_popcountll(size));
        expect_frontier_eq(&loaded, &f, false);
        REQUIRE(f.count == (unsigned)__builtin_popcountll(size), "count at %" PRIu64, size);
        uint8_t r1[32], r2[32], want[32];
        tz_merkle_frontier_root(&f, r1);
        tz_merkle_frontier_root(&loaded, r2);
        model_mth(0, size, want);
        REQUIRE(hash_eq(r1, want) && hash_eq(r2, want), "frontier root at %" PRIu64, size);
        if (size == n)
            break;
        uint64_t emits_before = s->emits;
        ck_assert_int_eq(tz_merkle_frontier_append(&f, model_leaf[size], store_emit, s, &err),
                         TZ_OK);
        /* one leaf and one parent per trailing one-bit of the old size */
        REQUIRE(s->emits - emits_before == 1 + (uint64_t)__builtin_ctzll(~size),
                "emits at %" PRIu64, size);
    }
    ck_assert_uint_eq(s->bad_reads, 0);
    ck_assert_uint_eq(s->bad_emits, 0);
    /* every stored node is the model's MTH of its range */
    for (unsigned level = 0; level < 64 && s->level[level] != NULL; level++) {
        ck_assert_uint_eq(s->stored[level], n >> level);
        for (uint64_t i = 0; i < s->stored[level]; i++) {
            uint8_t want[32];
            model_mth(i << level, (uint64_t)1 << level, want);
            REQUIRE(hash_eq(s->level[level][i], want), "node (%u, %" PRIu64 ")", level, i);
        }
    }
    store_free(s);
}
END_TEST

START_TEST(test_frontier_emit_failure)
{
    model_init();
    tz_err err;
    for (uint64_t size = 0; size < 130; size++) {
        tz_merkle_frontier f;
        node_store *s = model_store_sized(size + 1, size, &f);
        unsigned calls = 1 + (unsigned)__builtin_ctzll(~size);
        for (unsigned fail = 1; fail <= calls; fail++) {
            tz_merkle_frontier before = f;
            uint64_t emits_before = s->emits;
            s->fail_emit_at = emits_before + fail;
            s->fail_emit_code = TZ_ERR_IO;
            tz_err_clear(&err);
            int rc = tz_merkle_frontier_append(&f, model_leaf[size], store_emit, s, &err);
            REQUIRE(rc == TZ_ERR_IO, "size %" PRIu64 ", emit %u fails: rc %d", size, fail, rc);
            char want[TZ_ERR_MSG_MAX];
            snprintf(want, sizeof want, "injected emit failure at emit %" PRIu64,
                     emits_before + fail);
            REQUIRE(strcmp(err.msg, want) == 0, "message changed: %s", err.msg);
            REQUIRE(s->emits == emits_before + fail, "emit called after the failure");
            expect_frontier_eq(&f, &before, true);
            /* roll the store back as a discarded batch would */
            for (unsigned level = 0; level < 64; level++)
                s->stored[level] = size >> level;
            s->emits = emits_before;
        }
        s->fail_emit_at = 0;
        ck_assert_int_eq(tz_merkle_frontier_append(&f, model_leaf[size], store_emit, s, &err),
                         TZ_OK);
        uint8_t root[32], want[32];
        tz_merkle_frontier_root(&f, root);
        model_mth(0, size + 1, want);
        REQUIRE(hash_eq(root, want), "root after retry at %" PRIu64, size + 1);
        store_free(s);
    }
}
END_TEST

typedef struct emit_log {
    unsigned count;
    node_id ids[70];
    uint8_t hashes[70][32];
} emit_log;

static int log_emit(void *ctx, unsigned level, uint64_t index, const uint8_t hash[32], tz_err *err)
{
    emit_log *log = ctx;
    if (log->count >= 70)
        return tz_err_set(err, TZ_ERR_INTERNAL, "too many emits");
    log->ids[log->count] = (node_id){ level, index };
    memcpy(log->hashes[log->count++], hash, 32);
    return TZ_OK;
}

START_TEST(test_frontier_edges)
{
    tz_err err;
    tz_merkle_frontier f;
    uint8_t root[32], empty[32], leaf[32];
    tz_merkle_empty_root(empty);
    tz_merkle_leaf_hash(leaf, (const uint8_t *)"x", 1);
    tz_merkle_frontier_init(&f);
    ck_assert_uint_eq(f.size, 0);
    ck_assert_uint_eq(f.count, 0);
    tz_merkle_frontier_root(&f, root);
    ck_assert(hash_eq(root, empty));

    /* emit may be NULL; the root of one leaf is its hash */
    ck_assert_int_eq(tz_merkle_frontier_append(&f, leaf, NULL, NULL, &err), TZ_OK);
    tz_merkle_frontier_root(&f, root);
    ck_assert(hash_eq(root, leaf));

    ck_assert_int_eq(tz_merkle_frontier_append(NULL, leaf, NULL, NULL, &err), TZ_ERR_USAGE);
    ck_assert_int_eq(tz_merkle_frontier_append(&f, NULL, NULL, NULL, &err), TZ_ERR_USAGE);

    /* a frontier whose count does not match its size is refused, unchanged */
    tz_merkle_frontier broken = f, copy;
    broken.count = 3;
    copy = broken;
    ck_assert_int_eq(tz_merkle_frontier_append(&broken, leaf, NULL, NULL, &err), TZ_ERR_INTERNAL);
    ck_assert_ptr_nonnull(strstr(err.msg, "popcount"));
    expect_frontier_eq(&broken, &copy, true);
    broken.count = 1000;
    ck_assert_int_eq(tz_merkle_frontier_append(&broken, leaf, NULL, NULL, &err), TZ_ERR_INTERNAL);

    /* 2^63 - 1 leaves, loaded from the synthetic store: the next leaf closes
     * 63 parents, up to the complete tree of 2^63 leaves */
    uniform_store *u = malloc(sizeof *u);
    ck_assert_ptr_nonnull(u);
    uniform_init(u);
    u->limit = UINT64_MAX;
    uint64_t size = ((uint64_t)1 << 63) - 1;
    ck_assert_int_eq(tz_merkle_frontier_load(&f, size, uniform_read, u, &err), TZ_OK);
    ck_assert_uint_eq(u->reads, 63);
    ck_assert_uint_eq(f.count, 63);
    emit_log *log = calloc(1, sizeof *log);
    ck_assert_ptr_nonnull(log);
    ck_assert_int_eq(tz_merkle_frontier_append(&f, u->level_hash[0], log_emit, log, &err), TZ_OK);
    ck_assert_uint_eq(log->count, 64);
    for (unsigned l = 0; l < 64; l++) {
        ck_assert_uint_eq(log->ids[l].level, l);
        ck_assert_uint_eq(log->ids[l].index, (size >> l));
        ck_assert(hash_eq(log->hashes[l], u->level_hash[l]));
    }
    ck_assert_uint_eq(f.size, (uint64_t)1 << 63);
    ck_assert_uint_eq(f.count, 1);
    tz_merkle_frontier_root(&f, root);
    ck_assert(hash_eq(root, u->level_hash[63]));

    /* the largest tree: 2^64 - 1 leaves, and then no more */
    ck_assert_int_eq(tz_merkle_frontier_load(&f, UINT64_MAX, uniform_read, u, &err), TZ_OK);
    ck_assert_uint_eq(f.count, 64);
    copy = f;
    ck_assert_int_eq(tz_merkle_frontier_append(&f, leaf, NULL, NULL, &err), TZ_ERR_USAGE);
    ck_assert_ptr_nonnull(strstr(err.msg, "full"));
    expect_frontier_eq(&f, &copy, true);
    ck_assert_uint_eq(u->bad_reads, 0);
    free(log);
    free(u);
}
END_TEST

/* ---------------------------------------------------------------------------
 * The naive model against the module.
 */

/* Everything about one tree size n on store s (which holds >= n leaves):
 * the root, the inclusion proofs of the given indices and the consistency
 * proofs from the given old sizes, all equal to the model and verifying. */
static void check_size_against_model(node_store *s, uint64_t n, const uint64_t *indices,
                                     size_t nindices, const uint64_t *olds, size_t nolds,
                                     bool corrupt)
{
    tz_err err;
    uint8_t root[32], want_root[32];
    model_mth(0, n, want_root);
    store_reset_counts(s, n);
    REQUIRE(tz_merkle_root(root, n, store_read, s, &err) == TZ_OK, "root %" PRIu64 ": %s", n,
            err.msg);
    REQUIRE(hash_eq(root, want_root), "root %" PRIu64 " differs from the model", n);
    REQUIRE(s->reads == (uint64_t)__builtin_popcountll(n), "root %" PRIu64 ": %" PRIu64 " reads", n,
            s->reads);

    for (size_t j = 0; j < nindices; j++) {
        uint64_t i = indices[j];
        tz_merkle_proof got, want = { 0 };
        model_path(i, 0, n, &want);
        store_reset_counts(s, n);
        REQUIRE(tz_merkle_inclusion_proof(&got, i, n, store_read, s, &err) == TZ_OK,
                "inclusion %" PRIu64 "/%" PRIu64 ": %s", i, n, err.msg);
        REQUIRE(proof_eq(&got, &want), "inclusion %" PRIu64 "/%" PRIu64 " differs from the model",
                i, n);
        REQUIRE(s->reads <= inclusion_read_bound(n),
                "inclusion %" PRIu64 "/%" PRIu64 ": %" PRIu64 " reads", i, n, s->reads);
        REQUIRE(tz_merkle_verify_inclusion(model_leaf[i], i, n, &got, root, &err) == TZ_OK,
                "inclusion %" PRIu64 "/%" PRIu64 " does not verify: %s", i, n, err.msg);
        if (!corrupt)
            continue;
        expect_inclusion_corruptions_fail(model_leaf[i], i, n, &got, root, false, false);
        /* another index or size verifies exactly when the model says it
         * hashes the same way (the RFC verifier cannot see the difference) */
        const uint64_t other[][2] = { { i - 1, n }, { i + 1, n }, { i ^ 1, n }, { i ^ 2, n },
                                      { i, n - 1 }, { i, n + 1 }, { i, 2 * n }, { i, n / 2 } };
        for (size_t k = 0; k < sizeof other / sizeof other[0]; k++) {
            uint64_t i2 = other[k][0], n2 = other[k][1];
            if (i2 == i && n2 == n)
                continue;
            bool same = model_same_shape(i, n, i2, n2);
            int rc = tz_merkle_verify_inclusion(model_leaf[i], i2, n2, &got, root, &err);
            REQUIRE(rc == (same ? TZ_OK : TZ_ERR_PROOF),
                    "inclusion proof %" PRIu64 "/%" PRIu64 " checked as %" PRIu64 "/%" PRIu64
                    ": rc %d, model says %s", i, n, i2, n2, rc, same ? "same shape" : "different");
        }
    }

    for (size_t j = 0; j < nolds; j++) {
        uint64_t m = olds[j];
        tz_merkle_proof got, want = { 0 };
        if (m < n)
            model_subproof(m, 0, n, true, &want);
        store_reset_counts(s, n);
        REQUIRE(tz_merkle_consistency_proof(&got, m, n, store_read, s, &err) == TZ_OK,
                "consistency %" PRIu64 "->%" PRIu64 ": %s", m, n, err.msg);
        REQUIRE(proof_eq(&got, &want),
                "consistency %" PRIu64 "->%" PRIu64 " differs from the model", m, n);
        REQUIRE(s->reads <= consistency_read_bound(n),
                "consistency %" PRIu64 "->%" PRIu64 ": %" PRIu64 " reads", m, n, s->reads);
        uint8_t old_root[32];
        model_mth(0, m, old_root);
        REQUIRE(tz_merkle_verify_consistency(m, n, &got, old_root, root, &err) == TZ_OK,
                "consistency %" PRIu64 "->%" PRIu64 " does not verify: %s", m, n, err.msg);
        if (corrupt && got.count > 0)
            expect_consistency_corruptions_fail(m, n, &got, old_root, root, false, false);
    }
    REQUIRE(s->bad_reads == 0, "size %" PRIu64 ": read a node outside the tree", n);
}

START_TEST(test_model_all_sizes_to_300)
{
    const uint64_t max = 300;
    tz_merkle_frontier f;
    node_store *s = model_store(max, &f);
    uint64_t *all = malloc(max * sizeof *all);
    ck_assert_ptr_nonnull(all);
    for (uint64_t i = 0; i < max; i++)
        all[i] = i;
    uint64_t proofs = 0;
    for (uint64_t n = 1; n <= max; n++) {
        /* every index, every old size 1..n; the corruption sweep on n <= 64 */
        check_size_against_model(s, n, all, n, all + 1, n - 1, n <= 64);
        uint64_t olds_n = n;
        check_size_against_model(s, n, NULL, 0, &olds_n, 1, false);
        proofs += 2 * n;
    }
    ck_assert_uint_eq(proofs, max * (max + 1));
    free(all);
    store_free(s);
}
END_TEST

START_TEST(test_model_larger_sizes)
{
    const uint64_t sizes[] = { 511, 512, 513, 777, 1000, 1023, 1024, 1025, 2047, 2048, 2049, 3000,
                               4095, 4096, 4097, 4199 };
    const uint64_t max = 4200;
    tz_merkle_frontier f;
    node_store *s = model_store(max, &f);
    for (size_t z = 0; z < sizeof sizes / sizeof sizes[0]; z++) {
        uint64_t n = sizes[z];
        uint64_t picks[24];
        size_t np = 0;
        picks[np++] = 0;
        picks[np++] = 1;
        picks[np++] = 2;
        picks[np++] = 3;
        picks[np++] = n / 3;
        picks[np++] = n / 2;
        picks[np++] = n / 2 + 1;
        picks[np++] = n - 3;
        picks[np++] = n - 2;
        picks[np++] = n - 1;
        for (uint64_t k = 1; k < n && np < 20; k <<= 1)
            if (k > 3 && k < n - 3)
                picks[np++] = k;
        /* old sizes are 1..n: shift the index picks by one */
        uint64_t olds[24];
        for (size_t j = 0; j < np; j++)
            olds[j] = picks[j] + 1;
        check_size_against_model(s, n, picks, np, olds, np, n < 1100);
    }
    store_free(s);
}
END_TEST

/* ---------------------------------------------------------------------------
 * Read counts.
 */

/* Tree sizes to check on the big store: around every power of two, and a
 * spread of others (a fixed LCG so that failures reproduce). */
static size_t big_sizes(uint64_t max, uint64_t *out, size_t cap)
{
    size_t n = 0;
    for (unsigned j = 1; j < 64 && ((uint64_t)1 << j) <= max; j++) {
        uint64_t p = (uint64_t)1 << j;
        uint64_t c[] = { p - 1, p, p + 1, p + p / 2 };
        for (size_t k = 0; k < 4; k++)
            if (c[k] >= 2 && c[k] <= max && n < cap)
                out[n++] = c[k];
    }
    uint64_t x = 12345;
    while (n < cap) {
        x = x * 6364136223846793005ull + 1442695040888963407ull;
        out[n++] = 2 + (x >> 33) % (max - 1);
    }
    return n;
}

static int u64_cmp(const void *pa, const void *pb)
{
    uint64_t a = *(const uint64_t *)pa, b = *(const uint64_t *)pb;
    return a < b ? -1 : a > b;
}

START_TEST(test_reads_real_store_2_pow_20)
{
    const uint64_t max = ((uint64_t)1 << 20) + 1000;
    uint64_t sizes[160];
    size_t nsizes = big_sizes(max, sizes, 160);
    sizes[nsizes - 1] = max;
    qsort(sizes, nsizes, sizeof sizes[0], u64_cmp);
    /* the store, built by the frontier; its root recorded at each size */
    node_store *s = store_new(max);
    uint8_t (*roots)[32] = malloc(nsizes * 32);
    ck_assert_ptr_nonnull(roots);
    tz_merkle_frontier f;
    tz_merkle_frontier_init(&f);
    tz_err err;
    size_t next = 0;
    for (uint64_t i = 0; i < max; i++) {
        uint8_t data[8], leaf[32];
        for (int b = 0; b < 8; b++)
            data[b] = (uint8_t)(i >> (56 - 8 * b));
        tz_merkle_leaf_hash(leaf, data, sizeof data);
        REQUIRE(tz_merkle_frontier_append(&f, leaf, store_emit, s, &err) == TZ_OK,
                "append %" PRIu64, i);
        while (next < nsizes && sizes[next] == i + 1)
            tz_merkle_frontier_root(&f, roots[next++]);
    }
    ck_assert_uint_eq(next, nsizes);
    ck_assert_uint_eq(s->bad_emits, 0);

    uint64_t worst_inclusion = 0, worst_consistency = 0;
    for (size_t z = 0; z < nsizes; z++) {
        uint64_t n = sizes[z];
        uint8_t root[32];
        store_reset_counts(s, n);
        REQUIRE(tz_merkle_root(root, n, store_read, s, &err) == TZ_OK, "root %" PRIu64, n);
        REQUIRE(hash_eq(root, roots[z]), "root %" PRIu64 " differs from the frontier's", n);
        REQUIRE(s->reads == (uint64_t)__builtin_popcountll(n), "root reads at %" PRIu64, n);
        uint64_t idx[] = { 0, 1, 2, n / 3, n / 2, n - 2, n - 1, (n * 7) / 11, (n * 5) / 13 };
        for (size_t k = 0; k < sizeof idx / sizeof idx[0]; k++) {
            uint64_t i = idx[k];
            if (i >= n)
                continue;
            tz_merkle_proof p;
            store_reset_counts(s, n);
            REQUIRE(tz_merkle_inclusion_proof(&p, i, n, store_read, s, &err) == TZ_OK,
                    "inclusion %" PRIu64 "/%" PRIu64 ": %s", i, n, err.msg);
            REQUIRE(s->reads <= inclusion_read_bound(n),
                    "inclusion %" PRIu64 "/%" PRIu64 ": %" PRIu64 " reads > %" PRIu64, i, n,
                    s->reads, inclusion_read_bound(n));
            if (n == ((uint64_t)1 << 20) - 1 && s->reads > worst_inclusion)
                worst_inclusion = s->reads;
            REQUIRE(tz_merkle_verify_inclusion(s->level[0][i], i, n, &p, root, &err) == TZ_OK,
                    "inclusion %" PRIu64 "/%" PRIu64 ": %s", i, n, err.msg);
        }
        /* old sizes: a spread of the smaller recorded sizes, whose roots the
         * frontier gave us; then 3, the worst case of the read bound */
        for (size_t y = 0; y <= z; y += 1 + z / 12) {
            const uint64_t m = sizes[y];
            tz_merkle_proof p;
            store_reset_counts(s, n);
            REQUIRE(tz_merkle_consistency_proof(&p, m, n, store_read, s, &err) == TZ_OK,
                    "consistency %" PRIu64 "->%" PRIu64 ": %s", m, n, err.msg);
            REQUIRE(s->reads <= consistency_read_bound(n), "consistency %" PRIu64 "->%" PRIu64
                    ": %" PRIu64 " reads", m, n, s->reads);
            REQUIRE(tz_merkle_verify_consistency(m, n, &p, roots[y], root, &err) == TZ_OK,
                    "consistency %" PRIu64 "->%" PRIu64 ": %s", m, n, err.msg);
        }
        if (n < 4)
            continue;
        tz_merkle_proof p;
        uint8_t root3[32];
        store_reset_counts(s, 3);
        ck_assert_int_eq(tz_merkle_root(root3, 3, store_read, s, &err), TZ_OK);
        store_reset_counts(s, n);
        REQUIRE(tz_merkle_consistency_proof(&p, 3, n, store_read, s, &err) == TZ_OK,
                "consistency 3->%" PRIu64 ": %s", n, err.msg);
        REQUIRE(s->reads <= consistency_read_bound(n),
                "consistency 3->%" PRIu64 ": %" PRIu64 " reads", n, s->reads);
        if (n == ((uint64_t)1 << 20) - 1)
            worst_consistency = s->reads;
        REQUIRE(tz_merkle_verify_consistency(3, n, &p, root3, root, &err) == TZ_OK,
                "consistency 3->%" PRIu64 ": %s", n, err.msg);
    }
    /* the bounds are reached: 2*20 - 2 and 2*20 - 1 at n = 2^20 - 1 */
    ck_assert_uint_eq(worst_inclusion, 38);
    ck_assert_uint_eq(worst_consistency, 39);
    ck_assert_uint_eq(s->bad_reads, 0);

    /* and the naive model agrees at the largest size */
    uint8_t want[32];
    model_mth_of((const uint8_t(*)[32])s->level[0], 0, max, want);
    ck_assert(hash_eq(want, roots[nsizes - 1]));
    free(roots);
    store_free(s);
}
END_TEST

START_TEST(test_reads_synthetic_huge)
{
    const uint64_t sizes[] = {2,
                              3,
                              10000000,
                              10000001,
                              ((uint64_t)1 << 24) - 1,
                              ((uint64_t)1 << 32) + 1,
                              ((uint64_t)1 << 40) + 12345,
                              ((uint64_t)1 << 63) - 1,
                              (uint64_t)1 << 63,
                              ((uint64_t)1 << 63) + 1,
                              UINT64_MAX - 1,
                              UINT64_MAX};
    uniform_store *u = malloc(sizeof *u);
    ck_assert_ptr_nonnull(u);
    uniform_init(u);
    tz_err err;
    for (size_t z = 0; z < sizeof sizes / sizeof sizes[0]; z++) {
        uint64_t n = sizes[z];
        uint8_t root[32], froot[32];
        u->limit = n;
        u->reads = 0;
        ck_assert_int_eq(tz_merkle_root(root, n, uniform_read, u, &err), TZ_OK);
        ck_assert_uint_eq(u->reads, (uint64_t)__builtin_popcountll(n));
        tz_merkle_frontier f;
        ck_assert_int_eq(tz_merkle_frontier_load(&f, n, uniform_read, u, &err), TZ_OK);
        tz_merkle_frontier_root(&f, froot);
        ck_assert(hash_eq(root, froot));
        uint64_t idx[] = { 0, 1, n / 2, n - 2, n - 1, n / 3 };
        for (size_t k = 0; k < 6; k++) {
            tz_merkle_proof p;
            u->reads = 0;
            ck_assert_int_eq(tz_merkle_inclusion_proof(&p, idx[k], n, uniform_read, u, &err),
                             TZ_OK);
            ck_assert_msg(u->reads <= inclusion_read_bound(n), "inclusion %" PRIu64 "/%" PRIu64
                          ": %" PRIu64 " reads", idx[k], n, u->reads);
            ck_assert_uint_le(p.count, 64);
            ck_assert_msg(tz_merkle_verify_inclusion(u->level_hash[0], idx[k], n, &p, root, &err) ==
                              TZ_OK,
                          "inclusion %" PRIu64 "/%" PRIu64 ": %s", idx[k], n, err.msg);
        }
        uint64_t olds[] = { 1, 2, 3, n / 2, n - 1, n };
        for (size_t k = 0; k < 6; k++) {
            uint64_t m = olds[k];
            if (m == 0 || m > n)
                continue;
            uint8_t old_root[32];
            u->limit = m;
            ck_assert_int_eq(tz_merkle_root(old_root, m, uniform_read, u, &err), TZ_OK);
            u->limit = n;
            u->reads = 0;
            tz_merkle_proof p;
            ck_assert_int_eq(tz_merkle_consistency_proof(&p, m, n, uniform_read, u, &err), TZ_OK);
            ck_assert_msg(u->reads <= consistency_read_bound(n), "consistency %" PRIu64 "->%" PRIu64
                          ": %" PRIu64 " reads", m, n, u->reads);
            ck_assert_uint_le(p.count, 65);
            ck_assert_msg(tz_merkle_verify_consistency(m, n, &p, old_root, root, &err) == TZ_OK,
                          "consistency %" PRIu64 "->%" PRIu64 ": %s", m, n, err.msg);
        }
    }
    /* the worst cases at 10^7 entries: ceil(log2 10^7) = 24 */
    ck_assert_uint_eq(inclusion_read_bound(10000000), 46);
    ck_assert_uint_eq(consistency_read_bound(10000000), 47);
    ck_assert_uint_eq(u->bad_reads, 0);
    free(u);
}
END_TEST

static Suite *make_suite(void)
{
    if (sodium_init() < 0) {
        fprintf(stderr, "check_merkle: sodium_init failed\n");
        exit(EXIT_FAILURE);
    }
    Suite *suite = suite_create("merkle");

    TCase *vectors = tcase_create("vectors");
    tcase_add_test(vectors, test_vectors_file);
    tcase_add_test(vectors, test_vectors_hashes);
    tcase_add_test(vectors, test_vectors_roots);
    tcase_add_test(vectors, test_vectors_inclusion);
    tcase_add_test(vectors, test_vectors_consistency);
    tcase_add_test(vectors, test_vectors_read_sets);
    suite_add_tcase(suite, vectors);

    TCase *verify = tcase_create("verify");
    tcase_add_test(verify, test_verify_inclusion_edges);
    tcase_add_test(verify, test_verify_consistency_edges);
    suite_add_tcase(suite, verify);

    TCase *errors = tcase_create("errors");
    tcase_add_test(errors, test_prove_usage_errors);
    tcase_add_test(errors, test_read_errors_propagate);
    suite_add_tcase(suite, errors);

    TCase *frontier = tcase_create("frontier");
    tcase_add_test(frontier, test_frontier_load_matches_append);
    tcase_add_test(frontier, test_frontier_emit_failure);
    tcase_add_test(frontier, test_frontier_edges);
    suite_add_tcase(suite, frontier);

    TCase *model = tcase_create("model");
    tcase_set_timeout(model, 600);
    tcase_add_test(model, test_model_all_sizes_to_300);
    tcase_add_test(model, test_model_larger_sizes);
    suite_add_tcase(suite, model);

    TCase *reads = tcase_create("reads");
    tcase_set_timeout(reads, 600);
    tcase_add_test(reads, test_reads_real_store_2_pow_20);
    tcase_add_test(reads, test_reads_synthetic_huge);
    suite_add_tcase(suite, reads);
    return suite;
}

int main(void)
{
    return tz_test_main(make_suite);
}
