/* The generic window job as a processing unit: typed fields, job-level filters, a key, the
 * window operator of any kind, and its firings formatted for each sink (JSON lines, Kafka
 * messages, DynamoDB items), late records and dead letters. */
#include "runtime/window_unit.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#define XXH_INLINE_ALL
#include <xxhash.h>

#include "runtime/errbuf.h"
#include "runtime/meaning.h"
#include "runtime/sink_int.h"
#include "state/bytes.h"
#include "util/buf.h"
#include "weir/dynamodb.h"
#include "weir/fields.h"
#include "weir/output.h"
#include "weir/spec.h"

typedef struct wjob wjob;

/* Where a step's end writes: the unit's sinks. */
struct weir_window_step_out {
    wjob *j;
};

/* The job's compiled configuration, its sinks and its per-batch buffers. */
struct wjob {
    weir__unit base;
    int partitions; /* of the operator: 1, or a global job's input partitions */
    weir_fields *fields;
    weir_key *key; /* NULL: global */
    weir_pred **wheres;
    size_t n_wheres;
    weir_aggs *aggs;
    int hll_precision;
    weir_gwindow_params params;
    weir_gwindow *op;
    weir_sink **sinks; /* borrowed: firings go to each (DynamoDB items, messages, lines) */
    size_t n_sinks;
    weir_sink *late, *dead; /* borrowed; NULL: none */
    char *item;
    size_t item_cap;
    char *sk; /* the sort key value of the item being written */
    size_t sk_cap;
    const char *key_paths[WEIR_KEY_MAX_FIELDS];
    size_t n_keys;
    char *json;
    size_t json_cap;
    weir_err sink_err;
    /* One batch: rows, their values, and the bytes of keys that had to be encoded. */
    size_t batch, nf;
    weir_row *rows;
    weir_value *vals;
    size_t *key_off; /* offset into keybuf, or SIZE_MAX for a key that points elsewhere */
    char *keybuf;
    size_t key_len, key_cap;
    size_t n_rows;
    weir_window_job_stats st; /* records, valid, invalid, invalid_by, filtered */
    /* A caller's second step (NULL: none), its state, and the configuration's aggregates
     * followed by the step's. */
    const weir_window_step *step;
    void *step_state;
    weir_gagg_def *defs;
    size_t n_defs;
    weir_window_step_out out;
};

typedef struct list_ctx {
    wjob *j;
    char *err;
    size_t err_size;
    weir_err rc;
} list_ctx;

static int add_where(void *opaque, const char *item)
{
    list_ctx *c = opaque;
    wjob *j = c->j;
    weir_pred **w = realloc(j->wheres, (j->n_wheres + 1) * sizeof *w);
    if (!w) {
        c->rc = WEIR_ERR_NOMEM;
        return 1;
    }
    j->wheres = w;
    char inner[768];
    c->rc = weir_pred_parse(item, j->fields, &j->wheres[j->n_wheres], inner, sizeof inner);
    if (c->rc != WEIR_OK) {
        if (c->rc == WEIR_ERR_INVALID_ARG)
            weir__errf(c->err, c->err_size, "--where: %s", inner);
        return 1;
    }
    j->n_wheres++;
    return 0;
}

static int add_agg(void *opaque, const char *item)
{
    list_ctx *c = opaque;
    char inner[768];
    c->rc = weir_aggs_add(c->j->aggs, item, inner, sizeof inner);
    if (c->rc == WEIR_ERR_INVALID_ARG)
        weir__errf(c->err, c->err_size, "--agg: %s", inner);
    return c->rc != WEIR_OK;
}

static void wjob_free(wjob *j)
{
    weir_gwindow_destroy(j->op);
    if (j->step && j->step->unit_free)
        j->step->unit_free(j->step_state);
    free(j->defs);
    for (size_t i = 0; i < j->n_wheres; i++)
        weir_pred_destroy(j->wheres[i]);
    free(j->wheres);
    weir_aggs_destroy(j->aggs);
    weir_key_destroy(j->key);
    weir_fields_destroy(j->fields);
    free(j->sinks);
    free(j->item);
    free(j->sk);
    free(j->json);
    free(j->rows);
    free(j->vals);
    free(j->key_off);
    free(j->keybuf);
}

static int on_firing(void *opaque, const weir_gwindow_firing *f);

/* A step's result to every sink of the unit, as the job's own firings go (weir__sink_message:
 * the held sink, a Kafka message, a line). */
