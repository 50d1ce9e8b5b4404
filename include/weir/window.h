/* The tumbling event-time window operator (docs/SEMANTICS.md). */
#ifndef WEIR_WINDOW_H
#define WEIR_WINDOW_H

#include <stddef.h>
#include <stdint.h>

#include "weir/aggregate.h"
#include "weir/conf.h"
#include "weir/err.h"
#include "weir/event.h"
#include "weir/watermark.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum weir_emit_mode {
    WEIR_EMIT_UPDATES = 0, /* every firing, on-time and late (Flink) */
    WEIR_EMIT_FINAL        /* once per window, when its state is freed */
} weir_emit_mode;

#define WEIR_MAX_AGGS 8

typedef struct weir_window_params {
    int64_t size_ms;             /* window size W > 0 */
    int64_t allowed_lateness_ms; /* L >= 0 */
    weir_emit_mode emit;
    weir_wm_params wm;
    int partitions; /* source partitions feeding this operator, >= 1 */
    int global;     /* one key for everything (the key is empty) */
    weir_agg_spec aggs[WEIR_MAX_AGGS];
    size_t n_aggs;
} weir_window_params;

/* One emission of one (key, window). Everything it points to is valid only during
 * the callback. values[i] is the result of aggs[i] of the operator's params. */
typedef struct weir_firing {
    weir_slice key;
    int64_t window_start;
    int64_t window_end; /* exclusive */
    int late;           /* 1 for a late firing (updates mode) */
    const uint64_t *values;
    size_t n_values;
} weir_firing;

/* Receives firings, in emission order, on the thread that called into the operator.
 * Returns 0, or non-zero to make the calling operator function fail with WEIR_ERR_IO
 * after the current record (a sink that cannot accept more). */
typedef int (*weir_emit_fn)(void *opaque, const weir_firing *firing);

/* Receives each late record that is dropped (the late side output). */
typedef void (*weir_late_fn)(void *opaque, const weir_event *event);

/* Counters of an operator. Every record passed in is in exactly one of
 * accepted or late_dropped. */
typedef struct weir_window_stats {
    uint64_t accepted;        /* records added to a window */
    uint64_t late_dropped;    /* records too late even for the allowed lateness */
    uint64_t late_accepted;   /* accepted records whose window had already passed the watermark */
    uint64_t late_firings;    /* firings caused by late records */
    uint64_t future_skewed;   /* records that did not move the watermark (max future skew) */
    uint64_t windows_created; /* (window) instances created */
    uint64_t windows_freed;
    uint64_t keys_created; /* (key, window) pairs created */
    uint64_t emissions;    /* firings delivered to the emit callback */
    uint64_t live_windows;
    uint64_t live_keys;   /* (key, window) pairs alive now */
    uint64_t state_bytes; /* bytes of operator state now (tables, arenas, aggregates) */
} weir_window_stats;

/*
 * A keyed tumbling-window operator with its watermark. It owns all its state
 * (per window: key table, dictionary, aggregates) and calls `emit` synchronously.
 * Thread-safety: a pipeline owns it; no function may be called concurrently on
 * the same operator. Different operators are independent.
 */
typedef struct weir_window_op weir_window_op;

/*
 * Fills `p` from `conf` (window.size, window.allowed.lateness, emit.mode,
 * distinct.mode, hll.precision, global, watermark.*), with the aggregates
 * event_count (count) and unique_user_count (distinct). `hll_precision` must point
 * to storage that outlives the operator (it becomes the HLL params).
 */
weir_err weir_window_params_from_conf(const weir_conf *conf, weir_window_params *p,
                                      int *hll_precision, char *errstr, size_t errstr_size);

/* Creates an operator. Returns NULL with a reason in errstr on invalid params or
 * out of memory. The caller frees it with weir_window_op_destroy(). */
weir_window_op *weir_window_op_new(const weir_window_params *p, weir_emit_fn emit, void *opaque,
                                   char *errstr, size_t errstr_size);

/* Frees the operator and all its state without emitting anything. Accepts NULL. */
void weir_window_op_destroy(weir_window_op *op);

