/* unique-users: distinct users per product in event-time windows, from files or Kafka. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "weir/dynamodb.h"
#include "weir/job.h"
#include "weir/kafka.h"
#include "weir/weir.h"

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
    fprintf(out, "  %-34s %s\n  %-34s %s\n  %-34s %s\n  %-34s %s\n  %-34s %s\n  %-34s %s\n",
            "--config FILE", "read key=value lines from FILE", "-X key=value",
            "set any configuration key (docs/CONFIGURATION.md)", "--format json|table",
            "output as JSON lines (default) or an aligned table", "--config-doc",
            "print the configuration reference (Markdown)", "--help", "this help", "--version",
            "print the version");
    fprintf(out, "\nexit status: 0 success, 1 I/O or sink failure, 2 bad usage or "
                 "configuration\n");
}

static int bad(const char *msg)
{
    fprintf(stderr, "unique-users: %s\n", msg);
    return 2;
}

int main(int argc, char **argv)
{
    weir_conf *conf = weir_conf_new();
    if (!conf)
        return 1;
    char err[1024];
    int table = 0, code = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        char flag[128];
        const char *val = NULL;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            goto out;
        }
        if (!strcmp(a, "--version")) {
            printf("unique-users (weir) %s\n", weir_version());
            goto out;
        }
        if (!strcmp(a, "--config-doc")) {
            weir_conf_write_doc(stdout);
            goto out;
        }
        if (!strcmp(a, "-X")) {
            if (i + 1 >= argc) {
                code = bad("-X: missing key=value");
                goto out;
            }
            const char *kv = argv[++i];
            const char *eq = strchr(kv, '=');
            if (!eq || eq == kv) {
                snprintf(err, sizeof err, "-X %s: expected key=value", kv);
                code = bad(err);
                goto out;
            }
            char key[256];
            snprintf(key, sizeof key, "%.*s", (int)(eq - kv), kv);
            if (weir_conf_set(conf, key, eq + 1, err, sizeof err) != WEIR_OK) {
                code = bad(err);
                goto out;
            }
            continue;
        }
        if (strncmp(a, "--", 2) != 0) {
            snprintf(err, sizeof err, "unexpected argument \"%s\" (see --help)", a);
            code = bad(err);
            goto out;
        }
        const char *eq = strchr(a, '=');
        snprintf(flag, sizeof flag, "%.*s", eq ? (int)(eq - a) : (int)strlen(a), a);
        if (eq)
            val = eq + 1;
        if (!strcmp(flag, "--config") || !strcmp(flag, "--format")) {
            if (!val && i + 1 < argc)
                val = argv[++i];
            if (!val) {
                snprintf(err, sizeof err, "%s: missing value", flag);
                code = bad(err);
                goto out;
            }
            if (!strcmp(flag, "--format")) {
                if (strcmp(val, "json") && strcmp(val, "table")) {
                    snprintf(err, sizeof err,
                             "--format: invalid value \"%s\": accepted values are json|table", val);
                    code = bad(err);
                    goto out;
                }
                table = !strcmp(val, "table");
            } else {
                weir_err rc = weir_conf_load_file(conf, val, err, sizeof err);
                if (rc != WEIR_OK) {
                    code = bad(err);
                    goto out;
                }
            }
            continue;
        }
        int takes_value;
        const char *key = weir_conf_key_for_flag(flag, &takes_value);
        if (!key) {
            snprintf(err, sizeof err, "%s: unknown option (see --help)", flag);
            code = bad(err);
            goto out;
        }
        if (!val) {
            if (!takes_value)
                val = "true";
            else if (i + 1 < argc)
                val = argv[++i];
            else {
                snprintf(err, sizeof err, "%s: missing value", flag);
                code = bad(err);
                goto out;
            }
        }
        char inner[448];
        if (weir_conf_set(conf, key, val, inner, sizeof inner) != WEIR_OK) {
            snprintf(err, sizeof err, "%s: %s", flag, inner);
            code = bad(err);
            goto out;
        }
    }

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    /* Sinks beside the job's own output: DynamoDB when configured. */
    weir_agg_spec aggs[WEIR_MAX_AGGS];
    int hll_precision;
    size_t n_aggs = weir_aggs_from_conf(conf, aggs, &hll_precision);
    const char *key_field =
        weir_conf_get_bool(conf, "global") ? NULL : weir_conf_get(conf, "key.field");
    weir_sink *extra[4];
    size_t n_extra = 0;
    if (weir_dynamodb_enabled(conf)) {
        weir_sink *ddb;
        if (weir_dynamodb_sink_create(conf, key_field, aggs, n_aggs, &ddb, err, sizeof err) !=
            WEIR_OK) {
            code = bad(err);
            goto out;
        }
        extra[n_extra++] = ddb;
    }
    if (weir_conf_get(conf, "brokers")[0])
        code = weir_kafka_job_run(conf, extra, n_extra,
                                  (int)weir_conf_get_duration_ms(conf, "stop.when.idle"),
                                  weir_conf_get_bool(conf, "drain"), &stop_flag, stderr);
    else
        code = weir_file_job_run(conf, extra, n_extra, &stop_flag, stderr, table);
    for (size_t i = 0; i < n_extra; i++) {
        /* The job loops flushed every sink already; a failure there set the exit code. */
        weir_sink_destroy(extra[i]);
    }
out:
    weir_conf_destroy(conf);
    return code;
}
