/*
 * checkpoint.h: C2SP tlog-checkpoint (https://c2sp.org/tlog-checkpoint), the
 * signed statement "the log named origin has size leaves and this RFC 6962
 * root hash". The body is three lines:
 *
 *   <origin>\n
 *   <tree size, decimal>\n
 *   <base64 of the 32-byte root hash>\n
 *
 * and it travels as the text of a C2SP signed note (crypto/note.h) signed
 * with the log's Ed25519 key. docs/KEYS.md has the byte-level rules.
 */
#ifndef TZ_LEDGER_CHECKPOINT_H
#define TZ_LEDGER_CHECKPOINT_H

#include <stddef.h>
#include <stdint.h>

#include "crypto/key.h"
#include "util/status.h"

#define TZ_ORIGIN_MAX 255

typedef struct tz_checkpoint {
    char origin[TZ_ORIGIN_MAX + 1]; /* NUL-terminated, passes tz_checkpoint_check_origin */
    uint64_t size;                  /* number of leaves */
    uint8_t root[32];               /* RFC 6962 Merkle tree hash at that size */
} tz_checkpoint;

/* Checks a log origin: 1 to TZ_ORIGIN_MAX bytes of valid UTF-8 without
 * control characters (U+0000..U+001F, U+007F..U+009F). Spaces and '+' are
 * allowed, as in the spec, though a schema-less URL is recommended.
 * Returns TZ_OK, TZ_ERR_INPUT naming the rule, TZ_ERR_USAGE for NULL. */
int tz_checkpoint_check_origin(const char *origin, tz_err *err) TZ_MUST_CHECK;

/* Writes the body "origin\nsize\nbase64(root)\n" (no extension lines) to a
 * malloc'd NUL-terminated buffer; *out_len excludes the NUL; the caller
 * frees it. Errors: TZ_ERR_INPUT (origin), TZ_ERR_USAGE (NULL),
 * TZ_ERR_NOMEM. On failure *out and *out_len are not touched. */
int tz_checkpoint_format(char **out, size_t *out_len, const tz_checkpoint *cp, tz_err *err) TZ_MUST_CHECK;

/* Parses a body text[0..len) strictly: line 1 a valid origin; line 2 the
 * size in ASCII decimal, "0" or a non-zero digit followed by digits, no sign,
 * no leading zeros, at most UINT64_MAX; line 3 the canonical base64 of
 * exactly 32 bytes; then any number of extension lines, each non-empty and
 * under the origin's character rules, which are accepted and ignored; every
 * line, the last included, ends in '\n'.
 * Errors: TZ_ERR_INPUT naming the line ("checkpoint line 2 (tree size): ..."),
 * TZ_ERR_USAGE for NULL. *out is written only on success. */
int tz_checkpoint_parse(tz_checkpoint *out, const char *text, size_t len, tz_err *err) TZ_MUST_CHECK;

/* Formats cp and signs it as a note with log_key (tz_note_sign). Ownership
 * and errors as tz_checkpoint_format and tz_note_sign. */
int tz_checkpoint_sign(char **note, size_t *note_len, const tz_checkpoint *cp, const tz_secret_key *log_key,
                       tz_err *err) TZ_MUST_CHECK;

/* Opens a signed checkpoint: parses note[0..note_len) as a signed note
 * (TZ_ERR_INPUT), verifies log_key's signature on it (TZ_ERR_PROOF: missing
 * or invalid; other keys' lines are ignored), then parses the text as a
 * checkpoint body (TZ_ERR_INPUT). Does not compare the origin with the key
 * name: callers that know the expected origin compare out->origin.
 * *out is written only on success. */
int tz_checkpoint_open(tz_checkpoint *out, const char *note, size_t note_len, const tz_public_key *log_key,
                       tz_err *err) TZ_MUST_CHECK;

#endif
