/*
 * taizhangd: the ledger's HTTP daemon (docs/API.md). Options:
 *   --db DIR             the ledger (required)
 *   --listen ADDR:PORT   default 127.0.0.1:8080 (loopback); port 0 picks one
 *   --workers N          verification / read threads (default: CPUs)
 *   --max-batch N        statements per group commit (default 1024)
 *   --max-connections N  connections served at once, counted from accept
 *                        (default 1024); a request on one more gets 503 and
 *                        the connection closes
 *   --max-connections-per-host N   of those, from one source address (128)
 *   --request-timeout S  seconds for a whole request, headers and body (30)
 *   --keepalive-timeout S  seconds a connection may wait idle (15)
 *   --max-body-memory BYTES  request bodies buffered in all (64 MiB)
 *   --max-queued-reads N reads waiting for a worker (256); more get 503 busy
 *   (docs/API.md "Connections and fairness")
 *   --init --origin O --log-key FILE --root FILE.pub [--root ...]
 *                        create the ledger first when DIR holds none
 *   --witness FILE.pub   (repeatable) collect cosignatures of this witness:
 *                        POST /v1/checkpoint/cosign, GET /v1/checkpoint/cosigned
 * Exit status: 0 after a clean SIGTERM/SIGINT drain, 2 on usage or start-up
 * errors (the message on stderr names the option or the cause).
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "crypto/keyfile.h"
#include "daemon/server.h"
#include "ledger/ledger.h"
#include "ledger/witness.h"

#define MAX_ROOTS 16

static int usage(FILE *f)
{
    fprintf(f, "usage: taizhangd --db DIR [--listen ADDR:PORT] [--workers N] [--max-batch N]\n"
               "                 [--max-connections N] [--max-connections-per-host N]\n"
               "                 [--request-timeout S] [--keepalive-timeout S]\n"
               "                 [--max-body-memory BYTES] [--max-queued-reads N]\n"
               "                 [--witness FILE.pub...]\n"
               "                 [--init --origin ORIGIN --log-key FILE --root FILE.pub...]\n");
    return 2;
}

static int fail(const char *fmt, const char *a, const char *b)
{
    fprintf(stderr, "taizhangd: ");
    fprintf(stderr, fmt, a, b);
    fputc('\n', stderr);
    return 2;
}

static int parse_listen(tzd_config *cfg, char *arg)
{
    char *colon = strrchr(arg, ':');
    if (colon == NULL || colon == arg)
        return -1;
    *colon = '\0';
    char *end;
    errno = 0;
    unsigned long port = strtoul(colon + 1, &end, 10);
    if (errno != 0 || *end != '\0' || end == colon + 1 || port > 65535)
        return -1;
    if (arg[0] == '[' && arg[strlen(arg) - 1] == ']') { /* [::1]:8080 */
        arg[strlen(arg) - 1] = '\0';
        arg++;
    }
    cfg->address = arg;
    cfg->port = (uint16_t)port;
    return 0;
}

static int parse_count(const char *s, unsigned long max, unsigned long *out)
{
    char *end;
    errno = 0;
    unsigned long v = strtoul(s, &end, 10);
    if (errno != 0 || *end != '\0' || end == s || v == 0 || v > max)
        return -1;
    *out = v;
    return 0;
}

