/*
 * witness.c: C2SP tlog-cosignature/v1 cosignatures, the witness's state and
 * the verifier's K-of-N witness policy.
 *
 * The point of a witness is to refuse: a log that can sign anything with its
 * key can still show one history to some verifiers and another to others (a
 * split view), or rewrite its past and re-sign it. A witness that has
 * cosigned (origin, size, root) will only cosign a later checkpoint of that
 * log when a consistency proof shows the new tree contains the old one, so
 * at most one history of a log ever gathers its cosignature, and a verifier
 * that requires K cosignatures of witnesses it trusts needs only one honest
 * witness among them to be safe from a fork.
 *
 * Workload facts: a witness sees one checkpoint per log per minute or so;
 * a note is at most 64 KiB and a proof at most 65 hashes. So every call
 * re-reads and re-verifies its state file (a state altered on disk is
 * caught, never trusted), takes a file lock so two witness processes on one
 * state cannot interleave check and write, and makes the new state durable
 * (temporary file, fsync, rename, fsync of the directory) before the
 * cosigned note is handed out: a crash can lose a cosignature, never
 * produce one the state does not remember.
 */
#include "ledger/witness.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <jansson.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "crypto/hash.h"
#include "crypto/keyfile.h"
#include "util/encoding.h"

#define SIG_PREFIX "\xE2\x80\x94 " /* U+2014 EM DASH, space: every signature line starts so */
#define SIG_PREFIX_LEN (sizeof SIG_PREFIX - 1)
#define COSIG_HEADER "cosignature/v1\n"
#define COSIG_HEADER_LEN (sizeof COSIG_HEADER - 1)
#define COSIG_RAW_LEN (4 + 8 + 64) /* key id, timestamp, Ed25519 signature */
#define COSIG_SIG_LEN (8 + 64)     /* what tz_note_sig holds after the key id */
#define KEY_B64_LEN 44             /* base64 of 33 bytes (type byte and key) */
#define STATE_SUFFIX ".checkpoint"

/* ---- keys -------------------------------------------------------------------- */

uint32_t tz_witness_key_id(const tz_public_key *witness)
{
    size_t name_len = strnlen(witness->name, TZ_KEY_NAME_MAX);
    uint8_t buf[TZ_KEY_NAME_MAX + 2 + 32], h[TZ_HASH_LEN];
    memcpy(buf, witness->name, name_len);
    buf[name_len] = 0x0A;
    buf[name_len + 1] = TZ_WITNESS_ALG;
    memcpy(buf + name_len + 2, witness->pk, 32);
    tz_hash_sha256(h, buf, name_len + 2 + 32);
    return (uint32_t)h[0] << 24 | (uint32_t)h[1] << 16 | (uint32_t)h[2] << 8 | h[3];
}

/* Checks that key->name is a NUL-terminated valid key name. */
static int check_key_name(const tz_public_key *key, const char *what, tz_err *err)
{
    if (memchr(key->name, '\0', sizeof key->name) == NULL)
        return tz_err_set(err, TZ_ERR_USAGE, "%s: key name is not NUL-terminated", what);
    int rc = tz_key_check_name(key->name, err);
    if (rc != TZ_OK) {
        tz_err_prefix(err, "%s: ", what);
        return TZ_ERR_USAGE;
    }
    return TZ_OK;
}

int tz_witness_key_format(char *out, size_t cap, const tz_public_key *witness, tz_err *err)
{
    if (out == NULL || witness == NULL)
        return tz_err_set(err, TZ_ERR_USAGE, "tz_witness_key_format: NULL argument");
    int rc = check_key_name(witness, "witness key", err);
    if (rc != TZ_OK)
        return rc;
    uint8_t raw[33];
    char b64[KEY_B64_LEN + 1];
    raw[0] = TZ_WITNESS_ALG;
    memcpy(raw + 1, witness->pk, 32);
    if (tz_base64_encode(b64, sizeof b64, raw, sizeof raw) == NULL)
        return tz_err_set(err, TZ_ERR_INTERNAL, "witness key: base64 buffer too small");
    int n = snprintf(out, cap, "%s+%08" PRIx32 "+%s", witness->name, tz_witness_key_id(witness), b64);
    if (n < 0 || (size_t)n >= cap) {
        if (cap > 0)
            out[0] = '\0';
        return tz_err_set(err, TZ_ERR_USAGE, "witness key: a buffer of %zu bytes is too small", cap);
    }
    return TZ_OK;
}

/* Parses the spec's 0x04 cosigner key string "name+hex8+base64(0x04||pk)"
 * after the caller has seen the 0x04 type byte. */
