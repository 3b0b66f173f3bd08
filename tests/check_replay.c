/*
 * check_replay.c: dispute review (ledger/replay.c, cli/replay.c) on a county
 * ledger of four months.
 *
 * `taizhang replay --until N-1` must give exactly the ledger that holding
 * the first N entries gives: the test builds that ledger independently, by
 * creating a new ledger with the same genesis and appending the source's
 * statements and signatures one by one through tz_ledger_append on a clock
 * set to each entry's recorded_at, and compares every column family record
 * by record. The only legitimate differences are in the meta family: the
 * fresh ledger holds a checkpoint signed for size N (it has the log key),
 * the replay holds none but a "replay" record instead. Every query on the
 * replay must print what the same query prints `--as-of N-1` on the full
 * ledger; the replay must verify; writers must refuse it. `taizhang history`
 * must list exactly the subject index's entries, each signer with the
 * holder, roles and scope the scenario gave that key (keys.tsv).
 */
#include <check.h>
#include <ftw.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "crypto/key.h"
#include "ledger/checkpoint.h"
#include "ledger/entry.h"
#include "ledger/entry_json.h"
#include "ledger/ledger.h"
#include "ledger/replay.h"
#include "ledger/store.h"
#include "projections/view.h"
#include "tests/tz_test.h"
#include "util/encoding.h"
#include "util/time.h"

#define TZ "'" TZ_CLI_PATH "'"
#define NCUTS 5

static char dir[256], src[320], keys[320];
static uint64_t size;
static uint64_t cuts[NCUTS];        /* N: the entries of each replay */
static char replays[NCUTS][400];    /* their directories */
static char roots[NCUTS][64];       /* the root each replay command printed */

/* ---- helpers ------------------------------------------------------------------------ */

static int writable(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)ftw;
    if (flag != FTW_SL)
        chmod(path, S_ISDIR(st->st_mode) ? 0700 : 0600);
    return 0;
}

