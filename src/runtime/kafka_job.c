/* The job's Kafka mode: a consumer-group source feeding one pipeline per partition (keyed
 * input) or one over all partitions (global), Kafka and extra sinks, offset commits after
 * the sinks are flushed, rebalances, clean stops and the summary line. */
#include "weir/kafka.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "weir/job.h"
#include "weir/pipeline.h"

#define TICK_MS         100
#define COMMIT_FLUSH_MS 1000  /* a periodic commit waits this long for the sinks, else waits */
#define STOP_FLUSH_MS   60000 /* at the stop, how long undelivered results are waited for */

typedef struct job {
    const weir_conf *conf;
    int keyed;
    weir_agg_spec aggs[WEIR_MAX_AGGS];
    size_t n_aggs;
    int hll_precision;
    const char *key_field;

    weir_sink *results;     /* owned; NULL when output.topic is empty */
    weir_sink *dead_letter; /* owned: Kafka (dead.letter.topic) or file (dead.letter.path) */
    weir_sink *late;        /* owned: file (late.output.path) */
    weir_sink **sinks;      /* what the pipelines write firings to: results + extras */
    size_t n_sinks;

    weir_kafka_source *src;

    /* Keyed mode: one pipeline per Kafka partition, indexed by partition number. */
    weir_pipeline **by_part;
    int n_by_part;

    /* Global mode: one pipeline; Kafka partition -> pipeline partition index. */
    weir_pipeline *global;
    int *slot_of; /* indexed by Kafka partition, -1 when not assigned */
    int n_slot_of;
    int32_t *slots; /* Kafka partition of each pipeline index */
    int n_slots;
    int global_parts; /* the pipeline's current partition count */

    weir_pipeline_stats gone; /* counters of pipelines already destroyed */
    int partitions_seen;
    uint64_t *seen_bits; /* which partitions were ever assigned */
    int n_seen_bits;

    weir_record *recs;
    size_t recs_cap;

    int rc; /* exit code once something failed */
    char reason[512];
} job;