/* Sets the late side output (NULL to drop silently; they are counted either way). */
void weir_window_op_set_late_output(weir_window_op *op, weir_late_fn fn, void *opaque);

/*
 * Processes `n` events in order, exactly as if one at a time (SEMANTICS.md,
 * "Lateness, firing and cleanup"), firing windows as the watermark passes
 * them. `wall_ms` is the wall clock for idleness and the future-skew cap.
 * Events are read only; the operator copies the key bytes it keeps.
 * Returns WEIR_OK, WEIR_ERR_NOMEM, WEIR_ERR_IO when `emit` refused, or WEIR_ERR_INVALID_ARG
 * for an event whose partition is outside 0..partitions-1 (the events before it processed,
 * it and those after it not). Out of memory,
 * nothing wrong is emitted (test_oom): the call stops at a record it could not add, the
 * records before it processed (process again from that one, or stop); a window whose
 * logged ids could not join their sets is not fired, and from then on every call returns
 * WEIR_ERR_NOMEM: the operator can only be destroyed.
 */
weir_err weir_window_op_process(weir_window_op *op, const weir_event *events, size_t n,
                                int64_t wall_ms);

/* Applies wall-clock idleness (see weir_watermark_tick) and fires what the watermark
 * has passed. Call it when no records arrive. Returns WEIR_OK, WEIR_ERR_NOMEM (out of
 * memory, as weir_window_op_process), or WEIR_ERR_IO when `emit` refused. */
weir_err weir_window_op_tick(weir_window_op *op, int64_t wall_ms);

/* End of a bounded input: the watermark becomes plus infinity, every window that has
 * not fired fires once (final mode: every window emits), and all state is freed.
 * Returns as weir_window_op_tick. */
weir_err weir_window_op_finish(weir_window_op *op);

/* The operator's combined watermark. */
int64_t weir_window_op_watermark(const weir_window_op *op);

/* Copies the counters into `out`. */
void weir_window_op_stats(const weir_window_op *op, weir_window_stats *out);

/* Changes the number of source partitions (global pipelines on a rebalance): new ones start
 * at minus infinity, removed ones no longer hold the watermark back. Windows the watermark
 * then passes fire at the start of the next weir_window_op_process or _tick (or at
 * _finish), before any record is judged against it. Returns WEIR_OK, WEIR_ERR_NOMEM or
 * WEIR_ERR_INVALID_ARG (partitions < 1). */
weir_err weir_window_op_set_partitions(weir_window_op *op, int partitions);

/* Restarts one source partition's watermark at minus infinity (another partition took its
 * index); the operator's watermark holds until it shows progress. WEIR_ERR_INVALID_ARG for
 * an index out of range. */
weir_err weir_window_op_reset_partition(weir_window_op *op, int partition);

/*
 * Writes a snapshot of the whole operator (windows, keys, aggregates,
 * dictionaries, watermark, counters) into a malloc'd buffer that the caller
 * frees with free(). Format: docs/SNAPSHOT.md (magic, version, checksum,
 * zstd-compressed msgpack). Returns WEIR_ERR_NOMEM on failure. It changes how the
 * state is held (ids logged by the hot window join their sets first), never what it
 * means: `op` is const in that sense, and the no-concurrency rule above still holds.
 */
weir_err weir_window_op_snapshot(const weir_window_op *op, uint8_t **out, size_t *out_len);

/*
 * Replaces the state of `op` (a fresh operator created with the same params)
 * with the snapshot in `buf`. Validates everything before changing anything:
 * on WEIR_ERR_CORRUPT (bad magic, checksum, truncation, malformed contents) or
 * WEIR_ERR_UNSUPPORTED (another version) or WEIR_ERR_INVALID_ARG (the snapshot
 * was taken with a different window size, lateness, emission mode or
 * aggregates) `op` is unchanged and errstr says why; on WEIR_ERR_NOMEM too (memory ran
 * out: the snapshot is not called corrupt for that).
 */
weir_err weir_window_op_restore(weir_window_op *op, const uint8_t *buf, size_t len, char *errstr,
                                size_t errstr_size);

#ifdef __cplusplus
}
#endif
#endif
