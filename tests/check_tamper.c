/*
 * check_tamper.c: the tamper report (tz_verify_all, `verify --all`).
 *
 * The ledger is a small county (the scenario generator, one month: 783
 * entries with registries, dispatches, attendance, leave and their
 * projections), then a key granted and revoked, then 60 memos: 845
 * entries. Each test damages a copy of it the way an operator with RocksDB
 * access would — and, for the faults only the log key can hide, the way
 * an operator who also holds the log key would (forge(): re-chain, rebuild
 * the tree, re-sign the checkpoint) — and asserts the exact list of
 * findings: every damaged seq with its class, nothing at the undamaged
 * seqs around them, and the exact count.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "crypto/hash.h"
#include "crypto/keyfile.h"
#include "crypto/note.h"
#include "ledger/apply.h"
#include "ledger/checkpoint.h"
#include "ledger/entry.h"
#include "ledger/ledger.h"
#include "ledger/merkle.h"
#include "ledger/statement.h"
#include "ledger/store.h"
#include "ledger/verify.h"
#include "scenario/scenario.h"
#include "tests/tz_test.h"

#define MEMOS 60

static char template_dir[256];   /* built once: ledger/ and keys/ */
static uint64_t county_size;     /* entries written by the scenario */
static uint64_t revoke_seq;      /* the key.revoke of the temporary key */
static uint64_t first_memo;      /* seq of memo/0 */
static uint64_t size;            /* the whole log */
static tz_secret_key temp_key;   /* granted, then revoked */
static tz_secret_key root_key;

static char work[256], db[320];  /* per test: a copy of the template */

/* seq of memo number m */
#define MEMO(m) (first_memo + (m))

/* ---- the county ------------------------------------------------------------ */

static void append_json(tz_ledger *l, const char *json, const tz_secret_key *key)
{
    tz_append_result res;
    ck_assert(tz_fixture_append(l, json, (const tz_secret_key *const[]){key}, 1, &res) == TZ_OK);
    ck_assert_msg(res.status == TZ_OK, "%s: %s", json, res.err.msg);
}

/* Builds the county in template_dir (run in a child process: RocksDB's
 * thread pool must not exist in this process before Check forks the
 * tests) and writes its figures to template_dir/figures. */
static void build_county(void)
{
    char ledger[320], keys[320], path[400];
    snprintf(ledger, sizeof ledger, "%s/ledger", template_dir);
    snprintf(keys, sizeof keys, "%s/keys", template_dir);
    tz_scenario_options o;
    tz_scenario_defaults(&o);
    o.months = 1;
    o.profile_path = TZ_SOURCE_DIR "/profiles/shiquan-2021.json";
    o.calendar_path = TZ_SOURCE_DIR "/data/cn-workday-calendar.json";
    o.keys_dir = keys;
    tz_scenario_stats st;
    tz_err e;
    ck_assert_msg(tz_scenario_generate(ledger, &o, &st, &e) == TZ_OK, "%s", e.msg);
    snprintf(path, sizeof path, "%s/root.key", keys);
    ck_assert_msg(tz_keyfile_read_secret(&root_key, path, NULL, &e) == TZ_OK, "%s", e.msg);
    tz_ledger *l;
    ck_assert_msg(tz_ledger_open(&l, ledger, 0, NULL, &e) == TZ_OK, "%s", e.msg);
    char vkey[TZ_KEY_STRING_MAX], json[768];
    tz_fixture_vkey(vkey, &temp_key);
    snprintf(json, sizeof json, "{\"type\":\"key.grant\",\"id\":\"grant/temp\",\"at\":"
             "\"2026-10-01T08:00:00+08:00\",\"body\":{\"key\":\"%s\",\"holder\":\"LS\","
             "\"roles\":[\"cadre\"],\"scope\":\"village:dongba\"}}", vkey);
    append_json(l, json, &root_key);
    snprintf(json, sizeof json, "{\"type\":\"key.revoke\",\"id\":\"revoke/temp\",\"at\":"
             "\"2026-10-02T08:00:00+08:00\",\"body\":{\"key\":\"%s\",\"reason\":\"left\"}}", vkey);
    append_json(l, json, &root_key);
    uint64_t revoked = tz_ledger_size(l) - 1, first = tz_ledger_size(l);
    tz_fixture_memos(l, &root_key, 0, MEMOS);
    uint64_t all = tz_ledger_size(l);
    tz_ledger_close(l);
    snprintf(path, sizeof path, "%s/figures", template_dir);
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fprintf(f, "%llu %llu %llu %llu\n", (unsigned long long)st.entries,
            (unsigned long long)revoked, (unsigned long long)first, (unsigned long long)all);
    ck_assert_int_eq(fclose(f), 0);
}

static void county_up(void)
{
    tz_test_tmpdir(template_dir, sizeof template_dir);
    tz_err e;
    ck_assert(tz_key_generate(&temp_key, "temp-cadre", &e) == TZ_OK);
    fflush(NULL);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        build_county();
        _exit(0);
    }
    int status;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "building the county failed");
    char path[400];
    snprintf(path, sizeof path, "%s/keys/root.key", template_dir);
    ck_assert_msg(tz_keyfile_read_secret(&root_key, path, NULL, &e) == TZ_OK, "%s", e.msg);
    size_t len;
    snprintf(path, sizeof path, "%s/figures", template_dir);
    char *figures = tz_test_read_file(path, &len);
    unsigned long long a, b, c, d;
    ck_assert_int_eq(sscanf(figures, "%llu %llu %llu %llu", &a, &b, &c, &d), 4);
    free(figures);
    county_size = a;
    revoke_seq = b;
    first_memo = c;
    size = d;
    ck_assert_uint_eq(size, county_size + 2 + MEMOS);
}

