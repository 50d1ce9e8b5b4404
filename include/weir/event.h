/* Events and their zero-copy decoding from JSON records. */
#ifndef WEIR_EVENT_H
#define WEIR_EVENT_H

#include <stddef.h>
#include <stdint.h>

#include "weir/conf.h"
#include "weir/err.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A view of bytes owned by someone else; not NUL-terminated. */
typedef struct weir_slice {
    const char *ptr;
    size_t len;
} weir_slice;

/*
 * One decoded record. The slices point into the input buffer or into the
 * decoder's scratch space (for strings with escapes); see weir_decoder_decode().
 * The hashes are computed once at decoding: key_hash = XXH3-64 of the key
 * bytes, user_fp = XXH3-128 of the distinct value's bytes (low, high).
 */
typedef struct weir_event {
    int64_t ts;          /* event time, milliseconds since the epoch, UTC */
    uint64_t key_hash;   /* 0 and an empty key in a global aggregation */
    uint64_t user_fp[2]; /* fingerprint of the distinct value */
    weir_slice key;      /* the grouping key as text (integers as decimal text) */
    weir_slice user;     /* the distinct value as text */
    weir_slice raw;      /* the whole record as it was read */
    int32_t partition;   /* source partition, 0 for a file */
} weir_event;

/* Why a record was invalid. WEIR_REC_OK means it decoded. */
typedef enum weir_rec_status {
    WEIR_REC_OK = 0,
    WEIR_REC_NOT_JSON,      /* not well-formed JSON, or truncated */
    WEIR_REC_NOT_OBJECT,    /* JSON, but not an object */
    WEIR_REC_NO_KEY,        /* the key field is missing, null, or not a string or integer */
    WEIR_REC_NO_USER,       /* the distinct field is missing, null, or not a string or integer */
    WEIR_REC_BAD_TIMESTAMP, /* the timestamp is missing or cannot be parsed */
    WEIR_REC_TOO_LARGE,     /* longer than input.max.record.bytes, or too deeply nested */
    WEIR_REC_BAD_ENCODING,  /* invalid UTF-8 or a NUL byte */
    WEIR_REC_STATUS_COUNT
} weir_rec_status;

/* A short constant name of a status ("not_json", "no_key", ...), for counters and logs. */
const char *weir_rec_status_name(weir_rec_status status);

/* Timestamp encodings accepted for integers (strings are always ISO-8601). */
typedef enum weir_ts_unit { WEIR_TS_AUTO = 0, WEIR_TS_SECONDS, WEIR_TS_MILLIS } weir_ts_unit;

/*
 * Decodes JSON records into weir_events. Reads the keys key.field, global,
 * user.field, timestamp.field, timestamp.unit and input.max.record.bytes.
 * Field names may be dotted paths into nested objects ("metadata.session_id").
 *
 * Thread-safety: one decoder per thread.
 */
typedef struct weir_decoder weir_decoder;

/* Creates a decoder from `conf` (not retained). Returns NULL and fills errstr on a bad
 * configuration, NULL without touching errstr when out of memory. The caller frees it
 * with weir_decoder_destroy(). */
weir_decoder *weir_decoder_new(const weir_conf *conf, char *errstr, size_t errstr_size);

/* Frees the decoder and its scratch space. Accepts NULL. */
void weir_decoder_destroy(weir_decoder *dec);

/*
 * Decodes the record `rec` of `len` bytes (no trailing newline) into `out`.
 * Returns WEIR_REC_OK or the reason the record is invalid; never fails otherwise.
 * On success the slices of `out` point into `rec` or into the decoder's scratch,
 * and stay valid until weir_decoder_reset() or weir_decoder_destroy(), as long
 * as `rec` itself stays valid. out->partition is left as the caller set it.
 */
weir_rec_status weir_decoder_decode(weir_decoder *dec, const char *rec, size_t len,
                                    weir_event *out);

/* Releases the scratch space used by the slices of earlier decoded events
 * (call it once a batch has been processed). */
void weir_decoder_reset(weir_decoder *dec);

/*
 * Parses an ISO-8601 date-time ("2024-01-01T12:00:00Z", fractional seconds,
 * "+hh:mm"/"+hhmm"/"Z" offsets; no offset means UTC) into epoch milliseconds.
 * The year is four digits, or ISO 8601's expanded representation: a sign and 4 to 9
 * digits ("-0001-12-31T23:59:59.999Z" is in 2 BC, "+10000-01-01T00:00:00.000Z").
 * Returns 0 on success, -1 on malformed text or a time outside int64 milliseconds.
 * Reads back every text weir_format_iso8601 writes. Thread-safe.
 */
int weir_parse_iso8601(const char *s, size_t len, int64_t *out_ms);

/*
 * Writes `ms` as "YYYY-MM-DDTHH:MM:SS.mmmZ" into `buf` (at least 32 bytes) and
 * returns the number of characters written: 24 for years 0000..9999; outside them the
 * year takes ISO 8601's expanded form, a sign and at least four digits
 * ("-0001-12-31T23:59:59.999Z", "+292278994-08-17T07:12:55.807Z"). The proleptic
 * Gregorian calendar with a year 0. weir_parse_iso8601 reads the text back to `ms`.
 * Thread-safe.
 */
size_t weir_format_iso8601(int64_t ms, char *buf);

#ifdef __cplusplus
}
#endif
#endif
