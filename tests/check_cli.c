/*
 * check_cli.c: the `taizhang` command as other tools depend on it: exit
 * codes (0 ok, 1 tampering, 2 usage/I-O, 3 rejected), the JSON it prints,
 * and that what it prints can be checked independently: a leaf hash from
 * entry_b64, proofs against the printed checkpoint.
 */
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "crypto/hash.h"
#include "crypto/keyfile.h"
#include "ledger/checkpoint.h"
#include "ledger/merkle.h"
#include "ledger/store.h"
#include "tests/tz_test.h"
#include "util/encoding.h"

static char dir[256];

#define TZ "'" TZ_CLI_PATH "'"

static int run(char **out, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int run(char **out, const char *fmt, ...)
{
    char cmd[6000];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    return tz_test_run(out, "cd '%s' && %s 2>err", dir, cmd);
}

static char *err_text(void)
{
    char path[300];
    snprintf(path, sizeof path, "%s/err", dir);
    return tz_test_read_file(path, NULL);
}

static json_t *parse(const char *s)
{
    json_error_t je;
    json_t *j = json_loads(s, JSON_DISABLE_EOF_CHECK, &je);
    ck_assert_msg(j != NULL, "not JSON: %s (%s)", s, je.text);
    return j;
}

static void setup(void)
{
    tz_test_tmpdir(dir, sizeof dir);
    ck_assert_int_eq(run(NULL, TZ " keygen --name root --out root.key"), 0);
    ck_assert_int_eq(run(NULL, TZ " keygen --name log --out log.key"), 0);
    ck_assert_int_eq(run(NULL, TZ " keygen --name cadre --out cadre.key"), 0);
    char *out;
    ck_assert_int_eq(run(&out, TZ " init --db L --origin test.example/cli --log-key log.key "
                         "--root root.key.pub"), 0);
    json_t *j = parse(out);
    ck_assert_int_eq(json_integer_value(json_object_get(j, "seq")), 0);
    json_decref(j);
    free(out);
    ck_assert_int_eq(run(NULL, "printf '{\"type\":\"key.grant\",\"id\":\"g1\",\"at\":"
                         "\"2026-11-01T08:00:00+08:00\",\"body\":{\"key\":\"%%s\",\"holder\":\"ZS\","
                         "\"roles\":[\"cadre\"],\"scope\":\"village:dongba\"}}\\n' \"$(cat cadre.key.pub)\""
                         " | " TZ " append --db L --key root.key"), 0);
}

static void teardown(void)
{
    tz_test_rmtree(dir);
}

static void memos(int from, int count)
{
    char script[400];
    snprintf(script, sizeof script, "for i in $(seq %d %d); do printf '{\"type\":\"memo\",\"id\":"
             "\"m/%%s\",\"at\":\"2026-11-01T09:00:00+08:00\",\"body\":{\"text\":\"diary %%s\"}}\\n' "
             "$i $i; done", from, from + count - 1);
    ck_assert_int_eq(run(NULL, "%s | " TZ " append --db L --key cadre.key >/dev/null", script), 0);
}

START_TEST(test_keygen_files)
{
    char path[300];
    struct stat st;
    snprintf(path, sizeof path, "%s/root.key", dir);
    ck_assert_int_eq(stat(path, &st), 0);
    ck_assert_int_eq(st.st_mode & 0777, 0600);
    tz_public_key pub;
    tz_err e;
    snprintf(path, sizeof path, "%s/root.key.pub", dir);
    ck_assert_msg(tz_keyfile_read_public(&pub, path, &e) == TZ_OK, "%s", e.msg);
    ck_assert_str_eq(pub.name, "root");
    /* keygen never overwrites a key. */
    ck_assert_int_eq(run(NULL, TZ " keygen --name root --out root.key"), 2);
}
END_TEST

START_TEST(test_append_prints_seq_and_leaf_hash)
{
    char *out;
    ck_assert_int_eq(run(&out, "printf '%%s\\n%%s\\n' "
                         "'{\"type\":\"memo\",\"id\":\"a\",\"at\":\"2026-11-01T09:00:00Z\",\"body\":{\"text\":\"x\"}}' "
                         "'{\"type\":\"memo\",\"id\":\"b\",\"at\":\"2026-11-01T09:00:00Z\",\"body\":{\"text\":\"y\"}}' "
                         "| " TZ " append --db L --key cadre.key"), 0);
    char *second = strchr(out, '\n');
    ck_assert_ptr_nonnull(second);
    json_t *a = parse(out), *b = parse(second + 1);
    ck_assert_int_eq(json_integer_value(json_object_get(a, "seq")), 2);
    ck_assert_int_eq(json_integer_value(json_object_get(b, "seq")), 3);
    ck_assert_uint_eq(strlen(json_string_value(json_object_get(a, "leaf_hash"))), 64);
    /* The leaf hash printed is SHA-256(0x00 || the bytes get prints). */
    char *got;
    ck_assert_int_eq(run(&got, TZ " get --db L --seq 2 --json"), 0);
    json_t *g = parse(got);
    const char *b64 = json_string_value(json_object_get(g, "entry_b64"));
    uint8_t raw[4096], leaf[32];
    size_t n;
    tz_err e;
    ck_assert(tz_base64_decode(raw, sizeof raw, &n, b64, strlen(b64), &e) == TZ_OK);
    tz_merkle_leaf_hash(leaf, raw, n);
    char hex[65];
    tz_hex_encode(hex, leaf, 32);
    ck_assert_str_eq(hex, json_string_value(json_object_get(a, "leaf_hash")));
    ck_assert_str_eq(hex, json_string_value(json_object_get(g, "leaf_hash")));
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(g, "statement"), "id")), "a");
    json_decref(a);
    json_decref(b);
    json_decref(g);
    free(out);
    free(got);
}
END_TEST

