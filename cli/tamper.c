/*
 * tamper.c: `taizhang verify --db DIR --all`, the tamper report (issue 6).
 *
 * Plain `verify` names the first fault and stops; an inspector reading a
 * ledger that an operator may have edited directly in RocksDB needs every
 * fault, each placed at its seq and classified (docs/TAMPER.md). This
 * command prints the report of tz_verify_all as a table for a person or,
 * with --json, as one JSON object for a program. Exit 0 when nothing was
 * found, 1 when anything was, 2 when the report could not be made.
 */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/commands.h"
#include "crypto/keyfile.h"
#include "ledger/verify.h"
#include "util/encoding.h"

#define TRUSTED_MAX 65536

static const char usage_text[] =
    "usage: taizhang verify --db DIR --all [--trusted CHECKPOINT] [--log-key FILE.pub] [--json]\n"
    "                       [--max-findings N]\n"
    "\n"
    "The tamper report: every fault in the ledger, not only the first, each placed at its seq\n"
    "and classified (altered, missing, inserted, reordered, bad_signature, revoked_key, refused,\n"
    "projection_mismatch, tree_mismatch, head_mismatch, checkpoint_mismatch, meta); checking\n"
    "goes on past every fault. See docs/TAMPER.md.\n"
    "\n"
    "  --db DIR            the ledger (opened read-only)\n"
    "  --trusted FILE      a checkpoint saved earlier: the log must still contain it\n"
    "  --log-key FILE.pub  pin the log key (else the one genesis names)\n"
    "  --json              one JSON object instead of the table\n"
    "  --max-findings N    list at most N findings (default 10000); all are counted\n"
    "\n"
    "Exit: 0 nothing found, 1 findings, 2 usage or I/O error.\n";

typedef struct tamper_opts {
    const char *db, *trusted, *log_key;
    int json;
    size_t max_findings;
} tamper_opts;

static int usage_error(const char *fmt, const char *arg)
{
    fprintf(stderr, "taizhang verify: ");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\n(see `taizhang verify --all --help`)\n");
    return 2;
}

/* Parses argv (argv[0] = "verify"). Returns 0, -1 for --help (usage
 * printed), or 2 after printing a usage error. */
static int parse(int argc, char **argv, tamper_opts *o)
{
    static const struct option longs[] = {
        {"db", required_argument, NULL, 'd'},      {"all", no_argument, NULL, 'a'},
        {"trusted", required_argument, NULL, 't'}, {"log-key", required_argument, NULL, 'k'},
        {"json", no_argument, NULL, 'j'},          {"max-findings", required_argument, NULL, 'm'},
        {"help", no_argument, NULL, 'h'},          {NULL, 0, NULL, 0},
    };
    memset(o, 0, sizeof *o);
    optind = 1;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, ":", longs, NULL)) != -1) {
        switch (c) {
        case 'd': o->db = optarg; break;
        case 'a': break;
        case 't': o->trusted = optarg; break;
        case 'k': o->log_key = optarg; break;
        case 'j': o->json = 1; break;
        case 'm': {
            char *end;
            errno = 0;
            unsigned long long v = strtoull(optarg, &end, 10);
            if (errno != 0 || *end != '\0' || optarg[0] < '1' || optarg[0] > '9' ||
                v > 10000000ull)
                return usage_error("--max-findings: \"%s\" is not a number 1..10000000", optarg);
            o->max_findings = (size_t)v;
            break;
        }
        case 'h': fputs(usage_text, stdout); return -1;
        case ':': return usage_error("%s needs a value", argv[optind - 1]);
        default: return usage_error("unknown option %s", argv[optind - 1]);
        }
    }
    if (optind < argc)
        return usage_error("unexpected argument \"%s\"", argv[optind]);
    if (o->db == NULL)
        return usage_error("%s", "--db DIR is required");
    return 0;
}

/* Reads the --trusted file (at most 64 KiB). Returns a malloc'd buffer or
 * NULL after printing why. */
