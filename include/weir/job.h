/* Running a whole job: the file-mode run loop and the run summary shared by all modes. */
#ifndef WEIR_JOB_H
#define WEIR_JOB_H

#include <signal.h>
#include <stdio.h>

#include "weir/conf.h"
#include "weir/metrics.h"
#include "weir/pipeline.h"
#include "weir/sink.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * A job's readiness, for a /readyz endpoint: the job says whether its input is open (file
 * mode) or partitions are assigned (Kafka mode) and when its watermark last advanced;
 * weir_job_health_ready() answers from another thread. Updates and reads are lock-free.
 */
typedef struct weir_job_health weir_job_health;

/* Creates a health record for which a watermark that has not advanced for `stuck_ms`
 * (> 0; 0: never stuck) while input is open makes the job not ready. NULL when out of memory.
 * Free with weir_job_health_destroy() after the job and the server using it have ended. */
weir_job_health *weir_job_health_new(int64_t stuck_ms);
/* Frees it. Accepts NULL. */
void weir_job_health_destroy(weir_job_health *h);
/* A weir_ready_fn (weir/metrics_server.h) with a weir_job_health as `arg`: ready when input
 * is open or partitions are assigned and the watermark is not stuck. Thread-safe. */
int weir_job_health_ready(void *health, char *reason, size_t reason_size);

/* What a run reports to, besides its sinks: given by the binary. */
typedef struct weir_job_env {
    volatile sig_atomic_t *stop; /* non-zero (a signal) ends the run as its input's end; NULL */
    FILE *summary;               /* the one-line JSON run summary; NULL: none */
    weir_metrics *metrics;       /* job series (docs/OPERATIONS.md) registered here and updated
                                    once per batch from the job's thread; NULL: none */
    weir_job_health *health;     /* readiness kept up to date; NULL: none */
} weir_job_env;

/* Adds the counters of `s` to `into` (for a job with several pipelines). The
 * gauges (live windows, live keys, state bytes) are added too. */
void weir_pipeline_stats_add(weir_pipeline_stats *into, const weir_pipeline_stats *s);

/*
 * Writes the one-line JSON run summary: records, valid, invalid (and by reason),
 * late_dropped, late_accepted, late_firings, future_skewed, windows, emissions,
 * state_bytes, elapsed_sec, events_per_sec (valid records per second of wall
 * time), peak_rss_bytes, then `extra` (a JSON fragment starting with a comma, or
 * NULL) before the closing brace. Thread-safe apart from the stream.
 */
void weir_job_write_summary(FILE *out, const weir_pipeline_stats *st, double elapsed_sec,
                            const char *extra);

/* As weir_job_write_summary(), with events_per_sec computed over `valid_this_run` records
 * (a job that resumed from a checkpoint counts only what it processed itself). */
void weir_job_write_summary_run(FILE *out, const weir_pipeline_stats *st, double elapsed_sec,
                                uint64_t valid_this_run, const char *extra);

/*
 * The file mode of a job: reads JSON lines from input.path ("-": stdin) in large
 * blocks, runs one pipeline, writes firings to output.path (unless empty) and to
 * each of `extra_sinks` (not owned), late records to late.output.path and invalid
 * ones to dead.letter.path, and at the end of input fires what is left, flushes
 * every sink and writes the summary to env->summary. *env->stop becoming non-zero (a
 * signal) ends the input early as if it had ended there. `table` formats the output as an
 * aligned text table instead of JSON lines. Logs through the callback of weir_conf_set_log();
 * `env` may be NULL.
 * Returns WEIR_OK; WEIR_ERR_INVALID_ARG, WEIR_ERR_CORRUPT or WEIR_ERR_UNSUPPORTED when the
 * configuration (or the checkpoint it names) cannot be used; any other code for an I/O or
 * sink failure; with one line in errstr.
 */
weir_err weir_file_job_run(const weir_conf *conf, weir_sink *const *extra_sinks, size_t n_extra,
                           const weir_job_env *env, int table, char *errstr, size_t errstr_size);

/*
 * Checks the job's configuration without opening its input, its sinks or any connection
 * (as `nginx -t`): what the pipeline refuses, the metrics endpoint's address, and the
 * combinations of keys a run would refuse at its start. Returns WEIR_OK, or
 * WEIR_ERR_INVALID_ARG (or WEIR_ERR_NOMEM) with one line in errstr.
 */
weir_err weir_job_check(const weir_conf *conf, int table, char *errstr, size_t errstr_size);

/* A sink that prints firings as an aligned table to `out` (not owned, not closed). */
weir_sink *weir_table_sink_new(FILE *out, const char *key_field, const weir_agg_spec *aggs,
                               size_t n_aggs);

/* Wall clock in milliseconds since the epoch, and a monotonic clock in seconds. */
int64_t weir_wall_ms(void);
double weir_mono_sec(void);

#ifdef __cplusplus
}
#endif
#endif
