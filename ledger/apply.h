/*
 * apply.h: deciding a statement against the state built so far, and
 * writing the state it changes.
 *
 * This is the one implementation of "is this statement allowed here": the
 * appender runs it before a statement gets a seq, and the verifier runs it
 * again on every entry while replaying into a scratch store, so an entry
 * the appender would have refused is reported as tampering.
 *
 * State lives in the index column family (keys below) and is read through
 * the batch being built, so a statement sees the effects of the statements
 * before it in the same group commit:
 *   "id\0"    || statement id          -> {"seq"}
 *   "key\0"   || 32-byte public key    -> key record (see tz_key_record)
 *   "cosig\0" || seq (u64 BE) || key   -> {"seq"} one co-signature
 * Genesis writes a record for each root key (role "root") and one for the
 * log key (role "log": it may never sign a statement nor be granted).
 * Every index value is a canonical msgpack map with a "seq" field naming
 * the entry that last wrote it (the verifier reports that seq on mismatch).
 *
 * Every other known type is a domain record (projections/domain.h): this
 * file checks the signers' keys and the id, then hands the statement to
 * tz_domain_apply; a cosign of a domain record goes through
 * tz_domain_cosign too.
 *
 * Statement types of the ledger core (docs/EVENTS.md):
 *   genesis     seq 0 only, signed by the log key alone
 *   key.grant   signed by a root key or a key holding role "authority"
 *               (only a root key may grant "authority")
 *   key.revoke  signed by a root key, an "authority" key, or the key itself
 *               (only a root key may revoke a root or authority key)
 *   memo        any active key
 *   cosign      any active key that has not yet signed that entry
 * Every signature on an entry must be by a key that is granted (or a root
 * key named in genesis) and not revoked at that point of the chain.
 */
#ifndef TZ_LEDGER_APPLY_H
#define TZ_LEDGER_APPLY_H

#include <stddef.h>
#include <stdint.h>

#include "crypto/key.h"
#include "ledger/entry.h"
#include "ledger/statement.h"
#include "ledger/store.h"
#include "util/status.h"

#define TZ_MAX_ROLES 16
#define TZ_ROLE_MAX 40
#define TZ_HOLDER_MAX 128
#define TZ_SCOPE_MAX 256
/* A statement's `at` may not be later than the server clock by more than this. */
#define TZ_AT_FUTURE_SLACK_SECONDS 600

typedef struct tz_key_record {
    uint8_t pk[32];
    char name[TZ_KEY_NAME_MAX + 1];
    char holder[TZ_HOLDER_MAX + 1];
    char scope[TZ_SCOPE_MAX + 1];
    size_t nroles;
    char roles[TZ_MAX_ROLES][TZ_ROLE_MAX + 1];
    uint64_t granted_seq;
    int revoked;
    uint64_t revoked_seq;
    int root;                    /* named in genesis */
} tz_key_record;

/* Decoded key records kept across statements: the signers of a long log
 * are few, and re-reading and decoding the same record for every entry cost
 * ~6% of a replay. Zero-initialise it; apply keeps it in step with every
 * key record it writes, so it holds what the batch holds. A caller that
 * rolls a statement back (the appender) or whose batch fails to commit
 * must empty it then (tz_key_cache_clear): it would keep the rolled-back
 * writes. */
#define TZ_KEY_CACHE_SIZE 8
typedef struct tz_key_cache {
    size_t count;
    size_t next;                 /* round-robin victim when full */
    tz_key_record records[TZ_KEY_CACHE_SIZE];
} tz_key_cache;

static inline void tz_key_cache_clear(tz_key_cache *c)
{
    if (c != NULL) {
        c->count = 0;
        c->next = 0;
    }
}

typedef struct tz_apply_ctx {
    tz_store_batch *batch;       /* state reads and writes */
    uint64_t seq;                /* the seq this statement will have */
    uint64_t recorded_at;        /* its server time, microseconds */
    const tz_statement *st;
    const uint8_t *statement;    /* the signed bytes */
    size_t statement_len;
    const tz_signature *sigs;
    size_t nsigs;
    tz_key_cache *key_cache;     /* optional, see tz_key_cache; NULL to read the store */
    struct tz_profile_cache *profile_cache; /* optional (projections/domain.h) */
    int id_unused;               /* 1: the caller found st's id unused in this batch */
    /* filled by tz_apply_statement: the signers' records, in sigs order */
    tz_key_record signers[TZ_ENTRY_MAX_SIGS];
} tz_apply_ctx;

/* Decides ctx->st at ctx->seq and, when it is allowed, adds its state
 * changes to ctx->batch. Signatures must have been verified already
 * (tz_entry_verify_signatures); this checks who signed. Errors:
 * TZ_ERR_SIGNATURE (unknown or revoked key), TZ_ERR_FORBIDDEN (no signer
 * holds the needed role), TZ_ERR_RULE (a rule of the type), TZ_ERR_INPUT
 * (body malformed), TZ_ERR_IO. On error the batch may hold part of the
 * statement's writes: the caller rolls back to its mark. */
int tz_apply_statement(tz_apply_ctx *ctx, tz_err *err) TZ_MUST_CHECK;

/* Reads the key record of pk as the batch sees it. TZ_ERR_NOTFOUND when
 * the key was never granted. */
int tz_apply_key_get(tz_store_batch *batch, const uint8_t pk[32], tz_key_record *out,
                     tz_err *err) TZ_MUST_CHECK;

/* Reads the seq of statement id, TZ_ERR_NOTFOUND when unused.
 * TZ_ERR_INPUT ("id: N bytes (at most 128, at least 1)") when len is 0 or
 * above TZ_STATEMENT_ID_MAX, before anything is read or copied: no
 * statement can carry such an id. *seq is left alone on every error. */
int tz_apply_id_get(tz_store_batch *batch, const char *id, size_t len, uint64_t *seq,
                    tz_err *err) TZ_MUST_CHECK;

/* Reads the "seq" field of any index value (for the verifier's report). */
int tz_apply_value_seq(const uint8_t *val, size_t len, uint64_t *seq);

/* 1 if the record holds role (a root key holds every role). */
int tz_apply_key_has_role(const tz_key_record *rec, const char *role);

#endif
