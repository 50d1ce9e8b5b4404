/* weir-bench's harness: interleaved timed runs, statistics, the JSON line, generated inputs,
 * and child processes (peers) that are always stopped at exit. */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#define XXH_INLINE_ALL
#include <xxhash.h>

#include "bench.h"
#include "weir/job.h"

extern char **environ;

double bench_now(void)
{
    return weir_mono_sec();
}

double bench_cpu_now(void)
{
    struct timespec ts;
    if (clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts) != 0)
        return 0;
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void bench_say(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stdout, fmt, ap);
    va_end(ap);
    fputc('\n', stdout);
    fflush(stdout);
}

const char *bench_fmt_rate(double eps, char *buf)
{
    if (eps >= 1e6)
        snprintf(buf, 32, "%.2f M/s", eps / 1e6);
    else if (eps >= 1e3)
        snprintf(buf, 32, "%.1f k/s", eps / 1e3);
    else
        snprintf(buf, 32, "%.1f /s", eps);
    return buf;
}

int bench_fail(bench_ctx *ctx, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(ctx->failed, sizeof ctx->failed, fmt, ap);
    va_end(ap);
    return -1;
}

int bench_skip(bench_ctx *ctx, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(ctx->skipped, sizeof ctx->skipped, fmt, ap);
    va_end(ap);
    return 0;
}

uint64_t bench_peak_rss(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (uint64_t)ru.ru_maxrss * 1024u;
}

uint64_t bench_current_rss(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    unsigned long size = 0, resident = 0;
    if (f) {
        if (fscanf(f, "%lu %lu", &size, &resident) != 2)
            resident = 0;
        fclose(f);
    }
    return (uint64_t)resident * (uint64_t)sysconf(_SC_PAGESIZE);
}

/* ---------------------------------------------------------------- JSON */

static void json_reserve(bench_json *j, size_t more)
{
    if (j->len + more + 2 <= j->cap)
        return;
    size_t cap = j->cap ? j->cap : 256;
    while (cap < j->len + more + 2)
        cap *= 2;
    char *nb = realloc(j->buf, cap);
    if (!nb) {
        fprintf(stderr, "weir-bench: out of memory\n");
        exit(1);
    }
    j->buf = nb;
    j->cap = cap;
}

static void json_append(bench_json *j, const char *s, size_t n)
{
    json_reserve(j, n);
    memcpy(j->buf + j->len, s, n);
    j->len += n;
    j->buf[j->len] = '\0';
}

static void json_escaped(bench_json *j, const char *s)
{
    json_append(j, "\"", 1);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        char esc[8];
        if (c == '"' || c == '\\') {
            esc[0] = '\\';
            esc[1] = (char)c;
            json_append(j, esc, 2);
        } else if (c < 0x20) {
            snprintf(esc, sizeof esc, "\\u%04x", c);
            json_append(j, esc, 6);
        } else {
            json_append(j, (const char *)&c, 1);
        }
    }
    json_append(j, "\"", 1);
}

static void json_key(bench_json *j, const char *key)
{
    if (j->n++)
        json_append(j, ",", 1);
    json_escaped(j, key);
    json_append(j, ":", 1);
}

void bench_json_str(bench_json *j, const char *key, const char *value)
{
    json_key(j, key);
    json_escaped(j, value);
}

void bench_json_u64(bench_json *j, const char *key, uint64_t value)
{
    char b[32];
    int n = snprintf(b, sizeof b, "%llu", (unsigned long long)value);
    json_key(j, key);
    json_append(j, b, (size_t)n);
}

void bench_json_num(bench_json *j, const char *key, double value, int decimals)
{
    char b[64];
    int n = isfinite(value) ? snprintf(b, sizeof b, "%.*f", decimals, value)
                            : snprintf(b, sizeof b, "null");
    json_key(j, key);
    json_append(j, b, (size_t)n);
}

void bench_json_raw(bench_json *j, const char *key, const char *raw)
{
    json_key(j, key);
    json_append(j, raw, strlen(raw));
}

void bench_json_merge(bench_json *j, const bench_json *members)
{
    if (!members->n)
        return;
    if (j->n)
        json_append(j, ",", 1);
    json_append(j, members->buf, members->len);
    j->n += members->n;
}

