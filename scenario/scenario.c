/*
 * scenario.c: a deterministic county ledger (see scenario.h).
 *
 * Design. The generator first PLANS the whole story in memory, then WRITES
 * it. Planning decides, with one seeded random stream, who is dispatched
 * where and when, every cadre's code for every day of the story (P in the
 * village, B official business, L approved leave, A absent, - not
 * stationed), the leaves, absences, recalls and rotations, and turns each
 * act into a statement with its `at` time and its signers. Because the day
 * codes are decided first, every record agrees with every other: an
 * attendance sheet codes L exactly on the days of an approved leave, a
 * spot check finds a cadre absent only on a day coded A, a 3rd absence is
 * followed by a recall and the annual grade respects the caps.
 *
 * Writing sorts the statements by `at` (ties: the order they were
 * planned), numbers them (every one must be accepted, so seqs are known in
 * advance and a cosign can name its target's seq and statement hash), signs
 * them and appends them in group commits, feeding the simulated clock the
 * recorded_at of each submission in turn (`at` plus one to five minutes,
 * never decreasing). The decide step calls the clock once per new
 * submission; if it called it more often the times would only shift within
 * a group, never run backwards.
 *
 * Workload: the default county (36 villages, ~110 cadres, 24 months) is
 * about 7,000 entries; the scale knob multiplies everything (villages,
 * units, cadres) and the entries with it. Planned statements are kept
 * encoded (a few hundred bytes each), not as JSON.
 *
 * The rules followed are read from the adopted profile (signers, leave
 * tiers, due day, share of spot checks, handover working days, absence
 * caps, recall reasons), so the plan is the profile's; the decide step
 * remains the judge.
 */
#include "scenario/scenario.h"

#include <dirent.h>
#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <msgpack.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "crypto/hash.h"
#include "crypto/key.h"
#include "crypto/keyfile.h"
#include "ledger/entry.h"
#include "ledger/ledger.h"
#include "ledger/statement.h"
#include "projections/calendar.h"
#include "projections/profile.h"
#include "util/encoding.h"
#include "util/fs.h"
#include "util/time.h"

#define COUNTY_ID "shiquan"
#define COUNTY_NAME "石泉县"
#define CITY_ID "ankang"
#define PROVINCE_ID "shaanxi"
#define DEFAULT_ORIGIN "taizhang.example/shiquan-demo"
#define SEED_LABEL "taizhang-scenario/v1"
#define MAX_SIGNERS 4
#define MAX_YEARS 3             /* calendar years a story of <= 24 months touches */
#define OPEN_END INT64_MAX

/* ---- deterministic randomness (splitmix64) -------------------------------- */

typedef struct rng {
    uint64_t s;
} rng;

