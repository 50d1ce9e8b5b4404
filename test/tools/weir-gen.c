/* weir-gen: writes deterministic raw events as JSON lines (test and benchmark data). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../support/gen.h"

static int arg(const char *a, const char *name)
{
    return strcmp(a, name) == 0;
}

int main(int argc, char **argv)
{
    weir_gen_params p;
    weir_gen_defaults(&p);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (arg(a, "--mixed")) {
            p.mixed_encodings = 1;
            continue;
        }
        if (!v) {
            fprintf(stderr, "usage: weir-gen [--seed S] [--events N] [--products N] [--zipf S] "
                            "[--users N] [--rate N] [--start-ms T] [--disorder-ms D] [--late F] "
                            "[--late-max-ms D] [--bad F] [--mixed]\n");
            return 2;
        }
        i++;
        if (arg(a, "--seed"))
            p.seed = strtoull(v, NULL, 10);
        else if (arg(a, "--events"))
            p.events = strtoull(v, NULL, 10);
        else if (arg(a, "--products"))
            p.products = (uint32_t)strtoul(v, NULL, 10);
        else if (arg(a, "--zipf"))
            p.zipf_s = atof(v);
        else if (arg(a, "--users"))
            p.users = (uint32_t)strtoul(v, NULL, 10);
        else if (arg(a, "--rate"))
            p.rate = (uint32_t)strtoul(v, NULL, 10);
        else if (arg(a, "--start-ms"))
            p.start_ms = strtoll(v, NULL, 10);
        else if (arg(a, "--disorder-ms"))
            p.disorder_ms = strtoll(v, NULL, 10);
        else if (arg(a, "--late"))
            p.late_fraction = atof(v);
        else if (arg(a, "--late-max-ms"))
            p.late_max_ms = strtoll(v, NULL, 10);
        else if (arg(a, "--bad"))
            p.bad_fraction = atof(v);
        else {
            fprintf(stderr, "weir-gen: unknown option %s\n", a);
            return 2;
        }
    }
    if (!p.products || !p.users || !p.rate) {
        fprintf(stderr, "weir-gen: --products, --users and --rate must be positive\n");
        return 2;
    }
    static char buf[1 << 20];
    setvbuf(stdout, buf, _IOFBF, sizeof buf);
    if (weir_gen_write(&p, stdout) != 0 || fflush(stdout) != 0) {
        fprintf(stderr, "weir-gen: write failed\n");
        return 1;
    }
    return 0;
}
