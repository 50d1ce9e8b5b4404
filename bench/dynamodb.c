/* dynamodb-sink: window results per second into dynalite through weir's DynamoDB sink, beside
 * dynalite's own ceiling (pre-built requests from test/it/dynamodb_util.py raw-baseline). */
#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"
#include "weir/dynamodb.h"
#include "weir/pipeline.h"
#include "weir/weir.h"

extern char **environ;

typedef struct ddb_arm {
    const weir_conf *conf;
    weir_agg_spec aggs[WEIR_MAX_AGGS];
    size_t n_aggs;
    int hll_precision;
    size_t n;
    char (*keys)[16];
    int round; /* each run writes new windows, so no run only overwrites */
    uint64_t retries;
} ddb_arm;

static double ddb_run(void *opaque, uint64_t *events, char *err, size_t errlen)
{
    ddb_arm *a = opaque;
    weir_sink *sink = NULL;
    weir_err rc =
        weir_dynamodb_sink_create(a->conf, "product_id", a->aggs, a->n_aggs, &sink, err, errlen);
    if (rc != WEIR_OK)
        return -1;
    /* One firing per (product, window): 1,000 products per window, as a busy minute of the
     * job would emit. */
    const int64_t base = 1704067200000LL + (int64_t)a->round++ * 100000 * 60000LL;
    uint64_t values[2];
    double t0 = bench_now();
    for (size_t i = 0; i < a->n && rc == WEIR_OK; i++) {
        values[0] = i % 977 + 1;
        values[1] = i % 977 + 5;
        weir_firing f = {
            .key = {a->keys[i % 1000], strlen(a->keys[i % 1000])},
            .window_start = base + (int64_t)(i / 1000) * 60000,
            .window_end = base + (int64_t)(i / 1000 + 1) * 60000,
            .late = 0,
            .values = values,
            .n_values = a->n_aggs,
        };
        rc = weir_sink_firing(sink, &f);
    }
    if (rc == WEIR_OK)
        rc = weir_sink_flush(sink, -1);
    double secs = bench_now() - t0;
    uint64_t written = weir_sink_written(sink);
    a->retries = weir_sink_retries(sink);
    if (rc != WEIR_OK)
        snprintf(err, errlen, "DynamoDB sink: %s",
                 weir_sink_error(sink)[0] ? weir_sink_error(sink) : weir_err_str(rc));
    weir_sink_destroy(sink);
    if (rc != WEIR_OK)
        return -1;
    if (written != a->n) {
        snprintf(err, errlen, "the sink wrote %llu of %zu items", (unsigned long long)written,
                 a->n);
        return -1;
    }
    *events = written;
    return secs;
}

typedef struct raw_arm {
    char util[512], url[128], items[32], threads[16], log[512];
} raw_arm;

/* The peer's ceiling, measured by the DynamoDB tests' own helper; its figures are its own
 * (Python's clock around the requests, not its start-up). */
static double raw_run(void *opaque, uint64_t *events, char *err, size_t errlen)
{
    raw_arm *a = opaque;
    char *argv[] = {"/usr/bin/python3", a->util,  "raw-baseline", a->url,     "weir_bench",
                    "--items",          a->items, "--threads",    a->threads, NULL};
    pid_t pid = bench_spawn(argv, a->log);
    int status = pid > 0 ? bench_wait(pid) : -1;
    FILE *f = fopen(a->log, "r");
    char line[512] = "";
    unsigned long long total = 0;
    double dt = 0;
    unsigned long long failed = 0;
    int got = 0;
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "raw baseline: %llu items in %lfs", &total, &dt) == 2) {
            const char *fl = strstr(line, "connections, ");
            if (fl)
                failed = strtoull(fl + 13, NULL, 10);
            got = 1;
        }
    if (f)
        fclose(f);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 || !got || dt <= 0 || failed) {
        snprintf(err, errlen, "raw-baseline failed (log %s)", a->log);
        return -1;
    }
    *events = total;
    return dt;
}

