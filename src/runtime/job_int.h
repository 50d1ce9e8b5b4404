/* What the job loops (file and Kafka mode) share privately: readiness and metrics updates. */
#ifndef WEIR_RUNTIME_JOB_INT_H
#define WEIR_RUNTIME_JOB_INT_H

#include <stdint.h>

#include "weir/job.h"
#include "weir/metrics.h"
#include "weir/pipeline.h"

/* Input open (file) or partitions assigned (Kafka): 1, else 0. NULL health: nothing. */
void weir__job_health_input(weir_job_health *h, int open);
/* The job's watermark is `wm` at monotonic time now_sec; an advance restarts the stuck clock. */
void weir__job_health_watermark(weir_job_health *h, int64_t wm, double now_sec);

#endif
