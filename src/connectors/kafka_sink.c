/* The Kafka sink: firings as keyed JSON messages and side-output records unchanged, through
 * an idempotent librdkafka producer; plus the mapping of weir_conf onto librdkafka properties. */
#include "connectors/kafka_int.h"
#include "runtime/errbuf.h"
#include "runtime/logf.h"
#include "runtime/output_buf.h"
#include "runtime/sink_int.h"
#include "util/clock.h"
#include "weir/kafka.h"

#include <librdkafka/rdkafka.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "weir/output.h"

/* ------------------------------------------------------------ client properties */

typedef struct apply_ctx {
    rd_kafka_conf_t *rk_conf;
    const char *prefix;
    int skip_roles; /* skip "producer." and "consumer." names (they have their own pass) */
    weir_err err;
    char *errstr;
    size_t errstr_size;
} apply_ctx;

static void apply_one(void *opaque, const char *name, const char *value)
{
    apply_ctx *ctx = opaque;
    if (ctx->err)
        return;
    if (ctx->skip_roles &&
        (strncmp(name, "producer.", 9) == 0 || strncmp(name, "consumer.", 9) == 0))
        return;
    char why[256];
    if (rd_kafka_conf_set(ctx->rk_conf, name, value, why, sizeof why) != RD_KAFKA_CONF_OK) {
        ctx->err = WEIR_ERR_INVALID_ARG;
        weir__errf(ctx->errstr, ctx->errstr_size, "%s%s: %s", ctx->prefix, name, why);
    }
}

/* librdkafka's log lines, minus two kinds: the warning that a `kafka.` property meant for the
 * other client (a consumer's for the producer, say) is ignored, since weir passes those keys to
 * both; and connection failures (FAIL), which also reach the error callbacks that log them once
 * per kind every 10 s with what happens next. Syslog levels map onto weir's. */
void weir__kafka_log(const weir__log *lg, const rd_kafka_t *rk, int level, const char *fac,
                     const char *buf)
{
    if (!lg || strcmp(fac, "FAIL") == 0 ||
        (strcmp(fac, "CONFWARN") == 0 && strstr(buf, "will be ignored by this")))
        return;
    weir_log_level lv = level <= 3   ? WEIR_LOG_ERROR
                        : level == 4 ? WEIR_LOG_WARN
                        : level <= 6 ? WEIR_LOG_INFO
                                     : WEIR_LOG_DEBUG;
    weir_log_field f[3] = {WEIR_LOG_STR("facility", fac),
                           WEIR_LOG_STR("client", rk ? rd_kafka_name(rk) : ""),
                           WEIR_LOG_INT("syslog_level", level)};
    weir__logf(lg, lv, f, 3, "librdkafka: %s", buf);
}

int weir__kafka_errlog_due(weir__kafka_errlog *l, int err)
{
    int64_t now = weir__wall_ms() / 1000;
    int slot = 0;
    for (int i = 0; i < 4; i++) {
        if (l->err[i] == err) {
            slot = i;
            break;
        }
        if (l->at[i] < l->at[slot])
            slot = i;
    }
    if (l->err[slot] == err && now - l->at[slot] < 10)
        return 0;
    l->err[slot] = err;
    l->at[slot] = now;
    return 1;
}