static int parse_cosigner_key(tz_public_key *out, const char *s, size_t len, tz_err *err)
{
    static const char what[] = "witness key string";
    const char *plus = memchr(s, '+', len);
    size_t name_len = plus ? (size_t)(plus - s) : len;
    if (plus == NULL || name_len > TZ_KEY_NAME_MAX)
        return tz_err_set(err, TZ_ERR_INPUT, "%s: expected name+id+key with a name of 1 to %d bytes", what,
                          TZ_KEY_NAME_MAX);
    tz_public_key key;
    memset(&key, 0, sizeof key);
    memcpy(key.name, s, name_len);
    int rc = tz_key_check_name(key.name, err);
    if (rc != TZ_OK) {
        tz_err_prefix(err, "%s: ", what);
        return rc;
    }
    const char *hex = plus + 1;
    size_t rest = len - name_len - 1;
    if (rest != 8 + 1 + KEY_B64_LEN || hex[8] != '+')
        return tz_err_set(err, TZ_ERR_INPUT, "%s: after the name, expected 8 hex digits, '+' and %d base64 "
                          "characters", what, KEY_B64_LEN);
    uint32_t id = 0;
    for (size_t i = 0; i < 8; i++) {
        char c = hex[i];
        int v = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
        if (v < 0)
            return tz_err_set(err, TZ_ERR_INPUT, "%s: key id must be 8 lower-case hex digits", what);
        id = id << 4 | (uint32_t)v;
    }
    uint8_t raw[33];
    size_t raw_len = 0;
    if ((rc = tz_base64_decode(raw, sizeof raw, &raw_len, hex + 9, KEY_B64_LEN, err)) != TZ_OK) {
        tz_err_prefix(err, "%s: key: ", what);
        return rc;
    }
    if (raw_len != 33 || raw[0] != TZ_WITNESS_ALG)
        return tz_err_set(err, TZ_ERR_INPUT, "%s: key must be the type byte 0x04 and 32 bytes", what);
    memcpy(key.pk, raw + 1, 32);
    uint32_t want = tz_witness_key_id(&key);
    if (want != id)
        return tz_err_set(err, TZ_ERR_INPUT, "%s: key id %08" PRIx32 " does not match name and key "
                          "(expected %08" PRIx32 " for cosignature/v1, type 0x04)", what, id, want);
    if (sodium_init() < 0)
        return tz_err_set(err, TZ_ERR_INTERNAL, "libsodium could not be initialised");
    if (crypto_core_ed25519_is_valid_point(key.pk) != 1)
        return tz_err_set(err, TZ_ERR_INPUT, "%s: the public key is not a valid Ed25519 point", what);
    key.id = tz_key_id(key.name, key.pk);
    *out = key;
    return TZ_OK;
}

int tz_witness_key_parse(tz_public_key *out, const char *s, size_t len, tz_err *err)
{
    if (out == NULL || s == NULL)
        return tz_err_set(err, TZ_ERR_USAGE, "tz_witness_key_parse: NULL argument");
    if (len >= TZ_KEY_STRING_MAX || memchr(s, '\0', len) != NULL)
        return tz_err_set(err, TZ_ERR_INPUT, "witness key string: at most %d bytes, no NUL byte",
                          TZ_KEY_STRING_MAX - 1);
    /* The last 44 characters encode the type byte and the key: a 0x04
     * key is parsed here, anything else goes to key.c, whose messages
     * then say what is wrong with it. */
    if (len > KEY_B64_LEN) {
        uint8_t raw[33];
        size_t raw_len = 0;
        if (tz_base64_decode(raw, sizeof raw, &raw_len, s + len - KEY_B64_LEN, KEY_B64_LEN, NULL) == TZ_OK &&
            raw_len == 33 && raw[0] == TZ_WITNESS_ALG && s[len - KEY_B64_LEN - 1] == '+')
            return parse_cosigner_key(out, s, len, err);
    }
    int rc = tz_key_parse_public(out, s, len, err);
    if (rc != TZ_OK)
        tz_err_prefix(err, "witness key (type 0x01 or 0x04): ");
    return rc;
}

int tz_witness_key_read(tz_public_key *out, const char *path, tz_err *err)
{
    if (out == NULL || path == NULL)
        return tz_err_set(err, TZ_ERR_USAGE, "tz_witness_key_read: NULL argument");
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return tz_err_set(err, TZ_ERR_IO, "witness key file %s: %s", path, strerror(errno));
    struct stat st;
    char buf[TZ_KEYFILE_MAX + 1];
    size_t n = 0;
    int rc = TZ_OK;
    if (fstat(fd, &st) != 0)
        rc = tz_err_set(err, TZ_ERR_IO, "witness key file %s: %s", path, strerror(errno));
    else if (!S_ISREG(st.st_mode) || st.st_size > TZ_KEYFILE_MAX)
        rc = tz_err_set(err, TZ_ERR_IO, "witness key file %s: not a regular file of at most %d bytes", path,
                        TZ_KEYFILE_MAX);
    while (rc == TZ_OK && n < sizeof buf) {
        ssize_t r = read(fd, buf + n, sizeof buf - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            rc = tz_err_set(err, TZ_ERR_IO, "witness key file %s: read: %s", path, strerror(errno));
        if (r <= 0)
            break;
        n += (size_t)r;
    }
    close(fd);
    if (rc == TZ_OK && n > TZ_KEYFILE_MAX)
        rc = tz_err_set(err, TZ_ERR_IO, "witness key file %s: larger than %d bytes", path, TZ_KEYFILE_MAX);
    if (rc != TZ_OK)
        return rc;
    static const char secret[] = "PRIVATE+KEY+", sealed[] = "TAIZHANG+SEALED+KEY+";
    if ((n >= sizeof secret - 1 && memcmp(buf, secret, sizeof secret - 1) == 0) ||
        (n >= sizeof sealed - 1 && memcmp(buf, sealed, sizeof sealed - 1) == 0)) {
        sodium_memzero(buf, sizeof buf);
        return tz_keyfile_read_public(out, path, err); /* it applies the 0600 rule */
    }
    if (n == 0 || buf[n - 1] != '\n' || memchr(buf, '\n', n - 1) != NULL)
        return tz_err_set(err, TZ_ERR_INPUT, "witness key file %s: must be exactly one line ending in a newline",
                          path);
    if ((rc = tz_witness_key_parse(out, buf, n - 1, err)) != TZ_OK)
        tz_err_prefix(err, "witness key file %s: ", path);
    return rc;
}

/* ---- cosignatures -------------------------------------------------------------- */

static void put_u64be(uint8_t out[8], uint64_t v)
{
    for (int i = 7; i >= 0; i--, v >>= 8)
        out[i] = (uint8_t)v;
}

static uint64_t get_u64be(const uint8_t in[8])
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | in[i];
    return v;
}

