/* Structured logging: the callback through which the library logs, and a logger that writes
 * one line per entry as text or JSON, with secrets masked. */
#ifndef WEIR_LOG_H
#define WEIR_LOG_H

#include <stddef.h>
#include <stdint.h>

#include "weir/err.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum weir_log_level {
    WEIR_LOG_DEBUG = 0,
    WEIR_LOG_INFO = 1,
    WEIR_LOG_WARN = 2,
    WEIR_LOG_ERROR = 3,
} weir_log_level;

typedef enum weir_log_format {
    WEIR_LOG_TEXT = 0, /* 2026-01-02T03:04:05.678Z info name: msg key=value key="a b" */
    WEIR_LOG_JSON = 1, /* {"ts":"...","level":"info","binary":"name","msg":"...","key":...} */
} weir_log_format;

typedef enum weir_log_field_type {
    WEIR_LOG_FIELD_STR = 0,
    WEIR_LOG_FIELD_INT = 1,
    WEIR_LOG_FIELD_FLOAT = 2,
} weir_log_field_type;

/* One key/value field of an entry. Keys are short identifiers and should not be `ts`,
 * `level`, `binary` or `msg`; a NULL string value is written as an empty string. */
typedef struct weir_log_field {
    const char *key;
    weir_log_field_type type;
    const char *str;
    int64_t i;
    double f;
} weir_log_field;

#define WEIR_LOG_STR(k, v)   ((weir_log_field){.key = (k), .type = WEIR_LOG_FIELD_STR, .str = (v)})
#define WEIR_LOG_INT(k, v)   ((weir_log_field){.key = (k), .type = WEIR_LOG_FIELD_INT, .i = (v)})
#define WEIR_LOG_FLOAT(k, v) ((weir_log_field){.key = (k), .type = WEIR_LOG_FIELD_FLOAT, .f = (v)})

/*
 * The callback through which the library logs (it never writes to a stream itself). `msg`
 * and `fields` are valid only during the call. Components that log say on which thread they
 * call it; a callback shared by several components must be thread-safe. weir_logger_fn()
 * with a weir_logger as `arg` is one.
 */
typedef void (*weir_log_fn)(void *arg, weir_log_level level, const char *msg,
                            const weir_log_field *fields, size_t n_fields);

/*
 * A logger writes each entry at or above its level as one line, with a single write(2) to
 * `fd` (not owned, not closed), so lines of several threads do not interleave. Every string
 * field value and the message pass through weir_log_mask_secrets() and the logger's own
 * secrets (weir_logger_add_secret()) before they are written. JSON lines are valid UTF-8
 * (invalid bytes become U+FFFD); `ts` is UTC with milliseconds.
 *
 * Thread-safety: weir_logger_log(), weir_logger_fn() and weir_logger_set_level() may be called
 * from any thread at once; weir_logger_add_secret() only before the logger is shared.
 * A failed write is ignored: logging never fails the caller.
 */
typedef struct weir_logger weir_logger;

/* Creates a logger for the binary `name` (copied). Returns WEIR_ERR_INVALID_ARG (NULL name,
 * negative fd, unknown format or level) or WEIR_ERR_NOMEM. Free with weir_logger_destroy(). */
weir_err weir_logger_new(const char *name, weir_log_format format, weir_log_level level, int fd,
                         weir_logger **out);

/* Frees the logger. Accepts NULL. */
void weir_logger_destroy(weir_logger *lg);

/* Changes the lowest level written. */
void weir_logger_set_level(weir_logger *lg, weir_log_level level);

/* 1 when an entry at `level` would be written. */
int weir_logger_enabled(const weir_logger *lg, weir_log_level level);

/* Masks every occurrence of `secret` (copied; e.g. the AWS secret key or a database password
 * read from the environment) in what the logger writes. Empty secrets are ignored. Returns
 * WEIR_ERR_NOMEM. Not thread-safe: call before the logger is shared. */
weir_err weir_logger_add_secret(weir_logger *lg, const char *secret);

/* Writes one entry. */
void weir_logger_log(weir_logger *lg, weir_log_level level, const char *msg,
                     const weir_log_field *fields, size_t n_fields);

/* weir_logger_log() in the shape of weir_log_fn: pass it with the logger as `arg` to the
 * library. */
void weir_logger_fn(void *logger, weir_log_level level, const char *msg,
                    const weir_log_field *fields, size_t n_fields);

/* Parses "debug", "info", "warn" (or "warning"), "error". Returns WEIR_ERR_INVALID_ARG. */
weir_err weir_log_level_parse(const char *s, weir_log_level *out);
/* Parses "text" or "json". Returns WEIR_ERR_INVALID_ARG. */
weir_err weir_log_format_parse(const char *s, weir_log_format *out);
/* "debug", "info", "warn", "error"; "unknown" otherwise. Static. */
const char *weir_log_level_str(weir_log_level level);

/*
 * Writes `value` into `out` (at most out_size bytes with the NUL, cut like snprintf) with
 * secrets replaced by "***", and returns the length the whole masked value needs. When the
 * field `key` (may be NULL) names a secret (it contains password, passwd, secret, token,
 * credential, authorization, api_key or apikey, in any case) the whole value is masked.
 * Otherwise it masks: AWS access key ids (AKIA/ASIA and 16 more characters); values after
 * secret-named keys in `key=value`, `key: value` and `"key":"value"` forms (password, pwd,
 * secret, SecretAccessKey, aws_secret_access_key, token, X-Amz-Security-Token, ...); a URL's
 * password (scheme://user:***@host); SigV4 `Signature=`; 40-character AWS-secret-shaped
 * words (base64 characters with upper and lower case letters and a digit). Thread-safe.
 */
size_t weir_log_mask_secrets(const char *key, const char *value, char *out, size_t out_size);

#ifdef __cplusplus
}
#endif
#endif
