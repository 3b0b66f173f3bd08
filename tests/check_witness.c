/*
 * check_witness.c: witnesses (ledger/witness.h, `taizhang witness`,
 * `taizhang verify --witness`, taizhangd's /v1/checkpoint/cosign).
 *
 * What a user relies on: the cosignature bytes are the C2SP
 * tlog-cosignature/v1 ones (known answers made with another Ed25519
 * implementation); a witness cosigns only checkpoints that extend what it
 * saw, and refuses a rollback, a split view and a fork of the log built
 * with the REAL log key, leaving its state untouched; a verifier with a
 * K-of-N policy refuses a checkpoint with too few valid cosignatures; the
 * daemon collects cosignatures of its own checkpoints only, from the
 * witnesses it was told to trust.
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <jansson.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "crypto/keyfile.h"
#include "crypto/note.h"
#include "ledger/checkpoint.h"
#include "ledger/ledger.h"
#include "ledger/witness.h"
#include "util/encoding.h"
#include "tests/tz_test.h"

#define VEC(name) TZ_SOURCE_DIR "/tests/vectors/" name
#define EM "\xE2\x80\x94" /* U+2014 */
#define ORIGIN "test.example/county"

static tz_fixture fx;
/* Three witnesses of the policy and one nobody trusts. */
static tz_secret_key wit[3], rogue;
static char wit_key[3][400], wit_pub[3][400], rogue_key[400], state[400], log_pub[400];

static void make_witness(tz_secret_key *k, char *key_path, char *pub_path, const char *file, const char *name)
{
    tz_err e;
    snprintf(key_path, 400, "%s/%s.key", fx.dir, file);
    if (pub_path != NULL)
        snprintf(pub_path, 400, "%s/%s.key.pub", fx.dir, file);
    ck_assert_msg(tz_key_generate(k, name, &e) == TZ_OK, "%s", e.msg);
    ck_assert_msg(tz_keyfile_write_secret(key_path, k, NULL, &e) == TZ_OK, "%s", e.msg);
    if (pub_path != NULL)
        ck_assert_msg(tz_keyfile_write_public(pub_path, &k->pub, &e) == TZ_OK, "%s", e.msg);
}

static void setup(void)
{
    tz_fixture_init(&fx);
    make_witness(&wit[0], wit_key[0], wit_pub[0], "w1", "w1.example/witness");
    make_witness(&wit[1], wit_key[1], wit_pub[1], "w2", "w2.example/witness");
    make_witness(&wit[2], wit_key[2], wit_pub[2], "w3", "w3.example/witness");
    make_witness(&rogue, rogue_key, NULL, "rogue", "rogue.example/witness");
    snprintf(state, sizeof state, "%s/state", fx.dir);
    snprintf(log_pub, sizeof log_pub, "%s/log.pub", fx.dir);
    tz_err e;
    ck_assert_msg(tz_keyfile_write_public(log_pub, &fx.log.pub, &e) == TZ_OK, "%s", e.msg);
}

static void teardown(void)
{
    for (int i = 0; i < 3; i++)
        tz_key_wipe(&wit[i]);
    tz_key_wipe(&rogue);
    tz_fixture_cleanup(&fx);
}

/* ---- helpers ---------------------------------------------------------------------- */

static char *read_vec(const char *path, size_t *len) { return tz_test_read_file(path, len); }

/* Appends memos [from, from + count) to the ledger at db, signed by the cadre. */
static void append_memos(const char *db, int from, int count)
{
    tz_ledger *l;
    tz_err e;
    ck_assert_msg(tz_ledger_open(&l, db, 0, NULL, &e) == TZ_OK, "%s", e.msg);
    tz_fixture_memos(l, &fx.cadre, from, count);
    tz_ledger_close(l);
}

/* The ledger's current signed checkpoint, written to path too (when not NULL). */
static char *checkpoint_of(const char *db, size_t *len, const char *path)
{
    tz_ledger *l;
    tz_err e;
    char *note = NULL;
    ck_assert_msg(tz_ledger_open(&l, db, TZ_LEDGER_READONLY, NULL, &e) == TZ_OK, "%s", e.msg);
    ck_assert_msg(tz_ledger_checkpoint(l, &note, len, &e) == TZ_OK, "%s", e.msg);
    tz_ledger_close(l);
    if (path != NULL)
        tz_test_write_file(path, note, *len);
    return note;
}

static void proof_of(const char *db, uint64_t from, uint64_t to, tz_witness_proof *p)
{
    tz_ledger *l;
    tz_err e;
    ck_assert_msg(tz_ledger_open(&l, db, TZ_LEDGER_READONLY, NULL, &e) == TZ_OK, "%s", e.msg);
    ck_assert_msg(tz_ledger_consistency_proof(l, from, to, &p->proof, &e) == TZ_OK, "%s", e.msg);
    tz_ledger_close(l);
    p->size1 = from;
    p->size2 = to;
}

/* The one state file of the witness ("" when there is none), malloc'd. */
static char *state_bytes(const char *dir)
{
    DIR *d = opendir(dir);
    if (d == NULL)
        return strdup("");
    struct dirent *de;
    char *found = NULL;
    while ((de = readdir(d)) != NULL) {
        size_t n = strlen(de->d_name);
        if (n > 11 && strcmp(de->d_name + n - 11, ".checkpoint") == 0) {
            ck_assert_msg(found == NULL, "two state files in %s", dir);
            char path[800];
            snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
            found = tz_test_read_file(path, NULL);
        }
    }
    closedir(d);
    return found ? found : strdup("");
}

/* Runs the library witness step; returns its status, *out the note on TZ_OK. */
static int cosign(const char *note, size_t len, const tz_witness_proof *proof, const tz_secret_key *w,
                  char **out, size_t *out_len, tz_err *e)
{
    char *o = NULL;
    size_t ol = 0;
    tz_witness_result r;
    int rc = tz_witness_cosign(&o, &ol, state, &fx.log.pub, w, note, len, proof, (uint64_t)time(NULL), &r, e);
    if (out != NULL) {
        *out = o;
        *out_len = ol;
    } else {
        free(o);
    }
    return rc;
}

/* Runs `taizhang witness` with args (and stderr to dir/err); *err_text gets stderr. */
static int run_witness(char **out, char **err_text, const char *args)
{
    char errp[400];
    snprintf(errp, sizeof errp, "%s/err", fx.dir);
    int rc = tz_test_run(out, "%s witness --state %s --log-key %s --key %s %s 2>%s", TZ_CLI_PATH, state, log_pub,
                         wit_key[0], args, errp);
    if (err_text != NULL)
        *err_text = tz_test_read_file(errp, NULL);
    return rc;
}

