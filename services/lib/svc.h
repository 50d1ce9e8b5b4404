/* What every service's main does: flags and the seeds' environment variables (flags win),
 * the store, the HTTP server, the bound address on stdout, and a drain on SIGTERM. */
#ifndef SVC_SVC_H
#define SVC_SVC_H

#include <weir/log.h>
#include <weir/metrics.h>

#include "http.h"
#include "ops.h"
#include "store.h"

typedef struct svc_config {
    const char *listen;
    const char *db;      /* a SQLite path or a PostgreSQL URL / conninfo */
    const char *brokers; /* Kafka bootstrap servers */
    const char *topic;   /* the topic a service produces to */
    unsigned threads;
    size_t body_limit;
} svc_config;

/* Handed to every handler as req->app. */
typedef struct svc_app {
    const char *name;
    weir_logger *log;      /* the binary's logger (thread-safe) */
    weir_metrics *metrics; /* the binary's registry: a service adds its own series in init */
    svc_store *store;
    void *ext; /* the service's own state (order-service: its producer) */
} svc_app;

typedef struct svc_spec {
    const char *name;
    const char *default_listen;
    const svc_route *routes;
    size_t n_routes;
    bool uses_brokers; /* takes --brokers and --topic */
    const char *default_topic;
    /* Optional: starts the service's own state in app->ext; false with a reason. */
    bool (*init)(svc_app *app, const svc_config *cfg, char *errstr, size_t errstr_size);
    /* Optional: readiness beyond the store (the broker). */
    bool (*ready)(svc_app *app, char *why, size_t why_size);
    /* Optional: after the server drained. */
    void (*fini)(svc_app *app);
    bool no_store;           /* takes no --db and opens no store (app->store is NULL) */
    const char *topic_env;   /* environment variable naming the topic (flags win), or NULL */
    const char *extra_usage; /* help lines of the service's own flags, or NULL */
    /* Optional: a flag the common ones do not know, with its value (NULL when it has none).
     * Returns 1 when it took the value, 0 when it does not know the flag, 2 with a one-line
     * reason (naming the flag and what it accepts) in err when the value is bad. */
    int (*flag)(const char *name, const char *value, char *err, size_t err_size);
    const char *extra_flags; /* the names of those flags for the unknown-flag message */
} svc_spec;

/* Runs a service to its end; returns the exit status (0 after a drain, 1 on a start failure,
 * 2 on bad usage). With --check-config it validates the flags and the environment and
 * returns 0 or 2 without binding, connecting or opening the store. Every message goes
 * through a weir_logger on stderr (--log-format, --log-level); the first stdout line is the
 * bound HOST:PORT. */
int svc_main(const svc_spec *spec, int argc, char **argv);

/* The series of a service that produces to Kafka: weir_producer_errors_total{kind} with
 * kinds queue_full (refused because the local queue is full), produce (refused by the
 * producer) and delivery (failed for good), and weir_kafka_producer_queue_messages computed
 * by queue_len(arg) at each scrape (thread-safe; arg must stay valid until
 * svc_producer_metrics_stop()). False when out of memory. */
typedef struct svc_producer_metrics {
    weir_counter *queue_full, *produce, *delivery;
} svc_producer_metrics;
bool svc_producer_metrics_start(weir_metrics *m, weir_metric_fn queue_len, void *arg,
                                svc_producer_metrics *out);
/* Removes the queue gauge: scrapes no longer call queue_len once it returns. */
void svc_producer_metrics_stop(weir_metrics *m);

/* Answers a store error: 409 for a constraint, 503 when busy or down, 500 otherwise. */
void svc_resp_store(svc_resp *resp, svc_store_err e, svc_conn *c);
/* The current UTC time as ISO-8601 with milliseconds (buf of at least 32 bytes). */
void svc_now_iso(char *buf, size_t size);

#endif
