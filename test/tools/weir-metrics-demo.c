/* weir-metrics-demo: serves /metrics with every metric family of docs/OPERATIONS.md, moving
 * as a job and a service would, so that promtool, a real Prometheus, the dashboard and the
 * alert rules can be checked against the names the binaries will export. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "weir/event.h"
#include "weir/job.h"
#include "weir/log.h"
#include "weir/metrics.h"
#include "weir/metrics_server.h"

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
    (void)sig;
    stop = 1;
}

static void usage(void)
{
    fprintf(stderr,
            "usage: weir-metrics-demo [--host ADDR] [--port N] [--seconds N]\n"
            "                         [--log-format text|json] [--log-level L]\n"
            "Serves /metrics, /healthz and /readyz (ready after the first second) and moves\n"
            "the counters until SIGTERM, SIGINT or --seconds. Prints \"port N\" on stdout.\n");
}

#define L(...) ((const char *const[]){__VA_ARGS__, NULL})

/* Registration fails only on a bad name or out of memory: both are bugs of this tool. */
static void must(weir_err err, const char *what)
{
    if (err != WEIR_OK) {
        fprintf(stderr, "weir-metrics-demo: registering %s: %s\n", what, weir_err_str(err));
        exit(1);
    }
}

struct job {
    weir_counter *valid, *invalid, *filtered, *late_dropped, *late_accepted;
    weir_counter *invalid_by[WEIR_REC_STATUS_COUNT];
    weir_counter *emissions, *ckpt, *ckpt_fail, *produced, *delivery_fail;
    weir_counter *ddb_ok, *ddb_throttled, *ddb_retriable, *ddb_retries;
    weir_gauge *watermark[2], *wm_lag[2], *consumer_lag[2], *windows, *keys, *state, *ckpt_bytes,
        *queue;
    weir_histogram *ckpt_dur, *ddb_batch;
};

struct service {
    weir_counter *req_ok, *req_404, *req_500, *upstream, *store, *producer;
    weir_counter *import_files, *import_rows;
    weir_gauge *in_flight;
    weir_histogram *dur;
};

static void register_job(weir_metrics *m, struct job *j)
{
    const char *rec = "Records read, by outcome: valid, invalid (see weir_records_invalid_total) "
                      "or filtered.";
    must(weir_metrics_counter(m, "weir_records_total", rec, L("outcome", "valid"), &j->valid),
         "records");
    must(weir_metrics_counter(m, "weir_records_total", rec, L("outcome", "invalid"), &j->invalid),
         "records");
    must(weir_metrics_counter(m, "weir_records_total", rec, L("outcome", "filtered"), &j->filtered),
         "records");
    for (int s = 1; s < WEIR_REC_STATUS_COUNT; s++)
        must(weir_metrics_counter(m, "weir_records_invalid_total", "Invalid records by reason.",
                                  L("reason", weir_rec_status_name((weir_rec_status)s)),
                                  &j->invalid_by[s]),
             "invalid");
    const char *late = "Records behind the watermark: dropped, or accepted within the lateness.";
    must(weir_metrics_counter(m, "weir_records_late_total", late, L("action", "dropped"),
                              &j->late_dropped),
         "late");
    must(weir_metrics_counter(m, "weir_records_late_total", late, L("action", "accepted"),
                              &j->late_accepted),
         "late");
    must(weir_metrics_counter(m, "weir_emissions_total", "Window results written to the sinks.",
                              NULL, &j->emissions),
         "emissions");
    for (int p = 0; p < 2; p++) {
        char part[4];
        snprintf(part, sizeof part, "%d", p);
        must(weir_metrics_gauge(m, "weir_watermark_seconds",
                                "Event-time watermark per partition, Unix seconds.",
                                L("partition", part), &j->watermark[p]),
             "watermark");
        must(weir_metrics_gauge(m, "weir_watermark_lag_seconds",
                                "Wall-clock time minus the watermark, per partition.",
                                L("partition", part), &j->wm_lag[p]),
             "watermark lag");
        must(weir_metrics_gauge(m, "weir_kafka_consumer_lag_records",
                                "Records between the consumer's position and the partition's "
                                "high watermark.",
                                L("topic", "raw-events", "partition", part), &j->consumer_lag[p]),
             "consumer lag");
    }
    must(weir_metrics_gauge(m, "weir_windows_open", "Windows held by the operator.", NULL,
                            &j->windows),
         "windows");
    must(weir_metrics_gauge(m, "weir_window_keys", "Keys held over all open windows.", NULL,
                            &j->keys),
         "keys");
    must(weir_metrics_gauge(m, "weir_state_bytes", "Bytes of operator state in memory.", NULL,
                            &j->state),
         "state");
    must(weir_metrics_counter(m, "weir_checkpoints_total", "Checkpoints written.", NULL, &j->ckpt),
         "checkpoints");
    must(weir_metrics_counter(m, "weir_checkpoint_failures_total", "Checkpoints that failed.", NULL,
                              &j->ckpt_fail),
         "checkpoint failures");
    const double ckb[] = {0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30};
    must(weir_metrics_histogram(m, "weir_checkpoint_duration_seconds",
                                "Time to write one checkpoint.", NULL, ckb, 10, &j->ckpt_dur),
         "checkpoint duration");
    must(weir_metrics_gauge(m, "weir_checkpoint_bytes", "Size of the last checkpoint.", NULL,
                            &j->ckpt_bytes),
         "checkpoint bytes");
    must(weir_metrics_gauge(m, "weir_kafka_producer_queue_messages",
                            "Messages waiting in the producer's local queue.", NULL, &j->queue),
         "queue");
    must(weir_metrics_counter(m, "weir_kafka_produced_total", "Messages handed to the producer.",
                              NULL, &j->produced),
         "produced");
    must(weir_metrics_counter(m, "weir_kafka_delivery_failures_total",
                              "Messages whose delivery failed for good.", NULL, &j->delivery_fail),
         "delivery failures");
    const char *ddb = "DynamoDB requests by outcome: ok, throttled, retriable_error, fatal_error.";
    must(weir_metrics_counter(m, "weir_dynamodb_requests_total", ddb, L("outcome", "ok"),
                              &j->ddb_ok),
         "ddb");
    must(weir_metrics_counter(m, "weir_dynamodb_requests_total", ddb, L("outcome", "throttled"),
                              &j->ddb_throttled),
         "ddb");
    must(weir_metrics_counter(m, "weir_dynamodb_requests_total", ddb,
                              L("outcome", "retriable_error"), &j->ddb_retriable),
         "ddb");
    must(weir_metrics_counter(m, "weir_dynamodb_retries_total", "DynamoDB requests retried.", NULL,
                              &j->ddb_retries),
         "ddb retries");
    must(weir_metrics_histogram(m, "weir_dynamodb_batch_duration_seconds",
                                "Time to write one batch, retries included.", NULL, NULL, 0,
                                &j->ddb_batch),
         "ddb batch");
}

