/* Unit tests of the metrics registry (include/weir/metrics.h) and its HTTP endpoint
 * (include/weir/metrics_server.h): registration rules, the exposition's escaping and
 * histogram buckets, process metrics, updates from several threads while another renders,
 * and /metrics, /healthz, /readyz over a real socket. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <curl/curl.h>

#include "runtime/job_int.h"
#include "weir/metrics.h"
#include "weir/metrics_server.h"
#include "weir/weir.h"

static weir_metrics *new_registry(void)
{
    weir_metrics *m = NULL;
    assert_int_equal(weir_metrics_new(&m), WEIR_OK);
    assert_non_null(m);
    return m;
}

static char *render(weir_metrics *m)
{
    char *out = NULL;
    size_t len = 0;
    assert_int_equal(weir_metrics_render(m, &out, &len), WEIR_OK);
    assert_non_null(out);
    assert_int_equal(strlen(out), len);
    return out;
}

static void assert_contains(const char *hay, const char *needle)
{
    if (!strstr(hay, needle))
        fail_msg("missing:\n%s\nin:\n%s", needle, hay);
}

#define L(...) ((const char *const[]){__VA_ARGS__, NULL})

static void test_registration_rules(void **state)
{
    (void)state;
    weir_metrics *m = new_registry();
    weir_counter *c = NULL, *c2 = NULL;
    weir_gauge *g = NULL;
    weir_histogram *h = NULL;
    assert_int_equal(
        weir_metrics_counter(m, "weir_records_total", "Records.", L("outcome", "valid"), &c),
        WEIR_OK);
    assert_int_equal(
        weir_metrics_counter(m, "weir_records_total", "Records.", L("outcome", "valid"), &c2),
        WEIR_OK);
    assert_ptr_equal(c, c2);
    assert_int_equal(
        weir_metrics_counter(m, "weir_records_total", "Records.", L("outcome", "invalid"), &c2),
        WEIR_OK);
    assert_ptr_not_equal(c, c2);
    /* Another label name, another type, no _total, a bad name: refused, *out untouched. */
    weir_counter *untouched = (weir_counter *)&state;
    c2 = untouched;
    assert_int_equal(weir_metrics_counter(m, "weir_records_total", "", L("reason", "x"), &c2),
                     WEIR_ERR_INVALID_ARG);
    assert_ptr_equal(c2, untouched);
    assert_int_equal(weir_metrics_counter(m, "weir_records_total", "", NULL, &c2),
                     WEIR_ERR_INVALID_ARG);
    assert_int_equal(weir_metrics_gauge(m, "weir_records_total", "", NULL, &g),
                     WEIR_ERR_INVALID_ARG);
    assert_int_equal(weir_metrics_counter(m, "weir_records", "", NULL, &c2), WEIR_ERR_INVALID_ARG);
    assert_int_equal(weir_metrics_gauge(m, "weir_lag_total", "", NULL, &g), WEIR_ERR_INVALID_ARG);
    assert_int_equal(weir_metrics_counter(m, "9lives_total", "", NULL, &c2), WEIR_ERR_INVALID_ARG);
    assert_int_equal(weir_metrics_counter(m, "weir-x_total", "", NULL, &c2), WEIR_ERR_INVALID_ARG);
    assert_int_equal(weir_metrics_counter(m, "", "", NULL, &c2), WEIR_ERR_INVALID_ARG);
    assert_int_equal(weir_metrics_counter(m, NULL, "", NULL, &c2), WEIR_ERR_INVALID_ARG);
    assert_int_equal(weir_metrics_counter(m, "a_total", "", L("__x", "1"), &c2),
                     WEIR_ERR_INVALID_ARG);
    assert_int_equal(weir_metrics_counter(m, "a_total", "", L("a-b", "1"), &c2),
                     WEIR_ERR_INVALID_ARG);
    assert_int_equal(weir_metrics_counter(m, "a_total", "", L("a", "1", "a", "2"), &c2),
                     WEIR_ERR_INVALID_ARG);
    assert_int_equal(weir_metrics_counter(m, "a_total", "",
                                          L("a", "1", "b", "2", "c", "3", "d", "4", "e", "5"), &c2),
                     WEIR_ERR_INVALID_ARG);
    assert_int_equal(weir_metrics_counter(m, "a_total", "", (const char *const[]){"a", NULL}, &c2),
                     WEIR_ERR_INVALID_ARG);
    assert_int_equal(weir_metrics_histogram(m, "h_seconds", "", L("le", "1"), NULL, 0, &h),
                     WEIR_ERR_INVALID_ARG);
    assert_int_equal(weir_metrics_counter(m, "ns:sub_total", "", NULL, &c2), WEIR_OK);
    /* The registry's own families cannot be taken over. */
    assert_int_equal(weir_metrics_counter(m, "process_open_fds", "", NULL, &c2),
                     WEIR_ERR_INVALID_ARG);
    assert_int_equal(weir_metrics_gauge_fn(m, "process_open_fds", "", NULL, NULL, NULL),
                     WEIR_ERR_INVALID_ARG);

    weir_counter_inc(c);
    weir_counter_add(c, 41);
    assert_int_equal(weir_counter_value(c), 42);
    weir_counter_set(c, 100);
    assert_int_equal(weir_counter_value(c), 100);
    weir_metrics_destroy(m);
    weir_metrics_destroy(NULL);
}

