/* The Nexmark event generator: Beam's model of people, auctions and bids, drawn from
 * counter-based splitmix64 streams so that every event is a pure function of (seed, n).
 *
 * Design. Apache Beam's Nexmark (sdks/java/testing/nexmark, GeneratorConfig, PersonGenerator,
 * AuctionGenerator, BidGenerator, PriceGenerator, StringsGenerator) seeds a java.util.Random
 * with each event's number and draws that event's fields from it; nexmark/nexmark (the suite
 * Flink, RisingWave and Arroyo publish against) adds a bid's channel and URL. This file keeps
 * the model (what is drawn, with which probabilities and ranges, and how ids relate to the
 * event number) but not Java's random sequence, so its events are Beam-like, not Beam's:
 *
 * - Event n is a person when n % 50 == 0, an auction when n % 50 is 1..3, else a bid. The
 *   newest person at event n is n / 50; the newest auction is 3 * (n / 50) + min(n % 50, 3) - 1
 *   (Beam's lastBase0PersonId / lastBase0AuctionId); ids add 1000.
 * - A seller is a hot seller with probability 3/4 (hotSellersRatio 4): the first person of
 *   the newest block of 100; else one of the newest 1000 people plus 10 not yet made
 *   (numActivePeople, PERSON_ID_LEAD). A bidder is hot with probability 3/4 (hotBiddersRatio
 *   4): the second person of that block; else drawn as a seller. A bid's auction is hot with
 *   probability 1/2 (hotAuctionRatio 2): the first auction of the newest block of 100; else
 *   one of the newest 100 auctions plus 10 not yet made (numInFlightAuctions, AUCTION_ID_LEAD).
 * - Prices: round(10^(6u) * 100) cents for u uniform in [0, 1) (nextPrice); reserve =
 *   initial bid + another price. Category 10..14. An auction lasts 1 + uniform(0, 2h) ms,
 *   h the event time until 1666 events later (when numInFlightAuctions = 100 more auctions
 *   will have been made), so about 100 auctions are open at once.
 * - Channels as nexmark/nexmark: with probability 1/2 one of Google, Facebook, Baidu, Apple,
 *   each with a fixed URL; else "channel-<c>", c uniform in 0..9999, whose URL is fixed per
 *   channel and carries "&channel_id=<Java's Math.abs(Integer.reverse(c))>" for 9 channels of
 *   10. URLs are https://www.nexmark.com/<s>/<s>/<s>/item.htm?query=1, each s 3 or 4 of
 *   [a-z_]. nexmark/nexmark draws the URLs from an unseeded Random; here they derive from the
 *   seed.
 * - Free text (names, e-mail, credit card, item name, description, URL, extra) follows
 *   StringsGenerator: nextString(max) has 3..max-1 characters, a space with probability 1/13
 *   else a letter, then trimmed; extra pads an event to Beam's average size (person 200,
 *   auction 500, bid 100 bytes) within +-20 %.
 *
 * Randomness. k = mix(seed ^ c) for four constants c gives four keys: numbers, free text,
 * channel URLs, delays. Event n's number stream starts at state mix(k_num + n * C) and steps as
 * splitmix64 (state += golden ratio, output mix(state)); its text stream likewise from k_text.
 * Numeric and categorical fields (ids, prices, times, category, city, state, channel) come
 * from the number stream and free text from the text stream, so leaving free text out
 * (params.strings = 0) changes no other field. mix is splitmix64's finalizer (Stafford's
 * variant 13), a bijection of 64-bit words. Event n's delay is drawn from mix(k_delay + n * C).
 */
#include "weir/nexmark.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/errbuf.h"
#include "util/hex.h"

#define PROPORTION_DENOMINATOR 50
#define AUCTION_PROPORTION     3
#define HOT_SELLERS_RATIO      4
#define HOT_BIDDERS_RATIO      4
#define HOT_AUCTION_RATIO      2
#define HOT_BATCH              100 /* Beam's HOT_SELLER_RATIO, HOT_BIDDER_RATIO, HOT_AUCTION_RATIO */
#define NUM_ACTIVE_PEOPLE      1000
#define NUM_IN_FLIGHT_AUCTIONS 100
#define ID_LEAD                10
#define NUM_CATEGORIES         5
#define HOT_CHANNELS_RATIO     2
#define CHANNELS_NUMBER        10000
#define AVG_PERSON_BYTES       200
#define AVG_AUCTION_BYTES      500
#define AVG_BID_BYTES          100
#define URL_MAX                96
#define SCRATCH_BYTES          2048

