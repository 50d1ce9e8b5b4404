/* The held-results log of Kafka-mode checkpoints: firings are logged with their key, JSON
 * value and timestamp exactly as the Kafka sink would produce them, a log taken into a
 * checkpoint is accepted back whole, and every truncation or wrong count is refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "runtime/held_sink.h"
#include "weir/output.h"

static weir_agg_spec AGGS[2];

static int setup(void **state)
{
    (void)state;
    AGGS[0] = (weir_agg_spec){&weir_agg_distinct_exact, "unique_user_count", NULL};
    AGGS[1] = (weir_agg_spec){&weir_agg_count, "event_count", NULL};
    return 0;
}

static weir_firing firing(const char *key, int64_t start, uint64_t *v, int late)
{
    weir_firing f = {{key, strlen(key)}, start, start + 60000, late, v, 2};
    return f;
}

static void test_log_round_trip(void **state)
{
    (void)state;
    weir__held *h = weir__held_new("product_id", AGGS, 2);
    assert_non_null(h);
    uint64_t v1[2] = {3, 7}, v2[2] = {4, 9};
    const char *keys[3] = {"p1", "", "p \"quoted\""};
    weir_firing fs[3] = {firing(keys[0], 0, v1, 0), firing(keys[1], 60000, v2, 0),
                         firing(keys[2], 120000, v1, 1)};
    for (int i = 0; i < 3; i++)
        assert_int_equal(weir_sink_firing(&h->base, &fs[i]), WEIR_OK);
    assert_int_equal(h->count, 3);
    /* Records (side outputs) are not held: refused, so a wiring mistake cannot lose them. */
    assert_int_not_equal(weir_sink_record(&h->base, (weir_slice){"x", 1}, 0), WEIR_OK);

    weir__held_entry e;
    int bad = 0, n = 0;
    for (size_t at = 0; (at = weir__held_next(h->log, h->len, at, &e, &bad)) != 0; n++) {
        char want[512];
        size_t wl = weir_firing_to_json(&fs[n], "product_id", AGGS, want, sizeof want);
        assert_non_null(e.key);
        assert_int_equal(e.key_len, strlen(keys[n]));
        assert_memory_equal(e.key, keys[n], e.key_len ? e.key_len : 0);
        assert_int_equal(e.len, wl);
        assert_memory_equal(e.val, want, wl);
        assert_int_equal(e.ts, fs[n].window_end - 1);
    }
    assert_false(bad);
    assert_int_equal(n, 3);

    /* Taken back from a checkpoint: the same log is accepted into a fresh sink. */
    weir__held *g = weir__held_new("product_id", AGGS, 2);
    assert_int_equal(weir__held_set(g, h->log, h->len, h->count), WEIR_OK);
    assert_int_equal(g->len, h->len);
    assert_memory_equal(g->log, h->log, h->len);
    weir__held_clear(g);
    assert_int_equal(g->count, 0);
    weir_sink_destroy(&g->base);
    weir_sink_destroy(&h->base);
}

static void test_log_refused(void **state)
{
    (void)state;
    weir__held *h = weir__held_new("product_id", AGGS, 2);
    uint64_t v[2] = {1, 1};
    for (int i = 0; i < 4; i++) {
        weir_firing f = firing("key", 60000 * i, v, 0);
        assert_int_equal(weir_sink_firing(&h->base, &f), WEIR_OK);
    }
    weir__held *g = weir__held_new("product_id", AGGS, 2);
    /* Every cut that is not at an entry boundary is malformed; a cut at a boundary is
     * well formed but has fewer entries than the checkpoint says. Both are refused and
     * leave the sink as it was. */
    for (size_t cut = 0; cut < h->len; cut++) {
        assert_int_equal(weir__held_set(g, h->log, cut, h->count), WEIR_ERR_CORRUPT);
        assert_int_equal(g->count, 0);
    }
    assert_int_equal(weir__held_set(g, h->log, h->len, h->count + 1), WEIR_ERR_CORRUPT);
    uint8_t *bad = malloc(h->len);
    memcpy(bad, h->log, h->len);
    bad[0] = 7; /* not a has-key flag */
    assert_int_equal(weir__held_set(g, bad, h->len, h->count), WEIR_ERR_CORRUPT);
    /* No key, yet key bytes: they were skipped and the entry released without its key,
     * handing librdkafka a NULL key of non-zero length (fuzz/regressions/held-*). */
    bad[0] = 0;
    assert_int_equal(weir__held_set(g, bad, h->len, h->count), WEIR_ERR_CORRUPT);
    free(bad);
    assert_int_equal(weir__held_set(g, h->log, h->len, h->count), WEIR_OK);
    weir_sink_destroy(&g->base);
    weir_sink_destroy(&h->base);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_log_round_trip),
        cmocka_unit_test(test_log_refused),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
