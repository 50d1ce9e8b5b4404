/* weir-bench: runs one benchmark scenario and prints readable lines, then one JSON line
 * (docs/BENCHMARKS.md). */
#include <errno.h>
#include <ftw.h>
#include <libgen.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bench.h"
#include "weir/weir.h"

static const bench_scenario SCENARIOS[] = {
    {"scan", "read the JSON-lines file in 4 MiB blocks and split it into records: the floor",
     8000000, bench_scan},
    {"decode", "weir_decoder_decode over every line (validation, fields, timestamp, hashes)",
     1000000, bench_decode},
    {"decode-cjson", "cJSON extracting the same three fields (peer of decode)", 1000000,
     bench_decode_cjson},
    {"decode-jansson", "jansson extracting the same three fields (peer of decode)", 1000000,
     bench_decode_jansson},
    {"decode-jsmn", "jsmn tokens and a lookup of the same three fields (peer of decode)", 1000000,
     bench_decode_jsmn},
    {"operator-exact", "the window operator, exact distinct, over pre-decoded events", 8000000,
     bench_operator_exact},
    {"operator-hll", "the window operator, HyperLogLog distinct, over pre-decoded events", 8000000,
     bench_operator_hll},
    {"operator-exact-steady",
     "operator-exact over six windows, the first one cold, as a running job sees them", 36000000,
     bench_operator_exact_steady},
    {"file-exact", "the whole file job (unique-users), JSON in and out, exact", 8000000,
     bench_file_exact},
    {"file-hll", "the whole file job (unique-users), JSON in and out, HyperLogLog", 8000000,
     bench_file_hll},
    {"hll-add", "HyperLogLog adds of pre-computed hashes, dense and sparse sketches", 4000000,
     bench_hll_add},
    {"hll-vs-redis", "the same values into weir's sketch and into Redis (pipelined PFADD)", 1000000,
     bench_hll_vs_redis},
    {"state-memory", "operator state bytes per live (product, user, window), exact and hll",
     1000000, bench_state_memory},
    {"kafka-e2e", "dev broker -> the job in Kafka mode -> results topic", 1000000, bench_kafka_e2e},
    {"dynamodb-sink", "window results per second into dynalite through the DynamoDB sink", 5000,
     bench_dynamodb_sink},
    {"checkpoint", "snapshot, restore and checkpoint writes at N live (product, user) pairs",
     1000000, bench_checkpoint},
    {"nexmark-q0", "Nexmark q0 pass-through, from JSON lines and pre-decoded (docs/NEXMARK.md)",
     10000000, bench_nexmark_q0},
    {"nexmark-q1", "Nexmark q1 currency conversion, from JSON lines and pre-decoded", 10000000,
     bench_nexmark_q1},
    {"nexmark-q2", "Nexmark q2 selection, from JSON lines and pre-decoded", 10000000,
     bench_nexmark_q2},
    {"nexmark-q5", "Nexmark q5 hot items (hop:10s/2s), from JSON lines and pre-decoded", 10000000,
     bench_nexmark_q5},
    {"nexmark-q7", "Nexmark q7 highest bid (tumble:10s), from JSON lines and pre-decoded", 10000000,
     bench_nexmark_q7},
    {"nexmark-q11", "Nexmark q11 user sessions (session:10s), from JSON lines and pre-decoded",
     10000000, bench_nexmark_q11},
    {"nexmark-q15", "Nexmark q15 bidding statistics (tumble:1d), JSON lines and pre-decoded",
     10000000, bench_nexmark_q15},
    {"nexmark-q16", "Nexmark q16 channel statistics (tumble:1d per channel), JSON and decoded",
     10000000, bench_nexmark_q16},
    {"window-json-4agg",
     "weir-window's core from JSON lines: count, sum, max, count_distinct per product, tumble:1m",
     4000000, bench_window_json_4agg},
    {"gwindow-tumble-1m",
     "generic operator, tumble:1m, count() and count_distinct(user_id), pre-decoded records",
     8000000, bench_gwindow_tumble},
    {"gwindow-hop-5m-1m", "generic operator, hop:5m/1m against tumble:1m on the same records",
     8000000, bench_gwindow_hop5},
    {"gwindow-hop-60m-1m", "generic operator, hop:60m/1m against tumble:1m on the same records",
     8000000, bench_gwindow_hop60},
    {"gwindow-session-30s",
     "generic operator, session:30s per user, count() and sum(total_price), pre-decoded records",
     8000000, bench_gwindow_session},
    {"gwindow-hop-long",
     "generic operator, hop:60m/1m and hop:5m/1m against tumble:1m over 3 h of event time", 4000000,
     bench_gwindow_hop_long},
};
#define N_SCENARIOS (sizeof SCENARIOS / sizeof SCENARIOS[0])

static char tmpdir_to_remove[256];

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static void cleanup(void)
{
    bench_kill_children();
    if (tmpdir_to_remove[0])
        nftw(tmpdir_to_remove, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    tmpdir_to_remove[0] = '\0';
}

static void on_signal(int sig)
{
    /* exit() runs cleanup: stopping peers and removing the scratch directory matter more
     * than async-signal safety in a benchmark being interrupted. */
    (void)sig;
    exit(130);
}

static void usage(FILE *out)
{
    fprintf(out,
            "usage: weir-bench --scenario NAME [--events N] [--seed S] [--runs R]\n"
            "       weir-bench --list\n"
            "       weir-bench --scenario NAME --main-only ... (for profilers: only the\n"
            "       scenario's own work, no warm-up, no scan or peer runs, ratios null)\n"
            "Runs one scenario R times (default 5) after a warm-up, prints a line per run and,\n"
            "last, one JSON line with the median, min and max events per second.\n"
            "Environment: WEIR_BENCH_DATA_DIR keeps generated inputs between invocations;\n"
            "WEIR_ROOT is the repository root (default: two levels above the binary).\n");
}

static int parse_u64(const char *s, uint64_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s || *end || s[0] == '-')
        return -1;
    *out = v;
    return 0;
}

