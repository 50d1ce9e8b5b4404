/* Typed field extraction from JSON records in one pass (weir/fields.h). */
#include "weir/fields.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "connectors/json_scan.h"
#include "runtime/errbuf.h"

/*
 * The wanted paths form a tree of member names: the record's top level is the root node, a
 * member with wanted paths below it has a child node. The scan walks the record once; when
 * it meets a wanted member whose value is an object and that has a child node, it walks that
 * object with the child node instead of skipping it. Each wanted path ends at a member that
 * has a slot: its value, as scanned (jv), lands in found[slot], and is typed afterwards only
 * for the slots the job reads. A member met again (a duplicate name) first clears the slots
 * below it, so that the last occurrence wins for nested paths as for top-level ones.
 */

typedef struct node node;

typedef struct member {
    char *name;
    size_t len;
    int slot;    /* where its value goes (a field), -1 when only paths below it are wanted */
    int ts;      /* it is the timestamp (slot 0), perhaps a field as well */
    node *child; /* wanted members of its value when that is an object, or NULL */
} member;

struct node {
    member *m;
    int n, cap;
    uint64_t lens; /* bit min(length, 63) of each member name */
    int direct;    /* no two names share a length, each shorter than 63: by_len applies */
    uint8_t by_len[63];
    int *below; /* slots of every path through this node, cleared when its member recurs */
    int n_below, cap_below;
};

struct weir_fields {
    char **paths;
    size_t n, cap;
    weir_ts_unit unit;
    size_t max_record;
    node root;
    jv *found; /* slot 0: the timestamp; slot i + 1: field i */
    weir__ts_cache ts_cache;
    weir__scratch scratch;
};

static inline uint64_t len_bit(size_t n)
{
    return 1ull << (n < 63 ? n : 63);
}

static void node_free(node *nd)
{
    for (int i = 0; i < nd->n; i++) {
        free(nd->m[i].name);
        if (nd->m[i].child) {
            node_free(nd->m[i].child);
            free(nd->m[i].child);
        }
    }
    free(nd->m);
    free(nd->below);
    memset(nd, 0, sizeof *nd);
}

static int push_below(node *nd, int slot)
{
    if (nd->n_below == nd->cap_below) {
        int cap = nd->cap_below ? 2 * nd->cap_below : 4;
        int *b = realloc(nd->below, (size_t)cap * sizeof *b);
        if (!b)
            return -1;
        nd->below = b;
        nd->cap_below = cap;
    }
    nd->below[nd->n_below++] = slot;
    return 0;
}

/* The member `name` of nd, created when absent; NULL when out of memory. */
static member *node_member(node *nd, const char *name, size_t len)
{
    for (int i = 0; i < nd->n; i++)
        if (nd->m[i].len == len && !memcmp(nd->m[i].name, name, len))
            return &nd->m[i];
    if (nd->n == nd->cap) {
        int cap = nd->cap ? 2 * nd->cap : 4;
        member *m = realloc(nd->m, (size_t)cap * sizeof *m);
        if (!m)
            return NULL;
        nd->m = m;
        nd->cap = cap;
    }
    member *m = &nd->m[nd->n];
    if (!(m->name = strndup(name, len)))
        return NULL;
    m->len = len;
    m->slot = -1;
    m->ts = 0;
    m->child = NULL;
    nd->n++;
    return m;
}

static void node_index(node *nd)
{
    nd->lens = 0;
    nd->direct = 1;
    for (int i = 0; i < nd->n; i++) {
        nd->lens |= len_bit(nd->m[i].len);
        for (int k = 0; k < i; k++)
            if (nd->m[k].len == nd->m[i].len)
                nd->direct = 0;
        if (nd->m[i].len >= 63)
            nd->direct = 0;
        else
            nd->by_len[nd->m[i].len] = (uint8_t)i;
        if (nd->m[i].child)
            node_index(nd->m[i].child);
    }
}

/* Checks a path: non-empty parts, at most WEIR_FIELDS_MAX_DEPTH of them. */
static int path_ok(const char *path)
{
    if (!path || !*path)
        return 0;
    int parts = 1;
    for (const char *p = path; *p; p++)
        if (*p == '.') {
            if (p == path || p[1] == '.' || p[1] == '\0')
                return 0;
            parts++;
        }
    return parts <= WEIR_FIELDS_MAX_DEPTH;
}

/* Adds `path` to the tree with its slot. */
static int tree_add(node *root, const char *path, int slot)
{
    node *nd = root;
    const char *p = path;
    for (;;) {
        const char *dot = strchr(p, '.');
        size_t len = dot ? (size_t)(dot - p) : strlen(p);
        member *m = node_member(nd, p, len);
        if (!m)
            return -1;
        if (!dot) {
            if (slot == 0)
                m->ts = 1;
            else
                m->slot = slot;
            return 0;
        }
        if (!m->child && !(m->child = calloc(1, sizeof(node))))
            return -1;
        nd = m->child;
        if (push_below(nd, slot) != 0)
            return -1;
        p = dot + 1;
    }
}

