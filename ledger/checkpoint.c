/*
 * checkpoint.c: C2SP tlog-checkpoint bodies and their signed-note envelope.
 *
 * A checkpoint is what a verifier pins: if two parties accept the same
 * (origin, size) with different roots, the log forked. So every value has
 * exactly one text form here: no leading zeros, no sign, canonical base64,
 * one '\n' per line. The body is tiny and parsed once per checkpoint, so the
 * code favours clear messages (line number and field) over speed. Extension
 * lines are allowed by the spec; we never write them and ignore them on
 * input, after checking that they are non-empty printable text.
 */
#include "ledger/checkpoint.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/note.h"
#include "util/encoding.h"

#define ROOT_B64_LEN 44 /* base64 of 32 bytes */

/* The character rule of origins and extension lines: valid UTF-8, no C0
 * or C1 control character, no DEL. what prefixes messages. */
static int check_line_chars(const char *s, size_t len, const char *what, tz_err *err)
{
    for (size_t i = 0; i < len;) {
        uint32_t c;
        size_t n = tz_utf8_next(&c, (const uint8_t *)s + i, len - i);
        if (n == 0)
            return tz_err_set(err, TZ_ERR_INPUT, "%s: not valid UTF-8 at byte %zu", what, i);
        if (c < 0x20 || (c >= 0x7F && c <= 0x9F))
            return tz_err_set(err, TZ_ERR_INPUT, "%s: control character U+%04X at byte %zu is not allowed", what,
                              (unsigned)c, i);
        i += n;
    }
    return TZ_OK;
}

static int check_origin_bytes(const char *s, size_t len, const char *what, tz_err *err)
{
    if (len == 0)
        return tz_err_set(err, TZ_ERR_INPUT, "%s: must not be empty", what);
    if (len > TZ_ORIGIN_MAX)
        return tz_err_set(err, TZ_ERR_INPUT, "%s: %zu bytes, at most %d allowed", what, len, TZ_ORIGIN_MAX);
    return check_line_chars(s, len, what, err);
}

int tz_checkpoint_check_origin(const char *origin, tz_err *err)
{
    if (origin == NULL)
        return tz_err_set(err, TZ_ERR_USAGE, "checkpoint origin: NULL");
    return check_origin_bytes(origin, strnlen(origin, TZ_ORIGIN_MAX + 1), "checkpoint origin", err);
}

int tz_checkpoint_format(char **out, size_t *out_len, const tz_checkpoint *cp, tz_err *err)
{
    if (out == NULL || out_len == NULL || cp == NULL)
        return tz_err_set(err, TZ_ERR_USAGE, "tz_checkpoint_format: NULL argument");
    if (memchr(cp->origin, '\0', sizeof cp->origin) == NULL)
        return tz_err_set(err, TZ_ERR_USAGE, "checkpoint origin: not NUL-terminated");
    int rc = tz_checkpoint_check_origin(cp->origin, err);
    if (rc != TZ_OK)
        return rc;
    char root[ROOT_B64_LEN + 1];
    if (tz_base64_encode(root, sizeof root, cp->root, sizeof cp->root) == NULL)
        return tz_err_set(err, TZ_ERR_INTERNAL, "checkpoint: base64 buffer too small");
    size_t cap = strlen(cp->origin) + 1 + 20 + 1 + ROOT_B64_LEN + 1 + 1;
    char *buf = malloc(cap);
    if (buf == NULL)
        return tz_err_set(err, TZ_ERR_NOMEM, "checkpoint: cannot allocate %zu bytes", cap);
    int n = snprintf(buf, cap, "%s\n%" PRIu64 "\n%s\n", cp->origin, cp->size, root);
    if (n < 0 || (size_t)n >= cap) {
        free(buf);
        return tz_err_set(err, TZ_ERR_INTERNAL, "checkpoint: formatting failed");
    }
    *out = buf;
    *out_len = (size_t)n;
    return TZ_OK;
}

/* Finds the line starting at *pos in text[0..len): sets *line and *line_len
 * (without '\n') and moves *pos past the '\n'. Returns 0 when no complete
 * line is left. */
static int next_line(const char *text, size_t len, size_t *pos, const char **line, size_t *line_len)
{
    if (*pos >= len)
        return 0;
    const char *nl = memchr(text + *pos, '\n', len - *pos);
    if (nl == NULL)
        return 0;
    *line = text + *pos;
    *line_len = (size_t)(nl - *line);
    *pos = (size_t)(nl - text) + 1;
    return 1;
}

