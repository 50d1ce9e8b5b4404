/* DynamoDB sink internals: item JSON, full-jitter backoff, batching (25 items, one entry per
 * window, latest value wins), ordering against in-flight items, retries of unprocessed and
 * failed items, isolation of a rejected item, answer parsing and classification. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "connectors/dynamodb_int.h"

static const weir_agg_spec AGGS[] = {{NULL, "unique_user_count", NULL},
                                     {NULL, "event_count", NULL}};

static void test_item_json(void **state)
{
    (void)state;
    uint64_t v[] = {17, 150};
    weir_firing f = {{"4\"2", 3}, 1704110400000LL, 1704110460000LL, 0, v, 2};
    char buf[512];
    size_t n = weir__ddb_item_json(&f, "product_id", AGGS, 2, buf, sizeof buf);
    const char *want = "{\"PutRequest\":{\"Item\":{\"product_id\":{\"S\":\"4\\\"2\"},"
                       "\"window_start\":{\"S\":\"2024-01-01T12:00:00.000Z\"},"
                       "\"window_end\":{\"S\":\"2024-01-01T12:01:00.000Z\"},"
                       "\"unique_user_count\":{\"N\":\"17\"},\"event_count\":{\"N\":\"150\"}}}}";
    assert_string_equal(buf, want);
    assert_int_equal(n, strlen(want));
    /* Truncation reports the full length, as snprintf does. */
    char small[10];
    assert_int_equal(weir__ddb_item_json(&f, "product_id", AGGS, 2, small, sizeof small), n);
    assert_int_equal(strlen(small), sizeof small - 1);
    /* A global job: key attribute `window` = `all`. */
    weir_firing g = {{NULL, 0}, 0, 60000, 0, v, 2};
    weir__ddb_item_json(&g, NULL, AGGS, 2, buf, sizeof buf);
    assert_non_null(strstr(buf, "{\"window\":{\"S\":\"all\"},\"window_start\":{\"S\":"
                                "\"1970-01-01T00:00:00.000Z\"}"));
}

static void test_backoff(void **state)
{
    (void)state;
    uint64_t x = 88172645463325252ULL, sum = 0, max = 0;
    for (unsigned attempt = 0; attempt < 12; attempt++) {
        uint64_t ceiling = 25ULL << attempt < 2000 ? 25ULL << attempt : 2000;
        uint64_t lo = UINT64_MAX, hi = 0;
        sum = 0;
        for (int i = 0; i < 4000; i++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            uint64_t b = weir__ddb_backoff_ms(attempt, 25, 2000, x);
            assert_true(b <= ceiling);
            lo = b < lo ? b : lo;
            hi = b > hi ? b : hi;
            sum += b;
        }
        /* Full jitter: the whole range is used and the mean is about half the ceiling. */
        assert_true(lo <= ceiling / 10);
        assert_true(hi >= ceiling - ceiling / 10);
        double mean = (double)sum / 4000;
        assert_true(mean > ceiling * 0.4 && mean < ceiling * 0.6);
        max = hi > max ? hi : max;
    }
    assert_true(max <= 2000);
    assert_int_equal(weir__ddb_backoff_ms(200, 25, 2000, 1999), 1999);
    assert_int_equal(weir__ddb_backoff_ms(0, 25, 2000, 26), 0);
}

/* Counts items in a body and checks that no (key, window_start) repeats. */
static size_t body_keys(const char *body, char keys[][64], size_t max)
{
    size_t n = 0;
    const char *p = body;
    while ((p = strstr(p, "\"product_id\":{\"S\":\"")) != NULL) {
        p += strlen("\"product_id\":{\"S\":\"");
        const char *e = strchr(p, '"');
        const char *ws = strstr(e, "\"window_start\":{\"S\":\"") + 21;
        assert_true(n < max);
        snprintf(keys[n], 64, "%.*s/%.24s", (int)(e - p), p, ws);
        for (size_t i = 0; i < n; i++)
            assert_string_not_equal(keys[i], keys[n]);
        n++;
    }
    return n;
}

static void put(weir__ddb_batcher *b, const char *key, int64_t w, uint64_t value)
{
    uint64_t v[] = {value, value * 10};
    weir_firing f = {{key, strlen(key)}, w * 60000, (w + 1) * 60000, 0, v, 2};
    char item[512], sk[32];
    size_t n = weir__ddb_item_json(&f, "product_id", AGGS, 2, item, sizeof item);
    weir_format_iso8601(f.window_start, sk);
    assert_true(weir__ddb_batcher_put(b, key, strlen(key), sk, item, n) >= 0);
}