static void county_down(void)
{
    tz_key_wipe(&temp_key);
    tz_key_wipe(&root_key);
    tz_test_rmtree(template_dir);
}

static void copy_up(void)
{
    tz_test_tmpdir(work, sizeof work);
    snprintf(db, sizeof db, "%s/ledger", work);
    ck_assert_int_eq(tz_test_run(NULL, "cp -a '%s/ledger' '%s'", template_dir, work), 0);
}

static void copy_down(void)
{
    tz_test_rmtree(work);
}

/* ---- reading and damaging the store ---------------------------------------- */

static tz_store *open_store(void)
{
    char path[400];
    snprintf(path, sizeof path, "%s/db", db);
    tz_store *s;
    tz_err e;
    ck_assert_msg(tz_store_open(&s, path, 0, &e) == TZ_OK, "%s", e.msg);
    return s;
}

static uint8_t *get_raw(tz_store *s, uint64_t seq, size_t *len)
{
    uint8_t k[8], *v;
    tz_err e;
    tz_store_key_u64(k, seq);
    ck_assert_msg(tz_store_get(s, TZ_CF_ENTRIES, k, 8, &v, len, &e) == TZ_OK, "%s", e.msg);
    return v;
}

static void put_raw(tz_store *s, uint64_t seq, const void *v, size_t len)
{
    uint8_t k[8];
    tz_err e;
    tz_store_key_u64(k, seq);
    ck_assert(tz_store_put(s, TZ_CF_ENTRIES, k, 8, v, len, &e) == TZ_OK);
}

static void delete_raw(tz_store *s, uint64_t seq)
{
    uint8_t k[8];
    tz_err e;
    tz_store_key_u64(k, seq);
    ck_assert(tz_store_delete(s, TZ_CF_ENTRIES, k, 8, &e) == TZ_OK);
}

static void swap_entries(tz_store *s, uint64_t a, uint64_t b)
{
    size_t la, lb;
    uint8_t *va = get_raw(s, a, &la), *vb = get_raw(s, b, &lb);
    put_raw(s, a, vb, lb);
    put_raw(s, b, va, la);
    tz_store_free(va);
    tz_store_free(vb);
}

/* Changes the last digit of a memo's text in place ("民情日志 5" -> "... 6"):
 * the entry still decodes, its signature no longer verifies. */
static void alter_memo_text(tz_store *s, uint64_t seq)
{
    size_t len;
    uint8_t *v = get_raw(s, seq, &len);
    size_t at = len;
    for (size_t i = 0; i + 1 < len; i++)
        if (v[i] == ' ' && v[i + 1] >= '0' && v[i + 1] <= '9')
            at = i + 1;
    ck_assert_uint_lt(at, len);
    v[at] = v[at] == '9' ? '0' : (uint8_t)(v[at] + 1);
    put_raw(s, seq, v, len);
    tz_store_free(v);
}

/* A statement from JSON, signed by key, as an entry at seq chained to prev. */
static void make_entry(msgpack_sbuffer *out, uint64_t seq, const uint8_t prev[32],
                       uint64_t recorded_at, const char *json, const tz_secret_key *key)
{
    json_t *js = json_loads(json, 0, NULL);
    ck_assert_ptr_nonnull(js);
    msgpack_sbuffer st;
    msgpack_sbuffer_init(&st);
    tz_err e;
    ck_assert(tz_statement_from_json(&st, js, &e) == TZ_OK);
    json_decref(js);
    tz_entry entry = {.seq = seq, .recorded_at = recorded_at};
    memcpy(entry.prev, prev, 32);
    entry.statement = (const uint8_t *)st.data;
    entry.statement_len = st.size;
    ck_assert(tz_statement_sign(entry.sigs, entry.statement, entry.statement_len,
                                (const tz_secret_key *const[]){key}, 1, &e) == TZ_OK);
    entry.nsigs = 1;
    msgpack_sbuffer_init(out);
    ck_assert(tz_entry_encode(out, &entry, &e) == TZ_OK);
    msgpack_sbuffer_destroy(&st);
}

/* A forged memo put at key seq (chained to the entry before it, validly
 * signed by the root key) without touching the tree, head or checkpoint. */
static void insert_forged(tz_store *s, uint64_t seq)
{
    size_t len;
    uint8_t *before = get_raw(s, seq - 1, &len), prev[32];
    tz_merkle_leaf_hash(prev, before, len);
    tz_entry e;
    tz_err err;
    ck_assert(tz_entry_decode(&e, before, len, &err) == TZ_OK);
    msgpack_sbuffer sb;
    make_entry(&sb, seq, prev, e.recorded_at + 1,
               "{\"type\":\"memo\",\"id\":\"memo/forged\",\"at\":\"2026-11-01T09:00:00+08:00\","
               "\"body\":{\"text\":\"补记\"}}", &root_key);
    put_raw(s, seq, sb.data, sb.size);
    msgpack_sbuffer_destroy(&sb);
    tz_store_free(before);
}

/* Flips the last byte of the value of the first projection version written
 * by an entry in [from, to); returns that entry's seq. */
