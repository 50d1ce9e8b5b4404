/* The file mode of a job: block reads, line splitting, one pipeline, sinks, summary. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "weir/job.h"
#include "weir/output.h"

int64_t weir_wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

double weir_mono_sec(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

void weir_pipeline_stats_add(weir_pipeline_stats *into, const weir_pipeline_stats *s)
{
    into->records += s->records;
    into->valid += s->valid;
    into->invalid += s->invalid;
    for (int i = 0; i < WEIR_REC_STATUS_COUNT; i++)
        into->invalid_by[i] += s->invalid_by[i];
    const weir_window_stats *a = &s->window;
    weir_window_stats *b = &into->window;
    b->accepted += a->accepted;
    b->late_dropped += a->late_dropped;
    b->late_accepted += a->late_accepted;
    b->late_firings += a->late_firings;
    b->future_skewed += a->future_skewed;
    b->windows_created += a->windows_created;
    b->windows_freed += a->windows_freed;
    b->keys_created += a->keys_created;
    b->emissions += a->emissions;
    b->live_windows += a->live_windows;
    b->live_keys += a->live_keys;
    b->state_bytes += a->state_bytes;
}

void weir_job_write_summary(FILE *out, const weir_pipeline_stats *st, double elapsed_sec,
                            const char *extra)
{
    if (!out)
        return;
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    double eps = elapsed_sec > 0 ? (double)st->valid / elapsed_sec : 0;
    fprintf(out,
            "{\"records\":%" PRIu64 ",\"valid\":%" PRIu64 ",\"invalid\":%" PRIu64
            ",\"invalid_by\":{",
            st->records, st->valid, st->invalid);
    int first = 1;
    for (int i = 1; i < WEIR_REC_STATUS_COUNT; i++) {
        if (!st->invalid_by[i])
            continue;
        fprintf(out, "%s\"%s\":%" PRIu64, first ? "" : ",", weir_rec_status_name(i),
                st->invalid_by[i]);
        first = 0;
    }
    const weir_window_stats *w = &st->window;
    fprintf(out,
            "},\"late_dropped\":%" PRIu64 ",\"late_accepted\":%" PRIu64 ",\"late_firings\":%" PRIu64
            ",\"future_skewed\":%" PRIu64 ",\"windows\":%" PRIu64 ",\"keys\":%" PRIu64
            ",\"emissions\":%" PRIu64 ",\"state_bytes\":%" PRIu64
            ",\"elapsed_sec\":%.3f,\"events_per_sec\":%.0f,\"peak_rss_bytes\":%ld%s}\n",
            w->late_dropped, w->late_accepted, w->late_firings, w->future_skewed,
            w->windows_created, w->keys_created, w->emissions, w->state_bytes, elapsed_sec, eps,
            ru.ru_maxrss * 1024L, extra ? extra : "");
    fflush(out);
}

/* The table sink: one aligned row per firing. */
typedef struct table_sink {
    weir_sink base;
    FILE *out;
    int header;
} table_sink;

static weir_err tbl_firing(weir_sink *s, const weir_firing *f)
{
    table_sink *t = (table_sink *)s;
    char a[32], b[32];
    weir_format_iso8601(f->window_start, a);
    weir_format_iso8601(f->window_end, b);
    if (!t->header) {
        fprintf(t->out, "%-14s %-24s %-24s", s->key_field ? s->key_field : "(global)",
                "window_start", "window_end");
        for (size_t i = 0; i < s->n_aggs; i++)
            fprintf(t->out, " %18s", s->aggs[i].field);
        fprintf(t->out, "  %s\n", "firing");
        t->header = 1;
    }
    fprintf(t->out, "%-14.*s %-24s %-24s", (int)(f->key.len > 64 ? 64 : f->key.len), f->key.ptr, a,
            b);
    for (size_t i = 0; i < f->n_values; i++)
        fprintf(t->out, " %18" PRIu64, f->values[i]);
    fprintf(t->out, "  %s\n", f->late ? "late" : "on-time");
    return ferror(t->out) ? WEIR_ERR_IO : WEIR_OK;
}

static weir_err tbl_record(weir_sink *s, weir_slice rec, int32_t partition)
{
    (void)s;
    (void)rec;
    (void)partition;
    return WEIR_OK;
}