#define GOLDEN  0x9E3779B97F4A7C15ull
#define SPACING 0xD1B54A32D192ED03ull /* odd, unrelated to GOLDEN: event streams start apart */

static const char *const FIRST_NAMES[] = {"Peter", "Paul",  "Luke",  "John",   "Saul",  "Vicky",
                                          "Kate",  "Julie", "Sarah", "Deiter", "Walter"};
static const char *const LAST_NAMES[] = {"Shultz", "Abrams", "Spencer", "White", "Bartels",
                                         "Walton", "Smith",  "Jones",   "Noris"};
static const char *const US_CITIES[] = {"Phoenix",  "Los Angeles", "San Francisco", "Boise",
                                        "Portland", "Bend",        "Redmond",       "Seattle",
                                        "Kent",     "Cheyenne"};
static const char *const US_STATES[] = {"AZ", "CA", "ID", "OR", "WA", "WY"};
static const char *const HOT_CHANNELS[] = {"Google", "Facebook", "Baidu", "Apple"};

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

typedef struct pending {
    int64_t emit; /* date_time + delay */
    uint64_t n;
} pending;

struct weir_nexmark_gen {
    weir_nexmark_params p;
    uint64_t k_num, k_text, k_url, k_delay;
    uint64_t next_n;  /* the next event number not yet output or pending */
    uint64_t count;   /* events output */
    uint64_t delayed; /* of which delayed */
    pending *heap;    /* delayed events not yet output, a min-heap on (emit, n) */
    size_t heap_len, heap_cap;
    char hot_url[COUNT(HOT_CHANNELS)][URL_MAX];
    uint32_t hot_url_len[COUNT(HOT_CHANNELS)];
    char (*chan_url)[URL_MAX];   /* channel-c's URL, made on first use (strings only) */
    uint8_t *chan_url_len;       /* its length, 0 until made */
    char pairs[26 * 26][2];      /* the letter pairs "aa".."zz", for extra */
    char scratch[SCRATCH_BYTES]; /* the current event's strings */
    size_t used;
};

/* ------------------------------------------------------------------ randomness */