static uint64_t edit_projection(tz_store *s, uint64_t from, uint64_t to)
{
    tz_store_iter *it = tz_store_iter_new(s, TZ_CF_PROJECTIONS, "v", 1);
    uint64_t seq = UINT64_MAX;
    for (; tz_store_iter_valid(it); tz_store_iter_next(it)) {
        size_t klen, vlen;
        const uint8_t *k = tz_store_iter_key(it, &klen);
        if (k[0] != 'v')
            break;
        uint64_t at = ~tz_store_u64_from_key(k + klen - 8);
        if (at < from || at >= to)
            continue;
        const uint8_t *v = tz_store_iter_value(it, &vlen);
        uint8_t *copy = malloc(vlen), key[512];
        ck_assert(copy != NULL && klen <= sizeof key);
        memcpy(copy, v, vlen);
        memcpy(key, k, klen);
        copy[vlen - 1] ^= 0x01;
        tz_err e;
        ck_assert(tz_store_put(s, TZ_CF_PROJECTIONS, key, klen, copy, vlen, &e) == TZ_OK);
        free(copy);
        seq = at;
        break;
    }
    tz_err e;
    ck_assert(tz_store_iter_status(it, &e) == TZ_OK);
    tz_store_iter_free(it);
    ck_assert_msg(seq != UINT64_MAX, "no projection version in [%llu, %llu)",
                  (unsigned long long)from, (unsigned long long)to);
    return seq;
}

static char *saved_checkpoint(size_t *len)
{
    tz_ledger *l;
    tz_err e;
    char *note;
    ck_assert_msg(tz_ledger_open(&l, db, TZ_LEDGER_READONLY, NULL, &e) == TZ_OK, "%s", e.msg);
    ck_assert_msg(tz_ledger_checkpoint(l, &note, len, &e) == TZ_OK, "%s", e.msg);
    tz_ledger_close(l);
    return note;
}

/* ---- the attacker with the log key ------------------------------------------ */

typedef void (*mutate_fn)(uint64_t seq, tz_entry *e, void *ctx);

static int emit_put(void *ctx, unsigned level, uint64_t index, const uint8_t hash[32], tz_err *err)
{
    (void)err;
    uint8_t key[9];
    tz_ledger_node_key(key, level, index);
    tz_store_batch_put(ctx, TZ_CF_MERKLE, key, 9, hash, 32);
    return TZ_OK;
}

/* Deletes every record of cf (with a derived-record seq >= keep, when
 * derived is set) through b. */
static void delete_records(tz_store *s, tz_store_batch *b, tz_cf cf, int derived, uint64_t keep)
{
    tz_store_iter *it = tz_store_iter_new(s, cf, NULL, 0);
    for (; tz_store_iter_valid(it); tz_store_iter_next(it)) {
        size_t klen, vlen;
        const uint8_t *k = tz_store_iter_key(it, &klen);
        const uint8_t *v = tz_store_iter_value(it, &vlen);
        uint64_t seq;
        if (!derived || (tz_apply_value_seq(v, vlen, &seq) == TZ_OK && seq >= keep))
            tz_store_batch_delete(b, cf, k, klen);
    }
    tz_err e;
    ck_assert(tz_store_iter_status(it, &e) == TZ_OK);
    tz_store_iter_free(it);
}

/* Rewrites the log keeping its first keep entries, each passed through
 * mutate: prev re-chained, every tree node rebuilt, the head and a
 * checkpoint signed with the real log key (DIR/log.key); derived records
 * of dropped entries deleted. What only the log key can do. */
static void forge(uint64_t keep, mutate_fn mutate, void *ctx)
{
    tz_err e;
    char path[400];
    snprintf(path, sizeof path, "%s/log.key", db);
    tz_secret_key log_key;
    ck_assert_msg(tz_keyfile_read_secret(&log_key, path, NULL, &e) == TZ_OK, "%s", e.msg);
    tz_store *s = open_store();
    size_t note_len;
    uint8_t *old;
    ck_assert(tz_store_get(s, TZ_CF_META, "checkpoint", 10, &old, &note_len, &e) == TZ_OK);
    tz_note note;
    tz_checkpoint cp;
    ck_assert(tz_note_parse(&note, (const char *)old, note_len, &e) == TZ_OK);
    ck_assert(tz_checkpoint_parse(&cp, note.text, note.text_len, &e) == TZ_OK);
    tz_store_free(old);
    uint8_t **raw = calloc(size, sizeof *raw);
    size_t *len = calloc(size, sizeof *len);
    ck_assert(raw != NULL && len != NULL);
    for (uint64_t i = 0; i < size; i++)
        raw[i] = get_raw(s, i, &len[i]);
    tz_store_batch *b = tz_store_batch_new(s);
    delete_records(s, b, TZ_CF_ENTRIES, 0, 0);
    delete_records(s, b, TZ_CF_MERKLE, 0, 0);
    delete_records(s, b, TZ_CF_INDEX, 1, keep);
    delete_records(s, b, TZ_CF_PROJECTIONS, 1, keep);
    tz_merkle_frontier fr;
    tz_merkle_frontier_init(&fr);
    uint8_t prev[32] = {0};
    uint64_t last_rec = 0;
    for (uint64_t i = 0; i < keep; i++) {
        tz_entry entry;
        ck_assert(tz_entry_decode(&entry, raw[i], len[i], &e) == TZ_OK);
        if (mutate != NULL)
            mutate(i, &entry, ctx);
        memcpy(entry.prev, prev, 32);
        msgpack_sbuffer sb;
        msgpack_sbuffer_init(&sb);
        ck_assert(tz_entry_encode(&sb, &entry, &e) == TZ_OK);
        uint8_t k[8];
        tz_store_key_u64(k, i);
        tz_store_batch_put(b, TZ_CF_ENTRIES, k, 8, sb.data, sb.size);
        tz_merkle_leaf_hash(prev, (uint8_t *)sb.data, sb.size);
        ck_assert(tz_merkle_frontier_append(&fr, prev, emit_put, b, &e) == TZ_OK);
        last_rec = entry.recorded_at;
        msgpack_sbuffer_destroy(&sb);
    }
    tz_ledger_head head = {.size = keep, .recorded_at = last_rec};
    tz_merkle_frontier_root(&fr, head.root);
    memcpy(head.last_leaf, prev, 32);
    msgpack_sbuffer hb;
    msgpack_sbuffer_init(&hb);
    ck_assert(tz_ledger_head_encode(&hb, &head) == 0);
    tz_store_batch_put(b, TZ_CF_META, "head", 4, hb.data, hb.size);
    msgpack_sbuffer_destroy(&hb);
    cp.size = keep;
    memcpy(cp.root, head.root, 32);
    char *signed_note;
    ck_assert(tz_checkpoint_sign(&signed_note, &note_len, &cp, &log_key, &e) == TZ_OK);
    tz_store_batch_put(b, TZ_CF_META, "checkpoint", 10, signed_note, note_len);
    free(signed_note);
    ck_assert_msg(tz_store_commit(s, b, &e) == TZ_OK, "%s", e.msg);
    tz_store_batch_free(b);
    for (uint64_t i = 0; i < size; i++)
        tz_store_free(raw[i]);
    free(raw);
    free(len);
    tz_key_wipe(&log_key);
    tz_store_close(s);
}

