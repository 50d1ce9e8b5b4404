/* Zero-copy decoding of JSON event records into weir_events: one validating pass. */
#include <stdlib.h>
#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

#define XXH_INLINE_ALL
#include <xxhash.h>

#include "connectors/hex.h"
#include "weir/event.h"

/*
 * One pass over the record both validates it as JSON (RFC 8259: structure,
 * separators, numbers, literals, string escapes, no raw control characters, UTF-8
 * inside strings, the only place where bytes above 0x7F may be) and notes where the
 * top-level members we want start and end. Nothing is copied or allocated; only
 * strings with escapes are unescaped, into the decoder's scratch. A nested path
 * ("metadata.session_id") re-scans the already validated member. A record the scan
 * refuses is looked at again only to name the reason (encoding, depth, syntax).
 *
 * Why not a library: jsmn (tokens, then a validation walk over them) cost about
 * 6,900 instructions per 140-byte event here, cJSON and jansson allocate a node
 * per value; this decoder needs about 1,050 per event, timestamp and hashes
 * included (bench: weir-bench --scenario decode, and the decode-* comparisons).
 * Its time goes mostly to the chain of dependent loads from one string's end to
 * the next string's: strings are skipped 16 bytes at a time.
 */

#define MAX_PATH_DEPTH 8
#define MAX_NESTING    64

typedef struct field_path {
    char *parts[MAX_PATH_DEPTH];
    size_t lens[MAX_PATH_DEPTH];
    int n;
} field_path;

typedef struct want_set want_set;

/* The members an object scan looks for: keys compared as written (field names are plain
 * ASCII). `lens` has bit min(length, 63) set for each, so most other keys are passed
 * over after one test. */
struct want_set {
    int n;
    uint64_t lens;
    const char *key[3];
    size_t len[3];
    /* When no two keys share a length and each is shorter than 63 bytes (direct = 1),
     * by_len[length] is the index of the only key of that length. */
    int direct;
    uint8_t by_len[63];
};

/* A minute "YYYY-MM-DDTHH:MM" by its 16 bytes, and a day "YYYY-MM-DD" by its 10, with
 * their epoch ms. */
typedef struct minute_entry {
    uint64_t key[2];
    int64_t ms;
} minute_entry;

typedef struct day_entry {
    uint64_t key;
    uint16_t dd;
    int64_t ms;
} day_entry;

struct weir_decoder {
    field_path key, user, ts;
    int global;
    want_set want; /* the first part of each path, once each */
    int idx[3];    /* of key, user and timestamp in `want` */
    /* The last two minutes and days of ISO-8601 timestamps, most recent first. */
    minute_entry minutes[2];
    day_entry days[2];
    int n_minutes, n_days;
    weir_ts_unit unit;
    size_t max_record;
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
            return -2; /* out of memory */
        fp->lens[fp->n++] = len;
        if (!dot)
            return 0;
        p = dot + 1;
    }
}

static inline uint64_t len_bit(size_t n)
{
    return 1ull << (n < 63 ? n : 63);
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
        int pr = path_init(paths[i], v);
        if (pr != 0) {
            if (pr == -1 && errstr && errstr_size)
                snprintf(errstr, errstr_size,
                         "%s: invalid value \"%s\": accepted values are field names or dotted "
                         "paths of at most %d non-empty parts",
                         names[i], v, MAX_PATH_DEPTH);
            weir_decoder_destroy(d);
            return NULL;
        }
    }
    /* The wanted top-level members: the first part of each path, once each. */
    want_set *w = &d->want;
    for (int i = 0; i < 3; i++) {
        d->idx[i] = 0;
        if (i == 0 && d->global)
            continue;
        int j = 0;
        while (j < w->n && !(w->len[j] == paths[i]->lens[0] &&
                             !memcmp(w->key[j], paths[i]->parts[0], w->len[j])))
            j++;
        if (j == w->n) {
            w->key[j] = paths[i]->parts[0];
            w->len[j] = paths[i]->lens[0];
            w->lens |= len_bit(w->len[j]);
            w->n++;
        }
        d->idx[i] = j;
    }
    w->direct = 1;
    for (int j = 0; j < w->n; j++) {
        for (int k = 0; k < j; k++)
            if (w->len[k] == w->len[j])
                w->direct = 0;
        if (w->len[j] >= 63)
            w->direct = 0;
        else
            w->by_len[w->len[j]] = (uint8_t)j;
    }
    const char *unit = weir_conf_get(conf, "timestamp.unit");
    d->unit = !strcmp(unit, "s")    ? WEIR_TS_SECONDS
              : !strcmp(unit, "ms") ? WEIR_TS_MILLIS
                                    : WEIR_TS_AUTO;
    d->max_record = (size_t)weir_conf_get_int(conf, "input.max.record.bytes");
    return d;
}

