/* Unit tests of the Nexmark generator (include/weir/nexmark.h): determinism, Beam's
 * proportions, ids and hot ratios, prices, channels, disorder bounds, JSON escaping.
 * test/it/nexmark_gen.sh checks the weir-nexmark binary and its Kafka path. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "weir/nexmark.h"

#define N_EVENTS 200000 /* a multiple of 50 */

static weir_nexmark_gen *new_gen(uint64_t seed, uint64_t events, int64_t disorder_ms)
{
    weir_nexmark_params p;
    weir_nexmark_params_default(&p);
    p.seed = seed;
    p.events = events;
    p.disorder_ms = disorder_ms;
    weir_nexmark_gen *g = NULL;
    char err[256];
    assert_int_equal(weir_nexmark_gen_new(&p, &g, err, sizeof err), WEIR_OK);
    assert_non_null(g);
    return g;
}

/* Every JSON line of a run, concatenated; the caller frees it. */
static char *run_json(uint64_t seed, uint64_t events, int64_t disorder_ms, size_t *len)
{
    weir_nexmark_gen *g = new_gen(seed, events, disorder_ms);
    size_t cap = 1 << 20, used = 0;
    char *out = malloc(cap);
    assert_non_null(out);
    weir_nexmark_event ev;
    int rc;
    while ((rc = weir_nexmark_gen_next(g, &ev)) == 1) {
        if (cap - used < WEIR_NEXMARK_JSON_MAX) {
            cap *= 2;
            out = realloc(out, cap);
            assert_non_null(out);
        }
        size_t n = weir_nexmark_event_to_json(&ev, out + used, cap - used);
        assert_true(n > 0);
        used += n;
    }
    assert_int_equal(rc, 0);
    assert_int_equal(weir_nexmark_gen_count(g), events);
    weir_nexmark_gen_destroy(g);
    *len = used;
    return out;
}

static void test_determinism(void **state)
{
    (void)state;
    size_t la, lb, lc, ld;
    char *a = run_json(42, 100000, 2000, &la);
    char *b = run_json(42, 100000, 2000, &lb);
    char *c = run_json(43, 100000, 2000, &lc);
    char *d = run_json(42, 100000, 0, &ld);
    assert_int_equal(la, lb);
    assert_memory_equal(a, b, la);
    assert_true(lc != la || memcmp(a, c, la) != 0);
    /* Disorder moves lines, never changes them: same bytes, other order. */
    assert_int_equal(la, ld);
    assert_true(memcmp(a, d, la) != 0);
    free(a);
    free(b);
    free(c);
    free(d);
}

/* weir_nexmark_gen_event(n) is what the sequence gives at n, and strings = 0 changes only
 * the free-text fields. */
static void test_random_access(void **state)
{
    (void)state;
    weir_nexmark_gen *seq = new_gen(7, 5000, 0), *any = new_gen(7, 5000, 0);
    weir_nexmark_params p;
    weir_nexmark_params_default(&p);
    p.seed = 7;
    p.strings = 0;
    weir_nexmark_gen *bare = NULL;
    assert_int_equal(weir_nexmark_gen_new(&p, &bare, NULL, 0), WEIR_OK);
    char ja[WEIR_NEXMARK_JSON_MAX], jb[WEIR_NEXMARK_JSON_MAX];
    weir_nexmark_event ev, ev2, ev3;
    for (uint64_t n = 0; weir_nexmark_gen_next(seq, &ev) == 1; n++) {
        assert_int_equal(ev.number, n);
        size_t la = weir_nexmark_event_to_json(&ev, ja, sizeof ja);
        weir_nexmark_gen_event(any, n, &ev2);
        size_t lb = weir_nexmark_event_to_json(&ev2, jb, sizeof jb);
        assert_int_equal(la, lb);
        assert_memory_equal(ja, jb, la);
        weir_nexmark_gen_event(bare, n, &ev3);
        assert_int_equal(ev3.type, ev.type);
        assert_int_equal(ev3.date_time, ev.date_time);
        switch (ev.type) {
        case WEIR_NEXMARK_PERSON:
            assert_int_equal(ev3.person.id, ev.person.id);
            assert_int_equal(ev3.person.name.len, 0);
            assert_int_equal(ev3.person.extra.len, 0);
            assert_int_equal(ev3.person.city.len, ev.person.city.len);
            assert_memory_equal(ev3.person.city.ptr, ev.person.city.ptr, ev.person.city.len);
            assert_memory_equal(ev3.person.state.ptr, ev.person.state.ptr, 2);
            break;
        case WEIR_NEXMARK_AUCTION:
            assert_int_equal(ev3.auction.id, ev.auction.id);
            assert_int_equal(ev3.auction.seller, ev.auction.seller);
            assert_int_equal(ev3.auction.initial_bid, ev.auction.initial_bid);
            assert_int_equal(ev3.auction.reserve, ev.auction.reserve);
            assert_int_equal(ev3.auction.expires, ev.auction.expires);
            assert_int_equal(ev3.auction.category, ev.auction.category);
            assert_int_equal(ev3.auction.description.len, 0);
            break;
        case WEIR_NEXMARK_BID:
            assert_int_equal(ev3.bid.auction, ev.bid.auction);
            assert_int_equal(ev3.bid.bidder, ev.bid.bidder);
            assert_int_equal(ev3.bid.price, ev.bid.price);
            assert_int_equal(ev3.bid.channel.len, ev.bid.channel.len);
            assert_memory_equal(ev3.bid.channel.ptr, ev.bid.channel.ptr, ev.bid.channel.len);
            assert_int_equal(ev3.bid.url.len, 0);
            break;
        }
    }
    weir_nexmark_gen_destroy(seq);
    weir_nexmark_gen_destroy(any);
    weir_nexmark_gen_destroy(bare);
}

