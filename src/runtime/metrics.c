/* The metrics registry and its Prometheus text exposition (format 0.0.4).
 *
 * Each series keeps its hot values (an atomic counter, the bits of a gauge's double, a
 * histogram's per-bucket counts and sum) in its own cache-line-aligned block, so that writers
 * of different series on different threads never share a line. Registration and rendering are
 * rare and hold the registry's mutex; updates never take it. Histogram buckets are stored
 * non-cumulatively and summed when rendered, and `_count` is rendered as that sum, so a
 * scrape is always self-consistent (+Inf bucket == _count) even while observations land. */
#include <ctype.h>
#include <dirent.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "runtime/utf8.h"
#include "util/buf.h"
#include "util/clock.h"
#include "weir/metrics.h"
#include "weir/weir.h"

#define LINE 64

struct weir_counter {
    _Atomic uint64_t v;
};

struct weir_gauge {
    _Atomic uint64_t bits; /* the double's bits */
};

struct weir_histogram {
    const double *bounds; /* the family's, n of them */
    size_t n;
    _Atomic uint64_t sum_bits;
    _Atomic uint64_t buckets[]; /* n + 1, the last for +Inf; not cumulative */
};

enum kind { KIND_COUNTER, KIND_GAUGE, KIND_HISTOGRAM };

struct series {
    char *labels; /* the rendered, escaped `a="x",b="y"`, "" without labels */
    weir_metric_fn fn;
    void *arg;
    void *hot; /* weir_counter, weir_gauge or weir_histogram; NULL for a callback series */
};

struct family {
    char *name;
    char *help;
    enum kind kind;
    size_t nlabels;
    char *label_names[WEIR_METRICS_MAX_LABELS];
    double bounds[WEIR_METRICS_MAX_BUCKETS];
    size_t nbounds;
    struct series *series;
    size_t nseries, cap;
};

struct weir_metrics {
    pthread_mutex_t mu;
    struct family **families;
    size_t nfamilies, cap;
    double start_time;
};

static const double default_bounds[] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};

static uint64_t dbits(double d)
{
    uint64_t u;
    memcpy(&u, &d, sizeof u);
    return u;
}

static double bitsd(uint64_t u)
{
    double d;
    memcpy(&d, &u, sizeof d);
    return d;
}

/* Escapes a label value (`quote` = 1: backslash, double quote, newline) or a HELP text
 * (`quote` = 0: backslash, newline), as the exposition format asks. */
static void buf_escaped(weir__buf *b, const char *s, int quote)
{
    for (const char *p = s; *p; p++) {
        if (*p == '\\')
            weir__buf_put(b, "\\\\", 2);
        else if (*p == '\n')
            weir__buf_put(b, "\\n", 2);
        else if (*p == '"' && quote)
            weir__buf_put(b, "\\\"", 2);
        else
            weir__buf_put(b, p, 1);
    }
}

/* The shortest of %.15g and %.17g that reads back as `v`; Prometheus's spellings of the
 * special values. */
static void buf_double(weir__buf *b, double v)
{
    if (isnan(v)) {
        weir__buf_str(b, "NaN");
        return;
    }
    if (isinf(v)) {
        weir__buf_str(b, v > 0 ? "+Inf" : "-Inf");
        return;
    }
    char tmp[40];
    snprintf(tmp, sizeof tmp, "%.15g", v);
    if (strtod(tmp, NULL) != v)
        snprintf(tmp, sizeof tmp, "%.17g", v);
    weir__buf_str(b, tmp);
}

/* ------------------------------------------------------------------ validation */

static int valid_name(const char *s, int metric)
{
    if (!s || !*s)
        return 0;
    if (!metric && s[0] == '_' && s[1] == '_')
        return 0;
    for (const char *p = s; *p; p++) {
        int c = (unsigned char)*p;
        int ok = isalpha(c) || c == '_' || (metric && c == ':') || (p != s && isdigit(c));
        if (!ok || c > 127)
            return 0;
    }
    return 1;
}

static int ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && strcmp(s + n - k, suffix) == 0;
}

