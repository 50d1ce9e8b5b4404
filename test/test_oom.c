/* The window operator when memory runs out: every allocation it makes (snapshot and restore
 * too), failed in turn. */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "state/dict.h"
#include "support/gen.h"
#include "weir/job.h"
#include "weir/pipeline.h"
#include "weir/sink.h"
#include "weir/weir.h"

/*
 * This test is linked with --wrap for malloc, calloc and realloc (Makefile): every call from
 * the test and the library (not from shared libraries such as roaring) goes through the
 * wrappers below, which count the calls and fail the one numbered `fail_at`.
 */
void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t size);
void *__real_realloc(void *p, size_t n);

static long calls, fail_at = -1;
static int fail_after; /* every call from fail_at on fails, not only that one */

static int fail_now(void)
{
    long c = calls++;
    return fail_at >= 0 && (c == fail_at || (fail_after && c > fail_at));
}

void *__wrap_malloc(size_t n);
void *__wrap_malloc(size_t n)
{
    return fail_now() ? NULL : __real_malloc(n);
}

void *__wrap_calloc(size_t n, size_t size);
void *__wrap_calloc(size_t n, size_t size)
{
    return fail_now() ? NULL : __real_calloc(n, size);
}

void *__wrap_realloc(void *p, size_t n);
void *__wrap_realloc(void *p, size_t n)
{
    return fail_now() ? NULL : __real_realloc(p, n);
}

#define T0      1704110400000LL /* 2024-01-01T12:00:00Z */
#define NEVENTS 6000
#define NKEYS   12
#define NUSERS  3000
#define BATCH   256

/* What the operator emitted: one line per firing, in order. */
typedef struct out {
    char (*lines)[96];
    int n, cap;
} out;

static int collect(void *opaque, const weir_firing *f)
{
    out *o = opaque;
    if (o->n == o->cap)
        return -1; /* more firings than the run without failures made: a test failure */
    snprintf(o->lines[o->n++], 96, "%.*s %lld u=%llu n=%llu%s", (int)f->key.len, f->key.ptr,
             (long long)(f->window_start - T0) / 1000, (unsigned long long)f->values[0],
             (unsigned long long)f->values[1], f->late ? " late" : "");
    return 0;
}

static uint64_t fnv(const char *s)
{
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

static char keys[NKEYS][16], users[NUSERS][16];
static weir_event events[NEVENTS];

/* Three minutes of records, a few of them late; key 0 has most users (a roaring bitmap past
 * the array tier), the others from a few to a few hundred; the log of a hot window fills and
 * is flushed many times. */
static void make_events(void)
{
    for (int k = 0; k < NKEYS; k++)
        snprintf(keys[k], sizeof keys[k], "k%d", k);
    for (int u = 0; u < NUSERS; u++)
        snprintf(users[u], sizeof users[u], "u%d", u);
    uint64_t s = 7;
    for (int i = 0; i < NEVENTS; i++) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        int k = (int)(s >> 60) % NKEYS;
        int u = k == 0 ? (int)((s >> 20) % NUSERS) : (int)((s >> 20) % (40u * (unsigned)k));
        int64_t ts = T0 + (int64_t)i * 30 - (int64_t)((s >> 8) % 4000);
        if (i % 500 == 499)
            ts -= 70000; /* late: behind the watermark, within the lateness or not */
        weir_event *e = &events[i];
        memset(e, 0, sizeof *e);
        e->ts = ts;
        e->key = (weir_slice){keys[k], strlen(keys[k])};
        e->user = (weir_slice){users[u], strlen(users[u])};
        e->raw = e->key;
        e->key_hash = fnv(keys[k]);
        e->user_fp[0] = fnv(users[u]);
        e->user_fp[1] = e->user_fp[0] * 0x9E3779B97F4A7C15ull + 1;
    }
}

static weir_window_op *new_op(out *o)
{
    weir_conf *conf = weir_conf_new();
    int hll_p;
    weir_window_params p;
    weir_window_op *op = NULL;
    if (conf && weir_window_params_from_conf(conf, &p, &hll_p, NULL, 0) == WEIR_OK) {
        p.allowed_lateness_ms = 30000;
        op = weir_window_op_new(&p, collect, o, NULL, 0);
    }
    weir_conf_destroy(conf);
    return op;
}

