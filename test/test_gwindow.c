/*
 * The generic window operator (weir/gwindow.h) against a brute-force reference of
 * SEMANTICS.md, firing by firing, for tumbling, hopping and session windows; hopping windows
 * against W/S shifted tumbling operators; session cases by hand; numbers; snapshots; a custom
 * aggregate and the operator's errors.
 *
 * The reference keeps every window's (or session's) accepted records in plain arrays and
 * recomputes each aggregate from them, in arrival order, at every firing: nothing of the
 * operator's slices, heaps or merges is in it. Firings are compared as the set each record
 * (or the end of input) causes: "group|late|key|start|end|values", sorted within a group.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <xxhash.h>

#include "weir/weir.h"

#define NKEYS 8
#define NF    3 /* fields: 0 price, 1 user, 2 type */

/* ---------------------------------------------------------------- generated events */

typedef struct ev {
    int64_t ts;
    int part;
    int key;
    weir_value v[NF];
    char ubuf[16], tbuf[4];
} ev;

static char key_text[NKEYS][16];

static uint64_t rng_next(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static int64_t rnd(uint64_t *s, int64_t n)
{
    return n <= 0 ? 0 : (int64_t)(rng_next(s) % (uint64_t)n);
}

typedef struct gen_cfg {
    uint64_t seed;
    size_t n;
    int parts;
    int64_t step;     /* event-time progress per record: 0..step */
    int64_t disorder; /* records up to this much behind the clock */
    double very_late; /* share of records far behind */
    int64_t late_max;
    int users;
} gen_cfg;

static void set_str(weir_value *v, const char *s)
{
    v->type = WEIR_VALUE_STRING;
    v->u.s.ptr = s;
    v->u.s.len = strlen(s);
}

static ev *gen_events(const gen_cfg *c)
{
    ev *e = calloc(c->n, sizeof *e);
    assert_non_null(e);
    uint64_t s = c->seed;
    int64_t clock = 1700000000000;
    for (size_t i = 0; i < c->n; i++) {
        clock += rnd(&s, c->step + 1);
        int64_t ts = clock - rnd(&s, c->disorder + 1);
        if (rnd(&s, 1000000) < (int64_t)(c->very_late * 1e6))
            ts -= rnd(&s, c->late_max + 1);
        e[i].ts = ts;
        e[i].part = (int)rnd(&s, c->parts);
        e[i].key = (int)rnd(&s, NKEYS);
        /* price: mostly numbers, some null, missing, strings and others (mistyped). */
        int64_t k = rnd(&s, 100);
        weir_value *p = &e[i].v[0];
        if (k < 45) {
            p->type = WEIR_VALUE_INT;
            p->u.i = rnd(&s, 2001) - 1000;
        } else if (k < 80) {
            p->type = WEIR_VALUE_DOUBLE;
            p->u.d = (double)(rnd(&s, 8001) - 4000) * 0.25;
        } else if (k < 85) {
            p->type = WEIR_VALUE_NULL;
        } else if (k < 90) {
            p->type = WEIR_VALUE_MISSING;
        } else if (k < 95) {
            set_str(p, "12");
        } else {
            p->type = WEIR_VALUE_OTHER;
        }
        /* user: a string "N" or the integer N (one value), sometimes missing or other */
        int64_t u = rnd(&s, c->users);
        int64_t m = rnd(&s, 20);
        weir_value *uv = &e[i].v[1];
        if (m < 9) {
            snprintf(e[i].ubuf, sizeof e[i].ubuf, "%lld", (long long)u);
            set_str(uv, e[i].ubuf);
        } else if (m < 18) {
            uv->type = WEIR_VALUE_INT;
            uv->u.i = u;
        } else if (m < 19) {
            uv->type = WEIR_VALUE_MISSING;
        } else {
            uv->type = WEIR_VALUE_DOUBLE;
            uv->u.d = 1.5;
        }
        int64_t t = rnd(&s, 7);
        if (t < 6) {
            snprintf(e[i].tbuf, sizeof e[i].tbuf, "%c", (char)('a' + t % 3));
            set_str(&e[i].v[2], e[i].tbuf);
        } else {
            e[i].v[2].type = WEIR_VALUE_MISSING;
        }
    }
    return e;
}

static weir_row row_of(const ev *e)
{
    const char *k = key_text[e->key];
    weir_row r = {
        .ts = e->ts,
        .partition = e->part,
        .key_hash = XXH3_64bits(k, strlen(k)),
        .key = {k, strlen(k)},
        .raw = {"{}", 2},
        .values = e->v,
        .n_values = NF,
    };
    return r;
}

/* ---------------------------------------------------------------- aggregates under test */

typedef struct where_ctx {
    const char *type;
    int negate;
} where_ctx;

static int where_type(const void *ctx, const weir_row *r)
{
    const where_ctx *w = ctx;
    const weir_value *v = &r->values[2];
    if (v->type != WEIR_VALUE_STRING)
        return 0; /* a missing field makes the comparison false, != included */
    int eq = v->u.s.len == strlen(w->type) && memcmp(v->u.s.ptr, w->type, v->u.s.len) == 0;
    return w->negate ? !eq : eq;
}

static const where_ctx is_a = {"a", 0}, not_b = {"b", 1}, is_c = {"c", 0};

enum { A_COUNT, A_COUNTF, A_SUM, A_MIN, A_MAX, A_AVG, A_DIST, A_DISTW, A_SUMU, N_AGGS };

static const int agg_field[N_AGGS] = {-1, 0, 0, 0, 0, 0, 1, 1, 1};
static const where_ctx *const agg_where[N_AGGS] = {NULL,   NULL, NULL,  &is_a, NULL,
                                                   &not_b, NULL, &is_c, NULL};

static void make_defs(weir_gagg_def *d)
{
    const weir_gagg_ops *ops[N_AGGS] = {&weir_gagg_count,
                                        &weir_gagg_count,
                                        &weir_gagg_sum,
                                        &weir_gagg_min,
                                        &weir_gagg_max,
                                        &weir_gagg_avg,
                                        &weir_gagg_count_distinct,
                                        &weir_gagg_count_distinct,
                                        &weir_gagg_sum};
    for (int a = 0; a < N_AGGS; a++)
        d[a] = (weir_gagg_def){.ops = ops[a],
                               .field = agg_field[a],
                               .where = agg_where[a] ? where_type : NULL,
                               .where_ctx = agg_where[a],
                               .name = ops[a]->name};
}

/* ---------------------------------------------------------------- the reference's numbers */

typedef struct rnum {
    int mode; /* 0 none, 1 int, 2 double */
    int64_t i;
    double d;
    int64_t n;
} rnum;

static double rnum_d(const rnum *s)
{
    return s->mode == 1 ? (double)s->i : s->d;
}

static void rnum_sum(rnum *s, const weir_value *v)
{
    if (v->type != WEIR_VALUE_INT && v->type != WEIR_VALUE_DOUBLE)
        return;
    s->n++;
    int isint = v->type == WEIR_VALUE_INT;
    if (!s->mode) {
        s->mode = isint ? 1 : 2;
        s->i = isint ? v->u.i : 0;
        s->d = isint ? 0 : v->u.d;
        return;
    }
    int64_t r;
    if (s->mode == 1 && isint && !__builtin_add_overflow(s->i, v->u.i, &r)) {
        s->i = r;
        return;
    }
    s->d = rnum_d(s) + (isint ? (double)v->u.i : v->u.d);
    s->mode = 2;
}

static void rnum_ext(rnum *s, const weir_value *v, int sign)
{
    if (v->type != WEIR_VALUE_INT && v->type != WEIR_VALUE_DOUBLE)
        return;
    int isint = v->type == WEIR_VALUE_INT;
    if (!s->mode) {
        s->mode = isint ? 1 : 2;
        s->i = isint ? v->u.i : 0;
        s->d = isint ? 0 : v->u.d;
        return;
    }
    if (s->mode == 1 && isint) {
        if (sign > 0 ? v->u.i > s->i : v->u.i < s->i)
            s->i = v->u.i;
        return;
    }
    double x = isint ? (double)v->u.i : v->u.d, c = rnum_d(s);
    s->d = (sign > 0 ? x > c : x < c) ? x : c;
    s->mode = 2;
}

static int fmt_num(char *p, size_t n, const rnum *s, int avg)
{
    if (!s->mode)
        return snprintf(p, n, "null");
    if (avg)
        return snprintf(p, n, "d%.17g", rnum_d(s) / (double)s->n);
    if (s->mode == 1)
        return snprintf(p, n, "%lld", (long long)s->i);
    return snprintf(p, n, "d%.17g", s->d);
}

static int fmt_value(char *p, size_t n, const weir_value *v)
{
    switch (v->type) {
    case WEIR_VALUE_INT: return snprintf(p, n, "%lld", (long long)v->u.i);
    case WEIR_VALUE_DOUBLE: return snprintf(p, n, "d%.17g", v->u.d);
    case WEIR_VALUE_NULL: return snprintf(p, n, "null");
    case WEIR_VALUE_STRING: return snprintf(p, n, "s%.*s", (int)v->u.s.len, v->u.s.ptr);
    default: return snprintf(p, n, "?");
    }
}

/* Distinct texts of field 1 among recs. */
static int64_t ref_distinct(const ev *e, const int *recs, int n, const where_ctx *w)
{
    char small[64][24];
    char(*seen)[24] = n <= 64 ? small : malloc((size_t)n * sizeof *seen);
    int ns = 0;
    for (int i = 0; i < n; i++) {
        const ev *x = &e[recs[i]];
        if (w) {
            weir_row r = {.values = x->v, .n_values = NF};
            if (!where_type(w, &r))
                continue;
        }
        char t[24];
        const weir_value *v = &x->v[1];
        if (v->type == WEIR_VALUE_STRING)
            snprintf(t, sizeof t, "%.*s", (int)v->u.s.len, v->u.s.ptr);
        else if (v->type == WEIR_VALUE_INT)
            snprintf(t, sizeof t, "%lld", (long long)v->u.i);
        else
            continue;
        int dup = 0;
        for (int j = 0; j < ns && !dup; j++)
            dup = strcmp(seen[j], t) == 0;
        if (!dup)
            strcpy(seen[ns++], t);
    }
    if (seen != small)
        free(seen);
    return ns;
}

/* The reference's values of a window with records recs (arrival order). */
static void ref_values(const ev *e, const int *recs, int n, char *out, size_t cap)
{
    rnum sum = {0}, mn = {0}, mx = {0}, avg = {0}, sumu = {0};
    int64_t countf = 0;
    for (int i = 0; i < n; i++) {
        const ev *x = &e[recs[i]];
        weir_row r = {.values = x->v, .n_values = NF};
        const weir_value *p = &x->v[0];
        if (p->type != WEIR_VALUE_MISSING && p->type != WEIR_VALUE_NULL)
            countf++;
        rnum_sum(&sum, p);
        if (where_type(&is_a, &r))
            rnum_ext(&mn, p, -1);
        rnum_ext(&mx, p, 1);
        if (where_type(&not_b, &r))
            rnum_sum(&avg, p);
        rnum_sum(&sumu, &x->v[1]);
    }
    size_t o = 0;
    o += (size_t)snprintf(out + o, cap - o, "%d,%lld,", n, (long long)countf);
    o += (size_t)fmt_num(out + o, cap - o, &sum, 0);
    o += (size_t)snprintf(out + o, cap - o, ",");
    o += (size_t)fmt_num(out + o, cap - o, &mn, 0);
    o += (size_t)snprintf(out + o, cap - o, ",");
    o += (size_t)fmt_num(out + o, cap - o, &mx, 0);
    o += (size_t)snprintf(out + o, cap - o, ",");
    o += (size_t)fmt_num(out + o, cap - o, &avg, 1);
    o +=
        (size_t)snprintf(out + o, cap - o, ",%lld,%lld,", (long long)ref_distinct(e, recs, n, NULL),
                         (long long)ref_distinct(e, recs, n, &is_c));
    fmt_num(out + o, cap - o, &sumu, 0);
}

/* ---------------------------------------------------------------- firing logs */

typedef struct flog {
    char **line;
    size_t n, cap;
    long group;
    uint64_t late_out;
} flog;

static void flog_add(flog *l, const char *s)
{
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 1024;
        l->line = realloc(l->line, l->cap * sizeof *l->line);
        assert_non_null(l->line);
    }
    l->line[l->n++] = strdup(s);
}

