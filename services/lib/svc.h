/* What every service's main does: flags and the seeds' environment variables (flags win),
 * the store, the HTTP server, the bound address on stdout, and a drain on SIGTERM. */
#ifndef SVC_SVC_H
#define SVC_SVC_H

#include "http.h"
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
} svc_spec;

/* Runs a service to its end; returns the exit status (0 after a drain, 1 on a start failure,
 * 2 on bad usage). */
int svc_main(const svc_spec *spec, int argc, char **argv);

/* Answers a store error: 409 for a constraint, 503 when busy or down, 500 otherwise. */
void svc_resp_store(svc_resp *resp, svc_store_err e, svc_conn *c);
/* The current UTC time as ISO-8601 with milliseconds (buf of at least 32 bytes). */
void svc_now_iso(char *buf, size_t size);

#endif
