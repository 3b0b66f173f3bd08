/*
 * replay.c: a ledger as it stood at an earlier moment, and the history of a
 * subject (see replay.h).
 *
 * Workload facts that shaped it. A replay is made once per dispute, of a
 * prefix of a log that may hold a million entries, and must equal what a
 * fresh ledger of those entries would hold, byte for byte. So the derived
 * records come from the one replay routine there is (tz_rebuild_replay,
 * the decide step over the entries, into a scratch store built in a
 * staging directory inside --out); the entries are copied unchanged in
 * the same pass that recomputes the tree from them (a frontier: 2 KiB,
 * no reads), and the recomputed root must equal the source's stored root
 * at that size, so a source whose entries and tree disagree is refused
 * rather than copied. Only when everything is written is the store closed
 * (RocksDB flushes it), moved to DIR/db and reopened as a ledger to check
 * its head; so an interrupted replay never leaves a directory that looks
 * like a finished one.
 *
 * A history is short (a cadre has a few hundred entries over a term): it
 * is read from the subject index and built in memory.
 */
#include "ledger/replay.h"

#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "crypto/hash.h"
#include "crypto/note.h"
#include "ledger/checkpoint.h"
#include "ledger/codec.h"
#include "ledger/entry.h"
#include "ledger/entry_json.h"
#include "ledger/ledger.h"
#include "ledger/prefix.h"
#include "ledger/rebuild.h"
#include "projections/view.h"
#include "util/encoding.h"
#include "util/fs.h"
#include "util/time.h"

#define META_REPLAY "replay"
#define STAGING_NAME ".replay-in-progress"
#define MARKER_NAME "replay.json"
#define CHINA_OFFSET_US (8ull * 3600u * 1000000u)

/* ---- the replay record ------------------------------------------------------ */

static int record_encode(msgpack_sbuffer *sb, const tz_replay_info *r)
{
    msgpack_packer pk;
    msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
    int bad = msgpack_pack_map(&pk, 6);
    bad |= tz_codec_pack_str(&pk, "consistency", 11) | msgpack_pack_array(&pk, r->nconsistency);
    for (size_t i = 0; i < r->nconsistency; i++)
        bad |= tz_codec_pack_bin(&pk, r->consistency[i], 32);
    bad |= tz_codec_pack_str(&pk, "replayed_at", 11) | msgpack_pack_uint64(&pk, r->replayed_at);
    bad |= tz_codec_pack_str(&pk, "root", 4) | tz_codec_pack_bin(&pk, r->root, 32);
    bad |= tz_codec_pack_str(&pk, "size", 4) | msgpack_pack_uint64(&pk, r->size);
    bad |= tz_codec_pack_str(&pk, "source", 6) |
           tz_codec_pack_str(&pk, r->source, strlen(r->source));
    bad |= tz_codec_pack_str(&pk, "source_checkpoint", 17) |
           tz_codec_pack_str(&pk, r->source_checkpoint, r->source_checkpoint_len);
    return bad;
}

/* Copies a str member of m into dst (cap bytes with the NUL); -1 when it is
 * missing, not a str or too long. */
static int member_str(const msgpack_object *m, const char *name, char *dst, size_t cap,
                      size_t *len)
{
    const msgpack_object *o = tz_codec_map_get(m, name);
    if (o == NULL || o->type != MSGPACK_OBJECT_STR || o->via.str.size >= cap)
        return -1;
    memcpy(dst, o->via.str.ptr, o->via.str.size);
    dst[o->via.str.size] = '\0';
    if (len != NULL)
        *len = o->via.str.size;
    return 0;
}

static int member_bin32(const msgpack_object *m, const char *name, uint8_t out[32])
{
    const msgpack_object *o = tz_codec_map_get(m, name);
    if (o == NULL || o->type != MSGPACK_OBJECT_BIN || o->via.bin.size != 32)
        return -1;
    memcpy(out, o->via.bin.ptr, 32);
    return 0;
}

static int member_u64(const msgpack_object *m, const char *name, uint64_t *out)
{
    const msgpack_object *o = tz_codec_map_get(m, name);
    if (o == NULL || o->type != MSGPACK_OBJECT_POSITIVE_INTEGER)
        return -1;
    *out = o->via.u64;
    return 0;
}

/* The fields of a decoded record into *r; -1 when one is missing or
 * malformed. The checkpoint is parsed, not yet trusted. */
static int record_fields(const msgpack_object *m, tz_replay_info *r)
{
    const msgpack_object *proof = tz_codec_map_get(m, "consistency");
    if (m->type != MSGPACK_OBJECT_MAP || m->via.map.size != 6 || proof == NULL ||
        proof->type != MSGPACK_OBJECT_ARRAY || proof->via.array.size > TZ_MERKLE_MAX_PROOF ||
        member_u64(m, "replayed_at", &r->replayed_at) || member_bin32(m, "root", r->root) ||
        member_u64(m, "size", &r->size) ||
        member_str(m, "source", r->source, sizeof r->source, NULL) ||
        member_str(m, "source_checkpoint", r->source_checkpoint, sizeof r->source_checkpoint,
                   &r->source_checkpoint_len))
        return -1;
    r->nconsistency = proof->via.array.size;
    for (size_t i = 0; i < r->nconsistency; i++) {
        const msgpack_object *h = &proof->via.array.ptr[i];
        if (h->type != MSGPACK_OBJECT_BIN || h->via.bin.size != 32)
            return -1;
        memcpy(r->consistency[i], h->via.bin.ptr, 32);
    }
    tz_note note;
    tz_checkpoint cp;
    if (tz_note_parse(&note, r->source_checkpoint, r->source_checkpoint_len, NULL) != TZ_OK ||
        tz_checkpoint_parse(&cp, note.text, note.text_len, NULL) != TZ_OK)
        return -1;
    r->source_size = cp.size;
    memcpy(r->source_root, cp.root, 32);
    return 0;
}

