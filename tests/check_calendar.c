/*
 * check_calendar.c: the PRC working-day calendar (projections/calendar).
 * Exact working-day counts around the holidays of the adopted notices
 * (shared/data/cn-workday-calendar.json), deadlines counted in working
 * days, years without a notice refused, per-year totals, and a table of
 * malformed and hostile documents each refused with its JSON path.
 *
 * Expected figures were derived by hand from the data file (weekdays of a
 * span, minus holiday days that fall on Monday..Friday, plus the listed
 * weekend working days) and cross-checked with a throw-away python3 script
 * applying the same rule with datetime.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "ledger/codec.h"
#include "projections/calendar.h"
#include "tests/tz_test.h"
#include "util/time.h"

#define DATA_FILE TZ_SOURCE_DIR "/data/cn-workday-calendar.json"

/* ---- helpers ---- */

static int64_t D(const char *s)
{
    int64_t day;
    tz_err err;
    ck_assert_msg(tz_time_parse_date(s, strlen(s), "test", &day, &err) == TZ_OK, "%s", err.msg);
    return day;
}

static const tz_calendar *data_calendar(void)
{
    static tz_calendar cal;
    static int loaded;
    if (!loaded) {
        tz_err err;
        ck_assert_msg(tz_calendar_load_file(&cal, DATA_FILE, &err) == TZ_OK, "%s", err.msg);
        loaded = 1;
    }
    return &cal;
}

static int64_t count(const tz_calendar *cal, const char *from, const char *to)
{
    int64_t n = -1;
    tz_err err;
    ck_assert_msg(tz_calendar_count_working(cal, D(from), D(to), &n, &err) == TZ_OK, "%s..%s: %s",
                  from, to, err.msg);
    return n;
}

static int working(const tz_calendar *cal, const char *day)
{
    int w = -1;
    tz_err err;
    ck_assert_msg(tz_calendar_is_working(cal, D(day), &w, &err) == TZ_OK, "%s: %s", day, err.msg);
    return w;
}

static int64_t add(const tz_calendar *cal, const char *from, int64_t n)
{
    int64_t day = -1;
    tz_err err;
    ck_assert_msg(tz_calendar_add_working(cal, D(from), n, &day, &err) == TZ_OK, "%s + %lld: %s",
                  from, (long long)n, err.msg);
    return day;
}

/* Parses a JSON text written with ' for " (readable tables) through the
 * canonical codec into cal. Returns tz_calendar_parse's status. */
static int parse_doc(tz_calendar *cal, const char *squoted, tz_err *err)
{
    char *text = strdup(squoted);
    ck_assert_ptr_nonnull(text);
    for (char *p = text; *p; p++)
        if (*p == '\'')
            *p = '"';
    json_error_t jerr;
    json_t *js = json_loads(text, JSON_REJECT_DUPLICATES, &jerr);
    ck_assert_msg(js != NULL, "bad test JSON %s: %s", text, jerr.text);
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    ck_assert_msg(tz_codec_from_json(&pk, js, "calendar", err) == TZ_OK, "%s", err->msg);
    msgpack_zone zone;
    ck_assert(msgpack_zone_init(&zone, 2048));
    msgpack_object obj;
    ck_assert_msg(tz_codec_decode(&obj, &zone, (const uint8_t *)sb.data, sb.size, err) == TZ_OK,
                  "%s", err->msg);
    int rc = tz_calendar_parse(cal, &obj, err);
    msgpack_zone_destroy(&zone);
    msgpack_sbuffer_destroy(&sb);
    json_decref(js);
    free(text);
    return rc;
}

/* A small valid notice for 2024 (the Spring Festival part of the real one). */
#define Y2024 "{'notice':'n','holidays':[['2024-02-10','2024-02-17','春节']]," \
              "'working_weekend_days':['2024-02-04','2024-02-18']}"

/* ---- the data file ---- */

START_TEST(data_file_loads)
{
    const tz_calendar *cal = data_calendar();
    ck_assert_uint_eq(cal->nyears, 4);
    for (size_t i = 0; i < 4; i++)
        ck_assert_int_eq(cal->years[i].year, 2023 + (int)i);
    const tz_calendar_year *y = tz_calendar_find(cal, 2024);
    ck_assert_ptr_eq(y, &cal->years[1]);
    ck_assert_ptr_null(tz_calendar_find(cal, 2022));
    ck_assert_str_eq(y->notice, "国办发明电〔2023〕7号");
    ck_assert_uint_eq(y->nholidays, 7);
    ck_assert_uint_eq(y->nworking, 8);
    ck_assert_str_eq(y->holidays[1].name, "春节");
    ck_assert_int_eq(y->holidays[1].from, D("2024-02-10"));
    ck_assert_int_eq(y->holidays[1].to, D("2024-02-17"));
    for (size_t i = 1; i < y->nworking; i++)
        ck_assert_int_lt(y->working[i - 1], y->working[i]);
    /* The 2023 notice's 元旦 starts in 2022. */
    ck_assert_int_eq(cal->years[0].holidays[0].from, D("2022-12-31"));
}
END_TEST

