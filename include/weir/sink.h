/* Sinks: where firings and side-output records go (files, Kafka, DynamoDB). */
#ifndef WEIR_SINK_H
#define WEIR_SINK_H

#include <stddef.h>
#include <stdint.h>

#include "weir/conf.h"
#include "weir/err.h"
#include "weir/event.h"
#include "weir/window.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * A sink is a small object behind a table of functions. Firings arrive through
 * `firing` (formatted by the sink: JSON lines, Kafka messages, DynamoDB items);
 * side outputs (late and invalid records) arrive unchanged through `record`.
 * A sink may buffer; `flush` waits until everything accepted so far is durable
 * at its destination or returns the error that prevents it.
 *
 * Backpressure: `firing` and `record` may block (bounded) while the destination
 * is behind; they never drop. A non-zero return from them is a final failure
 * that stops the job; the sink keeps a one-line reason for weir_sink_error().
 *
 * Thread-safety: a sink is used by one pipeline thread at a time.
 *
 * weir_sink is opaque. The library's sinks are made by their constructors below (and in
 * weir/kafka.h, weir/dynamodb.h); a sink of your own is a table of functions and a state
 * pointer given to weir_sink_new().
 */
typedef struct weir_sink weir_sink;

typedef struct weir_sink_ops {
    const char *name; /* "file", "kafka", "dynamodb" */
    weir_err (*firing)(weir_sink *s, const weir_firing *f);
    weir_err (*record)(weir_sink *s, weir_slice record, int32_t partition);
    weir_err (*flush)(weir_sink *s, int timeout_ms);
    /* Serves callbacks and retries without blocking; may be NULL. */
    weir_err (*poll)(weir_sink *s);
    void (*destroy)(weir_sink *s);
} weir_sink_ops;

/*
 * A sink of your own: `ops` (which must outlive the sink) and your state `impl`, which the
 * ops reach with weir_sink_impl(). `firing`, `record` and `flush` are required; `poll` may be
 * NULL; `destroy` may be NULL when `impl` needs no freeing, otherwise it frees `impl` (the
 * library frees the sink itself after it). Ownership of `impl` passes to the sink only once
 * this succeeds. Returns NULL when a required function is missing (with its name in errstr)
 * or when out of memory (WEIR_ERR_NOMEM's message in errstr).
 */
weir_sink *weir_sink_new(const weir_sink_ops *ops, void *impl, char *errstr, size_t errstr_size);

/* The state given to weir_sink_new(); NULL for the library's own sinks. */
void *weir_sink_impl(const weir_sink *s);

/* Firings and records the sink accepted: for a sink of weir_sink_new(), the calls of
 * weir_sink_firing() and weir_sink_record() that returned WEIR_OK; the library's sinks count
 * what they accepted for delivery (DynamoDB: items written). 0 for NULL. */
uint64_t weir_sink_written(const weir_sink *s);

/* Deliveries the sink retried (network sinks); 0 for others and for NULL. */
uint64_t weir_sink_retries(const weir_sink *s);

/* Records `msg` (cut to 255 bytes) as the sink's final error, which weir_sink_error()
 * returns: what a custom sink's function does before it returns a failure. */
void weir_sink_set_error(weir_sink *s, const char *msg);

/* Convenience wrappers that tolerate NULL sinks (they do nothing and succeed). */
weir_err weir_sink_firing(weir_sink *s, const weir_firing *f);
weir_err weir_sink_record(weir_sink *s, weir_slice record, int32_t partition);
weir_err weir_sink_flush(weir_sink *s, int timeout_ms);
weir_err weir_sink_poll(weir_sink *s);
/* Flushes nothing: frees the sink. Accepts NULL. */
void weir_sink_destroy(weir_sink *s);
/* The sink's last final error message, "" if none. */
const char *weir_sink_error(const weir_sink *s);

/*
 * A sink of JSON lines to `path` ("-" is standard output). Firings are written
 * as weir_firing_to_json() lines; records as their raw bytes plus a newline.
 * Output is buffered and written in large blocks. Returns NULL with a reason
 * in errstr when the file cannot be opened. `aggs` must outlive the sink.
 */
weir_sink *weir_file_sink_new(const char *path, const char *key_field, const weir_agg_spec *aggs,
                              size_t n_aggs, char *errstr, size_t errstr_size);

/*
 * As weir_file_sink_new(), for a job that resumes from a checkpoint: `resume_at` >= 0
 * keeps the first `resume_at` bytes of an existing file and cuts the rest (what was
 * written after the checkpoint is written again by the replay); -1 truncates the file.
 * Standard output ("-") cannot resume: WEIR_ERR_INVALID_ARG.
 */
weir_err weir_file_sink_open(const char *path, const char *key_field, const weir_agg_spec *aggs,
                             size_t n_aggs, int64_t resume_at, weir_sink **out, char *errstr,
                             size_t errstr_size);

/* Bytes the file sink has accepted so far (its file's length once flushed). */
int64_t weir_file_sink_offset(const weir_sink *s);

/* Writes out the file sink's buffer and fsyncs the file: what it accepted survives a crash
 * of the machine. Returns WEIR_ERR_IO with the reason in the sink's error. */
weir_err weir_file_sink_sync(weir_sink *s);

#ifdef __cplusplus
}
#endif
#endif