/* Exactly 1 person, 3 auctions and 46 bids in every 50 events, at fixed offsets; event time
 * advancing with the rate. */
static void test_proportions_and_time(void **state)
{
    (void)state;
    weir_nexmark_gen *g = new_gen(3, N_EVENTS, 0);
    weir_nexmark_event ev;
    uint64_t counts[3] = {0}, n = 0;
    int64_t person_id = WEIR_NEXMARK_FIRST_PERSON_ID, auction_id = WEIR_NEXMARK_FIRST_AUCTION_ID;
    while (weir_nexmark_gen_next(g, &ev) == 1) {
        uint64_t off = n % 50;
        weir_nexmark_type want = off == 0  ? WEIR_NEXMARK_PERSON
                                 : off < 4 ? WEIR_NEXMARK_AUCTION
                                           : WEIR_NEXMARK_BID;
        assert_int_equal(ev.type, want);
        counts[ev.type]++;
        /* 10,000 events/s: 10 events a millisecond. */
        assert_int_equal(ev.date_time, WEIR_NEXMARK_BASE_TIME_MS + (int64_t)(n / 10));
        /* People and auctions get consecutive ids from 1000. */
        if (ev.type == WEIR_NEXMARK_PERSON)
            assert_int_equal(ev.person.id, person_id++);
        if (ev.type == WEIR_NEXMARK_AUCTION)
            assert_int_equal(ev.auction.id, auction_id++);
        if ((n + 1) % 50 == 0) {
            assert_int_equal(counts[WEIR_NEXMARK_PERSON] * 50, n + 1);
            assert_int_equal(counts[WEIR_NEXMARK_AUCTION] * 50, 3 * (n + 1));
            assert_int_equal(counts[WEIR_NEXMARK_BID] * 50, 46 * (n + 1));
        }
        n++;
    }
    assert_int_equal(n, N_EVENTS);
    weir_nexmark_gen_destroy(g);

    weir_nexmark_params p;
    weir_nexmark_params_default(&p);
    p.rate = 3;
    p.events = 10;
    assert_int_equal(weir_nexmark_gen_new(&p, &g, NULL, 0), WEIR_OK);
    for (n = 0; weir_nexmark_gen_next(g, &ev) == 1; n++)
        assert_int_equal(ev.date_time, WEIR_NEXMARK_BASE_TIME_MS + (int64_t)(n * 1000 / 3));
    assert_int_equal(n, 10);
    weir_nexmark_gen_destroy(g);
}

/* A share p of n draws lies within p +- 5 standard deviations (+ slack for the cold draws
 * that happen to pick the hot id). */
static void assert_share(uint64_t hits, uint64_t n, double p, double slack)
{
    double share = (double)hits / (double)n, sd = sqrt(p * (1 - p) / (double)n);
    if (share < p - 5 * sd || share > p + slack + 5 * sd)
        fail_msg("share %.5f outside %.5f .. %.5f", share, p - 5 * sd, p + slack + 5 * sd);
}

