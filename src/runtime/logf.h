/* How the library logs: a printf-style message and fields, handed to the caller's weir_log_fn. */
#ifndef WEIR_RUNTIME_LOGF_H
#define WEIR_RUNTIME_LOGF_H

#include <stddef.h>

#include "weir/conf.h"
#include "weir/log.h"

/* A component's log callback; fn NULL logs nothing. Components whose librdkafka client logs
 * through weir__kafka_on_log() keep it as the first member of their opaque. */
typedef struct weir__log {
    weir_log_fn fn;
    void *arg;
} weir__log;

/* The callback set on `conf` with weir_conf_set_log(). */
weir__log weir__conf_log(const weir_conf *conf);

/* Formats the message (cut at 1 KiB) and passes it with `fields` to lg->fn, if any. */
__attribute__((format(printf, 5, 6))) void weir__logf(const weir__log *lg, weir_log_level level,
                                                      const weir_log_field *fields, size_t n,
                                                      const char *fmt, ...);

#endif
