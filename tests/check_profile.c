/*
 * check_profile.c: policy profiles (projections/profile). The four adopted
 * files load and say what their seed documents say (key values asserted);
 * every quote in them occurs verbatim in its seed, which proves each
 * citation; a table of invalid profiles is refused with TZ_ERR_INPUT naming
 * the path and the rule; names of mission roles, grades and role labels
 * round-trip.
 */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "ledger/codec.h"
#include "projections/profile.h"
#include "tests/tz_test.h"

#define PROFILES TZ_SOURCE_DIR "/profiles/"
#define SEEDS TZ_SOURCE_DIR "/profiles/sources/"

static const struct {
    const char *id, *seed;
} files[] = {
    { "shiquan-2021", "001_64ec1c30f86a27e3.txt" },
    { "guizhou-2018", "003_56bfd232f6dee7d0.txt" },
    { "guyuan-2018", "000_5b619dcb98a1af68.txt" },
    { "daan-2017", "004_e2ae3444eb13137d.txt" },
};
#define NFILES (sizeof files / sizeof files[0])

static void load(tz_profile *p, const char *id)
{
    char path[512];
    snprintf(path, sizeof path, PROFILES "%s.json", id);
    tz_err err;
    tz_err_clear(&err);
    int rc = tz_profile_load_file(p, path, &err);
    ck_assert_msg(rc == TZ_OK, "%s: %s", id, err.msg);
    ck_assert_str_eq(p->id, id);
}

/* JSON text -> canonical msgpack -> tz_profile_parse, as a policy.adopt
 * entry would go. Returns the parser's status. */
static int parse_text(tz_profile *p, const char *text, tz_err *err)
{
    json_error_t jerr;
    json_t *doc = json_loads(text, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &jerr);
    ck_assert_msg(doc != NULL, "bad test JSON %s: %s", text, jerr.text);
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    ck_assert_msg(tz_codec_from_json(&pk, doc, "profile", err) == TZ_OK, "%s", err->msg);
    msgpack_zone zone;
    ck_assert(msgpack_zone_init(&zone, 2048));
    msgpack_object obj;
    ck_assert_msg(tz_codec_decode(&obj, &zone, (const uint8_t *)sb.data, sb.size, err) == TZ_OK,
                  "%s", err->msg);
    tz_err_clear(err);
    int rc = tz_profile_parse(p, &obj, err);
    msgpack_zone_destroy(&zone);
    msgpack_sbuffer_destroy(&sb);
    json_decref(doc);
    return rc;
}

static void assert_roles(const tz_profile_roles *r, size_t n, const char *const *names)
{
    ck_assert_uint_eq(r->n, n);
    for (size_t i = 0; i < n; i++)
        ck_assert_str_eq(r->names[i], names[i]);
}
#define ROLES(r, ...)                                                                            \
    do {                                                                                         \
        static const char *const want_[] = { __VA_ARGS__ };                                      \
        assert_roles((r), sizeof want_ / sizeof want_[0], want_);                                \
    } while (0)

static void assert_tier(const tz_profile_leave_tier *t, int max_days, const char *approver,
                        const char *applicant, const char *copy_to, const char *clause)
{
    ck_assert_int_eq(t->max_days, max_days);
    ck_assert_str_eq(t->approver, approver);
    ck_assert_str_eq(t->applicant, applicant);
    ck_assert_str_eq(t->copy_to, copy_to);
    ck_assert_str_eq(t->clause, clause);
}

/* ---- the four profiles ------------------------------------------------- */

