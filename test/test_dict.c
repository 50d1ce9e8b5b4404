/* The window dictionary: dense ids in order of first sight, through growth; which
 * fingerprint bits tell values apart; the snapshot encoding's round trip and its refusals. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "state/dict.h"

static uint64_t rng(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* n random fingerprints (lo, hi pairs). */
static uint64_t *random_fps(uint32_t n, uint64_t seed)
{
    uint64_t *fp = malloc((size_t)n * 2 * sizeof *fp);
    assert_non_null(fp);
    for (uint32_t i = 0; i < 2 * n; i++)
        fp[i] = rng(&seed);
    return fp;
}

static void test_ids_dense_through_growth(void **state)
{
    (void)state;
    const uint32_t n = 200000;
    uint64_t *fp = random_fps(n, 1);
    weir__dict d;
    assert_int_equal(weir__dict_init(&d, 0), 0);
    uint32_t cap0 = d.cap, idbits0 = d.idbits;
    for (uint32_t i = 0; i < n; i++) {
        assert_int_equal(weir__dict_intern(&d, fp[2 * i], fp[2 * i + 1]), i);
        /* every 7th value is seen again at once: same id */
        if (i % 7 == 0)
            assert_int_equal(weir__dict_intern(&d, fp[2 * i], fp[2 * i + 1]), i);
    }
    assert_int_equal(d.count, n);
    assert_true(d.cap > cap0);
    assert_true(d.idbits > idbits0);
    assert_true(d.cap < (1u << d.idbits));
    assert_true((uint64_t)d.count * 8 <= (uint64_t)d.cap * 7);
    /* after all the growth, every value still has its first id */
    for (uint32_t i = 0; i < n; i++)
        assert_int_equal(weir__dict_intern(&d, fp[2 * i], fp[2 * i + 1]), i);
    assert_int_equal(d.count, n);
    assert_int_equal(weir__dict_bytes(&d), (size_t)weir__dict_len(&d) * 12);
    /* the table keeps its values in the order of their low bits (growth relies on it) */
    uint64_t prev = 0;
    uint32_t seen = 0;
    for (uint32_t i = 0; i < weir__dict_len(&d); i++)
        if (d.slots[i].tag) {
            uint64_t lo = weir__dict_slot_lo(&d.slots[i]);
            assert_true(seen++ == 0 || lo > prev);
            prev = lo;
        }
    assert_int_equal(seen, n);
    weir__dict_free(&d);
    free(fp);
}

/* Crowded homes make long runs, runs that reach past the last home into the slots after
 * it (which then have to be widened, in the table and when it grows) and insertions in
 * the middle of runs common: every value must still be found with its first id, and the
 * table must hold each exactly once. */
static void test_growth_with_crowded_homes(void **state)
{
    (void)state;
    const uint32_t n = 6000;
    uint64_t *fp = random_fps(n, 5);
    /* Top 32 bits of the low half (which place a value) in three narrow bands: at the
     * start, in the middle and at the very end of the range, so runs reach past the end. */
    const uint64_t bands[3] = {0, 0x80000000ull, 0xFFFF0000ull};
    for (uint32_t i = 0; i < n; i++) {
        uint64_t top = bands[i % 3] + (fp[2 * i] >> 48);
        if (top > 0xFFFFFFFFull)
            top = 0xFFFFFFFFull - (fp[2 * i] & 0xFF);
        fp[2 * i] = top << 32 | (fp[2 * i] & 0xFFFFFFFFull);
    }
    weir__dict d;
    assert_int_equal(weir__dict_init(&d, 0), 0);
    for (uint32_t i = 0; i < n; i++) {
        assert_int_equal(weir__dict_intern(&d, fp[2 * i], fp[2 * i + 1]), i);
        /* after each growth, all values so far are still there */
        if (d.count * 8 + 8 > d.cap * 7)
            for (uint32_t j = 0; j <= i; j++)
                assert_int_equal(weir__dict_intern(&d, fp[2 * j], fp[2 * j + 1]), j);
    }
    for (uint32_t i = 0; i < n; i++)
        assert_int_equal(weir__dict_intern(&d, fp[2 * i], fp[2 * i + 1]), i);
    assert_int_equal(d.count, n);
    uint32_t filled = 0;
    for (uint32_t i = 0; i < weir__dict_len(&d); i++)
        filled += d.slots[i].tag != 0;
    assert_int_equal(filled, n);
    assert_true(d.ovf > 16); /* the slots past the last home were widened */
    weir__dict_free(&d);
    free(fp);
}

