/* The services' common main: configuration, store, server and the SIGTERM drain. */
#include "svc.h"

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <weir/metrics_server.h>

typedef struct cfg_buf {
    char conninfo[1024];
} cfg_buf;

static void usage(const svc_spec *spec, FILE *out)
{
    fprintf(out,
            "usage: %s [--listen HOST:PORT] [--db PATH|postgresql://...] [--threads N]\n"
            "          [--body-limit BYTES]%s\n"
            "          [--log-format text|json] [--log-level LEVEL] [--metrics-port PORT]\n"
            "          [--metrics-host ADDR] [--check-config]\n"
            "  --listen      address to serve on (default %s; port 0 picks a free one and\n"
            "                the first line on stdout is the bound HOST:PORT); it serves the\n"
            "                API, /healthz, /readyz and /metrics (Prometheus)\n",
            spec->name, spec->uses_brokers ? " [--brokers HOST:PORT,...] [--topic NAME]" : "",
            spec->default_listen);
    if (!spec->no_store)
        fputs("  --db          SQLite file (default weir-services.db) or PostgreSQL URL; without\n"
              "                it DB_HOST, DB_PORT, DB_NAME, DB_USER, DB_PASSWORD select "
              "PostgreSQL\n",
              out);
    fputs("  --threads     worker threads and store connections, 1..256 (default 4)\n"
          "  --body-limit  largest request body in bytes, 1..1073741824 (default 1048576)\n",
          out);
    if (spec->uses_brokers)
        fprintf(out,
                "  --brokers     Kafka bootstrap servers (or KAFKA_BOOTSTRAP_SERVERS)\n"
                "  --topic       topic of the events (default %s%s%s)\n",
                spec->default_topic, spec->topic_env ? ", or " : "",
                spec->topic_env ? spec->topic_env : "");
    if (spec->extra_usage)
        fputs(spec->extra_usage, out);
    svc_ops_usage(out, true);
}

static void help(FILE *out, const void *spec)
{
    usage(spec, out);
}

/* The flags a service accepts, comma-separated, as its unknown-flag error lists them. */
static void accepted_flags(const svc_spec *spec, char *buf, size_t size)
{
    snprintf(buf, size,
             "--listen,%s --threads, --body-limit%s%s, --log-format, --log-level, --metrics-port, "
             "--metrics-host, --check-config, --config-doc, --help",
             spec->no_store ? "" : " --db,", spec->uses_brokers ? ", --brokers, --topic" : "",
             spec->extra_flags ? spec->extra_flags : "");
}

/* --config-doc: the service's section of docs/CONFIGURATION.md. */
static void config_doc(const svc_spec *spec, FILE *out)
{
    char accepted[384];
    accepted_flags(spec, accepted, sizeof accepted);
    svc_env_doc env[8];
    size_t n = 0;
    if (spec->uses_brokers)
        env[n++] = (svc_env_doc){"KAFKA_BOOTSTRAP_SERVERS", "--brokers", "Kafka bootstrap servers"};
    if (spec->uses_brokers && spec->topic_env)
        env[n++] = (svc_env_doc){spec->topic_env, "--topic", "the topic the events go to"};
    if (!spec->no_store) {
        env[n++] = (svc_env_doc){"DB_HOST", "--db",
                                 "PostgreSQL host; when set, the DB_* variables select PostgreSQL "
                                 "instead of the SQLite file"};
        env[n++] = (svc_env_doc){"DB_PORT", "--db", "PostgreSQL port (with DB_HOST)"};
        env[n++] = (svc_env_doc){"DB_NAME", "--db", "PostgreSQL database (with DB_HOST)"};
        env[n++] = (svc_env_doc){"DB_USER", "--db", "PostgreSQL user (with DB_HOST)"};
        env[n++] = (svc_env_doc){"DB_PASSWORD", "--db",
                                 "PostgreSQL password (with DB_HOST); never logged"};
    }
    svc_ops_config_doc(out, spec->name, accepted, env, n, help, spec);
}

