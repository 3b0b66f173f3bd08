/*
 * status.c: error codes and messages shared by the whole library.
 * Messages are bounded (TZ_ERR_MSG_MAX) and always NUL-terminated; a message
 * that does not fit is cut, never overflowed.
 */
#include "util/status.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int tz_err_set(tz_err *err, int code, const char *fmt, ...)
{
    if (err == NULL)
        return code;
    err->code = code;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    va_end(ap);
    return code;
}

void tz_err_prefix(tz_err *err, const char *fmt, ...)
{
    if (err == NULL)
        return;
    char head[TZ_ERR_MSG_MAX];
    char old[TZ_ERR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(head, sizeof head, fmt, ap);
    va_end(ap);
    memcpy(old, err->msg, sizeof old);
    size_t h = strnlen(head, sizeof head - 1);
    size_t o = strnlen(old, sizeof old - 1);
    if (o > sizeof err->msg - 1 - h)
        o = sizeof err->msg - 1 - h; /* cut the tail rather than overflow */
    memcpy(err->msg, head, h);
    memcpy(err->msg + h, old, o);
    err->msg[h + o] = '\0';
}

void tz_err_clear(tz_err *err)
{
    if (err == NULL)
        return;
    err->code = TZ_OK;
    err->msg[0] = '\0';
}

const char *tz_status_name(int code)
{
    switch (code) {
    case TZ_OK: return "ok";
    case TZ_ERR_USAGE: return "usage";
    case TZ_ERR_IO: return "io";
    case TZ_ERR_NOMEM: return "nomem";
    case TZ_ERR_INTERNAL: return "internal";
    case TZ_ERR_INPUT: return "input";
    case TZ_ERR_RULE: return "rule";
    case TZ_ERR_SIGNATURE: return "signature";
    case TZ_ERR_FORBIDDEN: return "forbidden";
    case TZ_ERR_CONFLICT: return "conflict";
    case TZ_ERR_NOTFOUND: return "notfound";
    case TZ_ERR_TAMPER: return "tamper";
    case TZ_ERR_PROOF: return "proof";
    default: return "unknown";
    }
}

int tz_status_exit_code(int code)
{
    switch (code) {
    case TZ_OK:
        return 0;
    case TZ_ERR_TAMPER:
    case TZ_ERR_PROOF:
        return 1;
    case TZ_ERR_INPUT:
    case TZ_ERR_RULE:
    case TZ_ERR_SIGNATURE:
    case TZ_ERR_FORBIDDEN:
    case TZ_ERR_CONFLICT:
        return 3;
    default:
        return 2;
    }
}
