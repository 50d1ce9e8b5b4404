/*
 * The window operator against a brute-force reference of SEMANTICS.md, over thousands of
 * small random cases: several source partitions, partitions falling silent and becoming
 * idle by the wall clock (with and without idle advance), the future-skew cap, window
 * sizes from 1 ms to a minute, any out-of-orderness and lateness, both emit modes,
 * records handed over in batches of random size with wall-clock ticks between them,
 * rebalances, snapshots restored into a fresh operator at random points, short and long keys
 * (some cases with one hash for all), a global count, and exact or HLL distinct counting.
 * Every firing (in order), every late record, every counter and the watermark after every
 * batch must be the reference's.
 *
 * The reference keeps everything in plain arrays and recomputes what it needs from the
 * contract's words at every record: nothing of the operator's hot window, log, dictionary,
 * prefetching or incremental watermark is in it. The file job over one partition is
 * compared with the Python reference model the same way (test/it/reference_random.py).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <xxhash.h>

#include "weir/weir.h"

#define NKEYS    6
#define MAXUSERS 2048
#define MAXPARTS 4
#define MAXOUT   16384
#define NONE     INT64_MIN /* minus infinity; no record yet */

/* The keys' and users' texts. A case's keys are short (kept in the key table's entry) or
 * long (kept in the window's arena), and may all share one hash (the key table must then
 * tell them apart by their bytes). */
static char key_text[NKEYS][40], user_text[MAXUSERS][16];
static int one_hash, global;

/* ---- the reference ---- */

/* The reference computes in 128 bits, where nothing overflows, and calls a watermark below
 * the 64-bit range minus infinity (the operator saturates instead). */
typedef __int128 wide;

static int64_t wm_of(wide v)
{
    return v < INT64_MIN ? NONE : (int64_t)v;
}

typedef struct rwin {
    int64_t start;
    int fired;
    int nk;
    int order[NKEYS]; /* keys in first-seen order */
    uint64_t count[NKEYS];
    uint8_t users[NKEYS][MAXUSERS / 8];
} rwin;

typedef struct rpart {
    int64_t max, wm, last_wall;
    int idle;
} rpart;

/* A partition that has seen nothing: minus infinity, active, silent since no tick yet. */
static const rpart FRESH = {NONE, NONE, NONE, 0};

typedef struct lines {
    char (*s)[96];
    int n;
} lines;

typedef struct ref {
    int64_t W, ooo, L, idle_ms, skew_ms;
    int emit_final, idle_advance, nparts;
    rpart parts[MAXPARTS];
    int64_t wm;
    rwin *wins; /* sorted by start */
    int nwins, capwins;
    weir_window_stats st;
    lines out, late;
} ref;

static void put(lines *l, const char *fmt, ...)
{
    assert_true(l->n < MAXOUT);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(l->s[l->n++], sizeof l->s[0], fmt, ap);
    va_end(ap);
}

static int users_in(const uint8_t *set)
{
    int n = 0;
    for (int i = 0; i < MAXUSERS / 8; i++)
        n += __builtin_popcount(set[i]);
    return n;
}

static void ref_emit_key(ref *r, const rwin *w, int k, int late)
{
    put(&r->out, "%s %lld %lld u=%d n=%llu%s", key_text[k], (long long)w->start,
        (long long)(w->start + r->W), users_in(w->users[k]), (unsigned long long)w->count[k],
        late ? " late" : "");
    r->st.emissions++;
}

static void ref_emit_window(ref *r, const rwin *w)
{
    for (int i = 0; i < w->nk; i++)
        ref_emit_key(r, w, w->order[i], 0);
}

/* The operator's watermark: the minimum of wm_p over the partitions that are not idle; while
 * all are idle it holds, or with idle advance it is the minimum over those that have seen
 * records; it never moves back. */
static void ref_recompute(ref *r)
{
    int64_t m = INT64_MAX;
    int any = 0;
    for (int p = 0; p < r->nparts; p++)
        if (!r->parts[p].idle) {
            any = 1;
            m = r->parts[p].wm < m ? r->parts[p].wm : m;
        }
    if (!any && r->idle_advance)
        for (int p = 0; p < r->nparts; p++)
            if (r->parts[p].max != NONE) {
                any = 1;
                m = r->parts[p].wm < m ? r->parts[p].wm : m;
            }
    if (any && m > r->wm)
        r->wm = m;
}