static void flog_free(flog *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->line[i]);
    free(l->line);
    memset(l, 0, sizeof *l);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void flog_expect_equal(flog *got, flog *want, const char *what)
{
    qsort(got->line, got->n, sizeof(char *), cmp_str);
    qsort(want->line, want->n, sizeof(char *), cmp_str);
    size_t n = got->n < want->n ? got->n : want->n;
    for (size_t i = 0; i < n; i++)
        if (strcmp(got->line[i], want->line[i]) != 0) {
            print_error("%s: firing %zu differs:\n  got  %s\n  want %s\n", what, i, got->line[i],
                        want->line[i]);
            fail();
        }
    if (got->n != want->n) {
        print_error("%s: %zu firings, the reference %zu (first extra: %s)\n", what, got->n, want->n,
                    got->n > want->n ? got->line[n] : want->line[n]);
        fail();
    }
}

static int op_emit(void *opaque, const weir_gwindow_firing *f)
{
    flog *l = opaque;
    char buf[1024];
    size_t o = (size_t)snprintf(buf, sizeof buf, "%09ld|%d|%.*s|%lld|%lld|", l->group, f->late,
                                (int)f->key.len, f->key.ptr, (long long)f->window_start,
                                (long long)f->window_end);
    for (size_t a = 0; a < f->n_values; a++) {
        o += (size_t)fmt_value(buf + o, sizeof buf - o, &f->values[a]);
        if (a + 1 < f->n_values)
            o += (size_t)snprintf(buf + o, sizeof buf - o, ",");
    }
    flog_add(l, buf);
    return 0;
}

static void op_late(void *opaque, const weir_row *r)
{
    (void)r;
    ((flog *)opaque)->late_out++;
}

/* ---------------------------------------------------------------- the reference operator */

typedef struct rwin {
    int key;
    int64_t start, end;
    int *recs;
    int n, cap;
    int fired;
} rwin;

typedef struct ref {
    weir_window_spec spec;
    int64_t L, ooo;
    int final;
    int parts;
    int64_t pmax[8];
    int64_t wm;
    rwin *w;
    size_t nw, capw;
    const ev *e;
    flog *log;
    uint64_t accepted, dropped, late_acc, late_fir;
} ref;

#define MINUS_INF INT64_MIN

static int64_t floor_mod(int64_t a, int64_t b)
{
    int64_t m = a % b;
    return m < 0 ? m + b : m;
}

static void ref_emit(ref *R, rwin *w, int late)
{
    char vals[512], line[1024];
    ref_values(R->e, w->recs, w->n, vals, sizeof vals);
    snprintf(line, sizeof line, "%09ld|%d|%s|%lld|%lld|%s", R->log->group, late, key_text[w->key],
             (long long)w->start, (long long)w->end, vals);
    flog_add(R->log, line);
    if (late)
        R->late_fir++;
}

static void win_push(rwin *w, int rec)
{
    if (w->n == w->cap) {
        w->cap = w->cap ? w->cap * 2 : 8;
        w->recs = realloc(w->recs, (size_t)w->cap * sizeof *w->recs);
        assert_non_null(w->recs);
    }
    w->recs[w->n++] = rec;
}

static rwin *ref_new_win(ref *R, int key, int64_t s, int64_t e)
{
    if (R->nw == R->capw) {
        R->capw = R->capw ? R->capw * 2 : 64;
        R->w = realloc(R->w, R->capw * sizeof *R->w);
        assert_non_null(R->w);
    }
    rwin *w = &R->w[R->nw++];
    *w = (rwin){.key = key, .start = s, .end = e};
    return w;
}

static int64_t ref_sat(int64_t a, int64_t b)
{
    int64_t r;
    return __builtin_add_overflow(a, b, &r) ? (b > 0 ? INT64_MAX : INT64_MIN) : r;
}

