/*
 * server.c: the event loop, the worker pool and the group-committing writer
 * of taizhangd (see server.h for the shape).
 *
 * Workload facts that shaped it: an fsync costs milliseconds while deciding
 * a statement costs tens of microseconds and verifying its signature about
 * fifty, so the writer must never verify and never wait for a request to be
 * parsed; it takes whatever is ready the moment the previous fsync returns,
 * so batches grow by themselves with the load (one statement when idle,
 * hundreds under 64 clients) and latency stays one or two fsyncs. Reads
 * never take the writer's lock: each answers from the RocksDB snapshot the
 * writer publishes after each durable batch (tzd_head).
 *
 * Every request ends in exactly one reply, sent by the loop thread: either
 * at once (routing errors, /healthz, /metrics) or when its job comes back
 * through the done queue. in_flight counts the jobs out; SIGTERM stops
 * accepting and the loop exits when in_flight reaches 0.
 */
#include "daemon/server.h"

#include <errno.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/thread.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "daemon/api.h"
#include "daemon/cosign.h"
#include "daemon/metrics.h"
#include "ledger/entry_json.h"
#include "ledger/ledger.h"

/* ---- jobs and queues --------------------------------------------------------- */

enum job_kind { JOB_READ, JOB_APPEND, JOB_COSIGN /* POST /v1/checkpoint/cosign */ };

typedef struct job {
    struct job *next;
    struct evhttp_request *req;
    enum job_kind kind;
    char *path, *query;          /* JOB_READ: copies (query may be NULL) */
    uint8_t *body;               /* JOB_APPEND: a copy of the request body */
    size_t body_len;
    int msgpack;
    const char *require_type;    /* "cosign" for POST /v1/cosign */
    tzd_submission sub;
    tzd_reply reply;
    double t0;                   /* monotonic seconds at receipt */
} job;

typedef struct queue {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    job *head, *tail;
    int closed;
} queue;

static void queue_init(queue *q)
{
    pthread_mutex_init(&q->mu, NULL);
    pthread_cond_init(&q->cv, NULL);
    q->head = q->tail = NULL;
    q->closed = 0;
}

static void queue_destroy(queue *q)
{
    pthread_mutex_destroy(&q->mu);
    pthread_cond_destroy(&q->cv);
}

static void queue_push(queue *q, job *j)
{
    j->next = NULL;
    pthread_mutex_lock(&q->mu);
    if (q->tail != NULL)
        q->tail->next = j;
    else
        q->head = j;
    q->tail = j;
    pthread_cond_signal(&q->cv);
    pthread_mutex_unlock(&q->mu);
}

/* Puts j at the front: a read goes ahead of the statements waiting to be
 * verified, so a query is not answered only after ~50 us of signature
 * checking per statement queued before it (measured: read p99 under 64
 * appending clients fell from ~7 ms). Reads are short; appends are not
 * starved, since each read takes one worker only briefly. */
static void queue_push_front(queue *q, job *j)
{
    pthread_mutex_lock(&q->mu);
    j->next = q->head;
    q->head = j;
    if (q->tail == NULL)
        q->tail = j;
    pthread_cond_signal(&q->cv);
    pthread_mutex_unlock(&q->mu);
}

/* Takes up to max jobs (a list), waiting while the queue is empty and
 * open. NULL once it is closed and empty. */
static job *queue_take(queue *q, size_t max, size_t *n)
{
    pthread_mutex_lock(&q->mu);
    while (q->head == NULL && !q->closed)
        pthread_cond_wait(&q->cv, &q->mu);
    job *first = q->head, *last = NULL;
    size_t k = 0;
    for (job *j = q->head; j != NULL && k < max; j = j->next) {
        last = j;
        k++;
    }
    if (last != NULL) {
        q->head = last->next;
        if (q->head == NULL)
            q->tail = NULL;
        last->next = NULL;
    }
    pthread_mutex_unlock(&q->mu);
    *n = k;
    return k ? first : NULL;
}

/* Appends the list first..(NULL-terminated) with one lock and one wake-up. */
static void queue_push_list(queue *q, job *first)
{
    if (first == NULL)
        return;
    job *last = first;
    while (last->next != NULL)
        last = last->next;
    pthread_mutex_lock(&q->mu);
    if (q->tail != NULL)
        q->tail->next = first;
    else
        q->head = first;
    q->tail = last;
    pthread_cond_signal(&q->cv);
    pthread_mutex_unlock(&q->mu);
}

