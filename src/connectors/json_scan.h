/* The one-pass JSON scanner shared by the record decoders (json_decode.c, json_fields.c). */
#ifndef WEIR_CONNECTORS_JSON_SCAN_H
#define WEIR_CONNECTORS_JSON_SCAN_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include "weir/event.h"

/*
 * One pass over a record both validates it as JSON (RFC 8259: structure, separators,
 * numbers, literals, string escapes, no raw control characters, UTF-8 inside strings, the
 * only place where bytes above 0x7F may be) and hands each member of an object to the
 * decoder's member function, which notes the values it wants. Nothing is copied or
 * allocated; only strings with escapes are unescaped, into scratch space. A record the
 * scan refuses is looked at again only to name the reason (weir__refused).
 *
 * Why not a library: jsmn (tokens, then a validation walk over them) cost about
 * 6,900 instructions per 140-byte event here, cJSON and jansson allocate a node
 * per value; this scanner needs about 1,050 per event, timestamp and hashes
 * included (bench: weir-bench --scenario decode, and the decode-* comparisons).
 * Its time goes mostly to the chain of dependent loads from one string's end to
 * the next string's: strings are skipped 16 bytes at a time.
 *
 * The hot functions are static inline here so that each decoder's member function is
 * inlined into the member loop; the cold ones live in json_scan.c.
 */

#define MAX_NESTING 64

#define ALWAYS_INLINE inline __attribute__((always_inline))

/* Scratch space for unescaped strings: earlier reservations stay valid until reset. */
typedef struct weir__scratch {
    char *cur;
    size_t len, cap;
    char **old; /* blocks retired while their slices may still be in use */
    size_t n_old;
} weir__scratch;

/* Reserves n bytes; NULL when out of memory. */
char *weir__scratch_alloc(weir__scratch *s, size_t n);
/* Releases every reservation. */
void weir__scratch_reset(weir__scratch *s);
/* Frees all memory of the scratch. */
void weir__scratch_free(weir__scratch *s);

/* Length of the valid UTF-8 sequence of two to four bytes at s (s[0] >= 0x80), or 0
 * (RFC 3629: no overlongs, no surrogates, at most U+10FFFF). */
size_t weir__utf8_seq(const unsigned char *s, const unsigned char *e);

/* Why a record the scan refused is invalid, in the order the checks are documented:
 * encoding first, then nesting depth, then syntax. */
weir_rec_status weir__refused(const char *rec, size_t len);

/* Unescapes a validated JSON string body of n bytes into scratch; -1 on an escape that
 * spells a lone surrogate or NUL, or when out of memory. */
int weir__unescape(weir__scratch *sc, const char *s, size_t n, weir_slice *out);

/* An integer count of seconds or milliseconds as text: 0, or -1 when it is not one. */
int weir__number_ts(const char *s, size_t n, weir_ts_unit unit, int64_t *out);

/* A scanned JSON value: its bytes (a string's without quotes, a container's with its
 * brackets), its type ('s', 'n', 't', 'f', 'z' for null, 'o', 'a'; 0 when absent) and
 * whether a string has escapes. */
typedef struct jv {
    const char *p;
    size_t n;
    char type;
    char esc;
} jv;

static ALWAYS_INLINE const char *skip_ws(const char *p, const char *e)
{
    /* Records rarely hold whitespace: one comparison sees that there is none. */
    while (p < e && (unsigned char)*p <= ' ' &&
           (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t'))
        p++;
    return p;
}

static inline int is_hex(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* The first byte in [p, e) that a string body cannot simply pass over: a quote, a
 * backslash, a control character or a byte above 0x7F (the start of a UTF-8 sequence
 * to check); e when there is none. */
static ALWAYS_INLINE const char *string_stop(const char *p, const char *e, const char *lo)
{
    (void)lo; /* the record's first byte: how far back from e the scan may read */
#ifdef __SSE2__
    /* Sixteen bytes at a time. A signed "less than 0x20" is true both for control
     * characters and for bytes above 0x7F. */
    const __m128i quote = _mm_set1_epi8('"'), bslash = _mm_set1_epi8('\\'),
                  space = _mm_set1_epi8(0x20);
    while (e - p >= 16) {
        __m128i x = _mm_loadu_si128((const __m128i *)(const void *)p);
        __m128i m = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(x, quote), _mm_cmpeq_epi8(x, bslash)),
                                 _mm_cmplt_epi8(x, space));
        unsigned bits = (unsigned)_mm_movemask_epi8(m);
        if (bits)
            return p + __builtin_ctz(bits);
        p += 16;
    }
    /* Fewer than 16 bytes left: the 16 that end the record, when it has them, with the
     * bits of the bytes before p shifted out. */
    if (p < e && e - lo >= 16) {
        __m128i x = _mm_loadu_si128((const __m128i *)(const void *)(e - 16));
        __m128i m = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(x, quote), _mm_cmpeq_epi8(x, bslash)),
                                 _mm_cmplt_epi8(x, space));
        unsigned bits = (unsigned)_mm_movemask_epi8(m) >> (16 - (e - p));
        return bits ? p + __builtin_ctz(bits) : e;
    }