/* The cosigned message "cosignature/v1\ntime T\n" || text, malloc'd. */
static int cosigned_message(uint8_t **msg, size_t *msg_len, uint64_t timestamp, const char *text,
                            size_t text_len, tz_err *err)
{
    char head[COSIG_HEADER_LEN + 32];
    int n = snprintf(head, sizeof head, COSIG_HEADER "time %" PRIu64 "\n", timestamp);
    if (n < 0 || (size_t)n >= sizeof head)
        return tz_err_set(err, TZ_ERR_INTERNAL, "cosignature: header buffer too small");
    uint8_t *m = malloc((size_t)n + text_len);
    if (m == NULL)
        return tz_err_set(err, TZ_ERR_NOMEM, "cosignature: cannot allocate the signed message");
    memcpy(m, head, (size_t)n);
    memcpy(m + n, text, text_len);
    *msg = m;
    *msg_len = (size_t)n + text_len;
    return TZ_OK;
}

/* Checks that the secret key's parts agree (name, seed || pk). */
static int check_witness_secret(const tz_secret_key *w, tz_err *err)
{
    int rc = check_key_name(&w->pub, "witness signing key", err);
    if (rc != TZ_OK)
        return rc;
    if (sodium_memcmp(w->sk + 32, w->pub.pk, 32) != 0)
        return tz_err_set(err, TZ_ERR_USAGE, "witness signing key %s: secret key does not end in its public key",
                          w->pub.name);
    return TZ_OK;
}

/* Writes the signature line "— name base64(raw)\n" for the cosignature of
 * witness over text at timestamp into line (cap >= 256 is enough). */
static int cosignature_line(char *line, size_t cap, size_t *line_len, const tz_secret_key *w, uint64_t timestamp,
                            const char *text, size_t text_len, tz_err *err)
{
    uint8_t *msg = NULL, raw[COSIG_RAW_LEN];
    size_t msg_len = 0;
    int rc = cosigned_message(&msg, &msg_len, timestamp, text, text_len, err);
    if (rc != TZ_OK)
        return rc;
    uint32_t id = tz_witness_key_id(&w->pub);
    raw[0] = (uint8_t)(id >> 24), raw[1] = (uint8_t)(id >> 16), raw[2] = (uint8_t)(id >> 8), raw[3] = (uint8_t)id;
    put_u64be(raw + 4, timestamp);
    crypto_sign_detached(raw + 12, NULL, msg, msg_len, w->sk);
    free(msg);
    char b64[4 * ((COSIG_RAW_LEN + 2) / 3) + 1];
    if (tz_base64_encode(b64, sizeof b64, raw, sizeof raw) == NULL)
        return tz_err_set(err, TZ_ERR_INTERNAL, "cosignature: base64 buffer too small");
    int n = snprintf(line, cap, SIG_PREFIX "%s %s\n", w->pub.name, b64);
    if (n < 0 || (size_t)n >= cap)
        return tz_err_set(err, TZ_ERR_INTERNAL, "cosignature: line buffer too small");
    *line_len = (size_t)n;
    return TZ_OK;
}