/* Counts the label pairs of `labels` and checks their names; -1 when malformed. */
static int count_labels(const char *const *labels, enum kind kind)
{
    if (!labels)
        return 0;
    int n = 0;
    for (; labels[2 * n]; n++) {
        if (n == WEIR_METRICS_MAX_LABELS || !labels[2 * n + 1] || !valid_name(labels[2 * n], 0))
            return -1;
        if (kind == KIND_HISTOGRAM && strcmp(labels[2 * n], "le") == 0)
            return -1;
        if (!weir__utf8_valid(labels[2 * n + 1]))
            return -1;
        for (int j = 0; j < n; j++)
            if (strcmp(labels[2 * j], labels[2 * n]) == 0)
                return -1;
    }
    return n;
}

static char *render_labels(const char *const *labels, size_t n)
{
    weir__buf b = {0};
    weir__buf_put(&b, "", 0);
    for (size_t i = 0; i < n; i++) {
        if (i)
            weir__buf_put(&b, ",", 1);
        weir__buf_str(&b, labels[2 * i]);
        weir__buf_put(&b, "=\"", 2);
        buf_escaped(&b, labels[2 * i + 1], 1);
        weir__buf_put(&b, "\"", 1);
    }
    if (b.oom) {
        free(b.p);
        return NULL;
    }
    return b.p;
}

/* ------------------------------------------------------------------ registration */

static void family_free(struct family *f)
{
    if (!f)
        return;
    for (size_t i = 0; i < f->nseries; i++) {
        free(f->series[i].labels);
        free(f->series[i].hot);
    }
    free(f->series);
    for (size_t i = 0; i < f->nlabels; i++)
        free(f->label_names[i]);
    free(f->name);
    free(f->help);
    free(f);
}

static struct family *family_find(weir_metrics *m, const char *name)
{
    for (size_t i = 0; i < m->nfamilies; i++)
        if (strcmp(m->families[i]->name, name) == 0)
            return m->families[i];
    return NULL;
}

/* Finds or creates the family, checking that it matches; sets *err on failure. */
static struct family *family_get(weir_metrics *m, enum kind kind, const char *name,
                                 const char *help, const char *const *labels, size_t nlabels,
                                 const double *bounds, size_t nbounds, weir_err *err)
{
    *err = WEIR_ERR_INVALID_ARG;
    struct family *f = family_find(m, name);
    if (f) {
        if (f->kind != kind || f->nlabels != nlabels)
            return NULL;
        for (size_t i = 0; i < nlabels; i++)
            if (strcmp(f->label_names[i], labels[2 * i]) != 0)
                return NULL;
        if (kind == KIND_HISTOGRAM &&
            (f->nbounds != nbounds || memcmp(f->bounds, bounds, nbounds * sizeof *bounds) != 0))
            return NULL;
        return f;
    }
    *err = WEIR_ERR_NOMEM;
    if (m->nfamilies == m->cap) {
        size_t cap = m->cap ? m->cap * 2 : 16;
        struct family **fs = realloc(m->families, cap * sizeof *fs);
        if (!fs)
            return NULL;
        m->families = fs;
        m->cap = cap;
    }
    f = calloc(1, sizeof *f);
    if (!f)
        return NULL;
    f->kind = kind;
    f->name = strdup(name);
    f->help = strdup(help ? help : "");
    int oom = !f->name || !f->help;
    for (size_t i = 0; i < nlabels; i++) {
        f->label_names[i] = strdup(labels[2 * i]);
        f->nlabels = i + 1;
        oom |= !f->label_names[i];
    }
    if (oom) {
        family_free(f);
        return NULL;
    }
    if (nbounds)
        memcpy(f->bounds, bounds, nbounds * sizeof *bounds);
    f->nbounds = nbounds;
    m->families[m->nfamilies++] = f;
    return f;
}