/* The log-key holder's two forgeries: memo `revoked_at` replaced by one the
 * revoked key signed, and the signature of memo `bad_sig_at` spoiled. */
typedef struct forgeries {
    uint64_t revoked_at, bad_sig_at;
    msgpack_sbuffer statement;
} forgeries;

static void forge_two(uint64_t seq, tz_entry *e, void *ctx)
{
    forgeries *f = ctx;
    if (seq == f->bad_sig_at)
        e->sigs[0].sig[5] ^= 0x20;
    if (seq != f->revoked_at)
        return;
    char json[256];
    snprintf(json, sizeof json, "{\"type\":\"memo\",\"id\":\"memo/%llu\",\"at\":"
             "\"2026-11-01T09:00:00+08:00\",\"body\":{\"text\":\"补签的民情日志\"}}",
             (unsigned long long)(seq - first_memo));
    json_t *js = json_loads(json, 0, NULL);
    tz_err err;
    msgpack_sbuffer_init(&f->statement);
    ck_assert(tz_statement_from_json(&f->statement, js, &err) == TZ_OK);
    json_decref(js);
    e->statement = (const uint8_t *)f->statement.data;
    e->statement_len = f->statement.size;
    e->nsigs = 1;
    ck_assert(tz_statement_sign(e->sigs, e->statement, e->statement_len,
                                (const tz_secret_key *const[]){&temp_key}, 1, &err) == TZ_OK);
}

/* ---- assertions over a report ------------------------------------------------ */

static tz_tamper_report report_with(const char *trusted, size_t trusted_len, size_t max)
{
    tz_verify_options o = {0};
    o.trusted_note = trusted;
    o.trusted_len = trusted_len;
    o.max_findings = max;
    tz_tamper_report r;
    tz_err e;
    ck_assert_msg(tz_verify_all(db, &o, &r, &e) == TZ_OK, "%s", e.msg);
    return r;
}

static tz_tamper_report report(void)
{
    return report_with(NULL, 0, 0);
}

static void print_report(const tz_tamper_report *r)
{
    for (size_t i = 0; i < r->listed; i++) {
        const tz_tamper_finding *f = &r->findings[i];
        fprintf(stderr, "  %llu-%llu %s: %s\n", (unsigned long long)f->seq,
                (unsigned long long)f->last_seq, tz_tamper_class_name(f->cls), f->detail);
    }
}

typedef struct expect {
    int has_seq;
    uint64_t seq, last_seq;
    tz_tamper_class cls;
    const char *needle;       /* in the detail */
} expect;

/* The report lists exactly want[0..n), in this order (by seq), and counts
 * exactly n findings. */
static void assert_findings(const tz_tamper_report *r, const expect *want, size_t n)
{
    if (r->total != n || r->listed != n)
        print_report(r);
    ck_assert_msg(r->total == n, "expected %zu findings, got %llu", n,
                  (unsigned long long)r->total);
    ck_assert_uint_eq(r->listed, n);
    uint64_t sum = 0;
    for (int c = 0; c < TZ_TAMPER_CLASS_COUNT; c++)
        sum += r->by_class[c];
    ck_assert_uint_eq(sum, r->total);
    for (size_t i = 0; i < n; i++) {
        const tz_tamper_finding *f = &r->findings[i];
        int same = f->has_seq == want[i].has_seq && f->cls == want[i].cls &&
                   (!f->has_seq || (f->seq == want[i].seq && f->last_seq == want[i].last_seq));
        if (!same)
            print_report(r);
        ck_assert_msg(same, "finding %zu: expected %s at %llu-%llu, got %s at %llu-%llu: %s", i,
                      tz_tamper_class_name(want[i].cls), (unsigned long long)want[i].seq,
                      (unsigned long long)want[i].last_seq, tz_tamper_class_name(f->cls),
                      (unsigned long long)f->seq, (unsigned long long)f->last_seq, f->detail);
        ck_assert_msg(strstr(f->detail, want[i].needle) != NULL, "finding %zu: \"%s\" lacks "
                      "\"%s\"", i, f->detail, want[i].needle);
    }
}

#define AT(s, c, needle) {1, (s), (s), (c), (needle)}
#define RANGE(a, b, c, needle) {1, (a), (b), (c), (needle)}
#define NOSEQ(c, needle) {0, 0, 0, (c), (needle)}

