/*
 * ledger.c: create, open, group-commit append, reads and proofs.
 *
 * Workload facts that shaped it: an append must be durable before it is
 * acknowledged, and an fsync costs far more than deciding a statement, so
 * one call decides many statements against a WriteBatchWithIndex (each sees
 * the ones before it) and commits them with one synced write. Opening must
 * not replay the log (the daemon restarts under load): the head record and
 * the tree's right edge (popcount(size) node reads) are all it needs.
 */
#include "ledger/ledger.h"

#include "projections/domain.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <sodium.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "crypto/hash.h"
#include "crypto/keyfile.h"
#include "ledger/apply.h"
#include "crypto/note.h"
#include "ledger/checkpoint.h"
#include "ledger/codec.h"
#include "ledger/replay.h"
#include "ledger/statement.h"
#include "ledger/verify.h"
#include "util/fs.h"
#include "util/time.h"

struct tz_ledger {
    tz_store *store;
    int readonly;
    int have_log_key;
    tz_secret_key log_key;
    tz_public_key log_pub;
    char origin[TZ_ORIGIN_MAX + 1];
    uint64_t size;
    uint64_t last_recorded_at;
    uint8_t root[32];
    uint8_t last_leaf[32];
    tz_merkle_frontier frontier;
    tz_profile_cache *profile_cache; /* keyed by content hash: safe across rollbacks */
    tz_key_cache *key_cache;         /* signers' records; emptied on rollback or failed commit */
};

static const char META_HEAD[] = "head";
static const char META_CHECKPOINT[] = "checkpoint";
static const char META_FORMAT[] = "format";

void tz_ledger_node_key(uint8_t out[9], unsigned level, uint64_t index)
{
    out[0] = (uint8_t)level;
    tz_store_key_u64(out + 1, index);
}

int tz_ledger_read_node(void *ctx, unsigned level, uint64_t index, uint8_t out[32], tz_err *err)
{
    uint8_t key[9];
    tz_ledger_node_key(key, level, index);
    uint8_t *val = NULL;
    size_t len = 0;
    int rc = tz_store_get(ctx, TZ_CF_MERKLE, key, sizeof key, &val, &len, err);
    if (rc != TZ_OK)
        return rc;
    if (len != 32) {
        tz_store_free(val);
        return tz_err_set(err, TZ_ERR_TAMPER, "tree node (%u, %llu) is %zu bytes, not 32", level,
                          (unsigned long long)index, len);
    }
    memcpy(out, val, 32);
    tz_store_free(val);
    return TZ_OK;
}

/* A node the tree needs but the store lacks is damage, not a usage error. */
static int missing_is_tamper(int rc, tz_err *err)
{
    if (rc == TZ_ERR_NOTFOUND && err != NULL) {
        err->code = TZ_ERR_TAMPER;
        tz_err_prefix(err, "tree damaged (run `taizhang verify`): ");
    }
    return rc == TZ_ERR_NOTFOUND ? TZ_ERR_TAMPER : rc;
}

static int emit_node(void *ctx, unsigned level, uint64_t index, const uint8_t hash[32], tz_err *err)
{
    uint8_t key[9];
    tz_ledger_node_key(key, level, index);
    tz_store_batch_put(ctx, TZ_CF_MERKLE, key, sizeof key, hash, 32);
    return TZ_OK;
}

/* ---- head --------------------------------------------------------------- */

int tz_ledger_head_encode(msgpack_sbuffer *sb, const tz_ledger_head *h)
{
    msgpack_packer pk;
    msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
    return msgpack_pack_map(&pk, 4) | tz_codec_pack_str(&pk, "last_leaf", 9) |
           tz_codec_pack_bin(&pk, h->last_leaf, 32) | tz_codec_pack_str(&pk, "recorded_at", 11) |
           msgpack_pack_uint64(&pk, h->recorded_at) | tz_codec_pack_str(&pk, "root", 4) |
           tz_codec_pack_bin(&pk, h->root, 32) | tz_codec_pack_str(&pk, "size", 4) |
           msgpack_pack_uint64(&pk, h->size);
}

int tz_ledger_read_head(tz_store *store, tz_ledger_head *h, tz_err *err)
{
    uint8_t *val = NULL;
    size_t len = 0;
    int rc = tz_store_get(store, TZ_CF_META, META_HEAD, strlen(META_HEAD), &val, &len, err);
    if (rc != TZ_OK)
        return rc;
    msgpack_zone zone;
    if (!msgpack_zone_init(&zone, 1024)) {
        tz_store_free(val);
        return tz_err_set(err, TZ_ERR_NOMEM, "head: out of memory");
    }
    msgpack_object o;
    rc = tz_codec_decode(&o, &zone, val, len, err);
    if (rc == TZ_OK) {
        const msgpack_object *ll = tz_codec_map_get(&o, "last_leaf");
        const msgpack_object *ra = tz_codec_map_get(&o, "recorded_at");
        const msgpack_object *rt = tz_codec_map_get(&o, "root");
        const msgpack_object *sz = tz_codec_map_get(&o, "size");
        if (o.via.map.size != 4 || ll == NULL || ll->type != MSGPACK_OBJECT_BIN ||
            ll->via.bin.size != 32 || rt == NULL || rt->type != MSGPACK_OBJECT_BIN ||
            rt->via.bin.size != 32 || ra == NULL || ra->type != MSGPACK_OBJECT_POSITIVE_INTEGER ||
            sz == NULL || sz->type != MSGPACK_OBJECT_POSITIVE_INTEGER) {
            rc = tz_err_set(err, TZ_ERR_TAMPER, "head: record does not have the fields last_leaf, "
                            "recorded_at, root, size");
        } else {
            memcpy(h->last_leaf, ll->via.bin.ptr, 32);
            memcpy(h->root, rt->via.bin.ptr, 32);
            h->recorded_at = ra->via.u64;
            h->size = sz->via.u64;
        }
    } else {
        tz_err_prefix(err, "head: ");
        rc = TZ_ERR_TAMPER;
        if (err)
            err->code = rc;
    }
    msgpack_zone_destroy(&zone);
    tz_store_free(val);
    return rc;
}

