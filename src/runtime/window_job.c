/* The generic windowed job over files: read lines in blocks and hand them to the generic
 * window unit (runtime/window_unit.c); checkpoints in a directory. */
#include "weir/window_job.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#define XXH_INLINE_ALL
#include <xxhash.h>

#include "runtime/errbuf.h"
#include "runtime/kafka_job_int.h"
#include "runtime/logf.h"
#include "runtime/window_unit.h"
#include "state/bytes.h"
#include "weir/checkpoint.h"
#include "weir/dynamodb.h"
#include "weir/sink.h"

weir_err weir_window_job_check(const weir_conf *conf, char *errstr, size_t errstr_size)
{
    return weir__wunit_check(conf, errstr, errstr_size);
}

weir_err weir_window_job_run_kafka(const weir_conf *conf, const weir_job_env *env, char *errstr,
                                   size_t errstr_size)
{
    weir_err rc = weir__wunit_check(conf, errstr, errstr_size);
    if (rc != WEIR_OK)
        return rc;
    /* DynamoDB items are keyed by the first key field: a unit made without sinks names it. */
    weir_sink *ddb = NULL;
    char *pk = NULL;
    if (weir_dynamodb_enabled(conf)) {
        weir__unit *probe = NULL;
        if ((rc = weir__window_kind.create(conf, 1, NULL, &probe, errstr, errstr_size)) != WEIR_OK)
            return rc;
        pk = strdup(weir__wunit_ddb_key(probe));
        weir__unit_destroy(probe);
        if (!pk) {
            weir__errf(errstr, errstr_size, "out of memory");
            return WEIR_ERR_NOMEM;
        }
        if ((rc = weir_dynamodb_sink_create(conf, pk, NULL, 0, &ddb, errstr, errstr_size)) !=
            WEIR_OK) {
            free(pk);
            return rc;
        }
    }
    rc = weir__kafka_job_run(&weir__window_kind, conf, &ddb, ddb ? 1 : 0,
                             (int)weir_conf_get_duration_ms(conf, "stop.when.idle"),
                             weir_conf_get_bool(conf, "drain"), env, errstr, errstr_size);
    weir_sink_destroy(ddb); /* the loop flushed it */
    free(pk);
    return rc;
}

static int64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static double mono_sec(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Blocks that stay in the core's L2 cache while their lines are decoded (as file_job.c). */
#define READ_BLOCK (256u << 10)

/*
 * Checkpoints (checkpoint.dir). Taken between blocks of input, when every row has been handed
 * to the operator: the file outputs are fsynced, DynamoDB flushed, then the payload
 *   "WEIRWJOB", u32 version (1), u32 counter count C, u64 input offset of the next record,
 *   u64 XXH64 of the input's first min(offset, 64 KiB) bytes and u64 that length, i64 lengths
 *   of the output, late and dead-letter files (-1: none), C u64 counters (records, valid,
 *   invalid, filtered, invalid_by[]), u32 length + the configuration's meaning, u64 length +
 *   the operator's snapshot (weir_gwindow_snapshot),
 * goes to the checkpoint directory (weir/checkpoint.h adds the envelope and checksum). A
 * restarted job restores the operator and counters, cuts the files back to the recorded
 * lengths and reads on from the recorded offset; the job is deterministic, so the replay
 * writes exactly what the crash lost.
 */
#define WCKPT_MAGIC    "WEIRWJOB"
#define WCKPT_VERSION  1
#define WCKPT_COUNTERS (4 + WEIR_REC_STATUS_COUNT)
#define WCKPT_FIXED    (8 + 4 + 4 + 8 * 3 + 8 * 3 + 8 * WCKPT_COUNTERS + 4)
#define HASH_PREFIX    65536

/* The keys that give a checkpoint's state its meaning; a restore under other values is
 * refused. */
static const char *const MEANING[] = {
    "key.field",
    "global",
    "window.spec",
    "window.size",
    "aggregates",
    "where",
    "timestamp.field",
    "timestamp.unit",
    "hll.precision",
    "watermark.out.of.orderness",
    "window.allowed.lateness",
    "emit.mode",
    "input.max.record.bytes",
    "watermark.max.future.skew",
};

static char *meaning(const weir_conf *conf)
{
    size_t n = 1;
    for (size_t i = 0; i < sizeof MEANING / sizeof *MEANING; i++)
        n += strlen(MEANING[i]) + strlen(weir_conf_get(conf, MEANING[i])) + 2;
    char *m = malloc(n), *o = m;
    for (size_t i = 0; m && i < sizeof MEANING / sizeof *MEANING; i++)
        o += sprintf(o, "%s=%s\n", MEANING[i], weir_conf_get(conf, MEANING[i]));
    return m;
}

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
    const weir_conf *conf;
    const char *m;
    int fd;
    uint64_t offset;
    int64_t files[3];
    uint64_t counters[WCKPT_COUNTERS];
    uint8_t *snap;
    size_t snap_len;
} resume;