static inline uint64_t mix(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

typedef struct rng {
    uint64_t s;
} rng;

static inline rng stream(uint64_t key, uint64_t n)
{
    return (rng){mix(key + n * SPACING)};
}

static inline uint64_t next64(rng *r)
{
    return mix(r->s += GOLDEN);
}

/* Uniform in 0..k-1 for k < 2^32, by multiply and shift (bias below 2^-32 * k). */
static inline uint32_t below32(rng *r, uint32_t k)
{
    return (uint32_t)(((next64(r) >> 32) * (uint64_t)k) >> 32);
}

/* Uniform in 0..k-1 for any k > 0 (modulo bias below k / 2^64). */
static inline uint64_t below64(rng *r, uint64_t k)
{
    return k <= UINT32_MAX ? below32(r, (uint32_t)k) : next64(r) % k;
}

static inline double unit(uint64_t x)
{
    return (double)(x >> 11) * (1.0 / 9007199254740992.0);
}

/* ------------------------------------------------------------------ the model */

void weir_nexmark_params_default(weir_nexmark_params *p)
{
    memset(p, 0, sizeof *p);
    p->seed = 1;
    p->rate = WEIR_NEXMARK_DEFAULT_RATE;
    p->base_time_ms = WEIR_NEXMARK_BASE_TIME_MS;
    p->delayed_share = 0.1;
    p->strings = 1;
}

static inline int64_t last_person0(uint64_t n)
{
    return (int64_t)(n / PROPORTION_DENOMINATOR);
}

static inline int64_t last_auction0(uint64_t n)
{
    int64_t epoch = (int64_t)(n / PROPORTION_DENOMINATOR);
    int64_t off = (int64_t)(n % PROPORTION_DENOMINATOR);
    if (off < 1)
        return epoch * AUCTION_PROPORTION - 1; /* the last auction of the previous epoch */
    if (off > AUCTION_PROPORTION)
        off = AUCTION_PROPORTION;
    return epoch * AUCTION_PROPORTION + off - 1;
}

int64_t weir_nexmark_last_person_id(uint64_t n)
{
    return last_person0(n) + WEIR_NEXMARK_FIRST_PERSON_ID;
}

int64_t weir_nexmark_last_auction_id(uint64_t n)
{
    return last_auction0(n) + WEIR_NEXMARK_FIRST_AUCTION_ID;
}

static inline int64_t event_time(const weir_nexmark_params *p, uint64_t n)
{
    /* n * 1000 cannot overflow: n <= 10^15 + 1666 by the parameter bounds. */
    return p->base_time_ms + (int64_t)(n * 1000 / p->rate);
}

/* One of the active people or a few ahead of the newest (Beam's nextBase0PersonId). */
static int64_t next_person0(rng *r, uint64_t n)
{
    int64_t people = last_person0(n) + 1;
    int64_t active = people < NUM_ACTIVE_PEOPLE ? people : NUM_ACTIVE_PEOPLE;
    return people - active + (int64_t)below32(r, (uint32_t)(active + ID_LEAD));
}

/* One of the auctions likely in flight or a few ahead of the newest (nextBase0AuctionId). */
static int64_t next_auction0(rng *r, uint64_t n)
{
    int64_t last = last_auction0(n);
    int64_t min = last > NUM_IN_FLIGHT_AUCTIONS ? last - NUM_IN_FLIGHT_AUCTIONS : 0;
    return min + (int64_t)below32(r, (uint32_t)(last - min + 1 + ID_LEAD));
}

static int64_t next_price(rng *r)
{
    /* 10^(6u) * 100 = e^(6u ln 10) * 100: exp is cheaper than pow. */
    return llround(exp(unit(next64(r)) * 13.815510557964274) * 100.0);
}

/* ------------------------------------------------------------------ strings */

static char *take(weir_nexmark_gen *g, size_t len)
{
    char *s = g->scratch + g->used;
    g->used += len;
    return s;
}

static weir_nexmark_str put(weir_nexmark_gen *g, const char *s, size_t len)
{
    char *d = take(g, len);
    memcpy(d, s, len);
    return (weir_nexmark_str){d, (uint32_t)len};
}

static weir_nexmark_str constant(const char *s)
{
    return (weir_nexmark_str){s, (uint32_t)strlen(s)};
}

/* 3..max-1 characters, each `special` with probability 1/13, else a letter; `special` ' '
 * is trimmed from both ends (Beam's nextString), '_' is kept (nexmark/nexmark's URL parts). */
static size_t next_string(rng *r, int max, char special, char *out)
{
    size_t len = 3 + below32(r, (uint32_t)(max - 3));
    uint64_t bits = 0;
    for (size_t i = 0; i < len; i++) {
        if ((i & 1) == 0)
            bits = next64(r);
        /* One half word gives 0..337 = 13 * 26 values: 26 of them (1/13) are special. */
        uint32_t v = (uint32_t)(((bits & 0xFFFFFFFFu) * 338) >> 32);
        bits >>= 32;
        out[i] = v < 26 ? special : (char)('a' + v % 26);
    }
    if (special != ' ')
        return len;
    size_t a = 0, b = len;
    while (a < b && out[a] == ' ')
        a++;
    while (b > a && out[b - 1] == ' ')
        b--;
    memmove(out, out + a, b - a);
    return b - a;
}

static weir_nexmark_str text(weir_nexmark_gen *g, rng *r, int max)
{
    char *d = g->scratch + g->used;
    size_t len = next_string(r, max, ' ', d);
    g->used += len;
    return (weir_nexmark_str){d, (uint32_t)len};
}

/* Letters making the event about `avg` bytes on average, within +-20 % (Beam's nextExtra). */
static weir_nexmark_str extra(weir_nexmark_gen *g, rng *r, size_t current, size_t avg)
{
    if (current > avg)
        return (weir_nexmark_str){g->scratch, 0};
    size_t want = avg - current;
    size_t delta = (size_t)llround((double)want * 0.2);
    size_t len = want - delta + (delta ? below32(r, (uint32_t)(2 * delta)) : 0);
    char *d = take(g, len + 8); /* whole words are written, the tail then dropped */
    g->used -= 8;
    for (size_t i = 0; i < len; i += 8) {
        /* Two base-676 digits of each 32-bit half (most significant first) give four letters:
         * eight letters a word, stored at once so that the JSON writer's 8-byte loads of
         * them are forwarded from the store. */
        uint64_t x = next64(r), word = 0;
        for (int k = 0; k < 4; k++) {
            uint64_t f = k < 2 ? (x & 0xFFFFFFFFu) : (x >> 32);
            if (k & 1)
                f = (f * 676) & 0xFFFFFFFFu;
            uint16_t pair;
            memcpy(&pair, g->pairs[(f * 676) >> 32], 2);
            word |= (uint64_t)pair << (16 * k);
        }
        memcpy(d + i, &word, 8);
    }
    return (weir_nexmark_str){d, (uint32_t)len};
}

static const char DIGIT_PAIRS[] = "00010203040506070809101112131415161718192021222324"
                                  "25262728293031323334353637383940414243444546474849"
                                  "50515253545556575859606162636465666768697071727374"
                                  "75767778798081828384858687888990919293949596979899";

static size_t put_u64(char *d, uint64_t v)
{
    static const uint64_t POW10[] = {10ull,
                                     100ull,
                                     1000ull,
                                     10000ull,
                                     100000ull,
                                     1000000ull,
                                     10000000ull,
                                     100000000ull,
                                     1000000000ull,
                                     10000000000ull,
                                     100000000000ull,
                                     1000000000000ull,
                                     10000000000000ull,
                                     100000000000000ull,
                                     1000000000000000ull,
                                     10000000000000000ull,
                                     100000000000000000ull,
                                     1000000000000000000ull,
                                     10000000000000000000ull};
    size_t n = 1;
    while (n < 20 && v >= POW10[n - 1])
        n++;
    char *p = d + n;
    while (v >= 100) {
        p -= 2;
        memcpy(p, DIGIT_PAIRS + (v % 100) * 2, 2);
        v /= 100;
    }
    if (v >= 10) {
        p -= 2;
        memcpy(p, DIGIT_PAIRS + v * 2, 2);
    } else {
        *--p = (char)('0' + v);
    }
    return n;
}

static size_t base_url(rng *r, char *out)
{
    static const char head[] = "https://www.nexmark.com/";
    static const char tail[] = "item.htm?query=1";
    size_t n = sizeof head - 1;
    memcpy(out, head, n);
    for (int i = 0; i < 3; i++) {
        n += next_string(r, 5, '_', out + n);
        out[n++] = '/';
    }
    memcpy(out + n, tail, sizeof tail - 1);
    return n + sizeof tail - 1;
}

/* Java's Math.abs(Integer.reverse(c)), Integer.MIN_VALUE (c = 1) staying negative. */
static int64_t java_abs_reverse(uint32_t c)
{
    uint32_t r = 0;
    for (int i = 0; i < 32; i++, c >>= 1)
        r = (r << 1) | (c & 1);
    int64_t v = r >= 0x80000000u ? (int64_t)r - 0x100000000LL : (int64_t)r;
    return v == INT32_MIN ? v : llabs(v);
}

/* The URL of channel-c, the same for every bid of that channel. */
static size_t channel_url(const weir_nexmark_gen *g, uint32_t c, char *out)
{
    rng r = stream(g->k_url, (uint64_t)c + COUNT(HOT_CHANNELS));
    size_t n = base_url(&r, out);
    if (below32(&r, 10) > 0) {
        static const char key[] = "&channel_id=";
        memcpy(out + n, key, sizeof key - 1);
        n += sizeof key - 1;
        int64_t id = java_abs_reverse(c);
        if (id < 0) {
            out[n++] = '-';
            n += put_u64(out + n, (uint64_t)(-id));
        } else {
            n += put_u64(out + n, (uint64_t)id);
        }
    }
    return n;
}

/* ------------------------------------------------------------------ events */

static void person(weir_nexmark_gen *g, uint64_t n, rng *num, rng *txt, weir_nexmark_event *ev)
{
    weir_nexmark_person *p = &ev->person;
    p->id = last_person0(n) + WEIR_NEXMARK_FIRST_PERSON_ID;
    p->city = constant(US_CITIES[below32(num, COUNT(US_CITIES))]);
    p->state = constant(US_STATES[below32(num, COUNT(US_STATES))]);
    if (!g->p.strings) {
        p->name = p->email_address = p->credit_card = p->extra = (weir_nexmark_str){"", 0};
        return;
    }
    char buf[64];
    const char *first = FIRST_NAMES[below32(txt, COUNT(FIRST_NAMES))];
    const char *last = LAST_NAMES[below32(txt, COUNT(LAST_NAMES))];
    size_t fl = strlen(first), ll = strlen(last);
    memcpy(buf, first, fl);
    buf[fl] = ' ';
    memcpy(buf + fl + 1, last, ll);
    p->name = put(g, buf, fl + 1 + ll);
    size_t e = next_string(txt, 7, ' ', buf);
    memcpy(buf + e, "@", 1);
    e += 1;
    e += next_string(txt, 5, ' ', buf + e);
    memcpy(buf + e, ".com", 4);
    p->email_address = put(g, buf, e + 4);
    for (int i = 0; i < 4; i++) {
        uint32_t v = below32(txt, 10000);
        char *d = buf + i * 5;
        d[0] = (char)('0' + v / 1000);
        d[1] = (char)('0' + v / 100 % 10);
        d[2] = (char)('0' + v / 10 % 10);
        d[3] = (char)('0' + v % 10);
        d[4] = ' ';
    }
    p->credit_card = put(g, buf, 19);
    size_t size =
        8 + p->name.len + p->email_address.len + p->credit_card.len + p->city.len + p->state.len;
    p->extra = extra(g, txt, size, AVG_PERSON_BYTES);
}

static void auction(weir_nexmark_gen *g, uint64_t n, rng *num, rng *txt, weir_nexmark_event *ev)
{
    weir_nexmark_auction *a = &ev->auction;
    a->id = last_auction0(n) + WEIR_NEXMARK_FIRST_AUCTION_ID;
    int64_t seller;
    if (below32(num, HOT_SELLERS_RATIO) > 0)
        seller = last_person0(n) / HOT_BATCH * HOT_BATCH;
    else
        seller = next_person0(num, n);
    a->seller = seller + WEIR_NEXMARK_FIRST_PERSON_ID;
    a->category = WEIR_NEXMARK_FIRST_CATEGORY_ID + below32(num, NUM_CATEGORIES);
    a->initial_bid = next_price(num);
    int64_t horizon = event_time(&g->p, n + NUM_IN_FLIGHT_AUCTIONS * PROPORTION_DENOMINATOR /
                                                AUCTION_PROPORTION) -
                      ev->date_time;
    a->expires = ev->date_time + 1 + (int64_t)below64(num, horizon > 0 ? (uint64_t)horizon * 2 : 1);
    a->reserve = a->initial_bid + next_price(num);
    if (!g->p.strings) {
        a->item_name = a->description = a->extra = (weir_nexmark_str){"", 0};
        return;
    }
    a->item_name = text(g, txt, 20);
    a->description = text(g, txt, 100);
    a->extra = extra(g, txt, 8 + a->item_name.len + a->description.len + 40, AVG_AUCTION_BYTES);
}

static void bid(weir_nexmark_gen *g, uint64_t n, rng *num, rng *txt, weir_nexmark_event *ev)
{
    weir_nexmark_bid *b = &ev->bid;
    int64_t auction;
    if (below32(num, HOT_AUCTION_RATIO) > 0)
        auction = last_auction0(n) / HOT_BATCH * HOT_BATCH;
    else
        auction = next_auction0(num, n);
    b->auction = auction + WEIR_NEXMARK_FIRST_AUCTION_ID;
    int64_t bidder;
    if (below32(num, HOT_BIDDERS_RATIO) > 0)
        bidder = last_person0(n) / HOT_BATCH * HOT_BATCH + 1;
    else
        bidder = next_person0(num, n);
    b->bidder = bidder + WEIR_NEXMARK_FIRST_PERSON_ID;
    b->price = next_price(num);
    int hot = below32(num, HOT_CHANNELS_RATIO) > 0;
    uint32_t c = hot ? below32(num, COUNT(HOT_CHANNELS)) : below32(num, CHANNELS_NUMBER);
    if (hot) {
        b->channel = constant(HOT_CHANNELS[c]);
    } else {
        char buf[32];
        memcpy(buf, "channel-", 8);
        b->channel = put(g, buf, 8 + put_u64(buf + 8, c));
    }
    if (!g->p.strings) {
        b->url = b->extra = (weir_nexmark_str){"", 0};
        return;
    }
    if (hot) {
        b->url = (weir_nexmark_str){g->hot_url[c], g->hot_url_len[c]};
    } else {
        if (!g->chan_url_len[c])
            g->chan_url_len[c] = (uint8_t)channel_url(g, c, g->chan_url[c]);
        b->url = (weir_nexmark_str){g->chan_url[c], g->chan_url_len[c]};
    }
    b->extra = extra(g, txt, 32, AVG_BID_BYTES);
}

void weir_nexmark_gen_event(weir_nexmark_gen *g, uint64_t n, weir_nexmark_event *ev)
{
    rng num = stream(g->k_num, n), txt = stream(g->k_text, n);
    g->used = 0;
    ev->number = n;
    ev->date_time = event_time(&g->p, n);
    uint64_t off = n % PROPORTION_DENOMINATOR;
    if (off == 0) {
        ev->type = WEIR_NEXMARK_PERSON;
        person(g, n, &num, &txt, ev);
    } else if (off <= AUCTION_PROPORTION) {
        ev->type = WEIR_NEXMARK_AUCTION;
        auction(g, n, &num, &txt, ev);
    } else {
        ev->type = WEIR_NEXMARK_BID;
        bid(g, n, &num, &txt, ev);
    }
}

/* ------------------------------------------------------------------ the generator */

weir_err weir_nexmark_gen_new(const weir_nexmark_params *p, weir_nexmark_gen **out, char *errstr,
                              size_t errstr_size)
{
    *out = NULL;
    if (p->events > WEIR_NEXMARK_MAX_EVENTS) {
        weir__errf(errstr, errstr_size, "events: %llu is out of range: accepted values are 0..%llu",
                   (unsigned long long)p->events, (unsigned long long)WEIR_NEXMARK_MAX_EVENTS);
        return WEIR_ERR_INVALID_ARG;
    }
    if (p->rate < 1 || p->rate > WEIR_NEXMARK_MAX_RATE) {
        weir__errf(errstr, errstr_size, "rate: %llu is out of range: accepted values are 1..%llu",
                   (unsigned long long)p->rate, (unsigned long long)WEIR_NEXMARK_MAX_RATE);
        return WEIR_ERR_INVALID_ARG;
    }
    if (p->disorder_ms < 0 || p->disorder_ms > WEIR_NEXMARK_MAX_DISORDER_MS) {
        weir__errf(errstr, errstr_size,
                   "disorder_ms: %lld is out of range: accepted values are 0..%lld",
                   (long long)p->disorder_ms, (long long)WEIR_NEXMARK_MAX_DISORDER_MS);
        return WEIR_ERR_INVALID_ARG;
    }
    if (!(p->delayed_share >= 0 && p->delayed_share <= 1)) {
        weir__errf(errstr, errstr_size,
                   "delayed_share: %g is out of range: accepted values are 0..1", p->delayed_share);
        return WEIR_ERR_INVALID_ARG;
    }
    /* Keeps event times (and an auction's expiry, 1666 events on) far from overflow. */
    if (p->base_time_ms < 0 || p->base_time_ms > (INT64_C(1) << 53)) {
        weir__errf(errstr, errstr_size,
                   "base_time_ms: %lld is out of range: accepted values are 0..2^53",
                   (long long)p->base_time_ms);
        return WEIR_ERR_INVALID_ARG;
    }
    weir_nexmark_gen *g = calloc(1, sizeof *g);
    if (!g)
        return WEIR_ERR_NOMEM;
    if (p->strings && (!(g->chan_url = malloc(CHANNELS_NUMBER * sizeof *g->chan_url)) ||
                       !(g->chan_url_len = calloc(CHANNELS_NUMBER, 1)))) {
        weir_nexmark_gen_destroy(g);
        return WEIR_ERR_NOMEM;
    }
    for (int i = 0; i < 26 * 26; i++) {
        g->pairs[i][0] = (char)('a' + i / 26);
        g->pairs[i][1] = (char)('a' + i % 26);
    }
    g->p = *p;
    g->k_num = mix(p->seed ^ 0x6E756D6265727321ull);
    g->k_text = mix(p->seed ^ 0x7465787473747221ull);
    g->k_url = mix(p->seed ^ 0x75726C7375726C21ull);
    g->k_delay = mix(p->seed ^ 0x64656C6179732121ull);
    for (uint32_t i = 0; i < COUNT(HOT_CHANNELS); i++) {
        rng r = stream(g->k_url, i);
        g->hot_url_len[i] = (uint32_t)base_url(&r, g->hot_url[i]);
    }
    *out = g;
    return WEIR_OK;
}

void weir_nexmark_gen_destroy(weir_nexmark_gen *g)
{
    if (!g)
        return;
    free(g->heap);
    free(g->chan_url);
    free(g->chan_url_len);
    free(g);
}

uint64_t weir_nexmark_gen_count(const weir_nexmark_gen *g)
{
    return g->count;
}

uint64_t weir_nexmark_gen_delayed(const weir_nexmark_gen *g)
{
    return g->delayed;
}

static inline int before(pending a, pending b)
{
    return a.emit < b.emit || (a.emit == b.emit && a.n < b.n);
}

static int heap_push(weir_nexmark_gen *g, pending e)
{
    if (g->heap_len == g->heap_cap) {
        size_t cap = g->heap_cap ? g->heap_cap * 2 : 1024;
        pending *h = realloc(g->heap, cap * sizeof *h);
        if (!h)
            return -1;
        g->heap = h;
        g->heap_cap = cap;
    }
    size_t i = g->heap_len++;
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (!before(e, g->heap[parent]))
            break;
        g->heap[i] = g->heap[parent];
        i = parent;
    }
    g->heap[i] = e;
    return 0;
}

