/* RFC 4180 CSV for product-import: fields quoted or not, "" for a quote inside quotes, commas
 * and newlines inside quotes, CRLF or LF line ends, a UTF-8 BOM skipped, blank lines skipped.
 * Each record knows the line it starts on, so errors can be reported by line. */
#ifndef SVC_CSV_H
#define SVC_CSV_H

#include <stdbool.h>
#include <stddef.h>

#define SVC_CSV_MAX_FIELDS 64

typedef struct svc_csv_reader {
    const char *p, *end;
    size_t line; /* the line p is on, from 1 */
} svc_csv_reader;

/* One record: its fields (NUL-terminated copies, owned by the record) and its first line. */
typedef struct svc_csv_record {
    size_t line;
    char *fields[SVC_CSV_MAX_FIELDS];
    size_t n;
    const char *error; /* a syntax error of the record (a static string), or NULL */
} svc_csv_record;

/* Reads `len` bytes of `data` (not copied: it must outlive the reader), skipping a BOM. */
void svc_csv_init(svc_csv_reader *rd, const char *data, size_t len);
/* Reads the next record into `r`; false at the end of the input. A record with a syntax error
 * (an unterminated quoted field, a stray quote, a bare CR, more than 64 fields) has r->error
 * set and ends at the end of its line (an unterminated quote: at the end of the input). Free
 * the fields with svc_csv_record_free() either way. */
bool svc_csv_next(svc_csv_reader *rd, svc_csv_record *r);
void svc_csv_record_free(svc_csv_record *r);

/* Whether a NUL-terminated text is valid UTF-8 (no overlongs, surrogates or values above
 * U+10FFFF). */
bool svc_utf8_valid(const char *text);

#endif
