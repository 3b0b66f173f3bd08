/*
 * taizhang: the command line. A thin front over libtaizhang: it parses
 * arguments, reads and writes files and JSON, and maps library statuses to
 * the exit codes other tools rely on:
 *   0 success · 1 tampering or an invalid proof · 2 usage, I/O or internal
 *   error · 3 input rejected (nothing of the rejected statement written).
 * Machine-readable output is JSON; errors go to stderr as one line.
 */
#include <errno.h>
#include <stdarg.h>
#include <getopt.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/client.h"
#include "cli/commands.h"
#include "crypto/hash.h"
#include "crypto/key.h"
#include "crypto/keyfile.h"
#include "ledger/checkpoint.h"
#include "ledger/codec.h"
#include "ledger/entry.h"
#include "ledger/entry_json.h"
#include "ledger/ledger.h"
#include "ledger/rebuild.h"
#include "ledger/merkle.h"
#include "ledger/statement.h"
#include "ledger/verify.h"
#include "ledger/witness.h"
#include "projections/view.h"
#include "util/encoding.h"
#include "util/status.h"
#include "util/time.h"

#define MAX_KEYS TZ_ENTRY_MAX_SIGS
#define MAX_LINE (1u << 20)
#define APPEND_GROUP 256

static const char *progname = "taizhang";
static const char *command_name = ""; /* the command being run (for its options) */

/* cli/query.c */
int tz_cli_is_query(const char *command);
int tz_cli_query(const char *progname, const char *command, const char *db, const char *as_of,
                 const char *from, const char *to, const char *village, const char *township,
                 const char *person, const char *unit, const char *year, const char *month,
                 const char *format, int explain, const char *server);

static int fail(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "%s: ", progname);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return code;
}

static int fail_err(const tz_err *e)
{
    return fail(tz_status_exit_code(e->code), "%s", e->msg);
}

static const char *passphrase(void)
{
    const char *p = getenv("TAIZHANG_PASSPHRASE");
    return p && *p ? p : NULL;
}

static int parse_u64(const char *s, const char *opt, uint64_t *out)
{
    char *end;
    errno = 0;
    if (s == NULL || *s == '\0' || *s == '-')
        return fail(2, "%s: expects a non-negative integer", opt);
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end != '\0')
        return fail(2, "%s: \"%s\" is not a non-negative integer", opt, s);
    *out = v;
    return 0;
}

static void print_json(json_t *j, int compact)
{
    char *s = json_dumps(j, compact ? JSON_COMPACT : JSON_INDENT(2));
    if (s != NULL) {
        puts(s);
        free(s);
    }
}

static json_t *b64_string(const uint8_t *b, size_t n)
{
    char buf[4 * 128 / 3 + 8];
    if (tz_base64_encoded_len(n) > sizeof buf)
        return NULL;
    return json_string(tz_base64_encode(buf, sizeof buf, b, n));
}

static json_t *hex_string(const uint8_t *b, size_t n)
{
    char buf[2 * 64 + 1];
    if (n > 64)
        return NULL;
    tz_hex_encode(buf, b, n);
    return json_string(buf);
}

/* ---- options ------------------------------------------------------------ */

typedef struct opts {
    const char *db, *server, *name, *out, *origin, *log_key, *in, *trusted, *id, *type;
    const char *keys_dir, *profile, *calendar; /* demo */
    /* queries (cli/query.c) */
    const char *village, *township, *person, *unit, *year, *month, *as_of, *format;
    const char *from_arg, *to_arg;
    int explain;
    const char *keys[MAX_KEYS];
    size_t nkeys;
    const char *roots[MAX_KEYS];
    size_t nroots;
    int json, seal, has_seq, has_size, has_from, has_to, has_seed, has_months, has_villages;
    uint64_t seq, size, from, to, seed, months, villages;
    /* verify: the witness policy (docs/WITNESS.md) */
    const char *witnesses[TZ_WITNESS_MAX];
    size_t nwitnesses;
    int has_needed;
    uint64_t needed;
} opts;

enum { O_DB = 1000, O_NAME, O_OUT, O_ORIGIN, O_LOGKEY, O_ROOT, O_KEY, O_IN, O_SEQ, O_SIZE,
       O_FROM, O_TO, O_TRUSTED, O_JSON, O_FORMAT, O_SEAL, O_ID, O_TYPE, O_HELP, O_KEYS, O_SEED,
       O_MONTHS, O_VILLAGES, O_PROFILE, O_CALENDAR, O_VILLAGE, O_TOWNSHIP, O_PERSON, O_UNIT,
       O_YEAR, O_MONTH, O_AS_OF, O_EXPLAIN, O_SERVER, O_WITNESS, O_WITNESSES_NEEDED };

static const struct option long_opts[] = {
    {"db", required_argument, 0, O_DB},          {"name", required_argument, 0, O_NAME},
    {"out", required_argument, 0, O_OUT},        {"origin", required_argument, 0, O_ORIGIN},
    {"log-key", required_argument, 0, O_LOGKEY}, {"root", required_argument, 0, O_ROOT},
    {"key", required_argument, 0, O_KEY},        {"in", required_argument, 0, O_IN},
    {"seq", required_argument, 0, O_SEQ},        {"size", required_argument, 0, O_SIZE},
    {"from", required_argument, 0, O_FROM},      {"to", required_argument, 0, O_TO},
    {"trusted", required_argument, 0, O_TRUSTED}, {"json", no_argument, 0, O_JSON},
    {"format", required_argument, 0, O_FORMAT},  {"seal", no_argument, 0, O_SEAL},
    {"id", required_argument, 0, O_ID},          {"type", required_argument, 0, O_TYPE},
    {"help", no_argument, 0, O_HELP},            {"keys", required_argument, 0, O_KEYS},
    {"seed", required_argument, 0, O_SEED},      {"months", required_argument, 0, O_MONTHS},
    {"villages", required_argument, 0, O_VILLAGES}, {"profile", required_argument, 0, O_PROFILE},
    {"calendar", required_argument, 0, O_CALENDAR}, {"village", required_argument, 0, O_VILLAGE},
    {"township", required_argument, 0, O_TOWNSHIP}, {"person", required_argument, 0, O_PERSON},
    {"unit", required_argument, 0, O_UNIT},      {"year", required_argument, 0, O_YEAR},
    {"month", required_argument, 0, O_MONTH},    {"as-of", required_argument, 0, O_AS_OF},
    {"explain", no_argument, 0, O_EXPLAIN},      {"server", required_argument, 0, O_SERVER},
    {"witness", required_argument, 0, O_WITNESS},
    {"witnesses-needed", required_argument, 0, O_WITNESSES_NEEDED},
    {0, 0, 0, 0},
};

/* The limits on option values (docs/API.md, "Limits on input"), checked
 * once before any command runs, so --db and --server refuse the same
 * values with the same words. Ids and filters have the statement id's
 * bound (no ledger can hold a longer one, so a lookup by it could only
 * miss); paths must fit PATH_MAX with the suffixes added to them (".pub",
 * a file name inside --db), so nothing is silently cut by snprintf.
 * Returns 0, or 3 after printing the field and the rule. */
