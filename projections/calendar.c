/*
 * calendar.c: the PRC working-day calendar (see calendar.h for the rule).
 *
 * Parsing is strict and bounded: every count is checked against the fixed
 * arrays before an element is read, and every rejection names the JSON path
 * and the rule. Queries are pure arithmetic on days since 1970-01-01: a
 * single day is decided directly (weekday, the year's weekend working days
 * by binary search, the holiday ranges of the notices of Y-1, Y and Y+1);
 * counting fills one byte per day of each year touched once and sums it,
 * so a range of a few years costs a few thousand steps. Years run
 * 1900..9999, the years a 4-digit key and tz_time_parse_date can name.
 */
#include "projections/calendar.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "ledger/codec.h"
#include "util/time.h"

#define YEAR_MIN 1900
#define YEAR_MAX 9999
#define KEY_SHOW 64 /* bytes of an unknown member's name shown in messages */

static const char *const weekday_names[7] = {
    "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday",
};

int tz_calendar_weekday(int64_t day)
{
    /* 1970-01-01 (day 0) was a Thursday (3); day % 7 is in -6..6. */
    return (int)((day % 7 + 10) % 7);
}

static int64_t year_start(int64_t y)
{
    return tz_time_days_from_civil(y, 1, 1);
}

/* The year of day, or 0 when day lies outside YEAR_MIN..YEAR_MAX. */
static int year_of(int64_t day)
{
    if (day < year_start(YEAR_MIN) || day >= year_start(YEAR_MAX + 1))
        return 0;
    int64_t y = YEAR_MIN + (day - year_start(YEAR_MIN)) / 366; /* never past the real year */
    while (year_start(y + 1) <= day)
        y++;
    return (int)y;
}

/* Renders day as YYYY-MM-DD (day within YEAR_MIN..YEAR_MAX). */
static void format_date(char out[11], int64_t day)
{
    int y = year_of(day);
    unsigned m = 12;
    while (m > 1 && tz_time_days_from_civil(y, m, 1) > day)
        m--;
    unsigned d = (unsigned)(day - tz_time_days_from_civil(y, m, 1)) + 1;
    snprintf(out, 11, "%04u-%02u-%02u", (unsigned)y % 10000u, m % 100u, d % 100u);
}

/* ---- parsing ------------------------------------------------------------- */

static int str_has_nul(const msgpack_object *o)
{
    return o->via.str.size > 0 && memchr(o->via.str.ptr, '\0', o->via.str.size) != NULL;
}

/* Copies a str into dst, cut at a UTF-8 character boundary to fit cap. */
static void copy_utf8(char *dst, size_t cap, const char *src, size_t len)
{
    if (len >= cap) {
        len = cap - 1;
        while (len > 0 && ((unsigned char)src[len] & 0xC0) == 0x80)
            len--;
    }
    memcpy(dst, src, len);
    dst[len] = '\0';
}

/* Reports the first member of map whose name is not in allowed[0..n), or
 * the second occurrence of an allowed one. */
static int check_members(const msgpack_object *map, const char *path, const char *const *allowed,
                         size_t n, const char *expected, tz_err *err)
{
    unsigned seen = 0;
    for (uint32_t i = 0; i < map->via.map.size; i++) {
        const msgpack_object *k = &map->via.map.ptr[i].key;
        if (k->type != MSGPACK_OBJECT_STR)
            return tz_err_set(err, TZ_ERR_INPUT, "%s: member names must be strings", path);
        size_t j;
        for (j = 0; j < n; j++)
            if (tz_codec_str_eq(k, allowed[j]))
                break;
        if (j == n)
            return tz_err_set(err, TZ_ERR_INPUT, "%s.%.*s: unknown member (%s)", path,
                              (int)(k->via.str.size > KEY_SHOW ? KEY_SHOW : k->via.str.size),
                              k->via.str.ptr, expected);
        if (seen & (1u << j))
            return tz_err_set(err, TZ_ERR_INPUT, "%s.%s: member given twice", path, allowed[j]);
        seen |= 1u << j;
    }
    return TZ_OK;
}

