/*
 * keyfile.h: key files on disk. Each file is one line ending in '\n':
 *
 *   FILE.pub  (0644)   <verifier key string>
 *   FILE      (0600)   PRIVATE+KEY+<name>+<hex8>+<base64(0x01||seed)>              plain
 *   FILE      (0600)   TAIZHANG+SEALED+KEY+<verifier key string> argon2id13
 *                      <opslimit> <memlimit> <base64(salt)> <base64(nonce)>
 *                      <base64(secretbox(secret key string))>                     sealed
 *
 * (the sealed form is a single line; fields separated by one space). The
 * public part of a sealed file is readable without the passphrase. Files
 * are created, never replaced, and made durable (fsync of file and
 * directory) before the write functions return. docs/KEYS.md has every byte.
 */
#ifndef TZ_CRYPTO_KEYFILE_H
#define TZ_CRYPTO_KEYFILE_H

#include "crypto/key.h"
#include "util/status.h"

#define TZ_KEYFILE_MAX 4096 /* bytes; larger files are refused */

/* Writes key to a new file at path, mode exactly 0600: the secret key
 * string when passphrase is NULL, the sealed form otherwise (Argon2id with
 * OPSLIMIT_INTERACTIVE and MEMLIMIT_INTERACTIVE, random salt and nonce,
 * XSalsa20-Poly1305 secretbox). Refuses to overwrite: an existing path
 * (even a dangling symlink) is TZ_ERR_IO naming the path.
 * Errors: TZ_ERR_IO (create, write, fsync), TZ_ERR_USAGE (NULL path or key,
 * empty passphrase, inconsistent key), TZ_ERR_NOMEM (Argon2id memory).
 * On failure no file is left at path (one we created is removed). All
 * buffers holding secrets are wiped on every path. */
int tz_keyfile_write_secret(const char *path, const tz_secret_key *key, const char *passphrase,
                            tz_err *err) TZ_MUST_CHECK;

/* Writes the verifier key string of key and '\n' to a new file at path,
 * mode exactly 0644. Refuses to overwrite. Errors and failure behaviour as
 * tz_keyfile_write_secret. */
int tz_keyfile_write_public(const char *path, const tz_public_key *key, tz_err *err) TZ_MUST_CHECK;

/* Reads the secret key file at path, plain or sealed (passphrase ignored
 * for a plain file). Refuses a file that is not regular, is larger than
 * TZ_KEYFILE_MAX, or grants any permission to group or others
 * (TZ_ERR_IO, "chmod 600 ..."). Errors: TZ_ERR_USAGE when the file is sealed
 * and passphrase is NULL ("key file X is sealed: set TAIZHANG_PASSPHRASE");
 * TZ_ERR_INPUT for a malformed, truncated or altered file, for a wrong
 * passphrase, and for a verifier key file; TZ_ERR_IO for open/read errors;
 * TZ_ERR_NOMEM. *out is written only on success; every buffer that held
 * secret bytes is wiped. */
int tz_keyfile_read_secret(tz_secret_key *out, const char *path, const char *passphrase, tz_err *err) TZ_MUST_CHECK;

/* Reads the public key from path: a verifier key file, or (for convenience)
 * a plain or sealed secret key file, whose public part is taken without
 * needing the passphrase. A secret file is held to the same permission rule
 * as in tz_keyfile_read_secret. Errors: TZ_ERR_IO, TZ_ERR_INPUT,
 * TZ_ERR_USAGE. *out is written only on success. */
int tz_keyfile_read_public(tz_public_key *out, const char *path, tz_err *err) TZ_MUST_CHECK;

#endif