/* Rules 4 and 5: fire what the watermark has passed, in order of end; free what is past
 * the allowed lateness (final mode emits then). */
static void ref_advance(ref *r)
{
    for (int i = 0; i < r->nwins; i++) {
        rwin *w = &r->wins[i];
        if (!w->fired && r->wm != NONE && w->start + r->W - 1 <= r->wm) {
            w->fired = 1;
            if (!r->emit_final)
                ref_emit_window(r, w);
        }
    }
    int kept = 0;
    for (int i = 0; i < r->nwins; i++) {
        rwin *w = &r->wins[i];
        int64_t last = w->start + r->W - 1;
        if (r->wm != NONE && (r->wm == INT64_MAX || (wide)last + r->L <= r->wm)) {
            if (r->emit_final)
                ref_emit_window(r, w);
            continue;
        }
        if (kept != i)
            memmove(&r->wins[kept], w, sizeof *w);
        kept++;
    }
    r->nwins = kept;
}

/* A record of partition p at wall time `wall`: the partition is active again; unless the
 * record is too far ahead of the wall clock, its time may raise wm_p. */
static void ref_observe(ref *r, int p, int64_t ts, int64_t wall)
{
    rpart *pt = &r->parts[p];
    pt->last_wall = wall;
    pt->idle = 0;
    if (r->skew_ms > 0 && ts > wall + r->skew_ms) {
        r->st.future_skewed++;
    } else if (ts > pt->max) {
        pt->max = ts;
        int64_t w = wm_of((wide)ts - r->ooo - 1);
        pt->wm = w > pt->wm ? w : pt->wm;
    }
    ref_recompute(r);
}

static rwin *ref_window(ref *r, int64_t start)
{
    int i = 0;
    while (i < r->nwins && r->wins[i].start < start)
        i++;
    if (i < r->nwins && r->wins[i].start == start)
        return &r->wins[i];
    if (r->nwins == r->capwins) {
        r->capwins = r->capwins ? 2 * r->capwins : 16;
        r->wins = realloc(r->wins, (size_t)r->capwins * sizeof *r->wins);
        assert_non_null(r->wins);
    }
    memmove(&r->wins[i + 1], &r->wins[i], (size_t)(r->nwins - i) * sizeof *r->wins);
    r->nwins++;
    memset(&r->wins[i], 0, sizeof r->wins[i]);
    r->wins[i].start = start;
    return &r->wins[i];
}

static void ref_record(ref *r, int p, int64_t ts, int key, int user, int64_t wall)
{
    int64_t before = r->wm;
    int64_t mod = ts % r->W, start = ts - (mod < 0 ? mod + r->W : mod), last = start + r->W - 1;
    if (before != NONE && (wide)last + r->L <= before) { /* rule 1 */
        r->st.late_dropped++;
        put(&r->late, "%s %s %lld", key_text[key], user_text[user], (long long)ts);
        ref_observe(r, p, ts, wall);
        ref_advance(r);
        return;
    }
    rwin *w = ref_window(r, start); /* rule 2 */
    int i = 0;
    while (i < w->nk && w->order[i] != key)
        i++;
    if (i == w->nk)
        w->order[w->nk++] = key;
    w->count[key]++;
    w->users[key][user / 8] |= (uint8_t)(1u << (user % 8));
    r->st.accepted++;
    if (before != NONE && last <= before) { /* rule 3 */
        r->st.late_accepted++;
        w->fired = 1;
        if (!r->emit_final) {
            r->st.late_firings++;
            ref_emit_key(r, w, key, 1);
        }
    }
    ref_observe(r, p, ts, wall);
    ref_advance(r); /* rule 4 */
}

/* Wall time passes with no records: partitions silent for the idle timeout are idle (their
 * silence counted from their last record, or from the first tick), and with idle advance
 * their watermark moves on by the wall time that passed. */
static void ref_tick(ref *r, int64_t wall)
{
    if (r->idle_ms <= 0)
        return;
    for (int p = 0; p < r->nparts; p++) {
        rpart *pt = &r->parts[p];
        if (pt->last_wall == NONE)
            pt->last_wall = wall;
        if (wall - pt->last_wall < r->idle_ms)
            continue;
        pt->idle = 1;
        if (r->idle_advance && pt->max != NONE) {
            wide base = (wide)pt->max - r->ooo - 1; /* minus infinity stays so */
            int64_t w = base < INT64_MIN ? NONE : wm_of(base + (wall - pt->last_wall));
            pt->wm = w > pt->wm ? w : pt->wm;
        }
    }
    ref_recompute(r);
    ref_advance(r);
}

