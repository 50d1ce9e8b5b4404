/* kafka-e2e: generated events produced to the dev broker (not timed), then unique-users in
 * Kafka mode consuming them and publishing every firing to the results topic; events per
 * second through the job, from its first message to its last processed batch, beside a
 * plain librdkafka consumer of the same topic (the fetch path's own ceiling). */
#include <librdkafka/rdkafka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"
#include <sys/wait.h>

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
    /* Compressed batches keep a million events under the mock broker's 5 MiB of retention
     * per partition (Zipf keys put about 13% in the busiest one). lz4, not zstd: Debian's
     * librdkafka 2.0.2 writes zstd frames without their content size, so its consumer
     * decompresses each batch up to three times while guessing the output size (2x, 6x,
     * 18x the input), which made decompression the largest cost of the fetch path. Full
     * 1 MB batches (batch.size) rather than 20 ms ones: the mock broker returns one batch
     * per partition per fetch, so small batches cost a fetch round trip each. Measured in
     * docs/KAFKA.md. */
    const char *props[][2] = {
        {"bootstrap.servers", brokers},
        {"linger.ms", "1000"},
        {"batch.num.messages", "100000"},
        {"batch.size", "1000000"},
        {"queue.buffering.max.messages", "1000000"},
        {"queue.buffering.max.kbytes", "1048576"},
        {"partitioner", "murmur2_random"},
        {"compression.type", "lz4"},
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
    bench_say("  produced %zu events to ecom-raw-events (%d partitions, lz4) in %.2f s (not timed)",
              l->n, INPUT_PARTITIONS, secs);
    bench_json_num(&ctx->out, "produce_events_per_sec", (double)l->n / secs, 0);
    return 0;
}

typedef struct job_arm {
    const char *job; /* unique-users */
    const char *brokers;
    const char *log;
    int round;
    uint64_t expected;
    double run_sec, job_eps;
    double wait_share[BENCH_MAX_RUNS + 1]; /* per run: share of the active span spent waiting */
    double busy_eps[BENCH_MAX_RUNS + 1];   /* per run: events / (active span - waiting) */
    int n_wait;
    uint64_t emissions, delivered, peak_rss;
} job_arm;

static double job_run(void *opaque, uint64_t *events, char *err, size_t errlen)
{
    job_arm *a = opaque;
    char group[96];
    /* A new group each run reads the topic from the start (auto.offset.reset=earliest). */
    snprintf(group, sizeof group, "weir-bench-%d-%d", (int)getpid(), a->round++);
    char *argv[] = {(char *)a->job,     "--brokers", (char *)a->brokers, "--group-id", group,
                    "--stop-when-idle", "1s",        "--drain",          NULL};
    int status = -1;
    uint64_t rss = 0;
    char line[4096];
    if (bench_run_job(argv, a->log, &status, &rss, line, sizeof line) < 0) {
        snprintf(err, errlen, "cannot start %s", a->job);
        return -1;
    }
    double valid = line[0] ? bench_summary_num(line, "valid") : -1;
    a->job_eps = line[0] ? bench_summary_num(line, "events_per_sec") : -1;
    a->run_sec = line[0] ? bench_summary_num(line, "run_sec") : -1;
    a->emissions = line[0] ? (uint64_t)bench_summary_num(line, "emissions") : 0;
    a->delivered = line[0] ? (uint64_t)bench_summary_num(line, "delivered") : 0;
    if (rss > a->peak_rss)
        a->peak_rss = rss;
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 || valid <= 0 || a->job_eps <= 0) {
        snprintf(err, errlen, "unique-users --brokers exited %d after %.0f valid records (log %s)",
                 WIFEXITED(status) ? WEXITSTATUS(status) : -1, valid, a->log);
        return -1;
    }
    if ((uint64_t)valid != a->expected) {
        snprintf(err, errlen, "the Kafka job read %.0f of %llu records", valid,
                 (unsigned long long)a->expected);
        return -1;
    }
    *events = (uint64_t)valid;
    /* The job's own span: from its first message to its last processed batch. */
    double span = valid / a->job_eps;
    double wait = bench_summary_num(line, "poll_wait_sec");
    if (wait >= 0 && span > wait && a->n_wait < BENCH_MAX_RUNS + 1) {
        a->wait_share[a->n_wait] = wait / span;
        a->busy_eps[a->n_wait++] = valid / (span - wait);
    }
    return span;
}

