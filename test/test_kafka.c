/* Kafka connectors against an in-process librdkafka mock cluster: the sink's messages (key,
 * value, timestamp, raw records), delivery failures, pass-through properties; the source's
 * commits and rebalances; the job's keyed and global modes against the file job. */
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include "support/gen.h"
#include "weir/job.h"
#include "weir/kafka.h"
#include "weir/output.h"
#include "weir/pipeline.h"

/* ------------------------------------------------------------------ helpers */

typedef struct cluster {
    rd_kafka_t *host;
    rd_kafka_mock_cluster_t *mc;
    const char *bootstraps;
} cluster;

static void cluster_start(cluster *c, const char *const *topics, const int *parts, int n)
{
    char err[256];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "log_level", "3", err, sizeof err);
    c->host = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
    assert_non_null(c->host);
    c->mc = rd_kafka_mock_cluster_new(c->host, 1);
    assert_non_null(c->mc);
    for (int i = 0; i < n; i++)
        assert_int_equal(rd_kafka_mock_topic_create(c->mc, topics[i], parts[i], 1), 0);
    c->bootstraps = rd_kafka_mock_cluster_bootstraps(c->mc);
}

static void cluster_stop(cluster *c)
{
    rd_kafka_mock_cluster_destroy(c->mc);
    rd_kafka_destroy(c->host);
}

static weir_conf *conf_for(const cluster *c)
{
    weir_conf *conf = weir_conf_new();
    char err[256];
    assert_int_equal(weir_conf_set(conf, "brokers", c->bootstraps, err, sizeof err), WEIR_OK);
    assert_int_equal(weir_conf_set(conf, "kafka.log_level", "3", err, sizeof err), WEIR_OK);
    /* The mock coordinator waits session.timeout.ms - 1 s for members to rejoin after one
     * leaves: keep that short, as tests restart members of a group. */
    assert_int_equal(weir_conf_set(conf, "kafka.session.timeout.ms", "6000", err, sizeof err),
                     WEIR_OK);
    assert_int_equal(weir_conf_set(conf, "kafka.heartbeat.interval.ms", "500", err, sizeof err),
                     WEIR_OK);
    return conf;
}

static void set(weir_conf *conf, const char *k, const char *v)
{
    char err[256];
    if (weir_conf_set(conf, k, v, err, sizeof err) != WEIR_OK)
        fail_msg("%s", err);
}

static rd_kafka_t *plain_producer(const cluster *c)
{
    char err[256];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "bootstrap.servers", c->bootstraps, err, sizeof err);
    rd_kafka_conf_set(conf, "linger.ms", "1", err, sizeof err);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
    assert_non_null(rk);
    return rk;
}

static void produce(rd_kafka_t *rk, const char *topic, int32_t partition, const char *key,
                    const char *val, size_t len)
{
    rd_kafka_resp_err_t err = rd_kafka_producev(
        rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_PARTITION(partition),
        RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_KEY(key, key ? strlen(key) : 0),
        RD_KAFKA_V_VALUE((void *)val, len), RD_KAFKA_V_END);
    assert_int_equal(err, 0);
}

typedef struct got_msg {
    int32_t partition;
    int64_t offset, ts;
    char *key; /* NULL: no key */
    char *val;
    size_t len;
} got_msg;

typedef struct got {
    got_msg *m;
    size_t n, cap;
} got;

static void got_free(got *g)
{
    for (size_t i = 0; i < g->n; i++) {
        free(g->m[i].key);
        free(g->m[i].val);
    }
    free(g->m);
    memset(g, 0, sizeof *g);
}