const char *bench_json_finish(bench_json *j)
{
    json_reserve(j, 2);
    memmove(j->buf + 1, j->buf, j->len);
    j->buf[0] = '{';
    j->buf[j->len + 1] = '}';
    j->buf[j->len + 2] = '\0';
    j->len += 2;
    return j->buf;
}

void bench_json_free(bench_json *j)
{
    free(j->buf);
    memset(j, 0, sizeof *j);
}

/* ---------------------------------------------------------------- runs */

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Sorts the n (1 to BENCH_MAX_RUNS + 1) values of v into sorted and returns their median. */
static double sort_median(const double *v, int n, double *sorted)
{
    memcpy(sorted, v, (size_t)n * sizeof(double));
    qsort(sorted, (size_t)n, sizeof(double), cmp_double);
    return n % 2 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
}

double bench_median(const double *v, int n)
{
    double sorted[BENCH_MAX_RUNS + 1];
    if (n <= 0 || n > BENCH_MAX_RUNS + 1)
        return NAN;
    return sort_median(v, n, sorted);
}

bench_stats bench_arm_stats(const bench_arm *a)
{
    bench_stats s = {NAN, NAN, NAN};
    if (a->runs <= 0)
        return s;
    double v[BENCH_MAX_RUNS];
    s.median = sort_median(a->eps, a->runs, v);
    s.min = v[0];
    s.max = v[a->runs - 1];
    return s;
}

static int run_arm(bench_ctx *ctx, bench_arm *a, const char *label, int slot)
{
    char err[512] = "";
    uint64_t events = 0;
    double secs = a->fn(a->opaque, &events, err, sizeof err);
    if (secs < 0)
        return bench_fail(ctx, "%s: %s", a->name, err[0] ? err : "failed");
    if (secs <= 0)
        secs = 1e-9;
    double eps = (double)events / secs;
    char rate[32];
    bench_say("  %-8s %-22s %12llu events in %8.4f s  %12s", label, a->name,
              (unsigned long long)events, secs, bench_fmt_rate(eps, rate));
    a->events = events;
    if (slot >= 0) {
        a->eps[slot] = eps;
        a->secs[slot] = secs;
        a->runs = slot + 1;
    }
    return 0;
}

int bench_measure(bench_ctx *ctx, bench_arm *arms, int n_arms)
{
    for (int i = 0; i < n_arms; i++)
        arms[i].runs = 0;
    if (ctx->main_only)
        n_arms = 1;
    for (int i = 0; i < n_arms && !ctx->main_only; i++)
        if (run_arm(ctx, &arms[i], "warm-up", -1) != 0)
            return -1;
    for (int r = 0; r < ctx->runs; r++) {
        char label[32];
        snprintf(label, sizeof label, "run %d/%d", r + 1, ctx->runs);
        for (int i = 0; i < n_arms; i++)
            if (run_arm(ctx, &arms[i], label, r) != 0)
                return -1;
    }
    for (int i = 0; i < n_arms; i++) {
        bench_stats s = bench_arm_stats(&arms[i]);
        char a[32], b[32], c[32];
        bench_say("  %-22s median %s (min %s, max %s)", arms[i].name, bench_fmt_rate(s.median, a),
                  bench_fmt_rate(s.min, b), bench_fmt_rate(s.max, c));
    }
    return 0;
}

void bench_report_main(bench_ctx *ctx, const bench_arm *arm)
{
    ctx->main = bench_arm_stats(arm);
    ctx->have_main = 1;
    ctx->main_events = arm->events;
    ctx->main_runs = arm->runs;
}

void bench_report_vs_scan(bench_ctx *ctx, const bench_arm *arm, const bench_arm *scan)
{
    bench_stats a = bench_arm_stats(arm), s = bench_arm_stats(scan);
    bench_json_num(&ctx->out, "scan_events_per_sec_median", s.median, 0);
    bench_json_num(&ctx->out, "vs_scan", a.median / s.median, 4);
    bench_say("  %s runs at %.1f%% of scan (%.0f vs %.0f events/s, same process)", arm->name,
              100.0 * a.median / s.median, a.median, s.median);
}

