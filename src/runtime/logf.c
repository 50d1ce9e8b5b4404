/* The library's one way of logging: format a message, hand it to the caller's callback. */
#include "runtime/logf.h"

#include <stdarg.h>
#include <stdio.h>

void weir__logf(const weir__log *lg, weir_log_level level, const weir_log_field *fields, size_t n,
                const char *fmt, ...)
{
    if (!lg || !lg->fn)
        return;
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    lg->fn(lg->arg, level, msg, fields, n);
}