weir_err weir_window_step_write(weir_window_step_out *out, const char *key, size_t key_len,
                                const char *line, size_t len, int64_t ts)
{
    wjob *j = out->j;
    for (size_t i = 0; i < j->n_sinks; i++) {
        weir_err rc = weir__sink_message(j->sinks[i], key, key_len, line, len, ts);
        if (rc != WEIR_OK)
            return rc;
    }
    return WEIR_OK;
}

/* After each call into the operator: the step writes what that call's firings gave. */
static weir_err step_end(wjob *j, weir_err rc)
{
    if (rc == WEIR_OK && j->sink_err == WEIR_OK && j->step) {
        weir_err e = j->step->end(j->step_state, &j->out);
        if (e != WEIR_OK)
            j->sink_err = e;
    }
    return j->sink_err != WEIR_OK ? j->sink_err : rc;
}

static void on_late(void *opaque, const weir_row *r);

/* Compiles the configuration into j; with `make_op` also creates the operator. */
static weir_err wjob_build(wjob *j, const weir_conf *conf, int make_op, char *err, size_t err_size)
{
    char inner[768];
    const char *unit = weir_conf_get(conf, "timestamp.unit");
    weir_ts_unit u = !strcmp(unit, "s")    ? WEIR_TS_SECONDS
                     : !strcmp(unit, "ms") ? WEIR_TS_MILLIS
                                           : WEIR_TS_AUTO;
    weir_err rc = weir_fields_new(weir_conf_get(conf, "timestamp.field"), u,
                                  (size_t)weir_conf_get_int(conf, "input.max.record.bytes"),
                                  &j->fields, inner, sizeof inner);
    if (rc != WEIR_OK) {
        weir__errf(err, err_size, "--timestamp-field: %s", inner);
        return rc;
    }
    if (!weir_conf_get_bool(conf, "global")) {
        rc = weir_key_parse(weir_conf_get(conf, "key.field"), j->fields, &j->key, inner,
                            sizeof inner);
        if (rc != WEIR_OK) {
            if (rc == WEIR_ERR_INVALID_ARG)
                weir__errf(err, err_size, "--key: %s", inner);
            return rc;
        }
        j->n_keys = weir_key_count(j->key);
        for (size_t i = 0; i < j->n_keys; i++)
            j->key_paths[i] = weir_key_path(j->key, i);
    }
    list_ctx c = {j, err, err_size, WEIR_OK};
    if (weir_conf_get_list(conf, "where", add_where, &c) != 0)
        return c.rc != WEIR_OK ? c.rc : WEIR_ERR_NOMEM;
    j->hll_precision = (int)weir_conf_get_int(conf, "hll.precision");
    if (!(j->aggs = weir_aggs_new(j->fields, j->hll_precision)))
        return WEIR_ERR_NOMEM;
    if (weir_conf_get_list(conf, "aggregates", add_agg, &c) != 0)
        return c.rc != WEIR_OK ? c.rc : WEIR_ERR_NOMEM;
    size_t n_conf;
    const weir_gagg_def *cdefs = weir_aggs_defs(j->aggs, &n_conf);
    weir_gagg_def extra[WEIR_WINDOW_STEP_MAX_AGGS];
    size_t n_extra = 0;
    if (j->step) {
        inner[0] = '\0';
        rc = j->step->unit_new(j->step->arg, j->fields, extra, &n_extra, &j->step_state, inner,
                               sizeof inner);
        if (rc != WEIR_OK) {
            if (rc == WEIR_ERR_INVALID_ARG)
                weir__errf(err, err_size, "step %s: %s", j->step->name, inner);
            return rc;
        }
        if (n_extra > WEIR_WINDOW_STEP_MAX_AGGS) {
            weir__errf(err, err_size, "step %s: %zu aggregates (at most %d)", j->step->name,
                       n_extra, WEIR_WINDOW_STEP_MAX_AGGS);
            return WEIR_ERR_INVALID_ARG;
        }
    }
    size_t n_aggs = n_conf + n_extra;
    if (n_aggs && !(j->defs = malloc(n_aggs * sizeof *j->defs)))
        return WEIR_ERR_NOMEM;
    if (n_conf)
        memcpy(j->defs, cdefs, n_conf * sizeof *j->defs);
    for (size_t i = 0; i < n_extra; i++)
        j->defs[n_conf + i] = extra[i];
    j->n_defs = n_aggs;
    const weir_gagg_def *defs = j->defs;
    if (!n_aggs) {
        weir__errf(err, err_size,
                   "--agg: at least one aggregate is needed (accepted: FUNC(FIELD) [where PRED] "
                   "[as NAME], for instance --agg 'count()')");
        return WEIR_ERR_INVALID_ARG;
    }
    for (size_t i = 0; i < n_conf; i++)
        for (size_t k = 0; k < j->n_keys; k++)
            if (!strcmp(defs[i].name, j->key_paths[k])) {
                weir__errf(err, err_size,
                           "--agg: the name \"%s\" is also a key field (name the aggregate with "
                           "as NAME)",
                           defs[i].name);
                return WEIR_ERR_INVALID_ARG;
            }
    const char *spec = weir_conf_get(conf, "window.spec");
    weir_gwindow_params *p = &j->params;
    if (spec[0]) {
        if (weir_window_spec_parse(spec, &p->spec, inner, sizeof inner) != WEIR_OK) {
            weir__errf(err, err_size, "--window: %s", inner);
            return WEIR_ERR_INVALID_ARG;
        }
    } else {
        p->spec.kind = WEIR_WINDOW_TUMBLE;
        p->spec.size_ms = weir_conf_get_duration_ms(conf, "window.size");
    }
    p->allowed_lateness_ms = weir_conf_get_duration_ms(conf, "window.allowed.lateness");
    p->emit =
        strcmp(weir_conf_get(conf, "emit.mode"), "final") ? WEIR_EMIT_UPDATES : WEIR_EMIT_FINAL;
    weir_wm_params_from_conf(conf, &p->wm);
    p->partitions = j->partitions > 0 ? j->partitions : 1;
    p->aggs = defs;
    p->n_aggs = n_aggs;
    if (make_op) {
        j->op = weir_gwindow_new(p, on_firing, j, inner, sizeof inner);
        if (!j->op) {
            int oom = !strcmp(inner, "out of memory");
            if (!oom)
                weir__errf(err, err_size, "--agg: %s", inner);
            return oom ? WEIR_ERR_NOMEM : WEIR_ERR_INVALID_ARG;
        }
        weir_gwindow_set_late_output(j->op, on_late, j);
    }
    j->nf = weir_fields_count(j->fields);
    return WEIR_OK;
}