static size_t hot_size(const struct family *f)
{
    size_t n = f->kind == KIND_COUNTER ? sizeof(weir_counter)
               : f->kind == KIND_GAUGE
                   ? sizeof(weir_gauge)
                   : sizeof(weir_histogram) + (f->nbounds + 1) * sizeof(_Atomic uint64_t);
    return (n + LINE - 1) / LINE * LINE;
}

/* Registers one series; *out receives its hot block (NULL for a callback series). */
static weir_err reg(weir_metrics *m, enum kind kind, const char *name, const char *help,
                    const char *const *labels, const double *bounds, size_t nbounds,
                    weir_metric_fn fn, void *arg, void **out)
{
    if (!m || !valid_name(name, 1) || (fn == NULL && out == NULL) ||
        (help && !weir__utf8_valid(help)))
        return WEIR_ERR_INVALID_ARG;
    if (kind == KIND_COUNTER && !ends_with(name, "_total"))
        return WEIR_ERR_INVALID_ARG;
    if (kind != KIND_COUNTER && ends_with(name, "_total"))
        return WEIR_ERR_INVALID_ARG;
    if (kind == KIND_HISTOGRAM) {
        if (!bounds) {
            bounds = default_bounds;
            nbounds = sizeof default_bounds / sizeof *default_bounds;
        }
        if (nbounds == 0 || nbounds > WEIR_METRICS_MAX_BUCKETS)
            return WEIR_ERR_INVALID_ARG;
        for (size_t i = 0; i < nbounds; i++)
            if (!isfinite(bounds[i]) || (i && bounds[i] <= bounds[i - 1]))
                return WEIR_ERR_INVALID_ARG;
    }
    int nl = count_labels(labels, kind);
    if (nl < 0)
        return WEIR_ERR_INVALID_ARG;
    char *rendered = render_labels(labels, (size_t)nl);
    if (!rendered)
        return WEIR_ERR_NOMEM;

    weir_err err;
    pthread_mutex_lock(&m->mu);
    struct family *f = family_get(m, kind, name, help, labels, (size_t)nl, bounds, nbounds, &err);
    if (!f)
        goto fail;
    for (size_t i = 0; i < f->nseries; i++) {
        struct series *s = &f->series[i];
        if (strcmp(s->labels, rendered) != 0)
            continue;
        err = WEIR_ERR_INVALID_ARG;
        if (fn || !s->hot)
            goto fail;
        *out = s->hot;
        free(rendered);
        pthread_mutex_unlock(&m->mu);
        return WEIR_OK;
    }
    err = WEIR_ERR_STATE;
    if (f->nseries == WEIR_METRICS_MAX_SERIES)
        goto fail;
    err = WEIR_ERR_NOMEM;
    if (f->nseries == f->cap) {
        size_t cap = f->cap ? f->cap * 2 : 4;
        struct series *ss = realloc(f->series, cap * sizeof *ss);
        if (!ss)
            goto fail;
        f->series = ss;
        f->cap = cap;
    }
    void *hot = NULL;
    if (!fn) {
        size_t size = hot_size(f);
        hot = aligned_alloc(LINE, size);
        if (!hot)
            goto fail;
        memset(hot, 0, size);
        if (kind == KIND_HISTOGRAM) {
            weir_histogram *h = hot;
            h->bounds = f->bounds;
            h->n = f->nbounds;
        }
        *out = hot;
    }
    f->series[f->nseries++] = (struct series){rendered, fn, arg, hot};
    pthread_mutex_unlock(&m->mu);
    return WEIR_OK;
fail:
    pthread_mutex_unlock(&m->mu);
    free(rendered);
    return err;
}

weir_err weir_metrics_counter(weir_metrics *m, const char *name, const char *help,
                              const char *const *labels, weir_counter **out)
{
    void *hot = NULL;
    weir_err err = reg(m, KIND_COUNTER, name, help, labels, NULL, 0, NULL, NULL, out ? &hot : NULL);
    if (err == WEIR_OK)
        *out = hot;
    return err;
}