int tz_witness_add_cosignature(char **out, size_t *out_len, const char *note, size_t len,
                               const tz_secret_key *witness, uint64_t timestamp, tz_err *err)
{
    if (out == NULL || out_len == NULL || note == NULL || witness == NULL)
        return tz_err_set(err, TZ_ERR_USAGE, "tz_witness_add_cosignature: NULL argument");
    if (timestamp > (uint64_t)TZ_WITNESS_TIME_MAX)
        return tz_err_set(err, TZ_ERR_USAGE, "cosignature: time %" PRIu64 " exceeds 2^63 - 1", timestamp);
    int rc = check_witness_secret(witness, err);
    if (rc != TZ_OK)
        return rc;
    if (sodium_init() < 0)
        return tz_err_set(err, TZ_ERR_INTERNAL, "libsodium could not be initialised");
    tz_note *parsed = malloc(sizeof *parsed); /* about 6.6 KiB: off small thread stacks */
    if (parsed == NULL)
        return tz_err_set(err, TZ_ERR_NOMEM, "cosignature: cannot allocate the parsed note");
    char line[SIG_PREFIX_LEN + TZ_KEY_NAME_MAX + 1 + 104 + 2];
    size_t line_len = 0;
    char *buf = NULL;
    if ((rc = tz_note_parse(parsed, note, len, err)) != TZ_OK)
        goto done;
    if ((rc = cosignature_line(line, sizeof line, &line_len, witness, timestamp, parsed->text, parsed->text_len,
                               err)) != TZ_OK)
        goto done;
    /* Keep every line byte for byte but this witness's own (same name and
     * cosignature key id), which the new line replaces. */
    uint32_t id = tz_witness_key_id(&witness->pub);
    const char *sigs = note + parsed->text_len + 1, *end = note + len;
    size_t keep_bytes = 0, keep_count = 0;
    for (size_t i = 0, off = 0; i < parsed->nsigs; i++) {
        const char *nl = memchr(sigs + off, '\n', (size_t)(end - sigs) - off);
        size_t n = (size_t)(nl + 1 - (sigs + off));
        const tz_note_sig *s = &parsed->sigs[i];
        if (!(s->key_id == id && strcmp(s->name, witness->pub.name) == 0))
            keep_bytes += n, keep_count++;
        off += n;
    }
    size_t total = parsed->text_len + 1 + keep_bytes + line_len;
    if (keep_count + 1 > TZ_NOTE_MAX_SIGS || total > TZ_NOTE_MAX_LEN) {
        rc = tz_err_set(err, TZ_ERR_INPUT, "note: adding the cosignature would make %zu signature lines and %zu "
                        "bytes (at most %d and %d)", keep_count + 1, total, TZ_NOTE_MAX_SIGS, TZ_NOTE_MAX_LEN);
        goto done;
    }
    if ((buf = malloc(total + 1)) == NULL) {
        rc = tz_err_set(err, TZ_ERR_NOMEM, "note: cannot allocate %zu bytes", total + 1);
        goto done;
    }
    char *w = buf;
    memcpy(w, note, parsed->text_len + 1), w += parsed->text_len + 1;
    for (size_t i = 0, off = 0; i < parsed->nsigs; i++) {
        const char *p = sigs + off, *nl = memchr(p, '\n', (size_t)(end - p));
        size_t n = (size_t)(nl + 1 - p);
        const tz_note_sig *s = &parsed->sigs[i];
        if (!(s->key_id == id && strcmp(s->name, witness->pub.name) == 0))
            memcpy(w, p, n), w += n;
        off += n;
    }
    memcpy(w, line, line_len), w += line_len;
    *w = '\0';
    *out = buf;
    *out_len = total;
done:
    free(parsed);
    return rc;
}

int tz_witness_verify_line(const tz_note *note, size_t line, const tz_public_key *witness, uint64_t *timestamp,
                           tz_err *err)
{
    if (note == NULL || witness == NULL || note->text == NULL)
        return tz_err_set(err, TZ_ERR_USAGE, "tz_witness_verify_line: NULL argument");
    if (line >= note->nsigs || line >= TZ_NOTE_MAX_SIGS)
        return tz_err_set(err, TZ_ERR_USAGE, "tz_witness_verify_line: line %zu of %zu", line, note->nsigs);
    int rc = check_key_name(witness, "witness key", err);
    if (rc != TZ_OK)
        return rc;
    const tz_note_sig *s = &note->sigs[line];
    uint32_t id = tz_witness_key_id(witness);
    if (s->key_id != id || strcmp(s->name, witness->name) != 0)
        return tz_err_set(err, TZ_ERR_NOTFOUND, "signature line %zu is not a cosignature of witness %s+%08" PRIx32,
                          line + 1, witness->name, id);
    if (s->sig_len != COSIG_SIG_LEN)
        return tz_err_set(err, TZ_ERR_PROOF, "cosignature of %s (signature line %zu): %zu bytes after the key "
                          "id, expected 72 (8-byte time, 64-byte Ed25519 signature)", witness->name, line + 1,
                          s->sig_len);
    uint64_t t = get_u64be(s->sig);
    if (t > (uint64_t)TZ_WITNESS_TIME_MAX)
        return tz_err_set(err, TZ_ERR_PROOF, "cosignature of %s (signature line %zu): time %" PRIu64 " exceeds "
                          "2^63 - 1", witness->name, line + 1, t);
    if (sodium_init() < 0)
        return tz_err_set(err, TZ_ERR_INTERNAL, "libsodium could not be initialised");
    uint8_t *msg = NULL;
    size_t msg_len = 0;
    if ((rc = cosigned_message(&msg, &msg_len, t, note->text, note->text_len, err)) != TZ_OK)
        return rc;
    int bad = crypto_sign_verify_detached(s->sig + 8, msg, msg_len, witness->pk) != 0;
    free(msg);
    if (bad)
        return tz_err_set(err, TZ_ERR_PROOF, "cosignature of %s (signature line %zu): invalid Ed25519 signature "
                          "of \"cosignature/v1\", time %" PRIu64 " and the checkpoint", witness->name, line + 1, t);
    if (timestamp != NULL)
        *timestamp = t;
    return TZ_OK;
}

/* ---- the policy ------------------------------------------------------------------ */

/* Appends the formatted text to buf[0..cap) at *used, marking a cut with
 * "..." rather than failing: the message must fit in a tz_err. */
