/* checkpoint: what a synchronous checkpoint costs at N live (product, user) pairs (default
 * 10^6, one open window): the snapshot, its size, a restore, its write to a checkpoint
 * directory and to a Kafka topic on the dev broker, and the share of time lost at 10 s. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"
#include "weir/checkpoint.h"
#include "weir/job.h"
#include "weir/kafka.h"
#include "weir/weir.h"

#define BATCH        4096
#define KEEP         3
#define KAFKA_PARTS  4
#define INTERVAL_SEC 10.0
#define KAFKA_TOPIC  "weir-bench-checkpoints"
#define KAFKA_STREAM "weir-bench/ecom-raw-events/0"
/* What librdkafka's mock broker keeps of each partition. */
#define MOCK_PARTITION_BYTES (5u << 20)

/* ---------------------------------------------------------------- exactly N distinct pairs */

/* The store's refusals, one line each, into the FILE given as `arg`. */
static void log_line(void *arg, weir_log_level level, const char *msg, const weir_log_field *fields,
                     size_t n_fields)
{
    (void)level;
    (void)fields;
    (void)n_fields;
    fprintf(arg, "%s\n", msg);
}

static uint64_t mix(uint64_t z)
{
    z = (z ^ (z >> 33)) * 0xFF51AFD7ED558CCDull;
    z = (z ^ (z >> 33)) * 0xC4CEB9FE1A85EC53ull;
    return z ^ (z >> 33);
}

/* Keeps the first event of each (product, user) of the generator's stream until `pairs`
 * are found, drawing more events when duplicates left too few. Every event time is moved
 * into the first window [start, start + size - 1 s) so that the watermark (which trails the
 * newest event by the out-of-orderness) never reaches its end and nothing fires. */
static int distinct_pairs(const bench_ctx *ctx, uint64_t pairs, int64_t size_ms, weir_gen_params *p,
                          weir_gen_event **out)
{
    for (uint64_t want = pairs + pairs / 8 + 1024;; want *= 2) {
        bench_gen_params(ctx, want, p);
        int64_t window0 = p->start_ms - p->start_ms % size_ms;
        int64_t span = size_ms - p->disorder_ms - 1000;
        if (span < 1000)
            return -1;
        p->start_ms = window0 + p->disorder_ms;
        /* Enough events per second of event time for all of them to fit in the span. */
        uint64_t rate = (want * 1000 + (uint64_t)span - 1) / (uint64_t)span;
        if (rate > p->rate)
            p->rate = (uint32_t)rate;
        size_t cap = 16;
        while (cap < want * 2)
            cap *= 2;
        weir_gen_event *g = malloc(want * sizeof *g);
        uint64_t *slots = calloc(cap, sizeof *slots);
        if (!g || !slots) {
            free(g);
            free(slots);
            return -1;
        }
        weir_gen_events(p, g);
        size_t k = 0;
        for (size_t i = 0; i < want && k < pairs; i++) {
            if (g[i].ts < window0 || g[i].ts >= window0 + size_ms - 1000) {
                free(g);
                free(slots);
                return -1;
            }
            /* +1: zero marks an empty slot. */
            uint64_t id = ((uint64_t)g[i].product << 32 | g[i].user) + 1;
            size_t s = mix(id) & (cap - 1);
            while (slots[s] && slots[s] != id)
                s = (s + 1) & (cap - 1);
            if (slots[s])
                continue;
            slots[s] = id;
            g[k++] = g[i];
        }
        free(slots);
        if (k == pairs) {
            p->events = pairs;
            *out = g;
            return 0;
        }
        free(g);
    }
}

/* The events as JSON lines of the generator's shape (without its metadata object), held in
 * one buffer, and the records that point into it. */
typedef struct records {
    char *buf;
    weir_record *recs;
    size_t n;
    size_t bytes;
} records;

