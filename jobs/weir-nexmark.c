/* weir-nexmark: the Nexmark benchmark on weir. `gen` writes generated events as JSON lines to a
 * file or a Kafka topic; the queries are further subcommands. See docs/NEXMARK.md. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <librdkafka/rdkafka.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "weir/conf.h"
#include "weir/job.h"
#include "weir/kafka.h"
#include "weir/log.h"
#include "weir/nexmark.h"
#include "weir/weir.h"
#include "weir/window_job.h"

#include "job_ops.h"
#include "signals.h"

#include "../examples/nexmark/nexmark_queries.h"

#define PROG "weir-nexmark"

static volatile sig_atomic_t stop_flag;
/* The logger of --log-format and --log-level, made before a command parses its options;
 * every message goes through it. */
static weir_logger *logger;
/* --check-config: the command checks its options and exits 0 or 2 without starting. */
static int check_only;

static void on_signal(int sig)
{
    (void)sig;
    stop_flag = 1;
}

/* One line naming the flag and what it accepts; exit status 2. */
/* One message at `level`, through the logger (or as "weir-nexmark: ..." before there is one). */
__attribute__((format(printf, 2, 0))) static void vsay(weir_log_level level, const char *fmt,
                                                       va_list ap)
{
    char msg[1024];
    vsnprintf(msg, sizeof msg, fmt, ap);
    if (logger)
        weir_logger_log(logger, level, msg, NULL, 0);
    else
        fprintf(stderr, PROG ": %s\n", msg);
}

__attribute__((format(printf, 1, 2))) static void say_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsay(WEIR_LOG_ERROR, fmt, ap);
    va_end(ap);
}

/* One line naming the flag and what it accepts; exit status 2. */
__attribute__((format(printf, 1, 2))) static int bad(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsay(WEIR_LOG_ERROR, fmt, ap);
    va_end(ap);
    return 2;
}

/* --check-config's answer for a configuration that would run. */
static int config_ok(void)
{
    weir_logger_log(logger, WEIR_LOG_INFO, "configuration ok", NULL, 0);
    return 0;
}

/* The flags every command takes: --log-format, --log-level (set in `conf`, which the logger
 * is made from) and --check-config. Returns 1 when argv[*i] is one (moving *i past its
 * value), 0 when not, or an exit code + 2 for a bad value (with the message written). */
static int common_flag(int argc, char **argv, int *i, weir_conf *conf, int *check)
{
    const char *a = argv[*i];
    if (!strcmp(a, "--check-config")) {
        *check = 1;
        return 1;
    }
    char flag[32];
    const char *eq = strchr(a, '=');
    snprintf(flag, sizeof flag, "%.*s", eq ? (int)(eq - a) : (int)strlen(a), a);
    if (strcmp(flag, "--log-format") && strcmp(flag, "--log-level"))
        return 0;
    const char *v = eq ? eq + 1 : (*i + 1 < argc ? argv[++*i] : NULL);
    int fmt = flag[6] == 'f';
    const char *accepted = fmt ? "text|json" : "debug|info|warn|error";
    if (!v) {
        bad("%s: missing value: accepted values are %s", flag, accepted);
        return 4;
    }
    char inner[448];
    if (weir_conf_set(conf, fmt ? "log.format" : "log.level", v, inner, sizeof inner) != WEIR_OK) {
        bad("%s: invalid value \"%.100s\": accepted values are %s", flag, v, accepted);
        return 4;
    }
    return 1;
}

/* A decimal integer in lo..hi, the whole of `text`. */
static int parse_u64(const char *text, uint64_t lo, uint64_t hi, uint64_t *out)
{
    if (!text || !*text || *text == '-' || *text == '+')
        return -1;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(text, &end, 10);
    if (errno || *end || v < lo || v > hi)
        return -1;
    *out = v;
    return 0;
}

/* ------------------------------------------------------------------ gen */

typedef struct gen_opts {
    weir_nexmark_params params;
    int have_events, have_seed;
    const char *output; /* NULL: standard output unless producing to Kafka */
    const char *topic;
    weir_conf *conf; /* brokers and kafka.* properties */
} gen_opts;