/* Takes everything without waiting (the loop's done queue). */
static job *queue_take_all(queue *q)
{
    pthread_mutex_lock(&q->mu);
    job *first = q->head;
    q->head = q->tail = NULL;
    pthread_mutex_unlock(&q->mu);
    return first;
}

static void queue_close(queue *q)
{
    pthread_mutex_lock(&q->mu);
    q->closed = 1;
    pthread_cond_broadcast(&q->cv);
    pthread_mutex_unlock(&q->mu);
}

static void job_free(job *j)
{
    if (j == NULL)
        return;
    free(j->path);
    free(j->query);
    free(j->body);
    tzd_submission_destroy(&j->sub);
    tzd_reply_clear(&j->reply);
    free(j);
}

/* ---- connections ------------------------------------------------------------------ */

/* The connections being served, for the limit on their number: libevent
 * 2.1 has no such limit and no per-connection user data, so the loop thread
 * keeps the set itself (open addressing on the pointer, capacity a power of
 * two at least twice the limit, backward-shift deletion). A connection
 * joins at its first request and leaves through its close callback. */
typedef struct conn_set {
    struct evhttp_connection **slot;
    size_t mask, count;
} conn_set;

static int conn_set_init(conn_set *set, size_t limit)
{
    size_t cap = 16;
    while (cap < 2 * limit)
        cap <<= 1;
    set->slot = calloc(cap, sizeof *set->slot);
    set->mask = cap - 1;
    set->count = 0;
    return set->slot != NULL ? 0 : -1;
}

static size_t conn_hash(const conn_set *set, const struct evhttp_connection *c)
{
    uintptr_t x = (uintptr_t)c;
    x ^= x >> 17;
    x *= (uintptr_t)0x9E3779B97F4A7C15ull;
    return (size_t)(x >> 7) & set->mask;
}

/* The slot holding c, or the empty slot where it would go. */
static size_t conn_find(const conn_set *set, const struct evhttp_connection *c)
{
    size_t i = conn_hash(set, c);
    while (set->slot[i] != NULL && set->slot[i] != c)
        i = (i + 1) & set->mask;
    return i;
}

static void conn_remove(conn_set *set, const struct evhttp_connection *c)
{
    size_t i = conn_find(set, c);
    if (set->slot[i] == NULL)
        return;
    set->slot[i] = NULL;
    set->count--;
    /* Move back every later member of the run that its home slot allows. */
    for (size_t j = (i + 1) & set->mask; set->slot[j] != NULL; j = (j + 1) & set->mask) {
        size_t home = conn_hash(set, set->slot[j]);
        if (((j - home) & set->mask) >= ((j - i) & set->mask)) {
            set->slot[i] = set->slot[j];
            set->slot[j] = NULL;
            i = j;
        }
    }
}

/* ---- the server ------------------------------------------------------------------ */

typedef struct server {
    tzd_config cfg;
    tz_ledger *ledger;    /* the writer's; reads use store */
    tz_store *store;
    tzd_head head;
    tzd_metrics metrics;
    tzd_cosign cosign;    /* witness cosignatures collected (cosign.h) */
    struct event_base *base;
    struct evhttp *http;
    struct evhttp_bound_socket *bound;
    struct event *done_ev, *sigterm_ev, *sigint_ev;
    queue work, commit, done;
    pthread_t *workers;
    size_t nworkers;
    pthread_t writer;
    int writer_started;
    size_t in_flight;     /* loop thread only */
    int draining;         /* loop thread only */
    int cosign_ready;     /* cosign was initialised (destroy it) */
    conn_set conns;       /* loop thread only */
    int store_failed;     /* writer only: the last commit failed; reopen first */
    double reopen_after;  /* writer only: monotonic time of the next reopen attempt */
} server;

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static const char *reason_phrase(int status)
{
    switch (status) {
    case 200: return "OK";
    case 201: return "Created";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 409: return "Conflict";
    case 413: return "Payload Too Large";
    case 422: return "Unprocessable Entity";
    case 503: return "Service Unavailable";
    default: return "Internal Server Error";
    }
}

/* Loop thread: sends r as the one reply to req. */
static void send_reply(struct evhttp_request *req, const tzd_reply *r)
{
    struct evkeyvalq *h = evhttp_request_get_output_headers(req);
    struct evbuffer *out = evhttp_request_get_output_buffer(req);
    evhttp_add_header(h, "Content-Type", r->ctype ? r->ctype : "application/json");
    evhttp_add_header(h, "Cache-Control", "no-store");
    if (r->status == 405)
        evhttp_add_header(h, "Allow", r->body && strstr(r->body, "POST") ? "POST" : "GET");
    if (r->body != NULL)
        evbuffer_add(out, r->body, r->len);
    if (r->ctype == NULL || strcmp(r->ctype, "application/json") == 0)
        evbuffer_add(out, "\n", 1);
    evhttp_send_reply(req, r->status, reason_phrase(r->status), NULL);
}

