/* Window operator: the worked example of SEMANTICS.md, watermarks, snapshot round trips. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "support/gen.h"
#include "weir/weir.h"

#define T0 1704110400000LL /* 2024-01-01T12:00:00Z */

typedef struct got {
    char lines[4096][160];
    int n;
} got;

static int collect(void *opaque, const weir_firing *f)
{
    got *g = opaque;
    assert_true(g->n < 4096);
    snprintf(g->lines[g->n++], 160, "%.*s %lld %lld u=%llu n=%llu%s", (int)f->key.len, f->key.ptr,
             (long long)(f->window_start - T0) / 1000, (long long)(f->window_end - T0) / 1000,
             (unsigned long long)f->values[0], (unsigned long long)f->values[1],
             f->late ? " late" : "");
    return 0;
}

static weir_window_op *make_op(int64_t lateness_ms, weir_emit_mode emit, got *g)
{
    weir_conf *conf = weir_conf_new();
    static int hll_p;
    weir_window_params p;
    assert_int_equal(weir_window_params_from_conf(conf, &p, &hll_p, NULL, 0), WEIR_OK);
    p.allowed_lateness_ms = lateness_ms;
    p.emit = emit;
    weir_conf_destroy(conf);
    char err[256];
    weir_window_op *op = weir_window_op_new(&p, collect, g, err, sizeof err);
    assert_non_null(op);
    return op;
}

static weir_event ev(int64_t ts, const char *key, const char *user)
{
    weir_event e;
    memset(&e, 0, sizeof e);
    e.ts = ts;
    e.key = (weir_slice){key, strlen(key)};
    e.user = (weir_slice){user, strlen(user)};
    /* Any fixed hash function works for the operator; use a simple one in tests. */
    uint64_t h = 1469598103934665603ull;
    for (const char *p = key; *p; p++)
        h = (h ^ (unsigned char)*p) * 1099511628211ull;
    e.key_hash = h;
    uint64_t u = 1469598103934665603ull;
    for (const char *p = user; *p; p++)
        u = (u ^ (unsigned char)*p) * 1099511628211ull;
    e.user_fp[0] = u;
    e.user_fp[1] = u * 0x9E3779B97F4A7C15ull + 1;
    return e;
}

static void feed_example(weir_window_op *op)
{
    weir_event e[] = {
        ev(T0 + 5000, "42", "u1"),  /* 12:00:05 */
        ev(T0 + 65000, "42", "u2"), /* 12:01:05 */
        ev(T0 + 58000, "42", "u3"), /* 12:00:58 */
        ev(T0 + 71000, "42", "u1"), /* 12:01:11 */
        ev(T0 + 40000, "42", "u4"), /* 12:00:40 */
    };
    /* One at a time, checking the watermark after each record as the table does. */
    int64_t wm_after[] = {T0 - 5001, T0 + 54999, T0 + 54999, T0 + 60999, T0 + 60999};
    for (int i = 0; i < 5; i++) {
        assert_int_equal(weir_window_op_process(op, &e[i], 1, 0), WEIR_OK);
        assert_int_equal(weir_window_op_watermark(op), wm_after[i]);
    }
}

/* Keys of every length up to past the inline size, each beside the keys that differ from
 * it in one byte, all with one hash: only the comparison of the bytes tells them apart,
 * and a record finds its key's entry again. */
static void test_keys_with_one_hash(void **state)
{
    (void)state;
    enum { MAXLEN = 24, NKEYS = (MAXLEN + 1) * (MAXLEN + 2) / 2 };
    static char keys[NKEYS][MAXLEN + 1];
    static weir_event evs[2 * NKEYS];
    const char *base = "abcdefghijklmnopqrstuvwx";
    size_t nk = 0;
    for (size_t len = 0; len <= MAXLEN; len++)
        for (size_t pos = 0; pos <= len; pos++) { /* pos == len: the base itself */
            memcpy(keys[nk], base, len);
            keys[nk][len] = '\0';
            if (pos < len)
                keys[nk][pos] = 'Z';
            nk++;
        }
    assert_int_equal(nk, NKEYS);
    for (size_t k = 0; k < nk; k++) {
        evs[k] = ev(T0 + 1000, keys[k], "u1");
        evs[nk + k] = ev(T0 + 2000, keys[k], "u2");
        evs[k].key_hash = evs[nk + k].key_hash = 42;
    }
    got *g = calloc(1, sizeof *g);
    weir_window_op *op = make_op(0, WEIR_EMIT_FINAL, g);
    assert_int_equal(weir_window_op_process(op, evs, 2 * nk, 0), WEIR_OK);
    assert_int_equal(weir_window_op_finish(op), WEIR_OK);
    assert_int_equal(g->n, nk);
    for (size_t k = 0; k < nk; k++) {
        char want[160];
        snprintf(want, sizeof want, "%s 0 60 u=2 n=2", keys[k]);
        assert_string_equal(g->lines[k], want);
    }
    weir_window_op_destroy(op);
    free(g);
}

