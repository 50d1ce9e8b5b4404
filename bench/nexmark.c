/* Scenarios nexmark-q0 ... nexmark-q16: the Nexmark queries of weir-nexmark over generated
 * events, from JSON lines (a file, as `weir-nexmark qN --input` reads it) and from pre-decoded
 * events in memory (the closest thing to Flink's datagen source), on one core. docs/NEXMARK.md
 * has the table beside Flink 1.13's published per-core figures. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../examples/nexmark/nexmark_queries.h"
#include "bench.h"
#include "weir/conf.h"
#include "weir/nexmark.h"
#include "weir/window_job.h"

/* One event as the queries read it: numbers and the two strings they use. */
typedef struct nx_compact {
    int64_t date_time, auction, bidder, price;
    uint32_t type, channel_len, extra_len, pad;
    const char *channel, *extra;
} nx_compact;

typedef struct nx_input {
    const char *query;
    const char *path; /* JSON lines */
    nx_compact *ev;
    size_t n;
    char *arena;
    double flink; /* Flink 1.13 per core, events/s */
    uint64_t outputs;
    /* Wall-clock events/s of each run of each arm (the arms measure CPU time). */
    double wall_eps[2][BENCH_MAX_RUNS + 1];
    int n_wall[2];
} nx_input;

/* The arms return the CPU seconds of this (single-threaded) process: on a shared machine that
 * is the per-core figure; the wall-clock figures go beside them in the JSON line. */
static double arm_done(nx_input *in, int arm, uint64_t events, double wall0, double cpu0)
{
    double wall = bench_now() - wall0;
    if (in->n_wall[arm] <= BENCH_MAX_RUNS && wall > 0)
        in->wall_eps[arm][in->n_wall[arm]++] = (double)events / wall;
    return bench_cpu_now() - cpu0;
}

static const struct {
    const char *q;
    double flink;
} FLINK[] = {{"q0", 155020}, {"q1", 157940}, {"q2", 175210}, {"q5", 22140},
             {"q7", 12330},  {"q11", 39700}, {"q15", 72420}, {"q16", 18650}};

static void nx_params(const bench_ctx *ctx, weir_nexmark_params *p)
{
    weir_nexmark_params_default(p);
    p->seed = ctx->seed;
    p->events = ctx->events;
}

static int write_nexmark(bench_ctx *ctx, FILE *f, const void *opaque)
{
    char err[256];
    weir_nexmark_gen *g;
    if (weir_nexmark_gen_new(opaque, &g, err, sizeof err) != WEIR_OK)
        return bench_fail(ctx, "generator: %s", err);
    char line[WEIR_NEXMARK_JSON_MAX];
    weir_nexmark_event ev;
    int rc = 0;
    while ((rc = weir_nexmark_gen_next(g, &ev)) == 1) {
        size_t n = weir_nexmark_event_to_json(&ev, line, sizeof line);
        if (fwrite(line, 1, n, f) != n) {
            rc = -1;
            break;
        }
    }
    weir_nexmark_gen_destroy(g);
    return rc;
}

/* The JSON lines of weir-nexmark gen, kept in ctx->datadir for identical parameters. */
static const char *nx_file(bench_ctx *ctx, const weir_nexmark_params *p)
{
    static char path[512];
    snprintf(path, sizeof path, "%s/nexmark-s%llu-n%llu-r%llu.jsonl", ctx->datadir,
             (unsigned long long)p->seed, (unsigned long long)p->events,
             (unsigned long long)p->rate);
    int made = bench_make_file(ctx, path, write_nexmark, p);
    if (made < 0)
        return NULL;
    if (made) {
        struct stat st;
        stat(path, &st);
        bench_say("  generated %llu Nexmark events (%.1f MB, not timed): %s",
                  (unsigned long long)p->events, (double)st.st_size / 1e6, path);
    }
    return path;
}

