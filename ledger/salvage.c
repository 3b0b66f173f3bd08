/*
 * salvage.c: copy what verifies out of a damaged ledger (salvage.h).
 *
 * Workload facts: salvage runs once, by hand, after a failure, on a ledger
 * that may be large (245 MiB at a million entries) and whose store RocksDB
 * refuses to open as it is. Nothing may be written to the original, not
 * even by RocksDB (a writable open deletes files, a repair rewrites the
 * MANIFEST), so the original is only opened read-only and its files copied;
 * the repair runs on the copy. Entries are read by seq with point reads, so
 * a damaged block costs the seqs in it, not the rest of its table. The
 * verdict on what was recovered is the library's own: the new ledger is
 * rebuilt by the decide step and checked by tz_verify_ledger, and cut at
 * the first entry it refuses.
 */
#include "ledger/salvage.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "crypto/hash.h"
#include "crypto/note.h"
#include "ledger/checkpoint.h"
#include "ledger/entry.h"
#include "ledger/ledger.h"
#include "ledger/prefix.h"
#include "ledger/rebuild.h"
#include "ledger/store.h"
#include "ledger/verify.h"
#include "util/fs.h"

#define WORK_NAME ".salvage-work"
#define COPY_BUF (1u << 20)

typedef struct salvage {
    const char *damaged_dir, *out_dir;
    char work[PATH_MAX];     /* out_dir/.salvage-work: the copy and the new ledger */
    char copy_db[PATH_MAX];  /* work/copy: the copy of the original's db, repaired */
    char stage[PATH_MAX];    /* work/ledger: the new ledger being built */
    tz_store *original;      /* damaged_dir/db, read-only (TZ_STORE_SALVAGE), or NULL */
    tz_store *repaired;      /* the repaired copy, read-only, or NULL */
    tz_salvage_report *rep;
    size_t cap_lost;
} salvage;

static int join(char *out, size_t cap, const char *dir, const char *name, tz_err *err)
{
    return tz_fs_join(out, cap, dir, name, "salvage", err);
}

void tz_salvage_report_free(tz_salvage_report *rep)
{
    if (rep == NULL)
        return;
    free(rep->lost);
    memset(rep, 0, sizeof *rep);
}

/* Records seq as not recovered for reason, joining the run before it when
 * the reason is the same. */
static int add_lost(salvage *sv, uint64_t seq, const char *reason, tz_err *err)
{
    tz_salvage_report *r = sv->rep;
    if (r->nlost > 0 && r->lost[r->nlost - 1].to + 1 == seq &&
        strcmp(r->lost[r->nlost - 1].reason, reason) == 0) {
        r->lost[r->nlost - 1].to = seq;
        return TZ_OK;
    }
    if (r->nlost == sv->cap_lost) {
        size_t cap = sv->cap_lost ? 2 * sv->cap_lost : 16;
        tz_salvage_lost *grown = realloc(r->lost, cap * sizeof *grown);
        if (grown == NULL)
            return tz_err_set(err, TZ_ERR_NOMEM, "salvage: out of memory");
        r->lost = grown;
        sv->cap_lost = cap;
    }
    tz_salvage_lost *l = &r->lost[r->nlost++];
    l->from = l->to = seq;
    snprintf(l->reason, sizeof l->reason, "%s", reason);
    return TZ_OK;
}

/* ---- reading the damaged store ---------------------------------------------- */

/* Copies the regular files of the original's db directory (not its LOCK)
 * into dst, which is created. The original is only read. */