/* A bounded writer that counts what it would write. */
typedef struct wbuf {
    char *p;
    size_t cap, len;
} wbuf;

static void wput(wbuf *b, const char *s, size_t n)
{
    if (b->len < b->cap)
        memcpy(b->p + b->len, s, n < b->cap - b->len ? n : b->cap - b->len);
    b->len += n;
}

static void wstr(wbuf *b, const char *s)
{
    wput(b, s, strlen(s));
}

static void wquote(wbuf *b, weir_slice s)
{
    char *at = b->len < b->cap ? b->p + b->len : NULL;
    size_t room = at ? b->cap - b->len : 0;
    b->len += weir_json_quote(s, at, room);
    /* weir_json_quote NUL-terminates within room: the next put overwrites it. */
}

static void wattr_s(wbuf *b, const char *name, weir_slice v)
{
    wquote(b, (weir_slice){name, strlen(name)});
    wstr(b, ":{\"S\":");
    wquote(b, v);
    wstr(b, "}");
}

/* The sort key value of a firing's item (docs/DYNAMODB.md, "Composite keys"): window_start,
 * then for a composite key each further key part as "#" LEN ":" BYTES with LEN the part's
 * length in bytes in decimal, so that the items of one partition key value and window differ
 * whenever a further part does, and the parts read back unambiguously. Returns the length
 * needed, as snprintf (buf is not terminated). */
static size_t ddb_sort_key(const wjob *j, const weir_gwindow_firing *f, const weir_slice *parts,
                           char *buf, size_t cap)
{
    wbuf b = {buf, cap, 0};
    char t[32];
    wput(&b, t, weir_format_iso8601(f->window_start, t));
    for (size_t i = 1; i < j->n_keys; i++) {
        char n[32];
        wput(&b, n, (size_t)snprintf(n, sizeof n, "#%zu:", parts[i].len));
        wput(&b, parts[i].ptr, parts[i].len);
    }
    return b.len;
}

/* The DynamoDB PutRequest of a firing (docs/SEMANTICS.md): the first key field (or `key` =
 * "all" for a global job) as the partition key, window_start (with the further key parts of a
 * composite key, `s`) as the sort key, the other key fields and window_end as strings,
 * integers and doubles as numbers, null as NULL. */