int tz_replay_read(tz_store *store, tz_replay_info *info, tz_err *err)
{
    uint8_t *val = NULL;
    size_t len = 0;
    int rc = tz_store_get(store, TZ_CF_META, META_REPLAY, strlen(META_REPLAY), &val, &len, err);
    if (rc != TZ_OK)
        return rc;
    msgpack_zone zone;
    if (!msgpack_zone_init(&zone, 4096)) {
        tz_store_free(val);
        return tz_err_set(err, TZ_ERR_NOMEM, "replay record: out of memory");
    }
    msgpack_object m;
    memset(info, 0, sizeof *info);
    if (tz_codec_decode(&m, &zone, val, len, NULL) != TZ_OK || record_fields(&m, info) != 0)
        rc = tz_err_set(err, TZ_ERR_TAMPER, "meta: the replay record is malformed (fields "
                        "consistency, replayed_at, root, size, source, source_checkpoint)");
    msgpack_zone_destroy(&zone);
    tz_store_free(val);
    return rc;
}

int tz_replay_marked(tz_store *store)
{
    uint8_t *val = NULL;
    size_t len = 0;
    int rc = tz_store_get(store, TZ_CF_META, META_REPLAY, strlen(META_REPLAY), &val, &len, NULL);
    tz_store_free(val);
    return rc == TZ_OK;
}

static int refusal(tz_err *err, const char *dir, const char *source, unsigned long long until)
{
    return tz_err_set(err, TZ_ERR_USAGE, "--db %s: a read-only replay of %s as it stood at seq "
                      "%llu (made by `taizhang replay`); nothing is ever written to it: write to "
                      "the source ledger", dir, source, until);
}

/* The refusal, from what the marker file says (when it can be read). */
static int refuse_from_marker(const char *dir, const char *marker, tz_err *err)
{
    json_t *j = json_load_file(marker, 0, NULL);
    const char *source = json_string_value(json_object_get(j, "source"));
    json_t *until = json_object_get(j, "until");
    int rc;
    if (source != NULL && json_is_integer(until) && json_integer_value(until) >= 0)
        rc = refusal(err, dir, source, (unsigned long long)json_integer_value(until));
    else
        rc = tz_err_set(err, TZ_ERR_USAGE, "--db %s: a read-only replay (made by `taizhang "
                        "replay`, see %s); nothing is ever written to it", dir, marker);
    json_decref(j);
    return rc;
}

int tz_replay_refuse_write(const char *dir, tz_store *store, tz_err *err)
{
    char marker[PATH_MAX];
    struct stat st;
    int n = snprintf(marker, sizeof marker, "%s/" MARKER_NAME, dir);
    if (n < 0 || (size_t)n >= sizeof marker)
        return tz_err_set(err, TZ_ERR_USAGE, "--db: path too long");
    if (stat(marker, &st) == 0)
        return refuse_from_marker(dir, marker, err);
    if (errno != ENOENT)
        return tz_err_set(err, TZ_ERR_IO, "--db %s: %s: %s", dir, marker, strerror(errno));
    if (store == NULL)
        return TZ_OK;
    tz_replay_info *r = malloc(sizeof *r);
    if (r == NULL)
        return tz_err_set(err, TZ_ERR_NOMEM, "replay record: out of memory");
    tz_err why;
    int rc = tz_replay_read(store, r, &why);
    if (rc == TZ_OK)
        rc = refusal(err, dir, r->source, (unsigned long long)(r->size ? r->size - 1 : 0));
    else if (rc == TZ_ERR_NOTFOUND)
        rc = TZ_OK;
    else if (err != NULL)
        *err = why;
    free(r);
    return rc;
}

/* ---- verifying a replay -------------------------------------------------------- */

/* Writes to reason the first rule the record breaks (nothing when none). */
static int proven_prefix(const tz_replay_info *r, const tz_public_key *log_key,
                         const char *origin, uint64_t size, const uint8_t root[32], char *reason,
                         size_t cap)
{
    tz_checkpoint cp;
    tz_merkle_proof proof;
    tz_err e;
    if (r->size != size)
        return snprintf(reason, cap, "replay record: says %llu entries but the replay holds %llu",
                        (unsigned long long)r->size, (unsigned long long)size);
    if (!tz_hash_equal(r->root, root, 32))
        return snprintf(reason, cap, "replay record: its root is not the root of the %llu "
                        "replayed entries", (unsigned long long)size);
    if (tz_checkpoint_open(&cp, r->source_checkpoint, r->source_checkpoint_len, log_key, &e) !=
        TZ_OK)
        return snprintf(reason, cap, "replay record: the source checkpoint does not verify with "
                        "the log key: %.300s", e.msg);
    if (strcmp(cp.origin, origin) != 0)
        return snprintf(reason, cap, "replay record: the source checkpoint's origin \"%.200s\" is "
                        "not the origin named in genesis", cp.origin);
    if (cp.size < size)
        return snprintf(reason, cap, "replay record: the source checkpoint covers %llu entries, "
                        "fewer than the %llu replayed", (unsigned long long)cp.size,
                        (unsigned long long)size);
    proof.count = r->nconsistency;
    memcpy(proof.hashes, r->consistency, r->nconsistency * 32);
    if (tz_merkle_verify_consistency(size, cp.size, &proof, root, cp.root, &e) != TZ_OK)
        return snprintf(reason, cap, "replay record: the %llu entries are not a prefix of the "
                        "source's signed log of %llu entries: %.300s", (unsigned long long)size,
                        (unsigned long long)cp.size, e.msg);
    return 0;
}