static void test_worked_example_updates_l0(void **state)
{
    (void)state;
    got *g = calloc(1, sizeof *g);
    weir_window_op *op = make_op(0, WEIR_EMIT_UPDATES, g);
    feed_example(op);
    assert_int_equal(g->n, 1);
    assert_string_equal(g->lines[0], "42 0 60 u=2 n=2");
    weir_window_stats st;
    weir_window_op_stats(op, &st);
    assert_int_equal(st.late_dropped, 1);
    assert_int_equal(weir_window_op_finish(op), WEIR_OK);
    assert_int_equal(g->n, 2);
    assert_string_equal(g->lines[1], "42 60 120 u=2 n=2");
    weir_window_op_destroy(op);
    free(g);
}

static void test_worked_example_final_l0(void **state)
{
    (void)state;
    got *g = calloc(1, sizeof *g);
    weir_window_op *op = make_op(0, WEIR_EMIT_FINAL, g);
    feed_example(op);
    assert_int_equal(weir_window_op_finish(op), WEIR_OK);
    /* With L = 0 both modes emit the same records. */
    assert_int_equal(g->n, 2);
    assert_string_equal(g->lines[0], "42 0 60 u=2 n=2");
    assert_string_equal(g->lines[1], "42 60 120 u=2 n=2");
    weir_window_op_destroy(op);
    free(g);
}

static void test_worked_example_updates_l30(void **state)
{
    (void)state;
    got *g = calloc(1, sizeof *g);
    weir_window_op *op = make_op(30000, WEIR_EMIT_UPDATES, g);
    feed_example(op);
    assert_int_equal(g->n, 2);
    assert_string_equal(g->lines[0], "42 0 60 u=2 n=2");
    assert_string_equal(g->lines[1], "42 0 60 u=3 n=3 late");
    weir_window_stats st;
    weir_window_op_stats(op, &st);
    assert_int_equal(st.late_dropped, 0);
    assert_int_equal(st.late_accepted, 1);
    assert_int_equal(st.late_firings, 1);
    assert_int_equal(weir_window_op_finish(op), WEIR_OK);
    assert_int_equal(g->n, 3);
    assert_string_equal(g->lines[2], "42 60 120 u=2 n=2");
    weir_window_op_destroy(op);
    free(g);
}

static void test_worked_example_final_l30(void **state)
{
    (void)state;
    got *g = calloc(1, sizeof *g);
    weir_window_op *op = make_op(30000, WEIR_EMIT_FINAL, g);
    feed_example(op);
    /* Nothing is emitted before the state is freed (watermark >= 12:01:29.999). */
    assert_int_equal(g->n, 0);
    weir_event more = ev(T0 + 100000, "42", "u9"); /* 12:01:40: WM 12:01:29.999 */
    assert_int_equal(weir_window_op_process(op, &more, 1, 0), WEIR_OK);
    assert_int_equal(g->n, 1);
    assert_string_equal(g->lines[0], "42 0 60 u=3 n=3");
    assert_int_equal(weir_window_op_finish(op), WEIR_OK);
    assert_int_equal(g->n, 2);
    assert_string_equal(g->lines[1], "42 60 120 u=3 n=3");
    weir_window_op_destroy(op);
    free(g);
}

