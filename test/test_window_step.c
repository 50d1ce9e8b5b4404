/* A caller's second step after the generic window job (weir_window_step): its firings, its
 * end callback after each operator call, its extra aggregate through a unit snapshot and
 * restore, its place in the checkpoint meaning, and what weir_window_job_check_step refuses. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "runtime/meaning.h"
#include "runtime/unit.h"
#include "runtime/window_unit.h"
#include "weir/sink.h"
#include "weir/window_job.h"

/* The extra aggregate: the highest integer `v` of a window, serializable as 1 + 8 bytes. */
typedef struct top {
    int64_t max;
    int64_t has;
} top;

static void top_init(void *state, const void *params)
{
    (void)state;
    (void)params;
}

static weir_err top_add(void *state, const weir_value *v, const weir_row *r, const void *params)
{
    top *t = state;
    (void)r;
    (void)params;
    if (v->type == WEIR_VALUE_INT && (!t->has || v->u.i > t->max)) {
        t->max = v->u.i;
        t->has = 1;
    }
    return WEIR_OK;
}

static weir_err top_result(void *state, const void *params, weir_value *out)
{
    const top *t = state;
    (void)params;
    out->type = t->has ? WEIR_VALUE_INT : WEIR_VALUE_NULL;
    out->u.i = t->max;
    return WEIR_OK;
}

static size_t top_size(const void *state, const void *params)
{
    (void)state;
    (void)params;
    return 9;
}

static size_t top_ser(const void *state, uint8_t *out, const void *params)
{
    const top *t = state;
    (void)params;
    out[0] = (uint8_t)t->has;
    for (int i = 0; i < 8; i++)
        out[1 + i] = (uint8_t)((uint64_t)t->max >> (8 * i));
    return 9;
}

static weir_err top_de(void *state, const uint8_t *in, size_t len, const void *params)
{
    top *t = state;
    (void)params;
    if (len != 9 || in[0] > 1)
        return WEIR_ERR_CORRUPT;
    uint64_t m = 0;
    for (int i = 0; i < 8; i++)
        m |= (uint64_t)in[1 + i] << (8 * i);
    t->has = in[0];
    t->max = (int64_t)m;
    return WEIR_OK;
}

static const weir_gagg_ops TOP = {
    .name = "top",
    .state_size = sizeof(top),
    .init = top_init,
    .add = top_add,
    .result = top_result,
    .serialized_size = top_size,
    .serialize = top_ser,
    .deserialize = top_de,
};

/* The step: for each window, the configuration's count and the extra aggregate's maximum,
 * gathered at each firing and written at end. `arg` counts the calls. */
typedef struct calls {
    int units, firings, ends;
} calls;

typedef struct st {
    calls *c;
    char pending[1024];
    size_t len;
} st;

static weir_err unit_new(void *arg, weir_fields *fields, weir_gagg_def *aggs, size_t *n_aggs,
                         void **state, char *err, size_t err_size)
{
    st *s = calloc(1, sizeof *s);
    if (!s)
        return WEIR_ERR_NOMEM;
    s->c = arg;
    s->c->units++;
    int f = weir_fields_add(fields, "v", err, err_size);
    if (f < 0) {
        free(s);
        return WEIR_ERR_INVALID_ARG;
    }
    aggs[0] = (weir_gagg_def){&TOP, NULL, f, NULL, NULL, "top"};
    *n_aggs = 1;
    *state = s;
    return WEIR_OK;
}

static void unit_free(void *state)
{
    free(state);
}

static weir_err firing(void *state, const weir_gwindow_firing *f)
{
    st *s = state;
    s->c->firings++;
    assert_int_equal(f->n_values, 2);
    int n = snprintf(s->pending + s->len, sizeof s->pending - s->len,
                     "{\"start\":%lld,\"count\":%lld,\"top\":%lld}\n", (long long)f->window_start,
                     (long long)f->values[0].u.i, (long long)f->values[1].u.i);
    assert_true(n > 0 && (size_t)n < sizeof s->pending - s->len);
    s->len += (size_t)n;
    return WEIR_OK;
}

static weir_err end(void *state, weir_window_step_out *out)
{
    st *s = state;
    s->c->ends++;
    const char *p = s->pending;
    while (p < s->pending + s->len) {
        const char *nl = strchr(p, '\n');
        weir_err rc = weir_window_step_write(out, "k", 1, p, (size_t)(nl - p), 0);
        if (rc != WEIR_OK)
            return rc;
        p = nl + 1;
    }
    s->len = 0;
    return WEIR_OK;
}