/* ---- tests ------------------------------------------------------------------- */

START_TEST(test_undamaged_ledger_gives_an_empty_report)
{
    tz_tamper_report r = report();
    assert_findings(&r, NULL, 0);
    ck_assert_uint_eq(r.size, size);
    ck_assert_uint_eq(r.stored, size);
    ck_assert_uint_eq(r.replayed, size);
    ck_assert(r.has_root);
    tz_ledger *l;
    tz_err e;
    ck_assert(tz_ledger_open(&l, db, TZ_LEDGER_READONLY, NULL, &e) == TZ_OK);
    uint8_t root[32];
    tz_ledger_root(l, root);
    tz_ledger_close(l);
    ck_assert(tz_hash_equal(root, r.root, 32));
    tz_tamper_report_free(&r);
    /* the honest forger (no change) is faithful: what the tests below find
     * is the damage, not the helper */
    forge(size, NULL, NULL);
    r = report();
    assert_findings(&r, NULL, 0);
    tz_tamper_report_free(&r);

    char *out;
    ck_assert_int_eq(tz_test_run(&out, "%s verify --db %s --all", TZ_CLI_PATH, db), 0);
    ck_assert_ptr_nonnull(strstr(out, "ok: no tampering found: 845 entries verified"));
    free(out);
}
END_TEST

/* The damage of the issue, all at once: seven kinds at seven places. */
typedef struct seven {
    uint64_t projection, altered, missing, revoked, bad_sig, swap, inserted;
} seven;

static seven damage_seven_ways(char **trusted, size_t *trusted_len)
{
    seven d = {0};
    d.altered = MEMO(5);
    d.missing = MEMO(10);
    d.revoked = MEMO(15);
    d.bad_sig = MEMO(25);
    d.swap = MEMO(35);
    d.inserted = size;
    if (trusted != NULL)
        *trusted = saved_checkpoint(trusted_len);
    /* first the log-key holder: both forgeries chained, tree and checkpoint
     * rebuilt and re-signed, so only the signature and the revocation are
     * wrong */
    forgeries f = {.revoked_at = d.revoked, .bad_sig_at = d.bad_sig};
    forge(size, forge_two, &f);
    msgpack_sbuffer_destroy(&f.statement);
    /* then direct edits in RocksDB */
    tz_store *s = open_store();
    d.projection = edit_projection(s, 100, county_size);
    alter_memo_text(s, d.altered);
    delete_raw(s, d.missing);
    insert_forged(s, d.inserted);
    swap_entries(s, d.swap, d.swap + 1);
    tz_store_close(s);
    return d;
}

START_TEST(test_seven_kinds_of_damage_at_once)
{
    seven d = damage_seven_ways(NULL, NULL);
    tz_tamper_report r = report();
    const expect want[] = {
        AT(d.projection, TZ_TAMPER_PROJECTION, "differs from the replay"),
        AT(d.altered, TZ_TAMPER_ALTERED, "signatures do not verify"),
        AT(d.missing, TZ_TAMPER_MISSING, "nothing is stored at its key"),
        AT(d.revoked, TZ_TAMPER_REVOKED_KEY, "was revoked at seq"),
        AT(d.bad_sig, TZ_TAMPER_BAD_SIGNATURE, "does not verify over the statement"),
        AT(d.swap, TZ_TAMPER_REORDERED, "is stored at key"),
        AT(d.swap + 1, TZ_TAMPER_REORDERED, "is stored at key"),
        AT(d.inserted, TZ_TAMPER_INSERTED, "beyond the recorded log of 845 entries"),
    };
    assert_findings(&r, want, sizeof want / sizeof want[0]);
    /* the revoked key is named with the seq that revoked it */
    char revoked[64];
    snprintf(revoked, sizeof revoked, "was revoked at seq %llu", (unsigned long long)revoke_seq);
    ck_assert_ptr_nonnull(strstr(r.findings[3].detail, revoked));
    /* the missing memo and the one the revoked key signed are not in the
     * replay: each takes its id record with it, counted in the entry's
     * finding, not listed on its own. The altered memo (as it now stands)
     * and the badly signed one (as recorded) are replayed: their id records
     * agree */
    ck_assert_uint_eq(r.findings[1].derived, 0);
    ck_assert_uint_eq(r.findings[2].derived, 1);
    ck_assert_uint_eq(r.findings[3].derived, 1);
    ck_assert_uint_eq(r.findings[4].derived, 0);
    ck_assert_uint_eq(r.derived_folded, 2);
    ck_assert_ptr_nonnull(strstr(r.findings[1].detail, "replayed as it now stands"));
    ck_assert_uint_eq(r.size, size);
    ck_assert_uint_eq(r.stored, size);       /* one deleted, one inserted */
    ck_assert_uint_eq(r.replayed, size - 2); /* all but the missing and the revoked */
    ck_assert(r.has_root);
    tz_tamper_report_free(&r);

    /* listing is bounded, counting is not */
    r = report_with(NULL, 0, 3);
    ck_assert_uint_eq(r.total, 8);
    ck_assert_uint_eq(r.listed, 3);
    tz_tamper_report_free(&r);
}
END_TEST

