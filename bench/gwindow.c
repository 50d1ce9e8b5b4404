/* Scenarios of the generic window operator (weir/gwindow.h) over pre-decoded records:
 * tumbling, hopping (against tumbling on the same input, interleaved) and session windows. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <xxhash.h>

#include "bench.h"
#include "weir/job.h"
#include "weir/weir.h"

#define BATCH 4096

/* Pre-decoded records of the generator's events: the key is the product (or, for sessions,
 * the user), values[0] the user id as a string and values[1] a price.
 *
 * Two layouts. Shared: a record's values and texts are its user's (one copy per user), so
 * that a run of millions of records fits in little memory, but reading them costs a random
 * access per record that a decoder's batch, which holds each record's own values beside
 * its bytes, never has. Per record: each record has its own values and its own copy of the
 * key and user texts, laid out in record order, as weir_pipeline hands rows to the
 * operator. Session keys are users (10^6 of them): there the shared layout adds two cache
 * misses a record (the key's text and the price) to the operator's own. */
typedef struct grows {
    weir_row *rows;
    size_t n;
    bench_events ev;   /* owns the key and user texts */
    weir_value *uvals; /* shared: per user [user, price]; per record: per record */
    char *texts;       /* per record: its key's and user's text, TEXT bytes each */
} grows;

#define TEXT 16

static void grows_free(grows *g);

/* rate: events per second of event time, 0 for the generator's default. */
static int grows_make(bench_ctx *ctx, int key_by_user, uint32_t rate, int per_record, grows *out)
{
    memset(out, 0, sizeof *out);
    weir_gen_params p;
    bench_gen_params(ctx, ctx->events, &p);
    if (rate)
        p.rate = rate;
    weir_gen_event *g = malloc(ctx->events * sizeof *g);
    if (!g)
        return bench_fail(ctx, "out of memory for %llu events", (unsigned long long)ctx->events);
    weir_gen_events(&p, g);
    if (bench_events_from_gen(&p, g, ctx->events, &out->ev) != 0) {
        free(g);
        return bench_fail(ctx, "out of memory preparing events");
    }
    size_t nv = per_record ? (out->ev.n ? out->ev.n : 1) : (size_t)p.users;
    out->uvals = malloc(nv * 2 * sizeof *out->uvals);
    out->rows = malloc((out->ev.n ? out->ev.n : 1) * sizeof *out->rows);
    if (per_record)
        out->texts = malloc((out->ev.n ? out->ev.n : 1) * 2 * TEXT);
    if (!out->uvals || !out->rows || (per_record && !out->texts)) {
        free(g);
        grows_free(out);
        return bench_fail(ctx, "out of memory preparing rows");
    }
    for (size_t i = 0; i < out->ev.n; i++) {
        const weir_event *e = &out->ev.ev[i];
        weir_value *v = &out->uvals[(per_record ? i : (size_t)g[i].user) * 2];
        weir_slice key = key_by_user ? e->user : e->key, user = e->user;
        if (per_record) {
            char *t = out->texts + i * 2 * TEXT;
            memcpy(t, key.ptr, key.len < TEXT ? key.len : TEXT);
            memcpy(t + TEXT, user.ptr, user.len < TEXT ? user.len : TEXT);
            key = (weir_slice){t, key.len < TEXT ? key.len : TEXT};
            user = (weir_slice){t + TEXT, user.len < TEXT ? user.len : TEXT};
        }
        /* The user's text, and a price in cents as a double, as a JSON order carries it. */
        v[0] = (weir_value){.type = WEIR_VALUE_STRING, .u.s = user};
        v[1] = (weir_value){.type = WEIR_VALUE_DOUBLE, .u.d = (double)(g[i].user % 9973) + 0.25};
        out->rows[i] = (weir_row){
            .ts = e->ts,
            .partition = 0,
            .key_hash = key_by_user ? XXH3_64bits(key.ptr, key.len) : e->key_hash,
            .key = key,
            .raw = e->raw,
            .values = v,
            .n_values = 2,
        };
    }
    out->n = out->ev.n;
    free(g);
    return 0;
}

static void grows_free(grows *g)
{
    if (!g)
        return;
    bench_events_free(&g->ev);
    free(g->uvals);
    free(g->texts);
    free(g->rows);
}

typedef struct garm {
    grows *g;
    weir_window_spec spec;
    int session;
    uint64_t firings;
    weir_gwindow_counters at_end, after;
} garm;

static int count_firing(void *opaque, const weir_gwindow_firing *f)
{
    (void)f;
    ((garm *)opaque)->firings++;
    return 0;
}

/* The process's CPU time (user + sys): the operator runs on this thread alone, and on a
 * shared machine CPU time is steadier than wall time. */