/* Reads every message of `topic` (its `parts` partitions) from the beginning to the end. */
static void read_topic(const cluster *c, const char *topic, int parts, got *g)
{
    char err[256];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "bootstrap.servers", c->bootstraps, err, sizeof err);
    rd_kafka_conf_set(conf, "group.id", "test-reader", err, sizeof err);
    rd_kafka_conf_set(conf, "enable.partition.eof", "true", err, sizeof err);
    rd_kafka_conf_set(conf, "enable.auto.commit", "false", err, sizeof err);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof err);
    assert_non_null(rk);
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(parts);
    for (int p = 0; p < parts; p++)
        rd_kafka_topic_partition_list_add(l, topic, p)->offset = RD_KAFKA_OFFSET_BEGINNING;
    assert_int_equal(rd_kafka_assign(rk, l), 0);
    rd_kafka_topic_partition_list_destroy(l);
    int eof = 0;
    for (int idle = 0; eof < parts && idle < 200;) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 100);
        if (!m) {
            idle++;
            continue;
        }
        if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
            eof++;
        } else if (!m->err) {
            if (g->n == g->cap) {
                g->cap = g->cap ? 2 * g->cap : 64;
                g->m = realloc(g->m, g->cap * sizeof *g->m);
            }
            got_msg *o = &g->m[g->n++];
            o->partition = m->partition;
            o->offset = m->offset;
            o->ts = rd_kafka_message_timestamp(m, NULL);
            o->key = m->key ? strndup(m->key, m->key_len) : NULL;
            o->val = malloc(m->len + 1); /* values may hold NUL bytes */
            memcpy(o->val, m->payload ? m->payload : "", m->len);
            o->val[m->len] = '\0';
            o->len = m->len;
        }
        rd_kafka_message_destroy(m);
    }
    assert_int_equal(eof, parts);
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
}

/* ------------------------------------------------------------------ sink */

static void test_sink_messages(void **state)
{
    (void)state;
    cluster c;
    const char *topics[] = {"results", "dlq"};
    int parts[] = {4, 1};
    cluster_start(&c, topics, parts, 2);
    weir_conf *conf = conf_for(&c);
    set(conf, "kafka.compression.type", "zstd");
    weir_agg_spec aggs[WEIR_MAX_AGGS];
    int prec;
    size_t n_aggs = weir_aggs_from_conf(conf, aggs, &prec);
    char err[256];
    weir_sink *s =
        weir_kafka_sink_new(conf, "results", "product_id", aggs, n_aggs, err, sizeof err);
    assert_non_null(s);
    weir_sink *dl = weir_kafka_sink_new(conf, "dlq", NULL, NULL, 0, err, sizeof err);
    assert_non_null(dl);

    /* Three keys, two windows each; the same key must always land in one partition. */
    const char *keys[] = {"42", "7", "a \"quoted\" key"};
    char want[6][512];
    for (int i = 0; i < 6; i++) {
        uint64_t v[2] = {(uint64_t)i + 1, (uint64_t)(10 * i + 3)};
        weir_firing f = {{keys[i % 3], strlen(keys[i % 3])},
                         1704067200000LL + 60000LL * (i / 3),
                         1704067260000LL + 60000LL * (i / 3),
                         0,
                         v,
                         2};
        weir_firing_to_json(&f, "product_id", aggs, want[i], sizeof want[i]);
        assert_int_equal(weir_sink_firing(s, &f), WEIR_OK);
    }
    const char raw[] = "{not json at all\x01";
    assert_int_equal(weir_sink_record(dl, (weir_slice){raw, sizeof raw - 1}, 3), WEIR_OK);
    assert_int_equal(weir_sink_flush(s, 10000), WEIR_OK);
    assert_int_equal(weir_sink_flush(dl, 10000), WEIR_OK);
    weir_kafka_sink_stats st;
    weir_kafka_sink_stats_get(s, &st);
    assert_int_equal(st.produced, 6);
    assert_int_equal(st.delivered, 6);
    assert_int_equal(st.failed, 0);
    assert_string_equal(weir_sink_error(s), "");

    got g = {0};
    read_topic(&c, "results", 4, &g);
    assert_int_equal(g.n, 6);
    int found = 0;
    for (size_t k = 0; k < g.n; k++) {
        for (int i = 0; i < 6; i++) {
            if (strcmp(g.m[k].val, want[i]) != 0)
                continue;
            found++;
            assert_non_null(g.m[k].key);
            assert_string_equal(g.m[k].key, keys[i % 3]);
            assert_int_equal(g.m[k].ts, 1704067260000LL + 60000LL * (i / 3) - 1);
        }
        for (size_t o = 0; o < g.n; o++)
            if (!strcmp(g.m[o].key, g.m[k].key))
                assert_int_equal(g.m[o].partition, g.m[k].partition);
    }
    assert_int_equal(found, 6);
    got_free(&g);
    read_topic(&c, "dlq", 1, &g);
    assert_int_equal(g.n, 1);
    assert_null(g.m[0].key);
    assert_int_equal(g.m[0].len, sizeof raw - 1);
    assert_memory_equal(g.m[0].val, raw, sizeof raw - 1);
    got_free(&g);

    weir_sink_destroy(s);
    weir_sink_destroy(dl);
    weir_conf_destroy(conf);
    cluster_stop(&c);
}

