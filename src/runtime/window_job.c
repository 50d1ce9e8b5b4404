/* The generic windowed job over files: read lines, extract fields, filter, key, window, write. */
#include "weir/window_job.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#define XXH_INLINE_ALL
#include <xxhash.h>

#include "runtime/errbuf.h"
#include "runtime/logf.h"
#include "state/bytes.h"
#include "weir/checkpoint.h"
#include "weir/dynamodb.h"
#include "weir/fields.h"
#include "weir/output.h"
#include "weir/sink.h"
#include "weir/spec.h"

/* The job's compiled configuration and its per-batch buffers. */
typedef struct wjob {
    weir_fields *fields;
    weir_key *key; /* NULL: global */
    weir_pred **wheres;
    size_t n_wheres;
    weir_aggs *aggs;
    int hll_precision;
    weir_gwindow_params params;
    weir_gwindow *op;
    weir_sink *out, *late, *dead;
    weir_sink *ddb; /* DynamoDB, when configured */
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
    weir_window_job_stats st;
} wjob;

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
    for (size_t i = 0; i < j->n_wheres; i++)
        weir_pred_destroy(j->wheres[i]);
    free(j->wheres);
    weir_aggs_destroy(j->aggs);
    weir_key_destroy(j->key);
    weir_fields_destroy(j->fields);
    weir_sink_destroy(j->out);
    weir_sink_destroy(j->late);
    weir_sink_destroy(j->dead);
    weir_sink_destroy(j->ddb);
    free(j->item);
    free(j->sk);
    free(j->json);
    free(j->rows);
    free(j->vals);
    free(j->key_off);
    free(j->keybuf);
}

static int on_firing(void *opaque, const weir_gwindow_firing *f);
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
    size_t n_aggs;
    const weir_gagg_def *defs = weir_aggs_defs(j->aggs, &n_aggs);
    if (!n_aggs) {
        weir__errf(err, err_size,
                   "--agg: at least one aggregate is needed (accepted: FUNC(FIELD) [where PRED] "
                   "[as NAME], for instance --agg 'count()')");
        return WEIR_ERR_INVALID_ARG;
    }
    for (size_t i = 0; i < n_aggs; i++)
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
    p->partitions = 1;
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

