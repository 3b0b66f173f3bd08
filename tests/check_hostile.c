/*
 * check_hostile.c: every decoder that sees outside input, fed garbage.
 * Entries, statements, signed notes, checkpoints and key strings come from
 * files, stdin and (later) the network; whatever arrives, each decoder must
 * return TZ_OK or a clean error with a message, never crash, hang, leak or
 * read out of bounds (the suite also runs under ASan+UBSan). Inputs are
 * random bytes and single/multi-byte mutations of valid encodings, from a
 * fixed seed so a failure reproduces. Then the CLI's own input paths:
 * oversized, deeply nested, non-UTF-8 and binary lines, and damaged key and
 * checkpoint files.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/key.h"
#include "crypto/note.h"
#include "ledger/checkpoint.h"
#include "ledger/entry.h"
#include "ledger/statement.h"
#include "tests/tz_test.h"

static uint64_t rng = 0x9e3779b97f4a7c15ull;

static uint64_t next_rand(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

/* Valid seeds for the mutators: a real entry (with statement), a note and
 * a checkpoint body, made here so they follow the current formats. */
static uint8_t entry_seed[1024];
static size_t entry_seed_len;
static uint8_t stmt_seed[512];
static size_t stmt_seed_len;
static char note_seed[1024];
static size_t note_seed_len;

static void make_seeds(void)
{
    tz_err e;
    tz_secret_key k;
    ck_assert(tz_key_generate(&k, "hostile", &e) == TZ_OK);
    json_t *js = json_loads("{\"type\":\"memo\",\"id\":\"a/1\",\"at\":\"2026-11-01T09:00:00+08:00\","
                            "\"body\":{\"text\":\"民情日志\",\"n\":[1,-2,300,{\"x\":null}]}}", 0, NULL);
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    ck_assert(tz_statement_from_json(&sb, js, &e) == TZ_OK);
    json_decref(js);
    memcpy(stmt_seed, sb.data, sb.size);
    stmt_seed_len = sb.size;
    tz_entry entry;
    memset(&entry, 0, sizeof entry);
    entry.seq = 300;
    entry.recorded_at = 1795363347872359ull;
    entry.statement = stmt_seed;
    entry.statement_len = stmt_seed_len;
    entry.nsigs = 1;
    ck_assert(tz_statement_sign(entry.sigs, stmt_seed, stmt_seed_len,
                                (const tz_secret_key *const[]){&k}, 1, &e) == TZ_OK);
    msgpack_sbuffer eb;
    msgpack_sbuffer_init(&eb);
    ck_assert(tz_entry_encode(&eb, &entry, &e) == TZ_OK);
    memcpy(entry_seed, eb.data, eb.size);
    entry_seed_len = eb.size;
    tz_checkpoint cp;
    snprintf(cp.origin, sizeof cp.origin, "hostile.example/log");
    cp.size = 12345;
    memset(cp.root, 0xab, 32);
    char *note;
    size_t len;
    ck_assert(tz_checkpoint_sign(&note, &len, &cp, &k, &e) == TZ_OK);
    memcpy(note_seed, note, len);
    note_seed_len = len;
    free(note);
    msgpack_sbuffer_destroy(&sb);
    msgpack_sbuffer_destroy(&eb);
    tz_key_wipe(&k);
}

/* Runs every decoder on buf; each must return a status and, on error, say why. */
static void decode_all(const uint8_t *buf, size_t len)
{
    tz_err e;
    tz_entry entry;
    int rc = tz_entry_decode(&entry, buf, len, &e);
    ck_assert(rc == TZ_OK || (rc == TZ_ERR_INPUT && e.msg[0] != '\0'));
    if (rc == TZ_OK) {
        ck_assert(entry.statement >= buf && entry.statement + entry.statement_len <= buf + len);
        int vr = tz_entry_verify_signatures(&entry, &e);
        ck_assert(vr == TZ_OK || vr == TZ_ERR_SIGNATURE || vr == TZ_ERR_NOMEM);
    }
    msgpack_zone zone;
    ck_assert(msgpack_zone_init(&zone, 1024));
    tz_statement st;
    rc = tz_statement_decode(&st, &zone, buf, len, &e);
    ck_assert(rc == TZ_OK || (rc == TZ_ERR_INPUT && e.msg[0] != '\0'));
    if (rc == TZ_OK) {
        json_t *j = tz_statement_to_json(&st, &e);
        ck_assert_ptr_nonnull(j); /* a decoded statement always has a JSON form */
        json_decref(j);
    }
    msgpack_zone_destroy(&zone);
    tz_note note;
    rc = tz_note_parse(&note, (const char *)buf, len, &e);
    ck_assert(rc == TZ_OK || rc == TZ_ERR_INPUT);
    tz_checkpoint cp;
    rc = tz_checkpoint_parse(&cp, (const char *)buf, len, &e);
    ck_assert(rc == TZ_OK || rc == TZ_ERR_INPUT);
    tz_public_key pk;
    rc = tz_key_parse_public(&pk, (const char *)buf, len, &e);
    ck_assert(rc == TZ_OK || rc == TZ_ERR_INPUT);
}