static void register_service(weir_metrics *m, struct service *s)
{
    const char *req = "HTTP requests answered, by route, method and status code.";
    must(weir_metrics_counter(m, "http_requests_total", req,
                              L("route", "/products/{id}", "method", "GET", "code", "200"),
                              &s->req_ok),
         "requests");
    must(weir_metrics_counter(m, "http_requests_total", req,
                              L("route", "/products/{id}", "method", "GET", "code", "404"),
                              &s->req_404),
         "requests");
    must(weir_metrics_counter(m, "http_requests_total", req,
                              L("route", "/orders", "method", "POST", "code", "500"), &s->req_500),
         "requests");
    must(weir_metrics_histogram(m, "http_request_duration_seconds",
                                "Time from request to response, by route.",
                                L("route", "/products/{id}", "method", "GET"), NULL, 0, &s->dur),
         "duration");
    must(weir_metrics_gauge(m, "http_requests_in_flight", "Requests being answered.", NULL,
                            &s->in_flight),
         "in flight");
    must(weir_metrics_counter(m, "weir_upstream_errors_total",
                              "Failed calls to another service, by upstream and kind.",
                              L("upstream", "product-service", "kind", "timeout"), &s->upstream),
         "upstream");
    must(weir_metrics_counter(m, "weir_store_errors_total", "Failed operations of the store.",
                              L("kind", "busy"), &s->store),
         "store");
    must(weir_metrics_counter(m, "weir_producer_errors_total",
                              "Events the service could not hand to Kafka.", L("kind", "delivery"),
                              &s->producer),
         "producer");
    must(weir_metrics_counter(m, "weir_import_files_total", "CSV files imported, by outcome.",
                              L("outcome", "done"), &s->import_files),
         "import files");
    must(weir_metrics_counter(m, "weir_import_rows_total", "CSV rows, by outcome.",
                              L("outcome", "imported"), &s->import_rows),
         "import rows");
}

