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
#include <errno.h>
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
#include "ledger/replay.h"
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

/* How a derived record of the store differs from the replay. */
typedef enum derived_diff {
    DERIVED_MISSING,  /* the replay wrote it; the store lacks it */
    DERIVED_EXTRA,    /* the store holds it; no entry wrote it */
    DERIVED_DIFFERS,  /* both hold it, with other bytes */
} derived_diff;

/* Receives one difference: the key, and the values on either side (NULL
 * when that side lacks the record). */
typedef void (*derived_fn)(void *ctx, derived_diff kind, const uint8_t *key, size_t klen,
                           const uint8_t *replayed, size_t rlen, const uint8_t *stored,
                           size_t slen);

static int key_cmp(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
    size_t n = alen < blen ? alen : blen;
    int cmp = memcmp(a, b, n);
    if (cmp == 0)
        cmp = alen < blen ? -1 : alen > blen;
    return cmp;
}

/* Compares a derived column family (the index, the projections) of the
 * replay with the stored one, record by record, in one merge of two
 * ordered scans; calls fn for every difference. Returns TZ_OK, or the
 * error that stopped either scan (never taken for the end of the data). */
static int compare_derived(tz_store *replay, tz_store *stored, tz_cf cf, derived_fn fn,
                           void *ctx, tz_err *err)
{
    tz_store_iter *a = tz_store_iter_new(replay, cf, NULL, 0);
    tz_store_iter *b = tz_store_iter_new(stored, cf, NULL, 0);
    int rc = TZ_OK;
    if (a == NULL || b == NULL) {
        rc = tz_err_set(err, TZ_ERR_NOMEM, "verify: out of memory");
        goto out;
    }
    while (tz_store_iter_valid(a) || tz_store_iter_valid(b)) {
        size_t ka_len = 0, kb_len = 0, va_len = 0, vb_len = 0;
        const uint8_t *ka = tz_store_iter_valid(a) ? tz_store_iter_key(a, &ka_len) : NULL;
        const uint8_t *kb = tz_store_iter_valid(b) ? tz_store_iter_key(b, &kb_len) : NULL;
        int cmp = ka == NULL ? 1 : kb == NULL ? -1 : key_cmp(ka, ka_len, kb, kb_len);
        if (cmp < 0) {
            const uint8_t *va = tz_store_iter_value(a, &va_len);
            fn(ctx, DERIVED_MISSING, ka, ka_len, va, va_len, NULL, 0);
            tz_store_iter_next(a);
        } else if (cmp > 0) {
            const uint8_t *vb = tz_store_iter_value(b, &vb_len);
            fn(ctx, DERIVED_EXTRA, kb, kb_len, NULL, 0, vb, vb_len);
            tz_store_iter_next(b);
        } else {
            const uint8_t *va = tz_store_iter_value(a, &va_len);
            const uint8_t *vb = tz_store_iter_value(b, &vb_len);
            if (va_len != vb_len || memcmp(va, vb, va_len) != 0)
                fn(ctx, DERIVED_DIFFERS, ka, ka_len, va, va_len, vb, vb_len);
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

/* The first-fault verifier's view of a difference (docs/FORMAT.md §8.3 S4). */
typedef struct first_fault_derived {
    verifier *v;
    const char *what;   /* "index record", "projection record" */
} first_fault_derived;

static void first_fault_diff(void *ctx, derived_diff kind, const uint8_t *key, size_t klen,
                             const uint8_t *replayed, size_t rlen, const uint8_t *stored,
                             size_t slen)
{
    (void)stored;
    (void)slen;
    first_fault_derived *d = ctx;
    char name[200];
    uint64_t seq = 0;
    describe_index_key(name, sizeof name, key, klen);
    if (kind == DERIVED_EXTRA) {
        /* Its own "seq" was written by whoever planted it: not evidence. */
        bad(d->v, 0, 0, "%s %s was not produced by any entry (added by hand)", d->what, name);
        return;
    }
    int has = tz_apply_value_seq(replayed, rlen, &seq) == TZ_OK;
    if (kind == DERIVED_MISSING)
        bad(d->v, has, seq, "%s %s written by entry %llu is missing from the store", d->what,
            name, (unsigned long long)seq);
    else
        bad(d->v, has, seq, "%s %s differs from the replay (last written by entry %llu)",
            d->what, name, (unsigned long long)seq);
}

static int first_fault_compare(verifier *v, tz_cf cf, const char *what, tz_err *err)
{
    first_fault_derived d = {v, what};
    return compare_derived(v->scratch, v->store, cf, first_fault_diff, &d, err);
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

/* Opens the store of the ledger in dir read-only. TZ_ERR_IO when there is
 * no ledger there; *store is NULL on error. */
static int open_ledger_store(const char *dir, tz_store **store, tz_err *err)
{
    char path[PATH_MAX];
    *store = NULL;
    int n = snprintf(path, sizeof path, "%s/db", dir);
    if (n < 0 || (size_t)n >= sizeof path)
        return tz_err_set(err, TZ_ERR_USAGE, "--db: path too long");
    if (access(path, F_OK) != 0)
        return errno == EACCES || errno == EPERM
                   ? tz_err_set(err, TZ_ERR_IO, "--db %s: permission denied (%s cannot be read "
                                "by this user)", dir, path)
                   : tz_err_set(err, TZ_ERR_IO, "--db %s: no ledger there", dir);
    int rc = tz_store_open(store, path, TZ_STORE_READONLY, err);
    if (rc != TZ_OK)
        tz_ledger_hint_salvage(dir, err);
    return rc;
}

/* *format_ok: the meta format record is TZ_LEDGER_FORMAT; *reproject_pending:
 * an interrupted reproject left its mark. TZ_ERR_IO on a read error. */
static int read_meta_marks(tz_store *store, int *format_ok, int *reproject_pending, tz_err *err)
{
    uint8_t *val = NULL;
    size_t len = 0;
    int rc = tz_store_get(store, TZ_CF_META, "format", 6, &val, &len, err);
    *format_ok = rc == TZ_OK && len == strlen(TZ_LEDGER_FORMAT) &&
                 memcmp(val, TZ_LEDGER_FORMAT, len) == 0;
    tz_store_free(val);
    if (rc != TZ_OK && rc != TZ_ERR_NOTFOUND)
        return rc;
    val = NULL;
    rc = tz_store_get(store, TZ_CF_META, "reproject", 9, &val, &len, err);
    tz_store_free(val);
    *reproject_pending = rc == TZ_OK;
    return rc == TZ_OK || rc == TZ_ERR_NOTFOUND ? TZ_OK : rc;
}

/* Creates a scratch store in a new directory under $TMPDIR (or /tmp); dir
 * receives its path (the caller removes it, also on error, when dir[0]). */
static int open_scratch(char dir[PATH_MAX], tz_store **scratch, tz_err *err)
{
    const char *tmp = getenv("TMPDIR");
    *scratch = NULL;
    snprintf(dir, PATH_MAX, "%s/taizhang-verify.XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (mkdtemp(dir) == NULL) {
        dir[0] = '\0';
        return tz_err_set(err, TZ_ERR_IO, "verify: cannot create a scratch directory in %s",
                          tmp && *tmp ? tmp : "/tmp");
    }
    char path[PATH_MAX + 8];
    snprintf(path, sizeof path, "%s/db", dir);
    return tz_store_open(scratch, path, TZ_STORE_CREATE | TZ_STORE_SCRATCH, err);
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
    int rc = open_ledger_store(dir, &v.store, err);
    if (rc != TZ_OK)
        return rc;
    int format_ok, reproject_pending;
    if ((rc = read_meta_marks(v.store, &format_ok, &reproject_pending, err)) != TZ_OK) {
        tz_store_close(v.store);
        return rc;
    }
    if (!format_ok)
        bad(&v, 0, 0, "meta: the format record is missing or not %s", TZ_LEDGER_FORMAT);
    if (reproject_pending)
        bad(&v, 0, 0, "meta: an interrupted `taizhang reproject` left the derived records "
            "half replaced; run it again");
    if ((rc = open_scratch(v.scratch_dir, &v.scratch, err)) != TZ_OK)
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
            (rc = first_fault_compare(&v, TZ_CF_INDEX, "index record", err)) != TZ_OK ||
            (rc = first_fault_compare(&v, TZ_CF_PROJECTIONS, "projection record", err)) != TZ_OK) {
            free(cp_note);
            goto out;
        }
        const tz_public_key *lk = opt->log_key ? opt->log_key : &log_key;
        int is_replay = 0;
        char replay_reason[TZ_ERR_MSG_MAX];
        if ((rc = tz_replay_verify(v.store, lk, origin, size, rep->root, &is_replay,
                                   replay_reason, sizeof replay_reason, err)) != TZ_OK) {
            free(cp_note);
            goto out;
        }
        if (is_replay) {
            /* a replay proves its entries a prefix of the source's signed
             * checkpoint instead of holding one of its own (ledger/replay.h) */
            if (replay_reason[0] != '\0')
                bad(&v, 1, size ? size - 1 : 0, "%s", replay_reason);
        } else if (cp_malformed && size > 0) {
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
    if (v.scratch_dir[0] != '\0')
        tz_fs_rmtree(v.scratch_dir);
    return rc;
}

/* ==== the tamper report (tz_verify_all) ===================================
 *
 * Design. The first-fault replay above cannot go on after a fault: every
 * later check assumes the entries before it. The tamper report therefore
 * separates two questions. First, what did the log record? For every seq
 * below the recorded size it fixes the recorded leaf hash R[i] from the
 * evidence that commits to it (the stored tree when it folds to a signed
 * root; otherwise the chain traced back from the head, and a vote between
 * the stored leaf node, the successor's prev and the entry itself).
 * Second, where is each recorded entry now? A hash table from leaf hash to
 * stored record answers it in one probe, so a moved entry is found wherever
 * it went. Everything else — signatures, the decide step, the tree, the
 * head, checkpoints, derived records — is then checked against R, one fault
 * never hiding another. A ledger of n entries costs n leaf hashes, n
 * Ed25519 verifications and n decide steps, as verify does, plus one point
 * read per entry for the replay in recorded order.
 */

#define NONE SIZE_MAX
#define NO_SEQ UINT64_MAX

/* One record of the entries column family, as the scan found it. */
typedef struct slot {
    uint64_t key;          /* its key as a seq */
    uint64_t seq;          /* the entry's own seq field (when decoded) */
    uint64_t recorded_at;  /* (when decoded) */
    uint64_t match;        /* the recorded seq whose leaf these bytes are, or NO_SEQ */
    uint8_t leaf[32];      /* H(0x00 || bytes) */
    uint8_t prev[32];      /* (when decoded) */
    uint8_t decoded;       /* the bytes decode as an entry */
    uint8_t sigs_ok;       /* ... and every signature verifies */
} slot;

/* Per recorded seq. */
enum {
    SEQ_KNOWN = 1,     /* R[i] is known */
    SEQ_STRONG = 2,    /* ... from the signed tree, the chain, or two witnesses */
    SEQ_NODE = 4,      /* the leaf node (0, i) is stored (R[i] holds it until the vote) */
    SEQ_DAMAGED = 8,   /* an entry-level finding names this seq */
    SEQ_REPLAYED = 16, /* passed every check; in the rebuilt state */
};

/* A run of like findings being gathered (missing entries, entries moved by
 * the same distance, missing tree nodes of one level). */
enum { RUN_MISSING = 1, RUN_MOVED, RUN_NODES };
typedef struct run {
    int kind;              /* 0: no run */
    uint64_t first, last;  /* seqs (RUN_NODES: node indexes) */
    int64_t shift;         /* RUN_MOVED: stored key - seq */
    unsigned level;        /* RUN_NODES */
} run;

/* A signed checkpoint as read: state and, when parsed, its body. */
enum { CP_ABSENT = 0, CP_MALFORMED, CP_UNCHECKED, CP_BAD_SIGNATURE, CP_BAD_ORIGIN, CP_OK };
typedef struct signed_cp {
    int state;
    tz_checkpoint cp;
    char why[TZ_ERR_MSG_MAX];
    int root_known;        /* the recorded root at cp.size was computed */
    uint8_t root[32];
} signed_cp;

typedef struct tamper {
    const tz_verify_options *opt;
    tz_tamper_report *rep;
    size_t max_listed;
    tz_store *store, *scratch;
    char scratch_dir[PATH_MAX];
    slot *slots;           /* in key order */
    size_t nslots, slots_cap;
    size_t *bucket;        /* hash table on leaf: first slot of each chain, or NONE */
    size_t *chain;         /* per slot: the next slot of its chain, or NONE */
    size_t bucket_mask;
    uint64_t key_run;      /* keys 0, 1, ... present without a gap */
    uint64_t n;            /* the recorded size */
    uint8_t (*rec)[32];    /* R[i] */
    uint8_t *flags;        /* SEQ_* */
    size_t *at;            /* the slot holding recorded entry i, or NONE */
    uint64_t leaf_run;     /* leaf nodes 0, 1, ... stored without a gap */
    int have_head;
    tz_ledger_head head;
    signed_cp stored_cp, trusted;
    tz_public_key log_key; /* pinned, or named by the entry at key 0 */
    int have_log_key;
    char origin[TZ_ORIGIN_MAX + 1];
    int have_origin;
    int genesis_replayed;
    uint64_t progress_total;
    run run;
    uint64_t *causes;      /* seqs left out of the replay for a fault of their own, ascending */
    size_t ncauses, causes_cap;
} tamper;

static const char *const class_names[TZ_TAMPER_CLASS_COUNT] = {
    "altered", "missing", "inserted", "reordered", "bad_signature", "revoked_key",
    "refused", "projection_mismatch", "tree_mismatch", "head_mismatch",
    "checkpoint_mismatch", "meta",
};

const char *tz_tamper_class_name(tz_tamper_class cls)
{
    return (unsigned)cls < TZ_TAMPER_CLASS_COUNT ? class_names[cls] : "unknown";
}

void tz_tamper_report_free(tz_tamper_report *rep)
{
    if (rep == NULL)
        return;
    free(rep->findings);
    memset(rep, 0, sizeof *rep);
}

static int is_entry_class(tz_tamper_class c)
{
    return c == TZ_TAMPER_ALTERED || c == TZ_TAMPER_MISSING || c == TZ_TAMPER_INSERTED ||
           c == TZ_TAMPER_REORDERED || c == TZ_TAMPER_BAD_SIGNATURE ||
           c == TZ_TAMPER_REVOKED_KEY || c == TZ_TAMPER_REFUSED;
}

/* Records a finding over seqs [seq, last]; counted always, listed while
 * there is room. Entry-level findings mark their seqs damaged. */
static void found_range(tamper *t, tz_tamper_class cls, int has_seq, uint64_t seq, uint64_t last,
                        const char *fmt, ...) __attribute__((format(printf, 6, 7)));
static void found_range(tamper *t, tz_tamper_class cls, int has_seq, uint64_t seq, uint64_t last,
                        const char *fmt, ...)
{
    tz_tamper_report *r = t->rep;
    r->total++;
    r->by_class[cls]++;
    if (has_seq && is_entry_class(cls))
        for (uint64_t i = seq; i <= last && i < t->n; i++)
            t->flags[i] |= SEQ_DAMAGED;
    if (r->listed >= t->max_listed)
        return;
    tz_tamper_finding *f = &r->findings[r->listed++];
    memset(f, 0, sizeof *f);
    f->has_seq = has_seq;
    f->seq = has_seq ? seq : 0;
    f->last_seq = has_seq ? last : 0;
    f->cls = cls;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(f->detail, sizeof f->detail, fmt, ap);
    va_end(ap);
}

#define found(t, cls, has_seq, seq, ...) found_range(t, cls, has_seq, seq, seq, __VA_ARGS__)

/* Remembers seq as left out of the replay for a fault of its own. Returns
 * TZ_OK or TZ_ERR_NOMEM. */
static int cause_push(tamper *t, uint64_t seq)
{
    if (t->ncauses == t->causes_cap) {
        size_t cap = t->causes_cap ? t->causes_cap * 2 : 64;
        uint64_t *p = realloc(t->causes, cap * sizeof *p);
        if (p == NULL)
            return TZ_ERR_NOMEM;
        t->causes = p;
        t->causes_cap = cap;
    }
    t->causes[t->ncauses++] = seq;
    return TZ_OK;
}

/* The latest entry left out of the replay before seq, or NO_SEQ. */
static uint64_t cause_before(const tamper *t, uint64_t seq)
{
    size_t lo = 0, hi = t->ncauses;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (t->causes[mid] < seq)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo > 0 ? t->causes[lo - 1] : NO_SEQ;
}

/* Marks the finding just recorded (if listed) as possibly following from
 * cause, and counts it. */
static void mark_cause(tamper *t, size_t listed_before, uint64_t cause)
{
    t->rep->consequences++;
    if (t->rep->listed > listed_before) {
        t->rep->findings[listed_before].has_cause = 1;
        t->rep->findings[listed_before].cause = cause;
    }
}

static void hex16(char out[17], const uint8_t *h)
{
    tz_hex_encode(out, h, 8);
}

/* ---- runs ------------------------------------------------------------------ */

static uint64_t node_completed_by(unsigned level, uint64_t index)
{
    return ((index + 1) << level) - 1;
}

static void run_flush(tamper *t)
{
    run *r = &t->run;
    unsigned long long a = r->first, b = r->last, count = b - a + 1;
    if (r->kind == RUN_MISSING && count == 1)
        found(t, TZ_TAMPER_MISSING, 1, a, "entry %llu is missing: nothing is stored at its key%s",
              a, t->flags[a] & SEQ_KNOWN ? ", yet the tree or the next entry's prev still names "
              "its leaf hash" : "; a signed checkpoint or the head counts it");
    else if (r->kind == RUN_MISSING)
        found_range(t, TZ_TAMPER_MISSING, 1, a, b, "entries %llu-%llu (%llu) are missing: nothing "
                    "is stored at their keys", a, b, count);
    else if (r->kind == RUN_MOVED && count == 1)
        found(t, TZ_TAMPER_REORDERED, 1, a, "entry %llu is stored at key %llu (its bytes hash to "
              "the recorded leaf of seq %llu)", a, (unsigned long long)(a + (uint64_t)r->shift),
              a);
    else if (r->kind == RUN_MOVED)
        found_range(t, TZ_TAMPER_REORDERED, 1, a, b, "entries %llu-%llu (%llu) are each stored "
                    "%lld key(s) %s, at keys %llu-%llu", a, b, count,
                    (long long)(r->shift < 0 ? -r->shift : r->shift),
                    r->shift < 0 ? "earlier" : "later",
                    (unsigned long long)(a + (uint64_t)r->shift),
                    (unsigned long long)(b + (uint64_t)r->shift));
    else if (r->kind == RUN_NODES && count == 1)
        found(t, TZ_TAMPER_TREE, 1, node_completed_by(r->level, a), "tree node (level %u, index "
              "%llu) is missing", r->level, a);
    else if (r->kind == RUN_NODES)
        found_range(t, TZ_TAMPER_TREE, 1, node_completed_by(r->level, a),
                    node_completed_by(r->level, b), "tree nodes (level %u, index %llu-%llu) are "
                    "missing", r->level, a, b);
    r->kind = 0;
}

/* Adds x to the current run when it continues it, else starts a new one. */
static void run_add(tamper *t, int kind, uint64_t x, int64_t shift, unsigned level)
{
    run *r = &t->run;
    if (r->kind == kind && r->last + 1 == x && r->shift == shift && r->level == level) {
        r->last = x;
        return;
    }
    if (r->kind != 0)
        run_flush(t);
    *r = (run){kind, x, x, shift, level};
}

/* ---- the scan of the entries column family ------------------------------- */

static int slots_push(tamper *t, const slot *s)
{
    if (t->nslots == t->slots_cap) {
        size_t cap = t->slots_cap ? t->slots_cap * 2 : 1024;
        slot *p = realloc(t->slots, cap * sizeof *p);
        if (p == NULL)
            return TZ_ERR_NOMEM;
        t->slots = p;
        t->slots_cap = cap;
    }
    t->slots[t->nslots++] = *s;
    return TZ_OK;
}

static void progress(tamper *t, uint64_t done)
{
    if (t->opt->progress != NULL)
        t->opt->progress(t->opt->progress_ctx, done, t->progress_total);
}

/* Reads every record of the entries column family once: leaf hash, the
 * fields of the entry and whether its signatures verify (the dominant
 * cost, once per record). */
static int scan_entries(tamper *t, tz_err *err)
{
    tz_store_iter *it = tz_store_iter_new(t->store, TZ_CF_ENTRIES, NULL, 0);
    if (it == NULL)
        return tz_err_set(err, TZ_ERR_NOMEM, "verify: out of memory");
    int rc = TZ_OK;
    uint64_t last_key = 0;
    int any = 0;
    for (; tz_store_iter_valid(it); tz_store_iter_next(it)) {
        size_t klen, len;
        const uint8_t *key = tz_store_iter_key(it, &klen);
        const uint8_t *raw = tz_store_iter_value(it, &len);
        if (klen != 8) {
            found(t, TZ_TAMPER_INSERTED, 0, 0, "entries: a record with a key of %zu bytes, which "
                  "is not a seq (added by hand)", klen);
            continue;
        }
        slot s;
        memset(&s, 0, sizeof s);
        s.key = tz_store_u64_from_key(key);
        s.match = NO_SEQ;
        tz_merkle_leaf_hash(s.leaf, raw, len);
        tz_entry e;
        if (tz_entry_decode(&e, raw, len, NULL) == TZ_OK) {
            s.decoded = 1;
            s.seq = e.seq;
            s.recorded_at = e.recorded_at;
            memcpy(s.prev, e.prev, 32);
            s.sigs_ok = tz_entry_verify_signatures(&e, NULL) == TZ_OK;
        }
        if (s.key == t->key_run)
            t->key_run++;
        last_key = s.key;
        any = 1;
        if ((rc = slots_push(t, &s)) != TZ_OK) {
            rc = tz_err_set(err, rc, "verify: out of memory");
            break;
        }
        if (t->nslots % PROGRESS_EVERY == 0)
            progress(t, t->nslots);
    }
    tz_err e;
    if (rc == TZ_OK && tz_store_iter_status(it, &e) != TZ_OK) {
        if (is_corruption(&e))
            found(t, TZ_TAMPER_ALTERED, 1, any ? last_key + 1 : 0, "storage corruption while "
                  "reading the entries after key %llu; the records after it were not read: %.200s",
                  (unsigned long long)(any ? last_key + 1 : 0), e.msg);
        else {
            rc = e.code;
            if (err)
                *err = e;
        }
    }
    tz_store_iter_free(it);
    return rc;
}

static uint64_t leaf_bucket(const uint8_t leaf[32])
{
    uint64_t h;
    memcpy(&h, leaf, 8);
    return h;
}

/* The hash table from leaf hash to slots. Chained, so many copies of one
 * entry make one long chain that only a lookup of that entry walks. */
static int build_table(tamper *t, tz_err *err)
{
    size_t cap = 16;
    while (cap < t->nslots)
        cap *= 2;
    t->bucket = malloc(cap * sizeof *t->bucket);
    t->chain = malloc((t->nslots ? t->nslots : 1) * sizeof *t->chain);
    if (t->bucket == NULL || t->chain == NULL)
        return tz_err_set(err, TZ_ERR_NOMEM, "verify: out of memory");
    t->bucket_mask = cap - 1;
    for (size_t b = 0; b < cap; b++)
        t->bucket[b] = NONE;
    for (size_t i = t->nslots; i-- > 0;) { /* chains in key order */
        size_t b = (size_t)leaf_bucket(t->slots[i].leaf) & t->bucket_mask;
        t->chain[i] = t->bucket[b];
        t->bucket[b] = i;
    }
    return TZ_OK;
}

/* The slot holding the bytes whose leaf hash is leaf, preferring the one
 * stored at key seq, else the lowest key; NONE when no record has them.
 * Marks every such slot as holding recorded entry seq. */
static size_t place(tamper *t, const uint8_t leaf[32], uint64_t seq)
{
    size_t found = NONE;
    for (size_t i = t->bucket[(size_t)leaf_bucket(leaf) & t->bucket_mask]; i != NONE;
         i = t->chain[i]) {
        slot *s = &t->slots[i];
        if (!tz_hash_equal(s->leaf, leaf, 32))
            continue;
        if (s->match == NO_SEQ)
            s->match = seq;
        if (found == NONE || s->key == seq)
            found = i;
    }
    return found;
}

/* The slot stored at key, or NONE (binary search: slots are in key order). */
static size_t slot_at(const tamper *t, uint64_t key)
{
    size_t lo = 0, hi = t->nslots;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (t->slots[mid].key < key)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < t->nslots && t->slots[lo].key == key ? lo : NONE;
}

/* ---- checkpoints, the genesis entry, the recorded size -------------------- */

/* Reads the log key and origin from the record at key 0, if it is a
 * genesis; a pinned key takes precedence for checking checkpoints. */
static int read_genesis(tamper *t, tz_err *err)
{
    if (t->opt->log_key != NULL) {
        t->log_key = *t->opt->log_key;
        t->have_log_key = 1;
    }
    uint8_t k[8], *raw = NULL;
    size_t len;
    tz_store_key_u64(k, 0);
    int rc = tz_store_get(t->store, TZ_CF_ENTRIES, k, 8, &raw, &len, err);
    if (rc == TZ_ERR_NOTFOUND)
        return TZ_OK;
    if (rc != TZ_OK)
        return rc;
    tz_entry e;
    tz_statement st;
    msgpack_zone zone;
    if (!msgpack_zone_init(&zone, 4096)) {
        tz_store_free(raw);
        return tz_err_set(err, TZ_ERR_NOMEM, "verify: out of memory");
    }
    if (tz_entry_decode(&e, raw, len, NULL) == TZ_OK &&
        tz_statement_decode(&st, &zone, e.statement, e.statement_len, NULL) == TZ_OK &&
        tz_statement_is(&st, "genesis")) {
        const msgpack_object *lk = tz_codec_map_get(st.body, "log_key");
        const msgpack_object *og = tz_codec_map_get(st.body, "origin");
        if (og != NULL && og->type == MSGPACK_OBJECT_STR && og->via.str.size <= TZ_ORIGIN_MAX) {
            snprintf(t->origin, sizeof t->origin, "%.*s", (int)og->via.str.size, og->via.str.ptr);
            t->have_origin = 1;
        }
        if (!t->have_log_key && lk != NULL && lk->type == MSGPACK_OBJECT_STR &&
            tz_key_parse_public(&t->log_key, lk->via.str.ptr, lk->via.str.size, NULL) == TZ_OK)
            t->have_log_key = 1;
    }
    msgpack_zone_destroy(&zone);
    tz_store_free(raw);
    return TZ_OK;
}

/* Judges a signed checkpoint note (already parsed into c->cp): its
 * signature by the log key and its origin. */
static void open_signed(tamper *t, signed_cp *c, const char *note, size_t len)
{
    tz_checkpoint opened;
    tz_err e;
    if (!t->have_log_key) {
        c->state = CP_UNCHECKED;
        snprintf(c->why, sizeof c->why, "no log key to check it with (no genesis at key 0 "
                 "and no --log-key)");
    } else if (tz_checkpoint_open(&opened, note, len, &t->log_key, &e) != TZ_OK) {
        c->state = CP_BAD_SIGNATURE;
        snprintf(c->why, sizeof c->why, "%s", e.msg);
    } else if (t->have_origin && strcmp(opened.origin, t->origin) != 0) {
        c->state = CP_BAD_ORIGIN;
        snprintf(c->why, sizeof c->why, "origin \"%.100s\" is not the origin \"%.100s\" named in "
                 "genesis", opened.origin, t->origin);
    } else {
        c->state = CP_OK;
    }
}

static int read_checkpoints(tamper *t, tz_err *err)
{
    uint8_t *val = NULL;
    size_t len = 0;
    tz_err e;
    int rc = tz_store_get(t->store, TZ_CF_META, "checkpoint", 10, &val, &len, err);
    if (rc == TZ_OK) {
        if (peek_checkpoint((const char *)val, len, &t->stored_cp.cp, &e) != TZ_OK) {
            t->stored_cp.state = CP_MALFORMED;
            snprintf(t->stored_cp.why, sizeof t->stored_cp.why, "%.400s", e.msg);
        } else {
            open_signed(t, &t->stored_cp, (const char *)val, len);
        }
        tz_store_free(val);
    } else if (rc != TZ_ERR_NOTFOUND) {
        return rc;
    }
    if (t->opt->trusted_note != NULL) {
        if (peek_checkpoint(t->opt->trusted_note, t->opt->trusted_len, &t->trusted.cp, &e) != TZ_OK)
            return tz_err_set(err, TZ_ERR_USAGE, "--trusted: %s", e.msg);
        open_signed(t, &t->trusted, t->opt->trusted_note, t->opt->trusted_len);
    }
    return TZ_OK;
}

/* Counts the leaf nodes stored from index 0 without a gap. */
static int count_leaf_run(tamper *t, tz_err *err)
{
    uint8_t start[9];
    tz_ledger_node_key(start, 0, 0);
    tz_store_iter *it = tz_store_iter_new(t->store, TZ_CF_MERKLE, start, 9);
    if (it == NULL)
        return tz_err_set(err, TZ_ERR_NOMEM, "verify: out of memory");
    for (; tz_store_iter_valid(it); tz_store_iter_next(it)) {
        size_t klen;
        const uint8_t *k = tz_store_iter_key(it, &klen);
        if (klen != 9 || k[0] != 0 || tz_store_u64_from_key(k + 1) != t->leaf_run)
            break;
        t->leaf_run++;
    }
    int rc = tz_store_iter_status(it, err);
    tz_store_iter_free(it);
    return rc;
}

/* The recorded size: what signed checkpoints and the tree commit to; the
 * head (bounded by the stored keys) only when no checkpoint is signed; the
 * stored keys when there is nothing else. Bounded, so a forged size cannot
 * make the report allocate without limit. */
static void choose_size(tamper *t)
{
    uint64_t n = t->leaf_run, sig = 0;
    int any_signed = 0;
    if (t->stored_cp.state == CP_OK) {
        sig = t->stored_cp.cp.size;
        any_signed = 1;
    }
    if (t->trusted.state == CP_OK && t->trusted.cp.size > sig) {
        sig = t->trusted.cp.size;
        any_signed = 1;
    }
    uint64_t last = t->nslots ? t->slots[t->nslots - 1].key : 0;
    uint64_t max_key = t->nslots == 0 ? 0 : last == UINT64_MAX ? last : last + 1;
    uint64_t by_head = t->have_head ? (t->head.size < max_key ? t->head.size : max_key) : 0;
    uint64_t bound = 2 * ((uint64_t)t->nslots + t->leaf_run) + 65536;
    if (sig > bound) {
        found(t, TZ_TAMPER_CHECKPOINT, 1, t->key_run, "a checkpoint signed by the log key has "
              "size %llu, but the store holds only %llu entries and %llu leaf nodes: the log was "
              "truncated", (unsigned long long)sig, (unsigned long long)t->nslots,
              (unsigned long long)t->leaf_run);
        sig = 0;
        any_signed = 0;
    }
    if (sig > n)
        n = sig;
    if (!any_signed && by_head > n)
        n = by_head;
    if (n == 0)
        n = t->key_run;
    t->n = n;
}

/* ---- the recorded leaves ---------------------------------------------------- */

/* Loads the stored leaf nodes below n into rec (flag SEQ_NODE). */
static int load_leaf_nodes(tamper *t, tz_err *err)
{
    uint8_t start[9];
    tz_ledger_node_key(start, 0, 0);
    tz_store_iter *it = tz_store_iter_new(t->store, TZ_CF_MERKLE, start, 9);
    if (it == NULL)
        return tz_err_set(err, TZ_ERR_NOMEM, "verify: out of memory");
    for (; tz_store_iter_valid(it); tz_store_iter_next(it)) {
        size_t klen, vlen;
        const uint8_t *k = tz_store_iter_key(it, &klen);
        if (klen < 1 || k[0] != 0)
            break;
        if (klen != 9)
            continue; /* reported by the tree comparison */
        uint64_t index = tz_store_u64_from_key(k + 1);
        if (index >= t->n)
            break;
        const uint8_t *v = tz_store_iter_value(it, &vlen);
        if (vlen != 32)
            continue;
        memcpy(t->rec[index], v, 32);
        t->flags[index] |= SEQ_NODE;
    }
    int rc = tz_store_iter_status(it, err);
    tz_store_iter_free(it);
    return rc;
}

/* Folds the stored leaf nodes [0, size) and compares the root with a signed
 * one: equal, the stored leaves are what the log key signed. */
static int leaves_fold_to(const tamper *t, uint64_t size, const uint8_t root[32])
{
    if (size == 0 || size > t->n)
        return 0;
    tz_merkle_frontier fr;
    tz_merkle_frontier_init(&fr);
    for (uint64_t i = 0; i < size; i++) {
        if (!(t->flags[i] & SEQ_NODE))
            return 0;
        if (tz_merkle_frontier_append(&fr, t->rec[i], NULL, NULL, NULL) != TZ_OK)
            return 0;
    }
    uint8_t got[32];
    tz_merkle_frontier_root(&fr, got);
    return tz_hash_equal(got, root, 32);
}

/* Fixes R[i] (i not covered by a signed tree), from the right: the prev of
 * the recorded entry i+1 when that one is firmly known (the chain is what
 * the log committed to); else the value two of three witnesses agree on —
 * the stored leaf node, the prev of whatever is stored at key i+1 (or the
 * head's last_leaf for the last entry), the record at key i — else the
 * first of them that exists. */
static void vote(tamper *t, uint64_t i)
{
    const uint8_t *tn = t->flags[i] & SEQ_NODE ? t->rec[i] : NULL, *nx = NULL, *own = NULL;
    uint8_t node[32];
    if (tn != NULL) {
        memcpy(node, tn, 32);
        tn = node;
    }
    if (i + 1 < t->n) {
        size_t succ = t->at[i + 1];
        if ((t->flags[i + 1] & SEQ_STRONG) && succ != NONE && t->slots[succ].decoded) {
            memcpy(t->rec[i], t->slots[succ].prev, 32);
            t->flags[i] |= SEQ_KNOWN | SEQ_STRONG;
            return;
        }
        size_t s = slot_at(t, i + 1);
        if (s != NONE && t->slots[s].decoded && t->slots[s].seq == i + 1)
            nx = t->slots[s].prev;
    } else if (t->have_head && t->head.size == t->n) {
        nx = t->head.last_leaf;
    }
    size_t o = slot_at(t, i);
    if (o != NONE)
        own = t->slots[o].leaf;
    const uint8_t *pick = NULL;
    int strong = 1;
    if (tn && ((nx && tz_hash_equal(tn, nx, 32)) || (own && tz_hash_equal(tn, own, 32))))
        pick = tn;
    else if (nx && own && tz_hash_equal(nx, own, 32))
        pick = nx;
    else {
        strong = 0;
        pick = tn ? tn : nx ? nx : own;
    }
    if (pick == NULL)
        return;
    memcpy(t->rec[i], pick, 32);
    t->flags[i] |= SEQ_KNOWN | (strong ? SEQ_STRONG : 0);
}

static void recorded_leaves(tamper *t)
{
    uint64_t signed_upto = 0;
    if (t->stored_cp.state == CP_OK &&
        leaves_fold_to(t, t->stored_cp.cp.size, t->stored_cp.cp.root))
        signed_upto = t->stored_cp.cp.size;
    if (t->trusted.state == CP_OK && t->trusted.cp.size > signed_upto &&
        leaves_fold_to(t, t->trusted.cp.size, t->trusted.cp.root))
        signed_upto = t->trusted.cp.size;
    for (uint64_t i = t->n; i-- > 0;) {
        if (i < signed_upto)
            t->flags[i] |= SEQ_KNOWN | SEQ_STRONG;
        else
            vote(t, i);
        t->at[i] = t->flags[i] & SEQ_KNOWN ? place(t, t->rec[i], i) : NONE;
    }
}

/* ---- placement: altered, missing, inserted, reordered ------------------- */

/* What a record holds, for messages ("a copy of entry 4", ...). */
static void describe_slot(const slot *s, char *out, size_t cap)
{
    if (s->match != NO_SEQ)
        snprintf(out, cap, "a copy of entry %llu", (unsigned long long)s->match);
    else if (!s->decoded)
        snprintf(out, cap, "bytes that do not decode as an entry");
    else
        snprintf(out, cap, "an entry that says seq %llu, hashes to no recorded leaf and whose "
                 "signatures %s", (unsigned long long)s->seq,
                 s->sigs_ok ? "verify" : "do not verify");
}

static void classify_seq(tamper *t, uint64_t i)
{
    size_t rs = t->at[i], home = slot_at(t, i);
    if (rs != NONE && t->slots[rs].key == i)
        return;
    if (rs != NONE) {
        run_add(t, RUN_MOVED, i, (int64_t)(t->slots[rs].key - i), 0);
        return;
    }
    if (home == NONE) {
        run_add(t, RUN_MISSING, i, 0, 0);
        return;
    }
    if (t->run.kind != 0)
        run_flush(t);
    const slot *h = &t->slots[home];
    char hx[17], what[200];
    if (h->match != NO_SEQ && t->at[h->match] == home) {
        found(t, TZ_TAMPER_MISSING, 1, i, "entry %llu is missing: its key holds entry %llu, "
              "moved there", (unsigned long long)i, (unsigned long long)h->match);
        return;
    }
    describe_slot(h, what, sizeof what);
    char got[17];
    hex16(got, h->leaf);
    hex16(hx, t->rec[i]);
    found(t, TZ_TAMPER_ALTERED, 1, i, "entry %llu: the stored bytes hash to %s..., not to the "
          "recorded leaf %s...; key %llu now holds %s; %s", (unsigned long long)i, got, hx,
          (unsigned long long)i, what, t->flags[i] & SEQ_REPLAYED ? "replayed as it now stands"
          : "left out of the replay");
}

static void classify_slot(tamper *t, size_t j)
{
    const slot *s = &t->slots[j];
    if (s->match != NO_SEQ && t->at[s->match] == j)
        return; /* a recorded entry: in place, or reported where it belongs */
    char what[200];
    describe_slot(s, what, sizeof what);
    unsigned long long k = s->key;
    if (s->key < t->n) {
        size_t owner = t->at[s->key];
        if (owner == NONE || owner == j)
            return; /* its seq is altered or missing: classify_seq said so */
        found(t, TZ_TAMPER_INSERTED, 1, s->key, "key %llu holds %s, while entry %llu is stored "
              "at key %llu", k, what, k, (unsigned long long)t->slots[owner].key);
    } else {
        found(t, TZ_TAMPER_INSERTED, 1, s->key, "key %llu lies beyond the recorded log of %llu "
              "entries and holds %s", k, (unsigned long long)t->n, what);
    }
}

/* ---- the replay in recorded order ----------------------------------------- */

/* Codes that mean a check could not run, as opposed to a verdict. */
static int fatal(int rc)
{
    return rc == TZ_ERR_IO || rc == TZ_ERR_NOMEM || rc == TZ_ERR_INTERNAL;
}

typedef struct replay_state {
    tz_store_batch *batch;
    tz_key_cache *keys;
    tz_profile_cache *profiles;
    uint64_t last_recorded_at;
} replay_state;

/* The genesis entry names the pinned log key, when one is pinned. */
static int check_pinned(tamper *t, const tz_statement *st, tz_err *err)
{
    if (t->opt->log_key == NULL)
        return TZ_OK;
    const msgpack_object *lk = tz_codec_map_get(st->body, "log_key");
    tz_public_key named;
    if (tz_key_parse_public(&named, lk->via.str.ptr, lk->via.str.size, err) != TZ_OK ||
        !tz_hash_equal(named.pk, t->opt->log_key->pk, 32))
        return tz_err_set(err, TZ_ERR_RULE, "genesis names a log key other than the one given "
                          "with --log-key");
    return TZ_OK;
}

/* 1 when the stores under batch still answer reads. The decide step
 * reports a state it finds inconsistent (a cosign whose target has no
 * record, because the target was left out of the replay) as TZ_ERR_IO, as
 * it should on the appender's side; in a replay of a damaged log that is a
 * verdict on the entry, and only a store that fails this probe too means
 * the report cannot go on. */
static int store_healthy(tz_store_batch *batch)
{
    uint8_t *val = NULL;
    size_t len;
    int rc = tz_store_batch_get(batch, TZ_CF_META, "probe", 5, &val, &len, NULL);
    tz_store_free(val);
    return rc == TZ_OK || rc == TZ_ERR_NOTFOUND;
}

/* Runs the decide step on entry e (statement st) at seq i against the
 * replayed state and keeps its changes when it passes. Returns TZ_OK, 1
 * when nothing can be decided (the genesis is not in the replay), the
 * decide step's refusal with err saying why (its changes rolled back), or
 * TZ_ERR_IO / TZ_ERR_NOMEM / TZ_ERR_INTERNAL. */
static int decide(tamper *t, uint64_t i, const tz_entry *e, const tz_statement *st,
                  replay_state *rs, tz_err *err)
{
    if (i > 0 && !t->genesis_replayed)
        return 1;
    tz_apply_ctx ctx = {
        .batch = rs->batch, .seq = i, .recorded_at = e->recorded_at, .st = st,
        .statement = e->statement, .statement_len = e->statement_len, .sigs = e->sigs,
        .nsigs = e->nsigs, .key_cache = rs->keys, .profile_cache = rs->profiles,
    };
    tz_store_batch_mark(rs->batch);
    int rc = tz_apply_statement(&ctx, err);
    if (rc == TZ_ERR_IO && store_healthy(rs->batch))
        rc = TZ_ERR_RULE; /* the decide step found the state inconsistent: a verdict */
    if (rc == TZ_OK && i == 0)
        rc = check_pinned(t, st, err);
    if (rc != TZ_OK && !fatal(rc)) {
        /* Left out of the state: later entries are judged without it. */
        tz_key_cache_clear(rs->keys);
        tz_err rb;
        if (tz_store_batch_rollback(rs->batch, &rb) != TZ_OK) {
            if (err)
                *err = rb;
            return rb.code;
        }
    }
    if (rc == TZ_OK && i == 0)
        t->genesis_replayed = 1;
    return rc;
}

/* Checks recorded entry i (its bytes raw; sigs_ok from the scan) and
 * replays it. Returns TZ_OK, 1 (nothing could be decided), a negative code
 * with *cls and err naming the fault, or a fatal code (see fatal()).
 * *in_state is set when its changes are in the replayed state: an entry
 * the decide step takes stays in even with a bad signature, as the log
 * recorded it, so the entries after it are judged against that state. */
static int check_recorded(tamper *t, uint64_t i, const uint8_t *raw, size_t len, int sigs_ok,
                          replay_state *rs, tz_tamper_class *cls, int *in_state, tz_err *err)
{
    tz_entry e;
    *cls = TZ_TAMPER_REFUSED;
    *in_state = 0;
    int rc = tz_entry_decode(&e, raw, len, err);
    if (rc != TZ_OK) {
        tz_err_prefix(err, "entry %llu as recorded does not decode: ", (unsigned long long)i);
        return rc;
    }
    if (e.seq != i)
        return tz_err_set(err, TZ_ERR_RULE, "entry %llu as recorded says seq %llu",
                          (unsigned long long)i, (unsigned long long)e.seq);
    static const uint8_t zeros[32];
    const uint8_t *want = i == 0 ? zeros : t->flags[i - 1] & SEQ_KNOWN ? t->rec[i - 1] : NULL;
    if (want != NULL && !tz_hash_equal(e.prev, want, 32))
        return tz_err_set(err, TZ_ERR_RULE, "entry %llu as recorded names a prev that is not the "
                          "recorded leaf of entry %llu: the chain was broken when it was written",
                          (unsigned long long)i, (unsigned long long)(i ? i - 1 : 0));
    uint64_t before = rs->last_recorded_at;
    if (e.recorded_at > before)
        rs->last_recorded_at = e.recorded_at;
    if (e.recorded_at < before)
        return tz_err_set(err, TZ_ERR_RULE, "entry %llu: recorded_at goes backwards (%llu after "
                          "%llu)", (unsigned long long)i, (unsigned long long)e.recorded_at,
                          (unsigned long long)before);
    msgpack_zone zone;
    if (!msgpack_zone_init(&zone, 4096))
        return tz_err_set(err, TZ_ERR_NOMEM, "verify: out of memory");
    tz_statement st;
    tz_err sig_err;
    rc = tz_statement_decode(&st, &zone, e.statement, e.statement_len, err);
    if (rc != TZ_OK) {
        tz_err_prefix(err, "entry %llu: ", (unsigned long long)i);
        goto out;
    }
    int sig_rc = sigs_ok ? TZ_OK : tz_entry_verify_signatures(&e, &sig_err);
    rc = decide(t, i, &e, &st, rs, err);
    if (fatal(rc))
        goto out;
    *in_state = rc == TZ_OK;
    if (sig_rc != TZ_OK) {
        *cls = TZ_TAMPER_BAD_SIGNATURE;
        rc = sig_rc;
        if (err)
            *err = sig_err;
    } else if (rc < 0) {
        *cls = rc == TZ_ERR_SIGNATURE && i > 0 ? TZ_TAMPER_REVOKED_KEY : TZ_TAMPER_REFUSED;
    }
    if (rc < 0)
        tz_err_prefix(err, "entry %llu: ", (unsigned long long)i);
out:
    msgpack_zone_destroy(&zone);
    return rc;
}

/* An entry altered in place is replayed as it now stands when the decide
 * step takes it (its signature aside): the original bytes are gone, and the
 * entries after it are better judged against the state it most likely
 * made (a grant whose text was edited still grants) than against none.
 * Returns TZ_OK, a refusal, 1, or a fatal code, as decide(). */
static int replay_as_stored(tamper *t, uint64_t i, const uint8_t *raw, size_t len,
                            replay_state *rs, tz_err *err)
{
    tz_entry e;
    int rc = tz_entry_decode(&e, raw, len, err);
    if (rc != TZ_OK)
        return rc;
    msgpack_zone zone;
    if (!msgpack_zone_init(&zone, 4096))
        return tz_err_set(err, TZ_ERR_NOMEM, "verify: out of memory");
    tz_statement st;
    rc = tz_statement_decode(&st, &zone, e.statement, e.statement_len, err);
    if (rc == TZ_OK)
        rc = decide(t, i, &e, &st, rs, err);
    msgpack_zone_destroy(&zone);
    return rc;
}

static int read_slot(tamper *t, size_t slot_index, uint8_t **raw, size_t *len, tz_err *err)
{
    uint8_t k[8];
    tz_store_key_u64(k, t->slots[slot_index].key);
    return tz_store_get(t->store, TZ_CF_ENTRIES, k, 8, raw, len, err);
}

/* Replays seq i when no recorded bytes exist for it (missing, or altered
 * in place). Returns TZ_OK or a fatal code; *in_state as check_recorded. */
static int replay_unrecorded(tamper *t, uint64_t i, replay_state *rs, int *in_state, tz_err *err)
{
    *in_state = 0;
    size_t home = slot_at(t, i);
    if (home == NONE || t->slots[home].match != NO_SEQ)
        return TZ_OK; /* nothing there, or another recorded entry */
    uint8_t *raw = NULL;
    size_t len;
    int rc = read_slot(t, home, &raw, &len, err);
    if (rc != TZ_OK)
        return rc;
    tz_err why;
    rc = replay_as_stored(t, i, raw, len, rs, &why);
    tz_store_free(raw);
    if (fatal(rc)) {
        if (err)
            *err = why;
        return rc;
    }
    *in_state = rc == TZ_OK;
    return TZ_OK;
}

/* Replays the recorded entries in seq order, wherever they are stored,
 * into the scratch store; every check that fails is a finding. */
static int replay_recorded(tamper *t, tz_err *err)
{
    replay_state rs = {0};
    rs.keys = calloc(1, sizeof *rs.keys);
    rs.profiles = calloc(1, sizeof *rs.profiles);
    rs.batch = tz_store_batch_new(t->scratch);
    int rc = TZ_OK;
    if (rs.keys == NULL || rs.profiles == NULL || rs.batch == NULL) {
        rc = tz_err_set(err, TZ_ERR_NOMEM, "verify: out of memory");
        goto out;
    }
    tz_store_batch_read_entries_from(rs.batch, t->store);
    /* entries left out of the state for a fault of their own: a later
     * refusal may be a consequence of the latest one, and says so */
    for (uint64_t i = 0; i < t->n; i++) {
        uint64_t cause = t->ncauses ? t->causes[t->ncauses - 1] : NO_SEQ;
        if ((i + 1) % PROGRESS_EVERY == 0)
            progress(t, t->nslots + i + 1);
        int in_state = 0;
        if (t->at[i] == NONE) {
            if ((rc = replay_unrecorded(t, i, &rs, &in_state, err)) != TZ_OK)
                break;
            if (!in_state && cause_push(t, i) != TZ_OK) {
                rc = tz_err_set(err, TZ_ERR_NOMEM, "verify: out of memory");
                break;
            }
        } else {
            uint8_t *raw = NULL;
            size_t len;
            if ((rc = read_slot(t, t->at[i], &raw, &len, err)) != TZ_OK)
                break;
            tz_tamper_class cls;
            tz_err why;
            int vr = check_recorded(t, i, raw, len, t->slots[t->at[i]].sigs_ok, &rs, &cls,
                                    &in_state, &why);
            tz_store_free(raw);
            if (fatal(vr)) {
                rc = vr;
                if (err)
                    *err = why;
                break;
            }
            int decided = cls == TZ_TAMPER_REVOKED_KEY || cls == TZ_TAMPER_REFUSED;
            if (vr < 0 && decided && cause != NO_SEQ) {
                size_t before = t->rep->listed;
                found(t, cls, 1, i, "%.300s (entry %llu, before it, is not in the replayed "
                      "state; this may follow from it)", why.msg, (unsigned long long)cause);
                mark_cause(t, before, cause);
            } else if (vr < 0) {
                found(t, cls, 1, i, "%s", why.msg);
                if (!in_state && cause_push(t, i) != TZ_OK) {
                    rc = tz_err_set(err, TZ_ERR_NOMEM, "verify: out of memory");
                    break;
                }
            }
        }
        if (in_state) {
            t->flags[i] |= SEQ_REPLAYED;
            t->rep->replayed++;
        }
        if ((i + 1) % SCRATCH_COMMIT_EVERY == 0) {
            if ((rc = tz_store_commit(t->scratch, rs.batch, err)) != TZ_OK)
                break;
            /* a fresh batch: the save points of the last one are spent */
            tz_store_batch_free(rs.batch);
            if ((rs.batch = tz_store_batch_new(t->scratch)) == NULL) {
                rc = tz_err_set(err, TZ_ERR_NOMEM, "verify: out of memory");
                break;
            }
            tz_store_batch_read_entries_from(rs.batch, t->store);
        }
    }
    if (rc == TZ_OK)
        rc = tz_store_commit(t->scratch, rs.batch, err);
out:
    tz_store_batch_free(rs.batch);
    free(rs.keys);
    free(rs.profiles);
    return rc;
}

/* ---- the order of findings ------------------------------------------------ */

static int finding_cmp(const void *pa, const void *pb)
{
    const tz_tamper_finding *a = pa, *b = pb;
    if (a->has_seq != b->has_seq)
        return a->has_seq ? -1 : 1;
    if (a->seq != b->seq)
        return a->seq < b->seq ? -1 : 1;
    if (a->cls != b->cls)
        return a->cls < b->cls ? -1 : 1;
    if (a->last_seq != b->last_seq)
        return a->last_seq < b->last_seq ? -1 : 1;
    return strcmp(a->detail, b->detail);
}

static void sort_findings(tamper *t)
{
    if (t->rep->listed > 1)
        qsort(t->rep->findings, t->rep->listed, sizeof *t->rep->findings, finding_cmp);
}

/* The listed entry-level finding that covers seq, or NULL (findings
 * sorted; runs are short of 64 findings back in practice). */
static tz_tamper_finding *entry_finding(tamper *t, uint64_t seq)
{
    tz_tamper_finding *f = t->rep->findings;
    size_t lo = 0, hi = t->rep->listed;
    while (lo < hi) { /* first finding with has_seq && seq > wanted, or without seq */
        size_t mid = lo + (hi - lo) / 2;
        if (f[mid].has_seq && f[mid].seq <= seq)
            lo = mid + 1;
        else
            hi = mid;
    }
    for (size_t back = 0; back < 64 && lo > 0; back++) {
        tz_tamper_finding *c = &f[--lo];
        if (is_entry_class(c->cls) && c->seq <= seq && seq <= c->last_seq)
            return c;
    }
    return NULL;
}

/* ---- the tree, rebuilt from the recorded leaves ---------------------------- */

typedef struct tree_level {
    unsigned level;
    uint64_t count;        /* complete nodes at this level */
    uint8_t (*hash)[32];
    uint8_t *known;
    int owned;             /* hash is not t->rec */
} tree_level;

/* Reports the nodes [from, to) of the level that are missing (only those
 * whose leaves are all known: a missing entry is reported once, as such). */
static void nodes_missing(tamper *t, const tree_level *lv, uint64_t from, uint64_t to)
{
    for (uint64_t j = from; j < to; j++) {
        if (lv->known[j])
            run_add(t, RUN_NODES, j, 0, lv->level);
        else if (t->run.kind != 0)
            run_flush(t);
    }
}

/* Replaces lv by the level above it (freeing what lv owned). */
static int level_up(tree_level *lv, tz_err *err)
{
    uint64_t count = lv->count / 2;
    uint8_t (*hash)[32] = NULL;
    uint8_t *known = NULL;
    if (count > 0) {
        hash = malloc((size_t)count * 32);
        known = malloc((size_t)count);
        if (hash == NULL || known == NULL) {
            free(hash);
            free(known);
            return tz_err_set(err, TZ_ERR_NOMEM, "verify: out of memory");
        }
        for (uint64_t j = 0; j < count; j++) {
            known[j] = lv->known[2 * j] && lv->known[2 * j + 1];
            if (known[j])
                tz_merkle_node_hash(hash[j], lv->hash[2 * j], lv->hash[2 * j + 1]);
        }
    }
    if (lv->owned)
        free(lv->hash);
    free(lv->known);
    *lv = (tree_level){lv->level + 1, count, hash, known, 1};
    return TZ_OK;
}

static void compare_node_value(tamper *t, const tree_level *lv, uint64_t j, const uint8_t *v,
                               size_t vlen)
{
    if (!lv->known[j] || (vlen == 32 && tz_hash_equal(v, lv->hash[j], 32)))
        return;
    char hx[17];
    hex16(hx, lv->hash[j]);
    uint64_t seq = node_completed_by(lv->level, j);
    if (lv->level == 0)
        found(t, TZ_TAMPER_TREE, 1, seq, "stored leaf node (level 0, index %llu) does not match "
              "the recorded leaf %s... (on which the entry and the chain agree)",
              (unsigned long long)j, hx);
    else
        found(t, TZ_TAMPER_TREE, 1, seq, "tree node (level %u, index %llu) does not match the "
              "hash of its children", lv->level, (unsigned long long)j);
}

/* Compares every stored tree node with the tree of the recorded leaves, in
 * one scan of the merkle column family (level by level, index order). */
static int compare_tree(tamper *t, tz_err *err)
{
    tree_level lv = {0, t->n, t->rec, NULL, 0};
    lv.known = malloc(t->n ? (size_t)t->n : 1);
    tz_store_iter *it = tz_store_iter_new(t->store, TZ_CF_MERKLE, NULL, 0);
    int rc = TZ_OK;
    if (lv.known == NULL || it == NULL) {
        rc = tz_err_set(err, TZ_ERR_NOMEM, "verify: out of memory");
        goto out;
    }
    for (uint64_t i = 0; i < t->n; i++)
        lv.known[i] = (t->flags[i] & SEQ_KNOWN) != 0;
    uint64_t expect = 0;
    for (; tz_store_iter_valid(it); tz_store_iter_next(it)) {
        size_t klen, vlen;
        const uint8_t *k = tz_store_iter_key(it, &klen);
        if (klen != 9 || k[0] > 63) {
            found(t, TZ_TAMPER_TREE, 0, 0, "tree: a record with a malformed key (added by hand)");
            continue;
        }
        unsigned level = k[0];
        uint64_t j = tz_store_u64_from_key(k + 1);
        while (level > lv.level) {
            nodes_missing(t, &lv, expect, lv.count);
            if ((rc = level_up(&lv, err)) != TZ_OK)
                goto out;
            expect = 0;
        }
        if (j >= lv.count) {
            int placed = j < (UINT64_MAX >> level);
            found(t, TZ_TAMPER_TREE, placed, placed ? node_completed_by(level, j) : 0,
                  "tree node (level %u, index %llu) lies beyond the recorded log of %llu entries "
                  "(an entry was removed or the node added)", level, (unsigned long long)j,
                  (unsigned long long)t->n);
            continue;
        }
        nodes_missing(t, &lv, expect, j);
        expect = j + 1;
        const uint8_t *v = tz_store_iter_value(it, &vlen);
        compare_node_value(t, &lv, j, v, vlen);
    }
    if ((rc = tz_store_iter_status(it, err)) != TZ_OK)
        goto out;
    while (lv.count > 0) {
        nodes_missing(t, &lv, expect, lv.count);
        if ((rc = level_up(&lv, err)) != TZ_OK)
            goto out;
        expect = 0;
    }
    if (t->run.kind != 0)
        run_flush(t);
out:
    if (lv.owned)
        free(lv.hash);
    free(lv.known);
    tz_store_iter_free(it);
    return rc;
}

/* ---- head and checkpoints --------------------------------------------------- */

/* Folds the recorded leaves; the roots at the log size and at each
 * checkpoint's size, as far as every leaf below is known. */
static void recorded_roots(tamper *t)
{
    tz_merkle_frontier fr;
    tz_merkle_frontier_init(&fr);
    for (uint64_t i = 0;; i++) {
        if (t->stored_cp.state == CP_OK && t->stored_cp.cp.size == i) {
            tz_merkle_frontier_root(&fr, t->stored_cp.root);
            t->stored_cp.root_known = 1;
        }
        if (t->trusted.state == CP_OK && t->trusted.cp.size == i) {
            tz_merkle_frontier_root(&fr, t->trusted.root);
            t->trusted.root_known = 1;
        }
        if (i == t->n) {
            tz_merkle_frontier_root(&fr, t->rep->root);
            t->rep->has_root = 1;
            break;
        }
        if (!(t->flags[i] & SEQ_KNOWN) ||
            tz_merkle_frontier_append(&fr, t->rec[i], NULL, NULL, NULL) != TZ_OK)
            break;
    }
}

static void check_head(tamper *t)
{
    unsigned long long n = t->n;
    if (!t->have_head) {
        found(t, TZ_TAMPER_HEAD, 1, n, "head: the head record is missing or malformed");
        return;
    }
    if (t->head.size != n) {
        const signed_cp *c = &t->stored_cp;
        if (c->state == CP_OK && c->cp.size == t->head.size &&
            tz_hash_equal(c->cp.root, t->head.root, 32))
            return; /* head and checkpoint agree: the checkpoint's finding says it */
        found(t, TZ_TAMPER_HEAD, 1, t->head.size < n ? t->head.size : n, "head: says size %llu, "
              "but the log recorded %llu entries (by the signed checkpoints and the tree)",
              (unsigned long long)t->head.size, n);
        return;
    }
    if (n == 0)
        return;
    if (t->rep->has_root && !tz_hash_equal(t->head.root, t->rep->root, 32))
        found(t, TZ_TAMPER_HEAD, 1, n - 1, "head: stored root does not match the root of the "
              "recorded leaves");
    if ((t->flags[n - 1] & SEQ_KNOWN) && !tz_hash_equal(t->head.last_leaf, t->rec[n - 1], 32))
        found(t, TZ_TAMPER_HEAD, 1, n - 1, "head: stored last_leaf is not the recorded leaf of "
              "entry %llu", n - 1);
    size_t last = t->at[n - 1];
    if (last != NONE && t->slots[last].decoded &&
        t->head.recorded_at != t->slots[last].recorded_at)
        found(t, TZ_TAMPER_HEAD, 1, n - 1, "head: stored recorded_at %llu is not that of entry "
              "%llu (%llu); the next append would be stamped from it",
              (unsigned long long)t->head.recorded_at, n - 1,
              (unsigned long long)t->slots[last].recorded_at);
}

static void check_stored_checkpoint(tamper *t)
{
    const signed_cp *c = &t->stored_cp;
    unsigned long long n = t->n, size = c->cp.size;
    uint64_t last = n ? n - 1 : 0;
    switch (c->state) {
    case CP_ABSENT:
        if (n > 0)
            found(t, TZ_TAMPER_CHECKPOINT, 1, last, "the stored checkpoint is missing");
        return;
    case CP_MALFORMED:
        found(t, TZ_TAMPER_CHECKPOINT, 1, last, "stored checkpoint is malformed: %.300s", c->why);
        return;
    case CP_UNCHECKED:
        found(t, TZ_TAMPER_META, 0, 0, "stored checkpoint not checked: %.300s", c->why);
        return;
    case CP_BAD_SIGNATURE:
        found(t, TZ_TAMPER_CHECKPOINT, 1, size ? size - 1 : 0, "stored checkpoint: %.300s",
              c->why);
        return;
    case CP_BAD_ORIGIN:
        found(t, TZ_TAMPER_CHECKPOINT, 1, 0, "stored checkpoint: %.300s", c->why);
        return;
    }
    if (size == 0)
        found(t, TZ_TAMPER_CHECKPOINT, 1, 0, "stored checkpoint is of an empty log; every commit "
              "signs the whole log, so it was replaced");
    else if (size < n && t->trusted.state == CP_OK && t->trusted.cp.size > size)
        found(t, TZ_TAMPER_CHECKPOINT, 1, size, "stored checkpoint, signed by the log key, covers "
              "%llu entries, but the trusted checkpoint covers %llu: the log was cut back and "
              "re-signed with the log key", size, (unsigned long long)t->trusted.cp.size);
    else if (size < n)
        found(t, TZ_TAMPER_CHECKPOINT, 1, size, "stored checkpoint is stale: it covers %llu "
              "entries but the log recorded %llu; no checkpoint signed by the log key covers the "
              "entries from %llu (added without the log key, or an old checkpoint put back)", size,
              n, size);
    else if (c->root_known && !tz_hash_equal(c->root, c->cp.root, 32))
        found(t, TZ_TAMPER_CHECKPOINT, 1, size - 1, "stored checkpoint root does not match the "
              "recorded tree at size %llu (the log was rewritten without the log key)", size);
}

static void check_trusted_checkpoint(tamper *t)
{
    const signed_cp *c = &t->trusted;
    unsigned long long size = c->cp.size;
    if (c->state == CP_ABSENT || t->n == 0)
        return;
    if (c->state == CP_UNCHECKED)
        found(t, TZ_TAMPER_META, 0, 0, "trusted checkpoint not checked: %.300s", c->why);
    else if (c->state == CP_BAD_SIGNATURE)
        found(t, TZ_TAMPER_CHECKPOINT, 1, 0, "trusted checkpoint: %.300s (is the genesis log key "
              "still the real one?)", c->why);
    else if (c->state == CP_BAD_ORIGIN)
        found(t, TZ_TAMPER_CHECKPOINT, 1, 0, "trusted checkpoint: %.300s", c->why);
    else if (size > 0 && c->root_known && !tz_hash_equal(c->root, c->cp.root, 32))
        found(t, TZ_TAMPER_CHECKPOINT, 1, size - 1, "log rewritten: the recorded tree at size %llu "
              "does not match the trusted checkpoint (an entry below seq %llu was changed, removed "
              "or inserted, and the log re-signed)", size, size);
}

/* ---- derived records -------------------------------------------------------- */

typedef struct tamper_derived {
    tamper *t;
    const char *what;
} tamper_derived;

/* 1 when an entry-level finding names seq (its derived records differ as a
 * consequence); counts the record in that finding. */
static int fold_derived(tamper *t, uint64_t seq)
{
    int damaged = seq < t->n ? (t->flags[seq] & SEQ_DAMAGED) != 0 : 0;
    tz_tamper_finding *f = entry_finding(t, seq);
    if (!damaged && f == NULL)
        return 0;
    t->rep->derived_folded++;
    if (f != NULL)
        f->derived++;
    return 1;
}

static void tamper_diff(void *ctx, derived_diff kind, const uint8_t *key, size_t klen,
                        const uint8_t *replayed, size_t rlen, const uint8_t *stored, size_t slen)
{
    tamper_derived *d = ctx;
    tamper *t = d->t;
    char name[200];
    uint64_t seq = 0, stored_seq = 0;
    /* the entry that wrote the stored version, and the one that wrote the
     * replayed version: a faulty one of them explains the difference */
    int has_stored = stored != NULL && tz_apply_value_seq(stored, slen, &stored_seq) == TZ_OK;
    int has = replayed != NULL && tz_apply_value_seq(replayed, rlen, &seq) == TZ_OK;
    if ((has_stored && fold_derived(t, stored_seq)) || (has && fold_derived(t, seq)))
        return;
    describe_index_key(name, sizeof name, key, klen);
    unsigned long long s = seq;
    uint64_t cause;
    if (kind == DERIVED_EXTRA)
        found(t, TZ_TAMPER_PROJECTION, 0, 0, "%s %s was not produced by any entry (added by hand)",
              d->what, name);
    else if (kind == DERIVED_MISSING)
        found(t, TZ_TAMPER_PROJECTION, has, seq, "%s %s written by entry %llu is missing from the "
              "store", d->what, name, s);
    else if (has && (cause = cause_before(t, seq)) != NO_SEQ) {
        /* written by an entry in the replay, from a state without the
         * entry left out before it */
        size_t before = t->rep->listed;
        found(t, TZ_TAMPER_PROJECTION, has, seq, "%s %s differs from the replay (last written by "
              "entry %llu; entry %llu, before it, is not in the replayed state; this may follow "
              "from it)", d->what, name, s, (unsigned long long)cause);
        mark_cause(t, before, cause);
    } else
        found(t, TZ_TAMPER_PROJECTION, has, seq, "%s %s differs from the replay (last written by "
              "entry %llu)", d->what, name, s);
}

static int check_derived(tamper *t, tz_err *err)
{
    if (!t->genesis_replayed) {
        found(t, TZ_TAMPER_META, 0, 0, "the genesis entry is not in the replay, so no state "
              "could be rebuilt: the entries after it were checked for their signatures only, and "
              "the derived records (index, projections) were not compared");
        return TZ_OK;
    }
    tamper_derived index = {t, "index record"}, proj = {t, "projection record"};
    int rc = compare_derived(t->scratch, t->store, TZ_CF_INDEX, tamper_diff, &index, err);
    if (rc == TZ_OK)
        rc = compare_derived(t->scratch, t->store, TZ_CF_PROJECTIONS, tamper_diff, &proj, err);
    return rc;
}

/* ---- the whole run ------------------------------------------------------------ */

static int alloc_seq_arrays(tamper *t, tz_err *err)
{
    size_t n = t->n ? (size_t)t->n : 1;
    if (t->n > SIZE_MAX / 32)
        return tz_err_set(err, TZ_ERR_NOMEM, "verify: a log of %llu entries does not fit in "
                          "memory", (unsigned long long)t->n);
    t->rec = calloc(n, 32);
    t->flags = calloc(n, 1);
    t->at = malloc(n * sizeof *t->at);
    if (t->rec == NULL || t->flags == NULL || t->at == NULL)
        return tz_err_set(err, TZ_ERR_NOMEM, "verify: out of memory");
    for (size_t i = 0; i < n; i++)
        t->at[i] = NONE;
    return TZ_OK;
}

static void tamper_free(tamper *t)
{
    free(t->slots);
    free(t->causes);
    free(t->bucket);
    free(t->chain);
    free(t->rec);
    free(t->flags);
    free(t->at);
    tz_store_close(t->scratch);
    tz_store_close(t->store);
    if (t->scratch_dir[0] != '\0')
        tz_fs_rmtree(t->scratch_dir);
}

/* Everything after the store is open; see tz_verify_all. */
static int tamper_run(tamper *t, tz_err *err)
{
    int format_ok, reproject_pending, rc;
    if ((rc = read_meta_marks(t->store, &format_ok, &reproject_pending, err)) != TZ_OK)
        return rc;
    if (!format_ok)
        found(t, TZ_TAMPER_META, 0, 0, "meta: the format record is missing or not %s",
              TZ_LEDGER_FORMAT);
    if (reproject_pending)
        found(t, TZ_TAMPER_META, 0, 0, "meta: an interrupted `taizhang reproject` left the "
              "derived records half replaced; run it again");
    tz_err e;
    int hr = tz_ledger_read_head(t->store, &t->head, &e);
    if (fatal(hr)) {
        if (err)
            *err = e;
        return hr;
    }
    t->have_head = hr == TZ_OK;
    t->progress_total = t->have_head ? 2 * t->head.size : 0;
    if ((rc = read_genesis(t, err)) != TZ_OK || (rc = read_checkpoints(t, err)) != TZ_OK ||
        (rc = open_scratch(t->scratch_dir, &t->scratch, err)) != TZ_OK ||
        (rc = scan_entries(t, err)) != TZ_OK || (rc = count_leaf_run(t, err)) != TZ_OK)
        return rc;
    choose_size(t);
    if ((rc = alloc_seq_arrays(t, err)) != TZ_OK || (rc = load_leaf_nodes(t, err)) != TZ_OK ||
        (rc = build_table(t, err)) != TZ_OK)
        return rc;
    recorded_leaves(t);
    if ((rc = replay_recorded(t, err)) != TZ_OK)
        return rc;
    for (uint64_t i = 0; i < t->n; i++)
        classify_seq(t, i);
    if (t->run.kind != 0)
        run_flush(t);
    for (size_t j = 0; j < t->nslots; j++)
        classify_slot(t, j);
    if (t->n == 0)
        found(t, TZ_TAMPER_MISSING, 1, 0, "the log is empty: the genesis entry 0 is missing");
    if ((rc = compare_tree(t, err)) != TZ_OK)
        return rc;
    recorded_roots(t);
    check_head(t);
    check_stored_checkpoint(t);
    check_trusted_checkpoint(t);
    sort_findings(t); /* check_derived looks entry findings up by seq */
    if ((rc = check_derived(t, err)) != TZ_OK)
        return rc;
    sort_findings(t);
    progress(t, t->progress_total > t->nslots + t->n ? t->progress_total : t->nslots + t->n);
    return TZ_OK;
}

int tz_verify_all(const char *dir, const tz_verify_options *options, tz_tamper_report *rep,
                  tz_err *err)
{
    if (sodium_init() < 0)
        return tz_err_set(err, TZ_ERR_INTERNAL, "libsodium could not be initialised");
    tz_verify_options none = {0};
    tamper t;
    memset(&t, 0, sizeof t);
    memset(rep, 0, sizeof *rep);
    t.opt = options ? options : &none;
    t.rep = rep;
    t.max_listed = t.opt->max_findings ? t.opt->max_findings : TZ_TAMPER_MAX_LISTED;
    rep->findings = calloc(t.max_listed, sizeof *rep->findings);
    if (rep->findings == NULL)
        return tz_err_set(err, TZ_ERR_NOMEM, "verify: out of memory");
    rep->size = 0;
    int rc = open_ledger_store(dir, &t.store, err);
    if (rc == TZ_OK)
        rc = tamper_run(&t, err);
    rep->size = t.n;
    rep->stored = t.nslots;
    tamper_free(&t);
    if (rc != TZ_OK)
        tz_tamper_report_free(rep);
    return rc;
}