static uint64_t rng_next(rng *r)
{
    uint64_t z = (r->s += 0x9e3779b97f4a7c15u);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

/* 0..n-1 (0 when n <= 1). */
static int rng_below(rng *r, int n)
{
    return n <= 1 ? 0 : (int)(rng_next(r) % (uint64_t)n);
}

static int rng_range(rng *r, int lo, int hi)
{
    return hi <= lo ? lo : lo + rng_below(r, hi - lo + 1);
}

static int rng_pct(rng *r, int pct)
{
    return rng_below(r, 100) < pct;
}

/* ---- dates and times ------------------------------------------------------ */



/* The first day on or after day that is weekday wd (0 = Monday). */
static int64_t on_or_after(int64_t day, int wd)
{
    while (tz_calendar_weekday(day) != wd)
        day++;
    return day;
}

static int is_weekend(int64_t day)
{
    return tz_calendar_weekday(day) >= 5;
}

/* Seconds since the epoch of local (China, UTC+8) day at h:m:s. */
static int64_t at_time(int64_t day, int h, int m, int s)
{
    return day * 86400 + h * 3600 + m * 60 + s - 8 * 3600;
}

/* `at` in the one spelling the ledger accepts, China time. */
static void fmt_at(char out[32], int64_t t)
{
    int64_t local = t + 8 * 3600;
    int64_t day = local >= 0 ? local / 86400 : -((-local + 86399) / 86400);
    int64_t sec = local - day * 86400;
    int y;
    unsigned m, d;
    tz_time_civil_from_days(day, &y, &m, &d);
    snprintf(out, 32, "%04d-%02u-%02uT%02d:%02d:%02d+08:00", y, m, d, (int)(sec / 3600),
             (int)(sec / 60 % 60), (int)(sec % 60));
}

static void fmt_day(char out[11], int64_t day)
{
    tz_time_format_date(out, day);
}

/* ---- names ---------------------------------------------------------------- */

static const char *const surnames[] = {
    "王", "李", "张", "刘", "陈", "杨", "黄", "赵", "吴", "周", "徐", "孙", "马", "朱", "胡",
    "郭", "何", "高", "林", "罗", "郑", "梁", "谢", "宋", "唐", "许", "韩", "冯", "邓", "曹",
    "彭", "曾", "肖", "田", "董", "袁", "潘", "蒋", "蔡", "余", "杜", "叶", "程", "苏", "魏",
    "吕", "丁", "任", "沈", "姚", "卢", "姜", "崔", "钟", "谭", "陆", "汪", "范", "金", "石",
    "廖", "贾", "夏", "付", "方", "白", "邹", "孟", "熊", "秦", "邱", "江", "尹", "薛", "段",
    "雷", "侯", "龙", "史", "陶", "贺", "顾", "毛", "郝", "龚", "邵", "万", "严", "戴", "向"};

static const char *const given_chars[] = {
    "伟", "芳", "娜", "敏", "静", "丽", "强", "磊", "军", "洋", "勇", "艳", "杰", "娟", "涛",
    "明", "超", "秀", "霞", "平", "刚", "桂", "英", "华", "玉", "兰", "红", "建", "国", "文",
    "斌", "鹏", "辉", "波", "宁", "飞", "云", "亮", "峰", "林", "海", "晨", "欣", "怡", "浩",
    "宇", "俊", "志", "春", "梅", "琳", "雪", "婷", "鑫", "凯", "旭", "健", "佳", "新", "荣",
    "德", "成", "安", "永", "忠", "小", "红", "秋", "长", "福"};

typedef struct syllable {
    const char *zh, *py;
} syllable;

static const syllable place_first[] = {
    {"东", "dong"}, {"西", "xi"}, {"南", "nan"}, {"北", "bei"}, {"新", "xin"}, {"红", "hong"},
    {"青", "qing"}, {"金", "jin"}, {"石", "shi"}, {"双", "shuang"}, {"龙", "long"},
    {"凤", "feng"}, {"高", "gao"}, {"长", "chang"}, {"马", "ma"}, {"柳", "liu"}, {"杨", "yang"},
    {"桥", "qiao"}, {"白", "bai"}, {"黄", "huang"}, {"大", "da"}, {"小", "xiao"},
    {"上", "shang"}, {"中", "zhong"}, {"前", "qian"}, {"后", "hou"}, {"梨", "li"},
    {"桃", "tao"}, {"竹", "zhu"}, {"松", "song"}, {"茶", "cha"}, {"联", "lian"},
    {"胜", "sheng"}, {"光", "guang"}, {"明", "ming"}, {"永", "yong"}, {"安", "an"},
    {"兴", "xing"}, {"太", "tai"}, {"银", "yin"}};

static const syllable place_second[] = {
    {"坝", "ba"}, {"沟", "gou"}, {"坪", "ping"}, {"湾", "wan"}, {"岭", "ling"}, {"岩", "yan"},
    {"庄", "zhuang"}, {"园", "yuan"}, {"关", "guan"}, {"垭", "ya"}, {"池", "chi"}, {"溪", "xi"},
    {"梁", "liang"}, {"口", "kou"}, {"峰", "feng"}, {"营", "ying"}, {"岗", "gang"},
    {"川", "chuan"}, {"台", "tai"}, {"坡", "po"}, {"塘", "tang"}, {"铺", "pu"}, {"田", "tian"},
    {"林", "lin"}, {"河", "he"}, {"寨", "zhai"}, {"堡", "bao"}, {"湖", "hu"}, {"山", "shan"},
    {"垣", "yuan"}};

static const syllable real_townships[] = {
    {"城关镇", "chengguan"}, {"饶峰镇", "raofeng"}, {"两河镇", "lianghe"}, {"迎丰镇", "yingfeng"},
    {"池河镇", "chihe"}, {"后柳镇", "houliu"}, {"喜河镇", "xihe"}, {"熨斗镇", "yundou"},
    {"云雾山镇", "yunwushan"}, {"中池镇", "zhongchi"}, {"曾溪镇", "zengxi"}};

static const syllable county_units[] = {
    {"石泉县交通运输局", "jiaotong"}, {"石泉县财政局", "caizheng"},
    {"石泉县教育体育局", "jiaoti"}, {"石泉县卫生健康局", "weijian"},
    {"石泉县住房和城乡建设局", "zhujian"}, {"石泉县农业农村局", "nongye"},
    {"石泉县水利局", "shuili"}, {"石泉县自然资源局", "ziran"},
    {"石泉县人社局", "renshe"}, {"石泉县民政局", "minzheng"},
    {"石泉县市场监管局", "shijian"}, {"石泉县林业局", "linye"},
    {"石泉县文化和旅游广电局", "wenlv"}, {"石泉县发展和改革局", "fagai"},
    {"石泉县统计局", "tongji"}, {"石泉县商务局", "shangwu"},
    {"中共石泉县委宣传部", "xuanchuan"}, {"中共石泉县委统战部", "tongzhan"},
    {"石泉县公安局", "gongan"}, {"石泉县司法局", "sifa"}, {"石泉县审计局", "shenji"},
    {"国网石泉县供电分公司", "gongdian"}, {"石泉县农村信用合作联社", "xinyongshe"},
    {"石泉县医院", "yiyuan"}, {"石泉中学", "zhongxue"}};

/* Reasons for leave, by length: up to 5 days, 6..10, longer. */
static const char *const leave_reasons[3][4] = {
    {"回家探亲", "本人生病就医", "处理家中急事", "子女开家长会"},
    {"父亲住院陪护", "母亲住院陪护", "办理婚事", "配偶生育陪护"},
    {"本人手术住院治疗", "配偶生育陪护 (产假)", "父亲重病陪护", "本人住院治疗"}};

static const char *const village_categories[] = {"poverty", "relocation", "demonstration",
                                                 "weak_party_org", "ordinary", "community"};
static const int category_weights[] = {30, 15, 10, 10, 25, 10};

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

/* ---- the world ------------------------------------------------------------- */

enum { END_OPEN, END_RECALL, END_HANDOVER };
enum { SCRIPT_NONE, SCRIPT_THIRD_ABSENCE, SCRIPT_HEALTH, SCRIPT_LEAVE30, SCRIPT_INCOMPETENT,
       SCRIPT_ROTATE_OUT };

typedef struct skey {
    tz_secret_key sk;
    char file[80];               /* file name in keys_dir */
    char roles[80];              /* for keys.tsv */
    char scope[80];
    char holder[160];
} skey;

typedef struct township {
    char id[48], name[48];
    int k_committee, k_secretary;
} township;

typedef struct village {
    char id[48], name[48];
    int township, category, k_secretary;
    int team_members;            /* planned at the start */
} village;

typedef struct unit {
    char id[64], name[80];
    const char *level;
    int staff, key, township;
} unit;

typedef struct person {
    char id[16], name[16];
    int unit, key;               /* key -1: none (never dispatched) */
    const char *employment, *rank;
    int64_t party_since;         /* INT64_MIN: not a full party member */
    /* the one dispatch of the story (role -1: none) */
    int role, village;
    int64_t start, planned_end, end; /* end: OPEN_END, or the recall / handover date */
    int64_t dispatch_day, grant_day;
    int end_kind, script, replaces;  /* replaces: person index or -1 */
    int64_t script_day;          /* recall date, leave start or handover start */
    char dispatch_id[96];
    char *codes;                 /* codes[day - d0] for the story's days */
    int absences[MAX_YEARS];
    int checked_month;           /* 1 + the month of the latest spot check */
} person;

typedef struct event {
    int64_t t;                   /* `at`, seconds since the epoch */
    const char *type;            /* static */
    char *id;
    uint8_t *bytes;              /* the statement (a cosign: built when written) */
    size_t len;
    uint8_t hash[32];
    int nsig;
    int sig[MAX_SIGNERS];        /* key indices */
    int target;                  /* a cosign: the event co-signed, else -1 */
    uint64_t seq;                /* when written */
} event;

typedef struct absent_check {
    int person;
    int64_t day;
} absent_check;

typedef struct leave_span {
    int person;
    int64_t from, to;
} leave_span;

typedef struct world {
    int months, start_year, start_month;
    uint64_t seed;
    int64_t setup_day, d0, d1;
    int nd;
    int64_t mfirst[TZ_SCENARIO_MAX_MONTHS + 1], mlast[TZ_SCENARIO_MAX_MONTHS + 1];
    tz_profile *prof;
    tz_calendar *cal;
    json_t *profile_doc, *calendar_doc;
    rng r;

    skey *keys;
    int nkeys, capkeys;
    int k_root, k_org, k_bureau, k_inspector;
    tz_secret_key log;

    township *tw;
    int ntw;
    village *vil;
    int nvil;
    unit *units;
    int nunits;
    person *ppl;
    int nppl, cappl;

    event *ev;
    size_t nev, capev;
    absent_check *absent;
    size_t nabsent, capabsent;
    leave_span *leaves;          /* every leave requested, refused ones too */
    size_t nleaves, capleaves;
    int *by_village;             /* dispatched persons by village, index order within */
    int *vstart;                 /* by_village[vstart[v] .. vstart[v + 1]) */
    msgpack_sbuffer sb;

    int need3;                   /* absences that order a recall (the profile's cap) */
    tz_scenario_stats *st;
    int rc;                      /* sticky: the first error of planning */
    tz_err *err;
} world;

/* Records the first error of planning; later calls are ignored. */
static void world_fail(world *w, int code, const char *fmt, ...) TZ_PRINTF(3, 4);
static void world_fail(world *w, int code, const char *fmt, ...)
{
    if (w->rc != TZ_OK)
        return;
    w->rc = code;
    if (w->err != NULL) {
        va_list ap;
        va_start(ap, fmt);
        w->err->code = code;
        vsnprintf(w->err->msg, sizeof w->err->msg, fmt, ap);
        va_end(ap);
    }
}

static void *grow(world *w, void *p, size_t elem, size_t *cap, size_t need)
{
    if (need <= *cap)
        return p;
    size_t ncap = *cap ? *cap * 2 : 64;
    while (ncap < need)
        ncap *= 2;
    void *q = realloc(p, ncap * elem);
    if (q == NULL) {
        world_fail(w, TZ_ERR_NOMEM, "scenario: out of memory");
        return NULL;
    }
    memset((char *)q + *cap * elem, 0, (ncap - *cap) * elem);
    *cap = ncap;
    return q;
}

/* ---- keys ----------------------------------------------------------------- */

/* Derives key `label` from the seed: SHA-256(SEED_LABEL \n seed \n label). */
static void derive(world *w, tz_secret_key *out, const char *name, const char *label)
{
    char buf[256];
    int n = snprintf(buf, sizeof buf, "%s\n%llu\n%s", SEED_LABEL, (unsigned long long)w->seed,
                     label);
    uint8_t seed[32];
    tz_hash_sha256(seed, buf, (size_t)n);
    tz_err e;
    if (tz_key_from_seed(out, name, seed, &e) != TZ_OK)
        world_fail(w, e.code, "scenario: key %s: %s", label, e.msg);
    memset(seed, 0, sizeof seed);
}

/* A new key named name (a valid key name), file file in keys_dir. Returns its index or -1. */
static int key_new(world *w, const char *name, const char *file, const char *roles,
                   const char *scope, const char *holder)
{
    size_t cap = (size_t)w->capkeys;
    skey *k = grow(w, w->keys, sizeof *w->keys, &cap, (size_t)w->nkeys + 1);
    if (k == NULL)
        return -1;
    w->keys = k;
    w->capkeys = (int)cap;
    skey *s = &w->keys[w->nkeys];
    snprintf(s->file, sizeof s->file, "%s", file);
    snprintf(s->roles, sizeof s->roles, "%s", roles);
    snprintf(s->scope, sizeof s->scope, "%s", scope);
    snprintf(s->holder, sizeof s->holder, "%s", holder);
    derive(w, &s->sk, name, file);
    return w->rc == TZ_OK ? w->nkeys++ : -1;
}

static void vkey_of(world *w, char out[TZ_KEY_STRING_MAX], int k)
{
    tz_err e;
    out[0] = '\0';
    if (k < 0 || tz_key_format_public(out, TZ_KEY_STRING_MAX, &w->keys[k].sk.pub, &e) != TZ_OK)
        world_fail(w, TZ_ERR_INTERNAL, "scenario: key %d cannot be formatted", k);
}

/* The key holding role for acts concerning person p (its village, township,
 * unit, or itself), or -1 when the scenario does not model that office. */
static int key_for_role(const world *w, const char *role, const person *p)
{
    if (strcmp(role, "county_org_dept") == 0)
        return w->k_org;
    if (strcmp(role, "rural_revitalisation_bureau") == 0)
        return w->k_bureau;
    if (strcmp(role, "inspector") == 0)
        return w->k_inspector;
    if (p == NULL)
        return -1;
    if (strcmp(role, "dispatching_unit") == 0)
        return w->units[p->unit].key;
    if (strcmp(role, "cadre") == 0)
        return p->key;
    if (p->village < 0)
        return -1;
    const village *v = &w->vil[p->village];
    if (strcmp(role, "township_party_committee") == 0)
        return w->tw[v->township].k_committee;
    if (strcmp(role, "township_party_secretary") == 0)
        return w->tw[v->township].k_secretary;
    if (strcmp(role, "village_party_secretary") == 0)
        return v->k_secretary;
    return -1;
}

static int role_listed(const tz_profile_roles *roles, const char *role)
{
    for (size_t i = 0; i < roles->n; i++)
        if (strcmp(roles->names[i], role) == 0)
            return 1;
    return 0;
}

/* The key of the first role of roles that the scenario models, preferring
 * `prefer` when the profile lists it. -1 when none is modelled. */
static int key_any(const world *w, const tz_profile_roles *roles, const char *prefer,
                   const person *p)
{
    if (prefer != NULL && role_listed(roles, prefer))
        return key_for_role(w, prefer, p);
    for (size_t i = 0; i < roles->n; i++) {
        int k = key_for_role(w, roles->names[i], p);
        if (k >= 0)
            return k;
    }
    return -1;
}

/* ---- events ---------------------------------------------------------------- */

static event *ev_new(world *w)
{
    event *e = grow(w, w->ev, sizeof *w->ev, &w->capev, w->nev + 1);
    if (e == NULL)
        return NULL;
    w->ev = e;
    e = &w->ev[w->nev];
    memset(e, 0, sizeof *e);
    e->target = -1;
    return e;
}

/* Plans statement {type, id, at t, body} (body consumed) signed by keys
 * sig[0..nsig) (entries < 0 are dropped). Returns the event's index, or -1
 * (error recorded in w). */
static int ev_add(world *w, int64_t t, const char *type, const char *id, json_t *body,
                  const int *sig, int nsig)
{
    if (w->rc != TZ_OK || body == NULL) {
        if (body == NULL)
            world_fail(w, TZ_ERR_NOMEM, "scenario: %s %s: out of memory", type, id);
        json_decref(body);
        return -1;
    }
    char at[32];
    fmt_at(at, t);
    json_t *obj = json_pack("{s:s,s:s,s:s,s:o}", "type", type, "id", id, "at", at, "body", body);
    if (obj == NULL) {
        world_fail(w, TZ_ERR_NOMEM, "scenario: %s %s: out of memory", type, id);
        return -1;
    }
    w->sb.size = 0;
    tz_err e;
    int rc = tz_statement_from_json(&w->sb, obj, &e);
    json_decref(obj);
    if (rc != TZ_OK) {
        world_fail(w, rc, "scenario: %s %s: %s", type, id, e.msg);
        return -1;
    }
    event *ev = ev_new(w);
    if (ev == NULL)
        return -1;
    ev->t = t;
    ev->type = type;
    ev->id = strdup(id);
    ev->bytes = malloc(w->sb.size);
    if (ev->id == NULL || ev->bytes == NULL) {
        free(ev->id);
        free(ev->bytes);
        world_fail(w, TZ_ERR_NOMEM, "scenario: out of memory");
        return -1;
    }
    memcpy(ev->bytes, w->sb.data, w->sb.size);
    ev->len = w->sb.size;
    tz_hash_sha256(ev->hash, ev->bytes, ev->len);
    for (int i = 0; i < nsig; i++) {
        int dup = sig[i] < 0;
        for (int j = 0; j < ev->nsig && !dup; j++)
            dup = ev->sig[j] == sig[i];
        if (!dup && ev->nsig < MAX_SIGNERS)
            ev->sig[ev->nsig++] = sig[i];
    }
    if (ev->nsig == 0) {
        free(ev->id);
        free(ev->bytes);
        world_fail(w, TZ_ERR_INTERNAL, "scenario: %s %s has no signer", type, id);
        return -1;
    }
    return (int)w->nev++;
}

#define SIGNED(...) (const int[]){__VA_ARGS__}, (int)(sizeof((const int[]){__VA_ARGS__}) / sizeof(int))

/* Plans a cosign of event target by key at t (built when written). */
static void ev_cosign(world *w, int64_t t, int target, int key)
{
    if (w->rc != TZ_OK || target < 0)
        return;
    if (key < 0) {
        world_fail(w, TZ_ERR_INTERNAL, "scenario: cosign of %s without a key",
                   w->ev[target].id);
        return;
    }
    if (t <= w->ev[target].t)
        t = w->ev[target].t + 60;
    event *e = ev_new(w);
    if (e == NULL)
        return;
    e->t = t;
    e->type = "cosign";
    e->target = target;
    e->nsig = 1;
    e->sig[0] = key;
    w->nev++;
}

/* ---- the county ----------------------------------------------------------- */

static void person_name(world *w, char out[16])
{
    const char *s = surnames[rng_below(&w->r, COUNT(surnames))];
    const char *g1 = given_chars[rng_below(&w->r, COUNT(given_chars))];
    if (rng_pct(&w->r, 30))
        snprintf(out, 16, "%s%s", s, g1);
    else
        snprintf(out, 16, "%s%s%s", s, g1, given_chars[rng_below(&w->r, COUNT(given_chars))]);
}

/* A place name from the syllable tables with an ASCII id unique among
 * ids[0..n) (stride bytes apart). */
static void place_name(world *w, char *name, size_t ncap, char *id, size_t icap,
                       const char *suffix, const char *ids, size_t stride, int n)
{
    const syllable *a = &place_first[rng_below(&w->r, COUNT(place_first))];
    const syllable *b = &place_second[rng_below(&w->r, COUNT(place_second))];
    snprintf(name, ncap, "%s%s%s", a->zh, b->zh, suffix);
    char base[24];
    snprintf(base, sizeof base, "%s%s", a->py, b->py);
    snprintf(id, icap, "%s", base);
    for (int tries = 2;; tries++) {
        int clash = 0;
        for (int i = 0; i < n && !clash; i++)
            clash = strcmp(ids + (size_t)i * stride, id) == 0;
        if (!clash)
            return;
        snprintf(id, icap, "%s%d", base, tries);
    }
}

static const char *pick_rank(world *w, tz_mission_role role)
{
    const tz_profile_eligibility *e = &w->prof->eligibility[role];
    if (e->present && e->nranks > 0)
        return e->ranks[rng_below(&w->r, (int)e->nranks)];
    int x = rng_below(&w->r, 100);
    if (role == TZ_MISSION_FIRST_SECRETARY)
        return x < 45 ? "section" : x < 85 ? "section_reserve" : x < 95 ? "division_reserve"
                                                                          : "division";
    return x < 60 ? "staff" : x < 80 ? "section_reserve" : x < 90 ? "section" : "none";
}

/* A new registered person of unit u; role -1 for staff who are never
 * dispatched (temporary, seconded, service). Returns the index or -1. */
static int person_new(world *w, int u, int role)
{
    size_t cap = (size_t)w->cappl;
    person *pp = grow(w, w->ppl, sizeof *w->ppl, &cap, (size_t)w->nppl + 1);
    if (pp == NULL)
        return -1;
    w->ppl = pp;
    w->cappl = (int)cap;
    int i = w->nppl++;
    person *p = &w->ppl[i];
    memset(p, 0, sizeof *p);
    snprintf(p->id, sizeof p->id, "p%04d", i + 1);
    person_name(w, p->name);
    p->unit = u;
    p->role = -1;
    p->village = -1;
    p->key = -1;
    p->replaces = -1;
    p->end = OPEN_END;
    p->party_since = INT64_MIN;
    int64_t d0 = w->d0;
    if (role == TZ_MISSION_FIRST_SECRETARY) {
        /* full member for 3 to 28 years: eligible under any profile's party_years */
        p->party_since = tz_time_add_years(d0, -rng_range(&w->r, 3, 28)) - rng_below(&w->r, 300);
        p->employment = "permanent";
        p->rank = pick_rank(w, TZ_MISSION_FIRST_SECRETARY);
    } else if (role == TZ_MISSION_TEAM_MEMBER) {
        const tz_profile_eligibility *e = &w->prof->eligibility[TZ_MISSION_TEAM_MEMBER];
        int x = rng_below(&w->r, 100);
        if ((e->present && e->party_member) || x < 45)
            p->party_since = tz_time_add_years(d0, -rng_range(&w->r, 2 + (e->party_years > 0 ?
                                                                   e->party_years : 0), 22)) -
                             rng_below(&w->r, 300);
        else if (x < 60)
            p->party_since = d0 - rng_range(&w->r, 60, 300); /* joined last year */
        p->employment = "permanent";
        p->rank = pick_rank(w, TZ_MISSION_TEAM_MEMBER);
    } else {
        static const char *const kinds[] = {"temporary", "seconded", "service"};
        p->employment = kinds[rng_below(&w->r, 3)];
        p->rank = rng_pct(&w->r, 50) ? "staff" : "none";
        if (rng_pct(&w->r, 40))
            p->party_since = tz_time_add_years(d0, -rng_range(&w->r, 2, 15));
    }
    if (role >= 0) {
        char name[48], file[80], scope[40], holder[160];
        snprintf(name, sizeof name, "%s@%s", p->name, p->id);
        snprintf(file, sizeof file, "cadre-%s.key", p->id);
        snprintf(scope, sizeof scope, "person:%s", p->id);
        snprintf(holder, sizeof holder, "%s (%s)", p->name, w->units[u].name);
        p->key = key_new(w, name, file, "cadre", scope, holder);
    }
    return w->rc == TZ_OK ? i : -1;
}

/* A unit for a cadre of village v: a township government of v's township
 * now and then, else a county body. */
static int pick_unit(world *w, int v)
{
    int tw = w->vil[v].township;
    if (rng_pct(&w->r, 25))
        for (int u = 0; u < w->nunits; u++)
            if (w->units[u].township == tw)
                return u;
    int county = 0;
    for (int u = 0; u < w->nunits; u++)
        county += w->units[u].township < 0;
    int pick = rng_below(&w->r, county);
    for (int u = 0; u < w->nunits; u++)
        if (w->units[u].township < 0 && pick-- == 0)
            return u;
    return rng_below(&w->r, w->nunits);
}

static int team_min(const world *w, int category, tz_mission_role role)
{
    int m = 0;
    for (size_t i = 0; i < w->prof->nteam_rules; i++) {
        const tz_profile_team_rule *r = &w->prof->team_rules[i];
        int covers = r->ncategories == 0;
        for (size_t c = 0; c < r->ncategories && !covers; c++)
            covers = strcmp(r->categories[c], village_categories[category]) == 0;
        if (covers && r->min[role] > m)
            m = r->min[role];
    }
    return m;
}

static void build_county(world *w, int ntw, int nvil)
{
    w->tw = calloc((size_t)ntw, sizeof *w->tw);
    w->vil = calloc((size_t)nvil, sizeof *w->vil);
    int nunits = nvil * 5 / 12 > 3 ? nvil * 5 / 12 : 3;
    w->units = calloc((size_t)nunits, sizeof *w->units);
    if (w->tw == NULL || w->vil == NULL || w->units == NULL) {
        world_fail(w, TZ_ERR_NOMEM, "scenario: out of memory");
        return;
    }
    w->ntw = ntw;
    w->nvil = nvil;
    w->nunits = nunits;
    char holder[160], name[192], file[80], scope[80];
    for (int t = 0; t < ntw; t++) {
        township *x = &w->tw[t];
        if ((size_t)t < COUNT(real_townships)) {
            snprintf(x->name, sizeof x->name, "%s", real_townships[t].zh);
            snprintf(x->id, sizeof x->id, "%s", real_townships[t].py);
        } else {
            place_name(w, x->name, sizeof x->name, x->id, sizeof x->id, "镇", w->tw[0].id,
                       sizeof *w->tw, t);
        }
        char who[16];
        person_name(w, who);
        snprintf(scope, sizeof scope, "township:%s", x->id);
        snprintf(name, sizeof name, "%s党委@%s", x->name, x->id);
        snprintf(file, sizeof file, "township-%s-committee.key", x->id);
        snprintf(holder, sizeof holder, "%s党委", x->name);
        x->k_committee = key_new(w, name, file, "township_party_committee", scope, holder);
        snprintf(name, sizeof name, "%s党委书记@%s", x->name, x->id);
        snprintf(file, sizeof file, "township-%s-secretary.key", x->id);
        snprintf(holder, sizeof holder, "%s党委书记 %s", x->name, who);
        x->k_secretary = key_new(w, name, file, "township_party_secretary", scope, holder);
    }
    for (int v = 0; v < nvil; v++) {
        village *x = &w->vil[v];
        x->township = (int)((int64_t)v * ntw / nvil);
        int pick = rng_below(&w->r, 100), c = 0;
        while (pick >= category_weights[c]) {
            pick -= category_weights[c];
            c++;
        }
        x->category = c;
        place_name(w, x->name, sizeof x->name, x->id, sizeof x->id,
                   c == 5 ? "社区" : "村", w->vil[0].id, sizeof *w->vil, v);
        char who[16];
        person_name(w, who);
        snprintf(name, sizeof name, "%s党组织书记@%s", x->name, x->id);
        snprintf(file, sizeof file, "village-%s-secretary.key", x->id);
        snprintf(scope, sizeof scope, "village:%s", x->id);
        snprintf(holder, sizeof holder, "%s%s %s", x->name, c == 5 ? "党委书记" : "党支部书记",
                 who);
        x->k_secretary = key_new(w, name, file, "village_party_secretary", scope, holder);
        x->team_members = 2;
    }
    int ntgov = nunits / 5 < ntw ? nunits / 5 : ntw;
    if (ntgov < 1)
        ntgov = 1;
    for (int u = 0; u < nunits; u++) {
        unit *x = &w->units[u];
        x->township = -1;
        if (u < ntgov) {
            township *t = &w->tw[u * ntw / ntgov];
            x->township = (int)(t - w->tw);
            snprintf(x->name, sizeof x->name, "%s人民政府", t->name);
            snprintf(x->id, sizeof x->id, "%s-gov", t->id);
            x->level = "township";
            x->staff = rng_range(&w->r, 30, 80);
        } else {
            int c = u - ntgov;
            if ((size_t)c < COUNT(county_units)) {
                snprintf(x->name, sizeof x->name, "%s", county_units[c].zh);
                snprintf(x->id, sizeof x->id, "%s", county_units[c].py);
            } else {
                snprintf(x->name, sizeof x->name, "%s直属单位%d", COUNTY_NAME, c + 1);
                snprintf(x->id, sizeof x->id, "county-unit-%d", c + 1);
            }
            x->level = "county";
            x->staff = rng_range(&w->r, 40, 180);
        }
        snprintf(name, sizeof name, "%s@%s", x->name, x->id);
        snprintf(file, sizeof file, "unit-%s.key", x->id);
        snprintf(scope, sizeof scope, "unit:%s", x->id);
        x->key = key_new(w, name, file, "dispatching_unit", scope, x->name);
    }
    /* a few villages of the categories that need a full team are sent one
     * team member only: a finding for the team-composition rule */
    int nshort = nvil / 12 > 1 ? nvil / 12 : 1;
    for (int tries = 0; nshort > 0 && tries < nvil * 4; tries++) {
        village *x = &w->vil[rng_below(&w->r, nvil)];
        if (x->team_members == 2 && team_min(w, x->category, TZ_MISSION_TEAM_MEMBER) >= 2) {
            x->team_members = 1;
            nshort--;
        }
    }
}

/* ---- the plan of people ---------------------------------------------------- */

/* The last day person p is stationed (end, else planned end). */
static int64_t last_day(const person *p)
{
    return p->end != OPEN_END ? p->end : p->planned_end;
}

static void set_dispatch(world *w, person *p, int v, int role, int64_t start, int64_t dday)
{
    p->village = v;
    p->role = role;
    p->start = start;
    p->planned_end = tz_time_add_years(start, 2) - 1;
    p->dispatch_day = dday;
    if (p->grant_day == 0)
        p->grant_day = dday - 2;
    snprintf(p->dispatch_id, sizeof p->dispatch_id, "dispatch/%s/%s", w->vil[v].id, p->id);
}

/* A person of p's unit registered to take over p's post (same role). */
static int reserve_for(world *w, int pi, int64_t start, int64_t dday)
{
    int u = w->ppl[pi].unit, role = w->ppl[pi].role, v = w->ppl[pi].village;
    int r = person_new(w, u, role);
    if (r < 0)
        return -1;
    person *q = &w->ppl[r];
    q->replaces = pi;
    q->grant_day = dday - 2;
    set_dispatch(w, q, v, role, start, dday);
    return r;
}

/* Initial people (one first secretary and the team members of every
 * village), scripted events with their reserves, and staff who are never
 * dispatched. */
static void plan_people(world *w)
{
    int64_t start0 = on_or_after(w->d0 + 7, 0);
    for (int v = 0; v < w->nvil && w->rc == TZ_OK; v++) {
        int64_t dday = w->d0 + 1 + v % 4;
        for (int k = 0; k <= w->vil[v].team_members; k++) {
            int role = k == 0 ? TZ_MISSION_FIRST_SECRETARY : TZ_MISSION_TEAM_MEMBER;
            int i = person_new(w, pick_unit(w, v), role);
            if (i < 0)
                return;
            w->ppl[i].grant_day = w->setup_day + 2;
            set_dispatch(w, &w->ppl[i], v, role, start0, dday);
        }
    }
    int ninitial = w->nppl;
    int y1 = tz_time_year_of(w->d0) + (w->start_month > 4);
    const tz_profile *p = w->prof;
    int has_third = 0, has_health = 0, has_leave = 0, has_incompetent = 0;
    for (size_t i = 0; i < p->recall.nreasons; i++) {
        has_third |= strcmp(p->recall.reasons[i].code, "third_absence") == 0;
        has_health |= strcmp(p->recall.reasons[i].code, "health") == 0;
        has_leave |= strcmp(p->recall.reasons[i].code, "leave_over_30_days") == 0;
        has_incompetent |= strcmp(p->recall.reasons[i].code, "grade_incompetent") == 0;
    }
    has_leave &= p->leave.recall_over_days > 0;

    /* rotations in the second year: the outgoing cadre's term (begun before
     * the ledger) ends, a new cadre of the same unit is dispatched to the
     * village and the two hand over for at least the profile's working days */
    static const int offsets[] = {19, 110, 264, 165, 320, 50, 200, 80, 140, 230, 290, 35};
    int nrot = w->nvil / 9 > 1 ? w->nvil / 9 : 1;
    int min_wd = p->handover.min_working_days > 0 ? p->handover.min_working_days : 10;
    for (int k = 0; k < nrot && w->rc == TZ_OK && p->handover.signers.n > 0; k++) {
        int off = (size_t)k < COUNT(offsets) ? offsets[k] : 20 + k * 37 % 300;
        int64_t hs = on_or_after(w->d0 + 365 + off, 0), done;
        tz_err e;
        if (tz_calendar_add_working(w->cal, hs, min_wd + rng_below(&w->r, 3), &done, &e) != TZ_OK) {
            world_fail(w, TZ_ERR_INPUT, "scenario: calendar: %s", e.msg);
            return;
        }
        if (done + 10 > w->d1)
            continue;
        int pi = -1;
        for (int tries = 0; tries < 50 && pi < 0; tries++) {
            int c = rng_below(&w->r, ninitial);
            if (w->ppl[c].script == SCRIPT_NONE &&
                w->ppl[c].role == (k % 2 ? TZ_MISSION_TEAM_MEMBER : TZ_MISSION_FIRST_SECRETARY))
                pi = c;
        }
        if (pi < 0)
            continue;
        person *out = &w->ppl[pi];
        /* the outgoing term: two years ending about six weeks after the handover starts */
        int64_t start = tz_time_add_years(hs + 45, -2);
        set_dispatch(w, out, out->village, out->role, start, out->dispatch_day);
        out->script = SCRIPT_ROTATE_OUT;
        out->script_day = hs;
        out->end = done;
        out->end_kind = END_HANDOVER;
        reserve_for(w, pi, hs - 7, hs - 10);
    }

    /* recalls, each followed by a replacement from the same unit */
    typedef struct scripted {
        int script, role;
        int64_t day;
    } scripted;
    /* the default county (36 villages) has two of the first kind and one of
     * each other; a bigger county more, a few days apart */
    int extra = w->nvil / 60;
    scripted *recalls = calloc((size_t)(6 + 4 * extra), sizeof *recalls);
    if (recalls == NULL) {
        world_fail(w, TZ_ERR_NOMEM, "scenario: out of memory");
        return;
    }
    int nrec = 0;
    for (int k = 0; has_third && k < 1 + (w->nvil >= 30) + extra; k++)
        recalls[nrec++] = (scripted){SCRIPT_THIRD_ABSENCE, k % 2,
                                     tz_time_days_from_civil(y1, 7 + (unsigned)(k % 4), 1)};
    for (int k = 0; has_health && k <= extra; k++)
        recalls[nrec++] = (scripted){SCRIPT_HEALTH, -1, tz_time_days_from_civil(y1, 9, 12) + 7 * k};
    for (int k = 0; has_incompetent && k <= extra; k++)
        recalls[nrec++] = (scripted){SCRIPT_INCOMPETENT, -1,
                                     tz_time_days_from_civil(y1 + 1, 2, 20) + k};
    for (int k = 0; has_leave && k <= extra; k++)
        recalls[nrec++] = (scripted){SCRIPT_LEAVE30, -1,
                                     on_or_after(tz_time_days_from_civil(y1 + 1, 4, 14), 0) + 7 * k};
    for (int k = 0; k < nrec && w->rc == TZ_OK; k++) {
        int64_t day = recalls[k].day;
        if (day < w->d0 + 60 || day + 45 > w->d1)
            continue;
        if (recalls[k].script == SCRIPT_INCOMPETENT &&
            tz_time_days_from_civil(tz_time_year_of(day) - 1, 1, 1) < w->d0)
            continue; /* graded 不称职 for a whole year of the story first */
        int pi = -1;
        for (int tries = 0; tries < 200 && pi < 0; tries++) {
            int c = rng_below(&w->r, ninitial);
            if (w->ppl[c].script == SCRIPT_NONE &&
                (recalls[k].role < 0 || w->ppl[c].role == recalls[k].role))
                pi = c;
        }
        if (pi < 0)
            continue;
        person *x = &w->ppl[pi];
        x->script = recalls[k].script;
        x->script_day = day;
        int64_t recall = day;
        if (x->script == SCRIPT_THIRD_ABSENCE)
            recall = day + 25; /* day: the month of the third absence; plan_codes fixes it */
        else if (x->script == SCRIPT_LEAVE30)
            recall = day + 9; /* recalled during the leave */
        x->end = recall;
        x->end_kind = END_RECALL;
        if (recall + 17 + 14 <= w->d1)
            reserve_for(w, pi, recall + 17, recall + 14);
    }
    free(recalls);

    /* staff registered but never dispatched (temporary, seconded, service) */
    int ntemp = w->nvil / 7 > 1 ? w->nvil / 7 : 1;
    for (int k = 0; k < ntemp && w->rc == TZ_OK; k++)
        person_new(w, rng_below(&w->r, w->nunits), -1);
}

/* Groups the dispatched persons by village (villages of a township are
 * consecutive, so a township is a range too). */
static void index_people(world *w)
{
    w->vstart = calloc((size_t)w->nvil + 1, sizeof *w->vstart);
    w->by_village = malloc(((size_t)w->nppl + 1) * sizeof *w->by_village);
    if (w->vstart == NULL || w->by_village == NULL) {
        world_fail(w, TZ_ERR_NOMEM, "scenario: out of memory");
        return;
    }
    for (int i = 0; i < w->nppl; i++)
        if (w->ppl[i].role >= 0)
            w->vstart[w->ppl[i].village + 1]++;
    for (int v = 0; v < w->nvil; v++)
        w->vstart[v + 1] += w->vstart[v];
    int *fill = calloc((size_t)w->nvil, sizeof *fill);
    if (fill == NULL) {
        world_fail(w, TZ_ERR_NOMEM, "scenario: out of memory");
        return;
    }
    for (int i = 0; i < w->nppl; i++)
        if (w->ppl[i].role >= 0) {
            int v = w->ppl[i].village;
            w->by_village[w->vstart[v] + fill[v]++] = i;
        }
    free(fill);
}

/* The first village of township t and the one after its last. */
static void township_villages(const world *w, int t, int *first, int *end)
{
    *first = *end = 0;
    while (*first < w->nvil && w->vil[*first].township < t)
        (*first)++;
    *end = *first;
    while (*end < w->nvil && w->vil[*end].township == t)
        (*end)++;
}

/* ---- day codes --------------------------------------------------------------- */

static char *code_at(const world *w, const person *p, int64_t day)
{
    return day < w->d0 || day > w->d1 ? NULL : &p->codes[day - w->d0];
}

static int month_of_day(const world *w, int64_t day)
{
    for (int m = 0; m < w->months; m++)
        if (day >= w->mfirst[m] && day <= w->mlast[m])
            return m;
    return -1;
}

/* A random day of [from, to] coded 'P' (a weekday when there is one), or
 * INT64_MIN. Only days after the dispatch is on the ledger: a dispatch
 * recorded after its start (a term begun before the ledger) covers the days
 * before, but nothing can be checked or excused on them any more. */
static int64_t random_p_day(world *w, const person *p, int64_t from, int64_t to)
{
    int64_t days[40];
    if (from <= p->dispatch_day)
        from = p->dispatch_day + 1;
    int n = 0;
    for (int pass = 0; pass < 2 && n == 0; pass++)
        for (int64_t d = from; d <= to && n < 40; d++) {
            const char *c = code_at(w, p, d);
            if (c != NULL && *c == 'P' && (pass == 1 || !is_weekend(d)))
                days[n++] = d;
        }
    return n == 0 ? INT64_MIN : days[rng_below(&w->r, n)];
}

static void add_absence(world *w, person *p, int64_t day)
{
    *code_at(w, p, day) = 'A';
    int y = tz_time_year_of(day) - tz_time_year_of(w->d0);
    if (y >= 0 && y < MAX_YEARS)
        p->absences[y]++;
    absent_check *a = grow(w, w->absent, sizeof *w->absent, &w->capabsent, w->nabsent + 1);
    if (a == NULL)
        return;
    w->absent = a;
    w->absent[w->nabsent++] = (absent_check){(int)(p - w->ppl), day};
}

/* P on every stationed day, B for a few days of meetings and training a
 * month, then the absences found by spot checks. */
static void plan_codes(world *w)
{
    for (int i = 0; i < w->nppl && w->rc == TZ_OK; i++) {
        person *p = &w->ppl[i];
        if (p->role < 0)
            continue;
        p->codes = malloc((size_t)w->nd);
        if (p->codes == NULL) {
            world_fail(w, TZ_ERR_NOMEM, "scenario: out of memory");
            return;
        }
        memset(p->codes, '-', (size_t)w->nd);
        for (int64_t d = p->start > w->d0 ? p->start : w->d0; d <= last_day(p) && d <= w->d1; d++)
            *code_at(w, p, d) = 'P';
        for (int m = 0; m < w->months; m++) {
            int nb = rng_below(&w->r, 4);
            for (int k = 0; k < nb; k++) {
                int64_t d = random_p_day(w, p, w->mfirst[m], w->mlast[m]);
                if (d != INT64_MIN)
                    *code_at(w, p, d) = 'B';
            }
        }
    }
    /* the scripted third absences: found absent in three months of one
     * year, recalled a few days after the third */
    int need = w->need3;
    for (int i = 0; i < w->nppl && w->rc == TZ_OK; i++) {
        person *p = &w->ppl[i];
        if (p->script != SCRIPT_THIRD_ABSENCE)
            continue;
        int y;
        unsigned m, dd;
        tz_time_civil_from_days(p->script_day, &y, &m, &dd);
        int64_t last = INT64_MIN;
        for (int k = 0; k < need; k++) {
            int mm = (int)m - 2 * (need - 1 - k);
            int64_t from = tz_time_days_from_civil(y, (unsigned)mm, 1);
            int64_t to = tz_time_days_from_civil(y, (unsigned)mm, tz_time_days_in_month(y, (unsigned)mm));
            if (k == need - 1)
                to = from + 20;
            int64_t d = random_p_day(w, p, from > last + 1 ? from : last + 1, to);
            if (d == INT64_MIN) {
                world_fail(w, TZ_ERR_INTERNAL, "scenario: no day to find %s absent", p->id);
                return;
            }
            add_absence(w, p, d);
            last = d;
        }
        /* recalled five days after the third absence */
        for (int64_t d = last + 6; d <= p->end && d <= w->d1; d++)
            *code_at(w, p, d) = '-';
        p->end = last + 5;
        p->script_day = p->end;
        for (int j = 0; j < w->nppl; j++)
            if (w->ppl[j].replaces == i) {
                set_dispatch(w, &w->ppl[j], p->village, p->role, p->end + 17, p->end + 14);
                w->ppl[j].grant_day = p->end + 12;
                memset(w->ppl[j].codes, '-', (size_t)w->nd);
                for (int64_t d = w->ppl[j].start; d <= last_day(&w->ppl[j]) && d <= w->d1; d++)
                    *code_at(w, &w->ppl[j], d) = 'P';
            }
    }
    /* everyone else: most never found absent, some once or twice a year */
    for (int i = 0; i < w->nppl && w->rc == TZ_OK; i++) {
        person *p = &w->ppl[i];
        if (p->role < 0 || p->script == SCRIPT_THIRD_ABSENCE)
            continue;
        for (int y = tz_time_year_of(w->d0); y <= tz_time_year_of(w->d1); y++) {
            int x = rng_below(&w->r, 100);
            int n = x < 72 ? 0 : x < 92 ? 1 : 2;
            if (n >= need)
                n = need - 1;
            for (int k = 0; k < n; k++) {
                int m = rng_below(&w->r, 12) + 1;
                int64_t from = tz_time_days_from_civil(y, (unsigned)m, 1);
                int64_t to = tz_time_days_from_civil(y, (unsigned)m, tz_time_days_in_month(y, (unsigned)m));
                if (p->script != SCRIPT_NONE && to > p->script_day - 10)
                    to = p->script_day - 10;
                int64_t d = random_p_day(w, p, from, to);
                if (d != INT64_MIN)
                    add_absence(w, p, d);
            }
        }
    }
}

/* ---- registries and keys (statements) -------------------------------------- */

/* Bulk set-up acts two seconds apart from day_offset h:00. */
static int64_t setup_t(const world *w, int day_offset, int h, int i)
{
    return at_time(w->setup_day + day_offset, h, 0, 0) + i * 2;
}

static int ev_grant(world *w, int64_t t, int signer, int k)
{
    char vkey[TZ_KEY_STRING_MAX], id[128];
    vkey_of(w, vkey, k);
    snprintf(id, sizeof id, "grant/%s", w->keys[k].file);
    char *dot = strrchr(id, '.');
    if (dot != NULL)
        *dot = '\0';
    json_t *roles = json_array();
    char buf[80];
    snprintf(buf, sizeof buf, "%s", w->keys[k].roles);
    for (char *save = NULL, *r = strtok_r(buf, ",", &save); r; r = strtok_r(NULL, ",", &save))
        json_array_append_new(roles, json_string(r));
    return ev_add(w, t, "key.grant", id,
                  json_pack("{s:s,s:s,s:o,s:s}", "key", vkey, "holder", w->keys[k].holder,
                            "roles", roles, "scope", w->keys[k].scope),
                  SIGNED(signer));
}

static void ev_revoke(world *w, int64_t t, int k, const char *reason)
{
    char vkey[TZ_KEY_STRING_MAX], id[128];
    vkey_of(w, vkey, k);
    snprintf(id, sizeof id, "revoke/%s", w->keys[k].file);
    ev_add(w, t, "key.revoke", id, json_pack("{s:s,s:s}", "key", vkey, "reason", reason),
           SIGNED(w->k_org));
}

static void plan_setup(world *w)
{
    int i = 0;
    ev_grant(w, setup_t(w, 0, 9, i++), w->k_root, w->k_org);
    char eff[11];
    fmt_day(eff, w->d0);
    char id[128];
    snprintf(id, sizeof id, "policy.adopt/%s", w->prof->id);
    ev_add(w, setup_t(w, 0, 9, i++), "policy.adopt", id,
           json_pack("{s:s,s:O}", "effective", eff, "profile", w->profile_doc), SIGNED(w->k_root));
    ev_add(w, setup_t(w, 0, 9, i++), "calendar.adopt", "calendar/adopt",
           json_pack("{s:O}", "calendar", w->calendar_doc), SIGNED(w->k_root));
    ev_grant(w, setup_t(w, 0, 9, i++), w->k_org, w->k_bureau);
    ev_grant(w, setup_t(w, 0, 9, i++), w->k_org, w->k_inspector);
    i = 0;
    for (int u = 0; u < w->nunits; u++) {
        const unit *x = &w->units[u];
        snprintf(id, sizeof id, "org.unit/%s", x->id);
        ev_add(w, setup_t(w, 0, 10, i++), "org.unit", id,
               json_pack("{s:s,s:s,s:s,s:i,s:s}", "unit", x->id, "name", x->name, "level",
                         x->level, "staff", x->staff, "county", COUNTY_ID),
               SIGNED(w->k_org));
    }
    for (int v = 0; v < w->nvil; v++) {
        const village *x = &w->vil[v];
        snprintf(id, sizeof id, "org.village/%s", x->id);
        ev_add(w, setup_t(w, 0, 10, i++), "org.village", id,
               json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s}", "village", x->id, "name", x->name,
                         "township", w->tw[x->township].id, "county", COUNTY_ID, "city", CITY_ID,
                         "province", PROVINCE_ID, "category", village_categories[x->category]),
               SIGNED(w->k_org));
    }
    i = 0;
    for (int t = 0; t < w->ntw; t++) {
        ev_grant(w, setup_t(w, 0, 14, i++), w->k_org, w->tw[t].k_committee);
        ev_grant(w, setup_t(w, 0, 14, i++), w->k_org, w->tw[t].k_secretary);
    }
    for (int v = 0; v < w->nvil; v++)
        ev_grant(w, setup_t(w, 0, 14, i++), w->k_org, w->vil[v].k_secretary);
    for (int u = 0; u < w->nunits; u++)
        ev_grant(w, setup_t(w, 0, 14, i++), w->k_org, w->units[u].key);
    /* the units register their staff */
    i = 0;
    for (int k = 0; k < w->nppl; k++) {
        const person *p = &w->ppl[k];
        char since[11];
        if (p->party_since != INT64_MIN)
            fmt_day(since, p->party_since);
        snprintf(id, sizeof id, "person.register/%s", p->id);
        ev_add(w, setup_t(w, 1, 9, i++), "person.register", id,
               json_pack("{s:s,s:s,s:s,s:o,s:s,s:s}", "person", p->id, "name", p->name, "unit",
                         w->units[p->unit].id, "party_member_since",
                         p->party_since != INT64_MIN ? json_string(since) : json_null(),
                         "employment", p->employment, "rank", p->rank),
               SIGNED(w->units[p->unit].key));
    }
    /* a seconded or temporary clerk goes back to the home unit */
    for (int k = 0; k < w->nppl; k++)
        if (w->ppl[k].role < 0 && w->d0 + 200 < w->d1) {
            snprintf(id, sizeof id, "registry.retire/%s", w->ppl[k].id);
            ev_add(w, at_time(w->d0 + 180, 10, 0, 0), "registry.retire", id,
                   json_pack("{s:s,s:s,s:s}", "kind", "person", "ref", w->ppl[k].id, "reason",
                             "借用期满, 调回原单位"),
                   SIGNED(w->k_org));
            break;
        }
}

