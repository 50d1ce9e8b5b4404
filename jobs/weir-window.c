/* weir-window: any windowed aggregation over JSON lines from files or Kafka: keys, filters,
 * window kinds, aggregates. */
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "weir/spec.h"
#include "weir/weir.h"
#include "weir/window_job.h"

#include "flags.h"
#include "job_ops.h"
#include "signals.h"

static volatile sig_atomic_t stop_flag;

static void on_signal(int sig)
{
    (void)sig;
    stop_flag = 1;
}

/* The flags of this job that are not the table's (or mean something else here). */
static const struct {
    const char *flag, *key, *meta, *doc;
} OWN[] = {
    {"--key", "key.field", "F[,F...]",
     "group by these fields (dotted paths; a composite key) [key.field]"},
    {"--window", "window.spec", "SPEC",
     "tumble:W[@O], hop:W/S or session:G (default tumble of --window-size) [window.spec]"},
    {"--window-size", "window.size", "DUR", "size of tumble windows without --window"},
    {"--agg", "aggregates", "SPEC",
     "FUNC(FIELD) [where PRED] [as NAME], repeatable, in output order; FUNC one of count, "
     "sum, min, max, avg, count_distinct, approx_count_distinct [aggregates]"},
    {"--where", "where", "PRED",
     "FIELD OP LITERAL [and ...], OP one of = != < <= > >=; repeatable, all must hold [where]"},
};

/* The flags of the configuration table this job takes; others (unique-users' own) are
 * refused rather than ignored. The Kafka ones are unique-users'. */
static const char *const TABLE_FLAGS[] = {
    "--global",
    "--input",
    "--output",
    "--timestamp-field",
    "--timestamp-unit",
    "--out-of-orderness",
    "--allowed-lateness",
    "--emit",
    "--hll-precision",
    "--late-output",
    "--dead-letter",
    "--max-future-skew",
    "--dynamodb-table",
    "--dynamodb-endpoint",
    "--aws-region",
    "--dynamodb-create-table",
    "--checkpoint-dir",
    "--checkpoint-interval",
    "--reset-state",
    "--brokers",
    "--input-topic",
    "--output-topic",
    "--group-id",
    "--dead-letter-topic",
    "--stop-when-idle",
    "--drain",
    "--checkpoint-topic",
    "--instance-id",
    "--exactly-once",
    "--idle-timeout",
    "--idle-advance",
    "--log-format",
    "--log-level",
    "--metrics-port",
    "--metrics-host",
    "--watermark-stuck",
    NULL,
};

static void usage(FILE *out)
{
    fprintf(out,
            "usage: weir-window --key F[,F...] | --global  --agg SPEC [--agg SPEC ...]\n"
            "                   [--window SPEC] [--where PRED ...] [options]\n"
            "Aggregates JSON lines (a file, standard input, or a Kafka topic with --brokers) in\n"
            "event-time windows and writes one JSON line per firing; a JSON run summary goes to\n"
            "standard error at the end (docs/SEMANTICS.md, docs/KAFKA.md).\n\n"
            "options:\n");
    for (size_t i = 0; i < sizeof OWN / sizeof OWN[0]; i++) {
        char left[64];
        snprintf(left, sizeof left, "%s %s", OWN[i].flag, OWN[i].meta);
        fprintf(out, "  %-34s %s\n", left, OWN[i].doc);
    }
    weir_conf_write_flags_only(out, TABLE_FLAGS);
    fprintf(out, "  %-34s %s\n  %-34s %s\n  %-34s %s\n  %-34s %s\n  %-34s %s\n", "--config FILE",
            "read key=value lines from FILE", "-X key=value",
            "set any configuration key (docs/CONFIGURATION.md)", "--check-config",
            "check the configuration and exit 0, or 2 with the reason", "--help", "this help",
            "--version", "print the version");
    fprintf(out,
            "\nexample:\n  weir-window --key product_id --window tumble:1m \\\n"
            "    --agg 'sum(total_price) where status != cancelled as revenue' "
            "--input orders.jsonl\n"
            "\nWith --metrics-port it serves /metrics, /healthz and /readyz (docs/OPERATIONS.md).\n"
            "\nexit status: 0 success, 1 I/O failure, 2 bad usage or configuration\n");
}