START_TEST(test_trusted_checkpoint_adds_the_rewrite)
{
    char *trusted;
    size_t tlen;
    seven d = damage_seven_ways(&trusted, &tlen);
    tz_tamper_report r = report_with(trusted, tlen, 0);
    /* the log-key holder's rewrite cannot hide from a checkpoint saved
     * before it; the root alone cannot say which leaf changed */
    const expect want[] = {
        AT(d.projection, TZ_TAMPER_PROJECTION, "differs"),
        AT(d.altered, TZ_TAMPER_ALTERED, "recorded leaf"),
        AT(d.missing, TZ_TAMPER_MISSING, "missing"),
        AT(d.revoked, TZ_TAMPER_REVOKED_KEY, "revoked"),
        AT(d.bad_sig, TZ_TAMPER_BAD_SIGNATURE, "does not verify"),
        AT(d.swap, TZ_TAMPER_REORDERED, "stored at key"),
        AT(d.swap + 1, TZ_TAMPER_REORDERED, "stored at key"),
        AT(size - 1, TZ_TAMPER_CHECKPOINT, "log rewritten"),
        AT(d.inserted, TZ_TAMPER_INSERTED, "beyond"),
    };
    assert_findings(&r, want, sizeof want / sizeof want[0]);
    tz_tamper_report_free(&r);
    free(trusted);
}
END_TEST

START_TEST(test_cli_json_and_text)
{
    seven d = damage_seven_ways(NULL, NULL);
    char *out;
    ck_assert_int_eq(tz_test_run(&out, "%s verify --db %s --all --json", TZ_CLI_PATH, db), 1);
    json_error_t je;
    json_t *j = json_loads(out, 0, &je);
    ck_assert_msg(j != NULL, "%s: %s", je.text, out);
    ck_assert(json_is_false(json_object_get(j, "ok")));
    ck_assert_int_eq(json_integer_value(json_object_get(j, "findings_total")), 8);
    ck_assert_int_eq(json_integer_value(json_object_get(j, "size")), (json_int_t)size);
    json_t *by = json_object_get(j, "by_class");
    ck_assert_int_eq(json_integer_value(json_object_get(by, "reordered")), 2);
    ck_assert_int_eq(json_integer_value(json_object_get(by, "tree_mismatch")), 0);
    json_t *list = json_object_get(j, "findings");
    ck_assert_uint_eq(json_array_size(list), 8);
    static const char *const classes[] = {"projection_mismatch", "altered", "missing",
                                          "revoked_key", "bad_signature", "reordered",
                                          "reordered", "inserted"};
    const uint64_t seqs[] = {d.projection, d.altered, d.missing, d.revoked, d.bad_sig, d.swap,
                             d.swap + 1, d.inserted};
    for (size_t i = 0; i < 8; i++) {
        json_t *f = json_array_get(list, i);
        ck_assert_str_eq(json_string_value(json_object_get(f, "class")), classes[i]);
        ck_assert_int_eq(json_integer_value(json_object_get(f, "seq")), (json_int_t)seqs[i]);
        ck_assert(json_is_string(json_object_get(f, "detail")));
    }
    json_decref(j);
    free(out);

    ck_assert_int_eq(tz_test_run(&out, "%s verify --db %s --all", TZ_CLI_PATH, db), 1);
    ck_assert_ptr_nonnull(strstr(out, "TAMPERED: tamper report for"));
    ck_assert_ptr_nonnull(strstr(out, "findings: 8:"));
    char line[64];
    snprintf(line, sizeof line, "\n%llu  revoked_key ", (unsigned long long)d.revoked);
    ck_assert_msg(strstr(out, line) != NULL, "no line for %s in\n%s", line, out);
    free(out);

    /* plain verify is unchanged: the first fault only */
    ck_assert_int_eq(tz_test_run(&out, "%s verify --db %s --json", TZ_CLI_PATH, db), 1);
    j = json_loads(out, 0, &je);
    ck_assert_ptr_nonnull(j);
    ck_assert(json_is_false(json_object_get(j, "ok")));
    ck_assert_int_eq(json_integer_value(json_object_get(j, "first_bad_seq")),
                     (json_int_t)d.altered);
    ck_assert_ptr_null(json_object_get(j, "findings"));
    json_decref(j);
    free(out);
    ck_assert_int_eq(tz_test_run(&out, "%s verify --db %s", TZ_CLI_PATH, db), 1);
    snprintf(line, sizeof line, "TAMPERED: first bad seq %llu:", (unsigned long long)d.altered);
    ck_assert_ptr_nonnull(strstr(out, line));
    free(out);

    /* usage */
    ck_assert_int_eq(tz_test_run(&out, "%s verify --all --help", TZ_CLI_PATH), 0);
    ck_assert_ptr_nonnull(strstr(out, "usage: taizhang verify --db DIR --all"));
    free(out);
    ck_assert_int_eq(tz_test_run(NULL, "%s verify --all --json 2>/dev/null", TZ_CLI_PATH), 2);
    ck_assert_int_eq(tz_test_run(NULL, "%s verify --db %s/none --all 2>/dev/null", TZ_CLI_PATH,
                                 work), 2);
    ck_assert_int_eq(tz_test_run(NULL, "%s verify --db %s --all --max-findings 0 2>/dev/null",
                                 TZ_CLI_PATH, db), 2);
}
END_TEST

START_TEST(test_entry_inserted_in_the_middle_shifts_the_rest)
{
    /* make room at memo 50 by moving memos 50..59 one key up */
    tz_store *s = open_store();
    for (uint64_t i = size; i-- > MEMO(50);) {
        size_t len;
        uint8_t *v = get_raw(s, i, &len);
        put_raw(s, i + 1, v, len);
        tz_store_free(v);
    }
    insert_forged(s, MEMO(50));
    tz_store_close(s);
    tz_tamper_report r = report();
    const expect want[] = {
        AT(MEMO(50), TZ_TAMPER_INSERTED, "while entry"),
        RANGE(MEMO(50), size - 1, TZ_TAMPER_REORDERED, "each stored 1 key(s) later"),
    };
    assert_findings(&r, want, 2);
    ck_assert_uint_eq(r.replayed, size); /* moved entries are still checked and replayed */
    tz_tamper_report_free(&r);
}
END_TEST