static pending heap_pop(weir_nexmark_gen *g)
{
    pending top = g->heap[0], last = g->heap[--g->heap_len];
    size_t i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= g->heap_len)
            break;
        if (c + 1 < g->heap_len && before(g->heap[c + 1], g->heap[c]))
            c++;
        if (!before(g->heap[c], last))
            break;
        g->heap[i] = g->heap[c];
        i = c;
    }
    if (g->heap_len)
        g->heap[i] = last;
    return top;
}

/* Event n's delay in ms, 0 for an event on time. */
static int64_t delay_of(const weir_nexmark_gen *g, uint64_t n)
{
    if (g->p.disorder_ms <= 0 || g->p.delayed_share <= 0)
        return 0;
    uint64_t x = mix(g->k_delay + n * SPACING);
    if (unit(x) >= g->p.delayed_share)
        return 0;
    return 1 + (int64_t)(mix(x) % (uint64_t)g->p.disorder_ms);
}

int weir_nexmark_gen_next(weir_nexmark_gen *g, weir_nexmark_event *ev)
{
    /*
     * Every event not yet considered (n >= next_n) is output no earlier than at
     * date_time(next_n), and ties go to the smaller n: so a pending event whose emit time is
     * at most date_time(next_n) is the next one. Otherwise next_n is, unless it is delayed,
     * in which case it waits in the heap. The heap holds only events delayed past the newest
     * event time considered, at most delayed_share * rate * disorder_ms / 1000 of them on
     * average.
     */
    for (;;) {
        int more = g->next_n < g->p.events;
        int64_t t = more ? event_time(&g->p, g->next_n) : INT64_MAX;
        if (g->heap_len && (!more || g->heap[0].emit <= t)) {
            pending e = heap_pop(g);
            weir_nexmark_gen_event(g, e.n, ev);
            g->count++;
            g->delayed++;
            return 1;
        }
        if (!more)
            return 0;
        int64_t d = delay_of(g, g->next_n);
        if (d > 0) {
            if (heap_push(g, (pending){t + d, g->next_n}) != 0)
                return WEIR_ERR_NOMEM;
            g->next_n++;
            continue;
        }
        weir_nexmark_gen_event(g, g->next_n++, ev);
        g->count++;
        return 1;
    }
}