/* Kafka mode: unique-users' Kafka loop with the generic job in each unit; the group of a
 * generic job is its own unless named (unique-users' default is its own). */
static weir_err run_kafka(weir_conf *conf, const weir_job_env *env, char *err, size_t err_size)
{
    if (!weir_conf_is_set(conf, "group.id"))
        weir_conf_set(conf, "group.id", "weir-window", err, err_size);
    err[0] = '\0';
    return weir_window_job_run_kafka(conf, env, err, err_size);
}

/* A usage error: its line in err, exit status 2. */
static int usage_error(char *err, size_t err_size, const char *msg)
{
    snprintf(err, err_size, "%s", msg);
    return 2;
}

static void summary(FILE *out, const weir_window_job_stats *st)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    fprintf(out,
            "{\"records\":%" PRIu64 ",\"valid\":%" PRIu64 ",\"invalid\":%" PRIu64
            ",\"invalid_by\":{",
            st->records, st->valid, st->invalid);
    int first = 1;
    for (int i = 1; i < WEIR_REC_STATUS_COUNT; i++) {
        if (!st->invalid_by[i])
            continue;
        fprintf(out, "%s\"%s\":%" PRIu64, first ? "" : ",", weir_rec_status_name(i),
                st->invalid_by[i]);
        first = 0;
    }
    const weir_gwindow_counters *o = &st->op;
    fprintf(out,
            "},\"filtered\":%" PRIu64 ",\"accepted\":%" PRIu64 ",\"late_dropped\":%" PRIu64
            ",\"late_accepted\":%" PRIu64 ",\"late_firings\":%" PRIu64 ",\"future_skewed\":%" PRIu64
            ",\"emissions\":%" PRIu64 ",\"state_bytes\":%" PRIu64 ",\"checkpoints\":%" PRIu64
            ",\"resumed\":%s"
            ",\"elapsed_sec\":%.3f,\"records_per_sec\":%.0f,\"peak_rss_bytes\":%ld}\n",
            st->filtered, o->accepted, o->late_dropped, o->late_accepted, o->late_firings,
            o->future_skewed, o->emissions, o->state_bytes, st->checkpoints,
            st->resumed ? "true" : "false", st->elapsed_sec,
            st->elapsed_sec > 0 ? (double)st->records / st->elapsed_sec : 0.0,
            ru.ru_maxrss * 1024L);
    fflush(out);
}

