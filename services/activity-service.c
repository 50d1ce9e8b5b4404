/* activity-service: POST /events turns user activity into raw events on `ecom-raw-events`.
 * Each event (one JSON object, or a batch of JSON lines under application/x-ndjson) is
 * validated by weir's own decoder with the unique-users job's defaults (key product_id, users
 * user_id, timestamp ISO-8601 or epoch seconds/milliseconds), so that what is accepted here is
 * what the job counts, and produced keyed by its product_id. The producer's local queue is
 * bounded (--queue-messages): a batch that does not fit is refused whole with 503 and
 * Retry-After, never buffered beyond it. */
#include "lib/svc.h"

#include <librdkafka/rdkafka.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <weir/conf.h>
#include <weir/event.h>

/* How long POST /events waits for room in a full producer queue before it answers 503. */
#define ADMIT_WAIT_MS 50

/* Reasons given for rejected lines; the decoder reports at most this many per batch. */
#define MAX_REJECTED 1000

static int64_t queue_messages = 100000;

typedef struct activity {
    rd_kafka_t *rk;
    const char *topic;
    weir_conf *conf;       /* the job's decoding rules, read-only once built */
    pthread_mutex_t admit; /* admission against the queue bound, then produce */
    atomic_ullong accepted, rejected, refused, failed, delivered;
    svc_producer_metrics pm;
} activity;

static const char *reason(weir_rec_status st)
{
    switch (st) {
    case WEIR_REC_NOT_JSON: return "not_json: not well-formed JSON, or truncated";
    case WEIR_REC_NOT_OBJECT: return "not_object: the event must be a JSON object";
    case WEIR_REC_NO_KEY: return "no_key: product_id missing, null, or not a string or integer";
    case WEIR_REC_NO_USER: return "no_user: user_id missing, null, or not a string or integer";
    case WEIR_REC_BAD_TIMESTAMP:
        return "bad_timestamp: timestamp missing, or not ISO-8601 or epoch seconds/milliseconds";
    case WEIR_REC_TOO_LARGE: return "too_large: longer than 1 MiB or nested too deeply";
    case WEIR_REC_BAD_ENCODING: return "bad_encoding: invalid UTF-8 or a NUL byte";
    default: return "invalid";
    }
}

/* One decoder per server thread (a decoder is single-threaded), freed when the thread ends. */
static pthread_key_t decoder_key;

static weir_decoder *thread_decoder(activity *a)
{
    weir_decoder *d = pthread_getspecific(decoder_key);
    if (!d) {
        char err[256];
        d = weir_decoder_new(a->conf, err, sizeof err);
        if (d && pthread_setspecific(decoder_key, d) != 0) {
            weir_decoder_destroy(d);
            d = NULL;
        }
    }
    return d;
}

static void decoder_free(void *d)
{
    weir_decoder_destroy(d);
}

static bool is_ndjson(const char *ct)
{
    if (!ct)
        return false;
    while (*ct == ' ')
        ct++;
    return strncasecmp(ct, "application/x-ndjson", 20) == 0 ||
           strncasecmp(ct, "application/jsonl", 17) == 0 ||
           strncasecmp(ct, "application/json-seq", 20) == 0;
}

/* One line (or the whole body) to produce: where it is and its key. */
typedef struct item {
    const char *rec;
    size_t len;
    weir_slice key;
    size_t line;
} item;

/* The lines of a batch that are not blank: at least as many as the events it holds. */
static size_t count_lines(const char *p, const char *end)
{
    size_t n = 0;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *e = nl ? nl : end;
        while (p < e && (*p == ' ' || *p == '\t' || *p == '\r'))
            p++;
        n += p < e;
        p = nl ? nl + 1 : end;
    }
    return n;
}

/* Refuses with 503 and Retry-After: `n` events do not fit beside the `queued` ones. */
static void refuse(activity *a, svc_resp *resp, size_t n, int queued)
{
    atomic_fetch_add(&a->refused, n);
    weir_counter_add(a->pm.queue_full, n);
    rd_kafka_poll(a->rk, 0);
    snprintf(resp->header_name, sizeof resp->header_name, "Retry-After");
    snprintf(resp->header_value, sizeof resp->header_value, "1");
    svc_resp_error(resp, 503,
                   "the producer queue is full (%d of %lld events waiting for the broker); "
                   "retry later",
                   queued, (long long)queue_messages);
}

