/* Per-partition bounded-out-of-orderness watermarks and their idle-aware minimum. */
#include "weir/watermark.h"

#include <stdlib.h>
#include <string.h>

#include "operators/watermark_int.h"

void weir_wm_params_from_conf(const weir_conf *conf, weir_wm_params *p)
{
    p->out_of_orderness_ms = weir_conf_get_duration_ms(conf, "watermark.out.of.orderness");
    p->idle_timeout_ms = weir_conf_get_duration_ms(conf, "watermark.idle.timeout");
    p->idle_advance = weir_conf_get_bool(conf, "watermark.idle.advance");
    p->max_future_skew_ms = weir_conf_get_duration_ms(conf, "watermark.max.future.skew");
}

static void part_init(part *pt)
{
    pt->max_ts = WEIR_TS_MIN;
    pt->wm = WEIR_TS_MIN;
    pt->last_wall = WEIR_TS_MIN;
    pt->idle = 0;
}

weir_watermark *weir_watermark_new(int partitions, const weir_wm_params *p)
{
    if (partitions < 1)
        return NULL;
    weir_watermark *wm = calloc(1, sizeof *wm);
    if (!wm)
        return NULL;
    wm->p = *p;
    wm->combined = WEIR_TS_MIN;
    if (weir_watermark_set_partitions(wm, partitions) != WEIR_OK) {
        free(wm);
        return NULL;
    }
    return wm;
}

void weir_watermark_destroy(weir_watermark *wm)
{
    if (!wm)
        return;
    free(wm->parts);
    free(wm);
}

/* The minimum over active partitions; holds while every partition is idle. */
static void recompute(weir_watermark *wm)
{
    if (wm->finished)
        return;
    int64_t m = WEIR_TS_MAX;
    int active = 0;
    for (int i = 0; i < wm->n; i++) {
        if (wm->parts[i].idle)
            continue;
        active = 1;
        if (wm->parts[i].wm < m)
            m = wm->parts[i].wm;
    }
    if (!active && wm->p.idle_advance) {
        /* Every partition is idle, and idle ones follow the wall clock: the slowest of
         * those that have seen records sets the pace. */
        for (int i = 0; i < wm->n; i++)
            if (wm->parts[i].max_ts != WEIR_TS_MIN) {
                active = 1;
                if (wm->parts[i].wm < m)
                    m = wm->parts[i].wm;
            }
    }
    if (active && m > wm->combined)
        wm->combined = m;
}

weir_err weir_watermark_set_partitions(weir_watermark *wm, int partitions)
{
    if (partitions < 1)
        return WEIR_ERR_INVALID_ARG;
    part *np = realloc(wm->parts, (size_t)partitions * sizeof(part));
    if (!np)
        return WEIR_ERR_NOMEM;
    for (int i = wm->n; i < partitions; i++)
        part_init(&np[i]);
    wm->parts = np;
    wm->n = partitions;
    recompute(wm);
    return WEIR_OK;
}

static int64_t sub_sat(int64_t a, int64_t b)
{
    /* a - b - 1 without overflow, keeping minus infinity. */
    if (a == WEIR_TS_MIN)
        return WEIR_TS_MIN;
    if (a < WEIR_TS_MIN + b + 1)
        return WEIR_TS_MIN;
    return a - b - 1;
}

int weir_watermark_observe(weir_watermark *wm, int partition, int64_t ts, int64_t wall_ms)
{
    if (partition < 0 || partition >= wm->n)
        return 0;
    part *pt = &wm->parts[partition];
    pt->last_wall = wall_ms;
    int was_idle = pt->idle;
    pt->idle = 0;
    int skewed = 0, raised = 0;
    if (weir__wm_skewed(wm, ts, wall_ms)) {
        skewed = 1;
    } else if (ts > pt->max_ts) {
        pt->max_ts = ts;
        int64_t w = sub_sat(ts, wm->p.out_of_orderness_ms);
        if (w > pt->wm) {
            pt->wm = w;
            raised = 1;
        }
    }
    /* The combined watermark depends only on the partitions' watermarks and idle flags:
     * when neither changed (most records: not the newest of their partition) it stands. */
    if (was_idle || raised)
        recompute(wm);
    return skewed;
}

void weir_watermark_reset_partition(weir_watermark *wm, int partition)
{
    if (partition < 0 || partition >= wm->n)
        return;
    part_init(&wm->parts[partition]);
    recompute(wm);
}

void weir_watermark_tick(weir_watermark *wm, int64_t wall_ms)
{
    if (wm->p.idle_timeout_ms <= 0)
        return;
    for (int i = 0; i < wm->n; i++) {
        part *pt = &wm->parts[i];
        if (pt->last_wall == WEIR_TS_MIN)
            pt->last_wall = wall_ms; /* idleness counts from the first tick */
        int64_t silent = wall_ms - pt->last_wall;
        if (silent < wm->p.idle_timeout_ms)
            continue;
        pt->idle = 1;
        /* Idle advance: event time moves with the wall time that passed since the
         * partition's last record. */
        if (wm->p.idle_advance && pt->max_ts != WEIR_TS_MIN) {
            /* Minus infinity (an out-of-orderness past the range) stays so; the sum stays
             * below plus infinity, which only the end of input sets. */
            int64_t base = sub_sat(pt->max_ts, wm->p.out_of_orderness_ms);
            if (base != WEIR_TS_MIN) {
                int64_t w =
                    base > 0 && silent > WEIR_TS_MAX - 1 - base ? WEIR_TS_MAX - 1 : base + silent;
                if (w > pt->wm)
                    pt->wm = w;
            }
        }
    }
    recompute(wm);
}

int64_t weir_watermark_current(const weir_watermark *wm)
{
    return wm->combined;
}

int64_t weir_watermark_partition(const weir_watermark *wm, int partition)
{
    if (partition < 0 || partition >= wm->n)
        return WEIR_TS_MIN;
    return wm->parts[partition].wm;
}

int weir_watermark_is_idle(const weir_watermark *wm, int partition)
{
    return partition >= 0 && partition < wm->n && wm->parts[partition].idle;
}

void weir_watermark_finish(weir_watermark *wm)
{
    wm->finished = 1;
    wm->combined = WEIR_TS_MAX;
}

int weir_watermark_partitions(const weir_watermark *wm)
{
    return wm->n;
}

int64_t weir_watermark_partition_max(const weir_watermark *wm, int partition)
{
    if (partition < 0 || partition >= wm->n)
        return WEIR_TS_MIN;
    return wm->parts[partition].max_ts;
}

void weir_watermark_restore(weir_watermark *wm, const int64_t *maxima, int n, int64_t combined)
{
    for (int i = 0; i < wm->n && i < n; i++) {
        part_init(&wm->parts[i]);
        wm->parts[i].max_ts = maxima[i];
        wm->parts[i].wm = sub_sat(maxima[i], wm->p.out_of_orderness_ms);
    }
    wm->combined = combined;
}