static size_t ddb_item(const wjob *j, const weir_gwindow_firing *f, const weir_slice *parts,
                       const weir_gagg_def *defs, weir_slice s, char *buf, size_t cap)
{
    wbuf b = {buf, cap, 0};
    char end[32], num[40];
    weir_slice e = {end, weir_format_iso8601(f->window_end, end)};
    wstr(&b, "{\"PutRequest\":{\"Item\":{");
    if (j->n_keys)
        wattr_s(&b, j->key_paths[0], parts[0]);
    else
        wattr_s(&b, "key", (weir_slice){"all", 3});
    wstr(&b, ",");
    wattr_s(&b, "window_start", s);
    wstr(&b, ",");
    wattr_s(&b, "window_end", e);
    for (size_t i = 1; i < j->n_keys; i++) {
        wstr(&b, ",");
        wattr_s(&b, j->key_paths[i], parts[i]);
    }
    for (size_t i = 0; i < f->n_values; i++) {
        const weir_value *v = &f->values[i];
        wstr(&b, ",");
        if (v->type == WEIR_VALUE_STRING) {
            wattr_s(&b, defs[i].name, v->u.s);
            continue;
        }
        wquote(&b, (weir_slice){defs[i].name, strlen(defs[i].name)});
        size_t n = 0;
        if (v->type == WEIR_VALUE_INT)
            n = (size_t)snprintf(num, sizeof num, "%lld", (long long)v->u.i);
        else if (v->type == WEIR_VALUE_DOUBLE && isfinite(v->u.d))
            n = weir_format_double(v->u.d, num);
        if (n) {
            wstr(&b, ":{\"N\":\"");
            wput(&b, num, n);
            wstr(&b, "\"}");
        } else {
            wstr(&b, ":{\"NULL\":true}");
        }
    }
    wstr(&b, "}}}");
    return b.len;
}

static int put_ddb(wjob *j, weir_sink *ddb, const weir_gwindow_firing *f, const weir_slice *parts,
                   const weir_gagg_def *defs)
{
    size_t sk_len = ddb_sort_key(j, f, parts, j->sk, j->sk_cap);
    if (sk_len >= j->sk_cap) {
        char *nb = weir__grow(j->sk, &j->sk_cap, sk_len + 1);
        if (!nb) {
            j->sink_err = WEIR_ERR_NOMEM;
            return -1;
        }
        j->sk = nb;
        ddb_sort_key(j, f, parts, j->sk, j->sk_cap);
    }
    j->sk[sk_len] = '\0'; /* key parts hold no NUL: U+0000 makes a record invalid */
    weir_slice sk = {j->sk, sk_len};
    size_t need = ddb_item(j, f, parts, defs, sk, j->item, j->item_cap);
    if (need >= j->item_cap) {
        char *nb = weir__grow(j->item, &j->item_cap, need + 1);
        if (!nb) {
            j->sink_err = WEIR_ERR_NOMEM;
            return -1;
        }
        j->item = nb;
        ddb_item(j, f, parts, defs, sk, j->item, j->item_cap);
    }
    weir_slice pk = j->n_keys ? parts[0] : (weir_slice){"all", 3};
    weir_err rc = weir_dynamodb_sink_put(ddb, pk, j->sk, j->item, need);
    if (rc != WEIR_OK) {
        j->sink_err = rc;
        return -1;
    }
    return 0;
}

/* The JSON line of a firing in j->json; its length, or (size_t)-1 when out of memory. */
static size_t firing_json(wjob *j, const weir_gwindow_firing *f, const weir_slice *parts,
                          const weir_gagg_def *defs)
{
    size_t need =
        weir_gfiring_to_json(f, j->key_paths, parts, j->n_keys, defs, j->json, j->json_cap);
    if (need >= j->json_cap) {
        char *nb = weir__grow(j->json, &j->json_cap, need + 1);
        if (!nb)
            return (size_t)-1;
        j->json = nb;
        weir_gfiring_to_json(f, j->key_paths, parts, j->n_keys, defs, j->json, j->json_cap);
    }
    return need;
}

/* Each sink gets the firing in its form: DynamoDB an item (docs/DYNAMODB.md), the others a
 * JSON line, as a Kafka message keyed by the first key field's value (none for a global
 * job) with the window's last millisecond as its timestamp, as unique-users' results are. */