static int closed(const ref *R, int64_t end)
{
    return R->wm != MINUS_INF && ref_sat(ref_sat(end, -1), R->L) <= R->wm;
}

static int passed(const ref *R, int64_t end)
{
    return R->wm != MINUS_INF && end - 1 <= R->wm;
}

static void ref_window_record(ref *R, int rec)
{
    const ev *x = &R->e[rec];
    int64_t W = R->spec.size_ms, S = R->spec.slide_ms, t = x->ts;
    int64_t starts[4096];
    int ns = 0;
    if (R->spec.kind == WEIR_WINDOW_TUMBLE) {
        starts[ns++] = t - floor_mod(t - R->spec.offset_ms, W);
    } else {
        int64_t last = t - floor_mod(t, S);
        for (int64_t s = last; s > t - W; s -= S)
            starts[ns++] = s;
        /* in order of start */
        for (int i = 0; i < ns / 2; i++) {
            int64_t tmp = starts[i];
            starts[i] = starts[ns - 1 - i];
            starts[ns - 1 - i] = tmp;
        }
    }
    int any = 0, late = 0;
    for (int i = 0; i < ns; i++) {
        int64_t s = starts[i], e = s + W;
        if (closed(R, e))
            continue;
        any = 1;
        rwin *w = NULL;
        for (size_t j = 0; j < R->nw && !w; j++)
            if (R->w[j].key == x->key && R->w[j].start == s)
                w = &R->w[j];
        if (!w)
            w = ref_new_win(R, x->key, s, e);
        win_push(w, rec);
        if (passed(R, e)) {
            late = 1;
            w->fired = 1;
            if (!R->final)
                ref_emit(R, w, 1);
        }
    }
    if (!any) {
        R->dropped++;
        return;
    }
    R->accepted++;
    R->late_acc += (uint64_t)late;
}

static void ref_session_record(ref *R, int rec)
{
    const ev *x = &R->e[rec];
    int64_t s = x->ts, e = x->ts + R->spec.gap_ms;
    size_t hit[64];
    int nh = 0;
    for (size_t j = 0; j < R->nw; j++)
        if (R->w[j].key == x->key && R->w[j].start <= e && R->w[j].end >= s) {
            assert_true(nh < 64);
            hit[nh++] = j;
        }
    rwin *w;
    if (nh == 0) {
        if (closed(R, e)) {
            R->dropped++;
            return;
        }
        w = ref_new_win(R, x->key, s, e);
    } else if (nh == 1 && R->w[hit[0]].start <= s && e <= R->w[hit[0]].end) {
        w = &R->w[hit[0]];
    } else {
        /* a new window of all the parts' records, in arrival order */
        int64_t a = s, b = e;
        rwin merged = {.key = x->key};
        for (int i = 0; i < nh; i++) {
            rwin *p = &R->w[hit[i]];
            a = p->start < a ? p->start : a;
            b = p->end > b ? p->end : b;
            for (int q = 0; q < p->n; q++)
                win_push(&merged, p->recs[q]);
        }
        /* sort the record indices: arrival order */
        for (int i = 1; i < merged.n; i++)
            for (int j = i; j > 0 && merged.recs[j - 1] > merged.recs[j]; j--) {
                int tmp = merged.recs[j];
                merged.recs[j] = merged.recs[j - 1];
                merged.recs[j - 1] = tmp;
            }
        for (int i = nh - 1; i >= 0; i--) {
            free(R->w[hit[i]].recs);
            R->w[hit[i]] = R->w[--R->nw];
        }
        merged.start = a;
        merged.end = b;
        w = ref_new_win(R, x->key, a, b);
        *w = merged;
    }
    win_push(w, rec);
    R->accepted++;
    if (passed(R, w->end)) {
        R->late_acc++;
        w->fired = 1;
        if (!R->final)
            ref_emit(R, w, 1);
    }
}

static int cmp_end(const void *a, const void *b)
{
    const rwin *x = *(rwin *const *)a, *y = *(rwin *const *)b;
    return x->end < y->end ? -1 : x->end > y->end;
}

/* The watermark moved: on-time firings in order of end, then cleanup (final: emission). */
static void ref_advance(ref *R)
{
    rwin **due = malloc((R->nw + 1) * sizeof *due);
    size_t nd = 0;
    for (size_t j = 0; j < R->nw; j++)
        if (!R->w[j].fired && passed(R, R->w[j].end))
            due[nd++] = &R->w[j];
    qsort(due, nd, sizeof *due, cmp_end);
    for (size_t i = 0; i < nd; i++) {
        due[i]->fired = 1;
        if (!R->final)
            ref_emit(R, due[i], 0);
    }
    free(due);
    for (size_t j = 0; j < R->nw;) {
        if (closed(R, R->w[j].end)) {
            if (R->final)
                ref_emit(R, &R->w[j], 0);
            free(R->w[j].recs);
            R->w[j] = R->w[--R->nw];
        } else {
            j++;
        }
    }
}

static void ref_observe(ref *R, const ev *x)
{
    if (x->ts > R->pmax[x->part])
        R->pmax[x->part] = x->ts;
    int64_t m = INT64_MAX;
    for (int p = 0; p < R->parts; p++) {
        int64_t w = R->pmax[p] == MINUS_INF ? MINUS_INF : R->pmax[p] - R->ooo - 1;
        m = w < m ? w : m;
    }
    if (m > R->wm)
        R->wm = m;
}

/* ---------------------------------------------------------------- one random case */

typedef struct rcase {
    weir_window_spec spec;
    int64_t L, ooo;
    int final;
    gen_cfg g;
} rcase;

static void run_case(const rcase *c)
{
    ev *e = gen_events(&c->g);
    weir_gagg_def defs[N_AGGS];
    make_defs(defs);
    weir_gwindow_params p = {
        .spec = c->spec,
        .allowed_lateness_ms = c->L,
        .emit = c->final ? WEIR_EMIT_FINAL : WEIR_EMIT_UPDATES,
        .wm = {.out_of_orderness_ms = c->ooo},
        .partitions = c->g.parts,
        .aggs = defs,
        .n_aggs = N_AGGS,
    };
    flog got = {0}, want = {0};
    char err[256];
    weir_gwindow *op = weir_gwindow_new(&p, op_emit, &got, err, sizeof err);
    if (!op)
        print_error("%s\n", err);
    assert_non_null(op);
    weir_gwindow_set_late_output(op, op_late, &got);
    ref R = {.spec = c->spec,
             .L = c->L,
             .ooo = c->ooo,
             .final = c->final,
             .parts = c->g.parts,
             .wm = MINUS_INF,
             .e = e,
             .log = &want};
    for (int i = 0; i < 8; i++)
        R.pmax[i] = MINUS_INF;
    for (size_t i = 0; i < c->g.n; i++) {
        got.group = want.group = (long)i;
        weir_row r = row_of(&e[i]);
        assert_int_equal(weir_gwindow_process(op, &r, 1, 0), WEIR_OK);
        if (c->spec.kind == WEIR_WINDOW_SESSION)
            ref_session_record(&R, (int)i);
        else
            ref_window_record(&R, (int)i);
        ref_observe(&R, &e[i]);
        ref_advance(&R);
        if (i % 4096 == 0)
            assert_int_equal(weir_gwindow_watermark(op), R.wm);
    }
    got.group = want.group = (long)c->g.n;
    assert_int_equal(weir_gwindow_finish(op), WEIR_OK);
    R.wm = INT64_MAX;
    ref_advance(&R);
    assert_int_equal(R.nw, 0);
    char what[160];
    snprintf(what, sizeof what, "kind %d W %lld S %lld G %lld L %lld %s seed %llu",
             (int)c->spec.kind, (long long)c->spec.size_ms, (long long)c->spec.slide_ms,
             (long long)c->spec.gap_ms, (long long)c->L, c->final ? "final" : "updates",
             (unsigned long long)c->g.seed);
    flog_expect_equal(&got, &want, what);
    weir_gwindow_counters st;
    weir_gwindow_stats(op, &st);
    assert_int_equal(st.accepted, R.accepted);
    assert_int_equal(st.late_dropped, R.dropped);
    assert_int_equal(got.late_out, R.dropped);
    assert_int_equal(st.late_accepted, R.late_acc);
    assert_int_equal(st.late_firings, R.late_fir);
    assert_int_equal(st.emissions, got.n);
    assert_int_equal(st.live_keys, 0);
    assert_int_equal(st.live_slices + st.live_sessions, 0);
    assert_true(R.dropped > 0);
    assert_true(c->L == 0 ? R.late_acc == 0 : R.late_acc > 0);
    weir_gwindow_destroy(op);
    flog_free(&got);
    flog_free(&want);
    free(R.w);
    free(e);
}

