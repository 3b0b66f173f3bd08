/*
 * check_fuzz_regressions.c: replays, in the normal build (plain and under
 * ASan+UBSan), every input that a fuzz harness ever found, so a crash that
 * was fixed stays fixed, and the seed corpora, so the harnesses' properties
 * hold for the vectors they start from.
 *
 * The harnesses themselves (fuzz/fuzz_*.c) are compiled into this test with
 * TZ_FUZZ_REPLAY: each entry point is then tz_fuzz_<name>() instead of
 * LLVMFuzzerTestOneInput, and it runs exactly the code the fuzzer ran. A
 * broken property aborts the harness, which Check reports as a failed test
 * (the path of the input is printed just before it runs).
 *
 * Layout (docs/FUZZING.md): tests/fuzz-regressions/<harness>/<file> and
 * fuzz/corpus/<harness>/<file>; a directory that names no harness is an
 * error, so a misspelt one cannot silently replay nothing.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz/fuzz.h"
#include "tests/tz_test.h"

typedef struct harness {
    const char *name;
    int (*run)(const uint8_t *data, size_t size);
} harness;

#define TZ_FUZZ_ROW(name) {#name, tz_fuzz_##name},
static const harness harnesses[] = {TZ_FUZZ_HARNESSES(TZ_FUZZ_ROW)};
#undef TZ_FUZZ_ROW
#define NHARNESSES ((int)(sizeof harnesses / sizeof harnesses[0]))

/* path = a "/" b; fails the test when it does not fit. */
static void join(char *path, size_t cap, const char *a, const char *b)
{
    int n = snprintf(path, cap, "%s/%s", a, b);
    ck_assert_msg(n >= 0 && (size_t)n < cap, "path too long: %s/%s", a, b);
}

static int is_dir(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The regular files of dir, sorted, as a NULL-terminated malloc'd array of
 * malloc'd names; an empty list when dir does not exist. */
static char **list_files(const char *dir, size_t *count)
{
    size_t n = 0, cap = 16;
    char **names = malloc(cap * sizeof *names);
    ck_assert_ptr_nonnull(names);
    DIR *d = opendir(dir);
    if (d == NULL) {
        ck_assert_msg(errno == ENOENT, "opendir %s: %s", dir, strerror(errno));
    } else {
        struct dirent *e;
        while ((e = readdir(d)) != NULL) {
            char path[1024];
            struct stat st;
            if (e->d_name[0] == '.')
                continue;
            join(path, sizeof path, dir, e->d_name);
            ck_assert_msg(stat(path, &st) == 0, "stat %s: %s", path, strerror(errno));
            ck_assert_msg(S_ISREG(st.st_mode), "%s: not a regular file", path);
            if (n + 1 >= cap) {
                cap *= 2;
                names = realloc(names, cap * sizeof *names);
                ck_assert_ptr_nonnull(names);
            }
            names[n] = strdup(e->d_name);
            ck_assert_ptr_nonnull(names[n]);
            n++;
        }
        closedir(d);
    }
    qsort(names, n, sizeof *names, by_name);
    names[n] = NULL;
    *count = n;
    return names;
}

static void free_list(char **names)
{
    for (size_t i = 0; names[i] != NULL; i++)
        free(names[i]);
    free(names);
}

/* Replays every file of dir through h; returns how many. */
static size_t replay_dir(const harness *h, const char *dir)
{
    size_t n = 0;
    char **files = list_files(dir, &n);
    for (size_t i = 0; i < n; i++) {
        char path[1024];
        join(path, sizeof path, dir, files[i]);
        size_t len = 0;
        char *data = tz_test_read_file(path, &len);
        fprintf(stderr, "replaying %s (%zu bytes) through fuzz_%s\n", path, len, h->name);
        /* An exact-size copy, so ASan sees a read past the end. */
        uint8_t *copy = malloc(len > 0 ? len : 1);
        ck_assert_ptr_nonnull(copy);
        memcpy(copy, data, len);
        ck_assert_int_eq(h->run(copy, len), 0);
        free(copy);
        free(data);
    }
    free_list(files);
    return n;
}

START_TEST(regressions_replay)
{
    const harness *h = &harnesses[_i];
    char dir[1024];
    join(dir, sizeof dir, TZ_SOURCE_DIR "/tests/fuzz-regressions", h->name);
    replay_dir(h, dir);
}
END_TEST

START_TEST(seed_corpus_replay)
{
    const harness *h = &harnesses[_i];
    char dir[1024];
    join(dir, sizeof dir, TZ_SOURCE_DIR "/fuzz/corpus", h->name);
    size_t n = replay_dir(h, dir);
    ck_assert_msg(n > 0, "fuzz/corpus/%s: every harness needs a seed corpus", h->name);
}
END_TEST

/* The empty input and a few one-byte inputs, through every harness. */
START_TEST(tiny_inputs)
{
    const harness *h = &harnesses[_i];
    static const uint8_t bytes[] = {0x00, 0x01, 0x0a, 0x7b, 0x80, 0xc1, 0xdd, 0xff};
    ck_assert_int_eq(h->run((const uint8_t *)"", 0), 0);
    for (size_t i = 0; i < sizeof bytes; i++) {
        uint8_t *one = malloc(1);
        ck_assert_ptr_nonnull(one);
        one[0] = bytes[i];
        ck_assert_int_eq(h->run(one, 1), 0);
        free(one);
    }
}
END_TEST

/* Every directory under tests/fuzz-regressions/ and fuzz/corpus/ names a
 * harness. */
START_TEST(directories_name_harnesses)
{
    static const char *const roots[] = {"tests/fuzz-regressions", "fuzz/corpus"};
    for (size_t r = 0; r < 2; r++) {
        char root[1024];
        join(root, sizeof root, TZ_SOURCE_DIR, roots[r]);
        DIR *d = opendir(root);
        if (d == NULL) {
            ck_assert_msg(errno == ENOENT && r == 0, "opendir %s: %s", root, strerror(errno));
            continue;
        }
        struct dirent *e;
        while ((e = readdir(d)) != NULL) {
            char path[1024];
            if (e->d_name[0] == '.')
                continue;
            join(path, sizeof path, root, e->d_name);
            if (!is_dir(path)) {
                ck_assert_msg(r == 0 && strcmp(e->d_name, "README.md") == 0,
                              "%s: only harness directories belong here", path);
                continue;
            }
            int known = 0;
            for (int i = 0; i < NHARNESSES; i++)
                known |= strcmp(harnesses[i].name, e->d_name) == 0;
            ck_assert_msg(known, "%s: no harness fuzz/fuzz_%s.c", path, e->d_name);
        }
        closedir(d);
    }
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("fuzz_regressions");
    TCase *tc = tcase_create("replay");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, directories_name_harnesses);
    tcase_add_loop_test(tc, tiny_inputs, 0, NHARNESSES);
    tcase_add_loop_test(tc, regressions_replay, 0, NHARNESSES);
    tcase_add_loop_test(tc, seed_corpus_replay, 0, NHARNESSES);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return tz_test_main(make_suite);
}