START_TEST(weekday_anchor)
{
    ck_assert_int_eq(tz_calendar_weekday(0), 3);                 /* 1970-01-01 Thursday */
    ck_assert_int_eq(tz_calendar_weekday(-1), 2);                /* 1969-12-31 Wednesday */
    ck_assert_int_eq(tz_calendar_weekday(D("1900-01-01")), 0);   /* Monday */
    ck_assert_int_eq(tz_calendar_weekday(D("2024-02-04")), 6);   /* Sunday */
    ck_assert_int_eq(tz_calendar_weekday(D("2024-10-12")), 5);   /* Saturday */
    ck_assert_int_eq(tz_calendar_weekday(D("9999-12-31")), 4);   /* Friday */
}
END_TEST

/* ---- counts around the holidays ---- */

START_TEST(spring_festival_2024)
{
    const tz_calendar *cal = data_calendar();
    ck_assert_int_eq(working(cal, "2024-02-04"), 1); /* Sunday, 调休上班 */
    ck_assert_int_eq(working(cal, "2024-02-09"), 1); /* 除夕 was no holiday before 2025 */
    for (int d = 10; d <= 17; d++) {
        char s[24];
        snprintf(s, sizeof s, "2024-02-%02d", d);
        ck_assert_msg(working(cal, s) == 0, "%s", s);
    }
    ck_assert_int_eq(working(cal, "2024-02-18"), 1); /* Sunday, 调休上班 */
    ck_assert_int_eq(working(cal, "2024-02-24"), 0); /* ordinary Saturday */
    /* February 2024: 21 weekdays, minus 02-12..16 (5), plus 02-04 and 02-18. */
    ck_assert_int_eq(count(cal, "2024-02-01", "2024-02-29"), 18);
    ck_assert_int_eq(count(cal, "2024-02-10", "2024-02-17"), 0);
    /* 02-04, 02-05..09 (5), 02-18. */
    ck_assert_int_eq(count(cal, "2024-02-04", "2024-02-18"), 7);
}
END_TEST

START_TEST(spring_festival_2025_2026)
{
    const tz_calendar *cal = data_calendar();
    /* 2025-01-20..02-10: weekdays 01-20..24 (5), 01-27 (1), 02-05..07 (3),
     * 02-10 (1) = 10, plus Sunday 01-26 and Saturday 02-08. 01-28 (除夕)
     * through 02-04 is the holiday. */
    ck_assert_int_eq(working(cal, "2025-01-28"), 0);
    ck_assert_int_eq(count(cal, "2025-01-20", "2025-02-10"), 12);
    /* 2026-02-09..03-01: weekdays 02-09..13 (5), 02-24..27 (4) = 9, plus
     * Saturdays 02-14 and 02-28; 02-15..23 is the holiday. */
    ck_assert_int_eq(count(cal, "2026-02-09", "2026-03-01"), 11);
}
END_TEST

START_TEST(national_day_2024)
{
    const tz_calendar *cal = data_calendar();
    ck_assert_int_eq(working(cal, "2024-09-29"), 1); /* Sunday */
    ck_assert_int_eq(working(cal, "2024-10-07"), 0); /* Monday inside the holiday */
    ck_assert_int_eq(working(cal, "2024-10-12"), 1); /* Saturday */
    /* 09-29, 09-30, 10-08..11 (4), 10-12: the holiday 10-01..07 counts 0. */
    ck_assert_int_eq(count(cal, "2024-09-28", "2024-10-13"), 7);
    /* October 2024: 23 weekdays, minus 10-01..04 and 10-07 (5), plus 10-12. */
    ck_assert_int_eq(count(cal, "2024-10-01", "2024-10-31"), 19);
}
END_TEST

START_TEST(national_day_2023)
{
    const tz_calendar *cal = data_calendar();
    /* 中秋节、国庆节 09-29..10-06; Saturday 10-07 and Sunday 10-08 work. */
    ck_assert_int_eq(count(cal, "2023-09-29", "2023-10-08"), 2);
    /* 09-25..28 (4), 10-07, 10-08, 10-09..13 (5). */
    ck_assert_int_eq(count(cal, "2023-09-25", "2023-10-13"), 11);
    ck_assert_int_eq(working(cal, "2023-10-06"), 0); /* Friday inside */
}
END_TEST