/* Cases of one kind over `total` events in all, split across seeds and settings. */
static void run_kind(weir_window_spec spec, size_t total)
{
    static const struct {
        int64_t L;
        int final, parts;
    } v[] = {{0, 0, 1}, {30, 0, 3}, {30, 1, 1}, {0, 1, 2}};
    size_t nv = sizeof v / sizeof v[0];
    for (size_t i = 0; i < nv; i++) {
        rcase c = {.spec = spec, .L = v[i].L, .ooo = 15, .final = v[i].final};
        c.g = (gen_cfg){.seed = 1000 + i * 77 + (uint64_t)spec.kind,
                        .n = total / nv,
                        .parts = v[i].parts,
                        .step = 2,
                        .disorder = 25,
                        .very_late = 0.01,
                        .late_max = 400,
                        .users = 12};
        run_case(&c);
    }
}

#define EVENTS_PER_KIND 1000000

static void test_reference_tumble(void **state)
{
    (void)state;
    run_kind((weir_window_spec){.kind = WEIR_WINDOW_TUMBLE, .size_ms = 20, .offset_ms = 7},
             EVENTS_PER_KIND);
}

static void test_reference_hop(void **state)
{
    (void)state;
    run_kind((weir_window_spec){.kind = WEIR_WINDOW_HOP, .size_ms = 40, .slide_ms = 10},
             EVENTS_PER_KIND * 3 / 4);
    /* a size that is not a multiple of the slide: slices of gcd(W, S) */
    run_kind((weir_window_spec){.kind = WEIR_WINDOW_HOP, .size_ms = 25, .slide_ms = 10},
             EVENTS_PER_KIND / 4);
}

static void test_reference_session(void **state)
{
    (void)state;
    run_kind((weir_window_spec){.kind = WEIR_WINDOW_SESSION, .gap_ms = 12}, EVENTS_PER_KIND);
}

/* ---------------------------------------------------------------- hop against tumblers */

/* hop:W/S fires exactly what W/S tumbling operators shifted by S do, window by window. */
static void test_hop_vs_shifted_tumblers(void **state)
{
    (void)state;
    gen_cfg g = {.seed = 4242,
                 .n = 120000,
                 .parts = 2,
                 .step = 2,
                 .disorder = 25,
                 .very_late = 0.01,
                 .late_max = 400,
                 .users = 12};
    ev *e = gen_events(&g);
    weir_gagg_def defs[N_AGGS];
    make_defs(defs);
    for (int final = 0; final < 2; final++) {
        weir_gwindow_params p = {
            .spec = {.kind = WEIR_WINDOW_HOP, .size_ms = 40, .slide_ms = 10},
            .allowed_lateness_ms = 20,
            .emit = final ? WEIR_EMIT_FINAL : WEIR_EMIT_UPDATES,
            .wm = {.out_of_orderness_ms = 15},
            .partitions = 2,
            .aggs = defs,
            .n_aggs = N_AGGS,
        };
        flog hop = {0}, tum = {0};
        weir_gwindow *h = weir_gwindow_new(&p, op_emit, &hop, NULL, 0);
        assert_non_null(h);
        weir_gwindow *t[4];
        for (int k = 0; k < 4; k++) {
            weir_gwindow_params q = p;
            q.spec =
                (weir_window_spec){.kind = WEIR_WINDOW_TUMBLE, .size_ms = 40, .offset_ms = 10 * k};
            t[k] = weir_gwindow_new(&q, op_emit, &tum, NULL, 0);
            assert_non_null(t[k]);
        }
        for (size_t i = 0; i <= g.n; i++) {
            hop.group = tum.group = (long)i;
            if (i == g.n) {
                assert_int_equal(weir_gwindow_finish(h), WEIR_OK);
                for (int k = 0; k < 4; k++)
                    assert_int_equal(weir_gwindow_finish(t[k]), WEIR_OK);
                break;
            }
            weir_row r = row_of(&e[i]);
            assert_int_equal(weir_gwindow_process(h, &r, 1, 0), WEIR_OK);
            for (int k = 0; k < 4; k++)
                assert_int_equal(weir_gwindow_process(t[k], &r, 1, 0), WEIR_OK);
        }
        assert_true(hop.n > 1000);
        flog_expect_equal(&hop, &tum, final ? "hop vs tumblers, final" : "hop vs tumblers");
        /* A record is late dropped once by the hop, only when every tumbler drops it. */
        weir_gwindow_counters hs, ts[4];
        weir_gwindow_stats(h, &hs);
        uint64_t min_acc = UINT64_MAX;
        for (int k = 0; k < 4; k++) {
            weir_gwindow_stats(t[k], &ts[k]);
            min_acc = ts[k].accepted < min_acc ? ts[k].accepted : min_acc;
        }
        assert_true(hs.accepted >= min_acc);
        assert_int_equal(hs.accepted + hs.late_dropped, g.n);
        weir_gwindow_destroy(h);
        for (int k = 0; k < 4; k++)
            weir_gwindow_destroy(t[k]);
        flog_free(&hop);
        flog_free(&tum);
    }
    free(e);
}

/* ---------------------------------------------------------------- sessions by hand */

typedef struct hand {
    weir_gwindow *op;
    flog log;
    weir_value v[4096][1];
    size_t nv;
} hand;

static weir_gagg_def hand_defs[2];

static hand *hand_new(weir_window_spec spec, int64_t L, int64_t ooo, int final)
{
    hand *h = calloc(1, sizeof *h);
    assert_non_null(h);
    hand_defs[0] = (weir_gagg_def){.ops = &weir_gagg_count, .field = -1, .name = "count"};
    hand_defs[1] = (weir_gagg_def){.ops = &weir_gagg_sum, .field = 0, .name = "sum"};
    weir_gwindow_params p = {.spec = spec,
                             .allowed_lateness_ms = L,
                             .emit = final ? WEIR_EMIT_FINAL : WEIR_EMIT_UPDATES,
                             .wm = {.out_of_orderness_ms = ooo},
                             .partitions = 1,
                             .aggs = hand_defs,
                             .n_aggs = 2};
    char err[200];
    h->op = weir_gwindow_new(&p, op_emit, &h->log, err, sizeof err);
    assert_non_null(h->op);
    weir_gwindow_set_late_output(h->op, op_late, &h->log);
    return h;
}

/* One record of key "u" at t with value x in field 0; returns the firings it caused, joined
 * by ';' in emission order. */
static char out_buf[4096];

static const char *joined(hand *h, size_t from)
{
    size_t o = 0;
    out_buf[0] = 0;
    for (size_t i = from; i < h->log.n; i++)
        o += (size_t)snprintf(out_buf + o, sizeof out_buf - o, "%s%s", i > from ? ";" : "",
                              strchr(h->log.line[i], '|') + 1);
    return out_buf;
}

static const char *hand_rec(hand *h, int64_t t, int64_t x)
{
    size_t from = h->log.n;
    h->v[h->nv][0] = (weir_value){.type = WEIR_VALUE_INT, .u.i = x};
    weir_row r = {.ts = t,
                  .key = {"u", 1},
                  .key_hash = XXH3_64bits("u", 1),
                  .values = h->v[h->nv++],
                  .n_values = 1};
    assert_int_equal(weir_gwindow_process(h->op, &r, 1, 0), WEIR_OK);
    return joined(h, from);
}