/* Witness w's cosignature added to note (library, fixed time). */
static char *add_cosig(const char *note, size_t len, const tz_secret_key *w, uint64_t t, size_t *out_len)
{
    char *out = NULL;
    tz_err e;
    ck_assert_msg(tz_witness_add_cosignature(&out, out_len, note, len, w, t, &e) == TZ_OK, "%s", e.msg);
    return out;
}

/* Copies the ledger directory src to dst (a fork with the same keys and history so far). */
static void copy_ledger(const char *src, const char *dst)
{
    ck_assert_int_eq(tz_test_run(NULL, "cp -a '%s' '%s'", src, dst), 0);
}

/* ---- cosignature format: known answers -------------------------------------------- */

/* The value of field name in cosignature_rfc8032.txt (static buffer). */
static const char *vec_field(const char *text, const char *name)
{
    static char value[1024];
    char key[64];
    snprintf(key, sizeof key, "\n%s ", name);
    const char *p = strstr(text, key);
    ck_assert_msg(p != NULL, "vector field %s", name);
    p += strlen(key);
    size_t n = strcspn(p, "\n");
    ck_assert_uint_lt(n, sizeof value);
    memcpy(value, p, n);
    value[n] = '\0';
    return value;
}

static void vector_witness(tz_secret_key *w, const char *text)
{
    uint8_t seed[32];
    tz_err e;
    ck_assert_uint_eq(tz_test_unhex(seed, sizeof seed, vec_field(text, "seed")), 32);
    ck_assert_msg(tz_key_from_seed(w, vec_field(text, "name"), seed, &e) == TZ_OK, "%s", e.msg);
}

START_TEST(test_vectors_cosignature)
{
    char *text = read_vec(VEC("cosignature_rfc8032.txt"), NULL);
    tz_secret_key w;
    vector_witness(&w, text);
    char hex[9];
    snprintf(hex, sizeof hex, "%08x", (unsigned)tz_witness_key_id(&w.pub));
    ck_assert_str_eq(hex, vec_field(text, "key_id_04"));
    snprintf(hex, sizeof hex, "%08x", (unsigned)w.pub.id);
    ck_assert_str_eq(hex, vec_field(text, "key_id_01"));

    /* Ed25519 is deterministic: our cosignature is the vector, byte for byte. */
    static const char *const pairs[][2] = {{"checkpoint_county_log.note", "cosigned_county_log.note"},
                                           {"checkpoint_c2sp.note", "cosigned_c2sp.note"}};
    uint64_t t = strtoull(vec_field(text, "time"), NULL, 10);
    ck_assert_uint_eq(t, 1679315147u);
    for (size_t i = 0; i < 2; i++) {
        char in_path[512], want_path[512];
        snprintf(in_path, sizeof in_path, VEC("%s"), pairs[i][0]);
        snprintf(want_path, sizeof want_path, VEC("%s"), pairs[i][1]);
        size_t in_len, want_len, got_len;
        char *in = read_vec(in_path, &in_len), *want = read_vec(want_path, &want_len);
        char *got = add_cosig(in, in_len, &w, t, &got_len);
        ck_assert_uint_eq(got_len, want_len);
        ck_assert_mem_eq(got, want, want_len);
        /* and the vector verifies, with its time */
        tz_note n;
        tz_err e;
        uint64_t ts = 0;
        ck_assert(tz_note_parse(&n, want, want_len, &e) == TZ_OK);
        ck_assert_uint_eq(n.nsigs, 2);
        ck_assert_msg(tz_witness_verify_line(&n, 1, &w.pub, &ts, &e) == TZ_OK, "%s", e.msg);
        ck_assert_uint_eq(ts, t);
        /* the log's line is not the witness's */
        ck_assert_int_eq(tz_witness_verify_line(&n, 0, &w.pub, NULL, &e), TZ_ERR_NOTFOUND);
        free(in), free(want), free(got);
    }
    /* The cosigned county checkpoint passes a 1-of-1 policy with the county log key. */
    size_t len;
    char *note = read_vec(VEC("cosigned_county_log.note"), &len);
    char *pub = read_vec(VEC("county_log.pub"), NULL);
    tz_public_key log_key;
    tz_err e;
    ck_assert(tz_key_parse_public(&log_key, pub, strcspn(pub, "\n"), &e) == TZ_OK);
    tz_checkpoint cp;
    ck_assert_msg(tz_witness_policy_check(note, len, &log_key, &w.pub, 1, 1, &cp, &e) == TZ_OK, "%s", e.msg);
    ck_assert_str_eq(cp.origin, "example.org/county-log");
    /* One flipped byte of the signed time: the signature no longer covers it. */
    char *bad = strdup(note);
    char *line = strstr(bad, EM " witness.example/w1 ");
    ck_assert_ptr_nonnull(line);
    char *b64 = line + strlen(EM " witness.example/w1 ");
    b64[11] = b64[11] == 'A' ? 'B' : 'A'; /* inside the 8-byte timestamp (bytes 4..11) */
    ck_assert_int_eq(tz_witness_policy_check(bad, len, &log_key, &w.pub, 1, 1, NULL, &e), TZ_ERR_PROOF);
    ck_assert_msg(strstr(e.msg, "witness.example/w1") != NULL, "%s", e.msg);
    free(bad), free(note), free(pub), free(text);
    tz_key_wipe(&w);
}
END_TEST