/* Runs a command line; asserts its exit status; returns stdout (malloc'd). */
static char *run(int want, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static char *run(int want, const char *fmt, ...)
{
    char cmd[4096];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    ck_assert_int_lt(n, (int)sizeof cmd);
    char *out = NULL;
    int rc = tz_test_run(&out, "%s", cmd);
    ck_assert_msg(rc == want, "%s: exit %d, want %d; output: %s", cmd, rc, want, out ? out : "");
    return out;
}

static json_t *parse(const char *text)
{
    json_error_t je;
    json_t *j = json_loads(text, 0, &je);
    ck_assert_msg(j != NULL, "not JSON (%s): %.300s", je.text, text);
    return j;
}

static json_t *entry_view(tz_ledger *l, uint64_t seq)
{
    uint8_t *raw = NULL;
    size_t len = 0;
    tz_err e;
    ck_assert_msg(tz_ledger_get(l, seq, &raw, &len, &e) == TZ_OK, "%s", e.msg);
    json_t *j = tz_entry_json(seq, raw, len, &e);
    ck_assert_msg(j != NULL, "%s", e.msg);
    tz_store_free(raw);
    return j;
}

static tz_ledger *open_ledger(const char *path)
{
    tz_ledger *l;
    tz_err e;
    ck_assert_msg(tz_ledger_open(&l, path, TZ_LEDGER_READONLY, NULL, &e) == TZ_OK, "%s", e.msg);
    return l;
}

static tz_store *open_store(const char *ledger)
{
    char path[512];
    int n = snprintf(path, sizeof path, "%s/db", ledger);
    ck_assert_msg(n >= 0 && (size_t)n < sizeof path, "%s/db: path too long", ledger);
    tz_store *s;
    tz_err e;
    ck_assert_msg(tz_store_open(&s, path, TZ_STORE_READONLY, &e) == TZ_OK, "%s", e.msg);
    return s;
}

/* ---- the county and its replays ---------------------------------------------------- */

/* Built once for the suite, in the parent process, by the CLI only: a
 * process that has used RocksDB keeps its background threads, and the
 * children Check forks for the tests would inherit their locks. */
static void county_up(void)
{
    tz_test_tmpdir(dir, sizeof dir);
    snprintf(src, sizeof src, "%s/ledger", dir);
    snprintf(keys, sizeof keys, "%s/keys", dir);
    char *out = run(0, TZ " demo --db '%s' --keys '%s' --months 4 --profile '%s' --calendar '%s'",
                    src, keys, TZ_SOURCE_DIR "/profiles/shiquan-2021.json",
                    TZ_SOURCE_DIR "/data/cn-workday-calendar.json");
    const char *line = strstr(out, "entries: ");
    unsigned long long n = 0;
    ck_assert_msg(line != NULL && sscanf(line, "entries: %llu", &n) == 1, "%s", out);
    size = n;
    free(out);
    /* genesis alone; just after the first dispatches; a sheet still awaiting
     * its second signature; mid-story; the whole log */
    const uint64_t want[NCUTS] = {1, 336, 600, 1013, size};
    for (int i = 0; i < NCUTS; i++) {
        cuts[i] = want[i];
        ck_assert_uint_le(cuts[i], size);
        snprintf(replays[i], sizeof replays[i], "%s/replay-%llu", dir,
                 (unsigned long long)cuts[i]);
        out = run(0, TZ " replay --db '%s' --until %llu --out '%s'", src,
                  (unsigned long long)(cuts[i] - 1), replays[i]);
        json_t *j = parse(out);
        ck_assert_int_eq(json_integer_value(json_object_get(j, "until")), (json_int_t)cuts[i] - 1);
        ck_assert_int_eq(json_integer_value(json_object_get(j, "entries")), (json_int_t)cuts[i]);
        ck_assert_str_eq(json_string_value(json_object_get(j, "out")), replays[i]);
        ck_assert_int_eq(json_integer_value(json_object_get(j, "source_size")), (json_int_t)size);
        snprintf(roots[i], sizeof roots[i], "%s", json_string_value(json_object_get(j, "root")));
        json_decref(j);
        free(out);
    }
}

static void county_down(void)
{
    nftw(dir, writable, 16, FTW_PHYS); /* the replays are read-only */
    tz_test_rmtree(dir);
}

/* ---- replay == a fresh ledger of the first N entries ------------------------------- */

static uint64_t clock_now;
static uint64_t fixed_clock(void *ctx)
{
    (void)ctx;
    return clock_now;
}

/* Every record of cf equal, in order; returns the count. */
static uint64_t compare_cf(tz_store *a, tz_store *b, tz_cf cf)
{
    tz_store_iter *ia = tz_store_iter_new(a, cf, NULL, 0), *ib = tz_store_iter_new(b, cf, NULL, 0);
    uint64_t n = 0;
    for (;; n++) {
        int va = tz_store_iter_valid(ia), vb = tz_store_iter_valid(ib);
        ck_assert_msg(va == vb, "%s: one side has more records (after %llu)", tz_store_cf_name(cf),
                      (unsigned long long)n);
        if (!va)
            break;
        size_t kal, kbl, val, vbl;
        const uint8_t *ka = tz_store_iter_key(ia, &kal), *kb = tz_store_iter_key(ib, &kbl);
        const uint8_t *xa = tz_store_iter_value(ia, &val), *xb = tz_store_iter_value(ib, &vbl);
        ck_assert_msg(kal == kbl && memcmp(ka, kb, kal) == 0, "%s: keys differ at record %llu",
                      tz_store_cf_name(cf), (unsigned long long)n);
        ck_assert_msg(val == vbl && memcmp(xa, xb, val) == 0, "%s: values differ at record %llu",
                      tz_store_cf_name(cf), (unsigned long long)n);
        tz_store_iter_next(ia);
        tz_store_iter_next(ib);
    }
    tz_err e;
    ck_assert(tz_store_iter_status(ia, &e) == TZ_OK && tz_store_iter_status(ib, &e) == TZ_OK);
    tz_store_iter_free(ia);
    tz_store_iter_free(ib);
    return n;
}

/* The meta keys of a store, joined by ",". */
static void meta_keys(tz_store *s, char *out, size_t cap)
{
    tz_store_iter *it = tz_store_iter_new(s, TZ_CF_META, NULL, 0);
    size_t off = 0;
    out[0] = '\0';
    for (; tz_store_iter_valid(it); tz_store_iter_next(it)) {
        size_t kl;
        const uint8_t *k = tz_store_iter_key(it, &kl);
        off += (size_t)snprintf(out + off, cap - off, "%s%.*s", off ? "," : "", (int)kl,
                                (const char *)k);
    }
    tz_store_iter_free(it);
}

static void assert_meta_equal(tz_store *a, tz_store *b, const char *key)
{
    uint8_t *va = NULL, *vb = NULL;
    size_t la = 0, lb = 0;
    tz_err e;
    ck_assert(tz_store_get(a, TZ_CF_META, key, strlen(key), &va, &la, &e) == TZ_OK);
    ck_assert(tz_store_get(b, TZ_CF_META, key, strlen(key), &vb, &lb, &e) == TZ_OK);
    ck_assert_msg(la == lb && memcmp(va, vb, la) == 0, "meta %s differs", key);
    tz_store_free(va);
    tz_store_free(vb);
}

/* The replay of cut i against the fresh ledger of the same entries. */
static void assert_replay_is_fresh(int i, const char *fresh, const tz_public_key *log_key)
{
    tz_store *r = open_store(replays[i]), *f = open_store(fresh);
    ck_assert_uint_eq(compare_cf(r, f, TZ_CF_ENTRIES), cuts[i]);
    ck_assert_uint_gt(compare_cf(r, f, TZ_CF_MERKLE), cuts[i] - 1);
    ck_assert_uint_gt(compare_cf(r, f, TZ_CF_INDEX), 0);
    uint64_t projections = compare_cf(r, f, TZ_CF_PROJECTIONS);
    ck_assert(cuts[i] == 1 || projections > 0);
    /* the legitimate difference: checkpoint (fresh, signed) vs replay record */
    char km[200];
    meta_keys(r, km, sizeof km);
    ck_assert_str_eq(km, "format,head,replay");
    meta_keys(f, km, sizeof km);
    ck_assert_str_eq(km, "checkpoint,format,head");
    assert_meta_equal(r, f, "format");
    assert_meta_equal(r, f, "head");
    /* the fresh ledger's signed checkpoint names the root the replay printed */
    uint8_t *note = NULL;
    size_t len = 0;
    tz_err e;
    tz_checkpoint cp;
    ck_assert(tz_store_get(f, TZ_CF_META, "checkpoint", 10, &note, &len, &e) == TZ_OK);
    ck_assert_msg(tz_checkpoint_open(&cp, (const char *)note, len, log_key, &e) == TZ_OK, "%s",
                  e.msg);
    ck_assert_uint_eq(cp.size, cuts[i]);
    char b64[64];
    tz_base64_encode(b64, sizeof b64, cp.root, 32);
    ck_assert_str_eq(b64, roots[i]);
    tz_store_free(note);
    tz_store_close(r);
    tz_store_close(f);
}

/* Appends the source's entry seq, with its own statement, signatures and
 * recorded_at, to the fresh ledger. */
static void reappend(tz_ledger *from, tz_ledger *to, uint64_t seq)
{
    uint8_t *raw = NULL;
    size_t len = 0;
    tz_err e;
    tz_entry en;
    ck_assert(tz_ledger_get(from, seq, &raw, &len, &e) == TZ_OK);
    ck_assert(tz_entry_decode(&en, raw, len, &e) == TZ_OK);
    clock_now = en.recorded_at;
    tz_submission sub = {en.statement, en.statement_len, en.sigs, en.nsigs};
    tz_append_result res;
    size_t processed = 0;
    ck_assert_msg(tz_ledger_append(to, &sub, 1, &res, &processed, 0, &e) == TZ_OK, "%s", e.msg);
    ck_assert_msg(res.status == TZ_OK && !res.existing && res.seq == seq, "entry %llu: %s",
                  (unsigned long long)seq, res.err.msg);
    tz_store_free(raw);
}

START_TEST(test_replay_equals_fresh_ledger)
{
    tz_ledger *l = open_ledger(src);
    json_t *genesis = entry_view(l, 0);
    const json_t *body = json_object_get(json_object_get(genesis, "statement"), "body");
    tz_public_key rootkeys[TZ_ENTRY_MAX_SIGS], log_key;
    size_t nroots = json_array_size(json_object_get(body, "roots")), k;
    json_t *x;
    tz_err e;
    json_array_foreach(json_object_get(body, "roots"), k, x)
        ck_assert(tz_key_parse_public(&rootkeys[k], json_string_value(x),
                                      strlen(json_string_value(x)), &e) == TZ_OK);
    log_key = *tz_ledger_log_key(l);
    char fresh[400], log_path[400];
    snprintf(fresh, sizeof fresh, "%s/fresh", dir);
    snprintf(log_path, sizeof log_path, "%s/log.key", src);
    clock_now = (uint64_t)json_integer_value(json_object_get(genesis, "recorded_at_us"));
    tz_time_set_clock(fixed_clock, NULL);
    ck_assert_msg(tz_ledger_create(fresh, json_string_value(json_object_get(body, "origin")),
                                   log_path, NULL, rootkeys, nroots, &e) == TZ_OK, "%s", e.msg);
    uint64_t seq = 1;
    for (int i = 0; i < NCUTS; i++) {
        tz_ledger *f;
        ck_assert_msg(tz_ledger_open(&f, fresh, 0, NULL, &e) == TZ_OK, "%s", e.msg);
        for (; seq < cuts[i]; seq++)
            reappend(l, f, seq);
        tz_ledger_close(f);
        assert_replay_is_fresh(i, fresh, &log_key);
    }
    tz_time_set_clock(NULL, NULL);
    json_decref(genesis);
    tz_ledger_close(l);
}
END_TEST

/* ---- every reading command on the replay == as-of N-1 on the source ----------------- */

static const char *const queries[] = {
    "roster --village xiaotai",
    "roster --township chengguan",
    "attendance --person p0001",
    "attendance --village xiaotai --year 2024",
    "attendance --township chengguan --month 2024-02",
    "leave --person p0001",
    "absences --person p0001",
    "handover",
    "term --township chengguan",
    "recall --person p0001",
    "grade --person p0001",
    "eligibility --year 2024 --township chengguan",
    "allowance --village xiaotai --year 2024",
    "roster --village xiaotai --explain",
};

/* The same arguments on the replay and (with extra) on the source: the
 * same exit status and the same bytes. */
static void same_output(int i, const char *args, const char *extra)
{
    char *a = NULL, *b = NULL;
    int ra = tz_test_run(&a, TZ " %s --db '%s' 2>/dev/null", args, replays[i]);
    int rb = tz_test_run(&b, TZ " %s --db '%s' %s 2>/dev/null", args, src, extra);
    ck_assert_msg(ra == rb, "%s at N=%llu: exit %d on the replay, %d as of N-1", args,
                  (unsigned long long)cuts[i], ra, rb);
    ck_assert_msg(strcmp(a, b) == 0, "%s at N=%llu differs:\nreplay:\n%.800s\nas of N-1:\n%.800s",
                  args, (unsigned long long)cuts[i], a, b);
    free(a);
    free(b);
}

START_TEST(test_queries_equal_as_of)
{
    char extra[64], args[256];
    for (int i = 0; i < NCUTS; i++) {
        uint64_t n = cuts[i];
        snprintf(extra, sizeof extra, "--as-of %llu", (unsigned long long)(n - 1));
        for (size_t q = 0; q < sizeof queries / sizeof queries[0]; q++) {
            snprintf(args, sizeof args, "%s --format json", queries[q]);
            same_output(i, args, extra);
        }
        snprintf(args, sizeof args, "diff --from 0 --to %llu --format json",
                 (unsigned long long)(n - 1));
        same_output(i, args, "");
        if (n == size)
            same_output(i, "log", "");
        else { /* log --to N on the source: the same entries */
            char *a = NULL, *b = NULL;
            ck_assert_int_eq(tz_test_run(&a, TZ " log --db '%s'", replays[i]), 0);
            ck_assert_int_eq(tz_test_run(&b, TZ " log --db '%s' --to %llu", src,
                                         (unsigned long long)n), 0);
            ck_assert_str_eq(a, b);
            free(a);
            free(b);
        }
        snprintf(args, sizeof args, "get --seq %llu --json", (unsigned long long)(n - 1));
        same_output(i, args, "");
        snprintf(args, sizeof args, "prove --seq %llu", (unsigned long long)(n / 2));
        snprintf(extra, sizeof extra, "--size %llu", (unsigned long long)n);
        same_output(i, args, extra);
        snprintf(args, sizeof args, "prove --from 1 --to %llu", (unsigned long long)n);
        same_output(i, args, "");
        snprintf(extra, sizeof extra, "--to %llu", (unsigned long long)(n - 1));
        same_output(i, "history --person p0001 --format json", extra);
        same_output(i, "history --village xiaotai --format json", extra);
    }
    /* not vacuous: the mid-story replay has a roster and sheets */
    char *out = run(0, TZ " roster --db '%s' --village xiaotai --format json", replays[3]);
    json_t *j = parse(out);
    ck_assert_uint_gt(json_array_size(json_object_get(j, "rows")), 0);
    ck_assert_int_eq(json_integer_value(json_object_get(j, "as_of")), (json_int_t)cuts[3] - 1);
    json_decref(j);
    free(out);
}
END_TEST

/* ---- verify ------------------------------------------------------------------------- */

START_TEST(test_replay_verifies)
{
    for (int i = 0; i < NCUTS; i++) {
        char *out = run(0, TZ " verify --db '%s' --json", replays[i]);
        json_t *j = parse(out);
        ck_assert(json_is_true(json_object_get(j, "ok")));
        ck_assert_int_eq(json_integer_value(json_object_get(j, "size")), (json_int_t)cuts[i]);
        ck_assert_str_eq(json_string_value(json_object_get(j, "root")), roots[i]);
        json_decref(j);
        free(out);
    }
}
END_TEST

/* A copy of replay i that the test may damage. */
static void writable_copy(int i, char *out, size_t cap)
{
    snprintf(out, cap, "%s/damaged", dir);
    nftw(out, writable, 16, FTW_PHYS);
    tz_test_rmtree(out);
    free(run(0, "cp -r '%s' '%s' && chmod -R u+w '%s'", replays[i], out, out));
}

/* tz_replay_verify on the replay in path, as the verifier calls it. */
static void replay_verdict(const char *path, const tz_public_key *log_key, uint64_t n,
                           char *reason, size_t cap)
{
    tz_ledger *l = open_ledger(path);
    uint8_t root[32];
    int is_replay = 0;
    tz_err e;
    tz_ledger_root(l, root);
    ck_assert_msg(tz_ledger_size(l) == n, "size %llu", (unsigned long long)tz_ledger_size(l));
    ck_assert(tz_replay_verify(tz_ledger_store(l), log_key, tz_ledger_origin(l), n, root,
                               &is_replay, reason, cap, &e) == TZ_OK);
    ck_assert(is_replay);
    tz_ledger_close(l);
}

START_TEST(test_damaged_replay_record_is_caught)
{
    tz_ledger *l = open_ledger(src);
    tz_public_key log_key = *tz_ledger_log_key(l);
    tz_ledger_close(l);
    char copy[400], reason[TZ_ERR_MSG_MAX];
    tz_err e;
    /* intact: the record proves the prefix */
    replay_verdict(replays[2], &log_key, cuts[2], reason, sizeof reason);
    ck_assert_msg(reason[0] == '\0', "%s", reason);
    /* another log key: the source checkpoint does not verify */
    tz_secret_key other;
    ck_assert(tz_key_generate(&other, "other-log", &e) == TZ_OK);
    replay_verdict(replays[2], &other.pub, cuts[2], reason, sizeof reason);
    ck_assert_msg(strstr(reason, "does not verify with the log key"), "%s", reason);
    tz_key_wipe(&other);
    /* the record of another replay: sizes and roots disagree */
    uint8_t *val = NULL;
    size_t len = 0;
    tz_store *s = open_store(replays[1]);
    ck_assert(tz_store_get(s, TZ_CF_META, "replay", 6, &val, &len, &e) == TZ_OK);
    tz_store_close(s);
    writable_copy(2, copy, sizeof copy);
    char db[512];
    snprintf(db, sizeof db, "%s/db", copy);
    ck_assert(tz_store_open(&s, db, 0, &e) == TZ_OK);
    ck_assert(tz_store_put(s, TZ_CF_META, "replay", 6, val, len, &e) == TZ_OK);
    tz_store_close(s);
    tz_store_free(val);
    replay_verdict(copy, &log_key, cuts[2], reason, sizeof reason);
    ck_assert_msg(strstr(reason, "says 336 entries but the replay holds 600"), "%s", reason);
    char *out = run(1, TZ " verify --db '%s' --json", copy);
    ck_assert_msg(strstr(out, "says 336 entries"), "%s", out);
    free(out);
    /* a checkpoint planted beside the record */
    writable_copy(2, copy, sizeof copy);
    char *note = run(0, TZ " checkpoint --db '%s'", src);
    ck_assert(tz_store_open(&s, db, 0, &e) == TZ_OK);
    ck_assert(tz_store_put(s, TZ_CF_META, "checkpoint", 10, note, strlen(note), &e) == TZ_OK);
    tz_store_close(s);
    free(note);
    replay_verdict(copy, &log_key, cuts[2], reason, sizeof reason);
    ck_assert_msg(strstr(reason, "holds no checkpoint of its own"), "%s", reason);
    /* an entry changed: the replay of the entries catches it, as for any ledger */
    writable_copy(2, copy, sizeof copy);
    ck_assert(tz_store_open(&s, db, 0, &e) == TZ_OK);
    uint8_t key[8];
    tz_store_key_u64(key, 500);
    ck_assert(tz_store_get(s, TZ_CF_ENTRIES, key, 8, &val, &len, &e) == TZ_OK);
    val[len - 1] ^= 1;
    ck_assert(tz_store_put(s, TZ_CF_ENTRIES, key, 8, val, len, &e) == TZ_OK);
    tz_store_free(val);
    tz_store_close(s);
    out = run(1, TZ " verify --db '%s' --json", copy);
    json_t *j = parse(out);
    ck_assert_int_eq(json_integer_value(json_object_get(j, "first_bad_seq")), 500);
    json_decref(j);
    free(out);
}
END_TEST

/* ---- --until DATE --------------------------------------------------------------------- */

static uint64_t recorded_at(tz_ledger *l, uint64_t seq)
{
    json_t *j = entry_view(l, seq);
    uint64_t us = (uint64_t)json_integer_value(json_object_get(j, "recorded_at_us"));
    json_decref(j);
    return us;
}

START_TEST(test_replay_by_date)
{
    char out_dir[400];
    snprintf(out_dir, sizeof out_dir, "%s/by-date", dir);
    char *out = run(0, TZ " replay --db '%s' --until 2024-03-31 --out '%s'", src, out_dir);
    json_t *j = parse(out);
    uint64_t until = (uint64_t)json_integer_value(json_object_get(j, "until"));
    json_decref(j);
    free(out);
    /* the end of 2024-03-31 in China time is 2024-03-31T16:00:00Z */
    uint64_t end = (uint64_t)((tz_time_days_from_civil(2024, 4, 1) * 86400 - 8 * 3600)) * 1000000u;
    tz_ledger *l = open_ledger(src);
    ck_assert_uint_lt(until + 1, size);
    ck_assert_uint_le(recorded_at(l, until), end);
    ck_assert_uint_gt(recorded_at(l, until + 1), end);
    tz_ledger_close(l);
    l = open_ledger(out_dir);
    ck_assert_uint_eq(tz_ledger_size(l), until + 1);
    tz_ledger_close(l);
    /* a day after the last entry: the whole log */
    snprintf(out_dir, sizeof out_dir, "%s/by-date-late", dir);
    out = run(0, TZ " replay --db '%s' --until 2030-01-01 --out '%s'", src, out_dir);
    j = parse(out);
    ck_assert_int_eq(json_integer_value(json_object_get(j, "entries")), (json_int_t)size);
    json_decref(j);
    free(out);
    /* a day before the first entry: nothing to replay, nothing created */
    snprintf(out_dir, sizeof out_dir, "%s/by-date-early", dir);
    out = run(3, TZ " replay --db '%s' --until 2023-01-01 --out '%s' 2>&1", src, out_dir);
    ck_assert_msg(strstr(out, "--until 2023-01-01") && strstr(out, "before the first entry"), "%s",
                  out);
    free(out);
    struct stat st;
    ck_assert_int_ne(stat(out_dir, &st), 0);
}
END_TEST

/* ---- writers refuse a replay ------------------------------------------------------------ */

/* The files of a replay but RocksDB's informational LOG files (rotated by
 * every open of a process that ignores file modes, as root does; they hold
 * no data), each "name size mode", sorted; and the count of those that are
 * writable. */
static char listing[16384];
static size_t listing_len;
static int writable_files;
static int list_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    const char *name = path + ftw->base;
    if (flag == FTW_SL || strncmp(name, "LOG", 3) == 0)
        return 0;
    writable_files += (st->st_mode & 0222) != 0;
    listing_len += (size_t)snprintf(listing + listing_len, sizeof listing - listing_len,
                                    "%s %lld %o\n", path, (long long)st->st_size,
                                    (unsigned)(st->st_mode & 07777));
    ck_assert_uint_lt(listing_len, sizeof listing);
    return 0;
}