static void gen_usage(FILE *out)
{
    fprintf(out,
            "usage: " PROG " gen --events N --seed S [--rate R] [--disorder-ms D]\n"
            "                    [--output PATH|-] [--brokers HOST:PORT --topic T] [-X key=value]\n"
            "Writes N Nexmark events (people, auctions and bids as Apache Beam's Nexmark draws\n"
            "them), one JSON object a line, the same bytes for the same seed.\n\n"
            "  --events N          events to generate, 0..%llu\n"
            "  --seed S            seed of every random draw, 0..2^64-1\n"
            "  --rate R            events per second of event time, 1..%llu (default %d)\n"
            "  --disorder-ms D     delay 10%% of the events by 1..D ms of event time in output\n"
            "                      order, 0..%lld (default 0: in event-time order)\n"
            "  --output PATH|-     write to PATH, or standard output (-, the default without\n"
            "                      --brokers)\n"
            "  --brokers HOST:PORT produce to Kafka instead (also to --output when given)\n"
            "  --topic T           the topic to produce to (with --brokers)\n"
            "  -X key=value        a configuration key, e.g. kafka.<librdkafka property>\n"
            "  --log-format text|json, --log-level debug|info|warn|error: messages on stderr\n"
            "  --check-config      check the options and exit 0, or 2 with the reason\n\n"
            "Kafka messages are keyed by a bid's auction, an auction's id and a person's id,\n"
            "timestamped with date_time. Exit status: 0 success, 1 I/O or delivery failure,\n"
            "2 bad usage.\n",
            (unsigned long long)WEIR_NEXMARK_MAX_EVENTS, (unsigned long long)WEIR_NEXMARK_MAX_RATE,
            WEIR_NEXMARK_DEFAULT_RATE, (long long)WEIR_NEXMARK_MAX_DISORDER_MS);
}

static int parse_gen(int argc, char **argv, gen_opts *o)
{
    char err[512];
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            gen_usage(stdout);
            return -1;
        }
        char flag[64];
        const char *eq = strncmp(a, "--", 2) == 0 ? strchr(a, '=') : NULL;
        snprintf(flag, sizeof flag, "%.*s", eq ? (int)(eq - a) : (int)strlen(a), a);
        const char *v = eq ? eq + 1 : (i + 1 < argc ? argv[++i] : NULL);
        if (!strcmp(flag, "--events") || !strcmp(flag, "--seed") || !strcmp(flag, "--rate") ||
            !strcmp(flag, "--disorder-ms") || !strcmp(flag, "--output") ||
            !strcmp(flag, "--brokers") || !strcmp(flag, "--topic") || !strcmp(flag, "-X")) {
            if (!v)
                return bad("%s: missing value (see " PROG " gen --help)", flag);
        } else if (strncmp(a, "-", 1) == 0) {
            return bad("%s: unknown option: accepted options are --events, --seed, --rate, "
                       "--disorder-ms, --output, --brokers, --topic, -X",
                       flag);
        } else {
            return bad("unexpected argument \"%s\" (see " PROG " gen --help)", a);
        }
        if (!strcmp(flag, "--events")) {
            if (parse_u64(v, 0, WEIR_NEXMARK_MAX_EVENTS, &o->params.events))
                return bad("--events: invalid value \"%s\": accepted values are integers "
                           "0..%s",
                           v, "1000000000000000");
            o->have_events = 1;
        } else if (!strcmp(flag, "--seed")) {
            if (parse_u64(v, 0, UINT64_MAX, &o->params.seed))
                return bad("--seed: invalid value \"%s\": accepted values are integers %s", v,
                           "0..18446744073709551615");
            o->have_seed = 1;
        } else if (!strcmp(flag, "--rate")) {
            if (parse_u64(v, 1, WEIR_NEXMARK_MAX_RATE, &o->params.rate))
                return bad("--rate: invalid value \"%s\": accepted values are integers %s", v,
                           "1..1000000000 (events per second)");
        } else if (!strcmp(flag, "--disorder-ms")) {
            uint64_t d;
            if (parse_u64(v, 0, (uint64_t)WEIR_NEXMARK_MAX_DISORDER_MS, &d))
                return bad("--disorder-ms: invalid value \"%s\": accepted values are integers "
                           "%s",
                           v, "0..86400000 (milliseconds)");
            o->params.disorder_ms = (int64_t)d;
        } else if (!strcmp(flag, "--output")) {
            if (!*v)
                return bad("--output: invalid value \"%s\": accepted values are %s", v,
                           "a file path or - (standard output)");
            o->output = v;
        } else if (!strcmp(flag, "--topic")) {
            if (!*v)
                return bad("--topic: invalid value \"%s\": accepted values are %s", v,
                           "a Kafka topic name");
            o->topic = v;
        } else if (!strcmp(flag, "--brokers")) {
            if (weir_conf_set(o->conf, "brokers", v, err, sizeof err) != WEIR_OK)
                return bad("--brokers: %s", err);
        } else { /* -X */
            const char *e = strchr(v, '=');
            if (!e || e == v)
                return bad("-X: invalid value \"%s\": accepted values are %s", v, "key=value");
            char key[256];
            snprintf(key, sizeof key, "%.*s", (int)(e - v), v);
            if (weir_conf_set(o->conf, key, e + 1, err, sizeof err) != WEIR_OK)
                return bad("-X: %s", err);
        }
    }
    if (!o->have_events)
        return bad("--events: missing: accepted values are integers 0..%llu",
                   (unsigned long long)WEIR_NEXMARK_MAX_EVENTS);
    if (!o->have_seed)
        return bad("--seed: missing: accepted values are integers 0..%llu",
                   (unsigned long long)UINT64_MAX);
    int kafka = weir_conf_get(o->conf, "brokers")[0] != '\0';
    if (kafka != (o->topic != NULL))
        return bad("%s: missing: --brokers and --topic go together",
                   kafka ? "--topic" : "--brokers");
    return 0;
}