static int on_firing(void *opaque, const weir_gwindow_firing *f)
{
    wjob *j = opaque;
    if (j->step) {
        weir_err rc = j->step->firing(j->step_state, f);
        if (rc != WEIR_OK) {
            j->sink_err = rc;
            return -1;
        }
        return 0;
    }
    weir_slice parts[WEIR_KEY_MAX_FIELDS];
    if (j->key && weir_key_parts(j->key, f->key, parts) != 0)
        return -1; /* cannot happen: the operator hands back the bytes it was given */
    size_t n_aggs;
    const weir_gagg_def *defs = weir_aggs_defs(j->aggs, &n_aggs);
    size_t need = 0;
    int formatted = 0;
    for (size_t i = 0; i < j->n_sinks; i++) {
        weir_sink *s = j->sinks[i];
        if (!strcmp(s->ops->name, "dynamodb")) {
            if (put_ddb(j, s, f, parts, defs) != 0)
                return -1;
            continue;
        }
        if (!formatted && (need = firing_json(j, f, parts, defs)) == (size_t)-1) {
            j->sink_err = WEIR_ERR_NOMEM;
            return -1;
        }
        formatted = 1;
        weir_err rc =
            weir__sink_message(s, j->n_keys ? parts[0].ptr : NULL, j->n_keys ? parts[0].len : 0,
                               j->json, need, f->window_end - 1);
        if (rc != WEIR_OK) {
            j->sink_err = rc;
            return -1;
        }
    }
    return 0;
}

static void on_late(void *opaque, const weir_row *r)
{
    wjob *j = opaque;
    weir_err rc = weir_sink_record(j->late, r->raw, r->partition);
    if (rc != WEIR_OK && j->sink_err == WEIR_OK)
        j->sink_err = rc;
}

/* Hands the rows gathered so far to the operator. */
static weir_err flush_rows(wjob *j, int64_t wall_ms)
{
    if (!j->n_rows)
        return WEIR_OK;
    for (size_t i = 0; i < j->n_rows; i++)
        if (j->key_off[i] != SIZE_MAX)
            j->rows[i].key.ptr = j->keybuf + j->key_off[i];
    weir_err rc = weir_gwindow_process(j->op, j->rows, j->n_rows, wall_ms);
    j->n_rows = 0;
    j->key_len = 0;
    return step_end(j, rc);
}

static weir_err dead_letter(wjob *j, weir_rec_status s, const weir_record *rec)
{
    j->st.invalid++;
    j->st.invalid_by[s]++;
    return weir_sink_record(j->dead, (weir_slice){rec->data, rec->len}, rec->partition);
}

/* One raw record; rows accumulate until the batch is full or a filtered record must move the
 * watermark between them. */
static weir_err push_one(wjob *j, const weir_record *rec, int64_t wall_ms)
{
    j->st.records++;
    weir_value *vals = j->vals + j->n_rows * j->nf;
    int64_t ts;
    weir_rec_status s = weir_fields_decode(j->fields, rec->data, rec->len, &ts, vals);
    if (s != WEIR_REC_OK)
        return dead_letter(j, s, rec);
    for (size_t i = 0; i < j->n_wheres; i++)
        if (!weir_pred_eval(j->wheres[i], vals)) {
            j->st.filtered++;
            weir_err rc = flush_rows(j, wall_ms);
            if (rc == WEIR_OK)
                rc = step_end(j, weir_gwindow_observe(j->op, rec->partition, ts, wall_ms));
            return rc != WEIR_OK ? rc : j->sink_err;
        }
    weir_row *r = &j->rows[j->n_rows];
    size_t off = SIZE_MAX;
    if (!j->key) {
        r->key = (weir_slice){"", 0};
    } else if (j->n_keys == 1 && vals[0].type == WEIR_VALUE_STRING) {
        r->key = vals[0].u.s; /* the key's field was added first: its value is values[0] */
    } else {
        size_t room = j->key_cap - j->key_len;
        size_t n = weir_key_encode(j->key, vals, j->keybuf + j->key_len, room);
        if (n == (size_t)-1)
            return dead_letter(j, WEIR_REC_NO_KEY, rec);
        if (n > room) {
            char *kb = weir__grow(j->keybuf, &j->key_cap, j->key_len + n);
            if (!kb)
                return WEIR_ERR_NOMEM;
            j->keybuf = kb;
            weir_key_encode(j->key, vals, j->keybuf + j->key_len, n);
        }
        off = j->key_len;
        r->key = (weir_slice){NULL, n};
        j->key_len += n;
    }
    r->key_hash = XXH3_64bits(off == SIZE_MAX ? r->key.ptr : j->keybuf + off, r->key.len);
    r->ts = ts;
    r->partition = rec->partition;
    r->raw = (weir_slice){rec->data, rec->len};
    r->values = vals;
    r->n_values = j->nf;
    if (j->step && j->step->record) {
        weir_err rc = j->step->record(j->step_state, vals, j->nf, ts);
        if (rc != WEIR_OK)
            return rc;
    }
    j->key_off[j->n_rows++] = off;
    j->st.valid++;
    if (j->n_rows == j->batch)
        return flush_rows(j, wall_ms);
    return WEIR_OK;
}

