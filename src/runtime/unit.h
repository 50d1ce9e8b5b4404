/* Internal: a processing unit, what a job loop drives per partition (or over all partitions):
 * push records, tick, finish, snapshot and restore, counters. The Kafka loop runs any kind of
 * unit (unique-users' pipeline, the generic window job) without knowing which. */
#ifndef WEIR_RUNTIME_UNIT_H
#define WEIR_RUNTIME_UNIT_H

#include <stddef.h>
#include <stdint.h>

#include "weir/conf.h"
#include "weir/err.h"
#include "weir/pipeline.h"
#include "weir/sink.h"

/* A unit's counters: the pipeline's, plus the records a job-level filter passed over. */
typedef struct weir__unit_stats {
    weir_pipeline_stats p;
    uint64_t filtered;
} weir__unit_stats;

typedef struct weir__unit weir__unit;

/*
 * What every kind of unit does. A unit is single-threaded and owns its state; the sinks it
 * writes to are borrowed (they outlive it). push/tick/finish return WEIR_OK, or the error of
 * a sink that failed for good (the job must stop), or WEIR_ERR_NOMEM; invalid records are
 * counted and sent to the dead-letter sink, never an error.
 */
typedef struct weir__unit_ops {
    /* Decodes and processes `n` records in order; their bytes need only live during the
     * call. A record's partition is its index within the unit (0..partitions-1). */
    weir_err (*push)(weir__unit *u, const weir_record *recs, size_t n, int64_t wall_ms);
    /* Wall-clock tick for idleness when no records arrive. */
    weir_err (*tick)(weir__unit *u, int64_t wall_ms);
    /* End of a bounded input: fires what is left. */
    weir_err (*finish)(weir__unit *u);
    /* The unit's state in a malloc'd buffer the caller frees (weir__unit_snap_write's
     * envelope: magic, version, counters, the operator's snapshot, checksum). */
    weir_err (*snapshot)(const weir__unit *u, uint8_t **out, size_t *out_len);
    /* Restores a fresh unit of the same configuration; on error the unit is unchanged and
     * errstr says why (WEIR_ERR_CORRUPT, WEIR_ERR_UNSUPPORTED, WEIR_ERR_INVALID_ARG). */
    weir_err (*restore)(weir__unit *u, const uint8_t *buf, size_t len, char *errstr,
                        size_t errstr_size);
    /* Counters; the state bytes only `with_state` (a walk over the whole state). */
    void (*stats)(const weir__unit *u, weir__unit_stats *out, int with_state);
    /* The combined watermark (INT64_MIN: none yet). */
    int64_t (*watermark)(const weir__unit *u);
    /* A global unit's partitions change: their number, and an index whose source changed
     * restarting at minus infinity. */
    weir_err (*set_partitions)(weir__unit *u, int partitions);
    weir_err (*reset_partition)(weir__unit *u, int partition);
    void (*destroy)(weir__unit *u);
} weir__unit_ops;

struct weir__unit {
    const weir__unit_ops *ops;
};

/* Where a unit writes: firings to each of `sinks` (the results sink or the held sink that
 * stands for it, DynamoDB, files), late records to `late`, invalid ones to `dead` (either
 * may be NULL). */
typedef struct weir__unit_sinks {
    weir_sink *const *sinks;
    size_t n;
    weir_sink *late, *dead;
} weir__unit_sinks;

/*
 * A kind of unit: how a job makes its units and what its checkpoints mean. One per job
 * (unique-users' pipeline, the generic window job); the loops take it as a parameter.
 */
