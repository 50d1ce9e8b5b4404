/* JSON encoding of firings (docs/SEMANTICS.md, "What a firing emits"). */
#include "weir/output.h"

#include "runtime/output_buf.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A bounded writer: counts what it would write, stores what fits. */
typedef struct out {
    char *buf;
    size_t cap, len;
} out;

static void put(out *o, const char *s, size_t n)
{
    if (o->len < o->cap) {
        size_t room = o->cap - o->len;
        memcpy(o->buf + o->len, s, n < room ? n : room);
    }
    o->len += n;
}

static void put_quoted(out *o, weir_slice s)
{
    static const char hex[] = "0123456789abcdef";
    put(o, "\"", 1);
    size_t run = 0;
    for (size_t i = 0; i < s.len; i++) {
        unsigned char c = (unsigned char)s.ptr[i];
        if (c >= 0x20 && c != '"' && c != '\\')
            continue;
        put(o, s.ptr + run, i - run);
        run = i + 1;
        char esc[6] = {'\\', 0, 0, 0, 0, 0};
        size_t n = 2;
        switch (c) {
        case '"': esc[1] = '"'; break;
        case '\\': esc[1] = '\\'; break;
        case '\n': esc[1] = 'n'; break;
        case '\r': esc[1] = 'r'; break;
        case '\t': esc[1] = 't'; break;
        case '\b': esc[1] = 'b'; break;
        case '\f': esc[1] = 'f'; break;
        default:
            esc[1] = 'u';
            esc[2] = '0';
            esc[3] = '0';
            esc[4] = hex[c >> 4];
            esc[5] = hex[c & 15];
            n = 6;
        }
        put(o, esc, n);
    }
    put(o, s.ptr + run, s.len - run);
    put(o, "\"", 1);
}

static void finish(out *o)
{
    if (o->cap)
        o->buf[o->len < o->cap ? o->len : o->cap - 1] = '\0';
}

size_t weir_json_quote(weir_slice s, char *buf, size_t cap)
{
    out o = {buf, cap, 0};
    put_quoted(&o, s);
    finish(&o);
    return o.len;
}

size_t weir_firing_to_json(const weir_firing *f, const char *key_field, const weir_agg_spec *aggs,
                           char *buf, size_t cap)
{
    out o = {buf, cap, 0};
    char tmp[64];
    put(&o, "{", 1);
    if (key_field) {
        put_quoted(&o, (weir_slice){key_field, strlen(key_field)});
        put(&o, ":", 1);
        put_quoted(&o, f->key);
        put(&o, ",", 1);
    }
    put(&o, "\"window_start\":\"", 16);
    put(&o, tmp, weir_format_iso8601(f->window_start, tmp));
    put(&o, "\",\"window_end\":\"", 16);
    put(&o, tmp, weir_format_iso8601(f->window_end, tmp));
    put(&o, "\"", 1);
    for (size_t i = 0; i < f->n_values; i++) {
        put(&o, ",", 1);
        put_quoted(&o, (weir_slice){aggs[i].field, strlen(aggs[i].field)});
        int n = snprintf(tmp, sizeof tmp, ":%" PRIu64, f->values[i]);
        put(&o, tmp, (size_t)n);
    }
    if (f->late)
        put(&o, ",\"late\":true", 12);
    put(&o, "}", 1);
    finish(&o);
    return o.len;
}

size_t weir__firing_json(const weir_sink *s, const weir_firing *f, char **buf, size_t *cap)
{
    size_t need = weir_firing_to_json(f, s->key_field, s->aggs, *buf, *cap);
    if (need >= *cap) {
        char *nb = realloc(*buf, need + 256);
        if (!nb)
            return (size_t)-1;
        *buf = nb;
        *cap = need + 256;
        weir_firing_to_json(f, s->key_field, s->aggs, *buf, *cap);
    }
    return need;
}