/* ---------------------------------------------------------------- the unit */

#define WUNIT_MAGIC   "WEIRWUNI"
#define WUNIT_VERSION 1

static weir_err wu_push(weir__unit *u, const weir_record *recs, size_t n, int64_t wall_ms)
{
    wjob *j = (wjob *)u;
    weir_err rc = WEIR_OK;
    for (size_t i = 0; i < n && rc == WEIR_OK; i++)
        rc = push_one(j, &recs[i], wall_ms);
    /* The rows point into the records' bytes: hand them over before the call returns. A
     * step that saw records (record) writes what they gave, fired or not. */
    size_t pending = j->n_rows;
    if (rc == WEIR_OK)
        rc = flush_rows(j, wall_ms);
    if (rc == WEIR_OK && !pending && j->step && j->step->record)
        rc = step_end(j, rc);
    j->n_rows = 0;
    j->key_len = 0;
    weir_fields_reset(j->fields);
    return rc != WEIR_OK ? rc : j->sink_err;
}

static weir_err wu_tick(weir__unit *u, int64_t wall_ms)
{
    wjob *j = (wjob *)u;
    return step_end(j, weir_gwindow_tick(j->op, wall_ms));
}

static weir_err wu_finish(weir__unit *u)
{
    wjob *j = (wjob *)u;
    return step_end(j, weir_gwindow_finish(j->op));
}

void weir__wunit_counters(const weir__unit *u, uint64_t *c)
{
    const wjob *j = (const wjob *)u;
    c[0] = j->st.records;
    c[1] = j->st.valid;
    c[2] = j->st.invalid;
    c[3] = j->st.filtered;
    for (int i = 0; i < WEIR_REC_STATUS_COUNT; i++)
        c[4 + i] = j->st.invalid_by[i];
}

void weir__wunit_set_counters(weir__unit *u, const uint64_t *c)
{
    wjob *j = (wjob *)u;
    j->st.records = c[0];
    j->st.valid = c[1];
    j->st.invalid = c[2];
    j->st.filtered = c[3];
    for (int i = 0; i < WEIR_REC_STATUS_COUNT; i++)
        j->st.invalid_by[i] = c[4 + i];
}

static weir_err wu_snapshot(const weir__unit *u, uint8_t **out, size_t *out_len)
{
    const wjob *j = (const wjob *)u;
    uint8_t *op;
    size_t op_len;
    weir_err rc = weir_gwindow_snapshot(j->op, &op, &op_len);
    if (rc != WEIR_OK)
        return rc;
    uint64_t c[WEIR__WUNIT_COUNTERS];
    weir__wunit_counters(u, c);
    rc = weir__unit_snap_write(WUNIT_MAGIC, WUNIT_VERSION, c, WEIR__WUNIT_COUNTERS, op, op_len, out,
                               out_len);
    free(op);
    return rc;
}

static weir_err wu_restore(weir__unit *u, const uint8_t *buf, size_t len, char *errstr,
                           size_t errstr_size)
{
    wjob *j = (wjob *)u;
    const uint8_t *cb, *op;
    size_t op_len;
    weir_err rc =
        weir__unit_snap_read(buf, len, WUNIT_MAGIC, WUNIT_VERSION, WEIR__WUNIT_COUNTERS,
                             "window unit snapshot", &cb, &op, &op_len, errstr, errstr_size);
    if (rc == WEIR_OK)
        rc = weir_gwindow_restore(j->op, op, op_len, errstr, errstr_size);
    if (rc != WEIR_OK)
        return rc;
    uint64_t c[WEIR__WUNIT_COUNTERS];
    for (int i = 0; i < WEIR__WUNIT_COUNTERS; i++)
        c[i] = weir__get_le64(cb + 8 * i);
    weir__wunit_set_counters(u, c);
    return WEIR_OK;
}

