/*
 * export.c: `taizhang export` writes an offline bundle (ledger/bundle.h)
 * and `taizhang verify --bundle` checks one with no database and no
 * network. docs/BUNDLES.md is the user's guide; docs/FORMAT.md "Bundles"
 * has the bytes.
 *
 * The exporter opens the ledger read-only (safe beside a running taizhangd)
 * and writes the bundle to a file it creates (never over an existing one,
 * and removed again if the export fails) or to stdout ("-"). The verifier
 * streams the file, so its memory does not grow with the bundle.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli/commands.h"
#include "crypto/keyfile.h"
#include "crypto/note.h"
#include "ledger/bundle.h"
#include "ledger/ledger.h"
#include "ledger/statement.h"
#include "ledger/witness.h"
#include "util/encoding.h"
#include "util/status.h"

#define OUT_BUFFER (1u << 20)

static int fail(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("taizhang: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return code;
}

static int fail_err(const tz_err *e)
{
    return fail(tz_status_exit_code(e->code), "%s", e->msg);
}

static int parse_u64(const char *s, const char *opt, uint64_t *out)
{
    char *end;
    errno = 0;
    if (s == NULL || *s < '0' || *s > '9')
        return fail(2, "%s: expects a non-negative integer, not \"%s\"", opt, s ? s : "");
    unsigned long long v = strtoull(s, &end, 10);
    if (errno != 0 || *end != '\0')
        return fail(2, "%s: \"%s\" is not a non-negative integer below 2^64", opt, s);
    *out = v;
    return 0;
}

/* Reads a whole small file (a checkpoint note) into a malloc'd buffer. */
static int read_small_file(const char *path, const char *opt, size_t max, char **out, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return fail(2, "%s %s: %s", opt, path, strerror(errno));
    char *buf = malloc(max + 1);
    size_t n = buf != NULL ? fread(buf, 1, max + 1, f) : 0;
    int bad = buf == NULL || ferror(f);
    fclose(f);
    if (bad || n == 0 || n > max) {
        free(buf);
        return fail(2, "%s %s: empty, unreadable or larger than %zu bytes", opt, path, max);
    }
    *out = buf;
    *len = n;
    return 0;
}

/* ======================================================================
 * export
 * ====================================================================== */

static int export_usage(FILE *f)
{
    fputs("usage: taizhang export --db DIR --out FILE [--from S1] [--to S2] [--person P]\n"
          "                       [--village V] [--checkpoint NOTE] [--json]\n"
          "  Writes an offline bundle: the entries of seqs [S1, S2) (default: the whole log),\n"
          "  or only those that concern person P and/or village V, with the genesis, the key\n"
          "  grants and revocations needed to check their signatures, a signed checkpoint and\n"
          "  one Merkle proof tying them to it. Other entries are represented by hashes only.\n"
          "  --out FILE    created, never overwritten; \"-\" writes to stdout\n"
          "  --checkpoint  bind the bundle to this signed checkpoint (e.g. one cosigned by\n"
          "                witnesses, from GET /v1/checkpoint/cosigned) instead of the latest\n"
          "  --json        print the summary as one JSON line\n"
          "  Check it anywhere with: taizhang verify --bundle FILE --log-key LOG.pub\n"
          "Exit: 0 ok, 1 the ledger or --checkpoint does not verify, 2 usage or I/O.\n", f);
    return f == stdout ? 0 : 2;
}

typedef struct export_opts {
    const char *db, *out, *person, *village, *checkpoint;
    uint64_t from, to;
    int json;
} export_opts;

