/*
 * check_limits.c: every bound on outside input (docs/API.md, "Limits on
 * input"), at n-1, n and n+1 bytes and far beyond, through the CLI (--db
 * and --server) and through taizhangd's HTTP; and the errors that must say
 * what happened (issue 11, section 4): invalid UTF-8 in an id, as_of
 * outside the log, a repeated parameter, UTF-8 written raw in JSON.
 *
 * An over-long id once overflowed a 136-byte stack buffer in
 * tz_apply_id_get: GET /v1/entries/by-id?id=<160+ bytes> killed the daemon
 * and `taizhang get --id <400 bytes>` segfaulted. Each refusal here must be
 * a 400 / exit 3 naming the field and its limit, and the daemon must still
 * answer /healthz afterwards.
 */
#include <jansson.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ledger/statement.h"
#include "tests/tz_test.h"

#define TZ "'" TZ_CLI_PATH "'"

static tz_fixture fx;

static void setup(void) { tz_fixture_init(&fx); }
static void teardown(void) { tz_fixture_cleanup(&fx); }

/* n bytes of c, NUL-terminated (malloc'd). */
static char *repeat(char c, size_t n)
{
    char *s = malloc(n + 1);
    ck_assert_ptr_nonnull(s);
    memset(s, c, n);
    s[n] = '\0';
    return s;
}

/* Appends a memo with statement id `id` and text `text` through the
 * library; fails the test unless it is accepted. */
static void append_memo(const char *id, const char *text)
{
    char json[1024];
    snprintf(json, sizeof json, "{\"type\":\"memo\",\"id\":\"%s\",\"at\":"
             "\"2024-05-01T09:00:00+08:00\",\"body\":{\"text\":\"%s\"}}", id, text);
    tz_ledger *l;
    tz_err e;
    ck_assert_int_eq(tz_ledger_open(&l, fx.db, 0, NULL, &e), TZ_OK);
    const tz_secret_key *keys[1] = {&fx.cadre};
    tz_append_result res;
    int rc = tz_fixture_append(l, json, keys, 1, &res);
    tz_ledger_close(l);
    ck_assert_msg(rc == TZ_OK, "append %s: %d", id, rc);
}

/* Fails unless the daemon runs and answers GET /healthz with 200. */
static void assert_healthy(tz_daemon *d)
{
    tz_daemon_assert_running(d);
    char *r = NULL;
    int st = tz_http(d->port, "GET", "/healthz", NULL, NULL, 0, &r);
    ck_assert_msg(st == 200, "/healthz: %d %s", st, r ? r : "(no reply)");
    free(r);
}

/* GET path; fails unless the answer is want with error JSON whose message
 * contains `says` (NULL: any); the daemon must still be healthy after. */
static void expect_get(tz_daemon *d, const char *path, int want, const char *code,
                       const char *says)
{
    /* by hand: tz_http_format's head holds paths up to about 400 bytes */
    size_t cap = strlen(path) + 128;
    char *req = malloc(cap), *r = NULL;
    ck_assert_ptr_nonnull(req);
    snprintf(req, cap, "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n", path);
    int fd = tz_http_connect(d->port);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(tz_http_send(fd, req, strlen(req)), 0);
    int st = tz_http_read_reply(fd, &r);
    close(fd);
    free(req);
    ck_assert_msg(st == want, "GET %.200s: %d, want %d: %s", path, st, want, r ? r : "(none)");
    if (code != NULL)
        tz_http_expect_error(st, want, r, code);
    if (says != NULL)
        ck_assert_msg(r != NULL && strstr(r, says) != NULL, "GET %.200s: %s lacks \"%s\"", path,
                      r ? r : "(none)", says);
    free(r);
    assert_healthy(d);
}

/* ---- the CLI --------------------------------------------------------------------- */

/* get --id at 127, 128, 129 and 400 bytes: the stack smash (exit 139 on
 * main) is now exit 3 naming --id and 128; 128 bytes is found. */
