/*
 * query.c: the query commands of `taizhang` (roster, attendance, leave,
 * absences, handover, term, recall, grade, eligibility, allowance, diff):
 * open the ledger read-only, fix the moment (--as-of SEQ|DATE, default the
 * newest entry), run projections/query.h and print the answer as a table
 * (aligned for a terminal, CJK counted as two columns, findings listed under
 * it), as CSV (RFC 4180, header row) or as the query's JSON document.
 *
 * Exit codes as the other commands: 0 ok, 2 usage or I/O (a filter the
 * query does not take, a missing --db), 3 bad input (an --as-of that is
 * neither a seq nor a date).
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "cli/client.h"
#include "ledger/ledger.h"
#include "projections/query.h"
#include "projections/view.h"
#include "util/status.h"
#include "util/time.h"

int tz_cli_is_query(const char *command);
int tz_cli_print_query(const char *command, const json_t *doc, const char *format, int explain);
int tz_cli_query(const char *progname, const char *command, const char *db, const char *as_of,
                 const char *from, const char *to, const char *village, const char *township,
                 const char *person, const char *unit, const char *year, const char *month,
                 const char *format, int explain, const char *server);

static const char *const query_commands[] = {"roster", "attendance", "leave", "absences",
                                             "handover", "term", "recall", "grade",
                                             "eligibility", "allowance", "diff"};

int tz_cli_is_query(const char *command)
{
    for (size_t i = 0; command != NULL && i < sizeof query_commands / sizeof query_commands[0]; i++)
        if (strcmp(command, query_commands[i]) == 0)
            return 1;
    return 0;
}

static const char *prog = "taizhang";

static int fail(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "%s: ", prog);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return code;
}

/* ---- cells ------------------------------------------------------------------ */

enum kind { K_STR, K_INT, K_BOOL, K_FEN, K_ROLE, K_LIST, K_FINDINGS, K_SEQS,
            K_CHECKS, K_CONS, K_WORDS, K_YESNO };

typedef struct col {
    const char *header;
    const char *key;
    enum kind kind;
} col;

static const char *role_cn(const char *role)
{
    if (strcmp(role, "first_secretary") == 0)
        return "第一书记";
    if (strcmp(role, "team_member") == 0)
        return "工作队员";
    if (strcmp(role, "township_liaison") == 0)
        return "包村干部";
    return role;
}

/* A growing string. */
typedef struct sbuf {
    char *s;
    size_t len, cap;
} sbuf;

