/*
 * fuzz_time.c: the time forms of the ledger (util/time.h): `at` in every
 * statement (RFC 3339 in one spelling), calendar dates in bodies, profiles
 * and calendars, and the rendering of recorded_at.
 *
 * Properties, against a naive parser written here from docs/FORMAT.md
 * §1.2 (fixed positions, ranges checked one by one, days counted year by
 * year):
 *  - tz_time_parse_rfc3339 accepts exactly what the naive parser accepts,
 *    with the same instant and offset, and refuses with TZ_ERR_INPUT;
 *  - tz_time_parse_date likewise for YYYY-MM-DD, and tz_time_format_date
 *    writes the same date back;
 *  - tz_time_format_micros of any 64-bit value stays inside its buffer,
 *    and for years up to 9999 its seconds parse back to the same instant.
 */
#include <stdio.h>
#include <string.h>

#include "fuzz/fuzz.h"
#include "util/time.h"

static int digits(const uint8_t *s, size_t n, int *v)
{
    *v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return 0;
        *v = *v * 10 + (s[i] - '0');
    }
    return 1;
}

static int leap(int y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int month_days(int y, int m)
{
    static const int days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && leap(y) ? 29 : days[m - 1];
}

/* Days from 1970-01-01, counted year by year and month by month. */
static int64_t naive_days(int y, int m, int d)
{
    int64_t days = 0;
    for (int k = 1970; k < y; k++)
        days += leap(k) ? 366 : 365;
    for (int k = y; k < 1970; k++)
        days -= leap(k) ? 366 : 365;
    for (int k = 1; k < m; k++)
        days += month_days(y, k);
    return days + d - 1;
}

static int naive_date(const uint8_t *s, size_t len, int64_t *days)
{
    int y, m, d;
    if (len != 10 || s[4] != '-' || s[7] != '-' || !digits(s, 4, &y) || !digits(s + 5, 2, &m) ||
        !digits(s + 8, 2, &d))
        return 0;
    if (y < 1900 || m < 1 || m > 12 || d < 1 || d > month_days(y, m))
        return 0;
    *days = naive_days(y, m, d);
    return 1;
}

static int naive_rfc3339(const uint8_t *s, size_t len, int64_t *unix_seconds, int *offset)
{
    int64_t days;
    int hh, mm, ss;
    if ((len != 20 && len != 25) || !naive_date(s, 10, &days) || s[10] != 'T' || s[13] != ':' ||
        s[16] != ':' || !digits(s + 11, 2, &hh) || !digits(s + 14, 2, &mm) || !digits(s + 17, 2, &ss) ||
        hh > 23 || mm > 59 || ss > 59)
        return 0;
    *offset = 0;
    if (len == 20) {
        if (s[19] != 'Z')
            return 0;
    } else {
        int oh, om;
        if ((s[19] != '+' && s[19] != '-') || s[22] != ':' || !digits(s + 20, 2, &oh) ||
            !digits(s + 23, 2, &om) || oh > 23 || om > 59)
            return 0;
        if (s[19] == '-' && oh == 0 && om == 0)
            return 0; /* -00:00: "unknown local offset" */
        *offset = (s[19] == '-' ? -1 : 1) * (oh * 60 + om);
    }
    *unix_seconds = days * 86400 + hh * 3600 + mm * 60 + ss - (int64_t)*offset * 60;
    return 1;
}

static void check_rfc3339(const uint8_t *data, size_t size)
{
    int64_t unix_seconds = 0, want_seconds = 0;
    int offset = 0, want_offset = 0;
    tz_err err;
    int rc = tz_time_parse_rfc3339((const char *)data, size, "at", &unix_seconds, &offset, &err);
    int expected = naive_rfc3339(data, size, &want_seconds, &want_offset);
    TZ_FUZZ_CHECK_MSG((rc == TZ_OK) == expected, "parse_rfc3339 %d, naive %d: %.*s", rc, expected,
                      (int)(size < 40 ? size : 40), (const char *)data);
    if (rc == TZ_OK)
        TZ_FUZZ_CHECK(unix_seconds == want_seconds && offset == want_offset);
    else
        TZ_FUZZ_CHECK_ERROR(rc, &err, TZ_ERR_INPUT);
}

static void check_date(const uint8_t *data, size_t size)
{
    int64_t days = 0, want = 0;
    tz_err err;
    int rc = tz_time_parse_date((const char *)data, size, "date", &days, &err);
    int expected = naive_date(data, size, &want);
    TZ_FUZZ_CHECK_MSG((rc == TZ_OK) == expected, "parse_date %d, naive %d", rc, expected);
    if (rc != TZ_OK) {
        TZ_FUZZ_CHECK_ERROR(rc, &err, TZ_ERR_INPUT);
        return;
    }
    TZ_FUZZ_CHECK(days == want);
    char out[11];
    tz_time_format_date(out, days);
    TZ_FUZZ_CHECK(memcmp(out, data, 10) == 0 && out[10] == '\0');
}

static void check_format(const uint8_t *data, size_t size)
{
    tz_fuzz_reader r;
    tz_fuzz_reader_init(&r, data, size);
    uint64_t micros = tz_fuzz_u64(&r);
    char out[TZ_TIME_RFC3339_MAX + 8];
    memset(out, 'x', sizeof out);
    tz_time_format_micros(out, micros);
    size_t len = strnlen(out, TZ_TIME_RFC3339_MAX);
    TZ_FUZZ_CHECK(len < TZ_TIME_RFC3339_MAX);
    for (size_t i = TZ_TIME_RFC3339_MAX; i < sizeof out; i++)
        TZ_FUZZ_CHECK(out[i] == 'x');
    uint64_t secs = micros / 1000000;
    if (secs < (uint64_t)naive_days(10000, 1, 1) * 86400) {
        TZ_FUZZ_CHECK(len == 27 && out[19] == '.' && out[26] == 'Z');
        char whole[21];
        memcpy(whole, out, 19);
        whole[19] = 'Z';
        whole[20] = '\0';
        int64_t back = -1;
        TZ_FUZZ_CHECK(tz_time_parse_rfc3339(whole, 20, "recorded_at", &back, NULL, NULL) == TZ_OK);
        TZ_FUZZ_CHECK(back == (int64_t)secs);
        char frac[8];
        snprintf(frac, sizeof frac, "%06u", (unsigned)(micros % 1000000));
        TZ_FUZZ_CHECK(memcmp(out + 20, frac, 6) == 0);
    }
    /* Dates of any day in 1900..9999 render and parse back. */
    int64_t lo = naive_days(1900, 1, 1), hi = naive_days(9999, 12, 31);
    int64_t day = lo + (int64_t)(tz_fuzz_u64(&r) % (uint64_t)(hi - lo + 1));
    char date[11];
    tz_time_format_date(date, day);
    int64_t back = 0;
    TZ_FUZZ_CHECK(tz_time_parse_date(date, 10, "date", &back, NULL) == TZ_OK && back == day);
}

TZ_FUZZ_ENTRY(time)
{
    check_rfc3339(data, size);
    check_date(data, size);
    check_format(data, size);
    return 0;
}