/* Replaces *op by an operator restored from its snapshot, as a restarted job does. */
static weir_err restart(weir_window_op **op, out *o)
{
    uint8_t *snap;
    size_t len;
    weir_err rc = weir_window_op_snapshot(*op, &snap, &len);
    if (rc != WEIR_OK)
        return rc;
    weir_window_op *fresh = new_op(o);
    char err[256] = "";
    rc = fresh ? weir_window_op_restore(fresh, snap, len, err, sizeof err) : WEIR_ERR_NOMEM;
    free(snap);
    if (rc != WEIR_OK && rc != WEIR_ERR_NOMEM)
        fail_msg("restore: %s: %s", weir_err_str(rc), err);
    if (rc != WEIR_OK) {
        weir_window_op_destroy(fresh);
        return rc;
    }
    weir_window_op_destroy(*op);
    *op = fresh;
    return WEIR_OK;
}

/* Runs the operator over the events (with a snapshot and restore halfway when `snapshot`);
 * returns the first error, stopping there as a job does. */
static weir_err run(out *o, int snapshot)
{
    weir_window_op *op = new_op(o);
    if (!op)
        return WEIR_ERR_NOMEM;
    weir_err rc = WEIR_OK;
    for (int i = 0; i < NEVENTS && rc == WEIR_OK; i += BATCH) {
        if (snapshot && i == NEVENTS / 2 / BATCH * BATCH && (rc = restart(&op, o)) != WEIR_OK)
            break;
        rc = weir_window_op_process(op, events + i, NEVENTS - i < BATCH ? NEVENTS - i : BATCH, 0);
    }
    if (rc == WEIR_OK)
        rc = weir_window_op_finish(op);
    weir_window_op_destroy(op);
    return rc;
}

typedef weir_err (*run_fn)(out *o, int snapshot);

/* The run without failures, into ref; returns how many allocations it made. */
static long reference_run(run_fn run, int snapshot, out *ref)
{
    fail_at = -1;
    calls = 0;
    assert_int_equal(run(ref, snapshot), WEIR_OK);
    assert_true(calls > 100);
    return calls;
}

/*
 * Fails each of the `total` allocations of a run in turn, once (or, with `after`, that one
 * and every one after it). Whatever fails, the run neither crashes nor leaks (AddressSanitizer
 * and LeakSanitizer watch), returns WEIR_OK or WEIR_ERR_NOMEM, and what it emitted is what the
 * run without failures emitted (`ref`), line for line, up to where it stopped: all of it when
 * it returns WEIR_OK. A count short of its ids, a good record taken for an invalid one or
 * dropped, shows as a line that differs.
 */
static void fail_each(run_fn run, int snapshot, int after, const out *ref, long total,
                      const char *what)
{
    static char lines[8192][96]; /* static: a failed check leaks nothing */
    out o = {lines, 0, 0};
    long nomem = 0, ok = 0;
    for (long k = 0; k < total; k++) {
        o.n = 0;
        o.cap = ref->n;
        calls = 0;
        fail_at = k;
        fail_after = after;
        weir_err rc = run(&o, snapshot);
        fail_at = -1;
        if (rc != WEIR_OK && rc != WEIR_ERR_NOMEM)
            fail_msg("%s, allocation %ld failed: %s", what, k, weir_err_str(rc));
        for (int i = 0; i < o.n; i++)
            if (o.lines[i][0] == '~'
                    ? strncmp(o.lines[i] + 1, ref->lines[i], strlen(o.lines[i] + 1)) != 0
                    : strcmp(o.lines[i], ref->lines[i]) != 0)
                fail_msg("%s, allocation %ld failed: line %d is '%s', not '%s'", what, k, i,
                         o.lines[i], ref->lines[i]);
        if (rc == WEIR_OK) {
            assert_int_equal(o.n, ref->n);
            ok++;
        } else {
            nomem++;
        }
    }
    /* Most failures must be reported; some are absorbed (a shrinking realloc, a log that
     * cannot grow and is flushed instead, a flush retried at the next firing). */
    assert_true(nomem > total / 2);
    printf("  %s: %ld allocations failed in turn%s: %ld reported out of memory, %ld absorbed\n",
           what, total, after ? " with all after them" : "", nomem, ok);
}

/* The operator alone, with a snapshot and restore halfway when `snapshot`. */
static void sweep(int after, int snapshot)
{
    make_events();
    static char ref_lines[8192][96];
    out ref = {ref_lines, 0, 8192};
    long total = reference_run(run, snapshot, &ref);
    assert_true(ref.n > 3 * NKEYS);
    fail_each(run, snapshot, after, &ref, total,
              snapshot ? "operator, snapshot halfway" : "operator");
}