static void test_sink_bad_property(void **state)
{
    (void)state;
    cluster c;
    const char *topics[] = {"results"};
    int parts[] = {1};
    cluster_start(&c, topics, parts, 1);
    weir_conf *conf = conf_for(&c);
    set(conf, "kafka.producer.no.such.property", "1");
    char err[256] = "";
    assert_null(weir_kafka_sink_new(conf, "results", NULL, NULL, 0, err, sizeof err));
    assert_non_null(strstr(err, "kafka.producer.no.such.property"));
    weir_conf_destroy(conf);
    conf = conf_for(&c);
    set(conf, "kafka.compression.type", "snail");
    assert_null(weir_kafka_sink_new(conf, "results", NULL, NULL, 0, err, sizeof err));
    assert_non_null(strstr(err, "kafka.compression.type"));
    weir_conf_destroy(conf);
    /* No brokers: a configuration error, not a hang. */
    conf = weir_conf_new();
    assert_null(weir_kafka_sink_new(conf, "results", NULL, NULL, 0, err, sizeof err));
    assert_non_null(strstr(err, "brokers"));
    weir_conf_destroy(conf);
    cluster_stop(&c);
}

/* A delivery that cannot succeed is reported, and the sink refuses further work. */
static void test_sink_delivery_failure(void **state)
{
    (void)state;
    cluster c;
    const char *topics[] = {"results"};
    int parts[] = {1};
    cluster_start(&c, topics, parts, 1);
    weir_conf *conf = conf_for(&c);
    set(conf, "kafka.message.timeout.ms", "1500");
    char err[256];
    weir_sink *s = weir_kafka_sink_new(conf, "results", NULL, NULL, 0, err, sizeof err);
    assert_non_null(s);
    assert_int_equal(weir_sink_record(s, (weir_slice){"first", 5}, 0), WEIR_OK);
    assert_int_equal(weir_sink_flush(s, 10000), WEIR_OK);

    assert_int_equal(rd_kafka_mock_broker_set_down(c.mc, 1), 0);
    assert_int_equal(weir_sink_record(s, (weir_slice){"lost", 4}, 0), WEIR_OK);
    weir_err e = weir_sink_flush(s, 10000);
    assert_int_equal(e, WEIR_ERR_IO);
    assert_non_null(strstr(weir_sink_error(s), "delivery to results"));
    assert_int_equal(weir_sink_record(s, (weir_slice){"after", 5}, 0), WEIR_ERR_IO);
    assert_int_equal(weir_sink_poll(s), WEIR_ERR_IO);
    weir_kafka_sink_stats st;
    weir_kafka_sink_stats_get(s, &st);
    assert_int_equal(st.failed, 1);
    assert_int_equal(st.delivered, 1);
    rd_kafka_mock_broker_set_up(c.mc, 1);
    weir_sink_destroy(s);
    weir_conf_destroy(conf);
    cluster_stop(&c);
}

/* While the broker is away, results wait in librdkafka and arrive once it is back. */
static void test_sink_broker_outage_recovers(void **state)
{
    (void)state;
    cluster c;
    const char *topics[] = {"results"};
    int parts[] = {2};
    cluster_start(&c, topics, parts, 1);
    weir_conf *conf = conf_for(&c);
    char err[256];
    weir_sink *s = weir_kafka_sink_new(conf, "results", NULL, NULL, 0, err, sizeof err);
    assert_non_null(s);
    assert_int_equal(weir_sink_record(s, (weir_slice){"m0", 2}, 0), WEIR_OK);
    assert_int_equal(weir_sink_flush(s, 10000), WEIR_OK);
    rd_kafka_mock_broker_set_down(c.mc, 1);
    char buf[16];
    for (int i = 1; i <= 50; i++) {
        int n = snprintf(buf, sizeof buf, "m%d", i);
        assert_int_equal(weir_sink_record(s, (weir_slice){buf, (size_t)n}, 0), WEIR_OK);
    }
    assert_int_equal(weir_sink_flush(s, 1500), WEIR_ERR_TIMEOUT);
    rd_kafka_mock_broker_set_up(c.mc, 1);
    assert_int_equal(weir_sink_flush(s, 30000), WEIR_OK);
    got g = {0};
    read_topic(&c, "results", 2, &g);
    assert_int_equal(g.n, 51);
    /* Idempotence: no duplicates from the retries. */
    for (size_t i = 0; i < g.n; i++)
        for (size_t k = i + 1; k < g.n; k++)
            assert_string_not_equal(g.m[i].val, g.m[k].val);
    got_free(&g);
    weir_sink_destroy(s);
    weir_conf_destroy(conf);
    cluster_stop(&c);
}

