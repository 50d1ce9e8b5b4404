/* The generic job's specs: predicates, aggregate specs and composite keys (weir/spec.h). */
#include "weir/spec.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "connectors/json_scan.h"
#include "runtime/errbuf.h"

/* What a predicate error says is accepted. */
#define PRED_FORM                                                                                  \
    "accepted: FIELD OP LITERAL [and FIELD OP LITERAL ...], OP one of = != < <= > >=, LITERAL a "  \
    "JSON number, a double-quoted JSON string or a bare word"

#define AGG_FORM                                                                                   \
    "accepted: FUNC(FIELD) [where PRED] [as NAME], FUNC one of count, sum, min, max, avg, "        \
    "count_distinct, approx_count_distinct"

/* Up to 80 bytes of s as a quoted, printable excerpt for a one-line error. */
static const char *excerpt(const char *s, size_t n, char out[96])
{
    size_t k = 0;
    out[k++] = '"';
    for (size_t i = 0; i < n && i < 80; i++) {
        unsigned char c = (unsigned char)s[i];
        out[k++] = c < 0x20 || c == 0x7f ? '?' : (char)c;
    }
    out[k++] = '"';
    if (n > 80) {
        memcpy(out + k, "...", 3);
        k += 3;
    }
    out[k] = '\0';
    return out;
}

enum { OP_EQ, OP_NE, OP_LT, OP_LE, OP_GT, OP_GE };

typedef struct term {
    int field; /* index into the record's values */
    int op;
    weir_value lit; /* INT, DOUBLE or STRING (owned) */
} term;

struct weir_pred {
    term *t;
    int n;
};

void weir_pred_destroy(weir_pred *p)
{
    if (!p)
        return;
    for (int i = 0; i < p->n; i++)
        if (p->t[i].lit.type == WEIR_VALUE_STRING)
            free((char *)p->t[i].lit.u.s.ptr);
    free(p->t);
    free(p);
}

static int is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static size_t skip(const char *s, size_t n, size_t i)
{
    while (i < n && is_space(s[i]))
        i++;
    return i;
}

/* Does the word w (lower case) start at s[i], followed by a space or the end? */
static int word_at(const char *s, size_t n, size_t i, const char *w)
{
    size_t k = strlen(w);
    if (n - i < k)
        return 0;
    for (size_t j = 0; j < k; j++)
        if (tolower((unsigned char)s[i + j]) != w[j])
            return 0;
    return i + k == n || is_space(s[i + k]);
}

/* Parses a predicate from s[0..n). With allow_as, a word "as" after a literal ends it and
 * *end is where "as" starts; otherwise the predicate runs to n. */
