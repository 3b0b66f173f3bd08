/*
 * keyfile.c: reading and writing key files.
 *
 * A key file is read a few times per process (CLI start, daemon start) and
 * written once, by keygen, so the code optimises for safety, not speed:
 * files are created with O_EXCL and never replaced, made exactly 0600/0644
 * with fchmod (the umask can only narrow open()'s mode), fsynced together
 * with their directory, and removed again if any step fails. Reads are
 * bounded (TZ_KEYFILE_MAX), refuse secret files that group or others can
 * touch, and wipe every buffer that held secret bytes.
 *
 * The sealed form encrypts the whole secret key string (not just the seed)
 * so that name, id and seed travel together: after decryption the key is
 * parsed again and must match the public part written in clear in front of
 * it. Argon2id parameters are stored per file so they can be raised later;
 * on reading they are bounded so a crafted file cannot make us allocate
 * more than 1 GiB.
 */
#include "crypto/keyfile.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/encoding.h"

#define PLAIN_PREFIX "PRIVATE+KEY+"
#define SEALED_PREFIX "TAIZHANG+SEALED+KEY+"
#define PREFIX_LEN(p) (sizeof p - 1)
#define SEALED_KDF "argon2id13"
#define SEALED_FIELDS 7
#define SALT_LEN crypto_pwhash_argon2id_SALTBYTES /* 16 */
#define NONCE_LEN crypto_secretbox_NONCEBYTES      /* 24 */
#define BOX_MAX (crypto_secretbox_MACBYTES + TZ_KEY_STRING_MAX)
#define OPSLIMIT_MAX 32ULL
#define MEMLIMIT_MAX ((size_t)crypto_pwhash_argon2id_MEMLIMIT_SENSITIVE) /* 1 GiB */

typedef struct sealed_key {
    tz_public_key pub;
    unsigned long long opslimit;
    size_t memlimit;
    uint8_t salt[SALT_LEN];
    uint8_t nonce[NONCE_LEN];
    uint8_t box[BOX_MAX];
    size_t box_len;
} sealed_key;

static int has_prefix(const char *s, size_t len, const char *prefix, size_t prefix_len)
{
    return len >= prefix_len && memcmp(s, prefix, prefix_len) == 0;
}

/* ---- writing ---- */

/* fsyncs the directory holding path, so the new name survives a crash. */
static int sync_parent_dir(const char *path, tz_err *err)
{
    char dir[PATH_MAX];
    size_t n = strlen(path);
    if (n >= sizeof dir)
        return tz_err_set(err, TZ_ERR_IO, "key file %s: path too long", path);
    memcpy(dir, path, n + 1);
    char *slash = strrchr(dir, '/');
    if (slash == NULL)
        strcpy(dir, ".");
    else if (slash == dir)
        dir[1] = '\0';
    else
        *slash = '\0';
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return tz_err_set(err, TZ_ERR_IO, "key file %s: cannot open its directory: %s", path, strerror(errno));
    int rc = TZ_OK;
    if (fsync(fd) != 0 && errno != EINVAL) /* EINVAL: the file system cannot sync directories */
        rc = tz_err_set(err, TZ_ERR_IO, "key file %s: fsync of its directory: %s", path, strerror(errno));
    close(fd);
    return rc;
}

/* Creates path (which must not exist) with exactly mode, writes data,
 * fsyncs file and directory. On failure removes the file it created. */
static int write_new_file(const char *path, const char *data, size_t len, mode_t mode, tz_err *err)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode);
    if (fd < 0) {
        if (errno == EEXIST)
            return tz_err_set(err, TZ_ERR_IO, "key file %s already exists: refusing to overwrite it", path);
        return tz_err_set(err, TZ_ERR_IO, "key file %s: cannot create: %s", path, strerror(errno));
    }
    int rc = TZ_OK;
    if (fchmod(fd, mode) != 0) {
        rc = tz_err_set(err, TZ_ERR_IO, "key file %s: chmod %03o: %s", path, (unsigned)mode, strerror(errno));
        goto fail;
    }
    for (size_t done = 0; done < len;) {
        ssize_t w = write(fd, data + done, len - done);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            rc = tz_err_set(err, TZ_ERR_IO, "key file %s: write: %s", path, w < 0 ? strerror(errno) : "no progress");
            goto fail;
        }
        done += (size_t)w;
    }
    if (fsync(fd) != 0) {
        rc = tz_err_set(err, TZ_ERR_IO, "key file %s: fsync: %s", path, strerror(errno));
        goto fail;
    }
    int closed = close(fd);
    fd = -1;
    if (closed != 0) {
        rc = tz_err_set(err, TZ_ERR_IO, "key file %s: close: %s", path, strerror(errno));
        goto fail;
    }
    if ((rc = sync_parent_dir(path, err)) != TZ_OK)
        goto fail;
    return TZ_OK;
