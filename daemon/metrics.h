/*
 * metrics.h: taizhangd's counters and histograms, rendered in the
 * Prometheus text exposition format (GET /metrics).
 *
 * Every field is a C11 atomic updated with relaxed order from any thread
 * (workers, the writer, the event loop): a scrape may see counters of one
 * moment mixed with another's, which Prometheus tolerates, and nobody ever
 * waits for a lock to count.
 */
#ifndef TZ_DAEMON_METRICS_H
#define TZ_DAEMON_METRICS_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#define TZD_HIST_BUCKETS 16

typedef struct tzd_histogram {
    const double *bounds;  /* upper bounds, ascending; nbounds of them */
    size_t nbounds;
    atomic_uint_fast64_t counts[TZD_HIST_BUCKETS + 1]; /* last: +Inf */
    atomic_uint_fast64_t sum_micro; /* sum of observations x 1e6 */
    atomic_uint_fast64_t count;
} tzd_histogram;

/* Rejections are counted by reason: the library status names plus these. */
enum {
    TZD_REJECT_INPUT, TZD_REJECT_SIGNATURE, TZD_REJECT_FORBIDDEN, TZD_REJECT_CONFLICT,
    TZD_REJECT_RULE, TZD_REJECT_TOO_LARGE, TZD_REJECT_STORE, TZD_REJECT_SHUTTING_DOWN,
    TZD_REJECT_CONNECTIONS, TZD_REJECT_OTHER, TZD_REJECT_BUSY, TZD_REJECT_COUNT
};

/* Connections the daemon closed itself, by reason. */
enum {
    TZD_CLOSE_EVICTED,         /* idle, to make room for a host with fewer connections */
    TZD_CLOSE_REQUEST_TIMEOUT, /* request not complete within --request-timeout */
    TZD_CLOSE_IDLE_TIMEOUT,    /* no byte for --keepalive-timeout */
    TZD_CLOSE_BODY_MEMORY,     /* the largest unfinished body past --max-body-memory */
    TZD_CLOSE_REFUSED,         /* over a connection limit, not answered */
    TZD_CLOSE_COUNT
};

typedef struct tzd_metrics {
    atomic_uint_fast64_t appends;          /* new entries made durable */
    atomic_uint_fast64_t appends_existing; /* identical retries answered 200 */
    atomic_uint_fast64_t rejects[TZD_REJECT_COUNT];
    atomic_uint_fast64_t commits;          /* tz_ledger_append calls (one fsync each, if any accepted) */
    atomic_uint_fast64_t tree_size;
    atomic_uint_fast64_t requests_in_flight;
    atomic_uint_fast64_t connections;      /* connections being served */
    atomic_uint_fast64_t store_failed;     /* 1 while the store refuses writes (reopening) */
    atomic_uint_fast64_t connections_refused; /* held only to answer 503 */
    atomic_uint_fast64_t closes[TZD_CLOSE_COUNT];
    atomic_uint_fast64_t body_memory;      /* bytes of request bodies buffered */
    atomic_uint_fast64_t reads_queued;     /* reads waiting for a worker */
    atomic_uint_fast64_t accept_errors;    /* accept() failures (EMFILE...) */
    tzd_histogram batch_size;              /* statements per commit */
    tzd_histogram commit_seconds;          /* decide + write + fsync of one batch */
    tzd_histogram append_seconds;          /* POST received .. reply sent */
    tzd_histogram read_seconds;            /* GET received .. reply sent */
} tzd_metrics;

/* Zeroes m and sets the histogram bounds. Cannot fail. */
void tzd_metrics_init(tzd_metrics *m);

/* Counts one observation of v in h. */
void tzd_histogram_observe(tzd_histogram *h, double v);

/* The reject reason for a library status (TZ_ERR_*). */
int tzd_metrics_reason(int tz_code);

/* Renders m as Prometheus text: a malloc'd NUL-terminated string (free()),
 * *len its length; NULL when out of memory. */
char *tzd_metrics_render(tzd_metrics *m, size_t *len);

#endif