static void append_text(char *buf, size_t cap, size_t *used, const char *fmt, ...) TZ_PRINTF(4, 5);
static void append_text(char *buf, size_t cap, size_t *used, const char *fmt, ...)
{
    if (*used + 4 >= cap)
        return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf + *used, cap - *used, fmt, ap);
    va_end(ap);
    if (n < 0 || *used + (size_t)n >= cap) {
        memcpy(buf + cap - 4, "...", 4);
        *used = cap;
        return;
    }
    *used += (size_t)n;
}

/* 1 when witnesses[i] repeats an earlier entry (same name and key). */
static int is_repeat(const tz_public_key *witnesses, size_t i)
{
    for (size_t j = 0; j < i; j++)
        if (strcmp(witnesses[j].name, witnesses[i].name) == 0 && tz_hash_equal(witnesses[j].pk, witnesses[i].pk, 32))
            return 1;
    return 0;
}

/* Whether witness w cosigned the note: TZ_OK when it has a line and all
 * its lines verify; TZ_ERR_NOTFOUND when it has none; else the first bad
 * line's error. */
static int witness_cosigned(const tz_note *note, const tz_public_key *w, tz_err *err)
{
    size_t found = 0;
    for (size_t i = 0; i < note->nsigs; i++) {
        int rc = tz_witness_verify_line(note, i, w, NULL, err);
        if (rc == TZ_ERR_NOTFOUND)
            continue;
        if (rc != TZ_OK)
            return rc;
        found++;
    }
    if (found == 0)
        return tz_err_set(err, TZ_ERR_NOTFOUND, "no cosignature line");
    return TZ_OK;
}

int tz_witness_policy_check(const char *note, size_t len, const tz_public_key *log_key,
                            const tz_public_key *witnesses, size_t nwitnesses, size_t needed, tz_checkpoint *out,
                            tz_err *err)
{
    if (note == NULL || log_key == NULL || (witnesses == NULL && nwitnesses > 0))
        return tz_err_set(err, TZ_ERR_USAGE, "tz_witness_policy_check: NULL argument");
    if (nwitnesses > TZ_WITNESS_MAX)
        return tz_err_set(err, TZ_ERR_USAGE, "witness policy: %zu witnesses, at most %d", nwitnesses,
                          TZ_WITNESS_MAX);
    size_t distinct = 0;
    for (size_t i = 0; i < nwitnesses; i++) {
        int rc = check_key_name(&witnesses[i], "witness policy", err);
        if (rc != TZ_OK)
            return rc;
        distinct += !is_repeat(witnesses, i);
    }
    if (needed > distinct)
        return tz_err_set(err, TZ_ERR_USAGE, "witness policy: %zu cosignatures needed but only %zu distinct "
                          "witnesses given", needed, distinct);
    tz_checkpoint cp;
    int rc = tz_checkpoint_open(&cp, note, len, log_key, err);
    if (rc != TZ_OK) {
        tz_err_prefix(err, "checkpoint: ");
        return rc;
    }
    tz_note *parsed = malloc(sizeof *parsed);
    if (parsed == NULL)
        return tz_err_set(err, TZ_ERR_NOMEM, "checkpoint: cannot allocate the parsed note");
    if ((rc = tz_note_parse(parsed, note, len, err)) != TZ_OK) { /* parsed once already: cannot fail */
        free(parsed);
        return rc;
    }
    char missing[TZ_ERR_MSG_MAX - 160];
    size_t used = 0, valid = 0;
    missing[0] = '\0';
    for (size_t i = 0; i < nwitnesses; i++) {
        if (is_repeat(witnesses, i))
            continue;
        tz_err why;
        int w = witness_cosigned(parsed, &witnesses[i], &why);
        if (w == TZ_OK) {
            valid++;
        } else if (w == TZ_ERR_NOTFOUND || w == TZ_ERR_PROOF) {
            append_text(missing, sizeof missing, &used, "%s%s (%s)", used ? "; " : "", witnesses[i].name,
                        w == TZ_ERR_NOTFOUND ? "no cosignature" : why.msg);
        } else {
            free(parsed);
            if (err != NULL)
                *err = why;
            return w;
        }
    }
    free(parsed);
    if (valid < needed)
        return tz_err_set(err, TZ_ERR_PROOF, "checkpoint %s size %" PRIu64 ": %zu valid witness cosignature%s, %zu "
                          "needed; missing: %s", cp.origin, cp.size, valid, valid == 1 ? "" : "s", needed,
                          used ? missing : "(none)");
    if (out != NULL)
        *out = cp;
    return TZ_OK;
}

/* ---- consistency proof files --------------------------------------------------------- */

static int json_u64(const json_t *v, const char *name, uint64_t *out, tz_err *err)
{
    if (!json_is_integer(v) || json_integer_value(v) < 0)
        return tz_err_set(err, TZ_ERR_INPUT, "proof.%s: must be a non-negative integer", name);
    *out = (uint64_t)json_integer_value(v);
    return TZ_OK;
}