START_TEST(test_random_bytes)
{
    uint8_t buf[512];
    for (int round = 0; round < 20000; round++) {
        size_t len = next_rand() % sizeof buf;
        for (size_t i = 0; i < len; i++)
            buf[i] = (uint8_t)next_rand();
        /* Bias a quarter of the inputs toward msgpack maps so decoders get deep. */
        if (len > 0 && round % 4 == 0)
            buf[0] = (uint8_t)(0x80 | (next_rand() % 16));
        decode_all(buf, len);
    }
}
END_TEST

static void mutate_and_decode(const uint8_t *seed, size_t seed_len, int rounds)
{
    uint8_t buf[1200];
    ck_assert_uint_le(seed_len + 64, sizeof buf);
    for (int round = 0; round < rounds; round++) {
        memcpy(buf, seed, seed_len);
        size_t len = seed_len;
        int edits = 1 + (int)(next_rand() % 4);
        for (int k = 0; k < edits; k++) {
            switch (next_rand() % 4) {
            case 0: /* flip a bit */
                buf[next_rand() % len] ^= (uint8_t)(1u << (next_rand() % 8));
                break;
            case 1: /* set an interesting byte */
                buf[next_rand() % len] = (uint8_t[]){0x00, 0xff, 0x7f, 0x80, 0xc1, 0xdd, 0xdf,
                                                     0xcf, 0xd3, 0xcb, 0x0a, 0xe2}[next_rand() % 12];
                break;
            case 2: /* truncate */
                len = next_rand() % len + 1;
                break;
            default: /* duplicate a slice at the end */
                if (len + 16 < sizeof buf) {
                    size_t from = next_rand() % len, n = 1 + next_rand() % 16;
                    if (from + n > len)
                        n = len - from;
                    memmove(buf + len, buf + from, n);
                    len += n;
                }
            }
        }
        decode_all(buf, len);
    }
}

START_TEST(test_mutated_entries)
{
    decode_all(entry_seed, entry_seed_len);
    tz_err e;
    tz_entry entry;
    ck_assert(tz_entry_decode(&entry, entry_seed, entry_seed_len, &e) == TZ_OK);
    ck_assert(tz_entry_verify_signatures(&entry, &e) == TZ_OK);
    mutate_and_decode(entry_seed, entry_seed_len, 30000);
}
END_TEST

START_TEST(test_mutated_statements)
{
    mutate_and_decode(stmt_seed, stmt_seed_len, 30000);
}
END_TEST

START_TEST(test_mutated_notes)
{
    tz_err e;
    tz_note n;
    ck_assert(tz_note_parse(&n, note_seed, note_seed_len, &e) == TZ_OK);
    mutate_and_decode((const uint8_t *)note_seed, note_seed_len, 30000);
}
END_TEST

/* ---- the CLI's input paths --------------------------------------------- */

static char dir[256];

static void cli_setup(void)
{
    tz_test_tmpdir(dir, sizeof dir);
    ck_assert_int_eq(tz_test_run(NULL, "cd '%s' && '%s' keygen --name root --out root.key >/dev/null "
                                 "&& '%s' keygen --name log --out log.key >/dev/null && '%s' init "
                                 "--db L --origin h.example/x --log-key log.key --root root.key.pub "
                                 ">/dev/null", dir, TZ_CLI_PATH, TZ_CLI_PATH, TZ_CLI_PATH), 0);
}

static void cli_teardown(void)
{
    /* Whatever was thrown at it, the ledger still verifies. */
    ck_assert_int_eq(tz_test_run(NULL, "cd '%s' && '%s' verify --db L >/dev/null", dir,
                                 TZ_CLI_PATH), 0);
    tz_test_rmtree(dir);
}

static int append_from(const char *shell_producer)
{
    return tz_test_run(NULL, "cd '%s' && { %s; } | '%s' append --db L --key root.key >/dev/null "
                       "2>err", dir, shell_producer, TZ_CLI_PATH);
}

static char *err_text(void)
{
    char path[300];
    snprintf(path, sizeof path, "%s/err", dir);
    return tz_test_read_file(path, NULL);
}