/* A rebalance: partitions past n no longer count, new ones start at minus infinity. */
static void ref_set_partitions(ref *r, int n)
{
    for (int p = r->nparts; p < n; p++)
        r->parts[p] = FRESH;
    r->nparts = n;
    ref_recompute(r);
    ref_advance(r);
}

/* Another source partition takes index p: it starts afresh; the watermark holds. */
static void ref_reset_partition(ref *r, int p)
{
    r->parts[p] = FRESH;
    ref_recompute(r);
}

/* ---- the operator under test ---- */

typedef struct sut {
    lines out, late;
} sut;

static int on_firing(void *opaque, const weir_firing *f)
{
    sut *s = opaque;
    assert_int_equal(f->n_values, 2);
    /* values: unique_user_count, then event_count (weir_window_params_from_conf) */
    put(&s->out, "%.*s %lld %lld u=%llu n=%llu%s", (int)f->key.len, f->key.ptr,
        (long long)f->window_start, (long long)f->window_end, (unsigned long long)f->values[0],
        (unsigned long long)f->values[1], f->late ? " late" : "");
    return 0;
}

static void on_late(void *opaque, const weir_event *e)
{
    sut *s = opaque;
    put(&s->late, "%.*s %.*s %lld", (int)e->key.len, e->key.ptr, (int)e->user.len, e->user.ptr,
        (long long)e->ts);
}

static weir_window_op *sut_new(const weir_window_params *p, sut *s)
{
    char err[256];
    weir_window_op *op = weir_window_op_new(p, on_firing, s, err, sizeof err);
    if (!op)
        fail_msg("weir_window_op_new: %s", err);
    weir_window_op_set_late_output(op, on_late, s);
    return op;
}

/* ---- random cases ---- */

static uint64_t rng_state;

