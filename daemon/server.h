/*
 * server.h: taizhangd's HTTP server: the event loop, the worker pool and
 * the one writer (docs/API.md describes the endpoints).
 *
 *   event loop (1 thread)  accepts, reads requests (limits on header and body
 *                          size, timeouts), routes, and sends every reply;
 *   workers (N threads)    parse and verify posted statements, answer reads;
 *   writer (1 thread)      takes every verified statement that is ready and
 *                          appends them with one tz_ledger_append (one
 *                          RocksDB batch, one fsync), then publishes the new
 *                          head and hands the replies back.
 * Replies travel back to the loop through a queue and an event made active
 * from the producing thread (libevent's pthread locking is on), so only the
 * loop thread ever touches a request.
 */
#ifndef TZ_DAEMON_SERVER_H
#define TZ_DAEMON_SERVER_H

#include <stddef.h>
#include <stdint.h>

#include "crypto/key.h"
#include "util/status.h"

typedef struct tzd_config {
    const char *db;          /* the ledger directory (must exist) */
    const char *address;     /* listen address, default 127.0.0.1 */
    uint16_t port;           /* 0: any free port (printed at start) */
    unsigned workers;        /* worker threads, >= 1 */
    size_t max_body;         /* bytes; larger bodies get 413 */
    size_t max_headers;      /* bytes of request line + headers */
    int timeout_seconds;     /* libevent's read/write timeout per connection (reset by
                                each byte; a backstop for writes to slow readers) */
    size_t max_batch;        /* statements per group commit */
    size_t max_connections;  /* connections served at once, counted from accept;
                                more get 503 (docs/API.md "Connections and fairness") */
    size_t max_connections_per_host; /* of those, from one source address */
    int request_seconds;     /* a whole request (headers and body) from its first byte */
    int keepalive_seconds;   /* a connection without a byte after accept or a reply */
    size_t max_body_memory;  /* bytes of request bodies buffered, all connections */
    size_t max_queued_reads; /* reads waiting for a worker; more get 503 busy */
    const tz_public_key *witnesses; /* --witness: whose cosignatures are collected (cosign.h) */
    size_t nwitnesses;
} tzd_config;

/* Sets the defaults: 127.0.0.1:8080, workers = online CPUs, 1 MiB body,
 * 16 KiB headers, 30 s timeout, batches of up to 1024, 1024 connections,
 * 128 per host, 30 s per request, 15 s idle keep-alive, 64 MiB of bodies
 * buffered, 256 reads queued. */
void tzd_config_defaults(tzd_config *cfg);

/* Raises RLIMIT_NOFILE to fit cfg->max_connections, opens the ledger,
 * binds, prints one line {"listening":"ADDR:PORT",...} to stdout, and
 * serves until SIGTERM or SIGINT; then stops accepting, answers every
 * request in flight (their batches committed), closes the store and
 * returns TZ_OK. Errors before serving: TZ_ERR_USAGE when the hard
 * RLIMIT_NOFILE is too low for --max-connections (the message names both);
 * TZ_ERR_IO / TZ_ERR_NOMEM / the ledger's code (open, bind, threads); err
 * is set. */
int tzd_server_run(const tzd_config *cfg, tz_err *err) TZ_MUST_CHECK;

#endif
