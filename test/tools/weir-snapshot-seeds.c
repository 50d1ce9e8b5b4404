/* weir-snapshot-seeds DIR: writes a few real operator snapshots, seeds for fuzz_snapshot. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "support/gen.h"
#include "weir/weir.h"

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: weir-snapshot-seeds DIR\n");
        return 2;
    }
    for (int k = 0; k < 4; k++) {
        weir_conf *c = weir_conf_new();
        weir_window_params p;
        int hp;
        weir_window_params_from_conf(c, &p, &hp, NULL, 0);
        weir_conf_destroy(c);
        weir_window_op *op = weir_window_op_new(&p, NULL, NULL, NULL, 0);
        weir_gen_params gp;
        weir_gen_defaults(&gp);
        gp.events = (uint64_t)(10 << (3 * k));
        gp.products = 5;
        gp.users = 50;
        gp.rate = 10;
        gp.seed = (uint64_t)k + 1;
        weir_gen_event *ge = malloc(gp.events * sizeof *ge);
        weir_gen_events(&gp, ge);
        char keys[8][8], users[64][8];
        for (int i = 0; i < 8; i++)
            snprintf(keys[i], 8, "p%d", i);
        for (int i = 0; i < 64; i++)
            snprintf(users[i], 8, "u%d", i);
        for (uint64_t i = 0; i < gp.events; i++) {
            weir_event ev;
            memset(&ev, 0, sizeof ev);
            ev.ts = ge[i].ts;
            ev.key = (weir_slice){keys[ge[i].product % 8], strlen(keys[ge[i].product % 8])};
            ev.key_hash = ge[i].product % 8 + 1;
            ev.user = (weir_slice){users[ge[i].user % 64], strlen(users[ge[i].user % 64])};
            ev.user_fp[0] = ge[i].user * 0x9E3779B97F4A7C15ull;
            ev.user_fp[1] = ge[i].user;
            weir_window_op_process(op, &ev, 1, 0);
        }
        uint8_t *snap;
        size_t len;
        if (weir_window_op_snapshot(op, &snap, &len) == WEIR_OK) {
            char path[4096];
            snprintf(path, sizeof path, "%s/seed-%d", argv[1], k);
            FILE *f = fopen(path, "wb");
            if (f) {
                fwrite(snap, 1, len, f);
                fclose(f);
            }
            free(snap);
        }
        free(ge);
        weir_window_op_destroy(op);
    }
    return 0;
}
