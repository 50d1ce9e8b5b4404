/* DynamoDB: a client of the JSON 1.0 protocol over libcurl, and the sink that writes firings. */
#ifndef WEIR_DYNAMODB_H
#define WEIR_DYNAMODB_H

#include <stddef.h>
#include <stdint.h>

#include "weir/aggregate.h"
#include "weir/conf.h"
#include "weir/err.h"
#include "weir/metrics.h"
#include "weir/sink.h"
#include "weir/window.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------------------------------
 * The client
 *
 * Speaks DynamoDB's JSON 1.0 protocol (POST /, X-Amz-Target: DynamoDB_20120810.<Op>,
 * Content-Type: application/x-amz-json-1.0) over HTTP/1.1 keep-alive connections of one
 * curl multi handle, signing every request with SigV4 (weir/aws.h). Several requests may be
 * in flight (weir_ddb_submit + weir_ddb_poll); the synchronous calls are built on them.
 *
 * Thread-safety: a client is used by one thread at a time, except weir_ddb_wakeup(), which
 * any thread may call. Callbacks run on the thread that calls weir_ddb_poll().
 * ---------------------------------------------------------------------------------------- */
typedef struct weir_ddb weir_ddb;

/*
 * Creates a client from `conf` (not retained): dynamodb.endpoint (empty: AWS's regional
 * endpoint https://dynamodb.<region>.amazonaws.com), aws.region or $AWS_REGION (with an
 * explicit endpoint and no region, us-east-1 is used for signing), dynamodb.max.inflight
 * (connections kept), dynamodb.max.retries (attempts of the synchronous calls), and the
 * credentials of weir_aws_creds_from_env(). No request is sent.
 * Returns WEIR_OK and the client in *out (the caller frees it with weir_ddb_destroy()),
 * WEIR_ERR_AUTH without credentials, WEIR_ERR_INVALID_ARG on a bad endpoint or without
 * any region or endpoint, WEIR_ERR_NOMEM. errstr gets one line without secrets.
 */
weir_err weir_ddb_new(const weir_conf *conf, weir_ddb **out, char *errstr, size_t errstr_size);

/* Aborts transfers in flight (their callbacks are not called) and frees the client.
 * Accepts NULL. */
void weir_ddb_destroy(weir_ddb *c);

/* Sets the connect and total time of each request sent from now on (defaults 5 s and 30 s;
 * 0 or less: the default). A caller that answers someone waiting (the api-gateway) sets them
 * below its own deadline. Each retry of a synchronous call has the full time again. */
void weir_ddb_set_timeouts(weir_ddb *c, long connect_ms, long request_ms);

/* The endpoint URL requests go to. Owned by the client. */
const char *weir_ddb_endpoint(const weir_ddb *c);

/* The outcome of one request, valid only during the callback (or until the next call for
 * weir_ddb_call). */
typedef struct weir_ddb_response {
    weir_err err;           /* WEIR_OK for a 2xx answer, else the class of the failure */
    long http_status;       /* 0 when no answer arrived (connection, timeout) */
    const char *error_type; /* the __type after '#' ("ThrottlingException"), "" if none */
    const char *message;    /* one line of at most 511 bytes: the service's message or the
                               transport error, credentials masked ("***") */
    const char *body;       /* the answer's body (NUL-terminated), "" if none; as received,
                               so not for logs: it may echo the request's credentials */
    size_t body_len;
} weir_ddb_response;

/*
 * The class of a failed answer:
 *   WEIR_ERR_RETRIABLE  throttling (ProvisionedThroughputExceededException, ThrottlingException,
 *                       RequestLimitExceeded), 5xx answers, connection resets, empty answers;
 *   WEIR_ERR_TIMEOUT    no answer in time;
 *   WEIR_ERR_IO         the endpoint cannot be reached (resolution, connection refused);
 *   WEIR_ERR_AUTH       credentials refused (UnrecognizedClientException, signature, access,
 *                       expired or missing token);
 *   WEIR_ERR_NOT_FOUND  ResourceNotFoundException (no such table);
 *   WEIR_ERR_INVALID_ARG ValidationException and other 4xx the caller must fix;
 *   WEIR_ERR_FATAL      anything else.
 * Thread-safe.
 */
weir_err weir_ddb_classify(long http_status, const char *error_type);

/* Receives the outcome of a submitted request, on the thread of weir_ddb_poll(). */
typedef void (*weir_ddb_done_fn)(void *opaque, const weir_ddb_response *resp);

/*
 * Starts the operation `op` ("BatchWriteItem") with the JSON `body` of `len` bytes. The
 * client takes ownership of `body` (malloc'd) whatever the result. `done` is called exactly
 * once from a later weir_ddb_poll() (never from inside submit) unless the client is destroyed
 * first. Returns WEIR_ERR_NOMEM or WEIR_ERR_INVALID_ARG (signing failed) without calling done.
 */
