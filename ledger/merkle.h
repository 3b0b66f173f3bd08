/*
 * merkle.h: the ledger's Merkle tree, exactly as RFC 6962 / RFC 9162 §2.1
 * (SHA-256; leaf hash SHA-256(0x00 || leaf), node hash
 * SHA-256(0x01 || left || right), empty tree SHA-256 of nothing), so that
 * roots, inclusion proofs and consistency proofs interoperate with
 * transparency-log tooling.
 *
 * Storage model. Node (level, index) is the hash of the complete, aligned
 * subtree of leaves [index << level, (index + 1) << level); level 0 holds the
 * leaf hashes. Only complete nodes are ever stored, so a stored node never
 * changes. A subtree that is not complete (the right edge of a tree whose
 * size is not a power of two) is computed from its complete aligned pieces.
 * The module never touches storage itself: it asks a tz_merkle_read_fn for
 * nodes and hands new nodes to a tz_merkle_emit_fn, so the caller decides
 * where they live (the RocksDB "merkle" column family, or memory in tests).
 *
 * Cost. Every function that reads does O(log n) reads: a root takes
 * popcount(size) reads, an inclusion proof at most 2*ceil(log2 size) - 2,
 * a consistency proof at most 2*ceil(log2 size2) - 1. Leaves are never read
 * one by one. Appending and computing the current root need no reads at all
 * (tz_merkle_frontier).
 */
#ifndef TZ_LEDGER_MERKLE_H
#define TZ_LEDGER_MERKLE_H

#include <stddef.h>
#include <stdint.h>

#include "util/status.h"

#define TZ_MERKLE_HASH_LEN 32
/* Inclusion proofs have at most 64 hashes, consistency proofs at most 65. */
#define TZ_MERKLE_MAX_PROOF 128

/* out = SHA-256(0x00 || leaf[0..len)). leaf may be NULL when len is 0. */
void tz_merkle_leaf_hash(uint8_t out[32], const uint8_t *leaf, size_t len);

/* out = SHA-256(0x01 || left || right). out may alias left or right. */
void tz_merkle_node_hash(uint8_t out[32], const uint8_t left[32], const uint8_t right[32]);

/* out = SHA-256("") = e3b0c442...b855, the root of the empty tree. */
void tz_merkle_empty_root(uint8_t out[32]);

/* Reads node (level, index) into out. Returns TZ_OK, TZ_ERR_NOTFOUND when
 * the node is not stored, or another negative code (an I/O error) with err
 * set; this module propagates that code and message unchanged. The module
 * only asks for nodes that are complete within the tree size it was given. */
typedef int (*tz_merkle_read_fn)(void *ctx, unsigned level, uint64_t index,
                                 uint8_t out[32], tz_err *err);

/* Receives a node that has just become complete. Returns TZ_OK or a
 * negative code with err set; a failure aborts the append. */
typedef int (*tz_merkle_emit_fn)(void *ctx, unsigned level, uint64_t index,
                                 const uint8_t hash[32], tz_err *err);

/* The compact range [0, size): one hash per set bit of size, the complete
 * subtrees on the right edge, highest level first (hashes[0] covers the
 * leftmost, largest piece). Enough to append and to compute the root with no
 * reads. 2 KiB; plain data, copy it freely. */
typedef struct tz_merkle_frontier {
    uint64_t size;
    unsigned count;
    uint8_t hashes[64][32];
} tz_merkle_frontier;

/* Sets *f to the empty tree (size 0). */
void tz_merkle_frontier_init(tz_merkle_frontier *f);

/* Sets *f to the frontier of the stored tree of the given size, reading
 * exactly popcount(size) nodes (none for size 0).
 * Errors: TZ_ERR_USAGE (f or read NULL); TZ_ERR_NOTFOUND when a node the
 * size needs is not stored (the size is beyond the stored tree, or the store
 * lost a node); any error of read, unchanged. On error *f is unchanged. */
int tz_merkle_frontier_load(tz_merkle_frontier *f, uint64_t size,
                            tz_merkle_read_fn read, void *ctx, tz_err *err) TZ_MUST_CHECK;