fail:
    if (fd >= 0)
        close(fd);
    unlink(path);
    return rc;
}

/* Builds the sealed line (with its '\n') for the secret key string
 * skstr[0..sk_len) in line[0..cap). */
static int seal(char *line, size_t cap, size_t *line_len, const tz_secret_key *key, const char *skstr,
                size_t sk_len, const char *passphrase, tz_err *err)
{
    char vkey[TZ_KEY_STRING_MAX];
    uint8_t salt[SALT_LEN], nonce[NONCE_LEN], box[BOX_MAX], k[crypto_secretbox_KEYBYTES];
    char salt64[4 * ((SALT_LEN + 2) / 3) + 1], nonce64[4 * ((NONCE_LEN + 2) / 3) + 1];
    char box64[4 * ((BOX_MAX + 2) / 3) + 1];
    unsigned long long ops = crypto_pwhash_argon2id_OPSLIMIT_INTERACTIVE;
    size_t mem = crypto_pwhash_argon2id_MEMLIMIT_INTERACTIVE;
    int rc = tz_key_format_public(vkey, sizeof vkey, &key->pub, err);
    if (rc != TZ_OK)
        goto done;
    if (sodium_init() < 0) {
        rc = tz_err_set(err, TZ_ERR_INTERNAL, "libsodium could not be initialised");
        goto done;
    }
    randombytes_buf(salt, sizeof salt);
    randombytes_buf(nonce, sizeof nonce);
    if (crypto_pwhash(k, sizeof k, passphrase, strlen(passphrase), salt, ops, mem,
                      crypto_pwhash_ALG_ARGON2ID13) != 0) {
        rc = tz_err_set(err, TZ_ERR_NOMEM, "sealing key: Argon2id could not get %zu bytes of memory", mem);
        goto done;
    }
    crypto_secretbox_easy(box, (const uint8_t *)skstr, sk_len, nonce, k);
    size_t box_len = crypto_secretbox_MACBYTES + sk_len;
    tz_base64_encode(salt64, sizeof salt64, salt, sizeof salt);
    tz_base64_encode(nonce64, sizeof nonce64, nonce, sizeof nonce);
    tz_base64_encode(box64, sizeof box64, box, box_len);
    int n = snprintf(line, cap, SEALED_PREFIX "%s " SEALED_KDF " %llu %zu %s %s %s\n", vkey, ops, mem, salt64,
                     nonce64, box64);
    if (n < 0 || (size_t)n >= cap) {
        rc = tz_err_set(err, TZ_ERR_INTERNAL, "sealing key: line buffer too small");
        goto done;
    }
    *line_len = (size_t)n;
done:
    sodium_memzero(k, sizeof k);
    sodium_memzero(box, sizeof box);
    return rc;
}

int tz_keyfile_write_secret(const char *path, const tz_secret_key *key, const char *passphrase, tz_err *err)
{
    if (path == NULL || key == NULL)
        return tz_err_set(err, TZ_ERR_USAGE, "tz_keyfile_write_secret: NULL argument");
    if (passphrase != NULL && passphrase[0] == '\0')
        return tz_err_set(err, TZ_ERR_USAGE, "key file %s: the passphrase is empty (pass NULL for a plain file)",
                          path);
    char skstr[TZ_KEY_STRING_MAX];
    char line[1024];
    size_t line_len = 0;
    int rc = tz_key_format_secret(skstr, sizeof skstr, key, err);
    if (rc != TZ_OK)
        goto done;
    size_t sk_len = strlen(skstr);
    if (passphrase == NULL) {
        memcpy(line, skstr, sk_len);
        line[sk_len] = '\n';
        line_len = sk_len + 1;
    } else if ((rc = seal(line, sizeof line, &line_len, key, skstr, sk_len, passphrase, err)) != TZ_OK) {
        goto done;
    }
    rc = write_new_file(path, line, line_len, 0600, err);
done:
    sodium_memzero(skstr, sizeof skstr);
    sodium_memzero(line, sizeof line);
    return rc;
}