static weir_err tbl_flush(weir_sink *s, int timeout_ms)
{
    (void)timeout_ms;
    return fflush(((table_sink *)s)->out) == 0 ? WEIR_OK : WEIR_ERR_IO;
}

static void tbl_destroy(weir_sink *s)
{
    free((char *)s->key_field);
    free(s);
}

static const weir_sink_ops TABLE_OPS = {"table",   tbl_firing, tbl_record,
                                        tbl_flush, NULL,       tbl_destroy};

weir_sink *weir_table_sink_new(FILE *out, const char *key_field, const weir_agg_spec *aggs,
                               size_t n_aggs)
{
    table_sink *t = calloc(1, sizeof *t);
    if (!t)
        return NULL;
    t->base.ops = &TABLE_OPS;
    t->base.aggs = aggs;
    t->base.n_aggs = n_aggs;
    t->out = out;
    if (key_field && !(t->base.key_field = strdup(key_field))) {
        free(t);
        return NULL;
    }
    return &t->base;
}

/* Reads the input in blocks and hands complete lines to the pipeline in batches. */
typedef struct reader {
    int fd;
    const char *name;
    char *buf;
    size_t cap, len, max_line;
    int64_t base_offset; /* file offset of buf[0] */
    int eof;
} reader;

#define READ_BLOCK (4u << 20)

static int refill(reader *r)
{
    if (r->len == r->cap) {
        size_t cap = r->cap * 2;
        char *nb = realloc(r->buf, cap);
        if (!nb)
            return -1;
        r->buf = nb;
        r->cap = cap;
    }
    ssize_t n;
    do
        n = read(r->fd, r->buf + r->len, r->cap - r->len);
    while (n < 0 && errno == EINTR);
    if (n < 0)
        return -1;
    if (n == 0)
        r->eof = 1;
    r->len += (size_t)n;
    return 0;
}