/* ---- the mission (statements) ----------------------------------------------- */

static void plan_dispatches(world *w)
{
    const tz_profile *p = w->prof;
    for (int i = 0; i < w->nppl && w->rc == TZ_OK; i++) {
        person *x = &w->ppl[i];
        if (x->role < 0)
            continue;
        int idx = (int)(x - w->ppl);
        ev_grant(w, at_time(x->grant_day, 9, 0, 0) + idx * 2, w->k_org, x->key);
        char s[11], e[11];
        fmt_day(s, x->start);
        fmt_day(e, x->planned_end);
        const tz_profile_roles *need = &p->dispatch_approval[x->role].signers;
        int first = key_for_role(w, need->names[0], x);
        int64_t t = at_time(x->dispatch_day, 10, 0, 0) + idx * 2;
        int ev = ev_add(w, t, "dispatch", x->dispatch_id,
                        json_pack("{s:s,s:s,s:s,s:s,s:s,s:s}", "person", x->id, "village",
                                  w->vil[x->village].id, "unit", w->units[x->unit].id, "role",
                                  tz_mission_role_name((tz_mission_role)x->role), "start", s,
                                  "planned_end", e),
                        SIGNED(first, w->units[x->unit].key));
        /* a chain of approvals: the other offices co-sign a day apart */
        for (size_t r = 1; r < need->n; r++)
            ev_cosign(w, t + (int64_t)r * 86400, ev, key_for_role(w, need->names[r], x));
    }
}

