/* A firing's JSON record into a growable buffer: what the sinks that format one firing at a
 * time (Kafka, held results) share. */
#ifndef WEIR_RUNTIME_OUTPUT_BUF_H
#define WEIR_RUNTIME_OUTPUT_BUF_H

#include <stddef.h>

#include "weir/sink.h"

/* Writes weir_firing_to_json() of `f` for sink `s` (its key field and aggregates) into
 * *buf, growing it (*cap bytes) when it is too small. Returns the record's length, or
 * (size_t)-1 when the buffer cannot grow (it is then unchanged). */
size_t weir__firing_json(const weir_sink *s, const weir_firing *f, char **buf, size_t *cap);

#endif