static weir_err pred_parse(const char *s, size_t n, weir_fields *f, int allow_as, size_t *end,
                           weir_pred **out, char *errstr, size_t errstr_size)
{
    char ex[96], ex2[96];
    if (n > WEIR_PRED_MAX_TEXT) {
        weir__errf(errstr, errstr_size, "predicate %s: longer than %d bytes", excerpt(s, n, ex),
                   WEIR_PRED_MAX_TEXT);
        return WEIR_ERR_INVALID_ARG;
    }
    weir_pred *p = calloc(1, sizeof *p);
    if (!p)
        return WEIR_ERR_NOMEM;
    int cap = 0;
    weir__scratch sc = {0};
    weir_err rc = WEIR_ERR_INVALID_ARG;
    size_t i = skip(s, n, 0);
    const char *why = NULL;
    size_t at = 0;
    for (;;) {
        /* FIELD */
        size_t f0 = i;
        while (i < n && !is_space(s[i]) && !strchr("=!<>\"", s[i]))
            i++;
        if (i == f0) {
            why = "expected a field name";
            at = i;
            goto bad;
        }
        size_t f1 = i;
        i = skip(s, n, i);
        /* OP */
        int op;
        if (i + 1 < n && s[i] == '!' && s[i + 1] == '=')
            op = OP_NE, i += 2;
        else if (i + 1 < n && s[i] == '<' && s[i + 1] == '=')
            op = OP_LE, i += 2;
        else if (i + 1 < n && s[i] == '>' && s[i + 1] == '=')
            op = OP_GE, i += 2;
        else if (i < n && s[i] == '=' && !(i + 1 < n && s[i + 1] == '='))
            op = OP_EQ, i += 1;
        else if (i < n && s[i] == '<')
            op = OP_LT, i += 1;
        else if (i < n && s[i] == '>')
            op = OP_GT, i += 1;
        else {
            why = "expected an operator (= != < <= > >=) after the field";
            at = i;
            goto bad;
        }
        i = skip(s, n, i);
        /* LITERAL */
        weir_value lit;
        if (i >= n) {
            why = "missing literal after the operator";
            at = i;
            goto bad;
        }
        if (s[i] == '"') {
            char esc = 0;
            const char *q = scan_string(s + i + 1, s + n, s, &esc);
            if (!q || (q < s + n && !is_space(*q))) {
                why = q ? "a string literal must be followed by a space or the end"
                        : "unterminated or invalid string literal";
                at = i;
                goto bad;
            }
            weir_slice body = {s + i + 1, (size_t)(q - 1 - (s + i + 1))};
            if (esc && weir__unescape(&sc, body.ptr, body.len, &body) != 0) {
                why = "a string literal spells a lone surrogate or U+0000";
                at = i;
                goto bad;
            }
            lit.type = WEIR_VALUE_STRING;
            lit.u.s = body;
            i = (size_t)(q - s);
        } else {
            size_t w0 = i;
            while (i < n && !is_space(s[i]))
                i++;
            const char *q = (s[w0] == '-' || is_digit(s[w0])) ? scan_number(s + w0, s + i) : NULL;
            if (q == s + i) {
                weir_value_from_number(s + w0, i - w0, &lit);
                if (lit.type == WEIR_VALUE_OTHER) {
                    why = "a number literal beyond the double range";
                    at = w0;
                    goto bad;
                }
            } else {
                lit.type = WEIR_VALUE_STRING;
                lit.u.s = (weir_slice){s + w0, i - w0};
            }
        }
        if (p->n == WEIR_PRED_MAX_TERMS) {
            why = "too many comparisons (at most 256)";
            at = f0;
            goto bad;
        }
        if (p->n == cap) {
            cap = cap ? 2 * cap : 4;
            term *t = realloc(p->t, (size_t)cap * sizeof *t);
            if (!t) {
                rc = WEIR_ERR_NOMEM;
                goto fail;
            }
            p->t = t;
        }
        char *fname = strndup(s + f0, f1 - f0);
        if (!fname) {
            rc = WEIR_ERR_NOMEM;
            goto fail;
        }
        char inner[256];
        int idx = weir_fields_add(f, fname, inner, sizeof inner);
        free(fname);
        if (idx == -2) {
            rc = WEIR_ERR_NOMEM;
            goto fail;
        }
        if (idx < 0) {
            weir__errf(errstr, errstr_size, "predicate %s: %s", excerpt(s, n, ex), inner);
            goto fail;
        }
        if (lit.type == WEIR_VALUE_STRING) {
            char *copy = malloc(lit.u.s.len + 1);
            if (!copy) {
                rc = WEIR_ERR_NOMEM;
                goto fail;
            }
            memcpy(copy, lit.u.s.ptr, lit.u.s.len);
            copy[lit.u.s.len] = '\0';
            lit.u.s.ptr = copy;
        }
        p->t[p->n++] = (term){idx, op, lit};
        i = skip(s, n, i);
        if (i == n) {
            if (end)
                *end = n;
            break;
        }
        if (word_at(s, n, i, "and")) {
            i = skip(s, n, i + 3);
            continue;
        }
        if (allow_as && word_at(s, n, i, "as")) {
            *end = i;
            break;
        }
        why = allow_as ? "expected \"and\", \"as\" or the end after a comparison"
                       : "expected \"and\" or the end after a comparison";
        at = i;
        goto bad;
    }
    weir__scratch_free(&sc);
    *out = p;
    return WEIR_OK;
bad:
    weir__errf(errstr, errstr_size, "predicate %s: %s at %s (%s)", excerpt(s, n, ex), why,
               at < n ? excerpt(s + at, n - at, ex2) : "the end", PRED_FORM);
fail:
    weir__scratch_free(&sc);
    weir_pred_destroy(p);
    return rc;
}

weir_err weir_pred_parse(const char *text, weir_fields *fields, weir_pred **out, char *errstr,
                         size_t errstr_size)
{
    return pred_parse(text, strlen(text), fields, 0, NULL, out, errstr, errstr_size);
}

/* The sign of i - d, exactly (d is never NaN: JSON has none). */
static int cmp_int_double(int64_t i, double d)
{
    if (d >= 9223372036854775808.0)
        return -1;
    if (d < -9223372036854775808.0)
        return 1;
    int64_t t = (int64_t)d; /* toward zero, exact in this range */
    if (i != t)
        return i < t ? -1 : 1;
    double frac = d - (double)t;
    return frac > 0 ? -1 : frac < 0 ? 1 : 0;
}