START_TEST(shiquan_2021)
{
    static tz_profile p;
    load(&p, "shiquan-2021");
    ck_assert_int_eq(p.term.min_years, 2);
    ck_assert_str_eq(p.term.clause, "§11");

    const tz_profile_eligibility *fs = &p.eligibility[TZ_MISSION_FIRST_SECRETARY];
    ck_assert(fs->present && fs->party_member);
    ck_assert_int_eq(fs->party_years, 1);
    ck_assert_uint_eq(fs->nemployment, 1);
    ck_assert_str_eq(fs->employment[0], "permanent");
    ck_assert_uint_eq(fs->nranks, 0);
    ck_assert_str_eq(fs->clause, "§5");
    const tz_profile_eligibility *tm = &p.eligibility[TZ_MISSION_TEAM_MEMBER];
    ck_assert(tm->present && !tm->party_member);
    ck_assert_uint_eq(tm->nemployment, 1);
    ck_assert(!p.eligibility[TZ_MISSION_TOWNSHIP_LIAISON].present);

    ROLES(&p.dispatch_approval[TZ_MISSION_FIRST_SECRETARY].signers, "county_org_dept");
    ROLES(&p.dispatch_approval[TZ_MISSION_TEAM_MEMBER].signers, "rural_revitalisation_bureau");
    ck_assert_str_eq(p.dispatch_approval[TZ_MISSION_TEAM_MEMBER].clause, "§7");
    ck_assert_uint_eq(p.dispatch_approval[TZ_MISSION_TOWNSHIP_LIAISON].signers.n, 0);

    ROLES(&p.attendance.signers, "township_party_secretary", "village_party_secretary");
    ck_assert_str_eq(p.attendance.clause, "§13(1)");
    ck_assert_int_eq(p.attendance.due_months_after, 1);
    ck_assert_int_eq(p.attendance.due_day, 28);
    ck_assert_str_eq(p.attendance.due_clause, "§13(1)");
    ck_assert_int_eq(p.attendance.min_days, 20);
    ck_assert_int_eq(p.attendance.official_business_counts, 1);
    ck_assert_str_eq(p.attendance.min_days_clause, "§12");

    ROLES(&p.spot_check.signers, "inspector", "township_party_committee",
          "township_party_secretary", "county_org_dept");
    ck_assert_int_eq(p.spot_check.monthly_share_percent, 30);
    ck_assert_str_eq(p.spot_check.clause, "§13(4)");

    ck_assert_uint_eq(p.leave.ntiers[TZ_MISSION_FIRST_SECRETARY], 3);
    const tz_profile_leave_tier *t = p.leave.tiers[TZ_MISSION_FIRST_SECRETARY];
    assert_tier(&t[0], 5, "township_party_committee", "", "", "§13(2)");
    assert_tier(&t[1], 10, "county_org_dept", "", "", "§13(2)");
    assert_tier(&t[2], 0, "county_org_dept", "dispatching_unit", "", "§13(2)");
    ck_assert_uint_eq(p.leave.ntiers[TZ_MISSION_TEAM_MEMBER], 3);
    t = p.leave.tiers[TZ_MISSION_TEAM_MEMBER];
    assert_tier(&t[0], 5, "township_party_committee", "", "", "§13(2)");
    assert_tier(&t[1], 10, "rural_revitalisation_bureau", "", "", "§13(2)");
    assert_tier(&t[2], 0, "rural_revitalisation_bureau", "dispatching_unit", "", "§13(2)");
    ck_assert_uint_eq(p.leave.ntiers[TZ_MISSION_TOWNSHIP_LIAISON], 0);
    ck_assert_int_eq(p.leave.recall_over_days, 30);
    ck_assert_str_eq(p.leave.recall_clause, "§13(2)");

    ck_assert_int_eq(p.handover.min_working_days, 15);
    ROLES(&p.handover.signers, "dispatching_unit");
    ck_assert_str_eq(p.handover.clause, "§11");

    ROLES(&p.recall.signers, "dispatching_unit", "county_org_dept");
    ck_assert_uint_eq(p.recall.nreasons, 5);
    static const char *const codes[][2] = {
        { "leave_over_30_days", "§13(2)" }, { "third_absence", "§13(4)" },
        { "grade_incompetent", "§20" },     { "health", "§11" },
        { "left_unit", "§11" },
    };
    for (size_t i = 0; i < 5; i++) {
        ck_assert_str_eq(p.recall.reasons[i].code, codes[i][0]);
        ck_assert_str_eq(p.recall.reasons[i].clause, codes[i][1]);
    }

    ROLES(&p.assessment.signers, "county_org_dept", "rural_revitalisation_bureau");
    ck_assert_str_eq(p.assessment.clause, "§19");
    ck_assert_int_eq(p.assessment.more_than_half_year, 1);
    ck_assert_str_eq(p.assessment.eligibility_clause, "§19");
    ck_assert_uint_eq(p.assessment.ncaps, 2);
    ck_assert_int_eq(p.assessment.caps[0].absences, 2);
    ck_assert_int_eq(p.assessment.caps[0].max_grade, TZ_GRADE_COMPETENT);
    ck_assert_int_eq(p.assessment.caps[0].forced_grade, TZ_GRADE_NONE);
    ck_assert_int_eq(p.assessment.caps[0].recall, 0);
    ck_assert_int_eq(p.assessment.caps[1].absences, 3);
    ck_assert_int_eq(p.assessment.caps[1].max_grade, TZ_GRADE_BASIC);
    ck_assert_int_eq(p.assessment.caps[1].recall, 1);
    ck_assert_str_eq(p.assessment.caps[1].clause, "§13(4)");
    ck_assert_int_eq(p.assessment.caps[2].max_grade, TZ_GRADE_NONE); /* unused slots stay NONE */
    ck_assert_int_eq(p.assessment.incompetent_recall, 1);
    ck_assert_str_eq(p.assessment.incompetent_clause, "§20");
    ck_assert_int_eq(p.assessment.recalled_max_grade, TZ_GRADE_NONE);
    ck_assert_int_eq(p.assessment.excellent_quota_percent, 0);

    ck_assert_uint_eq(p.nteam_rules, 2);
    ck_assert_uint_eq(p.team_rules[0].ncategories, 3);
    ck_assert_str_eq(p.team_rules[0].categories[0], "poverty");
    ck_assert_int_eq(p.team_rules[0].min[TZ_MISSION_FIRST_SECRETARY], 1);
    ck_assert_int_eq(p.team_rules[0].min[TZ_MISSION_TEAM_MEMBER], 2);
    ck_assert_int_eq(p.team_rules[0].min[TZ_MISSION_TOWNSHIP_LIAISON], 0);
    ck_assert_str_eq(p.team_rules[1].categories[0], "weak_party_org");
    ck_assert_int_eq(p.team_rules[1].min[TZ_MISSION_TEAM_MEMBER], 0);

    ck_assert_uint_eq(p.nallowance, 2);
    ck_assert_str_eq(p.allowance[0].unit_level, "county");
    ck_assert_int_eq(p.allowance[0].fen_per_day, 6000);
    ck_assert_str_eq(p.allowance[1].unit_level, "township");
    ck_assert_int_eq(p.allowance[1].fen_per_day, 4000);
    ck_assert_str_eq(p.allowance[1].clause, "§15(二)");
    ck_assert_uint_eq(p.unit_teams.nbands, 0);

    /* §13(4): the third absence also costs reserve status; no bonus or
     * interview rule in this document */
    ck_assert_int_eq(p.assessment.caps[0].reserve_lost, 0);
    ck_assert_int_eq(p.assessment.caps[1].reserve_lost, 1);
    for (int i = 0; i < 2; i++) {
        ck_assert_int_eq(p.assessment.caps[i].bonus_cancelled, 0);
        ck_assert_int_eq(p.assessment.caps[i].unit_deputy_interview, 0);
        ck_assert_int_eq(p.assessment.caps[i].unit_head_interview, 0);
    }
    const tz_profile_recall_consequences *rc = &p.recall_consequences;
    ck_assert_int_eq(rc->no_excellent_that_year, 0);
    ck_assert_int_eq(rc->reserve_lost, 0); /* only on the third absence, above */
    ck_assert_int_eq(rc->no_promotion_years, 0);
    ck_assert_int_eq(rc->incompetent_no_promotion_years, 2);
    ck_assert_str_eq(rc->incompetent_promotion_clause, "§20");
    ck_assert_int_eq(rc->unit_leaders_no_excellent_on_recall, 1);
    ck_assert_int_eq(rc->unit_leaders_no_excellent_on_incompetent, 1);
    ck_assert_int_eq(rc->unit_head_no_excellent, 1);
    ck_assert_int_eq(rc->unit_deputy_no_excellent, 1);
    ck_assert_str_eq(rc->unit_leaders_clause, "§20");
    ck_assert_int_eq(rc->unit_recalls_in_year, 0);
    ck_assert_str_eq(rc->unit_recalls_clause, "");
}
END_TEST

START_TEST(guizhou_2018)
{
    static tz_profile p;
    load(&p, "guizhou-2018");
    ck_assert_int_eq(p.term.min_years, 0); /* the standard sets no term */

    const tz_profile_eligibility *fs = &p.eligibility[TZ_MISSION_FIRST_SECRETARY];
    ck_assert(fs->present && fs->party_member);
    ck_assert_int_eq(fs->party_years, 0);
    ck_assert_uint_eq(fs->nemployment, 1);
    ck_assert_uint_eq(fs->nranks, 4);
    ck_assert_str_eq(fs->ranks[0], "division");
    ck_assert_str_eq(fs->ranks[3], "section_reserve");
    ck_assert(p.eligibility[TZ_MISSION_TEAM_MEMBER].present);
    ck_assert_uint_eq(p.eligibility[TZ_MISSION_TEAM_MEMBER].nranks, 0);

    for (int r = TZ_MISSION_FIRST_SECRETARY; r <= TZ_MISSION_TEAM_MEMBER; r++) {
        ROLES(&p.dispatch_approval[r].signers, "dispatching_unit", "county_org_dept",
              "county_party_secretary", "city_party_secretary");
        ck_assert_str_eq(p.dispatch_approval[r].clause, "3.3.1 a)");
    }

    ROLES(&p.attendance.signers, "township_party_secretary", "village_party_secretary");
    ck_assert_str_eq(p.attendance.clause, "6.5");
    ck_assert_int_eq(p.attendance.due_day, 0);
    ck_assert_int_eq(p.attendance.min_days, 20);
    ck_assert_int_eq(p.attendance.official_business_counts, 0);
    ROLES(&p.spot_check.signers, "inspector", "county_org_dept", "township_party_committee");
    ck_assert_int_eq(p.spot_check.monthly_share_percent, 0);

    for (int r = TZ_MISSION_FIRST_SECRETARY; r <= TZ_MISSION_TEAM_MEMBER; r++) {
        ck_assert_uint_eq(p.leave.ntiers[r], 3);
        const tz_profile_leave_tier *t = p.leave.tiers[r];
        assert_tier(&t[0], 2, "township_party_secretary", "", "", "6.2");
        assert_tier(&t[1], 10, "county_org_dept", "", "city_org_dept", "6.2");
        assert_tier(&t[2], 0, "city_org_dept", "", "provincial_org_dept", "6.2");
    }
    ck_assert_int_eq(p.leave.recall_over_days, 0);
    ck_assert_int_eq(p.handover.min_working_days, 0);

    ROLES(&p.recall.signers, "county_org_dept");
    ck_assert_uint_eq(p.recall.nreasons, 1);
    ck_assert_str_eq(p.recall.reasons[0].code, "third_absence");
    ck_assert_str_eq(p.recall.reasons[0].clause, "6.6.1");

    ROLES(&p.assessment.signers, "county_org_dept");
    ck_assert_int_eq(p.assessment.more_than_half_year, 0);
    ck_assert_uint_eq(p.assessment.ncaps, 3);
    for (int i = 0; i < 2; i++) {
        ck_assert_int_eq(p.assessment.caps[i].absences, i + 1);
        ck_assert_int_eq(p.assessment.caps[i].max_grade, TZ_GRADE_COMPETENT);
        ck_assert_int_eq(p.assessment.caps[i].forced_grade, TZ_GRADE_NONE);
        ck_assert_int_eq(p.assessment.caps[i].recall, 0);
    }
    ck_assert_int_eq(p.assessment.caps[2].absences, 3);
    ck_assert_int_eq(p.assessment.caps[2].forced_grade, TZ_GRADE_INCOMPETENT);
    ck_assert_int_eq(p.assessment.caps[2].max_grade, TZ_GRADE_NONE);
    ck_assert_int_eq(p.assessment.caps[2].recall, 1);
    ck_assert_str_eq(p.assessment.caps[2].clause, "6.6.1");
    ck_assert_int_eq(p.assessment.incompetent_recall, 0);
    /* 6.6.1: bonus and interviews from the second absence on */
    static const int bonus[3] = { 0, 1, 1 }, deputy[3] = { 0, 1, 0 }, head[3] = { 0, 0, 1 };
    for (int i = 0; i < 3; i++) {
        ck_assert_int_eq(p.assessment.caps[i].bonus_cancelled, bonus[i]);
        ck_assert_int_eq(p.assessment.caps[i].unit_deputy_interview, deputy[i]);
        ck_assert_int_eq(p.assessment.caps[i].unit_head_interview, head[i]);
        ck_assert_int_eq(p.assessment.caps[i].reserve_lost, 0);
    }
    /* sections 7 and 8 are missing from the seed */
    static const tz_profile_recall_consequences none;
    ck_assert(memcmp(&p.recall_consequences, &none, sizeof none) == 0);

    ck_assert_uint_eq(p.nteam_rules, 1);
    ck_assert_uint_eq(p.team_rules[0].ncategories, 1);
    ck_assert_str_eq(p.team_rules[0].categories[0], "poverty");
    ck_assert_int_eq(p.team_rules[0].min[TZ_MISSION_FIRST_SECRETARY], 1);
    ck_assert_int_eq(p.team_rules[0].min[TZ_MISSION_TEAM_MEMBER], 1);
    ck_assert_str_eq(p.team_rules[0].clause, "3.1.1");
    ck_assert_uint_eq(p.nallowance, 0);
}
END_TEST

