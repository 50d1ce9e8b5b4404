/* Internals of the DynamoDB client and sink, shared with their unit tests and fuzz targets
 * (test/test_dynamodb_sink.c): not part of the API, they may change at any time. */
#ifndef WEIR_CONNECTORS_DYNAMODB_INT_H
#define WEIR_CONNECTORS_DYNAMODB_INT_H

#include <stddef.h>
#include <stdint.h>

#include "weir/dynamodb.h"

/* The next draw of the xorshift64* generator whose state is *s (not 0), for backoff jitter. */
uint64_t weir__ddb_rng_next(uint64_t *s);

/* Full-jitter backoff: a value in [0, min(cap_ms, base_ms * 2^attempt)] drawn from `rnd`. */
uint64_t weir__ddb_backoff_ms(unsigned attempt, uint64_t base_ms, uint64_t cap_ms, uint64_t rnd);

/* Writes the PutRequest JSON of `f` ({"PutRequest":{"Item":{...}}}); key_attr NULL: global.
 * Returns the length needed, as snprintf. */
size_t weir__ddb_item_json(const weir_firing *f, const char *key_attr, const weir_agg_spec *aggs,
                           size_t n_aggs, char *buf, size_t cap);

/* The queue of items between firings and requests: one entry per (key, window). */
typedef struct weir__ddb_batcher weir__ddb_batcher;
/* One request being built or in flight; owned by the batcher. */
typedef struct weir__ddb_batch {
    char *body; /* the BatchWriteItem body; the caller takes it (and sets it to NULL) */
    size_t body_len;
    size_t n;        /* items */
    void *opaque;    /* free for the caller */
    int64_t sent_ms; /* free for the caller */
} weir__ddb_batch;

typedef enum weir__ddb_outcome {
    WEIR__DDB_OK,      /* written, except the items marked unprocessed */
    WEIR__DDB_RETRY,   /* nothing written; retry every item after a backoff */
    WEIR__DDB_ISOLATE, /* rejected as invalid: send each item alone to find the culprit */
    WEIR__DDB_FATAL    /* rejected for good */
} weir__ddb_outcome;

weir__ddb_batcher *weir__ddb_batcher_new(const char *table, unsigned max_retries, uint64_t seed);
void weir__ddb_batcher_destroy(weir__ddb_batcher *b);
/* Adds an item for (key, sk), copying it; collapses into a waiting item of the same key.
 * Returns 1 when it collapsed, 0 when new, -1 when out of memory. */
int weir__ddb_batcher_put(weir__ddb_batcher *b, const char *key, size_t key_len, const char *sk,
                          const char *item, size_t item_len);
/* Items accepted and not yet written or given up (the buffer's fill). */
size_t weir__ddb_batcher_pending(const weir__ddb_batcher *b);
/* Whether an item of (key, sk) is waiting or in flight. */
int weir__ddb_batcher_has(const weir__ddb_batcher *b, const char *key, size_t key_len,
                          const char *sk);
/* Builds the next request of up to 25 items (16 MB) ready at `now_ms`, or NULL. */
weir__ddb_batch *weir__ddb_batcher_next(weir__ddb_batcher *b, int64_t now_ms);
/* The earliest time a delayed item becomes ready, INT64_MAX if none. */
int64_t weir__ddb_batcher_next_due(const weir__ddb_batcher *b);
/* Marks the item (key, sk) of `batch` as unprocessed (before completing an OK batch). */
void weir__ddb_batch_unprocessed(weir__ddb_batch *batch, const char *key, size_t key_len,
                                 const char *sk, size_t sk_len);
/* Completes `batch` (freeing it). FATAL and items past max_retries make the batcher failed:
 * weir__ddb_batcher_error() then returns the one-line reason, naming the item's key. */
void weir__ddb_batcher_complete(weir__ddb_batcher *b, weir__ddb_batch *batch,
                                weir__ddb_outcome outcome, weir_err err, const char *message,
                                int64_t now_ms);
/* 1 after a failure of the whole service (auth, missing table): nothing more is sent. A
 * rejected item or an item past max_retries fails the batcher but the others are still sent. */
int weir__ddb_batcher_halted(const weir__ddb_batcher *b);
/* Counters: firings written (or superseded by a written later firing), items retried. */
uint64_t weir__ddb_batcher_written(const weir__ddb_batcher *b);
uint64_t weir__ddb_batcher_retries(const weir__ddb_batcher *b);
/* WEIR_OK, or the error that made the batcher fail; `msg` receives its reason. */
weir_err weir__ddb_batcher_error(const weir__ddb_batcher *b, const char **msg);
/* The key attribute names used in error messages (default "key", "window_start"). */
void weir__ddb_batcher_set_names(weir__ddb_batcher *b, const char *key_attr);

/* ---- The Query answer parser (weir_ddb_query_items), exposed for its tests and fuzz target ----
 */

/* An empty set of items; NULL when out of memory. Free it with weir_ddb_items_destroy(). */
weir_ddb_items *weir__ddb_items_new(void);
/*
 * Appends to `it` the items of one Query answer page: `body` is `len` untrusted bytes. Stops
 * once `it` holds `limit` items (0: no limit). *last receives LastEvaluatedKey's raw JSON
 * (malloc'd, the caller frees it) or NULL. Returns WEIR_ERR_PARSE on a malformed page (items
 * already complete stay in `it`), WEIR_ERR_NOMEM. Thread-safe for distinct `it`.
 */
weir_err weir__ddb_items_from_page(weir_ddb_items *it, const char *body, size_t len, size_t limit,
                                   char **last);

/* Fills `type` (the __type after '#', or "code") and `msg` ("message" or "Message") of an
 * error answer {"__type":"...#Name","message":"..."}, cut to their buffers (the client itself
 * keeps them whole until credentials are masked); both "" when absent or malformed. */
void weir__ddb_parse_error(const char *body, size_t len, char *type, size_t tsize, char *msg,
                           size_t msize);

/* Reads a DescribeTable answer into `info`. WEIR_ERR_PARSE (reason in errstr) when it is
 * malformed or lacks TableStatus or the HASH key. */
weir_err weir__ddb_table_info_parse(const char *body, size_t len, weir_ddb_table_info *info,
                                    char *errstr, size_t errstr_size);

#endif