static int copy_store_files(const char *src, const char *dst, tz_err *err)
{
    if (mkdir(dst, 0700) != 0)
        return tz_err_set(err, TZ_ERR_IO, "salvage: cannot create %s: %s", dst, strerror(errno));
    DIR *d = opendir(src);
    if (d == NULL)
        return tz_err_set(err, TZ_ERR_IO, "salvage: %s: %s", src, strerror(errno));
    char *buf = malloc(COPY_BUF);
    int rc = buf ? TZ_OK : tz_err_set(err, TZ_ERR_NOMEM, "salvage: out of memory");
    struct dirent *de;
    while (rc == TZ_OK && (de = readdir(d)) != NULL) {
        char from[PATH_MAX], to[PATH_MAX];
        struct stat st;
        if (strcmp(de->d_name, "LOCK") == 0 || de->d_name[0] == '.')
            continue;
        if ((rc = join(from, sizeof from, src, de->d_name, err)) != TZ_OK ||
            (rc = join(to, sizeof to, dst, de->d_name, err)) != TZ_OK)
            break;
        if (lstat(from, &st) != 0 || !S_ISREG(st.st_mode))
            continue;
        int in = open(from, O_RDONLY | O_CLOEXEC);
        int out = in < 0 ? -1 : open(to, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        ssize_t n = 0;
        while (out >= 0 && (n = read(in, buf, COPY_BUF)) > 0)
            if (write(out, buf, (size_t)n) != n) {
                n = -1;
                break;
            }
        if (in < 0 || out < 0 || n < 0)
            rc = tz_err_set(err, TZ_ERR_IO, "salvage: cannot copy %s to %s: %s", from, to,
                            strerror(errno));
        if (in >= 0)
            close(in);
        if (out >= 0 && close(out) != 0 && rc == TZ_OK)
            rc = tz_err_set(err, TZ_ERR_IO, "salvage: writing %s: %s", to, strerror(errno));
    }
    closedir(d);
    free(buf);
    return rc;
}

/* Opens the sources: the original read-only, and a repaired copy of it.
 * Either may fail (its reason is kept); both failing is an error. */
static int open_sources(salvage *sv, tz_err *err)
{
    char db[PATH_MAX];
    tz_err e;
    int rc = join(db, sizeof db, sv->damaged_dir, "db", err);
    if (rc != TZ_OK)
        return rc;
    tz_store *strict = NULL;
    if (tz_store_open(&strict, db, TZ_STORE_READONLY, &e) != TZ_OK)
        snprintf(sv->rep->damage, sizeof sv->rep->damage, "%s", e.msg);
    tz_store_close(strict);
    if (tz_store_open(&sv->original, db, TZ_STORE_SALVAGE, &e) != TZ_OK)
        snprintf(sv->rep->original_open, sizeof sv->rep->original_open, "%s", e.msg);
    if ((rc = copy_store_files(db, sv->copy_db, err)) != TZ_OK)
        return rc;
    tz_err r;
    if (tz_store_repair(sv->copy_db, &r) != TZ_OK ||
        tz_store_open(&sv->repaired, sv->copy_db, TZ_STORE_SALVAGE, &r) != TZ_OK) {
        if (sv->original == NULL)
            return tz_err_set(err, TZ_ERR_IO, "--db %s: the store cannot be read: %.200s; a "
                              "repaired copy neither: %.200s", sv->damaged_dir, e.msg, r.msg);
        snprintf(sv->rep->copy_open, sizeof sv->rep->copy_open, "%s", r.msg);
        sv->rep->beyond_unknown = sv->rep->damage[0] != '\0';
    }
    return TZ_OK;
}

/* The size the damaged ledger had, as far as any record in src tells: its
 * head, its stored checkpoint, its last entry. */
static void expected_from(salvage *sv, tz_store *src)
{
    if (src == NULL)
        return;
    uint64_t *n = &sv->rep->expected;
    tz_ledger_head head;
    if (tz_ledger_read_head(src, &head, NULL) == TZ_OK && head.size > *n)
        *n = head.size;
    uint8_t *val = NULL;
    size_t len = 0;
    if (tz_store_get(src, TZ_CF_META, "checkpoint", 10, &val, &len, NULL) == TZ_OK) {
        tz_note note;
        tz_checkpoint cp;
        if (tz_note_parse(&note, (const char *)val, len, NULL) == TZ_OK &&
            tz_checkpoint_parse(&cp, note.text, note.text_len, NULL) == TZ_OK && cp.size > *n)
            *n = cp.size;
        tz_store_free(val);
    }
    uint8_t key[8];
    if (tz_store_last_key(src, TZ_CF_ENTRIES, key, sizeof key, &len, NULL) == TZ_OK &&
        len == 8 && tz_store_u64_from_key(key) + 1 > *n && tz_store_u64_from_key(key) < UINT64_MAX)
        *n = tz_store_u64_from_key(key) + 1;
}

/* Reads entry seq from the original, else from the repaired copy. Returns 1
 * with *raw (tz_store_free) when one holds it; else 0 with why. */
static int read_entry(salvage *sv, uint64_t seq, uint8_t **raw, size_t *len, char *why,
                      size_t cap)
{
    uint8_t key[8];
    tz_err e1, e2;
    int r1 = TZ_ERR_NOTFOUND, r2 = TZ_ERR_NOTFOUND;
    tz_store_key_u64(key, seq);
    if (sv->original != NULL &&
        (r1 = tz_store_get(sv->original, TZ_CF_ENTRIES, key, 8, raw, len, &e1)) == TZ_OK)
        return 1;
    if (sv->repaired != NULL &&
        (r2 = tz_store_get(sv->repaired, TZ_CF_ENTRIES, key, 8, raw, len, &e2)) == TZ_OK) {
        sv->rep->repaired_copy = 1;
        return 1;
    }
    if (r1 != TZ_ERR_NOTFOUND)
        snprintf(why, cap, "unreadable: %.280s", e1.msg);
    else if (r2 != TZ_ERR_NOTFOUND)
        snprintf(why, cap, "unreadable: %.280s", e2.msg);
    else
        snprintf(why, cap, "missing: in no readable part of the store");
    return 0;
}

/* ---- writing the new ledger --------------------------------------------------- */

/* The new ledger at the stage: its store (owned) and the prefix written. */
typedef struct writer {
    tz_store *dst;
    tz_prefix_writer prefix;
} writer;

static int writer_open(writer *w, const char *stage, tz_err *err)
{
    char db[PATH_MAX];
    int rc;
    if (mkdir(stage, 0700) != 0)
        return tz_err_set(err, TZ_ERR_IO, "salvage: cannot create %s: %s", stage,
                          strerror(errno));
    if ((rc = join(db, sizeof db, stage, "db", err)) != TZ_OK ||
        (rc = tz_store_open(&w->dst, db, TZ_STORE_CREATE, err)) != TZ_OK)
        return rc;
    return tz_prefix_init(&w->prefix, w->dst, "salvage", err);
}

static void writer_close(writer *w)
{
    tz_prefix_free(&w->prefix);
    tz_store_close(w->dst);
    memset(w, 0, sizeof *w);
}

/* Checks entry seq on its own and against the one before (w): it decodes,
 * stands at its seq, chains and does not go back in time. 1 when it does;
 * else 0 with why. */
static int fits(const tz_prefix_writer *w, uint64_t seq, const uint8_t *raw, size_t len,
                tz_entry *e, char *why, size_t cap)
{
    tz_err de;
    if (tz_entry_decode(e, raw, len, &de) != TZ_OK) {
        snprintf(why, cap, "does not decode: %.280s", de.msg);
        return 0;
    }
    if (e->seq != seq) {
        snprintf(why, cap, "the record stored at seq %llu is entry %llu",
                 (unsigned long long)seq, (unsigned long long)e->seq);
        return 0;
    }
    if (w == NULL)
        return 1;
    if (!tz_hash_equal(e->prev, w->last_leaf, 32)) {
        snprintf(why, cap, "prev is not the leaf hash of entry %llu",
                 (unsigned long long)(seq ? seq - 1 : 0));
        return 0;
    }
    if (e->recorded_at < w->last_recorded_at) {
        snprintf(why, cap, "recorded_at goes back before entry %llu's",
                 (unsigned long long)(seq ? seq - 1 : 0));
        return 0;
    }
    return 1;
}

/* One pass over seqs 0..expected-1: the prefix up to the first entry that
 * is missing, unreadable, does not fit, or is at cut (the verifier's first
 * refusal, cut_reason) is written to a new ledger at sv->stage; every seq
 * from there on is recorded as lost with its reason. */
static int copy_pass(salvage *sv, uint64_t cut, const char *cut_reason, tz_err *err)
{
    tz_salvage_report *r = sv->rep;
    writer w;
    memset(&w, 0, sizeof w);
    r->nlost = 0;
    r->recovered = 0;
    int in_prefix = 1, rc = TZ_OK;
    char after_gap[TZ_SALVAGE_REASON_MAX] = "";
    for (uint64_t seq = 0; rc == TZ_OK && seq < r->expected; seq++) {
        uint8_t *raw = NULL;
        size_t len = 0;
        char why[TZ_SALVAGE_REASON_MAX];
        tz_entry e;
        int found = read_entry(sv, seq, &raw, &len, why, sizeof why);
        if (in_prefix) {
            int ok = found;
            if (ok && seq == cut) {
                snprintf(why, sizeof why, "%s", cut_reason);
                ok = 0;
            }
            if (ok)
                ok = fits(&w.prefix, seq, raw, len, &e, why, sizeof why);
            if (ok && w.dst == NULL)
                rc = writer_open(&w, sv->stage, err);
            if (ok && rc == TZ_OK) {
                rc = tz_prefix_add(&w.prefix, raw, len, e.recorded_at, err);
                r->recovered = seq + 1;
            } else if (rc == TZ_OK) {
                in_prefix = 0;
                snprintf(after_gap, sizeof after_gap, "readable, but after the gap at seq %llu "
                         "(entries after a gap cannot be chained into the ledger)",
                         (unsigned long long)seq);
                rc = add_lost(sv, seq, why, err);
            }
        } else if (!found) {
            rc = add_lost(sv, seq, why, err);
        } else {
            rc = add_lost(sv, seq, fits(NULL, seq, raw, len, &e, why, sizeof why) ? after_gap : why,
                          err);
        }
        tz_store_free(raw);
    }
    if (rc == TZ_OK && w.dst != NULL) {
        tz_prefix_root(&w.prefix, r->root);
        rc = tz_prefix_finish(&w.prefix, NULL, 0, NULL, 0, err);
    }
    writer_close(&w);
    return rc;
}

/* Builds the new ledger at sv->stage from a copy pass, signs its checkpoint
 * and verifies it; cuts the prefix at the verifier's first refusal and
 * builds again until it verifies. */
static int build(salvage *sv, const char *passphrase, tz_err *err)
{
    uint64_t cut = UINT64_MAX;
    char cut_reason[TZ_SALVAGE_REASON_MAX] = "";
    char key_from[PATH_MAX], key_to[PATH_MAX];
    int rc = join(key_from, sizeof key_from, sv->damaged_dir, "log.key", err);
    if (rc != TZ_OK || (rc = join(key_to, sizeof key_to, sv->stage, "log.key", err)) != TZ_OK)
        return rc;
    for (;;) {
        tz_fs_rmtree(sv->stage);
        if ((rc = copy_pass(sv, cut, cut_reason, err)) != TZ_OK || sv->rep->recovered == 0)
            return rc;
        if ((rc = tz_ledger_copy_key_file(key_from, key_to, err)) != TZ_OK)
            return rc;
        /* The derived records by the decide step. A refusal is left to the
         * verifier below, which places it at its seq. */
        uint64_t records = 0;
        tz_err why;
        rc = tz_rebuild_reproject(sv->stage, &records, &why);
        if (rc != TZ_OK && rc != TZ_ERR_TAMPER) {
            if (err != NULL)
                *err = why;
            return rc;
        }
        tz_ledger *l = NULL;
        if ((rc = tz_ledger_open(&l, sv->stage, 0, passphrase, err)) != TZ_OK)
            return rc;
        rc = tz_ledger_sign_checkpoint(l, err);
        tz_ledger_close(l);
        if (rc != TZ_OK)
            return rc;
        tz_verify_report vr;
        if ((rc = tz_verify_ledger(sv->stage, NULL, &vr, err)) != TZ_OK)
            return rc;
        if (vr.ok)
            return TZ_OK;
        if (!vr.has_bad_seq || vr.first_bad_seq >= sv->rep->recovered)
            return tz_err_set(err, TZ_ERR_INTERNAL, "salvage: the new ledger does not verify: "
                              "%.300s", vr.reason);
        cut = vr.first_bad_seq;
        snprintf(cut_reason, sizeof cut_reason, "does not verify: %.290s", vr.reason);
    }
}

/* Moves the verified ledger from the stage into out_dir. */
static int move_into_place(salvage *sv, tz_err *err)
{
    static const char *const names[] = {"db", "log.key"};
    size_t failed;
    if (tz_fs_move_staged(sv->stage, sv->out_dir, names, 2, &failed) == 0)
        return TZ_OK;
    if (failed < 2)
        return tz_err_set(err, TZ_ERR_IO, "--out %s: cannot move %s into place: %s",
                          sv->out_dir, names[failed], strerror(errno));
    return tz_err_set(err, TZ_ERR_IO, "--out %s: %s", sv->out_dir, strerror(errno));
}

int tz_salvage(const char *damaged_dir, const char *out_dir, const char *passphrase,
               tz_salvage_report *report, tz_err *err)
{
    memset(report, 0, sizeof *report);
    salvage sv;
    memset(&sv, 0, sizeof sv);
    sv.damaged_dir = damaged_dir;
    sv.out_dir = out_dir;
    sv.rep = report;
    char path[PATH_MAX];
    struct stat st;
    int rc, created = 0;
    if ((rc = join(path, sizeof path, damaged_dir, "db", err)) != TZ_OK)
        return rc;
    if (stat(path, &st) != 0)
        return tz_err_set(err, TZ_ERR_IO, "--db %s: %s", damaged_dir,
                          errno == EACCES ? "permission denied" : "no ledger there");
    if ((rc = join(path, sizeof path, damaged_dir, "log.key", err)) != TZ_OK)
        return rc;
    if (access(path, R_OK) != 0)
        return tz_err_set(err, TZ_ERR_IO, "--db %s: %s: %s (the new ledger's checkpoint is "
                          "signed with the log key)", damaged_dir, path, strerror(errno));
    int existed = stat(out_dir, &st) == 0;
    int empty = tz_fs_empty_dir(out_dir);
    if (empty < 0)
        return tz_err_set(err, TZ_ERR_IO, "--out %s: %s", out_dir, strerror(errno));
    if (empty > 0)
        return tz_err_set(err, TZ_ERR_USAGE, "--out %s: the directory is not empty; a salvage "
                          "is written only into a new or empty directory", out_dir);
    created = !existed;
    if ((rc = join(sv.work, sizeof sv.work, out_dir, WORK_NAME, err)) != TZ_OK ||
        (rc = join(sv.copy_db, sizeof sv.copy_db, sv.work, "copy", err)) != TZ_OK ||
        (rc = join(sv.stage, sizeof sv.stage, sv.work, "ledger", err)) != TZ_OK)
        goto out;
    if (mkdir(sv.work, 0700) != 0) {
        rc = tz_err_set(err, TZ_ERR_IO, "--out %s: cannot create %s: %s", out_dir, sv.work,
                        strerror(errno));
        goto out;
    }
    if ((rc = open_sources(&sv, err)) != TZ_OK)
        goto out;
    expected_from(&sv, sv.original);
    expected_from(&sv, sv.repaired);
    if ((rc = build(&sv, passphrase, err)) != TZ_OK)
        goto out;
    tz_store_close(sv.original);
    tz_store_close(sv.repaired);
    sv.original = sv.repaired = NULL;
    if (report->recovered > 0)
        rc = move_into_place(&sv, err);
out:
    tz_store_close(sv.original);
    tz_store_close(sv.repaired);
    if (sv.work[0] != '\0')
        tz_fs_rmtree(sv.work);
    if (rc != TZ_OK || report->recovered == 0) {
        char p[PATH_MAX];
        if (rc != TZ_OK && join(p, sizeof p, out_dir, "db", NULL) == TZ_OK)
            tz_fs_rmtree(p);
        if (rc != TZ_OK && join(p, sizeof p, out_dir, "log.key", NULL) == TZ_OK)
            unlink(p);
        if (created)
            rmdir(out_dir);
    }
    if (rc != TZ_OK)
        tz_salvage_report_free(report);
    return rc;
}