/* Appends the leaf hash leaf_hash as leaf number f->size. Calls emit (when
 * not NULL) for every node that becomes complete, in this order: first
 * (0, size, leaf_hash), then each parent that closes, level by level upward.
 * A caller writes them in the same batch as the entry.
 * Errors: TZ_ERR_USAGE (f or leaf_hash NULL, or the tree already holds
 * UINT64_MAX leaves); TZ_ERR_INTERNAL when *f is not a valid frontier
 * (count != popcount(size)); any error of emit, unchanged. On error *f is
 * unchanged (the nodes emitted before the failure may have been recorded by
 * the callee: discard the batch). */
int tz_merkle_frontier_append(tz_merkle_frontier *f, const uint8_t leaf_hash[32],
                              tz_merkle_emit_fn emit, void *ctx, tz_err *err) TZ_MUST_CHECK;

/* root = the RFC 6962 MTH of leaves [0, f->size); the empty root for size 0.
 * No reads. f must come from init, load or append. */
void tz_merkle_frontier_root(const tz_merkle_frontier *f, uint8_t root[32]);

/* out = the MTH of the stored tree of the given size (the empty root for
 * size 0), with exactly popcount(size) reads.
 * Errors: TZ_ERR_USAGE (out or read NULL); TZ_ERR_NOTFOUND; errors of read,
 * unchanged. On error out is unchanged. */
int tz_merkle_root(uint8_t out[32], uint64_t size, tz_merkle_read_fn read, void *ctx,
                   tz_err *err) TZ_MUST_CHECK;

typedef struct tz_merkle_proof {
    size_t count;
    uint8_t hashes[TZ_MERKLE_MAX_PROOF][32];
} tz_merkle_proof;

/* *out = PATH(index, D[size]) of RFC 9162 §2.1.3.1: the audit path from the
 * leaf up, sibling nearest the leaf first. At most 2*ceil(log2 size) - 2
 * reads (1 for size 2, 0 for size 1).
 * Errors: TZ_ERR_USAGE (out or read NULL, index >= size); TZ_ERR_NOTFOUND;
 * errors of read, unchanged. On error *out is unchanged. */
int tz_merkle_inclusion_proof(tz_merkle_proof *out, uint64_t index, uint64_t size,
                              tz_merkle_read_fn read, void *ctx, tz_err *err) TZ_MUST_CHECK;

/* *out = PROOF(size1, D[size2]) of RFC 9162 §2.1.4.1; an empty proof when
 * size1 == size2. At most 2*ceil(log2 size2) - 1 reads.
 * Errors: TZ_ERR_USAGE (out or read NULL, size1 == 0, size1 > size2);
 * TZ_ERR_NOTFOUND; errors of read, unchanged. On error *out is unchanged. */
int tz_merkle_consistency_proof(tz_merkle_proof *out, uint64_t size1, uint64_t size2,
                                tz_merkle_read_fn read, void *ctx, tz_err *err) TZ_MUST_CHECK;

/* Checks that leaf_hash is leaf number index of the tree of the given size
 * whose root is root, with the algorithm of RFC 9162 §2.1.3.2 exactly.
 * Returns TZ_OK, or TZ_ERR_PROOF with the reason (index >= size, proof too
 * long or too short for index and size, more than TZ_MERKLE_MAX_PROOF
 * hashes, computed root differs); TZ_ERR_USAGE when a pointer is NULL.
 * Hashes are compared in constant time. Nothing is modified. */
int tz_merkle_verify_inclusion(const uint8_t leaf_hash[32], uint64_t index, uint64_t size,
                               const tz_merkle_proof *proof, const uint8_t root[32],
                               tz_err *err) TZ_MUST_CHECK;

/* Checks that the tree (size2, root2) extends the tree (size1, root1), with
 * the algorithm of RFC 9162 §2.1.4.2 exactly. size1 == size2 verifies only
 * with an empty proof and equal roots; size1 == 0 and size1 > size2 are
 * rejected (RFC 9162 defines proofs for 0 < size1 <= size2 only).
 * Returns TZ_OK, or TZ_ERR_PROOF with the reason; TZ_ERR_USAGE when a
 * pointer is NULL. Hashes are compared in constant time. Nothing is
 * modified. */
int tz_merkle_verify_consistency(uint64_t size1, uint64_t size2, const tz_merkle_proof *proof,
                                 const uint8_t root1[32], const uint8_t root2[32],
                                 tz_err *err) TZ_MUST_CHECK;

#endif
