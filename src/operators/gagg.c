/* The numeric built-in typed aggregates (count, sum, min, max, avg) and the lookup of every
 * built-in by name. */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "operators/gagg_int.h"
#include "weir/gagg.h"

/*
 * sum, min, max and avg share one state: the exact integer while every number seen is an
 * integer (and, for sums, the running sum fits), then a double from the first double or
 * overflow on. Serialized as 25 bytes, little-endian: mode (0 none, 1 int, 2 double), the
 * integer, the double's bits, the count of numbers.
 */
typedef struct num_state {
    int64_t i;
    double d;
    uint64_t n;
    uint8_t mode;
} num_state;

enum { NUM_NONE = 0, NUM_INT = 1, NUM_DOUBLE = 2 };

#define NUM_WIRE 25

/* ---------------------------------------------------------------- count */

static void count_init(void *state, const void *params)
{
    (void)params;
    *(uint64_t *)state = 0;
}

static weir_err count_add(void *state, const weir_value *v, const weir_row *r, const void *params)
{
    (void)r, (void)params;
    if (!v || (v->type != WEIR_VALUE_MISSING && v->type != WEIR_VALUE_NULL))
        ++*(uint64_t *)state;
    return WEIR_OK;
}

static weir_err count_merge(void *dst, const void *src, const void *params)
{
    (void)params;
    *(uint64_t *)dst += *(const uint64_t *)src;
    return WEIR_OK;
}

static weir_err count_unmerge(void *dst, const void *src, const void *params)
{
    (void)params;
    *(uint64_t *)dst -= *(const uint64_t *)src;
    return WEIR_OK;
}

static weir_err count_result(void *state, const void *params, weir_value *out)
{
    (void)params;
    uint64_t n = *(uint64_t *)state;
    out->type = WEIR_VALUE_INT;
    out->u.i = n > INT64_MAX ? INT64_MAX : (int64_t)n;
    return WEIR_OK;
}

static size_t count_size(const void *state, const void *params)
{
    (void)state, (void)params;
    return 8;
}

static size_t count_serialize(const void *state, uint8_t *out, const void *params)
{
    (void)params;
    weir__put_le64(out, *(const uint64_t *)state);
    return 8;
}

static weir_err count_deserialize(void *state, const uint8_t *in, size_t len, const void *params)
{
    (void)params;
    if (len != 8)
        return WEIR_ERR_CORRUPT;
    *(uint64_t *)state = weir__get_le64(in);
    return WEIR_OK;
}

const weir_gagg_ops weir_gagg_count = {
    .name = "count",
    .state_size = sizeof(uint64_t),
    .init = count_init,
    .add = count_add,
    .merge = count_merge,
    .result = count_result,
    .serialized_size = count_size,
    .serialize = count_serialize,
    .deserialize = count_deserialize,
    .unmerge = count_unmerge,
};

/* ---------------------------------------------------------------- numbers */

static void num_init(void *state, const void *params)
{
    (void)params;
    memset(state, 0, sizeof(num_state));
}

static double num_as_double(const num_state *s)
{
    return s->mode == NUM_INT ? (double)s->i : s->d;
}

/* Adds one number to a sum: exact while it fits, else doubles in arrival order. */
static void sum_one(num_state *s, int is_int, int64_t i, double d)
{
    s->n++;
    if (s->mode == NUM_NONE) {
        s->mode = is_int ? NUM_INT : NUM_DOUBLE;
        s->i = i;
        s->d = d;
        return;
    }
    int64_t r;
    if (s->mode == NUM_INT && is_int && !__builtin_add_overflow(s->i, i, &r)) {
        s->i = r;
        return;
    }
    s->d = num_as_double(s) + (is_int ? (double)i : d);
    s->mode = NUM_DOUBLE;
}

static int number_of(const weir_value *v, int64_t *i, double *d)
{
    if (!v)
        return -1;
    if (v->type == WEIR_VALUE_INT) {
        *i = v->u.i;
        *d = 0;
        return 1;
    }
    if (v->type == WEIR_VALUE_DOUBLE) {
        *i = 0;
        *d = v->u.d;
        return 0;
    }
    return -1;
}

static weir_err sum_add(void *state, const weir_value *v, const weir_row *r, const void *params)
{
    (void)r, (void)params;
    int64_t i;
    double d;
    int is_int = number_of(v, &i, &d);
    if (is_int >= 0)
        sum_one(state, is_int, i, d);
    return WEIR_OK;
}

static weir_err sum_merge(void *dst, const void *src, const void *params)
{
    (void)params;
    num_state *a = dst;
    const num_state *b = src;
    if (b->mode == NUM_NONE)
        return WEIR_OK;
    uint64_t n = a->n + b->n;
    if (b->mode == NUM_INT)
        sum_one(a, 1, b->i, 0);
    else
        sum_one(a, 0, 0, b->d);
    a->n = n;
    return WEIR_OK;
}

