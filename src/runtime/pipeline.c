/* A pipeline: decode a batch of records, run the window operator, hand firings to sinks. */
#include "weir/pipeline.h"
#include "operators/window_int.h"
#include "runtime/job_int.h"
#include "runtime/unit.h"
#include "state/bytes.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct weir_pipeline {
    weir_decoder *dec;
    weir_window_op *op;
    weir_window_params params;
    int hll_precision; /* storage the HLL aggregate's params point to */
    char *key_field;
    weir_sink **sinks;
    size_t n_sinks;
    weir_sink *late, *dead;
    weir_event *events;
    size_t cap_events;
    weir_pipeline_stats st;
    weir_err sink_err;
};

size_t weir_aggs_from_conf(const weir_conf *conf, weir_agg_spec *aggs, int *hll_precision)
{
    weir_window_params p;
    weir_window_params_from_conf(conf, &p, hll_precision, NULL, 0);
    memcpy(aggs, p.aggs, p.n_aggs * sizeof(weir_agg_spec));
    return p.n_aggs;
}

static int on_firing(void *opaque, const weir_firing *f)
{
    weir_pipeline *p = opaque;
    for (size_t i = 0; i < p->n_sinks; i++) {
        weir_err rc = weir_sink_firing(p->sinks[i], f);
        if (rc != WEIR_OK) {
            p->sink_err = rc;
            return -1;
        }
    }
    return 0;
}

static void on_late(void *opaque, const weir_event *ev)
{
    weir_pipeline *p = opaque;
    weir_err rc = weir_sink_record(p->late, ev->raw, ev->partition);
    if (rc != WEIR_OK && p->sink_err == WEIR_OK)
        p->sink_err = rc;
}

weir_pipeline *weir_pipeline_new(const weir_conf *conf, int partitions, weir_sink *const *sinks,
                                 size_t n_sinks, weir_sink *late, weir_sink *dead_letter,
                                 char *errstr, size_t errstr_size)
{
    if (errstr && errstr_size)
        errstr[0] = '\0'; /* stays empty when memory runs out */
    weir_pipeline *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    if (weir_window_params_from_conf(conf, &p->params, &p->hll_precision, errstr, errstr_size) !=
        WEIR_OK)
        goto fail;
    p->params.partitions = partitions;
    p->dec = weir_decoder_new(conf, errstr, errstr_size);
    if (!p->dec)
        goto fail;
    p->op = weir_window_op_new(&p->params, on_firing, p, errstr, errstr_size);
    if (!p->op)
        goto fail;
    weir_window_op_set_late_output(p->op, late ? on_late : NULL, p);
    if (!p->params.global && !(p->key_field = strdup(weir_conf_get(conf, "key.field"))))
        goto fail;
    if (n_sinks) {
        p->sinks = malloc(n_sinks * sizeof(weir_sink *));
        if (!p->sinks)
            goto fail;
        memcpy(p->sinks, sinks, n_sinks * sizeof(weir_sink *));
    }
    p->n_sinks = n_sinks;
    p->late = late;
    p->dead = dead_letter;
    return p;
fail:
    weir_pipeline_destroy(p);
    return NULL;
}

void weir_pipeline_destroy(weir_pipeline *p)
{
    if (!p)
        return;
    weir_decoder_destroy(p->dec);
    weir_window_op_destroy(p->op);
    free(p->key_field);
    free(p->sinks);
    free(p->events);
    free(p);
}