/* ------------------------------------------------------------------ source */

typedef struct member {
    weir_kafka_source *src;
    int assigned[16];
    int revoked_calls, assigned_calls;
    int64_t last[16]; /* last offset seen per partition, -1 none */
    size_t seen;
    int commit_on_revoke;
    int revoke_commit_errors;
} member;

static void m_assigned(void *opaque, const int32_t *p, size_t n)
{
    member *m = opaque;
    m->assigned_calls++;
    for (size_t i = 0; i < n; i++) {
        assert_false(m->assigned[p[i]]);
        m->assigned[p[i]] = 1;
    }
}

static void m_revoked(void *opaque, const int32_t *p, size_t n, int lost)
{
    member *m = opaque;
    m->revoked_calls++;
    if (m->commit_on_revoke && !lost) {
        char why[256] = "";
        weir_err e = weir_kafka_source_commit(m->src, p, n, 1, why, sizeof why);
        /* The mock coordinator refuses commits while the group is joining or syncing
         * (a real one accepts them in PreparingRebalance): count, do not fail. */
        if (e)
            m->revoke_commit_errors++;
    }
    for (size_t i = 0; i < n; i++) {
        assert_true(m->assigned[p[i]]);
        m->assigned[p[i]] = 0;
    }
}

static size_t member_poll(member *m, int ms)
{
    weir_kafka_msg msgs[256];
    weir_err e;
    size_t n = weir_kafka_source_poll(m->src, msgs, 256, ms, &e);
    assert_int_equal(e, WEIR_OK);
    for (size_t i = 0; i < n; i++) {
        int32_t p = msgs[i].partition;
        assert_true(m->assigned[p]); /* never a message of a partition we do not own */
        /* In order, without gaps or repeats, within one assignment. */
        if (m->last[p] >= 0)
            assert_int_equal(msgs[i].offset, m->last[p] + 1);
        m->last[p] = msgs[i].offset;
        char want[32];
        snprintf(want, sizeof want, "p%d-%" PRId64, (int)p, msgs[i].offset);
        assert_int_equal(msgs[i].len, strlen(want));
        assert_memory_equal(msgs[i].data, want, msgs[i].len);
        weir_kafka_source_processed(m->src, p, msgs[i].offset);
    }
    m->seen += n;
    return n;
}

static int64_t committed(const cluster *c, const char *group, int32_t p)
{
    char err[256];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "bootstrap.servers", c->bootstraps, err, sizeof err);
    rd_kafka_conf_set(conf, "group.id", group, err, sizeof err);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof err);
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(l, "in", p);
    assert_int_equal(rd_kafka_committed(rk, l, 10000), 0);
    int64_t off = l->elems[0].offset;
    rd_kafka_topic_partition_list_destroy(l);
    rd_kafka_destroy(rk);
    return off;
}

static void produce_numbered(const cluster *c, int parts, int per_part, int from)
{
    rd_kafka_t *pr = plain_producer(c);
    char v[32];
    for (int p = 0; p < parts; p++)
        for (int i = from; i < from + per_part; i++) {
            int n = snprintf(v, sizeof v, "p%d-%d", p, i);
            produce(pr, "in", p, NULL, v, (size_t)n);
        }
    assert_int_equal(rd_kafka_flush(pr, 10000), 0);
    rd_kafka_destroy(pr);
}

