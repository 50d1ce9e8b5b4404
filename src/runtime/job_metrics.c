/* The job series of docs/OPERATIONS.md, published from the job's loop once per batch. */
#include <stdio.h>
#include <stdlib.h>

#include "runtime/job_int.h"

#define MAX_PARTS 1024 /* partitions with series of their own; more share none */

typedef struct part_series {
    weir_gauge *wm, *lag, *consumer_lag;
} part_series;

struct weir__job_metrics {
    weir_metrics *m;
    weir_counter *valid, *invalid, *filtered, *invalid_by[WEIR_REC_STATUS_COUNT];
    weir_counter *late_dropped, *late_accepted, *emissions;
    weir_gauge *windows, *keys, *state;
    weir_counter *ckpts, *ckpt_fail;
    weir_histogram *ckpt_dur;
    weir_gauge *ckpt_bytes;
    weir_gauge *queue;
    weir_counter *produced, *delivery_fail;
    uint64_t n_ckpts, n_ckpt_fail;
    part_series parts[MAX_PARTS];
};

#define L(...) ((const char *const[]){__VA_ARGS__, NULL})

static const char REC[] =
    "Records read, by outcome: valid, invalid (failed to decode), filtered (dropped by a filter).";
static const char LATE[] =
    "Valid records behind the watermark: accepted within the allowed lateness, or dropped.";

weir_err weir__job_metrics_new(weir_metrics *m, weir__job_metrics **out)
{
    *out = NULL;
    if (!m)
        return WEIR_OK;
    weir__job_metrics *j = calloc(1, sizeof *j);
    if (!j)
        return WEIR_ERR_NOMEM;
    j->m = m;
    weir_err rc = WEIR_OK;
#define REG(call)                                                                                  \
    do {                                                                                           \
        if (rc == WEIR_OK)                                                                         \
            rc = (call);                                                                           \
    } while (0)
    REG(weir_metrics_counter(m, "weir_records_total", REC, L("outcome", "valid"), &j->valid));
    REG(weir_metrics_counter(m, "weir_records_total", REC, L("outcome", "invalid"), &j->invalid));
    for (int s = 1; s < WEIR_REC_STATUS_COUNT; s++)
        REG(weir_metrics_counter(m, "weir_records_invalid_total", "Invalid records by reason.",
                                 L("reason", weir_rec_status_name((weir_rec_status)s)),
                                 &j->invalid_by[s]));
    REG(weir_metrics_counter(m, "weir_records_late_total", LATE, L("action", "dropped"),
                             &j->late_dropped));
    REG(weir_metrics_counter(m, "weir_records_late_total", LATE, L("action", "accepted"),
                             &j->late_accepted));
    REG(weir_metrics_counter(m, "weir_emissions_total", "Window results written to the sinks.",
                             NULL, &j->emissions));
    REG(weir_metrics_gauge(m, "weir_windows_open", "Windows held by the operator.", NULL,
                           &j->windows));
    REG(weir_metrics_gauge(m, "weir_window_keys", "Keys held over all open windows.", NULL,
                           &j->keys));
    REG(weir_metrics_gauge(m, "weir_state_bytes", "Bytes of operator state in memory.", NULL,
                           &j->state));
    REG(weir_metrics_counter(m, "weir_checkpoints_total", "Checkpoints written.", NULL, &j->ckpts));
    REG(weir_metrics_counter(m, "weir_checkpoint_failures_total", "Checkpoints that failed.", NULL,
                             &j->ckpt_fail));
    static const double ckb[] = {0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30};
    REG(weir_metrics_histogram(m, "weir_checkpoint_duration_seconds",
                               "Time to write one checkpoint.", NULL, ckb, 10, &j->ckpt_dur));
    REG(weir_metrics_gauge(m, "weir_checkpoint_bytes", "Size of the last checkpoint.", NULL,
                           &j->ckpt_bytes));
#undef REG
    if (rc != WEIR_OK) {
        free(j);
        return rc;
    }
    *out = j;
    return WEIR_OK;
}

void weir__job_metrics_destroy(weir__job_metrics *jm)
{
    free(jm);
}

void weir__job_metrics_publish(weir__job_metrics *jm, const weir_pipeline_stats *st, int with_state)
{
    if (!jm)
        return;
    weir_counter_set(jm->valid, st->valid);
    weir_counter_set(jm->invalid, st->invalid);
    for (int s = 1; s < WEIR_REC_STATUS_COUNT; s++)
        weir_counter_set(jm->invalid_by[s], st->invalid_by[s]);
    weir_counter_set(jm->late_dropped, st->window.late_dropped);
    weir_counter_set(jm->late_accepted, st->window.late_accepted);
    weir_counter_set(jm->emissions, st->window.emissions);
    weir_gauge_set(jm->windows, (double)st->window.live_windows);
    weir_gauge_set(jm->keys, (double)st->window.live_keys);
    if (with_state)
        weir_gauge_set(jm->state, (double)st->window.state_bytes);
}

