/*
 * demo.c: `taizhang demo`, a county ledger built by the scenario generator
 * (scenario/scenario.h) on a simulated clock, with a short summary.
 *
 * The policy profile and the working-day calendar are files of the source
 * tree. Unless --profile / --calendar name them, they are looked for next
 * to the executable (a build dir inside the source tree: ../profiles,
 * ../data) and then from the current directory (profiles/, data/), so
 * `./scripts/run` works in a fresh
 * clone and an installed binary works from the source tree.
 *
 * Exit codes as the other commands: 0 ok, 2 usage or I/O (a missing file,
 * a non-empty --keys dir, a --db that is not empty), 3 when the decide step
 * rejected a generated statement (a generator bug: the message names it).
 */
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ledger/ledger.h"
#include "scenario/scenario.h"
#include "util/encoding.h"
#include "util/status.h"

#define DEFAULT_PROFILE "profiles/shiquan-2021.json"
#define CALENDAR_FILE "cn-workday-calendar.json"

int tz_cli_demo(const char *progname, const char *db, const char *keys_dir, const char *profile,
                const char *calendar, const uint64_t *seed, const uint64_t *months,
                const uint64_t *villages);

/* The first of the candidate paths that can be read, into out; 0 when none. */
static int find_file(char *out, size_t cap, const char *const *candidates, size_t n)
{
    char exe[PATH_MAX];
    ssize_t len = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (len > 0) {
        exe[len] = '\0';
        char *slash = strrchr(exe, '/');
        if (slash != NULL)
            *slash = '\0';
    } else {
        exe[0] = '\0';
    }
    for (size_t i = 0; i < n; i++) {
        const char *c = candidates[i];
        int from_exe = strncmp(c, "EXE/", 4) == 0;
        if (from_exe && exe[0] == '\0')
            continue;
        int w = from_exe ? snprintf(out, cap, "%s/%s", exe, c + 4) : snprintf(out, cap, "%s", c);
        if (w > 0 && (size_t)w < cap && access(out, R_OK) == 0)
            return 1;
    }
    return 0;
}

static void progress(void *ctx, uint64_t done, uint64_t total)
{
    (void)ctx;
    fprintf(stderr, "\rappended %llu / %llu entries", (unsigned long long)done,
            (unsigned long long)total);
    if (done >= total)
        fputc('\n', stderr);
}

static void print_summary(const char *db, const char *keys_dir, const tz_scenario_options *o,
                          const tz_scenario_stats *s)
{
    printf("石泉县 (shiquan) demo ledger in %s, seed %llu: %s .. %s\n", db,
           (unsigned long long)o->seed, s->first_month, s->last_month);
    printf("  %u townships, %u villages (%u short of team members), %u dispatching units\n",
           s->townships, s->villages, s->short_villages, s->units);
    printf("  %u people registered: %u cadres dispatched, %u temporary/seconded staff never "
           "dispatched\n", s->people, s->cadres, s->never_dispatched);
    printf("entries: %llu (%llu signatures), built in %.1f s (%.1f s of it appending)\n",
           (unsigned long long)s->entries, (unsigned long long)s->signatures, s->elapsed_s,
           s->append_s);
    for (size_t i = 0; i < s->ntypes; i++)
        printf("  %-18s %7llu%s", s->by_type[i].type, (unsigned long long)s->by_type[i].count,
               i % 3 == 2 || i + 1 == s->ntypes ? "\n" : "   ");
    printf("attendance: %llu sheets, %llu late (completed after the due day), %llu with fewer "
           "days in the village than the profile's minimum\n", (unsigned long long)s->sheets,
           (unsigned long long)s->late_sheets, (unsigned long long)s->sheets_under_min);
    printf("spot checks: %llu, %llu found absent without reason (cadre-years absent 0: %u, "
           "1: %u, 2: %u, 3+: %u)\n", (unsigned long long)s->spot_checks,
           (unsigned long long)s->absences, s->cadres_absent[0], s->cadres_absent[1],
           s->cadres_absent[2], s->cadres_absent[3]);
    printf("leave: %llu requests, %llu refused, %llu returns (销假)\n",
           (unsigned long long)s->leaves, (unsigned long long)s->leaves_refused,
           (unsigned long long)s->leave_returns);
    printf("recalls: %u (third_absence %u, health %u, leave_over_30_days %u, grade_incompetent "
           "%u), %u replacements dispatched\n", s->recalls, s->recalls_third_absence,
           s->recalls_health, s->recalls_leave, s->recalls_incompetent, s->replacements);
    printf("handovers completed: %u; annual assessments: %u\n", s->handovers, s->assessments);
    if (keys_dir != NULL)
        printf("keys: %s (keys.tsv lists each key's roles and scope; sign more with `taizhang "
               "append --db %s --key %s/county-org-dept.key`)\n", keys_dir, db, keys_dir);
}