/* 0 with *o filled, -1 after --help, else the exit status. */
static int export_parse(int argc, char **argv, export_opts *o)
{
    enum { O_DB = 1, O_OUT, O_FROM, O_TO, O_PERSON, O_VILLAGE, O_CHECKPOINT, O_JSON, O_HELP };
    static const struct option opts[] = {
        {"db", required_argument, NULL, O_DB},           {"out", required_argument, NULL, O_OUT},
        {"from", required_argument, NULL, O_FROM},       {"to", required_argument, NULL, O_TO},
        {"person", required_argument, NULL, O_PERSON},   {"village", required_argument, NULL, O_VILLAGE},
        {"checkpoint", required_argument, NULL, O_CHECKPOINT},
        {"json", no_argument, NULL, O_JSON},             {"help", no_argument, NULL, O_HELP},
        {NULL, 0, NULL, 0},
    };
    memset(o, 0, sizeof *o);
    o->to = TZ_BUNDLE_TO_END;
    optind = 1;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case O_DB: o->db = optarg; break;
        case O_OUT: o->out = optarg; break;
        case O_PERSON: o->person = optarg; break;
        case O_VILLAGE: o->village = optarg; break;
        case O_CHECKPOINT: o->checkpoint = optarg; break;
        case O_JSON: o->json = 1; break;
        case O_FROM:
            if (parse_u64(optarg, "--from", &o->from))
                return 2;
            break;
        case O_TO:
            if (parse_u64(optarg, "--to", &o->to))
                return 2;
            break;
        case O_HELP:
            return export_usage(stdout) == 0 ? -1 : 2;
        default:
            fail(2, "export: unknown option or missing value: %s", argv[optind - 1]);
            return export_usage(stderr);
        }
    }
    if (optind != argc)
        return fail(2, "export: unexpected argument \"%s\" (see --help)", argv[optind]);
    if (o->db == NULL)
        return fail(2, "export: --db DIR is required");
    if (o->out == NULL)
        return fail(2, "export: --out FILE is required (\"-\" for stdout)");
    /* docs/API.md, "Limits on input": ids as the statement id */
    const char *const ids[] = {o->person, o->village};
    static const char *const names[] = {"--person", "--village"};
    tz_err e;
    for (size_t i = 0; i < 2; i++)
        if (ids[i] != NULL &&
            tz_text_check(names[i], ids[i], strlen(ids[i]), TZ_STATEMENT_ID_MAX, &e) != TZ_OK)
            return fail_err(&e);
    return 0;
}

static int write_stdio(void *ctx, const void *data, size_t len)
{
    return fwrite(data, 1, len, ctx) == len ? 0 : -1;
}

/* Opens --out: a new file (O_EXCL), or stdout for "-". */
static int open_out(const char *path, FILE **f)
{
    if (strcmp(path, "-") == 0) {
        *f = stdout;
        return 0;
    }
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0)
        return fail(2, "--out %s: %s%s", path, strerror(errno),
                    errno == EEXIST ? " (a bundle is never overwritten: remove it or choose "
                                      "another name)" : "");
    if ((*f = fdopen(fd, "wb")) == NULL) {
        int e = errno;
        close(fd);
        unlink(path);
        return fail(2, "--out %s: %s", path, strerror(e));
    }
    return 0;
}

/* Flushes and closes --out durably; removes the file when failed. */
static int close_out(const char *path, FILE *f, int failed)
{
    if (f == stdout)
        return fflush(f) != 0 && !failed ? fail(2, "--out -: %s", strerror(errno)) : failed;
    int rc = failed;
    if (!rc && (fflush(f) != 0 || fsync(fileno(f)) != 0))
        rc = fail(2, "--out %s: %s", path, strerror(errno));
    if (fclose(f) != 0 && !rc)
        rc = fail(2, "--out %s: %s", path, strerror(errno));
    if (rc)
        unlink(path);
    return rc;
}

static void export_summary(const export_opts *o, const tz_bundle_export_stats *s)
{
    FILE *f = strcmp(o->out, "-") == 0 ? stderr : stdout;
    if (o->json) {
        json_t *j = json_pack("{s:s,s:I,s:I,s:I,s:I,s:I}", "out", o->out, "tree_size",
                              (json_int_t)s->tree_size, "records", (json_int_t)s->records,
                              "requested", (json_int_t)s->requested, "proof_hashes",
                              (json_int_t)s->proof_hashes, "bytes", (json_int_t)s->bytes);
        char *line = j != NULL ? json_dumps(j, JSON_COMPACT) : NULL;
        if (line != NULL)
            fprintf(f, "%s\n", line);
        free(line);
        json_decref(j);
        return;
    }
    fprintf(f, "exported %" PRIu64 " entries (%" PRIu64 " asked for, %" PRIu64 " genesis and "
            "key entries) of a log of %" PRIu64 ", with %" PRIu64 " proof hashes: %" PRIu64
            " bytes to %s\n", s->records, s->requested, s->records - s->requested, s->tree_size,
            s->proof_hashes, s->bytes, o->out);
}

