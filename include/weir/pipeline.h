/* A pipeline: decode, watermark, window operator and sinks for one set of partitions. */
#ifndef WEIR_PIPELINE_H
#define WEIR_PIPELINE_H

#include <stddef.h>
#include <stdint.h>

#include "weir/conf.h"
#include "weir/err.h"
#include "weir/event.h"
#include "weir/sink.h"
#include "weir/window.h"

#ifdef __cplusplus
extern "C" {
#endif

/* One raw record as a source read it. */
typedef struct weir_record {
    const char *data;
    size_t len;
    int32_t partition; /* index within the pipeline, 0..partitions-1 */
    int64_t offset;    /* source position (byte offset, Kafka offset) */
} weir_record;

typedef struct weir_pipeline_stats {
    uint64_t records;                           /* records pushed */
    uint64_t valid;                             /* decoded records */
    uint64_t invalid;                           /* records that failed to decode */
    uint64_t invalid_by[WEIR_REC_STATUS_COUNT]; /* invalid records by reason */
    weir_window_stats window;
} weir_pipeline_stats;

/*
 * A single-threaded pipeline that owns its decoder and window operator. It
 * writes every firing to each of `sinks`, late records to `late` and invalid
 * records to `dead_letter` (either may be NULL). The sinks are not owned and
 * must outlive the pipeline; several pipelines may share sinks only when they
 * run on one thread.
 *
 * Thread-safety: one thread at a time per pipeline.
 */
typedef struct weir_pipeline weir_pipeline;

/* Creates a pipeline over `partitions` source partitions from `conf` (not retained).
 * Returns NULL with a one-line reason in errstr on bad configuration, NULL with errstr
 * empty when out of memory. */
weir_pipeline *weir_pipeline_new(const weir_conf *conf, int partitions, weir_sink *const *sinks,
                                 size_t n_sinks, weir_sink *late, weir_sink *dead_letter,
                                 char *errstr, size_t errstr_size);

/* Frees the pipeline and its state without emitting. Accepts NULL. */
void weir_pipeline_destroy(weir_pipeline *p);

/*
 * Decodes and processes `n` records in order. Invalid records are counted and
 * sent to the dead-letter sink; they never fail the call. Returns WEIR_OK, or
 * the error of a sink that failed for good (the job must stop), or WEIR_ERR_NOMEM.
 * The records' bytes need only be valid during the call.
 */
weir_err weir_pipeline_push(weir_pipeline *p, const weir_record *recs, size_t n, int64_t wall_ms);

/* Wall-clock tick for idleness when no records arrive. */
weir_err weir_pipeline_tick(weir_pipeline *p, int64_t wall_ms);

/* End of a bounded input: fires what is left (see weir_window_op_finish). */
weir_err weir_pipeline_finish(weir_pipeline *p);

/* Counters. */
void weir_pipeline_stats_get(const weir_pipeline *p, weir_pipeline_stats *out);

/*
 * A snapshot of the pipeline: its counters and its operator (weir_window_op_snapshot),
 * in a malloc'd buffer the caller frees. Layout: magic "WEIRPIPE", u32 version, u32
 * counter count, the counters (u64 little-endian), u64 operator snapshot length, the
 * operator snapshot, XXH64 of everything before. Returns WEIR_ERR_NOMEM on failure.
 */
weir_err weir_pipeline_snapshot(const weir_pipeline *p, uint8_t **out, size_t *out_len);

/*
 * Restores a fresh pipeline (created from the same configuration) from a snapshot.
 * Validates everything first: on error the pipeline is unchanged and errstr says why
 * (WEIR_ERR_CORRUPT, WEIR_ERR_UNSUPPORTED, or WEIR_ERR_INVALID_ARG for a snapshot of a
 * differently configured operator).
 */
weir_err weir_pipeline_restore(weir_pipeline *p, const uint8_t *buf, size_t len, char *errstr,
                               size_t errstr_size);

/* The operator, for snapshots and watermark queries. Owned by the pipeline. */
weir_window_op *weir_pipeline_operator(weir_pipeline *p);

/* The aggregates of the pipeline's operator (for sinks' field names) and the key
 * field (NULL in a global aggregation). Valid while the pipeline lives. */
const weir_agg_spec *weir_pipeline_aggs(const weir_pipeline *p, size_t *n);
const char *weir_pipeline_key_field(const weir_pipeline *p);

/* Aggregates and key field a conf implies, without creating a pipeline: for creating
 * sinks before pipelines. `aggs` must have room for WEIR_MAX_AGGS; `hll_precision`
 * must outlive whatever uses the specs. Returns the number of aggregates. */
size_t weir_aggs_from_conf(const weir_conf *conf, weir_agg_spec *aggs, int *hll_precision);

#ifdef __cplusplus
}
#endif
#endif