weir_err weir_metrics_gauge(weir_metrics *m, const char *name, const char *help,
                            const char *const *labels, weir_gauge **out)
{
    void *hot = NULL;
    weir_err err = reg(m, KIND_GAUGE, name, help, labels, NULL, 0, NULL, NULL, out ? &hot : NULL);
    if (err == WEIR_OK)
        *out = hot;
    return err;
}

weir_err weir_metrics_histogram(weir_metrics *m, const char *name, const char *help,
                                const char *const *labels, const double *bounds, size_t n,
                                weir_histogram **out)
{
    void *hot = NULL;
    weir_err err =
        reg(m, KIND_HISTOGRAM, name, help, labels, bounds, n, NULL, NULL, out ? &hot : NULL);
    if (err == WEIR_OK)
        *out = hot;
    return err;
}

weir_err weir_metrics_gauge_fn(weir_metrics *m, const char *name, const char *help,
                               const char *const *labels, weir_metric_fn fn, void *arg)
{
    if (!fn)
        return WEIR_ERR_INVALID_ARG;
    return reg(m, KIND_GAUGE, name, help, labels, NULL, 0, fn, arg, NULL);
}

weir_err weir_metrics_counter_fn(weir_metrics *m, const char *name, const char *help,
                                 const char *const *labels, weir_metric_fn fn, void *arg)
{
    if (!fn)
        return WEIR_ERR_INVALID_ARG;
    return reg(m, KIND_COUNTER, name, help, labels, NULL, 0, fn, arg, NULL);
}

weir_err weir_metrics_remove(weir_metrics *m, const char *name, const char *const *labels)
{
    if (!m || !name)
        return WEIR_ERR_INVALID_ARG;
    int nl = count_labels(labels, KIND_COUNTER);
    if (nl < 0)
        return WEIR_ERR_INVALID_ARG;
    char *rendered = render_labels(labels, (size_t)nl);
    if (!rendered)
        return WEIR_ERR_NOMEM;
    weir_err err = WEIR_ERR_NOT_FOUND;
    pthread_mutex_lock(&m->mu);
    struct family *f = family_find(m, name);
    for (size_t i = 0; f && i < f->nseries; i++) {
        struct series *s = &f->series[i];
        if (strcmp(s->labels, rendered) != 0)
            continue;
        free(s->labels);
        free(s->hot);
        memmove(s, s + 1, (f->nseries - i - 1) * sizeof *s);
        f->nseries--;
        err = WEIR_OK;
        break;
    }
    pthread_mutex_unlock(&m->mu);
    free(rendered);
    return err;
}

/* ------------------------------------------------------------------ updates */

void weir_counter_add(weir_counter *c, uint64_t n)
{
    atomic_fetch_add_explicit(&c->v, n, memory_order_relaxed);
}

void weir_counter_inc(weir_counter *c)
{
    atomic_fetch_add_explicit(&c->v, 1, memory_order_relaxed);
}

void weir_counter_set(weir_counter *c, uint64_t total)
{
    atomic_store_explicit(&c->v, total, memory_order_relaxed);
}

uint64_t weir_counter_value(const weir_counter *c)
{
    return atomic_load_explicit(&((weir_counter *)c)->v, memory_order_relaxed);
}

void weir_gauge_set(weir_gauge *g, double v)
{
    atomic_store_explicit(&g->bits, dbits(v), memory_order_relaxed);
}

static void add_double(_Atomic uint64_t *bits, double d)
{
    uint64_t old = atomic_load_explicit(bits, memory_order_relaxed);
    while (!atomic_compare_exchange_weak_explicit(bits, &old, dbits(bitsd(old) + d),
                                                  memory_order_relaxed, memory_order_relaxed))
        ;
}

void weir_gauge_add(weir_gauge *g, double d)
{
    add_double(&g->bits, d);
}

double weir_gauge_value(const weir_gauge *g)
{
    return bitsd(atomic_load_explicit(&((weir_gauge *)g)->bits, memory_order_relaxed));
}

void weir_histogram_observe(weir_histogram *h, double v)
{
    if (isnan(v))
        return;
    size_t i = 0;
    while (i < h->n && v > h->bounds[i])
        i++;
    atomic_fetch_add_explicit(&h->buckets[i], 1, memory_order_relaxed);
    add_double(&h->sum_bits, v);
}

