/*
 * merkle.c: RFC 6962 / RFC 9162 Merkle tree over the ledger's entries.
 *
 * Workload facts that drove the design. The log grows to about 10,000,000
 * entries (a tree of height 24) and only ever grows at the right edge. One
 * writer appends, one leaf per entry, and must put the new tree nodes into
 * the same RocksDB WriteBatch as the entry; readers ask for roots and proofs
 * far more often than for anything else, and each node they need is a point
 * lookup in the "merkle" column family (microseconds when cached, a disk
 * seek when not). So we count reads, not hashes:
 *
 *   - Only complete, aligned subtrees are stored, keyed (level, index). Such
 *     a node never changes after it is written: no overwrites, no
 *     read-modify-write on append. An append emits one leaf and on average
 *     one parent (the trailing one-bits of the old size).
 *   - The writer keeps the frontier (one hash per set bit of the size, 2 KiB)
 *     in memory, so appending and signing a checkpoint need no reads.
 *   - Every range the RFC recursion hashes is [lo, hi) with lo a multiple of
 *     the next power of two >= hi - lo; it is complete, or it is the right
 *     edge of the tree and splits into popcount(hi - lo) complete pieces.
 *     A proof contains at most one such partial range (the first sibling
 *     taken on the right after the path has gone left; everything below
 *     lies inside a complete subtree). Hence at most popcount(size) reads
 *     for a root, 2*ceil(log2 n) - 2 for an inclusion proof and
 *     2*ceil(log2 n) - 1 for a consistency proof (46 and 47 at 10^7).
 *
 * The verifiers transcribe RFC 9162 §2.1.3.2 and §2.1.4.2 step by step,
 * so their acceptance is the RFC's, including the exact proof length.
 */
#include "ledger/merkle.h"

#include <inttypes.h>
#include <stdbool.h>
#include <string.h>

#include <sodium.h>

/* A leaf range [lo, hi) of the tree. */
typedef struct merkle_range {
    uint64_t lo;
    uint64_t hi;
} merkle_range;

void tz_merkle_leaf_hash(uint8_t out[32], const uint8_t *leaf, size_t len)
{
    static const uint8_t prefix = 0x00;
    crypto_hash_sha256_state state;
    (void)crypto_hash_sha256_init(&state);
    (void)crypto_hash_sha256_update(&state, &prefix, 1);
    if (len > 0)
        (void)crypto_hash_sha256_update(&state, leaf, len);
    (void)crypto_hash_sha256_final(&state, out);
}

void tz_merkle_node_hash(uint8_t out[32], const uint8_t left[32], const uint8_t right[32])
{
    uint8_t buf[1 + 2 * TZ_MERKLE_HASH_LEN];
    buf[0] = 0x01;
    memcpy(buf + 1, left, TZ_MERKLE_HASH_LEN);
    memcpy(buf + 1 + TZ_MERKLE_HASH_LEN, right, TZ_MERKLE_HASH_LEN);
    (void)crypto_hash_sha256(out, buf, sizeof buf);
}

void tz_merkle_empty_root(uint8_t out[32])
{
    (void)crypto_hash_sha256(out, NULL, 0);
}

/* The largest power of two strictly below n; n >= 2. */
static uint64_t merkle_split(uint64_t n)
{
    return (uint64_t)1 << (63 - __builtin_clzll(n - 1));
}

/* Reads one node. NOTFOUND gets a message naming the node; every other
 * error of the reader passes through untouched. */
static int merkle_read_node(tz_merkle_read_fn read, void *ctx, unsigned level, uint64_t index,
                            uint8_t out[32], tz_err *err)
{
    int rc = read(ctx, level, index, out, err);
    if (rc == TZ_OK)
        return TZ_OK;
    if (rc == TZ_ERR_NOTFOUND)
        return tz_err_set(err, TZ_ERR_NOTFOUND,
                          "merkle node (level %u, index %" PRIu64 ") is not stored", level, index);
    if (rc > 0)
        return tz_err_set(err, TZ_ERR_INTERNAL,
                          "merkle node (level %u, index %" PRIu64 "): reader returned %d",
                          level, index, rc);
    return rc;
}

