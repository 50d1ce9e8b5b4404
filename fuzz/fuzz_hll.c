/* libFuzzer target for the HyperLogLog deserializer (weir_hll_deserialize): any bytes are
 * rejected or read into a sketch that round-trips, merges, folds and estimates sanely. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "weir/hll.h"

/* Aborts with a message libFuzzer reports as a crash. */
#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond))                                                                               \
            __builtin_trap();                                                                      \
    } while (0)

static uint8_t *serialize(const weir_hll *h, size_t *len)
{
    *len = weir_hll_serialized_size(h);
    uint8_t *b = malloc(*len);
    CHECK(b);
    CHECK(weir_hll_serialize(h, b, *len) == *len);
    return b;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    weir_hll *h = NULL;
    weir_err rc = weir_hll_deserialize(data, size, &h);
    if (rc != WEIR_OK) {
        CHECK(h == NULL);
        CHECK(rc == WEIR_ERR_CORRUPT || rc == WEIR_ERR_UNSUPPORTED || rc == WEIR_ERR_NOMEM);
        return 0;
    }
    double e = weir_hll_estimate(h);
    CHECK(e >= 0 && isfinite(e));

    /* Writing it back and reading that gives the same bytes. */
    size_t len, len2;
    uint8_t *b = serialize(h, &len);
    weir_hll *r = NULL;
    CHECK(weir_hll_deserialize(b, len, &r) == WEIR_OK);
    uint8_t *b2 = serialize(r, &len2);
    CHECK(len == len2 && memcmp(b, b2, len) == 0);

    /* Merging into a copy changes nothing; folding to lower precisions works. */
    CHECK(weir_hll_merge(r, h) == WEIR_OK);
    free(b2);
    b2 = serialize(r, &len2);
    CHECK(len == len2 && memcmp(b, b2, len) == 0);
    int lows[2] = {WEIR_HLL_P_MIN, weir_hll_precision(h) - 1};
    for (int k = 0; k < 2 && lows[k] >= WEIR_HLL_P_MIN; k++) {
        int p = lows[k];
        weir_hll *low = NULL;
        CHECK(weir_hll_new(p, &low) == WEIR_OK);
        CHECK(weir_hll_merge(low, h) == WEIR_OK);
        double el = weir_hll_estimate(low);
        CHECK(el >= 0 && isfinite(el));
        weir_hll_destroy(low);
    }

    /* The sketch goes on accepting values. */
    uint64_t x = 0x9E3779B97F4A7C15ull ^ size;
    for (int i = 0; i < 64; i++) {
        x = x * 6364136223846793005ull + 1442695040888963407ull;
        CHECK(weir_hll_add(h, x) == WEIR_OK);
    }
    e = weir_hll_estimate(h);
    CHECK(e >= 0 && isfinite(e));

    free(b);
    free(b2);
    weir_hll_destroy(h);
    weir_hll_destroy(r);
    return 0;
}
