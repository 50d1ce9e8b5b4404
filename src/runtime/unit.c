/* Processing units: the snapshot envelope they share, pre-formatted output to sinks, and
 * unique-users' pipeline as a unit. */
#include "runtime/unit.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "connectors/kafka_int.h"
#include "runtime/held_sink.h"
#include "runtime/job_int.h"
#include "runtime/meaning.h"
#include "state/bytes.h"

weir_err weir__unit_snap_write(const char magic[8], uint32_t version, const uint64_t *counters,
                               uint32_t n_counters, const uint8_t *op, size_t op_len, uint8_t **out,
                               size_t *out_len)
{
    size_t len = 16 + 8 * (size_t)n_counters + 8 + op_len + 8;
    uint8_t *b = malloc(len);
    if (!b)
        return WEIR_ERR_NOMEM;
    memcpy(b, magic, 8);
    weir__put_le64(b + 8, (uint64_t)version | (uint64_t)n_counters << 32);
    uint8_t *q = b + 16;
    for (uint32_t i = 0; i < n_counters; i++, q += 8)
        weir__put_le64(q, counters[i]);
    weir__put_le64(q, op_len);
    if (op_len)
        memcpy(q + 8, op, op_len);
    q += 8 + op_len;
    weir__put_le64(q, XXH64(b, (size_t)(q - b), 0));
    *out = b;
    *out_len = len;
    return WEIR_OK;
}

weir_err weir__unit_snap_read(const uint8_t *buf, size_t len, const char magic[8], uint32_t version,
                              uint32_t n_counters, const char *what, const uint8_t **counters,
                              const uint8_t **op, size_t *op_len, char *errstr, size_t errstr_size)
{
    size_t fixed = 16 + 8 * (size_t)n_counters + 8 + 8;
    if (len < fixed || memcmp(buf, magic, 8) != 0) {
        if (errstr && errstr_size)
            snprintf(errstr, errstr_size, "%s: bad magic or too short", what);
        return WEIR_ERR_CORRUPT;
    }
    uint64_t vc = weir__get_le64(buf + 8);
    if ((uint32_t)vc != version || (vc >> 32) != n_counters) {
        if (errstr && errstr_size)
            snprintf(errstr, errstr_size, "%s: unsupported version %u", what,
                     (unsigned)(uint32_t)vc);
        return WEIR_ERR_UNSUPPORTED;
    }
    const uint8_t *q = buf + 16 + 8 * (size_t)n_counters;
    uint64_t ol = weir__get_le64(q);
    if (ol != len - fixed || weir__get_le64(buf + len - 8) != XXH64(buf, len - 8, 0)) {
        if (errstr && errstr_size)
            snprintf(errstr, errstr_size, "%s: truncated or checksum mismatch", what);
        return WEIR_ERR_CORRUPT;
    }
    *counters = buf + 16;
    *op = q + 8;
    *op_len = (size_t)ol;
    return WEIR_OK;
}

weir_err weir__sink_message(weir_sink *s, const char *key, size_t key_len, const char *val,
                            size_t len, int64_t ts)
{
    if (!s)
        return WEIR_OK;
    if (weir__held_is(s))
        return weir__held_put((weir__held *)s, key, key_len, val, len, ts);
    if (weir__kafka_sink_handle(s)) {
        if (key && !key_len)
            key = ""; /* an empty key is still a key, distinct from none */
        return weir__kafka_sink_produce(s, key, key_len, val, len, ts, NULL, NULL, 0);
    }
    return weir_sink_record(s, (weir_slice){val, len}, 0);
}

/* ---------------------------------------------------------------- the pipeline as a unit */

typedef struct pipe_unit {
    weir__unit base;
    weir_pipeline *pl;
} pipe_unit;

static weir_pipeline *pl_of(const weir__unit *u)
{
    return ((const pipe_unit *)u)->pl;
}

static weir_err pu_push(weir__unit *u, const weir_record *recs, size_t n, int64_t wall_ms)
{
    return weir_pipeline_push(pl_of(u), recs, n, wall_ms);
}

static weir_err pu_tick(weir__unit *u, int64_t wall_ms)
{
    return weir_pipeline_tick(pl_of(u), wall_ms);
}

static weir_err pu_finish(weir__unit *u)
{
    return weir_pipeline_finish(pl_of(u));
}

static weir_err pu_snapshot(const weir__unit *u, uint8_t **out, size_t *out_len)
{
    return weir_pipeline_snapshot(pl_of(u), out, out_len);
}

static weir_err pu_restore(weir__unit *u, const uint8_t *buf, size_t len, char *errstr,
                           size_t errstr_size)
{
    return weir_pipeline_restore(pl_of(u), buf, len, errstr, errstr_size);
}

static void pu_stats(const weir__unit *u, weir__unit_stats *out, int with_state)
{
    out->filtered = 0;
    if (with_state)
        weir_pipeline_stats_get(pl_of(u), &out->p);
    else
        weir__pipeline_counters(pl_of(u), &out->p);
}

static int64_t pu_watermark(const weir__unit *u)
{
    return weir_window_op_watermark(weir_pipeline_operator(pl_of(u)));
}

static weir_err pu_set_partitions(weir__unit *u, int partitions)
{
    return weir_window_op_set_partitions(weir_pipeline_operator(pl_of(u)), partitions);
}

static weir_err pu_reset_partition(weir__unit *u, int partition)
{
    return weir_window_op_reset_partition(weir_pipeline_operator(pl_of(u)), partition);
}

static void pu_destroy(weir__unit *u)
{
    weir_pipeline_destroy(pl_of(u));
    free(u);
}

static const weir__unit_ops PIPE_OPS = {
    .push = pu_push,
    .tick = pu_tick,
    .finish = pu_finish,
    .snapshot = pu_snapshot,
    .restore = pu_restore,
    .stats = pu_stats,
    .watermark = pu_watermark,
    .set_partitions = pu_set_partitions,
    .reset_partition = pu_reset_partition,
    .destroy = pu_destroy,
};

static weir_err pu_create(const weir_conf *conf, int partitions, const weir__unit_sinks *s,
                          weir__unit **out, char *errstr, size_t errstr_size)
{
    pipe_unit *u = calloc(1, sizeof *u);
    if (!u)
        return WEIR_ERR_NOMEM;
    char why[256] = "";
    u->base.ops = &PIPE_OPS;
    u->pl = weir_pipeline_new(conf, partitions, s->sinks, s->n, s->late, s->dead, why, sizeof why);
    if (!u->pl) {
        free(u);
        if (!why[0])
            return WEIR_ERR_NOMEM;
        snprintf(errstr, errstr_size, "%s", why);
        return WEIR_ERR_INVALID_ARG;
    }
    *out = &u->base;
    return WEIR_OK;
}

static size_t pu_sink_fields(const weir_conf *conf, weir_agg_spec *aggs, int *hll_precision,
                             const char **key_field)
{
    *key_field = weir_conf_get_bool(conf, "global") ? NULL : weir_conf_get(conf, "key.field");
    return weir_aggs_from_conf(conf, aggs, hll_precision);
}

weir_pipeline *weir__unit_pipeline(weir__unit *u)
{
    return u && u->ops == &PIPE_OPS ? pl_of(u) : NULL;
}

const weir__unit_kind weir__pipeline_kind = {
    .name = "unique-users",
    .create = pu_create,
    .sink_fields = pu_sink_fields,
    .meaning = weir__conf_meaning,
    .filters = 0,
};