START_TEST(test_cli_get_id)
{
    char *id128 = repeat('a', TZ_STATEMENT_ID_MAX);
    append_memo(id128, "long id");
    char *out = NULL;
    int rc = tz_test_run(&out, TZ " get --db '%s' --id '%s' --json", fx.db, id128);
    ck_assert_msg(rc == 0, "128-byte id: exit %d", rc);
    ck_assert_ptr_nonnull(strstr(out, id128));
    free(out);
    char *id127 = repeat('a', TZ_STATEMENT_ID_MAX - 1);
    rc = tz_test_run(&out, TZ " get --db '%s' --id '%s' 2>&1", fx.db, id127);
    ck_assert_msg(rc == 2 && strstr(out, "no statement with that id"), "127: %d %s", rc, out);
    free(out);
    const size_t over[] = {400, 4097, TZ_STATEMENT_ID_MAX + 1}; /* the crash first */
    for (size_t i = 0; i < sizeof over / sizeof over[0]; i++) {
        char *id = repeat('b', over[i]), want[64];
        snprintf(want, sizeof want, "--id: %zu bytes (at most %d)", over[i], TZ_STATEMENT_ID_MAX);
        rc = tz_test_run(&out, TZ " get --db '%s' --id '%s' 2>&1", fx.db, id);
        ck_assert_msg(rc == 3 && strstr(out, want) != NULL, "%zu bytes: exit %d: %s", over[i],
                      rc, out);
        free(out);
        free(id);
    }
    free(id127);
    free(id128);
}
END_TEST

/* append with ids of 128 and 129 bytes: the codec's bound (accepted ids
 * can be looked up, see above); one over is refused, nothing written. */
START_TEST(test_cli_append_id)
{
    char in[400], *out = NULL;
    snprintf(in, sizeof in, "%s/in.jsonl", fx.dir);
    for (size_t n = TZ_STATEMENT_ID_MAX; n <= TZ_STATEMENT_ID_MAX + 1; n++) {
        char *id = repeat('c', n), line[512];
        snprintf(line, sizeof line, "{\"type\":\"memo\",\"id\":\"%s\",\"at\":"
                 "\"2024-05-01T09:00:00+08:00\",\"body\":{\"text\":\"x\"}}\n", id);
        tz_test_write_file(in, line, strlen(line));
        int rc = tz_test_run(&out, TZ " append --db '%s' --key '%s' --in '%s' 2>&1", fx.db,
                             fx.cadre_path, in);
        if (n == TZ_STATEMENT_ID_MAX)
            ck_assert_msg(rc == 0, "128: exit %d %s", rc, out);
        else
            ck_assert_msg(rc == 3 && strstr(out, "id: must be 1..128 bytes (is 129)") != NULL,
                          "129: exit %d %s", rc, out);
        free(out);
        free(id);
    }
    ck_assert_uint_eq(tz_test_verify(fx.db), 3); /* genesis, grant, the 128-byte memo */
}
END_TEST

/* Every id filter of log and of each projection query, one byte over:
 * exit 3 naming the option and 128, with --db; at exactly 128 bytes the
 * limit does not fire. */