#endif
    /* Eight bytes at a time. The lowest flagged byte is exact (borrows only flag bytes
     * above a real hit). */
    while (e - p >= 8) {
        uint64_t x;
        memcpy(&x, p, 8);
        const uint64_t ones = 0x0101010101010101ull, high = 0x8080808080808080ull;
        uint64_t q = x ^ (ones * '"'), b = x ^ (ones * '\\');
        uint64_t special =
            (((q - ones) & ~q) | ((b - ones) & ~b) | ((x - ones * 0x20) & ~x) | x) & high;
        if (special)
            return p + __builtin_ctzll(special) / 8;
        p += 8;
    }
    for (; p < e; p++) {
        unsigned char c = (unsigned char)*p;
        if (c == '"' || c == '\\' || c < 0x20 || c >= 0x80)
            return p;
    }
    return e;
}

/* The rest of a string from a byte string_stop() flagged that is not its closing quote:
 * escapes, UTF-8 sequences, or an error. Returns the position after the closing quote. */
static inline const char *scan_string_slow(const char *p, const char *e, const char *lo, char *esc)
{
    for (;;) {
        if (p >= e)
            return NULL;
        unsigned char c = (unsigned char)*p;
        if (c == '"')
            return p + 1;
        if (c >= 0x80) {
            size_t n = weir__utf8_seq((const unsigned char *)p, (const unsigned char *)e);
            if (!n)
                return NULL;
            p += n;
        } else if (c == '\\') {
            *esc = 1;
            if (++p >= e)
                return NULL;
            switch (*p) {
            case '"':
            case '\\':
            case '/':
            case 'b':
            case 'f':
            case 'n':
            case 'r':
            case 't': p++; break;
            case 'u':
                if (e - p < 5 || !is_hex(p[1]) || !is_hex(p[2]) || !is_hex(p[3]) || !is_hex(p[4]))
                    return NULL;
                p += 5;
                break;
            default: return NULL;
            }
        } else {
            return NULL; /* a control character */
        }
        p = string_stop(p, e, lo);
    }
}

/* p is just after the opening quote; returns the position after the closing quote. */
static ALWAYS_INLINE const char *scan_string(const char *p, const char *e, const char *lo,
                                             char *esc)
{
    p = string_stop(p, e, lo);
    if (p < e && *p == '"')
        return p + 1;
    return scan_string_slow(p, e, lo, esc);
}

static ALWAYS_INLINE int is_digit(char c)
{
    return (unsigned char)(c - '0') < 10;
}

static ALWAYS_INLINE const char *scan_digits(const char *p, const char *e)
{
    while (p < e && is_digit(*p))
        p++;
    return p;
}

static inline const char *scan_number(const char *p, const char *e)
{
    if (p < e && *p == '-')
        p++;
    if (p >= e)
        return NULL;
    if (*p == '0')
        p++;
    else if (*p >= '1' && *p <= '9')
        p = scan_digits(p + 1, e);
    else
        return NULL;
    if (p < e && *p == '.') {
        p++;
        if (p >= e || !is_digit(*p))
            return NULL;
        p = scan_digits(p + 1, e);
    }
    if (p < e && (*p == 'e' || *p == 'E')) {
        p++;
        if (p < e && (*p == '+' || *p == '-'))
            p++;
        if (p >= e || !is_digit(*p))
            return NULL;
        p = scan_digits(p + 1, e);
    }
    return p;
}

