/*
 * rebuild.h: derived state rebuilt from the entries alone.
 *
 * The index (keys, ids, the state of the domain records) and the
 * projections are folds of the log. This module replays a prefix of the
 * log through the same decide step as append into a scratch store, for:
 *   - `taizhang reproject`: replacing a ledger's derived column families by
 *     the replay (after a code change that adds a view, or a repair);
 *   - answers "as the ledger stood at seq S" from a fresh replay, which the
 *     tests compare with the versioned projections, and the dispute-review
 *     replay tool.
 * Signatures are not checked again here (append checked them; `verify`
 * is the tool that trusts nothing): the replay is the decide step only.
 */
#ifndef TZ_LEDGER_REBUILD_H
#define TZ_LEDGER_REBUILD_H

#include <stdint.h>

#include "ledger/store.h"
#include "util/status.h"

/* Replays entries [0, until) of src (until UINT64_MAX: all) into a new
 * scratch store created at dir (which must not exist). On TZ_OK *out is
 * open (the caller closes it; the directory stays). *replayed gets the
 * count. A statement the decide step refuses stops the replay with
 * TZ_ERR_TAMPER naming its seq (run verify). */
int tz_rebuild_replay(tz_store *src, uint64_t until, const char *dir, tz_store **out,
                      uint64_t *replayed, tz_err *err) TZ_MUST_CHECK;

/* Rebuilds the derived column families (index, projections) of the ledger
 * in ledger_dir from its entries. The ledger must not be open elsewhere (it
 * takes the writer's lock). The old records are replaced in batches; a meta
 * record "reproject" marks the work until the last batch removes it, so an
 * interrupted run is visible (verify reports it) and is simply run again.
 * *records gets the number of derived records written. */
int tz_rebuild_reproject(const char *ledger_dir, uint64_t *records, tz_err *err) TZ_MUST_CHECK;

#endif
