/* Unit tests of the HyperLogLog sketch (include/weir/hll.h) and its aggregate: API, exact
 * small counts, sparse to dense conversion, merge and fold, serialization and its
 * validation, memory sizes. The full accuracy sweep is test/it/hll_accuracy.sh. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <xxhash.h>

#include "weir/aggregate.h"
#include "weir/hll.h"

static uint64_t splitmix64(uint64_t *state)
{
    uint64_t z = (*state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static weir_hll *new_sketch(int p)
{
    weir_hll *h = NULL;
    assert_int_equal(weir_hll_new(p, &h), WEIR_OK);
    assert_non_null(h);
    return h;
}

/* A sketch of precision p fed `n` hashes of the stream `seed`. */
static weir_hll *sketch_of(int p, uint64_t seed, size_t n)
{
    weir_hll *h = new_sketch(p);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(weir_hll_add(h, splitmix64(&seed)), WEIR_OK);
    return h;
}

static uint8_t *serialize(const weir_hll *h, size_t *len)
{
    *len = weir_hll_serialized_size(h);
    uint8_t *b = malloc(*len);
    assert_non_null(b);
    assert_int_equal(weir_hll_serialize(h, b, *len), *len);
    return b;
}

static void assert_same_sketch(const weir_hll *a, const weir_hll *b)
{
    size_t la, lb;
    uint8_t *ba = serialize(a, &la), *bb = serialize(b, &lb);
    assert_int_equal(la, lb);
    assert_memory_equal(ba, bb, la);
    free(ba);
    free(bb);
}

/* The registers a sketch of precision p holds for `hashes`, computed from the definition. */
static void reference_registers(int p, const uint64_t *hashes, size_t n, uint8_t *reg)
{
    memset(reg, 0, (size_t)1 << p);
    for (size_t i = 0; i < n; i++) {
        uint64_t h = hashes[i];
        uint32_t idx = (uint32_t)(h >> (64 - p));
        unsigned rho = 1;
        for (int b = 63 - p; b >= 0 && !((h >> b) & 1); b--)
            rho++;
        if (rho > reg[idx])
            reg[idx] = (uint8_t)rho;
    }
}

/* Reads the registers out of a serialized dense sketch (docs/HLL.md). */
static void registers_of(const weir_hll *h, uint8_t *reg)
{
    size_t len;
    uint8_t *b = serialize(h, &len);
    int p = weir_hll_precision(h);
    assert_int_equal(b[6], 1);
    assert_int_equal(len, 8 + ((size_t)3 << (p - 2)) + 4);
    for (uint32_t i = 0; i < (1u << p); i++) {
        const uint8_t *g = b + 8 + (size_t)(i / 4) * 3;
        uint32_t v = g[0] | (uint32_t)g[1] << 8 | (uint32_t)g[2] << 16;
        reg[i] = (uint8_t)((v >> (6 * (i % 4))) & 63);
    }
    free(b);
}

static void test_arguments(void **unused)
{
    (void)unused;
    weir_hll *h = (weir_hll *)&h;
    assert_int_equal(weir_hll_new(3, &h), WEIR_ERR_INVALID_ARG);
    assert_int_equal(weir_hll_new(19, &h), WEIR_ERR_INVALID_ARG);
    assert_int_equal(weir_hll_new(14, NULL), WEIR_ERR_INVALID_ARG);
    weir_hll_destroy(NULL);
    weir_hll_embed_fini(NULL);
    unsigned char mem[WEIR_HLL_EMBED_SIZE] __attribute__((aligned(8)));
    assert_null(weir_hll_embed_init(mem, 3));
    assert_null(weir_hll_embed_init(mem, 19));
    assert_null(weir_hll_embed_init(NULL, 14));
    for (int p = WEIR_HLL_P_MIN; p <= WEIR_HLL_P_MAX; p++) {
        h = new_sketch(p);
        assert_int_equal(weir_hll_precision(h), p);
        assert_true(weir_hll_is_sparse(h));
        assert_true(weir_hll_estimate(h) == 0.0);
        weir_hll_destroy(h);
        h = weir_hll_embed_init(mem, p);
        assert_ptr_equal(h, (void *)mem);
        assert_int_equal(weir_hll_heap_bytes(h), 0);
        weir_hll_embed_fini(h);
    }
}

