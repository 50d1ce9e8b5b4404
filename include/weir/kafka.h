/* Kafka connectors (librdkafka): the results and dead-letter sink, the consumer-group
 * source, and the job's Kafka mode that ties them to pipelines. See docs/KAFKA.md. */
#ifndef WEIR_KAFKA_H
#define WEIR_KAFKA_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "weir/aggregate.h"
#include "weir/conf.h"
#include "weir/err.h"
#include "weir/job.h"
#include "weir/sink.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Client properties. Both clients get bootstrap.servers from the key `brokers`, then
 * every explicitly set `kafka.<prop>` key as librdkafka property <prop>; the producer
 * also gets `kafka.producer.<prop>` and the consumer `kafka.consumer.<prop>`, applied
 * last so they win. Properties weir sets itself before those (and which they may
 * override): producer enable.idempotence=true, partitioner=murmur2_random (Java's
 * partitioning of keys), linger.ms=5; consumer enable.auto.commit=false,
 * enable.auto.offset.store=false, auto.offset.reset=earliest,
 * partition.assignment.strategy=cooperative-sticky, enable.partition.eof=true,
 * queued.min.messages=1000000, queued.max.messages.kbytes=262144 (prefetch enough to keep
 * fetching and processing overlapped, up to about 256 MB of payload; see docs/KAFKA.md).
 */

/* ---------------------------------------------------------------- sink */

/*
 * A sink that produces to `topic` with its own idempotent producer.
 * - firing: key = the firing's key (no key in a global aggregation), value = the
 *   weir_firing_to_json() record, message timestamp = window_end - 1.
 * - record (dead letters, late records): the record's bytes unchanged, no key.
 * Delivery errors that librdkafka can retry are retried by it (within
 * message.timeout.ms); a final failure is kept in sink->error and makes the next
 * firing/record/flush/poll call fail with WEIR_ERR_IO (WEIR_ERR_FATAL when the
 * producer itself failed for good), so the job stops instead of losing results.
 * firing and record block (polling the producer) while librdkafka's queue is full.
 * flush = rd_kafka_flush: WEIR_ERR_TIMEOUT when deliveries are still pending.
 *
 * `key_field` and `aggs` (NULL/0 for a sink that only takes records) must outlive
 * the sink. Returns NULL with a reason in errstr on a bad property or when the
 * producer cannot be created. Free with weir_sink_destroy(), which does not wait:
 * messages not yet delivered are dropped, so flush first.
 * Thread-safety: one thread at a time, as every sink.
 */
weir_sink *weir_kafka_sink_new(const weir_conf *conf, const char *topic, const char *key_field,
                               const weir_agg_spec *aggs, size_t n_aggs, char *errstr,
                               size_t errstr_size);

typedef struct weir_kafka_sink_stats {
    uint64_t produced;   /* messages handed to librdkafka */
    uint64_t delivered;  /* messages the broker acknowledged */
    uint64_t failed;     /* messages whose delivery failed for good */
    uint64_t bytes;      /* value bytes produced */
    uint64_t queue_full; /* times the sink blocked on a full local queue */
} weir_kafka_sink_stats;

/* Copies the counters of a sink made by weir_kafka_sink_new(); zeroes `out` for any
 * other sink. */
void weir_kafka_sink_stats_get(const weir_sink *s, weir_kafka_sink_stats *out);

/* ---------------------------------------------------------------- source */

/*
 * A member of a consumer group that reads one topic (the key `input.topic`, group
 * `group.id`) in batches. Offsets are never committed automatically: the owner
 * reports what it has processed with weir_kafka_source_processed() and commits it
 * with weir_kafka_source_commit(), so a committed offset is never ahead of what
 * was processed.
 *
 * Rebalances (eager or cooperative, whichever the assignor uses) are handled
 * inside weir_kafka_source_poll() and weir_kafka_source_close(), on the calling
 * thread: `revoked` is called before partitions go away (lost = 1 when the
 * assignment was lost, e.g. the session timed out: committing is then pointless),
 * and it is the place to flush and commit them; `assigned` is called when new
 * partitions are added, before they start fetching (so the owner can restore their
 * state first; they are read from their committed offsets, or from
 * auto.offset.reset when they have none, unless the job's checkpoints say
 * otherwise). Messages of a partition that is no longer assigned are
 * never returned after its `revoked` call.
 *
 * Thread-safety: one thread at a time.
 */
