/*
 * fuzz_merkle.c: RFC 6962 / 9162 inclusion and consistency proofs as a
 * verifier receives them (`taizhang prove` output, the daemon's proof
 * endpoints, proof files), and the tree code that makes them.
 *
 * The model is the structural definition of RFC 6962 §2.1 (MTH, PATH,
 * SUBPROOF: split at the largest power of two below n, recurse), which
 * shares nothing with the bit-walking verifiers of ledger/merkle.c (RFC
 * 9162 §2.1.3.2 and §2.1.4.2).
 *
 * The first input byte picks a mode:
 *  even: arbitrary proofs. Index, sizes (small or any 64-bit value), up to
 *        130 hashes and the leaf come from the input; the root is either
 *        from the input or the one the model computes, with a bit flipped
 *        on request. tz_merkle_verify_inclusion / _consistency must answer
 *        exactly as the model (TZ_OK or TZ_ERR_PROOF).
 *  odd:  a real tree of 1..64 leaves from the input, appended with
 *        tz_merkle_frontier_append into a memory store. Every root
 *        (frontier, tz_merkle_root, reloaded frontier) equals the model's
 *        MTH; tz_merkle_inclusion_proof / _consistency_proof equal the
 *        model's PATH / PROOF and verify; then the input mutates index,
 *        sizes, hashes, count or roots and the verifiers must agree with
 *        the model again.
 */
#include <string.h>

#include "fuzz/fuzz.h"
#include "ledger/merkle.h"

typedef uint8_t hash_t[32];

/* Largest power of two strictly below n (n >= 2). */
static uint64_t split_point(uint64_t n)
{
    uint64_t k = 1;
    while (k < n - k)
        k <<= 1;
    return k;
}

/* ---- model: verification from the structural definitions ---- */

/* The root that path[0..len) (leaf first) proves for leaf number m of a
 * tree of n leaves, or 0 when the path has the wrong length. */
static int model_inclusion_root(hash_t out, uint64_t m, uint64_t n, const hash_t leaf,
                                const hash_t *path, size_t len)
{
    if (n == 1) {
        if (len != 0)
            return 0;
        memcpy(out, leaf, 32);
        return 1;
    }
    if (len == 0)
        return 0;
    uint64_t k = split_point(n);
    hash_t sub;
    if (m < k) {
        if (!model_inclusion_root(sub, m, k, leaf, path, len - 1))
            return 0;
        tz_merkle_node_hash(out, sub, path[len - 1]);
    } else {
        if (!model_inclusion_root(sub, m - k, n - k, leaf, path, len - 1))
            return 0;
        tz_merkle_node_hash(out, path[len - 1], sub);
    }
    return 1;
}

static int model_verify_inclusion(const hash_t leaf, uint64_t index, uint64_t size,
                                  const hash_t *path, size_t len, const hash_t root)
{
    hash_t r;
    if (index >= size || !model_inclusion_root(r, index, size, leaf, path, len))
        return TZ_ERR_PROOF;
    return memcmp(r, root, 32) == 0 ? TZ_OK : TZ_ERR_PROOF;
}

/* SUBPROOF(m, D[0:n], b) read backwards: the (old, new) roots that
 * path[0..len) proves, given old_root for the b = true leaf case. */
static int model_subproof(hash_t old_out, hash_t new_out, uint64_t m, uint64_t n, int b,
                          const hash_t old_root, const hash_t *path, size_t len)
{
    if (m == n) {
        if (b) {
            if (len != 0)
                return 0;
            memcpy(old_out, old_root, 32);
            memcpy(new_out, old_root, 32);
        } else {
            if (len != 1)
                return 0;
            memcpy(old_out, path[0], 32);
            memcpy(new_out, path[0], 32);
        }
        return 1;
    }
    if (len == 0)
        return 0;
    uint64_t k = split_point(n);
    hash_t o, nw;
    const uint8_t *last = path[len - 1];
    if (m <= k) {
        if (!model_subproof(o, nw, m, k, b, old_root, path, len - 1))
            return 0;
        memcpy(old_out, o, 32);
        tz_merkle_node_hash(new_out, nw, last);
    } else {
        if (!model_subproof(o, nw, m - k, n - k, 0, old_root, path, len - 1))
            return 0;
        tz_merkle_node_hash(old_out, last, o);
        tz_merkle_node_hash(new_out, last, nw);
    }
    return 1;
}

