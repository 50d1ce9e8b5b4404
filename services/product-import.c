/* product-import: the seeds' S3-triggered bulk import as a process. Reads a CSV file of
 * products (header row name,description,price,category,stock_quantity in any order; RFC 4180
 * quoting, so commas, quotes and newlines inside quoted fields; UTF-8 with or without a BOM;
 * CRLF or LF), posts each row to the gateway's POST /products, reports every failed row with
 * the line it starts on and why, and ends with a JSON summary on stdout.
 * Exit 0: every row imported; 1: some failed; 2: bad usage or an unreadable file.
 * --watch DIR imports each .csv that appears in DIR and moves it to DIR/done/ or DIR/failed/;
 * a watcher is long-running, so with --metrics-port it serves /metrics (files and rows by
 * outcome), /healthz and /readyz (the inbox can be read) from the library's endpoint. */
#include "lib/client.h"
#include "lib/csv.h"
#include "lib/ops.h"

#include <curl/curl.h>
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <weir/metrics.h>
#include <weir/metrics_server.h>

#define NAME     "product-import"
#define MAX_FILE (1024L * 1024 * 1024)

enum { C_NAME, C_DESCRIPTION, C_PRICE, C_CATEGORY, C_STOCK, N_COLS };
static const char *const col_names[N_COLS] = {"name", "description", "price", "category",
                                              "stock_quantity"};

typedef struct row {
    size_t line;
    char *body;       /* the JSON to post, or NULL when the row is bad */
    char reason[512]; /* why it failed */
    bool ok;
} row;

typedef struct job {
    row *rows;
    size_t n;
    atomic_size_t next;
    svc_client *client;
} job;

/* ---------------------------------------------------------------- rows */

static char *trim(char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    size_t n = strlen(s);
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t'))
        s[--n] = '\0';
    return s;
}

/* Turns a record into the JSON of POST /products, or says why it cannot be. */
static void make_row(const svc_csv_record *r, const int *col, size_t n_header, row *out)
{
    out->line = r->line;
    if (r->error) {
        snprintf(out->reason, sizeof out->reason, "%s", r->error);
        return;
    }
    if (r->n != n_header) {
        snprintf(out->reason, sizeof out->reason, "expected %zu fields, found %zu%s", n_header,
                 r->n, r->n < n_header ? " (truncated row?)" : "");
        return;
    }
    const char *v[N_COLS] = {0};
    for (int c = 0; c < N_COLS; c++)
        if (col[c] >= 0)
            v[c] = r->fields[col[c]];
    for (int c = 0; c < N_COLS; c++)
        if (v[c] && !svc_utf8_valid(v[c])) {
            snprintf(out->reason, sizeof out->reason, "%s is not valid UTF-8", col_names[c]);
            return;
        }
    char *name = trim((char *)v[C_NAME]);
    if (!*name) {
        snprintf(out->reason, sizeof out->reason, "empty name");
        return;
    }
    char *ps = trim((char *)v[C_PRICE]), *end;
    errno = 0;
    double price = strtod(ps, &end);
    if (!*ps || *end || errno || !isfinite(price) || price < 0 || price > 1e12) {
        snprintf(out->reason, sizeof out->reason,
                 "bad price '%.40s': a number in 0..1e12 is expected", ps);
        return;
    }
    long long stock = 0;
    if (v[C_STOCK]) {
        char *ss = trim((char *)v[C_STOCK]);
        errno = 0;
        stock = *ss ? strtoll(ss, &end, 10) : 0;
        if (*ss && (*end || errno || stock < 0)) {
            snprintf(out->reason, sizeof out->reason,
                     "bad stock_quantity '%.40s': a whole number >= 0 is expected", ss);
            return;
        }
    }
    json_t *o = json_pack("{s:s, s:s, s:f, s:s, s:I}", "name", name, "description",
                          v[C_DESCRIPTION] ? v[C_DESCRIPTION] : "", "price", price, "category",
                          v[C_CATEGORY] ? trim((char *)v[C_CATEGORY]) : "", "stock_quantity",
                          (json_int_t)stock);
    out->body = o ? json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(15)) : NULL;
    json_decref(o);
    if (!out->body)
        snprintf(out->reason, sizeof out->reason, "out of memory");
}

