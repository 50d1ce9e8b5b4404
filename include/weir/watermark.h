/* Event-time watermarks per source partition (docs/SEMANTICS.md, "Watermark"). */
#ifndef WEIR_WATERMARK_H
#define WEIR_WATERMARK_H

#include <stdint.h>

#include "weir/conf.h"
#include "weir/err.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Minus and plus infinity of event time. */
#define WEIR_TS_MIN INT64_MIN
#define WEIR_TS_MAX INT64_MAX

typedef struct weir_wm_params {
    int64_t out_of_orderness_ms; /* bounded out-of-orderness, >= 0 */
    int64_t idle_timeout_ms;     /* 0: partitions never become idle */
    int idle_advance;            /* an idle partition's watermark follows the wall clock */
    int64_t max_future_skew_ms;  /* 0: off; otherwise records further ahead of the wall
                                    clock do not move the watermark */
} weir_wm_params;

/* Fills `p` from the watermark.* keys of `conf`. */
void weir_wm_params_from_conf(const weir_conf *conf, weir_wm_params *p);

/*
 * Tracks wm_p = max event time - out_of_orderness - 1 for each partition and
 * their minimum over the partitions that are not idle. The combined watermark
 * never moves backwards; while every partition is idle it holds.
 *
 * Thread-safety: owned by one pipeline thread.
 */
typedef struct weir_watermark weir_watermark;

/* Creates a tracker for `partitions` partitions (>= 1), numbered 0..partitions-1.
 * Returns NULL when out of memory or partitions < 1. */
weir_watermark *weir_watermark_new(int partitions, const weir_wm_params *p);

/* Frees the tracker. Accepts NULL. */
void weir_watermark_destroy(weir_watermark *wm);

/* Changes the number of partitions (a rebalance of a global pipeline). New partitions
 * start at minus infinity and not idle; removed ones no longer count.
 * Returns WEIR_ERR_NOMEM or WEIR_ERR_INVALID_ARG (n < 1). */
weir_err weir_watermark_set_partitions(weir_watermark *wm, int partitions);

/*
 * Records an event of time `ts` on `partition` at wall time `wall_ms`, marks the
 * partition active and recomputes the combined watermark. Returns 1 when the
 * record was too far ahead of the wall clock to move the watermark, else 0.
 * An out-of-range partition is ignored (returns 0).
 */
int weir_watermark_observe(weir_watermark *wm, int partition, int64_t ts, int64_t wall_ms);

/* Puts `partition` back to minus infinity, active (another source partition took its
 * index after a rebalance). The combined watermark holds: it never moves backwards. */
void weir_watermark_reset_partition(weir_watermark *wm, int partition);

/* Applies idleness at wall time `wall_ms`: partitions silent for idle_timeout become
 * idle (and, with idle_advance, move their watermark with the wall clock). */
void weir_watermark_tick(weir_watermark *wm, int64_t wall_ms);

/* The combined watermark: WEIR_TS_MIN before any event, WEIR_TS_MAX at end of input. */
int64_t weir_watermark_current(const weir_watermark *wm);

/* One partition's own watermark (WEIR_TS_MIN when out of range). */
int64_t weir_watermark_partition(const weir_watermark *wm, int partition);

/* Returns 1 when `partition` is idle. */
int weir_watermark_is_idle(const weir_watermark *wm, int partition);

/* End of a bounded input: the watermark becomes plus infinity. */
void weir_watermark_finish(weir_watermark *wm);

/* Internal state for snapshots: per partition max event time. Restoring sets the
 * maxima (partitions start active) and the combined watermark. */
int weir_watermark_partitions(const weir_watermark *wm);
int64_t weir_watermark_partition_max(const weir_watermark *wm, int partition);
void weir_watermark_restore(weir_watermark *wm, const int64_t *maxima, int n, int64_t combined);

#ifdef __cplusplus
}
#endif
#endif