START_TEST(test_vectors_keys)
{
    char *text = read_vec(VEC("cosignature_rfc8032.txt"), NULL);
    tz_secret_key w;
    vector_witness(&w, text);
    tz_err e;
    char s[TZ_KEY_STRING_MAX];
    ck_assert_msg(tz_witness_key_format(s, sizeof s, &w.pub, &e) == TZ_OK, "%s", e.msg);
    ck_assert_str_eq(s, vec_field(text, "vkey_04"));
    /* Both spellings of the key give the same tz_public_key (with the 0x01 id). */
    static const char *const fields[] = {"vkey_04", "vkey_01"};
    for (size_t i = 0; i < 2; i++) {
        tz_public_key k;
        const char *v = vec_field(text, fields[i]);
        ck_assert_msg(tz_witness_key_parse(&k, v, strlen(v), &e) == TZ_OK, "%s: %s", v, e.msg);
        ck_assert_str_eq(k.name, w.pub.name);
        ck_assert_uint_eq(k.id, w.pub.id);
        ck_assert_mem_eq(k.pk, w.pub.pk, 32);
    }
    static const char *const files[] = {VEC("witness_w1.pub"), VEC("witness_w1_cosigner.vkey")};
    for (size_t i = 0; i < 2; i++) {
        tz_public_key k;
        ck_assert_msg(tz_witness_key_read(&k, files[i], &e) == TZ_OK, "%s", e.msg);
        ck_assert_mem_eq(k.pk, w.pub.pk, 32);
    }
    /* Rejected spellings: each names the rule. */
    static const char *const bad[] = {
        "witness.example/w1+04d2d834+BD1AF8PoQ4lakrcKp00bfrycmCzPLsSWjMDNVfEq9GYM",  /* wrong id */
        "witness.example/w1+04D2D833+BD1AF8PoQ4lakrcKp00bfrycmCzPLsSWjMDNVfEq9GYM",  /* upper-case id */
        "witness.example/w1+d3188955+BD1AF8PoQ4lakrcKp00bfrycmCzPLsSWjMDNVfEq9GYM",  /* 0x01 id, 0x04 key */
        "witness.example/w1+04d2d833+AT1AF8PoQ4lakrcKp00bfrycmCzPLsSWjMDNVfEq9GYM",  /* 0x04 id, 0x01 key */
        "witness.example/w1+04d2d833+Aj1AF8PoQ4lakrcKp00bfrycmCzPLsSWjMDNVfEq9GYM",  /* type 0x02 */
        "witness.example/w1+04d2d833+BD1AF8PoQ4lakrcKp00bfrycmCzPLsSWjMDNVfEq9GYM\n", /* newline */
        "witness.example/w1+04d2d833+BD1AF8PoQ4lakrcKp00bfrycmCzPLsSWjMDNVfEq9GYN",  /* non-canonical */
        "witness example+04d2d833+BD1AF8PoQ4lakrcKp00bfrycmCzPLsSWjMDNVfEq9GYM",     /* space in name */
        "PRIVATE+KEY+witness.example/w1+d3188955+AUzNCJso/5bandtsNG7BFOD1uKMZ81q6Jk2M9u1PuKb7",
        "",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        tz_public_key k;
        ck_assert_msg(tz_witness_key_parse(&k, bad[i], strlen(bad[i]), &e) == TZ_ERR_INPUT, "accepted %s", bad[i]);
        ck_assert(strstr(e.msg, "key") != NULL);
    }
    free(text);
    tz_key_wipe(&w);
}
END_TEST

START_TEST(test_vectors_spec_example)
{
    /* The spec's own example: its key is not published, so what can be
     * checked is the framing (key id, big-endian time of its signed
     * message example, 64 signature bytes) and that it is not taken for
     * a cosignature of another key. */
    size_t len;
    char *note = read_vec(VEC("cosignature_c2sp_spec.note"), &len);
    tz_note n;
    tz_err e;
    ck_assert_msg(tz_note_parse(&n, note, len, &e) == TZ_OK, "%s", e.msg);
    ck_assert_uint_eq(n.nsigs, 2);
    ck_assert_str_eq(n.sigs[1].name, "witness.example.com/w1");
    ck_assert_uint_eq(n.sigs[1].key_id, 0x8d66cf3fu);
    ck_assert_uint_eq(n.sigs[1].sig_len, 72);
    uint64_t t = 0;
    for (int i = 0; i < 8; i++)
        t = t << 8 | n.sigs[1].sig[i];
    ck_assert_uint_eq(t, 1679315147u);
    ck_assert_int_eq(tz_witness_verify_line(&n, 1, &wit[0].pub, NULL, &e), TZ_ERR_NOTFOUND);
    free(note);
}
END_TEST

START_TEST(test_add_cosignature_keeps_lines)
{
    size_t len, l1, l2;
    char *cp = checkpoint_of(fx.db, &len, NULL);
    char *a = add_cosig(cp, len, &wit[1], 100, &l1);        /* w2 */
    char *b = add_cosig(a, l1, &wit[0], 200, &l2);          /* w1 */
    char *c = NULL;
    size_t l3;
    c = add_cosig(b, l2, &wit[0], 300, &l3);                /* w1 again: replaces its line */
    tz_note n;
    tz_err e;
    ck_assert(tz_note_parse(&n, c, l3, &e) == TZ_OK);
    ck_assert_uint_eq(n.nsigs, 3);
    ck_assert_mem_eq(c, a, l1); /* the log's and w2's lines byte for byte, in order */
    uint64_t t;
    ck_assert(tz_witness_verify_line(&n, 2, &wit[0].pub, &t, &e) == TZ_OK);
    ck_assert_uint_eq(t, 300);
    ck_assert(tz_witness_verify_line(&n, 1, &wit[1].pub, &t, &e) == TZ_OK);
    ck_assert_uint_eq(t, 100);
    /* Limits: no time beyond 2^63 - 1; garbage is not a note. */
    char *x = NULL;
    size_t xl;
    ck_assert_int_eq(tz_witness_add_cosignature(&x, &xl, cp, len, &wit[0], (uint64_t)INT64_MAX + 1, &e),
                     TZ_ERR_USAGE);
    ck_assert_int_eq(tz_witness_add_cosignature(&x, &xl, "junk\n", 5, &wit[0], 1, &e), TZ_ERR_INPUT);
    ck_assert_ptr_null(x);
    free(cp), free(a), free(b), free(c);
}
END_TEST

/* ---- the witness step ----------------------------------------------------------------- */