static void test_batching_and_dedup(void **state)
{
    (void)state;
    weir__ddb_batcher *b = weir__ddb_batcher_new("ecom-analytics", 3, 1);
    weir__ddb_batcher_set_names(b, "product_id");
    /* 60 windows, and later firings of 20 of them: 60 entries, the latest values. */
    char key[16];
    for (int i = 0; i < 60; i++) {
        snprintf(key, sizeof key, "p%d", i % 30);
        put(b, key, i / 30, 1);
    }
    for (int i = 0; i < 20; i++) {
        snprintf(key, sizeof key, "p%d", i);
        put(b, key, 0, 2);
        put(b, key, 0, 3);
    }
    assert_int_equal(weir__ddb_batcher_pending(b), 60);
    char keys[25][64];
    size_t total = 0;
    weir__ddb_batch *bt[4];
    int nb = 0;
    while ((bt[nb] = weir__ddb_batcher_next(b, 0)) != NULL) {
        assert_true(bt[nb]->n <= 25);
        assert_int_equal(body_keys(bt[nb]->body, keys, 25), bt[nb]->n);
        assert_true(strncmp(bt[nb]->body, "{\"RequestItems\":{\"ecom-analytics\":[", 35) == 0);
        total += bt[nb]->n;
        nb++;
    }
    assert_int_equal(nb, 3);
    assert_int_equal(total, 60);
    /* p5's window 0 carries the latest value (3) and nothing older. */
    assert_non_null(strstr(bt[0]->body, "\"product_id\":{\"S\":\"p5\"},\"window_start\":{\"S\":"
                                        "\"1970-01-01T00:00:00.000Z\"},\"window_end\":{\"S\":"
                                        "\"1970-01-01T00:01:00.000Z\"},\"unique_user_count\":"
                                        "{\"N\":\"3\"}"));
    for (int i = 0; i < nb; i++)
        weir__ddb_batcher_complete(b, bt[i], WEIR__DDB_OK, WEIR_OK, NULL, 0);
    assert_int_equal(weir__ddb_batcher_pending(b), 0);
    /* 60 + 40 firings accepted, all written (the collapsed ones through their latest). */
    assert_int_equal(weir__ddb_batcher_written(b), 100);
    assert_int_equal(weir__ddb_batcher_retries(b), 0);
    weir__ddb_batcher_destroy(b);
}

static void test_inflight_ordering_and_retries(void **state)
{
    (void)state;
    weir__ddb_batcher *b = weir__ddb_batcher_new("t", 2, 7);
    weir__ddb_batcher_set_names(b, "product_id");
    put(b, "a", 0, 1);
    put(b, "b", 0, 1);
    weir__ddb_batch *x = weir__ddb_batcher_next(b, 0);
    assert_int_equal(x->n, 2);
    /* A newer firing of an in-flight window waits: no second request may carry it. */
    put(b, "a", 0, 2);
    assert_null(weir__ddb_batcher_next(b, 0));
    /* "a" comes back unprocessed: the newer value replaces it for the retry. */
    weir__ddb_batch_unprocessed(x, "a", 1, "1970-01-01T00:00:00.000Z", 24);
    weir__ddb_batcher_complete(b, x, WEIR__DDB_OK, WEIR_OK, NULL, 100);
    assert_int_equal(weir__ddb_batcher_written(b), 1);
    assert_int_equal(weir__ddb_batcher_retries(b), 1);
    assert_int_equal(weir__ddb_batcher_pending(b), 1);
    /* Delayed by the backoff (at most 25 ms at the first retry). */
    int64_t due = weir__ddb_batcher_next_due(b);
    assert_true(due >= 100 && due <= 125);
    if (due > 100)
        assert_null(weir__ddb_batcher_next(b, due - 1));
    x = weir__ddb_batcher_next(b, due);
    assert_non_null(x);
    assert_int_equal(x->n, 1);
    assert_non_null(strstr(x->body, "\"unique_user_count\":{\"N\":\"2\"}"));
    /* Throttled twice more: past max_retries (2) the batcher fails naming the item. */
    weir__ddb_batcher_complete(b, x, WEIR__DDB_RETRY, WEIR_ERR_RETRIABLE, "Throttled", 200);
    x = weir__ddb_batcher_next(b, 10000);
    assert_non_null(x);
    weir__ddb_batcher_complete(b, x, WEIR__DDB_RETRY, WEIR_ERR_RETRIABLE,
                               "ThrottlingException: slow down", 10000);
    const char *msg;
    assert_int_equal(weir__ddb_batcher_error(b, &msg), WEIR_ERR_RETRIABLE);
    assert_string_equal(msg, "DynamoDB: gave up on item product_id=\"a\" "
                             "window_start=1970-01-01T00:00:00.000Z after 3 attempts: "
                             "ThrottlingException: slow down");
    /* Both firings of "a" count once "a" is written; it was not. */
    assert_int_equal(weir__ddb_batcher_written(b), 1);
    weir__ddb_batcher_destroy(b);
}