int tz_replay_verify(tz_store *store, const tz_public_key *log_key, const char *origin,
                     uint64_t size, const uint8_t root[32], int *is_replay, char *reason,
                     size_t cap, tz_err *err)
{
    *is_replay = 0;
    reason[0] = '\0';
    tz_replay_info *r = malloc(sizeof *r);
    if (r == NULL)
        return tz_err_set(err, TZ_ERR_NOMEM, "verify: out of memory");
    tz_err why;
    int rc = tz_replay_read(store, r, &why);
    if (rc == TZ_ERR_NOTFOUND) {
        free(r);
        return TZ_OK;
    }
    if (rc == TZ_ERR_IO || rc == TZ_ERR_NOMEM) {
        free(r);
        if (err != NULL)
            *err = why;
        return rc;
    }
    *is_replay = 1;
    if (rc != TZ_OK) {
        snprintf(reason, cap, "%s", why.msg);
        free(r);
        return TZ_OK;
    }
    uint8_t *val = NULL;
    size_t len = 0;
    rc = tz_store_get(store, TZ_CF_META, "checkpoint", 10, &val, &len, &why);
    tz_store_free(val);
    if (rc == TZ_OK)
        snprintf(reason, cap, "meta: a replay holds no checkpoint of its own (it has no log key), "
                 "yet one is stored: added by hand");
    else if (rc != TZ_ERR_NOTFOUND) {
        free(r);
        if (err != NULL)
            *err = why;
        return rc;
    } else {
        proven_prefix(r, log_key, origin, size, root, reason, cap);
    }
    free(r);
    return TZ_OK;
}

/* ---- building a replay ----------------------------------------------------------- */

static int join(char *out, size_t cap, const char *dir, const char *name, tz_err *err)
{
    return tz_fs_join(out, cap, dir, name, "--out", err);
}

/* out_dir must be new or an empty directory; *created says whether this
 * call made it (so a failure can take it away again). */
static int prepare_out(const char *out_dir, int *created, tz_err *err)
{
    struct stat st;
    *created = 0;
    if (stat(out_dir, &st) == 0 && !S_ISDIR(st.st_mode))
        return tz_err_set(err, TZ_ERR_USAGE, "--out %s: exists and is not a directory; a replay "
                          "is written into a new or empty directory", out_dir);
    int existed = stat(out_dir, &st) == 0;
    int rc = tz_fs_empty_dir(out_dir);
    if (rc < 0)
        return tz_err_set(err, TZ_ERR_IO, "--out %s: %s", out_dir, strerror(errno));
    if (rc > 0)
        return tz_err_set(err, TZ_ERR_USAGE, "--out %s: the directory is not empty; a replay is "
                          "written only into a new or empty directory", out_dir);
    *created = !existed;
    return TZ_OK;
}

/* The seq --until names in a log of size entries (size > 0). */
static int parse_until(tz_store *store, uint64_t size, const char *until, uint64_t *seq,
                       tz_err *err)
{
    size_t len = strlen(until);
    if (len > 0 && strspn(until, "0123456789") == len) {
        errno = 0;
        unsigned long long v = strtoull(until, NULL, 10);
        if (errno == ERANGE || len > 20 || v >= size)
            return tz_err_set(err, TZ_ERR_INPUT, "--until %s: beyond the log, which holds seqs "
                              "0..%llu", until, (unsigned long long)(size - 1));
        *seq = v;
        return TZ_OK;
    }
    int64_t day;
    if (tz_time_parse_date(until, len, "--until", &day, NULL) != TZ_OK)
        return tz_err_set(err, TZ_ERR_INPUT, "--until: \"%s\" is neither a seq nor a date "
                          "YYYY-MM-DD", until);
    tz_err why;
    int rc = tz_view_seq_at_day(store, size, day, seq, &why);
    if (rc == TZ_ERR_NOTFOUND)
        return tz_err_set(err, TZ_ERR_INPUT, "--until %s: the day ends before the first entry "
                          "of the log was recorded (China time)", until);
    if (rc != TZ_OK && err != NULL)
        *err = why;
    return rc;
}

/* The source's signed checkpoint: it must verify with the log key, name the
 * log's origin and cover exactly the log as opened. */
static int source_checkpoint(tz_ledger *src, tz_replay_info *r, tz_err *err)
{
    char *note = NULL;
    size_t len = 0;
    tz_checkpoint cp;
    tz_err why;
    int rc = tz_ledger_checkpoint(src, &note, &len, err);
    if (rc != TZ_OK)
        return rc;
    uint8_t root[32];
    tz_ledger_root(src, root);
    if (len > TZ_REPLAY_NOTE_MAX)
        rc = tz_err_set(err, TZ_ERR_INPUT, "--db: the source checkpoint is %zu bytes, more than "
                        "a replay keeps (%d)", len, TZ_REPLAY_NOTE_MAX);
    else if (tz_checkpoint_open(&cp, note, len, tz_ledger_log_key(src), &why) != TZ_OK ||
             strcmp(cp.origin, tz_ledger_origin(src)) != 0 || !tz_hash_equal(cp.root, root, 32))
        rc = tz_err_set(err, TZ_ERR_TAMPER, "--db: the source's stored checkpoint does not "
                        "verify against its log key, origin and root; run `taizhang verify`");
    if (rc == TZ_OK) {
        memcpy(r->source_checkpoint, note, len);
        r->source_checkpoint[len] = '\0';
        r->source_checkpoint_len = len;
        r->source_size = cp.size;
        memcpy(r->source_root, cp.root, 32);
    }
    free(note);
    return rc;
}

/* One entry of the source, checked for its place in the chain, copied and
 * added to the tree. */
static int copy_one(tz_prefix_writer *w, uint64_t seq, const uint8_t *key, size_t klen,
                    const uint8_t *raw, size_t len, tz_err *err)
{
    tz_entry e;
    tz_err why;
    if (klen != 8 || tz_store_u64_from_key(key) != seq)
        return tz_err_set(err, TZ_ERR_TAMPER, "--db: entry %llu is missing or out of place; run "
                          "`taizhang verify`", (unsigned long long)seq);
    if (tz_entry_decode(&e, raw, len, &why) != TZ_OK || e.seq != seq ||
        !tz_hash_equal(e.prev, w->last_leaf, 32) || e.recorded_at < w->last_recorded_at)
        return tz_err_set(err, TZ_ERR_TAMPER, "--db: entry %llu does not decode or does not "
                          "follow entry %llu in the chain; run `taizhang verify`",
                          (unsigned long long)seq, (unsigned long long)(seq ? seq - 1 : 0));
    return tz_prefix_add(w, raw, len, e.recorded_at, err);
}