static char *list_files(const char *root)
{
    listing_len = 0;
    writable_files = 0;
    ck_assert_int_eq(nftw(root, list_one, 16, FTW_PHYS), 0);
    return strdup(listing);
}

START_TEST(test_writers_refuse_a_replay)
{
    const char *r = replays[2];
    char *before = list_files(r);
    ck_assert_int_eq(writable_files, 0);
    ck_assert_msg(strstr(before, "/replay.json "), "%s", before);
    char memo[400];
    snprintf(memo, sizeof memo, "%s/memo.json", dir);
    const char line[] = "{\"type\":\"memo\",\"id\":\"memo/replay\",\"at\":\"2024-05-01T09:00:00+08:00\","
                        "\"body\":{\"text\":\"x\"}}\n";
    tz_test_write_file(memo, line, strlen(line));
    char *out = run(2, TZ " append --db '%s' --key '%s/root.key' --in '%s' 2>&1", r, keys, memo);
    ck_assert_msg(strstr(out, "read-only replay") && strstr(out, "seq 599"), "%s", out);
    free(out);
    out = run(2, TZ " cosign --db '%s' --key '%s/root.key' --seq 5 2>&1", r, keys);
    ck_assert_msg(strstr(out, "read-only replay"), "%s", out);
    free(out);
    out = run(2, TZ " reproject --db '%s' 2>&1", r);
    ck_assert_msg(strstr(out, "read-only replay"), "%s", out);
    free(out);
    out = run(2, TZ " checkpoint --db '%s' 2>&1", r);
    ck_assert_msg(strstr(out, "holds no checkpoint of its own"), "%s", out);
    free(out);
    char *d = NULL;
    int rc = tz_test_run(&d, "timeout 20 '%s' --db '%s' --listen 127.0.0.1:0 2>&1", TZ_DAEMON_PATH,
                         r);
    ck_assert_msg(rc != 0 && rc != 124 && strstr(d, "read-only replay"), "taizhangd: exit %d: %s",
                  rc, d);
    free(d);
    /* not a file was added, changed or made writable */
    char *after = list_files(r);
    ck_assert_str_eq(after, before);
    free(before);
    free(after);
    /* and nothing was written: it still verifies as made */
    out = run(0, TZ " verify --db '%s' --json", r);
    ck_assert_msg(strstr(out, roots[2]), "%s", out);
    free(out);
}
END_TEST