typedef struct producer {
    rd_kafka_t *rk;
    rd_kafka_topic_t *rkt;
    uint64_t failed;
    char first_error[256];
} producer;

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    (void)rk;
    producer *p = opaque;
    if (m->err) {
        if (!p->failed++)
            snprintf(p->first_error, sizeof p->first_error, "%s", rd_kafka_err2str(m->err));
    }
}

static int producer_open(producer *p, const weir_conf *conf, const char *topic)
{
    static const char *const defaults[] = {"enable.idempotence", "true",      "partitioner",
                                           "murmur2_random",     "linger.ms", "20",
                                           "batch.size",         "1000000",   NULL};
    char err[512];
    rd_kafka_conf_t *rc = rd_kafka_conf_new();
    if (weir_kafka_conf_apply(rc, conf, "producer", defaults, err, sizeof err) != WEIR_OK) {
        rd_kafka_conf_destroy(rc);
        return bad("%s", err);
    }
    rd_kafka_conf_set_opaque(rc, p);
    rd_kafka_conf_set_dr_msg_cb(rc, on_delivery);
    p->rk = rd_kafka_new(RD_KAFKA_PRODUCER, rc, err, sizeof err);
    if (!p->rk) {
        rd_kafka_conf_destroy(rc);
        return bad("--brokers: cannot create the Kafka producer: %s", err);
    }
    p->rkt = rd_kafka_topic_new(p->rk, topic, NULL);
    if (!p->rkt)
        return bad("--topic: %s", rd_kafka_err2str(rd_kafka_last_error()));
    return 0;
}

/* Produces one event, waiting while librdkafka's queue is full. 0, or 1 on a failure. */
static int produce(producer *p, const weir_nexmark_event *ev, const char *line, size_t len)
{
    char key[24];
    size_t klen = weir_nexmark_event_key(ev, key);
    for (;;) {
        rd_kafka_resp_err_t e = rd_kafka_producev(
            p->rk, RD_KAFKA_V_RKT(p->rkt), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
            RD_KAFKA_V_KEY(key, klen), RD_KAFKA_V_VALUE((void *)line, len),
            RD_KAFKA_V_TIMESTAMP(ev->date_time), RD_KAFKA_V_END);
        if (e == RD_KAFKA_RESP_ERR_NO_ERROR)
            break;
        if (e != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
            say_error("produce failed: %s", rd_kafka_err2str(e));
            return 1;
        }
        rd_kafka_poll(p->rk, 50);
        if (stop_flag)
            return 1;
    }
    rd_kafka_poll(p->rk, 0);
    return p->failed ? 1 : 0;
}

/* Waits for every delivery (up to 60 s), then frees the producer. 0, or 1 when a message was
 * not delivered. Idempotent. */
