/* AWS credentials from the environment, the signing region, and Signature Version 4 signing. */
#ifndef WEIR_AWS_H
#define WEIR_AWS_H

#include <stddef.h>
#include <stdint.h>

#include "weir/conf.h"
#include "weir/err.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * AWS credentials: an access key id, a secret access key and an optional session
 * token. None of the three appears in any message weir writes, even when a service
 * echoes them (or a request's Authorization header) in its answer; the object wipes
 * them when destroyed.
 *
 * Thread-safety: immutable once created; may be read from several threads.
 */
typedef struct weir_aws_creds weir_aws_creds;

/*
 * Creates credentials from explicit values (copied). `session_token` may be NULL
 * or "" for long-term keys. Returns NULL when a key is NULL or empty, or when out of
 * memory. The caller frees the result with weir_aws_creds_destroy().
 */
weir_aws_creds *weir_aws_creds_new(const char *access_key_id, const char *secret_access_key,
                                   const char *session_token);

/*
 * Reads AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and the optional AWS_SESSION_TOKEN.
 * On success stores new credentials in *out (caller frees them). Returns
 * WEIR_ERR_AUTH with a one-line reason naming the missing variables when either
 * key is unset or empty, WEIR_ERR_NOMEM when out of memory.
 */
weir_err weir_aws_creds_from_env(weir_aws_creds **out, char *errstr, size_t errstr_size);

/* Wipes and frees the credentials. Accepts NULL. */
void weir_aws_creds_destroy(weir_aws_creds *creds);

/* The access key id, sent in every Authorization header; weir masks it in messages all the
 * same, since it names the account. Owned by creds. */
const char *weir_aws_creds_access_key_id(const weir_aws_creds *creds);

/* The session token, or NULL without one. Owned by creds; it is sent as the
 * X-Amz-Security-Token header and must never be logged. */
const char *weir_aws_creds_session_token(const weir_aws_creds *creds);

/*
 * The signing region: the conf key aws.region, else $AWS_REGION, else
 * $AWS_DEFAULT_REGION. Writes it into `out` (NUL-terminated). Returns
 * WEIR_ERR_NOT_FOUND when none is set, WEIR_ERR_INVALID_ARG when the value does
 * not fit in `out_size` or holds characters a region cannot hold. `conf` may be NULL.
 */
weir_err weir_aws_region(const weir_conf *conf, char *out, size_t out_size, char *errstr,
                         size_t errstr_size);

/* One HTTP header; names compare case-insensitively. */
typedef struct weir_http_header {
    const char *name;
    const char *value;
} weir_http_header;

/*
 * A request to sign. `url` is absolute (http:// or https://host[:port]/path?query)
 * with its path and query exactly as they are sent, percent-encoded where needed.
 * `headers` are the headers the request will carry, except those the signer adds:
 * Host is taken from the url when absent; X-Amz-Date (and X-Amz-Security-Token
 * when the credentials have a token) are added by the signer and replace any given
 * ones; Authorization, User-Agent, Expect and X-Amzn-Trace-Id are never signed.
 * A given X-Amz-Content-SHA256 header replaces the hash of the body.
 */
typedef struct weir_sigv4_request {
    const char *method; /* "POST", "GET", ... (upper-cased for signing) */
    const char *url;
    const weir_http_header *headers;
    size_t n_headers;
    const void *body; /* may be NULL when body_len is 0 */
    size_t body_len;
    const char *region;  /* "us-east-1" */
    const char *service; /* "dynamodb" */
    int64_t time_ms;     /* signing time, milliseconds since the epoch, UTC */
} weir_sigv4_request;

/* Bytes of an X-Amz-Date value with its NUL: "YYYYMMDDTHHMMSSZ". */
#define WEIR_SIGV4_DATE_SIZE 17
/* An Authorization buffer of this size holds any signature of up to 40 signed headers
 * with names of common length. */
#define WEIR_SIGV4_AUTH_SIZE 2048

/*
 * Signs `req` with Signature Version 4 (HMAC-SHA256). Writes the X-Amz-Date value
 * into `amz_date` (WEIR_SIGV4_DATE_SIZE bytes) and the Authorization header value
 * into `auth`. The request must then carry X-Amz-Date: amz_date, Authorization:
 * auth and, with a session token, X-Amz-Security-Token. Returns
 * WEIR_ERR_INVALID_ARG (with a reason) on a malformed url or a too small `auth`,
 * WEIR_ERR_NOMEM when out of memory. Messages never contain the secret or token.
 * Thread-safe.
 */
weir_err weir_sigv4_sign(const weir_aws_creds *creds, const weir_sigv4_request *req, char *amz_date,
                         char *auth, size_t auth_size, char *errstr, size_t errstr_size);

/*
 * The canonical request and the string to sign that weir_sigv4_sign() hashes, for
 * debugging a signature mismatch: both malloc'd, the caller frees them. They hold
 * the session token when there is one, so they must not be logged in production.
 */
weir_err weir_sigv4_canonical(const weir_aws_creds *creds, const weir_sigv4_request *req,
                              char **canonical_request, char **string_to_sign, char *errstr,
                              size_t errstr_size);

#ifdef __cplusplus
}
#endif
#endif