static char *read_trusted(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        fprintf(stderr, "taizhang verify: --trusted %s: %s\n", path, strerror(errno));
        return NULL;
    }
    char *buf = malloc(TRUSTED_MAX + 1);
    size_t n = buf ? fread(buf, 1, TRUSTED_MAX + 1, f) : 0;
    int bad = ferror(f);
    fclose(f);
    if (buf == NULL || bad || n == 0 || n > TRUSTED_MAX) {
        free(buf);
        fprintf(stderr, "taizhang verify: --trusted %s: empty, unreadable or larger than 64 "
                        "KiB\n", path);
        return NULL;
    }
    *len = n;
    return buf;
}

static void progress(void *ctx, uint64_t done, uint64_t total)
{
    (void)ctx;
    fprintf(stderr, "\rchecked %llu / %llu", (unsigned long long)done, (unsigned long long)total);
    if (done >= total)
        fputc('\n', stderr);
}

static void root_b64(const tz_tamper_report *r, char out[64])
{
    if (r->has_root)
        tz_base64_encode(out, 64, r->root, 32);
    else
        snprintf(out, 64, "unknown");
}

/* ---- JSON ------------------------------------------------------------------ */

static json_t *finding_json(const tz_tamper_finding *f)
{
    json_t *j = json_object();
    if (j == NULL)
        return NULL;
    int bad = json_object_set_new(j, "seq", f->has_seq ? json_integer((json_int_t)f->seq)
                                                       : json_null());
    bad |= json_object_set_new(j, "last_seq", f->has_seq ? json_integer((json_int_t)f->last_seq)
                                                         : json_null());
    bad |= json_object_set_new(j, "class", json_string(tz_tamper_class_name(f->cls)));
    bad |= json_object_set_new(j, "detail", json_string(f->detail));
    bad |= json_object_set_new(j, "derived", json_integer((json_int_t)f->derived));
    bad |= json_object_set_new(j, "may_follow_from", f->has_cause
                                                         ? json_integer((json_int_t)f->cause)
                                                         : json_null());
    if (bad) {
        json_decref(j);
        return NULL;
    }
    return j;
}

static json_t *report_json(const tz_tamper_report *r)
{
    char root[64];
    root_b64(r, root);
    json_t *by_class = json_object(), *list = json_array();
    json_t *j = json_pack("{s:b,s:I,s:I,s:I,s:o,s:I,s:I,s:b,s:I,s:I}", "ok", r->total == 0,
                          "size", (json_int_t)r->size, "stored", (json_int_t)r->stored,
                          "replayed", (json_int_t)r->replayed, "root",
                          r->has_root ? json_string(root) : json_null(), "findings_total",
                          (json_int_t)r->total, "findings_listed", (json_int_t)r->listed,
                          "truncated", r->listed < r->total, "derived_folded",
                          (json_int_t)r->derived_folded, "consequences",
                          (json_int_t)r->consequences);
    int bad = j == NULL || by_class == NULL || list == NULL;
    for (int c = 0; !bad && c < TZ_TAMPER_CLASS_COUNT; c++)
        bad = json_object_set_new(by_class, tz_tamper_class_name((tz_tamper_class)c),
                                  json_integer((json_int_t)r->by_class[c])) != 0;
    for (size_t i = 0; !bad && i < r->listed; i++) {
        json_t *f = finding_json(&r->findings[i]);
        bad = f == NULL || json_array_append_new(list, f) != 0;
    }
    if (!bad) {
        bad = json_object_set_new(j, "by_class", by_class) != 0;
        by_class = NULL;
        bad |= json_object_set_new(j, "findings", list) != 0;
        list = NULL;
    }
    json_decref(by_class);
    json_decref(list);
    if (bad) {
        json_decref(j);
        return NULL;
    }
    return j;
}

/* ---- the table ----------------------------------------------------------------- */

static void seq_text(const tz_tamper_finding *f, char *out, size_t cap)
{
    if (!f->has_seq)
        snprintf(out, cap, "-");
    else if (f->last_seq != f->seq)
        snprintf(out, cap, "%llu-%llu", (unsigned long long)f->seq,
                 (unsigned long long)f->last_seq);
    else
        snprintf(out, cap, "%llu", (unsigned long long)f->seq);
}

