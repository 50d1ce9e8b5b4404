/* The smallest windowed job: distinct sessions per event type in 30-second windows.
 * Reads raw events as JSON lines on stdin, writes one JSON line per firing on stdout. */
#define _POSIX_C_SOURCE 200809L /* getline, with a plain -std=c11 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <weir/job.h>
#include <weir/weir.h>

int main(void)
{
    char err[512];
    weir_conf *conf = weir_conf_new();
    if (weir_conf_set(conf, "key.field", "event_type", err, sizeof err) ||
        weir_conf_set(conf, "user.field", "metadata.session_id", err, sizeof err) ||
        weir_conf_set(conf, "window.size", "30s", err, sizeof err)) {
        fprintf(stderr, "%s\n", err);
        return 2;
    }

    /* Firings go to stdout as JSON lines; the aggregates come from the same conf. */
    weir_agg_spec aggs[WEIR_MAX_AGGS];
    int hll_precision;
    size_t n_aggs = weir_aggs_from_conf(conf, aggs, &hll_precision);
    weir_sink *out = weir_file_sink_new("-", "event_type", aggs, n_aggs, err, sizeof err);
    weir_pipeline *p =
        out ? weir_pipeline_new(conf, 1, &out, 1, NULL, NULL, err, sizeof err) : NULL;
    if (!p) {
        fprintf(stderr, "%s\n", err);
        return 2;
    }

    /* One record per line; the pipeline decodes, windows and emits. */
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    int64_t offset = 0;
    while ((len = getline(&line, &cap, stdin)) > 0) {
        weir_record rec = {line, (size_t)len - (line[len - 1] == '\n'), 0, offset++};
        if (weir_pipeline_push(p, &rec, 1, weir_wall_ms()) != WEIR_OK)
            return 1;
    }
    weir_pipeline_finish(p); /* end of input: the last windows fire */
    weir_sink_flush(out, 1000);

    weir_pipeline_stats st;
    weir_pipeline_stats_get(p, &st);
    fprintf(stderr, "%llu records, %llu invalid, %llu late\n", (unsigned long long)st.records,
            (unsigned long long)st.invalid, (unsigned long long)st.window.late_dropped);
    free(line);
    weir_pipeline_destroy(p);
    weir_sink_destroy(out);
    weir_conf_destroy(conf);
    return 0;
}