void weir_decoder_destroy(weir_decoder *d)
{
    if (!d)
        return;
    path_free(&d->key);
    path_free(&d->user);
    path_free(&d->ts);
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

/* Length of the valid UTF-8 sequence of two to four bytes at s (s[0] >= 0x80), or 0
 * (RFC 3629: no overlongs, no surrogates, at most U+10FFFF). */
static size_t utf8_seq(const unsigned char *s, const unsigned char *e)
{
    unsigned char c = s[0];
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
    if ((size_t)(e - s) < len)
        return 0;
    for (size_t k = 1; k < len; k++) {
        if ((s[k] & 0xC0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[k] & 0x3F);
    }
    if ((len == 3 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) ||
        (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)))
        return 0;
    return len;
}

/* UTF-8 validation of a whole record that also refuses NUL bytes. Only used to name the
 * reason of a record the scan refused: the scan itself checks the bytes of each string
 * as it passes them, and a record it accepts has no other bytes above 0x7F. */
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
        if (s[i] == 0)
            return 0;
        if (s[i] < 0x80) {
            i++;
            continue;
        }
        size_t len = utf8_seq(s + i, s + n);
        if (!len)
            return 0;
        i += len;
    }
    return 1;
}

/* A scanned JSON value: its bytes (a string's without quotes, a container's with its
 * brackets), its type ('s', 'n', 't', 'f', 'z' for null, 'o', 'a'; 0 when absent) and
 * whether a string has escapes. */
typedef struct jv {
    const char *p;
    size_t n;
    char type;
    char esc;
} jv;

#define ALWAYS_INLINE inline __attribute__((always_inline))

