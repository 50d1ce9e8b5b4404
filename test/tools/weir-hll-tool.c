/* weir-hll-tool: the HyperLogLog accuracy sweep, the streams and comparison for the Redis
 * test, add() micro-benchmarks and fuzzing seeds. Built optimised: it runs billions of adds. */
#include <errno.h>
#include <malloc.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <xxhash.h>

#include "weir/aggregate.h"
#include "weir/event.h"
#include "weir/hll.h"
#include "weir/job.h"

static const char usage[] =
    "usage: weir-hll-tool COMMAND [options]\n"
    "  accuracy [--streams S] [--max N]   sweep p=10,12,14,16 over n=1..N (powers of 10),\n"
    "                                     S splitmix64 streams; exit 1 if a bound is missed\n"
    "  redis-gen [STREAMS]                RESP commands (PFADD, COPY at each n) for redis-cli "
    "--pipe\n"
    "  redis-queries [STREAMS]            PFCOUNT commands, one a line, for redis-cli\n"
    "  redis-compare --counts FILE [STREAMS]\n"
    "                                     weir (p=14) against Redis's PFCOUNTs on the same sets\n"
    "     STREAMS: [--streams S] [--max N] [--big B --big-max M]: S streams to N distinct\n"
    "              values, the first B of them on to M\n"
    "  bench                              ns per add (median of 5 runs) and sketch sizes\n"
    "  seeds DIR                          serialized sketches as fuzzing seeds\n";

#define MAX_CKPT 24

/* Streams 0..streams-1 run to `max`; the first `big` of them go on to `big_max`. */
typedef struct opts {
    int streams;
    long max;
    int big;
    long big_max;
    const char *counts;
} opts;

static long stream_max(const opts *o, int s)
{
    return s < o->big && o->big_max > o->max ? o->big_max : o->max;
}

static long overall_max(const opts *o)
{
    return o->big > 0 && o->big_max > o->max ? o->big_max : o->max;
}

