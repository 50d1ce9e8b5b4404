/* kafka-e2e: generated events produced to the dev broker (not timed), then the job's Kafka run
 * loop consuming them and publishing every firing to the results topic; events per second
 * through the job, from its first message to its last processed batch. */
#include <librdkafka/rdkafka.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"
#include "weir/kafka.h"
#include "weir/weir.h"

#define INPUT_PARTITIONS 32

typedef struct produced {
    uint64_t ok, failed;
} produced;

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    (void)rk;
    produced *p = opaque;
    if (m->err)
        p->failed++;
    else
        p->ok++;
}

/* The product id of a generated line: the text of "product_id":"...". */
static int line_key(const char *s, size_t n, const char **k, size_t *kn)
{
    static const char pat[] = "\"product_id\":\"";
    const char *p = memmem(s, n, pat, sizeof pat - 1);
    if (!p)
        return -1;
    p += sizeof pat - 1;
    const char *q = memchr(p, '"', (size_t)(s + n - p));
    if (!q)
        return -1;
    *k = p;
    *kn = (size_t)(q - p);
    return 0;
}

static int produce_all(bench_ctx *ctx, const char *brokers, const bench_lines *l)
{
    char err[512];
    rd_kafka_conf_t *c = rd_kafka_conf_new();
    produced pr = {0, 0};
    const char *props[][2] = {
        {"bootstrap.servers", brokers},
        {"linger.ms", "20"},
        {"batch.num.messages", "10000"},
        {"queue.buffering.max.messages", "1000000"},
        {"queue.buffering.max.kbytes", "1048576"},
        {"partitioner", "murmur2_random"},
    };
    for (size_t i = 0; i < sizeof props / sizeof props[0]; i++)
        if (rd_kafka_conf_set(c, props[i][0], props[i][1], err, sizeof err) != RD_KAFKA_CONF_OK) {
            rd_kafka_conf_destroy(c);
            return bench_fail(ctx, "producer: %s", err);
        }
    rd_kafka_conf_set_dr_msg_cb(c, on_delivery);
    rd_kafka_conf_set_opaque(c, &pr);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, c, err, sizeof err);
    if (!rk) {
        rd_kafka_conf_destroy(c);
        return bench_fail(ctx, "producer: %s", err);
    }
    double t0 = bench_now();
    for (size_t i = 0; i < l->n; i++) {
        const char *k;
        size_t kn;
        if (line_key(l->buf + l->off[i], l->len[i], &k, &kn) != 0)
            k = NULL, kn = 0;
        for (;;) {
            rd_kafka_resp_err_t e =
                rd_kafka_producev(rk, RD_KAFKA_V_TOPIC("ecom-raw-events"),
                                  RD_KAFKA_V_VALUE((void *)(l->buf + l->off[i]), l->len[i]),
                                  RD_KAFKA_V_KEY((void *)k, kn),
                                  RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
            if (e == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
                rd_kafka_poll(rk, 10);
                continue;
            }
            if (e) {
                rd_kafka_destroy(rk);
                return bench_fail(ctx, "produce: %s", rd_kafka_err2str(e));
            }
            break;
        }
        rd_kafka_poll(rk, 0);
    }
    rd_kafka_flush(rk, 120000);
    double secs = bench_now() - t0;
    rd_kafka_destroy(rk);
    if (pr.ok != l->n)
        return bench_fail(ctx, "produced %llu of %zu events (%llu failed)",
                          (unsigned long long)pr.ok, l->n, (unsigned long long)pr.failed);
    bench_say("  produced %zu events to ecom-raw-events (%d partitions) in %.2f s (not timed)",
              l->n, INPUT_PARTITIONS, secs);
    bench_json_num(&ctx->out, "produce_events_per_sec", (double)l->n / secs, 0);
    return 0;
}

typedef struct job_arm {
    bench_ctx *ctx;
    const char *brokers;
    int round;
    uint64_t expected;
    double run_sec, job_eps;
    uint64_t emissions, delivered;
} job_arm;

static double summary_num(const char *line, const char *key)
{
    char pat[64];
    snprintf(pat, sizeof pat, "\"%s\":", key);
    const char *p = strstr(line, pat);
    return p ? strtod(p + strlen(pat), NULL) : -1;
}