static double cpu_now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static double garm_run(void *opaque, uint64_t *events, char *err, size_t errlen)
{
    garm *a = opaque;
    weir_gagg_def defs[2] = {
        {.ops = &weir_gagg_count, .field = -1, .name = "count"},
        a->session ? (weir_gagg_def){.ops = &weir_gagg_sum, .field = 1, .name = "sum_total_price"}
                   : (weir_gagg_def){.ops = &weir_gagg_count_distinct,
                                     .field = 0,
                                     .name = "count_distinct_user_id"},
    };
    weir_conf *conf = weir_conf_new();
    weir_gwindow_params p = {.spec = a->spec, .partitions = 1, .aggs = defs, .n_aggs = 2};
    if (conf)
        weir_wm_params_from_conf(conf, &p.wm);
    weir_conf_destroy(conf);
    weir_gwindow *op = weir_gwindow_new(&p, count_firing, a, err, errlen);
    if (!op)
        return -1;
    a->firings = 0;
    size_t n = a->g->n;
    int64_t wall = weir_wall_ms();
    weir_err rc = WEIR_OK;
    double t0 = cpu_now();
    for (size_t i = 0; i < n && rc == WEIR_OK; i += BATCH)
        rc = weir_gwindow_process(op, a->g->rows + i, n - i < BATCH ? n - i : BATCH, wall);
    double t1 = cpu_now();
    weir_gwindow_stats(op, &a->at_end);
    double t2 = cpu_now();
    if (rc == WEIR_OK)
        rc = weir_gwindow_finish(op);
    double t3 = cpu_now();
    weir_gwindow_stats(op, &a->after);
    weir_gwindow_destroy(op);
    if (rc != WEIR_OK) {
        snprintf(err, errlen, "operator: %s", weir_err_str(rc));
        return -1;
    }
    *events = n;
    return (t1 - t0) + (t3 - t2);
}

/* ---------------------------------------------------------------- scenarios */

static const char *spec_text(const weir_window_spec *s, char *buf, size_t n)
{
    if (s->kind == WEIR_WINDOW_TUMBLE)
        snprintf(buf, n, "tumble:%llds", (long long)(s->size_ms / 1000));
    else if (s->kind == WEIR_WINDOW_HOP)
        snprintf(buf, n, "hop:%llds/%llds", (long long)(s->size_ms / 1000),
                 (long long)(s->slide_ms / 1000));
    else
        snprintf(buf, n, "session:%llds", (long long)(s->gap_ms / 1000));
    return buf;
}

/* Runs `spec` (and, for a hop, tumble:1m beside it, interleaved, for the ratio of one run). */
static int gwindow_scenario(bench_ctx *ctx, const char *spec)
{
    weir_window_spec s;
    char err[256];
    if (weir_window_spec_parse(spec, &s, err, sizeof err) != WEIR_OK)
        return bench_fail(ctx, "%s", err);
    int session = s.kind == WEIR_WINDOW_SESSION;
    /* Sessions: records laid out one by one, as a pipeline's batch holds them, and beside
     * them (not with --main-only) the shared layout the figures before #17's were taken
     * with. Tumbling and hopping windows keep the shared layout. */
    grows g, gs = {0};
    double t0 = bench_now();
    if (grows_make(ctx, session, 0, session, &g) != 0)
        return -1;
    if (session && !ctx->main_only && grows_make(ctx, 1, 0, 0, &gs) != 0) {
        grows_free(&g);
        return -1;
    }
    bench_say("  prepared %zu pre-decoded records in %.2f s (not timed)", g.n, bench_now() - t0);
    garm mine = {.g = &g, .spec = s, .session = session};
    garm tumble = {.g = &g, .spec = {.kind = WEIR_WINDOW_TUMBLE, .size_ms = 60000}};
    garm shared = {.g = &gs, .spec = s, .session = 1};
    bench_arm arms[2] = {BENCH_ARM(spec, garm_run, &mine),
                         session ? BENCH_ARM("session, shared values", garm_run, &shared)
                                 : BENCH_ARM("tumble:1m", garm_run, &tumble)};
    int n_arms = s.kind == WEIR_WINDOW_HOP || (session && !ctx->main_only) ? 2 : 1;
    int rc = bench_measure(ctx, arms, n_arms);
    if (rc == 0) {
        bench_report_main(ctx, &arms[0]);
        char buf[64];
        bench_json_str(&ctx->out, "window", spec_text(&s, buf, sizeof buf));
        bench_json_str(&ctx->out, "aggregates",
                       session ? "count(), sum(total_price)" : "count(), count_distinct(user_id)");
        bench_json_u64(&ctx->out, "firings", mine.firings);
        bench_json_u64(&ctx->out, "accepted", mine.after.accepted);
        bench_json_u64(&ctx->out, "late_dropped", mine.after.late_dropped);
        bench_json_u64(&ctx->out, "state_bytes_at_end_of_input", mine.at_end.state_bytes);
        bench_json_u64(&ctx->out, "live_slices", mine.at_end.live_slices);
        bench_json_u64(&ctx->out, "live_sessions", mine.at_end.live_sessions);
        bench_json_u64(&ctx->out, "batch", BATCH);
        bench_say("  %llu firings; state at end of input %llu bytes",
                  (unsigned long long)mine.firings, (unsigned long long)mine.at_end.state_bytes);
        if (n_arms == 2 && session) {
            bench_stats a = bench_arm_stats(&arms[0]), b = bench_arm_stats(&arms[1]);
            bench_say("  medians: records laid out one by one %.0f, values shared per user %.0f "
                      "events per CPU-second",
                      a.median, b.median);
            bench_json_num(&ctx->out, "shared_values_events_per_sec_median", b.median, 0);
        } else if (n_arms == 2 && !ctx->main_only) {
            double r = bench_report_vs_peer(ctx, &arms[0], &arms[1], "tumble:1m, same records", 3);
            bench_say("  %s / tumble:1m = %.3f (same process, interleaved runs)", spec, r);
        }
        if (mine.after.accepted + mine.after.late_dropped != g.n)
            rc = bench_fail(ctx, "operator counters do not add up to the records");
    }
    grows_free(&g);
    grows_free(&gs);
    return rc;
}