/* Reads the complete aligned pieces of [lo, hi), largest (leftmost) first,
 * into pieces; *count gets their number, popcount(hi - lo). lo must be a
 * multiple of the largest piece, which holds for every range of the RFC
 * recursion and for [0, size). */
static int merkle_read_pieces(merkle_range range, tz_merkle_read_fn read, void *ctx,
                              uint8_t pieces[64][32], unsigned *count, tz_err *err)
{
    uint64_t width_left = range.hi - range.lo;
    uint64_t offset = range.lo;
    unsigned n = 0;
    for (int level = 63; level >= 0; level--) {
        uint64_t width = (uint64_t)1 << level;
        if ((width_left & width) == 0)
            continue;
        int rc = merkle_read_node(read, ctx, (unsigned)level, offset >> level, pieces[n], err);
        if (rc != TZ_OK)
            return rc;
        n++;
        offset += width;
    }
    *count = n;
    return TZ_OK;
}

/* out = the hash of the right-edge subtree made of pieces[0..count), count
 * >= 1: pieces combine right to left, as the RFC recursion would. */
static void merkle_fold(const uint8_t pieces[][32], unsigned count, uint8_t out[32])
{
    uint8_t acc[32];
    memcpy(acc, pieces[count - 1], sizeof acc);
    for (unsigned i = count - 1; i-- > 0;)
        tz_merkle_node_hash(acc, pieces[i], acc);
    memcpy(out, acc, sizeof acc);
}

/* out = MTH of the leaves in range (non-empty), with popcount(width) reads. */
static int merkle_range_hash(merkle_range range, tz_merkle_read_fn read, void *ctx,
                             uint8_t out[32], tz_err *err)
{
    uint8_t pieces[64][32];
    unsigned count = 0;
    int rc = merkle_read_pieces(range, read, ctx, pieces, &count, err);
    if (rc != TZ_OK)
        return rc;
    merkle_fold((const uint8_t(*)[32])pieces, count, out);
    return TZ_OK;
}

/* Hashes ranges[0..count) into out->hashes in reverse order (the recursions
 * below record ranges top-down; proofs list them bottom-up). */
static int merkle_proof_fill(tz_merkle_proof *out, const merkle_range *ranges, size_t count,
                             tz_merkle_read_fn read, void *ctx, tz_err *err)
{
    uint8_t hashes[TZ_MERKLE_MAX_PROOF][32];
    for (size_t i = 0; i < count; i++) {
        int rc = merkle_range_hash(ranges[count - 1 - i], read, ctx, hashes[i], err);
        if (rc != TZ_OK)
            return rc;
    }
    out->count = count;
    memcpy(out->hashes, hashes, count * sizeof hashes[0]);
    return TZ_OK;
}

void tz_merkle_frontier_init(tz_merkle_frontier *f)
{
    memset(f, 0, sizeof *f);
}

int tz_merkle_frontier_load(tz_merkle_frontier *f, uint64_t size, tz_merkle_read_fn read,
                            void *ctx, tz_err *err)
{
    if (f == NULL || read == NULL)
        return tz_err_set(err, TZ_ERR_USAGE, "merkle frontier load: f and read must not be NULL");
    tz_merkle_frontier loaded;
    tz_merkle_frontier_init(&loaded);
    merkle_range all = { 0, size };
    int rc = merkle_read_pieces(all, read, ctx, loaded.hashes, &loaded.count, err);
    if (rc != TZ_OK)
        return rc;
    loaded.size = size;
    *f = loaded;
    return TZ_OK;
}