static void test_series_limit(void **state)
{
    (void)state;
    weir_metrics *m = new_registry();
    char v[16];
    weir_gauge *g;
    for (int i = 0; i < WEIR_METRICS_MAX_SERIES; i++) {
        snprintf(v, sizeof v, "%d", i);
        assert_int_equal(weir_metrics_gauge(m, "weir_many", "", L("i", v), &g), WEIR_OK);
    }
    assert_int_equal(weir_metrics_gauge(m, "weir_many", "", L("i", "x"), &g), WEIR_ERR_STATE);
    /* An existing series is still found. */
    assert_int_equal(weir_metrics_gauge(m, "weir_many", "", L("i", "7"), &g), WEIR_OK);
    weir_metrics_destroy(m);
}

static void test_utf8_and_remove(void **state)
{
    (void)state;
    weir_metrics *m = new_registry();
    weir_gauge *g;
    assert_int_equal(weir_metrics_gauge(m, "weir_p", "", L("v", "caf\xc3\xa9"), &g), WEIR_OK);
    assert_int_equal(weir_metrics_gauge(m, "weir_p", "", L("v", "caf\xe9"), &g),
                     WEIR_ERR_INVALID_ARG);
    assert_int_equal(weir_metrics_gauge(m, "weir_q", "bad \xff help", NULL, &g),
                     WEIR_ERR_INVALID_ARG);

    weir_gauge *p0, *p1;
    assert_int_equal(weir_metrics_gauge(m, "weir_lag", "Lag.", L("partition", "0"), &p0), WEIR_OK);
    assert_int_equal(weir_metrics_gauge(m, "weir_lag", "Lag.", L("partition", "1"), &p1), WEIR_OK);
    weir_gauge_set(p1, 5);
    assert_int_equal(weir_metrics_remove(m, "weir_lag", L("partition", "0")), WEIR_OK);
    assert_int_equal(weir_metrics_remove(m, "weir_lag", L("partition", "0")), WEIR_ERR_NOT_FOUND);
    assert_int_equal(weir_metrics_remove(m, "weir_none", NULL), WEIR_ERR_NOT_FOUND);
    char *out = render(m);
    assert_null(strstr(out, "partition=\"0\""));
    assert_contains(out, "weir_lag{partition=\"1\"} 5\n");
    free(out);
    /* The last series gone, the family is not rendered at all; it can come back. */
    assert_int_equal(weir_metrics_remove(m, "weir_lag", L("partition", "1")), WEIR_OK);
    out = render(m);
    assert_null(strstr(out, "weir_lag"));
    free(out);
    assert_int_equal(weir_metrics_gauge(m, "weir_lag", "Lag.", L("partition", "0"), &p0), WEIR_OK);
    assert_int_equal(weir_gauge_value(p0), 0);
    weir_metrics_destroy(m);
}