int weir_file_job_run(const weir_conf *conf, weir_sink *const *extra_sinks, size_t n_extra,
                      volatile sig_atomic_t *stop, FILE *summary, int table)
{
    char err[512] = "";
    int code = 0;
    weir_sink *sinks[16];
    size_t n_sinks = 0;
    weir_sink *out = NULL, *late = NULL, *dead = NULL;
    weir_pipeline *p = NULL;
    weir_record *recs = NULL;
    reader r = {.fd = -1};
    weir_agg_spec aggs[WEIR_MAX_AGGS];
    int hll_p;
    size_t n_aggs = weir_aggs_from_conf(conf, aggs, &hll_p);
    const char *key_field =
        weir_conf_get_bool(conf, "global") ? NULL : weir_conf_get(conf, "key.field");

    const char *in_path = weir_conf_get(conf, "input.path");
    const char *out_path = weir_conf_get(conf, "output.path");
    const char *late_path = weir_conf_get(conf, "late.output.path");
    const char *dead_path = weir_conf_get(conf, "dead.letter.path");
    if (n_extra > 12) {
        fprintf(stderr, "unique-users: too many sinks\n");
        return 2;
    }
    if (strcmp(in_path, "-") == 0) {
        r.fd = STDIN_FILENO;
        r.name = "standard input";
    } else {
        r.fd = open(in_path, O_RDONLY | O_CLOEXEC);
        r.name = in_path;
        if (r.fd < 0) {
            fprintf(stderr, "unique-users: input.path: cannot open %s: %s\n", in_path,
                    strerror(errno));
            return 1;
        }
    }
    if (out_path[0]) {
        out = table ? weir_table_sink_new(stdout, key_field, aggs, n_aggs)
                    : weir_file_sink_new(out_path, key_field, aggs, n_aggs, err, sizeof err);
        if (!out) {
            code = 1;
            goto done;
        }
        sinks[n_sinks++] = out;
    }
    for (size_t i = 0; i < n_extra; i++)
        sinks[n_sinks++] = extra_sinks[i];
    if (late_path[0] && !(late = weir_file_sink_new(late_path, NULL, aggs, 0, err, sizeof err))) {
        code = 1;
        goto done;
    }
    if (dead_path[0] && !(dead = weir_file_sink_new(dead_path, NULL, aggs, 0, err, sizeof err))) {
        code = 1;
        goto done;
    }
    p = weir_pipeline_new(conf, 1, sinks, n_sinks, late, dead, err, sizeof err);
    if (!p) {
        code = 2;
        goto done;
    }
    size_t batch = (size_t)weir_conf_get_int(conf, "input.batch.records");
    recs = malloc(batch * sizeof(weir_record));
    r.max_line = (size_t)weir_conf_get_int(conf, "input.max.record.bytes");
    r.cap = READ_BLOCK;
    r.buf = malloc(r.cap);
    if (!recs || !r.buf) {
        snprintf(err, sizeof err, "out of memory");
        code = 1;
        goto done;
    }

    double t0 = weir_mono_sec();
    size_t pos = 0;   /* start of the next unread line in buf */
    int skipping = 0; /* inside an overlong line whose head was already handed over */
    weir_err rc = WEIR_OK;
    while (rc == WEIR_OK && !(stop && *stop)) {
        if (!r.eof && refill(&r) != 0) {
            snprintf(err, sizeof err, "%s: read failed: %s", r.name, strerror(errno));
            code = 1;
            goto done;
        }
        size_t n = 0;
        int64_t now = weir_wall_ms();
        while (rc == WEIR_OK) {
            char *nl = memchr(r.buf + pos, '\n', r.len - pos);
            size_t end = nl ? (size_t)(nl - r.buf) : r.len;
            if (!nl && !r.eof) {
                /* An incomplete line: hand over the head of an overlong one (it decodes as
                 * too large) and skip its rest; otherwise wait for more bytes. */
                if (!skipping && end - pos > r.max_line) {
                    recs[n++] =
                        (weir_record){r.buf + pos, r.max_line + 1, 0, r.base_offset + (int64_t)pos};
                    skipping = 1;
                }
                if (skipping)
                    pos = r.len;
                break;
            }
            if (!nl && pos == r.len)
                break; /* end of input exactly after a newline */
            size_t len = end - pos;
            if (skipping) {
                skipping = 0;
            } else {
                if (len && r.buf[pos + len - 1] == '\r')
                    len--;
                recs[n++] = (weir_record){r.buf + pos, len, 0, r.base_offset + (int64_t)pos};
            }
            pos = nl ? end + 1 : r.len;
            if (n == batch) {
                rc = weir_pipeline_push(p, recs, n, now);
                n = 0;
            }
        }
        if (rc == WEIR_OK && n)
            rc = weir_pipeline_push(p, recs, n, now);
        if (r.eof && pos >= r.len)
            break;
        /* Keep the unread tail at the front of the buffer. */
        memmove(r.buf, r.buf + pos, r.len - pos);
        r.base_offset += (int64_t)pos;
        r.len -= pos;
        pos = 0;
    }
    if (rc == WEIR_OK)
        rc = weir_pipeline_finish(p);
    /* Network sinks retry with backoff and give up by themselves after their retry limit;
     * the timeout only guards against a peer that stops answering altogether. */
    for (size_t i = 0; i < n_sinks && rc == WEIR_OK; i++)
        rc = weir_sink_flush(sinks[i], 600000);
    if (rc == WEIR_OK)
        rc = weir_sink_flush(late, 30000);
    if (rc == WEIR_OK)
        rc = weir_sink_flush(dead, 30000);
    double elapsed = weir_mono_sec() - t0;
    weir_pipeline_stats st;
    weir_pipeline_stats_get(p, &st);
    weir_job_write_summary(summary, &st, elapsed, NULL);
    if (rc != WEIR_OK) {
        const char *why = "";
        for (size_t i = 0; i < n_sinks && !*why; i++)
            why = weir_sink_error(sinks[i]);
        if (!*why)
            why = weir_sink_error(late)[0] ? weir_sink_error(late) : weir_sink_error(dead);
        snprintf(err, sizeof err, "%s", *why ? why : weir_err_str(rc));
        code = 1;
    }
done:
    if (code && err[0])
        fprintf(stderr, "unique-users: %s\n", err);
    weir_pipeline_destroy(p);
    weir_sink_destroy(out);
    weir_sink_destroy(late);
    weir_sink_destroy(dead);
    free(recs);
    free(r.buf);
    if (r.fd > STDIN_FILENO)
        close(r.fd);
    return code;
}