static ALWAYS_INLINE const char *skip_ws(const char *p, const char *e)
{
    /* Records rarely hold whitespace: one comparison sees that there is none. */
    while (p < e && (unsigned char)*p <= ' ' &&
           (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t'))
        p++;
    return p;
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
static const char *scan_string_slow(const char *p, const char *e, const char *lo, char *esc)
{
    for (;;) {
        if (p >= e)
            return NULL;
        unsigned char c = (unsigned char)*p;
        if (c == '"')
            return p + 1;
        if (c >= 0x80) {
            size_t n = utf8_seq((const unsigned char *)p, (const unsigned char *)e);
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
                if (e - p < 5 || weir__hexval(p[1]) < 0 || weir__hexval(p[2]) < 0 ||
                    weir__hexval(p[3]) < 0 || weir__hexval(p[4]) < 0)
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

static const char *scan_number(const char *p, const char *e)
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

static const char *scan_object(const char *p, const char *e, const char *lo, int depth);
static const char *scan_array(const char *p, const char *e, const char *lo, int depth);

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
static const char *scan_array(const char *p, const char *e, const char *lo, int depth)
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

/* p at '{'; returns the position after '}'. Members whose key is in `w` (may be NULL)
 * are described in found[i] (the last duplicate wins, as in most parsers). */
static ALWAYS_INLINE const char *object_body(const char *p, const char *e, const char *lo,
                                             int depth, const want_set *w, jv *found)
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
        jv v;
        if (!(p = scan_value(p, e, lo, depth, &v)))
            return NULL;
        if (w && (w->lens & len_bit(klen))) {
            if (w->direct) {
                int i = w->by_len[klen];
                if (same_bytes(k, w->key[i], klen))
                    found[i] = v;
            } else {
                for (int i = 0; i < w->n; i++)
                    if (klen == w->len[i] && same_bytes(k, w->key[i], klen))
                        found[i] = v;
            }
        }
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

static const char *scan_object(const char *p, const char *e, const char *lo, int depth)
{
    return object_body(p, e, lo, depth, NULL, NULL);
}

/* The same scan, noting the members of `w`: the record's top level and nested paths. */
static const char *scan_object_want(const char *p, const char *e, const char *lo, int depth,
                                    const want_set *w, jv *found)
{
    return object_body(p, e, lo, depth, w, found);
}

/* After a failed scan: was it because of nesting deeper than MAX_NESTING? */
static int depth_exceeded(const char *p, const char *e)
{
    int depth = 0, in_str = 0;
    for (; p < e; p++) {
        char c = *p;
        if (in_str) {
            if (c == '\\')
                p++;
            else if (c == '"')
                in_str = 0;
        } else if (c == '"') {
            in_str = 1;
        } else if (c == '{' || c == '[') {
            if (++depth > MAX_NESTING)
                return 1;
        } else if (c == '}' || c == ']') {
            depth--;
        }
    }
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
            if (i + 5 > n || weir__hex4(s + i + 1, &cp) != 0)
                return -1;
            i += 4;
            if (cp >= 0xD800 && cp <= 0xDBFF) {
                uint32_t lo;
                if (i + 7 > n || s[i + 1] != '\\' || s[i + 2] != 'u' ||
                    weir__hex4(s + i + 3, &lo) != 0 || lo < 0xDC00 || lo > 0xDFFF)
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
static ALWAYS_INLINE int text_value(weir_decoder *d, const jv *v, weir_slice *out)
{
    if (v->type == 's') {
        if (v->esc)
            return unescape(d, v->p, v->n, out);
        out->ptr = v->p;
        out->len = v->n;
        return 0;
    }
    if (v->type != 'n')
        return -1;
    for (size_t i = v->p[0] == '-' ? 1 : 0; i < v->n; i++)
        if (v->p[i] < '0' || v->p[i] > '9')
            return -1;
    out->ptr = v->p;
    out->len = v->n;
    return 0;
}

/* Parses an integer count of seconds or milliseconds (SEMANTICS.md). A number with a
 * fraction or an exponent (1700000000.5, 1.7e9) is not one: a producer writing such times is
 * told so by the bad_timestamp count and the dead letters, rather than having its events
 * land, perhaps in the wrong window, by a rule the contract does not state. */
static int number_ts(const char *s, size_t n, weir_ts_unit unit, int64_t *out)
{
    size_t i = 0;
    int neg = 0;
    if (i < n && (s[i] == '-' || s[i] == '+'))
        neg = s[i++] == '-';
    if (i == n)
        return -1;
    int64_t v = 0;
    for (; i < n; i++) {
        if (s[i] < '0' || s[i] > '9' || v > (INT64_MAX - 9) / 10)
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    if (unit == WEIR_TS_AUTO)
        unit = v < 100000000000LL ? WEIR_TS_SECONDS : WEIR_TS_MILLIS;
    if (unit == WEIR_TS_SECONDS) {
        if (v > INT64_MAX / 1000)
            return -1;
        v *= 1000;
    }
    /* Keep clear of the infinities used by watermarks. */
    if (v > INT64_MAX / 4)
        return -1;
    *out = neg ? -v : v;
    return 0;
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

/* An ISO-8601 date-time is read in two parts: the first 16 bytes "YYYY-MM-DDTHH:MM" give
 * the minute (which the decoder caches: consecutive events share it), the rest
 * ":SS[.fff][offset]" the milliseconds from there. */
#define ISO_MINUTE_LEN 16

/* "YYYY-MM-DD" to epoch ms of that day. */
static int iso_day(const char *s, int64_t *out_ms)
{
    int y, mo, d;
    if (digits(s, 4, &y) || s[4] != '-' || digits(s + 5, 2, &mo) || s[7] != '-' ||
        digits(s + 8, 2, &d))
        return -1;
    if (mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo))
        return -1;
    *out_ms = days_from_civil(y, mo, d) * 86400000;
    return 0;
}

/* "THH:MM" (or 't', ' ' for 'T') to ms from the start of the day. */
static int iso_hour_minute(const char *s, int64_t *out_ms)
{
    int h, mi;
    if ((s[0] != 'T' && s[0] != 't' && s[0] != ' ') || digits(s + 1, 2, &h) || s[3] != ':' ||
        digits(s + 4, 2, &mi) || h > 23 || mi > 59)
        return -1;
    *out_ms = (h * 60 + mi) * 60000;
    return 0;
}

static int iso_minute(const char *s, int64_t *out_ms)
{
    int64_t day, hm;
    if (iso_day(s, &day) != 0 || iso_hour_minute(s + 10, &hm) != 0)
        return -1;
    *out_ms = day + hm;
    return 0;
}

/* s holds the n >= 3 bytes after the minute. */
static int iso_rest(const char *s, size_t n, int64_t *out_ms)
{
    if (s[0] != ':' || !is_digit(s[1]) || !is_digit(s[2]))
        return -1;
    int sec = (s[1] - '0') * 10 + (s[2] - '0');
    if (sec > 60)
        return -1;
    size_t i = 3;
    int64_t frac = 0;
    if (i < n && (s[i] == '.' || s[i] == ',')) {
        i++;
        int64_t scale = 100;
        size_t nd = 0;
        while (i < n && is_digit(s[i])) {
            frac += (s[i] - '0') * scale;
            scale /= 10;
            i++;
            nd++;
        }
        if (!nd)
            return -1;
    }
    int64_t offset_min = 0;
    if (i < n) {
        if ((s[i] == 'Z' || s[i] == 'z') && i + 1 == n) {
            i++;
        } else if (s[i] == '+' || s[i] == '-') {
            int sign = s[i] == '-' ? -1 : 1;
            int oh, om;
            if (i + 6 == n && s[i + 3] == ':' && !digits(s + i + 1, 2, &oh) &&
                !digits(s + i + 4, 2, &om))
                ;
            else if (i + 5 == n && !digits(s + i + 1, 2, &oh) && !digits(s + i + 3, 2, &om))
                ;
            else if (i + 3 == n && !digits(s + i + 1, 2, &oh))
                om = 0;
            else
                return -1;
            if (oh > 23 || om > 59)
                return -1;
            offset_min = sign * (oh * 60 + om);
            i = n;
        } else {
            return -1;
        }
    }
    if (i != n)
        return -1;
    *out_ms = (sec - offset_min * 60) * 1000 + frac;
    return 0;
}

/*
 * A date-time with ISO 8601's expanded year representation, the form weir_format_iso8601
 * writes outside 0000-9999: a sign and 4 to 9 digits ("-0001-12-31T23:59:59.999Z",
 * "+10000-01-01T00:00:00.000Z"), then what follows a four-digit year. Nine digits hold every
 * year of a 64-bit millisecond count; a time past that range is refused.
 */
static int iso_expanded(const char *s, size_t len, int64_t *out_ms)
{
    size_t k = 1;
    int64_t y = 0;
    while (k < len && k <= 9 && is_digit(s[k]))
        y = y * 10 + (s[k++] - '0');
    if (k < 5 || k == len || is_digit(s[k]))
        return -1;
    if (s[0] == '-')
        y = -y;
    /* The rest as after a four-digit year: "-MM-DDTHH:MM:SS[.fff][offset]". */
    const char *t = s + k;
    size_t n = len - k;
    int mo, d;
    int64_t hm, rest;
    if (n < 15 || t[0] != '-' || digits(t + 1, 2, &mo) || t[3] != '-' || digits(t + 4, 2, &d) ||
        mo < 1 || mo > 12 || d < 1 || d > days_in_month((int)y, mo) ||
        iso_hour_minute(t + 6, &hm) != 0 || iso_rest(t + 12, n - 12, &rest) != 0)
        return -1;
    /* days * 86400000 + within, where at either end of the range the day's start alone may
     * not fit: within is folded into whole days and a remainder, and the remainder added to
     * a multiple of a day that lies between zero and the total, so that nothing but an
     * out-of-range total overflows. */
    int64_t within = hm + rest;
    int64_t q = within / 86400000 - (within % 86400000 < 0);
    int64_t r = within - q * 86400000;
    int64_t days = days_from_civil(y, mo, d) + q;
    if (days < 0) {
        days++;
        r -= 86400000;
    }
    int64_t ms;
    if (__builtin_mul_overflow(days, (int64_t)86400000, &ms) || __builtin_add_overflow(ms, r, &ms))
        return -1;
    *out_ms = ms;
    return 0;
}

int weir_parse_iso8601(const char *s, size_t len, int64_t *out_ms)
{
    if (len && (s[0] == '+' || s[0] == '-'))
        return iso_expanded(s, len, out_ms);
    int64_t minute, rest;
    if (len < 19 || iso_minute(s, &minute) != 0 ||
        iso_rest(s + ISO_MINUTE_LEN, len - ISO_MINUTE_LEN, &rest) != 0)
        return -1;
    *out_ms = minute + rest;
    return 0;
}

/* Writes the n-digit decimal of v (v < 10^n) at b. */
static ALWAYS_INLINE void put_digits(char *b, unsigned v, int n)
{
    for (int i = n - 1; i >= 0; i--) {
        b[i] = (char)('0' + v % 10);
        v /= 10;
    }
}

size_t weir_format_iso8601(int64_t ms, char *buf)
{
    /* Floor divisions, for times before the epoch, that cannot overflow at either end of the
     * range (a window of 2^63 - 1 ms has its start there). */
    int64_t secs = ms / 1000 - (ms % 1000 < 0);
    int msec = (int)(ms % 1000 + (ms % 1000 < 0 ? 1000 : 0));
    int64_t days = secs / 86400 - (secs % 86400 < 0);
    int64_t rem = secs % 86400 + (secs % 86400 < 0 ? 86400 : 0);
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
    /* Outside 0000-9999, ISO 8601's expanded representation: a sign and at least four
     * digits (-0001 is 2 BC, +10000), which weir_parse_iso8601 reads back. */
    if (y < 0 || y > 9999)
        return (size_t)snprintf(buf, 32, "%c%04lld-%02d-%02dT%02d:%02d:%02d.%03dZ",
                                y < 0 ? '-' : '+', (long long)(y < 0 ? -y : y), (int)m, (int)d,
                                (int)(rem / 3600), (int)(rem / 60 % 60), (int)(rem % 60), msec);
    /* Firings format two of these each: by hand, as snprintf costs ten times more. */
    memcpy(buf, "0000-00-00T00:00:00.000Z", 25);
    put_digits(buf, (unsigned)y, 4);
    put_digits(buf + 5, (unsigned)m, 2);
    put_digits(buf + 8, (unsigned)d, 2);
    put_digits(buf + 11, (unsigned)(rem / 3600), 2);
    put_digits(buf + 14, (unsigned)(rem / 60 % 60), 2);
    put_digits(buf + 17, (unsigned)(rem % 60), 2);
    put_digits(buf + 20, (unsigned)msec, 3);
    return 24;
}

/* The epoch ms of the minute of the ISO-8601 text s, whose first 16 bytes are a, b, when
 * it is not the last minute seen. Events out of order alternate between two minutes
 * (and around midnight two days), so the last two of each are kept. Entries are cached
 * only once valid, so a hit means the same valid bytes as before. */
static int new_minute(weir_decoder *d, const char *s, uint64_t a, uint64_t b, int64_t *out)
{
    minute_entry m;
    if (d->n_minutes > 1 && d->minutes[1].key[0] == a && d->minutes[1].key[1] == b) {
        m = d->minutes[1];
    } else {
        uint16_t dd;
        memcpy(&dd, s + 8, 2);
        int64_t day = 0, hm;
        int k = 0;
        while (k < d->n_days && !(d->days[k].key == a && d->days[k].dd == dd))
            k++;
        if (k < d->n_days) {
            day = d->days[k].ms;
        } else {
            if (iso_day(s, &day) != 0)
                return -1;
            d->days[1] = d->days[0];
            d->days[0] = (day_entry){a, dd, day};
            d->n_days += d->n_days < 2;
        }
        if (iso_hour_minute(s + 10, &hm) != 0)
            return -1;
        m = (minute_entry){{a, b}, day + hm};
        d->n_minutes += d->n_minutes < 2;
    }
    d->minutes[1] = d->minutes[0];
    d->minutes[0] = m;
    *out = m.ms;
    return 0;
}

/* A date-time with an expanded year ("-0001-12-31T23:59:59.999Z"), rare enough to take
 * weir_parse_iso8601 uncached, within the same bounds as a number. */
static int expanded_ts(const char *s, size_t n, int64_t *out)
{
    int64_t v;
    if (weir_parse_iso8601(s, n, &v) != 0 || v > INT64_MAX / 4 || v < -(INT64_MAX / 4))
        return -1;
    *out = v;
    return 0;
}

static ALWAYS_INLINE int parse_ts(weir_decoder *d, const jv *v, int64_t *out)
{
    if (v->type == 'n')
        return number_ts(v->p, v->n, d->unit, out);
    if (v->type != 's')
        return -1;
    /* A string with escapes is the text it spells ("\u0031700000000" is "1700000000"). */
    weir_slice t = {v->p, v->n};
    if (v->esc && unescape(d, v->p, v->n, &t) != 0)
        return -1;
    if (t.len < 19 || t.ptr[4] != '-') {
        if (number_ts(t.ptr, t.len, d->unit, out) == 0)
            return 0;
        return t.len && (t.ptr[0] == '+' || t.ptr[0] == '-') ? expanded_ts(t.ptr, t.len, out) : -1;
    }
    uint64_t a, b;
    memcpy(&a, t.ptr, 8);
    memcpy(&b, t.ptr + 8, 8);
    int64_t minute, rest;
    if (d->n_minutes && d->minutes[0].key[0] == a && d->minutes[0].key[1] == b)
        minute = d->minutes[0].ms;
    else if (new_minute(d, t.ptr, a, b, &minute) != 0)
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
    if (iso_rest(s, t.len - ISO_MINUTE_LEN, &rest) != 0)
        return -1;
    *out = minute + rest;
    return 0;
}

/* Finds `p` starting from a top-level member already located as `v`. */
static ALWAYS_INLINE int resolve(const field_path *p, jv *v, int depth)
{
    for (int level = 1; level < p->n; level++) {
        if (v->type != 'o')
            return -1;
        want_set w = {.n = 1,
                      .lens = len_bit(p->lens[level]),
                      .key = {p->parts[level]},
                      .len = {p->lens[level]}};
        jv found[1] = {{0}};
        if (!scan_object_want(v->p, v->p + v->n, v->p, depth + level, &w, found) ||
            found[0].type == 0)
            return -1;
        *v = found[0];
    }
    return v->type ? 0 : -1;
}

/* Why a record the scan refused is invalid, in the order the checks are documented:
 * encoding first, then nesting depth, then syntax. */
static weir_rec_status refused(const char *rec, size_t len)
{
    if (!valid_utf8((const unsigned char *)rec, len))
        return WEIR_REC_BAD_ENCODING;
    const char *e = rec + len;
    return depth_exceeded(skip_ws(rec, e), e) ? WEIR_REC_TOO_LARGE : WEIR_REC_NOT_JSON;
}

weir_rec_status weir_decoder_decode(weir_decoder *d, const char *rec, size_t len, weir_event *out)
{
    if (len > d->max_record)
        return WEIR_REC_TOO_LARGE;
    const char *e = rec + len;
    const char *p = skip_ws(rec, e);
    if (p == e)
        return refused(rec, len);
    jv found[3] = {{0}, {0}, {0}};
    if (*p == '{') {
        const char *end = scan_object_want(p, e, rec, 1, &d->want, found);
        if (!end || skip_ws(end, e) != e)
            return refused(rec, len);
    } else {
        jv root;
        const char *end = scan_value(p, e, rec, 1, &root);
        if (end && skip_ws(end, e) == e)
            return WEIR_REC_NOT_OBJECT;
        return refused(rec, len);
    }
    jv v;
    if (d->global) {
        out->key.ptr = "";
        out->key.len = 0;
        out->key_hash = 0;
    } else {
        v = found[d->idx[0]];
        if (resolve(&d->key, &v, 1) != 0 || text_value(d, &v, &out->key) != 0)
            return WEIR_REC_NO_KEY;
        out->key_hash = XXH3_64bits(out->key.ptr, out->key.len);
    }
    v = found[d->idx[1]];
    if (resolve(&d->user, &v, 1) != 0 || text_value(d, &v, &out->user) != 0)
        return WEIR_REC_NO_USER;
    v = found[d->idx[2]];
    if (resolve(&d->ts, &v, 1) != 0 || parse_ts(d, &v, &out->ts) != 0)
        return WEIR_REC_BAD_TIMESTAMP;
    XXH128_hash_t h = XXH3_128bits(out->user.ptr, out->user.len);
    out->user_fp[0] = h.low64;
    out->user_fp[1] = h.high64;
    out->raw.ptr = rec;
    out->raw.len = len;
    return WEIR_REC_OK;
}