static const char *hand_finish(hand *h)
{
    size_t from = h->log.n;
    assert_int_equal(weir_gwindow_finish(h->op), WEIR_OK);
    return joined(h, from);
}

static void hand_free(hand *h)
{
    weir_gwindow_destroy(h->op);
    flog_free(&h->log);
    free(h);
}

static void test_session_by_hand(void **state)
{
    (void)state;
    weir_window_spec g10 = {.kind = WEIR_WINDOW_SESSION, .gap_ms = 10};
    /* A record bridging two sessions: [0,10) and [18,28), then 9 opens [9,19). */
    hand *h = hand_new(g10, 0, 1000, 0);
    assert_string_equal(hand_rec(h, 0, 1), "");
    assert_string_equal(hand_rec(h, 18, 2), "");
    assert_string_equal(hand_rec(h, 9, 4), "");
    assert_string_equal(hand_finish(h), "0|u|0|28|3,7");
    hand_free(h);

    /* Touching sessions merge: [0,10) and [10,20). */
    h = hand_new(g10, 0, 1000, 0);
    hand_rec(h, 0, 1);
    hand_rec(h, 10, 2);
    assert_string_equal(hand_finish(h), "0|u|0|20|2,3");
    hand_free(h);

    /* A late record extending a fired session within the lateness: a new window, fired at
     * once; what the part emitted stays emitted. */
    h = hand_new(g10, 100, 0, 0);
    assert_string_equal(hand_rec(h, 0, 1), "");
    assert_string_equal(hand_rec(h, 50, 2), "0|u|0|10|1,1");
    assert_string_equal(hand_rec(h, 5, 4), "1|u|0|15|2,5");
    /* A late record inside that session: it fires again, bounds unchanged. */
    assert_string_equal(hand_rec(h, 4, 8), "1|u|0|15|3,13");
    assert_string_equal(hand_finish(h), "0|u|50|60|1,2");
    hand_free(h);

    /* A late record merging with nothing is dropped (and goes to the late output). */
    h = hand_new(g10, 5, 0, 0);
    hand_rec(h, 0, 1);
    assert_string_equal(hand_rec(h, 50, 2), "0|u|0|10|1,1");
    assert_string_equal(hand_rec(h, 30, 4), "");
    weir_gwindow_counters st;
    weir_gwindow_stats(h->op, &st);
    assert_int_equal(st.late_dropped, 1);
    assert_int_equal(h->log.late_out, 1);
    /* ... but one joining a live session is not: [45,55) merges with [50,60). */
    assert_string_equal(hand_rec(h, 45, 8), "");
    assert_string_equal(hand_finish(h), "0|u|45|60|2,10");
    hand_free(h);

    /* End of input in final mode: every session emits once, in order of end. */
    h = hand_new(g10, 0, 1000, 1);
    hand_rec(h, 0, 1);
    hand_rec(h, 100, 2);
    hand_rec(h, 5, 4);
    assert_string_equal(hand_finish(h), "0|u|0|15|2,5;0|u|100|110|1,2");
    hand_free(h);
}

/* A record filtered by --where: weir_gwindow_observe moves the watermark and fires windows
 * exactly as weir_gwindow_process does for a record of that time, and joins no window. */
static void test_observe(void **state)
{
    (void)state;
    weir_window_spec kinds[3] = {{.kind = WEIR_WINDOW_TUMBLE, .size_ms = 10},
                                 {.kind = WEIR_WINDOW_HOP, .size_ms = 20, .slide_ms = 10},
                                 {.kind = WEIR_WINDOW_SESSION, .gap_ms = 10}};
    for (int k = 0; k < 3; k++)
        for (int final = 0; final < 2; final++) {
            hand *a = hand_new(kinds[k], 5, 2, final), *b = hand_new(kinds[k], 5, 2, final);
            /* a: the record at 47 is processed under another key; b: only observed */
            static const int64_t ts[] = {0, 3, 12, 25, 31, 47, 50, 90};
            for (size_t i = 0; i < sizeof ts / sizeof *ts; i++) {
                if (ts[i] == 47 || ts[i] == 90) {
                    size_t fa = a->log.n, fb = b->log.n;
                    a->v[a->nv][0] = (weir_value){.type = WEIR_VALUE_INT, .u.i = 1000};
                    weir_row r = {.ts = ts[i],
                                  .key = {"other", 5},
                                  .key_hash = XXH3_64bits("other", 5),
                                  .values = a->v[a->nv++],
                                  .n_values = 1};
                    assert_int_equal(weir_gwindow_process(a->op, &r, 1, 0), WEIR_OK);
                    assert_int_equal(weir_gwindow_observe(b->op, 0, ts[i], 0), WEIR_OK);
                    char want[4096] = "";
                    size_t o = 0;
                    for (size_t l = fa; l < a->log.n; l++)
                        if (!strstr(a->log.line[l], "|other|"))
                            o += (size_t)snprintf(want + o, sizeof want - o, "%s%s", o ? ";" : "",
                                                  strchr(a->log.line[l], '|') + 1);
                    assert_string_equal(joined(b, fb), want);
                    assert_int_equal(weir_gwindow_watermark(b->op), weir_gwindow_watermark(a->op));
                } else {
                    hand_rec(a, ts[i], (int64_t)i);
                    hand_rec(b, ts[i], (int64_t)i);
                }
            }
            weir_gwindow_counters sa, sb;
            weir_gwindow_stats(a->op, &sa);
            weir_gwindow_stats(b->op, &sb);
            assert_int_equal(sb.accepted + 2, sa.accepted);
            /* b's remaining firings are a's without the key "other" */
            hand_finish(a);
            hand_finish(b);
            size_t j = 0;
            for (size_t i = 0; i < a->log.n; i++) {
                if (strstr(a->log.line[i], "|other|"))
                    continue;
                assert_true(j < b->log.n);
                assert_string_equal(strchr(b->log.line[j], '|'), strchr(a->log.line[i], '|'));
                j++;
            }
            assert_int_equal(j, b->log.n);
            assert_int_equal(weir_gwindow_observe(b->op, 1, 100, 0), WEIR_ERR_INVALID_ARG);
            hand_free(a);
            hand_free(b);
        }
}

/* ---------------------------------------------------------------- numbers */

static void test_numbers(void **state)
{
    (void)state;
    weir_gagg_def d[] = {
        {.ops = &weir_gagg_sum, .field = 0, .name = "sum"},
        {.ops = &weir_gagg_min, .field = 0, .name = "min"},
        {.ops = &weir_gagg_max, .field = 0, .name = "max"},
        {.ops = &weir_gagg_avg, .field = 0, .name = "avg"},
        {.ops = &weir_gagg_count, .field = 0, .name = "count_f"},
        {.ops = &weir_gagg_count_distinct, .field = 0, .name = "distinct"},
        {.ops = &weir_gagg_approx_count_distinct, .field = 0, .name = "approx"},
    };
    weir_gwindow_params p = {.spec = {.kind = WEIR_WINDOW_TUMBLE, .size_ms = 100},
                             .partitions = 1,
                             .aggs = d,
                             .n_aggs = 7};
    flog log = {0};
    weir_gwindow *op = weir_gwindow_new(&p, op_emit, &log, NULL, 0);
    assert_non_null(op);
    weir_value v[16];
    int n = 0;
    /* window [0,100): INT64_MAX + 1 overflows into doubles */
    v[n++] = (weir_value){.type = WEIR_VALUE_INT, .u.i = INT64_MAX};
    v[n++] = (weir_value){.type = WEIR_VALUE_INT, .u.i = 1};
    /* window [100,200): 7 and "7" one distinct value; null and missing skipped */
    v[n++] = (weir_value){.type = WEIR_VALUE_INT, .u.i = 7};
    set_str(&v[n++], "7");
    v[n++] = (weir_value){.type = WEIR_VALUE_NULL};
    v[n++] = (weir_value){.type = WEIR_VALUE_MISSING};
    /* window [200,300): doubles */
    v[n++] = (weir_value){.type = WEIR_VALUE_DOUBLE, .u.d = 0.1};
    v[n++] = (weir_value){.type = WEIR_VALUE_DOUBLE, .u.d = 0.2};
    v[n++] = (weir_value){.type = WEIR_VALUE_INT, .u.i = -3};
    /* window [300,400): nothing numeric: null results */
    set_str(&v[n++], "x");
    v[n++] = (weir_value){.type = WEIR_VALUE_OTHER};
    int64_t ts[] = {1, 2, 101, 102, 103, 104, 201, 202, 203, 301, 302};
    for (int i = 0; i < n; i++) {
        weir_row r = {.ts = ts[i], .key = {"k", 1}, .key_hash = 1, .values = &v[i], .n_values = 1};
        assert_int_equal(weir_gwindow_process(op, &r, 1, 0), WEIR_OK);
    }
    assert_int_equal(weir_gwindow_finish(op), WEIR_OK);
    assert_int_equal(log.n, 4);
    char want[4][200];
    snprintf(want[0], 200, "000000000|0|k|0|100|d%.17g,1,%lld,d%.17g,2,2,2", 0x1p63,
             (long long)INT64_MAX, 0x1p63 / 2);
    snprintf(want[1], 200, "000000000|0|k|100|200|7,7,7,d7,2,1,1");
    snprintf(want[2], 200, "000000000|0|k|200|300|d%.17g,d-3,d0.20000000000000001,d%.17g,3,1,1",
             0.1 + 0.2 + -3.0, (0.1 + 0.2 + -3.0) / 3);
    snprintf(want[3], 200, "000000000|0|k|300|400|null,null,null,null,2,1,1");
    for (int i = 0; i < 4; i++)
        assert_string_equal(log.line[i], want[i]);
    weir_gwindow_destroy(op);
    flog_free(&log);
}