static void test_ids_and_hot_ratios(void **state)
{
    (void)state;
    weir_nexmark_gen *g = new_gen(11, N_EVENTS, 0);
    weir_nexmark_event ev;
    uint64_t bids = 0, hot_auction = 0, hot_bidder = 0, auctions = 0, hot_seller = 0;
    uint64_t categories[5] = {0};
    while (weir_nexmark_gen_next(g, &ev) == 1) {
        int64_t last_p = weir_nexmark_last_person_id(ev.number);
        int64_t last_a = weir_nexmark_last_auction_id(ev.number);
        int64_t base_p = last_p - WEIR_NEXMARK_FIRST_PERSON_ID;
        int64_t base_a = last_a - WEIR_NEXMARK_FIRST_AUCTION_ID;
        int64_t active_lo = last_p - 999 > WEIR_NEXMARK_FIRST_PERSON_ID
                                ? last_p - 999
                                : WEIR_NEXMARK_FIRST_PERSON_ID;
        if (ev.type == WEIR_NEXMARK_AUCTION) {
            auctions++;
            int64_t hot = base_p / 100 * 100 + WEIR_NEXMARK_FIRST_PERSON_ID;
            hot_seller += ev.auction.seller == hot;
            /* A cold seller is an active person or one of the next 10. */
            assert_true(ev.auction.seller == hot ||
                        (ev.auction.seller >= active_lo && ev.auction.seller <= last_p + 10));
            assert_in_range(ev.auction.category, 10, 14);
            categories[ev.auction.category - 10]++;
            assert_true(ev.auction.expires > ev.date_time);
        } else if (ev.type == WEIR_NEXMARK_BID) {
            bids++;
            int64_t hot_a = base_a / 100 * 100 + WEIR_NEXMARK_FIRST_AUCTION_ID;
            int64_t hot_b = base_p / 100 * 100 + 1 + WEIR_NEXMARK_FIRST_PERSON_ID;
            hot_auction += ev.bid.auction == hot_a;
            hot_bidder += ev.bid.bidder == hot_b;
            int64_t lo_a = last_a - 100 > WEIR_NEXMARK_FIRST_AUCTION_ID
                               ? last_a - 100
                               : WEIR_NEXMARK_FIRST_AUCTION_ID;
            assert_true(ev.bid.auction == hot_a ||
                        (ev.bid.auction >= lo_a && ev.bid.auction <= last_a + 10));
            assert_true(ev.bid.bidder == hot_b ||
                        (ev.bid.bidder >= active_lo && ev.bid.bidder <= last_p + 10));
        }
    }
    weir_nexmark_gen_destroy(g);
    assert_int_equal(bids, N_EVENTS / 50 * 46);
    /* Hot with probability 1 - 1/ratio (Beam's defaults: auctions 2, bidders and sellers 4);
     * a cold draw picks the hot id with probability about 1/111 (auctions) or 1/1010. */
    assert_share(hot_auction, bids, 0.5, 0.5 / 100);
    assert_share(hot_bidder, bids, 0.75, 0.25 / 500);
    assert_share(hot_seller, auctions, 0.75, 0.25 / 500);
    for (int c = 0; c < 5; c++)
        assert_share(categories[c], auctions, 0.2, 0);
}

static void test_prices(void **state)
{
    (void)state;
    weir_nexmark_gen *g = new_gen(5, N_EVENTS, 0);
    weir_nexmark_event ev;
    uint64_t bids = 0, decades[6] = {0}, below_median = 0;
    while (weir_nexmark_gen_next(g, &ev) == 1) {
        if (ev.type == WEIR_NEXMARK_AUCTION) {
            assert_in_range(ev.auction.initial_bid, 100, 100000000);
            assert_true(ev.auction.reserve >= ev.auction.initial_bid + 100);
            assert_true(ev.auction.reserve <= ev.auction.initial_bid + 100000000);
        }
        if (ev.type != WEIR_NEXMARK_BID)
            continue;
        bids++;
        /* round(10^(6u) * 100): log10(price / 100) is uniform on [0, 6). */
        assert_in_range(ev.bid.price, 100, 100000000);
        int d = (int)floor(log10((double)ev.bid.price / 100.0));
        decades[d > 5 ? 5 : d]++;
        below_median += ev.bid.price < 100000; /* 10^3 * 100 */
    }
    weir_nexmark_gen_destroy(g);
    for (int d = 0; d < 6; d++)
        assert_share(decades[d], bids, 1.0 / 6, 0);
    assert_share(below_median, bids, 0.5, 0);
}

static int has_prefix(weir_nexmark_str s, const char *p)
{
    size_t n = strlen(p);
    return s.len >= n && memcmp(s.ptr, p, n) == 0;
}

/* nexmark/nexmark's channels: half of the bids on 4 hot channels, the others on
 * channel-0..9999, one URL per channel, 9 channels of 10 with a channel_id. */
