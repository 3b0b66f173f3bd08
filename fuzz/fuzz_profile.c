/*
 * fuzz_profile.c: policy profiles (projections/profile.h), which arrive
 * from outside inside `policy.adopt` statements: JSON text -> canonical
 * msgpack -> tz_profile_parse.
 *
 * Properties: a refusal is TZ_ERR_INPUT with a message; an accepted
 * profile has every count within its array, every string NUL-terminated
 * inside its field, leave tiers and absence caps in ascending order as the
 * header promises, grades in range, and parsing the same bytes again gives
 * the same struct, whatever the output held before.
 */
#include <stdlib.h>
#include <string.h>

#include "fuzz/fuzz.h"
#include "projections/profile.h"

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))
#define CHECK_STR(field) TZ_FUZZ_CHECK(memchr((field), '\0', sizeof(field)) != NULL)
#define CHECK_GRADE(g) TZ_FUZZ_CHECK((g) >= TZ_GRADE_NONE && (g) <= TZ_GRADE_EXCELLENT)

static void check_roles(const tz_profile_roles *r)
{
    TZ_FUZZ_CHECK(r->n <= COUNT(r->names));
    for (size_t i = 0; i < r->n; i++) {
        CHECK_STR(r->names[i]);
        TZ_FUZZ_CHECK(r->names[i][0] != '\0');
    }
}

static void check_profile(const tz_profile *p)
{
    CHECK_STR(p->id);
    CHECK_STR(p->term.clause);
    for (size_t m = 0; m < TZ_MISSION_COUNT; m++) {
        const tz_profile_eligibility *e = &p->eligibility[m];
        TZ_FUZZ_CHECK(e->nemployment <= COUNT(e->employment) && e->nranks <= COUNT(e->ranks));
        for (size_t i = 0; i < e->nemployment; i++)
            CHECK_STR(e->employment[i]);
        for (size_t i = 0; i < e->nranks; i++)
            CHECK_STR(e->ranks[i]);
        CHECK_STR(e->clause);
        check_roles(&p->dispatch_approval[m].signers);
        CHECK_STR(p->dispatch_approval[m].clause);
        TZ_FUZZ_CHECK(p->leave.ntiers[m] <= COUNT(p->leave.tiers[m]));
        for (size_t i = 0; i < p->leave.ntiers[m]; i++) {
            const tz_profile_leave_tier *t = &p->leave.tiers[m][i];
            CHECK_STR(t->approver);
            CHECK_STR(t->applicant);
            CHECK_STR(t->copy_to);
            CHECK_STR(t->clause);
            /* Ascending max_days; 0 (no upper bound) only last. */
            if (i > 0) {
                const tz_profile_leave_tier *prev = &p->leave.tiers[m][i - 1];
                TZ_FUZZ_CHECK_MSG(prev->max_days != 0 && (t->max_days == 0 || t->max_days > prev->max_days),
                                  "role %zu tier %zu: max_days %d after %d", m, i, t->max_days,
                                  prev->max_days);
            }
        }
    }
    check_roles(&p->attendance.signers);
    check_roles(&p->spot_check.signers);
    check_roles(&p->handover.signers);
    check_roles(&p->recall.signers);
    check_roles(&p->assessment.signers);
    CHECK_STR(p->attendance.clause);
    CHECK_STR(p->attendance.due_clause);
    CHECK_STR(p->attendance.min_days_clause);
    CHECK_STR(p->spot_check.clause);
    CHECK_STR(p->leave.recall_clause);
    CHECK_STR(p->handover.clause);
    CHECK_STR(p->recall.clause);
    TZ_FUZZ_CHECK(p->recall.nreasons <= COUNT(p->recall.reasons));
    for (size_t i = 0; i < p->recall.nreasons; i++) {
        CHECK_STR(p->recall.reasons[i].code);
        CHECK_STR(p->recall.reasons[i].clause);
    }
    TZ_FUZZ_CHECK(p->assessment.ncaps <= COUNT(p->assessment.caps));
    for (size_t i = 0; i < p->assessment.ncaps; i++) {
        const tz_profile_absence_cap *c = &p->assessment.caps[i];
        CHECK_STR(c->clause);
        CHECK_GRADE(c->max_grade);
        CHECK_GRADE(c->forced_grade);
        if (i > 0)
            TZ_FUZZ_CHECK_MSG(c->absences > p->assessment.caps[i - 1].absences,
                              "cap %zu: %d absences after %d", i, c->absences,
                              p->assessment.caps[i - 1].absences);
    }
    CHECK_GRADE(p->assessment.recalled_max_grade);
    CHECK_STR(p->assessment.clause);
    CHECK_STR(p->assessment.eligibility_clause);
    CHECK_STR(p->assessment.recalled_clause);
    CHECK_STR(p->assessment.quota_clause);
    CHECK_STR(p->assessment.incompetent_clause);
    TZ_FUZZ_CHECK(p->nteam_rules <= COUNT(p->team_rules));
    for (size_t i = 0; i < p->nteam_rules; i++) {
        const tz_profile_team_rule *t = &p->team_rules[i];
        TZ_FUZZ_CHECK(t->ncategories <= COUNT(t->categories));
        for (size_t k = 0; k < t->ncategories; k++)
            CHECK_STR(t->categories[k]);
        CHECK_STR(t->clause);
    }
    TZ_FUZZ_CHECK(p->nallowance <= COUNT(p->allowance));
    for (size_t i = 0; i < p->nallowance; i++) {
        CHECK_STR(p->allowance[i].unit_level);
        CHECK_STR(p->allowance[i].clause);
    }
    CHECK_STR(p->unit_teams.unit_level);
    CHECK_STR(p->unit_teams.clause);
    TZ_FUZZ_CHECK(p->unit_teams.nbands <= COUNT(p->unit_teams.bands));
    for (size_t i = 0; i + 1 < p->unit_teams.nbands; i++)
        TZ_FUZZ_CHECK_MSG(p->unit_teams.bands[i].max_staff != 0, "band %zu unbounded but not last", i);
    const tz_profile_recall_consequences *r = &p->recall_consequences;
    CHECK_STR(r->no_excellent_clause);
    CHECK_STR(r->reserve_clause);
    CHECK_STR(r->promotion_clause);
    CHECK_STR(r->incompetent_promotion_clause);
    CHECK_STR(r->unit_leaders_clause);
    CHECK_STR(r->unit_recalls_clause);
}

TZ_FUZZ_ENTRY(profile)
{
    tz_fuzz_doc doc;
    if (!tz_fuzz_doc_load(&doc, data, size, "profile"))
        return 0;
    tz_profile *a = malloc(sizeof *a), *b = malloc(sizeof *b);
    TZ_FUZZ_CHECK(a != NULL && b != NULL);
    memset(a, 0x00, sizeof *a);
    memset(b, 0xa5, sizeof *b);
    tz_err err;
    int rc = tz_profile_parse(a, &doc.obj, &err);
    if (rc != TZ_OK) {
        TZ_FUZZ_CHECK_ERROR(rc, &err, TZ_ERR_INPUT);
    } else {
        check_profile(a);
        rc = tz_profile_parse(b, &doc.obj, &err);
        TZ_FUZZ_CHECK_MSG(rc == TZ_OK, "second parse: %s", err.msg);
        TZ_FUZZ_CHECK_MSG(memcmp(a, b, sizeof *a) == 0, "parse depends on what *out held before");
    }
    free(a);
    free(b);
    tz_fuzz_doc_destroy(&doc);
    return 0;
}