static void test_newer_after_success(void **state)
{
    (void)state;
    weir__ddb_batcher *b = weir__ddb_batcher_new("t", 5, 3);
    put(b, "k", 1, 1);
    weir__ddb_batch *x = weir__ddb_batcher_next(b, 0);
    put(b, "k", 1, 2);
    put(b, "k", 1, 3);
    weir__ddb_batcher_complete(b, x, WEIR__DDB_OK, WEIR_OK, NULL, 0);
    assert_int_equal(weir__ddb_batcher_written(b), 1);
    x = weir__ddb_batcher_next(b, 0);
    assert_non_null(x);
    assert_non_null(strstr(x->body, "{\"N\":\"3\"}"));
    weir__ddb_batcher_complete(b, x, WEIR__DDB_OK, WEIR_OK, NULL, 0);
    assert_int_equal(weir__ddb_batcher_written(b), 3);
    assert_int_equal(weir__ddb_batcher_pending(b), 0);
    /* Destroying with a batch in flight frees it. */
    put(b, "z", 1, 1);
    assert_non_null(weir__ddb_batcher_next(b, 0));
    weir__ddb_batcher_destroy(b);
}

static void test_isolate_rejected_item(void **state)
{
    (void)state;
    weir__ddb_batcher *b = weir__ddb_batcher_new("t", 5, 3);
    weir__ddb_batcher_set_names(b, "product_id");
    put(b, "good1", 0, 1);
    put(b, "bad", 0, 1);
    put(b, "good2", 0, 1);
    weir__ddb_batch *x = weir__ddb_batcher_next(b, 0);
    assert_int_equal(x->n, 3);
    weir__ddb_batcher_complete(b, x, WEIR__DDB_ISOLATE, WEIR_ERR_INVALID_ARG, "bad item", 0);
    assert_int_equal(weir__ddb_batcher_error(b, NULL), WEIR_OK);
    int seen = 0;
    while ((x = weir__ddb_batcher_next(b, 0)) != NULL) {
        assert_int_equal(x->n, 1);
        seen++;
        int is_bad = strstr(x->body, "\"bad\"") != NULL;
        weir__ddb_batcher_complete(b, x, is_bad ? WEIR__DDB_ISOLATE : WEIR__DDB_OK,
                                   is_bad ? WEIR_ERR_INVALID_ARG : WEIR_OK,
                                   "ValidationException: key too long", 0);
    }
    assert_int_equal(seen, 3);
    const char *msg;
    assert_int_equal(weir__ddb_batcher_error(b, &msg), WEIR_ERR_INVALID_ARG);
    assert_string_equal(msg, "DynamoDB rejected item product_id=\"bad\" "
                             "window_start=1970-01-01T00:00:00.000Z: "
                             "ValidationException: key too long");
    assert_int_equal(weir__ddb_batcher_written(b), 2);
    assert_int_equal(weir__ddb_batcher_pending(b), 0);
    assert_false(weir__ddb_batcher_halted(b));
    assert_null(weir__ddb_batcher_next(b, 0));
    weir__ddb_batcher_destroy(b);
}

static void test_fatal_halts(void **state)
{
    (void)state;
    weir__ddb_batcher *b = weir__ddb_batcher_new("t", 5, 3);
    put(b, "a", 0, 1);
    weir__ddb_batch *x = weir__ddb_batcher_next(b, 0);
    put(b, "b", 0, 1);
    weir__ddb_batcher_complete(b, x, WEIR__DDB_FATAL, WEIR_ERR_AUTH,
                               "UnrecognizedClientException: bad token", 0);
    assert_true(weir__ddb_batcher_halted(b));
    assert_null(weir__ddb_batcher_next(b, 0));
    const char *msg;
    assert_int_equal(weir__ddb_batcher_error(b, &msg), WEIR_ERR_AUTH);
    assert_non_null(strstr(msg, "UnrecognizedClientException"));
    weir__ddb_batcher_destroy(b);
}