static weir_conf *make_conf(void)
{
    weir_conf *conf = weir_conf_new();
    char err[256];
    assert_non_null(conf);
    assert_int_equal(weir_conf_set(conf, "global", "true", err, sizeof err), WEIR_OK);
    assert_int_equal(weir_conf_set(conf, "window.spec", "tumble:10s", err, sizeof err), WEIR_OK);
    assert_int_equal(weir_conf_set(conf, "aggregates", "count()", err, sizeof err), WEIR_OK);
    assert_int_equal(weir_conf_set(conf, "timestamp.field", "ts", err, sizeof err), WEIR_OK);
    assert_int_equal(weir_conf_set(conf, "timestamp.unit", "s", err, sizeof err), WEIR_OK);
    assert_int_equal(weir_conf_set(conf, "watermark.out.of.orderness", "0", err, sizeof err),
                     WEIR_OK);
    assert_int_equal(weir_conf_set(conf, "emit.mode", "final", err, sizeof err), WEIR_OK);
    return conf;
}

/* Two partitions; the watermark is the slower one's. */
static const char *const RECS[] = {
    "{\"ts\":1,\"v\":5}",  "{\"ts\":2,\"v\":9}",  "{\"ts\":3,\"v\":7}",  "{\"ts\":12,\"v\":4}",
    "{\"ts\":13,\"v\":6}", "{\"ts\":25,\"v\":1}", "{\"ts\":26,\"v\":3}", "not json",
};
static const int PART[] = {0, 1, 0, 0, 1, 1, 0, 1};
#define N_RECS (sizeof RECS / sizeof *RECS)

static const char WANT[] = "{\"start\":0,\"count\":3,\"top\":9}\n"
                           "{\"start\":10000,\"count\":2,\"top\":6}\n"
                           "{\"start\":20000,\"count\":2,\"top\":3}\n";

static void push(weir__unit *u, size_t from, size_t to)
{
    for (size_t i = from; i < to; i++) {
        weir_record r = {RECS[i], strlen(RECS[i]), PART[i], (int64_t)i};
        assert_int_equal(u->ops->push(u, &r, 1, 0), WEIR_OK);
    }
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    static char b[4096];
    size_t n = fread(b, 1, sizeof b - 1, f);
    b[n] = '\0';
    fclose(f);
    return b;
}

/* The unit made with a step writes the step's lines, not the firings; an interrupted unit
 * restored from its snapshot (the extra aggregate's state in it) writes the rest. */
static void test_step_unit(void **state)
{
    (void)state;
    weir_conf *conf = make_conf();
    char err[512] = "", path[] = "/tmp/weir-step-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    calls c = {0};
    weir_window_step step = {"toy", 1, &c, unit_new, unit_free, firing, end, NULL};
    assert_int_equal(weir_window_job_check_step(conf, &step, err, sizeof err), WEIR_OK);

    /* Uninterrupted. */
    weir_sink *out = weir_file_sink_new(path, NULL, NULL, 0, err, sizeof err);
    assert_non_null(out);
    weir__unit_sinks sinks = {&out, 1, NULL, NULL};
    weir__unit *u = NULL;
    assert_int_equal(weir__wunit_create_step(&step, conf, 2, &sinks, &u, err, sizeof err), WEIR_OK);
    push(u, 0, N_RECS);
    assert_int_equal(u->ops->finish(u), WEIR_OK);
    assert_int_equal(c.firings, 3);
    assert_true(c.ends >= (int)N_RECS);
    weir__unit_destroy(u);
    assert_int_equal(weir_sink_flush(out, 1000), WEIR_OK);
    weir_sink_destroy(out);
    assert_string_equal(slurp(path), WANT);

    /* Interrupted after 5 records: [0, 10) has fired, [10, 20) is open. */
    out = weir_file_sink_new(path, NULL, NULL, 0, err, sizeof err);
    assert_non_null(out);
    sinks.sinks = &out;
    assert_int_equal(weir__wunit_create_step(&step, conf, 2, &sinks, &u, err, sizeof err), WEIR_OK);
    push(u, 0, 5);
    uint8_t *snap;
    size_t snap_len;
    assert_int_equal(u->ops->snapshot(u, &snap, &snap_len), WEIR_OK);
    weir__unit_destroy(u);
    weir__unit *v = NULL;
    assert_int_equal(weir__wunit_create_step(&step, conf, 2, &sinks, &v, err, sizeof err), WEIR_OK);
    assert_int_equal(v->ops->restore(v, snap, snap_len, err, sizeof err), WEIR_OK);
    free(snap);
    push(v, 5, N_RECS);
    assert_int_equal(v->ops->finish(v), WEIR_OK);
    weir__unit_destroy(v);
    assert_int_equal(weir_sink_flush(out, 1000), WEIR_OK);
    weir_sink_destroy(out);
    assert_string_equal(slurp(path), WANT);
    unlink(path);

    /* The meaning names the step; without it the unit's state means something else. */
    char *m = weir__wunit_meaning_step(&step, conf), *plain = weir__wunit_meaning(conf);
    assert_non_null(strstr(m, "step=toy/1"));
    assert_string_not_equal(m, plain);
    char why[512];
    weir__meaning_diff(conf, m, strlen(m), why, sizeof why);
    assert_non_null(strstr(why, "step=toy/1 (now another step, or none)"));
    weir__meaning_diff(conf, plain, strlen(plain), why, sizeof why);
    assert_non_null(strstr(why, "no step (now a step, or keys this checkpoint has none of)"));
    free(m);
    free(plain);
    assert_int_equal(c.units, 4); /* the check's, two runs', the restored one */
    weir_conf_destroy(conf);
}