/* The tier of the profile for days consecutive days in role (as domain.c). */
static const tz_profile_leave_tier *leave_tier(const tz_profile *p, int role, int days)
{
    for (size_t i = 0; i < p->leave.ntiers[role]; i++) {
        const tz_profile_leave_tier *t = &p->leave.tiers[role][i];
        if (t->max_days == 0 || days <= t->max_days)
            return t;
    }
    return NULL;
}

/* One leave: request, decision and (when approved) return; codes L. */
static int plan_leave(world *w, person *x, int64_t from, int days, int refused, int returned,
                      const char *reason)
{
    const tz_profile_leave_tier *tier = leave_tier(w->prof, x->role, days);
    if (tier == NULL)
        return 0;
    int applicant = tier->applicant[0] ? key_for_role(w, tier->applicant, x) : x->key;
    int approver = key_for_role(w, tier->approver, x);
    if (applicant < 0 || approver < 0)
        return 0;
    int64_t to = from + days - 1;
    int64_t asked = from - rng_range(&w->r, 3, 7);
    if (asked <= x->dispatch_day)
        return 0;
    leave_span *ls = grow(w, w->leaves, sizeof *w->leaves, &w->capleaves, w->nleaves + 1);
    if (ls == NULL)
        return 0;
    w->leaves = ls;
    w->leaves[w->nleaves++] = (leave_span){(int)(x - w->ppl), from, to};
    char f[11], t[11], id[96], rid[96];
    fmt_day(f, from);
    fmt_day(t, to);
    snprintf(rid, sizeof rid, "leave/%s/%s", x->id, f);
    int req = ev_add(w, at_time(asked, 8, rng_below(&w->r, 120), 0), "leave.request", rid,
                     json_pack("{s:s,s:s,s:s,s:s}", "person", x->id, "from", f, "to", t, "reason",
                               reason),
                     SIGNED(applicant));
    if (req < 0)
        return 0;
    snprintf(id, sizeof id, "leave.approve/%s/%s", x->id, f);
    json_t *body = json_pack("{s:s,s:s}", "request", rid, "decision",
                             refused ? "refused" : "approved");
    if (refused)
        json_object_set_new(body, "note", json_string("村里正值产业项目验收, 暂缓请假"));
    ev_add(w, at_time(asked + 1, 15, rng_below(&w->r, 120), 0), "leave.approve", id, body,
           SIGNED(approver));
    w->st->leaves++;
    if (refused) {
        w->st->leaves_refused++;
        return 1;
    }
    for (int64_t d = from; d <= to; d++) {
        char *c = code_at(w, x, d);
        if (c != NULL && d <= last_day(x))
            *c = 'L';
    }
    if (returned) {
        char back[11];
        fmt_day(back, to + 1);
        snprintf(id, sizeof id, "leave.return/%s/%s", x->id, f);
        ev_add(w, at_time(to + 1, 8, 30 + rng_below(&w->r, 60), 0), "leave.return", id,
               json_pack("{s:s,s:s}", "request", rid, "date", back), SIGNED(x->key));
        w->st->leave_returns++;
    }
    return 1;
}