/* ---- history ------------------------------------------------------------------------------ */

/* keys.tsv of the scenario: key name -> "roles\tscope\tholder". */
static json_t *load_keys_tsv(void)
{
    char path[400];
    snprintf(path, sizeof path, "%s/keys.tsv", keys);
    char *text = tz_test_read_file(path, NULL), *save = NULL;
    json_t *m = json_object();
    for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        char *f[5], *s2 = NULL;
        int n = 0;
        for (char *p = strtok_r(line, "\t", &s2); p && n < 5; p = strtok_r(NULL, "\t", &s2))
            f[n++] = p;
        ck_assert_int_eq(n, 5);
        json_object_set_new(m, f[1], json_pack("{s:s,s:s,s:s}", "roles", f[2], "scope", f[3],
                                               "holder", f[4]));
    }
    free(text);
    return m;
}

typedef struct seq_list {
    uint64_t seqs[4096];
    size_t n;
} seq_list;

static int collect_seq(void *ctx, uint64_t seq)
{
    seq_list *s = ctx;
    ck_assert_uint_lt(s->n, 4096);
    s->seqs[s->n++] = seq;
    return 0;
}

/* The history's rows are exactly the subject index's entries, each with
 * its statement, time and signers; returns the document. */
static json_t *assert_history(const char *kind, const char *id, const json_t *keys_tsv)
{
    char *out = run(0, TZ " history --db '%s' --%s %s --format json", src, kind, id);
    json_t *doc = parse(out);
    free(out);
    tz_ledger *l = open_ledger(src);
    seq_list want = {.n = 0};
    tz_err e;
    ck_assert(tz_view_subject_scan(tz_ledger_store(l), kind, id, 0, size - 1, collect_seq, &want,
                                   &e) == TZ_OK);
    const json_t *rows = json_object_get(doc, "rows");
    ck_assert_uint_gt(want.n, 3);
    ck_assert_uint_eq(json_array_size(rows), want.n);
    size_t i, k;
    json_t *row, *sig;
    json_array_foreach(rows, i, row) {
        ck_assert_int_eq(json_integer_value(json_object_get(row, "seq")), (json_int_t)want.seqs[i]);
        json_t *entry = entry_view(l, want.seqs[i]);
        const json_t *st = json_object_get(entry, "statement");
        static const char *const same[] = {"type", "id", "at"};
        for (k = 0; k < 3; k++)
            ck_assert_str_eq(json_string_value(json_object_get(row, same[k])),
                             json_string_value(json_object_get(st, same[k])));
        uint64_t us = (uint64_t)json_integer_value(json_object_get(entry, "recorded_at_us"));
        char china[TZ_TIME_RFC3339_MAX];
        tz_time_format_micros(china, us + 8ull * 3600 * 1000000);
        ck_assert_int_eq(strncmp(json_string_value(json_object_get(row, "recorded_at")), china, 19), 0);
        ck_assert_str_eq(json_string_value(json_object_get(row, "recorded_at")) + 19, "+08:00");
        const json_t *signers = json_object_get(row, "signers");
        ck_assert_uint_eq(json_array_size(signers),
                          json_array_size(json_object_get(entry, "signatures")));
        json_array_foreach(json_object_get(entry, "signatures"), k, sig) {
            const json_t *s = json_array_get(signers, k);
            ck_assert_str_eq(json_string_value(json_object_get(s, "key")),
                             json_string_value(json_object_get(sig, "key")));
            const json_t *tsv = json_object_get(keys_tsv, json_string_value(json_object_get(s, "name")));
            ck_assert_msg(tsv != NULL, "signer %s is not in keys.tsv",
                          json_string_value(json_object_get(s, "name")));
            ck_assert_str_eq(json_string_value(json_object_get(s, "holder")),
                             json_string_value(json_object_get(tsv, "holder")));
            ck_assert_str_eq(json_string_value(json_object_get(s, "scope")),
                             json_string_value(json_object_get(tsv, "scope")));
            char roles[200] = "";
            size_t r, off = 0;
            json_t *x;
            json_array_foreach(json_object_get(s, "roles"), r, x)
                off += (size_t)snprintf(roles + off, sizeof roles - off, "%s%s", r ? "," : "",
                                        json_string_value(x));
            ck_assert_str_eq(roles, json_string_value(json_object_get(tsv, "roles")));
        }
        json_decref(entry);
    }
    tz_ledger_close(l);
    return doc;
}

