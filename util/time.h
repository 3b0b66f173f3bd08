/*
 * time.h: the two time forms of the ledger.
 *  - `at` in statements: RFC 3339 as the actor wrote it, restricted to one
 *    spelling: YYYY-MM-DDTHH:MM:SS followed by Z or +HH:MM / -HH:MM, upper
 *    case T and Z, no fractional seconds, no leap second (see docs/FORMAT.md);
 *  - `recorded_at` in entries: microseconds since 1970-01-01T00:00:00Z,
 *    rendered in JSON as RFC 3339 UTC with six fractional digits.
 */
#ifndef TZ_UTIL_TIME_H
#define TZ_UTIL_TIME_H

#include <stddef.h>
#include <stdint.h>

#include "util/status.h"

#define TZ_TIME_RFC3339_MAX 40 /* room for any rendering below, with NUL */

/* Parses s[0..len) in the restricted RFC 3339 form above. On TZ_OK,
 * *unix_seconds is the instant (UTC) and *offset_minutes the written offset
 * (either may be NULL). TZ_ERR_INPUT naming field and the rule otherwise. */
int tz_time_parse_rfc3339(const char *s, size_t len, const char *field,
                          int64_t *unix_seconds, int *offset_minutes, tz_err *err) TZ_MUST_CHECK;

/* Parses a calendar date YYYY-MM-DD; *days = days since 1970-01-01. */
int tz_time_parse_date(const char *s, size_t len, const char *field, int64_t *days,
                       tz_err *err) TZ_MUST_CHECK;

/* Renders microseconds since the epoch as "2026-11-22T15:48:07.123456Z". */
void tz_time_format_micros(char out[TZ_TIME_RFC3339_MAX], uint64_t micros);

/* The wall clock in microseconds since the epoch (or the simulated clock
 * set with tz_time_set_clock). */
uint64_t tz_time_now_micros(void);

/* Replaces the wall clock for this process with clock(ctx) (NULL restores
 * it). Only the scenario generator (`taizhang demo`, benchmarks) does this,
 * to record two simulated years with recorded_at in step with the story:
 * the ledger still refuses a clock that runs backwards. Not thread-safe:
 * set it before any ledger is opened. */
void tz_time_set_clock(uint64_t (*clock)(void *ctx), void *ctx);

/* Renders days since 1970-01-01 as "YYYY-MM-DD" (out holds 11 bytes). */
void tz_time_format_date(char out[11], int64_t days);

/* The calendar date of days since 1970-01-01. */
void tz_time_civil_from_days(int64_t days, int *year, unsigned *month, unsigned *day);

/* The year of days since 1970-01-01. */
int tz_time_year_of(int64_t days);

/* The same month and day `years` years later (29 February becomes 1 March
 * in a year without it), as days since 1970-01-01. */
int64_t tz_time_add_years(int64_t days, int years);

/* 28..31 for a valid month, 0 otherwise. */
unsigned tz_time_days_in_month(int year, unsigned month);

/* Days since 1970-01-01 for a proleptic Gregorian date (no validation). */
int64_t tz_time_days_from_civil(int64_t y, unsigned m, unsigned d);

#endif