/* ---------------------------------------------------------------- snapshots */

static void snapshot_case(weir_window_spec spec, int final)
{
    gen_cfg g = {.seed = 99 + (uint64_t)spec.kind * 3 + (uint64_t) final,
                 .n = 60000,
                 .parts = 2,
                 .step = 2,
                 .disorder = 25,
                 .very_late = 0.01,
                 .late_max = 400,
                 .users = 40};
    ev *e = gen_events(&g);
    weir_gagg_def defs[N_AGGS + 1];
    make_defs(defs);
    defs[N_AGGS] =
        (weir_gagg_def){.ops = &weir_gagg_approx_count_distinct, .field = 1, .name = "approx"};
    weir_gwindow_params p = {.spec = spec,
                             .allowed_lateness_ms = 30,
                             .emit = final ? WEIR_EMIT_FINAL : WEIR_EMIT_UPDATES,
                             .wm = {.out_of_orderness_ms = 15},
                             .partitions = 2,
                             .aggs = defs,
                             .n_aggs = N_AGGS + 1};
    flog a = {0}, b = {0};
    weir_gwindow *op = weir_gwindow_new(&p, op_emit, &a, NULL, 0);
    for (size_t i = 0; i < g.n; i++) {
        a.group = (long)i;
        weir_row r = row_of(&e[i]);
        assert_int_equal(weir_gwindow_process(op, &r, 1, 0), WEIR_OK);
    }
    a.group = (long)g.n;
    assert_int_equal(weir_gwindow_finish(op), WEIR_OK);
    weir_gwindow_counters sa, sb;
    weir_gwindow_stats(op, &sa);
    weir_gwindow_destroy(op);

    op = weir_gwindow_new(&p, op_emit, &b, NULL, 0);
    size_t cut = g.n / 2;
    for (size_t i = 0; i < g.n; i++) {
        if (i == cut) {
            uint8_t *buf;
            size_t len;
            assert_int_equal(weir_gwindow_snapshot(op, &buf, &len), WEIR_OK);
            weir_gwindow_destroy(op);
            op = weir_gwindow_new(&p, op_emit, &b, NULL, 0);
            char err[200];
            /* a damaged copy is refused and changes nothing */
            buf[len / 2] ^= 1;
            assert_int_equal(weir_gwindow_restore(op, buf, len, err, sizeof err), WEIR_ERR_CORRUPT);
            buf[len / 2] ^= 1;
            weir_err rc = weir_gwindow_restore(op, buf, len, err, sizeof err);
            if (rc != WEIR_OK)
                print_error("restore: %s\n", err);
            assert_int_equal(rc, WEIR_OK);
            free(buf);
        }
        b.group = (long)i;
        weir_row r = row_of(&e[i]);
        assert_int_equal(weir_gwindow_process(op, &r, 1, 0), WEIR_OK);
    }
    b.group = (long)g.n;
    assert_int_equal(weir_gwindow_finish(op), WEIR_OK);
    weir_gwindow_stats(op, &sb);
    weir_gwindow_destroy(op);
    /* the same firings in the same order, byte for byte */
    assert_int_equal(b.n, a.n);
    for (size_t i = 0; i < a.n; i++)
        if (strcmp(a.line[i], b.line[i]) != 0) {
            print_error("snapshot round trip: firing %zu differs:\n  got  %s\n  want %s\n", i,
                        b.line[i], a.line[i]);
            fail();
        }
    /* the watermark's firings sharing an end are in order of key bytes */
    for (size_t i = 1; i < a.n; i++) {
        char g0[16], g1[16], k0[32], k1[32];
        int l0, l1;
        long long s0, s1, e0, e1;
        assert_int_equal(
            sscanf(a.line[i - 1], "%15[^|]|%d|%31[^|]|%lld|%lld|", g0, &l0, k0, &s0, &e0), 5);
        assert_int_equal(sscanf(a.line[i], "%15[^|]|%d|%31[^|]|%lld|%lld|", g1, &l1, k1, &s1, &e1),
                         5);
        if (!l0 && !l1 && strcmp(g0, g1) == 0 && e0 == e1)
            assert_true(strcmp(k0, k1) < 0);
    }
    assert_int_equal(sa.accepted, sb.accepted);
    assert_int_equal(sa.late_dropped, sb.late_dropped);
    assert_int_equal(sa.late_accepted, sb.late_accepted);
    assert_int_equal(sa.emissions, sb.emissions);
    flog_free(&a);
    flog_free(&b);
    free(e);
}

/* ---------------------------------------------------------------- the exact set's two modes */

/* A value of pool `pool` (0: packed integers, 1: their text as strings, 2: integers far
 * apart, 3: texts that are not canonical integers, 4: long strings), as the aggregate gets
 * it, with its text (how the reference counts it) in txt. */
static weir_value set_value(uint64_t *rs, int pool, int range, char *sbuf, char *txt)
{
    weir_value v;
    uint64_t r = rng_next(rs);
    int64_t i = (int64_t)(r % (uint64_t)range) - (pool == 0 && (r >> 40) % 7 == 0 ? 5 : 0);
    switch (pool) {
    case 0:
        v.type = WEIR_VALUE_INT;
        v.u.i = i;
        snprintf(txt, 64, "%lld", (long long)i);
        return v;
    case 2:
        v.type = WEIR_VALUE_INT;
        v.u.i = (int64_t)(r >> 4) - (int64_t)(r & 1) * INT64_MAX;
        snprintf(txt, 64, "%lld", (long long)v.u.i);
        return v;
    case 1: snprintf(sbuf, 64, "%lld", (long long)i); break;
    case 3: snprintf(sbuf, 64, (r >> 50) & 1 ? "0%lld" : "+%lld", (long long)(i % 50)); break;
    default: snprintf(sbuf, 64, "a rather long value number %lld", (long long)(i % 300)); break;
    }
    v.type = WEIR_VALUE_STRING;
    v.u.s.ptr = sbuf;
    v.u.s.len = strlen(sbuf);
    strcpy(txt, sbuf);
    return v;
}

static int cmp_txt(const void *a, const void *b)
{
    return strcmp(a, b);
}

/* Distinct texts among n of 64 bytes each (sorted in place). */
static int64_t set_ref_distinct(char (*t)[64], size_t n)
{
    qsort(t, n, 64, cmp_txt);
    int64_t d = 0;
    for (size_t i = 0; i < n; i++)
        d += i == 0 || strcmp(t[i], t[i - 1]) != 0;
    return d;
}