#define CLI_PATH_MAX (PATH_MAX - 64)
static int check_limits(const opts *o)
{
    const struct {
        const char *name, *value;
        size_t max;
    } text[] = {
        {"--id", o->id, TZ_STATEMENT_ID_MAX},
        {"--person", o->person, TZ_STATEMENT_ID_MAX},
        {"--village", o->village, TZ_STATEMENT_ID_MAX},
        {"--township", o->township, TZ_STATEMENT_ID_MAX},
        {"--unit", o->unit, TZ_STATEMENT_ID_MAX},
        {"--type", o->type, TZ_STATEMENT_TYPE_MAX},
        {"--as-of", o->as_of, 64},
        {"--year", o->year, 64},
        {"--month", o->month, 64},
        {"--from", o->from_arg, 64},
        {"--to", o->to_arg, 64},
        {"--format", o->format, 64},
        {"--name", o->name, TZ_KEY_NAME_MAX},
        {"--origin", o->origin, TZ_ORIGIN_MAX},
        {"--server", o->server, 255},
    };
    tz_err e;
    for (size_t i = 0; i < sizeof text / sizeof text[0]; i++)
        if (text[i].value != NULL &&
            tz_text_check(text[i].name, text[i].value, strlen(text[i].value), text[i].max, &e) !=
                TZ_OK)
            return fail_err(&e);
    /* paths are bytes, not text (a Linux file name need not be UTF-8): length only */
    const char *const one_path[] = {o->db, o->out, o->in, o->trusted, o->log_key, o->keys_dir,
                                    o->profile, o->calendar};
    static const char *const one_name[] = {"--db", "--out", "--in", "--trusted", "--log-key",
                                           "--keys", "--profile", "--calendar"};
    for (size_t i = 0; i < sizeof one_path / sizeof one_path[0]; i++)
        if (one_path[i] != NULL && strlen(one_path[i]) > CLI_PATH_MAX)
            return fail(3, "%s: %zu bytes (at most %d)", one_name[i], strlen(one_path[i]),
                        CLI_PATH_MAX);
    const struct {
        const char *name;
        const char *const *paths;
        size_t n;
    } lists[] = {{"--key", o->keys, o->nkeys}, {"--root", o->roots, o->nroots},
                 {"--witness", o->witnesses, o->nwitnesses}};
    for (size_t i = 0; i < sizeof lists / sizeof lists[0]; i++)
        for (size_t j = 0; j < lists[i].n; j++)
            if (strlen(lists[i].paths[j]) > CLI_PATH_MAX)
                return fail(3, "%s: %zu bytes (at most %d)", lists[i].name,
                            strlen(lists[i].paths[j]), CLI_PATH_MAX);
    return 0;
}

static int parse_opts(int argc, char **argv, opts *o)
{
    memset(o, 0, sizeof *o);
    optind = 1;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, "", long_opts, NULL)) != -1) {
        switch (c) {
        case O_DB: o->db = optarg; break;
        case O_SERVER: o->server = optarg; break;
        case O_NAME: o->name = optarg; break;
        case O_OUT: o->out = optarg; break;
        case O_ORIGIN: o->origin = optarg; break;
        case O_LOGKEY: o->log_key = optarg; break;
        case O_IN: o->in = optarg; break;
        case O_TRUSTED: o->trusted = optarg; break;
        case O_ID: o->id = optarg; break;
        case O_TYPE: o->type = optarg; break;
        case O_JSON: o->json = 1; break;
        case O_SEAL: o->seal = 1; break;
        case O_FORMAT:
            o->format = optarg;
            if (tz_cli_is_query(command_name))
                break; /* table, json or csv: checked by the query */
            if (strcmp(optarg, "json") != 0)
                return fail(2, "--format: only \"json\" is supported here");
            o->json = 1;
            break;
        case O_VILLAGE: o->village = optarg; break;
        case O_TOWNSHIP: o->township = optarg; break;
        case O_PERSON: o->person = optarg; break;
        case O_UNIT: o->unit = optarg; break;
        case O_YEAR: o->year = optarg; break;
        case O_MONTH: o->month = optarg; break;
        case O_AS_OF: o->as_of = optarg; break;
        case O_EXPLAIN: o->explain = 1; break;
        case O_ROOT:
            if (o->nroots == MAX_KEYS)
                return fail(2, "--root: at most %d", MAX_KEYS);
            o->roots[o->nroots++] = optarg;
            break;
        case O_KEY:
            if (o->nkeys == MAX_KEYS)
                return fail(2, "--key: at most %d", MAX_KEYS);
            o->keys[o->nkeys++] = optarg;
            break;
        case O_SEQ: o->has_seq = 1; if (parse_u64(optarg, "--seq", &o->seq)) return 2; break;
        case O_SIZE: o->has_size = 1; if (parse_u64(optarg, "--size", &o->size)) return 2; break;
        case O_FROM:
            o->from_arg = optarg; /* diff: a seq or a date */
            if (!tz_cli_is_query(command_name) && parse_u64(optarg, "--from", &o->from))
                return 2;
            o->has_from = 1;
            break;
        case O_TO:
            o->to_arg = optarg;
            if (!tz_cli_is_query(command_name) && parse_u64(optarg, "--to", &o->to))
                return 2;
            o->has_to = 1;
            break;
        case O_KEYS: o->keys_dir = optarg; break;
        case O_PROFILE: o->profile = optarg; break;
        case O_CALENDAR: o->calendar = optarg; break;
        case O_SEED: o->has_seed = 1; if (parse_u64(optarg, "--seed", &o->seed)) return 2; break;
        case O_MONTHS: o->has_months = 1; if (parse_u64(optarg, "--months", &o->months)) return 2; break;
        case O_VILLAGES:
            o->has_villages = 1;
            if (parse_u64(optarg, "--villages", &o->villages))
                return 2;
            break;
        case O_WITNESS:
            if (o->nwitnesses == TZ_WITNESS_MAX)
                return fail(2, "--witness: at most %d", TZ_WITNESS_MAX);
            o->witnesses[o->nwitnesses++] = optarg;
            break;
        case O_WITNESSES_NEEDED:
            o->has_needed = 1;
            if (parse_u64(optarg, "--witnesses-needed", &o->needed))
                return 2;
            break;
        case O_HELP: return -1;
        default:
            return fail(2, "unknown or incomplete option \"%s\" (see `taizhang help`)",
                        argv[optind - 1]);
        }
    }
    if (optind < argc)
        return fail(2, "unexpected argument \"%s\"", argv[optind]);
    int limits = check_limits(o);
    if (limits != 0)
        return limits;
    int is_log = strcmp(command_name, "log") == 0;
    if (!tz_cli_is_query(command_name) &&
        (((o->village || o->person) && !is_log) || o->township || o->unit || o->year ||
         o->month || o->as_of || o->explain))
        return fail(2, "--village, --township, --person, --unit, --year, --month, --as-of and "
                    "--explain belong to the query commands, --person and --village also to log "
                    "(see `taizhang help`)");
    if (o->server != NULL && o->db != NULL)
        return fail(2, "give --db DIR (the ledger here) or --server URL (a taizhangd), not both");
    if ((o->nwitnesses > 0 || o->has_needed) && strcmp(command_name, "verify") != 0)
        return fail(2, "--witness and --witnesses-needed belong to verify (the witness policy)");
    static const char *const remote_ok[] = {"append", "cosign", "get", "log", "checkpoint",
                                            "prove", "roster", "attendance", "leave", "absences",
                                            "handover", "term", "recall", "grade", "eligibility",
                                            "allowance", NULL};
    int ok = 0;
    for (size_t i = 0; remote_ok[i] != NULL; i++)
        ok |= strcmp(command_name, remote_ok[i]) == 0;
    if (o->server != NULL && !ok)
        return fail(2, "--server: %s works on a ledger directory only (--db DIR)", command_name);
    return 0;
}

/* ---- --server: the same commands through a running taizhangd ------------ */

static int remote_open(tz_client **c, const opts *o)
{
    tz_err e;
    if (tz_client_open(c, o->server, &e) != TZ_OK)
        return fail_err(&e);
    return 0;
}

/* Makes one request. 0 with *r filled on a 2xx reply; otherwise prints the
 * server's message (after prefix) and returns the exit code. */
static int remote_call(tz_client *c, const char *method, const char *path, const char *body,
                       tz_client_reply *r, const char *prefix)
{
    tz_err e;
    if (tz_client_request(c, method, path, "application/json", body, body ? strlen(body) : 0, r,
                          &e) != TZ_OK)
        return fail_err(&e);
    if (r->status >= 200 && r->status < 300)
        return 0;
    char msg[TZ_ERR_MSG_MAX + 64];
    int code = tz_client_exit_code(r);
    fail(code, "%s%s", prefix ? prefix : "", tz_client_message(r, msg, sizeof msg));
    tz_client_reply_free(r);
    return code;
}