weir_err weir_fields_new(const char *ts_field, weir_ts_unit unit, size_t max_record,
                         weir_fields **out, char *errstr, size_t errstr_size)
{
    *out = NULL;
    if (!path_ok(ts_field)) {
        weir__errf(errstr, errstr_size,
                   "timestamp.field: invalid value \"%s\": accepted values are field names or "
                   "dotted paths of at most %d non-empty parts",
                   ts_field ? ts_field : "", WEIR_FIELDS_MAX_DEPTH);
        return WEIR_ERR_INVALID_ARG;
    }
    weir_fields *f = calloc(1, sizeof *f);
    if (!f)
        return WEIR_ERR_NOMEM;
    if (!(f->found = calloc(1, sizeof(jv))) || tree_add(&f->root, ts_field, 0) != 0) {
        weir_fields_destroy(f);
        return WEIR_ERR_NOMEM;
    }
    node_index(&f->root);
    f->unit = unit;
    f->max_record = max_record;
    *out = f;
    return WEIR_OK;
}

void weir_fields_destroy(weir_fields *f)
{
    if (!f)
        return;
    for (size_t i = 0; i < f->n; i++)
        free(f->paths[i]);
    free(f->paths);
    node_free(&f->root);
    free(f->found);
    weir__scratch_free(&f->scratch);
    free(f);
}

int weir_fields_add(weir_fields *f, const char *path, char *errstr, size_t errstr_size)
{
    if (!path_ok(path)) {
        weir__errf(errstr, errstr_size,
                   "field \"%s\": accepted are field names or dotted paths of at most %d "
                   "non-empty parts",
                   path ? path : "", WEIR_FIELDS_MAX_DEPTH);
        return -1;
    }
    for (size_t i = 0; i < f->n; i++)
        if (!strcmp(f->paths[i], path))
            return (int)i;
    if (f->n >= WEIR_FIELDS_MAX) {
        weir__errf(errstr, errstr_size, "field \"%s\": too many fields (at most %d)", path,
                   WEIR_FIELDS_MAX);
        return -1;
    }
    if (f->n == f->cap) {
        size_t cap = f->cap ? 2 * f->cap : 8;
        char **p = realloc(f->paths, cap * sizeof *p);
        if (!p)
            return -2;
        f->paths = p;
        f->cap = cap;
    }
    jv *found = realloc(f->found, (f->n + 2) * sizeof *found);
    if (!found)
        return -2;
    f->found = found;
    /* A path that fails half-way leaves members without a slot: harmless, they are skipped. */
    if (!(f->paths[f->n] = strdup(path)) || tree_add(&f->root, path, (int)f->n + 1) != 0) {
        free(f->paths[f->n]);
        node_index(&f->root);
        return -2;
    }
    node_index(&f->root);
    return (int)f->n++;
}

size_t weir_fields_count(const weir_fields *f)
{
    return f->n;
}

const char *weir_fields_path(const weir_fields *f, size_t i)
{
    return i < f->n ? f->paths[i] : NULL;
}

void weir_fields_reset(weir_fields *f)
{
    weir__scratch_reset(&f->scratch);
}

typedef struct walk {
    const node *nd;
    jv *found;
} walk;

static const char *scan_object_fields(const char *p, const char *e, const char *lo, int depth,
                                      const node *nd, jv *found);

static ALWAYS_INLINE const char *field_member(void *ctx, const char *k, size_t klen, const char *p,
                                              const char *e, const char *lo, int depth)
{
    const walk *w = ctx;
    const node *nd = w->nd;
    jv v;
    const member *m = NULL;
    if (nd->lens & len_bit(klen)) {
        if (nd->direct) {
            const member *c = &nd->m[nd->by_len[klen]];
            if (same_bytes(k, c->name, klen))
                m = c;
        } else {
            for (int i = 0; i < nd->n; i++)
                if (klen == nd->m[i].len && same_bytes(k, nd->m[i].name, klen)) {
                    m = &nd->m[i];
                    break;
                }
        }
    }
    if (!m)
        return scan_value(p, e, lo, depth, &v);
    if (m->child) {
        const node *c = m->child;
        for (int i = 0; i < c->n_below; i++)
            w->found[c->below[i]].type = 0;
        if (*p == '{') {
            const char *q = scan_object_fields(p, e, lo, depth + 1, c, w->found);
            if (!q)
                return NULL;
            v = (jv){p, (size_t)(q - p), 'o', 0};
            p = q;
        } else if (!(p = scan_value(p, e, lo, depth, &v))) {
            return NULL;
        }
    } else if (!(p = scan_value(p, e, lo, depth, &v))) {
        return NULL;
    }
    if (m->slot >= 0)
        w->found[m->slot] = v;
    if (m->ts)
        w->found[0] = v;
    return p;
}

