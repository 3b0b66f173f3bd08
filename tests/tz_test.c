/*
 * tz_test.c: helpers shared by the Check suites. See tz_test.h.
 */
#include "tests/tz_test.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

void tz_test_tmpdir(char *buf, size_t cap)
{
    const char *base = getenv("TMPDIR");
    if (base == NULL || base[0] == '\0')
        base = "/tmp";
    int n = snprintf(buf, cap, "%s/tztest.XXXXXX", base);
    ck_assert_int_lt(n, (int)cap);
    ck_assert_ptr_nonnull(mkdtemp(buf));
}

static int rmtree_cb(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st; (void)flag; (void)ftw;
    return remove(path);
}

void tz_test_rmtree(const char *path)
{
    nftw(path, rmtree_cb, 16, FTW_DEPTH | FTW_PHYS);
}

char *tz_test_read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "open %s: %s", path, strerror(errno));
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    ck_assert_ptr_nonnull(buf);
    for (;;) {
        if (n + 1 >= cap) {
            cap *= 2;
            buf = realloc(buf, cap);
            ck_assert_ptr_nonnull(buf);
        }
        size_t got = fread(buf + n, 1, cap - n - 1, f);
        n += got;
        if (got == 0)
            break;
    }
    ck_assert(!ferror(f));
    fclose(f);
    buf[n] = '\0';
    if (len != NULL)
        *len = n;
    return buf;
}

void tz_test_write_file(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    ck_assert_msg(f != NULL, "open %s: %s", path, strerror(errno));
    ck_assert_uint_eq(fwrite(data, 1, len, f), len);
    ck_assert_int_eq(fclose(f), 0);
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

size_t tz_test_unhex(uint8_t *out, size_t cap, const char *hex)
{
    size_t n = strlen(hex);
    ck_assert_msg(n % 2 == 0, "odd hex length: %s", hex);
    ck_assert_uint_le(n / 2, cap);
    for (size_t i = 0; i < n / 2; i++) {
        int hi = hexval(hex[2 * i]), lo = hexval(hex[2 * i + 1]);
        ck_assert_msg(hi >= 0 && lo >= 0, "bad hex: %s", hex);
        out[i] = (uint8_t)(hi << 4 | lo);
    }
    return n / 2;
}

int tz_test_run(char **out, const char *fmt, ...)
{
    char cmd[8192];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    ck_assert_int_lt(n, (int)sizeof cmd);
    FILE *p = popen(cmd, "r");
    ck_assert_msg(p != NULL, "popen %s", cmd);
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap);
    ck_assert_ptr_nonnull(buf);
    size_t got;
    while ((got = fread(buf + len, 1, cap - len - 1, p)) > 0) {
        len += got;
        if (len + 1 >= cap) {
            cap *= 2;
            buf = realloc(buf, cap);
            ck_assert_ptr_nonnull(buf);
        }
    }
    buf[len] = '\0';
    int status = pclose(p);
    if (out != NULL)
        *out = buf;
    else
        free(buf);
    if (status == -1 || !WIFEXITED(status))
        return -1;
    return WEXITSTATUS(status);
}