static void test_which_bits_count(void **state)
{
    (void)state;
    weir__dict d;
    assert_int_equal(weir__dict_init(&d, 100), 0);
    uint32_t kept = 32 - d.idbits; /* bits of the high half's low word that are kept */
    uint64_t lo = 0x0123456789abcdefull, hi = 0x00000000f0000000ull;
    assert_int_equal(weir__dict_intern(&d, lo, hi), 0);
    /* the low 64 bits all count */
    for (int b = 0; b < 64; b++)
        assert_int_equal(weir__dict_intern(&d, lo ^ (1ull << b), hi), 1 + (uint32_t)b);
    /* so do the top `kept` bits of the high half's low word */
    uint32_t next = 65;
    for (uint32_t b = 32 - kept; b < 32; b++)
        assert_int_equal(weir__dict_intern(&d, lo, hi ^ (1ull << b)), next++);
    /* the rest of the high half does not: the same value */
    for (uint32_t b = 0; b < 32 - kept; b++)
        assert_int_equal(weir__dict_intern(&d, lo, hi ^ (1ull << b)), 0);
    for (uint32_t b = 32; b < 64; b++)
        assert_int_equal(weir__dict_intern(&d, lo, hi ^ (1ull << b)), 0);
    assert_int_equal(d.count, next);
    weir__dict_free(&d);
}

/* Encodes d, decodes it into a fresh dictionary and checks that every value of fp has
 * the id map[its old id] there; returns the id bits of the restored dictionary. */
static uint32_t round_trip(weir__dict *d, const uint64_t *fp, uint32_t n)
{
    uint8_t *b;
    size_t len;
    uint32_t *map = malloc((size_t)(n ? n : 1) * sizeof *map);
    assert_non_null(map);
    memset(map, 0xff, (size_t)n * sizeof *map);
    assert_int_equal(weir__dict_encode(d, &b, &len, map), 0);
    /* about 64 - log2(n) + 2 + (32 - idbits) bits a value, well under the 12 bytes of a
     * plain list once n is large */
    if (n >= 100000)
        assert_true(len < (size_t)n * 8);
    /* map is a permutation */
    uint8_t *seen = calloc(n ? n : 1, 1);
    assert_non_null(seen);
    for (uint32_t i = 0; i < n; i++) {
        assert_true(map[i] < n);
        assert_int_equal(seen[map[i]], 0);
        seen[map[i]] = 1;
    }
    free(seen);
    weir__dict r = {0};
    assert_int_equal(weir__dict_decode(&r, b, len, n), 0);
    assert_int_equal(r.count, n);
    assert_true(r.idbits >= d->idbits);
    for (uint32_t i = 0; i < n; i++) {
        uint32_t old = weir__dict_intern(d, fp[2 * i], fp[2 * i + 1]);
        assert_int_equal(weir__dict_intern(&r, fp[2 * i], fp[2 * i + 1]), map[old]);
    }
    assert_int_equal(r.count, n);
    /* what the restored dictionary has not seen is new there */
    uint64_t s = 99;
    assert_int_equal(weir__dict_intern(&r, rng(&s), rng(&s)), n);
    uint32_t idbits = r.idbits;
    weir__dict_free(&r);
    free(b);
    free(map);
    return idbits;
}

/* d: a dictionary sized for `expected` holding the n values of fp, ids in order. */
static void fill_dict(weir__dict *d, uint32_t expected, const uint64_t *fp, uint32_t n)
{
    assert_int_equal(weir__dict_init(d, expected), 0);
    for (uint32_t i = 0; i < n; i++)
        assert_int_equal(weir__dict_intern(d, fp[2 * i], fp[2 * i + 1]), i);
}

static void test_encode_round_trip(void **state)
{
    (void)state;
    static const uint32_t SIZES[] = {0, 1, 2, 3, 63, 64, 1000, 4097, 300000};
    for (size_t k = 0; k < sizeof SIZES / sizeof SIZES[0]; k++) {
        uint32_t n = SIZES[k];
        uint64_t *fp = random_fps(n ? n : 1, 7 + k);
        weir__dict d;
        fill_dict(&d, 0, fp, n);
        round_trip(&d, fp, n);
        weir__dict_free(&d);
        free(fp);
    }
}

/* Values that share their upper bits, or their whole low half, still come back. */
static void test_encode_clustered(void **state)
{
    (void)state;
    const uint32_t n = 5000;
    uint64_t *fp = random_fps(n, 3);
    for (uint32_t i = 0; i < n; i++) {
        fp[2 * i] = (i < n / 2) ? (uint64_t)i : UINT64_MAX - i; /* both ends of the range */
        if (i % 10 == 1) {
            fp[2 * i] = fp[2 * i - 2]; /* same low half as the previous value */
            fp[2 * i + 1] = fp[2 * i - 1] ^ 0x80000000ull;
        }
    }
    weir__dict d;
    fill_dict(&d, n, fp, n);
    round_trip(&d, fp, n);
    weir__dict_free(&d);
    free(fp);
}

/* A snapshot of a grown table restored into one sized from its count keeps the bits the
 * snapshot had, so that later values compare the same way. */