/* Copies entries [0, n) of src into dst with the tree nodes they complete
 * (recomputed, not copied), then the meta records of a ledger of n
 * entries and the replay record r. The recomputed root must be r->root,
 * the root of the source's stored tree at n. */
static int write_ledger(tz_store *src, tz_store *dst, uint64_t n, const tz_replay_info *r,
                        tz_err *err)
{
    tz_prefix_writer w;
    tz_store_iter *it = tz_store_iter_new(src, TZ_CF_ENTRIES, NULL, 0);
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    int rc = tz_prefix_init(&w, dst, "replay", err);
    if (rc == TZ_OK && it == NULL)
        rc = tz_err_set(err, TZ_ERR_NOMEM, "replay: out of memory");
    if (rc != TZ_OK)
        goto out;
    uint64_t seq = 0;
    for (; rc == TZ_OK && seq < n && tz_store_iter_valid(it); tz_store_iter_next(it), seq++) {
        size_t klen, len;
        const uint8_t *key = tz_store_iter_key(it, &klen);
        const uint8_t *raw = tz_store_iter_value(it, &len);
        rc = copy_one(&w, seq, key, klen, raw, len, err);
    }
    if (rc == TZ_OK)
        rc = tz_store_iter_status(it, err);
    if (rc != TZ_OK)
        goto out;
    uint8_t root[32];
    tz_prefix_root(&w, root);
    if (seq != n || !tz_hash_equal(root, r->root, 32)) {
        rc = tz_err_set(err, TZ_ERR_TAMPER, "--db: the first %llu entries do not hash to the "
                        "source's stored tree; run `taizhang verify`", (unsigned long long)n);
        goto out;
    }
    if (record_encode(&sb, r)) {
        rc = tz_err_set(err, TZ_ERR_NOMEM, "replay: out of memory");
        goto out;
    }
    rc = tz_prefix_finish(&w, META_REPLAY, strlen(META_REPLAY), sb.data, sb.size, err);
out:
    msgpack_sbuffer_destroy(&sb);
    tz_store_iter_free(it);
    tz_prefix_free(&w);
    return rc;
}

static int make_read_only(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)ftw;
    if (flag == FTW_SL)
        return 0;
    return chmod(path, S_ISDIR(st->st_mode) ? 0555 : 0444) == 0 ? 0 : -1;
}

static int make_writable(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)ftw;
    if (flag != FTW_SL)
        chmod(path, S_ISDIR(st->st_mode) ? 0700 : 0600);
    return 0;
}

/* Moves the finished store from the staging directory to out_dir/db. */
static int move_into_place(const char *staging, const char *out_dir, tz_err *err)
{
    static const char *const names[] = {"db"};
    size_t failed;
    if (tz_fs_move_staged(staging, out_dir, names, 1, &failed) != 0 || rmdir(staging) != 0 ||
        tz_fs_sync(out_dir) != 0)
        return tz_err_set(err, TZ_ERR_IO, "--out %s: cannot move the replay into place: %s",
                          out_dir, strerror(errno));
    return TZ_OK;
}

/* Takes away what a failed build wrote: a half-made replay must not be
 * read. */
static void discard(const char *out_dir, const char *staging, int staged, int settled,
                    int created)
{
    char db[PATH_MAX];
    if (staged)
        tz_fs_rmtree(staging);
    if (settled && join(db, sizeof db, out_dir, "db", NULL) == TZ_OK) {
        nftw(out_dir, make_writable, 16, FTW_PHYS);
        tz_fs_rmtree(db);
        if (join(db, sizeof db, out_dir, MARKER_NAME, NULL) == TZ_OK)
            unlink(db);
    }
    if (created)
        rmdir(out_dir);
}

/* DIR/replay.json: what the replay record says, for people, and for the
 * writers' check before they open the store. */
static int write_marker(const char *out_dir, const tz_replay_info *r, tz_err *err)
{
    char path[PATH_MAX], root[64], at[TZ_TIME_RFC3339_MAX];
    int rc = join(path, sizeof path, out_dir, MARKER_NAME, err);
    if (rc != TZ_OK)
        return rc;
    tz_base64_encode(root, sizeof root, r->root, 32);
    tz_time_format_micros(at, r->replayed_at);
    json_t *j = json_pack("{s:s,s:I,s:I,s:s,s:s,s:I,s:s,s:s}", "replay",
                          "read-only: made by `taizhang replay`; nothing is ever written here",
                          "until", (json_int_t)(r->size - 1), "entries", (json_int_t)r->size,
                          "root", root, "source", r->source, "source_size",
                          (json_int_t)r->source_size, "source_checkpoint", r->source_checkpoint,
                          "replayed_at", at);
    char *text = j != NULL ? json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER) : NULL;
    json_decref(j);
    if (text == NULL)
        return tz_err_set(err, TZ_ERR_NOMEM, "replay: out of memory");
    FILE *f = fopen(path, "wx");
    int ok = f != NULL && fprintf(f, "%s\n", text) > 0;
    ok &= f != NULL && fflush(f) == 0 && fsync(fileno(f)) == 0;
    if (f != NULL)
        ok &= fclose(f) == 0;
    free(text);
    if (!ok)
        rc = tz_err_set(err, TZ_ERR_IO, "--out %s: cannot write %s: %s", out_dir, path,
                        strerror(errno));
    return rc;
}

/* Opens the result as any reader would and checks its head: what the
 * commands will see is what was meant to be written. */
static int check_result(const char *out_dir, const tz_replay_info *r, tz_err *err)
{
    tz_ledger *l = NULL;
    int rc = tz_ledger_open(&l, out_dir, TZ_LEDGER_READONLY, NULL, err);
    if (rc != TZ_OK)
        return rc;
    uint8_t root[32];
    tz_ledger_root(l, root);
    if (tz_ledger_size(l) != r->size || !tz_hash_equal(root, r->root, 32))
        rc = tz_err_set(err, TZ_ERR_IO, "--out %s: the replay reads back as %llu entries, not "
                        "%llu", out_dir, (unsigned long long)tz_ledger_size(l),
                        (unsigned long long)r->size);
    tz_ledger_close(l);
    return rc;
}