START_TEST(test_cli_hostile_lines)
{
    static const struct {
        const char *producer;
        const char *needle;
    } cases[] = {
        /* a line over 1 MiB */
        {"head -c 1100000 /dev/zero | tr '\\0' 'a'; echo", "longer than"},
        /* binary garbage */
        {"printf '\\x00\\x01\\xff\\xfe{\\n'", "line 1"},
        /* invalid UTF-8 inside a JSON string */
        {"printf '{\"type\":\"memo\",\"id\":\"u\",\"at\":\"2026-11-01T09:00:00Z\",\"body\":{\"text\":\"\\xc0\\xaf\"}}\\n'",
         "line 1"},
        /* nesting far beyond the codec's depth limit */
        {"printf '{\"type\":\"memo\",\"id\":\"d\",\"at\":\"2026-11-01T09:00:00Z\",\"body\":{\"text\":\"x\",\"n\":'; "
         "for i in $(seq 200); do printf '['; done; for i in $(seq 200); do printf ']'; done; printf '}}\\n'",
         "line 1"},
        /* an integer beyond 64 bits */
        {"printf '{\"type\":\"memo\",\"id\":\"b\",\"at\":\"2026-11-01T09:00:00Z\",\"body\":{\"text\":\"x\",\"n\":184467440737095516160}}\\n'",
         "line 1"},
        /* duplicate keys */
        {"printf '{\"type\":\"memo\",\"type\":\"memo\",\"id\":\"k\",\"at\":\"2026-11-01T09:00:00Z\",\"body\":{\"text\":\"x\"}}\\n'",
         "line 1"},
        /* a statement over 64 KiB once encoded */
        {"printf '{\"type\":\"memo\",\"id\":\"big\",\"at\":\"2026-11-01T09:00:00Z\",\"body\":{\"text\":\"'; "
         "head -c 70000 /dev/zero | tr '\\0' 'x'; printf '\"}}\\n'", "line 1"},
        /* two objects on one line */
        {"printf '{\"type\":\"memo\",\"id\":\"t\",\"at\":\"2026-11-01T09:00:00Z\",\"body\":{\"text\":\"x\"}} {}\\n'",
         "line 1"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int rc = append_from(cases[i].producer);
        char *err = err_text();
        ck_assert_msg(rc == 3, "case %zu: exit %d (%s)", i, rc, err);
        ck_assert_msg(strstr(err, cases[i].needle) != NULL, "case %zu: %s", i, err);
        free(err);
    }
    /* Empty input is not an error: nothing to append. */
    ck_assert_int_eq(append_from("true"), 0);
    /* Nothing of any of it was stored: only genesis. */
    char *out;
    ck_assert_int_eq(tz_test_run(&out, "cd '%s' && '%s' verify --db L --json", dir, TZ_CLI_PATH), 0);
    ck_assert_ptr_nonnull(strstr(out, "\"size\":1"));
    free(out);
}
END_TEST

START_TEST(test_cli_damaged_files)
{
    /* A truncated secret key, a secret key with a flipped byte, a .pub given
     * where a secret is needed, and a missing file: exit 2 with the path. */
    ck_assert_int_eq(tz_test_run(NULL, "cd '%s' && head -c 30 root.key > short.key && chmod 600 short.key && "
                                 "sed 's/A/B/' root.key > flip.key && chmod 600 flip.key", dir), 0);
    const char *keys[] = {"short.key", "flip.key", "root.key.pub", "nope.key"};
    for (size_t i = 0; i < 4; i++) {
        int rc = tz_test_run(NULL, "cd '%s' && echo '{}' | '%s' append --db L --key %s 2>err >/dev/null",
                             dir, TZ_CLI_PATH, keys[i]);
        char *err = err_text();
        ck_assert_msg(rc == 2 || rc == 3, "%s: exit %d (%s)", keys[i], rc, err);
        ck_assert_msg(strstr(err, keys[i]) != NULL || strstr(err, "key") != NULL, "%s: %s", keys[i], err);
        free(err);
    }
    /* A damaged trusted checkpoint is a usage error (2), never "ok". */
    ck_assert_int_eq(tz_test_run(NULL, "cd '%s' && '%s' checkpoint --db L | head -c 20 > cp.bad && "
                                 "'%s' verify --db L --trusted cp.bad >/dev/null 2>&1", dir, TZ_CLI_PATH,
                                 TZ_CLI_PATH), 2);
    ck_assert_int_eq(tz_test_run(NULL, "cd '%s' && head -c 100000 /dev/urandom > cp.rand && "
                                 "'%s' verify --db L --trusted cp.rand >/dev/null 2>&1", dir, TZ_CLI_PATH), 2);
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("hostile");
    TCase *dec = tcase_create("decoders");
    tcase_add_checked_fixture(dec, make_seeds, NULL);
    tcase_set_timeout(dec, 600);
    tcase_add_test(dec, test_random_bytes);
    tcase_add_test(dec, test_mutated_entries);
    tcase_add_test(dec, test_mutated_statements);
    tcase_add_test(dec, test_mutated_notes);
    suite_add_tcase(s, dec);
    TCase *cli = tcase_create("cli");
    tcase_add_checked_fixture(cli, cli_setup, cli_teardown);
    tcase_set_timeout(cli, 120);
    tcase_add_test(cli, test_cli_hostile_lines);
    tcase_add_test(cli, test_cli_damaged_files);
    suite_add_tcase(s, cli);
    return s;
}

int main(void)
{
    return tz_test_main(make_suite);
}
