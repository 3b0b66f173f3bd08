/*
 * fuzz_bundle.c: offline export bundles (ledger/bundle.h), which a
 * verifier receives from anyone: tz_bundle_decode, then tz_bundle_verify
 * from a buffer and tz_bundle_verify_fd from a file, trusting the log key
 * of the demo ledger the seed bundles come from.
 *
 * Properties: a refusal carries an allowed code and a message, and
 * rep->ok is 1 exactly on TZ_OK; what decodes has records with seqs
 * strictly increasing from 0 and below the checkpoint's size, each entry
 * inside the input and decoding with its own seq, and a checkpoint note
 * inside the input that parses to the decoded body; a bundle that does not
 * decode never verifies; one that verifies reports the decoded records;
 * the streaming verifier (fd) reaches the same verdict as the buffer one,
 * with the same status unless the buffer one saw a truncation first.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "crypto/note.h"
#include "fuzz/fuzz.h"
#include "ledger/bundle.h"
#include "ledger/entry.h"

/* `taizhang demo` (any --months/--villages) signs with this log key. */
static const char demo_log_key[] = "shiquan-ledger-log+9837a697+AZMRZ92LS0hd0ymO96kVIBdNIe6JUobONqa5bL8+WHVg";

static const tz_public_key *log_key(void)
{
    static tz_public_key key;
    static int ready;
    if (!ready) {
        tz_err err;
        if (tz_key_parse_public(&key, demo_log_key, strlen(demo_log_key), &err) != TZ_OK)
            tz_fuzz_fail(__FILE__, __LINE__, "demo log key parses", "%s", err.msg);
        ready = 1;
    }
    return &key;
}

static void check_decoded(const tz_bundle *b, const uint8_t *data, size_t size)
{
    TZ_FUZZ_CHECK(b->nrecords >= 1 && b->nrecords <= TZ_BUNDLE_MAX_RECORDS);
    TZ_FUZZ_CHECK(b->nproof <= TZ_BUNDLE_MAX_PROOF);
    TZ_FUZZ_CHECK((const uint8_t *)b->checkpoint >= data &&
                  (const uint8_t *)b->checkpoint + b->checkpoint_len <= data + size);
    tz_note *note = malloc(sizeof *note);
    TZ_FUZZ_CHECK(note != NULL);
    TZ_FUZZ_CHECK(tz_note_parse(note, b->checkpoint, b->checkpoint_len, NULL) == TZ_OK);
    tz_checkpoint cp;
    TZ_FUZZ_CHECK(tz_checkpoint_parse(&cp, note->text, note->text_len, NULL) == TZ_OK);
    TZ_FUZZ_CHECK(memcmp(&cp, &b->cp, sizeof cp) == 0);
    free(note);
    for (size_t i = 0; i < b->nrecords; i++) {
        const tz_bundle_record *r = &b->records[i];
        TZ_FUZZ_CHECK(i == 0 ? r->seq == 0 : r->seq > b->records[i - 1].seq);
        TZ_FUZZ_CHECK_MSG(r->seq < b->cp.size, "record seq %llu, checkpoint size %llu",
                          (unsigned long long)r->seq, (unsigned long long)b->cp.size);
        TZ_FUZZ_CHECK(r->entry >= data && r->entry + r->entry_len <= data + size);
        tz_entry e;
        TZ_FUZZ_CHECK(tz_entry_decode(&e, r->entry, r->entry_len, NULL) == TZ_OK);
        TZ_FUZZ_CHECK(e.seq == r->seq);
    }
}

/* The verdict of tz_bundle_verify_fd on data, through a temporary file. */
static int verify_fd(const uint8_t *data, size_t size, tz_bundle_report *rep)
{
    FILE *f = tmpfile();
    TZ_FUZZ_CHECK(f != NULL);
    TZ_FUZZ_CHECK(size == 0 || fwrite(data, 1, size, f) == size);
    TZ_FUZZ_CHECK(fflush(f) == 0 && fseek(f, 0, SEEK_SET) == 0);
    tz_bundle_verify_options opt;
    memset(&opt, 0, sizeof opt);
    opt.log_key = log_key();
    tz_err err;
    int rc = tz_bundle_verify_fd(fileno(f), &opt, rep, &err);
    fclose(f);
    return rc;
}

TZ_FUZZ_ENTRY(bundle)
{
    tz_err err;
    tz_bundle b;
    memset(&b, 0, sizeof b);
    int rc = tz_bundle_decode(&b, data, size, &err);
    int decoded = rc == TZ_OK;
    if (decoded)
        check_decoded(&b, data, size);
    else
        TZ_FUZZ_CHECK_ERROR(rc, &err, TZ_ERR_INPUT, TZ_ERR_NOMEM);

    tz_bundle_report *rep = malloc(sizeof *rep), *rep_fd = malloc(sizeof *rep_fd);
    TZ_FUZZ_CHECK(rep != NULL && rep_fd != NULL);
    rc = tz_bundle_verify(data, size, log_key(), rep, &err);
    TZ_FUZZ_CHECK(rep->ok == (rc == TZ_OK));
    TZ_FUZZ_CHECK(memchr(rep->reason, '\0', sizeof rep->reason) != NULL);
    TZ_FUZZ_CHECK(rep->ntypes <= TZ_BUNDLE_MAX_TYPES);
    if (rc == TZ_OK) {
        TZ_FUZZ_CHECK_MSG(decoded, "a bundle that does not decode verifies");
        TZ_FUZZ_CHECK(rep->records == b.nrecords);
        TZ_FUZZ_CHECK(rep->first_seq == b.records[0].seq && rep->last_seq == b.records[b.nrecords - 1].seq);
        TZ_FUZZ_CHECK(rep->tree_size == b.cp.size && memcmp(rep->root, b.cp.root, 32) == 0);
    } else {
        TZ_FUZZ_CHECK_ERROR(rc, &err, TZ_ERR_INPUT, TZ_ERR_PROOF, TZ_ERR_SIGNATURE, TZ_ERR_FORBIDDEN,
                            TZ_ERR_RULE, TZ_ERR_TAMPER, TZ_ERR_NOMEM);
        /* (A bundle that does not decode may fail first on something else:
         * verification streams, and stops at the first failure.) */
    }
    /* The same verdict when streaming. The first failure may differ in one
     * way only: the buffer reader knows the total length, so it can see a
     * declared length run past the end (TZ_ERR_INPUT) before the streaming
     * reader, which does not, reaches an earlier record's failure. */
    int rc_fd = verify_fd(data, size, rep_fd);
    TZ_FUZZ_CHECK_MSG(rc_fd == rc || (rc == TZ_ERR_INPUT && rc_fd != TZ_OK),
                      "verify from a buffer %d (%s), from a file %d (%s)", rc, rep->reason, rc_fd,
                      rep_fd->reason);
    TZ_FUZZ_CHECK(rep_fd->ok == rep->ok);
    free(rep);
    free(rep_fd);
    tz_bundle_free(&b);
    return 0;
}