static uint64_t splitmix64(uint64_t *state)
{
    uint64_t z = (*state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* Checkpoints 1, 10, 100, ... up to max. */
static int checkpoints(long max, long *out)
{
    int k = 0;
    for (long n = 1; n <= max && k < MAX_CKPT; n *= 10)
        out[k++] = n;
    return k;
}

/* Checkpoints 1, 2, 5, 10, 20, 50, ... up to max: the powers of ten the bounds are stated
 * for, and points between them, where a switch between estimators would show a kink. */
static int checkpoints125(long max, long *out)
{
    int k = 0;
    for (long n = 1; n <= max && k < MAX_CKPT; n *= 10) {
        for (int f = 0; f < 3; f++) {
            long v = n * (f == 0 ? 1 : f == 1 ? 2 : 5);
            if (v <= max && k < MAX_CKPT)
                out[k++] = v;
        }
    }
    return k;
}

static void die_rc(const char *what, weir_err rc)
{
    fprintf(stderr, "weir-hll-tool: %s: %s\n", what, weir_err_str(rc));
    exit(2);
}

/* ---- statistics ------------------------------------------------------------------------ */

typedef struct stats {
    double mean;  /* mean relative error (bias) */
    double rmse;  /* root mean square relative error */
    double sd;    /* standard deviation of the relative error */
    double z;     /* bias / (sd / sqrt(S)) */
    double worst; /* largest |relative error| */
} stats;

static stats stats_of(const double *est, int s, double n)
{
    stats st = {0};
    double sum = 0, sq = 0;
    for (int i = 0; i < s; i++) {
        double e = est[i] / n - 1;
        sum += e;
        sq += e * e;
        if (fabs(e) > st.worst)
            st.worst = fabs(e);
    }
    st.mean = sum / s;
    st.rmse = sqrt(sq / s);
    double dev = 0;
    for (int i = 0; i < s; i++) {
        double d = est[i] / n - 1 - st.mean;
        dev += d * d;
    }
    st.sd = s > 1 ? sqrt(dev / (s - 1)) : 0;
    /* Where every estimate is the same (exact) the ratio means nothing. */
    st.z = st.sd > 1e-9 ? st.mean / (st.sd / sqrt(s)) : 0;
    return st;
}

/* ---- accuracy sweep --------------------------------------------------------------------- */

/*
 * Bounds (docs/HLL.md): with sigma = 1.04 / sqrt(2^p), at every checkpoint n,
 *  - the RMS relative error is at most 1.1 sigma (above 10 * 2^p that is the issue's
 *    bound; below it, "exact or within the same bound");
 *  - the mean relative error (the bias) is within one standard error of a single
 *    estimate of zero: |bias| <= sigma;
 *  - and, stricter, no bias that matters is visible: |bias| <= sigma / 20 + 4 sd / sqrt(S).
 *    The raw estimator's known asymptotic bias, about +1.08 / 2^p (Flajolet et al.'s
 *    alpha_m against alpha_inf), is sigma / 30 at p = 10 and less above; a switch-over
 *    kink of classic HyperLogLog or HLL++ without its bias tables is several times more.
 */
static int cmd_accuracy(const opts *o)
{
    static const int ps[] = {10, 12, 14, 16};
    enum { NP = 4 };
    long ck[MAX_CKPT];
    int nck = checkpoints125(o->max, ck), s_count = o->streams;
    double *est = calloc((size_t)NP * MAX_CKPT * (size_t)s_count, sizeof(double));
    unsigned char mem[NP][WEIR_HLL_EMBED_SIZE] __attribute__((aligned(16)));
    if (!est)
        die_rc("calloc", WEIR_ERR_NOMEM);
    clock_t t0 = clock();
    for (int s = 0; s < s_count; s++) {
        weir_hll *h[NP];
        for (int j = 0; j < NP; j++)
            h[j] = weir_hll_embed_init(mem[j], ps[j]);
        uint64_t state = 0x5eed0000ull + (uint64_t)s * 0x100000001ull;
        long n = 0;
        for (int c = 0; c < nck; c++) {
            for (; n < ck[c]; n++) {
                uint64_t x = splitmix64(&state);
                for (int j = 0; j < NP; j++) {
                    weir_err rc = weir_hll_add(h[j], x);
                    if (rc != WEIR_OK)
                        die_rc("add", rc);
                }
            }
            for (int j = 0; j < NP; j++)
                est[((size_t)j * MAX_CKPT + c) * s_count + s] = weir_hll_estimate(h[j]);
        }
        for (int j = 0; j < NP; j++)
            weir_hll_embed_fini(h[j]);
    }
    double secs = (double)(clock() - t0) / CLOCKS_PER_SEC;
    int failures = 0;
    printf("HyperLogLog accuracy: %d streams per cell, splitmix64 hashes, %.1f s CPU\n", s_count,
           secs);
    printf("%3s %9s %9s %10s %10s %10s %7s %10s  %s\n", "p", "n", "sigma", "rmse", "bias", "sd",
           "z", "max|err|", "verdict");
    for (int j = 0; j < NP; j++) {
        double sigma = 1.04 / sqrt(ldexp(1.0, ps[j]));
        for (int c = 0; c < nck; c++) {
            stats st = stats_of(est + ((size_t)j * MAX_CKPT + c) * s_count, s_count, (double)ck[c]);
            const char *why = NULL;
            if (st.rmse > 1.1 * sigma)
                why = "rmse > 1.1 sigma";
            else if (fabs(st.mean) > sigma)
                why = "|bias| > sigma";
            else if (fabs(st.mean) > sigma / 20 + 4 * st.sd / sqrt(s_count))
                why = "|bias| > sigma/20 + 4 sd/sqrt(S)";
            printf("%3d %9ld %8.4f%% %9.4f%% %+9.4f%% %9.4f%% %7.2f %9.4f%%  %s%s\n", ps[j], ck[c],
                   100 * sigma, 100 * st.rmse, 100 * st.mean, 100 * st.sd, st.z, 100 * st.worst,
                   why ? "FAIL: " : "ok", why ? why : "");
            failures += why != NULL;
        }
    }
    free(est);
    printf("%s: %d cell(s) out of bounds\n", failures ? "FAIL" : "PASS", failures);
    return failures ? 1 : 0;
}

/* ---- Redis comparison ------------------------------------------------------------------- */

/* Element i of stream s: 8 raw bytes, distinct across all streams because the mixer of
 * splitmix64 is a bijection of its 64-bit input. */
static void element(int s, long i, unsigned char out[8])
{
    uint64_t st = ((uint64_t)s << 32 | (uint64_t)i) - 0x9E3779B97F4A7C15ull;
    uint64_t v = splitmix64(&st);
    for (int k = 0; k < 8; k++)
        out[k] = (unsigned char)(v >> (8 * k));
}

#define PF_BATCH 1000

static void resp_bulk(FILE *f, const void *b, size_t len)
{
    fprintf(f, "$%zu\r\n", len);
    fwrite(b, 1, len, f);
    fputs("\r\n", f);
}

static void resp_str(FILE *f, const char *s)
{
    resp_bulk(f, s, strlen(s));
}

static int cmd_redis_gen(const opts *o)
{
    long ck[MAX_CKPT];
    static char buf[1 << 20];
    setvbuf(stdout, buf, _IOFBF, sizeof(buf));
    for (int s = 0; s < o->streams; s++) {
        int nck = checkpoints(stream_max(o, s), ck);
        char key[32];
        snprintf(key, sizeof(key), "h:%d", s);
        long n = 0;
        for (int c = 0; c < nck; c++) {
            while (n < ck[c]) {
                long batch = ck[c] - n < PF_BATCH ? ck[c] - n : PF_BATCH;
                printf("*%ld\r\n", batch + 2);
                resp_str(stdout, "PFADD");
                resp_str(stdout, key);
                for (long i = 0; i < batch; i++, n++) {
                    unsigned char e[8];
                    element(s, n, e);
                    resp_bulk(stdout, e, 8);
                }
            }
            char snap[48];
            snprintf(snap, sizeof(snap), "h:%d:%ld", s, ck[c]);
            printf("*3\r\n");
            resp_str(stdout, "COPY");
            resp_str(stdout, key);
            resp_str(stdout, snap);
        }
        printf("*2\r\n");
        resp_str(stdout, "DEL");
        resp_str(stdout, key);
    }
    return fflush(stdout) == 0 ? 0 : 2;
}

static int cmd_redis_queries(const opts *o)
{
    long ck[MAX_CKPT];
    for (int s = 0; s < o->streams; s++) {
        int nck = checkpoints(stream_max(o, s), ck);
        for (int c = 0; c < nck; c++)
            printf("PFCOUNT h:%d:%ld\n", s, ck[c]);
    }
    return fflush(stdout) == 0 ? 0 : 2;
}

/* The one-sided paired test of docs/HLL.md: fails when the data show, at the 0.1% level,
 * that weir's mean squared error exceeds 1.1^2 times Redis's. */
static double paired_t(const double *w, const double *r, int s, double n)
{
    double sum = 0, sq = 0;
    for (int i = 0; i < s; i++) {
        double ew = w[i] / n - 1, er = r[i] / n - 1;
        double d = ew * ew - 1.21 * er * er;
        sum += d;
        sq += d * d;
    }
    double mean = sum / s, var = s > 1 ? (sq - s * mean * mean) / (s - 1) : 0;
    if (var <= 0)
        return mean > 0 ? INFINITY : 0;
    return mean / sqrt(var / s);
}

static int cmd_redis_compare(const opts *o)
{
    long ck[MAX_CKPT];
    int nck = checkpoints(overall_max(o), ck), S = o->streams;
    FILE *f = fopen(o->counts, "r");
    if (!f) {
        fprintf(stderr, "weir-hll-tool: %s: %s\n", o->counts, strerror(errno));
        return 2;
    }
    /* [c * S + s]: checkpoint c of stream s; ns[c] streams reach checkpoint c, the first
     * ones. */
    double *red = calloc((size_t)S * MAX_CKPT, sizeof(double));
    double *wei = calloc((size_t)S * MAX_CKPT, sizeof(double));
    int ns[MAX_CKPT] = {0};
    if (!red || !wei)
        die_rc("calloc", WEIR_ERR_NOMEM);
    for (int s = 0; s < S; s++) {
        long sck[MAX_CKPT];
        int snck = checkpoints(stream_max(o, s), sck);
        weir_hll *h;
        weir_err rc = weir_hll_new(14, &h);
        if (rc != WEIR_OK)
            die_rc("new", rc);
        long n = 0;
        for (int c = 0; c < snck; c++) {
            long long v;
            if (fscanf(f, "%lld", &v) != 1) {
                fprintf(stderr, "weir-hll-tool: %s: too few counts (stream %d)\n", o->counts, s);
                return 2;
            }
            red[(size_t)c * S + s] = (double)v;
            for (; n < sck[c]; n++) {
                unsigned char e[8];
                element(s, n, e);
                if ((rc = weir_hll_add(h, XXH3_64bits(e, 8))) != WEIR_OK)
                    die_rc("add", rc);
            }
            /* The aggregate reports an integer, as PFCOUNT does. */
            wei[(size_t)c * S + s] = (double)llround(weir_hll_estimate(h));
            ns[c]++;
        }
        weir_hll_destroy(h);
    }
    fclose(f);
    int failures = 0;
    printf("Same sets fed to weir (XXH3-64 of each element) and Redis (PFADD/PFCOUNT), p=14;\n"
           "relative errors of the integer counts over S streams\n");
    printf("%9s %4s | %10s %10s %10s | %10s %10s %10s | %6s %7s  %s\n", "n", "S", "weir rmse",
           "bias", "max|err|", "redis rmse", "bias", "max|err|", "ratio", "t", "verdict");
    for (int c = 0; c < nck; c++) {
        double n = (double)ck[c];
        int k = ns[c];
        stats w = stats_of(wei + (size_t)c * S, k, n), r = stats_of(red + (size_t)c * S, k, n);
        double t = paired_t(wei + (size_t)c * S, red + (size_t)c * S, k, n);
        int fail = t > 3.09;
        char ratio[16] = "-";
        if (r.rmse > 0)
            snprintf(ratio, sizeof(ratio), "%.3f", w.rmse / r.rmse);
        printf("%9ld %4d | %9.4f%% %+9.4f%% %9.4f%% | %9.4f%% %+9.4f%% %9.4f%% | %6s %7.2f  %s\n",
               ck[c], k, 100 * w.rmse, 100 * w.mean, 100 * w.worst, 100 * r.rmse, 100 * r.mean,
               100 * r.worst, ratio, t, fail ? "FAIL: weir's error larger than Redis's" : "ok");
        failures += fail;
    }
    free(red);
    free(wei);
    printf("%s: %d cardinalit%s where weir's error is shown larger than 1.1 x Redis's\n",
           failures ? "FAIL" : "PASS", failures, failures == 1 ? "y" : "ies");
    return failures ? 1 : 0;
}

/* ---- benchmarks ------------------------------------------------------------------------- */

static double now_ns(void)
{
    return weir_mono_sec() * 1e9;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

typedef double (*bench_fn)(const uint64_t *hashes, size_t n);

/* A sink the compiler cannot see through, so that benchmarked work is not removed. */
static volatile double bench_sink;

/* Dense: a p=14 sketch already dense, fed through the aggregate's add(), as the operator
 * calls it. */
static double bench_dense(const uint64_t *hashes, size_t n)
{
    unsigned char mem[WEIR_HLL_EMBED_SIZE] __attribute__((aligned(16)));
    const weir_agg_ops *ops = &weir_agg_distinct_hll;
    ops->init(mem, NULL);
    weir_event ev = {0};
    weir_agg_input in = {.event = &ev};
    for (size_t i = 0; i < 100000; i++) {
        ev.user_fp[0] = hashes[i];
        ops->add(mem, &in, NULL);
    }
    double t = now_ns();
    for (size_t i = 0; i < n; i++) {
        ev.user_fp[0] = hashes[i];
        ops->add(mem, &in, NULL);
    }
    t = now_ns() - t;
    bench_sink = (double)ops->result(mem, NULL);
    ops->free(mem, NULL);
    return t / (double)n;
}

/* Sparse: K sketches filled from empty to `sparse_n` distinct values (growth and its
 * allocations included), then fed the same values again, through the aggregate's add().
 * Timed: the adds, plus the work they left to the first result() (merging pending
 * entries): a first result() minus a second one; not timed: the estimator and free(). */
static size_t sparse_n = 2000;

static double bench_sparse(const uint64_t *hashes, size_t n)
{
    enum { K = 64 };
    static unsigned char mem[K][WEIR_HLL_EMBED_SIZE] __attribute__((aligned(16)));
    const weir_agg_ops *ops = &weir_agg_distinct_hll;
    weir_event ev = {0};
    weir_agg_input in = {.event = &ev};
    size_t done = 0;
    double total = 0;
    for (size_t base = 0; base + K * sparse_n <= n; base += K * sparse_n) {
        double t = now_ns();
        for (int k = 0; k < K; k++) {
            ops->init(mem[k], NULL);
            for (int pass = 0; pass < 2; pass++) {
                for (size_t i = 0; i < sparse_n; i++) {
                    ev.user_fp[0] = hashes[base + k * sparse_n + i];
                    ops->add(mem[k], &in, NULL);
                }
            }
        }
        total += now_ns() - t;
        done += 2 * K * sparse_n;
        t = now_ns();
        for (int k = 0; k < K; k++)
            bench_sink += (double)ops->result(mem[k], NULL);
        double first = now_ns() - t;
        t = now_ns();
        for (int k = 0; k < K; k++)
            bench_sink += (double)ops->result(mem[k], NULL);
        double second = now_ns() - t;
        total += first > second ? first - second : 0;
        for (int k = 0; k < K; k++)
            ops->free(mem[k], NULL);
    }
    return total / (double)done;
}

static double median5(bench_fn fn, const uint64_t *hashes, size_t n, double *lo, double *hi)
{
    double r[5];
    fn(hashes, n); /* warm-up */
    for (int i = 0; i < 5; i++)
        r[i] = fn(hashes, n);
    qsort(r, 5, sizeof(double), cmp_double);
    *lo = r[0];
    *hi = r[4];
    return r[2];
}

static int cmd_bench(void)
{
    /* A long-running job reuses freed memory; without this glibc hands the benchmark's
     * freed tables back to the kernel after every round and each round pays page faults. */
    mallopt(M_TRIM_THRESHOLD, 256 << 20);
    mallopt(M_MMAP_THRESHOLD, 64 << 20);
    size_t n = (size_t)1 << 22;
    uint64_t *hashes = malloc(n * sizeof(uint64_t)), st = 42;
    if (!hashes)
        die_rc("malloc", WEIR_ERR_NOMEM);
    for (size_t i = 0; i < n; i++)
        hashes[i] = splitmix64(&st);
    double lo, hi, med;
    med = median5(bench_dense, hashes, n, &lo, &hi);
    printf("add, dense p=14 (via weir_agg_distinct_hll.add): median %.2f ns (min %.2f, max %.2f)\n",
           med, lo, hi);
    size_t sizes[] = {10, 100, 1000, 2000};
    for (size_t k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
        sparse_n = sizes[k];
        med = median5(bench_sparse, hashes, n, &lo, &hi);
        printf("add, sparse p=14, %4zu distinct values (fill, then repeat; growth and merges "
               "included): "
               "median %.2f ns (min %.2f, max %.2f)\n",
               sizes[k], med, lo, hi);
    }
    free(hashes);

    weir_hll *h;
    weir_err rc = weir_hll_new(14, &h);
    if (rc != WEIR_OK)
        die_rc("new", rc);
    st = 7;
    for (int i = 0; i < 10; i++)
        weir_hll_add(h, splitmix64(&st));
    printf("10-value sketch: %zu bytes (weir_hll_new: sketch %d + heap %zu); as an aggregate: "
           "%d inline + %zu heap\n",
           weir_hll_heap_bytes(h), WEIR_HLL_EMBED_SIZE,
           weir_hll_heap_bytes(h) - WEIR_HLL_EMBED_SIZE, WEIR_HLL_EMBED_SIZE,
           weir_hll_heap_bytes(h) - WEIR_HLL_EMBED_SIZE);
    for (int i = 0; i < 100000; i++)
        weir_hll_add(h, splitmix64(&st));
    printf("dense p=14 sketch: %zu bytes (registers %zu + sketch %d); serialized %zu bytes\n",
           weir_hll_heap_bytes(h), weir_hll_heap_bytes(h) - WEIR_HLL_EMBED_SIZE,
           WEIR_HLL_EMBED_SIZE, weir_hll_serialized_size(h));
    double t = now_ns();
    int reps = 200;
    for (int i = 0; i < reps; i++) {
        weir_hll_add(h, splitmix64(&st) | 1); /* invalidates the cached estimate, mostly */
        bench_sink += weir_hll_estimate(h);
    }
    printf("estimate, dense p=14, uncached: %.1f us\n", (now_ns() - t) / reps / 1e3);
    weir_hll_destroy(h);
    return 0;
}

/* ---- fuzzing seeds ---------------------------------------------------------------------- */

static int cmd_seeds(const char *dir)
{
    static const int ps[] = {4, 7, 10, 12, 14};
    static const long ns[] = {0, 3, 14, 15, 200, 5000};
    if (mkdir(dir, 0755) != 0 && errno != EEXIST) {
        fprintf(stderr, "weir-hll-tool: %s: %s\n", dir, strerror(errno));
        return 2;
    }
    uint64_t st = 1;
    int k = 0;
    for (size_t i = 0; i < sizeof(ps) / sizeof(ps[0]); i++) {
        for (size_t j = 0; j < sizeof(ns) / sizeof(ns[0]); j++) {
            weir_hll *h;
            weir_err rc = weir_hll_new(ps[i], &h);
            if (rc != WEIR_OK)
                die_rc("new", rc);
            for (long v = 0; v < ns[j]; v++)
                weir_hll_add(h, splitmix64(&st));
            size_t len = weir_hll_serialized_size(h);
            uint8_t *buf = malloc(len);
            if (!buf)
                die_rc("malloc", WEIR_ERR_NOMEM);
            weir_hll_serialize(h, buf, len);
            char path[4096];
            snprintf(path, sizeof(path), "%s/p%d-n%ld", dir, ps[i], ns[j]);
            FILE *f = fopen(path, "wb");
            if (!f || fwrite(buf, 1, len, f) != len || fclose(f) != 0) {
                fprintf(stderr, "weir-hll-tool: %s: %s\n", path, strerror(errno));
                return 2;
            }
            free(buf);
            weir_hll_destroy(h);
            k++;
        }
    }
    printf("%d seeds in %s\n", k, dir);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fputs(usage, stderr);
        return 2;
    }
    const char *cmd = argv[1];
    opts o = {.streams = 100, .max = 1000000, .big = 0, .big_max = 0, .counts = NULL};
    if (strcmp(cmd, "seeds") == 0) {
        if (argc != 3) {
            fputs(usage, stderr);
            return 2;
        }
        return cmd_seeds(argv[2]);
    }
    for (int i = 2; i < argc; i++) {
        if (strcmp(argv[i], "--streams") == 0 && i + 1 < argc)
            o.streams = atoi(argv[++i]);
        else if (strcmp(argv[i], "--max") == 0 && i + 1 < argc)
            o.max = atol(argv[++i]);
        else if (strcmp(argv[i], "--big") == 0 && i + 1 < argc)
            o.big = atoi(argv[++i]);
        else if (strcmp(argv[i], "--big-max") == 0 && i + 1 < argc)
            o.big_max = atol(argv[++i]);
        else if (strcmp(argv[i], "--counts") == 0 && i + 1 < argc)
            o.counts = argv[++i];
        else {
            fprintf(stderr, "weir-hll-tool: unknown option %s\n%s", argv[i], usage);
            return 2;
        }
    }
    if (o.streams < 2 || o.max < 1) {
        fputs("weir-hll-tool: --streams must be >= 2 and --max >= 1\n", stderr);
        return 2;
    }
    if (strcmp(cmd, "accuracy") == 0)
        return cmd_accuracy(&o);
    if (strcmp(cmd, "redis-gen") == 0)
        return cmd_redis_gen(&o);
    if (strcmp(cmd, "redis-queries") == 0)
        return cmd_redis_queries(&o);
    if (strcmp(cmd, "redis-compare") == 0 && o.counts)
        return cmd_redis_compare(&o);
    if (strcmp(cmd, "bench") == 0)
        return cmd_bench();
    fputs(usage, stderr);
    return 2;
}
