/*
 * client.c: the HTTP/1.1 client of `taizhang --server URL`, on libevent's
 * evhttp client. Requests are made one at a time on one kept-alive
 * connection; evhttp reconnects by itself when the server closed it.
 */
#include "cli/client.h"

#include <errno.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/util.h>
#include <netdb.h>
#include <stdio.h>
#include <sys/socket.h>
#include <unistd.h>
#include <stdlib.h>
#include <string.h>

#define CLIENT_TIMEOUT_S 60

struct tz_client {
    struct event_base *base;
    struct evhttp_connection *conn;
    char *host;
    char *prefix; /* the URL's path without its trailing '/', "" for none */
    char url[256];
    int port;
};

int tz_client_open(tz_client **out, const char *url, tz_err *err)
{
    *out = NULL;
    struct evhttp_uri *u = evhttp_uri_parse(url);
    const char *scheme = u ? evhttp_uri_get_scheme(u) : NULL;
    const char *host = u ? evhttp_uri_get_host(u) : NULL;
    if (u == NULL || scheme == NULL || strcmp(scheme, "http") != 0 || host == NULL ||
        *host == '\0' || evhttp_uri_get_query(u) != NULL) {
        if (u != NULL)
            evhttp_uri_free(u);
        return tz_err_set(err, TZ_ERR_USAGE, "--server %s: expects http://HOST:PORT", url);
    }
    tz_client *c = calloc(1, sizeof *c);
    if (c == NULL) {
        evhttp_uri_free(u);
        return tz_err_set(err, TZ_ERR_NOMEM, "out of memory");
    }
    int port = evhttp_uri_get_port(u);
    c->port = port < 0 ? 80 : port;
    const char *path = evhttp_uri_get_path(u);
    c->host = strdup(host);
    c->prefix = strdup(path ? path : "");
    size_t pl = c->prefix ? strlen(c->prefix) : 0;
    while (pl > 0 && c->prefix[pl - 1] == '/')
        c->prefix[--pl] = '\0';
    snprintf(c->url, sizeof c->url, "http://%s:%d", host, c->port);
    evhttp_uri_free(u);
    c->base = event_base_new();
    if (c->host == NULL || c->prefix == NULL || c->base == NULL ||
        (c->conn = evhttp_connection_base_new(c->base, NULL, c->host, (unsigned short)c->port)) ==
            NULL) {
        tz_client_close(c);
        return tz_err_set(err, TZ_ERR_NOMEM, "out of memory");
    }
    evhttp_connection_set_timeout(c->conn, CLIENT_TIMEOUT_S);
    *out = c;
    return TZ_OK;
}

void tz_client_close(tz_client *c)
{
    if (c == NULL)
        return;
    if (c->conn != NULL)
        evhttp_connection_free(c->conn);
    if (c->base != NULL)
        event_base_free(c->base);
    free(c->host);
    free(c->prefix);
    free(c);
}

typedef struct pending_req {
    tz_client_reply *r;
    int done;
    int failed;
    enum evhttp_request_error error;
} pending_req;

static void on_reply(struct evhttp_request *req, void *arg)
{
    pending_req *p = arg;
    p->done = 1;
    if (req == NULL || evhttp_request_get_response_code(req) == 0) {
        p->failed = 1;
        return;
    }
    p->r->status = evhttp_request_get_response_code(req);
    struct evbuffer *in = evhttp_request_get_input_buffer(req);
    size_t n = evbuffer_get_length(in);
    p->r->body = malloc(n + 1);
    if (p->r->body == NULL) {
        p->failed = 1;
        return;
    }
    evbuffer_remove(in, p->r->body, n);
    p->r->body[n] = '\0';
    p->r->len = n;
}

static void on_error(enum evhttp_request_error e, void *arg)
{
    pending_req *p = arg;
    p->failed = 1;
    p->error = e;
}

/* Why the server cannot be reached: a plain connect() of our own, since
 * evhttp reports a refused connection only as a failed request. */
static const char *connect_error(const tz_client *c)
{
    char port[16];
    snprintf(port, sizeof port, "%d", c->port);
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *ai = NULL;
    int g = getaddrinfo(c->host, port, &hints, &ai);
    if (g != 0)
        return gai_strerror(g);
    int err = 0;
    for (struct addrinfo *a = ai; a != NULL; a = a->ai_next) {
        int fd = socket(a->ai_family, a->ai_socktype, a->ai_protocol);
        if (fd < 0) {
            err = errno;
            continue;
        }
        int ok = connect(fd, a->ai_addr, a->ai_addrlen) == 0;
        err = ok ? 0 : errno;
        close(fd);
        if (ok)
            break;
    }
    freeaddrinfo(ai);
    return err ? strerror(err) : NULL;
}

