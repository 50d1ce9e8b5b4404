/* What the services and product-import share to be operated: the flags --log-format,
 * --log-level, --check-config, --metrics-port and --metrics-host (named as the jobs name
 * theirs), and a weir_logger on stderr that masks the platform's secrets. */
#ifndef SVC_OPS_H
#define SVC_OPS_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <weir/log.h>

typedef struct svc_ops {
    weir_log_format log_format;
    weir_log_level log_level;
    bool check;               /* --check-config: validate, then exit 0 or 2 without starting */
    unsigned metrics_port;    /* 0: /metrics on the service's own listener */
    const char *metrics_host; /* numeric address of the --metrics-port endpoint */
    bool no_listener;         /* set before parsing by a binary without --listen (product-import):
                                 --metrics-port 0 then means no endpoint at all */
} svc_ops;

/* The defaults: text at info, no check, /metrics on the listener, host 127.0.0.1. */
void svc_ops_init(svc_ops *o);

/* Takes argv[*i] when it is one of the flags above (with `metrics`, also --metrics-port and
 * --metrics-host), moving *i past its value. Returns 1 when it took the flag, 0 when the
 * flag is not one of them, 2 with a one-line reason in err (naming the flag and what it
 * accepts) when its value is bad or missing. */
int svc_ops_flag(svc_ops *o, bool metrics, int argc, char **argv, int *i, char *err,
                 size_t err_size);

/* The help lines of these flags. */
void svc_ops_usage(FILE *out, bool metrics);

struct svc_server;
/* Waits for one of `sigs` (blocked by the caller: SIGTERM, SIGINT), logs it, and drains the
 * server's in-flight requests for up to 10 s, warning about those left. Every service's end. */
void svc_ops_wait_and_drain(struct svc_server *s, const sigset_t *sigs, weir_logger *lg);

/* One environment variable a binary reads: its name, the flag that wins over it (NULL: none)
 * and what it sets. */
typedef struct svc_env_doc {
    const char *name, *flag, *meaning;
} svc_env_doc;

/* Writes the binary's section of docs/CONFIGURATION.md, what its --config-doc prints: the
 * flags it accepts (`accepted`: the comma-separated list its unknown-flag error gives), the
 * environment variables it reads (n entries) and its --help text, printed by help(out). */
void svc_ops_config_doc(FILE *out, const char *name, const char *accepted, const svc_env_doc *env,
                        size_t n, void (*help)(FILE *out, const void *arg), const void *arg);

/* A logger for the binary `name` on stderr in the format and level of `o`, masking the
 * secrets of the environment (AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN, AWS_ACCESS_KEY_ID,
 * DB_PASSWORD) and the password inside `db` (a postgresql:// URL or a libpq key=value
 * string; may be NULL). NULL when out of memory. Free with weir_logger_destroy(). */
weir_logger *svc_ops_logger(const char *name, const svc_ops *o, const char *db);

#endif