int main(int argc, char **argv)
{
    weir_conf *conf = weir_conf_new();
    if (!conf)
        return 1;
    char err[2048] = "";
    int code = 0, n_aggs = 0, check = 0;
    weir_logger *lg = NULL;
    job_ops ops = {0};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *val = NULL;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            check = 0;
            goto out;
        }
        if (!strcmp(a, "--version")) {
            printf("weir-window (weir) %s\n", weir_version());
            check = 0;
            goto out;
        }
        if (!strcmp(a, "--check-config")) {
            check = 1;
            continue;
        }
        if (!strcmp(a, "-X")) {
            if (i + 1 >= argc) {
                code = usage_error(err, sizeof err, "-X: missing key=value");
                goto out;
            }
            const char *kv = argv[++i];
            const char *eq = strchr(kv, '=');
            if (!eq || eq == kv || eq - kv > 255) {
                snprintf(err, sizeof err, "-X %.200s: expected key=value", kv);
                code = 2;
                goto out;
            }
            char key[256];
            snprintf(key, sizeof key, "%.*s", (int)(eq - kv), kv);
            if (!strcmp(key, "aggregates") && ++n_aggs > WEIR_AGGS_MAX) {
                snprintf(err, sizeof err, "--agg: at most %d aggregates", WEIR_AGGS_MAX);
                code = 2;
                goto out;
            }
            if (weir_conf_set(conf, key, eq + 1, err, sizeof err) != WEIR_OK) {
                code = 2;
                goto out;
            }
            continue;
        }
        if (strncmp(a, "--", 2) != 0) {
            snprintf(err, sizeof err, "unexpected argument \"%.200s\" (see --help)", a);
            code = 2;
            goto out;
        }
        char flag[128];
        val = flag_split(a, flag, sizeof flag);
        const char *key = NULL;
        int takes_value = 1;
        for (size_t k = 0; k < sizeof OWN / sizeof OWN[0]; k++)
            if (!strcmp(flag, OWN[k].flag))
                key = OWN[k].key;
        if (!key && strcmp(flag, "--config") != 0) {
            int ours = 0;
            for (size_t k = 0; TABLE_FLAGS[k]; k++)
                ours |= !strcmp(flag, TABLE_FLAGS[k]);
            key = ours ? weir_conf_key_for_flag(flag, &takes_value) : NULL;
            if (!key) {
                snprintf(err, sizeof err, "%s: unknown option (see --help)", flag);
                code = 2;
                goto out;
            }
        }
        val = flag_value(val, takes_value, argc, argv, &i);
        if (!val) {
            snprintf(err, sizeof err, "%s: missing value", flag);
            code = 2;
            goto out;
        }
        if (!key) { /* --config */
            if (weir_conf_load_file(conf, val, err, sizeof err) != WEIR_OK) {
                code = 2;
                goto out;
            }
            continue;
        }
        if (!strcmp(key, "aggregates") && ++n_aggs > WEIR_AGGS_MAX) {
            snprintf(err, sizeof err, "--agg: at most %d aggregates", WEIR_AGGS_MAX);
            code = 2;
            goto out;
        }
        char inner[900];
        if (weir_conf_set(conf, key, val, inner, sizeof inner) != WEIR_OK) {
            snprintf(err, sizeof err, "%s: %s", flag, inner);
            code = 2;
            goto out;
        }
    }
    if (!weir_conf_get_bool(conf, "global") && !weir_conf_is_set(conf, "key.field")) {
        code = usage_error(
            err, sizeof err,
            "--key: a key is needed: --key F[,F...] (dotted paths allowed) or --global");
        goto out;
    }
    if (weir_window_job_check(conf, err, sizeof err) != WEIR_OK) {
        code = 2;
        goto out;
    }
    if (check) /* as `nginx -t`: nothing opened, connected or served */
        goto out;

    catch_stop_signals(on_signal);
    if (!(lg = job_logger("weir-window", conf))) {
        code = 1;
        goto out;
    }
    weir_conf_set_log(conf, weir_logger_fn, lg);
    if ((code = job_ops_start(&ops, conf, lg, err, sizeof err)) != 0)
        goto out;
    weir_job_env env = {&stop_flag, stderr, ops.metrics, ops.health};
    weir_err rc;
    if (weir_conf_get(conf, "brokers")[0]) {
        rc = run_kafka(conf, &env, err, sizeof err);
    } else {
        weir_window_job_stats st;
        rc = weir_window_job_run_file(conf, &env, &st, err, sizeof err);
        summary(stderr, &st);
    }
    code = job_exit_code(rc);
    if (rc != WEIR_OK && !err[0])
        snprintf(err, sizeof err, "%s", weir_err_str(rc));
out:
    /* Every message goes through the logger of the format asked for, usage errors too (in the
     * format given before them). */
    if (!lg)
        lg = job_logger("weir-window", conf);
    if (lg && code && err[0])
        weir_logger_log(lg, WEIR_LOG_ERROR, err, NULL, 0);
    else if (lg && check && !code)
        weir_logger_log(lg, WEIR_LOG_INFO, "configuration ok", NULL, 0);
    else if (!lg && code && err[0])
        fprintf(stderr, "weir-window: %s\n", err);
    job_ops_stop(&ops);
    weir_conf_set_log(conf, NULL, NULL);
    weir_conf_destroy(conf);
    weir_logger_destroy(lg);
    return code;
}