static void test_exposition_escaping(void **state)
{
    (void)state;
    weir_metrics *m = new_registry();
    weir_counter *c;
    weir_gauge *g;
    assert_int_equal(weir_metrics_counter(m, "weir_test_total", "Help with \\ and\nnewline.",
                                          L("path", "C:\\dir\\\"q\"\nend", "empty", ""), &c),
                     WEIR_OK);
    weir_counter_add(c, 18446744073709551615ull);
    assert_int_equal(weir_metrics_gauge(m, "weir_test_ratio", "A gauge.", NULL, &g), WEIR_OK);
    weir_gauge_set(g, 0.1);
    weir_gauge_add(g, 0.2);
    char *out = render(m);
    assert_contains(out, "# HELP weir_test_total Help with \\\\ and\\nnewline.\n"
                         "# TYPE weir_test_total counter\n"
                         "weir_test_total{path=\"C:\\\\dir\\\\\\\"q\\\"\\nend\",empty=\"\"} "
                         "18446744073709551615\n");
    assert_contains(out, "# TYPE weir_test_ratio gauge\nweir_test_ratio 0.30000000000000004\n");
    free(out);

    weir_gauge_set(g, 1.0 / 0.0);
    out = render(m);
    assert_contains(out, "weir_test_ratio +Inf\n");
    free(out);
    weir_gauge_set(g, -1.0 / 0.0);
    out = render(m);
    assert_contains(out, "weir_test_ratio -Inf\n");
    free(out);
    weir_gauge_set(g, 0.0 / 0.0);
    out = render(m);
    assert_contains(out, "weir_test_ratio NaN\n");
    free(out);
    weir_gauge_set(g, 1500);
    out = render(m);
    assert_contains(out, "weir_test_ratio 1500\n");
    /* Every line ends in a newline and the whole has no NUL before its end. */
    assert_int_equal(out[strlen(out) - 1], '\n');
    free(out);
    weir_metrics_destroy(m);
}

