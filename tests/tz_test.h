/*
 * tz_test.h: small helpers shared by the Check suites (temporary
 * directories, files, running the CLI) and a common main().
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

#endif

/* ---- ledger fixture ------------------------------------------------------
 * A temporary directory holding key files (root, log, cadre, stranger) and
 * a ledger created with the root key, whose entry 1 grants the cadre key
 * role "cadre". Used by the ledger, verify and CLI suites. */
#include "crypto/key.h"
#include "ledger/ledger.h"

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

/* Appends memos "memo/<i>" for i in [from, from+count) signed by key, one
 * group commit; fails the test unless all are accepted. */
void tz_fixture_memos(tz_ledger *l, const tz_secret_key *key, int from, int count);

/* The verifier key string of a key (static buffer per call site is fine). */
void tz_fixture_vkey(char out[TZ_KEY_STRING_MAX], const tz_secret_key *key);
