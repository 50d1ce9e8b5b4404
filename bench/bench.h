/* weir-bench internals shared by its files: options, timing of runs, the JSON result line,
 * generated inputs, peers started as child processes. Not part of weir's API. */
#ifndef WEIR_BENCH_H
#define WEIR_BENCH_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "support/gen.h"
#include "weir/event.h"
#include "weir/window_job.h"

#define BENCH_MAX_RUNS 64
#define BENCH_MAX_ARMS 4

/* ---------------------------------------------------------------- a JSON object being built */

typedef struct bench_json {
    char *buf;
    size_t len, cap;
    int n; /* members so far */
} bench_json;

void bench_json_str(bench_json *j, const char *key, const char *value);
void bench_json_u64(bench_json *j, const char *key, uint64_t value);
/* A number with `decimals` digits after the point; NaN and infinities become null. */
void bench_json_num(bench_json *j, const char *key, double value, int decimals);
/* `raw` is already JSON (an object, an array, null). */
void bench_json_raw(bench_json *j, const char *key, const char *raw);
/* Appends the members of `members` (not yet finished) to `j`. */
void bench_json_merge(bench_json *j, const bench_json *members);
/* The object's text with its braces; owned by `j`. */
const char *bench_json_finish(bench_json *j);
void bench_json_free(bench_json *j);

/* ---------------------------------------------------------------- runs */

/*
 * One thing timed: `fn` does one run and returns the seconds it timed (it times only its
 * work, never its setup) and the events it handled in *events, or a negative value on
 * failure with a reason in errbuf.
 */
typedef double (*bench_run_fn)(void *opaque, uint64_t *events, char *errbuf, size_t errlen);

/* An arm named `name` running fn(opaque). */
#define BENCH_ARM(name_, fn_, opaque_)                                                             \
    ((bench_arm){.name = (name_), .fn = (fn_), .opaque = (opaque_)})

typedef struct bench_arm {
    const char *name;
    bench_run_fn fn;
    void *opaque;
    int runs;                    /* filled by bench_measure */
    double eps[BENCH_MAX_RUNS];  /* events per second of each run */
    double secs[BENCH_MAX_RUNS]; /* seconds of each run */
    uint64_t events;             /* events of the last run */
} bench_arm;

typedef struct bench_stats {
    double median, min, max;
} bench_stats;

bench_stats bench_arm_stats(const bench_arm *a);

/* ---------------------------------------------------------------- the context of a scenario */

typedef struct bench_ctx {
    const char *scenario;
    uint64_t events; /* --events, or the scenario's default */
    int events_given;
    uint64_t seed;
    int runs;
    int main_only;     /* --main-only: run arm 0 only (profiling); ratios come out null */
    char tmpdir[256];  /* this process's scratch directory, removed at exit */
    char datadir[256]; /* where generated inputs are kept (tmpdir or $WEIR_BENCH_DATA_DIR) */
    char bindir[256];  /* directory of weir-bench itself (build/bin) */
    char root[300];    /* the repository root ($WEIR_ROOT or bindir/../..) */
    bench_json out;    /* the scenario's fields after the common ones */
    bench_stats main;  /* the scenario's headline throughput (bench_report_main) */
    int have_main;
    uint64_t main_events; /* events per run of the headline figure */
    int main_runs;
    uint64_t peak_rss; /* 0: this process's peak RSS is reported */
    char skipped[512]; /* non-empty: the scenario did not run, and why */
    char failed[512];  /* non-empty: the scenario failed, and why */
} bench_ctx;

/*
 * Warms up every arm once, then runs all arms ctx->runs times, interleaved (arm 0, arm 1,
 * ..., arm 0, ...) so that a noisy moment of the shared machine hits them alike. Prints one
 * readable line per run. Returns 0, or -1 with ctx->failed set.
 */
int bench_measure(bench_ctx *ctx, bench_arm *arms, int n_arms);