static int holds(int op, int c)
{
    switch (op) {
    case OP_EQ: return c == 0;
    case OP_NE: return c != 0;
    case OP_LT: return c < 0;
    case OP_LE: return c <= 0;
    case OP_GT: return c > 0;
    default: return c >= 0;
    }
}

int weir_pred_eval(const weir_pred *p, const weir_value *values)
{
    for (int k = 0; k < p->n; k++) {
        const term *t = &p->t[k];
        const weir_value *v = &values[t->field];
        int c;
        if (t->lit.type == WEIR_VALUE_STRING) {
            if (v->type != WEIR_VALUE_STRING)
                return 0;
            size_t a = v->u.s.len, b = t->lit.u.s.len;
            int m = memcmp(v->u.s.ptr, t->lit.u.s.ptr, a < b ? a : b);
            c = m ? m : (a > b) - (a < b);
        } else if (v->type == WEIR_VALUE_INT) {
            c = t->lit.type == WEIR_VALUE_INT ? (v->u.i > t->lit.u.i) - (v->u.i < t->lit.u.i)
                                              : cmp_int_double(v->u.i, t->lit.u.d);
        } else if (v->type == WEIR_VALUE_DOUBLE) {
            c = t->lit.type == WEIR_VALUE_INT ? -cmp_int_double(t->lit.u.i, v->u.d)
                                              : (v->u.d > t->lit.u.d) - (v->u.d < t->lit.u.d);
        } else {
            return 0;
        }
        if (!holds(t->op, c))
            return 0;
    }
    return 1;
}

int weir_pred_where(const void *ctx, const weir_row *r)
{
    return weir_pred_eval(ctx, r->values);
}

/* Aggregate specs. */

struct weir_aggs {
    weir_fields *fields;
    int hll_precision;
    weir_gagg_def defs[WEIR_AGGS_MAX];
    size_t n;
};

weir_aggs *weir_aggs_new(weir_fields *fields, int hll_precision)
{
    weir_aggs *a = calloc(1, sizeof *a);
    if (a) {
        a->fields = fields;
        a->hll_precision = hll_precision;
    }
    return a;
}

void weir_aggs_destroy(weir_aggs *a)
{
    if (!a)
        return;
    for (size_t i = 0; i < a->n; i++) {
        free((char *)a->defs[i].name);
        weir_pred_destroy((weir_pred *)a->defs[i].where_ctx);
    }
    free(a);
}

const weir_gagg_def *weir_aggs_defs(const weir_aggs *a, size_t *n)
{
    *n = a->n;
    return a->defs;
}

static const char *const FUNCS[] = {
    "count", "sum", "min", "max", "avg", "count_distinct", "approx_count_distinct"};

static int is_ident(const char *s, size_t n)
{
    if (!n || !(isalpha((unsigned char)s[0]) || s[0] == '_'))
        return 0;
    for (size_t i = 1; i < n; i++)
        if (!(isalnum((unsigned char)s[i]) || s[i] == '_'))
            return 0;
    return 1;
}