static void fail(job *j, int rc, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void fail(job *j, int rc, const char *fmt, ...)
{
    if (j->rc)
        return;
    j->rc = rc;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(j->reason, sizeof j->reason, fmt, ap);
    va_end(ap);
}

static void destroy_pipeline(job *j, weir_pipeline *p)
{
    if (!p)
        return;
    weir_pipeline_stats s;
    weir_pipeline_stats_get(p, &s);
    /* A destroyed pipeline's live state is gone: count what it did, not what it held. */
    s.window.live_windows = s.window.live_keys = s.window.state_bytes = 0;
    weir_pipeline_stats_add(&j->gone, &s);
    weir_pipeline_destroy(p);
}

static weir_pipeline *new_pipeline(job *j, int partitions)
{
    char why[256] = "";
    weir_pipeline *p = weir_pipeline_new(j->conf, partitions, j->sinks, j->n_sinks, j->late,
                                         j->dead_letter, why, sizeof why);
    if (!p)
        fail(j, 2, "cannot create a pipeline: %s", why);
    return p;
}

static void note_seen(job *j, int32_t p)
{
    int word = p / 64;
    if (word >= j->n_seen_bits) {
        int n = word + 1;
        uint64_t *nb = realloc(j->seen_bits, (size_t)n * sizeof *nb);
        if (!nb)
            return;
        memset(nb + j->n_seen_bits, 0, (size_t)(n - j->n_seen_bits) * sizeof *nb);
        j->seen_bits = nb;
        j->n_seen_bits = n;
    }
    if (!(j->seen_bits[word] & (1ull << (p % 64)))) {
        j->seen_bits[word] |= 1ull << (p % 64);
        j->partitions_seen++;
    }
}

/* Flushes every sink; returns WEIR_OK when everything produced so far is delivered. */
static weir_err flush_sinks(job *j, int timeout_ms)
{
    weir_err worst = WEIR_OK;
    for (size_t i = 0; i < j->n_sinks; i++) {
        weir_err e = weir_sink_flush(j->sinks[i], timeout_ms);
        if (e && e != WEIR_ERR_TIMEOUT) {
            fail(j, 1, "sink %s failed: %s", j->sinks[i]->ops->name,
                 weir_sink_error(j->sinks[i])[0] ? weir_sink_error(j->sinks[i]) : weir_err_str(e));
            return e;
        }
        if (e)
            worst = e;
    }
    weir_sink *side[2] = {j->dead_letter, j->late};
    for (int i = 0; i < 2; i++) {
        weir_err e = weir_sink_flush(side[i], timeout_ms);
        if (e && e != WEIR_ERR_TIMEOUT) {
            fail(j, 1, "side-output sink failed: %s", weir_sink_error(side[i]));
            return e;
        }
        if (e)
            worst = e;
    }
    return worst;
}

/* Commits the processed offsets of `parts` (NULL: all), after the sinks have delivered
 * everything those records caused. */
static void commit(job *j, const int32_t *parts, size_t n, int flush_ms, int sync)
{
    if (j->rc)
        return; /* a failed sink lost results: keep the committed offsets where they are */
    if (flush_sinks(j, flush_ms) != WEIR_OK)
        return; /* not delivered yet (or failed): commit later */
    char why[256];
    if (weir_kafka_source_commit(j->src, parts, n, sync, why, sizeof why) != WEIR_OK)
        fprintf(stderr, "weir: %s (retried at the next commit)\n", why);
}

/* ------------------------------------------------------------------ global mode */

static int cmp_i32(const void *a, const void *b)
{
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    return (x > y) - (x < y);
}

/*
 * Maps the assigned Kafka partitions onto pipeline indices 0..n-1 (sorted by partition
 * number, except that index 0 stays with the partition it had when that one is still
 * assigned). An index whose partition changes restarts at minus infinity: the combined
 * watermark holds (it never moves back) until that partition has shown its progress.
 */
static void global_remap(job *j, const int32_t *assigned, int n)
{
    int32_t keep0 = j->n_slots > 0 ? j->slots[0] : -1;
    int32_t *ns = malloc(sizeof(int32_t) * (size_t)(n ? n : 1));
    if (!ns) {
        fail(j, 1, "out of memory");
        return;
    }
    memcpy(ns, assigned, sizeof(int32_t) * (size_t)n);
    qsort(ns, (size_t)n, sizeof *ns, cmp_i32);
    for (int i = 1; i < n && keep0 >= 0; i++)
        if (ns[i] == keep0) {
            memmove(ns + 1, ns, sizeof(int32_t) * (size_t)i);
            ns[0] = keep0;
            break;
        }
    int changed = n != j->n_slots || (n && memcmp(ns, j->slots, sizeof(int32_t) * (size_t)n));
    /* Indices whose partition changes restart at minus infinity (below). */
    uint8_t *moved = calloc((size_t)(n ? n : 1), 1);
    if (!moved) {
        free(ns);
        fail(j, 1, "out of memory");
        return;
    }
    for (int i = 0; i < n; i++)
        moved[i] = i >= j->n_slots || j->slots[i] != ns[i];
    free(j->slots);
    j->slots = ns;
    j->n_slots = n;
    for (int i = 0; i < j->n_slot_of; i++)
        j->slot_of[i] = -1;
    for (int i = 0; i < n; i++) {
        if (ns[i] >= j->n_slot_of) {
            int m = ns[i] + 1;
            int *nb = realloc(j->slot_of, (size_t)m * sizeof *nb);
            if (!nb) {
                free(moved);
                fail(j, 1, "out of memory");
                return;
            }
            for (int k = j->n_slot_of; k < m; k++)
                nb[k] = -1;
            j->slot_of = nb;
            j->n_slot_of = m;
        }
        j->slot_of[ns[i]] = i;
    }
    if (n == 0 || !j->global || !changed) {
        /* n == 0 keeps the pipeline and its windows until partitions come back. */
        if (n && !j->global) {
            j->global = new_pipeline(j, n);
            j->global_parts = n;
        }
        free(moved);
        return;
    }
    weir_window_op *op = weir_pipeline_operator(j->global);
    if (weir_window_op_set_partitions(op, n) != WEIR_OK)
        fail(j, 1, "cannot change the pipeline's partitions");
    for (int i = 0; i < n; i++)
        if (moved[i])
            weir_window_op_reset_partition(op, i);
    free(moved);
    j->global_parts = n;
}

static void global_assigned(job *j, const int32_t *parts, size_t n)
{
    int32_t *all = malloc(sizeof(int32_t) * ((size_t)j->n_slots + n));
    if (!all) {
        fail(j, 1, "out of memory");
        return;
    }
    int m = 0;
    for (int i = 0; i < j->n_slots; i++)
        all[m++] = j->slots[i];
    for (size_t i = 0; i < n; i++) {
        int dup = 0;
        for (int k = 0; k < m; k++)
            dup |= all[k] == parts[i];
        if (!dup)
            all[m++] = parts[i];
    }
    global_remap(j, all, m);
    free(all);
}

static void global_revoked(job *j, const int32_t *parts, size_t n)
{
    int32_t *rest = malloc(sizeof(int32_t) * ((size_t)j->n_slots + 1));
    if (!rest) {
        fail(j, 1, "out of memory");
        return;
    }
    int m = 0;
    for (int i = 0; i < j->n_slots; i++) {
        int gone = 0;
        for (size_t k = 0; k < n; k++)
            gone |= j->slots[i] == parts[k];
        if (!gone)
            rest[m++] = j->slots[i];
    }
    global_remap(j, rest, m);
    free(rest);
}

/* ------------------------------------------------------------------ rebalances */

static void print_parts(const char *what, const int32_t *parts, size_t n)
{
    fprintf(stderr, "weir: %s partitions", what);
    for (size_t i = 0; i < n; i++)
        fprintf(stderr, "%s%d", i ? "," : " ", (int)parts[i]);
    fputc('\n', stderr);
}

static void on_assigned(void *opaque, const int32_t *parts, size_t n)
{
    job *j = opaque;
    print_parts("assigned", parts, n);
    for (size_t i = 0; i < n; i++)
        note_seen(j, parts[i]);
    if (!j->keyed) {
        global_assigned(j, parts, n);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        int32_t p = parts[i];
        if (p >= j->n_by_part) {
            int m = p + 1;
            weir_pipeline **nb = realloc(j->by_part, (size_t)m * sizeof *nb);
            if (!nb) {
                fail(j, 1, "out of memory");
                return;
            }
            memset(nb + j->n_by_part, 0, (size_t)(m - j->n_by_part) * sizeof *nb);
            j->by_part = nb;
            j->n_by_part = m;
        }
        if (!j->by_part[p])
            j->by_part[p] = new_pipeline(j, 1);
    }
}

static void on_revoked(void *opaque, const int32_t *parts, size_t n, int lost)
{
    job *j = opaque;
    print_parts(lost ? "lost" : "revoked", parts, n);
    /* Results of the revoked partitions are delivered and their offsets committed while
     * they are still ours; a lost assignment cannot commit any more. Unfired windows are
     * dropped, not emitted: the partition's new owner rebuilds them only from records
     * after the committed offset (issue #6 moves state with checkpoints). */
    if (!lost)
        commit(j, parts, n, STOP_FLUSH_MS, 1);
    if (!j->keyed) {
        global_revoked(j, parts, n);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        int32_t p = parts[i];
        if (p >= 0 && p < j->n_by_part) {
            destroy_pipeline(j, j->by_part[p]);
            j->by_part[p] = NULL;
        }
    }
}

/* ------------------------------------------------------------------ the loop */

static int ensure_recs(job *j, size_t n)
{
    if (n <= j->recs_cap)
        return 0;
    weir_record *nr = realloc(j->recs, n * sizeof *nr);
    if (!nr)
        return -1;
    j->recs = nr;
    j->recs_cap = n;
    return 0;
}

static void push_failed(job *j, weir_err e)
{
    const char *why = "";
    for (size_t i = 0; i < j->n_sinks; i++)
        if (weir_sink_error(j->sinks[i])[0])
            why = weir_sink_error(j->sinks[i]);
    if (!why[0] && weir_sink_error(j->dead_letter)[0])
        why = weir_sink_error(j->dead_letter);
    fail(j, 1, "pipeline stopped: %s", why[0] ? why : weir_err_str(e));
}

static void process(job *j, const weir_kafka_msg *m, size_t n, int64_t now)
{
    if (ensure_recs(j, n) != 0) {
        fail(j, 1, "out of memory");
        return;
    }
    if (!j->keyed) {
        size_t k = 0;
        for (size_t i = 0; i < n; i++) {
            int slot = m[i].partition < j->n_slot_of ? j->slot_of[m[i].partition] : -1;
            if (slot < 0)
                continue;
            j->recs[k++] = (weir_record){m[i].data, m[i].len, slot, m[i].offset};
        }
        if (!j->global || !k)
            return;
        weir_err e = weir_pipeline_push(j->global, j->recs, k, now);
        if (e) {
            push_failed(j, e);
            return;
        }
        for (size_t i = 0; i < n; i++)
            weir_kafka_source_processed(j->src, m[i].partition, m[i].offset);
        return;
    }
    /* Keyed: messages come in runs of one partition (a fetched batch each). */
    for (size_t i = 0; i < n && !j->rc;) {
        int32_t p = m[i].partition;
        size_t end = i;
        while (end < n && m[end].partition == p)
            end++;
        weir_pipeline *pl = p < j->n_by_part ? j->by_part[p] : NULL;
        if (pl) {
            for (size_t k = i; k < end; k++)
                j->recs[k - i] = (weir_record){m[k].data, m[k].len, 0, m[k].offset};
            weir_err e = weir_pipeline_push(pl, j->recs, end - i, now);
            if (e) {
                push_failed(j, e);
                return;
            }
            weir_kafka_source_processed(j->src, p, m[end - 1].offset);
        }
        i = end;
    }
}

static void tick_all(job *j, int64_t now)
{
    weir_err e = WEIR_OK;
    /* Idleness starts counting only once every partition has begun to deliver: one whose
     * first fetch is merely slow is not idle, and treating it so would make its first
     * records late. */
    if (j->global && weir_kafka_source_started(j->src))
        e = weir_pipeline_tick(j->global, now);
    for (int p = 0; p < j->n_by_part && !e; p++)
        if (j->by_part[p])
            e = weir_pipeline_tick(j->by_part[p], now);
    if (e)
        push_failed(j, e);
}

static void poll_sinks(job *j)
{
    for (size_t i = 0; i < j->n_sinks; i++) {
        weir_err e = weir_sink_poll(j->sinks[i]);
        if (e) {
            push_failed(j, e);
            return;
        }
    }
    if (weir_sink_poll(j->dead_letter) || weir_sink_poll(j->late))
        push_failed(j, WEIR_ERR_IO);
}

static void finish_all(job *j)
{
    weir_err e = WEIR_OK;
    if (j->global && j->n_slots > 0)
        e = weir_pipeline_finish(j->global);
    for (int p = 0; p < j->n_by_part && !e; p++)
        if (j->by_part[p])
            e = weir_pipeline_finish(j->by_part[p]);
    if (e)
        push_failed(j, e);
}

static void summary(job *j, FILE *out, double elapsed, double active, const char *stopped_by)
{
    weir_pipeline_stats s = j->gone;
    if (j->global) {
        weir_pipeline_stats g;
        weir_pipeline_stats_get(j->global, &g);
        weir_pipeline_stats_add(&s, &g);
    }
    for (int p = 0; p < j->n_by_part; p++)
        if (j->by_part[p]) {
            weir_pipeline_stats g;
            weir_pipeline_stats_get(j->by_part[p], &g);
            weir_pipeline_stats_add(&s, &g);
        }
    weir_kafka_source_stats ss = {0};
    if (j->src)
        weir_kafka_source_stats_get(j->src, &ss);
    weir_kafka_sink_stats rs, ds;
    weir_kafka_sink_stats_get(j->results, &rs);
    weir_kafka_sink_stats_get(j->dead_letter, &ds);

    /* elapsed_sec (and so events_per_sec) is the span from the first message to the end of
     * the last batch's processing: joining the group and waiting for input do not count.
     * run_sec is the whole run. */
    char extra[1024];
    snprintf(extra, sizeof extra,
             ",\"mode\":\"kafka\",\"run_sec\":%.3f,\"open_windows\":%" PRIu64
             ",\"partitions\":%d,\"stopped_by\":\"%s\",\"kafka\":{\"messages\":%" PRIu64
             ",\"bytes\":%" PRIu64 ",\"rebalances\":%" PRIu64 ",\"commits\":%" PRIu64
             ",\"commit_errors\":%" PRIu64 ",\"consumer_errors\":%" PRIu64 ",\"produced\":%" PRIu64
             ",\"delivered\":%" PRIu64 ",\"delivery_failures\":%" PRIu64
             ",\"dead_letters\":%" PRIu64 "}",
             elapsed, s.window.live_windows, j->partitions_seen, stopped_by, ss.messages, ss.bytes,
             ss.rebalances, ss.commits, ss.commit_errors, ss.errors, rs.produced, rs.delivered,
             rs.failed + ds.failed, ds.delivered);
    weir_job_write_summary(out, &s, active, extra);
}

static int setup(job *j, weir_sink *const *extra, size_t n_extra)
{
    char why[512] = "";
    const weir_conf *conf = j->conf;
    j->keyed = weir_conf_get_bool(conf, "input.keyed") && !weir_conf_get_bool(conf, "global");
    j->n_aggs = weir_aggs_from_conf(conf, j->aggs, &j->hll_precision);
    j->key_field = weir_conf_get_bool(conf, "global") ? NULL : weir_conf_get(conf, "key.field");

    j->sinks = calloc(n_extra + 1, sizeof *j->sinks);
    if (!j->sinks) {
        fail(j, 1, "out of memory");
        return -1;
    }
    const char *out_topic = weir_conf_get(conf, "output.topic");
    if (out_topic && *out_topic) {
        j->results =
            weir_kafka_sink_new(conf, out_topic, j->key_field, j->aggs, j->n_aggs, why, sizeof why);
        if (!j->results) {
            fail(j, 2, "%s", why);
            return -1;
        }
        j->sinks[j->n_sinks++] = j->results;
    }
    for (size_t i = 0; i < n_extra; i++)
        if (extra[i])
            j->sinks[j->n_sinks++] = extra[i];

    const char *dlt = weir_conf_get(conf, "dead.letter.topic");
    const char *dlp = weir_conf_get(conf, "dead.letter.path");
    if (dlt && *dlt)
        j->dead_letter = weir_kafka_sink_new(conf, dlt, NULL, NULL, 0, why, sizeof why);
    else if (dlp && *dlp)
        j->dead_letter = weir_file_sink_new(dlp, NULL, NULL, 0, why, sizeof why);
    if (((dlt && *dlt) || (dlp && *dlp)) && !j->dead_letter) {
        fail(j, (dlt && *dlt) ? 2 : 1, "dead letters: %s", why);
        return -1;
    }
    const char *late = weir_conf_get(conf, "late.output.path");
    if (late && *late && !(j->late = weir_file_sink_new(late, NULL, NULL, 0, why, sizeof why))) {
        fail(j, 1, "late output: %s", why);
        return -1;
    }

    /* A pipeline made here, before any assignment, checks the configuration early
     * instead of at the first rebalance. */
    weir_pipeline *probe =
        weir_pipeline_new(conf, 1, j->sinks, j->n_sinks, j->late, j->dead_letter, why, sizeof why);
    if (!probe) {
        fail(j, 2, "%s", why);
        return -1;
    }
    weir_pipeline_destroy(probe);

    weir_kafka_rebalance_cbs cbs = {on_assigned, on_revoked};
    j->src = weir_kafka_source_new(conf, &cbs, j, why, sizeof why);
    if (!j->src) {
        fail(j, 2, "%s", why);
        return -1;
    }
    return 0;
}

static void teardown(job *j)
{
    weir_kafka_source_destroy(j->src);
    j->src = NULL;
    destroy_pipeline(j, j->global);
    j->global = NULL;
    for (int p = 0; p < j->n_by_part; p++)
        destroy_pipeline(j, j->by_part[p]);
    free(j->by_part);
    weir_sink_destroy(j->results);
    weir_sink_destroy(j->dead_letter);
    weir_sink_destroy(j->late);
    free(j->sinks);
    free(j->slot_of);
    free(j->slots);
    free(j->seen_bits);
    free(j->recs);
}

typedef struct interval_ctx {
    int64_t ms;
} interval_ctx;

static void read_interval(void *opaque, const char *name, const char *value)
{
    interval_ctx *c = opaque;
    if (strcmp(name, "auto.commit.interval.ms") == 0 && atoll(value) > 0)
        c->ms = atoll(value);
}

int weir_kafka_job_run(const weir_conf *conf, weir_sink *const *extra_sinks, size_t n_extra,
                       int stop_when_idle_ms, int drain, volatile sig_atomic_t *stop,
                       FILE *summary_out)
{
    job j;
    memset(&j, 0, sizeof j);
    j.conf = conf;
    double t0 = weir_mono_sec(), t_first = 0, t_last = 0;

    if (setup(&j, extra_sinks, n_extra) != 0) {
        fprintf(stderr, "weir: %s\n", j.reason);
        int rc = j.rc;
        teardown(&j);
        return rc;
    }
    interval_ctx ic = {5000};
    weir_conf_foreach_prefix(conf, "kafka.", read_interval, &ic);
    fprintf(stderr, "weir: kafka mode: %s -> %s%s, group %s, brokers %s, %s\n",
            weir_conf_get(conf, "input.topic"),
            j.results ? weir_conf_get(conf, "output.topic") : "(no output topic)",
            n_extra ? " + extra sinks" : "", weir_conf_get(conf, "group.id"),
            weir_conf_get(conf, "brokers"),
            j.keyed ? "one pipeline per partition" : "one pipeline over all partitions");

    size_t batch = (size_t)weir_conf_get_int(conf, "input.batch.records");
    weir_kafka_msg *msgs = malloc(batch * sizeof *msgs);
    if (!msgs) {
        teardown(&j);
        return 1;
    }
    int64_t now = weir_wall_ms(), last_tick = now, last_commit = now, last_msg = now;
    const char *stopped_by = "signal";
    uint64_t errors_seen = 0;
    while (!j.rc) {
        if (stop && *stop)
            break;
        weir_err perr = WEIR_OK;
        size_t n = weir_kafka_source_poll(j.src, msgs, batch, TICK_MS, &perr);
        now = weir_wall_ms();
        if (perr == WEIR_ERR_FATAL) {
            fail(&j, 1, "the Kafka consumer failed for good");
            break;
        }
        /* A consumer error (a broker away, say) means the end of a partition seen before
         * may be stale: the drained-input countdown starts again. */
        weir_kafka_source_stats ss;
        weir_kafka_source_stats_get(j.src, &ss);
        if (ss.errors != errors_seen) {
            errors_seen = ss.errors;
            last_msg = now;
        }
        if (n) {
            if (!t_first)
                t_first = weir_mono_sec();
            last_msg = now;
            process(&j, msgs, n, now);
            t_last = weir_mono_sec();
        }
        if (now - last_tick >= TICK_MS) {
            tick_all(&j, now);
            last_tick = now;
        }
        poll_sinks(&j);
        if (j.rc)
            break;
        if (now - last_commit >= ic.ms) {
            commit(&j, NULL, 0, COMMIT_FLUSH_MS, 0);
            last_commit = now;
        }
        if (stop_when_idle_ms > 0 && now - last_msg >= stop_when_idle_ms &&
            weir_kafka_source_drained(j.src)) {
            stopped_by = "drained";
            break;
        }
    }
    if (j.rc)
        stopped_by = "error";

    /* The stop: fire the last windows only for a drained bounded run, deliver what is in
     * flight, commit what was processed, then leave the group (whose final revocation
     * commits and drops the pipelines). */
    if (!j.rc && drain && strcmp(stopped_by, "drained") == 0)
        finish_all(&j);
    if (!j.rc) {
        if (flush_sinks(&j, STOP_FLUSH_MS) == WEIR_ERR_TIMEOUT)
            fail(&j, 1, "results still undelivered after %d s; offsets not committed",
                 STOP_FLUSH_MS / 1000);
        else
            commit(&j, NULL, 0, STOP_FLUSH_MS, 1);
    }
    if (j.rc)
        fprintf(stderr, "weir: %s\n", j.reason);
    double elapsed = weir_mono_sec() - t0;
    double active = t_last > t_first ? t_last - t_first : 0;
    if (summary_out) {
        /* Open windows are counted before the final revocation drops them. */
        summary(&j, summary_out, elapsed, active, stopped_by);
    }
    int rc = j.rc;
    weir_kafka_source_close(j.src);
    free(msgs);
    teardown(&j);
    return rc ? rc : j.rc;
}