static void count_reject(server *s, int status, int tz_code)
{
    if (status == 413)
        atomic_fetch_add(&s->metrics.rejects[TZD_REJECT_TOO_LARGE], 1);
    else if (status == 503 && tz_code == 0)
        atomic_fetch_add(&s->metrics.rejects[TZD_REJECT_SHUTTING_DOWN], 1);
    else
        atomic_fetch_add(&s->metrics.rejects[tzd_metrics_reason(tz_code)], 1);
}

/* Any thread: hands a finished job back to the loop. */
static void done_push(server *s, job *j)
{
    queue_push(&s->done, j);
    event_active(s->done_ev, EV_READ, 0);
}

/* Loop thread: sends the replies of every finished job. */
static void on_done(evutil_socket_t fd, short what, void *arg)
{
    server *s = arg;
    job *j = queue_take_all(&s->done);
    while (j != NULL) {
        job *next = j->next;
        send_reply(j->req, &j->reply);
        tzd_histogram_observe(j->kind == JOB_APPEND ? &s->metrics.append_seconds
                                                    : &s->metrics.read_seconds,
                              now_seconds() - j->t0);
        job_free(j);
        s->in_flight--;
        atomic_fetch_sub(&s->metrics.requests_in_flight, 1);
        j = next;
    }
    if (s->draining && s->in_flight == 0)
        event_base_loopexit(s->base, NULL);
}

/* ---- workers and writer -------------------------------------------------------------- */

static void *worker_main(void *arg)
{
    server *s = arg;
    size_t n;
    job *j;
    while ((j = queue_take(&s->work, 1, &n)) != NULL) {
        if (j->kind == JOB_READ) {
            tzd_api_read(&s->head, j->path, j->query, &j->reply);
            done_push(s, j);
            continue;
        }
        if (j->kind == JOB_COSIGN) {
            tzd_cosign_post(&s->cosign, &s->head, j->body, j->body_len, &j->reply);
            done_push(s, j);
            continue;
        }
        tz_err e;
        int rc = tzd_api_parse_submission(&j->sub, j->body, j->body_len, j->msgpack,
                                          j->require_type, &e);
        free(j->body);
        j->body = NULL;
        if (rc != TZ_OK) {
            tzd_reply_status(&j->reply, rc, e.msg);
            count_reject(s, j->reply.status, rc);
            done_push(s, j);
        } else {
            queue_push(&s->commit, j);
        }
    }
    return NULL;
}

/* Writer thread: publishes the head of the ledger after a durable commit:
 * a snapshot of the store with its size and signed checkpoint. */
static void publish_head(server *s)
{
    char *note = NULL;
    size_t len = 0;
    tz_err e;
    uint64_t size = tz_ledger_size(s->ledger);
    if (tz_ledger_checkpoint(s->ledger, &note, &len, &e) != TZ_OK ||
        tzd_head_publish(&s->head, s->store, size, note, len, &e) != TZ_OK) {
        /* The batch is durable; readers keep the previous snapshot until
         * the next commit publishes again. */
        fprintf(stderr, "taizhangd: publishing the head: %s\n", e.msg);
        return;
    }
    atomic_store(&s->metrics.tree_size, size);
}

#define REOPEN_INTERVAL 1.0 /* seconds between attempts while the store fails */

/* Writer thread: after a failed commit RocksDB keeps refusing writes (a
 * background error, e.g. ENOSPC on the WAL, which the C API cannot clear),
 * so the store is closed and reopened: every reader first lets go of its
 * snapshot (tzd_head_retire), RocksDB recovers from its WAL (a torn last
 * record is dropped: its batch was never acknowledged), and the head is
 * published again. Attempts are spaced REOPEN_INTERVAL apart; in between,
 * and while reopening fails (the disk still full), batches get 503 at once
 * and reads get 503 only while no snapshot is published. */
