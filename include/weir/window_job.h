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
#include "weir/fields.h"
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

/*
 * A second step after the window operator, written by the caller (Nexmark's q5 and q7:
 * per window, the keys or the records at the window's maximum). Each unit of the job (one
 * over all input partitions, see weir_window_job_run_kafka_step) makes its own state with
 * unit_new, hands it every firing instead of writing it, and calls `end` after each call into
 * the operator (records, a record that only moves the watermark, a wall-clock tick, the end
 * of the input, a change of partitions) has returned: in `final` mode every window that
 * fires in such a call fires completely in it (all its keys pass the watermark together), so
 * `end` writes what it gathered through weir_window_step_write and keeps nothing between
 * calls. Checkpoints therefore carry no state of the step's, only the operator's (the
 * extra aggregates' included) and the step's name and version in their meaning: a
 * checkpoint taken with another step, or another version of it, is refused.
 *
 * All callbacks run on the thread that runs the job, one unit at a time; the struct and
 * `arg` must outlive the run.
 */
typedef struct weir_window_step_out weir_window_step_out;

/* The most aggregates a step may add beside the configuration's. */
#define WEIR_WINDOW_STEP_MAX_AGGS 8

typedef struct weir_window_step {
    const char *name; /* no spaces or '='; written into checkpoints' meaning with `version` */
    uint32_t version; /* change it when what the step writes for the same firings changes */
    void *arg;        /* passed to unit_new */
    /*
     * Makes a unit's state in *state. It may add the fields it reads to `fields`
     * (weir_fields_add; their values are in each weir_row the aggregates see) and fill up to
     * WEIR_WINDOW_STEP_MAX_AGGS aggregates in `aggs` (*n_aggs of them, 0 on entry), which
     * the operator computes after the configuration's (their firing values follow the
     * configuration's aggregates'): their params and names must live in *state. For
     * checkpoints every aggregate needs serialize and deserialize (weir/gagg.h). Returns
     * WEIR_OK, WEIR_ERR_NOMEM, or WEIR_ERR_INVALID_ARG with one line in errstr.
     */
    weir_err (*unit_new)(void *arg, weir_fields *fields, weir_gagg_def *aggs, size_t *n_aggs,
                         void **state, char *errstr, size_t errstr_size);
    /* Frees a state (NULL allowed). */
    void (*unit_free)(void *state);
    /* One firing of the operator (valid during the call only). Returns WEIR_OK, or an error
     * (WEIR_ERR_NOMEM) that stops the job. */
    weir_err (*firing)(void *state, const weir_gwindow_firing *f);
    /* After each operator call: writes what the firings gave (weir_window_step_write) and
     * forgets them. Returns WEIR_OK or the error of a write, which stops the job. */
    weir_err (*end)(void *state, weir_window_step_out *out);
    /* Optional (NULL: none), for a per-record map beside the window (Nexmark's q0-q2): each
     * record that passed the filters and has its key, before the operator sees it, as its
     * values (n_values of them, in the order of `fields`) and event time; valid during the
     * call only. What it gathers is written at the next `end`, which then also follows
     * every batch of records. Returns WEIR_OK, or an error (WEIR_ERR_NOMEM) that stops the
     * job. */
    weir_err (*record)(void *state, const weir_value *values, size_t n_values, int64_t ts);
} weir_window_step;

/*
 * Writes one result of a step to every output of the job: a line to files, a message to the
 * results topic (through the checkpoints' held output and transactions, as the job's own
 * firings), keyed by `key` (key_len bytes; NULL: no key), its timestamp `ts` (the window's
 * last millisecond, by convention). `line` (len bytes, no newline) is copied. Only valid
 * inside the step's `end`. Returns WEIR_OK or the error of an output that failed for good.
 */
weir_err weir_window_step_write(weir_window_step_out *out, const char *key, size_t key_len,
                                const char *line, size_t len, int64_t ts);

/*
 * weir_window_job_check() for a job with `step` (the step's aggregates count towards the
 * required one), which also refuses DynamoDB (a step writes lines and messages only) and,
 * when brokers is set, one unit per partition (input.keyed=true without global: a step
 * sees a window's firings over every partition only from one unit over all of them).
 * Returns as weir_window_job_check.
 */
weir_err weir_window_job_check_step(const weir_conf *conf, const weir_window_step *step,
                                    char *errstr, size_t errstr_size);

/*
 * weir_window_job_run_kafka() with a caller's step: one unit over all assigned partitions
 * (input.keyed=false or global is required: WEIR_ERR_INVALID_ARG otherwise), whose firings go
 * to the step, which writes the results. Its watermark is the slowest partition's, so with
 * one member in the consumer group the results are those of the same records in one file
 * (in another order, and when no record is late in either); with several members each
 * computes its own share of the partitions. Checkpoints, the
 * held output, exactly.once and the summary work as for weir_window_job_run_kafka (the
 * summary's emissions count the operator's firings, before the step). Returns as
 * weir_window_job_run_kafka. Thread-safety: runs on the caller's thread.
 */
weir_err weir_window_job_run_kafka_step(const weir_conf *conf, const weir_window_step *step,
                                        const weir_job_env *env, char *errstr, size_t errstr_size);

#ifdef __cplusplus
}
#endif
#endif
