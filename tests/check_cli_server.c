/*
 * check_cli_server.c: `taizhang --server URL` against a running taizhangd.
 * The same commands are run locally (--db, read-only, on the daemon's own
 * ledger directory) and remotely (--server), and their output must be
 * byte for byte the same: append, get, log, checkpoint, prove, cosign and
 * the projection queries. A rejected line exits 3 with the server's rule;
 * a server that is not there exits 2 and says so.
 */
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/tz_test.h"

#define TZ "'" TZ_CLI_PATH "'"

static tz_fixture fx;

static void setup(void) { tz_fixture_init(&fx); }
static void teardown(void) { tz_fixture_cleanup(&fx); }

/* A daemon (tz_daemon_start) and the URL the CLI gives --server. */
typedef struct daemon_proc {
    tz_daemon d;
    char url[64];
} daemon_proc;

static void daemon_start(daemon_proc *d, const char *db)
{
    tz_daemon_start(&d->d, db);
    snprintf(d->url, sizeof d->url, "http://127.0.0.1:%d", d->d.port);
}

static void daemon_stop(daemon_proc *d)
{
    ck_assert_int_eq(tz_daemon_stop(&d->d, SIGTERM), 0);
}

/* Runs `taizhang ARGS` with --db dir and with --server url; both must exit
 * want and print the same bytes. Returns the output (malloc'd). */
static char *same(const daemon_proc *d, const char *db, int want, const char *args)
{
    char *local = NULL, *remote = NULL;
    int rl = tz_test_run(&local, TZ " %s --db '%s' 2>/dev/null", args, db);
    int rr = tz_test_run(&remote, TZ " %s --server %s 2>/dev/null", args, d->url);
    ck_assert_msg(rl == want, "%s --db: exit %d, want %d", args, rl, want);
    ck_assert_msg(rr == want, "%s --server: exit %d, want %d", args, rr, want);
    ck_assert_msg(strcmp(local, remote) == 0, "%s:\n--db:\n%s\n--server:\n%s", args, local, remote);
    ck_assert_msg(want != 0 || remote[0] != '\0', "%s: no output", args);
    free(local);
    return remote;
}

#define MEMO(id, text) "{\"type\":\"memo\",\"id\":\"" id "\",\"at\":\"2024-05-01T09:00:00+08:00\"," \
                       "\"body\":{\"text\":\"" text "\"}}"

START_TEST(test_append_and_reads)
{
    daemon_proc d;
    daemon_start(&d, fx.db);
    char in[400], *out = NULL;
    snprintf(in, sizeof in, "%s/in.jsonl", fx.dir);
    const char lines[] = MEMO("memo/1", "一") "\n" MEMO("memo/2", "two") "\n\n" MEMO("memo/3", "3") "\n";
    tz_test_write_file(in, lines, strlen(lines));
    ck_assert_int_eq(tz_test_run(&out, TZ " append --server %s --key '%s' --in '%s'", d.url,
                                 fx.cadre_path, in), 0);
    /* one {"seq","leaf_hash"} line per statement, as the local append prints */
    ck_assert_ptr_nonnull(strstr(out, "{\"seq\":2,\"leaf_hash\":\""));
    ck_assert_ptr_nonnull(strstr(out, "{\"seq\":4,\"leaf_hash\":\""));
    ck_assert_ptr_null(strstr(out, "existing"));
    free(out);
    /* the same line again: the existing entry */
    ck_assert_int_eq(tz_test_run(&out, "echo '" MEMO("memo/2", "two") "' | " TZ
                                 " append --server %s --key '%s'", d.url, fx.cadre_path), 0);
    ck_assert_ptr_nonnull(strstr(out, "{\"seq\":3,\"leaf_hash\":\""));
    ck_assert_ptr_nonnull(strstr(out, "\"existing\":true}"));
    free(out);

    free(same(&d, fx.db, 0, "get --seq 3"));
    free(same(&d, fx.db, 0, "get --seq 2 --json"));
    free(same(&d, fx.db, 0, "get --id memo/3"));
    free(same(&d, fx.db, 2, "get --seq 99"));
    free(same(&d, fx.db, 0, "log"));
    free(same(&d, fx.db, 0, "log --from 1 --to 3"));
    free(same(&d, fx.db, 0, "log --type memo"));
    free(same(&d, fx.db, 0, "checkpoint"));
    free(same(&d, fx.db, 0, "prove --seq 2"));
    free(same(&d, fx.db, 0, "prove --seq 1 --size 4"));
    free(same(&d, fx.db, 0, "prove --from 2 --to 5"));

    /* cosign through the daemon; a second run answers with the same entry */
    char *first = NULL, *again = NULL;
    ck_assert_int_eq(tz_test_run(&first, TZ " cosign --server %s --key '%s' --seq 2", d.url,
                                 fx.root_path), 0);
    ck_assert_ptr_nonnull(strstr(first, "{\"seq\":5,\"leaf_hash\":\""));
    ck_assert_int_eq(tz_test_run(&again, TZ " cosign --server %s --key '%s' --seq 2", d.url,
                                 fx.root_path), 0);
    ck_assert_ptr_nonnull(strstr(again, "\"existing\":true"));
    ck_assert_int_eq(strncmp(first, again, strlen(first) - 2), 0); /* same seq and leaf */
    free(first);
    free(again);
    free(same(&d, fx.db, 0, "get --seq 5"));
    free(same(&d, fx.db, 0, "checkpoint"));
    daemon_stop(&d);
}
END_TEST