weir_err weir_kafka_conf_apply(struct rd_kafka_conf_s *rk_conf, const weir_conf *conf,
                               const char *role, const char *const *defaults, char *errstr,
                               size_t errstr_size)
{
    char why[256];
    const char *brokers = weir_conf_get(conf, "brokers");
    if (!brokers || !*brokers) {
        weir__errf(errstr, errstr_size, "brokers: no Kafka bootstrap servers given");
        return WEIR_ERR_INVALID_ARG;
    }
    if (rd_kafka_conf_set(rk_conf, "bootstrap.servers", brokers, why, sizeof why) !=
        RD_KAFKA_CONF_OK) {
        weir__errf(errstr, errstr_size, "brokers: %s", why);
        return WEIR_ERR_INVALID_ARG;
    }
    for (size_t i = 0; defaults && defaults[i] && defaults[i + 1]; i += 2)
        if (rd_kafka_conf_set(rk_conf, defaults[i], defaults[i + 1], why, sizeof why) !=
            RD_KAFKA_CONF_OK) {
            weir__errf(errstr, errstr_size, "%s=%s: %s", defaults[i], defaults[i + 1], why);
            return WEIR_ERR_INVALID_ARG;
        }
    apply_ctx ctx = {rk_conf, "kafka.", 1, WEIR_OK, errstr, errstr_size};
    weir_conf_foreach_prefix(conf, "kafka.", apply_one, &ctx);
    if (ctx.err)
        return ctx.err;
    if (role) {
        char prefix[64];
        snprintf(prefix, sizeof prefix, "kafka.%s.", role);
        apply_ctx rctx = {rk_conf, prefix, 0, WEIR_OK, errstr, errstr_size};
        weir_conf_foreach_prefix(conf, prefix, apply_one, &rctx);
        if (rctx.err)
            return rctx.err;
    }
    return WEIR_OK;
}

/* ------------------------------------------------------------ the sink */

typedef struct kafka_sink {
    weir_sink base; /* first: the sink functions cast between the two */
    rd_kafka_t *rk;
    rd_kafka_topic_t *rkt;
    char *topic;
    char *buf; /* JSON of the current firing */
    size_t cap;
    weir_err failed; /* WEIR_OK until a final failure */
    weir_kafka_sink_stats st;
    weir__kafka_errlog logged; /* transient errors: one line per kind per 10 s */
    weir__log log;
} kafka_sink;

static const weir_sink_ops kafka_sink_ops;

static void on_log(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
    const kafka_sink *ks = rd_kafka_opaque(rk);
    weir__kafka_log(ks ? &ks->log : NULL, rk, level, fac, buf);
}

static void set_failure(kafka_sink *ks, weir_err err, const char *fmt, ...)
{
    if (ks->failed)
        return; /* the first final error is the one worth reading */
    ks->failed = err;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(ks->base.error, sizeof ks->base.error, fmt, ap);
    va_end(ap);
}

/* Served from rd_kafka_poll()/rd_kafka_flush() on the sink's thread. */
static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    (void)rk;
    kafka_sink *ks = opaque;
    if (!m->err) {
        ks->st.delivered++;
        return;
    }
    ks->st.failed++;
    set_failure(ks, WEIR_ERR_IO, "kafka: delivery to %s [%d] failed: %s",
                m->rkt ? rd_kafka_topic_name(m->rkt) : ks->topic, (int)m->partition,
                rd_kafka_err2str(m->err));
}

static void on_error(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
    kafka_sink *ks = opaque;
    if (err == RD_KAFKA_RESP_ERR__FATAL) {
        char why[256];
        rd_kafka_fatal_error(rk, why, sizeof why);
        set_failure(ks, WEIR_ERR_FATAL, "kafka: producer for %s failed for good: %s", ks->topic,
                    why);
        weir__logf(&ks->log, WEIR_LOG_ERROR, NULL, 0, "%s", ks->base.error);
        return;
    }
    /* Transient: librdkafka reconnects and retries by itself. Say so, without repeating
     * the same line many times a second while a broker is away. */
    if (weir__kafka_errlog_due(&ks->logged, err)) {
        weir_log_field f[2] = {WEIR_LOG_STR("topic", ks->topic),
                               WEIR_LOG_STR("error", rd_kafka_err2name(err))};
        weir__logf(&ks->log, WEIR_LOG_WARN, f, 2, "kafka producer (%s): %s: %s (retrying)",
                   ks->topic, rd_kafka_err2name(err), reason);
    }
}

/* Produces one message (copied), with one header when hname is not NULL; blocks while the
 * local queue is full. */
