/* The table of weir_err descriptions. */
#include <stdarg.h>
#include <stdio.h>

#include "runtime/errbuf.h"
#include "weir/err.h"

void weir__errf(char *errstr, size_t size, const char *fmt, ...)
{
    if (!errstr || !size)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(errstr, size, fmt, ap);
    va_end(ap);
}

const char *weir_err_str(weir_err err)
{
    switch (err) {
    case WEIR_OK: return "success";
    case WEIR_ERR_INVALID_ARG: return "invalid argument";
    case WEIR_ERR_NOMEM: return "out of memory";
    case WEIR_ERR_IO: return "input/output error";
    case WEIR_ERR_PARSE: return "malformed input";
    case WEIR_ERR_CORRUPT: return "corrupt data";
    case WEIR_ERR_UNSUPPORTED: return "unsupported";
    case WEIR_ERR_STATE: return "operation not allowed in the current state";
    case WEIR_ERR_RETRIABLE: return "transient failure, retry may succeed";
    case WEIR_ERR_FATAL: return "permanent failure";
    case WEIR_ERR_NOT_FOUND: return "not found";
    case WEIR_ERR_AUTH: return "authentication failed";
    case WEIR_ERR_TIMEOUT: return "timed out";
    }
    return "unknown error";
}

int weir_err_is_retriable(weir_err err)
{
    return err == WEIR_ERR_RETRIABLE || err == WEIR_ERR_TIMEOUT || err == WEIR_ERR_IO;
}
