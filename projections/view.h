/*
 * view.h: projections, stored as versions so that any moment can be asked.
 *
 * A projection is a set of small documents, one per subject (a cadre-month
 * of attendance, one leave, one dispatch in a village's roster ...). The
 * decide step writes a new VERSION of a document in the same batch as the
 * entry that changes it, keyed by that entry's seq; old versions are never
 * overwritten. So:
 *   - the current answer is the newest version of each subject;
 *   - the answer "as the ledger stood at seq S" is, per subject, the newest
 *     version with seq <= S: one seek, no replay (a dispute review asks
 *     this);
 *   - the answer never mixes moments: a query fixes S first and ignores
 *     every later version, even while a writer commits beside it;
 *   - what changed between A and B, and which entry changed it, is read
 *     from a change index ordered by seq.
 *
 * Keys in the projections column family:
 *   "v" \0 VIEW \0 SUBJECT \0 ~seq (8 bytes, big-endian, bitwise NOT)
 *        -> canonical map: the document, with "seq" (the entry that wrote
 *           this version) and "explain" (the seqs of every entry that
 *           produced its figures, ascending); {"seq", "removed": true}
 *           withdraws the subject from that seq on
 *   "c" \0 seq (8 bytes BE) \0 VIEW \0 SUBJECT  -> {"seq"}: the change index
 *   "s" \0 KIND \0 ID \0 seq (8 bytes BE) -> {"seq"}: the subject index, the
 *        entries that concern person or village ID (KIND "person" or
 *        "village"), in seq order
 * SUBJECT is one or more ids joined by \0 (ids never contain \0). The
 * bitwise NOT makes newer versions sort first, so a forward seek to
 * SUBJECT \0 ~S lands on the newest version <= S.
 *
 * Everything here is derived: the verifier replays the log into a scratch
 * store and compares this column family record by record, and `taizhang
 * reproject` rebuilds it from the entries alone, byte for byte.
 */
#ifndef TZ_PROJECTIONS_VIEW_H
#define TZ_PROJECTIONS_VIEW_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "ledger/store.h"
#include "util/status.h"

#define TZ_VIEW_AS_OF_NOW UINT64_MAX
#define TZ_VIEW_KEY_MAX 600

/* Adds a version of VIEW/subject at seq to batch: doc (not consumed) gets
 * "seq"; its "explain" array, if any, is sorted and deduplicated. Also
 * adds the change-index record. TZ_ERR_INPUT when doc does not encode
 * canonically, TZ_ERR_USAGE for a key over TZ_VIEW_KEY_MAX. */
int tz_view_put(tz_store_batch *batch, const char *view, const char *subject, size_t subject_len,
                uint64_t seq, json_t *doc, tz_err *err) TZ_MUST_CHECK;

/* Adds a removal version (the subject has no document from seq on). */
int tz_view_remove(tz_store_batch *batch, const char *view, const char *subject,
                   size_t subject_len, uint64_t seq, tz_err *err) TZ_MUST_CHECK;

/* The document of VIEW/subject as of seq as_of (TZ_VIEW_AS_OF_NOW: the
 * newest). *out is a new reference. TZ_ERR_NOTFOUND when there is none or
 * it was removed by then. */
int tz_view_get(tz_store *store, const char *view, const char *subject, size_t subject_len,
                uint64_t as_of, json_t **out, tz_err *err) TZ_MUST_CHECK;

/* Calls fn for every subject of VIEW whose key starts with prefix (ids
 * joined by \0; prefix_len 0: all), in key order, with its document as of
 * as_of (removed subjects are skipped). fn returns 0 to go on, non-zero to
 * stop (returned as is). The subject passed to fn is not NUL-terminated
 * beyond subject_len. Errors of the scan: TZ_ERR_IO. */
typedef int (*tz_view_fn)(void *ctx, const char *subject, size_t subject_len, json_t *doc);
int tz_view_list(tz_store *store, const char *view, const char *prefix, size_t prefix_len,
                 uint64_t as_of, tz_view_fn fn, void *ctx, tz_err *err) TZ_MUST_CHECK;

/* Calls fn for every change in seqs (from, to] in seq order: the view,
 * subject and the seq of the entry that wrote the version. */
typedef int (*tz_view_change_fn)(void *ctx, uint64_t seq, const char *view, const char *subject,
                                 size_t subject_len);
int tz_view_changes(tz_store *store, uint64_t from, uint64_t to, tz_view_change_fn fn, void *ctx,
                    tz_err *err) TZ_MUST_CHECK;

/* Adds "entry seq concerns KIND/ID" to the subject index (the decide step
 * calls it for the persons and the village of each entry it accepts). */
int tz_view_subject_put(tz_store_batch *batch, const char *kind, const char *id, uint64_t seq,
                        tz_err *err) TZ_MUST_CHECK;

/* Calls fn for every seq in [from, to] that concerns KIND/ID, ascending;
 * fn returns 0 to go on, non-zero to stop (returned as is). */
typedef int (*tz_view_seq_fn)(void *ctx, uint64_t seq);
int tz_view_subject_scan(tz_store *store, const char *kind, const char *id, uint64_t from,
                         uint64_t to, tz_view_seq_fn fn, void *ctx, tz_err *err) TZ_MUST_CHECK;

/* *yes = 1 when entry seq concerns KIND/ID. */
int tz_view_subject_has(tz_store *store, const char *kind, const char *id, uint64_t seq,
                        int *yes, tz_err *err) TZ_MUST_CHECK;

/* The last seq recorded on or before the end of day (China time, UTC+8):
 * what "as of 2025-03-31" means. Binary search over the entries' recorded_at
 * (O(log n) reads). TZ_ERR_NOTFOUND when the log starts after that day. */
int tz_view_seq_at_day(tz_store *store, uint64_t size, int64_t day, uint64_t *seq,
                       tz_err *err) TZ_MUST_CHECK;

/* Parses an --as-of argument: a seq (digits) or a date YYYY-MM-DD, against
 * a log of size entries. TZ_ERR_INPUT when it is neither, TZ_ERR_NOTFOUND
 * for a seq beyond the log or a date before it. */
int tz_view_parse_as_of(tz_store *store, uint64_t size, const char *arg, uint64_t *seq,
                        tz_err *err) TZ_MUST_CHECK;

/* Joins ids into a subject: a \0 b \0 c. Returns its length, or 0 when it
 * does not fit in cap. */
size_t tz_view_subject(char *out, size_t cap, const char *a, const char *b, const char *c);

#endif
