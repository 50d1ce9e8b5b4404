/* What every job binary does to be operated (docs/OPERATIONS.md): its logger, its exit codes,
 * and its /metrics, /healthz and /readyz endpoint with the readiness the job loops keep. */
#ifndef WEIR_JOBS_JOB_OPS_H
#define WEIR_JOBS_JOB_OPS_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "weir/conf.h"
#include "weir/job.h"
#include "weir/log.h"
#include "weir/metrics.h"
#include "weir/metrics_server.h"

/* The one place where the library's errors become exit codes: 2 when the configuration (or
 * a checkpoint or resource it names) cannot be used, 1 for a failure while running. */
static inline int job_exit_code(weir_err rc)
{
    switch (rc) {
    case WEIR_OK: return 0;
    case WEIR_ERR_INVALID_ARG:
    case WEIR_ERR_PARSE:
    case WEIR_ERR_CORRUPT:
    case WEIR_ERR_UNSUPPORTED:
    case WEIR_ERR_NOT_FOUND:
    case WEIR_ERR_AUTH: return 2;
    default: return 1;
    }
}

/* The logger of the configuration's log.format and log.level on standard error for binary
 * `name`, masking the secrets of the environment. NULL when out of memory. */
static inline weir_logger *job_logger(const char *name, const weir_conf *conf)
{
    weir_log_format fmt = WEIR_LOG_TEXT;
    weir_log_level lv = WEIR_LOG_INFO;
    weir_log_format_parse(weir_conf_get(conf, "log.format"), &fmt);
    weir_log_level_parse(weir_conf_get(conf, "log.level"), &lv);
    weir_logger *lg = NULL;
    if (weir_logger_new(name, fmt, lv, STDERR_FILENO, &lg) != WEIR_OK)
        return NULL;
    static const char *const env[] = {"AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
                                      "AWS_ACCESS_KEY_ID", "KAFKA_SASL_PASSWORD"};
    for (size_t i = 0; i < sizeof env / sizeof env[0]; i++) {
        const char *v = getenv(env[i]);
        if (v && *v && weir_logger_add_secret(lg, v) != WEIR_OK) {
            weir_logger_destroy(lg);
            return NULL;
        }
    }
    return lg;
}

/* A running job's operational side: readiness, and the registry and its server when
 * metrics.port is set (NULL otherwise). */
typedef struct job_ops {
    weir_job_health *health;
    weir_metrics *metrics;
    weir_metrics_server *server;
} job_ops;

/* Creates the readiness record (health.watermark.stuck) and, when metrics.port is set, the
 * registry and its server on metrics.host, logging the port through `lg`. Returns 0, or an
 * exit code with one line in err; job_ops_stop() frees what was made either way. */
static inline int job_ops_start(job_ops *o, const weir_conf *conf, weir_logger *lg, char *err,
                                size_t err_size)
{
    memset(o, 0, sizeof *o);
    int64_t stuck = weir_conf_get_duration_ms(conf, "health.watermark.stuck");
    if (!(o->health = weir_job_health_new(stuck > 0 ? stuck : 0))) {
        snprintf(err, err_size, "out of memory");
        return 1;
    }
    if (weir_conf_get_int(conf, "metrics.port") <= 0)
        return 0;
    weir_metrics_server_opts so = {.host = weir_conf_get(conf, "metrics.host"),
                                   .port = (unsigned)weir_conf_get_int(conf, "metrics.port"),
                                   .ready = weir_job_health_ready,
                                   .ready_arg = o->health,
                                   .log = weir_logger_fn,
                                   .log_arg = lg};
    char why[512] = "";
    weir_err rc = weir_metrics_new(&o->metrics);
    if (rc == WEIR_OK)
        rc = weir_metrics_server_start(o->metrics, &so, &o->server, why, sizeof why);
    if (rc != WEIR_OK) {
        snprintf(err, err_size, "%s%smetrics endpoint: %s%s", why, why[0] ? " (" : "",
                 weir_err_str(rc), why[0] ? ")" : "");
        /* A port that cannot be bound is the configuration's fault. */
        return job_exit_code(rc == WEIR_ERR_IO ? WEIR_ERR_INVALID_ARG : rc);
    }
    weir_log_field f[1] = {WEIR_LOG_INT("port", weir_metrics_server_port(o->server))};
    weir_logger_log(lg, WEIR_LOG_INFO, "metrics endpoint listening", f, 1);
    return 0;
}

/* Stops the server, then frees the registry and the readiness record. Idempotent. */
static inline void job_ops_stop(job_ops *o)
{
    weir_metrics_server_stop(o->server);
    weir_metrics_destroy(o->metrics);
    weir_job_health_destroy(o->health);
    memset(o, 0, sizeof *o);
}

#endif
