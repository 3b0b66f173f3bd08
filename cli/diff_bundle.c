/*
 * diff_bundle.c: `taizhang diff --bundle FILE --log-key FILE.pub --from A
 * --to B`: what changed in the projections between two moments, computed
 * from an offline bundle alone (no database, no network).
 *
 * The bundle is verified first (ledger/bundle.h: signatures, key grants,
 * the multiproof to the signed checkpoint). Projections are a function of
 * every entry before a moment, so only a bundle holding the log from its
 * genesis without a gap can answer (an export of seqs 0..N-1); one
 * person's bundle cannot, and is refused saying so. Its entries are then
 * replayed through the decide step into a scratch store (ledger/rebuild.h),
 * exactly as `taizhang verify` replays a ledger, and the diff is read from
 * there as `taizhang diff --db` reads it from a ledger.
 */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/commands.h"
#include "crypto/keyfile.h"
#include "ledger/bundle.h"
#include "ledger/rebuild.h"
#include "ledger/store.h"
#include "projections/query.h"
#include "projections/view.h"
#include "util/fs.h"
#include "util/status.h"

int tz_cli_print_query(const char *command, const json_t *doc, const char *format, int explain);

#define BUNDLE_READ_MAX ((size_t)4 << 30) /* bytes of a bundle read into memory */

static int fail(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "taizhang diff: ");
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return code;
}

static int usage(FILE *f)
{
    fprintf(f, "usage: taizhang diff --bundle FILE --log-key FILE.pub --from A --to B "
               "[--explain] [--format table|json|csv]\n"
               "  (A and B: seqs or dates YYYY-MM-DD; the bundle must hold the log from its "
               "genesis, e.g. `taizhang export --db DIR --out FILE`)\n");
    return f == stdout ? 0 : 2;
}

/* Reads the whole file (at most BUNDLE_READ_MAX bytes) into *buf. */
static int read_file(const char *path, uint8_t **buf, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return fail(2, "--bundle %s: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode) || (size_t)st.st_size > BUNDLE_READ_MAX) {
        fclose(f);
        return fail(2, "--bundle %s: not a regular file of at most 4 GiB", path);
    }
    *len = (size_t)st.st_size;
    *buf = malloc(*len ? *len : 1);
    int ok = *buf != NULL && fread(*buf, 1, *len, f) == *len;
    fclose(f);
    if (!ok) {
        free(*buf);
        *buf = NULL;
        return fail(2, "--bundle %s: cannot read it", path);
    }
    return 0;
}

/* Writes the bundle's entries into store (its entries column family). */
static int put_entries(tz_store *store, const tz_bundle *b, tz_err *err)
{
    tz_store_batch *batch = tz_store_batch_new(store);
    if (batch == NULL)
        return tz_err_set(err, TZ_ERR_NOMEM, "out of memory");
    int rc = TZ_OK;
    for (size_t i = 0; i < b->nrecords && rc == TZ_OK; i++) {
        uint8_t key[8];
        tz_store_key_u64(key, b->records[i].seq);
        tz_store_batch_put(batch, TZ_CF_ENTRIES, key, 8, b->records[i].entry,
                           b->records[i].entry_len);
        /* bounded batches: a million entries need not sit in one */
        if (tz_store_batch_count(batch) >= 4096 || i + 1 == b->nrecords)
            rc = tz_store_commit(store, batch, err);
    }
    tz_store_batch_free(batch);
    return rc;
}

/* The diff of (a, b] from the verified, gap-free bundle b, replayed in
 * scratch stores under tmp. */
static int diff_from_bundle(const tz_bundle *b, const char *tmp, const char *from,
                            const char *to, int explain, json_t **doc, tz_err *err)
{
    char src_path[600], derived_path[600];
    snprintf(src_path, sizeof src_path, "%s/entries", tmp);
    snprintf(derived_path, sizeof derived_path, "%s/derived", tmp);
    uint64_t n = b->nrecords, replayed = 0, a = 0, z = 0;
    tz_store *src = NULL, *derived = NULL;
    int rc = tz_store_open(&src, src_path, TZ_STORE_CREATE | TZ_STORE_SCRATCH, err);
    if (rc == TZ_OK)
        rc = put_entries(src, b, err);
    if (rc == TZ_OK)
        rc = tz_rebuild_replay(src, n, derived_path, &derived, &replayed, err);
    /* the derived store gets the entries too: explain names their types
     * and signers, and dates are found by the entries' recorded_at */
    if (rc == TZ_OK)
        rc = put_entries(derived, b, err);
    if (rc == TZ_OK && (rc = tz_view_parse_as_of(derived, n, from, &a, err)) != TZ_OK)
        tz_err_prefix(err, "--from: ");
    if (rc == TZ_OK && (rc = tz_view_parse_as_of(derived, n, to, &z, err)) != TZ_OK)
        tz_err_prefix(err, "--to: ");
    if (rc == TZ_OK)
        rc = tz_query_diff(derived, a, z, doc, err);
    if (rc == TZ_OK && explain)
        rc = tz_query_explain(derived, *doc, err);
    tz_store_close(derived);
    tz_store_close(src);
    return rc;
}

