/*
 * witness.c: `taizhang witness`, a witness that cosigns a log's checkpoints
 * (docs/WITNESS.md; the rules are ledger/witness.h's tz_witness_cosign).
 *
 *   taizhang witness --state DIR --log-key FILE.pub --key WITNESS_KEY
 *                    --checkpoint NEW [--proof FROM_LAST] [--out FILE]
 *   taizhang witness --vkey --key WITNESS_KEY[.pub]
 *
 * The first form checks NEW against the last checkpoint the witness
 * cosigned for that log, and only then prints NEW with the witness's
 * cosignature added (stdout, and --out FILE). It exits 1 when it refuses
 * (rollback, split view, missing or wrong proof, not signed by the log),
 * 2 on usage or I/O errors, 3 when an input file is malformed. The second
 * form prints the witness's cosigner verifier key (type 0x04) for the
 * verifiers and daemons that will check its cosignatures.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli/commands.h"
#include "crypto/keyfile.h"
#include "ledger/witness.h"

#define USAGE                                                                                   \
    "usage: taizhang witness --state DIR --log-key FILE.pub --key WITNESS_KEY --checkpoint NEW\n" \
    "                        [--proof FROM_LAST] [--out FILE]\n"                                  \
    "       taizhang witness --vkey --key WITNESS_KEY[.pub]\n"                                   \
    "  --state DIR        the witness's memory: the last checkpoint cosigned per log (created)\n" \
    "  --log-key FILE.pub the log's verifier key; NEW must be signed by it\n"                    \
    "  --key WITNESS_KEY  the witness's secret key file (taizhang keygen; sealed: set\n"          \
    "                     TAIZHANG_PASSPHRASE)\n"                                                 \
    "  --checkpoint NEW   the log's new signed checkpoint (a file, or - for stdin)\n"            \
    "  --proof FROM_LAST  consistency proof from the last cosigned size to NEW's size, as\n"     \
    "                     printed by `taizhang prove --from S1 --to S2` or GET\n"                \
    "                     /v1/proof/consistency; required when NEW is larger\n"               \
    "  --out FILE         also write the cosigned note to FILE (replaced)\n"                     \
    "  --vkey             print the cosigner verifier key name+id+base64(0x04||key)\n"           \
    "Exit: 0 cosigned, 1 refused (rollback, split view, bad proof, bad signature),\n"           \
    "2 usage or I/O error, 3 malformed input.\n"

static int fail(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("taizhang witness: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return code;
}

static int fail_err(const tz_err *e)
{
    return fail(tz_status_exit_code(e->code), "%s", e->msg);
}

/* Reads the file at path ("-": stdin) whole, up to max bytes, into a
 * malloc'd NUL-terminated buffer. 0, or the exit status after a message
 * naming opt. */
static int read_input(char **out, size_t *len, const char *path, size_t max, const char *opt)
{
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
    if (f == NULL)
        return fail(2, "%s %s: %s", opt, path, strerror(errno));
    char *buf = malloc(max + 2);
    size_t n = 0;
    if (buf != NULL) {
        size_t got;
        while (n <= max && (got = fread(buf + n, 1, max + 1 - n, f)) > 0)
            n += got;
    }
    int bad = buf == NULL || ferror(f);
    if (f != stdin)
        fclose(f);
    if (bad) {
        free(buf);
        return fail(2, "%s %s: cannot read", opt, path);
    }
    if (n == 0 || n > max) {
        free(buf);
        return fail(3, "%s %s: %s (1 to %zu bytes allowed)", opt, path, n ? "too large" : "empty", max);
    }
    buf[n] = '\0';
    *out = buf;
    *len = n;
    return 0;
}

/* Writes data to path (created 0644 or truncated), synced. */
static int write_output(const char *path, const char *data, size_t len)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return fail(2, "--out %s: %s", path, strerror(errno));
    size_t off = 0;
    while (off < len) {
        ssize_t w = write(fd, data + off, len - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            break;
        off += (size_t)w;
    }
    int ok = off == len && fsync(fd) == 0;
    int saved = errno;
    if (close(fd) != 0)
        ok = 0;
    if (!ok)
        return fail(2, "--out %s: write: %s", path, strerror(saved));
    return 0;
}

/* --vkey: prints the cosigner key string of the key file (secret or public). */
static int print_vkey(const char *key_path)
{
    tz_public_key pub;
    tz_err e;
    char s[TZ_KEY_STRING_MAX];
    if (tz_witness_key_read(&pub, key_path, &e) != TZ_OK || tz_witness_key_format(s, sizeof s, &pub, &e) != TZ_OK)
        return fail_err(&e);
    puts(s);
    return 0;
}

typedef struct witness_opts {
    const char *state, *log_key, *key, *checkpoint, *proof, *out;
    int vkey;
} witness_opts;