START_TEST(guyuan_2018)
{
    static tz_profile p;
    load(&p, "guyuan-2018");
    ck_assert_int_eq(p.term.min_years, 2);
    ck_assert_str_eq(p.term.clause, "二(一)");
    for (int r = 0; r < TZ_MISSION_COUNT; r++)
        ck_assert(!p.eligibility[r].present); /* 一般应为: advisory only */
    ROLES(&p.dispatch_approval[TZ_MISSION_FIRST_SECRETARY].signers, "county_org_dept");
    ROLES(&p.dispatch_approval[TZ_MISSION_TEAM_MEMBER].signers, "county_org_dept");
    ROLES(&p.dispatch_approval[TZ_MISSION_TOWNSHIP_LIAISON].signers, "township_party_committee");

    ROLES(&p.attendance.signers, "township_party_secretary", "village_party_secretary");
    ck_assert_str_eq(p.attendance.clause, "四(二)");
    ck_assert_int_eq(p.attendance.min_days, 20);
    ROLES(&p.spot_check.signers, "inspector", "county_org_dept", "township_party_committee",
          "city_org_dept");
    for (int r = 0; r < TZ_MISSION_COUNT; r++)
        ck_assert_uint_eq(p.leave.ntiers[r], 0); /* left to the counties */

    ROLES(&p.recall.signers, "county_org_dept", "dispatching_unit");
    ck_assert_uint_eq(p.recall.nreasons, 1);
    ck_assert_str_eq(p.recall.reasons[0].code, "not_competent");
    ck_assert_str_eq(p.recall.reasons[0].clause, "五(三)");
    ROLES(&p.assessment.signers, "county_org_dept");
    ck_assert_str_eq(p.assessment.clause, "五(一)");
    ck_assert_uint_eq(p.assessment.ncaps, 0);

    ck_assert_uint_eq(p.nteam_rules, 3);
    ck_assert_str_eq(p.team_rules[0].categories[0], "poverty");
    ck_assert_int_eq(p.team_rules[0].min[TZ_MISSION_FIRST_SECRETARY], 1);
    ck_assert_int_eq(p.team_rules[0].min[TZ_MISSION_TEAM_MEMBER], 1);
    ck_assert_int_eq(p.team_rules[0].min[TZ_MISSION_TOWNSHIP_LIAISON], 1);
    ck_assert_int_eq(p.team_rules[0].min_total, 3);
    ck_assert_uint_eq(p.team_rules[1].ncategories, 4);
    ck_assert_int_eq(p.team_rules[1].min[TZ_MISSION_FIRST_SECRETARY], 1);
    ck_assert_int_eq(p.team_rules[1].min[TZ_MISSION_TEAM_MEMBER], 0);
    ck_assert_str_eq(p.team_rules[2].categories[0], "community");

    ck_assert_uint_eq(p.nallowance, 2);
    ck_assert_str_eq(p.allowance[0].unit_level, "city");
    ck_assert_int_eq(p.allowance[0].fen_per_day, 10000);
    ck_assert_str_eq(p.allowance[1].unit_level, "county");
    ck_assert_int_eq(p.allowance[1].fen_per_day, 10000);
    ck_assert_str_eq(p.allowance[1].clause, "六(四)");

    ck_assert_str_eq(p.unit_teams.unit_level, "city");
    ck_assert_uint_eq(p.unit_teams.nbands, 3);
    ck_assert_int_eq(p.unit_teams.bands[0].max_staff, 50);
    ck_assert_int_eq(p.unit_teams.bands[0].teams, 1);
    ck_assert_int_eq(p.unit_teams.bands[1].max_staff, 100);
    ck_assert_int_eq(p.unit_teams.bands[1].teams, 2);
    ck_assert_int_eq(p.unit_teams.bands[2].max_staff, 0);
    ck_assert_int_eq(p.unit_teams.bands[2].teams, 3);
    /* 五(三) 予以问责 names no consequence */
    static const tz_profile_recall_consequences none;
    ck_assert(memcmp(&p.recall_consequences, &none, sizeof none) == 0);
}
END_TEST

