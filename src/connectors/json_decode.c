/* Zero-copy decoding of JSON event records into weir_events (jsmn tokens, validated). */
#include <stdlib.h>
#include <string.h>

#define JSMN_STRICT
#define JSMN_STATIC
#include <jsmn.h>
#define XXH_INLINE_ALL
#include <xxhash.h>

#include "weir/event.h"

/*
 * jsmn tokenizes without allocating and without copying, which is what makes
 * decoding cheap, but it does not check everything JSON requires (it accepts a
 * missing colon or comma, and primitives like `tru`). So after tokenizing we
 * check the bytes between tokens and every primitive: a record is valid JSON
 * when both pass. Field values are then slices of the record; only strings
 * with escapes are unescaped into the decoder's scratch space.
 */

#define MAX_PATH_DEPTH 8
#define MAX_NESTING    64
#define MIN_TOKENS     64

typedef struct field_path {
    char *parts[MAX_PATH_DEPTH];
    size_t lens[MAX_PATH_DEPTH];
    int n;
} field_path;

struct weir_decoder {
    field_path key, user, ts;
    int global;
    weir_ts_unit unit;
    size_t max_record;
    jsmntok_t *toks;
    unsigned ntoks, max_toks;
    char *scratch;
    size_t scratch_len, scratch_cap;
    char **old_scratch; /* blocks retired while their slices may still be in use */
    size_t n_old;
};

static const char *const STATUS_NAMES[WEIR_REC_STATUS_COUNT] = {
    "ok",      "not_json",      "not_object", "no_key",
    "no_user", "bad_timestamp", "too_large",  "bad_encoding",
};

const char *weir_rec_status_name(weir_rec_status status)
{
    if ((unsigned)status >= WEIR_REC_STATUS_COUNT)
        return "unknown";
    return STATUS_NAMES[status];
}

static int path_init(field_path *fp, const char *spec)
{
    memset(fp, 0, sizeof *fp);
    if (!spec || !*spec)
        return -1;
    const char *p = spec;
    while (1) {
        const char *dot = strchr(p, '.');
        size_t len = dot ? (size_t)(dot - p) : strlen(p);
        if (len == 0 || fp->n == MAX_PATH_DEPTH)
            return -1;
        fp->parts[fp->n] = strndup(p, len);
        if (!fp->parts[fp->n])
            return -1;
        fp->lens[fp->n++] = len;
        if (!dot)
            return 0;
        p = dot + 1;
    }
}

static void path_free(field_path *fp)
{
    for (int i = 0; i < fp->n; i++)
        free(fp->parts[i]);
}

weir_decoder *weir_decoder_new(const weir_conf *conf, char *errstr, size_t errstr_size)
{
    weir_decoder *d = calloc(1, sizeof *d);
    if (!d)
        return NULL;
    static const char *const names[3] = {"key.field", "user.field", "timestamp.field"};
    field_path *paths[3] = {&d->key, &d->user, &d->ts};
    d->global = weir_conf_get_bool(conf, "global");
    for (int i = 0; i < 3; i++) {
        if (i == 0 && d->global)
            continue;
        const char *v = weir_conf_get(conf, names[i]);
        if (path_init(paths[i], v) != 0) {
            if (errstr && errstr_size)
                snprintf(errstr, errstr_size,
                         "%s: invalid value \"%s\": accepted values are field names or dotted "
                         "paths of at most %d non-empty parts",
                         names[i], v, MAX_PATH_DEPTH);
            weir_decoder_destroy(d);
            return NULL;
        }
    }
    const char *unit = weir_conf_get(conf, "timestamp.unit");
    d->unit = !strcmp(unit, "s")    ? WEIR_TS_SECONDS
              : !strcmp(unit, "ms") ? WEIR_TS_MILLIS
                                    : WEIR_TS_AUTO;
    d->max_record = (size_t)weir_conf_get_int(conf, "input.max.record.bytes");
    /* A JSON token needs at least two bytes of input, so this bounds every valid record. */
    d->max_toks = (unsigned)(d->max_record / 2 + MIN_TOKENS);
    d->ntoks = MIN_TOKENS;
    d->toks = malloc(d->ntoks * sizeof(jsmntok_t));
    if (!d->toks) {
        weir_decoder_destroy(d);
        return NULL;
    }
    return d;
}