int main(int argc, char **argv)
{
    bench_ctx ctx;
    memset(&ctx, 0, sizeof ctx);
    ctx.seed = 1;
    ctx.runs = 5;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        uint64_t x;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(a, "--list")) {
            for (size_t k = 0; k < N_SCENARIOS; k++)
                printf("%-22s %s\n", SCENARIOS[k].name, SCENARIOS[k].what);
            return 0;
        } else if (!strcmp(a, "--main-only")) {
            ctx.main_only = 1;
        } else if (!strcmp(a, "--scenario") && v) {
            ctx.scenario = v;
            i++;
        } else if (!strcmp(a, "--events") && v && parse_u64(v, &x) == 0 && x > 0) {
            ctx.events = x;
            ctx.events_given = 1;
            i++;
        } else if (!strcmp(a, "--seed") && v && parse_u64(v, &x) == 0) {
            ctx.seed = x;
            i++;
        } else if (!strcmp(a, "--runs") && v && parse_u64(v, &x) == 0 && x >= 1 &&
                   x <= BENCH_MAX_RUNS) {
            ctx.runs = (int)x;
            i++;
        } else {
            fprintf(stderr, "weir-bench: bad argument \"%s\"%s\n", a, v ? "" : " (missing value?)");
            usage(stderr);
            return 2;
        }
    }
    const bench_scenario *sc = NULL;
    for (size_t k = 0; ctx.scenario && k < N_SCENARIOS; k++)
        if (!strcmp(ctx.scenario, SCENARIOS[k].name))
            sc = &SCENARIOS[k];
    if (!sc) {
        fprintf(stderr, "weir-bench: %s (see --list)\n",
                ctx.scenario ? "unknown scenario" : "--scenario is required");
        return 2;
    }
    if (!ctx.events_given)
        ctx.events = sc->default_events;

    char exe[256];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    exe[n > 0 ? n : 0] = '\0';
    snprintf(ctx.bindir, sizeof ctx.bindir, "%s", n > 0 ? dirname(exe) : ".");
    const char *root = getenv("WEIR_ROOT");
    if (root && *root)
        snprintf(ctx.root, sizeof ctx.root, "%s", root);
    else
        snprintf(ctx.root, sizeof ctx.root, "%s/../..", ctx.bindir);

    snprintf(ctx.tmpdir, sizeof ctx.tmpdir, "/tmp/weir-bench-XXXXXX");
    if (!mkdtemp(ctx.tmpdir)) {
        fprintf(stderr, "weir-bench: cannot create a directory in /tmp: %s\n", strerror(errno));
        return 1;
    }
    snprintf(tmpdir_to_remove, sizeof tmpdir_to_remove, "%s", ctx.tmpdir);
    atexit(cleanup);
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    signal(SIGPIPE, SIG_IGN);
    const char *dd = getenv("WEIR_BENCH_DATA_DIR");
    snprintf(ctx.datadir, sizeof ctx.datadir, "%s", dd && *dd ? dd : ctx.tmpdir);

    bench_say("weir-bench %s: %s (events %llu, seed %llu, runs %d, weir %s)", sc->name, sc->what,
              (unsigned long long)ctx.events, (unsigned long long)ctx.seed, ctx.runs,
              weir_version());
    double t0 = bench_now();
    int rc = sc->run(&ctx);
    double wall = bench_now() - t0;

    bench_json j = {0};
    bench_json_str(&j, "scenario", sc->name);
    bench_json_u64(&j, "events", ctx.have_main ? ctx.main_events : ctx.events);
    bench_json_u64(&j, "runs", ctx.have_main ? (uint64_t)ctx.main_runs : 0);
    bench_json_u64(&j, "seed", ctx.seed);
    if (rc != 0 || ctx.failed[0]) {
        bench_json_str(&j, "failed", ctx.failed[0] ? ctx.failed : "failed");
        fprintf(stderr, "weir-bench %s: %s\n", sc->name, ctx.failed);
    } else if (ctx.skipped[0]) {
        bench_json_str(&j, "skipped", ctx.skipped);
        bench_say("  skipped: %s", ctx.skipped);
    }
    if (ctx.have_main && !ctx.failed[0]) {
        bench_json_num(&j, "events_per_sec_median", ctx.main.median, 0);
        bench_json_num(&j, "events_per_sec_min", ctx.main.min, 0);
        bench_json_num(&j, "events_per_sec_max", ctx.main.max, 0);
    } else {
        bench_json_raw(&j, "events_per_sec_median", "null");
        bench_json_raw(&j, "events_per_sec_min", "null");
        bench_json_raw(&j, "events_per_sec_max", "null");
    }
    bench_json_u64(&j, "peak_rss_bytes", ctx.peak_rss ? ctx.peak_rss : bench_peak_rss());
    bench_json_num(&j, "wall_sec", wall, 2);
    if (!ctx.failed[0])
        bench_json_merge(&j, &ctx.out);
    printf("%s\n", bench_json_finish(&j));
    fflush(stdout);
    bench_json_free(&j);
    bench_json_free(&ctx.out);
    return rc != 0 || ctx.failed[0] ? 1 : 0;
}
