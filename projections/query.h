/*
 * query.h: the questions people ask of the projections (docs/PROJECTIONS.md
 * §3), answered as the ledger stood at one seq.
 *
 * Every query reads the versioned view documents (projections/view.h) as of
 * q->as_of, never anything written later, and returns a NEW JSON document:
 *   {"query": NAME, "as_of": SEQ, "rows": [...], "findings": [...], ...}
 * rows are the view documents (each with its "seq" and "explain") plus the
 * ids of its subject ("person", "month", "village" ...); "findings" lists
 * every finding of the rows, each with the ids it is about, and the
 * findings computed here against the profile in force (coverage of a
 * village's team, capped grades). A finding is {"code", "text", "clause"?}
 * where clause reads "<profile> <clause>" (e.g. "shiquan-2021 §12").
 *
 * Computed at query time, from the documents and the profile in force
 * (tz_domain_profile_at, only adoptions at or before as_of):
 *   roster       "on_leave" on the reference day; coverage per village
 *                against the profile's team rules;
 *   term         terms cut short, with the recall reason and its clause, or
 *                without a recall (ended early by a handover);
 *   eligibility  days stationed in the year, eligible (more than half the
 *                year where the profile says so), the highest grade allowed
 *                and why (each reason with its clause and its seqs);
 *   allowance    sums of the sheets' allowance_fen (integer fen).
 *
 * Errors: TZ_ERR_USAGE for a missing filter (e.g. leave without a person),
 * TZ_ERR_NOTFOUND when no profile was in force for a computation that
 * needs one, TZ_ERR_IO / TZ_ERR_NOMEM from the store. *out is NULL then.
 */
#ifndef TZ_PROJECTIONS_QUERY_H
#define TZ_PROJECTIONS_QUERY_H

#include <jansson.h>
#include <stdint.h>

#include "ledger/store.h"
#include "util/status.h"

/* q->day: take the reference day from the as_of entry's recorded_at. */
#define TZ_QUERY_DAY_OF_AS_OF INT64_MIN

typedef struct tz_query {
    tz_store *store;
    uint64_t as_of;          /* a seq of the log (resolved: tz_view_parse_as_of) */
    int64_t day;             /* reference day (days since 1970-01-01) for "now"
                              * questions (on leave, active): usually
                              * TZ_QUERY_DAY_OF_AS_OF, the China-time date on
                              * which entry as_of was recorded */
    const char *village;     /* filters; NULL: any */
    const char *township;
    const char *person;
    const char *unit;
    int year;                /* 0: any */
    int month;               /* 1..12 (with year); 0: the whole year */
} tz_query;

/* A tz_query with store and as_of set, day TZ_QUERY_DAY_OF_AS_OF, no filter. */
void tz_query_init(tz_query *q, tz_store *store, uint64_t as_of);

/* roster: view roster (village, dispatch), filters village | township |
 * unit | person; each row gets "on_leave" (and "leave", the request) for
 * the reference day; "coverage" lists each village in scope with its
 * active and handing-over members per mission role; findings
 * "coverage_short" per village and team rule. */
int tz_query_roster(const tz_query *q, json_t **out, tz_err *err) TZ_MUST_CHECK;

/* attendance: view attendance (person, month); person, or village |
 * township; year / month. Findings of the sheets (under_min_days, late,
 * unsigned). */
int tz_query_attendance(const tz_query *q, json_t **out, tz_err *err) TZ_MUST_CHECK;

/* leave: view leave (person, request); person required. */
int tz_query_leave(const tz_query *q, json_t **out, tz_err *err) TZ_MUST_CHECK;

/* absences: view absence (person, year); person required, year optional.
 * Findings "absences" (the count) and "absence_consequence" (each
 * consequence reached, with the profile's further consequences). */
int tz_query_absences(const tz_query *q, json_t **out, tz_err *err) TZ_MUST_CHECK;

/* handover: view handover (village, handover); village | township or all. */
int tz_query_handover(const tz_query *q, json_t **out, tz_err *err) TZ_MUST_CHECK;

/* term: view term (person, dispatch); person, or village | township | unit.
 * Findings "cut_short" (recalled, with the reason's clause) and
 * "cut_short_without_reason". */
int tz_query_term(const tz_query *q, json_t **out, tz_err *err) TZ_MUST_CHECK;

/* recall: views recall (person, dispatch) and unit_recalls (unit, year);
 * person | unit, year optional. "units" holds the unit_recalls rows. */
int tz_query_recall(const tz_query *q, json_t **out, tz_err *err) TZ_MUST_CHECK;

/* grade: view grade (person, year); person required, year optional. */
int tz_query_grade(const tz_query *q, json_t **out, tz_err *err) TZ_MUST_CHECK;

/* eligibility: year required; person | village | township optional. One
 * row per cadre with a term overlapping the year. */
int tz_query_eligibility(const tz_query *q, json_t **out, tz_err *err) TZ_MUST_CHECK;

/* allowance: person, or village | township; year / month. Rows per sheet,
 * "totals" per person, "total_fen" and "total_days". */
int tz_query_allowance(const tz_query *q, json_t **out, tz_err *err) TZ_MUST_CHECK;

/* Runs the query named name ("roster", "attendance", "leave", "absences",
 * "handover", "term", "recall", "grade", "eligibility", "allowance").
 * TZ_ERR_USAGE for another name; TZ_ERR_INPUT, before anything is read,
 * when a filter (village, township, person, unit) is empty, longer than
 * TZ_STATEMENT_ID_MAX bytes, not UTF-8 or holds a NUL ("person: 129 bytes
 * (at most 128)"). */
int tz_query_run(const char *name, const tz_query *q, json_t **out, tz_err *err) TZ_MUST_CHECK;

/* diff: every view document changed by the entries (from, to] (from < to),
 * grouped by view and subject: {"view", "subject": [ids], "seqs": [the
 * entries that wrote it], "change": "added" | "updated" | "removed",
 * "fields": [top-level members that differ], "before", "after"} (before as
 * of from, after as of to; null when there was none). */
int tz_query_diff(tz_store *store, uint64_t from, uint64_t to, json_t **out,
                  tz_err *err) TZ_MUST_CHECK;

/* Expands, in place, every "explain" array of seqs found anywhere in doc
 * into a sibling "explained": [{"seq", "type", "id", "at", "recorded_at",
 * "signers": [key names]}]. */
int tz_query_explain(tz_store *store, json_t *doc, tz_err *err) TZ_MUST_CHECK;

/* The China-time (UTC+8) date of entry seq's recorded_at. */
int tz_query_day_of_seq(tz_store *store, uint64_t seq, int64_t *day, tz_err *err) TZ_MUST_CHECK;

#endif