typedef struct weir_kafka_source weir_kafka_source;

typedef struct weir_kafka_rebalance_cbs {
    void (*assigned)(void *opaque, const int32_t *partitions, size_t n);
    void (*revoked)(void *opaque, const int32_t *partitions, size_t n, int lost);
} weir_kafka_rebalance_cbs;

/* One message of a batch; data and key stay valid until the next poll, close or
 * destroy. */
typedef struct weir_kafka_msg {
    const char *data;
    size_t len;
    const char *key; /* NULL when the message has no key */
    size_t key_len;
    int32_t partition;
    int64_t offset;
    int64_t timestamp; /* ms, -1 when none */
} weir_kafka_msg;

typedef struct weir_kafka_source_stats {
    uint64_t messages;   /* messages returned */
    uint64_t bytes;      /* their value bytes */
    uint64_t rebalances; /* assignment changes */
    uint64_t commits;    /* commit requests that succeeded */
    uint64_t commit_errors;
    uint64_t errors; /* consumer errors reported (transport, unknown topic, ...) */
    int assigned;    /* partitions assigned now */
} weir_kafka_source_stats;

/* Creates the consumer and subscribes to `input.topic`. `cbs` may be NULL. Returns
 * NULL with a reason in errstr on a bad property (the caller's configuration). */
weir_kafka_source *weir_kafka_source_new(const weir_conf *conf, const weir_kafka_rebalance_cbs *cbs,
                                         void *opaque, char *errstr, size_t errstr_size);

/*
 * Waits up to `timeout_ms` for messages and returns up to `max` of them in `out`
 * (0 on timeout), in partition order as fetched. Releases the previous batch.
 * End-of-partition events and consumer errors are consumed here (see stats and
 * weir_kafka_source_drained()); errors are logged through the conf's weir_log_fn
 * and librdkafka keeps retrying. Sets *err (when non-NULL) to WEIR_ERR_FATAL on a fatal consumer
 * error, WEIR_ERR_NOMEM when the batch cannot be allocated, otherwise WEIR_OK.
 */
size_t weir_kafka_source_poll(weir_kafka_source *src, weir_kafka_msg *out, size_t max,
                              int timeout_ms, weir_err *err);

/* Notes that every message of `partition` up to and including `offset` has been
 * processed. Ignored for partitions not assigned. */
void weir_kafka_source_processed(weir_kafka_source *src, int32_t partition, int64_t offset);

/*
 * Commits the processed positions of the assigned partitions that moved since their
 * last commit (`partitions` NULL), or of the listed ones. `sync` waits for the
 * answer. Returns WEIR_OK (also when nothing needed committing) or
 * WEIR_ERR_RETRIABLE with a reason in errstr; async results only show in stats.
 */
weir_err weir_kafka_source_commit(weir_kafka_source *src, const int32_t *partitions, size_t n,
                                  int sync, char *errstr, size_t errstr_size);

/* Returns 1 when partitions are assigned, every one has reported end of partition
 * and none has returned a message since. */
int weir_kafka_source_drained(const weir_kafka_source *src);

/* Returns 1 when every assigned partition has returned a message or reported its end
 * since it was assigned (its fetching has begun), 0 while one has not. */
int weir_kafka_source_started(const weir_kafka_source *src);

/* Copies the counters. */
void weir_kafka_source_stats_get(const weir_kafka_source *src, weir_kafka_source_stats *out);

/* Leaves the group: the `revoked` callback runs for every assigned partition (so it
 * can commit), then the consumer closes. Idempotent. */
void weir_kafka_source_close(weir_kafka_source *src);

/* Closes (if not yet) and frees the source. Accepts NULL. */
void weir_kafka_source_destroy(weir_kafka_source *src);

/* ---------------------------------------------------------------- checkpoint store */

