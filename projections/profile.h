/*
 * profile.h: policy profiles, the rules of one jurisdiction as data.
 *
 * Counties do not share one rulebook: 石泉 (shiquan-2021), 贵州 (guizhou-2018),
 * 固原 (guyuan-2018) and 大安 (daan-2017) each set their own leave tiers,
 * absence consequences, approval chains and quotas. None of those numbers
 * is in the code. A profile is a JSON document (profiles/<id>.json,
 * schema in docs/PROFILES.md) adopted on the chain by a `policy.adopt`
 * entry that embeds it, so a replay years later applies exactly the text
 * that was in force. The decide step reads the parsed form below.
 *
 * Every rule carries its clause (e.g. "§13(2)"), and every rejection built
 * from a rule names it as "(<profile id> <clause>)". A rule that a profile
 * does not have is absent (count 0, value 0), never defaulted: the code
 * applies only what the adopted document says.
 *
 * The parser is strict: unknown members, wrong types, unknown role names,
 * grades or codes are refused with the JSON path and the rule, so a typo
 * in a profile cannot silently switch a rule off.
 */
#ifndef TZ_PROJECTIONS_PROFILE_H
#define TZ_PROJECTIONS_PROFILE_H

#include <msgpack.h>
#include <stddef.h>
#include <stdint.h>

#include "util/status.h"

#define TZ_PROFILE_ID_MAX 32
#define TZ_CLAUSE_MAX 48      /* "§13(2)", "6.6.1", "三(二)" (UTF-8 bytes) */
#define TZ_PROFILE_ROLE_MAX 40
#define TZ_PROFILE_MAX_ROLES 6
#define TZ_PROFILE_CODE_MAX 32

/* The three mission roles of a dispatch (选派). */
typedef enum tz_mission_role {
    TZ_MISSION_FIRST_SECRETARY = 0, /* 第一书记 */
    TZ_MISSION_TEAM_MEMBER,         /* 工作队员 */
    TZ_MISSION_TOWNSHIP_LIAISON,    /* 包村干部 */
    TZ_MISSION_COUNT
} tz_mission_role;

/* Annual grades, ordered so that a cap is a maximum. */
typedef enum tz_grade {
    TZ_GRADE_NONE = -1,
    TZ_GRADE_INCOMPETENT = 0, /* 不称职 */
    TZ_GRADE_BASIC = 1,       /* 基本称职 */
    TZ_GRADE_COMPETENT = 2,   /* 称职 */
    TZ_GRADE_EXCELLENT = 3,   /* 优秀 */
} tz_grade;

/* A set of key roles (names as in key.grant). Whether one or all of them
 * must sign is said where the set is used. */
typedef struct tz_profile_roles {
    size_t n;
    char names[TZ_PROFILE_MAX_ROLES][TZ_PROFILE_ROLE_MAX + 1];
} tz_profile_roles;

/* Who may be dispatched in one mission role (选派条件). */
typedef struct tz_profile_eligibility {
    int present;                 /* 0: the profile sets no condition */
    int party_member;            /* must be a full party member (正式党员) */
    int party_years;             /* with at least this many years of membership at start */
    size_t nemployment;          /* allowed employment kinds; 0 = any */
    char employment[4][16];      /* "permanent" "temporary" "seconded" "service" */
    size_t nranks;               /* allowed ranks; 0 = any */
    char ranks[6][24];           /* "division" "division_reserve" "section" "section_reserve" "staff" */
    char clause[TZ_CLAUSE_MAX];
} tz_profile_eligibility;

/* One leave tier: up to max_days consecutive days (0 = no upper bound). */
typedef struct tz_profile_leave_tier {
    int max_days;
    char approver[TZ_PROFILE_ROLE_MAX + 1]; /* must sign leave.approve */
    char applicant[TZ_PROFILE_ROLE_MAX + 1];/* "" = the cadre; else this role must sign leave.request */
    char copy_to[TZ_PROFILE_ROLE_MAX + 1];  /* 备案 (informational), "" = none */
    char clause[TZ_CLAUSE_MAX];
} tz_profile_leave_tier;

