/* weir-dev-broker: librdkafka's mock cluster as a standalone Kafka broker on 127.0.0.1, for
 * development and tests. Prints its bootstrap address first, runs until SIGINT/SIGTERM;
 * SIGUSR1 takes every broker down, SIGUSR2 brings them back, SIGHUP makes the next 100 produce
 * requests fail for good. */
#include <errno.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "weir/log.h"

#define MAX_TOPICS       64
#define PRODUCE_FAILURES 100

typedef struct topic_spec {
    char name[250];
    int partitions;
} topic_spec;

static void usage(FILE *out)
{
    fprintf(out,
            "usage: weir-dev-broker [--topic NAME:PARTITIONS]... [--brokers N] [--quiet]\n"
            "                       [--log-format text|json] [--log-level LEVEL] [--check-config]\n"
            "  Runs librdkafka's mock Kafka cluster on 127.0.0.1 (ports chosen free by the\n"
            "  system) and prints its bootstrap address as the first line on stdout.\n"
            "  --topic NAME:PARTITIONS  create a topic (repeatable); default: ecom-raw-events:8,\n"
            "                           ecom-analytics-results:8, orders:8,\n"
            "                           weir-checkpoints:8 (for --checkpoint-topic)\n"
            "  --brokers N              number of brokers in the cluster (default 1)\n"
            "  --quiet                  log errors only (as --log-level error)\n"
            "  --log-format text|json   log lines on stderr as text or JSON (default text)\n"
            "  --log-level debug|info|warn|error  lowest level logged (default info)\n"
            "  --check-config           check the flags, then exit 0, or 2 with the reason,\n"
            "                           without starting the cluster\n"
            "  Signals: SIGINT/SIGTERM stop; SIGUSR1 takes every broker down (connections are\n"
            "  closed and refused), SIGUSR2 brings them up again; SIGHUP makes the next 100\n"
            "  produce requests fail with TOPIC_AUTHORIZATION_FAILED (fault injection).\n"
            "  Limits of the mock: each partition keeps its last 5 MiB (or 100,000 batches);\n"
            "  data lives in memory only. See docs/KAFKA.md.\n");
}

static int parse_topic(const char *arg, topic_spec *t)
{
    const char *colon = strrchr(arg, ':');
    size_t n = colon ? (size_t)(colon - arg) : strlen(arg);
    if (n == 0 || n >= sizeof t->name)
        return -1;
    memcpy(t->name, arg, n);
    t->name[n] = '\0';
    t->partitions = 1;
    if (colon) {
        char *end;
        errno = 0;
        long p = strtol(colon + 1, &end, 10);
        if (errno || *end || p < 1 || p > 100000)
            return -1;
        t->partitions = (int)p;
    }
    return 0;
}

