/* libFuzzer target: restoring any bytes as an operator snapshot fails cleanly or yields
 * an operator that works (processes, snapshots and finishes) without UB or leaks. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "weir/weir.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int count_firing(void *opaque, const weir_firing *f)
{
    (void)f;
    ++*(int *)opaque;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    weir_conf *c = weir_conf_new();
    weir_window_params p;
    int hp;
    weir_window_params_from_conf(c, &p, &hp, NULL, 0);
    weir_conf_destroy(c);
    int fired = 0;
    weir_window_op *op = weir_window_op_new(&p, count_firing, &fired, NULL, 0);
    char err[256];
    if (weir_window_op_restore(op, data, size, err, sizeof err) == WEIR_OK) {
        weir_event ev;
        memset(&ev, 0, sizeof ev);
        ev.ts = 1704067200000LL;
        ev.key = (weir_slice){"k", 1};
        ev.user = (weir_slice){"u", 1};
        ev.key_hash = 1;
        weir_window_op_process(op, &ev, 1, 0);
        uint8_t *snap;
        size_t len;
        if (weir_window_op_snapshot(op, &snap, &len) == WEIR_OK)
            free(snap);
        weir_window_op_finish(op);
    }
    weir_window_op_destroy(op);
    return 0;
}