START_TEST(test_rejected_line_stops_and_names_the_line)
{
    char *out;
    int rc = run(&out, "printf '%%s\\n%%s\\n%%s\\n' "
                 "'{\"type\":\"memo\",\"id\":\"ok1\",\"at\":\"2026-11-01T09:00:00Z\",\"body\":{\"text\":\"x\"}}' "
                 "'{\"type\":\"memo\",\"id\":\"bad\",\"at\":\"2026-11-01T09:00:00Z\",\"body\":{\"text\":\"x\",\"fen\":1.5}}' "
                 "'{\"type\":\"memo\",\"id\":\"never\",\"at\":\"2026-11-01T09:00:00Z\",\"body\":{\"text\":\"x\"}}' "
                 "| " TZ " append --db L --key cadre.key");
    ck_assert_int_eq(rc, 3);
    char *err = err_text();
    ck_assert_msg(strstr(err, "line 2") && strstr(err, "body.fen") && strstr(err, "float"), "%s", err);
    free(err);
    /* Line 1 was accepted and printed; nothing of lines 2 and 3 is stored. */
    ck_assert_ptr_nonnull(strstr(out, "\"seq\":2"));
    free(out);
    ck_assert_int_eq(run(NULL, TZ " get --db L --id ok1"), 0);
    ck_assert_int_eq(run(NULL, TZ " get --db L --id bad"), 2);
    ck_assert_int_eq(run(NULL, TZ " get --db L --id never"), 2);
    /* Not JSON at all: also exit 3, with the line. */
    ck_assert_int_eq(run(NULL, "echo '{nope' | " TZ " append --db L --key cadre.key"), 3);
    err = err_text();
    ck_assert_ptr_nonnull(strstr(err, "line 1"));
    free(err);
}
END_TEST

START_TEST(test_idempotent_retry)
{
    const char *line = "'{\"type\":\"memo\",\"id\":\"r\",\"at\":\"2026-11-01T09:00:00Z\",\"body\":{\"text\":\"x\"}}'";
    char *a, *b;
    ck_assert_int_eq(run(&a, "echo %s | " TZ " append --db L --key cadre.key", line), 0);
    ck_assert_int_eq(run(&b, "echo %s | " TZ " append --db L --key cadre.key", line), 0);
    json_t *ja = parse(a), *jb = parse(b);
    ck_assert_int_eq(json_integer_value(json_object_get(ja, "seq")),
                     json_integer_value(json_object_get(jb, "seq")));
    ck_assert(json_is_true(json_object_get(jb, "existing")));
    json_decref(ja);
    json_decref(jb);
    free(a);
    free(b);
}
END_TEST

