/* Scenarios of the whole file job: build/bin/unique-users reading generated JSON lines and
 * writing its JSON results to /dev/null, exact or HyperLogLog. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"

typedef struct job_arm {
    const char *job;   /* path of unique-users */
    const char *input; /* JSON lines */
    const char *log;   /* the job's stderr (its summary line) */
    int hll;
    /* From the job's summary line and its rusage, last run. */
    double job_eps;
    uint64_t valid, emissions, peak_rss;
    double job_eps_runs[BENCH_MAX_RUNS];
    int n_runs;
} job_arm;

static double job_run(void *opaque, uint64_t *events, char *err, size_t errlen)
{
    job_arm *a = opaque;
    char *argv[] = {(char *)a->job, "--input",    (char *)a->input,         "--output",
                    "/dev/null",    "--distinct", a->hll ? "hll" : "exact", NULL};
    int status = -1;
    uint64_t rss = 0;
    char line[4096];
    double secs = bench_run_job(argv, a->log, &status, &rss, line, sizeof line);
    if (secs < 0) {
        snprintf(err, errlen, "cannot start %s", a->job);
        return -1;
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 || !line[0]) {
        snprintf(err, errlen, "unique-users exited with status %d (log %s)",
                 WIFEXITED(status) ? WEXITSTATUS(status) : -1, a->log);
        return -1;
    }
    a->valid = (uint64_t)bench_summary_num(line, "valid");
    a->emissions = (uint64_t)bench_summary_num(line, "emissions");
    a->job_eps = bench_summary_num(line, "events_per_sec");
    if (a->n_runs < BENCH_MAX_RUNS)
        a->job_eps_runs[a->n_runs++] = a->job_eps;
    if (rss > a->peak_rss)
        a->peak_rss = rss;
    *events = a->valid;
    return secs;
}

static int file_scenario(bench_ctx *ctx, int hll)
{
    char job[512];
    snprintf(job, sizeof job, "%s/unique-users", ctx->bindir);
    if (access(job, X_OK) != 0)
        return bench_skip(ctx, "%s is not built", job);
    weir_gen_params p;
    bench_gen_params(ctx, ctx->events, &p);
    const char *path = bench_json_file(ctx, &p);
    if (!path)
        return -1;
    char file[512], log[512];
    snprintf(file, sizeof file, "%s", path);
    snprintf(log, sizeof log, "%s/unique-users.log", ctx->tmpdir);
    job_arm ja;
    memset(&ja, 0, sizeof ja);
    ja.job = job;
    ja.input = file;
    ja.log = log;
    ja.hll = hll;
    bench_arm arms[2] = {
        BENCH_ARM(hll ? "file-hll" : "file-exact", job_run, &ja),
        BENCH_ARM("scan", bench_scan_run, file),
    };
    if (bench_measure(ctx, arms, 2) != 0)
        return -1;
    bench_report_main(ctx, &arms[0]);
    bench_report_vs_scan(ctx, &arms[0], &arms[1]);
    /* The job's own figure leaves out process start and exit; the headline does not. The
     * first entry is the warm-up. */
    bench_arm own = BENCH_ARM("job's own summary", NULL, NULL);
    own.runs = ja.n_runs - 1;
    memcpy(own.eps, ja.job_eps_runs + 1, (size_t)own.runs * sizeof(double));
    bench_stats js = bench_arm_stats(&own);
    bench_json_num(&ctx->out, "job_events_per_sec_median", js.median, 0);
    bench_json_u64(&ctx->out, "firings", ja.emissions);
    bench_json_str(&ctx->out, "output", "/dev/null (JSON lines)");
    bench_json_str(&ctx->out, "peak_rss_of", "unique-users (the child process)");
    ctx->peak_rss = ja.peak_rss;
    bench_say("  the job's own summary: median %.0f events/s (without process start/exit); "
              "peak RSS %.1f MB; %llu firings",
              js.median, (double)ja.peak_rss / 1e6, (unsigned long long)ja.emissions);
    if (ja.valid != ctx->events)
        return bench_fail(ctx, "the job counted %llu valid records of %llu",
                          (unsigned long long)ja.valid, (unsigned long long)ctx->events);
    return 0;
}

int bench_file_exact(bench_ctx *ctx)
{
    return file_scenario(ctx, 0);
}

int bench_file_hll(bench_ctx *ctx)
{
    return file_scenario(ctx, 1);
}
