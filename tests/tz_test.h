/*
 * tz_test.h: small helpers shared by the Check suites (temporary
 * directories, files, running the CLI) and a common main(); the ledger
 * fixture; and, for the daemon suites, taizhangd as a child process, a raw
 * HTTP/1.1 client and concurrent posting clients.
 */
#ifndef TZ_TESTS_TZ_TEST_H
#define TZ_TESTS_TZ_TEST_H

#include <check.h>
#include <stddef.h>
#include <stdint.h>

/* Creates a fresh empty directory under $TMPDIR (or /tmp) and writes its
 * path to buf. Fails the test on error. */
void tz_test_tmpdir(char *buf, size_t cap);

/* Removes a directory tree (like rm -rf). Ignores a missing path. */
void tz_test_rmtree(const char *path);

/* Reads a whole file into a malloc'd NUL-terminated buffer; *len gets the
 * size without the NUL. Fails the test on error. */
char *tz_test_read_file(const char *path, size_t *len);

/* Writes len bytes to path (created 0644, truncated). Fails on error. */
void tz_test_write_file(const char *path, const void *data, size_t len);

/* Decodes a hex string (even length) into out; returns the byte count.
 * Fails the test on bad hex or when out is too small. */
size_t tz_test_unhex(uint8_t *out, size_t cap, const char *hex);

/* Runs a shell command line, capturing stdout (malloc'd, may be NULL when
 * out is NULL) and returning the exit status (or -1 on a signal). */
