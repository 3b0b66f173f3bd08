/*
 * domain.h: the records of the mission and the rules that govern them.
 *
 * The decide step (ledger/apply.c) hands every statement whose type is not
 * a ledger-core type to tz_domain_apply, and every cosign of an earlier
 * entry to tz_domain_cosign. Both check the statement against the state
 * built so far and the policy profile in force on the statement's date,
 * and add the state changes to the caller's batch. Nothing else writes this
 * state, and the verifier replays it, so state that the rules would not
 * have produced is reported as tampering.
 *
 * Types (bodies, signers and every rejection: docs/EVENTS.md):
 *   registries   org.unit, org.village, person.register, registry.retire
 *   adoptions    policy.adopt, calendar.adopt
 *   the mission  dispatch, dispatch.end, attendance, spot_check,
 *                leave.request, leave.approve, leave.return,
 *                handover.start, handover.complete, recall, assessment
 *
 * State lives in the index column family as canonical maps, each with the
 * "seq" of the entry that last wrote it (see docs/EVENTS.md §state):
 *   "unit\0" id, "village\0" id, "person\0" id      registry records
 *   "rec\0" statement id                             dispatch, leave, handover,
 *                                                    attendance records
 *   "att\0" person "\0" YYYY-MM                      one sheet per cadre-month
 *   "spot\0" person "\0" date, "absent\0" person "\0" YYYY
 *   "grade\0" person "\0" YYYY                       one assessment a year
 *   "fs\0" county "\0" YYYY ["\0" person]            first secretaries of a year
 *   "policy", "calendar\0" YYYY                      adoptions
 *
 * Dates of acts are the local date written in the statement's `at`;
 * deadlines (a late attendance sheet) are judged by the entry's
 * recorded_at, the server's clock, in China time (UTC+8), so back-dating
 * `at` does not make a late sheet look punctual.
 */
#ifndef TZ_PROJECTIONS_DOMAIN_H
#define TZ_PROJECTIONS_DOMAIN_H

#include <stdint.h>

#include "ledger/apply.h"
#include "projections/profile.h"
#include "util/status.h"

/* A parsed profile kept between statements, keyed by the SHA-256 of the
 * adoption's statement bytes (so a rolled-back adoption can never be
 * served from it). Zero-initialise; optional (NULL: parse every time). */
typedef struct tz_profile_cache {
    int valid;
    uint8_t hash[32];
    tz_profile profile;
} tz_profile_cache;

/* 1 when type is a domain statement type (above). */
int tz_domain_knows(const char *type, size_t len);

/* Decides ctx->st (a domain type) and adds its writes to ctx->batch.
 * Errors as tz_apply_statement: TZ_ERR_INPUT (body), TZ_ERR_RULE (a rule,
 * with the profile's clause), TZ_ERR_FORBIDDEN (no signer holds the role in
 * scope), TZ_ERR_IO. On error the batch may hold partial writes: the caller
 * rolls back. */
int tz_domain_apply(tz_apply_ctx *ctx, tz_err *err) TZ_MUST_CHECK;

/* Called for a cosign (ctx->st) of entry target_seq whose statement is
 * target. When target is a domain record awaiting signatures (a dispatch's
 * approval chain, an attendance sheet's two secretaries, a handover's
 * parties) the cosigners must supply a missing one, and the record
 * completes when none is missing. A domain record that awaits nothing
 * takes no cosign (TZ_ERR_RULE). Other targets: TZ_OK, nothing written. */
int tz_domain_cosign(tz_apply_ctx *ctx, uint64_t target_seq, const tz_statement *target,
                     tz_err *err) TZ_MUST_CHECK;

/* The profile in force on day as the ledger stood at seq as_of (only
 * adoptions at or before as_of count), for queries. TZ_ERR_NOTFOUND when
 * none was in force. */
int tz_domain_profile_at(tz_store *store, uint64_t as_of, int64_t day, tz_profile *out,
                         tz_err *err) TZ_MUST_CHECK;

/* Checks a key.grant scope: "*" or KIND:ID with KIND one of province, city,
 * county, township, village, unit, person and ID a registry id. */
int tz_domain_check_scope(const char *scope, size_t len, tz_err *err) TZ_MUST_CHECK;

#endif
