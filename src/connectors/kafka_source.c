/* The Kafka source: a consumer-group member that reads one topic in batches, follows eager
 * and cooperative rebalances on the caller's thread, and commits only processed offsets. */
#include "connectors/kafka_int.h"
#include "runtime/errbuf.h"
#include "weir/kafka.h"

#include <librdkafka/rdkafka.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct part_state {
    int assigned;
    int started;       /* delivered a message or reported its end since it was assigned */
    int eof;           /* reached the end and no message since */
    int64_t processed; /* next offset to commit (last processed + 1), -1: none yet */
    int64_t committed; /* last offset committed (or requested, for async commits) */
    int64_t start;     /* where the owner wants an assigned partition read from, -1: committed */
} part_state;

struct weir_kafka_source {
    rd_kafka_t *rk;
    rd_kafka_queue_t *q;
    char *topic;
    weir_kafka_rebalance_cbs cbs;
    void *opaque;
    part_state *parts; /* indexed by partition number */
    int n_parts;
    rd_kafka_message_t **batch; /* the messages returned by the last poll */
    size_t batch_n, batch_cap;
    weir_kafka_source_stats st;
    int closed;
    int fatal;
    weir__log log;
    weir__kafka_errlog logged; /* transient errors: one line per kind per 10 s */
};

static part_state *part_get(weir_kafka_source *src, int32_t p, int grow)
{
    if (p < 0)
        return NULL;
    if (p >= src->n_parts) {
        if (!grow)
            return NULL;
        int n = p + 1 > 2 * src->n_parts ? p + 1 : 2 * src->n_parts;
        part_state *np = realloc(src->parts, (size_t)n * sizeof *np);
        if (!np)
            return NULL;
        for (int i = src->n_parts; i < n; i++)
            np[i] = (part_state){0, 0, 0, -1, -1, -1};
        src->parts = np;
        src->n_parts = n;
    }
    return &src->parts[p];
}

static void log_rate_limited(weir_kafka_source *src, rd_kafka_resp_err_t err, const char *what)
{
    if (weir__kafka_errlog_due(&src->logged, (int)err)) {
        weir_log_field f[2] = {WEIR_LOG_STR("topic", src->topic),
                               WEIR_LOG_STR("error", rd_kafka_err2name(err))};
        weir__logf(&src->log, WEIR_LOG_WARN, f, 2, "kafka consumer (%s): %s: %s", src->topic,
                   rd_kafka_err2name(err), what);
    }
}

static void on_log(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
    const weir_kafka_source *src = rd_kafka_opaque(rk);
    weir__kafka_log(src ? &src->log : NULL, rk, level, fac, buf);
}

static void on_error(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
    weir_kafka_source *src = opaque;
    src->st.errors++;
    if (err == RD_KAFKA_RESP_ERR__FATAL) {
        char why[256];
        rd_kafka_fatal_error(rk, why, sizeof why);
        weir_log_field f[1] = {WEIR_LOG_STR("topic", src->topic)};
        weir__logf(&src->log, WEIR_LOG_ERROR, f, 1, "kafka consumer (%s) failed for good: %s",
                   src->topic, why);
        src->fatal = 1;
        return;
    }
    char line[600];
    snprintf(line, sizeof line, "%s (retrying)", reason);
    log_rate_limited(src, err, line);
}

static void on_commit(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                      rd_kafka_topic_partition_list_t *offsets, void *opaque)
{
    (void)rk;
    weir_kafka_source *src = opaque;
    if (err == RD_KAFKA_RESP_ERR__NO_OFFSET)
        return; /* nothing to commit */
    int failed = err != RD_KAFKA_RESP_ERR_NO_ERROR;
    for (int i = 0; offsets && i < offsets->cnt; i++) {
        rd_kafka_topic_partition_t *tp = &offsets->elems[i];
        if (!tp->err)
            continue;
        failed = 1;
        /* Forget what was requested, so the next commit sends this partition again. */
        part_state *ps = part_get(src, tp->partition, 0);
        if (ps)
            ps->committed = -1;
    }
    if (failed) {
        src->st.commit_errors++;
        log_rate_limited(src, err ? err : RD_KAFKA_RESP_ERR__FAIL, "offset commit failed");
    } else {
        src->st.commits++;
    }
}

