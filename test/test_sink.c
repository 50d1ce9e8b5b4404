/* A sink of the caller's own through the public API (weir_sink_new): its functions are
 * called with its state, a missing required function is named, counts and errors read back,
 * destroy frees the state once; and a pipeline delivers its firings, late and invalid records
 * to such sinks. The library's file sink counts each line once. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "weir/pipeline.h"
#include "weir/sink.h"

typedef struct collect {
    int firings, records, flushes, polls;
    uint64_t last_value;
    int fail_next;
    int *destroyed;
} collect;

static weir_err c_firing(weir_sink *s, const weir_firing *f)
{
    collect *c = weir_sink_impl(s);
    if (c->fail_next) {
        weir_sink_set_error(s, "destination refused the firing");
        return WEIR_ERR_IO;
    }
    c->firings++;
    c->last_value = f->n_values ? f->values[0] : 0;
    return WEIR_OK;
}

static weir_err c_record(weir_sink *s, weir_slice rec, int32_t partition)
{
    (void)rec;
    (void)partition;
    ((collect *)weir_sink_impl(s))->records++;
    return WEIR_OK;
}

static weir_err c_flush(weir_sink *s, int timeout_ms)
{
    (void)timeout_ms;
    ((collect *)weir_sink_impl(s))->flushes++;
    return WEIR_OK;
}

static weir_err c_poll(weir_sink *s)
{
    ((collect *)weir_sink_impl(s))->polls++;
    return WEIR_OK;
}

static void c_destroy(weir_sink *s)
{
    collect *c = weir_sink_impl(s);
    (*c->destroyed)++;
    free(c);
}

static const weir_sink_ops OPS = {"collect", c_firing, c_record, c_flush, c_poll, c_destroy};

static void test_custom_sink(void **state)
{
    (void)state;
    int destroyed = 0;
    collect *c = calloc(1, sizeof *c);
    assert_non_null(c);
    c->destroyed = &destroyed;
    char err[128] = "";
    weir_sink *s = weir_sink_new(&OPS, c, err, sizeof err);
    assert_non_null(s);
    assert_ptr_equal(weir_sink_impl(s), c);
    uint64_t v[1] = {42};
    weir_firing f = {{"k", 1}, 0, 60000, 0, v, 1};
    assert_int_equal(weir_sink_firing(s, &f), WEIR_OK);
    assert_int_equal(weir_sink_record(s, (weir_slice){"raw", 3}, 0), WEIR_OK);
    assert_int_equal(weir_sink_flush(s, -1), WEIR_OK);
    assert_int_equal(weir_sink_poll(s), WEIR_OK);
    assert_int_equal(c->firings, 1);
    assert_int_equal(c->records, 1);
    assert_int_equal(c->flushes, 1);
    assert_int_equal(c->polls, 1);
    assert_int_equal(c->last_value, 42);
    assert_int_equal(weir_sink_written(s), 2);
    assert_int_equal(weir_sink_retries(s), 0);
    assert_string_equal(weir_sink_error(s), "");
    c->fail_next = 1;
    assert_int_equal(weir_sink_firing(s, &f), WEIR_ERR_IO);
    assert_int_equal(weir_sink_written(s), 2); /* a refused firing is not counted */
    assert_string_equal(weir_sink_error(s), "destination refused the firing");
    weir_sink_destroy(s);
    assert_int_equal(destroyed, 1);
}

static void test_missing_functions_are_named(void **state)
{
    (void)state;
    char err[160];
    const weir_sink_ops no_flush = {"mine", c_firing, c_record, NULL, NULL, NULL};
    assert_null(weir_sink_new(&no_flush, NULL, err, sizeof err));
    assert_non_null(strstr(err, "\"mine\""));
    assert_non_null(strstr(err, "flush"));
    const weir_sink_ops no_record = {NULL, c_firing, NULL, c_flush, NULL, NULL};
    assert_null(weir_sink_new(&no_record, NULL, err, sizeof err));
    assert_non_null(strstr(err, "record"));
    assert_null(weir_sink_new(NULL, NULL, err, sizeof err));
    assert_non_null(strstr(err, "ops"));
    /* destroy may be NULL: the library frees only its own header. */
    const weir_sink_ops no_destroy = {"plain", c_firing, c_record, c_flush, NULL, NULL};
    collect c = {0};
    weir_sink *s = weir_sink_new(&no_destroy, &c, err, sizeof err);
    assert_non_null(s);
    weir_sink_destroy(s);
    weir_sink_destroy(NULL);
    assert_int_equal(weir_sink_written(NULL), 0);
    assert_null(weir_sink_impl(NULL));
}

