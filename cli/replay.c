/*
 * replay.c: `taizhang replay` and `taizhang history`, the dispute-review
 * tools (docs/REVIEW.md). Both are thin fronts over ledger/replay.h:
 *   replay  --db D --until SEQ|DATE --out DIR
 *           builds a separate read-only ledger holding the entries as they
 *           stood then, with every derived record, and prints one JSON line;
 *   history --db D (--person P | --village V) [--from S] [--to S]
 *           [--format table|json|csv]
 *           every entry that concerns P or V, who signed it (holder, roles,
 *           scope of each key) and when, and what it changed.
 * Exit codes as every command: 0 ok, 1 the data does not verify, 2 usage or
 * I/O, 3 input rejected (an --until that names no moment of the log, an
 * unknown person or village).
 */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "cli/commands.h"
#include "ledger/ledger.h"
#include "ledger/replay.h"
#include "ledger/statement.h"
#include "util/encoding.h"
#include "util/status.h"

static int fail(const char *cmd, int code, const char *fmt, ...) TZ_PRINTF(3, 4);
static int fail(const char *cmd, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "taizhang %s: ", cmd);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return code;
}

static int flush_stdout(const char *cmd)
{
    return fflush(stdout) == 0 ? 0 : fail(cmd, 2, "writing the output failed");
}

/* ---- replay ------------------------------------------------------------------------ */

static const char replay_usage[] =
    "usage: taizhang replay --db DIR --until SEQ|DATE --out NEWDIR\n"
    "  Rebuilds, in NEWDIR (new or empty), the ledger as it stood at seq SEQ, or at the\n"
    "  end of DATE (YYYY-MM-DD, China time): entries 0..SEQ, the tree, the index and\n"
    "  every projection, as a fresh replay of those entries writes them. Every reading\n"
    "  command works on it (roster --db NEWDIR, log, get, prove, verify); nothing can be\n"
    "  appended to it. Needs no key. Prints {\"until\",\"entries\",\"root\",\"out\",...}.\n";

int tz_cli_replay(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"db", required_argument, 0, 'd'},  {"until", required_argument, 0, 'u'},
        {"out", required_argument, 0, 'o'}, {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0},
    };
    const char *db = NULL, *until = NULL, *out = NULL;
    int c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":", longopts, NULL)) != -1) {
        switch (c) {
        case 'd': db = optarg; break;
        case 'u': until = optarg; break;
        case 'o': out = optarg; break;
        case 'h': fputs(replay_usage, stdout); return 0;
        case ':': return fail("replay", 2, "%s needs a value", argv[optind - 1]);
        default: return fail("replay", 2, "%s: unknown option (see `taizhang replay --help`)",
                             argv[optind - 1]);
        }
    }
    if (optind < argc)
        return fail("replay", 2, "unexpected argument \"%s\"", argv[optind]);
    if (db == NULL || until == NULL || out == NULL)
        return fail("replay", 2, "%s is required (replay --db DIR --until SEQ|DATE --out NEWDIR)",
                    db == NULL ? "--db" : until == NULL ? "--until" : "--out");
    tz_replay_info *info = malloc(sizeof *info);
    if (info == NULL)
        return fail("replay", 2, "out of memory");
    tz_err e;
    int code = 0;
    if (tz_replay_build(db, until, out, info, &e) != TZ_OK) {
        code = fail("replay", tz_status_exit_code(e.code), "%s", e.msg);
    } else {
        char root[64]; /* base64 of 32 bytes: 44 characters */
        tz_base64_encode(root, sizeof root, info->root, 32);
        json_t *j = json_pack("{s:I,s:I,s:s,s:s,s:s,s:I}", "until", (json_int_t)(info->size - 1),
                              "entries", (json_int_t)info->size, "root", root, "out", out,
                              "source", info->source, "source_size",
                              (json_int_t)info->source_size);
        char *s = j ? json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
        if (s != NULL)
            puts(s);
        else
            code = fail("replay", 2, "out of memory");
        free(s);
        json_decref(j);
        if (code == 0)
            code = flush_stdout("replay");
    }
    free(info);
    return code;
}

/* ---- history ------------------------------------------------------------------------ */

static const char history_usage[] =
    "usage: taizhang history --db DIR (--person P | --village V) [--from SEQ] [--to SEQ]\n"
    "                        [--format table|json|csv]\n"
    "  Every entry that concerns the person or the village, in seq order: when it was\n"
    "  recorded (server clock, China time), the statement's own time, what it says, who\n"
    "  signed it (each key's holder, roles and scope) and the projection documents it\n"
    "  wrote with their state after it.\n";

