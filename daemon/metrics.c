/*
 * metrics.c: counters and histograms for GET /metrics (see metrics.h).
 */
#include "daemon/metrics.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/status.h"

static const double batch_bounds[] = {1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096};
static const double seconds_bounds[] = {0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05,
                                        0.1, 0.2, 0.5, 1, 2, 5};

static void hist_init(tzd_histogram *h, const double *bounds, size_t n)
{
    h->bounds = bounds;
    h->nbounds = n < TZD_HIST_BUCKETS ? n : TZD_HIST_BUCKETS;
}

void tzd_metrics_init(tzd_metrics *m)
{
    memset(m, 0, sizeof *m);
    hist_init(&m->batch_size, batch_bounds, sizeof batch_bounds / sizeof batch_bounds[0]);
    hist_init(&m->commit_seconds, seconds_bounds, sizeof seconds_bounds / sizeof seconds_bounds[0]);
    hist_init(&m->append_seconds, seconds_bounds, sizeof seconds_bounds / sizeof seconds_bounds[0]);
    hist_init(&m->read_seconds, seconds_bounds, sizeof seconds_bounds / sizeof seconds_bounds[0]);
}

void tzd_histogram_observe(tzd_histogram *h, double v)
{
    size_t i = 0;
    while (i < h->nbounds && v > h->bounds[i])
        i++;
    atomic_fetch_add_explicit(&h->counts[i], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&h->sum_micro, (uint_fast64_t)(v * 1e6 + 0.5), memory_order_relaxed);
    atomic_fetch_add_explicit(&h->count, 1, memory_order_relaxed);
}

int tzd_metrics_reason(int tz_code)
{
    switch (tz_code) {
    case TZ_ERR_USAGE:
    case TZ_ERR_INPUT: return TZD_REJECT_INPUT;
    case TZ_ERR_SIGNATURE: return TZD_REJECT_SIGNATURE;
    case TZ_ERR_FORBIDDEN: return TZD_REJECT_FORBIDDEN;
    case TZ_ERR_CONFLICT: return TZD_REJECT_CONFLICT;
    case TZ_ERR_RULE: return TZD_REJECT_RULE;
    case TZ_ERR_IO:
    case TZ_ERR_NOMEM: return TZD_REJECT_STORE;
    default: return TZD_REJECT_OTHER;
    }
}

static const char *const reason_names[TZD_REJECT_COUNT] = {
    "input", "signature", "forbidden", "conflict", "rule", "too_large", "store",
    "shutting_down", "too_many_connections", "other", "busy"};

static const char *const close_names[TZD_CLOSE_COUNT] = {
    "evicted_idle", "request_timeout", "keepalive_timeout", "body_memory", "refused"};

/* A growing text buffer; a failed allocation sticks (oom). */
typedef struct text {
    char *s;
    size_t len, cap;
    int oom;
} text;

static void add(text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void add(text *t, const char *fmt, ...)
{
    if (t->oom)
        return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) {
        t->oom = 1;
        return;
    }
    if (t->len + (size_t)n + 1 > t->cap) {
        size_t cap = t->cap * 2 + (size_t)n + 256;
        char *s = realloc(t->s, cap);
        if (s == NULL) {
            t->oom = 1;
            return;
        }
        t->s = s;
        t->cap = cap;
    }
    va_start(ap, fmt);
    vsnprintf(t->s + t->len, t->cap - t->len, fmt, ap);
    va_end(ap);
    t->len += (size_t)n;
}

static uint64_t get(atomic_uint_fast64_t *a)
{
    return atomic_load_explicit(a, memory_order_relaxed);
}

static void hist(text *t, const char *name, const char *help, tzd_histogram *h)
{
    add(t, "# HELP %s %s\n# TYPE %s histogram\n", name, help, name);
    uint64_t cum = 0;
    for (size_t i = 0; i < h->nbounds; i++) {
        cum += get(&h->counts[i]);
        add(t, "%s_bucket{le=\"%g\"} %llu\n", name, h->bounds[i], (unsigned long long)cum);
    }
    cum += get(&h->counts[h->nbounds]);
    add(t, "%s_bucket{le=\"+Inf\"} %llu\n", name, (unsigned long long)cum);
    add(t, "%s_sum %.6f\n%s_count %llu\n", name, (double)get(&h->sum_micro) / 1e6, name,
        (unsigned long long)get(&h->count));
}

static void counter(text *t, const char *name, const char *type, const char *help, uint64_t v)
{
    add(t, "# HELP %s %s\n# TYPE %s %s\n%s %llu\n", name, help, name, type, name,
        (unsigned long long)v);
}

char *tzd_metrics_render(tzd_metrics *m, size_t *len)
{
    text t = {0};
    counter(&t, "taizhang_appends_total", "counter", "New entries made durable.",
            get(&m->appends));
    counter(&t, "taizhang_appends_existing_total", "counter",
            "Identical retries answered with the existing entry.", get(&m->appends_existing));
    add(&t, "# HELP taizhang_rejects_total Statements refused, by reason.\n"
            "# TYPE taizhang_rejects_total counter\n");
    for (int i = 0; i < TZD_REJECT_COUNT; i++)
        add(&t, "taizhang_rejects_total{reason=\"%s\"} %llu\n", reason_names[i],
            (unsigned long long)get(&m->rejects[i]));
    counter(&t, "taizhang_commits_total", "counter", "Group commits (one RocksDB batch each).",
            get(&m->commits));
    counter(&t, "taizhang_tree_size", "gauge", "Entries in the log (durable).",
            get(&m->tree_size));
    counter(&t, "taizhang_requests_in_flight", "gauge", "Requests received and not yet answered.",
            get(&m->requests_in_flight));
    counter(&t, "taizhang_connections", "gauge", "HTTP connections being served.",
            get(&m->connections));
    counter(&t, "taizhang_store_failed", "gauge",
            "1 while the store refuses writes (a failed commit; reopening).", get(&m->store_failed));
    counter(&t, "taizhang_connections_refused", "gauge",
            "Connections over a limit, held only to answer 503.", get(&m->connections_refused));
    add(&t, "# HELP taizhang_connections_closed_total Connections the daemon closed, by reason.\n"
            "# TYPE taizhang_connections_closed_total counter\n");
    for (int i = 0; i < TZD_CLOSE_COUNT; i++)
        add(&t, "taizhang_connections_closed_total{reason=\"%s\"} %llu\n", close_names[i],
            (unsigned long long)get(&m->closes[i]));
    counter(&t, "taizhang_body_memory_bytes", "gauge",
            "Bytes of request bodies buffered (bounded by --max-body-memory).",
            get(&m->body_memory));
    counter(&t, "taizhang_reads_queued", "gauge", "Reads waiting for a worker.",
            get(&m->reads_queued));
    counter(&t, "taizhang_accept_errors_total", "counter",
            "accept() failures (out of descriptors: EMFILE, ENFILE), each pausing accepts.",
            get(&m->accept_errors));
    hist(&t, "taizhang_batch_size", "Statements per group commit.", &m->batch_size);
    hist(&t, "taizhang_commit_seconds",
         "One group commit: decide, write and fsync of the batch.", &m->commit_seconds);
    hist(&t, "taizhang_append_request_seconds",
         "POST /v1/statements from receipt to the reply (after the fsync).", &m->append_seconds);
    hist(&t, "taizhang_read_request_seconds", "GET requests from receipt to the reply.",
         &m->read_seconds);
    if (t.oom) {
        free(t.s);
        return NULL;
    }
    *len = t.len;
    return t.s;
}
