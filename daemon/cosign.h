/*
 * cosign.h: taizhangd collecting witness cosignatures (docs/API.md,
 * docs/WITNESS.md).
 *
 *   POST /v1/checkpoint/cosign    a witness posts the note it cosigned
 *   GET  /v1/checkpoint/cosigned  the newest checkpoint with every
 *                                 cosignature collected for it
 *
 * The daemon keeps only the newest cosigned checkpoint, in memory: its
 * text, the log's signature line and, per configured witness, that
 * witness's latest cosignature line. A cosignature of a larger size starts
 * a new collection; one of a smaller size is valid but stale and is not
 * stored. Witnesses are idempotent, so after a restart they simply post
 * again.
 */
#ifndef TZ_DAEMON_COSIGN_H
#define TZ_DAEMON_COSIGN_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "crypto/key.h"
#include "daemon/api.h"
#include "ledger/checkpoint.h"
#include "ledger/witness.h"

#define TZD_COSIG_LINE_MAX 256 /* "— " + name (<= 64) + " " + 104 base64 + "\n" */

typedef struct tzd_cosign {
    pthread_mutex_t lock;
    size_t nwitnesses;
    tz_public_key witnesses[TZ_WITNESS_MAX];
    tz_public_key log_key;
    char origin[TZ_ORIGIN_MAX + 1];
    /* under lock: the collection */
    int have;
    uint64_t size;
    char *text;                 /* the checkpoint body of size, malloc'd */
    size_t text_len;
    char log_line[TZD_COSIG_LINE_MAX];
    char lines[TZ_WITNESS_MAX][TZD_COSIG_LINE_MAX]; /* "" when that witness has not cosigned */
    uint64_t times[TZ_WITNESS_MAX];
} tzd_cosign;

/* Sets up an empty collection for the log (log_key, origin) and the
 * witnesses[0..n) (copied; n <= TZ_WITNESS_MAX, repeats are dropped).
 * Errors: TZ_ERR_USAGE (NULL, too many). */
int tzd_cosign_init(tzd_cosign *c, const tz_public_key *log_key, const char *origin,
                    const tz_public_key *witnesses, size_t n, tz_err *err) TZ_MUST_CHECK;

/* Frees the collection. Accepts NULL. */
void tzd_cosign_destroy(tzd_cosign *c);

/* POST /v1/checkpoint/cosign with body[0..len): a signed note that must be
 * a checkpoint this log issued (its text exactly the checkpoint of its
 * size, with the log's valid signature, the size within the published
 * head and the root the tree has at that size: else 409), and whose every
 * other signature line is a valid cosignature of a configured witness
 * (else 401), with at least one such line (else 400). Fills *out: 200 with
 * {"size","stored","cosignatures","witnesses":[names accepted]}, or a JSON
 * error (404 when no witness is configured). Runs on any thread. */
void tzd_cosign_post(tzd_cosign *c, tzd_head *head, const uint8_t *body, size_t len, tzd_reply *out);

/* GET /v1/checkpoint/cosigned: 200 with the newest cosigned checkpoint
 * note (text/plain: the text, the log's line, the witnesses' lines in
 * --witness order), or 404 JSON when none has been collected or no
 * witness is configured; 400 for any query parameter (query may be NULL). */
void tzd_cosign_get(tzd_cosign *c, const char *query, tzd_reply *out);

#endif