static void collect(const rd_kafka_topic_partition_list_t *parts, int32_t **out, size_t *n)
{
    *n = 0;
    *out = malloc(sizeof(int32_t) * (size_t)(parts->cnt ? parts->cnt : 1));
    if (!*out)
        return;
    for (int i = 0; i < parts->cnt; i++)
        (*out)[(*n)++] = parts->elems[i].partition;
}

/* Served inside rd_kafka_consume_batch_queue() and rd_kafka_consumer_close(), so on the
 * owner's thread. The eager protocol revokes everything and assigns the full new set; the
 * cooperative one revokes and adds only what moves. */
static void on_rebalance(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                         rd_kafka_topic_partition_list_t *parts, void *opaque)
{
    weir_kafka_source *src = opaque;
    int cooperative = strcmp(rd_kafka_rebalance_protocol(rk), "COOPERATIVE") == 0;
    int32_t *ids = NULL;
    size_t n = 0;
    src->st.rebalances++;

    if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
        /* The owner hears of the partitions first: it may restore their state and say
         * where each is to be read from (weir__kafka_source_set_start). */
        collect(parts, &ids, &n);
        for (size_t i = 0; i < n; i++) {
            part_state *ps = part_get(src, ids[i], 1);
            if (ps && !ps->assigned) {
                *ps = (part_state){1, 0, 0, -1, -1, -1};
                src->st.assigned++;
            }
        }
        if (src->cbs.assigned && n)
            src->cbs.assigned(src->opaque, ids, n);
        for (int i = 0; i < parts->cnt; i++) {
            part_state *ps = part_get(src, parts->elems[i].partition, 0);
            if (ps && ps->start >= 0) {
                parts->elems[i].offset = ps->start;
                ps->processed = ps->start;
            }
        }
        rd_kafka_error_t *e = NULL;
        rd_kafka_resp_err_t ae = RD_KAFKA_RESP_ERR_NO_ERROR;
        if (cooperative)
            e = rd_kafka_incremental_assign(rk, parts);
        else
            ae = rd_kafka_assign(rk, parts);
        if (e || ae) {
            weir__logf(&src->log, WEIR_LOG_ERROR, NULL, 0, "kafka consumer (%s): assign failed: %s",
                       src->topic, e ? rd_kafka_error_string(e) : rd_kafka_err2str(ae));
            if (e)
                rd_kafka_error_destroy(e);
        }
    } else if (err == RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS) {
        int lost = rd_kafka_assignment_lost(rk);
        collect(parts, &ids, &n);
        /* The owner flushes and commits while the partitions are still ours. */
        if (src->cbs.revoked && n)
            src->cbs.revoked(src->opaque, ids, n, lost);
        for (size_t i = 0; i < n; i++) {
            part_state *ps = part_get(src, ids[i], 0);
            if (ps && ps->assigned) {
                *ps = (part_state){0, 0, 0, -1, -1, -1};
                src->st.assigned--;
            }
        }
        if (cooperative) {
            rd_kafka_error_t *e = rd_kafka_incremental_unassign(rk, parts);
            if (e) {
                weir__logf(&src->log, WEIR_LOG_ERROR, NULL, 0,
                           "kafka consumer (%s): unassign failed: %s", src->topic,
                           rd_kafka_error_string(e));
                rd_kafka_error_destroy(e);
            }
        } else {
            rd_kafka_assign(rk, NULL);
        }
    } else {
        weir__logf(&src->log, WEIR_LOG_ERROR, NULL, 0, "kafka consumer (%s): rebalance error: %s",
                   src->topic, rd_kafka_err2str(err));
        rd_kafka_assign(rk, NULL);
    }
    free(ids);
}