uint64_t weir_histogram_count(const weir_histogram *h)
{
    uint64_t n = 0;
    for (size_t i = 0; i <= h->n; i++)
        n += atomic_load_explicit(&((weir_histogram *)h)->buckets[i], memory_order_relaxed);
    return n;
}

/* ------------------------------------------------------------------ rendering */

static void sample_head(weir__buf *b, const char *name, const char *suffix, const char *labels,
                        const char *le)
{
    weir__buf_str(b, name);
    weir__buf_str(b, suffix);
    if (*labels || le) {
        weir__buf_put(b, "{", 1);
        weir__buf_str(b, labels);
        if (le) {
            weir__buf_str(b, *labels ? ",le=\"" : "le=\"");
            weir__buf_str(b, le);
            weir__buf_put(b, "\"", 1);
        }
        weir__buf_put(b, "}", 1);
    }
    weir__buf_put(b, " ", 1);
}

static void render_histogram(weir__buf *b, const struct family *f, const struct series *s)
{
    const weir_histogram *h = s->hot;
    uint64_t cum = 0;
    weir__buf le = {0};
    for (size_t i = 0; i <= h->n; i++) {
        cum += atomic_load_explicit(&((weir_histogram *)h)->buckets[i], memory_order_relaxed);
        le.len = 0;
        if (i < h->n)
            buf_double(&le, h->bounds[i]);
        else
            weir__buf_str(&le, "+Inf");
        sample_head(b, f->name, "_bucket", s->labels, le.oom ? "" : le.p);
        weir__buf_printf(b, "%llu\n", (unsigned long long)cum);
    }
    free(le.p);
    sample_head(b, f->name, "_sum", s->labels, NULL);
    buf_double(b,
               bitsd(atomic_load_explicit(&((weir_histogram *)h)->sum_bits, memory_order_relaxed)));
    weir__buf_put(b, "\n", 1);
    sample_head(b, f->name, "_count", s->labels, NULL);
    weir__buf_printf(b, "%llu\n", (unsigned long long)cum);
}

static const char *type_name(enum kind k)
{
    return k == KIND_COUNTER ? "counter" : k == KIND_GAUGE ? "gauge" : "histogram";
}

weir_err weir_metrics_render(weir_metrics *m, char **out, size_t *len)
{
    if (!m || !out || !len)
        return WEIR_ERR_INVALID_ARG;
    weir__buf b = {0};
    weir__buf_put(&b, "", 0);
    pthread_mutex_lock(&m->mu);
    for (size_t i = 0; i < m->nfamilies; i++) {
        const struct family *f = m->families[i];
        if (!f->nseries)
            continue;
        weir__buf_printf(&b, "# HELP %s ", f->name);
        buf_escaped(&b, f->help, 0);
        weir__buf_printf(&b, "\n# TYPE %s %s\n", f->name, type_name(f->kind));
        for (size_t j = 0; j < f->nseries; j++) {
            const struct series *s = &f->series[j];
            if (f->kind == KIND_HISTOGRAM) {
                render_histogram(&b, f, s);
                continue;
            }
            sample_head(&b, f->name, "", s->labels, NULL);
            if (s->fn)
                buf_double(&b, s->fn(s->arg));
            else if (f->kind == KIND_COUNTER)
                weir__buf_printf(&b, "%llu", (unsigned long long)weir_counter_value(s->hot));
            else
                buf_double(&b, weir_gauge_value(s->hot));
            weir__buf_put(&b, "\n", 1);
        }
    }
    pthread_mutex_unlock(&m->mu);
    if (b.oom) {
        free(b.p);
        *out = NULL;
        *len = 0;
        return WEIR_ERR_NOMEM;
    }
    *out = b.p;
    *len = b.len;
    return WEIR_OK;
}

/* ------------------------------------------------------------------ process metrics */

static double process_cpu(void *arg)
{
    (void)arg;
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) != 0)
        return 0;
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