static weir_err produce_h(kafka_sink *ks, const char *key, size_t key_len, const void *val,
                          size_t len, int64_t ts, const char *hname, const void *hval,
                          size_t hval_len)
{
    for (;;) {
        if (ks->failed)
            return ks->failed;
        rd_kafka_headers_t *h = NULL;
        if (hname) {
            h = rd_kafka_headers_new(1);
            rd_kafka_header_add(h, hname, -1, hval, (ssize_t)hval_len);
        }
        rd_kafka_resp_err_t err = rd_kafka_producev(
            ks->rk, RD_KAFKA_V_RKT(ks->rkt), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
            RD_KAFKA_V_KEY(key, key_len), RD_KAFKA_V_VALUE((void *)val, len),
            RD_KAFKA_V_TIMESTAMP(ts), RD_KAFKA_V_HEADERS(h), RD_KAFKA_V_END);
        if (!err) {
            ks->st.produced++;
            ks->st.bytes += len;
            ks->base.written++;
            return WEIR_OK;
        }
        if (h)
            rd_kafka_headers_destroy(h); /* still ours when the produce failed */
        if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
            set_failure(ks, err == RD_KAFKA_RESP_ERR__FATAL ? WEIR_ERR_FATAL : WEIR_ERR_IO,
                        "kafka: cannot produce to %s: %s", ks->topic, rd_kafka_err2str(err));
            return ks->failed;
        }
        /* Backpressure: the local queue is full while the broker is behind or away.
         * Serving delivery reports frees room; message.timeout.ms bounds the wait. */
        ks->st.queue_full++;
        rd_kafka_poll(ks->rk, 50);
    }
}

static weir_err produce(kafka_sink *ks, const char *key, size_t key_len, const char *val,
                        size_t len, int64_t ts)
{
    return produce_h(ks, key, key_len, val, len, ts, NULL, NULL, 0);
}

static weir_err ks_firing(weir_sink *s, const weir_firing *f)
{
    kafka_sink *ks = (kafka_sink *)s;
    if (ks->failed)
        return ks->failed;
    size_t need = weir__firing_json(s, f, &ks->buf, &ks->cap);
    if (need == (size_t)-1)
        return WEIR_ERR_NOMEM;
    const char *key = s->key_field ? f->key.ptr : NULL;
    size_t key_len = s->key_field ? f->key.len : 0;
    if (key && !key_len)
        key = ""; /* an empty key is still a key, distinct from none */
    return produce(ks, key, key_len, ks->buf, need, f->window_end - 1);
}

static weir_err ks_record(weir_sink *s, weir_slice record, int32_t partition)
{
    (void)partition;
    kafka_sink *ks = (kafka_sink *)s;
    return produce(ks, NULL, 0, record.ptr ? record.ptr : "", record.len, 0);
}

static weir_err ks_flush(weir_sink *s, int timeout_ms)
{
    kafka_sink *ks = (kafka_sink *)s;
    rd_kafka_resp_err_t err = rd_kafka_flush(ks->rk, timeout_ms);
    if (ks->failed)
        return ks->failed;
    if (err == RD_KAFKA_RESP_ERR__TIMED_OUT)
        return WEIR_ERR_TIMEOUT;
    return err ? WEIR_ERR_IO : WEIR_OK;
}

static weir_err ks_poll(weir_sink *s)
{
    kafka_sink *ks = (kafka_sink *)s;
    rd_kafka_poll(ks->rk, 0);
    return ks->failed;
}

static void ks_destroy(weir_sink *s)
{
    kafka_sink *ks = (kafka_sink *)s;
    if (ks->rkt)
        rd_kafka_topic_destroy(ks->rkt);
    if (ks->rk)
        rd_kafka_destroy(ks->rk);
    free(ks->topic);
    free(ks->buf);
    free(ks);
}

static const weir_sink_ops kafka_sink_ops = {
    .name = "kafka",
    .firing = ks_firing,
    .record = ks_record,
    .flush = ks_flush,
    .poll = ks_poll,
    .destroy = ks_destroy,
};