static int proof_from_json(tz_witness_proof *p, json_t *doc, tz_err *err)
{
    if (!json_is_object(doc))
        return tz_err_set(err, TZ_ERR_INPUT, "proof: must be a JSON object {\"size1\",\"size2\",\"hashes\"}");
    const char *key;
    json_t *v;
    json_object_foreach(doc, key, v) {
        if (strcmp(key, "size1") != 0 && strcmp(key, "size2") != 0 && strcmp(key, "hashes") != 0)
            return tz_err_set(err, TZ_ERR_INPUT, "proof.%.64s: unknown member (size1, size2, hashes only)", key);
    }
    int rc;
    if ((rc = json_u64(json_object_get(doc, "size1"), "size1", &p->size1, err)) != TZ_OK ||
        (rc = json_u64(json_object_get(doc, "size2"), "size2", &p->size2, err)) != TZ_OK)
        return rc;
    if (p->size1 > p->size2)
        return tz_err_set(err, TZ_ERR_INPUT, "proof: size1 %" PRIu64 " > size2 %" PRIu64 " (a proof goes from an "
                          "older, smaller tree to a newer one)", p->size1, p->size2);
    json_t *hashes = json_object_get(doc, "hashes");
    if (!json_is_array(hashes))
        return tz_err_set(err, TZ_ERR_INPUT, "proof.hashes: must be an array of base64 strings");
    if (json_array_size(hashes) > TZ_MERKLE_MAX_PROOF)
        return tz_err_set(err, TZ_ERR_INPUT, "proof.hashes: %zu hashes, at most %d", json_array_size(hashes),
                          TZ_MERKLE_MAX_PROOF);
    p->proof.count = json_array_size(hashes);
    for (size_t i = 0; i < p->proof.count; i++) {
        json_t *h = json_array_get(hashes, i);
        size_t n = 0;
        if (!json_is_string(h))
            return tz_err_set(err, TZ_ERR_INPUT, "proof.hashes[%zu]: must be a base64 string", i);
        rc = tz_base64_decode(p->proof.hashes[i], 32, &n, json_string_value(h), json_string_length(h), err);
        if (rc == TZ_OK && n != 32)
            rc = tz_err_set(err, TZ_ERR_INPUT, "%zu bytes", n);
        if (rc != TZ_OK) {
            tz_err_prefix(err, "proof.hashes[%zu]: a 32-byte hash in canonical base64: ", i);
            return rc;
        }
    }
    return TZ_OK;
}

int tz_witness_proof_parse(tz_witness_proof *out, const char *json, size_t len, tz_err *err)
{
    if (out == NULL || json == NULL)
        return tz_err_set(err, TZ_ERR_USAGE, "tz_witness_proof_parse: NULL argument");
    if (len > TZ_WITNESS_PROOF_MAX_JSON)
        return tz_err_set(err, TZ_ERR_INPUT, "proof: %zu bytes, at most %d", len, TZ_WITNESS_PROOF_MAX_JSON);
    json_error_t je;
    json_t *doc = json_loadb(json, len, JSON_REJECT_DUPLICATES, &je);
    if (doc == NULL)
        return tz_err_set(err, TZ_ERR_INPUT, "proof: not JSON (line %d column %d: %s)", je.line, je.column, je.text);
    tz_witness_proof *p = malloc(sizeof *p); /* 4 KiB of hashes */
    int rc = p ? proof_from_json(p, doc, err) : tz_err_set(err, TZ_ERR_NOMEM, "proof: out of memory");
    json_decref(doc);
    if (rc == TZ_OK)
        *out = *p;
    free(p);
    return rc;
}

/* ---- the witness's state -------------------------------------------------------------- */

/* The state directory: created 0700 when missing, then locked. *lock_fd
 * holds the exclusive flock until closed. */
static int state_lock(int *lock_fd, const char *dir, tz_err *err)
{
    if (mkdir(dir, 0700) != 0 && errno != EEXIST)
        return tz_err_set(err, TZ_ERR_IO, "--state %s: cannot create: %s", dir, strerror(errno));
    struct stat st;
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
        return tz_err_set(err, TZ_ERR_IO, "--state %s: not a directory", dir);
    char path[4096];
    if (snprintf(path, sizeof path, "%s/lock", dir) >= (int)sizeof path)
        return tz_err_set(err, TZ_ERR_IO, "--state %s: path too long", dir);
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0)
        return tz_err_set(err, TZ_ERR_IO, "--state %s: lock file: %s", dir, strerror(errno));
    while (flock(fd, LOCK_EX) != 0) {
        if (errno != EINTR) {
            int saved = errno;
            close(fd);
            return tz_err_set(err, TZ_ERR_IO, "--state %s: lock: %s", dir, strerror(saved));
        }
    }
    *lock_fd = fd;
    return TZ_OK;
}

/* The state file of a log: "<dir>/<hex SHA-256(verifier key string)>.checkpoint".
 * Keyed by the log key, not the origin, so that a log cannot start a fresh
 * history under a new origin with the same key: that is refused as an
 * origin change. */
static int state_path(char *out, size_t cap, const char *dir, const tz_public_key *log_key, tz_err *err)
{
    char vkey[TZ_KEY_STRING_MAX], hex[2 * TZ_HASH_LEN + 1];
    uint8_t h[TZ_HASH_LEN];
    int rc = tz_key_format_public(vkey, sizeof vkey, log_key, err);
    if (rc != TZ_OK) {
        tz_err_prefix(err, "--log-key: ");
        return rc;
    }
    tz_hash_sha256(h, vkey, strlen(vkey));
    tz_hex_encode(hex, h, sizeof h);
    if (snprintf(out, cap, "%s/%s" STATE_SUFFIX, dir, hex) >= (int)cap)
        return tz_err_set(err, TZ_ERR_IO, "--state %s: path too long", dir);
    return TZ_OK;
}