static int parse_size(uint64_t *out, const char *s, size_t len, tz_err *err)
{
    static const char what[] = "checkpoint line 2 (tree size)";
    if (len == 0)
        return tz_err_set(err, TZ_ERR_INPUT, "%s: must not be empty", what);
    uint64_t v = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return tz_err_set(err, TZ_ERR_INPUT, "%s: only decimal digits 0-9 are allowed (no sign, no spaces)",
                              what);
        unsigned d = (unsigned)(s[i] - '0');
        if (v > (UINT64_MAX - d) / 10)
            return tz_err_set(err, TZ_ERR_INPUT, "%s: larger than 18446744073709551615", what);
        v = v * 10 + d;
    }
    if (len > 1 && s[0] == '0')
        return tz_err_set(err, TZ_ERR_INPUT, "%s: leading zeros are not allowed", what);
    *out = v;
    return TZ_OK;
}

int tz_checkpoint_parse(tz_checkpoint *out, const char *text, size_t len, tz_err *err)
{
    if (out == NULL || text == NULL)
        return tz_err_set(err, TZ_ERR_USAGE, "tz_checkpoint_parse: NULL argument");
    static const char *const field[] = {"origin", "tree size", "root hash"};
    tz_checkpoint cp;
    memset(&cp, 0, sizeof cp);
    size_t pos = 0, lineno = 0, line_len = 0;
    const char *line = NULL;
    int rc;
    while (pos < len) {
        lineno++;
        if (!next_line(text, len, &pos, &line, &line_len))
            return tz_err_set(err, TZ_ERR_INPUT, "checkpoint line %zu: does not end in a newline", lineno);
        char what[64];
        snprintf(what, sizeof what, "checkpoint line %zu (%s)", lineno, lineno <= 3 ? field[lineno - 1] : "extension");
        if (lineno == 1) {
            if ((rc = check_origin_bytes(line, line_len, what, err)) != TZ_OK)
                return rc;
            memcpy(cp.origin, line, line_len);
            cp.origin[line_len] = '\0';
        } else if (lineno == 2) {
            if ((rc = parse_size(&cp.size, line, line_len, err)) != TZ_OK)
                return rc;
        } else if (lineno == 3) {
            size_t got = 0;
            if (line_len != ROOT_B64_LEN)
                return tz_err_set(err, TZ_ERR_INPUT, "%s: %zu characters, must be base64 of 32 bytes (%d characters)",
                                  what, line_len, ROOT_B64_LEN);
            if ((rc = tz_base64_decode(cp.root, sizeof cp.root, &got, line, line_len, err)) != TZ_OK) {
                tz_err_prefix(err, "%s: ", what);
                return rc;
            }
            if (got != sizeof cp.root)
                return tz_err_set(err, TZ_ERR_INPUT, "%s: decodes to %zu bytes, 32 expected", what, got);
        } else {
            if (line_len == 0)
                return tz_err_set(err, TZ_ERR_INPUT, "%s: must not be empty", what);
            if ((rc = check_line_chars(line, line_len, what, err)) != TZ_OK)
                return rc;
        }
    }
    if (lineno < 3)
        return tz_err_set(err, TZ_ERR_INPUT, "checkpoint line %zu (%s): missing", lineno + 1, field[lineno]);
    *out = cp;
    return TZ_OK;
}

int tz_checkpoint_sign(char **note, size_t *note_len, const tz_checkpoint *cp, const tz_secret_key *log_key,
                       tz_err *err)
{
    if (note == NULL || note_len == NULL || cp == NULL || log_key == NULL)
        return tz_err_set(err, TZ_ERR_USAGE, "tz_checkpoint_sign: NULL argument");
    char *body = NULL;
    size_t body_len = 0;
    int rc = tz_checkpoint_format(&body, &body_len, cp, err);
    if (rc != TZ_OK)
        return rc;
    rc = tz_note_sign(note, note_len, body, body_len, log_key, err);
    free(body);
    return rc;
}

int tz_checkpoint_open(tz_checkpoint *out, const char *note, size_t note_len, const tz_public_key *log_key,
                       tz_err *err)
{
    if (out == NULL || note == NULL || log_key == NULL)
        return tz_err_set(err, TZ_ERR_USAGE, "tz_checkpoint_open: NULL argument");
    tz_note *parsed = malloc(sizeof *parsed); /* about 6.6 KiB: keep it off small thread stacks */
    if (parsed == NULL)
        return tz_err_set(err, TZ_ERR_NOMEM, "checkpoint: cannot allocate the note");
    int rc = tz_note_parse(parsed, note, note_len, err);
    if (rc == TZ_OK)
        rc = tz_note_verify(parsed, log_key, err);
    if (rc == TZ_OK)
        rc = tz_checkpoint_parse(out, parsed->text, parsed->text_len, err);
    free(parsed);
    return rc;
}