int tz_cli_export(int argc, char **argv)
{
    export_opts o;
    int rc = export_parse(argc, argv, &o);
    if (rc != 0)
        return rc < 0 ? 0 : rc;
    tz_bundle_selection sel = {o.from, o.to, o.person, o.village, NULL, 0};
    char *note = NULL;
    if (o.checkpoint != NULL &&
        read_small_file(o.checkpoint, "--checkpoint", TZ_NOTE_MAX_LEN, &note, &sel.checkpoint_len))
        return 2;
    sel.checkpoint = note;
    tz_ledger *l = NULL;
    tz_err e;
    if (tz_ledger_open(&l, o.db, TZ_LEDGER_READONLY, NULL, &e) != TZ_OK) {
        free(note);
        return fail_err(&e);
    }
    FILE *f = NULL;
    if ((rc = open_out(o.out, &f)) == 0) {
        static char buf[OUT_BUFFER];
        setvbuf(f, buf, _IOFBF, sizeof buf);
        tz_bundle_export_stats stats;
        int xrc = tz_bundle_export(l, &sel, write_stdio, f, &stats, &e);
        if (xrc != TZ_OK && ferror(f))
            rc = fail(2, "--out %s: write failed: %s", o.out, strerror(errno));
        else if (xrc != TZ_OK)
            rc = fail_err(&e);
        rc = close_out(o.out, f, rc);
        if (rc == 0)
            export_summary(&o, &stats);
    }
    tz_ledger_close(l);
    free(note);
    return rc;
}

/* ======================================================================
 * verify --bundle
 * ====================================================================== */

static int verify_usage(FILE *f)
{
    fputs("usage: taizhang verify --bundle FILE --log-key LOG.pub [--from S1 --to S2]\n"
          "                       [--witness W.pub ...] [--witnesses-needed K] [--list] [--json]\n"
          "  Checks an offline bundle with no database and no network: the checkpoint is\n"
          "  signed by the log key, one Merkle proof ties every entry to it, every signature\n"
          "  verifies by a key granted (back to a root key of the genesis) and not revoked\n"
          "  before it, and consecutive entries chain. FILE \"-\" reads stdin.\n"
          "  --from S1 --to S2      require every entry of seqs [S1, S2) to be in the bundle\n"
          "                         (the bundle itself says nothing of what was asked for)\n"
          "  --witness W.pub        a witness key (repeat); the checkpoint must carry valid\n"
          "                         cosignatures of --witnesses-needed of them (default: all)\n"
          "  --list                 one line per entry: seq, type, id, who signed\n"
          "  --json                 the verdict as one JSON object\n"
          "Exit: 0 verified, 1 it does not verify (the reason names the seq and the rule),\n"
          "      2 usage or an unreadable file.\n", f);
    return f == stdout ? 0 : 2;
}

typedef struct verify_opts {
    const char *bundle, *log_key;
    const char *witnesses[TZ_WITNESS_MAX];
    size_t nwitnesses;
    int has_needed, has_from, has_to;
    uint64_t needed, from, to;
    int list, json;
} verify_opts;

static int verify_parse(int argc, char **argv, verify_opts *o)
{
    enum { O_BUNDLE = 1, O_LOGKEY, O_WITNESS, O_NEEDED, O_LIST, O_JSON, O_HELP, O_FROM, O_TO };
    static const struct option opts[] = {
        {"from", required_argument, NULL, O_FROM},
        {"to", required_argument, NULL, O_TO},
        {"bundle", required_argument, NULL, O_BUNDLE},
        {"log-key", required_argument, NULL, O_LOGKEY},
        {"witness", required_argument, NULL, O_WITNESS},
        {"witnesses-needed", required_argument, NULL, O_NEEDED},
        {"list", no_argument, NULL, O_LIST},
        {"json", no_argument, NULL, O_JSON},
        {"help", no_argument, NULL, O_HELP},
        {NULL, 0, NULL, 0},
    };
    memset(o, 0, sizeof *o);
    optind = 1;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case O_BUNDLE: o->bundle = optarg; break;
        case O_LOGKEY: o->log_key = optarg; break;
        case O_LIST: o->list = 1; break;
        case O_JSON: o->json = 1; break;
        case O_WITNESS:
            if (o->nwitnesses == TZ_WITNESS_MAX)
                return fail(2, "--witness: at most %d witnesses", TZ_WITNESS_MAX);
            o->witnesses[o->nwitnesses++] = optarg;
            break;
        case O_NEEDED:
            if (parse_u64(optarg, "--witnesses-needed", &o->needed))
                return 2;
            o->has_needed = 1;
            break;
        case O_FROM:
            if (parse_u64(optarg, "--from", &o->from))
                return 2;
            o->has_from = 1;
            break;
        case O_TO:
            if (parse_u64(optarg, "--to", &o->to))
                return 2;
            o->has_to = 1;
            break;
        case O_HELP:
            return verify_usage(stdout) == 0 ? -1 : 2;
        default:
            fail(2, "verify --bundle: unknown option or missing value: %s", argv[optind - 1]);
            return verify_usage(stderr);
        }
    }
    if (optind != argc)
        return fail(2, "verify --bundle: unexpected argument \"%s\" (see --help)", argv[optind]);
    if (o->bundle == NULL)
        return fail(2, "verify: --bundle FILE is required");
    if (o->log_key == NULL)
        return fail(2, "verify --bundle: --log-key LOG.pub is required (the log's public key, "
                    "obtained from the log's operator by a channel you trust)");
    if (o->has_needed && o->needed > o->nwitnesses)
        return fail(2, "--witnesses-needed %" PRIu64 ": only %zu --witness keys given",
                    o->needed, o->nwitnesses);
    if (!o->has_needed)
        o->needed = o->nwitnesses;
    if (o->has_from != o->has_to)
        return fail(2, "verify --bundle: --from and --to go together (the range required)");
    if (o->has_to && o->from >= o->to)
        return fail(2, "verify --bundle: --from %" PRIu64 " must be below --to %" PRIu64, o->from,
                    o->to);
    return 0;
}