static const json_t *first_row(const json_t *doc, const char *type)
{
    size_t i;
    json_t *row;
    json_array_foreach(json_object_get(doc, "rows"), i, row)
        if (strcmp(json_string_value(json_object_get(row, "type")), type) == 0)
            return row;
    ck_abort_msg("no %s row", type);
    return NULL;
}

static const json_t *cosign_of(const json_t *doc, json_int_t seq)
{
    size_t i;
    json_t *row;
    json_array_foreach(json_object_get(doc, "rows"), i, row)
        if (json_integer_value(json_object_get(row, "cosigns")) == seq)
            return row;
    ck_abort_msg("no cosign of %lld", (long long)seq);
    return NULL;
}

/* 1 when some signer of row holds role (and, if scope is not NULL, that scope). */
static int signed_as(const json_t *row, const char *role, const char *scope)
{
    size_t i, k;
    json_t *s, *r;
    json_array_foreach(json_object_get(row, "signers"), i, s)
        json_array_foreach(json_object_get(s, "roles"), k, r)
            if (strcmp(json_string_value(r), role) == 0 &&
                (scope == NULL || strcmp(json_string_value(json_object_get(s, "scope")), scope) == 0))
                return 1;
    return 0;
}

/* The status of view in row's effects, or NULL. */
static const char *effect_status(const json_t *row, const char *view)
{
    size_t i;
    json_t *x;
    json_array_foreach(json_object_get(row, "effects"), i, x)
        if (strcmp(json_string_value(json_object_get(x, "view")), view) == 0)
            return json_string_value(json_object_get(x, "status"));
    return NULL;
}

