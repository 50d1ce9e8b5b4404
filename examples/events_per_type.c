/* Events per event_type in 10-second windows, with exact distinct users and HyperLogLog
 * distinct sessions (metadata.session_id): the library's field extraction, aggregate specs and
 * generic window operator. Reads JSON lines on stdin, writes one JSON line per (event_type,
 * window) on stdout, and the counts of records on stderr. */
#include <stdio.h>
#include <stdlib.h>
#include <xxhash.h>

#include <weir/fields.h>
#include <weir/gwindow.h>
#include <weir/spec.h>

static int print_firing(void *opaque, const weir_gwindow_firing *f)
{
    (void)opaque;
    char start[32], end[32];
    weir_format_iso8601(f->window_start, start);
    weir_format_iso8601(f->window_end, end);
    /* event_type values are plain words: printed as they are, unescaped. */
    printf("{\"event_type\":\"%.*s\",\"window_start\":\"%s\",\"window_end\":\"%s\","
           "\"events\":%lld,\"users\":%lld,\"sessions\":%lld}\n",
           (int)f->key.len, f->key.ptr, start, end, (long long)f->values[0].u.i,
           (long long)f->values[1].u.i, (long long)f->values[2].u.i);
    return 0;
}

int main(void)
{
    char err[512];
    /* The fields the job reads, in one pass: the time, the key, and what the aggregates need. */
    weir_fields *fields = NULL;
    if (weir_fields_new("timestamp", WEIR_TS_AUTO, 1 << 20, &fields, err, sizeof err) != WEIR_OK) {
        fprintf(stderr, "%s\n", err);
        return 2;
    }
    int type = weir_fields_add(fields, "event_type", err, sizeof err);
    weir_aggs *aggs = weir_aggs_new(fields, 14); /* HyperLogLog precision 14 */
    const char *specs[] = {"count() as events", "count_distinct(user_id) as users",
                           "approx_count_distinct(metadata.session_id) as sessions"};
    for (size_t i = 0; i < 3; i++)
        if (weir_aggs_add(aggs, specs[i], err, sizeof err) != WEIR_OK) {
            fprintf(stderr, "%s\n", err);
            return 2;
        }

    /* Tumbling 10 s windows; the watermark trails the largest time by 5 s. */
    weir_gwindow_params p = {.spec = {.kind = WEIR_WINDOW_TUMBLE, .size_ms = 10000},
                             .emit = WEIR_EMIT_FINAL,
                             .wm = {.out_of_orderness_ms = 5000},
                             .partitions = 1};
    p.aggs = weir_aggs_defs(aggs, &p.n_aggs);
    weir_gwindow *op = weir_gwindow_new(&p, print_firing, NULL, err, sizeof err);
    if (!op) {
        fprintf(stderr, "%s\n", err);
        return 2;
    }

    weir_value *values = calloc(weir_fields_count(fields), sizeof *values);
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    unsigned long long records = 0, invalid = 0;
    while (values && (len = getline(&line, &cap, stdin)) > 0) {
        records++;
        weir_fields_reset(fields); /* the previous record's unescaped strings */
        size_t n = (size_t)len - (line[len - 1] == '\n');
        weir_row r = {.raw = {line, n}, .values = values, .n_values = weir_fields_count(fields)};
        if (weir_fields_decode(fields, line, n, &r.ts, values) != WEIR_REC_OK ||
            values[type].type != WEIR_VALUE_STRING) {
            invalid++;
            continue;
        }
        r.key = values[type].u.s;
        r.key_hash = XXH3_64bits(r.key.ptr, r.key.len);
        if (weir_gwindow_process(op, &r, 1, 0) != WEIR_OK)
            return 1;
    }
    weir_gwindow_finish(op); /* end of input: the remaining windows fire */

    weir_gwindow_counters c;
    weir_gwindow_stats(op, &c);
    fprintf(stderr, "%llu records, %llu invalid, %llu late\n", records, invalid,
            (unsigned long long)c.late_dropped);
    free(line);
    free(values);
    weir_gwindow_destroy(op);
    weir_aggs_destroy(aggs);
    weir_fields_destroy(fields);
    return 0;
}
