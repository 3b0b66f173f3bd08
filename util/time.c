/*
 * time.c: strict RFC 3339 parsing and rendering without the C library's
 * locale- and time-zone-dependent functions: the arithmetic is the
 * days-from-civil algorithm (H. Hinnant), exact for every proleptic
 * Gregorian date, so replays give the same answer on every machine.
 */
#include "util/time.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

int64_t tz_time_days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    const int64_t era = (y >= 0 ? y : y - 399) / 400;
    const unsigned yoe = (unsigned)(y - era * 400);
    const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
    z += 719468;
    const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    const unsigned doe = (unsigned)(z - era * 146097);
    const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    const unsigned mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = (int64_t)yoe + era * 400 + (*m <= 2);
}

static int digits(const char *s, size_t n, unsigned *out)
{
    unsigned v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (unsigned)(s[i] - '0');
    }
    *out = v;
    return 0;
}

static unsigned days_in_month(unsigned y, unsigned m)
{
    static const unsigned dm[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
        return 29;
    return dm[m - 1];
}

int tz_time_parse_date(const char *s, size_t len, const char *field, int64_t *days, tz_err *err)
{
    unsigned y, m, d;
    if (len != 10 || s[4] != '-' || s[7] != '-' || digits(s, 4, &y) || digits(s + 5, 2, &m) ||
        digits(s + 8, 2, &d))
        return tz_err_set(err, TZ_ERR_INPUT, "%s: \"%.*s\" is not a date YYYY-MM-DD", field,
                          (int)(len > 40 ? 40 : len), s);
    if (y < 1900 || m < 1 || m > 12 || d < 1 || d > days_in_month(y, m))
        return tz_err_set(err, TZ_ERR_INPUT, "%s: \"%.*s\" is not a valid calendar date", field,
                          (int)len, s);
    *days = tz_time_days_from_civil(y, m, d);
    return TZ_OK;
}

int tz_time_parse_rfc3339(const char *s, size_t len, const char *field,
                          int64_t *unix_seconds, int *offset_minutes, tz_err *err)
{
    /* 2024-03-01T08:00:00Z (20) or 2024-03-01T08:00:00+08:00 (25) */
    unsigned hh, mi, ss, oh = 0, om = 0;
    int64_t days;
    int sign = 0;
    if (len < 20 || s[10] != 'T' || s[13] != ':' || s[16] != ':')
        goto bad;
    if (tz_time_parse_date(s, 10, field, &days, err) != TZ_OK)
        return TZ_ERR_INPUT; /* the date's own message says what is wrong */
    if (digits(s + 11, 2, &hh) || digits(s + 14, 2, &mi) || digits(s + 17, 2, &ss))
        goto bad;
    if (len == 20 && s[19] == 'Z') {
        sign = 0;
    } else if (len == 25 && (s[19] == '+' || s[19] == '-') && s[22] == ':' &&
               !digits(s + 20, 2, &oh) && !digits(s + 23, 2, &om)) {
        sign = s[19] == '+' ? 1 : -1;
    } else {
        goto bad;
    }
    if (hh > 23 || mi > 59 || ss > 59 || oh > 23 || om > 59)
        return tz_err_set(err, TZ_ERR_INPUT, "%s: \"%.*s\" has an hour, minute, second or offset "
                          "out of range", field, (int)len, s);
    if (sign < 0 && oh == 0 && om == 0)
        return tz_err_set(err, TZ_ERR_INPUT, "%s: \"%.*s\": offset -00:00 means \"unknown local "
                          "offset\" in RFC 3339; write Z or the real offset", field, (int)len, s);
    int offset = sign * (int)(oh * 60 + om);
    if (unix_seconds != NULL)
        *unix_seconds = days * 86400 + hh * 3600 + mi * 60 + ss - (int64_t)offset * 60;
    if (offset_minutes != NULL)
        *offset_minutes = offset;
    return TZ_OK;
bad:
    return tz_err_set(err, TZ_ERR_INPUT,
                      "%s: \"%.*s\" is not RFC 3339 in the form YYYY-MM-DDTHH:MM:SS followed by Z "
                      "or +HH:MM (upper-case T and Z, no fractional seconds)",
                      field, (int)(len > 40 ? 40 : len), s);
}

void tz_time_format_micros(char out[TZ_TIME_RFC3339_MAX], uint64_t micros)
{
    int64_t secs = (int64_t)(micros / 1000000);
    unsigned frac = (unsigned)(micros % 1000000);
    int64_t days = secs / 86400;
    int64_t rem = secs % 86400;
    int64_t y;
    unsigned m, d;
    civil_from_days(days, &y, &m, &d);
    snprintf(out, TZ_TIME_RFC3339_MAX, "%04d-%02u-%02uT%02u:%02u:%02u.%06uZ", (int)y, m,
             d, (unsigned)(rem / 3600), (unsigned)(rem / 60 % 60), (unsigned)(rem % 60), frac);
}

void tz_time_format_date(char out[11], int64_t days)
{
    int64_t y;
    unsigned m, d;
    char buf[48];
    civil_from_days(days, &y, &m, &d);
    snprintf(buf, sizeof buf, "%04lld-%02u-%02u", (long long)y, m, d);
    memcpy(out, buf, 10);
    out[10] = '\0';
}

void tz_time_civil_from_days(int64_t days, int *year, unsigned *month, unsigned *day)
{
    int64_t y;
    civil_from_days(days, &y, month, day);
    *year = (int)y;
}

int tz_time_year_of(int64_t days)
{
    int64_t y;
    unsigned m, d;
    civil_from_days(days, &y, &m, &d);
    return (int)y;
}

int64_t tz_time_add_years(int64_t days, int years)
{
    int64_t y;
    unsigned m, d;
    civil_from_days(days, &y, &m, &d);
    if (m == 2 && d == 29 && tz_time_days_in_month((int)y + years, 2) == 28)
        return tz_time_days_from_civil(y + years, 3, 1);
    return tz_time_days_from_civil(y + years, m, d);
}

unsigned tz_time_days_in_month(int year, unsigned month)
{
    static const unsigned len[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (month == 2 && ((year % 4 == 0 && year % 100 != 0) || year % 400 == 0))
        return 29;
    return month >= 1 && month <= 12 ? len[month - 1] : 0;
}

/* The override for simulated time (tz_time_set_clock), or NULL. */
static uint64_t (*clock_override)(void *);
static void *clock_override_ctx;

void tz_time_set_clock(uint64_t (*clock)(void *ctx), void *ctx)
{
    clock_override = clock;
    clock_override_ctx = ctx;
}

uint64_t tz_time_now_micros(void)
{
    if (clock_override != NULL)
        return clock_override(clock_override_ctx);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}