static void test_negative_times_and_keys(void **state)
{
    (void)state;
    got *g = calloc(1, sizeof *g);
    weir_window_op *op = make_op(0, WEIR_EMIT_UPDATES, g);
    /* Floor modulo: -1 ms belongs to [-60 s, 0). */
    weir_event e[] = {ev(T0 - 1, "a", "x"), ev(T0 - 1, "b", "x"), ev(T0, "a", "x"),
                      ev(T0 - 60000, "a", "y")};
    assert_int_equal(weir_window_op_process(op, e, 4, 0), WEIR_OK);
    assert_int_equal(weir_window_op_finish(op), WEIR_OK);
    assert_int_equal(g->n, 3);
    assert_string_equal(g->lines[0], "a -60 0 u=2 n=2");
    assert_string_equal(g->lines[1], "b -60 0 u=1 n=1");
    assert_string_equal(g->lines[2], "a 0 60 u=1 n=1");
    weir_window_op_destroy(op);
    free(g);
}

/* An event of a partition outside 0..partitions-1 is refused with WEIR_ERR_INVALID_ARG, as
 * gwindow refuses it; the events before it count, it and those after it do not. */
static void test_partition_out_of_range(void **state)
{
    (void)state;
    got *g = calloc(1, sizeof *g);
    weir_window_op *op = make_op(0, WEIR_EMIT_FINAL, g);
    weir_event e[] = {ev(T0, "a", "x"), ev(T0 + 1, "b", "x"), ev(T0 + 2, "c", "x")};
    e[1].partition = 1; /* the operator has one partition */
    assert_int_equal(weir_window_op_process(op, e, 3, 0), WEIR_ERR_INVALID_ARG);
    e[1].partition = -1;
    assert_int_equal(weir_window_op_process(op, e + 1, 1, 0), WEIR_ERR_INVALID_ARG);
    weir_window_stats st;
    weir_window_op_stats(op, &st);
    assert_int_equal(st.accepted, 1);
    /* The operator goes on: a valid event after is taken. */
    assert_int_equal(weir_window_op_process(op, e + 2, 1, 0), WEIR_OK);
    assert_int_equal(weir_window_op_finish(op), WEIR_OK);
    assert_int_equal(g->n, 2);
    assert_string_equal(g->lines[0], "a 0 60 u=1 n=1");
    assert_string_equal(g->lines[1], "c 0 60 u=1 n=1");
    weir_window_op_destroy(op);
    free(g);
}

static void test_watermark_partitions_idle_skew(void **state)
{
    (void)state;
    weir_wm_params p = {
        .out_of_orderness_ms = 10, .idle_timeout_ms = 1000, .max_future_skew_ms = 5000};
    weir_watermark *wm = weir_watermark_new(2, &p);
    assert_int_equal(weir_watermark_current(wm), WEIR_TS_MIN);
    weir_watermark_observe(wm, 0, 100, 0);
    /* Partition 1 has seen nothing: the minimum is still minus infinity. */
    assert_int_equal(weir_watermark_current(wm), WEIR_TS_MIN);
    weir_watermark_observe(wm, 1, 50, 0);
    assert_int_equal(weir_watermark_current(wm), 39);
    weir_watermark_observe(wm, 1, 500, 100);
    assert_int_equal(weir_watermark_current(wm), 89);
    /* Partition 0 goes silent; after the idle timeout it no longer holds the minimum. */
    weir_watermark_observe(wm, 1, 700, 1200);
    weir_watermark_tick(wm, 1200);
    assert_true(weir_watermark_is_idle(wm, 0));
    assert_int_equal(weir_watermark_current(wm), 689);
    /* Its next record makes it active again, but the watermark never moves back. */
    weir_watermark_observe(wm, 0, 120, 1300);
    assert_false(weir_watermark_is_idle(wm, 0));
    assert_int_equal(weir_watermark_current(wm), 689);
    /* A record far ahead of the wall clock does not move the watermark. */
    assert_int_equal(weir_watermark_observe(wm, 1, 1000000, 1300), 1);
    assert_int_equal(weir_watermark_partition(wm, 1), 689);
    /* Every partition idle: the watermark holds. */
    weir_watermark_tick(wm, 10000);
    assert_int_equal(weir_watermark_current(wm), 689);
    weir_watermark_finish(wm);
    assert_int_equal(weir_watermark_current(wm), WEIR_TS_MAX);
    weir_watermark_destroy(wm);
}

/* The largest future-skew cap: wall time plus the cap is past INT64_MAX, so no record is
 * ahead of it and the watermark moves as with no cap. */