START_TEST(daan_2017)
{
    static tz_profile p;
    load(&p, "daan-2017");
    ck_assert_int_eq(p.term.min_years, 2);
    ck_assert_str_eq(p.term.clause, "三(一)");
    const tz_profile_eligibility *fs = &p.eligibility[TZ_MISSION_FIRST_SECRETARY];
    ck_assert(fs->present && fs->party_member);
    ck_assert_uint_eq(fs->nemployment, 0);
    ck_assert_str_eq(fs->clause, "一");
    ROLES(&p.dispatch_approval[TZ_MISSION_FIRST_SECRETARY].signers, "county_org_dept");
    ck_assert_str_eq(p.dispatch_approval[TZ_MISSION_FIRST_SECRETARY].clause, "四");
    ROLES(&p.attendance.signers, "township_party_secretary", "village_party_secretary");
    ck_assert_int_eq(p.attendance.min_days, 0); /* the notice sets no days */
    ck_assert_uint_eq(p.spot_check.signers.n, 0);

    ROLES(&p.recall.signers, "county_org_dept", "dispatching_unit");
    ck_assert_uint_eq(p.recall.nreasons, 3);
    ck_assert_str_eq(p.recall.reasons[0].code, "not_competent");
    ck_assert_str_eq(p.recall.reasons[1].code, "dissatisfaction_over_30");
    ck_assert_str_eq(p.recall.reasons[2].code, "discipline");
    ck_assert_str_eq(p.recall.reasons[2].clause, "三(二)");

    ROLES(&p.assessment.signers, "county_org_dept");
    ck_assert_int_eq(p.assessment.recalled_max_grade, TZ_GRADE_COMPETENT);
    ck_assert_str_eq(p.assessment.recalled_clause, "三(二)");
    ck_assert_int_eq(p.assessment.excellent_quota_percent, 20);
    ck_assert_str_eq(p.assessment.quota_clause, "三(二)");
    ck_assert_uint_eq(p.assessment.ncaps, 0);

    ck_assert_uint_eq(p.nteam_rules, 1);
    ck_assert_uint_eq(p.team_rules[0].ncategories, 0); /* every village and community */
    ck_assert_int_eq(p.team_rules[0].min[TZ_MISSION_FIRST_SECRETARY], 1);

    const tz_profile_recall_consequences *rc = &p.recall_consequences;
    ck_assert_int_eq(rc->no_excellent_that_year, 1);
    ck_assert_str_eq(rc->no_excellent_clause, "三(二)");
    ck_assert_int_eq(rc->reserve_lost, 1);
    ck_assert_str_eq(rc->reserve_clause, "三(二)");
    ck_assert_int_eq(rc->no_promotion_years, 2);
    ck_assert_str_eq(rc->promotion_clause, "三(二)");
    ck_assert_int_eq(rc->incompetent_no_promotion_years, 0);
    ck_assert_int_eq(rc->unit_leaders_no_excellent_on_recall, 0);
    ck_assert_int_eq(rc->unit_head_no_excellent, 0);
    ck_assert_int_eq(rc->unit_recalls_in_year, 2);
    ck_assert_int_eq(rc->unit_recalls_score_deducted, 1);
    ck_assert_int_eq(rc->unit_recalls_head_no_excellent, 1);
    ck_assert_int_eq(rc->unit_recalls_deputy_no_excellent, 0);
    ck_assert_str_eq(rc->unit_recalls_clause, "三(二)");
}
END_TEST

/* ---- every quote is in its seed ---------------------------------------- */

typedef struct quote_walk {
    const char *seed;
    size_t rules, quotes, missing;
    char first_missing[640]; /* path and text of the first quote not in the seed */
} quote_walk;

static void walk_quotes(const json_t *v, const char *path, quote_walk *w)
{
    char child[512];
    if (json_is_array(v)) {
        size_t i;
        const json_t *item;
        json_array_foreach(v, i, item) {
            snprintf(child, sizeof child, "%s[%zu]", path, i);
            walk_quotes(item, child, w);
        }
        return;
    }
    if (!json_is_object(v))
        return;
    const json_t *clause = json_object_get(v, "clause"), *quote = json_object_get(v, "quote");
    ck_assert_msg((clause == NULL) == (quote == NULL), "%s: clause and quote go together", path);
    if (quote != NULL) {
        w->rules++;
        ck_assert_msg(json_is_string(clause) && json_string_length(clause) > 0,
                      "%s.clause: empty", path);
        size_t n = json_is_array(quote) ? json_array_size(quote) : 1;
        ck_assert_msg(n > 0, "%s.quote: empty array", path);
        for (size_t i = 0; i < n; i++) {
            const json_t *q = json_is_array(quote) ? json_array_get(quote, i) : quote;
            ck_assert_msg(json_is_string(q) && json_string_length(q) > 0, "%s.quote: empty", path);
            if (strstr(w->seed, json_string_value(q)) == NULL && w->missing++ == 0)
                snprintf(w->first_missing, sizeof w->first_missing, "%s.quote: %s", path,
                         json_string_value(q));
            w->quotes++;
        }
    }
    const char *key;
    const json_t *member;
    json_object_foreach((json_t *)v, key, member) {
        snprintf(child, sizeof child, "%s.%s", path, key);
        walk_quotes(member, child, w);
    }
}

START_TEST(quotes_are_verbatim_in_seeds)
{
    static const size_t min_rules[NFILES] = { 32, 15, 12, 14 };
    for (size_t f = 0; f < NFILES; f++) {
        char path[512];
        snprintf(path, sizeof path, SEEDS "%s", files[f].seed);
        quote_walk w = { .seed = tz_test_read_file(path, NULL) };
        snprintf(path, sizeof path, PROFILES "%s.json", files[f].id);
        json_error_t jerr;
        json_t *doc = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
        ck_assert_msg(doc != NULL, "%s: %s", path, jerr.text);
        ck_assert_str_eq(json_string_value(json_object_get(doc, "id")), files[f].id);
        walk_quotes(doc, "profile", &w);
        ck_assert_msg(w.missing == 0, "%s: %zu quotes not verbatim in %s, first %s", files[f].id,
                      w.missing, files[f].seed, w.first_missing);
        ck_assert_msg(w.rules >= min_rules[f], "%s: only %zu rules", files[f].id, w.rules);
        ck_assert_uint_ge(w.quotes, w.rules);
        json_decref(doc);
        free((void *)w.seed);
    }
}
END_TEST

/* The quote checker itself: a quote that is not in the seed is caught. */
START_TEST(quote_walk_catches_a_paraphrase)
{
    json_t *doc = json_loads("{\"a\":[{\"clause\":\"1\",\"quote\":[\"请假5天以内\","
                             "\"连续请假五天以内\"]}]}",
                             0, NULL);
    ck_assert_ptr_nonnull(doc);
    quote_walk w = { .seed = "第一书记连续请假5天以内由镇党委批准" };
    walk_quotes(doc, "profile", &w);
    ck_assert_uint_eq(w.rules, 1);
    ck_assert_uint_eq(w.quotes, 2);
    ck_assert_uint_eq(w.missing, 1);
    ck_assert_str_eq(w.first_missing, "profile.a[0].quote: 连续请假五天以内");
    json_decref(doc);
}
END_TEST

/* ---- invalid profiles -------------------------------------------------- */

#define HEAD "{\"id\":\"t-1\",\"title\":\"t\",\"source\":\"s\",\"issued\":\"2021-01-01\""
#define CQ "\"clause\":\"§1\",\"quote\":\"q\""
#define TIER(d, a) "{\"max_days\":" #d ",\"approver\":\"" a "\"," CQ "}"

