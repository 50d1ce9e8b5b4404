/* The services' common main: configuration, store, server and the SIGTERM drain. */
#include "svc.h"

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct cfg_buf {
    char conninfo[1024];
} cfg_buf;

static void usage(const svc_spec *spec, FILE *out)
{
    fprintf(out,
            "usage: %s [--listen HOST:PORT] [--db PATH|postgresql://...] [--threads N]\n"
            "          [--body-limit BYTES]%s\n"
            "  --listen      address to serve on (default %s; port 0 picks a free one and\n"
            "                the first line on stdout is the bound HOST:PORT)\n"
            "  --db          SQLite file (default weir-services.db) or PostgreSQL URL; without\n"
            "                it DB_HOST, DB_PORT, DB_NAME, DB_USER, DB_PASSWORD select PostgreSQL\n"
            "  --threads     worker threads and store connections, 1..256 (default 4)\n"
            "  --body-limit  largest request body in bytes, 1..1073741824 (default 1048576)\n",
            spec->name, spec->uses_brokers ? " [--brokers HOST:PORT,...] [--topic NAME]" : "",
            spec->default_listen);
    if (spec->uses_brokers)
        fprintf(out,
                "  --brokers     Kafka bootstrap servers (or KAFKA_BOOTSTRAP_SERVERS)\n"
                "  --topic       topic of the events (default %s)\n",
                spec->default_topic);
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

static int bad_flag(const svc_spec *spec, const char *flag, const char *accepted)
{
    fprintf(stderr, "%s: %s: %s\n", spec->name, flag, accepted);
    return 2;
}

static int parse(const svc_spec *spec, int argc, char **argv, svc_config *cfg, cfg_buf *cb)
{
    const char *env;
    cfg->listen = spec->default_listen;
    cfg->threads = 4;
    cfg->body_limit = SVC_BODY_LIMIT_DEF;
    cfg->topic = spec->default_topic;
    if ((env = getenv("KAFKA_BOOTSTRAP_SERVERS")) && *env)
        cfg->brokers = env;
    if ((env = getenv("DB_HOST")) && *env) {
        cb->conninfo[0] = '\0';
        if (!append_kv(cb->conninfo, sizeof cb->conninfo, "host", env) ||
            !append_kv(cb->conninfo, sizeof cb->conninfo, "port", getenv("DB_PORT")) ||
            !append_kv(cb->conninfo, sizeof cb->conninfo, "dbname", getenv("DB_NAME")) ||
            !append_kv(cb->conninfo, sizeof cb->conninfo, "user", getenv("DB_USER")) ||
            !append_kv(cb->conninfo, sizeof cb->conninfo, "password", getenv("DB_PASSWORD")))
            return bad_flag(spec, "DB_HOST", "the DB_* variables are too long");
        cfg->db = cb->conninfo;
    }
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        int64_t n;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(spec, stdout);
            return -1;
        }
        bool takes =
            strcmp(a, "--listen") == 0 || strcmp(a, "--db") == 0 || strcmp(a, "--threads") == 0 ||
            strcmp(a, "--body-limit") == 0 ||
            (spec->uses_brokers && (strcmp(a, "--brokers") == 0 || strcmp(a, "--topic") == 0));
        if (!takes) {
            fprintf(stderr,
                    "%s: unknown flag %s (accepted: --listen, --db, --threads, "
                    "--body-limit%s, --help)\n",
                    spec->name, a, spec->uses_brokers ? ", --brokers, --topic" : "");
            return 2;
        }
        if (!v)
            return bad_flag(spec, a, "needs a value");
        i++;
        if (strcmp(a, "--listen") == 0) {
            char host[64];
            uint16_t port;
            if (!svc_parse_listen(v, host, sizeof host, &port))
                return bad_flag(spec, a, "expected HOST:PORT with PORT in 0..65535");
            cfg->listen = v;
        } else if (strcmp(a, "--db") == 0) {
            if (!*v)
                return bad_flag(spec, a, "expected a SQLite path or a postgresql:// URL");
            cfg->db = v;
        } else if (strcmp(a, "--threads") == 0) {
            if (!svc_parse_int(v, 1, 256, &n))
                return bad_flag(spec, a, "expected an integer in 1..256");
            cfg->threads = (unsigned)n;
        } else if (strcmp(a, "--body-limit") == 0) {
            if (!svc_parse_int(v, 1, 1 << 30, &n))
                return bad_flag(spec, a, "expected bytes in 1..1073741824");
            cfg->body_limit = (size_t)n;
        } else if (strcmp(a, "--brokers") == 0) {
            if (!*v)
                return bad_flag(spec, a, "expected HOST:PORT[,HOST:PORT...]");
            cfg->brokers = v;
        } else if (strcmp(a, "--topic") == 0) {
            if (!*v)
                return bad_flag(spec, a, "expected a topic name");
            cfg->topic = v;
        }
    }
    if (spec->uses_brokers && !cfg->brokers)
        return bad_flag(spec, "--brokers",
                        "required: HOST:PORT[,HOST:PORT...] (or KAFKA_BOOTSTRAP_SERVERS)");
    if (!cfg->db)
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
    if (!svc_store_ping(rc->app.store, why, why_size))
        return false;
    return !rc->spec->ready || rc->spec->ready(&rc->app, why, why_size);
}

int svc_main(const svc_spec *spec, int argc, char **argv)
{
    svc_config cfg = {0};
    cfg_buf cb;
    int rc = parse(spec, argc, argv, &cfg, &cb);
    if (rc)
        return rc < 0 ? 0 : rc;

    /* The server's threads inherit this mask, so only sigwait() below sees the signals. */
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);

    char err[512];
    ready_ctx ctx = {.app = {.name = spec->name}, .spec = spec};
    /* Each worker thread holds at most one store connection at a time. */
    ctx.app.store = svc_store_open(cfg.db, cfg.threads, err, sizeof err);
    if (!ctx.app.store) {
        fprintf(stderr, "%s: store: %s\n", spec->name, err);
        return 1;
    }
    if (spec->init && !spec->init(&ctx.app, &cfg, err, sizeof err)) {
        fprintf(stderr, "%s: %s\n", spec->name, err);
        svc_store_close(ctx.app.store);
        return 1;
    }
    svc_server_opts o = {.listen = cfg.listen,
                         .routes = spec->routes,
                         .n_routes = spec->n_routes,
                         .body_limit = cfg.body_limit,
                         .threads = cfg.threads,
                         .app = &ctx,
                         .ready = ready_all};
    svc_server *s = svc_server_start(&o, err, sizeof err);
    if (!s) {
        fprintf(stderr, "%s: %s\n", spec->name, err);
        if (spec->fini)
            spec->fini(&ctx.app);
        svc_store_close(ctx.app.store);
        return 1;
    }
    printf("%s\n", svc_server_address(s));
    fflush(stdout);
    /* The store's kind only: a PostgreSQL URL may hold a password. */
    fprintf(stderr, "%s: listening on %s, store %s\n", spec->name, svc_server_address(s),
            svc_store_kind(ctx.app.store));
    int sig = 0;
    sigwait(&sigs, &sig);
    fprintf(stderr, "%s: %s, draining\n", spec->name, sig == SIGTERM ? "SIGTERM" : "SIGINT");
    unsigned left = svc_server_drain(s, 10000);
    if (left)
        fprintf(stderr, "%s: %u requests still in flight after 10 s\n", spec->name, left);
    svc_server_destroy(s);
    if (spec->fini)
        spec->fini(&ctx.app);
    svc_store_close(ctx.app.store);
    fprintf(stderr, "%s: stopped\n", spec->name);
    return 0;
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