static int recover_store(server *s, tz_err *err)
{
    double now = now_seconds();
    if (now < s->reopen_after)
        return tz_err_set(err, TZ_ERR_IO, "the store failed and is not yet reopened (next "
                          "attempt in %.1f s)", s->reopen_after - now);
    s->reopen_after = now + REOPEN_INTERVAL;
    tzd_head_retire(&s->head);
    tz_ledger_close(s->ledger);
    s->ledger = NULL;
    s->store = NULL;
    const char *pass = getenv("TAIZHANG_PASSPHRASE");
    int rc = tz_ledger_open(&s->ledger, s->cfg.db, 0, pass, err);
    if (rc != TZ_OK) {
        /* Still no room to reopen for writing: serve reads from a
         * read-only open (it writes nothing) until the next attempt. */
        fprintf(stderr, "taizhangd: reopening the store: %s\n", err->msg);
        tz_err ro;
        if (tz_ledger_open(&s->ledger, s->cfg.db, TZ_LEDGER_READONLY, pass, &ro) == TZ_OK) {
            s->store = tz_ledger_store(s->ledger);
            publish_head(s);
        } else {
            s->ledger = NULL;
            fprintf(stderr, "taizhangd: opening the store read-only: %s\n", ro.msg);
        }
        return rc;
    }
    s->store = tz_ledger_store(s->ledger);
    publish_head(s);
    s->store_failed = 0;
    atomic_store(&s->metrics.store_failed, 0);
    fprintf(stderr, "taizhangd: the store is reopened at size %llu; appends resume\n",
            (unsigned long long)tz_ledger_size(s->ledger));
    return TZ_OK;
}

/* Writer thread: one group commit of the n jobs in jobs (their verified
 * statements), every reply filled in. Returns the number accepted. */
static size_t commit_batch(server *s, job **jobs, size_t n, tz_submission *subs,
                           tz_append_result *res)
{
    tz_err e;
    int rc = s->store_failed ? recover_store(s, &e) : TZ_OK;
    double t0 = now_seconds();
    if (rc == TZ_OK) {
        for (size_t k = 0; k < n; k++)
            subs[k] = (tz_submission){(const uint8_t *)jobs[k]->sub.statement.data,
                                      jobs[k]->sub.statement.size, jobs[k]->sub.sigs,
                                      jobs[k]->sub.nsigs};
        rc = tz_ledger_append(s->ledger, subs, n, res, NULL, TZ_APPEND_SIGS_VERIFIED, &e);
        tzd_histogram_observe(&s->metrics.commit_seconds, now_seconds() - t0);
        tzd_histogram_observe(&s->metrics.batch_size, (double)n);
        atomic_fetch_add(&s->metrics.commits, 1);
        if (rc != TZ_OK && !s->store_failed) {
            s->store_failed = 1;
            atomic_store(&s->metrics.store_failed, 1);
            s->reopen_after = now_seconds();
            fprintf(stderr, "taizhangd: a batch of %zu failed, nothing of it written: %s\n", n,
                    e.msg);
        }
    }
    size_t accepted = 0;
    for (size_t i = 0; i < n; i++) {
        job *j = jobs[i];
        if (rc != TZ_OK) {
            /* Nothing of this batch was written: every client hears so. */
            tzd_reply_error(&j->reply, 503, "store", "the store refused the batch; nothing "
                            "was written, try again: %s", e.msg);
            count_reject(s, 503, TZ_ERR_IO);
        } else if (res[i].status != TZ_OK) {
            tzd_reply_status(&j->reply, res[i].status, res[i].err.msg);
            count_reject(s, j->reply.status, res[i].status);
        } else {
            json_t *doc = json_pack("{s:I,s:o}", "seq", (json_int_t)res[i].seq, "leaf_hash",
                                    tz_json_hex(res[i].leaf_hash, 32));
            if (doc != NULL && res[i].existing)
                json_object_set_new(doc, "existing", json_true());
            tzd_reply_json(&j->reply, res[i].existing ? 200 : 201, doc);
            if (res[i].existing)
                atomic_fetch_add(&s->metrics.appends_existing, 1);
            else
                accepted++;
        }
    }
    if (rc == TZ_OK && accepted > 0) {
        atomic_fetch_add(&s->metrics.appends, accepted);
        publish_head(s);
    }
    return accepted;
}

static void *writer_main(void *arg)
{
    server *s = arg;
    size_t cap = s->cfg.max_batch, n;
    tz_submission *subs = calloc(cap, sizeof *subs);
    tz_append_result *res = calloc(cap, sizeof *res);
    job **jobs = calloc(cap, sizeof *jobs);
    job *list;
    while ((list = queue_take(&s->commit, cap, &n)) != NULL) {
        if (subs == NULL || res == NULL || jobs == NULL) {
            for (job *j = list; j != NULL; j = j->next)
                tzd_reply_error(&j->reply, 503, "nomem", "out of memory");
        } else {
            size_t k = 0;
            for (job *j = list; j != NULL; j = j->next)
                jobs[k++] = j;
            (void)commit_batch(s, jobs, n, subs, res);
        }
        /* Replies go out only now: the batch is durable and published. The
         * whole batch goes back in one hand-off (one lock, one wake-up of
         * the loop) rather than one per statement. */
        queue_push_list(&s->done, list);
        event_active(s->done_ev, EV_READ, 0);
    }
    free(subs);
    free(res);
    free(jobs);
    return NULL;
}