static weir_err accept_ckpt(void *opaque, const uint8_t *b, size_t len, char *why, size_t size)
{
    resume *r = opaque;
    if (len < WCKPT_FIXED || memcmp(b, WCKPT_MAGIC, 8) != 0) {
        snprintf(why, size, "not a weir-window checkpoint");
        return WEIR_ERR_CORRUPT;
    }
    if (weir__get_le32(b + 8) != WCKPT_VERSION || weir__get_le32(b + 12) != WCKPT_COUNTERS) {
        snprintf(why, size, "unsupported checkpoint version %u", weir__get_le32(b + 8));
        return WEIR_ERR_UNSUPPORTED;
    }
    uint64_t off = weir__get_le64(b + 16), hash = weir__get_le64(b + 24),
             hashed = weir__get_le64(b + 32);
    size_t pos = 40;
    int64_t files[3];
    for (int i = 0; i < 3; i++, pos += 8)
        files[i] = (int64_t)weir__get_le64(b + pos);
    uint64_t counters[WCKPT_COUNTERS];
    for (int i = 0; i < WCKPT_COUNTERS; i++, pos += 8)
        counters[i] = weir__get_le64(b + pos);
    uint32_t mlen = weir__get_le32(b + pos);
    pos += 4;
    if (mlen > len - pos || len - pos - mlen < 8) {
        snprintf(why, size, "truncated payload");
        return WEIR_ERR_CORRUPT;
    }
    const char *m = (const char *)b + pos;
    pos += mlen;
    uint64_t slen = weir__get_le64(b + pos);
    pos += 8;
    if (slen != len - pos) {
        snprintf(why, size, "truncated payload");
        return WEIR_ERR_CORRUPT;
    }
    if (mlen != strlen(r->m) || memcmp(m, r->m, mlen) != 0) {
        /* Name the first key whose value differs. */
        const char *a = m, *c = r->m, *ae = m + mlen;
        while (a < ae && *c && *a == *c)
            a++, c++;
        while (a > m && a[-1] != '\n')
            a--;
        const char *nl = memchr(a, '\n', (size_t)(ae - a));
        char line[256];
        size_t n = 0;
        for (const char *q = a; q < (nl ? nl : ae) && n + 3 < sizeof line; q++) {
            if (*q == '\x1f') { /* between the items of a list key */
                memcpy(line + n, "; ", 2);
                n += 2;
            } else {
                line[n++] = (unsigned char)*q < 0x20 ? '?' : *q;
            }
        }
        line[n] = '\0';
        snprintf(why, size,
                 "taken with another configuration (%s): use --reset-state to start over", line);
        return WEIR_ERR_INVALID_ARG;
    }
    uint64_t h, hn;
    if (input_hash(r->fd, off, &h, &hn) != 0 || h != hash || hn != hashed) {
        snprintf(why, size,
                 "taken over another input (its first bytes or its length differ): use "
                 "--reset-state to start over");
        return WEIR_ERR_INVALID_ARG;
    }
    for (int i = 0; i < 3; i++)
        if (files[i] < -1) {
            snprintf(why, size, "bad file length");
            return WEIR_ERR_CORRUPT;
        }
    /* Validate the operator's snapshot by restoring it into a scratch job. */
    weir__unit *t = NULL;
    char err[512] = "";
    weir_err rc = weir__window_kind.create(r->conf, 1, NULL, &t, err, sizeof err);
    if (rc == WEIR_OK)
        rc = weir_gwindow_restore(weir__wunit_op(t), b + pos, (size_t)slen, err, sizeof err);
    weir__unit_destroy(t);
    if (rc != WEIR_OK) {
        snprintf(why, size, "%s", err);
        return rc;
    }
    if (!(r->snap = malloc(slen ? slen : 1)))
        return WEIR_ERR_NOMEM;
    memcpy(r->snap, b + pos, slen);
    r->snap_len = (size_t)slen;
    r->offset = off;
    memcpy(r->files, files, sizeof files);
    memcpy(r->counters, counters, sizeof counters);
    return WEIR_OK;
}