int tz_test_main(Suite *(*make_suite)(void))
{
    SRunner *runner = srunner_create(make_suite());
    srunner_run_all(runner, CK_NORMAL);
    int failed = srunner_ntests_failed(runner);
    srunner_free(runner);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

/* ---- ledger fixture ---------------------------------------------------- */

#include <jansson.h>

#include "crypto/keyfile.h"
#include "ledger/statement.h"

static void make_key(tz_secret_key *k, char *path, size_t cap, const char *dir, const char *name)
{
    tz_err e;
    snprintf(path, cap, "%s/%s.key", dir, name);
    ck_assert_msg(tz_key_generate(k, name, &e) == TZ_OK, "%s", e.msg);
    ck_assert_msg(tz_keyfile_write_secret(path, k, NULL, &e) == TZ_OK, "%s", e.msg);
}

void tz_fixture_vkey(char out[TZ_KEY_STRING_MAX], const tz_secret_key *key)
{
    tz_err e;
    ck_assert_msg(tz_key_format_public(out, TZ_KEY_STRING_MAX, &key->pub, &e) == TZ_OK, "%s",
                  e.msg);
}

int tz_fixture_append(tz_ledger *l, const char *json, const tz_secret_key *const *keys,
                      size_t nkeys, tz_append_result *res)
{
    json_error_t je;
    json_t *js = json_loads(json, JSON_REJECT_DUPLICATES, &je);
    ck_assert_msg(js != NULL, "fixture JSON: %s", je.text);
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    tz_err e;
    int rc = tz_statement_from_json(&sb, js, &e);
    json_decref(js);
    if (rc != TZ_OK) {
        msgpack_sbuffer_destroy(&sb);
        res->status = rc;
        res->err = e;
        return TZ_OK;
    }
    tz_signature sigs[TZ_ENTRY_MAX_SIGS];
    ck_assert(tz_statement_sign(sigs, (const uint8_t *)sb.data, sb.size, keys, nkeys, &e) == TZ_OK);
    tz_submission sub = {(const uint8_t *)sb.data, sb.size, sigs, nkeys};
    size_t processed;
    rc = tz_ledger_append(l, &sub, 1, res, &processed, 0, &e);
    msgpack_sbuffer_destroy(&sb);
    return rc;
}

void tz_fixture_memos(tz_ledger *l, const tz_secret_key *key, int from, int count)
{
    msgpack_sbuffer *sb = calloc((size_t)count, sizeof *sb);
    tz_signature *sigs = calloc((size_t)count, sizeof *sigs);
    tz_submission *subs = calloc((size_t)count, sizeof *subs);
    tz_append_result *res = calloc((size_t)count, sizeof *res);
    ck_assert(sb && sigs && subs && res);
    tz_err e;
    for (int i = 0; i < count; i++) {
        char json[256];
        snprintf(json, sizeof json, "{\"type\":\"memo\",\"id\":\"memo/%d\",\"at\":"
                 "\"2026-11-01T09:00:00+08:00\",\"body\":{\"text\":\"民情日志 %d\"}}", from + i,
                 from + i);
        json_t *js = json_loads(json, 0, NULL);
        msgpack_sbuffer_init(&sb[i]);
        ck_assert(tz_statement_from_json(&sb[i], js, &e) == TZ_OK);
        json_decref(js);
        ck_assert(tz_statement_sign(&sigs[i], (const uint8_t *)sb[i].data, sb[i].size,
                                    (const tz_secret_key *const[]){key}, 1, &e) == TZ_OK);
        subs[i] = (tz_submission){(const uint8_t *)sb[i].data, sb[i].size, &sigs[i], 1};
    }
    size_t processed;
    ck_assert_msg(tz_ledger_append(l, subs, (size_t)count, res, &processed, 0, &e) == TZ_OK, "%s",
                  e.msg);
    for (int i = 0; i < count; i++) {
        ck_assert_msg(res[i].status == TZ_OK, "memo %d: %s", from + i, res[i].err.msg);
        msgpack_sbuffer_destroy(&sb[i]);
    }
    free(sb);
    free(sigs);
    free(subs);
    free(res);
}

void tz_fixture_init(tz_fixture *f)
{
    memset(f, 0, sizeof *f);
    tz_test_tmpdir(f->dir, sizeof f->dir);
    make_key(&f->root, f->root_path, sizeof f->root_path, f->dir, "root");
    make_key(&f->log, f->log_path, sizeof f->log_path, f->dir, "log");
    make_key(&f->cadre, f->cadre_path, sizeof f->cadre_path, f->dir, "cadre");
    make_key(&f->stranger, f->stranger_path, sizeof f->stranger_path, f->dir, "stranger");
    snprintf(f->db, sizeof f->db, "%s/ledger", f->dir);
    tz_err e;
    ck_assert_msg(tz_ledger_create(f->db, "test.example/county", f->log_path, NULL, &f->root.pub, 1,
                                   &e) == TZ_OK, "%s", e.msg);
    tz_ledger *l;
    ck_assert_msg(tz_ledger_open(&l, f->db, 0, NULL, &e) == TZ_OK, "%s", e.msg);
    char vkey[TZ_KEY_STRING_MAX], json[512];
    tz_fixture_vkey(vkey, &f->cadre);
    snprintf(json, sizeof json, "{\"type\":\"key.grant\",\"id\":\"grant/cadre\",\"at\":"
             "\"2021-01-01T08:00:00+08:00\",\"body\":{\"key\":\"%s\",\"holder\":\"ZS\","
             "\"roles\":[\"cadre\"],\"scope\":\"village:dongba\"}}", vkey);
    const tz_secret_key *keys[1] = {&f->root};
    tz_append_result res;
    ck_assert(tz_fixture_append(l, json, keys, 1, &res) == TZ_OK);
    ck_assert_msg(res.status == TZ_OK, "%s", res.err.msg);
    ck_assert_uint_eq(res.seq, 1);
    tz_ledger_close(l);
}

void tz_fixture_cleanup(tz_fixture *f)
{
    tz_key_wipe(&f->root);
    tz_key_wipe(&f->log);
    tz_key_wipe(&f->cadre);
    tz_key_wipe(&f->stranger);
    tz_test_rmtree(f->dir);
}