START_TEST(test_cli_filters)
{
    static const struct {
        const char *command, *option;
    } cases[] = {
        {"log", "--person"},         {"log", "--village"},          {"roster", "--village"},
        {"roster", "--township"},    {"roster", "--unit"},          {"roster", "--person"},
        {"attendance", "--person"},  {"attendance", "--village"},   {"attendance", "--township"},
        {"leave", "--person"},       {"absences", "--person"},      {"handover", "--village"},
        {"handover", "--township"},  {"term", "--person"},          {"term", "--village"},
        {"term", "--township"},      {"term", "--unit"},            {"recall", "--person"},
        {"recall", "--unit"},        {"grade", "--person"},         {"eligibility", "--person"},
        {"eligibility", "--village"}, {"eligibility", "--township"}, {"eligibility", "--unit"},
        {"allowance", "--person"},   {"allowance", "--village"},    {"allowance", "--township"},
    };
    char *at = repeat('p', TZ_STATEMENT_ID_MAX), *over = repeat('p', TZ_STATEMENT_ID_MAX + 1);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *year = strcmp(cases[i].command, "eligibility") == 0 ? " --year 2024" : "";
        char *out = NULL, want[64];
        snprintf(want, sizeof want, "%s: 129 bytes (at most 128)", cases[i].option);
        int rc = tz_test_run(&out, TZ " %s --db '%s'%s %s '%s' 2>&1", cases[i].command, fx.db,
                             year, cases[i].option, over);
        ck_assert_msg(rc == 3 && strstr(out, want) != NULL, "%s %s: exit %d: %s",
                      cases[i].command, cases[i].option, rc, out);
        free(out);
        rc = tz_test_run(&out, TZ " %s --db '%s'%s %s '%s' 2>&1", cases[i].command, fx.db, year,
                         cases[i].option, at);
        ck_assert_msg(rc != 3 && strstr(out, "at most") == NULL, "%s %s at 128: exit %d: %s",
                      cases[i].command, cases[i].option, rc, out);
        free(out);
    }
    /* the inspection tools parse their own options: the same bound */
    static const struct {
        const char *command, *option;
    } own[] = {{"history", "--person"}, {"history", "--village"},
               {"export --out -", "--person"}, {"export --out -", "--village"}};
    for (size_t i = 0; i < sizeof own / sizeof own[0]; i++) {
        char *out = NULL, want[64];
        int rc = tz_test_run(&out, TZ " %s --db '%s' %s '%s' 2>&1 >/dev/null", own[i].command,
                             fx.db, own[i].option, over);
        snprintf(want, sizeof want, "%s: 129 bytes (at most 128)", own[i].option);
        ck_assert_msg(rc == 3 && strstr(out, want) != NULL, "%s %s: exit %d: %s", own[i].command,
                      own[i].option, rc, out);
        free(out);
    }
    /* a type filter: 64 bytes */
    char *type = repeat('t', TZ_STATEMENT_TYPE_MAX + 1), *out = NULL;
    int rc = tz_test_run(&out, TZ " log --db '%s' --type '%s' 2>&1", fx.db, type);
    ck_assert_msg(rc == 3 && strstr(out, "--type: 65 bytes (at most 64)"), "%d %s", rc, out);
    free(out);
    free(type);
    free(at);
    free(over);
}
END_TEST

/* Paths longer than PATH_MAX less room for suffixes are refused naming the
 * option before any file is touched (no snprintf cuts them). */
START_TEST(test_cli_paths)
{
    char *path = repeat('d', PATH_MAX + 10), *out = NULL, want[64];
    snprintf(want, sizeof want, "--db: %d bytes (at most %d)", PATH_MAX + 10, PATH_MAX - 64);
    int rc = tz_test_run(&out, TZ " get --db '%s' --seq 0 2>&1", path);
    ck_assert_msg(rc == 3 && strstr(out, want) != NULL, "--db: exit %d: %s", rc, out);
    free(out);
    snprintf(want, sizeof want, "--out: %d bytes (at most %d)", PATH_MAX + 10, PATH_MAX - 64);
    rc = tz_test_run(&out, TZ " keygen --name k --out '%s' 2>&1", path);
    ck_assert_msg(rc == 3 && strstr(out, want) != NULL, "--out: exit %d: %s", rc, out);
    free(out);
    snprintf(want, sizeof want, "--key: %d bytes (at most %d)", PATH_MAX + 10, PATH_MAX - 64);
    rc = tz_test_run(&out, TZ " append --db '%s' --key '%s' </dev/null 2>&1", fx.db, path);
    ck_assert_msg(rc == 3 && strstr(out, want) != NULL, "--key: exit %d: %s", rc, out);
    free(out);
    free(path);
}
END_TEST

/* ---- HTTP -------------------------------------------------------------------------- */

/* by-id at 127, 128, 129, 160, 400 and 4097 bytes: 404, 200, then 400
 * naming id and 128; the daemon answers /healthz after each (on main the
 * 160-byte one killed it). */