/* ---- open and create ---------------------------------------------------- */

static int path_join(char *out, size_t cap, const char *dir, const char *name, tz_err *err)
{
    int n = snprintf(out, cap, "%s/%s", dir, name);
    if (n < 0 || (size_t)n >= cap)
        return tz_err_set(err, TZ_ERR_USAGE, "path too long: %s/%s", dir, name);
    return TZ_OK;
}

/* Reads origin and log key from the genesis entry (entry 0). */
static int read_genesis(tz_ledger *l, tz_err *err)
{
    uint8_t *raw = NULL;
    size_t len = 0;
    int rc = tz_ledger_get(l, 0, &raw, &len, err);
    if (rc != TZ_OK)
        return rc == TZ_ERR_NOTFOUND ? tz_err_set(err, TZ_ERR_TAMPER, "genesis entry 0 is missing")
                                     : rc;
    msgpack_zone zone;
    if (!msgpack_zone_init(&zone, 2048)) {
        tz_store_free(raw);
        return tz_err_set(err, TZ_ERR_NOMEM, "genesis: out of memory");
    }
    tz_entry e;
    tz_statement st;
    rc = tz_entry_decode(&e, raw, len, err);
    if (rc == TZ_OK)
        rc = tz_statement_decode(&st, &zone, e.statement, e.statement_len, err);
    if (rc == TZ_OK && !tz_statement_is(&st, "genesis"))
        rc = tz_err_set(err, TZ_ERR_TAMPER, "entry 0 is not a genesis statement");
    if (rc == TZ_OK) {
        const msgpack_object *origin = tz_codec_map_get(st.body, "origin");
        const msgpack_object *key = tz_codec_map_get(st.body, "log_key");
        if (origin == NULL || origin->type != MSGPACK_OBJECT_STR || key == NULL ||
            key->type != MSGPACK_OBJECT_STR || origin->via.str.size > TZ_ORIGIN_MAX)
            rc = tz_err_set(err, TZ_ERR_TAMPER, "genesis: body.origin or body.log_key malformed");
        else {
            memcpy(l->origin, origin->via.str.ptr, origin->via.str.size);
            l->origin[origin->via.str.size] = '\0';
            rc = tz_key_parse_public(&l->log_pub, key->via.str.ptr, key->via.str.size, err);
        }
    }
    if (rc != TZ_OK && rc != TZ_ERR_IO && rc != TZ_ERR_NOMEM) {
        tz_err_prefix(err, "genesis: ");
        rc = err ? (err->code = TZ_ERR_TAMPER) : TZ_ERR_TAMPER;
    }
    msgpack_zone_destroy(&zone);
    tz_store_free(raw);
    return rc;
}

/* The head's last leaf and time must be those of the last entry: the next
 * append chains to the one and is stamped no earlier than the other. */
static int check_head_against_last_entry(tz_ledger *l, tz_err *err)
{
    uint8_t *raw = NULL;
    size_t len = 0;
    int rc = tz_ledger_get(l, l->size - 1, &raw, &len, err);
    if (rc == TZ_ERR_NOTFOUND)
        return tz_err_set(err, TZ_ERR_TAMPER, "head: entry %llu, the last one, is missing; run "
                          "`taizhang verify`", (unsigned long long)(l->size - 1));
    if (rc != TZ_OK)
        return rc;
    uint8_t leaf[32];
    tz_entry e;
    tz_merkle_leaf_hash(leaf, raw, len);
    rc = tz_entry_decode(&e, raw, len, err);
    if (rc == TZ_OK && (!tz_hash_equal(leaf, l->last_leaf, 32) || e.recorded_at != l->last_recorded_at))
        rc = tz_err_set(err, TZ_ERR_TAMPER, "head: last_leaf or recorded_at is not that of entry "
                        "%llu; run `taizhang verify`", (unsigned long long)(l->size - 1));
    else if (rc != TZ_OK) {
        tz_err_prefix(err, "entry %llu: ", (unsigned long long)(l->size - 1));
        rc = TZ_ERR_TAMPER;
        if (err)
            err->code = rc;
    }
    tz_store_free(raw);
    return rc;
}

/* The stored checkpoint, when there is one, is written in the same batch as
 * the head: it must be signed by the log key and name the head's size and
 * root. (A replay holds none, and any found there is judged by
 * tz_replay_verify; an empty ledger holds none either.) */
static int check_checkpoint_against_head(tz_ledger *l, tz_err *err)
{
    uint8_t *val = NULL;
    size_t len = 0;
    int rc = tz_store_get(l->store, TZ_CF_META, META_CHECKPOINT, strlen(META_CHECKPOINT), &val,
                          &len, err);
    if (rc == TZ_ERR_NOTFOUND || (rc == TZ_OK && tz_replay_marked(l->store))) {
        tz_store_free(val); /* a replay's planted checkpoint is tz_replay_verify's to judge */
        return TZ_OK;
    }
    if (rc != TZ_OK)
        return rc;
    tz_checkpoint cp;
    tz_err why;
    if (tz_checkpoint_open(&cp, (const char *)val, len, &l->log_pub, &why) != TZ_OK)
        rc = tz_err_set(err, TZ_ERR_TAMPER, "checkpoint: the stored checkpoint does not open "
                        "with the log key (%.200s); run `taizhang verify`", why.msg);
    else if (cp.size != l->size || !tz_hash_equal(cp.root, l->root, 32))
        rc = tz_err_set(err, TZ_ERR_TAMPER, "checkpoint: the stored checkpoint is of %llu "
                        "entries, the head of %llu (or their roots differ); run `taizhang verify`",
                        (unsigned long long)cp.size, (unsigned long long)l->size);
    tz_store_free(val);
    return rc;
}