static void test_histogram_buckets(void **state)
{
    (void)state;
    weir_metrics *m = new_registry();
    weir_histogram *h, *h2;
    const double b[] = {0.1, 0.5, 1};
    assert_int_equal(
        weir_metrics_histogram(m, "weir_op_seconds", "Op time.", L("op", "a"), b, 3, &h), WEIR_OK);
    /* A bound is inclusive: 0.1 lands in le="0.1", 5 only in +Inf. */
    weir_histogram_observe(h, 0.1);
    weir_histogram_observe(h, 0.2);
    weir_histogram_observe(h, 1);
    weir_histogram_observe(h, 5);
    weir_histogram_observe(h, 0.0 / 0.0);
    assert_int_equal(weir_histogram_count(h), 4);
    char *out = render(m);
    assert_contains(out, "# HELP weir_op_seconds Op time.\n"
                         "# TYPE weir_op_seconds histogram\n"
                         "weir_op_seconds_bucket{op=\"a\",le=\"0.1\"} 1\n"
                         "weir_op_seconds_bucket{op=\"a\",le=\"0.5\"} 2\n"
                         "weir_op_seconds_bucket{op=\"a\",le=\"1\"} 3\n"
                         "weir_op_seconds_bucket{op=\"a\",le=\"+Inf\"} 4\n"
                         "weir_op_seconds_sum{op=\"a\"} 6.3\n"
                         "weir_op_seconds_count{op=\"a\"} 4\n");
    free(out);

    /* Same family, other bounds: refused; same bounds: a second series. */
    const double other[] = {0.1, 0.5};
    assert_int_equal(weir_metrics_histogram(m, "weir_op_seconds", "", L("op", "b"), other, 2, &h2),
                     WEIR_ERR_INVALID_ARG);
    assert_int_equal(weir_metrics_histogram(m, "weir_op_seconds", "", L("op", "b"), b, 3, &h2),
                     WEIR_OK);
    /* Bad bounds. */
    const double unsorted[] = {1, 0.5}, inf[] = {1, 1.0 / 0.0}, dup[] = {1, 1};
    assert_int_equal(weir_metrics_histogram(m, "x_seconds", "", NULL, unsorted, 2, &h2),
                     WEIR_ERR_INVALID_ARG);
    assert_int_equal(weir_metrics_histogram(m, "x_seconds", "", NULL, inf, 2, &h2),
                     WEIR_ERR_INVALID_ARG);
    assert_int_equal(weir_metrics_histogram(m, "x_seconds", "", NULL, dup, 2, &h2),
                     WEIR_ERR_INVALID_ARG);
    assert_int_equal(weir_metrics_histogram(m, "x_seconds", "", NULL, b, 0, &h2),
                     WEIR_ERR_INVALID_ARG);
    /* Default buckets, without labels. */
    assert_int_equal(weir_metrics_histogram(m, "weir_default_seconds", "D.", NULL, NULL, 0, &h2),
                     WEIR_OK);
    weir_histogram_observe(h2, 0.3);
    out = render(m);
    assert_contains(out, "weir_default_seconds_bucket{le=\"0.005\"} 0\n");
    assert_contains(out, "weir_default_seconds_bucket{le=\"0.25\"} 0\n"
                         "weir_default_seconds_bucket{le=\"0.5\"} 1\n");
    assert_contains(out, "weir_default_seconds_bucket{le=\"10\"} 1\n"
                         "weir_default_seconds_bucket{le=\"+Inf\"} 1\n"
                         "weir_default_seconds_sum 0.3\n"
                         "weir_default_seconds_count 1\n");
    free(out);
    weir_metrics_destroy(m);
}

static double callback_value = 7.5;
static double read_value(void *arg)
{
    return *(double *)arg;
}

static void test_process_and_callbacks(void **state)
{
    (void)state;
    weir_metrics *m = new_registry();
    assert_int_equal(weir_metrics_gauge_fn(m, "weir_lag_seconds", "Lag.", L("partition", "0"),
                                           read_value, &callback_value),
                     WEIR_OK);
    assert_int_equal(weir_metrics_gauge_fn(m, "weir_lag_seconds", "Lag.", L("partition", "0"),
                                           read_value, &callback_value),
                     WEIR_ERR_INVALID_ARG);
    weir_gauge *g;
    assert_int_equal(weir_metrics_gauge(m, "weir_lag_seconds", "", L("partition", "0"), &g),
                     WEIR_ERR_INVALID_ARG);
    assert_int_equal(
        weir_metrics_counter_fn(m, "weir_cb_total", "Cb.", NULL, read_value, &callback_value),
        WEIR_OK);
    char *out = render(m);
    assert_contains(out, "weir_lag_seconds{partition=\"0\"} 7.5\n");
    assert_contains(out, "# TYPE weir_cb_total counter\nweir_cb_total 7.5\n");
    assert_contains(out, "# TYPE process_cpu_seconds_total counter\nprocess_cpu_seconds_total ");
    assert_contains(out, "# TYPE process_resident_memory_bytes gauge\n");
    assert_contains(out, "# TYPE process_open_fds gauge\nprocess_open_fds ");
    assert_contains(out, "# TYPE process_start_time_seconds gauge\n");
    assert_contains(out, "weir_build_info{version=\"" WEIR_VERSION_STRING "\"} 1\n");
    /* The values are plausible: a start within the last day, some resident memory. */
    double start = strtod(strstr(out, "\nprocess_start_time_seconds ") + 28, NULL);
    double rss = strtod(strstr(out, "\nprocess_resident_memory_bytes ") + 31, NULL);
    double fds = strtod(strstr(out, "\nprocess_open_fds ") + 18, NULL);
    assert_true(start > (double)time(NULL) - 86400 && start <= (double)time(NULL) + 1);
    assert_true(rss > 1e5);
    assert_true(fds >= 3);
    free(out);
    weir_metrics_destroy(m);
}

