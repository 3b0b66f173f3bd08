/*
 * fuzz_submission.c: POST bodies of taizhangd (/v1/statements, /v1/cosign)
 * through tzd_api_parse_submission, the daemon's whole parsing step before
 * a statement is queued for the writer. Every input is posted both ways:
 * as JSON and as msgpack (the daemon picks by Content-Type, so any bytes
 * can arrive as either), with require_type NULL or "cosign" by the input's
 * length.
 *
 * Properties: a refusal is TZ_ERR_INPUT, TZ_ERR_SIGNATURE or TZ_ERR_NOMEM
 * with a message; an accepted submission holds a statement that
 * tz_statement_decode accepts, of the required type, and 1..16 signatures
 * that all verify over it. The signing path is covered by
 * fuzz_submission_signed.c.
 */
#include <msgpack.h>
#include <string.h>

#include "daemon/api.h"
#include "fuzz/fuzz.h"
#include "ledger/entry.h"
#include "ledger/statement.h"

static void post(const uint8_t *data, size_t size, int is_msgpack, const char *require_type)
{
    tzd_submission s;
    tzd_submission_init(&s);
    tz_err err;
    int rc = tzd_api_parse_submission(&s, data, size, is_msgpack, require_type, &err);
    if (rc != TZ_OK) {
        TZ_FUZZ_CHECK_ERROR(rc, &err, TZ_ERR_INPUT, TZ_ERR_SIGNATURE, TZ_ERR_NOMEM);
        tzd_submission_destroy(&s);
        return;
    }
    TZ_FUZZ_CHECK(s.nsigs >= 1 && s.nsigs <= TZ_ENTRY_MAX_SIGS);
    msgpack_zone zone;
    TZ_FUZZ_CHECK(msgpack_zone_init(&zone, 2048));
    tz_statement st;
    rc = tz_statement_decode(&st, &zone, (const uint8_t *)s.statement.data, s.statement.size, &err);
    TZ_FUZZ_CHECK_MSG(rc == TZ_OK, "an accepted submission's statement: %s", err.msg);
    if (require_type != NULL)
        TZ_FUZZ_CHECK(tz_statement_is(&st, require_type));
    tz_entry e;
    memset(&e, 0, sizeof e);
    e.statement = (const uint8_t *)s.statement.data;
    e.statement_len = s.statement.size;
    e.nsigs = s.nsigs;
    memcpy(e.sigs, s.sigs, s.nsigs * sizeof s.sigs[0]);
    TZ_FUZZ_CHECK(tz_entry_verify_signatures(&e, NULL) == TZ_OK);
    msgpack_zone_destroy(&zone);
    tzd_submission_destroy(&s);
}

TZ_FUZZ_ENTRY(submission)
{
    const char *require_type = (size & 1) ? "cosign" : NULL;
    post(data, size, 0, require_type);
    post(data, size, 1, require_type);
    return 0;
}
