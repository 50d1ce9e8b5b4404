/* The operations endpoint of a binary: /metrics, /healthz and /readyz over HTTP, served by
 * libmicrohttpd from its own thread. */
#ifndef WEIR_METRICS_SERVER_H
#define WEIR_METRICS_SERVER_H

#include <stddef.h>

#include "weir/err.h"
#include "weir/log.h"
#include "weir/metrics.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Says whether the binary is ready for traffic: returns 1 when ready, 0 when not, and may
 * write a one-line reason (no secrets) into `reason` (reason_size > 0, NUL-terminated). Called
 * on the server's thread for each GET /readyz, so it must be thread-safe and quick.
 */
typedef int (*weir_ready_fn)(void *arg, char *reason, size_t reason_size);

typedef struct weir_metrics_server_opts {
    const char *host;    /* numeric IPv4 or IPv6 address to listen on; NULL: "127.0.0.1" */
    unsigned port;       /* 0: a free port, see weir_metrics_server_port() */
    weir_ready_fn ready; /* NULL: ready whenever the server answers */
    void *ready_arg;
    weir_log_fn log; /* server errors (bind, accept, out of memory); NULL: none */
    void *log_arg;
} weir_metrics_server_opts;

/*
 * A running endpoint:
 *   GET /metrics  200, Content-Type text/plain; version=0.0.4; charset=utf-8, the rendering
 *                 of the registry (weir_metrics_render())
 *   GET /healthz  200 "ok" while the process serves
 *   GET /readyz   200 "ready", or 503 with the readiness callback's reason
 * HEAD is answered as GET without a body; other methods get 405, other paths 404.
 *
 * Thread-safety: weir_metrics_server_start() and weir_metrics_server_stop() are called by the
 * owner of the binary, once each, from one thread; weir_metrics_server_port() from any. The
 * server's thread calls `ready` and `log` and renders the registry, never blocking the
 * threads that update the registry's series.
 */
typedef struct weir_metrics_server weir_metrics_server;

/*
 * Starts listening on opts->host:opts->port and serving `m` (not owned: it must outlive the
 * server). `opts` is copied (host too). Returns WEIR_ERR_INVALID_ARG (bad host, port > 65535),
 * WEIR_ERR_IO (the address cannot be bound, e.g. the port is in use; errstr says which), or
 * WEIR_ERR_NOMEM. Stop and free with weir_metrics_server_stop().
 */
weir_err weir_metrics_server_start(weir_metrics *m, const weir_metrics_server_opts *opts,
                                   weir_metrics_server **out, char *errstr, size_t errstr_size);

/* The port the server listens on (the chosen one when opts->port was 0). */
unsigned weir_metrics_server_port(const weir_metrics_server *s);

/* Stops listening, waits for the server's thread to end (requests in progress finish first)
 * and frees the server. Accepts NULL. */
void weir_metrics_server_stop(weir_metrics_server *s);

#ifdef __cplusplus
}
#endif
#endif