static void *worker(void *arg)
{
    job *j = arg;
    for (;;) {
        size_t i = atomic_fetch_add(&j->next, 1);
        if (i >= j->n)
            return NULL;
        row *r = &j->rows[i];
        if (!r->body)
            continue;
        svc_resp resp = {0};
        bool answered =
            svc_client_call(j->client, "POST", "/products", r->body, strlen(r->body), &resp);
        if (answered && resp.status == 201) {
            r->ok = true;
        } else {
            const char *detail = json_string_value(json_object_get(resp.json, "detail"));
            snprintf(r->reason, sizeof r->reason, "HTTP %d: %s", resp.status,
                     detail ? detail : "no detail");
        }
        json_decref(resp.json);
    }
}

/* ---------------------------------------------------------------- one file */

/* The watcher's series (docs/OPERATIONS.md); all NULL without --metrics-port. */
typedef struct import_metrics {
    weir_counter *files_done, *files_failed, *rows_imported, *rows_failed;
} import_metrics;

typedef struct opts {
    const char *gateway;
    unsigned concurrency;
    unsigned timeout_ms;
    weir_logger *log;
    import_metrics m;
    atomic_int inbox_ok; /* the last scan of the --watch directory succeeded */
} opts;

/* Adds n to a series of the watcher's, when it has them. */
static void count(weir_counter *c, uint64_t n)
{
    if (c)
        weir_counter_add(c, n);
}

