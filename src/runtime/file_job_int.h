/* Internal: the file-mode checkpoint payload's reader, so that its fuzz target
 * (fuzz/fuzz_file_payload.c) reaches it without running a job. Not part of the API. */
#ifndef WEIR_RUNTIME_FILE_JOB_INT_H
#define WEIR_RUNTIME_FILE_JOB_INT_H

#include <stddef.h>
#include <stdint.h>

#include "weir/conf.h"
#include "weir/err.h"

/* Where an accepted checkpoint resumes. */
typedef struct weir__fjob_resume {
    uint64_t offset;  /* of the next input record */
    int64_t files[3]; /* lengths of the output, late and dead-letter files (-1: none) */
    uint8_t *pipe;    /* the pipeline snapshot (malloc'd: the caller frees it) */
    size_t pipe_len;
} weir__fjob_resume;

/* Reads a checkpoint payload as the job's restore does, against the job's configuration,
 * its meaning (weir__conf_meaning) and the input `input_fd`. WEIR_OK fills `out`; else
 * WEIR_ERR_CORRUPT, WEIR_ERR_INVALID_ARG (it does not fit this job or input),
 * WEIR_ERR_UNSUPPORTED or WEIR_ERR_NOMEM with the reason in `why`. */
weir_err weir__file_job_accept(const weir_conf *conf, const char *meaning, int input_fd,
                               const uint8_t *payload, size_t len, weir__fjob_resume *out,
                               char *why, size_t size);

#endif
