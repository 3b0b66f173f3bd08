/*
 * verify.c: the full replay (see verify.h). One pass over the entries
 * column family; per entry: one strict decode, the
 * signature checks (the dominant cost: one Ed25519 verification each), a
 * few point reads for the decide step against the scratch store, and about
 * two tree-node comparisons (a leaf, and on average one parent that
 * closes), read through one sequential cursor per tree level: nodes of a
 * level complete in index order, so no point reads are needed.
 */
#include "ledger/verify.h"

#include "projections/domain.h"

#include <sodium.h>
#include <stdarg.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "crypto/hash.h"
#include "crypto/note.h"
#include "ledger/apply.h"
#include "ledger/checkpoint.h"
#include "ledger/codec.h"
#include "ledger/entry.h"
#include "ledger/ledger.h"
#include "ledger/merkle.h"
#include "ledger/statement.h"
#include "ledger/store.h"
#include "util/encoding.h"
#include "util/fs.h"

#define SCRATCH_COMMIT_EVERY 2048
#define PROGRESS_EVERY 16384

typedef struct verifier {
    tz_store *store;     /* the ledger's store, read-only */
    tz_store *scratch;   /* derived state rebuilt from the entries */
    char scratch_dir[PATH_MAX];
    tz_verify_report *rep;
    /* tree-node comparison during the replay: nodes of one level complete
     * in index order, so one cursor per level reads them sequentially */
    tz_store_iter *level_cursor[64];
    tz_key_cache key_cache; /* safe here: the replay stops at the first bad entry */
    tz_profile_cache profile_cache;
    char node_reason[256];
} verifier;

/* Records a finding; keeps the one with the smallest seq. Returns TZ_OK so
 * callers can `return bad(...)` from a check that ran to a verdict. */
static int bad(verifier *v, int has_seq, uint64_t seq, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int bad(verifier *v, int has_seq, uint64_t seq, const char *fmt, ...)
{
    tz_verify_report *r = v->rep;
    if (!r->ok) {
        if (!has_seq || (r->has_bad_seq && r->first_bad_seq <= seq))
            return TZ_OK;
    }
    r->ok = 0;
    r->has_bad_seq = has_seq;
    r->first_bad_seq = has_seq ? seq : 0;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->reason, sizeof r->reason, fmt, ap);
    va_end(ap);
    return TZ_OK;
}

static int compare_node(void *ctx, unsigned level, uint64_t index, const uint8_t hash[32],
                        tz_err *err)
{
    verifier *v = ctx;
    uint8_t want[9];
    tz_ledger_node_key(want, level, index);
    tz_store_iter **cur = &v->level_cursor[level];
    if (*cur == NULL && (*cur = tz_store_iter_new(v->store, TZ_CF_MERKLE, want, 9)) == NULL)
        return tz_err_set(err, TZ_ERR_NOMEM, "verify: out of memory");
    size_t klen = 0, vlen = 0;
    const uint8_t *k = tz_store_iter_valid(*cur) ? tz_store_iter_key(*cur, &klen) : NULL;
    if (k == NULL) {
        tz_err e;
        if (tz_store_iter_status(*cur, &e) != TZ_OK)
            snprintf(v->node_reason, sizeof v->node_reason, "tree node (level %u, index %llu): "
                     "%.180s", level, (unsigned long long)index, e.msg);
        else
            snprintf(v->node_reason, sizeof v->node_reason, "tree node (level %u, index %llu) is "
                     "missing", level, (unsigned long long)index);
        return tz_err_set(err, TZ_ERR_TAMPER, "%s", v->node_reason);
    }
    if (klen != 9 || memcmp(k, want, 9) != 0) {
        /* The cursor is past where the node should be: it is not stored. */
        snprintf(v->node_reason, sizeof v->node_reason, "tree node (level %u, index %llu) is "
                 "missing", level, (unsigned long long)index);
        return tz_err_set(err, TZ_ERR_TAMPER, "%s", v->node_reason);
    }
    const uint8_t *stored = tz_store_iter_value(*cur, &vlen);
    if (vlen != 32 || !tz_hash_equal(stored, hash, 32)) {
        if (level == 0)
            snprintf(v->node_reason, sizeof v->node_reason, "stored leaf hash (tree node level 0, "
                     "index %llu) does not match the entry's bytes", (unsigned long long)index);
        else
            snprintf(v->node_reason, sizeof v->node_reason, "tree node (level %u, index %llu) "
                     "does not match the hash of its children", level, (unsigned long long)index);
        return tz_err_set(err, TZ_ERR_TAMPER, "%s", v->node_reason);
    }
    tz_store_iter_next(*cur);
    return TZ_OK;
}