/* remote_call, and the reply parsed as JSON (2 when it is not). */
static int remote_json(tz_client *c, const char *method, const char *path, const char *body,
                       json_t **out, const char *prefix)
{
    tz_client_reply r;
    *out = NULL;
    int rc = remote_call(c, method, path, body, &r, prefix);
    if (rc)
        return rc;
    *out = tz_client_json(&r);
    tz_client_reply_free(&r);
    return *out == NULL ? fail(2, "%s%s: the server's answer is not JSON", prefix ? prefix : "",
                               path) : 0;
}

/* The POST /v1/statements body for a statement and its signatures. */
static char *submission_body(json_t *statement, const tz_signature *sigs, size_t nsigs)
{
    json_t *arr = json_array();
    for (size_t i = 0; i < nsigs; i++) {
        char key[65], sig[128];
        tz_hex_encode(key, sigs[i].key, 32);
        tz_base64_encode(sig, sizeof sig, sigs[i].sig, 64);
        json_array_append_new(arr, json_pack("{s:s,s:s}", "key", key, "sig", sig));
    }
    json_t *doc = json_pack("{s:O,s:o}", "statement", statement, "signatures", arr);
    char *s = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
    json_decref(doc);
    return s;
}

/* Decodes the entry_b64 of an entry's JSON into malloc'd bytes. */
static uint8_t *entry_bytes(const json_t *j, size_t *len)
{
    const char *b64 = json_string_value(json_object_get(j, "entry_b64"));
    if (b64 == NULL)
        return NULL;
    size_t cap = strlen(b64);
    uint8_t *raw = malloc(cap + 1);
    if (raw == NULL || tz_base64_decode(raw, cap + 1, len, b64, cap, NULL) != TZ_OK) {
        free(raw);
        return NULL;
    }
    return raw;
}

static int need(const char *v, const char *opt)
{
    return v == NULL ? fail(2, "%s is required", opt) : 0;
}

static int open_ledger(tz_ledger **l, const opts *o, int flags)
{
    if (need(o->db, "--db"))
        return 2;
    tz_err e;
    if (tz_ledger_open(l, o->db, flags, passphrase(), &e) != TZ_OK)
        return fail_err(&e);
    return 0;
}

/* ---- commands ----------------------------------------------------------- */

static int cmd_keygen(const opts *o)
{
    if (need(o->name, "--name") || need(o->out, "--out"))
        return 2;
    const char *pass = NULL;
    if (o->seal && (pass = passphrase()) == NULL)
        return fail(2, "--seal: set the passphrase in TAIZHANG_PASSPHRASE");
    tz_secret_key k;
    tz_err e;
    char pub[PATH_MAX];
    if (snprintf(pub, sizeof pub, "%s.pub", o->out) >= (int)sizeof pub)
        return fail(2, "--out: path too long");
    /* Refuse before writing anything, so a failure never leaves half a pair. */
    if (access(o->out, F_OK) == 0 || access(pub, F_OK) == 0)
        return fail(2, "--out %s: %s or %s.pub already exists; keys are never overwritten", o->out,
                    o->out, o->out);
    int rc = tz_key_generate(&k, o->name, &e);
    if (rc == TZ_OK)
        rc = tz_keyfile_write_secret(o->out, &k, pass, &e);
    if (rc == TZ_OK)
        rc = tz_keyfile_write_public(pub, &k.pub, &e);
    char vkey[TZ_KEY_STRING_MAX];
    if (rc == TZ_OK)
        rc = tz_key_format_public(vkey, sizeof vkey, &k.pub, &e);
    tz_key_wipe(&k);
    if (rc != TZ_OK)
        return fail_err(&e);
    puts(vkey);
    return 0;
}

static int cmd_init(const opts *o)
{
    if (need(o->db, "--db") || need(o->origin, "--origin") || need(o->log_key, "--log-key"))
        return 2;
    if (o->nroots == 0)
        return fail(2, "--root FILE.pub is required (the root authority keys; repeat for several)");
    tz_public_key roots[MAX_KEYS];
    tz_err e;
    for (size_t i = 0; i < o->nroots; i++)
        if (tz_keyfile_read_public(&roots[i], o->roots[i], &e) != TZ_OK)
            return fail_err(&e);
    if (tz_ledger_create(o->db, o->origin, o->log_key, passphrase(), roots, o->nroots, &e) != TZ_OK)
        return fail_err(&e);
    tz_ledger *l;
    int rc = open_ledger(&l, o, TZ_LEDGER_READONLY);
    if (rc)
        return rc;
    uint8_t leaf[32];
    if (tz_ledger_leaf_hash(l, 0, leaf, &e) != TZ_OK) {
        tz_ledger_close(l);
        return fail_err(&e);
    }
    json_t *j = json_pack("{s:I,s:o}", "seq", (json_int_t)0, "leaf_hash", hex_string(leaf, 32));
    print_json(j, 1);
    json_decref(j);
    tz_ledger_close(l);
    return 0;
}

typedef struct signer_set {
    tz_secret_key keys[MAX_KEYS];
    const tz_secret_key *ptrs[MAX_KEYS]; /* ptrs[i] = &keys[i], for tz_statement_sign */
    size_t n;
} signer_set;

static int load_signers(signer_set *s, const opts *o)
{
    if (o->nkeys == 0)
        return fail(2, "--key FILE is required (repeat it to sign with several keys)");
    s->n = 0;
    for (size_t i = 0; i < o->nkeys; i++) {
        tz_err e;
        if (tz_keyfile_read_secret(&s->keys[i], o->keys[i], passphrase(), &e) != TZ_OK) {
            for (size_t j = 0; j < i; j++)
                tz_key_wipe(&s->keys[j]);
            return fail_err(&e);
        }
        s->ptrs[i] = &s->keys[i];
        s->n++;
    }
    return 0;
}

static void wipe_signers(signer_set *s)
{
    for (size_t i = 0; i < s->n; i++)
        tz_key_wipe(&s->keys[i]);
}

/* One line of append input, encoded and signed. */
typedef struct pending {
    msgpack_sbuffer sb;
    tz_signature sigs[MAX_KEYS];
    size_t line;
} pending;

static int flush_group(tz_ledger *l, pending *p, size_t n, tz_submission *subs,
                       tz_append_result *res)
{
    if (n == 0)
        return 0;
    size_t processed = 0;
    tz_err e;
    int rc = tz_ledger_append(l, subs, n, res, &processed, TZ_APPEND_STOP_ON_REJECT, &e);
    if (rc != TZ_OK)
        return fail_err(&e);
    for (size_t i = 0; i < processed; i++) {
        if (res[i].status != TZ_OK)
            return fail(tz_status_exit_code(res[i].status), "line %zu: %s", p[i].line,
                        res[i].err.msg);
        json_t *j = json_pack("{s:I,s:o}", "seq", (json_int_t)res[i].seq, "leaf_hash",
                              hex_string(res[i].leaf_hash, 32));
        if (res[i].existing)
            json_object_set_new(j, "existing", json_true());
        print_json(j, 1);
        json_decref(j);
    }
    fflush(stdout);
    return 0;
}

/* Submits one signed line to the daemon and prints its answer as the local
 * append does ({"seq","leaf_hash"}, "existing" on an identical retry). */
static int post_line(tz_client *c, json_t *statement, const tz_signature *sigs, size_t nsigs,
                     size_t lineno)
{
    char *body = submission_body(statement, sigs, nsigs);
    if (body == NULL)
        return fail(2, "out of memory");
    char prefix[48];
    snprintf(prefix, sizeof prefix, "line %zu: ", lineno);
    json_t *j;
    int rc = remote_json(c, "POST", "/v1/statements", body, &j, prefix);
    free(body);
    if (rc)
        return rc;
    print_json(j, 1);
    fflush(stdout);
    json_decref(j);
    return 0;
}

