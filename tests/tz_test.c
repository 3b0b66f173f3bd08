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

int tz_fixture_append_named(tz_ledger *l, json_t *js, const char *signer_names,
                            const char (*names)[32], const tz_secret_key *keys, size_t n,
                            const tz_secret_key *root, tz_append_result *res)
{
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    tz_err e;
    int rc = tz_statement_from_json(&sb, js, &e);
    json_decref(js);
    ck_assert_msg(rc == TZ_OK, "statement: %s", e.msg);
    const tz_secret_key *signers[TZ_ENTRY_MAX_SIGS];
    size_t nsigners = 0;
    char buf[256];
    ck_assert((size_t)snprintf(buf, sizeof buf, "%s", signer_names) < sizeof buf);
    for (char *save = NULL, *k = strtok_r(buf, ",", &save); k; k = strtok_r(NULL, ",", &save)) {
        ck_assert_msg(nsigners < TZ_ENTRY_MAX_SIGS, "%s: too many signers", signer_names);
        const tz_secret_key *key = NULL;
        for (size_t i = 0; i < n && key == NULL; i++)
            if (strcmp(names[i], k) == 0)
                key = &keys[i];
        if (key == NULL && strcmp(k, "root") == 0)
            key = root;
        ck_assert_msg(key != NULL, "no key %s", k);
        signers[nsigners++] = key;
    }
    tz_signature sigs[TZ_ENTRY_MAX_SIGS];
    ck_assert(tz_statement_sign(sigs, (const uint8_t *)sb.data, sb.size, signers, nsigners, &e) ==
              TZ_OK);
    tz_submission sub = {(const uint8_t *)sb.data, sb.size, sigs, nsigners};
    size_t processed;
    ck_assert_msg(tz_ledger_append(l, &sub, 1, res, &processed, 0, &e) == TZ_OK, "%s", e.msg);
    msgpack_sbuffer_destroy(&sb);
    return res->status;
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

/* ---- taizhangd as a child process ----------------------------------------- */

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>

#include "ledger/verify.h"
#include "util/encoding.h"

void tz_daemon_start(tz_daemon *d, const char *db)
{
    tz_daemon_start_args(d, db, NULL);
}

void tz_daemon_start_args(tz_daemon *d, const char *db, const char *const *extra)
{
    tz_daemon_opts o = {.extra = extra};
    char line[256];
    ck_assert_msg(tz_daemon_spawn(d, db, &o, line, sizeof line) == 0, "no listening line: %s",
                  line[0] ? line : "(the daemon printed nothing)");
}

int tz_daemon_spawn(tz_daemon *d, const char *db, const tz_daemon_opts *o, char *first_line,
                    size_t cap)
{
    const char *argv[32] = {"taizhangd", "--db", db, "--listen", "127.0.0.1:0", "--workers",
                            o->workers ? o->workers : "2"};
    size_t argc = 7;
    for (size_t i = 0; o->extra != NULL && o->extra[i] != NULL; i++) {
        ck_assert_uint_lt(argc, sizeof argv / sizeof argv[0] - 1);
        argv[argc++] = o->extra[i];
    }
    argv[argc] = NULL;
    /* the environment, built before fork: the child only execs */
    extern char **environ;
    const char *envp[512];
    size_t envc = 0;
    for (size_t i = 0; environ[i] != NULL; i++) {
        ck_assert_uint_lt(envc, sizeof envp / sizeof envp[0] - 1);
        envp[envc++] = environ[i];
    }
    for (size_t i = 0; o->env != NULL && o->env[i] != NULL; i++) {
        ck_assert_uint_lt(envc, sizeof envp / sizeof envp[0] - 1);
        envp[envc++] = o->env[i];
    }
    envp[envc] = NULL;
    int fds[2];
    ck_assert(pipe(fds) == 0);
    pid_t parent = getpid();
    d->pid = fork();
    ck_assert(d->pid >= 0);
    if (d->pid == 0) {
        /* Die with the test: a failed ck_assert ends the test process at
         * once, and an orphaned daemon would keep the port, the ledger's
         * lock and (check_daemon_diskfull) the mount busy. (The signal
         * follows the forking thread: start daemons from the test's own.) */
        if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != parent)
            _exit(127);
        dup2(fds[1], STDOUT_FILENO);
        if (o->stderr_path != NULL) {
            int e = open(o->stderr_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
            if (e < 0 || dup2(e, STDERR_FILENO) < 0)
                _exit(127);
        }
        /* Only stdin, stdout and stderr: sockets and files the test holds
         * open must close when the test closes them. */
        long max = sysconf(_SC_OPEN_MAX);
        for (int fd = 3; fd < (max > 0 && max < 65536 ? max : 65536); fd++)
            close(fd);
        for (int i = 0; i < o->hold_fds; i++)
            if (open("/dev/null", O_RDONLY) < 0)
                _exit(127);
        if (o->nofile > 0) {
            struct rlimit rl = {o->nofile, o->nofile};
            if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
                _exit(127);
        }
        execve(TZ_DAEMON_PATH, (char *const *)argv, (char *const *)envp);
        _exit(127);
    }
    close(fds[1]);
    FILE *f = fdopen(fds[0], "r");
    ck_assert_ptr_nonnull(f);
    char line[256] = "";
    int got = fgets(line, sizeof line, f) != NULL;
    fclose(f);
    if (first_line != NULL && cap > 0)
        snprintf(first_line, cap, "%s", line);
    const char *p = got ? strstr(line, "127.0.0.1:") : NULL;
    if (p == NULL)
        return -1;
    d->port = atoi(p + 10);
    ck_assert_int_gt(d->port, 0);
    return 0;
}

int tz_daemon_wait(tz_daemon *d)
{
    int st;
    ck_assert(waitpid(d->pid, &st, 0) == d->pid);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

int tz_daemon_stop(tz_daemon *d, int sig)
{
    int st;
    ck_assert(kill(d->pid, sig) == 0);
    ck_assert(waitpid(d->pid, &st, 0) == d->pid);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

void tz_daemon_assert_running(tz_daemon *d)
{
    int st;
    pid_t r = waitpid(d->pid, &st, WNOHANG);
    ck_assert_msg(r == 0, "taizhangd is gone: %s %d", r < 0 ? "waitpid failed" :
                  WIFEXITED(st) ? "exit status" : "killed by signal",
                  r < 0 ? errno : WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
}

/* ---- a minimal HTTP/1.1 client ---------------------------------------------- */

int tz_http_connect(int port)
{
    return tz_http_connect_from(port, NULL);
}

int tz_http_connect_from(int port, const char *source)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return -1;
    struct timeval tv = {.tv_sec = 60};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    if (source != NULL) {
        struct sockaddr_in b = {.sin_family = AF_INET};
        if (inet_pton(AF_INET, source, &b.sin_addr) != 1 ||
            bind(fd, (struct sockaddr *)&b, sizeof b) != 0) {
            close(fd);
            return -1;
        }
    }
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

int tz_http_send(int fd, const void *data, size_t len)
{
    for (size_t off = 0; off < len;) {
        ssize_t w = send(fd, (const char *)data + off, len - off, MSG_NOSIGNAL);
        if (w <= 0)
            return -1;
        off += (size_t)w;
    }
    return 0;
}

int tz_http_read_reply(int fd, char **body)
{
    if (body != NULL)
        *body = NULL;
    size_t cap = 4096, len = 0;
    char *in = malloc(cap);
    ck_assert_ptr_nonnull(in);
    for (;;) {
        if (len + 1024 > cap) {
            cap *= 2;
            in = realloc(in, cap);
            ck_assert_ptr_nonnull(in);
        }
        ssize_t r = recv(fd, in + len, cap - len - 1, 0);
        if (r <= 0)
            break;
        len += (size_t)r;
    }
    in[len] = '\0';
    int status = -1;
    if (len > 12 && strncmp(in, "HTTP/1.1 ", 9) == 0)
        status = atoi(in + 9);
    char *sep = strstr(in, "\r\n\r\n");
    if (body != NULL && sep != NULL) {
        *body = strdup(sep + 4);
        ck_assert_ptr_nonnull(*body);
    }
    free(in);
    return status;
}

char *tz_http_format(const char *method, const char *path, const char *ctype, const void *body,
                     size_t len, size_t *out_len)
{
    char head[512];
    int n = snprintf(head, sizeof head, "%s %s HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n"
                     "Content-Type: %s\r\nContent-Length: %zu\r\n\r\n", method, path,
                     ctype ? ctype : "application/json", len);
    ck_assert_int_lt(n, (int)sizeof head);
    char *out = malloc((size_t)n + len + 1);
    ck_assert_ptr_nonnull(out);
    memcpy(out, head, (size_t)n);
    if (len)
        memcpy(out + n, body, len);
    out[(size_t)n + len] = '\0';
    *out_len = (size_t)n + len;
    return out;
}

int tz_http(int port, const char *method, const char *path, const char *ctype, const void *req,
            size_t req_len, char **body)
{
    if (body != NULL)
        *body = NULL;
    int fd = tz_http_connect(port);
    if (fd < 0)
        return -1;
    size_t len;
    char *out = tz_http_format(method, path, ctype, req, req_len, &len);
    (void)tz_http_send(fd, out, len); /* on failure the reply (413) may still be there */
    free(out);
    int status = tz_http_read_reply(fd, body);
    close(fd);
    return status;
}

json_t *tz_test_json(const char *s)
{
    json_error_t je;
    json_t *j = json_loads(s ? s : "", 0, &je);
    ck_assert_msg(j != NULL, "not JSON: %s (%s)", s ? s : "(no body)", je.text);
    return j;
}

json_t *tz_http_get_json(int port, const char *path)
{
    char *r = NULL;
    int st = tz_http(port, "GET", path, NULL, NULL, 0, &r);
    ck_assert_msg(st == 200, "GET %s: %d %s", path, st, r ? r : "(no reply)");
    json_t *j = tz_test_json(r);
    free(r);
    return j;
}

char *tz_test_signed_body(const char *json, const tz_secret_key *const *keys, size_t nkeys,
                          int hex_keys)
{
    json_t *st = tz_test_json(json);
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    tz_err e;
    ck_assert_msg(tz_statement_from_json(&sb, st, &e) == TZ_OK, "%s", e.msg);
    tz_signature sigs[TZ_ENTRY_MAX_SIGS];
    ck_assert(tz_statement_sign(sigs, (const uint8_t *)sb.data, sb.size, keys, nkeys, &e) == TZ_OK);
    json_t *arr = json_array();
    for (size_t i = 0; i < nkeys; i++) {
        char key[TZ_KEY_STRING_MAX], sig[128];
        if (hex_keys)
            tz_hex_encode(key, sigs[i].key, 32);
        else
            tz_fixture_vkey(key, keys[i]);
        tz_base64_encode(sig, sizeof sig, sigs[i].sig, 64);
        json_array_append_new(arr, json_pack("{s:s,s:s}", "key", key, "sig", sig));
    }
    json_t *doc = json_pack("{s:o,s:o}", "statement", st, "signatures", arr);
    char *s = json_dumps(doc, JSON_COMPACT);
    ck_assert_ptr_nonnull(s);
    json_decref(doc);
    msgpack_sbuffer_destroy(&sb);
    return s;
}

int tz_http_post(int port, const char *json, const tz_secret_key *key, char **resp)
{
    const tz_secret_key *keys[1] = {key};
    char *b = tz_test_signed_body(json, keys, 1, 0);
    int st = tz_http(port, "POST", "/v1/statements", NULL, b, strlen(b), resp);
    free(b);
    return st;
}

/* The "error" code of an error reply, or NULL when j is not one. */
static const char *error_code(json_t *j)
{
    return json_string_value(json_object_get(j, "error"));
}

void tz_http_expect_error(int status, int want, const char *resp, const char *code)
{
    ck_assert_msg(status == want, "status %d, want %d: %s", status, want, resp ? resp : "");
    json_t *j = tz_test_json(resp);
    ck_assert_msg(error_code(j) != NULL && strcmp(error_code(j), code) == 0,
                  "error code, want \"%s\": %s", code, resp);
    ck_assert_ptr_nonnull(json_string_value(json_object_get(j, "message")));
    json_decref(j);
}

/* ---- clients posting concurrently --------------------------------------------- */

/* Requests sent by the clients of the latest tz_load_start. */
static atomic_int load_posted;

/* Drops the newline the daemon ends its JSON with, for one-line messages. */
static void chomp(char *s)
{
    size_t n = strlen(s);
    while (n > 0 && (s[n - 1] == '\n' || s[n - 1] == '\r'))
        s[--n] = '\0';
}

/* 1 when status and resp are the failure the client expects. */
static int is_refusal(const tz_load_client *c, int status, const char *resp)
{
    if (c->refused_error == NULL || status != c->refused_status || resp == NULL)
        return 0;
    json_t *j = json_loads(resp, 0, NULL);
    int match = j != NULL && error_code(j) != NULL && strcmp(error_code(j), c->refused_error) == 0;
    json_decref(j);
    return match;
}

/* The id of client c's i-th memo: memo/<tag><index>/<i>. */
static void load_id(char *out, size_t cap, const tz_load_client *c, int i)
{
    snprintf(out, cap, "memo/%s%d/%d", c->tag ? c->tag : "c", c->index, i);
}

static void *load_client_main(void *arg)
{
    tz_load_client *c = arg;
    const tz_secret_key *keys[1] = {c->key};
    for (int i = 0; (c->count == 0 || i < c->count) && c->acked < TZ_LOAD_MAX_ACKS &&
                    c->refused < TZ_LOAD_MAX_ACKS; i++) {
        char id[64], json[256];
        load_id(id, sizeof id, c, i);
        snprintf(json, sizeof json, TZ_TEST_MEMO("%s", "load"), id);
        char *b = tz_test_signed_body(json, keys, 1, 0), *r = NULL;
        int st = tz_http(c->port, "POST", "/v1/statements", NULL, b, strlen(b), &r);
        free(b);
        atomic_fetch_add(&load_posted, 1);
        if (st == 201) {
            json_t *j = tz_test_json(r);
            c->seqs[c->acked] = (uint64_t)json_integer_value(json_object_get(j, "seq"));
            c->ids[c->acked++] = i;
            json_decref(j);
        } else if (is_refusal(c, st, r)) {
            if (c->refused == 0) {
                snprintf(c->first_refusal, sizeof c->first_refusal, "%s", r);
                chomp(c->first_refusal);
            }
            c->refused_ids[c->refused++] = i;
        } else {
            if (c->unexpected++ == 0) {
                snprintf(c->first_unexpected, sizeof c->first_unexpected, "%s: status %d: %s",
                         id, st, r ? r : "(no reply)");
                chomp(c->first_unexpected);
            }
        }
        free(r);
        if (st != 201 && c->count == 0)
            break;
    }
    return NULL;
}

void tz_load_start(tz_load_client *cs, int n)
{
    atomic_store(&load_posted, 0);
    for (int i = 0; i < n; i++)
        ck_assert(pthread_create(&cs[i].thread, NULL, load_client_main, &cs[i]) == 0);
}

void tz_load_join(tz_load_client *cs, int n)
{
    for (int i = 0; i < n; i++)
        pthread_join(cs[i].thread, NULL);
}

void tz_load_wait_posted(int n)
{
    while (atomic_load(&load_posted) < n)
        usleep(2000);
}

int tz_load_check(const char *db, const tz_load_client *cs, int n)
{
    tz_ledger *l;
    tz_err e;
    ck_assert_msg(tz_ledger_open(&l, db, TZ_LEDGER_READONLY, NULL, &e) == TZ_OK, "%s", e.msg);
    int total = 0;
    for (int k = 0; k < n; k++) {
        char id[64];
        uint64_t seq;
        for (int i = 0; i < cs[k].acked; i++) {
            load_id(id, sizeof id, &cs[k], cs[k].ids[i]);
            ck_assert_msg(tz_ledger_find_id(l, id, strlen(id), &seq, &e) == TZ_OK,
                          "acknowledged %s is missing: %s", id, e.msg);
            ck_assert_uint_eq(seq, cs[k].seqs[i]);
            total++;
        }
        /* "nothing of it was written" (docs/API.md): a refused statement
         * must not turn up later, e.g. after a restart replays the WAL. */
        for (int i = 0; i < cs[k].refused; i++) {
            load_id(id, sizeof id, &cs[k], cs[k].refused_ids[i]);
            int rc = tz_ledger_find_id(l, id, strlen(id), &seq, &e);
            ck_assert_msg(rc != TZ_OK, "%s was refused (%s) but is in the log at seq %llu", id,
                          cs[k].refused_error, (unsigned long long)seq);
            ck_assert_msg(rc == TZ_ERR_NOTFOUND, "looking up %s: %s", id, e.msg);
        }
    }
    tz_ledger_close(l);
    return total;
}

uint64_t tz_test_verify(const char *db)
{
    tz_verify_report rep;
    tz_err e;
    ck_assert_msg(tz_verify_ledger(db, NULL, &rep, &e) == TZ_OK, "verify: %s", e.msg);
    ck_assert_msg(rep.ok, "verify: %s", rep.reason);
    return rep.size;
}
