/* The job's Kafka mode: a consumer-group source feeding one processing unit per partition
 * (keyed input) or one over all partitions (global), Kafka and extra sinks, offset commits
 * after the sinks are flushed, rebalances, clean stops and the summary line. The units are
 * of any kind (runtime/unit.h): unique-users' pipeline or the generic window job. */
#include "connectors/kafka_int.h"
#include "runtime/errbuf.h"
#include "runtime/held_sink.h"
#include "runtime/job_int.h"
#include "runtime/kafka_job_int.h"
#include "runtime/meaning.h"
#include "runtime/unit.h"
#include "state/bytes.h"
#include "util/clock.h"
#include "weir/kafka.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>
#include <xxhash.h>

#include "weir/job.h"
#include "weir/pipeline.h"

#define TICK_MS         100
#define COMMIT_FLUSH_MS 1000  /* a periodic commit waits this long for the sinks, else waits */
#define STOP_FLUSH_MS   60000 /* at the stop, how long undelivered results are waited for */

/* A partition's pipeline in keyed mode, with what its checkpoints need. */
typedef struct part {
    weir__unit *pl;    /* NULL: not assigned */
    weir__held *held;  /* firings for the results topic, held until a checkpoint */
    weir_sink **sinks; /* what the pipeline writes to: held (or results) + extras */
    uint64_t seq;      /* the last checkpoint written or restored, 0: none */
    int dirty;         /* records or firings since that checkpoint */
    int fresh;         /* created and not yet offered a checkpoint (global mode) */
} part;

typedef struct job {
    const weir_conf *conf;
    const weir__unit_kind *kind; /* what the units are */
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
    struct part *by_part;
    int n_by_part;
    struct part *glob; /* global mode with checkpoints: the one pipeline's checkpoint state */

    /* Checkpoints in a Kafka topic (checkpoint.topic): see docs/CHECKPOINTS.md. */
    weir_kafka_ckpt *store; /* NULL: no checkpoints */
    rd_kafka_t *reader;     /* reads the results topic back when a partition is restored */
    rd_kafka_t *tx;         /* the results producer when it is transactional (exactly.once) */
    char *meaning;
    int results_parts;   /* partitions of the results topic */
    uint8_t *reset_done; /* reset.state: partitions whose old checkpoints are cleared */
    int n_reset_done;
    struct {
        uint64_t count, bytes_last, bytes_total, restored, released, recovered, found, skipped;
        double seconds;
    } ck;

    /* Global mode: one pipeline; Kafka partition -> pipeline partition index. */
    weir__unit *global;
    int *slot_of; /* indexed by Kafka partition, -1 when not assigned */
    int n_slot_of;
    int32_t *slots; /* Kafka partition of each pipeline index */
    int n_slots;
    int global_parts; /* the pipeline's current partition count */

    weir__unit_stats gone; /* counters of units already destroyed */
    int partitions_seen;
    uint64_t *seen_bits; /* which partitions were ever assigned */
    int n_seen_bits;

    weir_record *recs;
    size_t recs_cap;

    /* Time the loop spent waiting in the source's poll from the first message on, and that
     * total as of the last processed batch: the part of the active span the job was idle,
     * waiting for the fetch path (the share in which the job was not what limited it).
     * Waiting is the poll's wall time minus this thread's CPU time in it: dequeuing and
     * freeing messages inside librdkafka is the job's own work, not waiting. */
    double poll_wait, poll_wait_active;

    weir_conf *own_conf; /* the caller's with instance.id filled in, when it was empty */
    int instance_lock;   /* fd holding this instance's number on this host, -1: none */

    weir__log log;
    weir__job_metrics *jm;   /* NULL: metrics off */
    int64_t state_ms;        /* when the state bytes were last published */
    weir_job_health *health; /* NULL: none */
    weir_err rc;             /* set once something failed: configuration (INVALID_ARG, CORRUPT,
                              * UNSUPPORTED) or run time (any other) */
    char reason[512];
} job;