/* Small sets are counted exactly at every precision, duplicates included. */
static void test_small_sets_exact(void **unused)
{
    (void)unused;
    static const size_t ns[] = {1, 2, 3, 10, 14, 15, 40, 100, 500};
    for (int p = WEIR_HLL_P_MIN; p <= WEIR_HLL_P_MAX; p++) {
        for (size_t k = 0; k < sizeof(ns) / sizeof(ns[0]); k++) {
            weir_hll *h = new_sketch(p);
            for (int pass = 0; pass < 3; pass++) {
                uint64_t seed = 1000 + ns[k];
                for (size_t i = 0; i < ns[k]; i++)
                    assert_int_equal(weir_hll_add(h, splitmix64(&seed)), WEIR_OK);
            }
            double e = weir_hll_estimate(h);
            /* Exact while the sketch is sparse; otherwise within 4 standard errors. */
            if (weir_hll_is_sparse(h))
                assert_int_equal(llround(e), (long long)ns[k]);
            else
                assert_true(fabs(e / (double)ns[k] - 1) < 4 * 1.04 / sqrt(ldexp(1, p)));
            weir_hll_destroy(h);
        }
    }
}

/* Sparse to dense: the switch happens when the table would outgrow the registers, and
 * the registers then equal those computed from the definition, through every later add. */
