/*
 * fuzz_calendar.c: the working-day calendar (projections/calendar.h),
 * adopted from outside in `calendar.adopt` statements: JSON text ->
 * canonical msgpack -> tz_calendar_parse, then the day arithmetic the
 * domain rules run on it.
 *
 * Properties: a refusal is TZ_ERR_INPUT with a message. An accepted
 * calendar has 1..16 distinct years in ascending order, holiday ranges with
 * from <= to, ascending weekend working days, NUL-terminated strings; and
 * for every adopted year tz_calendar_is_working agrees day by day with a
 * naive reading of the rule (a listed weekend working day, or Monday to
 * Friday outside every holiday range of the notices of Y-1, Y and Y+1),
 * tz_calendar_count_working over each month and the whole year equals the
 * naive count, and tz_calendar_add_working lands on a working day that
 * makes the count come out right.
 */
#include <stdlib.h>
#include <string.h>

#include "fuzz/fuzz.h"
#include "projections/calendar.h"
#include "util/time.h"

static int naive_weekday(int64_t day)
{
    return (int)(((day % 7) + 7 + 3) % 7); /* 1970-01-01 was a Thursday; Monday = 0 */
}

/* 1 working, 0 not, -1 when day's year is not adopted. */
static int naive_is_working(const tz_calendar *cal, int64_t day)
{
    int year;
    unsigned month, mday;
    tz_time_civil_from_days(day, &year, &month, &mday);
    const tz_calendar_year *y = NULL;
    for (size_t i = 0; i < cal->nyears; i++)
        if (cal->years[i].year == year)
            y = &cal->years[i];
    if (y == NULL)
        return -1;
    for (size_t i = 0; i < y->nworking; i++)
        if (y->working[i] == day)
            return 1;
    for (size_t i = 0; i < cal->nyears; i++) {
        const tz_calendar_year *n = &cal->years[i];
        if (n->year < year - 1 || n->year > year + 1)
            continue;
        for (size_t h = 0; h < n->nholidays; h++)
            if (n->holidays[h].from <= day && day <= n->holidays[h].to)
                return 0;
    }
    return naive_weekday(day) < 5;
}

static void check_structure(const tz_calendar *cal)
{
    TZ_FUZZ_CHECK(cal->nyears >= 1 && cal->nyears <= TZ_CALENDAR_MAX_YEARS);
    for (size_t i = 0; i < cal->nyears; i++) {
        const tz_calendar_year *y = &cal->years[i];
        TZ_FUZZ_CHECK(y->year >= 1900 && y->year <= 9999);
        if (i > 0)
            TZ_FUZZ_CHECK(y->year > cal->years[i - 1].year);
        TZ_FUZZ_CHECK(tz_calendar_find(cal, y->year) == y);
        TZ_FUZZ_CHECK(memchr(y->notice, '\0', sizeof y->notice) != NULL);
        TZ_FUZZ_CHECK(y->nholidays <= TZ_CALENDAR_MAX_HOLIDAYS && y->nworking <= TZ_CALENDAR_MAX_WORKDAYS);
        for (size_t h = 0; h < y->nholidays; h++) {
            TZ_FUZZ_CHECK(y->holidays[h].from <= y->holidays[h].to);
            TZ_FUZZ_CHECK(memchr(y->holidays[h].name, '\0', sizeof y->holidays[h].name) != NULL);
        }
        for (size_t w = 0; w < y->nworking; w++) {
            TZ_FUZZ_CHECK(tz_time_year_of(y->working[w]) == y->year);
            TZ_FUZZ_CHECK(naive_weekday(y->working[w]) >= 5);
            if (w > 0)
                TZ_FUZZ_CHECK(y->working[w] > y->working[w - 1]);
        }
    }
}

static void check_days(const tz_calendar *cal)
{
    tz_err err;
    for (size_t i = 0; i < cal->nyears; i++) {
        int year = cal->years[i].year;
        int64_t first = tz_time_days_from_civil(year, 1, 1);
        int64_t last = tz_time_days_from_civil(year, 12, 31);
        int64_t year_count = 0, month_count = 0, month_start = first;
        for (int64_t d = first; d <= last; d++) {
            int working = -1;
            int rc = tz_calendar_is_working(cal, d, &working, &err);
            TZ_FUZZ_CHECK_MSG(rc == TZ_OK, "day %lld of adopted year %d: %s", (long long)d, year, err.msg);
            int expected = naive_is_working(cal, d);
            TZ_FUZZ_CHECK_MSG(working == expected, "day %lld: library %d, naive %d", (long long)d, working,
                              expected);
            year_count += working;
            month_count += working;
            int y;
            unsigned m, md;
            tz_time_civil_from_days(d + 1, &y, &m, &md);
            if (md == 1) { /* d ends a month */
                int64_t got = -1;
                rc = tz_calendar_count_working(cal, month_start, d, &got, &err);
                TZ_FUZZ_CHECK_MSG(rc == TZ_OK && got == month_count, "month ending %lld: %lld, naive %lld",
                                  (long long)d, (long long)got, (long long)month_count);
                /* The month_count-th working day from month_start. */
                if (month_count > 0) {
                    int64_t day = 0;
                    rc = tz_calendar_add_working(cal, month_start, month_count, &day, &err);
                    TZ_FUZZ_CHECK_MSG(rc == TZ_OK, "%s", err.msg);
                    TZ_FUZZ_CHECK(day >= month_start && day <= d && naive_is_working(cal, day) == 1);
                    int64_t n = -1;
                    TZ_FUZZ_CHECK(tz_calendar_count_working(cal, month_start, day, &n, NULL) == TZ_OK &&
                                  n == month_count);
                }
                month_start = d + 1;
                month_count = 0;
            }
        }
        int64_t got = -1;
        int rc = tz_calendar_count_working(cal, first, last, &got, &err);
        TZ_FUZZ_CHECK_MSG(rc == TZ_OK && got == year_count, "year %d: %lld, naive %lld", year, (long long)got,
                          (long long)year_count);
        TZ_FUZZ_CHECK(tz_calendar_count_working(cal, last, first, &got, NULL) == TZ_OK && got == 0);
        /* A year nobody adopted is an error, never a guess. */
        if (tz_calendar_find(cal, year + 1) == NULL) {
            int working;
            rc = tz_calendar_is_working(cal, last + 1, &working, &err);
            TZ_FUZZ_CHECK(rc == TZ_ERR_RULE);
        }
    }
}

TZ_FUZZ_ENTRY(calendar)
{
    tz_fuzz_doc doc;
    if (!tz_fuzz_doc_load(&doc, data, size, "calendar"))
        return 0;
    tz_calendar *cal = malloc(sizeof *cal);
    TZ_FUZZ_CHECK(cal != NULL);
    tz_err err;
    int rc = tz_calendar_parse(cal, &doc.obj, &err);
    if (rc != TZ_OK) {
        TZ_FUZZ_CHECK_ERROR(rc, &err, TZ_ERR_INPUT, TZ_ERR_NOMEM);
    } else {
        check_structure(cal);
        check_days(cal);
    }
    free(cal);
    tz_fuzz_doc_destroy(&doc);
    return 0;
}