double bench_report_vs_peer(bench_ctx *ctx, const bench_arm *arm, const bench_arm *peer,
                            const char *what, int digits)
{
    bench_stats a = bench_arm_stats(arm), p = bench_arm_stats(peer);
    bench_json_str(&ctx->out, "peer", what);
    bench_json_num(&ctx->out, "peer_events_per_sec_median", p.median, 0);
    bench_json_num(&ctx->out, "weir_over_peer", a.median / p.median, digits);
    return a.median / p.median;
}

/* ---------------------------------------------------------------- inputs */

void bench_gen_params(const bench_ctx *ctx, uint64_t events, weir_gen_params *p)
{
    weir_gen_defaults(p);
    p->seed = ctx->seed;
    p->events = events;
}

int bench_make_file(bench_ctx *ctx, const char *path, bench_write_fn write, const void *opaque)
{
    struct stat st;
    if (stat(path, &st) == 0)
        return 0;
    char tmp[600];
    snprintf(tmp, sizeof tmp, "%s.tmp%d", path, (int)getpid());
    FILE *f = fopen(tmp, "w");
    if (!f)
        return bench_fail(ctx, "cannot create %s: %s", tmp, strerror(errno));
    static char iobuf[1 << 20];
    setvbuf(f, iobuf, _IOFBF, sizeof iobuf);
    int rc = write(ctx, f, opaque);
    if (fclose(f) != 0 || rc != 0 || rename(tmp, path) != 0) {
        int e = errno;
        unlink(tmp);
        if (!ctx->failed[0])
            bench_fail(ctx, "cannot write %s: %s", path, strerror(e));
        return -1;
    }
    return 1;
}

static int write_gen(bench_ctx *ctx, FILE *f, const void *opaque)
{
    (void)ctx;
    return weir_gen_write(opaque, f);
}

const char *bench_json_file(bench_ctx *ctx, const weir_gen_params *p)
{
    static char path[512];
    /* The name carries every parameter that changes the bytes, so a kept file is reused
     * only for identical inputs. */
    uint64_t h = XXH3_64bits(p, sizeof *p);
    snprintf(path, sizeof path, "%s/gen-s%llu-n%llu-%016llx.jsonl", ctx->datadir,
             (unsigned long long)p->seed, (unsigned long long)p->events, (unsigned long long)h);
    double t0 = bench_now();
    int made = bench_make_file(ctx, path, write_gen, p);
    if (made < 0)
        return NULL;
    if (made) {
        struct stat st;
        stat(path, &st);
        bench_say("  generated %llu JSON lines (%.1f MB) in %.2f s (not timed): %s",
                  (unsigned long long)p->events, (double)st.st_size / 1e6, bench_now() - t0, path);
    }
    return path;
}

int bench_lines_load(bench_ctx *ctx, const char *path, bench_lines *out)
{
    memset(out, 0, sizeof *out);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) {
        if (fd >= 0)
            close(fd);
        return bench_fail(ctx, "cannot open %s: %s", path, strerror(errno));
    }
    out->size = (size_t)st.st_size;
    out->buf = malloc(out->size + 1);
    size_t got = 0;
    while (out->buf && got < out->size) {
        ssize_t n = read(fd, out->buf + got, out->size - got);
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    close(fd);
    if (!out->buf || got != out->size) {
        bench_lines_free(out);
        return bench_fail(ctx, "cannot read %s", path);
    }
    size_t n = 0;
    for (size_t i = 0; i < out->size; i++)
        n += out->buf[i] == '\n';
    out->off = malloc((n + 1) * sizeof(size_t));
    out->len = malloc((n + 1) * sizeof(uint32_t));
    if (!out->off || !out->len) {
        bench_lines_free(out);
        return bench_fail(ctx, "out of memory");
    }
    size_t pos = 0;
    while (pos < out->size) {
        char *nl = memchr(out->buf + pos, '\n', out->size - pos);
        size_t end = nl ? (size_t)(nl - out->buf) : out->size;
        out->off[out->n] = pos;
        out->len[out->n] = (uint32_t)(end - pos);
        out->n++;
        pos = end + 1;
    }
    return 0;
}

