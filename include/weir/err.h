/* Error codes shared by every weir function, and their one-line descriptions. */
#ifndef WEIR_ERR_H
#define WEIR_ERR_H

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Every fallible weir function returns a weir_err: WEIR_OK (0) on success, a
 * negative code otherwise. Where the caller can act on details, the function
 * also fills a caller-supplied `char *errstr, size_t errstr_size` with one
 * human-readable line (never containing secrets).
 */
typedef enum weir_err {
    WEIR_OK = 0,
    WEIR_ERR_INVALID_ARG = -1, /* a bad argument, key or value: fix the call */
    WEIR_ERR_NOMEM = -2,       /* allocation failed */
    WEIR_ERR_IO = -3,          /* a read or write of a file or socket failed */
    WEIR_ERR_PARSE = -4,       /* input bytes are malformed */
    WEIR_ERR_CORRUPT = -5,     /* a snapshot or serialized structure fails validation */
    WEIR_ERR_UNSUPPORTED = -6, /* valid but not supported (a format version, a mode) */
    WEIR_ERR_STATE = -7,       /* the object is in a state that does not allow the call */
    WEIR_ERR_RETRIABLE = -8,   /* a transient failure of a peer: retrying can help */
    WEIR_ERR_FATAL = -9,       /* a peer refused for good: retrying cannot help */
    WEIR_ERR_NOT_FOUND = -10,  /* a named thing (table, topic, file, key) does not exist */
    WEIR_ERR_AUTH = -11,       /* credentials are missing or refused */
    WEIR_ERR_TIMEOUT = -12,    /* a peer did not answer in time: retrying can help */
} weir_err;

/*
 * Returns a static, constant description of `err` ("success", "out of memory", ...).
 * Never NULL; unknown codes give "unknown error". Thread-safe.
 */
const char *weir_err_str(weir_err err);

/*
 * Returns 1 when retrying the failed operation can succeed (RETRIABLE, TIMEOUT,
 * and IO for network connectors), 0 otherwise. Thread-safe.
 */
int weir_err_is_retriable(weir_err err);

#ifdef __cplusplus
}
#endif
#endif