typedef struct listing {
    int json;
    json_t *records;
} listing;

static void rfc3339_us(char out[40], uint64_t us)
{
    time_t t = (time_t)(us / 1000000u);
    struct tm tm;
    if (gmtime_r(&t, &tm) == NULL || strftime(out, 24, "%Y-%m-%dT%H:%M:%S", &tm) == 0) {
        snprintf(out, 40, "%" PRIu64 "us", us);
        return;
    }
    snprintf(out + strlen(out), 40 - strlen(out), ".%06uZ", (unsigned)(us % 1000000u));
}

static void list_record(void *ctx, const tz_bundle_record_info *info)
{
    listing *l = ctx;
    char when[40];
    rfc3339_us(when, info->recorded_at);
    const tz_statement *st = info->st;
    if (l->json) {
        json_t *signers = json_array();
        for (size_t i = 0; i < info->nsigs; i++)
            json_array_append_new(signers, json_pack("{s:s,s:s}", "holder", info->signers[i],
                                                     "key", info->signer_names[i]));
        json_array_append_new(l->records, json_pack("{s:I,s:s,s:s%,s:s%,s:s%,s:o}", "seq",
                                                    (json_int_t)info->seq, "recorded_at", when,
                                                    "type", st->type, st->type_len, "id", st->id,
                                                    st->id_len, "at", st->at, st->at_len,
                                                    "signers", signers));
        return;
    }
    printf("seq %-8" PRIu64 " %s  %-18.*s %.*s  signed by", info->seq, when, (int)st->type_len,
           st->type, (int)st->id_len, st->id);
    for (size_t i = 0; i < info->nsigs; i++)
        printf("%s %s (%s)", i ? "," : "", info->signers[i], info->signer_names[i]);
    putchar('\n');
}

static json_t *report_json(const tz_bundle_report *r, int rc, uint64_t from, uint64_t to)
{
    if (rc != TZ_OK) {
        json_t *j = json_pack("{s:b,s:s,s:s}", "ok", 0, "status", tz_status_name(rc), "reason",
                              r->reason);
        json_object_set_new(j, "bad_seq", r->has_bad_seq ? json_integer((json_int_t)r->bad_seq)
                                                         : json_null());
        return j;
    }
    char root[45];
    tz_base64_encode(root, sizeof root, r->root, 32);
    json_t *types = json_object();
    for (size_t i = 0; i < r->ntypes; i++)
        json_object_set_new(types, r->types[i].type, json_integer((json_int_t)r->types[i].count));
    json_t *j = json_pack("{s:b,s:s,s:I,s:s,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:o}",
                          "ok", 1, "origin", r->origin, "tree_size", (json_int_t)r->tree_size,
                          "root", root, "witnesses", (json_int_t)r->witnesses,
                          "records", (json_int_t)r->records,
                          "first_seq", (json_int_t)r->first_seq, "last_seq",
                          (json_int_t)r->last_seq, "runs", (json_int_t)r->runs, "signatures",
                          (json_int_t)r->signatures, "keys", (json_int_t)r->keys,
                          "proof_hashes", (json_int_t)r->proof_hashes, "types", types);
    if (r->range_checked)
        json_object_set_new(j, "range", json_pack("{s:I,s:I}", "from", (json_int_t)from, "to",
                                                  (json_int_t)to));
    return j;
}

