/* Internal: the generic window job (weir-window) as a processing unit (runtime/unit.h), for
 * the job loops over files and Kafka. Not part of the API. */
#ifndef WEIR_RUNTIME_WINDOW_UNIT_H
#define WEIR_RUNTIME_WINDOW_UNIT_H

#include <stddef.h>
#include <stdint.h>

#include "runtime/unit.h"
#include "weir/gwindow.h"
#include "weir/window_job.h"

/* Counters a unit's snapshot carries: records, valid, invalid, filtered, invalid_by[]. */
#define WEIR__WUNIT_COUNTERS (4 + WEIR_REC_STATUS_COUNT)

/* Compiles the configuration (fields, key, filters, aggregates, window) and creates an
 * operator, without sinks: WEIR_OK, or WEIR_ERR_INVALID_ARG with one line naming the flag,
 * the text and what is accepted, or WEIR_ERR_NOMEM (errstr "out of memory"). */
weir_err weir__wunit_check(const weir_conf *conf, char *errstr, size_t errstr_size);

/* The unit's counters and its operator's, as weir-window's summary reports them. */
void weir__wunit_job_stats(const weir__unit *u, weir_window_job_stats *out);

/* The unit's operator (borrowed) and its counters (WEIR__WUNIT_COUNTERS of them), for
 * the file job's checkpoints that predate the unit snapshot. */
weir_gwindow *weir__wunit_op(weir__unit *u);
void weir__wunit_counters(const weir__unit *u, uint64_t *c);
void weir__wunit_set_counters(weir__unit *u, const uint64_t *c);

/* The attribute DynamoDB items are keyed by: the first key field, or "key" for a global job.
 * Valid while the unit lives. */
const char *weir__wunit_ddb_key(const weir__unit *u);

/* The keys whose values give the generic job's state its meaning (checkpoints). */
char *weir__wunit_meaning(const weir_conf *conf);

/* A unit whose firings go to a caller's step (a const weir_window_step *, weir/window_job.h),
 * as weir__unit_kind.create_ctx; its meaning names the step (meaning_ctx); and the check of
 * a configuration with that step, as weir__wunit_check. */
weir_err weir__wunit_create_step(const void *step, const weir_conf *conf, int partitions,
                                 const weir__unit_sinks *s, weir__unit **out, char *errstr,
                                 size_t errstr_size);
char *weir__wunit_meaning_step(const void *step, const weir_conf *conf);
weir_err weir__wunit_check_step(const weir_conf *conf, const weir_window_step *step, char *errstr,
                                size_t errstr_size);

#endif