static void test_sparse_to_dense(void **unused)
{
    (void)unused;
    static const int ps[] = {4, 6, 7, 8, 10, 14};
    enum { N = 6000 };
    uint64_t *hashes = malloc(N * sizeof(uint64_t));
    uint8_t *want = malloc((size_t)1 << 14), *got = malloc((size_t)1 << 14);
    assert_non_null(hashes);
    assert_non_null(want);
    assert_non_null(got);
    for (size_t k = 0; k < sizeof(ps) / sizeof(ps[0]); k++) {
        int p = ps[k];
        size_t dense = (size_t)3 << (p - 2), switched = 0;
        uint64_t seed = 77 + (uint64_t)p;
        weir_hll *h = new_sketch(p);
        for (size_t i = 0; i < N; i++) {
            hashes[i] = splitmix64(&seed);
            assert_int_equal(weir_hll_add(h, hashes[i]), WEIR_OK);
            /* A sparse sketch never takes more than its registers would. */
            if (weir_hll_is_sparse(h))
                assert_true(weir_hll_heap_bytes(h) <= WEIR_HLL_EMBED_SIZE + dense);
            else if (!switched)
                switched = i + 1;
        }
        assert_true(switched > 0);
        /* Pending entries are merged when the array is full: at p = 14 the list holds
         * 2048 entries in 3072 slots and 1024 pending ones when the 3073rd value
         * arrives, and the union of 3072 entries is past the limit of 2304. */
        if (p == 14)
            assert_true(switched >= 3073 && switched <= 3080);
        if (p <= 6)
            assert_int_equal(switched, 15); /* straight from the inline entries */
        assert_int_equal(weir_hll_heap_bytes(h), WEIR_HLL_EMBED_SIZE + dense);
        reference_registers(p, hashes, N, want);
        registers_of(h, got);
        assert_memory_equal(got, want, (size_t)1 << p);
        weir_hll_destroy(h);
    }
    free(hashes);
    free(want);
    free(got);
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

/* The sparse limit is exact: once pending entries are merged (estimate() does it), a
 * sketch whose hashes have at most 2304 distinct top-25-bit keys (p = 14) stays sparse and
 * counts them exactly, and one more key makes it dense. Values arrive twice, in two
 * orders, so merges meet repeats from both the list and the pending entries. */
static void test_sparse_limit(void **unused)
{
    (void)unused;
    enum { N = 2400 };
    uint64_t hashes[N], keys[N];
    uint64_t seed = 4242;
    for (size_t i = 0; i < N; i++)
        hashes[i] = splitmix64(&seed);
    for (size_t n = 2290; n <= N; n += 5) {
        for (size_t i = 0; i < n; i++)
            keys[i] = hashes[i] >> 39;
        qsort(keys, n, sizeof(uint64_t), cmp_u64);
        size_t distinct = 0;
        for (size_t i = 0; i < n; i++)
            distinct += i == 0 || keys[i] != keys[i - 1];
        weir_hll *h = new_sketch(14);
        for (size_t i = 0; i < n; i++)
            assert_int_equal(weir_hll_add(h, hashes[i]), WEIR_OK);
        for (size_t i = n; i-- > 0;)
            assert_int_equal(weir_hll_add(h, hashes[i]), WEIR_OK);
        double e = weir_hll_estimate(h);
        assert_int_equal(weir_hll_is_sparse(h), distinct <= 2304);
        if (distinct <= 2304)
            assert_true(fabs(e - (double)distinct) < 0.5 + 1e-3 * (double)distinct);
        weir_hll_destroy(h);
    }
}

static void test_memory_sizes(void **unused)
{
    (void)unused;
    /* 10 values: the 64-byte sketch and nothing else. */
    weir_hll *h = sketch_of(14, 5, 10);
    assert_int_equal(weir_hll_heap_bytes(h), 64);
    assert_true(weir_hll_is_sparse(h));
    weir_hll_destroy(h);
    unsigned char mem[WEIR_HLL_EMBED_SIZE] __attribute__((aligned(8)));
    h = weir_hll_embed_init(mem, 14);
    uint64_t seed = 5;
    for (int i = 0; i < 10; i++)
        assert_int_equal(weir_hll_add(h, splitmix64(&seed)), WEIR_OK);
    assert_int_equal(weir_hll_heap_bytes(h), 0);
    weir_hll_embed_fini(h);
    /* Dense p=14: 16384 registers of 6 bits, 12 KiB. */
    h = sketch_of(14, 6, 50000);
    assert_false(weir_hll_is_sparse(h));
    assert_int_equal(weir_hll_heap_bytes(h) - WEIR_HLL_EMBED_SIZE, 12 * 1024);
    assert_int_equal(weir_hll_serialized_size(h), 12 * 1024 + 12);
    weir_hll_destroy(h);
    /* 20 values repeated: the array grew while they were pending, and the merge gives
     * the memory back (an array of at most 64 entries for 20). */
    h = new_sketch(14);
    for (int rep = 0; rep < 50; rep++) {
        seed = 8;
        for (int i = 0; i < 20; i++)
            assert_int_equal(weir_hll_add(h, splitmix64(&seed)), WEIR_OK);
    }
    assert_int_equal(llround(weir_hll_estimate(h)), 20);
    assert_true(weir_hll_heap_bytes(h) <= 64 + 64 * 4);
    weir_hll_destroy(h);
    /* The aggregate's inline state is the sketch. */
    assert_int_equal(weir_agg_distinct_hll.state_size, 64);
}

static void test_estimate_updates(void **unused)
{
    (void)unused;
    uint64_t seed = 9;
    weir_hll *h = new_sketch(12);
    double last = 0;
    for (int round = 0; round < 6; round++) {
        for (int i = 0; i < 5000; i++)
            assert_int_equal(weir_hll_add(h, splitmix64(&seed)), WEIR_OK);
        double e = weir_hll_estimate(h);
        assert_true(e == weir_hll_estimate(h)); /* cached, same answer */
        assert_true(e > last);
        assert_true(fabs(e / (5000.0 * (round + 1)) - 1) < 4 * 1.04 / 64);
        last = e;
    }
    weir_hll_destroy(h);
}

/* A light accuracy check that runs under ASan; the real sweep is hll_accuracy.sh. */
static void test_accuracy_light(void **unused)
{
    (void)unused;
    enum { S = 24 };
    static const size_t ns[] = {300, 3000, 30000};
    for (size_t k = 0; k < sizeof(ns) / sizeof(ns[0]); k++) {
        double sq = 0, sum = 0;
        for (int s = 0; s < S; s++) {
            weir_hll *h = sketch_of(10, 0xacc0000 + (uint64_t)s * 7919 + ns[k], ns[k]);
            double e = weir_hll_estimate(h) / (double)ns[k] - 1;
            sq += e * e;
            sum += e;
            weir_hll_destroy(h);
        }
        double sigma = 1.04 / 32, rmse = sqrt(sq / S);
        print_message("p=10 n=%zu: rmse %.4f bias %+.4f (sigma %.4f)\n", ns[k], rmse, sum / S,
                      sigma);
        assert_true(rmse < 1.5 * sigma);
        assert_true(fabs(sum / S) < sigma);
    }
}

/* sketch(A) merged with sketch(B) is sketch(A u B), in every combination of forms. */
static void test_merge_is_union(void **unused)
{
    (void)unused;
    static const size_t sizes[] = {0, 5, 14, 300, 3000, 40000};
    enum { NS = sizeof(sizes) / sizeof(sizes[0]) };
    for (int p = 8; p <= 14; p += 6) {
        for (size_t a = 0; a < NS; a++) {
            for (size_t b = 0; b < NS; b++) {
                /* A is stream 1's first sizes[a] hashes plus stream 2's first half of
                 * sizes[b]; B is stream 2's first sizes[b]: they overlap. */
                weir_hll *ha = sketch_of(p, 1, sizes[a]), *hb = sketch_of(p, 2, sizes[b]);
                weir_hll *u = sketch_of(p, 1, sizes[a]);
                uint64_t seed = 2;
                for (size_t i = 0; i < sizes[b]; i++) {
                    uint64_t x = splitmix64(&seed);
                    assert_int_equal(weir_hll_add(u, x), WEIR_OK);
                    if (i < sizes[b] / 2)
                        assert_int_equal(weir_hll_add(ha, x), WEIR_OK);
                }
                assert_int_equal(weir_hll_merge(ha, hb), WEIR_OK);
                assert_same_sketch(ha, u);
                assert_true(weir_hll_estimate(ha) == weir_hll_estimate(u));
                /* Merging is idempotent, also with itself. */
                assert_int_equal(weir_hll_merge(ha, hb), WEIR_OK);
                assert_int_equal(weir_hll_merge(ha, ha), WEIR_OK);
                assert_same_sketch(ha, u);
                weir_hll_destroy(ha);
                weir_hll_destroy(hb);
                weir_hll_destroy(u);
            }
        }
    }
}

/* A sketch folded into a lower precision equals the sketch built there directly. */
static void test_fold(void **unused)
{
    (void)unused;
    static const int pairs[][2] = {{16, 12}, {14, 10}, {18, 4}, {12, 11}, {10, 10}, {7, 6}};
    static const size_t sizes[] = {0, 3, 20, 1000, 30000};
    for (size_t k = 0; k < sizeof(pairs) / sizeof(pairs[0]); k++) {
        for (size_t j = 0; j < sizeof(sizes) / sizeof(sizes[0]); j++) {
            int hi = pairs[k][0], lo = pairs[k][1];
            weir_hll *src = sketch_of(hi, 3 + j, sizes[j]);
            weir_hll *direct = sketch_of(lo, 3 + j, sizes[j]);
            weir_hll *dst = new_sketch(lo);
            assert_int_equal(weir_hll_merge(dst, src), WEIR_OK);
            assert_int_equal(weir_hll_precision(dst), lo);
            assert_same_sketch(dst, direct);
            /* Into a non-empty sketch too: fold half, add the other half directly. */
            weir_hll *half = sketch_of(lo, 3 + j, sizes[j] / 2);
            assert_int_equal(weir_hll_merge(half, src), WEIR_OK);
            assert_same_sketch(half, direct);
            /* A lower precision does not merge into a higher one; dst is unchanged. */
            if (hi != lo) {
                assert_int_equal(weir_hll_merge(src, direct), WEIR_ERR_INVALID_ARG);
                weir_hll *again = sketch_of(hi, 3 + j, sizes[j]);
                assert_same_sketch(src, again);
                weir_hll_destroy(again);
            }
            weir_hll_destroy(src);
            weir_hll_destroy(direct);
            weir_hll_destroy(dst);
            weir_hll_destroy(half);
        }
    }
}

static void test_clone(void **unused)
{
    (void)unused;
    static const size_t sizes[] = {0, 7, 500, 20000};
    for (size_t j = 0; j < sizeof(sizes) / sizeof(sizes[0]); j++) {
        weir_hll *h = sketch_of(12, 11, sizes[j]), *c = NULL;
        assert_int_equal(weir_hll_clone(h, &c), WEIR_OK);
        assert_same_sketch(h, c);
        assert_int_equal(weir_hll_heap_bytes(h), weir_hll_heap_bytes(c));
        assert_int_equal(weir_hll_add(c, 12345), WEIR_OK); /* independent copies */
        weir_hll_destroy(h);
        weir_hll_destroy(c);
    }
}

/* Round trips are bit-identical and the header is the documented one. */
static void test_serialize_round_trip(void **unused)
{
    (void)unused;
    static const size_t sizes[] = {0, 1, 14, 15, 200, 3000, 100000};
    for (int p = WEIR_HLL_P_MIN; p <= WEIR_HLL_P_MAX; p += 2) {
        for (size_t j = 0; j < sizeof(sizes) / sizeof(sizes[0]); j++) {
            weir_hll *h = sketch_of(p, 21 + j, sizes[j]), *r = NULL;
            size_t len;
            /* h may still hold pending entries: they are written as they will be kept. */
            uint8_t *b = serialize(h, &len);
            assert_memory_equal(b, "WHLL", 4);
            assert_int_equal(b[4], 1);
            assert_int_equal(b[5], p);
            assert_int_equal(b[7], 0);
            assert_int_equal(weir_hll_serialize(h, b, len - 1), 0);
            assert_int_equal(weir_hll_deserialize(b, len, &r), WEIR_OK);
            assert_int_equal(weir_hll_precision(r), p);
            double eh = weir_hll_estimate(h); /* merges h's pending entries */
            size_t len_settled;
            uint8_t *settled = serialize(h, &len_settled);
            assert_int_equal(len_settled, len);
            assert_memory_equal(settled, b, len);
            free(settled);
            assert_int_equal(b[6], weir_hll_is_sparse(h) ? 0 : 1);
            assert_int_equal(weir_hll_is_sparse(r), weir_hll_is_sparse(h));
            assert_int_equal(weir_hll_heap_bytes(r), weir_hll_heap_bytes(h));
            assert_same_sketch(h, r);
            assert_true(eh == weir_hll_estimate(r));
            /* A read-back sketch goes on like the original. */
            uint64_t seed = 99;
            for (int i = 0; i < 3000; i++) {
                uint64_t x = splitmix64(&seed);
                assert_int_equal(weir_hll_add(h, x), WEIR_OK);
                assert_int_equal(weir_hll_add(r, x), WEIR_OK);
            }
            assert_same_sketch(h, r);
            /* Into an embedded sketch of another precision, replacing its content. */
            unsigned char mem[WEIR_HLL_EMBED_SIZE] __attribute__((aligned(8)));
            weir_hll *e = weir_hll_embed_init(mem, p == 4 ? 18 : 4);
            for (int i = 0; i < 100; i++)
                assert_int_equal(weir_hll_add(e, splitmix64(&seed)), WEIR_OK);
            assert_int_equal(weir_hll_deserialize_into(e, b, len), WEIR_OK);
            assert_int_equal(weir_hll_precision(e), p);
            size_t len2;
            uint8_t *b2 = serialize(e, &len2);
            assert_int_equal(len2, len);
            assert_memory_equal(b2, b, len);
            free(b2);
            weir_hll_embed_fini(e);
            free(b);
            weir_hll_destroy(h);
            weir_hll_destroy(r);
        }
    }
}

/* Reading `b` either fails or gives a sketch that round-trips and behaves. */
static void check_decoded(const uint8_t *b, size_t len, int *accepted)
{
    weir_hll *r = NULL;
    weir_err rc = weir_hll_deserialize(b, len, &r);
    if (rc != WEIR_OK) {
        assert_true(rc == WEIR_ERR_CORRUPT || rc == WEIR_ERR_UNSUPPORTED);
        assert_null(r);
        return;
    }
    ++*accepted;
    size_t l2;
    uint8_t *b2 = serialize(r, &l2);
    weir_hll *r2 = NULL;
    assert_int_equal(weir_hll_deserialize(b2, l2, &r2), WEIR_OK);
    assert_same_sketch(r, r2);
    double e = weir_hll_estimate(r);
    assert_true(e >= 0 && isfinite(e));
    free(b2);
    weir_hll_destroy(r);
    weir_hll_destroy(r2);
}

static void test_truncation_rejected(void **unused)
{
    (void)unused;
    static const struct {
        int p;
        size_t n;
    } cases[] = {{14, 0}, {14, 9}, {14, 400}, {6, 1000}, {10, 5000}};
    for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
        weir_hll *h = sketch_of(cases[k].p, 31, cases[k].n), *r = (weir_hll *)&r;
        size_t len;
        uint8_t *b = serialize(h, &len);
        for (size_t cut = 0; cut < len; cut++) {
            /* A fresh copy of exactly `cut` bytes, so ASan sees any read past it. */
            uint8_t *t = malloc(cut ? cut : 1);
            assert_non_null(t);
            memcpy(t, b, cut);
            assert_int_equal(weir_hll_deserialize(t, cut, &r), WEIR_ERR_CORRUPT);
            assert_null(r);
            free(t);
        }
        /* Trailing bytes are corruption too. */
        uint8_t *t = malloc(len + 1);
        assert_non_null(t);
        memcpy(t, b, len);
        t[len] = 0;
        assert_int_equal(weir_hll_deserialize(t, len + 1, &r), WEIR_ERR_CORRUPT);
        free(t);
        free(b);
        weir_hll_destroy(h);
    }
}