START_TEST(test_http_by_id)
{
    char *id128 = repeat('a', TZ_STATEMENT_ID_MAX);
    append_memo(id128, "long id");
    tz_daemon d;
    tz_daemon_start(&d, fx.db);
    char path[8192];
    snprintf(path, sizeof path, "/v1/entries/by-id?id=%s", id128);
    json_t *j = tz_http_get_json(d.port, path);
    ck_assert_int_eq(json_integer_value(json_object_get(j, "seq")), 2);
    json_decref(j);
    char *id127 = repeat('a', TZ_STATEMENT_ID_MAX - 1);
    snprintf(path, sizeof path, "/v1/entries/by-id?id=%s", id127);
    expect_get(&d, path, 404, "notfound", NULL);
    free(id127);
    const size_t over[] = {160, 400, 4097, TZ_STATEMENT_ID_MAX + 1}; /* the crash first */
    for (size_t i = 0; i < sizeof over / sizeof over[0]; i++) {
        char *id = repeat('b', over[i]), want[64];
        snprintf(path, sizeof path, "/v1/entries/by-id?id=%s", id);
        snprintf(want, sizeof want, "id: %zu bytes (at most %d)", over[i], TZ_STATEMENT_ID_MAX);
        expect_get(&d, path, 400, "input", want);
        free(id);
    }
    free(id128);
    ck_assert_int_eq(tz_daemon_stop(&d, SIGTERM), 0);
}
END_TEST

/* The filters of /v1/entries and of the projections, and the numbers of
 * the proofs, one byte over their bound: 400 naming the parameter. */
START_TEST(test_http_params)
{
    tz_daemon d;
    tz_daemon_start(&d, fx.db);
    char *id = repeat('p', TZ_STATEMENT_ID_MAX + 1), *at = repeat('p', TZ_STATEMENT_ID_MAX);
    char path[1024], want[64];
    static const char *const entries[] = {"person", "village"};
    for (size_t i = 0; i < 2; i++) {
        snprintf(path, sizeof path, "/v1/entries?%s=%s", entries[i], id);
        snprintf(want, sizeof want, "%s: 129 bytes (at most 128)", entries[i]);
        expect_get(&d, path, 400, "input", want);
        snprintf(path, sizeof path, "/v1/entries?%s=%s", entries[i], at);
        expect_get(&d, path, 200, NULL, NULL);
    }
    static const char *const filters[] = {"person", "village", "township", "unit"};
    for (size_t i = 0; i < 4; i++) {
        snprintf(path, sizeof path, "/v1/projections/roster?%s=%s", filters[i], id);
        snprintf(want, sizeof want, "%s: 129 bytes (at most 128)", filters[i]);
        expect_get(&d, path, 400, "input", want);
        snprintf(path, sizeof path, "/v1/projections/eligibility?year=2024&%s=%s", filters[i], id);
        expect_get(&d, path, 400, "input", want);
    }
    char *type = repeat('t', TZ_STATEMENT_TYPE_MAX + 1);
    snprintf(path, sizeof path, "/v1/entries?type=%s", type);
    expect_get(&d, path, 400, "input", "type: 65 bytes (at most 64)");
    free(type);
    char *digits = repeat('1', 65);
    snprintf(path, sizeof path, "/v1/proof/inclusion?seq=%s", digits);
    expect_get(&d, path, 400, "input", "seq: 65 bytes (at most 64)");
    snprintf(path, sizeof path, "/v1/proof/consistency?from=1&to=%s", digits);
    expect_get(&d, path, 400, "input", "to: 65 bytes (at most 64)");
    snprintf(path, sizeof path, "/v1/projections/roster?as_of=%s", digits);
    expect_get(&d, path, 400, "input", "as_of: 65 bytes (at most 64)");
    free(digits);
    free(id);
    free(at);
    ck_assert_int_eq(tz_daemon_stop(&d, SIGTERM), 0);
}
END_TEST

/* Section 4: invalid UTF-8 in an id is 400 naming it (was 500 "out of
 * memory"); as_of outside the log is 400 (was 404); a repeated parameter
 * is refused naming it (was silently taken once); a message cut in the
 * middle of a character still comes back as JSON. */
