/*
 * router.h: which endpoint of taizhangd a request is for, decided from its
 * method and path alone (docs/API.md), apart from the event loop so that
 * the daemon and the HTTP fuzz harness (fuzz/fuzz_http.c) route through the
 * same code.
 *
 * Each path takes exactly one method: GET, or POST for the three that
 * append or collect (POST /v1/statements, /v1/cosign, /v1/checkpoint/cosign).
 * The method is checked first, so a known path with the wrong method is 405
 * even when it would then be 404 for its parameters; a path outside /v1/,
 * /healthz and /metrics is 404; a request target that is not an absolute
 * path is 400. Every other path under /v1/ is a read, which tzd_api_read
 * answers (404 there for an unknown one).
 */
#ifndef TZ_DAEMON_ROUTER_H
#define TZ_DAEMON_ROUTER_H

#include <event2/http.h>

#include "daemon/api.h"

typedef enum tzd_route {
    TZD_ROUTE_ERROR,              /* refused: the reply (400, 404 or 405) is filled */
    TZD_ROUTE_HEALTHZ,            /* GET /healthz */
    TZD_ROUTE_METRICS,            /* GET /metrics */
    TZD_ROUTE_COSIGNED,           /* GET /v1/checkpoint/cosigned: tzd_cosign_get */
    TZD_ROUTE_READ,               /* GET /v1/...: tzd_api_read */
    TZD_ROUTE_STATEMENTS,         /* POST /v1/statements: parse, then append */
    TZD_ROUTE_COSIGN_STATEMENT,   /* POST /v1/cosign: the same, type "cosign" required */
    TZD_ROUTE_CHECKPOINT_COSIGN   /* POST /v1/checkpoint/cosign: tzd_cosign_post */
} tzd_route;

/* The endpoint for (method, path); path is the request target's path as
 * libevent parsed it (may be NULL: then 400). *post is set to 1 when path
 * is one of the POST endpoints, whatever the method (the daemon counts
 * its refusals as appends), else 0. On TZD_ROUTE_ERROR *reply holds the
 * JSON error (the caller sends and clears it); otherwise *reply is left
 * untouched. Allocates only the error reply's body; never fails (an
 * allocation failure leaves a 500 "out of memory" reply, as tzd_reply_json). */
tzd_route tzd_route_request(int *post, tzd_reply *reply, enum evhttp_cmd_type method,
                            const char *path);

/* 1 when a request's Content-Type (may be NULL) says its body is msgpack
 * (application/msgpack, application/x-msgpack, application/vnd.msgpack,
 * parameters allowed after the type), else 0: the body is JSON. */
int tzd_route_body_is_msgpack(const char *content_type);

/* The library statement type a route's body must have: "cosign" for
 * TZD_ROUTE_COSIGN_STATEMENT, else NULL (any type). */
const char *tzd_route_require_type(tzd_route route);

#endif