/* ------------------------------------------------------------------ JSON */

/* Whether any byte of w is below 0x20, a quote or a backslash (SWAR: a byte is zero in
 * x exactly when (x - 0x01..) & ~x has its high bit, with no false positives below the first
 * zero byte, and every byte below 0x20 is flagged by w - 0x20.. & ~w). */
static inline int needs_escape(uint64_t w)
{
    const uint64_t ones = 0x0101010101010101ull, high = 0x8080808080808080ull;
    uint64_t q = w ^ (ones * '"'), b = w ^ (ones * '\\');
    uint64_t t = ((w - ones * 0x20) & ~w) | ((q - ones) & ~q) | ((b - ones) & ~b);
    return (t & high) != 0;
}

static char *json_str(char *d, weir_nexmark_str s)
{
    *d++ = '"';
    uint32_t i = 0;
    for (; i + 8 <= s.len; i += 8) {
        uint64_t w;
        memcpy(&w, s.ptr + i, 8);
        if (needs_escape(w))
            break;
        memcpy(d, &w, 8);
        d += 8;
    }
    for (; i < s.len; i++) {
        unsigned char c = (unsigned char)s.ptr[i];
        if (c >= 0x20 && c != '"' && c != '\\') {
            *d++ = (char)c;
            continue;
        }
        *d++ = '\\';
        switch (c) {
        case '"': *d++ = '"'; break;
        case '\\': *d++ = '\\'; break;
        case '\b': *d++ = 'b'; break;
        case '\f': *d++ = 'f'; break;
        case '\n': *d++ = 'n'; break;
        case '\r': *d++ = 'r'; break;
        case '\t': *d++ = 't'; break;
        default:
            memcpy(d, "u00", 3);
            d[3] = weir__hexdigit(c >> 4);
            d[4] = weir__hexdigit(c);
            d += 5;
            break;
        }
    }
    *d++ = '"';
    return d;
}