/* A grade consequence of absences found by spot checks in one year. */
typedef struct tz_profile_absence_cap {
    int absences;                /* applies from this many absences on */
    tz_grade max_grade;          /* the best grade allowed (NONE: no cap) */
    tz_grade forced_grade;       /* the only grade allowed (NONE: not forced) */
    int recall;                  /* the profile orders a recall */
    char clause[TZ_CLAUSE_MAX];
    /* Further consequences of the same clause (shiquan-2021 §13(4),
     * guizhou-2018 6.6.1); 0 when the profile does not say so. */
    int reserve_lost;            /* 取消后备干部资格: reserve-cadre status cancelled */
    int bonus_cancelled;         /* 取消年度目标(绩效)考核奖励: annual bonus cancelled */
    int unit_deputy_interview;   /* 约谈派出单位分管领导: the unit's deputy head is interviewed */
    int unit_head_interview;     /* 约谈派出单位主要领导: the unit's head is interviewed */
} tz_profile_absence_cap;

typedef struct tz_profile_recall_reason {
    char code[TZ_PROFILE_CODE_MAX];
    char clause[TZ_CLAUSE_MAX];
} tz_profile_recall_reason;

/* Minimum team of one village of some categories (findings, not rejections). */
typedef struct tz_profile_team_rule {
    size_t ncategories;          /* 0 = every category */
    char categories[6][24];
    int min[TZ_MISSION_COUNT];
    int min_total;
    char clause[TZ_CLAUSE_MAX];
} tz_profile_team_rule;

/* Daily living allowance by the level of the dispatching unit, in fen. */
typedef struct tz_profile_allowance_rate {
    char unit_level[16];         /* "province" "city" "county" "township" ("" = any) */
    int64_t fen_per_day;
    char clause[TZ_CLAUSE_MAX];
} tz_profile_allowance_rate;

/* What a recall (召回), or a 不称职 grade, costs the cadre and the
 * dispatching unit: for the projections to show per person and per
 * unit (findings, not rejections). Every value 0 / "": no rule. "head"
 * is the unit's 主要领导 (主要负责人), "deputy" its 分管领导. */
typedef struct tz_profile_recall_consequences {
    /* the recalled cadre */
    int no_excellent_that_year;  /* 当年不得评先评优: no 优秀, no commendation that year */
    char no_excellent_clause[TZ_CLAUSE_MAX];
    int reserve_lost;            /* reserve-cadre (后备干部) status cancelled */
    char reserve_clause[TZ_CLAUSE_MAX];
    int no_promotion_years;      /* not promoted for this many years after the recall */
    char promotion_clause[TZ_CLAUSE_MAX];
    /* a cadre graded 不称职 */
    int incompetent_no_promotion_years; /* not promoted for this many years after the grade */
    char incompetent_promotion_clause[TZ_CLAUSE_MAX];
    /* the dispatching unit of a recalled cadre (and, if the flag says
     * so, of one graded 不称职): these leaders may not be 优秀 that year */
    int unit_leaders_no_excellent_on_recall;
    int unit_leaders_no_excellent_on_incompetent;
    int unit_head_no_excellent;
    int unit_deputy_no_excellent;
    char unit_leaders_clause[TZ_CLAUSE_MAX];
    /* a unit that has this many of its cadres (first secretaries in
     * daan-2017) recalled within one year; 0: no rule */
    int unit_recalls_in_year;
    int unit_recalls_score_deducted;      /* 扣减派出单位目标绩效综合考评分值 */
    int unit_recalls_head_no_excellent;   /* its head may not be 优秀 that year */
    int unit_recalls_deputy_no_excellent; /* its deputy head may not be 优秀 that year */
    char unit_recalls_clause[TZ_CLAUSE_MAX];
} tz_profile_recall_consequences;

