/* unique-users: distinct users per product in event-time windows, from files or Kafka. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "weir/dynamodb.h"
#include "weir/job.h"
#include "weir/kafka.h"
#include "weir/log.h"
#include "weir/metrics.h"
#include "weir/metrics_server.h"
#include "weir/weir.h"

#include "flags.h"
#include "job_ops.h"
#include "signals.h"

static volatile sig_atomic_t stop_flag;

static void on_signal(int sig)
{
    (void)sig;
    stop_flag = 1;
}

static void usage(FILE *out)
{
    fprintf(out,
            "usage: unique-users [options]\n"
            "Counts distinct users per key in tumbling event-time windows and writes one JSON\n"
            "line per firing; a JSON run summary goes to standard error at the end.\n\n"
            "options (each sets the configuration key in brackets):\n");
    weir_conf_write_flags(out);
    fprintf(out,
            "  %-34s %s\n  %-34s %s\n  %-34s %s\n  %-34s %s\n  %-34s %s\n  %-34s %s\n  %-34s %s\n",
            "--config FILE", "read key=value lines from FILE", "-X key=value",
            "set any configuration key (docs/CONFIGURATION.md)", "--format json|table",
            "output as JSON lines (default) or an aligned table", "--config-doc",
            "print the configuration reference (Markdown)", "--check-config",
            "check the configuration and exit 0, or 2 with the reason", "--help", "this help",
            "--version", "print the version");
    fprintf(out,
            "\nenvironment: a key whose help names a variable (env NAME) takes its value from\n"
            "it when no flag, -X or --config line set it; flags win.\n");
    fprintf(out, "\nexit status: 0 success, 1 I/O or sink failure, 2 bad usage or "
                 "configuration\n");
}

/* --check-config's "configuration ok", with where the job would read and write, so that a
 * deployment's flags and environment can be seen to reach the keys they mean. */
static void log_check_ok(weir_logger *lg, const weir_conf *conf)
{
    weir_log_field f[8];
    size_t n = 0;
    const char *brokers = weir_conf_get(conf, "brokers");
    if (brokers[0]) {
        f[n++] = WEIR_LOG_STR("mode", "kafka");
        f[n++] = WEIR_LOG_STR("brokers", brokers);
        f[n++] = WEIR_LOG_STR("input_topic", weir_conf_get(conf, "input.topic"));
        f[n++] = WEIR_LOG_STR("output_topic", weir_conf_get(conf, "output.topic"));
        f[n++] = WEIR_LOG_STR("group_id", weir_conf_get(conf, "group.id"));
    } else {
        f[n++] = WEIR_LOG_STR("mode", "file");
    }
    if (weir_dynamodb_enabled(conf)) {
        f[n++] = WEIR_LOG_STR("dynamodb_table", weir_conf_get(conf, "dynamodb.table"));
        f[n++] = WEIR_LOG_STR("aws_region", weir_conf_get(conf, "aws.region"));
    }
    weir_logger_log(lg, WEIR_LOG_INFO, "configuration ok", f, n);
}

/* Parses the command line into conf; returns 0 to run, -1 when done (help, version), or an
 * exit code with the reason in err. */
static int parse_args(int argc, char **argv, weir_conf *conf, int *table, int *check, char *err,
                      size_t err_size)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        char flag[128];
        const char *val = NULL;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return -1;
        }
        if (!strcmp(a, "--version")) {
            printf("unique-users (weir) %s\n", weir_version());
            return -1;
        }
        if (!strcmp(a, "--config-doc")) {
            weir_conf_write_doc(stdout);
            return -1;
        }
        if (!strcmp(a, "--check-config")) {
            *check = 1;
            continue;
        }
        if (!strcmp(a, "-X")) {
            if (i + 1 >= argc) {
                snprintf(err, err_size, "-X: missing key=value");
                return 2;
            }
            const char *kv = argv[++i];
            const char *eq = strchr(kv, '=');
            if (!eq || eq == kv) {
                snprintf(err, err_size, "-X %s: expected key=value", kv);
                return 2;
            }
            char key[256];
            snprintf(key, sizeof key, "%.*s", (int)(eq - kv), kv);
            if (weir_conf_set(conf, key, eq + 1, err, err_size) != WEIR_OK)
                return 2;
            continue;
        }
        if (strncmp(a, "--", 2) != 0) {
            snprintf(err, err_size, "unexpected argument \"%s\" (see --help)", a);
            return 2;
        }
        val = flag_split(a, flag, sizeof flag);
        if (!strcmp(flag, "--config") || !strcmp(flag, "--format")) {
            val = flag_value(val, 1, argc, argv, &i);
            if (!val) {
                snprintf(err, err_size, "%s: missing value", flag);
                return 2;
            }
            if (!strcmp(flag, "--format")) {
                if (strcmp(val, "json") && strcmp(val, "table")) {
                    snprintf(err, err_size,
                             "--format: invalid value \"%s\": accepted values are json|table", val);
                    return 2;
                }
                *table = !strcmp(val, "table");
            } else if (weir_conf_load_file(conf, val, err, err_size) != WEIR_OK) {
                return 2;
            }
            continue;
        }
        int takes_value;
        const char *key = weir_conf_key_for_flag(flag, &takes_value);
        if (!key) {
            snprintf(err, err_size, "%s: unknown option (see --help)", flag);
            return 2;
        }
        val = flag_value(val, takes_value, argc, argv, &i);
        if (!val) {
            snprintf(err, err_size, "%s: missing value", flag);
            return 2;
        }
        char inner[448];
        if (weir_conf_set(conf, key, val, inner, sizeof inner) != WEIR_OK) {
            snprintf(err, err_size, "%s: %s", flag, inner);
            return 2;
        }
    }
    return 0;
}