static int is_corruption(const tz_err *e)
{
    return strstr(e->msg, "Corruption") != NULL;
}

/* The replay of the entries. Stops at the first bad entry. */
static int replay(verifier *v, const tz_verify_options *opt, uint64_t head_size,
                  uint64_t cp_size, uint8_t cp_root[32], uint64_t trusted_size,
                  uint8_t trusted_root[32], tz_public_key *log_key, char *origin,
                  tz_merkle_frontier *fr, uint8_t last_leaf[32], uint64_t *last_recorded_at,
                  tz_err *err)
{
    tz_store_batch *batch = tz_store_batch_new(v->scratch);
    tz_store_iter *it = tz_store_iter_new(v->store, TZ_CF_ENTRIES, NULL, 0);
    if (batch == NULL || it == NULL) {
        tz_store_batch_free(batch);
        tz_store_iter_free(it);
        return tz_err_set(err, TZ_ERR_NOMEM, "verify: out of memory");
    }
    tz_store_batch_read_entries_from(batch, v->store);
    uint8_t prev[32] = {0};
    uint64_t last_rec = 0, i = 0;
    int rc = TZ_OK, stopped = 0;
    tz_merkle_frontier_init(fr);
    if (trusted_size == 0)
        tz_merkle_frontier_root(fr, trusted_root);
    for (; tz_store_iter_valid(it); tz_store_iter_next(it), i++) {
        size_t klen, len;
        const uint8_t *key = tz_store_iter_key(it, &klen);
        const uint8_t *raw = tz_store_iter_value(it, &len);
        tz_err e;
        if (klen != 8) {
            bad(v, 1, i, "entries: a key of %zu bytes is not a seq (inserted record)", klen);
            stopped = 1;
            break;
        }
        uint64_t k = tz_store_u64_from_key(key);
        if (k != i) {
            bad(v, 1, i, "entry %llu is missing (the next stored entry is %llu)",
                (unsigned long long)i, (unsigned long long)k);
            stopped = 1;
            break;
        }
        tz_entry entry;
        if (tz_entry_decode(&entry, raw, len, &e) != TZ_OK) {
            bad(v, 1, i, "%s", e.msg);
            stopped = 1;
            break;
        }
        if (entry.seq != i) {
            bad(v, 1, i, "entry stored at seq %llu says seq %llu (moved, duplicated or reordered)",
                (unsigned long long)i, (unsigned long long)entry.seq);
            stopped = 1;
            break;
        }
        if (!tz_hash_equal(entry.prev, prev, 32)) {
            bad(v, 1, i, "prev does not match the leaf hash of entry %llu (an entry before it was "
                "altered, removed or inserted)", (unsigned long long)(i ? i - 1 : 0));
            stopped = 1;
            break;
        }
        if (entry.recorded_at < last_rec) {
            bad(v, 1, i, "recorded_at goes backwards (%llu after %llu)",
                (unsigned long long)entry.recorded_at, (unsigned long long)last_rec);
            stopped = 1;
            break;
        }
        msgpack_zone zone;
        if (!msgpack_zone_init(&zone, 4096)) {
            rc = tz_err_set(err, TZ_ERR_NOMEM, "verify: out of memory");
            break;
        }
        tz_statement st;
        int vr = tz_statement_decode(&st, &zone, entry.statement, entry.statement_len, &e);
        if (vr == TZ_OK)
            vr = tz_entry_verify_signatures(&entry, &e);
        if (vr == TZ_OK) {
            tz_apply_ctx ctx = {
                .batch = batch, .seq = i, .recorded_at = entry.recorded_at, .st = &st,
                .statement = entry.statement, .statement_len = entry.statement_len,
                .sigs = entry.sigs, .nsigs = entry.nsigs, .key_cache = &v->key_cache,
                .profile_cache = &v->profile_cache,
            };
            /* No save point: the replay stops at the first bad entry, so it
             * never rolls a statement back. */
            vr = tz_apply_statement(&ctx, &e);
        }
        if (vr == TZ_OK && i == 0) {
            /* tz_apply_statement has checked both fields of genesis. */
            const msgpack_object *lk = tz_codec_map_get(st.body, "log_key");
            const msgpack_object *og = tz_codec_map_get(st.body, "origin");
            snprintf(origin, TZ_ORIGIN_MAX + 1, "%.*s", (int)og->via.str.size, og->via.str.ptr);
            vr = tz_key_parse_public(log_key, lk->via.str.ptr, lk->via.str.size, &e);
            if (vr == TZ_OK && opt->log_key != NULL &&
                !tz_hash_equal(opt->log_key->pk, log_key->pk, 32))
                vr = tz_err_set(&e, TZ_ERR_TAMPER, "genesis names a log key other than the one "
                                "given with --log-key");
        }
        msgpack_zone_destroy(&zone);
        if (vr == TZ_ERR_IO || vr == TZ_ERR_NOMEM) {
            rc = vr;
            if (err)
                *err = e;
            break;
        }
        if (vr != TZ_OK) {
            bad(v, 1, i, "%s", e.msg);
            stopped = 1;
            break;
        }
        uint8_t leaf[32];
        tz_merkle_leaf_hash(leaf, raw, len);
        if (tz_merkle_frontier_append(fr, leaf, compare_node, v, &e) != TZ_OK) {
            bad(v, 1, i, "%s", v->node_reason[0] ? v->node_reason : e.msg);
            stopped = 1;
            break;
        }
        memcpy(prev, leaf, 32);
        last_rec = entry.recorded_at;
        if (fr->size == cp_size)
            tz_merkle_frontier_root(fr, cp_root);
        if (fr->size == trusted_size)
            tz_merkle_frontier_root(fr, trusted_root);
        if ((i + 1) % SCRATCH_COMMIT_EVERY == 0 &&
            (rc = tz_store_commit(v->scratch, batch, err)) != TZ_OK)
            break;
        if (opt->progress != NULL && (i + 1) % PROGRESS_EVERY == 0)
            opt->progress(opt->progress_ctx, i + 1, head_size);
    }
    if (rc == TZ_OK && !stopped) {
        tz_err e;
        if (tz_store_iter_status(it, &e) != TZ_OK) {
            if (is_corruption(&e))
                bad(v, 1, i, "storage corruption while reading entry %llu: %s",
                    (unsigned long long)i, e.msg);
            else {
                rc = TZ_ERR_IO;
                if (err)
                    *err = e;
            }
        }
    }
    if (rc == TZ_OK)
        rc = tz_store_commit(v->scratch, batch, err);
    if (opt->progress != NULL)
        opt->progress(opt->progress_ctx, i, head_size);
    v->rep->size = i;
    memcpy(last_leaf, prev, 32);
    *last_recorded_at = last_rec;
    tz_store_iter_free(it);
    tz_store_batch_free(batch);
    return rc;
}