/* No entry may lie beyond the head: the head would be stale (its record lost
 * while the entries survived), and the next append would reuse a seq. */
static int check_nothing_beyond_head(tz_ledger *l, tz_err *err)
{
    uint8_t key[8], *val = NULL;
    size_t len = 0;
    tz_store_key_u64(key, l->size);
    int rc = tz_store_get(l->store, TZ_CF_ENTRIES, key, sizeof key, &val, &len, err);
    tz_store_free(val);
    if (rc == TZ_ERR_NOTFOUND)
        return TZ_OK;
    if (rc != TZ_OK)
        return rc;
    return tz_err_set(err, TZ_ERR_TAMPER, "head: says %llu entries, but entry %llu is stored; "
                      "run `taizhang verify`", (unsigned long long)l->size,
                      (unsigned long long)l->size);
}

void tz_ledger_hint_salvage(const char *dir, tz_err *err)
{
    if (err == NULL || err->code != TZ_ERR_IO ||
        (strstr(err->msg, "Corruption") == NULL && strstr(err->msg, "not referenced") == NULL))
        return;
    size_t used = strlen(err->msg);
    int n = snprintf(err->msg + used, sizeof err->msg - used, "; `taizhang salvage --db %s --out "
                     "NEWDIR` copies every entry that verifies into a new ledger", dir);
    if (n < 0 || (size_t)n >= sizeof err->msg - used)
        err->msg[sizeof err->msg - 1] = '\0';
}

/* A check of the open failed (rc) on an opened store: when SST files lie in
 * its directory that its MANIFEST does not reference, say so and return
 * TZ_ERR_IO (the likeliest cause: a MANIFEST that lost records, which makes
 * entries, tree nodes or the head vanish); else return rc. */
static int explain_orphans(tz_store *store, const char *dir, int rc, tz_err *err)
{
    char names[256], manifest[128];
    size_t count = 0;
    if (tz_store_orphans(store, names, sizeof names, &count, NULL) != TZ_OK || count == 0)
        return rc;
    if (err == NULL)
        return TZ_ERR_IO;
    err->code = TZ_ERR_IO; /* a damaged store, exit 2: not a verdict on the entries */
    tz_store_manifest_name(store, manifest, sizeof manifest);
    size_t used = strlen(err->msg);
    int n = snprintf(err->msg + used, sizeof err->msg - used, "; %zu SST file%s in %s/db (%s) "
                     "%s not referenced by %s, which has probably lost records; nothing was "
                     "changed; `taizhang salvage --db %s --out NEWDIR` copies every entry that "
                     "verifies into a new ledger", count, count == 1 ? "" : "s", dir, names,
                     count == 1 ? "is" : "are", manifest, dir);
    if (n < 0 || (size_t)n >= sizeof err->msg - used)
        err->msg[sizeof err->msg - 1] = '\0';
    return TZ_ERR_IO;
}

static int open_ledger(tz_ledger **out, const char *dir, int flags, const char *passphrase,
                       int store_flags, tz_err *err);

/* Before a writer opens the store (RocksDB's writable open deletes files it
 * thinks obsolete and writes a new MANIFEST): the ledger opened read-only,
 * which changes no file, must pass every check of the open. SST files the
 * MANIFEST does not reference are left by a crash during a flush or a
 * compaction (their data is still in the WAL or in the compaction's inputs)
 * and also by a MANIFEST that lost its last records (their data is nowhere
 * else). The two look alike by file number, so the ledger decides: the
 * library's verifier replays the ledger as it reads without them; when it
 * verifies, they hold nothing the ledger needs and RocksDB may delete them
 * (*store_flags gets TZ_STORE_ORPHANS_CHECKED); when it does not, the open
 * is refused and nothing is touched. The verify costs a full replay, paid
 * only when such files exist (docs/STORE.md). */
static int check_before_writing(const char *dir, int *store_flags, tz_err *err)
{
    tz_ledger *ro = NULL;
    int rc = open_ledger(&ro, dir, TZ_LEDGER_READONLY, NULL, 0, err);
    if (rc != TZ_OK)
        return rc;
    char names[256];
    size_t count = 0;
    rc = tz_store_orphans(ro->store, names, sizeof names, &count, err);
    tz_ledger_close(ro);
    if (rc != TZ_OK || count == 0)
        return rc;
    tz_verify_report rep;
    if ((rc = tz_verify_ledger(dir, NULL, &rep, err)) != TZ_OK)
        return rc;
    if (!rep.ok) {
        char at[48] = "";
        if (rep.has_bad_seq)
            snprintf(at, sizeof at, " at seq %llu", (unsigned long long)rep.first_bad_seq);
        return tz_err_set(err, TZ_ERR_IO, "--db %s: %zu SST file%s (%s) not referenced by the "
                          "MANIFEST, and the ledger without %s does not verify%s (%.120s): the "
                          "MANIFEST has lost records; the store was not opened for writing and "
                          "nothing was changed", dir, count, count == 1 ? "" : "s", names,
                          count == 1 ? "it" : "them", at, rep.reason);
    }
    *store_flags |= TZ_STORE_ORPHANS_CHECKED;
    return TZ_OK;
}

int tz_ledger_open(tz_ledger **out, const char *dir, int flags, const char *passphrase, tz_err *err)
{
    return open_ledger(out, dir, flags, passphrase, 0, err);
}