START_TEST(test_history_of_a_person)
{
    json_t *tsv = load_keys_tsv();
    json_t *doc = assert_history("person", "p0001", tsv);
    ck_assert_str_eq(json_string_value(json_object_get(doc, "kind")), "person");
    ck_assert_str_ne(json_string_value(json_object_get(doc, "name")), "");
    const json_t *reg = first_row(doc, "person.register");
    ck_assert(signed_as(reg, "dispatching_unit", NULL));
    /* shiquan-2021 §8: the first secretary's dispatch, proposed by the unit
     * and approved by the county org dept */
    const json_t *d = first_row(doc, "dispatch");
    ck_assert(signed_as(d, "dispatching_unit", NULL));
    ck_assert(signed_as(d, "county_org_dept", "county:shiquan"));
    ck_assert_msg(strstr(json_string_value(json_object_get(d, "summary")),
                         "dispatch p0001 to xiaotai as first_secretary 2024-01-08..2026-01-07"),
                  "%s", json_string_value(json_object_get(d, "summary")));
    ck_assert_str_eq(effect_status(d, "term"), "active");
    /* 双签字: the township secretary submits the sheet, the village secretary
     * completes it by cosign */
    const json_t *a = first_row(doc, "attendance");
    json_int_t aseq = json_integer_value(json_object_get(a, "seq"));
    ck_assert_uint_eq(json_array_size(json_object_get(a, "signers")), 1);
    ck_assert(signed_as(a, "township_party_secretary", "township:chengguan"));
    ck_assert_str_eq(effect_status(a, "attendance"), "pending");
    ck_assert_msg(strstr(json_string_value(json_object_get(a, "summary")), "attendance 2024-01 of p0001: "),
                  "%s", json_string_value(json_object_get(a, "summary")));
    const json_t *c = cosign_of(doc, aseq);
    ck_assert(signed_as(c, "village_party_secretary", "village:xiaotai"));
    char want[200];
    snprintf(want, sizeof want, "cosign of entry %lld (attendance %s)", (long long)aseq,
             json_string_value(json_object_get(a, "id")));
    ck_assert_str_eq(json_string_value(json_object_get(c, "summary")), want);
    ck_assert_str_eq(effect_status(c, "attendance"), "complete");
    /* --from/--to keep the rows in range */
    char *out = run(0, TZ " history --db '%s' --person p0001 --from %lld --to %lld --format json",
                    src, (long long)aseq, (long long)aseq);
    json_t *one = parse(out);
    ck_assert_uint_eq(json_array_size(json_object_get(one, "rows")), 1);
    ck_assert_int_eq(json_integer_value(json_object_get(json_array_get(json_object_get(one, "rows"), 0),
                                                        "seq")), aseq);
    json_decref(one);
    free(out);
    json_decref(doc);
    json_decref(tsv);
}
END_TEST