/* ---- the whole pipeline: decoding, the operator, sinks and side outputs */

static char *raw;
static size_t raw_len, nrecs;
static weir_record recs[8192];

/* Generated JSON lines: disorder, late and malformed records, all timestamp encodings. */
static void make_records(void)
{
    weir_gen_params p;
    weir_gen_defaults(&p);
    p.seed = 11;
    p.events = 4000;
    p.products = 12;
    p.users = 2000;
    p.rate = 40;
    p.disorder_ms = 4000;
    p.late_fraction = 0.01;
    p.late_max_ms = 100000;
    p.bad_fraction = 0.02;
    p.mixed_encodings = 1;
    FILE *f = open_memstream(&raw, &raw_len);
    assert_non_null(f);
    assert_int_equal(weir_gen_write(&p, f), 0);
    assert_int_equal(fclose(f), 0);
    nrecs = 0;
    for (size_t at = 0; at < raw_len;) {
        const char *nl = memchr(raw + at, '\n', raw_len - at);
        size_t len = nl ? (size_t)(nl - (raw + at)) : raw_len - at;
        assert_true(nrecs < sizeof recs / sizeof recs[0]);
        recs[nrecs++] = (weir_record){raw + at, len, 0, (int64_t)at};
        at += len + 1;
    }
}

/* A sink that writes what reaches it as lines of an `out`. */
typedef struct capture {
    out *o;
    const char *kind;
} capture;

static weir_err cap_firing(weir_sink *s, const weir_firing *f)
{
    return collect(((capture *)weir_sink_impl(s))->o, f) == 0 ? WEIR_OK : WEIR_ERR_IO;
}

static weir_err cap_record(weir_sink *s, weir_slice r, int32_t partition)
{
    (void)partition;
    capture *c = weir_sink_impl(s);
    if (c->o->n == c->o->cap)
        return WEIR_ERR_IO;
    snprintf(c->o->lines[c->o->n++], 96, "%s %.*s", c->kind, (int)(r.len < 60 ? r.len : 60), r.ptr);
    return WEIR_OK;
}

static weir_err cap_flush(weir_sink *s, int timeout_ms)
{
    (void)s;
    (void)timeout_ms;
    return WEIR_OK;
}

static const weir_sink_ops cap_ops = {"capture", cap_firing, cap_record, cap_flush, NULL, NULL};

static weir_err run_pipeline(out *o, int unused)
{
    (void)unused;
    weir_conf *conf = weir_conf_new();
    char err[256];
    if (!conf ||
        weir_conf_set(conf, "window.allowed.lateness", "30s", err, sizeof err) != WEIR_OK) {
        weir_conf_destroy(conf);
        return WEIR_ERR_NOMEM;
    }
    capture fires = {o, "fire"}, late = {o, "late"}, dead = {o, "dead"};
    weir_sink *sinks[3] = {weir_sink_new(&cap_ops, &fires, err, sizeof err),
                           weir_sink_new(&cap_ops, &late, err, sizeof err),
                           weir_sink_new(&cap_ops, &dead, err, sizeof err)};
    weir_pipeline *p =
        sinks[0] && sinks[1] && sinks[2]
            ? weir_pipeline_new(conf, 1, sinks, 1, sinks[1], sinks[2], err, sizeof err)
            : NULL;
    weir_conf_destroy(conf);
    if (!p) {
        for (int i = 0; i < 3; i++)
            weir_sink_destroy(sinks[i]);
        return WEIR_ERR_NOMEM;
    }
    weir_err rc = WEIR_OK;
    for (size_t i = 0; i < nrecs && rc == WEIR_OK; i += BATCH)
        rc = weir_pipeline_push(p, recs + i, nrecs - i < BATCH ? nrecs - i : BATCH, 0);
    if (rc == WEIR_OK)
        rc = weir_pipeline_finish(p);
    weir_pipeline_destroy(p);
    for (int i = 0; i < 3; i++)
        weir_sink_destroy(sinks[i]);
    return rc;
}