void weir__job_metrics_filtered(weir__job_metrics *jm, uint64_t total)
{
    if (!jm)
        return;
    /* Registered at the first report, so that a job without a filter exports no series that
     * can only ever read 0. */
    if (!jm->filtered && weir_metrics_counter(jm->m, "weir_records_total", REC,
                                              L("outcome", "filtered"), &jm->filtered) != WEIR_OK)
        return;
    weir_counter_set(jm->filtered, total);
}

static void part_label(int32_t partition, char *buf, size_t n)
{
    snprintf(buf, n, "%d", (int)partition);
}

void weir__job_metrics_watermark(weir__job_metrics *jm, int32_t partition, int64_t wm_ms,
                                 int64_t now_ms)
{
    if (!jm || partition < 0 || partition >= MAX_PARTS || wm_ms == INT64_MIN)
        return;
    part_series *ps = &jm->parts[partition];
    if (!ps->wm) {
        char p[16];
        part_label(partition, p, sizeof p);
        if (weir_metrics_gauge(jm->m, "weir_watermark_seconds",
                               "Event-time watermark per partition, Unix seconds.",
                               L("partition", p), &ps->wm) != WEIR_OK ||
            weir_metrics_gauge(jm->m, "weir_watermark_lag_seconds",
                               "Wall-clock time minus the watermark, per partition.",
                               L("partition", p), &ps->lag) != WEIR_OK) {
            ps->wm = NULL;
            return;
        }
    }
    weir_gauge_set(ps->wm, (double)wm_ms / 1000.0);
    weir_gauge_set(ps->lag, (double)(now_ms - wm_ms) / 1000.0);
}

void weir__job_metrics_consumer_lag(weir__job_metrics *jm, const char *topic, int32_t partition,
                                    int64_t lag)
{
    if (!jm || partition < 0 || partition >= MAX_PARTS || lag < 0)
        return;
    part_series *ps = &jm->parts[partition];
    if (!ps->consumer_lag) {
        char p[16];
        part_label(partition, p, sizeof p);
        if (weir_metrics_gauge(jm->m, "weir_kafka_consumer_lag_records",
                               "Records between the consumer's position and the partition's "
                               "high watermark.",
                               L("topic", topic, "partition", p), &ps->consumer_lag) != WEIR_OK)
            return;
    }
    weir_gauge_set(ps->consumer_lag, (double)lag);
}

void weir__job_metrics_partition_gone(weir__job_metrics *jm, const char *topic, int32_t partition)
{
    if (!jm || partition < 0 || partition >= MAX_PARTS)
        return;
    part_series *ps = &jm->parts[partition];
    char p[16];
    part_label(partition, p, sizeof p);
    if (ps->wm) {
        weir_metrics_remove(jm->m, "weir_watermark_seconds", L("partition", p));
        weir_metrics_remove(jm->m, "weir_watermark_lag_seconds", L("partition", p));
    }
    if (ps->consumer_lag)
        weir_metrics_remove(jm->m, "weir_kafka_consumer_lag_records",
                            L("topic", topic, "partition", p));
    *ps = (part_series){0};
}

void weir__job_metrics_checkpoint(weir__job_metrics *jm, int ok, double seconds, uint64_t bytes)
{
    if (!jm)
        return;
    if (!ok) {
        weir_counter_set(jm->ckpt_fail, ++jm->n_ckpt_fail);
        return;
    }
    weir_counter_set(jm->ckpts, ++jm->n_ckpts);
    weir_histogram_observe(jm->ckpt_dur, seconds);
    weir_gauge_set(jm->ckpt_bytes, (double)bytes);
}

void weir__job_metrics_producer(weir__job_metrics *jm, uint64_t queued, uint64_t produced,
                                uint64_t failed)
{
    if (!jm)
        return;
    if (!jm->queue &&
        (weir_metrics_gauge(jm->m, "weir_kafka_producer_queue_messages",
                            "Messages waiting in the producer's local queue.", NULL,
                            &jm->queue) != WEIR_OK ||
         weir_metrics_counter(jm->m, "weir_kafka_produced_total",
                              "Messages handed to the producer.", NULL, &jm->produced) != WEIR_OK ||
         weir_metrics_counter(jm->m, "weir_kafka_delivery_failures_total",
                              "Messages whose delivery failed for good.", NULL,
                              &jm->delivery_fail) != WEIR_OK)) {
        jm->queue = NULL;
        return;
    }
    weir_gauge_set(jm->queue, (double)queued);
    weir_counter_set(jm->produced, produced);
    weir_counter_set(jm->delivery_fail, failed);
}