static double process_rss(void *arg)
{
    (void)arg;
    FILE *f = fopen("/proc/self/statm", "r");
    if (!f)
        return 0;
    unsigned long long size = 0, resident = 0;
    int n = fscanf(f, "%llu %llu", &size, &resident);
    fclose(f);
    return n == 2 ? (double)resident * (double)sysconf(_SC_PAGESIZE) : 0;
}

static double process_fds(void *arg)
{
    (void)arg;
    DIR *d = opendir("/proc/self/fd");
    if (!d)
        return 0;
    long self = dirfd(d), n = 0;
    for (struct dirent *e; (e = readdir(d)) != NULL;)
        if (e->d_name[0] != '.' && strtol(e->d_name, NULL, 10) != self)
            n++;
    closedir(d);
    return (double)n;
}

/* The process's start: boot time (/proc/stat btime) plus its start in clock ticks after boot
 * (/proc/self/stat field 22, read after the command name, which may hold spaces). The time of
 * the registry's creation when /proc cannot tell. */
static double start_time(void)
{
    double fallback = (double)weir__wall_ms() / 1000.0;
    char line[1024];
    unsigned long long btime = 0, ticks = 0;
    FILE *f = fopen("/proc/stat", "r");
    if (!f)
        return fallback;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "btime %llu", &btime) == 1)
            break;
    fclose(f);
    f = fopen("/proc/self/stat", "r");
    if (!f)
        return fallback;
    size_t n = fread(line, 1, sizeof line - 1, f);
    fclose(f);
    line[n] = '\0';
    char *p = strrchr(line, ')');
    long hz = sysconf(_SC_CLK_TCK);
    if (!p || !btime || hz <= 0)
        return fallback;
    /* After ") " come fields 3 (state) to 22 (starttime). */
    p++;
    for (int field = 3; field <= 22 && p; field++) {
        p = strchr(p, ' ');
        if (p)
            p++;
        if (field == 22 && p)
            ticks = strtoull(p, NULL, 10);
    }
    if (!p)
        return fallback;
    return (double)btime + (double)ticks / (double)hz;
}

static double start_time_fn(void *arg)
{
    return ((weir_metrics *)arg)->start_time;
}

static double one(void *arg)
{
    (void)arg;
    return 1;
}

weir_err weir_metrics_new(weir_metrics **out)
{
    if (!out)
        return WEIR_ERR_INVALID_ARG;
    weir_metrics *m = calloc(1, sizeof *m);
    if (!m)
        return WEIR_ERR_NOMEM;
    if (pthread_mutex_init(&m->mu, NULL) != 0) {
        free(m);
        return WEIR_ERR_NOMEM;
    }
    m->start_time = start_time();
    weir_err err = weir_metrics_counter_fn(m, "process_cpu_seconds_total",
                                           "Total user and system CPU time spent in seconds.", NULL,
                                           process_cpu, NULL);
    if (!err)
        err = weir_metrics_gauge_fn(m, "process_resident_memory_bytes",
                                    "Resident memory size in bytes.", NULL, process_rss, NULL);
    if (!err)
        err = weir_metrics_gauge_fn(m, "process_open_fds", "Number of open file descriptors.", NULL,
                                    process_fds, NULL);
    if (!err)
        err = weir_metrics_gauge_fn(m, "process_start_time_seconds",
                                    "Start time of the process since unix epoch in seconds.", NULL,
                                    start_time_fn, m);
    if (!err)
        err = weir_metrics_gauge_fn(
            m, "weir_build_info", "The weir library's version; the value is always 1.",
            (const char *const[]){"version", weir_version(), NULL}, one, NULL);
    if (err) {
        weir_metrics_destroy(m);
        return err;
    }
    *out = m;
    return WEIR_OK;
}

void weir_metrics_destroy(weir_metrics *m)
{
    if (!m)
        return;
    for (size_t i = 0; i < m->nfamilies; i++)
        family_free(m->families[i]);
    free(m->families);
    pthread_mutex_destroy(&m->mu);
    free(m);
}