/* One step of a make-believe job and service: 100 records, a firing now and then. */
static void step(struct job *j, struct service *s, unsigned long i)
{
    double now = (double)time(NULL);
    weir_counter_add(j->valid, 95);
    weir_counter_add(j->invalid, 3);
    weir_counter_add(j->invalid_by[1], 2);
    weir_counter_add(j->invalid_by[3], 1);
    weir_counter_add(j->filtered, 2);
    weir_counter_inc(j->late_accepted);
    if (i % 5 == 0)
        weir_counter_inc(j->late_dropped);
    if (i % 10 == 0) {
        weir_counter_add(j->emissions, 40);
        weir_counter_inc(j->ckpt);
        weir_histogram_observe(j->ckpt_dur, 0.02 + (double)(i % 7) * 0.01);
        weir_gauge_set(j->ckpt_bytes, 1 << 20);
        weir_counter_add(j->ddb_ok, 2);
        weir_histogram_observe(j->ddb_batch, 0.015);
        if (i % 50 == 0) {
            weir_counter_inc(j->ddb_throttled);
            weir_counter_inc(j->ddb_retries);
        }
    }
    for (int p = 0; p < 2; p++) {
        weir_gauge_set(j->watermark[p], now - 5 - p);
        weir_gauge_set(j->wm_lag[p], 5 + p);
        weir_gauge_set(j->consumer_lag[p], (double)(i % 100));
    }
    weir_gauge_set(j->windows, 3);
    weir_gauge_set(j->keys, 1000 + (double)(i % 50));
    weir_gauge_set(j->state, 4 << 20);
    weir_gauge_set(j->queue, (double)(i % 10));
    weir_counter_add(j->produced, 40);

    weir_gauge_add(s->in_flight, 1);
    weir_counter_add(s->req_ok, 10);
    weir_counter_inc(s->req_404);
    if (i % 20 == 0) {
        weir_counter_inc(s->req_500);
        weir_counter_inc(s->upstream);
    }
    weir_histogram_observe(s->dur, 0.002 * (double)(i % 100));
    if (i % 10 == 0) {
        weir_counter_inc(s->import_files);
        weir_counter_add(s->import_rows, 100);
    }
    weir_gauge_add(s->in_flight, -1);
}

struct readiness {
    time_t since;
};

static int ready(void *arg, char *reason, size_t size)
{
    const struct readiness *r = arg;
    if (time(NULL) - r->since >= 1)
        return 1;
    snprintf(reason, size, "starting");
    return 0;
}

int main(int argc, char **argv)
{
    const char *host = "127.0.0.1";
    unsigned port = 0;
    long seconds = 0;
    weir_log_format fmt = WEIR_LOG_JSON;
    weir_log_level level = WEIR_LOG_INFO;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v) {
            usage();
            return 2;
        }
        if (strcmp(a, "--host") == 0)
            host = v;
        else if (strcmp(a, "--port") == 0)
            port = (unsigned)strtoul(v, NULL, 10);
        else if (strcmp(a, "--seconds") == 0)
            seconds = strtol(v, NULL, 10);
        else if (strcmp(a, "--log-format") == 0  ? weir_log_format_parse(v, &fmt) != WEIR_OK
                 : strcmp(a, "--log-level") == 0 ? weir_log_level_parse(v, &level) != WEIR_OK
                                                 : 1) {
            usage();
            return 2;
        }
        i++;
    }
    weir_logger *lg = NULL;
    weir_metrics *m = NULL;
    if (weir_logger_new("weir-metrics-demo", fmt, level, STDERR_FILENO, &lg) != WEIR_OK ||
        weir_metrics_new(&m) != WEIR_OK) {
        fprintf(stderr, "weir-metrics-demo: out of memory\n");
        return 1;
    }
    struct job j = {0};
    struct service s = {0};
    register_job(m, &j);
    register_service(m, &s);

    struct readiness r = {time(NULL)};
    weir_metrics_server_opts o = {.host = host,
                                  .port = port,
                                  .ready = ready,
                                  .ready_arg = &r,
                                  .log = weir_logger_fn,
                                  .log_arg = lg};
    weir_metrics_server *srv = NULL;
    char err[256];
    if (weir_metrics_server_start(m, &o, &srv, err, sizeof err) != WEIR_OK) {
        weir_logger_log(lg, WEIR_LOG_ERROR, err, NULL, 0);
        weir_metrics_destroy(m);
        weir_logger_destroy(lg);
        return 1;
    }
    struct sigaction sa = {.sa_handler = on_signal};
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    printf("port %u\n", weir_metrics_server_port(srv));
    fflush(stdout);
    weir_log_field f[] = {WEIR_LOG_STR("host", host),
                          WEIR_LOG_INT("port", weir_metrics_server_port(srv))};
    weir_logger_log(lg, WEIR_LOG_INFO, "serving metrics", f, 2);

    struct timespec tick = {0, 10 * 1000 * 1000};
    double start = weir_mono_sec();
    for (unsigned long i = 1; !stop; i++) {
        step(&j, &s, i);
        nanosleep(&tick, NULL);
        if (seconds > 0 && weir_mono_sec() - start >= (double)seconds)
            break;
    }
    weir_logger_log(lg, WEIR_LOG_INFO, "stopping", NULL, 0);
    weir_metrics_server_stop(srv);
    weir_metrics_destroy(m);
    weir_logger_destroy(lg);
    return 0;
}