/* The fetch path without the job: a librdkafka consumer with the properties weir's source
 * sets (kafka_source.c), the same batch size as the job, the topic's partitions assigned
 * from the beginning (no group join to wait for), and each payload's cache lines read, as
 * a decoder must. Timed from its first message to its last, as the job is. */
static volatile uint64_t plain_sink;

typedef struct plain_arm {
    const char *brokers;
    uint64_t expected;
    int round;
} plain_arm;

static double plain_run(void *opaque, uint64_t *events, char *err, size_t errlen)
{
    plain_arm *a = opaque;
    char group[96], why[512];
    snprintf(group, sizeof group, "weir-bench-plain-%d-%d", (int)getpid(), a->round++);
    const char *props[][2] = {
        {"bootstrap.servers", a->brokers},  {"group.id", group},
        {"queued.min.messages", "1000000"}, {"queued.max.messages.kbytes", "262144"},
        {"enable.auto.commit", "false"},    {"enable.auto.offset.store", "false"},
        {"enable.partition.eof", "false"},  {"client.id", "weir-bench-plain"},
    };
    rd_kafka_conf_t *c = rd_kafka_conf_new();
    for (size_t i = 0; i < sizeof props / sizeof props[0]; i++)
        if (rd_kafka_conf_set(c, props[i][0], props[i][1], why, sizeof why) != RD_KAFKA_CONF_OK) {
            rd_kafka_conf_destroy(c);
            snprintf(err, errlen, "plain consumer: %s", why);
            return -1;
        }
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, c, why, sizeof why);
    if (!rk) {
        rd_kafka_conf_destroy(c);
        snprintf(err, errlen, "plain consumer: %s", why);
        return -1;
    }
    rd_kafka_poll_set_consumer(rk);
    rd_kafka_queue_t *q = rd_kafka_queue_get_consumer(rk);
    rd_kafka_topic_partition_list_t *parts = rd_kafka_topic_partition_list_new(INPUT_PARTITIONS);
    for (int p = 0; p < INPUT_PARTITIONS; p++)
        rd_kafka_topic_partition_list_add(parts, "ecom-raw-events", p)->offset =
            RD_KAFKA_OFFSET_BEGINNING;
    rd_kafka_resp_err_t e = rd_kafka_assign(rk, parts);
    rd_kafka_topic_partition_list_destroy(parts);
    double t_first = 0, t_last = 0, last_msg = bench_now(), span = -1;
    uint64_t got = 0, touched = 0;
    enum { BATCH = 4096 };
    rd_kafka_message_t **b = malloc(BATCH * sizeof *b);
    if (e || !b) {
        snprintf(err, errlen, "plain consumer: %s", e ? rd_kafka_err2str(e) : "out of memory");
        goto out;
    }
    while (got < a->expected) {
        ssize_t n = rd_kafka_consume_batch_queue(q, 100, b, BATCH);
        double now = bench_now();
        for (ssize_t i = 0; i < n; i++) {
            if (!b[i]->err) {
                const unsigned char *pl = b[i]->payload;
                for (size_t k = 0; k < b[i]->len; k += 64)
                    touched += pl[k];
                got++;
            }
            rd_kafka_message_destroy(b[i]);
        }
        if (n > 0) {
            if (!t_first)
                t_first = now;
            t_last = bench_now();
            last_msg = now;
        } else if (now - last_msg > 10) {
            snprintf(err, errlen, "plain consumer: %llu of %llu messages, then nothing for 10 s",
                     (unsigned long long)got, (unsigned long long)a->expected);
            goto out;
        }
    }
    span = t_last - t_first;
    *events = got;
    plain_sink += touched; /* keeps the reads above */