static int open_ledger(tz_ledger **out, const char *dir, int flags, const char *passphrase,
                       int store_flags, tz_err *err)
{

    *out = NULL;
    if (sodium_init() < 0)
        return tz_err_set(err, TZ_ERR_INTERNAL, "libsodium could not be initialised");
    char path[PATH_MAX];
    int rc = path_join(path, sizeof path, dir, "db", err);
    if (rc != TZ_OK)
        return rc;
    struct stat sb;
    if (stat(path, &sb) != 0)
        return errno == EACCES || errno == EPERM
                   ? tz_err_set(err, TZ_ERR_IO, "--db %s: permission denied (%s cannot be read "
                                "by this user)", dir, path)
                   : tz_err_set(err, TZ_ERR_IO, "--db %s: no ledger there (%s); create one with "
                                "`taizhang init`", dir, strerror(errno));
    tz_ledger *l = calloc(1, sizeof *l);
    if (l == NULL)
        return tz_err_set(err, TZ_ERR_NOMEM, "ledger: out of memory");
    l->readonly = (flags & TZ_LEDGER_READONLY) != 0;
    tz_merkle_frontier_init(&l->frontier);
    tz_merkle_empty_root(l->root);
    /* a replay (taizhang replay) is never written to, not even opened for it */
    if (!l->readonly && (rc = tz_replay_refuse_write(dir, NULL, err)) != TZ_OK)
        goto fail;
    if (!l->readonly && (rc = check_before_writing(dir, &store_flags, err)) != TZ_OK)
        goto fail;
    if ((rc = tz_store_open(&l->store, path,
                            l->readonly ? TZ_STORE_READONLY : store_flags, err)) != TZ_OK) {
        tz_ledger_hint_salvage(dir, err);
        goto fail;
    }
    uint8_t *fmt = NULL;
    size_t fmt_len = 0;
    rc = tz_store_get(l->store, TZ_CF_META, META_FORMAT, strlen(META_FORMAT), &fmt, &fmt_len, err);
    if (rc == TZ_OK) {
        if (fmt_len != strlen(TZ_LEDGER_FORMAT) || memcmp(fmt, TZ_LEDGER_FORMAT, fmt_len) != 0)
            rc = tz_err_set(err, TZ_ERR_IO, "%s: format is not %s", dir, TZ_LEDGER_FORMAT);
        tz_store_free(fmt);
    } else if (rc == TZ_ERR_NOTFOUND) {
        rc = tz_err_set(err, TZ_ERR_IO, "%s: not a taizhang ledger (no format record)", dir);
    }
    if (rc != TZ_OK)
        goto fail;
    tz_ledger_head head;
    rc = tz_ledger_read_head(l->store, &head, err);
    if (rc == TZ_OK) {
        l->size = head.size;
        l->last_recorded_at = head.recorded_at;
        memcpy(l->root, head.root, 32);
        memcpy(l->last_leaf, head.last_leaf, 32);
        rc = tz_merkle_frontier_load(&l->frontier, head.size, tz_ledger_read_node, l->store, err);
        if (rc == TZ_ERR_NOTFOUND)
            rc = tz_err_set(err, TZ_ERR_TAMPER, "tree: a node of the right edge is missing; run "
                            "`taizhang verify`");
        if (rc != TZ_OK)
            goto fail;
        uint8_t root[32];
        tz_merkle_frontier_root(&l->frontier, root);
        if (!tz_hash_equal(root, l->root, 32)) {
            rc = tz_err_set(err, TZ_ERR_TAMPER, "head: stored root does not match the tree; run "
                            "`taizhang verify`");
            goto fail;
        }
        if ((rc = check_head_against_last_entry(l, err)) != TZ_OK ||
            (rc = check_nothing_beyond_head(l, err)) != TZ_OK)
            goto fail;
        if ((rc = read_genesis(l, err)) != TZ_OK ||
            (rc = check_checkpoint_against_head(l, err)) != TZ_OK)
            goto fail;
    } else if (rc != TZ_ERR_NOTFOUND) {
        goto fail;
    }
    if (!l->readonly && (rc = tz_replay_refuse_write(dir, l->store, err)) != TZ_OK)
        goto fail;
    if (!l->readonly) {
        char keypath[PATH_MAX];
        if ((rc = path_join(keypath, sizeof keypath, dir, "log.key", err)) != TZ_OK ||
            (rc = tz_keyfile_read_secret(&l->log_key, keypath, passphrase, err)) != TZ_OK)
            goto fail;
        l->have_log_key = 1;
        if (l->size > 0 && !tz_hash_equal(l->log_key.pub.pk, l->log_pub.pk, 32)) {
            rc = tz_err_set(err, TZ_ERR_USAGE, "%s: log.key is not the log key named in genesis",
                            dir);
            goto fail;
        }
    }
    *out = l;
    return TZ_OK;
fail:
    if (l->store != NULL && rc == TZ_ERR_TAMPER)
        rc = explain_orphans(l->store, dir, rc, err);
    tz_ledger_close(l);
    return rc;
}

void tz_ledger_close(tz_ledger *l)
{
    if (l == NULL)
        return;
    tz_store_close(l->store);
    tz_key_wipe(&l->log_key);
    free(l->profile_cache);
    free(l->key_cache);
    free(l);
}

static int dir_is_empty_or_absent(const char *dir, tz_err *err)
{
    int rc = tz_fs_empty_dir(dir);
    if (rc < 0)
        return tz_err_set(err, TZ_ERR_IO, "--db %s: %s", dir, strerror(errno));
    if (rc > 0)
        return tz_err_set(err, TZ_ERR_USAGE, "--db %s: directory is not empty; refusing to "
                          "create a ledger over existing files", dir);
    return TZ_OK;
}