static int cmd_append(const opts *o)
{
    signer_set signers;
    int rc = load_signers(&signers, o);
    if (rc)
        return rc;
    FILE *in = stdin;
    if (o->in != NULL && (in = fopen(o->in, "r")) == NULL) {
        wipe_signers(&signers);
        return fail(2, "--in %s: %s", o->in, strerror(errno));
    }
    tz_ledger *l = NULL;
    tz_client *c = NULL;
    if ((rc = o->server ? remote_open(&c, o) : open_ledger(&l, o, 0)) != 0) {
        wipe_signers(&signers);
        if (in != stdin)
            fclose(in);
        return rc;
    }
    pending *p = calloc(APPEND_GROUP, sizeof *p);
    tz_submission *subs = calloc(APPEND_GROUP, sizeof *subs);
    tz_append_result *res = calloc(APPEND_GROUP, sizeof *res);
    char *line = malloc(MAX_LINE + 2);
    if (p == NULL || subs == NULL || res == NULL || line == NULL) {
        rc = fail(2, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < APPEND_GROUP; i++)
        msgpack_sbuffer_init(&p[i].sb);
    size_t n = 0, lineno = 0;
    while (rc == 0 && fgets(line, MAX_LINE + 2, in) != NULL) {
        lineno++;
        size_t len = strlen(line);
        if (len > MAX_LINE) {
            rc = flush_group(l, p, n, subs, res);
            if (rc == 0)
                rc = fail(3, "line %zu: longer than %u bytes", lineno, MAX_LINE);
            break;
        }
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
            line[--len] = '\0';
        if (len == 0)
            continue;
        json_error_t je;
        json_t *js = json_loadb(line, len, JSON_REJECT_DUPLICATES, &je);
        tz_err e;
        int bad = 0;
        pending *cur = &p[n];
        cur->sb.size = 0;
        cur->line = lineno;
        if (js == NULL) {
            tz_err_set(&e, TZ_ERR_INPUT, "not valid JSON at column %d: %s", je.column, je.text);
            bad = 1;
        } else if (tz_statement_from_json(&cur->sb, js, &e) != TZ_OK) {
            bad = 1;
        }
        if (!bad && tz_statement_sign(cur->sigs, (const uint8_t *)cur->sb.data, cur->sb.size,
                                      signers.ptrs, signers.n, &e) != TZ_OK)
            bad = 1;
        if (!bad && c != NULL) {
            /* --server: one POST per line; the daemon groups concurrent
             * clients' statements into its commits. */
            rc = post_line(c, js, cur->sigs, signers.n, lineno);
            json_decref(js);
            continue;
        }
        json_decref(js);
        if (bad) {
            /* Lines before this one are accepted; commit them, then stop. */
            rc = flush_group(l, p, n, subs, res);
            if (rc == 0)
                rc = fail(tz_status_exit_code(e.code), "line %zu: %s", lineno, e.msg);
            break;
        }
        subs[n] = (tz_submission){(const uint8_t *)cur->sb.data, cur->sb.size, cur->sigs, signers.n};
        if (++n == APPEND_GROUP) {
            rc = flush_group(l, p, n, subs, res);
            n = 0;
        }
    }
    if (rc == 0 && ferror(in))
        rc = fail(2, "reading input: %s", strerror(errno));
    if (rc == 0)
        rc = flush_group(l, p, n, subs, res);
out:
    if (p != NULL)
        for (size_t i = 0; i < APPEND_GROUP; i++)
            msgpack_sbuffer_destroy(&p[i].sb);
    free(p);
    free(subs);
    free(res);
    free(line);
    tz_ledger_close(l);
    tz_client_close(c);
    wipe_signers(&signers);
    if (in != stdin)
        fclose(in);
    return rc;
}

/* 1 if the entry bytes raw are a cosign of entry target signed by pk. */
static int is_cosign_raw(const uint8_t *raw, size_t len, uint64_t target, const uint8_t pk[32])
{
    tz_err e;
    tz_entry entry;
    msgpack_zone zone;
    tz_statement st;
    int ok = 0;
    if (!msgpack_zone_init(&zone, 2048))
        return 0;
    if (tz_entry_decode(&entry, raw, len, &e) == TZ_OK &&
        tz_statement_decode(&st, &zone, entry.statement, entry.statement_len, &e) == TZ_OK &&
        tz_statement_is(&st, "cosign")) {
        const msgpack_object *t = tz_codec_map_get(st.body, "seq");
        ok = t != NULL && t->type == MSGPACK_OBJECT_POSITIVE_INTEGER && t->via.u64 == target;
        int signer = 0;
        for (size_t i = 0; i < entry.nsigs; i++)
            signer |= tz_hash_equal(entry.sigs[i].key, pk, 32);
        ok &= signer;
    }
    msgpack_zone_destroy(&zone);
    return ok;
}

/* 1 if entry seq is a cosign of entry target signed by pk. */
static int is_cosign_by(tz_ledger *l, uint64_t seq, uint64_t target, const uint8_t pk[32])
{
    uint8_t *raw = NULL;
    size_t len = 0;
    tz_err e;
    if (tz_ledger_get(l, seq, &raw, &len, &e) != TZ_OK) {
        tz_store_free(raw);
        return 0;
    }
    int ok = is_cosign_raw(raw, len, target, pk);
    tz_store_free(raw);
    return ok;
}

/* The id of key's cosign of entry seq: cosign/<seq>/<first 8 bytes of key, hex>. */
static void cosign_id(char *id, size_t cap, uint64_t seq, const uint8_t pk[32])
{
    char keyhex[17];
    tz_hex_encode(keyhex, pk, 8);
    snprintf(id, cap, "cosign/%llu/%s", (unsigned long long)seq, keyhex);
}

/* The cosign statement of entry seq whose statement hashes to hex, signed. */
static int cosign_statement(json_t **js, msgpack_sbuffer *sb, tz_signature *sigs,
                            const signer_set *signers, const char *id, uint64_t seq,
                            const char *hex)
{
    char at[TZ_TIME_RFC3339_MAX];
    tz_err e;
    tz_time_format_micros(at, tz_time_now_micros());
    memcpy(at + 19, "Z", 2);
    *js = json_pack("{s:s,s:s,s:s,s:{s:I,s:s}}", "type", "cosign", "id", id, "at", at, "body",
                    "seq", (json_int_t)seq, "statement_hash", hex);
    if (*js == NULL || tz_statement_from_json(sb, *js, &e) != TZ_OK)
        return *js ? fail_err(&e) : fail(2, "out of memory");
    if (tz_statement_sign(sigs, (const uint8_t *)sb->data, sb->size, signers->ptrs, signers->n,
                          &e) != TZ_OK)
        return fail_err(&e);
    return 0;
}

/* cosign --server: the entry and any earlier cosign by this key are read
 * from the daemon, the new cosign posted to POST /v1/cosign. */
static int cosign_remote(const opts *o, const signer_set *signers)
{
    tz_client *c;
    int rc = remote_open(&c, o);
    if (rc)
        return rc;
    char path[TZ_STATEMENT_ID_MAX * 3 + 64], id[TZ_STATEMENT_ID_MAX + 1], hex[65];
    json_t *j = NULL, *js = NULL;
    uint8_t *raw = NULL;
    size_t len = 0;
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    tz_entry entry;
    tz_err e;
    snprintf(path, sizeof path, "/v1/entries/%llu", (unsigned long long)o->seq);
    if ((rc = remote_json(c, "GET", path, NULL, &j, NULL)) != 0)
        goto out;
    if ((raw = entry_bytes(j, &len)) == NULL || tz_entry_decode(&entry, raw, len, &e) != TZ_OK) {
        rc = fail(2, "entry %llu: the server's answer has no readable entry_b64",
                  (unsigned long long)o->seq);
        goto out;
    }
    uint8_t h[32];
    tz_hash_sha256(h, entry.statement, entry.statement_len);
    tz_hex_encode(hex, h, 32);
    free(raw);
    raw = NULL;
    json_decref(j);
    j = NULL;
    cosign_id(id, sizeof id, o->seq, signers->keys[0].pub.pk);
    /* This key co-signed already (an earlier run): answer with that entry. */
    path[0] = '\0';
    snprintf(path, sizeof path, "/v1/entries/by-id");
    if (tz_client_add_param(path, sizeof path, "id", id) != 0) {
        rc = fail(2, "out of memory");
        goto out;
    }
    tz_client_reply r;
    if (tz_client_request(c, "GET", path, NULL, NULL, 0, &r, &e) != TZ_OK) {
        rc = fail_err(&e);
        goto out;
    }
    if (r.status == 200) {
        j = tz_client_json(&r);
        tz_client_reply_free(&r);
        uint64_t prior = (uint64_t)json_integer_value(json_object_get(j, "seq"));
        if ((raw = entry_bytes(j, &len)) == NULL ||
            !is_cosign_raw(raw, len, o->seq, signers->keys[0].pub.pk)) {
            rc = fail(3, "id %s is already used by entry %llu, which is not this key's cosign of "
                      "entry %llu", id, (unsigned long long)prior, (unsigned long long)o->seq);
            goto out;
        }
        json_t *k = json_pack("{s:I,s:O,s:b}", "seq", (json_int_t)prior, "leaf_hash",
                              json_object_get(j, "leaf_hash"), "existing", 1);
        print_json(k, 1);
        json_decref(k);
        goto out;
    }
    if (r.status != 404) {
        char msg[TZ_ERR_MSG_MAX + 64];
        rc = fail(tz_client_exit_code(&r), "%s", tz_client_message(&r, msg, sizeof msg));
        tz_client_reply_free(&r);
        goto out;
    }
    tz_client_reply_free(&r);
    tz_signature sigs[MAX_KEYS];
    if ((rc = cosign_statement(&js, &sb, sigs, signers, id, o->seq, hex)) != 0)
        goto out;
    char *body = submission_body(js, sigs, signers->n);
    if (body == NULL) {
        rc = fail(2, "out of memory");
        goto out;
    }
    rc = remote_json(c, "POST", "/v1/cosign", body, &j, NULL);
    free(body);
    if (rc == 0)
        print_json(j, 1);
out:
    free(raw);
    json_decref(j);
    json_decref(js);
    msgpack_sbuffer_destroy(&sb);
    tz_client_close(c);
    return rc;
}

static int cmd_cosign(const opts *o)
{
    if (!o->has_seq)
        return fail(2, "--seq N is required (the entry to co-sign)");
    if (o->nkeys > 1)
        return fail(2, "--key: give exactly one; each co-signer adds its own cosign entry");
    signer_set signers;
    int rc = load_signers(&signers, o);
    if (rc)
        return rc;
    if (o->server != NULL) {
        rc = cosign_remote(o, &signers);
        wipe_signers(&signers);
        return rc;
    }
    tz_ledger *l = NULL;
    if ((rc = open_ledger(&l, o, 0)) != 0) {
        wipe_signers(&signers);
        return rc;
    }
    tz_err e;
    uint8_t *raw = NULL;
    size_t len = 0;
    tz_entry entry;
    json_t *js = NULL;
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    if (tz_ledger_get(l, o->seq, &raw, &len, &e) != TZ_OK ||
        tz_entry_decode(&entry, raw, len, &e) != TZ_OK) {
        rc = fail_err(&e);
        goto out;
    }
    uint8_t h[32];
    char hex[65], id[TZ_STATEMENT_ID_MAX + 1];
    tz_hash_sha256(h, entry.statement, entry.statement_len);
    tz_hex_encode(hex, h, 32);
    cosign_id(id, sizeof id, o->seq, signers.keys[0].pub.pk);
    /* This key co-signed already (an earlier run): answer with that entry,
     * once it is shown to be this key's cosign of this seq. */
    uint64_t prior;
    if (tz_ledger_find_id(l, id, strlen(id), &prior, &e) == TZ_OK) {
        uint8_t leaf[32];
        if (tz_ledger_leaf_hash(l, prior, leaf, &e) != TZ_OK) {
            rc = fail_err(&e);
            goto out;
        }
        if (!is_cosign_by(l, prior, o->seq, signers.keys[0].pub.pk)) {
            rc = fail(3, "id %s is already used by entry %llu, which is not this key's cosign of "
                      "entry %llu", id, (unsigned long long)prior, (unsigned long long)o->seq);
            goto out;
        }
        json_t *j = json_pack("{s:I,s:o,s:b}", "seq", (json_int_t)prior, "leaf_hash",
                              hex_string(leaf, 32), "existing", 1);
        print_json(j, 1);
        json_decref(j);
        goto out;
    }
    tz_signature sigs[MAX_KEYS];
    if ((rc = cosign_statement(&js, &sb, sigs, &signers, id, o->seq, hex)) != 0)
        goto out;
    tz_submission sub = {(const uint8_t *)sb.data, sb.size, sigs, signers.n};
    tz_append_result res;
    size_t processed;
    if (tz_ledger_append(l, &sub, 1, &res, &processed, 0, &e) != TZ_OK) {
        rc = fail_err(&e);
        goto out;
    }
    if (res.status != TZ_OK) {
        rc = fail(tz_status_exit_code(res.status), "%s", res.err.msg);
        goto out;
    }
    json_t *j = json_pack("{s:I,s:o}", "seq", (json_int_t)res.seq, "leaf_hash",
                          hex_string(res.leaf_hash, 32));
    print_json(j, 1);
    json_decref(j);
out:
    json_decref(js);
    msgpack_sbuffer_destroy(&sb);
    tz_store_free(raw);
    tz_ledger_close(l);
    wipe_signers(&signers);
    return rc;
}

static int get_remote(const opts *o)
{
    tz_client *c;
    int rc = remote_open(&c, o);
    if (rc)
        return rc;
    char path[TZ_STATEMENT_ID_MAX * 3 + 64];
    if (o->id != NULL) {
        snprintf(path, sizeof path, "/v1/entries/by-id");
        if (tz_client_add_param(path, sizeof path, "id", o->id) != 0) {
            tz_client_close(c);
            return fail(2, "--id: too long");
        }
    } else {
        snprintf(path, sizeof path, "/v1/entries/%llu", (unsigned long long)o->seq);
    }
    json_t *j;
    if ((rc = remote_json(c, "GET", path, NULL, &j, NULL)) == 0)
        print_json(j, o->json);
    json_decref(j);
    tz_client_close(c);
    return rc;
}

static int log_remote(const opts *o)
{
    tz_client *c;
    int rc = remote_open(&c, o);
    if (rc)
        return rc;
    char num[24];
    uint64_t from = o->has_from ? o->from : 0;
    for (;;) {
        char path[2048] = "/v1/entries"; /* room for every option at its limit, %-encoded */
        snprintf(num, sizeof num, "%llu", (unsigned long long)from);
        tz_client_add_param(path, sizeof path, "from", num);
        if (o->has_to) {
            snprintf(num, sizeof num, "%llu", (unsigned long long)o->to);
            tz_client_add_param(path, sizeof path, "to", num);
        }
        if ((o->type != NULL && tz_client_add_param(path, sizeof path, "type", o->type) != 0) ||
            (o->person != NULL && tz_client_add_param(path, sizeof path, "person", o->person) != 0) ||
            (o->village != NULL &&
             tz_client_add_param(path, sizeof path, "village", o->village) != 0)) {
            rc = fail(2, "--type, --person or --village: too long");
            break;
        }
        tz_client_add_param(path, sizeof path, "limit", "1000");
        json_t *j;
        if ((rc = remote_json(c, "GET", path, NULL, &j, NULL)) != 0)
            break;
        size_t i;
        json_t *x;
        json_array_foreach(json_object_get(j, "entries"), i, x)
            print_json(x, 1);
        json_t *next = json_object_get(j, "next");
        int more = json_is_integer(next);
        if (more)
            from = (uint64_t)json_integer_value(next);
        json_decref(j);
        if (!more)
            break;
    }
    tz_client_close(c);
    return rc;
}

static int checkpoint_remote(const opts *o)
{
    tz_client *c;
    int rc = remote_open(&c, o);
    if (rc)
        return rc;
    tz_client_reply r;
    if ((rc = remote_call(c, "GET", "/v1/checkpoint", NULL, &r, NULL)) == 0)
        fwrite(r.body, 1, r.len, stdout);
    tz_client_reply_free(&r);
    tz_client_close(c);
    return rc;
}

static int prove_remote(const opts *o)
{
    tz_client *c;
    int rc = remote_open(&c, o);
    if (rc)
        return rc;
    char path[256], num[24];
    if (o->has_seq) {
        snprintf(path, sizeof path, "/v1/proof/inclusion");
        snprintf(num, sizeof num, "%llu", (unsigned long long)o->seq);
        tz_client_add_param(path, sizeof path, "seq", num);
        if (o->has_size) {
            snprintf(num, sizeof num, "%llu", (unsigned long long)o->size);
            tz_client_add_param(path, sizeof path, "size", num);
        }
    } else {
        snprintf(path, sizeof path, "/v1/proof/consistency");
        snprintf(num, sizeof num, "%llu", (unsigned long long)o->from);
        tz_client_add_param(path, sizeof path, "from", num);
        snprintf(num, sizeof num, "%llu", (unsigned long long)o->to);
        tz_client_add_param(path, sizeof path, "to", num);
    }
    json_t *j;
    if ((rc = remote_json(c, "GET", path, NULL, &j, NULL)) == 0) {
        json_object_del(j, "leaf_hash"); /* as the local command prints it */
        print_json(j, 1);
    }
    json_decref(j);
    tz_client_close(c);
    return rc;
}

static int cmd_get(const opts *o)
{
    if (!o->has_seq && o->id == NULL)
        return fail(2, "--seq N or --id ID is required");
    if (o->server != NULL)
        return get_remote(o);
    tz_ledger *l;
    int rc = open_ledger(&l, o, TZ_LEDGER_READONLY);
    if (rc)
        return rc;
    tz_err e;
    uint64_t seq = o->seq;
    uint8_t *raw = NULL;
    size_t len = 0;
    json_t *j = NULL;
    if ((o->id != NULL && tz_ledger_find_id(l, o->id, strlen(o->id), &seq, &e) != TZ_OK) ||
        tz_ledger_get(l, seq, &raw, &len, &e) != TZ_OK ||
        (j = tz_entry_json(seq, raw, len, &e)) == NULL)
        rc = fail_err(&e);
    else
        print_json(j, o->json);
    json_decref(j);
    tz_store_free(raw);
    tz_ledger_close(l);
    return rc;
}

/* Prints entry seq of l when it has the type asked for (log's filter). */
static int log_print(tz_ledger *l, const opts *o, uint64_t seq)
{
    tz_err e;
    uint8_t *raw = NULL;
    size_t len = 0;
    json_t *j = NULL;
    int rc = 0;
    if (tz_ledger_get(l, seq, &raw, &len, &e) != TZ_OK ||
        (j = tz_entry_json(seq, raw, len, &e)) == NULL) {
        rc = fail_err(&e);
    } else {
        json_t *t = json_object_get(json_object_get(j, "statement"), "type");
        if (o->type == NULL || strcmp(json_string_value(t), o->type) == 0)
            print_json(j, 1);
    }
    json_decref(j);
    tz_store_free(raw);
    return rc;
}

typedef struct log_scan {
    tz_ledger *l;
    const opts *o;
    int rc;
} log_scan;

/* tz_view_seq_fn over a subject index: --person and --village together
 * keep the entries in both. */
static int log_subject(void *ctx, uint64_t seq)
{
    log_scan *ls = ctx;
    if (ls->o->person != NULL && ls->o->village != NULL) {
        int yes;
        tz_err e;
        if (tz_view_subject_has(tz_ledger_store(ls->l), "village", ls->o->village, seq, &yes,
                                &e) != TZ_OK)
            return ls->rc = fail_err(&e);
        if (!yes)
            return 0;
    }
    return ls->rc = log_print(ls->l, ls->o, seq);
}

static int cmd_log(const opts *o)
{
    if (o->server != NULL)
        return log_remote(o);
    tz_ledger *l;
    int rc = open_ledger(&l, o, TZ_LEDGER_READONLY);
    if (rc)
        return rc;
    uint64_t from = o->has_from ? o->from : 0;
    uint64_t to = o->has_to ? o->to : tz_ledger_size(l);
    if (to > tz_ledger_size(l))
        to = tz_ledger_size(l);
    if ((o->person != NULL || o->village != NULL) && from < to) {
        log_scan ls = {l, o, 0};
        tz_err e;
        const char *kind = o->person != NULL ? "person" : "village";
        if (tz_view_subject_scan(tz_ledger_store(l), kind, o->person ? o->person : o->village,
                                 from, to - 1, log_subject, &ls, &e) != TZ_OK && ls.rc == 0)
            rc = fail_err(&e);
        else
            rc = ls.rc;
    } else {
        for (uint64_t s = from; rc == 0 && s < to; s++)
            rc = log_print(l, o, s);
    }
    tz_ledger_close(l);
    return rc;
}

static int cmd_checkpoint(const opts *o)
{
    if (o->server != NULL)
        return checkpoint_remote(o);
    tz_ledger *l;
    int rc = open_ledger(&l, o, TZ_LEDGER_READONLY);
    if (rc)
        return rc;
    char *note = NULL;
    size_t len = 0;
    tz_err e;
    if (tz_ledger_checkpoint(l, &note, &len, &e) != TZ_OK)
        rc = fail_err(&e);
    else
        fwrite(note, 1, len, stdout);
    free(note);
    tz_ledger_close(l);
    return rc;
}

static int cmd_reproject(const opts *o)
{
    if (o->db == NULL)
        return fail(2, "reproject: --db DIR is required");
    uint64_t records = 0;
    tz_err e;
    if (tz_rebuild_reproject(o->db, &records, &e) != TZ_OK)
        return fail_err(&e);
    printf("{\"reprojected\":true,\"derived_records\":%llu}\n", (unsigned long long)records);
    return 0;
}

static json_t *proof_hashes(const tz_merkle_proof *p)
{
    json_t *a = json_array();
    for (size_t i = 0; i < p->count; i++)
        json_array_append_new(a, b64_string(p->hashes[i], 32));
    return a;
}

static int cmd_prove(const opts *o)
{
    int inclusion = o->has_seq;
    if (inclusion == (o->has_from || o->has_to))
        return fail(2, "give either --seq N [--size S] (inclusion) or --from S1 --to S2 "
                    "(consistency)");
    if (!inclusion && !(o->has_from && o->has_to))
        return fail(2, "--from and --to are both required for a consistency proof");
    if (o->server != NULL)
        return prove_remote(o);
    tz_ledger *l;
    int rc = open_ledger(&l, o, TZ_LEDGER_READONLY);
    if (rc)
        return rc;
    tz_merkle_proof proof;
    tz_err e;
    json_t *j = NULL;
    if (inclusion) {
        uint64_t size = o->has_size ? o->size : tz_ledger_size(l);
        if (tz_ledger_inclusion_proof(l, o->seq, size, &proof, &e) != TZ_OK)
            rc = fail_err(&e);
        else
            j = json_pack("{s:I,s:I,s:o}", "leaf_index", (json_int_t)o->seq, "tree_size",
                          (json_int_t)size, "hashes", proof_hashes(&proof));
    } else {
        if (tz_ledger_consistency_proof(l, o->from, o->to, &proof, &e) != TZ_OK)
            rc = fail_err(&e);
        else
            j = json_pack("{s:I,s:I,s:o}", "size1", (json_int_t)o->from, "size2",
                          (json_int_t)o->to, "hashes", proof_hashes(&proof));
    }
    if (j != NULL)
        print_json(j, 1);
    json_decref(j);
    tz_ledger_close(l);
    return rc;
}

static void progress(void *ctx, uint64_t done, uint64_t total)
{
    (void)ctx;
    fprintf(stderr, "\rverified %llu / %llu entries", (unsigned long long)done,
            (unsigned long long)total);
    if (done >= total)
        fputc('\n', stderr);
}

/* verify's witness policy (docs/WITNESS.md): the --trusted checkpoint must
 * carry the log's signature and valid cosignatures of --witnesses-needed K
 * (default: every one given) distinct --witness keys. The log key is the
 * pinned one, else the one the ledger's genesis names. Returns 0 when the
 * policy holds (or none was asked for), 1 after printing why it does not,
 * or 2/3 after a message about the options or files. */
static int check_witness_policy(const opts *o, const char *note, size_t len, const tz_public_key *pinned)
{
    if (o->nwitnesses == 0 && !o->has_needed)
        return 0;
    if (o->trusted == NULL)
        return fail(2, "--witness: the policy applies to a checkpoint: give --trusted CHECKPOINT");
    if (o->nwitnesses == 0)
        return fail(2, "--witnesses-needed: give the witnesses' keys with --witness FILE.pub");
    tz_public_key witnesses[TZ_WITNESS_MAX], log_key;
    tz_err e;
    for (size_t i = 0; i < o->nwitnesses; i++) {
        if (tz_witness_key_read(&witnesses[i], o->witnesses[i], &e) != TZ_OK) {
            tz_err_prefix(&e, "--witness: ");
            return fail_err(&e);
        }
    }
    size_t needed = o->has_needed ? (size_t)o->needed : o->nwitnesses;
    if (o->has_needed && (o->needed == 0 || o->needed > o->nwitnesses))
        return fail(2, "--witnesses-needed %llu: must be 1 to the number of --witness keys (%zu)",
                    (unsigned long long)o->needed, o->nwitnesses);
    if (pinned != NULL) {
        log_key = *pinned;
    } else {
        tz_ledger *l;
        int rc = open_ledger(&l, o, TZ_LEDGER_READONLY);
        if (rc)
            return rc;
        log_key = *tz_ledger_log_key(l);
        tz_ledger_close(l);
    }
    int rc = tz_witness_policy_check(note, len, &log_key, witnesses, o->nwitnesses, needed, NULL, &e);
    if (rc == TZ_OK)
        return 0;
    if (rc != TZ_ERR_PROOF)
        return fail_err(&e);
    if (o->json) {
        json_t *j = json_pack("{s:b,s:s,s:n}", "ok", 0, "reason", e.msg, "first_bad_seq");
        print_json(j, 1);
        json_decref(j);
    } else {
        printf("UNTRUSTED: --trusted %s: %s\n", o->trusted, e.msg);
    }
    return 1;
}

static int cmd_verify(const opts *o)
{
    if (need(o->db, "--db"))
        return 2;
    tz_verify_options vo = {0};
    char *trusted = NULL;
    tz_public_key pinned;
    tz_err e;
    if (o->trusted != NULL) {
        FILE *f = fopen(o->trusted, "rb");
        if (f == NULL)
            return fail(2, "--trusted %s: %s", o->trusted, strerror(errno));
        trusted = malloc(65537);
        size_t n = trusted ? fread(trusted, 1, 65537, f) : 0;
        fclose(f);
        if (trusted == NULL || n == 0 || n > 65536) {
            free(trusted);
            return fail(2, "--trusted %s: empty, unreadable or larger than 64 KiB", o->trusted);
        }
        vo.trusted_note = trusted;
        vo.trusted_len = n;
    }
    if (o->log_key != NULL) {
        if (tz_keyfile_read_public(&pinned, o->log_key, &e) != TZ_OK) {
            free(trusted);
            return fail_err(&e);
        }
        vo.log_key = &pinned;
    }
    int policy = check_witness_policy(o, trusted, vo.trusted_len, vo.log_key);
    if (policy != 0) {
        free(trusted);
        return policy;
    }
    if (isatty(STDERR_FILENO))
        vo.progress = progress;
    tz_verify_report rep;
    int rc = tz_verify_ledger(o->db, &vo, &rep, &e);
    free(trusted);
    if (rc != TZ_OK)
        return fail_err(&e);
    json_t *j;
    size_t needed = o->has_needed ? (size_t)o->needed : o->nwitnesses;
    if (rep.ok) {
        j = json_pack("{s:b,s:I,s:o}", "ok", 1, "size", (json_int_t)rep.size, "root",
                      b64_string(rep.root, 32));
        if (o->nwitnesses > 0) /* the policy held (check_witness_policy) */
            json_object_set_new(j, "witnesses_needed", json_integer((json_int_t)needed));
    } else {
        j = json_pack("{s:b,s:s}", "ok", 0, "reason", rep.reason);
        /* null when the fault cannot be placed at a seq (e.g. a planted record) */
        json_object_set_new(j, "first_bad_seq", rep.has_bad_seq
                                ? json_integer((json_int_t)rep.first_bad_seq) : json_null());
    }
    if (o->json)
        print_json(j, 1);
    else if (rep.ok && o->nwitnesses > 0)
        printf("ok: %llu entries verified, root %s; the trusted checkpoint is cosigned by at "
               "least %zu of %zu witnesses\n", (unsigned long long)rep.size,
               json_string_value(json_object_get(j, "root")), needed, o->nwitnesses);
    else if (rep.ok)
        printf("ok: %llu entries verified, root %s\n", (unsigned long long)rep.size,
               json_string_value(json_object_get(j, "root")));
    else if (rep.has_bad_seq)
        printf("TAMPERED: first bad seq %llu: %s\n", (unsigned long long)rep.first_bad_seq,
               rep.reason);
    else
        printf("TAMPERED: %s\n", rep.reason);
    json_decref(j);
    return rep.ok ? 0 : 1;
}

/* cli/demo.c */
int tz_cli_demo(const char *progname, const char *db, const char *keys_dir, const char *profile,
                const char *calendar, const uint64_t *seed, const uint64_t *months,
                const uint64_t *villages);

static int cmd_demo(const opts *o)
{
    return tz_cli_demo(progname, o->db, o->keys_dir, o->profile, o->calendar,
                       o->has_seed ? &o->seed : NULL, o->has_months ? &o->months : NULL,
                       o->has_villages ? &o->villages : NULL);
}

static int run_query(const char *command, const opts *o)
{
    return tz_cli_query(progname, command, o->db, o->as_of, o->from_arg, o->to_arg, o->village,
                        o->township, o->person, o->unit, o->year, o->month, o->format,
                        o->explain, o->server);
}

#define QUERY_COMMAND(name) \
    static int cmd_##name(const opts *o) { return run_query(#name, o); }
QUERY_COMMAND(roster)
QUERY_COMMAND(attendance)
QUERY_COMMAND(leave)
QUERY_COMMAND(absences)
QUERY_COMMAND(handover)
QUERY_COMMAND(term)
QUERY_COMMAND(recall)
QUERY_COMMAND(grade)
QUERY_COMMAND(eligibility)
QUERY_COMMAND(allowance)
QUERY_COMMAND(diff)

#define QUERY_OPTS "[--as-of SEQ|DATE] [--explain] [--format table|json|csv]"

static const struct {
    const char *name;
    int (*fn)(const opts *);
    const char *usage;
} commands[] = {
    {"keygen", cmd_keygen, "keygen --name NAME --out FILE [--seal]   (FILE 0600, FILE.pub)"},
    {"init", cmd_init, "init --db DIR --origin ORIGIN --log-key FILE --root FILE.pub [--root ...]"},
    {"append", cmd_append, "append (--db DIR | --server URL) --key FILE [--key FILE ...] [--in FILE]"},
    {"cosign", cmd_cosign, "cosign (--db DIR | --server URL) --key FILE --seq N"},
    {"get", cmd_get, "get (--db DIR | --server URL) (--seq N | --id ID) [--json]"},
    {"log", cmd_log, "log (--db DIR | --server URL) [--from N] [--to N] [--type TYPE] "
                     "[--person P] [--village V]\n      (entries N <= seq < --to, one JSON line "
                     "each; --person/--village: those that concern P or V)"},
    {"checkpoint", cmd_checkpoint, "checkpoint (--db DIR | --server URL)"},
    {"prove", cmd_prove, "prove (--db DIR | --server URL) --seq N [--size S]  |  prove ... --from S1 --to S2"},
    {"verify", cmd_verify, "verify --db DIR [--trusted CHECKPOINT] [--log-key FILE.pub] [--json]\n"
                           "      [--witness W.pub ... [--witnesses-needed K]]   (trust CHECKPOINT only "
                           "with the log's\n       signature and cosignatures of K of these witnesses; "
                           "K defaults to all)"},
    {"demo", cmd_demo, "demo --db DIR [--keys DIR] [--seed N] [--months N] [--villages N] "
                       "[--profile FILE] [--calendar FILE]\n"
                       "      (a simulated county ledger, 石泉县 style: 2 years of dispatches, "
                       "attendance, leave, spot checks,\n       recalls, handovers and "
                       "assessments on a simulated clock; --keys writes the office and cadre "
                       "keys;\n       profile and calendar default to the source tree's "
                       "profiles/shiquan-2021.json and\n       data/"
                       "cn-workday-calendar.json, found next to the executable)"},
    {"roster", cmd_roster, "roster --db DIR [--village V | --township T] [--unit U] [--person P] "
                           QUERY_OPTS "\n      (who is stationed, status, on leave; coverage "
                           "against the profile's team rules)"},
    {"attendance", cmd_attendance, "attendance --db DIR [--person P | --village V | --township T] "
                                   "[--year Y | --month YYYY-MM] " QUERY_OPTS},
    {"leave", cmd_leave, "leave --db DIR --person P " QUERY_OPTS},
    {"absences", cmd_absences, "absences --db DIR --person P [--year Y] " QUERY_OPTS
                               "\n      (absences without reason and their consequences)"},
    {"handover", cmd_handover, "handover --db DIR [--village V | --township T] " QUERY_OPTS},
    {"term", cmd_term, "term --db DIR [--person P | --village V | --township T | --unit U] "
                       QUERY_OPTS "\n      (planned and actual terms; terms cut short)"},
    {"recall", cmd_recall, "recall --db DIR [--person P | --unit U] [--year Y] " QUERY_OPTS},
    {"grade", cmd_grade, "grade --db DIR --person P [--year Y] " QUERY_OPTS},
    {"eligibility", cmd_eligibility, "eligibility --db DIR --year Y [--person P | --village V | "
                                     "--township T | --unit U] " QUERY_OPTS "\n      (who may be assessed, "
                                     "the highest grade allowed and why)"},
    {"allowance", cmd_allowance, "allowance --db DIR [--person P | --village V | --township T] "
                                 "[--year Y | --month YYYY-MM] " QUERY_OPTS},
    {"reproject", cmd_reproject, "reproject --db DIR   (rebuild the derived records, index and "
                                 "projections, from the entries alone)"},
    {"diff", cmd_diff, "diff (--db DIR | --bundle FILE --log-key FILE.pub) --from A --to B "
                       "[--explain] [--format table|json|csv]\n"
                       "      (what changed in the projections between seqs or dates A and B, "
                       "and which entries changed it)"},
};

/* The inspection tools parse their own options (cli/commands.h). */
static const struct {
    const char *name;
    int (*fn)(int argc, char **argv);
    const char *usage;
} own_commands[] = {
    {"export", tz_cli_export, "export --db DIR --out FILE [--from S1 --to S2] [--person P] "
                              "[--village V] [--checkpoint NOTE] [--json]\n      (an offline "
                              "bundle: entries, checkpoint, one multiproof, the key grants)"},
    {"witness", tz_cli_witness, "witness --state DIR --log-key FILE.pub --key WITNESS_KEY "
                                "--checkpoint NEW [--proof FROM_LAST]"},
    {"replay", tz_cli_replay, "replay --db DIR --until SEQ|DATE --out DIR   (every projection "
                              "as it stood then, in a separate read-only ledger)"},
    {"history", tz_cli_history, "history --db DIR (--person P | --village V)   (entry by entry: "
                                "who signed what and when)"},
    {"salvage", tz_cli_salvage, "salvage --db DAMAGED --out NEWDIR [--json]   (every entry that "
                                "verifies, into a new ledger; names each seq not recovered)"},
};

/* verify --bundle and verify --all are the inspection tools' verify. */
static int has_arg(int argc, char **argv, const char *arg)
{
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], arg) == 0)
            return 1;
    return 0;
}