static void plan_leaves(world *w)
{
    for (int i = 0; i < w->nppl && w->rc == TZ_OK; i++) {
        person *x = &w->ppl[i];
        if (x->role < 0)
            continue;
        int64_t lo = (x->start > w->d0 ? x->start : w->d0) + 14;
        if (lo < x->dispatch_day + 14)
            lo = x->dispatch_day + 14;
        int64_t hi = last_day(x) - 12;
        if (hi > w->d1 - 4)
            hi = w->d1 - 4;
        if (x->script != SCRIPT_NONE && hi > x->script_day - 20)
            hi = x->script_day - 20;
        size_t first_leave = w->nleaves; /* this person's leaves are planned from here on */
        if (x->script == SCRIPT_LEAVE30) {
            int days = w->prof->leave.recall_over_days + rng_range(&w->r, 5, 12);
            plan_leave(w, x, x->script_day, days, 0, 0, "父亲重病, 需长期陪护治疗");
        }
        for (int y = tz_time_year_of(w->d0); y <= tz_time_year_of(w->d1); y++) {
            int n = rng_pct(&w->r, 35) + rng_pct(&w->r, 10);
            int64_t ylo = tz_time_days_from_civil(y, 1, 1), yhi = tz_time_days_from_civil(y, 12, 31);
            if (ylo < lo)
                ylo = lo;
            if (yhi > hi)
                yhi = hi;
            for (int k = 0; k < n; k++) {
                int x100 = rng_below(&w->r, 100);
                int days = x100 < 60 ? rng_range(&w->r, 1, 5) : x100 < 90 ? rng_range(&w->r, 6, 10)
                                                                          : rng_range(&w->r, 11, 20);
                int refused = rng_pct(&w->r, 8);
                const char *reason = leave_reasons[days <= 5 ? 0 : days <= 10 ? 1 : 2][rng_below(&w->r, 4)];
                for (int tries = 0; tries < 12; tries++) {
                    if (yhi - ylo + 1 < days)
                        break;
                    int64_t from = ylo + rng_below(&w->r, (int)(yhi - ylo + 2 - days));
                    int ok = 1;
                    for (int64_t d = from; d < from + days && ok; d++) {
                        const char *c = code_at(w, x, d);
                        ok = c != NULL && (*c == 'P' || *c == 'B');
                    }
                    /* a week and more between two leaves (refused ones too), so
                     * that requests and decisions never interleave */
                    for (size_t k2 = first_leave; k2 < w->nleaves && ok; k2++) {
                        const leave_span *o = &w->leaves[k2];
                        ok = o->person != i || o->to + 10 < from || from + days + 10 < o->from;
                    }
                    if (ok) {
                        plan_leave(w, x, from, days, refused, 1, reason);
                        break;
                    }
                }
            }
        }
    }
}

/* A few months in which a cadre was away without leave for days that no
 * spot check caught: the sheet shows fewer than the profile's days. */
static void plan_short_months(world *w)
{
    int min_days = w->prof->attendance.min_days > 0 ? w->prof->attendance.min_days : 20;
    for (int i = 0; i < w->nppl; i++) {
        person *x = &w->ppl[i];
        if (x->role < 0)
            continue;
        for (int m = 0; m < w->months; m++) {
            if (!rng_pct(&w->r, 4))
                continue;
            int in = 0, full = 1;
            for (int64_t d = w->mfirst[m]; d <= w->mlast[m]; d++) {
                char c = *code_at(w, x, d);
                in += c == 'P' || c == 'B';
                full &= c != '-';
            }
            if (!full || in < min_days)
                continue;
            int away = in - min_days + 1 + rng_below(&w->r, 3);
            for (int k = 0; k < away; k++) {
                int64_t d = random_p_day(w, x, w->mfirst[m], w->mlast[m]);
                if (d != INT64_MIN)
                    *code_at(w, x, d) = 'A';
            }
        }
    }
}

static int stationed_in(const world *w, const person *x, int m)
{
    if (x->codes == NULL)
        return 0;
    for (int64_t d = w->mfirst[m]; d <= w->mlast[m]; d++)
        if (*code_at(w, x, d) != '-')
            return 1;
    return 0;
}