int tz_keyfile_write_public(const char *path, const tz_public_key *key, tz_err *err)
{
    if (path == NULL || key == NULL)
        return tz_err_set(err, TZ_ERR_USAGE, "tz_keyfile_write_public: NULL argument");
    char line[TZ_KEY_STRING_MAX + 1];
    int rc = tz_key_format_public(line, sizeof line, key, err);
    if (rc != TZ_OK)
        return rc;
    size_t n = strlen(line);
    line[n] = '\n';
    return write_new_file(path, line, n + 1, 0644, err);
}

/* ---- reading ---- */

/* Reads the whole file (at most TZ_KEYFILE_MAX bytes) into buf and checks
 * that it is one line ending in '\n'; *line_len excludes the '\n'. */
static int read_key_line(char buf[TZ_KEYFILE_MAX + 1], size_t *line_len, mode_t *mode, const char *path,
                         tz_err *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0)
        return tz_err_set(err, TZ_ERR_IO, "key file %s: cannot open: %s", path, strerror(errno));
    struct stat st;
    int rc = TZ_OK;
    size_t len = 0;
    if (fstat(fd, &st) != 0) {
        rc = tz_err_set(err, TZ_ERR_IO, "key file %s: stat: %s", path, strerror(errno));
        goto done;
    }
    if (!S_ISREG(st.st_mode)) {
        rc = tz_err_set(err, TZ_ERR_IO, "key file %s: not a regular file", path);
        goto done;
    }
    while (len < TZ_KEYFILE_MAX + 1) {
        ssize_t r = read(fd, buf + len, TZ_KEYFILE_MAX + 1 - len);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            rc = tz_err_set(err, TZ_ERR_IO, "key file %s: read: %s", path, strerror(errno));
            goto done;
        }
        if (r == 0)
            break;
        len += (size_t)r;
    }
    if (len > TZ_KEYFILE_MAX) {
        rc = tz_err_set(err, TZ_ERR_INPUT, "key file %s: larger than %d bytes", path, TZ_KEYFILE_MAX);
        goto done;
    }
    if (len == 0) {
        rc = tz_err_set(err, TZ_ERR_INPUT, "key file %s: empty", path);
        goto done;
    }
    if (buf[len - 1] != '\n') {
        rc = tz_err_set(err, TZ_ERR_INPUT, "key file %s: does not end in a newline (truncated?)", path);
        goto done;
    }
    if (memchr(buf, '\n', len - 1) != NULL) {
        rc = tz_err_set(err, TZ_ERR_INPUT, "key file %s: more than one line (one key per file)", path);
        goto done;
    }
    *line_len = len - 1;
    *mode = st.st_mode;
done:
    close(fd);
    return rc;
}

static int check_private_mode(mode_t mode, const char *path, tz_err *err)
{
    if ((mode & 077) != 0)
        return tz_err_set(err, TZ_ERR_IO,
                          "key file %s is accessible by group or others (mode %04o): run chmod 600 %s", path,
                          (unsigned)(mode & 07777), path);
    return TZ_OK;
}

/* Strict decimal (no sign, no leading zeros) in [min, max]. */
static int parse_limit(unsigned long long *out, const char *s, size_t len, unsigned long long min,
                       unsigned long long max)
{
    if (len == 0 || len > 20 || (len > 1 && s[0] == '0'))
        return -1;
    unsigned long long v = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        unsigned d = (unsigned)(s[i] - '0');
        if (v > (ULLONG_MAX - d) / 10)
            return -1;
        v = v * 10 + d;
    }
    if (v < min || v > max)
        return -1;
    *out = v;
    return 0;
}