static int usage(FILE *f)
{
    fprintf(f, "usage: taizhang COMMAND [OPTIONS]\n\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(f, "  taizhang %s\n", commands[i].usage);
    for (size_t i = 0; i < sizeof own_commands / sizeof own_commands[0]; i++)
        fprintf(f, "  taizhang %s\n", own_commands[i].usage);
    fprintf(f, "  taizhang verify --bundle FILE --log-key FILE.pub [--from S1 --to S2] [--witness "
               "W.pub... [--witnesses-needed K]] [--list] [--json]   (a bundle, offline)\n"
               "  taizhang verify --db DIR --all [--trusted CP] [--log-key FILE.pub] [--json] "
               "[--max-findings N]\n      (every fault, classified: the tamper report)\n");
    fprintf(f, "\nSecret key files may be sealed with a passphrase: set TAIZHANG_PASSPHRASE.\n"
               "Exit codes: 0 ok, 1 tampering or invalid proof, 2 usage or I/O error, "
               "3 input rejected.\n"
               "append, cosign, get, log, checkpoint, prove and the projection queries (not diff)\n"
               "also run against a taizhangd: --server http://HOST:PORT instead of --db DIR.\n");
    return f == stdout ? 0 : 2;
}

int main(int argc, char **argv)
{
    if (argc < 2)
        return usage(stderr);
    if (strcmp(argv[1], "help") == 0 || strcmp(argv[1], "--help") == 0)
        return usage(stdout);
    for (size_t i = 0; i < sizeof own_commands / sizeof own_commands[0]; i++)
        if (strcmp(argv[1], own_commands[i].name) == 0)
            return own_commands[i].fn(argc - 1, argv + 1);
    if (strcmp(argv[1], "verify") == 0 && has_arg(argc, argv, "--bundle"))
        return tz_cli_verify_bundle(argc - 1, argv + 1);
    if (strcmp(argv[1], "diff") == 0 && has_arg(argc, argv, "--bundle"))
        return tz_cli_diff_bundle(argc - 1, argv + 1);
    if (strcmp(argv[1], "verify") == 0 && has_arg(argc, argv, "--all"))
        return tz_cli_verify_all(argc - 1, argv + 1);
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
        if (strcmp(argv[1], commands[i].name) != 0)
            continue;
        opts o;
        command_name = commands[i].name;
        int rc = parse_opts(argc - 1, argv + 1, &o);
        if (rc == -1) {
            printf("usage: taizhang %s\n", commands[i].usage);
            return 0;
        }
        if (rc != 0)
            return rc;
        return commands[i].fn(&o);
    }
    return fail(2, "unknown command \"%s\" (see `taizhang help`)", argv[1]);
}