weir_err weir_pipeline_push(weir_pipeline *p, const weir_record *recs, size_t n, int64_t wall_ms)
{
    if (n > p->cap_events) {
        weir_event *ev = realloc(p->events, n * sizeof(weir_event));
        if (!ev)
            return WEIR_ERR_NOMEM;
        p->events = ev;
        p->cap_events = n;
    }
    size_t nv = 0;
    for (size_t i = 0; i < n; i++) {
        weir_event *ev = &p->events[nv];
        weir_rec_status s = weir_decoder_decode(p->dec, recs[i].data, recs[i].len, ev);
        if (s != WEIR_REC_OK) {
            p->st.invalid++;
            p->st.invalid_by[s]++;
            weir_err rc = weir_sink_record(p->dead, (weir_slice){recs[i].data, recs[i].len},
                                           recs[i].partition);
            if (rc != WEIR_OK)
                return rc;
            continue;
        }
        ev->partition = recs[i].partition;
        nv++;
    }
    p->st.records += n;
    p->st.valid += nv;
    weir_err rc = weir_window_op_process(p->op, p->events, nv, wall_ms);
    weir_decoder_reset(p->dec);
    if (p->sink_err != WEIR_OK)
        return p->sink_err;
    return rc;
}

weir_err weir_pipeline_tick(weir_pipeline *p, int64_t wall_ms)
{
    weir_err rc = weir_window_op_tick(p->op, wall_ms);
    return p->sink_err != WEIR_OK ? p->sink_err : rc;
}

weir_err weir_pipeline_finish(weir_pipeline *p)
{
    weir_err rc = weir_window_op_finish(p->op);
    return p->sink_err != WEIR_OK ? p->sink_err : rc;
}

void weir_pipeline_stats_get(const weir_pipeline *p, weir_pipeline_stats *out)
{
    *out = p->st;
    weir_window_op_stats(p->op, &out->window);
}

void weir__pipeline_counters(const weir_pipeline *p, weir_pipeline_stats *out)
{
    *out = p->st;
    out->window = p->op->st;
    out->window.state_bytes = 0;
}

weir_window_op *weir_pipeline_operator(weir_pipeline *p)
{
    return p->op;
}

const weir_agg_spec *weir_pipeline_aggs(const weir_pipeline *p, size_t *n)
{
    *n = p->params.n_aggs;
    return p->params.aggs;
}

const char *weir_pipeline_key_field(const weir_pipeline *p)
{
    return p->key_field;
}

#define PIPE_MAGIC    "WEIRPIPE"
#define PIPE_VERSION  1
#define PIPE_COUNTERS (3 + WEIR_REC_STATUS_COUNT)

weir_err weir_pipeline_snapshot(const weir_pipeline *p, uint8_t **out, size_t *out_len)
{
    uint8_t *op_snap;
    size_t op_len;
    weir_err rc = weir_window_op_snapshot(p->op, &op_snap, &op_len);
    if (rc != WEIR_OK)
        return rc;
    uint64_t c[PIPE_COUNTERS] = {p->st.records, p->st.valid, p->st.invalid};
    for (int i = 0; i < WEIR_REC_STATUS_COUNT; i++)
        c[3 + i] = p->st.invalid_by[i];
    rc = weir__unit_snap_write(PIPE_MAGIC, PIPE_VERSION, c, PIPE_COUNTERS, op_snap, op_len, out,
                               out_len);
    free(op_snap);
    return rc;
}

weir_err weir_pipeline_restore(weir_pipeline *p, const uint8_t *buf, size_t len, char *errstr,
                               size_t errstr_size)
{
    const uint8_t *c, *op;
    size_t op_len;
    weir_err rc = weir__unit_snap_read(buf, len, PIPE_MAGIC, PIPE_VERSION, PIPE_COUNTERS,
                                       "pipeline snapshot", &c, &op, &op_len, errstr, errstr_size);
    if (rc == WEIR_OK)
        rc = weir_window_op_restore(p->op, op, op_len, errstr, errstr_size);
    if (rc != WEIR_OK)
        return rc;
    p->st.records = weir__get_le64(c);
    p->st.valid = weir__get_le64(c + 8);
    p->st.invalid = weir__get_le64(c + 16);
    for (int i = 0; i < WEIR_REC_STATUS_COUNT; i++)
        p->st.invalid_by[i] = weir__get_le64(c + 24 + 8 * i);
    return WEIR_OK;
}
