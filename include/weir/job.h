/* Running a whole job: the file-mode run loop and the run summary shared by all modes. */
#ifndef WEIR_JOB_H
#define WEIR_JOB_H

#include <signal.h>
#include <stdio.h>

#include "weir/conf.h"
#include "weir/pipeline.h"
#include "weir/sink.h"

#ifdef __cplusplus
extern "C" {
#endif

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
 * every sink and writes the summary to `summary` (may be NULL). `stop`, when it
 * becomes non-zero (a signal), ends the input early as if it had ended there.
 * `table` formats the output as an aligned text table instead of JSON lines.
 * Returns the process exit code: 0 success, 1 I/O or sink failure, 2 bad
 * configuration (with a one-line message on stderr).
 */
int weir_file_job_run(const weir_conf *conf, weir_sink *const *extra_sinks, size_t n_extra,
                      volatile sig_atomic_t *stop, FILE *summary, int table);

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