/* The bundle must hold seqs 0..n-1, every one: projections need them all. */
static int check_gap_free(const tz_bundle *b, tz_err *err)
{
    for (size_t i = 0; i < b->nrecords; i++)
        if (b->records[i].seq != i)
            return tz_err_set(err, TZ_ERR_INPUT, "--bundle: holds seq %llu but not seq %zu: the "
                              "projections at a moment depend on every entry before it, so diff "
                              "needs a bundle of the log from its genesis without a gap (`taizhang "
                              "export --db DIR --out FILE [--to N]`), not one person's or one "
                              "village's records", (unsigned long long)b->records[i].seq, i);
    return TZ_OK;
}

int tz_cli_diff_bundle(int argc, char **argv)
{
    enum { O_BUNDLE = 1, O_LOGKEY, O_FROM, O_TO, O_EXPLAIN, O_FORMAT, O_HELP };
    static const struct option opts[] = {
        {"bundle", required_argument, 0, O_BUNDLE}, {"log-key", required_argument, 0, O_LOGKEY},
        {"from", required_argument, 0, O_FROM},     {"to", required_argument, 0, O_TO},
        {"explain", no_argument, 0, O_EXPLAIN},     {"format", required_argument, 0, O_FORMAT},
        {"help", no_argument, 0, O_HELP},           {0, 0, 0, 0}};
    const char *path = NULL, *log_key_path = NULL, *from = NULL, *to = NULL, *format = NULL;
    int explain = 0, c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case O_BUNDLE: path = optarg; break;
        case O_LOGKEY: log_key_path = optarg; break;
        case O_FROM: from = optarg; break;
        case O_TO: to = optarg; break;
        case O_EXPLAIN: explain = 1; break;
        case O_FORMAT: format = optarg; break;
        case O_HELP: return usage(stdout);
        default: return fail(2, "unknown or incomplete option \"%s\"", argv[optind - 1]);
        }
    }
    if (optind < argc)
        return fail(2, "unexpected argument \"%s\"", argv[optind]);
    if (path == NULL || log_key_path == NULL || from == NULL || to == NULL)
        return usage(stderr);
    if (format == NULL)
        format = isatty(STDOUT_FILENO) ? "table" : "json";
    if (strcmp(format, "table") != 0 && strcmp(format, "json") != 0 && strcmp(format, "csv") != 0)
        return fail(2, "--format: table, json or csv");
    tz_public_key log_key;
    tz_err e;
    if (tz_keyfile_read_public(&log_key, log_key_path, &e) != TZ_OK)
        return fail(2, "--log-key: %s", e.msg);
    uint8_t *buf = NULL;
    size_t len = 0;
    int code = read_file(path, &buf, &len);
    if (code != 0)
        return code;
    tz_bundle_report rep;
    tz_bundle b;
    memset(&b, 0, sizeof b);
    json_t *doc = NULL;
    int rc = tz_bundle_verify(buf, len, &log_key, &rep, &e);
    if (rc != TZ_OK)
        code = fail(1, "--bundle %s does not verify: %s", path, e.msg);
    else if ((rc = tz_bundle_decode(&b, buf, len, &e)) != TZ_OK ||
             (rc = check_gap_free(&b, &e)) != TZ_OK)
        code = fail(3, "%s", e.msg);
    if (code == 0) {
        const char *base = getenv("TMPDIR");
        char tmp[512];
        snprintf(tmp, sizeof tmp, "%s/taizhang-diff.XXXXXX", base && *base ? base : "/tmp");
        if (mkdtemp(tmp) == NULL) {
            code = fail(2, "a scratch directory in %s: %s", base && *base ? base : "/tmp",
                        strerror(errno));
        } else {
            rc = diff_from_bundle(&b, tmp, from, to, explain, &doc, &e);
            tz_fs_rmtree(tmp);
            code = rc == TZ_OK ? tz_cli_print_query("diff", doc, format, explain)
                               : fail(tz_status_exit_code(rc), "%s", e.msg);
        }
    }
    json_decref(doc);
    tz_bundle_free(&b);
    free(buf);
    return code;
}
