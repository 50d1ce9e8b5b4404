/* Internal: the Kafka mode's loop over any kind of processing unit, and its checkpoint
 * payload's reader, so that its fuzz target (fuzz/fuzz_kafka_payload.c) reaches it without a
 * broker. Not part of the API. */
#ifndef WEIR_RUNTIME_KAFKA_JOB_INT_H
#define WEIR_RUNTIME_KAFKA_JOB_INT_H

#include <stddef.h>
#include <stdint.h>

#include "runtime/held_sink.h"
#include "runtime/unit.h"
#include "weir/job.h"
#include "weir/pipeline.h"

/* What a restore of one unit knows beforehand, and what the checkpoint said. */
typedef struct weir__kjob_restore {
    const weir_conf *conf;
    const char *meaning;  /* weir__conf_meaning(conf) */
    int has_results;      /* the job writes a results topic */
    int results_parts;    /* its partitions */
    int32_t unit;         /* the partition restored, or -1 for a global job's pipeline */
    const int32_t *slots; /* a global job's assigned partitions */
    int n_slots;
    const weir__unit_kind *kind; /* NULL: unique-users' pipeline */
    weir__unit *pl;              /* restored into */
    weir__held *held;            /* the unit's held results (NULL: none) */
    /* Filled by weir__kafka_job_accept(); the caller frees parts, next and ends. */
    uint64_t seq;
    int32_t *parts; /* the unit's partitions in pipeline order, and where each resumes */
    int64_t *next;
    int n_parts;
    int64_t *ends; /* the results topic's ends when the checkpoint was taken */
    int n_ends;
} weir__kjob_restore;

/* Reads a checkpoint payload (docs/CHECKPOINTS.md) as the job's restore does: WEIR_OK when
 * `pl` and `held` now hold its state; WEIR_ERR_CORRUPT, WEIR_ERR_UNSUPPORTED,
 * WEIR_ERR_INVALID_ARG (it does not fit this job) or WEIR_ERR_NOMEM with the reason in
 * `why`, the pipeline then unchanged. */
weir_err weir__kafka_job_accept(weir__kjob_restore *k, const uint8_t *payload, size_t len,
                                char *why, size_t size);

/* weir_kafka_job_run() (weir/kafka.h) with units of `kind`: unique-users runs
 * weir__pipeline_kind, weir-window weir__window_kind. */
weir_err weir__kafka_job_run(const weir__unit_kind *kind, const weir_conf *conf,
                             weir_sink *const *extra_sinks, size_t n_extra, int stop_when_idle_ms,
                             int drain, const weir_job_env *env, char *errstr, size_t errstr_size);

#endif
