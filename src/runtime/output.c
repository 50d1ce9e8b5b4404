/* JSON encoding of firings (docs/SEMANTICS.md, "What a firing emits"). */
#include "weir/output.h"

#include "runtime/output_buf.h"
#include "runtime/sink_int.h"
#include "util/buf.h"
#include "util/hex.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The escape of a character JSON strings cannot hold as is, at esc; returns its length. */
static size_t escape(unsigned char c, char esc[6])
{
    esc[0] = '\\';
    switch (c) {
    case '"': esc[1] = '"'; return 2;
    case '\\': esc[1] = '\\'; return 2;
    case '\n': esc[1] = 'n'; return 2;
    case '\r': esc[1] = 'r'; return 2;
    case '\t': esc[1] = 't'; return 2;
    case '\b': esc[1] = 'b'; return 2;
    case '\f': esc[1] = 'f'; return 2;
    default:
        esc[1] = 'u';
        esc[2] = '0';
        esc[3] = '0';
        esc[4] = weir__hexdigit(c >> 4);
        esc[5] = weir__hexdigit(c);
        return 6;
    }
}

static void put_quoted(weir__bounded *o, weir_slice s)
{
    weir__bounded_put(o, "\"", 1);
    size_t run = 0;
    for (size_t i = 0; i < s.len; i++) {
        unsigned char c = (unsigned char)s.ptr[i];
        if (c >= 0x20 && c != '"' && c != '\\')
            continue;
        weir__bounded_put(o, s.ptr + run, i - run);
        run = i + 1;
        char esc[6];
        weir__bounded_put(o, esc, escape(c, esc));
    }
    weir__bounded_put(o, s.ptr + run, s.len - run);
    weir__bounded_put(o, "\"", 1);
}

/* A key member and its comma: "field":"value", */
static void put_key(weir__bounded *o, const char *field, weir_slice value)
{
    put_quoted(o, (weir_slice){field, strlen(field)});
    weir__bounded_put(o, ":", 1);
    put_quoted(o, value);
    weir__bounded_put(o, ",", 1);
}

/* The window members: "window_start":"...","window_end":"..." (ISO 8601, UTC). */
static void put_window(weir__bounded *o, int64_t start, int64_t end)
{
    char tmp[32];
    weir__bounded_put(o, "\"window_start\":\"", 16);
    weir__bounded_put(o, tmp, weir_format_iso8601(start, tmp));
    weir__bounded_put(o, "\",\"window_end\":\"", 16);
    weir__bounded_put(o, tmp, weir_format_iso8601(end, tmp));
    weir__bounded_put(o, "\"", 1);
}

size_t weir_json_quote(weir_slice s, char *buf, size_t cap)
{
    weir__bounded o = {buf, cap, 0};
    put_quoted(&o, s);
    weir__bounded_finish(&o);
    return o.len;
}

/* Writes s quoted at o, which has room for 2 + 6 * s.len bytes; returns the end. */
static char *quote_to(char *o, const char *s, size_t n)
{
    *o++ = '"';
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c != '"' && c != '\\') {
            *o++ = (char)c;
            continue;
        }
        o += escape(c, o);
    }
    *o++ = '"';
    return o;
}