START_TEST(test_first_and_growth)
{
    char cp_path[400], proof_path[400], out_path[400];
    snprintf(cp_path, sizeof cp_path, "%s/cp", fx.dir);
    snprintf(proof_path, sizeof proof_path, "%s/proof.json", fx.dir);
    snprintf(out_path, sizeof out_path, "%s/cosigned", fx.dir);
    size_t len;
    char *cp = checkpoint_of(fx.db, &len, cp_path); /* size 2: genesis and the grant */
    char *out = NULL, *err = NULL;
    char args[2000];
    snprintf(args, sizeof args, "--checkpoint %s --out %s", cp_path, out_path);
    ck_assert_int_eq(run_witness(&out, &err, args), 0);
    ck_assert_msg(strstr(err, "trusted on first use") != NULL, "%s", err);
    tz_err e;
    ck_assert_msg(tz_witness_policy_check(out, strlen(out), &fx.log.pub, &wit[0].pub, 1, 1, NULL, &e) == TZ_OK,
                  "%s", e.msg);
    ck_assert_mem_eq(out, cp, len); /* the log's note, then the cosignature */
    char *saved = tz_test_read_file(out_path, NULL), *st = state_bytes(state);
    ck_assert_str_eq(saved, out);
    ck_assert_str_eq(st, out); /* the state is the last cosigned note */
    free(saved), free(st), free(out), free(err), free(cp);

    /* The same checkpoint again: cosigned again. */
    ck_assert_int_eq(run_witness(&out, &err, args), 0);
    ck_assert_msg(strstr(err, "again") != NULL, "%s", err);
    free(out), free(err);

    /* Growth with the proof `taizhang prove --from 2 --to 12` prints. */
    append_memos(fx.db, 0, 10);
    cp = checkpoint_of(fx.db, &len, cp_path);
    ck_assert_int_eq(tz_test_run(NULL, "%s prove --db %s --from 2 --to 12 > %s", TZ_CLI_PATH, fx.db, proof_path), 0);
    snprintf(args, sizeof args, "--checkpoint %s --proof %s", cp_path, proof_path);
    ck_assert_int_eq(run_witness(&out, &err, args), 0);
    ck_assert_msg(strstr(err, "extends size 2 (consistency proof verified)") != NULL, "%s", err);
    ck_assert_msg(tz_witness_policy_check(out, strlen(out), &fx.log.pub, &wit[0].pub, 1, 1, NULL, &e) == TZ_OK,
                  "%s", e.msg);
    st = state_bytes(state);
    ck_assert_str_eq(st, out);
    free(st), free(out), free(err), free(cp);

    /* And again through the library, 12 -> 40, the checkpoint read from stdin by the CLI. */
    append_memos(fx.db, 10, 28);
    cp = checkpoint_of(fx.db, &len, cp_path);
    tz_witness_proof p;
    proof_of(fx.db, 12, 40, &p);
    char *lib = NULL;
    size_t lib_len;
    ck_assert_msg(cosign(cp, len, &p, &wit[0], &lib, &lib_len, &e) == TZ_OK, "%s", e.msg);
    ck_assert_msg(tz_witness_policy_check(lib, lib_len, &fx.log.pub, &wit[0].pub, 1, 1, NULL, &e) == TZ_OK, "%s",
                  e.msg);
    snprintf(args, sizeof args, "--checkpoint - < %s", cp_path);
    ck_assert_int_eq(run_witness(&out, &err, args), 0); /* same size and root: again */
    free(out), free(err), free(lib), free(cp);
}
END_TEST

/* Every refusal: exit 1 (or 3 for malformed input), a message naming the
 * rule, and the state byte for byte as before. */
static void expect_refusal(const char *args, int want_rc, const char *want_msg)
{
    char *before = state_bytes(state), *out = NULL, *err = NULL;
    int rc = run_witness(&out, &err, args);
    ck_assert_msg(rc == want_rc, "exit %d, want %d (%s): %s", rc, want_rc, args, err);
    ck_assert_msg(strstr(err, want_msg) != NULL, "message \"%s\" lacks \"%s\"", err, want_msg);
    ck_assert_str_eq(out, ""); /* nothing cosigned reaches stdout */
    char *after = state_bytes(state);
    ck_assert_str_eq(after, before);
    free(before), free(after), free(out), free(err);
}

START_TEST(test_refusals)
{
    char cp2[400], cp12[400], path[400], args[2000];
    snprintf(cp2, sizeof cp2, "%s/cp2", fx.dir);
    snprintf(cp12, sizeof cp12, "%s/cp12", fx.dir);
    size_t len;
    free(checkpoint_of(fx.db, &len, cp2));
    append_memos(fx.db, 0, 10);
    char *c12 = checkpoint_of(fx.db, &len, cp12);
    snprintf(args, sizeof args, "--checkpoint %s", cp2);
    ck_assert_int_eq(run_witness(NULL, NULL, args), 0); /* saw size 2 */

    /* Growth without a proof. */
    snprintf(args, sizeof args, "--checkpoint %s", cp12);
    expect_refusal(args, 1, "a consistency proof from 2 to 12 is required");
    /* A proof between other sizes. */
    snprintf(path, sizeof path, "%s/p1.json", fx.dir);
    ck_assert_int_eq(tz_test_run(NULL, "%s prove --db %s --from 1 --to 12 > %s", TZ_CLI_PATH, fx.db, path), 0);
    snprintf(args, sizeof args, "--checkpoint %s --proof %s", cp12, path);
    expect_refusal(args, 1, "the witness needs one from 2");
    /* The right sizes, one hash altered. */
    tz_witness_proof p;
    proof_of(fx.db, 2, 12, &p);
    ck_assert_uint_gt(p.proof.count, 0);
    p.proof.hashes[0][0] ^= 1;
    char b64[45], json[8192];
    int n = snprintf(json, sizeof json, "{\"size1\":2,\"size2\":12,\"hashes\":[");
    for (size_t i = 0; i < p.proof.count; i++) {
        tz_base64_encode(b64, sizeof b64, p.proof.hashes[i], 32);
        n += snprintf(json + n, sizeof json - (size_t)n, "%s\"%s\"", i ? "," : "", b64);
    }
    snprintf(json + n, sizeof json - (size_t)n, "]}");
    snprintf(path, sizeof path, "%s/p2.json", fx.dir);
    tz_test_write_file(path, json, strlen(json));
    snprintf(args, sizeof args, "--checkpoint %s --proof %s", cp12, path);
    expect_refusal(args, 1, "the history was rewritten");
    /* Malformed proof files: input rejected (3). */
    static const char *const bad_json[] = {
        "{\"size1\":2,\"size2\":12}", "{\"size1\":2,\"size2\":12,\"hashes\":[\"AAAA\"]}",
        "{\"size1\":-2,\"size2\":12,\"hashes\":[]}", "{\"size1\":2,\"size2\":12,\"hashes\":[],\"x\":1}",
        "{\"size1\":2,\"size1\":2,\"size2\":12,\"hashes\":[]}", "not json", "{\"size1\":12,\"size2\":2,\"hashes\":[]}",
    };
    static const char *const bad_msg[] = {"proof.hashes", "proof.hashes[0]", "proof.size1", "proof.x", "proof: not JSON",
                                          "proof: not JSON", "size1 12 > size2 2"};
    for (size_t i = 0; i < sizeof bad_json / sizeof bad_json[0]; i++) {
        tz_test_write_file(path, bad_json[i], strlen(bad_json[i]));
        expect_refusal(args, 3, bad_msg[i]);
    }
    /* Not signed by the log key: signed by a stranger with the log's name. */
    tz_secret_key impostor;
    tz_err e;
    ck_assert(tz_key_generate(&impostor, fx.log.pub.name, &e) == TZ_OK);
    tz_checkpoint cp;
    ck_assert(tz_checkpoint_open(&cp, c12, len, &fx.log.pub, &e) == TZ_OK);
    char *forged = NULL;
    size_t forged_len;
    ck_assert(tz_checkpoint_sign(&forged, &forged_len, &cp, &impostor, &e) == TZ_OK);
    snprintf(path, sizeof path, "%s/forged", fx.dir);
    tz_test_write_file(path, forged, forged_len);
    snprintf(args, sizeof args, "--checkpoint %s", path);
    expect_refusal(args, 1, "no signature line for key");
    tz_key_wipe(&impostor);
    free(forged);
    /* Garbage for a checkpoint, or far too much of it: input rejected. */
    tz_test_write_file(path, "hello\n", 6);
    expect_refusal(args, 3, "checkpoint: note");
    char *huge = malloc(70000);
    ck_assert_ptr_nonnull(huge);
    memset(huge, 'a', 70000);
    tz_test_write_file(path, huge, 70000);
    free(huge);
    expect_refusal(args, 3, "too large");

    /* Now at 12; then the log shows size 2 again: a rollback. */
    proof_of(fx.db, 2, 12, &p);
    ck_assert_msg(cosign(c12, len, &p, &wit[0], NULL, NULL, &e) == TZ_OK, "%s", e.msg);
    snprintf(args, sizeof args, "--checkpoint %s", cp2);
    expect_refusal(args, 1, "size 2 < last seen 12 at " ORIGIN ": the log was rolled back");
    /* Library: a rollback is TZ_ERR_PROOF. */
    size_t l2;
    char *c2 = tz_test_read_file(cp2, &l2);
    ck_assert_int_eq(cosign(c2, l2, NULL, &wit[0], NULL, NULL, &e), TZ_ERR_PROOF);
    /* A state file altered on disk is not trusted. */
    char *st = state_bytes(state);
    DIR *d = opendir(state);
    struct dirent *de;
    char file[800];
    while ((de = readdir(d)) != NULL) {
        if (strstr(de->d_name, ".checkpoint") != NULL) {
            snprintf(file, sizeof file, "%s/%s", state, de->d_name);
            char *edited = strdup(st);
            char *size_line = strstr(edited, "\n12\n");
            ck_assert_ptr_nonnull(size_line);
            size_line[2] = '3'; /* 12 -> 13 */
            tz_test_write_file(file, edited, strlen(edited));
            free(edited);
        }
    }
    closedir(d);
    snprintf(args, sizeof args, "--checkpoint %s", cp12);
    expect_refusal(args, 1, "does not verify under the log key");
    free(st), free(c2), free(c12);
}
END_TEST

