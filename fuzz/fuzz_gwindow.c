/* libFuzzer target: any bytes as the body of a generic window snapshot (wrapped in a valid
 * header and zstd frame, so the fuzzer reaches the body's checks) restore cleanly or yield an
 * operator that works; the same bytes as a window spec parse or fail without UB or leaks. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>
#include <zstd.h>

#include "state/bytes.h"
#include "weir/weir.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int count_firing(void *opaque, const weir_gwindow_firing *f)
{
    (void)f;
    ++*(int *)opaque;
    return 0;
}

static void try_kind(const weir_window_spec *spec, const uint8_t *snap, size_t len)
{
    weir_gagg_def d[] = {
        {.ops = &weir_gagg_count, .field = -1},
        {.ops = &weir_gagg_sum, .field = 0},
        {.ops = &weir_gagg_count_distinct, .field = 0},
        {.ops = &weir_gagg_approx_count_distinct, .field = 0},
    };
    weir_gwindow_params p = {
        .spec = *spec, .allowed_lateness_ms = 5, .partitions = 1, .aggs = d, .n_aggs = 4};
    int fired = 0;
    weir_gwindow *op = weir_gwindow_new(&p, count_firing, &fired, NULL, 0);
    char err[256];
    if (op && weir_gwindow_restore(op, snap, len, err, sizeof err) == WEIR_OK) {
        weir_value v = {.type = WEIR_VALUE_INT, .u.i = 7};
        weir_row r = {.ts = 100, .key = {"k", 1}, .key_hash = 1, .values = &v, .n_values = 1};
        weir_gwindow_process(op, &r, 1, 0);
        uint8_t *s;
        size_t n;
        if (weir_gwindow_snapshot(op, &s, &n) == WEIR_OK)
            free(s);
        weir_gwindow_finish(op);
    }
    weir_gwindow_destroy(op);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = 0;
    weir_window_spec spec;
    weir_window_spec_parse(text, &spec, NULL, 0);
    free(text);

    size_t bound = ZSTD_compressBound(size);
    uint8_t *snap = malloc(40 + bound);
    if (!snap)
        return 0;
    size_t z = ZSTD_compress(snap + 40, bound, data, size, 1);
    if (!ZSTD_isError(z)) {
        memcpy(snap, "WEIRGWIN", 8);
        weir__put_le32(snap + 8, 1);
        weir__put_le32(snap + 12, 0);
        weir__put_le64(snap + 16, size);
        weir__put_le64(snap + 24, z);
        weir__put_le64(snap + 32, XXH64(snap + 40, z, 0));
        weir_window_spec kinds[] = {
            {.kind = WEIR_WINDOW_TUMBLE, .size_ms = 10, .slide_ms = 10},
            {.kind = WEIR_WINDOW_HOP, .size_ms = 10, .slide_ms = 5},
            {.kind = WEIR_WINDOW_SESSION, .gap_ms = 10},
        };
        for (int k = 0; k < 3; k++)
            try_kind(&kinds[k], snap, 40 + z);
    }
    free(snap);
    return 0;
}