static int parse_args(witness_opts *o, int argc, char **argv)
{
    static const struct option opts[] = {
        {"state", required_argument, NULL, 's'},      {"log-key", required_argument, NULL, 'l'},
        {"key", required_argument, NULL, 'k'},        {"checkpoint", required_argument, NULL, 'c'},
        {"proof", required_argument, NULL, 'p'},      {"out", required_argument, NULL, 'o'},
        {"vkey", no_argument, NULL, 'v'},             {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    memset(o, 0, sizeof *o);
    optind = 1;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 's': o->state = optarg; break;
        case 'l': o->log_key = optarg; break;
        case 'k': o->key = optarg; break;
        case 'c': o->checkpoint = optarg; break;
        case 'p': o->proof = optarg; break;
        case 'o': o->out = optarg; break;
        case 'v': o->vkey = 1; break;
        case 'h': fputs(USAGE, stdout); return -1;
        default:
            fputs(USAGE, stderr);
            return fail(2, "unknown or incomplete option \"%s\"", argv[optind - 1]);
        }
    }
    if (optind < argc)
        return fail(2, "unexpected argument \"%s\"", argv[optind]);
    if (o->key == NULL)
        return fail(2, "--key: required (the witness's key file)");
    if (o->vkey)
        return 0;
    if (o->state == NULL || o->log_key == NULL || o->checkpoint == NULL)
        return fail(2, "--state, --log-key and --checkpoint are required (see --help)");
    return 0;
}

/* Says on stderr what was decided: a witness's operator reads it. */
static void report(const tz_witness_result *r)
{
    const tz_checkpoint *cp = &r->checkpoint;
    if (r->first)
        fprintf(stderr, "taizhang witness: cosigned %s size %llu: the first checkpoint seen of this log, "
                "trusted on first use\n", cp->origin, (unsigned long long)cp->size);
    else if (r->same)
        fprintf(stderr, "taizhang witness: cosigned %s size %llu again (same tree as before)\n", cp->origin,
                (unsigned long long)cp->size);
    else
        fprintf(stderr, "taizhang witness: cosigned %s size %llu: extends size %llu%s\n", cp->origin,
                (unsigned long long)cp->size, (unsigned long long)r->last_size,
                r->proof_checked ? " (consistency proof verified)" : " (the empty tree)");
}

int tz_cli_witness(int argc, char **argv)
{
    witness_opts o;
    int rc = parse_args(&o, argc, argv);
    if (rc != 0)
        return rc < 0 ? 0 : rc;
    if (o.vkey)
        return print_vkey(o.key);
    tz_err e;
    tz_public_key log_key;
    if (tz_keyfile_read_public(&log_key, o.log_key, &e) != TZ_OK) {
        tz_err_prefix(&e, "--log-key: ");
        return fail_err(&e);
    }
    char *note = NULL, *proof_json = NULL, *out = NULL;
    size_t note_len = 0, proof_len = 0, out_len = 0;
    tz_witness_proof *proof = NULL;
    tz_secret_key witness;
    int have_key = 0;
    if ((rc = read_input(&note, &note_len, o.checkpoint, TZ_NOTE_MAX_LEN, "--checkpoint")) != 0)
        goto done;
    if (o.proof != NULL) {
        if ((rc = read_input(&proof_json, &proof_len, o.proof, TZ_WITNESS_PROOF_MAX_JSON, "--proof")) != 0)
            goto done;
        if ((proof = malloc(sizeof *proof)) == NULL) {
            rc = fail(2, "out of memory");
            goto done;
        }
        if (tz_witness_proof_parse(proof, proof_json, proof_len, &e) != TZ_OK) {
            tz_err_prefix(&e, "--proof %s: ", o.proof);
            rc = fail_err(&e);
            goto done;
        }
    }
    const char *pass = getenv("TAIZHANG_PASSPHRASE");
    if (tz_keyfile_read_secret(&witness, o.key, pass && *pass ? pass : NULL, &e) != TZ_OK) {
        tz_err_prefix(&e, "--key: ");
        rc = fail_err(&e);
        goto done;
    }
    have_key = 1;
    tz_witness_result res;
    time_t now = time(NULL);
    if (now < 0) {
        rc = fail(2, "the system clock is before 1970");
        goto done;
    }
    if (tz_witness_cosign(&out, &out_len, o.state, &log_key, &witness, note, note_len, proof, (uint64_t)now, &res,
                          &e) != TZ_OK) {
        rc = e.code == TZ_ERR_PROOF || e.code == TZ_ERR_TAMPER ? fail(1, "REFUSED: %s", e.msg) : fail_err(&e);
        goto done;
    }
    report(&res);
    if (o.out != NULL && (rc = write_output(o.out, out, out_len)) != 0)
        goto done;
    if (fwrite(out, 1, out_len, stdout) != out_len || fflush(stdout) != 0)
        rc = fail(2, "stdout: write failed");
done:
    if (have_key)
        tz_key_wipe(&witness);
    free(note);
    free(proof_json);
    free(proof);
    free(out);
    return rc;
}
