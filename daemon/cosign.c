/*
 * cosign.c: taizhangd collecting witness cosignatures (see cosign.h).
 *
 * What is accepted is decided against the published head, not against a
 * list of notes the daemon handed out: a checkpoint is "one this log
 * issued" when its text is exactly the checkpoint body of its size (no
 * extension lines: taizhang writes none), the size is within the log, the
 * root is the tree's root at that size, and it carries the log's valid
 * signature. That holds for every checkpoint the log ever served (the tree
 * never changes below the head) and for nothing else, so a checkpoint of a
 * fork, even one signed with the real log key, is refused with 409.
 *
 * Cosignatures are checked before the lock is taken; the lock only guards
 * the few hundred bytes of the collection.
 */
#include "daemon/cosign.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/hash.h"
#include "crypto/note.h"
#include "ledger/ledger.h"
#include "ledger/merkle.h"
#include "util/encoding.h"

#define SIG_PREFIX "\xE2\x80\x94 "

int tzd_cosign_init(tzd_cosign *c, const tz_public_key *log_key, const char *origin,
                    const tz_public_key *witnesses, size_t n, tz_err *err)
{
    if (c == NULL || log_key == NULL || origin == NULL || (witnesses == NULL && n > 0))
        return tz_err_set(err, TZ_ERR_USAGE, "tzd_cosign_init: NULL argument");
    if (n > TZ_WITNESS_MAX)
        return tz_err_set(err, TZ_ERR_USAGE, "--witness: at most %d witnesses", TZ_WITNESS_MAX);
    if (strlen(origin) > TZ_ORIGIN_MAX)
        return tz_err_set(err, TZ_ERR_USAGE, "origin: longer than %d bytes", TZ_ORIGIN_MAX);
    memset(c, 0, sizeof *c);
    c->log_key = *log_key;
    memcpy(c->origin, origin, strlen(origin) + 1);
    for (size_t i = 0; i < n; i++) {
        int repeat = 0;
        for (size_t j = 0; j < c->nwitnesses; j++)
            repeat |= strcmp(c->witnesses[j].name, witnesses[i].name) == 0 &&
                      tz_hash_equal(c->witnesses[j].pk, witnesses[i].pk, 32);
        if (!repeat)
            c->witnesses[c->nwitnesses++] = witnesses[i];
    }
    pthread_mutex_init(&c->lock, NULL);
    return TZ_OK;
}

void tzd_cosign_destroy(tzd_cosign *c)
{
    if (c == NULL)
        return;
    free(c->text);
    c->text = NULL;
    pthread_mutex_destroy(&c->lock);
}

/* Writes signature line s of a parsed note back to its text form. The
 * parser accepts one spelling per line (canonical base64), so this is the
 * line exactly as posted. */
static int format_line(char out[TZD_COSIG_LINE_MAX], const tz_note_sig *s)
{
    uint8_t raw[4 + sizeof s->sig];
    char b64[4 * ((sizeof raw + 2) / 3) + 1];
    raw[0] = (uint8_t)(s->key_id >> 24), raw[1] = (uint8_t)(s->key_id >> 16);
    raw[2] = (uint8_t)(s->key_id >> 8), raw[3] = (uint8_t)s->key_id;
    memcpy(raw + 4, s->sig, s->sig_len);
    if (tz_base64_encode(b64, sizeof b64, raw, 4 + s->sig_len) == NULL)
        return -1;
    int n = snprintf(out, TZD_COSIG_LINE_MAX, SIG_PREFIX "%s %s\n", s->name, b64);
    return n > 0 && n < TZD_COSIG_LINE_MAX ? 0 : -1;
}

/* Checks that the note is a checkpoint this log issued (see the top of the
 * file). 0, or -1 after filling out with the error. */