weir_kafka_source *weir_kafka_source_new(const weir_conf *conf, const weir_kafka_rebalance_cbs *cbs,
                                         void *opaque, char *errstr, size_t errstr_size)
{
    const char *topic = weir_conf_get(conf, "input.topic");
    const char *group = weir_conf_get(conf, "group.id");
    if (!topic || !*topic || !group || !*group) {
        weir__errf(errstr, errstr_size, "%s: must not be empty",
                   !topic || !*topic ? "input.topic" : "group.id");
        return NULL;
    }
    weir_kafka_source *src = calloc(1, sizeof *src);
    rd_kafka_conf_t *rc = rd_kafka_conf_new();
    if (!src || !rc || !(src->topic = strdup(topic))) {
        weir__errf(errstr, errstr_size, "kafka source: out of memory");
        goto fail;
    }
    if (cbs)
        src->cbs = *cbs;
    src->opaque = opaque;

    /* Offsets are stored and committed by the owner only, after processing. EOF events
     * tell when the input is drained. The prefetch thresholds count the messages of all
     * partitions together (their queues forward to the one consumer queue). Over them,
     * librdkafka 2.0.2 fetches again only at its broker thread's next wake-up, up to 1 s
     * later, so a threshold under a second of the job's work idles the job whenever the
     * fetcher gets that far ahead (catching up on a backlog): librdkafka's 100,000 held
     * about one fetch response of 32 partitions (0.47 M events/s), 400,000 still paused a
     * fast fetch path, 1,000,000 (with 256 MB of payload) keep fetching and processing
     * overlapped at the price of up to about 400 MB queued (docs/KAFKA.md). */
    /* The eager protocol (range), not cooperative-sticky: librdkafka before 2.3.0 aborts
     * in rd_kafka_sticky_assignor_state_destroy() when a consumer of the sticky assignors is
     * destroyed between its first JoinGroup response and its first assignment (librdkafka
     * issue 4312; Debian 12 ships 2.0.2). A stable instance.id makes this a static member
     * (group.instance.id): restarted, it takes its partitions back without a rebalance.
     * A session of 6 s (a broker's group.min.session.timeout.ms; librdkafka's default is
     * 45 s) bounds how long the partitions of an instance that died wait for a new owner,
     * and how long a restart takes where static membership is not honoured (librdkafka's
     * mock cluster ignores group.instance.id: the restarted member waits for the dead one's
     * session, about twice, docs/CHECKPOINTS.md). */
    const char *instance = weir_conf_get(conf, "instance.id");
    if (!instance)
        instance = "";
    const char *const defaults[] = {"queued.min.messages",
                                    "1000000",
                                    "queued.max.messages.kbytes",
                                    "262144",
                                    "group.id",
                                    group,
                                    "enable.auto.commit",
                                    "false",
                                    "enable.auto.offset.store",
                                    "false",
                                    "auto.offset.reset",
                                    "earliest",
                                    "partition.assignment.strategy",
                                    "range",
                                    "enable.partition.eof",
                                    "true",
                                    "client.id",
                                    "weir-source",
                                    "session.timeout.ms",
                                    "6000",
                                    "heartbeat.interval.ms",
                                    "2000",
                                    "group.instance.id",
                                    instance[0] ? instance : NULL,
                                    NULL};
    if (weir_kafka_conf_apply(rc, conf, "consumer", defaults, errstr, errstr_size) != WEIR_OK)
        goto fail;
    src->log = weir__conf_log(conf);
    rd_kafka_conf_set_opaque(rc, src);
    rd_kafka_conf_set_log_cb(rc, on_log);
    rd_kafka_conf_set_rebalance_cb(rc, on_rebalance);
    rd_kafka_conf_set_offset_commit_cb(rc, on_commit);
    rd_kafka_conf_set_error_cb(rc, on_error);

    char why[512];
    src->rk = rd_kafka_new(RD_KAFKA_CONSUMER, rc, why, sizeof why);
    if (!src->rk) {
        weir__errf(errstr, errstr_size, "kafka source: cannot create the consumer: %s", why);
        goto fail;
    }
    rc = NULL;
    /* Serve callbacks (errors, commits, rebalances) from the consumer queue we poll. */
    rd_kafka_poll_set_consumer(src->rk);
    src->q = rd_kafka_queue_get_consumer(src->rk);

    rd_kafka_topic_partition_list_t *sub = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(sub, topic, RD_KAFKA_PARTITION_UA);
    rd_kafka_resp_err_t err = rd_kafka_subscribe(src->rk, sub);
    rd_kafka_topic_partition_list_destroy(sub);
    if (err) {
        weir__errf(errstr, errstr_size, "kafka source: subscribe to %s: %s", topic,
                   rd_kafka_err2str(err));
        goto fail;
    }
    return src;
fail:
    if (rc)
        rd_kafka_conf_destroy(rc);
    weir_kafka_source_destroy(src);
    return NULL;
}

