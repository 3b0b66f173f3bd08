/*
 * scenario.h: a deterministic county ledger, for the demo, the tests and
 * the benchmarks.
 *
 * tz_scenario_generate builds a new ledger holding two years of the records
 * of a county's stationed cadres, as the offices would write them: the
 * registries (units, villages, people), the office keys, the policy profile
 * and the working-day calendar, then the story month by month: dispatches
 * (选派), attendance sheets signed by the township party secretary and
 * co-signed by the village party secretary (双签字, some after the 28th:
 * late), leave requested, approved or refused at the profile's tier and
 * closed by a return (请销假), spot checks of at least the profile's share
 * of stationed cadres a month by the township party committee or the
 * inspector, absences without reason (a few cadres found absent three times
 * and recalled), rotations with a handover of at least the profile's working
 * days (counted with the calendar, e.g. over Spring Festival), a recall for
 * health, a leave of more than 30 days followed by a recall, a 不称职 grade
 * followed by a recall, replacements dispatched after each recall, and the
 * annual assessments (考核) within the absence caps.
 *
 * Everything is derived from the options: the keys from the seed
 * (seed_i = SHA-256(label || seed || key label)), the names, the story,
 * and the time. The ledger runs on a simulated clock (tz_time_set_clock)
 * so that each entry's recorded_at follows the story (the statement's `at`
 * plus a few minutes, never decreasing): the same options always give the
 * same entries, byte for byte, and so the same root.
 *
 * Every statement goes through the real decide step (tz_ledger_append).
 * The generator plans only what the rules allow; a rejected statement is a
 * generator bug and stops the run with the rejection's message, never
 * skipped.
 *
 * The county is 石泉县 style: id "shiquan", townships of 石泉县 first (城关镇
 * "chengguan", ...), Chinese names generated from syllable tables, ASCII
 * ids. The offices a profile may name that the scenario models:
 * county_org_dept, rural_revitalisation_bureau, inspector,
 * township_party_committee, township_party_secretary,
 * village_party_secretary, dispatching_unit and cadre. A profile that
 * needs another office (e.g. guizhou-2018's city org dept) is refused with
 * TZ_ERR_USAGE before anything is written.
 */
#ifndef TZ_SCENARIO_SCENARIO_H
#define TZ_SCENARIO_SCENARIO_H

#include <stddef.h>
#include <stdint.h>

#include "util/status.h"

#define TZ_SCENARIO_MAX_MONTHS 24   /* one term: every cadre dispatched at the start stays */
#define TZ_SCENARIO_MAX_VILLAGES 5000
#define TZ_SCENARIO_MAX_TYPES 24

typedef struct tz_scenario_options {
    uint64_t seed;              /* any value; the demo's default is 1 */
    int townships;              /* 0: 6, or villages / 6 when villages is set */
    int villages_per_township;  /* 0: 6 */
    int villages;               /* the scale knob: total villages, spread over the
                                 * townships (0: townships * villages_per_township);
                                 * units and cadres grow with it */
    int months;                 /* length of the story, 1..24 (0: 24) */
    int start_year;             /* first month of the story (0: 2024-01) */
    int start_month;
    const char *profile_path;   /* required: profiles/shiquan-2021.json */
    const char *calendar_path;  /* required: cn-workday-calendar.json; must
                                 * cover every year of the story */
    const char *keys_dir;       /* NULL: no key files. Else created if missing
                                 * (0700) and must be empty: every office and
                                 * cadre key is written there (KEY and KEY.pub,
                                 * crypto/keyfile.h) with an index, keys.tsv */
    const char *origin;         /* NULL: "taizhang.example/shiquan-demo" */
    int group;                  /* submissions per group commit (0: 256) */
    /* Called after each group commit; may be NULL. */
    void (*progress)(void *ctx, uint64_t done, uint64_t total);
    void *progress_ctx;
} tz_scenario_options;

/* Entries of one statement type. type points to a static string. */
typedef struct tz_scenario_count {
    const char *type;
    uint64_t count;
} tz_scenario_count;

typedef struct tz_scenario_stats {
    uint64_t entries;           /* in the ledger, genesis included */
    uint64_t signatures;        /* over all entries */
    size_t ntypes;
    tz_scenario_count by_type[TZ_SCENARIO_MAX_TYPES]; /* in order of first appearance */
    uint32_t townships, villages, units;
    uint32_t people;            /* registered persons (staff of the units) */
    uint32_t cadres;            /* persons dispatched at some point */
    uint32_t never_dispatched;  /* temporary, seconded or service staff */
    uint32_t short_villages;    /* villages sent fewer team members than the profile asks */
    uint64_t sheets, late_sheets;       /* attendance sheets; completed after the due date */
    uint64_t sheets_under_min;          /* fewer than the profile's days in the village */
    uint64_t spot_checks, absences;     /* absences without reason found by spot checks */
    uint32_t cadres_absent[4];          /* cadres found absent 0, 1, 2, 3+ times in a year
                                         * (summed over the years) */
    uint64_t leaves, leaves_refused, leave_returns;
    uint32_t recalls;
    uint32_t recalls_third_absence, recalls_health, recalls_leave, recalls_incompetent;
    uint32_t handovers;         /* completed */
    uint32_t replacements;      /* dispatched after a recall */
    uint32_t assessments;
    char first_month[8], last_month[8];    /* "2024-01", the story's first and last month */
    uint8_t root[32];           /* the final root */
    double elapsed_s;           /* wall time of the whole call */
    double append_s;            /* of it, time inside tz_ledger_append */
    int rejected;               /* 1 when the run stopped on a rejected statement */
} tz_scenario_stats;

/* Fills *opt with the defaults (the README demo), profile and calendar
 * paths NULL. */
void tz_scenario_defaults(tz_scenario_options *opt);

/* Builds the scenario into dir, which must not exist or be empty (it is
 * created, as by tz_ledger_create). stats (may be NULL) is filled on
 * success and, as far as it got, on failure.
 * Errors: TZ_ERR_USAGE (NULL dir or paths, options out of range, a
 * non-empty keys_dir, a profile naming an office the scenario does not
 * model), TZ_ERR_IO / TZ_ERR_INPUT (profile or calendar unreadable or
 * malformed: err names the file; the calendar lacks a year the story
 * needs), TZ_ERR_NOMEM, TZ_ERR_IO from the ledger; and, with
 * stats->rejected = 1, the status of the first statement the decide step
 * rejected (TZ_ERR_RULE, TZ_ERR_FORBIDDEN, ...) with its message, prefixed
 * by the statement's type and id: a bug of the generator. The entries
 * appended before a failure stay in dir. The wall clock is restored
 * (tz_time_set_clock(NULL, NULL)) before returning, on every path. Not
 * thread-safe (the clock is process-wide). */
int tz_scenario_generate(const char *dir, const tz_scenario_options *opt,
                         tz_scenario_stats *stats, tz_err *err) TZ_MUST_CHECK;

/* The count of entries of type in stats (0 when none). */
uint64_t tz_scenario_count_of(const tz_scenario_stats *stats, const char *type);

#endif