static void test_future_skew_max(void **state)
{
    (void)state;
    weir_wm_params p = {.out_of_orderness_ms = 10, .max_future_skew_ms = INT64_MAX};
    weir_watermark *wm = weir_watermark_new(1, &p);
    const int64_t wall = 1704067200000;
    assert_int_equal(weir_watermark_observe(wm, 0, wall - 5000, wall), 0);
    assert_int_equal(weir_watermark_current(wm), wall - 5011);
    assert_int_equal(weir_watermark_observe(wm, 0, INT64_MAX / 4, wall), 0);
    assert_int_equal(weir_watermark_current(wm), INT64_MAX / 4 - 11);
    weir_watermark_destroy(wm);
    /* A cap that still fits holds as before. */
    p.max_future_skew_ms = INT64_MAX - wall;
    wm = weir_watermark_new(1, &p);
    assert_int_equal(weir_watermark_observe(wm, 0, INT64_MAX, wall), 0);
    assert_int_equal(weir_watermark_observe(wm, 0, 0, wall + 1), 0);
    weir_watermark_destroy(wm);
    p.max_future_skew_ms = INT64_MAX - wall - 1;
    wm = weir_watermark_new(1, &p);
    assert_int_equal(weir_watermark_observe(wm, 0, INT64_MAX, wall), 1);
    assert_int_equal(weir_watermark_current(wm), WEIR_TS_MIN);
    weir_watermark_destroy(wm);
}

static void test_reset_partition(void **state)
{
    (void)state;
    weir_wm_params p = {.out_of_orderness_ms = 0};
    weir_watermark *wm = weir_watermark_new(2, &p);
    weir_watermark_observe(wm, 0, 1000, 0);
    weir_watermark_observe(wm, 1, 2000, 0);
    assert_int_equal(weir_watermark_current(wm), 999);
    /* Another source partition takes index 0: it starts at minus infinity, and the
     * operator's watermark holds instead of moving back or inheriting index 0's. */
    weir_watermark_reset_partition(wm, 0);
    assert_int_equal(weir_watermark_partition(wm, 0), WEIR_TS_MIN);
    assert_int_equal(weir_watermark_current(wm), 999);
    weir_watermark_observe(wm, 1, 5000, 0);
    assert_int_equal(weir_watermark_current(wm), 999); /* held by the reset index */
    weir_watermark_observe(wm, 0, 3000, 0);
    assert_int_equal(weir_watermark_current(wm), 2999);
    weir_watermark_destroy(wm);
}

static void test_idle_advance(void **state)
{
    (void)state;
    weir_wm_params p = {.out_of_orderness_ms = 0, .idle_timeout_ms = 1000, .idle_advance = 1};
    weir_watermark *wm = weir_watermark_new(1, &p);
    weir_watermark_observe(wm, 0, 5000, 100000);
    assert_int_equal(weir_watermark_current(wm), 4999);
    weir_watermark_tick(wm, 100500);
    assert_int_equal(weir_watermark_current(wm), 4999);
    weir_watermark_tick(wm, 103000); /* silent 3 s: event time moved 3 s */
    assert_int_equal(weir_watermark_current(wm), 7999);
    weir_watermark_destroy(wm);
    /* A watermark below the range (time - out-of-orderness - 1 < INT64_MIN) is minus
     * infinity, and stays so however long the partition is silent (it was minus infinity
     * plus the silence). */
    p.out_of_orderness_ms = INT64_MAX;
    wm = weir_watermark_new(1, &p);
    weir_watermark_observe(wm, 0, -5000, 100000);
    weir_watermark_tick(wm, 103000);
    assert_int_equal(weir_watermark_current(wm), WEIR_TS_MIN);
    weir_watermark_destroy(wm);
}

/* Feeds generated events through two operators, one snapshotted and restored midway;
 * both must emit the same records afterwards. */
typedef struct run {
    got *g;
} run;

static void feed_generated(weir_window_op *op, const weir_gen_event *ge, size_t from, size_t to)
{
    weir_event batch[256];
    char keys[256][16], users[256][16];
    size_t n = 0;
    for (size_t i = from; i < to; i++) {
        snprintf(keys[n], 16, "p%u", ge[i].product);
        snprintf(users[n], 16, "u%u", ge[i].user);
        batch[n] = ev(ge[i].ts, keys[n], users[n]);
        if (++n == 256 || i + 1 == to) {
            assert_int_equal(weir_window_op_process(op, batch, n, 0), WEIR_OK);
            n = 0;
        }
    }
}

