/*
 * witness.h: witnesses (C2SP tlog-witness semantics, tlog-cosignature/v1
 * format). A witness keeps, per log origin, the last checkpoint it
 * cosigned, and cosigns a new one only when it is signed by the log key
 * and provably extends the old one (an RFC 9162 consistency proof), so a
 * log that shows two histories (a split view) or rewrites one (a rollback,
 * or a fork re-signed with the real log key) cannot gather cosignatures for
 * both. A verifier then trusts a checkpoint only with the log's signature
 * AND the cosignatures of K witnesses it chose (tz_witness_policy_check).
 *
 * Cosignature format (c2sp.org/tlog-cosignature, Ed25519, "cosignature/v1"):
 *
 *   key id    = big-endian uint32 of SHA-256(name || 0x0A || 0x04 || pk)[0..4)
 *   message   = "cosignature/v1\n" "time " decimal(T) "\n" || note text
 *   line      = "— " name " " base64(key id || uint64be(T) || Ed25519(sk, message))
 *
 * A witness key is an ordinary taizhang Ed25519 key (taizhang keygen, type
 * 0x01 in its key files): the cosignature key id is derived from the same
 * name and public key with the algorithm byte 0x04. The cosigner's verifier
 * key string in the spec's form, name+hex8(id 0x04)+base64(0x04 || pk), is
 * accepted and written too (tz_witness_key_parse / _format), so keys can be
 * exchanged with other tlog-witness tools. docs/WITNESS.md has every byte.
 */
#ifndef TZ_LEDGER_WITNESS_H
#define TZ_LEDGER_WITNESS_H

#include <stddef.h>
#include <stdint.h>

#include "crypto/key.h"
#include "crypto/note.h"
#include "ledger/checkpoint.h"
#include "ledger/merkle.h"
#include "util/status.h"

#define TZ_WITNESS_ALG 0x04                    /* C2SP signature type of cosignature/v1 (Ed25519) */
#define TZ_WITNESS_TIME_MAX INT64_MAX          /* the spec: timestamps never exceed 2^63 - 1 */
#define TZ_WITNESS_MAX 32                      /* witnesses in one policy or daemon configuration */
#define TZ_WITNESS_PROOF_MAX_JSON 16384        /* bytes of a consistency proof JSON file */

/* The cosignature key id of witness (name and pk; witness->id, the 0x01
 * note key id, is not used): the first four bytes, big-endian, of
 * SHA-256(name || 0x0A || 0x04 || pk). Cannot fail. */
uint32_t tz_witness_key_id(const tz_public_key *witness);

/* Writes the spec's cosigner verifier key string
 * "name+hex8(tz_witness_key_id)+base64(0x04 || pk)" and a NUL to out.
 * Errors: TZ_ERR_USAGE (NULL, cap < TZ_KEY_STRING_MAX is always enough,
 * a name that fails tz_key_check_name). out is written only on success. */
int tz_witness_key_format(char *out, size_t cap, const tz_public_key *witness, tz_err *err) TZ_MUST_CHECK;

/* Parses exactly s[0..len) as a witness verifier key: either a taizhang
 * verifier key string (type 0x01, as in FILE.pub from taizhang keygen) or
 * the spec's cosigner form (type 0x04, id = tz_witness_key_id). Either way
 * *out is the tz_public_key of the same name and Ed25519 key, with
 * out->id the 0x01 note key id (tz_key_id). Rejects what
 * tz_key_parse_public rejects, with 0x04 allowed as the type byte and its
 * id checked under that type. Errors: TZ_ERR_INPUT naming the rule,
 * TZ_ERR_USAGE. *out is written only on success. */
int tz_witness_key_parse(tz_public_key *out, const char *s, size_t len, tz_err *err) TZ_MUST_CHECK;

/* Reads a witness verifier key file: one line, either form above, or a
 * secret key file (its public part, as tz_keyfile_read_public). Errors:
 * TZ_ERR_IO (open, read, not a regular file, over TZ_KEYFILE_MAX),
 * TZ_ERR_INPUT, TZ_ERR_USAGE; messages name path. *out only on success. */
int tz_witness_key_read(tz_public_key *out, const char *path, tz_err *err) TZ_MUST_CHECK;

/* Adds witness's cosignature, made at time timestamp, to the note
 * note[0..len): the result has the same text and every existing signature
 * line, in order and byte for byte, except lines of this witness's name
 * and cosignature key id, which are replaced; the new line comes last. The
 * note is not checked beyond tz_note_parse (tz_witness_cosign is the
 * checking step). On success *out is malloc'd (*out_len bytes plus a NUL
 * not counted); the caller frees it. Errors: TZ_ERR_INPUT (note does not
 * parse; the result would exceed TZ_NOTE_MAX_SIGS or TZ_NOTE_MAX_LEN),
 * TZ_ERR_USAGE (NULL, timestamp > TZ_WITNESS_TIME_MAX, inconsistent key),
 * TZ_ERR_NOMEM. On failure *out and *out_len are not touched. */
int tz_witness_add_cosignature(char **out, size_t *out_len, const char *note, size_t len,
                               const tz_secret_key *witness, uint64_t timestamp,
                               tz_err *err) TZ_MUST_CHECK;