static void test_source_commits_and_cooperative_rebalance(void **state)
{
    (void)state;
    cluster c;
    const char *topics[] = {"in"};
    int parts[] = {4};
    cluster_start(&c, topics, parts, 1);
    produce_numbered(&c, 4, 100, 0);
    weir_conf *conf = conf_for(&c);
    set(conf, "input.topic", "in");
    set(conf, "group.id", "g1");
    /* Not the default (range, docs/KAFKA.md), but the source handles both protocols. */
    set(conf, "kafka.consumer.partition.assignment.strategy", "cooperative-sticky");
    weir_kafka_rebalance_cbs cbs = {m_assigned, m_revoked};
    char err[256];
    member a;
    memset(&a, 0, sizeof a);
    memset(a.last, 0xff, sizeof a.last);
    a.commit_on_revoke = 1;
    a.src = weir_kafka_source_new(conf, &cbs, &a, err, sizeof err);
    assert_non_null(a.src);
    for (int i = 0; i < 300 && !weir_kafka_source_drained(a.src); i++)
        member_poll(&a, 100);
    assert_true(weir_kafka_source_drained(a.src));
    assert_int_equal(a.seen, 400);
    for (int p = 0; p < 4; p++)
        assert_true(a.assigned[p]);

    /* Nothing is committed until asked, and then exactly what was processed. */
    assert_int_equal(committed(&c, "g1", 0), RD_KAFKA_OFFSET_INVALID);
    assert_int_equal(weir_kafka_source_commit(a.src, NULL, 0, 1, err, sizeof err), WEIR_OK);
    for (int p = 0; p < 4; p++)
        assert_int_equal(committed(&c, "g1", p), 100);

    /* A second member joins: cooperative-sticky moves only some partitions, and each
     * partition belongs to exactly one member. */
    member b;
    memset(&b, 0, sizeof b);
    memset(b.last, 0xff, sizeof b.last);
    b.commit_on_revoke = 1;
    b.src = weir_kafka_source_new(conf, &cbs, &b, err, sizeof err);
    assert_non_null(b.src);
    int split = 0;
    for (int i = 0; i < 300 && !split; i++) {
        member_poll(&a, 50);
        member_poll(&b, 50);
        int na = 0, nb = 0;
        for (int p = 0; p < 4; p++) {
            na += a.assigned[p];
            nb += b.assigned[p];
            assert_false(a.assigned[p] && b.assigned[p]);
        }
        split = na == 2 && nb == 2;
    }
    assert_true(split);
    assert_true(a.revoked_calls >= 1);
    assert_int_equal(a.assigned_calls, 1); /* cooperative: never revoked everything */
    assert_int_equal(b.seen, 0);           /* it starts at the committed offsets */

    /* New messages go to their owners only, from where the group left off. */
    produce_numbered(&c, 4, 10, 100);
    size_t a0 = a.seen;
    for (int i = 0; i < 300 && a.seen + b.seen < a0 + 40; i++) {
        member_poll(&a, 50);
        member_poll(&b, 50);
    }
    assert_int_equal(a.seen + b.seen, a0 + 40);
    assert_int_equal(b.seen, 20);

    /* An explicit commit, and a close that commits through the revocation callback. */
    assert_int_equal(weir_kafka_source_commit(a.src, NULL, 0, 1, err, sizeof err), WEIR_OK);
    weir_kafka_source_destroy(b.src);
    for (int p = 0; p < 4; p++)
        assert_int_equal(committed(&c, "g1", p), 110);
    weir_kafka_source_destroy(a.src);
    weir_conf_destroy(conf);
    cluster_stop(&c);
}

/* Only processed offsets are committed: a member that stops half way through a partition
 * leaves the rest to the next one. */
static void test_source_never_commits_ahead(void **state)
{
    (void)state;
    cluster c;
    const char *topics[] = {"in"};
    int parts[] = {1};
    cluster_start(&c, topics, parts, 1);
    produce_numbered(&c, 1, 50, 0);
    weir_conf *conf = conf_for(&c);
    set(conf, "input.topic", "in");
    set(conf, "group.id", "g2");
    set(conf, "kafka.partition.assignment.strategy", "range"); /* the eager protocol */
    char err[256];
    weir_kafka_source *src = weir_kafka_source_new(conf, NULL, NULL, err, sizeof err);
    assert_non_null(src);
    weir_kafka_msg msgs[64];
    size_t total = 0;
    for (int i = 0; i < 300 && !weir_kafka_source_drained(src); i++) {
        size_t n = weir_kafka_source_poll(src, msgs, 64, 100, NULL);
        for (size_t k = 0; k < n; k++)
            if (msgs[k].offset < 20)
                weir_kafka_source_processed(src, msgs[k].partition, msgs[k].offset);
        total += n;
    }
    assert_int_equal(total, 50);
    assert_true(weir_kafka_source_started(src));
    assert_int_equal(weir_kafka_source_commit(src, NULL, 0, 1, err, sizeof err), WEIR_OK);
    weir_kafka_source_destroy(src);
    assert_int_equal(committed(&c, "g2", 0), 20);

    src = weir_kafka_source_new(conf, NULL, NULL, err, sizeof err);
    int64_t first = -1;
    total = 0;
    for (int i = 0; i < 300 && !weir_kafka_source_drained(src); i++) {
        size_t n = weir_kafka_source_poll(src, msgs, 64, 100, NULL);
        if (n && first < 0)
            first = msgs[0].offset;
        total += n;
    }
    assert_int_equal(first, 20);
    assert_int_equal(total, 30);
    weir_kafka_source_stats st;
    weir_kafka_source_stats_get(src, &st);
    assert_int_equal(st.messages, 30);
    assert_int_equal(st.assigned, 1);
    weir_kafka_source_destroy(src);
    weir_conf_destroy(conf);
    cluster_stop(&c);
}

