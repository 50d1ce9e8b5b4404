/* The generic windowed job (weir-window) over files or Kafka: typed fields, filters, keys, any
 * window kind and any aggregates, from a weir_conf. */
#ifndef WEIR_WINDOW_JOB_H
#define WEIR_WINDOW_JOB_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "weir/conf.h"
#include "weir/err.h"
#include "weir/event.h"
#include "weir/gwindow.h"
#include "weir/job.h"

#ifdef __cplusplus
extern "C" {
#endif

/* What a run did. Every record read is in exactly one of invalid, filtered, late_dropped or
 * accepted (op.accepted). */
typedef struct weir_window_job_stats {
    uint64_t records;                           /* records read */
    uint64_t valid;                             /* records that decoded with a key */
    uint64_t invalid;                           /* records that did not */
    uint64_t invalid_by[WEIR_REC_STATUS_COUNT]; /* invalid records by reason */
    uint64_t filtered;                          /* valid JSON with a time that failed --where */
    weir_gwindow_counters op;                   /* the operator's counters at the end */
    double elapsed_sec;                         /* wall time of the run */
    uint64_t checkpoints;                       /* checkpoints taken by this run */
    int resumed;                                /* the run resumed from a checkpoint */
} weir_window_job_stats;

/*
 * Checks the generic job's configuration without running it or connecting anything (as
 * `nginx -t`): key.field (a comma-separated list) or global, window.spec (empty: tumble of
 * window.size), aggregates (at least one), where, timestamp.*, the watermark and emission
 * keys, metrics.host when metrics.port is set, and that file-mode checkpoints have a regular
 * input and output file. Returns WEIR_OK, WEIR_ERR_INVALID_ARG with one line in errstr naming
 * the flag, the text and what is accepted, or WEIR_ERR_NOMEM.
 */
weir_err weir_window_job_check(const weir_conf *conf, char *errstr, size_t errstr_size);

/*
 * Runs the generic job over input.path ("-": standard input), writing one JSON line per
 * firing to output.path ("-": standard output; empty: none), late records to
 * late.output.path and invalid ones to dead.letter.path (unchanged, one per line). A record
 * that fails a --where is counted as filtered and still moves the watermark. At the end of
 * the input the remaining windows fire and every output is flushed. With checkpoint.dir it
 * takes a checkpoint every checkpoint.interval between blocks of input and, started again,
 * resumes from the newest usable one (reset.state: starts afresh), so that a crashed and
 * restarted run writes what one uninterrupted run writes. Fills `stats` (may be NULL)
 * whatever happens. `env` (may be NULL, not retained) as for weir_file_job_run(): *env->stop
 * becoming non-zero (a signal) ends the input early as if it had ended there; env->metrics
 * gets the job series of docs/OPERATIONS.md (filtered records and DynamoDB's included);
 * env->health is kept up to date; env->summary is not used (the caller reports `stats`).
 * Returns WEIR_OK; WEIR_ERR_INVALID_ARG (bad configuration, as weir_window_job_check);
 * WEIR_ERR_IO (a file cannot be read or written); WEIR_ERR_NOMEM. errstr gets one line.
 * Prints nothing. Thread-safety: runs on the caller's thread; independent runs may overlap.
 */
weir_err weir_window_job_run_file(const weir_conf *conf, const weir_job_env *env,
                                  weir_window_job_stats *stats, char *errstr, size_t errstr_size);

/*
 * Runs the generic job in Kafka mode (brokers): everything of unique-users' Kafka mode
 * (weir_kafka_job_run, docs/KAFKA.md, docs/CHECKPOINTS.md) -- the consumer group over
 * input.topic, one unit per partition (input.keyed, the default: the topic is partitioned by
 * the job's key) or one over all partitions (global, or input.keyed=false), rebalances, the
 * results topic output.topic, dead.letter.topic or dead.letter.path, late.output.path,
 * DynamoDB (one item per firing, as in file mode), checkpoints to checkpoint.topic,
 * exactly.once, instance.id, stop.when.idle and drain -- with the generic job in each unit.
 * A firing is one JSON line (as in file mode), keyed by the value of the first key field
 * (no key for a global job), its timestamp the window's last millisecond. The one-line JSON
 * summary (weir_job_write_summary, with "filtered") goes to env->summary; the job series
 * (DynamoDB's included) to env->metrics and readiness to env->health; logs go through the
 * configuration's callback. `env` may be NULL.
 * Returns as weir_kafka_job_run(): WEIR_OK; WEIR_ERR_INVALID_ARG, WEIR_ERR_CORRUPT or
 * WEIR_ERR_UNSUPPORTED when the configuration or a checkpoint cannot be used; another code
 * for a failure while running; with one line in errstr.
 * Thread-safety: runs on the caller's thread; independent runs may overlap.
 */
weir_err weir_window_job_run_kafka(const weir_conf *conf, const weir_job_env *env, char *errstr,
                                   size_t errstr_size);

#ifdef __cplusplus
}
#endif
#endif
