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
 * accepting and the loop exits when in_flight reaches 0 and every reply
 * has been written out (drained).
 *
 * What a client may hold is bounded (docs/API.md "Connections and
 * fairness"): connections from accept on, in all and per source address;
 * time per request (a deadline bytes do not extend) and per idle
 * keep-alive; bytes of request bodies buffered in all; reads queued; and
 * writes keep a worker that reads cannot take.
 */
#include "daemon/server.h"

#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/listener.h>
#include <event2/thread.h>
#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "daemon/api.h"
#include "daemon/cosign.h"
#include "daemon/metrics.h"
#include "daemon/router.h"
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
    size_t charge;               /* bytes of --max-body-memory held until the reply */
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

static void list_append(job **head, job **tail, job *j)
{
    j->next = NULL;
    if (*tail != NULL)
        (*tail)->next = j;
    else
        *head = j;
    *tail = j;
}

static job *list_pop(job **head, job **tail)
{
    job *j = *head;
    if (j != NULL) {
        *head = j->next;
        if (*head == NULL)
            *tail = NULL;
        j->next = NULL;
    }
    return j;
}

static void queue_push(queue *q, job *j)
{
    pthread_mutex_lock(&q->mu);
    list_append(&q->head, &q->tail, j);
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

/* The workers' queue: reads and writes (appends, cosignatures) wait apart,
 * so that a flood of reads cannot stand between a statement and the
 * writer. Measured before: 8 connections looping on GET /v1/entries?
 * limit=1000 (each read ~10 ms of JSON) held both workers and kept the
 * queue full, and one append waited 8 s behind them. Now a worker takes a
 * write first whenever one waits, and at most read_slots (workers - 1)
 * reads run at once, so one worker is always free for writes. With a
 * single worker, reads and writes alternate while both wait. Queued reads
 * are bounded (max_reads); one more is refused with 503 busy. */
typedef struct work_queue {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    job *reads, *reads_tail, *writes, *writes_tail;
    size_t reads_queued, reads_running, read_slots, max_reads;
    int single;    /* one worker: alternate */
    int last_read; /* single: the last job taken was a read */
    int closed;
} work_queue;

static void work_init(work_queue *q, unsigned workers, size_t max_reads)
{
    memset(q, 0, sizeof *q);
    pthread_mutex_init(&q->mu, NULL);
    pthread_cond_init(&q->cv, NULL);
    q->single = workers <= 1;
    q->read_slots = workers > 1 ? workers - 1 : 1;
    q->max_reads = max_reads;
}

static void work_destroy(work_queue *q)
{
    pthread_mutex_destroy(&q->mu);
    pthread_cond_destroy(&q->cv);
}

/* Queues j (a read or a write). Returns 0, or -1 when j is a read and
 * max_reads reads are queued already (j is not queued). *queued gets the
 * reads queued after the call. */
static int work_push(work_queue *q, job *j, size_t *queued)
{
    int rc = 0;
    pthread_mutex_lock(&q->mu);
    if (j->kind != JOB_READ) {
        list_append(&q->writes, &q->writes_tail, j);
        pthread_cond_signal(&q->cv);
    } else if (q->reads_queued >= q->max_reads) {
        rc = -1;
    } else {
        list_append(&q->reads, &q->reads_tail, j);
        q->reads_queued++;
        pthread_cond_signal(&q->cv);
    }
    *queued = q->reads_queued;
    pthread_mutex_unlock(&q->mu);
    return rc;
}

/* Worker: ends the read it ran (finished_read) and takes the next job,
 * waiting while there is none it may take. NULL once closed and empty. */
static job *work_take(work_queue *q, int finished_read, atomic_uint_fast64_t *queued_gauge)
{
    job *j = NULL;
    pthread_mutex_lock(&q->mu);
    if (finished_read) {
        q->reads_running--;
        if (q->reads != NULL) /* a worker held back by the cap may go */
            pthread_cond_signal(&q->cv);
    }
    for (;;) {
        int can_read = q->reads != NULL && q->reads_running < q->read_slots;
        if (q->writes != NULL && (!can_read || !q->single || q->last_read)) {
            j = list_pop(&q->writes, &q->writes_tail);
            q->last_read = 0;
            break;
        }
        if (can_read) {
            j = list_pop(&q->reads, &q->reads_tail);
            q->reads_queued--;
            q->reads_running++;
            q->last_read = 1;
            break;
        }
        if (q->closed && q->reads == NULL && q->writes == NULL)
            break;
        pthread_cond_wait(&q->cv, &q->mu);
    }
    atomic_store(queued_gauge, q->reads_queued);
    pthread_mutex_unlock(&q->mu);
    return j;
}

static void work_close(work_queue *q)
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

/* Every connection is known from accept to close (libevent 2.1 has no
 * limit on connections and no per-connection user data, so the loop thread
 * keeps its own record). evhttp asks us for each new connection's
 * bufferevent (evhttp_set_bevcb) in the middle of accepting it, before the
 * connection has an address; the bufferevent is held (a reference) and an
 * event runs admit_pending right after the accept callback, before any
 * byte of the connection can be read, and decides:
 *   served    counts toward --max-connections and, per source address,
 *             --max-connections-per-host;
 *   refused   one connection too many (of all, or of its host): held in a
 *             small lane (REFUSAL_LANE connections, REFUSAL_SECONDS) only so
 *             that its first request is answered 503 too_many_connections
 *             and closed; past the lane it is closed at once.
 * At the limit, a newcomer evicts the served connection that has been idle
 * longest (no request bytes since its last reply), taken from a host that
 * holds at least two connections more than the newcomer's: idle keep-alive
 * connections give way first, and one host cannot push out another with
 * fewer connections (nor shuffle its own).
 *
 * Each connection has one timer: idle (after accept or after a reply) it
 * is closed after --keepalive-timeout without a byte; from the first byte
 * of a request it has --request-timeout for the whole request, headers and
 * body, which later bytes do not extend; while its request is with the
 * workers there is no timer. Bytes received of a request being read are
 * charged to --max-body-memory (the input hook on the bufferevent sees
 * every read); past it, the connection holding the most is closed first. */

#define REFUSAL_LANE 32       /* connections held only to answer 503 */
#define REFUSAL_SECONDS 2     /* how long one may take to send its request */

enum conn_state { CONN_IDLE, CONN_READING, CONN_BUSY };

typedef struct conn {
    struct server *s;
    struct evhttp_connection *evcon;
    struct bufferevent *bev;
    struct evbuffer_cb_entry *input_hook;
    struct event *timer;
    uint8_t host[16];            /* the peer address (IPv4 as ::ffff:a.b.c.d) */
    char host_text[INET6_ADDRSTRLEN];
    enum conn_state state;
    int refused;                 /* 0, or the limit that refused it (1 all, 2 host) */
    int doomed;                  /* to be closed by reap (its memory is no longer charged) */
    size_t charged;              /* bytes of the request being read */
    struct conn *prev, *next;    /* every connection, oldest first */
    struct conn *idle_prev, *idle_next; /* idle served ones, longest idle first */
    int in_idle;
    struct conn *reap_next;
} conn;

/* Open addressing on the evhttp_connection pointer, capacity a power of
 * two at least twice the members, backward-shift deletion. */
typedef struct conn_set {
    conn **slot;
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

static size_t ptr_hash(const conn_set *set, const void *p)
{
    uintptr_t x = (uintptr_t)p;
    x ^= x >> 17;
    x *= (uintptr_t)0x9E3779B97F4A7C15ull;
    return (size_t)(x >> 7) & set->mask;
}

/* The slot holding the connection of c, or the empty slot where it would go. */
static size_t conn_find(const conn_set *set, const struct evhttp_connection *c)
{
    size_t i = ptr_hash(set, c);
    while (set->slot[i] != NULL && set->slot[i]->evcon != c)
        i = (i + 1) & set->mask;
    return i;
}

static conn *conn_lookup(const conn_set *set, const struct evhttp_connection *c)
{
    return c != NULL ? set->slot[conn_find(set, c)] : NULL;
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
        size_t home = ptr_hash(set, set->slot[j]->evcon);
        if (((j - home) & set->mask) >= ((j - i) & set->mask)) {
            set->slot[i] = set->slot[j];
            set->slot[j] = NULL;
            i = j;
        }
    }
}

/* Served connections per source address: the same open addressing, on the
 * 16-byte address; an entry leaves when its count drops to 0. */
typedef struct host_entry {
    uint8_t addr[16];
    uint32_t count; /* 0: empty slot */
} host_entry;

typedef struct host_set {
    host_entry *slot;
    size_t mask;
} host_set;

static int host_set_init(host_set *set, size_t limit)
{
    size_t cap = 16;
    while (cap < 2 * limit)
        cap <<= 1;
    set->slot = calloc(cap, sizeof *set->slot);
    set->mask = cap - 1;
    return set->slot != NULL ? 0 : -1;
}

static size_t host_hash(const host_set *set, const uint8_t addr[16])
{
    uint64_t a, b;
    memcpy(&a, addr, 8);
    memcpy(&b, addr + 8, 8);
    uint64_t x = (a ^ (b * 0x9E3779B97F4A7C15ull)) * 0xBF58476D1CE4E5B9ull;
    return (size_t)(x >> 29) & set->mask;
}

static size_t host_find(const host_set *set, const uint8_t addr[16])
{
    size_t i = host_hash(set, addr);
    while (set->slot[i].count != 0 && memcmp(set->slot[i].addr, addr, 16) != 0)
        i = (i + 1) & set->mask;
    return i;
}

static uint32_t host_count(const host_set *set, const uint8_t addr[16])
{
    return set->slot[host_find(set, addr)].count;
}

/* The table never fills: it has room for twice the served connections. */
static void host_add(host_set *set, const uint8_t addr[16])
{
    size_t i = host_find(set, addr);
    memcpy(set->slot[i].addr, addr, 16);
    set->slot[i].count++;
}

static void host_drop(host_set *set, const uint8_t addr[16])
{
    size_t i = host_find(set, addr);
    if (set->slot[i].count == 0 || --set->slot[i].count > 0)
        return;
    for (size_t j = (i + 1) & set->mask; set->slot[j].count != 0; j = (j + 1) & set->mask) {
        size_t home = host_hash(set, set->slot[j].addr);
        if (((j - home) & set->mask) >= ((j - i) & set->mask)) {
            set->slot[i] = set->slot[j];
            set->slot[j].count = 0;
            i = j;
        }
    }
}

/* ---- logging, at most LOG_PER_SECOND lines of a kind per second ------------------- */

/* An attack repeats one event thousands of times a second (accept failing
 * with EMFILE wrote 1.6 million lines in 9 s): each kind prints at most
 * LOG_PER_SECOND lines a second, then one line saying how many it left out. */
enum log_kind { LOG_ACCEPT, LOG_REFUSED, LOG_TIMEOUT, LOG_MEMORY, LOG_KINDS };
#define LOG_PER_SECOND 5

typedef struct log_limit {
    double window;          /* start of the current second */
    unsigned lines;         /* printed in it */
    unsigned long suppressed;
} log_limit;
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
    struct evconnlistener *listener; /* bound's; NULL once draining */
    struct event *done_ev, *sigterm_ev, *sigint_ev;
    struct event *admit_ev, *reap_ev, *backoff_ev;
    work_queue work;
    queue commit, done;
    pthread_t *workers;
    size_t nworkers;
    pthread_t writer;
    int writer_started;
    size_t in_flight;     /* loop thread only */
    int draining;         /* loop thread only */
    int cosign_ready;     /* cosign was initialised (destroy it) */
    /* loop thread only: the connections (see "connections" above) */
    conn_set conns;
    host_set hosts;       /* served connections per source address */
    size_t served, refused; /* connections of each kind */
    conn *oldest, *newest;  /* every connection */
    conn *idle_oldest, *idle_newest;
    conn *reap;             /* doomed, to be closed by on_reap */
    struct bufferevent **pending; /* accepted, not yet admitted (held) */
    size_t npending, pending_cap;
    size_t body_memory;     /* bytes charged to --max-body-memory */
    log_limit logs[LOG_KINDS];
    int store_failed;     /* writer only: the last commit failed; reopen first */
    double reopen_after;  /* writer only: monotonic time of the next reopen attempt */
} server;

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Loop thread: prints one line of kind to stderr, unless LOG_PER_SECOND
 * of that kind were printed within the last second; the count of lines
 * left out is printed with the next line that goes through. */
static void log_limited(server *s, enum log_kind kind, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void log_limited(server *s, enum log_kind kind, const char *fmt, ...)
{
    log_limit *l = &s->logs[kind];
    double now = now_seconds();
    if (now - l->window >= 1.0) {
        if (l->suppressed > 0)
            fprintf(stderr, "taizhangd: %lu similar line(s) suppressed\n", l->suppressed);
        l->window = now;
        l->lines = 0;
        l->suppressed = 0;
    }
    if (l->lines >= LOG_PER_SECOND) {
        l->suppressed++;
        return;
    }
    l->lines++;
    va_list ap;
    va_start(ap, fmt);
    fputs("taizhangd: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
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

/* Loop thread: 1 when a drain may end the loop: no job is out and every
 * reply has been written out. A reply still in its connection's buffer
 * when the loop ends is lost (evhttp_free closes the connection unsent),
 * so the last replies of a drain are waited for (on_reply_sent, or
 * on_conn_close when the peer went away). */
static int drained(const server *s)
{
    if (s->in_flight != 0)
        return 0;
    for (const conn *c = s->oldest; c != NULL; c = c->next)
        if (c->state == CONN_BUSY && !c->doomed)
            return 0;
    return 1;
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
        s->body_memory -= j->charge; /* the body copy goes now, the request's once sent */
        job_free(j);
        s->in_flight--;
        atomic_fetch_sub(&s->metrics.requests_in_flight, 1);
        j = next;
    }
    atomic_store(&s->metrics.body_memory, s->body_memory);
    if (s->draining && drained(s))
        event_base_loopexit(s->base, NULL);
}

/* ---- workers and writer -------------------------------------------------------------- */

static void *worker_main(void *arg)
{
    server *s = arg;
    job *j;
    int finished_read = 0;
    while ((j = work_take(&s->work, finished_read, &s->metrics.reads_queued)) != NULL) {
        finished_read = j->kind == JOB_READ;
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

static void count_close(server *s, int reason)
{
    atomic_fetch_add(&s->metrics.closes[reason], 1);
}

static void update_gauges(server *s)
{
    atomic_store(&s->metrics.connections, s->served);
    atomic_store(&s->metrics.connections_refused, s->refused);
    atomic_store(&s->metrics.body_memory, s->body_memory);
}

static void idle_unlink(server *s, conn *c)
{
    if (!c->in_idle)
        return;
    if (c->idle_prev != NULL)
        c->idle_prev->idle_next = c->idle_next;
    else
        s->idle_oldest = c->idle_next;
    if (c->idle_next != NULL)
        c->idle_next->idle_prev = c->idle_prev;
    else
        s->idle_newest = c->idle_prev;
    c->idle_prev = c->idle_next = NULL;
    c->in_idle = 0;
}

/* Loop thread: c waits for (the first byte of) its next request. */
static void conn_set_idle(server *s, conn *c)
{
    c->state = CONN_IDLE;
    idle_unlink(s, c);
    if (!c->refused) {
        c->idle_prev = s->idle_newest;
        if (s->idle_newest != NULL)
            s->idle_newest->idle_next = c;
        else
            s->idle_oldest = c;
        s->idle_newest = c;
        c->in_idle = 1;
    }
    struct timeval tv = {c->refused ? REFUSAL_SECONDS : s->cfg.keepalive_seconds, 0};
    evtimer_add(c->timer, &tv);
}

/* Loop thread: forgets c (every count and list it is in) and frees it;
 * its connection is left to the caller. */
static void conn_forget(server *s, conn *c)
{
    conn_remove(&s->conns, c->evcon);
    idle_unlink(s, c);
    if (c->doomed) {
        for (conn **p = &s->reap; *p != NULL; p = &(*p)->reap_next)
            if (*p == c) {
                *p = c->reap_next;
                break;
            }
    } else {
        s->body_memory -= c->charged;
    }
    if (c->prev != NULL)
        c->prev->next = c->next;
    else
        s->oldest = c->next;
    if (c->next != NULL)
        c->next->prev = c->prev;
    else
        s->newest = c->prev;
    if (c->refused) {
        s->refused--;
    } else {
        s->served--;
        host_drop(&s->hosts, c->host);
    }
    evbuffer_remove_cb_entry(bufferevent_get_input(c->bev), c->input_hook);
    event_free(c->timer);
    free(c);
    update_gauges(s);
}

/* Loop thread, libevent's close callback: the connection is going, whoever
 * closed it (the peer, an error, evhttp_free at exit). */
static void on_conn_close(struct evhttp_connection *evcon, void *arg)
{
    server *s = arg;
    conn *c = conn_lookup(&s->conns, evcon);
    if (c != NULL)
        conn_forget(s, c);
    if (s->draining && drained(s))
        event_base_loopexit(s->base, NULL);
}

/* Loop thread: closes c's connection now. Only from outside its own
 * callbacks, and never while the workers hold its request (CONN_BUSY). */
static void conn_close_now(server *s, conn *c)
{
    struct evhttp_connection *evcon = c->evcon;
    conn_forget(s, c);
    evhttp_connection_free(evcon); /* its close callback finds nothing left */
}

/* Loop thread: closes c's connection at the next turn of the loop (never
 * from inside one of its own callbacks); its bytes stop counting now. */
static void conn_doom(server *s, conn *c)
{
    if (c->doomed)
        return;
    c->doomed = 1;
    s->body_memory -= c->charged;
    c->charged = 0;
    evtimer_del(c->timer);
    bufferevent_disable(c->bev, EV_READ);
    c->reap_next = s->reap;
    s->reap = c;
    event_active(s->reap_ev, EV_READ, 0);
}

static void on_reap(evutil_socket_t fd, short what, void *arg)
{
    server *s = arg;
    while (s->reap != NULL)
        conn_close_now(s, s->reap); /* conn_forget unlinks it */
}

/* Loop thread: c's timer: it sent no byte for --keepalive-timeout since
 * its last reply (or accept), or did not complete its request within
 * --request-timeout of its first byte. */
static void on_conn_timer(evutil_socket_t fd, short what, void *arg)
{
    conn *c = arg;
    server *s = c->s;
    if (c->state == CONN_BUSY || c->doomed)
        return;
    if (c->state == CONN_READING) {
        count_close(s, TZD_CLOSE_REQUEST_TIMEOUT);
        log_limited(s, LOG_TIMEOUT, "closing a connection from %s: its request was not "
                    "complete within %d s (--request-timeout)", c->host_text,
                    s->cfg.request_seconds);
    } else {
        count_close(s, c->refused ? TZD_CLOSE_REFUSED : TZD_CLOSE_IDLE_TIMEOUT);
    }
    conn_close_now(s, c);
}

/* Loop thread: under --max-body-memory, closes the connections holding the
 * most bytes of requests not yet complete (at least c's bytes are
 * counted), largest first, until the total fits. */
static void relieve_memory(server *s, conn *c)
{
    while (s->body_memory > s->cfg.max_body_memory) {
        conn *victim = NULL;
        for (conn *k = s->oldest; k != NULL; k = k->next)
            if (!k->doomed && k->state == CONN_READING && k->charged > 0 &&
                (victim == NULL || k->charged > victim->charged))
                victim = k;
        if (victim == NULL)
            return; /* the rest is held by requests with the workers */
        count_close(s, TZD_CLOSE_BODY_MEMORY);
        log_limited(s, LOG_MEMORY, "closing a connection from %s holding %zu bytes of an "
                    "unfinished request: request bodies buffered exceed %zu bytes "
                    "(--max-body-memory)%s", victim->host_text, victim->charged,
                    s->cfg.max_body_memory, victim == c ? "" : " (the largest)");
        conn_doom(s, victim);
    }
}

/* Loop thread, an evbuffer callback on the input of c's bufferevent: bytes
 * arrived (info->n_added) or were consumed by evhttp. */
static void on_conn_input(struct evbuffer *buf, const struct evbuffer_cb_info *info, void *arg)
{
    conn *c = arg;
    server *s = c->s;
    if (info->n_added == 0 || c->doomed)
        return;
    if (c->state == CONN_IDLE) {
        /* The request's deadline runs from its first byte; bytes never
         * extend it. */
        idle_unlink(s, c);
        c->state = CONN_READING;
        struct timeval tv = {c->refused ? REFUSAL_SECONDS : s->cfg.request_seconds, 0};
        evtimer_add(c->timer, &tv);
    }
    c->charged += info->n_added;
    s->body_memory += info->n_added;
    if (s->body_memory > s->cfg.max_body_memory)
        relieve_memory(s, c);
    atomic_store(&s->metrics.body_memory, s->body_memory);
}

/* Loop thread: the peer address of fd as 16 bytes (IPv4 mapped into
 * IPv6) and as text. -1 when it has none (the peer already left). */
static int peer_of(evutil_socket_t fd, uint8_t addr[16], char *text, size_t cap)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    if (getpeername(fd, (struct sockaddr *)&ss, &len) != 0)
        return -1;
    memset(addr, 0, 16);
    if (ss.ss_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)&ss;
        addr[10] = addr[11] = 0xff;
        memcpy(addr + 12, &in->sin_addr, 4);
        inet_ntop(AF_INET, &in->sin_addr, text, (socklen_t)cap);
    } else if (ss.ss_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)&ss;
        memcpy(addr, &in6->sin6_addr, 16);
        inet_ntop(AF_INET6, &in6->sin6_addr, text, (socklen_t)cap);
    } else {
        snprintf(text, cap, "(local)");
    }
    return 0;
}

/* Loop thread: the idle served connection to close for a newcomer from a
 * host holding mine connections: the longest idle one whose host holds at
 * least mine + 2. NULL when there is none. */
static conn *eviction_victim(server *s, uint32_t mine)
{
    for (conn *c = s->idle_oldest; c != NULL; c = c->idle_next)
        if (!c->doomed && host_count(&s->hosts, c->host) >= mine + 2)
            return c;
    return NULL;
}

/* Loop thread: decides about one accepted connection (see "connections"). */
static void admit(server *s, struct evhttp_connection *evcon, struct bufferevent *bev)
{
    uint8_t addr[16];
    char text[INET6_ADDRSTRLEN] = "?";
    evutil_socket_t fd = bufferevent_getfd(bev);
    if (s->draining || fd < 0 || peer_of(fd, addr, text, sizeof text) != 0) {
        evhttp_connection_free(evcon);
        return;
    }
    uint32_t mine = host_count(&s->hosts, addr);
    if (s->served >= s->cfg.max_connections && mine < s->cfg.max_connections_per_host) {
        conn *victim = eviction_victim(s, mine);
        if (victim != NULL) {
            count_close(s, TZD_CLOSE_EVICTED);
            conn_close_now(s, victim); /* idle: no request of ours on it */
        }
    }
    int refused = s->served >= s->cfg.max_connections          ? 1
                  : mine >= s->cfg.max_connections_per_host ? 2
                                                               : 0;
    if (refused && s->refused >= REFUSAL_LANE) {
        count_close(s, TZD_CLOSE_REFUSED);
        atomic_fetch_add(&s->metrics.rejects[TZD_REJECT_CONNECTIONS], 1);
        log_limited(s, LOG_REFUSED, "refusing a connection from %s: %s", text,
                    refused == 1 ? "--max-connections reached"
                                 : "--max-connections-per-host reached for it");
        evhttp_connection_free(evcon);
        return;
    }
    conn *c = calloc(1, sizeof *c);
    if (c == NULL || (c->timer = evtimer_new(s->base, on_conn_timer, c)) == NULL ||
        (c->input_hook = evbuffer_add_cb(bufferevent_get_input(bev), on_conn_input, c)) == NULL) {
        if (c != NULL && c->timer != NULL)
            event_free(c->timer);
        free(c);
        evhttp_connection_free(evcon);
        return;
    }
    c->s = s;
    c->evcon = evcon;
    c->bev = bev;
    memcpy(c->host, addr, 16);
    memcpy(c->host_text, text, sizeof text);
    c->refused = refused;
    c->prev = s->newest;
    if (s->newest != NULL)
        s->newest->next = c;
    else
        s->oldest = c;
    s->newest = c;
    s->conns.slot[conn_find(&s->conns, evcon)] = c;
    s->conns.count++;
    if (refused) {
        s->refused++;
    } else {
        s->served++;
        host_add(&s->hosts, addr);
    }
    evhttp_connection_set_closecb(evcon, on_conn_close, s);
    conn_set_idle(s, c);
    update_gauges(s);
}

/* Loop thread, right after accepts: admits every connection accepted
 * since the last turn. A connection libevent already dropped (its
 * bufferevent freed: no callback argument left) is skipped. */
static void admit_pending(evutil_socket_t fd, short what, void *arg)
{
    server *s = arg;
    for (size_t i = 0; i < s->npending; i++) {
        struct bufferevent *bev = s->pending[i];
        void *evcon = NULL;
        bufferevent_getcb(bev, NULL, NULL, NULL, &evcon);
        if (evcon != NULL)
            admit(s, evcon, bev);
        bufferevent_decref(bev);
    }
    s->npending = 0;
}

/* evhttp's hook for the bufferevent of a connection being accepted (see
 * "connections"). NULL lets evhttp make its own: only when out of memory,
 * and then the connection goes unaccounted rather than refused. */
static struct bufferevent *on_new_connection(struct event_base *base, void *arg)
{
    server *s = arg;
    if (s->npending == s->pending_cap) {
        size_t cap = s->pending_cap ? 2 * s->pending_cap : 64;
        struct bufferevent **p = realloc(s->pending, cap * sizeof *p);
        if (p == NULL)
            return NULL;
        s->pending = p;
        s->pending_cap = cap;
    }
    struct bufferevent *bev = bufferevent_socket_new(base, -1, 0); /* as evhttp's own */
    if (bev == NULL)
        return NULL;
    bufferevent_incref(bev);
    s->pending[s->npending++] = bev;
    event_active(s->admit_ev, EV_READ, 0);
    return bev;
}

/* The listener's error callback: accept() failed for a reason retrying at
 * once cannot cure (EMFILE, ENFILE, ENOBUFS, ENOMEM). Instead of spinning
 * on it, stop accepting for ACCEPT_BACKOFF_MS; waiting connections stay in
 * the kernel's backlog meanwhile. */
#define ACCEPT_BACKOFF_MS 250

/* The server whose listener it is: libevent hands the error callback the
 * listener's argument, which evhttp_bind_listener made the evhttp. One
 * server runs per process (it owns SIGTERM). */
static server *listening_server;

static void on_accept_error(struct evconnlistener *listener, void *arg)
{
    server *s = listening_server;
    (void)arg;
    int err = EVUTIL_SOCKET_ERROR();
    atomic_fetch_add(&s->metrics.accept_errors, 1);
    log_limited(s, LOG_ACCEPT, "accepting a connection: %s; pausing new connections for %d ms "
                "(%zu connections open)", evutil_socket_error_to_string(err), ACCEPT_BACKOFF_MS,
                s->served + s->refused);
    evconnlistener_disable(listener);
    struct timeval tv = {0, ACCEPT_BACKOFF_MS * 1000};
    evtimer_add(s->backoff_ev, &tv);
}

static void on_accept_backoff(evutil_socket_t fd, short what, void *arg)
{
    server *s = arg;
    if (s->listener != NULL)
        evconnlistener_enable(s->listener);
}

/* Loop thread: the reply to req was written out: its connection waits for
 * its next request (or evhttp closes it next, for Connection: close). */
static void on_reply_sent(struct evhttp_request *req, void *arg)
{
    server *s = arg;
    conn *c = conn_lookup(&s->conns, evhttp_request_get_connection(req));
    if (c != NULL && !c->doomed)
        conn_set_idle(s, c);
    if (s->draining && drained(s))
        event_base_loopexit(s->base, NULL);
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
    conn *c = conn_lookup(&s->conns, evhttp_request_get_connection(req));
    if (c != NULL && c->doomed)
        return; /* closed by on_reap, which frees req with its connection */
    if (c != NULL) {
        /* Complete: no deadline while the workers have it. Its bytes stop
         * counting here; a job counts its own copy below. */
        evtimer_del(c->timer);
        idle_unlink(s, c);
        c->state = CONN_BUSY;
        s->body_memory -= c->charged;
        c->charged = 0;
        evhttp_request_set_on_complete_cb(req, on_reply_sent, s);
    }
    if (c == NULL || c->refused) {
        /* Answered and closed at once: the client may retry when others leave. */
        evhttp_add_header(evhttp_request_get_output_headers(req), "Connection", "close");
        if (c != NULL && c->refused == 2)
            tzd_reply_error(&r, 503, "too_many_connections", "%zu connections from %s are "
                            "being served (--max-connections-per-host); retry later",
                            s->cfg.max_connections_per_host, c->host_text);
        else
            tzd_reply_error(&r, 503, "too_many_connections", "%zu connections are being served "
                            "(--max-connections); retry later", s->cfg.max_connections);
        atomic_fetch_add(&s->metrics.rejects[TZD_REJECT_CONNECTIONS], 1);
        reply_now(s, req, &r, t0, 1);
        return;
    }
    int post;
    tzd_route route = tzd_route_request(&post, &r, cmd, path); /* 400, 404, 405 (router.h) */
    if (route == TZD_ROUTE_ERROR) {
        if (r.status == 405) /* the method the path takes, as the router decided it */
            evhttp_add_header(evhttp_request_get_output_headers(req), "Allow",
                              post ? "POST" : "GET");
        reply_now(s, req, &r, t0, !post);
        return;
    }
    int cosign = route == TZD_ROUTE_CHECKPOINT_COSIGN;
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
        j->msgpack = tzd_route_body_is_msgpack(ct);
        j->require_type = tzd_route_require_type(route);
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
    if (post) {
        /* the copy, and the request's own buffer until the reply is sent */
        j->charge = 2 * j->body_len;
        s->body_memory += j->charge;
        if (s->body_memory > s->cfg.max_body_memory)
            relieve_memory(s, NULL);
    }
    size_t queued;
    if (work_push(&s->work, j, &queued) != 0) {
        s->body_memory -= j->charge;
        job_free(j);
        tzd_reply_error(&r, 503, "busy", "%zu reads are queued (--max-queued-reads); retry "
                        "later", s->cfg.max_queued_reads);
        atomic_fetch_add(&s->metrics.rejects[TZD_REJECT_BUSY], 1);
        reply_now(s, req, &r, t0, 1);
        return;
    }
    atomic_store(&s->metrics.reads_queued, queued);
    atomic_store(&s->metrics.body_memory, s->body_memory);
    s->in_flight++;
    atomic_fetch_add(&s->metrics.requests_in_flight, 1);
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
        evhttp_del_accept_socket(s->http, s->bound); /* frees the listener */
        s->bound = NULL;
        s->listener = NULL;
        evtimer_del(s->backoff_ev);
    }
    if (drained(s))
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
    cfg->max_connections_per_host = 128;
    cfg->request_seconds = 30;
    cfg->keepalive_seconds = 15;
    cfg->max_body_memory = 64u << 20;
    cfg->max_queued_reads = 256;
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
    work_close(&s->work);
    for (size_t i = 0; i < s->nworkers; i++)
        pthread_join(s->workers[i], NULL);
    /* Workers are done: nothing more can reach the writer. */
    queue_close(&s->commit);
    if (s->writer_started)
        pthread_join(s->writer, NULL);
    free(s->workers);
}

/* Binds cfg.address:cfg.port with a listener of our own, so that accept
 * errors reach on_accept_error (evhttp's own listener would log and retry
 * at once, forever). */
static int bind_and_announce(server *s, tz_err *err)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE | AI_NUMERICSERV}, *ai = NULL;
    char portstr[8];
    snprintf(portstr, sizeof portstr, "%u", (unsigned)s->cfg.port);
    int gai = getaddrinfo(s->cfg.address, portstr, &hints, &ai);
    if (gai != 0)
        return tz_err_set(err, TZ_ERR_IO, "--listen %s:%u: %s", s->cfg.address,
                          (unsigned)s->cfg.port, gai_strerror(gai));
    s->listener = evconnlistener_new_bind(s->base, NULL, NULL,
                                          LEV_OPT_REUSEABLE | LEV_OPT_CLOSE_ON_EXEC |
                                          LEV_OPT_CLOSE_ON_FREE, 511, ai->ai_addr,
                                          (int)ai->ai_addrlen);
    int saved = errno;
    freeaddrinfo(ai);
    if (s->listener == NULL)
        return tz_err_set(err, TZ_ERR_IO, "--listen %s:%u: cannot bind: %s", s->cfg.address,
                          (unsigned)s->cfg.port, strerror(saved));
    listening_server = s;
    evconnlistener_set_error_cb(s->listener, on_accept_error);
    s->bound = evhttp_bind_listener(s->http, s->listener);
    if (s->bound == NULL) {
        evconnlistener_free(s->listener);
        s->listener = NULL;
        return tz_err_set(err, TZ_ERR_NOMEM, "libevent: cannot bind the listener");
    }
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