static void plan_spot_check(world *w, person *x, int64_t day, int absent, int m)
{
    const tz_profile_roles *roles = &w->prof->spot_check.signers;
    int by = key_any(w, roles, rng_pct(&w->r, 25) ? "inspector" : "township_party_committee", x);
    char ds[11], id[96];
    fmt_day(ds, day);
    snprintf(id, sizeof id, "spot_check/%s/%s", x->id, ds);
    json_t *body = json_pack("{s:s,s:s,s:s}", "person", x->id, "date", ds, "result",
                             absent ? "absent" : "present");
    if (absent)
        json_object_set_new(body, "note", json_string("无故不在岗: 电话联系称在县城办事, 未履行请假手续"));
    else if (rng_pct(&w->r, 30))
        json_object_set_new(body, "note", json_string("在村入户走访"));
    ev_add(w, at_time(day, 9 + rng_below(&w->r, 8), rng_below(&w->r, 60), 0), "spot_check", id,
           body, SIGNED(by));
    x->checked_month = m + 1;
    w->st->spot_checks++;
    w->st->absences += absent;
}

/* Every month, each township checks at least the profile's share (plus a
 * margin) of its stationed cadres; the absences decided in plan_codes are
 * among them. */
static void plan_spot_checks(world *w)
{
    int share = w->prof->spot_check.monthly_share_percent > 0
                ? w->prof->spot_check.monthly_share_percent : 30;
    share += 10;
    if (share > 100)
        share = 100;
    int *pool = malloc((size_t)w->nppl * sizeof *pool);
    if (pool == NULL) {
        world_fail(w, TZ_ERR_NOMEM, "scenario: out of memory");
        return;
    }
    for (int m = 0; m < w->months && w->rc == TZ_OK; m++) {
        for (size_t a = 0; a < w->nabsent; a++) {
            person *x = &w->ppl[w->absent[a].person];
            if (month_of_day(w, w->absent[a].day) == m)
                plan_spot_check(w, x, w->absent[a].day, 1, m);
        }
        for (int t = 0; t < w->ntw; t++) {
            int n = 0, done = 0, np = 0, v0, v1;
            township_villages(w, t, &v0, &v1);
            for (int k = w->vstart[v0]; k < w->vstart[v1]; k++) {
                int i = w->by_village[k];
                person *x = &w->ppl[i];
                if (!stationed_in(w, x, m))
                    continue;
                n++;
                if (x->checked_month == m + 1)
                    done++;
                else
                    pool[np++] = i;
            }
            int want = (n * share + 99) / 100;
            while (done < want && np > 0) {
                int k = rng_below(&w->r, np);
                person *x = &w->ppl[pool[k]];
                pool[k] = pool[--np];
                int64_t d = random_p_day(w, x, w->mfirst[m], w->mlast[m]);
                if (d == INT64_MIN)
                    continue;
                plan_spot_check(w, x, d, 0, m);
                done++;
            }
        }
    }
    free(pool);
}

/* The due day of the sheet of month m, or INT64_MAX when the profile sets none. */
static int64_t sheet_due(const world *w, int m)
{
    const tz_profile *p = w->prof;
    if (p->attendance.due_day <= 0)
        return INT64_MAX;
    int y;
    unsigned mon, d;
    tz_time_civil_from_days(w->mfirst[m], &y, &mon, &d);
    int dm = (int)mon + p->attendance.due_months_after;
    y += (dm - 1) / 12;
    dm = (dm - 1) % 12 + 1;
    unsigned last = tz_time_days_in_month(y, (unsigned)dm);
    unsigned due = (unsigned)p->attendance.due_day < last ? (unsigned)p->attendance.due_day : last;
    return tz_time_days_from_civil(y, (unsigned)dm, due);
}

/* Monthly sheets: the township's first signer signs them all at the end of
 * the month, the village's other signers co-sign a few days later; in about
 * one village-month in twenty the co-signature comes after the due day. */
static void plan_sheets(world *w)
{
    const tz_profile *p = w->prof;
    const tz_profile_roles *signers = &p->attendance.signers;
    int min_days = p->attendance.min_days;
    char codes[32];
    for (int m = 0; m < w->months && w->rc == TZ_OK; m++) {
        int64_t due = sheet_due(w, m);
        char month[8];
        char first_day[11];
        fmt_day(first_day, w->mfirst[m]);
        snprintf(month, sizeof month, "%.7s", first_day);
        for (int t = 0; t < w->ntw; t++) {
            int64_t signed_day = w->mlast[m] + rng_below(&w->r, 3);
            int slot = 0, v0, v1;
            township_villages(w, t, &v0, &v1);
            for (int v = v0; v < v1; v++) {
                int late = rng_pct(&w->r, 5) || (v == 0 && m == 2);
                int64_t co_day = late && due != INT64_MAX ? due + 1 + rng_below(&w->r, 6)
                                                          : signed_day + 1 + rng_below(&w->r, 7);
                int64_t co_t = at_time(co_day, 9 + rng_below(&w->r, 7), rng_below(&w->r, 60), 0);
                for (int k = w->vstart[v]; k < w->vstart[v + 1]; k++) {
                    int i = w->by_village[k];
                    person *x = &w->ppl[i];
                    if (!stationed_in(w, x, m))
                        continue;
                    int n = (int)(w->mlast[m] - w->mfirst[m] + 1), in = 0;
                    memcpy(codes, code_at(w, x, w->mfirst[m]), (size_t)n);
                    codes[n] = '\0';
                    for (int d = 0; d < n; d++)
                        in += codes[d] == 'P' || codes[d] == 'B';
                    char id[96];
                    snprintf(id, sizeof id, "attendance/%s/%s", x->id, month);
                    int first = key_for_role(w, signers->names[0], x);
                    int ev = ev_add(w, at_time(signed_day, 16, 0, 0) + slot++ * 20, "attendance",
                                    id, json_pack("{s:s,s:s,s:s}", "person", x->id, "month",
                                                  month, "days", codes),
                                    SIGNED(first));
                    for (size_t r = 1; r < signers->n; r++)
                        ev_cosign(w, co_t + (int64_t)r * 60 + i, ev,
                                  key_for_role(w, signers->names[r], x));
                    w->st->sheets++;
                    w->st->late_sheets += signers->n > 1 && co_day > due;
                    w->st->sheets_under_min += min_days > 0 && in < min_days;
                }
            }
        }
    }
}

static void plan_handovers(world *w)
{
    const tz_profile *p = w->prof;
    for (int i = 0; i < w->nppl && w->rc == TZ_OK; i++) {
        person *in = &w->ppl[i];
        if (in->replaces < 0 || w->ppl[in->replaces].script != SCRIPT_ROTATE_OUT)
            continue;
        person *out = &w->ppl[in->replaces];
        int64_t hs = out->script_day, done = out->end;
        char s[11], d[11], hid[96], id[96];
        fmt_day(s, hs);
        fmt_day(d, done);
        int unit_key = key_any(w, &p->handover.signers, "dispatching_unit", out);
        snprintf(hid, sizeof hid, "handover/%s/%s", w->vil[out->village].id, out->id);
        ev_add(w, at_time(hs, 10, 0, 0), "handover.start", hid,
               json_pack("{s:s,s:s,s:s,s:s}", "village", w->vil[out->village].id, "outgoing",
                         out->id, "incoming", in->id, "start", s),
               SIGNED(unit_key));
        snprintf(id, sizeof id, "handover.complete/%s/%s", w->vil[out->village].id, out->id);
        int64_t t = at_time(done, 16, 0, 0);
        json_t *body = json_pack("{s:s,s:s}", "handover", hid, "date", d);
        if (i % 2 == 0) {
            /* the incoming cadre signs the next morning: the record completes on that cosign */
            int ev = ev_add(w, t, "handover.complete", id, body, SIGNED(out->key, unit_key));
            ev_cosign(w, at_time(done + 1, 9, 30, 0), ev, in->key);
        } else {
            ev_add(w, t, "handover.complete", id, body, SIGNED(out->key, in->key, unit_key));
        }
        ev_revoke(w, at_time(done + 3, 10, 0, 0), out->key, "轮换交接完成, 撤离驻村岗位, 密钥收回");
        w->st->handovers++;
    }
}

static void plan_recalls(world *w)
{
    const tz_profile *p = w->prof;
    for (int i = 0; i < w->nppl && w->rc == TZ_OK; i++) {
        person *x = &w->ppl[i];
        if (x->end_kind != END_RECALL)
            continue;
        const char *reason = x->script == SCRIPT_THIRD_ABSENCE ? "third_absence"
                             : x->script == SCRIPT_HEALTH      ? "health"
                             : x->script == SCRIPT_LEAVE30     ? "leave_over_30_days"
                                                               : "grade_incompetent";
        const char *note = x->script == SCRIPT_THIRD_ABSENCE ? "年内第三次抽查无故不在岗, 责令召回另行选派"
                           : x->script == SCRIPT_HEALTH      ? "因病不能正常驻村开展工作"
                           : x->script == SCRIPT_LEAVE30     ? "连续请假超过30天, 召回并重新选派"
                                                             : "年度考核不称职, 立即召回";
        char d[11], id[96];
        fmt_day(d, x->end);
        snprintf(id, sizeof id, "recall/%s", x->id);
        int unit_key = key_any(w, &p->recall.signers, "dispatching_unit", x);
        int org = role_listed(&p->recall.signers, "county_org_dept") ? w->k_org : -1;
        ev_add(w, at_time(x->end, 15, 0, 0), "recall", id,
               json_pack("{s:s,s:s,s:s,s:s,s:s}", "person", x->id, "dispatch", x->dispatch_id,
                         "reason", reason, "date", d, "note", note),
               SIGNED(unit_key, org));
        ev_revoke(w, at_time(x->end + 2, 10, 0, 0), x->key, "召回, 密钥收回");
        w->st->recalls++;
        w->st->recalls_third_absence += x->script == SCRIPT_THIRD_ABSENCE;
        w->st->recalls_health += x->script == SCRIPT_HEALTH;
        w->st->recalls_leave += x->script == SCRIPT_LEAVE30;
        w->st->recalls_incompetent += x->script == SCRIPT_INCOMPETENT;
    }
    for (int i = 0; i < w->nppl; i++)
        if (w->ppl[i].replaces >= 0 && w->ppl[w->ppl[i].replaces].end_kind == END_RECALL)
            w->st->replacements++;
}

/* Annual assessment of every cadre stationed more than half of a whole
 * year of the story, in January of the next year, within the caps. */
static void plan_assessments(world *w)
{
    const tz_profile *p = w->prof;
    for (int y = tz_time_year_of(w->d0); y <= tz_time_year_of(w->d1) && w->rc == TZ_OK; y++) {
        int64_t y0 = tz_time_days_from_civil(y, 1, 1), y1 = tz_time_days_from_civil(y, 12, 31);
        if (y1 > w->d1 || y0 < w->d0)
            continue;
        int yi = y - tz_time_year_of(w->d0);
        int nfs = 0, excellent = 0;
        for (int i = 0; i < w->nppl; i++)
            nfs += w->ppl[i].role == TZ_MISSION_FIRST_SECRETARY;
        for (int i = 0; i < w->nppl && w->rc == TZ_OK; i++) {
            person *x = &w->ppl[i];
            if (x->role < 0)
                continue;
            int64_t a = x->start > y0 ? x->start : y0, b = last_day(x) < y1 ? last_day(x) : y1;
            int64_t stationed = b >= a ? b - a + 1 : 0;
            if (stationed == 0 || (p->assessment.more_than_half_year && stationed * 2 <= y1 - y0 + 1))
                continue;
            int g = rng_below(&w->r, 100);
            tz_grade grade = g < 14 ? TZ_GRADE_EXCELLENT : g < 93 ? TZ_GRADE_COMPETENT : TZ_GRADE_BASIC;
            if (grade == TZ_GRADE_EXCELLENT && x->role == TZ_MISSION_FIRST_SECRETARY &&
                (excellent + 1) * 100 > nfs * 15)
                grade = TZ_GRADE_COMPETENT;
            if (x->end_kind == END_RECALL && grade == TZ_GRADE_EXCELLENT)
                grade = TZ_GRADE_COMPETENT;
            if (x->script == SCRIPT_INCOMPETENT && tz_time_year_of(x->end) == y + 1)
                grade = TZ_GRADE_INCOMPETENT;
            int absences = yi >= 0 && yi < MAX_YEARS ? x->absences[yi] : 0;
            for (size_t c = 0; c < p->assessment.ncaps; c++) {
                const tz_profile_absence_cap *cap = &p->assessment.caps[c];
                if (absences < cap->absences)
                    continue;
                if (cap->forced_grade != TZ_GRADE_NONE)
                    grade = cap->forced_grade;
                if (cap->max_grade != TZ_GRADE_NONE && grade > cap->max_grade)
                    grade = cap->max_grade;
            }
            if (p->assessment.recalled_max_grade != TZ_GRADE_NONE && x->end_kind == END_RECALL &&
                tz_time_year_of(x->end) == y && grade > p->assessment.recalled_max_grade)
                grade = p->assessment.recalled_max_grade;
            if (grade == TZ_GRADE_EXCELLENT && x->role == TZ_MISSION_FIRST_SECRETARY)
                excellent++;
            int by = key_any(w, &p->assessment.signers,
                             x->role == TZ_MISSION_FIRST_SECRETARY ? "county_org_dept"
                                                                   : "rural_revitalisation_bureau",
                             x);
            char id[96];
            snprintf(id, sizeof id, "assessment/%d/%s", y, x->id);
            ev_add(w, at_time(y1 + 10 + x->village % 8, 9, 0, 0) + i * 2, "assessment", id,
                   json_pack("{s:s,s:i,s:s}", "person", x->id, "year", y, "grade",
                             tz_grade_name(grade)),
                   SIGNED(by));
            w->st->assessments++;
        }
    }
}