/* One log line with the file it is about. */
static void logf_file(const opts *o, weir_log_level lv, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void logf_file(const opts *o, weir_log_level lv, const char *path, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    weir_log_field f[] = {WEIR_LOG_STR("file", path)};
    weir_logger_log(o->log, lv, msg, f, 1);
}

/* Imports `path`; prints failures to stderr and the summary to stdout. Returns 0, 1 or 2. */
static int import_file(const opts *o, const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        int en = errno;
        logf_file(o, WEIR_LOG_ERROR, path, "%s: %s", path, strerror(en));
        errno = en;
        json_t *e = json_pack("{s:s, s:s}", "file", path, "error", strerror(errno));
        char *t = e ? json_dumps(e, JSON_COMPACT) : NULL;
        if (t)
            printf("%s\n", t);
        free(t);
        json_decref(e);
        return 2;
    }
    char *data = NULL;
    size_t len = 0, cap = 0;
    for (;;) {
        if (len + 65536 > cap) {
            if (cap >= (size_t)MAX_FILE) {
                fclose(f);
                free(data);
                logf_file(o, WEIR_LOG_ERROR, path, "%s: larger than 1 GiB", path);
                return 2;
            }
            char *nd = realloc(data, cap = cap ? cap * 2 : 1 << 20);
            if (!nd) {
                fclose(f);
                free(data);
                logf_file(o, WEIR_LOG_ERROR, path, "%s: out of memory", path);
                return 2;
            }
            data = nd;
        }
        size_t got = fread(data + len, 1, cap - len, f);
        len += got;
        if (got == 0)
            break;
    }
    bool rerr = ferror(f);
    fclose(f);
    if (rerr) {
        free(data);
        logf_file(o, WEIR_LOG_ERROR, path, "%s: read error", path);
        return 2;
    }
    svc_csv_reader rd;
    svc_csv_init(&rd, data, len);
    svc_csv_record hdr;
    int col[N_COLS];
    for (int c = 0; c < N_COLS; c++)
        col[c] = -1;
    if (!svc_csv_next(&rd, &hdr) || hdr.error) {
        logf_file(o, WEIR_LOG_ERROR, path, "%s: no header row (%s)", path,
                  hdr.error ? hdr.error : "empty file");
        svc_csv_record_free(&hdr);
        free(data);
        return 2;
    }
    for (size_t i = 0; i < hdr.n; i++)
        for (int c = 0; c < N_COLS; c++)
            if (strcasecmp(trim(hdr.fields[i]), col_names[c]) == 0)
                col[c] = (int)i;
    size_t n_header = hdr.n;
    svc_csv_record_free(&hdr);
    if (col[C_NAME] < 0 || col[C_PRICE] < 0) {
        logf_file(o, WEIR_LOG_ERROR, path,
                  "%s: the header row must name the columns name, description, price, "
                  "category, stock_quantity (name and price at least)",
                  path);
        free(data);
        return 2;
    }
    job j = {0};
    size_t rcap = 0;
    svc_csv_record r;
    while (svc_csv_next(&rd, &r)) {
        if (j.n == rcap) {
            row *nr = realloc(j.rows, (rcap = rcap ? rcap * 2 : 256) * sizeof *nr);
            if (!nr) {
                svc_csv_record_free(&r);
                break;
            }
            j.rows = nr;
        }
        row *w = &j.rows[j.n++];
        memset(w, 0, sizeof *w);
        make_row(&r, col, n_header, w);
        svc_csv_record_free(&r);
    }
    free(data);
    char err[256];
    int rc = 0;
    j.client = svc_client_new(o->gateway, o->concurrency, 2000, o->timeout_ms, err, sizeof err);
    if (!j.client) {
        logf_file(o, WEIR_LOG_ERROR, path, "%s", err);
        rc = 2;
    } else {
        pthread_t th[64];
        unsigned nt = 0;
        for (; nt < o->concurrency; nt++)
            if (pthread_create(&th[nt], NULL, worker, &j) != 0)
                break;
        if (nt == 0)
            worker(&j);
        for (unsigned i = 0; i < nt; i++)
            pthread_join(th[i], NULL);
    }
    size_t imported = 0;
    json_t *failures = json_array();
    for (size_t i = 0; i < j.n; i++) {
        if (j.rows[i].ok) {
            imported++;
            continue;
        }
        if (!j.rows[i].reason[0])
            snprintf(j.rows[i].reason, sizeof j.rows[i].reason, "not sent");
        weir_log_field f[] = {WEIR_LOG_STR("file", path),
                              WEIR_LOG_INT("line", (int64_t)j.rows[i].line)};
        char msg[1024];
        snprintf(msg, sizeof msg, "%s:%zu: %s", path, j.rows[i].line, j.rows[i].reason);
        weir_logger_log(o->log, WEIR_LOG_WARN, msg, f, 2);
        json_array_append_new(failures, json_pack("{s:I, s:s}", "line", (json_int_t)j.rows[i].line,
                                                  "reason", j.rows[i].reason));
    }
    json_t *sum = json_pack("{s:s, s:I, s:I, s:I, s:o}", "file", path, "rows", (json_int_t)j.n,
                            "imported", (json_int_t)imported, "failed",
                            (json_int_t)(j.n - imported), "failures", failures);
    char *text = sum ? json_dumps(sum, JSON_COMPACT) : NULL;
    if (text)
        printf("%s\n", text);
    fflush(stdout);
    free(text);
    json_decref(sum);
    for (size_t i = 0; i < j.n; i++)
        free(j.rows[i].body);
    free(j.rows);
    svc_client_destroy(j.client);
    count(o->m.rows_imported, imported);
    count(o->m.rows_failed, j.n - imported);
    if (rc == 0 && imported < j.n)
        rc = 1;
    return rc;
}

/* ---------------------------------------------------------------- --watch */

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
    (void)sig;
    stop = 1;
}

static bool is_csv(const char *n)
{
    size_t l = strlen(n);
    return n[0] != '.' && l > 4 && strcasecmp(n + l - 4, ".csv") == 0;
}

