/*
 * note.c: C2SP signed notes.
 *
 * A note is small (a checkpoint is about 150 bytes, each signature line
 * about 110) and is parsed from untrusted input: a verifier downloads it, a
 * witness receives it. So the parser is a single pass over a bounded buffer
 * (TZ_NOTE_MAX_LEN) into a fixed-size structure (TZ_NOTE_MAX_SIGS lines),
 * with no allocation, and it is strict: one byte form per note, canonical
 * base64, names under the same rule as our key names. A note that carries a
 * line taizhang cannot represent (a name over 64 bytes, a signature over
 * 128 bytes, more than 32 lines) is rejected as input rather than silently
 * trimmed. Only signing allocates, because it returns a new note.
 *
 * Verification follows the spec: lines of unknown keys are ignored, every
 * line of the trusted key must verify (a bad one rejects the note), and at
 * least one must be present.
 */
#include "crypto/note.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "util/encoding.h"

#define SIG_PREFIX "\xE2\x80\x94 " /* U+2014 EM DASH, space */
#define SIG_PREFIX_LEN (sizeof SIG_PREFIX - 1)
#define RAW_SIG_MAX (4 + 128)

/* Checks the character rules of a note: valid UTF-8 and no C0 control
 * character other than '\n'. Line numbers in messages start at first_line. */
static int check_chars(const char *s, size_t len, size_t first_line, tz_err *err)
{
    size_t line = first_line;
    for (size_t i = 0; i < len;) {
        uint32_t c;
        size_t n = tz_utf8_next(&c, (const uint8_t *)s + i, len - i);
        if (n == 0)
            return tz_err_set(err, TZ_ERR_INPUT, "note line %zu: not valid UTF-8 (byte %zu)", line, i);
        if (c == '\n')
            line++;
        else if (c < 0x20)
            return tz_err_set(err, TZ_ERR_INPUT,
                              "note line %zu: control character U+%04X is not allowed (only newline)", line,
                              (unsigned)c);
        i += n;
    }
    return TZ_OK;
}

static size_t count_lines(const char *s, size_t len)
{
    size_t n = 0;
    for (const char *p = s; (p = memchr(p, '\n', len - (size_t)(p - s))) != NULL; p++)
        n++;
    return n;
}

/* Parses one signature line (without its '\n') into *sig. */
static int parse_sig_line(tz_note_sig *sig, const char *line, size_t len, size_t lineno, tz_err *err)
{
    if (len < SIG_PREFIX_LEN || memcmp(line, SIG_PREFIX, SIG_PREFIX_LEN) != 0)
        return tz_err_set(err, TZ_ERR_INPUT,
                          "note line %zu: a signature line must start with \"\xE2\x80\x94 \" (U+2014, space)",
                          lineno);
    const char *name = line + SIG_PREFIX_LEN;
    const char *end = line + len;
    const char *sp = memchr(name, ' ', (size_t)(end - name));
    if (sp == NULL)
        return tz_err_set(err, TZ_ERR_INPUT, "note line %zu: no space between key name and signature", lineno);
    size_t name_len = (size_t)(sp - name);
    if (name_len > TZ_KEY_NAME_MAX)
        return tz_err_set(err, TZ_ERR_INPUT, "note line %zu: key name of %zu bytes, at most %d allowed", lineno,
                          name_len, TZ_KEY_NAME_MAX);
    memcpy(sig->name, name, name_len);
    sig->name[name_len] = '\0';
    int rc = tz_key_check_name(sig->name, err);
    if (rc != TZ_OK) {
        tz_err_prefix(err, "note line %zu: ", lineno);
        return rc;
    }
    const char *b64 = sp + 1;
    size_t b64_len = (size_t)(end - b64);
    if (b64_len == 0)
        return tz_err_set(err, TZ_ERR_INPUT, "note line %zu: signature is empty", lineno);
    uint8_t raw[RAW_SIG_MAX];
    size_t raw_len = 0;
    if ((rc = tz_base64_decode(raw, sizeof raw, &raw_len, b64, b64_len, err)) != TZ_OK) {
        tz_err_prefix(err, "note line %zu: signature (at most 4 + 128 bytes): ", lineno);
        return rc;
    }
    if (raw_len < 5)
        return tz_err_set(err, TZ_ERR_INPUT, "note line %zu: signature of %zu bytes, at least 5 (key id + signature)",
                          lineno, raw_len);
    sig->key_id = (uint32_t)raw[0] << 24 | (uint32_t)raw[1] << 16 | (uint32_t)raw[2] << 8 | raw[3];
    sig->sig_len = raw_len - 4;
    memcpy(sig->sig, raw + 4, sig->sig_len);
    return TZ_OK;
}

