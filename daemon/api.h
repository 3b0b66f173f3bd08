/*
 * api.h: the work behind taizhangd's endpoints, kept apart from the event
 * loop so that it runs on worker threads and can be tested without HTTP.
 *
 * Nothing here touches libevent's request objects: a handler reads the
 * store (RocksDB is safe for concurrent readers) and the published head,
 * and fills a tzd_reply, which the event-loop thread sends. Reads never
 * take the writer's path: they see the head the writer last published
 * (tzd_head), so an answer never mentions an entry whose batch is not
 * durable, and never waits for a commit in progress.
 */
#ifndef TZ_DAEMON_API_H
#define TZ_DAEMON_API_H

#include <jansson.h>
#include <msgpack.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "ledger/entry.h"
#include "ledger/store.h"
#include "util/status.h"

#define TZD_PAGE_MAX 1000u      /* entries per page of GET /v1/entries */
#define TZD_PAGE_SCAN_MAX 20000u /* entries looked at per page when filtering by type */
#define TZD_PARAM_NAME_MAX 32u   /* bytes of a query parameter's name */
#define TZD_PARAM_VALUE_MAX 64u  /* bytes of a number, date or flag parameter (ids: 128) */

/* What the writer last made durable: a RocksDB snapshot taken right after
 * the commit, with the log size and signed checkpoint it holds. A read
 * request acquires the current one and answers entirely from it, so an
 * answer never mixes two moments (a projection never counts an entry that
 * its size does not include), never mentions an entry whose batch is not
 * durable, and never waits for a commit: the writer publishes the next
 * snapshot beside it, and the last reader of an old one releases it. */
typedef struct tzd_snapshot {
    tz_store *store;    /* read-only snapshot handle (tz_store_snapshot) */
    uint64_t size;
    char *checkpoint;   /* the signed C2SP note of (size, root) */
    size_t checkpoint_len;
    unsigned refs;      /* under tzd_head.lock: the head's own + one per reader */
} tzd_snapshot;

typedef struct tzd_head {
    pthread_mutex_t lock;
    pthread_cond_t none_live; /* signalled when live drops to 0 */
    tzd_snapshot *current;    /* NULL before the first publish and while the store reopens */
    unsigned live;            /* snapshots not yet freed (current or held by readers) */
} tzd_head;

void tzd_head_init(tzd_head *head);

/* Makes (snapshot of store now, size, checkpoint) current; the checkpoint
 * (malloc'd) is consumed in every case. The previous snapshot is released
 * once its last reader is done. TZ_ERR_NOMEM: nothing changes. */
int tzd_head_publish(tzd_head *head, tz_store *store, uint64_t size, char *checkpoint,
                     size_t checkpoint_len, tz_err *err) TZ_MUST_CHECK;

/* The current snapshot, held until tzd_head_release (NULL before the first
 * publish). */
tzd_snapshot *tzd_head_acquire(tzd_head *head);
void tzd_head_release(tzd_head *head, tzd_snapshot *snap);

/* Withdraws the current snapshot (readers then get NULL) and waits until
 * every reader has released the snapshots it holds: after it, nothing
 * refers to the store, which may then be closed and reopened. */
void tzd_head_retire(tzd_head *head);

/* Retires the head and frees its lock. */
void tzd_head_destroy(tzd_head *head);

/* One HTTP answer: status, content type (static string) and a malloc'd body. */
typedef struct tzd_reply {
    int status;
    const char *ctype;
    char *body;
    size_t len;
} tzd_reply;

/* Frees the body (the struct itself is the caller's). Accepts NULL. */
void tzd_reply_clear(tzd_reply *r);

/* Sets r to status with doc serialised compactly (doc is consumed, may be
 * NULL: then 500 out of memory). */
void tzd_reply_json(tzd_reply *r, int status, json_t *doc);

/* Sets r to status with {"error": code, "message": the formatted text}. */
void tzd_reply_error(tzd_reply *r, int status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Sets r from a library status and its error (code = tz_status_name). */
void tzd_reply_status(tzd_reply *r, int tz_code, const char *msg);

/* The HTTP status for a library status: input/usage 400, signature 401,
 * forbidden 403, not found 404, conflict 409, rule 422, I/O and memory 503
 * (the store refused: try again), tamper/proof/internal 500. */
int tzd_http_status(int tz_code);

/* A statement as posted: its canonical bytes and verified signatures. */
typedef struct tzd_submission {
    msgpack_sbuffer statement;
    tz_signature sigs[TZ_ENTRY_MAX_SIGS];
    size_t nsigs;
} tzd_submission;

void tzd_submission_init(tzd_submission *s);
void tzd_submission_destroy(tzd_submission *s);

/* Parses a POST /v1/statements body (docs/API.md): JSON
 *   {"statement": {type, id, at, body}, "signatures": [{"key", "sig"}, ...]}
 * or, when is_msgpack, the msgpack map
 *   {"statement": bin (canonical statement bytes), "signatures": [{"key": bin 32, "sig": bin 64}]}
 * checks the statement (canonical form, every rule of tz_statement_decode),
 * that its type is require_type when that is not NULL, and verifies every
 * signature. On TZ_OK *s holds the statement and the signatures, ready for
 * tz_ledger_append with TZ_APPEND_SIGS_VERIFIED. Errors: TZ_ERR_INPUT
 * (naming the field and rule), TZ_ERR_SIGNATURE, TZ_ERR_NOMEM. */
int tzd_api_parse_submission(tzd_submission *s, const uint8_t *body, size_t len, int is_msgpack,
                             const char *require_type, tz_err *err) TZ_MUST_CHECK;

/* Answers GET path?query (query may be NULL) for the read endpoints:
 * /v1/entries/{seq}, /v1/entries, /v1/checkpoint, /v1/proof/inclusion,
 * /v1/proof/consistency, /v1/projections/{name}, all from one snapshot of
 * head. Always fills *out (404 for another path, 400 for bad parameters). */
void tzd_api_read(tzd_head *head, const char *path, const char *query, tzd_reply *out);

#endif
