/* Scenario window-json-4agg: the generic job (weir-window's core) from JSON lines with the four
 * aggregates of issue #17's figure, count, sum, max and count_distinct, on one core. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "weir/conf.h"
#include "weir/window_job.h"

/* The aggregates of #17's figure, as weir-window's --agg flags would give them. */
static const char *const AGGS[] = {
    "count(user_id)",
    "sum(total_price)",
    "max(total_price)",
    "count_distinct(user_id)",
};

typedef struct ww_input {
    const char *path;
    uint64_t emissions, valid;
} ww_input;

/* The generator's lines with a `total_price` first, drawn from the line number as
 * docs/BENCHMARKS.md's awk command draws it ((n * 7919) % 100000 / 100), written with two
 * decimals (doubles, the hard case for sum and max). */
static int write_priced(bench_ctx *ctx, FILE *f, const void *opaque)
{
    FILE *in = fopen(opaque, "r");
    if (!in)
        return bench_fail(ctx, "cannot read %s", (const char *)opaque);
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    uint64_t nr = 0;
    int rc = 0;
    while ((n = getline(&line, &cap, in)) > 0) {
        nr++;
        unsigned p = (unsigned)((nr * 7919) % 100000);
        if (line[0] == '{' &&
            fprintf(f, "{\"total_price\":%u.%02u,%s", p / 100, p % 100, line + 1) < 0) {
            rc = -1;
            break;
        }
    }
    free(line);
    fclose(in);
    return rc;
}

static double ww_run(void *opaque, uint64_t *events, char *err, size_t errlen)
{
    ww_input *in = opaque;
    double c0 = bench_cpu_now();
    weir_conf *conf = weir_conf_new();
    weir_window_job_stats st;
    weir_err rc = conf ? WEIR_OK : WEIR_ERR_NOMEM;
    if (rc == WEIR_OK)
        rc = weir_conf_set(conf, "key.field", "product_id", err, errlen);
    if (rc == WEIR_OK)
        rc = weir_conf_set(conf, "window.spec", "tumble:1m", err, errlen);
    for (size_t i = 0; rc == WEIR_OK && i < sizeof AGGS / sizeof AGGS[0]; i++)
        rc = weir_conf_set(conf, "aggregates", AGGS[i], err, errlen);
    if (rc == WEIR_OK)
        rc = bench_window_job_file(conf, in->path, &st, err, errlen);
    weir_conf_destroy(conf);
    if (rc != WEIR_OK)
        return -1;
    *events = st.records;
    in->emissions = st.op.emissions;
    in->valid = st.valid;
    return bench_cpu_now() - c0;
}

int bench_window_json_4agg(bench_ctx *ctx)
{
    weir_gen_params p;
    bench_gen_params(ctx, ctx->events, &p);
    const char *base = bench_json_file(ctx, &p);
    if (!base)
        return -1;
    char src[512], path[560];
    snprintf(src, sizeof src, "%s", base);
    snprintf(path, sizeof path, "%.500s.priced.jsonl", src);
    if (bench_make_file(ctx, path, write_priced, src) < 0)
        return -1;
    ww_input in = {path, 0, 0};
    bench_arm arms[2] = {
        BENCH_ARM("weir-window, 4 aggregates", ww_run, &in),
        BENCH_ARM("scan", bench_scan_run, path),
    };
    if (bench_measure(ctx, arms, 2) != 0)
        return -1;
    bench_report_main(ctx, &arms[0]);
    bench_report_vs_scan(ctx, &arms[0], &arms[1]);
    bench_json_str(&ctx->out, "job",
                   "key product_id, tumble:1m, count(user_id), "
                   "sum(total_price), max(total_price), count_distinct(user_id)");
    bench_json_str(&ctx->out, "clock", "CPU time of the process (one thread), job set-up included");
    bench_json_u64(&ctx->out, "firings", in.emissions);
    bench_json_u64(&ctx->out, "valid", in.valid);
    bench_say("  %llu valid records, %llu firings", (unsigned long long)in.valid,
              (unsigned long long)in.emissions);
    return 0;
}