static int make_records(const weir_gen_event *g, size_t n, records *r)
{
    static const char *const TYPES[] = {"VIEW_PRODUCT", "ADD_TO_CART", "PURCHASE", "WISHLIST"};
    memset(r, 0, sizeof *r);
    size_t cap = n * 128 + 1;
    r->buf = malloc(cap);
    r->recs = malloc((n ? n : 1) * sizeof *r->recs);
    if (!r->buf || !r->recs) {
        free(r->buf);
        free(r->recs);
        return -1;
    }
    size_t off = 0;
    for (size_t i = 0; i < n; i++) {
        char ts[40];
        weir_format_iso8601(g[i].ts, ts);
        int len = snprintf(r->buf + off, cap - off,
                           "{\"user_id\":\"u%u\",\"product_id\":\"%u\",\"event_type\":\"%s\","
                           "\"timestamp\":\"%s\"}",
                           g[i].user, g[i].product, TYPES[(g[i].user ^ g[i].product) % 4], ts);
        if (len < 0 || (size_t)len >= cap - off) {
            free(r->buf);
            free(r->recs);
            return -1;
        }
        r->recs[i] = (weir_record){NULL, (size_t)len, 0, (int64_t)off};
        off += (size_t)len + 1;
        r->buf[off - 1] = '\n';
    }
    for (size_t i = 0; i < n; i++)
        r->recs[i].data = r->buf + r->recs[i].offset;
    r->n = n;
    r->bytes = off;
    return 0;
}

/* ---------------------------------------------------------------- a sink that adds up */

typedef struct sum_sink {
    uint64_t firings, events, distinct;
} sum_sink;

static weir_err sum_firing(weir_sink *s, const weir_firing *f)
{
    sum_sink *k = weir_sink_impl(s);
    k->firings++;
    /* The job's aggregates: event_count, then unique_user_count. */
    if (f->n_values >= 2) {
        k->events += f->values[0];
        k->distinct += f->values[1];
    }
    return WEIR_OK;
}

static weir_err sum_record(weir_sink *s, weir_slice rec, int32_t partition)
{
    (void)s;
    (void)rec;
    (void)partition;
    return WEIR_OK;
}

static weir_err sum_flush(weir_sink *s, int timeout_ms)
{
    (void)s;
    (void)timeout_ms;
    return WEIR_OK;
}

static const weir_sink_ops SUM_OPS = {"bench-sum", sum_firing, sum_record, sum_flush, NULL, NULL};

/* ---------------------------------------------------------------- the arms */

typedef struct ckpt_bench {
    weir_conf *conf;
    const records *in;
    weir_pipeline *live; /* the newest build, which the snapshot arm snapshots */
    uint8_t *snap;       /* the newest snapshot */
    size_t snap_len;
    weir_ckpt_dir *dir;
    weir_kafka_ckpt *kafka;
    uint64_t kafka_seq;
    int32_t kafka_hint;
    char read_back[256]; /* whether the last Kafka checkpoint read back, or why not */
} ckpt_bench;

static weir_pipeline *new_pipeline(const ckpt_bench *b, weir_sink *sink, char *err, size_t errlen)
{
    weir_sink *sinks[1] = {sink};
    return weir_pipeline_new(b->conf, 1, sinks, sink ? 1 : 0, NULL, NULL, err, errlen);
}

static double build_run(void *opaque, uint64_t *events, char *err, size_t errlen)
{
    ckpt_bench *b = opaque;
    weir_pipeline *p = new_pipeline(b, NULL, err, errlen);
    if (!p)
        return -1;
    const records *in = b->in;
    int64_t wall = weir_wall_ms();
    weir_err rc = WEIR_OK;
    double t0 = bench_now();
    for (size_t i = 0; i < in->n && rc == WEIR_OK; i += BATCH)
        rc = weir_pipeline_push(p, in->recs + i, in->n - i < BATCH ? in->n - i : BATCH, wall);
    double secs = bench_now() - t0;
    weir_pipeline_stats st;
    weir_pipeline_stats_get(p, &st);
    if (rc != WEIR_OK || st.valid != in->n || st.window.accepted != in->n ||
        st.window.emissions != 0 || st.window.live_windows != 1) {
        snprintf(err, errlen,
                 "building the state: %s, %llu valid of %zu, %llu accepted, %llu firings, "
                 "%llu windows (want all valid and accepted, no firing, one window)",
                 weir_err_str(rc), (unsigned long long)st.valid, in->n,
                 (unsigned long long)st.window.accepted, (unsigned long long)st.window.emissions,
                 (unsigned long long)st.window.live_windows);
        weir_pipeline_destroy(p);
        return -1;
    }
    weir_pipeline_destroy(b->live);
    b->live = p;
    *events = in->n;
    return secs;
}