static void wu_stats(const weir__unit *u, weir__unit_stats *out, int with_state)
{
    const wjob *j = (const wjob *)u;
    memset(out, 0, sizeof *out);
    weir_gwindow_counters o;
    weir_gwindow_stats(j->op, &o);
    out->p.records = j->st.records;
    out->p.valid = j->st.valid;
    out->p.invalid = j->st.invalid;
    memcpy(out->p.invalid_by, j->st.invalid_by, sizeof out->p.invalid_by);
    out->filtered = j->st.filtered;
    weir_window_stats *w = &out->p.window;
    w->accepted = o.accepted;
    w->late_dropped = o.late_dropped;
    w->late_accepted = o.late_accepted;
    w->late_firings = o.late_firings;
    w->future_skewed = o.future_skewed;
    w->emissions = o.emissions;
    w->live_windows = o.live_slices + o.live_sessions;
    w->live_keys = o.live_keys;
    w->state_bytes = with_state ? o.state_bytes : 0;
}

void weir__wunit_job_stats(const weir__unit *u, weir_window_job_stats *out)
{
    const wjob *j = (const wjob *)u;
    *out = j->st;
    weir_gwindow_stats(j->op, &out->op);
}

static int64_t wu_watermark(const weir__unit *u)
{
    return weir_gwindow_watermark(((const wjob *)u)->op);
}

static weir_err wu_set_partitions(weir__unit *u, int partitions)
{
    return step_end((wjob *)u, weir_gwindow_set_partitions(((wjob *)u)->op, partitions));
}

static weir_err wu_reset_partition(weir__unit *u, int partition)
{
    return step_end((wjob *)u, weir_gwindow_reset_partition(((wjob *)u)->op, partition));
}

static void wu_destroy(weir__unit *u)
{
    if (!u)
        return;
    wjob_free((wjob *)u);
    free(u);
}

static const weir__unit_ops WUNIT_OPS = {
    .push = wu_push,
    .tick = wu_tick,
    .finish = wu_finish,
    .snapshot = wu_snapshot,
    .restore = wu_restore,
    .stats = wu_stats,
    .watermark = wu_watermark,
    .set_partitions = wu_set_partitions,
    .reset_partition = wu_reset_partition,
    .destroy = wu_destroy,
};

static weir_err create_step(const void *step, const weir_conf *conf, int partitions,
                            const weir__unit_sinks *s, weir__unit **out, char *errstr,
                            size_t errstr_size)
{
    wjob *j = calloc(1, sizeof *j);
    if (!j)
        return WEIR_ERR_NOMEM;
    j->base.ops = &WUNIT_OPS;
    j->partitions = partitions;
    j->step = step;
    j->out.j = j;
    weir_err rc = wjob_build(j, conf, 1, errstr, errstr_size);
    if (rc != WEIR_OK)
        goto fail;
    j->batch = (size_t)weir_conf_get_int(conf, "input.batch.records");
    size_t nf = j->nf ? j->nf : 1;
    j->rows = malloc(j->batch * sizeof *j->rows);
    j->vals = malloc(j->batch * nf * sizeof *j->vals);
    j->key_off = malloc(j->batch * sizeof *j->key_off);
    if (s && s->n && (j->sinks = malloc(s->n * sizeof *j->sinks)) != NULL) {
        memcpy(j->sinks, s->sinks, s->n * sizeof *j->sinks);
        j->n_sinks = s->n;
    }
    if (!j->rows || !j->vals || !j->key_off || (s && s->n && !j->sinks)) {
        rc = WEIR_ERR_NOMEM;
        goto fail;
    }
    if (s) {
        j->late = s->late;
        j->dead = s->dead;
    }
    weir_gwindow_set_late_output(j->op, j->late ? on_late : NULL, j);
    *out = &j->base;
    return WEIR_OK;
fail:
    wu_destroy(&j->base);
    return rc;
}

static weir_err wu_create(const weir_conf *conf, int partitions, const weir__unit_sinks *s,
                          weir__unit **out, char *errstr, size_t errstr_size)
{
    return create_step(NULL, conf, partitions, s, out, errstr, errstr_size);
}