START_TEST(test_proofs_check_against_checkpoint)
{
    memos(0, 20);
    char *note, *incl, *cons, *old_note;
    size_t note_len;
    ck_assert_int_eq(run(&old_note, TZ " checkpoint --db L | tee cp1"), 0);
    memos(100, 13);
    ck_assert_int_eq(run(&note, TZ " checkpoint --db L"), 0);
    note_len = strlen(note);
    tz_public_key log_pub;
    tz_err e;
    char path[300];
    snprintf(path, sizeof path, "%s/log.key.pub", dir);
    ck_assert(tz_keyfile_read_public(&log_pub, path, &e) == TZ_OK);
    tz_checkpoint cp, cp1;
    ck_assert_msg(tz_checkpoint_open(&cp, note, note_len, &log_pub, &e) == TZ_OK, "%s", e.msg);
    ck_assert_msg(tz_checkpoint_open(&cp1, old_note, strlen(old_note), &log_pub, &e) == TZ_OK, "%s",
                  e.msg);
    ck_assert_uint_eq(cp.size, 35);
    ck_assert_uint_eq(cp1.size, 22);
    ck_assert_str_eq(cp.origin, "test.example/cli");
    /* Inclusion of entry 7 in the checkpointed tree. */
    ck_assert_int_eq(run(&incl, TZ " prove --db L --seq 7 --size %llu", (unsigned long long)cp.size), 0);
    json_t *j = parse(incl);
    ck_assert_int_eq(json_integer_value(json_object_get(j, "leaf_index")), 7);
    ck_assert_int_eq(json_integer_value(json_object_get(j, "tree_size")), 35);
    tz_merkle_proof p = {0};
    json_t *h;
    size_t i;
    json_array_foreach(json_object_get(j, "hashes"), i, h) {
        size_t n;
        ck_assert(tz_base64_decode(p.hashes[p.count++], 32, &n, json_string_value(h),
                                   json_string_length(h), &e) == TZ_OK);
    }
    json_decref(j);
    char *got;
    ck_assert_int_eq(run(&got, TZ " get --db L --seq 7 --json"), 0);
    j = parse(got);
    uint8_t leaf[32];
    size_t n;
    ck_assert(tz_hex_decode(leaf, 32, &n, json_string_value(json_object_get(j, "leaf_hash")), 64, &e) == TZ_OK);
    json_decref(j);
    ck_assert_msg(tz_merkle_verify_inclusion(leaf, 7, cp.size, &p, cp.root, &e) == TZ_OK, "%s", e.msg);
    /* Consistency between the two checkpoints. */
    ck_assert_int_eq(run(&cons, TZ " prove --db L --from 22 --to 35"), 0);
    j = parse(cons);
    ck_assert_int_eq(json_integer_value(json_object_get(j, "size1")), 22);
    memset(&p, 0, sizeof p);
    json_array_foreach(json_object_get(j, "hashes"), i, h) {
        ck_assert(tz_base64_decode(p.hashes[p.count++], 32, &n, json_string_value(h),
                                   json_string_length(h), &e) == TZ_OK);
    }
    json_decref(j);
    ck_assert_msg(tz_merkle_verify_consistency(22, 35, &p, cp1.root, cp.root, &e) == TZ_OK, "%s",
                  e.msg);
    /* The old checkpoint, kept by a verifier, still verifies the grown log. */
    ck_assert_int_eq(run(NULL, TZ " verify --db L --trusted cp1"), 0);
    /* Usage errors: a proof beyond the log. */
    ck_assert_int_eq(run(NULL, TZ " prove --db L --seq 40"), 2);
    ck_assert_int_eq(run(NULL, TZ " prove --db L --from 0 --to 3"), 2);
    free(note);
    free(old_note);
    free(incl);
    free(cons);
    free(got);
}
END_TEST