weir_err weir_window_job_check(const weir_conf *conf, char *errstr, size_t errstr_size)
{
    static const char *const unsupported[] = {"brokers", "checkpoint.topic"};
    for (size_t i = 0; i < sizeof unsupported / sizeof unsupported[0]; i++)
        if (weir_conf_get(conf, unsupported[i])[0]) {
            weir__errf(errstr, errstr_size,
                       "%s: weir-window reads files or standard input only, for now",
                       unsupported[i]);
            return WEIR_ERR_INVALID_ARG;
        }
    wjob j;
    memset(&j, 0, sizeof j);
    weir_err rc = wjob_build(&j, conf, 1, errstr, errstr_size);
    if (rc == WEIR_ERR_NOMEM)
        weir__errf(errstr, errstr_size, "out of memory");
    wjob_free(&j);
    return rc;
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

static int put_ddb(wjob *j, const weir_gwindow_firing *f, const weir_slice *parts,
                   const weir_gagg_def *defs)
{
    size_t sk_len = ddb_sort_key(j, f, parts, j->sk, j->sk_cap);
    if (sk_len >= j->sk_cap) {
        char *nb = realloc(j->sk, sk_len + 64);
        if (!nb) {
            j->sink_err = WEIR_ERR_NOMEM;
            return -1;
        }
        j->sk = nb;
        j->sk_cap = sk_len + 64;
        ddb_sort_key(j, f, parts, j->sk, j->sk_cap);
    }
    j->sk[sk_len] = '\0'; /* key parts hold no NUL: U+0000 makes a record invalid */
    weir_slice sk = {j->sk, sk_len};
    size_t need = ddb_item(j, f, parts, defs, sk, j->item, j->item_cap);
    if (need >= j->item_cap) {
        char *nb = realloc(j->item, need + 256);
        if (!nb) {
            j->sink_err = WEIR_ERR_NOMEM;
            return -1;
        }
        j->item = nb;
        j->item_cap = need + 256;
        ddb_item(j, f, parts, defs, sk, j->item, j->item_cap);
    }
    weir_slice pk = j->n_keys ? parts[0] : (weir_slice){"all", 3};
    weir_err rc = weir_dynamodb_sink_put(j->ddb, pk, j->sk, j->item, need);
    if (rc != WEIR_OK) {
        j->sink_err = rc;
        return -1;
    }
    return 0;
}

static int on_firing(void *opaque, const weir_gwindow_firing *f)
{
    wjob *j = opaque;
    weir_slice parts[WEIR_KEY_MAX_FIELDS];
    if (j->key && weir_key_parts(j->key, f->key, parts) != 0)
        return -1; /* cannot happen: the operator hands back the bytes it was given */
    size_t n_aggs;
    const weir_gagg_def *defs = weir_aggs_defs(j->aggs, &n_aggs);
    if (j->ddb && put_ddb(j, f, parts, defs) != 0)
        return -1;
    if (!j->out)
        return 0;
    size_t need =
        weir_gfiring_to_json(f, j->key_paths, parts, j->n_keys, defs, j->json, j->json_cap);
    if (need >= j->json_cap) {
        char *nb = realloc(j->json, need + 256);
        if (!nb) {
            j->sink_err = WEIR_ERR_NOMEM;
            return -1;
        }
        j->json = nb;
        j->json_cap = need + 256;
        weir_gfiring_to_json(f, j->key_paths, parts, j->n_keys, defs, j->json, j->json_cap);
    }
    weir_err rc = weir_sink_record(j->out, (weir_slice){j->json, need}, 0);
    if (rc != WEIR_OK) {
        j->sink_err = rc;
        return -1;
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
    return j->sink_err != WEIR_OK ? j->sink_err : rc;
}

static weir_err dead_letter(wjob *j, weir_rec_status s, const char *rec, size_t len)
{
    j->st.invalid++;
    j->st.invalid_by[s]++;
    weir_err rc = weir_sink_record(j->dead, (weir_slice){rec, len}, 0);
    return rc;
}

/* One raw record; rows accumulate until the batch is full or a filtered record must move the
 * watermark between them. */
static weir_err push_one(wjob *j, const char *rec, size_t len, int64_t wall_ms)
{
    j->st.records++;
    weir_value *vals = j->vals + j->n_rows * j->nf;
    int64_t ts;
    weir_rec_status s = weir_fields_decode(j->fields, rec, len, &ts, vals);
    if (s != WEIR_REC_OK)
        return dead_letter(j, s, rec, len);
    for (size_t i = 0; i < j->n_wheres; i++)
        if (!weir_pred_eval(j->wheres[i], vals)) {
            j->st.filtered++;
            weir_err rc = flush_rows(j, wall_ms);
            if (rc == WEIR_OK)
                rc = weir_gwindow_observe(j->op, 0, ts, wall_ms);
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
            return dead_letter(j, WEIR_REC_NO_KEY, rec, len);
        if (n > room) {
            size_t cap = j->key_cap ? j->key_cap : 4096;
            while (cap - j->key_len < n)
                cap *= 2;
            char *kb = realloc(j->keybuf, cap);
            if (!kb)
                return WEIR_ERR_NOMEM;
            j->keybuf = kb;
            j->key_cap = cap;
            weir_key_encode(j->key, vals, j->keybuf + j->key_len, n);
        }
        off = j->key_len;
        r->key = (weir_slice){NULL, n};
        j->key_len += n;
    }
    r->key_hash = XXH3_64bits(off == SIZE_MAX ? r->key.ptr : j->keybuf + off, r->key.len);
    r->ts = ts;
    r->partition = 0;
    r->raw = (weir_slice){rec, len};
    r->values = vals;
    r->n_values = j->nf;
    j->key_off[j->n_rows++] = off;
    j->st.valid++;
    if (j->n_rows == j->batch)
        return flush_rows(j, wall_ms);
    return WEIR_OK;
}

static int64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static double mono_sec(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Blocks that stay in the core's L2 cache while their lines are decoded (as file_job.c). */
#define READ_BLOCK (256u << 10)

/*
 * Checkpoints (checkpoint.dir). Taken between blocks of input, when every row has been handed
 * to the operator: the file outputs are fsynced, DynamoDB flushed, then the payload
 *   "WEIRWJOB", u32 version (1), u32 counter count C, u64 input offset of the next record,
 *   u64 XXH64 of the input's first min(offset, 64 KiB) bytes and u64 that length, i64 lengths
 *   of the output, late and dead-letter files (-1: none), C u64 counters (records, valid,
 *   invalid, filtered, invalid_by[]), u32 length + the configuration's meaning, u64 length +
 *   the operator's snapshot (weir_gwindow_snapshot),
 * goes to the checkpoint directory (weir/checkpoint.h adds the envelope and checksum). A
 * restarted job restores the operator and counters, cuts the files back to the recorded
 * lengths and reads on from the recorded offset; the job is deterministic, so the replay
 * writes exactly what the crash lost.
 */
#define WCKPT_MAGIC    "WEIRWJOB"
#define WCKPT_VERSION  1
#define WCKPT_COUNTERS (4 + WEIR_REC_STATUS_COUNT)
#define WCKPT_FIXED    (8 + 4 + 4 + 8 * 3 + 8 * 3 + 8 * WCKPT_COUNTERS + 4)
#define HASH_PREFIX    65536

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

static char *meaning(const weir_conf *conf)
{
    size_t n = 1;
    for (size_t i = 0; i < sizeof MEANING / sizeof *MEANING; i++)
        n += strlen(MEANING[i]) + strlen(weir_conf_get(conf, MEANING[i])) + 2;
    char *m = malloc(n), *o = m;
    for (size_t i = 0; m && i < sizeof MEANING / sizeof *MEANING; i++)
        o += sprintf(o, "%s=%s\n", MEANING[i], weir_conf_get(conf, MEANING[i]));
    return m;
}

static int input_hash(int fd, uint64_t offset, uint64_t *hash, uint64_t *hashed)
{
    size_t n = offset < HASH_PREFIX ? (size_t)offset : HASH_PREFIX;
    uint8_t *b = malloc(n ? n : 1);
    if (!b)
        return -1;
    size_t got = 0;
    while (got < n) {
        ssize_t r = pread(fd, b + got, n - got, (off_t)got);
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    *hash = XXH64(b, got, 0);
    *hashed = got;
    free(b);
    return got == n ? 0 : -1;
}

typedef struct resume {
    const weir_conf *conf;
    const char *m;
    int fd;
    uint64_t offset;
    int64_t files[3];
    uint64_t counters[WCKPT_COUNTERS];
    uint8_t *snap;
    size_t snap_len;
} resume;

static weir_err accept_ckpt(void *opaque, const uint8_t *b, size_t len, char *why, size_t size)
{
    resume *r = opaque;
    if (len < WCKPT_FIXED || memcmp(b, WCKPT_MAGIC, 8) != 0) {
        snprintf(why, size, "not a weir-window checkpoint");
        return WEIR_ERR_CORRUPT;
    }
    if (weir__get_le32(b + 8) != WCKPT_VERSION || weir__get_le32(b + 12) != WCKPT_COUNTERS) {
        snprintf(why, size, "unsupported checkpoint version %u", weir__get_le32(b + 8));
        return WEIR_ERR_UNSUPPORTED;
    }
    uint64_t off = weir__get_le64(b + 16), hash = weir__get_le64(b + 24),
             hashed = weir__get_le64(b + 32);
    size_t pos = 40;
    int64_t files[3];
    for (int i = 0; i < 3; i++, pos += 8)
        files[i] = (int64_t)weir__get_le64(b + pos);
    uint64_t counters[WCKPT_COUNTERS];
    for (int i = 0; i < WCKPT_COUNTERS; i++, pos += 8)
        counters[i] = weir__get_le64(b + pos);
    uint32_t mlen = weir__get_le32(b + pos);
    pos += 4;
    if (mlen > len - pos || len - pos - mlen < 8) {
        snprintf(why, size, "truncated payload");
        return WEIR_ERR_CORRUPT;
    }
    const char *m = (const char *)b + pos;
    pos += mlen;
    uint64_t slen = weir__get_le64(b + pos);
    pos += 8;
    if (slen != len - pos) {
        snprintf(why, size, "truncated payload");
        return WEIR_ERR_CORRUPT;
    }
    if (mlen != strlen(r->m) || memcmp(m, r->m, mlen) != 0) {
        /* Name the first key whose value differs. */
        const char *a = m, *c = r->m, *ae = m + mlen;
        while (a < ae && *c && *a == *c)
            a++, c++;
        while (a > m && a[-1] != '\n')
            a--;
        const char *nl = memchr(a, '\n', (size_t)(ae - a));
        char line[256];
        size_t n = 0;
        for (const char *q = a; q < (nl ? nl : ae) && n + 3 < sizeof line; q++) {
            if (*q == '\x1f') { /* between the items of a list key */
                memcpy(line + n, "; ", 2);
                n += 2;
            } else {
                line[n++] = (unsigned char)*q < 0x20 ? '?' : *q;
            }
        }
        line[n] = '\0';
        snprintf(why, size,
                 "taken with another configuration (%s): use --reset-state to start over", line);
        return WEIR_ERR_INVALID_ARG;
    }
    uint64_t h, hn;
    if (input_hash(r->fd, off, &h, &hn) != 0 || h != hash || hn != hashed) {
        snprintf(why, size,
                 "taken over another input (its first bytes or its length differ): use "
                 "--reset-state to start over");
        return WEIR_ERR_INVALID_ARG;
    }
    for (int i = 0; i < 3; i++)
        if (files[i] < -1) {
            snprintf(why, size, "bad file length");
            return WEIR_ERR_CORRUPT;
        }
    /* Validate the operator's snapshot by restoring it into a scratch job. */
    wjob t;
    memset(&t, 0, sizeof t);
    char err[512] = "";
    weir_err rc = wjob_build(&t, r->conf, 1, err, sizeof err);
    if (rc == WEIR_OK)
        rc = weir_gwindow_restore(t.op, b + pos, (size_t)slen, err, sizeof err);
    wjob_free(&t);
    if (rc != WEIR_OK) {
        snprintf(why, size, "%s", err);
        return rc;
    }
    if (!(r->snap = malloc(slen ? slen : 1)))
        return WEIR_ERR_NOMEM;
    memcpy(r->snap, b + pos, slen);
    r->snap_len = (size_t)slen;
    r->offset = off;
    memcpy(r->files, files, sizeof files);
    memcpy(r->counters, counters, sizeof counters);
    return WEIR_OK;
}

static weir_err take_checkpoint(wjob *j, weir_ckpt_dir *store, int fd, uint64_t offset,
                                const char *m, char *err, size_t err_size)
{
    weir_sink *files[3] = {j->out, j->late, j->dead};
    weir_err rc = WEIR_OK;
    for (int i = 0; i < 3 && rc == WEIR_OK; i++)
        if (files[i])
            rc = weir_file_sink_sync(files[i]);
    if (rc == WEIR_OK)
        rc = weir_sink_flush(j->ddb, 600000);
    if (rc != WEIR_OK)
        return rc;
    uint8_t *snap;
    size_t snap_len;
    if ((rc = weir_gwindow_snapshot(j->op, &snap, &snap_len)) != WEIR_OK)
        return rc;
    size_t mlen = strlen(m), len = WCKPT_FIXED + mlen + 8 + snap_len;
    uint8_t *b = malloc(len);
    uint64_t h, hn;
    if (!b || input_hash(fd, offset, &h, &hn) != 0) {
        free(b);
        free(snap);
        weir__errf(err, err_size, "checkpoint: cannot read the input's head");
        return b ? WEIR_ERR_IO : WEIR_ERR_NOMEM;
    }
    memcpy(b, WCKPT_MAGIC, 8);
    weir__put_le32(b + 8, WCKPT_VERSION);
    weir__put_le32(b + 12, WCKPT_COUNTERS);
    weir__put_le64(b + 16, offset);
    weir__put_le64(b + 24, h);
    weir__put_le64(b + 32, hn);
    size_t pos = 40;
    for (int i = 0; i < 3; i++, pos += 8)
        weir__put_le64(b + pos, files[i] ? (uint64_t)weir_file_sink_offset(files[i]) : UINT64_MAX);
    uint64_t c[WCKPT_COUNTERS] = {j->st.records, j->st.valid, j->st.invalid, j->st.filtered};
    for (int i = 0; i < WEIR_REC_STATUS_COUNT; i++)
        c[4 + i] = j->st.invalid_by[i];
    for (int i = 0; i < WCKPT_COUNTERS; i++, pos += 8)
        weir__put_le64(b + pos, c[i]);
    weir__put_le32(b + pos, (uint32_t)mlen);
    memcpy(b + pos + 4, m, mlen);
    pos += 4 + mlen;
    weir__put_le64(b + pos, snap_len);
    memcpy(b + pos + 8, snap, snap_len);
    free(snap);
    rc = weir_ckpt_dir_write(store, b, len, err, err_size);
    free(b);
    if (rc == WEIR_OK)
        j->st.checkpoints++;
    return rc;
}

static weir_err open_file(const char *path, int64_t resume_at, weir_sink **out, char *err,
                          size_t err_size)
{
    if (!path[0])
        return WEIR_OK;
    return weir_file_sink_open(path, NULL, NULL, 0, resume_at, out, err, err_size);
}

weir_err weir_window_job_run_file(const weir_conf *conf, volatile sig_atomic_t *stop,
                                  weir_window_job_stats *stats, char *err, size_t err_size)
{
    wjob j;
    memset(&j, 0, sizeof j);
    int fd = -1;
    char *buf = NULL, *m = NULL;
    weir_ckpt_dir *store = NULL;
    resume res;
    memset(&res, 0, sizeof res);
    int resumed = 0;
    double t0 = mono_sec();
    weir_err rc = weir_window_job_check(conf, err, err_size);
    if (rc == WEIR_OK)
        rc = wjob_build(&j, conf, 1, err, err_size);
    if (rc != WEIR_OK)
        goto done;
    j.batch = (size_t)weir_conf_get_int(conf, "input.batch.records");
    size_t nf = j.nf ? j.nf : 1;
    j.rows = malloc(j.batch * sizeof *j.rows);
    j.vals = malloc(j.batch * nf * sizeof *j.vals);
    j.key_off = malloc(j.batch * sizeof *j.key_off);
    size_t cap = READ_BLOCK;
    buf = malloc(cap);
    if (!j.rows || !j.vals || !j.key_off || !buf) {
        rc = WEIR_ERR_NOMEM;
        goto done;
    }
    const char *in_path = weir_conf_get(conf, "input.path");
    const char *out_path = weir_conf_get(conf, "output.path");
    fd = strcmp(in_path, "-") ? open(in_path, O_RDONLY | O_CLOEXEC) : STDIN_FILENO;
    if (fd < 0) {
        weir__errf(err, err_size, "--input: cannot open %s: %s", in_path, strerror(errno));
        rc = WEIR_ERR_IO;
        goto done;
    }
    const char *ckpt_dir = weir_conf_get(conf, "checkpoint.dir");
    if (ckpt_dir[0]) {
        struct stat st;
        if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || !strcmp(out_path, "-")) {
            weir__errf(err, err_size,
                       "checkpoint.dir: resuming needs --input to be a regular file and "
                       "--output a file, not standard input or output");
            rc = WEIR_ERR_INVALID_ARG;
            goto done;
        }
        if (!(m = meaning(conf))) {
            rc = WEIR_ERR_NOMEM;
            goto done;
        }
        rc = weir_ckpt_dir_open(ckpt_dir, (int)weir_conf_get_int(conf, "checkpoint.keep"), &store,
                                err, err_size);
        if (rc == WEIR_OK && weir_conf_get_bool(conf, "reset.state"))
            rc = weir_ckpt_dir_clear(store, err, err_size);
        else if (rc == WEIR_OK) {
            res.conf = conf;
            res.m = m;
            res.fd = fd;
            weir__log lg = weir__conf_log(conf);
            rc = weir_ckpt_dir_load(store, accept_ckpt, &res, lg.fn, lg.arg, err, err_size);
            if (rc == WEIR_ERR_NOT_FOUND) {
                rc = WEIR_OK;
                err[0] = '\0';
            } else if (rc == WEIR_OK) {
                resumed = 1;
            } else if (rc == WEIR_ERR_CORRUPT) {
                size_t l = strlen(err);
                snprintf(err + l, err_size - l, "; use --reset-state to start over");
            }
        }
        if (rc != WEIR_OK)
            goto done;
    }
    if ((rc = open_file(out_path, resumed ? res.files[0] : -1, &j.out, err, err_size)) != WEIR_OK ||
        (rc = open_file(weir_conf_get(conf, "late.output.path"), resumed ? res.files[1] : -1,
                        &j.late, err, err_size)) != WEIR_OK ||
        (rc = open_file(weir_conf_get(conf, "dead.letter.path"), resumed ? res.files[2] : -1,
                        &j.dead, err, err_size)) != WEIR_OK)
        goto done;
    int64_t base = 0; /* input offset of buf[0] */
    if (resumed) {
        rc = weir_gwindow_restore(j.op, res.snap, res.snap_len, err, err_size);
        if (rc == WEIR_OK && lseek(fd, (off_t)res.offset, SEEK_SET) < 0) {
            weir__errf(err, err_size, "--input: cannot seek: %s", strerror(errno));
            rc = WEIR_ERR_IO;
        }
        if (rc != WEIR_OK)
            goto done;
        base = (int64_t)res.offset;
        const uint64_t *c = res.counters;
        j.st.records = c[0];
        j.st.valid = c[1];
        j.st.invalid = c[2];
        j.st.filtered = c[3];
        for (int i = 0; i < WEIR_REC_STATUS_COUNT; i++)
            j.st.invalid_by[i] = c[4 + i];
        j.st.resumed = 1;
    }
    int64_t interval = weir_conf_get_duration_ms(conf, "checkpoint.interval");
    double last_ckpt = mono_sec();
    if (weir_dynamodb_enabled(conf)) {
        char inner[512];
        rc = weir_dynamodb_sink_create(conf, j.n_keys ? j.key_paths[0] : "key", NULL, 0, &j.ddb,
                                       inner, sizeof inner);
        if (rc != WEIR_OK) {
            weir__errf(err, err_size, "%s", inner);
            goto done;
        }
    }
    size_t max_line = (size_t)weir_conf_get_int(conf, "input.max.record.bytes");
    size_t len = 0, pos = 0;
    int eof = 0, skipping = 0;
    t0 = mono_sec();
    while (rc == WEIR_OK && !(stop && *stop)) {
        if (len == cap) {
            char *nb = realloc(buf, cap * 2);
            if (!nb) {
                rc = WEIR_ERR_NOMEM;
                break;
            }
            buf = nb;
            cap *= 2;
        }
        ssize_t n;
        do
            n = read(fd, buf + len, cap - len);
        while (n < 0 && errno == EINTR && !(stop && *stop));
        if (n < 0 && errno == EINTR)
            n = 0; /* a signal asked to stop: the input ends here */
        if (n < 0) {
            weir__errf(err, err_size, "--input: read failed: %s", strerror(errno));
            rc = WEIR_ERR_IO;
            break;
        }
        eof = n == 0;
        len += (size_t)n;
        int64_t now = wall_ms();
        while (rc == WEIR_OK) {
            char *nl = memchr(buf + pos, '\n', len - pos);
            size_t end = nl ? (size_t)(nl - buf) : len;
            if (!nl && !eof) {
                /* An incomplete line: hand over the head of an overlong one (it decodes as
                 * too large) and skip its rest; otherwise wait for more bytes. */
                if (!skipping && end - pos > max_line) {
                    rc = push_one(&j, buf + pos, max_line + 1, now);
                    skipping = 1;
                }
                if (skipping)
                    pos = len;
                break;
            }
            if (!nl && pos == len)
                break;
            size_t ll = end - pos;
            if (skipping) {
                skipping = 0;
            } else {
                if (ll && buf[pos + ll - 1] == '\r')
                    ll--;
                rc = push_one(&j, buf + pos, ll, now);
            }
            pos = nl ? end + 1 : len;
        }
        /* The rows point into buf: hand them over before it moves. */
        if (rc == WEIR_OK)
            rc = flush_rows(&j, now);
        weir_fields_reset(j.fields);
        if (rc == WEIR_OK && store && !skipping &&
            (mono_sec() - last_ckpt) * 1000 >= (double)interval) {
            rc = take_checkpoint(&j, store, fd, (uint64_t)(base + (int64_t)pos), m, err, err_size);
            last_ckpt = mono_sec();
        }
        if (eof && pos >= len)
            break;
        memmove(buf, buf + pos, len - pos);
        base += (int64_t)pos;
        len -= pos;
        pos = 0;
    }
    if (rc == WEIR_OK)
        rc = weir_gwindow_finish(j.op);
    if (rc == WEIR_OK && j.sink_err != WEIR_OK)
        rc = j.sink_err;
    weir_sink *sinks[4] = {j.out, j.late, j.dead, j.ddb};
    for (int i = 0; i < 4; i++) {
        /* DynamoDB retries with backoff and gives up by itself after its retry limit; the
         * timeout only guards against a peer that stops answering altogether. */
        weir_err f = weir_sink_flush(sinks[i], i == 3 ? 600000 : 30000);
        if (rc == WEIR_OK)
            rc = f;
    }
    if (rc != WEIR_OK && err && !err[0]) {
        for (int i = 0; i < 4 && !err[0]; i++)
            if (weir_sink_error(sinks[i])[0])
                weir__errf(err, err_size, "%s", weir_sink_error(sinks[i]));
    }
    if (rc == WEIR_ERR_NOMEM)
        weir__errf(err, err_size, "out of memory");
done:
    if (j.op)
        weir_gwindow_stats(j.op, &j.st.op);
    j.st.elapsed_sec = mono_sec() - t0;
    if (stats)
        *stats = j.st;
    if (fd > STDIN_FILENO)
        close(fd);
    free(buf);
    free(m);
    free(res.snap);
    weir_ckpt_dir_close(store);
    wjob_free(&j);
    return rc;
}