static void describe_index_key(char *out, size_t cap, const uint8_t *k, size_t len)
{
    if (len > 11 && k[0] == 'v' && k[1] == 0 && k[len - 9] == 0) {
        /* a projection version: v \0 view \0 subject \0 ~seq */
        char text[160];
        size_t n = 0;
        for (size_t i = 2; i < len - 9 && n + 1 < sizeof text; i++)
            text[n++] = k[i] == 0 ? '/' : (char)k[i];
        text[n] = '\0';
        snprintf(out, cap, "%s@%llu", text,
                 (unsigned long long)~tz_store_u64_from_key(k + len - 8));
        return;
    }
    size_t p = 0;
    while (p < len && k[p] != 0)
        p++;
    char hex[2 * 40 + 1];
    size_t rest = p < len ? len - p - 1 : 0;
    if (rest > 40)
        rest = 40;
    tz_hex_encode(hex, p < len ? k + p + 1 : k, rest);
    if (p < len && memcmp(k, "id", 2) == 0 && p == 2)
        snprintf(out, cap, "id \"%.*s\"", (int)(len - 3), (const char *)k + 3);
    else
        snprintf(out, cap, "%.*s/%s", (int)(p < 16 ? p : 16), (const char *)k, hex);
}

/* Compares a derived column family of the scratch store (the index, the
 * projections) with the stored one, record by record. what names a
 * record in messages ("index record"). */
