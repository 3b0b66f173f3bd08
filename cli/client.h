/*
 * client.h: the HTTP/1.1 client behind `taizhang --server URL` (libevent
 * evhttp). One connection per client, kept alive across requests; each
 * request runs the event base until its reply (or failure) arrives.
 */
#ifndef TZ_CLI_CLIENT_H
#define TZ_CLI_CLIENT_H

#include <jansson.h>
#include <stddef.h>

#include "util/status.h"

typedef struct tz_client tz_client;

/* A reply: HTTP status and the malloc'd body (NUL-terminated; len without it). */
typedef struct tz_client_reply {
    int status;
    char *body;
    size_t len;
} tz_client_reply;

/* Parses url (http://HOST[:PORT], port 80 by default; a path is put in front
 * of every request path). TZ_ERR_USAGE on a URL it cannot use. */
int tz_client_open(tz_client **c, const char *url, tz_err *err) TZ_MUST_CHECK;
void tz_client_close(tz_client *c);

/* One request; path includes the query string (already encoded). body may
 * be NULL (GET). TZ_OK when any HTTP reply came back (whatever its status);
 * TZ_ERR_IO when the server could not be reached or closed without one. */
int tz_client_request(tz_client *c, const char *method, const char *path, const char *ctype,
                      const void *body, size_t len, tz_client_reply *r, tz_err *err) TZ_MUST_CHECK;
void tz_client_reply_free(tz_client_reply *r);

/* The CLI exit code for an HTTP error status: 3 for a rejected input (400,
 * 401, 403, 409, 413, 422), except 2 for a 400 whose error is "usage" (as
 * the same error exits with --db), 1 for tampering found by the server (500
 * "tamper"), 2 otherwise. */
int tz_client_exit_code(const tz_client_reply *r);

/* The server's message of an error reply ({"error","message"}), or a
 * description of the status when the body is not that; static or within r. */
const char *tz_client_message(const tz_client_reply *r, char *buf, size_t cap);

/* The reply body as JSON (NULL when it is not JSON). */
json_t *tz_client_json(const tz_client_reply *r);

/* Appends "name=value" (percent-encoded) to a query string being built in
 * buf, with '?' or '&' as needed. Returns -1 when it does not fit. */
int tz_client_add_param(char *buf, size_t cap, const char *name, const char *value);

#endif