static int producer_close(producer *p)
{
    int rc = 0;
    if (p->rk) {
        rd_kafka_resp_err_t e = rd_kafka_flush(p->rk, 60000);
        if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
            say_error("%d messages not delivered within 60 s: %s", rd_kafka_outq_len(p->rk),
                      rd_kafka_err2str(e));
            rc = 1;
        }
        if (p->failed) {
            say_error("%" PRIu64 " messages failed, the first with: %s", p->failed, p->first_error);
            rc = 1;
        }
    }
    if (p->rkt)
        rd_kafka_topic_destroy(p->rkt);
    if (p->rk)
        rd_kafka_destroy(p->rk);
    p->rkt = NULL;
    p->rk = NULL;
    return rc;
}

static int write_all(FILE *f, const char *buf, size_t len)
{
    return len && fwrite(buf, 1, len, f) != len ? -1 : 0;
}

static int cmd_gen(int argc, char **argv)
{
    gen_opts o;
    memset(&o, 0, sizeof o);
    weir_nexmark_params_default(&o.params);
    o.conf = weir_conf_new();
    if (!o.conf)
        return 1;
    int rc = parse_gen(argc, argv, &o);
    if (rc) {
        weir_conf_destroy(o.conf);
        return rc < 0 ? 0 : rc;
    }
    char err[512];
    weir_nexmark_gen *g = NULL;
    FILE *out = NULL;
    producer prod;
    memset(&prod, 0, sizeof prod);
    char *buf = NULL;
    const size_t buf_size = 1 << 18;
    if (weir_nexmark_gen_new(&o.params, &g, err, sizeof err) != WEIR_OK) {
        rc = bad("%s", err);
        goto done;
    }
    if (check_only) { /* the producer's properties, without a producer or a file */
        rd_kafka_conf_t *kc = o.topic ? rd_kafka_conf_new() : NULL;
        static const char *const none[] = {NULL};
        if (kc && weir_kafka_conf_apply(kc, o.conf, "producer", none, err, sizeof err) != WEIR_OK)
            rc = bad("%s", err);
        else
            rc = config_ok();
        if (kc)
            rd_kafka_conf_destroy(kc);
        goto done;
    }
    if (o.topic && (rc = producer_open(&prod, o.conf, o.topic)) != 0)
        goto done;
    if (!o.topic || o.output) {
        if (!o.output || !strcmp(o.output, "-")) {
            out = stdout;
        } else if (!(out = fopen(o.output, "wb"))) {
            say_error("--output: cannot open %s: %s", o.output, strerror(errno));
            rc = 1;
            goto done;
        }
    }
    buf = malloc(buf_size);
    if (!buf) {
        rc = 1;
        goto done;
    }
    catch_stop_signals(on_signal);

    /* Lines are formatted straight into one buffer, written when the next might not fit. */
    size_t used = 0;
    weir_nexmark_event ev;
    int got = 0;
    while (!stop_flag && (got = weir_nexmark_gen_next(g, &ev)) == 1) {
        size_t len = weir_nexmark_event_to_json(&ev, buf + used, buf_size - used);
        if (prod.rk && produce(&prod, &ev, buf + used, len - 1) != 0) {
            rc = 1;
            goto done;
        }
        used = out ? used + len : 0;
        if (buf_size - used < WEIR_NEXMARK_JSON_MAX) {
            if (write_all(out, buf, used) != 0)
                goto write_failed;
            used = 0;
        }
    }
    if (stop_flag || got < 0) {
        say_error("%s", stop_flag ? "interrupted" : weir_err_str((weir_err)got));
        rc = 1;
        goto done;
    }
    if (out && (write_all(out, buf, used) != 0 || fflush(out) != 0))
        goto write_failed;
    /* Every message delivered before the summary claims the events. */
    if (producer_close(&prod) != 0) {
        rc = 1;
        goto done;
    }
    fprintf(stderr,
            "{\"mode\":\"nexmark-gen\",\"events\":%" PRIu64 ",\"delayed\":%" PRIu64
            ",\"seed\":%" PRIu64 ",\"rate\":%" PRIu64 ",\"disorder_ms\":%lld}\n",
            weir_nexmark_gen_count(g), weir_nexmark_gen_delayed(g), o.params.seed, o.params.rate,
            (long long)o.params.disorder_ms);
    goto done;
write_failed:
    say_error("write to %s failed: %s", o.output ? o.output : "-", strerror(errno));
    rc = 1;
done:
    if (producer_close(&prod) != 0 && rc == 0)
        rc = 1;
    if (out && out != stdout && fclose(out) != 0 && rc == 0) {
        say_error("closing %s failed: %s", o.output, strerror(errno));
        rc = 1;
    }
    free(buf);
    weir_nexmark_gen_destroy(g);
    weir_conf_destroy(o.conf);
    return rc;
}

