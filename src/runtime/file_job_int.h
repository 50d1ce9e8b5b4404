/* Internal: the file mode's loop over any kind of processing unit, and its checkpoint
 * payload's reader, so that its fuzz target (fuzz/fuzz_file_payload.c) reaches it without
 * running a job. Not part of the API. */
#ifndef WEIR_RUNTIME_FILE_JOB_INT_H
#define WEIR_RUNTIME_FILE_JOB_INT_H

#include <stddef.h>
#include <stdint.h>

#include "runtime/unit.h"
#include "weir/conf.h"
#include "weir/err.h"
#include "weir/job.h"

/* Where an accepted checkpoint resumes. */
typedef struct weir__fjob_resume {
    uint64_t offset;  /* of the next input record */
    int64_t files[3]; /* lengths of the output, late and dead-letter files (-1: none) */
    uint8_t *pipe;    /* the pipeline snapshot (malloc'd: the caller frees it) */
    size_t pipe_len;
    int version; /* of the payload: 2, or 1 for an earlier release's WEIRFJOB */
} weir__fjob_resume;

/* What a file run did, for a caller that reports it itself (weir-window's summary). */
typedef struct weir__file_run {
    int resumed;
    uint64_t checkpoints;
    double elapsed_sec;
} weir__file_run;

/* Called once at the end of a run, before the unit goes (unit NULL when none was made). */
typedef void (*weir__file_done_fn)(void *arg, const weir__unit *unit, const weir__file_run *run);

/* weir_file_job_run() (weir/job.h) with a unit of `kind`; done_fn (may be NULL) sees the
 * unit and the run at the end. */
weir_err weir__file_job_run(const weir__unit_kind *kind, const weir_conf *conf,
                            weir_sink *const *extra_sinks, size_t n_extra, const weir_job_env *env,
                            int table, weir__file_done_fn done_fn, void *done_arg, char *errstr,
                            size_t errstr_size);

/* Reads a checkpoint payload as unique-users' restore does, against the job's configuration,
 * its meaning (weir__conf_meaning) and the input `input_fd`. WEIR_OK fills `out`; else
 * WEIR_ERR_CORRUPT, WEIR_ERR_INVALID_ARG (it does not fit this job or input),
 * WEIR_ERR_UNSUPPORTED or WEIR_ERR_NOMEM with the reason in `why`. */
weir_err weir__file_job_accept(const weir_conf *conf, const char *meaning, int input_fd,
                               const uint8_t *payload, size_t len, weir__fjob_resume *out,
                               char *why, size_t size);

/* The same for a unit of `kind` (the unit snapshot in out->pipe is that kind's; an earlier
 * release's weir-window payload comes back converted). */
weir_err weir__file_job_accept_kind(const weir__unit_kind *kind, const weir_conf *conf,
                                    const char *meaning, int input_fd, const uint8_t *payload,
                                    size_t len, weir__fjob_resume *out, char *why, size_t size);

#endif
