/* Scenarios of the window operator over pre-decoded events: throughput (operator-exact,
 * operator-hll) and state bytes per live (product, user, window) (state-memory). */
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"
#include "weir/job.h"
#include "weir/weir.h"

#define BATCH 4096

/* ---------------------------------------------------------------- distinct triples */

static uint64_t mix64(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static int64_t window_index(int64_t ts, int64_t size)
{
    return ts >= 0 ? ts / size : -((-ts + size - 1) / size);
}

/* An identity of (window, product, user): packed when it fits, else a 64-bit mix whose
 * collisions (n^2 / 2^65) are negligible at these sizes. Never 0. */
static uint64_t triple_id(const weir_gen_event *e, int64_t size_ms)
{
    uint64_t w = (uint64_t)window_index(e->ts, size_ms);
    uint64_t id =
        e->product < (1u << 14) && e->user < (1u << 20) && w < (1ull << 29)
            ? (w << 34) | ((uint64_t)e->product << 20) | e->user
            : mix64(w * 0x9E3779B97F4A7C15ull ^ mix64(((uint64_t)e->product << 32) | e->user));
    return id ? id : 1;
}

typedef struct idset {
    uint64_t *slots;
    size_t mask, count;
} idset;

static int idset_init(idset *s, size_t expected)
{
    size_t cap = 16;
    while (cap < expected * 2)
        cap *= 2;
    s->slots = calloc(cap, sizeof(uint64_t));
    s->mask = cap - 1;
    s->count = 0;
    return s->slots ? 0 : -1;
}

/* Returns 1 when `id` is new. The set must have room (sized for every insert). */
static int idset_add(idset *s, uint64_t id)
{
    size_t i = mix64(id) & s->mask;
    while (s->slots[i]) {
        if (s->slots[i] == id)
            return 0;
        i = (i + 1) & s->mask;
    }
    s->slots[i] = id;
    s->count++;
    return 1;
}

/* Distinct (product, user, window) per window of the input, oldest window first. */
typedef struct triple_counts {
    int64_t first_window; /* window index of counts[0] */
    size_t n_windows;
    size_t *counts;
    size_t total;
} triple_counts;

static int count_triples(const weir_gen_event *g, size_t n, int64_t size_ms, triple_counts *tc)
{
    memset(tc, 0, sizeof *tc);
    if (!n)
        return 0;
    int64_t lo = INT64_MAX, hi = INT64_MIN;
    for (size_t i = 0; i < n; i++) {
        int64_t w = window_index(g[i].ts, size_ms);
        lo = w < lo ? w : lo;
        hi = w > hi ? w : hi;
    }
    idset s;
    tc->first_window = lo;
    tc->n_windows = (size_t)(hi - lo + 1);
    tc->counts = calloc(tc->n_windows, sizeof(size_t));
    if (!tc->counts || idset_init(&s, n) != 0) {
        free(tc->counts);
        return -1;
    }
    for (size_t i = 0; i < n; i++)
        if (idset_add(&s, triple_id(&g[i], size_ms)))
            tc->counts[window_index(g[i].ts, size_ms) - lo]++;
    free(s.slots);
    tc->total = s.count;
    return 0;
}

/* Live pairs at the end of input: those of the `live_windows` newest non-empty windows
 * (windows are freed oldest first). */
static size_t live_triples(const triple_counts *tc, uint64_t live_windows)
{
    size_t sum = 0;
    for (size_t i = tc->n_windows; i-- > 0 && live_windows;)
        if (tc->counts[i]) {
            sum += tc->counts[i];
            live_windows--;
        }
    return sum;
}

/* ---------------------------------------------------------------- one operator run */

typedef struct op_arm {
    const bench_events *ev;
    int hll;
    int hll_precision;
    uint64_t firings, value_sum;
    weir_window_stats at_end; /* counters at the end of input, before finish */
    weir_window_stats after;  /* after finish */
} op_arm;

static int count_firing(void *opaque, const weir_firing *f)
{
    op_arm *a = opaque;
    a->firings++;
    a->value_sum += f->values[0];
    return 0;
}

static int64_t window_size_ms(void)
{
    weir_conf *conf = weir_conf_new();
    int64_t s = conf ? weir_conf_get_duration_ms(conf, "window.size") : 60000;
    weir_conf_destroy(conf);
    return s;
}

/* The operator of the unique-users job's default configuration (1 minute windows, 10 s
 * out-of-orderness, updates), with exact or HLL distinct. */
static weir_window_op *make_op(op_arm *a, char *err, size_t errlen)
{
    weir_conf *conf = weir_conf_new();
    if (!conf)
        return NULL;
    weir_window_params p;
    weir_window_op *op = NULL;
    if ((!a->hll || weir_conf_set(conf, "distinct.mode", "hll", err, errlen) == WEIR_OK) &&
        weir_window_params_from_conf(conf, &p, &a->hll_precision, err, errlen) == WEIR_OK)
        op = weir_window_op_new(&p, count_firing, a, err, errlen);
    weir_conf_destroy(conf);
    return op;
}

static double op_run(void *opaque, uint64_t *events, char *err, size_t errlen)
{
    op_arm *a = opaque;
    weir_window_op *op = make_op(a, err, errlen);
    if (!op)
        return -1;
    a->firings = a->value_sum = 0;
    const weir_event *ev = a->ev->ev;
    size_t n = a->ev->n;
    int64_t wall = weir_wall_ms();
    weir_err rc = WEIR_OK;
    double t0 = bench_now();
    for (size_t i = 0; i < n && rc == WEIR_OK; i += BATCH)
        rc = weir_window_op_process(op, ev + i, n - i < BATCH ? n - i : BATCH, wall);
    double t1 = bench_now();
    /* The counters walk every entry: read them with the clock stopped. */
    weir_window_op_stats(op, &a->at_end);
    double t2 = bench_now();
    if (rc == WEIR_OK)
        rc = weir_window_op_finish(op);
    double t3 = bench_now();
    weir_window_op_stats(op, &a->after);
    weir_window_op_destroy(op);
    if (rc != WEIR_OK) {
        snprintf(err, errlen, "operator: %s", weir_err_str(rc));
        return -1;
    }
    *events = n;
    return (t1 - t0) + (t3 - t2);
}

/* ---------------------------------------------------------------- operator-exact / -hll */

/* The scenario's arms: operator-exact runs operator-hll and the scan beside it, for
 * ratios of one process; operator-hll the scan; operator-exact-steady (a run of several
 * windows) operator-exact over the first COLD_EVENTS of the same events, one cold window
 * and a bit, as operator-exact runs. */
enum { SCENARIO_EXACT, SCENARIO_HLL, SCENARIO_STEADY };

#define COLD_EVENTS 8000000

static int operator_scenario(bench_ctx *ctx, int which)
{
    const int hll = which == SCENARIO_HLL;
    weir_gen_params p;
    bench_gen_params(ctx, ctx->events, &p);
    /* The JSON form only feeds the scan arm, which --main-only does not run. */
    const char *path = ctx->main_only || which == SCENARIO_STEADY ? "" : bench_json_file(ctx, &p);
    if (!path)
        return -1;
    char file[512];
    snprintf(file, sizeof file, "%s", path);

    double t0 = bench_now();
    weir_gen_event *g = malloc(ctx->events * sizeof *g);
    if (!g)
        return bench_fail(ctx, "out of memory for %llu events", (unsigned long long)ctx->events);
    weir_gen_events(&p, g);
    int64_t size_ms = window_size_ms();
    triple_counts tc;
    bench_events ev;
    int brc = count_triples(g, ctx->events, size_ms, &tc);
    if (brc == 0 && (brc = bench_events_from_gen(&p, g, ctx->events, &ev)) != 0)
        free(tc.counts);
    free(g);
    if (brc != 0)
        return bench_fail(ctx, "out of memory preparing events");
    size_t triples = tc.total;
    bench_say("  prepared %llu pre-decoded events (%zu distinct (product, user, window)) in "
              "%.2f s (not timed)",
              (unsigned long long)ev.n, triples, bench_now() - t0);

    bench_events cold = ev; /* a view of the first events: not freed on its own */
    cold.n = ev.n < COLD_EVENTS ? ev.n : COLD_EVENTS;
    /* The main arm and the one beside it: the other distinct mode, or the cold start. */
    static const char *const names[][2] = {{"operator-exact", "operator-hll"},
                                           {"operator-hll", "operator-exact"},
                                           {"operator-exact-steady", "operator-exact (cold)"}};
    op_arm mine = {&ev, hll, 0, 0, 0, {0}, {0}};
    op_arm other = mine;
    if (which == SCENARIO_STEADY)
        other.ev = &cold;
    else
        other.hll = !hll;
    bench_arm arms[3] = {
        BENCH_ARM(names[which][0], op_run, &mine),
        BENCH_ARM(names[which][1], op_run, &other),
        BENCH_ARM("scan", bench_scan_run, file),
    };
    /* operator-exact also runs hll interleaved, for the exact/hll ratio of one process;
     * operator-hll does not repeat that work. */
    int n_arms = which == SCENARIO_EXACT ? 3 : 2;
    if (hll)
        arms[1] = arms[2];
    int rc = bench_measure(ctx, arms, n_arms);
    if (rc == 0) {
        bench_report_main(ctx, &arms[0]);
        if (which == SCENARIO_STEADY && !ctx->main_only) {
            bench_stats c = bench_arm_stats(&arms[1]), m = bench_arm_stats(&arms[0]);
            bench_json_num(&ctx->out, "cold_events_per_sec_median", c.median, 0);
            bench_json_num(&ctx->out, "steady_over_cold", m.median / c.median, 3);
            bench_say("  steady/cold = %.2f (same process, interleaved runs)", m.median / c.median);
        } else if (which != SCENARIO_STEADY) {
            bench_report_vs_scan(ctx, &arms[0], &arms[n_arms - 1]);
        }
        bench_stats s = bench_arm_stats(&arms[0]);
        const weir_window_stats *st = &mine.at_end;
        /* Windows fired and freed while the input ran no longer hold state: divide by the
         * pairs of the windows still alive at the end of input. */
        size_t live = live_triples(&tc, st->live_windows);
        bench_json_num(&ctx->out, "ns_per_event", 1e9 / s.median, 1);
        bench_json_u64(&ctx->out, "state_bytes", st->state_bytes);
        bench_json_u64(&ctx->out, "distinct_pairs", triples);
        bench_json_u64(&ctx->out, "live_pairs", live);
        bench_json_num(&ctx->out, "state_bytes_per_live_pair",
                       (double)st->state_bytes / (double)live, 2);
        bench_json_u64(&ctx->out, "live_keys", st->live_keys);
        bench_json_u64(&ctx->out, "live_windows", st->live_windows);
        bench_json_u64(&ctx->out, "accepted", mine.after.accepted);
        bench_json_u64(&ctx->out, "late_dropped", mine.after.late_dropped);
        bench_json_u64(&ctx->out, "firings", mine.firings);
        bench_json_u64(&ctx->out, "batch", BATCH);
        bench_say("  state at end of input: %llu bytes for %zu live (product, user, window) = "
                  "%.2f bytes each; %llu firings",
                  (unsigned long long)st->state_bytes, live, (double)st->state_bytes / (double)live,
                  (unsigned long long)mine.firings);
        if (which == SCENARIO_EXACT) {
            bench_stats h = bench_arm_stats(&arms[1]);
            bench_json_num(&ctx->out, "hll_events_per_sec_median", h.median, 0);
            bench_json_num(&ctx->out, "exact_over_hll", s.median / h.median, 3);
            bench_say("  exact/hll = %.2f (same process, interleaved runs)", s.median / h.median);
        }
        if (mine.after.accepted + mine.after.late_dropped != ev.n)
            rc = bench_fail(ctx, "operator counters do not add up to the events");
    }
    bench_events_free(&ev);
    free(tc.counts);
    return rc;
}

int bench_operator_exact(bench_ctx *ctx)
{
    return operator_scenario(ctx, SCENARIO_EXACT);
}

int bench_operator_hll(bench_ctx *ctx)
{
    return operator_scenario(ctx, SCENARIO_HLL);
}

int bench_operator_exact_steady(bench_ctx *ctx)
{
    return operator_scenario(ctx, SCENARIO_STEADY);
}

/* ---------------------------------------------------------------- state-memory */

typedef struct mem_point {
    int hll;
    uint64_t pairs;
    uint64_t state_bytes, live_keys, accepted;
    uint64_t rss_growth, maxrss_growth;
    double secs;
    int ok;
} mem_point;

/* Exactly `pairs` events, each a new (product, user, window), in generator order. */
static int unique_events(const weir_gen_params *base, uint64_t pairs, int64_t size_ms,
                         weir_gen_event **out)
{
    weir_gen_params p = *base;
    for (uint64_t want = pairs + pairs / 8 + 1024;; want *= 2) {
        p.events = want;
        weir_gen_event *g = malloc(want * sizeof *g);
        idset s;
        if (!g || idset_init(&s, want) != 0) {
            free(g);
            return -1;
        }
        weir_gen_events(&p, g);
        size_t k = 0;
        for (size_t i = 0; i < want && k < pairs; i++)
            if (idset_add(&s, triple_id(&g[i], size_ms)))
                g[k++] = g[i];
        free(s.slots);
        if (k == pairs) {
            *out = g;
            return 0;
        }
        free(g);
    }
}

/* Runs in a forked child so that its RSS growth is its own. */
static void measure_point(const weir_gen_params *base, int64_t size_ms, mem_point *pt)
{
    weir_gen_event *g;
    if (unique_events(base, pt->pairs, size_ms, &g) != 0)
        return;
    bench_events ev;
    weir_gen_params p = *base;
    p.events = pt->pairs;
    int brc = bench_events_from_gen(&p, g, pt->pairs, &ev);
    free(g);
    if (brc != 0)
        return;
    /* Return freed memory to the system and reset the peak to the current RSS, so that
     * both growths below belong to the operator alone. */
    malloc_trim(0);
    FILE *cr = fopen("/proc/self/clear_refs", "w");
    if (cr) {
        fputs("5", cr);
        fclose(cr);
    }
    uint64_t rss0 = bench_current_rss(), max0 = bench_peak_rss();
    op_arm a = {&ev, pt->hll, 0, 0, 0, {0}, {0}};
    char err[256];
    weir_window_op *op = make_op(&a, err, sizeof err);
    if (!op)
        return;
    int64_t wall = weir_wall_ms();
    weir_err rc = WEIR_OK;
    double t0 = bench_now();
    for (size_t i = 0; i < ev.n && rc == WEIR_OK; i += BATCH)
        rc = weir_window_op_process(op, ev.ev + i, ev.n - i < BATCH ? ev.n - i : BATCH, wall);
    pt->secs = bench_now() - t0;
    weir_window_stats st;
    weir_window_op_stats(op, &st);
    uint64_t rss1 = bench_current_rss(), max1 = bench_peak_rss();
    pt->state_bytes = st.state_bytes;
    pt->live_keys = st.live_keys;
    pt->accepted = st.accepted;
    pt->rss_growth = rss1 > rss0 ? rss1 - rss0 : 0;
    pt->maxrss_growth = max1 > max0 ? max1 - max0 : 0;
    pt->ok = rc == WEIR_OK && st.late_dropped == 0;
    weir_window_op_destroy(op);
    bench_events_free(&ev);
}

int bench_state_memory(bench_ctx *ctx)
{
    static const uint64_t SIZES[] = {10000, 100000, 1000000};
    uint64_t sizes[4];
    int n_sizes = 0;
    for (int i = 0; i < 3; i++)
        if (SIZES[i] <= ctx->events)
            sizes[n_sizes++] = SIZES[i];
    if (!n_sizes || (ctx->events_given && sizes[n_sizes - 1] != ctx->events))
        sizes[n_sizes++] = ctx->events;
    weir_gen_params base;
    bench_gen_params(ctx, ctx->events, &base);
    int64_t size_ms = window_size_ms();

    mem_point pts[8];
    int n_pts = 0;
    char *arr = NULL;
    size_t arr_len = 0;
    FILE *items = open_memstream(&arr, &arr_len);
    if (!items)
        return bench_fail(ctx, "out of memory");
    fputc('[', items);
    for (int mode = 0; mode < 2; mode++)
        for (int i = 0; i < n_sizes; i++) {
            mem_point *pt = &pts[n_pts++];
            memset(pt, 0, sizeof *pt);
            pt->hll = mode;
            pt->pairs = sizes[i];
            int fds[2];
            if (pipe(fds) != 0) {
                fclose(items);
                free(arr);
                return bench_fail(ctx, "pipe failed");
            }
            fflush(stdout);
            pid_t pid = fork();
            if (pid < 0) {
                fclose(items);
                free(arr);
                return bench_fail(ctx, "fork failed");
            }
            if (pid == 0) {
                close(fds[0]);
                measure_point(&base, size_ms, pt);
                ssize_t w = write(fds[1], pt, sizeof *pt);
                _exit(w == (ssize_t)sizeof *pt ? 0 : 1);
            }
            close(fds[1]);
            ssize_t r = read(fds[0], pt, sizeof *pt);
            close(fds[0]);
            int status;
            waitpid(pid, &status, 0);
            if (r != (ssize_t)sizeof *pt || !pt->ok) {
                fclose(items);
                free(arr);
                return bench_fail(ctx, "state-memory: the %s point at %llu pairs failed",
                                  mode ? "hll" : "exact", (unsigned long long)pt->pairs);
            }
            double bpp = (double)pt->state_bytes / (double)pt->pairs;
            bench_say("  %-5s %8llu live pairs: state %10llu bytes = %6.2f bytes/pair; RSS "
                      "growth %10llu (%.2f/pair), max RSS growth %10llu; %llu keys; %.2f M "
                      "events/s",
                      mode ? "hll" : "exact", (unsigned long long)pt->pairs,
                      (unsigned long long)pt->state_bytes, bpp, (unsigned long long)pt->rss_growth,
                      (double)pt->rss_growth / (double)pt->pairs,
                      (unsigned long long)pt->maxrss_growth, (unsigned long long)pt->live_keys,
                      (double)pt->pairs / pt->secs / 1e6);
            fprintf(items,
                    "%s{\"mode\":\"%s\",\"pairs\":%llu,\"state_bytes\":%llu,"
                    "\"bytes_per_pair\":%.2f,\"rss_growth_bytes\":%llu,"
                    "\"maxrss_growth_bytes\":%llu,\"maxrss_over_state\":%.3f,\"live_keys\":%llu,"
                    "\"events_per_sec\":%.0f}",
                    n_pts > 1 ? "," : "", mode ? "hll" : "exact", (unsigned long long)pt->pairs,
                    (unsigned long long)pt->state_bytes, bpp, (unsigned long long)pt->rss_growth,
                    (unsigned long long)pt->maxrss_growth,
                    (double)pt->maxrss_growth / (double)pt->state_bytes,
                    (unsigned long long)pt->live_keys, (double)pt->pairs / pt->secs);
        }
    fputc(']', items);
    fclose(items);
    /* The headline: the exact operator at the largest size, one build (the bytes are
     * deterministic; the rate is secondary here). */
    const mem_point *top = &pts[n_sizes - 1], *top_hll = &pts[2 * n_sizes - 1];
    bench_arm a = BENCH_ARM("state-memory", NULL, NULL);
    a.runs = 1;
    a.eps[0] = (double)top->pairs / top->secs;
    a.events = top->pairs;
    bench_report_main(ctx, &a);
    bench_json_u64(&ctx->out, "state_bytes", top->state_bytes);
    bench_json_u64(&ctx->out, "live_pairs", top->pairs);
    bench_json_num(&ctx->out, "exact_bytes_per_pair", (double)top->state_bytes / (double)top->pairs,
                   2);
    bench_json_num(&ctx->out, "hll_bytes_per_pair",
                   (double)top_hll->state_bytes / (double)top_hll->pairs, 2);
    bench_json_raw(&ctx->out, "points", arr);
    free(arr);
    return 0;
}