/* Every single-byte change of small serialized sketches: all 255 other values at every
 * position; and one change at every position of a dense p=14 sketch. */
static void test_corruption_rejected(void **unused)
{
    (void)unused;
    static const struct {
        int p;
        size_t n;
    } cases[] = {{14, 20}, {8, 30}, {6, 500}, {4, 3}, {14, 30000}};
    for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
        weir_hll *h = sketch_of(cases[k].p, 41, cases[k].n);
        size_t len;
        uint8_t *b = serialize(h, &len);
        int accepted = 0, exhaustive = len < 200;
        for (size_t pos = 0; pos < len; pos++) {
            uint8_t orig = b[pos];
            for (unsigned v = 0; v < 256; v++) {
                if (v == orig || (!exhaustive && v != (orig ^ 0x5a)))
                    continue;
                b[pos] = (uint8_t)v;
                check_decoded(b, len, &accepted);
            }
            b[pos] = orig;
        }
        /* The checksum catches them all. */
        assert_int_equal(accepted, 0);
        free(b);
        weir_hll_destroy(h);
    }
}

static void put32(uint8_t *b, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        b[i] = (uint8_t)(v >> (8 * i));
}

static void reseal(uint8_t *b, size_t len)
{
    put32(b + len - 4, (uint32_t)XXH3_64bits(b, len - 4));
}

