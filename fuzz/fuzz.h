/*
 * fuzz.h: what the libFuzzer harnesses (fuzz/fuzz_*.c) share.
 *
 * Each harness file holds one entry point, written TZ_FUZZ_ENTRY(name), for
 * one decoder that sees outside input. Built for fuzzing (CMake option
 * TZ_FUZZ, clang, scripts/fuzz) the entry point is LLVMFuzzerTestOneInput;
 * built with TZ_FUZZ_REPLAY (the normal build's tests/check_fuzz_regressions.c)
 * the same body is tz_fuzz_<name>(), so every regression input replays
 * through exactly the code that found it, with gcc, plain and under ASan.
 *
 * A harness does more than wait for a crash: it asserts the properties the
 * decoder's contract promises (a value that decodes re-encodes to the same
 * bytes, a checker agrees with a naive model, an error carries its code and
 * a message) and aborts through tz_fuzz_fail() when one is broken, which
 * libFuzzer reports as a crash with the input that caused it.
 *
 * Harnesses keep no state between inputs except keys derived once from fixed
 * seeds (tz_fuzz_key), so an input reproduces on its own.
 */
#ifndef TZ_FUZZ_FUZZ_H
#define TZ_FUZZ_FUZZ_H

#include <msgpack.h>
#include <stddef.h>
#include <stdint.h>

#include "crypto/key.h"
#include "ledger/entry.h"
#include "util/status.h"

/* Every harness, by name: fuzz/fuzz_<name>.c, fuzz/corpus/<name>/,
 * tests/fuzz-regressions/<name>/. */
#define TZ_FUZZ_HARNESSES(X) \
    X(codec)                 \
    X(codec_json)            \
    X(statement_json)        \
    X(statement_msgpack)     \
    X(entry)                 \
    X(checkpoint)            \
    X(merkle)                \
    X(profile)               \
    X(calendar)              \
    X(submission)            \
    X(submission_signed)     \
    X(encoding)              \
    X(time)                  \
    X(bundle)                \
    X(witness)               \
    X(http)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define TZ_FUZZ_DECLARE(name) int tz_fuzz_##name(const uint8_t *data, size_t size);
TZ_FUZZ_HARNESSES(TZ_FUZZ_DECLARE)
#undef TZ_FUZZ_DECLARE

#ifdef TZ_FUZZ_REPLAY
#define TZ_FUZZ_ENTRY(name) int tz_fuzz_##name(const uint8_t *data, size_t size)
#else
#define TZ_FUZZ_ENTRY(name) int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
#endif

/* Prints "fuzz: file:line: property broken: <what>" and the formatted
 * detail (when fmt is not NULL) to stderr, then aborts. Never returns. */
void tz_fuzz_fail(const char *file, int line, const char *what, const char *fmt, ...)
    __attribute__((noreturn, format(printf, 4, 5)));

/* Aborts unless cond holds. TZ_FUZZ_CHECK_MSG adds a printf-style detail. */
#define TZ_FUZZ_CHECK(cond) \
    ((cond) ? (void)0 : tz_fuzz_fail(__FILE__, __LINE__, #cond, NULL))
#define TZ_FUZZ_CHECK_MSG(cond, ...) \
    ((cond) ? (void)0 : tz_fuzz_fail(__FILE__, __LINE__, #cond, __VA_ARGS__))

/* Checks a failure's report: rc is one of the codes in allowed[0..n) and
 * err holds the same code and a non-empty NUL-terminated message. */
void tz_fuzz_check_error(const char *file, int line, int rc, const tz_err *err,
                         const int *allowed, size_t n);
#define TZ_FUZZ_CHECK_ERROR(rc, err, ...)                                             \
    do {                                                                              \
        static const int tz_fuzz_allowed_[] = {__VA_ARGS__};                          \
        tz_fuzz_check_error(__FILE__, __LINE__, (rc), (err), tz_fuzz_allowed_,        \
                            sizeof tz_fuzz_allowed_ / sizeof tz_fuzz_allowed_[0]);    \
    } while (0)

/* The i-th fixed test key (i < 4), named "fuzz-key-<i>", derived once from
 * a fixed seed; the same in every run. */
const tz_secret_key *tz_fuzz_key(unsigned i);

/* Reads fuzz bytes front to back; past the end every read gives zeros. */
typedef struct tz_fuzz_reader {
    const uint8_t *data;
    size_t size;
    size_t pos;
} tz_fuzz_reader;

void tz_fuzz_reader_init(tz_fuzz_reader *r, const uint8_t *data, size_t size);
uint8_t tz_fuzz_u8(tz_fuzz_reader *r);
uint64_t tz_fuzz_u64(tz_fuzz_reader *r);
/* Copies n bytes (zero-filled past the end) into out. */
void tz_fuzz_bytes(tz_fuzz_reader *r, uint8_t *out, size_t n);
/* The bytes not read yet, and how many. */
const uint8_t *tz_fuzz_rest(const tz_fuzz_reader *r, size_t *n);

/* A naive UTF-8 validator written from Unicode Table 3-7 (well-formed
 * byte sequences), independent of util/encoding.c: the length of the
 * well-formed sequence at the start of s[0..len), or 0 when there is none.
 * Harnesses compare the library against it. */
size_t tz_fuzz_utf8_len(const uint8_t *s, size_t len);

/* 1 when s[0..len) is entirely well-formed UTF-8 (by tz_fuzz_utf8_len). */
int tz_fuzz_utf8_valid(const uint8_t *s, size_t len);

/* A naive model of docs/CODEC.md, independent of ledger/codec.c: 1 when
 * data[0..len) is exactly one value of canonical msgpack, else 0. It reads
 * each value with a plain table of msgpack's formats, re-encodes the value's
 * header (integers, lengths, counts) with msgpack-c's packer, which always
 * picks the shortest form, and compares the bytes; map keys must be str in
 * strictly increasing bytewise order; str must pass tz_fuzz_utf8_valid;
 * nesting at most 32. Recursive (at most 33 frames); allocates nothing. */
int tz_fuzz_msgpack_canonical(const uint8_t *data, size_t len);

/* A JSON document adopted on the chain (a policy profile, a working-day
 * calendar) as it reaches its parser: JSON text with duplicate members
 * refused, put in canonical msgpack exactly as a statement body embeds it
 * (tz_codec_from_json, prefix names it in messages), then decoded. */
typedef struct tz_fuzz_doc {
    msgpack_sbuffer bytes;
    msgpack_zone zone;
    msgpack_object obj;
} tz_fuzz_doc;

/* 1 with *doc filled when data[0..size) is JSON that encodes canonically;
 * 0 otherwise (nothing to free). Release a filled doc with
 * tz_fuzz_doc_destroy. */
int tz_fuzz_doc_load(tz_fuzz_doc *doc, const uint8_t *data, size_t size, const char *prefix);
void tz_fuzz_doc_destroy(tz_fuzz_doc *doc);


/* Appends to out the msgpack body of POST /v1/statements (docs/API.md): a
 * map of "signatures" (nsigs maps of key and sig) and "statement" (the
 * canonical statement bytes stmt[0..len)), as a client sends it. */
void tz_fuzz_msgpack_submission(msgpack_sbuffer *out, const uint8_t *stmt, size_t len,
                                const tz_signature *sigs, size_t nsigs);

#endif