/* ------------------------------------------------------------------ queries */

static const char *const QUERY_DOC[] = {
    "q0  pass-through: every bid as {auction, bidder, price, date_time, extra}",
    "q1  currency conversion: q0 with price x 0.908 (a double)",
    "q2  selection: bids with auction % 123 = 0 as {auction, price}",
    "q5  hot items: hop:10s/2s bids per auction; per window the auction(s) with the most",
    "q7  highest bid: tumble:10s; per window every bid with the window's highest price",
    "q11 user sessions: session:10s bids per bidder (examples/nexmark/q11.conf)",
    "q15 bidding statistics: tumble:1d over all bids (examples/nexmark/q15.conf)",
    "q16 channel statistics: q15 per channel (examples/nexmark/q16.conf)",
};

static void query_usage(FILE *out, const char *name)
{
    fprintf(out,
            "usage: " PROG " %s [--input PATH|-] [--output PATH|-] [--print-config]\n"
            "       " PROG " %s --brokers HOST:PORT [Kafka options]\n"
            "Reads Nexmark events as JSON lines (weir-nexmark gen), event time date_time, 4 s\n"
            "out of order, allowed lateness 0, each window emitted once; writes one JSON line\n"
            "per result and a JSON summary on standard error. Records of other types and\n"
            "malformed lines are skipped and counted. docs/NEXMARK.md.\n"
            "Kafka options, as weir-window and unique-users take them (docs/KAFKA.md):\n"
            "  --input-topic T --output-topic T --group-id G (default weir-nexmark-QUERY)\n"
            "  --dead-letter-topic T --stop-when-idle DUR --drain --checkpoint-topic T\n"
            "  --checkpoint-interval DUR --exactly-once --instance-id ID -X key=value\n"
            "Operations (Kafka mode; docs/OPERATIONS.md): --metrics-port P --metrics-host A\n"
            "  --watermark-stuck DUR (/metrics, /healthz, /readyz)\n"
            "Every query: --log-format text|json --log-level debug|info|warn|error\n"
            "  --check-config (check the options, exit 0 or 2, start nothing)\n",
            name, name);
    for (size_t i = 0; i < sizeof QUERY_DOC / sizeof QUERY_DOC[0]; i++)
        if (!strncmp(QUERY_DOC[i], name, strlen(name)) && QUERY_DOC[i][strlen(name)] == ' ')
            fprintf(out, "\n%s\n", QUERY_DOC[i]);
    fprintf(out, "\nexit status: 0 success, 1 I/O failure, 2 bad usage\n");
}

static void invalid_by(FILE *out, const uint64_t *by)
{
    fputs(",\"invalid_by\":{", out);
    int first = 1;
    for (int i = 1; i < WEIR_REC_STATUS_COUNT; i++) {
        if (!by[i])
            continue;
        fprintf(out, "%s\"%s\":%" PRIu64, first ? "" : ",", weir_rec_status_name(i), by[i]);
        first = 0;
    }
    fputc('}', out);
}

/* The Kafka flags a query takes: those of weir-window and unique-users. */
static const char *const KAFKA_FLAGS[] = {
    "--brokers",      "--input-topic",         "--output-topic",     "--group-id",
    "--instance-id",  "--dead-letter-topic",   "--stop-when-idle",   "--drain",
    "--exactly-once", "--checkpoint-interval", "--checkpoint-topic", NULL,
};

/* The operations flags of the queries that can run long (on Kafka): those of weir-window. */
static const char *const OPS_FLAGS[] = {"--metrics-port", "--metrics-host", "--watermark-stuck",
                                        NULL};

/* Kafka mode of a query: weir-window's Kafka loop (for q0-q7 with the query's second step);
 * its group is weir-nexmark-QUERY unless named. */