/* ------------------------------------------------------------------ concurrency */

#define THREADS 4
#define ROUNDS  200000

struct shared {
    weir_metrics *m;
    weir_counter *c;
    weir_gauge *g;
    weir_histogram *h;
    int id;
};

static void *writer(void *arg)
{
    struct shared *s = arg;
    char v[8];
    snprintf(v, sizeof v, "%d", s->id);
    weir_counter *own = NULL;
    assert_int_equal(weir_metrics_counter(s->m, "weir_own_total", "Own.", L("thread", v), &own),
                     WEIR_OK);
    for (uint64_t i = 1; i <= ROUNDS; i++) {
        weir_counter_inc(s->c);
        weir_counter_set(own, i);
        weir_gauge_add(s->g, 1);
        weir_histogram_observe(s->h, (double)(i % 4) * 0.25);
        if (i % 20000 == 0) {
            /* Registration while others render and write. */
            char name[16];
            snprintf(name, sizeof name, "%d_%llu", s->id, (unsigned long long)i);
            weir_gauge *g;
            assert_int_equal(weir_metrics_gauge(s->m, "weir_late", "Late.", L("n", name), &g),
                             WEIR_OK);
            weir_gauge_set(g, 1);
        }
    }
    return NULL;
}

static void test_concurrent_updates_while_rendering(void **state)
{
    (void)state;
    weir_metrics *m = new_registry();
    struct shared s[THREADS];
    weir_counter *c;
    weir_gauge *g;
    weir_histogram *h;
    const double b[] = {0.25, 0.5};
    assert_int_equal(weir_metrics_counter(m, "weir_shared_total", "Shared.", NULL, &c), WEIR_OK);
    assert_int_equal(weir_metrics_gauge(m, "weir_shared", "Shared.", NULL, &g), WEIR_OK);
    assert_int_equal(weir_metrics_histogram(m, "weir_shared_seconds", "S.", NULL, b, 2, &h),
                     WEIR_OK);
    pthread_t t[THREADS];
    for (int i = 0; i < THREADS; i++) {
        s[i] = (struct shared){m, c, g, h, i};
        assert_int_equal(pthread_create(&t[i], NULL, writer, &s[i]), 0);
    }
    int renders = 0;
    uint64_t last = 0;
    while (weir_counter_value(c) < (uint64_t)THREADS * ROUNDS) {
        char *out = render(m);
        /* Each scrape is self-consistent: +Inf bucket == _count, counters never go back. */
        static const char inf_s[] = "weir_shared_seconds_bucket{le=\"+Inf\"} ",
                          cnt_s[] = "weir_shared_seconds_count ", tot_s[] = "\nweir_shared_total ";
        const char *inf = strstr(out, inf_s), *cnt = strstr(out, cnt_s), *tot = strstr(out, tot_s);
        assert_non_null(inf);
        assert_non_null(cnt);
        assert_non_null(tot);
        assert_int_equal(strtoull(inf + sizeof inf_s - 1, NULL, 10),
                         strtoull(cnt + sizeof cnt_s - 1, NULL, 10));
        uint64_t now = strtoull(tot + sizeof tot_s - 1, NULL, 10);
        assert_true(now >= last);
        last = now;
        free(out);
        renders++;
    }
    for (int i = 0; i < THREADS; i++)
        assert_int_equal(pthread_join(t[i], NULL), 0);
    assert_true(renders > 0);
    assert_int_equal(weir_counter_value(c), (uint64_t)THREADS * ROUNDS);
    assert_true(weir_gauge_value(g) == (double)THREADS * ROUNDS);
    assert_int_equal(weir_histogram_count(h), (uint64_t)THREADS * ROUNDS);
    char *out = render(m);
    char line[128];
    snprintf(line, sizeof line, "weir_shared_seconds_bucket{le=\"0.25\"} %d\n",
             THREADS * ROUNDS / 2);
    assert_contains(out, line);
    snprintf(line, sizeof line, "weir_shared_seconds_sum %d\n", THREADS * ROUNDS / 4 * 3 / 2);
    assert_contains(out, line);
    snprintf(line, sizeof line, "weir_own_total{thread=\"3\"} %d\n", ROUNDS);
    assert_contains(out, line);
    assert_contains(out, "weir_late{n=\"2_200000\"} 1\n");
    free(out);
    weir_metrics_destroy(m);
}