typedef struct weir__unit_kind {
    const char *name; /* for log lines */
    /* A unit over `partitions` partitions from `conf` (not retained). WEIR_ERR_INVALID_ARG
     * with one line in errstr for a configuration it refuses, WEIR_ERR_NOMEM. */
    weir_err (*create)(const weir_conf *conf, int partitions, const weir__unit_sinks *s,
                       weir__unit **out, char *errstr, size_t errstr_size);
    /* The key field and aggregates that sinks format this kind's firings with (aggs has room
     * for WEIR_MAX_AGGS; hll_precision must outlive the specs): the number of aggregates.
     * A kind that formats its own messages (weir__sink_message) returns 0 and no key. */
    size_t (*sink_fields)(const weir_conf *conf, weir_agg_spec *aggs, int *hll_precision,
                          const char **key_field);
    /* The configuration's meaning, written into checkpoints and compared on restore
     * (malloc'd, NULL when out of memory). */
    char *(*meaning)(const weir_conf *conf);
    int filters; /* the kind has job-level filters: summaries report `filtered` */
    /* The kind's operator counts no windows or keys created, only open ones: the Kafka
     * summary's `windows` and `keys` are those open at the stop, before a drain fires them. */
    int open_counts;
    /* File checkpoints of earlier releases (weir-window's WEIRWJOB, docs/CHECKPOINTS.md): the
     * meaning as they wrote it, and their counters and operator snapshot as this kind's unit
     * snapshot (malloc'd). NULL for a kind that had none. */
    char *(*legacy_meaning)(const weir_conf *conf);
    weir_err (*legacy_snapshot)(const uint64_t *counters, size_t n, const uint8_t *op,
                                size_t op_len, uint8_t **out, size_t *out_len);
    /* A kind made for one run carries the caller's data (the window job's step) in ctx;
     * when create_ctx and meaning_ctx are set they stand for create and meaning, with it.
     * Call through weir__kind_create and weir__kind_meaning. */
    const void *ctx;
    weir_err (*create_ctx)(const void *ctx, const weir_conf *conf, int partitions,
                           const weir__unit_sinks *s, weir__unit **out, char *errstr,
                           size_t errstr_size);
    char *(*meaning_ctx)(const void *ctx, const weir_conf *conf);
} weir__unit_kind;

static inline weir_err weir__kind_create(const weir__unit_kind *k, const weir_conf *conf,
                                         int partitions, const weir__unit_sinks *s,
                                         weir__unit **out, char *errstr, size_t errstr_size)
{
    return k->create_ctx ? k->create_ctx(k->ctx, conf, partitions, s, out, errstr, errstr_size)
                         : k->create(conf, partitions, s, out, errstr, errstr_size);
}

static inline char *weir__kind_meaning(const weir__unit_kind *k, const weir_conf *conf)
{
    return k->meaning_ctx ? k->meaning_ctx(k->ctx, conf) : k->meaning(conf);
}

/* unique-users' pipeline (weir/pipeline.h) as a unit. */
extern const weir__unit_kind weir__pipeline_kind;
/* The generic window job (weir/window_job.h) as a unit: window_unit.c. */
extern const weir__unit_kind weir__window_kind;

/* The pipeline inside a unit of weir__pipeline_kind (borrowed), NULL for another kind. */
weir_pipeline *weir__unit_pipeline(weir__unit *u);

static inline void weir__unit_destroy(weir__unit *u)
{
    if (u)
        u->ops->destroy(u);
}

/*
 * The one snapshot envelope of units: magic (8 bytes), u64 version | counter count << 32,
 * the counters (u64 each), u64 length and the operator's snapshot, XXH64 of everything
 * before (all little-endian). unique-users' WEIRPIPE (weir/pipeline.h) is this layout.
 */
weir_err weir__unit_snap_write(const char magic[8], uint32_t version, const uint64_t *counters,
                               uint32_t n_counters, const uint8_t *op, size_t op_len, uint8_t **out,
                               size_t *out_len);

/* Checks the envelope (magic, version, counter count, length, checksum) and points at the
 * counters (n_counters of them, read with weir__get_le64) and the operator's snapshot.
 * WEIR_ERR_CORRUPT or WEIR_ERR_UNSUPPORTED with a reason in errstr, prefixed by `what`. */
weir_err weir__unit_snap_read(const uint8_t *buf, size_t len, const char magic[8], uint32_t version,
                              uint32_t n_counters, const char *what, const uint8_t **counters,
                              const uint8_t **op, size_t *op_len, char *errstr, size_t errstr_size);

/*
 * Writes one pre-formatted firing to a sink: the held sink appends it (key, value,
 * timestamp), a Kafka sink produces it as a message, any other sink (files) takes the value
 * as a line. `key` NULL: no key. For kinds that format their own output.
 */
weir_err weir__sink_message(weir_sink *s, const char *key, size_t key_len, const char *val,
                            size_t len, int64_t ts);

#endif