/* Fills *r from the source: the seq, the root there, the checkpoint and
 * the consistency proof from that root to it. */
static int describe(tz_ledger *src, const char *source_dir, const char *until, tz_replay_info *r,
                    tz_err *err)
{
    uint64_t size = tz_ledger_size(src), seq;
    if (size == 0)
        return tz_err_set(err, TZ_ERR_INPUT, "--db %s: the ledger is empty", source_dir);
    /* its tree proves only its own prefix: a replay's replay would carry no
     * proof against the signed log */
    if (tz_replay_marked(tz_ledger_store(src)))
        return tz_err_set(err, TZ_ERR_USAGE, "--db %s: is itself a replay; replay the source "
                          "ledger it names (replay.json) instead", source_dir);
    int rc = parse_until(tz_ledger_store(src), size, until, &seq, err);
    if (rc != TZ_OK || (rc = source_checkpoint(src, r, err)) != TZ_OK)
        return rc;
    r->size = seq + 1;
    r->replayed_at = tz_time_now_micros();
    if (realpath(source_dir, r->source) == NULL)
        snprintf(r->source, sizeof r->source, "%s", source_dir);
    tz_merkle_proof proof;
    if ((rc = tz_ledger_root_at(src, r->size, r->root, err)) != TZ_OK ||
        (rc = tz_ledger_consistency_proof(src, r->size, size, &proof, err)) != TZ_OK)
        return rc;
    r->nconsistency = proof.count;
    memcpy(r->consistency, proof.hashes, proof.count * 32);
    return TZ_OK;
}

int tz_replay_build(const char *source_dir, const char *until, const char *out_dir,
                    tz_replay_info *info, tz_err *err)
{
    tz_replay_info *r = calloc(1, sizeof *r);
    if (r == NULL)
        return tz_err_set(err, TZ_ERR_NOMEM, "replay: out of memory");
    tz_ledger *src = NULL;
    tz_store *scratch = NULL;
    char staging[PATH_MAX] = "";
    int created = 0, staged = 0, settled = 0;
    uint64_t replayed = 0;
    int rc = tz_ledger_open(&src, source_dir, TZ_LEDGER_READONLY, NULL, err);
    if (rc != TZ_OK || (rc = describe(src, source_dir, until, r, err)) != TZ_OK ||
        (rc = prepare_out(out_dir, &created, err)) != TZ_OK ||
        (rc = join(staging, sizeof staging, out_dir, STAGING_NAME, err)) != TZ_OK)
        goto out;
    staged = 1;
    if ((rc = tz_rebuild_replay(tz_ledger_store(src), r->size, staging, &scratch, &replayed,
                                err)) != TZ_OK ||
        (rc = write_ledger(tz_ledger_store(src), scratch, r->size, r, err)) != TZ_OK)
        goto out;
    tz_store_close(scratch); /* flushes: the scratch store has no WAL */
    scratch = NULL;
    if ((rc = move_into_place(staging, out_dir, err)) != TZ_OK)
        goto out;
    staged = 0;
    settled = 1;
    if ((rc = write_marker(out_dir, r, err)) != TZ_OK || (rc = check_result(out_dir, r, err)) != TZ_OK)
        goto out;
    if (nftw(out_dir, make_read_only, 16, FTW_PHYS) != 0)
        rc = tz_err_set(err, TZ_ERR_IO, "--out %s: cannot make the replay read-only: %s",
                        out_dir, strerror(errno));
out:
    tz_store_close(scratch);
    tz_ledger_close(src);
    if (rc != TZ_OK)
        discard(out_dir, staging, staged, settled, created);
    if (rc == TZ_OK && info != NULL)
        *info = *r;
    free(r);
    return rc;
}

/* ---- what a statement says ---------------------------------------------------------- */

static const char *js(const json_t *o, const char *key)
{
    const char *v = json_string_value(json_object_get(o, key));
    return v != NULL ? v : "?";
}

/* "20 P, 1 B, 10 A" from an attendance sheet's codes, with the days not
 * stationed ('-') counted apart. */
static void attendance_counts(char *out, size_t cap, const char *days)
{
    static const char codes[] = "PBLRA";
    size_t count[5] = {0}, absent = 0, off = 0;
    for (const char *p = days; *p; p++) {
        const char *c = strchr(codes, *p);
        if (*p == '-')
            absent++;
        else if (c != NULL)
            count[c - codes]++;
    }
    out[0] = '\0';
    for (size_t i = 0; i < 5; i++)
        if (count[i] > 0 && off < cap)
            off += (size_t)snprintf(out + off, cap - off, "%s%zu %c", off ? ", " : "", count[i],
                                    codes[i]);
    if (absent > 0 && off < cap)
        snprintf(out + off, cap - off, "%s%zu day(s) not stationed", off ? "; " : "", absent);
}

/* Days from .. to, both included (0 when either is not a date). */
static long long span_days(const char *from, const char *to)
{
    int64_t a, b;
    if (tz_time_parse_date(from, strlen(from), "from", &a, NULL) != TZ_OK ||
        tz_time_parse_date(to, strlen(to), "to", &b, NULL) != TZ_OK)
        return 0;
    return (long long)(b - a + 1);
}

/* Joins the strings of a JSON array with sep into out. */
static void join_strings(char *out, size_t cap, const json_t *a, const char *sep)
{
    size_t off = 0, i;
    json_t *x;
    out[0] = '\0';
    json_array_foreach(a, i, x)
        if (json_is_string(x) && off < cap)
            off += (size_t)snprintf(out + off, cap - off, "%s%s", i ? sep : "",
                                    json_string_value(x));
}

/* " (note)" when the body has a note, else "". */
static void note_suffix(char *out, size_t cap, const json_t *b)
{
    const char *note = json_string_value(json_object_get(b, "note"));
    snprintf(out, cap, "%s%s%s", note && *note ? " (" : "", note && *note ? note : "",
             note && *note ? ")" : "");
}