int tz_merkle_frontier_append(tz_merkle_frontier *f, const uint8_t leaf_hash[32],
                              tz_merkle_emit_fn emit, void *ctx, tz_err *err)
{
    if (f == NULL || leaf_hash == NULL)
        return tz_err_set(err, TZ_ERR_USAGE, "merkle append: f and leaf_hash must not be NULL");
    if (f->count > 64 || f->count != (unsigned)__builtin_popcountll(f->size))
        return tz_err_set(err, TZ_ERR_INTERNAL,
                          "merkle frontier: count %u does not match size %" PRIu64
                          " (must be popcount(size))", f->count, f->size);
    if (f->size == UINT64_MAX)
        return tz_err_set(err, TZ_ERR_USAGE, "merkle append: the tree is full (%" PRIu64 " leaves)",
                          f->size);

    /* Each trailing one-bit of size is a piece at the end of the frontier
     * that the new leaf closes into a parent. Nothing in *f changes until
     * every emit has succeeded. */
    uint8_t node[32];
    memcpy(node, leaf_hash, sizeof node);
    uint64_t index = f->size;
    unsigned level = 0;
    unsigned count = f->count;
    for (;;) {
        if (emit != NULL) {
            int rc = emit(ctx, level, index, node, err);
            if (rc != TZ_OK)
                return rc;
        }
        if ((index & 1) == 0)
            break;
        count--;
        tz_merkle_node_hash(node, f->hashes[count], node);
        index >>= 1;
        level++;
    }
    memcpy(f->hashes[count], node, sizeof node);
    f->count = count + 1;
    f->size++;
    return TZ_OK;
}

void tz_merkle_frontier_root(const tz_merkle_frontier *f, uint8_t root[32])
{
    unsigned count = f->count <= 64 ? f->count : 64;
    if (count == 0) {
        tz_merkle_empty_root(root);
        return;
    }
    merkle_fold((const uint8_t(*)[32])f->hashes, count, root);
}

int tz_merkle_root(uint8_t out[32], uint64_t size, tz_merkle_read_fn read, void *ctx, tz_err *err)
{
    if (out == NULL || read == NULL)
        return tz_err_set(err, TZ_ERR_USAGE, "merkle root: out and read must not be NULL");
    if (size == 0) {
        tz_merkle_empty_root(out);
        return TZ_OK;
    }
    merkle_range all = { 0, size };
    return merkle_range_hash(all, read, ctx, out, err);
}

int tz_merkle_inclusion_proof(tz_merkle_proof *out, uint64_t index, uint64_t size,
                              tz_merkle_read_fn read, void *ctx, tz_err *err)
{
    if (out == NULL || read == NULL)
        return tz_err_set(err, TZ_ERR_USAGE,
                          "merkle inclusion proof: out and read must not be NULL");
    if (index >= size)
        return tz_err_set(err, TZ_ERR_USAGE,
                          "merkle inclusion proof: index %" PRIu64 " must be below size %" PRIu64,
                          index, size);

    /* RFC 9162 §2.1.3.1 PATH(m, D[n]), unrolled: with k the largest power
     * of two below n, descend into the half holding m and record the other
     * half. */
    merkle_range siblings[64];
    size_t count = 0;
    merkle_range node = { 0, size };
    while (node.hi - node.lo > 1) {
        uint64_t k = merkle_split(node.hi - node.lo);
        uint64_t mid = node.lo + k;
        if (index < mid) {
            siblings[count++] = (merkle_range){ mid, node.hi };
            node.hi = mid;
        } else {
            siblings[count++] = (merkle_range){ node.lo, mid };
            node.lo = mid;
        }
    }
    return merkle_proof_fill(out, siblings, count, read, ctx, err);
}