/*
 * Checkpoints in a Kafka topic (meant to be compacted), so that any member of a consumer
 * group can restore the state of any partition it is given. A checkpoint of a stream
 * `name` (the job uses "<group>/<input topic>/<partition>") is split into chunks of at
 * most 512 KiB, keyed "<name>|c<slot>.<index>", followed by a manifest keyed
 * "<name>|m<slot>", where slot = sequence mod `keep`: compaction keeps the newest `keep`
 * checkpoints of every stream and nothing else. A stream's messages all go to partition
 * `hint` mod (the topic's partition count), in order, so its manifest is always written
 * after its chunks. Formats (little-endian), in docs/CHECKPOINTS.md:
 *   chunk:    "WEIRCHNK", u32 version 1, u32 index, u32 count, u32 0, u64 sequence, bytes
 *   manifest: "WEIRMANI", u32 version 1, u32 chunk count, u64 sequence, u64 payload
 *             length, u64 XXH64 of the payload, u64 XXH64 of the manifest before it
 * Thread-safety: one thread per store.
 */
typedef struct weir_kafka_ckpt weir_kafka_ckpt;

/*
 * Opens the store on `topic`. Writes go through `producer` (an rd_kafka_t producer,
 * borrowed: its delivery reports are its owner's), or, when NULL, through an
 * idempotent producer of the store's own. Reads use a consumer of no group with
 * isolation.level=read_committed. A topic that does not exist is created compacted
 * with `partitions` partitions when the cluster allows it. Returns WEIR_ERR_NOT_FOUND
 * (the topic is missing and cannot be created), WEIR_ERR_INVALID_ARG (a bad client
 * property) or WEIR_ERR_IO, with a one-line reason naming checkpoint.topic.
 */
weir_err weir_kafka_ckpt_open(const weir_conf *conf, const char *topic, int keep, int partitions,
                              void *producer, weir_kafka_ckpt **out, char *errstr,
                              size_t errstr_size);

/* Frees the store (not a borrowed producer). Accepts NULL. */
void weir_kafka_ckpt_close(weir_kafka_ckpt *s);

/*
 * Produces checkpoint `seq` (> 0, increasing per stream) of stream `name` holding
 * `payload` (copied). Does not wait: weir_kafka_ckpt_flush() (or a flush of the
 * borrowed producer, or a transaction's commit) makes it durable. Returns
 * WEIR_ERR_IO / WEIR_ERR_FATAL when the producer refuses, with the reason; WEIR_ERR_STATE
 * for `seq` 0 (sequences start at 1: 0 is the wrap after 2^64-1, which is refused).
 */
weir_err weir_kafka_ckpt_write(weir_kafka_ckpt *s, const char *name, int32_t hint, uint64_t seq,
                               const uint8_t *payload, size_t len, char *errstr,
                               size_t errstr_size);

/* Waits until every write so far is delivered. WEIR_ERR_TIMEOUT, or WEIR_ERR_IO when a
 * write of the store's own producer failed for good. */
weir_err weir_kafka_ckpt_flush(weir_kafka_ckpt *s, int timeout_ms, char *errstr,
                               size_t errstr_size);

/*
 * Offers the checkpoints of stream `name` to `accept`, newest first, until one is
 * accepted (as weir_ckpt_dir_load): a manifest or chunk that is damaged, truncated, of
 * a foreign format or of another checkpoint is reported through `log` (NULL: not reported;
 * one warning, called with `log_arg` on the caller's thread) and the
 * next older checkpoint is tried; a state is never half loaded. *max_seq (when non-NULL)
 * receives the highest sequence seen for the stream, usable or not, so that new
 * checkpoints sort after it. Returns WEIR_OK, WEIR_ERR_NOT_FOUND (none), WEIR_ERR_CORRUPT
 * (some, none usable), WEIR_ERR_TIMEOUT/IO (the topic could not be read), or the error
 * `accept` returned to stop.
 */
weir_err weir_kafka_ckpt_load(weir_kafka_ckpt *s, const char *name, int32_t hint,
                              weir_err (*accept)(void *opaque, const uint8_t *payload, size_t len,
                                                 char *errstr, size_t errstr_size),
                              void *opaque, uint64_t *max_seq, weir_log_fn log, void *log_arg,
                              char *errstr, size_t errstr_size);