static char *json_int(char *d, int64_t v)
{
    if (v < 0) {
        *d++ = '-';
        return d + put_u64(d, (uint64_t)0 - (uint64_t)v);
    }
    return d + put_u64(d, (uint64_t)v);
}

#define LIT(d, s) (memcpy((d), (s), sizeof(s) - 1), (d) + sizeof(s) - 1)

size_t weir_nexmark_event_to_json(const weir_nexmark_event *ev, char *buf, size_t cap)
{
    size_t strings;
    switch (ev->type) {
    case WEIR_NEXMARK_PERSON: {
        const weir_nexmark_person *p = &ev->person;
        strings = (size_t)p->name.len + p->email_address.len + p->credit_card.len + p->city.len +
                  p->state.len + p->extra.len;
        break;
    }
    case WEIR_NEXMARK_AUCTION: {
        const weir_nexmark_auction *a = &ev->auction;
        strings = (size_t)a->item_name.len + a->description.len + a->extra.len;
        break;
    }
    case WEIR_NEXMARK_BID: {
        const weir_nexmark_bid *b = &ev->bid;
        strings = (size_t)b->channel.len + b->url.len + b->extra.len;
        break;
    }
    default: return 0;
    }
    /* Keys, at most ten 20-digit numbers and quotes stay under 512 bytes; an escaped string
     * byte takes at most 6. */
    if (cap < 512 || (cap - 512) / 6 < strings)
        return 0;
    char *d = buf;
    switch (ev->type) {
    case WEIR_NEXMARK_PERSON: {
        const weir_nexmark_person *p = &ev->person;
        d = LIT(d, "{\"type\":\"person\",\"id\":");
        d = json_int(d, p->id);
        d = LIT(d, ",\"name\":");
        d = json_str(d, p->name);
        d = LIT(d, ",\"email_address\":");
        d = json_str(d, p->email_address);
        d = LIT(d, ",\"credit_card\":");
        d = json_str(d, p->credit_card);
        d = LIT(d, ",\"city\":");
        d = json_str(d, p->city);
        d = LIT(d, ",\"state\":");
        d = json_str(d, p->state);
        d = LIT(d, ",\"date_time\":");
        d = json_int(d, ev->date_time);
        d = LIT(d, ",\"extra\":");
        d = json_str(d, p->extra);
        break;
    }
    case WEIR_NEXMARK_AUCTION: {
        const weir_nexmark_auction *a = &ev->auction;
        d = LIT(d, "{\"type\":\"auction\",\"id\":");
        d = json_int(d, a->id);
        d = LIT(d, ",\"item_name\":");
        d = json_str(d, a->item_name);
        d = LIT(d, ",\"description\":");
        d = json_str(d, a->description);
        d = LIT(d, ",\"initial_bid\":");
        d = json_int(d, a->initial_bid);
        d = LIT(d, ",\"reserve\":");
        d = json_int(d, a->reserve);
        d = LIT(d, ",\"date_time\":");
        d = json_int(d, ev->date_time);
        d = LIT(d, ",\"expires\":");
        d = json_int(d, a->expires);
        d = LIT(d, ",\"seller\":");
        d = json_int(d, a->seller);
        d = LIT(d, ",\"category\":");
        d = json_int(d, a->category);
        d = LIT(d, ",\"extra\":");
        d = json_str(d, a->extra);
        break;
    }
    default: {
        const weir_nexmark_bid *b = &ev->bid;
        d = LIT(d, "{\"type\":\"bid\",\"auction\":");
        d = json_int(d, b->auction);
        d = LIT(d, ",\"bidder\":");
        d = json_int(d, b->bidder);
        d = LIT(d, ",\"price\":");
        d = json_int(d, b->price);
        d = LIT(d, ",\"channel\":");
        d = json_str(d, b->channel);
        d = LIT(d, ",\"url\":");
        d = json_str(d, b->url);
        d = LIT(d, ",\"date_time\":");
        d = json_int(d, ev->date_time);
        d = LIT(d, ",\"extra\":");
        d = json_str(d, b->extra);
        break;
    }
    }
    d = LIT(d, "}\n");
    return (size_t)(d - buf);
}

size_t weir_nexmark_event_key(const weir_nexmark_event *ev, char *buf)
{
    int64_t k = ev->type == WEIR_NEXMARK_BID       ? ev->bid.auction
                : ev->type == WEIR_NEXMARK_AUCTION ? ev->auction.id
                                                   : ev->person.id;
    return (size_t)(json_int(buf, k) - buf);
}