START_TEST(handover_deadline)
{
    const tz_calendar *cal = data_calendar();
    /* A handover starting Thursday 2024-02-01 with 15 working days: 02-01,
     * 02-02, Sunday 02-04, 02-05..09, Sunday 02-18, 02-19..23, 02-26. A
     * weekday-only count would have said 02-21. */
    ck_assert_int_eq(add(cal, "2024-02-01", 15), D("2024-02-26"));
    ck_assert_int_eq(add(cal, "2024-02-01", 1), D("2024-02-01"));
    ck_assert_int_eq(add(cal, "2024-02-10", 1), D("2024-02-18")); /* first day after the holiday */
    ck_assert_int_eq(add(cal, "2024-09-28", 1), D("2024-09-29")); /* the working Sunday */
    /* Across New Year: 12-25..29 (5), 01-01 holiday, 01-02..05 (4), 01-08. */
    ck_assert_int_eq(add(cal, "2023-12-25", 10), D("2024-01-08"));
    /* add and count agree: the n-th working day from d is d + n-1 working days later. */
    ck_assert_int_eq(count(cal, "2024-02-01", "2024-02-26"), 15);

    int64_t day = 42;
    tz_err err;
    ck_assert_int_eq(tz_calendar_add_working(cal, D("2026-12-30"), 3, &day, &err), TZ_ERR_RULE);
    ck_assert_str_eq(err.msg, "calendar: no working-day calendar adopted for 2027");
    ck_assert_int_eq(day, 42);
    ck_assert_int_eq(tz_calendar_add_working(cal, D("2024-01-01"), 0, &day, &err), TZ_ERR_USAGE);
    ck_assert_int_eq(tz_calendar_add_working(cal, D("2024-01-01"), INT64_MAX, &day, &err),
                     TZ_ERR_RULE); /* runs out of adopted years, does not loop */
}
END_TEST

START_TEST(year_boundaries)
{
    const tz_calendar *cal = data_calendar();
    /* 12-25..29 (5), 01-01 元旦, 01-02..05 (4), 01-08..10 (3). */
    ck_assert_int_eq(count(cal, "2023-12-25", "2024-01-10"), 12);
    /* The 2023 notice's 元旦 2022-12-31..2023-01-02 puts Monday 01-02 off. */
    ck_assert_int_eq(working(cal, "2023-01-02"), 0);
    ck_assert_int_eq(working(cal, "2023-01-03"), 1);

    int64_t n = 42;
    int w = 42;
    tz_err err;
    ck_assert_int_eq(tz_calendar_count_working(cal, D("2026-12-20"), D("2027-01-05"), &n, &err),
                     TZ_ERR_RULE);
    ck_assert_str_eq(err.msg, "calendar: no working-day calendar adopted for 2027");
    ck_assert_int_eq(tz_calendar_is_working(cal, D("2022-12-30"), &w, &err), TZ_ERR_RULE);
    ck_assert_str_eq(err.msg, "calendar: no working-day calendar adopted for 2022");
    /* 2022-12-31 is inside the 2023 notice's range, but 2022 is not adopted. */
    ck_assert_int_eq(tz_calendar_is_working(cal, D("2022-12-31"), &w, &err), TZ_ERR_RULE);
    ck_assert_int_eq(tz_calendar_count_working(cal, D("2022-12-30"), D("2023-01-05"), &n, &err),
                     TZ_ERR_RULE);
    ck_assert_str_eq(err.msg, "calendar: no working-day calendar adopted for 2022");
    ck_assert_int_eq(n, 42);
    ck_assert_int_eq(w, 42);
    /* Far outside any year a key can name. */
    ck_assert_int_eq(tz_calendar_is_working(cal, INT64_MIN, &w, &err), TZ_ERR_RULE);
    ck_assert_int_eq(tz_calendar_count_working(cal, 0, INT64_MAX, &n, &err), TZ_ERR_RULE);
    /* An empty range counts 0, even in a year without a notice. */
    ck_assert_int_eq(tz_calendar_count_working(cal, D("2030-01-02"), D("2030-01-01"), &n, &err),
                     TZ_OK);
    ck_assert_int_eq(n, 0);
}
END_TEST