/* ---- writing ------------------------------------------------------------------ */

typedef struct sim_clock {
    uint64_t now;                /* microseconds */
    const uint64_t *queue;       /* recorded_at of the submissions of the group being appended */
    size_t n, next;
} sim_clock;

static uint64_t sim_clock_read(void *ctx)
{
    sim_clock *c = ctx;
    if (c->next < c->n) {
        uint64_t v = c->queue[c->next++];
        if (v > c->now)
            c->now = v;
    }
    return c->now;
}

typedef struct order {
    int64_t t;
    size_t idx;
} order;

static int order_cmp(const void *a, const void *b)
{
    const order *x = a, *y = b;
    if (x->t != y->t)
        return x->t < y->t ? -1 : 1;
    return x->idx < y->idx ? -1 : x->idx > y->idx;
}

static void count_type(tz_scenario_stats *st, const char *type, uint32_t nsig)
{
    st->signatures += nsig;
    for (size_t i = 0; i < st->ntypes; i++)
        if (strcmp(st->by_type[i].type, type) == 0) {
            st->by_type[i].count++;
            return;
        }
    if (st->ntypes < TZ_SCENARIO_MAX_TYPES)
        st->by_type[st->ntypes++] = (tz_scenario_count){type, 1};
}

/* Builds the cosign statement of e (its target has been numbered). */
static int build_cosign(world *w, event *e, tz_err *err)
{
    const event *t = &w->ev[e->target];
    char hex[65], keyhex[17], id[96], at[32];
    tz_hex_encode(hex, t->hash, 32);
    tz_hex_encode(keyhex, w->keys[e->sig[0]].sk.pub.pk, 8);
    snprintf(id, sizeof id, "cosign/%llu/%s", (unsigned long long)t->seq, keyhex);
    fmt_at(at, e->t);
    json_t *obj = json_pack("{s:s,s:s,s:s,s:{s:I,s:s}}", "type", "cosign", "id", id, "at", at,
                            "body", "seq", (json_int_t)t->seq, "statement_hash", hex);
    if (obj == NULL)
        return tz_err_set(err, TZ_ERR_NOMEM, "scenario: out of memory");
    w->sb.size = 0;
    int rc = tz_statement_from_json(&w->sb, obj, err);
    json_decref(obj);
    if (rc != TZ_OK)
        return rc;
    e->id = strdup(id);
    e->bytes = malloc(w->sb.size);
    if (e->id == NULL || e->bytes == NULL)
        return tz_err_set(err, TZ_ERR_NOMEM, "scenario: out of memory");
    memcpy(e->bytes, w->sb.data, w->sb.size);
    e->len = w->sb.size;
    tz_hash_sha256(e->hash, e->bytes, e->len);
    return TZ_OK;
}

static uint64_t monotonic_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Appends the group and checks that every submission became the entry planned. */
static int flush(world *w, tz_ledger *l, sim_clock *clk, const tz_submission *subs,
                 const uint64_t *rec, const size_t *which, size_t n, uint64_t first_seq,
                 uint64_t *append_ns, tz_err *err)
{
    if (n == 0)
        return TZ_OK;
    tz_append_result *res = calloc(n, sizeof *res);
    if (res == NULL)
        return tz_err_set(err, TZ_ERR_NOMEM, "scenario: out of memory");
    clk->queue = rec;
    clk->n = n;
    clk->next = 0;
    size_t processed = 0;
    uint64_t t0 = monotonic_ns();
    int rc = tz_ledger_append(l, subs, n, res, &processed, TZ_APPEND_STOP_ON_REJECT, err);
    *append_ns += monotonic_ns() - t0;
    clk->n = clk->next = 0;
    clk->queue = NULL;
    for (size_t i = 0; rc == TZ_OK && i < processed; i++) {
        const event *e = &w->ev[which[i]];
        if (res[i].status != TZ_OK) {
            w->st->rejected = 1;
            rc = tz_err_set(err, res[i].status, "scenario: the decide step rejected generated %s "
                            "%s (a generator bug): %s", e->type, e->id, res[i].err.msg);
        } else if (res[i].existing || res[i].seq != first_seq + i) {
            rc = tz_err_set(err, TZ_ERR_INTERNAL, "scenario: %s %s became seq %llu%s, planned %llu",
                            e->type, e->id, (unsigned long long)res[i].seq,
                            res[i].existing ? " (existing)" : "",
                            (unsigned long long)(first_seq + i));
        }
    }
    if (rc == TZ_OK && processed != n)
        rc = tz_err_set(err, TZ_ERR_INTERNAL, "scenario: %zu of %zu submissions processed",
                        processed, n);
    free(res);
    return rc;
}

static int write_all(world *w, tz_ledger *l, sim_clock *clk, int group,
                     const tz_scenario_options *opt, tz_err *err)
{
    order *ord = malloc(w->nev * sizeof *ord);
    tz_submission *subs = calloc((size_t)group, sizeof *subs);
    tz_signature *sigs = calloc((size_t)group * MAX_SIGNERS, sizeof *sigs);
    uint64_t *rec = calloc((size_t)group, sizeof *rec);
    size_t *which = calloc((size_t)group, sizeof *which);
    int rc = TZ_OK;
    if (ord == NULL || subs == NULL || sigs == NULL || rec == NULL || which == NULL) {
        rc = tz_err_set(err, TZ_ERR_NOMEM, "scenario: out of memory");
        goto out;
    }
    for (size_t i = 0; i < w->nev; i++)
        ord[i] = (order){w->ev[i].t, i};
    qsort(ord, w->nev, sizeof *ord, order_cmp);
    uint64_t seq = tz_ledger_size(l), first = seq, last_rec = clk->now;
    size_t n = 0;
    for (size_t k = 0; k < w->nev && rc == TZ_OK; k++) {
        event *e = &w->ev[ord[k].idx];
        if (e->target >= 0 && (rc = build_cosign(w, e, err)) != TZ_OK)
            break;
        e->seq = seq++;
        for (int s = 0; s < e->nsig && rc == TZ_OK; s++) {
            tz_signature *sg = &sigs[n * MAX_SIGNERS + (size_t)s];
            memcpy(sg->key, w->keys[e->sig[s]].sk.pub.pk, 32);
            rc = tz_key_sign_statement(sg->sig, &w->keys[e->sig[s]].sk, e->bytes, e->len, err);
        }
        if (rc != TZ_OK)
            break;
        subs[n] = (tz_submission){e->bytes, e->len, &sigs[n * MAX_SIGNERS], (size_t)e->nsig};
        /* recorded a minute to five after `at`, never earlier than the entry before */
        uint64_t r = ((uint64_t)e->t + 60u + (uint64_t)(ord[k].idx * 2654435761u % 240u)) * 1000000u;
        if (r < last_rec)
            r = last_rec;
        rec[n] = last_rec = r;
        which[n] = ord[k].idx;
        count_type(w->st, e->type, (uint32_t)e->nsig);
        if (++n == (size_t)group || k + 1 == w->nev) {
            uint64_t ns = 0;
            rc = flush(w, l, clk, subs, rec, which, n, first, &ns, err);
            w->st->append_s += (double)ns / 1e9;
            for (size_t i = 0; i < n; i++) {
                free(w->ev[which[i]].bytes);
                w->ev[which[i]].bytes = NULL;
            }
            first += n;
            n = 0;
            if (rc == TZ_OK && opt->progress != NULL)
                opt->progress(opt->progress_ctx, first, (uint64_t)w->nev + 1);
        }
    }
out:
    free(ord);
    free(subs);
    free(sigs);
    free(rec);
    free(which);
    return rc;
}

/* ---- files -------------------------------------------------------------------- */

static int load_json(json_t **out, const char *path, const char *what, tz_err *err)
{
    json_error_t je;
    *out = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
    if (*out == NULL)
        return tz_err_set(err, access(path, R_OK) == 0 ? TZ_ERR_INPUT : TZ_ERR_IO,
                          "%s %s: %s (line %d, column %d)", what, path, je.text, je.line,
                          je.column);
    return TZ_OK;
}

/* Creates keys_dir (0700) when missing; refuses one that is not empty. */
static int keys_dir_check(const char *dir, tz_err *err)
{
    int rc = tz_fs_empty_dir(dir);
    if (rc < 0)
        return tz_err_set(err, TZ_ERR_IO, "keys dir %s: %s", dir, strerror(errno));
    return rc == 0 ? TZ_OK : tz_err_set(err, TZ_ERR_USAGE, "keys dir %s is not empty (key files "
                                        "are never overwritten)", dir);
}

static int write_key(const char *dir, const char *file, const tz_secret_key *k, tz_err *err)
{
    char path[PATH_MAX], pub[PATH_MAX + 8];
    if (snprintf(path, sizeof path, "%s/%s", dir, file) >= (int)sizeof path)
        return tz_err_set(err, TZ_ERR_USAGE, "keys dir: path too long");
    snprintf(pub, sizeof pub, "%s.pub", path);
    int rc = tz_keyfile_write_secret(path, k, NULL, err);
    if (rc == TZ_OK)
        rc = tz_keyfile_write_public(pub, &k->pub, err);
    return rc;
}

/* Every key as KEY and KEY.pub, and keys.tsv: file, key name, roles, scope, holder. */
static int write_keys(world *w, const char *dir, tz_err *err)
{
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/keys.tsv", dir);
    FILE *f = fopen(path, "wx");
    if (f == NULL)
        return tz_err_set(err, TZ_ERR_IO, "%s: %s", path, strerror(errno));
    fprintf(f, "file\tkey name\troles\tscope\tholder\n");
    int rc = write_key(dir, "log.key", &w->log, err);
    if (rc == TZ_OK)
        fprintf(f, "log.key\t%s\tlog\tcheckpoints\tthe log (signs checkpoints only)\n",
                w->log.pub.name);
    for (int i = 0; i < w->nkeys && rc == TZ_OK; i++) {
        const skey *k = &w->keys[i];
        rc = write_key(dir, k->file, &k->sk, err);
        fprintf(f, "%s\t%s\t%s\t%s\t%s\n", k->file, k->sk.pub.name, k->roles, k->scope, k->holder);
    }
    if (fclose(f) != 0 && rc == TZ_OK)
        rc = tz_err_set(err, TZ_ERR_IO, "%s: %s", path, strerror(errno));
    return rc;
}

/* ---- the run ------------------------------------------------------------------ */

void tz_scenario_defaults(tz_scenario_options *opt)
{
    memset(opt, 0, sizeof *opt);
    opt->seed = 1;
    opt->townships = 6;
    opt->villages_per_township = 6;
    opt->months = 24;
    opt->start_year = 2024;
    opt->start_month = 1;
    opt->group = 256;
}

uint64_t tz_scenario_count_of(const tz_scenario_stats *stats, const char *type)
{
    for (size_t i = 0; stats != NULL && i < stats->ntypes; i++)
        if (strcmp(stats->by_type[i].type, type) == 0)
            return stats->by_type[i].count;
    return 0;
}