weir_err weir_ddb_submit(weir_ddb *c, const char *op, char *body, size_t len, weir_ddb_done_fn done,
                         void *opaque);

/*
 * Drives the transfers for at most `timeout_ms` (0: without waiting), returning early when
 * one completes or weir_ddb_wakeup() is called; calls `done` of every completed request.
 * Returns the number of completed requests.
 */
int weir_ddb_poll(weir_ddb *c, int timeout_ms);

/* Requests submitted whose callback has not run yet. */
size_t weir_ddb_inflight(const weir_ddb *c);

/* Makes a weir_ddb_poll() waiting on another thread return now. Thread-safe. */
void weir_ddb_wakeup(weir_ddb *c);

/*
 * Synchronous call: sends `op` with `body` (copied), retrying retriable failures up to
 * dynamodb.max.retries times with exponential backoff and full jitter. On WEIR_OK, *resp
 * points to the answer, valid until the next call on `c`. On failure returns the class of
 * weir_ddb_classify() and writes "<op>: <message>" into errstr (no secrets).
 */
weir_err weir_ddb_call(weir_ddb *c, const char *op, const char *body, size_t len,
                       const weir_ddb_response **resp, char *errstr, size_t errstr_size);

/* What DescribeTable tells about a table's keys. */
typedef struct weir_ddb_table_info {
    char status[32];         /* "ACTIVE", "CREATING", ... */
    char partition_key[256]; /* attribute name of the HASH key */
    char sort_key[256];      /* attribute name of the RANGE key, "" if none */
} weir_ddb_table_info;

/* DescribeTable. WEIR_ERR_NOT_FOUND when the table does not exist. */
weir_err weir_ddb_describe_table(weir_ddb *c, const char *table, weir_ddb_table_info *info,
                                 char *errstr, size_t errstr_size);

/*
 * CreateTable with a string partition key `pk` and, unless NULL, a string sort key `sk`,
 * billing mode PAY_PER_REQUEST, then waits up to `wait_ms` until the table is ACTIVE.
 * A table that already exists (ResourceInUseException) counts as created.
 */
weir_err weir_ddb_create_table(weir_ddb *c, const char *table, const char *pk, const char *sk,
                               int wait_ms, char *errstr, size_t errstr_size);

/*
 * Calls `fn` with the partition-key and sort-key values (as raw JSON string contents,
 * unescaped) of every PutRequest listed under UnprocessedItems.<table> in a BatchWriteItem
 * answer. Returns WEIR_ERR_PARSE on a malformed answer, WEIR_ERR_NOMEM. Thread-safe.
 */
weir_err weir_ddb_batch_unprocessed(const char *body, size_t len, const char *table, const char *pk,
                                    const char *sk,
                                    void (*fn)(void *opaque, const char *pk_value, size_t pk_len,
                                               const char *sk_value, size_t sk_len),
                                    void *opaque);

/* ---- Query results ---- */

/* One attribute of an item. For S the value is the unescaped string, for N the number's
 * text, for BOOL "true"/"false", for NULL "null"; other types hold their raw JSON. */
typedef struct weir_ddb_attr {
    const char *name;
    const char *type; /* "S", "N", "BOOL", "NULL", "M", "L", "SS", ... */
    const char *value;
} weir_ddb_attr;

/* Items read back, in the order the service returned them. Immutable: thread-safe to read. */
typedef struct weir_ddb_items weir_ddb_items;

size_t weir_ddb_items_count(const weir_ddb_items *items);
size_t weir_ddb_items_attr_count(const weir_ddb_items *items, size_t item);
/* The j-th attribute of item `item` (in the answer's order); valid while `items` lives. */
const weir_ddb_attr *weir_ddb_items_attr(const weir_ddb_items *items, size_t item, size_t j);
/* The attribute called `name`, or NULL. */
const weir_ddb_attr *weir_ddb_items_find(const weir_ddb_items *items, size_t item,
                                         const char *name);
/*
 * Writes item `item` as one JSON object, S as strings, N as numbers, BOOL and NULL as
 * themselves, other types as their raw DynamoDB JSON: {"product_id":"42",...,
 * "unique_user_count":17}. Returns the length needed (as snprintf), NUL-terminates when
 * cap > 0.
 */
size_t weir_ddb_items_to_json(const weir_ddb_items *items, size_t item, char *buf, size_t cap);
/* Frees the items. Accepts NULL. */
void weir_ddb_items_destroy(weir_ddb_items *items);

/* A key-range query: pk_name = pk_value AND sk_name BETWEEN sk_from AND sk_to (all strings). */
typedef struct weir_ddb_query {
    const char *table;
    const char *pk_name, *pk_value;
    const char *sk_name;         /* NULL: every item of the partition */
    const char *sk_from, *sk_to; /* inclusive bounds; both set when sk_name is */
    size_t limit;                /* at most this many items, 0: all */
    int descending;              /* newest sort key first */
} weir_ddb_query;