/* ------------------------------------------------------------------ HTTP endpoint */

struct body {
    char data[1 << 16];
    size_t len;
};

static size_t collect(char *p, size_t size, size_t n, void *arg)
{
    struct body *b = arg;
    size_t k = size * n;
    if (b->len + k >= sizeof b->data)
        return 0;
    memcpy(b->data + b->len, p, k);
    b->len += k;
    b->data[b->len] = '\0';
    return k;
}

/* GETs (or sends `method` to) http://127.0.0.1:port/path; returns the status code. */
static long http(unsigned port, const char *method, const char *path, struct body *b, char *ctype,
                 size_t ctype_size)
{
    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%u%s", port, path);
    CURL *c = curl_easy_init();
    assert_non_null(c);
    b->len = 0;
    b->data[0] = '\0';
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    if (strcmp(method, "HEAD") == 0)
        curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, b);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 10L);
    assert_int_equal(curl_easy_perform(c), CURLE_OK);
    long code = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
    char *ct = NULL;
    curl_easy_getinfo(c, CURLINFO_CONTENT_TYPE, &ct);
    if (ctype)
        snprintf(ctype, ctype_size, "%s", ct ? ct : "");
    curl_easy_cleanup(c);
    return code;
}

struct readiness {
    int ready;
};

static int is_ready(void *arg, char *reason, size_t size)
{
    struct readiness *r = arg;
    if (!r->ready)
        snprintf(reason, size, "partitions not assigned");
    return r->ready;
}

static int logged;
static void count_log(void *arg, weir_log_level level, const char *msg,
                      const weir_log_field *fields, size_t n)
{
    (void)arg, (void)level, (void)msg, (void)fields, (void)n;
    logged++;
}