static void release_batch(weir_kafka_source *src)
{
    for (size_t i = 0; i < src->batch_n; i++)
        rd_kafka_message_destroy(src->batch[i]);
    src->batch_n = 0;
}

size_t weir_kafka_source_poll(weir_kafka_source *src, weir_kafka_msg *out, size_t max,
                              int timeout_ms, weir_err *err)
{
    if (err)
        *err = WEIR_OK;
    release_batch(src);
    if (src->closed || max == 0)
        return 0;
    if (max > src->batch_cap) {
        rd_kafka_message_t **nb = realloc(src->batch, max * sizeof *nb);
        if (!nb) {
            if (err)
                *err = WEIR_ERR_NOMEM;
            return 0;
        }
        src->batch = nb;
        src->batch_cap = max;
    }
    ssize_t got = rd_kafka_consume_batch_queue(src->q, timeout_ms, src->batch, max);
    if (src->fatal && err)
        *err = WEIR_ERR_FATAL;
    if (got <= 0)
        return 0;

    size_t n = 0, keep = 0;
    for (ssize_t i = 0; i < got; i++) {
        rd_kafka_message_t *m = src->batch[i];
        part_state *ps = part_get(src, m->partition, 0);
        if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
            if (ps && ps->assigned)
                ps->eof = ps->started = 1;
            rd_kafka_message_destroy(m);
            continue;
        }
        if (m->err) {
            src->st.errors++;
            log_rate_limited(src, m->err, rd_kafka_message_errstr(m));
            rd_kafka_message_destroy(m);
            continue;
        }
        /* A rebalance served in the middle of this batch may have revoked the partition
         * after some of its messages were taken: its new owner reads them again. */
        if (!ps || !ps->assigned) {
            rd_kafka_message_destroy(m);
            continue;
        }
        ps->eof = 0;
        ps->started = 1;
        out[n] = (weir_kafka_msg){.data = m->payload ? m->payload : "",
                                  .len = m->len,
                                  .key = m->key,
                                  .key_len = m->key_len,
                                  .partition = m->partition,
                                  .offset = m->offset,
                                  .timestamp = rd_kafka_message_timestamp(m, NULL)};
        src->st.messages++;
        src->st.bytes += m->len;
        n++;
        src->batch[keep++] = m;
    }
    src->batch_n = keep;
    return n;
}

void weir_kafka_source_processed(weir_kafka_source *src, int32_t partition, int64_t offset)
{
    part_state *ps = part_get(src, partition, 0);
    if (ps && ps->assigned && offset + 1 > ps->processed)
        ps->processed = offset + 1;
}