static uint64_t rnd(void)
{
    /* splitmix64 */
    uint64_t z = (rng_state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* Uniform in [lo, hi]. */
static int64_t between(int64_t lo, int64_t hi)
{
    return lo + (int64_t)(rnd() % (uint64_t)(hi - lo + 1));
}

static int64_t pick(const int64_t *v, size_t n)
{
    return v[rnd() % n];
}

typedef struct rec {
    int part, key, user;
    int64_t ts;
} rec;

static weir_event to_event(const rec *x)
{
    weir_event e;
    memset(&e, 0, sizeof e);
    e.ts = x->ts;
    e.partition = x->part;
    e.key = (weir_slice){key_text[x->key], strlen(key_text[x->key])};
    e.user = (weir_slice){user_text[x->user], strlen(user_text[x->user])};
    e.key_hash = global ? 0 : one_hash ? 0x5eed : XXH3_64bits(e.key.ptr, e.key.len);
    XXH128_hash_t h = XXH3_128bits(e.user.ptr, e.user.len);
    e.user_fp[0] = h.low64;
    e.user_fp[1] = h.high64;
    return e;
}

static void describe(char *buf, size_t len, uint64_t seed, const ref *r)
{
    snprintf(buf, len,
             "case seed %llu: W=%lld ooo=%lld L=%lld emit=%s partitions=%d idle=%lld%s skew=%lld",
             (unsigned long long)seed, (long long)r->W, (long long)r->ooo, (long long)r->L,
             r->emit_final ? "final" : "updates", r->nparts, (long long)r->idle_ms,
             r->idle_advance ? " (advance)" : "", (long long)r->skew_ms);
}

/* With HLL the distinct count is an estimate: the rest of a firing must be equal, the count
 * within 2% (and one) of the exact one. Returns 1 when the lines agree so. */
static int same_but_estimate(const char *w, const char *g)
{
    const char *wu = strstr(w, " u="), *gu = strstr(g, " u=");
    if (!wu || !gu || wu - w != gu - g || strncmp(w, g, (size_t)(wu - w)) != 0)
        return 0;
    char *we, *ge;
    unsigned long long a = strtoull(wu + 3, &we, 10), b = strtoull(gu + 3, &ge, 10);
    unsigned long long d = a > b ? a - b : b - a;
    return strcmp(we, ge) == 0 && d <= 1 + a / 50;
}

static void compare(const char *what, const lines *want, const lines *got, const char *desc,
                    int estimates)
{
    for (int i = 0; i < want->n || i < got->n; i++) {
        const char *w = i < want->n ? want->s[i] : "(none)";
        const char *g = i < got->n ? got->s[i] : "(none)";
        if (strcmp(w, g) != 0 && !(estimates && same_but_estimate(w, g)))
            fail_msg("%s\n  %s %d of %d/%d: reference \"%s\", operator \"%s\"", desc, what, i,
                     want->n, got->n, w, g);
    }
}

typedef struct totals {
    uint64_t cases, records, late_dropped, late_firings, future_skewed, idle_ticks, restores,
        rebalances, hll_cases, emissions;
} totals;

/* One random case; returns with everything compared. */
static void run_case(uint64_t seed, totals *t)
{
    rng_state = seed;
    static const int64_t sizes[] = {1, 5, 10, 100, 1000, 60000};
    ref *r = calloc(1, sizeof *r);
    sut *s = calloc(1, sizeof *s);
    assert_non_null(r);
    assert_non_null(s);
    r->out.s = malloc(MAXOUT * sizeof *r->out.s);
    r->late.s = malloc(MAXOUT * sizeof *r->late.s);
    s->out.s = malloc(MAXOUT * sizeof *s->out.s);
    s->late.s = malloc(MAXOUT * sizeof *s->late.s);
    r->W = pick(sizes, sizeof sizes / sizeof *sizes);
    const int64_t ooos[] = {0, 1, r->W / 2, r->W, 3 * r->W};
    const int64_t lates[] = {0, 0, 1, r->W, 3 * r->W};
    r->ooo = pick(ooos, 5);
    r->L = pick(lates, 5);
    if (rnd() % 25 == 0) {
        /* the largest settings: the operator's arithmetic must saturate, not overflow */
        const int64_t big = INT64_MAX, huge = INT64_C(1) << 62;
        const int64_t ext[][3] = {
            {big, 0, 0}, {60000, big, 0}, {60000, 1000, big}, {big, big, big}, {huge, huge, huge}};
        const int64_t *e = ext[rnd() % 5];
        r->W = e[0], r->ooo = e[1], r->L = e[2];
    }
    /* The stream itself stays within some 30 years, whatever the settings. */
    const int64_t cap = INT64_C(1000000000000);
    const int64_t Wc = r->W < cap ? r->W : cap, oooc = r->ooo < cap ? r->ooo : cap,
                  Lc = r->L < cap ? r->L : cap;
    r->emit_final = (int)(rnd() % 2);
    r->nparts = (int)between(1, MAXPARTS);
    const int64_t idles[] = {0, 0, 50, 200};
    r->idle_ms = pick(idles, 4);
    r->idle_advance = r->idle_ms && rnd() % 2;
    const int64_t skews[] = {0, 0, 100, 1000};
    r->skew_ms = pick(skews, 4);
    /* A restore starts partitions afresh (active, their silence counted from the next
     * tick), which the reference does not model: snapshots only where idleness is off. */
    int snapshots = r->idle_ms == 0;
    int users = rnd() % 4 == 0 ? MAXUSERS : (int)between(1, 12);
    int n = (int)between(1, users == MAXUSERS ? 4000 : 500);
    r->wm = NONE;
    for (int p = 0; p < r->nparts; p++)
        r->parts[p] = FRESH;
    int long_keys = rnd() % 3 == 0;
    one_hash = rnd() % 6 == 0;
    global = rnd() % 10 == 0; /* one count over everything: one empty key, hash 0 */
    for (int k = 0; k < NKEYS; k++)
        snprintf(key_text[k], sizeof key_text[k],
                 long_keys ? "a-product-with-a-long-name-%d" : "k%d", k);
    if (global)
        key_text[0][0] = 0;
    const uint64_t nkeys = global ? 1 : NKEYS;
    char desc[256];
    describe(desc, sizeof desc, seed, r);
    if (long_keys)
        strncat(desc, " long-keys", sizeof desc - strlen(desc) - 1);
    if (one_hash)
        strncat(desc, " one-hash", sizeof desc - strlen(desc) - 1);
    if (global)
        strncat(desc, " global", sizeof desc - strlen(desc) - 1);

    /* A case in eight counts distinct users with HyperLogLog: the same windows, firings and
     * counters, the distinct counts estimated. */
    int hll = rnd() % 8 == 0;
    weir_conf *conf = weir_conf_new();
    static int hll_p;
    weir_window_params p;
    if (hll) {
        assert_int_equal(weir_conf_set(conf, "distinct.mode", "hll", NULL, 0), WEIR_OK);
        strncat(desc, " distinct=hll", sizeof desc - strlen(desc) - 1);
    }
    assert_int_equal(weir_window_params_from_conf(conf, &p, &hll_p, NULL, 0), WEIR_OK);
    weir_conf_destroy(conf);
    p.size_ms = r->W;
    p.allowed_lateness_ms = r->L;
    p.emit = r->emit_final ? WEIR_EMIT_FINAL : WEIR_EMIT_UPDATES;
    p.partitions = r->nparts;
    p.global = global;
    p.wm = (weir_wm_params){.out_of_orderness_ms = r->ooo,
                            .idle_timeout_ms = r->idle_ms,
                            .idle_advance = r->idle_advance,
                            .max_future_skew_ms = r->skew_ms};
    weir_window_op *op = sut_new(&p, s);

    /* Event time runs near the wall clock (so that the skew cap means something). The
     * partitions share the stream's clock g, each a little behind it by its own lag (the
     * slowest holds the watermark back, all within the out-of-orderness), may fall silent
     * for a while (and become idle), and the stream jumps ahead at times; single records
     * come far behind (late, or within the lateness) or from a clock ahead (past the skew
     * cap when there is one). */
    int64_t wall = 1000000, g = wall + between(-2 * Wc, 2 * Wc), lag[MAXPARTS];
    int silent[MAXPARTS] = {0};
    int64_t spread = Wc > oooc ? Wc : oooc + 1;
    rec *batch = malloc(64 * sizeof *batch);
    weir_event *evs = malloc(64 * sizeof *evs);
    int done = 0;
    while (done < n) {
        int m = (int)between(1, 64), k = 0;
        if (m > n - done)
            m = n - done;
        for (int q = 0; q < r->nparts; q++) {
            if (rnd() % 16 == 0)
                silent[q] = !silent[q];
            lag[q] = between(0, oooc / 2);
        }
        while (k < m) {
            int q = (int)(rnd() % (uint64_t)r->nparts);
            if (silent[q] && rnd() % 8)
                continue;
            int64_t ts, roll = (int64_t)(rnd() % 100);
            if (roll < 6)
                ts = g - between(0, 3 * spread + Lc); /* behind, maybe late */
            else if (roll < 9)
                ts = g = g + between(spread, 6 * spread); /* the stream jumps */
            else if (roll < 10 && r->skew_ms > 0)
                ts = g + between(r->skew_ms + 51, r->skew_ms + 3 * spread + 100); /* clock */
            else if (roll < 10)
                ts = g + between(1, 2 * spread); /* one record ahead of the others */
            else
                ts = (g += between(0, Wc / 30 + 1)) - lag[q] - between(0, oooc / 2);
            batch[k] = (rec){q, (int)(rnd() % nkeys), (int)(rnd() % (uint64_t)users), ts};
            k++;
        }
        if (r->skew_ms > 0) {
            /* the wall clock keeps up with the stream's (not with the wrong clock's) */
            int64_t near = g - between(0, 50);
            wall = near > wall ? near : wall;
        }
        for (int i = 0; i < m; i++) {
            ref_record(r, batch[i].part, batch[i].ts, batch[i].key, batch[i].user, wall);
            evs[i] = to_event(&batch[i]);
        }
        assert_int_equal(weir_window_op_process(op, evs, (size_t)m, wall), WEIR_OK);
        done += m;
        wall += between(0, 20);
        if (rnd() % 3 == 0) {
            wall += rnd() % 4 == 0 ? between(50, 400) : between(0, 30);
            ref_tick(r, wall);
            assert_int_equal(weir_window_op_tick(op, wall), WEIR_OK);
            t->idle_ticks += r->idle_ms > 0;
        }
        if (rnd() % 20 == 0) {
            int np = (int)between(1, MAXPARTS);
            ref_set_partitions(r, np);
            assert_int_equal(weir_window_op_set_partitions(op, np), WEIR_OK);
            p.partitions = np;
            t->rebalances++;
        } else if (rnd() % 30 == 0) {
            int q = (int)(rnd() % (uint64_t)r->nparts);
            ref_reset_partition(r, q);
            assert_int_equal(weir_window_op_reset_partition(op, q), WEIR_OK);
            t->rebalances++;
        }
        if (snapshots && rnd() % 10 == 0) {
            uint8_t *buf;
            size_t len;
            char err[256];
            assert_int_equal(weir_window_op_snapshot(op, &buf, &len), WEIR_OK);
            weir_window_op *fresh = sut_new(&p, s);
            if (weir_window_op_restore(fresh, buf, len, err, sizeof err) != WEIR_OK)
                fail_msg("%s: restore: %s", desc, err);
            free(buf);
            weir_window_op_destroy(op);
            op = fresh;
            t->restores++;
        }
        if (weir_window_op_watermark(op) != r->wm)
            fail_msg("%s\n  watermark after %d records: reference %lld, operator %lld", desc, done,
                     (long long)r->wm, (long long)weir_window_op_watermark(op));
    }
    r->wm = INT64_MAX; /* rule 6: the end of input */
    ref_advance(r);
    assert_int_equal(weir_window_op_finish(op), WEIR_OK);

    compare("firing", &r->out, &s->out, desc, hll);
    compare("late record", &r->late, &s->late, desc, 0);
    weir_window_stats st;
    weir_window_op_stats(op, &st);
    if (st.accepted != r->st.accepted || st.late_dropped != r->st.late_dropped ||
        st.late_accepted != r->st.late_accepted || st.late_firings != r->st.late_firings ||
        st.future_skewed != r->st.future_skewed || st.emissions != r->st.emissions)
        fail_msg("%s\n  counters: operator accepted %llu late_dropped %llu late_accepted %llu "
                 "late_firings %llu future_skewed %llu emissions %llu; reference %llu %llu %llu "
                 "%llu %llu %llu",
                 desc, (unsigned long long)st.accepted, (unsigned long long)st.late_dropped,
                 (unsigned long long)st.late_accepted, (unsigned long long)st.late_firings,
                 (unsigned long long)st.future_skewed, (unsigned long long)st.emissions,
                 (unsigned long long)r->st.accepted, (unsigned long long)r->st.late_dropped,
                 (unsigned long long)r->st.late_accepted, (unsigned long long)r->st.late_firings,
                 (unsigned long long)r->st.future_skewed, (unsigned long long)r->st.emissions);
    t->cases++;
    t->hll_cases += (uint64_t)hll;
    t->records += (uint64_t)n;
    t->late_dropped += r->st.late_dropped;
    t->late_firings += r->st.late_firings;
    t->future_skewed += r->st.future_skewed;
    t->emissions += r->st.emissions;
    weir_window_op_destroy(op);
    free(batch);
    free(evs);
    free(r->wins);
    free(r->out.s);
    free(r->late.s);
    free(s->out.s);
    free(s->late.s);
    free(r);
    free(s);
}

static void test_random_cases(void **state)
{
    (void)state;
    for (int u = 0; u < MAXUSERS; u++)
        snprintf(user_text[u], sizeof user_text[u], "u%d", u);
    const char *env = getenv("WEIR_WINDOW_CASES");
    uint64_t cases = env ? strtoull(env, NULL, 10) : 3000;
    const char *first = getenv("WEIR_WINDOW_SEED");
    uint64_t seed0 = first ? strtoull(first, NULL, 10) : 1;
    totals t = {0};
    for (uint64_t c = 0; c < cases; c++)
        run_case(seed0 + c, &t);
    printf("%llu cases (%llu with HLL), %llu records: %llu late dropped, %llu late firings, "
           "%llu future-skewed, %llu ticks with idleness on, %llu restores, %llu partition "
           "changes, %llu firings\n",
           (unsigned long long)t.cases, (unsigned long long)t.hll_cases,
           (unsigned long long)t.records, (unsigned long long)t.late_dropped,
           (unsigned long long)t.late_firings, (unsigned long long)t.future_skewed,
           (unsigned long long)t.idle_ticks, (unsigned long long)t.restores,
           (unsigned long long)t.rebalances, (unsigned long long)t.emissions);
    /* The cases must reach what they are for. */
    if (cases >= 100) {
        assert_true(t.late_dropped > 0);
        assert_true(t.late_firings > 0);
        assert_true(t.future_skewed > 0);
        assert_true(t.idle_ticks > 0);
        assert_true(t.restores > 0);
        assert_true(t.rebalances > 0);
        assert_true(t.hll_cases > 0);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_random_cases),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
