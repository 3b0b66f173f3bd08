/*
 * hash.h: SHA-256 and constant-time comparison, the two hash primitives the
 * ledger exchanges with the outside (RFC 6962 trees, key ids, entry chains).
 */
#ifndef TZ_CRYPTO_HASH_H
#define TZ_CRYPTO_HASH_H

#include <stddef.h>
#include <stdint.h>

#define TZ_HASH_LEN 32

/* Writes SHA-256(data[0..len)) to out. data may be NULL when len is 0.
 * Cannot fail; out may alias data. */
void tz_hash_sha256(uint8_t out[TZ_HASH_LEN], const void *data, size_t len);

/* Compares a[0..len) with b[0..len) in time that depends only on len (never
 * on where the first difference is). Returns 1 when equal, 0 when not; two
 * empty ranges are equal. Use it for every hash, MAC and key comparison. */
int tz_hash_equal(const uint8_t *a, const uint8_t *b, size_t len);

#endif