void bench_lines_free(bench_lines *l)
{
    free(l->buf);
    free(l->off);
    free(l->len);
    memset(l, 0, sizeof *l);
}

#define KEY_STRIDE  12
#define USER_STRIDE 12

int bench_events_from_gen(const weir_gen_params *p, const weir_gen_event *g, size_t n,
                          bench_events *out)
{
    memset(out, 0, sizeof *out);
    uint64_t *khash = malloc((size_t)p->products * sizeof(uint64_t));
    XXH128_hash_t *ufp = malloc((size_t)p->users * sizeof(XXH128_hash_t));
    uint8_t *klen = malloc(p->products), *ulen = malloc(p->users);
    out->keys = malloc((size_t)p->products * KEY_STRIDE);
    out->users = malloc((size_t)p->users * USER_STRIDE);
    out->ev = malloc((n ? n : 1) * sizeof(weir_event));
    int rc = -1;
    if (!khash || !ufp || !klen || !ulen || !out->keys || !out->users || !out->ev)
        goto done;
    /* The texts and hashes are those the decoder computes for the generator's records:
     * product_id "<n>", user_id "u<n>" (gen.c). */
    for (uint32_t i = 0; i < p->products; i++) {
        char *k = out->keys + (size_t)i * KEY_STRIDE;
        klen[i] = (uint8_t)snprintf(k, KEY_STRIDE, "%u", i);
        khash[i] = XXH3_64bits(k, klen[i]);
    }
    for (uint32_t i = 0; i < p->users; i++) {
        char *u = out->users + (size_t)i * USER_STRIDE;
        ulen[i] = (uint8_t)snprintf(u, USER_STRIDE, "u%u", i);
        ufp[i] = XXH3_128bits(u, ulen[i]);
    }
    for (size_t i = 0; i < n; i++) {
        weir_event *e = &out->ev[i];
        uint32_t k = g[i].product, u = g[i].user;
        memset(e, 0, sizeof *e);
        e->ts = g[i].ts;
        e->key_hash = khash[k];
        e->user_fp[0] = ufp[u].low64;
        e->user_fp[1] = ufp[u].high64;
        e->key = (weir_slice){out->keys + (size_t)k * KEY_STRIDE, klen[k]};
        e->user = (weir_slice){out->users + (size_t)u * USER_STRIDE, ulen[u]};
        e->raw = e->key;
    }
    out->n = n;
    rc = 0;
done:
    free(khash);
    free(ufp);
    free(klen);
    free(ulen);
    if (rc)
        bench_events_free(out);
    return rc;
}

void bench_events_free(bench_events *e)
{
    free(e->ev);
    free(e->keys);
    free(e->users);
    memset(e, 0, sizeof *e);
}

/* ---------------------------------------------------------------- scan */

#define SCAN_BLOCK (4u << 20)

double bench_scan_run(void *opaque, uint64_t *events, char *errbuf, size_t errlen)
{
    const char *path = opaque;
    static char *buf;
    if (!buf && !(buf = malloc(SCAN_BLOCK))) {
        snprintf(errbuf, errlen, "out of memory");
        return -1;
    }
    double t0 = bench_now();
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        snprintf(errbuf, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    /* The file job's reader without the pipeline: block reads, memchr for line ends, the
     * unfinished tail moved to the front. The sum of lengths keeps the loop honest. */
    size_t len = 0, records = 0, bytes = 0;
    for (;;) {
        ssize_t n = read(fd, buf + len, SCAN_BLOCK - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            snprintf(errbuf, errlen, "%s: %s", path, strerror(errno));
            close(fd);
            return -1;
        }
        len += (size_t)n;
        size_t pos = 0;
        for (;;) {
            char *nl = memchr(buf + pos, '\n', len - pos);
            if (!nl)
                break;
            size_t end = (size_t)(nl - buf);
            records++;
            bytes += end - pos;
            pos = end + 1;
        }
        if (n == 0) {
            if (pos < len) {
                records++;
                bytes += len - pos;
            }
            break;
        }
        memmove(buf, buf + pos, len - pos);
        len -= pos;
        if (len == SCAN_BLOCK) {
            snprintf(errbuf, errlen, "%s: a line longer than %u bytes", path, SCAN_BLOCK);
            close(fd);
            return -1;
        }
    }
    close(fd);
    double secs = bench_now() - t0;
    if (bytes == 0 && records) {
        snprintf(errbuf, errlen, "empty records");
        return -1;
    }
    *events = records;
    return secs;
}

/* ---------------------------------------------------------------- children */

#define MAX_CHILDREN 16
static pid_t children[MAX_CHILDREN];

static void forget_child(pid_t pid)
{
    for (int i = 0; i < MAX_CHILDREN; i++)
        if (children[i] == pid)
            children[i] = 0;
}

void bench_kill_children(void)
{
    for (int i = 0; i < MAX_CHILDREN; i++)
        if (children[i] > 0) {
            kill(children[i], SIGKILL);
            waitpid(children[i], NULL, 0);
            children[i] = 0;
        }
}

pid_t bench_spawn(char *const argv[], const char *log_path)
{
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    const char *out = log_path ? log_path : "/dev/null";
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
    pid_t pid;
    int rc = posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0)
        return -1;
    for (int i = 0; i < MAX_CHILDREN; i++)
        if (!children[i]) {
            children[i] = pid;
            break;
        }
    return pid;
}