/* The file job: a window unit, its output files and DynamoDB, a block's records. */
typedef struct fjob {
    weir__unit *u;
    weir_sink *out, *late, *dead, *ddb;
    weir_record *recs;
    size_t n_recs, cap_recs;
    uint64_t checkpoints;
} fjob;

static weir_err add_rec(fjob *j, const char *p, size_t len)
{
    if (j->n_recs == j->cap_recs) {
        size_t cap = j->cap_recs ? 2 * j->cap_recs : 4096;
        weir_record *nr = realloc(j->recs, cap * sizeof *nr);
        if (!nr)
            return WEIR_ERR_NOMEM;
        j->recs = nr;
        j->cap_recs = cap;
    }
    j->recs[j->n_recs++] = (weir_record){p, len, 0, 0};
    return WEIR_OK;
}

static weir_err take_checkpoint(fjob *j, weir_ckpt_dir *store, int fd, uint64_t offset,
                                const char *m, char *err, size_t err_size)
{
    weir_sink *files[3] = {j->out, j->late, j->dead};
    weir_err rc = WEIR_OK;
    for (int i = 0; i < 3 && rc == WEIR_OK; i++)
        if (files[i])
            rc = weir_file_sink_sync(files[i]);
    if (rc == WEIR_OK)
        rc = weir_sink_flush(j->ddb, 600000);
    if (rc != WEIR_OK)
        return rc;
    uint8_t *snap;
    size_t snap_len;
    if ((rc = weir_gwindow_snapshot(weir__wunit_op(j->u), &snap, &snap_len)) != WEIR_OK)
        return rc;
    size_t mlen = strlen(m), len = WCKPT_FIXED + mlen + 8 + snap_len;
    uint8_t *b = malloc(len);
    uint64_t h, hn;
    if (!b || input_hash(fd, offset, &h, &hn) != 0) {
        free(b);
        free(snap);
        weir__errf(err, err_size, "checkpoint: cannot read the input's head");
        return b ? WEIR_ERR_IO : WEIR_ERR_NOMEM;
    }
    memcpy(b, WCKPT_MAGIC, 8);
    weir__put_le32(b + 8, WCKPT_VERSION);
    weir__put_le32(b + 12, WCKPT_COUNTERS);
    weir__put_le64(b + 16, offset);
    weir__put_le64(b + 24, h);
    weir__put_le64(b + 32, hn);
    size_t pos = 40;
    for (int i = 0; i < 3; i++, pos += 8)
        weir__put_le64(b + pos, files[i] ? (uint64_t)weir_file_sink_offset(files[i]) : UINT64_MAX);
    uint64_t c[WCKPT_COUNTERS];
    weir__wunit_counters(j->u, c);
    for (int i = 0; i < WCKPT_COUNTERS; i++, pos += 8)
        weir__put_le64(b + pos, c[i]);
    weir__put_le32(b + pos, (uint32_t)mlen);
    memcpy(b + pos + 4, m, mlen);
    pos += 4 + mlen;
    weir__put_le64(b + pos, snap_len);
    memcpy(b + pos + 8, snap, snap_len);
    free(snap);
    rc = weir_ckpt_dir_write(store, b, len, err, err_size);
    free(b);
    if (rc == WEIR_OK)
        j->checkpoints++;
    return rc;
}

static weir_err open_file(const char *path, int64_t resume_at, weir_sink **out, char *err,
                          size_t err_size)
{
    if (!path[0])
        return WEIR_OK;
    return weir_file_sink_open(path, NULL, NULL, 0, resume_at, out, err, err_size);
}

