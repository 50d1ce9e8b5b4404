/* The header every sink of the library starts with. Public code sees weir_sink as opaque and
 * makes its own sinks with weir_sink_new() (weir/sink.h); the library's sinks embed this
 * header as their first member and cast between the two. */
#ifndef WEIR_RUNTIME_SINK_INT_H
#define WEIR_RUNTIME_SINK_INT_H

#include <stddef.h>
#include <stdint.h>

#include "weir/sink.h"

struct weir_sink {
    const weir_sink_ops *ops;
    const char *key_field;     /* NULL in a global aggregation */
    const weir_agg_spec *aggs; /* the operator's aggregates, for field names */
    size_t n_aggs;
    uint64_t written; /* firings or records accepted: each sink counts its own */
    uint64_t retries; /* retried deliveries (network sinks) */
    void *impl;       /* a custom sink's state (weir_sink_new); NULL for the library's */
    int custom;       /* made by weir_sink_new: the header is the library's to free */
    char error[256];  /* last final error, "" if none */
};

#endif
