/*
 * check_daemon_diskfull.c: taizhangd when the disk fills up. The ledger
 * lives on a small tmpfs mounted for this suite; the daemon appends, then
 * a filler file takes every free byte, and clients keep posting. The
 * contract (docs/API.md, Errors): a batch the store refuses is answered
 * 503 {"error":"store"} to every client in it and nothing of it is
 * written; the daemon stays up and keeps serving reads; once space is
 * freed, appends succeed again; after SIGTERM the log verifies and holds
 * exactly the acknowledged statements.
 *
 * Mounting needs root (CAP_SYS_ADMIN). Without it the suite prints why and
 * exits 77, which CMakeLists.txt registers as "skipped". The mount is made
 * in a private mount namespace when the kernel allows one, so it vanishes
 * with this process even if it is killed; it is unmounted at the end in
 * any case.
 */
#define _GNU_SOURCE /* unshare, CLONE_NEWNS */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include "tests/tz_test.h"

#define SKIP 77
#define MOUNT_SIZE "64m"

static tz_fixture fx;

static void setup(void) { tz_fixture_init(&fx); }
static void teardown(void) { tz_fixture_cleanup(&fx); }

/* ---- the full disk --------------------------------------------------------------- */

static uint64_t free_bytes(const char *dir)
{
    struct statvfs sv;
    ck_assert(statvfs(dir, &sv) == 0);
    return (uint64_t)sv.f_bavail * sv.f_frsize;
}

/* Writes to fd until the filesystem has no byte left (ENOSPC at every
 * write size down to one byte); adds what it wrote to *written. */
static void top_up(int fd, const char *path, uint64_t *written)
{
    static char chunk[1 << 20];
    memset(chunk, 0xee, sizeof chunk);
    for (size_t size = sizeof chunk; size >= 1; size /= 8) {
        for (;;) {
            ssize_t w = write(fd, chunk, size);
            if (w < 0) {
                ck_assert_msg(errno == ENOSPC, "filling %s: %s", path, strerror(errno));
                break;
            }
            *written += (uint64_t)w;
        }
    }
}

/* Creates path and fills the filesystem with it. Returns the open file:
 * closing and unlinking it gives the space back. */
static int fill_disk(const char *path, uint64_t *written)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    ck_assert_msg(fd >= 0, "%s: %s", path, strerror(errno));
    *written = 0;
    top_up(fd, path, written);
    return fd;
}

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The "size" /healthz reports. It answers 200, or 503 with "store" saying
 * writes are refused while the store fails (reads go on). */
static uint64_t healthz_size(int port)
{
    char *body = NULL;
    int st = tz_http(port, "GET", "/healthz", NULL, NULL, 0, &body);
    json_t *j = json_loads(body ? body : "", 0, NULL);
    const char *store = json_string_value(json_object_get(j, "store"));
    ck_assert_msg(j != NULL && (st == 200 || (st == 503 && store != NULL &&
                                              strncmp(store, "refusing writes", 15) == 0)),
                  "/healthz: %d %s", st, body ? body : "");
    uint64_t size = (uint64_t)json_integer_value(json_object_get(j, "size"));
    json_decref(j);
    free(body);
    return size;
}

/* n clients posting memo/<tag><i>/<k> to port, each count statements (0:
 * until its first failure); 503 "store" is the failure they expect. */
static void post_phase(tz_load_client *cs, int n, int port, const char *tag, int count)
{
    for (int i = 0; i < n; i++)
        cs[i] = (tz_load_client){.port = port, .index = i, .count = count, .tag = tag,
                                 .key = &fx.cadre, .refused_status = 503, .refused_error = "store"};
    tz_load_start(cs, n);
    tz_load_join(cs, n);
}

static int acked(const tz_load_client *cs, int n)
{
    int total = 0;
    for (int i = 0; i < n; i++)
        total += cs[i].acked;
    return total;
}

/* Every client acknowledged all count statements. */
static void expect_all_acked(const tz_load_client *cs, int n, int count, const char *phase)
{
    for (int i = 0; i < n; i++)
        ck_assert_msg(cs[i].acked == count, "%s: client %d: %d of %d acknowledged; refused: %s; "
                      "other: %s", phase, i, cs[i].acked, count, cs[i].first_refusal,
                      cs[i].first_unexpected);
}

/* ---- the test ------------------------------------------------------------------------ */