static int64_t set_result(void *st)
{
    weir_value out;
    assert_int_equal(weir_gagg_count_distinct.result(st, NULL, &out), WEIR_OK);
    return out.u.i;
}

/* count_distinct's set, dense counts or table, against sorted texts: records into a "slice"
 * and a "running" set, more into the running one only, the slice taken out (unmerge), a
 * merge, and a snapshot round trip, with every mix of pools turning the set from one mode to
 * the other and back. */
static void test_distinct_set_modes(void **state)
{
    (void)state;
    const weir_gagg_ops *o = &weir_gagg_count_distinct;
    enum { N = 6000 };
    char(*all)[64] = malloc((size_t)N * 2 * 64), (*extra)[64] = malloc((size_t)N * 64);
    uint8_t *slice = malloc(o->state_size), *run = malloc(o->state_size),
            *back = malloc(o->state_size), *sum = malloc(o->state_size);
    assert_non_null(all);
    assert_non_null(extra);
    char sbuf[64];
    static const int mixes[][3] = {{0, 0, 0}, {0, 1, 0}, {0, 0, 3}, {1, 1, 1}, {0, 2, 0},
                                   {2, 2, 2}, {0, 4, 0}, {3, 0, 0}, {0, 0, 4}, {1, 0, 2}};
    static const int ranges[] = {40, 900, 5000, 100000};
    uint64_t rs = 42;
    for (size_t m = 0; m < sizeof mixes / sizeof mixes[0]; m++) {
        for (size_t g = 0; g < sizeof ranges / sizeof ranges[0]; g++) {
            o->init(slice, NULL);
            o->init(run, NULL);
            size_t na = 0, ne = 0;
            int n1 = (int)(rng_next(&rs) % N), n2 = (int)(rng_next(&rs) % N);
            for (int i = 0; i < n1 + n2; i++) {
                /* The pool changes at a third and at two thirds of each phase. */
                int phase = i < n1 ? i * 3 / (n1 ? n1 : 1) : (i - n1) * 3 / (n2 ? n2 : 1);
                int pool = mixes[m][phase > 2 ? 2 : phase];
                char *txt = i < n1 ? all[na++] : extra[ne++];
                weir_value v = set_value(&rs, pool, ranges[g], sbuf, txt);
                if (i < n1)
                    assert_int_equal(o->add(slice, &v, NULL, NULL), WEIR_OK);
                assert_int_equal(o->add(run, &v, NULL, NULL), WEIR_OK);
            }
            for (size_t i = 0; i < ne; i++)
                memcpy(all[na + i], extra[i], 64);
            assert_int_equal(set_result(slice), set_ref_distinct(all, na));
            /* Every record's text: the slice's (sorted above) and the others'. */
            int64_t both = set_ref_distinct(all, na + ne);
            assert_int_equal(set_result(run), both);

            /* A snapshot of the running set restores to the same count. */
            size_t sz = o->serialized_size(run, NULL);
            uint8_t *buf = malloc(sz ? sz : 1);
            assert_int_equal(o->serialize(run, buf, NULL), sz);
            assert_int_equal(o->deserialize(back, buf, sz, NULL), WEIR_OK);
            assert_int_equal(set_result(back), both);
            free(buf);

            /* merge: back (the running set's values) with the slice's. */
            o->init(sum, NULL);
            assert_int_equal(o->merge(sum, back, NULL), WEIR_OK);
            assert_int_equal(o->merge(sum, slice, NULL), WEIR_OK);
            assert_int_equal(set_result(sum), both);

            /* unmerge: the running set without the slice's records. */
            assert_int_equal(o->unmerge(run, slice, NULL), WEIR_OK);
            assert_int_equal(set_result(run), set_ref_distinct(extra, ne));
            assert_int_equal(o->serialized_size(run, NULL) >= 4, 1);
            o->free(slice, NULL);
            o->free(run, NULL);
            o->free(back, NULL);
            o->free(sum, NULL);
        }
    }
    free(all);
    free(extra);
    free(slice);
    free(run);
    free(back);
    free(sum);
}

static void test_snapshot_round_trip(void **state)
{
    (void)state;
    for (int final = 0; final < 2; final++) {
        snapshot_case((weir_window_spec){.kind = WEIR_WINDOW_TUMBLE, .size_ms = 20, .offset_ms = 3},
                      final);
        snapshot_case((weir_window_spec){.kind = WEIR_WINDOW_HOP, .size_ms = 40, .slide_ms = 10},
                      final);
        snapshot_case((weir_window_spec){.kind = WEIR_WINDOW_SESSION, .gap_ms = 12}, final);
    }
}

static void test_snapshot_mismatch(void **state)
{
    (void)state;
    weir_gagg_def d = {.ops = &weir_gagg_count, .field = -1};
    weir_gwindow_params p = {.spec = {.kind = WEIR_WINDOW_TUMBLE, .size_ms = 10},
                             .partitions = 1,
                             .aggs = &d,
                             .n_aggs = 1};
    weir_gwindow *op = weir_gwindow_new(&p, NULL, NULL, NULL, 0);
    uint8_t *buf;
    size_t len;
    assert_int_equal(weir_gwindow_snapshot(op, &buf, &len), WEIR_OK);
    p.spec.size_ms = 20;
    weir_gwindow *other = weir_gwindow_new(&p, NULL, NULL, NULL, 0);
    char err[200];
    assert_int_equal(weir_gwindow_restore(other, buf, len, err, sizeof err), WEIR_ERR_INVALID_ARG);
    assert_non_null(strstr(err, "window spec"));
    buf[8] = 9; /* version */
    assert_int_equal(weir_gwindow_restore(op, buf, len, err, sizeof err), WEIR_ERR_UNSUPPORTED);
    assert_int_equal(weir_gwindow_restore(op, buf, 10, err, sizeof err), WEIR_ERR_CORRUPT);
    free(buf);
    weir_gwindow_destroy(op);
    weir_gwindow_destroy(other);
}

/* ---------------------------------------------------------------- a custom aggregate */

/* p95 of up to 30 numbers kept inline (a sketch would do for more; this is an example). */
typedef struct p95_state {
    uint32_t n;
    double v[30];
} p95_state;

static void p95_init(void *s, const void *params)
{
    (void)params;
    memset(s, 0, sizeof(p95_state));
}

static weir_err p95_add(void *state, const weir_value *v, const weir_row *r, const void *params)
{
    (void)r, (void)params;
    p95_state *s = state;
    if (v && (v->type == WEIR_VALUE_INT || v->type == WEIR_VALUE_DOUBLE) && s->n < 30)
        s->v[s->n++] = v->type == WEIR_VALUE_INT ? (double)v->u.i : v->u.d;
    return WEIR_OK;
}