/* ------------------------------------------------------------------ the job */

static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
    buf[n] = '\0';
    fclose(f);
    if (len)
        *len = (size_t)n;
    return buf;
}

typedef struct line {
    const char *p;
    size_t n;
} line;

static int cmp_line(const void *a, const void *b)
{
    const line *x = a, *y = b;
    int c = memcmp(x->p, y->p, x->n < y->n ? x->n : y->n);
    return c ? c : (x->n > y->n) - (x->n < y->n);
}

/* Splits `len` bytes of text into lines (which may hold NUL bytes) and sorts them. */
static size_t sorted_lines(const char *text, size_t len, line **out)
{
    size_t n = 0, cap = 64;
    line *v = malloc(cap * sizeof *v);
    for (const char *s = text, *end = text + len; s < end;) {
        const char *nl = memchr(s, '\n', (size_t)(end - s));
        size_t ll = nl ? (size_t)(nl - s) : (size_t)(end - s);
        if (n == cap)
            v = realloc(v, (cap *= 2) * sizeof *v);
        v[n++] = (line){s, ll};
        s += ll + 1;
    }
    qsort(v, n, sizeof *v, cmp_line);
    *out = v;
    return n;
}

/* Runs the file job over `in`, its results to `out`. */
static void file_job(const weir_conf *base, const char *in, const char *out)
{
    weir_conf *conf = weir_conf_dup(base);
    set(conf, "brokers", "");
    set(conf, "input.path", in);
    set(conf, "output.path", out);
    assert_int_equal(weir_file_job_run(conf, NULL, 0, NULL, 0, NULL, 0), WEIR_OK);
    weir_conf_destroy(conf);
}

/* Produces generated events to `parts` partitions of "in", each product to one partition,
 * and writes each partition's events, in order, to dir/p<N>.jsonl and all to dir/all.jsonl. */