static void fail(job *j, weir_err rc, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void fail(job *j, weir_err rc, const char *fmt, ...)
{
    if (j->rc)
        return;
    j->rc = rc;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(j->reason, sizeof j->reason, fmt, ap);
    va_end(ap);
}

static void stats_add(weir__unit_stats *into, const weir__unit_stats *s)
{
    weir_pipeline_stats_add(&into->p, &s->p);
    into->filtered += s->filtered;
}

static void destroy_pipeline(job *j, weir__unit *p)
{
    if (!p)
        return;
    weir__unit_stats s;
    p->ops->stats(p, &s, 1);
    /* A destroyed unit's live state is gone: count what it did, not what it held. */
    s.p.window.live_windows = s.p.window.live_keys = s.p.window.state_bytes = 0;
    stats_add(&j->gone, &s);
    weir__unit_destroy(p);
}

/* A unit over `partitions` partitions writing to `sinks`; NULL (the job failed) on error. */
static weir__unit *make_unit(job *j, int partitions, weir_sink **sinks, size_t ns)
{
    char why[256] = "";
    weir__unit *u = NULL;
    weir__unit_sinks us = {sinks, ns, j->late, j->dead_letter};
    weir_err rc = weir__kind_create(j->kind, j->conf, partitions, &us, &u, why, sizeof why);
    if (rc != WEIR_OK)
        fail(j, rc == WEIR_ERR_NOMEM ? WEIR_ERR_NOMEM : WEIR_ERR_INVALID_ARG,
             "cannot create a pipeline: %s", rc == WEIR_ERR_NOMEM ? "out of memory" : why);
    return u;
}

static weir_sink **part_sinks(job *j, struct part *pt, size_t *ns);

static weir__unit *new_pipeline(job *j, int partitions)
{
    weir_sink **sinks = j->sinks;
    size_t ns = j->n_sinks;
    if (j->glob && !(sinks = part_sinks(j, j->glob, &ns)))
        return NULL;
    weir__unit *p = make_unit(j, partitions, sinks, ns);
    if (j->glob) {
        j->glob->pl = p;
        j->glob->fresh = 1;
    }
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
            fail(j, WEIR_ERR_IO, "sink %s failed: %s", j->sinks[i]->ops->name,
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
            fail(j, WEIR_ERR_IO, "side-output sink failed: %s", weir_sink_error(side[i]));
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
        weir__logf(&j->log, WEIR_LOG_WARN, NULL, 0, "%s (retried at the next commit)", why);
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
        fail(j, WEIR_ERR_NOMEM, "out of memory");
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
        fail(j, WEIR_ERR_NOMEM, "out of memory");
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
                fail(j, WEIR_ERR_NOMEM, "out of memory");
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
    weir__unit *op = j->global;
    if (op->ops->set_partitions(op, n) != WEIR_OK)
        fail(j, WEIR_ERR_IO, "cannot change the pipeline's partitions");
    for (int i = 0; i < n; i++)
        if (moved[i])
            op->ops->reset_partition(op, i);
    free(moved);
    j->global_parts = n;
}

static void global_assigned(job *j, const int32_t *parts, size_t n)
{
    int32_t *all = malloc(sizeof(int32_t) * ((size_t)j->n_slots + n));
    if (!all) {
        fail(j, WEIR_ERR_NOMEM, "out of memory");
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
        fail(j, WEIR_ERR_NOMEM, "out of memory");
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

/* One line "<what> partitions 0,1,2", the list last: tests and operators read it from there. */
static void log_parts(job *j, const char *what, const int32_t *parts, size_t n)
{
    char list[768];
    size_t len = 0;
    list[0] = '\0';
    for (size_t i = 0; i < n && len < sizeof list - 16; i++)
        len += (size_t)snprintf(list + len, sizeof list - len, "%s%d", i ? "," : "", (int)parts[i]);
    weir__logf(&j->log, WEIR_LOG_INFO, NULL, 0, "%s partitions %s", what, list);
}

/* ------------------------------------------------------------------ checkpoints */

/*
 * Kafka-mode checkpoints (docs/CHECKPOINTS.md). Each partition's firings for the results
 * topic are held in memory; every checkpoint.interval, for each partition that changed:
 *   1. its pipeline is snapshotted, with its held firings, its next input offset and the
 *      results topic's end offsets, and written to the checkpoint topic (chunks, manifest);
 *   2. once that is durable, the held firings are produced, each with a header
 *      "weir-ckpt: <stream>|<sequence>|<index>", and the offsets are committed.
 * With exactly.once the two steps are one transaction, offsets included. A new owner of
 * the partition restores the newest checkpoint, reads the results topic from the recorded
 * end offsets to find which of its held firings are already out, produces the others, and
 * reads on from the recorded offset: every firing is written once.
 */
static void push_failed(job *j, weir_err e);

#define CKPT_MAGIC "WEIRKJOB"
#define CKPT_HDR   "weir-ckpt"
#define CKPT_MS    60000

/* A unit of checkpoints: partition p of a keyed job, or (p = -1) a global job's pipeline. */
static void stream_name(const job *j, int32_t p, char *buf, size_t size)
{
    if (p < 0)
        snprintf(buf, size, "%s/%s/all", weir_conf_get(j->conf, "group.id"),
                 weir_conf_get(j->conf, "input.topic"));
    else
        snprintf(buf, size, "%s/%s/%d", weir_conf_get(j->conf, "group.id"),
                 weir_conf_get(j->conf, "input.topic"), (int)p);
}

static part *unit(job *j, int32_t p)
{
    return p < 0 ? j->glob : &j->by_part[p];
}

/* The Kafka partitions of a unit, in pipeline index order (a global job's slots). */
static const int32_t *unit_parts(const job *j, const int32_t *p, int *n)
{
    if (*p >= 0) {
        *n = 1;
        return p;
    }
    *n = j->n_slots;
    return j->slots;
}

static int64_t next_offset(job *j, int32_t p)
{
    rd_kafka_topic_partition_list_t *pos = weir__kafka_source_positions(j->src, &p, 1);
    int64_t next = pos ? pos->elems[0].offset : -1;
    if (pos)
        rd_kafka_topic_partition_list_destroy(pos);
    return next;
}

/* The sinks of a unit's pipeline: the results topic's replaced by a held sink when there
 * are checkpoints (firings wait for the checkpoint that covers them); the others (DynamoDB)
 * take firings at once: their writes are overwrites and converge. NULL on failure. */
static weir_sink **part_sinks(job *j, part *pt, size_t *ns)
{
    if (!pt->sinks && !(pt->sinks = calloc(j->n_sinks + 1, sizeof *pt->sinks))) {
        fail(j, WEIR_ERR_NOMEM, "out of memory");
        return NULL;
    }
    *ns = 0;
    for (size_t k = 0; k < j->n_sinks; k++) {
        if (j->store && j->sinks[k] == j->results) {
            if (!pt->held && !(pt->held = weir__held_new(j->key_field, j->aggs, j->n_aggs))) {
                fail(j, WEIR_ERR_NOMEM, "out of memory");
                return NULL;
            }
            pt->sinks[(*ns)++] = &pt->held->base;
        } else {
            pt->sinks[(*ns)++] = j->sinks[k];
        }
    }
    return pt->sinks;
}

static int grow(void *arr, size_t elem, int *n, int want)
{
    if (want <= *n)
        return 0;
    void **a = arr;
    void *nb = realloc(*a, (size_t)want * elem);
    if (!nb)
        return -1;
    memset((char *)nb + (size_t)*n * elem, 0, (size_t)(want - *n) * elem);
    *a = nb;
    *n = want;
    return 0;
}

static weir_err tx_check(job *j, rd_kafka_error_t *e, const char *what)
{
    if (!e)
        return WEIR_OK;
    fail(j, WEIR_ERR_IO, "exactly-once: %s failed: %s", what, rd_kafka_error_string(e));
    if (rd_kafka_error_txn_requires_abort(e))
        rd_kafka_error_destroy(rd_kafka_abort_transaction(j->tx, CKPT_MS));
    rd_kafka_error_destroy(e);
    return WEIR_ERR_IO;
}

/* Produces the held firings of `pt` (checkpoint `seq` of stream `name`) to the results
 * topic, skipping the indices in `skip` (sorted, n_skip). */
static weir_err release(job *j, part *pt, const char *name, uint64_t seq, const uint32_t *skip,
                        size_t n_skip, uint64_t *produced)
{
    weir__held_entry e;
    int bad = 0;
    uint32_t idx = 0;
    size_t k = 0;
    char hv[320];
    for (size_t at = 0; (at = weir__held_next(pt->held->log, pt->held->len, at, &e, &bad)) != 0;
         idx++) {
        while (k < n_skip && skip[k] < idx)
            k++;
        if (k < n_skip && skip[k] == idx)
            continue;
        int hl = snprintf(hv, sizeof hv, "%s|%" PRIu64 "|%u", name, seq, idx);
        weir_err rc = weir__kafka_sink_produce(j->results, e.key, e.key_len, e.val, e.len, e.ts,
                                               CKPT_HDR, hv, (size_t)hl);
        if (rc) {
            push_failed(j, rc);
            return rc;
        }
        (*produced)++;
    }
    return WEIR_OK;
}

/* Whether a unit needs a checkpoint: records since the last one, or firings held for the
 * results topic. Windows that fire without a record (an idle partition's watermark following
 * the wall clock, watermark.idle.advance) change nothing else the records see: their
 * firings are released by the next checkpoint like any others, also at a stop. */
static int changed(const part *pt)
{
    return pt->pl && (pt->dirty || (pt->held && pt->held->count));
}

/* Checkpoints the listed partitions (all assigned ones when parts is NULL). */
static weir_err checkpoint(job *j, const int32_t *parts, size_t n)
{
    if (!j->store || j->rc)
        return j->rc ? WEIR_ERR_STATE : WEIR_OK;
    double t0 = weir_mono_sec();
    int32_t *units = malloc(sizeof(int32_t) * (size_t)(j->n_by_part + 1));
    int32_t *cparts = NULL; /* the Kafka partitions whose offsets go with the checkpoint */
    size_t ncp = 0;
    int64_t *ends = calloc((size_t)(j->results_parts + 1), sizeof *ends);
    char why[512] = "";
    weir_err rc = WEIR_OK;
    size_t m = 0;
    if (!units || !ends) {
        rc = WEIR_ERR_NOMEM;
        fail(j, WEIR_ERR_NOMEM, "checkpoint: out of memory");
        goto out;
    }
    for (size_t i = 0; i < (parts ? n : (size_t)j->n_by_part); i++) {
        int32_t p = parts ? parts[i] : (int32_t)i;
        if (p >= 0 && p < j->n_by_part && changed(&j->by_part[p]))
            units[m++] = p;
    }
    if (j->glob && changed(j->glob))
        units[m++] = -1;
    if (!m)
        goto out;
    cparts = malloc(sizeof(int32_t) * (size_t)(j->n_by_part + j->n_slots + 1));
    if (!cparts) {
        rc = WEIR_ERR_NOMEM;
        fail(j, WEIR_ERR_NOMEM, "checkpoint: out of memory");
        goto out;
    }
    for (size_t i = 0; i < m; i++) {
        int np;
        const int32_t *ps = unit_parts(j, &units[i], &np);
        for (int k = 0; k < np; k++)
            cparts[ncp++] = ps[k];
    }
    /* Firings already produced are delivered (the previous checkpoint flushed them), so the
     * results topic's ends are where this checkpoint's held firings will start. */
    if (j->results &&
        (rc = weir__kafka_end_offsets(j->reader, weir_conf_get(j->conf, "output.topic"),
                                      j->results_parts, ends, why, sizeof why))) {
        fail(j, WEIR_ERR_IO, "checkpoint: %s", why);
        goto out;
    }
    /* Side outputs are at least once: out before the checkpoint that passes their records. */
    weir_sink *side[2] = {j->dead_letter, j->late};
    for (int i = 0; i < 2; i++)
        if (weir_sink_flush(side[i], CKPT_MS) != WEIR_OK) {
            fail(j, WEIR_ERR_IO, "checkpoint: side output not delivered: %s",
                 weir_sink_error(side[i]));
            rc = WEIR_ERR_IO;
            goto out;
        }
    int log = weir_conf_get_bool(j->conf, "checkpoint.log");
    if (log)
        weir__logf(&j->log, WEIR_LOG_INFO, NULL, 0, "checkpoint: writing %zu partitions", m);
    if (j->tx && (rc = tx_check(j, rd_kafka_begin_transaction(j->tx), "begin transaction")))
        goto out;
    uint64_t bytes = 0;
    for (size_t i = 0; i < m && !rc; i++) {
        int32_t p = units[i];
        part *pt = unit(j, p);
        int np;
        const int32_t *ps = unit_parts(j, &units[i], &np);
        uint8_t *snap = NULL;
        size_t snap_len = 0;
        if ((rc = pt->pl->ops->snapshot(pt->pl, &snap, &snap_len)) != WEIR_OK) {
            fail(j, WEIR_ERR_IO, "checkpoint: cannot snapshot partition %d", (int)p);
            break;
        }
        size_t mlen = strlen(j->meaning);
        size_t hl = pt->held ? pt->held->len : 0;
        size_t len = 8 + 4 + 4 + 8 + 4 + 12 * (size_t)np + 4 + mlen + 4 +
                     8 * (size_t)j->results_parts + 16 + hl + 8 + snap_len;
        uint8_t *b = malloc(len);
        if (!b) {
            free(snap);
            rc = WEIR_ERR_NOMEM;
            fail(j, WEIR_ERR_NOMEM, "checkpoint: out of memory");
            break;
        }
        uint8_t *w = b;
        memcpy(w, CKPT_MAGIC, 8);
        weir__put_le32(w + 8, 1);
        weir__put_le32(w + 12, 0);
        weir__put_le64(w + 16, pt->seq + 1);
        weir__put_le32(w + 24, (uint32_t)np);
        w += 28;
        for (int k = 0; k < np; k++, w += 12) {
            weir__put_le32(w, (uint32_t)ps[k]);
            weir__put_le64(w + 4, (uint64_t)next_offset(j, ps[k]));
        }
        weir__put_le32(w, (uint32_t)mlen);
        w += 4;
        memcpy(w, j->meaning, mlen);
        w += mlen;
        weir__put_le32(w, (uint32_t)j->results_parts);
        w += 4;
        for (int r = 0; r < j->results_parts; r++, w += 8)
            weir__put_le64(w, (uint64_t)ends[r]);
        weir__put_le64(w, pt->held ? pt->held->count : 0);
        weir__put_le64(w + 8, hl);
        w += 16;
        if (hl)
            memcpy(w, pt->held->log, hl);
        w += hl;
        weir__put_le64(w, snap_len);
        memcpy(w + 8, snap, snap_len);
        free(snap);
        char name[512];
        stream_name(j, p, name, sizeof name);
        rc = weir_kafka_ckpt_write(j->store, name, p < 0 ? 0 : p, pt->seq + 1, b, len, why,
                                   sizeof why);
        free(b);
        if (rc)
            fail(j, WEIR_ERR_IO, "%s", why);
        bytes += len;
    }
    if (!rc && (rc = weir_kafka_ckpt_flush(j->store, CKPT_MS, why, sizeof why)) != WEIR_OK)
        fail(j, WEIR_ERR_IO, "%s", why);
    if (!rc && j->results && weir_sink_error(j->results)[0]) {
        push_failed(j, WEIR_ERR_IO);
        rc = WEIR_ERR_IO;
    }
    if (!rc && log)
        weir__logf(&j->log, WEIR_LOG_INFO, NULL, 0, "checkpoint: durable, releasing held results");
    /* The checkpoints are durable: their held firings can go. */
    for (size_t i = 0; i < m && !rc; i++) {
        part *pt = unit(j, units[i]);
        pt->seq++;
        if (pt->held && pt->held->count) {
            char name[512];
            stream_name(j, units[i], name, sizeof name);
            rc = release(j, pt, name, pt->seq, NULL, 0, &j->ck.released);
            weir__held_clear(pt->held);
        }
        pt->dirty = 0;
    }
    if (!rc && j->results && (rc = weir_sink_flush(j->results, CKPT_MS)) != WEIR_OK)
        fail(j, WEIR_ERR_IO, "checkpoint: results not delivered: %s",
             weir_sink_error(j->results)[0] ? weir_sink_error(j->results) : weir_err_str(rc));
    if (!rc && j->tx) {
        rd_kafka_topic_partition_list_t *pos = weir__kafka_source_positions(j->src, cparts, ncp);
        rd_kafka_consumer_group_metadata_t *md =
            rd_kafka_consumer_group_metadata(weir__kafka_source_handle(j->src));
        if (pos)
            rc = tx_check(j, rd_kafka_send_offsets_to_transaction(j->tx, pos, md, CKPT_MS),
                          "send offsets");
        rd_kafka_consumer_group_metadata_destroy(md);
        if (!rc &&
            !(rc = tx_check(j, rd_kafka_commit_transaction(j->tx, CKPT_MS), "commit transaction")))
            weir__kafka_source_mark_committed(j->src, pos);
        if (pos)
            rd_kafka_topic_partition_list_destroy(pos);
    } else if (!rc) {
        if (weir_kafka_source_commit(j->src, cparts, ncp, 1, why, sizeof why) != WEIR_OK)
            weir__logf(&j->log, WEIR_LOG_WARN, NULL, 0, "%s (retried at the next checkpoint)", why);
    }
    if (!rc && log)
        weir__logf(&j->log, WEIR_LOG_INFO, NULL, 0, "checkpoint: done");
    if (!rc) {
        j->ck.count++;
        j->ck.bytes_last = bytes;
        j->ck.bytes_total += bytes;
        j->ck.seconds += weir_mono_sec() - t0;
        weir__job_metrics_checkpoint(j->jm, 1, weir_mono_sec() - t0, bytes);
    }
out:
    if (rc)
        weir__job_metrics_checkpoint(j->jm, 0, 0, 0);
    free(units);
    free(cparts);
    free(ends);
    return rc;
}

/* What a restore needs from a checkpoint's payload. */
typedef struct restore_ctx {
    job *j;
    part *pt;
    int32_t id; /* the unit: a partition, or -1 for a global job */
    uint64_t seq;
    int32_t *parts; /* the unit's Kafka partitions in pipeline order, and where each resumes */
    int64_t *next;
    int n_parts;
    int64_t *ends;
    int n_ends;
} restore_ctx;

static int same_set(const int32_t *a, const int32_t *b, int n)
{
    for (int i = 0; i < n; i++) {
        int found = 0;
        for (int k = 0; k < n && !found; k++)
            found = a[i] == b[k];
        if (!found)
            return 0;
    }
    return 1;
}

static weir_err accept_ckpt(void *opaque, const uint8_t *b, size_t len, char *why, size_t size)
{
    restore_ctx *r = opaque;
    job *j = r->j;
    if (len < 28 || memcmp(b, CKPT_MAGIC, 8) != 0) {
        snprintf(why, size, "not a Kafka-mode checkpoint of weir");
        return WEIR_ERR_CORRUPT;
    }
    if (weir__get_le32(b + 8) != 1) {
        snprintf(why, size, "checkpoint format version %u is not supported", weir__get_le32(b + 8));
        return WEIR_ERR_UNSUPPORTED;
    }
    uint64_t seq = weir__get_le64(b + 16);
    uint32_t np = weir__get_le32(b + 24);
    size_t pos = 28;
    if (np > (len - pos) / 12 || len - pos - (size_t)np * 12 < 4)
        goto truncated;
    const uint8_t *offs = b + pos;
    pos += (size_t)np * 12;
    uint32_t mlen = weir__get_le32(b + pos);
    pos += 4;
    if (mlen > len - pos || len - pos - mlen < 4)
        goto truncated;
    const char *m = (const char *)b + pos;
    pos += mlen;
    uint32_t nr = weir__get_le32(b + pos);
    pos += 4;
    if (nr > (len - pos) / 8 || len - pos - (size_t)nr * 8 < 16)
        goto truncated;
    const uint8_t *ends = b + pos;
    pos += (size_t)nr * 8;
    uint64_t hcount = weir__get_le64(b + pos), hlen = weir__get_le64(b + pos + 8);
    pos += 16;
    if (hlen > len - pos || len - pos - hlen < 8)
        goto truncated;
    const uint8_t *hlog = b + pos;
    pos += hlen;
    uint64_t plen = weir__get_le64(b + pos);
    pos += 8;
    if (plen != len - pos)
        goto truncated;
    if (mlen != strlen(j->meaning) || memcmp(m, j->meaning, mlen) != 0) {
        weir__meaning_diff(j->conf, m, mlen, why, size);
        return WEIR_ERR_INVALID_ARG;
    }
    if (hcount && (!j->results || (int)nr != j->results_parts)) {
        snprintf(why, size, "checkpoint does not fit this job (its results topic differs)");
        return WEIR_ERR_INVALID_ARG;
    }
    free(r->parts);
    free(r->next);
    r->parts = malloc(sizeof(int32_t) * (np ? np : 1));
    r->next = malloc(sizeof(int64_t) * (np ? np : 1));
    if (!r->parts || !r->next)
        return WEIR_ERR_NOMEM;
    for (uint32_t i = 0; i < np; i++) {
        r->parts[i] = (int32_t)weir__get_le32(offs + 12 * i);
        r->next[i] = (int64_t)weir__get_le64(offs + 12 * i + 4);
    }
    r->n_parts = (int)np;
    if (r->id >= 0 ? np != 1 || r->parts[0] != r->id || r->next[0] < 0
                   : (int)np != j->n_slots || !same_set(r->parts, j->slots, (int)np)) {
        if (r->id >= 0)
            snprintf(why, size, "checkpoint of another partition");
        else
            snprintf(why, size,
                     "checkpoint over %u partitions, %d assigned: a global aggregation needs "
                     "all of them (one instance per group)",
                     np, j->n_slots);
        return WEIR_ERR_INVALID_ARG;
    }
    if (r->pt->held && weir__held_set(r->pt->held, hlog, (size_t)hlen, hcount) != WEIR_OK) {
        snprintf(why, size, "held results are malformed");
        return WEIR_ERR_CORRUPT;
    }
    /* Validated whole before anything changes; on error the pipeline is as it was. */
    weir_err rc = r->pt->pl->ops->restore(r->pt->pl, b + pos, (size_t)plen, why, size);
    if (rc != WEIR_OK) {
        if (r->pt->held)
            weir__held_clear(r->pt->held);
        return rc;
    }
    r->seq = seq;
    r->n_ends = (int)nr;
    r->ends = malloc(sizeof(int64_t) * (nr ? nr : 1));
    if (!r->ends)
        return WEIR_ERR_NOMEM;
    for (uint32_t i = 0; i < nr; i++)
        r->ends[i] = (int64_t)weir__get_le64(ends + 8 * i);
    return WEIR_OK;
truncated:
    snprintf(why, size, "truncated payload");
    return WEIR_ERR_CORRUPT;
}

/* Which held firings of one checkpoint the results topic already has. */
typedef struct found_ctx {
    const char *prefix; /* "<stream>|<seq>|" */
    size_t plen;
    uint32_t *idx;
    size_t n, cap;
} found_ctx;

static void find_released(void *opaque, const weir__kmsg *m)
{
    found_ctx *f = opaque;
    rd_kafka_headers_t *h = NULL;
    const void *v;
    size_t vl;
    if (rd_kafka_message_headers(m->raw, &h) || rd_kafka_header_get_last(h, CKPT_HDR, &v, &vl))
        return;
    if (vl <= f->plen || memcmp(v, f->prefix, f->plen) != 0)
        return;
    char num[16];
    size_t nl = vl - f->plen < sizeof num - 1 ? vl - f->plen : sizeof num - 1;
    memcpy(num, (const char *)v + f->plen, nl);
    num[nl] = '\0';
    if (f->n == f->cap) {
        size_t cap = f->cap ? 2 * f->cap : 64;
        uint32_t *ni = realloc(f->idx, cap * sizeof *ni);
        if (!ni)
            return;
        f->idx = ni;
        f->cap = cap;
    }
    f->idx[f->n++] = (uint32_t)strtoul(num, NULL, 10);
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

/* After a restore: produces the held firings that the crash kept from the results topic. */
static void recover_held(job *j, int32_t p, restore_ctx *r)
{
    part *pt = unit(j, p);
    if (!pt->held || !pt->held->count)
        return;
    char name[512], prefix[600], why[512];
    stream_name(j, p, name, sizeof name);
    int pl = snprintf(prefix, sizeof prefix, "%s|%" PRIu64 "|", name, r->seq);
    found_ctx f = {prefix, (size_t)pl, NULL, 0, 0};
    int32_t *ps = malloc(sizeof(int32_t) * (size_t)(r->n_ends + 1));
    if (!ps) {
        fail(j, WEIR_ERR_NOMEM, "out of memory");
        return;
    }
    for (int i = 0; i < r->n_ends; i++)
        ps[i] = i;
    weir_err rc =
        weir__kafka_read_range(j->reader, weir_conf_get(j->conf, "output.topic"), ps, r->ends,
                               (size_t)r->n_ends, CKPT_MS, find_released, &f, why, sizeof why);
    free(ps);
    if (rc) {
        fail(j, WEIR_ERR_IO, "restoring partition %d: reading the results topic back: %s", (int)p,
             why);
        free(f.idx);
        return;
    }
    if (f.n)
        qsort(f.idx, f.n, sizeof *f.idx, cmp_u32);
    j->ck.found += f.n;
    uint64_t before = j->ck.recovered;
    if (j->tx)
        rc = tx_check(j, rd_kafka_begin_transaction(j->tx), "begin transaction");
    if (!rc)
        rc = release(j, pt, name, r->seq, f.idx, f.n, &j->ck.recovered);
    free(f.idx);
    if (!rc && (rc = weir_sink_flush(j->results, CKPT_MS)) != WEIR_OK)
        fail(j, WEIR_ERR_IO, "restoring partition %d: results not delivered", (int)p);
    if (!rc && j->tx)
        rc = tx_check(j, rd_kafka_commit_transaction(j->tx, CKPT_MS), "commit transaction");
    if (!rc) {
        weir__held_clear(pt->held);
        if (j->ck.recovered > before)
            weir__logf(&j->log, WEIR_LOG_INFO, NULL, 0,
                       "partition %d: %" PRIu64 " results of checkpoint %" PRIu64
                       " were not out yet: produced now",
                       (int)p, j->ck.recovered - before, r->seq);
    }
}

/* Restores a unit (partition p, or the global pipeline for p = -1) from its newest usable
 * checkpoint, if any, and says where its input resumes. */
static void restore_unit(job *j, int32_t p)
{
    part *pt = unit(j, p);
    char name[512], why[512] = "";
    stream_name(j, p, name, sizeof name);
    int32_t hint = p < 0 ? 0 : p;
    if (weir_conf_get_bool(j->conf, "reset.state") &&
        !(hint < j->n_reset_done && j->reset_done[hint])) {
        if (grow(&j->reset_done, 1, &j->n_reset_done, hint + 1) == 0)
            j->reset_done[hint] = 1;
        if (weir_kafka_ckpt_clear(j->store, name, hint, why, sizeof why) != WEIR_OK)
            fail(j, WEIR_ERR_IO, "reset.state: %s", why);
        return;
    }
    restore_ctx r = {.j = j, .pt = pt, .id = p};
    uint64_t max_seq = 0;
    weir_err rc = weir_kafka_ckpt_load(j->store, name, hint, accept_ckpt, &r, &max_seq, j->log.fn,
                                       j->log.arg, why, sizeof why);
    pt->seq = max_seq;
    if (rc == WEIR_OK) {
        j->ck.restored++;
        if (p < 0) {
            /* The restored operator's partition indices follow the checkpoint's order of
             * partitions (the same set as assigned, checked): adopt it, resetting nothing. */
            memcpy(j->slots, r.parts, sizeof(int32_t) * (size_t)r.n_parts);
            for (int i = 0; i < r.n_parts; i++)
                if (r.parts[i] < j->n_slot_of)
                    j->slot_of[r.parts[i]] = i;
        }
        for (int i = 0; i < r.n_parts; i++) {
            if (r.next[i] >= 0)
                weir__kafka_source_set_start(j->src, r.parts[i], r.next[i]);
            weir_log_field f[3] = {WEIR_LOG_INT("partition", r.parts[i]),
                                   WEIR_LOG_INT("sequence", (int64_t)r.seq),
                                   WEIR_LOG_INT("offset", r.next[i])};
            weir__logf(&j->log, WEIR_LOG_INFO, f, 3,
                       "partition %d: restored checkpoint %" PRIu64
                       " of %s, reading on from offset %" PRId64,
                       (int)r.parts[i], r.seq, name, r.next[i]);
        }
        recover_held(j, p, &r);
    } else if (rc != WEIR_ERR_NOT_FOUND) {
        fail(j,
             rc == WEIR_ERR_IO || rc == WEIR_ERR_TIMEOUT || rc == WEIR_ERR_NOMEM ? rc
                                                                                 : WEIR_ERR_CORRUPT,
             "%s: %s", name, why);
    }
    free(r.parts);
    free(r.next);
    free(r.ends);
}

/* ------------------------------------------------------------------ rebalances */

static void drop_part(job *j, int32_t p)
{
    if (p < 0 || p >= j->n_by_part)
        return;
    part *pt = &j->by_part[p];
    destroy_pipeline(j, pt->pl);
    weir_sink_destroy(pt->held ? &pt->held->base : NULL);
    free(pt->sinks);
    *pt = (part){0};
}

static void on_assigned(void *opaque, const int32_t *parts, size_t n)
{
    job *j = opaque;
    log_parts(j, "assigned", parts, n);
    for (size_t i = 0; i < n; i++)
        note_seen(j, parts[i]);
    if (!j->keyed) {
        global_assigned(j, parts, n);
        if (j->glob && j->glob->pl && j->glob->fresh && !j->rc) {
            j->glob->fresh = 0;
            restore_unit(j, -1);
        }
        return;
    }
    for (size_t i = 0; i < n && !j->rc; i++) {
        int32_t p = parts[i];
        if (grow(&j->by_part, sizeof(part), &j->n_by_part, p + 1) != 0) {
            fail(j, WEIR_ERR_NOMEM, "out of memory");
            return;
        }
        part *pt = &j->by_part[p];
        if (pt->pl)
            continue;
        size_t ns = 0;
        if (!part_sinks(j, pt, &ns))
            return;
        if (!(pt->pl = make_unit(j, 1, pt->sinks, ns)))
            return;
        if (j->store)
            restore_unit(j, p);
    }
}

static void on_revoked(void *opaque, const int32_t *parts, size_t n, int lost)
{
    job *j = opaque;
    log_parts(j, lost ? "lost" : "revoked", parts, n);
    for (size_t i = 0; i < n; i++)
        weir__job_metrics_partition_gone(j->jm, weir_conf_get(j->conf, "input.topic"), parts[i]);
    /* Results of the revoked partitions are delivered and their offsets committed while
     * they are still ours; a lost assignment cannot commit any more. Without checkpoints
     * unfired windows are dropped, not emitted: the partition's new owner rebuilds them
     * only from records after the committed offset. With checkpoints the state goes to
     * the checkpoint topic, where the new owner finds it. */
    if (!lost) {
        if (j->store)
            checkpoint(j, j->keyed ? parts : NULL, j->keyed ? n : 0);
        else
            commit(j, parts, n, STOP_FLUSH_MS, 1);
    }
    if (!j->keyed) {
        global_revoked(j, parts, n);
        return;
    }
    for (size_t i = 0; i < n; i++)
        drop_part(j, parts[i]);
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
    fail(j, WEIR_ERR_IO, "pipeline stopped: %s", why[0] ? why : weir_err_str(e));
}

static void process(job *j, const weir_kafka_msg *m, size_t n, int64_t now)
{
    if (ensure_recs(j, n) != 0) {
        fail(j, WEIR_ERR_NOMEM, "out of memory");
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
        weir_err e = j->global->ops->push(j->global, j->recs, k, now);
        if (e) {
            push_failed(j, e);
            return;
        }
        if (j->glob)
            j->glob->dirty = 1;
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
        weir__unit *pl = p < j->n_by_part ? j->by_part[p].pl : NULL;
        if (pl) {
            j->by_part[p].dirty = 1;
            for (size_t k = i; k < end; k++)
                j->recs[k - i] = (weir_record){m[k].data, m[k].len, 0, m[k].offset};
            weir_err e = pl->ops->push(pl, j->recs, end - i, now);
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
        e = j->global->ops->tick(j->global, now);
    for (int p = 0; p < j->n_by_part && !e; p++)
        if (j->by_part[p].pl)
            e = j->by_part[p].pl->ops->tick(j->by_part[p].pl, now);
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
    if (j->global && j->n_slots > 0) {
        e = j->global->ops->finish(j->global);
        if (j->glob)
            j->glob->dirty = 1;
    }
    for (int p = 0; p < j->n_by_part && !e; p++)
        if (j->by_part[p].pl) {
            e = j->by_part[p].pl->ops->finish(j->by_part[p].pl);
            j->by_part[p].dirty = 1;
        }
    if (e)
        push_failed(j, e);
}

/* The pipelines' counters and live state, those already destroyed included. */
static weir__unit_stats pipeline_stats(job *j)
{
    weir__unit_stats s = j->gone;
    if (j->global) {
        weir__unit_stats g;
        j->global->ops->stats(j->global, &g, 1);
        stats_add(&s, &g);
    }
    for (int p = 0; p < j->n_by_part; p++)
        if (j->by_part[p].pl) {
            weir__unit_stats g;
            j->by_part[p].pl->ops->stats(j->by_part[p].pl, &g, 1);
            stats_add(&s, &g);
        }
    return s;
}

/* `s` as pipeline_stats() gave it before the consumer closed (whose final revocation drops
 * the pipelines and their live state); the Kafka counters as they are now, after it. */
static void summary(job *j, FILE *out, const weir__unit_stats *us, const weir__unit_stats *open,
                    double elapsed, double active, const char *stopped_by)
{
    weir_pipeline_stats s = us->p;
    if (j->kind->open_counts) {
        s.window.windows_created = open->p.window.live_windows;
        s.window.keys_created = open->p.window.live_keys;
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
    char extra[2048];
    int el = snprintf(extra, sizeof extra,
                      ",\"mode\":\"kafka\",\"run_sec\":%.3f,\"open_windows\":%" PRIu64
                      ",\"partitions\":%d,\"stopped_by\":\"%s\",\"kafka\":{\"messages\":%" PRIu64
                      ",\"bytes\":%" PRIu64 ",\"rebalances\":%" PRIu64 ",\"commits\":%" PRIu64
                      ",\"commit_errors\":%" PRIu64 ",\"consumer_errors\":%" PRIu64
                      ",\"produced\":%" PRIu64 ",\"delivered\":%" PRIu64
                      ",\"delivery_failures\":%" PRIu64 ",\"dead_letters\":%" PRIu64
                      ",\"poll_wait_sec\":%.3f}",
                      elapsed, s.window.live_windows, j->partitions_seen, stopped_by, ss.messages,
                      ss.bytes, ss.rebalances, ss.commits, ss.commit_errors, ss.errors, rs.produced,
                      rs.delivered, rs.failed + ds.failed, ds.delivered, j->poll_wait_active);
    if (j->kind->filters && el > 0 && (size_t)el < sizeof extra)
        el +=
            snprintf(extra + el, sizeof extra - (size_t)el, ",\"filtered\":%" PRIu64, us->filtered);
    if (j->store && el > 0 && (size_t)el < sizeof extra)
        snprintf(extra + el, sizeof extra - (size_t)el,
                 ",\"checkpoints\":%" PRIu64
                 ",\"checkpoint_sec\":%.3f,\"checkpoint_bytes\":%" PRIu64
                 ",\"checkpoint_bytes_total\":%" PRIu64 ",\"restored_partitions\":%" PRIu64
                 ",\"released\":%" PRIu64 ",\"recovered\":%" PRIu64 ",\"already_out\":%" PRIu64
                 ",\"exactly_once\":%s",
                 j->ck.count, j->ck.seconds, j->ck.bytes_last, j->ck.bytes_total, j->ck.restored,
                 j->ck.released, j->ck.recovered, j->ck.found, j->tx ? "true" : "false");
    weir_job_write_summary(out, &s, active, extra);
}

/*
 * The default instance.id: "<host>-<n>", n the lowest number that no other running instance
 * of this group on this host holds. A number is held by an exclusive lock on a file in
 * $XDG_RUNTIME_DIR (else /tmp) for as long as the process lives, so the kernel frees it
 * when the process dies, even by SIGKILL: a restarted instance takes its predecessor's
 * number (and so its static membership and transactional id), and two instances on one
 * host never share one. Returns 0, or -1 with the reason in why.
 */
static int default_instance(job *j, char *out, size_t size, char *why, size_t why_size)
{
    char host[256] = "host";
    if (gethostname(host, sizeof host - 1) != 0)
        snprintf(host, sizeof host, "host");
    const char *dir = getenv("XDG_RUNTIME_DIR");
    if (!dir || !*dir)
        dir = "/tmp";
    char group[128];
    const char *g = weir_conf_get(j->conf, "group.id");
    size_t k = 0;
    for (; g[k] && k < sizeof group - 1; k++)
        group[k] = (char)(strchr("/\\. ", g[k]) ? '_' : g[k]);
    group[k] = '\0';
    for (int n = 0; n < 1024; n++) {
        char path[512];
        snprintf(path, sizeof path, "%s/weir-%s-%08" PRIx64 "-%d.lock", dir, group,
                 (uint64_t)XXH64(g, strlen(g), 0) & 0xffffffffu, n);
        int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
        if (fd < 0) {
            snprintf(why, why_size, "instance.id: cannot open %.300s: %.100s (set --instance-id)",
                     path, strerror(errno));
            return -1;
        }
        if (flock(fd, LOCK_EX | LOCK_NB) == 0) {
            j->instance_lock = fd;
            snprintf(out, size, "%s-%d", host, n);
            return 0;
        }
        close(fd);
    }
    snprintf(why, why_size, "instance.id: 1024 instances of this group on this host");
    return -1;
}

/* Fills in instance.id (and so group.instance.id and the transactional id) when empty. */
static int identify(job *j, char *why, size_t why_size)
{
    if (weir_conf_get(j->conf, "instance.id")[0])
        return 0;
    char id[300];
    if (default_instance(j, id, sizeof id, why, why_size) != 0)
        return -1;
    if (!(j->own_conf = weir_conf_dup(j->conf)) ||
        weir_conf_set(j->own_conf, "instance.id", id, why, why_size) != WEIR_OK) {
        if (!j->own_conf)
            snprintf(why, why_size, "out of memory");
        return -1;
    }
    j->conf = j->own_conf;
    return 0;
}

static int setup(job *j, weir_sink *const *extra, size_t n_extra)
{
    char why[512] = "";
    if (identify(j, why, sizeof why) != 0) {
        fail(j, WEIR_ERR_INVALID_ARG, "%s", why);
        return -1;
    }
    const weir_conf *conf = j->conf;
    j->keyed = weir_conf_get_bool(conf, "input.keyed") && !weir_conf_get_bool(conf, "global");
    j->n_aggs = j->kind->sink_fields(conf, j->aggs, &j->hll_precision, &j->key_field);

    j->sinks = calloc(n_extra + 1, sizeof *j->sinks);
    if (!j->sinks) {
        fail(j, WEIR_ERR_NOMEM, "out of memory");
        return -1;
    }
    const char *out_topic = weir_conf_get(conf, "output.topic");
    const char *ckpt_topic = weir_conf_get(conf, "checkpoint.topic");
    int exactly = weir_conf_get_bool(conf, "exactly.once");
    char ckpt_default[512];
    if (exactly && !ckpt_topic[0]) {
        /* As Kafka Streams names its changelogs after application.id. */
        snprintf(ckpt_default, sizeof ckpt_default, "%s-checkpoints",
                 weir_conf_get(conf, "group.id"));
        ckpt_topic = ckpt_default;
    }
    char txid[512] = "";
    if (exactly) {
        /* One transactional producer per instance, its id stable across restarts: the
         * restarted instance's init_transactions() fences its predecessor's producer (and
         * aborts what it left open), and the consumer group's generation, sent with the
         * offsets, fences a zombie that lost its partitions (KIP-447). */
        snprintf(txid, sizeof txid, "weir-%s-%s", weir_conf_get(conf, "group.id"),
                 weir_conf_get(conf, "instance.id"));
    }
    if (out_topic && *out_topic) {
        j->results = weir__kafka_sink_new_tx(conf, out_topic, j->key_field, j->aggs, j->n_aggs,
                                             exactly ? txid : NULL, why, sizeof why);
        if (!j->results) {
            fail(j, WEIR_ERR_INVALID_ARG, "%s", why);
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
        fail(j, (dlt && *dlt) ? WEIR_ERR_INVALID_ARG : WEIR_ERR_IO, "dead letters: %s", why);
        return -1;
    }
    const char *late = weir_conf_get(conf, "late.output.path");
    if (late && *late && !(j->late = weir_file_sink_new(late, NULL, NULL, 0, why, sizeof why))) {
        fail(j, WEIR_ERR_IO, "late output: %s", why);
        return -1;
    }

    /* A pipeline made here, before any assignment, checks the configuration early
     * instead of at the first rebalance. */
    weir__unit *probe = NULL;
    weir__unit_sinks us = {j->sinks, j->n_sinks, j->late, j->dead_letter};
    weir_err pe = weir__kind_create(j->kind, conf, 1, &us, &probe, why, sizeof why);
    if (pe != WEIR_OK) {
        fail(j, pe == WEIR_ERR_NOMEM ? WEIR_ERR_NOMEM : WEIR_ERR_INVALID_ARG, "%s",
             pe == WEIR_ERR_NOMEM ? "out of memory" : why);
        return -1;
    }
    weir__unit_destroy(probe);

    if (ckpt_topic[0]) {
        if (!(j->meaning = weir__kind_meaning(j->kind, conf)) ||
            !(j->reader = weir__kafka_reader_new(conf, &j->log, why, sizeof why))) {
            fail(j, WEIR_ERR_INVALID_ARG, "checkpoint.topic: %s",
                 j->meaning ? why : "out of memory");
            return -1;
        }
        int in_parts = weir__kafka_partition_count(j->reader, weir_conf_get(conf, "input.topic"),
                                                   why, sizeof why);
        if (j->results) {
            j->results_parts = weir__kafka_partition_count(j->reader, out_topic, why, sizeof why);
            if (j->results_parts < 1) {
                fail(j, j->results_parts == -1 ? WEIR_ERR_INVALID_ARG : WEIR_ERR_IO,
                     "output.topic: %s",
                     j->results_parts == -1 ? "the topic does not exist (checkpoints need it)"
                                            : why);
                return -1;
            }
        }
        weir_err e =
            weir_kafka_ckpt_open(conf, ckpt_topic, (int)weir_conf_get_int(conf, "checkpoint.keep"),
                                 in_parts > 0 ? in_parts : 1, weir__kafka_sink_handle(j->results),
                                 &j->store, why, sizeof why);
        if (e) {
            fail(j, e == WEIR_ERR_IO ? WEIR_ERR_IO : WEIR_ERR_INVALID_ARG, "%s", why);
            return -1;
        }
        if (!j->keyed && !(j->glob = calloc(1, sizeof *j->glob))) {
            fail(j, WEIR_ERR_NOMEM, "out of memory");
            return -1;
        }
        if (exactly && j->results) {
            j->tx = weir__kafka_sink_handle(j->results);
            rd_kafka_error_t *te = rd_kafka_init_transactions(j->tx, CKPT_MS);
            if (te) {
                fail(j, WEIR_ERR_IO, "exactly-once: init transactions: %s",
                     rd_kafka_error_string(te));
                rd_kafka_error_destroy(te);
                return -1;
            }
        }
    }

    weir_kafka_rebalance_cbs cbs = {on_assigned, on_revoked};
    j->src = weir_kafka_source_new(conf, &cbs, j, why, sizeof why);
    if (!j->src) {
        fail(j, WEIR_ERR_INVALID_ARG, "%s", why);
        return -1;
    }
    return 0;
}

static void teardown(job *j)
{
    weir__job_metrics_destroy(j->jm);
    j->jm = NULL;
    weir_kafka_source_destroy(j->src);
    j->src = NULL;
    destroy_pipeline(j, j->global);
    j->global = NULL;
    if (j->glob) {
        weir_sink_destroy(j->glob->held ? &j->glob->held->base : NULL);
        free(j->glob->sinks);
        free(j->glob);
        j->glob = NULL;
    }
    for (int p = 0; p < j->n_by_part; p++)
        drop_part(j, p);
    free(j->by_part);
    weir_kafka_ckpt_close(j->store);
    if (j->reader) {
        rd_kafka_consumer_close(j->reader);
        rd_kafka_destroy(j->reader);
    }
    free(j->meaning);
    free(j->reset_done);
    weir_sink_destroy(j->results);
    weir_sink_destroy(j->dead_letter);
    weir_sink_destroy(j->late);
    free(j->sinks);
    free(j->slot_of);
    free(j->slots);
    free(j->seen_bits);
    free(j->recs);
    if (j->instance_lock >= 0)
        close(j->instance_lock); /* after the consumer and producers are gone */
    j->instance_lock = -1;
    weir_conf_destroy(j->own_conf);
    j->own_conf = NULL;
}

typedef struct interval_ctx {
    int64_t ms;
} interval_ctx;

/* After a batch: counters of every pipeline, gauges of the live ones, each assigned partition's
 * watermark; at each tick also the consumer lag and the producer's queue. Plain stores into
 * series the loop owns, no lock. */
static void publish(job *j, int64_t now, int tick)
{
    if (!j->jm && !j->health)
        return;
    if (j->jm) {
        /* Counters every batch; the state bytes, a walk over all state, once a second. */
        int with_state = now - j->state_ms >= WEIR__STATE_BYTES_MS;
        if (with_state)
            j->state_ms = now;
        weir__unit_stats st = j->gone, g;
        st.p.window.live_windows = st.p.window.live_keys = st.p.window.state_bytes = 0;
        for (int p = -1; p < j->n_by_part; p++) {
            weir__unit *pl = p < 0 ? j->global : j->by_part[p].pl;
            if (!pl)
                continue;
            pl->ops->stats(pl, &g, with_state);
            stats_add(&st, &g);
        }
        weir__job_metrics_publish(j->jm, &st.p, with_state);
        if (j->kind->filters)
            weir__job_metrics_filtered(j->jm, st.filtered);
    }
    int64_t lowest = INT64_MAX;
    for (int p = 0; p < j->n_by_part; p++)
        if (j->by_part[p].pl) {
            int64_t wm = j->by_part[p].pl->ops->watermark(j->by_part[p].pl);
            weir__job_metrics_watermark(j->jm, p, wm, now);
            if (wm < lowest)
                lowest = wm;
        }
    if (j->global) {
        /* One watermark over every partition: each assigned partition shows it. */
        int64_t wm = j->global->ops->watermark(j->global);
        for (int i = 0; i < j->n_slots; i++)
            weir__job_metrics_watermark(j->jm, j->slots[i], wm, now);
        lowest = wm;
    }
    weir_kafka_source_stats ss;
    weir_kafka_source_stats_get(j->src, &ss);
    weir__job_health_input(j->health, ss.assigned > 0);
    if (lowest != INT64_MAX)
        weir__job_health_watermark(j->health, lowest, weir_mono_sec());
    if (!tick || !j->jm)
        return;
    rd_kafka_t *rk = weir__kafka_source_handle(j->src);
    rd_kafka_topic_partition_list_t *as = NULL;
    if (rk && rd_kafka_assignment(rk, &as) == RD_KAFKA_RESP_ERR_NO_ERROR && as) {
        if (rd_kafka_position(rk, as) == RD_KAFKA_RESP_ERR_NO_ERROR)
            for (int i = 0; i < as->cnt; i++) {
                int64_t lo, hi;
                const rd_kafka_topic_partition_t *tp = &as->elems[i];
                /* Cached from fetch answers: no request to the broker. */
                if (tp->offset >= 0 &&
                    rd_kafka_get_watermark_offsets(rk, tp->topic, tp->partition, &lo, &hi) ==
                        RD_KAFKA_RESP_ERR_NO_ERROR &&
                    hi >= 0)
                    weir__job_metrics_consumer_lag(j->jm, tp->topic, tp->partition,
                                                   hi > tp->offset ? hi - tp->offset : 0);
            }
        rd_kafka_topic_partition_list_destroy(as);
    }
    rd_kafka_t *prod = weir__kafka_sink_handle(j->results);
    if (prod) {
        weir_kafka_sink_stats ks;
        weir_kafka_sink_stats_get(j->results, &ks);
        weir__job_metrics_producer(j->jm, (uint64_t)rd_kafka_outq_len(prod), ks.produced,
                                   ks.failed);
    }
}

static void read_interval(void *opaque, const char *name, const char *value)
{
    interval_ctx *c = opaque;
    if (strcmp(name, "auto.commit.interval.ms") == 0 && atoll(value) > 0)
        c->ms = atoll(value);
}

weir_err weir_kafka_job_run(const weir_conf *conf, weir_sink *const *extra_sinks, size_t n_extra,
                            int stop_when_idle_ms, int drain, const weir_job_env *env, char *errstr,
                            size_t errstr_size)
{
    return weir__kafka_job_run(&weir__pipeline_kind, conf, extra_sinks, n_extra, stop_when_idle_ms,
                               drain, env, errstr, errstr_size);
}

weir_err weir__kafka_job_run(const weir__unit_kind *kind, const weir_conf *conf,
                             weir_sink *const *extra_sinks, size_t n_extra, int stop_when_idle_ms,
                             int drain, const weir_job_env *env, char *errstr, size_t errstr_size)
{
    static const weir_job_env none = {0};
    if (!env)
        env = &none;
    volatile sig_atomic_t *stop = env->stop;
    job j;
    memset(&j, 0, sizeof j);
    j.conf = conf;
    j.kind = kind;
    j.log = weir__conf_log(conf);
    j.health = env->health;
    j.instance_lock = -1;
    if (weir__job_metrics_new(env->metrics, &j.jm) != WEIR_OK) {
        weir__errf(errstr, errstr_size, "metrics: cannot register the job's series");
        return WEIR_ERR_NOMEM;
    }
    double t0 = weir_mono_sec(), t_first = 0, t_last = 0;

    if (setup(&j, extra_sinks, n_extra) != 0) {
        weir__errf(errstr, errstr_size, "%s", j.reason);
        weir_err rc = j.rc;
        teardown(&j);
        return rc;
    }
    interval_ctx ic = {5000};
    int64_t ckpt_ms = weir_conf_get_duration_ms(conf, "checkpoint.interval");
    weir_conf_foreach_prefix(conf, "kafka.", read_interval, &ic);
    weir_log_field f[4] = {WEIR_LOG_STR("input_topic", weir_conf_get(conf, "input.topic")),
                           WEIR_LOG_STR("group", weir_conf_get(conf, "group.id")),
                           WEIR_LOG_STR("instance", weir_conf_get(j.conf, "instance.id")),
                           WEIR_LOG_STR("brokers", weir_conf_get(conf, "brokers"))};
    weir__logf(&j.log, WEIR_LOG_INFO, f, 4,
               "kafka mode: %s -> %s%s, group %s, instance %s, brokers %s, %s",
               weir_conf_get(conf, "input.topic"),
               j.results ? weir_conf_get(conf, "output.topic") : "(no output topic)",
               n_extra ? " + extra sinks" : "", weir_conf_get(conf, "group.id"),
               weir_conf_get(j.conf, "instance.id"), weir_conf_get(conf, "brokers"),
               j.keyed ? "one pipeline per partition" : "one pipeline over all partitions");

    size_t batch = (size_t)weir_conf_get_int(conf, "input.batch.records");
    weir_kafka_msg *msgs = malloc(batch * sizeof *msgs);
    if (!msgs) {
        weir__errf(errstr, errstr_size, "out of memory");
        teardown(&j);
        return WEIR_ERR_NOMEM;
    }
    int64_t now = weir_wall_ms(), last_tick = now, last_commit = now, last_msg = now;
    const char *stopped_by = "signal";
    uint64_t errors_seen = 0;
    while (!j.rc) {
        if (stop && *stop)
            break;
        weir_err perr = WEIR_OK;
        double tp = weir_mono_sec(), cp = weir__cpu_sec(CLOCK_THREAD_CPUTIME_ID);
        size_t n = weir_kafka_source_poll(j.src, msgs, batch, TICK_MS, &perr);
        if (t_first)
            j.poll_wait += (weir_mono_sec() - tp) - (weir__cpu_sec(CLOCK_THREAD_CPUTIME_ID) - cp);
        now = weir_wall_ms();
        if (perr == WEIR_ERR_FATAL) {
            fail(&j, WEIR_ERR_IO, "the Kafka consumer failed for good");
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
            j.poll_wait_active = j.poll_wait;
        }
        int tick = now - last_tick >= TICK_MS;
        if (tick) {
            tick_all(&j, now);
            last_tick = now;
        }
        if (n || tick)
            publish(&j, now, tick);
        poll_sinks(&j);
        if (j.rc)
            break;
        if (j.store && now - last_commit >= ckpt_ms) {
            checkpoint(&j, NULL, 0);
            last_commit = weir_wall_ms();
        } else if (!j.store && now - last_commit >= ic.ms) {
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
     * commits and drops the pipelines). What is open is counted before a drain fires it. */
    weir__unit_stats open = pipeline_stats(&j);
    if (!j.rc && drain && strcmp(stopped_by, "drained") == 0)
        finish_all(&j);
    if (!j.rc && j.store)
        checkpoint(&j, NULL, 0); /* releases what the last windows fired */
    if (!j.rc) {
        if (flush_sinks(&j, STOP_FLUSH_MS) == WEIR_ERR_TIMEOUT)
            fail(&j, WEIR_ERR_IO, "results still undelivered after %d s; offsets not committed",
                 STOP_FLUSH_MS / 1000);
        else
            commit(&j, NULL, 0, STOP_FLUSH_MS, 1);
    }
    double elapsed = weir_mono_sec() - t0;
    double active = t_last > t_first ? t_last - t_first : 0;
    /* Open windows are counted before the final revocation drops them; the Kafka counters
     * after the consumer has closed, so that the results of the last commits (served while
     * it closes) are in the summary as they are in the log. */
    weir__unit_stats ps = pipeline_stats(&j);
    weir_err rc = j.rc;
    weir_kafka_source_close(j.src);
    if (env->summary)
        summary(&j, env->summary, &ps, &open, elapsed, active, j.rc && !rc ? "error" : stopped_by);
    /* The first failure is the one reported (fail() keeps it), also when it came while the
     * consumer closed. */
    if (j.rc)
        weir__errf(errstr, errstr_size, "%s", j.reason);
    rc = j.rc;
    free(msgs);
    weir__job_health_input(j.health, 0);
    teardown(&j);
    return rc;
}

/* ---- the payload's reader, for its fuzz target (kafka_job_int.h) ---- */

weir_err weir__kafka_job_accept(weir__kjob_restore *k, const uint8_t *payload, size_t len,
                                char *why, size_t size)
{
    job j;
    memset(&j, 0, sizeof j);
    weir_sink results;
    memset(&results, 0, sizeof results);
    j.conf = k->conf;
    j.kind = k->kind ? k->kind : &weir__pipeline_kind;
    j.meaning = (char *)k->meaning;
    j.results = k->has_results ? &results : NULL;
    j.results_parts = k->results_parts;
    j.slots = (int32_t *)k->slots;
    j.n_slots = k->n_slots;
    part pt = {.pl = k->pl, .held = k->held};
    restore_ctx r = {.j = &j, .pt = &pt, .id = k->unit};
    weir_err rc = accept_ckpt(&r, payload, len, why, size);
    k->seq = r.seq;
    k->parts = r.parts;
    k->next = r.next;
    k->n_parts = r.n_parts;
    k->ends = r.ends;
    k->n_ends = r.n_ends;
    return rc;
}