/* Checks signature line number `line` (0-based) of a parsed note as a
 * cosignature of witness. Returns TZ_OK (and the cosigned time in
 * *timestamp when not NULL) when the line has the witness's name and
 * cosignature key id, 72 signature bytes, a timestamp <= 2^63 - 1 and a
 * valid Ed25519 signature of the cosigned message; TZ_ERR_NOTFOUND when
 * the line belongs to another key (name or key id differ: the line is not
 * this witness's); TZ_ERR_PROOF naming the rule when it is this witness's
 * line but not a valid cosignature; TZ_ERR_USAGE (NULL, line out of range),
 * TZ_ERR_NOMEM. Nothing is modified. */
int tz_witness_verify_line(const tz_note *note, size_t line, const tz_public_key *witness,
                           uint64_t *timestamp, tz_err *err) TZ_MUST_CHECK;

/* The trust policy of a verifier: TZ_OK only when note[0..len) is a valid
 * checkpoint signed by log_key (tz_checkpoint_open) AND carries valid
 * cosignatures of at least `needed` distinct keys of witnesses[0..n)
 * (distinct by name and public key; a key listed twice counts once). A
 * witness counts when it has at least one signature line and every one of
 * its lines verifies (tz_witness_verify_line): a tampered line does not
 * count, and is named in the message. Lines of other keys are ignored.
 * Errors: TZ_ERR_PROOF when the log signature is missing or invalid, or
 * fewer than `needed` witnesses cosigned: the message says how many valid
 * cosignatures were found and names the witnesses missing; TZ_ERR_INPUT
 * (the note or body does not parse); TZ_ERR_USAGE (NULL, n >
 * TZ_WITNESS_MAX, needed > the number of distinct witnesses); TZ_ERR_NOMEM.
 * *out (may be NULL) is written only on success. */
int tz_witness_policy_check(const char *note, size_t len, const tz_public_key *log_key,
                            const tz_public_key *witnesses, size_t nwitnesses, size_t needed,
                            tz_checkpoint *out, tz_err *err) TZ_MUST_CHECK;

/* A consistency proof from the tree of size1 leaves to the tree of size2,
 * as `taizhang prove --from S1 --to S2` and GET /v1/proof/consistency
 * print it: {"size1": S1, "size2": S2, "hashes": ["base64", ...]}. */
typedef struct tz_witness_proof {
    uint64_t size1, size2;
    tz_merkle_proof proof;
} tz_witness_proof;

/* Parses json[0..len) (at most TZ_WITNESS_PROOF_MAX_JSON bytes) strictly:
 * an object with exactly the members size1 and size2 (non-negative
 * integers, size1 <= size2) and hashes (an array of at most
 * TZ_MERKLE_MAX_PROOF canonical base64 strings of 32 bytes each); no other
 * member, no duplicate. Errors: TZ_ERR_INPUT naming the member and rule
 * ("proof.hashes[3]: ..."), TZ_ERR_USAGE. *out only on success. */
int tz_witness_proof_parse(tz_witness_proof *out, const char *json, size_t len, tz_err *err) TZ_MUST_CHECK;

/* What a cosign call decided, for the caller's report. */
typedef struct tz_witness_result {
    tz_checkpoint checkpoint; /* the new checkpoint (valid when it was parsed) */
    int first;                /* 1: no earlier checkpoint of this origin (trust on first use) */
    uint64_t last_size;       /* the size seen before (0 when first) */
    int same;                 /* 1: same size and root as before (cosigned again) */
    int proof_checked;        /* 1: a consistency proof was verified (growth from a size > 0) */
} tz_witness_result;

/*
 * The witness step. state_dir is the witness's state directory (created
 * 0700 when missing); it holds, per log, the last checkpoint note this
 * witness cosigned, in the file "<hex SHA-256(verifier key string of
 * log_key)>.checkpoint" (keyed by the log key, so that the same key cannot
 * start a second history under another origin). Under an exclusive lock
 * on state_dir/lock, it
 *   1. opens note[0..len) as a checkpoint signed by log_key (TZ_ERR_PROOF
 *      when not; TZ_ERR_INPUT when it does not parse);
 *   2. loads the last checkpoint of that origin (none: trust on first use),
 *      which must itself verify under log_key and name the same origin
 *      (else TZ_ERR_TAMPER: the state was altered or the log key changed);
 *   3. refuses an origin other than the one seen before, and (TZ_ERR_PROOF, naming the rule) a size below the last one
 *      (a rollback), the same size with another root (a split view), a
 *      larger size without proof or with a proof whose sizes are not
 *      (last size, new size) or that does not verify from the last root to
 *      the new root (a rewritten history); a size-0 checkpoint must carry
 *      the empty tree's root; growth from size 0 needs no proof (any tree
 *      extends the empty one), and a proof given then must be empty; on
 *      first use a proof is not looked at (there is nothing to check it
 *      against);
 *   4. adds its cosignature made at `now` (tz_witness_add_cosignature);
 *   5. writes the cosigned note as the new state atomically (temporary
 *      file, fsync, rename, fsync of the directory).
 * proof may be NULL. The same size and root is cosigned again (idempotent).
 * On success *out is the cosigned note (malloc'd, *out_len bytes plus a
 * NUL); result (may be NULL) says what was decided. On any failure the
 * state is unchanged and *out is not touched. Other errors: TZ_ERR_IO
 * (state directory, lock, files), TZ_ERR_USAGE (NULL, now >
 * TZ_WITNESS_TIME_MAX), TZ_ERR_NOMEM.
 */
int tz_witness_cosign(char **out, size_t *out_len, const char *state_dir, const tz_public_key *log_key,
                      const tz_secret_key *witness, const char *note, size_t len,
                      const tz_witness_proof *proof, uint64_t now, tz_witness_result *result,
                      tz_err *err) TZ_MUST_CHECK;

#endif