static weir_err run_generic_kafka(const char *name, weir_conf *conf, const weir_job_env *env,
                                  char *err, size_t err_size)
{
    if (!weir_conf_is_set(conf, "group.id")) {
        char g[64];
        snprintf(g, sizeof g, "weir-nexmark-%s", name);
        weir_conf_set(conf, "group.id", g, err, err_size);
    }
    err[0] = '\0';
    const weir_window_step *step = nxq_step(name);
    return step ? weir_window_job_run_kafka_step(conf, step, env, err, err_size)
                : weir_window_job_run_kafka(conf, env, err, err_size);
}

/* q11, q15, q16: the generic job with the lines of examples/nexmark/qN.conf, then the Kafka
 * settings `kafka` (n key=value pairs); q0-q7 on Kafka: the generic job with their step
 * (nxq_step_config, nxq_step). */
static int run_generic(const char *name, const char *input, const char *output,
                       const char *const *kafka, const char *const *flags, size_t n_kafka)
{
    char err[1024];
    weir_conf *conf = weir_conf_new();
    if (!conf)
        return 1;
    int code = 0;
    if (nxq_config_apply(conf, name, err, sizeof err) != WEIR_OK ||
        weir_conf_set(conf, "input.path", input, err, sizeof err) != WEIR_OK ||
        weir_conf_set(conf, "output.path", output, err, sizeof err) != WEIR_OK) {
        weir_conf_destroy(conf);
        return bad("%s", err);
    }
    for (size_t i = 0; i < n_kafka; i += 2)
        if (weir_conf_set(conf, kafka[i], kafka[i + 1], err, sizeof err) != WEIR_OK) {
            weir_conf_destroy(conf);
            return bad("%s: %s", flags[i / 2], err);
        }
    const weir_window_step *step = nxq_step(name);
    if (step && !weir_conf_get(conf, "brokers")[0]) {
        weir_conf_destroy(conf);
        return bad("%s: %s takes the Kafka and metrics options with --brokers only "
                   "(without, it reads --input)",
                   n_kafka ? flags[0] : "--brokers", name);
    }
    if ((step ? weir_window_job_check_step(conf, step, err, sizeof err)
              : weir_window_job_check(conf, err, sizeof err)) != WEIR_OK) {
        weir_conf_destroy(conf);
        return bad("%s", err);
    }
    if (check_only) {
        weir_conf_destroy(conf);
        return config_ok();
    }
    job_ops ops;
    if ((code = job_ops_start(&ops, conf, logger, err, sizeof err)) != 0) {
        say_error("%s", err);
        job_ops_stop(&ops);
        weir_conf_destroy(conf);
        return code;
    }
    weir_conf_set_log(conf, weir_logger_fn, logger);
    weir_job_env env = {&stop_flag, stderr, ops.metrics, ops.health};
    weir_err rc;
    err[0] = '\0';
    if (weir_conf_get(conf, "brokers")[0]) {
        rc = run_generic_kafka(name, conf, &env, err, sizeof err);
    } else {
        weir_window_job_stats st;
        rc = weir_window_job_run_file(conf, &env, &st, err, sizeof err);
        fprintf(stderr, "{\"query\":\"%s\",\"records\":%" PRIu64 ",\"invalid\":%" PRIu64, name,
                st.records, st.invalid);
        invalid_by(stderr, st.invalid_by);
        fprintf(stderr,
                ",\"filtered\":%" PRIu64 ",\"bids\":%" PRIu64 ",\"late_dropped\":%" PRIu64
                ",\"outputs\":%" PRIu64 ",\"elapsed_sec\":%.3f,\"records_per_sec\":%.0f}\n",
                st.filtered, st.op.accepted, st.op.late_dropped, st.op.emissions, st.elapsed_sec,
                st.elapsed_sec > 0 ? (double)st.records / st.elapsed_sec : 0.0);
    }
    if (rc != WEIR_OK)
        say_error("%s", err[0] ? err : weir_err_str(rc));
    code = job_exit_code(rc);
    job_ops_stop(&ops);
    weir_conf_set_log(conf, NULL, NULL);
    weir_conf_destroy(conf);
    return code;
}