static void test_many_batches_large(void **state)
{
    (void)state;
    /* 10,000 windows in rounds: every request obeys the limits and every window is sent. */
    weir__ddb_batcher *b = weir__ddb_batcher_new("t", 5, 3);
    char key[32], keys[25][64];
    for (int i = 0; i < 10000; i++) {
        snprintf(key, sizeof key, "product-%d", i % 997);
        put(b, key, i / 997, (uint64_t)i);
    }
    size_t total = 0;
    weir__ddb_batch *x;
    while ((x = weir__ddb_batcher_next(b, 0)) != NULL) {
        assert_true(x->n >= 1 && x->n <= 25);
        assert_true(x->body_len < (16u << 20));
        assert_int_equal(body_keys(x->body, keys, 25), x->n);
        total += x->n;
        weir__ddb_batcher_complete(b, x, WEIR__DDB_OK, WEIR_OK, NULL, 0);
    }
    assert_int_equal(total, 10000);
    assert_int_equal(weir__ddb_batcher_written(b), 10000);
    weir__ddb_batcher_destroy(b);
}

static void record_key(void *opaque, const char *pk, size_t pk_len, const char *sk, size_t sk_len)
{
    char *out = opaque;
    size_t n = strlen(out);
    snprintf(out + n, 256 - n, "[%.*s|%.*s]", (int)pk_len, pk, (int)sk_len, sk);
}

static void test_unprocessed_parse_and_classify(void **state)
{
    (void)state;
    const char *ans = "{\"UnprocessedItems\":{\"t\":[{\"PutRequest\":{\"Item\":{"
                      "\"event_count\":{\"N\":\"1\"},\"product_id\":{\"S\":\"a\\\"\\u00e9\"},"
                      "\"window_start\":{\"S\":\"2024-01-01T00:00:00.000Z\"}}}},"
                      "{\"PutRequest\":{\"Item\":{\"product_id\":{\"S\":\"b\"},"
                      "\"window_start\":{\"S\":\"w\"}}}}]}}";
    char got[256] = "";
    assert_int_equal(weir_ddb_batch_unprocessed(ans, strlen(ans), "t", "product_id", "window_start",
                                                record_key, got),
                     WEIR_OK);
    assert_string_equal(got, "[a\"\xc3\xa9|2024-01-01T00:00:00.000Z][b|w]");
    got[0] = '\0';
    const char *none = "{\"UnprocessedItems\":{}}";
    assert_int_equal(weir_ddb_batch_unprocessed(none, strlen(none), "t", "product_id",
                                                "window_start", record_key, got),
                     WEIR_OK);
    assert_string_equal(got, "");
    assert_int_equal(weir_ddb_batch_unprocessed("{\"Unpro", 7, "t", "p", "s", record_key, got),
                     WEIR_ERR_PARSE);

    assert_int_equal(weir_ddb_classify(200, ""), WEIR_OK);
    assert_int_equal(weir_ddb_classify(400, "ProvisionedThroughputExceededException"),
                     WEIR_ERR_RETRIABLE);
    assert_int_equal(weir_ddb_classify(400, "ThrottlingException"), WEIR_ERR_RETRIABLE);
    assert_int_equal(weir_ddb_classify(400, "RequestLimitExceeded"), WEIR_ERR_RETRIABLE);
    assert_int_equal(weir_ddb_classify(503, ""), WEIR_ERR_RETRIABLE);
    assert_int_equal(weir_ddb_classify(400, "ResourceNotFoundException"), WEIR_ERR_NOT_FOUND);
    assert_int_equal(weir_ddb_classify(400, "UnrecognizedClientException"), WEIR_ERR_AUTH);
    assert_int_equal(weir_ddb_classify(403, ""), WEIR_ERR_AUTH);
    assert_int_equal(weir_ddb_classify(400, "ValidationException"), WEIR_ERR_INVALID_ARG);
}

static void test_enabled(void **state)
{
    (void)state;
    weir_conf *c = weir_conf_new();
    assert_false(weir_dynamodb_enabled(c));
    weir_conf_set(c, "dynamodb.table", "x", NULL, 0);
    assert_true(weir_dynamodb_enabled(c));
    weir_conf_destroy(c);
    c = weir_conf_new();
    weir_conf_set(c, "dynamodb.endpoint", "http://127.0.0.1:1", NULL, 0);
    assert_true(weir_dynamodb_enabled(c));
    weir_conf_destroy(c);
    c = weir_conf_new();
    weir_conf_set(c, "aws.region", "eu-west-1", NULL, 0);
    assert_true(weir_dynamodb_enabled(c));
    weir_conf_destroy(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_item_json),
        cmocka_unit_test(test_backoff),
        cmocka_unit_test(test_batching_and_dedup),
        cmocka_unit_test(test_inflight_ordering_and_retries),
        cmocka_unit_test(test_newer_after_success),
        cmocka_unit_test(test_isolate_rejected_item),
        cmocka_unit_test(test_fatal_halts),
        cmocka_unit_test(test_many_batches_large),
        cmocka_unit_test(test_unprocessed_parse_and_classify),
        cmocka_unit_test(test_enabled),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