/* A fork built with the REAL log key: ledger B is a copy of A (same keys,
 * same origin, same first 7 entries) that then takes other entries. */
START_TEST(test_fork_with_real_log_key)
{
    char db_b[400], cp_a[400], cp_b[400], cp_b15[400], proof_b[400], args[2000];
    snprintf(db_b, sizeof db_b, "%s/ledger-b", fx.dir);
    snprintf(cp_a, sizeof cp_a, "%s/cp-a", fx.dir);
    snprintf(cp_b, sizeof cp_b, "%s/cp-b", fx.dir);
    snprintf(cp_b15, sizeof cp_b15, "%s/cp-b15", fx.dir);
    snprintf(proof_b, sizeof proof_b, "%s/proof-b.json", fx.dir);
    append_memos(fx.db, 0, 5); /* size 7: the common prefix */
    size_t len;
    char *c7 = checkpoint_of(fx.db, &len, NULL);
    copy_ledger(fx.db, db_b);
    append_memos(fx.db, 5, 5);   /* A: size 12 */
    append_memos(db_b, 100, 5);  /* B: size 12, other entries */
    size_t la, lb;
    char *a12 = checkpoint_of(fx.db, &la, cp_a), *b12 = checkpoint_of(db_b, &lb, cp_b);
    tz_checkpoint ca, cb;
    tz_err e;
    ck_assert(tz_checkpoint_open(&ca, a12, la, &fx.log.pub, &e) == TZ_OK);
    ck_assert(tz_checkpoint_open(&cb, b12, lb, &fx.log.pub, &e) == TZ_OK); /* B is signed by the real key */
    ck_assert_str_eq(ca.origin, cb.origin);
    ck_assert_uint_eq(ca.size, cb.size);
    ck_assert(memcmp(ca.root, cb.root, 32) != 0);

    /* The witness saw the prefix (size 7), then A at 12. */
    ck_assert_msg(cosign(c7, len, NULL, &wit[0], NULL, NULL, &e) == TZ_OK, "%s", e.msg);
    tz_witness_proof p;
    proof_of(fx.db, 7, 12, &p);
    ck_assert_msg(cosign(a12, la, &p, &wit[0], NULL, NULL, &e) == TZ_OK, "%s", e.msg);

    /* B at the same size: a split view. */
    snprintf(args, sizeof args, "--checkpoint %s", cp_b);
    expect_refusal(args, 1, "a split view");
    /* B grown to 15, with B's own (valid for B) consistency proof 12 -> 15. */
    append_memos(db_b, 105, 3);
    free(checkpoint_of(db_b, &lb, cp_b15));
    ck_assert_int_eq(tz_test_run(NULL, "%s prove --db %s --from 12 --to 15 > %s", TZ_CLI_PATH, db_b, proof_b), 0);
    snprintf(args, sizeof args, "--checkpoint %s --proof %s", cp_b15, proof_b);
    expect_refusal(args, 1, "the history was rewritten");
    /* B's proof from the common prefix (7 -> 15) is not for the size the witness saw. */
    ck_assert_int_eq(tz_test_run(NULL, "%s prove --db %s --from 7 --to 15 > %s", TZ_CLI_PATH, db_b, proof_b), 0);
    expect_refusal(args, 1, "the witness needs one from 12");

    /* A second witness that saw only the prefix accepts B (it is a valid
     * history to it) and would then refuse A: one history per witness. */
    snprintf(state, sizeof state, "%s/state-2", fx.dir);
    ck_assert(cosign(c7, len, NULL, &wit[1], NULL, NULL, &e) == TZ_OK);
    proof_of(db_b, 7, 12, &p);
    ck_assert_msg(cosign(b12, lb, &p, &wit[1], NULL, NULL, &e) == TZ_OK, "%s", e.msg);
    char *before = state_bytes(state);
    ck_assert_int_eq(cosign(a12, la, NULL, &wit[1], NULL, NULL, &e), TZ_ERR_PROOF);
    ck_assert_msg(strstr(e.msg, "split view") != NULL, "%s", e.msg);
    char *after = state_bytes(state);
    ck_assert_str_eq(before, after);
    free(before), free(after), free(a12), free(b12), free(c7);
}
END_TEST