static void test_server(void **state)
{
    (void)state;
    static struct body b;
    char ctype[128];
    weir_metrics *m = new_registry();
    weir_counter *c;
    assert_int_equal(weir_metrics_counter(m, "weir_hits_total", "Hits.", NULL, &c), WEIR_OK);
    weir_counter_add(c, 3);
    struct readiness r = {0};
    weir_metrics_server_opts o = {.ready = is_ready, .ready_arg = &r, .log = count_log};
    weir_metrics_server *s = NULL;
    char err[256];
    assert_int_equal(weir_metrics_server_start(m, &o, &s, err, sizeof err), WEIR_OK);
    unsigned port = weir_metrics_server_port(s);
    assert_true(port > 0 && port < 65536);

    assert_int_equal(http(port, "GET", "/metrics", &b, ctype, sizeof ctype), 200);
    assert_string_equal(ctype, "text/plain; version=0.0.4; charset=utf-8");
    assert_contains(b.data, "weir_hits_total 3\n");
    assert_contains(b.data, "process_open_fds ");
    assert_int_equal(http(port, "HEAD", "/metrics", &b, NULL, 0), 200);
    assert_int_equal(b.len, 0);
    assert_int_equal(http(port, "GET", "/healthz", &b, NULL, 0), 200);
    assert_int_equal(http(port, "GET", "/readyz", &b, NULL, 0), 503);
    assert_string_equal(b.data, "not ready: partitions not assigned\n");
    r.ready = 1;
    assert_int_equal(http(port, "GET", "/readyz", &b, NULL, 0), 200);
    assert_int_equal(http(port, "GET", "/nope", &b, NULL, 0), 404);
    assert_int_equal(http(port, "POST", "/metrics", &b, NULL, 0), 405);
    assert_int_equal(http(port, "DELETE", "/healthz", &b, NULL, 0), 405);

    /* The port is taken: a second server cannot bind it and says so. */
    weir_metrics_server *s2 = NULL;
    weir_metrics_server_opts o2 = {.port = port, .log = count_log};
    assert_int_equal(weir_metrics_server_start(m, &o2, &s2, err, sizeof err), WEIR_ERR_IO);
    assert_null(s2);
    assert_non_null(strstr(err, "cannot listen"));
    assert_true(logged > 0);
    /* Bad hosts and ports. */
    o2 = (weir_metrics_server_opts){.host = "localhost"};
    assert_int_equal(weir_metrics_server_start(m, &o2, &s2, err, sizeof err), WEIR_ERR_INVALID_ARG);
    o2 = (weir_metrics_server_opts){.port = 70000};
    assert_int_equal(weir_metrics_server_start(m, &o2, &s2, err, sizeof err), WEIR_ERR_INVALID_ARG);
    /* IPv6 loopback, when the machine has it. */
    o2 = (weir_metrics_server_opts){.host = "::1"};
    if (weir_metrics_server_start(m, &o2, &s2, err, sizeof err) == WEIR_OK) {
        assert_true(weir_metrics_server_port(s2) > 0);
        weir_metrics_server_stop(s2);
    }

    weir_metrics_server_stop(s);
    weir_metrics_server_stop(NULL);
    weir_metrics_destroy(m);
}

/* The job series: weir_records_total{outcome="filtered"} exists only once a job reports
 * filtered records, and then carries their total; the other outcomes are there from the start
 * and follow the pipeline's counters. */
static void test_job_series_filtered(void **state)
{
    (void)state;
    weir_metrics *m = new_registry();
    weir__job_metrics *jm = NULL;
    assert_int_equal(weir__job_metrics_new(m, &jm), WEIR_OK);
    assert_non_null(jm);
    weir_pipeline_stats st = {0};
    st.valid = 7;
    st.invalid = 2;
    weir__job_metrics_publish(jm, &st, 0);
    char *text = render(m);
    assert_contains(text, "weir_records_total{outcome=\"valid\"} 7\n");
    assert_contains(text, "weir_records_total{outcome=\"invalid\"} 2\n");
    assert_null(strstr(text, "outcome=\"filtered\""));
    free(text);
    weir__job_metrics_filtered(jm, 5);
    weir__job_metrics_filtered(jm, 9);
    text = render(m);
    assert_contains(text, "weir_records_total{outcome=\"filtered\"} 9\n");
    free(text);
    weir__job_metrics_filtered(NULL, 1);
    weir__job_metrics_destroy(jm);
    weir_metrics_destroy(m);
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_registration_rules),
        cmocka_unit_test(test_series_limit),
        cmocka_unit_test(test_utf8_and_remove),
        cmocka_unit_test(test_exposition_escaping),
        cmocka_unit_test(test_histogram_buckets),
        cmocka_unit_test(test_process_and_callbacks),
        cmocka_unit_test(test_concurrent_updates_while_rendering),
        cmocka_unit_test(test_server),
        cmocka_unit_test(test_job_series_filtered),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    curl_global_cleanup();
    return rc;
}