static void world_free(world *w)
{
    for (int i = 0; i < w->nkeys; i++)
        tz_key_wipe(&w->keys[i].sk);
    tz_key_wipe(&w->log);
    free(w->keys);
    for (int i = 0; i < w->nppl; i++)
        free(w->ppl[i].codes);
    free(w->ppl);
    free(w->tw);
    free(w->vil);
    free(w->units);
    for (size_t i = 0; i < w->nev; i++) {
        free(w->ev[i].id);
        free(w->ev[i].bytes);
    }
    free(w->ev);
    free(w->absent);
    free(w->leaves);
    free(w->by_village);
    free(w->vstart);
    free(w->prof);
    free(w->cal);
    json_decref(w->profile_doc);
    json_decref(w->calendar_doc);
    msgpack_sbuffer_destroy(&w->sb);
}

/* Checks that the offices the profile names for the acts planned are modelled. */
static int check_profile(const world *w, tz_err *err)
{
    const tz_profile *p = w->prof;
    person probe;
    memset(&probe, 0, sizeof probe);
    probe.village = 0;
    probe.key = 0;
    probe.unit = 0;
    const struct {
        const tz_profile_roles *roles;
        const char *what;
        int all;
    } sets[] = {
        {&p->dispatch_approval[TZ_MISSION_FIRST_SECRETARY].signers, "dispatch_approval.first_secretary", 1},
        {&p->dispatch_approval[TZ_MISSION_TEAM_MEMBER].signers, "dispatch_approval.team_member", 1},
        {&p->attendance.signers, "attendance", 1},
        {&p->spot_check.signers, "spot_check", 0},
        {&p->recall.signers, "recall", 0},
        {&p->assessment.signers, "assessment", 0},
    };
    for (size_t s = 0; s < COUNT(sets); s++) {
        if (sets[s].roles->n == 0)
            return tz_err_set(err, TZ_ERR_USAGE, "scenario: profile %s sets no signers for %s",
                              p->id, sets[s].what);
        int modelled = 0;
        for (size_t i = 0; i < sets[s].roles->n; i++) {
            int k = key_for_role(w, sets[s].roles->names[i], &probe);
            if (k < 0 && sets[s].all)
                return tz_err_set(err, TZ_ERR_USAGE, "scenario: profile %s: %s needs role %s, an "
                                  "office the scenario does not model", p->id, sets[s].what,
                                  sets[s].roles->names[i]);
            modelled += k >= 0;
        }
        if (modelled == 0)
            return tz_err_set(err, TZ_ERR_USAGE, "scenario: profile %s: no signer of %s is an "
                              "office the scenario models", p->id, sets[s].what);
    }
    return TZ_OK;
}

static int check_options(const tz_scenario_options *o, int *ntw, int *nvil, tz_err *err)
{
    if (o->profile_path == NULL || o->calendar_path == NULL)
        return tz_err_set(err, TZ_ERR_USAGE, "scenario: profile and calendar paths are required");
    if (o->months < 0 || o->months > TZ_SCENARIO_MAX_MONTHS)
        return tz_err_set(err, TZ_ERR_USAGE, "scenario: months must be 1..%d",
                          TZ_SCENARIO_MAX_MONTHS);
    if (o->start_month < 0 || o->start_month > 12 || (o->start_year != 0 &&
                                                      (o->start_year < 2000 || o->start_year > 2100)))
        return tz_err_set(err, TZ_ERR_USAGE, "scenario: start month must be 2000-01..2100-12");
    if (o->townships < 0 || o->villages_per_township < 0 || o->villages < 0 || o->group < 0)
        return tz_err_set(err, TZ_ERR_USAGE, "scenario: counts must not be negative");
    int per = o->villages_per_township ? o->villages_per_township : 6;
    if (o->villages > 0) {
        *nvil = o->villages;
        *ntw = o->townships ? o->townships : (o->villages + 5) / 6;
    } else {
        *ntw = o->townships ? o->townships : 6;
        *nvil = *ntw * per;
    }
    if (*nvil < 1 || *nvil > TZ_SCENARIO_MAX_VILLAGES || *ntw < 1 || *ntw > *nvil)
        return tz_err_set(err, TZ_ERR_USAGE, "scenario: 1..%d villages in 1..villages townships "
                          "(asked %d in %d)", TZ_SCENARIO_MAX_VILLAGES, *nvil, *ntw);
    return TZ_OK;
}

static int plan(world *w, const tz_scenario_options *o, int ntw, int nvil, tz_err *err)
{
    w->prof = malloc(sizeof *w->prof);
    w->cal = malloc(sizeof *w->cal);
    if (w->prof == NULL || w->cal == NULL)
        return tz_err_set(err, TZ_ERR_NOMEM, "scenario: out of memory");
    int rc;
    if ((rc = tz_profile_load_file(w->prof, o->profile_path, err)) != TZ_OK ||
        (rc = tz_calendar_load_file(w->cal, o->calendar_path, err)) != TZ_OK ||
        (rc = load_json(&w->profile_doc, o->profile_path, "profile", err)) != TZ_OK ||
        (rc = load_json(&w->calendar_doc, o->calendar_path, "calendar", err)) != TZ_OK)
        return rc;
    for (int y = tz_time_year_of(w->d0); y <= tz_time_year_of(w->d1); y++)
        if (tz_calendar_find(w->cal, y) == NULL)
            return tz_err_set(err, TZ_ERR_INPUT, "calendar %s: no notice for %d, a year of the "
                              "story", o->calendar_path, y);
    w->need3 = 3;
    for (size_t i = 0; i < w->prof->assessment.ncaps; i++)
        if (w->prof->assessment.caps[i].recall) {
            w->need3 = w->prof->assessment.caps[i].absences;
            break;
        }
    if (w->need3 < 1)
        w->need3 = 1;

    w->err = err;
    w->k_root = key_new(w, "shiquan-root", "root.key", "root", "*", "root");
    w->k_org = key_new(w, "石泉县委组织部", "county-org-dept.key", "authority,county_org_dept",
                       "county:" COUNTY_ID, "石泉县委组织部");
    w->k_bureau = key_new(w, "石泉县乡村振兴局", "rural-revitalisation-bureau.key",
                          "rural_revitalisation_bureau", "county:" COUNTY_ID, "石泉县乡村振兴局");
    w->k_inspector = key_new(w, "石泉县纪委监委-督查组", "inspector.key", "inspector",
                             "county:" COUNTY_ID, "石泉县纪委监委 督查组");
    derive(w, &w->log, "shiquan-ledger-log", "log.key");
    build_county(w, ntw, nvil);
    if (w->rc == TZ_OK && (rc = check_profile(w, err)) != TZ_OK)
        return rc;
    plan_people(w);
    if (w->rc == TZ_OK)
        index_people(w);
    if (w->rc == TZ_OK)
        plan_codes(w);
    if (w->rc == TZ_OK) {
        plan_setup(w);
        plan_dispatches(w);
        plan_leaves(w);
        plan_short_months(w);
        plan_spot_checks(w);
        plan_handovers(w);
        plan_recalls(w);
        plan_assessments(w);
        plan_sheets(w);
    }
    return w->rc;
}

int tz_scenario_generate(const char *dir, const tz_scenario_options *opt, tz_scenario_stats *stats,
                         tz_err *err)
{
    if (dir == NULL || opt == NULL)
        return tz_err_set(err, TZ_ERR_USAGE, "tz_scenario_generate: dir and options are required");
    uint64_t t0 = monotonic_ns();
    tz_scenario_stats local;
    tz_scenario_stats *st = stats != NULL ? stats : &local;
    memset(st, 0, sizeof *st);
    int ntw = 0, nvil = 0;
    int rc = check_options(opt, &ntw, &nvil, err);
    if (rc != TZ_OK)
        return rc;
    if (opt->keys_dir != NULL && (rc = keys_dir_check(opt->keys_dir, err)) != TZ_OK)
        return rc;

    world *w = calloc(1, sizeof *w);
    if (w == NULL)
        return tz_err_set(err, TZ_ERR_NOMEM, "scenario: out of memory");
    msgpack_sbuffer_init(&w->sb);
    w->st = st;
    w->seed = opt->seed;
    w->r.s = opt->seed ^ 0x7461697a68616e67u; /* "taizhang" */
    w->months = opt->months ? opt->months : 24;
    w->start_year = opt->start_year ? opt->start_year : 2024;
    w->start_month = opt->start_month ? opt->start_month : 1;
    for (int m = 0; m <= w->months; m++) {
        int k = w->start_month - 1 + m;
        int y = w->start_year + k / 12;
        unsigned mon = (unsigned)(k % 12 + 1);
        w->mfirst[m] = tz_time_days_from_civil(y, mon, 1);
        w->mlast[m] = w->mfirst[m] + tz_time_days_in_month(y, mon) - 1;
    }
    w->d0 = w->mfirst[0];
    w->d1 = w->mlast[w->months - 1];
    w->nd = (int)(w->d1 - w->d0 + 1);
    w->setup_day = w->d0 - 12;
    snprintf(st->first_month, sizeof st->first_month, "%04d-%02d", w->start_year, w->start_month);
    {
        char ds[11];
        fmt_day(ds, w->d1);
        snprintf(st->last_month, sizeof st->last_month, "%.7s", ds);
    }

    char tmp[PATH_MAX] = "", log_path[PATH_MAX + 16] = "";
    tz_ledger *l = NULL;
    sim_clock clk = {0};
    if ((rc = plan(w, opt, ntw, nvil, err)) != TZ_OK)
        goto out;
    st->townships = (uint32_t)w->ntw;
    st->villages = (uint32_t)w->nvil;
    st->units = (uint32_t)w->nunits;
    st->people = (uint32_t)w->nppl;
    for (int i = 0; i < w->nppl; i++) {
        const person *p = &w->ppl[i];
        st->cadres += p->role >= 0;
        st->never_dispatched += p->role < 0;
        for (int y = 0; p->role >= 0 && y < MAX_YEARS; y++) {
            int64_t y0 = tz_time_days_from_civil(tz_time_year_of(w->d0) + y, 1, 1);
            int64_t y1 = tz_time_days_from_civil(tz_time_year_of(w->d0) + y, 12, 31);
            if (y0 > w->d1 || p->start > y1 || last_day(p) < y0)
                continue;
            st->cadres_absent[p->absences[y] < 3 ? p->absences[y] : 3]++;
        }
    }
    for (int v = 0; v < w->nvil; v++)
        st->short_villages +=
            w->vil[v].team_members < team_min(w, w->vil[v].category, TZ_MISSION_TEAM_MEMBER);

    /* the log key goes to a private temp dir, from which create copies it */
    const char *tmpdir = getenv("TMPDIR");
    snprintf(tmp, sizeof tmp, "%s/taizhang-scenario.XXXXXX", tmpdir && *tmpdir ? tmpdir : "/tmp");
    if (mkdtemp(tmp) == NULL) {
        tmp[0] = '\0';
        rc = tz_err_set(err, TZ_ERR_IO, "scenario: temp dir: %s", strerror(errno));
        goto out;
    }
    snprintf(log_path, sizeof log_path, "%s/log.key", tmp);
    if ((rc = tz_keyfile_write_secret(log_path, &w->log, NULL, err)) != TZ_OK)
        goto out;
    clk.now = (uint64_t)at_time(w->setup_day, 9, 0, 0) * 1000000u;
    tz_time_set_clock(sim_clock_read, &clk);
    const char *origin = opt->origin ? opt->origin : DEFAULT_ORIGIN;
    if ((rc = tz_ledger_create(dir, origin, log_path, NULL, &w->keys[w->k_root].sk.pub, 1, err)) !=
        TZ_OK)
        goto out;
    if ((rc = tz_ledger_open(&l, dir, 0, NULL, err)) != TZ_OK)
        goto out;
    count_type(st, "genesis", 1);
    rc = write_all(w, l, &clk, opt->group > 0 ? opt->group : 256, opt, err);
    st->entries = tz_ledger_size(l);
    tz_ledger_root(l, st->root);
    if (rc == TZ_OK && opt->keys_dir != NULL)
        rc = write_keys(w, opt->keys_dir, err);
out:
    tz_ledger_close(l);
    tz_time_set_clock(NULL, NULL);
    if (log_path[0] != '\0')
        unlink(log_path);
    if (tmp[0] != '\0')
        rmdir(tmp);
    world_free(w);
    free(w);
    st->elapsed_s = (double)(monotonic_ns() - t0) / 1e9;
    return rc;
}