static double job_run(void *opaque, uint64_t *events, char *err, size_t errlen)
{
    job_arm *a = opaque;
    weir_conf *conf = weir_conf_new();
    char group[96];
    /* A new group each run reads the topic from the start (auto.offset.reset=earliest). */
    snprintf(group, sizeof group, "weir-bench-%d-%d", (int)getpid(), a->round++);
    if (!conf || weir_conf_set(conf, "brokers", a->brokers, err, errlen) != WEIR_OK ||
        weir_conf_set(conf, "group.id", group, err, errlen) != WEIR_OK) {
        weir_conf_destroy(conf);
        return -1;
    }
    char *summary = NULL;
    size_t summary_len = 0;
    FILE *out = open_memstream(&summary, &summary_len);
    volatile sig_atomic_t stop = 0;
    int code = out ? weir_kafka_job_run(conf, NULL, 0, 1000, 1, &stop, out) : 1;
    if (out)
        fclose(out);
    weir_conf_destroy(conf);
    double valid = summary ? summary_num(summary, "valid") : -1;
    a->job_eps = summary ? summary_num(summary, "events_per_sec") : -1;
    a->run_sec = summary ? summary_num(summary, "run_sec") : -1;
    a->emissions = summary ? (uint64_t)summary_num(summary, "emissions") : 0;
    a->delivered = summary ? (uint64_t)summary_num(summary, "delivered") : 0;
    free(summary);
    if (code != 0 || valid <= 0 || a->job_eps <= 0) {
        snprintf(err, errlen, "the Kafka job exited %d after %.0f valid records", code, valid);
        return -1;
    }
    if ((uint64_t)valid != a->expected) {
        snprintf(err, errlen, "the Kafka job read %.0f of %llu records", valid,
                 (unsigned long long)a->expected);
        return -1;
    }
    *events = (uint64_t)valid;
    return valid / a->job_eps;
}

int bench_kafka_e2e(bench_ctx *ctx)
{
    char broker_bin[512], logp[512];
    snprintf(broker_bin, sizeof broker_bin, "%s/weir-dev-broker", ctx->bindir);
    snprintf(logp, sizeof logp, "%s/broker.log", ctx->tmpdir);
    if (access(broker_bin, X_OK) != 0)
        return bench_skip(ctx, "%s is not built", broker_bin);
    char topic_in[64];
    snprintf(topic_in, sizeof topic_in, "ecom-raw-events:%d", INPUT_PARTITIONS);
    char *argv[] = {broker_bin, "--topic", topic_in, "--topic", "ecom-analytics-results:8",
                    "--quiet",  NULL};
    pid_t pid = bench_spawn(argv, logp);
    char brokers[256] = "";
    for (int i = 0; i < 500 && pid > 0 && !brokers[0]; i++) {
        FILE *f = fopen(logp, "r");
        if (f) {
            if (fgets(brokers, sizeof brokers, f) && !strchr(brokers, '\n'))
                brokers[0] = '\0'; /* not the whole line yet */
            fclose(f);
        }
        brokers[strcspn(brokers, "\n")] = '\0';
        if (!brokers[0])
            usleep(20000);
    }
    if (!brokers[0] || !strchr(brokers, ':')) {
        bench_stop(pid, 1000);
        return bench_skip(ctx, "the dev broker did not start (log %s)", logp);
    }
    int rc = -1;
    weir_gen_params p;
    bench_gen_params(ctx, ctx->events, &p);
    const char *path = bench_json_file(ctx, &p);
    bench_lines lines = {0};
    char file[512];
    if (!path)
        goto done;
    snprintf(file, sizeof file, "%s", path);
    if (bench_lines_load(ctx, file, &lines) != 0 || produce_all(ctx, brokers, &lines) != 0)
        goto done;
    job_arm ja;
    memset(&ja, 0, sizeof ja);
    ja.ctx = ctx;
    ja.brokers = brokers;
    ja.expected = lines.n;
    bench_arm arms[2] = {
        BENCH_ARM("kafka-e2e (job)", job_run, &ja),
        BENCH_ARM("scan", bench_scan_run, file),
    };
    if (bench_measure(ctx, arms, 2) != 0)
        goto done;
    bench_report_main(ctx, &arms[0]);
    bench_report_vs_scan(ctx, &arms[0], &arms[1]);
    bench_json_str(&ctx->out, "job",
                   "weir_kafka_job_run in this process (the run loop of "
                   "unique-users --brokers), keyed: one pipeline per partition");
    bench_json_str(&ctx->out, "broker", "weir-dev-broker (librdkafka mock cluster), loopback");
    bench_json_u64(&ctx->out, "input_partitions", INPUT_PARTITIONS);
    bench_json_num(&ctx->out, "run_sec_last", ja.run_sec, 3);
    bench_json_u64(&ctx->out, "firings", ja.emissions);
    bench_json_u64(&ctx->out, "results_delivered", ja.delivered);
    bench_say("  timed from the job's first message to its last processed batch; the whole run "
              "(group join, idle stop) took %.2f s; %llu firings, %llu delivered to "
              "ecom-analytics-results",
              ja.run_sec, (unsigned long long)ja.emissions, (unsigned long long)ja.delivered);
    if (ja.delivered != ja.emissions) {
        bench_fail(ctx, "%llu firings but %llu results delivered", (unsigned long long)ja.emissions,
                   (unsigned long long)ja.delivered);
        goto done;
    }
    rc = 0;
done:
    bench_lines_free(&lines);
    bench_stop(pid, 3000);
    return rc;
}