/*
 * Runs Query (following LastEvaluatedKey pages until done or `limit` items) with a
 * consistent read. The api-gateway reads "windows of product P between T1 and T2" as
 * {table, "product_id", P, "window_start", T1, T2}. On WEIR_OK *out holds the items
 * (caller frees them); errors as weir_ddb_call().
 */
weir_err weir_ddb_query_items(weir_ddb *c, const weir_ddb_query *q, weir_ddb_items **out,
                              char *errstr, size_t errstr_size);

/* ------------------------------------------------------------------------------------------
 * The sink
 * ---------------------------------------------------------------------------------------- */

/*
 * 1 when the job should write to DynamoDB: dynamodb.endpoint or aws.region is set, or
 * dynamodb.table was set explicitly. $AWS_REGION alone does not enable the sink.
 */
int weir_dynamodb_enabled(const weir_conf *conf);

/*
 * Creates the DynamoDB sink (weir/sink.h), reading dynamodb.table, dynamodb.endpoint,
 * aws.region, dynamodb.create.table, dynamodb.max.inflight and dynamodb.max.retries. At
 * start it checks the table with DescribeTable (creating it when dynamodb.create.table is
 * set) and that its keys are (<key attribute> S, window_start S).
 *
 * Each firing becomes the item {<key_field>: S key, window_start: S, window_end: S
 * (ISO-8601 with milliseconds), <aggs[i].field>: N values[i]}; a global job (`key_field`
 * NULL) uses the key attribute `window` with the value `all`. Items are sent by a
 * background thread in BatchWriteItem requests of at most 25 items, up to
 * dynamodb.max.inflight at once; two firings of one window waiting to be sent collapse into
 * the latest, and a newer firing of a window is never sent while an older one is in flight,
 * so the latest value is the one that remains. Throttling, 5xx answers, network errors and
 * UnprocessedItems are retried with exponential backoff and full jitter, at most
 * dynamodb.max.retries times per item. `firing` blocks while the buffer of items not yet
 * written is full. `flush(timeout_ms)` waits (a negative timeout: without limit) until
 * every accepted firing is written. `written` counts firings stored (or overwritten by a
 * later firing of the same window that was stored); `retries` counts items sent again.
 *
 * Returns WEIR_OK and the sink in *out, or one line in errstr and:
 * WEIR_ERR_NOT_FOUND (no such table), WEIR_ERR_AUTH (credentials missing or refused),
 * WEIR_ERR_IO (endpoint unreachable), WEIR_ERR_INVALID_ARG (configuration, or the table's
 * keys differ), WEIR_ERR_TIMEOUT, WEIR_ERR_NOMEM. `key_field` and `aggs` must outlive the sink.
 * Free it with weir_sink_destroy() after weir_sink_flush().
 */
weir_err weir_dynamodb_sink_create(const weir_conf *conf, const char *key_field,
                                   const weir_agg_spec *aggs, size_t n_aggs, weir_sink **out,
                                   char *errstr, size_t errstr_size);

/*
 * Publishes the sink's weir_dynamodb_requests_total{outcome}, weir_dynamodb_retries_total and
 * weir_dynamodb_batch_duration_seconds (per request) in `m` (not owned; it must outlive the
 * sink), updated from the sink's thread without a lock. Call before the first firing. Returns
 * WEIR_ERR_INVALID_ARG for a sink not made by weir_dynamodb_sink_create(), or the registry's
 * error.
 */
weir_err weir_dynamodb_sink_set_metrics(weir_sink *sink, weir_metrics *m);

/* As weir_dynamodb_sink_create(), returning NULL on error. */
weir_sink *weir_dynamodb_sink_new(const weir_conf *conf, const char *key_field,
                                  const weir_agg_spec *aggs, size_t n_aggs, char *errstr,
                                  size_t errstr_size);

/*
 * Queues one item built by the caller, for jobs whose results are not weir_firings (the
 * generic job's typed aggregates): `item` is the PutRequest JSON
 * ({"PutRequest":{"Item":{...}}}, copied) whose partition key value is `pk` and whose sort key
 * window_start is `window_start`; the sink must come from weir_dynamodb_sink_create() with
 * `key_field` the partition key attribute (its `aggs` unused). Batching, collapsing, retries,
 * backpressure and flush are those of firings; the item's JSON length stands for its size
 * against the 400 KB limit. Returns as the sink's firing function; WEIR_ERR_INVALID_ARG for
 * a sink of another kind.
 */
weir_err weir_dynamodb_sink_put(weir_sink *s, weir_slice pk, const char *window_start,
                                const char *item, size_t item_len);

#ifdef __cplusplus
}
#endif
#endif