static int compare_derived(verifier *v, tz_cf cf, const char *what, tz_err *err)
{
    tz_store_iter *a = tz_store_iter_new(v->scratch, cf, NULL, 0);
    tz_store_iter *b = tz_store_iter_new(v->store, cf, NULL, 0);
    int rc = TZ_OK;
    if (a == NULL || b == NULL) {
        rc = tz_err_set(err, TZ_ERR_NOMEM, "verify: out of memory");
        goto out;
    }
    char name[200];
    while (tz_store_iter_valid(a) || tz_store_iter_valid(b)) {
        size_t ka_len = 0, kb_len = 0, va_len = 0, vb_len = 0;
        const uint8_t *ka = tz_store_iter_valid(a) ? tz_store_iter_key(a, &ka_len) : NULL;
        const uint8_t *kb = tz_store_iter_valid(b) ? tz_store_iter_key(b, &kb_len) : NULL;
        int cmp;
        if (ka == NULL)
            cmp = 1;
        else if (kb == NULL)
            cmp = -1;
        else {
            size_t n = ka_len < kb_len ? ka_len : kb_len;
            cmp = memcmp(ka, kb, n);
            if (cmp == 0)
                cmp = ka_len < kb_len ? -1 : ka_len > kb_len;
        }
        uint64_t seq = 0;
        if (cmp < 0) {
            const uint8_t *va = tz_store_iter_value(a, &va_len);
            int has = tz_apply_value_seq(va, va_len, &seq) == TZ_OK;
            describe_index_key(name, sizeof name, ka, ka_len);
            bad(v, has, seq, "%s %s written by entry %llu is missing from the store", what,
                name, (unsigned long long)seq);
            tz_store_iter_next(a);
        } else if (cmp > 0) {
            /* Its own "seq" was written by whoever planted it: not evidence. */
            describe_index_key(name, sizeof name, kb, kb_len);
            bad(v, 0, 0, "%s %s was not produced by any entry (added by hand)", what, name);
            tz_store_iter_next(b);
        } else {
            const uint8_t *va = tz_store_iter_value(a, &va_len);
            const uint8_t *vb = tz_store_iter_value(b, &vb_len);
            if (va_len != vb_len || memcmp(va, vb, va_len) != 0) {
                int has = tz_apply_value_seq(va, va_len, &seq) == TZ_OK;
                describe_index_key(name, sizeof name, ka, ka_len);
                bad(v, has, seq, "%s %s differs from the replay (last written by entry %llu)",
                    what, name, (unsigned long long)seq);
            }
            tz_store_iter_next(a);
            tz_store_iter_next(b);
        }
    }
    if ((rc = tz_store_iter_status(a, err)) == TZ_OK)
        rc = tz_store_iter_status(b, err);
out:
    tz_store_iter_free(a);
    tz_store_iter_free(b);
    return rc;
}