int tz_note_parse(tz_note *out, const char *note, size_t len, tz_err *err)
{
    if (out == NULL || note == NULL)
        return tz_err_set(err, TZ_ERR_USAGE, "tz_note_parse: NULL argument");
    if (len == 0)
        return tz_err_set(err, TZ_ERR_INPUT, "note: empty");
    if (len > TZ_NOTE_MAX_LEN)
        return tz_err_set(err, TZ_ERR_INPUT, "note: %zu bytes, at most %d allowed", len, TZ_NOTE_MAX_LEN);
    int rc = check_chars(note, len, 1, err);
    if (rc != TZ_OK)
        return rc;
    if (note[len - 1] != '\n')
        return tz_err_set(err, TZ_ERR_INPUT, "note line %zu: does not end in a newline", count_lines(note, len) + 1);
    /* The text ends at the last "\n\n": its first '\n' ends the text, the
     * second is the blank line. */
    size_t split = len;
    for (size_t i = len - 1; i > 0; i--) {
        if (note[i] == '\n' && note[i - 1] == '\n') {
            split = i - 1;
            break;
        }
    }
    if (split == len)
        return tz_err_set(err, TZ_ERR_INPUT, "note: no blank line between the text and the signatures");
    size_t text_len = split + 1;
    const char *sigs = note + split + 2;
    size_t sigs_len = len - split - 2;
    if (sigs_len == 0)
        return tz_err_set(err, TZ_ERR_INPUT, "note line %zu: no signature line after the blank line",
                          count_lines(note, len) + 1);

    static tz_note zero;
    tz_note n = zero;
    n.text = note;
    n.text_len = text_len;
    size_t lineno = count_lines(note, text_len) + 2;
    for (const char *p = sigs, *end = sigs + sigs_len; p < end; lineno++) {
        const char *nl = memchr(p, '\n', (size_t)(end - p)); /* found: the note ends in '\n' */
        if (n.nsigs == TZ_NOTE_MAX_SIGS)
            return tz_err_set(err, TZ_ERR_INPUT, "note line %zu: more than %d signature lines", lineno,
                              TZ_NOTE_MAX_SIGS);
        if ((rc = parse_sig_line(&n.sigs[n.nsigs], p, (size_t)(nl - p), lineno, err)) != TZ_OK)
            return rc;
        n.nsigs++;
        p = nl + 1;
    }
    *out = n;
    return TZ_OK;
}

/* Checks that key's parts agree, as tz_key_format_secret does. */
static int check_signing_key(const tz_secret_key *key, tz_err *err)
{
    if (memchr(key->pub.name, '\0', sizeof key->pub.name) == NULL)
        return tz_err_set(err, TZ_ERR_USAGE, "note signing key: name is not NUL-terminated");
    int rc = tz_key_check_name(key->pub.name, err);
    if (rc != TZ_OK) {
        tz_err_prefix(err, "note signing key: ");
        return rc;
    }
    if (tz_key_id(key->pub.name, key->pub.pk) != key->pub.id)
        return tz_err_set(err, TZ_ERR_USAGE, "note signing key %s: id %08x does not match name and public key",
                          key->pub.name, (unsigned)key->pub.id);
    if (sodium_memcmp(key->sk + 32, key->pub.pk, 32) != 0)
        return tz_err_set(err, TZ_ERR_USAGE, "note signing key %s: secret key does not end in its public key",
                          key->pub.name);
    return TZ_OK;
}

/*
 * The one routine that writes notes: text, blank line, the lines of
 * sigs[0..sigs_len) (whose parsed form is kept->sigs) except those of key,
 * then key's new line. kept is NULL when there are no existing lines.
 */
static int build_note(char **out, size_t *out_len, const char *text, size_t text_len, const char *sigs,
                      size_t sigs_len, const tz_note *kept, const tz_secret_key *key, tz_err *err)
{
    int rc = check_signing_key(key, err);
    if (rc != TZ_OK)
        return rc;
    if (sodium_init() < 0)
        return tz_err_set(err, TZ_ERR_INTERNAL, "libsodium could not be initialised");

    uint8_t raw[4 + crypto_sign_BYTES];
    char b64[4 * ((sizeof raw + 2) / 3) + 1];
    uint32_t id = key->pub.id;
    raw[0] = (uint8_t)(id >> 24), raw[1] = (uint8_t)(id >> 16), raw[2] = (uint8_t)(id >> 8), raw[3] = (uint8_t)id;
    crypto_sign_detached(raw + 4, NULL, (const uint8_t *)text, text_len, key->sk);
    if (tz_base64_encode(b64, sizeof b64, raw, sizeof raw) == NULL)
        return tz_err_set(err, TZ_ERR_INTERNAL, "note: base64 buffer too small");
    size_t name_len = strlen(key->pub.name), b64_len = strlen(b64);
    size_t line_len = SIG_PREFIX_LEN + name_len + 1 + b64_len + 1;

    /* Measure the lines we keep. */
    size_t keep_bytes = 0, keep_count = 0;
    const char *p = sigs;
    for (size_t i = 0; kept != NULL && i < kept->nsigs; i++) {
        const char *nl = memchr(p, '\n', sigs_len - (size_t)(p - sigs));
        const tz_note_sig *s = &kept->sigs[i];
        if (!(s->key_id == id && strcmp(s->name, key->pub.name) == 0))
            keep_bytes += (size_t)(nl + 1 - p), keep_count++;
        p = nl + 1;
    }
    if (keep_count + 1 > TZ_NOTE_MAX_SIGS)
        return tz_err_set(err, TZ_ERR_INPUT, "note: adding a signature would make more than %d signature lines",
                          TZ_NOTE_MAX_SIGS);
    size_t total = text_len + 1 + keep_bytes + line_len;
    if (total > TZ_NOTE_MAX_LEN)
        return tz_err_set(err, TZ_ERR_INPUT, "note: signed note would be %zu bytes, at most %d allowed", total,
                          TZ_NOTE_MAX_LEN);
    char *buf = malloc(total + 1);
    if (buf == NULL)
        return tz_err_set(err, TZ_ERR_NOMEM, "note: cannot allocate %zu bytes", total + 1);

    char *w = buf;
    memcpy(w, text, text_len), w += text_len;
    *w++ = '\n';
    p = sigs;
    for (size_t i = 0; kept != NULL && i < kept->nsigs; i++) {
        const char *nl = memchr(p, '\n', sigs_len - (size_t)(p - sigs));
        const tz_note_sig *s = &kept->sigs[i];
        if (!(s->key_id == id && strcmp(s->name, key->pub.name) == 0))
            memcpy(w, p, (size_t)(nl + 1 - p)), w += nl + 1 - p;
        p = nl + 1;
    }
    memcpy(w, SIG_PREFIX, SIG_PREFIX_LEN), w += SIG_PREFIX_LEN;
    memcpy(w, key->pub.name, name_len), w += name_len;
    *w++ = ' ';
    memcpy(w, b64, b64_len), w += b64_len;
    *w++ = '\n';
    *w = '\0';
    *out = buf;
    *out_len = total;
    return TZ_OK;
}