/* a and b hold n bytes each. */
static ALWAYS_INLINE int same_bytes(const char *a, const char *b, size_t n)
{
    if (n >= 8) {
        uint64_t x, y, u, v;
        memcpy(&x, a, 8);
        memcpy(&y, b, 8);
        memcpy(&u, a + n - 8, 8);
        memcpy(&v, b + n - 8, 8);
        return x == y && u == v && (n <= 16 || !memcmp(a + 8, b + 8, n - 16));
    }
    if (n >= 4) {
        uint32_t x, y, u, v;
        memcpy(&x, a, 4);
        memcpy(&y, b, 4);
        memcpy(&u, a + n - 4, 4);
        memcpy(&v, b + n - 4, 4);
        return x == y && u == v;
    }
    for (size_t i = 0; i < n; i++)
        if (a[i] != b[i])
            return 0;
    return 1;
}

static inline const char *scan_object(const char *p, const char *e, const char *lo, int depth);
static inline const char *scan_array(const char *p, const char *e, const char *lo, int depth);

/* Scans any value at p (no leading whitespace, p < e) and describes it in v. */
static ALWAYS_INLINE const char *scan_value(const char *p, const char *e, const char *lo, int depth,
                                            jv *v)
{
    const char *q;
    v->esc = 0;
    if (*p == '"') {
        v->type = 's';
        v->p = p + 1;
        q = scan_string(p + 1, e, lo, &v->esc);
        if (q)
            v->n = (size_t)(q - 1 - v->p);
        return q;
    }
    switch (*p) {
    case '{':
        v->type = 'o';
        q = scan_object(p, e, lo, depth + 1);
        break;
    case '[':
        v->type = 'a';
        q = scan_array(p, e, lo, depth + 1);
        break;
    case 't':
        v->type = 't';
        q = e - p >= 4 && !memcmp(p, "true", 4) ? p + 4 : NULL;
        break;
    case 'f':
        v->type = 'f';
        q = e - p >= 5 && !memcmp(p, "false", 5) ? p + 5 : NULL;
        break;
    case 'n':
        v->type = 'z';
        q = e - p >= 4 && !memcmp(p, "null", 4) ? p + 4 : NULL;
        break;
    default:
        v->type = 'n';
        q = scan_number(p, e);
        break;
    }
    v->p = p;
    v->n = q ? (size_t)(q - p) : 0;
    return q;
}

/* p at '['; returns the position after ']'. */
static inline const char *scan_array(const char *p, const char *e, const char *lo, int depth)
{
    if (depth > MAX_NESTING)
        return NULL;
    p = skip_ws(p + 1, e);
    if (p < e && *p == ']')
        return p + 1;
    for (;;) {
        jv v;
        if (p >= e || !(p = scan_value(p, e, lo, depth, &v)))
            return NULL;
        p = skip_ws(p, e);
        if (p >= e)
            return NULL;
        if (*p == ']')
            return p + 1;
        if (*p != ',')
            return NULL;
        p = skip_ws(p + 1, e);
    }
}

/* Called by object_members() for each member of an object, in order: the key's bytes as
 * written (escapes not decoded) and the position of the value (p < e, after any
 * whitespace). Scans the value and returns the position after it, or NULL when it is
 * malformed. A decoder passes a constant function, which the compiler inlines. */
typedef const char *(*member_fn)(void *ctx, const char *k, size_t klen, const char *p,
                                 const char *e, const char *lo, int depth);

/* p at '{'; returns the position after '}', or NULL when the object is malformed or nests
 * deeper than MAX_NESTING. */
static ALWAYS_INLINE const char *object_members(const char *p, const char *e, const char *lo,
                                                int depth, member_fn fn, void *ctx)
{
    if (depth > MAX_NESTING)
        return NULL;
    p = skip_ws(p + 1, e);
    if (p < e && *p == '}')
        return p + 1;
    for (;;) {
        if (p >= e || *p != '"')
            return NULL;
        char kesc = 0;
        const char *k = p + 1;
        p = scan_string(k, e, lo, &kesc);
        if (!p)
            return NULL;
        size_t klen = (size_t)(p - 1 - k);
        /* Records rarely hold whitespace: each separator is looked for right where it
         * would be first. */
        if (p < e && *p == ':') {
            p++;
        } else {
            p = skip_ws(p, e);
            if (p >= e || *p != ':')
                return NULL;
            p++;
        }
        if (p >= e)
            return NULL;
        if ((unsigned char)*p <= ' ' && (p = skip_ws(p, e)) >= e)
            return NULL;
        if (!(p = fn(ctx, k, klen, p, e, lo, depth)))
            return NULL;
        if (p < e && *p == ',') {
            p = skip_ws(p + 1, e);
            continue;
        }
        p = skip_ws(p, e);
        if (p >= e)
            return NULL;
        if (*p == '}')
            return p + 1;
        if (*p != ',')
            return NULL;
        p = skip_ws(p + 1, e);
    }
}