int main(int argc, char **argv)
{
    weir_conf *conf = weir_conf_new();
    if (!conf)
        return 1;
    char err[1024] = "";
    int table = 0, check = 0;
    int code = parse_args(argc, argv, conf, &table, &check, err, sizeof err);
    if (code < 0) {
        weir_conf_destroy(conf);
        return 0;
    }
    /* Even a usage error is logged in the format asked for, when it was asked for before. */
    weir_logger *lg = job_logger("unique-users", conf);
    if (!lg) {
        weir_conf_destroy(conf);
        return 1;
    }
    weir_conf_set_log(conf, weir_logger_fn, lg);
    /* The seeds' environment variables fill the keys no flag or --config line set. */
    if (!code && weir_conf_load_env(conf, err, sizeof err) != WEIR_OK)
        code = 2;
    job_ops ops = {0};
    weir_sink *extra[4];
    size_t n_extra = 0;
    weir_err rc = WEIR_OK;
    if (code)
        goto out;

    catch_stop_signals(on_signal);

    /* Sinks beside the job's own output: DynamoDB when configured. */
    weir_agg_spec aggs[WEIR_MAX_AGGS];
    int hll_precision;
    size_t n_aggs = weir_aggs_from_conf(conf, aggs, &hll_precision);
    const char *key_field =
        weir_conf_get_bool(conf, "global") ? NULL : weir_conf_get(conf, "key.field");
    if (weir_dynamodb_enabled(conf) && !check) { /* --check-config makes no connection */
        weir_sink *ddb;
        if ((rc = weir_dynamodb_sink_create(conf, key_field, aggs, n_aggs, &ddb, err,
                                            sizeof err)) != WEIR_OK) {
            code = 2;
            goto out;
        }
        extra[n_extra++] = ddb;
    }
    if (check) {
        rc = weir_job_check(conf, table, err, sizeof err);
        code = rc == WEIR_OK ? 0 : 2;
        if (!code)
            log_check_ok(lg, conf);
        goto out;
    }
    if ((code = job_ops_start(&ops, conf, lg, err, sizeof err)) != 0)
        goto out;
    if (ops.metrics)
        for (size_t i = 0; i < n_extra; i++)
            if ((rc = weir_dynamodb_sink_set_metrics(extra[i], ops.metrics)) != WEIR_OK) {
                snprintf(err, sizeof err, "metrics: DynamoDB series: %s", weir_err_str(rc));
                code = 1;
                goto out;
            }
    weir_job_env env = {&stop_flag, stderr, ops.metrics, ops.health};
    if (weir_conf_get(conf, "brokers")[0])
        rc = weir_kafka_job_run(conf, extra, n_extra,
                                (int)weir_conf_get_duration_ms(conf, "stop.when.idle"),
                                weir_conf_get_bool(conf, "drain"), &env, err, sizeof err);
    else
        rc = weir_file_job_run(conf, extra, n_extra, &env, table, err, sizeof err);
    code = job_exit_code(rc);
out:
    if (code && err[0])
        weir_logger_log(lg, WEIR_LOG_ERROR, err, NULL, 0);
    /* The job loops flushed every sink already; a failure there set the exit code. */
    for (size_t i = 0; i < n_extra; i++)
        weir_sink_destroy(extra[i]);
    job_ops_stop(&ops);
    weir_conf_destroy(conf);
    weir_logger_destroy(lg);
    return code;
}