void weir_decoder_destroy(weir_decoder *d)
{
    if (!d)
        return;
    path_free(&d->key);
    path_free(&d->user);
    path_free(&d->ts);
    free(d->toks);
    weir_decoder_reset(d);
    free(d->old_scratch);
    free(d->scratch);
    free(d);
}

void weir_decoder_reset(weir_decoder *d)
{
    for (size_t i = 0; i < d->n_old; i++)
        free(d->old_scratch[i]);
    d->n_old = 0;
    d->scratch_len = 0;
}

/* Reserves n bytes of scratch; earlier reservations stay valid until reset. */
static char *scratch_alloc(weir_decoder *d, size_t n)
{
    if (d->scratch_len + n > d->scratch_cap) {
        char **old = realloc(d->old_scratch, (d->n_old + 1) * sizeof(char *));
        if (!old)
            return NULL;
        d->old_scratch = old;
        size_t cap = d->scratch_cap ? d->scratch_cap : 4096;
        while (cap < n)
            cap *= 2;
        char *fresh = malloc(cap);
        if (!fresh)
            return NULL;
        if (d->scratch)
            d->old_scratch[d->n_old++] = d->scratch;
        d->scratch = fresh;
        d->scratch_cap = cap;
        d->scratch_len = 0;
    }
    char *p = d->scratch + d->scratch_len;
    d->scratch_len += n;
    return p;
}

/* UTF-8 validation (RFC 3629: no overlongs, no surrogates, at most U+10FFFF) that also
 * refuses NUL bytes. ASCII runs are checked eight bytes at a time. */
static int valid_utf8(const unsigned char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        if (i + 8 <= n) {
            uint64_t w;
            memcpy(&w, s + i, 8);
            /* No high bit and no zero byte in the word. */
            if (!(w & 0x8080808080808080ull) &&
                !((w - 0x0101010101010101ull) & ~w & 0x8080808080808080ull)) {
                i += 8;
                continue;
            }
        }
        unsigned char c = s[i];
        if (c == 0)
            return 0;
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t len;
        uint32_t cp;
        if (c >= 0xC2 && c <= 0xDF) {
            len = 2;
            cp = c & 0x1F;
        } else if (c >= 0xE0 && c <= 0xEF) {
            len = 3;
            cp = c & 0x0F;
        } else if (c >= 0xF0 && c <= 0xF4) {
            len = 4;
            cp = c & 0x07;
        } else {
            return 0;
        }
        if (i + len > n)
            return 0;
        for (size_t k = 1; k < len; k++) {
            if ((s[i + k] & 0xC0) != 0x80)
                return 0;
            cp = (cp << 6) | (s[i + k] & 0x3F);
        }
        if ((len == 3 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) ||
            (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)))
            return 0;
        i += len;
    }
    return 1;
}

static int is_ws(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* Checks that [a, b) holds whitespace around exactly one `sep` (or only whitespace when
 * sep is 0). */
static int gap_ok(const char *js, int a, int b, char sep)
{
    int seen = 0;
    for (int i = a; i < b; i++) {
        if (is_ws(js[i]))
            continue;
        if (sep && js[i] == sep && !seen) {
            seen = 1;
            continue;
        }
        return 0;
    }
    return sep ? seen : 1;
}

static int valid_number(const char *s, size_t n)
{
    size_t i = 0;
    if (i < n && s[i] == '-')
        i++;
    if (i >= n)
        return 0;
    if (s[i] == '0')
        i++;
    else if (s[i] >= '1' && s[i] <= '9')
        while (i < n && s[i] >= '0' && s[i] <= '9')
            i++;
    else
        return 0;
    if (i < n && s[i] == '.') {
        i++;
        if (i >= n || s[i] < '0' || s[i] > '9')
            return 0;
        while (i < n && s[i] >= '0' && s[i] <= '9')
            i++;
    }
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        if (i < n && (s[i] == '+' || s[i] == '-'))
            i++;
        if (i >= n || s[i] < '0' || s[i] > '9')
            return 0;
        while (i < n && s[i] >= '0' && s[i] <= '9')
            i++;
    }
    return i == n;
}