/* libpq keyword values are quoted, with \ and ' escaped. */
static bool append_kv(char *buf, size_t size, const char *key, const char *val)
{
    if (!val || !*val)
        return true;
    size_t n = strlen(buf);
    int w = snprintf(buf + n, size - n, "%s%s='", n ? " " : "", key);
    if (w < 0 || (size_t)w >= size - n)
        return false;
    n += (size_t)w;
    for (const char *v = val; *v; v++) {
        if (n + 3 >= size)
            return false;
        if (*v == '\\' || *v == '\'')
            buf[n++] = '\\';
        buf[n++] = *v;
    }
    if (n + 2 >= size)
        return false;
    buf[n++] = '\'';
    buf[n] = '\0';
    return true;
}

static int bad_flag(char *err, size_t err_size, const char *flag, const char *accepted)
{
    snprintf(err, err_size, "%s: %s", flag, accepted);
    return 2;
}

/* Reads the flags and the environment into cfg and ops. Returns 0, -1 after --help, or 2
 * with the reason in err. */
static int parse(const svc_spec *spec, int argc, char **argv, svc_config *cfg, cfg_buf *cb,
                 svc_ops *ops, char *err, size_t err_size)
{
    const char *env;
    cfg->listen = spec->default_listen;
    cfg->threads = 4;
    cfg->body_limit = SVC_BODY_LIMIT_DEF;
    cfg->topic = spec->default_topic;
    if ((env = getenv("KAFKA_BOOTSTRAP_SERVERS")) && *env)
        cfg->brokers = env;
    if (spec->topic_env && (env = getenv(spec->topic_env)) && *env)
        cfg->topic = env;
    if (!spec->no_store && (env = getenv("DB_HOST")) && *env) {
        cb->conninfo[0] = '\0';
        if (!append_kv(cb->conninfo, sizeof cb->conninfo, "host", env) ||
            !append_kv(cb->conninfo, sizeof cb->conninfo, "port", getenv("DB_PORT")) ||
            !append_kv(cb->conninfo, sizeof cb->conninfo, "dbname", getenv("DB_NAME")) ||
            !append_kv(cb->conninfo, sizeof cb->conninfo, "user", getenv("DB_USER")) ||
            !append_kv(cb->conninfo, sizeof cb->conninfo, "password", getenv("DB_PASSWORD")))
            return bad_flag(err, err_size, "DB_HOST", "the DB_* variables are too long");
        cfg->db = cb->conninfo;
    }
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        int64_t n;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(spec, stdout);
            return -1;
        }
        if (strcmp(a, "--config-doc") == 0) {
            config_doc(spec, stdout);
            return -1;
        }
        int took = svc_ops_flag(ops, true, argc, argv, &i, err, err_size);
        if (took == 2)
            return 2;
        if (took)
            continue;
        bool takes =
            strcmp(a, "--listen") == 0 || strcmp(a, "--db") == 0 || strcmp(a, "--threads") == 0 ||
            strcmp(a, "--body-limit") == 0 ||
            (spec->uses_brokers && (strcmp(a, "--brokers") == 0 || strcmp(a, "--topic") == 0));
        if (spec->no_store && strcmp(a, "--db") == 0)
            takes = false;
        if (!takes && spec->flag) {
            took = spec->flag(a, v, err, err_size);
            if (took == 2)
                return 2;
            if (took > 0) {
                i++;
                continue;
            }
        }
        if (!takes) {
            char accepted[384];
            accepted_flags(spec, accepted, sizeof accepted);
            snprintf(err, err_size, "unknown flag %s (accepted: %s)", a, accepted);
            return 2;
        }
        if (!v)
            return bad_flag(err, err_size, a, "needs a value");
        i++;
        if (strcmp(a, "--listen") == 0) {
            char host[64];
            uint16_t port;
            if (!svc_parse_listen(v, host, sizeof host, &port))
                return bad_flag(err, err_size, a, "expected HOST:PORT with PORT in 0..65535");
            cfg->listen = v;
        } else if (strcmp(a, "--db") == 0) {
            if (!*v)
                return bad_flag(err, err_size, a, "expected a SQLite path or a postgresql:// URL");
            cfg->db = v;
        } else if (strcmp(a, "--threads") == 0) {
            if (!svc_parse_int(v, 1, 256, &n))
                return bad_flag(err, err_size, a, "expected an integer in 1..256");
            cfg->threads = (unsigned)n;
        } else if (strcmp(a, "--body-limit") == 0) {
            if (!svc_parse_int(v, 1, 1 << 30, &n))
                return bad_flag(err, err_size, a, "expected bytes in 1..1073741824");
            cfg->body_limit = (size_t)n;
        } else if (strcmp(a, "--brokers") == 0) {
            if (!*v)
                return bad_flag(err, err_size, a, "expected HOST:PORT[,HOST:PORT...]");
            cfg->brokers = v;
        } else if (strcmp(a, "--topic") == 0) {
            if (!*v)
                return bad_flag(err, err_size, a, "expected a topic name");
            cfg->topic = v;
        }
    }
    if (spec->uses_brokers && !cfg->brokers)
        return bad_flag(err, err_size, "--brokers",
                        "required: HOST:PORT[,HOST:PORT...] (or KAFKA_BOOTSTRAP_SERVERS)");
    if (!cfg->db && !spec->no_store)
        cfg->db = "weir-services.db";
    return 0;
}