static void test_channels(void **state)
{
    (void)state;
    static const char *const hot[] = {"Google", "Facebook", "Baidu", "Apple"};
    char *urls[10000] = {0};
    char hot_urls[4][128] = {{0}};
    weir_nexmark_gen *g = new_gen(9, N_EVENTS, 0);
    weir_nexmark_event ev;
    uint64_t bids = 0, hot_bids = 0, per_hot[4] = {0};
    while (weir_nexmark_gen_next(g, &ev) == 1) {
        if (ev.type != WEIR_NEXMARK_BID)
            continue;
        bids++;
        weir_nexmark_str ch = ev.bid.channel, url = ev.bid.url;
        assert_true(has_prefix(url, "https://www.nexmark.com/"));
        assert_true(url.len < 128);
        char u[128];
        memcpy(u, url.ptr, url.len);
        u[url.len] = '\0';
        assert_non_null(strstr(u, "/item.htm?query=1"));
        int h = -1;
        for (int i = 0; i < 4; i++)
            if (ch.len == strlen(hot[i]) && memcmp(ch.ptr, hot[i], ch.len) == 0)
                h = i;
        if (h >= 0) {
            hot_bids++;
            per_hot[h]++;
            if (!hot_urls[h][0])
                strcpy(hot_urls[h], u);
            assert_string_equal(hot_urls[h], u);
            assert_null(strstr(u, "channel_id"));
            continue;
        }
        assert_true(has_prefix(ch, "channel-"));
        char num[16];
        assert_true(ch.len - 8 < sizeof num);
        memcpy(num, ch.ptr + 8, ch.len - 8);
        num[ch.len - 8] = '\0';
        long c = strtol(num, NULL, 10);
        assert_in_range(c, 0, 9999);
        if (!urls[c])
            urls[c] = strdup(u);
        assert_string_equal(urls[c], u);
    }
    weir_nexmark_gen_destroy(g);
    assert_share(hot_bids, bids, 0.5, 0);
    for (int i = 0; i < 4; i++)
        assert_share(per_hot[i], hot_bids, 0.25, 0);
    uint64_t seen = 0, with_id = 0;
    for (int c = 0; c < 10000; c++) {
        if (!urls[c])
            continue;
        seen++;
        char *id = strstr(urls[c], "&channel_id=");
        if (id) {
            with_id++;
            /* Java's Math.abs(Integer.reverse(c)). */
            uint32_t r = 0, v = (uint32_t)c;
            for (int i = 0; i < 32; i++, v >>= 1)
                r = (r << 1) | (v & 1);
            long long want = r >= 0x80000000u ? (long long)r - 0x100000000LL : (long long)r;
            if (want != INT32_MIN && want < 0)
                want = -want;
            assert_int_equal(strtoll(id + 12, NULL, 10), want);
        }
        free(urls[c]);
    }
    assert_true(seen > 9900); /* 92,000 cold bids over 10,000 channels */
    assert_share(with_id, seen, 0.9, 0);
}

/* Delayed events: about 10 %, each written after events up to D ms younger than itself and
 * never after one more than D ms younger; every event exactly once. */
static void test_disorder(void **state)
{
    (void)state;
    const int64_t D = 1500;
    weir_nexmark_gen *g = new_gen(21, N_EVENTS, D);
    uint8_t *seen = calloc(N_EVENTS, 1);
    assert_non_null(seen);
    weir_nexmark_event ev;
    int64_t max_time = 0, max_late = 0;
    uint64_t max_n = 0, displaced = 0, out = 0;
    while (weir_nexmark_gen_next(g, &ev) == 1) {
        assert_true(ev.number < N_EVENTS);
        assert_int_equal(seen[ev.number], 0);
        seen[ev.number] = 1;
        if (out && ev.number < max_n)
            displaced++;
        if (max_time > ev.date_time && max_time - ev.date_time > max_late)
            max_late = max_time - ev.date_time;
        assert_true(max_time - ev.date_time <= D);
        if (ev.date_time > max_time)
            max_time = ev.date_time;
        if (ev.number > max_n)
            max_n = ev.number;
        out++;
    }
    assert_int_equal(out, N_EVENTS);
    /* At 10 events a millisecond a delayed event is overtaken, unless it is the last of its
     * millisecond and delayed by 1 ms (a tie goes to the smaller event number); no event on
     * time is. */
    uint64_t delayed = weir_nexmark_gen_delayed(g);
    assert_true(displaced <= delayed && displaced >= delayed - delayed / 100);
    assert_share(displaced, N_EVENTS, 0.1, 0);
    assert_true(max_late > D - 50 && max_late <= D);
    weir_nexmark_gen_destroy(g);
    free(seen);

    /* Without disorder, nothing is displaced. */
    g = new_gen(21, 10000, 0);
    uint64_t n = 0;
    while (weir_nexmark_gen_next(g, &ev) == 1)
        assert_int_equal(ev.number, n++);
    assert_int_equal(weir_nexmark_gen_delayed(g), 0);
    weir_nexmark_gen_destroy(g);
}