/* min (sign -1) or max (sign 1) of one more number. */
static void extreme_one(num_state *s, int sign, int is_int, int64_t i, double d)
{
    s->n++;
    if (s->mode == NUM_NONE) {
        s->mode = is_int ? NUM_INT : NUM_DOUBLE;
        s->i = i;
        s->d = d;
        return;
    }
    if (s->mode == NUM_INT && is_int) {
        if (sign > 0 ? i > s->i : i < s->i)
            s->i = i;
        return;
    }
    double x = is_int ? (double)i : d, cur = num_as_double(s);
    s->d = (sign > 0 ? x > cur : x < cur) ? x : cur;
    s->mode = NUM_DOUBLE;
}

static weir_err extreme_add(void *state, const weir_value *v, int sign)
{
    int64_t i;
    double d;
    int is_int = number_of(v, &i, &d);
    if (is_int >= 0)
        extreme_one(state, sign, is_int, i, d);
    return WEIR_OK;
}

static weir_err extreme_merge(void *dst, const void *src, int sign)
{
    num_state *a = dst;
    const num_state *b = src;
    if (b->mode == NUM_NONE)
        return WEIR_OK;
    uint64_t n = a->n + b->n;
    extreme_one(a, sign, b->mode == NUM_INT, b->i, b->d);
    a->n = n;
    return WEIR_OK;
}

static weir_err min_add(void *state, const weir_value *v, const weir_row *r, const void *params)
{
    (void)r, (void)params;
    return extreme_add(state, v, -1);
}

static weir_err max_add(void *state, const weir_value *v, const weir_row *r, const void *params)
{
    (void)r, (void)params;
    return extreme_add(state, v, 1);
}

static weir_err min_merge(void *dst, const void *src, const void *params)
{
    (void)params;
    return extreme_merge(dst, src, -1);
}

static weir_err max_merge(void *dst, const void *src, const void *params)
{
    (void)params;
    return extreme_merge(dst, src, 1);
}

static weir_err num_result(void *state, const void *params, weir_value *out)
{
    (void)params;
    const num_state *s = state;
    if (s->mode == NUM_NONE) {
        out->type = WEIR_VALUE_NULL;
    } else if (s->mode == NUM_INT) {
        out->type = WEIR_VALUE_INT;
        out->u.i = s->i;
    } else {
        out->type = WEIR_VALUE_DOUBLE;
        out->u.d = s->d;
    }
    return WEIR_OK;
}

static weir_err avg_result(void *state, const void *params, weir_value *out)
{
    (void)params;
    const num_state *s = state;
    if (s->mode == NUM_NONE || s->n == 0) {
        out->type = WEIR_VALUE_NULL;
        return WEIR_OK;
    }
    out->type = WEIR_VALUE_DOUBLE;
    out->u.d = num_as_double(s) / (double)s->n;
    return WEIR_OK;
}

static size_t num_size(const void *state, const void *params)
{
    (void)state, (void)params;
    return NUM_WIRE;
}

static size_t num_serialize(const void *state, uint8_t *out, const void *params)
{
    (void)params;
    const num_state *s = state;
    uint64_t bits;
    memcpy(&bits, &s->d, 8);
    out[0] = s->mode;
    weir__put_le64(out + 1, (uint64_t)s->i);
    weir__put_le64(out + 9, bits);
    weir__put_le64(out + 17, s->n);
    return NUM_WIRE;
}

static weir_err num_deserialize(void *state, const uint8_t *in, size_t len, const void *params)
{
    (void)params;
    num_state *s = state;
    if (len != NUM_WIRE || in[0] > NUM_DOUBLE)
        return WEIR_ERR_CORRUPT;
    uint64_t bits = weir__get_le64(in + 9);
    s->mode = in[0];
    s->i = (int64_t)weir__get_le64(in + 1);
    memcpy(&s->d, &bits, 8);
    s->n = weir__get_le64(in + 17);
    if ((s->mode == NUM_NONE) != (s->n == 0))
        return WEIR_ERR_CORRUPT;
    return WEIR_OK;
}

#define NUM_OPS(name_, add_, merge_, result_)                                                      \
    {                                                                                              \
        .name = name_, .state_size = sizeof(num_state), .init = num_init, .add = add_,             \
        .merge = merge_, .result = result_, .serialized_size = num_size,                           \
        .serialize = num_serialize, .deserialize = num_deserialize,                                \
    }

const weir_gagg_ops weir_gagg_sum = NUM_OPS("sum", sum_add, sum_merge, num_result);
const weir_gagg_ops weir_gagg_min = NUM_OPS("min", min_add, min_merge, num_result);
const weir_gagg_ops weir_gagg_max = NUM_OPS("max", max_add, max_merge, num_result);
const weir_gagg_ops weir_gagg_avg = NUM_OPS("avg", sum_add, sum_merge, avg_result);

/* ---------------------------------------------------------------- lookup */

const weir_gagg_ops *weir_gagg_builtin(const char *name)
{
    static const weir_gagg_ops *const all[] = {
        &weir_gagg_count,
        &weir_gagg_sum,
        &weir_gagg_min,
        &weir_gagg_max,
        &weir_gagg_avg,
        &weir_gagg_count_distinct,
        &weir_gagg_approx_count_distinct,
    };
    for (size_t i = 0; name && i < sizeof all / sizeof all[0]; i++)
        if (strcmp(all[i]->name, name) == 0)
            return all[i];
    return NULL;
}