/* ---- the loop ------------------------------------------------------------------------- */

static void reply_now(server *s, struct evhttp_request *req, tzd_reply *r, double t0, int is_read)
{
    send_reply(req, r);
    tzd_reply_clear(r);
    tzd_histogram_observe(is_read ? &s->metrics.read_seconds : &s->metrics.append_seconds,
                          now_seconds() - t0);
}

static void on_conn_close(struct evhttp_connection *c, void *arg)
{
    server *s = arg;
    conn_remove(&s->conns, c);
    atomic_store(&s->metrics.connections, s->conns.count);
}

/* Loop thread: admits the connection of req, or returns 0 when the limit
 * is reached and it is not one of those being served. */
static int admit_connection(server *s, struct evhttp_request *req)
{
    struct evhttp_connection *c = evhttp_request_get_connection(req);
    if (c == NULL)
        return 1;
    size_t i = conn_find(&s->conns, c);
    if (s->conns.slot[i] == c)
        return 1;
    if (s->conns.count >= s->cfg.max_connections)
        return 0;
    s->conns.slot[i] = c;
    s->conns.count++;
    evhttp_connection_set_closecb(c, on_conn_close, s);
    atomic_store(&s->metrics.connections, s->conns.count);
    return 1;
}

static int is_msgpack_type(const char *ct)
{
    return ct != NULL && (strncmp(ct, "application/msgpack", 19) == 0 ||
                          strncmp(ct, "application/x-msgpack", 21) == 0 ||
                          strncmp(ct, "application/vnd.msgpack", 23) == 0);
}