static double snapshot_run(void *opaque, uint64_t *events, char *err, size_t errlen)
{
    ckpt_bench *b = opaque;
    free(b->snap);
    b->snap = NULL;
    double t0 = bench_now();
    weir_err rc = weir_pipeline_snapshot(b->live, &b->snap, &b->snap_len);
    double secs = bench_now() - t0;
    if (rc != WEIR_OK) {
        b->snap = NULL;
        snprintf(err, errlen, "weir_pipeline_snapshot: %s", weir_err_str(rc));
        return -1;
    }
    *events = b->in->n;
    return secs;
}

static double restore_run(void *opaque, uint64_t *events, char *err, size_t errlen)
{
    ckpt_bench *b = opaque;
    weir_pipeline *p = new_pipeline(b, NULL, err, errlen);
    if (!p)
        return -1;
    char why[256] = "";
    double t0 = bench_now();
    weir_err rc = weir_pipeline_restore(p, b->snap, b->snap_len, why, sizeof why);
    double secs = bench_now() - t0;
    weir_pipeline_destroy(p);
    if (rc != WEIR_OK) {
        snprintf(err, errlen, "weir_pipeline_restore: %s", why);
        return -1;
    }
    *events = b->in->n;
    return secs;
}

static double dir_run(void *opaque, uint64_t *events, char *err, size_t errlen)
{
    ckpt_bench *b = opaque;
    double t0 = bench_now();
    weir_err rc = weir_ckpt_dir_write(b->dir, b->snap, b->snap_len, err, errlen);
    double secs = bench_now() - t0;
    if (rc != WEIR_OK)
        return -1;
    *events = b->in->n;
    return secs;
}

static double kafka_run(void *opaque, uint64_t *events, char *err, size_t errlen)
{
    ckpt_bench *b = opaque;
    /* Each checkpoint to the next partition: the mock broker keeps only the last 5 MiB of
     * each and does not compact. */
    b->kafka_hint = (b->kafka_hint + 1) % KAFKA_PARTS;
    double t0 = bench_now();
    weir_err rc = weir_kafka_ckpt_write(b->kafka, KAFKA_STREAM, b->kafka_hint, ++b->kafka_seq,
                                        b->snap, b->snap_len, err, errlen);
    if (rc == WEIR_OK)
        rc = weir_kafka_ckpt_flush(b->kafka, 60000, err, errlen);
    double secs = bench_now() - t0;
    if (rc != WEIR_OK)
        return -1;
    *events = b->in->n;
    return secs;
}

static double median_secs(const bench_arm *a)
{
    bench_stats s = bench_arm_stats(a);
    return (double)a->events / s.median;
}

/* ---------------------------------------------------------------- checks and Kafka */

/* The newest snapshot restored into a fresh pipeline and finished: its one window must fire
 * every product once, with N events and N distinct users in all. */
static int check_restore(bench_ctx *ctx, const ckpt_bench *b, uint64_t products)
{
    sum_sink sink;
    memset(&sink, 0, sizeof sink);
    char err[256] = "";
    weir_sink *s = weir_sink_new(&SUM_OPS, &sink, err, sizeof err);
    weir_pipeline *p = s ? new_pipeline(b, s, err, sizeof err) : NULL;
    if (!p) {
        weir_sink_destroy(s);
        return bench_fail(ctx, "pipeline: %s", err);
    }
    weir_err rc = weir_pipeline_restore(p, b->snap, b->snap_len, err, sizeof err);
    if (rc == WEIR_OK)
        rc = weir_pipeline_finish(p);
    weir_pipeline_destroy(p);
    weir_sink_destroy(s);
    if (rc != WEIR_OK)
        return bench_fail(ctx, "restore and finish: %s %s", weir_err_str(rc), err);
    if (sink.firings != products || sink.events != b->in->n || sink.distinct != b->in->n)
        return bench_fail(ctx,
                          "the restored state fired %llu windows (want %llu) with %llu events and "
                          "%llu distinct pairs (want %zu)",
                          (unsigned long long)sink.firings, (unsigned long long)products,
                          (unsigned long long)sink.events, (unsigned long long)sink.distinct,
                          b->in->n);
    bench_say("  check: the snapshot restored and finished fires %llu products with %llu events "
              "and %llu distinct (product, user)",
              (unsigned long long)sink.firings, (unsigned long long)sink.events,
              (unsigned long long)sink.distinct);
    return 0;
}