/* The default generator parameters of every scenario, with ctx's seed and `events`. */
void bench_gen_params(const bench_ctx *ctx, uint64_t events, weir_gen_params *p);

/* Printf to stdout, flushed: the readable lines before the JSON line. */
void bench_say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Formats an events-per-second figure as "12.34 M/s" into buf (32 bytes). */
const char *bench_fmt_rate(double eps, char *buf);

/* Peak resident set of this process (getrusage), in bytes. */
uint64_t bench_peak_rss(void);
/* Current resident set of this process (/proc/self/statm), in bytes. */
uint64_t bench_current_rss(void);

/* ---------------------------------------------------------------- inputs */

/*
 * The JSON-lines file of weir_gen_write() for `p`, generated on first use (not timed) and
 * kept in ctx->datadir. Returns its path (static storage of ctx, valid until the next call
 * with other parameters) or NULL with ctx->failed set.
 */
const char *bench_json_file(bench_ctx *ctx, const weir_gen_params *p);

/* Writes a generated input into f: 0, or -1 (with ctx->failed set, or not when f failed). */
typedef int (*bench_write_fn)(bench_ctx *ctx, FILE *f, const void *opaque);

/*
 * Makes the input file `path` with write(ctx, f, opaque) unless it is already there: written
 * into a temporary file beside it and renamed into place, so that an interrupted run leaves
 * nothing a later one would take for the input. Returns 1 when it made the file, 0 when it
 * was kept from before, -1 with ctx->failed set.
 */
int bench_make_file(bench_ctx *ctx, const char *path, bench_write_fn write, const void *opaque);

/* JSON lines in memory, split beforehand. */
typedef struct bench_lines {
    char *buf;
    size_t size;
    size_t n;
    size_t *off; /* start of line i */
    uint32_t *len;
} bench_lines;

int bench_lines_load(bench_ctx *ctx, const char *path, bench_lines *out);
void bench_lines_free(bench_lines *l);

/* Pre-decoded events: what the decoder would produce for the generator's records. The key
 * and user slices point into string tables owned by the set. */
typedef struct bench_events {
    weir_event *ev;
    size_t n;
    char *keys;  /* product texts, fixed stride */
    char *users; /* user texts, fixed stride */
} bench_events;

/* Builds events from structured generator events (not timed). Returns 0 or -1. */
int bench_events_from_gen(const weir_gen_params *p, const weir_gen_event *g, size_t n,
                          bench_events *out);
void bench_events_free(bench_events *e);

/* ---------------------------------------------------------------- the scan arm */

/* Reads a JSON-lines file in 4 MiB blocks and splits it into records: the floor of any
 * JSON job. opaque: the path. */
double bench_scan_run(void *opaque, uint64_t *events, char *errbuf, size_t errlen);

/* Makes `arm` the scenario's headline: events_per_sec_median/min/max in the JSON line. */
void bench_report_main(bench_ctx *ctx, const bench_arm *arm);

/*
 * Writes the common ratio fields of an arm against scan ("scan_events_per_sec_median",
 * "vs_scan") into ctx->out.
 */
void bench_report_vs_scan(bench_ctx *ctx, const bench_arm *arm, const bench_arm *scan);

/*
 * Writes the fields of an arm against a peer measured in the same run ("peer": what the
 * peer is, "peer_events_per_sec_median", "weir_over_peer" with `digits` decimals) into
 * ctx->out; returns the ratio of the medians.
 */
double bench_report_vs_peer(bench_ctx *ctx, const bench_arm *arm, const bench_arm *peer,
                            const char *what, int digits);

/* ---------------------------------------------------------------- peers and child processes */

/* A free TCP port on 127.0.0.1 (bound and released), or 0. */
int bench_free_port(void);

/* Starts argv[0] (looked up in PATH) with stdout and stderr to `log_path` (NULL: /dev/null).
 * The child is killed at exit if still running. Returns its pid or -1. */