static int run_query(const char *name, int argc, char **argv)
{
    const char *input = "-", *output = "-";
    /* Kafka settings as key, value pairs (argv strings or literals): at most one per flag. */
    const char *kafka[2 * 64], *flags[64]; /* and the flag of each pair */
    size_t n_kafka = 0;
    char xkeys[32][256]; /* the keys of -X options */
    size_t n_x = 0;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        int kflag = !strcmp(a, "-X"), oflag = 0;
        for (size_t k = 0; KAFKA_FLAGS[k] && !kflag; k++)
            kflag = !strcmp(a, KAFKA_FLAGS[k]);
        for (size_t k = 0; OPS_FLAGS[k] && !kflag && !oflag; k++)
            oflag = !strcmp(a, OPS_FLAGS[k]);
        if (kflag || oflag) {
            if (n_kafka + 2 > sizeof kafka / sizeof *kafka)
                return bad("%s: too many Kafka options", a);
            if (!strcmp(a, "-X")) {
                const char *kv = i + 1 < argc ? argv[++i] : "";
                const char *eq = strchr(kv, '=');
                if (!eq || eq == kv || eq - kv > 255)
                    return bad("-X %.200s: expected key=value", kv);
                if (n_x == sizeof xkeys / sizeof *xkeys)
                    return bad("-X: too many options");
                char *key = xkeys[n_x++];
                snprintf(key, sizeof xkeys[0], "%.*s", (int)(eq - kv), kv);
                flags[n_kafka / 2] = "-X";
                kafka[n_kafka++] = key;
                kafka[n_kafka++] = eq + 1;
                continue;
            }
            int takes_value = 1;
            const char *key = weir_conf_key_for_flag(a, &takes_value);
            if (!key)
                return bad("%s: unknown option", a);
            if (takes_value && (i + 1 >= argc || !argv[i + 1][0]))
                return bad("%s: missing value", a);
            flags[n_kafka / 2] = a;
            kafka[n_kafka++] = key;
            kafka[n_kafka++] = takes_value ? argv[++i] : "true";
            continue;
        }
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            query_usage(stdout, name);
            return 0;
        }
        if (!strcmp(a, "--print-config")) {
            const char *text = nxq_config(name);
            if (!text)
                return bad("--print-config: %s is not a weir-window configuration (only q11, "
                           "q15 and q16 are)",
                           name);
            fputs(text, stdout);
            return 0;
        }
        const char **dst = !strcmp(a, "--input") ? &input : !strcmp(a, "--output") ? &output : NULL;
        if (!dst)
            return bad("%s: unknown option \"%.100s\" (accepted: --input PATH|-, --output "
                       "PATH|-, --print-config, --help, --brokers and "
                       "the Kafka options of --help)",
                       name, a);
        if (i + 1 >= argc || !argv[i + 1][0])
            return bad("%s: missing value (a path, or - for standard %s)", a,
                       dst == &input ? "input" : "output");
        *dst = argv[++i];
    }
    catch_stop_signals(on_signal);
    if (nxq_config(name) || (nxq_step(name) && n_kafka))
        return run_generic(name, input, output, kafka, flags, n_kafka);
    if (check_only) { /* the files are not opened */
        char err[512];
        nxq *q;
        if (nxq_new(name, NULL, &q, err, sizeof err) != WEIR_OK)
            return bad("%s", err);
        nxq_destroy(q);
        return config_ok();
    }
    int fd = strcmp(input, "-") ? open(input, O_RDONLY | O_CLOEXEC) : STDIN_FILENO;
    if (fd < 0) {
        say_error("--input: cannot open %s: %s", input, strerror(errno));
        return 1;
    }
    FILE *out = strcmp(output, "-") ? fopen(output, "w") : stdout;
    if (!out) {
        say_error("--output: cannot open %s: %s", output, strerror(errno));
        if (fd != STDIN_FILENO)
            close(fd);
        return 1;
    }
    char err[512];
    nxq *q;
    int code = 0;
    if (nxq_new(name, out, &q, err, sizeof err) != WEIR_OK) {
        say_error("%s", err);
        code = 1;
    } else {
        double t0 = weir_mono_sec();
        weir_err rc = nxq_run_fd(q, fd, &stop_flag);
        double secs = weir_mono_sec() - t0;
        const nxq_stats *st = nxq_get_stats(q);
        fprintf(stderr, "{\"query\":\"%s\",\"records\":%" PRIu64 ",\"invalid\":%" PRIu64, name,
                st->records, st->invalid);
        invalid_by(stderr, st->invalid_by);
        fprintf(stderr,
                ",\"filtered\":%" PRIu64 ",\"bad_fields\":%" PRIu64 ",\"bids\":%" PRIu64
                ",\"late_dropped\":%" PRIu64 ",\"outputs\":%" PRIu64
                ",\"elapsed_sec\":%.3f,\"records_per_sec\":%.0f}\n",
                st->filtered, st->bad_fields, st->bids, st->late_dropped, st->outputs, secs,
                secs > 0 ? (double)st->records / secs : 0.0);
        if (rc != WEIR_OK) {
            say_error("%s: %s",
                      rc == WEIR_ERR_IO ? (out == stdout ? "standard output" : output) : name,
                      rc == WEIR_ERR_IO ? "write or read failed" : weir_err_str(rc));
            code = 1;
        }
        nxq_destroy(q);
    }
    if (fd != STDIN_FILENO)
        close(fd);
    if (out != stdout && fclose(out) != 0 && !code) {
        say_error("--output: cannot write %s", output);
        code = 1;
    }
    return code;
}