/* One log line, formatted, with the logger's masking. */
static void logf_(weir_logger *lg, weir_log_level lv, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void logf_(weir_logger *lg, weir_log_level lv, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    weir_logger_log(lg, lv, msg, NULL, 0);
}

/* librdkafka's own lines (the mock cluster's errors among them), at their syslog level, go
 * through the logger: the same format, level and masking as ours. Called on librdkafka's
 * threads; the logger is thread-safe. */
static void rdkafka_log(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
    weir_logger *lg = rd_kafka_opaque(rk);
    weir_log_level lv = level <= 3   ? WEIR_LOG_ERROR
                        : level == 4 ? WEIR_LOG_WARN
                        : level <= 6 ? WEIR_LOG_INFO
                                     : WEIR_LOG_DEBUG;
    weir_log_field f[] = {WEIR_LOG_STR("facility", fac)};
    weir_logger_log(lg, lv, buf, f, 1);
}

/* Reads the command line; 0 to run, -1 after --help, 2 with the reason in err. */
static int parse_args(int argc, char **argv, topic_spec *topics, int *n_topics, int *n_brokers,
                      weir_log_format *fmt, weir_log_level *lv, int *check, char *err,
                      size_t err_size)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int has_value = i + 1 < argc;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return -1;
        }
        if (!strcmp(a, "--quiet")) {
            *lv = WEIR_LOG_ERROR;
        } else if (!strcmp(a, "--check-config")) {
            *check = 1;
        } else if (!strcmp(a, "--topic") || !strcmp(a, "--brokers") || !strcmp(a, "--log-format") ||
                   !strcmp(a, "--log-level")) {
            if (!has_value) {
                snprintf(err, err_size, "%s: missing value", a);
                return 2;
            }
            const char *v = argv[++i];
            if (!strcmp(a, "--topic")) {
                if (*n_topics == MAX_TOPICS || parse_topic(v, &topics[*n_topics]) != 0) {
                    snprintf(err, err_size,
                             "--topic: invalid value \"%s\": expected NAME:PARTITIONS "
                             "(1..100000 partitions, at most %d topics)",
                             v, MAX_TOPICS);
                    return 2;
                }
                (*n_topics)++;
            } else if (!strcmp(a, "--brokers")) {
                char *end;
                errno = 0;
                long n = strtol(v, &end, 10);
                if (errno || !*v || *end || n < 1 || n > 16) {
                    snprintf(err, err_size,
                             "--brokers: invalid value \"%s\": accepted values are 1..16", v);
                    return 2;
                }
                *n_brokers = (int)n;
            } else if (!strcmp(a, "--log-format")) {
                if (weir_log_format_parse(v, fmt) != WEIR_OK) {
                    snprintf(err, err_size,
                             "--log-format: invalid value \"%s\": accepted values are text|json",
                             v);
                    return 2;
                }
            } else if (weir_log_level_parse(v, lv) != WEIR_OK) {
                snprintf(err, err_size,
                         "--log-level: invalid value \"%s\": accepted values are "
                         "debug|info|warn|error",
                         v);
                return 2;
            }
        } else {
            snprintf(err, err_size, "%s: unknown option (see --help)", a);
            return 2;
        }
    }
    return 0;
}