static void summary_registry(char *out, size_t cap, const char *t, const json_t *b)
{
    if (strcmp(t, "org.unit") == 0)
        snprintf(out, cap, "unit %s registered: %s (%s level, %lld staff)", js(b, "unit"),
                 js(b, "name"), js(b, "level"), (long long)json_integer_value(json_object_get(b, "staff")));
    else if (strcmp(t, "org.village") == 0)
        snprintf(out, cap, "village %s registered: %s, township %s, county %s (%s)",
                 js(b, "village"), js(b, "name"), js(b, "township"), js(b, "county"),
                 js(b, "category"));
    else if (strcmp(t, "person.register") == 0)
        snprintf(out, cap, "person %s registered: %s, unit %s, rank %s, %s, party member since "
                 "%s", js(b, "person"), js(b, "name"), js(b, "unit"), js(b, "rank"),
                 js(b, "employment"), json_is_string(json_object_get(b, "party_member_since"))
                 ? js(b, "party_member_since") : "(not a full member)");
    else
        snprintf(out, cap, "retire %s %s: %s", js(b, "kind"), js(b, "ref"), js(b, "reason"));
}

static void summary_leave(char *out, size_t cap, const char *t, const json_t *b)
{
    char note[300];
    note_suffix(note, sizeof note, b);
    if (strcmp(t, "leave.request") == 0)
        snprintf(out, cap, "leave request by %s %s..%s (%lld days): %s", js(b, "person"),
                 js(b, "from"), js(b, "to"), span_days(js(b, "from"), js(b, "to")),
                 js(b, "reason"));
    else if (strcmp(t, "leave.approve") == 0)
        snprintf(out, cap, "leave %s %s%s", js(b, "request"), js(b, "decision"), note);
    else
        snprintf(out, cap, "return from leave %s on %s", js(b, "request"), js(b, "date"));
}

static void summary_mission(char *out, size_t cap, const char *t, const json_t *b)
{
    char note[300], codes[120];
    note_suffix(note, sizeof note, b);
    if (strcmp(t, "dispatch") == 0)
        snprintf(out, cap, "dispatch %s to %s as %s %s..%s (unit %s)", js(b, "person"),
                 js(b, "village"), js(b, "role"), js(b, "start"), js(b, "planned_end"),
                 js(b, "unit"));
    else if (strcmp(t, "dispatch.end") == 0)
        snprintf(out, cap, "end of dispatch %s of %s on %s", js(b, "dispatch"), js(b, "person"),
                 js(b, "date"));
    else if (strcmp(t, "attendance") == 0) {
        attendance_counts(codes, sizeof codes, js(b, "days"));
        snprintf(out, cap, "attendance %s of %s: %s", js(b, "month"), js(b, "person"), codes);
    } else if (strcmp(t, "spot_check") == 0)
        snprintf(out, cap, "spot check of %s on %s: %s%s", js(b, "person"), js(b, "date"),
                 js(b, "result"), note);
    else if (strcmp(t, "handover.start") == 0)
        snprintf(out, cap, "handover in %s from %s to %s, starting %s", js(b, "village"),
                 js(b, "outgoing"), js(b, "incoming"), js(b, "start"));
    else if (strcmp(t, "handover.complete") == 0)
        snprintf(out, cap, "handover %s completed on %s", js(b, "handover"), js(b, "date"));
    else if (strcmp(t, "recall") == 0)
        snprintf(out, cap, "recall of %s from %s on %s: %s%s", js(b, "person"), js(b, "dispatch"),
                 js(b, "date"), js(b, "reason"), note);
    else if (strcmp(t, "assessment") == 0)
        snprintf(out, cap, "assessment of %s for %lld: %s", js(b, "person"),
                 (long long)json_integer_value(json_object_get(b, "year")), js(b, "grade"));
    else
        summary_leave(out, cap, t, b);
}

static int is_one_of(const char *t, const char *const *names)
{
    for (; *names != NULL; names++)
        if (strcmp(t, *names) == 0)
            return 1;
    return 0;
}

void tz_replay_summary(char *out, size_t cap, const json_t *statement, const json_t *target)
{
    static const char *const registry[] = {"org.unit", "org.village", "person.register",
                                           "registry.retire", NULL};
    static const char *const mission[] = {"dispatch", "dispatch.end", "attendance", "spot_check",
                                          "handover.start", "handover.complete", "recall",
                                          "assessment", "leave.request", "leave.approve",
                                          "leave.return", NULL};
    const char *t = js(statement, "type");
    const json_t *b = json_object_get(statement, "body");
    char list[400];
    if (cap == 0)
        return;
    if (strcmp(t, "cosign") == 0)
        snprintf(out, cap, "cosign of entry %lld (%s %s)",
                 (long long)json_integer_value(json_object_get(b, "seq")),
                 target ? js(target, "type") : "?", target ? js(target, "id") : "?");
    else if (is_one_of(t, registry))
        summary_registry(out, cap, t, b);
    else if (is_one_of(t, mission))
        summary_mission(out, cap, t, b);
    else if (strcmp(t, "key.grant") == 0) {
        join_strings(list, sizeof list, json_object_get(b, "roles"), ",");
        snprintf(out, cap, "grant key %s to %s as %s (%s)", js(b, "key"), js(b, "holder"), list,
                 js(b, "scope"));
    } else if (strcmp(t, "key.revoke") == 0)
        snprintf(out, cap, "revoke key %s: %s", js(b, "key"), js(b, "reason"));
    else if (strcmp(t, "memo") == 0)
        snprintf(out, cap, "memo: %s", js(b, "text"));
    else if (strcmp(t, "policy.adopt") == 0)
        snprintf(out, cap, "adopt policy profile %s, effective %s",
                 js(json_object_get(b, "profile"), "id"), js(b, "effective"));
    else if (strcmp(t, "genesis") == 0)
        snprintf(out, cap, "genesis of %s", js(b, "origin"));
    else {
        char *body = json_dumps(b, JSON_COMPACT | JSON_SORT_KEYS);
        snprintf(out, cap, "%s %s", t, body ? body : "");
        free(body);
    }
}