out:
    free(b);
    rd_kafka_queue_destroy(q);
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
    return span;
}

static double median_of(const double *v, int n)
{
    double w[BENCH_MAX_RUNS + 1];
    memcpy(w, v, sizeof(double) * (size_t)n);
    for (int i = 1; i < n; i++)
        for (int k = i; k > 0 && w[k - 1] > w[k]; k--) {
            double t = w[k];
            w[k] = w[k - 1];
            w[k - 1] = t;
        }
    return w[n / 2];
}

int bench_kafka_e2e(bench_ctx *ctx)
{
    char broker_bin[512], job[512], logp[512], joblog[512];
    snprintf(broker_bin, sizeof broker_bin, "%s/weir-dev-broker", ctx->bindir);
    snprintf(job, sizeof job, "%s/unique-users", ctx->bindir);
    snprintf(logp, sizeof logp, "%s/broker.log", ctx->tmpdir);
    snprintf(joblog, sizeof joblog, "%s/unique-users.log", ctx->tmpdir);
    if (access(broker_bin, X_OK) != 0 || access(job, X_OK) != 0)
        return bench_skip(ctx, "%s or %s is not built", broker_bin, job);
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
    ja.job = job;
    ja.log = joblog;
    ja.brokers = brokers;
    ja.expected = lines.n;
    plain_arm pa = {brokers, lines.n, 0};
    bench_arm arms[3] = {
        BENCH_ARM("kafka-e2e (job)", job_run, &ja),
        BENCH_ARM("plain consumer", plain_run, &pa),
        BENCH_ARM("scan", bench_scan_run, file),
    };
    if (bench_measure(ctx, arms, 3) != 0)
        goto done;
    bench_report_main(ctx, &arms[0]);
    bench_report_vs_scan(ctx, &arms[0], &arms[2]);
    if (!ctx->main_only) {
        double ratio = bench_report_vs_peer(
            ctx, &arms[0], &arms[1],
            "plain librdkafka consumer of the same topic in weir-bench (weir's "
            "consumer properties, batches of 4096, each payload read, no processing)",
            3);
        bench_say("  the job reaches %.0f%% of what a plain consumer reads from the broker",
                  100 * ratio);
    }
    bench_json_str(&ctx->out, "job",
                   "unique-users --brokers --stop-when-idle 1s --drain (keyed: one pipeline "
                   "per partition), results to ecom-analytics-results");
    bench_json_str(&ctx->out, "peak_rss_of", "unique-users (the child process)");
    ctx->peak_rss = ja.peak_rss;
    bench_json_str(&ctx->out, "broker", "weir-dev-broker (librdkafka mock cluster), loopback");
    bench_json_u64(&ctx->out, "input_partitions", INPUT_PARTITIONS);
    bench_json_num(&ctx->out, "run_sec_last", ja.run_sec, 3);
    bench_json_u64(&ctx->out, "firings", ja.emissions);
    bench_json_u64(&ctx->out, "results_delivered", ja.delivered);
    /* How much of its active span the job's thread waited for messages: a job that is not
     * what limits the throughput waits; one that is waits for nothing. */
    if (ja.n_wait > 0) {
        double med = median_of(ja.wait_share, ja.n_wait);
        double busy = median_of(ja.busy_eps, ja.n_wait);
        bench_json_num(&ctx->out, "job_poll_wait_share_median", med, 3);
        bench_json_num(&ctx->out, "job_busy_events_per_sec_median", busy, 0);
        char b[32];
        bench_say("  the job's thread waited for messages %.0f%% of its active span (median of %d "
                  "runs, warm-up included); over the rest, its own work, it ran at %s",
                  med * 100, ja.n_wait, bench_fmt_rate(busy, b));
    }
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
