/*
 * router.c: the endpoint of a request from its method and path (see
 * router.h). Pure: no state, no I/O, no libevent request object, so the
 * fuzz harness reaches it without a socket.
 */
#include "daemon/router.h"

#include <stdint.h>
#include <string.h>

#include "util/encoding.h"

#define PATH_SHOWN_MAX 128 /* bytes of a refused path repeated in its error message */

/* The path as an error message may repeat it: at most PATH_SHOWN_MAX bytes,
 * cut on a character boundary, every byte that is not part of well-formed
 * UTF-8 written \xHH, so the JSON reply can always be made (jansson
 * refuses invalid UTF-8, and a 400/404/405 must not turn into a 500). */
static void path_shown(char out[4 * PATH_SHOWN_MAX + 4], const char *path)
{
    static const char hex[] = "0123456789abcdef";
    size_t len = strlen(path), i = 0, o = 0;
    while (i < len) {
        uint32_t cp;
        size_t n = tz_utf8_next(&cp, (const uint8_t *)path + i, len - i);
        if (i + (n > 0 ? n : 1) > PATH_SHOWN_MAX)
            break;
        if (n > 0 && cp >= 0x20 && cp != 0x7f) {
            memcpy(out + o, path + i, n);
            o += n;
            i += n;
        } else {
            uint8_t b = (uint8_t)path[i++];
            out[o++] = '\\';
            out[o++] = 'x';
            out[o++] = hex[b >> 4];
            out[o++] = hex[b & 15];
        }
    }
    if (i < len)
        memcpy(out + o, "...", 3), o += 3;
    out[o] = '\0';
}

tzd_route tzd_route_request(int *post, tzd_reply *reply, enum evhttp_cmd_type method,
                            const char *path)
{
    *post = 0;
    if (path == NULL || path[0] != '/') {
        tzd_reply_error(reply, 400, "input", "request target: not an absolute path");
        return TZD_ROUTE_ERROR;
    }
    tzd_route route = TZD_ROUTE_READ;
    if (strcmp(path, "/v1/statements") == 0)
        route = TZD_ROUTE_STATEMENTS;
    else if (strcmp(path, "/v1/cosign") == 0)
        route = TZD_ROUTE_COSIGN_STATEMENT;
    else if (strcmp(path, "/v1/checkpoint/cosign") == 0)
        route = TZD_ROUTE_CHECKPOINT_COSIGN;
    else if (strcmp(path, "/healthz") == 0)
        route = TZD_ROUTE_HEALTHZ;
    else if (strcmp(path, "/metrics") == 0)
        route = TZD_ROUTE_METRICS;
    else if (strcmp(path, "/v1/checkpoint/cosigned") == 0)
        route = TZD_ROUTE_COSIGNED;
    else if (strncmp(path, "/v1/", 4) != 0)
        route = TZD_ROUTE_ERROR;
    *post = route == TZD_ROUTE_STATEMENTS || route == TZD_ROUTE_COSIGN_STATEMENT ||
            route == TZD_ROUTE_CHECKPOINT_COSIGN;
    /* The method first: each path takes exactly one (GET, or POST for appends). */
    char shown[4 * PATH_SHOWN_MAX + 4];
    if (route != TZD_ROUTE_ERROR && method != (*post ? EVHTTP_REQ_POST : EVHTTP_REQ_GET)) {
        path_shown(shown, path);
        tzd_reply_error(reply, 405, "method", "%s takes %s only", shown, *post ? "POST" : "GET");
        return TZD_ROUTE_ERROR;
    }
    if (route == TZD_ROUTE_ERROR) {
        path_shown(shown, path);
        tzd_reply_error(reply, 404, "notfound", "%s: no such endpoint", shown);
    }
    return route;
}

int tzd_route_body_is_msgpack(const char *ct)
{
    return ct != NULL && (strncmp(ct, "application/msgpack", 19) == 0 ||
                          strncmp(ct, "application/x-msgpack", 21) == 0 ||
                          strncmp(ct, "application/vnd.msgpack", 23) == 0);
}

const char *tzd_route_require_type(tzd_route route)
{
    return route == TZD_ROUTE_COSIGN_STATEMENT ? "cosign" : NULL;
}