START_TEST(test_size_zero_and_origin)
{
    tz_err e;
    /* A size-0 checkpoint must carry the empty root. */
    tz_checkpoint cp = {.origin = ORIGIN, .size = 0};
    memset(cp.root, 7, 32);
    char *note = NULL;
    size_t len;
    ck_assert(tz_checkpoint_sign(&note, &len, &cp, &fx.log, &e) == TZ_OK);
    ck_assert_int_eq(cosign(note, len, NULL, &wit[0], NULL, NULL, &e), TZ_ERR_PROOF);
    ck_assert_msg(strstr(e.msg, "empty tree") != NULL, "%s", e.msg);
    free(note);
    tz_merkle_empty_root(cp.root);
    ck_assert(tz_checkpoint_sign(&note, &len, &cp, &fx.log, &e) == TZ_OK);
    ck_assert_msg(cosign(note, len, NULL, &wit[0], NULL, NULL, &e) == TZ_OK, "%s", e.msg);
    free(note);
    /* From size 0 any tree follows, without a proof. */
    char *c2 = checkpoint_of(fx.db, &len, NULL);
    ck_assert_msg(cosign(c2, len, NULL, &wit[0], NULL, NULL, &e) == TZ_OK, "%s", e.msg);
    free(c2);
    /* The same log key signing another origin: refused. */
    tz_checkpoint other = {.origin = "test.example/other", .size = 0};
    tz_merkle_empty_root(other.root);
    ck_assert(tz_checkpoint_sign(&note, &len, &other, &fx.log, &e) == TZ_OK);
    ck_assert_int_eq(cosign(note, len, NULL, &wit[0], NULL, NULL, &e), TZ_ERR_PROOF);
    ck_assert_msg(strstr(e.msg, "may not change its origin") != NULL, "%s", e.msg);
    free(note);
}
END_TEST

/* ---- the verifier's policy ---------------------------------------------------------------- */

START_TEST(test_policy)
{
    size_t len;
    char *cp = checkpoint_of(fx.db, &len, NULL);
    tz_public_key ws[3] = {wit[0].pub, wit[1].pub, wit[2].pub};
    tz_err e;
    size_t l1, l2, l3, l4;
    char *one = add_cosig(cp, len, &wit[0], 1000, &l1);
    char *unknown = add_cosig(one, l1, &rogue, 1000, &l2);
    char *two = add_cosig(one, l1, &wit[2], 1001, &l3);
    /* K = 2 of 3 with one cosignature: refused, naming who is missing. */
    ck_assert_int_eq(tz_witness_policy_check(one, l1, &fx.log.pub, ws, 3, 2, NULL, &e), TZ_ERR_PROOF);
    ck_assert_msg(strstr(e.msg, "1 valid witness cosignature, 2 needed") != NULL, "%s", e.msg);
    ck_assert_msg(strstr(e.msg, "w2.example/witness (no cosignature)") != NULL, "%s", e.msg);
    ck_assert_msg(strstr(e.msg, "w3.example/witness") != NULL, "%s", e.msg);
    ck_assert_msg(strstr(e.msg, "w1.example") == NULL, "%s", e.msg);
    /* An unknown key's cosignature does not count. */
    ck_assert_int_eq(tz_witness_policy_check(unknown, l2, &fx.log.pub, ws, 3, 2, NULL, &e), TZ_ERR_PROOF);
    ck_assert_msg(tz_witness_policy_check(unknown, l2, &fx.log.pub, ws, 3, 1, NULL, &e) == TZ_OK, "%s", e.msg);
    /* Two: accepted. */
    tz_checkpoint got;
    ck_assert_msg(tz_witness_policy_check(two, l3, &fx.log.pub, ws, 3, 2, &got, &e) == TZ_OK, "%s", e.msg);
    ck_assert_str_eq(got.origin, ORIGIN);
    ck_assert_uint_eq(got.size, 2);
    /* A tampered cosignature is not counted, and is named. */
    char *tampered = strdup(two);
    char *line = strstr(tampered, EM " w3.example/witness ");
    ck_assert_ptr_nonnull(line);
    char *sig = line + strlen(EM " w3.example/witness ") + 40;
    *sig = *sig == 'A' ? 'B' : 'A';
    ck_assert_int_eq(tz_witness_policy_check(tampered, l3, &fx.log.pub, ws, 3, 2, NULL, &e), TZ_ERR_PROOF);
    ck_assert_msg(strstr(e.msg, "1 valid") != NULL && strstr(e.msg, "invalid Ed25519 signature") != NULL, "%s",
                  e.msg);
    /* A witness listed twice counts once; K over the distinct witnesses is a usage error. */
    tz_public_key twice[2] = {wit[0].pub, wit[0].pub};
    ck_assert_int_eq(tz_witness_policy_check(two, l3, &fx.log.pub, twice, 2, 2, NULL, &e), TZ_ERR_USAGE);
    /* The log's signature is required whatever the witnesses say. */
    tz_checkpoint c;
    ck_assert(tz_checkpoint_open(&c, cp, len, &fx.log.pub, &e) == TZ_OK);
    char *text = NULL;
    size_t text_len;
    ck_assert(tz_checkpoint_format(&text, &text_len, &c, &e) == TZ_OK);
    char *by_w2 = NULL;
    ck_assert(tz_note_sign(&by_w2, &l4, text, text_len, &wit[1], &e) == TZ_OK); /* a note with no log line */
    size_t l5, l6;
    char *nolog = add_cosig(by_w2, l4, &wit[0], 5, &l5);
    char *nolog2 = add_cosig(nolog, l5, &wit[2], 5, &l6);
    ck_assert_int_eq(tz_witness_policy_check(nolog2, l6, &fx.log.pub, ws, 3, 2, NULL, &e), TZ_ERR_PROOF);
    ck_assert_msg(strstr(e.msg, "no signature line for key") != NULL, "%s", e.msg);
    /* K = 0: the log's signature alone. */
    ck_assert(tz_witness_policy_check(cp, len, &fx.log.pub, ws, 3, 0, NULL, &e) == TZ_OK);
    free(cp), free(one), free(unknown), free(two), free(tampered), free(text), free(by_w2), free(nolog);
    free(nolog2);
}
END_TEST