/* Computes the roots the proof implies; 0 when its shape is wrong. */
static int model_consistency_roots(hash_t old_out, hash_t new_out, uint64_t size1, uint64_t size2,
                                   const hash_t root1, const hash_t *path, size_t len)
{
    if (size1 == 0 || size1 > size2)
        return 0;
    return model_subproof(old_out, new_out, size1, size2, 1, root1, path, len);
}

static int model_verify_consistency(uint64_t size1, uint64_t size2, const hash_t *path, size_t len,
                                    const hash_t root1, const hash_t root2)
{
    hash_t o, n;
    if (!model_consistency_roots(o, n, size1, size2, root1, path, len))
        return TZ_ERR_PROOF;
    return memcmp(o, root1, 32) == 0 && memcmp(n, root2, 32) == 0 ? TZ_OK : TZ_ERR_PROOF;
}

/* ---- model: building from the leaves ---- */

#define MAX_LEAVES 64

static void model_mth(hash_t out, const hash_t *leaves, uint64_t n)
{
    if (n == 0) {
        tz_merkle_empty_root(out);
        return;
    }
    if (n == 1) {
        memcpy(out, leaves[0], 32);
        return;
    }
    uint64_t k = split_point(n);
    hash_t l, r;
    model_mth(l, leaves, k);
    model_mth(r, leaves + k, n - k);
    tz_merkle_node_hash(out, l, r);
}

/* PATH(m, D[0:n]), leaf first. */
static void model_path(hash_t *out, size_t *len, uint64_t m, const hash_t *leaves, uint64_t n)
{
    if (n == 1) {
        *len = 0;
        return;
    }
    uint64_t k = split_point(n);
    if (m < k) {
        model_path(out, len, m, leaves, k);
        model_mth(out[(*len)++], leaves + k, n - k);
    } else {
        model_path(out, len, m - k, leaves + k, n - k);
        model_mth(out[(*len)++], leaves, k);
    }
}

static void model_subproof_build(hash_t *out, size_t *len, uint64_t m, const hash_t *leaves,
                                 uint64_t n, int b)
{
    if (m == n) {
        if (!b)
            model_mth(out[(*len)++], leaves, n);
        return;
    }
    uint64_t k = split_point(n);
    if (m <= k) {
        model_subproof_build(out, len, m, leaves, k, b);
        model_mth(out[(*len)++], leaves + k, n - k);
    } else {
        model_subproof_build(out, len, m - k, leaves + k, n - k, 0);
        model_mth(out[(*len)++], leaves, k);
    }
}

/* ---- the memory store ---- */

typedef struct store {
    hash_t nodes[7][MAX_LEAVES]; /* level 0..6 */
    uint8_t present[7][MAX_LEAVES];
} store;

static int store_read(void *ctx, unsigned level, uint64_t index, uint8_t out[32], tz_err *err)
{
    store *s = ctx;
    if (level >= 7 || index >= MAX_LEAVES || !s->present[level][index])
        return tz_err_set(err, TZ_ERR_NOTFOUND, "node (%u, %llu) not stored", level,
                          (unsigned long long)index);
    memcpy(out, s->nodes[level][index], 32);
    return TZ_OK;
}

static int store_emit(void *ctx, unsigned level, uint64_t index, const uint8_t hash[32], tz_err *err)
{
    store *s = ctx;
    if (level >= 7 || index >= MAX_LEAVES)
        tz_fuzz_fail(__FILE__, __LINE__, "emitted node inside the tree", "(%u, %llu)", level,
                     (unsigned long long)index);
    if (s->present[level][index])
        tz_fuzz_fail(__FILE__, __LINE__, "each node emitted once", "(%u, %llu)", level,
                     (unsigned long long)index);
    memcpy(s->nodes[level][index], hash, 32);
    s->present[level][index] = 1;
    (void)err;
    return TZ_OK;
}