pid_t bench_spawn(char *const argv[], const char *log_path);
/* Waits for a child of bench_spawn() to exit and returns its wait status. */
int bench_wait(pid_t pid);
/*
 * Runs a job binary to its end: stdin and stdout /dev/null, stderr to `log`. Returns the
 * wall seconds from start to exit (or -1 when it cannot start) and fills its wait status,
 * its peak RSS and its last JSON line on stderr (the run summary; "" when none).
 */
double bench_run_job(char *const argv[], const char *log, int *status, uint64_t *peak_rss,
                     char *summary, size_t summary_size);
/* Runs the generic window job configured in `conf` over the JSON lines at `path`, its output
 * to /dev/null (sets input.path and output.path), in this process; fills `st`. */
weir_err bench_window_job_file(weir_conf *conf, const char *path, weir_window_job_stats *st,
                               char *err, size_t errlen);
/* The number after "key": in a JSON line, or -1. */
double bench_summary_num(const char *line, const char *key);
/* Sends SIGTERM, waits up to `grace_ms`, then SIGKILL; reaps it. */
void bench_stop(pid_t pid, int grace_ms);
/* Kills and reaps every child still running (at exit). */
void bench_kill_children(void);
/* Waits until 127.0.0.1:port accepts connections or `timeout_ms` passes; 0 when it does.
 * Fails early when `pid` exits. */
int bench_wait_port(int port, pid_t pid, int timeout_ms);

/* Monotonic clock in seconds. */
double bench_now(void);
/* CPU time of this process (user + system) in seconds: steadier than wall time on a shared
 * machine for an arm that runs on one thread. */
double bench_cpu_now(void);
/* The median of the n values of v (at most BENCH_MAX_RUNS + 1); NaN when there are none. */
double bench_median(const double *v, int n);

/* ---------------------------------------------------------------- scenarios */

typedef struct bench_scenario {
    const char *name;
    const char *what;
    uint64_t default_events;
    int (*run)(bench_ctx *ctx); /* 0, or -1 with ctx->failed; ctx->skipped for a skip */
} bench_scenario;

int bench_scan(bench_ctx *ctx);
int bench_decode(bench_ctx *ctx);
int bench_decode_cjson(bench_ctx *ctx);
int bench_decode_jansson(bench_ctx *ctx);
int bench_decode_jsmn(bench_ctx *ctx);
int bench_operator_exact(bench_ctx *ctx);
int bench_operator_hll(bench_ctx *ctx);
int bench_operator_exact_steady(bench_ctx *ctx);
int bench_file_exact(bench_ctx *ctx);
int bench_file_hll(bench_ctx *ctx);
int bench_hll_add(bench_ctx *ctx);
int bench_hll_vs_redis(bench_ctx *ctx);
int bench_state_memory(bench_ctx *ctx);
int bench_kafka_e2e(bench_ctx *ctx);
int bench_dynamodb_sink(bench_ctx *ctx);
int bench_checkpoint(bench_ctx *ctx);
int bench_nexmark_q0(bench_ctx *ctx);
int bench_nexmark_q1(bench_ctx *ctx);
int bench_nexmark_q2(bench_ctx *ctx);
int bench_nexmark_q5(bench_ctx *ctx);
int bench_nexmark_q7(bench_ctx *ctx);
int bench_nexmark_q11(bench_ctx *ctx);
int bench_nexmark_q15(bench_ctx *ctx);
int bench_nexmark_q16(bench_ctx *ctx);
int bench_window_json_4agg(bench_ctx *ctx);
int bench_gwindow_tumble(bench_ctx *ctx);
int bench_gwindow_hop5(bench_ctx *ctx);
int bench_gwindow_hop60(bench_ctx *ctx);
int bench_gwindow_session(bench_ctx *ctx);
int bench_gwindow_hop_long(bench_ctx *ctx);

/* Sets ctx->failed (printf-style) and returns -1. */
int bench_fail(bench_ctx *ctx, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Sets ctx->skipped and returns 0. */
int bench_skip(bench_ctx *ctx, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