/* ---- history ---------------------------------------------------------------------- */

/* "2024-03-05T09:07:17+08:00": recorded_at in China time, seconds. */
static void china_time(char out[TZ_TIME_RFC3339_MAX], uint64_t micros)
{
    tz_time_format_micros(out, micros + CHINA_OFFSET_US);
    memcpy(out + 19, "+08:00", 7);
}

/* A history row from an entry's JSON view and its signers (stolen);
 * target: the cosigned entry's view or NULL. NULL when out of memory. */
static json_t *history_row(const json_t *entry, const json_t *target, json_t *signers)
{
    const json_t *st = json_object_get(entry, "statement");
    json_t *us = json_object_get(entry, "recorded_at_us");
    if (!json_is_object(st) || !json_is_integer(us) || json_integer_value(us) < 0) {
        json_decref(signers);
        return NULL;
    }
    char when[TZ_TIME_RFC3339_MAX], summary[1024];
    china_time(when, (uint64_t)json_integer_value(us));
    tz_replay_summary(summary, sizeof summary, st,
                      target != NULL ? json_object_get(target, "statement") : NULL);
    json_t *row = json_pack("{s:O,s:s,s:O,s:O,s:O,s:O,s:s}", "seq", json_object_get(entry, "seq"),
                            "recorded_at", when, "recorded_at_us", us, "at",
                            json_object_get(st, "at"), "type", json_object_get(st, "type"), "id",
                            json_object_get(st, "id"), "summary", summary);
    if (row == NULL) {
        json_decref(signers);
        return NULL;
    }
    if (strcmp(js(st, "type"), "cosign") == 0)
        json_object_set(row, "cosigns", json_object_get(json_object_get(st, "body"), "seq"));
    json_object_set_new(row, "signers", signers);
    return row;
}

static json_t *signer_json(const tz_key_record *rec)
{
    char hex[65];
    tz_hex_encode(hex, rec->pk, 32);
    json_t *roles = json_array();
    for (size_t i = 0; roles != NULL && i < rec->nroles; i++)
        json_array_append_new(roles, json_string(rec->roles[i]));
    json_t *s = json_pack("{s:s,s:s,s:s,s:o,s:s}", "key", hex, "name", rec->name, "holder",
                          rec->holder, "roles", roles, "scope", rec->scope);
    if (s != NULL && rec->root)
        json_object_set_new(s, "root", json_true());
    if (s != NULL && rec->revoked)
        json_object_set_new(s, "revoked_seq", json_integer((json_int_t)rec->revoked_seq));
    return s;
}

typedef struct history_ctx {
    tz_store *store;
    tz_store_batch *batch; /* reads of key records */
    uint64_t size;
    json_t *rows;
    json_t *effects;       /* of the entry being built */
    int rc;
    tz_err *err;
} history_ctx;

/* The JSON view of entry seq (a new reference), or NULL with h->rc set. */
static json_t *entry_view(history_ctx *h, uint64_t seq)
{
    uint8_t key[8], *raw = NULL;
    size_t len = 0;
    tz_store_key_u64(key, seq);
    tz_err why;
    int rc = tz_store_get(h->store, TZ_CF_ENTRIES, key, 8, &raw, &len, &why);
    json_t *j = rc == TZ_OK ? tz_entry_json(seq, raw, len, &why) : NULL;
    tz_store_free(raw);
    if (j == NULL && (rc == TZ_OK || rc == TZ_ERR_NOTFOUND))
        h->rc = tz_err_set(h->err, TZ_ERR_TAMPER, "entry %llu, named by the subject index, is "
                           "missing or does not decode: %s (run `taizhang verify`)",
                           (unsigned long long)seq, why.msg);
    else if (j == NULL) {
        h->rc = rc;
        if (h->err != NULL)
            *h->err = why;
    }
    return j;
}

/* Who signed: the key record of each signature's key. */
static json_t *signers_of(history_ctx *h, const json_t *entry)
{
    json_t *out = json_array();
    size_t i;
    json_t *sig;
    json_array_foreach(json_object_get(entry, "signatures"), i, sig) {
        uint8_t pk[32];
        size_t n = 0;
        const char *hex = js(sig, "key");
        tz_key_record rec;
        tz_err why;
        int rc = tz_hex_decode(pk, sizeof pk, &n, hex, strlen(hex), NULL) == TZ_OK && n == 32
                     ? tz_apply_key_get(h->batch, pk, &rec, &why) : TZ_ERR_NOTFOUND;
        if (rc == TZ_OK)
            json_array_append_new(out, signer_json(&rec));
        else if (rc == TZ_ERR_NOTFOUND) /* a ledger that verifies has none */
            json_array_append_new(out, json_pack("{s:s,s:s}", "key", hex, "holder",
                                                 "(unknown key)"));
        else {
            h->rc = rc;
            if (h->err != NULL)
                *h->err = why;
            break;
        }
    }
    return out;
}

/* tz_view_change_fn: one projection document the entry wrote, with its
 * state after it. */
static int effect(void *ctx, uint64_t seq, const char *view, const char *subject,
                  size_t subject_len)
{
    history_ctx *h = ctx;
    json_t *ids = json_array(), *doc = NULL;
    for (size_t off = 0; off <= subject_len;) {
        size_t n = strnlen(subject + off, subject_len - off);
        json_array_append_new(ids, json_stringn(subject + off, n));
        off += n + 1;
    }
    json_t *e = json_pack("{s:s,s:o}", "view", view, "subject", ids);
    tz_err why;
    int rc = tz_view_get(h->store, view, subject, subject_len, seq, &doc, &why);
    if (rc == TZ_ERR_NOTFOUND)
        json_object_set_new(e, "removed", json_true());
    else if (rc != TZ_OK) {
        json_decref(e);
        h->rc = rc;
        if (h->err != NULL)
            *h->err = why;
        return 1;
    } else {
        if (json_is_string(json_object_get(doc, "status")))
            json_object_set(e, "status", json_object_get(doc, "status"));
        if (json_is_true(json_object_get(doc, "late"))) /* a sheet completed after its due date */
            json_object_set_new(e, "late", json_true());
    }
    json_decref(doc);
    json_array_append_new(h->effects, e);
    return 0;
}