static void print_table(const char *db, const tz_tamper_report *r)
{
    char root[64];
    root_b64(r, root);
    if (r->total == 0) {
        printf("ok: no tampering found: %llu entries verified, root %s\n",
               (unsigned long long)r->size, root);
        return;
    }
    printf("TAMPERED: tamper report for %s\n", db);
    printf("entries recorded %llu, records stored %llu, replayed %llu, root %s\n",
           (unsigned long long)r->size, (unsigned long long)r->stored,
           (unsigned long long)r->replayed, root);
    printf("findings: %llu:", (unsigned long long)r->total);
    for (int c = 0; c < TZ_TAMPER_CLASS_COUNT; c++)
        if (r->by_class[c] > 0)
            printf(" %s %llu", tz_tamper_class_name((tz_tamper_class)c),
                   (unsigned long long)r->by_class[c]);
    printf("\n");
    if (r->consequences > 0)
        printf("(%llu of them may follow from an earlier entry left out of the replay; each "
               "names it)\n", (unsigned long long)r->consequences);
    if (r->derived_folded > 0)
        printf("(%llu derived record(s) that differ because of a faulty entry are counted in "
               "its finding)\n", (unsigned long long)r->derived_folded);
    int w = 3, cw = 5;
    char s[48];
    for (size_t i = 0; i < r->listed; i++) {
        seq_text(&r->findings[i], s, sizeof s);
        int l = (int)strlen(s), lc = (int)strlen(tz_tamper_class_name(r->findings[i].cls));
        w = l > w ? l : w;
        cw = lc > cw ? lc : cw;
    }
    printf("\n%*s  %-*s  %s\n", w, "seq", cw, "class", "detail");
    printf("%.*s  %.*s  ------\n", w, "------------------------------------------------", cw,
           "------------------------------------------------");
    for (size_t i = 0; i < r->listed; i++) {
        const tz_tamper_finding *f = &r->findings[i];
        seq_text(f, s, sizeof s);
        printf("%*s  %-*s  %s", w, s, cw, tz_tamper_class_name(f->cls), f->detail);
        if (f->derived > 0)
            printf(" [%llu derived record(s) differ with it]", (unsigned long long)f->derived);
        printf("\n");
    }
    if (r->listed < r->total)
        printf("\n(only the first %zu of %llu findings are listed; --max-findings N lists more)\n",
               r->listed, (unsigned long long)r->total);
}

int tz_cli_verify_all(int argc, char **argv)
{
    tamper_opts o;
    int rc = parse(argc, argv, &o);
    if (rc != 0)
        return rc < 0 ? 0 : rc;
    tz_verify_options vo = {0};
    tz_public_key pinned;
    tz_err e;
    char *trusted = NULL;
    if (o.trusted != NULL) {
        if ((trusted = read_trusted(o.trusted, &vo.trusted_len)) == NULL)
            return 2;
        vo.trusted_note = trusted;
    }
    if (o.log_key != NULL) {
        if (tz_keyfile_read_public(&pinned, o.log_key, &e) != TZ_OK) {
            free(trusted);
            fprintf(stderr, "taizhang verify: %s\n", e.msg);
            return 2;
        }
        vo.log_key = &pinned;
    }
    vo.max_findings = o.max_findings;
    if (isatty(STDERR_FILENO))
        vo.progress = progress;
    tz_tamper_report rep;
    rc = tz_verify_all(o.db, &vo, &rep, &e);
    free(trusted);
    if (rc != TZ_OK) {
        fprintf(stderr, "taizhang verify: %s\n", e.msg);
        return 2;
    }
    int status = rep.total == 0 ? 0 : 1;
    if (o.json) {
        json_t *j = report_json(&rep);
        char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;
        if (text == NULL) {
            fprintf(stderr, "taizhang verify: out of memory\n");
            status = 2;
        } else {
            printf("%s\n", text);
        }
        free(text);
        json_decref(j);
    } else {
        print_table(o.db, &rep);
    }
    if (fflush(stdout) != 0) {
        fprintf(stderr, "taizhang verify: stdout: %s\n", strerror(errno));
        status = 2;
    }
    tz_tamper_report_free(&rep);
    return status;
}