/* Content checks behind the checksum: damaged fields with a valid checksum. */
static void test_content_validation(void **unused)
{
    (void)unused;
    weir_hll *h = sketch_of(10, 51, 40), *r = NULL;
    size_t len;
    uint8_t *b = serialize(h, &len), *t = malloc(len);
    assert_non_null(t);
    assert_int_equal(b[6], 0);
    uint32_t n = b[8] | (uint32_t)b[9] << 8;
    assert_int_equal(n, 40);
    struct {
        size_t pos;
        uint8_t val;
        weir_err want;
    } edits[] = {
        {4, 0, WEIR_ERR_CORRUPT},   {4, 2, WEIR_ERR_UNSUPPORTED}, {5, 3, WEIR_ERR_CORRUPT},
        {5, 19, WEIR_ERR_CORRUPT},  {6, 2, WEIR_ERR_CORRUPT},     {7, 1, WEIR_ERR_CORRUPT},
        {12, 0, WEIR_ERR_CORRUPT}, /* rho' 0 in the first entry (its low byte is rho') */
        {12, 41, WEIR_ERR_CORRUPT}, {15, 0x80, WEIR_ERR_CORRUPT}, /* idx25 past 2^25 */
    };
    for (size_t k = 0; k < sizeof(edits) / sizeof(edits[0]); k++) {
        memcpy(t, b, len);
        t[edits[k].pos] =
            (uint8_t)((t[edits[k].pos] & (edits[k].pos == 12 ? 0xc0 : 0)) | edits[k].val);
        if (edits[k].pos == 15)
            t[15] = (uint8_t)(b[15] | 0x80);
        reseal(t, len);
        assert_int_equal(weir_hll_deserialize(t, len, &r), edits[k].want);
        assert_null(r);
    }
    /* Entries out of order, and a repeated entry. */
    memcpy(t, b, len);
    memcpy(t + 12, b + 16, 4);
    memcpy(t + 16, b + 12, 4);
    reseal(t, len);
    assert_int_equal(weir_hll_deserialize(t, len, &r), WEIR_ERR_CORRUPT);
    memcpy(t, b, len);
    memcpy(t + 16, b + 12, 4);
    reseal(t, len);
    assert_int_equal(weir_hll_deserialize(t, len, &r), WEIR_ERR_CORRUPT);
    /* A count that disagrees with the length, and one beyond the sparse limit of p. */
    memcpy(t, b, len);
    put32(t + 8, n - 1);
    reseal(t, len);
    assert_int_equal(weir_hll_deserialize(t, len, &r), WEIR_ERR_CORRUPT);
    free(t);
    uint8_t big[8 + 4 + 4 * 200 + 4] = {'W', 'H', 'L', 'L', 1, 10, 0, 0};
    put32(big + 8, 200); /* p=10 keeps at most 144 entries */
    for (uint32_t i = 0; i < 200; i++)
        put32(big + 12 + 4 * i, (i * 1000) << 6 | 1);
    reseal(big, sizeof(big));
    assert_int_equal(weir_hll_deserialize(big, sizeof(big), &r), WEIR_ERR_CORRUPT);
    put32(big + 8, 144);
    reseal(big, 8 + 4 + 4 * 144 + 4);
    assert_int_equal(weir_hll_deserialize(big, 8 + 4 + 4 * 144 + 4, &r), WEIR_OK);
    assert_int_equal(llround(weir_hll_estimate(r)), 144);
    weir_hll_destroy(r);
    free(b);
    weir_hll_destroy(h);
    /* A dense register above 65 - p. */
    h = sketch_of(12, 52, 20000);
    b = serialize(h, &len);
    assert_int_equal(b[6], 1);
    b[8] = (uint8_t)((b[8] & 0xc0) | 54); /* register 0 := 54 > 53 */
    reseal(b, len);
    assert_int_equal(weir_hll_deserialize(b, len, &r), WEIR_ERR_CORRUPT);
    b[8] = (uint8_t)((b[8] & 0xc0) | 53);
    reseal(b, len);
    assert_int_equal(weir_hll_deserialize(b, len, &r), WEIR_OK);
    weir_hll_destroy(r);
    /* A failed read leaves the target as it was. */
    weir_hll *keep = sketch_of(12, 53, 100);
    b[8] = (uint8_t)((b[8] & 0xc0) | 60);
    reseal(b, len);
    assert_int_equal(weir_hll_deserialize_into(keep, b, len), WEIR_ERR_CORRUPT);
    assert_int_equal(llround(weir_hll_estimate(keep)), 100);
    weir_hll_destroy(keep);
    free(b);
    weir_hll_destroy(h);
}