int main(int argc, char **argv)
{
    topic_spec topics[MAX_TOPICS];
    int n_topics = 0, n_brokers = 1, check = 0;
    weir_log_format fmt = WEIR_LOG_TEXT;
    weir_log_level lv = WEIR_LOG_INFO;
    char errstr[512] = "";
    int code = parse_args(argc, argv, topics, &n_topics, &n_brokers, &fmt, &lv, &check, errstr,
                          sizeof errstr);
    if (code < 0)
        return 0;
    /* A usage error is logged in the format asked for when that flag came before it. */
    weir_logger *lg = NULL;
    if (weir_logger_new("weir-dev-broker", fmt, lv, STDERR_FILENO, &lg) != WEIR_OK) {
        fputs("weir-dev-broker: out of memory\n", stderr);
        return 1;
    }
    if (code) {
        weir_logger_log(lg, WEIR_LOG_ERROR, errstr, NULL, 0);
        weir_logger_destroy(lg);
        return code;
    }
    if (n_topics == 0) {
        static const topic_spec defaults[] = {{"ecom-raw-events", 8},
                                              {"ecom-analytics-results", 8},
                                              {"orders", 8},
                                              {"weir-checkpoints", 8}};
        memcpy(topics, defaults, sizeof defaults);
        n_topics = 4;
    }
    if (check) {
        weir_log_field f[] = {WEIR_LOG_INT("brokers", n_brokers), WEIR_LOG_INT("topics", n_topics)};
        weir_logger_log(lg, WEIR_LOG_INFO, "configuration ok", f, 2);
        weir_logger_destroy(lg);
        return 0;
    }

    /* Block the signals before librdkafka starts its threads, so they inherit the mask and
     * only sigwaitinfo() below receives them. */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGUSR1);
    sigaddset(&set, SIGUSR2);
    sigaddset(&set, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &set, NULL);

    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set_opaque(conf, lg);
    rd_kafka_conf_set_log_cb(conf, rdkafka_log);
    /* The handle only hosts the mock cluster; it never connects anywhere itself. */
    if (rd_kafka_conf_set(conf, "client.id", "weir-dev-broker", errstr, sizeof errstr) !=
            RD_KAFKA_CONF_OK ||
        rd_kafka_conf_set(conf, "log_level", lv >= WEIR_LOG_ERROR ? "3" : "4", errstr,
                          sizeof errstr) != RD_KAFKA_CONF_OK) {
        logf_(lg, WEIR_LOG_ERROR, "%s", errstr);
        rd_kafka_conf_destroy(conf);
        weir_logger_destroy(lg);
        return 1;
    }
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
    if (!rk) {
        logf_(lg, WEIR_LOG_ERROR, "cannot create the host handle: %s", errstr);
        weir_logger_destroy(lg);
        return 1;
    }
    rd_kafka_mock_cluster_t *mc = rd_kafka_mock_cluster_new(rk, n_brokers);
    if (!mc) {
        logf_(lg, WEIR_LOG_ERROR, "cannot start the mock cluster");
        rd_kafka_destroy(rk);
        weir_logger_destroy(lg);
        return 1;
    }
    int rc = 0;
    int replication = n_brokers < 3 ? n_brokers : 3;
    for (int i = 0; i < n_topics; i++) {
        rd_kafka_resp_err_t err =
            rd_kafka_mock_topic_create(mc, topics[i].name, topics[i].partitions, replication);
        if (err) {
            logf_(lg, WEIR_LOG_ERROR, "cannot create topic %s: %s", topics[i].name,
                  rd_kafka_err2str(err));
            rc = 1;
            goto out;
        }
    }

    printf("%s\n", rd_kafka_mock_cluster_bootstraps(mc));
    fflush(stdout);
    for (int i = 0; i < n_topics; i++)
        logf_(lg, WEIR_LOG_INFO, "topic %s with %d partitions", topics[i].name,
              topics[i].partitions);
    logf_(lg, WEIR_LOG_INFO, "listening on %s", rd_kafka_mock_cluster_bootstraps(mc));

    for (;;) {
        siginfo_t si;
        int sig = sigwaitinfo(&set, &si);
        if (sig < 0) {
            if (errno == EINTR)
                continue;
            logf_(lg, WEIR_LOG_ERROR, "sigwaitinfo: %s", strerror(errno));
            rc = 1;
            break;
        }
        if (sig == SIGHUP) {
            /* Fault injection: produce requests fail for good, as when a producer lacks the
             * rights to write to a topic, so a client's delivery failure can be tested. */
            rd_kafka_resp_err_t errs[PRODUCE_FAILURES];
            for (int i = 0; i < PRODUCE_FAILURES; i++)
                errs[i] = RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED;
            rd_kafka_mock_push_request_errors_array(mc, 0 /* Produce */, PRODUCE_FAILURES, errs);
            logf_(lg, WEIR_LOG_INFO, "the next %d produce requests fail", PRODUCE_FAILURES);
            continue;
        }
        if (sig == SIGUSR1 || sig == SIGUSR2) {
            for (int b = 1; b <= n_brokers; b++) {
                rd_kafka_resp_err_t err = sig == SIGUSR1 ? rd_kafka_mock_broker_set_down(mc, b)
                                                         : rd_kafka_mock_broker_set_up(mc, b);
                if (err)
                    logf_(lg, WEIR_LOG_ERROR, "broker %d: %s", b, rd_kafka_err2str(err));
            }
            logf_(lg, WEIR_LOG_INFO, "brokers %s", sig == SIGUSR1 ? "down" : "up");
            continue;
        }
        logf_(lg, WEIR_LOG_INFO, "%s: stopping", strsignal(sig));
        break;
    }
out:
    rd_kafka_mock_cluster_destroy(mc);
    rd_kafka_destroy(rk);
    weir_logger_destroy(lg);
    return rc;
}