static int watch(opts *o, const char *dir)
{
    char done[4096], failed[4096];
    snprintf(done, sizeof done, "%s/done", dir);
    snprintf(failed, sizeof failed, "%s/failed", dir);
    struct stat st;
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        logf_file(o, WEIR_LOG_ERROR, dir, "--watch %s: not a directory", dir);
        return 2;
    }
    if ((mkdir(done, 0755) != 0 && errno != EEXIST) ||
        (mkdir(failed, 0755) != 0 && errno != EEXIST)) {
        logf_file(o, WEIR_LOG_ERROR, dir, "--watch %s: cannot create done/ and failed/: %s", dir,
                  strerror(errno));
        return 2;
    }
    struct sigaction sa = {.sa_handler = on_signal};
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    logf_file(o, WEIR_LOG_INFO, dir, "watching %s for .csv files", dir);
    while (!stop) {
        DIR *d = opendir(dir);
        if (!d && atomic_load(&o->inbox_ok))
            logf_file(o, WEIR_LOG_ERROR, dir, "--watch %s: %s", dir, strerror(errno));
        atomic_store(&o->inbox_ok, d != NULL);
        struct dirent *e;
        while (d && !stop && (e = readdir(d))) {
            char path[4096], to[8192];
            if (!is_csv(e->d_name))
                continue;
            snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
            /* A file still being written: wait until it has not changed for a second. */
            if (stat(path, &st) != 0 || !S_ISREG(st.st_mode) || time(NULL) - st.st_mtime < 1)
                continue;
            int rc = import_file(o, path);
            count(rc == 0 ? o->m.files_done : o->m.files_failed, 1);
            snprintf(to, sizeof to, "%s/%s", rc == 0 ? done : failed, e->d_name);
            if (rename(path, to) != 0)
                logf_file(o, WEIR_LOG_ERROR, path, "cannot move %s to %s: %s", path, to,
                          strerror(errno));
            else
                logf_file(o, WEIR_LOG_INFO, path, "%s -> %s", path, to);
        }
        if (d)
            closedir(d);
        struct timespec ts = {0, 200 * 1000000L};
        nanosleep(&ts, NULL);
    }
    weir_logger_log(o->log, WEIR_LOG_INFO, "stopped", NULL, 0);
    return 0;
}

/* ---------------------------------------------------------------- /metrics */

/* /readyz of a watcher: its inbox could be read at the last scan (every 200 ms). */
static int watch_ready(void *arg, char *reason, size_t reason_size)
{
    const opts *o = arg;
    if (atomic_load(&o->inbox_ok))
        return 1;
    snprintf(reason, reason_size, "the --watch directory cannot be read");
    return 0;
}

/* Registers the watcher's series in m. */
static weir_err register_metrics(weir_metrics *m, import_metrics *im)
{
    static const char files[] = "CSV files imported by --watch, by outcome: done (every row "
                                "imported) or failed (moved to failed/).";
    static const char rows[] = "CSV rows, by outcome: imported (the gateway stored the product) "
                               "or failed (a bad row or a refused request).";
    weir_err rc;
    if ((rc = weir_metrics_counter(m, "weir_import_files_total", files,
                                   (const char *const[]){"outcome", "done", NULL},
                                   &im->files_done)) != WEIR_OK ||
        (rc = weir_metrics_counter(m, "weir_import_files_total", files,
                                   (const char *const[]){"outcome", "failed", NULL},
                                   &im->files_failed)) != WEIR_OK ||
        (rc = weir_metrics_counter(m, "weir_import_rows_total", rows,
                                   (const char *const[]){"outcome", "imported", NULL},
                                   &im->rows_imported)) != WEIR_OK)
        return rc;
    return weir_metrics_counter(m, "weir_import_rows_total", rows,
                                (const char *const[]){"outcome", "failed", NULL}, &im->rows_failed);
}