START_TEST(test_disk_full)
{
    enum { CLIENTS = 4, EACH = 10, FULL_CLIENTS = 8, RECOVERY_SECONDS = 30 };
    static tz_load_client before[CLIENTS], full[FULL_CLIENTS], after[CLIENTS];
    tz_daemon d;
    tz_daemon_start(&d, fx.db);
    post_phase(before, CLIENTS, d.port, "before", EACH);
    expect_all_acked(before, CLIENTS, EACH, "before the disk filled");

    char filler[400];
    snprintf(filler, sizeof filler, "%s/filler", fx.dir);
    uint64_t filled;
    int fd = fill_disk(filler, &filled);
    fprintf(stderr, "check_daemon_diskfull: filler %llu bytes, %llu bytes free\n",
            (unsigned long long)filled, (unsigned long long)free_bytes(fx.dir));

    /* Clients post until each is refused (or has posted its most). RocksDB
     * may have room left in the write-ahead log it preallocated, and the
     * daemon's reopen after a failed batch releases that log's space, so
     * some go on being acknowledged for a while; but every answer is a 201
     * or a 503 "store", and the disk filling does refuse some. */
    post_phase(full, FULL_CLIENTS, d.port, "full", 0);
    int refused = 0;
    for (int i = 0; i < FULL_CLIENTS; i++) {
        fprintf(stderr, "check_daemon_diskfull: disk full: client %d: %d acknowledged, then %s\n", i,
                full[i].acked, full[i].refused ? full[i].first_refusal : full[i].first_unexpected);
        ck_assert_msg(full[i].unexpected == 0, "disk full: client %d: want 201 or 503 store, got: "
                      "%s", i, full[i].first_unexpected);
        refused += full[i].refused;
    }
    ck_assert_msg(refused > 0, "disk full: no client was refused");
    tz_daemon_assert_running(&d);

    /* Still up, still reading, and showing nothing of a refused batch. */
    uint64_t size = healthz_size(d.port);
    ck_assert_uint_eq(size, 2 + (uint64_t)(acked(before, CLIENTS) + acked(full, FULL_CLIENTS)));
    char path[64], *r = NULL;
    snprintf(path, sizeof path, "/v1/entries/%llu", (unsigned long long)size - 1);
    json_decref(tz_http_get_json(d.port, path));
    ck_assert_int_eq(tz_http(d.port, "GET", "/v1/checkpoint", NULL, NULL, 0, &r), 200);
    free(r);
    /* and refusing while the disk stays full: whatever a reopen releases
     * (RocksDB's preallocated log) is taken back before each post, so one
     * is refused within a few tries */
    char filler2[400];
    snprintf(filler2, sizeof filler2, "%s/filler2", fx.dir);
    uint64_t more;
    int fd2 = fill_disk(filler2, &more);
    int st = 0, still_acked = 0;
    for (int k = 0; k < 2000; k++) {
        char id[64], body[160];
        snprintf(id, sizeof id, "memo/still-full/%d", k);
        snprintf(body, sizeof body, TZ_TEST_MEMO("%s", "x"), id);
        top_up(fd2, filler2, &more);
        st = tz_http_post(d.port, body, &fx.cadre, &r);
        if (st != 201)
            break;
        still_acked++;
        free(r);
    }
    tz_http_expect_error(st, 503, r, "store");
    free(r);
    ck_assert_int_eq(close(fd2), 0);
    ck_assert_int_eq(unlink(filler2), 0);

    /* Space comes back. A client retries a refused post (API.md: "nothing
     * of it was written: retry"); within a few seconds it must go in. */
    ck_assert_int_eq(close(fd), 0);
    ck_assert_int_eq(unlink(filler), 0);
    double t0 = now_seconds();
    char last[512] = "";
    for (;;) {
        st = tz_http_post(d.port, TZ_TEST_MEMO("memo/space-again", "x"), &fx.cadre, &r);
        if (st == 201)
            break;
        tz_http_expect_error(st, 503, r, "store");
        snprintf(last, sizeof last, "%s", r);
        free(r);
        ck_assert_msg(now_seconds() - t0 < RECOVERY_SECONDS, "%d s after space was freed the "
                      "daemon still refuses appends: %s", RECOVERY_SECONDS, last);
        usleep(200000);
    }
    free(r);
    fprintf(stderr, "check_daemon_diskfull: appends accepted again %.1f s after space was freed\n",
            now_seconds() - t0);
    post_phase(after, CLIENTS, d.port, "after", EACH);
    expect_all_acked(after, CLIENTS, EACH, "after space was freed");
    ck_assert_int_eq(tz_daemon_stop(&d, SIGTERM), 0);

    /* exactly the acknowledged statements, none of the refused ones */
    int total = tz_load_check(fx.db, before, CLIENTS) + tz_load_check(fx.db, full, FULL_CLIENTS) +
                tz_load_check(fx.db, after, CLIENTS);
    ck_assert_uint_eq(tz_test_verify(fx.db), 2 + (uint64_t)total + (uint64_t)still_acked + 1);
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("daemon_diskfull");
    TCase *tc = tcase_create("enospc");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_disk_full);
    suite_add_tcase(s, tc);
    return s;
}

/* Unmounts dir; the daemon of a failed test may take a moment to die
 * (PR_SET_PDEATHSIG), so EBUSY is retried, then the mount is detached. */
static void unmount(const char *dir)
{
    for (int tries = 0; umount(dir) != 0; tries++) {
        if (errno != EBUSY || tries == 50) {
            fprintf(stderr, "check_daemon_diskfull: umount %s: %s; detaching it\n", dir,
                    strerror(errno));
            umount2(dir, MNT_DETACH);
            return;
        }
        usleep(100000);
    }
}

int main(void)
{
    const char *base = getenv("TMPDIR");
    char dir[256];
    snprintf(dir, sizeof dir, "%s/tzdiskfull.XXXXXX", base && base[0] ? base : "/tmp");
    if (mkdtemp(dir) == NULL) {
        perror("check_daemon_diskfull: mkdtemp");
        return EXIT_FAILURE;
    }
    /* A private mount namespace (when allowed) takes the mount away with
     * the last process in it, whatever happens to this one. */
    if (unshare(CLONE_NEWNS) == 0)
        (void)mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL);
    if (mount("tmpfs", dir, "tmpfs", MS_NOSUID | MS_NODEV, "size=" MOUNT_SIZE ",mode=0700") != 0) {
        printf("check_daemon_diskfull: skipped: cannot mount a %s tmpfs at %s: %s (needs root "
               "or CAP_SYS_ADMIN)\n", MOUNT_SIZE, dir, strerror(errno));
        rmdir(dir);
        return SKIP;
    }
    /* the fixture's keys and ledger go on the small filesystem */
    setenv("TMPDIR", dir, 1);
    int rc = tz_test_main(make_suite);
    unmount(dir);
    rmdir(dir);
    return rc;
}