int bench_wait(pid_t pid)
{
    int status = -1;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    forget_child(pid);
    return status;
}

double bench_run_job(char *const argv[], const char *log, int *status, uint64_t *peak_rss,
                     char *summary, size_t summary_size)
{
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 2, log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    pid_t pid;
    double t0 = bench_now();
    int rc = posix_spawn(&pid, argv[0], &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0)
        return -1;
    struct rusage ru;
    while (wait4(pid, status, 0, &ru) < 0 && errno == EINTR)
        ;
    double secs = bench_now() - t0;
    *peak_rss = (uint64_t)ru.ru_maxrss * 1024u;
    summary[0] = '\0';
    FILE *f = fopen(log, "r");
    if (f) {
        /* The summary is the last JSON line on stderr. */
        char buf[4096];
        while (fgets(buf, sizeof buf, f))
            if (buf[0] == '{')
                snprintf(summary, summary_size, "%s", buf);
        fclose(f);
    }
    return secs;
}

double bench_summary_num(const char *line, const char *key)
{
    char pat[64];
    snprintf(pat, sizeof pat, "\"%s\":", key);
    const char *p = strstr(line, pat);
    return p ? strtod(p + strlen(pat), NULL) : -1;
}

void bench_stop(pid_t pid, int grace_ms)
{
    if (pid <= 0)
        return;
    kill(pid, SIGTERM);
    for (int waited = 0; waited < grace_ms; waited += 10) {
        if (waitpid(pid, NULL, WNOHANG) == pid) {
            forget_child(pid);
            return;
        }
        usleep(10000);
    }
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    forget_child(pid);
}

int bench_free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return 0;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t alen = sizeof a;
    int port = 0;
    if (bind(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
        getsockname(fd, (struct sockaddr *)&a, &alen) == 0)
        port = ntohs(a.sin_port);
    close(fd);
    return port;
}

int bench_wait_port(int port, pid_t pid, int timeout_ms)
{
    double deadline = bench_now() + timeout_ms / 1000.0;
    while (bench_now() < deadline) {
        if (pid > 0 && waitpid(pid, NULL, WNOHANG) == pid) {
            forget_child(pid);
            return -1;
        }
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        struct sockaddr_in a = {.sin_family = AF_INET,
                                .sin_port = htons((uint16_t)port),
                                .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        int ok = fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof a) == 0;
        if (fd >= 0)
            close(fd);
        if (ok)
            return 0;
        usleep(20000);
    }
    return -1;
}

weir_err bench_window_job_file(weir_conf *conf, const char *path, weir_window_job_stats *st,
                               char *err, size_t errlen)
{
    weir_err rc = weir_conf_set(conf, "input.path", path, err, errlen);
    if (rc == WEIR_OK)
        rc = weir_conf_set(conf, "output.path", "/dev/null", err, errlen);
    return rc == WEIR_OK ? weir_window_job_run_file(conf, NULL, st, err, errlen) : rc;
}