weir_err weir_window_job_run_file(const weir_conf *conf, volatile sig_atomic_t *stop,
                                  weir_window_job_stats *stats, char *err, size_t err_size)
{
    fjob j;
    memset(&j, 0, sizeof j);
    int fd = -1;
    char *buf = NULL, *m = NULL;
    weir_ckpt_dir *store = NULL;
    resume res;
    memset(&res, 0, sizeof res);
    int resumed = 0;
    double t0 = mono_sec();
    weir_err rc = weir_window_job_check(conf, err, err_size);
    if (rc != WEIR_OK)
        goto done;
    size_t cap = READ_BLOCK;
    if (!(buf = malloc(cap))) {
        rc = WEIR_ERR_NOMEM;
        goto done;
    }
    const char *in_path = weir_conf_get(conf, "input.path");
    const char *out_path = weir_conf_get(conf, "output.path");
    fd = strcmp(in_path, "-") ? open(in_path, O_RDONLY | O_CLOEXEC) : STDIN_FILENO;
    if (fd < 0) {
        weir__errf(err, err_size, "--input: cannot open %s: %s", in_path, strerror(errno));
        rc = WEIR_ERR_IO;
        goto done;
    }
    const char *ckpt_dir = weir_conf_get(conf, "checkpoint.dir");
    if (ckpt_dir[0]) {
        struct stat st;
        if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || !strcmp(out_path, "-")) {
            weir__errf(err, err_size,
                       "checkpoint.dir: resuming needs --input to be a regular file and "
                       "--output a file, not standard input or output");
            rc = WEIR_ERR_INVALID_ARG;
            goto done;
        }
        if (!(m = meaning(conf))) {
            rc = WEIR_ERR_NOMEM;
            goto done;
        }
        rc = weir_ckpt_dir_open(ckpt_dir, (int)weir_conf_get_int(conf, "checkpoint.keep"), &store,
                                err, err_size);
        if (rc == WEIR_OK && weir_conf_get_bool(conf, "reset.state"))
            rc = weir_ckpt_dir_clear(store, err, err_size);
        else if (rc == WEIR_OK) {
            res.conf = conf;
            res.m = m;
            res.fd = fd;
            weir__log lg = weir__conf_log(conf);
            rc = weir_ckpt_dir_load(store, accept_ckpt, &res, lg.fn, lg.arg, err, err_size);
            if (rc == WEIR_ERR_NOT_FOUND) {
                rc = WEIR_OK;
                err[0] = '\0';
            } else if (rc == WEIR_OK) {
                resumed = 1;
            } else if (rc == WEIR_ERR_CORRUPT) {
                size_t l = strlen(err);
                snprintf(err + l, err_size - l, "; use --reset-state to start over");
            }
        }
        if (rc != WEIR_OK)
            goto done;
    }
    if ((rc = open_file(out_path, resumed ? res.files[0] : -1, &j.out, err, err_size)) != WEIR_OK ||
        (rc = open_file(weir_conf_get(conf, "late.output.path"), resumed ? res.files[1] : -1,
                        &j.late, err, err_size)) != WEIR_OK ||
        (rc = open_file(weir_conf_get(conf, "dead.letter.path"), resumed ? res.files[2] : -1,
                        &j.dead, err, err_size)) != WEIR_OK)
        goto done;
    /* The unit is made without DynamoDB first, for the item's key attribute; the sink
     * comes next and the unit is made again with it. */
    weir_sink *sinks[2];
    size_t n_sinks = 0;
    if (j.out)
        sinks[n_sinks++] = j.out;
    if (weir_dynamodb_enabled(conf)) {
        if ((rc = weir__window_kind.create(conf, 1, NULL, &j.u, err, err_size)) != WEIR_OK)
            goto done;
        char inner[512];
        rc = weir_dynamodb_sink_create(conf, weir__wunit_ddb_key(j.u), NULL, 0, &j.ddb, inner,
                                       sizeof inner);
        weir__unit_destroy(j.u);
        j.u = NULL;
        if (rc != WEIR_OK) {
            weir__errf(err, err_size, "%s", inner);
            goto done;
        }
        sinks[n_sinks++] = j.ddb;
    }
    weir__unit_sinks us = {sinks, n_sinks, j.late, j.dead};
    if ((rc = weir__window_kind.create(conf, 1, &us, &j.u, err, err_size)) != WEIR_OK)
        goto done;
    int64_t base = 0; /* input offset of buf[0] */
    if (resumed) {
        rc = weir_gwindow_restore(weir__wunit_op(j.u), res.snap, res.snap_len, err, err_size);
        if (rc == WEIR_OK && lseek(fd, (off_t)res.offset, SEEK_SET) < 0) {
            weir__errf(err, err_size, "--input: cannot seek: %s", strerror(errno));
            rc = WEIR_ERR_IO;
        }
        if (rc != WEIR_OK)
            goto done;
        base = (int64_t)res.offset;
        weir__wunit_set_counters(j.u, res.counters);
    }
    int64_t interval = weir_conf_get_duration_ms(conf, "checkpoint.interval");
    double last_ckpt = mono_sec();
    size_t max_line = (size_t)weir_conf_get_int(conf, "input.max.record.bytes");
    size_t len = 0, pos = 0;
    int eof = 0, skipping = 0;
    t0 = mono_sec();
    while (rc == WEIR_OK && !(stop && *stop)) {
        if (len == cap) {
            char *nb = realloc(buf, cap * 2);
            if (!nb) {
                rc = WEIR_ERR_NOMEM;
                break;
            }
            buf = nb;
            cap *= 2;
        }
        ssize_t n;
        do
            n = read(fd, buf + len, cap - len);
        while (n < 0 && errno == EINTR && !(stop && *stop));
        if (n < 0 && errno == EINTR)
            n = 0; /* a signal asked to stop: the input ends here */
        if (n < 0) {
            weir__errf(err, err_size, "--input: read failed: %s", strerror(errno));
            rc = WEIR_ERR_IO;
            break;
        }
        eof = n == 0;
        len += (size_t)n;
        int64_t now = wall_ms();
        j.n_recs = 0;
        while (rc == WEIR_OK) {
            char *nl = memchr(buf + pos, '\n', len - pos);
            size_t end = nl ? (size_t)(nl - buf) : len;
            if (!nl && !eof) {
                /* An incomplete line: hand over the head of an overlong one (it decodes as
                 * too large) and skip its rest; otherwise wait for more bytes. */
                if (!skipping && end - pos > max_line) {
                    rc = add_rec(&j, buf + pos, max_line + 1);
                    skipping = 1;
                }
                if (skipping)
                    pos = len;
                break;
            }
            if (!nl && pos == len)
                break;
            size_t ll = end - pos;
            if (skipping) {
                skipping = 0;
            } else {
                if (ll && buf[pos + ll - 1] == '\r')
                    ll--;
                rc = add_rec(&j, buf + pos, ll);
            }
            pos = nl ? end + 1 : len;
        }
        /* The records point into buf: hand them over before it moves. */
        if (rc == WEIR_OK && j.n_recs)
            rc = j.u->ops->push(j.u, j.recs, j.n_recs, now);
        if (rc == WEIR_OK && store && !skipping &&
            (mono_sec() - last_ckpt) * 1000 >= (double)interval) {
            rc = take_checkpoint(&j, store, fd, (uint64_t)(base + (int64_t)pos), m, err, err_size);
            last_ckpt = mono_sec();
        }
        if (eof && pos >= len)
            break;
        memmove(buf, buf + pos, len - pos);
        base += (int64_t)pos;
        len -= pos;
        pos = 0;
    }
    if (rc == WEIR_OK)
        rc = j.u->ops->finish(j.u);
    weir_sink *all[4] = {j.out, j.late, j.dead, j.ddb};
    for (int i = 0; i < 4; i++) {
        /* DynamoDB retries with backoff and gives up by itself after its retry limit; the
         * timeout only guards against a peer that stops answering altogether. */
        weir_err f = weir_sink_flush(all[i], i == 3 ? 600000 : 30000);
        if (rc == WEIR_OK)
            rc = f;
    }
    if (rc != WEIR_OK && err && !err[0]) {
        for (int i = 0; i < 4 && !err[0]; i++)
            if (weir_sink_error(all[i])[0])
                weir__errf(err, err_size, "%s", weir_sink_error(all[i]));
    }
    if (rc == WEIR_ERR_NOMEM)
        weir__errf(err, err_size, "out of memory");
done:;
    weir_window_job_stats st;
    memset(&st, 0, sizeof st);
    if (j.u)
        weir__wunit_job_stats(j.u, &st);
    st.checkpoints = j.checkpoints;
    st.resumed = resumed;
    st.elapsed_sec = mono_sec() - t0;
    if (stats)
        *stats = st;
    if (fd > STDIN_FILENO)
        close(fd);
    free(buf);
    free(m);
    free(res.snap);
    free(j.recs);
    weir_ckpt_dir_close(store);
    weir__unit_destroy(j.u);
    weir_sink_destroy(j.out);
    weir_sink_destroy(j.late);
    weir_sink_destroy(j.dead);
    weir_sink_destroy(j.ddb);
    return rc;
}