static const struct {
    const char *json, *want;
} invalid[] = {
    { "[]", "profile: must be an object" },
    { "{\"title\":\"t\",\"source\":\"s\",\"issued\":\"2021-01-01\"}", "profile.id: missing" },
    { HEAD ",\"bogus\":1}", "profile.bogus: unknown member" },
    { HEAD ",\"\":1}", "profile.: unknown member" },
    { "{\"id\":\"Shiquan 2021\",\"title\":\"t\",\"source\":\"s\",\"issued\":\"2021-01-01\"}",
      "profile.id: \"Shiquan 2021\": only a-z, 0-9 and '-'" },
    { "{\"id\":\"a-very-long-profile-identifier-xy\",\"title\":\"t\",\"source\":\"s\","
      "\"issued\":\"2021-01-01\"}",
      "profile.id: 33 bytes (at most 32)" },
    { "{\"id\":\"t\",\"title\":\"\",\"source\":\"s\",\"issued\":\"2021-01-01\"}",
      "profile.title: must not be empty" },
    { "{\"id\":\"t\",\"title\":\"t\",\"source\":\"s\",\"issued\":\"2021-02-30\"}",
      "profile.issued: must be a date YYYY-MM-DD" },
    { HEAD ",\"term\":{\"min_years\":\"2\"," CQ "}}", "profile.term.min_years: must be an integer" },
    { HEAD ",\"term\":{\"min_years\":null," CQ "}}", "profile.term.min_years: must be an integer" },
    { HEAD ",\"term\":{\"min_years\":0," CQ "}}", "profile.term.min_years: 0 is out of range 1..10" },
    { HEAD ",\"term\":{\"min_years\":-1," CQ "}}",
      "profile.term.min_years: -1 is out of range 1..10" },
    { HEAD ",\"term\":{\"min_years\":9223372036854775807," CQ "}}",
      "profile.term.min_years: 9223372036854775807 is out of range 1..10" },
    { HEAD ",\"term\":{\"min_years\":2,\"quote\":\"q\"}}", "profile.term.clause: missing" },
    { HEAD ",\"term\":{\"min_years\":2,\"clause\":\"§11\"}}", "profile.term.quote: missing" },
    { HEAD ",\"term\":{\"min_years\":2,\"clause\":\"\",\"quote\":\"q\"}}",
      "profile.term.clause: must not be empty" },
    { HEAD ",\"term\":{\"min_years\":2,\"clause\":\"§11\",\"quote\":\"\"}}",
      "profile.term.quote: must not be empty" },
    { HEAD ",\"term\":{\"min_years\":2,\"clause\":\"§11\",\"quote\":[]}}",
      "profile.term.quote: must hold 1..8 strings (has 0)" },
    { HEAD ",\"term\":{\"min_years\":2,\"clause\":\"§11\",\"quote\":[\"q\",\"\"]}}",
      "profile.term.quote[1]: must not be empty" },
    { HEAD ",\"term\":{\"min_years\":2,\"clause\":\"§11\",\"quote\":7}}",
      "profile.term.quote: must be a string" },
    /* 48 bytes: one more than TZ_CLAUSE_MAX - 1 */
    { HEAD ",\"term\":{\"min_years\":2,\"clause\":\"123456789012345678901234567890123456789012345678\","
           "\"quote\":\"q\"}}",
      "profile.term.clause: 48 bytes (at most 47)" },
    { HEAD ",\"term\":{\"min_years\":2,\"clauses\":\"x\"," CQ "}}",
      "profile.term.clauses: unknown member" },
    { HEAD ",\"attendance\":{}}", "profile.attendance: must not be empty" },
    { HEAD ",\"leave\":{\"first_secretary\":[" TIER(5, "township_party_committee") ","
           TIER(10, "county_boss") "]}}",
      "profile.leave.first_secretary[1].approver: unknown role \"county_boss\"" },
    { HEAD ",\"leave\":{\"first_secretary\":[" TIER(10, "county_org_dept") ","
           TIER(5, "county_org_dept") "]}}",
      "profile.leave.first_secretary[1].max_days: tiers must ascend (5 after 10)" },
    { HEAD ",\"leave\":{\"team_member\":[" TIER(5, "county_org_dept") ","
           TIER(5, "county_org_dept") "]}}",
      "profile.leave.team_member[1].max_days: tiers must ascend (5 after 5)" },
    { HEAD ",\"leave\":{\"first_secretary\":[" TIER(0, "county_org_dept") ","
           TIER(5, "county_org_dept") "]}}",
      "profile.leave.first_secretary[1].max_days: comes after a tier with no upper bound" },
    { HEAD ",\"leave\":{\"first_secretary\":[" TIER(1, "cadre") "," TIER(2, "cadre") ","
           TIER(3, "cadre") "," TIER(4, "cadre") "," TIER(5, "cadre") "]}}",
      "profile.leave.first_secretary: 5 tiers (at most 4)" },
    { HEAD ",\"leave\":{\"first_secretary\":[{\"max_days\":5," CQ "}]}}",
      "profile.leave.first_secretary[0].approver: missing" },
    { HEAD ",\"leave\":{\"first_secretary\":[{\"max_days\":5,\"approver\":\"cadre\","
           "\"copy_to\":\"mayor\"," CQ "}]}}",
      "profile.leave.first_secretary[0].copy_to: unknown role \"mayor\"" },
    { HEAD ",\"leave\":{\"chairman\":[" TIER(5, "cadre") "]}}",
      "profile.leave.chairman: unknown member" },
    { HEAD ",\"leave\":{\"first_secretary\":[]}}",
      "profile.leave.first_secretary: must not be empty" },
    { HEAD ",\"eligibility\":{\"chairman\":{\"party_member\":true," CQ "}}}",
      "profile.eligibility.chairman: unknown mission role" },
    { HEAD ",\"eligibility\":{\"first_secretary\":{\"party_member\":1," CQ "}}}",
      "profile.eligibility.first_secretary.party_member: must be true or false" },
    { HEAD ",\"eligibility\":{\"first_secretary\":{\"party_years\":1," CQ "}}}",
      "profile.eligibility.first_secretary.party_years: needs \"party_member\": true" },
    { HEAD ",\"eligibility\":{\"first_secretary\":{\"employment\":[\"contract\"]," CQ "}}}",
      "profile.eligibility.first_secretary.employment[0]: unknown employment kind \"contract\"" },
    { HEAD ",\"eligibility\":{\"team_member\":{\"ranks\":[\"section\",\"section\"]," CQ "}}}",
      "profile.eligibility.team_member.ranks[1]: \"section\" appears twice" },
    { HEAD ",\"eligibility\":{\"team_member\":{" CQ "}}}",
      "profile.eligibility.team_member: sets no condition" },
    { HEAD ",\"dispatch_approval\":{\"first_secretary\":{\"signers\":[]," CQ "}}}",
      "profile.dispatch_approval.first_secretary.signers: must not be empty" },
    { HEAD ",\"dispatch_approval\":{\"first_secretary\":{\"signers\":[\"cadre\",\"inspector\","
           "\"county_org_dept\",\"city_org_dept\",\"dispatching_unit\",\"county_party_secretary\","
           "\"city_party_secretary\"]," CQ "}}}",
      "profile.dispatch_approval.first_secretary.signers: 7 names (at most 6)" },
    { HEAD ",\"dispatch_approval\":{\"first_secretary\":{" CQ "}}}",
      "profile.dispatch_approval.first_secretary.signers: missing" },
    { HEAD ",\"dispatch_approval\":{\"first_secretary\":{\"signers\":[\"authority\"]," CQ "}}}",
      "profile.dispatch_approval.first_secretary.signers[0]: unknown role \"authority\"" },
    { HEAD ",\"attendance\":{\"deadline\":{\"months_after\":1,\"day\":31," CQ "}}}",
      "profile.attendance.deadline.day: 31 is out of range 1..28" },
    { HEAD ",\"attendance\":{\"deadline\":{\"day\":28," CQ "}}}",
      "profile.attendance.deadline.months_after: missing" },
    { HEAD ",\"attendance\":{\"presence\":{\"min_days\":32," CQ "}}}",
      "profile.attendance.presence.min_days: 32 is out of range 1..31" },
    { HEAD ",\"spot_check\":{\"signers\":[\"inspector\"],\"monthly_share_percent\":101," CQ "}}",
      "profile.spot_check.monthly_share_percent: 101 is out of range 1..100" },
    { HEAD ",\"handover\":{" CQ "}}", "profile.handover: sets no rule" },
    { HEAD ",\"recall\":{\"reasons\":[{\"code\":\"promotion\"," CQ "}]}}",
      "profile.recall.reasons[0].code: unknown recall reason \"promotion\"" },
    { HEAD ",\"recall\":{\"reasons\":[{\"code\":\"health\"," CQ "},{\"code\":\"health\"," CQ
           "}]}}",
      "profile.recall.reasons[1].code: \"health\" appears twice" },
    { HEAD ",\"recall\":{\"signed_by\":{\"signers\":\"county_org_dept\"," CQ "}}}",
      "profile.recall.signed_by.signers: must be an array" },
    { HEAD ",\"assessment\":{\"absence_caps\":[{\"absences\":2,\"max_grade\":\"良好\"," CQ "}]}}",
      "profile.assessment.absence_caps[0].max_grade: unknown grade \"良好\"" },
    { HEAD ",\"assessment\":{\"absence_caps\":[{\"absences\":2,\"recall\":true," CQ "},"
           "{\"absences\":1,\"recall\":true," CQ "}]}}",
      "profile.assessment.absence_caps[1].absences: caps must ascend (1 after 2)" },
    { HEAD ",\"assessment\":{\"absence_caps\":[{\"absences\":2," CQ "}]}}",
      "profile.assessment.absence_caps[0]: sets no consequence" },
    { HEAD ",\"assessment\":{\"absence_caps\":[{\"absences\":2,\"max_grade\":\"基本称职\","
           "\"forced_grade\":\"优秀\"," CQ "}]}}",
      "profile.assessment.absence_caps[0].forced_grade: 优秀 is above max_grade 基本称职" },
    { HEAD ",\"assessment\":{\"recalled\":{" CQ "}}}",
      "profile.assessment.recalled.max_grade: missing" },
    { HEAD ",\"assessment\":{\"incompetent_recall\":{\"when\":1," CQ "}}}",
      "profile.assessment.incompetent_recall.when: unknown member" },
    { HEAD ",\"assessment\":{\"excellent_quota\":{\"percent\":0," CQ "}}}",
      "profile.assessment.excellent_quota.percent: 0 is out of range 1..100" },
    { HEAD ",\"team\":[{" CQ "}]}", "profile.team[0]: sets no minimum" },
    { HEAD ",\"team\":[{\"categories\":[\"slum\"],\"min_total\":3," CQ "}]}",
      "profile.team[0].categories[0]: unknown village category \"slum\"" },
    { HEAD ",\"team\":[{\"min\":{\"leader\":1}," CQ "}]}",
      "profile.team[0].min.leader: unknown mission role" },
    { HEAD ",\"team\":{\"min_total\":3," CQ "}}", "profile.team: must be an array of rules" },
    { HEAD ",\"allowance\":[{\"fen_per_day\":0," CQ "}]}",
      "profile.allowance[0].fen_per_day: 0 is out of range 1..10000000" },
    { HEAD ",\"allowance\":[{\"unit_level\":\"village\",\"fen_per_day\":1," CQ "}]}",
      "profile.allowance[0].unit_level: unknown unit level \"village\"" },
    { HEAD ",\"allowance\":[{\"unit_level\":\"city\",\"fen_per_day\":1," CQ "},"
           "{\"unit_level\":\"city\",\"fen_per_day\":2," CQ "}]}",
      "profile.allowance[1]: a second rate for unit level \"city\"" },
    { HEAD ",\"unit_teams\":{\"bands\":[{\"max_staff\":0,\"teams\":1},{\"max_staff\":9,"
           "\"teams\":2}]," CQ "}}",
      "profile.unit_teams.bands[1].max_staff: comes after a band with no upper bound" },
    { HEAD ",\"unit_teams\":{" CQ "}}", "profile.unit_teams.bands: missing" },
    /* absence caps: the further consequences */
    { HEAD ",\"assessment\":{\"absence_caps\":[{\"absences\":2,\"bonus_cancelled\":1," CQ "}]}}",
      "profile.assessment.absence_caps[0].bonus_cancelled: must be true or false" },
    { HEAD ",\"assessment\":{\"absence_caps\":[{\"absences\":2,\"unit_head_interview\":\"yes\","
           CQ "}]}}",
      "profile.assessment.absence_caps[0].unit_head_interview: must be true or false" },
    { HEAD ",\"assessment\":{\"absence_caps\":[{\"absences\":2,\"reserve_lost\":false,"
           "\"unit_deputy_interview\":false," CQ "}]}}",
      "profile.assessment.absence_caps[0]: sets no consequence" },
    { HEAD ",\"assessment\":{\"absence_caps\":[{\"absences\":2,\"unit_interview\":true," CQ "}]}}",
      "profile.assessment.absence_caps[0].unit_interview: unknown member" },
    /* recall_consequences */
    { HEAD ",\"recall_consequences\":{}}", "profile.recall_consequences: must not be empty" },
    { HEAD ",\"recall_consequences\":[]}", "profile.recall_consequences: must be an object" },
    { HEAD ",\"recall_consequences\":{\"demotion\":{" CQ "}}}",
      "profile.recall_consequences.demotion: unknown member" },
    { HEAD ",\"recall_consequences\":{\"no_excellent_that_year\":true}}",
      "profile.recall_consequences.no_excellent_that_year: must be an object" },
    { HEAD ",\"recall_consequences\":{\"reserve_lost\":{\"years\":2," CQ "}}}",
      "profile.recall_consequences.reserve_lost.years: unknown member" },
    { HEAD ",\"recall_consequences\":{\"reserve_lost\":{\"clause\":\"§1\"}}}",
      "profile.recall_consequences.reserve_lost.quote: missing" },
    { HEAD ",\"recall_consequences\":{\"no_promotion_years\":{" CQ "}}}",
      "profile.recall_consequences.no_promotion_years.years: missing" },
    { HEAD ",\"recall_consequences\":{\"no_promotion_years\":{\"years\":0," CQ "}}}",
      "profile.recall_consequences.no_promotion_years.years: 0 is out of range 1..10" },
    { HEAD ",\"recall_consequences\":{\"incompetent_no_promotion_years\":{\"years\":11," CQ
           "}}}",
      "profile.recall_consequences.incompetent_no_promotion_years.years: 11 is out of range 1..10" },
    { HEAD ",\"recall_consequences\":{\"incompetent_no_promotion_years\":{\"years\":\"2\","
           CQ "}}}",
      "profile.recall_consequences.incompetent_no_promotion_years.years: must be an integer" },
    { HEAD ",\"recall_consequences\":{\"unit_leaders_no_excellent_on_recall\":{" CQ "}}}",
      "profile.recall_consequences.unit_leaders_no_excellent_on_recall.leaders: missing" },
    { HEAD ",\"recall_consequences\":{\"unit_leaders_no_excellent_on_recall\":{\"leaders\":"
           "[\"chairman\"]," CQ "}}}",
      "profile.recall_consequences.unit_leaders_no_excellent_on_recall.leaders[0]: unknown unit "
      "leader \"chairman\"" },
    { HEAD ",\"recall_consequences\":{\"unit_leaders_no_excellent_on_recall\":{\"leaders\":"
           "[\"head\",\"head\"]," CQ "}}}",
      "profile.recall_consequences.unit_leaders_no_excellent_on_recall.leaders[1]: \"head\" "
      "appears twice" },
    { HEAD ",\"recall_consequences\":{\"unit_leaders_no_excellent_on_recall\":{\"leaders\":[],"
           CQ "}}}",
      "profile.recall_consequences.unit_leaders_no_excellent_on_recall.leaders: must not be empty" },
    { HEAD ",\"recall_consequences\":{\"unit_leaders_no_excellent_on_recall\":{\"leaders\":"
           "[\"head\"],\"also_on_incompetent\":\"true\"," CQ "}}}",
      "profile.recall_consequences.unit_leaders_no_excellent_on_recall.also_on_incompetent: must "
      "be true or false" },
    { HEAD ",\"recall_consequences\":{\"unit_recalls_in_year\":{\"score_deducted\":true," CQ
           "}}}",
      "profile.recall_consequences.unit_recalls_in_year.recalls: missing" },
    { HEAD ",\"recall_consequences\":{\"unit_recalls_in_year\":{\"recalls\":1,"
           "\"score_deducted\":true," CQ "}}}",
      "profile.recall_consequences.unit_recalls_in_year.recalls: 1 is out of range 2..12" },
    { HEAD ",\"recall_consequences\":{\"unit_recalls_in_year\":{\"recalls\":2," CQ "}}}",
      "profile.recall_consequences.unit_recalls_in_year: sets no consequence" },
    { HEAD ",\"recall_consequences\":{\"unit_recalls_in_year\":{\"recalls\":2,"
           "\"score_deducted\":false," CQ "}}}",
      "profile.recall_consequences.unit_recalls_in_year: sets no consequence" },
    { HEAD ",\"recall_consequences\":{\"unit_recalls_in_year\":{\"recalls\":2,"
           "\"leaders_no_excellent\":[\"head\",\"deputy\",\"head\"]," CQ "}}}",
      "profile.recall_consequences.unit_recalls_in_year.leaders_no_excellent: 3 names (at most 2)" },
    { HEAD ",\"recall_consequences\":{\"unit_recalls_in_year\":{\"recalls\":2,"
           "\"score_deducted\":true,\"penalty\":5," CQ "}}}",
      "profile.recall_consequences.unit_recalls_in_year.penalty: unknown member" },
};

