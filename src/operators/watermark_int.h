/* The watermark's layout, for the window operator's per-record fast path. */
#ifndef WEIR_OPERATORS_WATERMARK_INT_H
#define WEIR_OPERATORS_WATERMARK_INT_H

#include "weir/watermark.h"

typedef struct part {
    int64_t max_ts;    /* largest event time that moved the watermark, WEIR_TS_MIN if none */
    int64_t wm;        /* this partition's watermark */
    int64_t last_wall; /* wall time of its last record */
    int idle;
} part;

struct weir_watermark {
    weir_wm_params p;
    part *parts;
    int n;
    int64_t combined;
    int finished;
};

/* weir_watermark_current, inline. */
static inline int64_t weir__wm_current(const weir_watermark *wm)
{
    return wm->combined;
}

/* A record at ts, arriving at wall_ms, is past the future-skew cap: it then does not
 * move its partition's watermark. A cap beyond the largest time (wall_ms + skew past
 * INT64_MAX, as with --max-future-skew 9223372036854775807ms) is no cap at all. */
static inline int weir__wm_skewed(const weir_watermark *wm, int64_t ts, int64_t wall_ms)
{
    int64_t skew = wm->p.max_future_skew_ms;
    return skew > 0 && wall_ms != WEIR_TS_MIN && wall_ms <= INT64_MAX - skew && ts > wall_ms + skew;
}

/*
 * weir_watermark_observe, with the most common record handled inline: one of a known,
 * active partition, no newer than that partition's newest and not past the future-skew
 * cap, which only notes the wall time. Every other record takes the full path. Same
 * results and return value as weir_watermark_observe.
 */
static inline int weir__wm_observe(weir_watermark *wm, int partition, int64_t ts, int64_t wall_ms)
{
    if (partition >= 0 && partition < wm->n) {
        part *pt = &wm->parts[partition];
        if (!pt->idle && ts <= pt->max_ts && !weir__wm_skewed(wm, ts, wall_ms)) {
            pt->last_wall = wall_ms;
            return 0;
        }
    }
    return weir_watermark_observe(wm, partition, ts, wall_ms);
}

#endif
