/* The sink wrappers (NULL-tolerant), and sinks of the caller's own (weir_sink_new). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/errbuf.h"
#include "runtime/sink_int.h"

weir_sink *weir_sink_new(const weir_sink_ops *ops, void *impl, char *errstr, size_t errstr_size)
{
    const char *missing = !ops           ? "ops"
                          : !ops->firing ? "firing"
                          : !ops->record ? "record"
                          : !ops->flush  ? "flush"
                                         : NULL;
    if (missing) {
        weir__errf(errstr, errstr_size, "weir_sink_new: sink \"%s\" is missing its %s function",
                   ops && ops->name ? ops->name : "", missing);
        return NULL;
    }
    weir_sink *s = calloc(1, sizeof *s);
    if (!s) {
        weir__errf(errstr, errstr_size, "weir_sink_new: out of memory");
        return NULL;
    }
    s->ops = ops;
    s->impl = impl;
    s->custom = 1;
    return s;
}

void *weir_sink_impl(const weir_sink *s)
{
    return s ? s->impl : NULL;
}

uint64_t weir_sink_written(const weir_sink *s)
{
    return s ? s->written : 0;
}

uint64_t weir_sink_retries(const weir_sink *s)
{
    return s ? s->retries : 0;
}

void weir_sink_set_error(weir_sink *s, const char *msg)
{
    if (s)
        snprintf(s->error, sizeof s->error, "%s", msg ? msg : "");
}

weir_err weir_sink_firing(weir_sink *s, const weir_firing *f)
{
    if (!s)
        return WEIR_OK;
    weir_err rc = s->ops->firing(s, f);
    if (rc == WEIR_OK && s->custom)
        s->written++;
    return rc;
}

weir_err weir_sink_record(weir_sink *s, weir_slice record, int32_t partition)
{
    if (!s)
        return WEIR_OK;
    weir_err rc = s->ops->record(s, record, partition);
    if (rc == WEIR_OK && s->custom)
        s->written++;
    return rc;
}

weir_err weir_sink_flush(weir_sink *s, int timeout_ms)
{
    return s ? s->ops->flush(s, timeout_ms) : WEIR_OK;
}

weir_err weir_sink_poll(weir_sink *s)
{
    return s && s->ops->poll ? s->ops->poll(s) : WEIR_OK;
}

void weir_sink_destroy(weir_sink *s)
{
    if (!s)
        return;
    int custom = s->custom;
    if (s->ops->destroy)
        s->ops->destroy(s);
    if (custom)
        free(s);
}

const char *weir_sink_error(const weir_sink *s)
{
    return s ? s->error : "";
}