weir_sink *weir_kafka_sink_new(const weir_conf *conf, const char *topic, const char *key_field,
                               const weir_agg_spec *aggs, size_t n_aggs, char *errstr,
                               size_t errstr_size)
{
    return weir__kafka_sink_new_tx(conf, topic, key_field, aggs, n_aggs, NULL, errstr, errstr_size);
}

weir_sink *weir__kafka_sink_new_tx(const weir_conf *conf, const char *topic, const char *key_field,
                                   const weir_agg_spec *aggs, size_t n_aggs,
                                   const char *transactional_id, char *errstr, size_t errstr_size)
{
    if (!conf || !topic || !*topic) {
        weir__errf(errstr, errstr_size, "kafka sink: no topic");
        return NULL;
    }
    char why[512];
    kafka_sink *ks = calloc(1, sizeof *ks);
    rd_kafka_conf_t *rc = rd_kafka_conf_new();
    if (!ks || !rc || !(ks->topic = strdup(topic)) || !(ks->buf = malloc(512))) {
        weir__errf(errstr, errstr_size, "kafka sink: out of memory");
        goto fail;
    }
    ks->cap = 512;
    ks->base.ops = &kafka_sink_ops;
    ks->base.key_field = key_field;
    ks->base.aggs = aggs;
    ks->base.n_aggs = n_aggs;

    /* Idempotence keeps librdkafka's retries free of duplicates and reordering;
     * murmur2 places a key in the partition a Java client would pick. */
    static const char *const defaults[] = {"enable.idempotence", "true",      "partitioner",
                                           "murmur2_random",     "linger.ms", "5",
                                           "client.id",          "weir-sink", NULL};
    if (weir_kafka_conf_apply(rc, conf, "producer", defaults, errstr, errstr_size) != WEIR_OK)
        goto fail;
    if (transactional_id && rd_kafka_conf_set(rc, "transactional.id", transactional_id, why,
                                              sizeof why) != RD_KAFKA_CONF_OK) {
        weir__errf(errstr, errstr_size, "transactional.id: %s", why);
        goto fail;
    }
    ks->log = weir__conf_log(conf);
    rd_kafka_conf_set_opaque(rc, ks);
    rd_kafka_conf_set_log_cb(rc, on_log);
    rd_kafka_conf_set_dr_msg_cb(rc, on_delivery);
    rd_kafka_conf_set_error_cb(rc, on_error);

    ks->rk = rd_kafka_new(RD_KAFKA_PRODUCER, rc, why, sizeof why);
    if (!ks->rk) {
        weir__errf(errstr, errstr_size, "kafka sink: cannot create the producer: %s", why);
        goto fail;
    }
    rc = NULL; /* owned by the producer now */
    ks->rkt = rd_kafka_topic_new(ks->rk, topic, NULL);
    if (!ks->rkt) {
        weir__errf(errstr, errstr_size, "kafka sink: topic %s: %s", topic,
                   rd_kafka_err2str(rd_kafka_last_error()));
        goto fail;
    }
    return &ks->base;
fail:
    if (rc)
        rd_kafka_conf_destroy(rc);
    if (ks)
        ks_destroy(&ks->base);
    return NULL;
}

void weir_kafka_sink_stats_get(const weir_sink *s, weir_kafka_sink_stats *out)
{
    if (s && s->ops == &kafka_sink_ops)
        *out = ((const kafka_sink *)s)->st;
    else
        memset(out, 0, sizeof *out);
}

rd_kafka_t *weir__kafka_sink_handle(weir_sink *s)
{
    return s && s->ops == &kafka_sink_ops ? ((kafka_sink *)s)->rk : NULL;
}

weir_err weir__kafka_sink_produce(weir_sink *s, const char *key, size_t key_len, const void *val,
                                  size_t len, int64_t ts, const char *hname, const void *hval,
                                  size_t hval_len)
{
    return produce_h((kafka_sink *)s, key, key_len, val, len, ts, hname, hval, hval_len);
}