static ALWAYS_INLINE const char *skip_member(void *ctx, const char *k, size_t klen, const char *p,
                                             const char *e, const char *lo, int depth)
{
    (void)ctx;
    (void)k;
    (void)klen;
    jv v;
    return scan_value(p, e, lo, depth, &v);
}

static inline const char *scan_object(const char *p, const char *e, const char *lo, int depth)
{
    return object_members(p, e, lo, depth, skip_member, NULL);
}

/* A minute "YYYY-MM-DDTHH:MM" by its 16 bytes, and a day "YYYY-MM-DD" by its 10, with
 * their epoch ms. */
typedef struct weir__minute_entry {
    uint64_t key[2];
    int64_t ms;
} weir__minute_entry;

typedef struct weir__day_entry {
    uint64_t key;
    uint16_t dd;
    int64_t ms;
} weir__day_entry;

/* The last two minutes and days of ISO-8601 timestamps, most recent first: consecutive
 * events share them. Starts zeroed. */
typedef struct weir__ts_cache {
    weir__minute_entry minutes[2];
    weir__day_entry days[2];
    int n_minutes, n_days;
} weir__ts_cache;

/* An ISO-8601 date-time is read in two parts: the first 16 bytes "YYYY-MM-DDTHH:MM" give
 * the minute (cached), the rest ":SS[.fff][offset]" the milliseconds from there. */
#define ISO_MINUTE_LEN 16

/* The epoch ms of the minute of s (first 16 bytes a, b) when it is not the cache's last
 * one; -1 when malformed. */
int weir__new_minute(weir__ts_cache *d, const char *s, uint64_t a, uint64_t b, int64_t *out);
/* The ms from the minute of the n >= 3 bytes ":SS[.fff][offset]"; -1 when malformed. */
int weir__iso_rest(const char *s, size_t n, int64_t *out_ms);

/* The event time of a scanned value (SEMANTICS.md, "Event time"): 0, or -1 when it is not
 * a timestamp. */
static ALWAYS_INLINE int parse_ts(weir__ts_cache *d, weir__scratch *sc, weir_ts_unit unit,
                                  const jv *v, int64_t *out)
{
    if (v->type == 'n')
        return weir__number_ts(v->p, v->n, unit, out);
    if (v->type != 's')
        return -1;
    /* A string with escapes is the text it spells ("\u0031700000000" is "1700000000"). */
    weir_slice t = {v->p, v->n};
    if (v->esc && weir__unescape(sc, v->p, v->n, &t) != 0)
        return -1;
    if (t.len < 19 || t.ptr[4] != '-')
        return weir__number_ts(t.ptr, t.len, unit, out);
    uint64_t a, b;
    memcpy(&a, t.ptr, 8);
    memcpy(&b, t.ptr + 8, 8);
    int64_t minute, rest;
    if (d->n_minutes && d->minutes[0].key[0] == a && d->minutes[0].key[1] == b)
        minute = d->minutes[0].ms;
    else if (weir__new_minute(d, t.ptr, a, b, &minute) != 0)
        return -1;
    const char *s = t.ptr + ISO_MINUTE_LEN;
    if (t.len - ISO_MINUTE_LEN == 8 && s[0] == ':' && s[3] == '.' && s[7] == 'Z' &&
        is_digit(s[1]) && is_digit(s[2]) && is_digit(s[4]) && is_digit(s[5]) && is_digit(s[6])) {
        /* The usual ":SS.mmmZ" in line (seconds up to 60 for a leap second, as below). */
        int sec = (s[1] - '0') * 10 + (s[2] - '0');
        if (sec > 60)
            return -1;
        *out = minute + sec * 1000 + (s[4] - '0') * 100 + (s[5] - '0') * 10 + (s[6] - '0');
        return 0;
    }
    if (weir__iso_rest(s, t.len - ISO_MINUTE_LEN, &rest) != 0)
        return -1;
    *out = minute + rest;
    return 0;
}

#endif