static void post_events(const svc_req *req, svc_resp *resp)
{
    activity *a = ((svc_app *)req->app)->ext;
    bool batch = is_ndjson(svc_req_header(req, "Content-Type"));
    /* A first admission before decoding: when the queue is full, refusing a batch must cost
     * next to nothing, or the refused requests take the CPU that the producer needs to drain
     * the queue. Only a batch that cannot fit even if every line were an event is refused
     * here; the exact check follows under the lock. */
    size_t lines = batch ? count_lines(req->body, req->body + req->body_len) : 1;
    int queued = rd_kafka_outq_len(a->rk);
    /* A full queue that drains makes room within milliseconds: waiting a little for it (the
     * thread sleeps, serving delivery reports) costs no CPU, where a refusal costs a retry. */
    for (int waited = 0; (int64_t)queued + (int64_t)lines > queue_messages &&
                         (int64_t)lines <= queue_messages && waited < ADMIT_WAIT_MS;
         waited++) {
        rd_kafka_poll(a->rk, 1);
        queued = rd_kafka_outq_len(a->rk);
    }
    if (lines && (int64_t)queued + (int64_t)lines > queue_messages) {
        refuse(a, resp, lines, queued);
        return;
    }
    weir_decoder *dec = thread_decoder(a);
    json_t *rejected = json_array();
    size_t cap = 64, n = 0;
    item *items = malloc(cap * sizeof *items);
    if (!dec || !rejected || !items) {
        svc_resp_error(resp, 500, "out of memory");
        goto out;
    }
    size_t lineno = 0, nrej = 0;
    const char *p = req->body, *end = req->body + req->body_len;
    while (p < end || (!batch && lineno == 0)) {
        const char *nl = batch ? memchr(p, '\n', (size_t)(end - p)) : NULL;
        const char *e = nl ? nl : end;
        lineno++;
        size_t len = (size_t)(e - p);
        const char *rec = p;
        p = nl ? nl + 1 : end;
        if (len && rec[len - 1] == '\r')
            len--;
        if (batch) { /* blank lines between events are allowed */
            size_t k = 0;
            while (k < len && (rec[k] == ' ' || rec[k] == '\t'))
                k++;
            if (k == len)
                continue;
        }
        weir_event ev = {0};
        weir_rec_status st = weir_decoder_decode(dec, rec, len, &ev);
        if (st != WEIR_REC_OK) {
            if (!batch) {
                svc_resp_error(resp, 400, "%s", reason(st));
                goto out;
            }
            if (nrej++ < MAX_REJECTED)
                json_array_append_new(rejected, json_pack("{s:I, s:s}", "line", (json_int_t)lineno,
                                                          "reason", reason(st)));
            continue;
        }
        if (n == cap) {
            item *m = realloc(items, 2 * cap * sizeof *items);
            if (!m) {
                svc_resp_error(resp, 500, "out of memory");
                goto out;
            }
            items = m, cap *= 2;
        }
        items[n++] = (item){rec, len, ev.key, lineno};
    }
    if (batch && n == 0 && nrej == 0) {
        svc_resp_error(resp, 400, "the batch holds no event");
        goto out;
    }
    /* Admission: the whole batch fits in the bounded queue, or none of it is taken. Under the
     * lock no other request produces, so the queue cannot fill between check and produce. */
    size_t produced = 0;
    pthread_mutex_lock(&a->admit);
    queued = rd_kafka_outq_len(a->rk);
    if ((int64_t)queued + (int64_t)n > queue_messages) {
        pthread_mutex_unlock(&a->admit);
        refuse(a, resp, n, queued);
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        rd_kafka_resp_err_t e = rd_kafka_producev(
            a->rk, RD_KAFKA_V_TOPIC(a->topic), RD_KAFKA_V_KEY(items[i].key.ptr, items[i].key.len),
            RD_KAFKA_V_VALUE((void *)items[i].rec, items[i].len),
            RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
        if (e) { /* the byte bound (queue.buffering.max.kbytes) or a fatal producer error */
            atomic_fetch_add(&a->refused, 1);
            weir_counter_inc(a->pm.produce);
            nrej++;
            json_array_append_new(rejected,
                                  json_pack("{s:I, s:s}", "line", (json_int_t)items[i].line,
                                            "reason", rd_kafka_err2str(e)));
            continue;
        }
        produced++;
    }
    pthread_mutex_unlock(&a->admit);
    rd_kafka_poll(a->rk, 0);
    atomic_fetch_add(&a->accepted, produced);
    atomic_fetch_add(&a->rejected, nrej);
    if (!batch && produced == 0) {
        svc_resp_error(resp, 503, "the producer refused the event");
        goto out;
    }
    svc_resp_json(resp, 202,
                  json_pack("{s:I, s:O}", "accepted", (json_int_t)produced, "rejected", rejected));
out:
    json_decref(rejected);
    free(items);
    if (dec)
        weir_decoder_reset(dec);
}

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    (void)rk;
    activity *a = opaque;
    if (m->err) {
        atomic_fetch_add(&a->failed, 1);
        weir_counter_inc(a->pm.delivery);
    } else
        atomic_fetch_add(&a->delivered, 1);
}

/* Serves the producer's delivery reports while the service runs. */
static pthread_t poller;
static atomic_bool stopping;

static void *poll_loop(void *arg)
{
    activity *a = arg;
    while (!atomic_load(&stopping))
        rd_kafka_poll(a->rk, 100);
    return NULL;
}

static double queue_len(void *arg)
{
    return (double)rd_kafka_outq_len(((activity *)arg)->rk);
}