/* 20,000 generated events over 20 products, 8 s of disorder, 5% late by up to 90 s. */
static weir_gen_event *disordered_stream(weir_gen_params *gp, uint32_t users, uint64_t seed)
{
    weir_gen_defaults(gp);
    gp->events = 20000;
    gp->products = 20;
    gp->users = users;
    gp->rate = 100;
    gp->disorder_ms = 8000;
    gp->late_fraction = 0.05;
    gp->late_max_ms = 90000;
    gp->seed = seed;
    weir_gen_event *ge = malloc(gp->events * sizeof *ge);
    assert_non_null(ge);
    weir_gen_events(gp, ge);
    return ge;
}

static void snapshot_round_trip(weir_emit_mode emit, int64_t lateness)
{
    weir_gen_params gp;
    weir_gen_event *ge = disordered_stream(&gp, 300, 1);
    got *a = calloc(1, sizeof *a), *b = calloc(1, sizeof *b);
    weir_window_op *one = make_op(lateness, emit, a);
    weir_window_op *two = make_op(lateness, emit, b);
    size_t half = gp.events / 2;
    feed_generated(one, ge, 0, half);
    feed_generated(two, ge, 0, half);
    uint8_t *snap;
    size_t len;
    assert_int_equal(weir_window_op_snapshot(two, &snap, &len), WEIR_OK);
    weir_window_op_destroy(two);
    int before = b->n;
    two = make_op(lateness, emit, b);
    char err[256];
    assert_int_equal(weir_window_op_restore(two, snap, len, err, sizeof err), WEIR_OK);
    assert_int_equal(weir_window_op_watermark(two), weir_window_op_watermark(one));
    /* A snapshot of the restored operator is byte-identical. */
    uint8_t *snap2;
    size_t len2;
    assert_int_equal(weir_window_op_snapshot(two, &snap2, &len2), WEIR_OK);
    assert_int_equal(len, len2);
    assert_memory_equal(snap, snap2, len);
    free(snap2);
    feed_generated(one, ge, half, gp.events);
    feed_generated(two, ge, half, gp.events);
    weir_window_op_finish(one);
    weir_window_op_finish(two);
    assert_true(a->n > before + 10);
    if (a->n != b->n)
        for (int i = 0; i < (a->n > b->n ? a->n : b->n); i++)
            if (i >= a->n || i >= b->n || strcmp(a->lines[i], b->lines[i])) {
                fprintf(stderr, "diff at %d (before %d): %s | %s\n", i, before,
                        i < a->n ? a->lines[i] : "-", i < b->n ? b->lines[i] : "-");
                break;
            }
    assert_int_equal(a->n, b->n);
    for (int i = 0; i < a->n; i++)
        assert_string_equal(a->lines[i], b->lines[i]);
    weir_window_stats sa, sb;
    weir_window_op_stats(one, &sa);
    weir_window_op_stats(two, &sb);
    assert_int_equal(sa.accepted, sb.accepted);
    assert_int_equal(sa.late_dropped, sb.late_dropped);
    assert_int_equal(sa.emissions, sb.emissions);
    assert_true(sa.late_dropped > 0);

    /* Every truncation and a corruption of each of a sample of bytes is refused, and a
     * refused restore leaves the operator as it was. */
    weir_window_op *three = make_op(lateness, emit, b);
    weir_event probe = ev(T0, "k", "u");
    for (size_t cut = 0; cut < len; cut += 1 + cut / 8)
        assert_int_not_equal(weir_window_op_restore(three, snap, cut, err, sizeof err), WEIR_OK);
    for (size_t i = 0; i < len; i += 1 + len / 200) {
        snap[i] ^= 0x5a;
        assert_int_not_equal(weir_window_op_restore(three, snap, len, err, sizeof err), WEIR_OK);
        snap[i] ^= 0x5a;
    }
    weir_window_stats s3;
    weir_window_op_stats(three, &s3);
    assert_int_equal(s3.live_windows, 0);
    assert_int_equal(weir_window_op_process(three, &probe, 1, 0), WEIR_OK);
    /* A snapshot from an operator of another meaning is refused with a reason. */
    weir_window_op *other = make_op(lateness + 1000, emit, b);
    assert_int_equal(weir_window_op_restore(other, snap, len, err, sizeof err),
                     WEIR_ERR_INVALID_ARG);
    assert_non_null(strstr(err, "window.allowed.lateness"));
    weir_window_op_destroy(other);
    weir_window_op_destroy(three);
    weir_window_op_destroy(one);
    weir_window_op_destroy(two);
    free(snap);
    free(ge);
    free(a);
    free(b);
}