int tz_note_sign(char **out, size_t *out_len, const char *text, size_t text_len, const tz_secret_key *key,
                 tz_err *err)
{
    if (out == NULL || out_len == NULL || text == NULL || key == NULL)
        return tz_err_set(err, TZ_ERR_USAGE, "tz_note_sign: NULL argument");
    if (text_len == 0)
        return tz_err_set(err, TZ_ERR_INPUT, "note text: must not be empty");
    if (text_len > TZ_NOTE_MAX_LEN)
        return tz_err_set(err, TZ_ERR_INPUT, "note text: %zu bytes, at most %d allowed", text_len,
                          TZ_NOTE_MAX_LEN);
    if (text[text_len - 1] != '\n')
        return tz_err_set(err, TZ_ERR_INPUT, "note text: must end in a newline");
    int rc = check_chars(text, text_len, 1, err);
    if (rc != TZ_OK)
        return rc;
    return build_note(out, out_len, text, text_len, NULL, 0, NULL, key, err);
}

int tz_note_add_signature(char **out, size_t *out_len, const char *note, size_t len, const tz_secret_key *key,
                          tz_err *err)
{
    if (out == NULL || out_len == NULL || note == NULL || key == NULL)
        return tz_err_set(err, TZ_ERR_USAGE, "tz_note_add_signature: NULL argument");
    tz_note *parsed = malloc(sizeof *parsed); /* about 6.6 KiB: keep it off small thread stacks */
    if (parsed == NULL)
        return tz_err_set(err, TZ_ERR_NOMEM, "note: cannot allocate the parse result");
    int rc = tz_note_parse(parsed, note, len, err);
    if (rc == TZ_OK) {
        const char *sigs = note + parsed->text_len + 1;
        rc = build_note(out, out_len, parsed->text, parsed->text_len, sigs, len - parsed->text_len - 1, parsed,
                        key, err);
    }
    free(parsed);
    return rc;
}

int tz_note_verify(const tz_note *note, const tz_public_key *key, tz_err *err)
{
    if (note == NULL || key == NULL || (note->text == NULL && note->text_len != 0))
        return tz_err_set(err, TZ_ERR_USAGE, "tz_note_verify: NULL argument");
    if (memchr(key->name, '\0', sizeof key->name) == NULL || tz_key_id(key->name, key->pk) != key->id)
        return tz_err_set(err, TZ_ERR_USAGE, "note verification key: id does not match name and public key");
    size_t matches = 0;
    for (size_t i = 0; i < note->nsigs && i < TZ_NOTE_MAX_SIGS; i++) {
        const tz_note_sig *s = &note->sigs[i];
        if (s->key_id != key->id || strcmp(s->name, key->name) != 0)
            continue;
        matches++;
        if (s->sig_len != crypto_sign_BYTES
            || crypto_sign_verify_detached(s->sig, (const uint8_t *)note->text, note->text_len, key->pk) != 0)
            return tz_err_set(err, TZ_ERR_PROOF, "note: invalid signature for key %s+%08x (signature line %zu of %zu)",
                              key->name, (unsigned)key->id, i + 1, note->nsigs);
    }
    if (matches == 0)
        return tz_err_set(err, TZ_ERR_PROOF, "note: no signature line for key %s+%08x", key->name,
                          (unsigned)key->id);
    return TZ_OK;
}