typedef struct tz_profile {
    char id[TZ_PROFILE_ID_MAX + 1];

    struct { int min_years; char clause[TZ_CLAUSE_MAX]; } term;   /* min_years 0: no rule */

    tz_profile_eligibility eligibility[TZ_MISSION_COUNT];
    /* every role of the set must sign (in the entry or by cosign) */
    struct { tz_profile_roles signers; char clause[TZ_CLAUSE_MAX]; } dispatch_approval[TZ_MISSION_COUNT];

    struct {
        tz_profile_roles signers;    /* all must sign (双签字) */
        char clause[TZ_CLAUSE_MAX];
        int due_months_after;        /* the sheet of month M is due on due_day of M + this */
        int due_day;                 /* 0: no deadline */
        char due_clause[TZ_CLAUSE_MAX];
        int min_days;                /* days in village per month (finding) */
        int official_business_counts;/* 外出开会、培训 count as in village */
        char min_days_clause[TZ_CLAUSE_MAX];
    } attendance;

    struct {
        tz_profile_roles signers;    /* any one */
        int monthly_share_percent;   /* townships check this share each month (finding) */
        char clause[TZ_CLAUSE_MAX];
    } spot_check;

    struct {
        size_t ntiers[TZ_MISSION_COUNT];
        tz_profile_leave_tier tiers[TZ_MISSION_COUNT][4]; /* ascending max_days */
        int recall_over_days;        /* leave longer than this means recall; 0: no rule */
        char recall_clause[TZ_CLAUSE_MAX];
    } leave;

    struct {
        int min_working_days;        /* 0: no rule */
        tz_profile_roles signers;    /* besides both cadres: any one of these */
        char clause[TZ_CLAUSE_MAX];
    } handover;

    struct {
        tz_profile_roles signers;    /* any one */
        char clause[TZ_CLAUSE_MAX];
        size_t nreasons;             /* the only reasons a term may be cut short for */
        tz_profile_recall_reason reasons[10];
    } recall;

    struct {
        tz_profile_roles signers;    /* any one */
        char clause[TZ_CLAUSE_MAX];
        int more_than_half_year;     /* only cadres stationed > half the year */
        char eligibility_clause[TZ_CLAUSE_MAX];
        size_t ncaps;
        tz_profile_absence_cap caps[4]; /* ascending absences */
        tz_grade recalled_max_grade; /* NONE: no rule */
        char recalled_clause[TZ_CLAUSE_MAX];
        int excellent_quota_percent; /* of first secretaries; 0: no quota */
        char quota_clause[TZ_CLAUSE_MAX];
        int incompetent_recall;      /* 不称职 means immediate recall (finding) */
        char incompetent_clause[TZ_CLAUSE_MAX];
    } assessment;

    size_t nteam_rules;
    tz_profile_team_rule team_rules[4];

    size_t nallowance;
    tz_profile_allowance_rate allowance[4];

    /* How many teams a dispatching unit sends, by its staff size (guyuan-2018
     * 二(一): 市直部门单位 of <=50 / 51-100 / >=101 staff send 1 / 2 / 3
     * teams). Band i covers staff up to bands[i].max_staff (0 = no upper
     * bound, last band only), ascending. Findings only. nbands 0: no rule. */
    struct {
        char unit_level[16];         /* the units it applies to ("" = any) */
        size_t nbands;
        struct { int max_staff; int teams; } bands[4];
        char clause[TZ_CLAUSE_MAX];
    } unit_teams;

    tz_profile_recall_consequences recall_consequences;
} tz_profile;

/* Parses a profile from its msgpack form (the body.profile of a
 * policy.adopt statement, which is the canonical encoding of the JSON file).
 * On error *out is unspecified and err names the path ("profile.leave.
 * first_secretary[1].approver: unknown role \"county_boss\""). TZ_ERR_INPUT
 * only. Grades a profile does not set are TZ_GRADE_NONE, everything else
 * absent is 0 / "". Only the clause of each rule is kept (its quote is
 * checked to be present and non-empty, then dropped). */
int tz_profile_parse(tz_profile *out, const msgpack_object *obj, tz_err *err) TZ_MUST_CHECK;

/* Reads and parses profiles/<file>.json style documents (tests, the scenario
 * generator and the CLI): the JSON (duplicate members refused) is put in its
 * canonical msgpack form, exactly as a policy.adopt entry would embed it, and
 * that is parsed. TZ_ERR_IO when the file cannot be opened or read;
 * TZ_ERR_INPUT for bad JSON (with line and column), reals, or a profile the
 * parser refuses; TZ_ERR_NOMEM; TZ_ERR_USAGE for NULL arguments. */
int tz_profile_load_file(tz_profile *out, const char *path, tz_err *err) TZ_MUST_CHECK;

/* Mission role names: "first_secretary" "team_member" "township_liaison". */
const char *tz_mission_role_name(tz_mission_role role);
/* TZ_MISSION_COUNT when s[0..len) is no mission role. */
tz_mission_role tz_mission_role_parse(const char *s, size_t len);

/* Grade names are the Chinese terms of the documents: "优秀" "称职" "基本称职" "不称职". */
const char *tz_grade_name(tz_grade grade);
/* TZ_GRADE_NONE when s[0..len) is no grade. */
tz_grade tz_grade_parse(const char *s, size_t len);

/* A readable role name for messages: "county_org_dept" -> "county org dept". */
void tz_profile_role_label(char *out, size_t cap, const char *role);

#endif
