/* HyperLogLog scenarios: raw sketch adds (dense, sparse, inline) and the same values into
 * weir's sketch and into Redis's PFADD, throughput and error side by side. */
#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#define XXH_INLINE_ALL
#include <xxhash.h>

#include "bench.h"
#include "weir/hll.h"
#include "weir/weir.h"

#define PRECISION 14

/* ---------------------------------------------------------------- hll-add */

typedef struct add_arm {
    const uint64_t *hashes;
    size_t n;
    size_t per_sketch; /* 0: one dense sketch */
    const uint64_t *prefill;
    size_t n_prefill;
    /* Results of the last run. */
    double estimate;
    size_t still_sparse, sketches;
    uint64_t heap_bytes;
    double add_only_sec, deferred_sec; /* of the last run: adds alone, work left to estimate */
} add_arm;

static volatile double g_sink;

static double dense_run(void *opaque, uint64_t *events, char *err, size_t errlen)
{
    add_arm *a = opaque;
    weir_hll *h;
    if (weir_hll_new(PRECISION, &h) != WEIR_OK) {
        snprintf(err, errlen, "weir_hll_new failed");
        return -1;
    }
    /* Fill until the sketch keeps registers, outside the clock. */
    for (size_t i = 0; i < a->n_prefill; i++)
        weir_hll_add(h, a->prefill[i]);
    if (weir_hll_is_sparse(h)) {
        weir_hll_destroy(h);
        snprintf(err, errlen, "the sketch is still sparse after %zu values", a->n_prefill);
        return -1;
    }
    weir_err rc = WEIR_OK;
    double t0 = bench_now();
    for (size_t i = 0; i < a->n; i++)
        rc |= weir_hll_add(h, a->hashes[i]);
    double secs = bench_now() - t0;
    a->estimate = weir_hll_estimate(h);
    a->heap_bytes = weir_hll_heap_bytes(h);
    g_sink += a->estimate;
    weir_hll_destroy(h);
    if (rc != WEIR_OK) {
        snprintf(err, errlen, "weir_hll_add failed");
        return -1;
    }
    *events = a->n;
    return secs;
}

/* Many small sketches embedded in caller memory, as the operator keeps them; each receives
 * its values in a row (the sketch's own cost, not the cache misses of finding it).
 * A sparse sketch may defer part of its adds' work (merging pending entries) to its next
 * estimate: the clock includes that part, measured as the first estimate of each sketch
 * (which merges) minus a second one (the estimator alone, not an add's cost). */