/* The same events decoded once, in memory: bids keep their channel and extra. */
static int nx_decode(bench_ctx *ctx, const weir_nexmark_params *p, nx_input *in)
{
    char err[256];
    weir_nexmark_gen *g;
    if (weir_nexmark_gen_new(p, &g, err, sizeof err) != WEIR_OK)
        return bench_fail(ctx, "generator: %s", err);
    in->ev = malloc(p->events * sizeof *in->ev);
    size_t cap = p->events * 160 + 4096, used = 0;
    in->arena = malloc(cap);
    if (!in->ev || !in->arena) {
        weir_nexmark_gen_destroy(g);
        return bench_fail(ctx, "out of memory for %llu events", (unsigned long long)p->events);
    }
    weir_nexmark_event ev;
    int rc;
    in->n = 0;
    while ((rc = weir_nexmark_gen_next(g, &ev)) == 1) {
        nx_compact *c = &in->ev[in->n++];
        memset(c, 0, sizeof *c);
        c->type = (uint32_t)ev.type;
        c->date_time = ev.date_time;
        if (ev.type != WEIR_NEXMARK_BID)
            continue;
        size_t need = ev.bid.channel.len + ev.bid.extra.len;
        if (used + need > cap) {
            weir_nexmark_gen_destroy(g);
            return bench_fail(ctx, "string arena too small");
        }
        c->auction = ev.bid.auction;
        c->bidder = ev.bid.bidder;
        c->price = ev.bid.price;
        memcpy(in->arena + used, ev.bid.channel.ptr, ev.bid.channel.len);
        c->channel = in->arena + used;
        c->channel_len = ev.bid.channel.len;
        used += ev.bid.channel.len;
        memcpy(in->arena + used, ev.bid.extra.ptr, ev.bid.extra.len);
        c->extra = in->arena + used;
        c->extra_len = ev.bid.extra.len;
        used += ev.bid.extra.len;
    }
    weir_nexmark_gen_destroy(g);
    if (rc != 0)
        return bench_fail(ctx, "generator failed");
    bench_say("  pre-decoded %zu events (%.1f MB of strings, not timed)", in->n,
              (double)used / 1e6);
    return 0;
}

static double run_json(void *opaque, uint64_t *events, char *err, size_t errlen)
{
    nx_input *in = opaque;
    double t0 = bench_now(), c0 = bench_cpu_now();
    if (nxq_config(in->query)) {
        /* q11, q15, q16: the generic job itself, as weir-nexmark runs it. */
        weir_conf *conf = weir_conf_new();
        weir_window_job_stats st;
        weir_err rc = conf ? nxq_config_apply(conf, in->query, err, errlen) : WEIR_ERR_NOMEM;
        if (rc == WEIR_OK)
            rc = bench_window_job_file(conf, in->path, &st, err, errlen);
        weir_conf_destroy(conf);
        if (rc != WEIR_OK)
            return -1;
        *events = st.records;
        in->outputs = st.op.emissions;
        return arm_done(in, 0, *events, t0, c0);
    }
    nxq *q;
    if (nxq_new(in->query, NULL, &q, err, errlen) != WEIR_OK)
        return -1;
    int fd = open(in->path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        nxq_destroy(q);
        snprintf(err, errlen, "cannot open %s", in->path);
        return -1;
    }
    weir_err rc = nxq_run_fd(q, fd, NULL);
    close(fd);
    *events = nxq_get_stats(q)->records;
    in->outputs = nxq_get_stats(q)->outputs;
    nxq_destroy(q);
    if (rc != WEIR_OK) {
        snprintf(err, errlen, "%s", weir_err_str(rc));
        return -1;
    }
    return arm_done(in, 0, *events, t0, c0);
}