weir_err weir__wunit_create_step(const void *step, const weir_conf *conf, int partitions,
                                 const weir__unit_sinks *s, weir__unit **out, char *errstr,
                                 size_t errstr_size)
{
    return create_step(step, conf, partitions, s, out, errstr, errstr_size);
}

weir_err weir__wunit_check_step(const weir_conf *conf, const weir_window_step *step, char *errstr,
                                size_t errstr_size)
{
    weir__unit *u = NULL;
    weir_err rc = create_step(step, conf, 1, NULL, &u, errstr, errstr_size);
    if (rc == WEIR_ERR_NOMEM)
        weir__errf(errstr, errstr_size, "out of memory");
    wu_destroy(u);
    return rc;
}

weir_err weir__wunit_check(const weir_conf *conf, char *errstr, size_t errstr_size)
{
    weir__unit *u = NULL;
    weir_err rc = wu_create(conf, 1, NULL, &u, errstr, errstr_size);
    if (rc == WEIR_ERR_NOMEM)
        weir__errf(errstr, errstr_size, "out of memory");
    wu_destroy(u);
    return rc;
}

weir_gwindow *weir__wunit_op(weir__unit *u)
{
    return ((wjob *)u)->op;
}

const char *weir__wunit_ddb_key(const weir__unit *u)
{
    const wjob *j = (const wjob *)u;
    return j->n_keys ? j->key_paths[0] : "key";
}

/* The keys that give a checkpoint's state its meaning; a restore under other values is
 * refused. */
static const char *const MEANING[] = {
    "key.field",
    "global",
    "window.spec",
    "window.size",
    "aggregates",
    "where",
    "timestamp.field",
    "timestamp.unit",
    "hll.precision",
    "watermark.out.of.orderness",
    "window.allowed.lateness",
    "emit.mode",
    "input.max.record.bytes",
    "watermark.max.future.skew",
};

char *weir__wunit_meaning(const weir_conf *conf)
{
    return weir__conf_meaning_of(conf, MEANING, sizeof MEANING / sizeof *MEANING);
}

char *weir__wunit_meaning_step(const void *step, const weir_conf *conf)
{
    const weir_window_step *st = step;
    char *m = weir__wunit_meaning(conf);
    if (!m)
        return NULL;
    /* The step's name and version, so that a checkpoint taken with another step (whose
     * extra aggregates and output differ) is refused as another configuration would be. */
    size_t n = strlen(m) + strlen(st->name) + 32;
    char *r = malloc(n);
    if (r)
        snprintf(r, n, "%s step=%s/%u", m, st->name, (unsigned)st->version);
    free(m);
    return r;
}

/* The meaning as weir-window's first file checkpoints (WEIRWJOB) wrote it: "key=value\n"
 * lines over the same keys. */
static char *legacy_meaning(const weir_conf *conf)
{
    size_t n = 1;
    for (size_t i = 0; i < sizeof MEANING / sizeof *MEANING; i++)
        n += strlen(MEANING[i]) + strlen(weir_conf_get(conf, MEANING[i])) + 2;
    char *m = malloc(n), *o = m;
    for (size_t i = 0; m && i < sizeof MEANING / sizeof *MEANING; i++)
        o += sprintf(o, "%s=%s\n", MEANING[i], weir_conf_get(conf, MEANING[i]));
    return m;
}

/* WEIRWJOB kept the counters (in the unit's order) apart from the operator's snapshot. */
static weir_err legacy_snapshot(const uint64_t *counters, size_t n, const uint8_t *op,
                                size_t op_len, uint8_t **out, size_t *out_len)
{
    if (n != WEIR__WUNIT_COUNTERS)
        return WEIR_ERR_UNSUPPORTED;
    return weir__unit_snap_write(WUNIT_MAGIC, WUNIT_VERSION, counters, WEIR__WUNIT_COUNTERS, op,
                                 op_len, out, out_len);
}

static size_t wu_sink_fields(const weir_conf *conf, weir_agg_spec *aggs, int *hll_precision,
                             const char **key_field)
{
    (void)conf;
    (void)aggs;
    (void)hll_precision;
    *key_field = NULL; /* the unit formats its own messages */
    return 0;
}

const weir__unit_kind weir__window_kind = {
    .name = "weir-window",
    .create = wu_create,
    .sink_fields = wu_sink_fields,
    .meaning = weir__wunit_meaning,
    .filters = 1,
    .open_counts = 1,
    .legacy_meaning = legacy_meaning,
    .legacy_snapshot = legacy_snapshot,
};
