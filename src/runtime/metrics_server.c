/* The operations endpoint: /metrics, /healthz and /readyz on libmicrohttpd's internal
 * polling thread. Each request is answered at once from the request callback: a scrape renders
 * the registry into a fresh buffer that libmicrohttpd frees after sending it. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <microhttpd.h>

#include "runtime/errbuf.h"
#include "weir/metrics_server.h"

#define CONTENT_TYPE_METRICS "text/plain; version=0.0.4; charset=utf-8"

struct weir_metrics_server {
    struct MHD_Daemon *d;
    weir_metrics *m;
    weir_metrics_server_opts opts;
    unsigned port;
};

static void log_line(const weir_metrics_server *s, weir_log_level level, const char *msg,
                     const char *detail)
{
    if (!s->opts.log)
        return;
    weir_log_field f[] = {WEIR_LOG_STR("component", "metrics_server"),
                          WEIR_LOG_STR("detail", detail)};
    s->opts.log(s->opts.log_arg, level, msg, f, detail ? 2 : 1);
}

/* libmicrohttpd's own error messages, into the log callback without their newline. */
static void mhd_logger(void *cls, const char *fmt, va_list ap)
{
    char line[512];
    vsnprintf(line, sizeof line, fmt, ap);
    size_t n = strlen(line);
    while (n && (line[n - 1] == '\n' || line[n - 1] == '\r'))
        line[--n] = '\0';
    log_line(cls, WEIR_LOG_WARN, "http server error", line);
}

static enum MHD_Result reply(struct MHD_Connection *c, unsigned status, const char *type,
                             char *body, size_t len, enum MHD_ResponseMemoryMode mode)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(len, body, mode);
    if (!r) {
        if (mode == MHD_RESPMEM_MUST_FREE)
            free(body);
        return MHD_NO;
    }
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    enum MHD_Result ret = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result reply_text(struct MHD_Connection *c, unsigned status, const char *text)
{
    return reply(c, status, "text/plain; charset=utf-8", (char *)text, strlen(text),
                 MHD_RESPMEM_PERSISTENT);
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url,
                              const char *method, const char *version, const char *upload_data,
                              size_t *upload_data_size, void **con_cls)
{
    (void)version;
    (void)upload_data;
    weir_metrics_server *s = cls;
    /* A request body is never wanted: the first call of a request only marks it seen, the
     * later ones swallow whatever was uploaded, and the answer goes out on the last. */
    if (*con_cls == NULL) {
        *con_cls = s;
        return MHD_YES;
    }
    if (*upload_data_size) {
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
        return reply_text(c, MHD_HTTP_METHOD_NOT_ALLOWED, "method not allowed\n");
    if (strcmp(url, "/metrics") == 0) {
        char *body = NULL;
        size_t len = 0;
        if (weir_metrics_render(s->m, &body, &len) != WEIR_OK) {
            log_line(s, WEIR_LOG_ERROR, "cannot render metrics", "out of memory");
            return reply_text(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory\n");
        }
        return reply(c, MHD_HTTP_OK, CONTENT_TYPE_METRICS, body, len, MHD_RESPMEM_MUST_FREE);
    }
    if (strcmp(url, "/healthz") == 0)
        return reply_text(c, MHD_HTTP_OK, "ok\n");
    if (strcmp(url, "/readyz") == 0) {
        if (!s->opts.ready)
            return reply_text(c, MHD_HTTP_OK, "ready\n");
        char reason[256] = "";
        if (s->opts.ready(s->opts.ready_arg, reason, sizeof reason - 1))
            return reply_text(c, MHD_HTTP_OK, "ready\n");
        reason[sizeof reason - 1] = '\0';
        char body[300];
        int n = snprintf(body, sizeof body, "not ready%s%s\n", *reason ? ": " : "", reason);
        return reply(c, MHD_HTTP_SERVICE_UNAVAILABLE, "text/plain; charset=utf-8", body,
                     (size_t)n < sizeof body ? (size_t)n : sizeof body - 1, MHD_RESPMEM_MUST_COPY);
    }
    return reply_text(c, MHD_HTTP_NOT_FOUND, "not found\n");
}

weir_err weir_metrics_server_start(weir_metrics *m, const weir_metrics_server_opts *opts,
                                   weir_metrics_server **out, char *errstr, size_t errstr_size)
{
    weir__errf(errstr, errstr_size, "%s", "");
    if (!m || !opts || !out || opts->port > 65535) {
        weir__errf(errstr, errstr_size, "metrics server: bad arguments");
        return WEIR_ERR_INVALID_ARG;
    }
    const char *host = opts->host ? opts->host : "127.0.0.1";
    struct sockaddr_in v4 = {.sin_family = AF_INET, .sin_port = htons((uint16_t)opts->port)};
    struct sockaddr_in6 v6 = {.sin6_family = AF_INET6, .sin6_port = htons((uint16_t)opts->port)};
    const struct sockaddr *sa;
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO;
    if (inet_pton(AF_INET, host, &v4.sin_addr) == 1) {
        sa = (const struct sockaddr *)&v4;
    } else if (inet_pton(AF_INET6, host, &v6.sin6_addr) == 1) {
        sa = (const struct sockaddr *)&v6;
        flags |= MHD_USE_IPv6;
    } else {
        weir__errf(errstr, errstr_size, "metrics server: host '%s' is not a numeric address", host);
        return WEIR_ERR_INVALID_ARG;
    }
    weir_metrics_server *s = calloc(1, sizeof *s);
    if (!s)
        return WEIR_ERR_NOMEM;
    s->m = m;
    s->opts = *opts;
    s->opts.host = NULL; /* only needed here */
    if (opts->log)
        flags |= MHD_USE_ERROR_LOG;
    /* The logger goes first: libmicrohttpd reports options it parses before it on stderr. */
    s->d = MHD_start_daemon(flags, (uint16_t)opts->port, NULL, NULL, handle, s,
                            MHD_OPTION_EXTERNAL_LOGGER, mhd_logger, s, MHD_OPTION_SOCK_ADDR, sa,
                            MHD_OPTION_CONNECTION_LIMIT, (unsigned)64,
                            MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)10, MHD_OPTION_END);
    if (!s->d) {
        weir__errf(errstr, errstr_size, "metrics server: cannot listen on %s port %u", host,
                   opts->port);
        free(s);
        return WEIR_ERR_IO;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(s->d, MHD_DAEMON_INFO_BIND_PORT);
    s->port = info ? info->port : opts->port;
    *out = s;
    return WEIR_OK;
}

unsigned weir_metrics_server_port(const weir_metrics_server *s)
{
    return s ? s->port : 0;
}

void weir_metrics_server_stop(weir_metrics_server *s)
{
    if (!s)
        return;
    MHD_stop_daemon(s->d);
    free(s);
}