static void on_request(struct evhttp_request *req, void *arg)
{
    server *s = arg;
    double t0 = now_seconds();
    tzd_reply r = {0};
    enum evhttp_cmd_type cmd = evhttp_request_get_command(req);
    const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
    const char *path = uri ? evhttp_uri_get_path(uri) : NULL;
    const char *query = uri ? evhttp_uri_get_query(uri) : NULL;
    if (!admit_connection(s, req)) {
        /* Served and closed at once: the client may retry when others leave. */
        evhttp_add_header(evhttp_request_get_output_headers(req), "Connection", "close");
        tzd_reply_error(&r, 503, "too_many_connections", "%zu connections are being served "
                        "(--max-connections); retry later", s->cfg.max_connections);
        atomic_fetch_add(&s->metrics.rejects[TZD_REJECT_CONNECTIONS], 1);
        reply_now(s, req, &r, t0, 1);
        return;
    }
    if (path == NULL || path[0] != '/') {
        tzd_reply_error(&r, 400, "input", "request target: not an absolute path");
        reply_now(s, req, &r, t0, 1);
        return;
    }
    int cosign = strcmp(path, "/v1/checkpoint/cosign") == 0;
    int post = strcmp(path, "/v1/statements") == 0 || strcmp(path, "/v1/cosign") == 0 || cosign;
    int known = post || strcmp(path, "/healthz") == 0 || strcmp(path, "/metrics") == 0 ||
                strncmp(path, "/v1/", 4) == 0;
    /* The method first: each path takes exactly one (GET, or POST for appends). */
    if (known && cmd != (post ? EVHTTP_REQ_POST : EVHTTP_REQ_GET)) {
        tzd_reply_error(&r, 405, "method", "%s takes %s only", path, post ? "POST" : "GET");
        reply_now(s, req, &r, t0, !post);
        return;
    }
    if (!known) {
        tzd_reply_error(&r, 404, "notfound", "%.128s: no such endpoint", path);
        reply_now(s, req, &r, t0, 1);
        return;
    }
    if (strcmp(path, "/healthz") == 0) {
        tzd_snapshot *snap = tzd_head_acquire(&s->head);
        uint64_t size = snap ? snap->size : 0;
        /* Reads: a probe of what every answer rests on (the last entry and
         * its leaf node, through the published snapshot), and every read
         * RocksDB has refused since the store was opened (a damaged block
         * fails the reads that reach it, here or in any handler). */
        char read_error[TZ_ERR_MSG_MAX] = "";
        if (snap != NULL && size > 0) {
            uint8_t key[8], node[32], *val = NULL;
            size_t len = 0;
            tz_err pe;
            tz_store_key_u64(key, size - 1);
            int pr = tz_store_get(snap->store, TZ_CF_ENTRIES, key, sizeof key, &val, &len, &pe);
            tz_store_free(val);
            if (pr == TZ_OK)
                pr = tz_ledger_read_node(snap->store, 0, size - 1, node, &pe);
            if (pr != TZ_OK)
                snprintf(read_error, sizeof read_error, "%s", pe.msg);
        }
        if (read_error[0] == '\0' && snap != NULL)
            tz_store_read_failures(snap->store, read_error, sizeof read_error);
        tzd_head_release(&s->head, snap);
        /* ok: appends are being taken (not draining, the store writable)
         * and the store answers reads */
        int failed = atomic_load(&s->metrics.store_failed) != 0;
        int ok = !s->draining && !failed && read_error[0] == '\0';
        char store_state[TZ_ERR_MSG_MAX + 32];
        if (failed)
            snprintf(store_state, sizeof store_state, "refusing writes (reopening after a "
                     "failed commit)");
        else if (read_error[0] != '\0')
            snprintf(store_state, sizeof store_state, "failing reads: %s", read_error);
        else
            snprintf(store_state, sizeof store_state, "ok");
        tzd_reply_json(&r, ok ? 200 : 503,
                       json_pack("{s:b,s:I,s:b,s:s}", "ok", ok, "size", (json_int_t)size,
                                 "shutting_down", s->draining, "store", store_state));
        reply_now(s, req, &r, t0, 1);
        return;
    }
    if (strcmp(path, "/metrics") == 0) {
        size_t len = 0;
        char *text = tzd_metrics_render(&s->metrics, &len);
        if (text == NULL) {
            tzd_reply_error(&r, 503, "nomem", "out of memory");
        } else {
            r = (tzd_reply){200, "text/plain; version=0.0.4; charset=utf-8", text, len};
        }
        reply_now(s, req, &r, t0, 1);
        return;
    }
    if (strcmp(path, "/v1/checkpoint/cosigned") == 0) { /* a copy under a short lock: no worker */
        tzd_cosign_get(&s->cosign, query, &r);
        reply_now(s, req, &r, t0, 1);
        return;
    }
    if (s->draining) {
        tzd_reply_error(&r, 503, "shutting_down", "the daemon is shutting down; retry against "
                        "its successor");
        if (post)
            count_reject(s, 503, 0);
        reply_now(s, req, &r, t0, !post);
        return;
    }
    job *j = calloc(1, sizeof *j);
    if (j == NULL) {
        tzd_reply_error(&r, 503, "nomem", "out of memory");
        reply_now(s, req, &r, t0, !post);
        return;
    }
    tzd_submission_init(&j->sub);
    j->req = req;
    j->t0 = t0;
    if (post) {
        struct evbuffer *in = evhttp_request_get_input_buffer(req);
        size_t len = evbuffer_get_length(in);
        if (len > s->cfg.max_body) {
            job_free(j);
            tzd_reply_error(&r, 413, "too_large", "body: %zu bytes (at most %zu)", len,
                            s->cfg.max_body);
            count_reject(s, 413, 0);
            reply_now(s, req, &r, t0, 0);
            return;
        }
        j->kind = cosign ? JOB_COSIGN : JOB_APPEND;
        j->body_len = len;
        j->body = malloc(len ? len : 1);
        const char *ct = evhttp_find_header(evhttp_request_get_input_headers(req), "Content-Type");
        j->msgpack = is_msgpack_type(ct);
        j->require_type = strcmp(path, "/v1/cosign") == 0 ? "cosign" : NULL;
        if (j->body == NULL || evbuffer_copyout(in, j->body, len) != (ev_ssize_t)len) {
            job_free(j);
            tzd_reply_error(&r, 503, "nomem", "out of memory");
            reply_now(s, req, &r, t0, 0);
            return;
        }
    } else {
        j->kind = JOB_READ;
        j->path = strdup(path);
        j->query = query ? strdup(query) : NULL;
        if (j->path == NULL || (query != NULL && j->query == NULL)) {
            job_free(j);
            tzd_reply_error(&r, 503, "nomem", "out of memory");
            reply_now(s, req, &r, t0, 1);
            return;
        }
    }
    s->in_flight++;
    atomic_fetch_add(&s->metrics.requests_in_flight, 1);
    if (j->kind == JOB_READ)
        queue_push_front(&s->work, j);
    else
        queue_push(&s->work, j);
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
    server *s = arg;
    if (s->draining)
        return;
    s->draining = 1;
    fprintf(stderr, "taizhangd: signal %d: no new connections; answering %zu request(s) in "
            "flight\n", (int)sig, s->in_flight);
    if (s->bound != NULL) {
        evhttp_del_accept_socket(s->http, s->bound);
        s->bound = NULL;
    }
    if (s->in_flight == 0)
        event_base_loopexit(s->base, NULL);
}

