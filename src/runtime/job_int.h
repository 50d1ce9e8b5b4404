/* What the job loops (file and Kafka mode) share privately: readiness and metrics updates. */
#ifndef WEIR_RUNTIME_JOB_INT_H
#define WEIR_RUNTIME_JOB_INT_H

#include <stdint.h>

#include "weir/job.h"
#include "weir/metrics.h"
#include "weir/pipeline.h"

/* As weir_pipeline_stats_get() without state_bytes (0), which needs a walk over the whole state:
 * cheap enough for every batch. In pipeline.c. */
void weir__pipeline_counters(const weir_pipeline *p, weir_pipeline_stats *out);

/* What weir_job_check() checks beyond the pipeline, for every kind of job: the metrics
 * endpoint's address, and the inputs and outputs checkpoints need in file mode (`table`: the
 * output is a table on standard output). WEIR_OK or WEIR_ERR_INVALID_ARG with one line. In
 * job_check.c. */
weir_err weir__job_check_common(const weir_conf *conf, int table, char *errstr, size_t errstr_size);

/* How often the job series' state bytes are computed, at most. */
#define WEIR__STATE_BYTES_MS 1000

/* Input open (file) or partitions assigned (Kafka): 1, else 0. NULL health: nothing. */
void weir__job_health_input(weir_job_health *h, int open);
/* The job's watermark is `wm` at monotonic time now_sec; an advance restarts the stuck clock. */
void weir__job_health_watermark(weir_job_health *h, int64_t wm, double now_sec);

/*
 * The job series of docs/OPERATIONS.md in a registry. Created (registering every family) before
 * the loop; the loop publishes once per batch with plain stores into handles it owns: no lock
 * on the hot path. Per-partition series are registered when a partition is first seen and
 * removed when it goes. All functions accept a NULL weir__job_metrics (metrics off).
 */
typedef struct weir__job_metrics weir__job_metrics;

/* NULL `m`: *out NULL, WEIR_OK. */
weir_err weir__job_metrics_new(weir_metrics *m, weir__job_metrics **out);
void weir__job_metrics_destroy(weir__job_metrics *jm);
/* The counters and gauges of the job's pipelines, summed (totals never decrease); the state
 * bytes too when `with_state` (they cost a walk over the state: see WEIR__STATE_BYTES_MS). */
void weir__job_metrics_publish(weir__job_metrics *jm, const weir_pipeline_stats *st,
                               int with_state);
/* Records dropped by the job's filter, in total: weir_records_total{outcome="filtered"}, which
 * is registered at the first call (a job that never filters has no such series). */
void weir__job_metrics_filtered(weir__job_metrics *jm, uint64_t total);
/* Partition `partition`'s watermark (ms, INT64_MIN: none yet) at wall time now_ms. */
void weir__job_metrics_watermark(weir__job_metrics *jm, int32_t partition, int64_t wm_ms,
                                 int64_t now_ms);
/* Kafka: the records between a partition's position and its high watermark (-1: unknown). */
void weir__job_metrics_consumer_lag(weir__job_metrics *jm, const char *topic, int32_t partition,
                                    int64_t lag);
/* A partition no longer assigned: its series go. */
void weir__job_metrics_partition_gone(weir__job_metrics *jm, const char *topic, int32_t partition);
/* One checkpoint: written (ok) or failed, its duration and size. */
void weir__job_metrics_checkpoint(weir__job_metrics *jm, int ok, double seconds, uint64_t bytes);
/* Kafka producer: messages queued locally, handed over in total, failed for good in total. */
void weir__job_metrics_producer(weir__job_metrics *jm, uint64_t queued, uint64_t produced,
                                uint64_t failed);
#endif