/* Parses the date string o; field names it in messages. */
static int parse_date(const msgpack_object *o, const char *field, int64_t *day, tz_err *err)
{
    if (o->type != MSGPACK_OBJECT_STR)
        return tz_err_set(err, TZ_ERR_INPUT, "%s: must be a date string YYYY-MM-DD", field);
    return tz_time_parse_date(o->via.str.ptr, o->via.str.size, field, day, err);
}

static int parse_holiday(tz_calendar_range *r, int year, const msgpack_object *item,
                         const char *path, size_t i, tz_err *err)
{
    char field[256];
    if (item->type != MSGPACK_OBJECT_ARRAY || item->via.array.size != 3)
        return tz_err_set(err, TZ_ERR_INPUT, "%s.holidays[%zu]: must be an array [from, to, name]",
                          path, i);
    const msgpack_object *v = item->via.array.ptr;
    int rc;
    snprintf(field, sizeof field, "%s.holidays[%zu][0]", path, i);
    if ((rc = parse_date(&v[0], field, &r->from, err)) != TZ_OK)
        return rc;
    snprintf(field, sizeof field, "%s.holidays[%zu][1]", path, i);
    if ((rc = parse_date(&v[1], field, &r->to, err)) != TZ_OK)
        return rc;
    if (v[2].type != MSGPACK_OBJECT_STR || v[2].via.str.size == 0 || str_has_nul(&v[2]))
        return tz_err_set(err, TZ_ERR_INPUT,
                          "%s.holidays[%zu][2]: the holiday's name must be a non-empty string "
                          "without NUL", path, i);
    copy_utf8(r->name, sizeof r->name, v[2].via.str.ptr, v[2].via.str.size);
    char from[11], to[11];
    format_date(from, r->from);
    format_date(to, r->to);
    if (r->from > r->to)
        return tz_err_set(err, TZ_ERR_INPUT, "%s.holidays[%zu]: from %s is after to %s", path, i,
                          from, to);
    if (r->from < year_start(year - 1) || r->to >= year_start(year + 2))
        return tz_err_set(err, TZ_ERR_INPUT,
                          "%s.holidays[%zu]: %s..%s reaches beyond %d..%d (a notice names "
                          "dates of its year and the years next to it only)",
                          path, i, from, to, year - 1, year + 1);
    if (r->to < year_start(year) || r->from >= year_start(year + 1))
        return tz_err_set(err, TZ_ERR_INPUT,
                          "%s.holidays[%zu]: %s..%s has no day in %d (a notice's ranges must "
                          "touch its year)", path, i, from, to, year);
    return TZ_OK;
}

static int parse_working_day(tz_calendar_year *y, const msgpack_object *item, const char *path,
                             size_t i, tz_err *err)
{
    char field[256];
    int64_t day;
    snprintf(field, sizeof field, "%s.working_weekend_days[%zu]", path, i);
    int rc = parse_date(item, field, &day, err);
    if (rc != TZ_OK)
        return rc;
    char s[11];
    format_date(s, day);
    if (year_of(day) != y->year)
        return tz_err_set(err, TZ_ERR_INPUT, "%s: %s is not in %d (a notice lists the working "
                          "days of its own year)", field, s, y->year);
    int wd = tz_calendar_weekday(day);
    if (wd < 5)
        return tz_err_set(err, TZ_ERR_INPUT, "%s: %s is a %s; only a Saturday or Sunday can be a "
                          "weekend working day", field, s, weekday_names[wd]);
    for (size_t k = 0; k < y->nholidays; k++) {
        const tz_calendar_range *r = &y->holidays[k];
        if (day >= r->from && day <= r->to)
            return tz_err_set(err, TZ_ERR_INPUT, "%s: %s lies inside holidays[%zu] (%s); a day "
                              "cannot be both a holiday and a working day", field, s, k, r->name);
    }
    for (size_t k = 0; k < y->nworking; k++)
        if (y->working[k] == day)
            return tz_err_set(err, TZ_ERR_INPUT, "%s: %s is listed twice (as [%zu] too)", field,
                              s, k);
    y->working[y->nworking++] = day;
    return TZ_OK;
}

