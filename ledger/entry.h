/*
 * entry.h: the entry, the unit of the log and its Merkle leaf.
 *
 * An entry is a canonical msgpack map with exactly these keys (in the
 * codec's key order: bytewise on the keys' UTF-8 bytes, see docs/CODEC.md):
 *   "prev"        bin 32  leaf hash of entry seq-1 (32 zero bytes for seq 0)
 *   "recorded_at" uint    server clock, microseconds since the Unix epoch;
 *                         never smaller than the previous entry's
 *   "seq"         uint    position in the log = Merkle leaf index
 *   "sigs"        array   1..TZ_ENTRY_MAX_SIGS maps {"key": bin 32 Ed25519
 *                         public key, "sig": bin 64 signature over
 *                         TZ_STATEMENT_TAG || statement}, distinct keys
 *   "statement"   bin     the canonical statement bytes the actors signed
 * The server-assigned fields (prev, recorded_at, seq) are never signed by
 * the actors; they are bound by the hash chain, the tree and checkpoints.
 */
#ifndef TZ_LEDGER_ENTRY_H
#define TZ_LEDGER_ENTRY_H

#include <msgpack.h>
#include <stddef.h>
#include <stdint.h>

#include "util/status.h"

#define TZ_ENTRY_MAX_SIGS 16
#define TZ_STATEMENT_MAX (64u * 1024u)     /* bytes of one statement */
#define TZ_ENTRY_MAX (TZ_STATEMENT_MAX + 4096u)

typedef struct tz_signature {
    uint8_t key[32];
    uint8_t sig[64];
} tz_signature;

typedef struct tz_entry {
    uint64_t seq;
    uint64_t recorded_at;
    uint8_t prev[32];
    const uint8_t *statement; /* borrowed: points into the caller's buffer */
    size_t statement_len;
    size_t nsigs;
    tz_signature sigs[TZ_ENTRY_MAX_SIGS];
} tz_entry;

/* Encodes e canonically into out (which the caller owns and has
 * initialised; the entry is appended). TZ_ERR_INPUT when e breaks a limit
 * (no signature, too many, duplicate key, statement too large). */
int tz_entry_encode(msgpack_sbuffer *out, const tz_entry *e, tz_err *err) TZ_MUST_CHECK;

/* Decodes data strictly: canonical msgpack (see codec.h), exactly the keys
 * above with their types and limits. On TZ_OK e->statement points into
 * data. TZ_ERR_INPUT naming the field and rule otherwise; *e is then
 * unspecified. */
int tz_entry_decode(tz_entry *e, const uint8_t *data, size_t len, tz_err *err) TZ_MUST_CHECK;

/* Verifies every signature of e over its statement (Ed25519 with the
 * statement tag). TZ_ERR_SIGNATURE naming the signature's index and key. */
int tz_entry_verify_signatures(const tz_entry *e, tz_err *err) TZ_MUST_CHECK;

#endif