/* 1 when dir holds a ledger already (dir/db exists). */
static int has_ledger(const char *dir)
{
    char path[PATH_MAX];
    struct stat st;
    if (snprintf(path, sizeof path, "%s/db", dir) >= (int)sizeof path)
        return 0;
    return stat(path, &st) == 0;
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"db", required_argument, NULL, 'd'},       {"listen", required_argument, NULL, 'l'},
        {"workers", required_argument, NULL, 'w'},  {"max-batch", required_argument, NULL, 'b'},
        {"max-connections", required_argument, NULL, 'c'},
        {"max-connections-per-host", required_argument, NULL, 'H'},
        {"request-timeout", required_argument, NULL, 'T'},
        {"keepalive-timeout", required_argument, NULL, 'K'},
        {"max-body-memory", required_argument, NULL, 'M'},
        {"max-queued-reads", required_argument, NULL, 'Q'},
        {"init", no_argument, NULL, 'i'},           {"origin", required_argument, NULL, 'o'},
        {"log-key", required_argument, NULL, 'k'},  {"root", required_argument, NULL, 'r'},
        {"witness", required_argument, NULL, 'W'},
        {"help", no_argument, NULL, 'h'},           {NULL, 0, NULL, 0}};
    tzd_config cfg;
    tzd_config_defaults(&cfg);
    int init = 0, c;
    const char *origin = NULL, *log_key = NULL, *roots[MAX_ROOTS];
    size_t nroots = 0;
    static tz_public_key witnesses[TZ_WITNESS_MAX];
    tz_err e;
    unsigned long v;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'd': cfg.db = optarg; break;
        case 'l':
            if (parse_listen(&cfg, optarg) != 0)
                return fail("--listen %s: expected ADDR:PORT%s", optarg, "");
            break;
        case 'w':
            if (parse_count(optarg, 256, &v) != 0)
                return fail("--workers %s: expected 1..256%s", optarg, "");
            cfg.workers = (unsigned)v;
            break;
        case 'b':
            if (parse_count(optarg, 65536, &v) != 0)
                return fail("--max-batch %s: expected 1..65536%s", optarg, "");
            cfg.max_batch = v;
            break;
        case 'c':
            if (parse_count(optarg, 65536, &v) != 0)
                return fail("--max-connections %s: expected 1..65536%s", optarg, "");
            cfg.max_connections = v;
            break;
        case 'H':
            if (parse_count(optarg, 65536, &v) != 0)
                return fail("--max-connections-per-host %s: expected 1..65536%s", optarg, "");
            cfg.max_connections_per_host = v;
            break;
        case 'T':
            if (parse_count(optarg, 3600, &v) != 0)
                return fail("--request-timeout %s: expected 1..3600 seconds%s", optarg, "");
            cfg.request_seconds = (int)v;
            break;
        case 'K':
            if (parse_count(optarg, 3600, &v) != 0)
                return fail("--keepalive-timeout %s: expected 1..3600 seconds%s", optarg, "");
            cfg.keepalive_seconds = (int)v;
            break;
        case 'M':
            /* at least one largest body (2 x 1 MiB: its copy and its buffer) */
            if (parse_count(optarg, (unsigned long)1 << 40, &v) != 0 || v < (2ul << 20))
                return fail("--max-body-memory %s: expected 2097152..2^40 bytes%s", optarg, "");
            cfg.max_body_memory = v;
            break;
        case 'Q':
            if (parse_count(optarg, 1000000, &v) != 0)
                return fail("--max-queued-reads %s: expected 1..1000000%s", optarg, "");
            cfg.max_queued_reads = v;
            break;
        case 'i': init = 1; break;
        case 'o': origin = optarg; break;
        case 'k': log_key = optarg; break;
        case 'r':
            if (nroots == MAX_ROOTS)
                return fail("--root: at most 16 root keys%s%s", "", "");
            roots[nroots++] = optarg;
            break;
        case 'W':
            if (cfg.nwitnesses == TZ_WITNESS_MAX)
                return fail("--witness: at most %s witnesses%s", "32", "");
            if (tz_witness_key_read(&witnesses[cfg.nwitnesses], optarg, &e) != TZ_OK)
                return fail("--witness %s: %s", optarg, e.msg);
            cfg.witnesses = witnesses;
            cfg.nwitnesses++;
            break;
        case 'h': usage(stdout); return 0;
        default: return usage(stderr);
        }
    }
    if (optind != argc || cfg.db == NULL)
        return usage(stderr);
    if (init && !has_ledger(cfg.db)) {
        if (origin == NULL || log_key == NULL || nroots == 0)
            return fail("--init needs --origin, --log-key and at least one --root%s%s", "", "");
        tz_public_key keys[MAX_ROOTS];
        for (size_t i = 0; i < nroots; i++)
            if (tz_keyfile_read_public(&keys[i], roots[i], &e) != TZ_OK)
                return fail("%s%s", e.msg, "");
        if (tz_ledger_create(cfg.db, origin, log_key, getenv("TAIZHANG_PASSPHRASE"), keys, nroots,
                             &e) != TZ_OK)
            return fail("%s%s", e.msg, "");
        fprintf(stderr, "taizhangd: created the ledger %s (origin %s)\n", cfg.db, origin);
    }
    if (tzd_server_run(&cfg, &e) != TZ_OK)
        return fail("%s%s", e.msg, "");
    return 0;
}