/* Ertl's improved estimator, from its series definitions, over registers `reg`. */
static double reference_estimate(const uint8_t *reg, int p)
{
    int q = 64 - p;
    long double m = ldexpl(1, p), c[66] = {0};
    for (uint32_t i = 0; i < (1u << p); i++)
        c[reg[i]]++;
    if (c[0] == m)
        return 0;
    long double x = c[0] / m, sigma = x;
    for (int k = 1; k < 64 && x > 0; k++)
        sigma += powl(x, ldexpl(1, k)) * ldexpl(1, k - 1);
    long double y = 1 - c[q + 1] / m, tau = 1 - y;
    for (int k = 1; k < 200; k++) {
        long double t = 1 - powl(y, ldexpl(1, -k));
        tau -= t * t * ldexpl(1, -k);
    }
    tau /= 3;
    long double z = m * sigma + m * tau * ldexpl(1, -q);
    for (int k = 1; k <= q; k++)
        z += c[k] * ldexpl(1, -k);
    long double e = m * m / (2 * logl(2) * z);
    return e < 0x1p64L ? (double)e : 0x1p64;
}

/* Dense sketches made of chosen registers, estimated against the reference. */
static void test_estimator_reference(void **unused)
{
    (void)unused;
    uint64_t seed = 61;
    for (int round = 0; round < 40; round++) {
        int p = round < 30 ? 4 : 8, m = 1 << p, max = 65 - p;
        uint8_t reg[256];
        for (int i = 0; i < m; i++) {
            uint64_t r = splitmix64(&seed);
            switch (round % 6) {
            case 0: reg[i] = (uint8_t)(r % (uint64_t)(max + 1)); break;
            case 1: reg[i] = i < m / 2 ? (uint8_t)max : (uint8_t)(max - 1); break;
            case 2: reg[i] = i == 0 ? 0 : (uint8_t)max; break;
            case 3: reg[i] = (uint8_t)(r % 3); break;
            case 4: reg[i] = i < round ? 1 : 0; break;
            default: reg[i] = (uint8_t)(max - (int)(r % 4)); break;
            }
        }
        size_t len = 8 + (size_t)m * 3 / 4 + 4;
        uint8_t b[8 + 192 + 4] = {'W', 'H', 'L', 'L', 1, (uint8_t)p, 1, 0};
        for (int g = 0; g < m / 4; g++) {
            uint32_t v = 0;
            for (int j = 0; j < 4; j++)
                v |= (uint32_t)reg[4 * g + j] << (6 * j);
            b[8 + 3 * g] = (uint8_t)v;
            b[9 + 3 * g] = (uint8_t)(v >> 8);
            b[10 + 3 * g] = (uint8_t)(v >> 16);
        }
        put32(b + len - 4, (uint32_t)XXH3_64bits(b, len - 4));
        weir_hll *h = NULL;
        assert_int_equal(weir_hll_deserialize(b, len, &h), WEIR_OK);
        double got = weir_hll_estimate(h), want = reference_estimate(reg, p);
        assert_true(isfinite(got));
        if (fabs(got - want) > 1e-9 * want)
            fail_msg("round %d p=%d: estimate %.17g, reference %.17g", round, p, got, want);
        weir_hll_destroy(h);
    }
}