START_TEST(test_verify_cli_policy)
{
    char cp_path[400], vkey04[400];
    snprintf(cp_path, sizeof cp_path, "%s/cp", fx.dir);
    snprintf(vkey04, sizeof vkey04, "%s/w3.vkey", fx.dir);
    /* w3's key given in the spec's 0x04 form, as `taizhang witness --vkey` prints it. */
    ck_assert_int_eq(tz_test_run(NULL, "%s witness --vkey --key %s > %s", TZ_CLI_PATH, wit_key[2], vkey04), 0);
    size_t len, l1, l2;
    char *cp = checkpoint_of(fx.db, &len, NULL);
    char *one = add_cosig(cp, len, &wit[0], (uint64_t)time(NULL), &l1);
    tz_test_write_file(cp_path, one, l1);
    char *out = NULL;
    char ws[2000];
    snprintf(ws, sizeof ws, "--witness %s --witness %s --witness %s", wit_pub[0], wit_pub[1], vkey04);
    int rc = tz_test_run(&out, "%s verify --db %s --trusted %s %s --witnesses-needed 2", TZ_CLI_PATH, fx.db, cp_path,
                         ws);
    ck_assert_msg(rc == 1, "exit %d: %s", rc, out);
    ck_assert_msg(strstr(out, "UNTRUSTED") != NULL && strstr(out, "1 valid witness cosignature, 2 needed") != NULL,
                  "%s", out);
    free(out);
    rc = tz_test_run(&out, "%s verify --db %s --trusted %s %s --witnesses-needed 2 --json", TZ_CLI_PATH, fx.db,
                     cp_path, ws);
    ck_assert_int_eq(rc, 1);
    ck_assert_msg(strstr(out, "\"ok\":false") != NULL, "%s", out);
    free(out);
    char *two = add_cosig(one, l1, &wit[2], (uint64_t)time(NULL), &l2);
    tz_test_write_file(cp_path, two, l2);
    rc = tz_test_run(&out, "%s verify --db %s --trusted %s %s --witnesses-needed 2", TZ_CLI_PATH, fx.db, cp_path, ws);
    ck_assert_msg(rc == 0, "exit %d: %s", rc, out);
    ck_assert_msg(strstr(out, "cosigned by at least 2 of 3 witnesses") != NULL, "%s", out);
    free(out);
    /* Default K: all of them. */
    rc = tz_test_run(&out, "%s verify --db %s --trusted %s %s", TZ_CLI_PATH, fx.db, cp_path, ws);
    ck_assert_int_eq(rc, 1);
    free(out);
    /* Usage errors: exit 2. */
    ck_assert_int_eq(tz_test_run(NULL, "%s verify --db %s %s 2>/dev/null", TZ_CLI_PATH, fx.db, ws), 2);
    ck_assert_int_eq(tz_test_run(NULL, "%s verify --db %s --trusted %s %s --witnesses-needed 4 2>/dev/null",
                                 TZ_CLI_PATH, fx.db, cp_path, ws), 2);
    ck_assert_int_eq(tz_test_run(NULL, "%s log --db %s --witness %s 2>/dev/null", TZ_CLI_PATH, fx.db, wit_pub[0]),
                     2);
    free(cp), free(one), free(two);
}
END_TEST

/* ---- taizhangd ------------------------------------------------------------------------------ */

typedef struct daemon_proc {
    pid_t pid;
    int port;
} daemon_proc;

static void daemon_start(daemon_proc *d, const char *db, const char *w1, const char *w2)
{
    int fds[2];
    ck_assert(pipe(fds) == 0);
    d->pid = fork();
    ck_assert(d->pid >= 0);
    if (d->pid == 0) {
        dup2(fds[1], STDOUT_FILENO);
        close(fds[0]);
        close(fds[1]);
        execl(TZ_DAEMON_PATH, "taizhangd", "--db", db, "--listen", "127.0.0.1:0", "--workers", "2", "--witness", w1,
              "--witness", w2, (char *)NULL);
        _exit(127);
    }
    close(fds[1]);
    FILE *f = fdopen(fds[0], "r");
    char line[256] = "";
    ck_assert_msg(fgets(line, sizeof line, f) != NULL, "the daemon printed nothing");
    fclose(f);
    const char *p = strstr(line, "127.0.0.1:");
    ck_assert_msg(p != NULL, "no listening line: %s", line);
    d->port = atoi(p + 10);
    ck_assert_int_gt(d->port, 0);
}

