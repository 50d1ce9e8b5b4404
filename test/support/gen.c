/* A deterministic generator of raw events: disorder, late records, encodings, malformed lines. */
#include "gen.h"

#include "weir/event.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void weir_gen_defaults(weir_gen_params *p)
{
    memset(p, 0, sizeof *p);
    p->seed = 1;
    p->events = 1000000;
    p->products = 10000;
    p->zipf_s = 1.0;
    p->users = 1000000;
    p->rate = 100000;
    p->start_ms = 1704067200000LL; /* 2024-01-01T00:00:00Z */
    p->disorder_ms = 5000;
    p->late_max_ms = 180000;
}

uint64_t weir_gen_next(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static double unit(uint64_t *s)
{
    return (double)(weir_gen_next(s) >> 11) / 9007199254740992.0;
}

/* Zipf sampling by inverting a precomputed cumulative table. */
typedef struct zipf {
    double *cdf;
    uint32_t n;
} zipf;

static int zipf_init(zipf *z, uint32_t n, double s)
{
    z->n = n;
    z->cdf = NULL;
    if (s <= 0)
        return 0;
    z->cdf = malloc(n * sizeof(double));
    if (!z->cdf)
        return -1;
    double sum = 0;
    for (uint32_t i = 0; i < n; i++) {
        sum += 1.0 / pow(i + 1, s);
        z->cdf[i] = sum;
    }
    for (uint32_t i = 0; i < n; i++)
        z->cdf[i] /= sum;
    return 0;
}

static uint32_t zipf_draw(const zipf *z, uint64_t *s)
{
    if (!z->cdf)
        return (uint32_t)(weir_gen_next(s) % z->n);
    double u = unit(s);
    uint32_t lo = 0, hi = z->n - 1;
    while (lo < hi) {
        uint32_t mid = (lo + hi) / 2;
        if (z->cdf[mid] < u)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static void event_at(const weir_gen_params *p, const zipf *z, uint64_t i, uint64_t *s,
                     weir_gen_event *e)
{
    int64_t slot = p->start_ms + (int64_t)(i * 1000 / (p->rate ? p->rate : 1));
    int64_t delay =
        p->disorder_ms ? (int64_t)(weir_gen_next(s) % (uint64_t)(p->disorder_ms + 1)) : 0;
    if (p->late_fraction > 0 && unit(s) < p->late_fraction && p->late_max_ms > p->disorder_ms)
        delay = p->disorder_ms +
                (int64_t)(weir_gen_next(s) % (uint64_t)(p->late_max_ms - p->disorder_ms)) + 1;
    e->ts = slot - delay;
    e->product = zipf_draw(z, s);
    e->user = (uint32_t)(weir_gen_next(s) % p->users);
}

void weir_gen_events(const weir_gen_params *p, weir_gen_event *out)
{
    uint64_t s = p->seed;
    zipf z;
    zipf_init(&z, p->products, p->zipf_s);
    for (uint64_t i = 0; i < p->events; i++)
        event_at(p, &z, i, &s, &out[i]);
    free(z.cdf);
}

static const char *const TYPES[] = {"VIEW_PRODUCT", "ADD_TO_CART", "PURCHASE", "WISHLIST"};

/* ISO-8601 local time at `offset_min` from UTC: the library's formatter on the shifted
 * instant, without ".000" for whole seconds, with the offset instead of Z. buf >= 40 bytes. */
static void iso(int64_t ms, char *buf, int offset_min)
{
    int64_t t = ms + (int64_t)offset_min * 60000;
    size_t n = weir_format_iso8601(t, buf) - 1; /* drop the Z */
    if (((t % 1000) + 1000) % 1000 == 0)
        n -= 4; /* and ".000" */
    if (offset_min == 0)
        sprintf(buf + n, "Z");
    else
        sprintf(buf + n, "%c%02d:%02d", offset_min < 0 ? '-' : '+', abs(offset_min) / 60,
                abs(offset_min) % 60);
}

static void bad_record(FILE *out, uint64_t *s, const weir_gen_event *e)
{
    switch (weir_gen_next(s) % 14) {
    case 0:
        fprintf(out, "{\"user_id\":\"u%u\",\"product_id\":\"p%u\",\"timest\n", e->user, e->product);
        break;
    case 1: fprintf(out, "[1,2,3]\n"); break;
    case 2: fprintf(out, "\"just a string\"\n"); break;
    case 3:
        fprintf(out, "{\"product_id\":\"p%u\",\"timestamp\":%lld}\n", e->product, (long long)e->ts);
        break;
    case 4:
        fprintf(out, "{\"user_id\":\"u%u\",\"timestamp\":%lld}\n", e->user, (long long)e->ts);
        break;
    case 5:
        fprintf(out, "{\"user_id\":\"u%u\",\"product_id\":\"p%u\"}\n", e->user, e->product);
        break;
    case 6:
        fprintf(out, "{\"user_id\":\"u%u\",\"product_id\":\"p%u\",\"timestamp\":\"yesterday\"}\n",
                e->user, e->product);
        break;
    case 7:
        fprintf(out, "{\"user_id\":true,\"product_id\":\"p%u\",\"timestamp\":%lld}\n", e->product,
                (long long)e->ts);
        break;
    case 8:
        fprintf(out, "{\"user_id\":\"u%u\",\"product_id\":{\"id\":1},\"timestamp\":%lld}\n",
                e->user, (long long)e->ts);
        break;
    case 9: fprintf(out, "\n"); break;
    case 10:
        fprintf(out, "{\"user_id\":\"u\xff\xfe%u\",\"product_id\":\"p%u\",\"timestamp\":%lld}\n",
                e->user, e->product, (long long)e->ts);
        break;
    case 11:
        fputs("{\"user_id\":\"u1\",\"product_id\":\"p1\",", out);
        fputc(0, out);
        fprintf(out, "\"timestamp\":%lld}\n", (long long)e->ts);
        break;
    case 12:
        for (int i = 0; i < 200; i++)
            fputc('[', out);
        for (int i = 0; i < 200; i++)
            fputc(']', out);
        fputc('\n', out);
        break;
    default:
        fprintf(out, "{\"user_id\":\"u%u\" \"product_id\":\"p%u\",\"timestamp\":%lld}\n", e->user,
                e->product, (long long)e->ts);
        break;
    }
}

int weir_gen_write(const weir_gen_params *p, FILE *out)
{
    uint64_t s = p->seed;
    uint64_t s2 = p->seed ^ 0x5bd1e995u;
    zipf z;
    if (zipf_init(&z, p->products, p->zipf_s) != 0)
        return -1;
    char ts[64];
    for (uint64_t i = 0; i < p->events; i++) {
        weir_gen_event e;
        event_at(p, &z, i, &s, &e);
        if (p->bad_fraction > 0 && unit(&s2) < p->bad_fraction) {
            bad_record(out, &s2, &e);
            continue;
        }
        const char *type = TYPES[weir_gen_next(&s2) % 4];
        int enc = p->mixed_encodings ? (int)(weir_gen_next(&s2) % 4) : 0;
        switch (enc) {
        case 0: iso(e.ts, ts, 0); break;
        case 1: iso(e.ts, ts, (int)(weir_gen_next(&s2) % 3) * 90 - 90); break;
        case 2:
            snprintf(ts, sizeof ts, "%lld",
                     (long long)(e.ts >= 0 ? e.ts / 1000 : -((-e.ts + 999) / 1000)));
            break;
        default: snprintf(ts, sizeof ts, "%lld", (long long)e.ts); break;
        }
        int quoted_ts = enc < 2;
        int int_key = p->mixed_encodings && (weir_gen_next(&s2) & 1);
        char key[32];
        if (int_key)
            snprintf(key, sizeof key, "%u", e.product);
        else
            snprintf(key, sizeof key, "\"%u\"", e.product);
        fprintf(out,
                "{\"user_id\":\"u%u\",\"product_id\":%s,\"event_type\":\"%s\",\"timestamp\":%s%s%s,"
                "\"metadata\":{\"session_id\":\"s%u\"}}\n",
                e.user, key, type, quoted_ts ? "\"" : "", ts, quoted_ts ? "\"" : "",
                e.user % 997 + (uint32_t)(i / 5000));
        if (ferror(out)) {
            free(z.cdf);
            return -1;
        }
    }
    free(z.cdf);
    return ferror(out) ? -1 : 0;
}