/* Parses a sealed line (without '\n') into *s; no key derivation yet. */
static int parse_sealed(sealed_key *s, const char *line, size_t len, const char *path, tz_err *err)
{
    const char *field[SEALED_FIELDS];
    size_t flen[SEALED_FIELDS], nf = 0;
    for (size_t start = 0;;) {
        const char *sp = memchr(line + start, ' ', len - start);
        size_t end = sp != NULL ? (size_t)(sp - line) : len;
        if (nf == SEALED_FIELDS)
            return tz_err_set(err, TZ_ERR_INPUT, "key file %s: sealed key has more than %d fields", path,
                              SEALED_FIELDS);
        field[nf] = line + start;
        flen[nf++] = end - start;
        if (end == start)
            return tz_err_set(err, TZ_ERR_INPUT, "key file %s: sealed key field %zu is empty (one space between fields)",
                              path, nf);
        if (sp == NULL)
            break;
        start = end + 1;
    }
    if (nf != SEALED_FIELDS)
        return tz_err_set(err, TZ_ERR_INPUT, "key file %s: sealed key has %zu fields, %d expected (truncated?)", path,
                          nf, SEALED_FIELDS);
    int rc = tz_key_parse_public(&s->pub, field[0] + PREFIX_LEN(SEALED_PREFIX), flen[0] - PREFIX_LEN(SEALED_PREFIX),
                                 err);
    if (rc != TZ_OK) {
        tz_err_prefix(err, "key file %s: sealed key, public part: ", path);
        return rc;
    }
    if (flen[1] != PREFIX_LEN(SEALED_KDF) || memcmp(field[1], SEALED_KDF, flen[1]) != 0)
        return tz_err_set(err, TZ_ERR_INPUT, "key file %s: sealed key field 2 must be " SEALED_KDF, path);
    unsigned long long mem = 0;
    if (parse_limit(&s->opslimit, field[2], flen[2], crypto_pwhash_argon2id_OPSLIMIT_MIN, OPSLIMIT_MAX) != 0)
        return tz_err_set(err, TZ_ERR_INPUT, "key file %s: sealed key opslimit must be a decimal from %llu to %llu",
                          path, (unsigned long long)crypto_pwhash_argon2id_OPSLIMIT_MIN, OPSLIMIT_MAX);
    if (parse_limit(&mem, field[3], flen[3], crypto_pwhash_argon2id_MEMLIMIT_MIN, MEMLIMIT_MAX) != 0)
        return tz_err_set(err, TZ_ERR_INPUT, "key file %s: sealed key memlimit must be a decimal from %llu to %llu",
                          path, (unsigned long long)crypto_pwhash_argon2id_MEMLIMIT_MIN,
                          (unsigned long long)MEMLIMIT_MAX);
    s->memlimit = (size_t)mem;
    size_t got = 0;
    if (tz_base64_decode(s->salt, sizeof s->salt, &got, field[4], flen[4], err) != TZ_OK || got != SALT_LEN)
        return tz_err_set(err, TZ_ERR_INPUT, "key file %s: sealed key salt must be base64 of %d bytes", path,
                          SALT_LEN);
    if (tz_base64_decode(s->nonce, sizeof s->nonce, &got, field[5], flen[5], err) != TZ_OK || got != NONCE_LEN)
        return tz_err_set(err, TZ_ERR_INPUT, "key file %s: sealed key nonce must be base64 of %d bytes", path,
                          NONCE_LEN);
    if (tz_base64_decode(s->box, sizeof s->box, &s->box_len, field[6], flen[6], err) != TZ_OK
        || s->box_len <= crypto_secretbox_MACBYTES)
        return tz_err_set(err, TZ_ERR_INPUT, "key file %s: sealed key ciphertext must be base64 of %d to %d bytes",
                          path, crypto_secretbox_MACBYTES + 1, (int)BOX_MAX);
    return TZ_OK;
}

static int unseal(tz_secret_key *out, const char *line, size_t len, const char *passphrase, const char *path,
                  tz_err *err)
{
    sealed_key s;
    tz_secret_key key;
    uint8_t k[crypto_secretbox_KEYBYTES];
    char plain[BOX_MAX];
    memset(&key, 0, sizeof key);
    int rc = parse_sealed(&s, line, len, path, err);
    if (rc != TZ_OK)
        goto done;
    if (sodium_init() < 0) {
        rc = tz_err_set(err, TZ_ERR_INTERNAL, "libsodium could not be initialised");
        goto done;
    }
    if (crypto_pwhash(k, sizeof k, passphrase, strlen(passphrase), s.salt, s.opslimit, s.memlimit,
                      crypto_pwhash_ALG_ARGON2ID13) != 0) {
        rc = tz_err_set(err, TZ_ERR_NOMEM, "key file %s: Argon2id could not get %zu bytes of memory", path,
                        s.memlimit);
        goto done;
    }
    size_t plain_len = s.box_len - crypto_secretbox_MACBYTES;
    if (crypto_secretbox_open_easy((uint8_t *)plain, s.box, s.box_len, s.nonce, k) != 0) {
        rc = tz_err_set(err, TZ_ERR_INPUT, "key file %s: wrong passphrase, or the sealed key was altered", path);
        goto done;
    }
    if (tz_key_parse_secret(&key, plain, plain_len, err) != TZ_OK) {
        rc = tz_err_set(err, TZ_ERR_INPUT, "key file %s: the sealed content is not a valid secret key string", path);
        goto done;
    }
    if (strcmp(key.pub.name, s.pub.name) != 0 || key.pub.id != s.pub.id
        || sodium_memcmp(key.pub.pk, s.pub.pk, sizeof key.pub.pk) != 0) {
        rc = tz_err_set(err, TZ_ERR_INPUT, "key file %s: the sealed key does not match its public part", path);
        goto done;
    }
    *out = key;
done:
    sodium_memzero(k, sizeof k);
    sodium_memzero(plain, sizeof plain);
    tz_key_wipe(&key);
    return rc;
}