/* ---------------------------------------------------------------- main */

static void usage(FILE *out)
{
    fprintf(out, "usage: " NAME " FILE.csv --gateway URL [--concurrency N] [--timeout-ms MS]\n"
                 "       " NAME " --watch DIR --gateway URL [--concurrency N]\n"
                 "  --gateway URL     the api-gateway (or PRODUCT_API_URL)\n"
                 "  --concurrency N   rows posted at once, 1..64 (default 4)\n"
                 "  --timeout-ms MS   time of one request (default 10000)\n"
                 "  --watch DIR       import each .csv appearing in DIR, then move it to\n"
                 "                    DIR/done/ (every row imported) or DIR/failed/\n"
                 "Exit 0: every row imported; 1: some rows failed; 2: bad usage or an\n"
                 "unreadable file. Failed rows are logged on stderr as FILE:LINE: reason; a JSON\n"
                 "summary per file goes to stdout.\n");
    svc_ops_usage(out, false);
    fputs("  --metrics-port PORT          with --watch: serve /metrics, /healthz and /readyz on\n"
          "                               PORT (default 0: no endpoint)\n"
          "  --metrics-host ADDR          numeric address of that port (default 127.0.0.1)\n",
          out);
}

/* The flags, as the unknown-flag error and docs/CONFIGURATION.md list them. */
#define ACCEPTED                                                                                   \
    "--gateway, --concurrency, --timeout-ms, --watch, --log-format, --log-level, "                 \
    "--metrics-port, --metrics-host, --check-config, --config-doc, --help"

static void help(FILE *out, const void *arg)
{
    (void)arg;
    usage(out);
}

/* Reads the command line; 0, -1 after --help, or 2 with the reason in err. */
static int parse(int argc, char **argv, opts *o, svc_ops *ops, const char **file, const char **dir,
                 char *err, size_t err_size)
{
    const char *env = getenv("PRODUCT_API_URL");
    if (env && *env)
        o->gateway = env;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        int64_t n;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            return -1;
        }
        if (strcmp(a, "--config-doc") == 0) {
            const svc_env_doc env[] = {
                {"PRODUCT_API_URL", "--gateway", "the api-gateway's base URL"}};
            svc_ops_config_doc(stdout, NAME, ACCEPTED, env, 1, help, NULL);
            return -1;
        }
        int took = svc_ops_flag(ops, true, argc, argv, &i, err, err_size);
        if (took == 2)
            return 2;
        if (took)
            continue;
        if (strcmp(a, "--gateway") == 0 || strcmp(a, "--concurrency") == 0 ||
            strcmp(a, "--watch") == 0 || strcmp(a, "--timeout-ms") == 0) {
            if (!v) {
                snprintf(err, err_size, "%s needs a value", a);
                return 2;
            }
            i++;
            if (strcmp(a, "--gateway") == 0) {
                if (strncmp(v, "http://", 7) != 0 && strncmp(v, "https://", 8) != 0) {
                    snprintf(err, err_size, "--gateway: expected an http:// or https:// URL");
                    return 2;
                }
                o->gateway = v;
            } else if (strcmp(a, "--watch") == 0) {
                *dir = v;
            } else if (strcmp(a, "--concurrency") == 0) {
                if (!svc_parse_int(v, 1, 64, &n)) {
                    snprintf(err, err_size, "--concurrency: expected an integer in 1..64");
                    return 2;
                }
                o->concurrency = (unsigned)n;
            } else {
                if (!svc_parse_int(v, 1, 600000, &n)) {
                    snprintf(err, err_size, "--timeout-ms: expected milliseconds in 1..600000");
                    return 2;
                }
                o->timeout_ms = (unsigned)n;
            }
        } else if (a[0] == '-' && a[1]) {
            snprintf(err, err_size, "unknown flag %s (accepted: " ACCEPTED ")", a);
            return 2;
        } else if (*file) {
            snprintf(err, err_size, "one FILE.csv at a time (got %s and %s)", *file, a);
            return 2;
        } else {
            *file = a;
        }
    }
    if (!o->gateway) {
        snprintf(err, err_size, "--gateway URL is required (or PRODUCT_API_URL)");
        return 2;
    }
    if (!*file == !*dir) {
        snprintf(err, err_size, "give either FILE.csv or --watch DIR (see --help)");
        return 2;
    }
    if (ops->metrics_port && !*dir) {
        snprintf(err, err_size,
                 "--metrics-port: only with --watch DIR (an import of one file "
                 "ends before anything would scrape it)");
        return 2;
    }
    return 0;
}