int tz_cli_demo(const char *progname, const char *db, const char *keys_dir, const char *profile,
                const char *calendar, const uint64_t *seed, const uint64_t *months,
                const uint64_t *villages)
{
    if (db == NULL) {
        fprintf(stderr, "%s: --db is required\n", progname);
        return 2;
    }
    tz_scenario_options o;
    tz_scenario_defaults(&o);
    if (seed != NULL)
        o.seed = *seed;
    if (months != NULL) {
        if (*months < 1 || *months > TZ_SCENARIO_MAX_MONTHS) {
            fprintf(stderr, "%s: --months: 1..%d\n", progname, TZ_SCENARIO_MAX_MONTHS);
            return 2;
        }
        o.months = (int)*months;
    }
    if (villages != NULL) {
        if (*villages < 1 || *villages > TZ_SCENARIO_MAX_VILLAGES) {
            fprintf(stderr, "%s: --villages: 1..%d\n", progname, TZ_SCENARIO_MAX_VILLAGES);
            return 2;
        }
        o.villages = (int)*villages;
        o.townships = 0;
    }
    static const char *const profiles[] = {"EXE/../" DEFAULT_PROFILE, "EXE/../../" DEFAULT_PROFILE,
                                           DEFAULT_PROFILE};
    static const char *const calendars[] = {
        "EXE/../data/" CALENDAR_FILE, "EXE/../../data/" CALENDAR_FILE, "data/" CALENDAR_FILE};
    char profile_buf[PATH_MAX], calendar_buf[PATH_MAX];
    if (profile == NULL) {
        if (!find_file(profile_buf, sizeof profile_buf, profiles,
                       sizeof profiles / sizeof profiles[0])) {
            fprintf(stderr, "%s: cannot find %s next to the executable or here; give --profile "
                    "FILE\n", progname, DEFAULT_PROFILE);
            return 2;
        }
        profile = profile_buf;
    }
    if (calendar == NULL) {
        if (!find_file(calendar_buf, sizeof calendar_buf, calendars,
                       sizeof calendars / sizeof calendars[0])) {
            fprintf(stderr, "%s: cannot find %s (data/ of the source tree); "
                    "give --calendar FILE\n", progname, CALENDAR_FILE);
            return 2;
        }
        calendar = calendar_buf;
    }
    o.profile_path = profile;
    o.calendar_path = calendar;
    o.keys_dir = keys_dir;
    if (isatty(STDERR_FILENO))
        o.progress = progress;

    tz_scenario_stats s;
    tz_err e;
    if (tz_scenario_generate(db, &o, &s, &e) != TZ_OK) {
        fprintf(stderr, "%s: demo: %s\n", progname, e.msg);
        return s.rejected ? 3 : 2;
    }
    print_summary(db, keys_dir, &o, &s);

    tz_ledger *l = NULL;
    char *note = NULL;
    size_t len = 0;
    if (tz_ledger_open(&l, db, TZ_LEDGER_READONLY, NULL, &e) != TZ_OK ||
        tz_ledger_checkpoint(l, &note, &len, &e) != TZ_OK) {
        tz_ledger_close(l);
        fprintf(stderr, "%s: demo: %s\n", progname, e.msg);
        return 2;
    }
    printf("checkpoint:\n");
    fwrite(note, 1, len, stdout);
    free(note);
    tz_ledger_close(l);
    return fflush(stdout) == 0 ? 0 : 2;
}