int tz_merkle_consistency_proof(tz_merkle_proof *out, uint64_t size1, uint64_t size2,
                                tz_merkle_read_fn read, void *ctx, tz_err *err)
{
    if (out == NULL || read == NULL)
        return tz_err_set(err, TZ_ERR_USAGE,
                          "merkle consistency proof: out and read must not be NULL");
    if (size1 == 0 || size1 > size2)
        return tz_err_set(err, TZ_ERR_USAGE,
                          "merkle consistency proof: sizes %" PRIu64 " and %" PRIu64
                          " must satisfy 0 < size1 <= size2", size1, size2);

    /* RFC 9162 §2.1.4.1 SUBPROOF(m, D[n], b), unrolled. While the old tree
     * ends inside the current range: if it ends in the left half, record
     * the right half and descend left; otherwise record the (complete, shared)
     * left half and descend right, after which the range is no longer a
     * root of the old tree (b = false). When the old tree ends exactly at
     * the range's end, the range itself is recorded unless it is the old
     * root (b = true). size1 == size2 records nothing. */
    merkle_range ranges[65];
    size_t count = 0;
    merkle_range node = { 0, size2 };
    bool old_root = true;
    while (size1 != node.hi) {
        uint64_t k = merkle_split(node.hi - node.lo);
        uint64_t mid = node.lo + k;
        if (size1 - node.lo <= k) {
            ranges[count++] = (merkle_range){ mid, node.hi };
            node.hi = mid;
        } else {
            ranges[count++] = (merkle_range){ node.lo, mid };
            node.lo = mid;
            old_root = false;
        }
    }
    if (!old_root)
        ranges[count++] = node;
    return merkle_proof_fill(out, ranges, count, read, ctx, err);
}

static bool merkle_lsb(uint64_t x)
{
    return (x & 1) != 0;
}

int tz_merkle_verify_inclusion(const uint8_t leaf_hash[32], uint64_t index, uint64_t size,
                               const tz_merkle_proof *proof, const uint8_t root[32], tz_err *err)
{
    if (leaf_hash == NULL || proof == NULL || root == NULL)
        return tz_err_set(err, TZ_ERR_USAGE,
                          "merkle verify inclusion: leaf_hash, proof and root must not be NULL");
    if (proof->count > TZ_MERKLE_MAX_PROOF)
        return tz_err_set(err, TZ_ERR_PROOF, "inclusion proof: %zu hashes, at most %d allowed",
                          proof->count, TZ_MERKLE_MAX_PROOF);
    /* 1. leaf_index must be below tree_size. */
    if (index >= size)
        return tz_err_set(err, TZ_ERR_PROOF,
                          "inclusion proof: index %" PRIu64 " is not below tree size %" PRIu64,
                          index, size);
    /* 2., 3. */
    uint64_t fn = index;
    uint64_t sn = size - 1;
    uint8_t r[32];
    memcpy(r, leaf_hash, sizeof r);
    /* 4. */
    for (size_t i = 0; i < proof->count; i++) {
        const uint8_t *p = proof->hashes[i];
        if (sn == 0)
            return tz_err_set(err, TZ_ERR_PROOF,
                              "inclusion proof: %zu hashes is too many for index %" PRIu64
                              " in tree size %" PRIu64, proof->count, index, size);
        if (merkle_lsb(fn) || fn == sn) {
            tz_merkle_node_hash(r, p, r);
            if (!merkle_lsb(fn)) {
                while (!merkle_lsb(fn) && fn != 0) {
                    fn >>= 1;
                    sn >>= 1;
                }
            }
        } else {
            tz_merkle_node_hash(r, r, p);
        }
        fn >>= 1;
        sn >>= 1;
    }
    /* 5. */
    if (sn != 0)
        return tz_err_set(err, TZ_ERR_PROOF,
                          "inclusion proof: %zu hashes is too few for index %" PRIu64
                          " in tree size %" PRIu64, proof->count, index, size);
    if (sodium_memcmp(r, root, sizeof r) != 0)
        return tz_err_set(err, TZ_ERR_PROOF,
                          "inclusion proof: the root computed for index %" PRIu64
                          " in tree size %" PRIu64 " does not match the given root", index, size);
    return TZ_OK;
}