static int cmp_day(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

int tz_calendar_year_parse(tz_calendar_year *out, int year, const msgpack_object *obj,
                           const char *path, tz_err *err)
{
    static const char *const members[] = {"holidays", "notice", "working_weekend_days"};
    char own_path[32];
    if (out == NULL || obj == NULL)
        return tz_err_set(err, TZ_ERR_USAGE, "tz_calendar_year_parse: out and obj are required");
    if (year < YEAR_MIN || year > YEAR_MAX)
        return tz_err_set(err, TZ_ERR_USAGE, "tz_calendar_year_parse: year %d not in %d..%d",
                          year, YEAR_MIN, YEAR_MAX);
    if (path == NULL) {
        snprintf(own_path, sizeof own_path, "calendar.years.%d", year);
        path = own_path;
    }
    if (obj->type != MSGPACK_OBJECT_MAP)
        return tz_err_set(err, TZ_ERR_INPUT, "%s: a year's notice must be a map (object)", path);
    int rc = check_members(obj, path, members, 3,
                           "a year has exactly notice, holidays and working_weekend_days", err);
    if (rc != TZ_OK)
        return rc;
    for (size_t j = 0; j < 3; j++)
        if (tz_codec_map_get(obj, members[j]) == NULL)
            return tz_err_set(err, TZ_ERR_INPUT, "%s.%s: missing", path, members[j]);

    tz_calendar_year y;
    memset(&y, 0, sizeof y);
    y.year = year;

    const msgpack_object *notice = tz_codec_map_get(obj, "notice");
    if (notice->type != MSGPACK_OBJECT_STR || notice->via.str.size == 0 ||
        notice->via.str.size >= TZ_CALENDAR_NOTICE_MAX || str_has_nul(notice))
        return tz_err_set(err, TZ_ERR_INPUT, "%s.notice: must be a string of 1..%d bytes "
                          "without NUL", path, TZ_CALENDAR_NOTICE_MAX - 1);
    memcpy(y.notice, notice->via.str.ptr, notice->via.str.size);

    const msgpack_object *hol = tz_codec_map_get(obj, "holidays");
    if (hol->type != MSGPACK_OBJECT_ARRAY)
        return tz_err_set(err, TZ_ERR_INPUT, "%s.holidays: must be an array of [from, to, name]",
                          path);
    if (hol->via.array.size > TZ_CALENDAR_MAX_HOLIDAYS)
        return tz_err_set(err, TZ_ERR_INPUT, "%s.holidays: %u ranges, at most %d allowed", path,
                          hol->via.array.size, TZ_CALENDAR_MAX_HOLIDAYS);
    for (size_t i = 0; i < hol->via.array.size; i++) {
        tz_calendar_range *r = &y.holidays[i];
        if ((rc = parse_holiday(r, year, &hol->via.array.ptr[i], path, i, err)) != TZ_OK)
            return rc;
        for (size_t k = 0; k < i; k++)
            if (r->from <= y.holidays[k].to && y.holidays[k].from <= r->to)
                return tz_err_set(err, TZ_ERR_INPUT, "%s.holidays[%zu]: overlaps holidays[%zu] "
                                  "(%s)", path, i, k, y.holidays[k].name);
        y.nholidays = i + 1;
    }

    const msgpack_object *wk = tz_codec_map_get(obj, "working_weekend_days");
    if (wk->type != MSGPACK_OBJECT_ARRAY)
        return tz_err_set(err, TZ_ERR_INPUT, "%s.working_weekend_days: must be an array of "
                          "dates", path);
    if (wk->via.array.size > TZ_CALENDAR_MAX_WORKDAYS)
        return tz_err_set(err, TZ_ERR_INPUT, "%s.working_weekend_days: %u days, at most %d "
                          "allowed", path, wk->via.array.size, TZ_CALENDAR_MAX_WORKDAYS);
    for (size_t i = 0; i < wk->via.array.size; i++)
        if ((rc = parse_working_day(&y, &wk->via.array.ptr[i], path, i, err)) != TZ_OK)
            return rc;
    qsort(y.working, y.nworking, sizeof y.working[0], cmp_day);

    *out = y;
    return TZ_OK;
}

/* Year keys: exactly 4 ASCII digits, YEAR_MIN..YEAR_MAX. Returns the year or 0. */
static int year_key(const msgpack_object *k)
{
    if (k->type != MSGPACK_OBJECT_STR || k->via.str.size != 4)
        return 0;
    int y = 0;
    for (size_t i = 0; i < 4; i++) {
        char c = k->via.str.ptr[i];
        if (c < '0' || c > '9')
            return 0;
        y = y * 10 + (c - '0');
    }
    return y >= YEAR_MIN && y <= YEAR_MAX ? y : 0;
}

/* A weekend working day of one notice inside a holiday range of the
 * neighbouring year's notice would make the two notices disagree. */
static int check_neighbours(const tz_calendar *cal, const msgpack_object *years, tz_err *err)
{
    for (uint32_t i = 0; i < years->via.map.size; i++) {
        int year = year_key(&years->via.map.ptr[i].key);
        const msgpack_object *wk =
            tz_codec_map_get(&years->via.map.ptr[i].val, "working_weekend_days");
        for (uint32_t j = 0; j < wk->via.array.size; j++) {
            const msgpack_object *s = &wk->via.array.ptr[j];
            int64_t day;
            if (tz_time_parse_date(s->via.str.ptr, s->via.str.size, "", &day, NULL) != TZ_OK)
                return tz_err_set(err, TZ_ERR_INTERNAL, "calendar: checked date unreadable");
            for (int other = year - 1; other <= year + 1; other += 2) {
                const tz_calendar_year *o = tz_calendar_find(cal, other);
                for (size_t k = 0; o != NULL && k < o->nholidays; k++)
                    if (day >= o->holidays[k].from && day <= o->holidays[k].to)
                        return tz_err_set(err, TZ_ERR_INPUT,
                                          "calendar.years.%d.working_weekend_days[%u]: %.10s lies "
                                          "inside calendar.years.%d.holidays[%zu] (%s); a day "
                                          "cannot be both a holiday and a working day",
                                          year, j, s->via.str.ptr, other, k, o->holidays[k].name);
            }
        }
    }
    return TZ_OK;
}

int tz_calendar_parse(tz_calendar *cal, const msgpack_object *obj, tz_err *err)
{
    static const char *const members[] = {"about", "years"};
    if (cal == NULL || obj == NULL)
        return tz_err_set(err, TZ_ERR_USAGE, "tz_calendar_parse: cal and obj are required");
    if (obj->type != MSGPACK_OBJECT_MAP)
        return tz_err_set(err, TZ_ERR_INPUT, "calendar: must be a map (object) with years");
    int rc = check_members(obj, "calendar", members, 2,
                           "a calendar has years and optionally about", err);
    if (rc != TZ_OK)
        return rc;
    const msgpack_object *about = tz_codec_map_get(obj, "about");
    if (about != NULL && about->type != MSGPACK_OBJECT_STR)
        return tz_err_set(err, TZ_ERR_INPUT, "calendar.about: must be a string");
    const msgpack_object *years = tz_codec_map_get(obj, "years");
    if (years == NULL)
        return tz_err_set(err, TZ_ERR_INPUT, "calendar.years: missing");
    if (years->type != MSGPACK_OBJECT_MAP)
        return tz_err_set(err, TZ_ERR_INPUT, "calendar.years: must be a map (object) of "
                          "\"YYYY\" to that year's notice");
    if (years->via.map.size == 0)
        return tz_err_set(err, TZ_ERR_INPUT, "calendar.years: at least one year is required");
    if (years->via.map.size > TZ_CALENDAR_MAX_YEARS)
        return tz_err_set(err, TZ_ERR_INPUT, "calendar.years: %u years, at most %d allowed",
                          years->via.map.size, TZ_CALENDAR_MAX_YEARS);

    tz_calendar *tmp = calloc(1, sizeof *tmp);
    tz_calendar_year *y = malloc(sizeof *y);
    if (tmp == NULL || y == NULL) {
        rc = tz_err_set(err, TZ_ERR_NOMEM, "calendar: out of memory");
        goto done;
    }
    for (uint32_t i = 0; i < years->via.map.size; i++) {
        const msgpack_object *k = &years->via.map.ptr[i].key;
        int year = year_key(k);
        if (year == 0) {
            if (k->type != MSGPACK_OBJECT_STR)
                rc = tz_err_set(err, TZ_ERR_INPUT, "calendar.years: year keys must be strings");
            else
                rc = tz_err_set(err, TZ_ERR_INPUT, "calendar.years.%.*s: a year key must be 4 "
                                "digits YYYY in %d..%d",
                                (int)(k->via.str.size > KEY_SHOW ? KEY_SHOW : k->via.str.size),
                                k->via.str.ptr, YEAR_MIN, YEAR_MAX);
            goto done;
        }
        if (tz_calendar_find(tmp, year) != NULL) {
            rc = tz_err_set(err, TZ_ERR_INPUT, "calendar.years.%d: year given twice", year);
            goto done;
        }
        char path[32];
        snprintf(path, sizeof path, "calendar.years.%d", year);
        if ((rc = tz_calendar_year_parse(y, year, &years->via.map.ptr[i].val, path, err)) != TZ_OK)
            goto done;
        if ((rc = tz_calendar_put_year(tmp, y, err)) != TZ_OK)
            goto done;
    }
    if ((rc = check_neighbours(tmp, years, err)) != TZ_OK)
        goto done;
    *cal = *tmp;
done:
    free(y);
    free(tmp);
    return rc;
}

int tz_calendar_load_file(tz_calendar *cal, const char *path, tz_err *err)
{
    if (cal == NULL || path == NULL)
        return tz_err_set(err, TZ_ERR_USAGE, "tz_calendar_load_file: cal and path are required");
    int rc;
    json_error_t jerr;
    msgpack_sbuffer sb;
    msgpack_zone zone;
    msgpack_sbuffer_init(&sb);
    int zone_ok = msgpack_zone_init(&zone, 4096);
    json_t *root = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
    if (root == NULL) {
        if (json_error_code(&jerr) == json_error_cannot_open_file)
            rc = tz_err_set(err, TZ_ERR_IO, "%s: %s", path, jerr.text);
        else
            rc = tz_err_set(err, TZ_ERR_INPUT, "%s: line %d column %d: %s", path, jerr.line,
                            jerr.column, jerr.text);
        goto done;
    }
    if (!zone_ok) {
        rc = tz_err_set(err, TZ_ERR_NOMEM, "%s: out of memory", path);
        goto done;
    }
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_object obj;
    if ((rc = tz_codec_from_json(&pk, root, "calendar", err)) != TZ_OK ||
        (rc = tz_codec_decode(&obj, &zone, (const uint8_t *)sb.data, sb.size, err)) != TZ_OK ||
        (rc = tz_calendar_parse(cal, &obj, err)) != TZ_OK)
        tz_err_prefix(err, "%s: ", path);
done:
    json_decref(root);
    if (zone_ok)
        msgpack_zone_destroy(&zone);
    msgpack_sbuffer_destroy(&sb);
    return rc;
}

/* ---- the calendar -------------------------------------------------------- */

const tz_calendar_year *tz_calendar_find(const tz_calendar *cal, int year)
{
    if (cal == NULL)
        return NULL;
    size_t lo = 0, hi = cal->nyears < TZ_CALENDAR_MAX_YEARS ? cal->nyears : TZ_CALENDAR_MAX_YEARS;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (cal->years[mid].year == year)
            return &cal->years[mid];
        if (cal->years[mid].year < year)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

int tz_calendar_put_year(tz_calendar *cal, const tz_calendar_year *year, tz_err *err)
{
    if (cal == NULL || year == NULL || cal->nyears > TZ_CALENDAR_MAX_YEARS)
        return tz_err_set(err, TZ_ERR_USAGE, "tz_calendar_put_year: cal and year are required");
    if (year->year < YEAR_MIN || year->year > YEAR_MAX ||
        year->nholidays > TZ_CALENDAR_MAX_HOLIDAYS || year->nworking > TZ_CALENDAR_MAX_WORKDAYS)
        return tz_err_set(err, TZ_ERR_USAGE, "tz_calendar_put_year: year %d is not a parsed "
                          "notice (year or counts out of range)", year->year);
    size_t i = 0;
    while (i < cal->nyears && cal->years[i].year < year->year)
        i++;
    if (i < cal->nyears && cal->years[i].year == year->year) {
        cal->years[i] = *year;
        return TZ_OK;
    }
    if (cal->nyears == TZ_CALENDAR_MAX_YEARS)
        return tz_err_set(err, TZ_ERR_USAGE, "calendar: full (%d years); cannot add %d",
                          TZ_CALENDAR_MAX_YEARS, year->year);
    memmove(&cal->years[i + 1], &cal->years[i], (cal->nyears - i) * sizeof cal->years[0]);
    cal->years[i] = *year;
    cal->nyears++;
    return TZ_OK;
}

/* The adopted record for day's year, or TZ_ERR_RULE naming the year. */
static int adopted_year(const tz_calendar *cal, int64_t day, const tz_calendar_year **out,
                        tz_err *err)
{
    int y = year_of(day);
    if (y == 0)
        return tz_err_set(err, TZ_ERR_RULE, "calendar: no working-day calendar adopted for day "
                          "%lld (outside the years %d..%d)", (long long)day, YEAR_MIN, YEAR_MAX);
    *out = tz_calendar_find(cal, y);
    if (*out == NULL)
        return tz_err_set(err, TZ_ERR_RULE, "calendar: no working-day calendar adopted for %d", y);
    return TZ_OK;
}

/* Whether day, of the adopted year yr, is a working day. */
static int day_is_working(const tz_calendar *cal, const tz_calendar_year *yr, int64_t day)
{
    const int64_t *w = bsearch(&day, yr->working, yr->nworking, sizeof yr->working[0], cmp_day);
    if (w != NULL)
        return 1;
    if (tz_calendar_weekday(day) >= 5)
        return 0;
    for (int y = yr->year - 1; y <= yr->year + 1; y++) {
        const tz_calendar_year *n = tz_calendar_find(cal, y);
        for (size_t k = 0; n != NULL && k < n->nholidays; k++)
            if (day >= n->holidays[k].from && day <= n->holidays[k].to)
                return 0;
    }
    return 1;
}

/* Fills work[0..n) (n = the length of yr's year) with 1 for working days;
 * the same rule as day_is_working, range by range. Returns n. */
static size_t fill_year(const tz_calendar *cal, const tz_calendar_year *yr, uint8_t work[366])
{
    int64_t start = year_start(yr->year);
    size_t n = (size_t)(year_start(yr->year + 1) - start);
    int wd = tz_calendar_weekday(start);
    for (size_t i = 0; i < n; i++)
        work[i] = (wd + i) % 7 < 5;
    for (int y = yr->year - 1; y <= yr->year + 1; y++) {
        const tz_calendar_year *o = tz_calendar_find(cal, y);
        for (size_t k = 0; o != NULL && k < o->nholidays; k++) {
            int64_t from = o->holidays[k].from - start, to = o->holidays[k].to - start;
            if (from < 0)
                from = 0;
            if (to > (int64_t)n - 1)
                to = (int64_t)n - 1;
            for (int64_t d = from; d <= to; d++)
                work[d] = 0;
        }
    }
    for (size_t k = 0; k < yr->nworking; k++)
        if (yr->working[k] >= start && yr->working[k] - start < (int64_t)n)
            work[yr->working[k] - start] = 1;
    return n;
}

int tz_calendar_is_working(const tz_calendar *cal, int64_t day, int *working, tz_err *err)
{
    if (cal == NULL || working == NULL)
        return tz_err_set(err, TZ_ERR_USAGE, "tz_calendar_is_working: cal and working are "
                          "required");
    const tz_calendar_year *yr;
    int rc = adopted_year(cal, day, &yr, err);
    if (rc != TZ_OK)
        return rc;
    *working = day_is_working(cal, yr, day);
    return TZ_OK;
}

int tz_calendar_count_working(const tz_calendar *cal, int64_t from, int64_t to, int64_t *count,
                              tz_err *err)
{
    if (cal == NULL || count == NULL)
        return tz_err_set(err, TZ_ERR_USAGE, "tz_calendar_count_working: cal and count are "
                          "required");
    if (from > to) {
        *count = 0;
        return TZ_OK;
    }
    /* Every year touched must be adopted: at most TZ_CALENDAR_MAX_YEARS + 1
     * steps before one is missing. */
    const tz_calendar_year *yr;
    int rc = adopted_year(cal, from, &yr, err);
    if (rc != TZ_OK)
        return rc;
    const tz_calendar_year *last;
    if ((rc = adopted_year(cal, to, &last, err)) != TZ_OK)
        return rc;
    for (int y = yr->year + 1; y < last->year; y++)
        if (tz_calendar_find(cal, y) == NULL)
            return tz_err_set(err, TZ_ERR_RULE, "calendar: no working-day calendar adopted for %d",
                              y);
    int64_t total = 0;
    uint8_t work[366];
    for (int y = yr->year; y <= last->year; y++) {
        int64_t start = year_start(y);
        size_t n = fill_year(cal, tz_calendar_find(cal, y), work);
        int64_t a = from > start ? from - start : 0;
        int64_t b = to - start < (int64_t)n - 1 ? to - start : (int64_t)n - 1;
        for (int64_t d = a; d <= b; d++)
            total += work[d];
    }
    *count = total;
    return TZ_OK;
}

int tz_calendar_add_working(const tz_calendar *cal, int64_t from, int64_t n, int64_t *day,
                            tz_err *err)
{
    if (cal == NULL || day == NULL || n < 1)
        return tz_err_set(err, TZ_ERR_USAGE, "tz_calendar_add_working: cal and day are "
                          "required and n must be at least 1 (is %lld)", (long long)n);
    const tz_calendar_year *yr;
    int rc = adopted_year(cal, from, &yr, err);
    if (rc != TZ_OK)
        return rc;
    uint8_t work[366];
    for (int y = yr->year;; y++) {
        /* Each pass consumes one adopted year; at most TZ_CALENDAR_MAX_YEARS. */
        if (y > YEAR_MAX || (yr = tz_calendar_find(cal, y)) == NULL)
            return tz_err_set(err, TZ_ERR_RULE, "calendar: no working-day calendar adopted for %d",
                              y);
        int64_t start = year_start(y);
        size_t len = fill_year(cal, yr, work);
        for (int64_t d = from > start ? from - start : 0; d < (int64_t)len; d++)
            if (work[d] && --n == 0) {
                *day = start + d;
                return TZ_OK;
            }
    }
}