/* ---- start and stop -------------------------------------------------------------------- */

void tzd_config_defaults(tzd_config *cfg)
{
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    cfg->db = NULL;
    cfg->address = "127.0.0.1";
    cfg->port = 8080;
    cfg->workers = cpus > 0 ? (unsigned)cpus : 2;
    cfg->max_body = 1u << 20;
    cfg->max_headers = 16u << 10;
    cfg->timeout_seconds = 30;
    cfg->max_batch = 1024;
    cfg->max_connections = 1024;
    cfg->witnesses = NULL;
    cfg->nwitnesses = 0;
}

static int start_threads(server *s, tz_err *err)
{
    /* Signals belong to the loop thread: block them in every other. */
    sigset_t block, old;
    sigemptyset(&block);
    sigaddset(&block, SIGTERM);
    sigaddset(&block, SIGINT);
    pthread_sigmask(SIG_BLOCK, &block, &old);
    int rc = TZ_OK;
    s->workers = calloc(s->cfg.workers, sizeof *s->workers);
    if (s->workers == NULL)
        rc = tz_err_set(err, TZ_ERR_NOMEM, "out of memory");
    for (size_t i = 0; rc == TZ_OK && i < s->cfg.workers; i++) {
        if (pthread_create(&s->workers[i], NULL, worker_main, s) != 0)
            rc = tz_err_set(err, TZ_ERR_IO, "starting worker %zu: %s", i, strerror(errno));
        else
            s->nworkers++;
    }
    if (rc == TZ_OK) {
        if (pthread_create(&s->writer, NULL, writer_main, s) != 0)
            rc = tz_err_set(err, TZ_ERR_IO, "starting the writer: %s", strerror(errno));
        else
            s->writer_started = 1;
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return rc;
}

static void stop_threads(server *s)
{
    queue_close(&s->work);
    for (size_t i = 0; i < s->nworkers; i++)
        pthread_join(s->workers[i], NULL);
    /* Workers are done: nothing more can reach the writer. */
    queue_close(&s->commit);
    if (s->writer_started)
        pthread_join(s->writer, NULL);
    free(s->workers);
}

static int bind_and_announce(server *s, tz_err *err)
{
    s->bound = evhttp_bind_socket_with_handle(s->http, s->cfg.address, s->cfg.port);
    if (s->bound == NULL)
        return tz_err_set(err, TZ_ERR_IO, "--listen %s:%u: cannot bind: %s", s->cfg.address,
                          (unsigned)s->cfg.port, strerror(errno));
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    char host[INET6_ADDRSTRLEN] = "?";
    unsigned port = s->cfg.port;
    evutil_socket_t fd = evhttp_bound_socket_get_fd(s->bound);
    if (getsockname(fd, (struct sockaddr *)&ss, &len) == 0) {
        if (ss.ss_family == AF_INET) {
            struct sockaddr_in *in = (struct sockaddr_in *)&ss;
            inet_ntop(AF_INET, &in->sin_addr, host, sizeof host);
            port = ntohs(in->sin_port);
        } else if (ss.ss_family == AF_INET6) {
            struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
            inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof host);
            port = ntohs(in6->sin6_port);
        }
    }
    printf("{\"listening\":\"%s:%u\",\"size\":%llu,\"workers\":%u}\n", host, port,
           (unsigned long long)tz_ledger_size(s->ledger), s->cfg.workers);
    fflush(stdout);
    return TZ_OK;
}