START_TEST(neighbour_notices_are_consulted)
{
    /* A 2024 notice whose 元旦 starts on Friday 2023-12-29 takes that day
     * off in 2023 as well, once 2024 is adopted. */
    tz_calendar cal;
    tz_err err;
    const char *y2023 = "{'notice':'n','holidays':[],'working_weekend_days':[]}";
    char doc[512];
    snprintf(doc, sizeof doc, "{'years':{'2023':%s}}", y2023);
    ck_assert_msg(parse_doc(&cal, doc, &err) == TZ_OK, "%s", err.msg);
    ck_assert_int_eq(count(&cal, "2023-12-25", "2023-12-29"), 5);
    snprintf(doc, sizeof doc,
             "{'years':{'2023':%s,'2024':{'notice':'n','holidays':[['2023-12-29','2024-01-01',"
             "'元旦']],'working_weekend_days':[]}}}", y2023);
    ck_assert_msg(parse_doc(&cal, doc, &err) == TZ_OK, "%s", err.msg);
    ck_assert_int_eq(working(&cal, "2023-12-29"), 0);
    ck_assert_int_eq(count(&cal, "2023-12-25", "2023-12-29"), 4);
    ck_assert_int_eq(count(&cal, "2023-12-25", "2024-01-05"), 8);
    /* And the other way: a 2023 range reaching into 2024 counts in 2024. */
    snprintf(doc, sizeof doc,
             "{'years':{'2023':{'notice':'n','holidays':[['2023-12-30','2024-01-02','元旦']],"
             "'working_weekend_days':[]},'2024':{'notice':'n','holidays':[],"
             "'working_weekend_days':[]}}}");
    ck_assert_msg(parse_doc(&cal, doc, &err) == TZ_OK, "%s", err.msg);
    ck_assert_int_eq(working(&cal, "2024-01-02"), 0);
    ck_assert_int_eq(count(&cal, "2024-01-01", "2024-01-05"), 3);
}
END_TEST

START_TEST(working_days_per_year)
{
    const tz_calendar *cal = data_calendar();
    /* weekdays - holiday weekdays + weekend working days:
     * 2023: 260 - 18 + 7; 2024: 262 - 19 + 8; 2025: 261 - 18 + 5; 2026: 261 - 19 + 6. */
    static const int64_t want[4] = {249, 251, 248, 248};
    for (int y = 2023; y <= 2026; y++) {
        char a[24], b[24];
        snprintf(a, sizeof a, "%d-01-01", y);
        snprintf(b, sizeof b, "%d-12-31", y);
        ck_assert_msg(count(cal, a, b) == want[y - 2023], "%d: %lld", y,
                      (long long)count(cal, a, b));
        /* The single-day rule and the counting agree day by day. */
        int64_t sum = 0;
        for (int64_t d = D(a); d <= D(b); d++) {
            int w;
            ck_assert(tz_calendar_is_working(cal, d, &w, NULL) == TZ_OK);
            sum += w;
            int64_t c;
            ck_assert(tz_calendar_count_working(cal, d, d, &c, NULL) == TZ_OK);
            ck_assert_int_eq(c, w);
        }
        ck_assert_int_eq(sum, want[y - 2023]);
    }
    ck_assert_int_eq(count(cal, "2023-01-01", "2026-12-31"), 249 + 251 + 248 + 248);
}
END_TEST

/* ---- invalid documents ---- */