START_TEST(test_verify_json_and_exit_codes)
{
    memos(0, 10);
    char *out;
    ck_assert_int_eq(run(&out, TZ " verify --db L --json"), 0);
    json_t *j = parse(out);
    ck_assert(json_is_true(json_object_get(j, "ok")));
    ck_assert_int_eq(json_integer_value(json_object_get(j, "size")), 12);
    ck_assert_uint_eq(strlen(json_string_value(json_object_get(j, "root"))), 44);
    json_decref(j);
    free(out);
    /* Alter entry 6 behind the ledger's back. */
    char path[300];
    snprintf(path, sizeof path, "%s/L/db", dir);
    tz_store *s;
    tz_err e;
    ck_assert(tz_store_open(&s, path, 0, &e) == TZ_OK);
    uint8_t k[8], *v;
    size_t len;
    tz_store_key_u64(k, 6);
    ck_assert(tz_store_get(s, TZ_CF_ENTRIES, k, 8, &v, &len, &e) == TZ_OK);
    v[len - 3] ^= 0x20; /* inside the statement (the last bytes: its type, "memo") */
    ck_assert(tz_store_put(s, TZ_CF_ENTRIES, k, 8, v, len, &e) == TZ_OK);
    tz_store_free(v);
    tz_store_close(s);
    ck_assert_int_eq(run(&out, TZ " verify --db L --json"), 1);
    j = parse(out);
    ck_assert(json_is_false(json_object_get(j, "ok")));
    ck_assert_int_eq(json_integer_value(json_object_get(j, "first_bad_seq")), 6);
    ck_assert_ptr_nonnull(json_string_value(json_object_get(j, "reason")));
    json_decref(j);
    free(out);
    ck_assert_int_eq(run(&out, TZ " verify --db L"), 1);
    ck_assert_ptr_nonnull(strstr(out, "first bad seq 6"));
    free(out);
}
END_TEST

START_TEST(test_usage_errors_exit_2)
{
    ck_assert_int_eq(run(NULL, TZ), 2);
    ck_assert_int_eq(run(NULL, TZ " frobnicate"), 2);
    ck_assert_int_eq(run(NULL, TZ " verify"), 2);
    ck_assert_int_eq(run(NULL, TZ " get --db L --seq -1"), 2);
    ck_assert_int_eq(run(NULL, TZ " get --db L --seq 12x"), 2);
    ck_assert_int_eq(run(NULL, TZ " get --db L --bogus"), 2);
    ck_assert_int_eq(run(NULL, TZ " get --db nowhere --seq 0"), 2);
    ck_assert_int_eq(run(NULL, TZ " get --db L --seq 99"), 2);
    ck_assert_int_eq(run(NULL, TZ " append --db L"), 2);
    /* init refuses a directory that already holds something. */
    ck_assert_int_eq(run(NULL, TZ " init --db L --origin x --log-key log.key --root root.key.pub"), 2);
    ck_assert_int_eq(run(NULL, TZ " help"), 0);
}
END_TEST

START_TEST(test_cosign_command)
{
    memos(0, 3);
    ck_assert_int_eq(run(NULL, TZ " keygen --name township --out town.key"), 0);
    ck_assert_int_eq(run(NULL, "printf '{\"type\":\"key.grant\",\"id\":\"g2\",\"at\":"
                         "\"2026-11-01T08:00:00Z\",\"body\":{\"key\":\"%%s\",\"holder\":\"town\","
                         "\"roles\":[\"township_party_secretary\"],\"scope\":\"township:cg\"}}\\n' "
                         "\"$(cat town.key.pub)\" | " TZ " append --db L --key root.key"), 0);
    char *out;
    ck_assert_int_eq(run(&out, TZ " cosign --db L --key town.key --seq 3"), 0);
    json_t *j = parse(out);
    ck_assert_int_eq(json_integer_value(json_object_get(j, "seq")), 6);
    json_decref(j);
    free(out);
    /* The same key again is a retry: the existing co-signature comes back. */
    ck_assert_int_eq(run(&out, TZ " cosign --db L --key town.key --seq 3"), 0);
    ck_assert_ptr_nonnull(strstr(out, "\"existing\":true"));
    ck_assert_ptr_nonnull(strstr(out, "\"seq\":6"));
    free(out);
    /* The entry's own signer cannot co-sign it: rejected (3), and named. */
    ck_assert_int_eq(run(NULL, TZ " cosign --db L --key cadre.key --seq 3"), 3);
    char *err = err_text();
    ck_assert_ptr_nonnull(strstr(err, "already signed"));
    free(err);
    ck_assert_int_eq(run(NULL, TZ " verify --db L"), 0);
}
END_TEST

