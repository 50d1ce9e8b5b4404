/* libFuzzer target: the JSON record decoder must classify any bytes without UB or leaks. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "weir/weir.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static weir_decoder *flat, *nested;
    if (!flat) {
        weir_conf *c = weir_conf_new();
        flat = weir_decoder_new(c, NULL, 0);
        weir_conf_set(c, "key.field", "metadata.type", NULL, 0);
        weir_conf_set(c, "user.field", "a.b.c", NULL, 0);
        weir_conf_set(c, "input.max.record.bytes", "4096", NULL, 0);
        nested = weir_decoder_new(c, NULL, 0);
        weir_conf_destroy(c);
    }
    weir_event ev;
    weir_decoder *decs[2] = {flat, nested};
    for (int i = 0; i < 2; i++) {
        if (weir_decoder_decode(decs[i], (const char *)data, size, &ev) == WEIR_REC_OK) {
            /* Slices must lie in the record or be readable scratch. */
            volatile char sink = 0;
            for (size_t k = 0; k < ev.key.len; k++)
                sink ^= ev.key.ptr[k];
            for (size_t k = 0; k < ev.user.len; k++)
                sink ^= ev.user.ptr[k];
            (void)sink;
        }
        weir_decoder_reset(decs[i]);
    }
    return 0;
}