/* tz_view_seq_fn: one row. */
static int history_entry(void *ctx, uint64_t seq)
{
    history_ctx *h = ctx;
    json_t *entry = entry_view(h, seq), *target = NULL;
    if (entry == NULL)
        return 1;
    const json_t *st = json_object_get(entry, "statement");
    json_t *tseq = json_object_get(json_object_get(st, "body"), "seq");
    if (strcmp(js(st, "type"), "cosign") == 0 && json_is_integer(tseq) &&
        json_integer_value(tseq) >= 0 && (uint64_t)json_integer_value(tseq) < h->size &&
        (target = entry_view(h, (uint64_t)json_integer_value(tseq))) == NULL) {
        json_decref(entry);
        return 1;
    }
    json_t *signers = signers_of(h, entry), *row = NULL;
    if (h->rc != TZ_OK)
        json_decref(signers);
    else if ((row = history_row(entry, target, signers)) == NULL)
        h->rc = tz_err_set(h->err, TZ_ERR_NOMEM, "history: out of memory");
    json_decref(entry);
    json_decref(target);
    if (h->rc != TZ_OK) {
        json_decref(row);
        return 1;
    }
    h->effects = json_array();
    tz_err why;
    int rc = seq == 0 ? TZ_OK : tz_view_changes(h->store, seq - 1, seq, effect, h, &why);
    json_object_set_new(row, "effects", h->effects);
    json_array_append_new(h->rows, row);
    if (rc != TZ_OK && h->rc == TZ_OK) {
        h->rc = rc;
        if (h->err != NULL)
            *h->err = why;
    }
    return h->rc != TZ_OK;
}

/* The registry record of kind/id: its name, or TZ_ERR_INPUT naming the
 * option when it was not registered by seq to (registries are not
 * versioned; registered_seq says when the id came to exist). */
static int registered_name(tz_store *store, const char *kind, const char *id, uint64_t to,
                           char *name, size_t cap, tz_err *err)
{
    char key[TZ_VIEW_KEY_MAX];
    size_t kl = strlen(kind), il = strlen(id);
    if (il == 0 || kl + 1 + il > sizeof key)
        return tz_err_set(err, TZ_ERR_INPUT, "--%s: an id of 1..%zu bytes", kind,
                          sizeof key - kl - 1);
    memcpy(key, kind, kl + 1);
    memcpy(key + kl + 1, id, il);
    uint8_t *val = NULL;
    size_t len = 0;
    int rc = tz_store_get(store, TZ_CF_INDEX, key, kl + 1 + il, &val, &len, err);
    if (rc == TZ_ERR_NOTFOUND)
        return tz_err_set(err, TZ_ERR_INPUT, "--%s %s: no %s \"%s\" is registered in this ledger "
                          "(%s)", kind, id, kind, id,
                          strcmp(kind, "person") == 0 ? "person.register" : "org.village");
    if (rc != TZ_OK)
        return rc;
    msgpack_zone zone;
    msgpack_object m;
    uint64_t since = 0;
    name[0] = '\0';
    if (!msgpack_zone_init(&zone, 2048)) {
        tz_store_free(val);
        return tz_err_set(err, TZ_ERR_NOMEM, "history: out of memory");
    }
    if (tz_codec_decode(&m, &zone, val, len, NULL) != TZ_OK ||
        member_u64(&m, "registered_seq", &since) != 0)
        rc = tz_err_set(err, TZ_ERR_TAMPER, "the registry record of %s \"%s\" is malformed (run "
                        "`taizhang verify`)", kind, id);
    else if (since > to)
        rc = tz_err_set(err, TZ_ERR_INPUT, "--%s %s: registered only at seq %llu, after --to %llu",
                        kind, id, (unsigned long long)since, (unsigned long long)to);
    else
        member_str(&m, "name", name, cap, NULL);
    msgpack_zone_destroy(&zone);
    tz_store_free(val);
    return rc;
}

int tz_replay_history(tz_store *store, uint64_t size, const char *kind, const char *id,
                      uint64_t from, uint64_t to, json_t **out, tz_err *err)
{
    *out = NULL;
    if (strcmp(kind, "person") != 0 && strcmp(kind, "village") != 0)
        return tz_err_set(err, TZ_ERR_USAGE, "history: of a person or a village, not \"%s\"", kind);
    char name[256];
    if (size > 0 && to > size - 1)
        to = size - 1;
    int rc = registered_name(store, kind, id, to, name, sizeof name, err);
    if (rc != TZ_OK)
        return rc;
    history_ctx h = {.store = store, .batch = tz_store_batch_new(store), .size = size,
                     .rows = json_array(), .err = err};
    if (h.batch == NULL || h.rows == NULL) {
        tz_store_batch_free(h.batch);
        json_decref(h.rows);
        return tz_err_set(err, TZ_ERR_NOMEM, "history: out of memory");
    }
    tz_err why;
    if (size > 0 && from <= to)
        rc = tz_view_subject_scan(store, kind, id, from, to, history_entry, &h, &why);
    if (h.rc != TZ_OK)
        rc = h.rc;
    else if (rc != TZ_OK && err != NULL)
        *err = why;
    tz_store_batch_free(h.batch);
    if (rc != TZ_OK) {
        json_decref(h.rows);
        return rc;
    }
    *out = json_pack("{s:s,s:s,s:s,s:I,s:I,s:o}", "kind", kind, "id", id, "name", name, "from",
                     (json_int_t)from, "to", (json_int_t)to, "rows", h.rows);
    return *out != NULL ? TZ_OK : tz_err_set(err, TZ_ERR_NOMEM, "history: out of memory");
}