static void report_text(const tz_bundle_report *r, int rc, const tz_public_key *log_key,
                        const verify_opts *o)
{
    if (rc != TZ_OK) {
        printf("FAILED: %s\n", r->reason);
        return;
    }
    char root[45];
    tz_base64_encode(root, sizeof root, r->root, 32);
    printf("ok: the bundle verifies offline\n");
    printf("  log         %s (log key %s+%08x)\n", r->origin, log_key->name, log_key->id);
    printf("  checkpoint  tree size %" PRIu64 ", root %s", r->tree_size, root);
    if (r->witnesses > 0)
        printf(", cosigned by %zu witnesses", r->witnesses);
    printf("\n  entries     %" PRIu64 " (seqs %" PRIu64 "..%" PRIu64 " in %" PRIu64 " runs of "
           "consecutive seqs), %" PRIu64 " signatures by %" PRIu64 " known keys\n", r->records,
           r->first_seq, r->last_seq, r->runs, r->signatures, r->keys);
    printf("  types       ");
    for (size_t i = 0; i < r->ntypes; i++)
        printf("%s%s %" PRIu64, i ? ", " : "", r->types[i].type, r->types[i].count);
    printf("\n  proof       %" PRIu64 " hashes stand for the entries not in the bundle\n",
           r->proof_hashes);
    if (r->range_checked)
        printf("  range       every entry of seqs [%" PRIu64 ", %" PRIu64 ") is in the bundle\n",
               o->from, o->to);
    printf("  (entries not in the bundle are represented by hashes only; --list shows each "
           "entry)\n");
}

/* Reads the witness keys; 0 or the exit status. */
static int read_witnesses(const verify_opts *o, tz_public_key *keys)
{
    tz_err e;
    for (size_t i = 0; i < o->nwitnesses; i++)
        if (tz_witness_key_read(&keys[i], o->witnesses[i], &e) != TZ_OK) {
            tz_err_prefix(&e, "--witness: ");
            return fail(2, "%s", e.msg);
        }
    return 0;
}

int tz_cli_verify_bundle(int argc, char **argv)
{
    verify_opts o;
    int rc = verify_parse(argc, argv, &o);
    if (rc != 0)
        return rc < 0 ? 0 : rc;
    tz_public_key log_key;
    tz_public_key witnesses[TZ_WITNESS_MAX];
    tz_err e;
    if (tz_keyfile_read_public(&log_key, o.log_key, &e) != TZ_OK) {
        tz_err_prefix(&e, "--log-key: ");
        return fail(2, "%s", e.msg);
    }
    if ((rc = read_witnesses(&o, witnesses)) != 0)
        return rc;
    int fd = strcmp(o.bundle, "-") == 0 ? STDIN_FILENO : open(o.bundle, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return fail(2, "--bundle %s: %s", o.bundle, strerror(errno));
    listing l = {o.json, o.json ? json_array() : NULL};
    tz_bundle_verify_options vo = {&log_key, witnesses, o.nwitnesses, (size_t)o.needed,
                                   o.from, o.has_to ? o.to : 0, o.list ? list_record : NULL, &l};
    tz_bundle_report rep;
    int vrc = tz_bundle_verify_fd(fd, &vo, &rep, &e);
    if (fd != STDIN_FILENO)
        close(fd);
    if (vrc == TZ_ERR_IO || vrc == TZ_ERR_NOMEM || vrc == TZ_ERR_USAGE || vrc == TZ_ERR_INTERNAL) {
        json_decref(l.records);
        return fail(2, "--bundle %s: %s", o.bundle, e.msg);
    }
    if (o.json) {
        json_t *j = report_json(&rep, vrc, o.from, o.to);
        if (o.list)
            json_object_set_new(j, "entries", l.records);
        else
            json_decref(l.records);
        char *s = json_dumps(j, JSON_COMPACT);
        if (s != NULL)
            puts(s);
        free(s);
        json_decref(j);
    } else {
        report_text(&rep, vrc, &log_key, &o);
    }
    if (fflush(stdout) != 0)
        return fail(2, "stdout: %s", strerror(errno));
    return vrc == TZ_OK ? 0 : 1;
}