typedef struct same_payload {
    const uint8_t *want;
    size_t len;
    int seen;
} same_payload;

static weir_err accept_same(void *opaque, const uint8_t *payload, size_t len, char *err,
                            size_t errlen)
{
    same_payload *s = opaque;
    s->seen = 1;
    if (len != s->len || memcmp(payload, s->want, len) != 0) {
        snprintf(err, errlen, "the payload read back differs from the one written");
        return WEIR_ERR_CORRUPT;
    }
    return WEIR_OK;
}

/* Starts the dev broker with the checkpoint topic; returns its pid (0: not available, with
 * the reason in why) and its bootstrap address. */
static pid_t start_broker(bench_ctx *ctx, char *brokers, size_t size, char *why, size_t whylen)
{
    char bin[300], logp[300], topic[128];
    snprintf(bin, sizeof bin, "%s/weir-dev-broker", ctx->bindir);
    snprintf(logp, sizeof logp, "%s/broker.log", ctx->tmpdir);
    snprintf(topic, sizeof topic, "%s:%d", KAFKA_TOPIC, KAFKA_PARTS);
    if (access(bin, X_OK) != 0) {
        snprintf(why, whylen, "%s is not built", bin);
        return 0;
    }
    char *argv[] = {bin, "--topic", topic, "--quiet", NULL};
    pid_t pid = bench_spawn(argv, logp);
    brokers[0] = '\0';
    /* Its first line is the bootstrap address. */
    for (int i = 0; i < 500 && pid > 0 && !brokers[0]; i++) {
        FILE *f = fopen(logp, "r");
        if (f) {
            if (!fgets(brokers, (int)size, f) || !strchr(brokers, '\n'))
                brokers[0] = '\0';
            fclose(f);
        }
        brokers[strcspn(brokers, "\n")] = '\0';
        if (!brokers[0])
            usleep(20000);
    }
    if (pid <= 0 || !strchr(brokers, ':')) {
        if (pid > 0)
            bench_stop(pid, 1000);
        snprintf(why, whylen, "the dev broker did not start (log %s)", logp);
        return 0;
    }
    return pid;
}

/* Kafka arm: open the store, measure, read the last checkpoint back. Returns 0 with the
 * median seconds in *secs (negative: skipped, reason in why), or -1 with ctx->failed. */
static int kafka_part(bench_ctx *ctx, ckpt_bench *b, double *secs, char *why, size_t whylen)
{
    *secs = -1;
    char brokers[256];
    pid_t pid = start_broker(ctx, brokers, sizeof brokers, why, whylen);
    if (!pid)
        return 0;
    int rc = -1;
    char err[512] = "";
    weir_conf *kc = weir_conf_new();
    if (!kc || weir_conf_set(kc, "brokers", brokers, err, sizeof err) != WEIR_OK) {
        bench_fail(ctx, "brokers: %s", err);
        goto done;
    }
    if (weir_kafka_ckpt_open(kc, KAFKA_TOPIC, KEEP, KAFKA_PARTS, NULL, &b->kafka, err,
                             sizeof err) != WEIR_OK) {
        bench_fail(ctx, "weir_kafka_ckpt_open: %s", err);
        goto done;
    }
    bench_arm arm = BENCH_ARM("kafka write+flush", kafka_run, b);
    if (bench_measure(ctx, &arm, 1) != 0)
        goto done;
    *secs = median_secs(&arm);
    /* The last checkpoint must read back whole: the write was real. */
    same_payload sp = {b->snap, b->snap_len, 0};
    char *logbuf = NULL;
    size_t loglen = 0;
    FILE *log = open_memstream(&logbuf, &loglen);
    weir_err lrc = weir_kafka_ckpt_load(b->kafka, KAFKA_STREAM, b->kafka_hint, accept_same, &sp,
                                        NULL, log_line, log ? log : stderr, err, sizeof err);
    if (log)
        fclose(log);
    size_t chunks = (b->snap_len + 512 * 1024 - 1) / (512 * 1024);
    if (lrc == WEIR_OK) {
        snprintf(b->read_back, sizeof b->read_back, "yes");
        bench_say("  check: the last Kafka checkpoint (%zu chunks of <= 512 KiB + manifest) "
                  "reads back byte for byte",
                  chunks);
    } else if (b->snap_len + chunks * 64 > MOCK_PARTITION_BYTES) {
        /* What the mock broker cannot hold is no fault of the store: say so, keep the
         * timing (the writes were acknowledged). */
        snprintf(b->read_back, sizeof b->read_back,
                 "no: the mock broker keeps the last 5 MiB of a partition and the checkpoint "
                 "(%zu chunks) is larger; its first chunks are gone",
                 chunks);
        bench_say("  check skipped: %s", b->read_back);
    } else {
        bench_fail(ctx, "reading the last Kafka checkpoint back: %s (%s) %s", weir_err_str(lrc),
                   err, logbuf ? logbuf : "");
        free(logbuf);
        goto done;
    }
    free(logbuf);
    rc = 0;
done:
    weir_kafka_ckpt_close(b->kafka);
    b->kafka = NULL;
    weir_conf_destroy(kc);
    bench_stop(pid, 3000);
    return rc;
}

