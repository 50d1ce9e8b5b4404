/* One-pass extraction of typed fields and the event time from JSON records. */
#ifndef WEIR_FIELDS_H
#define WEIR_FIELDS_H

#include <stddef.h>
#include <stdint.h>

#include "weir/err.h"
#include "weir/event.h"
#include "weir/value.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * A field extractor: the timestamp field and a list of fields (dotted paths into nested
 * objects, "metadata.session_id"), each added once, are read from a JSON record in one
 * validating pass (the same scanner as weir_decoder) into a weir_value per field, typed as
 * weir/value.h says: a string (unescaped), an integer literal that fits in 64 bits, any other
 * number within the double range as a double, null, missing, or other.
 *
 * Path parts are compared with the record's member names as written (escapes in member names
 * are not decoded); when a member occurs twice the last one wins, for nested paths too.
 *
 * Thread-safety: one extractor per thread. Ownership: the extractor copies every string
 * given to it; the caller frees it with weir_fields_destroy().
 */
typedef struct weir_fields weir_fields;

/* The most parts of one path, and the most fields of one extractor. */
#define WEIR_FIELDS_MAX_DEPTH 8
#define WEIR_FIELDS_MAX       4096

/*
 * Creates an extractor that reads the event time from `ts_field` (a path; ISO-8601 text or
 * an integer of seconds or milliseconds as `unit` says, SEMANTICS.md "Event time") and
 * refuses records longer than `max_record` bytes. Returns WEIR_OK, WEIR_ERR_INVALID_ARG with
 * a one-line reason in errstr (a bad path), or WEIR_ERR_NOMEM.
 */
weir_err weir_fields_new(const char *ts_field, weir_ts_unit unit, size_t max_record,
                         weir_fields **out, char *errstr, size_t errstr_size);

/* Frees the extractor and its scratch space. Accepts NULL. */
void weir_fields_destroy(weir_fields *f);

/*
 * Adds the field `path` and returns its index in the values that weir_fields_decode()
 * writes (>= 0); a path added before returns its earlier index. Returns -1 with a one-line
 * reason in errstr for a path with an empty part, more than WEIR_FIELDS_MAX_DEPTH parts or
 * beyond WEIR_FIELDS_MAX fields, and -2 when out of memory (the extractor can then only be
 * destroyed). The timestamp field may be added as a field too.
 */
int weir_fields_add(weir_fields *f, const char *path, char *errstr, size_t errstr_size);

/* The number of fields added: the length of the values array weir_fields_decode() fills. */
size_t weir_fields_count(const weir_fields *f);

/* The path of field `i` as it was added (owned by the extractor). */
const char *weir_fields_path(const weir_fields *f, size_t i);

/*
 * Decodes the record `rec` of `len` bytes (no trailing newline): on WEIR_REC_OK, *ts is its
 * event time and values[i] (room for weir_fields_count() values) the value of field i.
 * Otherwise returns why the record is invalid: WEIR_REC_TOO_LARGE, WEIR_REC_BAD_ENCODING,
 * WEIR_REC_NOT_JSON, WEIR_REC_NOT_OBJECT or WEIR_REC_BAD_TIMESTAMP (a string field whose
 * escapes spell a lone surrogate or U+0000 is WEIR_REC_BAD_ENCODING), and values are
 * unspecified. Never fails otherwise; out of memory for unescaping reads as BAD_ENCODING.
 * String values point into `rec` or into the extractor's scratch space, valid until
 * weir_fields_reset() or weir_fields_destroy() while `rec` stays valid.
 */
weir_rec_status weir_fields_decode(weir_fields *f, const char *rec, size_t len, int64_t *ts,
                                   weir_value *values);

/* Releases the scratch space of earlier decoded records (call it once a batch is done). */
void weir_fields_reset(weir_fields *f);

/*
 * Reads the JSON number text `s` of `n` bytes (already validated as a JSON number) as
 * weir/value.h types it: WEIR_VALUE_INT, WEIR_VALUE_DOUBLE, or WEIR_VALUE_OTHER beyond the
 * double range. Thread-safe.
 */
void weir_value_from_number(const char *s, size_t n, weir_value *out);

#ifdef __cplusplus
}
#endif
#endif