/* Reads the state file at path into a malloc'd buffer. TZ_ERR_NOTFOUND
 * when there is none. */
static int state_read(char **buf, size_t *len, const char *path, tz_err *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) {
        if (errno == ENOENT)
            return TZ_ERR_NOTFOUND;
        return tz_err_set(err, TZ_ERR_IO, "witness state %s: %s", path, strerror(errno));
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size <= 0 || st.st_size > TZ_NOTE_MAX_LEN) {
        close(fd);
        return tz_err_set(err, TZ_ERR_TAMPER, "witness state %s: not a regular file of 1 to %d bytes", path,
                          TZ_NOTE_MAX_LEN);
    }
    size_t n = (size_t)st.st_size, got = 0;
    char *b = malloc(n + 1);
    if (b == NULL) {
        close(fd);
        return tz_err_set(err, TZ_ERR_NOMEM, "witness state: out of memory");
    }
    while (got < n) {
        ssize_t r = read(fd, b + got, n - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            int saved = r < 0 ? errno : EIO;
            close(fd);
            free(b);
            return tz_err_set(err, TZ_ERR_IO, "witness state %s: read: %s", path, strerror(saved));
        }
        got += (size_t)r;
    }
    close(fd);
    b[n] = '\0';
    *buf = b;
    *len = n;
    return TZ_OK;
}

/* Writes data to path atomically and durably: path.tmp (0600), fsync,
 * rename over path, fsync of dir. On failure the old file is untouched
 * and the temporary one removed. */
static int state_write(const char *path, const char *dir, const char *data, size_t len, tz_err *err)
{
    char tmp[4096 + 8];
    if (snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp)
        return tz_err_set(err, TZ_ERR_IO, "witness state %s: path too long", path);
    unlink(tmp); /* a leftover of a crash; we hold the lock */
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0)
        return tz_err_set(err, TZ_ERR_IO, "witness state %s: %s", tmp, strerror(errno));
    int rc = TZ_OK;
    for (size_t off = 0; rc == TZ_OK && off < len;) {
        ssize_t w = write(fd, data + off, len - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            rc = tz_err_set(err, TZ_ERR_IO, "witness state %s: write: %s", tmp, strerror(w < 0 ? errno : EIO));
        else
            off += (size_t)w;
    }
    if (rc == TZ_OK && fsync(fd) != 0)
        rc = tz_err_set(err, TZ_ERR_IO, "witness state %s: fsync: %s", tmp, strerror(errno));
    if (close(fd) != 0 && rc == TZ_OK)
        rc = tz_err_set(err, TZ_ERR_IO, "witness state %s: close: %s", tmp, strerror(errno));
    if (rc == TZ_OK && rename(tmp, path) != 0)
        rc = tz_err_set(err, TZ_ERR_IO, "witness state %s: rename: %s", path, strerror(errno));
    if (rc != TZ_OK) {
        unlink(tmp);
        return rc;
    }
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0)
        return tz_err_set(err, TZ_ERR_IO, "--state %s: open for fsync: %s", dir, strerror(errno));
    if (fsync(dfd) != 0 && errno != EINVAL)
        rc = tz_err_set(err, TZ_ERR_IO, "--state %s: fsync: %s", dir, strerror(errno));
    close(dfd);
    return rc;
}

/* Loads the last checkpoint of the log from its state file. *have is 0
 * when there is none. The file must verify under log_key: anything else
 * means it was altered (or the log's key changed), and is not trusted. */
static int state_load(tz_checkpoint *last, int *have, const char *path, const tz_public_key *log_key, tz_err *err)
{
    char *buf = NULL;
    size_t len = 0;
    int rc = state_read(&buf, &len, path, err);
    if (rc == TZ_ERR_NOTFOUND) {
        *have = 0;
        return TZ_OK;
    }
    if (rc != TZ_OK)
        return rc;
    tz_err why;
    rc = tz_checkpoint_open(last, buf, len, log_key, &why);
    free(buf);
    if (rc != TZ_OK)
        return tz_err_set(err, TZ_ERR_TAMPER, "witness state %s: does not verify under the log key %s (altered, or "
                          "the log changed keys; refusing to cosign): %s", path, log_key->name, why.msg);
    *have = 1;
    return TZ_OK;
}

static void root_b64(char out[45], const uint8_t root[32])
{
    if (tz_base64_encode(out, 45, root, 32) == NULL)
        out[0] = '\0';
}

/* The rules of step 3 (see witness.h): TZ_OK when cp may be cosigned after
 * last (have = 0: first use). */