/* The aggregate over events, as the window operator drives it. */
static void test_aggregate(void **unused)
{
    (void)unused;
    const weir_agg_ops *ops = &weir_agg_distinct_hll;
    assert_string_equal(ops->name, "distinct_hll");
    assert_true(ops->state_size <= 64);
    assert_int_equal(ops->flags & WEIR_AGG_NEEDS_DENSE_ID, 0);
    static const int p10 = 10;
    _Alignas(8) unsigned char a[WEIR_HLL_EMBED_SIZE] = {0}, b[WEIR_HLL_EMBED_SIZE] = {0},
                              c[WEIR_HLL_EMBED_SIZE] = {0};
    ops->init(a, NULL);
    ops->init(b, NULL);
    assert_int_equal(ops->result(a, NULL), 0);
    weir_event ev = {0};
    weir_agg_input in = {.event = &ev, .dense_id = 0};
    /* Users u0..u2999 in a, u2000..u4999 in b; the hash is the value's XXH3-128 low word. */
    for (int i = 0; i < 5000; i++) {
        char user[16];
        int len = snprintf(user, sizeof(user), "u%d", i);
        XXH128_hash_t fp = XXH3_128bits(user, (size_t)len);
        ev.user_fp[0] = fp.low64;
        ev.user_fp[1] = fp.high64;
        if (i < 3000)
            assert_int_equal(ops->add(a, &in, NULL), WEIR_OK);
        if (i >= 2000)
            assert_int_equal(ops->add(b, &in, NULL), WEIR_OK);
        if (i == 2)
            assert_int_equal(ops->result(a, NULL), 3);
        if (i == 9)
            assert_int_equal(ops->heap_bytes(a, NULL), 0); /* 10 users: 64 bytes inline */
    }
    uint64_t ra = ops->result(a, NULL);
    assert_true(llabs((long long)ra - 3000) < 3000 * 4 * 0.0081);
    assert_int_equal(ops->heap_bytes(a, NULL), 12 * 1024);
    assert_int_equal(ops->merge(a, b, NULL), WEIR_OK);
    uint64_t ru = ops->result(a, NULL);
    assert_true(llabs((long long)ru - 5000) < 5000 * 4 * 0.0081);
    /* Serialize and read back into zeroed memory. */
    size_t len = ops->serialized_size(a, NULL);
    uint8_t *buf = malloc(len);
    assert_non_null(buf);
    assert_int_equal(ops->serialize(a, buf, NULL), len);
    assert_int_equal(ops->deserialize(c, buf, len, NULL), WEIR_OK);
    assert_int_equal(ops->result(c, NULL), ru);
    ops->free(c, NULL);
    memset(c, 0, sizeof(c));
    /* Bad bytes: CORRUPT and nothing allocated (ASan checks the leak). */
    buf[len / 2] ^= 1;
    assert_int_equal(ops->deserialize(c, buf, len, NULL), WEIR_ERR_CORRUPT);
    assert_int_equal(ops->deserialize(c, buf, 3, NULL), WEIR_ERR_CORRUPT);
    free(buf);
    /* Precision from the parameters; a global count merges a p=10 partition sketch into
     * another, and a p=14 one folds into it. */
    memset(c, 0, sizeof(c));
    ops->init(c, &p10);
    assert_int_equal(ops->merge(c, a, NULL), WEIR_OK);
    assert_true(llabs((long long)ops->result(c, &p10) - 5000) < 5000 * 4 * 0.0325);
    assert_int_equal(ops->merge(a, c, NULL), WEIR_ERR_INVALID_ARG);
    assert_int_equal(ops->heap_bytes(c, &p10), 768);
    ops->free(a, NULL);
    ops->free(b, NULL);
    ops->free(c, &p10);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_arguments),
        cmocka_unit_test(test_small_sets_exact),
        cmocka_unit_test(test_sparse_to_dense),
        cmocka_unit_test(test_sparse_limit),
        cmocka_unit_test(test_memory_sizes),
        cmocka_unit_test(test_estimate_updates),
        cmocka_unit_test(test_accuracy_light),
        cmocka_unit_test(test_merge_is_union),
        cmocka_unit_test(test_fold),
        cmocka_unit_test(test_clone),
        cmocka_unit_test(test_serialize_round_trip),
        cmocka_unit_test(test_truncation_rejected),
        cmocka_unit_test(test_corruption_rejected),
        cmocka_unit_test(test_content_validation),
        cmocka_unit_test(test_estimator_reference),
        cmocka_unit_test(test_aggregate),
    };
    return cmocka_run_group_tests_name("hll", tests, NULL, NULL);
}
