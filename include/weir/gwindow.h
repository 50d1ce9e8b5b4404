/* The generic event-time window operator: tumbling, hopping and session windows over typed
 * records with any number of typed aggregates (docs/SEMANTICS.md, "Other window kinds"). */
#ifndef WEIR_GWINDOW_H
#define WEIR_GWINDOW_H

#include <stddef.h>
#include <stdint.h>

#include "weir/err.h"
#include "weir/gagg.h"
#include "weir/value.h"
#include "weir/watermark.h"
#include "weir/window.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The most aggregates one operator takes. */
#define WEIR_GWINDOW_MAX_AGGS 64

typedef enum weir_window_kind {
    WEIR_WINDOW_TUMBLE = 0, /* [s, s + size), s = t - ((t - offset) mod size) */
    WEIR_WINDOW_HOP,        /* every [s, s + size) holding t with s a multiple of slide */
    WEIR_WINDOW_SESSION     /* per key, records closer than gap, merged */
} weir_window_kind;

/* Which windows a record belongs to. Durations in milliseconds. */
typedef struct weir_window_spec {
    weir_window_kind kind;
    int64_t size_ms;   /* W > 0: tumble and hop */
    int64_t slide_ms;  /* S, 0 < S <= W: hop (any S; slices are gcd(W, S) long) */
    int64_t offset_ms; /* O: tumble only, any value (taken modulo W) */
    int64_t gap_ms;    /* G > 0: session */
} weir_window_spec;

/*
 * Parses a window spec: `tumble:W`, `tumble:W@O`, `hop:W/S` (0 < S <= W) or `session:G`,
 * durations as weir_parse_duration() takes them (`90s`, `5m`, `500ms`, `1h`, `1d`). Returns
 * WEIR_OK, or WEIR_ERR_INVALID_ARG with one line in errstr (may be NULL) naming the text and
 * what is accepted; *out is then unchanged. Thread-safe.
 */
weir_err weir_window_spec_parse(const char *text, weir_window_spec *out, char *errstr,
                                size_t errstr_size);

/* An operator's configuration. weir_gwindow_new copies it (and the defs, not what they
 * point to). */
typedef struct weir_gwindow_params {
    weir_window_spec spec;
    int64_t allowed_lateness_ms; /* L >= 0 */
    weir_emit_mode emit;
    weir_wm_params wm;
    int partitions; /* source partitions feeding this operator, >= 1 */
    const weir_gagg_def *aggs;
    size_t n_aggs; /* 0..WEIR_GWINDOW_MAX_AGGS */
} weir_gwindow_params;

/* One emission of one (key, window). Everything it points to is valid only during the
 * callback. values[i] is the result of aggs[i]. */
typedef struct weir_gwindow_firing {
    weir_slice key;
    int64_t window_start;
    int64_t window_end; /* exclusive */
    int late;           /* 1 for a late firing (updates mode) */
    const weir_value *values;
    size_t n_values;
} weir_gwindow_firing;

/* Receives firings, in emission order, on the thread that called into the operator.
 * The order depends on the records and the state alone, so an operator restored from a
 * snapshot emits exactly what an uninterrupted one does, in the same order: a late record's
 * firings when it is processed, its windows in order of end; the firings the watermark
 * causes in order of window end (plus the allowed lateness in final mode), and those
 * sharing an end in order of key bytes (memcmp, a proper prefix first).
 * Returns 0, or non-zero to make the calling operator function return WEIR_ERR_IO after
 * the current record (a sink that cannot accept more). */
typedef int (*weir_gwindow_emit_fn)(void *opaque, const weir_gwindow_firing *firing);

/* Receives each late record that is dropped (the late side output), once per record. */
typedef void (*weir_gwindow_late_fn)(void *opaque, const weir_row *record);

/* Counters of an operator. Every record passed in is in exactly one of accepted or
 * late_dropped (records rejected with WEIR_ERR_INVALID_ARG are in neither). */
typedef struct weir_gwindow_counters {
    uint64_t accepted;      /* records added to at least one window */
    uint64_t late_dropped;  /* records late for every window they belong to */
    uint64_t late_accepted; /* accepted records with a window that had passed the watermark */
    uint64_t late_firings;  /* firings caused by late records (updates mode) */
    uint64_t future_skewed; /* records that did not move the watermark (max future skew) */
    uint64_t emissions;     /* firings delivered to the emit callback */
    uint64_t live_slices;   /* (key, slice) states alive now: tumble and hop */
    uint64_t live_sessions; /* (key, session) states alive now */
    uint64_t live_keys;     /* keys with live state */
    uint64_t state_bytes;   /* bytes of operator state now (tables, slices, aggregates) */
} weir_gwindow_counters;

/*
 * A keyed window operator of any kind with its watermark. It owns its state and calls `emit`
 * synchronously. Tumbling and hopping windows keep each accepted record's contribution once,
 * in per-key slices (the gcd of W and S long), combined with the aggregates' merge when a
 * window fires; a slice is freed once every window holding it is freed. Session windows keep
 * per-key sessions that merge with their aggregate states.
 * Thread-safety: a pipeline owns it; no function may be called concurrently on the same
 * operator. Different operators are independent.
 */