static const struct {
    const char *doc, *want;
} bad_docs[] = {
    {"{'years':{'2024':{'notice':'n','holidays':[],'working_weekend_days':['2024-02-05']}}}",
     "calendar.years.2024.working_weekend_days[0]: 2024-02-05 is a Monday; only a Saturday or "
     "Sunday can be a weekend working day"},
    {"{'years':{'2024':{'notice':'n','holidays':[['2024-02-17','2024-02-10','春节']],"
     "'working_weekend_days':[]}}}",
     "calendar.years.2024.holidays[0]: from 2024-02-17 is after to 2024-02-10"},
    {"{'years':{'2024':{'notice':'n','holidays':[['2024-01-01','2024-01-01','元旦'],"
     "['2024-02-10','2024-02-30','春节']],'working_weekend_days':[]}}}",
     "calendar.years.2024.holidays[1][1]: \"2024-02-30\" is not a valid calendar date"},
    {"{'years':{'2024':{'notice':'n','holidays':[['2024-2-10','2024-02-17','春节']],"
     "'working_weekend_days':[]}}}",
     "calendar.years.2024.holidays[0][0]: \"2024-2-10\" is not a date YYYY-MM-DD"},
    {"{'years':{'2024':{'notice':'n','holidays':[],'working_weekend_days':[],'notes':''}}}",
     "calendar.years.2024.notes: unknown member"},
    {"{'version':1,'years':{'2024':" Y2024 "}}", "calendar.version: unknown member"},
    {"{'years':{'2024':{'notice':'n','holidays':[]}}}",
     "calendar.years.2024.working_weekend_days: missing"},
    {"{'about':'x'}", "calendar.years: missing"},
    {"{'years':{'2024':{'notice':7,'holidays':[],'working_weekend_days':[]}}}",
     "calendar.years.2024.notice: must be a string"},
    {"{'years':{'2024':{'notice':'','holidays':[],'working_weekend_days':[]}}}",
     "calendar.years.2024.notice: must be a string of 1..95 bytes"},
    {"{'years':{'2024':{'notice':'n','holidays':{},'working_weekend_days':[]}}}",
     "calendar.years.2024.holidays: must be an array"},
    {"{'years':{'2024':{'notice':'n','holidays':[['2024-01-01','2024-01-01']],"
     "'working_weekend_days':[]}}}",
     "calendar.years.2024.holidays[0]: must be an array [from, to, name]"},
    {"{'years':{'2024':{'notice':'n','holidays':[[20240101,'2024-01-01','元旦']],"
     "'working_weekend_days':[]}}}",
     "calendar.years.2024.holidays[0][0]: must be a date string"},
    {"{'years':{'2024':{'notice':'n','holidays':[['2024-01-01','2024-01-01','']],"
     "'working_weekend_days':[]}}}",
     "calendar.years.2024.holidays[0][2]: the holiday's name must be a non-empty string"},
    {"{'years':{'2024':{'notice':'n','holidays':[],'working_weekend_days':'2024-02-04'}}}",
     "calendar.years.2024.working_weekend_days: must be an array"},
    {"{'years':{'2024':{'notice':'n','holidays':[],'working_weekend_days':[null]}}}",
     "calendar.years.2024.working_weekend_days[0]: must be a date string"},
    {"{'years':{'2024':'n'}}", "calendar.years.2024: a year's notice must be a map"},
    {"{'years':[]}", "calendar.years: must be a map"},
    {"{'years':{}}", "calendar.years: at least one year is required"},
    {"{'about':1,'years':{'2024':" Y2024 "}}", "calendar.about: must be a string"},
    {"{'years':{'2024':{'notice':'n','holidays':[['2024-02-10','2024-02-17','春节']],"
     "'working_weekend_days':['2024-02-04','2024-02-17']}}}",
     "calendar.years.2024.working_weekend_days[1]: 2024-02-17 lies inside holidays[0] (春节)"},
    {"{'years':{'2024':{'notice':'n','holidays':[],"
     "'working_weekend_days':['2024-02-04','2024-02-18','2024-02-04']}}}",
     "calendar.years.2024.working_weekend_days[2]: 2024-02-04 is listed twice"},
    {"{'years':{'2024':{'notice':'n','holidays':[],'working_weekend_days':['2025-01-04']}}}",
     "calendar.years.2024.working_weekend_days[0]: 2025-01-04 is not in 2024"},
    {"{'years':{'2024':{'notice':'n','holidays':[['2023-05-01','2023-05-03','劳动节']],"
     "'working_weekend_days':[]}}}",
     "calendar.years.2024.holidays[0]: 2023-05-01..2023-05-03 has no day in 2024"},
    {"{'years':{'2024':{'notice':'n','holidays':[['2022-12-31','2024-01-01','x']],"
     "'working_weekend_days':[]}}}",
     "calendar.years.2024.holidays[0]: 2022-12-31..2024-01-01 reaches beyond 2023..2025"},
    {"{'years':{'2024':{'notice':'n','holidays':[['2024-02-10','2024-02-17','春节'],"
     "['2024-02-17','2024-02-18','x']],'working_weekend_days':[]}}}",
     "calendar.years.2024.holidays[1]: overlaps holidays[0] (春节)"},
    {"{'years':{'24':" Y2024 "}}", "calendar.years.24: a year key must be 4 digits"},
    {"{'years':{'1899':{'notice':'n','holidays':[],'working_weekend_days':[]}}}",
     "calendar.years.1899: a year key must be 4 digits"},
    {"{'years':{'２０２４':" Y2024 "}}", "calendar.years.２０２４: a year key must be 4 digits"},
    {"{'years':{'2024 ':" Y2024 "}}", "calendar.years.2024 : a year key must be 4 digits"},
    /* A weekend working day of 2023 inside the 2024 notice's range. */
    {"{'years':{'2023':{'notice':'n','holidays':[],'working_weekend_days':['2023-12-30']},"
     "'2024':{'notice':'n','holidays':[['2023-12-30','2024-01-01','元旦']],"
     "'working_weekend_days':[]}}}",
     "calendar.years.2023.working_weekend_days[0]: 2023-12-30 lies inside "
     "calendar.years.2024.holidays[0] (元旦)"},
    {"[]", "calendar: must be a map"},
};