static int check_extends(const tz_checkpoint *cp, const tz_checkpoint *last, int have, const tz_witness_proof *proof,
                         tz_witness_result *res, tz_err *err)
{
    char a[45], b[45];
    if (!have)
        return TZ_OK; /* trust on first use: docs/WITNESS.md */
    res->last_size = last->size;
    if (strcmp(cp->origin, last->origin) != 0)
        return tz_err_set(err, TZ_ERR_PROOF, "checkpoint: origin \"%s\", but this log key signed origin \"%s\" "
                          "before: a log may not change its origin", cp->origin, last->origin);
    if (cp->size < last->size)
        return tz_err_set(err, TZ_ERR_PROOF, "checkpoint: size %" PRIu64 " < last seen %" PRIu64 " at %s: the log "
                          "was rolled back", cp->size, last->size, cp->origin);
    if (proof != NULL && (proof->size1 != last->size || proof->size2 != cp->size))
        return tz_err_set(err, TZ_ERR_PROOF, "proof: from size %" PRIu64 " to %" PRIu64 ", but the witness needs "
                          "one from %" PRIu64 " (last seen at %s) to %" PRIu64 " (this checkpoint)", proof->size1,
                          proof->size2, last->size, cp->origin, cp->size);
    if (cp->size == last->size) {
        if (!tz_hash_equal(cp->root, last->root, 32)) {
            root_b64(a, cp->root), root_b64(b, last->root);
            return tz_err_set(err, TZ_ERR_PROOF, "checkpoint: size %" PRIu64 " with root %s, but root %s was seen "
                              "at that size at %s: a split view (the log shows two different trees)", cp->size, a,
                              b, cp->origin);
        }
        if (proof != NULL && proof->proof.count != 0)
            return tz_err_set(err, TZ_ERR_PROOF, "proof: between equal sizes a consistency proof is empty, this one "
                              "has %zu hashes", proof->proof.count);
        res->same = 1;
        return TZ_OK;
    }
    if (last->size == 0) { /* every tree extends the empty tree: RFC 9162 has no proof for it */
        if (proof != NULL && proof->proof.count != 0)
            return tz_err_set(err, TZ_ERR_PROOF, "proof: from size 0 a consistency proof is empty, this one has %zu "
                              "hashes", proof->proof.count);
        return TZ_OK;
    }
    if (proof == NULL)
        return tz_err_set(err, TZ_ERR_PROOF, "checkpoint: size %" PRIu64 " > last seen %" PRIu64 " at %s: a "
                          "consistency proof from %" PRIu64 " to %" PRIu64 " is required (--proof; `taizhang prove "
                          "--from %" PRIu64 " --to %" PRIu64 "`)", cp->size, last->size, cp->origin, last->size,
                          cp->size, last->size, cp->size);
    tz_err why;
    if (tz_merkle_verify_consistency(last->size, cp->size, &proof->proof, last->root, cp->root, &why) != TZ_OK)
        return tz_err_set(err, TZ_ERR_PROOF, "proof: does not show that size %" PRIu64 " extends the last seen size "
                          "%" PRIu64 " at %s: the history was rewritten or the proof is wrong (%s)", cp->size,
                          last->size, cp->origin, why.msg);
    res->proof_checked = 1;
    return TZ_OK;
}

int tz_witness_cosign(char **out, size_t *out_len, const char *state_dir, const tz_public_key *log_key,
                      const tz_secret_key *witness, const char *note, size_t len, const tz_witness_proof *proof,
                      uint64_t now, tz_witness_result *result, tz_err *err)
{
    if (out == NULL || out_len == NULL || state_dir == NULL || log_key == NULL || witness == NULL || note == NULL)
        return tz_err_set(err, TZ_ERR_USAGE, "tz_witness_cosign: NULL argument");
    if (now > (uint64_t)TZ_WITNESS_TIME_MAX)
        return tz_err_set(err, TZ_ERR_USAGE, "cosignature: time %" PRIu64 " exceeds 2^63 - 1", now);
    tz_witness_result res;
    memset(&res, 0, sizeof res);
    int rc = tz_checkpoint_open(&res.checkpoint, note, len, log_key, err);
    if (rc != TZ_OK) {
        tz_err_prefix(err, "checkpoint: ");
        return rc;
    }
    uint8_t empty[32];
    tz_merkle_empty_root(empty);
    if (res.checkpoint.size == 0 && !tz_hash_equal(res.checkpoint.root, empty, 32))
        return tz_err_set(err, TZ_ERR_PROOF, "checkpoint: size 0 must carry the empty tree's root (SHA-256 of "
                          "nothing)");
    char path[4096 + 80];
    if ((rc = state_path(path, sizeof path, state_dir, log_key, err)) != TZ_OK)
        return rc;
    int lock_fd = -1;
    if ((rc = state_lock(&lock_fd, state_dir, err)) != TZ_OK)
        return rc;
    tz_checkpoint last;
    int have = 0;
    char *cosigned = NULL;
    size_t cosigned_len = 0;
    if ((rc = state_load(&last, &have, path, log_key, err)) != TZ_OK)
        goto done;
    res.first = !have;
    if ((rc = check_extends(&res.checkpoint, &last, have, proof, &res, err)) != TZ_OK)
        goto done;
    if ((rc = tz_witness_add_cosignature(&cosigned, &cosigned_len, note, len, witness, now, err)) != TZ_OK)
        goto done;
    if ((rc = state_write(path, state_dir, cosigned, cosigned_len, err)) != TZ_OK) {
        free(cosigned);
        goto done;
    }
    *out = cosigned;
    *out_len = cosigned_len;
    if (result != NULL)
        *result = res;
done:
    close(lock_fd);
    return rc;
}