weir_err weir_kafka_source_commit(weir_kafka_source *src, const int32_t *partitions, size_t n,
                                  int sync, char *errstr, size_t errstr_size)
{
    if (src->closed)
        return WEIR_OK;
    rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new(
        partitions ? (int)n : (src->st.assigned > 0 ? src->st.assigned : 1));
    size_t count = partitions ? n : (size_t)src->n_parts;
    for (size_t i = 0; i < count; i++) {
        int32_t p = partitions ? partitions[i] : (int32_t)i;
        part_state *ps = part_get(src, p, 0);
        if (!ps || !ps->assigned || ps->processed < 0 || ps->processed == ps->committed)
            continue;
        rd_kafka_topic_partition_list_add(list, src->topic, p)->offset = ps->processed;
    }
    if (list->cnt == 0) {
        rd_kafka_topic_partition_list_destroy(list);
        return WEIR_OK;
    }
    rd_kafka_resp_err_t err = rd_kafka_commit(src->rk, list, !sync);
    weir_err rc = WEIR_OK;
    if (!err) {
        for (int i = 0; i < list->cnt; i++) {
            part_state *ps = part_get(src, list->elems[i].partition, 0);
            if (sync && list->elems[i].err) {
                err = list->elems[i].err;
                continue;
            }
            ps->committed = list->elems[i].offset;
        }
    }
    if (err) {
        /* Counted by on_commit, which librdkafka calls for sync commits too (served at the
         * next poll, or while the consumer closes). */
        weir__errf(errstr, errstr_size, "kafka: commit of %s offsets failed: %s", src->topic,
                   rd_kafka_err2str(err));
        rc = WEIR_ERR_RETRIABLE;
    }
    rd_kafka_topic_partition_list_destroy(list);
    return rc;
}

int weir_kafka_source_drained(const weir_kafka_source *src)
{
    if (src->st.assigned <= 0)
        return 0;
    for (int i = 0; i < src->n_parts; i++)
        if (src->parts[i].assigned && !src->parts[i].eof)
            return 0;
    return 1;
}

int weir_kafka_source_started(const weir_kafka_source *src)
{
    for (int i = 0; i < src->n_parts; i++)
        if (src->parts[i].assigned && !src->parts[i].started)
            return 0;
    return 1;
}

void weir_kafka_source_stats_get(const weir_kafka_source *src, weir_kafka_source_stats *out)
{
    *out = src->st;
}

void weir_kafka_source_close(weir_kafka_source *src)
{
    if (!src || src->closed || !src->rk)
        return;
    release_batch(src);
    /* Serves the final revocation through on_rebalance, so the owner commits. */
    rd_kafka_resp_err_t err = rd_kafka_consumer_close(src->rk);
    if (err)
        weir__logf(&src->log, WEIR_LOG_WARN, NULL, 0, "kafka consumer (%s): close: %s", src->topic,
                   rd_kafka_err2str(err));
    src->closed = 1;
}

void weir_kafka_source_destroy(weir_kafka_source *src)
{
    if (!src)
        return;
    weir_kafka_source_close(src);
    release_batch(src);
    if (src->q)
        rd_kafka_queue_destroy(src->q);
    if (src->rk)
        rd_kafka_destroy(src->rk);
    free(src->batch);
    free(src->parts);
    free(src->topic);
    free(src);
}

rd_kafka_t *weir__kafka_source_handle(weir_kafka_source *src)
{
    return src->rk;
}

void weir__kafka_source_set_start(weir_kafka_source *src, int32_t partition, int64_t offset)
{
    part_state *ps = part_get(src, partition, 0);
    if (ps && ps->assigned)
        ps->start = offset;
}

rd_kafka_topic_partition_list_t *weir__kafka_source_positions(weir_kafka_source *src,
                                                              const int32_t *partitions, size_t n)
{
    rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new((int)n + 1);
    for (size_t i = 0; i < n; i++) {
        part_state *ps = part_get(src, partitions[i], 0);
        if (ps && ps->assigned && ps->processed >= 0)
            rd_kafka_topic_partition_list_add(list, src->topic, partitions[i])->offset =
                ps->processed;
    }
    if (list->cnt == 0) {
        rd_kafka_topic_partition_list_destroy(list);
        return NULL;
    }
    return list;
}

void weir__kafka_source_mark_committed(weir_kafka_source *src,
                                       const rd_kafka_topic_partition_list_t *list)
{
    for (int i = 0; list && i < list->cnt; i++) {
        part_state *ps = part_get(src, list->elems[i].partition, 0);
        if (ps && ps->assigned)
            ps->committed = list->elems[i].offset;
    }
    src->st.commits++;
}
