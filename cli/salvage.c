/*
 * salvage.c: `taizhang salvage --db DAMAGED --out NEWDIR [--json]`, the
 * command over tz_salvage (ledger/salvage.h): copies every entry that
 * verifies from a damaged ledger into a new one and names every seq it
 * could not recover, with the reason. Exit 0 when everything was
 * recovered, 1 when something was not, 2 on usage or I/O errors.
 */
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cli/commands.h"
#include "ledger/salvage.h"
#include "util/encoding.h"
#include "util/status.h"

static const char usage[] =
    "usage: taizhang salvage --db DAMAGED --out NEWDIR [--json]\n"
    "  Copies every entry of the ledger in DAMAGED that can be read and verifies (signature,\n"
    "  chain, position), in order, into a new ledger in NEWDIR (new or empty), stopping the\n"
    "  copy at the first entry that cannot (a ledger stays a prefix), and reports every seq\n"
    "  not recovered with its reason. DAMAGED is only read; its log key (DAMAGED/log.key,\n"
    "  TAIZHANG_PASSPHRASE when sealed) signs the new ledger's checkpoint.\n"
    "  Exit 0: everything recovered; 1: some seqs were not; 2: usage or I/O error.\n";

static int fail(int code, const char *fmt, ...) TZ_PRINTF(2, 3);
static int fail(int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("taizhang salvage: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return code;
}

static int print_json(const char *db, const char *out, const tz_salvage_report *r)
{
    char root[64] = "";
    if (r->recovered > 0)
        tz_base64_encode(root, sizeof root, r->root, 32);
    json_t *lost = json_array();
    json_t *doc = json_pack("{s:b,s:s,s:s,s:I,s:I,s:I,s:s?,s:s?,s:b,s:s?,s:s?,s:b,s:o}",
                            "ok", r->recovered == r->expected && !r->beyond_unknown, "db", db,
                            "out", out, "expected",
                            (json_int_t)r->expected, "recovered", (json_int_t)r->recovered,
                            "lost_count", (json_int_t)(r->expected - r->recovered), "root",
                            r->recovered ? root : NULL, "damage",
                            r->damage[0] ? r->damage : NULL, "repaired_copy", r->repaired_copy,
                            "original_open", r->original_open[0] ? r->original_open : NULL,
                            "copy_open", r->copy_open[0] ? r->copy_open : NULL,
                            "beyond_unknown", r->beyond_unknown, "lost", lost);
    for (size_t i = 0; doc != NULL && i < r->nlost; i++)
        json_array_append_new(lost, json_pack("{s:I,s:I,s:s}", "from", (json_int_t)r->lost[i].from,
                                              "to", (json_int_t)r->lost[i].to, "reason",
                                              r->lost[i].reason));
    char *text = doc ? json_dumps(doc, JSON_PRESERVE_ORDER | JSON_COMPACT) : NULL;
    json_decref(doc);
    if (text == NULL)
        return fail(2, "out of memory");
    puts(text);
    free(text);
    return 0;
}

static void print_text(const char *out, const tz_salvage_report *r)
{
    char root[64] = "";
    if (r->recovered == 0) {
        printf("nothing recovered: entry 0 (genesis) cannot be read or verified; no ledger was "
               "written to %s\n", out);
    } else {
        tz_base64_encode(root, sizeof root, r->root, 32);
        printf("recovered %llu of %llu entries (seqs 0..%llu) into %s, root %s\n",
               (unsigned long long)r->recovered, (unsigned long long)r->expected,
               (unsigned long long)(r->recovered - 1), out, root);
    }
    if (r->damage[0])
        printf("damage found: %s\n", r->damage);
    if (r->original_open[0])
        printf("the original would not open even for salvage (read from a repaired copy): %s\n",
               r->original_open);
    if (r->copy_open[0])
        printf("the repaired copy could not be read: %s\n", r->copy_open);
    if (r->beyond_unknown)
        printf("what lay beyond the damage cannot be told: more entries than %llu may have been "
               "lost\n", (unsigned long long)r->expected);
    for (size_t i = 0; i < r->nlost; i++) {
        if (r->lost[i].from == r->lost[i].to)
            printf("not recovered: seq %llu: %s\n", (unsigned long long)r->lost[i].from,
                   r->lost[i].reason);
        else
            printf("not recovered: seqs %llu..%llu (%llu): %s\n",
                   (unsigned long long)r->lost[i].from, (unsigned long long)r->lost[i].to,
                   (unsigned long long)(r->lost[i].to - r->lost[i].from + 1), r->lost[i].reason);
    }
}

int tz_cli_salvage(int argc, char **argv)
{
    static const struct option opts[] = {
        {"db", required_argument, NULL, 'd'},
        {"out", required_argument, NULL, 'o'},
        {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *db = NULL, *out = NULL;
    int json = 0, c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
        switch (c) {
        case 'd': db = optarg; break;
        case 'o': out = optarg; break;
        case 'j': json = 1; break;
        case 'h': fputs(usage, stdout); return 0;
        case ':': return fail(2, "%s needs a value", argv[optind - 1]);
        default: return fail(2, "%s: unknown option (see `taizhang salvage --help`)",
                             argv[optind - 1]);
        }
    }
    if (optind < argc)
        return fail(2, "unexpected argument \"%s\"", argv[optind]);
    if (db == NULL || out == NULL)
        return fail(2, "--db DAMAGED and --out NEWDIR are required");
    tz_salvage_report r;
    tz_err e;
    if (tz_salvage(db, out, getenv("TAIZHANG_PASSPHRASE"), &r, &e) != TZ_OK)
        return fail(2, "%s", e.msg); /* usage, I/O: the original is untouched */
    int code = r.recovered == r.expected && !r.beyond_unknown ? 0 : 1;
    if (json) {
        if (print_json(db, out, &r) != 0)
            code = 2;
    } else {
        print_text(out, &r);
    }
    if (fflush(stdout) != 0)
        code = fail(2, "writing the output failed");
    tz_salvage_report_free(&r);
    return code;
}