#define QUERY_CMD(n)                                                                               \
    static int cmd_##n(int argc, char **argv)                                                      \
    {                                                                                              \
        return run_query(#n, argc, argv);                                                          \
    }
QUERY_CMD(q0)
QUERY_CMD(q1)
QUERY_CMD(q2)
QUERY_CMD(q5)
QUERY_CMD(q7)
QUERY_CMD(q11)
QUERY_CMD(q15)
QUERY_CMD(q16)

/* ------------------------------------------------------------------ commands */

typedef struct command {
    const char *name;
    int (*run)(int argc, char **argv); /* the arguments after the command's name */
    const char *summary;
} command;

static const command COMMANDS[] = {
    {"gen", cmd_gen, "generate Nexmark events as JSON lines, to a file or Kafka"},
    {"q0", cmd_q0, "pass-through: every bid"},
    {"q1", cmd_q1, "currency conversion: every bid, price x 0.908"},
    {"q2", cmd_q2, "selection: bids of auctions whose id is a multiple of 123"},
    {"q5", cmd_q5, "hot items: per 10 s window sliding by 2 s, the auctions with the most bids"},
    {"q7", cmd_q7, "highest bid: per 10 s window, the bids with the highest price"},
    {"q11", cmd_q11, "user sessions: bids per bidder per session of activity (10 s gap)"},
    {"q15", cmd_q15, "bidding statistics per day, by price rank"},
    {"q16", cmd_q16, "channel statistics: q15 per channel"},
};

#define N_COMMANDS (sizeof COMMANDS / sizeof COMMANDS[0])

/* Takes the flags every command shares out of its arguments (--log-format, --log-level,
 * --check-config), makes the logger, then runs the command with the others. */
static int run_command(const command *c, int argc, char **argv)
{
    weir_conf *lc = weir_conf_new();
    char **rest = malloc((size_t)argc * sizeof *rest);
    int n = 0, code = 0;
    if (!lc || !rest) {
        code = 1;
        goto out;
    }
    for (int i = 2; i < argc; i++) {
        int r = common_flag(argc, argv, &i, lc, &check_only);
        if (r > 1) {
            code = r - 2;
            goto out;
        }
        if (!r)
            rest[n++] = argv[i];
    }
    if (!(logger = job_logger(PROG, lc))) {
        code = 1;
        goto out;
    }
    code = c->run(n, rest);
out:
    weir_logger_destroy(logger);
    logger = NULL;
    weir_conf_destroy(lc);
    free(rest);
    return code;
}

static void usage(FILE *out)
{
    fprintf(out, "usage: " PROG " COMMAND [options]   (" PROG " COMMAND --help)\n\ncommands:\n");
    for (size_t i = 0; i < N_COMMANDS; i++)
        fprintf(out, "  %-6s %s\n", COMMANDS[i].name, COMMANDS[i].summary);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(argv[1], "--version")) {
        printf(PROG " (weir) %s\n", weir_version());
        return 0;
    }
    for (size_t i = 0; i < N_COMMANDS; i++)
        if (!strcmp(argv[1], COMMANDS[i].name))
            return run_command(&COMMANDS[i], argc, argv);
    char names[256] = "";
    for (size_t i = 0; i < N_COMMANDS; i++)
        snprintf(names + strlen(names), sizeof names - strlen(names), "%s%s", i ? "|" : "",
                 COMMANDS[i].name);
    return bad("unknown command \"%s\": accepted commands are %s", argv[1], names);
}
