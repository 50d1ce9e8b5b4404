/* The file mode of every job: block reads, line splitting, one processing unit of any kind
 * (runtime/unit.h), sinks, checkpoints in a directory, summary. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#define XXH_INLINE_ALL
#include <xxhash.h>

#include "runtime/errbuf.h"
#include "runtime/file_job_int.h"
#include "runtime/job_int.h"
#include "runtime/logf.h"
#include "runtime/meaning.h"
#include "runtime/sink_int.h"
#include "runtime/unit.h"
#include "state/bytes.h"
#include "util/buf.h"
#include "util/clock.h"
#include "weir/checkpoint.h"
#include "weir/job.h"
#include "weir/output.h"

int64_t weir_wall_ms(void)
{
    return weir__wall_ms();
}

double weir_mono_sec(void)
{
    return weir__mono_sec();
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
    weir_job_write_summary_run(out, st, elapsed_sec, st->valid, extra);
}

void weir_job_write_summary_run(FILE *out, const weir_pipeline_stats *st, double elapsed_sec,
                                uint64_t valid_this_run, const char *extra)
{
    if (!out)
        return;
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    double eps = elapsed_sec > 0 ? (double)valid_this_run / elapsed_sec : 0;
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
    if (ferror(t->out))
        return WEIR_ERR_IO;
    s->written++;
    return WEIR_OK;
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

/* Blocks small enough that the records read are still in the core's L2 cache when they
 * are split and decoded: 256 KiB ran the file job 5 to 9% faster than 4 MiB here (the
 * buffer still grows for longer lines). */
#define READ_BLOCK (256u << 10)