START_TEST(test_duplicate_and_moved_entries)
{
    /* a copy of memo 3 over memo 4; memo 7 moved onto memo 8's key (8 lost) */
    tz_store *s = open_store();
    size_t len;
    uint8_t *v = get_raw(s, MEMO(3), &len);
    put_raw(s, MEMO(4), v, len);
    tz_store_free(v);
    v = get_raw(s, MEMO(7), &len);
    put_raw(s, MEMO(8), v, len);
    tz_store_free(v);
    delete_raw(s, MEMO(7));
    tz_store_close(s);
    tz_tamper_report r = report();
    const expect want[] = {
        AT(MEMO(4), TZ_TAMPER_ALTERED, "a copy of entry"),
        AT(MEMO(7), TZ_TAMPER_REORDERED, "is stored at key"),
        AT(MEMO(8), TZ_TAMPER_MISSING, "moved there"),
    };
    assert_findings(&r, want, 3);
    tz_tamper_report_free(&r);
}
END_TEST

static void put_node(tz_store *s, unsigned level, uint64_t index, const uint8_t hash[32])
{
    uint8_t key[9];
    tz_err e;
    tz_ledger_node_key(key, level, index);
    ck_assert(tz_store_put(s, TZ_CF_MERKLE, key, 9, hash, 32, &e) == TZ_OK);
}

START_TEST(test_tree_damaged_with_the_entries)
{
    /* an inner node spoiled; an entry deleted; and an entry altered with its
     * leaf node rewritten to match, so the tree no longer folds to the
     * signed checkpoint and the chain must say which is which */
    tz_store *s = open_store();
    uint8_t junk[32];
    memset(junk, 0x5a, 32);
    put_node(s, 4, 40, junk); /* leaves 640..655: completed by 655 */
    delete_raw(s, MEMO(17));
    alter_memo_text(s, MEMO(21));
    size_t len;
    uint8_t *v = get_raw(s, MEMO(21), &len), leaf[32];
    tz_merkle_leaf_hash(leaf, v, len);
    put_node(s, 0, MEMO(21), leaf);
    tz_store_free(v);
    tz_store_close(s);
    tz_tamper_report r = report();
    const expect want[] = {
        AT(655, TZ_TAMPER_TREE, "tree node (level 4, index 40) does not match"),
        AT(MEMO(17), TZ_TAMPER_MISSING, "still names its leaf hash"),
        AT(MEMO(21), TZ_TAMPER_ALTERED, "recorded leaf"),
        AT(MEMO(21), TZ_TAMPER_TREE, "stored leaf node (level 0"),
    };
    assert_findings(&r, want, 4);
    tz_tamper_report_free(&r);
}
END_TEST

static void write_head_size(uint64_t n)
{
    tz_store *s = open_store();
    tz_ledger_head h;
    tz_err e;
    ck_assert(tz_ledger_read_head(s, &h, &e) == TZ_OK);
    h.size = n;
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    ck_assert(tz_ledger_head_encode(&sb, &h) == 0);
    ck_assert(tz_store_put(s, TZ_CF_META, "head", 4, sb.data, sb.size, &e) == TZ_OK);
    msgpack_sbuffer_destroy(&sb);
    tz_store_close(s);
}

START_TEST(test_truncation_by_hand)
{
    /* the last two entries deleted and the head lowered; the signed
     * checkpoint and the tree still count them */
    tz_store *s = open_store();
    delete_raw(s, size - 2);
    delete_raw(s, size - 1);
    tz_store_close(s);
    write_head_size(size - 2);
    tz_tamper_report r = report();
    const expect want[] = {
        RANGE(size - 2, size - 1, TZ_TAMPER_MISSING, "are missing"),
        AT(size - 2, TZ_TAMPER_HEAD, "head: says size 843"),
    };
    assert_findings(&r, want, 2);
    tz_tamper_report_free(&r);
}
END_TEST

START_TEST(test_truncation_by_the_log_key)
{
    /* cut at memo 55 and re-signed: nothing in the store can tell; a
     * checkpoint saved earlier can, and says from where */
    size_t tlen;
    char *trusted = saved_checkpoint(&tlen);
    forge(MEMO(55), NULL, NULL);
    tz_tamper_report r = report();
    assert_findings(&r, NULL, 0);
    tz_tamper_report_free(&r);
    r = report_with(trusted, tlen, 0);
    const expect cut[] = {
        RANGE(MEMO(55), size - 1, TZ_TAMPER_MISSING, "are missing"),
        AT(MEMO(55), TZ_TAMPER_CHECKPOINT, "cut back and re-signed with the log key"),
    };
    assert_findings(&r, cut, 2);
    ck_assert_uint_eq(r.size, size);
    tz_tamper_report_free(&r);
    free(trusted);
}
END_TEST

START_TEST(test_planted_and_removed_derived_records)
{
    tz_store *s = open_store();
    tz_err e;
    ck_assert(tz_store_put(s, TZ_CF_INDEX, "id\0ghost", 8, "\x81\xa3seq\x03", 6, &e) == TZ_OK);
    char id[32];
    int n = snprintf(id, sizeof id, "id%cmemo/30", 0);
    ck_assert(tz_store_delete(s, TZ_CF_INDEX, id, (size_t)n, &e) == TZ_OK);
    tz_store_close(s);
    tz_tamper_report r = report();
    const expect want[] = {
        AT(MEMO(30), TZ_TAMPER_PROJECTION, "missing from the store"),
        NOSEQ(TZ_TAMPER_PROJECTION, "index record id \"ghost\" was not produced by any entry"),
    };
    assert_findings(&r, want, 2);
    tz_tamper_report_free(&r);
}
END_TEST