START_TEST(test_sealed_keys)
{
    ck_assert_int_eq(run(NULL, "TAIZHANG_PASSPHRASE='correct horse' " TZ
                         " keygen --name sealed --seal --out sealed.key"), 0);
    char *text;
    char path[300];
    snprintf(path, sizeof path, "%s/sealed.key", dir);
    text = tz_test_read_file(path, NULL);
    ck_assert_ptr_null(strstr(text, "PRIVATE+KEY"));
    free(text);
    ck_assert_int_eq(run(NULL, "printf '{\"type\":\"key.grant\",\"id\":\"g3\",\"at\":"
                         "\"2026-11-01T08:00:00Z\",\"body\":{\"key\":\"%%s\",\"holder\":\"s\","
                         "\"roles\":[\"cadre\"],\"scope\":\"person:x\"}}\\n' \"$(cat sealed.key.pub)\" | "
                         TZ " append --db L --key root.key"), 0);
    const char *memo = "'{\"type\":\"memo\",\"id\":\"s1\",\"at\":\"2026-11-01T09:00:00Z\",\"body\":{\"text\":\"x\"}}'";
    ck_assert_int_eq(run(NULL, "echo %s | " TZ " append --db L --key sealed.key", memo), 2);
    char *err = err_text();
    ck_assert_ptr_nonnull(strstr(err, "TAIZHANG_PASSPHRASE"));
    free(err);
    ck_assert_int_ne(run(NULL, "echo %s | TAIZHANG_PASSPHRASE=wrong " TZ
                         " append --db L --key sealed.key", memo), 0);
    ck_assert_int_eq(run(NULL, "echo %s | TAIZHANG_PASSPHRASE='correct horse' " TZ
                         " append --db L --key sealed.key", memo), 0);
}
END_TEST


/* The README's first command: a demo county, then going on by hand with its
 * keys. A township secretary cannot retire a village (exit 3, rule named,
 * nothing written); the county org dept can add to the record. */
START_TEST(test_demo_county_by_hand)
{
    char *out;
    ck_assert_int_eq(run(&out, TZ " demo --db D --keys K --months 3 --profile '" TZ_SOURCE_DIR
                         "/profiles/shiquan-2021.json' --calendar '" TZ_SOURCE_DIR
                         "/data/cn-workday-calendar.json'"), 0);
    ck_assert_ptr_nonnull(strstr(out, "attendance"));
    free(out);
    ck_assert_int_eq(run(&out, TZ " checkpoint --db D"), 0);
    char *before = out;
    ck_assert_int_eq(run(NULL, "echo '{\"type\":\"registry.retire\",\"id\":\"r1\",\"at\":"
                         "\"2026-01-05T09:00:00+08:00\",\"body\":{\"kind\":\"village\","
                         "\"ref\":\"xiaotai\",\"reason\":\"merged\"}}' | " TZ
                         " append --db D --key K/township-chengguan-secretary.key"), 3);
    char *err = err_text();
    ck_assert_ptr_nonnull(strstr(err, "line 1: registry.retire: needs a root or authority key or "
                                      "the county org dept of its jurisdiction"));
    free(err);
    ck_assert_int_eq(run(&out, TZ " checkpoint --db D"), 0);
    ck_assert_str_eq(out, before); /* nothing was written */
    free(out);
    free(before);
    ck_assert_int_eq(run(&out, "echo '{\"type\":\"memo\",\"id\":\"m1\",\"at\":"
                         "\"2026-01-05T09:00:00+08:00\",\"body\":{\"text\":\"督导记录\"}}' | "
                         TZ " append --db D --key K/county-org-dept.key"), 0);
    free(out);
    ck_assert_int_eq(run(NULL, TZ " verify --db D"), 0);
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("cli");
    TCase *tc = tcase_create("contract");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_keygen_files);
    tcase_add_test(tc, test_append_prints_seq_and_leaf_hash);
    tcase_add_test(tc, test_rejected_line_stops_and_names_the_line);
    tcase_add_test(tc, test_idempotent_retry);
    tcase_add_test(tc, test_proofs_check_against_checkpoint);
    tcase_add_test(tc, test_verify_json_and_exit_codes);
    tcase_add_test(tc, test_usage_errors_exit_2);
    tcase_add_test(tc, test_cosign_command);
    tcase_add_test(tc, test_sealed_keys);
    tcase_add_test(tc, test_demo_county_by_hand);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return tz_test_main(make_suite);
}