START_TEST(test_http_errors)
{
    tz_daemon d;
    tz_daemon_start(&d, fx.db);
    expect_get(&d, "/v1/entries/by-id?id=%ff", 400, "input", "id: not valid UTF-8 (byte 0)");
    expect_get(&d, "/v1/entries/by-id?id=a%c3", 400, "input", "id: not valid UTF-8 (byte 1)");
    expect_get(&d, "/v1/entries?person=%ed%a0%80", 400, "input", "person: not valid UTF-8");
    expect_get(&d, "/v1/projections/roster?village=%00x", 400, "input", "village:");
    expect_get(&d, "/v1/projections/roster?as_of=99", 400, "usage", "as_of:");
    expect_get(&d, "/v1/projections/roster?as_of=1999-01-01", 400, "usage", "as_of:");
    expect_get(&d, "/v1/entries/by-id?id=a&id=b", 400, "input",
               "id: given more than once (each parameter at most once)");
    expect_get(&d, "/v1/entries?from=0&from=1", 400, "input", "from: given more than once");
    expect_get(&d, "/v1/proof/inclusion?seq=0&seq=0", 400, "input", "seq: given more than once");
    /* an unknown endpoint is quoted cut at 128 bytes, here inside 高 */
    char path[256];
    memset(path, 'x', sizeof path);
    path[0] = '/';
    memcpy(path + 126, "\xe9\xab\x98", 3);
    path[129] = '\0';
    expect_get(&d, path, 404, "notfound", "no such endpoint");
    ck_assert_int_eq(tz_daemon_stop(&d, SIGTERM), 0);
}
END_TEST

/* A Chinese name comes back as raw UTF-8, never \uXXXX, from the daemon
 * and from the CLI with --db and --server (byte for byte the same). */
START_TEST(test_utf8_raw)
{
    append_memo("memo/utf8", "走访农户高兴");
    tz_daemon d;
    tz_daemon_start(&d, fx.db);
    char *r = NULL;
    int st = tz_http(d.port, "GET", "/v1/entries/2", NULL, NULL, 0, &r);
    ck_assert_msg(st == 200 && strstr(r, "\"text\":\"走访农户高兴\"") != NULL &&
                      strstr(r, "\\u") == NULL, "%d %s", st, r);
    free(r);
    st = tz_http(d.port, "GET", "/v1/entries/by-id?id=%E9%AB%98", NULL, NULL, 0, &r);
    ck_assert_msg(st == 404 && strstr(r, "id 高: no statement") != NULL, "%d %s", st, r);
    free(r);
    char url[64], *local = NULL, *remote = NULL;
    snprintf(url, sizeof url, "http://127.0.0.1:%d", d.port);
    ck_assert_int_eq(tz_test_run(&local, TZ " get --db '%s' --seq 2 --json", fx.db), 0);
    ck_assert_int_eq(tz_test_run(&remote, TZ " get --server %s --seq 2 --json", url), 0);
    ck_assert_str_eq(local, remote);
    ck_assert_msg(strstr(local, "走访农户高兴") != NULL && strstr(local, "\\u") == NULL, "%s",
                  local);
    free(local);
    free(remote);
    /* as_of past the log: the same exit (2) and words with --db and --server */
    int rl = tz_test_run(&local, TZ " roster --db '%s' --as-of 99 2>&1", fx.db);
    int rr = tz_test_run(&remote, TZ " roster --server %s --as-of 99 2>&1", url);
    ck_assert_msg(rl == 2 && rr == 2, "--db %d %s, --server %d %s", rl, local, rr, remote);
    free(local);
    free(remote);
    /* an over-long filter: the same exit (3) and words with --db and --server */
    char *id = repeat('v', TZ_STATEMENT_ID_MAX + 1);
    rl = tz_test_run(&local, TZ " roster --db '%s' --village %s 2>&1", fx.db, id);
    rr = tz_test_run(&remote, TZ " roster --server %s --village %s 2>&1", url, id);
    ck_assert_msg(rl == 3 && rr == 3, "--db %d %s, --server %d %s", rl, local, rr, remote);
    ck_assert_str_eq(local, remote);
    free(local);
    free(remote);
    free(id);
    ck_assert_int_eq(tz_daemon_stop(&d, SIGTERM), 0);
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("limits");
    TCase *tc = tcase_create("limits");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_cli_get_id);
    tcase_add_test(tc, test_cli_append_id);
    tcase_add_test(tc, test_cli_filters);
    tcase_add_test(tc, test_cli_paths);
    tcase_add_test(tc, test_http_by_id);
    tcase_add_test(tc, test_http_params);
    tcase_add_test(tc, test_http_errors);
    tcase_add_test(tc, test_utf8_raw);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return tz_test_main(make_suite); }
