/*
 * note.h: C2SP signed notes (https://c2sp.org/signed-note), the envelope of
 * every checkpoint the log publishes and of witness cosignatures.
 *
 *   <text, ending in '\n'>
 *   '\n'
 *   "— " <key name> " " base64(key id, 4 bytes big-endian || signature) '\n'   (one or more)
 *
 * "—" is U+2014 (bytes E2 80 94). Ed25519 signatures cover exactly the text
 * bytes, final newline included, blank line excluded. docs/KEYS.md has the
 * byte-level rules, including the limits below.
 */
#ifndef TZ_CRYPTO_NOTE_H
#define TZ_CRYPTO_NOTE_H

#include <stddef.h>
#include <stdint.h>

#include "crypto/key.h"
#include "util/status.h"

#define TZ_NOTE_MAX_SIGS 32    /* signature lines per note (the spec asks for at least 16) */
#define TZ_NOTE_MAX_LEN 65536  /* bytes per note, signatures included */

typedef struct tz_note_sig {
    char name[TZ_KEY_NAME_MAX + 1]; /* NUL-terminated, passes tz_key_check_name */
    uint32_t key_id;
    uint8_t sig[128];
    size_t sig_len; /* signature bytes after the 4-byte key id (64 for Ed25519) */
} tz_note_sig;

typedef struct tz_note {
    const char *text; /* points into the parsed buffer; includes the final '\n' of the text */
    size_t text_len;
    size_t nsigs;
    tz_note_sig sigs[TZ_NOTE_MAX_SIGS]; /* in the order of the lines */
} tz_note;

/* Parses note[0..len) strictly: at most TZ_NOTE_MAX_LEN bytes of valid UTF-8
 * with no control character but '\n'; a non-empty text ending in '\n'; a
 * blank line (the text is split from the signatures at the LAST "\n\n");
 * then 1 to TZ_NOTE_MAX_SIGS lines "— <name> <base64>\n" where the name
 * passes tz_key_check_name and the base64 is canonical and decodes to 4 key
 * id bytes plus 1 to 128 signature bytes; nothing after the last line.
 * Signatures are not verified here (see tz_note_verify).
 * Errors: TZ_ERR_INPUT naming the line ("note line 4: ..."), TZ_ERR_USAGE
 * for NULL pointers. *out is written only on success; out->text then points
 * into note, which must outlive it. */
int tz_note_parse(tz_note *out, const char *note, size_t len, tz_err *err) TZ_MUST_CHECK;

/* Signs text[0..text_len) with key and returns the note: text, a blank line
 * and one signature line. The text must be non-empty, end in '\n' and
 * follow the character rules of tz_note_parse, and the note must fit in
 * TZ_NOTE_MAX_LEN. On success *out is a malloc'd buffer of *out_len bytes
 * plus a terminating NUL (not counted); the caller frees it.
 * Errors: TZ_ERR_INPUT (text), TZ_ERR_USAGE (NULL pointers, inconsistent
 * key), TZ_ERR_NOMEM. On failure *out and *out_len are not touched. */
int tz_note_sign(char **out, size_t *out_len, const char *text, size_t text_len, const tz_secret_key *key,
                 tz_err *err) TZ_MUST_CHECK;

/* Adds key's signature to the note note[0..len): the result has the same
 * text, keeps every existing signature line byte for byte and in order,
 * except a line of this same key (name and key id), which is replaced, and
 * ends with the new line. Existing signatures are not verified. Ownership
 * and errors as tz_note_sign, plus TZ_ERR_INPUT when note does not parse or
 * the result would exceed TZ_NOTE_MAX_SIGS or TZ_NOTE_MAX_LEN. */
int tz_note_add_signature(char **out, size_t *out_len, const char *note, size_t len, const tz_secret_key *key,
                          tz_err *err) TZ_MUST_CHECK;

/* Checks note against one trusted key. Lines of other keys (another name or
 * another key id) are ignored, as the spec requires. Returns TZ_OK when at
 * least one line carries key's name and key id and every such line holds a
 * valid Ed25519 signature of note->text. Errors: TZ_ERR_PROOF, saying either
 * that no line for name+id exists or that a line's signature is invalid;
 * TZ_ERR_USAGE for NULL pointers or a key whose id does not match its name
 * and public key. */
int tz_note_verify(const tz_note *note, const tz_public_key *key, tz_err *err) TZ_MUST_CHECK;

#endif