static double small_run(void *opaque, uint64_t *events, char *err, size_t errlen)
{
    add_arm *a = opaque;
    size_t ns = a->n / a->per_sketch;
    _Alignas(8) unsigned char(*mem)[WEIR_HLL_EMBED_SIZE] = malloc(ns * WEIR_HLL_EMBED_SIZE);
    weir_hll **hs = malloc(ns * sizeof *hs);
    if (!mem || !hs) {
        free(mem);
        free(hs);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    for (size_t s = 0; s < ns; s++)
        hs[s] = weir_hll_embed_init(mem[s], PRECISION);
    weir_err rc = WEIR_OK;
    double t0 = bench_now();
    for (size_t s = 0; s < ns; s++) {
        const uint64_t *v = a->hashes + s * a->per_sketch;
        for (size_t i = 0; i < a->per_sketch; i++)
            rc |= weir_hll_add(hs[s], v[i]);
    }
    double secs = bench_now() - t0;
    double est = 0, est2 = 0;
    double t1 = bench_now();
    for (size_t s = 0; s < ns; s++)
        est += weir_hll_estimate(hs[s]);
    double t2 = bench_now();
    for (size_t s = 0; s < ns; s++)
        est2 += weir_hll_estimate(hs[s]);
    double deferred = (t2 - t1) - (bench_now() - t2);
    a->deferred_sec = deferred > 0 ? deferred : 0;
    a->add_only_sec = secs;
    secs += a->deferred_sec;
    a->still_sparse = 0;
    a->heap_bytes = 0;
    for (size_t s = 0; s < ns; s++) {
        a->still_sparse += weir_hll_is_sparse(hs[s]);
        a->heap_bytes += weir_hll_heap_bytes(hs[s]);
        weir_hll_embed_fini(hs[s]);
    }
    if (est2 != est) {
        free(mem);
        free(hs);
        snprintf(err, errlen, "a second estimate differs from the first");
        return -1;
    }
    a->estimate = est / (double)ns;
    a->sketches = ns;
    g_sink += est;
    free(mem);
    free(hs);
    if (rc != WEIR_OK) {
        snprintf(err, errlen, "weir_hll_add failed");
        return -1;
    }
    *events = ns * a->per_sketch;
    return secs;
}

static void random_hashes(uint64_t seed, uint64_t *out, size_t n)
{
    uint64_t s = seed;
    for (size_t i = 0; i < n; i++)
        out[i] = weir_gen_next(&s);
}

int bench_hll_add(bench_ctx *ctx)
{
    size_t n = ctx->events;
    const size_t prefill_n = 100000, sparse_k = 100, inline_k = 10;
    if (n < sparse_k)
        n = sparse_k;
    uint64_t *hashes = malloc(n * sizeof(uint64_t));
    uint64_t *prefill = malloc(prefill_n * sizeof(uint64_t));
    if (!hashes || !prefill) {
        free(hashes);
        free(prefill);
        return bench_fail(ctx, "out of memory");
    }
    /* Values are 64-bit hashes, as the caller hands them over (distinct with overwhelming
     * probability). */
    random_hashes(ctx->seed, hashes, n);
    random_hashes(ctx->seed ^ 0xA5A5A5A5u, prefill, prefill_n);
    add_arm dense = {hashes, n, 0, prefill, prefill_n, 0, 0, 0, 0, 0, 0};
    add_arm sparse = {hashes, n, sparse_k, NULL, 0, 0, 0, 0, 0, 0, 0};
    add_arm inl = {hashes, n, inline_k, NULL, 0, 0, 0, 0, 0, 0, 0};
    bench_arm arms[3] = {
        BENCH_ARM("hll-add dense", dense_run, &dense),
        BENCH_ARM("hll-add sparse (100)", small_run, &sparse),
        BENCH_ARM("hll-add inline (10)", small_run, &inl),
    };
    int rc = bench_measure(ctx, arms, 3);
    if (rc == 0) {
        bench_report_main(ctx, &arms[0]);
        bench_stats d = bench_arm_stats(&arms[0]), s = bench_arm_stats(&arms[1]),
                    i = bench_arm_stats(&arms[2]);
        double truth = (double)(prefill_n + n);
        /* The size of a sketch of 10 values, embedded as the operator keeps it. */
        _Alignas(8) unsigned char mem[WEIR_HLL_EMBED_SIZE];
        weir_hll *h10 = weir_hll_embed_init(mem, PRECISION);
        for (int k = 0; k < 10; k++)
            weir_hll_add(h10, hashes[k]);
        size_t bytes10 = WEIR_HLL_EMBED_SIZE + weir_hll_heap_bytes(h10);
        size_t ser10 = weir_hll_serialized_size(h10);
        weir_hll_embed_fini(h10);
        bench_json_str(&ctx->out, "headline", "dense adds");
        bench_json_num(&ctx->out, "dense_ns_per_add", 1e9 / d.median, 2);
        bench_json_num(&ctx->out, "sparse_events_per_sec_median", s.median, 0);
        bench_json_num(&ctx->out, "sparse_ns_per_add", 1e9 / s.median, 2);
        bench_json_num(&ctx->out, "sparse_last_run_add_only_ns",
                       1e9 * sparse.add_only_sec / (double)(sparse.sketches * sparse_k), 2);
        bench_json_num(&ctx->out, "sparse_last_run_deferred_ns",
                       1e9 * sparse.deferred_sec / (double)(sparse.sketches * sparse_k), 2);
        bench_json_u64(&ctx->out, "sparse_values_per_sketch", sparse_k);
        bench_json_u64(&ctx->out, "sparse_sketches_still_sparse", sparse.still_sparse);
        bench_json_u64(&ctx->out, "sparse_sketches", sparse.sketches);
        bench_json_num(&ctx->out, "sparse_bytes_per_sketch",
                       WEIR_HLL_EMBED_SIZE + (double)sparse.heap_bytes / (double)sparse.sketches,
                       1);
        bench_json_num(&ctx->out, "inline_events_per_sec_median", i.median, 0);
        bench_json_num(&ctx->out, "inline_ns_per_add", 1e9 / i.median, 2);
        bench_json_u64(&ctx->out, "sketch_bytes_10_values", bytes10);
        bench_json_u64(&ctx->out, "serialized_bytes_10_values", ser10);
        bench_json_u64(&ctx->out, "dense_heap_bytes", dense.heap_bytes);
        bench_json_num(&ctx->out, "dense_relative_error", dense.estimate / truth - 1, 5);
        bench_json_u64(&ctx->out, "precision", PRECISION);
        bench_json_str(&ctx->out, "vs_scan_note",
                       "not applicable: sketch adds of ready hashes, not records");
        bench_say("  dense %.2f ns/add, sparse (%zu values/sketch, %zu of %zu still sparse) "
                  "%.2f ns/add (last run: adds %.2f + deferred to the first estimate %.2f), "
                  "inline (10) %.2f ns/add; a 10-value sketch takes %zu bytes; "
                  "dense error %+.3f%%",
                  1e9 / d.median, sparse_k, sparse.still_sparse, sparse.sketches, 1e9 / s.median,
                  1e9 * sparse.add_only_sec / (double)(sparse.sketches * sparse_k),
                  1e9 * sparse.deferred_sec / (double)(sparse.sketches * sparse_k), 1e9 / i.median,
                  bytes10, 100 * (dense.estimate / truth - 1));
    }
    free(hashes);
    free(prefill);
    return rc;
}

/* ---------------------------------------------------------------- hll-vs-redis */

typedef struct redis_conn {
    int fd;
    char *rbuf;
    size_t rcap;
} redis_conn;

static int redis_connect(redis_conn *c, int port)
{
    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (c->fd < 0 || connect(c->fd, (struct sockaddr *)&a, sizeof a) != 0)
        return -1;
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    c->rcap = 1 << 16;
    c->rbuf = malloc(c->rcap);
    return c->rbuf ? 0 : -1;
}

static void redis_close(redis_conn *c)
{
    if (c->fd >= 0)
        close(c->fd);
    free(c->rbuf);
    c->fd = -1;
    c->rbuf = NULL;
}

static int send_all(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Reads `replies` simple replies (integers or status lines); returns the number of error
 * replies, or -1 on a broken connection. */
static long read_simple_replies(redis_conn *c, size_t replies)
{
    long errors = 0;
    int at_line_start = 1;
    while (replies) {
        ssize_t r = read(c->fd, c->rbuf, c->rcap);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return -1;
        for (ssize_t i = 0; i < r; i++) {
            if (at_line_start && c->rbuf[i] == '-')
                errors++;
            at_line_start = c->rbuf[i] == '\n';
            if (at_line_start && --replies == 0 && i + 1 != r)
                return -1; /* more bytes than replies asked for */
        }
    }
    return errors;
}

/* Sends one command given as words and reads one reply into c->rbuf (NUL-terminated);
 * bulk replies are read whole. Returns the reply length or -1. */
static ssize_t redis_cmd(redis_conn *c, int argc, const char *const *argv)
{
    char cmd[1024];
    int n = snprintf(cmd, sizeof cmd, "*%d\r\n", argc);
    for (int i = 0; i < argc; i++)
        n += snprintf(cmd + n, sizeof cmd - (size_t)n, "$%zu\r\n%s\r\n", strlen(argv[i]), argv[i]);
    if (send_all(c->fd, cmd, (size_t)n) != 0)
        return -1;
    size_t got = 0;
    for (;;) {
        ssize_t r = read(c->fd, c->rbuf + got, c->rcap - 1 - got);
        if (r <= 0)
            return -1;
        got += (size_t)r;
        c->rbuf[got] = '\0';
        char *nl = strstr(c->rbuf, "\r\n");
        if (!nl)
            continue;
        if (c->rbuf[0] != '$')
            return (ssize_t)got;
        long len = strtol(c->rbuf + 1, NULL, 10);
        if (len < 0 || (size_t)(nl + 2 - c->rbuf) + (size_t)len + 2 <= got)
            return (ssize_t)got;
        if (got + 1 >= c->rcap)
            return -1;
    }
}

#define PIPELINE 1000

typedef struct redis_arm {
    redis_conn conn;
    char *cmds;        /* every PFADD, back to back */
    size_t *chunk_end; /* end offset of each chunk of PIPELINE commands */
    size_t n_chunks, n;
    double estimate;
} redis_arm;

typedef struct weir_side {
    const char *strs; /* values, fixed stride */
    const uint8_t *lens;
    size_t n, stride;
    double estimate;
} weir_side;

static double weir_side_run(void *opaque, uint64_t *events, char *err, size_t errlen)
{
    weir_side *a = opaque;
    weir_hll *h;
    if (weir_hll_new(PRECISION, &h) != WEIR_OK) {
        snprintf(err, errlen, "weir_hll_new failed");
        return -1;
    }
    weir_err rc = WEIR_OK;
    /* Hashing the value's bytes is part of the work here, as it is inside Redis. */
    double t0 = bench_now();
    for (size_t i = 0; i < a->n; i++)
        rc |= weir_hll_add(h, XXH3_64bits(a->strs + i * a->stride, a->lens[i]));
    double secs = bench_now() - t0;
    a->estimate = weir_hll_estimate(h);
    weir_hll_destroy(h);
    if (rc != WEIR_OK) {
        snprintf(err, errlen, "weir_hll_add failed");
        return -1;
    }
    *events = a->n;
    return secs;
}

static double redis_run(void *opaque, uint64_t *events, char *err, size_t errlen)
{
    redis_arm *a = opaque;
    const char *del[] = {"DEL", "weir-bench"};
    if (redis_cmd(&a->conn, 2, del) < 0) {
        snprintf(err, errlen, "redis: DEL failed");
        return -1;
    }
    long errors = 0;
    double t0 = bench_now();
    size_t start = 0;
    for (size_t k = 0; k < a->n_chunks; k++) {
        size_t in_chunk = k + 1 < a->n_chunks ? PIPELINE : a->n - k * PIPELINE;
        if (send_all(a->conn.fd, a->cmds + start, a->chunk_end[k] - start) != 0) {
            snprintf(err, errlen, "redis: write failed");
            return -1;
        }
        long e = read_simple_replies(&a->conn, in_chunk);
        if (e < 0) {
            snprintf(err, errlen, "redis: connection lost");
            return -1;
        }
        errors += e;
        start = a->chunk_end[k];
    }
    double secs = bench_now() - t0;
    if (errors) {
        snprintf(err, errlen, "redis: %ld PFADD errors", errors);
        return -1;
    }
    const char *count[] = {"PFCOUNT", "weir-bench"};
    if (redis_cmd(&a->conn, 2, count) < 0 || a->conn.rbuf[0] != ':') {
        snprintf(err, errlen, "redis: PFCOUNT failed");
        return -1;
    }
    a->estimate = strtod(a->conn.rbuf + 1, NULL);
    *events = a->n;
    return secs;
}

int bench_hll_vs_redis(bench_ctx *ctx)
{
    int port = bench_free_port();
    char portstr[16], logp[512];
    snprintf(portstr, sizeof portstr, "%d", port);
    snprintf(logp, sizeof logp, "%s/redis.log", ctx->tmpdir);
    char *argv[] = {"redis-server", "--port", portstr,        "--bind", "127.0.0.1",
                    "--save",       "",       "--appendonly", "no",     NULL};
    pid_t pid = port ? bench_spawn(argv, logp) : -1;
    if (pid < 0 || bench_wait_port(port, pid, 10000) != 0) {
        bench_stop(pid, 1000);
        return bench_skip(ctx,
                          "redis-server could not be started (Debian package "
                          "redis-server; log %s)",
                          logp);
    }
    weir_gen_params p;
    bench_gen_params(ctx, ctx->events, &p);
    size_t n = ctx->events;
    weir_gen_event *g = malloc(n * sizeof *g);
    const size_t stride = 12;
    char *strs = malloc(n * stride);
    uint8_t *lens = malloc(n);
    uint8_t *seen = calloc(p.users / 8 + 1, 1);
    redis_arm ra;
    memset(&ra, 0, sizeof ra);
    ra.conn.fd = -1;
    ra.n = n;
    ra.n_chunks = (n + PIPELINE - 1) / PIPELINE;
    ra.chunk_end = malloc(ra.n_chunks * sizeof(size_t));
    ra.cmds = malloc(n * 64);
    int rc = -1;
    if (!g || !strs || !lens || !seen || !ra.chunk_end || !ra.cmds) {
        bench_fail(ctx, "out of memory");
        goto done;
    }
    /* The values are the user ids of the generator's events (uniform over 10^6 users), as
     * text; both sides get the same bytes in the same order. */
    weir_gen_events(&p, g);
    size_t truth = 0, off = 0;
    for (size_t i = 0; i < n; i++) {
        uint32_t u = g[i].user;
        lens[i] = (uint8_t)snprintf(strs + i * stride, stride, "u%u", u);
        if (!(seen[u / 8] & (1u << (u % 8)))) {
            seen[u / 8] |= (uint8_t)(1u << (u % 8));
            truth++;
        }
        off += (size_t)sprintf(ra.cmds + off,
                               "*3\r\n$5\r\nPFADD\r\n$10\r\nweir-bench\r\n$%u\r\n%s\r\n", lens[i],
                               strs + i * stride);
        if ((i + 1) % PIPELINE == 0 || i + 1 == n)
            ra.chunk_end[i / PIPELINE] = off;
    }
    if (redis_connect(&ra.conn, port) != 0) {
        bench_fail(ctx, "cannot connect to redis on port %d", port);
        goto done;
    }
    const char *info[] = {"INFO", "server"};
    char version[32] = "?";
    if (redis_cmd(&ra.conn, 2, info) > 0) {
        const char *v = strstr(ra.conn.rbuf, "redis_version:");
        if (v)
            sscanf(v + 14, "%31[0-9.]", version);
    }
    weir_side ws = {strs, lens, n, stride, 0};
    bench_arm arms[2] = {
        BENCH_ARM("hll-vs-redis (weir)", weir_side_run, &ws),
        BENCH_ARM("redis PFADD", redis_run, &ra),
    };
    if (bench_measure(ctx, arms, 2) != 0)
        goto done;
    bench_report_main(ctx, &arms[0]);
    bench_stats w = bench_arm_stats(&arms[0]), r = bench_arm_stats(&arms[1]);
    char peer[64];
    snprintf(peer, sizeof peer, "redis %s", version);
    bench_report_vs_peer(ctx, &arms[0], &arms[1], peer, 2);
    bench_json_u64(&ctx->out, "distinct_values", truth);
    bench_json_num(&ctx->out, "weir_estimate", ws.estimate, 0);
    bench_json_num(&ctx->out, "peer_estimate", ra.estimate, 0);
    bench_json_num(&ctx->out, "weir_relative_error", ws.estimate / (double)truth - 1, 5);
    bench_json_num(&ctx->out, "peer_relative_error", ra.estimate / (double)truth - 1, 5);
    bench_json_u64(&ctx->out, "pipeline", PIPELINE);
    bench_json_str(&ctx->out, "vs_scan_note",
                   "not applicable: single values into one sketch, not records");
    bench_say("  weir %.0f values/s (XXH3 + add), %s %.0f values/s (pipelined PFADD, %d per "
              "round trip): weir/redis = %.1fx; %zu distinct: weir %+.3f%%, redis %+.3f%%",
              w.median, peer, r.median, PIPELINE, w.median / r.median, truth,
              100 * (ws.estimate / (double)truth - 1), 100 * (ra.estimate / (double)truth - 1));
    rc = 0;
done:
    redis_close(&ra.conn);
    bench_stop(pid, 3000);
    free(g);
    free(strs);
    free(lens);
    free(seen);
    free(ra.chunk_end);
    free(ra.cmds);
    return rc;
}
