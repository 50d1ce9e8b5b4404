/* A metrics registry (counters, gauges, histograms with labels) and its Prometheus text
 * exposition (format 0.0.4), with the process metrics and weir_build_info of every binary. */
#ifndef WEIR_METRICS_H
#define WEIR_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "weir/err.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * A registry owns metric families; a family (one name, help text, type and label names)
 * owns its series, one per set of label values. Registering returns a handle to one
 * series; the handle stays valid until weir_metrics_destroy().
 *
 * Names follow Prometheus: [a-zA-Z_:][a-zA-Z0-9_:]*, counters end in `_total`, base units
 * (`_seconds`, `_bytes`). Label names are [a-zA-Z_][a-zA-Z0-9_]* and do not start with
 * `__`; a family has at most WEIR_METRICS_MAX_LABELS of them and at most
 * WEIR_METRICS_MAX_SERIES series. Label values and help texts are any valid UTF-8 (other bytes
 * are WEIR_ERR_INVALID_ARG: Prometheus refuses a scrape holding them); the exposition escapes
 * them. Label values must never carry secrets or unbounded values (user ids, raw paths). Labels are
 * passed as a NULL-terminated array of alternating names and values, e.g. (const char
 * *const[]){"route", "/users", "code", "200", NULL}, or NULL for none.
 *
 * A new registry already holds process_cpu_seconds_total, process_resident_memory_bytes,
 * process_open_fds, process_start_time_seconds (read from /proc at each render) and
 * weir_build_info{version="..."} 1.
 *
 * Thread-safety: registering and rendering take the registry's mutex and may be called from
 * any thread. Updates through a handle (weir_counter_*, weir_gauge_*, weir_histogram_*) take
 * no lock: they are relaxed atomic operations, safe from any thread and concurrently with a
 * render, which sees each value at some recent point (values of different series are not a
 * consistent snapshot).
 */
typedef struct weir_metrics weir_metrics;
typedef struct weir_counter weir_counter;
typedef struct weir_gauge weir_gauge;
typedef struct weir_histogram weir_histogram;

#define WEIR_METRICS_MAX_LABELS  4
#define WEIR_METRICS_MAX_SERIES  4096
#define WEIR_METRICS_MAX_BUCKETS 32

/* Computes a value when the registry renders: called with the registry's mutex held, on the
 * rendering thread, so it must be thread-safe and must not call back into the registry. */
typedef double (*weir_metric_fn)(void *arg);

/* Creates a registry with the process metrics and weir_build_info. Returns WEIR_ERR_NOMEM.
 * The caller frees it with weir_metrics_destroy(). */
weir_err weir_metrics_new(weir_metrics **out);

/* Frees the registry and every series; every handle becomes invalid. Accepts NULL. No other
 * thread may use the registry or its handles during or after the call. */
void weir_metrics_destroy(weir_metrics *m);

/*
 * Returns in *out the counter series of family `name` with `labels`, creating the family
 * (with `help`, copied) and the series (starting at 0) when missing. Registering the same
 * name and label values again returns the same series. Errors: WEIR_ERR_INVALID_ARG for a
 * bad name or label name, a name registered with another type or other label names, or a
 * name that does not end in `_total`; WEIR_ERR_STATE when the family has
 * WEIR_METRICS_MAX_SERIES series; WEIR_ERR_NOMEM. *out is untouched on error.
 */
weir_err weir_metrics_counter(weir_metrics *m, const char *name, const char *help,
                              const char *const *labels, weir_counter **out);

/* As weir_metrics_counter(), for a gauge starting at 0. */
weir_err weir_metrics_gauge(weir_metrics *m, const char *name, const char *help,
                            const char *const *labels, weir_gauge **out);

/*
 * As weir_metrics_counter(), for a histogram with the `n` upper bounds `bounds` (finite,
 * strictly increasing, at most WEIR_METRICS_MAX_BUCKETS; +Inf is implicit), or, when
 * `bounds` is NULL, the default latency buckets in seconds: 0.005 0.01 0.025 0.05 0.1 0.25
 * 0.5 1 2.5 5 10. Every series of a family has the family's buckets: a second registration
 * with other bounds is WEIR_ERR_INVALID_ARG. The label name `le` is reserved.
 */
weir_err weir_metrics_histogram(weir_metrics *m, const char *name, const char *help,
                                const char *const *labels, const double *bounds, size_t n,
                                weir_histogram **out);

/*
 * Registers a gauge series whose value `fn(arg)` computes at each render (see
 * weir_metric_fn). `arg` is not owned and must stay valid until the registry is destroyed.
 * Errors as weir_metrics_gauge(); the same name and labels registered twice is
 * WEIR_ERR_INVALID_ARG.
 */
weir_err weir_metrics_gauge_fn(weir_metrics *m, const char *name, const char *help,
                               const char *const *labels, weir_metric_fn fn, void *arg);

/* As weir_metrics_gauge_fn(), for a counter: `fn` must never return less than before. */
weir_err weir_metrics_counter_fn(weir_metrics *m, const char *name, const char *help,
                                 const char *const *labels, weir_metric_fn fn, void *arg);

/*
 * Removes the series of family `name` with `labels` (a partition no longer assigned, say), so
 * that scrapes stop showing it; the family stays, with its type and label names. The series'
 * handle is freed: no thread may use it during or after the call. A callback series' `arg`
 * is no longer called after the call returns. Returns WEIR_ERR_NOT_FOUND when there is no
 * such series, WEIR_ERR_INVALID_ARG, WEIR_ERR_NOMEM.
 */
weir_err weir_metrics_remove(weir_metrics *m, const char *name, const char *const *labels);

/*
 * Renders every family with at least one series in the text exposition format 0.0.4 (HELP,
 * TYPE, then the samples, in registration order) into a malloc'd, NUL-terminated buffer
 * that the caller frees with free(); *len is its length without the NUL. Returns
 * WEIR_ERR_NOMEM (and *out NULL).
 */
weir_err weir_metrics_render(weir_metrics *m, char **out, size_t *len);

/* Adds `n` to the counter: an atomic add, from any thread. */
void weir_counter_add(weir_counter *c, uint64_t n);
/* Adds 1 to the counter, as weir_counter_add(). */
void weir_counter_inc(weir_counter *c);
/*
 * Publishes `total` as the counter's value: a plain relaxed store, cheaper than an add, for a
 * series that has exactly one writer which keeps its own running total (a pipeline's
 * counters, published once per batch). `total` must never decrease.
 */
void weir_counter_set(weir_counter *c, uint64_t total);
/* The counter's current value. */
uint64_t weir_counter_value(const weir_counter *c);

/* Sets the gauge (relaxed atomic store). */
void weir_gauge_set(weir_gauge *g, double v);
/* Adds `d` (which may be negative) to the gauge: an atomic read-modify-write. */
void weir_gauge_add(weir_gauge *g, double d);
/* The gauge's current value. */
double weir_gauge_value(const weir_gauge *g);

/* Counts `v` in the first bucket whose bound is >= v and adds it to the sum: atomic adds,
 * from any thread. NaN is ignored. */
void weir_histogram_observe(weir_histogram *h, double v);
/* The number of observations so far. */
uint64_t weir_histogram_count(const weir_histogram *h);

#ifdef __cplusplus
}
#endif
#endif
