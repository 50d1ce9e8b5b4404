/* A custom aggregate through the public interface (weir/gagg.h): the 95th percentile of
 * total_price per product per minute, next to a built-in count. Reads order events as JSON
 * lines on stdin, writes one JSON line per (product, minute) on stdout.
 *
 * The percentile keeps every price of its (key, slice) in a growable array: exact, and fine
 * for orders; a sketch (t-digest, KLL) would bound the memory for larger streams. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include <weir/fields.h>
#include <weir/gwindow.h>
#include <weir/spec.h>

/* The inline state the operator keeps for every (product, slice). */
typedef struct prices {
    double *v;
    size_t n, cap;
} prices;

/* init: the zeroed state is an empty array already. */
static void p95_init(void *state, const void *params)
{
    (void)state, (void)params;
}

static weir_err p95_add(void *state, const weir_value *v, const weir_row *r, const void *params)
{
    (void)r, (void)params;
    prices *s = state;
    if (v->type != WEIR_VALUE_INT && v->type != WEIR_VALUE_DOUBLE)
        return WEIR_OK; /* a missing, null or mistyped price is skipped */
    if (s->n == s->cap) {
        size_t cap = s->cap ? 2 * s->cap : 8;
        double *nv = realloc(s->v, cap * sizeof *nv);
        if (!nv)
            return WEIR_ERR_NOMEM;
        s->v = nv;
        s->cap = cap;
    }
    s->v[s->n++] = v->type == WEIR_VALUE_INT ? (double)v->u.i : v->u.d;
    return WEIR_OK;
}

