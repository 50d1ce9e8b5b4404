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
    char(*seen)[24] = malloc((size_t)(n ? n : 1) * sizeof *seen);
    int ns = 0;
    for (int i = 0; i < n; i++) {
        const ev *x = &e[recs[i]];
        if (w) {
            weir_row r = row_of(x);
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
        weir_row r = row_of(x);
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

int main(void)
{
    for (int k = 0; k < NKEYS; k++)
        snprintf(key_text[k], sizeof key_text[k], "k%d", k);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reference_tumble),
        cmocka_unit_test(test_reference_hop),
        cmocka_unit_test(test_reference_session),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
