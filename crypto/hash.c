/*
 * hash.c: SHA-256 (libsodium crypto_hash_sha256) and constant-time equality
 * (sodium_memcmp). Kept as a module of its own so that every caller gets the
 * same hash and the same comparison: an early-exit memcmp on a root hash or
 * a MAC leaks, through timing, how many leading bytes an attacker guessed.
 */
#include "crypto/hash.h"

#include <sodium.h>

void tz_hash_sha256(uint8_t out[TZ_HASH_LEN], const void *data, size_t len)
{
    static const uint8_t empty[1];
    if (data == NULL)
        data = empty, len = 0;
    crypto_hash_sha256(out, data, len);
}

int tz_hash_equal(const uint8_t *a, const uint8_t *b, size_t len)
{
    if (len == 0)
        return 1;
    return sodium_memcmp(a, b, len) == 0;
}