START_TEST(invalid_documents)
{
    const tz_calendar *data = data_calendar();
    for (size_t i = 0; i < sizeof bad_docs / sizeof bad_docs[0]; i++) {
        tz_calendar cal = *data;
        tz_err err;
        tz_err_clear(&err);
        int rc = parse_doc(&cal, bad_docs[i].doc, &err);
        ck_assert_msg(rc == TZ_ERR_INPUT, "[%zu] %s: rc %d (%s)", i, bad_docs[i].doc, rc, err.msg);
        ck_assert_int_eq(err.code, TZ_ERR_INPUT);
        ck_assert_msg(strstr(err.msg, bad_docs[i].want) != NULL, "[%zu] got \"%s\", want \"%s\"",
                      i, err.msg, bad_docs[i].want);
        /* A refused document leaves the calendar as it was. */
        ck_assert_uint_eq(cal.nyears, 4);
        ck_assert_int_eq(cal.years[0].year, 2023);
        ck_assert_uint_eq(cal.years[1].nworking, 8);
    }
}
END_TEST

/* Appends n comma-separated copies of item to a growing doc. */
static char *repeat_doc(const char *head, const char *item, int n, const char *tail)
{
    size_t cap = strlen(head) + strlen(tail) + (size_t)n * (strlen(item) + 1) + 1;
    char *s = malloc(cap);
    ck_assert_ptr_nonnull(s);
    strcpy(s, head);
    for (int i = 0; i < n; i++) {
        if (i)
            strcat(s, ",");
        strcat(s, item);
    }
    strcat(s, tail);
    return s;
}

START_TEST(too_many_entries)
{
    tz_calendar cal;
    tz_err err;
    /* 33 holiday ranges (all identical: the count is refused before any is read). */
    char *doc = repeat_doc("{'years':{'2024':{'notice':'n','holidays':[",
                           "['2024-01-01','2024-01-01','元旦']", TZ_CALENDAR_MAX_HOLIDAYS + 1,
                           "],'working_weekend_days':[]}}}");
    ck_assert_int_eq(parse_doc(&cal, doc, &err), TZ_ERR_INPUT);
    ck_assert_str_eq(err.msg, "calendar.years.2024.holidays: 33 ranges, at most 32 allowed");
    free(doc);
    doc = repeat_doc("{'years':{'2024':{'notice':'n','holidays':[],'working_weekend_days':[",
                     "'2024-02-04'", TZ_CALENDAR_MAX_WORKDAYS + 1, "]}}}");
    ck_assert_int_eq(parse_doc(&cal, doc, &err), TZ_ERR_INPUT);
    ck_assert_str_eq(err.msg, "calendar.years.2024.working_weekend_days: 33 days, at most 32 "
                              "allowed");
    free(doc);
    /* 17 years. */
    char big[8192] = "{'years':{";
    for (int y = 2000; y <= 2000 + TZ_CALENDAR_MAX_YEARS; y++) {
        char one[128];
        snprintf(one, sizeof one, "%s'%d':{'notice':'n','holidays':[],'working_weekend_days':[]}",
                 y > 2000 ? "," : "", y);
        strcat(big, one);
    }
    strcat(big, "}}");
    ck_assert_int_eq(parse_doc(&cal, big, &err), TZ_ERR_INPUT);
    ck_assert_str_eq(err.msg, "calendar.years: 17 years, at most 16 allowed");
    /* Exactly 16 years and 32 ranges are fine. */
    strcpy(big, "{'years':{");
    for (int y = 2001; y <= 2000 + TZ_CALENDAR_MAX_YEARS; y++) {
        char one[128];
        snprintf(one, sizeof one, "%s'%d':{'notice':'n','holidays':[],'working_weekend_days':[]}",
                 y > 2001 ? "," : "", y);
        strcat(big, one);
    }
    strcat(big, "}}");
    ck_assert_msg(parse_doc(&cal, big, &err) == TZ_OK, "%s", err.msg);
    ck_assert_uint_eq(cal.nyears, TZ_CALENDAR_MAX_YEARS);
    /* Notices without holidays: every weekday works. 2001-01-01 is a Monday;
     * 5844 days = 834 weeks (4170 weekdays) + Monday..Saturday (5). */
    ck_assert_int_eq(count(&cal, "2001-01-01", "2016-12-31"), 4175);
}
END_TEST

/* Objects no canonical decoder would produce: the parser must still refuse
 * them by their counts, without reading the (absent) elements. */