int tz_merkle_verify_consistency(uint64_t size1, uint64_t size2, const tz_merkle_proof *proof,
                                 const uint8_t root1[32], const uint8_t root2[32], tz_err *err)
{
    if (proof == NULL || root1 == NULL || root2 == NULL)
        return tz_err_set(err, TZ_ERR_USAGE,
                          "merkle verify consistency: proof, root1 and root2 must not be NULL");
    if (proof->count > TZ_MERKLE_MAX_PROOF)
        return tz_err_set(err, TZ_ERR_PROOF, "consistency proof: %zu hashes, at most %d allowed",
                          proof->count, TZ_MERKLE_MAX_PROOF);
    if (size1 == 0)
        return tz_err_set(
            err, TZ_ERR_PROOF,
            "consistency proof: size1 is 0 (RFC 9162 proves only 0 < size1 <= size2)");
    if (size1 > size2)
        return tz_err_set(err, TZ_ERR_PROOF,
                          "consistency proof: size1 %" PRIu64 " is larger than size2 %" PRIu64,
                          size1, size2);
    if (size1 == size2) {
        if (proof->count != 0)
            return tz_err_set(err, TZ_ERR_PROOF,
                              "consistency proof: equal sizes need an empty proof, got %zu hashes",
                              proof->count);
        if (sodium_memcmp(root1, root2, 32) != 0)
            return tz_err_set(err, TZ_ERR_PROOF,
                              "consistency proof: equal sizes %" PRIu64 " with different roots",
                              size1);
        return TZ_OK;
    }
    /* 1. */
    if (proof->count == 0)
        return tz_err_set(err, TZ_ERR_PROOF,
                          "consistency proof: empty proof for sizes %" PRIu64 " < %" PRIu64,
                          size1, size2);
    /* 2. When size1 is a power of two, first_hash is prepended: path[0] is
     * root1 and path[i] is proof->hashes[i - 1]. */
    size_t shift = (size1 & (size1 - 1)) == 0 ? 1 : 0;
    size_t path_len = proof->count + shift;
#define MERKLE_PATH(i) ((i) < shift ? root1 : proof->hashes[(i) - shift])
    /* 3. */
    uint64_t fn = size1 - 1;
    uint64_t sn = size2 - 1;
    /* 4. */
    while (merkle_lsb(fn)) {
        fn >>= 1;
        sn >>= 1;
    }
    /* 5. */
    uint8_t fr[32], sr[32];
    memcpy(fr, MERKLE_PATH(0), sizeof fr);
    memcpy(sr, MERKLE_PATH(0), sizeof sr);
    /* 6. */
    for (size_t i = 1; i < path_len; i++) {
        const uint8_t *c = MERKLE_PATH(i);
        if (sn == 0)
            return tz_err_set(err, TZ_ERR_PROOF,
                              "consistency proof: %zu hashes is too many for sizes %" PRIu64
                              " and %" PRIu64, proof->count, size1, size2);
        if (merkle_lsb(fn) || fn == sn) {
            tz_merkle_node_hash(fr, c, fr);
            tz_merkle_node_hash(sr, c, sr);
            if (!merkle_lsb(fn)) {
                while (!merkle_lsb(fn) && fn != 0) {
                    fn >>= 1;
                    sn >>= 1;
                }
            }
        } else {
            tz_merkle_node_hash(sr, sr, c);
        }
        fn >>= 1;
        sn >>= 1;
    }
#undef MERKLE_PATH
    /* 7. */
    if (sn != 0)
        return tz_err_set(err, TZ_ERR_PROOF,
                          "consistency proof: %zu hashes is too few for sizes %" PRIu64
                          " and %" PRIu64, proof->count, size1, size2);
    if (sodium_memcmp(fr, root1, sizeof fr) != 0)
        return tz_err_set(err, TZ_ERR_PROOF,
                          "consistency proof: the old root computed for size %" PRIu64
                          " does not match root1", size1);
    if (sodium_memcmp(sr, root2, sizeof sr) != 0)
        return tz_err_set(err, TZ_ERR_PROOF,
                          "consistency proof: the new root computed for size %" PRIu64
                          " does not match root2", size2);
    return TZ_OK;
}