int tz_test_run(char **out, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Runs the suite built by make_suite with CK_NORMAL output; returns the
 * process exit status. */
int tz_test_main(Suite *(*make_suite)(void));

/* ---- ledger fixture ------------------------------------------------------
 * A temporary directory holding key files (root, log, cadre, stranger) and
 * a ledger created with the root key, whose entry 1 grants the cadre key
 * role "cadre". Used by the ledger, verify and CLI suites. */
#include "crypto/key.h"
#include "ledger/ledger.h"
#include <jansson.h>

typedef struct tz_fixture {
    char dir[256];
    char db[320];
    char root_path[320], log_path[320], cadre_path[320], stranger_path[320];
    tz_secret_key root, log, cadre, stranger;
} tz_fixture;

/* Creates the keys and the ledger (genesis + cadre grant). */
void tz_fixture_init(tz_fixture *f);

/* Wipes keys and removes the directory. */
void tz_fixture_cleanup(tz_fixture *f);

/* Encodes the JSON statement, signs it with keys[0..nkeys), and appends it
 * alone. Returns the append call's status; *res gets the result. */
int tz_fixture_append(tz_ledger *l, const char *json, const tz_secret_key *const *keys,
                      size_t nkeys, tz_append_result *res);

/* Appends the statement js (consumed) alone, signed by the keys named in
 * the comma-separated signer_names: each is looked up in names[0..n) (its
 * key beside it in keys) or is "root" (root). Fails the test when a name is
 * unknown, js does not encode or the append call itself fails; a rejection
 * is the caller's to judge: *res holds it. Returns res->status. Used by the
 * suites that build a county of named office keys (domain, boundaries,
 * scopes). */
int tz_fixture_append_named(tz_ledger *l, json_t *js, const char *signer_names,
                            const char (*names)[32], const tz_secret_key *keys, size_t n,
                            const tz_secret_key *root, tz_append_result *res);

/* Appends memos "memo/<i>" for i in [from, from+count) signed by key, one
 * group commit; fails the test unless all are accepted. */
void tz_fixture_memos(tz_ledger *l, const tz_secret_key *key, int from, int count);

/* The verifier key string of a key (static buffer per call site is fine). */
void tz_fixture_vkey(char out[TZ_KEY_STRING_MAX], const tz_secret_key *key);

/* ---- taizhangd as a child process -----------------------------------------
 * The daemon suites (check_daemon*.c) start TZ_DAEMON_PATH on a fixture's
 * ledger and talk plain HTTP/1.1 to it over loopback sockets. */
#include <jansson.h>
#include <pthread.h>
#include <sys/types.h>

typedef struct tz_daemon {
    pid_t pid;
    int port;
} tz_daemon;

/* Starts taizhangd --db db on a free loopback port with 2 workers and waits
 * for its listening line; d gets the pid and the port. The daemon's stderr
 * is the test's. It is killed (SIGKILL) when the test process dies first,
 * so a failed test leaves no daemon holding the ledger or a mount busy.
 * Fails the test when the daemon prints no listening line. */
void tz_daemon_start(tz_daemon *d, const char *db);

/* The same with more options (a NULL-terminated list; NULL for none). */
void tz_daemon_start_args(tz_daemon *d, const char *db, const char *const *extra);

/* How to start it, for tz_daemon_spawn (zero for the defaults). */
typedef struct tz_daemon_opts {
    const char *const *extra;  /* more options, NULL-terminated; NULL for none */
    const char *workers;       /* --workers; NULL: "2" */
    unsigned long nofile;      /* > 0: RLIMIT_NOFILE (soft and hard) in the daemon */
    int hold_fds;              /* descriptors (/dev/null) the daemon starts with open */
    const char *stderr_path;   /* the daemon's stderr goes to this file; NULL: the test's */
    const char *const *env;    /* more NAME=VALUE environment, NULL-terminated; NULL for none */
} tz_daemon_opts;

/* Starts taizhangd as tz_daemon_start_args does, with o. Returns 0 when it
 * printed its listening line (d->port set), or -1 when it printed none
 * (it failed to start: reap it with tz_daemon_wait). The first line of its
 * stdout goes to first_line (cap bytes) when not NULL. */
int tz_daemon_spawn(tz_daemon *d, const char *db, const tz_daemon_opts *o, char *first_line,
                    size_t cap);

/* Waits for the daemon to exit; returns its exit status, or 128 + the
 * signal that ended it. */
int tz_daemon_wait(tz_daemon *d);

/* Sends sig and waits for the daemon; returns its exit status, or 128 +
 * the signal that ended it. */
int tz_daemon_stop(tz_daemon *d, int sig);

/* Fails the test, with the exit status, when the daemon is no longer
 * running (it crashed or exited on its own). */
void tz_daemon_assert_running(tz_daemon *d);

/* A connected TCP socket to 127.0.0.1:port, with a 60 s receive timeout so
 * a daemon that never answers fails the test instead of hanging it; -1
 * when the connection failed. */
int tz_http_connect(int port);

/* The same from the local address source (e.g. "127.0.0.2": every
 * 127.0.0.0/8 address is the loopback), so that a test can be a second
 * host; NULL: the kernel's choice. */
int tz_http_connect_from(int port, const char *source);

/* Sends all len bytes (MSG_NOSIGNAL). Returns 0, or -1 when the peer went
 * away first (the server may answer 413 before reading a body). */
int tz_http_send(int fd, const void *data, size_t len);

/* Reads a response until the server closes the connection. Returns the
 * HTTP status, or -1 when the connection closed (or timed out) without a
 * status line. *body (when not NULL) gets the malloc'd response body, or
 * NULL when there was none. Does not close fd. */
int tz_http_read_reply(int fd, char **body);

/* The bytes of a request with Connection: close and Content-Length: len
 * (ctype NULL: application/json); *out_len gets the size. malloc'd. */
char *tz_http_format(const char *method, const char *path, const char *ctype, const void *body,
                     size_t len, size_t *out_len);

/* One request on a fresh connection (Connection: close). Returns the
 * status, or -1 when the connection failed or closed without a reply.
 * *body (when not NULL) gets the malloc'd response body (or NULL). */
int tz_http(int port, const char *method, const char *path, const char *ctype, const void *req,
            size_t req_len, char **body);

/* GET path on a fresh connection; fails the test unless the answer is 200
 * with a JSON body, which it returns (json_decref it). */
json_t *tz_http_get_json(int port, const char *path);

/* Parses JSON text; fails the test, quoting it, when it is not JSON. */
json_t *tz_test_json(const char *s);

/* The POST /v1/statements body (malloc'd JSON) for the statement json
 * signed by keys[0..nkeys). hex_keys: name each signer by 64 hex digits
 * instead of its verifier key string. */
char *tz_test_signed_body(const char *json, const tz_secret_key *const *keys, size_t nkeys,
                          int hex_keys);

/* POSTs the statement json signed by key to /v1/statements; as tz_http. */
int tz_http_post(int port, const char *json, const tz_secret_key *key, char **resp);

/* Fails the test unless status is want and resp is the error JSON
 * {"error": code, "message": "..."} of docs/API.md. */
void tz_http_expect_error(int status, int want, const char *resp, const char *code);

/* A memo statement with a fixed date (a string literal). */
#define TZ_TEST_MEMO(id, text) \
    "{\"type\":\"memo\",\"id\":\"" id "\",\"at\":\"2024-05-01T09:00:00+08:00\"," \
    "\"body\":{\"text\":\"" text "\"}}"

/* ---- clients posting concurrently ---------------------------------------
 * Each client is a thread posting memos "memo/<tag><index>/<i>", i = 0, 1,
 * ..., one request per connection, and keeps what was acknowledged (201)
 * so the suite can check the ledger afterwards. */
#define TZ_LOAD_MAX_ACKS 4096

typedef struct tz_load_client {
    /* set by the caller before tz_load_start (memset the rest to 0) */
    int port, index;
    int count;                 /* statements to post; 0: until the first failure */
    const char *tag;           /* id prefix; NULL: "c" */
    const tz_secret_key *key;  /* the signer */
    int refused_status;        /* a failure the test expects, e.g. 503 ... */
    const char *refused_error; /* ... with this "error" code; counted in refused */
    /* results, valid after tz_load_join */
    int acked, refused, unexpected;
    int refused_ids[TZ_LOAD_MAX_ACKS];
    char first_refusal[512];   /* the body of the first expected failure */
    char first_unexpected[512];/* "memo/..: status N: body" of the first other answer */
    uint64_t seqs[TZ_LOAD_MAX_ACKS];
    int ids[TZ_LOAD_MAX_ACKS]; /* the i of each acknowledged memo/<tag><index>/<i> */
    pthread_t thread;
} tz_load_client;

/* Starts a thread for each of cs[0..n). Fails the test when one cannot
 * start. */
void tz_load_start(tz_load_client *cs, int n);

/* Waits for every client to finish. */
void tz_load_join(tz_load_client *cs, int n);

/* Waits until the clients of the latest tz_load_start have sent at least
 * n requests. */
void tz_load_wait_posted(int n);

/* Fails the test unless every statement acknowledged to cs[0..n) is in the
 * ledger at db (opened read-only) at the seq it was acknowledged with, and
 * no refused one is there. Returns the number acknowledged. */
int tz_load_check(const char *db, const tz_load_client *cs, int n);

/* Runs the library's verifier on the ledger at db; fails the test unless
 * it passes. Returns the number of entries. */
uint64_t tz_test_verify(const char *db);

#endif