typedef struct weir_gwindow weir_gwindow;

/*
 * Creates an operator. Returns NULL with a reason in errstr on invalid params: which
 * aggregate (numbered from 1 in the order of aggs), which function or limit ("aggregate 2
 * (top3): state_size 300 exceeds the maximum 256", "aggregate 1 (p95): merge is required for
 * hop and session windows"), or
 * NULL with "out of memory". The caller frees it with weir_gwindow_destroy().
 */
weir_gwindow *weir_gwindow_new(const weir_gwindow_params *p, weir_gwindow_emit_fn emit,
                               void *opaque, char *errstr, size_t errstr_size);

/* Frees the operator and all its state without emitting anything. Accepts NULL. */
void weir_gwindow_destroy(weir_gwindow *op);

/* Sets the late side output (NULL to drop silently; they are counted either way). */
void weir_gwindow_set_late_output(weir_gwindow *op, weir_gwindow_late_fn fn, void *opaque);

/*
 * Processes `n` records in order, exactly as if one at a time (SEMANTICS.md, "Lateness,
 * firing and cleanup", "Other window kinds"), firing windows as the watermark passes them.
 * `wall_ms` is the wall clock for idleness and the future-skew cap. Records are read only;
 * the operator copies the key bytes it keeps. Returns WEIR_OK; WEIR_ERR_INVALID_ARG for a
 * record whose partition is out of range (the call stops before it: the records before it
 * are processed); WEIR_ERR_NOMEM (an aggregate or table could not grow: the call stops at
 * that record, whose contribution may be partial; destroy the operator); WEIR_ERR_IO when
 * `emit` refused (after the current record).
 */
weir_err weir_gwindow_process(weir_gwindow *op, const weir_row *recs, size_t n, int64_t wall_ms);

/*
 * A record that is not added to any window but still moves the watermark, as a record
 * filtered after a Flink source does (SEMANTICS.md, "Keys, filters and aggregates"): its
 * time `ts` is observed on `partition` exactly as weir_gwindow_process would observe it, and
 * windows the watermark then passes fire. Returns as weir_gwindow_process.
 */
weir_err weir_gwindow_observe(weir_gwindow *op, int32_t partition, int64_t ts, int64_t wall_ms);

/* Applies wall-clock idleness (see weir_watermark_tick) and fires what the watermark has
 * passed. Call it when no records arrive. Returns as weir_gwindow_process. */
weir_err weir_gwindow_tick(weir_gwindow *op, int64_t wall_ms);

/* End of a bounded input: the watermark becomes plus infinity, every window that has not
 * fired fires once (final mode: every window emits), and all state is freed. Returns as
 * weir_gwindow_process. */
weir_err weir_gwindow_finish(weir_gwindow *op);

/* The operator's combined watermark. */
int64_t weir_gwindow_watermark(const weir_gwindow *op);

/* Copies the counters into `out` (state_bytes walks the state: not for every record). */
void weir_gwindow_stats(const weir_gwindow *op, weir_gwindow_counters *out);

/* Changes the number of source partitions (global pipelines on a rebalance): new ones start
 * at minus infinity, removed ones no longer hold the watermark back. Windows the watermark
 * then passes fire at the start of the next weir_gwindow_process or _tick (or at _finish).
 * Returns WEIR_OK, WEIR_ERR_NOMEM or WEIR_ERR_INVALID_ARG (partitions < 1). */
weir_err weir_gwindow_set_partitions(weir_gwindow *op, int partitions);

/* Restarts one source partition's watermark at minus infinity; the operator's watermark
 * holds until it shows progress. WEIR_ERR_INVALID_ARG for an index out of range. */
weir_err weir_gwindow_reset_partition(weir_gwindow *op, int partition);

/*
 * Writes a snapshot of the whole operator (keys, slices or sessions, aggregate states,
 * watermark, counters) into a malloc'd buffer that the caller frees with free(). Format:
 * docs/SNAPSHOT.md, "Generic window operator" (magic, version, checksum). Returns WEIR_OK,
 * WEIR_ERR_NOMEM, or WEIR_ERR_UNSUPPORTED when an aggregate cannot serialize. `op` is not
 * changed in meaning (an aggregate's result may reorganise its buffers).
 */
weir_err weir_gwindow_snapshot(const weir_gwindow *op, uint8_t **out, size_t *out_len);

/*
 * Replaces the state of `op` (a fresh operator created with the same params) with the
 * snapshot in `buf`. Validates everything before changing anything: on WEIR_ERR_CORRUPT
 * (bad magic, checksum, truncation, malformed contents), WEIR_ERR_UNSUPPORTED (another
 * version) or WEIR_ERR_INVALID_ARG (taken with another spec, lateness, emission mode or
 * aggregates) `op` is unchanged and errstr says why; on WEIR_ERR_NOMEM too.
 */
weir_err weir_gwindow_restore(weir_gwindow *op, const uint8_t *buf, size_t len, char *errstr,
                              size_t errstr_size);

#ifdef __cplusplus
}
#endif
#endif