static void test_decode_keeps_snapshot_bits(void **state)
{
    (void)state;
    const uint32_t n = 1000;
    uint64_t *fp = random_fps(n, 5);
    weir__dict d;
    fill_dict(&d, 1u << 20, fp, n); /* oversized: many id bits */
    assert_int_equal(round_trip(&d, fp, n), d.idbits);
    weir__dict_free(&d);
    free(fp);
}

static void test_decode_refuses(void **state)
{
    (void)state;
    const uint32_t n = 2000;
    uint64_t *fp = random_fps(n, 11);
    weir__dict d, r = {0};
    fill_dict(&d, 0, fp, n);
    uint32_t *map = malloc(n * sizeof *map);
    uint8_t *b;
    size_t len;
    assert_non_null(map);
    assert_int_equal(weir__dict_encode(&d, &b, &len, map), 0);
    uint8_t *c = malloc(len + 16);
    assert_non_null(c);

    /* the wrong count, either way */
    assert_int_equal(weir__dict_decode(&r, b, len, n - 1), -2);
    assert_int_equal(weir__dict_decode(&r, b, len, n + 1), -2);
    assert_int_equal(weir__dict_decode(&r, b, len, 0), -2);
    /* truncated at every length, and one byte too many */
    for (size_t cut = 0; cut < len; cut += (cut < 64 ? 1 : 97))
        assert_int_equal(weir__dict_decode(&r, b, cut, n), -2);
    memcpy(c, b, len);
    c[len] = 0;
    assert_int_equal(weir__dict_decode(&r, c, len + 1, n), -2);
    /* id bits out of range */
    memcpy(c, b, len);
    c[0] = 0;
    assert_int_equal(weir__dict_decode(&r, c, len, n), -2);
    c[0] = 32;
    assert_int_equal(weir__dict_decode(&r, c, len, n), -2);
    /* nonzero padding after the last value */
    memcpy(c, b, len);
    uint32_t low = 64 - (32 - (uint32_t)__builtin_clz(n)), bits = n * (low + 32 - b[0]);
    if (bits % 8) {
        c[len - 1] |= 0x80;
        assert_int_equal(weir__dict_decode(&r, c, len, n), -2);
    }
    /* a value repeated: encode a dictionary holding one value twice, by hand through
     * the encoding of a two-value dictionary whose values share everything */
    weir__dict two;
    assert_int_equal(weir__dict_init(&two, 0), 0);
    weir__dict_intern(&two, 42, 0xf0000000u);
    weir__dict_intern(&two, 42, 0xe0000000u);
    uint32_t m2[2];
    uint8_t *t;
    size_t tlen;
    assert_int_equal(weir__dict_encode(&two, &t, &tlen, m2), 0);
    assert_int_equal(weir__dict_decode(&r, t, tlen, 2), 0);
    weir__dict_free(&r);
    /* the tags are the last bits: make the second equal to the first */
    uint32_t tb = 32 - t[0], lowb = 63 - 1; /* n = 2: 64 - bit length of 2 */
    uint64_t pos0 = (uint64_t)lowb, pos1 = (uint64_t)(lowb + tb) + lowb;
    size_t base = tlen - (2 * (lowb + tb) + 7) / 8;
    for (uint32_t k = 0; k < tb; k++) {
        uint64_t p0 = pos0 + k, p1 = pos1 + k;
        int bit = (t[base + p0 / 8] >> (p0 % 8)) & 1;
        t[base + p1 / 8] =
            (uint8_t)((t[base + p1 / 8] & ~(1u << (p1 % 8))) | (unsigned)bit << (p1 % 8));
    }
    assert_int_equal(weir__dict_decode(&r, t, tlen, 2), -2);
    assert_null(r.slots);
    free(t);
    weir__dict_free(&two);

    /* random damage never crashes and never half-loads */
    uint64_t s = 5;
    for (int i = 0; i < 2000; i++) {
        memcpy(c, b, len);
        for (int k = 0; k < 1 + i % 4; k++)
            c[rng(&s) % len] ^= (uint8_t)(1u << (rng(&s) % 8));
        int rc = weir__dict_decode(&r, c, len, n);
        assert_true(rc == 0 || rc == -2);
        if (rc == 0)
            assert_int_equal(r.count, n);
        else
            assert_null(r.slots);
        weir__dict_free(&r);
    }
    free(c);
    free(b);
    free(map);
    weir__dict_free(&d);
    free(fp);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ids_dense_through_growth),
        cmocka_unit_test(test_growth_with_crowded_homes),
        cmocka_unit_test(test_which_bits_count),
        cmocka_unit_test(test_encode_round_trip),
        cmocka_unit_test(test_encode_clustered),
        cmocka_unit_test(test_decode_keeps_snapshot_bits),
        cmocka_unit_test(test_decode_refuses),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