int bench_gwindow_tumble(bench_ctx *ctx)
{
    return gwindow_scenario(ctx, "tumble:1m");
}

int bench_gwindow_hop5(bench_ctx *ctx)
{
    return gwindow_scenario(ctx, "hop:5m/1m");
}

int bench_gwindow_hop60(bench_ctx *ctx)
{
    return gwindow_scenario(ctx, "hop:60m/1m");
}

int bench_gwindow_session(bench_ctx *ctx)
{
    return gwindow_scenario(ctx, "session:30s");
}

/* Hopping windows over a stream three times as long as the longest window (3 h of event
 * time), so that every firing after the first hour merges W/S full slices: hop:60m/1m and
 * hop:5m/1m against tumble:1m, interleaved. */
int bench_gwindow_hop_long(bench_ctx *ctx)
{
    uint32_t rate = (uint32_t)(ctx->events / (3 * 3600));
    grows g;
    double t0 = bench_now();
    if (grows_make(ctx, 0, rate ? rate : 1, 0, &g) != 0)
        return -1;
    bench_say("  prepared %zu pre-decoded records over 3 h of event time (%u a second) in %.2f s "
              "(not timed)",
              g.n, rate, bench_now() - t0);
    garm h60 = {.g = &g, .spec = {.kind = WEIR_WINDOW_HOP, .size_ms = 3600000, .slide_ms = 60000}};
    garm h5 = {.g = &g, .spec = {.kind = WEIR_WINDOW_HOP, .size_ms = 300000, .slide_ms = 60000}};
    garm tu = {.g = &g, .spec = {.kind = WEIR_WINDOW_TUMBLE, .size_ms = 60000}};
    bench_arm arms[3] = {BENCH_ARM("hop:60m/1m", garm_run, &h60),
                         BENCH_ARM("hop:5m/1m", garm_run, &h5),
                         BENCH_ARM("tumble:1m", garm_run, &tu)};
    int rc = bench_measure(ctx, arms, ctx->main_only ? 1 : 3);
    if (rc == 0) {
        bench_report_main(ctx, &arms[0]);
        bench_json_str(&ctx->out, "clock", "process CPU time (user + sys)");
        bench_json_str(&ctx->out, "aggregates", "count(), count_distinct(user_id)");
        bench_json_u64(&ctx->out, "event_time_ms", (uint64_t)3 * 3600 * 1000);
        bench_json_u64(&ctx->out, "firings_hop60", h60.firings);
        bench_json_u64(&ctx->out, "firings_hop5", h5.firings);
        bench_json_u64(&ctx->out, "firings_tumble", tu.firings);
        if (!ctx->main_only) {
            bench_stats a = bench_arm_stats(&arms[0]), b = bench_arm_stats(&arms[1]),
                        c = bench_arm_stats(&arms[2]);
            bench_say("  medians: hop:60m/1m %.0f, hop:5m/1m %.0f, tumble:1m %.0f events per "
                      "CPU-second; hop60/tumble %.3f, hop5/tumble %.3f",
                      a.median, b.median, c.median, a.median / c.median, b.median / c.median);
            bench_json_num(&ctx->out, "hop60_over_tumble", a.median / c.median, 3);
            bench_json_num(&ctx->out, "hop5_over_tumble", b.median / c.median, 3);
        }
    }
    grows_free(&g);
    return rc;
}
