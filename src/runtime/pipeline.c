/* A pipeline: decode a batch of records, run the window operator, hand firings to sinks. */
#include "weir/pipeline.h"
#include "operators/window_int.h"
#include "runtime/job_int.h"
#include "state/bytes.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#define XXH_INLINE_ALL
#include <xxhash.h>

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
    size_t len = 16 + 8 * PIPE_COUNTERS + 8 + op_len + 8;
    uint8_t *b = malloc(len);
    if (!b) {
        free(op_snap);
        return WEIR_ERR_NOMEM;
    }
    memcpy(b, PIPE_MAGIC, 8);
    weir__put_le64(b + 8, (uint64_t)PIPE_VERSION | (uint64_t)PIPE_COUNTERS << 32);
    uint8_t *q = b + 16;
    uint64_t c[PIPE_COUNTERS] = {p->st.records, p->st.valid, p->st.invalid};
    for (int i = 0; i < WEIR_REC_STATUS_COUNT; i++)
        c[3 + i] = p->st.invalid_by[i];
    for (int i = 0; i < PIPE_COUNTERS; i++, q += 8)
        weir__put_le64(q, c[i]);
    weir__put_le64(q, op_len);
    memcpy(q + 8, op_snap, op_len);
    q += 8 + op_len;
    weir__put_le64(q, XXH64(b, (size_t)(q - b), 0));
    free(op_snap);
    *out = b;
    *out_len = len;
    return WEIR_OK;
}

weir_err weir_pipeline_restore(weir_pipeline *p, const uint8_t *buf, size_t len, char *errstr,
                               size_t errstr_size)
{
    size_t fixed = 16 + 8 * PIPE_COUNTERS + 8 + 8;
    if (len < fixed || memcmp(buf, PIPE_MAGIC, 8) != 0) {
        if (errstr && errstr_size)
            snprintf(errstr, errstr_size, "pipeline snapshot: bad magic or too short");
        return WEIR_ERR_CORRUPT;
    }
    uint64_t vc = weir__get_le64(buf + 8);
    if ((uint32_t)vc != PIPE_VERSION || (vc >> 32) != PIPE_COUNTERS) {
        if (errstr && errstr_size)
            snprintf(errstr, errstr_size, "pipeline snapshot: unsupported version %u",
                     (unsigned)(uint32_t)vc);
        return WEIR_ERR_UNSUPPORTED;
    }
    const uint8_t *q = buf + 16 + 8 * PIPE_COUNTERS;
    uint64_t op_len = weir__get_le64(q);
    if (op_len != len - fixed || weir__get_le64(buf + len - 8) != XXH64(buf, len - 8, 0)) {
        if (errstr && errstr_size)
            snprintf(errstr, errstr_size, "pipeline snapshot: truncated or checksum mismatch");
        return WEIR_ERR_CORRUPT;
    }
    weir_err rc = weir_window_op_restore(p->op, q + 8, (size_t)op_len, errstr, errstr_size);
    if (rc != WEIR_OK)
        return rc;
    const uint8_t *c = buf + 16;
    p->st.records = weir__get_le64(c);
    p->st.valid = weir__get_le64(c + 8);
    p->st.invalid = weir__get_le64(c + 16);
    for (int i = 0; i < WEIR_REC_STATUS_COUNT; i++)
        p->st.invalid_by[i] = weir__get_le64(c + 24 + 8 * i);
    return WEIR_OK;
}