static void sb_add(sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_add(sbuf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if (b->len + (size_t)n + 1 > b->cap) {
        size_t cap = (b->cap ? b->cap * 2 : 64) + (size_t)n;
        char *s = realloc(b->s, cap);
        if (s == NULL)
            return;
        b->s = s;
        b->cap = cap;
    }
    va_start(ap, fmt);
    vsnprintf(b->s + b->len, b->cap - b->len, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

static char *sb_take(sbuf *b)
{
    if (b->s == NULL)
        return strdup("");
    return b->s;
}

/* The text of one cell; csv: machine form (fen as integers, raw codes). */
static char *cell(const json_t *row, const col *c, int csv)
{
    json_t *v = json_object_get(row, c->key);
    sbuf b = {0};
    size_t i;
    json_t *x;
    switch (c->kind) {
    case K_STR:
        if (json_is_string(v))
            sb_add(&b, "%s", json_string_value(v));
        else if (json_is_integer(v))
            sb_add(&b, "%lld", (long long)json_integer_value(v));
        else if (json_is_boolean(v))
            sb_add(&b, "%s", json_is_true(v) ? "yes" : "no");
        break;
    case K_INT:
        if (json_is_integer(v))
            sb_add(&b, "%lld", (long long)json_integer_value(v));
        break;
    case K_YESNO:
        if (json_is_boolean(v))
            sb_add(&b, "%s", json_is_true(v) ? (csv ? "true" : "yes") : (csv ? "false" : "no"));
        break;
    case K_BOOL:
        if (json_is_true(v))
            sb_add(&b, "%s", csv ? "true" : "yes");
        else if (csv && json_is_false(v))
            sb_add(&b, "false");
        break;
    case K_FEN:
        if (json_is_integer(v)) {
            long long f = (long long)json_integer_value(v);
            if (csv)
                sb_add(&b, "%lld", f);
            else
                sb_add(&b, "%s%lld.%02lld", f < 0 ? "-" : "", llabs(f) / 100, llabs(f) % 100);
        }
        break;
    case K_ROLE:
        if (json_is_string(v))
            sb_add(&b, "%s", csv ? json_string_value(v) : role_cn(json_string_value(v)));
        break;
    case K_LIST:
    case K_SEQS:
    case K_WORDS:
        json_array_foreach(v, i, x) {
            const char *sep = i == 0 ? "" : c->kind == K_LIST ? "," : " ";
            if (json_is_string(x))
                sb_add(&b, "%s%s", sep, json_string_value(x));
            else if (json_is_integer(x))
                sb_add(&b, "%s%lld", sep, (long long)json_integer_value(x));
        }
        if (json_is_string(v))
            sb_add(&b, "%s", json_string_value(v));
        break;
    case K_FINDINGS:
        json_array_foreach(v, i, x)
            sb_add(&b, "%s%s", i ? (csv ? ";" : ",") : "", json_string_value(json_object_get(x, "code")) ?
                   json_string_value(json_object_get(x, "code")) : "?");
        break;
    case K_CHECKS:
        json_array_foreach(v, i, x) {
            json_t *d = json_is_array(x) ? json_array_get(x, 0) : x;
            if (json_is_string(d))
                sb_add(&b, "%s%s", i ? (csv ? ";" : ",") : "", json_string_value(d));
        }
        break;
    case K_CONS:
        json_array_foreach(v, i, x) {
            const char *fg = json_string_value(json_object_get(x, "forced_grade"));
            const char *mg = json_string_value(json_object_get(x, "max_grade"));
            sb_add(&b, "%s", i ? (csv ? ";" : ", ") : "");
            if (fg)
                sb_add(&b, "=%s", fg);
            else if (mg)
                sb_add(&b, "<=%s", mg);
            if (json_is_true(json_object_get(x, "recall")))
                sb_add(&b, "%srecall", fg || mg ? "+" : "");
        }
        break;
    }
    return sb_take(&b);
}

/* Display columns of a UTF-8 string: CJK and full-width forms count 2. */
static size_t display_width(const char *s)
{
    size_t w = 0;
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        uint32_t cp;
        int n;
        if (*p < 0x80) {
            cp = *p;
            n = 1;
        } else if ((*p & 0xE0) == 0xC0) {
            cp = *p & 0x1F;
            n = 2;
        } else if ((*p & 0xF0) == 0xE0) {
            cp = *p & 0x0F;
            n = 3;
        } else {
            cp = *p & 0x07;
            n = 4;
        }
        int i;
        for (i = 1; i < n && (p[i] & 0xC0) == 0x80; i++)
            cp = (cp << 6) | (p[i] & 0x3F);
        p += i;
        if ((cp >= 0x1100 && cp <= 0x115F) || (cp >= 0x2E80 && cp <= 0x303E) ||
            (cp >= 0x3041 && cp <= 0x33FF) || (cp >= 0x3400 && cp <= 0x4DBF) ||
            (cp >= 0x4E00 && cp <= 0x9FFF) || (cp >= 0xA000 && cp <= 0xA4CF) ||
            (cp >= 0xAC00 && cp <= 0xD7A3) || (cp >= 0xF900 && cp <= 0xFAFF) ||
            (cp >= 0xFE30 && cp <= 0xFE4F) || (cp >= 0xFF00 && cp <= 0xFF60) ||
            (cp >= 0xFFE0 && cp <= 0xFFE6) || (cp >= 0x20000 && cp <= 0x3FFFD))
            w += 2;
        else if (cp >= 0x20)
            w += 1;
    }
    return w;
}

static void pad(FILE *f, const char *s, size_t width, int right)
{
    size_t w = display_width(s);
    if (right)
        for (size_t i = w; i < width; i++)
            fputc(' ', f);
    fputs(s, f);
    if (!right)
        for (size_t i = w; i < width; i++)
            fputc(' ', f);
}

static int numeric(enum kind k)
{
    return k == K_INT || k == K_FEN;
}

static void print_table(FILE *f, const json_t *rows, const col *cols, size_t ncols, int explain)
{
    size_t nrows = json_array_size(rows), nc = ncols + (explain ? 1 : 0);
    col ex = {"explain", "explain", K_SEQS};
    char **cells = calloc((nrows + 1) * nc, sizeof *cells);
    size_t *width = calloc(nc, sizeof *width);
    if (cells == NULL || width == NULL) {
        free(cells);
        free(width);
        return;
    }
    for (size_t c = 0; c < nc; c++) {
        const col *cc = c < ncols ? &cols[c] : &ex;
        width[c] = display_width(cc->header);
        for (size_t r = 0; r < nrows; r++) {
            char *s = cell(json_array_get(rows, r), cc, 0);
            cells[r * nc + c] = s;
            size_t w = display_width(s);
            if (w > width[c])
                width[c] = w;
        }
    }
    for (size_t c = 0; c < nc; c++) {
        const col *cc = c < ncols ? &cols[c] : &ex;
        if (c + 1 < nc || numeric(cc->kind))
            pad(f, cc->header, width[c], numeric(cc->kind));
        else
            fputs(cc->header, f);
        fputs(c + 1 < nc ? "  " : "\n", f);
    }
    for (size_t c = 0; c < nc; c++) {
        for (size_t i = 0; i < width[c]; i++)
            fputc('-', f);
        fputs(c + 1 < nc ? "  " : "\n", f);
    }
    for (size_t r = 0; r < nrows; r++)
        for (size_t c = 0; c < nc; c++) {
            const col *cc = c < ncols ? &cols[c] : &ex;
            if (c + 1 < nc) {
                pad(f, cells[r * nc + c], width[c], numeric(cc->kind));
                fputs("  ", f);
            } else {
                if (numeric(cc->kind))
                    pad(f, cells[r * nc + c], width[c], 1);
                else
                    fputs(cells[r * nc + c], f);
                fputc('\n', f);
            }
        }
    for (size_t i = 0; i < nrows * nc; i++)
        free(cells[i]);
    free(cells);
    free(width);
}

/* RFC 4180: a field with a comma, quote, CR or LF is quoted, quotes doubled. */
static void csv_field(FILE *f, const char *s)
{
    if (strpbrk(s, ",\"\r\n") == NULL) {
        fputs(s, f);
        return;
    }
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"')
            fputc('"', f);
        fputc(*s, f);
    }
    fputc('"', f);
}

static void print_csv(FILE *f, const json_t *rows, const col *cols, size_t ncols, int explain)
{
    col ex = {"explain", "explain", K_SEQS};
    size_t nc = ncols + (explain ? 1 : 0);
    for (size_t c = 0; c < nc; c++) {
        csv_field(f, c < ncols ? cols[c].key : "explain");
        fputs(c + 1 < nc ? "," : "\r\n", f);
    }
    size_t r;
    json_t *row;
    json_array_foreach(rows, r, row)
        for (size_t c = 0; c < nc; c++) {
            char *s = cell(row, c < ncols ? &cols[c] : &ex, 1);
            csv_field(f, s);
            free(s);
            fputs(c + 1 < nc ? "," : "\r\n", f);
        }
}

/* ---- the commands' columns ------------------------------------------------------ */

static const col roster_cols[] = {
    {"village", "village", K_STR},   {"township", "township", K_STR}, {"name", "name", K_STR},
    {"person", "person", K_STR},     {"role", "role", K_ROLE},        {"unit", "unit", K_STR},
    {"start", "start", K_STR},       {"planned end", "planned_end", K_STR},
    {"end", "end", K_STR},           {"status", "status", K_STR},
    {"on leave", "on_leave", K_BOOL},
};
static const col coverage_cols[] = {
    {"village", "village", K_STR},      {"name", "name", K_STR},
    {"township", "township", K_STR},    {"category", "category", K_STR},
    {"第一书记", "first_secretary", K_INT}, {"工作队员", "team_member", K_INT},
    {"包村干部", "township_liaison", K_INT}, {"short", "short", K_BOOL},
};
static const col attendance_cols[] = {
    {"person", "person", K_STR},       {"month", "month", K_STR},
    {"village", "village", K_STR},     {"in village", "in_village", K_INT},
    {"business", "official_business", K_INT}, {"leave", "leave", K_INT},
    {"absent", "absent", K_INT},       {"rest", "rest", K_INT},
    {"status", "status", K_STR},       {"late", "late", K_BOOL},
    {"allowance", "allowance_fen", K_FEN}, {"findings", "findings", K_FINDINGS},
};
static const col leave_cols[] = {
    {"person", "person", K_STR},   {"request", "request", K_STR},  {"from", "from", K_STR},
    {"to", "to", K_STR},           {"days", "days", K_INT},        {"status", "status", K_STR},
    {"approver", "approver_role", K_STR}, {"returned", "returned", K_STR},
    {"findings", "findings", K_FINDINGS},
};
static const col absences_cols[] = {
    {"person", "person", K_STR},  {"year", "year", K_STR},       {"count", "count", K_INT},
    {"dates", "checks", K_CHECKS}, {"consequences", "consequences", K_CONS},
};
static const col handover_cols[] = {
    {"village", "village", K_STR},   {"handover", "handover", K_STR},
    {"outgoing", "outgoing", K_STR}, {"incoming", "incoming", K_STR},
    {"start", "start", K_STR},       {"status", "status", K_STR},
    {"working days", "working_days", K_INT}, {"min", "min_working_days", K_INT},
    {"completed", "completed", K_STR}, {"findings", "findings", K_FINDINGS},
};
static const col term_cols[] = {
    {"person", "person", K_STR},     {"name", "name", K_STR},     {"dispatch", "dispatch", K_STR},
    {"village", "village", K_STR},   {"role", "role", K_ROLE},    {"unit", "unit", K_STR},
    {"start", "start", K_STR},       {"planned end", "planned_end", K_STR},
    {"end", "end", K_STR},           {"status", "status", K_STR},
    {"cut short", "cut_short", K_BOOL}, {"reason", "recall_reason", K_STR},
};
static const col recall_cols[] = {
    {"person", "person", K_STR}, {"dispatch", "dispatch", K_STR}, {"unit", "unit", K_STR},
    {"date", "date", K_STR},     {"reason", "reason", K_STR},     {"clause", "clause", K_STR},
};
static const col unit_cols[] = {
    {"unit", "unit", K_STR}, {"year", "year", K_STR}, {"recalls", "count", K_INT},
    {"findings", "findings", K_FINDINGS},
};
static const col grade_cols[] = {
    {"person", "person", K_STR},   {"year", "year", K_STR},      {"grade", "grade", K_STR},
    {"dispatch", "dispatch", K_STR}, {"days stationed", "days_stationed", K_INT},
    {"recall required", "recall_required", K_STR},
};
static const col eligibility_cols[] = {
    {"person", "person", K_STR},      {"name", "name", K_STR},
    {"role", "role", K_ROLE},         {"village", "village", K_STR},
    {"days", "days_stationed", K_INT}, {"eligible", "eligible", K_YESNO},
    {"absences", "absences", K_INT},  {"highest grade", "max_grade", K_STR},
    {"assessed", "assessed", K_STR},
};
static const col allowance_cols[] = {
    {"person", "person", K_STR},  {"month", "month", K_STR}, {"village", "village", K_STR},
    {"days", "days", K_INT},      {"rate", "rate_fen", K_FEN}, {"allowance", "allowance_fen", K_FEN},
    {"status", "status", K_STR},
};
static const col totals_cols[] = {
    {"person", "person", K_STR}, {"months", "months", K_INT}, {"days", "days", K_INT},
    {"allowance", "allowance_fen", K_FEN},
};
static const col diff_cols[] = {
    {"seqs", "seqs", K_SEQS},     {"view", "view", K_STR},      {"subject", "subject", K_WORDS},
    {"change", "change", K_STR}, {"what changed", "summary", K_STR},
};

#define COLS(a) a, sizeof a / sizeof a[0]

static const struct {
    const char *name;
    const col *cols;
    size_t ncols;
} layouts[] = {
    {"roster", COLS(roster_cols)},       {"attendance", COLS(attendance_cols)},
    {"leave", COLS(leave_cols)},         {"absences", COLS(absences_cols)},
    {"handover", COLS(handover_cols)},   {"term", COLS(term_cols)},
    {"recall", COLS(recall_cols)},       {"grade", COLS(grade_cols)},
    {"eligibility", COLS(eligibility_cols)}, {"allowance", COLS(allowance_cols)},
    {"diff", COLS(diff_cols)},
};

/* ---- table extras ------------------------------------------------------------ */

static void print_findings(FILE *f, const json_t *findings)
{
    size_t n = json_array_size(findings);
    if (n == 0) {
        fprintf(f, "\nfindings: none\n");
        return;
    }
    fprintf(f, "\nfindings (%zu):\n", n);
    static const char *const ctx[] = {"person", "month", "year", "village", "request",
                                      "handover", "dispatch", "unit"};
    size_t i;
    json_t *x;
    json_array_foreach(findings, i, x) {
        const char *text = json_string_value(json_object_get(x, "text"));
        if (text == NULL)
            text = "";
        fprintf(f, "  [%s] ", json_string_value(json_object_get(x, "code")) ?
                json_string_value(json_object_get(x, "code")) : "?");
        int any = 0;
        for (size_t k = 0; k < sizeof ctx / sizeof ctx[0]; k++) {
            const char *v = json_string_value(json_object_get(x, ctx[k]));
            if (v != NULL && strstr(text, v) == NULL) {
                fprintf(f, "%s%s", any ? " " : "", v);
                any = 1;
            }
        }
        fprintf(f, "%s%s", any ? ": " : "", text);
        const char *clause = json_string_value(json_object_get(x, "clause"));
        if (clause != NULL && clause[0] != '\0')
            fprintf(f, " (%s)", clause);
        fputc('\n', f);
    }
}

/* Every explained entry in doc, once, by seq. */
static void gather_explained(const json_t *v, json_t *bySeq)
{
    if (json_is_object(v)) {
        json_t *ex = json_object_get(v, "explained");
        size_t i;
        json_t *e;
        json_array_foreach(ex, i, e) {
            char k[24];
            snprintf(k, sizeof k, "%020lld", (long long)json_integer_value(json_object_get(e, "seq")));
            json_object_set(bySeq, k, e);
        }
        const char *key;
        json_t *c;
        json_object_foreach((json_t *)v, key, c)
            if (strcmp(key, "explained") != 0)
                gather_explained(c, bySeq);
    } else if (json_is_array(v)) {
        size_t i;
        json_t *c;
        json_array_foreach(v, i, c)
            gather_explained(c, bySeq);
    }
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static void print_explained(FILE *f, const json_t *doc)
{
    json_t *by = json_object();
    gather_explained(doc, by);
    size_t n = json_object_size(by), k = 0;
    const char **keys = calloc(n ? n : 1, sizeof *keys);
    const char *key;
    json_t *e;
    json_object_foreach(by, key, e)
        keys[k++] = key;
    qsort(keys, n, sizeof *keys, cmp_str);
    fprintf(f, "\nentries (%zu):\n", n);
    for (k = 0; k < n; k++) {
        e = json_object_get(by, keys[k]);
        fprintf(f, "  %6lld  %-18s %s  at %s  recorded %s  signed by ",
                (long long)json_integer_value(json_object_get(e, "seq")),
                json_string_value(json_object_get(e, "type")),
                json_string_value(json_object_get(e, "id")),
                json_string_value(json_object_get(e, "at")),
                json_string_value(json_object_get(e, "recorded_at")));
        size_t i;
        json_t *s;
        json_array_foreach(json_object_get(e, "signers"), i, s)
            fprintf(f, "%s%s", i ? ", " : "", json_string_value(s));
        if (json_object_get(e, "cosigns") != NULL)
            fprintf(f, "  (cosign of %lld)",
                    (long long)json_integer_value(json_object_get(e, "cosigns")));
        fputc('\n', f);
    }
    free(keys);
    json_decref(by);
}

static void print_doc_table(FILE *f, const char *command, const json_t *doc, const col *cols,
                            size_t ncols, int explain)
{
    if (strcmp(command, "diff") == 0)
        fprintf(f, "changes to the projections by entries %lld < seq <= %lld\n\n",
                (long long)json_integer_value(json_object_get(doc, "from")),
                (long long)json_integer_value(json_object_get(doc, "to")));
    else {
        fprintf(f, "%s as of seq %lld", command,
                (long long)json_integer_value(json_object_get(doc, "as_of")));
        if (json_object_get(doc, "day") != NULL)
            fprintf(f, " (%s)", json_string_value(json_object_get(doc, "day")));
        if (json_is_string(json_object_get(doc, "profile")))
            fprintf(f, ", profile %s", json_string_value(json_object_get(doc, "profile")));
        const char *k;
        json_t *v;
        json_object_foreach(json_object_get(doc, "filters"), k, v) {
            if (json_is_string(v))
                fprintf(f, ", %s %s", k, json_string_value(v));
            else
                fprintf(f, ", %s %lld", k, (long long)json_integer_value(v));
        }
        fprintf(f, ": %zu row(s)\n\n", json_array_size(json_object_get(doc, "rows")));
    }
    print_table(f, json_object_get(doc, "rows"), cols, ncols, explain);
    if (strcmp(command, "roster") == 0 && json_array_size(json_object_get(doc, "coverage"))) {
        fprintf(f, "\ncoverage (active and handing-over members):\n\n");
        print_table(f, json_object_get(doc, "coverage"), COLS(coverage_cols), 0);
    }
    if (strcmp(command, "recall") == 0 && json_array_size(json_object_get(doc, "units"))) {
        fprintf(f, "\nrecalls per unit and year:\n\n");
        print_table(f, json_object_get(doc, "units"), COLS(unit_cols), explain);
    }
    if (strcmp(command, "allowance") == 0) {
        fprintf(f, "\ntotals:\n\n");
        print_table(f, json_object_get(doc, "totals"), COLS(totals_cols), 0);
        long long t = (long long)json_integer_value(json_object_get(doc, "total_fen"));
        fprintf(f, "\ntotal: %lld.%02lld yuan for %lld day(s) in the village\n", t / 100, t % 100,
                (long long)json_integer_value(json_object_get(doc, "total_days")));
    }
    if (strcmp(command, "diff") != 0)
        print_findings(f, json_object_get(doc, "findings"));
    if (explain)
        print_explained(f, doc);
}

/* ---- the command ------------------------------------------------------------- */

/* Prints a query's document as table, json or csv. */
static int print_doc(const char *command, const json_t *doc, const char *format, int explain)
{
    int code = 0;
    const col *cols = NULL;
    size_t ncols = 0;
    for (size_t i = 0; i < sizeof layouts / sizeof layouts[0]; i++)
        if (strcmp(layouts[i].name, command) == 0) {
            cols = layouts[i].cols;
            ncols = layouts[i].ncols;
        }
    if (strcmp(format, "json") == 0) {
        char *s = json_dumps(doc, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        if (s != NULL) {
            puts(s);
            free(s);
        } else {
            code = fail(2, "out of memory");
        }
    } else if (strcmp(format, "csv") == 0) {
        print_csv(stdout, json_object_get(doc, "rows"), cols, ncols, explain);
    } else {
        print_doc_table(stdout, command, doc, cols, ncols, explain);
    }
    if (code == 0 && fflush(stdout) != 0)
        code = fail(2, "writing the output failed");
    return code;
}

/* --server: GET /v1/projections/{command} with the same filters. */
static int remote_query(const char *server, const char *command, const char *as_of,
                        const char *village, const char *township, const char *person,
                        const char *unit, const char *year, const char *month, int explain,
                        json_t **doc)
{
    tz_client *c;
    tz_err e;
    *doc = NULL;
    if (tz_client_open(&c, server, &e) != TZ_OK)
        return fail(tz_status_exit_code(e.code), "%s", e.msg);
    char path[2048];
    snprintf(path, sizeof path, "/v1/projections/%s", command);
    if (tz_client_add_param(path, sizeof path, "village", village) ||
        tz_client_add_param(path, sizeof path, "township", township) ||
        tz_client_add_param(path, sizeof path, "person", person) ||
        tz_client_add_param(path, sizeof path, "unit", unit) ||
        tz_client_add_param(path, sizeof path, "year", year) ||
        tz_client_add_param(path, sizeof path, "month", month) ||
        tz_client_add_param(path, sizeof path, "as_of", as_of) ||
        tz_client_add_param(path, sizeof path, "explain", explain ? "1" : NULL)) {
        tz_client_close(c);
        return fail(2, "the filters are too long");
    }
    tz_client_reply r;
    int code = 0;
    if (tz_client_request(c, "GET", path, NULL, NULL, 0, &r, &e) != TZ_OK) {
        code = fail(2, "%s", e.msg);
    } else if (r.status != 200) {
        char msg[TZ_ERR_MSG_MAX + 64];
        code = fail(tz_client_exit_code(&r), "%s", tz_client_message(&r, msg, sizeof msg));
    } else if ((*doc = tz_client_json(&r)) == NULL) {
        code = fail(2, "%s: the server's answer is not JSON", path);
    }
    tz_client_reply_free(&r);
    tz_client_close(c);
    return code;
}

static int parse_year(const char *s, int *year)
{
    if (strlen(s) != 4 || strspn(s, "0123456789") != 4)
        return -1;
    *year = atoi(s);
    return *year >= 1900 ? 0 : -1;
}

/* Prints a query's document as `command` prints it (diff --bundle renders
 * through here). */
int tz_cli_print_query(const char *command, const json_t *doc, const char *format, int explain)
{
    return print_doc(command, doc, format, explain);
}

int tz_cli_query(const char *progname, const char *command, const char *db, const char *as_of,
                 const char *from, const char *to, const char *village, const char *township,
                 const char *person, const char *unit, const char *year, const char *month,
                 const char *format, int explain, const char *server)
{
    prog = progname;
    int diff = strcmp(command, "diff") == 0;
    if (format == NULL)
        format = isatty(STDOUT_FILENO) ? "table" : "json";
    if (strcmp(format, "table") != 0 && strcmp(format, "json") != 0 && strcmp(format, "csv") != 0)
        return fail(2, "--format: table, json or csv");
    if (db == NULL && server == NULL)
        return fail(2, "--db DIR or --server URL is required");
    if (server != NULL && diff)
        return fail(2, "diff: works on a ledger directory only (--db DIR)");
    if (diff && (from == NULL || to == NULL))
        return fail(2, "diff: --from A and --to B are required (seqs or dates YYYY-MM-DD)");
    if (diff && (as_of || village || township || person || unit || year || month))
        return fail(2, "diff: takes --from and --to, no --as-of or filters");
    if (!diff && (from || to))
        return fail(2, "%s: --from/--to belong to diff; use --as-of SEQ|DATE", command);
    int y = 0, m = 0, my = 0;
    if (year != NULL && parse_year(year, &y) != 0)
        return fail(2, "--year: \"%s\" is not a year YYYY", year);
    if (month != NULL) {
        char ys[5];
        if (strlen(month) != 7 || month[4] != '-' || strspn(month, "0123456789-") != 7)
            return fail(2, "--month: \"%s\" is not a month YYYY-MM", month);
        memcpy(ys, month, 4);
        ys[4] = '\0';
        m = atoi(month + 5);
        if (parse_year(ys, &my) != 0 || m < 1 || m > 12)
            return fail(2, "--month: \"%s\" is not a month YYYY-MM", month);
        if (y != 0 && y != my)
            return fail(2, "--year %d and --month %s disagree", y, month);
        y = my;
    }

    if (server != NULL) {
        json_t *doc = NULL;
        int code = remote_query(server, command, as_of, village, township, person, unit, year,
                                month, explain, &doc);
        if (code == 0)
            code = print_doc(command, doc, format, explain);
        json_decref(doc);
        return code;
    }
    tz_ledger *l = NULL;
    tz_err e;
    if (tz_ledger_open(&l, db, TZ_LEDGER_READONLY, NULL, &e) != TZ_OK)
        return fail(tz_status_exit_code(e.code), "%s", e.msg);
    tz_store *store = tz_ledger_store(l);
    uint64_t size = tz_ledger_size(l);
    json_t *doc = NULL;
    int rc = TZ_OK;
    if (diff) {
        uint64_t a, b;
        if ((rc = tz_view_parse_as_of(store, size, from, &a, &e)) != TZ_OK)
            tz_err_prefix(&e, "--from: ");
        else if ((rc = tz_view_parse_as_of(store, size, to, &b, &e)) != TZ_OK)
            tz_err_prefix(&e, "--to: ");
        else
            rc = tz_query_diff(store, a, b, &doc, &e);
    } else {
        tz_query q;
        tz_query_init(&q, store, size ? size - 1 : 0);
        int64_t day;
        if (as_of != NULL)
            rc = tz_view_parse_as_of(store, size, as_of, &q.as_of, &e);
        /* --as-of DATE: "now" questions (on leave) are asked of that day */
        if (as_of != NULL && rc == TZ_OK &&
            tz_time_parse_date(as_of, strlen(as_of), "--as-of", &day, NULL) == TZ_OK)
            q.day = day;
        else if (size == 0)
            rc = tz_err_set(&e, TZ_ERR_NOTFOUND, "the ledger is empty");
        q.village = village;
        q.township = township;
        q.person = person;
        q.unit = unit;
        q.year = y;
        q.month = m;
        if (rc == TZ_OK)
            rc = tz_query_run(command, &q, &doc, &e);
    }
    if (rc == TZ_OK && explain)
        rc = tz_query_explain(store, doc, &e);
    int code = 0;
    if (rc != TZ_OK)
        code = fail(tz_status_exit_code(rc), "%s", e.msg);
    else
        code = print_doc(command, doc, format, explain);
    json_decref(doc);
    tz_ledger_close(l);
    return code;
}