/* The context of /readyz; handlers see its first member, the app. */
typedef struct ready_ctx {
    svc_app app;
    const svc_spec *spec;
} ready_ctx;

static bool ready_all(void *p, char *why, size_t why_size)
{
    ready_ctx *rc = p;
    if (rc->app.store && !svc_store_ping(rc->app.store, why, why_size))
        return false;
    return !rc->spec->ready || rc->spec->ready(&rc->app, why, why_size);
}

/* /readyz of the --metrics-port endpoint. */
static int ready_metrics(void *p, char *why, size_t why_size)
{
    return ready_all(p, why, why_size);
}

/* The configuration a start would use, as log fields (the store by kind only: a PostgreSQL
 * URL may hold a password). */
static size_t config_fields(const svc_spec *spec, const svc_config *cfg, const svc_ops *ops,
                            weir_log_field *f)
{
    size_t n = 0;
    f[n++] = WEIR_LOG_STR("listen", cfg->listen);
    f[n++] = WEIR_LOG_STR("store", spec->no_store ? "none" : svc_store_url_kind(cfg->db));
    f[n++] = WEIR_LOG_STR("metrics", ops->metrics_port ? "port" : "listen");
    if (ops->metrics_port) {
        f[n++] = WEIR_LOG_STR("metrics_host", ops->metrics_host);
        f[n++] = WEIR_LOG_INT("metrics_port", ops->metrics_port);
    }
    if (spec->uses_brokers)
        f[n++] = WEIR_LOG_STR("topic", cfg->topic);
    return n;
}

int svc_main(const svc_spec *spec, int argc, char **argv)
{
    svc_config cfg = {0};
    cfg_buf cb;
    svc_ops ops;
    svc_ops_init(&ops);
    char err[512] = "";
    int rc = parse(spec, argc, argv, &cfg, &cb, &ops, err, sizeof err);
    if (rc < 0)
        return 0;
    /* The logger of the format asked for, even for a usage error, masking the password of
     * the store and the secrets of the environment. */
    weir_logger *lg = svc_ops_logger(spec->name, &ops, cfg.db);
    if (!lg) {
        fprintf(stderr, "%s: out of memory\n", spec->name);
        return 1;
    }
    weir_log_field f[8];
    if (rc) {
        weir_logger_log(lg, WEIR_LOG_ERROR, err, NULL, 0);
        weir_logger_destroy(lg);
        return rc;
    }
    if (ops.check) {
        weir_logger_log(lg, WEIR_LOG_INFO, "configuration ok", f,
                        config_fields(spec, &cfg, &ops, f));
        weir_logger_destroy(lg);
        return 0;
    }

    /* The server's threads inherit this mask, so only sigwait() below sees the signals. */
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);

    ready_ctx ctx = {.app = {.name = spec->name, .log = lg}, .spec = spec};
    svc_server *s = NULL;
    weir_metrics_server *ms = NULL;
    bool inited = false;
    rc = 1;
    if (weir_metrics_new(&ctx.app.metrics) != WEIR_OK) {
        snprintf(err, sizeof err, "out of memory");
        goto out;
    }
    /* Each worker thread holds at most one store connection at a time. */
    if (!spec->no_store) {
        char why[448];
        ctx.app.store = svc_store_open(cfg.db, cfg.threads, why, sizeof why);
        if (!ctx.app.store) {
            snprintf(err, sizeof err, "store: %s", why);
            goto out;
        }
        if (!svc_store_set_metrics(ctx.app.store, ctx.app.metrics)) {
            snprintf(err, sizeof err, "out of memory (store series)");
            goto out;
        }
    }
    if (spec->init && !spec->init(&ctx.app, &cfg, err, sizeof err))
        goto out;
    inited = true;
    svc_server_opts o = {.listen = cfg.listen,
                         .routes = spec->routes,
                         .n_routes = spec->n_routes,
                         .body_limit = cfg.body_limit,
                         .threads = cfg.threads,
                         .app = &ctx,
                         .ready = ready_all,
                         .metrics = ctx.app.metrics,
                         .serve_metrics = true};
    if (!(s = svc_server_start(&o, err, sizeof err)))
        goto out;
    if (ops.metrics_port) {
        weir_metrics_server_opts mo = {.host = ops.metrics_host,
                                       .port = ops.metrics_port,
                                       .ready = ready_metrics,
                                       .ready_arg = &ctx,
                                       .log = weir_logger_fn,
                                       .log_arg = lg};
        char why[448] = "";
        weir_err e = weir_metrics_server_start(ctx.app.metrics, &mo, &ms, why, sizeof why);
        if (e != WEIR_OK) {
            snprintf(err, sizeof err, "--metrics-port %u: %s", ops.metrics_port,
                     why[0] ? why : weir_err_str(e));
            goto out;
        }
    }
    printf("%s\n", svc_server_address(s));
    fflush(stdout);
    size_t nf = config_fields(spec, &cfg, &ops, f);
    f[0] = WEIR_LOG_STR("listen", svc_server_address(s));
    weir_logger_log(lg, WEIR_LOG_INFO, "listening", f, nf);
    svc_ops_wait_and_drain(s, &sigs, lg);
    rc = 0;