START_TEST(hostile_objects)
{
    tz_calendar cal;
    memset(&cal, 0, sizeof cal);
    tz_err err;
    msgpack_object str_notice = {.type = MSGPACK_OBJECT_STR, .via.str = {1, "n"}};
    msgpack_object huge = {.type = MSGPACK_OBJECT_ARRAY, .via.array = {UINT32_MAX, NULL}};
    msgpack_object empty = {.type = MSGPACK_OBJECT_ARRAY, .via.array = {0, NULL}};
    msgpack_object_kv year_kv[3] = {
        {{.type = MSGPACK_OBJECT_STR, .via.str = {8, "holidays"}}, huge},
        {{.type = MSGPACK_OBJECT_STR, .via.str = {6, "notice"}}, str_notice},
        {{.type = MSGPACK_OBJECT_STR, .via.str = {20, "working_weekend_days"}}, empty},
    };
    msgpack_object year = {.type = MSGPACK_OBJECT_MAP, .via.map = {3, year_kv}};
    tz_calendar_year y;
    ck_assert_int_eq(tz_calendar_year_parse(&y, 2024, &year, "calendar.years.2024", &err),
                     TZ_ERR_INPUT);
    ck_assert_str_eq(err.msg, "calendar.years.2024.holidays: 4294967295 ranges, at most 32 "
                              "allowed");
    year_kv[0].val = empty;
    year_kv[2].val = huge;
    ck_assert_int_eq(tz_calendar_year_parse(&y, 2024, &year, "calendar.years.2024", &err),
                     TZ_ERR_INPUT);
    ck_assert_str_eq(err.msg, "calendar.years.2024.working_weekend_days: 4294967295 days, at "
                              "most 32 allowed");
    /* A member given twice. */
    year_kv[2] = year_kv[1];
    ck_assert_int_eq(tz_calendar_year_parse(&y, 2024, &year, "calendar.years.2024", &err),
                     TZ_ERR_INPUT);
    ck_assert_str_eq(err.msg, "calendar.years.2024.notice: member given twice");
    /* A year map claiming 4 billion years. */
    msgpack_object_kv doc_kv[1] = {
        {{.type = MSGPACK_OBJECT_STR, .via.str = {5, "years"}},
         {.type = MSGPACK_OBJECT_MAP, .via.map = {UINT32_MAX, NULL}}},
    };
    msgpack_object doc = {.type = MSGPACK_OBJECT_MAP, .via.map = {1, doc_kv}};
    ck_assert_int_eq(tz_calendar_parse(&cal, &doc, &err), TZ_ERR_INPUT);
    ck_assert_str_eq(err.msg, "calendar.years: 4294967295 years, at most 16 allowed");
    /* The same year twice. */
    year_kv[0].val = empty;
    year_kv[1].val = str_notice;
    year_kv[2] = (msgpack_object_kv){{.type = MSGPACK_OBJECT_STR, .via.str = {20,
                                      "working_weekend_days"}}, empty};
    msgpack_object_kv years_kv[2] = {
        {{.type = MSGPACK_OBJECT_STR, .via.str = {4, "2024"}}, year},
        {{.type = MSGPACK_OBJECT_STR, .via.str = {4, "2024"}}, year},
    };
    doc_kv[0].val = (msgpack_object){.type = MSGPACK_OBJECT_MAP, .via.map = {2, years_kv}};
    ck_assert_int_eq(tz_calendar_parse(&cal, &doc, &err), TZ_ERR_INPUT);
    ck_assert_str_eq(err.msg, "calendar.years.2024: year given twice");
    ck_assert_uint_eq(cal.nyears, 0);
    doc_kv[0].val.via.map.size = 1;
    ck_assert_msg(tz_calendar_parse(&cal, &doc, &err) == TZ_OK, "%s", err.msg);
    ck_assert_uint_eq(cal.nyears, 1);
}
END_TEST

/* ---- building a calendar ---- */