/* A seq option: digits only. */
static int parse_seq(const char *opt, const char *arg, uint64_t *out)
{
    size_t len = strlen(arg);
    errno = 0;
    if (len == 0 || len > 20 || strspn(arg, "0123456789") != len)
        return fail("history", 2, "%s: \"%s\" is not a seq (digits)", opt, arg);
    unsigned long long v = strtoull(arg, NULL, 10);
    if (errno == ERANGE)
        return fail("history", 2, "%s: \"%s\" is out of range", opt, arg);
    *out = v;
    return 0;
}

/* "holder (roles; scope)" of one signer; root keys and revoked keys said so. */
static void signer_text(char *out, size_t cap, const json_t *s)
{
    char roles[400] = "";
    size_t off = 0, i;
    json_t *r;
    json_array_foreach(json_object_get(s, "roles"), i, r)
        if (off < sizeof roles)
            off += (size_t)snprintf(roles + off, sizeof roles - off, "%s%s", i ? "," : "",
                                    json_string_value(r));
    const char *holder = json_string_value(json_object_get(s, "holder"));
    const char *scope = json_string_value(json_object_get(s, "scope"));
    const char *name = json_string_value(json_object_get(s, "name"));
    int n = snprintf(out, cap, "%s (%s; %s) [key %s]", holder ? holder : "?", roles,
                     scope ? scope : "?", name ? name : json_string_value(json_object_get(s, "key")));
    json_t *rv = json_object_get(s, "revoked_seq");
    if (json_is_integer(rv) && n >= 0 && (size_t)n < cap)
        snprintf(out + n, cap - (size_t)n, ", revoked at seq %lld", (long long)json_integer_value(rv));
}

/* "view id id: status" of one projection document an entry wrote. */
static void effect_text(char *out, size_t cap, const json_t *e)
{
    int n = snprintf(out, cap, "%s", json_string_value(json_object_get(e, "view")));
    size_t i;
    json_t *id;
    json_array_foreach(json_object_get(e, "subject"), i, id)
        if (n >= 0 && (size_t)n < cap)
            n += snprintf(out + n, cap - (size_t)n, " %s", json_string_value(id));
    const char *status = json_string_value(json_object_get(e, "status"));
    if (n >= 0 && (size_t)n < cap && (status != NULL || json_is_true(json_object_get(e, "removed"))))
        snprintf(out + n, cap - (size_t)n, ": %s%s", status ? status : "removed",
                 json_is_true(json_object_get(e, "late")) ? " (late)" : "");
}

static void print_history_table(const json_t *doc)
{
    const json_t *rows = json_object_get(doc, "rows");
    const char *name = json_string_value(json_object_get(doc, "name"));
    printf("history of %s %s%s%s, seqs %lld..%lld: %zu entr%s\n",
           json_string_value(json_object_get(doc, "kind")),
           json_string_value(json_object_get(doc, "id")), name && *name ? " " : "",
           name ? name : "", (long long)json_integer_value(json_object_get(doc, "from")),
           (long long)json_integer_value(json_object_get(doc, "to")), json_array_size(rows),
           json_array_size(rows) == 1 ? "y" : "ies");
    size_t i, k;
    json_t *row, *x;
    char text[1200];
    json_array_foreach(rows, i, row) {
        printf("\n%7lld  recorded %s  at %s  %s  %s\n",
               (long long)json_integer_value(json_object_get(row, "seq")),
               json_string_value(json_object_get(row, "recorded_at")),
               json_string_value(json_object_get(row, "at")),
               json_string_value(json_object_get(row, "type")),
               json_string_value(json_object_get(row, "id")));
        printf("         %s\n", json_string_value(json_object_get(row, "summary")));
        json_array_foreach(json_object_get(row, "signers"), k, x) {
            signer_text(text, sizeof text, x);
            printf("         signed by %s\n", text);
        }
        json_array_foreach(json_object_get(row, "effects"), k, x) {
            effect_text(text, sizeof text, x);
            printf("         -> %s\n", text);
        }
    }
}

/* RFC 4180: a field with a comma, quote, CR or LF is quoted, quotes doubled. */
static void csv_field(const char *s, const char *end)
{
    if (strpbrk(s, ",\"\r\n") == NULL)
        fputs(s, stdout);
    else {
        putchar('"');
        for (; *s; s++) {
            if (*s == '"')
                putchar('"');
            putchar(*s);
        }
        putchar('"');
    }
    fputs(end, stdout);
}

/* The texts of an array of signers or effects, joined by " | ". */
static void csv_list(const json_t *a, void (*text)(char *, size_t, const json_t *), const char *end)
{
    char *joined = NULL, one[1200];
    size_t len = 0, i;
    json_t *x;
    FILE *f = open_memstream(&joined, &len);
    if (f == NULL)
        return;
    json_array_foreach(a, i, x) {
        text(one, sizeof one, x);
        fprintf(f, "%s%s", i ? " | " : "", one);
    }
    fclose(f);
    csv_field(joined ? joined : "", end);
    free(joined);
}