out:
    if (rc)
        weir_logger_log(lg, WEIR_LOG_ERROR, err, NULL, 0);
    svc_server_destroy(s);
    weir_metrics_server_stop(ms);
    if (inited && spec->fini)
        spec->fini(&ctx.app);
    svc_store_close(ctx.app.store);
    weir_metrics_destroy(ctx.app.metrics);
    if (rc == 0)
        weir_logger_log(lg, WEIR_LOG_INFO, "stopped", NULL, 0);
    weir_logger_destroy(lg);
    return rc;
}

bool svc_producer_metrics_start(weir_metrics *m, weir_metric_fn queue_len, void *arg,
                                svc_producer_metrics *out)
{
    static const char *const help = "Events the service could not hand to Kafka, by kind.";
    return weir_metrics_counter(m, "weir_producer_errors_total", help,
                                (const char *const[]){"kind", "queue_full", NULL},
                                &out->queue_full) == WEIR_OK &&
           weir_metrics_counter(m, "weir_producer_errors_total", help,
                                (const char *const[]){"kind", "produce", NULL},
                                &out->produce) == WEIR_OK &&
           weir_metrics_counter(m, "weir_producer_errors_total", help,
                                (const char *const[]){"kind", "delivery", NULL},
                                &out->delivery) == WEIR_OK &&
           weir_metrics_gauge_fn(m, "weir_kafka_producer_queue_messages",
                                 "Messages waiting in the Kafka producer's local queue.", NULL,
                                 queue_len, arg) == WEIR_OK;
}

void svc_producer_metrics_stop(weir_metrics *m)
{
    weir_metrics_remove(m, "weir_kafka_producer_queue_messages", NULL);
}

void svc_resp_store(svc_resp *resp, svc_store_err e, svc_conn *c)
{
    const char *msg = c ? svc_conn_errmsg(c) : "no store connection";
    switch (e) {
    case SVC_STORE_UNIQUE: svc_resp_error(resp, 409, "already exists: %s", msg); break;
    case SVC_STORE_FOREIGN: svc_resp_error(resp, 409, "refused by a constraint: %s", msg); break;
    case SVC_STORE_BUSY: svc_resp_error(resp, 503, "store busy or down: %s", msg); break;
    default: svc_resp_error(resp, 500, "store: %s", msg); break;
    }
}

void svc_now_iso(char *buf, size_t size)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    char day[24];
    strftime(day, sizeof day, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf, size, "%s.%03ldZ", day, ts.tv_nsec / 1000000);
}