/* fail_each over the pipeline: firings, late records and invalid records. */
static void sweep_pipeline(int after)
{
    make_records();
    static char ref_lines[8192][96];
    out ref = {ref_lines, 0, 8192};
    long total = reference_run(run_pipeline, 0, &ref);
    int dead = 0, late = 0;
    for (int i = 0; i < ref.n; i++) {
        dead += strncmp(ref.lines[i], "dead ", 5) == 0;
        late += strncmp(ref.lines[i], "late ", 5) == 0;
    }
    assert_true(ref.n > 100 && dead > 10 && late > 10);
    fail_each(run_pipeline, 0, after, &ref, total, "pipeline");
    free(raw);
}

/* ---- the file job: its block reader and file sinks around the pipeline */

static char dir[64], in_path[96], paths[3][96];
static const char *const kinds[3] = {"out", "late", "dead"};

/* Reads the job's three output files into o: each line (cut to fit) behind its file's
 * name; a last line without its newline (a run that stopped while writing it) is marked
 * "~", and must be the start of the reference's line. */
static int read_outputs(out *o)
{
    for (int f = 0; f < 3; f++) {
        FILE *in = fopen(paths[f], "r");
        if (!in)
            continue; /* not created: the run failed before */
        char *line = NULL;
        size_t cap = 0;
        ssize_t n;
        int rc = 0;
        while ((n = getline(&line, &cap, in)) > 0) {
            int whole = line[n - 1] == '\n';
            if (o->n == o->cap) {
                rc = -1;
                break;
            }
            snprintf(o->lines[o->n++], 96, "%s%s %.*s", whole ? "" : "~", kinds[f],
                     (int)(whole ? n - 1 : n), line);
        }
        free(line);
        fclose(in);
        if (rc)
            return rc;
    }
    return 0;
}

static char ckpt_dir[96];

/* One run of the file job; with `checkpoints`, a checkpoint after every batch of 256
 * records into ckpt_dir, from which a next run resumes. Returns its exit code. */
static int file_job_once(int checkpoints, FILE *summary)
{
    weir_conf *conf = weir_conf_new();
    char err[256];
    static const char *const keys[] = {"output.path", "late.output.path", "dead.letter.path"};
    int ok = conf && weir_conf_set(conf, "input.path", in_path, err, sizeof err) == WEIR_OK &&
             weir_conf_set(conf, "window.allowed.lateness", "30s", err, sizeof err) == WEIR_OK;
    for (int f = 0; ok && f < 3; f++)
        ok = weir_conf_set(conf, keys[f], paths[f], err, sizeof err) == WEIR_OK;
    if (ok && checkpoints)
        ok = weir_conf_set(conf, "checkpoint.dir", ckpt_dir, err, sizeof err) == WEIR_OK &&
             weir_conf_set(conf, "checkpoint.interval", "1ms", err, sizeof err) == WEIR_OK &&
             weir_conf_set(conf, "input.batch.records", "256", err, sizeof err) == WEIR_OK;
    char why[512];
    weir_err rc = ok ? weir_file_job_run(conf, NULL, 0, &(weir_job_env){.summary = summary}, 0, why,
                                         sizeof why)
                     : WEIR_ERR_NOMEM;
    /* As unique-users maps them: configuration 2, any failure while running 1. */
    int code = rc == WEIR_OK ? 0
               : rc == WEIR_ERR_INVALID_ARG || rc == WEIR_ERR_CORRUPT || rc == WEIR_ERR_UNSUPPORTED
                   ? 2
                   : 1;
    weir_conf_destroy(conf);
    return code;
}

static void clear_dir(const char *path)
{
    DIR *d = opendir(path);
    if (!d)
        return;
    struct dirent *e;
    char name[512];
    while ((e = readdir(d)))
        if (e->d_name[0] != '.') {
            snprintf(name, sizeof name, "%s/%s", path, e->d_name);
            remove(name);
        }
    closedir(d);
}

static weir_err run_file_job(out *o, int unused)
{
    (void)unused;
    for (int f = 0; f < 3; f++)
        remove(paths[f]);
    int code = file_job_once(0, NULL);
    /* The outputs are read back with allocations failing no more. */
    long saved = fail_at;
    fail_at = -1;
    if (read_outputs(o) != 0)
        code = 3;
    fail_at = saved;
    return code == 0 ? WEIR_OK : code == 1 ? WEIR_ERR_NOMEM : WEIR_ERR_IO;
}

/* The file job's input and output files in a directory of their own, made before each
 * file-job test and removed after it by cmocka, also when a check fails. */