static weir_err p95_merge(void *dst, const void *src, const void *params)
{
    (void)params;
    p95_state *d = dst;
    const p95_state *s = src;
    for (uint32_t i = 0; i < s->n && d->n < 30; i++)
        d->v[d->n++] = s->v[i];
    return WEIR_OK;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static weir_err p95_result(void *state, const void *params, weir_value *out)
{
    (void)params;
    p95_state *s = state;
    if (!s->n) {
        out->type = WEIR_VALUE_NULL;
        return WEIR_OK;
    }
    qsort(s->v, s->n, sizeof(double), cmp_double);
    out->type = WEIR_VALUE_DOUBLE;
    out->u.d = s->v[(s->n * 95 + 99) / 100 - 1];
    return WEIR_OK;
}

static const weir_gagg_ops p95_ops = {.name = "p95",
                                      .state_size = sizeof(p95_state),
                                      .init = p95_init,
                                      .add = p95_add,
                                      .merge = p95_merge,
                                      .result = p95_result};

static void test_custom_aggregate(void **state)
{
    (void)state;
    weir_gagg_def d[2] = {{.ops = &weir_gagg_count, .field = -1, .name = "count"},
                          {.ops = &p95_ops, .field = 0, .name = "p95"}};
    weir_gwindow_params p = {.spec = {.kind = WEIR_WINDOW_HOP, .size_ms = 20, .slide_ms = 10},
                             .partitions = 1,
                             .aggs = d,
                             .n_aggs = 2};
    flog log = {0};
    weir_gwindow *op = weir_gwindow_new(&p, op_emit, &log, NULL, 0);
    assert_non_null(op);
    weir_value v[20];
    for (int i = 0; i < 20; i++) {
        v[i] = (weir_value){.type = WEIR_VALUE_INT, .u.i = i + 1};
        weir_row r = {.ts = i, .key = {"k", 1}, .key_hash = 1, .values = &v[i], .n_values = 1};
        assert_int_equal(weir_gwindow_process(op, &r, 1, 0), WEIR_OK);
    }
    assert_int_equal(weir_gwindow_finish(op), WEIR_OK);
    assert_int_equal(log.n, 3);
    assert_string_equal(log.line[0], "000000000|0|k|-10|10|10,d10");
    assert_string_equal(log.line[1], "000000000|0|k|0|20|20,d19");
    assert_string_equal(log.line[2], "000000000|0|k|10|30|10,d20");
    weir_gwindow_destroy(op);
    flog_free(&log);
    /* no snapshot without serialization */
    p.spec = (weir_window_spec){.kind = WEIR_WINDOW_TUMBLE, .size_ms = 10};
    op = weir_gwindow_new(&p, NULL, NULL, NULL, 0);
    uint8_t *buf;
    size_t len;
    assert_int_equal(weir_gwindow_snapshot(op, &buf, &len), WEIR_ERR_UNSUPPORTED);
    weir_gwindow_destroy(op);
}

static void test_errors(void **state)
{
    (void)state;
    char err[256];
    weir_gagg_ops big = p95_ops;
    big.name = "top3";
    big.state_size = 300;
    weir_gagg_def d[2] = {{.ops = &weir_gagg_count, .field = -1}, {.ops = &big, .field = 0}};
    weir_gwindow_params p = {.spec = {.kind = WEIR_WINDOW_TUMBLE, .size_ms = 10},
                             .partitions = 1,
                             .aggs = d,
                             .n_aggs = 2};
    assert_null(weir_gwindow_new(&p, NULL, NULL, err, sizeof err));
    assert_string_equal(err, "aggregate 2 (top3): state_size 300 exceeds the maximum 256");
    weir_gagg_ops nomerge = p95_ops;
    nomerge.merge = NULL;
    d[0] = (weir_gagg_def){.ops = &nomerge, .field = 0, .name = "p95"};
    p.n_aggs = 1;
    weir_gwindow *op = weir_gwindow_new(&p, NULL, NULL, err, sizeof err);
    assert_non_null(op); /* tumbling windows never merge */
    weir_gwindow_destroy(op);
    p.spec = (weir_window_spec){.kind = WEIR_WINDOW_HOP, .size_ms = 10, .slide_ms = 5};
    assert_null(weir_gwindow_new(&p, NULL, NULL, err, sizeof err));
    assert_string_equal(err, "aggregate 1 (p95): merge is required for hop and session windows");
    p.spec = (weir_window_spec){.kind = WEIR_WINDOW_SESSION, .gap_ms = 10};
    assert_null(weir_gwindow_new(&p, NULL, NULL, err, sizeof err));
    weir_gagg_ops noadd = p95_ops;
    noadd.add = NULL;
    d[0].ops = &noadd;
    assert_null(weir_gwindow_new(&p, NULL, NULL, err, sizeof err));
    assert_string_equal(err, "aggregate 1 (p95): add is required");
    weir_gagg_ops halfser = weir_gagg_sum;
    halfser.deserialize = NULL;
    d[0] = (weir_gagg_def){.ops = &halfser, .field = 0};
    assert_null(weir_gwindow_new(&p, NULL, NULL, err, sizeof err));
    assert_non_null(strstr(err, "deserialize is required"));
    /* 64 aggregates are fine, 65 are not */
    weir_gagg_def many[65];
    for (int i = 0; i < 65; i++)
        many[i] = (weir_gagg_def){.ops = &weir_gagg_count, .field = -1};
    p.aggs = many;
    p.n_aggs = 64;
    op = weir_gwindow_new(&p, NULL, NULL, err, sizeof err);
    assert_non_null(op);
    weir_gwindow_destroy(op);
    p.n_aggs = 65;
    assert_null(weir_gwindow_new(&p, NULL, NULL, err, sizeof err));
    /* an out-of-range partition is rejected, the records before it processed */
    p.n_aggs = 1;
    p.spec = (weir_window_spec){.kind = WEIR_WINDOW_TUMBLE, .size_ms = 10};
    op = weir_gwindow_new(&p, NULL, NULL, NULL, 0);
    weir_row r[3] = {{.ts = 1, .partition = 0}, {.ts = 2, .partition = 1}, {.ts = 3}};
    assert_int_equal(weir_gwindow_process(op, r, 3, 0), WEIR_ERR_INVALID_ARG);
    weir_gwindow_counters st;
    weir_gwindow_stats(op, &st);
    assert_int_equal(st.accepted, 1);
    r[1].partition = -1;
    assert_int_equal(weir_gwindow_process(op, r + 1, 1, 0), WEIR_ERR_INVALID_ARG);
    weir_gwindow_destroy(op);
}

static void test_spec_parse(void **state)
{
    (void)state;
    weir_window_spec s;
    char err[300];
    assert_int_equal(weir_window_spec_parse("tumble:1m", &s, err, sizeof err), WEIR_OK);
    assert_int_equal(s.kind, WEIR_WINDOW_TUMBLE);
    assert_int_equal(s.size_ms, 60000);
    assert_int_equal(weir_window_spec_parse("tumble:1h@15m", &s, err, sizeof err), WEIR_OK);
    assert_int_equal(s.offset_ms, 900000);
    assert_int_equal(weir_window_spec_parse("hop:5m/1m", &s, err, sizeof err), WEIR_OK);
    assert_int_equal(s.kind, WEIR_WINDOW_HOP);
    assert_int_equal(s.size_ms, 300000);
    assert_int_equal(s.slide_ms, 60000);
    assert_int_equal(weir_window_spec_parse("hop:90s/1m", &s, err, sizeof err), WEIR_OK);
    assert_int_equal(weir_window_spec_parse("session:30s", &s, err, sizeof err), WEIR_OK);
    assert_int_equal(s.kind, WEIR_WINDOW_SESSION);
    assert_int_equal(s.gap_ms, 30000);
    static const char *bad[] = {"",           "tumble",    "tumble:",    "tumble:0s", "tumble:5",
                                "hop:1m",     "hop:1m/2m", "hop:1m/0s",  "session:x", "sliding:1m",
                                "tumble:1m@", "hop:/1m",   "session:-1s"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = 0;
        assert_int_equal(weir_window_spec_parse(bad[i], &s, err, sizeof err), WEIR_ERR_INVALID_ARG);
        assert_non_null(strstr(err, "accepted: tumble:W"));
    }
    weir_window_spec_parse("hop:1m/2m", &s, err, sizeof err);
    assert_non_null(strstr(err, "\"hop:1m/2m\""));
    assert_int_equal(weir_window_spec_parse("tumble:5", &s, NULL, 0), WEIR_ERR_INVALID_ARG);
}

int main(void)
{
    for (int k = 0; k < NKEYS; k++)
        snprintf(key_text[k], sizeof key_text[k], "k%d", k);
    /* GWINDOW_TEST=pattern runs the matching tests only (cmocka's filter). */
    if (getenv("GWINDOW_TEST"))
        cmocka_set_test_filter(getenv("GWINDOW_TEST"));
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reference_tumble),
        cmocka_unit_test(test_reference_hop),
        cmocka_unit_test(test_reference_session),
        cmocka_unit_test(test_hop_vs_shifted_tumblers),
        cmocka_unit_test(test_session_by_hand),
        cmocka_unit_test(test_numbers),
        cmocka_unit_test(test_observe),
        cmocka_unit_test(test_distinct_set_modes),
        cmocka_unit_test(test_snapshot_round_trip),
        cmocka_unit_test(test_snapshot_mismatch),
        cmocka_unit_test(test_custom_aggregate),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_spec_parse),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