/* Writes tombstones over every checkpoint of `name` (a fresh start). Not waited for. */
weir_err weir_kafka_ckpt_clear(weir_kafka_ckpt *s, const char *name, int32_t hint, char *errstr,
                               size_t errstr_size);

/* ---------------------------------------------------------------- the job */

/*
 * Runs the windowed job of `conf` over the Kafka topic `input.topic` until *stop
 * becomes non-zero (a signal handler sets it), a sink fails, or, with
 * stop_when_idle_ms > 0, every assigned partition has reached its end and no
 * message has arrived for stop_when_idle_ms.
 *
 * - input.keyed=true (and global=false): one pipeline per assigned partition,
 *   created on assignment and destroyed on revocation after its sinks are flushed
 *   and its processed offset committed; its unfired windows are dropped, not emitted.
 * - input.keyed=false or global=true: one pipeline over every assigned partition,
 *   its watermark the minimum over them (idle ones excluded after
 *   watermark.idle.timeout).
 * Firings go to a Kafka sink on `output.topic` (when not empty) and to each of
 * `extra_sinks` (not owned; they must be made for the same key field and
 * aggregates). Invalid records go unchanged to `dead.letter.topic` when set, else to
 * the file `dead.letter.path` when set; late records to `late.output.path`.
 * Offsets are committed every kafka auto.commit.interval.ms (5 s unless set), after
 * every sink has been flushed, so a committed offset's results are delivered.
 *
 * With `checkpoint.topic` set, each partition's pipeline (keyed mode; in global mode
 * the one pipeline, with every partition's offset) is checkpointed there every checkpoint.interval,
 * on revocation and at the stop; firings for `output.topic` are held until the checkpoint that
 * covers them is durable, then produced with a `weir-ckpt` header; offsets are committed with the
 * checkpoint (in one transaction with `exactly.once`). A partition's next owner restores its newest
 * usable checkpoint, produces the held firings the results topic lacks and reads on from the
 * checkpoint's offset (docs/CHECKPOINTS.md). A checkpoint of another meaning, or none usable, stops
 * the job with exit 2 unless `reset.state`.
 *
 * At the stop every sink is flushed and the processed offsets are committed. The
 * pipelines' open windows do not fire (the input is unbounded), except when `drain`
 * is set and the stop is the drained-input one: then every pipeline finishes first
 * and its last windows fire (what a file run gives).
 *
 * Writes one JSON summary line on env->summary (when non-NULL) at the stop, stops when
 * *env->stop becomes non-zero, and logs through the callback of weir_conf_set_log(). Returns
 * WEIR_OK on a clean stop; WEIR_ERR_INVALID_ARG, WEIR_ERR_CORRUPT or WEIR_ERR_UNSUPPORTED when
 * the configuration (or the checkpoints it finds) cannot be used; any other code for an I/O,
 * peer or delivery failure; with one line in errstr. `env` may be NULL.
 */
weir_err weir_kafka_job_run(const weir_conf *conf, weir_sink *const *extra_sinks, size_t n_extra,
                            int stop_when_idle_ms, int drain, const weir_job_env *env, char *errstr,
                            size_t errstr_size);

/* ---------------------------------------------------------------- client properties */

struct rd_kafka_conf_s;

/*
 * Fills `rk_conf` (an rd_kafka_conf_t) for a client of role "producer" or
 * "consumer": bootstrap.servers from `brokers`, then `defaults` (name, value,
 * name, value, ..., NULL), then the pass-through keys as described above. For
 * services and tools that need their own Kafka client configured like the job's.
 * Returns WEIR_ERR_INVALID_ARG naming the key librdkafka refused.
 */
weir_err weir_kafka_conf_apply(struct rd_kafka_conf_s *rk_conf, const weir_conf *conf,
                               const char *role, const char *const *defaults, char *errstr,
                               size_t errstr_size);

#ifdef __cplusplus
}
#endif
#endif
