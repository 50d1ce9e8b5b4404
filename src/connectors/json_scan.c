/* The cold parts of the JSON scanner (json_scan.h): scratch space, UTF-8, reasons for refused
 * records, unescaping, and timestamps. */
#include "connectors/json_scan.h"
#include "util/hex.h"

#include <stdio.h>
#include <stdlib.h>

void weir__scratch_reset(weir__scratch *d)
{
    for (size_t i = 0; i < d->n_old; i++)
        free(d->old[i]);
    d->n_old = 0;
    d->len = 0;
}

void weir__scratch_free(weir__scratch *d)
{
    weir__scratch_reset(d);
    free(d->old);
    free(d->cur);
    memset(d, 0, sizeof *d);
}

char *weir__scratch_alloc(weir__scratch *d, size_t n)
{
    if (d->len + n > d->cap) {
        char **old = realloc(d->old, (d->n_old + 1) * sizeof(char *));
        if (!old)
            return NULL;
        d->old = old;
        size_t cap = d->cap ? d->cap : 4096;
        while (cap < n)
            cap *= 2;
        char *fresh = malloc(cap);
        if (!fresh)
            return NULL;
        if (d->cur)
            d->old[d->n_old++] = d->cur;
        d->cur = fresh;
        d->cap = cap;
        d->len = 0;
    }
    char *p = d->cur + d->len;
    d->len += n;
    return p;
}

size_t weir__utf8_seq(const unsigned char *s, const unsigned char *e)
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
        size_t len = weir__utf8_seq(s + i, s + n);
        if (!len)
            return 0;
        i += len;
    }
    return 1;
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

weir_rec_status weir__refused(const char *rec, size_t len)
{
    if (!valid_utf8((const unsigned char *)rec, len))
        return WEIR_REC_BAD_ENCODING;
    const char *e = rec + len;
    return depth_exceeded(skip_ws(rec, e), e) ? WEIR_REC_TOO_LARGE : WEIR_REC_NOT_JSON;
}

int weir__unescape(weir__scratch *d, const char *s, size_t n, weir_slice *out)
{
    char *o = weir__scratch_alloc(d, n); /* unescaping never grows the text */
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

/* Parses an integer count of seconds or milliseconds (SEMANTICS.md). A number with a
 * fraction or an exponent (1700000000.5, 1.7e9) is not one: a producer writing such times is
 * told so by the bad_timestamp count and the dead letters, rather than having its events
 * land, perhaps in the wrong window, by a rule the contract does not state. */
int weir__number_ts(const char *s, size_t n, weir_ts_unit unit, int64_t *out)
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
int weir__iso_rest(const char *s, size_t n, int64_t *out_ms)
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
        iso_hour_minute(t + 6, &hm) != 0 || weir__iso_rest(t + 12, n - 12, &rest) != 0)
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
        weir__iso_rest(s + ISO_MINUTE_LEN, len - ISO_MINUTE_LEN, &rest) != 0)
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

int weir__expanded_ts(const char *s, size_t n, int64_t *out)
{
    int64_t v;
    if (weir_parse_iso8601(s, n, &v) != 0 || v > INT64_MAX / 4 || v < -(INT64_MAX / 4))
        return -1;
    *out = v;
    return 0;
}

/* The epoch ms of the minute of the ISO-8601 text s, whose first 16 bytes are a, b, when
 * it is not the last minute seen. Events out of order alternate between two minutes
 * (and around midnight two days), so the last two of each are kept. Entries are cached
 * only once valid, so a hit means the same valid bytes as before. */
int weir__new_minute(weir__ts_cache *d, const char *s, uint64_t a, uint64_t b, int64_t *out)
{
    weir__minute_entry m;
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
            d->days[0] = (weir__day_entry){a, dd, day};
            d->n_days += d->n_days < 2;
        }
        if (iso_hour_minute(s + 10, &hm) != 0)
            return -1;
        m = (weir__minute_entry){{a, b}, day + hm};
        d->n_minutes += d->n_minutes < 2;
    }
    d->minutes[1] = d->minutes[0];
    d->minutes[0] = m;
    *out = m.ms;
    return 0;
}