int tz_ledger_copy_key_file(const char *from, const char *to, tz_err *err)
{
    char buf[8192];
    int in = open(from, O_RDONLY | O_CLOEXEC);
    if (in < 0)
        return tz_err_set(err, TZ_ERR_IO, "--log-key %s: %s", from, strerror(errno));
    ssize_t n = read(in, buf, sizeof buf);
    close(in);
    if (n <= 0 || (size_t)n == sizeof buf)
        return tz_err_set(err, TZ_ERR_IO, "--log-key %s: unreadable or too large", from);
    int out = open(to, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (out < 0) {
        explicit_bzero(buf, sizeof buf);
        return tz_err_set(err, TZ_ERR_IO, "%s: %s", to, strerror(errno));
    }
    int ok = write(out, buf, (size_t)n) == n && fsync(out) == 0;
    ok &= close(out) == 0;
    explicit_bzero(buf, sizeof buf);
    if (!ok)
        return tz_err_set(err, TZ_ERR_IO, "%s: write failed: %s", to, strerror(errno));
    return TZ_OK;
}

int tz_ledger_create(const char *dir, const char *origin, const char *log_key_path,
                     const char *passphrase, const tz_public_key *roots, size_t nroots, tz_err *err)
{
    int rc = tz_checkpoint_check_origin(origin, err);
    if (rc != TZ_OK) {
        tz_err_prefix(err, "--origin: ");
        return rc;
    }
    if (nroots == 0 || nroots > TZ_ENTRY_MAX_SIGS)
        return tz_err_set(err, TZ_ERR_USAGE, "--root: give 1..%d root authority keys",
                          TZ_ENTRY_MAX_SIGS);
    tz_secret_key key;
    if ((rc = tz_keyfile_read_secret(&key, log_key_path, passphrase, err)) != TZ_OK)
        return rc;
    char path[PATH_MAX];
    tz_store *store = NULL;
    tz_ledger *l = NULL;
    json_t *js = NULL;
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    if ((rc = dir_is_empty_or_absent(dir, err)) != TZ_OK ||
        (rc = path_join(path, sizeof path, dir, "log.key", err)) != TZ_OK ||
        (rc = tz_ledger_copy_key_file(log_key_path, path, err)) != TZ_OK ||
        (rc = path_join(path, sizeof path, dir, "db", err)) != TZ_OK ||
        (rc = tz_store_open(&store, path, TZ_STORE_CREATE, err)) != TZ_OK ||
        (rc = tz_store_put(store, TZ_CF_META, META_FORMAT, strlen(META_FORMAT), TZ_LEDGER_FORMAT,
                           strlen(TZ_LEDGER_FORMAT), err)) != TZ_OK)
        goto out;
    tz_store_close(store);
    store = NULL;
    if ((rc = tz_ledger_open(&l, dir, 0, passphrase, err)) != TZ_OK)
        goto out;
    /* The genesis statement, built as JSON so it takes the same path as any. */
    char keystr[TZ_KEY_STRING_MAX];
    json_t *root_list = json_array();
    js = json_object();
    json_t *body = json_object();
    if (root_list == NULL || js == NULL || body == NULL) {
        json_decref(root_list);
        json_decref(body);
        rc = tz_err_set(err, TZ_ERR_NOMEM, "init: out of memory");
        goto out;
    }
    for (size_t i = 0; i < nroots; i++) {
        if ((rc = tz_key_format_public(keystr, sizeof keystr, &roots[i], err)) != TZ_OK) {
            json_decref(root_list);
            json_decref(body);
            goto out;
        }
        json_array_append_new(root_list, json_string(keystr));
    }
    if ((rc = tz_key_format_public(keystr, sizeof keystr, &key.pub, err)) != TZ_OK) {
        json_decref(root_list);
        json_decref(body);
        goto out;
    }
    char at[TZ_TIME_RFC3339_MAX];
    uint64_t now = tz_time_now_micros();
    tz_time_format_micros(at, now);
    memcpy(at + 19, "Z", 2); /* drop the fraction: seconds precision for `at` */
    json_object_set_new(body, "log_key", json_string(keystr));
    json_object_set_new(body, "origin", json_string(origin));
    json_object_set_new(body, "roots", root_list);
    json_object_set_new(js, "type", json_string("genesis"));
    json_object_set_new(js, "id", json_string("genesis"));
    json_object_set_new(js, "at", json_string(at));
    json_object_set_new(js, "body", body);
    if ((rc = tz_statement_from_json(&sb, js, err)) != TZ_OK)
        goto out;
    tz_signature sig;
    memcpy(sig.key, key.pub.pk, 32);
    if ((rc = tz_key_sign_statement(sig.sig, &key, (const uint8_t *)sb.data, sb.size, err)) != TZ_OK)
        goto out;
    snprintf(l->origin, sizeof l->origin, "%s", origin);
    l->log_pub = key.pub;
    tz_submission sub = {(const uint8_t *)sb.data, sb.size, &sig, 1};
    tz_append_result res;
    size_t processed = 0;
    rc = tz_ledger_append(l, &sub, 1, &res, &processed, 0, err);
    if (rc == TZ_OK && res.status != TZ_OK) {
        rc = res.status;
        if (err)
            *err = res.err;
    }
out:
    json_decref(js);
    msgpack_sbuffer_destroy(&sb);
    tz_store_close(store);
    tz_ledger_close(l);
    tz_key_wipe(&key);
    return rc;
}

/* ---- append ------------------------------------------------------------- */

typedef struct append_state {
    tz_merkle_frontier frontier;
    uint64_t size;
    uint64_t last_recorded_at;
    uint8_t last_leaf[32];
    tz_profile_cache *profile_cache;
    tz_key_cache *key_cache;
    int sigs_verified; /* TZ_APPEND_SIGS_VERIFIED */
} append_state;

static int existing_result(tz_store_batch *batch, const tz_statement *st, const tz_submission *sub,
                           uint64_t seq, tz_append_result *res, tz_err *err)
{
    uint8_t key[9];
    tz_store_key_u64(key, seq);
    uint8_t *raw = NULL;
    size_t len = 0;
    int rc = tz_store_batch_get(batch, TZ_CF_ENTRIES, key, 8, &raw, &len, err);
    if (rc != TZ_OK)
        return rc == TZ_ERR_NOTFOUND ? tz_err_set(err, TZ_ERR_INTERNAL, "id index names missing "
                                                  "entry %llu", (unsigned long long)seq)
                                     : rc;
    tz_entry e;
    rc = tz_entry_decode(&e, raw, len, err);
    if (rc == TZ_OK && (e.statement_len != sub->statement_len ||
                        memcmp(e.statement, sub->statement, e.statement_len) != 0))
        rc = tz_err_set(err, TZ_ERR_CONFLICT, "id: \"%.*s\" is already used by entry %llu with "
                        "different content", (int)st->id_len, st->id, (unsigned long long)seq);
    /* A retry is answered only for those who could have sent the original:
     * its signatures must verify and be by keys that signed the entry, so
     * nobody learns what is recorded by guessing statements. */
    for (size_t i = 0; rc == TZ_OK && i < sub->nsigs; i++) {
        rc = tz_key_verify_statement(sub->sigs[i].sig, sub->sigs[i].key, sub->statement,
                                     sub->statement_len, err);
        if (rc != TZ_OK) {
            rc = tz_err_set(err, TZ_ERR_SIGNATURE, "sigs[%zu]: signature does not verify over the "
                            "statement", i);
            break;
        }
        int signed_it = 0;
        for (size_t j = 0; j < e.nsigs; j++)
            signed_it |= tz_hash_equal(e.sigs[j].key, sub->sigs[i].key, 32);
        if (!signed_it)
            rc = tz_err_set(err, TZ_ERR_CONFLICT, "id: \"%.*s\" is already recorded at entry %llu, "
                            "not signed by sigs[%zu]; another signer adds a signature with a cosign "
                            "statement", (int)st->id_len, st->id, (unsigned long long)seq, i);
    }
    if (rc == TZ_OK) {
        tz_ledger_node_key(key, 0, seq);
        uint8_t *leaf = NULL;
        size_t leaf_len = 0;
        rc = tz_store_batch_get(batch, TZ_CF_MERKLE, key, 9, &leaf, &leaf_len, err);
        if (rc == TZ_OK && leaf_len == 32) {
            memcpy(res->leaf_hash, leaf, 32);
            res->seq = seq;
            res->existing = 1;
        } else if (rc == TZ_OK) {
            rc = tz_err_set(err, TZ_ERR_TAMPER, "tree: leaf %llu malformed", (unsigned long long)seq);
        }
        tz_store_free(leaf);
    }
    tz_store_free(raw);
    return rc;
}

static int decide_one(tz_store_batch *batch, const tz_submission *sub, append_state *as,
                      tz_append_result *res, tz_err *err)
{
    if (sub->statement_len == 0 || sub->statement_len > TZ_STATEMENT_MAX)
        return tz_err_set(err, TZ_ERR_INPUT, "statement: %zu bytes (must be 1..%u)",
                          sub->statement_len, TZ_STATEMENT_MAX);
    if (sub->nsigs == 0 || sub->nsigs > TZ_ENTRY_MAX_SIGS)
        return tz_err_set(err, TZ_ERR_INPUT, "sigs: a statement needs 1..%d signatures (has %zu)",
                          TZ_ENTRY_MAX_SIGS, sub->nsigs);
    msgpack_zone zone;
    if (!msgpack_zone_init(&zone, 4096))
        return tz_err_set(err, TZ_ERR_NOMEM, "append: out of memory");
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    tz_statement st;
    uint64_t prior;
    int rc = tz_statement_decode(&st, &zone, sub->statement, sub->statement_len, err);
    if (rc != TZ_OK)
        goto out;
    rc = tz_apply_id_get(batch, st.id, st.id_len, &prior, err);
    if (rc == TZ_OK) {
        rc = existing_result(batch, &st, sub, prior, res, err);
        goto out;
    }
    if (rc != TZ_ERR_NOTFOUND)
        goto out;
    tz_entry e;
    memset(&e, 0, sizeof e);
    e.seq = as->size;
    uint64_t now = tz_time_now_micros();
    e.recorded_at = now > as->last_recorded_at ? now : as->last_recorded_at;
    memcpy(e.prev, as->last_leaf, 32);
    e.statement = sub->statement;
    e.statement_len = sub->statement_len;
    e.nsigs = sub->nsigs;
    memcpy(e.sigs, sub->sigs, sub->nsigs * sizeof sub->sigs[0]);
    if (!as->sigs_verified && (rc = tz_entry_verify_signatures(&e, err)) != TZ_OK)
        goto out;
    tz_apply_ctx ctx = {
        .batch = batch, .seq = e.seq, .recorded_at = e.recorded_at, .st = &st,
        .statement = sub->statement, .statement_len = sub->statement_len,
        .sigs = sub->sigs, .nsigs = sub->nsigs, .key_cache = as->key_cache,
        .profile_cache = as->profile_cache, .id_unused = 1, /* read just above */
    };
    if ((rc = tz_apply_statement(&ctx, err)) != TZ_OK)
        goto out;
    if ((rc = tz_entry_encode(&sb, &e, err)) != TZ_OK)
        goto out;
    uint8_t leaf[32], key[8];
    tz_merkle_leaf_hash(leaf, (const uint8_t *)sb.data, sb.size);
    tz_store_key_u64(key, e.seq);
    tz_store_batch_put(batch, TZ_CF_ENTRIES, key, 8, sb.data, sb.size);
    if ((rc = tz_merkle_frontier_append(&as->frontier, leaf, emit_node, batch, err)) != TZ_OK)
        goto out;
    as->size++;
    as->last_recorded_at = e.recorded_at;
    memcpy(as->last_leaf, leaf, 32);
    res->seq = e.seq;
    memcpy(res->leaf_hash, leaf, 32);
out:
    msgpack_sbuffer_destroy(&sb);
    msgpack_zone_destroy(&zone);
    return rc;
}

static int put_head_and_checkpoint(tz_ledger *l, tz_store_batch *batch, const append_state *as,
                                   uint8_t root[32], tz_err *err)
{
    tz_ledger_head h;
    h.size = as->size;
    h.recorded_at = as->last_recorded_at;
    memcpy(h.last_leaf, as->last_leaf, 32);
    tz_merkle_frontier_root(&as->frontier, root);
    memcpy(h.root, root, 32);
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    if (tz_ledger_head_encode(&sb, &h)) {
        msgpack_sbuffer_destroy(&sb);
        return tz_err_set(err, TZ_ERR_NOMEM, "head: out of memory");
    }
    tz_store_batch_put(batch, TZ_CF_META, META_HEAD, strlen(META_HEAD), sb.data, sb.size);
    msgpack_sbuffer_destroy(&sb);
    tz_checkpoint cp;
    snprintf(cp.origin, sizeof cp.origin, "%s", l->origin);
    cp.size = as->size;
    memcpy(cp.root, root, 32);
    char *note = NULL;
    size_t note_len = 0;
    int rc = tz_checkpoint_sign(&note, &note_len, &cp, &l->log_key, err);
    if (rc != TZ_OK)
        return rc;
    tz_store_batch_put(batch, TZ_CF_META, META_CHECKPOINT, strlen(META_CHECKPOINT), note, note_len);
    free(note);
    return TZ_OK;
}

int tz_ledger_append(tz_ledger *l, const tz_submission *subs, size_t n,
                     tz_append_result *results, size_t *processed, int flags, tz_err *err)
{
    if (processed != NULL)
        *processed = 0;
    if (l->readonly || !l->have_log_key)
        return tz_err_set(err, TZ_ERR_USAGE, "append: ledger opened read-only");
    tz_store_batch *batch = tz_store_batch_new(l->store);
    if (batch == NULL)
        return tz_err_set(err, TZ_ERR_NOMEM, "append: out of memory");
    append_state as;
    as.frontier = l->frontier;
    as.size = l->size;
    as.last_recorded_at = l->last_recorded_at;
    memcpy(as.last_leaf, l->last_leaf, 32);
    if (l->profile_cache == NULL)
        l->profile_cache = calloc(1, sizeof *l->profile_cache); /* NULL: parse each time */
    as.profile_cache = l->profile_cache;
    if (l->key_cache == NULL)
        l->key_cache = calloc(1, sizeof *l->key_cache); /* NULL: read the store each time */
    as.key_cache = l->key_cache;
    as.sigs_verified = (flags & TZ_APPEND_SIGS_VERIFIED) != 0;
    size_t accepted = 0, i;
    int rc = TZ_OK;
    for (i = 0; i < n; i++) {
        tz_append_result *res = &results[i];
        memset(res, 0, sizeof *res);
        tz_store_batch_mark(batch);
        int st = decide_one(batch, &subs[i], &as, res, &res->err);
        if (st == TZ_ERR_IO || st == TZ_ERR_NOMEM || st == TZ_ERR_INTERNAL) {
            rc = st;
            if (err)
                *err = res->err;
            break;
        }
        if (st != TZ_OK) {
            res->status = st;
            /* The cache may hold a key record this statement wrote. */
            tz_key_cache_clear(as.key_cache);
            if ((rc = tz_store_batch_rollback(batch, err)) != TZ_OK)
                break;
            if (flags & TZ_APPEND_STOP_ON_REJECT) {
                i++;
                break;
            }
            continue;
        }
        if (!res->existing)
            accepted++;
    }
    size_t done = i;
    if (rc == TZ_OK && accepted > 0) {
        uint8_t root[32];
        rc = put_head_and_checkpoint(l, batch, &as, root, err);
        if (rc == TZ_OK)
            rc = tz_store_commit(l->store, batch, err);
        if (rc == TZ_OK) {
            l->frontier = as.frontier;
            l->size = as.size;
            l->last_recorded_at = as.last_recorded_at;
            memcpy(l->last_leaf, as.last_leaf, 32);
            memcpy(l->root, root, 32);
        }
    }
    if (rc != TZ_OK) {
        tz_key_cache_clear(as.key_cache); /* it may hold writes that were never committed */
        for (size_t j = 0; j < n; j++) {
            results[j].status = rc;
            results[j].err.code = rc;
            snprintf(results[j].err.msg, sizeof results[j].err.msg, "%s",
                     err ? err->msg : "append failed; nothing was written");
        }
        done = 0;
    }
    if (processed != NULL)
        *processed = done;
    tz_store_batch_free(batch);
    return rc;
}

/* ---- reads and proofs --------------------------------------------------- */

uint64_t tz_ledger_size(const tz_ledger *l) { return l->size; }
void tz_ledger_root(const tz_ledger *l, uint8_t root[32]) { memcpy(root, l->root, 32); }
const char *tz_ledger_origin(const tz_ledger *l) { return l->origin; }
const tz_public_key *tz_ledger_log_key(const tz_ledger *l) { return &l->log_pub; }
tz_store *tz_ledger_store(tz_ledger *l) { return l->store; }

int tz_ledger_get(tz_ledger *l, uint64_t seq, uint8_t **entry, size_t *len, tz_err *err)
{
    uint8_t key[8];
    tz_store_key_u64(key, seq);
    int rc = tz_store_get(l->store, TZ_CF_ENTRIES, key, 8, entry, len, err);
    if (rc == TZ_ERR_NOTFOUND)
        return tz_err_set(err, rc, "--seq %llu: no such entry (log size %llu)",
                          (unsigned long long)seq, (unsigned long long)l->size);
    return rc;
}

int tz_ledger_find_id(tz_ledger *l, const char *id, size_t len, uint64_t *seq, tz_err *err)
{
    tz_store_batch *b = tz_store_batch_new(l->store);
    if (b == NULL)
        return tz_err_set(err, TZ_ERR_NOMEM, "out of memory");
    int rc = tz_apply_id_get(b, id, len, seq, err);
    tz_store_batch_free(b);
    if (rc == TZ_ERR_NOTFOUND)
        return tz_err_set(err, rc, "--id %.*s: no statement with that id", (int)len, id);
    return rc;
}

int tz_ledger_leaf_hash(tz_ledger *l, uint64_t seq, uint8_t out[32], tz_err *err)
{
    if (seq >= l->size)
        return tz_err_set(err, TZ_ERR_NOTFOUND, "--seq %llu: no such entry (log size %llu)",
                          (unsigned long long)seq, (unsigned long long)l->size);
    return tz_ledger_read_node(l->store, 0, seq, out, err);
}

int tz_ledger_root_at(tz_ledger *l, uint64_t size, uint8_t root[32], tz_err *err)
{
    if (size > l->size)
        return tz_err_set(err, TZ_ERR_USAGE, "size %llu is beyond the log (size %llu)",
                          (unsigned long long)size, (unsigned long long)l->size);
    return missing_is_tamper(tz_merkle_root(root, size, tz_ledger_read_node, l->store, err), err);
}

int tz_ledger_inclusion_proof(tz_ledger *l, uint64_t seq, uint64_t size, tz_merkle_proof *proof,
                              tz_err *err)
{
    if (size > l->size)
        return tz_err_set(err, TZ_ERR_USAGE, "--size %llu is beyond the log (size %llu)",
                          (unsigned long long)size, (unsigned long long)l->size);
    if (seq >= size)
        return tz_err_set(err, TZ_ERR_USAGE, "--seq %llu is not below --size %llu",
                          (unsigned long long)seq, (unsigned long long)size);
    return missing_is_tamper(
        tz_merkle_inclusion_proof(proof, seq, size, tz_ledger_read_node, l->store, err), err);
}

int tz_ledger_consistency_proof(tz_ledger *l, uint64_t size1, uint64_t size2,
                                tz_merkle_proof *proof, tz_err *err)
{
    if (size2 > l->size)
        return tz_err_set(err, TZ_ERR_USAGE, "--to %llu is beyond the log (size %llu)",
                          (unsigned long long)size2, (unsigned long long)l->size);
    if (size1 == 0 || size1 > size2)
        return tz_err_set(err, TZ_ERR_USAGE, "--from must be 1..--to (got %llu and %llu)",
                          (unsigned long long)size1, (unsigned long long)size2);
    return missing_is_tamper(
        tz_merkle_consistency_proof(proof, size1, size2, tz_ledger_read_node, l->store, err), err);
}

int tz_ledger_sign_checkpoint(tz_ledger *l, tz_err *err)
{
    if (l->readonly || !l->have_log_key)
        return tz_err_set(err, TZ_ERR_USAGE, "checkpoint: the ledger is opened read-only");
    if (l->size == 0)
        return tz_err_set(err, TZ_ERR_USAGE, "checkpoint: the ledger is empty");
    tz_checkpoint cp;
    snprintf(cp.origin, sizeof cp.origin, "%s", l->origin);
    cp.size = l->size;
    memcpy(cp.root, l->root, 32);
    char *note = NULL;
    size_t note_len = 0;
    int rc = tz_checkpoint_sign(&note, &note_len, &cp, &l->log_key, err);
    if (rc == TZ_OK)
        rc = tz_store_put(l->store, TZ_CF_META, META_CHECKPOINT, strlen(META_CHECKPOINT), note,
                          note_len, err);
    free(note);
    return rc;
}

int tz_ledger_checkpoint(tz_ledger *l, char **note, size_t *len, tz_err *err)
{
    uint8_t *val = NULL;
    size_t vlen = 0;
    int rc = tz_store_get(l->store, TZ_CF_META, META_CHECKPOINT, strlen(META_CHECKPOINT), &val,
                          &vlen, err);
    if (rc == TZ_ERR_NOTFOUND && tz_replay_marked(l->store))
        return tz_err_set(err, rc, "a replay (taizhang replay) holds no checkpoint of its own: "
                          "its replay record carries the source's, which `taizhang verify` "
                          "checks it against");
    if (rc != TZ_OK)
        return rc == TZ_ERR_NOTFOUND ? tz_err_set(err, rc, "no checkpoint yet (empty ledger)") : rc;
    tz_checkpoint cp;
    tz_note parsed;
    if (tz_note_parse(&parsed, (const char *)val, vlen, NULL) != TZ_OK ||
        tz_checkpoint_parse(&cp, parsed.text, parsed.text_len, NULL) != TZ_OK ||
        cp.size != l->size) {
        tz_store_free(val);
        return tz_err_set(err, TZ_ERR_TAMPER, "the stored checkpoint is malformed or does not "
                          "cover the whole log (%llu entries); run `taizhang verify`",
                          (unsigned long long)l->size);
    }
    *note = malloc(vlen + 1);
    if (*note == NULL) {
        tz_store_free(val);
        return tz_err_set(err, TZ_ERR_NOMEM, "out of memory");
    }
    memcpy(*note, val, vlen);
    (*note)[vlen] = '\0';
    *len = vlen;
    tz_store_free(val);
    return TZ_OK;
}