static void print_history_csv(const json_t *doc)
{
    fputs("seq,recorded_at,at,type,id,summary,signers,effects\r\n", stdout);
    size_t i;
    json_t *row;
    json_array_foreach(json_object_get(doc, "rows"), i, row) {
        printf("%lld,", (long long)json_integer_value(json_object_get(row, "seq")));
        static const char *const texts[] = {"recorded_at", "at", "type", "id", "summary"};
        for (size_t k = 0; k < sizeof texts / sizeof texts[0]; k++)
            csv_field(json_string_value(json_object_get(row, texts[k])), ",");
        csv_list(json_object_get(row, "signers"), signer_text, ",");
        csv_list(json_object_get(row, "effects"), effect_text, "\r\n");
    }
}

typedef struct history_opts {
    const char *db, *person, *village, *format, *server;
    uint64_t from, to;
    int has_to;
} history_opts;

static int history_parse(int argc, char **argv, history_opts *o)
{
    static const struct option longopts[] = {
        {"db", required_argument, 0, 'd'},     {"person", required_argument, 0, 'p'},
        {"village", required_argument, 0, 'v'}, {"from", required_argument, 0, 'f'},
        {"to", required_argument, 0, 't'},     {"format", required_argument, 0, 'F'},
        {"server", required_argument, 0, 's'}, {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0},
    };
    int c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":", longopts, NULL)) != -1) {
        switch (c) {
        case 'd': o->db = optarg; break;
        case 'p': o->person = optarg; break;
        case 'v': o->village = optarg; break;
        case 'F': o->format = optarg; break;
        case 's': o->server = optarg; break;
        case 'f':
            if (parse_seq("--from", optarg, &o->from))
                return 2;
            break;
        case 't':
            if (parse_seq("--to", optarg, &o->to))
                return 2;
            o->has_to = 1;
            break;
        case 'h': fputs(history_usage, stdout); return -1;
        case ':': return fail("history", 2, "%s needs a value", argv[optind - 1]);
        default: return fail("history", 2, "%s: unknown option (see `taizhang history --help`)",
                             argv[optind - 1]);
        }
    }
    if (optind < argc)
        return fail("history", 2, "unexpected argument \"%s\"", argv[optind]);
    if ((o->person == NULL) == (o->village == NULL))
        return fail("history", 2, "give exactly one of --person P and --village V");
    /* docs/API.md, "Limits on input": ids as the statement id */
    tz_err e;
    const char *id = o->person != NULL ? o->person : o->village;
    if (tz_text_check(o->person != NULL ? "--person" : "--village", id, strlen(id),
                      TZ_STATEMENT_ID_MAX, &e) != TZ_OK)
        return fail("history", 3, "%s", e.msg);
    if (o->server != NULL)
        return fail("history", 2, "--server: not served yet (the signers' key records and the "
                    "change index have no endpoint); run it with --db DIR on the ledger or on a "
                    "copy");
    if (o->db == NULL)
        return fail("history", 2, "--db DIR is required");
    if (o->format == NULL)
        o->format = isatty(STDOUT_FILENO) ? "table" : "json";
    if (strcmp(o->format, "table") != 0 && strcmp(o->format, "json") != 0 &&
        strcmp(o->format, "csv") != 0)
        return fail("history", 2, "--format: table, json or csv (not \"%s\")", o->format);
    if (o->has_to && o->to < o->from)
        return fail("history", 2, "--from %llu is after --to %llu", (unsigned long long)o->from,
                    (unsigned long long)o->to);
    return 0;
}

int tz_cli_history(int argc, char **argv)
{
    history_opts o = {0};
    int code = history_parse(argc, argv, &o);
    if (code != 0)
        return code < 0 ? 0 : code;
    tz_ledger *l = NULL;
    tz_err e;
    if (tz_ledger_open(&l, o.db, TZ_LEDGER_READONLY, NULL, &e) != TZ_OK)
        return fail("history", tz_status_exit_code(e.code), "%s", e.msg);
    json_t *doc = NULL;
    const char *kind = o.person != NULL ? "person" : "village";
    uint64_t size = tz_ledger_size(l);
    if (tz_replay_history(tz_ledger_store(l), size, kind, o.person ? o.person : o.village, o.from,
                          o.has_to ? o.to : (size ? size - 1 : 0), &doc, &e) != TZ_OK) {
        code = fail("history", tz_status_exit_code(e.code), "%s", e.msg);
    } else if (strcmp(o.format, "json") == 0) {
        char *s = json_dumps(doc, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        if (s != NULL)
            puts(s);
        else
            code = fail("history", 2, "out of memory");
        free(s);
    } else if (strcmp(o.format, "csv") == 0) {
        print_history_csv(doc);
    } else {
        print_history_table(doc);
    }
    if (code == 0)
        code = flush_stdout("history");
    json_decref(doc);
    tz_ledger_close(l);
    return code;
}