int bench_dynamodb_sink(bench_ctx *ctx)
{
    char dynalite[512], util[512];
    snprintf(dynalite, sizeof dynalite, "%s/test/peers/node_modules/dynalite/cli.js", ctx->root);
    snprintf(util, sizeof util, "%s/test/it/dynamodb_util.py", ctx->root);
    if (access(dynalite, R_OK) != 0)
        return bench_skip(ctx, "dynalite is not installed (make deps runs npm ci in test/peers)");
    int port = bench_free_port();
    char portstr[16], logp[512], url[128];
    snprintf(portstr, sizeof portstr, "%d", port);
    snprintf(logp, sizeof logp, "%s/dynalite.log", ctx->tmpdir);
    snprintf(url, sizeof url, "http://127.0.0.1:%d", port);
    char *argv[] = {"node",  dynalite,          "--host", "127.0.0.1", "--port",
                    portstr, "--createTableMs", "20",     NULL};
    pid_t pid = port ? bench_spawn(argv, logp) : -1;
    if (pid < 0 || bench_wait_port(port, pid, 20000) != 0) {
        bench_stop(pid, 1000);
        return bench_skip(ctx, "dynalite could not be started (node; log %s)", logp);
    }
    /* dynalite accepts any credentials; these keep real ones of the environment away from
     * a benchmark. */
    setenv("AWS_ACCESS_KEY_ID", "weirbench", 1);
    setenv("AWS_SECRET_ACCESS_KEY", "weirbench-not-a-secret", 1);
    unsetenv("AWS_SESSION_TOKEN");
    weir_conf *conf = weir_conf_new();
    char err[512];
    int rc = -1;
    ddb_arm da;
    memset(&da, 0, sizeof da);
    da.keys = malloc(1000 * sizeof *da.keys);
    if (!conf || !da.keys ||
        weir_conf_set(conf, "dynamodb.endpoint", url, err, sizeof err) != WEIR_OK ||
        weir_conf_set(conf, "dynamodb.table", "weir_bench", err, sizeof err) != WEIR_OK ||
        weir_conf_set(conf, "dynamodb.create.table", "true", err, sizeof err) != WEIR_OK) {
        bench_fail(ctx, "configuration failed");
        goto done;
    }
    for (int i = 0; i < 1000; i++)
        snprintf(da.keys[i], sizeof da.keys[i], "%d", i);
    da.conf = conf;
    da.n = ctx->events;
    da.n_aggs = weir_aggs_from_conf(conf, da.aggs, &da.hll_precision);
    raw_arm ra;
    snprintf(ra.util, sizeof ra.util, "%s", util);
    snprintf(ra.url, sizeof ra.url, "%s", url);
    snprintf(ra.items, sizeof ra.items, "%llu", (unsigned long long)ctx->events);
    snprintf(ra.threads, sizeof ra.threads, "%s", weir_conf_get(conf, "dynamodb.max.inflight"));
    snprintf(ra.log, sizeof ra.log, "%s/raw-baseline.log", ctx->tmpdir);
    /* The peer is another component's test helper: probe it once, and measure without it
     * (saying so) rather than fail when it is missing or has changed. */
    weir_sink *first = NULL;
    if (weir_dynamodb_sink_create(conf, "product_id", da.aggs, da.n_aggs, &first, err,
                                  sizeof err) != WEIR_OK) {
        bench_fail(ctx, "DynamoDB sink: %s", err);
        goto done;
    }
    weir_sink_destroy(first); /* the table exists now, for the peer too */
    int have_peer = access(util, R_OK) == 0;
    if (have_peer) {
        raw_arm probe = ra;
        uint64_t n = 0;
        snprintf(probe.items, sizeof probe.items, "100");
        snprintf(probe.threads, sizeof probe.threads, "1");
        have_peer = raw_run(&probe, &n, err, sizeof err) > 0 && n == 100;
    }
    if (!have_peer)
        bench_json_str(&ctx->out, "peer_note",
                       "test/it/dynamodb_util.py raw-baseline unavailable: no peer figure");
    bench_arm arms[2] = {
        BENCH_ARM("dynamodb-sink (weir)", ddb_run, &da),
        BENCH_ARM("dynalite raw ceiling", raw_run, &ra),
    };
    if (bench_measure(ctx, arms, have_peer ? 2 : 1) != 0)
        goto done;
    bench_report_main(ctx, &arms[0]);
    bench_json_str(&ctx->out, "unit", "items (window results) per second");
    bench_json_u64(&ctx->out, "max_inflight",
                   (uint64_t)weir_conf_get_int(conf, "dynamodb.max.inflight"));
    bench_json_u64(&ctx->out, "retries_last_run", da.retries);
    if (have_peer) {
        double ratio = bench_report_vs_peer(ctx, &arms[0], &arms[1],
                                            "dynalite ceiling: pre-built BatchWriteItem bodies, "
                                            "same connections (test/it/dynamodb_util.py "
                                            "raw-baseline)",
                                            3);
        bench_say("  weir's sink reaches %.0f%% of what dynalite accepts from pre-built requests",
                  100 * ratio);
    }
    bench_json_str(&ctx->out, "vs_scan_note", "not applicable: items are window results");
    rc = 0;
done:
    bench_stop(pid, 3000);
    weir_conf_destroy(conf);
    free(da.keys);
    return rc;
}