/* ---------------------------------------------------------------- the scenario */

static double cost_pct(double ckpt_secs)
{
    return 100.0 * ckpt_secs / (INTERVAL_SEC + ckpt_secs);
}

int bench_checkpoint(bench_ctx *ctx)
{
    const uint64_t pairs = ctx->events;
    ckpt_bench b;
    memset(&b, 0, sizeof b);
    char err[512] = "";
    if (!(b.conf = weir_conf_new()))
        return bench_fail(ctx, "out of memory");
    int64_t size_ms = weir_conf_get_duration_ms(b.conf, "window.size");

    double t0 = bench_now();
    weir_gen_params p;
    weir_gen_event *g = NULL;
    records in;
    if (distinct_pairs(ctx, pairs, size_ms, &p, &g) != 0) {
        weir_conf_destroy(b.conf);
        return bench_fail(ctx, "cannot generate %llu distinct pairs in one window",
                          (unsigned long long)pairs);
    }
    /* Products present, for the restore check (one firing each), and distinct users: the
     * window's dictionary holds one entry per user, which weighs on the snapshot. */
    uint64_t products = 0, users = 0;
    uint8_t *seen = calloc(p.products, 1), *seen_user = calloc(p.users, 1);
    for (size_t i = 0; seen && seen_user && i < pairs; i++) {
        if (!seen[g[i].product]) {
            seen[g[i].product] = 1;
            products++;
        }
        if (!seen_user[g[i].user]) {
            seen_user[g[i].user] = 1;
            users++;
        }
    }
    free(seen);
    free(seen_user);
    int mrc = make_records(g, pairs, &in);
    free(g);
    if (mrc != 0 || !products) {
        weir_conf_destroy(b.conf);
        return bench_fail(ctx, "out of memory preparing %llu records", (unsigned long long)pairs);
    }
    b.in = &in;
    bench_say("  prepared %llu JSON records, each a new (product, user) of one open window "
              "(%llu products, Zipf %.1f; %llu distinct users of %u), %.1f MB, in %.2f s (not "
              "timed)",
              (unsigned long long)pairs, (unsigned long long)products, p.zipf_s,
              (unsigned long long)users, p.users, (double)in.bytes / 1e6, bench_now() - t0);

    int rc = -1;
    char dirpath[300];
    snprintf(dirpath, sizeof dirpath, "%s/checkpoints", ctx->tmpdir);
    if (weir_ckpt_dir_open(dirpath, KEEP, &b.dir, err, sizeof err) != WEIR_OK) {
        bench_fail(ctx, "weir_ckpt_dir_open: %s", err);
        goto done;
    }
    /* Interleaved: each build replaces the state the next snapshot takes, and the restore
     * and the write use that snapshot. */
    bench_arm arms[4] = {
        BENCH_ARM("build (JSON pipeline)", build_run, &b),
        BENCH_ARM("snapshot", snapshot_run, &b),
        BENCH_ARM("restore", restore_run, &b),
        BENCH_ARM("checkpoint dir write", dir_run, &b),
    };
    if (bench_measure(ctx, arms, ctx->main_only ? 2 : 4) != 0)
        goto done;
    bench_report_main(ctx, &arms[0]);
    if (ctx->main_only) {
        rc = 0;
        goto done;
    }
    weir_pipeline_stats st;
    weir_pipeline_stats_get(b.live, &st);
    double snap_s = median_secs(&arms[1]), restore_s = median_secs(&arms[2]),
           dir_s = median_secs(&arms[3]);
    if (check_restore(ctx, &b, products) != 0)
        goto done;

    double kafka_s = -1;
    char why[768] = "";
    if (kafka_part(ctx, &b, &kafka_s, why, sizeof why) != 0)
        goto done;

    double cost = cost_pct(snap_s + dir_s);
    bench_json_u64(&ctx->out, "pairs", pairs);
    bench_json_u64(&ctx->out, "products", products);
    bench_json_u64(&ctx->out, "users", users);
    bench_json_u64(&ctx->out, "state_bytes", st.window.state_bytes);
    bench_json_u64(&ctx->out, "snapshot_bytes", b.snap_len);
    bench_json_num(&ctx->out, "snapshot_bytes_per_pair", (double)b.snap_len / (double)pairs, 2);
    bench_json_num(&ctx->out, "snapshot_sec", snap_s, 4);
    bench_json_num(&ctx->out, "restore_sec", restore_s, 4);
    bench_json_num(&ctx->out, "dir_write_sec", dir_s, 4);
    if (kafka_s >= 0)
        bench_json_num(&ctx->out, "kafka_write_sec", kafka_s, 4);
    else
        bench_json_raw(&ctx->out, "kafka_write_sec", "null");
    bench_json_num(&ctx->out, "interval_sec", INTERVAL_SEC, 0);
    bench_json_num(&ctx->out, "cost_at_10s", cost, 3);
    if (kafka_s >= 0)
        bench_json_num(&ctx->out, "cost_at_10s_kafka", cost_pct(snap_s + kafka_s), 3);
    else
        bench_json_raw(&ctx->out, "cost_at_10s_kafka", "null");
    if (why[0])
        bench_json_str(&ctx->out, "kafka_skipped", why);
    if (b.read_back[0])
        bench_json_str(&ctx->out, "kafka_read_back", b.read_back);
    bench_json_u64(&ctx->out, "kafka_partitions", KAFKA_PARTS);
    bench_json_u64(&ctx->out, "batch", BATCH);

    bench_say("  state %llu bytes (%.2f per pair); snapshot %llu bytes = %.2f MB (%.2f bytes "
              "per pair, zstd)",
              (unsigned long long)st.window.state_bytes,
              (double)st.window.state_bytes / (double)pairs, (unsigned long long)b.snap_len,
              (double)b.snap_len / 1e6, (double)b.snap_len / (double)pairs);
    bench_say("  medians: snapshot %.4f s, restore %.4f s, checkpoint dir write (fsync, rename) "
              "%.4f s%s",
              snap_s, restore_s, dir_s, kafka_s >= 0 ? "" : "; Kafka skipped");
    if (kafka_s >= 0)
        bench_say("  Kafka store write + flush to the dev broker (%d partitions): %.4f s",
                  KAFKA_PARTS, kafka_s);
    else
        bench_say("  Kafka skipped: %s", why);
    bench_say("  cost of a checkpoint every %.0f s: file %.2f%% of the time (snapshot + dir "
              "write = %.4f s)",
              INTERVAL_SEC, cost, snap_s + dir_s);
    if (kafka_s >= 0)
        bench_say("  cost of a checkpoint every %.0f s: Kafka %.2f%% of the time (snapshot + "
                  "write + flush = %.4f s)",
                  INTERVAL_SEC, cost_pct(snap_s + kafka_s), snap_s + kafka_s);
    rc = 0;
done:
    weir_ckpt_dir_close(b.dir);
    weir_pipeline_destroy(b.live);
    free(b.snap);
    free(in.buf);
    free(in.recs);
    weir_conf_destroy(b.conf);
    return rc;
}