static size_t produce_events(const cluster *c, const weir_gen_params *gp, int parts,
                             const char *dir)
{
    char path[512];
    snprintf(path, sizeof path, "%s/all.jsonl", dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    assert_int_equal(weir_gen_write(gp, f), 0);
    fclose(f);
    size_t len;
    char *all = read_file(path, &len);
    FILE *pf[16];
    for (int p = 0; p < parts; p++) {
        snprintf(path, sizeof path, "%s/p%d.jsonl", dir, p);
        pf[p] = fopen(path, "w");
    }
    rd_kafka_t *pr = plain_producer(c);
    size_t n = 0;
    /* Records may hold NUL bytes (the generator's bad encodings): split by length. */
    for (char *line = all, *end = all + len; line < end;) {
        char *nl = memchr(line, '\n', (size_t)(end - line));
        size_t ll = nl ? (size_t)(nl - line) : (size_t)(end - line);
        /* Partition by product id (a malformed record goes to partition 0). */
        int32_t p = 0;
        const char *k = memmem(line, ll, "\"product_id\":", 13);
        if (k) {
            k += strlen("\"product_id\":");
            while (*k == '"')
                k++;
            p = (int32_t)(strtoul(k, NULL, 10) % (unsigned)parts);
        }
        produce(pr, "in", p, NULL, line, ll);
        fwrite(line, 1, ll, pf[p]);
        fputc('\n', pf[p]);
        n++;
        line += ll + (nl ? 1 : 0);
    }
    assert_int_equal(rd_kafka_flush(pr, 30000), 0);
    rd_kafka_destroy(pr);
    for (int p = 0; p < parts; p++)
        fclose(pf[p]);
    free(all);
    return n;
}

static char *results_text(const cluster *c, const char *topic, int parts, size_t *n_msgs,
                          size_t *len)
{
    got g = {0};
    read_topic(c, topic, parts, &g);
    size_t total = 1;
    for (size_t i = 0; i < g.n; i++)
        total += g.m[i].len + 1;
    char *text = malloc(total), *w = text;
    for (size_t i = 0; i < g.n; i++) {
        memcpy(w, g.m[i].val, g.m[i].len);
        w += g.m[i].len;
        *w++ = '\n';
    }
    *w = '\0';
    *n_msgs = g.n;
    *len = (size_t)(w - text);
    got_free(&g);
    return text;
}

static void assert_same_lines(const char *a, size_t alen, const char *b, size_t blen)
{
    line *la, *lb;
    size_t na = sorted_lines(a, alen, &la), nb = sorted_lines(b, blen, &lb);
    assert_int_equal(na, nb);
    for (size_t i = 0; i < na; i++) {
        assert_int_equal(la[i].n, lb[i].n);
        assert_memory_equal(la[i].p, lb[i].p, la[i].n);
    }
    free(la);
    free(lb);
}

static char *make_dir(void)
{
    char tmpl[] = "/tmp/weir-test-kafka-XXXXXX";
    char *d = mkdtemp(tmpl);
    assert_non_null(d);
    return strdup(d);
}

static void remove_dir(char *dir)
{
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
    free(dir);
}

/* Keyed input: every partition's results equal the file job over that partition's events,
 * whatever the interleaving; invalid records reach the dead-letter topic unchanged. */
static void test_job_keyed_equals_file_runs(void **state)
{
    (void)state;
    cluster c;
    const char *topics[] = {"in", "out", "dlq"};
    int parts[] = {4, 4, 1};
    cluster_start(&c, topics, parts, 3);
    char *dir = make_dir();
    weir_gen_params gp;
    weir_gen_defaults(&gp);
    gp.seed = 11;
    gp.events = 20000;
    gp.products = 40;
    gp.users = 3000;
    gp.rate = 200; /* 100 s of event time: two or three windows */
    gp.bad_fraction = 0.01;
    size_t produced = produce_events(&c, &gp, 4, dir);

    weir_conf *conf = conf_for(&c);
    set(conf, "input.topic", "in");
    set(conf, "output.topic", "out");
    set(conf, "dead.letter.topic", "dlq");
    set(conf, "group.id", "job1");
    volatile sig_atomic_t stop = 0;
    char sumpath[600];
    snprintf(sumpath, sizeof sumpath, "%s/summary.json", dir);
    FILE *sum = fopen(sumpath, "w");
    assert_int_equal(
        weir_kafka_job_run(conf, NULL, 0, 500, 1, &(weir_job_env){&stop, sum, NULL, NULL}, NULL, 0),
        WEIR_OK);
    fclose(sum);
    char *summary = read_file(sumpath, NULL);
    char want[64];
    snprintf(want, sizeof want, "\"records\":%zu,", produced);
    assert_non_null(strstr(summary, want));
    assert_non_null(strstr(summary, "\"stopped_by\":\"drained\""));
    assert_non_null(strstr(summary, "\"partitions\":4"));

    /* Expected: the file job over each partition's events. */
    char *expect = calloc(1, 1);
    size_t elen = 0;
    for (int p = 0; p < 4; p++) {
        char in[600], out[600];
        snprintf(in, sizeof in, "%s/p%d.jsonl", dir, p);
        snprintf(out, sizeof out, "%s/r%d.jsonl", dir, p);
        file_job(conf, in, out);
        size_t l;
        char *r = read_file(out, &l);
        expect = realloc(expect, elen + l + 1);
        memcpy(expect + elen, r, l + 1);
        elen += l;
        free(r);
    }
    size_t n_out, glen;
    char *got_text = results_text(&c, "out", 4, &n_out, &glen);
    assert_true(n_out > 40);
    assert_same_lines(got_text, glen, expect, elen);
    free(got_text);
    free(expect);

    /* The dead letters, byte for byte, are the records the file job finds invalid. */
    size_t n_dl, dlen, fdlen;
    char *dl = results_text(&c, "dlq", 1, &n_dl, &dlen);
    assert_true(n_dl > 100);
    snprintf(want, sizeof want, "\"invalid\":%zu,", n_dl);
    assert_non_null(strstr(summary, want));
    char dlpath[600], allpath[600], outpath[600];
    snprintf(dlpath, sizeof dlpath, "%s/dead.jsonl", dir);
    snprintf(allpath, sizeof allpath, "%s/all.jsonl", dir);
    snprintf(outpath, sizeof outpath, "%s/all.out", dir);
    weir_conf *fc = weir_conf_dup(conf);
    set(fc, "dead.letter.path", dlpath);
    file_job(fc, allpath, outpath);
    weir_conf_destroy(fc);
    char *file_dl = read_file(dlpath, &fdlen);
    assert_same_lines(dl, dlen, file_dl, fdlen);
    free(file_dl);
    free(dl);
    free(summary);

    /* Everything processed was committed: a second run finds nothing to do. */
    sum = fopen(sumpath, "w");
    assert_int_equal(
        weir_kafka_job_run(conf, NULL, 0, 300, 1, &(weir_job_env){&stop, sum, NULL, NULL}, NULL, 0),
        WEIR_OK);
    fclose(sum);
    summary = read_file(sumpath, NULL);
    assert_non_null(strstr(summary, "\"records\":0,"));
    free(summary);

    weir_conf_destroy(conf);
    remove_dir(dir);
    cluster_stop(&c);
}

/* Global mode: one pipeline over every partition with the minimum watermark gives what
 * the file job gives over the merged input, for a global count. */
static void test_job_global(void **state)
{
    (void)state;
    cluster c;
    const char *topics[] = {"in", "out"};
    int parts[] = {3, 1};
    cluster_start(&c, topics, parts, 2);
    char *dir = make_dir();
    weir_gen_params gp;
    weir_gen_defaults(&gp);
    gp.seed = 5;
    gp.events = 6000;
    gp.products = 30;
    gp.users = 500;
    gp.rate = 50;
    gp.disorder_ms = 0; /* in order overall, so any interleaving is within the bound */
    produce_events(&c, &gp, 3, dir);
    weir_conf *conf = conf_for(&c);
    set(conf, "input.topic", "in");
    set(conf, "output.topic", "out");
    set(conf, "group.id", "job2");
    set(conf, "global", "true");
    set(conf, "watermark.out.of.orderness", "60s");
    volatile sig_atomic_t stop = 0;
    assert_int_equal(
        weir_kafka_job_run(conf, NULL, 0, 500, 1, &(weir_job_env){.stop = &stop}, NULL, 0),
        WEIR_OK);
    char allpath[600], outpath[600];
    snprintf(allpath, sizeof allpath, "%s/all.jsonl", dir);
    snprintf(outpath, sizeof outpath, "%s/all.out", dir);
    file_job(conf, allpath, outpath);
    size_t elen, glen, n;
    char *expect = read_file(outpath, &elen);
    char *got_text = results_text(&c, "out", 1, &n, &glen);
    assert_true(n >= 2);
    assert_null(strstr(got_text, "product_id"));
    assert_same_lines(got_text, glen, expect, elen);
    free(got_text);
    free(expect);
    weir_conf_destroy(conf);
    remove_dir(dir);
    cluster_stop(&c);
}

static void test_job_bad_configuration(void **state)
{
    (void)state;
    cluster c;
    const char *topics[] = {"in"};
    int parts[] = {1};
    cluster_start(&c, topics, parts, 1);
    volatile sig_atomic_t stop = 1;
    weir_conf *conf = conf_for(&c);
    set(conf, "kafka.consumer.definitely.not.a.property", "x");
    assert_int_equal(
        weir_kafka_job_run(conf, NULL, 0, 0, 0, &(weir_job_env){.stop = &stop}, NULL, 0),
        WEIR_ERR_INVALID_ARG);
    weir_conf_destroy(conf);
    conf = conf_for(&c);
    set(conf, "input.topic", "");
    assert_int_equal(
        weir_kafka_job_run(conf, NULL, 0, 0, 0, &(weir_job_env){.stop = &stop}, NULL, 0),
        WEIR_ERR_INVALID_ARG);
    weir_conf_destroy(conf);
    cluster_stop(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sink_messages),
        cmocka_unit_test(test_sink_bad_property),
        cmocka_unit_test(test_sink_delivery_failure),
        cmocka_unit_test(test_sink_broker_outage_recovers),
        cmocka_unit_test(test_source_commits_and_cooperative_rebalance),
        cmocka_unit_test(test_source_never_commits_ahead),
        cmocka_unit_test(test_job_keyed_equals_file_runs),
        cmocka_unit_test(test_job_global),
        cmocka_unit_test(test_job_bad_configuration),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