static int valid_primitive(const char *js, const jsmntok_t *t)
{
    const char *s = js + t->start;
    size_t n = (size_t)(t->end - t->start);
    if ((n == 4 && !memcmp(s, "true", 4)) || (n == 5 && !memcmp(s, "false", 5)) ||
        (n == 4 && !memcmp(s, "null", 4)))
        return 1;
    return valid_number(s, n);
}

/*
 * Walks the token array once, checking structure and separators. Returns 0 when valid,
 * 1 when not JSON, 2 when nested too deeply. Iterative: each container pushes the index
 * of its next child and how many remain.
 */
static int validate_tokens(const char *js, const jsmntok_t *t, int n)
{
    struct frame {
        int tok, remaining, prev_end, is_obj, expect_key;
    } stack[MAX_NESTING];
    int depth = 0;
    int i = 0;
    /* The root. */
    if (t[0].type == JSMN_PRIMITIVE && !valid_primitive(js, &t[0]))
        return 1;
    if (t[0].type != JSMN_OBJECT && t[0].type != JSMN_ARRAY)
        return n == 1 ? 0 : 1;
    stack[0] = (struct frame){0, t[0].type == JSMN_OBJECT ? t[0].size * 2 : t[0].size,
                              t[0].start + 1, t[0].type == JSMN_OBJECT, 1};
    depth = 1;
    i = 1;
    while (depth > 0) {
        struct frame *f = &stack[depth - 1];
        if (f->remaining == 0) {
            const jsmntok_t *c = &t[f->tok];
            if (!gap_ok(js, f->prev_end, c->end - 1, 0))
                return 1;
            depth--;
            if (depth > 0)
                stack[depth - 1].prev_end = c->end;
            continue;
        }
        if (i >= n)
            return 1;
        const jsmntok_t *c = &t[i];
        int first = f->prev_end == t[f->tok].start + 1;
        char sep = 0;
        if (!first)
            sep = f->is_obj && !f->expect_key ? ':' : ',';
        if (!gap_ok(js, f->prev_end, c->start - (c->type == JSMN_STRING ? 1 : 0), sep))
            return 1;
        if (f->is_obj && f->expect_key && c->type != JSMN_STRING)
            return 1;
        if (f->is_obj)
            f->expect_key = !f->expect_key;
        f->remaining--;
        i++;
        if (c->type == JSMN_PRIMITIVE) {
            if (!valid_primitive(js, c))
                return 1;
            f->prev_end = c->end;
        } else if (c->type == JSMN_STRING) {
            f->prev_end = c->end + 1;
        } else {
            if (depth == MAX_NESTING)
                return 2;
            stack[depth++] =
                (struct frame){(int)(c - t), c->type == JSMN_OBJECT ? c->size * 2 : c->size,
                               c->start + 1, c->type == JSMN_OBJECT, 1};
        }
    }
    return i == n ? 0 : 1;
}

/* Index of the token after the value starting at token i (skipping its children). */
static int skip_value(const jsmntok_t *t, int i, int n)
{
    int end = t[i].end;
    i++;
    while (i < n && t[i].start < end)
        i++;
    return i;
}