weir_err weir_aggs_add(weir_aggs *a, const char *spec, char *errstr, size_t errstr_size)
{
    char ex[96], ex2[96];
    size_t n = strlen(spec);
    if (a->n == WEIR_AGGS_MAX) {
        weir__errf(errstr, errstr_size, "aggregate %s: too many aggregates (at most %d)",
                   excerpt(spec, n, ex), WEIR_AGGS_MAX);
        return WEIR_ERR_INVALID_ARG;
    }
    const char *why = NULL;
    size_t at = 0;
    weir_pred *pred = NULL;
    char *name = NULL, *field = NULL;
    weir_err rc = WEIR_ERR_INVALID_ARG;
    size_t i = skip(spec, n, 0);
    size_t fn0 = i;
    while (i < n && (isalnum((unsigned char)spec[i]) || spec[i] == '_'))
        i++;
    size_t fn1 = i;
    const weir_gagg_ops *ops = NULL;
    for (size_t k = 0; k < sizeof FUNCS / sizeof FUNCS[0]; k++)
        if (strlen(FUNCS[k]) == fn1 - fn0 && !memcmp(FUNCS[k], spec + fn0, fn1 - fn0))
            ops = weir_gagg_builtin(FUNCS[k]);
    if (!ops) {
        why = fn1 == fn0 ? "expected a function name" : "unknown function";
        at = fn0;
        goto bad;
    }
    i = skip(spec, n, i);
    if (i >= n || spec[i] != '(') {
        why = "expected \"(\" after the function";
        at = i;
        goto bad;
    }
    size_t a0 = skip(spec, n, i + 1), a1 = a0;
    while (a1 < n && spec[a1] != ')')
        a1++;
    if (a1 >= n) {
        why = "missing \")\"";
        at = i;
        goto bad;
    }
    i = a1 + 1;
    while (a1 > a0 && is_space(spec[a1 - 1]))
        a1--;
    int is_count = fn1 - fn0 == 5 && !memcmp(spec + fn0, "count", 5);
    int fidx = -1;
    if (a1 > a0) {
        if (!(field = strndup(spec + a0, a1 - a0)))
            return WEIR_ERR_NOMEM;
        char inner[256];
        fidx = weir_fields_add(a->fields, field, inner, sizeof inner);
        if (fidx == -2) {
            rc = WEIR_ERR_NOMEM;
            goto fail;
        }
        if (fidx < 0) {
            weir__errf(errstr, errstr_size, "aggregate %s: %s (%s)", excerpt(spec, n, ex), inner,
                       AGG_FORM);
            goto fail;
        }
    } else if (!is_count) {
        why = "this function needs a field";
        at = a0;
        goto bad;
    }
    i = skip(spec, n, i);
    if (word_at(spec, n, i, "where")) {
        size_t pend;
        i = skip(spec, n, i + 5);
        char inner[512];
        rc = pred_parse(spec + i, n - i, a->fields, 1, &pend, &pred, inner, sizeof inner);
        if (rc != WEIR_OK) {
            if (rc == WEIR_ERR_INVALID_ARG)
                weir__errf(errstr, errstr_size, "aggregate %s: %s", excerpt(spec, n, ex), inner);
            goto fail;
        }
        rc = WEIR_ERR_INVALID_ARG;
        i += pend;
    }
    if (word_at(spec, n, i, "as")) {
        size_t n0 = skip(spec, n, i + 2), n1 = n0;
        while (n1 < n && !is_space(spec[n1]))
            n1++;
        if (!is_ident(spec + n0, n1 - n0)) {
            why = "expected a name of letters, digits and _ after \"as\"";
            at = n0;
            goto bad;
        }
        if (!(name = strndup(spec + n0, n1 - n0))) {
            rc = WEIR_ERR_NOMEM;
            goto fail;
        }
        i = skip(spec, n, n1);
    }
    if (i != n) {
        why = "unexpected text";
        at = i;
        goto bad;
    }
    if (!name) {
        size_t fl = field ? strlen(field) : 0;
        if (!(name = malloc(fn1 - fn0 + 1 + fl + 1))) {
            rc = WEIR_ERR_NOMEM;
            goto fail;
        }
        memcpy(name, spec + fn0, fn1 - fn0);
        if (field) {
            name[fn1 - fn0] = '_';
            for (size_t k = 0; k < fl; k++)
                name[fn1 - fn0 + 1 + k] = field[k] == '.' ? '_' : field[k];
            name[fn1 - fn0 + 1 + fl] = '\0';
        } else {
            name[fn1 - fn0] = '\0';
        }
    }
    if (!strcmp(name, "window_start") || !strcmp(name, "window_end") || !strcmp(name, "late")) {
        weir__errf(errstr, errstr_size,
                   "aggregate %s: the name \"%s\" is taken by the output's own field (%s)",
                   excerpt(spec, n, ex), name, "name it with as NAME");
        goto fail;
    }
    for (size_t k = 0; k < a->n; k++)
        if (!strcmp(a->defs[k].name, name)) {
            weir__errf(errstr, errstr_size,
                       "aggregate %s: the name \"%s\" is already used by aggregate %zu (name it "
                       "with as NAME)",
                       excerpt(spec, n, ex), name, k + 1);
            goto fail;
        }
    a->defs[a->n++] = (weir_gagg_def){
        .ops = ops,
        .params = ops == &weir_gagg_approx_count_distinct ? &a->hll_precision : NULL,
        .field = fidx,
        .where = pred ? weir_pred_where : NULL,
        .where_ctx = pred,
        .name = name,
    };
    free(field);
    return WEIR_OK;
bad:
    weir__errf(errstr, errstr_size, "aggregate %s: %s at %s (%s)", excerpt(spec, n, ex), why,
               at < n ? excerpt(spec + at, n - at, ex2) : "the end", AGG_FORM);
fail:
    free(field);
    free(name);
    weir_pred_destroy(pred);
    return rc;
}

/* Composite keys. */