static const char *scan_object_fields(const char *p, const char *e, const char *lo, int depth,
                                      const node *nd, jv *found)
{
    walk w = {nd, found};
    return object_members(p, e, lo, depth, field_member, &w);
}

/* 10^0 .. 10^22: exactly representable doubles. */
static const double POW10[23] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                 1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

void weir_value_from_number(const char *s, size_t n, weir_value *out)
{
    /* Clinger's fast path: a mantissa of at most 2^53 scaled by at most 10^22 is one exactly
     * rounded operation on exact doubles. Everything else goes to strtod. */
    size_t i = 0;
    int neg = 0, is_int = 1, big = 0;
    uint64_t mant = 0;
    int exp10 = 0;
    if (i < n && s[i] == '-') {
        neg = 1;
        i++;
    }
    for (; i < n && is_digit(s[i]); i++) {
        if (mant > (UINT64_MAX - 9) / 10)
            big = 1;
        else
            mant = mant * 10 + (uint64_t)(s[i] - '0');
    }
    if (i < n && s[i] == '.') {
        is_int = 0;
        for (i++; i < n && is_digit(s[i]); i++) {
            if (mant > (UINT64_MAX - 9) / 10) {
                big = 1;
            } else {
                mant = mant * 10 + (uint64_t)(s[i] - '0');
                exp10--;
            }
        }
    }
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        is_int = 0;
        i++;
        int eneg = 0, ev = 0;
        if (i < n && (s[i] == '+' || s[i] == '-'))
            eneg = s[i++] == '-';
        for (; i < n && is_digit(s[i]); i++)
            if (ev < 100000)
                ev = ev * 10 + (s[i] - '0');
        exp10 += eneg ? -ev : ev;
    }
    if (is_int && !big) {
        if (!neg && mant <= (uint64_t)INT64_MAX) {
            out->type = WEIR_VALUE_INT;
            out->u.i = (int64_t)mant;
            return;
        }
        if (neg && mant <= (uint64_t)INT64_MAX + 1) {
            out->type = WEIR_VALUE_INT;
            out->u.i = mant == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)mant;
            return;
        }
    }
    if (!big && mant <= (1ull << 53) && exp10 >= -22 && exp10 <= 22) {
        double d = (double)mant;
        d = exp10 < 0 ? d / POW10[-exp10] : d * POW10[exp10];
        out->type = WEIR_VALUE_DOUBLE;
        out->u.d = neg ? -d : d;
        return;
    }
    char small[64];
    char *buf = n < sizeof small ? small : malloc(n + 1);
    if (!buf) {
        out->type = WEIR_VALUE_OTHER;
        return;
    }
    memcpy(buf, s, n);
    buf[n] = '\0';
    double d = strtod(buf, NULL);
    if (buf != small)
        free(buf);
    if (isinf(d)) {
        out->type = WEIR_VALUE_OTHER;
        return;
    }
    out->type = WEIR_VALUE_DOUBLE;
    out->u.d = d;
}

/* The typed value of a scanned one; -1 when a string's escapes cannot be unescaped. */
static ALWAYS_INLINE int typed(weir_fields *f, const jv *v, weir_value *out)
{
    switch (v->type) {
    case 0: out->type = WEIR_VALUE_MISSING; return 0;
    case 's':
        out->type = WEIR_VALUE_STRING;
        if (v->esc)
            return weir__unescape(&f->scratch, v->p, v->n, &out->u.s);
        out->u.s.ptr = v->p;
        out->u.s.len = v->n;
        return 0;
    case 'n': weir_value_from_number(v->p, v->n, out); return 0;
    case 'z': out->type = WEIR_VALUE_NULL; return 0;
    default: out->type = WEIR_VALUE_OTHER; return 0;
    }
}

weir_rec_status weir_fields_decode(weir_fields *f, const char *rec, size_t len, int64_t *ts,
                                   weir_value *values)
{
    if (len > f->max_record)
        return WEIR_REC_TOO_LARGE;
    const char *e = rec + len;
    const char *p = skip_ws(rec, e);
    if (p == e)
        return weir__refused(rec, len);
    jv *found = f->found;
    for (size_t i = 0; i <= f->n; i++)
        found[i].type = 0;
    if (*p == '{') {
        const char *end = scan_object_fields(p, e, rec, 1, &f->root, found);
        if (!end || skip_ws(end, e) != e)
            return weir__refused(rec, len);
    } else {
        jv root;
        const char *end = scan_value(p, e, rec, 1, &root);
        if (end && skip_ws(end, e) == e)
            return WEIR_REC_NOT_OBJECT;
        return weir__refused(rec, len);
    }
    const jv *t = &found[0];
    if (!t->type || parse_ts(&f->ts_cache, &f->scratch, f->unit, t, ts) != 0)
        return WEIR_REC_BAD_TIMESTAMP;
    for (size_t i = 0; i < f->n; i++)
        if (typed(f, &found[i + 1], &values[i]) != 0)
            return WEIR_REC_BAD_ENCODING;
    return WEIR_REC_OK;
}