START_TEST(test_rejects_and_dead_server)
{
    daemon_proc d;
    daemon_start(&d, fx.db);
    char *out = NULL;
    /* line 1 is accepted, line 2 is dated in the future: the server's rule, exit 3 */
    ck_assert_int_eq(tz_test_run(&out, "printf '%%s\\n%%s\\n' '" MEMO("ok/1", "fine") "' "
                                 "'{\"type\":\"memo\",\"id\":\"late/1\",\"at\":\"2999-01-01T00:00:00Z\","
                                 "\"body\":{\"text\":\"x\"}}' | " TZ " append --server %s --key '%s' "
                                 "2>&1", d.url, fx.cadre_path), 3);
    ck_assert_msg(strstr(out, "{\"seq\":2,") != NULL, "%s", out);
    ck_assert_msg(strstr(out, "taizhang: line 2: at: 2999-01-01T00:00:00Z") != NULL, "%s", out);
    free(out);
    /* a key never granted: 401, exit 3 */
    ck_assert_int_eq(tz_test_run(&out, "echo '" MEMO("s/1", "x") "' | " TZ " append --server %s "
                                 "--key '%s' 2>&1", d.url, fx.stranger_path), 3);
    ck_assert_msg(strstr(out, "taizhang: line 1: ") != NULL, "%s", out);
    free(out);
    /* the id reused with other content: 409, exit 3 */
    ck_assert_int_eq(tz_test_run(&out, "echo '" MEMO("ok/1", "other") "' | " TZ " append --server "
                                 "%s --key '%s' 2>&1", d.url, fx.cadre_path), 3);
    ck_assert_msg(strstr(out, "taizhang: line 1: ") != NULL, "%s", out);
    free(out);
    /* a malformed line never leaves the client: the local message, exit 3 */
    ck_assert_int_eq(tz_test_run(&out, "echo '{nope' | " TZ " append --server %s --key '%s' 2>&1",
                                 d.url, fx.cadre_path), 3);
    ck_assert_msg(strstr(out, "taizhang: line 1: not valid JSON") != NULL, "%s", out);
    free(out);
    /* bad query parameters: the server's 400 is exit 3 */
    ck_assert_int_eq(tz_test_run(&out, TZ " prove --server %s --seq 9 2>&1", d.url), 3);
    free(out);
    /* --db and --server together, and --server where it has no meaning */
    ck_assert_int_eq(tz_test_run(&out, TZ " get --seq 0 --db x --server %s 2>&1", d.url), 2);
    free(out);
    ck_assert_int_eq(tz_test_run(&out, TZ " verify --server %s 2>&1", d.url), 2);
    ck_assert_msg(strstr(out, "--server") != NULL, "%s", out);
    free(out);
    char url[64];
    snprintf(url, sizeof url, "%s", d.url);
    daemon_stop(&d);
    /* nobody listens there now */
    ck_assert_int_eq(tz_test_run(&out, "echo '" MEMO("n/1", "x") "' | " TZ " append --server %s "
                                 "--key '%s' 2>&1", url, fx.cadre_path), 2);
    ck_assert_msg(strstr(out, "Connection refused") != NULL, "%s", out);
    free(out);
    ck_assert_int_eq(tz_test_run(&out, TZ " checkpoint --server %s 2>&1", url), 2);
    ck_assert_msg(strstr(out, "Connection refused") != NULL, "%s", out);
    free(out);
    ck_assert_int_eq(tz_test_run(&out, TZ " get --seq 0 --server ftp://x 2>&1"), 2);
    free(out);
}
END_TEST

START_TEST(test_projections)
{
    char db[400];
    snprintf(db, sizeof db, "%s/demo", fx.dir);
    ck_assert_int_eq(tz_test_run(NULL, TZ " demo --db '%s' --months 2 --villages 2 >/dev/null 2>&1",
                                 db), 0);
    daemon_proc d;
    daemon_start(&d, db);
    free(same(&d, db, 0, "roster --format json"));
    free(same(&d, db, 0, "roster --format table"));
    free(same(&d, db, 0, "roster --village beiling --as-of 40 --explain --format table"));
    free(same(&d, db, 0, "attendance --person p0001 --format csv"));
    free(same(&d, db, 0, "allowance --township chengguan --format table"));
    free(same(&d, db, 0, "eligibility --year 2024 --format json"));
    free(same(&d, db, 0, "absences --person p0001 --explain --format json"));
    free(same(&d, db, 3, "roster --as-of nonsense"));
    /* one cadre's entries (the subject index), paged by the server */
    char *mine = same(&d, db, 0, "log --person p0001");
    ck_assert_ptr_nonnull(strstr(mine, "\"person\":\"p0001\""));
    ck_assert_ptr_null(strstr(mine, "\"person\":\"p0002\""));
    free(mine);
    char *sheets = same(&d, db, 0, "log --village beiling --type attendance");
    ck_assert_ptr_null(strstr(sheets, "\"type\":\"dispatch\""));
    free(sheets);
    free(same(&d, db, 0, "log --person p0001 --village beiling --from 5 --to 300"));
    daemon_stop(&d);
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("cli_server");
    TCase *tc = tcase_create("server");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_append_and_reads);
    tcase_add_test(tc, test_rejects_and_dead_server);
    tcase_add_test(tc, test_projections);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return tz_test_main(make_suite);
}
