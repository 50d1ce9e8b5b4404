/* The exact distinct aggregate through its ops table: every tier (inline, sorted array,
 * bitmap), merges across tiers, snapshot round trips and corrupt inputs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <roaring/roaring.h>

#include "operators/agg_int.h"
#include "weir/aggregate.h"

#define OPS (&weir_agg_distinct_exact)
/* Set sizes on both sides of each tier boundary (12 inline ids, 512 in a sorted array,
 * roaring's 4096 per array container, pending buffers of up to 8192 ids). */
static const uint32_t SIZES[] = {0,   1,    11,   12,   13,   14,   100,   511,  512,
                                 513, 1000, 4095, 4096, 4097, 5000, 20000, 40000};
#define NSIZES (sizeof SIZES / sizeof SIZES[0])

typedef struct agg {
    _Alignas(16) uint8_t st[256];
} agg;

static uint64_t rng(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* The reference: a set as a sorted array without duplicates. */
typedef struct ref {
    uint32_t *v;
    size_t n, cap;
} ref;

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

static void ref_add(ref *r, uint32_t id)
{
    if (r->n == r->cap) {
        r->cap = r->cap ? r->cap * 2 : 64;
        r->v = realloc(r->v, r->cap * sizeof *r->v);
        assert_non_null(r->v);
    }
    r->v[r->n++] = id;
}

static size_t ref_count(ref *r)
{
    if (!r->n)
        return 0;
    qsort(r->v, r->n, sizeof *r->v, cmp_u32);
    size_t k = 1;
    for (size_t i = 1; i < r->n; i++)
        if (r->v[i] != r->v[k - 1])
            r->v[k++] = r->v[i];
    r->n = k;
    return k;
}

static void agg_init(agg *a)
{
    assert_true(OPS->state_size <= sizeof a->st);
    memset(a->st, 0, sizeof a->st);
    OPS->init(a->st, NULL);
}

static void agg_add(agg *a, uint32_t id)
{
    weir_agg_input in = {NULL, id};
    assert_int_equal(OPS->add(a->st, &in, NULL), WEIR_OK);
}

/* id added to the set under test and to its reference. */
static void add_both(agg *a, ref *r, uint32_t id)
{
    agg_add(a, id);
    ref_add(r, id);
}

/* A random id: mostly from [0, 2^20) like a window's dictionary, sometimes anywhere,
 * UINT32_MAX included. */
static uint32_t draw(uint64_t *s)
{
    uint64_t x = rng(s);
    if (x % 97 == 1)
        return UINT32_MAX - (uint32_t)((x >> 8) % 3);
    if (x % 89 == 1)
        return (uint32_t)(x >> 32);
    return (uint32_t)((x >> 12) & 0xFFFFF);
}

/* Adds exactly `distinct` distinct ids to a fresh a, in random order with about one
 * repeat of an earlier id per two new ones, and leaves them in r (sorted, unique). When
 * no_high, only ids below 2^20. */
static void fill(agg *a, ref *r, uint32_t distinct, uint64_t seed, int no_high)
{
    uint64_t s = seed;
    agg_init(a);
    r->n = 0;
    while (ref_count(r) < distinct)
        for (size_t k = r->n; k < distinct; k++)
            ref_add(r, no_high ? draw(&s) & 0xFFFFF : draw(&s));
    r->n = distinct;
    uint32_t *order = malloc((distinct + 1) * sizeof *order);
    assert_non_null(order);
    if (distinct)
        memcpy(order, r->v, distinct * sizeof *order);
    for (size_t k = distinct; k > 1; k--) {
        size_t j = rng(&s) % k;
        uint32_t t = order[k - 1];
        order[k - 1] = order[j];
        order[j] = t;
    }
    for (size_t k = 0; k < distinct; k++) {
        agg_add(a, order[k]);
        if (rng(&s) % 2 == 0)
            agg_add(a, order[rng(&s) % (k + 1)]);
    }
    free(order);
    assert_int_equal(OPS->result(a->st, NULL), distinct);
}

static void test_counts_across_tiers(void **unused)
{
    (void)unused;
    for (int no_high = 0; no_high < 2; no_high++)
        for (size_t i = 0; i < NSIZES; i++) {
            agg a;
            ref r = {0};
            fill(&a, &r, SIZES[i], 1000 + i, no_high);
            size_t want = ref_count(&r);
            assert_int_equal(want, SIZES[i]);
            assert_int_equal(OPS->result(a.st, NULL), want);
            /* Repeating every id changes nothing. */
            for (size_t k = 0; k < r.n; k++)
                agg_add(&a, r.v[r.n - 1 - k]);
            assert_int_equal(OPS->result(a.st, NULL), want);
            size_t heap = OPS->heap_bytes(a.st, NULL);
            if (want <= 12)
                assert_int_equal(heap, 0);
            else
                assert_true(heap >= 2 * want / 16 && heap > 0);
            OPS->free(a.st, NULL);
            free(r.v);
        }
}

/* The window operator's batches (weir__distinct_add_many): runs of every length, each id
 * maybe repeated inside its run or from earlier ones, beside single adds, through every
 * tier: the set is always what single adds make it. */
static void test_add_many_in_runs(void **unused)
{
    (void)unused;
    enum { MOST_RUN = 3000 };
    static uint32_t run[MOST_RUN];
    agg a;
    agg_init(&a);
    ref r = {0};
    uint64_t s = 11;
    for (int step = 0; r.n < 60000; step++) {
        uint32_t len = (uint32_t)(rng(&s) % (step % 4 == 0 ? MOST_RUN : 40)) + 1;
        for (uint32_t k = 0; k < len; k++) {
            uint64_t x = rng(&s);
            run[k] = k && x % 5 == 0 ? run[x % k] : r.n && x % 7 == 0 ? r.v[x % r.n] : draw(&s);
        }
        assert_int_equal(weir__distinct_add_many(a.st, run, len), WEIR_OK);
        for (uint32_t k = 0; k < len; k++)
            ref_add(&r, run[k]);
        if (step % 3 == 0)
            add_both(&a, &r, draw(&s));
        if (step % 5 == 0 || step < 20)
            assert_int_equal(OPS->result(a.st, NULL), ref_count(&r));
    }
    assert_int_equal(OPS->result(a.st, NULL), ref_count(&r));
    OPS->free(a.st, NULL);
    free(r.v);
}

/* Memory per id by size: a mid-sized set is a sorted array (4 bytes an id and room for a
 * pending run of a quarter of that), never a bitmap of near-empty containers spread over the
 * id range; a bitmap holds 2 bytes an id in array containers (and roaring's room to grow)
 * and a pending run of up to half its size, 4 bytes an id. */
static void test_heap_per_id(void **unused)
{
    (void)unused;
    static const uint32_t ns[] = {100, 300, 512, 2000, 20000};
    for (size_t i = 0; i < sizeof ns / sizeof ns[0]; i++) {
        agg a;
        ref r = {0};
        fill(&a, &r, ns[i], 4000 + i, 1);
        size_t heap = OPS->heap_bytes(a.st, NULL);
        /* ids spread over 2^20: 16 roaring containers of ~70 bytes before any payload; a set
         * of 512 may have become a bitmap (duplicates pending pushed it past the array) */
        size_t most = ns[i] < 512 ? 64 + 5 * (size_t)ns[i] : 64 + 16 * 80 + 5 * (size_t)ns[i];
        if (heap > most)
            fail_msg("%u ids: %zu heap bytes, more than %zu", ns[i], heap, most);
        assert_true(heap >= 2 * (size_t)ns[i]);
        OPS->free(a.st, NULL);
        free(r.v);
    }
}

static void test_result_while_growing(void **unused)
{
    (void)unused;
    agg a;
    agg_init(&a);
    ref r = {0};
    uint64_t s = 7;
    for (uint32_t i = 0; i < 30000; i++) {
        uint32_t id = i && i % 3 == 0 ? r.v[rng(&s) % r.n] : draw(&s);
        add_both(&a, &r, id);
        if (i < 64 || i % 997 == 0 || (i > 4000 && i < 4200)) {
            size_t want = ref_count(&r);
            assert_int_equal(OPS->result(a.st, NULL), want);
        }
    }
    assert_int_equal(OPS->result(a.st, NULL), ref_count(&r));
    OPS->free(a.st, NULL);
    free(r.v);
}

static void test_merge_all_tiers(void **unused)
{
    (void)unused;
    static const uint32_t ms[] = {0, 5, 12, 13, 300, 4096, 4097, 20000};
    size_t nm = sizeof ms / sizeof ms[0];
    for (size_t i = 0; i < nm; i++)
        for (size_t j = 0; j < nm; j++)
            for (int overlap = 0; overlap < 2; overlap++) {
                agg d, s;
                ref rd = {0}, rs = {0};
                fill(&d, &rd, ms[i], 50 + i, 0);
                /* The same seed draws the same first ids: the sets then overlap. */
                fill(&s, &rs, ms[j], overlap ? 50 + i : 900 + j, 0);
                ref u = {0};
                for (size_t k = 0; k < rd.n; k++)
                    ref_add(&u, rd.v[k]);
                for (size_t k = 0; k < rs.n; k++)
                    ref_add(&u, rs.v[k]);
                /* Leave pending ids in a bitmap source too. */
                agg_add(&s, rs.n ? rs.v[0] : 3);
                if (!rs.n)
                    ref_add(&u, 3);
                size_t want = ref_count(&u);
                assert_int_equal(OPS->merge(d.st, s.st, NULL), WEIR_OK);
                assert_int_equal(OPS->result(d.st, NULL), want);
                /* The source is left as it was. */
                assert_int_equal(OPS->result(s.st, NULL), rs.n ? rs.n : 1);
                /* The merged set keeps counting right. */
                add_both(&d, &u, 0xFFFFE);
                assert_int_equal(OPS->result(d.st, NULL), ref_count(&u));
                OPS->free(d.st, NULL);
                OPS->free(s.st, NULL);
                free(rd.v);
                free(rs.v);
                free(u.v);
            }
}

static void check_round_trip(agg *a, ref *r)
{
    size_t want = ref_count(r);
    size_t need = OPS->serialized_size(a->st, NULL);
    uint8_t *buf = malloc(need + 1);
    assert_non_null(buf);
    size_t len = OPS->serialize(a->st, buf, NULL);
    assert_int_equal(len, need);
    /* The two formats of every version: an inline list up to 12 ids, a portable bitmap beyond. */
    if (want <= 12) {
        assert_int_equal(buf[0], 0);
        assert_int_equal(buf[1], want);
        assert_int_equal(len, 2 + 4 * want);
    } else {
        assert_int_equal(buf[0], 1);
        uint32_t blen = buf[1] | buf[2] << 8 | buf[3] << 16 | (uint32_t)buf[4] << 24;
        assert_int_equal(blen, len - 5);
        roaring_bitmap_t *bm = roaring_bitmap_portable_deserialize_safe((char *)buf + 5, blen);
        assert_non_null(bm);
        assert_int_equal(roaring_bitmap_get_cardinality(bm), want);
        for (size_t k = 0; k < r->n; k++)
            assert_true(roaring_bitmap_contains(bm, r->v[k]));
        roaring_bitmap_free(bm);
    }
    agg b;
    memset(b.st, 0, sizeof b.st);
    assert_int_equal(OPS->deserialize(b.st, buf, len, NULL), WEIR_OK);
    assert_int_equal(OPS->result(b.st, NULL), want);
    /* The restored state writes the same bytes and keeps counting. */
    uint8_t *buf2 = malloc(OPS->serialized_size(b.st, NULL) + 1);
    assert_non_null(buf2);
    assert_int_equal(OPS->serialize(b.st, buf2, NULL), len);
    assert_memory_equal(buf, buf2, len);
    for (uint32_t k = 0; k < 50; k++) {
        add_both(&b, r, 0x100000 + k * 7919);
        agg_add(&b, r->v[k % r->n]);
    }
    assert_int_equal(OPS->result(b.st, NULL), ref_count(r));
    OPS->free(b.st, NULL);
    free(buf);
    free(buf2);
}

static void test_round_trip_each_tier(void **unused)
{
    (void)unused;
    for (int no_high = 0; no_high < 2; no_high++)
        for (size_t i = 0; i < NSIZES; i++) {
            agg a;
            ref r = {0};
            fill(&a, &r, SIZES[i], 300 + i, no_high);
            check_round_trip(&a, &r);
            OPS->free(a.st, NULL);
            free(r.v);
        }
}

/* Ids packed into few roaring containers: batches join array containers that fill up,
 * pass roaring's 4,096-value limit and become bitsets, with many ids already present. */
static void test_dense_containers(void **unused)
{
    (void)unused;
    static const uint32_t spans[] = {1u << 13, 1u << 16, 3u << 16};
    for (size_t i = 0; i < sizeof spans / sizeof spans[0]; i++) {
        agg a;
        agg_init(&a);
        ref r = {0};
        uint64_t s = 90 + i;
        for (uint32_t k = 0; k < 60000; k++) {
            uint32_t id = (uint32_t)(rng(&s) % spans[i]) + (i == 2 ? 70000 : 0);
            add_both(&a, &r, id);
            if (k % 7919 == 0)
                assert_int_equal(OPS->result(a.st, NULL), ref_count(&r));
        }
        check_round_trip(&a, &r);
        OPS->free(a.st, NULL);
        free(r.v);
    }
}

/* A set whose containers are bitsets and arrays at once, with bitsets below and above the
 * ids a flush sets directly (2^22): ids pending for bitsets are set without sorting, the
 * rest sorted and merged; the count must stay exact through every flush. */
static void test_bitsets_beside_arrays(void **unused)
{
    (void)unused;
    agg a;
    agg_init(&a);
    ref r = {0};
    uint64_t s = 77;
    for (uint32_t k = 0; k < 200000; k++) {
        uint64_t x = rng(&s);
        uint32_t id;
        switch (x & 3) {
        case 0:
        case 1: id = (uint32_t)((x >> 8) % 8192); break;                    /* dense: a bitset */
        case 2: id = (1u << 16) + (uint32_t)((x >> 8) % (7u << 16)); break; /* sparse: arrays */
        default: id = (70u << 16) + (uint32_t)((x >> 8) % 12000); break;    /* a bitset past 2^22 */
        }
        add_both(&a, &r, id);
        if (k % 9973 == 0)
            assert_int_equal(OPS->result(a.st, NULL), ref_count(&r));
    }
    assert_int_equal(OPS->result(a.st, NULL), ref_count(&r));
    check_round_trip(&a, &r);
    OPS->free(a.st, NULL);
    free(r.v);
}

/* The containers of a set in the bitmap tier, by type, as its snapshot holds them. */
static void container_kinds(agg *a, uint32_t *arrays, uint32_t *bitsets)
{
    size_t len = OPS->serialized_size(a->st, NULL);
    uint8_t *b = malloc(len);
    assert_non_null(b);
    assert_int_equal(OPS->serialize(a->st, b, NULL), len);
    assert_int_equal(b[0], 1);
    roaring_bitmap_t *bm = roaring_bitmap_portable_deserialize_safe((const char *)b + 5, len - 5);
    assert_non_null(bm);
    roaring_statistics_t st;
    roaring_bitmap_statistics(bm, &st);
    *arrays = st.n_array_containers;
    *bitsets = st.n_bitset_containers;
    roaring_bitmap_free(bm);
    free(b);
}

/* Flushes whose group for one container passes roaring's array limit (4096 values): a
 * group of more than 4096 for a container not there yet, and groups that take an array
 * container past the limit. Both turn into bitsets at once; the count stays exact, and
 * the containers left are what roaring would make of the same ids. */
static void test_groups_past_the_array_limit(void **unused)
{
    (void)unused;
    agg a;
    agg_init(&a);
    ref r = {0};
    uint64_t s = 4096;
    /* 20,000 ids in container 0: the bitmap tier, with pending room for 8,192. */
    for (uint32_t k = 0; k < 20000; k++)
        add_both(&a, &r, k * 3);
    assert_int_equal(OPS->result(a.st, NULL), ref_count(&r));
    /* 6,000 distinct ids of container 5 in one pending run: one group of 6,000 for a
     * container not yet there. */
    for (uint32_t k = 0; k < 6000; k++) {
        uint32_t id = (5u << 16) + k * 10;
        add_both(&a, &r, id);
    }
    assert_int_equal(OPS->result(a.st, NULL), ref_count(&r));
    uint32_t arrays, bitsets;
    container_kinds(&a, &arrays, &bitsets);
    assert_int_equal(arrays, 0);
    assert_int_equal(bitsets, 2);
    /* Container 7 grows as an array, a few hundred ids a flush, until a group takes it
     * past 4,096; random ids, some repeated. */
    for (uint32_t round = 0; round < 40; round++) {
        for (uint32_t k = 0; k < 300; k++) {
            uint32_t id = (7u << 16) + (uint32_t)(rng(&s) % 65536);
            add_both(&a, &r, id);
        }
        assert_int_equal(OPS->result(a.st, NULL), ref_count(&r));
    }
    container_kinds(&a, &arrays, &bitsets);
    assert_int_equal(arrays, 0);
    assert_int_equal(bitsets, 3);
    check_round_trip(&a, &r);
    OPS->free(a.st, NULL);
    free(r.v);
}

/* A bitmap built by roaring itself from the ids, as earlier versions wrote it. */
static void test_reads_old_bitmaps(void **unused)
{
    (void)unused;
    static const uint32_t ns[] = {3, 13, 500, 9000};
    for (size_t i = 0; i < 4; i++) {
        roaring_bitmap_t *bm = roaring_bitmap_create();
        uint64_t s = 11 + i;
        for (uint32_t k = 0; k < ns[i]; k++)
            roaring_bitmap_add(bm, (uint32_t)(rng(&s) & 0xFFFFF));
        size_t blen = roaring_bitmap_portable_size_in_bytes(bm);
        uint8_t *buf = malloc(5 + blen);
        assert_non_null(buf);
        buf[0] = 1;
        assert_int_equal(roaring_bitmap_portable_serialize(bm, (char *)buf + 5), blen);
        for (int b = 0; b < 4; b++)
            buf[1 + b] = (uint8_t)(blen >> (8 * b));
        agg a;
        memset(a.st, 0, sizeof a.st);
        assert_int_equal(OPS->deserialize(a.st, buf, 5 + blen, NULL), WEIR_OK);
        assert_int_equal(OPS->result(a.st, NULL), roaring_bitmap_get_cardinality(bm));
        /* Adding every member again changes nothing; a new id counts once. */
        uint32_t *v = malloc(roaring_bitmap_get_cardinality(bm) * sizeof *v);
        assert_non_null(v);
        roaring_bitmap_to_uint32_array(bm, v);
        for (uint64_t k = 0; k < roaring_bitmap_get_cardinality(bm); k++)
            agg_add(&a, v[k]);
        agg_add(&a, 0x200000);
        agg_add(&a, 0x200000);
        assert_int_equal(OPS->result(a.st, NULL), roaring_bitmap_get_cardinality(bm) + 1);
        OPS->free(a.st, NULL);
        roaring_bitmap_free(bm);
        free(buf);
        free(v);
    }
}

static void expect_corrupt(const uint8_t *in, size_t len)
{
    agg a;
    memset(a.st, 0, sizeof a.st);
    assert_int_equal(OPS->deserialize(a.st, in, len, NULL), WEIR_ERR_CORRUPT);
    /* Nothing was left allocated: ASan reports a leak otherwise. */
    assert_int_equal(OPS->heap_bytes(a.st, NULL), 0);
    OPS->free(a.st, NULL);
}

/* A bitmap whose one array container holds {60, 3}, out of order: CRoaring's safe
 * deserializer takes it, and its maximum (the container's last value, 3) hides the 60. A
 * snapshot's check that every id is below its dictionary's size passed, and the next
 * snapshot failed (fuzz/regressions/pipeline-unsorted-bitmap.hex). */
static void test_unsorted_bitmap_refused(void **unused)
{
    (void)unused;
    static const uint8_t bm[] = {0x3a, 0x30, 0, 0, /* cookie: no run containers */
                                 1,    0,    0, 0, /* one container */
                                 0,    0,    1, 0, /* key 0, cardinality 2 */
                                 16,   0,    0, 0, /* its offset */
                                 60,   0,    3, 0};
    uint8_t in[5 + sizeof bm] = {1};
    in[1] = (uint8_t)sizeof bm;
    memcpy(in + 5, bm, sizeof bm);
    expect_corrupt(in, sizeof in);
    /* The same container in order is a valid set of two. */
    in[5 + 16] = 3;
    in[5 + 18] = 60;
    agg a;
    memset(a.st, 0, sizeof a.st);
    assert_int_equal(OPS->deserialize(a.st, in, sizeof in, NULL), WEIR_OK);
    assert_int_equal(OPS->result(a.st, NULL), 2);
    OPS->free(a.st, NULL);
}

static void test_corrupt_inputs(void **unused)
{
    (void)unused;
    uint8_t b[64] = {0};
    expect_corrupt(b, 0);
    expect_corrupt(b, 1);
    b[0] = 2; /* unknown tag */
    expect_corrupt(b, 2);
    b[0] = 0;
    b[1] = 13; /* more inline ids than fit */
    expect_corrupt(b, 2 + 4 * 13 < sizeof b ? 2 + 4 * 13 : sizeof b);
    b[1] = 2; /* length disagrees with n */
    expect_corrupt(b, 2 + 4 * 2 + 1);
    expect_corrupt(b, 2 + 4 * 1);
    memset(b + 2, 0, 8); /* a duplicate id */
    expect_corrupt(b, 2 + 4 * 2);

    /* A valid bitmap of 500 ids, then damaged copies. */
    agg a;
    ref r = {0};
    fill(&a, &r, 500, 77, 1);
    size_t len = OPS->serialized_size(a.st, NULL);
    uint8_t *good = malloc(len), *bad = malloc(len + 8);
    assert_non_null(good);
    assert_non_null(bad);
    assert_int_equal(OPS->serialize(a.st, good, NULL), len);
    OPS->free(a.st, NULL);
    free(r.v);
    expect_corrupt(good, 4);       /* cut inside the header */
    expect_corrupt(good, len - 1); /* truncated bitmap */
    memcpy(bad, good, len);
    memset(bad + len, 0, 8);
    expect_corrupt(bad, len + 8); /* trailing bytes */
    memcpy(bad, good, len);
    bad[1] ^= 1; /* stated length off by one */
    expect_corrupt(bad, len);
    memcpy(bad, good, len);
    memset(bad + 5, 0xA5, 8); /* cookie and container count garbled */
    expect_corrupt(bad, len);
    /* Random garbage after a plausible header must never be accepted as a different size. */
    uint64_t s = 5;
    for (int t = 0; t < 200; t++) {
        memcpy(bad, good, len);
        size_t at = 5 + rng(&s) % (len - 5);
        bad[at] ^= (uint8_t)(1 + rng(&s) % 255);
        agg c;
        memset(c.st, 0, sizeof c.st);
        weir_err rc = OPS->deserialize(c.st, bad, len, NULL);
        assert_true(rc == WEIR_OK || rc == WEIR_ERR_CORRUPT);
        if (rc == WEIR_OK)
            assert_true(OPS->result(c.st, NULL) > 0);
        OPS->free(c.st, NULL);
    }
    free(good);
    free(bad);
}

/* The ids of a state, sorted, through its serialized form; returns how many. */
static size_t ids_of(agg *a, uint32_t **out)
{
    size_t len = OPS->serialized_size(a->st, NULL);
    uint8_t *b = malloc(len);
    assert_non_null(b);
    assert_int_equal(OPS->serialize(a->st, b, NULL), len);
    size_t n;
    if (b[0] == 0) {
        n = b[1];
        *out = malloc((n ? n : 1) * sizeof **out);
        assert_non_null(*out);
        for (size_t i = 0; i < n; i++)
            (*out)[i] = (uint32_t)b[2 + 4 * i] | (uint32_t)b[3 + 4 * i] << 8 |
                        (uint32_t)b[4 + 4 * i] << 16 | (uint32_t)b[5 + 4 * i] << 24;
        qsort(*out, n, sizeof **out, cmp_u32);
    } else {
        roaring_bitmap_t *bm =
            roaring_bitmap_portable_deserialize_safe((const char *)b + 5, len - 5);
        assert_non_null(bm);
        n = roaring_bitmap_get_cardinality(bm);
        *out = malloc((n ? n : 1) * sizeof **out);
        assert_non_null(*out);
        roaring_bitmap_to_uint32_array(bm, *out);
        roaring_bitmap_free(bm);
    }
    free(b);
    return n;
}

/* A snapshot writes each set through the dictionary's new numbering: the copy holds
 * exactly the mapped ids, whatever the tier and the pending ids, and the source is
 * unchanged. */
static void test_renumber_each_tier(void **unused)
{
    (void)unused;
    const uint32_t span = 1u << 20;
    uint32_t *map = malloc(span * sizeof *map);
    assert_non_null(map);
    uint64_t s = 77;
    for (uint32_t i = 0; i < span; i++)
        map[i] = i;
    for (uint32_t k = span; k > 1; k--) {
        uint32_t j = (uint32_t)(rng(&s) % k), t = map[k - 1];
        map[k - 1] = map[j];
        map[j] = t;
    }
    for (size_t i = 0; i < NSIZES; i++) {
        agg a, c;
        ref r = {0};
        fill(&a, &r, SIZES[i], 9000 + i, 1);
        memset(c.st, 0, sizeof c.st);
        assert_int_equal(OPS->renumber(c.st, a.st, map, span, NULL), WEIR_OK);
        /* an id beyond the map is refused */
        if (r.n) {
            agg x;
            memset(x.st, 0, sizeof x.st);
            assert_int_equal(OPS->renumber(x.st, a.st, map, r.v[r.n - 1], NULL), WEIR_ERR_CORRUPT);
            /* and the check alone says the same, at the same bound */
            assert_int_equal(OPS->renumber(x.st, a.st, NULL, r.v[r.n - 1], NULL), WEIR_ERR_CORRUPT);
            assert_int_equal(OPS->renumber(x.st, a.st, NULL, r.v[r.n - 1] + 1, NULL), WEIR_OK);
        }
        assert_int_equal(OPS->result(c.st, NULL), SIZES[i]);
        uint32_t *got, *src;
        size_t n = ids_of(&c, &got);
        assert_int_equal(n, SIZES[i]);
        uint32_t *want = malloc((r.n ? r.n : 1) * sizeof *want);
        assert_non_null(want);
        for (size_t k = 0; k < r.n; k++)
            want[k] = map[r.v[k]];
        qsort(want, r.n, sizeof *want, cmp_u32);
        assert_memory_equal(got, want, r.n * sizeof *want);
        /* the source still holds the old ids */
        assert_int_equal(ids_of(&a, &src), r.n);
        assert_memory_equal(src, r.v, r.n * sizeof *src);
        OPS->free(c.st, NULL);
        OPS->free(a.st, NULL);
        free(got);
        free(src);
        free(want);
        free(r.v);
    }
    free(map);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_counts_across_tiers),
        cmocka_unit_test(test_add_many_in_runs),
        cmocka_unit_test(test_heap_per_id),
        cmocka_unit_test(test_result_while_growing),
        cmocka_unit_test(test_merge_all_tiers),
        cmocka_unit_test(test_round_trip_each_tier),
        cmocka_unit_test(test_dense_containers),
        cmocka_unit_test(test_bitsets_beside_arrays),
        cmocka_unit_test(test_groups_past_the_array_limit),
        cmocka_unit_test(test_reads_old_bitmaps),
        cmocka_unit_test(test_corrupt_inputs),
        cmocka_unit_test(test_unsorted_bitmap_refused),
        cmocka_unit_test(test_renumber_each_tier),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