/* A pipeline writes to custom sinks as to its own: firings, then a late record and an
 * invalid one reach the side-output sinks. */
static void test_pipeline_into_custom_sinks(void **state)
{
    (void)state;
    int destroyed = 0;
    collect *cs[3];
    weir_sink *ss[3];
    char err[256];
    for (int i = 0; i < 3; i++) {
        cs[i] = calloc(1, sizeof *cs[i]);
        assert_non_null(cs[i]);
        cs[i]->destroyed = &destroyed;
        ss[i] = weir_sink_new(&OPS, cs[i], err, sizeof err);
        assert_non_null(ss[i]);
    }
    weir_conf *conf = weir_conf_new();
    assert_non_null(conf);
    assert_int_equal(weir_conf_set(conf, "watermark.out.of.orderness", "0s", err, sizeof err),
                     WEIR_OK);
    weir_pipeline *p = weir_pipeline_new(conf, 1, ss, 1, ss[1], ss[2], err, sizeof err);
    assert_non_null(p);
    const char *lines[] = {
        "{\"user_id\":\"u1\",\"product_id\":\"p1\",\"timestamp\":1700000000000}",
        "{\"user_id\":\"u2\",\"product_id\":\"p1\",\"timestamp\":1700000001000}",
        "{\"user_id\":\"u3\",\"product_id\":\"p2\",\"timestamp\":1700000200000}",
        "{\"user_id\":\"u4\",\"product_id\":\"p1\",\"timestamp\":1700000000500}", /* late */
        "not json",
    };
    weir_record recs[5];
    for (int i = 0; i < 5; i++)
        recs[i] = (weir_record){lines[i], strlen(lines[i]), 0, i};
    assert_int_equal(weir_pipeline_push(p, recs, 5, 0), WEIR_OK);
    assert_int_equal(weir_pipeline_finish(p), WEIR_OK);
    weir_pipeline_destroy(p);
    weir_conf_destroy(conf);
    assert_int_equal(cs[0]->firings, 2); /* p1's window, then p2's at the end */
    assert_int_equal(cs[1]->records, 1);
    assert_int_equal(cs[2]->records, 1);
    assert_int_equal(weir_sink_written(ss[0]), 2);
    for (int i = 0; i < 3; i++)
        weir_sink_destroy(ss[i]);
    assert_int_equal(destroyed, 3);
}

/* The file sink counts a firing or a record once (it used to be counted by the wrapper and
 * the sink alike for some sinks). */
static void test_file_sink_counts_once(void **state)
{
    (void)state;
    char path[] = "/tmp/weir-test-sink-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    static const weir_agg_spec aggs[1] = {{&weir_agg_count, "event_count", NULL}};
    char err[256];
    weir_sink *s = weir_file_sink_new(path, "product_id", aggs, 1, err, sizeof err);
    assert_non_null(s);
    uint64_t v[1] = {5};
    weir_firing f = {{"p", 1}, 0, 60000, 0, v, 1};
    assert_int_equal(weir_sink_firing(s, &f), WEIR_OK);
    assert_int_equal(weir_sink_record(s, (weir_slice){"{}", 2}, 0), WEIR_OK);
    assert_int_equal(weir_sink_flush(s, -1), WEIR_OK);
    assert_int_equal(weir_sink_written(s), 2);
    assert_null(weir_sink_impl(s));
    weir_sink_destroy(s);
    unlink(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_custom_sink),
        cmocka_unit_test(test_missing_functions_are_named),
        cmocka_unit_test(test_pipeline_into_custom_sinks),
        cmocka_unit_test(test_file_sink_counts_once),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