static void test_step_refusals(void **state)
{
    (void)state;
    weir_conf *conf = make_conf();
    char err[512] = "";
    calls c = {0};
    weir_window_step step = {"toy", 1, &c, unit_new, unit_free, firing, end, NULL};
    weir_window_step no_end = step, bad_name = step;
    no_end.end = NULL;
    bad_name.name = "a b";
    assert_int_equal(weir_window_job_check_step(conf, &no_end, err, sizeof err),
                     WEIR_ERR_INVALID_ARG);
    assert_int_equal(weir_window_job_check_step(conf, &bad_name, err, sizeof err),
                     WEIR_ERR_INVALID_ARG);
    assert_int_equal(weir_window_job_check_step(conf, NULL, err, sizeof err), WEIR_ERR_INVALID_ARG);

    /* One unit per partition would see a share of each window: refused on Kafka. */
    assert_int_equal(weir_conf_set(conf, "brokers", "127.0.0.1:9", err, sizeof err), WEIR_OK);
    assert_int_equal(weir_conf_set(conf, "global", "false", err, sizeof err), WEIR_OK);
    assert_int_equal(weir_conf_set(conf, "key.field", "v", err, sizeof err), WEIR_OK);
    assert_int_equal(weir_window_job_check_step(conf, &step, err, sizeof err),
                     WEIR_ERR_INVALID_ARG);
    assert_non_null(strstr(err, "input.keyed"));
    assert_int_equal(weir_window_job_run_kafka_step(conf, &step, NULL, err, sizeof err),
                     WEIR_ERR_INVALID_ARG);
    assert_int_equal(weir_conf_set(conf, "input.keyed", "false", err, sizeof err), WEIR_OK);
    assert_int_equal(weir_window_job_check_step(conf, &step, err, sizeof err), WEIR_OK);

    /* A step writes lines and messages, not DynamoDB items. */
    assert_int_equal(weir_conf_set(conf, "dynamodb.table", "t", err, sizeof err), WEIR_OK);
    assert_int_equal(weir_window_job_check_step(conf, &step, err, sizeof err),
                     WEIR_ERR_INVALID_ARG);
    assert_non_null(strstr(err, "dynamodb"));
    weir_conf_destroy(conf);

    /* The step's aggregate counts as the one the job needs. */
    conf = weir_conf_new();
    assert_int_equal(weir_conf_set(conf, "global", "true", err, sizeof err), WEIR_OK);
    assert_int_equal(weir_window_job_check(conf, err, sizeof err), WEIR_ERR_INVALID_ARG);
    assert_int_equal(weir_window_job_check_step(conf, &step, err, sizeof err), WEIR_OK);
    weir_conf_destroy(conf);
}

static weir_err count_record(void *state, const weir_value *values, size_t n_values, int64_t ts)
{
    st *s = state;
    (void)values;
    (void)ts;
    assert_true(n_values >= 1);
    s->c->firings += 100; /* a record, told apart from firings */
    return WEIR_OK;
}

/* A step with a record callback sees every valid record once, before any window fires. */
static void test_step_record(void **state)
{
    (void)state;
    weir_conf *conf = make_conf();
    char err[512] = "";
    calls c = {0};
    weir_window_step step = {"toy", 1, &c, unit_new, unit_free, firing, end, count_record};
    weir__unit_sinks none = {0};
    weir__unit *u = NULL;
    assert_int_equal(weir__wunit_create_step(&step, conf, 2, &none, &u, err, sizeof err), WEIR_OK);
    push(u, 0, 2);
    assert_int_equal(c.firings, 200);
    assert_int_equal(c.ends, 2); /* after each push, though no window fired */
    push(u, 2, N_RECS);
    assert_int_equal(u->ops->finish(u), WEIR_OK);
    assert_int_equal(c.firings, 7 * 100 + 3); /* "not json" is no record of the step's */
    weir__unit_destroy(u);
    weir_conf_destroy(conf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_step_unit),
        cmocka_unit_test(test_step_refusals),
        cmocka_unit_test(test_step_record),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
