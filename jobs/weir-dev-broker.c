/* weir-dev-broker: librdkafka's mock cluster as a standalone Kafka broker on 127.0.0.1, for
 * development and tests. Prints its bootstrap address first, runs until SIGINT/SIGTERM;
 * SIGUSR1 takes every broker down, SIGUSR2 brings them back, SIGHUP makes the next 100 produce
 * requests fail for good. */
#include <errno.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

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
            "  Runs librdkafka's mock Kafka cluster on 127.0.0.1 (ports chosen free by the\n"
            "  system) and prints its bootstrap address as the first line on stdout.\n"
            "  --topic NAME:PARTITIONS  create a topic (repeatable); default: ecom-raw-events:8,\n"
            "                           ecom-analytics-results:8, orders:8,\n"
            "                           weir-checkpoints:8 (for --checkpoint-topic)\n"
            "  --brokers N              number of brokers in the cluster (default 1)\n"
            "  --quiet                  no log lines on stderr\n"
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

static void log_line(int quiet, const char *fmt, const char *arg)
{
    if (quiet)
        return;
    fprintf(stderr, "weir-dev-broker: ");
    fprintf(stderr, fmt, arg);
    fputc('\n', stderr);
}

int main(int argc, char **argv)
{
    topic_spec topics[MAX_TOPICS];
    int n_topics = 0, n_brokers = 1, quiet = 0;

    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--topic") && i + 1 < argc) {
            if (n_topics == MAX_TOPICS || parse_topic(argv[++i], &topics[n_topics]) != 0) {
                fprintf(stderr, "weir-dev-broker: bad --topic '%s' (NAME:PARTITIONS, at most %d)\n",
                        argv[i], MAX_TOPICS);
                return 2;
            }
            n_topics++;
        } else if (!strcmp(argv[i], "--brokers") && i + 1 < argc) {
            n_brokers = atoi(argv[++i]);
            if (n_brokers < 1 || n_brokers > 16) {
                fprintf(stderr, "weir-dev-broker: --brokers takes 1..16\n");
                return 2;
            }
        } else if (!strcmp(argv[i], "--quiet")) {
            quiet = 1;
        } else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            usage(stdout);
            return 0;
        } else {
            fprintf(stderr, "weir-dev-broker: unknown argument '%s'\n", argv[i]);
            usage(stderr);
            return 2;
        }
    }
    if (n_topics == 0) {
        static const topic_spec defaults[] = {{"ecom-raw-events", 8},
                                              {"ecom-analytics-results", 8},
                                              {"orders", 8},
                                              {"weir-checkpoints", 8}};
        memcpy(topics, defaults, sizeof defaults);
        n_topics = 4;
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

    char errstr[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    /* The handle only hosts the mock cluster; it never connects anywhere itself. */
    if (rd_kafka_conf_set(conf, "client.id", "weir-dev-broker", errstr, sizeof errstr) !=
            RD_KAFKA_CONF_OK ||
        rd_kafka_conf_set(conf, "log_level", quiet ? "3" : "4", errstr, sizeof errstr) !=
            RD_KAFKA_CONF_OK) {
        fprintf(stderr, "weir-dev-broker: %s\n", errstr);
        rd_kafka_conf_destroy(conf);
        return 1;
    }
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
    if (!rk) {
        fprintf(stderr, "weir-dev-broker: cannot create the host handle: %s\n", errstr);
        return 1;
    }
    rd_kafka_mock_cluster_t *mc = rd_kafka_mock_cluster_new(rk, n_brokers);
    if (!mc) {
        fprintf(stderr, "weir-dev-broker: cannot start the mock cluster\n");
        rd_kafka_destroy(rk);
        return 1;
    }
    int rc = 0;
    int replication = n_brokers < 3 ? n_brokers : 3;
    for (int i = 0; i < n_topics; i++) {
        rd_kafka_resp_err_t err =
            rd_kafka_mock_topic_create(mc, topics[i].name, topics[i].partitions, replication);
        if (err) {
            fprintf(stderr, "weir-dev-broker: cannot create topic %s: %s\n", topics[i].name,
                    rd_kafka_err2str(err));
            rc = 1;
            goto out;
        }
    }

    printf("%s\n", rd_kafka_mock_cluster_bootstraps(mc));
    fflush(stdout);
    for (int i = 0; i < n_topics && !quiet; i++)
        fprintf(stderr, "weir-dev-broker: topic %s with %d partitions\n", topics[i].name,
                topics[i].partitions);
    log_line(quiet, "listening on %s", rd_kafka_mock_cluster_bootstraps(mc));

    for (;;) {
        siginfo_t si;
        int sig = sigwaitinfo(&set, &si);
        if (sig < 0) {
            if (errno == EINTR)
                continue;
            perror("weir-dev-broker: sigwaitinfo");
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
            log_line(quiet, "the next %s produce requests fail", "100");
            continue;
        }
        if (sig == SIGUSR1 || sig == SIGUSR2) {
            for (int b = 1; b <= n_brokers; b++) {
                rd_kafka_resp_err_t err = sig == SIGUSR1 ? rd_kafka_mock_broker_set_down(mc, b)
                                                         : rd_kafka_mock_broker_set_up(mc, b);
                if (err)
                    fprintf(stderr, "weir-dev-broker: broker %d: %s\n", b, rd_kafka_err2str(err));
            }
            log_line(quiet, "brokers %s", sig == SIGUSR1 ? "down" : "up");
            continue;
        }
        log_line(quiet, "%s: stopping", strsignal(sig));
        break;
    }
out:
    rd_kafka_mock_cluster_destroy(mc);
    rd_kafka_destroy(rk);
    return rc;
}