START_TEST(invalid_profiles_are_refused)
{
    for (size_t i = 0; i < sizeof invalid / sizeof invalid[0]; i++) {
        static tz_profile p;
        tz_err err;
        tz_err_clear(&err);
        int rc = parse_text(&p, invalid[i].json, &err);
        ck_assert_msg(rc == TZ_ERR_INPUT, "case %zu accepted (%d): %s", i, rc, invalid[i].json);
        ck_assert_int_eq(err.code, TZ_ERR_INPUT);
        ck_assert_msg(strstr(err.msg, invalid[i].want) != NULL, "case %zu: got \"%s\", want \"%s\"",
                      i, err.msg, invalid[i].want);
    }
}
END_TEST

/* Edges just inside the limits, and every section at once. */
START_TEST(valid_edges_are_accepted)
{
    static const char *const valid[] = {
        HEAD "}",
        HEAD ",\"term\":{\"min_years\":2,\"clause\":\"12345678901234567890123456789012345678901234567\","
             "\"quote\":[\"a\",\"b\",\"c\",\"d\",\"e\",\"f\",\"g\",\"h\"]}}",
        HEAD ",\"leave\":{\"first_secretary\":[" TIER(1, "cadre") "," TIER(2, "cadre") ","
             TIER(3, "cadre") "," TIER(0, "cadre") "],\"recall_over\":{\"days\":30," CQ "}}}",
        HEAD ",\"assessment\":{\"absence_caps\":[{\"absences\":1,\"max_grade\":\"称职\","
             "\"forced_grade\":\"称职\"," CQ "}]}}",
        HEAD ",\"team\":[{\"min_total\":3," CQ "}],\"allowance\":[{\"fen_per_day\":1," CQ "}],"
             "\"handover\":{\"min_working_days\":15," CQ "}}",
        /* a cap whose only consequence is an interview; every consequence at its limits */
        HEAD ",\"assessment\":{\"absence_caps\":[{\"absences\":1,\"unit_deputy_interview\":true,"
             CQ "}]},\"recall_consequences\":{\"no_excellent_that_year\":{" CQ "},"
             "\"reserve_lost\":{" CQ "},\"no_promotion_years\":{\"years\":1," CQ "},"
             "\"incompetent_no_promotion_years\":{\"years\":10," CQ "},"
             "\"unit_leaders_no_excellent_on_recall\":{\"leaders\":[\"deputy\"]," CQ "},"
             "\"unit_recalls_in_year\":{\"recalls\":12,\"leaders_no_excellent\":[\"deputy\","
             "\"head\"]," CQ "}}}",
    };
    for (size_t i = 0; i < sizeof valid / sizeof valid[0]; i++) {
        static tz_profile p;
        tz_err err;
        tz_err_clear(&err);
        int rc = parse_text(&p, valid[i], &err);
        ck_assert_msg(rc == TZ_OK, "case %zu: %s", i, err.msg);
        ck_assert_str_eq(p.id, "t-1");
    }
    static tz_profile p;
    tz_err err;
    ck_assert_int_eq(parse_text(&p, valid[1], &err), TZ_OK);
    ck_assert_uint_eq(strlen(p.term.clause), TZ_CLAUSE_MAX - 1);
    ck_assert_int_eq(parse_text(&p, valid[2], &err), TZ_OK);
    ck_assert_uint_eq(p.leave.ntiers[TZ_MISSION_FIRST_SECRETARY], 4);
    ck_assert_int_eq(p.leave.tiers[TZ_MISSION_FIRST_SECRETARY][3].max_days, 0);
    ck_assert_int_eq(p.leave.recall_over_days, 30);
    ck_assert_int_eq(parse_text(&p, valid[5], &err), TZ_OK);
    ck_assert_int_eq(p.assessment.caps[0].unit_deputy_interview, 1);
    ck_assert_int_eq(p.assessment.caps[0].max_grade, TZ_GRADE_NONE);
    const tz_profile_recall_consequences *rc = &p.recall_consequences;
    ck_assert(rc->no_excellent_that_year && rc->reserve_lost);
    ck_assert_int_eq(rc->no_promotion_years, 1);
    ck_assert_int_eq(rc->incompetent_no_promotion_years, 10);
    ck_assert(rc->unit_leaders_no_excellent_on_recall && rc->unit_deputy_no_excellent);
    ck_assert(!rc->unit_head_no_excellent && !rc->unit_leaders_no_excellent_on_incompetent);
    ck_assert_int_eq(rc->unit_recalls_in_year, 12);
    ck_assert(rc->unit_recalls_head_no_excellent && rc->unit_recalls_deputy_no_excellent);
    ck_assert(!rc->unit_recalls_score_deducted);
    /* an empty profile sets nothing, and grades stay NONE */
    ck_assert_int_eq(parse_text(&p, valid[0], &err), TZ_OK);
    ck_assert_int_eq(p.term.min_years, 0);
    ck_assert_uint_eq(p.attendance.signers.n, 0);
    ck_assert_int_eq(p.assessment.recalled_max_grade, TZ_GRADE_NONE);
    ck_assert_int_eq(p.recall_consequences.unit_recalls_in_year, 0);
    ck_assert_int_eq(p.recall_consequences.no_promotion_years, 0);
    for (int i = 0; i < 4; i++) {
        ck_assert_int_eq(p.assessment.caps[i].max_grade, TZ_GRADE_NONE);
        ck_assert_int_eq(p.assessment.caps[i].forced_grade, TZ_GRADE_NONE);
    }
}
END_TEST

