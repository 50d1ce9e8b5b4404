/* The generic windowed job (weir-window): the generic window unit (runtime/window_unit.c) run
 * by the job core's file and Kafka loops, with its DynamoDB sink. */
#include "weir/window_job.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/errbuf.h"
#include "runtime/file_job_int.h"
#include "runtime/job_int.h"
#include "runtime/kafka_job_int.h"
#include "runtime/window_unit.h"
#include "weir/dynamodb.h"
#include "weir/sink.h"

weir_err weir_window_job_check(const weir_conf *conf, char *errstr, size_t errstr_size)
{
    weir_err rc = weir__wunit_check(conf, errstr, errstr_size);
    return rc == WEIR_OK ? weir__job_check_common(conf, 0, errstr, errstr_size) : rc;
}

/* The DynamoDB sink when configured (*ddb NULL otherwise), its items keyed by the first key
 * field, which a unit made without sinks names; *pk holds that name for the sink's life. */
static weir_err make_ddb(const weir_conf *conf, const weir_job_env *env, weir_sink **ddb, char **pk,
                         char *errstr, size_t errstr_size)
{
    weir_err rc = WEIR_OK;
    *ddb = NULL;
    *pk = NULL;
    if (weir_dynamodb_enabled(conf)) {
        weir__unit *probe = NULL;
        if ((rc = weir__window_kind.create(conf, 1, NULL, &probe, errstr, errstr_size)) != WEIR_OK)
            return rc == WEIR_ERR_NOMEM ? (weir__errf(errstr, errstr_size, "out of memory"), rc)
                                        : rc;
        *pk = strdup(weir__wunit_ddb_key(probe));
        weir__unit_destroy(probe);
        if (!*pk) {
            weir__errf(errstr, errstr_size, "out of memory");
            return WEIR_ERR_NOMEM;
        }
        if ((rc = weir_dynamodb_sink_create(conf, *pk, NULL, 0, ddb, errstr, errstr_size)) ==
                WEIR_OK &&
            env && env->metrics &&
            (rc = weir_dynamodb_sink_set_metrics(*ddb, env->metrics)) != WEIR_OK) {
            weir__errf(errstr, errstr_size, "metrics: DynamoDB series: %s", weir_err_str(rc));
            weir_sink_destroy(*ddb);
            *ddb = NULL;
        }
        if (rc != WEIR_OK) {
            free(*pk);
            *pk = NULL;
        }
    }
    return rc;
}

weir_err weir_window_job_run_kafka(const weir_conf *conf, const weir_job_env *env, char *errstr,
                                   size_t errstr_size)
{
    weir_err rc = weir__wunit_check(conf, errstr, errstr_size);
    weir_sink *ddb = NULL;
    char *pk = NULL;
    if (rc == WEIR_OK)
        rc = make_ddb(conf, env, &ddb, &pk, errstr, errstr_size);
    if (rc != WEIR_OK)
        return rc;
    rc = weir__kafka_job_run(&weir__window_kind, conf, &ddb, ddb ? 1 : 0,
                             (int)weir_conf_get_duration_ms(conf, "stop.when.idle"),
                             weir_conf_get_bool(conf, "drain"), env, errstr, errstr_size);
    weir_sink_destroy(ddb); /* the loop flushed it */
    free(pk);
    return rc;
}

weir_err weir_window_job_check_step(const weir_conf *conf, const weir_window_step *step,
                                    char *errstr, size_t errstr_size)
{
    if (!step || !step->name || !step->name[0] || strpbrk(step->name, " =\n") || !step->unit_new ||
        !step->firing || !step->end) {
        weir__errf(errstr, errstr_size,
                   "step: a name (no spaces or '='), unit_new, firing and end are required");
        return WEIR_ERR_INVALID_ARG;
    }
    if (weir_dynamodb_enabled(conf)) {
        weir__errf(errstr, errstr_size,
                   "dynamodb.table: a job with a step (%s) writes lines and Kafka messages only",
                   step->name);
        return WEIR_ERR_INVALID_ARG;
    }
    if (weir_conf_get(conf, "brokers")[0] && weir_conf_get_bool(conf, "input.keyed") &&
        !weir_conf_get_bool(conf, "global")) {
        weir__errf(errstr, errstr_size,
                   "input.keyed: a job with a step (%s) needs one unit over all partitions, to "
                   "see every firing of a window (accepted: input.keyed=false, or global=true)",
                   step->name);
        return WEIR_ERR_INVALID_ARG;
    }
    weir_err rc = weir__wunit_check_step(conf, step, errstr, errstr_size);
    return rc == WEIR_OK ? weir__job_check_common(conf, 0, errstr, errstr_size) : rc;
}

weir_err weir_window_job_run_kafka_step(const weir_conf *conf, const weir_window_step *step,
                                        const weir_job_env *env, char *errstr, size_t errstr_size)
{
    weir_err rc = weir_window_job_check_step(conf, step, errstr, errstr_size);
    if (rc != WEIR_OK)
        return rc;
    /* The window kind made for this run: its units take the step. */
    weir__unit_kind kind = weir__window_kind;
    kind.ctx = step;
    kind.create_ctx = weir__wunit_create_step;
    kind.meaning_ctx = weir__wunit_meaning_step;
    kind.legacy_meaning = NULL;
    kind.legacy_snapshot = NULL;
    return weir__kafka_job_run(&kind, conf, NULL, 0,
                               (int)weir_conf_get_duration_ms(conf, "stop.when.idle"),
                               weir_conf_get_bool(conf, "drain"), env, errstr, errstr_size);
}

/* The end of a file run: weir-window's summary counters. */
static void file_done(void *arg, const weir__unit *u, const weir__file_run *run)
{
    weir_window_job_stats *st = arg;
    memset(st, 0, sizeof *st);
    if (u)
        weir__wunit_job_stats(u, st);
    st->checkpoints = run->checkpoints;
    st->resumed = run->resumed;
    st->elapsed_sec = run->elapsed_sec;
}

weir_err weir_window_job_run_file(const weir_conf *conf, const weir_job_env *env,
                                  weir_window_job_stats *stats, char *err, size_t err_size)
{
    weir_window_job_stats st;
    memset(&st, 0, sizeof st);
    weir_sink *ddb = NULL;
    char *pk = NULL;
    weir_err rc = weir__wunit_check(conf, err, err_size);
    if (rc == WEIR_OK)
        rc = make_ddb(conf, env, &ddb, &pk, err, err_size);
    if (rc == WEIR_OK) {
        /* The caller writes its own summary from `stats`. */
        weir_job_env e = {env ? env->stop : NULL, NULL, env ? env->metrics : NULL,
                          env ? env->health : NULL};
        rc = weir__file_job_run(&weir__window_kind, conf, &ddb, ddb ? 1 : 0, &e, 0, file_done, &st,
                                err, err_size);
    }
    weir_sink_destroy(ddb); /* the loop flushed it */
    free(pk);
    if (stats)
        *stats = st;
    return rc;
}