START_TEST(test_head_and_checkpoint_edited)
{
    tz_store *s = open_store();
    tz_err e;
    ck_assert(tz_store_put(s, TZ_CF_META, "checkpoint", 10, "junk\n", 5, &e) == TZ_OK);
    tz_ledger_head h;
    ck_assert(tz_ledger_read_head(s, &h, &e) == TZ_OK);
    h.recorded_at += 86400ull * 365 * 1000000;
    h.last_leaf[0] ^= 1;
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    ck_assert(tz_ledger_head_encode(&sb, &h) == 0);
    ck_assert(tz_store_put(s, TZ_CF_META, "head", 4, sb.data, sb.size, &e) == TZ_OK);
    msgpack_sbuffer_destroy(&sb);
    tz_store_close(s);
    tz_tamper_report r = report();
    const expect want[] = {
        AT(size - 1, TZ_TAMPER_HEAD, "last_leaf"),
        AT(size - 1, TZ_TAMPER_HEAD, "recorded_at"),
        AT(size - 1, TZ_TAMPER_CHECKPOINT, "malformed"),
    };
    assert_findings(&r, want, 3);
    tz_tamper_report_free(&r);
}
END_TEST

/* The seq of the first entry of the county whose statement type is type. */
static uint64_t first_of_type(const char *type)
{
    tz_store *s = open_store();
    uint64_t found = UINT64_MAX;
    for (uint64_t i = 1; i < county_size && found == UINT64_MAX; i++) {
        size_t len;
        uint8_t *raw = get_raw(s, i, &len);
        tz_entry e;
        tz_statement st;
        msgpack_zone zone;
        tz_err err;
        ck_assert(msgpack_zone_init(&zone, 4096));
        ck_assert(tz_entry_decode(&e, raw, len, &err) == TZ_OK);
        ck_assert(tz_statement_decode(&st, &zone, e.statement, e.statement_len, &err) == TZ_OK);
        if (tz_statement_is(&st, type))
            found = i;
        msgpack_zone_destroy(&zone);
        tz_store_free(raw);
    }
    tz_store_close(s);
    ck_assert_msg(found != UINT64_MAX, "no %s in the county", type);
    return found;
}

START_TEST(test_entries_resting_on_a_deleted_one_name_it)
{
    /* a unit's registration deleted: the people of that unit, their
     * dispatches and sheets can no longer be decided; each such refusal is
     * listed, and names the deleted entry as its likely cause */
    uint64_t unit = first_of_type("org.unit");
    tz_store *s = open_store();
    delete_raw(s, unit);
    tz_store_close(s);
    tz_tamper_report r = report();
    ck_assert_uint_gt(r.listed, 1);
    ck_assert(r.findings[0].cls == TZ_TAMPER_MISSING && r.findings[0].seq == unit);
    ck_assert_uint_gt(r.consequences, 0);
    uint64_t with_cause = 0;
    for (size_t i = 1; i < r.listed; i++) {
        const tz_tamper_finding *f = &r.findings[i];
        ck_assert_msg(f->cls == TZ_TAMPER_REFUSED || f->cls == TZ_TAMPER_REVOKED_KEY ||
                      f->cls == TZ_TAMPER_PROJECTION, "%s at %llu: %s",
                      tz_tamper_class_name(f->cls), (unsigned long long)f->seq, f->detail);
        ck_assert_msg(f->has_cause && f->cause == unit, "%llu: %s", (unsigned long long)f->seq,
                      f->detail);
        ck_assert_ptr_nonnull(strstr(f->detail, "this may follow from it"));
        with_cause++;
    }
    ck_assert_uint_eq(with_cause, r.consequences);
    ck_assert_uint_eq(r.by_class[TZ_TAMPER_MISSING], 1);
    ck_assert_uint_eq(r.by_class[TZ_TAMPER_ALTERED] + r.by_class[TZ_TAMPER_INSERTED] +
                      r.by_class[TZ_TAMPER_REORDERED] + r.by_class[TZ_TAMPER_TREE] +
                      r.by_class[TZ_TAMPER_HEAD] + r.by_class[TZ_TAMPER_CHECKPOINT], 0);
    tz_tamper_report_free(&r);
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("tamper");
    TCase *tc = tcase_create("report");
    tcase_add_unchecked_fixture(tc, county_up, county_down);
    tcase_add_checked_fixture(tc, copy_up, copy_down);
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, test_undamaged_ledger_gives_an_empty_report);
    tcase_add_test(tc, test_seven_kinds_of_damage_at_once);
    tcase_add_test(tc, test_trusted_checkpoint_adds_the_rewrite);
    tcase_add_test(tc, test_cli_json_and_text);
    tcase_add_test(tc, test_entry_inserted_in_the_middle_shifts_the_rest);
    tcase_add_test(tc, test_duplicate_and_moved_entries);
    tcase_add_test(tc, test_tree_damaged_with_the_entries);
    tcase_add_test(tc, test_truncation_by_hand);
    tcase_add_test(tc, test_truncation_by_the_log_key);
    tcase_add_test(tc, test_planted_and_removed_derived_records);
    tcase_add_test(tc, test_head_and_checkpoint_edited);
    tcase_add_test(tc, test_entries_resting_on_a_deleted_one_name_it);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return tz_test_main(make_suite);
}