int tz_client_request(tz_client *c, const char *method, const char *path, const char *ctype,
                      const void *body, size_t len, tz_client_reply *r, tz_err *err)
{
    memset(r, 0, sizeof *r);
    pending_req p = {r, 0, 0, EVREQ_HTTP_EOF};
    struct evhttp_request *req = evhttp_request_new(on_reply, &p);
    if (req == NULL)
        return tz_err_set(err, TZ_ERR_NOMEM, "out of memory");
    evhttp_request_set_error_cb(req, on_error);
    struct evkeyvalq *h = evhttp_request_get_output_headers(req);
    char hostport[300];
    snprintf(hostport, sizeof hostport, "%s:%d", c->host, c->port);
    evhttp_add_header(h, "Host", hostport);
    evhttp_add_header(h, "Accept", "application/json, text/plain");
    if (body != NULL) {
        evhttp_add_header(h, "Content-Type", ctype ? ctype : "application/json");
        evbuffer_add(evhttp_request_get_output_buffer(req), body, len);
    }
    size_t ul = strlen(c->prefix) + strlen(path) + 1;
    char *uri = malloc(ul);
    if (uri == NULL) {
        evhttp_request_free(req);
        return tz_err_set(err, TZ_ERR_NOMEM, "out of memory");
    }
    snprintf(uri, ul, "%s%s", c->prefix, path);
    enum evhttp_cmd_type cmd = strcmp(method, "POST") == 0 ? EVHTTP_REQ_POST : EVHTTP_REQ_GET;
    if (evhttp_make_request(c->conn, req, cmd, uri) != 0) {
        free(uri);
        return tz_err_set(err, TZ_ERR_IO, "%s: cannot send the request", c->url);
    }
    free(uri);
    while (!p.done)
        if (event_base_loop(c->base, EVLOOP_ONCE) < 0)
            break;
    if (!p.done || p.failed) {
        tz_client_reply_free(r);
        const char *why = p.error == EVREQ_HTTP_TIMEOUT ? "no answer within the time limit"
                          : NULL;
        if (why == NULL && (why = connect_error(c)) == NULL)
            why = "the connection closed without an answer";
        return tz_err_set(err, TZ_ERR_IO, "server %s: %s %s%s: %s (is taizhangd running there?)",
                          c->url, method, c->prefix, path, why);
    }
    return TZ_OK;
}

void tz_client_reply_free(tz_client_reply *r)
{
    if (r == NULL)
        return;
    free(r->body);
    r->body = NULL;
    r->len = 0;
}

json_t *tz_client_json(const tz_client_reply *r)
{
    if (r->body == NULL)
        return NULL;
    return json_loadb(r->body, r->len, JSON_ALLOW_NUL, NULL);
}

int tz_client_exit_code(const tz_client_reply *r)
{
    switch (r->status) {
    case 400: {
        /* a usage error (an as_of outside the log, a missing filter) exits
         * 2 as it does with --db (tz_status_exit_code); other 400s are input */
        json_t *j = tz_client_json(r);
        const char *code = json_string_value(json_object_get(j, "error"));
        int usage = code != NULL && strcmp(code, "usage") == 0;
        json_decref(j);
        return usage ? 2 : 3;
    }
    case 401:
    case 403:
    case 409:
    case 413:
    case 422:
        return 3;
    case 500: {
        json_t *j = tz_client_json(r);
        const char *code = json_string_value(json_object_get(j, "error"));
        int tamper = code != NULL && strcmp(code, "tamper") == 0;
        json_decref(j);
        return tamper ? 1 : 2;
    }
    default:
        return 2;
    }
}

const char *tz_client_message(const tz_client_reply *r, char *buf, size_t cap)
{
    json_t *j = tz_client_json(r);
    const char *m = json_string_value(json_object_get(j, "message"));
    if (m != NULL)
        snprintf(buf, cap, "%s", m);
    else
        snprintf(buf, cap, "the server answered HTTP %d%s%.200s", r->status,
                 r->len ? ": " : "", r->body ? r->body : "");
    json_decref(j);
    return buf;
}

int tz_client_add_param(char *buf, size_t cap, const char *name, const char *value)
{
    if (value == NULL)
        return 0;
    char *enc = evhttp_uriencode(value, -1, 0);
    if (enc == NULL)
        return -1;
    size_t len = strlen(buf);
    int n = snprintf(buf + len, cap - len, "%c%s=%s", strchr(buf, '?') ? '&' : '?', name, enc);
    free(enc);
    return n < 0 || (size_t)n >= cap - len ? -1 : 0;
}