static int refill(reader *r)
{
    if (r->len == r->cap) {
        char *nb = weir__grow(r->buf, &r->cap, r->cap + 1);
        if (!nb)
            return -1;
        r->buf = nb;
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

/*
 * Checkpoints of the file mode. A checkpoint is taken between batches, at a record
 * boundary: every sink is flushed (files also fsynced), then the payload records
 *   "WEIRFCKP", u32 version (2), u32 0, u64 input offset of the next record, u64 XXH64 of
 *   the input's first min(offset, 64 KiB) bytes and that length, i64 lengths of the output,
 *   late and dead-letter files (-1: none), u32 length + the configuration's meaning, u64
 *   length + the unit's snapshot (runtime/unit.h: WEIRPIPE for unique-users, WEIRWUNI for
 *   weir-window),
 * and goes to the checkpoint directory. A restarted job restores the unit, cuts the files
 * back to the recorded lengths and reads on from the recorded offset; the unit is
 * deterministic, so the replay writes exactly what the crash lost.
 * Version 1, the payloads of earlier releases, still restores: unique-users' "WEIRFJOB" (the
 * same fields without magic version word, a WEIRPIPE snapshot) and weir-window's "WEIRWJOB"
 * (u32 version 1, u32 counter count, offset, hash, hashed length, file lengths, the
 * counters, the meaning as lines, the operator's snapshot alone).
 */
#define CKPT_MAGIC   "WEIRFCKP"
#define CKPT_VERSION 2
#define CKPT_FIXED   (8 + 4 + 4 + 8 * 3 + 8 * 3 + 4)
#define V1_MAGIC     "WEIRFJOB"
#define V1W_MAGIC    "WEIRWJOB"
#define V1W_COUNTERS (4 + WEIR_REC_STATUS_COUNT)
#define HASH_PREFIX  65536

static int input_hash(int fd, uint64_t offset, uint64_t *hash, uint64_t *hashed)
{
    size_t n = offset < HASH_PREFIX ? (size_t)offset : HASH_PREFIX;
    uint8_t *b = malloc(n ? n : 1);
    if (!b)
        return -1;
    size_t got = 0;
    while (got < n) {
        ssize_t r = pread(fd, b + got, n - got, (off_t)got);
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    *hash = XXH64(b, got, 0);
    *hashed = got;
    free(b);
    return got == n ? 0 : -1;
}

typedef struct resume {
    const weir__unit_kind *kind;
    const weir_conf *conf;
    const char *meaning;
    int fd;
    const char *input; /* the input's name, for messages */
    uint64_t offset;
    int64_t files[3]; /* output, late, dead */
    uint8_t *pipe;    /* the accepted unit snapshot (copied) */
    size_t pipe_len;
    int version; /* of the accepted payload */
} resume;

/* The fields every version has, located in a payload. */
typedef struct ckpt_fields {
    uint64_t off, hash, hashed;
    int64_t files[3];
    const char *m; /* the meaning */
    size_t mlen;
    const uint8_t *snap; /* the unit's snapshot (v1 WEIRWJOB: the operator's) */
    size_t snap_len;
    const uint8_t *counters; /* v1 WEIRWJOB only */
} ckpt_fields;

/* Reads a payload of any version into f: 0, or -1 (truncated) or -2 (unsupported). */
static int parse_ckpt(const uint8_t *b, size_t len, int *version, ckpt_fields *f)
{
    size_t pos;
    memset(f, 0, sizeof *f);
    if (len >= CKPT_FIXED && !memcmp(b, CKPT_MAGIC, 8)) {
        if (weir__get_le32(b + 8) != CKPT_VERSION || weir__get_le32(b + 12) != 0)
            return -2; /* a later version, or a layout of this one we do not know */
        *version = CKPT_VERSION;
        pos = 16;
    } else if (len >= 8 + 6 * 8 + 4 && !memcmp(b, V1_MAGIC, 8)) {
        *version = 1;
        pos = 8;
    } else if (len >= 16 + 6 * 8 + 8 * V1W_COUNTERS + 4 && !memcmp(b, V1W_MAGIC, 8)) {
        if (weir__get_le32(b + 8) != 1 || weir__get_le32(b + 12) != V1W_COUNTERS)
            return -2;
        *version = 1;
        pos = 16;
    } else {
        return -1;
    }
    f->off = weir__get_le64(b + pos);
    f->hash = weir__get_le64(b + pos + 8);
    f->hashed = weir__get_le64(b + pos + 16);
    for (int i = 0; i < 3; i++)
        f->files[i] = (int64_t)weir__get_le64(b + pos + 24 + 8 * i);
    pos += 48;
    if (!memcmp(b, V1W_MAGIC, 8)) {
        f->counters = b + pos;
        pos += 8 * V1W_COUNTERS;
    }
    uint32_t mlen = weir__get_le32(b + pos);
    pos += 4;
    if (mlen > len - pos || len - pos - mlen < 8)
        return -1;
    f->m = (const char *)b + pos;
    f->mlen = mlen;
    pos += mlen;
    uint64_t plen = weir__get_le64(b + pos);
    pos += 8;
    if (plen != len - pos)
        return -1;
    f->snap = b + pos;
    f->snap_len = (size_t)plen;
    return 0;
}

static weir_err accept_ckpt(void *opaque, const uint8_t *b, size_t len, char *why, size_t size)
{
    resume *r = opaque;
    ckpt_fields f;
    int version = 0;
    int pr = parse_ckpt(b, len, &version, &f);
    if (pr == -2) {
        snprintf(why, size, "checkpoint format version %u is not supported", weir__get_le32(b + 8));
        return WEIR_ERR_UNSUPPORTED;
    }
    if (pr != 0) {
        snprintf(why, size,
                 len >= 8 && (!memcmp(b, CKPT_MAGIC, 8) || !memcmp(b, V1_MAGIC, 8) ||
                              !memcmp(b, V1W_MAGIC, 8))
                     ? "truncated payload"
                     : "not a file-mode checkpoint");
        return WEIR_ERR_CORRUPT;
    }
    /* weir-window's first checkpoints wrote their meaning as lines, and their snapshot apart
     * from their counters. */
    int legacy_w = f.counters != NULL;
    if (legacy_w && !r->kind->legacy_meaning) {
        snprintf(why, size, "a checkpoint of another job (weir-window)");
        return WEIR_ERR_INVALID_ARG;
    }
    char *lm = legacy_w ? r->kind->legacy_meaning(r->conf) : NULL;
    if (legacy_w && !lm)
        return WEIR_ERR_NOMEM;
    const char *want = legacy_w ? lm : r->meaning;
    int differs = f.mlen != strlen(want) || memcmp(f.m, want, f.mlen) != 0;
    free(lm);
    if (differs) {
        if (legacy_w)
            snprintf(why, size,
                     "taken with another configuration (by an earlier release): use "
                     "--reset-state to start over");
        else
            weir__meaning_diff(r->conf, f.m, f.mlen, why, size);
        return WEIR_ERR_INVALID_ARG;
    }
    /* The hash covers only the input's head: an input cut short below the recorded position
     * still matches it, and reading on from past its end would replay nothing. */
    struct stat st;
    if (fstat(r->fd, &st) != 0) {
        snprintf(why, size, "cannot stat %s: %s", r->input, strerror(errno));
        return WEIR_ERR_IO;
    }
    if ((uint64_t)st.st_size < f.off) {
        snprintf(why, size,
                 "taken at byte offset %" PRIu64 " of %s, which is only %lld bytes long (cut or "
                 "replaced since): use --reset-state to start over",
                 f.off, r->input, (long long)st.st_size);
        return WEIR_ERR_INVALID_ARG;
    }
    uint64_t h, hn;
    if (input_hash(r->fd, f.off, &h, &hn) != 0 || h != f.hash || hn != f.hashed) {
        snprintf(why, size,
                 "taken over another input (its first bytes or its length differ): use "
                 "--reset-state to start over");
        return WEIR_ERR_INVALID_ARG;
    }
    for (int i = 0; i < 3; i++)
        if (f.files[i] < -1) {
            snprintf(why, size, "bad file length");
            return WEIR_ERR_CORRUPT;
        }
    uint8_t *snap = NULL;
    size_t snap_len = f.snap_len;
    weir_err rc = WEIR_OK;
    if (legacy_w) {
        uint64_t c[V1W_COUNTERS];
        for (int i = 0; i < V1W_COUNTERS; i++)
            c[i] = weir__get_le64(f.counters + 8 * i);
        rc = r->kind->legacy_snapshot(c, V1W_COUNTERS, f.snap, f.snap_len, &snap, &snap_len);
    } else if ((snap = malloc(snap_len ? snap_len : 1)) != NULL) {
        memcpy(snap, f.snap, snap_len);
    }
    if (rc == WEIR_OK && !snap)
        rc = WEIR_ERR_NOMEM;
    if (rc != WEIR_OK)
        return rc;
    /* Validate the snapshot by restoring it into a scratch unit. */
    char err[512] = "";
    weir__unit *u = NULL;
    weir__unit_sinks none = {0};
    rc = weir__kind_create(r->kind, r->conf, 1, &none, &u, err, sizeof err);
    if (rc == WEIR_OK)
        rc = u->ops->restore(u, snap, snap_len, err, sizeof err);
    weir__unit_destroy(u);
    if (rc != WEIR_OK) {
        free(snap);
        snprintf(why, size, "%s", err[0] ? err : weir_err_str(rc));
        return rc;
    }
    free(r->pipe);
    r->pipe = snap;
    r->pipe_len = snap_len;
    r->offset = f.off;
    r->version = version;
    memcpy(r->files, f.files, sizeof f.files);
    return WEIR_OK;
}

typedef struct ckpt_stats {
    uint64_t count, bytes_last;
    double seconds;
} ckpt_stats;

static weir_err take_checkpoint(weir_ckpt_dir *store, weir__unit *p, int in_fd, uint64_t offset,
                                weir_sink *const files[3], weir_sink *const *extra, size_t n_extra,
                                const char *m, ckpt_stats *cs, char *err, size_t err_size)
{
    double t0 = weir_mono_sec();
    weir_err rc = WEIR_OK;
    const weir_sink *failed = NULL;
    for (int i = 0; i < 3 && rc == WEIR_OK; i++)
        if (files[i] && (rc = weir_file_sink_sync(files[i])) != WEIR_OK)
            failed = files[i];
    for (size_t i = 0; i < n_extra && rc == WEIR_OK; i++)
        if ((rc = weir_sink_flush(extra[i], 600000)) != WEIR_OK)
            failed = extra[i];
    if (rc != WEIR_OK) {
        /* The sink's own reason names its file or endpoint and the system's error. */
        const char *why = weir_sink_error(failed);
        snprintf(err, err_size, "checkpoint: %s", *why ? why : weir_err_str(rc));
        return rc;
    }
    uint8_t *snap;
    size_t snap_len;
    if ((rc = p->ops->snapshot(p, &snap, &snap_len)) != WEIR_OK)
        return rc;
    size_t mlen = strlen(m);
    size_t len = CKPT_FIXED + mlen + 8 + snap_len;
    uint8_t *b = malloc(len);
    uint64_t h, hn;
    if (!b || input_hash(in_fd, offset, &h, &hn) != 0) {
        free(b);
        free(snap);
        snprintf(err, err_size, "checkpoint: cannot read the input's head");
        return WEIR_ERR_IO;
    }
    memcpy(b, CKPT_MAGIC, 8);
    weir__put_le32(b + 8, CKPT_VERSION);
    weir__put_le32(b + 12, 0);
    weir__put_le64(b + 16, offset);
    weir__put_le64(b + 24, h);
    weir__put_le64(b + 32, hn);
    for (int i = 0; i < 3; i++)
        weir__put_le64(b + 40 + 8 * i,
                       files[i] ? (uint64_t)weir_file_sink_offset(files[i]) : UINT64_MAX);
    weir__put_le32(b + 64, (uint32_t)mlen);
    memcpy(b + CKPT_FIXED, m, mlen);
    weir__put_le64(b + CKPT_FIXED + mlen, snap_len);
    memcpy(b + CKPT_FIXED + 8 + mlen, snap, snap_len);
    free(snap);
    rc = weir_ckpt_dir_write(store, b, len, err, err_size);
    free(b);
    if (rc == WEIR_OK) {
        cs->count++;
        cs->bytes_last = len;
        cs->seconds += weir_mono_sec() - t0;
    }
    return rc;
}

/* After a batch: the job's series and readiness, when asked for (plain stores, no lock). */
static void publish(weir__job_metrics *jm, weir_job_health *h, const weir__unit_kind *kind,
                    weir__unit *p, int64_t now_ms, int64_t *state_ms)
{
    if (!jm && !h)
        return;
    int64_t wm = p->ops->watermark(p);
    if (jm) {
        weir__unit_stats st;
        int with_state = now_ms - *state_ms >= WEIR__STATE_BYTES_MS;
        if (with_state)
            *state_ms = now_ms;
        p->ops->stats(p, &st, with_state);
        weir__job_metrics_publish(jm, &st.p, with_state);
        if (kind->filters)
            weir__job_metrics_filtered(jm, st.filtered);
        weir__job_metrics_watermark(jm, 0, wm, now_ms);
    }
    weir__job_health_watermark(h, wm, weir_mono_sec());
}

/* A checkpoint's outcome in the metrics. */
static void count_ckpt(weir__job_metrics *jm, weir_err rc, const ckpt_stats *before,
                       const ckpt_stats *after)
{
    weir__job_metrics_checkpoint(jm, rc == WEIR_OK, after->seconds - before->seconds,
                                 after->bytes_last);
}

weir_err weir_file_job_run(const weir_conf *conf, weir_sink *const *extra_sinks, size_t n_extra,
                           const weir_job_env *env, int table, char *errstr, size_t errstr_size)
{
    return weir__file_job_run(&weir__pipeline_kind, conf, extra_sinks, n_extra, env, table, NULL,
                              NULL, errstr, errstr_size);
}

weir_err weir__file_job_run(const weir__unit_kind *kind, const weir_conf *conf,
                            weir_sink *const *extra_sinks, size_t n_extra, const weir_job_env *env,
                            int table, weir__file_done_fn done_fn, void *done_arg, char *errstr,
                            size_t errstr_size)
{
    static const weir_job_env none = {0};
    if (!env)
        env = &none;
    volatile sig_atomic_t *stop = env->stop;
    FILE *summary = env->summary;
    weir__log lg = weir__conf_log(conf);
    weir__job_metrics *jm = NULL;
    int64_t state_ms = INT64_MIN / 2; /* when the state bytes were last computed */
    char err[512] = "";
    weir_err code = WEIR_OK;
    weir_sink *sinks[16];
    size_t n_sinks = 0;
    weir_sink *out = NULL, *late = NULL, *dead = NULL;
    weir__unit *p = NULL;
    weir_record *recs = NULL;
    reader r = {.fd = -1};
    weir_ckpt_dir *store = NULL;
    resume res = {0};
    int resumed = 0;
    char *m = NULL;
    ckpt_stats cs = {0};
    uint64_t restored_valid = 0;
    weir_agg_spec aggs[WEIR_MAX_AGGS];
    int hll_p;
    const char *key_field;
    size_t n_aggs = kind->sink_fields(conf, aggs, &hll_p, &key_field);
    double t0 = weir_mono_sec();

    const char *in_path = weir_conf_get(conf, "input.path");
    const char *out_path = weir_conf_get(conf, "output.path");
    const char *late_path = weir_conf_get(conf, "late.output.path");
    const char *dead_path = weir_conf_get(conf, "dead.letter.path");
    if (n_extra > 12) {
        weir__errf(errstr, errstr_size, "too many sinks");
        return WEIR_ERR_INVALID_ARG;
    }
    if (strcmp(in_path, "-") == 0) {
        r.fd = STDIN_FILENO;
        r.name = "standard input";
    } else {
        r.fd = open(in_path, O_RDONLY | O_CLOEXEC);
        r.name = in_path;
        if (r.fd < 0 && errno == EINTR && stop && *stop) {
            /* Stopped while a FIFO waited for its writer: a run over no input, as a stop
             * before the first read would be, not a failure. */
            r.eof = 1;
        } else if (r.fd < 0) {
            weir__errf(errstr, errstr_size, "input.path: cannot open %s: %s", in_path,
                       strerror(errno));
            return WEIR_ERR_IO;
        }
    }
    const char *ckpt_dir = weir_conf_get(conf, "checkpoint.dir");
    if (ckpt_dir[0]) {
        struct stat st;
        if (fstat(r.fd, &st) != 0 || !S_ISREG(st.st_mode)) {
            snprintf(err, sizeof err,
                     "checkpoint.dir: resuming needs input.path to be a regular file, not %s",
                     r.name);
            code = WEIR_ERR_INVALID_ARG;
            goto done;
        }
        if (table || !strcmp(out_path, "-")) {
            snprintf(err, sizeof err,
                     "checkpoint.dir: resuming needs output.path to be a file, not standard "
                     "output");
            code = WEIR_ERR_INVALID_ARG;
            goto done;
        }
        if (!(m = weir__kind_meaning(kind, conf))) {
            code = WEIR_ERR_NOMEM;
            goto done;
        }
        int keep = (int)weir_conf_get_int(conf, "checkpoint.keep");
        if (weir_ckpt_dir_open(ckpt_dir, keep, &store, err, sizeof err) != WEIR_OK) {
            code = WEIR_ERR_IO;
            goto done;
        }
        if (weir_conf_get_bool(conf, "reset.state")) {
            if (weir_ckpt_dir_clear(store, err, sizeof err) != WEIR_OK) {
                code = WEIR_ERR_IO;
                goto done;
            }
        } else {
            res.kind = kind;
            res.conf = conf;
            res.meaning = m;
            res.fd = r.fd;
            res.input = r.name;
            weir_err rc =
                weir_ckpt_dir_load(store, accept_ckpt, &res, lg.fn, lg.arg, err, sizeof err);
            if (rc == WEIR_ERR_NOT_FOUND) {
                err[0] = '\0';
            } else if (rc != WEIR_OK) {
                code = rc == WEIR_ERR_NOMEM || rc == WEIR_ERR_IO || rc == WEIR_ERR_CORRUPT ||
                               rc == WEIR_ERR_UNSUPPORTED
                           ? rc
                           : WEIR_ERR_INVALID_ARG;
                if (rc == WEIR_ERR_CORRUPT)
                    snprintf(err + strlen(err), sizeof err - strlen(err),
                             "; use --reset-state to start over");
                goto done;
            } else {
                resumed = 1;
            }
        }
    }
    if (out_path[0]) {
        if (table) {
            out = weir_table_sink_new(stdout, key_field, aggs, n_aggs);
        } else if (weir_file_sink_open(out_path, key_field, aggs, n_aggs,
                                       resumed ? res.files[0] : -1, &out, err,
                                       sizeof err) != WEIR_OK) {
            out = NULL;
        }
        if (!out) {
            code = WEIR_ERR_IO;
            goto done;
        }
        sinks[n_sinks++] = out;
    }
    for (size_t i = 0; i < n_extra; i++)
        sinks[n_sinks++] = extra_sinks[i];
    if (late_path[0] && weir_file_sink_open(late_path, NULL, aggs, 0, resumed ? res.files[1] : -1,
                                            &late, err, sizeof err) != WEIR_OK) {
        code = WEIR_ERR_IO;
        goto done;
    }
    if (dead_path[0] && weir_file_sink_open(dead_path, NULL, aggs, 0, resumed ? res.files[2] : -1,
                                            &dead, err, sizeof err) != WEIR_OK) {
        code = WEIR_ERR_IO;
        goto done;
    }
    weir__unit_sinks us = {sinks, n_sinks, late, dead};
    weir_err cr = weir__kind_create(kind, conf, 1, &us, &p, err, sizeof err);
    if (cr != WEIR_OK) {
        code = cr == WEIR_ERR_NOMEM ? cr : WEIR_ERR_INVALID_ARG; /* a refused configuration */
        if (cr == WEIR_ERR_NOMEM)
            snprintf(err, sizeof err, "out of memory");
        goto done;
    }
    if (resumed) {
        if (p->ops->restore(p, res.pipe, res.pipe_len, err, sizeof err) != WEIR_OK ||
            lseek(r.fd, (off_t)res.offset, SEEK_SET) < 0) {
            code = WEIR_ERR_IO;
            goto done;
        }
        r.base_offset = (int64_t)res.offset;
        weir__unit_stats rst;
        p->ops->stats(p, &rst, 0);
        restored_valid = rst.p.valid;
    }
    if (weir__job_metrics_new(env->metrics, &jm) != WEIR_OK) {
        snprintf(err, sizeof err, "metrics: cannot register the job's series");
        code = WEIR_ERR_NOMEM;
        goto done;
    }
    weir__job_health_input(env->health, 1);
    weir_sink *const files[3] = {table ? NULL : out, late, dead};
    int64_t interval = weir_conf_get_duration_ms(conf, "checkpoint.interval");
    double last_ckpt = weir_mono_sec();
    size_t batch = (size_t)weir_conf_get_int(conf, "input.batch.records");
    recs = malloc(batch * sizeof(weir_record));
    r.max_line = (size_t)weir_conf_get_int(conf, "input.max.record.bytes");
    r.cap = READ_BLOCK;
    r.buf = malloc(r.cap);
    if (!recs || !r.buf) {
        snprintf(err, sizeof err, "out of memory");
        code = WEIR_ERR_NOMEM;
        goto done;
    }

    t0 = weir_mono_sec();
    size_t pos = 0;   /* start of the next unread line in buf */
    int skipping = 0; /* inside an overlong line whose head was already handed over */
    weir_err rc = WEIR_OK;
    while (rc == WEIR_OK && !(stop && *stop)) {
        if (!r.eof && refill(&r) != 0) {
            snprintf(err, sizeof err, "%s: read failed: %s", r.name, strerror(errno));
            code = WEIR_ERR_IO;
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
                rc = p->ops->push(p, recs, n, now);
                publish(jm, env->health, kind, p, now, &state_ms);
                n = 0;
                if (rc == WEIR_OK && store && !skipping &&
                    (weir_mono_sec() - last_ckpt) * 1000 >= (double)interval) {
                    ckpt_stats before = cs;
                    rc = take_checkpoint(store, p, r.fd, (uint64_t)(r.base_offset + (int64_t)pos),
                                         files, extra_sinks, n_extra, m, &cs, err, sizeof err);
                    count_ckpt(jm, rc, &before, &cs);
                    last_ckpt = weir_mono_sec();
                }
            }
        }
        if (rc == WEIR_OK && n) {
            rc = p->ops->push(p, recs, n, now);
            publish(jm, env->health, kind, p, now, &state_ms);
        }
        if (rc == WEIR_OK && store && !skipping &&
            (weir_mono_sec() - last_ckpt) * 1000 >= (double)interval) {
            ckpt_stats before = cs;
            rc = take_checkpoint(store, p, r.fd, (uint64_t)(r.base_offset + (int64_t)pos), files,
                                 extra_sinks, n_extra, m, &cs, err, sizeof err);
            count_ckpt(jm, rc, &before, &cs);
            last_ckpt = weir_mono_sec();
        }
        if (r.eof && pos >= r.len)
            break;
        /* Keep the unread tail at the front of the buffer. */
        memmove(r.buf, r.buf + pos, r.len - pos);
        r.base_offset += (int64_t)pos;
        r.len -= pos;
        pos = 0;
    }
    if (rc == WEIR_OK)
        rc = p->ops->finish(p);
    state_ms = INT64_MIN / 2;
    publish(jm, env->health, kind, p, weir_wall_ms(), &state_ms);
    /* Network sinks retry with backoff and give up by themselves after their retry limit;
     * the timeout only guards against a peer that stops answering altogether. */
    for (size_t i = 0; i < n_sinks && rc == WEIR_OK; i++)
        rc = weir_sink_flush(sinks[i], 600000);
    if (rc == WEIR_OK)
        rc = weir_sink_flush(late, 30000);
    if (rc == WEIR_OK)
        rc = weir_sink_flush(dead, 30000);
    double elapsed = weir_mono_sec() - t0;
    weir__unit_stats st;
    p->ops->stats(p, &st, 1);
    char extra[256] = "";
    int el = 0;
    if (kind->filters)
        el = snprintf(extra, sizeof extra, ",\"filtered\":%llu", (unsigned long long)st.filtered);
    if (store)
        snprintf(extra + el, sizeof extra - (size_t)el,
                 ",\"resumed\":%s,\"checkpoints\":%llu,\"checkpoint_sec\":%.3f,"
                 "\"checkpoint_bytes\":%llu",
                 resumed ? "true" : "false", (unsigned long long)cs.count, cs.seconds,
                 (unsigned long long)cs.bytes_last);
    weir_job_write_summary_run(summary, &st.p, elapsed, st.p.valid - restored_valid,
                               extra[0] ? extra : NULL);
    if (rc != WEIR_OK && !err[0]) {
        const char *why = "";
        for (size_t i = 0; i < n_sinks && !*why; i++)
            why = weir_sink_error(sinks[i]);
        if (!*why)
            why = weir_sink_error(late)[0] ? weir_sink_error(late) : weir_sink_error(dead);
        snprintf(err, sizeof err, "%s", *why ? why : weir_err_str(rc));
    }
    /* A run-time failure is never reported as a configuration one, whatever a sink said. */
    if (rc != WEIR_OK)
        code = rc == WEIR_ERR_INVALID_ARG || rc == WEIR_ERR_CORRUPT || rc == WEIR_ERR_UNSUPPORTED ||
                       rc == WEIR_ERR_PARSE || rc == WEIR_ERR_NOT_FOUND || rc == WEIR_ERR_AUTH
                   ? WEIR_ERR_FATAL
                   : rc;
done:
    if (code)
        weir__errf(errstr, errstr_size, "%s", err[0] ? err : weir_err_str(code));
    if (done_fn) {
        weir__file_run run = {resumed, cs.count, weir_mono_sec() - t0};
        done_fn(done_arg, p, &run);
    }
    weir__job_health_input(env->health, 0);
    weir__job_metrics_destroy(jm);
    weir__unit_destroy(p);
    weir_sink_destroy(out);
    weir_sink_destroy(late);
    weir_sink_destroy(dead);
    free(recs);
    free(r.buf);
    free(m);
    free(res.pipe);
    weir_ckpt_dir_close(store);
    if (r.fd > STDIN_FILENO)
        close(r.fd);
    return code;
}

/* ---- the payload's reader, for its fuzz target (file_job_int.h) ---- */

weir_err weir__file_job_accept(const weir_conf *conf, const char *meaning, int input_fd,
                               const uint8_t *payload, size_t len, weir__fjob_resume *out,
                               char *why, size_t size)
{
    return weir__file_job_accept_kind(&weir__pipeline_kind, conf, meaning, input_fd, payload, len,
                                      out, why, size);
}

weir_err weir__file_job_accept_kind(const weir__unit_kind *kind, const weir_conf *conf,
                                    const char *meaning, int input_fd, const uint8_t *payload,
                                    size_t len, weir__fjob_resume *out, char *why, size_t size)
{
    resume r = {.kind = kind, .conf = conf, .meaning = meaning, .fd = input_fd, .input = "input"};
    weir_err rc = accept_ckpt(&r, payload, len, why, size);
    out->version = r.version;
    out->offset = r.offset;
    memcpy(out->files, r.files, sizeof out->files);
    out->pipe = r.pipe;
    out->pipe_len = r.pipe_len;
    return rc;
}