static void test_snapshot_round_trip_updates(void **state)
{
    (void)state;
    snapshot_round_trip(WEIR_EMIT_UPDATES, 30000);
}

static void test_snapshot_round_trip_final(void **state)
{
    (void)state;
    snapshot_round_trip(WEIR_EMIT_FINAL, 20000);
}

static void test_exact_distinct_large(void **state)
{
    (void)state;
    /* One key with many users crosses from the inline set to the bitmap; duplicates
     * must not count twice on either side of that change. */
    got *g = calloc(1, sizeof *g);
    weir_window_op *op = make_op(0, WEIR_EMIT_UPDATES, g);
    char u[32];
    for (int round = 0; round < 3; round++)
        for (int i = 0; i < 5000; i++) {
            snprintf(u, sizeof u, "user-%d", i);
            weir_event e = ev(T0 + i, "k", u);
            assert_int_equal(weir_window_op_process(op, &e, 1, 0), WEIR_OK);
        }
    weir_window_op_finish(op);
    assert_int_equal(g->n, 1);
    assert_string_equal(g->lines[0], "k 0 60 u=5000 n=15000");
    weir_window_op_destroy(op);
    free(g);
}

/* Records that reach a window while it is hot go to its log and join their keys' sets in
 * batches (when the log is full, when the window fires, before a snapshot). Two windows
 * open at once, each taking records in turn, many times the log's smallest size, with a
 * snapshot taken and restored halfway: every count is what a plain set gives. */
static void test_logged_ids_across_flushes(void **state)
{
    (void)state;
    enum { KEYS = 5, USERS = 3000, ROUNDS = 4, N = 2 * ROUNDS * USERS };
    static weir_event evs[N];
    static char keys[KEYS][16], users[USERS][16];
    static unsigned char seen[2][KEYS][USERS];
    unsigned distinct[2][KEYS] = {{0}}, records[2][KEYS] = {{0}};
    for (int k = 0; k < KEYS; k++)
        snprintf(keys[k], sizeof keys[k], "k%d", k);
    for (int u = 0; u < USERS; u++)
        snprintf(users[u], sizeof users[u], "u%d", u);
    size_t n = 0;
    /* Runs of 500 records a window, in turn: a run in the hot window is logged (a
     * record of the other one goes the direct way and makes that one hot). */
    for (int r = 0; r < ROUNDS; r++)
        for (int run = 0; run < USERS; run += 500)
            for (int w = 0; w < 2; w++)
                for (int i = run; i < run + 500; i++) {
                    /* window 0: 50 s to 60 s, window 1: 60 s to 65 s (neither fires before
                     * the end: the watermark stays below 59.999 s) */
                    int k = (i + w) % KEYS, u = (i * 7 + r * w) % USERS;
                    evs[n++] = ev(T0 + (w ? 60000 : 50000) + i, keys[k], users[u]);
                    distinct[w][k] += !seen[w][k][u];
                    seen[w][k][u] = 1;
                    records[w][k]++;
                }
    assert_int_equal(n, N);
    got *a = calloc(1, sizeof *a), *b = calloc(1, sizeof *b);
    weir_window_op *one = make_op(0, WEIR_EMIT_UPDATES, a);
    assert_int_equal(weir_window_op_process(one, evs, N / 2, 0), WEIR_OK);
    uint8_t *snap;
    size_t len;
    assert_int_equal(weir_window_op_snapshot(one, &snap, &len), WEIR_OK);
    weir_window_op *two = make_op(0, WEIR_EMIT_UPDATES, b);
    char err[256];
    assert_int_equal(weir_window_op_restore(two, snap, len, err, sizeof err), WEIR_OK);
    free(snap);
    assert_int_equal(weir_window_op_process(one, evs + N / 2, N - N / 2, 0), WEIR_OK);
    assert_int_equal(weir_window_op_process(two, evs + N / 2, N - N / 2, 0), WEIR_OK);
    assert_int_equal(weir_window_op_finish(one), WEIR_OK);
    assert_int_equal(weir_window_op_finish(two), WEIR_OK);
    assert_int_equal(a->n, 2 * KEYS);
    assert_int_equal(b->n, 2 * KEYS);
    for (int w = 0; w < 2; w++)
        for (int k = 0; k < KEYS; k++) {
            /* keys appear in each window in first-seen order: k = w, w + 1, ... */
            int kk = (k + w) % KEYS;
            char want[160];
            snprintf(want, sizeof want, "%s %d %d u=%u n=%u", keys[kk], w * 60, w * 60 + 60,
                     distinct[w][kk], records[w][kk]);
            assert_string_equal(a->lines[w * KEYS + k], want);
            assert_string_equal(b->lines[w * KEYS + k], want);
        }
    weir_window_op_destroy(one);
    weir_window_op_destroy(two);
    free(a);
    free(b);
}