struct weir_key {
    size_t n;
    char *paths[WEIR_KEY_MAX_FIELDS];
    int idx[WEIR_KEY_MAX_FIELDS];
};

void weir_key_destroy(weir_key *k)
{
    if (!k)
        return;
    for (size_t i = 0; i < k->n; i++)
        free(k->paths[i]);
    free(k);
}

weir_err weir_key_parse(const char *text, weir_fields *fields, weir_key **out, char *errstr,
                        size_t errstr_size)
{
    char ex[96];
    size_t n = strlen(text);
    weir_key *k = calloc(1, sizeof *k);
    if (!k)
        return WEIR_ERR_NOMEM;
    const char *p = text;
    for (;;) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        const char *why = NULL;
        if (len == 0)
            why = "an empty field name";
        else if (k->n == WEIR_KEY_MAX_FIELDS)
            why = "more than 16 fields";
        if (why) {
            weir__errf(errstr, errstr_size,
                       "key %s: %s (accepted: FIELD[,FIELD...], dotted paths allowed)",
                       excerpt(text, n, ex), why);
            weir_key_destroy(k);
            return WEIR_ERR_INVALID_ARG;
        }
        char *path = strndup(p, len);
        if (!path) {
            weir_key_destroy(k);
            return WEIR_ERR_NOMEM;
        }
        for (size_t i = 0; i < k->n; i++)
            if (!strcmp(k->paths[i], path)) {
                weir__errf(errstr, errstr_size, "key %s: the field \"%s\" is named twice",
                           excerpt(text, n, ex), path);
                free(path);
                weir_key_destroy(k);
                return WEIR_ERR_INVALID_ARG;
            }
        char inner[256];
        int idx = weir_fields_add(fields, path, inner, sizeof inner);
        k->paths[k->n] = path;
        k->idx[k->n++] = idx;
        if (idx < 0) {
            if (idx == -1)
                weir__errf(errstr, errstr_size, "key %s: %s", excerpt(text, n, ex), inner);
            weir_key_destroy(k);
            return idx == -1 ? WEIR_ERR_INVALID_ARG : WEIR_ERR_NOMEM;
        }
        if (!comma)
            break;
        p = comma + 1;
    }
    *out = k;
    return WEIR_OK;
}

size_t weir_key_count(const weir_key *k)
{
    return k->n;
}

const char *weir_key_path(const weir_key *k, size_t i)
{
    return i < k->n ? k->paths[i] : NULL;
}

/* The decimal text of v at o (room for 20 bytes); returns its length. */
static size_t i64_text(int64_t v, char *o)
{
    char t[20];
    int n = 0;
    uint64_t u = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
    do {
        t[n++] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    size_t len = 0;
    if (v < 0)
        o[len++] = '-';
    while (n)
        o[len++] = t[--n];
    return len;
}

size_t weir_key_encode(const weir_key *k, const weir_value *values, char *buf, size_t cap)
{
    size_t len = 0;
    for (size_t i = 0; i < k->n; i++) {
        const weir_value *v = &values[k->idx[i]];
        char num[20];
        const char *bytes;
        size_t n;
        if (v->type == WEIR_VALUE_STRING) {
            bytes = v->u.s.ptr;
            n = v->u.s.len;
        } else if (v->type == WEIR_VALUE_INT) {
            n = i64_text(v->u.i, num);
            bytes = num;
        } else {
            return (size_t)-1;
        }
        if (k->n > 1) {
            if (len + 4 <= cap) {
                uint32_t l = (uint32_t)n;
                unsigned char b[4] = {(unsigned char)l, (unsigned char)(l >> 8),
                                      (unsigned char)(l >> 16), (unsigned char)(l >> 24)};
                memcpy(buf + len, b, 4);
            }
            len += 4;
        }
        if (len + n <= cap)
            memcpy(buf + len, bytes, n);
        len += n;
    }
    return len;
}

int weir_key_parts(const weir_key *k, weir_slice key, weir_slice *parts)
{
    if (k->n == 1) {
        parts[0] = key;
        return 0;
    }
    size_t pos = 0;
    for (size_t i = 0; i < k->n; i++) {
        if (key.len - pos < 4)
            return -1;
        const unsigned char *b = (const unsigned char *)key.ptr + pos;
        size_t l = (size_t)b[0] | (size_t)b[1] << 8 | (size_t)b[2] << 16 | (size_t)b[3] << 24;
        pos += 4;
        if (key.len - pos < l)
            return -1;
        parts[i] = (weir_slice){key.ptr + pos, l};
        pos += l;
    }
    return pos == key.len ? 0 : -1;
}
