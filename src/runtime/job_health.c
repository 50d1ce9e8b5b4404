/* A job's readiness for /readyz: input open or partitions assigned, watermark not stuck. */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>

#include "runtime/job_int.h"
#include "weir/job.h"

struct weir_job_health {
    int64_t stuck_ms;
    _Atomic int input;           /* file: input open; Kafka: partitions assigned */
    _Atomic int64_t watermark;   /* the last watermark seen, INT64_MIN: none */
    _Atomic int64_t advanced_ms; /* monotonic ms when it last advanced (or input opened) */
};

weir_job_health *weir_job_health_new(int64_t stuck_ms)
{
    weir_job_health *h = calloc(1, sizeof *h);
    if (!h)
        return NULL;
    h->stuck_ms = stuck_ms > 0 ? stuck_ms : 0;
    atomic_init(&h->input, 0);
    atomic_init(&h->watermark, INT64_MIN);
    atomic_init(&h->advanced_ms, (int64_t)(weir_mono_sec() * 1000));
    return h;
}

void weir_job_health_destroy(weir_job_health *h)
{
    free(h);
}

void weir__job_health_input(weir_job_health *h, int open)
{
    if (!h)
        return;
    if (open && !atomic_load_explicit(&h->input, memory_order_relaxed))
        atomic_store_explicit(&h->advanced_ms, (int64_t)(weir_mono_sec() * 1000),
                              memory_order_relaxed);
    atomic_store_explicit(&h->input, open, memory_order_relaxed);
}

void weir__job_health_watermark(weir_job_health *h, int64_t wm, double now_sec)
{
    if (!h || wm <= atomic_load_explicit(&h->watermark, memory_order_relaxed))
        return;
    atomic_store_explicit(&h->watermark, wm, memory_order_relaxed);
    atomic_store_explicit(&h->advanced_ms, (int64_t)(now_sec * 1000), memory_order_relaxed);
}

int weir_job_health_ready(void *health, char *reason, size_t reason_size)
{
    weir_job_health *h = health;
    if (!h)
        return 1;
    if (!atomic_load_explicit(&h->input, memory_order_relaxed)) {
        snprintf(reason, reason_size, "no input: the file is not open or no partition is assigned");
        return 0;
    }
    int64_t since = (int64_t)(weir_mono_sec() * 1000) -
                    atomic_load_explicit(&h->advanced_ms, memory_order_relaxed);
    if (h->stuck_ms && since > h->stuck_ms) {
        snprintf(reason, reason_size, "watermark stuck: no advance for %lld ms (bound %lld ms)",
                 (long long)since, (long long)h->stuck_ms);
        return 0;
    }
    return 1;
}