/* Descriptors the daemon needs besides its connections: the store's
 * table files (ledger/store.c lets RocksDB keep 256 open), its WAL,
 * MANIFEST, LOCK and logs, the event loop's own, stdio and the witness
 * clients: generously. */
#define STORE_FILES 256
#define OWN_FILES 128

/* Raises RLIMIT_NOFILE's soft limit to what cfg needs: a descriptor per
 * connection (served and the refusal lane), the store's and our own.
 * TZ_ERR_USAGE, naming --max-connections and the limit, when the hard
 * limit is lower; nothing changes then. */
static int fit_file_limit(const tzd_config *cfg, tz_err *err)
{
    rlim_t need = (rlim_t)cfg->max_connections + REFUSAL_LANE + STORE_FILES + OWN_FILES +
                  cfg->workers;
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return tz_err_set(err, TZ_ERR_IO, "getrlimit(RLIMIT_NOFILE): %s", strerror(errno));
    if (rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur >= need)
        return TZ_OK;
    if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < need)
        return tz_err_set(err, TZ_ERR_USAGE, "--max-connections %zu needs %llu open files (one "
                          "per connection, %d more for refused ones, %d for the store and %d "
                          "for the daemon), but the hard limit RLIMIT_NOFILE is %llu: raise it "
                          "(ulimit -Hn, systemd LimitNOFILE=) or lower --max-connections",
                          cfg->max_connections, (unsigned long long)need, REFUSAL_LANE,
                          STORE_FILES, OWN_FILES + (int)cfg->workers,
                          (unsigned long long)rl.rlim_max);
    rl.rlim_cur = need;
    if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
        return tz_err_set(err, TZ_ERR_IO, "--max-connections %zu: raising RLIMIT_NOFILE to "
                          "%llu: %s", cfg->max_connections, (unsigned long long)need,
                          strerror(errno));
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
    if (s->cfg.max_connections_per_host == 0)
        s->cfg.max_connections_per_host = 1;
    if (s->cfg.max_queued_reads == 0)
        s->cfg.max_queued_reads = 1;
    int rc = fit_file_limit(&s->cfg, err);
    if (rc != TZ_OK) {
        free(s);
        return rc;
    }
    if (conn_set_init(&s->conns, s->cfg.max_connections + REFUSAL_LANE) != 0 ||
        host_set_init(&s->hosts, s->cfg.max_connections) != 0) {
        free(s->conns.slot);
    free(s->hosts.slot);
        free(s);
        return tz_err_set(err, TZ_ERR_NOMEM, "out of memory");
    }
    tzd_metrics_init(&s->metrics);
    tzd_head_init(&s->head);
    work_init(&s->work, s->cfg.workers, s->cfg.max_queued_reads);
    queue_init(&s->commit);
    queue_init(&s->done);
    signal(SIGPIPE, SIG_IGN);
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
    /* libevent's own timeout (reset by every byte) stays as the backstop
     * for writing to a client that does not read; it must not cut the
     * keep-alive or request deadlines short. */
    int backstop = s->cfg.timeout_seconds;
    if (backstop < s->cfg.keepalive_seconds + 1)
        backstop = s->cfg.keepalive_seconds + 1;
    if (backstop < s->cfg.request_seconds + 1)
        backstop = s->cfg.request_seconds + 1;
    evhttp_set_timeout(s->http, backstop);
    evhttp_set_allowed_methods(s->http, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_HEAD |
                                        EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE | EVHTTP_REQ_OPTIONS |
                                        EVHTTP_REQ_PATCH);
    evhttp_set_default_content_type(s->http, "application/json");
    evhttp_set_gencb(s->http, on_request, s);
    evhttp_set_bevcb(s->http, on_new_connection, s);
    s->done_ev = event_new(s->base, -1, 0, on_done, s);
    s->admit_ev = event_new(s->base, -1, 0, admit_pending, s);
    s->reap_ev = event_new(s->base, -1, 0, on_reap, s);
    s->backoff_ev = evtimer_new(s->base, on_accept_backoff, s);
    s->sigterm_ev = evsignal_new(s->base, SIGTERM, on_signal, s);
    s->sigint_ev = evsignal_new(s->base, SIGINT, on_signal, s);
    if (s->done_ev == NULL || s->admit_ev == NULL || s->reap_ev == NULL ||
        s->backoff_ev == NULL || s->sigterm_ev == NULL || s->sigint_ev == NULL ||
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
        evhttp_free(s->http); /* closes every connection: on_conn_close for each */
    for (size_t i = 0; i < s->npending; i++)
        bufferevent_decref(s->pending[i]);
    free(s->pending);
    if (s->admit_ev != NULL)
        event_free(s->admit_ev);
    if (s->reap_ev != NULL)
        event_free(s->reap_ev);
    if (s->backoff_ev != NULL)
        event_free(s->backoff_ev);
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
    free(s->hosts.slot);
    if (s->cosign_ready)
        tzd_cosign_destroy(&s->cosign);
    tz_ledger_close(s->ledger);
    work_destroy(&s->work);
    queue_destroy(&s->commit);
    queue_destroy(&s->done);
    free(s);
    return rc;
}
