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