/* Writes the decimal of v at o (room for 20 bytes); returns the end. */
static char *u64_to(char *o, uint64_t v)
{
    char t[20];
    int n = 0;
    do {
        t[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (n)
        *o++ = t[--n];
    return o;
}

/* The firing when `cap` surely holds it: written straight, without counting. Firings are
 * formatted once per (key, window), so this is the file job's second largest cost after
 * decoding when it goes through snprintf and the bounded writer. */
static size_t firing_fast(const weir_firing *f, const char *key_field, const weir_agg_spec *aggs,
                          char *buf)
{
    char *o = buf;
    *o++ = '{';
    if (key_field) {
        o = quote_to(o, key_field, strlen(key_field));
        *o++ = ':';
        o = quote_to(o, f->key.ptr, f->key.len);
        *o++ = ',';
    }
    memcpy(o, "\"window_start\":\"", 16);
    o += 16;
    o += weir_format_iso8601(f->window_start, o);
    memcpy(o, "\",\"window_end\":\"", 16);
    o += 16;
    o += weir_format_iso8601(f->window_end, o);
    *o++ = '"';
    for (size_t i = 0; i < f->n_values; i++) {
        *o++ = ',';
        o = quote_to(o, aggs[i].field, strlen(aggs[i].field));
        *o++ = ':';
        o = u64_to(o, f->values[i]);
    }
    if (f->late) {
        memcpy(o, ",\"late\":true", 12);
        o += 12;
    }
    *o++ = '}';
    *o = '\0';
    return (size_t)(o - buf);
}

size_t weir_firing_to_json(const weir_firing *f, const char *key_field, const weir_agg_spec *aggs,
                           char *buf, size_t cap)
{
    /* At most: braces and NUL, the key member, both window members (with up to 32 bytes
     * for each time, as weir_format_iso8601 promises), the values, the late flag. */
    size_t bound = 3 + 2 * (16 + 32) + 1 + 12;
    if (key_field)
        bound += 6 * (strlen(key_field) + f->key.len) + 6;
    for (size_t i = 0; i < f->n_values; i++)
        bound += 6 * strlen(aggs[i].field) + 4 + 20;
    if (bound <= cap)
        return firing_fast(f, key_field, aggs, buf);
    weir__bounded o = {buf, cap, 0};
    char tmp[64];
    weir__bounded_put(&o, "{", 1);
    if (key_field)
        put_key(&o, key_field, f->key);
    put_window(&o, f->window_start, f->window_end);
    for (size_t i = 0; i < f->n_values; i++) {
        weir__bounded_put(&o, ",", 1);
        put_quoted(&o, (weir_slice){aggs[i].field, strlen(aggs[i].field)});
        int n = snprintf(tmp, sizeof tmp, ":%" PRIu64, f->values[i]);
        weir__bounded_put(&o, tmp, (size_t)n);
    }
    if (f->late)
        weir__bounded_put(&o, ",\"late\":true", 12);
    weir__bounded_put(&o, "}", 1);
    weir__bounded_finish(&o);
    return o.len;
}

size_t weir__firing_json(const weir_sink *s, const weir_firing *f, char **buf, size_t *cap)
{
    size_t need = weir_firing_to_json(f, s->key_field, s->aggs, *buf, *cap);
    if (need >= *cap) {
        char *nb = weir__grow(*buf, cap, need + 1);
        if (!nb)
            return (size_t)-1;
        *buf = nb;
        weir_firing_to_json(f, s->key_field, s->aggs, *buf, *cap);
    }
    return need;
}

/* 10^0 .. 10^17, exact as doubles and as integers. */
static const double DPOW10[18] = {1e0, 1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8,
                                  1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17};

size_t weir_format_double(double d, char *buf)
{
    if (!isfinite(d)) {
        memcpy(buf, "null", 5);
        return 4;
    }
    /* Sums of prices have few decimals: the fewest fraction digits k for which the nearest
     * m / 10^k (m < 2^53, one correctly rounded division) is d is the shortest text, found
     * without printf's multi-precision arithmetic. Others go through printf. */
    double a = fabs(d);
    if (a < 1e15 && a >= 1e-4) {
        for (int k = 0; k <= 17; k++) {
            double scaled = a * DPOW10[k];
            if (scaled >= 9007199254740992.0)
                break;
            uint64_t m = (uint64_t)(scaled + 0.5);
            if ((double)m / DPOW10[k] != a)
                continue;
            char t[24];
            int n = 0;
            for (int j = 0; j < k || m; j++) {
                t[n++] = (char)('0' + m % 10);
                m /= 10;
                if (j == k - 1)
                    t[n++] = '.';
            }
            if (t[n - 1] == '.')
                t[n++] = '0';
            size_t len = 0;
            if (d < 0)
                buf[len++] = '-';
            while (n)
                buf[len++] = t[--n];
            if (k == 0) {
                memcpy(buf + len, ".0", 2);
                len += 2;
            }
            buf[len] = '\0';
            return len;
        }
    }
    int n = 0;
    /* Within the range above every double of at most 15 significant digits was found: start
     * at 16 there. */
    for (int prec = a < 1e15 && a >= 1e-4 ? 16 : 15; prec <= 17; prec++) {
        n = snprintf(buf, 32, "%.*g", prec, d);
        if (strtod(buf, NULL) == d)
            break;
    }
    if (!strpbrk(buf, ".eEn")) {
        memcpy(buf + n, ".0", 3);
        n += 2;
    }
    return (size_t)n;
}

size_t weir_gfiring_to_json(const weir_gwindow_firing *f, const char *const *key_fields,
                            const weir_slice *key_parts, size_t n_keys, const weir_gagg_def *aggs,
                            char *buf, size_t cap)
{
    weir__bounded o = {buf, cap, 0};
    char tmp[64];
    weir__bounded_put(&o, "{", 1);
    for (size_t i = 0; i < n_keys; i++)
        put_key(&o, key_fields[i], key_parts[i]);
    put_window(&o, f->window_start, f->window_end);
    for (size_t i = 0; i < f->n_values; i++) {
        weir__bounded_put(&o, ",", 1);
        put_quoted(&o, (weir_slice){aggs[i].name, strlen(aggs[i].name)});
        weir__bounded_put(&o, ":", 1);
        const weir_value *v = &f->values[i];
        switch (v->type) {
        case WEIR_VALUE_INT: {
            char *e = tmp;
            if (v->u.i < 0)
                *e++ = '-';
            e = u64_to(e, v->u.i < 0 ? 0 - (uint64_t)v->u.i : (uint64_t)v->u.i);
            weir__bounded_put(&o, tmp, (size_t)(e - tmp));
            break;
        }
        case WEIR_VALUE_DOUBLE: weir__bounded_put(&o, tmp, weir_format_double(v->u.d, tmp)); break;
        case WEIR_VALUE_STRING: put_quoted(&o, v->u.s); break;
        default: weir__bounded_put(&o, "null", 4); break;
        }
    }
    if (f->late)
        weir__bounded_put(&o, ",\"late\":true", 12);
    weir__bounded_put(&o, "}", 1);
    weir__bounded_finish(&o);
    return o.len;
}