/* ---- checks ---- */

/* Counts go up to 130, past TZ_MERKLE_MAX_PROOF: the verifiers must refuse
 * them without reading beyond the struct (ASan watches its end). */
#define PROOF_SLOTS 130

static void check_inclusion(const hash_t leaf, uint64_t index, uint64_t size, const tz_merkle_proof *p,
                            const hash_t root)
{
    tz_err err;
    int rc = tz_merkle_verify_inclusion(leaf, index, size, p, root, &err);
    int expected = p->count > TZ_MERKLE_MAX_PROOF
                       ? TZ_ERR_PROOF
                       : model_verify_inclusion(leaf, index, size, (const hash_t *)p->hashes, p->count, root);
    TZ_FUZZ_CHECK_MSG(rc == expected, "inclusion index %llu size %llu count %zu: library %d, model %d (%s)",
                      (unsigned long long)index, (unsigned long long)size, p->count, rc, expected,
                      rc != TZ_OK ? err.msg : "");
    if (rc != TZ_OK)
        TZ_FUZZ_CHECK_ERROR(rc, &err, TZ_ERR_PROOF);
}

static void check_consistency(uint64_t size1, uint64_t size2, const tz_merkle_proof *p, const hash_t root1,
                              const hash_t root2)
{
    tz_err err;
    int rc = tz_merkle_verify_consistency(size1, size2, p, root1, root2, &err);
    int expected = p->count > TZ_MERKLE_MAX_PROOF
                       ? TZ_ERR_PROOF
                       : model_verify_consistency(size1, size2, (const hash_t *)p->hashes, p->count, root1,
                                                  root2);
    TZ_FUZZ_CHECK_MSG(rc == expected, "consistency %llu -> %llu count %zu: library %d, model %d (%s)",
                      (unsigned long long)size1, (unsigned long long)size2, p->count, rc, expected,
                      rc != TZ_OK ? err.msg : "");
    if (rc != TZ_OK)
        TZ_FUZZ_CHECK_ERROR(rc, &err, TZ_ERR_PROOF);
}

static uint64_t read_size(tz_fuzz_reader *r)
{
    uint8_t how = tz_fuzz_u8(r);
    if (how & 1)
        return tz_fuzz_u64(r);           /* any 64-bit value */
    return ((uint64_t)how << 8 | tz_fuzz_u8(r)) >> 1; /* small */
}

static void arbitrary_proofs(tz_fuzz_reader *r)
{
    tz_merkle_proof bp;
    memset(&bp, 0, sizeof bp);
    uint8_t flags = tz_fuzz_u8(r);
    uint64_t a = read_size(r), b = read_size(r);
    size_t count = tz_fuzz_u8(r);
    if (count > PROOF_SLOTS)
        count %= PROOF_SLOTS + 1;
    bp.count = count;
    hash_t leaf, root1, root2;
    tz_fuzz_bytes(r, leaf, 32);
    tz_fuzz_bytes(r, root1, 32);
    tz_fuzz_bytes(r, root2, 32);
    for (size_t i = 0; i < count && i < TZ_MERKLE_MAX_PROOF; i++)
        tz_fuzz_bytes(r, bp.hashes[i], 32);
    const hash_t *hashes = (const hash_t *)bp.hashes;
    size_t usable = count <= TZ_MERKLE_MAX_PROOF ? count : 0;

    if (flags & 2) {
        /* Inclusion of leaf number a in a tree of b leaves. */
        if ((flags & 4) && usable)
            model_inclusion_root(root1, a, b, leaf, hashes, usable);
        if (flags & 8)
            root1[flags >> 4] ^= 1;
        check_inclusion(leaf, a, b, &bp, root1);
    } else {
        /* Consistency from a to b (sometimes b = a + something small). */
        if (flags & 16)
            b = a + (b & 0xff);
        if ((flags & 4) && usable) {
            hash_t o, n;
            if (model_consistency_roots(o, n, a, b, root1, hashes, usable)) {
                memcpy(root1, o, 32);
                if (model_consistency_roots(o, n, a, b, root1, hashes, usable))
                    memcpy(root2, n, 32);
            }
        }
        if (flags & 8)
            root2[(flags >> 5) & 31] ^= 1;
        check_consistency(a, b, &bp, root1, root2);
    }
}