static int setup_file_job(void **state)
{
    (void)state;
    make_records();
    snprintf(dir, sizeof dir, "/tmp/weir-oom-XXXXXX");
    assert_non_null(mkdtemp(dir));
    snprintf(in_path, sizeof in_path, "%s/in.jsonl", dir);
    snprintf(ckpt_dir, sizeof ckpt_dir, "%s/ckpt", dir);
    for (int f = 0; f < 3; f++)
        snprintf(paths[f], sizeof paths[f], "%s/%s.jsonl", dir, kinds[f]);
    FILE *in = fopen(in_path, "w");
    assert_non_null(in);
    assert_int_equal(fwrite(raw, 1, raw_len, in), raw_len);
    assert_int_equal(fclose(in), 0);
    return 0;
}

static int teardown_file_job(void **state)
{
    (void)state;
    clear_dir(ckpt_dir);
    rmdir(ckpt_dir);
    clear_dir(dir);
    rmdir(dir);
    free(raw);
    raw = NULL;
    return 0;
}

/*
 * fail_each over the file job: exit code 0 with the whole output, or 1 with each output file
 * a prefix of the run without failures (line for line, the last line maybe cut off). A
 * lost or altered record, or a 0 exit after a failure, shows.
 */
static void sweep_file_job(int after)
{
    static char ref_lines[8192][96];
    out ref = {ref_lines, 0, 8192};
    long total = reference_run(run_file_job, 0, &ref);
    assert_true(ref.n > 100);
    fail_each(run_file_job, 0, after, &ref, total, "file job");
}

/*
 * The file job with a checkpoint after every batch: each of its allocations (one in every
 * `step`) fails in turn, once; a run that exits 1 is run again, without failures, resuming
 * from its checkpoints, as a restarted job does. That run exits 0 and the outputs are then
 * exactly those of the run without failures: nothing lost, nothing twice. A checkpoint
 * written wrong while memory ran out, or one that the restart cannot use, shows.
 */
static void test_file_job_resumes_after_running_out(void **state)
{
    (void)state;
    assert_int_equal(mkdir(ckpt_dir, 0700), 0);
    static char ref_lines[8192][96], lines[8192][96];
    out ref = {ref_lines, 0, 8192}, o = {lines, 0, 8192};
    fail_at = -1;
    calls = 0;
    assert_int_equal(file_job_once(1, NULL), 0);
    long total = calls;
    assert_int_equal(read_outputs(&ref), 0);
    assert_true(total > 100 && ref.n > 100);
    long failed = 0, resumed = 0, step = 3;
    for (long k = 0; k < total; k += step) {
        clear_dir(ckpt_dir);
        for (int f = 0; f < 3; f++)
            remove(paths[f]);
        calls = 0;
        fail_at = k;
        fail_after = 0;
        int code = file_job_once(1, NULL);
        fail_at = -1;
        if (code != 0 && code != 1)
            fail_msg("allocation %ld failed: exit %d", k, code);
        if (code == 1) {
            failed++;
            /* The restart's summary says whether it resumed from a checkpoint. */
            char summary[4096] = "";
            FILE *sf = fmemopen(summary, sizeof summary - 1, "w");
            assert_non_null(sf);
            code = file_job_once(1, sf);
            fclose(sf);
            if (code != 0)
                fail_msg("allocation %ld failed: the restart exits %d", k, code);
            resumed += strstr(summary, "\"resumed\":true") != NULL;
        }
        o.n = 0;
        assert_int_equal(read_outputs(&o), 0);
        if (o.n != ref.n)
            fail_msg("allocation %ld failed: %d lines after the restart, not %d", k, o.n, ref.n);
        for (int i = 0; i < o.n; i++)
            if (strcmp(o.lines[i], ref.lines[i]) != 0)
                fail_msg("allocation %ld failed: line %d is '%s', not '%s'", k, i, o.lines[i],
                         ref.lines[i]);
    }
    /* Most failures stop the run, and many stopped runs had checkpointed before (how many
     * depends on the wall clock: a checkpoint is due 1 ms after the last). */
    assert_true(failed > total / step / 2 && resumed >= 10);
    printf("  file job with checkpoints: %ld of %ld allocations failed in turn, %ld runs "
           "restarted (%ld from a checkpoint), all to the same outputs\n",
           (total + step - 1) / step, total, failed, resumed);
}