START_TEST(test_history_of_a_village)
{
    json_t *tsv = load_keys_tsv();
    json_t *doc = assert_history("village", "xiaotai", tsv);
    const json_t *reg = first_row(doc, "org.village");
    ck_assert(signed_as(reg, "county_org_dept", NULL));
    ck_assert_uint_eq(json_integer_value(json_object_get(reg, "seq")),
                      json_integer_value(json_object_get(json_array_get(json_object_get(doc, "rows"), 0), "seq")));
    /* every cadre dispatched there appears */
    int dispatches = 0;
    size_t i;
    json_t *row;
    json_array_foreach(json_object_get(doc, "rows"), i, row)
        dispatches += strcmp(json_string_value(json_object_get(row, "type")), "dispatch") == 0;
    ck_assert_int_ge(dispatches, 3);
    size_t nrows = json_array_size(json_object_get(doc, "rows"));
    /* the table and the CSV carry the same rows */
    char *out = run(0, TZ " history --db '%s' --village xiaotai --format table", src);
    ck_assert_msg(strncmp(out, "history of village xiaotai 小台村", strlen("history of village xiaotai 小台村")) == 0,
                  "%.200s", out);
    ck_assert_msg(strstr(out, "signed by 小台村党支部书记"), "%.400s", out);
    free(out);
    out = run(0, TZ " history --db '%s' --village xiaotai --format csv", src);
    size_t lines = 0;
    for (const char *p = out; (p = strstr(p, "\r\n")) != NULL; p += 2)
        lines++;
    ck_assert_uint_eq(lines, nrows + 1);
    ck_assert(strncmp(out, "seq,recorded_at,at,type,id,summary,signers,effects\r\n", 52) == 0);
    free(out);
    json_decref(doc);
    json_decref(tsv);
}
END_TEST