/* No stored tree node may lie beyond the replayed log. */
static int check_extra_nodes(verifier *v, uint64_t n, tz_err *err)
{
    tz_store_iter *it = tz_store_iter_new(v->store, TZ_CF_MERKLE, NULL, 0);
    if (it == NULL)
        return tz_err_set(err, TZ_ERR_NOMEM, "verify: out of memory");
    for (; tz_store_iter_valid(it); tz_store_iter_next(it)) {
        size_t klen;
        const uint8_t *k = tz_store_iter_key(it, &klen);
        if (klen != 9 || k[0] > 63) {
            bad(v, 0, 0, "tree: a record with a malformed key (added by hand)");
            continue;
        }
        uint64_t index = tz_store_u64_from_key(k + 1);
        unsigned level = k[0];
        /* Named at the seq that would complete it, as in the replay. */
        if (index >= (n >> level))
            bad(v, 1, ((index + 1) << level) - 1, "tree node (level %u, index %llu) lies beyond the log of %llu "
                "entries (an entry was removed or the node added)", level,
                (unsigned long long)index, (unsigned long long)n);
    }
    int rc = tz_store_iter_status(it, err);
    tz_store_iter_free(it);
    return rc;
}

/* Parses a signed checkpoint body without trusting it yet. */
static int peek_checkpoint(const char *note, size_t len, tz_checkpoint *cp, tz_err *err)
{
    tz_note n;
    int rc = tz_note_parse(&n, note, len, err);
    if (rc != TZ_OK)
        return rc;
    return tz_checkpoint_parse(cp, n.text, n.text_len, err);
}

