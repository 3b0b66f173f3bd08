/*
 * status.h: the one status type of libtaizhang.
 *
 * Every function that can fail returns an int: TZ_OK (0) on success or one
 * of the negative TZ_ERR_* codes below, and, when the caller passes a
 * non-NULL tz_err, fills it with the same code and a message for a person.
 * Messages for rejected input name the field and the rule that was broken
 * ("body.days[3]: float values are not allowed (money is integer fen)").
 *
 * The CLI maps codes to exit statuses with tz_status_exit_code():
 *   0 ok, 1 tampering or an invalid proof, 2 usage/I-O/internal,
 *   3 input rejected (nothing of it was written).
 */
#ifndef TZ_UTIL_STATUS_H
#define TZ_UTIL_STATUS_H

#include <stddef.h>

#define TZ_MUST_CHECK __attribute__((warn_unused_result))
#define TZ_PRINTF(f, a) __attribute__((format(printf, f, a)))

enum {
    TZ_OK = 0,
    TZ_ERR_USAGE = -1,     /* a caller passed arguments that make no sense */
    TZ_ERR_IO = -2,        /* file system or RocksDB failure */
    TZ_ERR_NOMEM = -3,     /* allocation failed */
    TZ_ERR_INTERNAL = -4,  /* a broken invariant of our own */
    TZ_ERR_INPUT = -5,     /* malformed input: syntax, encoding, limits */
    TZ_ERR_RULE = -6,      /* well-formed, but a ledger or policy rule forbids it */
    TZ_ERR_SIGNATURE = -7, /* a signature is invalid, or its key unknown or revoked */
    TZ_ERR_FORBIDDEN = -8, /* the signing key lacks the role or scope needed */
    TZ_ERR_CONFLICT = -9,  /* a statement id is reused with other content */
    TZ_ERR_NOTFOUND = -10, /* the thing asked for does not exist */
    TZ_ERR_TAMPER = -11,   /* verification found the stored data altered */
    TZ_ERR_PROOF = -12,    /* a proof or checkpoint does not verify */
};

#define TZ_ERR_MSG_MAX 512

typedef struct tz_err {
    int code;
    char msg[TZ_ERR_MSG_MAX];
} tz_err;

/* Sets *err (when err is not NULL) to code and the formatted message.
 * Returns code, so a failing path can read `return tz_err_set(err, ...)`. */
int tz_err_set(tz_err *err, int code, const char *fmt, ...) TZ_PRINTF(3, 4);

/* Puts the formatted context in front of err's message ("line 4: ").
 * Keeps err->code. Does nothing when err is NULL. Returns nothing on
 * purpose: the caller returns the status it already holds, which stays
 * right even when err is NULL. */
void tz_err_prefix(tz_err *err, const char *fmt, ...) TZ_PRINTF(2, 3);

/* Clears err to TZ_OK with an empty message. Accepts NULL. */
void tz_err_clear(tz_err *err);

/* A stable lower-case name for a code ("input", "tamper", ...). */
const char *tz_status_name(int code);

/* The CLI exit status for a code: 0, 1 (tamper/proof), 2 or 3 (rejected). */
int tz_status_exit_code(int code);

#endif