int tz_keyfile_read_secret(tz_secret_key *out, const char *path, const char *passphrase, tz_err *err)
{
    if (out == NULL || path == NULL)
        return tz_err_set(err, TZ_ERR_USAGE, "tz_keyfile_read_secret: NULL argument");
    char buf[TZ_KEYFILE_MAX + 1];
    size_t len = 0;
    mode_t mode = 0;
    int rc = read_key_line(buf, &len, &mode, path, err);
    if (rc != TZ_OK)
        goto done;
    int plain = has_prefix(buf, len, PLAIN_PREFIX, PREFIX_LEN(PLAIN_PREFIX));
    int sealed = has_prefix(buf, len, SEALED_PREFIX, PREFIX_LEN(SEALED_PREFIX));
    if (!plain && !sealed) {
        tz_public_key pub;
        if (tz_key_parse_public(&pub, buf, len, NULL) == TZ_OK)
            rc = tz_err_set(err, TZ_ERR_INPUT, "key file %s holds a verifier (public) key, not a secret key", path);
        else
            rc = tz_err_set(err, TZ_ERR_INPUT,
                            "key file %s: not a secret key file (expected PRIVATE+KEY+... or TAIZHANG+SEALED+KEY+...)",
                            path);
        goto done;
    }
    if ((rc = check_private_mode(mode, path, err)) != TZ_OK)
        goto done;
    if (plain) {
        if ((rc = tz_key_parse_secret(out, buf, len, err)) != TZ_OK)
            tz_err_prefix(err, "key file %s: ", path);
    } else if (passphrase == NULL) {
        rc = tz_err_set(err, TZ_ERR_USAGE, "key file %s is sealed: set TAIZHANG_PASSPHRASE", path);
    } else {
        rc = unseal(out, buf, len, passphrase, path, err);
    }
done:
    sodium_memzero(buf, sizeof buf);
    return rc;
}

int tz_keyfile_read_public(tz_public_key *out, const char *path, tz_err *err)
{
    if (out == NULL || path == NULL)
        return tz_err_set(err, TZ_ERR_USAGE, "tz_keyfile_read_public: NULL argument");
    char buf[TZ_KEYFILE_MAX + 1];
    size_t len = 0;
    mode_t mode = 0;
    tz_secret_key key;
    sealed_key s;
    memset(&key, 0, sizeof key);
    int rc = read_key_line(buf, &len, &mode, path, err);
    if (rc != TZ_OK)
        goto done;
    if (has_prefix(buf, len, PLAIN_PREFIX, PREFIX_LEN(PLAIN_PREFIX))) {
        if ((rc = check_private_mode(mode, path, err)) != TZ_OK)
            goto done;
        if ((rc = tz_key_parse_secret(&key, buf, len, err)) != TZ_OK) {
            tz_err_prefix(err, "key file %s: ", path);
            goto done;
        }
        *out = key.pub;
    } else if (has_prefix(buf, len, SEALED_PREFIX, PREFIX_LEN(SEALED_PREFIX))) {
        if ((rc = check_private_mode(mode, path, err)) != TZ_OK)
            goto done;
        if ((rc = parse_sealed(&s, buf, len, path, err)) != TZ_OK)
            goto done;
        *out = s.pub;
    } else if ((rc = tz_key_parse_public(out, buf, len, err)) != TZ_OK) {
        tz_err_prefix(err, "key file %s: ", path);
    }
done:
    tz_key_wipe(&key);
    sodium_memzero(buf, sizeof buf);
    return rc;
}