int tzd_server_run(const tzd_config *cfg, tz_err *err)
{
    server *s = calloc(1, sizeof *s);
    if (s == NULL)
        return tz_err_set(err, TZ_ERR_NOMEM, "out of memory");
    s->cfg = *cfg;
    if (s->cfg.workers == 0)
        s->cfg.workers = 1;
    if (s->cfg.max_batch == 0)
        s->cfg.max_batch = 1;
    if (s->cfg.max_connections == 0)
        s->cfg.max_connections = 1;
    if (conn_set_init(&s->conns, s->cfg.max_connections) != 0) {
        free(s);
        return tz_err_set(err, TZ_ERR_NOMEM, "out of memory");
    }
    tzd_metrics_init(&s->metrics);
    tzd_head_init(&s->head);
    queue_init(&s->work);
    queue_init(&s->commit);
    queue_init(&s->done);
    signal(SIGPIPE, SIG_IGN);
    int rc = TZ_OK;
    const char *pass = getenv("TAIZHANG_PASSPHRASE");
    if ((rc = tz_ledger_open(&s->ledger, cfg->db, 0, pass, err)) != TZ_OK)
        goto out;
    s->store = tz_ledger_store(s->ledger);
    if ((rc = tzd_cosign_init(&s->cosign, tz_ledger_log_key(s->ledger), tz_ledger_origin(s->ledger),
                              cfg->witnesses, cfg->nwitnesses, err)) != TZ_OK)
        goto out;
    s->cosign_ready = 1;
    if (tz_ledger_size(s->ledger) == 0) {
        rc = tz_err_set(err, TZ_ERR_IO, "--db %s: the ledger has no genesis entry", cfg->db);
        goto out;
    }
    publish_head(s);
    if (s->head.current == NULL) {
        rc = tz_err_set(err, TZ_ERR_IO, "--db %s: cannot read the checkpoint", cfg->db);
        goto out;
    }
    if (evthread_use_pthreads() != 0) {
        rc = tz_err_set(err, TZ_ERR_INTERNAL, "libevent: no pthread support");
        goto out;
    }
    if ((s->base = event_base_new()) == NULL || (s->http = evhttp_new(s->base)) == NULL) {
        rc = tz_err_set(err, TZ_ERR_NOMEM, "libevent: cannot create the event base");
        goto out;
    }
    /* libevent answers 413 itself (not JSON) past twice the limit; between
     * the limit and that, on_request answers a JSON 413. */
    evhttp_set_max_body_size(s->http, (ev_ssize_t)(2 * cfg->max_body));
    evhttp_set_max_headers_size(s->http, (ev_ssize_t)cfg->max_headers);
    evhttp_set_timeout(s->http, cfg->timeout_seconds);
    evhttp_set_allowed_methods(s->http, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_HEAD |
                                        EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE | EVHTTP_REQ_OPTIONS |
                                        EVHTTP_REQ_PATCH);
    evhttp_set_default_content_type(s->http, "application/json");
    evhttp_set_gencb(s->http, on_request, s);
    s->done_ev = event_new(s->base, -1, 0, on_done, s);
    s->sigterm_ev = evsignal_new(s->base, SIGTERM, on_signal, s);
    s->sigint_ev = evsignal_new(s->base, SIGINT, on_signal, s);
    if (s->done_ev == NULL || s->sigterm_ev == NULL || s->sigint_ev == NULL ||
        event_add(s->sigterm_ev, NULL) != 0 || event_add(s->sigint_ev, NULL) != 0) {
        rc = tz_err_set(err, TZ_ERR_NOMEM, "libevent: cannot create events");
        goto out;
    }
    if ((rc = start_threads(s, err)) != TZ_OK)
        goto stop;
    if ((rc = bind_and_announce(s, err)) != TZ_OK)
        goto stop;
    if (event_base_dispatch(s->base) < 0)
        rc = tz_err_set(err, TZ_ERR_INTERNAL, "libevent: the event loop failed");
    fprintf(stderr, "taizhangd: every request answered; closing the store at size %llu\n",
            s->ledger ? (unsigned long long)tz_ledger_size(s->ledger) : 0ull);
stop:
    stop_threads(s);
out:
    if (s->http != NULL)
        evhttp_free(s->http);
    if (s->done_ev != NULL)
        event_free(s->done_ev);
    if (s->sigterm_ev != NULL)
        event_free(s->sigterm_ev);
    if (s->sigint_ev != NULL)
        event_free(s->sigint_ev);
    if (s->base != NULL)
        event_base_free(s->base);
    /* Jobs still queued exist only when start-up failed half way. */
    job_free(queue_take_all(&s->done));
    tzd_head_destroy(&s->head); /* the snapshot before the store it belongs to */
    free(s->conns.slot);
    if (s->cosign_ready)
        tzd_cosign_destroy(&s->cosign);
    tz_ledger_close(s->ledger);
    queue_destroy(&s->work);
    queue_destroy(&s->commit);
    queue_destroy(&s->done);
    free(s);
    return rc;
}