START_TEST(load_file_errors)
{
    static tz_profile p;
    tz_err err;
    tz_err_clear(&err);
    ck_assert_int_eq(tz_profile_load_file(&p, PROFILES "no-such-profile.json", &err), TZ_ERR_IO);
    ck_assert_ptr_nonnull(strstr(err.msg, "no-such-profile.json"));

    char dir[256], path[320];
    tz_test_tmpdir(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/p.json", dir);
    static const struct {
        const char *text, *want;
    } cases[] = {
        { "{\"id\":", "line 1" },
        { HEAD ",\"id\":\"t-2\"}", "duplicate object key" },
        { HEAD ",\"allowance\":[{\"fen_per_day\":60.5," CQ "}]}",
          "profile.allowance[0].fen_per_day: float values are not allowed" },
        { HEAD ",\"term\":{\"min_years\":0," CQ "}}", "profile.term.min_years: 0 is out of range" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        tz_test_write_file(path, cases[i].text, strlen(cases[i].text));
        tz_err_clear(&err);
        ck_assert_int_eq(tz_profile_load_file(&p, path, &err), TZ_ERR_INPUT);
        ck_assert_msg(strstr(err.msg, cases[i].want) != NULL, "case %zu: %s", i, err.msg);
        ck_assert_msg(strstr(err.msg, "p.json") != NULL, "case %zu names no file: %s", i, err.msg);
    }
    ck_assert_int_eq(tz_profile_load_file(NULL, path, &err), TZ_ERR_USAGE);
    tz_test_rmtree(dir);
}
END_TEST

/* Parsing twice gives the same bytes: nothing is left uninitialised. */
START_TEST(parse_is_deterministic)
{
    for (size_t f = 0; f < NFILES; f++) {
        tz_profile *a = malloc(sizeof *a), *b = malloc(sizeof *b);
        ck_assert(a != NULL && b != NULL);
        memset(a, 0xAA, sizeof *a);
        memset(b, 0x55, sizeof *b);
        load(a, files[f].id);
        load(b, files[f].id);
        ck_assert_msg(memcmp(a, b, sizeof *a) == 0, "%s", files[f].id);
        free(a);
        free(b);
    }
}
END_TEST

/* ---- names ------------------------------------------------------------- */

START_TEST(names_round_trip)
{
    static const char *const grades[] = { "不称职", "基本称职", "称职", "优秀" };
    for (int g = TZ_GRADE_INCOMPETENT; g <= TZ_GRADE_EXCELLENT; g++) {
        const char *name = tz_grade_name((tz_grade)g);
        ck_assert_str_eq(name, grades[g]);
        ck_assert_int_eq(tz_grade_parse(name, strlen(name)), g);
    }
    ck_assert_str_eq(tz_grade_name(TZ_GRADE_NONE), "");
    ck_assert_str_eq(tz_grade_name((tz_grade)4), "");
    ck_assert_int_eq(tz_grade_parse("良好", strlen("良好")), TZ_GRADE_NONE);
    ck_assert_int_eq(tz_grade_parse("称职", 3), TZ_GRADE_NONE); /* a prefix is no grade */
    ck_assert_int_eq(tz_grade_parse("基本称职x", strlen("基本称职")), TZ_GRADE_BASIC);
    ck_assert_int_eq(tz_grade_parse(NULL, 0), TZ_GRADE_NONE);
    /* a cap is a maximum: the order of the enum is the order of the grades */
    ck_assert(TZ_GRADE_INCOMPETENT < TZ_GRADE_BASIC && TZ_GRADE_BASIC < TZ_GRADE_COMPETENT &&
              TZ_GRADE_COMPETENT < TZ_GRADE_EXCELLENT);

    static const char *const roles[] = { "first_secretary", "team_member", "township_liaison" };
    for (int r = 0; r < TZ_MISSION_COUNT; r++) {
        ck_assert_str_eq(tz_mission_role_name((tz_mission_role)r), roles[r]);
        ck_assert_int_eq(tz_mission_role_parse(roles[r], strlen(roles[r])), r);
    }
    ck_assert_str_eq(tz_mission_role_name(TZ_MISSION_COUNT), "");
    ck_assert_int_eq(tz_mission_role_parse("team", 4), TZ_MISSION_COUNT);
    ck_assert_int_eq(tz_mission_role_parse("first_secretary", 5), TZ_MISSION_COUNT);
    ck_assert_int_eq(tz_mission_role_parse(NULL, 0), TZ_MISSION_COUNT);

    static const char *const labels[][2] = {
        { "county_org_dept", "county org dept" },
        { "rural_revitalisation_bureau", "rural revitalisation bureau" },
        { "township_party_secretary", "township party secretary" },
        { "inspector", "inspector" },
        { "", "" },
    };
    for (size_t i = 0; i < sizeof labels / sizeof labels[0]; i++) {
        char out[64];
        tz_profile_role_label(out, sizeof out, labels[i][0]);
        ck_assert_str_eq(out, labels[i][1]);
        /* and back: the label with '_' for ' ' is the role */
        for (char *c = out; *c != '\0'; c++)
            if (*c == ' ')
                *c = '_';
        ck_assert_str_eq(out, labels[i][0]);
    }
    char small[7];
    memset(small, 'x', sizeof small);
    tz_profile_role_label(small, sizeof small, "county_org_dept");
    ck_assert_str_eq(small, "county"); /* cut, NUL-terminated, never overflowed */
    small[0] = 'x';
    tz_profile_role_label(small, 0, "county_org_dept");
    ck_assert_int_eq(small[0], 'x');
    tz_profile_role_label(small, sizeof small, NULL);
    ck_assert_str_eq(small, "");
}
END_TEST

/* Every role name a profile file uses labels and parses back through a
 * profile (the parser accepts exactly the names of key.grant). */
START_TEST(every_role_is_accepted)
{
    static const char *const all[] = {
        "county_org_dept",          "rural_revitalisation_bureau", "city_org_dept",
        "provincial_org_dept",      "county_party_secretary",      "city_party_secretary",
        "township_party_committee", "township_party_secretary",    "village_party_secretary",
        "dispatching_unit",         "inspector",                   "cadre",
    };
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) {
        char json[512];
        snprintf(json, sizeof json,
                 HEAD ",\"spot_check\":{\"signers\":[\"%s\"]," CQ "}}", all[i]);
        static tz_profile p;
        tz_err err;
        ck_assert_msg(parse_text(&p, json, &err) == TZ_OK, "%s: %s", all[i], err.msg);
        ck_assert_str_eq(p.spot_check.signers.names[0], all[i]);
    }
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("profile");
    TCase *files_tc = tcase_create("files");
    tcase_add_test(files_tc, shiquan_2021);
    tcase_add_test(files_tc, guizhou_2018);
    tcase_add_test(files_tc, guyuan_2018);
    tcase_add_test(files_tc, daan_2017);
    tcase_add_test(files_tc, quotes_are_verbatim_in_seeds);
    tcase_add_test(files_tc, quote_walk_catches_a_paraphrase);
    tcase_add_test(files_tc, parse_is_deterministic);
    suite_add_tcase(s, files_tc);
    TCase *parse_tc = tcase_create("parse");
    tcase_add_test(parse_tc, invalid_profiles_are_refused);
    tcase_add_test(parse_tc, valid_edges_are_accepted);
    tcase_add_test(parse_tc, load_file_errors);
    suite_add_tcase(s, parse_tc);
    TCase *names_tc = tcase_create("names");
    tcase_add_test(names_tc, names_round_trip);
    tcase_add_test(names_tc, every_role_is_accepted);
    suite_add_tcase(s, names_tc);
    return s;
}

int main(void) { return tz_test_main(make_suite); }