static double run_decoded(void *opaque, uint64_t *events, char *err, size_t errlen)
{
    nx_input *in = opaque;
    nxq *q;
    if (nxq_new(in->query, NULL, &q, err, errlen) != WEIR_OK)
        return -1;
    double t0 = bench_now(), c0 = bench_cpu_now();
    weir_err rc = WEIR_OK;
    weir_nexmark_event ev;
    memset(&ev, 0, sizeof ev);
    for (size_t i = 0; i < in->n && rc == WEIR_OK; i++) {
        const nx_compact *c = &in->ev[i];
        ev.type = (weir_nexmark_type)c->type;
        ev.date_time = c->date_time;
        ev.bid.auction = c->auction;
        ev.bid.bidder = c->bidder;
        ev.bid.price = c->price;
        ev.bid.channel = (weir_nexmark_str){c->channel, c->channel_len};
        ev.bid.extra = (weir_nexmark_str){c->extra, c->extra_len};
        rc = nxq_event(q, &ev);
        if ((i & 1023) == 1023 && rc == WEIR_OK)
            rc = nxq_flush(q);
    }
    if (rc == WEIR_OK)
        rc = nxq_finish(q);
    *events = nxq_get_stats(q)->records;
    double secs = arm_done(in, 1, *events, t0, c0);
    nxq_destroy(q);
    if (rc != WEIR_OK) {
        snprintf(err, errlen, "%s", weir_err_str(rc));
        return -1;
    }
    return secs;
}

static int nexmark_scenario(bench_ctx *ctx, const char *query)
{
    nx_input in;
    memset(&in, 0, sizeof in);
    in.query = query;
    for (size_t i = 0; i < sizeof FLINK / sizeof FLINK[0]; i++)
        if (!strcmp(FLINK[i].q, query))
            in.flink = FLINK[i].flink;
    weir_nexmark_params p;
    nx_params(ctx, &p);
    in.path = nx_file(ctx, &p);
    if (!in.path || nx_decode(ctx, &p, &in) != 0) {
        free(in.ev);
        free(in.arena);
        return -1;
    }
    bench_arm arms[2] = {
        BENCH_ARM("from JSON lines", run_json, &in),
        BENCH_ARM("pre-decoded", run_decoded, &in),
    };
    int rc = bench_measure(ctx, arms, 2);
    free(in.ev);
    free(in.arena);
    if (rc != 0)
        return -1;
    bench_report_main(ctx, &arms[0]);
    bench_stats js = bench_arm_stats(&arms[0]), ds = bench_arm_stats(&arms[1]);
    bench_json_str(&ctx->out, "query", query);
    bench_json_num(&ctx->out, "json_events_per_sec_median", js.median, 0);
    bench_json_num(&ctx->out, "decoded_events_per_sec_median", ds.median, 0);
    bench_json_num(&ctx->out, "flink_1_13_per_core", in.flink, 0);
    bench_json_num(&ctx->out, "json_vs_flink", js.median / in.flink, 1);
    bench_json_num(&ctx->out, "decoded_vs_flink", ds.median / in.flink, 1);
    bench_json_u64(&ctx->out, "outputs", in.outputs);
    bench_json_str(&ctx->out, "clock", "CPU time of the process (one thread); wall below");
    bench_json_num(&ctx->out, "json_wall_events_per_sec_median",
                   bench_median(in.wall_eps[0] + 1, in.n_wall[0] - 1), 0);
    bench_json_num(&ctx->out, "decoded_wall_events_per_sec_median",
                   bench_median(in.wall_eps[1] + 1, in.n_wall[1] - 1), 0);
    bench_say("  | %s | %.2f M/s | %.2f M/s | %.2f K/s | %.0fx | %.0fx |", query, js.median / 1e6,
              ds.median / 1e6, in.flink / 1e3, js.median / in.flink, ds.median / in.flink);
    return 0;
}

int bench_nexmark_q0(bench_ctx *ctx)
{
    return nexmark_scenario(ctx, "q0");
}
int bench_nexmark_q1(bench_ctx *ctx)
{
    return nexmark_scenario(ctx, "q1");
}
int bench_nexmark_q2(bench_ctx *ctx)
{
    return nexmark_scenario(ctx, "q2");
}
int bench_nexmark_q5(bench_ctx *ctx)
{
    return nexmark_scenario(ctx, "q5");
}
int bench_nexmark_q7(bench_ctx *ctx)
{
    return nexmark_scenario(ctx, "q7");
}
int bench_nexmark_q11(bench_ctx *ctx)
{
    return nexmark_scenario(ctx, "q11");
}
int bench_nexmark_q15(bench_ctx *ctx)
{
    return nexmark_scenario(ctx, "q15");
}
int bench_nexmark_q16(bench_ctx *ctx)
{
    return nexmark_scenario(ctx, "q16");
}
