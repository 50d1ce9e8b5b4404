/* Internal glue between the Kafka connectors and the job's Kafka mode: raw handles, raw
 * produces with headers, and reading a range of a topic with a consumer of no group. */
#ifndef WEIR_CONNECTORS_KAFKA_INT_H
#define WEIR_CONNECTORS_KAFKA_INT_H

#include <librdkafka/rdkafka.h>
#include <stddef.h>
#include <stdint.h>

#include "runtime/logf.h"
#include "weir/kafka.h"

/* Passes one librdkafka log line to `lg` (NULL: drops it), minus the lines weir reports
 * otherwise; for each client's log callback, which librdkafka calls from its threads. */
void weir__kafka_log(const weir__log *lg, const rd_kafka_t *rk, int level, const char *fac,
                     const char *buf);

/* The rate limit of a client's warnings: one line per error kind per 10 s, remembering the
 * last four kinds logged and when (wall-clock seconds). Zero-initialised. */
typedef struct weir__kafka_errlog {
    int err[4];
    int64_t at[4];
} weir__kafka_errlog;

/* 1 when a warning about error `err` is due now (and records that it is logged), 0 while
 * the same kind was logged less than 10 s ago. */
int weir__kafka_errlog_due(weir__kafka_errlog *l, int err);

/* As weir_kafka_sink_new(), with `transactional_id` (NULL: none) making the producer
 * transactional; rd_kafka_init_transactions() is then the caller's. */
weir_sink *weir__kafka_sink_new_tx(const weir_conf *conf, const char *topic, const char *key_field,
                                   const weir_agg_spec *aggs, size_t n_aggs,
                                   const char *transactional_id, char *errstr, size_t errstr_size);

/* The producer of a sink made by weir_kafka_sink_new() (borrowed), NULL for others. */
rd_kafka_t *weir__kafka_sink_handle(weir_sink *s);

/* Produces one message to the sink's topic: key (NULL: none), value, timestamp and one
 * header `hname`=`hval` (hname NULL: none), copying everything. Blocks while the local
 * queue is full, as firings do. Returns the sink's failure, if any. */
weir_err weir__kafka_sink_produce(weir_sink *s, const char *key, size_t key_len, const void *val,
                                  size_t len, int64_t ts, const char *hname, const void *hval,
                                  size_t hval_len);

/* The consumer of a source (borrowed), for its group metadata in transactions. */
rd_kafka_t *weir__kafka_source_handle(weir_kafka_source *src);

/* Sets where a partition being assigned starts reading (and its processed position);
 * only inside the `assigned` callback, which runs before the assignment takes effect. */
void weir__kafka_source_set_start(weir_kafka_source *src, int32_t partition, int64_t offset);

/* The processed positions of `partitions` (those with one), as a list for
 * rd_kafka_send_offsets_to_transaction(); NULL when none. Caller destroys it. */
rd_kafka_topic_partition_list_t *weir__kafka_source_positions(weir_kafka_source *src,
                                                              const int32_t *partitions, size_t n);

/* Records that the positions in `list` are committed (by a transaction). */
void weir__kafka_source_mark_committed(weir_kafka_source *src,
                                       const rd_kafka_topic_partition_list_t *list);

/* One message of a range read: valid during the callback only. */
typedef struct weir__kmsg {
    int32_t partition;
    int64_t offset;
    const char *key; /* NULL when none */
    size_t key_len;
    const uint8_t *val; /* NULL for a tombstone */
    size_t len;
    rd_kafka_message_t *raw; /* for headers */
} weir__kmsg;

typedef void (*weir__kmsg_fn)(void *opaque, const weir__kmsg *m);

/*
 * Reads partitions `parts` of `topic` with `rk` (a consumer of no group) from offsets
 * `from` (RD_KAFKA_OFFSET_BEGINNING allowed) up to their ends as of the call, calling
 * `fn` for each message in offset order per partition. `timeout_ms` bounds the whole
 * read. Returns WEIR_OK, WEIR_ERR_TIMEOUT or WEIR_ERR_IO with the reason in errstr.
 */
weir_err weir__kafka_read_range(rd_kafka_t *rk, const char *topic, const int32_t *parts,
                                const int64_t *from, size_t n, int timeout_ms, weir__kmsg_fn fn,
                                void *opaque, char *errstr, size_t errstr_size);

/* A consumer of no group for weir__kafka_read_range(), configured like the job's clients
 * (isolation.level=read_committed), logging to `log` (borrowed: it must outlive the reader;
 * NULL: nowhere). NULL with a reason in errstr. */
rd_kafka_t *weir__kafka_reader_new(const weir_conf *conf, const weir__log *log, char *errstr,
                                   size_t errstr_size);

/* The number of partitions of `topic` (metadata from `rk`), or -1 when it does not exist,
 * -2 when the metadata could not be had (reason in errstr). */
int weir__kafka_partition_count(rd_kafka_t *rk, const char *topic, char *errstr,
                                size_t errstr_size);

/* End offsets of partitions 0..n-1 of `topic` into `out` (ListOffsets latest). */
weir_err weir__kafka_end_offsets(rd_kafka_t *rk, const char *topic, int n, int64_t *out,
                                 char *errstr, size_t errstr_size);

#endif