int tz_verify_ledger(const char *dir, const tz_verify_options *options, tz_verify_report *rep,
                     tz_err *err)
{
    if (sodium_init() < 0)
        return tz_err_set(err, TZ_ERR_INTERNAL, "libsodium could not be initialised");
    tz_verify_options none = {0};
    const tz_verify_options *opt = options ? options : &none;
    memset(rep, 0, sizeof *rep);
    rep->ok = 1;
    verifier v;
    memset(&v, 0, sizeof v);
    v.rep = rep;
    char path[PATH_MAX];
    int n = snprintf(path, sizeof path, "%s/db", dir);
    if (n < 0 || (size_t)n >= sizeof path)
        return tz_err_set(err, TZ_ERR_USAGE, "--db: path too long");
    if (access(path, F_OK) != 0)
        return tz_err_set(err, TZ_ERR_IO, "--db %s: no ledger there", dir);
    int rc = tz_store_open(&v.store, path, TZ_STORE_READONLY, err);
    if (rc != TZ_OK)
        return rc;
    {
        uint8_t *fmt = NULL;
        size_t fmt_len = 0;
        tz_err fe;
        int fr = tz_store_get(v.store, TZ_CF_META, "format", 6, &fmt, &fmt_len, &fe);
        int good = fr == TZ_OK && fmt_len == strlen(TZ_LEDGER_FORMAT) &&
                   memcmp(fmt, TZ_LEDGER_FORMAT, fmt_len) == 0;
        tz_store_free(fmt);
        if (fr == TZ_ERR_IO) {
            tz_store_close(v.store);
            if (err)
                *err = fe;
            return fr;
        }
        if (!good)
            bad(&v, 0, 0, "meta: the format record is missing or not %s", TZ_LEDGER_FORMAT);
        if (tz_store_get(v.store, TZ_CF_META, "reproject", 9, &fmt, &fmt_len, NULL) == TZ_OK) {
            tz_store_free(fmt);
            bad(&v, 0, 0, "meta: an interrupted `taizhang reproject` left the derived records "
                "half replaced; run it again");
        }
    }
    const char *tmp = getenv("TMPDIR");
    snprintf(v.scratch_dir, sizeof v.scratch_dir, "%s/taizhang-verify.XXXXXX",
             tmp && *tmp ? tmp : "/tmp");
    if (mkdtemp(v.scratch_dir) == NULL) {
        tz_store_close(v.store);
        return tz_err_set(err, TZ_ERR_IO, "verify: cannot create a scratch directory in %s",
                          tmp && *tmp ? tmp : "/tmp");
    }
    char scratch_db[PATH_MAX + 8];
    snprintf(scratch_db, sizeof scratch_db, "%s/db", v.scratch_dir);
    if ((rc = tz_store_open(&v.scratch, scratch_db, TZ_STORE_CREATE | TZ_STORE_SCRATCH, err)) != TZ_OK)
        goto out;

    tz_ledger_head head;
    int have_head = 0;
    tz_err e;
    int hr = tz_ledger_read_head(v.store, &head, &e);
    if (hr == TZ_OK)
        have_head = 1;
    else if (hr == TZ_ERR_IO || hr == TZ_ERR_NOMEM) {
        rc = hr;
        if (err)
            *err = e;
        goto out;
    }
    /* The stored checkpoint, parsed now so the replay can capture its root;
     * judged only after the replay, so a fault in the entries is named first. */
    char *cp_note = NULL;
    size_t cp_len = 0;
    tz_checkpoint cp;
    int have_cp = 0, cp_malformed = 0;
    char cp_error[TZ_ERR_MSG_MAX] = "";
    {
        uint8_t *val = NULL;
        if (tz_store_get(v.store, TZ_CF_META, "checkpoint", 10, &val, &cp_len, &e) == TZ_OK) {
            cp_note = malloc(cp_len + 1);
            if (cp_note == NULL) {
                tz_store_free(val);
                rc = tz_err_set(err, TZ_ERR_NOMEM, "verify: out of memory");
                goto out;
            }
            memcpy(cp_note, val, cp_len);
            cp_note[cp_len] = '\0';
            have_cp = peek_checkpoint(cp_note, cp_len, &cp, &e) == TZ_OK;
            if (!have_cp) {
                cp_malformed = 1;
                snprintf(cp_error, sizeof cp_error, "%.400s", e.msg);
            }
            tz_store_free(val);
        }
    }
    tz_checkpoint trusted;
    int have_trusted = 0;
    if (opt->trusted_note != NULL) {
        if (peek_checkpoint(opt->trusted_note, opt->trusted_len, &trusted, &e) != TZ_OK) {
            rc = tz_err_set(err, TZ_ERR_USAGE, "--trusted: %s", e.msg);
            free(cp_note);
            goto out;
        }
        have_trusted = 1;
    }
    uint8_t cp_root[32] = {0}, trusted_root[32] = {0};
    tz_public_key log_key;
    memset(&log_key, 0, sizeof log_key);
    char origin[TZ_ORIGIN_MAX + 1] = "";
    tz_merkle_frontier fr;
    uint8_t last_leaf[32];
    uint64_t last_recorded_at = 0;
    rc = replay(&v, opt, have_head ? head.size : 0, have_cp && cp.size > 0 ? cp.size : UINT64_MAX,
                cp_root, have_trusted ? trusted.size : UINT64_MAX, trusted_root, &log_key, origin,
                &fr, last_leaf, &last_recorded_at, err);
    if (rc != TZ_OK) {
        free(cp_note);
        goto out;
    }
    uint64_t size = rep->size;
    tz_merkle_frontier_root(&fr, rep->root);
    /* The checks below assume the entries replayed cleanly. */
    if (rep->ok) {
        if (size == 0)
            bad(&v, 1, 0, "the log is empty: the genesis entry 0 is missing");
        if (!have_head) {
            bad(&v, 1, size, "head: the head record is missing or malformed");
        } else {
            if (head.size > size)
                bad(&v, 1, size, "entries from seq %llu are missing (the head says size %llu)",
                    (unsigned long long)size, (unsigned long long)head.size);
            else if (head.size < size)
                bad(&v, 1, head.size, "entry %llu lies beyond the head (size %llu): inserted after "
                    "the last commit", (unsigned long long)head.size,
                    (unsigned long long)head.size);
            else if (size > 0 && !tz_hash_equal(head.root, rep->root, 32))
                bad(&v, 1, size - 1, "head: stored root does not match the root of the replayed "
                    "entries");
            else if (size > 0 && !tz_hash_equal(head.last_leaf, last_leaf, 32))
                bad(&v, 1, size - 1, "head: stored last_leaf is not the leaf hash of entry %llu",
                    (unsigned long long)(size - 1));
            else if (size > 0 && head.recorded_at != last_recorded_at)
                bad(&v, 1, size - 1, "head: stored recorded_at %llu is not that of entry %llu "
                    "(%llu); the next append would be stamped from it",
                    (unsigned long long)head.recorded_at, (unsigned long long)(size - 1),
                    (unsigned long long)last_recorded_at);
        }
        if ((rc = check_extra_nodes(&v, size, err)) != TZ_OK ||
            (rc = compare_derived(&v, TZ_CF_INDEX, "index record", err)) != TZ_OK ||
            (rc = compare_derived(&v, TZ_CF_PROJECTIONS, "projection record", err)) != TZ_OK) {
            free(cp_note);
            goto out;
        }
        const tz_public_key *lk = opt->log_key ? opt->log_key : &log_key;
        if (cp_malformed && size > 0) {
            bad(&v, 1, size - 1, "stored checkpoint is malformed: %s", cp_error);
        } else if (have_cp && size > 0) {
            tz_checkpoint opened;
            if (tz_checkpoint_open(&opened, cp_note, cp_len, lk, &e) != TZ_OK)
                bad(&v, 1, cp.size ? cp.size - 1 : 0, "stored checkpoint: %s", e.msg);
            else if (strcmp(opened.origin, origin) != 0)
                bad(&v, 1, 0, "stored checkpoint: origin \"%s\" is not the origin \"%s\" named in "
                    "genesis", opened.origin, origin);
            else if (cp.size == 0)
                bad(&v, 1, 0, "stored checkpoint is of an empty log; every commit signs the whole "
                    "log, so it was replaced");
            else if (cp.size > size)
                bad(&v, 1, size, "stored checkpoint has size %llu but only %llu entries exist",
                    (unsigned long long)cp.size, (unsigned long long)size);
            else if (cp.size < size)
                bad(&v, 1, cp.size, "stored checkpoint is stale: it covers %llu entries but the log "
                    "has %llu (every commit signs a checkpoint of the whole log)",
                    (unsigned long long)cp.size, (unsigned long long)size);
            else if (!tz_hash_equal(cp_root, cp.root, 32))
                bad(&v, 1, cp.size - 1, "stored checkpoint root does not match the replayed tree "
                    "at size %llu", (unsigned long long)cp.size);
        } else if (size > 0 && !have_cp) {
            bad(&v, 1, size - 1, "the stored checkpoint is missing");
        }
        if (have_trusted && size > 0) {
            tz_checkpoint opened;
            if (tz_checkpoint_open(&opened, opt->trusted_note, opt->trusted_len, lk, &e) != TZ_OK)
                bad(&v, 1, 0, "trusted checkpoint: %s (is the genesis log key still the real one?)",
                    e.msg);
            else if (strcmp(opened.origin, origin) != 0)
                bad(&v, 1, 0, "trusted checkpoint: origin \"%s\" is not this log's origin \"%s\"",
                    opened.origin, origin);
            else if (trusted.size > size)
                bad(&v, 1, size, "log truncated: the trusted checkpoint has size %llu but only "
                    "%llu entries exist", (unsigned long long)trusted.size,
                    (unsigned long long)size);
            else if (!tz_hash_equal(trusted_root, trusted.root, 32))
                bad(&v, 1, trusted.size - 1, "log rewritten: the replayed tree at size %llu does "
                    "not match the trusted checkpoint (an entry below seq %llu was changed, "
                    "removed or inserted)", (unsigned long long)trusted.size,
                    (unsigned long long)trusted.size);
        }
    }
    free(cp_note);
out:
    for (int i = 0; i < 64; i++)
        tz_store_iter_free(v.level_cursor[i]);
    tz_store_close(v.scratch);
    tz_store_close(v.store);
    tz_fs_rmtree(v.scratch_dir);
    return rc;
}