/* Hopping and session windows combine states: dst gets src's prices too. */
static weir_err p95_merge(void *dst, const void *src, const void *params)
{
    const prices *s = src;
    for (size_t i = 0; i < s->n; i++) {
        weir_value v = {.type = WEIR_VALUE_DOUBLE, .u.d = s->v[i]};
        if (p95_add(dst, &v, NULL, params) != WEIR_OK)
            return WEIR_ERR_NOMEM;
    }
    return WEIR_OK;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The nearest-rank percentile: the smallest price with at least 95% of them at or below. */
static weir_err p95_result(void *state, const void *params, weir_value *out)
{
    (void)params;
    prices *s = state;
    if (!s->n) {
        out->type = WEIR_VALUE_NULL;
        return WEIR_OK;
    }
    qsort(s->v, s->n, sizeof *s->v, cmp_double); /* reorders, never changes the meaning */
    size_t rank = (size_t)ceil(0.95 * (double)s->n);
    out->type = WEIR_VALUE_DOUBLE;
    out->u.d = s->v[rank - 1];
    return WEIR_OK;
}

/* Snapshots (checkpoints): the count, then each price as 8 bytes little-endian. */
static size_t p95_size(const void *state, const void *params)
{
    (void)params;
    return 8 + 8 * ((const prices *)state)->n;
}

static void put_u64(uint8_t *o, uint64_t x)
{
    for (int i = 0; i < 8; i++)
        o[i] = (uint8_t)(x >> (8 * i));
}

static uint64_t get_u64(const uint8_t *in)
{
    uint64_t x = 0;
    for (int i = 0; i < 8; i++)
        x |= (uint64_t)in[i] << (8 * i);
    return x;
}

static size_t p95_serialize(const void *state, uint8_t *out, const void *params)
{
    (void)params;
    const prices *s = state;
    put_u64(out, s->n);
    for (size_t i = 0; i < s->n; i++) {
        uint64_t bits;
        memcpy(&bits, &s->v[i], 8);
        put_u64(out + 8 + 8 * i, bits);
    }
    return 8 + 8 * s->n;
}

static weir_err p95_deserialize(void *state, const uint8_t *in, size_t len, const void *params)
{
    (void)params;
    if (len < 8 || get_u64(in) != (len - 8) / 8 || (len - 8) % 8)
        return WEIR_ERR_CORRUPT;
    prices *s = state;
    size_t n = (len - 8) / 8;
    if (n && !(s->v = malloc(n * sizeof *s->v)))
        return WEIR_ERR_NOMEM;
    for (size_t i = 0; i < n; i++) {
        uint64_t bits = get_u64(in + 8 + 8 * i);
        memcpy(&s->v[i], &bits, 8);
    }
    s->n = s->cap = n;
    return WEIR_OK;
}

static void p95_free(void *state, const void *params)
{
    (void)params;
    free(((prices *)state)->v);
}

static size_t p95_heap_bytes(const void *state, const void *params)
{
    (void)params;
    return ((const prices *)state)->cap * sizeof(double);
}

static const weir_gagg_ops p95_ops = {
    .name = "p95",
    .state_size = sizeof(prices),
    .init = p95_init,
    .add = p95_add,
    .merge = p95_merge,
    .result = p95_result,
    .serialized_size = p95_size,
    .serialize = p95_serialize,
    .deserialize = p95_deserialize,
    .free = p95_free,
    .heap_bytes = p95_heap_bytes,
};

static int print_firing(void *opaque, const weir_gwindow_firing *f)
{
    (void)opaque;
    char start[32], end[32], p95[32] = "null";
    weir_format_iso8601(f->window_start, start);
    weir_format_iso8601(f->window_end, end);
    if (f->values[1].type == WEIR_VALUE_DOUBLE)
        snprintf(p95, sizeof p95, "%.17g", f->values[1].u.d);
    /* product ids are plain words or integers: printed as they are, unescaped. */
    printf("{\"product_id\":\"%.*s\",\"window_start\":\"%s\",\"window_end\":\"%s\","
           "\"orders\":%lld,\"p95_price\":%s}\n",
           (int)f->key.len, f->key.ptr, start, end, (long long)f->values[0].u.i, p95);
    return 0;
}

int main(void)
{
    char err[512];
    weir_fields *fields = NULL;
    weir_key *key = NULL;
    if (weir_fields_new("timestamp", WEIR_TS_AUTO, 1 << 20, &fields, err, sizeof err) ||
        weir_key_parse("product_id", fields, &key, err, sizeof err)) {
        fprintf(stderr, "%s\n", err);
        return 2;
    }
    int price = weir_fields_add(fields, "total_price", err, sizeof err);
    /* A built-in from its spec next to the custom aggregate: count(), then p95(total_price). */
    weir_aggs *aggs = weir_aggs_new(fields, 14);
    size_t n;
    if (!aggs || price < 0 || weir_aggs_add(aggs, "count() as orders", err, sizeof err)) {
        fprintf(stderr, "%s\n", err);
        return 2;
    }
    weir_gagg_def defs[2] = {weir_aggs_defs(aggs, &n)[0],
                             {.ops = &p95_ops, .field = price, .name = "p95_price"}};

    weir_gwindow_params p = {.spec = {.kind = WEIR_WINDOW_TUMBLE, .size_ms = 60000},
                             .emit = WEIR_EMIT_FINAL,
                             .wm = {.out_of_orderness_ms = 5000},
                             .partitions = 1,
                             .aggs = defs,
                             .n_aggs = 2};
    weir_gwindow *op = weir_gwindow_new(&p, print_firing, NULL, err, sizeof err);
    if (!op) {
        fprintf(stderr, "%s\n", err);
        return 2;
    }

    weir_value *values = calloc(weir_fields_count(fields), sizeof *values);
    char *line = NULL, kb[256];
    size_t cap = 0;
    ssize_t len;
    while (values && (len = getline(&line, &cap, stdin)) > 0) {
        weir_fields_reset(fields);
        size_t rn = (size_t)len - (line[len - 1] == '\n');
        weir_row r = {.raw = {line, rn}, .values = values, .n_values = weir_fields_count(fields)};
        if (weir_fields_decode(fields, line, rn, &r.ts, values) != WEIR_REC_OK)
            continue; /* invalid: skipped */
        size_t kn = weir_key_encode(key, values, kb, sizeof kb);
        if (kn > sizeof kb)
            continue; /* no product_id, or one longer than this example keeps */
        r.key = (weir_slice){kb, kn};
        r.key_hash = XXH3_64bits(kb, kn);
        if (weir_gwindow_process(op, &r, 1, 0) != WEIR_OK)
            return 1;
    }
    weir_gwindow_finish(op);
    free(line);
    free(values);
    weir_gwindow_destroy(op);
    weir_aggs_destroy(aggs);
    weir_key_destroy(key);
    weir_fields_destroy(fields);
    return 0;
}