START_TEST(put_year_replaces_and_orders)
{
    tz_calendar cal = *data_calendar();
    tz_err err;
    tz_calendar_year y = cal.years[1];
    strcpy(y.notice, "amended");
    y.nworking = 0;
    ck_assert_int_eq(tz_calendar_put_year(&cal, &y, &err), TZ_OK);
    ck_assert_uint_eq(cal.nyears, 4);
    ck_assert_int_eq(cal.years[1].year, 2024);
    ck_assert_str_eq(cal.years[1].notice, "amended");
    /* Without its weekend working days, February 2024 has 16. */
    ck_assert_int_eq(count(&cal, "2024-02-01", "2024-02-29"), 16);

    y.year = 2030;
    ck_assert_int_eq(tz_calendar_put_year(&cal, &y, &err), TZ_OK);
    y.year = 2020;
    ck_assert_int_eq(tz_calendar_put_year(&cal, &y, &err), TZ_OK);
    y.year = 2027;
    ck_assert_int_eq(tz_calendar_put_year(&cal, &y, &err), TZ_OK);
    static const int order[] = {2020, 2023, 2024, 2025, 2026, 2027, 2030};
    ck_assert_uint_eq(cal.nyears, 7);
    for (size_t i = 0; i < 7; i++)
        ck_assert_int_eq(cal.years[i].year, order[i]);
    ck_assert_ptr_eq(tz_calendar_find(&cal, 2027), &cal.years[5]);
    /* 2026-12-20..2027-01-05 now counts: 12-21..25, 12-28..31 (9), 01-01..05 of
     * the copied 2024-shaped notice: its ranges lie in 2024, so all 3 weekdays. */
    ck_assert_int_eq(count(&cal, "2026-12-20", "2027-01-05"), 12);

    for (int yr = 2040; cal.nyears < TZ_CALENDAR_MAX_YEARS; yr++) {
        y.year = yr;
        ck_assert_int_eq(tz_calendar_put_year(&cal, &y, &err), TZ_OK);
    }
    y.year = 2100;
    ck_assert_int_eq(tz_calendar_put_year(&cal, &y, &err), TZ_ERR_USAGE);
    ck_assert_uint_eq(cal.nyears, TZ_CALENDAR_MAX_YEARS);
    y.year = 2025; /* replacing still works when full */
    ck_assert_int_eq(tz_calendar_put_year(&cal, &y, &err), TZ_OK);
    ck_assert_str_eq(tz_calendar_find(&cal, 2025)->notice, "amended");
    for (size_t i = 1; i < cal.nyears; i++)
        ck_assert_int_lt(cal.years[i - 1].year, cal.years[i].year);
}
END_TEST

START_TEST(load_file_errors)
{
    tz_calendar cal;
    tz_err err;
    ck_assert_int_eq(tz_calendar_load_file(&cal, "/nonexistent/calendar.json", &err), TZ_ERR_IO);
    char dir[256], path[320];
    tz_test_tmpdir(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/cal.json", dir);
    tz_test_write_file(path, "{\"years\": ", 10);
    ck_assert_int_eq(tz_calendar_load_file(&cal, path, &err), TZ_ERR_INPUT);
    const char *dup = "{\"years\": {}, \"years\": {}}";
    tz_test_write_file(path, dup, strlen(dup));
    ck_assert_int_eq(tz_calendar_load_file(&cal, path, &err), TZ_ERR_INPUT);
    const char *flt = "{\"years\": {\"2024\": {\"notice\": 1.5}}}";
    tz_test_write_file(path, flt, strlen(flt));
    ck_assert_int_eq(tz_calendar_load_file(&cal, path, &err), TZ_ERR_INPUT);
    ck_assert_msg(strstr(err.msg, "calendar.years.2024.notice") != NULL, "%s", err.msg);
    const char *wd = "{\"years\": {\"2024\": {\"notice\": \"n\", \"holidays\": [], "
                     "\"working_weekend_days\": [\"2024-02-05\"]}}}";
    tz_test_write_file(path, wd, strlen(wd));
    ck_assert_int_eq(tz_calendar_load_file(&cal, path, &err), TZ_ERR_INPUT);
    ck_assert_msg(strstr(err.msg, path) == err.msg && strstr(err.msg, "is a Monday") != NULL,
                  "%s", err.msg);
    tz_test_rmtree(dir);
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("calendar");
    TCase *data = tcase_create("data");
    tcase_add_test(data, data_file_loads);
    tcase_add_test(data, weekday_anchor);
    tcase_add_test(data, spring_festival_2024);
    tcase_add_test(data, spring_festival_2025_2026);
    tcase_add_test(data, national_day_2024);
    tcase_add_test(data, national_day_2023);
    tcase_add_test(data, handover_deadline);
    tcase_add_test(data, year_boundaries);
    tcase_add_test(data, neighbour_notices_are_consulted);
    tcase_add_test(data, working_days_per_year);
    suite_add_tcase(s, data);
    TCase *parse = tcase_create("parse");
    tcase_add_test(parse, invalid_documents);
    tcase_add_test(parse, too_many_entries);
    tcase_add_test(parse, hostile_objects);
    tcase_add_test(parse, load_file_errors);
    suite_add_tcase(s, parse);
    TCase *build = tcase_create("build");
    tcase_add_test(build, put_year_replaces_and_orders);
    suite_add_tcase(s, build);
    return s;
}

int main(void) { return tz_test_main(make_suite); }