/* Finds the value token of `path` in the object at token `obj`; -1 when absent. */
static int find_path(const char *js, const jsmntok_t *t, int n, const field_path *p)
{
    int obj = 0;
    for (int level = 0; level < p->n; level++) {
        if (t[obj].type != JSMN_OBJECT)
            return -1;
        int pairs = t[obj].size;
        int i = obj + 1;
        int found = -1;
        for (int k = 0; k < pairs && i < n; k++) {
            const jsmntok_t *key = &t[i];
            size_t klen = (size_t)(key->end - key->start);
            /* Keys with escapes are compared raw: field names are plain ASCII. */
            if (klen == p->lens[level] && !memcmp(js + key->start, p->parts[level], klen))
                found = i + 1; /* the last duplicate wins, as in most parsers */
            i = skip_value(t, i + 1, n);
        }
        if (found < 0)
            return -1;
        obj = found;
    }
    return obj;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static int read_u4(const char *s, uint32_t *out)
{
    uint32_t v = 0;
    for (int i = 0; i < 4; i++) {
        int h = hexval(s[i]);
        if (h < 0)
            return -1;
        v = v << 4 | (uint32_t)h;
    }
    *out = v;
    return 0;
}

/* Unescapes a JSON string body into scratch; returns -1 on bad escapes. */
static int unescape(weir_decoder *d, const char *s, size_t n, weir_slice *out)
{
    char *o = scratch_alloc(d, n); /* unescaping never grows the text */
    if (!o)
        return -1;
    size_t w = 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c != '\\') {
            o[w++] = c;
            continue;
        }
        if (++i >= n)
            return -1;
        switch (s[i]) {
        case '"': o[w++] = '"'; break;
        case '\\': o[w++] = '\\'; break;
        case '/': o[w++] = '/'; break;
        case 'b': o[w++] = '\b'; break;
        case 'f': o[w++] = '\f'; break;
        case 'n': o[w++] = '\n'; break;
        case 'r': o[w++] = '\r'; break;
        case 't': o[w++] = '\t'; break;
        case 'u': {
            uint32_t cp;
            if (i + 5 > n || read_u4(s + i + 1, &cp) != 0)
                return -1;
            i += 4;
            if (cp >= 0xD800 && cp <= 0xDBFF) {
                uint32_t lo;
                if (i + 7 > n || s[i + 1] != '\\' || s[i + 2] != 'u' ||
                    read_u4(s + i + 3, &lo) != 0 || lo < 0xDC00 || lo > 0xDFFF)
                    return -1;
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                i += 6;
            } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
                return -1;
            }
            if (cp == 0)
                return -1; /* a NUL inside an identifier is refused like a raw one */
            if (cp < 0x80) {
                o[w++] = (char)cp;
            } else if (cp < 0x800) {
                o[w++] = (char)(0xC0 | cp >> 6);
                o[w++] = (char)(0x80 | (cp & 0x3F));
            } else if (cp < 0x10000) {
                o[w++] = (char)(0xE0 | cp >> 12);
                o[w++] = (char)(0x80 | ((cp >> 6) & 0x3F));
                o[w++] = (char)(0x80 | (cp & 0x3F));
            } else {
                o[w++] = (char)(0xF0 | cp >> 18);
                o[w++] = (char)(0x80 | ((cp >> 12) & 0x3F));
                o[w++] = (char)(0x80 | ((cp >> 6) & 0x3F));
                o[w++] = (char)(0x80 | (cp & 0x3F));
            }
            break;
        }
        default: return -1;
        }
    }
    out->ptr = o;
    out->len = w;
    return 0;
}