static int check_issued(tzd_cosign *c, tzd_head *head, const tz_note *note, tz_checkpoint *cp, tzd_reply *out)
{
    tz_err e;
    if (tz_checkpoint_parse(cp, note->text, note->text_len, &e) != TZ_OK) {
        tzd_reply_error(out, 400, "input", "%s", e.msg);
        return -1;
    }
    char *body = NULL;
    size_t body_len = 0;
    if (tz_checkpoint_format(&body, &body_len, cp, &e) != TZ_OK) {
        tzd_reply_status(out, e.code, e.msg);
        return -1;
    }
    int same_text = body_len == note->text_len && memcmp(body, note->text, body_len) == 0;
    free(body);
    if (strcmp(cp->origin, c->origin) != 0 || !same_text) {
        tzd_reply_error(out, 409, "conflict", "checkpoint: origin \"%.64s\" size %" PRIu64 " is not a checkpoint "
                        "this log (%s) issued: other origin or extra lines", cp->origin, cp->size, c->origin);
        return -1;
    }
    tzd_snapshot *snap = tzd_head_acquire(head);
    if (snap == NULL) {
        tzd_reply_error(out, 503, "starting", "no snapshot published yet");
        return -1;
    }
    uint8_t root[32];
    int rc = TZ_OK;
    uint64_t size = snap->size;
    if (cp->size <= size)
        rc = tz_merkle_root(root, cp->size, tz_ledger_read_node, snap->store, &e);
    tzd_head_release(head, snap);
    if (cp->size > size) {
        tzd_reply_error(out, 409, "conflict", "checkpoint: size %" PRIu64 " is beyond this log's size %" PRIu64
                        ": not a checkpoint this log issued (a fork?)", cp->size, size);
        return -1;
    }
    if (rc != TZ_OK) {
        tzd_reply_status(out, e.code == TZ_ERR_NOTFOUND ? TZ_ERR_TAMPER : e.code, e.msg);
        return -1;
    }
    if (!tz_hash_equal(root, cp->root, 32)) {
        tzd_reply_error(out, 409, "conflict", "checkpoint: size %" PRIu64 " has another root than this log's tree "
                        "at that size: not a checkpoint this log issued (a fork)", cp->size);
        return -1;
    }
    if (tz_note_verify(note, &c->log_key, &e) != TZ_OK) {
        tzd_reply_error(out, 409, "conflict", "checkpoint: the log's signature: %s", e.msg);
        return -1;
    }
    return 0;
}

/* What a post brings: per configured witness, its line (or ""). */
typedef struct posted {
    char log_line[TZD_COSIG_LINE_MAX];
    char lines[TZ_WITNESS_MAX][TZD_COSIG_LINE_MAX];
    uint64_t times[TZ_WITNESS_MAX];
    size_t count;
} posted;

/* Sorts every signature line: the log's (kept), or a valid cosignature of
 * a configured witness; anything else refuses the whole post (401). */
static int check_lines(tzd_cosign *c, const tz_note *note, posted *p, tzd_reply *out)
{
    for (size_t i = 0; i < note->nsigs; i++) {
        const tz_note_sig *s = &note->sigs[i];
        char line[TZD_COSIG_LINE_MAX];
        if (format_line(line, s) != 0) {
            tzd_reply_error(out, 400, "input", "signature line %zu: too long", i + 1);
            return -1;
        }
        if (s->key_id == c->log_key.id && strcmp(s->name, c->log_key.name) == 0) {
            memcpy(p->log_line, line, sizeof line); /* verified by check_issued */
            continue;
        }
        size_t w;
        int rc = TZ_ERR_NOTFOUND;
        uint64_t t = 0;
        tz_err e;
        for (w = 0; w < c->nwitnesses; w++)
            if ((rc = tz_witness_verify_line(note, i, &c->witnesses[w], &t, &e)) != TZ_ERR_NOTFOUND)
                break;
        if (rc == TZ_ERR_NOTFOUND) {
            tzd_reply_error(out, 401, "signature", "signature line %zu (%s+%08" PRIx32 "): not a cosignature of a "
                            "witness this daemon trusts (--witness)", i + 1, s->name, s->key_id);
            return -1;
        }
        if (rc != TZ_OK) {
            tzd_reply_error(out, rc == TZ_ERR_PROOF ? 401 : tzd_http_status(rc),
                            rc == TZ_ERR_PROOF ? "signature" : tz_status_name(rc), "%s", e.msg);
            return -1;
        }
        if (p->lines[w][0] == '\0' || t > p->times[w]) {
            p->count += p->lines[w][0] == '\0';
            memcpy(p->lines[w], line, sizeof line);
            p->times[w] = t;
        }
    }
    if (p->count == 0) {
        tzd_reply_error(out, 400, "input", "the note carries no witness cosignature");
        return -1;
    }
    return 0;
}

/* Under c->lock: merges the post into the collection (or starts a new one
 * for a larger size). Returns 1 when stored, 0 when stale, -1 out of memory. */