int main(int argc, char **argv)
{
    opts o = {.concurrency = 4, .timeout_ms = 10000};
    atomic_init(&o.inbox_ok, 1);
    svc_ops ops;
    svc_ops_init(&ops);
    ops.no_listener = true;
    const char *file = NULL, *dir = NULL;
    char err[512] = "";
    int rc = parse(argc, argv, &o, &ops, &file, &dir, err, sizeof err);
    if (rc < 0)
        return 0;
    if (!(o.log = svc_ops_logger(NAME, &ops, NULL))) {
        fputs(NAME ": out of memory\n", stderr);
        return 1;
    }
    if (rc) {
        weir_logger_log(o.log, WEIR_LOG_ERROR, err, NULL, 0);
    } else if (ops.check) {
        /* As the services do, the address of the endpoint it would serve, so that a
         * deployment's probes and scrape annotation can be held to it. */
        char listen[80];
        bool v6 = strchr(ops.metrics_host, ':') != NULL;
        snprintf(listen, sizeof listen, "%s%s%s:%u", v6 ? "[" : "", ops.metrics_host, v6 ? "]" : "",
                 ops.metrics_port);
        weir_log_field f[] = {WEIR_LOG_STR("gateway", o.gateway),
                              WEIR_LOG_STR(dir ? "watch" : "file", dir ? dir : file),
                              WEIR_LOG_INT("concurrency", o.concurrency),
                              WEIR_LOG_STR("listen", listen), WEIR_LOG_STR("metrics", "listen")};
        weir_logger_log(o.log, WEIR_LOG_INFO, "configuration ok", f, ops.metrics_port ? 5 : 3);
    } else {
        signal(SIGPIPE, SIG_IGN);
        weir_metrics *m = NULL;
        weir_metrics_server *ms = NULL;
        if (dir && ops.metrics_port) {
            weir_metrics_server_opts mo = {.host = ops.metrics_host,
                                           .port = ops.metrics_port,
                                           .ready = watch_ready,
                                           .ready_arg = &o,
                                           .log = weir_logger_fn,
                                           .log_arg = o.log};
            char why[256] = "";
            weir_err e = weir_metrics_new(&m);
            if (e == WEIR_OK)
                e = register_metrics(m, &o.m);
            if (e == WEIR_OK)
                e = weir_metrics_server_start(m, &mo, &ms, why, sizeof why);
            if (e != WEIR_OK) {
                snprintf(err, sizeof err, "--metrics-port %u: %s", ops.metrics_port,
                         why[0] ? why : weir_err_str(e));
                weir_logger_log(o.log, WEIR_LOG_ERROR, err, NULL, 0);
                rc = 1;
            } else {
                weir_log_field f[] = {WEIR_LOG_INT("port", weir_metrics_server_port(ms))};
                weir_logger_log(o.log, WEIR_LOG_INFO, "metrics endpoint listening", f, 1);
            }
        }
        if (rc == 0)
            rc = dir ? watch(&o, dir) : import_file(&o, file);
        weir_metrics_server_stop(ms);
        weir_metrics_destroy(m);
        curl_global_cleanup();
    }
    weir_logger_destroy(o.log);
    return rc;
}