static int daemon_stop(daemon_proc *d)
{
    int st;
    ck_assert(kill(d->pid, SIGTERM) == 0);
    ck_assert(waitpid(d->pid, &st, 0) == d->pid);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* One HTTP/1.1 request on a fresh connection; the status, *body the response body. */
static int http(int port, const char *method, const char *path, const void *req, size_t req_len, char **body)
{
    *body = NULL;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    ck_assert_int_ge(fd, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ck_assert(connect(fd, (struct sockaddr *)&a, sizeof a) == 0);
    char head[512];
    int n = snprintf(head, sizeof head, "%s %s HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n"
                     "Content-Type: text/plain\r\nContent-Length: %zu\r\n\r\n", method, path, req_len);
    ck_assert(send(fd, head, (size_t)n, MSG_NOSIGNAL) == n);
    if (req_len)
        ck_assert(send(fd, req, req_len, MSG_NOSIGNAL) == (ssize_t)req_len);
    size_t cap = 65536, len = 0;
    char *in = malloc(cap);
    ck_assert_ptr_nonnull(in);
    ssize_t r;
    while (len + 1 < cap && (r = recv(fd, in + len, cap - len - 1, 0)) > 0)
        len += (size_t)r;
    close(fd);
    in[len] = '\0';
    int status = len > 12 && strncmp(in, "HTTP/1.1 ", 9) == 0 ? atoi(in + 9) : -1;
    char *sep = strstr(in, "\r\n\r\n");
    *body = strdup(sep ? sep + 4 : "");
    free(in);
    return status;
}

static void expect_status(int got, int want, const char *body, const char *word)
{
    ck_assert_msg(got == want, "status %d, want %d: %s", got, want, body);
    ck_assert_msg(strstr(body, word) != NULL, "\"%s\" not in %s", word, body);
}

START_TEST(test_daemon_collects)
{
    char fork_db[400], w2_vkey[400];
    snprintf(fork_db, sizeof fork_db, "%s/ledger-fork", fx.dir);
    snprintf(w2_vkey, sizeof w2_vkey, "%s/w2.vkey", fx.dir);
    ck_assert_int_eq(tz_test_run(NULL, "%s witness --vkey --key %s > %s", TZ_CLI_PATH, wit_pub[1], w2_vkey), 0);
    append_memos(fx.db, 0, 3);
    copy_ledger(fx.db, fork_db);
    append_memos(fx.db, 3, 4);       /* the log: size 9 */
    append_memos(fork_db, 50, 4);    /* a fork with the real log key: size 9, other root */
    size_t fl;
    char *forked = checkpoint_of(fork_db, &fl, NULL);
    daemon_proc d;
    daemon_start(&d, fx.db, wit_pub[0], w2_vkey);
    char *body = NULL;
    int st = http(d.port, "GET", "/v1/checkpoint/cosigned", NULL, 0, &body);
    expect_status(st, 404, body, "no witness has cosigned");
    free(body);
    st = http(d.port, "GET", "/v1/checkpoint", NULL, 0, &body);
    ck_assert_int_eq(st, 200);
    char *cp = body;
    size_t len = strlen(cp);
    /* w1 cosigns and posts. */
    size_t l1, l2, l3;
    char *by1 = add_cosig(cp, len, &wit[0], (uint64_t)time(NULL), &l1);
    st = http(d.port, "POST", "/v1/checkpoint/cosign", by1, l1, &body);
    expect_status(st, 200, body, "\"stored\":true");
    ck_assert_msg(strstr(body, "\"cosignatures\":1") != NULL, "%s", body);
    free(body);
    st = http(d.port, "GET", "/v1/checkpoint/cosigned", NULL, 0, &body);
    ck_assert_int_eq(st, 200);
    ck_assert_str_eq(body, by1);
    free(body);
    /* w2 cosigns the log's note (without w1's line) and posts. */
    char *by2 = add_cosig(cp, len, &wit[1], (uint64_t)time(NULL), &l2);
    st = http(d.port, "POST", "/v1/checkpoint/cosign", by2, l2, &body);
    expect_status(st, 200, body, "\"cosignatures\":2");
    free(body);
    st = http(d.port, "GET", "/v1/checkpoint/cosigned", NULL, 0, &body);
    ck_assert_int_eq(st, 200);
    tz_public_key ws[2] = {wit[0].pub, wit[1].pub};
    tz_err e;
    tz_checkpoint got;
    ck_assert_msg(tz_witness_policy_check(body, strlen(body), &fx.log.pub, ws, 2, 2, &got, &e) == TZ_OK, "%s: %s",
                  e.msg, body);
    ck_assert_uint_eq(got.size, 9);
    char *collected = body;
    /* A cosignature from a witness the daemon does not trust: 401, nothing stored. */
    char *by3 = add_cosig(by1, l1, &wit[2], (uint64_t)time(NULL), &l3);
    st = http(d.port, "POST", "/v1/checkpoint/cosign", by3, l3, &body);
    expect_status(st, 401, body, "w3.example/witness");
    free(body);
    /* A tampered cosignature of a trusted witness: 401. */
    char *bad = strdup(by1);
    char *line = strstr(bad, EM " w1.example/witness ");
    char *c = line + strlen(EM " w1.example/witness ") + 50;
    *c = *c == 'A' ? 'B' : 'A';
    st = http(d.port, "POST", "/v1/checkpoint/cosign", bad, l1, &body);
    expect_status(st, 401, body, "invalid Ed25519 signature");
    free(body);
    /* The fork's checkpoint, signed with the real log key and cosigned by a trusted witness: 409. */
    size_t lf;
    char *fork_cosigned = add_cosig(forked, fl, &wit[0], (uint64_t)time(NULL), &lf);
    st = http(d.port, "POST", "/v1/checkpoint/cosign", fork_cosigned, lf, &body);
    expect_status(st, 409, body, "not a checkpoint this log issued");
    free(body);
    /* Only the log's signature: no cosignature to collect (400); garbage: 400. */
    st = http(d.port, "POST", "/v1/checkpoint/cosign", cp, len, &body);
    expect_status(st, 400, body, "no witness cosignature");
    free(body);
    st = http(d.port, "POST", "/v1/checkpoint/cosign", "junk", 4, &body);
    expect_status(st, 400, body, "body: note");
    free(body);
    st = http(d.port, "GET", "/v1/checkpoint/cosign", NULL, 0, &body);
    ck_assert_int_eq(st, 405);
    free(body);
    /* Nothing refused changed the collection. */
    st = http(d.port, "GET", "/v1/checkpoint/cosigned", NULL, 0, &body);
    ck_assert_str_eq(body, collected);
    free(body);
    ck_assert_int_eq(daemon_stop(&d), 0);
    free(cp), free(by1), free(by2), free(by3), free(bad), free(forked), free(fork_cosigned), free(collected);
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("witness");
    TCase *vec = tcase_create("vectors");
    tcase_add_checked_fixture(vec, setup, teardown);
    tcase_add_test(vec, test_vectors_cosignature);
    tcase_add_test(vec, test_vectors_keys);
    tcase_add_test(vec, test_vectors_spec_example);
    tcase_add_test(vec, test_add_cosignature_keeps_lines);
    suite_add_tcase(s, vec);
    TCase *wt = tcase_create("witness");
    tcase_add_checked_fixture(wt, setup, teardown);
    tcase_add_test(wt, test_first_and_growth);
    tcase_add_test(wt, test_refusals);
    tcase_add_test(wt, test_fork_with_real_log_key);
    tcase_add_test(wt, test_size_zero_and_origin);
    suite_add_tcase(s, wt);
    TCase *pol = tcase_create("policy");
    tcase_add_checked_fixture(pol, setup, teardown);
    tcase_add_test(pol, test_policy);
    tcase_add_test(pol, test_verify_cli_policy);
    suite_add_tcase(s, pol);
    TCase *dm = tcase_create("daemon");
    tcase_add_checked_fixture(dm, setup, teardown);
    tcase_add_test(dm, test_daemon_collects);
    suite_add_tcase(s, dm);
    return s;
}

int main(void) { return tz_test_main(make_suite); }