/* The roots of every prefix of the tree. The frontier's root is recorded
 * after each append; the model's MTH, which costs O(n) hashes, is computed
 * (and compared with it) only for the sizes an input uses. */
typedef struct roots {
    const hash_t *leaves;
    hash_t frontier[MAX_LEAVES + 1];
    hash_t model[MAX_LEAVES + 1];
    uint8_t checked[MAX_LEAVES + 1];
} roots;

static const uint8_t *root_at(roots *t, uint64_t size)
{
    if (!t->checked[size]) {
        model_mth(t->model[size], t->leaves, size);
        TZ_FUZZ_CHECK_MSG(memcmp(t->model[size], t->frontier[size], 32) == 0, "frontier root at size %llu",
                          (unsigned long long)size);
        t->checked[size] = 1;
    }
    return t->model[size];
}

static void real_tree(tz_fuzz_reader *r)
{
    static store s;
    static roots t;
    memset(&s, 0, sizeof s);
    memset(&t, 0, sizeof t);
    hash_t leaves[MAX_LEAVES];
    t.leaves = leaves;
    uint64_t n = 1 + tz_fuzz_u8(r) % MAX_LEAVES;
    uint8_t seed = tz_fuzz_u8(r);
    tz_merkle_frontier f;
    tz_merkle_frontier_init(&f);
    tz_err err;
    tz_merkle_frontier_root(&f, t.frontier[0]);
    for (uint64_t i = 0; i < n; i++) {
        uint8_t leaf_data[2] = {(uint8_t)i, seed};
        tz_merkle_leaf_hash(leaves[i], leaf_data, sizeof leaf_data);
        int rc = tz_merkle_frontier_append(&f, leaves[i], store_emit, &s, &err);
        TZ_FUZZ_CHECK_MSG(rc == TZ_OK, "%s", err.msg);
        TZ_FUZZ_CHECK(f.size == i + 1);
        tz_merkle_frontier_root(&f, t.frontier[i + 1]);
    }
    root_at(&t, 0);
    root_at(&t, n);
    /* Roots from the store, and reloaded frontiers, at a size from input. */
    uint64_t size = tz_fuzz_u8(r) % (n + 1);
    hash_t got;
    int rc = tz_merkle_root(got, size, store_read, &s, &err);
    TZ_FUZZ_CHECK_MSG(rc == TZ_OK && memcmp(got, root_at(&t, size), 32) == 0, "stored root at %llu",
                      (unsigned long long)size);
    tz_merkle_frontier g;
    rc = tz_merkle_frontier_load(&g, size, store_read, &s, &err);
    TZ_FUZZ_CHECK_MSG(rc == TZ_OK, "%s", err.msg);
    tz_merkle_frontier_root(&g, got);
    TZ_FUZZ_CHECK(g.size == size && memcmp(got, root_at(&t, size), 32) == 0);
    rc = tz_merkle_root(got, n + 1, store_read, &s, &err);
    TZ_FUZZ_CHECK(rc == TZ_ERR_NOTFOUND);

    /* Inclusion. */
    tz_merkle_proof bp;
    memset(&bp, 0, sizeof bp);
    uint64_t isize = 1 + tz_fuzz_u8(r) % n;
    uint64_t index = tz_fuzz_u8(r) % isize;
    rc = tz_merkle_inclusion_proof(&bp, index, isize, store_read, &s, &err);
    TZ_FUZZ_CHECK_MSG(rc == TZ_OK, "%s", err.msg);
    hash_t path[TZ_MERKLE_MAX_PROOF];
    size_t len = 0;
    model_path(path, &len, index, leaves, isize);
    TZ_FUZZ_CHECK(bp.count == len && memcmp(bp.hashes, path, len * 32) == 0);
    check_inclusion(leaves[index], index, isize, &bp, root_at(&t, isize));
    TZ_FUZZ_CHECK(tz_merkle_verify_inclusion(leaves[index], index, isize, &bp, root_at(&t, isize), NULL) ==
                  TZ_OK);

    /* Consistency. */
    tz_merkle_proof cp;
    memset(&cp, 0, sizeof cp);
    uint64_t size2 = 1 + tz_fuzz_u8(r) % n;
    uint64_t size1 = 1 + tz_fuzz_u8(r) % size2;
    rc = tz_merkle_consistency_proof(&cp, size1, size2, store_read, &s, &err);
    TZ_FUZZ_CHECK_MSG(rc == TZ_OK, "%s", err.msg);
    len = 0;
    model_subproof_build(path, &len, size1, leaves, size2, 1);
    TZ_FUZZ_CHECK(cp.count == len && memcmp(cp.hashes, path, len * 32) == 0);
    check_consistency(size1, size2, &cp, root_at(&t, size1), root_at(&t, size2));
    TZ_FUZZ_CHECK(tz_merkle_verify_consistency(size1, size2, &cp, root_at(&t, size1), root_at(&t, size2),
                                               NULL) == TZ_OK);

    /* Mutations, each checked against the model. */
    for (int round = 0; round < 8; round++) {
        uint8_t op = tz_fuzz_u8(r), arg = tz_fuzz_u8(r);
        if (op == 0 && arg == 0 && r->pos >= r->size)
            break;
        uint64_t i2 = index, s2 = isize, c1 = size1, c2 = size2;
        hash_t leaf, root_a, root_b;
        memcpy(leaf, leaves[index], 32);
        memcpy(root_a, root_at(&t, isize), 32);
        memcpy(root_b, root_at(&t, size1), 32);
        hash_t root_c;
        memcpy(root_c, root_at(&t, size2), 32);
        tz_merkle_proof mi = bp, mc = cp;
        switch (op % 10) {
        case 0: i2 = arg % (n + 1); break;                   /* another index */
        case 1: s2 = arg % (n + 2); break;                   /* another size */
        case 2: if (mi.count) mi.hashes[arg % mi.count][arg >> 3 & 31] ^= 1; break;
        case 3: mi.count = arg % (PROOF_SLOTS + 1); break;
        case 4: leaf[arg & 31] ^= (uint8_t)(1u << (arg >> 5)); break;
        case 5: c1 = arg % (n + 2); break;
        case 6: c2 = arg % (n + 2); break;
        case 7: if (mc.count) mc.hashes[arg % mc.count][arg >> 3 & 31] ^= 1; break;
        case 8: mc.count = arg % (PROOF_SLOTS + 1); break;
        case 9: root_b[arg & 31] ^= 1; break;
        }
        if (s2 <= n && s2 > 0)
            memcpy(root_a, root_at(&t, s2), 32);
        check_inclusion(leaf, i2, s2, &mi, root_a);
        if (c1 <= n && op % 10 != 9)
            memcpy(root_b, root_at(&t, c1), 32);
        if (c2 <= n)
            memcpy(root_c, root_at(&t, c2), 32);
        check_consistency(c1, c2, &mc, root_b, root_c);
    }
}

TZ_FUZZ_ENTRY(merkle)
{
    tz_fuzz_reader r;
    tz_fuzz_reader_init(&r, data, size);
    if (tz_fuzz_u8(&r) & 1)
        real_tree(&r);
    else
        arbitrary_proofs(&r);
    return 0;
}