static int merge(tzd_cosign *c, const tz_checkpoint *cp, const tz_note *note, const posted *p)
{
    if (c->have && cp->size < c->size)
        return 0;
    if (!c->have || cp->size > c->size) {
        char *text = malloc(note->text_len);
        if (text == NULL)
            return -1;
        memcpy(text, note->text, note->text_len);
        free(c->text);
        c->text = text;
        c->text_len = note->text_len;
        c->size = cp->size;
        c->have = 1;
        memcpy(c->log_line, p->log_line, sizeof c->log_line);
        memset(c->lines, 0, sizeof c->lines);
        memset(c->times, 0, sizeof c->times);
    }
    for (size_t w = 0; w < c->nwitnesses; w++) {
        if (p->lines[w][0] != '\0' && (c->lines[w][0] == '\0' || p->times[w] >= c->times[w])) {
            memcpy(c->lines[w], p->lines[w], sizeof c->lines[w]);
            c->times[w] = p->times[w];
        }
    }
    return 1;
}

void tzd_cosign_post(tzd_cosign *c, tzd_head *head, const uint8_t *body, size_t len, tzd_reply *out)
{
    if (c->nwitnesses == 0) {
        tzd_reply_error(out, 404, "notfound", "this daemon collects no cosignatures: start it with --witness "
                        "FILE.pub");
        return;
    }
    tz_note *note = malloc(sizeof *note);
    posted *p = calloc(1, sizeof *p);
    tz_checkpoint cp;
    tz_err e;
    if (note == NULL || p == NULL) {
        tzd_reply_error(out, 503, "nomem", "out of memory");
        goto done;
    }
    if (tz_note_parse(note, (const char *)body, len, &e) != TZ_OK) {
        tzd_reply_error(out, 400, "input", "body: %s", e.msg);
        goto done;
    }
    if (check_issued(c, head, note, &cp, out) != 0 || check_lines(c, note, p, out) != 0)
        goto done;
    pthread_mutex_lock(&c->lock);
    int stored = merge(c, &cp, note, p);
    size_t collected = 0;
    for (size_t w = 0; stored == 1 && w < c->nwitnesses; w++)
        collected += c->lines[w][0] != '\0';
    uint64_t newest = c->size;
    pthread_mutex_unlock(&c->lock);
    if (stored < 0) {
        tzd_reply_error(out, 503, "nomem", "out of memory");
        goto done;
    }
    json_t *names = json_array();
    for (size_t w = 0; names != NULL && w < c->nwitnesses; w++)
        if (p->lines[w][0] != '\0')
            json_array_append_new(names, json_string(c->witnesses[w].name));
    json_t *doc = json_pack("{s:I,s:b,s:o}", "size", (json_int_t)cp.size, "stored", stored, "witnesses", names);
    if (doc != NULL && stored)
        json_object_set_new(doc, "cosignatures", json_integer((json_int_t)collected));
    if (doc != NULL && !stored)
        json_object_set_new(doc, "newest", json_integer((json_int_t)newest));
    tzd_reply_json(out, 200, doc);
done:
    free(note);
    free(p);
}

void tzd_cosign_get(tzd_cosign *c, const char *query, tzd_reply *out)
{
    if (query != NULL && query[0] != '\0') {
        tzd_reply_error(out, 400, "input", "query string: /v1/checkpoint/cosigned takes no parameter");
        return;
    }
    if (c->nwitnesses == 0) {
        tzd_reply_error(out, 404, "notfound", "this daemon collects no cosignatures: start it with --witness "
                        "FILE.pub");
        return;
    }
    pthread_mutex_lock(&c->lock);
    if (!c->have) {
        pthread_mutex_unlock(&c->lock);
        tzd_reply_error(out, 404, "notfound", "no witness has cosigned a checkpoint yet (POST "
                        "/v1/checkpoint/cosign)");
        return;
    }
    size_t total = c->text_len + 1 + strlen(c->log_line);
    for (size_t w = 0; w < c->nwitnesses; w++)
        total += strlen(c->lines[w]);
    char *note = malloc(total + 1);
    if (note != NULL) {
        char *p = note;
        memcpy(p, c->text, c->text_len), p += c->text_len;
        *p++ = '\n';
        p = stpcpy(p, c->log_line);
        for (size_t w = 0; w < c->nwitnesses; w++)
            p = stpcpy(p, c->lines[w]);
    }
    pthread_mutex_unlock(&c->lock);
    if (note == NULL) {
        tzd_reply_error(out, 503, "nomem", "out of memory");
        return;
    }
    tzd_reply_clear(out);
    *out = (tzd_reply){200, "text/plain; charset=utf-8", note, total};
}