static void test_json(void **state)
{
    (void)state;
    weir_nexmark_event ev;
    memset(&ev, 0, sizeof ev);
    ev.type = WEIR_NEXMARK_BID;
    ev.date_time = 1704067200123;
    ev.bid.auction = 1000;
    ev.bid.bidder = -5;
    ev.bid.price = 0;
    static const char channel[] = "a\"b\\c\n\x01 longer than eight";
    static const char extra[] = "\xc3\xa9t\xc3\xa9\t";
    ev.bid.channel = (weir_nexmark_str){channel, sizeof channel - 1};
    ev.bid.url = (weir_nexmark_str){"", 0};
    ev.bid.extra = (weir_nexmark_str){extra, sizeof extra - 1};
    char buf[1024];
    size_t n = weir_nexmark_event_to_json(&ev, buf, sizeof buf);
    const char *want = "{\"type\":\"bid\",\"auction\":1000,\"bidder\":-5,\"price\":0,"
                       "\"channel\":\"a\\\"b\\\\c\\n\\u0001 longer than eight\",\"url\":\"\","
                       "\"date_time\":1704067200123,\"extra\":\"\xc3\xa9t\xc3\xa9\\t\"}\n";
    assert_int_equal(n, strlen(want));
    assert_memory_equal(buf, want, n);
    /* Too small for the worst case: nothing written. */
    assert_int_equal(weir_nexmark_event_to_json(&ev, buf, 511), 0);
    char key[24];
    assert_int_equal(weir_nexmark_event_key(&ev, key), 4);
    assert_memory_equal(key, "1000", 4);

    /* Every generated event fits WEIR_NEXMARK_JSON_MAX with room to spare. */
    weir_nexmark_gen *g = new_gen(1, 20000, 0);
    static char big[WEIR_NEXMARK_JSON_MAX];
    size_t longest = 0;
    while (weir_nexmark_gen_next(g, &ev) == 1) {
        n = weir_nexmark_event_to_json(&ev, big, sizeof big);
        assert_true(n > 0);
        if (n > longest)
            longest = n;
    }
    assert_true(longest < WEIR_NEXMARK_JSON_MAX / 4);
    weir_nexmark_gen_destroy(g);
}

static void test_bad_params(void **state)
{
    (void)state;
    weir_nexmark_params p;
    weir_nexmark_gen *g = (weir_nexmark_gen *)&p;
    char err[256];
    weir_nexmark_params_default(&p);
    p.rate = 0;
    assert_int_equal(weir_nexmark_gen_new(&p, &g, err, sizeof err), WEIR_ERR_INVALID_ARG);
    assert_null(g);
    assert_non_null(strstr(err, "rate"));
    weir_nexmark_params_default(&p);
    p.disorder_ms = -1;
    assert_int_equal(weir_nexmark_gen_new(&p, &g, err, sizeof err), WEIR_ERR_INVALID_ARG);
    weir_nexmark_params_default(&p);
    p.delayed_share = 1.5;
    assert_int_equal(weir_nexmark_gen_new(&p, &g, err, sizeof err), WEIR_ERR_INVALID_ARG);
    weir_nexmark_params_default(&p);
    p.events = WEIR_NEXMARK_MAX_EVENTS + 1;
    assert_int_equal(weir_nexmark_gen_new(&p, &g, err, sizeof err), WEIR_ERR_INVALID_ARG);
    weir_nexmark_gen_destroy(NULL);
    /* No events: the end at once. */
    g = new_gen(1, 0, 100);
    weir_nexmark_event ev;
    assert_int_equal(weir_nexmark_gen_next(g, &ev), 0);
    weir_nexmark_gen_destroy(g);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_determinism),
        cmocka_unit_test(test_random_access),
        cmocka_unit_test(test_proportions_and_time),
        cmocka_unit_test(test_ids_and_hot_ratios),
        cmocka_unit_test(test_prices),
        cmocka_unit_test(test_channels),
        cmocka_unit_test(test_disorder),
        cmocka_unit_test(test_json),
        cmocka_unit_test(test_bad_params),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