/* ---- bad options ----------------------------------------------------------------------------- */

/* args with @S, @N, @F and @R replaced by the source, new_dir, file and a
 * replay. */
static void subst(char *out, size_t cap, const char *args, const char *new_dir, const char *file)
{
    size_t off = 0;
    for (const char *p = args; *p && off + 1 < cap; p++) {
        const char *with = p[0] != '@' ? NULL : p[1] == 'S' ? src : p[1] == 'N' ? new_dir
                         : p[1] == 'F' ? file : p[1] == 'R' ? replays[0] : NULL;
        if (with != NULL) {
            off += (size_t)snprintf(out + off, cap - off, "%s", with);
            p++;
        } else {
            out[off++] = *p;
        }
    }
    ck_assert_uint_lt(off, cap);
    out[off] = '\0';
}

START_TEST(test_bad_options)
{
    char out_dir[400], file[400];
    snprintf(out_dir, sizeof out_dir, "%s/never", dir);
    snprintf(file, sizeof file, "%s/a-file", dir);
    tz_test_write_file(file, "x", 1);
    static const struct {
        int exit;
        const char *args; /* @S: the source, @N: a new dir, @F: a file, @R: a replay */
        const char *says;
    } cases[] = {
        {2, "replay", "--db is required"},
        {2, "replay --db '@S' --until 5", "--out is required"},
        {2, "replay --db '@S' --out '@N'", "--until is required"},
        {2, "replay --db '@S' --until 5 --out '@N' --bogus", "--bogus: unknown option"},
        {2, "replay --db '@S' --until", "--until needs a value"},
        {3, "replay --db '@S' --until 99999999 --out '@N'", "--until 99999999: beyond the log"},
        {3, "replay --db '@S' --until yesterday --out '@N'", "--until: \"yesterday\" is neither"},
        {3, "replay --db '@S' --until 2024-02-30 --out '@N'", "neither a seq nor a date"},
        {2, "replay --db '@S' --until 5 --out '@S'", "is not empty"},
        {2, "replay --db '@S' --until 5 --out '@F'", "is not a directory"},
        {2, "replay --db '@N' --until 5 --out '@N'", "no ledger there"},
        {2, "replay --db '@R' --until 0 --out '@N'", "is itself a replay"},
        {2, "history --db '@S'", "exactly one of --person P and --village V"},
        {2, "history --db '@S' --person p0001 --village xiaotai", "exactly one of"},
        {3, "history --db '@S' --person p9999", "--person p9999: no person \"p9999\" is registered"},
        {3, "history --db '@S' --village nowhere", "--village nowhere: no village \"nowhere\""},
        {2, "history --db '@S' --person p0001 --format xml", "--format: table, json or csv"},
        {2, "history --db '@S' --person p0001 --from abc", "--from: \"abc\" is not a seq"},
        {2, "history --db '@S' --person p0001 --from 9 --to 3", "--from 9 is after --to 3"},
        {2, "history --person p0001", "--db DIR is required"},
        {2, "history --person p0001 --server http://127.0.0.1:1", "--server: not served yet"},
        {2, "history --db '@N' --person p0001", "no ledger there"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char args[1200];
        subst(args, sizeof args, cases[i].args, out_dir, file);
        char *out = run(cases[i].exit, TZ " %s 2>&1", args);
        ck_assert_msg(strstr(out, cases[i].says), "%s: %s", args, out);
        free(out);
        struct stat st;
        ck_assert_msg(stat(out_dir, &st) != 0, "%s left %s behind", args, out_dir);
    }
    char *out = run(0, TZ " replay --help");
    ck_assert(strstr(out, "usage: taizhang replay --db DIR --until SEQ|DATE --out NEWDIR"));
    free(out);
    out = run(0, TZ " history --help");
    ck_assert(strstr(out, "usage: taizhang history --db DIR (--person P | --village V)"));
    free(out);
}
END_TEST

static Suite *replay_suite(void)
{
    Suite *s = suite_create("replay");
    TCase *tc = tcase_create("county");
    tcase_set_timeout(tc, 900);
    tcase_add_unchecked_fixture(tc, county_up, county_down);
    tcase_add_test(tc, test_replay_equals_fresh_ledger);
    tcase_add_test(tc, test_queries_equal_as_of);
    tcase_add_test(tc, test_replay_verifies);
    tcase_add_test(tc, test_damaged_replay_record_is_caught);
    tcase_add_test(tc, test_replay_by_date);
    tcase_add_test(tc, test_writers_refuse_a_replay);
    tcase_add_test(tc, test_history_of_a_person);
    tcase_add_test(tc, test_history_of_a_village);
    tcase_add_test(tc, test_bad_options);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return tz_test_main(replay_suite);
}