/*
 * The dictionary with every value's home in the last slot, so that each insertion moves a
 * run up into the slots past the last home and often needs more of them: with every
 * allocation failed in turn, an intern that fails returns UINT32_MAX and leaves the
 * dictionary as it was (each value before it keeps its id, the table holds each once),
 * and interning goes on from there once memory is back.
 */
static void check_dict(const weir__dict *d, uint32_t n)
{
    assert_int_equal(d->count, n);
    uint32_t filled = 0;
    uint64_t prev = 0;
    for (uint32_t i = 0; i < weir__dict_len(d); i++)
        if (d->slots[i].tag) {
            uint64_t v = weir__dict_slot_lo(&d->slots[i]);
            assert_true(filled == 0 || v > prev); /* in order of the low bits */
            prev = v;
            filled++;
        }
    assert_int_equal(filled, n);
}

static void test_dictionary_runs_out_at_every_allocation(void **state)
{
    (void)state;
    enum { N = 400 };
    uint64_t lo[N], seed = 7;
    for (uint32_t i = 0; i < N; i++) {
        /* the top 32 bits at the very end of their range: the last home at every size */
        seed = seed * 6364136223846793005ull + 1442695040888963407ull;
        lo[i] = 0xFFFFFFFFull << 32 | (seed >> 32 ^ (uint64_t)i << 20);
    }
    long total = 0, failures = 0;
    for (long k = 0;; k++) {
        weir__dict d;
        fail_at = -1;
        assert_int_equal(weir__dict_init(&d, 0), 0);
        calls = 0;
        fail_at = k;
        int failed = 0;
        for (uint32_t i = 0; i < N; i++) {
            uint32_t id = weir__dict_intern(&d, lo[i], 0);
            if (id == UINT32_MAX) {
                failed = 1;
                failures++;
                check_dict(&d, i);
                fail_at = -1;
                for (uint32_t j = 0; j < i; j++) /* every id kept */
                    assert_int_equal(weir__dict_intern(&d, lo[j], 0), j);
                id = weir__dict_intern(&d, lo[i], 0);
            }
            assert_int_equal(id, i);
        }
        check_dict(&d, N);
        for (uint32_t i = 0; i < N; i++)
            assert_int_equal(weir__dict_intern(&d, lo[i], 0), i);
        weir__dict_free(&d);
        if (!failed) {
            total = k;
            break;
        }
    }
    fail_at = -1;
    assert_true(total > 10 && failures == total);
    printf("  dictionary with crowded homes: %ld allocations failed in turn\n", total);
}

static void test_every_allocation_fails_in_turn(void **state)
{
    (void)state;
    sweep(0, 0);
}

static void test_memory_runs_out_at_every_allocation(void **state)
{
    (void)state;
    sweep(1, 0);
}

static void test_snapshot_and_restore_fail_in_turn(void **state)
{
    (void)state;
    sweep(0, 1);
}

static void test_memory_runs_out_around_a_snapshot(void **state)
{
    (void)state;
    sweep(1, 1);
}

static void test_pipeline_allocations_fail_in_turn(void **state)
{
    (void)state;
    sweep_pipeline(0);
}

static void test_pipeline_runs_out_of_memory(void **state)
{
    (void)state;
    sweep_pipeline(1);
}

static void test_file_job_allocations_fail_in_turn(void **state)
{
    (void)state;
    sweep_file_job(0);
}

static void test_file_job_runs_out_of_memory(void **state)
{
    (void)state;
    sweep_file_job(1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dictionary_runs_out_at_every_allocation),
        cmocka_unit_test(test_every_allocation_fails_in_turn),
        cmocka_unit_test(test_memory_runs_out_at_every_allocation),
        cmocka_unit_test(test_snapshot_and_restore_fail_in_turn),
        cmocka_unit_test(test_memory_runs_out_around_a_snapshot),
        cmocka_unit_test(test_pipeline_allocations_fail_in_turn),
        cmocka_unit_test(test_pipeline_runs_out_of_memory),
        cmocka_unit_test_setup_teardown(test_file_job_allocations_fail_in_turn, setup_file_job,
                                        teardown_file_job),
        cmocka_unit_test_setup_teardown(test_file_job_runs_out_of_memory, setup_file_job,
                                        teardown_file_job),
        cmocka_unit_test_setup_teardown(test_file_job_resumes_after_running_out, setup_file_job,
                                        teardown_file_job),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