/* The stream of the version-2 fixture: generated, so only the snapshot is stored. */
static weir_gen_event *v2_stream(weir_gen_params *gp)
{
    return disordered_stream(gp, 3000, 2);
}

/* test/data/window-v2.snap was written by the build before snapshot version 3 (commit
 * 3774e17) after the first half of v2_stream, with L = 30 s in updates mode. This build
 * restores it and, fed the second half, fires what an operator that never stopped fires. */
static void test_restores_version_2(void **state)
{
    (void)state;
    weir_gen_params gp;
    weir_gen_event *ge = v2_stream(&gp);
    size_t half = gp.events / 2;
    got *a = calloc(1, sizeof *a), *b = calloc(1, sizeof *b);
    weir_window_op *one = make_op(30000, WEIR_EMIT_UPDATES, a);
    feed_generated(one, ge, 0, half);
    int before = a->n;
#ifdef WRITE_V2_FIXTURE
    uint8_t *snap;
    size_t len;
    assert_int_equal(weir_window_op_snapshot(one, &snap, &len), WEIR_OK);
    FILE *f = fopen(getenv("WRITE_V2_FIXTURE"), "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(snap, 1, len, f), len);
    fclose(f);
    free(snap);
#else
    char path[4096];
    const char *root = getenv("WEIR_ROOT");
    snprintf(path, sizeof path, "%s/test/data/window-v2.snap", root ? root : ".");
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    static uint8_t buf[1 << 20];
    size_t len = fread(buf, 1, sizeof buf, f);
    fclose(f);
    assert_true(len > 40 && len < sizeof buf);
    assert_int_equal(buf[8], 2); /* it is a version-2 snapshot */
    weir_window_op *two = make_op(30000, WEIR_EMIT_UPDATES, b);
    char err[256];
    assert_int_equal(weir_window_op_restore(two, buf, len, err, sizeof err), WEIR_OK);
    assert_int_equal(weir_window_op_watermark(two), weir_window_op_watermark(one));
    b->n = 0;
    int from = a->n;
    feed_generated(one, ge, half, gp.events);
    feed_generated(two, ge, half, gp.events);
    weir_window_op_finish(one);
    weir_window_op_finish(two);
    assert_true(a->n - from > 50);
    assert_int_equal(a->n - from, b->n);
    for (int i = 0; i < b->n; i++)
        assert_string_equal(a->lines[from + i], b->lines[i]);
    /* and it is written again as version 3, which restores to the same state */
    uint8_t *snap;
    size_t slen;
    assert_int_equal(weir_window_op_snapshot(two, &snap, &slen), WEIR_OK);
    assert_int_equal(snap[8], 3);
    free(snap);
    weir_window_op_destroy(two);
#endif
    (void)before;
    weir_window_op_destroy(one);
    free(ge);
    free(a);
    free(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_keys_with_one_hash),
        cmocka_unit_test(test_worked_example_updates_l0),
        cmocka_unit_test(test_worked_example_final_l0),
        cmocka_unit_test(test_worked_example_updates_l30),
        cmocka_unit_test(test_worked_example_final_l30),
        cmocka_unit_test(test_negative_times_and_keys),
        cmocka_unit_test(test_partition_out_of_range),
        cmocka_unit_test(test_watermark_partitions_idle_skew),
        cmocka_unit_test(test_future_skew_max),
        cmocka_unit_test(test_idle_advance),
        cmocka_unit_test(test_reset_partition),
        cmocka_unit_test(test_exact_distinct_large),
        cmocka_unit_test(test_logged_ids_across_flushes),
        cmocka_unit_test(test_snapshot_round_trip_updates),
        cmocka_unit_test(test_snapshot_round_trip_final),
        cmocka_unit_test(test_restores_version_2),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