/* A key or distinct value: a string, or an integer taken as its decimal text. */
static int text_value(weir_decoder *d, const char *js, const jsmntok_t *t, weir_slice *out)
{
    const char *s = js + t->start;
    size_t n = (size_t)(t->end - t->start);
    if (t->type == JSMN_STRING) {
        if (memchr(s, '\\', n))
            return unescape(d, s, n, out);
        out->ptr = s;
        out->len = n;
        return 0;
    }
    if (t->type != JSMN_PRIMITIVE || n == 0)
        return -1;
    size_t i = s[0] == '-' ? 1 : 0;
    if (i == n)
        return -1;
    for (; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return -1;
    out->ptr = s;
    out->len = n;
    return 0;
}

/* Parses an integer or decimal count of seconds or milliseconds. */
static int number_ts(const char *s, size_t n, weir_ts_unit unit, int64_t *out)
{
    size_t i = 0;
    int neg = 0;
    if (i < n && (s[i] == '-' || s[i] == '+'))
        neg = s[i++] == '-';
    if (i == n)
        return -1;
    int64_t v = 0;
    size_t digits = 0;
    while (i < n && s[i] >= '0' && s[i] <= '9') {
        if (v > (INT64_MAX - 9) / 10)
            return -1;
        v = v * 10 + (s[i++] - '0');
        digits++;
    }
    if (!digits)
        return -1;
    int64_t frac_ms = 0;
    int has_frac = 0;
    if (i < n && s[i] == '.') {
        i++;
        has_frac = 1;
        int64_t scale = 100;
        size_t fd = 0;
        while (i < n && s[i] >= '0' && s[i] <= '9') {
            frac_ms += (s[i++] - '0') * scale;
            scale /= 10;
            fd++;
        }
        if (!fd)
            return -1;
    }
    if (i != n)
        return -1;
    if (unit == WEIR_TS_AUTO)
        unit = v < 100000000000LL ? WEIR_TS_SECONDS : WEIR_TS_MILLIS;
    int64_t ms;
    if (unit == WEIR_TS_SECONDS) {
        if (v > INT64_MAX / 1000 - 1)
            return -1;
        ms = v * 1000 + frac_ms;
    } else {
        if (has_frac)
            return -1; /* fractions of milliseconds carry no meaning here */
        ms = v;
    }
    /* Keep clear of the infinities used by watermarks. */
    if (ms > INT64_MAX / 4)
        return -1;
    *out = neg ? -ms : ms;
    return 0;
}

static int is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static int digits(const char *s, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (!is_digit(s[i]))
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return 0;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (era arithmetic). */
static int64_t days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static int days_in_month(int y, int m)
{
    static const int dm[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
        return 29;
    return dm[m - 1];
}

int weir_parse_iso8601(const char *s, size_t len, int64_t *out_ms)
{
    int y, mo, d, h, mi, sec;
    if (len < 19 || digits(s, 4, &y) || s[4] != '-' || digits(s + 5, 2, &mo) || s[7] != '-' ||
        digits(s + 8, 2, &d) || (s[10] != 'T' && s[10] != 't' && s[10] != ' ') ||
        digits(s + 11, 2, &h) || s[13] != ':' || digits(s + 14, 2, &mi) || s[16] != ':' ||
        digits(s + 17, 2, &sec))
        return -1;
    if (mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo) || h > 23 || mi > 59 || sec > 60)
        return -1;
    size_t i = 19;
    int64_t frac = 0;
    if (i < len && (s[i] == '.' || s[i] == ',')) {
        i++;
        int64_t scale = 100;
        size_t nd = 0;
        while (i < len && is_digit(s[i])) {
            frac += (s[i] - '0') * scale;
            scale /= 10;
            i++;
            nd++;
        }
        if (!nd)
            return -1;
    }
    int64_t offset_min = 0;
    if (i < len) {
        if ((s[i] == 'Z' || s[i] == 'z') && i + 1 == len) {
            i++;
        } else if (s[i] == '+' || s[i] == '-') {
            int sign = s[i] == '-' ? -1 : 1;
            int oh, om;
            if (i + 6 == len && s[i + 3] == ':' && !digits(s + i + 1, 2, &oh) &&
                !digits(s + i + 4, 2, &om))
                ;
            else if (i + 5 == len && !digits(s + i + 1, 2, &oh) && !digits(s + i + 3, 2, &om))
                ;
            else if (i + 3 == len && !digits(s + i + 1, 2, &oh))
                om = 0;
            else
                return -1;
            if (oh > 23 || om > 59)
                return -1;
            offset_min = sign * (oh * 60 + om);
            i = len;
        } else {
            return -1;
        }
    }
    if (i != len)
        return -1;
    int64_t days = days_from_civil(y, mo, d);
    int64_t secs = days * 86400 + h * 3600 + mi * 60 + sec - offset_min * 60;
    *out_ms = secs * 1000 + frac;
    return 0;
}

size_t weir_format_iso8601(int64_t ms, char *buf)
{
    int64_t secs = ms >= 0 ? ms / 1000 : -((-ms + 999) / 1000);
    int msec = (int)(ms - secs * 1000);
    int64_t days = secs >= 0 ? secs / 86400 : -((-secs + 86399) / 86400);
    int64_t rem = secs - days * 86400;
    /* civil_from_days */
    int64_t z = days + 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t y = yoe + era * 400;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    int64_t d = doy - (153 * mp + 2) / 5 + 1;
    int64_t m = mp < 10 ? mp + 3 : mp - 9;
    y += m <= 2;
    return (size_t)snprintf(buf, 32, "%04lld-%02d-%02dT%02d:%02d:%02d.%03dZ", (long long)y, (int)m,
                            (int)d, (int)(rem / 3600), (int)(rem / 60 % 60), (int)(rem % 60), msec);
}

static int parse_ts(const weir_decoder *d, const char *js, const jsmntok_t *t, int64_t *out)
{
    const char *s = js + t->start;
    size_t n = (size_t)(t->end - t->start);
    if (t->type == JSMN_PRIMITIVE)
        return number_ts(s, n, d->unit, out);
    if (t->type != JSMN_STRING)
        return -1;
    if (n >= 19 && s[4] == '-')
        return weir_parse_iso8601(s, n, out);
    return number_ts(s, n, d->unit, out);
}

weir_rec_status weir_decoder_decode(weir_decoder *d, const char *rec, size_t len, weir_event *out)
{
    if (len > d->max_record)
        return WEIR_REC_TOO_LARGE;
    if (!valid_utf8((const unsigned char *)rec, len))
        return WEIR_REC_BAD_ENCODING;
    size_t i = 0;
    while (i < len && is_ws(rec[i]))
        i++;
    if (i == len)
        return WEIR_REC_NOT_JSON;
    if (rec[i] != '{' && rec[i] != '[' && rec[i] != '"') {
        /* A bare number, true, false or null is JSON but not an object (jsmn wants a
         * delimiter after a root primitive, so it is checked here). */
        size_t e = len;
        while (e > i && is_ws(rec[e - 1]))
            e--;
        jsmntok_t t = {JSMN_PRIMITIVE, (int)i, (int)e, 0};
        return valid_primitive(rec, &t) ? WEIR_REC_NOT_OBJECT : WEIR_REC_NOT_JSON;
    }
    int n;
    for (;;) {
        jsmn_parser p;
        jsmn_init(&p);
        n = jsmn_parse(&p, rec, len, d->toks, d->ntoks);
        if (n != JSMN_ERROR_NOMEM)
            break;
        if (d->ntoks >= d->max_toks)
            return WEIR_REC_TOO_LARGE;
        unsigned grow = d->ntoks * 4 > d->max_toks ? d->max_toks : d->ntoks * 4;
        jsmntok_t *t = realloc(d->toks, grow * sizeof(jsmntok_t));
        if (!t)
            return WEIR_REC_TOO_LARGE;
        d->toks = t;
        d->ntoks = grow;
    }
    if (n <= 0)
        return WEIR_REC_NOT_JSON;
    const jsmntok_t *t = d->toks;
    /* Everything after the root value must be whitespace. */
    int root_end = t[0].end + (t[0].type == JSMN_STRING ? 1 : 0);
    if (!gap_ok(rec, root_end, (int)len, 0))
        return WEIR_REC_NOT_JSON;
    int v = validate_tokens(rec, t, n);
    if (v == 2)
        return WEIR_REC_TOO_LARGE;
    if (v)
        return WEIR_REC_NOT_JSON;
    if (t[0].type != JSMN_OBJECT)
        return WEIR_REC_NOT_OBJECT;

    if (d->global) {
        out->key.ptr = "";
        out->key.len = 0;
        out->key_hash = 0;
    } else {
        int k = find_path(rec, t, n, &d->key);
        if (k < 0 || text_value(d, rec, &t[k], &out->key) != 0)
            return WEIR_REC_NO_KEY;
        out->key_hash = XXH3_64bits(out->key.ptr, out->key.len);
    }
    int u = find_path(rec, t, n, &d->user);
    if (u < 0 || text_value(d, rec, &t[u], &out->user) != 0)
        return WEIR_REC_NO_USER;
    int ts = find_path(rec, t, n, &d->ts);
    if (ts < 0 || parse_ts(d, rec, &t[ts], &out->ts) != 0)
        return WEIR_REC_BAD_TIMESTAMP;
    XXH128_hash_t h = XXH3_128bits(out->user.ptr, out->user.len);
    out->user_fp[0] = h.low64;
    out->user_fp[1] = h.high64;
    out->raw.ptr = rec;
    out->raw.len = len;
    return WEIR_REC_OK;
}