static bool init(svc_app *app, const svc_config *cfg, char *errstr, size_t errstr_size)
{
    activity *a = calloc(1, sizeof *a);
    rd_kafka_conf_t *kc = rd_kafka_conf_new();
    if (!a || !kc || !(a->conf = weir_conf_new())) {
        snprintf(errstr, errstr_size, "out of memory");
        free(a);
        rd_kafka_conf_destroy(kc);
        return false;
    }
    a->topic = cfg->topic;
    pthread_mutex_init(&a->admit, NULL);
    pthread_key_create(&decoder_key, decoder_free);
    char qm[24];
    snprintf(qm, sizeof qm, "%lld", (long long)queue_messages);
    /* The job's partitioner (murmur2, as Java clients), so a product's events land where the
     * job's other producers put them. */
    const char *props[][2] = {{"bootstrap.servers", cfg->brokers},
                              {"enable.idempotence", "true"},
                              {"linger.ms", "5"},
                              {"partitioner", "murmur2_random"},
                              {"message.timeout.ms", "30000"},
                              {"queue.buffering.max.messages", qm},
                              {"queue.buffering.max.kbytes", "1048576"}};
    for (size_t i = 0; i < sizeof props / sizeof props[0]; i++)
        if (rd_kafka_conf_set(kc, props[i][0], props[i][1], errstr, errstr_size) !=
            RD_KAFKA_CONF_OK)
            goto fail;
    rd_kafka_conf_set_dr_msg_cb(kc, on_delivery);
    rd_kafka_conf_set_opaque(kc, a);
    a->rk = rd_kafka_new(RD_KAFKA_PRODUCER, kc, errstr, errstr_size);
    if (!a->rk)
        goto fail;
    kc = NULL;
    if (!svc_producer_metrics_start(app->metrics, queue_len, a, &a->pm)) {
        snprintf(errstr, errstr_size, "out of memory (producer series)");
        svc_producer_metrics_stop(app->metrics);
        rd_kafka_destroy(a->rk);
        goto fail;
    }
    if (pthread_create(&poller, NULL, poll_loop, a) != 0) {
        snprintf(errstr, errstr_size, "cannot start the delivery thread");
        svc_producer_metrics_stop(app->metrics);
        rd_kafka_destroy(a->rk);
        goto fail;
    }
    app->ext = a;
    return true;
fail:
    rd_kafka_conf_destroy(kc);
    weir_conf_destroy(a->conf);
    pthread_mutex_destroy(&a->admit);
    free(a);
    return false;
}

static bool ready(svc_app *app, char *why, size_t why_size)
{
    activity *a = app->ext;
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_resp_err_t err = rd_kafka_metadata(a->rk, 0, NULL, &md, 1000);
    if (err) {
        snprintf(why, why_size, "kafka: %s", rd_kafka_err2str(err));
        return false;
    }
    rd_kafka_metadata_destroy(md);
    return true;
}

static void fini(svc_app *app)
{
    activity *a = app->ext;
    if (!a)
        return;
    atomic_store(&stopping, true);
    pthread_join(poller, NULL);
    if (rd_kafka_flush(a->rk, 10000) != RD_KAFKA_RESP_ERR_NO_ERROR) {
        weir_log_field f[] = {WEIR_LOG_INT("events", rd_kafka_outq_len(a->rk))};
        weir_logger_log(app->log, WEIR_LOG_ERROR, "events not delivered at exit", f, 1);
    }
    weir_log_field f[] = {WEIR_LOG_INT("accepted", (int64_t)atomic_load(&a->accepted)),
                          WEIR_LOG_INT("delivered", (int64_t)atomic_load(&a->delivered)),
                          WEIR_LOG_INT("rejected", (int64_t)atomic_load(&a->rejected)),
                          WEIR_LOG_INT("refused", (int64_t)atomic_load(&a->refused)),
                          WEIR_LOG_INT("failed", (int64_t)atomic_load(&a->failed))};
    weir_logger_log(app->log, WEIR_LOG_INFO, "events", f, 5);
    svc_producer_metrics_stop(app->metrics);
    rd_kafka_destroy(a->rk);
    weir_conf_destroy(a->conf);
    pthread_mutex_destroy(&a->admit);
    pthread_key_delete(decoder_key); /* the server's threads, which held decoders, are gone */
    free(a);
}

static int flag(const char *name, const char *value, char *err, size_t err_size)
{
    if (strcmp(name, "--queue-messages") != 0)
        return 0;
    if (!value || !svc_parse_int(value, 1, 10000000, &queue_messages)) {
        snprintf(err, err_size, "--queue-messages: expected an integer in 1..10000000");
        return 2;
    }
    return 1;
}

static const svc_route routes[] = {{"POST", "/events", post_events}};

int main(int argc, char **argv)
{
    const svc_spec spec = {
        .name = "activity-service",
        .default_listen = "127.0.0.1:8084",
        .routes = routes,
        .n_routes = 1,
        .uses_brokers = true,
        .default_topic = "ecom-raw-events",
        .topic_env = "KAFKA_INPUT_TOPIC",
        .no_store = true,
        .extra_usage = "  --queue-messages N  events waiting for the broker before POST /events "
                       "answers 503\n                      (default 100000)\n",
        .flag = flag,
        .extra_flags = ", --queue-messages",
        .init = init,
        .ready = ready,
        .fini = fini};
    return svc_main(&spec, argc, argv);
}
