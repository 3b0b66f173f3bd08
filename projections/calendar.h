/*
 * calendar.h: the PRC working-day calendar (工作日), as adopted on the chain.
 *
 * Working days follow the State Council General Office notice of each year
 * (国务院办公厅关于部分节假日安排的通知): a date is a working day when the
 * notice lists it as a weekend working day (调休上班), or when it is Monday
 * to Friday and inside none of the notice's holiday ranges. A notice may
 * reach across New Year (the 2023 notice's 元旦 runs 2022-12-31..2023-01-02),
 * so the ranges of year Y+1's notice are consulted for dates of year Y too,
 * when Y+1 is adopted.
 *
 * A `calendar.adopt` entry embeds one or more years in the form of
 * shared/data/cn-workday-calendar.json ("years": {"2024": {"notice",
 * "holidays": [[from, to, name]...], "working_weekend_days": [...]}}).
 * Asking about a date whose year has no adopted notice is an error
 * (TZ_ERR_RULE naming the year), never a guess from weekdays.
 *
 * Dates are days since 1970-01-01 (tz_time_parse_date).
 */
#ifndef TZ_PROJECTIONS_CALENDAR_H
#define TZ_PROJECTIONS_CALENDAR_H

#include <msgpack.h>
#include <stddef.h>
#include <stdint.h>

#include "util/status.h"

#define TZ_CALENDAR_MAX_HOLIDAYS 32   /* ranges in one year's notice */
#define TZ_CALENDAR_MAX_WORKDAYS 32   /* weekend working days in one year */
#define TZ_CALENDAR_MAX_YEARS 16      /* years one tz_calendar holds */
#define TZ_CALENDAR_NOTICE_MAX 96

typedef struct tz_calendar_range {
    int64_t from, to;                 /* inclusive */
    char name[48];                    /* "春节" (UTF-8, may be cut) */
} tz_calendar_range;

typedef struct tz_calendar_year {
    int year;
    char notice[TZ_CALENDAR_NOTICE_MAX];
    size_t nholidays;
    tz_calendar_range holidays[TZ_CALENDAR_MAX_HOLIDAYS];
    size_t nworking;
    int64_t working[TZ_CALENDAR_MAX_WORKDAYS]; /* ascending */
} tz_calendar_year;

typedef struct tz_calendar {
    size_t nyears;
    tz_calendar_year years[TZ_CALENDAR_MAX_YEARS]; /* ascending year, distinct */
} tz_calendar;

/* Parses one year's notice (the value under "years"/"YYYY") from msgpack.
 * Rules, each refused with the path and the rule: members exactly notice
 * (string), holidays (array of [from, to, name], from <= to, from and to
 * within year-1..year+1, the range touching the year), working_weekend_days
 * (array of dates of that year, each a Saturday or Sunday, none inside a
 * holiday range, no duplicates). TZ_ERR_INPUT. */
int tz_calendar_year_parse(tz_calendar_year *out, int year, const msgpack_object *obj,
                           const char *path, tz_err *err) TZ_MUST_CHECK;

/* Parses a whole calendar document {"about"?: str, "years": {...}} from
 * msgpack into cal (replacing its contents): at least one year, years
 * 1900..9999 as 4-digit keys. TZ_ERR_INPUT. */
int tz_calendar_parse(tz_calendar *cal, const msgpack_object *obj, tz_err *err) TZ_MUST_CHECK;

/* Reads a calendar JSON file (shared/data/cn-workday-calendar.json) into
 * cal. TZ_ERR_IO when unreadable, TZ_ERR_INPUT when malformed. */
int tz_calendar_load_file(tz_calendar *cal, const char *path, tz_err *err) TZ_MUST_CHECK;

/* Adds (or replaces) one year in cal, keeping years ascending.
 * TZ_ERR_USAGE when cal is full. */
int tz_calendar_put_year(tz_calendar *cal, const tz_calendar_year *year, tz_err *err) TZ_MUST_CHECK;

/* The year record of cal for year, or NULL. */
const tz_calendar_year *tz_calendar_find(const tz_calendar *cal, int year);

/* *working = 1 when day is a working day. TZ_ERR_RULE ("calendar: no
 * working-day calendar adopted for 2027") when day's year is not in cal.
 * For a day of year Y the holiday ranges of the adopted notices of Y-1, Y
 * and Y+1 are consulted (a range may reach one year either way); only Y's
 * notice lists its weekend working days. tz_calendar_parse refuses a
 * weekend working day that lies in a neighbouring notice's range. */
int tz_calendar_is_working(const tz_calendar *cal, int64_t day, int *working,
                           tz_err *err) TZ_MUST_CHECK;

/* Counts the working days in [from, to] (both inclusive; 0 when from > to).
 * Every year touched must be in cal (TZ_ERR_RULE otherwise). */
int tz_calendar_count_working(const tz_calendar *cal, int64_t from, int64_t to, int64_t *count,
                              tz_err *err) TZ_MUST_CHECK;

/* The day on which the n-th working day counted from `from` (inclusive)
 * falls: n = 1 gives the first working day >= from. TZ_ERR_RULE when the
 * count runs into a year not in cal. */
int tz_calendar_add_working(const tz_calendar *cal, int64_t from, int64_t n, int64_t *day,
                            tz_err *err) TZ_MUST_CHECK;

/* 0 = Monday .. 6 = Sunday. */
int tz_calendar_weekday(int64_t day);

#endif
