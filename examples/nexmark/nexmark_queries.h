/* The Nexmark queries q0, q1, q2, q5, q7, q11, q15 and q16 (docs/NEXMARK.md) over weir's public
 * API, as a data engineer writes them: fields, a where predicate, the generic window operator,
 * and for q5 and q7 a second step over each window's firings. Used by weir-nexmark and
 * weir-bench. */
#ifndef WEIR_EXAMPLES_NEXMARK_QUERIES_H
#define WEIR_EXAMPLES_NEXMARK_QUERIES_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "weir/conf.h"
#include "weir/err.h"
#include "weir/event.h"
#include "weir/nexmark.h"
#include "weir/window_job.h"

/* What a run did. Every record is in exactly one of invalid, filtered, bad_fields or bids. */
typedef struct nxq_stats {
    uint64_t records;                           /* records read */
    uint64_t invalid;                           /* not a JSON object with a date_time */
    uint64_t invalid_by[WEIR_REC_STATUS_COUNT]; /* by reason */
    uint64_t filtered;                          /* type other than "bid" (or none) */
    uint64_t bad_fields; /* bids missing a field the query reads, or of another type */
    uint64_t bids;       /* bids the query took */
    uint64_t late_dropped;
    uint64_t outputs; /* records written */
} nxq_stats;

typedef struct nxq nxq;

/* The query names, NULL-terminated: "q0", "q1", ... */
extern const char *const nxq_names[];

/* The configuration lines (weir-window's --config format) of a query that the generic job
 * expresses (q11, q15, q16), the same text as examples/nexmark/qN.conf; NULL for others. */
const char *nxq_config(const char *name);

/* q0-q7 on Kafka: the generic job's configuration lines (window, key, aggregates,
 * input.keyed=false) and the second step over its firings that finds each window's maximum
 * (q5, q7) or over its records that writes each bid (q0-q2), for
 * weir_window_job_run_kafka_step; NULL for q11, q15 and q16. */
const char *nxq_step_config(const char *name);
const weir_window_step *nxq_step(const char *name);

/* Sets the configuration lines of query `name` (nxq_config, or for q0-q7 nxq_step_config)
 * in `conf`, as weir-window's --config would. Returns WEIR_OK or WEIR_ERR_INVALID_ARG with one line
 * in errstr. */
weir_err nxq_config_apply(weir_conf *conf, const char *name, char *errstr, size_t errstr_size);

/*
 * Creates query `name` writing JSON lines to `out` (NULL: count them only). Returns WEIR_OK,
 * WEIR_ERR_INVALID_ARG (unknown name, errstr says which are known) or WEIR_ERR_NOMEM.
 */
weir_err nxq_new(const char *name, FILE *out, nxq **q, char *errstr, size_t errstr_size);
void nxq_destroy(nxq *q);

/* One JSON line (no newline). Returns WEIR_OK, WEIR_ERR_NOMEM or WEIR_ERR_IO (output). */
weir_err nxq_line(nxq *q, const char *rec, size_t len);
/* Hands what the lines so far point into to the query: call before their buffer changes. */
weir_err nxq_flush(nxq *q);
/* One pre-decoded event (the generator's struct, no JSON). */
weir_err nxq_event(nxq *q, const weir_nexmark_event *ev);
/* End of input: the remaining windows fire, the output is flushed. */
weir_err nxq_finish(nxq *q);

/* Reads JSON lines from `fd` to its end through the query (then nxq_finish). */
weir_err nxq_run_fd(nxq *q, int fd, volatile sig_atomic_t *stop);

const nxq_stats *nxq_get_stats(const nxq *q);

#endif
